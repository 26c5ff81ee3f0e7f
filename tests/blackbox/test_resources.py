# SPDX-License-Identifier: ISC
"""
Resources and the sandbox: no descriptor growth in the parent or the
frontend over 1000 mixed sessions and repeated reloads; the frontend's user,
seccomp and no_new_privs; random client bytes never kill the daemon.
"""
import os
import pwd
import random
import signal
import socket
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import (IS_ROOT, DaemonTestCase, poll_until, proc_status,
                     recv_exact, recv_until, recv_until_eof)


def fd_targets(pid):
    out = []
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, f))
        except OSError:
            continue
        # socket:[123] -> socket: the inode differs from run to run.
        out.append(t.split("[")[0])
    return sorted(out)


class NoLeaks(DaemonTestCase):

    def test_no_fd_growth_after_1000_sessions(self):
        gone = self.script("gone.sh", "#!/bin/sh\nexit 0\n")
        d = self.start(config="""
timeout 300ms
service "true" {
	command "/bin/true"
}
service "echo" {
	command "/bin/cat"
}
service "gone" {
	command "%s"
}
service "one" {
	command "/bin/cat"
	max instances 1
}
""" % gone)
        os.unlink(gone)
        fe = d.frontend_pid()
        holder = self.sock(d)
        holder.sendall(b"one\r\n")
        self.assertEqual(recv_exact(holder, 3), b"+\r\n")

        kinds = {
            0: (b"true\r\n", False, b"+\r\n"),
            1: (b"echo\r\nabc", True, b"+\r\nabc"),
            2: (b"nosuch\r\n", False, b"-unknown service\r\n"),
            3: (b"\x16\x03\x01", False, b"-bad name\r\n"),
            4: (b"help\r\n", False, b"echo\r\ngone\r\none\r\ntrue\r\n"),
            5: (b"ab", True, b"-incomplete request\r\n"),
            6: (b"gone\r\n", False, b"-cannot start service\r\n"),
            7: (b"one\r\n", False, b"-service busy\r\n"),
            8: (b"x" * 100, False, b"-line too long\r\n"),
            9: (b"true\r\n", False, b"+\r\n"),
        }

        def one(i):
            data, half, want = kinds[i % 10]
            try:
                got = d.exchange(data, half_close=half)
            except (OSError, AssertionError) as e:
                got = repr(e).encode()
            return None if got == want else (i, data, got)

        def quiet():
            spawned = [m for m in d.conn_lines()
                       if m.group("pid").isdigit()]
            return len(d.exit_lines()) == len(spawned) - 1  # holder runs

        def at_rest():
            """Both fd tables, once all children are reaped and a full
            round trip through the frontend changes neither: any earlier
            connection has been dealt with by then."""
            def stable():
                if not quiet():
                    return None
                a = (fd_targets(d.pid), fd_targets(fe))
                self.accepted(d)
                b = (fd_targets(d.pid), fd_targets(fe))
                return a if a == b and quiet() else None
            return poll_until(stable, timeout=20, what="daemon at rest")

        # Warm up every path once, then take the baseline at rest.
        self.assertEqual([x for x in map(one, range(10)) if x], [])
        self.assertEqual(d.exchange(b"", timeout=3), b"-timeout\r\n")
        socket.create_connection((d.host, d.port)).close()
        base_parent, base_front = at_rest()

        silent = [self.sock(d) for _ in range(20)]
        with ThreadPoolExecutor(6) as ex:
            results = ex.map(one, range(1000))     # all submitted now
            for i in range(10):                    # reloads meanwhile
                socket.create_connection((d.host, d.port)).close()
                d.signal(signal.SIGHUP)
                d.wait_log(r"reloaded", count=i + 1)
            bad = [x for x in results if x]
        self.assertEqual(bad[:5], [], "%d sessions answered wrongly"
                         % len(bad))
        for s in silent:
            self.assertEqual(recv_until_eof(s), b"-timeout\r\n")
            s.close()       # the frontend holds a reply until our FIN
        d.wait_log(r"reloaded", count=10)
        try:
            parent, front = at_rest()
        except AssertionError:
            parent, front = fd_targets(d.pid), fd_targets(fe)
        self.assertEqual(parent, base_parent, "parent's fds grew")
        self.assertEqual(front, base_front, "frontend's fds grew")
        # And it still works.
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")

    def test_random_bytes_do_not_kill_the_daemon(self):
        d = self.start("-s", "echo=cat", "-s", "true=/bin/true")
        fe = d.frontend_pid()
        rnd = random.Random(1078)
        for i in range(300):
            n = rnd.choice([1, 2, 5, 17, 63, 64, 65, 200])
            data = bytes(rnd.randrange(256) for _ in range(n))
            if i % 3 == 0:
                data = rnd.choice([b"echo", b"true", b"help"]) + data
            got = d.exchange(data, half_close=True)
            self.assertTrue(got.startswith((b"+\r\n", b"-")) or
                            got.endswith(b"\r\n"), (data, got))
        self.assertIsNone(d.proc.poll())
        self.assertEqual(d.frontend_pid(), fe)
        self.assertEqual(d.exchange(b"true\r\n"), b"+\r\n")


