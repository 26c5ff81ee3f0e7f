# SPDX-License-Identifier: ISC
"""
The RFC 1078 exchange as a client sees it: the exact bytes of every reply,
name matching, line endings, the one absolute deadline, and that bytes sent
after the request line reach the program unchanged and first.
"""
import signal
import socket
import time

from harness import (DaemonTestCase, poll_until, readable,
                     recv_exact, recv_until, recv_until_eof,
                     server_side_state)


class ReplyBytes(DaemonTestCase):
    """One daemon with a cat echo service; every answer byte-for-byte."""

    def setUp(self):
        super().setUp()
        self.d = self.start("-s", "echo=cat", "-s", "hi=/bin/echo hi",
                            "-s", "true=/bin/true")

    def test_success_then_program(self):
        s = self.sock(self.d)
        s.sendall(b"echo\r\n")
        self.assertEqual(recv_exact(s, 3), b"+\r\n")
        s.sendall(b"ping\n")
        self.assertEqual(recv_exact(s, 5), b"ping\n")
        s.shutdown(socket.SHUT_WR)
        # cat exits at EOF; the connection ends only if neither daemon
        # process kept a copy of the socket.
        self.assertEqual(recv_until_eof(s), b"")

    def test_program_that_exits_at_once(self):
        self.assertEqual(self.d.exchange(b"true\r\n"), b"+\r\n")

    def test_name_is_case_insensitive(self):
        for name in (b"ECHO", b"Echo", b"eChO"):
            with self.subTest(name=name):
                s = self.sock(self.d)
                s.sendall(name + b"\r\nx")
                self.assertEqual(recv_exact(s, 4), b"+\r\nx")

    def test_bare_lf(self):
        s = self.sock(self.d)
        s.sendall(b"echo\nabc")
        self.assertEqual(recv_exact(s, 6), b"+\r\nabc")

    def test_pipelined_bytes_reach_program(self):
        s = self.sock(self.d)
        s.sendall(b"echo\r\nHELLO")
        self.assertEqual(recv_exact(s, 8), b"+\r\nHELLO")

    def test_pipelined_binary_and_more_than_max_line(self):
        # More than max-line (64) bytes after the name, every byte value,
        # including CR, LF and NUL: all of it is the program's.
        tail = bytes(range(256)) * 8
        s = self.sock(self.d)
        s.sendall(b"echo\r\n" + tail)
        self.assertEqual(recv_exact(s, 3 + len(tail)), b"+\r\n" + tail)

    def test_pipelined_line_split_over_packets(self):
        s = self.sock(self.d)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (b"ec", b"ho\r", b"\nab", b"c"):
            s.sendall(piece)
            time.sleep(0.02)    # make separate segments, not a wait
        self.assertEqual(recv_exact(s, 6), b"+\r\nabc")

    def test_plus_precedes_program_output(self):
        # /bin/echo writes the moment it runs: "+" must already be out.
        bad = []
        for i in range(200):
            got = self.d.exchange(b"hi\r\n")
            if got != b"+\r\nhi\n":
                bad.append((i, got))
        self.assertEqual(bad, [], "%d of 200 runs differ" % len(bad))

    def test_unknown_service(self):
        self.assertEqual(self.d.exchange(b"nosuch\r\n"),
                         b"-unknown service\r\n")
        # A valid 15-character name is a name, merely unknown.
        self.assertEqual(self.d.exchange(b"abcdefghijklmno\r\n"),
                         b"-unknown service\r\n")

    def test_bad_names(self):
        for line in (b"\r\n", b"\n", b"-echo\r\n", b"echo-\r\n",
                     b"ec--ho\r\n", b"12345\r\n", b"abcdefghijklmnop\r\n",
                     b"ec ho\r\n", b"ec_ho\r\n", b"echo.\r\n",
                     b"ec\rho\r\n", b"echo\r\r\n", b"\xc3\xa9cho\r\n"):
            with self.subTest(line=line):
                self.assertEqual(self.d.exchange(line), b"-bad name\r\n")

    def test_bad_bytes_rejected_at_once(self):
        # Default deadline is 5 s: an answer well before it proves that an
        # impossible byte is judged as soon as it arrives, with no newline.
        for first in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                      b"GET / HTTP/1.1", b"\x00", b"echo\x7f",
                      b"ssh-2.0!"):
            with self.subTest(first=first):
                s = self.sock(self.d)
                t0 = time.monotonic()
                s.sendall(first)
                self.assertEqual(recv_until_eof(s, timeout=4),
                                 b"-bad name\r\n")
                self.assertLess(time.monotonic() - t0, 1.0)

    def test_line_too_long(self):
        # max-line defaults to 64 bytes including the line end.
        cases = [
            (b"a" * 62 + b"\r\n", b"-bad name\r\n"),     # fits, 62 > 15
            (b"a" * 63 + b"\n", b"-bad name\r\n"),       # fits exactly
            (b"a" * 63 + b"\r\n", b"-line too long\r\n"),
            (b"a" * 64 + b"\n", b"-line too long\r\n"),
            (b"a" * 64, b"-line too long\r\n"),          # no LF at all
        ]
        for line, want in cases:
            with self.subTest(n=len(line)):
                self.assertEqual(self.d.exchange(line), want)

    def test_line_too_long_answered_at_once(self):
        s = self.sock(self.d)
        t0 = time.monotonic()
        s.sendall(b"x" * 100)
        self.assertEqual(recv_until_eof(s, timeout=4),
                         b"-line too long\r\n")
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_huge_garbage_still_gets_its_reply(self):
        # A client that keeps sending must still be able to read why.
        s = self.sock(self.d)
        try:
            s.sendall(b"y" * 200000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertEqual(recv_until_eof(s), b"-line too long\r\n")

    def test_incomplete_request(self):
        for partial in (b"ech", b"echo\r", b"e"):
            with self.subTest(partial=partial):
                self.assertEqual(self.d.exchange(partial, half_close=True),
                                 b"-incomplete request\r\n")

    def test_incomplete_request_after_delay(self):
        # The half-close arrives on its own, after the bytes were seen.
        s = self.sock(self.d)
        s.sendall(b"echo")
        self.accepted(self.d)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"-incomplete request\r\n")

    def test_half_close_before_any_byte(self):
        # No byte at all is still "before a full line".
        self.assertEqual(self.d.exchange(b"", half_close=True),
                         b"-incomplete request\r\n")

    def test_after_reject_server_closes(self):
        s = self.sock(self.d)
        s.sendall(b"nosuch\r\n")
        self.assertEqual(recv_until(s, b"\r\n"), b"-unknown service\r\n")
        self.assertEqual(recv_until_eof(s), b"")


