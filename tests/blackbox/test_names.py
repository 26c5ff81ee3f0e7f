# SPDX-License-Identifier: ISC
"""
Implicit names (issue 13): clients that send no TCPMUX line, chosen by
their first bytes, with the real programs of the field on both ends:
openssl s_client and curl to stunnel4 in inetd mode, curl to an HTTP
program, the OpenSSH client to "sshd -i", a client that waits for a
server that speaks first. A hashing program proves that the service gets
every byte the client sent, unread, whatever the segments and records;
each refusal is checked byte for byte, in the client's own protocol.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

from harness import (IS_ROOT, DaemonTestCase, recv_exact, recv_until,
                     recv_until_eof)
from test_pass import ECHO, peer_text

OPENSSL = "/usr/bin/openssl"
CURL = "/usr/bin/curl"
STUNNEL = "/usr/bin/stunnel4"
SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
RUN_TIMEOUT = 15

# The end of what a client sends the hashing program: it reads to here.
MARK = b"\n--oneport-test-end--\n"

ENV_KEYS = ("ONEPORT_SERVICE", "ONEPORT_PROTO", "ONEPORT_MATCH",
            "ONEPORT_ALPN", "TCPREMOTEIP", "TCPREMOTEPORT")

# Reads the client's stream to MARK (or EOF) and answers one JSON line:
# how many bytes, their SHA-256 and the variables it was started with.
HASH = r'''#!/usr/bin/python3
import hashlib, json, os
MARK = %r
data = b""
while not data.endswith(MARK):
    chunk = os.read(0, 65536)
    if not chunk:
        break
    data += chunk
env = {k: os.environ[k] for k in %r if k in os.environ}
out = {"len": len(data), "sha256": hashlib.sha256(data).hexdigest(),
       "env": env}
os.write(1, json.dumps(out).encode() + b"\n")
''' % (MARK, ENV_KEYS)

# An HTTP/1.x server of one request: reads the head (CRLF or bare LF
# line ends) and a Content-Length body, answers 200 with a JSON body:
# the head as it came, the hash of all it read, its variables.
HTTPD = r'''#!/usr/bin/python3
import hashlib, json, os, re
data = b""
end = -1
while end < 0:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    data += chunk
    ends = [i + len(s) for s in (b"\r\n\r\n", b"\n\n")
            for i in [data.find(s)] if i >= 0]
    end = min(ends) if ends else -1
head = data[:end] if end >= 0 else data
m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
want = len(head) + (int(m.group(1)) if m else 0)
while len(data) < want:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    data += chunk
env = {k: os.environ[k] for k in %r if k in os.environ}
body = json.dumps({"head": head.decode("latin-1"), "len": len(data),
                   "sha256": hashlib.sha256(data).hexdigest(),
                   "env": env}).encode()
os.write(1, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         b"Content-Length: %%d\r\nConnection: close\r\n\r\n" %% len(body)
         + body)
''' % (ENV_KEYS,)

# A server that speaks first, as SMTP does: a greeting, then one answer.
BANNER = r'''#!/usr/bin/python3
import os, sys
os.write(1, b"220 hello " + os.environ.get("ONEPORT_PROTO", "-").encode()
         + b"\r\n")
line = sys.stdin.buffer.readline()
os.write(1, b"250 got " + line)
'''

# What stunnel4 runs behind the TLS it terminates: an HTTP server that
# reads the request head before it answers (a program that answers and
# exits before the handshake is over may have its answer dropped).
RESP = r'''#!/usr/bin/python3
import sys
for line in sys.stdin.buffer:
    if line in (b"\r\n", b"\n"):
        break
sys.stdout.buffer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                        b"\r\nhello from " + sys.argv[1].encode() + b"\n")
'''

TLS_ALERT_UNKNOWN = b"\x15\x03\x03\x00\x02\x02\x70"
TLS_ALERT_BUSY = b"\x15\x03\x03\x00\x02\x02\x50"
TLS_ALERT_MALFORMED = b"\x15\x03\x03\x00\x02\x02\x32"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def http_refusal(status, reason, retry=False):
    """The exact response src/common/refusal.c makes."""
    return (b"HTTP/1.1 " + status + b"\r\n" +
            (b"Retry-After: 5\r\n" if retry else b"") +
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s\n" % (len(reason) + 1, reason))


# ---- a TLS ClientHello, built by hand ----

def u8(n):
    return bytes([n])


def u16(n):
    return struct.pack(">H", n)


def u24(n):
    return struct.pack(">I", n)[1:]


def ext(typ, body):
    return u16(typ) + u16(len(body)) + body


def client_hello(sni=None, alpn=(), size=None, ech=False):
    """A TLS 1.3 ClientHello handshake message (type, length, body); size:
    pad (extension 21) to this many bytes in all."""
    exts = b""
    if sni is not None:
        n = sni.encode()
        entry = u8(0) + u16(len(n)) + n
        exts += ext(0, u16(len(entry)) + entry)
    if alpn:
        names = b"".join(u8(len(a)) + a.encode() for a in alpn)
        exts += ext(16, u16(len(names)) + names)
    exts += ext(43, b"\x04\x03\x04\x03\x03")                # versions
    exts += ext(10, u16(2) + u16(29))                        # x25519
    exts += ext(13, u16(4) + u16(0x0804) + u16(0x0403))      # sig algs
    exts += ext(51, u16(36) + u16(29) + u16(32) + os.urandom(32))
    if ech:
        exts += ext(0xfe0d, b"\x00\x00\x01\x00\x01\x07" + u16(32) +
                    os.urandom(32) + u16(160) + os.urandom(160))
    fixed = (b"\x03\x03" + os.urandom(32) + u8(32) + os.urandom(32) +
             u16(4) + b"\x13\x01\x13\x02" + b"\x01\x00")
    if size is not None:
        pad = size - (4 + len(fixed) + 2 + len(exts) + 4)
        assert pad >= 0, "hello too big for size %d" % size
        exts += ext(21, bytes(pad))
    body = fixed + u16(len(exts)) + exts
    return b"\x01" + u24(len(body)) + body


def records(hs, cuts=()):
    """The handshake bytes in TLS records, a new one at each cut."""
    out, prev = b"", 0
    for c in list(cuts) + [len(hs)]:
        frag = hs[prev:c]
        assert 0 < len(frag) <= 16384
        out += b"\x16\x03\x01" + u16(len(frag)) + frag
        prev = c
    return out


def openssl_hello(sni=None, alpn=None):
    """The records of the ClientHello Python's OpenSSL would send."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def conn_rx(want):
    """A regex for a log line of a connection with each key=value of want
    (by=tls, sni=..., service=...), in any order; a value is a string,
    or a compiled regex."""
    return r"^conn(?=\s)" + "".join(
        r"(?=.*(?:^|\s)%s=%s(?:\s|$))"
        % (k, v.pattern if isinstance(v, re.Pattern) else re.escape(v))
        for k, v in want.items())


