# SPDX-License-Identifier: ISC
"""
Redirects followed by the command: to a program oneportd starts on a free
port, per request or shared, with a one-time token the program checks with
liboneport's oneport_token_check (tests/client/token_service.c); to a port
on the address that answered; to a host named in the reply, which must be
the host called unless -R is given.
"""
import random
import re
import socket

from clienttest import (EX_CONNECT, EX_OK, EX_REDIRECT, ClientTestCase,
                        FakeServer, IO_TIMEOUT, TOKEN_SERVICE, recv_until_eof)

TOKEN_RE = re.compile(rb"^@(\d+) token=([0-9a-f]{32})\r\n$")


def echo(srv, conn):
    """A plain echo server: no rendezvous, as a redirect target is."""
    while True:
        b = conn.recv(65536)
        if not b:
            break
        conn.sendall(b)


def answer(reply):
    def handler(srv, conn):
        srv.requests.append(FakeServer.read_line(conn))
        conn.sendall(reply)
    return handler


class Redirect(ClientTestCase):

    def setUp(self):
        super().setUp()
        # Below the ephemeral range; random, so parallel runs rarely meet.
        self.lo = random.randrange(20000, 32000, 32)
        self.hi = self.lo + 15

    def dyn(self, name, mode, token=True, args=()):
        return ('service "%s" {\n\tcommand "%s"%s\n\tredirect %s\n'
                '\ttoken %s\n}\n' % (name, TOKEN_SERVICE,
                                     "".join(' "%s"' % a for a in args),
                                     mode, "yes" if token else "no"))

    def daemon(self, body):
        return self.start(config="ports %d-%d\n%s" % (self.lo, self.hi,
                                                      body))

    def test_per_request_with_token(self):
        d = self.daemon(self.dyn("files", "per-request"))
        t = self.target(d.host, d.port)
        for i in range(2):
            data = b"ping %d\n" % i
            rc, out, err = self.oneport("-v", t, "files", data=data)
            self.assertEqual((rc, out), (EX_OK, data), err)
            self.assertIn("(redirected)", err)
        d.wait_log(r"token_service: accepted", count=2)
        self.assertNotIn("refused", d.log_text())

    def test_shared_with_tokens(self):
        d = self.daemon(self.dyn("board", "shared"))
        t = self.target(d.host, d.port)
        for i in range(3):
            data = b"note %d\n" % i
            rc, out, err = self.oneport(t, "board", data=data)
            self.assertEqual((rc, out), (EX_OK, data), err)
        d.wait_log(r"token_service: accepted", count=3)

    def test_token_is_checked_once(self):
        # oneport_token_check from the program's side: a token is good
        # once, a made-up one never, and a line that is no token at all
        # closes the connection without a word.
        for mode in ("per-request", "shared"):
            with self.subTest(mode=mode):
                d = self.daemon(self.dyn("files", mode))
                reply = d.exchange(b"files\r\n")
                m = TOKEN_RE.match(reply)
                self.assertIsNotNone(m, reply)
                port, token = int(m.group(1)), m.group(2)

                def call(first):
                    s = socket.create_connection((d.host, port),
                                                 IO_TIMEOUT)
                    try:
                        try:
                            s.sendall(first + b"ping\n")
                            s.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass    # closed on us: the reads say so
                        return recv_until_eof(s)
                    finally:
                        s.close()
                self.assertEqual(call(b"x" * 32 + b"\r\n"), b"")
                self.assertEqual(call(b"ping\n"), b"")
                self.assertEqual(call(token + b"\r\n"), b"ping\n")
                self.assertEqual(call(token + b"\r\n"), b"")
                d.wait_log(r"token_service: refused: Permission denied",
                           count=2)
                d.wait_log(r"token_service: refused: Protocol error")
                d.stop()

    def test_shared_without_token(self):
        d = self.daemon(self.dyn("board", "shared", token=False,
                                 args=("notoken",)))
        t = self.target(d.host, d.port)
        rc, out, err = self.oneport(t, "board", data=b"plain\n")
        self.assertEqual((rc, out), (EX_OK, b"plain\n"), err)
        # Now it runs, a query finds it.
        rc, out, err = self.oneport("-q", t, "board")
        self.assertEqual(rc, EX_OK, err)
        host, port = out.split()
        self.assertEqual(host, b"127.0.0.1")
        self.assertTrue(self.lo <= int(port) <= self.hi, out)

    def test_redirect_to_the_address_that_answered(self):
        target = self.fake(echo)
        srv = self.fake(answer(b"@%d\r\n" % target.port))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "x",
                                    data=b"hi\n")
        self.assertEqual((rc, out), (EX_OK, b"hi\n"), err)

    def test_redirect_token_sent_first(self):
        seen = []

        def target_handler(srv, conn):
            seen.append(FakeServer.read_line(conn))
            echo(srv, conn)
        target = self.fake(target_handler)
        tok = b"abcdefghijklmnop_-0123"
        srv = self.fake(answer(b"@%d token=%s\r\n" % (target.port, tok)))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "x",
                                    data=b"after\n")
        self.assertEqual((rc, out), (EX_OK, b"after\n"), err)
        self.assertEqual(seen, [tok + b"\r\n"])

    def test_static_redirect_same_host(self):
        target = self.fake(echo)
        d = self.start(config='service "st" { redirect to "127.0.0.1" '
                       'port %d }\n' % target.port)
        rc, out, err = self.oneport(self.target(d.host, d.port), "st",
                                    data=b"same host\n")
        self.assertEqual((rc, out), (EX_OK, b"same host\n"), err)

    def test_static_redirect_other_host(self):
        target = self.fake(echo)
        d = self.start(config='service "st" { redirect to "localhost" '
                       'port %d }\n' % target.port)
        t = self.target(d.host, d.port)
        rc, out, err = self.oneport(t, "st", data=b"x")
        self.assertEqual((rc, out), (EX_REDIRECT, b""), err)
        rc, out, err = self.oneport("-R", t, "st", data=b"elsewhere\n")
        self.assertEqual((rc, out), (EX_OK, b"elsewhere\n"), err)

    def test_redirect_target_down(self):
        srv = self.fake(answer(b"@1\r\n"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "x")
        self.assertEqual(rc, EX_CONNECT, err)
        self.assertIn("redirected", err)
