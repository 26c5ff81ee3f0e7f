# SPDX-License-Identifier: ISC
"""
Logging never holds the daemon up. With its log output stalled (here, in
-d mode, a stderr pipe that is full and that nobody reads) every request
is still answered at once; the lines that could not be written are
counted and the count is logged once the output drains. Programs' stderr
is logged line by line with control bytes escaped, so that a program
cannot forge log lines or send escape sequences to whoever reads the log.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import unittest

from harness import (DAEMON, IO_TIMEOUT, IS_ROOT, LISTEN_RE, STAMP_RE,
                     DaemonTestCase, log_line_text, poll_until, proc_comm)


def full_pipe():
    """A pipe whose buffer is full: the next write to it blocks."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    for size in (65536, 4096, 512, 64, 1):
        try:
            while True:
                os.write(w, b"\n" * size)
        except BlockingIOError:
            pass
    os.set_blocking(w, True)     # as a log reader's pipe would be
    return r, w


def ask(port, line):
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=IO_TIMEOUT) as s:
        s.sendall(line)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


class StalledLog(DaemonTestCase):

    def start_stalled(self, *args):
        r, w = full_pipe()
        p = subprocess.Popen([DAEMON, "-d", "-l", "127.0.0.1:0"] +
                             list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=w)
        os.close(w)
        self.addCleanup(self.stop, p, r)
        m = LISTEN_RE.match(p.stdout.readline().decode().strip())
        self.assertIsNotNone(m, "no listening line")
        return p, r, int(m.group(2))

    @staticmethod
    def stop(p, r):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        p.stdout.close()
        os.close(r)

    def test_requests_answered_while_log_stalled(self):
        p, r, port = self.start_stalled("-v", "-s", "hi=/bin/echo hi",
                                        "-s", "err=/bin/sh -c 'echo e >&2'")
        # One after the other: a blocked parent fails the first at its
        # timeout.
        for i in range(60):
            name = b"hi" if i % 2 else b"err"
            want = b"+\r\nhi\n" if i % 2 else b"+\r\n"
            self.assertEqual((i, ask(port, name + b"\r\n")),
                             (i, want))
        # The reader resumes: what was dropped is said, then logging
        # goes on as before.
        lines, cv = [], threading.Condition()

        def pump():
            buf = b""
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                buf += chunk
                *done, buf = buf.split(b"\n")
                with cv:
                    lines.extend(log_line_text(l.decode("utf-8", "replace"))
                                 for l in done)
                    cv.notify_all()
        threading.Thread(target=pump, daemon=True).start()

        def logged(rx):
            with cv:
                return [l for l in lines if re.search(rx, l)]

        def dropped_then_logged():
            ask(port, b"hi\r\n")
            return logged(r"^log: \d+ lines dropped") and \
                logged(r"^conn .* service=hi result=\+ ")
        poll_until(dropped_then_logged, what="the dropped count logged")
        # The parent's count (the frontend keeps its own): every
        # request's conn and exit lines at least.
        n = max(int(re.search(r"(\d+) lines", l).group(1))
                for l in logged(r"^log: \d+ lines dropped"))
        self.assertGreaterEqual(n, 60)
        self.assertIsNone(p.poll())



NS_SCRIPT = r'''
set -e
mkdir "$T/dev"
mount -t tmpfs tmpfs "$T/dev"
touch "$T/dev/null"
mount --bind /dev/null "$T/dev/null"
ln -s "$T/log.sock" "$T/dev/log"
mount --rbind "$T/dev" /dev
exec "$@"
'''


@unittest.skipUnless(IS_ROOT and shutil.which("unshare"),
                     "a /dev/log of our own needs root and unshare(1)")
