# SPDX-License-Identifier: ISC
"""
What a service program is given: the socket on fd 0 and 1 (blocking), its
stderr piped into the daemon's log, no other descriptor, the UCSPI
environment and nothing else, its user and group; and what the client and
the log see when the program cannot be started.
"""
import contextlib
import ctypes
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import unittest

from harness import (IS_ROOT, DaemonTestCase, alive, poll_until, proc_comm,
                     recv_exact, recv_until_eof, run_daemon_n)


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@contextlib.contextmanager
def nobody_stopping():
    """As nobody, SIGSTOP every process of nobody's without a pause; at
    the end, SIGCONT them all."""
    stopper = subprocess.Popen(NOBODY + [
        "sh", "-c", "while :; do kill -STOP -1 2>/dev/null; done"])
    try:
        yield
    finally:
        stopper.kill()
        stopper.wait()
        subprocess.run(NOBODY + ["kill", "-CONT", "-1"],
                       stderr=subprocess.DEVNULL)


def parse_env(data):
    env = {}
    lines = data.decode().splitlines()
    for line in lines:
        k, _, v = line.partition("=")
        env.setdefault(k, []).append(v)
    return env


class Environment(DaemonTestCase):

    def check_ucspi(self, d, name, want_extra, src=None):
        s = self.sock(d, src=src)
        s.sendall(name + b"\r\n")
        out = recv_until_eof(s)
        self.assertTrue(out.startswith(b"+\r\n"), out)
        env = parse_env(out[3:])
        lhost, lport = s.getsockname()[:2]
        rhost, rport = s.getpeername()[:2]
        want = {
            "PROTO": ["TCP"],
            "TCPREMOTEIP": [lhost],
            "TCPREMOTEPORT": [str(lport)],
            "TCPLOCALIP": [rhost],
            "TCPLOCALPORT": [str(rport)],
            "ONEPORT_SERVICE": [name.decode().lower()],
        }
        want.update(want_extra)
        path = env.pop("PATH", None)
        self.assertIsNotNone(path, "no PATH")
        self.assertEqual(len(path), 1, "PATH set %d times" % len(path))
        self.assertEqual(env, want)
        return path[0]

    def test_ucspi_variables_exactly(self):
        d = self.start("-s", "env=/usr/bin/env")
        self.check_ucspi(d, b"ENV", {})

    def test_ucspi_from_another_loopback_address(self):
        d = self.start("-s", "env=/usr/bin/env")
        self.check_ucspi(d, b"env", {}, src="127.0.0.9")

    def test_ucspi_from_a_shell_script(self):
        # The brief's recipe: a script that prints its environment. A
        # shell adds PWD and friends, so only the UCSPI part is compared.
        sh = self.script("printenv.sh", "#!/bin/sh\nexec /usr/bin/env\n")
        d = self.start("-s", "shenv=" + sh)
        s = self.sock(d)
        s.sendall(b"shenv\r\n")
        out = recv_until_eof(s)
        self.assertTrue(out.startswith(b"+\r\n"), out)
        env = parse_env(out[3:])
        self.assertEqual(env["TCPREMOTEPORT"], [str(s.getsockname()[1])])
        self.assertEqual(env["TCPLOCALPORT"], [str(d.port)])
        self.assertEqual(env["ONEPORT_SERVICE"], ["shenv"])

    def test_config_env_and_chdir(self):
        d = self.start(config="""
service "env" {
	command "/usr/bin/env"
	env "FOO=bar" "EMPTY="
	env "SPACED=a b  c"
}
service "pwd" {
	command "/bin/pwd"
	chdir "/tmp"
}
service "rootdir" {
	command "/bin/pwd"
}
""")
        self.check_ucspi(d, b"env", {"FOO": ["bar"], "EMPTY": [""],
                                     "SPACED": ["a b  c"]})
        self.assertEqual(d.exchange(b"pwd\r\n"), b"+\r\n/tmp\n")
        self.assertEqual(d.exchange(b"rootdir\r\n"), b"+\r\n/\n")

    def test_config_env_cannot_duplicate_ucspi_names(self):
        # A service's env line replaces a variable; it must not leave two
        # PATH= (or TCPREMOTEIP=) entries, whose winner depends on the
        # program's getenv.
        d = self.start(config="""
service "env" {
	command "/usr/bin/env"
	env "PATH=/opt/x:/bin"
}
""")
        path = self.check_ucspi(d, b"env", {})
        self.assertEqual(path, "/opt/x:/bin")

    def test_ipv6_ucspi(self):
        d = self.start("-s", "env=/usr/bin/env", listen=("[::1]:0",))
        self.assertEqual(d.stdout_lines(),
                         ["listening on [::1]:%d" % d.port])
        self.check_ucspi(d, b"env", {})

    def test_command_arguments_split_on_spaces(self):
        d = self.start("-s", "args=/bin/echo a  b\tc")
        self.assertEqual(d.exchange(b"args\r\n"), b"+\r\na b c\n")

    def test_bare_program_name_found_in_path(self):
        d = self.start("-s", "echo=cat")
        s = self.sock(d)
        s.sendall(b"echo\r\nxyz")
        self.assertEqual(recv_exact(s, 6), b"+\r\nxyz")


