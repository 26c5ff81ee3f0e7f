# SPDX-License-Identifier: ISC
"""
The command line of both programs: -h/--help and -V/--version, the
"host port name" form, and usage errors that say what was wrong and
what to type instead, then the synopsis, with exit status 2.
"""
import os
import socket
import subprocess

from clienttest import (EX_CONNECT, EX_OK, EX_USAGE, ONEPORT, REPO,
                        ClientTestCase)
import harness

with open(os.path.join(REPO, "VERSION")) as f:
    VERSION = f.read().strip()


class Usage(ClientTestCase):

    def test_help_and_version(self):
        progs = [("oneport", self.oneport), ("oneportd", self.daemon)]
        # Every program beside them in the build, as make install
        # installs them.
        imp = os.path.join(os.path.dirname(ONEPORT), "oneportd-import")
        if os.path.exists(imp):
            progs.append(("oneportd-import",
                          lambda *a: self.daemon(*a, prog=imp)))
        for prog, run in progs:
            for opt in ("-h", "--help"):
                with self.subTest(prog=prog, opt=opt):
                    rc, out, err = run(opt)
                    self.assertEqual(rc, EX_OK, err)
                    # oneportd-import's usage goes to stderr even then.
                    if prog == "oneportd-import":
                        out, err = err.encode(), ""
                    self.assertEqual(err, "")
                    self.assertIn(b"usage: " + prog.encode(), out)
                    if prog != "oneportd-import":
                        self.assertIn(b"--version", out)
            for opt in ("-V", "--version"):
                with self.subTest(prog=prog, opt=opt):
                    rc, out, err = run(opt)
                    self.assertEqual((rc, out, err), (
                        EX_OK, ("%s %s\n" % (prog, VERSION)).encode(), ""))

    def daemon(self, *args, prog=None):
        p = subprocess.run([prog or harness.DAEMON] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def test_daemon_usage_errors(self):
        rc, out, err = self.daemon("/etc/oneportd.conf")
        self.assertEqual((rc, out), (2, b""))
        self.assertIn("/etc/oneportd.conf: no operand is taken; a "
                      "configuration file is given with -f", err)
        self.assertIn("usage: oneportd", err)
        rc, out, err = self.daemon("--bogus")
        self.assertEqual((rc, out), (2, b""))
        self.assertIn("usage: oneportd", err)

    def test_host_port_name(self):
        # "host port name", as nc takes it, is host:port name; a name
        # always has a letter, so a number is never taken for one.
        d = self.echo_daemon()
        for args in ((d.host, d.port, "echo"),
                     ("-e", d.host, d.port, "echo", "sh", "-c",
                      "echo hi >&7; read l <&6; echo $l")):
            with self.subTest(args=args):
                rc, out, err = self.oneport(*args, data=b"hi\n")
                self.assertEqual((rc, out), (EX_OK, b"hi\n"), err)
        rc, out, err = self.oneport("-l", d.host, d.port)
        self.assertEqual((rc, out), (EX_OK, b"daytime\necho\n"), err)
        rc, out, err = self.oneport(d.host, d.port, "help")
        self.assertEqual((rc, out), (EX_OK, b"daytime\necho\n"), err)

    def test_errors_say_what_to_type(self):
        t = "127.0.0.1:7001"
        for args, says in (
                (("127.0.0.1", "7001"), "no service name: oneport "
                 "127.0.0.1:7001 name (oneport -l 127.0.0.1:7001 lists "
                 "them)"),
                ((t,), "no service name: oneport 127.0.0.1:7001 name"),
                (("::1", "7001"), "no service name: oneport [::1]:7001 "
                 "name"),
                (("-q", t), "no service name: oneport -q 127.0.0.1:7001 "
                 "name"),
                ((t, "echo", "extra"), 'one name only, then nothing: '
                 '"extra" is too many (-e runs a '
                 'program with the connection)'),
                (("127.0.0.1", "7001", "echo", "x"), 'one name only, then '
                 'nothing: "x" is too many'),
                (("-l", "127.0.0.1", "7001", "echo"), "-l takes no name: "
                 "oneport -l 127.0.0.1:7001"),
                (("-p", "7", "127.0.0.1", "8", "echo"), "two ports: 7 and 8"),
                (("127.0.0.1:7", "8", "echo"), "two ports: 7 and 8"),
                (("-p", "7", "127.0.0.1:8", "echo"), "two ports: -p 7 and "
                 "127.0.0.1:8"),
                (("-i", t, "echo"), "-i is for -e only"),
                (("-e", t, "echo"), "-e needs a program after the name"),
                (("-e", t), "-e needs a name and a program"),
                (("-l", "-q", t), "-l and -q exclude each other"),
                (("-t", "0", t, "echo"), "bad timeout: 0"),
                (("[::1", "echo"), "bad host: [::1 (host, host:port, "
                 "[IPv6] or [IPv6]:port)"),
                ((), "no host")):
            with self.subTest(args=args):
                rc, out, err = self.oneport(*args)
                self.assertEqual((rc, out), (EX_USAGE, b""), err)
                self.assertEqual(err.splitlines()[0], "oneport: " + says
                                 if says.endswith("them)") else
                                 err.splitlines()[0])
                self.assertIn("oneport: " + says, err)
                self.assertIn("\nusage: oneport", "\n" + err)

    def test_default_port_hint(self):
        # Port 1 is the default; when nothing listens there, the error
        # says how to give the port.
        host = "127.0.0.77"
        s = socket.socket()
        try:
            if s.connect_ex((host, 1)) == 0:
                self.skipTest("something listens on %s port 1" % host)
        finally:
            s.close()
        rc, out, err = self.oneport(host, "echo")
        self.assertEqual((rc, out), (EX_CONNECT, b""), err)
        self.assertIn("oneport: port 1, the TCPMUX port, is the default: "
                      "give the server's port, as 127.0.0.77:PORT", err)
        # Not with a port of one's own.
        rc, _, err = self.oneport(host + ":1", "echo")
        self.assertEqual(rc, EX_CONNECT, err)
        self.assertNotIn("default", err)


if __name__ == "__main__":
    import unittest
    unittest.main()
