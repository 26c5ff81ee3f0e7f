#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/client/run.sh: the black-box tests of the oneport command, as built
# in BUILDDIR, against the real oneportd of the same build, fake servers
# and xinetd. Every test is bounded in time.
# Usage: tests/client/run.sh [BUILDDIR]   (make lib-check builds what it needs)
set -eu

B=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for f in "$B/oneport" "$B/oneportd" "$B/token-service"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is missing (make lib-check)" >&2
		exit 2
	fi
done
ONEPORT=$B/oneport ONEPORTD=$B/oneportd TOKEN_SERVICE=$B/token-service \
    exec python3 -m unittest discover -s "$here" -p 'test_*.py' -v
