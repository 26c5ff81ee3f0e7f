#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
mkdraft.py: turns the draft's source (draft-oneport-rendezvous.in) into the
paginated plain-text Internet-Draft, in the layout of RFC 7322 text: pages of
58 lines with a header and a footer, form feeds between pages, a table of
contents with page numbers, numbered figures and tables.

    python3 docs/mkdraft.py docs/draft-oneport-rendezvous.in \
        docs/draft-oneport-rendezvous-00.txt
    python3 docs/mkdraft.py --check IN TXT   # exit 1 if TXT is stale

The source is the text as it should read, already indented and wrapped at
72 columns, plus a few directives, each on a line of its own:

    .header LEFT|CENTER|RIGHT   the header line of every page but the first
    .footer LEFT|CENTER         the footer line; "[Page N]" is added
    .toc                        the table of contents goes here
    .page                       start a new page
    .keep ... .end              lines that must stay on one page
    .fig TITLE / .tab TITLE     a centred "Figure N: TITLE" / "Table N: TITLE"

A heading is a line at column 0. A heading is never left at the bottom of a
page without the start of what follows it; a paragraph is split only if at
least two of its lines go on each page.
"""
import re
import sys

WIDTH = 72
PAGE_LINES = 58
FIRST_BODY = PAGE_LINES - 3        # body, 2 blank lines, footer
BODY = PAGE_LINES - 6              # header, 2 blank, body, 2 blank, footer

NUMBERED = re.compile(r"^((?:\d+\.)+|Appendix [A-Z]\.|[A-Z]\.(?:\d+\.)+)"
                      r"  (\S.*)$")
UNNUMBERED = ("Abstract", "Status of This Memo", "Copyright Notice",
              "Table of Contents", "Author's Address", "Authors' Addresses")


class SourceError(Exception):
    pass


class Block:
    def __init__(self, lines, keep=False, heading=None, src=0):
        self.lines = lines
        self.keep = keep
        self.heading = heading      # (number, title) or None
        self.page_break = False
        self.src = src


def three(left, center, right):
    """One line with left, centre and right parts, WIDTH wide."""
    line = left + " " * WIDTH
    start = (WIDTH - len(center)) // 2
    if start <= len(left):
        start = len(left) + 1
    line = line[:start] + center
    line = line + " " * max(1, WIDTH - len(right) - len(line)) + right
    return line.rstrip()


def centred(text):
    return (" " * max(0, (WIDTH - len(text)) // 2) + text).rstrip()


def parse(path):
    """Returns (settings, blocks); the .toc block is marked."""
    with open(path, encoding="ascii") as f:
        raw = f.read().split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    settings = {}
    blocks = []
    para = []
    keep = None
    counters = {"fig": 0, "tab": 0}

    def flush(lineno):
        if para:
            m = NUMBERED.match(para[0])
            heading = None
            if len(para) == 1 and m:
                heading = (m.group(1), m.group(2))
            elif len(para) == 1 and para[0] in UNNUMBERED:
                heading = ("", para[0])
            blocks.append(Block(list(para), heading=heading, src=lineno))
            del para[:]

    for n, line in enumerate(raw, 1):
        if line.startswith("."):
            word, _, arg = line.partition(" ")
            if word in (".fig", ".tab"):
                kind = word[1:]
                counters[kind] += 1
                label = "Figure" if kind == "fig" else "Table"
                text = centred("%s %d: %s" % (label, counters[kind], arg))
                (keep if keep is not None else para).append(text)
                continue
            if word == ".keep":
                flush(n)
                if keep is not None:
                    raise SourceError("%s:%d: nested .keep" % (path, n))
                keep = []
                continue
            if word == ".end":
                if keep is None:
                    raise SourceError("%s:%d: .end without .keep"
                                      % (path, n))
                while keep and keep[-1] == "":
                    keep.pop()
                blocks.append(Block(keep, keep=True, src=n))
                keep = None
                continue
            if keep is not None:
                raise SourceError("%s:%d: %s inside .keep" % (path, n, word))
            flush(n)
            if word == ".header":
                settings["header"] = arg.split("|")
            elif word == ".footer":
                settings["footer"] = arg.split("|")
            elif word == ".toc":
                b = Block([], src=n)
                b.toc = True
                blocks.append(b)
            elif word == ".page":
                b = Block([], src=n)
                b.page_break = True
                blocks.append(b)
            else:
                raise SourceError("%s:%d: unknown directive %s"
                                  % (path, n, word))
            continue
        if len(line) > WIDTH:
            raise SourceError("%s:%d: line longer than %d characters"
                              % (path, n, WIDTH))
        if line != line.rstrip():
            raise SourceError("%s:%d: trailing white space" % (path, n))
        if "\t" in line:
            raise SourceError("%s:%d: tab" % (path, n))
        if keep is not None:
            keep.append(line)
        elif line == "":
            flush(n)
        else:
            para.append(line)
    flush(len(raw))
    if keep is not None:
        raise SourceError("%s: .keep without .end" % path)
    if "header" not in settings or len(settings["header"]) != 3:
        raise SourceError("%s: need .header LEFT|CENTER|RIGHT" % path)
    if "footer" not in settings or len(settings["footer"]) != 2:
        raise SourceError("%s: need .footer LEFT|CENTER" % path)
    return settings, blocks


def toc_lines(blocks, pages):
    """The table of contents; pages maps block index to page number."""
    out = []
    for i, b in enumerate(blocks):
        if b.heading is None:
            continue
        num, title = b.heading
        if num == "" and title not in ("Author's Address",
                                       "Authors' Addresses"):
            continue
        depth = num.count(".") - 1 if num[:1].isdigit() or \
            re.match(r"[A-Z]\.", num) else 0
        if num.startswith("Appendix"):
            depth = 0
        indent = "   " + "  " * depth
        left = indent + (num + "  " if num else "") + title
        page = str(pages.get(i, 0))
        line = left + " "
        while len(line) < WIDTH - 5:
            line += "." if len(line) % 2 == 0 else " "
        line = line.rstrip(" ") if line.endswith(" ") else line
        line += " " * (WIDTH - len(line) - len(page)) + page
        if len(left) > WIDTH - 8:
            raise SourceError("ToC entry too long: %s" % left)
        out.append(line)
    return out


def paginate(blocks):
    """Returns (pages of body lines, {block index: page number})."""
    pages = [[]]
    where = {}

    def cap():
        return FIRST_BODY if len(pages) == 1 else BODY

    def room():
        cur = pages[-1]
        return cap() - len(cur) - (1 if cur else 0)

    def new_page():
        if pages[-1]:
            pages.append([])

    def put(lines):
        cur = pages[-1]
        if cur:
            cur.append("")
        cur.extend(lines)

    for i, b in enumerate(blocks):
        if b.page_break:
            new_page()
            continue
        lines = b.lines
        if not lines:
            continue
        need = len(lines)
        if b.heading is not None and i + 1 < len(blocks):
            nxt = blocks[i + 1]
            if nxt.lines:
                need += 1 + (len(nxt.lines) if nxt.keep
                             else min(2, len(nxt.lines)))
            need = min(need, BODY)
        if need > room():
            if b.keep or b.heading is not None or room() < 2 or \
                    len(lines) - room() < 2:
                new_page()
        # Split whatever is still too long for this page: a paragraph with
        # two lines or more on each side, anything longer than a page.
        while len(lines) > room():
            r = room()
            if not pages[-1] or (r >= 2 and len(lines) - r >= 2 and
                                 not b.keep and b.heading is None):
                put(lines[:r])
                where.setdefault(i, len(pages))
                lines = lines[r:]
            new_page()
        put(lines)
        where.setdefault(i, len(pages))
    while pages and not pages[-1]:
        pages.pop()
    return pages, where


def render(settings, blocks):
    toc_at = [i for i, b in enumerate(blocks) if getattr(b, "toc", False)]
    where = {}
    for _ in range(3):
        if toc_at:
            blocks[toc_at[0]].lines = toc_lines(blocks, where)
        pages, new_where = paginate(blocks)
        if new_where == where:
            break
        where = new_where
    else:
        raise SourceError("table of contents does not settle")
    hl, hc, hr = settings["header"]
    fl, fc = settings["footer"]
    out = []
    for n, body in enumerate(pages, 1):
        page = []
        if n > 1:
            page += [three(hl, hc, hr), "", ""]
            room = BODY
        else:
            room = FIRST_BODY
        page += body + [""] * (room - len(body))
        page += ["", "", three(fl, fc, "[Page %d]" % n)]
        assert len(page) == PAGE_LINES, (n, len(page))
        out.append("\n".join(page) + "\n")
    return "\f\n".join(out)


def main(argv):
    check = False
    if argv[:1] == ["--check"]:
        check = True
        argv = argv[1:]
    if len(argv) != 2:
        sys.stderr.write("usage: mkdraft.py [--check] SOURCE OUTPUT\n")
        return 2
    try:
        settings, blocks = parse(argv[0])
        text = render(settings, blocks)
    except SourceError as e:
        sys.stderr.write("mkdraft: %s\n" % e)
        return 1
    if check:
        try:
            with open(argv[1], encoding="ascii") as f:
                old = f.read()
        except (OSError, UnicodeDecodeError) as e:
            sys.stderr.write("mkdraft: %s\n" % e)
            return 1
        if old != text:
            sys.stderr.write("mkdraft: %s is not what %s gives; run "
                             "mkdraft.py %s %s\n" % (argv[1], argv[0],
                                                     argv[0], argv[1]))
            return 1
        return 0
    with open(argv[1], "w", encoding="ascii") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
