# SPDX-License-Identifier: ISC
"""
test_cluster.py: several oneportd hosts share one name space through a
real etcd (Debian's etcd-server). Three hosts, an etcd member and a
client are network namespaces joined by a bridge, with addresses only
inside them; each daemon runs inside its namespace (setns before exec).
The client asks host 1 for a name host 3 exports and is served: by TCPMUX
(the redirect followed by the oneport client, its one-use token checked
by host 3). Host 3 killed (its daemon and its cluster process, SIGKILL)
is gone from host 1 within the lease time, measured. etcd stopped:
local names keep working, remote ones are served from what was seen
until a lease time passes, then refused; etcd restarted, the watch
resumes and a name exported meanwhile reaches host 1. Host 1's cluster
process stopped: its remote names refused a lease time on, the process
killed by the watchdog and replaced. Tokens replayed,
expired or minted for another client are refused. Root only.
"""
import base64
import ctypes
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DAEMON, IS_ROOT, REPO, Daemon, alive, children_of,
                     make_tmpdir, poll_until, proc_comm)

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
STUNNEL = "/usr/bin/stunnel4"
IP = shutil.which("ip") or "/usr/sbin/ip"
ONEPORT = os.path.join(os.path.dirname(DAEMON), "oneport")
LEASE = 2
PORT = 7001
NET = "10.77.0."
HOSTS = {1: NET + "1", 2: NET + "2", 3: NET + "3"}
ETCD_ADDR = NET + "10"
CLIENT = NET + "20"
OTHER = NET + "21"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def setns(name):
    """For preexec_fn: this process into the named network namespace."""
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        os._exit(126)
    os.close(fd)


def why_skip():
    if not IS_ROOT:
        return "needs root (network namespaces)"
    for p in (ETCD, IP, ONEPORT, OPENSSL, STUNNEL):
        if not os.access(p, os.X_OK):
            return "%s is not installed" % p
    return None


