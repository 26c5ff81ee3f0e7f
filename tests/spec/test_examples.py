# SPDX-License-Identifier: ISC
"""
The draft's examples, played against the real oneportd: every example of
the draft is one test here, and the server's bytes must be exactly those
the draft shows. Examples that the draft's Section 11 says oneportd does
not yet perform are skipped with the reason; ONEPORT_SPEC_PENDING=1 plays
them too, to see whether the daemon is ready for Section 11 to change.

Each example gets a fresh daemon on 127.0.0.1 port 0 (tests/blackbox's
harness), configured with the functions of the draft's Section 2.3 plus
what the example's heading asks for. The examples of the draft's
Appendix A.6 also play a running program on the control socket, with
the messages as local_channel.py encodes them from Appendix A.2.
"""
import fcntl
import os
import pwd
import select
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "blackbox"))

import harness  # noqa: E402
from harness import (DaemonTestCase, recv_exact, recv_until,  # noqa: E402
                     recv_until_eof, run_daemon_n)
import local_channel  # noqa: E402
import spec_examples  # noqa: E402
from spec_examples import SpecError  # noqa: E402

RUN_PENDING = os.environ.get("ONEPORT_SPEC_PENDING", "") not in ("", "0")

# The draft's Section 2.3, as oneportd.conf. Every function listed there
# must be here and the other way round (SetupMatchesDraft checks).
# "broken" passes oneportd's checks (its directory exists) and cannot
# start: its user (nobody, or the daemon's own) may not enter /root.
BASE_CONFIG = """\
timeout 1s
max-line 64
service "echo" { command "/bin/cat" }
service "hello" { command "/bin/echo" "hello" }
service "single" { command "/bin/cat"; max instances 1 }
service "secret" { command "/bin/cat"; visible no }
service "broken" { command "/bin/cat"; chdir "/root"; visible no }
service "gone" { socket "/nonexistent/oneport-spec.sock"; visible no }
"""

# Mode B (draft Section 9). A daemon that does not know these keywords
# gets the base configuration alone, so that the examples it implements
# still run; an example that needs these then fails, as it should.
REDIRECT_CONFIG = """\
service "files" { command "%(prog)s"; redirect per-request; token yes; \
visible no }
service "board" { command "%(prog)s"; redirect shared; visible no }
service "archive" { redirect to "archive.example" port 7002; visible no }
"""

# Appendix A.6: programs register on the control socket, "chat" and
# names that begin with it, as the user that runs the tests.
CONTROL_CONFIG = """\
control "%(path)s"
register "chat*" user "%(user)s"
"""
USER = pwd.getpwuid(os.geteuid()).pw_name

# The functions of the draft's Section 10.9, chosen by implicit names.
IMPLICIT_CONFIG = """\
service "web" { command "/bin/cat"; match http host "web.example"; \
match tls sni "web.example"; visible no }
service "shell" { command "/bin/cat"; match ssh; visible no }
service "banner" { command "/bin/echo" "220 ready"; match silence 500ms; \
visible no }
"""

# What an example's heading may add to the setup, in its parentheses.
CONDITIONS = {
    "HELP disabled": "help off\n",
    "the client's address denied": "deny all\n",
    "one pending per address": "max pending per-address 1\n",
    "one pending in all": "max pending 1\n",
    "implicit names": IMPLICIT_CONFIG,
    "PROXY from the client's address": "proxy from 127.0.0.1\n",
}

# The program a redirect points to: the listening socket at fd 3 (as
# oneportd passes it), the token in ONEPORT_TOKEN (one per program) or as
# lines on the pipe at ONEPORT_TOKEN_FD (a shared program, Appendix A.5).
# It reads the token line and no byte more, accepts each token once,
# closes without a word otherwise, and then echoes like "echo" (draft
# Section 9.2).
REDIRECTED_PROGRAM = r'''#!/usr/bin/python3
import os, socket

listener = socket.socket(fileno=3)
tokens = set()
if os.environ.get("ONEPORT_TOKEN"):
    tokens.add(os.environ["ONEPORT_TOKEN"].encode())
tfd = os.environ.get("ONEPORT_TOKEN_FD")
need_token = bool(tokens) or tfd is not None
pending = b""

def more_tokens():
    global pending
    if tfd is None:
        return
    os.set_blocking(int(tfd), False)
    try:
        while True:
            chunk = os.read(int(tfd), 4096)
            if not chunk:
                break
            pending += chunk
    except BlockingIOError:
        pass
    # Appendix A.5: "TOKEN EXPIRY-MS" and LF; the expiry is not needed
    # here, where every token is used at once.
    *lines, pending = pending.split(b"\n")
    tokens.update(l.split(b" ")[0] for l in lines if l)

while True:
    conn, _ = listener.accept()
    conn.settimeout(5)
    try:
        if need_token:
            line = b""
            while not line.endswith(b"\n") and len(line) < 70:
                b = conn.recv(1)
                if not b:
                    break
                line += b
            token = line.rstrip(b"\n")
            if token.endswith(b"\r"):
                token = token[:-1]
            more_tokens()
            if not line.endswith(b"\n") or token not in tokens:
                continue
            tokens.discard(token)
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()
'''


