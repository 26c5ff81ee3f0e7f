# SPDX-License-Identifier: ISC
"""
Access control (issue 16): "allow" and "deny" lists, global and per
service, over IPv4 and IPv6 prefixes, checked against the real client
(the one a trusted PROXY header names, an IPv4-mapped address as the IPv4
address it is). A refused TCPMUX client reads "-access denied", a TLS
client an access_denied alert, an HTTP client a 403, an SSH or silent
client a close; HELP lists only what the asking client may reach; -nv
prints the lists back in a form that parses to the same.
"""
import re

from harness import DaemonTestCase, poll_until, recv_until_eof, run_daemon_n
from test_names import client_hello, records
from test_proxy_in import v2_header

DENIED = b"-access denied\r\n"
# The log's value, quoted or not (the log's quoting may change).
DENIED_LOG = r'result="?-access denied"?(?:\s|$)'
TLS_ALERT_49 = b"\x15\x03\x03\x00\x02\x02\x31"
HTTP_403 = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 14\r\nConnection: close\r\n\r\n"
            b"access denied\n")

CONFIG = """
timeout 2
allow 127.0.0.0/30
deny 127.0.0.3
service "echo" { command "/bin/echo" "hi" }
service "open" { command "/bin/echo" "open"; allow all }
service "only5" { command "/bin/echo" "five"; allow 127.0.0.5 }
service "no-lo" {
	command "/bin/echo" "allow" "deny"
	deny 127.0.0.0/8
}
service "far" { redirect to "far.example.org" port 99; allow 127.0.0.2 }
"""


class Access(DaemonTestCase):

    def test_ipv4_prefixes_deny_wins_service_lists_replace(self):
        d = self.start(config=CONFIG)
        for line, src, want in (
                # The global lists: inside the /30, not on the deny entry.
                (b"echo", "127.0.0.2", b"+\r\nhi\n"),
                # On both lists: deny wins.
                (b"echo", "127.0.0.3", DENIED),
                # An allow list exists and the client is on none of it.
                (b"echo", "127.0.0.9", DENIED),
                # A service's own lists replace both global ones.
                (b"open", "127.0.0.9", b"+\r\nopen\n"),
                (b"open", "127.0.0.3", b"+\r\nopen\n"),
                (b"only5", "127.0.0.5", b"+\r\nfive\n"),
                (b"only5", "127.0.0.2", DENIED),
                # Only a deny list: everyone else may.
                (b"no-lo", "127.0.0.2", DENIED),
                # A fixed answer the frontend gives itself is checked
                # too, and so is a query.
                (b"far", "127.0.0.2", b"@99 host=far.example.org\r\n"),
                (b"far", "127.0.0.1", DENIED),
                (b"?echo", "127.0.0.9", DENIED),
                # A name that does not exist is unknown, whoever asks.
                (b"nope", "127.0.0.9", b"-unknown service\r\n")):
            self.assertEqual(d.exchange(line + b"\r\n", src=src), want,
                             (line, src))
        d.wait_log(r"^conn peer=127\.0\.0\.3:\d+ service=echo " + DENIED_LOG)
        d.wait_log(r"^conn peer=127\.0\.0\.2:\d+ service=only5 " +
                   DENIED_LOG)
        # Nothing was started for a refused client.
        self.assertEqual(len([l for l in d.log_lines()
                              if re.search(r"^conn .*result=\+ pid=\d+",
                                           l)]), 4)

    def test_help_lists_what_the_client_may_reach(self):
        d = self.start(config=CONFIG)
        for src, want in (("127.0.0.2", b"echo\r\nfar\r\nopen\r\n"),
                          ("127.0.0.5", b"only5\r\nopen\r\n"),
                          ("127.0.0.9", b"open\r\n")):
            self.assertEqual(d.exchange(b"help\r\n", src=src), want)

    def test_ipv6(self):
        d = self.start(config="""
service "six" { command "/bin/echo" "six"; allow ::1 }
service "net" { command "/bin/echo" "net"; allow ::/127 }
service "nosix" { command "/bin/echo" "no"; deny ::1/128 }
service "other" { command "/bin/echo" "no"; allow 2001:db8::/32 }
service "v4only" { command "/bin/echo" "no"; allow 0.0.0.0/0 }
""", listen=("[::1]:0",))
        self.assertEqual(d.exchange(b"six\r\n"), b"+\r\nsix\n")
        self.assertEqual(d.exchange(b"net\r\n"), b"+\r\nnet\n")
        self.assertEqual(d.exchange(b"nosix\r\n"), DENIED)
        self.assertEqual(d.exchange(b"other\r\n"), DENIED)
        # An IPv4 list says nothing of IPv6 clients: not on it, refused.
        self.assertEqual(d.exchange(b"v4only\r\n"), DENIED)
        d.wait_log(r"^conn peer=\[::1\]:\d+ service=nosix " + DENIED_LOG)

    def test_implicit_clients_refused_in_their_protocol(self):
        d = self.start(config="""
timeout 2
allow 127.0.0.2
service "tls" { command "/bin/cat"; match tls sni "a.example.org" }
service "web" { command "/bin/cat"; match http host "w.example.org" }
service "shell" { command "/bin/cat"; match ssh }
service "quiet" { command "/bin/echo" "hello"; match silence 200ms }
""")
        hello = records(client_hello("a.example.org"))
        self.assertEqual(d.exchange(hello, src="127.0.0.1"), TLS_ALERT_49)
        req = b"GET / HTTP/1.1\r\nHost: w.example.org\r\n\r\n"
        self.assertEqual(d.exchange(req, src="127.0.0.1"), HTTP_403)
        self.assertEqual(d.exchange(b"SSH-2.0-OpenSSH_9.2\r\n",
                                    src="127.0.0.1"), b"")
        s = self.sock(d, src="127.0.0.1")
        self.assertEqual(recv_until_eof(s), b"")
        # The allowed address gets each one.
        s = self.sock(d, src="127.0.0.2")
        self.assertEqual(recv_until_eof(s), b"hello\n")
        self.assertEqual(d.exchange(req, src="127.0.0.2", half_close=True),
                         req)
        for svc, by in (("tls", "tls"), ("web", "http"), ("shell", "ssh"),
                        ("quiet", "silence")):
            d.wait_log(r"^conn peer=127\.0\.0\.1:\d+ by=%s .*service=%s "
                       % (by, svc) + DENIED_LOG)

    def test_real_client_behind_a_trusted_balancer(self):
        d = self.start(config="""
proxy from 127.0.0.1
allow 10.0.0.0/8
service "echo" { command "/bin/echo" "hi" }
""")
        def via(src):
            dst = ("::ffff:127.0.0.1" if ":" in src[0] else "127.0.0.1",
                   d.port)
            return d.exchange(v2_header(src, dst) + b"echo\r\n",
                              src="127.0.0.1")
        # The balancer itself is not allowed; the client it names is.
        self.assertEqual(via(("10.1.2.3", 4000)), b"+\r\nhi\n")
        self.assertEqual(via(("192.0.2.7", 4000)), DENIED)
        # IPv4-mapped, as a dual-stack balancer sends it: compared as
        # the IPv4 address it is.
        self.assertEqual(via(("::ffff:10.9.9.9", 4000)), b"+\r\nhi\n")
        self.assertEqual(via(("::ffff:192.0.2.8", 4000)), DENIED)
        # Without a header (not from the balancer), the socket's peer.
        self.assertEqual(d.exchange(b"echo\r\n", src="127.0.0.2"), DENIED)
        d.wait_log(r"^conn peer=192\.0\.2\.7:4000 via=127\.0\.0\.1:\d+ "
                   r"service=echo " + DENIED_LOG)
        d.wait_log(r"^conn peer=192\.0\.2\.8:4000 via=127\.0\.0\.1:\d+ "
                   r"service=echo " + DENIED_LOG)
        d.wait_log(r"^conn peer=10\.9\.9\.9:4000 via=127\.0\.0\.1:\d+ "
                   r"service=echo result=\+ ")

    def test_reload_changes_the_lists(self):
        d = self.start(config='service "echo" { command "/bin/echo" "hi"; '
                       'allow 127.0.0.2 }\n')
        self.assertEqual(d.exchange(b"echo\r\n"), DENIED)
        with open(d.conffile, "w") as f:
            f.write('service "echo" { command "/bin/echo" "hi"; '
                    'allow 127.0.0.1 }\n')
        d.signal(1)
        poll_until(lambda: d.answers(b"echo\r\n", b"+\r\nhi\n"),
                   what="the new lists")