class Descriptors(DaemonTestCase):

    def test_only_fds_0_1_2(self):
        # ls lists its own fd table; it opens one descriptor (the directory
        # it reads), shown pointing at /proc/PID/fd.
        d = self.start("-s", "fds=/bin/ls -l /proc/self/fd/")
        out = d.exchange(b"fds\r\n")
        self.assertTrue(out.startswith(b"+\r\n"), out)
        fds = dict(re.findall(r" (\d+) -> (.*)$", out[3:].decode(), re.M))
        extra = {k: v for k, v in fds.items() if k not in ("0", "1", "2")
                 and not re.match(r"^/proc/\d+/fd$", v)}
        self.assertEqual(extra, {}, "unexpected fds: %r" % fds)
        self.assertRegex(fds.get("0", ""), r"^socket:\[\d+\]$")
        self.assertEqual(fds.get("0"), fds.get("1"))
        self.assertRegex(fds.get("2", ""), r"^pipe:\[\d+\]$")

    def test_only_fds_0_1_2_of_a_shell(self):
        # The shell's own table, listed by a child: no ls in the way. The
        # shell may keep the script it reads open (dash on 10, bash on 255).
        sh = self.script("fds.sh", "#!/bin/sh\nls -l /proc/$$/fd\n")
        d = self.start("-s", "shfds=" + sh)
        out = d.exchange(b"shfds\r\n")
        self.assertTrue(out.startswith(b"+\r\n"), out)
        fds = dict(re.findall(r" (\d+) -> (.*)$", out[3:].decode(), re.M))
        extra = {k: v for k, v in fds.items()
                 if k not in ("0", "1", "2") and v != sh}
        self.assertEqual(extra, {}, "unexpected fds: %r" % fds)
        self.assertEqual(set(fds) & {"0", "1", "2"}, {"0", "1", "2"})

    def test_socket_is_blocking(self):
        d = self.start("-s", "info=/bin/cat /proc/self/fdinfo/0")
        out = d.exchange(b"info\r\n")
        self.assertTrue(out.startswith(b"+\r\n"), out)
        m = re.search(rb"flags:\s*([0-7]+)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m.group(1), 8) & os.O_NONBLOCK, 0,
                         "fd 0 is O_NONBLOCK: %r" % out)


