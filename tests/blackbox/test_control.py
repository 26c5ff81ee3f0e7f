# SPDX-License-Identifier: ISC
"""
The control socket and the parent's unix sockets, under attack and under
fault: a local user who floods the control socket holds a bounded number
of the root parent's descriptors and costs it no spin and no flood of log
lines, and pauses accepting when out of descriptors instead of spinning; a
supervised program that is down refuses at once; stopping and reloading
end registrations at once; a live socket at one of our paths is never
replaced.
"""
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import time
import unittest

from harness import (IO_TIMEOUT, IS_ROOT, count_fds, cpu_ticks, poll_until,
                     recv_until, recv_until_eof)
from test_pass import ECHO, NOBODY, PassCase, listening

# Opens N control connections as uid 65534 and holds them until its stdin
# closes; says how many it made. Connects block while the backlog is full
# (the parent has not accepted yet); an alarm bounds them all, so that a
# parent that stopped accepting for good cannot stall the test.
FLOOD = r'''
import signal, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
held = []
def stop(sig, frame):
    raise TimeoutError
signal.signal(signal.SIGALRM, stop)
signal.alarm(20)
try:
    for i in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        held.append(s)
        s.connect(path)
except (OSError, TimeoutError):
    held.pop().close()
signal.alarm(0)
print("made %d" % len(held), flush=True)
sys.stdin.read()
'''


# Descriptors of the parent's that come and go with the clients just
# served (a reply lingering until the client's FIN, a pipe not yet
# closed), which a count taken at one moment may or may not include.
SLACK = 4


def wire(typ, mid, body=b""):
    return struct.pack(">2sBBII", b"OP", 1, typ, mid, len(body)) + body


def cpu_over_a_second(pid):
    """Seconds of CPU pid uses over the next second of wall time: a
    measurement window, not a wait for something."""
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    poll_until(lambda: time.monotonic() - t0 >= 1.0, what="1s")
    return (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")


def max_fd(pid):
    return max(int(n) for n in os.listdir("/proc/%d/fd" % pid))


class ControlCase(PassCase):

    def register(self, name):
        """A REGISTER sent by hand on a connection this test holds."""
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(c.close)
        c.settimeout(IO_TIMEOUT)
        c.connect(self.ctl)
        c.send(wire(4, 0, bytes([len(name)]) + name.encode()))
        ans = c.recv(4096)
        self.assertTrue(len(ans) >= 14 and ans[3] == 5 and ans[12] == 0,
                        "register %s: %r" % (name, ans))
        return c

    def served(self, d, name, data=b"x"):
        s = self.sock(d)
        s.sendall(name + b"\r\n" + data)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s)


