#!/bin/sh
# SPDX-License-Identifier: ISC
# The include rules of src/ (make check): a frontend file or a shared one
# never names a header of the parent, a shared file none of the frontend's
# either, and no chain of includes comes back to where it started. The -I
# flags of the Makefile already keep such an include from compiling; this
# says why in one line instead of a missing-file error.
set -eu
cd "$(dirname "$0")/.."
status=0
refuse() {	# refuse FOLDER HEADERS...: no file of FOLDER includes them
	dir=$1
	shift
	for h; do
		if grep -l "^#[[:space:]]*include[[:space:]]*\"$h\"" \
		    "$dir"/* >/dev/null; then
			grep -l "^#[[:space:]]*include[[:space:]]*\"$h\"" \
			    "$dir"/* | sed "s|\$| includes $h, another's header|"
			status=1
		fi
	done
}
# shellcheck disable=SC2046
refuse src/frontend $(cd src/parent && ls -- *.h)
# shellcheck disable=SC2046
refuse src/common $(cd src/parent && ls -- *.h) $(cd src/frontend && ls -- *.h)
# The relay sees only the shared headers.
# shellcheck disable=SC2046
refuse src/relay $(cd src/parent && ls -- *.h) $(cd src/frontend && ls -- *.h)
# shellcheck disable=SC2046
refuse src/common $(cd src/relay && ls -- *.h)
# Every "file header" pair, for tsort(1) to find a circle in.
for f in src/*/*; do
	sed -n "s|^#[[:space:]]*include[[:space:]]*\"\(.*\)\".*|${f##*/} \1|p" \
	    "$f"
done | tsort >/dev/null || status=1
[ "$status" -eq 0 ] && echo "check-includes: no parent header outside the parent, no circle"
exit "$status"
