#!/bin/sh
# SPDX-License-Identifier: ISC
# man/lint.sh: mandoc -Tlint -Wstyle over every page in man/; exits 1 if
# mandoc reports anything at all. References to other manuals (.Xr) are
# resolved in a private manual tree holding these pages and a stub for each
# manual of another package listed in EXTERNAL, so the verdict does not
# depend on which packages this machine has installed; a reference to a
# manual in neither place is reported. With -s they are resolved against
# this machine's installed manuals instead.
# Usage: man/lint.sh [-s]
set -eu

# Manuals of other packages that the pages may cite, as name.section.
EXTERNAL="cat.1 nc.1 socat.1 systemd.1 tcpserver.1
	execve.2 fcntl.2 fork.2 ptrace.2 sched_setattr.2 seccomp.2 shutdown.2
	splice.2 syslog.3 group.5 passwd.5 services.5 landlock.7 inetd.8 nginx.8
	sshd.8 xinetd.8"

usage() {
	echo "usage: $0 [-s]" >&2
	exit 2
}

system=0
case $# in
0)	;;
1)	[ "$1" = -s ] || usage
	system=1 ;;
*)	usage ;;
esac
if ! command -v mandoc >/dev/null 2>&1; then
	echo "lint.sh: mandoc is not installed (apt-get install mandoc)" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

# Copy each page into the tree, in the man<section> folder man(1) expects.
set --
for page in "$here"/*.[1-9]; do
	[ -f "$page" ] || continue
	sec=${page##*.}
	mkdir -p "$tmp/man/man$sec"
	cp "$page" "$tmp/man/man$sec/"
	set -- "$@" "${page##*/}"
done
if [ $# -eq 0 ]; then
	echo "lint.sh: no manual pages in $here" >&2
	exit 2
fi

if [ $system -eq 1 ]; then
	MANPATH=$tmp/man:$(manpath 2>/dev/null || echo /usr/share/man)
else
	for x in $EXTERNAL; do
		name=${x%.*}
		sec=${x##*.}
		mkdir -p "$tmp/man/man$sec"
		printf '.Dd January 1, 2000\n.Dt %s %s\n.Os\n.Sh NAME\n.Nm %s\n.Nd stub\n' \
		    "$(echo "$name" | tr '[:lower:]' '[:upper:]')" "$sec" \
		    "$name" >"$tmp/man/man$sec/$x"
	done
	MANPATH=$tmp/man
fi
export MANPATH
# An index of the tree, so mandoc does not complain that it has none.
if command -v makewhatis >/dev/null 2>&1; then
	makewhatis "$tmp/man" 2>/dev/null || true
fi

rc=0
out=$(cd "$here" && mandoc -Tlint -Wstyle "$@" 2>&1) || rc=$?
# Notes about a system manual tree's missing index are about this
# machine, not about these pages.
out=$(printf '%s\n' "$out" | grep -v '^mandoc: outdated mandoc\.db' || true)
# A block macro run into the end of a text line ("done..It Fl V") is
# text to mandoc, which says nothing: the entry vanishes from the page.
joined=$(cd "$here" && grep -nE '[^ ]\.(It|Pp|Sh|Ss|Bl|El|Bd|Ed)( |$)' \
    "$@" || true)
if [ -n "$joined" ]; then
	printf '%s\n' "$joined"
	out="$out${out:+
}a macro joined to the line before it"
fi
if [ -n "$out" ] || [ $rc -ne 0 ]; then
	[ -z "$out" ] || printf '%s\n' "$out"
	echo "lint.sh: mandoc reported problems (exit $rc)" >&2
	exit 1
fi
echo "lint.sh: $# pages clean"
