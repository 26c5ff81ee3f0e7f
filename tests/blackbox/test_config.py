# SPDX-License-Identifier: ISC
"""
oneportd -n and -nv: "configuration OK", the parsed configuration printed
back, and "FILE:LINE: message" on stderr with exit 1 for a bad file.
"""
import os
import re

from harness import DaemonTestCase, run_daemon_n

GOOD = """# a comment
listen on 127.0.0.1 port 0
timeout 500ms
max-line 64
max pending 4096
max pending per-address 32
help on

service "echo" {
	command "/bin/cat"
	max instances 10
	max per-address 2
	visible yes
	reply daemon
	env "FOO=bar"
	chdir "/tmp"
	user nobody
	group nogroup
}
service "Hidden" {
	command "/bin/echo" "two words" "x"
	visible no
	reply self
}
"""

NAMES = """timeout 3
proxy from 192.0.2.0/24 2001:db8::/32
service web {
	command /bin/echo tls http match proxy sni alpn host from
	match tls sni Example.org "*.example.org" alpn h2 http/1.1
	match http host www.example.org ::1
	match http
}
service acme { command /bin/cat; match tls alpn acme-tls/1 }
service mail { command /bin/cat; match silence 1500ms }
service shell { command /bin/cat; match ssh }
"""


class CheckMode(DaemonTestCase):

    def conf(self, text, name="oneportd.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_ok(self):
        path = self.conf(GOOD)
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual((rc, out, err), (0, "configuration OK\n", ""))

    def test_ok_command_line_only(self):
        rc, out, err = run_daemon_n(["-n", "-l", "127.0.0.1:0",
                                     "-s", "echo=cat"])
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)

    def test_verbose_prints_config(self):
        path = self.conf(GOOD)
        rc, out, err = run_daemon_n(["-nv", "-f", path])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.endswith("configuration OK\n"), out)
        for word in ("127.0.0.1", "echo", "/bin/cat", "hidden",
                     "/bin/echo", "two words", "FOO=bar", "/tmp", "nobody",
                     "nogroup", "500"):
            self.assertIn(word, out)

    def test_verbose_output_parses_back_the_same(self):
        # What -nv prints is a configuration: read back, it prints the same.
        path = self.conf(GOOD)
        rc, out1, err = run_daemon_n(["-nv", "-f", path])
        self.assertEqual(rc, 0, err)
        body = out1[:-len("configuration OK\n")]
        again = self.conf(body, "printed.conf")
        rc, out2, err = run_daemon_n(["-nv", "-f", again])
        self.assertEqual(rc, 0, "printed config does not parse:\n%s\n%s"
                         % (body, err))
        self.assertEqual(out1, out2)

    def assertError(self, text, line, rx=None, path=None):
        path = path or self.conf(text)
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual(rc, 1, (out, err))
        self.assertNotIn("configuration OK", out)
        lines = line if isinstance(line, tuple) else (line,)
        self.assertRegex(err, r"(?m)^%s:(%s): \S" % (
            re.escape(path), "|".join(str(n) for n in lines)))
        if rx:
            self.assertRegex(err, rx)
        return err

    def test_unknown_keyword(self):
        self.assertError("timeout 5\n\nfrobnicate 1\n", 3, r"frobnicate")

    def test_bad_values(self):
        self.assertError("timeout soon\n", 1)
        self.assertError("help\tmaybe\n", 1)
        self.assertError("\nmax pending 0\n", 2)
        self.assertError("max-line 99999999\n", 1)

    def test_bad_service_name(self):
        self.assertError('\n\nservice "bad_name" {\n\tcommand "/bin/true"\n'
                         '}\n', 3)
        self.assertError('service "-x" {\n\tcommand "/bin/true"\n}\n', 1)

    def test_duplicate_service(self):
        self.assertError('service "a" {\n\tcommand "/bin/true"\n}\n'
                         'service "A" {\n\tcommand "/bin/true"\n}\n', 4)

    def test_relative_command(self):
        self.assertError('service "a" {\n\tcommand "true"\n}\n', 2)

    def test_unknown_option_in_block(self):
        self.assertError('service "a" {\n\tcommand "/bin/true"\n'
                         '\tcolour blue\n}\n', 3, r"colour")

    def test_unknown_user(self):
        err = self.assertError('service "a" {\n\tcommand "/bin/true"\n'
                               '\tuser no-such-user-oneport\n}\n', (1, 3))
        self.assertIn("no-such-user-oneport", err)

    def test_missing_brace(self):
        rc, out, err = run_daemon_n(["-n", "-f", self.conf(
            'service "a" {\n\tcommand "/bin/true"\n')])
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"oneportd\.conf:\d+: ")

    def test_error_in_included_file(self):
        inc = self.conf("timeout 5\nbogus here\n", "inc.conf")
        path = self.conf('service "a" {\n\tcommand "/bin/true"\n}\n'
                         'include "%s"\n' % inc)
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"(?m)^%s:2: " % re.escape(inc))

    def test_include(self):
        self.conf('service "inner" {\n\tcommand "/bin/echo" "in"\n}\n',
                  "inner.conf")
        path = self.conf('include "inner.conf"\n'
                         'service "outer" {\n\tcommand "/bin/true"\n}\n')
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        d = self.start(conffile=path)
        self.assertEqual(d.exchange(b"inner\r\n"), b"+\r\nin\n")
        self.assertEqual(d.exchange(b"help\r\n"), b"inner\r\nouter\r\n")

    def test_defer_accept(self):
        rc, out, err = run_daemon_n(["-nv", "-f", self.conf(
            "defer-accept yes\n")])
        self.assertEqual(rc, 0, err)
        self.assertIn("\ndefer-accept on\n", out)
        rc, out, err = run_daemon_n(["-nv", "-f", self.conf(
            "defer-accept off\n")])
        self.assertEqual(rc, 0, err)
        self.assertNotIn("defer-accept", out)
        self.assertError("defer-accept sometimes\n", 1, r"defer-accept")
        self.assertError("defer-accept on\nservice mail {\n\tcommand "
                         "/bin/cat\n\tmatch silence 1s\n}\n", 1,
                         r"defer-accept: match silence")

    def test_all_errors_reported(self):
        err = self.assertError("frob 1\ntimeout x\nmax pending y\n", 1)
        self.assertRegex(err, r"(?m)^\S+:2: ")
        self.assertRegex(err, r"(?m)^\S+:3: ")

    def test_missing_file(self):
        path = os.path.join(self.tmp, "nope.conf")
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual(rc, 1)
        self.assertIn(path, err)

    def test_bad_command_line_service(self):
        for arg in ("bad_name=cat", "echo=no-such-program-oneport",
                    "noequals", "empty="):
            with self.subTest(arg=arg):
                rc, out, err = run_daemon_n(["-n", "-l", "127.0.0.1:0",
                                             "-s", arg])
                self.assertEqual(rc, 1, (out, err))
                # Exit 1 alone does not tell the operator what is wrong.
                self.assertNotEqual(err.strip(), "", "no message")

    def test_bad_listen_argument(self):
        for arg in ("127.0.0.1", "::1:5", "127.0.0.1:99999", "[::1]5"):
            with self.subTest(arg=arg):
                rc, out, err = run_daemon_n(["-n", "-l", arg,
                                             "-s", "echo=cat"])
                self.assertEqual(rc, 1, (out, err))
                self.assertNotEqual(err.strip(), "", "no message")

    def test_does_not_start(self):
        # -n must not bind or run anything: it returns by itself.
        path = self.conf(GOOD)
        rc, out, err = run_daemon_n(["-n", "-f", path], timeout=5)
        self.assertEqual(rc, 0)
        self.assertNotIn("listening", out)

    # ---- implicit names: "match" and "proxy from" ----

    def test_rules_printed_back_parse_again(self):
        rc, out1, err = run_daemon_n(["-nv", "-f", self.conf(NAMES)])
        self.assertEqual(rc, 0, err)
        # One line per rule as expanded, patterns in lower case.
        for line in ('\tmatch tls sni "example.org" alpn "h2"',
                     '\tmatch tls sni "*.example.org" alpn "http/1.1"',
                     '\tmatch http host "::1"', "\tmatch http",
                     '\tmatch tls alpn "acme-tls/1"',
                     "\tmatch silence 1500ms", "\tmatch ssh",
                     "proxy from 192.0.2.0/24", "proxy from 2001:db8::/32",
                     '\tcommand "/bin/echo" "tls" "http" "match" "proxy" '
                     '"sni" "alpn" "host" "from"'):
            self.assertIn(line + "\n", out1)
        self.assertEqual(out1.count("\tmatch "), 10)
        body = out1[:-len("configuration OK\n")]
        rc, out2, err = run_daemon_n(["-nv", "-f",
                                      self.conf(body, "printed.conf")])
        self.assertEqual((rc, out2), (0, out1), err)

    def errors(self, path):
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual(rc, 1, (out, err))
        return err.splitlines()

    def test_rule_errors_name_the_faulty_line(self):
        inc = self.conf("service b {\n\tcommand /bin/cat\n"
                        "\tmatch tls sni A.example.org\n}\n", "inc.conf")
        path = self.conf("timeout 2\nservice a {\n\tcommand /bin/cat\n"
                         "\tmatch tls sni a.example.org\n"
                         "\tmatch silence 2s\n}\ninclude \"inc.conf\"\n"
                         "service r {\n\tredirect to example.org port 80\n"
                         "\tmatch http\n}\n")
        self.assertEqual(self.errors(path), [
            "%s:5: match silence 2000ms never matches: the timeout "
            "(2000ms) ends the wait first" % path,
            "%s:10: match in service \"r\": implicit clients cannot follow "
            "a redirect" % path,
            "%s:3: match tls sni \"a.example.org\" overlaps the rule at "
            "%s:4 (service \"a\")" % (inc, path)])
        path = self.conf("proxy from 10.0.0.1/8\nservice a {\n"
                         "\tcommand /bin/cat\n\tmatch tls sni a_b\n"
                         "\tmatch gopher\n}\n")
        self.assertEqual(self.errors(path), [
            "%s:1: proxy from \"10.0.0.1/8\": host bits set after the /8 "
            "prefix (the network is 10.0.0.0/8)" % path,
            "%s:4: match tls: sni \"a_b\": not a host name or \"*.\" and "
            "one" % path,
            "%s:5: match \"gopher\": expected tls, http, ssh or silence"
            % path])
