# SPDX-License-Identifier: ISC
# Sourced by try.sh and check.sh: install the Debian packages that are
# missing, and only those (one apt-get update, only when needed).
need() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing" >&2
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing
}
BUILD_DEPS="gcc make bison libseccomp-dev pkg-config libc6-dev libjson-c-dev \
    libssl-dev"