def conn_line(d, timeout=5.0, **want):
    return d.wait_log(conn_rx(want), timeout=timeout)[0].string


def conns(d, **want):
    """The log lines of connections so far that conn_rx(want) matches."""
    rx = re.compile(conn_rx(want))
    return [l for l in d.log_lines() if rx.search(l)]


def tls_routes(prefix, command):
    """A config with a service PREFIX-x for each kind of TLS rule, x one
    of a, w, acme, h2, any; command(name) gives each one's command."""
    rules = (("a", 'sni "a.example.org"'), ("w", 'sni "*.w.example.org"'),
             ("acme", 'alpn "acme-tls/1"'), ("h2", 'alpn "h2"'),
             ("any", ""))
    return "timeout 8\n" + "".join(
        'service "%s-%s" { command %s; match tls %s }\n'
        % (prefix, x, command("%s-%s" % (prefix, x)), rule)
        for x, rule in rules)


_CERT = {}


def certificate():
    """One self-signed certificate (and key) for every name the tests
    use, made once, readable by the services' user."""
    if not _CERT:
        d = tempfile.mkdtemp(prefix="oneport-cert-")
        os.chmod(d, 0o755)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=a.example.org",
                        "-addext", "subjectAltName=DNS:a.example.org,"
                        "DNS:*.w.example.org,DNS:acme.example.org,"
                        "DNS:default.example.org",
                        "-keyout", key, "-out", cert], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)
        _CERT.update(dir=d, cert=cert, key=key)
    return _CERT["cert"], _CERT["key"]


