# SPDX-License-Identifier: ISC
"""
The oneport command as a relay and as a program runner, against the real
oneportd and against fake servers: bytes arrive exactly, in both
directions; EOF on stdin is a half-close; nothing that arrives with the
"+" is lost; IPv6 works; the exec form gives the program the connection
on fd 6 and 7 (and 0 and 1 with -i) and the UCSPI environment.
"""
import json
import os
import subprocess
import time

from clienttest import (EX_OK, ONEPORT, ClientTestCase, IO_TIMEOUT,
                        FakeServer)


def echo_after(reply):
    """A fake server that answers reply to any request, in one send, and
    then echoes until the client shuts down."""
    def handler(srv, conn):
        srv.requests.append(FakeServer.read_line(conn))
        conn.sendall(reply)
        while True:
            b = conn.recv(65536)
            if not b:
                break
            conn.sendall(b)
    return handler


class Relay(ClientTestCase):

    def test_one_mib_both_ways(self):
        d = self.echo_daemon()
        data = os.urandom(1 << 20)
        rc, out, err = self.oneport(self.target(d.host, d.port), "echo",
                                    data=data)
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(len(out), len(data))
        self.assertTrue(out == data, "the bytes differ")

    def test_half_close(self):
        # wc answers only once it has read EOF: only a half-close (not a
        # close) lets the answer come back.
        d = self.start("-s", "count=wc -c")
        rc, out, err = self.oneport(self.target(d.host, d.port), "count",
                                    data=b"x" * 100000)
        self.assertEqual((rc, out.strip()), (EX_OK, b"100000"), err)

    def test_empty_stdin(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(self.target(d.host, d.port), "echo")
        self.assertEqual((rc, out), (EX_OK, b""), err)

    def test_service_closes_first(self):
        # stdin stays open; the command ends when the service closes.
        d = self.echo_daemon()
        p = subprocess.Popen([ONEPORT, self.target(d.host, d.port),
                              "daytime"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            rc = p.wait(IO_TIMEOUT)     # with stdin still open
            out, err = p.stdout.read(), p.stderr.read()
        finally:
            p.stdin.close()
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(rc, EX_OK, err)
        self.assertRegex(out, rb"^\w{3} \w{3} .* UTC \d{4}\n$")

    def test_service_closes_with_input_left(self):
        # The service answers and closes without reading: what it sent
        # still comes out, and that is a clean end.
        d = self.echo_daemon()
        for _ in range(3):
            rc, out, err = self.oneport(self.target(d.host, d.port),
                                        "daytime", data=b"x" * (4 << 20))
            self.assertEqual(rc, EX_OK, err)
            self.assertRegex(out, rb"^\w{3} \w{3} .* UTC \d{4}\n$")

    def test_data_in_the_same_packet_as_plus(self):
        srv = self.fake(echo_after(b"+\r\nDATA-AFTER-PLUS\n"))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo",
                                    data=b"mine\n")
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(out, b"DATA-AFTER-PLUS\nmine\n")
        self.assertEqual(srv.requests, [b"echo\r\n"])
        self.assertEqual(srv.errors, [])

    def test_plus_with_text_and_binary_after_it(self):
        # RFC 1078 allows text after "+"; what follows the LF is data,
        # a NUL included.
        srv = self.fake(echo_after(b"+Go ahead\r\n\0\xff\r\n"))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo",
                                    data=b"x")
        self.assertEqual((rc, out), (EX_OK, b"\0\xff\r\nx"), err)

    def test_reply_trickles_in(self):
        def handler(srv, conn):
            FakeServer.read_line(conn)
            for b in (b"+", b"\r", b"\nA", b"B"):
                conn.sendall(b)
                time.sleep(0.05)
        srv = self.fake(handler)
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual((rc, out), (EX_OK, b"AB"), err)

    def test_bare_lf_reply(self):
        srv = self.fake(echo_after(b"+\nX"))
        rc, out, err = self.oneport("127.0.0.1:%d" % srv.port, "echo")
        self.assertEqual((rc, out), (EX_OK, b"X"), err)

    def test_ipv6_loopback(self):
        d = self.echo_daemon(listen=("[::1]:0",))
        self.assertEqual(d.host, "::1")
        rc, out, err = self.oneport("-v", "[::1]:%d" % d.port, "echo",
                                    data=b"over v6\n")
        self.assertEqual((rc, out), (EX_OK, b"over v6\n"), err)
        self.assertIn("connected to ::1 port %d" % d.port, err)
        # A bare IPv6 address, with the port from -p.
        rc, out, err = self.oneport("-p", d.port, "::1", "echo",
                                    data=b"bare\n")
        self.assertEqual((rc, out), (EX_OK, b"bare\n"), err)

    def test_family_options(self):
        d = self.echo_daemon(listen=("127.0.0.1:0",))
        rc, out, err = self.oneport("-4", "127.0.0.1:%d" % d.port, "echo",
                                    data=b"4")
        self.assertEqual((rc, out), (EX_OK, b"4"), err)
        rc, out, err = self.oneport("-6", "127.0.0.1:%d" % d.port, "echo")
        self.assertNotEqual(rc, EX_OK)

    def test_case_of_name(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(self.target(d.host, d.port), "ECHO",
                                    data=b"up")
        self.assertEqual((rc, out), (EX_OK, b"up"), err)


# The program for the exec form: talks over fd 7 and 6 and reports.
PROG = r'''
import json, os, socket, sys
s = socket.socket(fileno=os.dup(7))
s.sendall(b"ping\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = os.read(6, 65536)
    if not b:
        break
    data += b
env = {k: os.environ.get(k) for k in ("PROTO", "TCPLOCALIP", "TCPLOCALPORT",
       "TCPREMOTEIP", "TCPREMOTEPORT", "TCPREMOTEHOST", "TCPREMOTEINFO")}
same = os.path.samestat(os.fstat(6), os.fstat(7))
print(json.dumps({"data": data.decode(), "env": env, "same": same,
                  "argv": sys.argv[1:]}))
'''


class Exec(ClientTestCase):

    def test_fd_6_and_7_and_ucspi_env(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(
            "-e", self.target(d.host, d.port), "echo",
            "python3", "-c", PROG, "-x", "arg",
            env={"TCPREMOTEHOST": "stale", "TCPREMOTEINFO": "stale"})
        self.assertEqual(rc, 0, err)
        got = json.loads(out)
        self.assertEqual(got["data"], "ping\n")
        self.assertTrue(got["same"])
        self.assertEqual(got["argv"], ["-x", "arg"])
        env = got["env"]
        self.assertEqual(env["PROTO"], "TCP")
        self.assertEqual(env["TCPREMOTEIP"], "127.0.0.1")
        self.assertEqual(env["TCPREMOTEPORT"], str(d.port))
        self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
        self.assertTrue(0 < int(env["TCPLOCALPORT"]) < 65536)
        self.assertIsNone(env["TCPREMOTEHOST"])
        self.assertIsNone(env["TCPREMOTEINFO"])

    def test_stdio_option(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(
            "-e", "-i", self.target(d.host, d.port), "echo",
            "sh", "-c", 'echo ping; read x; echo "got $x" >&2')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, b"")
        self.assertIn("got ping", err)

    def test_program_status_is_the_status(self):
        d = self.echo_daemon()
        rc, _, err = self.oneport("-e", self.target(d.host, d.port), "echo",
                                  "sh", "-c", "exit 7")
        self.assertEqual(rc, 7, err)

    def test_program_not_found(self):
        d = self.echo_daemon()
        rc, _, err = self.oneport("-e", self.target(d.host, d.port), "echo",
                                  "/nonexistent/prog")
        self.assertEqual(rc, 127, err)
        self.assertIn("/nonexistent/prog", err)

    def test_no_other_descriptors_leak(self):
        d = self.echo_daemon()
        rc, out, err = self.oneport(
            "-e", self.target(d.host, d.port), "echo",
            "sh", "-c", "ls /proc/$$/fd; true")
        self.assertEqual(rc, 0, err)
        fds = sorted(int(x) for x in out.split())
        # The shell's: stdin, stdout, stderr, 6 and 7; nothing of ours.
        self.assertEqual(fds, [0, 1, 2, 6, 7])
