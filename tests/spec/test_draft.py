# SPDX-License-Identifier: ISC
"""
The draft as a document: it passes docs/check-draft.sh, it is what
docs/mkdraft.py makes of its source, the checker finds each kind of fault
it claims to find, and the example notation is read strictly.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import spec_examples
from spec_examples import SpecError

DOCS = spec_examples.DOCS
CHECKER = os.path.join(DOCS, "check-draft.sh")
MKDRAFT = os.path.join(DOCS, "mkdraft.py")


def check(path):
    p = subprocess.run(["sh", CHECKER, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("ascii", "replace") + \
        p.stderr.decode("ascii", "replace")


def registered_reasons(text):
    """The first column of the registry's tables: a cell may wrap onto
    the lines below it, up to the rule that ends its row."""
    out, cell = [], []
    for line in text.split("\n"):
        if line.startswith("   +-"):
            if cell and cell != ["Reason String"]:
                out.append(" ".join(cell))
            cell = []
        elif line.startswith("   | "):
            first = line.split("|")[1].strip()
            if first:
                cell.append(first)
    return out


class DraftPasses(unittest.TestCase):

    def test_checker_passes(self):
        rc, out = check(spec_examples.draft_path())
        self.assertEqual((rc, out), (0, ""))

    def test_text_is_generated_from_source(self):
        p = subprocess.run(["python3", MKDRAFT, "--check",
                            spec_examples.SOURCE, spec_examples.draft_path()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_every_reason_is_registered(self):
        # Every reason of Section 6 is in the IANA tables of Section 14.2,
        # and the other way round.
        text = spec_examples.read_draft()
        sec6 = text[text.index("\n6.  Reason Strings\n"):
                    text.index("\n7.  State Machine")]
        listed = set(re.findall(r"^   ([a-z][a-z ]+[a-z])\n      \S",
                                sec6, re.M))
        iana = text[text.index("\n14.2.  "):
                    text.index("\n15.  References\n")]
        registered = set(registered_reasons(iana))
        self.assertEqual(listed, registered)
        self.assertGreaterEqual(len(listed), 19)


class ApplicationPasses(unittest.TestCase):
    """The IANA application beside the draft names no machine's paths."""

    APP = os.path.join(DOCS, "iana-port-application.md")

    def test_application_passes(self):
        rc, out = check(self.APP)
        self.assertEqual((rc, out), (0, ""))

    def test_machine_path_found(self):
        with open(self.APP, encoding="utf-8") as f:
            text = f.read()
        tmp = tempfile.mkdtemp(prefix="oneport-spec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "app.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("IANA's web form", "the form (kept at "
                                 "`/home/someone/form.txt`)", 1))
        rc, out = check(path)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"app\.md:\d+: names a path of a particular "
                         r"machine")