class StderrLog(DaemonTestCase):

    def test_child_stderr_tagged_in_log(self):
        sh = self.script("talk.sh", "#!/bin/sh\n"
                         "echo \"first line\" >&2\n"
                         "echo 'second  line' >&2\n"
                         "echo out\n")
        d = self.start("-s", "talk=" + sh)
        self.assertEqual(d.exchange(b"talk\r\n"), b"+\r\nout\n")
        conn = d.wait_log(r"conn peer=\S+ service=talk result=\+ "
                          r"pid=(\d+) ")[0]
        pid = conn.group(1)
        d.wait_log(r"^talk\[%s\]: first line$" % pid)
        d.wait_log(r"^talk\[%s\]: second  line$" % pid)
        # Nothing of stderr reached the client.
        self.assertNotIn("out", [l for l in d.log_lines()
                                 if l.startswith("talk[")])

    def test_last_stderr_line_without_newline_is_kept(self):
        # Whether the pipe's EOF or the child's exit is seen first must
        # not decide if the unterminated last line is logged.
        sh = self.script("tail.sh", "#!/bin/sh\n"
                         "printf 'tail %s' \"$TCPREMOTEPORT\" >&2\n")
        d = self.start("-s", "tail=" + sh)
        ports = []
        for _ in range(30):
            s = self.sock(d)
            s.sendall(b"tail\r\n")
            self.assertEqual(recv_until_eof(s), b"+\r\n")
            ports.append(s.getsockname()[1])
        d.wait_log(r"^exit service=tail ", count=30)
        lines = set(d.log_lines())
        missing = [p for p in ports
                   if not any(l.startswith("tail[") and
                              l.endswith("]: tail %d" % p) for l in lines)]
        self.assertEqual(missing, [], "%d of 30 last lines lost"
                         % len(missing))

    def test_drain_ends_with_its_last_program(self):
        # The daemon holds a write end of each program's stderr pipe (no
        # end of file, so no wake-up, at every exit); the process that
        # logs them after a stop must let go of those, or it would never
        # see the pipes end and never go.
        sh = self.script("chatty.sh", "#!/bin/sh\n"
                         "while IFS= read -r l; do echo \"got $l\" >&2; "
                         "echo \"$l\"; done\n")
        d = self.start("-s", "chatty=" + sh)
        s = self.sock(d)
        s.sendall(b"chatty\r\none\n")
        self.assertEqual(recv_exact(s, 7), b"+\r\none\n")
        pid = d.wait_log(r"conn peer=\S+ service=chatty result=\+ "
                         r"pid=(\d+) ")[0].group(1)
        pipe = os.readlink("/proc/%s/fd/2" % pid)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(5), 0)

        def drain():
            for p in filter(str.isdigit, os.listdir("/proc")):
                if p == pid or proc_comm(int(p)) != "oneportd-drain":
                    continue
                with contextlib.suppress(OSError):
                    for fd in os.listdir("/proc/%s/fd" % p):
                        if os.readlink("/proc/%s/fd/%s" % (p, fd)) == pipe:
                            return int(p)
            return None
        keeper = poll_until(drain, what="the drain process")
        s.sendall(b"two\n")
        self.assertEqual(recv_exact(s, 4), b"two\n")
        s.close()
        poll_until(lambda: not alive(keeper),
                   what="the drain process to end after its program")

    def test_conn_and_exit_log_lines(self):
        d = self.start("-s", "true=/bin/true", "-s", "false=/bin/false")
        s = self.sock(d)
        s.sendall(b"true\r\n")
        self.assertEqual(recv_until_eof(s), b"+\r\n")
        lport = s.getsockname()[1]
        m = d.wait_log(r"^conn peer=127\.0\.0\.1:%d service=true result=\+ "
                       r"pid=(\d+) dispatch=\d+\.\d{3}ms$" % lport)[0]
        d.wait_log(r"^exit service=true pid=%s status=0 "
                   r"duration=\d+\.\d{3}s$" % m.group(1))
        self.assertEqual(d.exchange(b"false\r\n"), b"+\r\n")
        m = d.wait_log(r"^conn peer=\S+ service=false result=\+ "
                       r"pid=(\d+) ")[0]
        d.wait_log(r"^exit service=false pid=%s status=1 " % m.group(1))

    def test_rejections_are_logged(self):
        d = self.start("-s", "echo=cat")
        d.exchange(b"nosuch\r\n")
        d.exchange(b"b@d\r\n")
        d.exchange(b"help\r\n")
        d.wait_log(r"^conn peer=127\.0\.0\.1:\d+ service=nosuch "
                   r"result=-unknown service pid=- dispatch=\d+\.\d{3}ms$")
        d.wait_log(r"^conn peer=127\.0\.0\.1:\d+ service=\S+ "
                   r"result=-bad name pid=- dispatch=\d+\.\d{3}ms$")
        d.wait_log(r"^conn peer=127\.0\.0\.1:\d+ service=\S+ "
                   r"result=help pid=- dispatch=\d+\.\d{3}ms$")


