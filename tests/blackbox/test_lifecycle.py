# SPDX-License-Identifier: ISC
"""
The daemon's life: readiness (the listening lines, NOTIFY_SOCKET), IPv4 and
IPv6 listeners, SIGHUP reloads (good and broken files) with sessions in
progress, and SIGTERM (waiting clients told, exit 0, sessions survive).
"""
import os
import signal
import socket
import time

from harness import DaemonTestCase, poll_until, recv_exact, recv_until_eof

ECHO = 'service "echo" {\n\tcommand "/bin/cat"\n}\n'


def session(t, d, name=b"echo", index=0):
    s = t.sock(d, index=index)
    s.sendall(name + b"\r\nlive\n")
    t.assertEqual(recv_exact(s, 8), b"+\r\nlive\n")
    return s


def roundtrip(t, s, data=b"again\n"):
    s.sendall(data)
    t.assertEqual(recv_exact(s, len(data)), data)


class Readiness(DaemonTestCase):

    def test_listening_line_ipv4(self):
        d = self.start("-s", "echo=cat")
        self.assertEqual(d.stdout_lines(),
                         ["listening on 127.0.0.1:%d" % d.port])
        self.assertNotEqual(d.port, 0)
        session(self, d)

    def test_both_families(self):
        d = self.start("-s", "echo=cat",
                       listen=("127.0.0.1:0", "[::1]:0"))
        (h4, p4), (h6, p6) = d.listeners
        self.assertEqual((h4, h6), ("127.0.0.1", "::1"))
        self.assertEqual(d.stdout_lines(),
                         ["listening on 127.0.0.1:%d" % p4,
                          "listening on [::1]:%d" % p6])
        session(self, d, index=0)
        s = session(self, d, index=1)
        self.assertEqual(s.family, socket.AF_INET6)
        d.wait_log(r"^conn peer=\[::1\]:%d service=echo result=\+ "
                   % s.getsockname()[1])

    def test_listen_from_config_file(self):
        d = self.start(config="listen on 127.0.0.1 port 0\n" + ECHO,
                       listen=())
        self.assertEqual(d.host, "127.0.0.1")
        session(self, d)

    def notify_test(self, addr, bind_addr):
        n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(n.close)
        n.bind(bind_addr)
        if not bind_addr.startswith("\0"):
            os.chmod(bind_addr, 0o777)
        n.settimeout(10)
        d = self.start("-s", "echo=cat", env={"NOTIFY_SOCKET": addr},
                       wait=False)
        msg = n.recv(4096)
        self.assertEqual(msg, b"READY=1")
        # Ready means the port is already printed and being served.
        d.wait_listening()
        session(self, d)

    def test_notify_socket(self):
        path = os.path.join(self.tmp, "notify")
        self.notify_test(path, path)

    def test_notify_socket_abstract(self):
        name = "oneport-bb-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.notify_test("@" + name, "\0" + name)

    def test_no_notify_socket_is_fine(self):
        d = self.start("-s", "echo=cat")
        session(self, d)


