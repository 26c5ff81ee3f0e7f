# SPDX-License-Identifier: ISC
"""
oneportd-import (issue 16): an inetd.conf's tcpmux/NAME and tcpmux/+NAME
lines and an xinetd configuration's TCPMUX and TCPMUXPLUS services become
an oneportd.conf that oneportd -n takes, with a comment for each thing
that is not carried over; the services then answer as they did (the "+"
from the daemon or from the program), their only_from and no_access as
allow and deny. Run on the files Debian's xinetd ships too.
"""
import gzip
import os
import re
import subprocess

from harness import DAEMON, REPO, DaemonTestCase, run_daemon_n

# The built one (its version filled in), else the source.
IMPORT = os.path.join(os.path.dirname(DAEMON), "oneportd-import")
if not os.access(IMPORT, os.X_OK):
    IMPORT = os.path.join(REPO, "scripts", "oneportd-import")

DENIED = b"-access denied\r\n"

# Lines as inetd.conf(5) and the inetd man pages write them (inetd passes
# argv[0] among the arguments), and mistakes.
INETD = """# /etc/inetd.conf:  see inetd(8) for further informations.
#
# <service_name> <sock_type> <proto> <flags> <user> <server_path> <args>
#
#:INTERNAL: Internal services
#discard		stream	tcp	nowait	root	internal
daytime		stream	tcp	nowait	root	internal
tcpmux		stream	tcp	nowait	root	internal
ftp		stream	tcp	nowait	root	/usr/sbin/tcpd	/usr/sbin/in.ftpd
#:OTHER: Other services
tcpmux/+date	stream	tcp	nowait	nobody	/bin/date	date -u
tcpmux/self	stream	tcp	nowait	nobody	/usr/bin/printf	printf +\\r\\nself\\r\\n
tcpmux/+wrapped	stream	tcp	nowait	nobody	/usr/sbin/tcpd	/bin/echo hello
#<off># tcpmux/+old	stream	tcp	nowait	nobody	/bin/true	true
tcpmux/+my_svc	stream	tcp	nowait	nobody	/bin/true	true
tcpmux/+DATE	stream	tcp6	nowait	nobody	/bin/date	date
tcpmux/+slow	stream	tcp	nowait.10	nobody:nogroup	/bin/cat	cat
tcpmux/+waiter	stream	tcp	wait	nobody	/bin/cat	cat
tcpmux/+udp	dgram	udp	wait	nobody	/bin/cat	cat
127.0.0.1:tcpmux/+other	stream	tcp	nowait	nobody.nogroup	/bin/echo	echo hi there
tcpmux/+short	stream	tcp	nowait	nobody
"""

XINETD = """# Simple configuration file for xinetd
defaults
{
	instances	= 60
	log_type	= SYSLOG daemon info
	only_from	= 127.0.0.0 192.168.1.{1,2}
	only_from	= localhost
	no_access	= 127.0.0.3
	per_source	= 4
	disabled	= off-by-default
}

includedir %s
"""

# The sample of xinetd.conf(5)'s TCPMUX section, named as RFC 6335 wants,
# and more of what such files hold.
XINETD_D = {
    "plus": """# default: on
service myorg-server
{
	disable		= no
	type		= TCPMUXPLUS UNLISTED
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= nobody
	group		= nogroup
	server		= /usr/bin/printf
	server_args	= hello
	only_from	+= 2001:db8::5/32 10.9.9.9/8
	env		= LANG=C TCPREMOTEIP=x
	nice		= 10
	flags		= KEEPALIVE
	instances	= UNLIMITED
}
""",
    "self": """service self
{
	type		= TCPMUX
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= nobody
	server		= /usr/bin/printf
	server_args	= +\\r\\nself\\r\\n
	only_from	= 127.0.0.2
}
service nobody-may
{
	type		= TCPMUX
	wait		= no
	user		= nobody
	server		= /bin/true
	only_from	=
}
service named
{
	type		= TCPMUXPLUS
	wait		= no
	user		= nobody
	server		= /bin/true
	no_access	= bad.example.org
}
""",
    "others": """service myorg_server
{
	type		= TCPMUX
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	server		= /usr/bin/my_server_exec
}
service off-by-default
{
	type		= TCPMUXPLUS
	wait		= no
	server		= /bin/true
}
service off
{
	type		= TCPMUXPLUS
	disable		= yes
	server		= /bin/true
}
service tcpmux
{
	type		= INTERNAL
	id		= tcpmux
	socket_type	= stream
	protocol	= tcp
	user		= root
	wait		= no
}
""",
    # Names with a dot or ending in a tilde are not read.
    "plus.dpkg-old": 'service never\n{\n\ttype = TCPMUXPLUS\n'
                     '\tserver = /bin/true\n}\n',
    "self~": 'service never2\n{\n\ttype = TCPMUXPLUS\n'
             '\tserver = /bin/true\n}\n',
}