class ExecFailure(DaemonTestCase):

    def test_missing_program_in_config(self):
        # Gone after the start's check (config_check says it before).
        gone = self.script("gone", "")
        d = self.start(config='service "gone" {\n'
                              '\tcommand "%s"\n}\n'
                              'service "true" {\n\tcommand "/bin/true"\n}\n'
                              % gone)
        os.unlink(gone)
        self.assertEqual(d.exchange(b"gone\r\n"),
                         b"-cannot start service\r\n")
        d.wait_log(r"^conn peer=\S+ service=gone "
                   r"result=-cannot start service pid=\S+ ")
        self.assertEqual(d.exchange(b"true\r\n"), b"+\r\n")

    def test_program_removed_after_start(self):
        prog = self.script("prog.sh", "#!/bin/sh\necho ran\n")
        d = self.start(config='service "prog" {\n\tcommand "%s"\n}\n' % prog)
        self.assertEqual(d.exchange(b"prog\r\n"), b"+\r\nran\n")
        os.unlink(prog)
        self.assertEqual(d.exchange(b"prog\r\n"),
                         b"-cannot start service\r\n")

    def test_program_not_executable(self):
        prog = self.script("prog.sh", "#!/bin/sh\necho ran\n")
        d = self.start(config='service "prog" {\n\tcommand "%s"\n}\n' % prog)
        os.chmod(prog, 0o644)
        self.assertEqual(d.exchange(b"prog\r\n"),
                         b"-cannot start service\r\n")
        # The exit of the failed child is still accounted for.
        d.wait_log(r"^exit service=prog pid=\d+ status=\S+ ")

    def test_exec_failure_with_pipelined_bytes(self):
        gone = self.script("gone", "")
        d = self.start(config='service "gone" {\n'
                              '\tcommand "%s"\n}\n' % gone)
        os.unlink(gone)
        self.assertEqual(d.exchange(b"gone\r\nsome data for it"),
                         b"-cannot start service\r\n")


class ReplySelf(DaemonTestCase):

    def test_reply_self(self):
        d = self.start(config="""
service "selfie" {
	command "/bin/echo" "+ok"
	reply self
}
service "normal" {
	command "/bin/echo" "+ok"
	reply daemon
}
""")
        self.assertEqual(d.exchange(b"selfie\r\n"), b"+ok\n")
        self.assertEqual(d.exchange(b"normal\r\n"), b"+\r\n+ok\n")


