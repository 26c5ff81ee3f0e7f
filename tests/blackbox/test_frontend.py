# SPDX-License-Identifier: ISC
"""
The frontend as a process the daemon depends on: it holds as many names as
the configuration and the control socket give it, configured or
registered, however fast they change and however slowly it reads them; it
is restarted when it dies, with the listeners kept, and goes (with the
supervised and redirect programs) when the parent goes; the daemon is
ready only once the frontend is sandboxed; and the frontend holds none of
the configuration's secrets and no capability.
"""
import binascii
import os
import signal
import socket
import struct
import unittest

from harness import (IS_ROOT, DaemonTestCase, alive, children_of,
                     poll_until, proc_status, recv_until_eof, stop)


def services(n, fmt="s%04d"):
    return "".join('service "%s" {\n\tcommand "/bin/echo" "%s"\n}\n'
                   % (fmt % i, fmt % i) for i in range(n))


def redirects(n):
    """Services whose answers the frontend holds: each makes the message
    of names about 290 bytes longer, 400 of them nearly IPC_MAX."""
    host = ".".join(["a" * 60] * 4)
    return "".join('service "r%03d" { redirect to "%s" port 8080 }\n'
                   % (i, host) for i in range(n))


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


class RegisterChurn(DaemonTestCase):
    """A full socket to the frontend is back-pressure: only the latest
    names go when it has room, and nothing is fatal."""

    def try_register(self, ctl, name):
        try:
            return register(self, ctl, name)
        except BlockingIOError:
            return None     # the control socket's backlog is still full

    def test_register_and_close_in_a_loop(self):
        ctl = os.path.join(self.tmp, "ctl.sock")
        d = self.start(config='control "%s"\nregister "dyn-*" user root\n'
                       % ctl + redirects(400) + services(1))
        fe = d.frontend_pid()
        # As fast as a local user can: register, close, never wait.
        for i in range(1000):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                c.connect(ctl)
                name = b"dyn-%d" % i
                c.send(wire(4, bytes([len(name)]) + name))
            except OSError:
                pass    # the backlog is full: that is the daemon's right
            finally:
                c.close()
        held = poll_until(lambda: self.try_register(ctl, "dyn-last"),
                          what="a registration once the burst is over")
        self.assertIsNone(d.proc.poll(), "daemon died:\n" + d.log_text())
        self.assertEqual(d.frontend_pid(), fe)
        self.assertEqual(d.exchange(b"s0000\r\n"), b"+\r\ns0000\n")
        # The latest names reach it: the one still held is offered.
        poll_until(lambda: b"dyn-last\r\n" in d.exchange(b"help\r\n"),
                   what="the held name in HELP")
        del held

    def test_stalled_frontend_and_reloads(self):
        d = self.start(config=redirects(400))
        fe = d.frontend_pid()
        os.kill(fe, signal.SIGSTOP)
        try:
            # More than the channel's buffer holds: the rest waits in
            # the parent's queue, only the latest kept.
            for i in range(48):
                extra = 'service "fresh" {\n\tcommand "/bin/echo" ' \
                    '"gen%d"\n}\n' % i
                with open(d.conffile, "w") as f:
                    f.write(redirects(400) + extra)
                d.signal(signal.SIGHUP)
                d.wait_log(r"configuration reloaded: 401 services",
                           count=i + 1)
            self.assertIsNone(d.proc.poll(), "daemon died:\n" +
                              d.log_text())
        finally:
            os.kill(fe, signal.SIGCONT)
        poll_until(lambda: d.answers(b"fresh\r\n", b"+\r\ngen47\n"),
                   what="the latest configuration to be served")
        self.assertEqual(d.exchange(b"r399\r\n")[:16], b"@8080 host=aaaaa")
        self.assertEqual(d.frontend_pid(), fe)


def programs_of(d, name):
    """Live programs the daemon started for service name."""
    want = ("\0ONEPORT_SERVICE=%s\0" % name).encode()
    out = []
    for pid in children_of(d.pid):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if want in b"\0" + f.read() + b"\0" and alive(pid):
                    out.append(pid)
        except OSError:
            pass
    return out


# A redirect program: accepts on fd 3 (LISTEN_FDS) and says ok.
LISTENER = r'''#!/usr/bin/python3
import socket
ls = socket.socket(fileno=3)
while True:
    c, _ = ls.accept()
    c.sendall(b"ok\r\n")
    c.close()
'''


