# SPDX-License-Identifier: ISC
"""
test_systemd.py: oneportd as systemd runs it. Socket activation under the
real systemd-socket-activate (one socket, several with names, a socket that
stands for a `listen on` line), LISTEN_PID that is not ours.
"""
import os
import re
import shutil
import socket
import unittest

from harness import (DaemonTestCase, IO_TIMEOUT, free_port, recv_until,
                     recv_until_eof)

ACTIVATE = shutil.which("systemd-socket-activate")


def send_line(port, data, host="127.0.0.1"):
    """A client that connects and speaks at once, before anyone accepts."""
    s = socket.create_connection((host, port), IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    s.sendall(data)
    return s


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate not installed")
class SocketActivation(DaemonTestCase):

    def activate(self, ports, names=None, args=(), listen=(), config=None,
                 nlisteners=None):
        wrap = [ACTIVATE]
        for p in ports:
            wrap += ["-l", "127.0.0.1:%d" % p]
        if names:
            wrap += ["--fdname=" + ":".join(names)]
        d = self.start(*args, listen=listen, config=config, wait=False,
                       wrap=wrap, nlisteners=nlisteners or len(ports))
        for p in ports:
            d.wait_log(r"Listening on 127\.0\.0\.1:%d as" % p)
        return d

    def test_one_socket_serves_the_queued_client(self):
        port = free_port()
        d = self.activate([port], args=("-s", "echo=cat"))
        # systemd-socket-activate execs oneportd at this first connection:
        # the client waits in the queue of a socket no one has accepted.
        c = send_line(port, b"echo\r\nqueued\r\n")
        self.addCleanup(c.close)
        d.wait_listening()
        self.assertEqual(recv_until(c, b"queued\r\n"), b"+\r\nqueued\r\n")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(c), b"")
        self.assertEqual(d.listeners, [("127.0.0.1", port)])
        d.wait_log(r"listener 127\.0\.0\.1:%d: handed over as fd 3, "
                   r"served as well" % port)
        # Nothing of its own: the default port 1 is not bound.
        self.assertNotIn("*:1", d.log_text())
        self.assertNotIn("bind", d.log_text())

    def test_several_sockets_with_names(self):
        a, b, extra = free_port(), free_port(), free_port()
        while len({a, b, extra}) < 3:
            extra = free_port()
        # a stands for the -l line; b is served as well; extra is bound
        # by oneportd itself, as no socket was handed for it.
        d = self.activate([a, b], names=["tcpmux", "more"],
                          args=("-s", "echo=cat"),
                          listen=("127.0.0.1:%d" % a,
                                  "127.0.0.1:%d" % extra),
                          nlisteners=3)
        c = send_line(b, b"echo\r\nfirst\r\n")
        self.addCleanup(c.close)
        d.wait_listening()
        self.assertEqual(recv_until(c, b"first\r\n"), b"+\r\nfirst\r\n")
        self.assertEqual(sorted(p for _, p in d.listeners),
                         sorted([a, b, extra]))
        d.wait_log(r'listener 127\.0\.0\.1:%d: handed over as fd 3 named '
                   r'"tcpmux", for its listen line' % a)
        d.wait_log(r'listener 127\.0\.0\.1:%d: handed over as fd 4 named '
                   r'"more", served as well' % b)
        for p in (a, b, extra):
            s = send_line(p, b"echo\r\nport %d\r\n" % p)
            self.addCleanup(s.close)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"+\r\nport %d\r\n" % p)

    def test_listen_pid_not_ours(self):
        # Variables meant for another process: ignored, and bound as usual.
        d = self.start("-s", "echo=cat",
                       env={"LISTEN_PID": "1", "LISTEN_FDS": "1",
                            "LISTEN_FDNAMES": "x"})
        d.wait_log(r"LISTEN_PID=1 is not this process")
        self.assertEqual(d.exchange(b"echo\r\nhi\r\n", half_close=True),
                         b"+\r\nhi\r\n")


if __name__ == "__main__":
    unittest.main()
