# SPDX-License-Identifier: ISC
"""
How a reply ends. A client that sent more than its request line (a
pipelined request, a TLS hello after the name) must still read the whole
reply and then a clean end of stream: closing a socket with unread bytes
makes the kernel send RST, which the client sees as a reset and which can
destroy a reply not yet read. The daemon discards those bytes, never
reading them into the parent, and closes only on the client's FIN or a
short deadline.
"""
import os
import socket

from harness import (DaemonTestCase, IO_TIMEOUT, count_fds, poll_until,
                     readable, recv_until_eof)

EXTRA = 64 * 1024


TCP_CLOSE = 7


def ask_with_extra(d, line, extra=EXTRA):
    """Sends line and extra bytes in one write and reads to the end; then
    sends its own FIN and waits for the connection to be over. Returns
    (bytes read, SO_ERROR at the end): an RST from the daemon leaves an
    error (EPIPE or ECONNRESET) that a clean close does not."""
    s = d.connect()
    try:
        try:
            s.sendall(line + b"x" * extra)
        except (BrokenPipeError, ConnectionResetError) as e:
            return b"", e.errno
        data = b""
        while True:
            if not readable(s, IO_TIMEOUT):
                raise AssertionError("no end within %.1fs; got %r"
                                     % (IO_TIMEOUT, data))
            try:
                chunk = s.recv(65536)
            except ConnectionResetError as e:
                return data, e.errno
            if not chunk:
                break
            data += chunk
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass        # already reset: SO_ERROR tells
        poll_until(lambda: s.getsockopt(socket.IPPROTO_TCP,
                                        socket.TCP_INFO, 1)[0] == TCP_CLOSE,
                   what="the connection to end")
        return data, s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    finally:
        s.close()


class ExtraBytes(DaemonTestCase):
    """Every kind of reply the daemon sends itself, with 64 KiB after the
    line in the same write."""

    def setUp(self):
        super().setUp()
        gone = self.script("gone", "")
        self.d = self.start(config='''
service "nostart" { command "%s" }
service "echo" { command "/bin/cat" }
service "one" {
	command "/bin/sleep" "30"
	max instances 1
}
''' % gone)
        os.unlink(gone)

    def check(self, line, want):
        for i in range(3):
            with self.subTest(line=line, round=i):
                self.assertEqual(ask_with_extra(self.d, line), (want, 0))

    def test_cannot_start(self):
        self.check(b"nostart\r\n", b"-cannot start service\r\n")

    def test_query_answer(self):
        got, err = ask_with_extra(self.d, b"?echo\r\n")
        self.assertEqual(err, 0, got)
        self.assertTrue(got.startswith(b"-") and got.endswith(b"\r\n"), got)

    def test_service_busy(self):
        s = self.sock(self.d)
        s.sendall(b"one\r\n")
        self.assertEqual(s.recv(3), b"+\r\n")
        self.check(b"one\r\n", b"-service busy\r\n")

    def test_unknown_and_help(self):
        # Answered by the frontend, which must not reset either.
        self.check(b"nosuch\r\n", b"-unknown service\r\n")
        self.check(b"help\r\n", b"echo\r\nnostart\r\none\r\n")

    def test_client_that_never_closes(self):
        # Its FIN never comes: the daemon lets go of it after a short
        # while, and the parent holds no descriptor for it any more.
        before = count_fds(self.d.pid)
        s = self.sock(self.d)
        s.sendall(b"nostart\r\n" + b"x" * 1000)
        self.assertEqual(recv_until_eof(s), b"-cannot start service\r\n")
        try:
            s.sendall(b"more")
        except OSError:
            pass        # reset already
        poll_until(lambda: count_fds(self.d.pid) <= before, timeout=10,
                   what="the parent to close the lingering socket")


class LongHelp(DaemonTestCase):
    """A HELP listing of thousands of names to a client that reads
    nothing for a while, through a small window: it reads every name or
    a reset, never a list cut short that looks whole."""

    NAMES = ["long-name-%05d" % i for i in range(2000)]

    def test_all_names_or_reset(self):
        conf = "".join('service "%s" { command "/bin/true" }\n' % n
                       for n in self.NAMES)
        d = self.start(config=conf)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        # A small window and small segments: the daemon's send buffer
        # is sized as for a real network, not for loopback's 64 KiB MSS.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
        s.settimeout(IO_TIMEOUT)
        s.connect((d.host, d.port))
        s.sendall(b"help\r\n")
        # Not reading until the frontend is done with it.
        d.wait_log(r"service=help result=")
        data = recv_until_eof(s, limit=1 << 22)
        want = "".join(n + "\r\n" for n in self.NAMES).encode()
        self.assertEqual(data, want)
        d.wait_log(r"service=help result=help ")


if __name__ == "__main__":
    import unittest
    unittest.main()
