# SPDX-License-Identifier: ISC
"""
The status socket, `oneport status` and the metrics: what they say is
what the test made happen (served, refused by reason, running, pending,
a supervised program's starts), in the table, in --json and in the
Prometheus text format as a real parser (Debian's python3-prometheus-
client) reads it, on the status socket and on the frontend's "metrics
on" HTTP listener; readers that stall cost clients nothing and are cut
off; only root and the status group may read it.
"""
import grp
import json
import os
import socket
import stat
import subprocess
import sys
import time
import unittest

from test_forward import Backend, echo
from harness import (DAEMON, IO_TIMEOUT, IS_ROOT, REPO, DaemonTestCase,
                     free_port, poll_until, recv_exact, recv_until,
                     recv_until_eof)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A Python of its own (pyenv, a venv) does not see Debian's package.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.realpath(DAEMON))
ONEPORT = os.path.join(HERE, "oneport")
if not os.access(ONEPORT, os.X_OK):
    ONEPORT = os.path.join(REPO, "build", "oneport")
ECHO = os.path.join(HERE, "echo-service")
if not os.access(ECHO, os.X_OK):
    ECHO = os.path.join(REPO, "build", "echo-service")
NOBODY = 65534


def metrics(text):
    """{(name, frozenset(labels)): value} and {name: type}, as
    prometheus_client parses the text."""
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def sample(samples, metric, **labels):
    return samples.get((metric, frozenset(labels.items())))


