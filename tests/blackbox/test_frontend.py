"""
The frontend as a process the daemon depends on: it holds as many names as
the configuration and the control socket give it, configured or
registered, however fast they change.
"""
import os
import signal
import socket
import struct

from harness import DaemonTestCase, poll_until, recv_exact


def services(n, fmt="s%04d"):
    return "".join('service "%s" {\n\tcommand "/bin/echo" "%s"\n}\n'
                   % (fmt % i, fmt % i) for i in range(n))


def wire(typ, body=b""):
    """A lib/wire.h message: magic, version, type, id 0, length."""
    return struct.pack(">2sBBII", b"OP", 1, typ, 0, len(body)) + body


def register(t, path, name):
    """A registration over the control socket, held open; returns it."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t.addCleanup(c.close)
    c.settimeout(5)
    c.connect(path)
    c.send(wire(4, bytes([len(name)]) + name.encode()))
    ans = c.recv(4096)
    t.assertTrue(len(ans) >= 14 and ans[3] == 5 and ans[12] == 0,
                 "registration of %s refused: %r" % (name, ans))
    return c


class ManyNames(DaemonTestCase):
    """glibc's qsort allocates (and calls sysinfo) for arrays over 1 KiB:
    the sandboxed frontend must never need it, whatever the count."""

    def check(self, d, n, fe):
        for i in sorted({0, n // 2, n - 1}):
            name = b"s%04d" % i
            self.assertEqual(d.exchange(name + b"\r\n"),
                             b"+\r\n" + name + b"\n")
        self.assertEqual(d.frontend_pid(), fe)
        self.assertIsNone(d.proc.poll())

    def configured(self, n):
        d = self.start(config=services(n))
        fe = d.frontend_pid()
        d.wait_log(r"started, %d services" % n)
        self.check(d, n, fe)
        if n <= 50:
            self.assertEqual(d.exchange(b"help\r\n"), b"".join(
                b"s%04d\r\n" % i for i in range(n)))

    def test_40_services(self):
        self.configured(40)

    def test_45_services(self):
        self.configured(45)

    def test_50_services(self):
        self.configured(50)

    def test_4096_services(self):
        self.configured(4096)

    def test_reload_from_1_to_40(self):
        d = self.start(config=services(1))
        fe = d.frontend_pid()
        with open(d.conffile, "w") as f:
            f.write(services(40))
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded: 40 services")
        poll_until(lambda: d.answers(b"s0039\r\n", b"+\r\ns0039\n"),
                   what="the 40th service to answer")
        self.check(d, 40, fe)

    def test_50_registered_names(self):
        ctl = os.path.join(self.tmp, "ctl.sock")
        d = self.start(config='control "%s"\nregister "dyn-*" user root\n'
                       % ctl + services(3))
        fe = d.frontend_pid()
        names = ["dyn-%02d" % i for i in range(50)]
        for n in names:
            register(self, ctl, n)
        want = b"".join(n.encode() + b"\r\n" for n in sorted(
            names + ["s0000", "s0001", "s0002"]))
        poll_until(lambda: d.answers(b"help\r\n", want),
                   what="HELP to list the 50 registered names")
        self.check(d, 3, fe)