PRINT = """allow 10.0.0.0/8 ::1 2001:DB8::/32
deny 10.1.2.3
allow 192.168.1.0/24
service "a" {
	command "/bin/echo" "allow" "deny"
	allow all
	deny 0:0:0:0:0:ffff:0:0/96
}
service "b" { command "/bin/cat"; deny 203.0.113.0/24 }
"""


class PrintBack(DaemonTestCase):

    def conf(self, text, name="oneportd.conf"):
        return self.script(name, text, 0o644)

    def test_nv_prints_the_lists_and_parses_back(self):
        rc, out, err = run_daemon_n(["-nv", "-f", self.conf(PRINT)])
        self.assertEqual((rc, err), (0, ""), err)
        lines = out.splitlines()
        self.assertIn("allow 10.0.0.0/8 ::1/128 2001:db8::/32 "
                      "192.168.1.0/24", lines)
        self.assertIn("deny 10.1.2.3/32", lines)
        self.assertIn("\tallow 0.0.0.0/0 ::/0", lines)
        self.assertIn("\tdeny ::ffff:0.0.0.0/96", lines)
        self.assertIn("\tdeny 203.0.113.0/24", lines)
        # A command's words "allow" and "deny" stay words.
        self.assertIn('\tcommand "/bin/echo" "allow" "deny"', lines)
        again = self.conf("\n".join(l for l in lines
                                    if l != "configuration OK") + "\n",
                          "again.conf")
        rc2, out2, err2 = run_daemon_n(["-nv", "-f", again])
        self.assertEqual((rc2, err2, out2), (0, "", out))

    def test_mistakes_at_their_line(self):
        path = self.conf("""allow 10.0.0.1/8
deny 300.1.2.3
allow ::1/129
defaults { allow 10.0.0.0/8 }
service "a" {
	command "/bin/cat"
	deny
	allow 10.0.0.0/33 all
}
""")
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual(rc, 1)
        want = [
            '%s:1: allow "10.0.0.1/8": host bits set after the /8 prefix '
            '(the network is 10.0.0.0/8)',
            '%s:2: deny "300.1.2.3": not an IPv4 or IPv6 address',
            '%s:3: allow "::1/129": prefix "/129": not 0 to 128',
            '%s:4: allow is not allowed in defaults (outside any block it '
            'is every service\'s default)',
            '%s:7: deny: expected ADDRESS[/PREFIX]... or all',
            '%s:8: allow "10.0.0.0/33": prefix "/33": not 0 to 32',
        ]
        self.assertEqual(err.splitlines()[:len(want)],
                         [w % path for w in want])


if __name__ == "__main__":
    import unittest
    unittest.main()
