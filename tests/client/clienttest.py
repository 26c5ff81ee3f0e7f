# SPDX-License-Identifier: ISC
"""
clienttest.py: what the black-box tests of the oneport command share. The
command is $ONEPORT, run as a subprocess with a bounded timeout; real
servers are oneportd ($ONEPORTD, started by tests/blackbox/harness.py on
port 0) and xinetd; fake servers are small Python threads on loopback that
play one scripted exchange per connection.
"""
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.append(os.path.join(REPO, "tests", "blackbox"))

from harness import (DaemonTestCase, IO_TIMEOUT, IS_ROOT,  # noqa: E402
                     poll_until, recv_until_eof)

ONEPORT = os.path.abspath(os.environ.get(
    "ONEPORT", os.path.join(REPO, "build", "oneport")))
TOKEN_SERVICE = os.path.abspath(os.environ.get(
    "TOKEN_SERVICE", os.path.join(REPO, "build", "token-service")))
RUN_TIMEOUT = 30.0      # seconds for one whole run of the command

# Exit statuses of oneport(1).
EX_OK, EX_REFUSED, EX_USAGE, EX_CONNECT, EX_TIMEOUT, EX_PROTOCOL, \
    EX_REDIRECT = range(7)

__all__ = ["ClientTestCase", "FakeServer", "free_port", "IO_TIMEOUT",
           "IS_ROOT", "ONEPORT", "TOKEN_SERVICE", "poll_until",
           "recv_until_eof", "EX_OK", "EX_REFUSED", "EX_USAGE",
           "EX_CONNECT", "EX_TIMEOUT", "EX_PROTOCOL", "EX_REDIRECT"]


def free_port(host="127.0.0.1", family=socket.AF_INET):
    """A port nothing listens on now (bound and let go at once)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class FakeServer:
    """A rendezvous server that is not oneportd. For each connection,
    handler(conn) is called in a thread of its own; the connection is
    closed when it returns. What each connection sent before the handler
    read it is the handler's business; see read_line."""

    def __init__(self, handler, host="127.0.0.1", family=socket.AF_INET):
        self.handler = handler
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.errors = []
        self.requests = []
        self._stop = False
        self._conns = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._one, args=(conn,),
                             daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(IO_TIMEOUT)
            self.handler(self, conn)
        except Exception as e:          # reported by the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    @staticmethod
    def read_line(conn):
        """The request line, exactly, one byte at a time."""
        line = b""
        while not line.endswith(b"\n"):
            b = conn.recv(1)
            if not b:
                break
            line += b
        return line

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(5)


class ClientTestCase(DaemonTestCase):
    """Runs the command; starts daemons and fake servers cleaned up after
    the test."""

    def setUp(self):
        super().setUp()
        if not os.access(ONEPORT, os.X_OK):
            self.fail("no oneport at %s (set ONEPORT)" % ONEPORT)

    def oneport(self, *args, data=b"", timeout=RUN_TIMEOUT, env=None,
                argv0=None):
        """Runs oneport with args; returns (status, stdout, stderr)."""
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.run([argv0 or ONEPORT] + [str(a) for a in args],
                           input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=e)
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error:", err)
        return p.returncode, p.stdout, err

    def fake(self, handler, **kw):
        srv = FakeServer(handler, **kw)
        self.addCleanup(srv.close)
        return srv

    def echo_daemon(self, *extra, listen=("127.0.0.1:0",)):
        return self.start("-s", "echo=cat", "-s", "daytime=date -u",
                          *extra, listen=listen)

    @staticmethod
    def target(host, port):
        return "[%s]:%d" % (host, port) if ":" in host else \
            "%s:%d" % (host, port)

    def elapsed(self, fn):
        t = time.monotonic()
        r = fn()
        return r, time.monotonic() - t
