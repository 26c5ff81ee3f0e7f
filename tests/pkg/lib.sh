# SPDX-License-Identifier: ISC
# tests/pkg/lib.sh: what the shell tests of tests/pkg share, sourced.

# poll TENTHS COMMAND [ARG ...]: run COMMAND every 0.1 s until it
# succeeds; returns 1 if it has not after TENTHS tries. Never a guess at
# how long something takes, and never unbounded.
poll() {
	_n=$1
	shift
	until "$@"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# gone PID: the process (or, as -PGID, the group) no longer exists.
gone() {
	! kill -0 "$1" 2>/dev/null
}

# has FILE PATTERN: FILE has a line that matches.
has() {
	grep -q "$2" "$1" 2>/dev/null
}