class Flood(ControlCase):

    def serves_all(self, d):
        self.assertEqual(self.served(d, b"hello"), b"+\r\nhi\n")
        self.assertEqual(self.served(d, b"own"), b"+\r\nx")
        self.assertEqual(self.served(d, b"dyn-a"), b"+\r\nx")

    @unittest.skipUnless(IS_ROOT, "needs root to be another user")
    def test_local_user_floods_the_control_socket(self):
        own = self.path("own.sock")
        self.echo(own, wait_path=own)
        d = self.start("-s", "hello=/bin/echo hi", nofile=1024, config="""
control "%s"
register "dyn-*" user root
service "own" { socket "%s" }
""" % (self.ctl, own))
        self.registrant("dyn-a", tell_peer=False)
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        self.serves_all(d)
        before = count_fds(d.pid)

        def become_nobody():
            resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        p = subprocess.Popen(["/usr/bin/python3", "-c", FLOOD, self.ctl,
                              "3000"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             preexec_fn=become_nobody)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.kill)
        made = p.stdout.readline().decode()
        self.assertEqual(made, "made 3000\n", d.log_text()[-2000:])
        d.wait_log(r"^control: a connection of uid %d refused: 64 per uid "
                   r"at most" % NOBODY)
        # What nobody holds of ours is bounded by the per-uid cap (a
        # client answered a moment ago may still linger: SLACK).
        self.assertLessEqual(count_fds(d.pid), before + 64 + SLACK,
                             os.listdir("/proc/%d/fd" % d.pid))
        # Spawn and pass clients, and a registered name, are served
        # while the flood's connections are held.
        self.serves_all(d)
        # It does not spin (a spin is a whole second of CPU a second).
        self.assertLess(cpu_over_a_second(d.pid), 0.5, "the parent spins")
        # About one line a second, not one per connection.
        lines = [l for l in d.log_lines() if "control" in l]
        self.assertLess(len(lines), 30, "\n".join(lines[:40]))
        p.stdin.close()
        self.assertEqual(p.wait(IO_TIMEOUT), 0)
        # Its connections end, and the descriptors come back.
        poll_until(lambda: count_fds(d.pid) <= before + SLACK,
                   what="descriptors back to %d" % before)
        self.assertIsNone(d.proc.poll())

    def test_per_uid_cap_says_why(self):
        d = self.start(nofile=1024, config='control "%s"\n'
                       'register "dyn-*" user root\n' % self.ctl)
        for i in range(64):
            self.register("dyn-%d" % i)
        p = self.registrant("dyn-65")
        self.assertEqual(p.wait(IO_TIMEOUT), 1)
        self.assertEqual(self.stderr_of(p), "echo-service: too many "
                         "connections for your user\n")
        d.wait_log(r"^control: a connection of uid 0 refused: 64 per uid "
                   r"at most \(and 0 more not logged\)$")

    def test_total_cap_waits_in_the_queue(self):
        # A quarter of 128 descriptors: 32 control connections at most.
        d = self.start(nofile=128, config='control "%s"\n'
                       'register "dyn-*" user root\n' % self.ctl)
        before = count_fds(d.pid)
        held = [self.register("dyn-%d" % i) for i in range(32)]
        d.wait_log(r"^control: 32 connections, the most allowed: not "
                   r"accepting until one ends")
        # The 33rd waits in the socket's queue, unanswered, until one
        # of the 32 ends.
        late = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(late.close)
        late.connect(self.ctl)
        late.send(wire(4, 0, b"\x08dyn-late"))
        self.assertEqual(count_fds(d.pid), before + 32)
        held.pop().close()
        late.settimeout(IO_TIMEOUT)
        ans = late.recv(4096)
        self.assertTrue(len(ans) >= 14 and ans[12] == 0, ans)
        d.wait_log(r"^registered dyn-late \(uid 0\)$")

    @unittest.skipUnless(IS_ROOT, "needs root to change the limit")
    def test_out_of_descriptors_pauses_accepting(self):
        d = self.start(nofile=1024, config='control "%s"\n'
                       'register "dyn-*" user root\n' % self.ctl)
        _, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE,
                         (max_fd(d.pid) + 1, hard))
        held = []
        for i in range(20):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.addCleanup(c.close)
            c.connect(self.ctl)
            held.append(c)
        d.wait_log(r"^control: accept paused for 1s: Too many open files$")
        self.assertLess(cpu_over_a_second(d.pid), 0.5, "the parent spins")
        self.assertLess(len([l for l in d.log_lines() if "control" in l]),
                        10)
        # With descriptors back it takes the waiting connections.
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (1024, hard))
        self.register("dyn-back")
        d.wait_log(r"^registered dyn-back \(uid 0\)$")
        self.assertIsNone(d.proc.poll())


class Down(ControlCase):

    def supervised(self, text):
        prog = self.script("prog.sh", text)
        return self.start(config='service "sup" { socket "%s"; '
                          'command "%s" }\n' % (self.path("sup.sock"), prog))

    def test_crash_looping_program_refused_at_once(self):
        d = self.supervised("#!/bin/sh\nexit 3\n")
        # Its next start is 4 s away: no client waits for it.
        d.wait_log(r"^sup: restarting in 4000ms$", timeout=10)
        self.assertEqual(self.ask(d, b"sup"), b"-service unavailable\r\n")
        self.conn_line(d, "sup", "-service unavailable")
        self.assertFalse([l for l in d.log_lines()
                          if "not responding" in l or
                          "no acknowledgement" in l])

    def test_waiting_clients_told_when_it_dies_for_long(self):
        # It comes up once, takes no hand-off, and dies for good later:
        # the client waiting in its socket's queue is told at once.
        d = self.supervised("#!/bin/sh\nsleep 1; exit 3\n")
        # Four runs of a second, then the fifth: it dies 4 s from its
        # next start.
        d.wait_log(r"^sup: restarting in 2000ms$", timeout=15)
        d.wait_log(r"^sup: started pid \d+ ", count=5)
        s = self.sock(d)
        s.sendall(b"sup\r\n")
        self.assertEqual(recv_until_eof(s, timeout=4),
                         b"-service unavailable\r\n")
        self.conn_line(d, "sup", "-service unavailable")


