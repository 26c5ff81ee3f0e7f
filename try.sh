#!/bin/sh
# SPDX-License-Identifier: ISC
# Build oneportd and run it in the foreground with the example services on
# 127.0.0.1:7001. Try it from another terminal:
#   printf 'help\r\n' | nc 127.0.0.1 7001
#   printf 'date\r\n' | nc 127.0.0.1 7001
#   socat - TCP:127.0.0.1:7001   (then type: echo, Enter, and anything)
set -eu
cd "$(dirname "$0")"
. scripts/deps.sh
need $BUILD_DEPS netcat-openbsd socat
make
if [ "$(id -u)" -eq 0 ] && ! getent passwd oneportd >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin oneportd
fi
conf=examples/oneportd.conf
if [ "$(id -u)" -eq 0 ] && [ "$(stat -c %u "$conf")" -ne 0 ]; then
	# As root, oneportd reads only a configuration root owns.
	conf=$(mktemp "${TMPDIR:-/tmp}/oneportd.conf.XXXXXX")
	install -m 644 examples/oneportd.conf "$conf"
fi
exec ./oneportd -d -f "$conf"