class Help(DaemonTestCase):
    CONF = """
service "zulu" {
	command "/bin/true"
}
service "Alpha" {
	command "/bin/true"
}
service "secret" {
	command "/bin/true"
	visible no
}
service "mike" {
	command "/bin/true"
	visible yes
}
"""

    def test_help_lists_visible_sorted(self):
        d = self.start(config=self.CONF + "help on\n")
        want = b"alpha\r\nmike\r\nzulu\r\n"
        for line in (b"HELP\r\n", b"help\r\n", b"HeLp\n"):
            with self.subTest(line=line):
                self.assertEqual(d.exchange(line), want)

    def test_hidden_service_still_answers(self):
        d = self.start(config=self.CONF)
        self.assertEqual(d.exchange(b"secret\r\n"), b"+\r\n")
        self.assertNotIn(b"secret", d.exchange(b"help\r\n"))

    def test_help_with_pipelined_bytes(self):
        d = self.start(config=self.CONF)
        self.assertEqual(d.exchange(b"help\r\nmore bytes"),
                         b"alpha\r\nmike\r\nzulu\r\n")

    def test_help_off(self):
        d = self.start(config=self.CONF + "help off\n")
        self.assertEqual(d.exchange(b"HELP\r\n"), b"-help disabled\r\n")
        self.assertEqual(d.exchange(b"zulu\r\n"), b"+\r\n")

    def test_help_with_no_services(self):
        d = self.start(config="help on\n")
        self.assertEqual(d.exchange(b"help\r\n"), b"")


