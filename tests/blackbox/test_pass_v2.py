# SPDX-License-Identifier: ISC
"""
Pass services of version 2 (lib/wire.h, HELLO and CHANNEL): liboneport's
echo-service gets a data channel, the daemon closes its copy of a client
as soon as the HANDOFF is queued, and refuses a client only after
receiving its HANDOFF back from the service's queue (take-back): at the
deadline of a stopped service, and for every queued client of one that
died. A service of version 1 (ONEPORT_WIRE=1) beside it keeps the old
exchange.
"""
import os
import signal
import socket
import time
import unittest

from harness import IO_TIMEOUT, count_fds, poll_until, recv_until_eof

from test_pass import ECHO, PassCase

V2 = r"^%s: version 2 channel \(take-back\)$"


class PassV2(PassCase):

    def served(self, d, name, payload=b"ping"):
        s = self.sock(d)
        s.sendall(name + b"\r\n" + payload)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s)

    def v2_service(self, name, env=None):
        path = self.path(name + ".sock")
        p = self.echo(path, env=env, wait_path=path)
        return path, p

    def stopped(self, name):
        """A version 2 service, upgraded and then stopped (SIGSTOP): the
        hand-offs sent to it stay queued."""
        path, p = self.v2_service(name)
        d = self.start(config='service "%s" { socket "%s" }\n'
                       % (name, path))
        self.assertEqual(self.served(d, name.encode()), b"+\r\nping")
        d.wait_log(V2 % name)
        os.kill(p.pid, signal.SIGSTOP)
        self.addCleanup(lambda: p.poll() is None and
                        os.kill(p.pid, signal.SIGCONT))
        return d, p

    def test_channel_upgraded_and_plus_first(self):
        path, _ = self.v2_service("own")
        d = self.start(config='service "own" { socket "%s" }\n' % path)
        # The first hand-off may go before the HELLO is read: version 1.
        self.assertEqual(self.served(d, b"own"), b"+\r\nping")
        d.wait_log(V2 % "own")
        for _ in range(20):
            self.assertEqual(self.served(d, b"own"), b"+\r\nping")
        # The frontend logs a lent hand-off on the service's notice,
        # which may come after the client has its reply: wait for it.
        d.wait_log(r"service=own result=\+ ", count=21)
        self.assertEqual(len([l for l in d.log_lines()
                              if "service=own result=+ " in l]), 21)

    def test_v1_and_v2_side_by_side(self):
        new, _ = self.v2_service("new")
        old, _ = self.v2_service("old", env={"ONEPORT_WIRE": "1"})
        d = self.start(config='service "new" { socket "%s" }\n'
                       'service "old" { socket "%s" }\n' % (new, old))
        for _ in range(5):
            self.assertEqual(self.served(d, b"new"), b"+\r\nping")
            self.assertEqual(self.served(d, b"old"), b"+\r\nping")
        d.wait_log(V2 % "new")
        self.assertNotIn("old: version 2", d.log_text())

    def test_stopped_service_clients_taken_back(self):
        d, p = self.stopped("stop")
        socks = []
        for i in range(3):
            s = self.sock(d, src="127.0.0.%d" % (2 + i))
            s.sendall(b"stop\r\nping")
            socks.append(s)
        t0 = time.monotonic()
        for s in socks:
            self.assertEqual(recv_until_eof(s, timeout=6),
                             b"-service not responding\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        d.wait_log(r"service=stop result=-service not responding ",
                   count=3)
        # Woken, the service finds none of them: they were received
        # back, and each was answered once, by the daemon alone.
        os.kill(p.pid, signal.SIGCONT)
        self.assertEqual(self.served(d, b"stop"), b"+\r\nping")
        poll_until(lambda: self.stderr_of(p).count("service=stop") >= 2,
                   what="the service's line for the last client")
        self.assertEqual(self.stderr_of(p).count("service=stop"), 2)

    def test_killed_service_queued_clients_answered(self):
        d, p = self.stopped("kill")
        front = d.frontend_pid()
        base = (count_fds(d.pid), count_fds(front))
        socks = []
        for i in range(4):
            s = self.sock(d, src="127.0.0.%d" % (2 + i))
            s.sendall(b"kill\r\nping")
            socks.append(s)
        d.wait_log(r"conn peer", count=1)
        # All four queued to the service: neither the frontend nor the
        # parent holds a copy any more, the sockets are in flight.
        poll_until(lambda: (count_fds(d.pid), count_fds(front)) == base,
                   what="all four handed to the stopped service")
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        for s in socks:
            reply = recv_until_eof(s, timeout=IO_TIMEOUT)
            self.assertTrue(reply.startswith(b"-service "), reply)
            self.assertTrue(reply.endswith(b"\r\n"), reply)
        # Well before the 2 s deadline: the connection's end said it.
        self.assertLess(time.monotonic() - t0, 1.8)
        d.wait_log(r"service=kill result=-service ", count=4)

    def test_registered_name_upgraded(self):
        d = self.start(config='control "%s"\nregister "dyn-*" user root\n'
                       % self.ctl)
        self.registrant("dyn-echo", tell_peer=False)
        d.wait_log(r"^registered dyn-echo \(uid 0\)$")
        d.wait_log(V2 % "dyn-echo")
        poll_until(lambda: self.served(d, b"dyn-echo") == b"+\r\nping",
                   what="dyn-echo served")
        self.conn_line(d, "dyn-echo", "+")

    def test_reload_with_v2_channel(self):
        a, _ = self.v2_service("a")
        b, _ = self.v2_service("b")
        d = self.start(config='service "mv" { socket "%s" }\n' % a)
        self.assertEqual(self.served(d, b"mv"), b"+\r\nping")
        d.wait_log(V2 % "mv")
        self.assertEqual(self.served(d, b"mv"), b"+\r\nping")
        with open(d.conffile, "w") as f:
            f.write('service "mv" { socket "%s" }\n' % b)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded: 1 services$")
        poll_until(lambda: self.served(d, b"mv") == b"+\r\nping",
                   what="served after the reload")
        d.wait_log(V2 % "mv", count=2)
        self.assertIsNone(d.proc.poll())

    def test_thousand_sessions_leave_no_descriptor(self):
        path, p = self.v2_service("many")
        d = self.start(config='service "many" { socket "%s" }\n' % path)
        self.assertEqual(self.served(d, b"many"), b"+\r\nping")
        d.wait_log(V2 % "many")
        self.assertEqual(self.served(d, b"many"), b"+\r\nping")
        front = d.frontend_pid()
        base = (count_fds(d.pid), count_fds(front), count_fds(p.pid))
        for i in range(1000):
            s = self.sock(d, src="127.0.%d.%d" % (1 + i // 250,
                                                  1 + i % 250))
            s.sendall(b"many\r\nx")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"+\r\nx")
            s.close()  # a thousand held would pass select()'s limit
        d.wait_log(r"service=many result=\+ ", count=1002)
        poll_until(lambda: (count_fds(d.pid), count_fds(front),
                            count_fds(p.pid)) == base,
                   what="descriptors back to %r" % (base,))


if __name__ == "__main__":
    unittest.main()
