# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# bench/lib.sh: what bench/run-handoff and bench/run-redirect share, sourced
# by both: cleanup of every process group started, building the bench's
# C tools, timed slices in rotated rounds, medians and the result table.
# bench/run predates it and keeps its own copy of the first half.
#
# The sourcing script sets BENCH, ROOT, CACHE (built tools), RUNDIR
# (configs, logs, results), HOST, ROUNDS, SECS, WARMUP
# and CONCS first, and `set -euo pipefail`.

PGIDS=()		# process groups of servers we started (setsid)
FAILED=()		# servers that did not start or answer correctly
LIVE=()			# servers that answered correctly, in start order
declare -A PORT REQ EXPECT EARLY CPUPG STATUS
declare -A RATES P50S P99S ERRS SESSIONS CPUUS	# per "server,conc"
declare -A MRATE MP50 MP99 MCPU
declare -A RATE1				# per "server,conc,round"

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup
kill_group() {	# pgid
	local pg=$1 i
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for i in $(seq 20); do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}

cleanup() {
	local pg
	for pg in "${PGIDS[@]}"; do
		kill_group "$pg"
	done
	wait 2>/dev/null || true
}

# Starts "$@" in a session of its own, so kill_group takes its children
# too.  Sets SPID (= its process group).
start() {	# name cmd...
	local name=$1
	shift
	setsid "$@" >"$RUNDIR/$name.out" 2>"$RUNDIR/$name.err" </dev/null &
	SPID=$!
	PGIDS+=("$SPID")
}

# ---------------------------------------------------------------- setup
apt_install() {
	say "bench: apt-get install -y --no-install-recommends $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "$@" >&2 ||
	    { apt-get update -qq >&2 &&
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends "$@" >&2; }
}

BENCH_CFLAGS="-O2 -Wall -Wextra -Wshadow -Wstrict-prototypes"
BENCH_CFLAGS="$BENCH_CFLAGS -Wmissing-prototypes -Wformat=2 -Wwrite-strings"

# cc with the project's warnings; the binary goes to $CACHE/name.
build_tool() {	# name sources-and-flags...
	local name=$1
	shift
	# shellcheck disable=SC2086
	cc $BENCH_CFLAGS -o "$CACHE/$name" "$@" ||
	    die "cannot build $name"
}

# oneportd and liboneport come from the tree: built if missing.
need_tree() {	# files...
	local f missing=0
	for f in "$@"; do
		[ -e "$ROOT/$f" ] || missing=1
	done
	if [ $missing = 1 ] && [ "${BENCH_MAKE:-1}" = 1 ]; then
		say "bench: building the tree (make -C $ROOT)"
		make -C "$ROOT" >&2 || true
	fi
	for f in "$@"; do
		[ -e "$ROOT/$f" ] || die "$ROOT/$f is missing (run make)"
	done
}