class Deadline(DaemonTestCase):
    CONF = 'timeout 500ms\nservice "echo" {\n\tcommand "/bin/cat"\n}\n'

    def test_silent_client(self):
        d = self.start(config=self.CONF)
        s = self.sock(d)
        t0 = time.monotonic()
        got = recv_until_eof(s, timeout=3)
        took = time.monotonic() - t0
        self.assertEqual(got, b"-timeout\r\n")
        self.assertGreaterEqual(took, 0.49)
        self.assertLess(took, 1.5)

    def test_dribbling_client_meets_the_same_deadline(self):
        # One byte every 100 ms: a per-read timer would never fire.
        d = self.start(config=self.CONF)
        s = self.sock(d)
        t0 = time.monotonic()
        for b in b"abcdefghijklmnopqrstuvwxyz" * 2:
            if readable(s, 0.1):        # answered: stop dribbling
                break
            try:
                s.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
        got = recv_until_eof(s, timeout=3)
        took = time.monotonic() - t0
        self.assertEqual(got, b"-timeout\r\n")
        self.assertGreaterEqual(took, 0.49)
        self.assertLess(took, 1.5)

    def test_line_before_deadline_is_served(self):
        d = self.start(config=self.CONF)
        s = self.sock(d)
        s.sendall(b"ec")
        self.assertFalse(readable(s, 0.2))
        s.sendall(b"ho\r\nlate")
        self.assertEqual(recv_exact(s, 7), b"+\r\nlate")

    def test_timeout_in_seconds(self):
        d = self.start(config='timeout 1\nservice "echo" {\n'
                              '\tcommand "/bin/cat"\n}\n')
        s = self.sock(d)
        t0 = time.monotonic()
        self.assertEqual(recv_until_eof(s, timeout=4), b"-timeout\r\n")
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.99)
        self.assertLess(took, 2.0)


class DeferAccept(DaemonTestCase):
    ON = 'defer-accept on\nservice "echo" {\n\tcommand "/bin/cat"\n}\n'

    def assertHeld(self, d, s):
        # Still a request the kernel holds once the handshake's last ACK
        # has long been through (a moment after connect, it is one
        # either way).
        time.sleep(0.3)
        self.assertEqual(server_side_state(d, s), "03")

    def assertAccepted(self, d, s):
        # At once: a held one would be let through only a second on.
        poll_until(lambda: server_side_state(d, s) == "01", 0.5,
                   what="the connection established on the server side")

    def test_held_by_the_kernel_until_the_first_bytes(self):
        d = self.start(config=self.ON)
        s = self.sock(d)
        self.assertHeld(d, s)
        s.sendall(b"echo\r\nfirst")
        self.assertEqual(recv_exact(s, 8), b"+\r\nfirst")
        self.assertAccepted(d, s)

    def test_off_by_default_and_by_a_reload(self):
        d = self.start(config=self.ON.split("\n", 1)[1])
        self.assertAccepted(d, self.sock(d))
        with open(d.conffile, "w") as f:
            f.write(self.ON)
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        self.assertHeld(d, self.sock(d))
        with open(d.conffile, "w") as f:
            f.write(self.ON.replace("on", "off", 1))
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=2)
        self.assertAccepted(d, self.sock(d))

    def test_a_silent_client_comes_a_second_late(self):
        # The kernel lets it through at its first SYN-ACK retransmission,
        # a second on; its timeout runs from then.
        d = self.start(config="timeout 500ms\n" + self.ON)
        s = self.sock(d)
        t0 = time.monotonic()
        self.assertEqual(recv_until_eof(s, timeout=5), b"-timeout\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)


class CrossTalk(DaemonTestCase):
    """One client's connection events must never be taken for another's."""

    def test_half_close_of_a_session_does_not_reject_a_waiting_client(self):
        d = self.start("-s", "hold=/bin/sleep 30", "-s", "echo=cat",
                       config="timeout 20\n")
        a = self.sock(d)
        a.sendall(b"hold\r\n")
        self.assertEqual(recv_exact(a, 3), b"+\r\n")
        # b arrives next, so it is given the bookkeeping slot a just left.
        b = self.sock(d)
        b.sendall(b"ec")
        self.accepted(d)
        # a's client half-closes its session with the program.
        a.shutdown(socket.SHUT_WR)
        self.assertFalse(readable(b, 0.5),
                         "b was answered %r though it did nothing"
                         % (b.recv(100) if readable(b) else b""))
        b.sendall(b"ho\r\nok")
        self.assertEqual(recv_exact(b, 5), b"+\r\nok")
