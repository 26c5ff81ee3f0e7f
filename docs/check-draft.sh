#!/bin/sh
# SPDX-License-Identifier: ISC
# check-draft.sh: the idnits-style checks of an Internet-Draft in plain
# text, in POSIX sh and awk: lines, characters, pages, the required
# sections and boilerplate, the table of contents, the references (each
# cited one listed, each listed one cited), the ABNF (each rule used is
# defined, each defined is used but the first), and implementation notes
# outside the Implementation Status section. Every file, the draft and
# the documents beside it (the IANA application), is also checked for
# paths of a particular machine.
# Prints FILE:LINE: message for each problem and exits 1 if there is one.
#
#   sh docs/check-draft.sh [FILE...]
#       (default: docs/draft-*.txt and docs/iana-port-application.md)

set -u
LC_ALL=C
export LC_ALL

if [ "$#" -eq 0 ]; then
	dir=$(dirname "$0")
	set -- "$dir"/draft-*.txt
	[ -e "$1" ] || { echo "check-draft: no draft in $dir" >&2; exit 2; }
	[ -e "$dir/iana-port-application.md" ] &&
	    set -- "$@" "$dir/iana-port-application.md"
fi

# A path under a home or scratch directory, or any other place that
# exists on one machine only, means nothing to a reader elsewhere.
machine_paths() {
	awk -v file="$1" '
	match($0, /(^|[^A-Za-z0-9_.~-])\/(work|home|tmp|root|Users|mnt|scratch)\/[^ ]/) {
		printf "%s:%d: names a path of a particular machine: %s\n",
		    file, NR, substr($0, RSTART, RLENGTH + 20)
		bad = 1
	}
	END { exit bad }
	' "$1"
}

status=0
for f in "$@"; do
	if [ ! -r "$f" ]; then
		echo "$f:0: cannot read the file"
		status=1
		continue
	fi
	machine_paths "$f" || status=1
	case "$f" in
	*.txt)	;;
	*)	continue ;;
	esac
	awk -v file="$f" '
function err(line, msg) {
	printf "%s:%d: %s\n", file, line, msg
	nerr++
}

# Page bookkeeping: a page is the lines between two form feeds.
function end_page(   last, i) {
	if (plines > 58)
		err(pstart, "page " page " has " plines " lines; at most 58")
	if (page > 1 && plines > 0 && ptext[1] !~ /^Internet-Draft  +[^ ].*  +[A-Z][a-z]+ [0-9][0-9][0-9][0-9]$/)
		err(pstart, "page " page " has no header line (Internet-Draft ... Month Year)")
	if (page > 1 && plines > 0) {
		if (header == "")
			header = ptext[1]
		else if (ptext[1] != header)
			err(pstart, "page " page " header differs from the first one")
	}
	last = 0
	for (i = plines; i >= 1; i--)
		if (ptext[i] != "") { last = i; break }
	if (last == 0)
		err(pstart, "page " page " is empty")
	else if (ptext[last] !~ /  +\[Page [0-9]+\]$/)
		err(pstart + last - 1, "page " page " has no footer line ([Page N])")
	else {
		if (ptext[last] !~ ("\\[Page " page "\\]$"))
			err(pstart + last - 1, "footer says " ptext[last] "; this is page " page)
		if (expires != "" && index(ptext[last], "Expires " expires) == 0)
			err(pstart + last - 1, "footer does not say Expires " expires)
	}
	plines = 0
}

# The rule names an ABNF right-hand side refers to: quoted strings,
# prose values, comments and numeric values are not names, and a
# repetition count is not part of the name that follows it.
function abnf_refs(s, nr,   n, i, w) {
	gsub(/(%[sSiI])?"[^"]*"/, " ", s)
	gsub(/<[^>]*>/, " ", s)
	sub(/;.*/, "", s)
	gsub(/%[xXdDbB][0-9A-Fa-f.-]+/, " ", s)
	gsub(/[^A-Za-z0-9-]/, " ", s)
	n = split(s, words, " ")
	for (i = 1; i <= n; i++) {
		w = words[i]
		sub(/^[0-9]+/, "", w)
		if (w !~ /^[A-Za-z]/)
			continue
		w = tolower(w)
		if (!(w in ruleref))
			ruleref[w] = nr
	}
}

# Strip indentation and leaders from a table-of-contents line.
function toc_title(s) {
	sub(/^ +/, "", s)
	sub(/[ .]+[0-9]+$/, "", s)
	return s
}

function toc_page(s) {
	if (match(s, /[0-9]+$/))
		return substr(s, RSTART) + 0
	return -1
}

BEGIN {
	page = 1; plines = 0; pstart = 1; nerr = 0
	header = ""; expires = ""
	in_toc = 0; toc_done = 0; ntoc = 0; in_refs = 0
	kw = "(MUST|REQUIRED|SHALL|SHOULD|RECOMMENDED|MAY|OPTIONAL)"
	text = ""
}

