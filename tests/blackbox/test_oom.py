# SPDX-License-Identifier: ISC
"""
Out of memory and descriptors at run time: the running parent's limits
are lowered (prlimit on its pid) after start, so that what it allocates
or opens for a client, or for a reload, fails. It refuses with a reason,
keeps the old configuration, never exits, and serves again once the
pressure is gone.
"""
import os
import resource
import signal
import unittest

from harness import (DAEMON, DaemonTestCase, count_fds, poll_until,
                     recv_until)


def sanitized():
    """ASan reserves terabytes of address space and aborts, by design,
    when an allocation fails: an address-space limit tests ASan, not us."""
    try:
        with open(DAEMON, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def vm_size(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize for %d" % pid)


def many_services(n, first="s"):
    return "".join('service "%s%04d" {\n\tcommand "/bin/echo" "%s"\n}\n'
                   % (first, i, "x" * 200) for i in range(n))


ECHO = 'service "echo" {\n\tcommand "/bin/cat"\n}\n'


class OutOfDescriptorsAtRunTime(DaemonTestCase):

    def test_parent_at_its_fd_limit_refuses_with_a_reason(self):
        d = self.start(config=ECHO)
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")
        old = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
        # Room for the client's socket and little else: the pipes of a
        # program (4) do not fit.
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE,
                         (count_fds(d.pid) + 2, old[1]))
        try:
            answers = []
            for i in range(8):
                s = self.sock(d)
                s.sendall(b"echo\r\n")
                answers.append(recv_until(s, b"\r\n"))
                s.close()
            self.assertIsNone(d.proc.poll(), "daemon died:\n" + d.log_text())
            self.assertIn(b"-out of descriptors\r\n", answers)
            d.wait_log(r"out of descriptors|cannot create pipes")
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_NOFILE, old)
        poll_until(lambda: d.answers(b"echo\r\nok", b"+\r\nok",
                                     half_close=True), timeout=10,
                   what="service once descriptors are back")


@unittest.skipIf(sanitized(), "ASan aborts on a failed allocation")
class OutOfMemoryAtRunTime(DaemonTestCase):

    def squeeze(self, d, room=256 << 10, pid=None):
        pid = pid or d.pid
        old = resource.prlimit(pid, resource.RLIMIT_AS)
        resource.prlimit(pid, resource.RLIMIT_AS,
                         (vm_size(pid) + room, old[1]))
        return old

    def test_frontend_without_memory_keeps_its_names(self):
        d = self.start(config=ECHO + many_services(2))
        fe = d.frontend_pid()
        # The frontend is another user's: it gets a tight limit the way
        # any process does, from its parent at its start. Squeezed, the
        # parent restarts it, and sends it the names from its buffer.
        room = vm_size(fe) + (128 << 10)
        old = resource.prlimit(d.pid, resource.RLIMIT_AS)
        resource.prlimit(d.pid, resource.RLIMIT_AS, (room, old[1]))
        try:
            os.kill(fe, signal.SIGKILL)
            d.wait_log(r"frontend ready, pid")
            fe = d.frontend_pid()
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_AS, old)
        with open(d.conffile, "w") as f:
            f.write(ECHO + many_services(4000, "n"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"frontend: out of memory: config generation \d+ "
                   r"not taken", timeout=30)
        self.assertEqual(d.exchange(b"help\r\n"),
                         b"echo\r\ns0000\r\ns0001\r\n")
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")
        # A config that fits is taken by the same frontend.
        with open(d.conffile, "w") as f:
            f.write(ECHO + many_services(3, "m"))
        d.signal(signal.SIGHUP)
        poll_until(lambda: d.answers(b"help\r\n",
                                     b"echo\r\nm0000\r\nm0001\r\n"
                                     b"m0002\r\n"),
                   timeout=10, what="the names that fit")
        self.assertEqual(d.frontend_pid(), fe)
        self.assertIsNone(d.proc.poll())

    def test_reload_without_memory_keeps_the_old_config(self):
        d = self.start(config=ECHO + many_services(2))
        fe = d.frontend_pid()
        with open(d.conffile, "w") as f:
            f.write(ECHO + many_services(4000, "n"))
        old = self.squeeze(d)
        try:
            d.signal(signal.SIGHUP)
            d.wait_log(r"configuration not reloaded; keeping the old one",
                       timeout=30)
            self.assertIsNone(d.proc.poll(), "daemon died:\n" + d.log_text())
            self.assertRegex(d.log_text(), r"out of memory while loading")
            # The frontend still has the old names; the parent serves them.
            self.assertEqual(d.exchange(b"help\r\n"),
                             b"echo\r\ns0000\r\ns0001\r\n")
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_AS, old)
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")
        # With memory back, the same file loads.
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded: 4001 services", timeout=60)
        poll_until(lambda: d.answers(b"n3999\r\n",
                                     b"+\r\n" + b"x" * 200 + b"\n"),
                   timeout=10, what="the new names")
        self.assertEqual(d.frontend_pid(), fe)
        self.assertIsNone(d.proc.poll())

    def test_clients_without_memory_are_refused_not_fatal(self):
        d = self.start(config=ECHO + 'service "redir" {\n'
                       '\tcommand "/bin/cat"\n\tredirect per-request\n}\n')
        old = self.squeeze(d, room=0)
        try:
            answers = []
            for i in range(50):
                try:
                    s = self.sock(d)
                    s.sendall(b"echo\r\n" if i % 2 else b"redir\r\n")
                    answers.append(recv_until(s, b"\r\n"))
                    s.close()
                except OSError as e:
                    answers.append(repr(e).encode())
            self.assertIsNone(d.proc.poll(), "daemon died:\n" + d.log_text())
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_AS, old)
        self.assertTrue(all(a.startswith((b"+", b"-", b"@"))
                            for a in answers), answers)
        self.assertIn(b"-out of memory\r\n", answers)
        poll_until(lambda: d.answers(b"echo\r\nok", b"+\r\nok",
                                     half_close=True), timeout=10,
                   what="service once memory is back")


if __name__ == "__main__":
    unittest.main()