def tearDownModule():
    if _CERT:
        shutil.rmtree(_CERT["dir"], True)


class NamesCase(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.hash = self.script("hash.py", HASH)
        self.httpd = self.script("httpd.py", HTTPD)

    def stunnel(self, name):
        """A command line (for a service block) of stunnel4 in inetd
        mode: TLS on fd 0, then "hello from NAME" over HTTP/1.0."""
        cert, key = certificate()
        resp = self.script("resp.py", RESP)
        conf = os.path.join(self.tmp, "stunnel-%s.conf" % name)
        with open(conf, "w") as f:
            f.write("pid =\nsyslog = no\nforeground = yes\ndebug = 3\n"
                    "cert = %s\nkey = %s\nexec = %s\nexecArgs = resp.py %s\n"
                    % (cert, key, resp, name))
        os.chmod(conf, 0o644)
        return '"%s" "%s"' % (STUNNEL, conf)

    def hashed(self, d, payload, src=None, segment=None, pause=0.0):
        """Sends payload then MARK (in segments of segment bytes, with
        TCP_NODELAY and pause seconds between them), returns what the
        hashing program answered, having checked that it read exactly
        what was sent."""
        s = self.sock(d, src=src)
        s.settimeout(10)
        sent = payload + MARK
        if segment is None:
            s.sendall(sent)
        else:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(sent), segment):
                s.sendall(sent[i:i + segment])
                if pause:
                    time.sleep(pause)
        out = recv_until_eof(s, timeout=10)
        try:
            got = json.loads(out)
        except ValueError:
            self.fail("no answer of the hashing program: %r" % out[:200])
        self.assertEqual((got["len"], got["sha256"]), (len(sent), sha(sent)),
                         "the service did not read what the client sent")
        got["local"] = s.getsockname()
        return got

    def raw(self, d, data, src=None, timeout=5.0):
        s = self.sock(d, src=src)
        s.sendall(data)
        return recv_until_eof(s, timeout=timeout)

    def refused(self, d, data, want, **fields):
        """data from a new client is answered exactly want, then a close,
        and the log's line for it has fields."""
        self.assertEqual(self.raw(d, data), want)
        return conn_line(d, **fields)

    def run_tool(self, argv, timeout=RUN_TIMEOUT, input=b""):
        return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def curl(self, *args):
        p = self.run_tool([CURL, "-sS", "--max-time", "10"] + list(args))
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout


