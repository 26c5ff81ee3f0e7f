# SPDX-License-Identifier: ISC
"""
What the root parent does not take on trust. A frontend that was taken
over can pass any descriptor with a request: the parent gives a program
as its stdin and stdout only a connected TCP socket. The test plays the
taken-over frontend by copying its end of the channel (pidfd_getfd, as
root) and sending the parent requests with other kinds of descriptor.
And a configuration file someone else could write is not read.
"""
import ctypes
import os
import re
import select
import signal
import socket
import struct
import time
import unittest

from harness import (IS_ROOT, DaemonTestCase, readable, recv_until_eof,
                     run_daemon_n)

SYS_pidfd_getfd = 438           # x86_64 and aarch64 alike
IPC_VERSION, IPC_DISPATCH = 1, 2
SOCK_SEQPACKET_TYPE = "0005"    # /proc/net/unix's Type column

_libc = ctypes.CDLL(None, use_errno=True)


def steal_fd(pid, fd):
    """A copy of fd of process pid (needs root, or ptrace rights)."""
    pidfd = os.pidfd_open(pid)
    try:
        r = _libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return r
    finally:
        os.close(pidfd)


def channel_fd(pid):
    """The frontend's end of its SOCK_SEQPACKET channel to the parent."""
    seqpacket = set()
    with open("/proc/net/unix") as f:
        for row in f.read().splitlines()[1:]:
            cols = row.split()
            if cols[4] == SOCK_SEQPACKET_TYPE:
                seqpacket.add(cols[6])
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in seqpacket:
            return int(fd)
    raise AssertionError("no channel socket in the frontend")


def dispatch_msg(name):
    body = struct.pack("=I16s4xQII254s256s2x28s28s65s7x", 0, name,
                       time.monotonic_ns(), 0, 0, b"", b"", b"", b"", b"")
    return struct.pack("=BBHI", IPC_VERSION, IPC_DISPATCH, 0,
                       len(body)) + body


@unittest.skipUnless(IS_ROOT, "copying the frontend's fd needs root")
class PassedDescriptor(DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.d = self.start("-s", "hi=/bin/echo hi")
        fe = self.d.frontend_pid()
        self.d.wait_log(r"started")
        self.chan = socket.socket(fileno=steal_fd(fe, channel_fd(fe)))
        self.addCleanup(self.chan.close)

    def pass_fd(self, fd):
        self.chan.sendmsg([dispatch_msg(b"hi")],
                          [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                            struct.pack("i", fd))])

    def test_real_client_still_served(self):
        # The same forged path with a real TCP connection works: the
        # check refuses kinds of descriptor, not the way it came.
        ls = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(ls.close)
        c = socket.create_connection(ls.getsockname())
        self.addCleanup(c.close)
        srv, _ = ls.accept()
        self.pass_fd(srv.fileno())
        srv.close()
        # "+" first; the program's own "hi" may come in the same read.
        self.assertTrue(recv_until_eof(c).startswith(b"+\r\n"))

    def test_unix_socket_refused(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(b.close)
        self.pass_fd(a.fileno())
        a.close()
        self.d.wait_log(r"^frontend passed a descriptor that is not a TCP "
                        r"connection, for hi: dropped$")
        self.assertTrue(readable(b, 5))
        self.assertEqual(b.recv(64), b"")   # closed, no "+" and no program

    def test_udp_and_pipe_refused(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(u.close)
        u.connect(("127.0.0.1", 9))
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.pass_fd(u.fileno())
        self.pass_fd(w)
        os.close(w)
        self.d.wait_log(r"^frontend passed a descriptor that is not a TCP "
                        r"connection, for hi: dropped$", count=2)
        # The write end closes everywhere: no program holds it.
        self.assertTrue(select.select([r], [], [], 5)[0])
        self.assertEqual(os.read(r, 64), b"")
        self.assertFalse([m for m in self.d.conn_lines()
                          if m.group("service") == "hi"])
        self.assertIsNone(self.d.proc.poll())


class ConfigSecrecy(DaemonTestCase):
    """A configuration says what runs as whom: one that others can write
    is refused, at start and at reload, and so is an included one."""

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_writable_by_others_refused(self):
        conf = self.write("oneportd.conf", 'service "hi" { command '
                          '"/bin/echo" "hi" }\n', 0o646)
        rc, out, err = run_daemon_n(["-n", "-f", conf])
        self.assertEqual((rc, err), (1, "%s: writable by others: "
                                        "refused\n" % conf))
        os.chmod(conf, 0o644)
        self.assertEqual(run_daemon_n(["-n", "-f", conf])[0], 0)

    def test_include_checked_too(self):
        self.write("inc.conf", 'service "hi" { command "/bin/true" }\n',
                   0o666)
        conf = self.write("oneportd.conf", 'include "inc.conf"\n')
        rc, out, err = run_daemon_n(["-n", "-f", conf])
        self.assertEqual(rc, 1)
        self.assertIn("%s:1: %s: writable by others: refused"
                      % (conf, os.path.join(self.tmp, "inc.conf")), err)

    def test_fifo_include_does_not_hang(self):
        fifo = os.path.join(self.tmp, "inc.conf")
        os.mkfifo(fifo, 0o600)
        conf = self.write("oneportd.conf", 'include "inc.conf"\n')
        rc, out, err = run_daemon_n(["-n", "-f", conf])
        self.assertEqual((rc, err), (1, "%s:1: %s: not a regular file\n"
                                        % (conf, fifo)))

    @unittest.skipUnless(IS_ROOT, "ownership matters when root")
    def test_not_roots_refused_at_reload(self):
        conf = self.write("oneportd.conf",
                          'service "hi" { command "/bin/echo" "hi" }\n')
        d = self.start(conffile=conf)
        self.assertEqual(d.exchange(b"hi\r\n"), b"+\r\nhi\n")
        with open(conf, "a") as f:
            f.write('service "more" { command "/bin/true" }\n')
        os.chown(conf, 65534, 0)
        d.signal(signal.SIGHUP)
        d.wait_log(r"^%s: owned by uid 65534, not by root: refused$"
                   % re.escape(conf))
        d.wait_log(r"^configuration not reloaded; keeping the old one$")
        self.assertEqual(d.exchange(b"more\r\n"),
                         b"-unknown service\r\n")
        self.assertEqual(d.exchange(b"hi\r\n"), b"+\r\nhi\n")


if __name__ == "__main__":
    unittest.main()
