# SPDX-License-Identifier: ISC
"""
Implicit names in oneportd.conf: the largest configuration the grammar
allows ("match" rules and "proxy from" sources as many and as long as they
may be) reaches the frontend in one message while the daemon serves. The
grammar's own tests are in test_config.py and tests/config.
"""
import signal
import unittest

from harness import IS_ROOT, DaemonTestCase


def wmem_max():
    try:
        with open("/proc/sys/net/core/wmem_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def largest():
    """4096 services, each with a rule of the longest SNI and ALPN names
    (4096 rules), and 256 PROXY sources: about 2.3 MiB of IPC_CONFIG."""
    pad = "".join("." if (i + 1) % 64 == 0 else "a" for i in range(247))
    text = "".join("proxy from 10.%d.%d.0/24\n" % (i // 256, i % 256)
                   for i in range(256))
    text += "".join('service s%04d {\n\tcommand /bin/echo s%04d\n'
                    '\tmatch tls sni h%04d.%s alpn %0255d\n}\n'
                    % (i, i, i, pad, i) for i in range(4096))
    return text


@unittest.skipUnless(IS_ROOT or wmem_max() >= 4 << 20,
                     "the frontend's channel needs a send buffer of 3 MiB")
class Largest(DaemonTestCase):
    """The frontend checks the whole message (ipc_config_parse) and dies
    on a broken one; one that does not fit is never sent. Either way no
    name would be served."""

    def test_largest_config_reaches_the_frontend(self):
        # Loading 4096 services takes a while under ASan on a busy
        # machine: a generous bound, not a measure.
        d = self.start(config=largest(), wait=False)
        d.wait_listening(timeout=60)
        fe = d.frontend_pid()
        d.wait_log(r"started, 4096 services", timeout=60)
        for name in (b"s0000", b"s2048", b"s4095"):
            self.assertEqual(d.exchange(name + b"\r\n"),
                             b"+\r\n" + name + b"\n")
        # And again after a reload, which sends it once more.
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded: 4096 services", timeout=60)
        self.assertEqual(d.exchange(b"s4095\r\n"), b"+\r\ns4095\n")
        self.assertEqual(d.frontend_pid(), fe)
        self.assertIsNone(d.proc.poll())
        self.assertNotRegex(d.log_text(), r"frontend's names|send buffer")


if __name__ == "__main__":
    unittest.main()