def _redirect_supported(tmp, prog):
    """Does this oneportd accept the mode B keywords?"""
    path = os.path.join(tmp, "probe.conf")
    with open(path, "w") as f:
        f.write(BASE_CONFIG + REDIRECT_CONFIG % {"prog": prog})
    rc, _, _ = run_daemon_n(["-n", "-f", path])
    return rc == 0


_supported = {}


class Player:
    """Plays one example's steps against one daemon."""

    def __init__(self, case, daemon, example, control):
        self.case = case
        self.d = daemon
        self.ex = example
        self.control = control
        self.socks = {}
        self.values = {}

    def where(self, step):
        return "Example %s, draft line %d (%r)" % (self.ex.label,
                                                   step.lineno, step)

    def open(self, conn, port=None):
        if conn in self.socks:
            raise AssertionError("connection %r opened twice" % conn)
        if port is None:
            s = self.d.connect()
        else:
            s = socket.create_connection((self.d.host, port),
                                         timeout=harness.IO_TIMEOUT)
        self.case.addCleanup(s.close)
        self.socks[conn] = s
        return s

    def sock(self, conn):
        return self.socks.get(conn) or self.open(conn)

    def client(self, step):
        if step.event == "connect":
            port = None
            if step.target is not None:
                port = int(self.values[step.target])
            self.open(step.conn, port)
        elif step.event == "half-close":
            self.sock(step.conn).shutdown(socket.SHUT_WR)
        elif step.event == "wait":
            pass    # the next server line waits; its timeout is the bound
        else:
            data = step.render(self.values)
            try:
                self.sock(step.conn).sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass    # answered and closed early: the reply will show
            # Separate steps go in separate segments, as the draft's
            # notation allows; a verdict must not depend on it.
            time.sleep(0.01)

    def expect(self, socks, step, check):
        """check(sock, step) on the step's connection; a failure names
        the example and the draft's line."""
        s = socks.get(step.conn)
        if s is None:
            raise AssertionError("%s: no such connection" % self.where(step))
        try:
            check(s, step)
        except (AssertionError, ValueError, OSError) as e:
            raise AssertionError("%s: %s" % (self.where(step), e)) from None

    def server(self, step):
        self.expect(self.socks, step, self._server)

    def _server(self, s, step):
        if step.event == "close":
            rest = recv_until_eof(s)
            self.case.assertEqual(rest, b"", "wanted the end of the "
                                  "stream, got more bytes")
            return
        if not step.variables:
            want = step.literal()
            got = recv_exact(s, len(want))
            self.case.assertEqual(got, want)
            return
        line = recv_until(s, b"\n")
        m = step.pattern(self.values).fullmatch(line)
        if not m:
            self.case.fail("got %r" % line)
        for k, v in m.groupdict().items():
            self.values[k] = v

    # ---- the program's side of the local channel (Appendix A) ----

    def channel(self, conn):
        ch = self.chans.get(conn)
        if ch is None:
            ch = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ch.settimeout(harness.IO_TIMEOUT)
            ch.connect(self.control)
            self.case.addCleanup(ch.close)
            self.chans[conn] = ch
        return ch

    def program(self, step):
        ch = self.channel(step.conn)
        if step.event == "close":
            ch.close()
            return
        if step.event == "wait":
            return
        fields = {f: step.value(f, self.values) for f in step.fields}
        client = self.handed.get(fields.get("id"))
        if step.message == "ACCEPT":
            # Appendix A.3: the lock first, then ACCEPT, then "+".
            try:
                fcntl.lockf(client.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                raise AssertionError("%s: the server holds the client's "
                                     "lock: %s" % (self.where(step), e))
        ch.send(local_channel.encode(step.message, fields))
        if step.message == "ACCEPT":
            client.sendall(b"+\r\n")
            self.drop(fields["id"])
        if step.message in ("REGISTER", "REGISTER_PORT"):
            self.registering = fields["name"]
        if step.message == "ACK" and fields["status"] != "0":
            # Appendix A.6: a refused connection is closed at once.
            self.drop(fields["id"])

    def drop(self, mid):
        fd = self.handed.pop(mid, None)
        if fd is not None:
            fd.close()

    def from_server(self, step):
        self.expect(self.chans, step, self._from_server)

    def _from_server(self, ch, step):
        try:
            data, fds, _, _ = socket.recv_fds(ch, 65536, 4)
        except ConnectionResetError:
            data, fds = b"", []
        socks = [socket.socket(fileno=fd) for fd in fds]
        for sk in socks:
            self.case.addCleanup(sk.close)
        if step.event == "close":
            self.case.assertEqual((data, fds), (b"", []),
                                  "wanted the end of the channel")
            return
        message, got = local_channel.decode(data)
        self.case.assertEqual(message, step.message, "got %r" % (got,))
        self.case.assertEqual(len(fds), 1 if message == "HANDOFF" else 0,
                              "descriptors with %s" % message)
        for f, want in step.fields.items():
            if isinstance(want, tuple):
                if want[1] in self.values:
                    self.case.assertEqual(got[f],
                                          self.values[want[1]].decode())
                else:
                    self.values[want[1]] = got[f].encode()
            else:
                self.case.assertEqual(got[f], want, "field %s" % f)
        if message == "HANDOFF":
            self.handed[got["id"]] = socks[0]
        elif message == "GO":
            # Appendix A.6: the connection is closed once GO came.
            self.drop(got["id"])
        elif message == "REGISTERED" and got["status"] == "0":
            self.live = self.registering

    def await_name(self):
        """Appendix A.4: a name is offered by the time REGISTERED is
        sent: HELP lists it at once, with no wait."""
        line = b"\n" + self.live.encode() + b"\r\n"
        listing = self.d.exchange(b"HELP\r\n")
        if line not in b"\n" + listing:
            raise AssertionError("%s not offered after REGISTERED: %r"
                                 % (self.live, listing))
        self.live = None

    def play(self):
        self.chans = {}
        self.handed = {}
        self.registering = None
        self.live = None
        for step in self.ex.steps:
            if step.who == "C":
                if self.live is not None:
                    self.await_name()
                self.client(step)
            elif step.who == "P":
                self.program(step)
            elif step.who == "R":
                self.from_server(step)
            else:
                self.server(step)


class ExampleTestCase(DaemonTestCase):
    """The test methods are added below, one per example of the draft."""

    def play(self, example):
        if not example.implemented and not RUN_PENDING:
            self.skipTest("the draft's Section 11 lists Example %s (line "
                          "%d) as not yet performed; set "
                          "ONEPORT_SPEC_PENDING=1 to play it anyway"
                          % (example.label, example.lineno))
        prog = self.script("redirected.py", REDIRECTED_PROGRAM)
        if harness.DAEMON not in _supported:
            _supported[harness.DAEMON] = _redirect_supported(self.tmp, prog)
        config = BASE_CONFIG
        if _supported[harness.DAEMON]:
            config += REDIRECT_CONFIG % {"prog": prog}
        if example.condition is not None:
            for cond in example.condition.split("; "):
                if cond not in CONDITIONS:
                    self.fail("Example %s: the heading's condition %r is "
                              "not one this test knows: add it to "
                              "CONDITIONS" % (example.label, cond))
                config = CONDITIONS[cond] + config
        control = os.path.join(self.tmp, "ctl.sock")
        config += CONTROL_CONFIG % {"path": control, "user": USER}
        d = self.start(config=config)
        Player(self, d, example, control).play()


def _load():
    text = spec_examples.read_draft()
    return spec_examples.parse_examples(text)


try:
    EXAMPLES = _load()
    LOAD_ERROR = None
except (SpecError, OSError) as e:
    EXAMPLES = []
    LOAD_ERROR = e


def _make(example):
    def test(self):
        self.play(example)
    test.__doc__ = "draft line %d: Example %s (%s)" % (
        example.lineno, example.label, example.status)
    return test


for _ex in EXAMPLES:
    setattr(ExampleTestCase, "test_" + _ex.label.replace("-", "_"),
            _make(_ex))


class SetupMatchesDraft(unittest.TestCase):
    """The daemon configuration above is the one the draft describes."""

    def test_examples_were_read(self):
        if LOAD_ERROR is not None:
            self.fail("cannot read the draft's examples: %s" % LOAD_ERROR)
        self.assertGreaterEqual(len(EXAMPLES), 20)
        self.assertTrue(any(e.implemented for e in EXAMPLES))

    def test_appendix_examples_were_read(self):
        # The local channel's cases (Appendix A.6) are played too.
        channel = [e for e in EXAMPLES
                   if any(s.who in "PR" for s in e.steps)]
        self.assertGreaterEqual(len(channel), 10)

    def test_functions_match_section_2_3(self):
        text = spec_examples.read_draft()
        listed = set(spec_examples.example_functions(text))
        configured = set()
        for conf in (BASE_CONFIG, REDIRECT_CONFIG):
            for line in conf.splitlines():
                if line.startswith('service "'):
                    configured.add(line.split('"')[1])
        self.assertEqual(listed, configured)

    def test_line_limit_matches_section_2_3(self):
        text = " ".join(spec_examples.read_draft().split())
        self.assertIn("whose line limit is 64 octets", text)
        self.assertIn("max-line 64\n", BASE_CONFIG)
        self.assertIn("whose request deadline is 1 second", text)
        self.assertIn("timeout 1s\n", BASE_CONFIG)


if __name__ == "__main__":
    unittest.main()