class TlsRouting(NamesCase):
    """Routing by SNI and ALPN, each hello checked byte for byte."""

    def daemon(self):
        h = '"%s"' % self.hash
        return self.start(config=tls_routes("hash", lambda n: h) + """
service "hash-b2" { command %s; match tls sni "b.example.org" alpn "h2" }
service "hash-tcpmux" { command %s }
""" % (h, h))

    def env(self, got):
        return {k: v for k, v in got["env"].items()
                if k.startswith("ONEPORT_")}

    def test_sni_exact_real_openssl_hello(self):
        d = self.daemon()
        got = self.hashed(d, openssl_hello("a.example.org"))
        self.assertEqual(self.env(got), {"ONEPORT_SERVICE": "hash-a",
                                         "ONEPORT_PROTO": "tls",
                                         "ONEPORT_MATCH": "a.example.org"})
        self.assertEqual(got["env"]["TCPREMOTEPORT"], str(got["local"][1]))
        conn_line(d, service="hash-a", by="tls", sni="a.example.org")

    def test_sni_wildcard_one_label_case_folded(self):
        d = self.daemon()
        got = self.hashed(d, records(client_hello("X.W.Example.ORG")))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-w")
        self.assertEqual(got["env"]["ONEPORT_MATCH"], "x.w.example.org")
        # "*" is one label: two do not match it, and fall to the default.
        got = self.hashed(d, records(client_hello("y.x.w.example.org")))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-any")
        got = self.hashed(d, records(client_hello("w.example.org")))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-any")

    def test_alpn_routes_before_sni(self):
        d = self.daemon()
        got = self.hashed(d, openssl_hello("a.example.org",
                                           ["http/1.1", "acme-tls/1"]))
        self.assertEqual(self.env(got), {"ONEPORT_SERVICE": "hash-acme",
                                         "ONEPORT_PROTO": "tls",
                                         "ONEPORT_MATCH": "a.example.org",
                                         "ONEPORT_ALPN": "acme-tls/1"})
        conn_line(d, service="hash-acme", by="tls", alpn="acme-tls/1")
        # The first name in the client's order that a rule names.
        got = self.hashed(d, records(client_hello(
            "a.example.org", ["x-none", "h2", "acme-tls/1"])))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-h2")
        self.assertEqual(got["env"]["ONEPORT_ALPN"], "h2")
        got = self.hashed(d, records(client_hello(
            None, ["acme-tls/1", "h2"])))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-acme")

    def test_sni_and_alpn_most_specific(self):
        d = self.daemon()
        got = self.hashed(d, records(client_hello("b.example.org", ["h2"])))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-b2")
        got = self.hashed(d, records(client_hello("b.example.org",
                                                  ["http/1.1"])))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-any")

    def test_no_sni_goes_to_match_tls(self):
        d = self.daemon()
        got = self.hashed(d, openssl_hello(None))
        self.assertEqual(self.env(got), {"ONEPORT_SERVICE": "hash-any",
                                         "ONEPORT_PROTO": "tls"})

    def test_tcpmux_name_still_served(self):
        d = self.daemon()
        s = self.sock(d)
        s.sendall(b"hash-tcpmux\r\nabc" + MARK)
        out = recv_until_eof(s)
        self.assertTrue(out.startswith(b"+\r\n"), out)
        got = json.loads(out[3:])
        self.assertEqual(got["sha256"], sha(b"abc" + MARK))
        self.assertEqual(got["env"].get("ONEPORT_PROTO", "tcpmux"), "tcpmux")

    def test_ech_outer_name_decides(self):
        d = self.daemon()
        got = self.hashed(d, records(client_hello("a.example.org",
                                                  ech=True)))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-a")


class TlsBytes(NamesCase):
    """The hello however it comes: dribbled, across records, followed by
    more; the program reads all of it."""

    def daemon(self):
        return self.start(config="""
timeout 8
service "hash-a" { command "%s"; match tls sni "a.example.org" }
""" % self.hash)

    def test_12k_hello_dribbled_in_50_byte_segments(self):
        d = self.daemon()
        fe = d.frontend_pid()
        hello = records(client_hello("a.example.org", ["h2"], size=12288))
        cpu0, t0 = cpu_seconds(fe), time.monotonic()
        got = self.hashed(d, hello, segment=50, pause=0.006)
        wall, cpu = time.monotonic() - t0, cpu_seconds(fe) - cpu0
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-a")
        # A frontend that spins on a peeked socket while the hello
        # trickles in burns the whole time on a CPU.
        self.assertLess(cpu, wall / 3, "frontend used %.2fs CPU in %.2fs"
                        % (cpu, wall))

    def test_hello_over_two_records(self):
        d = self.daemon()
        hs = client_hello("a.example.org", ["h2"])
        # Inside the handshake header, inside the SNI, near the end.
        for cut in (1, 3, 60, len(hs) - 1):
            got = self.hashed(d, records(hs, [cut]))
            self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-a",
                             "cut at %d" % cut)

    def test_hello_beyond_one_record(self):
        d = self.daemon()
        hs = client_hello("a.example.org", size=20000)
        got = self.hashed(d, records(hs, [16000]), segment=1400, pause=0.002)
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-a")

    def test_junk_after_hello_delivered(self):
        d = self.daemon()
        junk = os.urandom(3000) + b"\x16\x03\x01\x00\x05junk" + b"GET /\r\n"
        got = self.hashed(d, openssl_hello("a.example.org") + junk)
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "hash-a")

    def test_decided_on_the_hello_alone(self):
        # The service is started before the client sends anything more:
        # the frontend neither waits for more nor takes any byte.
        d = self.daemon()
        hello = openssl_hello("a.example.org")
        s = self.sock(d)
        s.sendall(hello)
        conn_line(d, service="hash-a", by="tls")
        s.sendall(b"more" + MARK)
        got = json.loads(recv_until_eof(s))
        self.assertEqual(got["sha256"], sha(hello + b"more" + MARK))


