# SPDX-License-Identifier: ISC
"""
Pass services: the daemon hands the live client socket to a service that
is already running (a socket of its own, one the daemon supervises, or a
name registered on the control socket). Bytes both ways are the service's
alone and exact; the service sees who called; each way a hand-off can
fail gives its own "-reason", costs no descriptor, and never the daemon.
"""
import hashlib
import os
import re
import resource
import select
import signal
import socket
import subprocess
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import (DAEMON, IO_TIMEOUT, IS_ROOT, REPO, SANITIZER_MARKS,
                     DaemonTestCase, alive, count_fds, poll_until,
                     proc_status, recv_exact, recv_until, recv_until_eof)

# The example service built next to the daemon under test (build/ or
# build-san/), so that the library is checked with the same sanitizers.
ECHO = os.path.join(os.path.dirname(os.path.realpath(DAEMON)),
                    "echo-service")
if not os.access(ECHO, os.X_OK):
    ECHO = os.path.join(REPO, "build", "echo-service")

NOBODY = 65534

# A service that misbehaves on purpose, speaking the hand-off protocol of
# lib/wire.h by hand. argv: MODE PATH [ARG] [--uid N] [--register NAME]
# (then PATH is the control socket). It says "ready" on stdout once it
# listens (or is registered) and one line for each thing it does.
#   refuse REASON  ACK status 1 with REASON to every HANDOFF
#   noack          reads every HANDOFF, never answers
#   late           ACKs the first HANDOFF after 2.4 s; refuses later ones
#                  with "go=N", N the GO messages it was sent
#   die            exits on the first HANDOFF
#   drop           closes the channel on each HANDOFF, keeps listening
#   garbage        answers a HANDOFF with bytes that are no message
#   fdack          answers a HANDOFF with an ACK that carries a descriptor
#   deaf           exits, reading nothing, once a HANDOFF is waiting
#   legacy         as a service of before ACCEPT: ACK status 0, then
#                  writes "legacy" once the GO has come
#   slowtake       takes the client's lock at once, ACCEPTs 2.6 s later,
#                  then writes "+" and "slow but mine"
#   lateaccept     after 2.4 s, locks, ACCEPTs and tries to write "+";
#                  says "plus refused" when the socket will not take it
#   stall SECS     reads nothing for SECS after taking its channel, then
#                  refuses every HANDOFF with "read late"
FAKE = r'''#!/usr/bin/python3
import array, fcntl, os, select, socket, struct, sys, time

args = sys.argv[1:]
uid = reg = None
if "--uid" in args:
    i = args.index("--uid"); uid = int(args[i + 1]); del args[i:i + 2]
if "--register" in args:
    i = args.index("--register"); reg = args[i + 1]; del args[i:i + 2]
mode, path = args[0], args[1]
arg = args[2] if len(args) > 2 else ""

def say(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()

def msg(typ, mid, body=b""):
    return struct.pack(">2sBBII", b"OP", 1, typ, mid, len(body)) + body

def status(typ, mid, st, reason):
    r = reason.encode()
    return msg(typ, mid, bytes([st, len(r)]) + r)

if uid is not None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
chans = []
ls = None
if reg is not None:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(path)
    c.send(msg(4, 0, bytes([len(reg)]) + reg.encode()))
    ans = c.recv(4096)
    if len(ans) < 14 or ans[3] != 5 or ans[12] != 0:
        say("refused %r" % ans)
        sys.exit(1)
    chans.append(c)
else:
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    ls.listen(64)
say("ready")

gos = 0
late_done = False
while True:
    r, _, _ = select.select(([ls] if ls else []) + chans, [], [])
    for s in r:
        if s is ls:
            c, _ = ls.accept()
            chans.append(c)
            if mode == "stall" and not late_done:
                late_done = True
                say("stalling")
                time.sleep(float(arg))
            continue
        if mode == "deaf":
            say("exiting unread")
            os._exit(0)
        fds = array.array("i")
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16))
        except OSError:
            data, anc = b"", []
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % 4])
        if not data:
            chans.remove(s)
            s.close()
            if reg is not None:
                sys.exit(0)
            continue
        typ, mid = data[3], struct.unpack(">I", data[4:8])[0]
        if typ == 3:
            gos += 1
            say("go %d" % mid)
            continue
        say("handoff %d fds=%d" % (mid, len(fds)))
        if mode == "die":
            os._exit(0)
        if mode in ("legacy", "slowtake", "lateaccept") and fds:
            cfd = fds.pop(0)
            if mode == "legacy":
                s.send(status(2, mid, 0, ""))
                go = s.recv(4096)
                say("go %d" % struct.unpack(">I", go[4:8])[0])
                os.write(cfd, b"legacy")
            else:
                if mode == "lateaccept":
                    time.sleep(2.4)
                fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                say("locked")
                if mode == "slowtake":
                    time.sleep(2.6)
                s.send(msg(7, mid))
                try:
                    os.write(cfd, b"+\r\n" + (b"slow but mine"
                             if mode == "slowtake" else b""))
                except OSError:
                    say("plus refused")
            os.close(cfd)
        for fd in fds:
            os.close(fd)
        if mode == "refuse":
            s.send(status(2, mid, 1, arg))
        elif mode == "stall":
            s.send(status(2, mid, 1, "read late"))
        elif mode == "late" and not late_done:
            late_done = True
            time.sleep(2.4)
            s.send(status(2, mid, 0, ""))
            say("late-acked")
        elif mode == "late":
            s.send(status(2, mid, 1, "go=%d" % gos))
        elif mode == "drop":
            chans.remove(s)
            s.close()
        elif mode == "garbage":
            s.send(b"XX" + status(2, mid, 0, "")[2:])
        elif mode == "fdack":
            s.sendmsg([status(2, mid, 0, "")], [(socket.SOL_SOCKET,
                      socket.SCM_RIGHTS, array.array("i", [0]))])
'''