@unittest.skipUnless(IS_ROOT, "needs root")
class Users(DaemonTestCase):
    """As root, the program runs as its service's user, with exactly the
    ids asked for: real, effective, saved and filesystem, and groups."""

    def ids(self, d, name):
        out = d.exchange(name + b"\r\n")
        self.assertTrue(out.startswith(b"+\r\n"), out)
        st = dict(l.split(":", 1) for l in out[3:].decode().splitlines()
                  if ":" in l)
        return ([int(x) for x in st["Uid"].split()],
                [int(x) for x in st["Gid"].split()],
                sorted(int(x) for x in st["Groups"].split()),
                st["CapEff"].strip())

    def test_user_and_group(self):
        d = self.start(config="""
service "asdaemon" {
	command "/bin/cat" "/proc/self/status"
	user daemon
	group nogroup
}
service "asdaemon2" {
	command "/bin/cat" "/proc/self/status"
	user daemon
}
""")
        uid, gid, groups, cap = self.ids(d, b"asdaemon")
        self.assertEqual(uid, [1, 1, 1, 1])
        self.assertEqual(gid, [65534] * 4)
        self.assertEqual(groups, [65534])
        self.assertEqual(int(cap, 16), 0)
        uid, gid, groups, cap = self.ids(d, b"asdaemon2")
        self.assertEqual(uid, [1, 1, 1, 1])
        self.assertEqual(gid, [1, 1, 1, 1])
        self.assertEqual(groups, [1])

    def test_default_user_is_nobody(self):
        d = self.start("-s", "cli=/bin/cat /proc/self/status", config="""
service "noname" {
	command "/bin/cat" "/proc/self/status"
}
""")
        for name in (b"noname", b"cli"):
            with self.subTest(name=name):
                uid, gid, groups, cap = self.ids(d, name)
                self.assertEqual(uid, [65534] * 4)
                self.assertEqual(gid, [65534] * 4)
                self.assertEqual(groups, [65534])
                self.assertEqual(int(cap, 16), 0)

    def test_root_when_asked_by_name(self):
        d = self.start(config='service "asroot" {\n'
                              '\tcommand "/usr/bin/id" "-u"\n'
                              '\tuser root\n}\n')
        self.assertEqual(d.exchange(b"asroot\r\n"), b"+\r\n0\n")


class ExecFailureStress(DaemonTestCase):

    def test_failures_interleaved_with_spawns(self):
        # A failed child is reaped while the next one is being forked: the
        # daemon must stay up and answer every request.
        gone = self.script("gone", "")
        d = self.start(config='service "gone" {\n'
                              '\tcommand "%s"\n}\n'
                              'service "true" {\n\tcommand "/bin/true"\n}\n'
                              % gone)
        os.unlink(gone)
        wrong = []
        for i in range(100):
            for name, want in ((b"gone", b"-cannot start service\r\n"),
                               (b"true", b"+\r\n")):
                got = d.exchange(name + b"\r\n")
                if got != want:
                    wrong.append((i, name, got))
                if len(wrong) > 3:
                    break
        self.assertEqual(wrong, [])
        self.assertIsNone(d.proc.poll())


@unittest.skipUnless(IS_ROOT, "needs root to start programs as nobody")
class ParentNeverWaits(DaemonTestCase):
    """A program's own user can stop it at any moment before execve; that
    must hold up that client only, never the parent and everyone else."""

    def test_stopped_children_do_not_stall_others(self):
        d = self.start(config=(
            'service "victim" {\n\tcommand "/bin/true"\n'
            '\tuser "nobody"\n}\n'
            'service "other" {\n\tcommand "/bin/echo" "alive"\n'
            '\tuser "root"\n}\n'))
        held = []
        with nobody_stopping():
            for _ in range(24):
                s = d.connect()
                s.sendall(b"victim\r\n")
                held.append(s)
            # Whatever the stopper caught, the parent still serves.
            for _ in range(20):
                self.assertEqual(d.exchange(b"other\r\n"),
                                 b"+\r\nalive\n")
        for s in held:
            got = recv_until_eof(s)
            self.assertIn(got, (b"+\r\n", b"-cannot start service\r\n"))
            s.close()