{
	line = $0
	if (line == "\f") {
		end_page()
		page++
		pstart = NR + 1
		next
	}
	plines++
	ptext[plines] = line
	if (index(line, "\f"))
		err(NR, "form feed not alone on its line")
	if (length(line) > 72)
		err(NR, "line is " length(line) " characters long; at most 72")
	if (index(line, "\t"))
		err(NR, "tab character")
	else if (index(line, "\r"))
		err(NR, "carriage return (lines must end in LF alone)")
	else if (line ~ /[^ -~\f]/)
		err(NR, "non-ASCII or control character")
	if (line ~ /[ \t]$/)
		err(NR, "trailing white space")

	if (page == 1 && expires == "" && match(line, /^Expires: [A-Z][a-z]+ [0-9]+, [0-9]+/))
		expires = substr(line, 10, RLENGTH - 9)
	if (page == 1 && line ~ /^Internet-Draft /) has_id = 1
	if (page == 1 && line ~ /^Intended status: /) has_status = 1
	if (page == 1 && line ~ /^ +draft-[a-z0-9-]+-[0-9][0-9]$/) has_name = 1

	# Section headings start at column 0; page headers and footers are
	# not headings.
	is_head = 0
	if (line ~ /^[^ ]/ && line !~ /^Internet-Draft  / && line !~ /\[Page [0-9]+\]$/ && page > 1)
		is_head = 1
	if (page == 1 && (line == "Abstract" || line == "Status of This Memo" || line == "Copyright Notice"))
		is_head = 1

	if (is_head) {
		seen[line] = NR
		if (in_toc && line != "Table of Contents") {
			in_toc = 0
			toc_done = 1
		}
		if (line == "Table of Contents")
			in_toc = 1
		if (toc_done && (line ~ /^([0-9]+\.)+  / || line ~ /^Appendix [A-Z]\.  / || line ~ /^[A-Z]\.([0-9]+\.)+  / || line == "Author'"'"'s Address" || line == "Authors'"'"' Addresses")) {
			nhead++
			head[nhead] = line
			headline[nhead] = NR
			headpage[line] = page
		}
		# Implementation notes belong in the Implementation Status
		# section, which the RFC Editor removes ([RFC7942]), and in
		# the appendix that describes the channel of one implementation.
		impl_ok = (line ~ /^[0-9]+\.  Implementation Status$/ ||
		    line ~ /^Appendix [A-Z]\./ || line ~ /^[A-Z]\.[0-9]/)
		if (line ~ /^[0-9]+\.  / && line ~ /References$/)
			in_refs = 1
		else if (line ~ /^Appendix / || line ~ /^Author/)
			in_refs = 0
		next
	}

	if (in_toc && line ~ /^ +[^ ]/ && line !~ /^Internet-Draft  /) {
		ntoc++
		toc[ntoc] = toc_title(line)
		tocpage[ntoc] = toc_page(line)
		tocline[ntoc] = NR
		next
	}

	if (toc_done && !impl_ok && !in_refs && match(line, /oneportd|liboneport|\((not yet )?implemented|test suite|Section 11[^.0-9]/))
		err(NR, "implementation note outside the Implementation Status section: " substr(line, RSTART, RLENGTH))

	# ABNF: a rule starts at column 3 with "name =" (or "=/") and goes
	# on over the lines indented further, up to a blank line.
	if (line ~ /^   [A-Za-z][A-Za-z0-9-]* *=\/?( |$)/) {
		in_rule = 1
		rname = line
		sub(/^   /, "", rname)
		sub(/ *=.*/, "", rname)
		rname = tolower(rname)
		if (!(rname in ruledef)) {
			ruledef[rname] = NR
			nrules++
			if (nrules == 1)
				startrule = rname
		}
		rhs = line
		sub(/^[^=]*=\/?/, "", rhs)
		abnf_refs(rhs, NR)
	} else if (in_rule && line ~ /^    +[^ ]/)
		abnf_refs(line, NR)
	else
		in_rule = 0

	# References: definitions in the reference sections, citations
	# everywhere else.
	if (in_refs && match(line, /^   \[[A-Za-z0-9-]+\]/)) {
		name = substr(line, RSTART + 4, RLENGTH - 5)
		if (name in defined)
			err(NR, "reference " name " defined twice")
		defined[name] = NR
		line = substr(line, RSTART + RLENGTH)
	}
	s = line
	while (match(s, /\[[A-Za-z][A-Za-z0-9-]*\]/)) {
		name = substr(s, RSTART, RLENGTH)
		if (!(name in cited))
			cited[name] = NR
		s = substr(s, RSTART + RLENGTH)
	}

	# BCP 14 key words: capitals outside quotes (the boilerplate quotes
	# every one of them).
	s = " " $0 " "
	gsub(/"(MUST|MUST NOT|REQUIRED|SHALL|SHALL NOT|SHOULD|SHOULD NOT|RECOMMENDED|NOT RECOMMENDED|MAY|OPTIONAL)"/, "", s)
	if (!kwline && match(s, "[^A-Za-z]" kw "[^A-Za-z]"))
		kwline = NR
	t = line
	sub(/^ +/, "", t)
	if (t != "")
		text = text " " t
}

END {
	end_page()
	if (!has_id) err(1, "first page: no \"Internet-Draft\" line")
	if (!has_status) err(1, "first page: no \"Intended status:\" line")
	if (expires == "") err(1, "first page: no \"Expires: Month D, YYYY\" line")
	if (!has_name) err(1, "first page: no draft name (draft-...-NN)")

	n = split("Abstract|Status of This Memo|Copyright Notice|Table of Contents", req, "|")
	for (i = 1; i <= n; i++)
		if (!(req[i] in seen))
			err(NR, "no section \"" req[i] "\"")
	got_sec = got_iana = got_refs = 0
	for (i = 1; i <= nhead; i++) {
		if (head[i] ~ /^[0-9]+\.  Security Considerations$/) got_sec = 1
		if (head[i] ~ /^[0-9]+\.  IANA Considerations$/) got_iana = 1
		if (head[i] ~ /^([0-9]+\.)+  (Normative )?References$/) got_refs = 1
	}
	if (!got_sec) err(NR, "no section \"Security Considerations\"")
	if (!got_iana) err(NR, "no section \"IANA Considerations\"")
	if (!got_refs) err(NR, "no section \"References\" or \"Normative References\"")

	# Table of contents against the body: every entry exists, on the
	# page it says; every heading of a depth the ToC lists is listed.
	if (ntoc == 0)
		err(NR, "the table of contents is empty")
	maxdepth = 0
	for (i = 1; i <= ntoc; i++) {
		intoc[toc[i]] = i
		d = split(toc[i], parts, ".") - 1
		if (d > maxdepth) maxdepth = d
		if (!(toc[i] in headpage))
			err(tocline[i], "ToC entry \"" toc[i] "\" is not a heading in the body")
		else if (tocpage[i] != headpage[toc[i]])
			err(tocline[i], "ToC says page " tocpage[i] " for \"" toc[i] "\"; it is on page " headpage[toc[i]])
	}
	for (i = 1; i <= nhead; i++) {
		num = head[i]
		sub(/  .*/, "", num)
		d = split(num, parts, ".") - 1
		if (num ~ /^Appendix/) d = 1
		if (d <= maxdepth && !(head[i] in intoc))
			err(headline[i], "heading \"" head[i] "\" is not in the table of contents")
	}

	# Section numbers run 1, 2, 3 and restart under each parent.
	prev = ""
	for (i = 1; i <= nhead; i++) {
		num = head[i]
		if (num !~ /^[0-9]/) continue
		sub(/  .*/, "", num)
		n = split(num, parts, ".") - 1
		parent = ""
		for (k = 1; k < n; k++) parent = parent parts[k] "."
		want = (parent in lastsub) ? lastsub[parent] + 1 : 1
		if (parts[n] + 0 != want)
			err(headline[i], "section " num " follows " (parent in lastsub ? parent lastsub[parent] "." : (parent == "" ? "nothing" : parent)) "; expected " parent want ".")
		lastsub[parent] = parts[n] + 0
		delete lastsub[num]
	}

	# References: cited ones are defined, defined ones are cited.
	for (name in cited) {
		bare = substr(name, 2, length(name) - 2)
		if (!(bare in defined))
			err(cited[name], "citation " name " has no entry in the references")
	}
	for (bare in defined)
		if (!(("[" bare "]") in cited))
			err(defined[bare], "reference [" bare "] is never cited")

	# ABNF: every rule referred to is defined here or is a core rule of
	# RFC 5234; every rule defined is used, but the first, which is
	# where the grammar starts.
	ncore = split("alpha bit char cr crlf ctl digit dquote hexdig htab lf lwsp octet sp vchar wsp", core, " ")
	for (i = 1; i <= ncore; i++)
		iscore[core[i]] = 1
	for (r in ruleref)
		if (!(r in ruledef) && !(r in iscore))
			err(ruleref[r], "ABNF rule " r " is used but not defined")
	for (r in ruledef)
		if (r != startrule && !(r in ruleref))
			err(ruledef[r], "ABNF rule " r " is defined but never used")

	# BCP 14: key words in capitals need the boilerplate and both RFCs.
	if (kwline) {
		if (index(text, "BCP 14 [RFC2119] [RFC8174] when, and only when, they appear in all capitals") == 0)
			err(kwline, "BCP 14 key word used, but the RFC 8174 boilerplate is missing")
		if (!("RFC2119" in defined) || !("RFC8174" in defined))
			err(kwline, "BCP 14 key word used, but [RFC2119] or [RFC8174] is not in the references")
	}
	exit (nerr > 0)
}
' "$f" || status=1
done
exit "$status"