class Lines:
    """A child's stdout, line by line, pumped by a thread; waits are
    bounded polls like the daemon's log."""

    def __init__(self, stream):
        self.lines = []
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(stream,),
                                       daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for raw in iter(stream.readline, b""):
            with self.cv:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.cv.notify_all()

    def wait(self, pattern, timeout=IO_TIMEOUT):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for l in self.lines:
                    if l is not None and rx.search(l):
                        return rx.search(l)
                if None in self.lines:
                    raise AssertionError("ended without %r: %r"
                                         % (pattern, self.lines))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r within %.1fs: %r"
                                         % (pattern, timeout, self.lines))
                self.cv.wait(left)


def send_and_read(sock, payload, timeout=20.0):
    """Sends payload (then EOF) from a thread while reading everything
    the peer sends until EOF: neither side can block the other."""
    err = []

    def sender():
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        r, _, _ = select.select([sock], [], [], max(0.0, left))
        if not r:
            raise AssertionError("no EOF within %.1fs; got %d bytes"
                                 % (timeout, sum(map(len, chunks))))
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    t.join(timeout)
    if err:
        raise err[0]
    return b"".join(chunks)


def listening(path):
    """Is a unix socket listening at path? (/proc/net/unix: flag
    __SO_ACCEPTCON, 0x10000.) Looks without connecting."""
    with open("/proc/net/unix") as f:
        for row in f.read().splitlines()[1:]:
            cols = row.split()
            if len(cols) >= 8 and cols[7] == path and \
                    int(cols[3], 16) & 0x10000:
                return True
    return False


def peer_text(sockname):
    host, port = sockname[:2]
    return ("[%s]:%d" % (host, port) if ":" in host
            else "%s:%d" % (host, port)).encode()


class PassCase(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.fake_prog = self.script("fake.py", FAKE)
        self.ctl = os.path.join(self.tmp, "ctl.sock")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def _reap(self, p, out):
        if p.poll() is None:
            p.kill()
        p.wait(5)
        if p.stdout is not None:
            # Its pump reads until the pipe ends, which it now has.
            p.out.thread.join(5)
            p.stdout.close()
        if out is not None:
            out.close()
            with open(out.name, errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKS):
                self.fail("sanitizer report from %s:\n%s"
                          % (p.args, text))

    def echo(self, *args, env=None, uid=None, wait_path=None):
        """build/echo-service ARGS, stderr to a file checked at cleanup;
        returns once it listens at wait_path (when given)."""
        e = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            e.pop(k, None)
        e.update(env or {})
        self.nechos = getattr(self, "nechos", 0) + 1
        out = open(self.path("echo-%d.err" % self.nechos), "w+")
        pre = None
        if uid is not None:
            def pre():
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
        p = subprocess.Popen([ECHO] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=out, env=e,
                             preexec_fn=pre)
        p.errpath = out.name
        self.addCleanup(self._reap, p, out)
        if wait_path is not None:
            poll_until(lambda: listening(wait_path) or
                       p.poll() is not None, what="echo-service ready")
            self.assertIsNone(p.poll(), "echo-service exited")
        return p

    @staticmethod
    def stderr_of(p):
        with open(p.errpath, errors="replace") as f:
            return f.read()

    def registrant(self, name, uid=None, tell_peer=True):
        return self.echo(*(["-e"] if tell_peer else []), "-r", name,
                         env={"ONEPORT_CONTROL": self.ctl}, uid=uid)

    def fake(self, mode, path, arg=None, uid=None, register=None):
        argv = ["/usr/bin/python3", self.fake_prog, mode, path]
        if arg is not None:
            argv.append(arg)
        if uid is not None:
            argv += ["--uid", str(uid)]
        if register is not None:
            argv += ["--register", register]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE)
        p.out = Lines(p.stdout)
        self.addCleanup(self._reap, p, None)
        p.out.wait(r"^ready$")
        return p

    def nobody_dir(self):
        """A directory uid 65534 may make its socket in."""
        d = self.path("nobody")
        os.mkdir(d)
        os.chown(d, NOBODY, NOBODY)
        os.chmod(d, 0o755)
        return d

    def ask(self, d, line, **kw):
        return d.exchange(line + b"\r\n", **kw)

    def help(self, d):
        return self.ask(d, b"help").split(b"\r\n")[:-1]

    def conn_line(self, d, service, result):
        return d.wait_log(r"^conn peer=\S+ service=%s result=%s pid=- "
                          % (re.escape(service), re.escape(result)))

    def started(self, d, name, count=1, timeout=IO_TIMEOUT):
        ms = d.wait_log(r"^%s: started pid (\d+) on (\S+)$" % name,
                        count=count, timeout=timeout)
        return int(ms[-1].group(1))


