#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/pkg/test-try.sh: ./try.sh on ports of its own, and every command
# of the README's "Try it" section against it, as written but for the
# ports: each way of serving a name (spawn, pass, redirect) answers what
# the README says. Run by check.sh after the plain build.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
. tests/pkg/lib.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneport-trytest.XXXXXX")
pid=
cleanup() {
	# try.sh runs in a session of its own: its group is what it started.
	[ -z "$pid" ] || kill -TERM "-$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM
fail() {
	printf 'test-try: %s\n' "$*" >&2
	sed 's/^/test-try: try.sh: /' "$tmp/try.log" >&2 2>/dev/null || true
	exit 1
}

for bad in x 0 65535 7001x; do
	if sh try.sh "$bad" >/dev/null 2>"$tmp/err"; then
		fail "./try.sh $bad was taken"
	fi
	grep -q 'usage: ./try.sh \[port\]' "$tmp/err" ||
	    fail "./try.sh $bad: no usage line"
done

# Two free ports in a row, P and P+1.
ports=$(python3 -c '
import socket
for p in range(20000, 60000, 7):
    try:
        ss = []
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            ss.append(s)
        print(p, p + 1)
        break
    except OSError:
        pass
    finally:
        for s in ss:
            s.close()
')
set -- $ports
port=$1 next=$2

setsid sh try.sh "$port" >"$tmp/try.log" 2>&1 &
pid=$!
# Up when oneportd says so, or down if try.sh gave up.
up() {
	has "$tmp/try.log" "^[0-9T:.-]* *started, " || gone "$pid"
}
poll 600 up || fail "try.sh $port did not start oneportd in 60 s"
gone "$pid" && fail "try.sh $port exited"
grep -q "listening on 127.0.0.1:$port" "$tmp/try.log" ||
    fail "oneportd is not on port $port"

# The README's commands: the indented lines of "Try it" that call 7001.
sed -n '/^## Try it/,/^## /p' README.md | grep '^    .*7001' |
    sed 's/^    //; s/[[:space:]]*#.*$//' >"$tmp/commands"
[ -s "$tmp/commands" ] || fail "no commands in the README's Try it section"
seen=
while read -r cmd; do
	run=$(printf '%s\n' "$cmd" | sed "s/7001/$port/g")
	# TCPMUX lines end in CR LF; compared here without the CR.
	out=$(cd "$here" && timeout 20 sh -c "$run" </dev/null 2>"$tmp/err" |
	    tr -d '\r') && [ ! -s "$tmp/err" ] ||
	    fail "README: '$cmd' failed: $(cat "$tmp/err")"
	case $cmd in
	*help*)
		for n in daytime echo libecho moved whoami; do
			printf '%s\n' "$out" | grep -qx "$n" ||
			    fail "README: '$cmd' does not list $n: $out"
		done
		seen="$seen help" ;;
	*"printf 'moved"*)
		[ "$out" = "@$next host=127.0.0.1" ] ||
		    fail "README: '$cmd' said: $out"
		seen="$seen redirect-answer" ;;
	*moved* | *daytime*)
		printf '%s\n' "$out" | grep -q ' UTC ' ||
		    fail "README: '$cmd' gave no date: $out"
		case $cmd in *moved*) seen="$seen redirect" ;;
		*) seen="$seen daytime" ;; esac ;;
	*libecho*)
		[ "$(printf '%s\n' "$out" | tail -n 1)" = hello ] ||
		    fail "README: '$cmd' did not echo: $out"
		printf '%s\n' "$out" | grep -q '^peer=127.0.0.1:[0-9]* service=libecho' ||
		    fail "README: '$cmd' did not reach echo-service: $out"
		seen="$seen pass" ;;
	*echo*)
		[ "$out" = hello ] || fail "README: '$cmd' said: $out"
		seen="$seen spawn" ;;
	*)
		fail "README: '$cmd': a command this test does not know" ;;
	esac
done <"$tmp/commands"
for w in help daytime spawn pass redirect redirect-answer; do
	case " $seen " in
	*" $w "*) ;;
	*) fail "the README's Try it has no command for $w" ;;
	esac
done

# A signal to try.sh stops all it started.
kill -TERM "-$pid"
poll 100 gone "-$pid" || fail "try.sh's processes outlived SIGTERM"
pid=
echo "test-try: ok ($(wc -l <"$tmp/commands") README commands)"