class StatusCase(DaemonTestCase):

    def path(self, name):
        return os.path.join(self.tmp, name)

    def status(self, *args, check=True, **kw):
        p = subprocess.run([ONEPORT, "status", "-S", self.sock_path] +
                           list(args), capture_output=True,
                           timeout=IO_TIMEOUT * 2, **kw)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def json(self):
        return json.loads(self.status("--json").stdout)

    def row(self, js, name):
        for r in js["services"]:
            if r["name"] == name:
                return r
        return None

    def start_status(self, extra="", services=None):
        self.sock_path = self.path("status.sock")
        conf = 'status socket "%s"\n' % self.sock_path + extra
        conf += services if services is not None else """
service "echo" { command "/bin/cat"; max instances 1 }
service "sup" { socket "%s"; command "%s" "-e" }
""" % (self.path("sup.sock"), ECHO)
        return self.start(config=conf)

    def hello(self, d, name=b"echo"):
        """One echo session: "+", then the bytes back."""
        s = self.sock(d)
        s.sendall(name + b"\r\n")
        self.assertEqual(recv_exact(s, 3), b"+\r\n")
        s.sendall(b"ping\n")
        recv_until(s, b"ping\n")
        s.close()

    def make_traffic(self, d):
        """3 served and one held open (so 4), 1 "service busy", 2 unknown
        names, 1 line too long, 1 session of sup; returns the held
        socket."""
        d.wait_log(r"^sup: started pid \d+")
        self.hello(d, b"sup")
        for i in range(3):
            self.hello(d)
            # Its program gone, or the next would be one too many.
            d.wait_log(r"^exit service=echo ", count=i + 1)
        held = self.sock(d)
        held.sendall(b"echo\r\n")
        self.assertEqual(recv_exact(held, 3), b"+\r\n")
        self.assertEqual(d.exchange(b"echo\r\n"), b"-service busy\r\n")
        for name in (b"nosuch", b"other"):
            self.assertEqual(d.exchange(name + b"\r\n"),
                             b"-unknown service\r\n")
        self.assertEqual(d.exchange(b"x" * 100 + b"\r\n"),
                         b"-line too long\r\n")
        return held

    def wait_counts(self, want_served=4):
        def ok():
            js = self.json()
            none = self.row(js, "-") or {"refused_by": {}}
            echo = self.row(js, "echo")
            if (echo["served"] == want_served and
                    none["refused_by"].get("unknown service") == 2 and
                    none["refused_by"].get("line too long") == 1):
                return js
            return None
        return poll_until(ok, what="the status to show the counts")

    def test_status_table_and_json_count_what_happened(self):
        d = self.start_status()
        held = self.make_traffic(d)
        js = self.wait_counts()
        echo = self.row(js, "echo")
        self.assertEqual(echo["mode"], "spawn")
        self.assertEqual((echo["running"], echo["limit"]), (1, 1))
        self.assertEqual(echo["refused"], 1)
        self.assertEqual(echo["refused_by"], {"service busy": 1})
        # Every one the parent decided was timed.
        self.assertEqual(echo["dispatched"], 5)
        self.assertGreater(echo["p50_ms"], 0)
        self.assertGreaterEqual(echo["p99_ms"], echo["p50_ms"])
        sup = self.row(js, "sup")
        self.assertEqual(sup["mode"], "pass+run")
        self.assertEqual(sup["served"], 1)
        self.assertEqual(sup["program"]["starts"], 1)
        self.assertEqual(sup["program"]["running"], 1)
        self.assertGreater(sup["program"]["pid"], 0)
        self.assertEqual(js["listeners"], ["%s:%d" % d.listeners[0]])
        self.assertGreaterEqual(js["pending_max"], 1)
        self.assertIn({"name": "sup", "kind": "socket", "uid": "0",
                       "port": 0, "waiting": 0}, js["channels"])

        text = self.status().stdout.decode()
        lines = text.splitlines()
        head = [l for l in lines if l.startswith("SERVICE")]
        self.assertEqual(len(head), 1, text)
        self.assertEqual(head[0].split()[:5],
                         ["SERVICE", "MODE", "RUNNING", "SERVED", "REFUSED"])
        echo_line = [l for l in lines if l.startswith("echo ")][0]
        self.assertEqual(echo_line.split()[:5],
                         ["echo", "spawn", "1/1", "4", "1"])
        self.assertTrue(echo_line.endswith("service busy 1"), echo_line)
        none_line = [l for l in lines if l.startswith("- ")][0]
        self.assertIn("unknown service 2", none_line)
        self.assertIn("line too long 1", none_line)
        self.assertIn("listening: %s:%d" % d.listeners[0], text)

        # The held session ends: nothing runs; a supervised program
        # killed is restarted, and its last exit is said.
        held.close()
        poll_until(lambda: self.row(self.json(), "echo")["running"] == 0,
                   what="the session's end")
        os.kill(sup["program"]["pid"], 9)
        d.wait_log(r"^sup: started pid \d+", count=2)
        prog = poll_until(lambda: self.row(self.json(), "sup")["program"]
                          if self.row(self.json(), "sup")["program"]
                          ["starts"] == 2 else None, what="the restart")
        self.assertEqual(prog["restarts"], 1)
        self.assertEqual(prog["last_exit"], "signal:9")

    def test_metrics_parsed_on_socket_and_http(self):
        port = free_port()
        d = self.start_status(extra="metrics on 127.0.0.1 port %d\n" % port)
        self.make_traffic(d).close()
        self.wait_counts()
        text = self.status("--metrics").stdout.decode()
        samples, types = metrics(text)
        self.assertEqual(types["oneport_served"], "counter")
        self.assertEqual(types["oneport_dispatch_seconds"], "histogram")
        self.assertEqual(types["oneport_pending"], "gauge")
        self.assertEqual(sample(samples, "oneport_served_total",
                                service="echo"), 4)
        self.assertEqual(sample(samples, "oneport_refused_total",
                                service="echo", reason="service busy"), 1)
        self.assertEqual(sample(samples, "oneport_refused_total",
                                service="-", reason="unknown service"), 2)
        self.assertEqual(sample(samples, "oneport_instances_limit",
                                service="echo"), 1)
        self.assertEqual(sample(samples, "oneport_program_starts_total",
                                service="sup"), 1)
        self.assertEqual(sample(samples, "oneport_dispatch_seconds_count",
                                service="echo"), 5)
        self.assertEqual(sample(samples, "oneport_dispatch_seconds_bucket",
                                service="echo", le="+Inf"), 5)
        self.assertGreater(sample(samples, "oneport_dispatch_seconds_sum",
                                  service="echo"), 0)
        self.assertEqual(sample(samples, "oneport_channels_waiting",
                                name="sup", kind="socket", uid="0"), 0)

        # The same counters over HTTP, from the frontend: its own user's
        # sandboxed process serves it (the parent keeps it only for the
        # next frontend, as it keeps the listeners).
        def scrape(path="/metrics", method="GET"):
            s = socket.create_connection(("127.0.0.1", port),
                                         timeout=IO_TIMEOUT)
            try:
                s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\n\r\n"
                          % (method.encode(), path.encode()))
                return recv_until_eof(s)
            finally:
                s.close()
        got = scrape()
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"Content-Length: %d\r\n" % len(body), head)
        samples, _ = metrics(body.decode())
        self.assertEqual(sample(samples, "oneport_served_total",
                                service="echo"), 4)
        self.assertEqual(sample(samples, "oneport_refused_total",
                                service="-", reason="line too long"), 1)
        self.assertTrue(scrape("/other").startswith(b"HTTP/1.1 404 "))
        self.assertTrue(scrape(method="POST").startswith(b"HTTP/1.1 405 "))
        fe = d.frontend_pid()
        with open("/proc/net/tcp") as f:
            inode = [l.split()[9] for l in f.readlines()[1:]
                     if l.split()[1].endswith(":%04X" % port) and
                     l.split()[3] == "0A"][0]
        def holds(pid):
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                            "socket:[%s]" % inode:
                        return True
                except OSError:
                    pass
            return False
        self.assertTrue(holds(fe))

    def test_stalled_readers_cost_clients_nothing(self):
        # A view larger than a socket's buffer, so that it waits.
        many = "".join('service "s%04d" { command "/bin/cat" }\n' % i
                       for i in range(1500))
        d = self.start_status(services=many + 'service "echo" '
                              '{ command "/bin/cat" }\n')
        stalled = []
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(self.sock_path)
            s.sendall(b"metrics\n")
            stalled.append(s)
            self.addCleanup(s.close)
        # Each stalled reader holds the parent's output, not the parent.
        for _ in range(20):
            self.hello(d)
        hit = d.wait_log(r"^status: a reader took \d+ of (\d+) bytes in "
                         r"time: cut off", timeout=15)[0]
        whole = int(hit.group(1))
        # Each ends; one read now may still take all (it is no longer
        # stalled), not the one the log line is about.
        got = [len(recv_until_eof(s, timeout=15, limit=64 << 20))
               for s in stalled]
        self.assertLess(min(got), whole)
        js = self.json()
        self.assertEqual(self.row(js, "echo")["served"], 20)
        self.assertEqual(len(js["services"]), 1501)

    def test_forward_relayed_and_kept_across_reload(self):
        b = Backend(echo)
        self.addCleanup(b.close)
        d = self.start_status(services="""
service "fwd" { forward to "127.0.0.1" port %d }
""" % b.port)
        s = self.sock(d)
        s.sendall(b"fwd\r\nfirst,")
        self.assertEqual(recv_exact(s, 3), b"+\r\n")
        s.sendall(b"second")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"first,second")
        fwd = poll_until(lambda: (lambda r: r if r["served"] == 1 else
                                  None)(self.row(self.json(), "fwd")),
                         what="the relayed connection's end")
        self.assertEqual(fwd["mode"], "forward")
        self.assertEqual((fwd["relayed"], fwd["bytes_in"],
                          fwd["bytes_out"]), (1, 12, 12))
        samples, _ = metrics(self.status("--metrics").stdout.decode())
        self.assertEqual(sample(samples, "oneport_relayed_bytes_total",
                                service="fwd", direction="in"), 12)
        # A reload keeps the counts of the services that stay.
        d.signal(1)
        d.wait_log(r"^configuration reloaded")
        self.assertEqual(self.row(self.json(), "fwd")["served"], 1)

    @unittest.skipUnless(IS_ROOT, "needs root to switch users")
    def test_only_root_and_the_group(self):
        gid = grp.getgrnam("adm").gr_gid
        d = self.start_status(extra="", services="""
service "echo" { command "/bin/cat" }
""")
        self.sock_path = self.path("g.sock")
        with open(d.conffile, "a") as f:
            f.write('status socket "%s" group adm\n' % self.sock_path)
        d.signal(1)
        d.wait_log(r"^configuration reloaded")
        poll_until(lambda: os.path.exists(self.sock_path), what="g.sock")
        st = os.stat(self.sock_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, gid)
        self.assertFalse(os.path.exists(self.path("status.sock")))

        as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                     "--clear-groups"]
        p = subprocess.run(as_nobody + [ONEPORT, "status", "-S",
                           self.sock_path], capture_output=True,
                           timeout=IO_TIMEOUT * 2)
        self.assertEqual(p.returncode, 3, p)
        self.assertIn(b"Permission denied", p.stderr)
        # The file's mode opened to all: the daemon still checks who.
        os.chmod(self.sock_path, 0o666)
        p = subprocess.run(as_nobody + [ONEPORT, "status", "-S",
                           self.sock_path], capture_output=True,
                           timeout=IO_TIMEOUT * 2)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (1, b"", b"-permission denied\n"))
        d.wait_log(r"^status: uid %d refused: not root nor in the status "
                   r"group" % NOBODY)
        # A member of the group (not its primary) may.
        p = subprocess.run(["setpriv", "--reuid=%d" % NOBODY,
                            "--regid=%d" % NOBODY, "--groups=%d" % gid,
                            ONEPORT, "status", "--json", "-S",
                            self.sock_path], capture_output=True,
                           timeout=IO_TIMEOUT * 2)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(json.loads(p.stdout)["services"][0]["name"],
                         "echo")

    def test_unknown_request_and_no_line(self):
        d = self.start_status()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.connect(self.sock_path)
        s.sendall(b"gimme\n")
        self.assertEqual(recv_until_eof(s), b"-unknown request\n")
        # A reader that never sends its line is closed, not kept.
        t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(t.close)
        t.connect(self.sock_path)
        self.assertEqual(recv_until_eof(t, timeout=IO_TIMEOUT), b"")
        self.assertIn("echo", self.status().stdout.decode())


if __name__ == "__main__":
    unittest.main()
