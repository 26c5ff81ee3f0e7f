# SPDX-License-Identifier: ISC
"""
Limits: instances per service and per client address, pending connections
per address and in total (the oldest silent one is evicted, never the
newcomer), and fairness: many silent clients must not slow a normal one.
"""
import concurrent.futures
import os
import select
import signal
import socket
import threading
import time
from unittest import mock

import harness
from harness import (DaemonTestCase, poll_until, readable, recv_exact,
                     recv_until, recv_until_eof)


def session(t, d, src=None):
    """An open echo session, proven live by one round trip."""
    s = t.sock(d, src=src)
    s.sendall(b"echo\r\nlive\n")
    t.assertEqual(recv_exact(s, 8), b"+\r\nlive\n")
    return s


class Instances(DaemonTestCase):
    CONF = """
service "echo" {
	command "/bin/cat"
	max instances 3
	max per-address 2
}
service "other" {
	command "/bin/cat"
}
"""

    def test_per_address_limit(self):
        d = self.start(config=self.CONF)
        a1 = session(self, d, "127.0.0.1")
        session(self, d, "127.0.0.1")
        self.assertEqual(d.exchange(b"echo\r\n", src="127.0.0.1"),
                         b"-too many instances for your address\r\n")
        # Another address, and another service, are not affected.
        session(self, d, "127.0.0.2")
        self.assertEqual(d.exchange(b"other\r\n", src="127.0.0.1",
                                    half_close=True), b"+\r\n")
        # When a session ends its slot comes back.
        a1.close()
        poll_until(lambda: d.answers(b"echo\r\n", b"+\r\n", src="127.0.0.1",
                                     half_close=True),
                   what="the per-address slot to come back")

    def test_service_busy(self):
        d = self.start(config=self.CONF)
        first = session(self, d, "127.0.0.1")
        session(self, d, "127.0.0.2")
        session(self, d, "127.0.0.3")
        self.assertEqual(d.exchange(b"echo\r\n", src="127.0.0.4"),
                         b"-service busy\r\n")
        d.wait_log(r"^conn peer=127\.0\.0\.4:\d+ service=echo "
                   r"result=-service busy pid=- ")
        first.close()
        d.wait_log(r"^exit service=echo ")
        poll_until(lambda: d.answers(b"echo\r\n", b"+\r\n", src="127.0.0.4",
                                     half_close=True),
                   what="the instance slot to come back")

    def test_one_address_cannot_take_a_service(self):
        # With the defaults (256 instances, 32 per address), 256 idle
        # sessions from one address hold 32; another address is served.
        d = self.start(config='service "echo" {\n\tcommand "/bin/cat"\n}\n')
        held, refused = [], 0
        for i in range(256):
            s = self.sock(d, src="127.0.0.20")
            s.sendall(b"echo\r\nlive\n")
            got = recv_until(s, b"\n")
            if got.startswith(b"+\r\n"):
                got += recv_exact(s, 8 - len(got)) if len(got) < 8 else b""
                self.assertEqual(got, b"+\r\nlive\n")
                held.append(s)
            else:
                self.assertEqual(got, b"-too many instances for your "
                                 b"address\r\n", "session %d" % i)
                s.close()
                refused += 1
        self.assertEqual((len(held), refused), (32, 224))
        session(self, d, "127.0.0.21")

    def test_busy_with_pipelined_bytes(self):
        # The refused client's extra bytes must not cost it the reply.
        d = self.start(config=self.CONF)
        for i in (1, 2, 3):
            session(self, d, "127.0.0.%d" % i)
        self.assertEqual(d.exchange(b"echo\r\n" + b"z" * 5000,
                                    src="127.0.0.4"),
                         b"-service busy\r\n")


