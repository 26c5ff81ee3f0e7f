# SPDX-License-Identifier: ISC
"""
A running service may register a port instead of a hand-off socket: the
name is then answered with a redirect to that port on this host, for as
long as the registering connection lives (issue 4, point 4).
"""
import os
import socket
import struct
import unittest

from harness import DaemonTestCase, IS_ROOT, poll_until, recv_until_eof

REGISTER_PORT = 6
REGISTERED = 5


def register_port(path, name, port, msg_id=7):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    body = bytes([len(name)]) + name.encode() + struct.pack(">H", port)
    s.send(struct.pack(">2sBBII", b"OP", 1, REGISTER_PORT, msg_id,
                       len(body)) + body)
    reply = s.recv(256)
    magic, ver, typ, rid, ln = struct.unpack(">2sBBII", reply[:12])
    status, rlen = reply[12], reply[13]
    return s, typ, rid, status, reply[14:14 + rlen].decode()


@unittest.skipUnless(IS_ROOT, "register rules name a user; root runs as one")
class RegisterPort(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.ctl = os.path.join(self.tmp, "ctl.sock")
        self.d = self.start(config='control "%s"\nregister "db*" user root\n'
                            % self.ctl)

    def ask(self, line):
        s = self.sock(self.d)
        s.sendall(line)
        return recv_until_eof(s)

    def test_redirect_lives_with_the_connection(self):
        conn, typ, rid, status, reason = register_port(self.ctl, "db1", 5432)
        self.assertEqual((typ, rid, status, reason), (REGISTERED, 7, 0, ""))
        # Served as soon as REGISTERED is read: the names were sent to
        # the frontend first, and it reads them before saying "unknown".
        self.assertEqual(self.ask(b"db1\r\n"), b"@5432\r\n")
        self.assertEqual(self.ask(b"?DB1\r\n"), b"@5432\r\n")
        self.assertIn(b"db1\r\n", self.ask(b"HELP\r\n"))
        conn.close()
        poll_until(lambda: self.ask(b"db1\r\n") == b"-unknown service\r\n",
                   what="name gone with its connection")
        # The parent forgets it first; the frontend's HELP just after.
        poll_until(lambda: b"db1\r\n" not in self.ask(b"HELP\r\n"),
                   what="HELP without db1")

    def test_served_at_once_every_time(self):
        for i in range(40):
            name = "db%d" % (100 + i)
            conn, typ, rid, status, reason = register_port(self.ctl, name,
                                                           5000 + i)
            self.assertEqual(status, 0, reason)
            self.assertEqual(self.ask(name.encode() + b"\r\n"),
                             b"@%d\r\n" % (5000 + i))
            self.assertIn(name.encode() + b"\r\n", self.ask(b"HELP\r\n"))
            conn.close()

    def test_rules_still_apply(self):
        conn, typ, rid, status, reason = register_port(self.ctl, "web", 80)
        self.assertEqual((status, reason), (1, "not allowed"))
        conn.close()

    def test_port_zero_is_malformed(self):
        conn, typ, rid, status, reason = register_port(self.ctl, "db2", 1)
        conn.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(self.ctl)
        body = bytes([3]) + b"db3" + struct.pack(">H", 0)
        s.send(struct.pack(">2sBBII", b"OP", 1, REGISTER_PORT, 1,
                           len(body)) + body)
        self.assertEqual(s.recv(256), b"")    # closed, not registered
        self.d.wait_log(r"malformed message from service")


if __name__ == "__main__":
    unittest.main()