class PassThrough(PassCase):

    def big_session(self, d, name, peer_line):
        s = self.sock(d)
        s.settimeout(20)
        s.sendall(name + b"\r\n")
        self.assertEqual(recv_exact(s, 3), b"+\r\n")
        payload = os.urandom(1 << 20)
        got = send_and_read(s, payload)
        head = b""
        if peer_line:
            head = b"peer=%s service=%s\r\n" % (peer_text(s.getsockname()),
                                                 name)
        self.assertEqual(got[:len(head)], head)
        body = got[len(head):]
        self.assertEqual(len(body), len(payload))
        self.assertEqual(hashlib.sha256(body).hexdigest(),
                         hashlib.sha256(payload).hexdigest())

    def test_one_mib_each_way_byte_exact(self):
        own, sup = self.path("own.sock"), self.path("sup.sock")
        self.echo(own, wait_path=own)
        d = self.start(config="""
control "%s"
register "dyn-*" user root
service "own" { socket "%s" }
service "sup" { socket "%s"; command "%s" "-e" }
""" % (self.ctl, own, sup, ECHO))
        self.started(d, "sup")
        self.registrant("dyn-big")
        d.wait_log(r"^registered dyn-big \(uid 0\)$")
        poll_until(lambda: self.ask(d, b"?dyn-big") ==
                   b"-not redirectable\r\n", what="frontend knows dyn-big")
        self.big_session(d, b"own", False)
        self.big_session(d, b"sup", True)
        self.big_session(d, b"dyn-big", True)
        for name in ("own", "sup", "dyn-big"):
            self.conn_line(d, name, "+")

    def test_pipelined_bytes_come_first_and_intact(self):
        own = self.path("own.sock")
        self.echo("-e", own, wait_path=own)
        d = self.start(config='service "own" { socket "%s" }\n' % own)
        # Every byte value, CR LF and lines that look like requests, in
        # the same segment as the name.
        tail = (bytes(range(256)) * 16 + b"\r\nhelp\r\nown\r\n\n\r" +
                os.urandom(4096))
        s = self.sock(d)
        s.sendall(b"OWN\r\n" + tail)
        s.shutdown(socket.SHUT_WR)
        got = recv_until_eof(s)
        self.assertEqual(got, b"+\r\npeer=%s service=own\r\n"
                         % peer_text(s.getsockname()) + tail)
        # A bare LF ends the name as well, and one byte after it is kept.
        s = self.sock(d)
        s.sendall(b"own\nx")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"+\r\npeer=%s service=own\r\nx"
                         % peer_text(s.getsockname()))

    def test_greeting_goes_with_the_plus(self):
        own = self.path("own.sock")
        p = self.echo("-g", "220 ready", own, wait_path=own)
        d = self.start(config='service "own" { socket "%s" }\n' % own)
        s = self.sock(d)
        s.sendall(b"own\r\n")
        # One write of the service's: one segment, read at once whole.
        select.select([s], [], [], IO_TIMEOUT)
        self.assertEqual(s.recv(64), b"+\r\n220 ready\r\n")
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"ping")
        self.conn_line(d, "own", "+")
        # Gone, the service says nothing: the daemon's "-" alone.
        p.kill()
        p.wait(5)
        poll_until(lambda: not listening(own), what="echo-service gone")
        self.assertEqual(self.ask(d, b"own"), b"-service unavailable\r\n")

    def test_service_sees_client_address(self):
        own, sup = self.path("own.sock"), self.path("sup.sock")
        self.echo("-e", own, wait_path=own)
        d = self.start(config="""
control "%s"
register "dyn-*" user root
service "own" { socket "%s" }
service "sup" { socket "%s"; command "%s" "-e" }
""" % (self.ctl, own, sup, ECHO), listen=("127.0.0.1:0", "[::1]:0"))
        self.started(d, "sup")
        self.registrant("dyn-addr")
        d.wait_log(r"^registered dyn-addr \(uid 0\)$")
        poll_until(lambda: b"dyn-addr" in self.help(d),
                   what="HELP lists dyn-addr")
        for name in (b"own", b"sup", b"dyn-addr"):
            for index, src in ((0, None), (0, "127.0.0.7"), (1, None)):
                s = self.sock(d, index=index, src=src)
                s.sendall(name + b"\r\n")
                want = b"+\r\npeer=%s service=%s\r\n" % (
                    peer_text(s.getsockname()), name)
                self.assertEqual(recv_exact(s, len(want)), want)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s), b"")

    def test_help_lists_pass_services(self):
        own, sup = self.path("own.sock"), self.path("sup.sock")
        d = self.start(config="""
control "%s"
register "dyn-*" user root
service "own" { socket "%s" }
service "sup" { socket "%s"; command "%s" }
service "ghost" { socket "%s"; hidden }
service "cat" { command "/bin/cat" }
""" % (self.ctl, own, sup, ECHO, self.path("ghost.sock")))
        # Listed whether or not anyone serves them.
        self.assertEqual(self.help(d), [b"cat", b"own", b"sup"])
        self.registrant("dyn-b")
        poll_until(lambda: self.help(d) ==
                   [b"cat", b"dyn-b", b"own", b"sup"],
                   what="HELP lists dyn-b in order")


