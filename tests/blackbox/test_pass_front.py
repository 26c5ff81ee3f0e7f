# SPDX-License-Identifier: ISC
"""
The frontend's own data channel (src/frontend/pass.c, lib/wire.h
WIRE_CHAN_FRONT): once a pass service speaks version 2, the parent lends
the frontend a second channel to it, and the frontend hands clients over
itself, past the parent; their log lines end in "lent". Not for a service
with an allow/deny list (the parent judges those again), and a reload
that adds one takes the channel back. A killed frontend's successor gets
a new channel. liboneport takes a HANDOFF on such a channel only for the
TCP connection the message names.
"""
import os
import re
import signal
import socket
import struct
import unittest

from harness import (IO_TIMEOUT, count_fds, free_port, poll_until,
                     recv_until_eof)

from test_pass import PassCase, peer_text, recv_exact
from test_pass_v2 import V2

LENT = r"service=%s result=\+ pid=- dispatch=\S+ lent$"


class PassFront(PassCase):

    def served(self, d, name, payload=b"ping", src=None):
        s = self.sock(d, src=src)
        s.sendall(name + b"\r\n" + payload)
        s.shutdown(socket.SHUT_WR)
        reply = recv_until_eof(s)
        s.close()
        return reply

    def ready(self, name, config_extra="", svc_extra=""):
        path = self.path(name + ".sock")
        p = self.echo(path, wait_path=path)
        conf = '%sservice "%s" { socket "%s"%s }\n' % (
            config_extra, name, path, svc_extra)
        d = self.start(config=conf)
        self.assertEqual(self.served(d, name.encode()), b"+\r\nping")
        d.wait_log(V2 % name)
        return d, p, path

    def lent(self, d, name):
        return len([l for l in d.log_lines()
                    if re.search(LENT % re.escape(name), l)])

    def test_clients_go_past_the_parent(self):
        d, p, _ = self.ready("fast")
        # The lend reaches the frontend a moment after the upgrade.
        poll_until(lambda: self.served(d, b"fast") == b"+\r\nping" and
                   self.lent(d, "fast") > 0, what="a lent hand-off")
        n = self.lent(d, "fast")
        for i in range(30):
            self.assertEqual(self.served(d, b"fast", src="127.0.0.%d"
                                         % (2 + i % 5)), b"+\r\nping")
        d.wait_log(LENT % "fast", count=n + 30)
        # The service saw each client's own address (it checks it).
        self.assertNotIn("malformed", self.stderr_of(p))

    def test_implicit_client_untouched(self):
        path = self.path("imp.sock")
        self.echo("-e", path, wait_path=path)
        d = self.start(config='service "imp" { socket "%s"; match ssh }\n'
                       % path)
        want = lambda s: b"+\r\npeer=%s service=imp\r\n" % peer_text(
            s.getsockname())
        def tcpmux():
            s = self.sock(d)
            s.sendall(b"imp\r\n")
            w = want(s)
            got = recv_exact(s, len(w)) == w
            s.close()
            return got
        d.wait_log(r"^started")
        poll_until(lambda: tcpmux() and self.lent(d, "imp") > 0,
                   what="a lent hand-off")
        ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n" + os.urandom(300)
        s = self.sock(d)
        s.sendall(ssh)
        w = want(s)[3:]
        self.assertEqual(recv_exact(s, len(w) + len(ssh)), w + ssh)
        d.wait_log(r"^conn peer=\S+ by=ssh service=imp result=\+ pid=- "
                   r"dispatch=\S+ lent$")

    def test_allow_list_keeps_the_parent_on_the_path(self):
        d, p, path = self.ready("acl", svc_extra="; allow 127.0.0.0/8")
        for _ in range(10):
            self.assertEqual(self.served(d, b"acl"), b"+\r\nping")
        self.assertEqual(self.lent(d, "acl"), 0)
        # Without the list, lent; with a deny again, the channel goes
        # back and the parent refuses the denied address.
        with open(d.conffile, "w") as f:
            f.write('service "acl" { socket "%s" }\n' % path)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded: 1 services$")
        poll_until(lambda: self.served(d, b"acl") == b"+\r\nping" and
                   self.lent(d, "acl") > 0, what="lent after the reload")
        with open(d.conffile, "w") as f:
            f.write('service "acl" { socket "%s"; deny 127.0.0.9 }\n'
                    % path)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded: 1 services$", count=2)
        poll_until(lambda: self.served(d, b"acl", src="127.0.0.9") ==
                   b"-access denied\r\n", what="127.0.0.9 denied")
        n = self.lent(d, "acl")
        for _ in range(5):
            self.assertEqual(self.served(d, b"acl"), b"+\r\nping")
        self.assertEqual(self.lent(d, "acl"), n)

    def test_the_local_address_is_the_one_called(self):
        # A listener bound to one address gives it to its clients without
        # asking each socket; a wildcard one asks each: 127.0.0.3 called
        # on 0.0.0.0 is 127.0.0.3.
        path = self.path("addr.sock")
        p = self.echo("-a", path, wait_path=path)
        wild = free_port()
        d = self.start(config='listen on 0.0.0.0 port %d\n'
                       'service "addr" { socket "%s" }\n' % (wild, path))
        poll_until(lambda: self.served(d, b"addr").startswith(b"+") and
                   self.lent(d, "addr") > 0, what="a lent hand-off")
        n = self.lent(d, "addr")
        for host, port in (d.listeners[0], ("127.0.0.3", wild)):
            s = socket.create_connection((host, port), IO_TIMEOUT)
            self.addCleanup(s.close)
            want = b"+\r\npeer=%s local=%s service=addr\r\n" % (
                peer_text(s.getsockname()), peer_text(s.getpeername()))
            s.sendall(b"addr\r\n")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), want)
        d.wait_log(LENT % "addr", count=n + 2)

    def test_a_listener_gone_by_a_reload_leaves_its_clients_their_address(self):
        # The address is the connection's own copy: on the previous build
        # it pointed into the listener, freed at the reload, and the
        # service was told the allocator's bytes (ASan: use after free).
        path = self.path("addr.sock")
        self.echo("-a", path, wait_path=path)
        extra = free_port()
        conf = 'service "addr" { socket "%s" }\n' % path
        d = self.start(config='listen on 127.0.0.2 port %d\n' % extra + conf)
        d.listeners.sort(key=lambda l: l[0] == "127.0.0.2")
        poll_until(lambda: self.served(d, b"addr").startswith(b"+") and
                   self.lent(d, "addr") > 0, what="a lent hand-off")
        front = d.frontend_pid()
        base = count_fds(front)
        s = socket.create_connection(("127.0.0.2", extra), IO_TIMEOUT)
        self.addCleanup(s.close)
        poll_until(lambda: count_fds(front) > base,
                   what="the client accepted by the frontend")
        with open(d.conffile, "w") as f:
            f.write(conf)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^configuration reloaded")
        poll_until(lambda: count_fds(front) == base,
                   what="the listener on 127.0.0.2 closed")
        for _ in range(20):
            # Allocations after the free, as a busy frontend makes.
            self.assertTrue(self.served(d, b"addr").startswith(b"+"))
        want = b"+\r\npeer=%s local=127.0.0.2:%d service=addr\r\n" % (
            peer_text(s.getsockname()), extra)
        s.sendall(b"addr\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), want)

    def test_killed_frontend_successor_lent_again(self):
        d, p, _ = self.ready("again")
        poll_until(lambda: self.served(d, b"again") == b"+\r\nping" and
                   self.lent(d, "again") > 0, what="a lent hand-off")
        base = count_fds(p.pid)
        for k in range(3):
            front = d.frontend_pid()
            n = self.lent(d, "again")
            os.kill(front, signal.SIGKILL)
            poll_until(lambda: d.frontend_pid() != front,
                       what="a new frontend")
            poll_until(lambda: self.served(d, b"again") == b"+\r\nping" and
                       self.lent(d, "again") > n,
                       what="lent by frontend %d" % (k + 2))
        # The service dropped each dead frontend's channel.
        poll_until(lambda: count_fds(p.pid) == base,
                   what="the service's descriptors back to %d" % base)
        self.assertIsNone(d.proc.poll())


def wire(typ, mid, body=b""):
    return struct.pack(">2sBBII", b"OP", 1, typ, mid, len(body)) + body


def handoff_body(name, peer, local):
    b = bytes([len(name)]) + name + bytes([4])
    for host, port in (peer, local):
        b += struct.pack(">H", port) + socket.inet_aton(host) + bytes(12)
    return b + struct.pack(">H", 0)


class FrontChannelCheck(PassCase):
    """A daemon of our own on the service's socket: CHANNEL kind 2 (the
    frontend's), then HANDOFFs naming the right and a wrong peer."""

    def channel(self, path):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(c.close)
        c.settimeout(IO_TIMEOUT)
        c.connect(path)
        hello = c.recv(64)
        self.assertEqual(hello[3], 9, hello)    # HELLO
        ours, theirs = socket.socketpair(socket.AF_UNIX,
                                         socket.SOCK_SEQPACKET)
        self.addCleanup(ours.close)
        socket.send_fds(c, [wire(10, 0, bytes([2]))], [theirs.fileno()])
        theirs.close()
        ours.settimeout(IO_TIMEOUT)
        return ours

    def tcp_pair(self):
        lst = socket.socket()
        self.addCleanup(lst.close)
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        cli = socket.create_connection(lst.getsockname())
        self.addCleanup(cli.close)
        srv, _ = lst.accept()
        return cli, srv

    def test_wrong_peer_is_not_taken(self):
        path = self.path("chk.sock")
        p = self.echo(path, wait_path=path)
        ch = self.channel(path)
        cli, srv = self.tcp_pair()
        local = srv.getsockname()
        body = handoff_body(b"chk", ("127.0.0.99", 1), local)
        socket.send_fds(ch, [wire(1, 0x80000001, body)], [srv.fileno()])
        srv.close()
        # The channel is dropped, the client never hears "+".
        self.assertEqual(ch.recv(64), b"")
        cli.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(cli), b"")
        self.assertIsNone(p.poll())
        # The right peer on a new channel: "+", and ACCEPT back.
        ch = self.channel(path)
        cli, srv = self.tcp_pair()
        body = handoff_body(b"chk", cli.getsockname(), srv.getsockname())
        socket.send_fds(ch, [wire(1, 0x80000002, body)], [srv.fileno()])
        srv.close()
        self.assertEqual(ch.recv(64), wire(7, 0x80000002))
        cli.sendall(b"pong")
        cli.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(cli), b"+\r\npong")


if __name__ == "__main__":
    unittest.main()