class Reload(DaemonTestCase):

    def write(self, d, text):
        tmp = d.conffile + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, d.conffile)

    def test_add_and_remove_service_during_session(self):
        d = self.start(config=ECHO)
        s = session(self, d)
        self.write(d, 'service "fresh" {\n\tcommand "/bin/echo" "new"\n}\n')
        d.signal(signal.SIGHUP)
        poll_until(lambda: d.answers(b"fresh\r\n", b"+\r\nnew\n"),
                   what="the new service to answer")
        self.assertEqual(d.exchange(b"echo\r\n"), b"-unknown service\r\n")
        self.assertEqual(d.exchange(b"help\r\n"), b"fresh\r\n")
        # The session of the removed service is untouched.
        roundtrip(self, s)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"")
        d.wait_log(r"^exit service=echo pid=\d+ status=0 ")

    def test_session_counts_across_reload(self):
        conf = ECHO.replace("}", "\tmax instances 1\n}")
        d = self.start(config=conf)
        s = session(self, d)
        self.write(d, conf + '# touched\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded")
        self.assertEqual(d.exchange(b"echo\r\n"), b"-service busy\r\n")
        s.close()
        poll_until(lambda: d.answers(b"echo\r\n", b"+\r\n", half_close=True),
                   what="the slot to come back")

    def test_broken_file_keeps_old_config(self):
        d = self.start(config=ECHO)
        s = session(self, d)
        self.write(d, ECHO + 'service "x" {\n\tcommand "/bin/true"\n'
                   '\tfrobnicate yes\n}\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"%s:6: " % d.conffile)
        d.wait_log(r"not reloaded|keeping")
        self.assertEqual(d.exchange(b"x\r\n"), b"-unknown service\r\n")
        session(self, d)
        roundtrip(self, s)
        # A good file after a bad one is taken.
        self.write(d, ECHO + 'service "x" {\n\tcommand "/bin/true"\n}\n')
        d.signal(signal.SIGHUP)
        poll_until(lambda: d.answers(b"x\r\n", b"+\r\n"),
                   what="the fixed file to be loaded")
        self.assertEqual(d.proc.poll(), None)

    def test_reload_changes_timeout(self):
        d = self.start(config="timeout 20\n" + ECHO)
        self.write(d, "timeout 300ms\n" + ECHO)
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded")
        t0 = time.monotonic()
        self.assertEqual(d.exchange(b"", timeout=5), b"-timeout\r\n")
        self.assertLess(time.monotonic() - t0, 1.5)

    def test_shorter_timeout_not_held_up_by_older_waiter(self):
        # A client still waiting under the old 20 s deadline must not delay
        # the new, shorter deadline of the clients that come after.
        d = self.start(config="timeout 20\n" + ECHO)
        old = self.sock(d)
        self.accepted(d)
        self.write(d, "timeout 300ms\n" + ECHO)
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded")
        t0 = time.monotonic()
        self.assertEqual(d.exchange(b"", timeout=5), b"-timeout\r\n")
        self.assertLess(time.monotonic() - t0, 1.5)
        del old     # whether it times out now or at 20 s is not asked

    def test_many_reloads_keep_serving(self):
        d = self.start(config=ECHO)
        for i in range(20):
            d.signal(signal.SIGHUP)
            d.wait_log(r"reloaded", count=i + 1)
        session(self, d)


class Stop(DaemonTestCase):

    def test_sigterm(self):
        d = self.start(config="timeout 30\n" + ECHO)
        s = session(self, d)
        waiting = self.sock(d)
        half = self.sock(d)
        half.sendall(b"ech")
        self.accepted(d)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(recv_until_eof(waiting), b"-shutting down\r\n")
        self.assertEqual(recv_until_eof(half), b"-shutting down\r\n")
        self.assertEqual(d.wait_exit(5), 0)
        self.assertLess(time.monotonic() - t0, 2.0)
        # The port is closed...
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((d.host, d.port), 2).close()
        # ...and the running program goes on.
        roundtrip(self, s)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"")

    def test_sigterm_session_that_writes_to_stderr_survives(self):
        # A program that logs to stderr is a running program too: the
        # daemon leaving must not make its next stderr write kill it.
        sh = self.script("chatty.sh", "#!/bin/sh\n"
                         "while IFS= read -r l; do\n"
                         "\techo \"got $l\" >&2\n"
                         "\techo \"$l\"\n"
                         "done\n")
        d = self.start(config='service "chatty" {\n\tcommand "%s"\n}\n'
                       % sh)
        s = self.sock(d)
        s.sendall(b"chatty\r\none\n")
        self.assertEqual(recv_exact(s, 7), b"+\r\none\n")
        d.wait_log(r"^chatty\[\d+\]: got one$")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5), 0)
        s.sendall(b"two\n")
        got = b""
        try:
            got = recv_exact(s, 4)
        except AssertionError as e:
            self.fail("program died after the daemon stopped: %s" % e)
        self.assertEqual(got, b"two\n")

    def test_restart_on_same_port_while_session_runs(self):
        # The usual restart: stop, start again on the same port, while an
        # old session goes on. Nothing of the old daemon may keep the port.
        d = self.start("-s", "echo=cat")
        s = session(self, d)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5), 0)
        d2 = self.start("-s", "echo=cat", listen=("127.0.0.1:%d" % d.port,),
                        wait=False)
        try:
            d2.wait_listening()
        except AssertionError as e:
            self.fail("cannot listen again on port %d: %s" % (d.port, e))
        session(self, d2)
        roundtrip(self, s)

    def test_sigint_also_stops(self):
        d = self.start("-s", "echo=cat")
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait_exit(5), 0)

    def test_sigterm_when_idle(self):
        d = self.start("-s", "echo=cat")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5), 0)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_frontend_goes_with_parent(self):
        d = self.start("-s", "echo=cat")
        fe = d.frontend_pid()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5), 0)
        poll_until(lambda: not os.path.exists("/proc/%d/comm" % fe) or
                   open("/proc/%d/comm" % fe).read().strip()
                   != "oneportd-front", what="the frontend to go")