@unittest.skipUnless(IS_ROOT, "needs root to make a setuid program")
class Setuid(DaemonTestCase):
    """A setuid program runs with what its bit gives, and traced like any
    other, so its "+" is as true: the child asks to be traced while still
    root, and the kernel lets a root tracer's setuid program keep its
    privileges. Whether the bit was there at load does not matter."""

    def setuid_id(self, mode):
        prog = os.path.join(self.tmp, "whoami-euid")
        shutil.copy("/usr/bin/id", prog)
        os.chown(prog, 0, 0)
        os.chmod(prog, mode)
        return ('service "suid" {\n\tcommand "%s" "-u"\n'
                '\tuser "nobody"\n}\n' % prog), prog

    def test_setuid_program_runs_traced_with_its_privileges(self):
        conf, _ = self.setuid_id(0o4755)
        rc, _, err = run_daemon_n(["-n", "-f", self.conf(conf)])
        self.assertEqual(rc, 0, err)
        self.assertNotIn("untraced", err)
        d = self.start(config=conf)
        # The euid the setuid bit gives (root), not nobody's; and traced,
        # "+" goes out first, though id(1) writes at once.
        for _ in range(20):
            self.assertEqual(d.exchange(b"suid\r\n"), b"+\r\n0\n")
        self.assertNotIn("untraced", d.log_text())

    def test_made_setuid_after_load(self):
        conf, prog = self.setuid_id(0o755)
        d = self.start(config=conf)
        self.assertEqual(d.exchange(b"suid\r\n"), b"+\r\n65534\n")
        os.chmod(prog, 0o4755)
        self.assertEqual(d.exchange(b"suid\r\n"), b"+\r\n0\n")

    def conf(self, text):
        path = os.path.join(self.tmp, "suid.conf")
        with open(path, "w") as f:
            f.write(text)
        return path


@unittest.skipUnless(IS_ROOT, "needs root to start programs as nobody")
class StopBeforeExec(DaemonTestCase):
    """The service's user may signal its child from the user switch on.
    The child is traced by then, so a stop signal only makes it stop for
    the parent, which lets it go on: every client gets its program."""

    def test_stop_signals_do_not_hold_a_client(self):
        d = self.start(config='service "victim" {\n'
                       '\tcommand "/bin/sleep" "600"\n'
                       '\tuser "nobody"\n}\n')
        with nobody_stopping():
            for i in range(40):
                s = self.sock(d, src="127.0.4.%d" % (1 + i % 8))
                s.sendall(b"victim\r\n")
                self.assertEqual(recv_exact(s, 3), b"+\r\n")


class FailureLog(DaemonTestCase):
    """A program that cannot start leaves one line in the log, its reason.
    The child runs on the parent's memory until execve, with raw system
    calls only: no sanitizer runtime may run in it (it would use the
    parent's thread state, and speak up in the log)."""

    def test_one_line_per_failed_start(self):
        # Both were there at the start's check, and went.
        nodir = os.path.join(self.tmp, "dir")
        os.mkdir(nodir)
        gone = self.script("gone", "")
        d = self.start(config='service "nodir" {\n\tcommand "/bin/true"\n'
                       '\tchdir "%s"\n}\n'
                       'service "gone" {\n'
                       '\tcommand "%s"\n}\n' % (nodir, gone))
        os.rmdir(nodir)
        os.unlink(gone)
        want = []
        for name, what, step in (
                (b"nodir", nodir, "change directory"),
                (b"gone", gone, "execute")):
            self.assertEqual(d.exchange(name + b"\r\n"),
                             b"-cannot start service\r\n")
            pid = d.wait_log(r"^exit service=%s pid=(\d+) "
                             % name.decode())[0].group(1)
            want.append("%s[%s]: %s: cannot %s: No such file or directory"
                        % (name.decode(), pid, what, step))
        # All a child wrote is logged by the time its exit is.
        self.assertEqual([l for l in d.log_lines()
                          if re.match(r"^[a-z]+\[\d+\]: ", l)], want)


