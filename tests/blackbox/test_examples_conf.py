# SPDX-License-Identifier: ISC
"""
The example configurations of examples/ are what a reader copies: each
must be one that oneportd -n accepts, and examples/names.conf (the
README's recipe) must keep its implicit names and its balancer.
"""
import glob
import os
import re
import shutil
import unittest

import harness
from harness import make_tmpdir, run_daemon_n

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "examples")


class ExampleConfigs(unittest.TestCase):

    def setUp(self):
        if not os.access(harness.DAEMON, os.X_OK):
            self.fail("no daemon at %s (set ONEPORTD)" % harness.DAEMON)
        self.tmp = make_tmpdir()
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def here(self, path):
        """A copy of example path in which a program this machine lacks
        (the reader's exim4, say) is /bin/cat: -n checks programs."""
        with open(path) as f:
            text = f.read()
        copy = os.path.join(self.tmp, os.path.basename(path))
        with open(copy, "w") as f:
            f.write(re.sub(r'(?m)^(\s*command\s+)"(/[^"]+)"',
                           lambda m: m.group(0) if os.path.exists(m.group(2))
                           else m.group(1) + '"/bin/cat"', text))
        return copy

    def test_every_example_loads(self):
        files = sorted(glob.glob(os.path.join(EXAMPLES, "*.conf")))
        self.assertGreaterEqual(len(files), 2)
        for path in files:
            with self.subTest(file=os.path.basename(path)):
                rc, out, err = run_daemon_n(["-n", "-f", self.here(path)])
                self.assertEqual(rc, 0, err)

    def test_names_conf_rules(self):
        rc, out, err = run_daemon_n(
            ["-nv", "-f", self.here(os.path.join(EXAMPLES, "names.conf"))])
        self.assertEqual(rc, 0, err)
        for line in ('match tls alpn "acme-tls/1"', "match tls\n",
                     "match ssh\n", "match silence 2000ms\n",
                     "proxy from 10.0.0.1/32\n"):
            self.assertIn(line, out)


if __name__ == "__main__":
    unittest.main()
