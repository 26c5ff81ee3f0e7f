# SPDX-License-Identifier: ISC
"""
A host name with several addresses, of which the first refuses: the
command must go on to the next. The name is resolved for real, by the
system's resolver, from a hosts file that lists it as ::1 and then
127.0.0.1; the file is bind-mounted over /etc/hosts in a private mount
namespace (unshare -m) that only the command under test sees.
"""
import os
import shutil
import subprocess

from clienttest import (EX_CONNECT, EX_OK, IS_ROOT, ONEPORT, RUN_TIMEOUT,
                        ClientTestCase)

NAME = "oneport-multi.test"


class SeveralAddresses(ClientTestCase):

    def setUp(self):
        super().setUp()
        if not IS_ROOT or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a private "
                          "/etc/hosts")
        self.hosts = os.path.join(self.tmp, "hosts")
        with open("/etc/hosts") as f:
            system = f.read()
        with open(self.hosts, "w") as f:
            f.write("::1 %s\n127.0.0.1 %s\n%s" % (NAME, NAME, system))

    def in_namespace(self, *argv, data=b""):
        """argv run with the private /etc/hosts: (status, out, err)."""
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        p = subprocess.run(["unshare", "-m", "sh", "-c", script,
                            self.hosts] + [str(a) for a in argv],
                           input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def order(self):
        """The addresses as the command's getaddrinfo call gets them."""
        prog = ("import socket, sys\n"
                "for ai in socket.getaddrinfo(sys.argv[1], 7, 0, "
                "socket.SOCK_STREAM, socket.IPPROTO_TCP):\n"
                "    print(ai[4][0])\n")
        rc, out, err = self.in_namespace("python3", "-c", prog, NAME)
        if rc != 0:
            self.skipTest("no private /etc/hosts here: %s" % err.strip())
        return out.decode().split()

    def test_first_address_refuses(self):
        addrs = self.order()
        if addrs[:2] != ["::1", "127.0.0.1"]:
            self.skipTest("the resolver orders %s" % addrs)
        # Only the second address listens; the first refuses.
        d = self.echo_daemon(listen=("127.0.0.1:0",))
        rc, out, err = self.in_namespace(
            ONEPORT, "-v", "%s:%d" % (NAME, d.port), "echo",
            data=b"second address\n")
        self.assertEqual((rc, out), (EX_OK, b"second address\n"), err)
        self.assertIn("connected to 127.0.0.1 port %d" % d.port, err)
        # Only the first, and every address is named in the failure.
        rc, out, err = self.in_namespace(
            ONEPORT, "-6", "%s:%d" % (NAME, d.port), "echo")
        self.assertEqual(rc, EX_CONNECT, err)
        self.assertIn("::1: Connection refused", err)

    def test_all_refuse(self):
        self.order()
        d = self.echo_daemon(listen=("127.0.0.1:0",))
        port = d.port
        d.stop()
        rc, _, err = self.in_namespace(ONEPORT, "%s:%d" % (NAME, port),
                                       "echo")
        self.assertEqual(rc, EX_CONNECT, err)
        self.assertIn("::1: Connection refused", err)
        self.assertIn("127.0.0.1: Connection refused", err)
