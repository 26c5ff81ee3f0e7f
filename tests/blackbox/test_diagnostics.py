# SPDX-License-Identifier: ISC
"""
oneportd -n's diagnostics, exactly: one message per mistake, at the line
of the mistake, with file:line, "did you mean" for a misspelt keyword, a
hint to quote a keyword used as a value, and a real reason for a port
that is none.

-n checks on the system what a start would trip over (programs, chdir
directories, the frontend's user and chroot, the file's owner and mode);
a start with any of them fails with the same messages, exit 1, before
it detaches.
"""
import os
import subprocess
import unittest

from harness import DAEMON, IS_ROOT, DaemonTestCase, run_daemon_n


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


class SystemChecks(DaemonTestCase):

    def errors(self, text, *args):
        path = self.script("oneportd.conf", text, 0o644)
        rc, out, err = run_daemon_n(["-n", "-f", path] + list(args))
        self.assertEqual(rc, 1, (out, err))
        return err.replace(path, "@").replace(self.tmp, "%").splitlines()

    def test_programs_and_directories(self):
        self.script("text", "not a program\n", 0o644)
        self.assertEqual(self.errors(
            'service a {\n\tcommand "%s/none"\n\tchdir "%s/none"\n}\n'
            'defaults {\n\tchdir "%s/text"\n}\n'
            'service b {\n\tcommand "%s/text"\n}\n'
            % ((self.tmp,) * 4)), [
            '@:2: service "a": command %/none: No such file or directory',
            '@:3: service "a": chdir %/none: No such file or directory',
            '@:9: service "b": command %/text: not an executable file',
            '@:6: service "b": chdir %/text: not a directory'])

    @unittest.skipUnless(IS_ROOT, "the frontend drops privileges as root")
    def test_frontend_user_and_chroot(self):
        root = os.path.join(self.tmp, "empty")
        os.mkdir(root, 0o755)
        os.chown(root, 65534, -1)
        self.assertEqual(self.errors(
            'listen on 127.0.0.1 port 0\nuser root\nchroot "%s"\n'
            'service a { command /bin/cat }\n' % root), [
            '@:2: user root: the frontend must not run as root',
            '@:3: chroot %/empty: must be owned by root and writable by no '
            'one else (owner uid 65534, mode 0755)'])
        os.chown(root, 0, -1)
        os.chmod(root, 0o777)
        self.assertEqual(self.errors(
            'listen on 127.0.0.1 port 0\n\nuser no-such-user-oneport\n'
            'chroot "%s"\nservice a { command /bin/cat }\n' % root), [
            '@:3: user no-such-user-oneport: no such user',
            '@:4: chroot %/empty: must be owned by root and writable by no '
            'one else (owner uid 0, mode 0777)'])

    def test_file_owner_and_mode(self):
        path = self.script("oneportd.conf", "service a { command /bin/cat }\n",
                           0o646)
        rc, out, err = run_daemon_n(["-n", "-f", path])
        self.assertEqual((rc, err), (1, "%s: writable by others: refused\n"
                                     % path))
        if IS_ROOT:
            os.chmod(path, 0o644)
            os.chown(path, 65534, -1)
            rc, out, err = run_daemon_n(["-n", "-f", path])
            self.assertEqual((rc, err), (1, "%s: owned by uid 65534, not by "
                                         "root: refused\n" % path))

    def test_failed_start_exits_before_detaching(self):
        # Without -d: the same messages on our stderr, exit 1, and no
        # daemon left behind (it never got as far as forking).
        path = self.script("oneportd.conf", 'listen on 127.0.0.1 port 0\n'
                           'service a {\n\tcommand "%s/none"\n}\n'
                           % self.tmp, 0o644)
        p = subprocess.run([DAEMON, "-f", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        self.assertEqual((p.returncode, p.stdout.decode(),
                          p.stderr.decode()),
                         (1, "", '%s:3: service "a": command %s/none: No '
                          'such file or directory\n' % (path, self.tmp)))


class IncludePattern(DaemonTestCase):
    """include "PATTERN": glob(3), relative to the including file, read in
    the byte order of the names, each file checked like the top one."""

    def tree(self, files):
        for name, text in files.items():
            path = os.path.join(self.tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.script(name, text, 0o644)
        return os.path.join(self.tmp, "main.conf")

    def n(self, path, *args):
        rc, out, err = run_daemon_n([*args, "-f", path])
        return rc, out, err.replace(self.tmp, "%")

    def test_files_in_sorted_order(self):
        # The second declaration is the error: 20-b is read after 10-a,
        # whatever order the directory lists them in.
        path = self.tree({
            "main.conf": 'include "conf.d/*.conf"\n',
            "conf.d/20-b.conf": '\nservice x { command /bin/cat }\n',
            "conf.d/10-a.conf": 'service x { command /bin/cat }\n'})
        self.assertEqual(self.n(path, "-n"), (1, "", (
            '%/conf.d/20-b.conf:2: duplicate service "x" (first declared '
            'at %/conf.d/10-a.conf:1)\n')))

    def test_services_of_every_file_answer(self):
        path = self.tree({
            "main.conf": 'defaults { max instances 3 }\n'
                         'include "conf.d/*.conf"\ninclude "none.d/*.conf"\n'
                         'service main { command /bin/echo main }\n',
            "conf.d/a.conf": 'service a { command /bin/echo a }\n',
            "conf.d/b.conf": 'service b { command /bin/echo b }\n',
            "conf.d/README": 'not a config\n'})
        rc, out, err = self.n(path, "-nv")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("max instances 3\n"), 3, out)
        # -nv prints one file, with the includes' services in it, that
        # reads back as the same configuration.
        back = self.script("back.conf", out.replace("configuration OK\n",
                                                    ""), 0o644)
        self.assertEqual(self.n(back, "-nv"), (0, out, ""))
        d = self.start(conffile=path)
        for name in (b"a", b"b", b"main"):
            self.assertEqual(d.exchange(name + b"\r\n"), b"+\r\n" + name +
                             b"\n")

    def test_each_file_checked_and_named(self):
        path = self.tree({
            "main.conf": 'timeout 5\ninclude "conf.d/*"\n',
            "conf.d/1-bad.conf": 'service a {\n\tcomand /bin/cat\n}\n',
            "conf.d/2-open.conf": 'service b { command /bin/cat }\n',
            "conf.d/3-loop.conf": 'include "../main.conf"\n'})
        os.chmod(os.path.join(self.tmp, "conf.d/2-open.conf"), 0o666)
        self.assertEqual(self.n(path, "-n"), (1, "", (
            '%/conf.d/1-bad.conf:2: unknown service option "comand" (did '
            'you mean "command"?)\n'
            '%/main.conf:2: %/conf.d/2-open.conf: writable by others: '
            'refused\n'
            '%/conf.d/3-loop.conf:1: include loop: %/conf.d/../main.conf is '
            'already being read\n')))

    def test_nesting_is_bounded(self):
        files = {"main.conf": 'include "d1/*.conf"\n'}
        for i in range(1, 10):
            files["d%d/x.conf" % i] = ('include "%s/d%d/*.conf"\n'
                                       % (self.tmp, i + 1))
        files["d10/x.conf"] = "timeout 5\n"
        self.assertEqual(self.n(self.tree(files), "-n"), (1, "", (
            '%/d8/x.conf:1: include "%/d9/x.conf": nested more than 8 '
            'deep\n')))
        # Eight deep is allowed.
        os.unlink(os.path.join(self.tmp, "d9/x.conf"))
        self.assertEqual(self.n(os.path.join(self.tmp, "main.conf"), "-n"),
                         (0, "configuration OK\n", ""))
