# SPDX-License-Identifier: ISC
"""
spec_examples.py: reads the example exchanges out of the Internet-Draft
(docs/draft-oneport-rendezvous-00.txt), in the notation its Section 2.3
defines, and turns each step into bytes to send, bytes or a pattern to
expect, or an event. Pure parsing: no sockets, no daemon.

An example in the draft looks like this:

   Example plus:

      C: echo<CRLF>
      S: +<CRLF>
      C: <half-close>
      S: <close>
"""
import glob
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DOCS = os.path.join(REPO, "docs")
SOURCE = os.path.join(DOCS, "draft-oneport-rendezvous.in")


def draft_path():
    """The newest revision of the draft in docs/."""
    found = sorted(glob.glob(os.path.join(DOCS,
                                          "draft-oneport-rendezvous-*.txt")))
    if not found:
        raise SpecError("no docs/draft-oneport-rendezvous-NN.txt")
    return found[-1]


IMPLEMENTED = "implemented"
PENDING = "not yet implemented"

# "Example LABEL:" or "Example LABEL (condition; condition):". Whether the
# implementation performs an example is said in Section 11 alone (the
# draft keeps implementation notes there): "does not yet perform these
# examples: a, b." lists those it does not.
HEAD_RE = re.compile(r"^   Example ([a-z0-9][a-z0-9-]*)"
                     r"(?: \(([^)]+)\))?:$")
LOOSE_HEAD_RE = re.compile(r"^\s*Example \S+(?: \(.*|:)$")
PENDING_RE = re.compile(r"does not yet perform these examples:\s+"
                        r"([a-z0-9,\s-]+)\.")
PAGE_LINE_RE = re.compile(r"^\f?(Internet-Draft  .*|.*  \[Page [0-9]+\])$")
STEP_RE = re.compile(r"^      ([CSPR])([0-9]*): (.*)$")
TOKEN_RE = re.compile(r"<CRLF>|<CR>|<LF>|<%x([0-9A-Fa-f]{2})>|\{([a-z]+)\}"
                      r"|<[^>]*>|[^<{]+|[<{]")

# What a {name} in a server line may stand for (draft Sections 2.3, 4.5,
# 4.7).
VARIABLE_RE = {
    "port": rb"[1-9][0-9]{0,4}",
    "token": rb"[A-Za-z0-9_-]{16,64}",
    "id": rb"[0-9]+",
    "id2": rb"[0-9]+",
}

# Appendix A.6: "P: MESSAGE field=value ..." (the program sends it on
# its channel) and "R: MESSAGE field=value ..." (it receives it). A
# value is a bare word, a quoted string or a {variable}.
MESSAGES = {
    "HANDOFF": ("id", "name", "family", "peer-port", "local-port",
                "preread"),
    "ACCEPT": ("id",),
    "ACK": ("id", "status", "reason"),
    "GO": ("id",),
    "REGISTER": ("id", "name"),
    "REGISTERED": ("id", "status", "reason"),
    "REGISTER_PORT": ("id", "name", "port"),
}
FIELD_RE = re.compile(r' ([a-z-]+)=(?:"([ !#-~]*)"|\{([a-z0-9]+)\}'
                      r'|([A-Za-z0-9-]+))')

EVENTS = ("connect", "half-close", "wait", "close")


class SpecError(Exception):
    """The draft's examples do not follow the notation of Section 2.3."""