class TlsRefusals(NamesCase):
    """No default rule: an unknown name, no name, a busy service, a
    malformed or stalled hello, each refused in TLS terms."""

    def daemon(self):
        return self.start(config="""
timeout 1
service "hash-a" { command "%s"; match tls sni "a.example.org" }
service "hold" {
	command "/bin/cat"
	match tls sni "busy.example.org"
	max instances 1
}
""" % self.hash)

    def test_unknown_sni_alert(self):
        d = self.daemon()
        self.refused(d, openssl_hello("zzz.example.net"), TLS_ALERT_UNKNOWN,
                     by="tls", sni="zzz.example.net",
                     result="-unknown service")

    def test_no_sni_without_default_alert(self):
        d = self.daemon()
        self.refused(d, openssl_hello(None), TLS_ALERT_UNKNOWN, by="tls",
                     result="-unknown service")

    def test_openssl_client_told_unrecognized_name(self):
        d = self.daemon()
        p = self.run_tool([OPENSSL, "s_client", "-connect",
                           "127.0.0.1:%d" % d.port, "-servername",
                           "zzz.example.net"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"unrecognized name", p.stdout + p.stderr)

    def test_busy_alert(self):
        d = self.daemon()
        first = self.sock(d)
        first.sendall(openssl_hello("busy.example.org"))
        conn_line(d, service="hold", by="tls")
        self.refused(d, openssl_hello("busy.example.org"), TLS_ALERT_BUSY,
                     service="hold", by="tls", result="-service busy")

    def test_not_a_client_hello_alert(self):
        d = self.daemon()
        server_hello = b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03"
        self.refused(d, server_hello, TLS_ALERT_MALFORMED, by="tls")

    def test_stalled_hello_closed_at_deadline(self):
        d = self.daemon()
        hello = openssl_hello("a.example.org")
        self.refused(d, hello[:len(hello) // 2], b"", result="-timeout")


class PassDelivery(NamesCase):
    """A running service (liboneport's example, echoing what it reads)
    is handed the client with every byte unread and no "+"."""

    def test_tls_http_ssh_unread(self):
        sup = os.path.join(self.tmp, "sup.sock")
        d = self.start(config="""
timeout 5
service "sup" {
	socket "%s"
	command "%s" "-e"
	match tls sni "p.example.org"
	match http host "p.example.org"
	match ssh
}
""" % (sup, ECHO))
        d.wait_log(r"^sup: started pid \d+ on ")
        tls = records(client_hello("p.example.org", ["h2"], size=12288),
                      [5000]) + os.urandom(2000)
        http = b"POST / HTTP/1.1\r\nHost: p.example.org\r\n\r\n" + \
            os.urandom(5000)
        ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n" + os.urandom(500)
        for data, by in ((tls, "tls"), (http, "http"), (ssh, "ssh")):
            s = self.sock(d)
            s.sendall(data)
            want = b"peer=%s service=sup\r\n" % peer_text(s.getsockname())
            self.assertEqual(recv_exact(s, len(want) + len(data)),
                             want + data, by)
            conn_line(d, service="sup", by=by)


class RealTls(NamesCase):
    """openssl s_client and curl finish real handshakes with stunnel4,
    which oneportd started with the hello unread."""

    def daemon(self):
        return self.start(config=tls_routes("tls", self.stunnel))

    def s_client(self, d, *args):
        cert, _ = certificate()
        p = self.run_tool([OPENSSL, "s_client", "-connect",
                           "127.0.0.1:%d" % d.port, "-CAfile", cert,
                           "-verify_return_error", "-ign_eof"] + list(args),
                          input=b"GET / HTTP/1.0\r\n\r\n")
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn("Verify return code: 0 (ok)", out)
        return out

    def test_s_client_by_sni(self):
        d = self.daemon()
        out = self.s_client(d, "-servername", "a.example.org",
                            "-verify_hostname", "a.example.org")
        self.assertIn("hello from tls-a\n", out)
        out = self.s_client(d, "-servername", "q.w.example.org",
                            "-verify_hostname", "q.w.example.org")
        self.assertIn("hello from tls-w\n", out)
        conn_line(d, service="tls-w", by="tls", sni="q.w.example.org")

    def test_s_client_by_alpn(self):
        d = self.daemon()
        out = self.s_client(d, "-servername", "acme.example.org",
                            "-alpn", "acme-tls/1")
        self.assertIn("hello from tls-acme\n", out)

    def test_s_client_without_sni(self):
        d = self.daemon()
        out = self.s_client(d, "-noservername")
        self.assertIn("hello from tls-any\n", out)

    def test_curl_https_resolve(self):
        d = self.daemon()
        cert, _ = certificate()
        res = "a.example.org:%d:127.0.0.1" % d.port
        url = "https://a.example.org:%d/" % d.port
        self.assertEqual(self.curl("--http1.1", "--cacert", cert,
                                   "--resolve", res, url),
                         b"hello from tls-a\n")
        # curl offers h2 unless told not to: the ALPN rule wins.
        self.assertEqual(self.curl("--cacert", cert, "--resolve", res, url),
                         b"hello from tls-h2\n")
        conn_line(d, service="tls-h2", by="tls", alpn="h2",
                  sni="a.example.org")


class Http(NamesCase):

    def daemon(self):
        h = '"%s"' % self.httpd
        return self.start(config="""
timeout 1
service "web-a" { command %s; match http host "a.example.org" "::1" }
service "web-w" { command %s; match http host "*.w.example.org" }
service "web-b" { command %s; match http host "b.example.org" }
service "web-busy" {
	command "/bin/cat"
	match http host "busy.example.org"
	max instances 1
}
""" % (h, h, h))

    def body(self, out):
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), out[:200])
        return json.loads(body)

    def test_curl_with_host_header(self):
        d = self.daemon()
        got = json.loads(self.curl("-H", "Host: A.Example.ORG:8080",
                                   "http://127.0.0.1:%d/p?q=1" % d.port))
        self.assertTrue(got["head"].startswith(
            "GET /p?q=1 HTTP/1.1\r\nHost: A.Example.ORG:8080\r\n"), got)
        self.assertIn("User-Agent: curl/", got["head"])
        self.assertEqual({k: got["env"].get(k) for k in
                          ("ONEPORT_SERVICE", "ONEPORT_PROTO",
                           "ONEPORT_MATCH")},
                         {"ONEPORT_SERVICE": "web-a", "ONEPORT_PROTO": "http",
                          "ONEPORT_MATCH": "a.example.org"})
        conn_line(d, service="web-a", by="http", host="a.example.org")

    def test_curl_resolve_and_wildcard(self):
        d = self.daemon()
        for name, svc in (("a.example.org", "web-a"),
                          ("z.w.example.org", "web-w")):
            got = json.loads(self.curl(
                "--resolve", "%s:%d:127.0.0.1" % (name, d.port),
                "http://%s:%d/" % (name, d.port)))
            self.assertEqual(got["env"]["ONEPORT_SERVICE"], svc)
            self.assertEqual(got["env"]["ONEPORT_MATCH"], name)

    def test_curl_post_body_unread(self):
        d = self.daemon()
        payload = os.urandom(30000)
        path = os.path.join(self.tmp, "payload")
        with open(path, "wb") as f:
            f.write(payload)
        got = json.loads(self.curl("-H", "Host: b.example.org",
                                   "-H", "Expect:", "--data-binary",
                                   "@" + path,
                                   "http://127.0.0.1:%d/up" % d.port))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web-b")
        head = got["head"].encode("latin-1")
        self.assertEqual(got["len"], len(head) + len(payload))
        self.assertEqual(got["sha256"], sha(head + payload))

    def test_absolute_form(self):
        d = self.daemon()
        got = json.loads(self.curl("-x", "http://127.0.0.1:%d" % d.port,
                                   "http://b.example.org/x"))
        self.assertTrue(got["head"].startswith(
            "GET http://b.example.org/x HTTP/1.1\r\n"), got)
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web-b")
        conn_line(d, service="web-b", by="http", host="b.example.org")
        # The target names the host, whatever Host says.
        req = (b"GET http://B.example.org:81/y HTTP/1.1\r\n"
               b"Host: a.example.org\r\n\r\n")
        got = self.body(self.raw(d, req))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web-b")
        self.assertEqual(got["head"].encode("latin-1"), req)

    def test_bare_lf_and_ipv6_literal(self):
        d = self.daemon()
        req = b"GET / HTTP/1.1\nHost: a.example.org\nX: y\n\n"
        got = self.body(self.raw(d, req))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web-a")
        req = b"GET / HTTP/1.1\r\nhost:  [::1]:8443 \r\n\r\n"
        got = self.body(self.raw(d, req))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web-a")
        self.assertEqual(got["head"].encode("latin-1"), req)

    def test_unknown_host_421(self):
        d = self.daemon()
        self.refused(d, b"GET / HTTP/1.1\r\nHost: zzz.example.net\r\n\r\n",
                     http_refusal(b"421 Misdirected Request",
                                  b"unknown service"),
                     by="http", host="zzz.example.net",
                     result="-unknown service")

    def check_400(self, d, req):
        out = self.raw(d, req)
        m = re.match(rb"HTTP/1\.1 400 Bad Request\r\nContent-Type: "
                     rb"text/plain\r\nContent-Length: (\d+)\r\n"
                     rb"Connection: close\r\n\r\n([^\r\n]+)\n\Z", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(1)), len(m.group(2)) + 1)
        reason = m.group(2).decode()
        conn_line(d, by="http", result="-" + reason)
        return reason

    def test_no_host_without_default_400(self):
        # Without Host only "match http" could take it: no rule does.
        d = self.daemon()
        self.refused(d, b"GET / HTTP/1.0\r\n\r\n",
                     http_refusal(b"400 Bad Request", b"no Host"),
                     by="http", result="-no Host")

    def test_two_hosts_400(self):
        d = self.daemon()
        self.check_400(d, b"GET / HTTP/1.1\r\nHost: a.example.org\r\n"
                       b"Host: b.example.org\r\n\r\n")

    def test_head_too_large_400(self):
        d = self.daemon()
        req = b"GET / HTTP/1.1\r\nHost: a.example.org\r\n" + \
            b"X-Fill: " + b"x" * 9000 + b"\r\n\r\n"
        s = self.sock(d)
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = recv_until_eof(s)
        self.assertEqual(out, http_refusal(b"400 Bad Request",
                                           b"request head too large"))

    def test_busy_503_retry_after(self):
        d = self.daemon()
        first = self.sock(d)
        first.sendall(b"GET / HTTP/1.1\r\nHost: busy.example.org\r\n\r\n")
        conn_line(d, service="web-busy", by="http")
        self.refused(d, b"GET / HTTP/1.1\r\nHost: busy.example.org\r\n\r\n",
                     http_refusal(b"503 Service Unavailable",
                                  b"service busy", retry=True),
                     service="web-busy", result="-service busy")

    def test_stalled_head_408(self):
        d = self.daemon()
        self.refused(d, b"GET / HTTP/1.1\r\nHost: a.exa",
                     http_refusal(b"408 Request Timeout", b"timeout"),
                     by="http", result="-timeout")


