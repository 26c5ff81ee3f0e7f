#!/bin/sh
# SPDX-License-Identifier: ISC
# Builds config_test from the configuration files (parse.y, config.c,
# printconf.c), log.c and the name rule (lib/name.c), then runs it: once plain, once under ASan and
# UBSan unless NO_SANITIZE=1. Bison's output goes to the build directory,
# never into src/. Usage: tests/config/run.sh [BUILDDIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src/common" && pwd)
lib=$(cd "$here/../../lib" && pwd)
build=${1:-${TMPDIR:-/tmp}/oneport-config-test}
cc=${CC:-cc}
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wshadow
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wwrite-strings
    -Werror"

mkdir -p "$build"
bison -Wall -Werror -o "$build/parse.c" "$src/parse.y"

files="$build/parse.c $src/config.c $src/printconf.c $src/clusterconf.c
    $src/log.c $lib/name.c
    $here/config_test.c"

run() {
	echo "config_test: $1"
	# shellcheck disable=SC2086
	$cc $cflags $2 -I"$src" -I"$lib" -o "$build/config_test$3" $files
	"$build/config_test$3" "$here"
}

run "$cc" "" ""
if [ "${NO_SANITIZE:-0}" != 1 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    run "$cc, ASan and UBSan" \
	    "-fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all" "-san"
fi
