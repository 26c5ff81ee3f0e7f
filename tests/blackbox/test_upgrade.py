# SPDX-License-Identifier: ISC
"""
test_upgrade.py: changes to a running oneportd that no client may notice:
a reload that adds and removes `listen on` lines while clients run.
"""
import re
import signal
import socket
import threading
import unittest

from harness import (DaemonTestCase, IO_TIMEOUT, free_port, poll_until,
                     recv_until, recv_until_eof)

ECHO = 'service "echo" {\n\tcommand "/bin/cat"\n}\n'


def conf(*ports):
    return "".join("listen on 127.0.0.1 port %d\n" % p for p in ports) + ECHO


def echo(addr, line):
    """One client of echo: what came back for its line."""
    s = socket.create_connection(addr, IO_TIMEOUT)
    try:
        s.settimeout(IO_TIMEOUT)
        s.sendall(b"echo\r\n" + line)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s)
    finally:
        s.close()


def ports(n):
    got = set()
    while len(got) < n:
        got.add(free_port())
    return sorted(got)


class Load:
    """Clients one after another on each (host, port), each asking echo for
    its own line: what came back other than that is kept."""

    def __init__(self, addrs, per=1):
        self.addrs = addrs
        self.stop = threading.Event()
        self.bad = []
        self.done = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(a, i),
                                         daemon=True)
                        for a in addrs for i in range(per)]
        for t in self.threads:
            t.start()

    def one(self, addr, tag):
        want = b"client %s\r\n" % tag.encode()
        try:
            got = echo(addr, want)
        except (OSError, AssertionError) as e:
            got = repr(e).encode()
        return got == b"+\r\n" + want, got

    def run(self, addr, i):
        k = 0
        while not self.stop.is_set():
            k += 1
            ok, got = self.one(addr, "%d-%d-%d" % (addr[1], i, k))
            with self.lock:
                self.done += 1
                if not ok:
                    self.bad.append((addr, got))

    def count(self):
        with self.lock:
            return self.done

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(IO_TIMEOUT * 2)
        return self.bad


class ReloadListeners(DaemonTestCase):

    def test_add_and_remove_while_clients_run(self):
        a, b, c = ports(3)
        d = self.start(config=conf(a, b), listen=())
        self.assertEqual(sorted(p for _, p in d.listeners), [a, b])
        # In flight on b, the line that goes: a session, and a client
        # accepted that has not spoken yet.
        session = self.sock(d, index=[p for _, p in d.listeners].index(b))
        session.sendall(b"echo\r\n")
        self.assertEqual(recv_until(session, b"+\r\n"), b"+\r\n")
        quiet = socket.create_connection(("127.0.0.1", b), IO_TIMEOUT)
        self.addCleanup(quiet.close)
        self.accepted(d, index=[p for _, p in d.listeners].index(b))
        load = Load([("127.0.0.1", a)], per=4)
        self.addCleanup(load.finish)
        poll_until(lambda: load.count() >= 20, what="20 clients on a")
        with open(d.conffile, "w") as f:
            f.write(conf(a, c))
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        d.wait_log(r"^listening on 127\.0\.0\.1:%d$" % c)
        d.wait_log(r"^no longer listening on 127\.0\.0\.1:%d$" % b)
        n = load.count()
        poll_until(lambda: load.count() >= n + 20, what="20 more on a")
        self.assertEqual(load.finish(), [])
        # c is served, b is closed.
        self.assertEqual(echo(("127.0.0.1", c), b"new\r\n"),
                         b"+\r\nnew\r\n")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", b), IO_TIMEOUT).close()
        # What was in flight on b is untouched.
        session.sendall(b"still here\r\n")
        self.assertEqual(recv_until(session, b"here\r\n"), b"still here\r\n")
        quiet.settimeout(IO_TIMEOUT)
        quiet.sendall(b"echo\r\nlate\r\n")
        quiet.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(quiet), b"+\r\nlate\r\n")
        # A reload without changes keeps them all.
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=2)
        for p in (a, c):
            self.assertEqual(echo(("127.0.0.1", p), b"again\r\n"),
                             b"+\r\nagain\r\n")
        self.assertNotIn("not listening", d.log_text())

    def test_port_zero_line_keeps_its_socket(self):
        d = self.start(config="listen on 127.0.0.1 port 0\n" + ECHO,
                       listen=())
        port = d.port
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        self.assertEqual(d.exchange(b"echo\r\nx\r\n", half_close=True),
                         b"+\r\nx\r\n")
        self.assertEqual(d.port, port)
        self.assertFalse([l for l in d.log_lines()
                          if re.match(r"(no longer )?listening on", l)])

    def test_bind_failure_keeps_the_rest(self):
        a, b = ports(2)
        d = self.start(config=conf(a), listen=())
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", b))
        taken.listen()
        with open(d.conffile, "w") as f:
            f.write(conf(a, b))
        d.signal(signal.SIGHUP)
        d.wait_log(r"not listening on 127\.0\.0\.1:%d" % b)
        d.wait_log(r"configuration reloaded")
        self.assertEqual(d.exchange(b"echo\r\nx\r\n", half_close=True),
                         b"+\r\nx\r\n")


if __name__ == "__main__":
    unittest.main()
