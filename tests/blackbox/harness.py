# SPDX-License-Identifier: ISC
"""
harness.py: what every black-box test of oneportd shares. It starts the real
daemon (the binary named by $ONEPORTD) on 127.0.0.1 port 0, reads the bound
port from its "listening on" line, collects its stderr log in a background
thread, talks to it over real loopback sockets, and on cleanup stops it and
kills any service program it left behind. Every wait is a poll of a condition
under a bounded deadline, never a bare sleep.
"""
import errno
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DAEMON = os.path.abspath(os.environ.get("ONEPORTD",
                                        os.path.join(REPO, "oneportd")))
IS_ROOT = os.geteuid() == 0

START_TIMEOUT = 10.0    # seconds for the daemon to print its listeners
IO_TIMEOUT = 5.0        # seconds for one reply we expect to come
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

LISTEN_RE = re.compile(r"^listening on (\S+):(\d+)$")
CONN_RE = re.compile(r"conn peer=(?P<peer>\S+) service=(?P<service>\S+) "
                     r"result=(?P<result>.+?) pid=(?P<pid>\S+) "
                     r"dispatch=(?P<dispatch>\d+\.\d{3})ms$")
EXIT_RE = re.compile(r"exit service=(?P<service>\S+) pid=(?P<pid>\d+) "
                     r"status=(?P<status>\S+) "
                     r"duration=(?P<duration>\d+\.\d{3})s$")


# -d puts the time before each line; values with blanks are quoted
# (log.c's log_quote). Tests match the line after the time, with the
# result unquoted; raw_log_lines() has them as written.
STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} ")
QUOTED_RESULT_RE = re.compile(r'result="((?:[^"\\]|\\.)*)"')


def unquote(value):
    """A log_quote()d value's text: \\" \\\\ and \\xNN undone."""
    return re.sub(r'\\(x[0-9a-f]{2}|.)', lambda m: chr(int(
        m.group(1)[1:], 16)) if len(m.group(1)) == 3 else m.group(1), value)


def log_line_text(raw):
    """A -d log line without its time, its result unquoted."""
    line = STAMP_RE.sub("", raw, count=1)
    return QUOTED_RESULT_RE.sub(lambda m: "result=" + unquote(m.group(1)),
                                line)


def poll_until(cond, timeout=IO_TIMEOUT, interval=0.005, what="condition"):
    """Calls cond() until it returns something true; returns that value.
    Fails (AssertionError) when the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def _remaining(deadline):
    return max(0.0, deadline - time.monotonic())


def recv_until_eof(sock, timeout=IO_TIMEOUT, limit=1 << 20):
    """Everything the peer sends until it closes. A reset after data counts
    as the end: what matters to a client is which bytes it could read."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < limit:
        r, _, _ = select.select([sock], [], [], _remaining(deadline))
        if not r:
            raise AssertionError("no EOF within %.1fs; got %r"
                                 % (timeout, data))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def recv_exact(sock, n, timeout=IO_TIMEOUT):
    """Exactly n bytes, or AssertionError with what came (EOF or deadline)."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < n:
        r, _, _ = select.select([sock], [], [], _remaining(deadline))
        if not r:
            raise AssertionError("wanted %d bytes within %.1fs; got %r"
                                 % (n, timeout, data))
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise AssertionError("EOF after %r; wanted %d bytes"
                                 % (data, n))
        data += chunk
    return data


def recv_until(sock, suffix, timeout=IO_TIMEOUT, limit=65536):
    """Bytes up to and including the first occurrence of suffix."""
    deadline = time.monotonic() + timeout
    data = b""
    while suffix not in data:
        if len(data) > limit:
            raise AssertionError("no %r in %r" % (suffix, data[:200]))
        r, _, _ = select.select([sock], [], [], _remaining(deadline))
        if not r:
            raise AssertionError("no %r within %.1fs; got %r"
                                 % (suffix, timeout, data))
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise AssertionError("EOF before %r; got %r" % (suffix, data))
        data += chunk
    return data


def readable(sock, timeout=0.0):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def count_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def net_fds(pid):
    """How many of pid's descriptors are sockets other than unix ones:
    unlike count_fds, blind to the unix sockets a daemon opens and passes
    on as it likes. (Not /proc/net/tcp: a connection past its close is
    listed there without its inode, though a descriptor still holds it.)"""
    socks = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]",
                             os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except FileNotFoundError:
            continue
        if m:
            socks.add(m.group(1))
    # Read after the descriptors, so a unix socket still open is listed.
    with open("/proc/%d/net/unix" % pid) as f:
        next(f)
        unix = {line.split()[6] for line in f}
    return len(socks - unix)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: fields follow the last ')'.
    return int(s[s.rindex(")") + 2:].split()[1])


def cpu_ticks(pid):
    """CPU time pid has used, user and system, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_ppid(int(d)) == pid:
            kids.append(int(d))
    return kids


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return False
    return s[s.rindex(")") + 2] != "Z"


