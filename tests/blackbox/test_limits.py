"""
Limits: instances per service and per client address, pending connections
per address and in total (the oldest silent one is evicted, never the
newcomer), and fairness: many silent clients must not slow a normal one.
"""
import os
import signal
import time

from harness import (DaemonTestCase, poll_until, readable, recv_exact,
                     recv_until_eof)


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
        silent = [self.sock(d, src="127.0.0.1") for _ in range(3)]
        t0 = time.monotonic()
        self.assertEqual(d.exchange(b"", src="127.0.0.1"),
                         b"-too many connections from your address\r\n")
        self.assertLess(time.monotonic() - t0, 2.0)
        # Another address is served.
        session(self, d, "127.0.0.2")
        # The waiting three are untouched, and one leaving frees a place.
        for s in silent:
            self.assertFalse(readable(s))
        silent[0].close()
        poll_until(lambda: d.answers(b"echo\r\n", b"+\r\n", src="127.0.0.1",
                                     half_close=True),
                   what="a pending place to be freed")
        # The others are still waiting and still served when they speak.
        silent[1].sendall(b"echo\r\nstill\n")
        self.assertEqual(recv_exact(silent[1], 9), b"+\r\nstill\n")

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