class Restart(DaemonTestCase):
    """A frontend that dies is restarted; the listeners stay open."""

    def kill_frontend(self, d, count):
        fe = d.frontend_pid()
        os.kill(fe, signal.SIGKILL)
        ready = d.wait_log(r"^frontend ready, pid (\d+)$", count=count,
                           timeout=10)
        new = int(ready[-1].group(1))
        self.assertNotEqual(new, fe)
        self.assertEqual(d.frontend_pid(), new)
        return new

    def test_kill_9_frontend_serves_again(self):
        d = self.start("-s", "echo=cat")
        fe = self.kill_frontend(d, 1)
        self.assertEqual(d.exchange(b"echo\r\nhi", half_close=True),
                         b"+\r\nhi")
        # Sandboxed before it was declared ready, like the first one.
        st = proc_status(fe)
        self.assertEqual((st.get("Seccomp"), st.get("NoNewPrivs")),
                         ("2", "1"))
        self.assertIsNone(d.proc.poll())

    def test_clients_waiting_in_the_backlog_are_served(self):
        d = self.start("-s", "echo=cat")
        fe = d.frontend_pid()
        os.kill(fe, signal.SIGSTOP)
        s = self.sock(d)
        s.sendall(b"echo\r\nqueued")
        s.shutdown(socket.SHUT_WR)
        os.kill(fe, signal.SIGKILL)
        self.assertEqual(recv_until_eof(s, timeout=10), b"+\r\nqueued")
        d.wait_log(r"^frontend killed by signal 9; restarting in \d+ms$")

    def test_a_stopped_frontend_is_killed_and_its_backlog_served(self):
        # Alive but its loop not turning (as a parser caught in a loop
        # would be): the parent's ping goes unanswered, the frontend is
        # killed and restarted, and the client waiting in the listener's
        # queue is served. On the previous build it waited for ever.
        d = self.start("-s", "echo=cat")
        fe = d.frontend_pid()
        stop(fe)
        self.addCleanup(lambda: alive(fe) and os.kill(fe, signal.SIGCONT))
        s = self.sock(d)
        s.sendall(b"echo\r\nqueued")
        s.shutdown(socket.SHUT_WR)
        d.wait_log(r"^frontend pid %d answered no ping for 10 s: killed$"
                   % fe, timeout=40)
        self.assertEqual(recv_until_eof(s, timeout=10), b"+\r\nqueued")
        d.wait_log(r"^frontend killed by signal 9; restarting in \d+ms$")
        self.assertNotEqual(d.frontend_pid(), fe)

    def test_a_restarted_frontend_never_ready_is_killed(self):
        # Stopped between its fork and its READY: the watchdog pinged only
        # a ready one, so on the previous build it hung there for ever
        # and no client was served again. Stopping it in that window
        # races its start-up; a try that loses is let go and made again.
        d = self.start("-s", "echo=cat")
        new = d.frontend_pid()
        for i in range(10):
            os.kill(new, signal.SIGKILL)
            new = int(d.wait_log(r"^frontend restarted, pid (\d+)$",
                                 count=i + 1)[i].group(1))
            stop(new)
            self.addCleanup(lambda p=new: alive(p) and
                            os.kill(p, signal.SIGCONT))
            if "frontend ready, pid %d" % new not in d.log_text():
                break
            os.kill(new, signal.SIGCONT)
        else:
            self.skipTest("each frontend was ready before it was stopped")
        d.wait_log(r"^frontend pid %d was not ready in 15 s: killed$" % new,
                   timeout=40)
        d.wait_log(r"frontend ready, pid \d+", count=i + 1, timeout=30)
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")

    def test_backoff_grows(self):
        d = self.start("-s", "echo=cat")
        for i in range(3):
            self.kill_frontend(d, i + 1)
        delays = [int(m.group(1)) for m in d.wait_log(
            r"^frontend killed by signal 9; restarting in (\d+)ms$",
            count=3)]
        self.assertEqual(delays, sorted(delays))
        self.assertLess(delays[0], delays[2])
        self.assertEqual(d.exchange(b"echo\r\nok", half_close=True),
                         b"+\r\nok")

    def test_supervised_programs_do_not_pile_up(self):
        prog = self.script("sup.sh", "#!/bin/sh\nexec sleep 600\n")
        d = self.start(config='service "sup" {\n\tsocket "%s"\n'
                       '\tcommand "%s"\n}\n'
                       % (os.path.join(self.tmp, "sup.sock"), prog))
        first = int(d.wait_log(r"^sup: started pid (\d+) ")[0].group(1))
        for i in range(3):
            self.kill_frontend(d, i + 1)
        self.assertEqual(programs_of(d, "sup"), [first])
        self.assertEqual(len(d.wait_log(r"^sup: started pid ")), 1)


    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_restarted_frontend_keeps_the_user_of_the_start(self):
        d = self.start(config=services(1))
        uid = proc_status(d.frontend_pid())["Uid"].split()
        with open(d.conffile, "w") as f:
            f.write('user "root"\n' + services(1))
        d.signal(signal.SIGHUP)
        d.wait_log(r"^user and chroot changes take effect at restart$")
        self.kill_frontend(d, 1)
        self.assertEqual(proc_status(d.frontend_pid())["Uid"].split(), uid)
        self.assertNotIn("0", uid)