class Failures(PassCase):

    def unavailable(self, d, name):
        self.assertEqual(self.ask(d, name.encode()),
                         b"-service unavailable\r\n")
        self.conn_line(d, name, "-service unavailable")

    def test_socket_missing(self):
        path = self.path("nothing.sock")
        d = self.start(config='service "gone" { socket "%s" }\n' % path)
        self.unavailable(d, "gone")
        d.wait_log(r"^gone: connect %s: No such file or directory$"
                   % re.escape(path))

    def test_nothing_listening_on_a_stale_socket(self):
        path = self.path("stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.bind(path)
        d = self.start(config='service "stale" { socket "%s" }\n' % path)
        self.unavailable(d, "stale")
        d.wait_log(r"^stale: connect %s: Connection refused$"
                   % re.escape(path))
        self.assertTrue(os.path.exists(path), "the daemon removed it")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_impostor_refused(self):
        path = os.path.join(self.nobody_dir(), "imp.sock")
        f = self.fake("refuse", path, "impostor reached", uid=NOBODY)
        d = self.start(config='service "imp" { socket "%s" }\n' % path)
        self.unavailable(d, "imp")
        d.wait_log(r"^imp: %s is served by uid %d, not its owner 0: "
                   r"refused$" % (re.escape(path), NOBODY))
        self.unavailable(d, "imp")
        self.assertFalse([l for l in f.out.lines if l and
                          l.startswith("handoff")], "impostor got a client")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_owner_may_serve(self):
        path = os.path.join(self.nobody_dir(), "nb.sock")
        self.fake("refuse", path, "owner reached", uid=NOBODY)
        d = self.start(config='service "nb" { socket "%s"; owner nobody }\n'
                       % path)
        self.assertEqual(self.ask(d, b"nb"), b"-owner reached\r\n")

    def test_out_of_descriptors_is_a_refusal(self):
        # Local users can fill the parent's descriptor table with idle
        # control connections; a pass client then finds no descriptor
        # for the channel. The daemon must answer "-busy" and go on.
        own = self.path("own.sock")
        self.echo(own, wait_path=own)
        d = self.start(config='control "%s"\nservice "own" { socket "%s" }\n'
                       % (self.ctl, own))
        poll_until(lambda: os.path.exists(self.ctl), what="control socket")
        base = count_fds(d.pid)
        _, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
        # Room for three control connections and the client itself.
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (base + 4, hard))
        idle = []
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(self.ctl)
            idle.append(c)
        poll_until(lambda: count_fds(d.pid) == base + 3,
                   what="three control connections held")
        self.assertEqual(self.ask(d, b"own"), b"-busy\r\n")
        self.conn_line(d, "own", "-busy")
        d.wait_log(r"^own: socket: Too many open files$")
        self.assertIsNone(d.proc.poll())
        for c in idle:
            c.close()
        poll_until(lambda: count_fds(d.pid) == base,
                   what="control connections gone")
        s = self.sock(d)
        s.sendall(b"own\r\nabc")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"+\r\nabc")
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (hard, hard))

    def test_service_that_does_not_acknowledge(self):
        path = self.path("late.sock")
        f = self.fake("late", path)
        d = self.start(config='service "late" { socket "%s" }\n' % path)
        s = self.sock(d)
        t0 = time.monotonic()
        s.sendall(b"late\r\n")
        reply = recv_until(s, b"\r\n", timeout=4)
        took = time.monotonic() - t0
        self.assertEqual(reply, b"-service not responding\r\n")
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3.0)
        self.assertEqual(recv_until_eof(s), b"")
        d.wait_log(r"^late: no acknowledgement in time$")
        self.conn_line(d, "late", "-service not responding")
        # Its ACK comes after the deadline: ignored, no GO, and the
        # channel still carries the next hand-off.
        f.out.wait(r"^late-acked$")
        self.assertEqual(self.ask(d, b"late"), b"-go=0\r\n")
        self.assertEqual(len([l for l in d.log_lines()
                              if "service=late result=+" in l]), 0)

    def test_full_channel_queues_handoffs(self):
        # A service that does not read its channel for a while: the
        # channel fills (about 280 hand-offs here), the rest wait in the
        # parent's queue, and every client is answered by the service
        # once it reads. None is failed for the channel being full.
        path = self.path("stall.sock")
        f = self.fake("stall", path, "1.2")
        d = self.start(config='service "stall" { socket "%s" }\n' % path)
        socks = []
        for i in range(400):
            s = self.sock(d, src="127.0.%d.%d" % (1 + i // 200, 1 + i % 200))
            s.sendall(b"stall\r\n")
            socks.append(s)
            if i == 0:
                f.out.wait(r"^stalling$")
        for s in socks:
            self.assertEqual(recv_until_eof(s, timeout=6),
                             b"-read late\r\n")
        self.conn_line(d, "stall", "-read late")
        d.wait_log(r"service=stall result=-read late ", count=400)
        self.assertNotIn("hand-off", d.log_text())
        self.assertIsNone(d.proc.poll())

    def test_service_of_before_accept_still_served(self):
        # A service built on an older liboneport answers ACK and waits for
        # GO: the daemon sends "+" itself, then GO.
        path = self.path("old.sock")
        f = self.fake("legacy", path)
        d = self.start(config='service "old" { socket "%s" }\n' % path)
        self.assertEqual(self.ask(d, b"old"), b"+\r\nlegacy")
        f.out.wait(r"^go \d+$")
        self.conn_line(d, "old", "+")

    def test_service_holding_the_lock_is_waited_for(self):
        # Past the 2 s the daemon finds the client locked by the service:
        # it is taking the client, so no "-" may go out; its ACCEPT comes.
        path = self.path("slow.sock")
        f = self.fake("slowtake", path)
        d = self.start(config='service "slow" { socket "%s" }\n' % path)
        s = self.sock(d)
        s.sendall(b"slow\r\n")
        self.assertEqual(recv_until_eof(s, timeout=8),
                         b"+\r\nslow but mine")
        f.out.wait(r"^locked$")
        self.conn_line(d, "slow", "+")
        self.assertNotIn("no acknowledgement in time", d.log_text())

    def test_late_accept_cannot_follow_the_minus(self):
        # The daemon answered "-" at 2 s; a service that takes the client
        # after that gets the lock (the daemon let go of it) and queues
        # its ACCEPT, but its "+" cannot reach the client: the daemon shut
        # the sending side first.
        path = self.path("late.sock")
        f = self.fake("lateaccept", path)
        d = self.start(config='service "late" { socket "%s" }\n' % path)
        s = self.sock(d)
        s.sendall(b"late\r\n")
        self.assertEqual(recv_until_eof(s, timeout=6),
                         b"-service not responding\r\n")
        f.out.wait(r"^plus refused$")
        self.conn_line(d, "late", "-service not responding")
        # The late ACCEPT is not a malformed message: the channel stays.
        self.assertNotIn("malformed", d.log_text())

    def test_waiting_handoff_told_at_stop(self):
        path = self.path("noack.sock")
        f = self.fake("noack", path)
        d = self.start(config='service "slow" { socket "%s" }\n' % path)
        s = self.sock(d)
        s.sendall(b"slow\r\n")
        f.out.wait(r"^handoff \d+ fds=1$")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(recv_until_eof(s, timeout=1.5),
                         b"-shutting down\r\n")
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertEqual(d.wait_exit(), 0)

    def test_service_that_dies_mid_handoff(self):
        path = self.path("die.sock")
        f = self.fake("die", path)
        d = self.start(config='service "die" { socket "%s" }\n' % path)
        self.assertEqual(self.ask(d, b"die"), b"-service failed\r\n")
        f.out.wait(r"^handoff \d+ fds=1$")
        self.conn_line(d, "die", "-service failed")
        f.wait(IO_TIMEOUT)
        # Its socket file stays, with no one behind it.
        self.unavailable(d, "die")

    def test_malformed_answers(self):
        for mode in ("garbage", "fdack"):
            path = self.path(mode + ".sock")
            f = self.fake(mode, path)
            d = self.start(config='service "bad" { socket "%s" }\n' % path)
            self.assertEqual(self.ask(d, b"bad"), b"-service failed\r\n",
                             mode)
            d.wait_log(r"^bad: malformed message from service$")
            self.conn_line(d, "bad", "-service failed")
            # The channel is gone; the next request makes a new one.
            self.assertEqual(self.ask(d, b"bad"), b"-service failed\r\n",
                             mode)
            f.out.wait(r"^handoff \d+ fds=1$")
            self.assertEqual(d.proc.poll(), None)

    def test_refusal_reason(self):
        why, plain = self.path("why.sock"), self.path("plain.sock")
        self.fake("refuse", why, "closed for maintenance: try 10:00")
        self.fake("refuse", plain, "")
        d = self.start(config='service "why" { socket "%s" }\n'
                       'service "plain" { socket "%s" }\n' % (why, plain))
        self.assertEqual(self.ask(d, b"why"),
                         b"-closed for maintenance: try 10:00\r\n")
        self.conn_line(d, "why", "-closed for maintenance: try 10:00")
        self.assertEqual(self.ask(d, b"plain"), b"-refused\r\n")
        self.conn_line(d, "plain", "-refused")

    def test_service_gone_with_handoffs_unread(self):
        # A service that exits before reading its HANDOFF: the daemon's
        # read of the channel fails (ECONNRESET), and that must end this
        # channel and touch no other descriptor. Before it, a service
        # sends a descriptor, which the daemon must close: a reader that
        # looks at its control buffer after a failed read finds that
        # one's number there, now reused by another channel.
        self.fake("fdack", self.path("a.sock"))
        d = self.start(config='control "%s"\nregister "dyn-*" user root\n'
                       'service "a" { socket "%s" }\n'
                       % (self.ctl, self.path("a.sock")))
        self.fake("deaf", self.ctl, register="dyn-deaf")
        d.wait_log(r"^registered dyn-deaf \(uid 0\)$")
        self.assertEqual(self.ask(d, b"a"), b"-service failed\r\n")
        d.wait_log(r"^a: malformed message from service$")
        names = ["dyn-r%d" % i for i in range(4)]
        for i, n in enumerate(names):
            self.fake("refuse", self.ctl, "i am %d" % i, register=n)
            d.wait_log(r"^registered %s \(uid 0\)$" % n)
        self.assertEqual(self.ask(d, b"dyn-deaf"), b"-service failed\r\n")
        d.wait_log(r"^unregistered dyn-deaf \(uid 0\)$")
        for i, n in enumerate(names):
            self.assertEqual(self.ask(d, n.encode()),
                             b"-i am %d\r\n" % i, n)
        poll_until(lambda: self.help(d) ==
                   [b"a"] + [n.encode() for n in names],
                   what="HELP lists the names still registered")
        self.assertEqual([l for l in d.log_lines()
                          if re.search(r"unregistered dyn-r|hand-off", l)],
                         [])

    def test_reload_moves_the_socket(self):
        a, b = self.path("a.sock"), self.path("b.sock")
        self.fake("refuse", a, "from a")
        self.fake("refuse", b, "from b")
        d = self.start(config='service "x" { socket "%s" }\n' % a)
        self.assertEqual(self.ask(d, b"x"), b"-from a\r\n")
        with open(d.conffile, "w") as f:
            f.write('service "x" { socket "%s" }\n' % b)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded: 1 services$")
        # The channel to a's socket is not a connection to b's.
        self.assertEqual(self.ask(d, b"x"), b"-from b\r\n")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_reload_takes_away_ownership(self):
        path = os.path.join(self.nobody_dir(), "nb.sock")
        self.fake("refuse", path, "owner reached", uid=NOBODY)
        d = self.start(config='service "nb" { socket "%s"; owner nobody }\n'
                       % path)
        self.assertEqual(self.ask(d, b"nb"), b"-owner reached\r\n")
        # Owner root again (the default): nobody's socket is refused from
        # the next request on, channel open or not.
        with open(d.conffile, "w") as f:
            f.write('service "nb" { socket "%s" }\n' % path)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded: 1 services$")
        self.unavailable(d, "nb")
        d.wait_log(r"^nb: %s is served by uid %d, not its owner 0: "
                   r"refused$" % (re.escape(path), NOBODY))

    def test_no_fd_leak_after_mixed_sessions(self):
        ok = self.path("ok.sock")
        okp = self.echo(ok, wait_path=ok)
        stale = self.path("stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.bind(stale)
        paths = {m: self.path(m + ".sock")
                 for m in ("refuse", "noack", "drop", "garbage")}
        for m, p in paths.items():
            self.fake(m, p, "no thanks" if m == "refuse" else None)
        conf = ('control "%s"\nregister "dyn-*" user root\n'
                'service "ok" { socket "%s" }\n'
                'service "sup" { socket "%s"; command "%s" }\n'
                'service "missing" { socket "%s" }\n'
                'service "stale" { socket "%s" }\n'
                % (self.ctl, ok, self.path("sup.sock"), ECHO,
                   self.path("missing.sock"), stale))
        conf += "".join('service "%s" { socket "%s" }\n' % (m, p)
                        for m, p in paths.items())
        kinds = [(b"ok", b"+\r\nabc"), (b"sup", b"+\r\nabc"),
                 (b"dyn-x", b"+\r\nabc"),
                 (b"missing", b"-service unavailable\r\n"),
                 (b"stale", b"-service unavailable\r\n"),
                 (b"refuse", b"-no thanks\r\n"),
                 (b"drop", b"-service failed\r\n"),
                 (b"garbage", b"-service failed\r\n"),
                 (b"nosuch", b"-unknown service\r\n")]
        if IS_ROOT:
            imp = os.path.join(self.nobody_dir(), "imp.sock")
            self.fake("refuse", imp, "impostor reached", uid=NOBODY)
            conf += 'service "imp" { socket "%s" }\n' % imp
            kinds.append((b"imp", b"-service unavailable\r\n"))
        d = self.start(config=conf)
        supp = self.started(d, "sup")
        regp = self.registrant("dyn-x", tell_peer=False)
        d.wait_log(r"^registered dyn-x \(uid 0\)$")
        poll_until(lambda: b"dyn-x" in self.help(d), what="dyn-x listed")
        fe = d.frontend_pid()
        # A channel's service may drop it at any time: one hand-off to
        # each such service at a time, so that each outcome is exact.
        locks = {b"drop": threading.Lock(), b"garbage": threading.Lock()}

        def session(i):
            name, want = kinds[i % len(kinds)]
            lock = locks.get(name)
            if lock:
                lock.acquire()
            try:
                got = d.exchange(name + b"\r\nabc", half_close=True)
            finally:
                if lock:
                    lock.release()
            return name, got, want

        def noack_batch(n):
            socks = []
            for _ in range(n):
                s = self.sock(d)
                s.sendall(b"noack\r\n")
                socks.append(s)
            return socks

        def noack_answers(socks):
            for s in socks:
                self.assertEqual(recv_until_eof(s, timeout=4),
                                 b"-service not responding\r\n")
                s.close()

        # Warm up: every channel that stays open is made now.
        warm = noack_batch(3)
        for i in range(len(kinds)):
            name, got, want = session(i)
            self.assertEqual(got, want, name)
        noack_answers(warm)
        watched = {"parent": d.pid, "frontend": fe, "echo": okp.pid,
                   "registrant": regp.pid, "supervised": supp}

        def counts():
            return {k: count_fds(p) for k, p in watched.items()}
        before = counts()

        late = noack_batch(10)
        with ThreadPoolExecutor(8) as ex:
            results = list(ex.map(session, range(30 * len(kinds))))
        for name, got, want in results:
            self.assertEqual(got, want, name)
        noack_answers(late)
        # At most: "before" may still count replies held until their
        # client's FIN (linger.c), which came just after.
        def back():
            now = counts()
            return all(now[k] <= before[k] for k in now)
        try:
            poll_until(back, timeout=3,
                       what="descriptor counts back to %r" % before)
        except AssertionError:
            self.assertEqual(counts(), before)
        self.assertIsNone(d.proc.poll())


class Registration(PassCase):

    def conf(self, extra=""):
        return ('control "%s"\nregister "dyn-*" user root\n%s'
                'service "own" { socket "%s" }\n'
                % (self.ctl, extra, self.path("own.sock")))

    def test_name_lives_with_its_connection(self):
        d = self.start(config=self.conf())
        self.assertEqual(self.ask(d, b"dyn-a"), b"-unknown service\r\n")
        self.assertEqual(os.stat(self.ctl).st_mode & 0o777, 0o666)
        p = self.registrant("dyn-a")
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        poll_until(lambda: self.help(d) == [b"dyn-a", b"own"],
                   what="HELP lists dyn-a")
        s = self.sock(d)
        s.sendall(b"DYN-A\r\nping")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"+\r\npeer=%s service=dyn-a"
                         b"\r\nping" % peer_text(s.getsockname()))
        self.conn_line(d, "dyn-a", "+")
        p.kill()
        p.wait(IO_TIMEOUT)
        d.wait_log(r"^unregistered dyn-a \(uid 0\)$")
        poll_until(lambda: self.help(d) == [b"own"], timeout=1,
                   what="HELP without dyn-a")
        self.assertEqual(self.ask(d, b"dyn-a"), b"-unknown service\r\n")
        self.conn_line(d, "dyn-a", "-unknown service")
        # The name is free again.
        self.registrant("dyn-a")
        d.wait_log(r"^registered dyn-a \(uid 0\)$", count=2)
        poll_until(lambda: self.help(d) == [b"dyn-a", b"own"],
                   what="HELP lists dyn-a again")
        # The control socket goes with the daemon; so does the name.
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertFalse(os.path.exists(self.ctl))

    def refused(self, d, name, reason, uid=0):
        p = self.registrant(name, uid=None if uid == 0 else uid)
        self.assertEqual(p.wait(IO_TIMEOUT), 1)
        self.assertEqual(self.stderr_of(p), "echo-service: %s\n" % reason)
        d.wait_log(r"^register %s by uid %d: %s$" % (name, uid, reason))

    def test_names_that_cannot_be_registered(self):
        d = self.start(config=self.conf())
        first = self.registrant("dyn-a")
        d.wait_log(r"^registered dyn-a \(uid 0\)$")
        self.refused(d, "dyn-a", "name taken")
        self.refused(d, "own", "name taken")
        self.refused(d, "help", "reserved name")
        self.refused(d, "other", "not allowed")
        # The first registration is untouched by the refusals.
        self.assertIsNone(first.poll())
        self.assertEqual(self.help(d), [b"dyn-a", b"own"])
        s = self.sock(d)
        s.sendall(b"dyn-a\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"+\r\npeer=%s service=dyn-a"
                         b"\r\n" % peer_text(s.getsockname()))
        self.assertEqual(len([l for l in d.log_lines()
                              if l.startswith("registered ")]), 1)

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_uid_without_a_rule_refused(self):
        d = self.start(config=self.conf('register "nb-*" user nobody\n'))
        self.refused(d, "dyn-n", "not allowed", uid=NOBODY)
        # nobody's own pattern is allowed, and needs no owner check.
        self.registrant("nb-one", uid=NOBODY)
        d.wait_log(r"^registered nb-one \(uid %d\)$" % NOBODY)
        poll_until(lambda: b"nb-one" in self.help(d), what="nb-one listed")
        s = self.sock(d)
        s.sendall(b"nb-one\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"+\r\npeer=%s service=nb-one"
                         b"\r\n" % peer_text(s.getsockname()))
        self.refused(d, "nb-two", "not allowed")

    def test_registrant_dies_mid_handoff(self):
        d = self.start(config=self.conf())
        f = self.fake("die", self.ctl, register="dyn-d")
        d.wait_log(r"^registered dyn-d \(uid 0\)$")
        poll_until(lambda: b"dyn-d" in self.help(d), what="dyn-d listed")
        self.assertEqual(self.ask(d, b"dyn-d"), b"-service failed\r\n")
        f.out.wait(r"^handoff \d+ fds=1$")
        d.wait_log(r"^unregistered dyn-d \(uid 0\)$")
        self.assertEqual(self.ask(d, b"dyn-d"), b"-unknown service\r\n")
        poll_until(lambda: self.help(d) == [b"own"], timeout=1,
                   what="HELP without dyn-d")


class Supervised(PassCase):

    def conf(self):
        return ('service "sup" { socket "%s"; command "%s" "-e" }\n'
                % (self.path("sup.sock"), ECHO))

    def served(self, d, data=b"x"):
        s = self.sock(d)
        s.sendall(b"sup\r\n" + data)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s),
                         b"+\r\npeer=%s service=sup\r\n%s"
                         % (peer_text(s.getsockname()), data))

    def test_restarted_within_backoff(self):
        d = self.start(config=self.conf())
        pid = self.started(d, "sup")
        if IS_ROOT:
            # "started" is logged at the fork; the user switch follows.
            poll_until(lambda: proc_status(pid)["Uid"].split()[0] ==
                       str(NOBODY), what="the program running as nobody")
        self.served(d)
        for n, backoff in ((2, 0.25), (3, 0.5)):
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            d.wait_log(r"^exit service=sup pid=%d status=signal:9 " % pid)
            d.wait_log(r"^sup: restarting in %dms$" % (backoff * 1000))
            # Sent while no program runs: it waits in the socket's queue
            # for the next one.
            s = self.sock(d)
            s.sendall(b"sup\r\nwhile down")
            s.shutdown(socket.SHUT_WR)
            new = self.started(d, "sup", count=n, timeout=backoff + 2)
            took = time.monotonic() - t0
            self.assertNotEqual(new, pid)
            self.assertGreaterEqual(took, backoff - 0.01)
            self.assertLess(took, backoff + 1.5)
            self.assertEqual(recv_until_eof(s),
                             b"+\r\npeer=%s service=sup\r\nwhile down"
                             % peer_text(s.getsockname()))
            pid = new
            self.served(d, b"after %d" % n)

    def test_stopped_with_daemon(self):
        d = self.start(config=self.conf())
        pid = self.started(d, "sup")
        self.served(d)
        self.assertEqual(os.stat(self.path("sup.sock")).st_mode & 0o777,
                         0o600)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        poll_until(lambda: not alive(pid), what="supervised pid %d gone"
                   % pid)
        self.assertFalse(os.path.exists(self.path("sup.sock")))


if __name__ == "__main__":
    unittest.main()
