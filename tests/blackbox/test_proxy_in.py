# SPDX-License-Identifier: ISC
"""
PROXY protocol in (issue 13): HAProxy in front of oneportd sends v1 or
v2; from the trusted address the header is read away and the address it
carries is the client's, for the log, the UCSPI variables of a spawned
program and what a pass service is given. A header from anyone else, no
header from the balancer, and a header that stalls or lies are refused.
"""
import json
import os
import re
import socket
import struct
import subprocess

from harness import (IO_TIMEOUT, free_port, listening_ports, poll_until,
                     recv_exact, recv_until, recv_until_eof)
from test_names import (MARK, NamesCase, conn_line, conn_rx, openssl_hello,
                        sha)
from test_pass import ECHO, peer_text

HAPROXY = "/usr/sbin/haproxy"
CLIENT = "127.0.0.2"    # the client's address, as HAProxy sees it

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, tlvs=b"", command=0x21):
    """A PROXY v2 header over TCP (family from the addresses)."""
    if ":" in src[0]:
        fam = 0x21
        addrs = (socket.inet_pton(socket.AF_INET6, src[0]) +
                 socket.inet_pton(socket.AF_INET6, dst[0]))
    else:
        fam = 0x11
        addrs = socket.inet_aton(src[0]) + socket.inet_aton(dst[0])
    body = addrs + struct.pack(">HH", src[1], dst[1]) + tlvs
    return V2_SIG + bytes([command, fam]) + struct.pack(">H", len(body)) + \
        body


def parse_env(text):
    return dict(l.partition("=")[::2] for l in text.splitlines())


class ProxyIn(NamesCase):

    def daemon(self):
        self.sup = os.path.join(self.tmp, "sup.sock")
        d = self.start(config="""
timeout 1
proxy from 127.0.0.1
service "env" { command "/usr/bin/env" }
service "hash-a" { command "%s"; match tls sni "a.example.org" }
service "sup" {
	socket "%s"
	command "%s" "-e"
	match tls sni "p.example.org"
}
""" % (self.hash, self.sup, ECHO))
        d.wait_log(r"^sup: started pid \d+ on ")
        return d

    def haproxy(self, d):
        """HAProxy in TCP mode: v2 at self.v2, v1 at self.v1."""
        self.v2, self.v1 = free_port(), free_port()
        cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""global
	maxconn 64
defaults
	mode tcp
	timeout connect 5s
	timeout client 10s
	timeout server 10s
listen v2
	bind 127.0.0.1:%d
	server s 127.0.0.1:%d send-proxy-v2
listen v1
	bind 127.0.0.1:%d
	server s 127.0.0.1:%d send-proxy
