# SPDX-License-Identifier: ISC
"""
test_systemd.py: oneportd as systemd runs it. Socket activation under the
real systemd-socket-activate (one socket, several with names, a socket that
stands for a `listen on` line), LISTEN_PID that is not ours.
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (DAEMON, DaemonTestCase, IO_TIMEOUT, REPO, free_port,
                     poll_until, recv_until, recv_until_eof)

ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")


def send_line(port, data, host="127.0.0.1"):
    """A client that connects and speaks at once, before anyone accepts."""
    s = socket.create_connection((host, port), IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    s.sendall(data)
    return s


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate not installed")
class SocketActivation(DaemonTestCase):

    def activate(self, ports, names=None, args=(), listen=(), config=None,
                 nlisteners=None):
        wrap = [ACTIVATE]
        for p in ports:
            wrap += ["-l", "127.0.0.1:%d" % p]
        if names:
            wrap += ["--fdname=" + ":".join(names)]
        d = self.start(*args, listen=listen, config=config, wait=False,
                       wrap=wrap, nlisteners=nlisteners or len(ports))
        for p in ports:
            d.wait_log(r"Listening on 127\.0\.0\.1:%d as" % p)
        return d

    def test_one_socket_serves_the_queued_client(self):
        port = free_port()
        d = self.activate([port], args=("-s", "echo=cat"))
        # systemd-socket-activate execs oneportd at this first connection:
        # the client waits in the queue of a socket no one has accepted.
        c = send_line(port, b"echo\r\nqueued\r\n")
        self.addCleanup(c.close)
        d.wait_listening()
        self.assertEqual(recv_until(c, b"queued\r\n"), b"+\r\nqueued\r\n")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(c), b"")
        self.assertEqual(d.listeners, [("127.0.0.1", port)])
        d.wait_log(r"listener 127\.0\.0\.1:%d: handed over as fd 3, "
                   r"served as well" % port)
        # Nothing of its own: the default port 1 is not bound.
        self.assertNotIn("*:1", d.log_text())
        self.assertNotIn("bind", d.log_text())

    def test_several_sockets_with_names(self):
        a, b, extra = free_port(), free_port(), free_port()
        while len({a, b, extra}) < 3:
            extra = free_port()
        # a stands for the -l line; b is served as well; extra is bound
        # by oneportd itself, as no socket was handed for it.
        d = self.activate([a, b], names=["tcpmux", "more"],
                          args=("-s", "echo=cat"),
                          listen=("127.0.0.1:%d" % a,
                                  "127.0.0.1:%d" % extra),
                          nlisteners=3)
        c = send_line(b, b"echo\r\nfirst\r\n")
        self.addCleanup(c.close)
        d.wait_listening()
        self.assertEqual(recv_until(c, b"first\r\n"), b"+\r\nfirst\r\n")
        self.assertEqual(sorted(p for _, p in d.listeners),
                         sorted([a, b, extra]))
        d.wait_log(r'listener 127\.0\.0\.1:%d: handed over as fd 3 named '
                   r'"tcpmux", for its listen line' % a)
        d.wait_log(r'listener 127\.0\.0\.1:%d: handed over as fd 4 named '
                   r'"more", served as well' % b)
        for reload in (False, True):
            if reload:
                # Handed sockets stay, whatever the lines say.
                d.signal(signal.SIGHUP)
                d.wait_log(r"configuration reloaded")
            for p in (a, b, extra):
                s = send_line(p, b"echo\r\nport %d\r\n" % p)
                self.addCleanup(s.close)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s),
                                 b"+\r\nport %d\r\n" % p)
        self.assertNotIn("listening on", d.log_text())

    def test_listen_pid_not_ours(self):
        # Variables meant for another process: ignored, and bound as usual.
        d = self.start("-s", "echo=cat",
                       env={"LISTEN_PID": "1", "LISTEN_FDS": "1",
                            "LISTEN_FDNAMES": "x"})
        d.wait_log(r"LISTEN_PID=1 is not this process")
        self.assertEqual(d.exchange(b"echo\r\nhi\r\n", half_close=True),
                         b"+\r\nhi\r\n")


class Manager:
    """A service manager's end of NOTIFY_SOCKET: every datagram, in order,
    with the monotonic time it came."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.cv = threading.Condition()
        self.done = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done:
            try:
                m = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cv:
                self.msgs.append((time.monotonic(), m.decode()))
                self.cv.notify_all()

    def close(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()

    def lines(self, what=None):
        """Every NAME=value line so far, without WATCHDOG=1 unless asked."""
        with self.cv:
            out = [l for _, m in self.msgs for l in m.split("\n")]
        return [l for l in out if (what is None and l != "WATCHDOG=1") or
                (what is not None and l.startswith(what))]

    def wait(self, line, count=1, timeout=IO_TIMEOUT):
        return poll_until(lambda: len([l for l in self.lines()
                                       if re.fullmatch(line, l)]) >= count,
                          timeout, what="%d x %s; got %r"
                          % (count, line, self.lines()))

    def pings(self):
        with self.cv:
            return [t for t, m in self.msgs if "WATCHDOG=1" in m.split("\n")]


class Notify(DaemonTestCase):
    """sd_notify(3): what a Type=notify unit's manager is told, in order."""

    def manager(self):
        m = Manager(os.path.join(self.tmp, "notify"))
        self.addCleanup(m.close)
        return m

    def test_ready_reloading_status_stopping(self):
        m = self.manager()
        d = self.start("-s", "echo=cat", "-s", "date=date",
                       env={"NOTIFY_SOCKET": m.sock.getsockname()})
        m.wait("READY=1")
        m.wait(r"STATUS=2 services, 0 pending, 0 running, 0 served")
        for i in range(3):
            self.assertEqual(d.exchange(b"echo\r\nx\r\n", half_close=True),
                             b"+\r\nx\r\n")
        # At most one STATUS a second: the third one is there in time.
        m.wait(r"STATUS=2 services, 0 pending, 0 running, 3 served")
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        d.signal(signal.SIGHUP)
        m.wait("READY=1", count=2)
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        m.wait("STOPPING=1")
        got = [l for l in m.lines() if not l.startswith("STATUS=")]
        self.assertEqual([re.sub(r"^MONOTONIC_USEC=\d+$", "MONOTONIC_USEC=N",
                                 l) for l in got],
                         ["READY=1", "RELOADING=1", "MONOTONIC_USEC=N",
                          "READY=1", "STOPPING=1"])
        usec = int(got[2].split("=")[1])
        self.assertTrue(before <= usec <= after, (before, usec, after))
        # STATUS= never comes before the first READY=1.
        self.assertEqual(m.lines()[0], "READY=1")

    def test_watchdog_at_half_the_period(self):
        m = self.manager()
        self.start("-s", "echo=cat",
                   env={"NOTIFY_SOCKET": m.sock.getsockname(),
                        "WATCHDOG_USEC": "600000"})
        poll_until(lambda: len(m.pings()) >= 6, 10, what="6 pings")
        gaps = [b - a for a, b in zip(m.pings(), m.pings()[1:])]
        # Every 0.3 s: never much faster (what a ping's way here may
        # take aside), and in the median within the 0.6 s asked.
        self.assertGreaterEqual(min(gaps), 0.15, gaps)
        self.assertLess(statistics.median(gaps), 0.6, gaps)

    def test_watchdog_of_another_process(self):
        m = self.manager()
        d = self.start("-s", "echo=cat",
                       env={"NOTIFY_SOCKET": m.sock.getsockname(),
                            "WATCHDOG_USEC": "200000",
                            "WATCHDOG_PID": "1"})
        m.wait("READY=1")
        # Three periods and more: no ping meant for pid 1.
        self.assertEqual(d.exchange(b"echo\r\nx\r\n", half_close=True),
                         b"+\r\nx\r\n")
        deadline = time.monotonic() + 0.7
        poll_until(lambda: time.monotonic() >= deadline, 2)
        self.assertEqual(m.pings(), [])


class Signals(DaemonTestCase):
    """No signal a person may send kills the daemon unasked."""

    def test_stray_signals(self):
        d = self.start("-s", "echo=cat")
        for sig in (signal.SIGUSR1, signal.SIGALRM, signal.SIGVTALRM,
                    signal.SIGPROF, signal.SIGIO, signal.SIGPWR,
                    signal.SIGWINCH, signal.SIGURG, signal.SIGTTIN,
                    signal.SIGRTMIN, signal.SIGRTMAX):
            d.signal(sig)
            self.assertEqual(d.exchange(b"echo\r\nx\r\n",
                                        half_close=True), b"+\r\nx\r\n")
        d.wait_log(r"status: 1 services, 0 pending, \d+ running, \d+ served")
        d.wait_log(r"signal %d \(Alarm clock\) ignored" % signal.SIGALRM)
        self.assertIsNone(d.proc.poll())

    def test_sigquit_stops(self):
        d = self.start("-s", "echo=cat")
        d.signal(signal.SIGQUIT)
        self.assertEqual(d.wait_exit(), 0)
        d.wait_log("stopped")


@unittest.skipUnless(ANALYZE, "systemd-analyze not installed")
class Units(unittest.TestCase):
    """systemd/'s units as `make install` puts them, pointing at the
    daemon under test, pass systemd-analyze verify (man pages too)."""

    def test_verify_installed_units(self):
        tmp = tempfile.mkdtemp(prefix="oneport-units.")
        self.addCleanup(shutil.rmtree, tmp, True)
        units = os.path.join(tmp, "units")
        subprocess.run(["make", "-s", "-C", REPO, "install-units",
                        "DESTDIR=", "UNITDIR=" + units,
                        "SBINDIR=" + os.path.dirname(DAEMON),
                        "SYSCONFDIR=" + tmp], check=True, timeout=60)
        for sec, page in (("8", "oneportd.8"), ("5", "oneportd.conf.5")):
            os.makedirs(os.path.join(tmp, "man", "man" + sec))
            os.symlink(os.path.join(REPO, "man", page),
                       os.path.join(tmp, "man", "man" + sec, page))
        paths = [os.path.join(units, u)
                 for u in ("oneportd.service", "oneportd.socket")]
        with open(paths[0]) as f:
            text = f.read()
        self.assertIn("ExecStart=%s/oneportd -d -f %s/oneportd.conf"
                      % (os.path.dirname(DAEMON), tmp), text)
        self.assertIn("Type=notify", text)
        p = subprocess.run([ANALYZE, "verify"] + paths,
                           env=dict(os.environ, MANPATH=tmp + "/man"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        self.assertEqual((p.returncode, p.stdout.decode()), (0, ""))


if __name__ == "__main__":
    unittest.main()