class Net:
    """The namespaces, veths and bridge this test made, and only those."""

    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.bridge = "opbr" + tag
        self.ns = {}
        self.links = []
        self.ip("link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        self.ip("link", "set", self.bridge, "up")

    @staticmethod
    def ip(*args, ns=None):
        argv = [IP] + (["netns", "exec", ns, IP] if ns else []) + list(args)
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=10)

    def add(self, role, addr):
        tag = "%d" % (os.getpid() % 100000)
        name = "op%s%s" % (tag, role)
        self.ip("netns", "add", name)
        self.ns[role] = name
        outer, inner = "opv%s%s" % (tag, role), "eth0"
        self.ip("link", "add", outer, "type", "veth", "peer", "name",
                inner, "netns", name)
        self.links.append(outer)
        self.ip("link", "set", outer, "master", self.bridge, "up")
        self.ip("addr", "add", addr + "/24", "dev", inner, ns=name)
        self.ip("link", "set", inner, "up", ns=name)
        self.ip("link", "set", "lo", "up", ns=name)
        return name

    def run(self, role, argv, data=b"", timeout=10):
        return subprocess.run([IP, "netns", "exec", self.ns[role]] + argv,
                              input=data, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def close(self):
        for name in self.ns.values():
            subprocess.run([IP, "netns", "del", name],
                           stderr=subprocess.DEVNULL)
        for l in self.links:
            subprocess.run([IP, "link", "del", l], stderr=subprocess.DEVNULL)


# A TCPMUX exchange from inside a namespace: the first line back, all.
CLIENT_PY = r'''
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(sys.argv[3].encode() + b"\r\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
'''


# What stunnel4 runs on host 3 behind the TLS it terminates.
RESP = r'''#!/usr/bin/python3
import sys
for line in sys.stdin.buffer:
    if line in (b"\r\n", b"\n"):
        break
sys.stdout.buffer.write(b"HTTP/1.0 200 OK\r\n\r\nhello from h3 by tls\n")
'''


def config(n, etcd_port, extra=""):
    return """
listen on %s port %d
cluster {
	etcd "http://%s:%d"
	name "test"
	host "h%d"
	address %s port %d
	lease %d
	key "%%s"
}
service "svc%d" {
	command "/bin/echo" "hello from h%d"
	export
}
service "local%d" {
	command "/bin/echo" "local on h%d"
}
%s""" % (HOSTS[n], PORT, ETCD_ADDR, etcd_port, n, HOSTS[n], PORT, LEASE,
         n, n, n, n, extra + TWIN % n if n != 1 else extra)


# Hosts 2 and 3 both export it: host 1 sends its clients to each in turn.
TWIN = 'service "twin" {\n\tcommand "/bin/echo" "twin on h%d"\n\texport\n}\n'


class ClusterConfigTest(unittest.TestCase):
    """The block as -n reads it and -nv prints it back; any user."""

    def check(self, text):
        tmp = make_tmpdir()
        try:
            conf = os.path.join(tmp, "c.conf")
            with open(conf, "w") as f:
                f.write(text)
            os.chmod(conf, 0o600)
            p = subprocess.run([DAEMON, "-nv", "-f", conf],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
            return p.returncode, p.stdout.decode(), p.stderr.decode()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_printed_back(self):
        rc, out, err = self.check(config(1, 2379) % "/etc/k")
        self.assertEqual(rc, 0, err)
        self.assertIn('cluster {\n\tetcd "http://%s:2379"\n\tname "test"\n'
                      '\thost "h1"\n\taddress %s port %d\n\tlease %d\n'
                      '\tkey "/etc/k"\n}\n' % (ETCD_ADDR, HOSTS[1], PORT,
                                              LEASE), out)
        self.assertIn("\texport\n", out)

    def test_errors(self):
        for text, want in [
            ('cluster {\n\tetcd "https://10.0.0.1:2379"\n}\n',
             "c.conf:2: etcd: etcd: expected"),
            ('cluster {\n\tetcd "http://db.example:2379"\n}\n',
             "with an address literal"),
            ('cluster {\n\tetcd "http://10.0.0.1"\n\tname "a/b"\n}\n',
             "c.conf:3: name: letters, digits"),
            ('cluster {\n\tetcd "http://10.0.0.1"\n\tlease 1\n}\n',
             "c.conf:3: lease: lease: 2 to 3600 seconds"),
            ('cluster {\n\tetcd "http://10.0.0.1"\n\tname x\n'
             '\thost y\n}\n', "c.conf:1: cluster: no address"),
            ('cluster {\n}\ncluster {\n}\n', "c.conf:3: a second cluster"),
            ('service "a" {\n\tcommand "/bin/cat"\n\texport\n}\n',
             "export without a cluster block"),
            # A second redirect is more than the oneport client follows.
            (config(1, 2379, 'service "r" {\n\tredirect to "127.0.0.1" '
                    'port 7\n\texport\n}\n') % "/etc/k",
             "a redirect service cannot be exported"),
            (config(1, 2379, 'service "r" {\n\tcommand "/bin/cat"\n'
                    '\tredirect shared\n\texport\n}\n') % "/etc/k",
             "a redirect service cannot be exported"),
            ('cluster {\n\tetcd "http://10.0.0.1"\n\tcolour red\n}\n',
             "c.conf:3: colour: unknown cluster option"),
        ]:
            rc, out, err = self.check(text)
            self.assertNotEqual(rc, 0, text)
            self.assertIn(want, err, text)


@unittest.skipIf(why_skip() is not None, why_skip() or "")
class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = make_tmpdir()
        cls.daemons = {}
        cls.etcd = None
        cls.net = Net()
        try:
            for n, a in HOSTS.items():
                cls.net.add("h%d" % n, a)
            cls.net.add("e", ETCD_ADDR)
            cls.net.add("c", CLIENT)
            cls.net.add("o", OTHER)
            cls.key = os.path.join(cls.tmp, "cluster.key")
            with open(cls.key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(cls.key, 0o600)
            cls.client = os.path.join(cls.tmp, "client.py")
            with open(cls.client, "w") as f:
                f.write(CLIENT_PY)
            cls.tls_setup()
            cls.start_etcd()
            # Host 2 exports a table's worth (qsort's page, in its sandbox).
            bulk = "".join('service "bulk%d" {\n\tcommand "/bin/true"\n'
                           '\texport\n}\n' % i for i in range(40))
            cls.status_sock = os.path.join(cls.tmp, "status1.sock")
            for n in HOSTS:
                cls.start_host(n, cls.web3 if n == 3 else
                               bulk if n == 2 else
                               'status socket "%s"\n' % cls.status_sock)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for d in cls.daemons.values():
            cls.kill_host(d)
        if cls.etcd is not None and cls.etcd.poll() is None:
            cls.etcd.kill()
            cls.etcd.wait(5)
        cls.net.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tls_setup(cls):
        """Host 3's TLS service: stunnel4 in inetd mode, by SNI."""
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        key = os.path.join(cls.tmp, "key.pem")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=web3.test",
                        "-addext", "subjectAltName=DNS:web3.test",
                        "-keyout", key, "-out", cls.cert], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)
        resp = os.path.join(cls.tmp, "resp.py")
        with open(resp, "w") as f:
            f.write(RESP)
        os.chmod(resp, 0o755)
        conf = os.path.join(cls.tmp, "stunnel.conf")
        with open(conf, "w") as f:
            f.write("pid =\nsyslog = no\nforeground = yes\ndebug = 3\n"
                    "cert = %s\nkey = %s\nexec = %s\nexecArgs = resp.py\n"
                    % (cls.cert, key, resp))
        os.chmod(conf, 0o644)
        cls.web3 = ('service "web3" {\n\tcommand "%s" "%s"\n'
                    '\tmatch tls sni "web3.test"\n\texport\n}\n'
                    % (STUNNEL, conf))

    @classmethod
    def start_etcd(cls):
        data = os.path.join(cls.tmp, "etcd")
        cls.etcd = subprocess.Popen(
            [ETCD, "--data-dir", data, "--name", "e",
             "--listen-client-urls", "http://%s:2379" % ETCD_ADDR,
             "--advertise-client-urls", "http://%s:2379" % ETCD_ADDR,
             "--listen-peer-urls", "http://127.0.0.1:2380",
             "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
             "--initial-cluster", "e=http://127.0.0.1:2380"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: setns(cls.net.ns["e"]))

        def up():
            p = cls.net.run("e", ["curl", "-s", "-m", "1", "-X", "POST",
                                  "http://%s:2379/v3/kv/range" % ETCD_ADDR,
                                  "-d", '{"key":"AA=="}'])
            return p.returncode == 0 and b"header" in p.stdout
        poll_until(up, timeout=20, interval=0.1, what="etcd")

    @classmethod
    def start_host(cls, n, extra=""):
        conf = os.path.join(cls.tmp, "h%d.conf" % n)
        with open(conf, "w") as f:
            f.write(config(n, 2379, extra) % cls.key)
        os.chmod(conf, 0o600)
        d = Daemon(cls.tmp, args=["-v"], conffile=conf, listen=(),
                   nlisteners=1,
                   preexec=lambda: setns(cls.net.ns["h%d" % n]))
        d.wait_listening()
        cls.daemons[n] = d
        return d

    @classmethod
    def cluster_pid(cls, d):
        for pid in children_of(d.pid):
            if proc_comm(pid) == "oneportd-clust":
                return pid
        return None

    @classmethod
    def kill_host(cls, d):
        """The whole host at once: its cluster process and the daemon."""
        pid = cls.cluster_pid(d)
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)
        if d.proc.poll() is None:
            d.proc.kill()
        d.stop()

    # ---- clients, in the client's namespace ----

    def tcpmux(self, host, line, role="c"):
        p = self.net.run(role, [sys.executable, self.client, host,
                                str(PORT), line])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout

    def help(self, n=1):
        return self.tcpmux(HOSTS[n], "help").decode().split()

    def wait_names(self, n, name, present=True, timeout=10):
        return poll_until(lambda: (name in self.help(n)) == present,
                          timeout=timeout, interval=0.05,
                          what="%s %s on host %d" % (
                              name, "listed" if present else "gone", n))

    def redirect(self, name, role="c"):
        out = self.tcpmux(HOSTS[1], name, role=role).decode()
        self.assertTrue(out.startswith("@%d host=" % PORT), out)
        fields = dict(w.split("=", 1) for w in out.split()[1:])
        return fields["host"], fields.get("token")

    def mint(self, name, client, expiry):
        """A token as ctoken.c makes one (its format is oneportd(8)'s)."""
        with open(self.key, "rb") as f:
            key = f.read()
        raw = struct.pack(">I", expiry) + os.urandom(4)
        addr = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(client)
        msg = (b"oneport-token-v1\0test\0" + name.encode() + b"\0" + addr +
               raw)
        mac = hmac.new(key, msg, hashlib.sha256).digest()[:16]
        return name + "_" + base64.urlsafe_b64encode(raw + mac).decode()

    # ---- the tests, in order ----

    def test_1_tcpmux_redirect_followed(self):
        self.wait_names(1, "svc3")
        self.wait_names(1, "svc2")
        self.wait_names(1, "bulk39")
        self.assertNotIn("local3", self.help(1))
        host, token = self.redirect("svc3")
        self.assertEqual(host, HOSTS[3])
        self.assertTrue(token.startswith("svc3_"), token)
        # The oneport client follows it, token first, to host 3's program.
        p = self.net.run("c", [ONEPORT, "-R", "-p", str(PORT), HOSTS[1],
                               "svc3"])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, b"hello from h3\n")
        # A local name is served here, as ever; to a member's own client
        # too, which need not send a PROXY header.
        self.assertEqual(self.tcpmux(HOSTS[1], "svc1"), b"+\r\nhello from "
                         b"h1\n")
        self.assertEqual(self.tcpmux(HOSTS[1], "svc1", role="h2"),
                         b"+\r\nhello from h1\n")

    def test_1_twin_in_turn(self):
        self.wait_names(1, "twin")
        poll_until(lambda: len(self.redirect_hosts("twin")) == 2,
                   timeout=10, interval=0.05, what="twin on two hosts")
        got = [self.net.run("c", [ONEPORT, "-R", "-p", str(PORT),
                                  HOSTS[1], "twin"]).stdout
               for _ in range(4)]
        self.assertEqual(sorted(got), [b"twin on h2\n"] * 2 +
                         [b"twin on h3\n"] * 2)

    def redirect_hosts(self, name):
        return {self.redirect(name)[0] for _ in range(4)}

    def test_1_status_rows(self):
        self.wait_names(1, "svc3")
        p = subprocess.run([ONEPORT, "status", "-S", self.status_sock,
                            "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        rows = json.loads(p.stdout)["cluster"]
        me = [r for r in rows if r["self"] == 1]
        self.assertEqual(len(me), 1, rows)
        self.assertEqual((me[0]["host"], me[0]["leased"], me[0]["etcd"],
                          me[0]["stale"]), ("h1", 1, 1, 0), me)
        self.assertIn({"host": "h3", "name": "svc3",
                       "address": "%s:%d" % (HOSTS[3], PORT), "self": 0,
                       "leased": 1, "etcd": 1, "stale": 0,
                       "revision": me[0]["revision"]}, rows)
        p = subprocess.run([ONEPORT, "status", "-S", self.status_sock],
                           stdout=subprocess.PIPE, timeout=10)
        self.assertIn(b"svc3", p.stdout)

    def test_1_tls_sni_forwarded(self):
        self.wait_names(1, "web3")
        p = self.net.run("c", [OPENSSL, "s_client", "-connect",
                               "%s:%d" % (HOSTS[1], PORT), "-servername",
                               "web3.test", "-verify_hostname", "web3.test",
                               "-CAfile", self.cert, "-verify_return_error",
                               "-ign_eof"], data=b"GET / HTTP/1.0\r\n\r\n")
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("hello from h3 by tls", out)
        # Host 3 took host 1's PROXY header: the client is the peer.
        self.daemons[3].wait_log(r"conn peer=%s:\d+ via=%s:\d+ by=tls "
                                 r"sni=web3.test service=web3 result=\+"
                                 % (CLIENT, HOSTS[1]))
        self.daemons[1].wait_log(r"conn peer=%s:\d+ by=tls sni=web3.test "
                                 r"service=web3 result=\+" % CLIENT)

    def test_2_tokens(self):
        self.wait_names(1, "svc3")
        _, token = self.redirect("svc3")
        self.assertEqual(self.tcpmux(HOSTS[3], token), b"hello from h3\n")
        self.assertEqual(self.tcpmux(HOSTS[3], token), b"-token used\r\n")
        # Minted for the client, used by another address.
        _, token = self.redirect("svc3")
        self.assertEqual(self.tcpmux(HOSTS[3], token, role="o"),
                         b"-bad token\r\n")
        now = int(time.time())
        self.assertEqual(self.tcpmux(HOSTS[3], self.mint("svc3", CLIENT,
                                                         now - 1)),
                         b"-token expired\r\n")
        # The same, good: the test mints as a member would.
        self.assertEqual(self.tcpmux(HOSTS[3], self.mint("svc3", CLIENT,
                                                         now + 5)),
                         b"hello from h3\n")
        # Another name's token, or a name not of this token.
        t = self.mint("svc3", CLIENT, now + 5)
        self.assertEqual(self.tcpmux(HOSTS[3], "local3" + t[4:]),
                         b"-bad token\r\n")

    def test_3_etcd_away_and_back(self):
        self.wait_names(1, "svc2")
        d1 = self.daemons[1]
        os.kill(self.etcd.pid, signal.SIGTERM)
        self.etcd.wait(10)
        gone = time.monotonic()
        # Local names work; the remote ones from what was seen, a while.
        self.assertEqual(self.tcpmux(HOSTS[1], "local1"), b"+\r\nlocal on "
                         b"h1\n")
        self.assertTrue(self.tcpmux(HOSTS[1], "svc2").startswith(b"@"))
        poll_until(lambda: self.tcpmux(HOSTS[1], "svc2") ==
                   b"-cluster unreachable\r\n", timeout=LEASE + 5,
                   interval=0.05, what="svc2 refused")
        # From the last keepalive, a third of a lease at most before.
        self.assertGreaterEqual(time.monotonic() - gone, LEASE * 2 / 3 - 0.2)
        self.assertEqual(self.tcpmux(HOSTS[1], "svc1"), b"+\r\nhello from "
                         b"h1\n")
        # Host 2 exports another name while etcd is away.
        d2 = self.daemons[2]
        with open(d2.conffile, "a") as f:
            f.write('service "late2" {\n\tcommand "/bin/echo" "late"\n'
                    '\texport\n}\n')
        d2.signal(signal.SIGHUP)
        self.start_etcd()
        self.wait_names(1, "late2", timeout=10)
        self.assertTrue(self.tcpmux(HOSTS[1], "svc2").startswith(b"@"))
        d1.wait_log(r"cluster: etcd answers", count=2)

    def test_3_stopped_cluster_process_replaced(self):
        # Host 1's cluster process stopped: host 1 cannot know what the
        # others did since, so a lease time after it was last heard its
        # remote names are refused as when etcd is away; the watchdog
        # kills it, and the next one serves them again.
        self.wait_names(1, "svc2")
        d1 = self.daemons[1]
        pid = self.cluster_pid(d1)
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(lambda: alive(pid) and os.kill(pid, signal.SIGCONT))
        stopped = time.monotonic()
        poll_until(lambda: self.tcpmux(HOSTS[1], "svc2") ==
                   b"-cluster unreachable\r\n", timeout=LEASE + 5,
                   interval=0.05, what="svc2 refused")
        # Heard a third of a lease at most before it stopped.
        self.assertGreaterEqual(time.monotonic() - stopped,
                                LEASE * 2 / 3 - 0.2)
        self.assertEqual(self.tcpmux(HOSTS[1], "svc1"), b"+\r\nhello from "
                         b"h1\n")
        d1.wait_log(r"cluster process pid %d answered no ping for 10 s: "
                    r"killed" % pid, timeout=20)
        poll_until(lambda: self.tcpmux(HOSTS[1], "svc2").startswith(b"@"),
                   timeout=15, interval=0.1, what="svc2 served again")
        self.assertNotEqual(self.cluster_pid(d1), pid)

    def test_4_host_killed(self):
        self.wait_names(1, "svc3")
        d3 = self.daemons[3]
        t0 = time.monotonic()
        self.kill_host(d3)
        self.wait_names(1, "svc3", present=False, timeout=LEASE + 5)
        took = time.monotonic() - t0
        sys.stderr.write("host 3 gone from host 1 after %.2f s (lease "
                         "%d s) ... " % (took, LEASE))
        # etcd checks for expired leases every 0.5 s.
        self.assertLess(took, LEASE + 1.5)
        self.assertEqual(self.tcpmux(HOSTS[1], "svc3"),
                         b"-unknown service\r\n")
        self.assertIn("svc2", self.help(1))

    def test_5_no_sanitizer_reports(self):
        for d in self.daemons.values():
            self.assertIsNone(d.sanitizer_report())


if __name__ == "__main__":
    unittest.main()
