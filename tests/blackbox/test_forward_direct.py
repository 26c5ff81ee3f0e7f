# SPDX-License-Identifier: ISC
"""forward, the frontend's own way to the relay: a client of a forward
service under no access list goes from the frontend straight to the
relay (the socket the parent lent it), so the parent never touches it and
hears of it only from the relay (STARTED, then DONE), while it still
logs it, counts it against the caps and sees it through a relay's death
and a drain (test_forward's reload test: its session is now one of these).
Stopping the parent (SIGSTOP) tells the two ways apart: a client that
still gets its "+" did not go by the parent."""

import os
import re
import signal
import socket
import time

from harness import (IO_TIMEOUT, children_of, cpu_ticks, proc_comm,
                     recv_exact, recv_until_eof)
from test_forward import EpollEcho, ForwardTestCase, echo, relay_pid


class Direct(ForwardTestCase):

    def stopped(self, d, name="fwd"):
        """The parent stopped, once a client of name was served: the
        relay is ready and the parent has lent the frontend its socket
        and sent the relay its table (the same handler as the READY, or
        the reload, before any client after it)."""
        pat = r"service=%s result=\+ " % name
        n = sum(1 for l in d.log_lines() if re.search(pat, l))
        w = d.connect()
        w.sendall(b"%s\r\n" % name.encode())
        self.assertEqual(recv_exact(w, 3), b"+\r\n")
        w.close()
        # Ended, so it holds no instance.
        d.wait_log(pat, count=n + 1)
        os.kill(d.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, d.pid, signal.SIGCONT)

    def test_served_while_the_parent_is_stopped(self):
        b = self.backend(echo)
        d = self.forwarding(b.port)
        relay_pid(d)
        self.stopped(d)
        s = self.sock(d)
        s.sendall(b"fwd\r\nxy")
        self.assertEqual(recv_exact(s, 5), b"+\r\nxy")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"")
        port = s.getsockname()[1]
        os.kill(d.pid, signal.SIGCONT)
        # The parent's line, as for any relayed client: the peer is the
        # socket's own, the bytes each way.
        line = self.conn_line(d, "fwd", count=2)[1]
        self.assertIn("conn peer=127.0.0.1:%d service=fwd result=+ " % port,
                      line)
        self.assertIn(" in=2 out=2 ", line)

    def waits_for_the_parent(self, **kw):
        """The relay checks no access list: such a service's clients wait
        for the parent, which does."""
        b = self.backend(echo)
        d = self.forwarding(b.port, **kw)
        relay_pid(d)
        self.stopped(d)
        s = self.sock(d)
        s.settimeout(0.5)
        s.sendall(b"fwd\r\nx")
        with self.assertRaises(socket.timeout):
            s.recv(1)
        os.kill(d.pid, signal.SIGCONT)
        s.settimeout(IO_TIMEOUT)
        self.assertEqual(recv_exact(s, 4), b"+\r\nx")

    def test_an_access_list_keeps_its_clients_with_the_parent(self):
        self.waits_for_the_parent(extra="\tallow 127.0.0.1\n")

    def test_a_global_access_list_too(self):
        self.waits_for_the_parent(more="deny 10.0.0.0/8\n")

    def test_the_caps_count_them(self):
        # Both clients go straight to the relay, which keeps the caps.
        b = self.backend(echo)
        d = self.forwarding(b.port, extra="\tmax instances 2\n")
        relay_pid(d)
        self.stopped(d)
        held = []
        for _ in range(2):
            s = self.sock(d)
            s.sendall(b"fwd\r\n")
            self.assertEqual(recv_exact(s, 3), b"+\r\n")
            held.append(s)
        t = self.sock(d)
        t.sendall(b"fwd\r\n")
        # Refused in the relay; the parent, stopped, says it in TCPMUX.
        os.kill(d.pid, signal.SIGCONT)
        self.assertEqual(recv_until_eof(t), b"-service busy\r\n")
        held[0].close()
        d.wait_log(r"service=fwd result=\+ ", count=2)
        u = self.relayed(d, b"z")

    def test_a_live_session_is_logged_when_the_relay_dies(self):
        b = self.backend(echo)
        d = self.forwarding(b.port)
        pid = relay_pid(d)
        s = self.relayed(d)
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(recv_until_eof(s), b"")
        self.assertIn("result=-relay lost", self.conn_line(d, "fwd")[-1])
        d.wait_log(r"relay ready, pid \d+", count=2)
        # The new relay has the frontend's new socket, and its table.
        self.stopped(d)
        t = self.relayed(d, b"y")

    def test_a_reload_that_adds_a_service_updates_the_table(self):
        b = self.backend(echo)
        d = self.forwarding(b.port)
        old = relay_pid(d)
        with open(d.conffile, "w") as f:
            f.write("service fwd {\n\tforward to 127.0.0.1 port %d\n}\n"
                    "service more {\n\tforward to 127.0.0.1 port %d\n}\n"
                    % (b.port, b.port))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded")
        # The same backend: the same relay, with a new table.
        self.assertEqual(relay_pid(d), old)
        self.stopped(d, "more")
        s = self.sock(d)
        s.sendall(b"more\r\nq")
        self.assertEqual(recv_exact(s, 4), b"+\r\nq")

    def test_past_the_tables_size_by_the_parent(self):
        # 600 forward services: the relay's table holds the first 512
        # (FWDTAB_MAX) by name; the others' clients go by the parent.
        b = self.backend(echo)
        conf = "".join("service f%03d {\n\tforward to 127.0.0.1 port %d\n}\n"
                       % (i, b.port) for i in range(600))
        d = self.start(config=conf)
        relay_pid(d)
        self.stopped(d, "f000")
        s = self.sock(d)
        s.sendall(b"f511\r\na")
        self.assertEqual(recv_exact(s, 4), b"+\r\na")
        t = self.sock(d)
        t.settimeout(0.5)
        t.sendall(b"f512\r\nb")
        with self.assertRaises(socket.timeout):
            t.recv(1)
        os.kill(d.pid, signal.SIGCONT)
        t.settimeout(IO_TIMEOUT)
        self.assertEqual(recv_exact(t, 4), b"+\r\nb")

    def test_clients_past_a_full_channel_wait_and_are_served(self):
        # The parent stopped, so many clients come that their STARTEDs
        # fill the relay's channel (some 2,700 fill its 2 MiB): those
        # past it wait (the relay reads no more of the frontend's socket,
        # and the frontend's next clients go by the parent) and none is
        # closed unanswered. Each is served once the parent reads again.
        n = 3200
        b = EpollEcho()
        self.addCleanup(b.close)
        d = self.forwarding(b.port, extra="\tmax instances %d\n"
                            "\tmax per-address 0\n" % (n + 10),
                            more="max relays %d\nmax pending %d\n"
                            % (n + 10, n + 10), nofile=20000)
        relay_pid(d)
        self.stopped(d)
        socks = self.numbered_clients(d, n)
        time.sleep(1)
        os.kill(d.pid, signal.SIGCONT)
        for i, c in enumerate(socks):
            want = b"+\r\n%d," % i
            self.assertEqual(self.answer(c, want), want,
                             "client %d of %d" % (i, n))
        # Each logged once it ends: its STARTED came before its DONE.
        for c in socks:
            c.close()

        def kick():
            t = d.connect()
            t.sendall(b"nosuch\r\n")
            recv_until_eof(t)
            t.close()
        self.wait_logged(d, "service=fwd result=+ ", n + 1, kick=kick,
                         timeout=30)
        self.assertFalse([l for l in d.log_lines() if re.search(
            r"a client dropped|was lost|done for no connection|bad or "
            r"busy id|uncounted|from relay", l)])

    def test_max_relays_past_the_descriptor_limit_is_said(self):
        b = self.backend(echo)
        d = self.forwarding(b.port, more="max relays 5000\n", nofile=1024)
        d.wait_log(r"max relays 5000 is more than the descriptor limit "
                   r"holds \(160 at 6 a connection\)")
        s = self.relayed(d)

    def test_no_spin_while_dones_wait_and_the_frontend_dies(self):
        # The parent stopped, sessions end until their DONEs fill the
        # relay's channel (test_forward's stalled-parent test): the lent
        # socket is out of the relay's epoll set then, so the frontend's
        # death (its end closed) wakes nothing until the parent reads.
        d, relay = self.dones_waiting(3000, before=relay_pid)
        try:
            front = [k for k in children_of(d.pid)
                     if proc_comm(k) == "oneportd-front"][0]
            os.kill(front, signal.SIGKILL)
            before = cpu_ticks(relay)
            time.sleep(1)
            spent = cpu_ticks(relay) - before
        finally:
            os.kill(d.pid, signal.SIGCONT)
        self.assertLess(spent, 20, "the relay used %d ticks of 100 in a "
                        "second with nothing to do" % spent)
        d.wait_log(r"frontend ready, pid \d+", timeout=30)


