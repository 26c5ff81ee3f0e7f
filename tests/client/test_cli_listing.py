# SPDX-License-Identifier: ISC
"""
Listing and locating functions: "oneport -l" (or the name "help") prints
the names HELP returns, one a line; "oneport -q" prints where a redirected
function lives without connecting to it.
"""
from clienttest import (EX_OK, EX_PROTOCOL, EX_REFUSED, ClientTestCase,
                        FakeServer)


def answer(reply):
    def handler(srv, conn):
        srv.requests.append(FakeServer.read_line(conn))
        conn.sendall(reply)
    return handler


class Listing(ClientTestCase):

    def test_help_listing(self):
        d = self.echo_daemon()
        t = self.target(d.host, d.port)
        rc, out, err = self.oneport("-l", t)
        self.assertEqual((rc, out), (EX_OK, b"daytime\necho\n"), err)
        # The word HELP, in any case, is the same; it can name nothing.
        for word in ("help", "HELP", "Help"):
            rc, out2, err = self.oneport(t, word)
            self.assertEqual((rc, out2), (EX_OK, out), err)
            rc, out2, err = self.oneport("-l", t, word)
            self.assertEqual((rc, out2), (EX_OK, out), err)

    def test_empty_listing(self):
        srv = self.fake(answer(b""))
        rc, out, err = self.oneport("-l", "127.0.0.1:%d" % srv.port)
        self.assertEqual((rc, out), (EX_OK, b""), err)
        self.assertEqual(srv.requests, [b"HELP\r\n"])

    def test_listing_bare_lf_and_many_names(self):
        names = [b"n%03d" % i for i in range(300)]
        srv = self.fake(answer(b"".join(n + b"\n" for n in names)))
        rc, out, err = self.oneport("-l", "127.0.0.1:%d" % srv.port)
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(out.split(), names)

    def test_help_disabled(self):
        srv = self.fake(answer(b"-help disabled\r\n"))
        rc, out, err = self.oneport("-l", "127.0.0.1:%d" % srv.port)
        self.assertEqual((rc, out), (EX_REFUSED, b""))
        self.assertIn("-help disabled", err)

    def test_bad_listing(self):
        for reply in (b"echo\r\n+x\r\n", b"echo\r\nda ytime\r\n",
                      b"+\r\n", b"echo\r\nunfinished"):
            with self.subTest(reply=reply):
                srv = self.fake(answer(reply))
                rc, _, err = self.oneport("-l", "127.0.0.1:%d" % srv.port)
                self.assertEqual(rc, EX_PROTOCOL, err)


class Query(ClientTestCase):

    def test_query_static_redirect(self):
        d = self.start(config='service "far" { redirect to '
                       '"archive.example" port 7002 }\n'
                       'service "v6" { redirect to "[2001:db8::1]" '
                       'port 9 }\n')
        t = self.target(d.host, d.port)
        rc, out, err = self.oneport("-q", t, "far")
        self.assertEqual((rc, out), (EX_OK, b"archive.example 7002\n"), err)
        rc, out, err = self.oneport("-q", t, "v6")
        self.assertEqual((rc, out), (EX_OK, b"2001:db8::1 9\n"), err)

    def test_query_handoff_service(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport("-q", self.target(d.host, d.port),
                                    "echo")
        self.assertEqual((rc, out), (EX_REFUSED, b""))
        self.assertIn("-not redirectable", err)

    def test_query_without_host_is_the_address_called(self):
        srv = self.fake(answer(b"@4242\r\n"))
        rc, out, err = self.oneport("-q", "127.0.0.1:%d" % srv.port, "x")
        self.assertEqual((rc, out), (EX_OK, b"127.0.0.1 4242\n"), err)
        self.assertEqual(srv.requests, [b"?x\r\n"])

    def test_query_answered_plus(self):
        # An RFC 1078 server that took "?x" for a name.
        srv = self.fake(answer(b"+\r\n"))
        rc, out, err = self.oneport("-q", "127.0.0.1:%d" % srv.port, "x")
        self.assertEqual((rc, out), (EX_PROTOCOL, b""))
        self.assertIn("does not know queries", err)