class Step:
    """One line of an example.

    who: "C" or "S"; conn: the connection label ("" or "1", "2", ...);
    event: None, or "connect", "half-close", "wait", "close"; target: for
    "connect {port}", the variable name; parts: for data, a list of bytes
    and ("var", name) items, in order.
    """

    def __init__(self, who, conn, text, lineno):
        self.who = who
        self.conn = conn
        self.text = text
        self.lineno = lineno
        self.event = None
        self.target = None
        self.parts = []
        self._parse()

    def _parse(self):
        if self.who in "PR":
            self._parse_message()
            return
        m = re.fullmatch(r"<(connect|half-close|wait|close)"
                         r"(?: \{([a-z]+)\})?>", self.text)
        if m:
            self.event = m.group(1)
            self.target = m.group(2)
            if self.target is not None and self.event != "connect":
                raise SpecError("line %d: only <connect> takes a port"
                                % self.lineno)
            if (self.who == "C") != (self.event != "close"):
                raise SpecError("line %d: <%s> is not a %s: event"
                                % (self.lineno, self.event, self.who))
            return
        pos = 0
        for t in TOKEN_RE.finditer(self.text):
            if t.start() != pos:
                raise SpecError("line %d: cannot read %r"
                                % (self.lineno, self.text[pos:]))
            pos = t.end()
            s = t.group(0)
            if s == "<CRLF>":
                self._add(b"\r\n")
            elif s == "<CR>":
                self._add(b"\r")
            elif s == "<LF>":
                self._add(b"\n")
            elif t.group(1):
                self._add(bytes([int(t.group(1), 16)]))
            elif t.group(2):
                if t.group(2) not in VARIABLE_RE:
                    raise SpecError("line %d: unknown variable {%s}"
                                    % (self.lineno, t.group(2)))
                self.parts.append(("var", t.group(2)))
            elif s.startswith("<") and len(s) > 1:
                raise SpecError("line %d: unknown notation %s"
                                % (self.lineno, s))
            else:
                self._add(s.encode("ascii"))
        if pos != len(self.text) or not self.parts:
            raise SpecError("line %d: empty or unreadable step %r"
                            % (self.lineno, self.text))

    def _parse_message(self):
        """A message of the local channel, or <close> (P: and R:) or
        <wait> (P: only)."""
        self.message = None
        self.fields = {}
        m = re.fullmatch(r"<(close|wait)>", self.text)
        if m:
            if self.who == "R" and m.group(1) != "close":
                raise SpecError("line %d: R: <%s> is not an event of the "
                                "server" % (self.lineno, m.group(1)))
            self.event = m.group(1)
            return
        m = re.match(r"([A-Z_]+)", self.text)
        if not m or m.group(1) not in MESSAGES:
            raise SpecError("line %d: unknown message %r"
                            % (self.lineno, self.text))
        self.message = m.group(1)
        rest = self.text[m.end():]
        pos = 0
        for f in FIELD_RE.finditer(rest):
            if f.start() != pos:
                break
            pos = f.end()
            name = f.group(1)
            if name not in MESSAGES[self.message] or name in self.fields:
                raise SpecError("line %d: %s has no field %s, or has it "
                                "twice" % (self.lineno, self.message, name))
            if f.group(3) is not None:
                if f.group(3) not in VARIABLE_RE:
                    raise SpecError("line %d: unknown variable {%s}"
                                    % (self.lineno, f.group(3)))
                self.fields[name] = ("var", f.group(3))
                self.parts.append(("var", f.group(3)))
            elif f.group(2) is not None:
                self.fields[name] = f.group(2)
            else:
                self.fields[name] = f.group(4)
        if pos != len(rest):
            raise SpecError("line %d: cannot read %r"
                            % (self.lineno, rest[pos:]))
        if self.who == "P" and set(self.fields) != \
                set(MESSAGES[self.message]):
            raise SpecError("line %d: the program's %s needs every field: "
                            "%s" % (self.lineno, self.message,
                                    ", ".join(MESSAGES[self.message])))

    def value(self, field, values):
        """A field of a message, its variable filled in: a str."""
        v = self.fields[field]
        if isinstance(v, tuple):
            if v[1] not in values:
                raise SpecError("line %d: {%s} used before the server "
                                "chose it" % (self.lineno, v[1]))
            return values[v[1]].decode("ascii")
        return v

    def _add(self, b):
        if self.parts and isinstance(self.parts[-1], bytes):
            self.parts[-1] += b
        else:
            self.parts.append(b)

    @property
    def variables(self):
        return [p[1] for p in self.parts if isinstance(p, tuple)]

    def literal(self):
        """The bytes of a step without variables."""
        assert not self.variables
        return b"".join(self.parts)

    def render(self, values):
        """The bytes, with the variables' values filled in."""
        out = b""
        for p in self.parts:
            if isinstance(p, tuple):
                if p[1] not in values:
                    raise SpecError("line %d: {%s} used before the server "
                                    "chose it" % (self.lineno, p[1]))
                out += values[p[1]]
            else:
                out += p
        return out

    def pattern(self, values):
        """A regex for a server line with variables: bound ones are
        literal, unbound ones are captured."""
        rx = b""
        for p in self.parts:
            if isinstance(p, tuple):
                name = p[1]
                if name in values:
                    rx += re.escape(values[name])
                else:
                    rx += b"(?P<" + name.encode() + b">" + \
                        VARIABLE_RE[name] + b")"
            else:
                rx += re.escape(p)
        return re.compile(rx)

    def __repr__(self):
        return "%s%s: %s" % (self.who, self.conn, self.text)