class Sandbox(DaemonTestCase):

    def test_frontend_seccomp_and_no_new_privs(self):
        d = self.start("-s", "echo=cat")
        st = proc_status(d.frontend_pid())
        self.assertEqual(st.get("Seccomp"), "2")
        self.assertEqual(st.get("NoNewPrivs"), "1")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_frontend_user(self):
        d = self.start("-s", "echo=cat")
        st = proc_status(d.frontend_pid())
        uids = [int(x) for x in st["Uid"].split()]
        gids = [int(x) for x in st["Gid"].split()]
        try:
            pw = pwd.getpwnam("oneportd")
        except KeyError:
            pw = pwd.getpwnam("nobody")
        self.assertEqual(uids, [pw.pw_uid] * 4)
        self.assertEqual(gids, [pw.pw_gid] * 4)
        self.assertNotIn(0, uids)
        self.assertEqual(int(st["CapEff"], 16), 0)
        self.assertEqual(int(st["CapPrm"], 16), 0)
        self.assertEqual(st.get("Groups", "").split(), [str(pw.pw_gid)])
        # The parent, which spawns, stays root.
        self.assertEqual(proc_status(d.pid)["Uid"].split()[1], "0")


class OutOfDescriptors(DaemonTestCase):
    """Running out of descriptors is load, not a reason to die."""

    ECHO = 'service "echo" {\n\tcommand "/bin/cat"\n}\n'

    def test_frontend_full_of_silent_clients(self):
        d = self.start(config="timeout 1500ms\n" + self.ECHO, nofile=48)
        fe = d.frontend_pid()
        silent = [self.sock(d, src="127.0.2.%d" % (1 + i % 10))
                  for i in range(80)]
        # Everyone is answered in the end: timed out, or told "busy".
        for s in silent:
            got = recv_until_eof(s, timeout=15)
            self.assertIn(got, (b"-timeout\r\n", b"-busy\r\n"))
        self.assertIsNone(d.proc.poll(), "daemon died")
        self.assertEqual(d.frontend_pid(), fe)
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")

    def test_parent_full_of_sessions(self):
        d = self.start(config=self.ECHO, nofile=48)
        held, answers = [], []
        for i in range(60):
            s = self.sock(d, src="127.0.3.%d" % (1 + i % 10))
            s.sendall(b"echo\r\n")
            first = recv_until(s, b"\r\n")
            answers.append(first)
            if first == b"+\r\n":
                held.append(s)
        self.assertIsNone(d.proc.poll(), "daemon died:\n" + d.log_text())
        self.assertTrue(all(a == b"+\r\n" or a.startswith(b"-")
                            for a in answers), answers)
        self.assertIn(b"+\r\n", answers)
        for s in held:
            s.close()
        poll_until(lambda: d.answers(b"echo\r\nok", b"+\r\nok",
                                     half_close=True), timeout=10,
                   what="service after the sessions ended")
