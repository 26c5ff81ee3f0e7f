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
import signal
import socket
import subprocess
import threading

from harness import (DAEMON, IO_TIMEOUT, LISTEN_RE, DaemonTestCase,
                     poll_until)


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
            self.assertEqual((i, self.ask(port, name + b"\r\n")),
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
                    lines.extend(l.decode("utf-8", "replace")
                                 for l in done)
                    cv.notify_all()
        threading.Thread(target=pump, daemon=True).start()

        def logged(rx):
            with cv:
                return [l for l in lines if re.search(rx, l)]

        def dropped_then_logged():
            self.ask(port, b"hi\r\n")
            return logged(r"^log: \d+ lines dropped") and \
                logged(r"^conn .* service=hi result=\+ ")
        poll_until(dropped_then_logged, what="the dropped count logged")
        # The parent's count (the frontend keeps its own): every
        # request's conn and exit lines at least.
        n = max(int(re.search(r"(\d+) lines", l).group(1))
                for l in logged(r"^log: \d+ lines dropped"))
        self.assertGreaterEqual(n, 60)
        self.assertIsNone(p.poll())

    def ask(self, port, line):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=IO_TIMEOUT) as s:
            s.sendall(line)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk


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