def run_import(*args, stdin=None):
    p = subprocess.run([IMPORT] + list(args), input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def block(out, name):
    """The lines of service NAME's block."""
    m = re.search(r'^service "%s" \{\n(.*?)^\}$' % re.escape(name), out,
                  re.M | re.S)
    assert m, "no service %s in:\n%s" % (name, out)
    return m.group(1).splitlines()


class Import(DaemonTestCase):

    def imported(self, *args):
        """Imports, checks the result with oneportd -n, returns it."""
        rc, out, err = run_import(*args)
        self.assertEqual((rc, err), (0, ""), out)
        path = self.script("imported.conf", out, 0o644)
        rc, nout, nerr = run_daemon_n(["-n", "-f", path])
        self.assertEqual((rc, nerr), (0, ""), out)
        return out, path

    def test_inetd_lines(self):
        src = self.script("inetd.conf", INETD, 0o644)
        out, path = self.imported(src)
        # "+" from inetd: from oneportd; without: from the program.
        self.assertEqual(block(out, "date"), [
            '\tcommand "/bin/date" "-u"', '\tuser "nobody"',
            '\treply daemon'])
        self.assertEqual(block(out, "self"), [
            '\tcommand "/usr/bin/printf" "+\\\\r\\\\nself\\\\r\\\\n"',
            '\tuser "nobody"', '\treply self'])
        self.assertEqual(block(out, "slow")[1:], [
            '\tcommand "/bin/cat"', '\tuser "nobody"', '\tgroup "nogroup"',
            '\treply daemon'])
        self.assertIn('\tcommand "/bin/echo" "hi" "there"',
                      block(out, "other"))
        self.assertIn("\tgroup \"nogroup\"", block(out, "other"))
        # tcpd's own checks cannot come along: the service is closed.
        self.assertEqual(block(out, "wrapped")[-2:], ['\treply daemon',
                                                      '\tdeny all'])
        for want in (
                ":8: the tcpmux service itself: oneportd takes its place",
                ":9: ftp: not a tcpmux service, left to inetd",
                ":14: disabled (#<off>#), not carried over: tcpmux/+old",
                ":15: tcpmux/+my_svc: not carried over: only letters, "
                "digits and hyphens may be in a name",
                ":16: tcpmux/+DATE: not carried over: a second service "
                "of this name",
                ":18: tcpmux/+waiter: not carried over: wait, not nowait",
                ":19: tcpmux/+udp: not carried over: dgram/udp, not "
                "stream/tcp",
                ":21: tcpmux/+short: not carried over: fewer than six "
                "words"):
            self.assertIn("# " + src + want, out)
        self.assertIn("\t# nowait.10: the rate limit is not carried over",
                      out)
        self.assertIn("\t# the address 127.0.0.1 is not carried over",
                      out)
        # The same from the standard input, but for the name.
        rc, sout, err = run_import("-", stdin=INETD.encode())
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(sout.replace("(standard input)", src), out)
        # Served as inetd served them.
        with open(path, "a") as f:
            f.write("timeout 2\n")
        d = self.start(config=None, conffile=path)
        got = d.exchange(b"date\r\n")
        self.assertTrue(got.startswith(b"+\r\n") and len(got) > 10, got)
        self.assertEqual(d.exchange(b"self\r\n"), b"+\r\nself\r\n")
        self.assertEqual(d.exchange(b"wrapped\r\n"), DENIED)
        self.assertEqual(d.exchange(b"waiter\r\n"),
                         b"-unknown service\r\n")

    def xinetd_tree(self):
        d = os.path.join(self.tmp, "xinetd.d")
        os.mkdir(d)
        for name, text in XINETD_D.items():
            self.script(os.path.join("xinetd.d", name), text, 0o644)
        return self.script("xinetd.conf", XINETD % d, 0o644)

    def test_xinetd_services(self):
        src = self.xinetd_tree()
        out, path = self.imported(src)
        self.assertEqual(block(out, "myorg-server"), [
            '\tcommand "/usr/bin/printf" "hello"', '\tuser "nobody"',
            '\tgroup "nogroup"', '\tmax instances 0',
            '\tmax per-address 4', '\treply daemon', '\tenv "LANG=C"',
            '\t# env TCPREMOTEIP=x: oneportd sets it itself, not carried '
            'over',
            # The defaults' lists, added to with +=; host bits cleared.
            '\tallow 127.0.0.0/8 192.168.1.1 192.168.1.2 127.0.0.1 ::1 '
            '2001:db8::/32 10.0.0.0/8',
            '\tdeny 127.0.0.3',
            '\t# %s/xinetd.d/plus:15: nice = 10: not carried over'
            % self.tmp,
            '\t# %s/xinetd.d/plus:16: flags KEEPALIVE: not carried over'
            % self.tmp])
        # "=" replaces the defaults' list; the defaults' instances stay.
        self.assertEqual(block(out, "self"), [
            '\tcommand "/usr/bin/printf" "+\\\\r\\\\nself\\\\r\\\\n"',
            '\tuser "nobody"', '\tmax instances 60', '\tmax per-address 4',
            '\treply self', '\tallow 127.0.0.2', '\tdeny 127.0.0.3'])
        # An empty only_from: nobody; a no_access by name: closed.
        self.assertEqual(block(out, "nobody-may")[-1], "\tdeny all")
        self.assertEqual(block(out, "named")[-1], "\tdeny all")
        self.assertIn("\t# no_access bad.example.org: no address or "
                      "network, not carried over", out)
        for want in ("TCPMUX service myorg_server: not carried over: "
                     "only letters, digits and hyphens",
                     "service off-by-default: disabled by the defaults",
                     "service off: disabled (disable = yes)",
                     "service tcpmux: the TCPMUX port itself; oneportd "
                     "takes its place"):
            self.assertIn(want, out)
        self.assertIn("# %s:5: defaults: log_type = SYSLOG daemon info: "
                      "not carried over" % src, out)
        self.assertNotIn("never", out)
        # Served as xinetd served them, to whom it served them.
        with open(path, "a") as f:
            f.write("timeout 2\n")
        d = self.start(config=None, conffile=path)
        self.assertEqual(d.exchange(b"myorg-server\r\n", src="127.0.0.1"),
                         b"+\r\nhello")
        self.assertEqual(d.exchange(b"myorg-server\r\n", src="127.0.0.3"),
                         DENIED)
        self.assertEqual(d.exchange(b"self\r\n", src="127.0.0.2"),
                         b"+\r\nself\r\n")
        self.assertEqual(d.exchange(b"self\r\n", src="127.0.0.1"), DENIED)
        self.assertEqual(d.exchange(b"nobody-may\r\n"), DENIED)

    def test_debian_xinetd_files(self):
        """What Debian's xinetd installs, and its sample: none of it is
        TCPMUX; every service is named, and the result is a valid,
        empty configuration."""
        files = []
        if os.path.exists("/etc/xinetd.conf"):
            files.append("/etc/xinetd.conf")
        sample = "/usr/share/doc/xinetd/examples/sample.conf.gz"
        if os.path.exists(sample):
            with gzip.open(sample, "rt") as f:
                files.append(self.script("sample.conf", f.read(), 0o644))
        if not files:
            self.skipTest("xinetd is not installed")
        for src in files:
            out, _ = self.imported(src)
            self.assertNotIn("\nservice ", out)
            self.assertEqual(run_import("-x", src)[1], out)
        if os.path.isdir("/etc/xinetd.d"):
            out = run_import("/etc/xinetd.conf")[1]
            for name in os.listdir("/etc/xinetd.d"):
                if "." in name or name.endswith("~"):
                    continue
                with open(os.path.join("/etc/xinetd.d", name)) as f:
                    for m in re.finditer(r"^service\s+(\S+)", f.read(),
                                         re.M):
                        self.assertIn("service %s: not a TCPMUX service, "
                                      "left to xinetd" % m.group(1), out)

    def test_usage(self):
        rc, out, err = run_import()
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("name a file, or give -i (inetd) or -x (xinetd)", err)
        rc, out, err = run_import(os.path.join(self.tmp, "none"))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("none: cannot read it", err)
        for opt in ("-V", "--version"):
            rc, out, err = run_import(opt)
            self.assertEqual(rc, 0)
            self.assertRegex(out, r"^oneportd-import \S+\n$")
        rc, out, err = run_import("-h")
        self.assertEqual(rc, 0)
        self.assertIn("usage: oneportd-import [-i | -x] [file]", err)


if __name__ == "__main__":
    import unittest
    unittest.main()
