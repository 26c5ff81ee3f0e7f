# SPDX-License-Identifier: ISC
"""
Each way the oneport command can fail has its own exit status and says why
on stderr: refused by the server (1), usage (2), cannot connect (3), timed
out (4), protocol error (5), a redirect to another host not followed (6).
"""
import socket
import threading

from clienttest import (EX_CONNECT, EX_OK, EX_PROTOCOL, EX_REDIRECT,
                        EX_REFUSED, EX_TIMEOUT, EX_USAGE, ClientTestCase,
                        FakeServer, free_port)


def answer(reply):
    def handler(srv, conn):
        srv.requests.append(FakeServer.read_line(conn))
        if reply:
            conn.sendall(reply)
    return handler


class Errors(ClientTestCase):

    def test_unknown_service_is_refused(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(self.target(d.host, d.port), "nosuch",
                                    data=b"never sent")
        self.assertEqual((rc, out), (EX_REFUSED, b""))
        self.assertIn("-unknown service", err)

    def test_other_reasons_are_passed_on(self):
        srv = self.fake(answer(b"-service busy\r\n"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_REFUSED)
        self.assertIn("-service busy", err)

    def test_closed_port(self):
        port = free_port()
        rc, out, err = self.oneport("127.0.0.1:%d" % port, "echo")
        self.assertEqual((rc, out), (EX_CONNECT, b""))
        self.assertIn("Connection refused", err)

    def test_server_never_answers(self):
        gone = threading.Event()

        def handler(srv, conn):
            FakeServer.read_line(conn)
            gone.wait(10)       # says nothing until the test ends
        srv = self.fake(handler)
        self.addCleanup(gone.set)
        (rc, out, err), took = self.elapsed(lambda: self.oneport(
            "-t", "1", "127.0.0.1:%d" % srv.port, "echo"))
        self.assertEqual((rc, out), (EX_TIMEOUT, b""), err)
        self.assertIn("timed out", err)
        self.assertTrue(0.9 <= took < 5, took)

    def test_deadline_is_absolute(self):
        # A server that trickles one byte of reply at a time, never the
        # LF, gets no more time than one that says nothing.
        gone = threading.Event()

        def handler(srv, conn):
            FakeServer.read_line(conn)
            conn.sendall(b"-")
            while not gone.wait(0.2):
                conn.sendall(b"x")
        srv = self.fake(handler)
        self.addCleanup(gone.set)
        (rc, _, err), took = self.elapsed(lambda: self.oneport(
            "-t", "1", "127.0.0.1:%d" % srv.port, "echo"))
        self.assertEqual(rc, EX_TIMEOUT, err)
        self.assertTrue(took < 5, took)

    def test_garbage_reply(self):
        srv = self.fake(answer(b"HTTP/1.0 400 Bad Request\r\n\r\n"))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual((rc, out), (EX_PROTOCOL, b""))
        self.assertIn("bad reply", err)
        self.assertIn("HTTP/1.0 400", err)

    def test_binary_reply_is_shown_escaped(self):
        srv = self.fake(answer(b"\x16\x03\x01\x00\n"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_PROTOCOL)
        self.assertIn("\\x16\\x03\\x01", err)

    def test_bad_redirect_reply(self):
        srv = self.fake(answer(b"@0\r\n"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_PROTOCOL)
        self.assertIn("bad port", err)

    def test_reply_too_long(self):
        srv = self.fake(answer(b"-" + b"x" * 600 + b"\r\n"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_PROTOCOL)
        self.assertIn("line too long", err)

    def test_closed_without_reply(self):
        srv = self.fake(answer(b""))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_PROTOCOL)
        self.assertIn("without a reply", err)

    def test_closed_inside_reply(self):
        srv = self.fake(answer(b"-unkno"))
        rc, _, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual(rc, EX_PROTOCOL)
        self.assertIn("inside its reply", err)

    def test_redirect_to_another_host_needs_R(self):
        # The rendezvous server was called as 127.0.0.1; "localhost" is
        # another name, whatever it resolves to.
        target = self.fake(answer(b"+\r\nthere\n"))
        srv = self.fake(answer(b"@%d host=localhost\r\n" % target.port))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual((rc, out), (EX_REDIRECT, b""))
        self.assertIn("another host", err)
        self.assertIn("-R", err)
        self.assertEqual(target.requests, [])

    def test_unresolvable_host(self):
        rc, _, err = self.oneport("-t", "5", "nonexistent.invalid:7", "echo")
        self.assertIn(rc, (EX_CONNECT, EX_TIMEOUT))
        self.assertIn("nonexistent.invalid", err)

    def test_usage(self):
        d = self.echo_daemon()
        t = self.target(d.host, d.port)
        for args in ((), (t,), (t, "echo", "extra"), ("-x", t, "echo"),
                     ("-t", "0", t, "echo"), ("-t", "x", t, "echo"),
                     ("-l", "-q", t, "echo"), ("-i", t, "echo"),
                     ("-e", t, "echo"), ("-l", t, "echo"), ("-q", t),
                     ("127.0.0.1:", "echo"), (":7", "echo"),
                     ("[::1", "echo"), ("[::1]7", "echo"),
                     ("-p", "7", t, "echo"),
                     (t, "bad name"), (t, "a" * 16), (t, "-x-"),
                     (t, "?echo"), (t, "echo\r\nhelp"),
                     ("-p", "nosuchport", "127.0.0.1", "echo")):
            with self.subTest(args=args):
                rc, out, err = self.oneport(*args)
                self.assertEqual((rc, out), (EX_USAGE, b""), err)
                self.assertTrue(err)

    def test_success_is_zero(self):
        d = self.echo_daemon()
        rc, _, err = self.oneport(self.target(d.host, d.port), "echo")
        self.assertEqual(rc, EX_OK, err)

    def test_nothing_sent_before_the_reply(self):
        # The command must not send stdin's bytes to a server that has
        # not said "+": here the server refuses and reads what came.
        got = []

        def handler(srv, conn):
            got.append(FakeServer.read_line(conn))
            conn.sendall(b"-no\r\n")
            conn.settimeout(2)
            try:
                while True:
                    b = conn.recv(4096)
                    if not b:
                        break
                    got.append(b)
            except socket.timeout:
                pass
        srv = self.fake(handler)
        rc, _, _ = self.oneport("127.0.0.1:%d" % srv.port, "echo",
                                data=b"secret")
        self.assertEqual(rc, EX_REFUSED)
        self.assertEqual(got, [b"echo\r\n"])
