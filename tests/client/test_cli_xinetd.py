# SPDX-License-Identifier: ISC
"""
Interoperability with a plain RFC 1078 server: xinetd's TCPMUX, run in the
foreground with a configuration of its own on a free loopback port. For a
TCPMUXPLUS service xinetd itself answers "+Go\\r\\n" and then, as a stray
byte of its own, a NUL: the client must take the text after "+" and hand
the NUL on as the function's first byte. For a TCPMUX service the program
sends the "+" itself.
"""
import os
import shutil
import signal
import socket
import subprocess

from clienttest import (EX_OK, EX_PROTOCOL, EX_REFUSED, IO_TIMEOUT, IS_ROOT,
                        ClientTestCase, free_port, poll_until)

XINETD = shutil.which("xinetd") or "/usr/sbin/xinetd"

CONF = """defaults
{
	instances	= UNLIMITED
	per_source	= UNLIMITED
	cps		= 1000000 1
}
service tcpmux
{
	type		= INTERNAL UNLISTED
	id		= tcpmux
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	bind		= 127.0.0.1
	port		= %(port)d
	flags		= NOLIBWRAP
}
service catplus
{
	type		= TCPMUXPLUS UNLISTED
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	server		= /bin/cat
	flags		= NOLIBWRAP
}
service selfplus
{
	type		= TCPMUX UNLISTED
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	server		= %(self)s
	flags		= NOLIBWRAP
}
"""


class Xinetd(ClientTestCase):

    def setUp(self):
        super().setUp()
        if not IS_ROOT or not os.access(XINETD, os.X_OK):
            self.skipTest("needs root and xinetd (apt-get install xinetd)")
        self.xport = free_port()
        selfplus = self.script("selfplus.sh",
                               "#!/bin/sh\nprintf '+ready\\r\\n'\n"
                               "exec cat\n")
        conf = os.path.join(self.tmp, "xinetd.conf")
        with open(conf, "w") as f:
            f.write(CONF % {"port": self.xport, "self": selfplus})
        self.x = subprocess.Popen(
            [XINETD, "-dontfork", "-f", conf, "-pidfile",
             os.path.join(self.tmp, "xinetd.pid")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        self.addCleanup(self.stop_xinetd)

        def up():
            if self.x.poll() is not None:
                raise AssertionError("xinetd exited: %r"
                                     % self.x.stderr.read())
            try:
                socket.create_connection(("127.0.0.1", self.xport),
                                         IO_TIMEOUT).close()
                return True
            except OSError:
                return False
        poll_until(up, what="xinetd listening on %d" % self.xport)
        self.t = "127.0.0.1:%d" % self.xport

    def stop_xinetd(self):
        if self.x.poll() is None:
            os.killpg(self.x.pid, signal.SIGTERM)
            try:
                self.x.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.x.pid, signal.SIGKILL)
                self.x.wait(5)
        self.x.stderr.close()

    def test_tcpmuxplus_nul_is_data(self):
        rc, out, err = self.oneport(self.t, "catplus", data=b"hello\n")
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(out, b"\0hello\n")

    def test_tcpmuxplus_relay(self):
        data = os.urandom(256 * 1024)
        rc, out, err = self.oneport(self.t, "catplus", data=data)
        self.assertEqual(rc, EX_OK, err)
        self.assertTrue(out == b"\0" + data, "the bytes differ")

    def test_program_sends_plus_with_text(self):
        rc, out, err = self.oneport(self.t, "selfplus", data=b"x\n")
        self.assertEqual((rc, out), (EX_OK, b"x\n"), err)

    def test_unknown_service(self):
        # Debian's xinetd says "-Service name not found"; upstream's
        # closes without a word, which is a protocol error.
        rc, out, err = self.oneport(self.t, "nosuch", data=b"x\n")
        self.assertIn(rc, (EX_REFUSED, EX_PROTOCOL), err)
        self.assertEqual(out, b"")

    def test_exec_form(self):
        rc, out, err = self.oneport(
            "-e", self.t, "catplus", "sh", "-c",
            'printf ping >&7; exec 7>&-; head -c 5 <&6')
        self.assertEqual(rc, EX_OK, err)
        self.assertEqual(out, b"\0ping")