class CheckerFindsFaults(unittest.TestCase):
    """Each kind of fault, made in a copy of the draft, is reported."""

    @classmethod
    def setUpClass(cls):
        with open(spec_examples.draft_path(), encoding="ascii") as f:
            cls.text = f.read()
        cls.tmp = tempfile.mkdtemp(prefix="oneport-spec-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def fault(self, old, new, message, count=1):
        self.assertTrue(old in self.text, "%r is no longer in the draft; "
                        "pick another place for this fault" % old)
        bad = self.text.replace(old, new, count)
        path = os.path.join(self.tmp, "draft.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(bad)
        rc, out = check(path)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"draft\.txt:\d+: .*" + message)

    def test_long_line(self):
        self.fault("\n   A TCP server", "\n   A TCP server" + "x" * 60,
                   "at most 72")

    def test_non_ascii(self):
        self.fault("scarce resource", "scarce r\u00e9source", "non-ASCII")

    def test_tab(self):
        self.fault("\n   A TCP server", "\n\tA TCP server", "tab")

    def test_trailing_space(self):
        self.fault("needs a port\n", "needs a port \n", "trailing white")

    def test_carriage_return(self):
        self.fault("needs a port\n", "needs a port\r\n", "carriage return")

    def test_page_too_long(self):
        self.fault("\n1.1.  The Problem\n", "\n1.1.  The Problem\n\n\n",
                   "at most 58")

    def test_missing_header(self):
        header = self.text.split("\f\n")[1].split("\n")[0]
        self.fault("\f\n" + header + "\n", "\f\n\n", "no header line")

    def test_missing_footer(self):
        footer = re.search(r"\n(.*\[Page 5\])\n", self.text).group(1)
        self.fault(footer, "", "no footer line")

    def test_wrong_page_number(self):
        self.fault("[Page 5]", "[Page 6]", "this is page 5")

    def test_required_section(self):
        self.fault("\nAbstract\n", "\nSummary\n", 'no section "Abstract"')

    def test_security_considerations(self):
        self.fault("  Security Considerations\n", "  Safety\n",
                   'no section "Security Considerations"', count=2)

    def test_iana_considerations(self):
        self.fault("  IANA Considerations", "  Registries",
                   'no section "IANA Considerations"', count=2)

    def test_bcp14_boilerplate(self):
        self.fault("when, and only when, they appear", "when they appear",
                   "boilerplate is missing")

    def test_toc_entry_without_heading(self):
        self.fault("\n9.5.  Examples\n", "\n9.5.  Sample Exchanges\n",
                   "is not a heading in the body")

    def test_toc_page_number(self):
        m = re.search(r"(Reading the Request Line[ .]+ )(\d+)\n", self.text)
        self.fault(m.group(0), m.group(1) + "99\n", "ToC says page 99")

    def test_section_numbering(self):
        self.fault("\n7.5.  Replies and Closing\n",
                   "\n7.6.  Replies and Closing\n", "expected 7.5.")

    def test_undefined_citation(self):
        self.fault("[RFC7805]", "[RFC9999]",
                   r"citation \[RFC9999\] has no entry")

    def test_abnf_undefined_rule(self):
        self.fault('*( "-" name-part )', '*( "-" name-piece )',
                   "ABNF rule name-piece is used but not defined")

    def test_abnf_unused_rule(self):
        self.fault("( service-request / help-request / query )",
                   "( service-name / help-request / query )",
                   "ABNF rule service-request is defined but never used")

    def test_implementation_note(self):
        self.fault("   Example help:\n", "   Example help (implemented):\n",
                   "implementation note outside the Implementation Status")

    def test_implementation_named(self):
        self.fault("   The octets after the LF are not part",
                   "   oneportd: the octets after the LF are not part",
                   "implementation note outside the Implementation Status")

    def test_machine_path(self):
        self.fault("needs a port\n", "needs a port in /home/me/x\n",
                   "names a path of a particular machine")

    def test_unused_reference(self):
        self.fault("[RFC1833] is a rendezvous", "is a rendezvous",
                   r"reference \[RFC1833\] is never cited")


class NotationIsStrict(unittest.TestCase):
    """The example reader refuses what Section 2.3 does not define, so a
    typo in the draft fails the suite instead of testing nothing."""

    def parse(self, body, head="   Example x:\n\n"):
        return spec_examples.parse_examples(head + body)

    def rejects_all(self, bad):
        """Each {what: body} is refused."""
        for what, body in bad.items():
            with self.subTest(what=what):
                with self.assertRaises(SpecError):
                    self.parse(body)

    def test_reads_a_good_example(self):
        (ex,) = self.parse("      C: echo<CRLF><%x00>\n      S: +<CRLF>\n"
                           "      C: <half-close>\n      S: <close>\n")
        self.assertTrue(ex.implemented)
        self.assertEqual(ex.steps[0].literal(), b"echo\r\n\x00")
        self.assertEqual(ex.steps[2].event, "half-close")

    def test_variables(self):
        (ex,) = self.parse("      C1: files<CRLF>\n"
                           "      S1: @{port} token={token}<CRLF>\n"
                           "      C2: <connect {port}>\n"
                           "      C2: {token}<CRLF>\n      S2: <close>\n",
                           head="   Example y (one pending in all):\n\n")
        self.assertTrue(ex.implemented)
        self.assertEqual(ex.condition, "one pending in all")
        m = ex.steps[1].pattern({}).fullmatch(
            b"@49152 token=0123456789abcdef0123\r\n")
        self.assertEqual(m.group("port"), b"49152")
        self.assertEqual(ex.steps[3].render({"token": b"t" * 16}),
                         b"t" * 16 + b"\r\n")

    def test_rejects(self):
        bad = {
            "unknown notation": "      C: echo<CR><NUL>\n      S: +\n",
            "unknown variable": "      C: echo<CRLF>\n      S: {pid}<LF>\n",
            "variable before bound": "      C: {token}<CRLF>\n"
                                     "      S: <close>\n",
            "no server": "      C: echo<CRLF>\n",
            "mixed labels": "      C: echo<CRLF>\n      S1: +<CRLF>\n",
            "server first": "      S: +<CRLF>\n      C: echo<CRLF>\n",
            "client closes": "      C: echo<CRLF>\n      C: <close>\n"
                             "      S: +<CRLF>\n",
        }
        self.rejects_all(bad)

    def test_reads_a_channel_example(self):
        (ex,) = self.parse('      P: REGISTER id=7 name=chat\n'
                           '      R: REGISTERED id=7 status=1 '
                           'reason="name taken"\n'
                           '      C: chat<CRLF>\n'
                           '      R: HANDOFF id={id} name=chat\n'
                           '      P: ACK id={id} status=0 reason=""\n'
                           '      P: <close>\n      R: <close>\n')
        reg, answer, _, handoff, ack, close, end = ex.steps
        self.assertEqual((reg.message, reg.fields),
                         ("REGISTER", {"id": "7", "name": "chat"}))
        self.assertEqual(answer.fields["reason"], "name taken")
        self.assertEqual(handoff.variables, ["id"])
        self.assertEqual(ack.value("id", {"id": b"12"}), "12")
        self.assertEqual((close.event, end.event), ("close", "close"))

    def test_rejects_bad_channel_lines(self):
        bad = {
            "unknown message": "      P: HELLO id=1\n      R: <close>\n",
            "unknown field": "      P: REGISTER id=1 name=a port=2\n"
                             "      R: <close>\n",
            "field missing": "      P: REGISTER id=1\n      R: <close>\n",
            "server waits": "      P: REGISTER id=1 name=a\n"
                            "      R: <wait>\n",
            "server first": "      R: GO id=1\n      P: <close>\n",
            "unbound id": "      P: ACK id={id} status=0 reason=\"\"\n"
                          "      R: <close>\n",
        }
        self.rejects_all(bad)

    def test_rejects_bad_heading(self):
        for head in ("   Example x (done)\n", "   Example X:\n"):
            with self.subTest(head=head):
                with self.assertRaises(SpecError):
                    spec_examples.parse_examples(
                        head + "\n      C: a<CRLF>\n      S: +\n")

    def test_pending_from_section_11(self):
        text = ("11.  Implementation Status\n\n   oneportd does not yet "
                "perform these\n   examples: x, y-z.\n\n12.  Security\n"
                "   Example x:\n\n      C: a<CRLF>\n      S: +<CRLF>\n\n"
                "   Example w:\n\n      C: a<CRLF>\n      S: +<CRLF>\n")
        x, w = spec_examples.parse_examples("\n" + text)
        self.assertFalse(x.implemented)
        self.assertTrue(w.implemented)

    def test_pending_across_a_page_break(self):
        text = ("\n11.  Implementation Status\n\n   oneportd does not yet "
                "perform these\n   examples: x,\n\n[AUTHOR NAME]  Expires "
                "May 26, 2027  [Page 40]\n\f\nInternet-Draft  oneport  "
                "November 2026\n\n\n   y-z.\n\n12.  Security\n")
        self.assertEqual(spec_examples.pending_labels(text), {"x", "y-z"})

    def test_rejects_duplicate_label(self):
        one = "   Example x:\n\n      C: a<CRLF>\n" \
              "      S: +<CRLF>\n\n"
        with self.assertRaises(SpecError):
            spec_examples.parse_examples(one + one)


if __name__ == "__main__":
    unittest.main()