def stop(pid):
    """SIGSTOP pid and wait until it is stopped: kill(2) returns before
    a process running on another CPU has taken the signal."""
    os.kill(pid, signal.SIGSTOP)

    def stopped():
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2] in "Tt"
    poll_until(stopped, IO_TIMEOUT, what="pid %d stopped" % pid)


def spawned_by_oneportd(pid):
    """Only programs the daemon started carry ONEPORT_SERVICE; used so that
    cleanup never kills anything else."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return b"\0ONEPORT_SERVICE=" in b"\0" + f.read()
    except OSError:
        return False


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on now, for a program that cannot be
    told port 0 and report the port it got (HAProxy)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening_ports():
    """Every TCP port something listens on, as the kernel sees it
    (/proc/net/tcp{,6}, state 0A): a look that connects to nothing."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A":
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def server_side_state(d, client):
    """The kernel's state of the listener's side of client's connection
    (/proc/net/tcp): "01" established, "03" a SYN_RECV request the
    kernel still holds."""
    lport = d.listeners[0][1]
    cport = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for row in f.read().splitlines()[1:]:
            cols = row.split()
            if (int(cols[1].rsplit(":", 1)[1], 16) == lport and
                    int(cols[2].rsplit(":", 1)[1], 16) == cport):
                return cols[3]
    return None


def make_tmpdir():
    """A directory the daemon's unprivileged users can traverse: services
    run as nobody when the daemon is root."""
    d = tempfile.mkdtemp(prefix="oneport-bb-")
    os.chmod(d, 0o755)
    return d


