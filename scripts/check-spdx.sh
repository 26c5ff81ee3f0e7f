#!/bin/sh
# SPDX-License-Identifier: ISC
# scripts/check-spdx.sh: every source file git knows (C, headers, the
# grammar, scripts, makefiles, python, man pages, units) names its licence
# in its first lines, so a file copied out of the tree still says under
# which terms. Exits 1 and names each file that does not.
set -eu
cd "$(dirname "$0")/.."
git rev-parse --git-dir >/dev/null 2>&1 || exit 0
bad=0
for f in $(git ls-files -co --exclude-standard -- '*.c' '*.h' '*.y' '*.sh' \
    '*.py' '*.mk' Makefile 'man/*.[1-9]' 'bench/run*' 'systemd/*' \
    'debian/rules' 'debian/*.postinst' 'debian/*.postrm' 'debian/*.prerm' \
    'cmd/*' 'scripts/*'); do
	[ -f "$f" ] || continue
	if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: ISC'; then
		echo "$f: no 'SPDX-License-Identifier: ISC' in its first 3 lines" \
		    "(add it as a comment, see LICENSE)" >&2
		bad=1
	fi
done
exit $bad
