# SPDX-License-Identifier: ISC
"""
oneportd -n's diagnostics, exactly: one message per mistake, at the line
of the mistake, with file:line, "did you mean" for a misspelt keyword, a
hint to quote a keyword used as a value, and a real reason for a port
that is none.
"""
from harness import DaemonTestCase, run_daemon_n


class Diagnostics(DaemonTestCase):

    def errors(self, text, *args):
        """oneportd -n on text: its messages, "@" for the file's path."""
        path = self.script("oneportd.conf", text, 0o644)
        rc, out, err = run_daemon_n(["-n", "-f", path] + list(args))
        self.assertEqual(rc, 1, (out, err))
        self.assertNotIn("configuration OK", out)
        return err.replace(path, "@").splitlines()

    def test_typo_in_a_one_line_block_is_one_error(self):
        # Was three: the option, then the '}' and the next line.
        self.assertEqual(self.errors(
            'service "a" { comand "/bin/cat" }\n'
            'service "b" { command "/bin/cat" }\n'), [
            '@:1: unknown service option "comand" (did you mean '
            '"command"?)'])

    def test_misspelt_block_keyword_is_one_error(self):
        self.assertEqual(self.errors(
            'servce "a" {\n\tcommand "/bin/cat"\n\tuser nobody\n}\n'
            'timeout 5\n'), [
            '@:1: unknown keyword "servce" (did you mean "service"?)'])

    def test_each_mistake_at_its_line(self):
        self.assertEqual(self.errors(
            'timeout 5\nmax pendng 10\nservice a {\n\tcommand /bin/cat\n'
            '\tvisibel no\n\tmax instances -1\n}\nlisten on * port 1\n'
            'frobnicate\n'), [
            '@:2: syntax error: unexpected "pendng", expecting "pending" '
            'or "relays" (did you mean "pending"?)',
            '@:5: unknown service option "visibel" (did you mean '
            '"visible"?)',
            '@:6: max instances -1: out of range (0..1000000)',
            '@:9: unknown keyword "frobnicate"'])

    def test_keyword_as_value_is_told_to_quote(self):
        self.assertEqual(self.errors(
            'service a {\n\tcommand /bin/cat\n\tuser on\n}\n'), [
            '@:3: syntax error: unexpected "on", expecting a value '
            '("on" is a keyword: write \'on\' to use it as a value)'])

    def test_global_option_in_a_block(self):
        self.assertEqual(self.errors(
            'service a {\n\tcommand /bin/cat\n\tlisten on * port 1\n}\n'
            'command /bin/cat\n'), [
            '@:3: "listen" is not a service option',
            '@:5: "command" is not a global option'])

    def test_port_minus_one(self):
        self.assertEqual(self.errors(
            'listen on 127.0.0.1 port -1\n'
            'listen on 127.0.0.1 port no-such-port-name\n'), [
            '@:1: listen on 127.0.0.1 port -1: port out of range '
            '(0..65535)',
            '@:2: listen on 127.0.0.1 port no-such-port-name: not a port '
            'number or a TCP service name in /etc/services'])

    def test_service_errors_at_the_option_line(self):
        self.assertEqual(self.errors(
            'service a {\n\tcommand /bin/cat\n\n'
            '\tuser no-such-user-oneport\n\tgroup no-such-group-oneport\n'
            '}\n'), [
            '@:4: service "a": unknown user "no-such-user-oneport"',
            '@:5: service "a": unknown group "no-such-group-oneport"'])

    def test_option_from_defaults_at_its_line(self):
        self.assertEqual(self.errors(
            'defaults {\n\tuser no-such-user-oneport\n}\n'
            'service a {\n\tcommand /bin/cat\n}\n'), [
            '@:2: service "a": unknown user "no-such-user-oneport"'])

    def test_register_unknown_user_has_its_line(self):
        self.assertEqual(self.errors(
            'listen on 127.0.0.1 port 0\n'
            'control "%s/ctl.sock"\n\n'
            'register "x-*" user no-such-user-oneport\n' % self.tmp), [
            '@:4: register "x-*": unknown user "no-such-user-oneport"'])