class Example:
    def __init__(self, label, status, condition, lineno):
        self.label = label
        self.status = status
        self.condition = condition
        self.lineno = lineno
        self.steps = []

    @property
    def implemented(self):
        return self.status == IMPLEMENTED

    def __repr__(self):
        return "Example %s (%s) at line %d" % (self.label, self.status,
                                               self.lineno)


def parse_examples(text):
    """All examples of the draft's text, in order. Raises SpecError for a
    heading or step that does not follow the notation."""
    lines = text.split("\n")
    pending = pending_labels(text)
    examples = []
    labels = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = HEAD_RE.match(line)
        if not m:
            if LOOSE_HEAD_RE.match(line):
                raise SpecError("line %d: malformed example heading %r"
                                % (i + 1, line))
            if STEP_RE.match(line):
                raise SpecError("line %d: example step outside an example"
                                % (i + 1))
            i += 1
            continue
        ex = Example(m.group(1), PENDING if m.group(1) in pending
                     else IMPLEMENTED, m.group(2), i + 1)
        if ex.label in labels:
            raise SpecError("line %d: example %s defined twice"
                            % (i + 1, ex.label))
        labels.add(ex.label)
        i += 1
        while i < len(lines) and lines[i] == "":
            i += 1
        while i < len(lines) and STEP_RE.match(lines[i]):
            s = STEP_RE.match(lines[i])
            ex.steps.append(Step(s.group(1), s.group(2), s.group(3), i + 1))
            i += 1
        if not ex.steps:
            raise SpecError("line %d: example %s has no steps"
                            % (ex.lineno, ex.label))
        if not any(s.who in "SR" for s in ex.steps):
            raise SpecError("line %d: example %s expects nothing of the "
                            "server" % (ex.lineno, ex.label))
        _check_connections(ex)
        examples.append(ex)
    return examples


def pending_labels(text):
    """The examples Section 11 says the implementation does not yet
    perform."""
    start = text.find("\n11.  Implementation Status\n")
    end = text.find("\n12.  ", start)
    if start < 0 or end < 0:
        return set()
    # The sentence may run across a page break: leave out the footers
    # and headers between its lines.
    body = [line for line in text[start:end].split("\n")
            if not PAGE_LINE_RE.match(line)]
    m = PENDING_RE.search(" ".join(" ".join(body).split()))
    if not m:
        return set()
    return set(re.findall(r"[a-z0-9][a-z0-9-]*", m.group(1)))


def _check_connections(ex):
    """Connection labels: all bare or all numbered, the clients' and the
    program's channels each; a server line refers to a connection the
    client (or program) has opened; variables bound before use."""
    for kind in ("CS", "PR"):
        conns = {s.conn for s in ex.steps if s.who in kind}
        if "" in conns and len(conns) > 1:
            raise SpecError("line %d: example %s mixes %s: and %s1: lines"
                            % (ex.lineno, ex.label, kind[0], kind[0]))
    opened = set()
    bound = set()
    for s in ex.steps:
        if s.who in "CP":
            opened.add(s.who + s.conn)
            if s.target is not None and s.target not in bound:
                raise SpecError("line %d: {%s} used before the server "
                                "chose it" % (s.lineno, s.target))
            if s.event is None:
                for v in s.variables:
                    if v not in bound:
                        raise SpecError("line %d: {%s} used before the "
                                        "server chose it" % (s.lineno, v))
        else:
            opener = "C" if s.who == "S" else "P"
            if opener + s.conn not in opened:
                raise SpecError("line %d: %s%s: before %s%s: opened it"
                                % (s.lineno, s.who, s.conn, opener,
                                   s.conn))
            if s.who == "S" and s.event is None and s.variables:
                tail = s.parts[-1]
                if not isinstance(tail, bytes) or not tail.endswith(b"\n"):
                    raise SpecError("line %d: a server line with a "
                                    "variable must end the line"
                                    % s.lineno)
            bound.update(s.variables)


def example_functions(text):
    """The functions the draft's Section 2.3 says its examples assume:
    {name: first line of the description}."""
    start = text.find("\n2.3.  Notation of the Examples\n")
    end = text.find("\n3.  Protocol Overview\n", start)
    if start < 0 or end < 0:
        raise SpecError("no Section 2.3 in the draft")
    out = {}
    for line in text[start:end].split("\n"):
        m = re.match(r"^   ([a-z][a-z0-9-]*) {2,}(\S.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def read_draft():
    with open(draft_path(), encoding="ascii") as f:
        return f.read()