# ---------------------------------------------------------------- helpers
listening() {	# port
	[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

free_port() {
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		listening "$p" || { echo "$p"; return 0; }
	done
	die "no free port found"
}

wait_listen() {	# port pid
	local i
	for i in $(seq 50); do
		listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Waits for a line matching the sed expression in the file; prints \1.
wait_line() {	# file sed-expr pid
	local i v
	for i in $(seq 50); do
		v=$(sed -n "$2" "$1" 2>/dev/null | head -n 1)
		[ -n "$v" ] && { echo "$v"; return 0; }
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

median() {	# printf-format numbers...
	local fmt=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ v[NR] = $1 } END {
		if (NR == 0) print "";
		else if (NR % 2) printf f "\n", v[(NR + 1) / 2];
		else printf f "\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {	# value base
	awk -v v="$1" -v b="$2" 'BEGIN {
		if (v == "" || b == "" || b + 0 == 0) print "-";
		else printf "%.2fx", v / b }'
}

# CPU clock ticks used so far by every process in the given process
# groups, with the children they have reaped (utime stime cutime cstime).
cpu_ticks() {	# pgid...
	# Processes come and go while cat runs: a vanished one is no error.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v want=" $* " '{
		s = $0; sub(/.*\) /, "", s); split(s, f, " ");
		if (index(want, " " f[3] " ")) t += f[12] + f[13] + f[14] + f[15]
	} END { print t + 0 }'
}
CLK_TCK=$(getconf CLK_TCK)

fail_server() {	# name why
	say ""
	say "bench: FAIL: $1: $2"
	say "---- $RUNDIR/$1.err (last lines)"
	tail -n 15 "$RUNDIR/$1.err" >&2 2>/dev/null || true
	say "----"
	FAILED+=("$1")
	STATUS[$1]="FAILED: $2"
}

lg_args() {	# name: loadgen's request, prefix and -x options for it
	local s=$1
	LGA=(-e "${EXPECT[$s]}")
	[ -z "${REQ[$s]}" ] || LGA+=(-r "${REQ[$s]}")
	[ "${EARLY[$s]:-0}" = 0 ] || LGA+=(-x)
}

# Registers a running server: one session by hand must start with the
# expected bytes.  cpu-pgids: whose CPU time counts as the server's.
enlist() {	# name port request expect early cpu-pgids
	local s=$1 out
	PORT[$s]=$2 REQ[$s]=$3 EXPECT[$s]=$4 EARLY[$s]=$5 CPUPG[$s]=$6
	lg_args "$s"
	if ! out=$("$LOADGEN" -h "$HOST" -p "$2" -c 1 -n 1 -T 5 -v \
	    "${LGA[@]}" -L "$s" 2>&1); then
		fail_server "$s" "wrong or no answer: $(grep -v '^RESULT' \
		    <<<"$out" | tr '\n' ' ')"
		return 1
	fi
	say "bench: $s answers: $(sed -n 's/^reply //p' <<<"$out")"
	STATUS[$s]=ok
	LIVE+=("$s")
}

field() {	# name line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# One timed slice of one server at one concurrency, with the CPU its
# processes used over the whole run (warm-up included), per session.
slice() {	# name conc round
	local s=$1 c=$2 line k=$1,$2 t0 t1 rate
	lg_args "$s"
	# shellcheck disable=SC2086
	t0=$(cpu_ticks ${CPUPG[$s]})
	line=$("$LOADGEN" -h "$HOST" -p "${PORT[$s]}" -c "$c" -t "$SECS" \
	    -w "$WARMUP" "${LGA[@]}" -L "$s" 2>"$RUNDIR/loadgen.err" |
	    grep '^RESULT' || true)
	# shellcheck disable=SC2086
	t1=$(cpu_ticks ${CPUPG[$s]})
	[ -n "$line" ] || { cat "$RUNDIR/loadgen.err" >&2;
	    die "loadgen gave no result for $s"; }
	rate=$(field rate "$line")
	CPUUS[$k]+=" $(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v r="$rate" \
	    -v w="$SECS" -v u="$WARMUP" 'BEGIN {
		n = r * (w + u); if (n <= 0) print 0;
		else printf "%.1f", d * 1e6 / hz / n }')"
	echo "$line round=$3 cpu_ticks=$((t1 - t0))" >>"$RUNDIR/results.txt"
	RATES[$k]+=" $rate"
	RATE1[$k,$3]=$rate
	P50S[$k]+=" $(field p50_us "$line")"
	P99S[$k]+=" $(field p99_us "$line")"
	ERRS[$k]=$(( ${ERRS[$k]:-0} + $(field errors "$line") ))
	SESSIONS[$k]=$(( ${SESSIONS[$k]:-0} + $(field sessions "$line") ))
	say "bench: round $3 c=$c $s: $(sed 's/^RESULT label=[^ ]* //' \
	    <<<"$line")"
	if grep -q 'first error' "$RUNDIR/loadgen.err"; then
		say "bench:   $(grep 'first error' "$RUNDIR/loadgen.err")"
	fi
}

# Rounds of short slices, the server order rotated each round, so a burst
# of outside load lands on every server alike; medians are kept.
run_rounds() {
	local r c n i s
	[ ${#LIVE[@]} -gt 0 ] || die "no server answered"
	for r in $(seq "$ROUNDS"); do
		for c in $CONCS; do
			n=${#LIVE[@]}
			for i in $(seq 0 $((n - 1))); do
				slice "${LIVE[$(((i + r - 1) % n))]}" "$c" "$r"
			done
		done
	done
	for s in "${LIVE[@]}"; do
		for c in $CONCS; do
			# shellcheck disable=SC2086
			MRATE[$s,$c]=$(median %.1f ${RATES[$s,$c]})
			# shellcheck disable=SC2086
			MP50[$s,$c]=$(median %.0f ${P50S[$s,$c]})
			# shellcheck disable=SC2086
			MP99[$s,$c]=$(median %.0f ${P99S[$s,$c]})
			# shellcheck disable=SC2086
			MCPU[$s,$c]=$(median %.1f ${CPUUS[$s,$c]})
			echo "MEDIAN label=$s conc=$c rounds=$ROUNDS" \
			    "rate=${MRATE[$s,$c]} p50_us=${MP50[$s,$c]}" \
			    "p99_us=${MP99[$s,$c]} cpu_us=${MCPU[$s,$c]}" \
			    "sessions=${SESSIONS[$s,$c]}" \
			    "errors=${ERRS[$s,$c]}" >>"$RUNDIR/results.txt"
		done
	done
}

# The table of medians; (x) is the ratio to the base server.
print_table() {	# base servers...
	local base=$1 s c
	shift
	printf '%-20s %4s  %-17s %-15s %-15s %-9s %-6s %s\n' server conc \
	    sessions/s "p50 us" "p99 us" "cpu us" errors \
	    "sessions/s per round"
	for s in "$@"; do
		if [ "${STATUS[$s]:-}" != ok ]; then
			printf '%-20s %4s  %s\n' "$s" - "${STATUS[$s]:-not run}"
			continue
		fi
		for c in $CONCS; do
			printf '%-20s %4s  %-17s %-15s %-15s %-9s %-6s %s\n' \
			    "$s" "$c" \
			    "${MRATE[$s,$c]} ($(ratio "${MRATE[$s,$c]}" \
			    "${MRATE[$base,$c]:-}"))" \
			    "${MP50[$s,$c]} ($(ratio "${MP50[$s,$c]}" \
			    "${MP50[$base,$c]:-}"))" \
			    "${MP99[$s,$c]} ($(ratio "${MP99[$s,$c]}" \
			    "${MP99[$base,$c]:-}"))" \
			    "${MCPU[$s,$c]}" "${ERRS[$s,$c]}" "${RATES[$s,$c]# }"
		done
	done
}

# One line per concurrency: a/b of sessions/s against its goal, as the
# ratio of the medians and as the median of each round's own ratio (the
# two ran within seconds of each other, so slow drifts in outside load
# cancel). The verdict goes by the ratio of the medians.
goal_header() {
	printf '%-30s %-5s %-8s %-10s %-8s %s\n' "" conc ratio \
	    "per-round" goal verdict
}

print_goal() {	# a b goal label
	local a=$1 b=$2 goal=$3 label=$4 c r rr verdict round per
	for c in $CONCS; do
		if [ "${STATUS[$a]:-}" != ok ] || [ "${STATUS[$b]:-}" != ok ]; then
			printf '%-30s %-5s %s\n' "$label" "$c" "not measured"
			continue
		fi
		r=$(awk -v x="${MRATE[$a,$c]}" -v y="${MRATE[$b,$c]}" \
		    'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }')
		per=""
		for round in $(seq "$ROUNDS"); do
			per+=" $(awk -v x="${RATE1[$a,$c,$round]}" \
			    -v y="${RATE1[$b,$c,$round]}" \
			    'BEGIN { printf "%.3f", (y > 0 ? x / y : 0) }')"
		done
		# shellcheck disable=SC2086
		rr=$(median %.2f $per)
		verdict=$(awk -v r="$r" -v g="$goal" \
		    'BEGIN { print ((r >= g) ? "met" : "MISSED") }')
		printf '%-30s %-5s %-8s %-10s %-8s %s\n' "$label" "$c" "$r" \
		    "$rr" ">= $goal" "$verdict"
		echo "GOAL label=\"$label\" conc=$c ratio=$r" \
		    "per_round_median=$rr goal=$goal verdict=$verdict" \
		    >>"$RUNDIR/results.txt"
	done
}
