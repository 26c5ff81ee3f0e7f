# SPDX-License-Identifier: ISC
"""
test_upgrade.py: changes to a running oneportd that no client may notice:
a reload that adds and removes `listen on` lines while clients run, and
upgrades (SIGUSR2) to a new binary under a load of 16 concurrent clients,
one of them a pass service's.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import (DAEMON, DaemonTestCase, IO_TIMEOUT, REPO, alive,
                     free_port, poll_until, recv_exact, recv_until,
                     recv_until_eof, server_side_state)
from test_systemd import Manager

ECHO = 'service "echo" {\n\tcommand "/bin/cat"\n}\n'


def conf(*ports):
    return "".join("listen on 127.0.0.1 port %d\n" % p for p in ports) + ECHO


def echo(addr, line, name=b"echo"):
    """One client of an echoing service: what came back for its line."""
    s = socket.create_connection(addr, IO_TIMEOUT)
    try:
        s.settimeout(IO_TIMEOUT)
        s.sendall(name + b"\r\n" + line)
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
    """Clients one after another on each (host, port), per at once, each
    asking one of names (in turn) for its own line: what came back other
    than that is kept."""

    def __init__(self, addrs, per=1, names=(b"echo",)):
        self.addrs = addrs
        self.names = names
        self.stop = threading.Event()
        self.bad = []
        self.done = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(a, i),
                                         daemon=True)
                        for a in addrs for i in range(per)]
        for t in self.threads:
            t.start()

    def one(self, addr, tag, name):
        want = b"client %s\r\n" % tag.encode()
        try:
            got = echo(addr, want, name)
        except (OSError, AssertionError) as e:
            got = repr(e).encode()
        return got == b"+\r\n" + want, got

    def run(self, addr, i):
        k = 0
        while not self.stop.is_set():
            k += 1
            ok, got = self.one(addr, "%d-%d-%d" % (addr[1], i, k),
                               self.names[i % len(self.names)])
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


def pass_service(test, path):
    """liboneport's echo-service on path, a pass service oneportd connects
    to (each image of oneportd on a channel of its own)."""
    echo = os.path.join(os.path.dirname(os.path.realpath(DAEMON)),
                        "echo-service")
    if not os.access(echo, os.X_OK):
        echo = os.path.join(REPO, "build", "echo-service")
    err = open(os.path.join(test.tmp, "echo-service.err"), "w+")
    test.addCleanup(err.close)
    p = subprocess.Popen([echo, path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err)

    def reap():
        p.terminate()
        p.wait(5)
    test.addCleanup(reap)
    poll_until(lambda: os.path.exists(path) or p.poll() is not None,
               what="echo-service ready")
    test.assertIsNone(p.poll(), "echo-service exited")
    return p


class Upgrade(DaemonTestCase):
    """SIGUSR2: the binary now at oneportd's path takes over, and no
    client is refused, reset or answered wrong."""

    def start_copy(self, config, env=None):
        """oneportd started from a copy of the binary under test, so that
        the test can replace the file as an install does."""
        exe = os.path.join(self.tmp, "oneportd")
        shutil.copy2(DAEMON, exe)
        saved, harness.DAEMON = harness.DAEMON, exe
        try:
            d = self.start(config=config, listen=(), env=env)
        finally:
            harness.DAEMON = saved
        self.current = d.pid
        self.addCleanup(self.stop_current)
        return exe, d

    def stop_current(self):
        """The last image is no child of the harness: stopped here, so
        that nothing holds the log's pipe."""
        if alive(self.current):
            os.kill(self.current, signal.SIGTERM)
            poll_until(lambda: not alive(self.current), 10,
                       what="oneportd %d stopped" % self.current)

    def test_three_upgrades_under_load(self):
        fixed = free_port()
        path = os.path.join(self.tmp, "pass.sock")
        pass_service(self, path)
        notify = os.path.join(self.tmp, "notify")
        m = Manager(notify)
        self.addCleanup(m.close)
        exe, d = self.start_copy(
            "listen on 127.0.0.1 port 0\nlisten on 127.0.0.1 port %d\n"
            '%sservice "pass" { socket "%s" }\n' % (fixed, ECHO, path),
            env={"NOTIFY_SOCKET": notify})
        m.wait("READY=1")
        addrs = [("127.0.0.1", p) for _, p in d.listeners]
        # 16 at once: 12 to a spawned cat, 4 to the running service.
        load = Load(addrs, per=8, names=(b"echo",) * 3 + (b"pass",))
        self.addCleanup(load.finish)
        poll_until(lambda: load.count() >= 50, what="50 clients")
        pids = []
        for k in range(3):
            # A rebuilt binary: a new file at the same path.
            shutil.copy2(DAEMON, exe + ".new")
            os.replace(exe + ".new", exe)
            old, n = self.current, load.count()
            os.kill(old, signal.SIGUSR2)
            hit = d.wait_log(r"upgrade: pid (\d+) serves; this one "
                             r"finishes its clients", count=k + 1,
                             timeout=20)[k]
            self.current = int(hit.group(1))
            pids.append(self.current)
            poll_until(lambda: not alive(old), 20,
                       what="the old oneportd %d gone" % old)
            self.assertEqual(os.readlink("/proc/%d/exe" % self.current),
                             exe)
            poll_until(lambda: load.count() >= n + 50, 20,
                       what="50 clients after upgrade %d" % (k + 1))
        self.assertEqual(load.finish(), [])
        # Both ports are the same sockets all along.
        self.assertEqual([("127.0.0.1", p) for _, p in d.listeners], addrs)
        d.wait_log(r"frontend: drained", count=3)
        self.assertEqual(m.lines("MAINPID="),
                         ["MAINPID=%d" % p for p in pids])
        # The watchdog and the status are the new image's now.
        m.wait(r"STATUS=2 services, \d+ pending, \d+ running, \d+ served")

    def test_failed_upgrade_keeps_serving(self):
        exe, d = self.start_copy("listen on 127.0.0.1 port 0\n" + ECHO)
        with open(exe + ".new", "w") as f:
            f.write("#!/bin/sh\nexit 3\n")
        os.chmod(exe + ".new", 0o755)
        os.replace(exe + ".new", exe)
        os.kill(d.pid, signal.SIGUSR2)
        d.wait_log(r"upgrade: pid \d+ failed before it was ready; this "
                   r"one goes on")
        self.assertEqual(echo(("127.0.0.1", d.port), b"x\r\n"),
                         b"+\r\nx\r\n")
        # And a good binary after it is taken.
        shutil.copy2(DAEMON, exe + ".new")
        os.replace(exe + ".new", exe)
        os.kill(d.pid, signal.SIGUSR2)
        hit = d.wait_log(r"upgrade: pid (\d+) serves", timeout=20)[0]
        self.current = int(hit.group(1))
        self.assertEqual(d.wait_exit(10), 0)
        self.assertEqual(echo(("127.0.0.1", d.port), b"y\r\n"),
                         b"+\r\ny\r\n")


    def test_a_failed_upgrade_leaves_the_sockets_as_they_were(self):
        # The new image sets its defer-accept on the sockets both share,
        # then fails (out of descriptors) before it is ready: the old one
        # sets its own again (review of f3b26c5).
        exe, d = self.start_copy("listen on 127.0.0.1 port 0\n" + ECHO)
        real = exe + ".real"
        shutil.copy2(DAEMON, real)
        with open(exe + ".new", "w") as f:
            f.write('#!/bin/sh\nulimit -n 8\nexec "%s" "$@"\n' % real)
        os.chmod(exe + ".new", 0o755)
        os.replace(exe + ".new", exe)
        with open(d.conffile, "a") as f:
            f.write("defer-accept on\n")
        os.kill(d.pid, signal.SIGUSR2)
        d.wait_log(r"upgrade: pid \d+ failed before it was ready; this "
                   r"one goes on")
        # The line is logged just before the old image sets its own: a
        # connection in between is held. A new one each look, accepted
        # at once (a held one would come only a second on).
        socks = []
        self.addCleanup(lambda: [c.close() for c in socks])

        def accepted():
            socks.append(socket.create_connection(("127.0.0.1", d.port),
                                                  IO_TIMEOUT))
            time.sleep(0.3)
            return server_side_state(d, socks[-1]) == "01"
        poll_until(accepted, IO_TIMEOUT,
                   what="a connection accepted at once, not held")
        s = socks[-1]
        s.sendall(b"echo\r\nx")
        self.assertEqual(recv_exact(s, 4), b"+\r\nx")

if __name__ == "__main__":
    unittest.main()