class Ends(ControlCase):

    def test_stop_ends_registrations_at_once(self):
        sh = self.script("talk.sh", "#!/bin/sh\nread l; echo got $l\n"
                         "echo bye >&2\n")
        d = self.start("-s", "talk=" + sh, config='control "%s"\n'
                       'register "dyn-*" user root\n' % self.ctl)
        f = self.fake("noack", self.ctl, register="dyn-a")
        e = self.registrant("dyn-e", tell_peer=False)
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        d.wait_log(r"^registered dyn-e \(uid 0\)$")
        poll_until(lambda: b"dyn-e" in self.help(d), what="dyn-e listed")
        # A spawned session, and one handed to a registered service.
        s = self.sock(d)
        s.sendall(b"talk\r\n")
        self.assertEqual(recv_until(s, b"+\r\n"), b"+\r\n")
        t = self.sock(d)
        t.sendall(b"dyn-e\r\none")
        self.assertEqual(recv_until(t, b"one"), b"+\r\none")
        d.signal(signal.SIGTERM)
        # The registrants see their channels end while the sessions run.
        self.assertEqual(f.wait(IO_TIMEOUT), 0)
        self.assertEqual(e.wait(IO_TIMEOUT), 1)
        t.sendall(b"two")
        t.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(t), b"two")
        s.sendall(b"still\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"got still\n")

    def test_reload_revokes_names_no_rule_allows(self):
        conf = ('control "%s"\nregister "dyn-*" user root\n'
                'register "keep-*" user root\n' % self.ctl)
        d = self.start(config=conf)
        gone = self.registrant("dyn-a", tell_peer=False)
        kept = self.registrant("keep-a", tell_peer=False)
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        d.wait_log(r"^registered keep-a \(uid 0\)$")
        poll_until(lambda: self.help(d) == [b"dyn-a", b"keep-a"],
                   what="both listed")
        with open(d.conffile, "w") as f:
            f.write('control "%s"\nregister "keep-*" user root\n'
                    % self.ctl)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^revoked dyn-a \(uid 0\): no register rule allows "
                   r"it$")
        d.wait_log(r"^unregistered dyn-a \(uid 0\)$")
        gone.wait(IO_TIMEOUT)
        d.wait_log(r"^configuration reloaded")
        poll_until(lambda: self.help(d) == [b"keep-a"], what="dyn-a gone")
        self.assertEqual(self.ask(d, b"dyn-a"), b"-unknown service\r\n")
        self.assertEqual(self.served(d, b"keep-a"), b"+\r\nx")
        self.assertIsNone(kept.poll())


class Paths(ControlCase):

    def live(self, path, kind=socket.SOCK_SEQPACKET):
        s = socket.socket(socket.AF_UNIX, kind)
        self.addCleanup(s.close)
        s.bind(path)
        s.listen(8)
        return s

    def refused_start(self, config, what, path):
        d = self.start(config=config, wait=False)
        self.assertEqual(d.wait_exit(), 1)
        d.wait_log(r"^%s %s: a running process listens there \(another "
                   r"oneportd\?\): not replaced$" % (what, re.escape(path)))
        self.assertTrue(listening(path), "the live socket was replaced")

    def test_live_control_socket_refused_at_start(self):
        self.live(self.ctl)
        self.refused_start('control "%s"\nregister "dyn-*" user root\n'
                           % self.ctl, "control", self.ctl)
        # Another kind of socket is live too.
        os.unlink(self.ctl)
        self.live(self.ctl, socket.SOCK_STREAM)
        self.refused_start('control "%s"\nregister "dyn-*" user root\n'
                           % self.ctl, "control", self.ctl)

    def test_live_supervise_socket_refused_at_start(self):
        sup = self.path("sup.sock")
        self.live(sup)
        self.refused_start('service "sup" { socket "%s"; command "%s" }\n'
                           % (sup, ECHO), "socket", sup)

    def test_stale_sockets_replaced(self):
        sup = self.path("sup.sock")
        for path in (self.ctl, sup):
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.bind(path)
        d = self.start(config='control "%s"\nregister "dyn-*" user root\n'
                       'service "sup" { socket "%s"; command "%s" }\n'
                       % (self.ctl, sup, ECHO))
        self.started(d, "sup")
        self.assertEqual(self.served(d, b"sup"), b"+\r\nx")
        self.register("dyn-a")
        d.wait_log(r"^registered dyn-a \(uid 0\)$")

    def test_reload_to_a_live_path_keeps_the_old_socket(self):
        conf = 'control "%s"\nregister "dyn-*" user root\n'
        d = self.start(config=conf % self.ctl)
        other = self.path("other.sock")
        self.live(other)
        with open(d.conffile, "w") as f:
            f.write(conf % other)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^control %s: a running process listens there"
                   % re.escape(other))
        d.wait_log(r"^control stays at %s$" % re.escape(self.ctl))
        self.register("dyn-a")
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        self.assertTrue(listening(other))


if __name__ == "__main__":
    unittest.main()