class ParentDeath(DaemonTestCase):
    """When the parent goes, even by SIGKILL, the frontend and the
    supervised and redirect programs go with it."""

    def test_kill_9_parent_takes_everything(self):
        prog = self.script("sup.sh", "#!/bin/sh\nexec sleep 600\n")
        lst = self.script("listener.py", LISTENER)
        d = self.start(config='service "sup" {\n\tsocket "%s"\n'
                       '\tcommand "%s"\n}\n'
                       'service "red" {\n\tcommand "%s"\n'
                       '\tredirect shared\n}\n'
                       % (os.path.join(self.tmp, "sup.sock"), prog, lst))
        sup = int(d.wait_log(r"^sup: started pid (\d+) ")[0].group(1))
        self.assertRegex(d.exchange(b"red\r\n"), rb"^@\d+\r\n$")
        red = int(d.wait_log(r"^red: started pid (\d+) ")[0].group(1))
        fe = d.frontend_pid()
        os.kill(fe, signal.SIGSTOP)
        d.signal(signal.SIGKILL)
        d.wait_exit()
        for pid, what in ((fe, "the stopped frontend"),
                          (sup, "the supervised program"),
                          (red, "the redirect program")):
            poll_until(lambda: not alive(pid), what=what + " to go")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((d.host, d.port), 2).close()


class Ready(DaemonTestCase):
    """Ready (the listening lines, NOTIFY_SOCKET) only once the frontend
    has said it is sandboxed and serving."""

    def test_sandboxed_when_listening(self):
        for _ in range(10):
            d = self.start("-s", "echo=cat")
            st = proc_status(d.frontend_pid())
            self.assertEqual((st.get("Seccomp"), st.get("NoNewPrivs")),
                             ("2", "1"))
            d.stop()


class Secrets(DaemonTestCase):
    """The frontend is a fresh exec that was given only names and limits:
    no argv or env of a service is in its memory."""

    @staticmethod
    def scan(pid, needles):
        """Which needles are in pid's readable memory. Regions over 256
        MiB are the sanitizers' shadow and reserve, never our data."""
        found, chunk = set(), 1 << 20
        with open("/proc/%d/maps" % pid) as maps, \
                open("/proc/%d/mem" % pid, "rb", 0) as mem:
            for line in maps:
                addr, perms = line.split()[:2]
                lo, hi = (int(x, 16) for x in addr.split("-"))
                if perms[0] != "r" or "[vvar]" in line or \
                        "[vsyscall]" in line or hi - lo > 256 << 20:
                    continue
                tail = b""
                for at in range(lo, hi, chunk):
                    try:
                        mem.seek(at)
                        data = tail + mem.read(min(chunk, hi - at))
                    except (OSError, OverflowError, ValueError):
                        break
                    found.update(n for n in needles if n in data)
                    tail = data[-64:]
        return found

    def test_env_secret_not_in_frontend_memory(self):
        secret = binascii.hexlify(os.urandom(16)).decode()
        argsecret = binascii.hexlify(os.urandom(16)).decode()
        d = self.start(config='service "namemarker42" {\n'
                       '\tcommand "/bin/echo" "%s"\n'
                       '\tenv "API_KEY=%s"\n}\n' % (argsecret, secret))
        self.assertEqual(d.exchange(b"namemarker42\r\n"),
                         b"+\r\n" + argsecret.encode() + b"\n")
        fe = d.frontend_pid()
        needles = [b"namemarker42", secret.encode(), argsecret.encode(),
                   b"API_KEY="]
        try:
            found = self.scan(fe, needles)
        except PermissionError:
            self.skipTest("cannot read the frontend's memory")
        # The scan sees what the frontend was sent, and nothing it was not.
        self.assertEqual(found, {b"namemarker42"})
        # The parent holds them: the scan would have found them.
        self.assertEqual(self.scan(d.pid, needles), set(needles))


class Capabilities(DaemonTestCase):

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_no_capability_left_at_all(self):
        d = self.start("-s", "echo=cat")
        st = proc_status(d.frontend_pid())
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(st[k], 16), 0, k)