""" % (self.v2, d.port, self.v1, d.port))
        err = open(os.path.join(self.tmp, "haproxy.err"), "w+")
        self.addCleanup(err.close)
        p = subprocess.Popen([HAPROXY, "-f", cfg, "-db"],
                             stdin=subprocess.DEVNULL,
                             stdout=err, stderr=subprocess.STDOUT)
        self.addCleanup(self.reap, p)
        poll_until(lambda: {self.v2, self.v1} <= listening_ports() or
                   p.poll() is not None,
                   what="haproxy listening")
        if p.poll() is not None:
            err.seek(0)
            self.fail("haproxy exited: " + err.read())
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()

    def via(self, port):
        """A client at CLIENT connected to HAProxy's port."""
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind((CLIENT, 0))
        s.settimeout(IO_TIMEOUT)
        s.connect(("127.0.0.1", port))
        return s

    def test_haproxy_v2_and_v1_spawned_program_sees_client(self):
        d = self.daemon()
        self.haproxy(d)
        for port in (self.v2, self.v1):
            s = self.via(port)
            s.sendall(b"env\r\n")
            out = recv_until_eof(s)
            self.assertTrue(out.startswith(b"+\r\n"), out)
            env = parse_env(out[3:].decode())
            me = s.getsockname()
            self.assertEqual((env.get("TCPREMOTEIP"),
                              env.get("TCPREMOTEPORT")),
                             (CLIENT, str(me[1])), env)
            conn_line(d, service="env", peer="%s:%d" % me,
                      via=re.compile(r"127\.0\.0\.1:\d+"))

    def test_haproxy_tls_hello_unread(self):
        d = self.daemon()
        self.haproxy(d)
        s = self.via(self.v2)
        hello = openssl_hello("a.example.org") + MARK
        s.sendall(hello)
        got = json.loads(recv_until_eof(s))
        self.assertEqual(got["sha256"], sha(hello))
        self.assertEqual(got["env"]["TCPREMOTEIP"], CLIENT)
        self.assertEqual(got["env"]["TCPREMOTEPORT"], str(s.getsockname()[1]))
        conn_line(d, service="hash-a", by="tls",
                  peer="%s:%d" % s.getsockname())

    def test_haproxy_pass_service_sees_client(self):
        d = self.daemon()
        self.haproxy(d)
        s = self.via(self.v2)
        s.sendall(b"sup\r\nabc")
        want = b"+\r\npeer=%s service=sup\r\nabc" % peer_text(s.getsockname())
        self.assertEqual(recv_exact(s, len(want)), want)
        # By SNI: no "+", the hello echoed back as it came.
        s = self.via(self.v1)
        hello = openssl_hello("p.example.org")
        s.sendall(hello)
        want = b"peer=%s service=sup\r\n" % peer_text(s.getsockname()) + hello
        self.assertEqual(recv_exact(s, len(want)), want)

    def test_handmade_v2_with_tlvs_and_ipv6(self):
        d = self.daemon()
        tlvs = b"\x01\x00\x02h2" + b"\x04\x00\x03abc"    # ALPN, NOOP
        for src in (("192.0.2.7", 4242), ("2001:db8::1", 65000)):
            dst = (("198.51.100.1", 443) if ":" not in src[0]
                   else ("2001:db8::2", 443))
            out = self.raw(d, v2_header(src, dst, tlvs) + b"env\r\n",
                           src="127.0.0.1")
            self.assertTrue(out.startswith(b"+\r\n"), out)
            env = parse_env(out[3:].decode())
            self.assertEqual((env.get("TCPREMOTEIP"),
                              env.get("TCPREMOTEPORT")),
                             (src[0], str(src[1])), env)

    def test_local_and_unknown_keep_the_connection_address(self):
        d = self.daemon()
        for hdr in (v2_header(("0.0.0.0", 0), ("0.0.0.0", 0), command=0x20),
                    b"PROXY UNKNOWN\r\n"):
            s = self.sock(d, src="127.0.0.1")
            s.sendall(hdr + b"env\r\n")
            out = recv_until_eof(s)
            self.assertTrue(out.startswith(b"+\r\n"), out)
            env = parse_env(out[3:].decode())
            self.assertEqual(env.get("TCPREMOTEPORT"),
                             str(s.getsockname()[1]), env)

    def test_header_from_untrusted_source_refused(self):
        d = self.daemon()
        v1 = b"PROXY TCP4 192.0.2.7 198.51.100.1 4242 443\r\n"
        self.assertEqual(self.raw(d, v1 + b"env\r\n", src="127.0.0.3"),
                         b"-bad request\r\n")
        conn_line(d, peer=re.compile(r"127\.0\.0\.3:\d+"), service="-",
                  result="-PROXY header from an untrusted source")
        v2 = v2_header(("192.0.2.7", 4242), ("198.51.100.1", 443))
        self.assertEqual(self.raw(d, v2 + b"env\r\n", src="127.0.0.3"),
                         b"-bad request\r\n")
        d.wait_log(conn_rx({"peer": re.compile(r"127\.0\.0\.3:\d+"),
                            "result": "-PROXY header from an untrusted "
                            "source"}), count=2)
        # The same source without a header is served as it always was.
        out = self.raw(d, b"env\r\n", src="127.0.0.3")
        self.assertTrue(out.startswith(b"+\r\n"), out)

    def test_trusted_source_without_header_refused(self):
        d = self.daemon()
        self.assertEqual(self.raw(d, b"env\r\n", src="127.0.0.1"),
                         b"-bad request\r\n")
        conn_line(d, peer=re.compile(r"127\.0\.0\.1:\d+"),
                  result="-no PROXY header from a trusted source")
        self.assertEqual(self.raw(d, openssl_hello("a.example.org"),
                                  src="127.0.0.1"), b"-bad request\r\n")

    def test_stalled_or_lying_header_gets_the_deadline(self):
        d = self.daemon()
        v2 = v2_header(("192.0.2.7", 4242), ("198.51.100.1", 443))
        # Half a header; a v2 length larger than what comes.
        lying = v2[:14] + struct.pack(">H", 200) + v2[16:]
        for hdr in (b"PROXY TCP4 192.0.2.7 198.5", v2[:20], lying):
            self.assertEqual(self.raw(d, hdr, src="127.0.0.1"),
                             b"-timeout\r\n")
        d.wait_log(conn_rx({"result": "-timeout"}), count=3)

    def test_v1_too_long_refused_at_once(self):
        d = self.daemon()
        hdr = b"PROXY TCP4 " + b"1" * 120 + b"\r\n"
        s = self.sock(d, src="127.0.0.1")
        s.sendall(hdr)
        out = recv_until(s, b"\r\n")
        self.assertRegex(out, rb"^-[^\r\n]+\r\n$")
        self.assertNotEqual(out, b"-timeout\r\n")