class BigArguments(DaemonTestCase):
    """A command line or environment bigger than the memory set aside for
    a starting child still starts: execve takes far more."""

    def test_arguments_and_environment_over_64k(self):
        words = ["w%02d%s" % (i, "x" * 3990) for i in range(24)]
        env = ["V%02d=%s" % (i, chr(97 + i % 26) * 3990) for i in range(40)]
        d = self.start(config=(
            'service "argv" {\n\tcommand "/bin/echo" %s\n}\n'
            'service "env" {\n\tcommand "/usr/bin/env"\n\tenv %s\n}\n'
            % (" ".join('"%s"' % w for w in words),
               " ".join('"%s"' % e for e in env))))
        for _ in range(3):
            self.assertEqual(d.exchange(b"argv\r\n"),
                             b"+\r\n" + " ".join(words).encode() + b"\n")
            out = d.exchange(b"env\r\n")
            self.assertTrue(out.startswith(b"+\r\n"), out[:80])
            got = parse_env(out[3:])
            for e in env:
                k, _, v = e.partition("=")
                self.assertEqual(got.get(k), [v], k)


def sched_slice(text):
    """se.slice of a /proc/PID/sched text, in nanoseconds."""
    m = re.search(r"^se\.slice\s*:\s*(\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def kernel_at_least(major, minor):
    m = re.match(r"(\d+)\.(\d+)", platform.release())
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (major,
                                                                  minor)


@unittest.skipUnless(kernel_at_least(6, 12), "no custom slices before 6.12")
class Scheduling(DaemonTestCase):
    """The parent and the frontend take the shortest slice (a woken one
    runs at once on a busy CPU); their programs start with the
    kernel's default, as under any other server."""

    def test_short_slice_for_the_daemon_default_for_programs(self):
        d = self.start("-s", "sched=/bin/cat /proc/self/sched")
        for pid in (d.pid, d.frontend_pid()):
            with open("/proc/%d/sched" % pid) as f:
                self.assertEqual(sched_slice(f.read()), 100000, pid)
        with open("/proc/self/sched") as f:
            default = sched_slice(f.read())
        out = d.exchange(b"sched\r\n")
        self.assertTrue(out.startswith(b"+\r\n"), out)
        self.assertEqual(sched_slice(out[3:].decode()), default)


def deny_ptrace():
    """A seccomp filter, inherited by the daemon and its children, under
    which ptrace(2) fails with EPERM, as some containers have it."""
    ins = [(0x20, 0, 0, 4),             # ld arch
           (0x15, 0, 3, 0xc000003e),    # x86-64, else allow
           (0x20, 0, 0, 0),             # ld nr
           (0x15, 0, 1, 101),           # ptrace
           (0x06, 0, 0, 0x00050001),    # errno EPERM
           (0x06, 0, 0, 0x7fff0000)]    # allow

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    code = ctypes.create_string_buffer(
        b"".join(struct.pack("HBBI", *i) for i in ins))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)          # PR_SET_NO_NEW_PRIVS
    if libc.prctl(22, 2, ctypes.byref(Prog(len(ins), ctypes.addressof(
            code))), 0, 0) != 0:        # PR_SET_SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "seccomp")


@unittest.skipUnless(platform.machine() == "x86_64", "an x86-64 filter")
class Untraced(DaemonTestCase):
    """Where ptrace is not permitted, the daemon says so once and sends
    "+" at exec instead of at the exec-stop: still never for a program
    that did not start, and a program that reads first gets the client's
    bytes after it."""

    def test_plus_at_exec_without_ptrace(self):
        d = self.start(config='service "rd" {\n\tcommand "/bin/sh" "-c" '
                       '"read x; echo got $x"\n}\n'
                       'service "gone" {\n'
                       '\tcommand "%s"\n}\n' % self.script("gone", ""),
                       preexec=deny_ptrace)
        os.unlink(os.path.join(self.tmp, "gone"))
        d.wait_log(r'^ptrace not permitted: "\+" is sent on exec')
        for _ in range(10):
            s = self.sock(d)
            s.sendall(b"rd\r\n")
            self.assertEqual(recv_exact(s, 3), b"+\r\n")
            s.sendall(b"yo\n")
            self.assertEqual(recv_until_eof(s), b"got yo\n")
            self.assertEqual(d.exchange(b"gone\r\n"),
                             b"-cannot start service\r\n")