def write_script(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class Daemon:
    """One oneportd -d process and its log."""

    def __init__(self, tmpdir, args=(), config=None, listen=("127.0.0.1:0",),
                 env=None, nlisteners=None, conffile=None, nofile=None,
                 preexec=None, wrap=()):
        self.tmpdir = tmpdir
        self.conffile = conffile
        if config is not None:
            self.conffile = conffile or os.path.join(tmpdir, "oneportd.conf")
            with open(self.conffile, "w") as f:
                f.write(config)
        argv = list(wrap) + [DAEMON, "-d"]     # wrap: a program that execs it
        if self.conffile is not None:
            argv += ["-f", self.conffile]
        for l in listen:
            argv += ["-l", l]
        argv += list(args)
        if nlisteners is None:
            nlisteners = len(listen)
            if config is not None:
                nlisteners += len(re.findall(r"^\s*listen\s+on\b", config,
                                             re.M))
        self.argv = argv
        self.nlisteners = nlisteners
        self.listeners = []         # [(host, port)] in printed order
        self.stdout_extra = []
        self._log = []
        self._raw_log = []
        self._log_cv = threading.Condition()
        self._stdout_lines = []
        self._stdout_cv = threading.Condition()
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        if env:
            e.update(env)
        if nofile is not None:
            more = preexec

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
                if more is not None:
                    more()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=e,
                                     preexec_fn=preexec)
        self.pid = self.proc.pid
        self._threads = [
            threading.Thread(target=self._pump, daemon=True,
                             args=(self.proc.stderr, self._log,
                                   self._log_cv, self._raw_log)),
            threading.Thread(target=self._pump, daemon=True,
                             args=(self.proc.stdout, self._stdout_lines,
                                   self._stdout_cv)),
        ]
        for t in self._threads:
            t.start()
        self.returncode = None

    @staticmethod
    def _pump(stream, lines, cv, raw_lines=None):
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            with cv:
                if raw_lines is not None:
                    raw_lines.append(text)
                    text = log_line_text(text)
                lines.append(text)
                cv.notify_all()
        with cv:
            lines.append(None)      # EOF marker
            cv.notify_all()

    def wait_listening(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._stdout_cv:
            while True:
                got = [l for l in self._stdout_lines if l is not None]
                if len(got) >= self.nlisteners:
                    break
                if None in self._stdout_lines:
                    raise AssertionError(
                        "daemon exited before listening (rc=%s); log:\n%s"
                        % (self.proc.poll(), self.log_text()))
                if not self._stdout_cv.wait(_remaining(deadline)) and \
                        time.monotonic() >= deadline:
                    raise AssertionError("no listening line within %.1fs; "
                                         "log:\n%s" % (timeout,
                                                       self.log_text()))
        for line in got[:self.nlisteners]:
            m = LISTEN_RE.match(line)
            if not m:
                raise AssertionError("bad readiness line %r" % line)
            host = m.group(1)
            if host.startswith("["):
                host = host[1:-1]
            self.listeners.append((host, int(m.group(2))))
        return self

    def stdout_lines(self):
        with self._stdout_cv:
            return [l for l in self._stdout_lines if l is not None]

    @property
    def port(self):
        return self.listeners[0][1]

    @property
    def host(self):
        return self.listeners[0][0]

    # ---- log ----

    def log_lines(self):
        with self._log_cv:
            return [l for l in self._log if l is not None]

    def raw_log_lines(self):
        """The log as the daemon wrote it: times, quotes."""
        with self._log_cv:
            return list(self._raw_log)

    def log_text(self):
        return "\n".join(self.log_lines())

    def wait_log(self, pattern, timeout=IO_TIMEOUT, count=1):
        """The first count log lines matching the regex pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._log_cv:
            while True:
                hits = [rx.search(l) for l in self._log if l is not None]
                hits = [h for h in hits if h]
                if len(hits) >= count:
                    return hits[:count]
                if None in self._log:
                    raise AssertionError("log ended without %d x %r; log:\n%s"
                                         % (count, pattern, self.log_text()))
                left = _remaining(deadline)
                if left == 0:
                    raise AssertionError(
                        "%d of %d x %r within %.1fs; log:\n%s"
                        % (len(hits), count, pattern, timeout,
                           self.log_text()))
                self._log_cv.wait(left)

    def conn_lines(self):
        return [m for m in (CONN_RE.search(l) for l in self.log_lines()) if m]

    def exit_lines(self):
        return [m for m in (EXIT_RE.search(l) for l in self.log_lines()) if m]

    # ---- processes ----

    def frontend_pid(self, timeout=IO_TIMEOUT):
        def find():
            for k in children_of(self.pid):
                if proc_comm(k) == "oneportd-front":
                    return k
            return None
        return poll_until(find, timeout, what="the oneportd-front process")

    def service_pids(self):
        pids = set()
        for l in self.log_lines():
            m = CONN_RE.search(l)
            if m and m.group("pid").isdigit():
                pids.add(int(m.group("pid")))
            m = re.search(r"^[a-z0-9-]+\[(\d+)\]: ", l)
            if m:
                pids.add(int(m.group(1)))
        return pids

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=IO_TIMEOUT):
        """The daemon's exit status. Its log may go on: whatever relays
        the stderr of programs still running can hold the pipe open."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("daemon still running after %.1fs"
                                 % timeout)
        return self.returncode

    def stop(self):
        """SIGTERM, then SIGKILL if it lingers; then kill what it spawned,
        so that nothing holds its output pipes, and collect the log."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.returncode = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait(5)
        else:
            self.returncode = self.proc.returncode
        for pid in self.service_pids():
            if alive(pid) and spawned_by_oneportd(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for t in self._threads:
            t.join(5)
        if not any(t.is_alive() for t in self._threads):
            self.proc.stdout.close()
            self.proc.stderr.close()
        return self.returncode

    def sanitizer_report(self):
        text = self.log_text()
        if any(m in text for m in SANITIZER_MARKS):
            return text
        return None

    # ---- clients ----

    def connect(self, src=None, family=None, index=0, timeout=IO_TIMEOUT):
        host, port = self.listeners[index]
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if src is not None:
                s.bind((src, 0))
            s.settimeout(timeout)
            s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    def exchange(self, data, src=None, index=0, timeout=IO_TIMEOUT,
                 half_close=False):
        """Connect, send data, read until the daemon (or program) closes."""
        s = self.connect(src=src, index=index, timeout=timeout)
        try:
            try:
                if data:
                    s.sendall(data)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass    # answered and closed early: the reply says why
            except OSError as e:
                if e.errno != errno.ENOTCONN:
                    raise
            return recv_until_eof(s, timeout)
        finally:
            s.close()

    def answers(self, data, want, **kw):
        """For polling: does this exchange now give exactly want? A reset
        or refused connection is just "not yet"."""
        try:
            return self.exchange(data, **kw) == want
        except (OSError, AssertionError):
            return False


def run_daemon_n(args, timeout=10):
    """oneportd -n ...: (returncode, stdout, stderr)."""
    p = subprocess.run([DAEMON] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


class DaemonTestCase(unittest.TestCase):
    """Gives each test a world-readable temp dir and daemons that are
    stopped, checked for sanitizer reports and cleaned up after it."""

    def setUp(self):
        if not os.access(DAEMON, os.X_OK):
            self.fail("no daemon at %s (set ONEPORTD)" % DAEMON)
        self.tmp = make_tmpdir()
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, *args, config=None, listen=("127.0.0.1:0",), env=None,
              nlisteners=None, conffile=None, wait=True, nofile=None,
              preexec=None, wrap=()):
        d = Daemon(self.tmp, args=args, config=config, listen=listen,
                   env=env, nlisteners=nlisteners, conffile=conffile,
                   nofile=nofile, preexec=preexec, wrap=wrap)
        self.addCleanup(self._finish, d)
        if wait:
            d.wait_listening()
        return d

    def _finish(self, d):
        d.stop()
        report = d.sanitizer_report()
        if report:
            self.fail("sanitizer report in the daemon's log:\n" + report)

    def script(self, name, text, mode=0o755):
        return write_script(os.path.join(self.tmp, name), text, mode)

    def sock(self, d, **kw):
        s = d.connect(**kw)
        self.addCleanup(s.close)
        return s

    def accepted(self, d, index=0):
        """Returns once every connection made before this call has been
        accepted by the frontend: accept(2) takes the listen queue in order,
        so a HELP answered on a newer connection proves it."""
        s = d.connect(index=index)
        try:
            s.sendall(b"help\r\n")
            recv_until_eof(s)
        finally:
            s.close()
