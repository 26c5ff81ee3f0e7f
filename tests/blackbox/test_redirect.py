# SPDX-License-Identifier: ISC
"""
Redirect services (mode B): instead of handing the connection over, the
daemon answers "@PORT", "@PORT token=HEX" or "@PORT host=HOST" and closes.
What the client reads, what a dynamic program is given (its listening
socket on fd 3, the systemd variables, its one-time token), how long it
lives, that "?name" only looks, and that its port is free once it is gone.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import time

from harness import (DAEMON, IO_TIMEOUT, IS_ROOT, DaemonTestCase, alive,
                     children_of, listening_ports, poll_until, proc_status,
                     recv_until_eof, run_daemon_n)

# The service program. It checks what the daemon must give it before it
# serves anyone (exit 3 otherwise), then answers each connection's first
# line with "ok PID" and a JSON line of what it found at start, or closes
# without a byte when a token was wanted and the line is not one it holds.
# argv: shared|per-request [token] [linger] [deaf] [closes] [nopipe]. A
# per-request program exits after its one good connection; with linger,
# after the connection that follows it (so a replay reaches it). deaf:
# it never accepts; closes: it closes its socket after one connection
# and lives on; nopipe: it closes its token pipe at start.
PROG = r'''#!/usr/bin/python3
import fcntl, json, os, select, socket, sys, time

def say(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()

def die(msg):
    say("fatal: " + msg)
    sys.exit(3)

mode, opts = sys.argv[1], sys.argv[2:]
want_token, linger = "token" in opts, "linger" in opts
with open("/proc/self/environ", "rb") as f:
    env = dict(kv.split("=", 1) for kv in f.read().decode().split("\0")
               if kv)
if env.get("LISTEN_PID") != str(os.getpid()):
    die("LISTEN_PID=%r, pid %d" % (env.get("LISTEN_PID"), os.getpid()))
if env.get("LISTEN_FDS") != "1":
    die("LISTEN_FDS=%r" % env.get("LISTEN_FDS"))
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink("/proc/self/fd/" + fd)
    except OSError:
        pass        # the directory listdir read, closed by now
nonblock = {fd: bool(fcntl.fcntl(int(fd), fcntl.F_GETFL) & os.O_NONBLOCK)
            for fd in ("3", "4") if fd in fds}
ls = socket.socket(fileno=3)
if ls.type != socket.SOCK_STREAM or \
        not ls.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
    die("fd 3 is not a listening stream socket")
info = {"env": env, "fds": fds, "nonblock": nonblock,
        "addr": list(ls.getsockname()[:2])}
pending, tbuf, lines_seen = {}, b"", []
if want_token and mode == "per-request":
    pending[env.get("ONEPORT_TOKEN") or die("no ONEPORT_TOKEN")] = None
if want_token and mode == "shared" and env.get("ONEPORT_TOKEN_FD") != "4":
    die("ONEPORT_TOKEN_FD=%r" % env.get("ONEPORT_TOKEN_FD"))
if "nopipe" in opts:
    os.close(4)             # will never read a token
say("ready port=%d" % ls.getsockname()[1])

def new_tokens():
    # The daemon writes a token before it answers, so it is here already.
    global tbuf
    while select.select([4], [], [], 0)[0]:
        chunk = os.read(4, 4096)
        if not chunk:
            break
        tbuf += chunk
    *lines, tbuf = tbuf.split(b"\n")
    for l in lines:
        # "TOKEN EXPIRES": CLOCK_MONOTONIC milliseconds, as ours.
        lines_seen.append(l.decode())
        tok, expires = l.decode().split(" ")
        pending[tok] = int(expires)

good_seen = False
if "deaf" in opts:
    while True:             # listens, never accepts
        time.sleep(3600)
while True:
    c, _ = ls.accept()
    c.settimeout(5)
    line = b""
    try:
        while not line.endswith(b"\n") and len(line) < 256:
            chunk = c.recv(256)
            if not chunk:
                break
            line += chunk
    except OSError:
        pass
    word = line.decode("ascii", "replace").strip()
    good = True
    if want_token:
        if mode == "shared":
            new_tokens()
        expires = pending.pop(word, 0)  # each token once
        good = expires != 0 and (expires is None or
                                 time.monotonic() * 1000 < expires)
    try:
        if good:
            c.sendall(b"ok %d\r\n%s\r\n" % (os.getpid(), json.dumps(
                dict(info, lines=lines_seen)).encode()))
        else:
            say("refused %r" % word)
    except OSError:
        pass
    c.close()
    if "closes" in opts:
        ls.close()          # and lives on, listening nowhere
        say("closed its socket")
        while True:
            time.sleep(3600)
    if mode == "per-request":
        if good_seen or (good and not linger):
            sys.exit(0)
        good_seen = good
'''

DYN_RE = re.compile(rb"^@(\d+)\r\n$")
TOKEN_RE = re.compile(rb"^@(\d+) token=([0-9a-f]{32})\r\n$")


def rfc1078_client_succeeds(reply):
    """All an RFC 1078 client looks at: is the first byte "+"?"""
    return reply[:1] == b"+"


class RedirectCase(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.prog = self.script("svc.py", PROG)
        # Below the ephemeral range, so client ports do not get in the
        # way; random, so that parallel runs rarely share a range.
        self.lo = random.randrange(20000, 32000, 32)
        self.hi = self.lo + 15

    def conf(self, body):
        return "ports %d-%d\n%s" % (self.lo, self.hi, body)

    def dyn(self, name, mode, *args, opts=""):
        return ('service "%s" {\n\tcommand "%s" "%s"%s\n'
                '\tredirect %s\n%s}\n'
                % (name, self.prog, mode,
                   "".join(' "%s"' % a for a in args), mode, opts))

    def ask(self, d, line, src=None):
        return d.exchange(line + b"\r\n", src=src)

    def ask_port(self, d, name, src=None):
        reply = self.ask(d, name, src=src)
        m = DYN_RE.match(reply)
        self.assertIsNotNone(m, "reply %r" % reply)
        port = int(m.group(1))
        self.assertTrue(self.lo <= port <= self.hi, port)
        return port

    def ask_token(self, d, name, src=None):
        reply = self.ask(d, name, src=src)
        m = TOKEN_RE.match(reply)
        self.assertIsNotNone(m, "reply %r" % reply)
        port = int(m.group(1))
        self.assertTrue(self.lo <= port <= self.hi, port)
        return port, m.group(2)

    def call(self, port, line, host="127.0.0.1"):
        """What the program says to one connection sending line."""
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(IO_TIMEOUT)
            s.connect((host, port))
            s.sendall(line + b"\r\n")
            return recv_until_eof(s)

    def served(self, port, line=b"hello", host="127.0.0.1"):
        out = self.call(port, line, host=host)
        m = re.match(rb"^ok (\d+)\r\n(.*)\r\n$", out, re.S)
        self.assertIsNotNone(m, "program answered %r" % out)
        return int(m.group(1)), json.loads(m.group(2))

    def matching(self, d, pattern):
        return [l for l in d.log_lines() if re.search(pattern, l)]

    def started_pid(self, d, name, port, kind):
        m = d.wait_log(r"^%s: started pid (\d+) on port %d \(%s\)$"
                       % (name, port, kind))[0]
        return int(m.group(1))

    def wait_gone(self, d, name, pid, port, status):
        d.wait_log(r"^exit service=%s pid=%d status=%s " % (name, pid,
                                                             status))
        d.wait_log(r"^%s: port %d released$" % (name, port))
        poll_until(lambda: not alive(pid), what="pid %d gone" % pid)

    def assert_port_free(self, port, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(IO_TIMEOUT)
            with self.assertRaises(ConnectionRefusedError,
                                   msg="port %d still listens" % port):
                s.connect((host, port))
        # The program's side of its last connection may sit in
        # TIME_WAIT; the daemon binds with SO_REUSEADDR too.
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(1)


class Replies(RedirectCase):

    def test_exact_reply_bytes_and_log(self):
        d = self.start(config=self.conf(
            self.dyn("a", "shared") +
            self.dyn("t", "shared", "token", opts="\ttoken yes\n") +
            'service "c" { redirect to "example.net" port 8080 }\n'))
        s = self.sock(d)
        s.sendall(b"a\r\n")
        reply = recv_until_eof(s)
        self.assertRegex(reply, DYN_RE)
        port = int(DYN_RE.match(reply).group(1))
        self.assertEqual(reply, b"@%d\r\n" % port)
        d.wait_log(r"^conn peer=127\.0\.0\.1:%d service=a result=@%d "
                   r"pid=- dispatch=\d+\.\d{3}ms$"
                   % (s.getsockname()[1], port))
        tport, token = self.ask_token(d, b"t")
        self.assertNotEqual(tport, port)
        d.wait_log(r"^conn peer=\S+ service=t result=@%d pid=- " % tport)
        self.assertEqual(self.ask(d, b"c"), b"@8080 host=example.net\r\n")
        d.wait_log(r"^conn peer=\S+ service=c result=@8080 pid=- ")
        self.assertEqual(self.matching(d, r"^c: started "), [])
        # Bytes after the name change nothing; the name is caseless.
        self.assertEqual(d.exchange(b"A\r\nmore bytes"), b"@%d\r\n" % port)
        self.assertEqual(d.exchange(b"C\nmore"),
                         b"@8080 host=example.net\r\n")

    def test_rfc1078_client_sees_failure(self):
        d = self.start(config=self.conf(
            self.dyn("a", "shared") +
            self.dyn("b", "per-request", "token", opts="\ttoken yes\n") +
            'service "c" { redirect to "example.net" port 8080 }\n'))
        replies = [self.ask(d, n) for n in (b"a", b"b", b"c", b"?a", b"?c",
                                             b"?b", b"?nosuch")]
        for r in replies:
            self.assertFalse(rfc1078_client_succeeds(r), r)
        self.assertEqual([r[:1] for r in replies],
                         [b"@"] * 5 + [b"-"] * 2)

    def test_long_static_host_gets_a_whole_line(self):
        # A legal DNS name may be 253 bytes: the answer must still be one
        # whole line, or the configuration must be refused.
        host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
        self.assertEqual(len(host), 253)
        conf = os.path.join(self.tmp, "far.conf")
        with open(conf, "w") as f:
            f.write('service "far" { redirect to "%s" port 8080 }\n' % host)
        if run_daemon_n(["-n", "-l", "127.0.0.1:0", "-f", conf])[0] != 0:
            return      # refused: as good
        d = self.start(conffile=conf)
        self.assertEqual(self.ask(d, b"far"),
                         b"@8080 host=%s\r\n" % host.encode())

    def test_program_that_cannot_start(self):
        gone = self.script("gone", "")
        d = self.start(config=self.conf(
            'service "gone" {\n\tcommand "%s"\n'
            '\tredirect shared\n}\n'
            'service "gone2" {\n\tcommand "%s"\n'
            '\tredirect per-request\n}\n' % (gone, gone)))
        os.unlink(gone)
        before = listening_ports()
        self.assertEqual(self.ask(d, b"gone"), b"-cannot start service\r\n")
        self.assertEqual(self.ask(d, b"gone2"),
                         b"-cannot start service\r\n")
        self.assertEqual(self.ask(d, b"?gone"), b"-not running\r\n")
        d.wait_log(r"^conn peer=\S+ service=gone2 "
                   r"result=-cannot start service pid=- ")
        # A program that cannot be executed is refused before a port is
        # bound for it: nothing may stay bound.
        poll_until(lambda: not set(range(self.lo, self.hi + 1)) &
                   (listening_ports() - before), what="no port left bound")

    def test_no_free_port(self):
        # Range of one port, taken: by someone else, then by an instance.
        with socket.socket() as squat:
            squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squat.bind(("127.0.0.1", self.lo))
            squat.listen(1)
            self.hi = self.lo
            d = self.start(config=self.conf(self.dyn("b", "per-request")))
            self.assertEqual(self.ask(d, b"b"), b"-no free port\r\n")
        port = self.ask_port(d, b"b")
        self.assertEqual(port, self.lo)
        self.assertEqual(self.ask(d, b"b"), b"-no free port\r\n")
        self.served(port)
        self.wait_gone(d, "b", self.started_pid(d, "b", port,
                                                "per request"), port, 0)
        self.assertEqual(self.ask_port(d, b"b"), port)


class Shared(RedirectCase):

    def test_reused_then_stopped_when_idle(self):
        d = self.start(config=self.conf(self.dyn("a", "shared",
                                                 opts="\tidle 2\n")))
        port = self.ask_port(d, b"a")
        pid, info = self.served(port)
        self.assertEqual(self.started_pid(d, "a", port, "shared"), pid)
        self.assertEqual(info["addr"], ["127.0.0.1", port])
        # Idle time runs from the last redirect, not from the start:
        # this waits half of it on purpose.
        time.sleep(1.0)
        self.assertEqual(self.ask_port(d, b"a"), port)
        last = time.monotonic()
        self.assertEqual(self.served(port)[0], pid)
        self.assertEqual(self.served(port)[0], pid)
        self.assertEqual(len(self.matching(d, r"^a: started ")), 1)
        d.wait_log(r"^a: idle, stopping pid %d$" % pid, timeout=5)
        self.assertGreaterEqual(time.monotonic() - last, 1.95)
        self.wait_gone(d, "a", pid, port, "signal:%d" % signal.SIGTERM)
        self.assert_port_free(port)
        self.assertEqual(self.ask(d, b"?a"), b"-not running\r\n")
        # The next one starts afresh.
        port2 = self.ask_port(d, b"a")
        pid2 = self.served(port2)[0]
        self.assertNotEqual(pid2, pid)

    def test_instance_that_dies_is_replaced(self):
        d = self.start(config=self.conf(self.dyn("a", "shared")))
        port = self.ask_port(d, b"a")
        pid = self.served(port)[0]
        os.kill(pid, signal.SIGKILL)
        self.wait_gone(d, "a", pid, port, "signal:%d" % signal.SIGKILL)
        self.assert_port_free(port)
        self.assertEqual(self.ask(d, b"?a"), b"-not running\r\n")
        port2 = self.ask_port(d, b"a")
        self.assertNotEqual(self.served(port2)[0], pid)

    def test_on_every_listen_address(self):
        # The draft's 9.1: "@PORT" is on the address the client called,
        # whichever that was; started from one, it serves from all.
        d = self.start(config=self.conf(self.dyn("a", "shared")),
                       listen=("127.0.0.1:0", "[::1]:0", "127.0.0.3:0"))
        port = self.ask_port(d, b"a")
        self.assertEqual(d.exchange(b"a\r\n", index=1), b"@%d\r\n" % port)
        self.assertEqual(d.exchange(b"a\r\n", index=2), b"@%d\r\n" % port)
        pid = self.served(port, host="127.0.0.1")[0]
        self.assertEqual(self.served(port, host="::1")[0], pid)
        self.assertEqual(self.served(port, host="127.0.0.3")[0], pid)
        self.assertEqual(len(self.matching(d, r"^a: started ")), 1)
        # Not where oneportd does not listen: nothing answers there.
        with socket.socket() as s:
            s.settimeout(1.0)
            with self.assertRaises(OSError):
                s.connect(("127.0.0.2", port))
                s.sendall(b"hello\r\n")
                if not recv_until_eof(s, timeout=1.0):
                    raise ConnectionResetError
        self.assertEqual(self.served(port)[0], pid)

    def test_wildcard_listener(self):
        # Listening on 0.0.0.0, every address is a listen address.
        d = self.start(config=self.conf(self.dyn("a", "shared")),
                       listen=("0.0.0.0:0",))
        with socket.create_connection(("127.0.0.5", d.port),
                                      IO_TIMEOUT) as s:
            s.sendall(b"a\r\n")
            port = int(DYN_RE.match(recv_until_eof(s)).group(1))
        pid, info = self.served(port, host="127.0.0.5")
        self.assertEqual(info["addr"], ["0.0.0.0", port])
        self.assertEqual(self.served(port, host="127.0.0.1")[0], pid)
        self.assertEqual(self.ask_port(d, b"a"), port)
        self.assertEqual(len(self.matching(d, r"^a: started ")), 1)

    def test_program_that_closed_its_socket(self):
        # It lives on, listening nowhere: an answer naming its port would
        # be a lie. 12 clients over a few seconds: each is served.
        d = self.start(config=self.conf(self.dyn("a", "shared", "closes")))
        port = self.ask_port(d, b"a")
        pid = self.served(port)[0]
        d.wait_log(r"^a\[%d\]: closed its socket$" % pid)
        pids = set()
        for i in range(12):
            p = self.ask_port(d, b"a")
            self.assertNotEqual(p, port)
            pids.add(self.served(p)[0])
            port = p
            time.sleep(0.25)
        self.assertNotIn(pid, pids)
        d.wait_log(r"^a: pid %d no longer listens: no more clients for it$"
                   % pid)
        d.wait_log(r"^a: retired, stopping pid %d$" % pid)

    def test_answers_alone_do_not_keep_it(self):
        # Asked often, called never: stopped idle after it was last used
        # (here, started), with the last one asked given time to call.
        d = self.start(config=self.conf(self.dyn("a", "shared",
                                                 opts="\tidle 2\n")))
        port = self.ask_port(d, b"a")
        pid = self.started_pid(d, "a", port, "shared")
        for _ in range(8):
            if self.matching(d, r"^a: idle, stopping pid %d$" % pid):
                break
            self.ask(d, b"a")
            time.sleep(1.5)     # less than idle: each answer would renew
        else:
            self.fail("still running, asked every 1.5 s for 12 s")
        self.wait_gone(d, "a", pid, port, "signal:%d" % signal.SIGTERM)

    def test_ipv6(self):
        d = self.start(config=self.conf(self.dyn("a", "shared")),
                       listen=("[::1]:0",))
        port = self.ask_port(d, b"a")
        pid, info = self.served(port, host="::1")
        self.assertEqual(info["addr"], ["::1", port])


class PerRequest(RedirectCase):

    def test_each_request_its_own_instance_and_port(self):
        d = self.start(config=self.conf(self.dyn("b", "per-request")))
        ports = [self.ask_port(d, b"b") for _ in range(3)]
        self.assertEqual(len(set(ports)), 3, ports)
        pids = [self.started_pid(d, "b", p, "per request") for p in ports]
        self.assertEqual(len(set(pids)), 3, pids)
        for port, pid in zip(ports, pids):
            self.assertEqual(self.served(port)[0], pid)
        for port, pid in zip(ports, pids):
            self.wait_gone(d, "b", pid, port, 0)
            self.assert_port_free(port)

    def test_caps(self):
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", opts="\tmax instances 2\n"
            "\tmax per-address 1\n")))
        p1 = self.ask_port(d, b"b", src="127.0.0.2")
        self.assertEqual(self.ask(d, b"b", src="127.0.0.2"),
                         b"-too many instances for your address\r\n")
        p2 = self.ask_port(d, b"b", src="127.0.0.3")
        self.assertNotEqual(p1, p2)
        self.assertEqual(self.ask(d, b"b", src="127.0.0.4"),
                         b"-service busy\r\n")
        d.wait_log(r"^conn peer=127\.0\.0\.4:\d+ service=b "
                   r"result=-service busy pid=- ")
        d.wait_log(r"^conn peer=127\.0\.0\.2:\d+ service=b "
                   r"result=-too many instances for your address pid=- ")
        self.assertEqual(len(self.matching(d, r"^b: started ")), 2)
        # One ends: its address and a newcomer may ask again.
        pid1 = self.served(p1)[0]
        self.wait_gone(d, "b", pid1, p1, 0)
        p3 = self.ask_port(d, b"b", src="127.0.0.4")
        self.assertEqual(self.ask(d, b"b", src="127.0.0.2"),
                         b"-service busy\r\n")
        for p in (p2, p3):
            self.served(p)

    def test_bound_on_the_address_called(self):
        # One client's program: on the address that client called only.
        d = self.start(config=self.conf(self.dyn("b", "per-request")),
                       listen=("0.0.0.0:0",))
        with socket.create_connection(("127.0.0.5", d.port),
                                      IO_TIMEOUT) as s:
            s.sendall(b"b\r\n")
            port = int(DYN_RE.match(recv_until_eof(s)).group(1))
        with socket.socket() as s:
            s.settimeout(IO_TIMEOUT)
            with self.assertRaises(ConnectionRefusedError):
                s.connect(("127.0.0.1", port))
        pid, info = self.served(port, host="127.0.0.5")
        self.assertEqual(info["addr"], ["127.0.0.5", port])

    def test_programs_that_never_accept_are_stopped(self):
        # 20 programs that listen and never accept, each called: they
        # would hold every instance the service may have for good.
        self.hi = self.lo + 31
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", "deaf", opts="\tmax instances 20\n"
            "\tidle 1\n")))
        held = []
        for i in range(20):
            port = self.ask_port(d, b"b")
            s = socket.create_connection(("127.0.0.1", port), IO_TIMEOUT)
            self.addCleanup(s.close)
            held.append(s)
        self.assertEqual(self.ask(d, b"b"), b"-service busy\r\n")
        d.wait_log(r"^b: no connection accepted, stopping pid \d+$",
                   count=20, timeout=10)
        port = self.ask_port(d, b"b")
        d.wait_log(r"^b: started pid \d+ on port %d " % port)

    def test_unused_token_program_stopped_when_its_token_dies(self):
        # Its token is dead 30 s after it was given: with no one served
        # by then, the program is stopped, however long idle is.
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", "token", opts="\ttoken yes\n"
            "\tidle 600\n")))
        port, _ = self.ask_token(d, b"b")
        pid = self.started_pid(d, "b", port, "per request")
        d.wait_log(r"^b: no connection accepted, stopping pid %d$" % pid,
                   timeout=40)
        self.wait_gone(d, "b", pid, port, "signal:%d" % signal.SIGTERM)

    def test_program_that_serves_is_not_stopped(self):
        # Its client's connection open, a program is in use however long.
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", opts="\tidle 1\n")))
        port = self.ask_port(d, b"b")
        pid = self.started_pid(d, "b", port, "per request")
        d.wait_log(r"^b\[%d\]: ready " % pid)
        s = socket.create_connection(("127.0.0.1", port), IO_TIMEOUT)
        self.addCleanup(s.close)
        # Two of its idle periods, and more, pass with the call open.
        port2 = self.ask_port(d, b"b")
        pid2 = self.started_pid(d, "b", port2, "per request")
        d.wait_log(r"^b: no connection accepted, stopping pid %d$" % pid2,
                   timeout=10)
        time.sleep(1.0)
        self.assertTrue(alive(pid))
        self.assertEqual(self.matching(d, r"stopping pid %d$" % pid), [])
        s.sendall(b"hello\r\n")
        self.assertRegex(recv_until_eof(s), rb"^ok %d\r\n" % pid)

    def test_port_free_after_program_exits(self):
        d = self.start(config=self.conf(self.dyn("b", "per-request")))
        port = self.ask_port(d, b"b")
        pid = self.started_pid(d, "b", port, "per request")
        self.assertIn(port, listening_ports())
        self.assertEqual(self.served(port)[0], pid)
        self.wait_gone(d, "b", pid, port, 0)
        self.assert_port_free(port)


class Tokens(RedirectCase):

    def test_per_request_token(self):
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", "token", opts="\ttoken yes\n")))
        p1, t1 = self.ask_token(d, b"b")
        p2, t2 = self.ask_token(d, b"b")
        self.assertNotEqual(t1, t2)
        # Missing, wrong, the other instance's: refused by the program.
        self.assertEqual(self.call(p1, b""), b"")
        self.assertEqual(self.call(p1, b"0" * 32), b"")
        self.assertEqual(self.call(p1, t2), b"")
        self.assertEqual(self.call(p2, t1), b"")
        pid1, info = self.served(p1, t1)
        self.assertEqual(info["env"].get("ONEPORT_TOKEN"), t1.decode())
        self.served(p2, t2)

    def test_per_request_token_replayed(self):
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", "token", "linger", opts="\ttoken yes\n")))
        port, token = self.ask_token(d, b"b")
        pid = self.served(port, token)[0]
        self.assertEqual(self.call(port, token), b"")
        d.wait_log(r"^b\[%d\]: refused " % pid)
        self.wait_gone(d, "b", pid, port, 0)

    def test_shared_tokens(self):
        d = self.start(config=self.conf(self.dyn(
            "a", "shared", "token", opts="\ttoken yes\n")))
        port, t1 = self.ask_token(d, b"a")
        port2, t2 = self.ask_token(d, b"a")
        self.assertEqual(port2, port)
        self.assertNotEqual(t1, t2)
        # A query says where, with no token to use.
        self.assertEqual(self.ask(d, b"?a"), b"@%d\r\n" % port)
        self.assertEqual(self.call(port, b""), b"")
        self.assertEqual(self.call(port, b"f" * 32), b"")
        pid = self.served(port, t2)[0]
        self.assertEqual(self.served(port, t1)[0], pid)
        # Each once.
        self.assertEqual(self.call(port, t1), b"")
        self.assertEqual(self.call(port, t2), b"")
        port3, t3 = self.ask_token(d, b"a")
        self.assertEqual(port3, port)
        self.assertEqual(self.served(port, t3)[0], pid)
        self.assertEqual(len(self.matching(d, r"^a: started ")), 1)


    def test_a_pipe_that_takes_no_token_locks_no_one_out(self):
        # A token that cannot be written (the pipe is full, or here
        # closed): a new program takes the client, not "-service busy".
        d = self.start(config=self.conf(self.dyn(
            "a", "shared", "token", "nopipe", opts="\ttoken yes\n")))
        port, _ = self.ask_token(d, b"a")
        pid = self.started_pid(d, "a", port, "shared")
        d.wait_log(r"^a\[%d\]: ready " % pid)
        port2, _ = self.ask_token(d, b"a")
        self.assertNotEqual(port2, port)
        d.wait_log(r"^a: pid %d reads no tokens: no more clients for it$"
                   % pid)
        d.wait_log(r"^a: retired, stopping pid %d$" % pid)

    def test_the_line_says_when(self):
        # oneportd writes "TOKEN EXPIRES", 30 s from the answer.
        d = self.start(config=self.conf(self.dyn(
            "a", "shared", "token", opts="\ttoken yes\n")))
        before = now_ms()
        port, token = self.ask_token(d, b"a")
        after = now_ms()
        lines = self.served(port, token)[1]["lines"]
        self.assertEqual(len(lines), 1, lines)
        tok, expires = lines[0].split(" ")
        self.assertEqual(tok, token.decode())
        self.assertTrue(before + 30000 <= int(expires) <= after + 30000,
                        (before, expires, after))


class Queries(RedirectCase):

    def test_queries_start_nothing(self):
        d = self.start("-s", "cli=/bin/true", config=self.conf(
            self.dyn("a", "shared", "token", opts="\ttoken yes\n") +
            self.dyn("b", "per-request") +
            'service "c" { redirect to "example.net" port 8080 }\n'
            'service "sp" {\n\tcommand "/bin/true"\n}\n'
            'service "pass" {\n\tsocket "%s"\n}\n'
            % os.path.join(self.tmp, "pass.sock")))
        d.frontend_pid()
        kids = set(children_of(d.pid))
        ports = listening_ports()
        want = [
            (b"?a", b"-not running\r\n"),
            (b"?b", b"-not running\r\n"),
            (b"?c", b"@8080 host=example.net\r\n"),
            (b"?C", b"@8080 host=example.net\r\n"),
            (b"?sp", b"-not redirectable\r\n"),
            (b"?cli", b"-not redirectable\r\n"),
            (b"?pass", b"-not redirectable\r\n"),
            (b"?nosuch", b"-unknown service\r\n"),
            (b"?help", b"-bad name\r\n"),
            (b"??x", b"-bad name\r\n"),
        ]
        got = [(q, self.ask(d, q)) for q, _ in want]
        self.assertEqual(got, want)
        d.wait_log(r"^conn peer=\S+ service=a result=-not running pid=- ")
        d.wait_log(r"^conn peer=\S+ service=sp "
                   r"result=-not redirectable pid=- ")
        self.accepted(d)
        self.assertEqual(set(children_of(d.pid)), kids)
        # Only this daemon's range: other programs on the machine may
        # start listening meanwhile.
        self.assertEqual((listening_ports() - ports) &
                         set(range(self.lo, self.hi + 1)), set())
        self.assertEqual(self.matching(d, r": started pid "), [])
        self.assertEqual(d.exit_lines(), [])

    def test_query_of_a_running_instance(self):
        d = self.start(config=self.conf(self.dyn("a", "shared")))
        port = self.ask_port(d, b"a")
        pid = self.served(port)[0]
        kids = set(children_of(d.pid))
        for _ in range(3):
            self.assertEqual(self.ask(d, b"?a"), b"@%d\r\n" % port)
        d.wait_log(r"^conn peer=\S+ service=a result=@%d pid=- " % port,
                   count=4)
        self.assertEqual(set(children_of(d.pid)), kids)
        self.assertEqual(len(self.matching(d, r"^a: started ")), 1)
        self.assertEqual(self.served(port)[0], pid)


class Environment(RedirectCase):

    def check(self, info, pid, name, extra):
        env = dict(info["env"])
        self.assertTrue(env.pop("PATH", ""), "no PATH")
        want = {"LISTEN_FDS": "1", "LISTEN_PID": str(pid),
                "LISTEN_FDNAMES": "oneport", "ONEPORT_SERVICE": name}
        want.update(extra)
        self.assertEqual(env, want)
        fds = info["fds"]
        self.assertEqual(fds.get("0"), "/dev/null")
        self.assertRegex(fds.get("1", ""), r"^pipe:\[\d+\]$")
        self.assertEqual(fds.get("1"), fds.get("2"))
        self.assertRegex(fds.get("3", ""), r"^socket:\[\d+\]$")
        want_fds = {"0", "1", "2", "3"}
        if "ONEPORT_TOKEN_FD" in extra:
            self.assertRegex(fds.get("4", ""), r"^pipe:\[\d+\]$")
            self.assertNotEqual(fds["4"], fds["1"])
            want_fds.add("4")
        self.assertEqual(set(fds), want_fds, fds)

    def test_shared(self):
        d = self.start(config=self.conf(self.dyn("Web-1", "shared")))
        port = self.ask_port(d, b"WEB-1")
        pid, info = self.served(port)
        self.check(info, pid, "web-1", {})
        if IS_ROOT:
            self.assertEqual(proc_status(pid)["Uid"].split(),
                             ["65534"] * 4)

    def test_shared_with_token(self):
        d = self.start(config=self.conf(self.dyn(
            "a", "shared", "token", opts="\ttoken yes\n")))
        port, token = self.ask_token(d, b"a")
        pid, info = self.served(port, token)
        self.check(info, pid, "a", {"ONEPORT_TOKEN_FD": "4"})

    def test_per_request(self):
        # No token configured: no ONEPORT_TOKEN at all, not an empty one.
        d = self.start(config=self.conf(self.dyn("b", "per-request")))
        port = self.ask_port(d, b"b")
        pid, info = self.served(port)
        self.check(info, pid, "b", {})

    def test_per_request_with_token(self):
        d = self.start(config=self.conf(self.dyn(
            "b", "per-request", "token", opts="\ttoken yes\n")))
        port, token = self.ask_token(d, b"b")
        pid, info = self.served(port, token)
        self.check(info, pid, "b", {"ONEPORT_TOKEN": token.decode()})

    def test_descriptors_are_blocking(self):
        # Socket activation passes blocking descriptors (systemd's
        # NonBlocking= defaults to off); a program reading its token pipe
        # in a loop must not get EAGAIN.
        d = self.start(config=self.conf(self.dyn(
            "a", "shared", "token", opts="\ttoken yes\n")))
        port, token = self.ask_token(d, b"a")
        pid, info = self.served(port, token)
        self.assertEqual(info["nonblock"], {"3": False, "4": False})


class Stopping(RedirectCase):

    def test_daemon_stop_stops_instances(self):
        d = self.start(config=self.conf(
            self.dyn("a", "shared") + self.dyn("b", "per-request")))
        pa = self.ask_port(d, b"a")
        pida = self.served(pa)[0]
        pb = self.ask_port(d, b"b")
        pidb = self.started_pid(d, "b", pb, "per request")
        d.wait_log(r"^b\[%d\]: ready " % pidb)
        self.assertTrue(alive(pida) and alive(pidb))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        # Whether their exit is logged depends on who is first: the
        # daemon reaps until its frontend is gone, then leaves.
        poll_until(lambda: not alive(pida) and not alive(pidb),
                   what="instances gone")
        for port in (pa, pb):
            self.assert_port_free(port)


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = f.read().split()
    return int(lo), int(hi)


class Ports(RedirectCase):

    def test_default_range_is_not_ephemeral(self):
        # Linux's default ephemeral ports are 32768-60999: the default
        # range starts above them.
        d = self.start(config=self.dyn("b", "per-request"))
        for _ in range(3):
            port = int(DYN_RE.match(self.ask(d, b"b")).group(1))
            self.assertTrue(61000 <= port <= 65535, port)
        lo, hi = ephemeral_range()
        if hi < 61000:
            self.assertEqual(self.matching(d, r"ephemeral"), [])

    def test_overlap_is_reported(self):
        lo, hi = ephemeral_range()
        d = self.start(config="ports %d-%d\n%s"
                       % (lo, lo + 15, self.dyn("a", "shared")))
        d.wait_log(r"^ports %d-%d overlap the ephemeral ports %d-%d "
                   r"\(net\.ipv4\.ip_local_port_range\)" % (lo, lo + 15,
                                                           lo, hi))
        # Not for a range that does not meet it, nor without a program.
        d2 = self.start(config=self.conf(self.dyn("a", "shared")))
        d3 = self.start(config="ports %d-%d\n" % (lo, lo + 15) +
                        'service "c" { redirect to "example.net" '
                        'port 8080 }\n')
        for x in (d2, d3):
            x.stop()
            self.assertEqual(self.matching(x, r"ephemeral"), [])


TOKEN_SERVICE = os.path.join(os.path.dirname(DAEMON), "token-service")


def now_ms():
    """CLOCK_MONOTONIC in milliseconds: the clock of the token lines."""
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)


class LibraryTokens(RedirectCase):
    """A shared program that checks tokens with liboneport's
    oneport_token_check (tests/client/token_service.c), which reads the
    pipe only when a client comes: tokens wait there unread."""

    def setUp(self):
        super().setUp()
        if not os.access(TOKEN_SERVICE, os.X_OK):
            self.skipTest("no %s" % TOKEN_SERVICE)

    def daemon(self):
        return self.start(config=self.conf(
            'service "t" {\n\tcommand "%s"\n\tredirect shared\n'
            '\ttoken yes\n}\n' % TOKEN_SERVICE))

    def call_ts(self, port, token):
        """What the program answers a client sending its token and ping:
        ping back once the token is good, nothing if it is not."""
        with socket.create_connection(("127.0.0.1", port), IO_TIMEOUT) as s:
            try:
                s.sendall(token + b"\r\nping\n")
                s.shutdown(socket.SHUT_WR)
            except OSError:
                return b""  # refused and closed before the ping
            return recv_until_eof(s)

    def test_waiting_token_outlives_others(self):
        # A client slow to call keeps its token while 70 others are given
        # (the library once kept the last 64 only); 64 unused tokens is
        # also all one address may hold.
        d = self.daemon()
        port, first = self.ask_token(d, b"t")
        for i in range(64):
            self.assertEqual(self.ask_token(d, b"t", src="127.0.0.2")[0],
                             port)
        self.assertEqual(self.ask(d, b"t", src="127.0.0.2"),
                         b"-too many tokens for your address\r\n")
        for i in range(6):
            self.assertEqual(self.ask_token(d, b"t", src="127.0.0.3")[0],
                             port)
        self.assertEqual(self.call_ts(port, first), b"ping\n")
        self.assertEqual(self.call_ts(port, first), b"")

    def test_tokens_never_used_lock_no_one_out(self):
        # 2,000 answers whose clients never call: once, the pipe was full
        # after 1,985 and everyone was told "-service busy".
        d = self.daemon()
        port, _ = self.ask_token(d, b"t")
        for i in range(2000):
            self.assertEqual(self.ask_token(
                d, b"t", src="127.0.1.%d" % (1 + i % 40))[0], port)
        p, token = self.ask_token(d, b"t")
        self.assertEqual(p, port)
        self.assertEqual(self.call_ts(port, token), b"ping\n")
        self.assertEqual(len(self.matching(d, r"^t: started ")), 1)

    def run_program(self, lines):
        """The token service on its own, with lines already on its pipe."""
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        r, w = os.pipe()
        os.write(w, b"".join(lines))
        # bash, not sh: dash takes single-digit descriptors only, and in
        # a long run of tests these are often 10 or more ("Bad fd number",
        # exit 2, and the client waited for a program that was gone).
        p = subprocess.Popen(
            ["/bin/bash", "-c", 'exec "$0" 3<&%d 4<&%d' % (ls.fileno(), r),
             TOKEN_SERVICE], pass_fds=(ls.fileno(), r),
            env={"LISTEN_FDS": "1", "ONEPORT_TOKEN_FD": "4"},
            stderr=subprocess.DEVNULL)
        os.close(r)
        self.addCleanup(os.close, w)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        return ls.getsockname()[1]

    def test_life_counts_from_issue(self):
        # The line says when the token expires: read late, a token past
        # that is refused, however fresh it is to the program.
        now = now_ms()
        old, new, bare = b"a" * 32, b"b" * 32, b"c" * 32
        port = self.run_program([old + b" %d\n" % (now - 1),
                                 new + b" %d\n" % (now + 20000),
                                 bare + b"\n"])
        self.assertEqual(self.call_ts(port, old), b"")
        self.assertEqual(self.call_ts(port, new), b"ping\n")
        self.assertEqual(self.call_ts(port, bare), b"ping\n")
        self.assertEqual(self.call_ts(port, new), b"")