@unittest.skipUnless(IS_ROOT, "sshd -i runs as root")
class OnePort443(NamesCase):
    """HTTPS, plain HTTP, SSH and TCPMUX on the same port: the OpenSSH
    client reaches "sshd -i", which oneportd started as root with the
    client's identification line unread."""

    def setUp(self):
        super().setUp()
        # sshd's privilege separation directory; Debian makes it at boot.
        os.makedirs("/run/sshd", 0o755, exist_ok=True)
        k = self.tmp
        for name in ("host", "client"):
            subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "",
                            "-f", os.path.join(k, name)], check=True)
        shutil.copy(os.path.join(k, "client.pub"),
                    os.path.join(k, "authorized"))
        with open(os.path.join(k, "host.pub")) as f:
            pub = f.read().split()
        with open(os.path.join(k, "known"), "w") as f:
            f.write("oneport-test %s %s\n" % (pub[0], pub[1]))
        self.sshd_conf = os.path.join(k, "sshd.conf")
        with open(self.sshd_conf, "w") as f:
            f.write("HostKey %s/host\nPubkeyAuthentication yes\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "AuthorizedKeysFile %s/authorized\nStrictModes no\n"
                    "UsePAM no\nPermitRootLogin prohibit-password\n"
                    "LogLevel ERROR\n" % (k, k))

    def daemon(self):
        return self.start(config="""
timeout 5
service "ssh" {
	command "%s" "-i" "-e" "-f" "%s"
	user root
	match ssh
}
service "https" { command %s; match tls }
service "web" { command "%s"; match http }
service "echo" { command "/bin/cat" }
""" % (SSHD, self.sshd_conf, self.stunnel("https"), self.httpd))

    def ssh(self, d, *cmd):
        return self.run_tool([
            SSH, "-F", "/dev/null", "-i", os.path.join(self.tmp, "client"),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "HostKeyAlias=oneport-test",
            "-o", "UserKnownHostsFile=%s/known" % self.tmp,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
            "-p", str(d.port), "root@127.0.0.1"] + list(cmd))

    def test_openssh_client_to_sshd(self):
        d = self.daemon()
        p = self.ssh(d, "echo", "hello")
        self.assertEqual((p.returncode, p.stdout), (0, b"hello\n"),
                         p.stderr.decode(errors="replace"))
        conn_line(d, service="ssh", by="ssh")

    def test_all_on_one_port(self):
        d = self.daemon()
        cert, _ = certificate()
        p = self.ssh(d, "echo", "ssh")
        self.assertEqual(p.stdout, b"ssh\n", p.stderr)
        self.assertEqual(self.curl("--cacert", cert, "--resolve",
                                   "default.example.org:%d:127.0.0.1"
                                   % d.port, "https://default.example.org:"
                                   "%d/" % d.port), b"hello from https\n")
        got = json.loads(self.curl("http://127.0.0.1:%d/" % d.port))
        self.assertEqual(got["env"]["ONEPORT_SERVICE"], "web")
        # HTTP/1.0 without Host goes to "match http".
        out = self.raw(d, b"GET / HTTP/1.0\r\n\r\n")
        self.assertIn(b'"ONEPORT_SERVICE": "web"', out)
        s = self.sock(d)
        s.sendall(b"echo\r\nping")
        self.assertEqual(recv_exact(s, 7), b"+\r\nping")

    def test_bad_ssh_line_closed(self):
        d = self.daemon()
        self.refused(d, b"SSH-3.0-nonsense\r\n", b"", by="ssh")
        self.assertEqual(conns(d, service="ssh",
                               pid=re.compile(r"\d+")), [])


class Silence(NamesCase):

    def daemon(self):
        banner = self.script("banner.py", BANNER)
        return self.start(config="""
timeout 2
service "mail" { command "%s"; match silence 300ms }
service "echo" { command "/bin/cat" }
""" % banner)

    def test_waiting_client_gets_the_greeting(self):
        d = self.daemon()
        s = self.sock(d)
        self.assertEqual(recv_until(s, b"\r\n"), b"220 hello silence\r\n")
        s.sendall(b"QUIT\r\n")
        self.assertEqual(recv_until_eof(s), b"250 got QUIT\r\n")
        conn_line(d, service="mail", by="silence")

    def test_speaking_client_gets_its_tcpmux_service(self):
        d = self.daemon()
        s = self.sock(d)
        s.sendall(b"echo\r\nhi")
        self.assertEqual(recv_exact(s, 5), b"+\r\nhi")
        # Even once the silence time has passed, it stays echo's.
        s.sendall(b"!")
        self.assertEqual(recv_exact(s, 1), b"!")

    def test_a_partial_line_is_not_silence(self):
        d = self.daemon()
        self.refused(d, b"ech", b"-timeout\r\n", result="-timeout")
        self.assertEqual(conns(d, service="mail"), [])