class Pending(DaemonTestCase):

    def test_pending_per_address(self):
        d = self.start(config='timeout 20\nmax pending per-address 3\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        fe = d.frontend_pid()
        base = self.sockets(fe)
        # Three that have each sent part of a line count at once.
        slow = []
        for i in range(3):
            slow.append(self.sock(d, src="127.0.0.1"))
            slow[-1].sendall(b"ec")
            poll_until(lambda: self.sockets(fe) >= base + i + 1,
                       what="slow client %d accepted" % i)
        # The fourth from that address is served; the oldest makes room.
        t0 = time.monotonic()
        s = session(self, d, "127.0.0.1")
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(recv_until_eof(slow[0]),
                         b"-too many connections from your address\r\n")
        d.wait_log(r"^conn peer=127\.0\.0\.1:\d+ service=- "
                   r"result=-too many connections from your address ")
        # Another address is not affected, nor are the newer two.
        session(self, d, "127.0.0.2")
        for x in slow[1:]:
            self.assertFalse(readable(x))
        slow[1].sendall(b"ho\r\nstill\n")
        self.assertEqual(recv_exact(slow[1], 9), b"+\r\nstill\n")
        s.close()

    def test_silent_neighbours_do_not_lock_out(self):
        # 40 silent connections from one address (over the default 32),
        # then normal clients from the same address: each is served.
        d = self.start(config='timeout 20\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        fe = d.frontend_pid()
        base = self.sockets(fe)
        silent = [self.sock(d, src="127.0.0.7") for _ in range(40)]
        poll_until(lambda: self.sockets(fe) >= base + 40,
                   what="40 silent clients accepted")
        for i in range(10):
            self.assertEqual(d.exchange(b"help\r\n", src="127.0.0.7"),
                             b"echo\r\n", "client %d" % i)
        # Once they have had their time to speak they count, and a
        # newcomer from their address pushes out the oldest of them.
        def evicted():
            s = d.connect(src="127.0.0.7")
            s.sendall(b"help\r\n")
            self.assertEqual(recv_until_eof(s), b"echo\r\n")
            s.close()
            return readable(silent[0])
        poll_until(evicted, timeout=10, interval=0.1,
                   what="the oldest silent client to be pushed out")
        self.assertEqual(recv_until_eof(silent[0]),
                         b"-too many connections from your address\r\n")

    def test_many_silent_at_once_do_not_lock_out(self):
        # 70 silent connections at once from one address: those beyond
        # twice its limit are refused while the rest are young, but once
        # they have had their second a normal client from that address
        # pushes out the oldest of them instead of being refused.
        d = self.start(config='timeout 20\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        for _ in range(70):
            self.sock(d, src="127.0.0.30")
        poll_until(lambda: d.answers(b"help\r\n", b"echo\r\n",
                                     src="127.0.0.30"),
                   timeout=10, interval=0.3,
                   what="a normal client of the address to be served")

    def test_burst_from_one_address(self):
        # 20 bursts of 50 clients from one address, each sending its line
        # as soon as it is connected: none is refused for its address.
        d = self.start(config='service "hi" {\n\tcommand "/bin/echo" "hi"\n'
                              '\tmax per-address 0\n}\n')
        n = 50

        def client(i, barrier):
            barrier.wait()
            line = b"hi\r\n" if i % 2 else b"help\r\n"
            want = b"+\r\nhi\n" if i % 2 else b"hi\r\n"
            return d.exchange(line, src="127.0.0.9", timeout=10) == want

        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            for burst in range(20):
                barrier = threading.Barrier(n)
                ok = list(pool.map(lambda i: client(i, barrier), range(n)))
                self.assertEqual(ok.count(False), 0, "burst %d" % burst)
        self.assertNotIn("too many connections", d.log_text())

    def test_sequential_clients_from_one_address(self):
        # Clients that send their line and read the answer later pile up
        # in the listen queue and are accepted many at once.
        d = self.start(config='service "echo" {\n\tcommand "/bin/cat"\n}\n')
        for rnd in range(15):
            socks = []
            for _ in range(200):
                s = d.connect(src="127.0.0.11")
                s.sendall(b"help\r\n")
                socks.append(s)
            for s in socks:
                self.assertEqual(recv_until_eof(s), b"echo\r\n",
                                 "round %d" % rnd)
                s.close()
        self.assertNotIn("too many connections", d.log_text())

    def test_oldest_silent_is_evicted(self):
        d = self.start(config='timeout 20\nmax pending 4\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        fe = d.frontend_pid()
        base = self.sockets(fe)
        silent = []
        for i in range(4):
            silent.append(self.sock(d, src="127.0.0.%d" % (10 + i)))
            # In order, each accepted before the next connects. (A HELP
            # probe would itself take a pending place; count fds instead.)
            poll_until(lambda: self.sockets(fe) >= base + i + 1,
                       what="silent client %d accepted" % i)
        s = session(self, d, "127.0.0.1")
        self.assertEqual(recv_until_eof(silent[0]), b"-busy\r\n")
        d.wait_log(r"^conn peer=127\.0\.0\.10:\d+ service=\S+ "
                   r"result=-busy ")
        for x in silent[1:]:
            self.assertFalse(readable(x), "a newer waiter was dropped")
        # The rest were still pending, as a stop shows.
        s.close()
        d.signal(signal.SIGTERM)
        for x in silent[1:]:
            self.assertEqual(recv_until_eof(x), b"-shutting down\r\n")

    @staticmethod
    def sockets(pid):
        """How many sockets the process holds."""
        n = 0
        for f in os.listdir("/proc/%d/fd" % pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith(
                    "socket:")
            except OSError:
                pass
        return n

    def test_fairness_under_500_silent_clients(self):
        d = self.start(config='timeout 30\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')

        def one_session():
            t0 = time.monotonic()
            s = d.connect(src="127.0.0.1")
            try:
                s.sendall(b"echo\r\nping\n")
                self.assertEqual(recv_exact(s, 8), b"+\r\nping\n")
            finally:
                s.close()
            return time.monotonic() - t0

        one_session()
        base = min(one_session() for _ in range(5))
        silent = []
        try:
            for i in range(500):
                # 50 addresses x 10: under the default 32 per address.
                silent.append(d.connect(src="127.0.1.%d" % (1 + i % 50)))
            took = one_session()
            self.accepted(d)
            took2 = one_session()
        finally:
            for s in silent:
                s.close()
        self.assertLess(took, base + 0.3,
                        "session behind 500 silent connects took %.3fs "
                        "(alone %.3fs)" % (took, base))
        self.assertLess(took2, base + 0.3,
                        "session beside 500 silent clients took %.3fs "
                        "(alone %.3fs)" % (took2, base))


class Floods(DaemonTestCase):
    """A source that opens connections and drops them loses its rate;
    others, and slow clients, are still served."""

    def slow_clients_during(self, d, floods):
        """Once the floods (function, args) have opened 2000 connections,
        clients 0.2 s slow to send their line must still be served."""
        stop, count = threading.Event(), [0]
        threads = [threading.Thread(target=f, args=a + (stop, count))
                   for f, a in floods]
        for t in threads:
            t.start()
        try:
            poll_until(lambda: count[0] >= 2000, timeout=30,
                       what="2000 flood connections")
            for i in range(5):
                s = d.connect(src="127.0.0.3")
                try:
                    time.sleep(0.2)     # the slow client, not a wait
                    s.sendall(b"echo\r\nping\n")
                    self.assertEqual(recv_exact(s, 8), b"+\r\nping\n",
                                     "slow client %d" % i)
                finally:
                    s.close()
        finally:
            stop.set()
            for t in threads:
                t.join()

    @staticmethod
    def flood(d, src, stop, count):
        while not stop.is_set():
            try:
                d.connect(src=src).close()
                count[0] += 1
            except OSError:
                pass

    def test_slow_client_through_reconnect_flood(self):
        # One address's limit as large as the pool: before, its flood
        # cycled every place, and a client 0.2 s slow to speak was pushed
        # out. Now the flood's source is refused once it has dropped a
        # burst, and stays so while it keeps at it.
        d = self.start(config='timeout 20\nmax pending 64\n'
                              'max pending per-address 64\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        self.slow_clients_during(d, [(self.flood, (d, "127.0.0.2"))] * 2)
        d.wait_log(r"^conn peer=127\.0\.0\.2:\d+ service=- "
                   r"result=-too many connections from your address ")

    def test_slow_client_through_many_address_flood(self):
        # 300 silent connections from 100 addresses, each opened again as
        # soon as it is closed, against a pool of 64: each address stays
        # under its limit, so before, the flood pushed out every client
        # slower than the pool's turnover. Now an address whose connection
        # was pushed out has a record: at the limit its newcomers are
        # refused, and only clean ones, like the slow client, push out.
        d = self.start(config='timeout 20\nmax pending 64\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        self.slow_clients_during(d, [(self.silent_flood, (d, 300, 100))])

    @staticmethod
    def silent_flood(d, nsock, naddr, stop, count):
        ep = select.epoll()
        socks = {}

        def open_one(i):
            s = socket.socket()
            s.setblocking(False)
            s.bind(("127.0.4.%d" % (1 + i % naddr), 0))
            try:
                s.connect((d.host, d.port))
            except BlockingIOError:
                pass
            socks[s.fileno()] = (s, i)
            ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            count[0] += 1

        try:
            for i in range(nsock):
                open_one(i)
            while not stop.is_set():
                for fd, _ in ep.poll(0.1):
                    s, i = socks.pop(fd)
                    ep.unregister(fd)
                    s.close()
                    open_one(i)
        finally:
            for s, _ in socks.values():
                s.close()
            ep.close()

    def test_early_drop(self):
        # 10 pending of 20 is the start: from there, a source that has
        # just dropped a connection has its newcomers refused at random
        # (50% there, all at 20); the clean sources already waiting are
        # kept, and a clean newcomer is served.
        d = self.start(config='timeout 20\nmax pending 10:50:20\n'
                              'service "echo" {\n\tcommand "/bin/cat"\n}\n')
        # Ten dropped connections stay on the record for 2.5 s at the
        # default rate of 4 a second.
        for _ in range(10):
            d.connect(src="127.0.0.5").close()
        d.wait_log(r"^conn peer=127\.0\.0\.5:\d+ service=- "
                   r"result=-incomplete request ", count=10)
        clean = [self.sock(d, src="127.0.2.%d" % (1 + i)) for i in range(10)]
        self.accepted(d)
        tries = [self.sock(d, src="127.0.0.5") for _ in range(15)]
        refused = poll_until(
            lambda: [s for s in tries if readable(s)], what="a refusal")
        for s in refused:
            self.assertEqual(recv_until_eof(s), b"-busy\r\n")
        for s in clean:
            self.assertFalse(readable(s), "a clean waiter was dropped")
        session(self, d, "127.0.3.1")
        self.assertLess(len(refused), 15)


class Memory(DaemonTestCase):

    def test_max_pending_beyond_memory(self):
        # A pool that cannot be had in full is sized down, and said so;
        # never a pool of nothing with every client "-busy".
        conf = 'max pending 1000000\nservice "echo" {\n' \
               '\tcommand "/bin/cat"\n}\n'
        with open(harness.DAEMON, "rb") as f:
            asan = b"__asan_init" in f.read()
        if asan:
            # ASan needs its address space; cap each allocation instead.
            d = self.start(config=conf, env={
                "ASAN_OPTIONS": "detect_leaks=1:allocator_may_return_null=1:"
                                "max_allocation_size_mb=32"})
        else:
            wrapper = self.script("limited.sh", "#!/bin/sh\nexec prlimit "
                                  "--as=40000000 -- %s \"$@\"\n"
                                  % harness.DAEMON)
            with mock.patch.object(harness, "DAEMON", wrapper):
                d = self.start(config=conf)
        m = d.wait_log(r"max pending 1000000 does not fit in memory; "
                       r"using (\d+)$")[0]
        self.assertGreater(int(m.group(1)), 1000)
        for i in range(3):
            session(self, d, "127.0.0.%d" % (1 + i))