class StalledSyslog(DaemonTestCase):
    """Not in -d mode the parent logs to /dev/log. Here that is, in a
    mount namespace of the daemon's own, a socket of the test's whose
    queue is full and that it does not read, as a stalled syslogd's."""

    def test_requests_answered_while_syslog_stalled(self):
        path = os.path.join(self.tmp, "log.sock")
        log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(log.close)
        log.bind(path)
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(filler.close)
        filler.setblocking(False)
        filler.connect(path)
        try:
            while True:
                filler.send(b"<14>filler")
        except BlockingIOError:
            pass
        conf = os.path.join(self.tmp, "oneportd.conf")
        with open(conf, "w") as f:
            f.write('service "hi" { command "/bin/echo" "hi" }\n')
        p = subprocess.run(
            ["unshare", "-m", "sh", "-c", NS_SCRIPT, "sh", DAEMON, "-f",
             conf, "-l", "127.0.0.1:0"],
            env=dict(os.environ, T=self.tmp), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.addCleanup(self.stop_daemon, conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        m = LISTEN_RE.match(p.stdout.decode().splitlines()[0])
        port = int(m.group(2))
        for i in range(60):
            self.assertEqual((i, ask(port, b"hi\r\n")), (i, b"+\r\nhi\n"))
        # syslogd catches up: the count comes with the next line.
        log.settimeout(IO_TIMEOUT)
        got = []

        def dropped():
            ask(port, b"hi\r\n")
            log.setblocking(False)
            try:
                while True:
                    got.append(log.recv(4096).decode("utf-8", "replace"))
            except BlockingIOError:
                pass
            return [g for g in got if re.search(
                r"^<\d+>.* oneportd\[\d+\]: log: \d+ lines dropped", g)]
        hit = poll_until(dropped, what="the dropped count logged")
        self.assertGreaterEqual(
            int(re.search(r"(\d+) lines", hit[0]).group(1)), 60)

    @staticmethod
    def stop_daemon(conf):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if conf.encode() in argv and proc_comm(int(d)) == "oneportd":
                try:
                    os.kill(int(d), signal.SIGTERM)
                except ProcessLookupError:
                    pass


class ProgramStderr(DaemonTestCase):

    def test_control_bytes_escaped(self):
        prog = self.script("noisy.sh", "#!/bin/sh\n"
                           "printf 'a\\033[31mred\\tb\\\\c\\r\\n' >&2\n"
                           "printf 'forged\\rconn peer=x\\n' >&2\n"
                           "printf 'tail' >&2\n")
        d = self.start("-s", "noisy=" + prog)
        self.assertEqual(d.exchange(b"noisy\r\n"), b"+\r\n")
        pid = d.wait_log(r"^noisy\[(\d+)\]: ")[0].group(1)
        got = [m.group(1) for m in
               d.wait_log(r"^noisy\[%s\]: (.*)$" % pid, count=3)]
        self.assertEqual(got, [r"a\x1b[31mred\x09b\\c",
                               r"forged\x0dconn peer=x", "tail"])
        for line in d.log_lines():
            self.assertNotRegex(line, "[\x00-\x08\x0a-\x1f\x7f]")


class LineFormat(DaemonTestCase):
    """-d lines begin with the time; a value with blanks is quoted; under
    journald (JOURNAL_STREAM naming our stderr) each line begins with its
    priority instead; a reply self program's line is not claimed as "+"."""

    CONFIG = """service selfie {
	command /bin/echo "-go away"
	reply self
}
"""

    def test_time_and_quoted_values(self):
        d = self.start("-s", "echo=/bin/cat", config=self.CONFIG)
        self.assertEqual(d.exchange(b"nosuch\r\n"), b"-unknown service\r\n")
        self.assertEqual(d.exchange(b"selfie\r\n"), b"-go away\n")
        d.wait_log(r"^exit service=selfie ")
        raw = d.raw_log_lines()
        for line in raw:
            self.assertRegex(line, STAMP_RE)
        rx = r"^\S+ conn peer=127\.0\.0\.1:\d+ service=%s result=%s pid=%s "
        self.assertTrue([l for l in raw if re.match(
            rx % ("nosuch", '"-unknown service"', "-"), l)], raw)
        # The program said "-go away" itself: oneportd cannot know what.
        self.assertTrue([l for l in raw if re.match(
            rx % ("selfie", "self", r"\d+"), l)], raw)

    def test_journal_priorities(self):
        # The stream systemd would give: stderr's own dev:ino.
        wrap = ["/bin/sh", "-c", 'JOURNAL_STREAM=$(stat -L -c %d:%i '
                '/proc/self/fd/2) exec "$@"', "sh"]
        d = self.start("-s", "echo=/bin/cat", config=self.CONFIG, wrap=wrap)
        self.assertEqual(d.exchange(b"nosuch\r\n"), b"-unknown service\r\n")
        d.wait_log(r"conn .*service=nosuch ")
        # Logged just after the listening lines a client may act on.
        d.wait_log(r"started, 2 services")
        raw = d.raw_log_lines()
        self.assertIn("<6>started, 2 services", raw)
        self.assertTrue([l for l in raw if re.match(
            r'^<6>conn peer=\S+ service=nosuch result="-unknown service" ',
            l)], raw)
        for line in raw:
            self.assertRegex(line, r"^<[0-7]>[^<]")
        # A JOURNAL_STREAM of another stream: plain -d lines.
        d2 = self.start("-s", "echo=/bin/cat", env={"JOURNAL_STREAM": "1:1"})
        d2.wait_log("^started")
        self.assertRegex(d2.raw_log_lines()[-1], STAMP_RE)

    def test_warning_priority(self):
        wrap = ["/bin/sh", "-c", 'JOURNAL_STREAM=$(stat -L -c %d:%i '
                '/proc/self/fd/2) exec "$@"', "sh"]
        d = self.start(config=self.CONFIG, wrap=wrap)
        with open(d.conffile, "w") as f:
            f.write("frob\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration not reloaded")
        raw = d.raw_log_lines()
        self.assertIn('<4>%s:1: unknown keyword "frob"' % d.conffile, raw)
        self.assertIn("<4>configuration not reloaded; keeping the old one",
                      raw)
