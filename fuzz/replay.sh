#!/bin/sh
# SPDX-License-Identifier: ISC
# Replay every committed fuzz input (corpus and past crashes) through each
# target, built with the same compiler and sanitizers as the daemon.
set -eu
B=${1:-build}
CC=${CC:-cc}
FLAGS="-g -std=c11 -D_GNU_SOURCE -Isrc/parent -Isrc/frontend -Isrc/cluster -Isrc/common -Ilib"
case "$B" in *san*) FLAGS="$FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined";; esac
# Every target: fuzz/NAME.srcs names what NAME_fuzz.c is built with.
for t in $(ls fuzz/*.srcs | sed 's|fuzz/||; s|\.srcs$||'); do
	# @B@: the build directory (bison's parse.c is generated there).
	$CC $FLAGS -o "$B/${t}_replay" fuzz/replay.c fuzz/${t}_fuzz.c \
	    $(sed "s|@B@|$B|g" fuzz/${t}.srcs)
	find fuzz/corpus/$t fuzz/crashes/$t -type f -print0 |
	    xargs -0 "$B/${t}_replay"
done
