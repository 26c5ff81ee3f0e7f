#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/pkg/test-install.sh: `make install` into a DESTDIR puts each file
# where the variables say, with a liboneport.pc that says the same and
# that a program builds with; it keeps a configuration already there;
# `make uninstall` leaves no file behind. Run by `make check`, with the
# make flags of that run: tests/pkg/test-install.sh [make-arguments ...]
set -eu
cd "$(dirname "$0")/../.."
make=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneport-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM
fail() {
	echo "test-install: $*" >&2
	exit 1
}
version=$(cat VERSION)

# Every path of the tree under $1, files and links, one a line, sorted.
tree() {
	(cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)
}

# 1. The defaults: /usr/local, the configuration in /etc.
d=$tmp/default
$make -s "$@" install DESTDIR="$d" >/dev/null
for f in usr/local/sbin/oneportd usr/local/bin/oneport \
    usr/local/lib/liboneport.a usr/local/lib/liboneport.so.1 \
    usr/local/lib/liboneport.so usr/local/lib/pkgconfig/liboneport.pc \
    usr/local/include/oneport.h usr/local/share/man/man8/oneportd.8 \
    usr/local/share/man/man5/oneportd.conf.5 \
    usr/local/share/man/man1/oneport.1 \
    usr/local/share/man/man3/liboneport.3 \
    usr/local/share/doc/oneport/examples/oneportd.conf \
    usr/local/share/doc/oneport/examples/echo-service.c etc/oneportd.conf; do
	[ -e "$d/$f" ] || fail "make install: no $f"
done
cmp -s etc/oneportd.conf "$d/etc/oneportd.conf" ||
    fail "make install: etc/oneportd.conf is not the default configuration"
grep -qx 'prefix=/usr/local' "$d/usr/local/lib/pkgconfig/liboneport.pc" ||
    fail "liboneport.pc: not prefix=/usr/local"
# The default configuration is one oneportd accepts, and it offers
# nothing: no service, and so nothing to reach.
"$d/usr/local/sbin/oneportd" -nv -f "$d/etc/oneportd.conf" >"$tmp/nv" ||
    fail "oneportd -n rejects the installed configuration"
! grep -q '^service' "$tmp/nv" ||
    fail "the default configuration offers a service"

# An administrator's configuration survives install and uninstall.
echo '# mine' >>"$d/etc/oneportd.conf"
$make -s "$@" install DESTDIR="$d" >/dev/null
tail -n 1 "$d/etc/oneportd.conf" | grep -qx '# mine' ||
    fail "make install replaced an existing configuration"
$make -s "$@" uninstall DESTDIR="$d" >/dev/null
left=$(tree "$d")
[ "$left" = etc/oneportd.conf ] ||
    fail "make uninstall left more than the changed configuration:" $left

# 2. A distribution's layout: the .pc follows PREFIX and LIBDIR, and the
# example service builds and links against the installed library alone.
d=$tmp/distro
$make -s "$@" install DESTDIR="$d" PREFIX=/usr LIBDIR=/usr/lib/multi \
    SYSCONFDIR=/etc/op >/dev/null
pc=$d/usr/lib/multi/pkgconfig/liboneport.pc
[ -f "$pc" ] || fail "PREFIX=/usr LIBDIR=/usr/lib/multi: no $pc"
grep -qx 'prefix=/usr' "$pc" || fail "liboneport.pc: not prefix=/usr"
grep -qx 'libdir=${prefix}/lib/multi' "$pc" ||
    fail "liboneport.pc: libdir is not \${prefix}/lib/multi"
grep -qx "Version: $version" "$pc" || fail "liboneport.pc: not version $version"
[ -f "$d/etc/op/oneportd.conf" ] || fail "SYSCONFDIR=/etc/op: no config"
# The daemon built for it looks there by default.
"$d/usr/sbin/oneportd" -n 2>&1 | grep -q '^/etc/op/oneportd.conf' ||
    fail "SYSCONFDIR=/etc/op: oneportd does not read /etc/op/oneportd.conf"
flags=$(PKG_CONFIG_SYSROOT_DIR=$d PKG_CONFIG_LIBDIR=$d/usr/lib/multi/pkgconfig \
    pkg-config --cflags --libs liboneport)
# shellcheck disable=SC2086
${CC:-cc} -o "$tmp/echo-service" examples/echo-service.c $flags \
    -Wl,-rpath,"$d/usr/lib/multi" || fail "echo-service does not build from the .pc"
ldd "$tmp/echo-service" | grep -q "$d/usr/lib/multi/liboneport.so.1" ||
    fail "echo-service is not linked to the installed liboneport.so.1"
$make -s "$@" uninstall DESTDIR="$d" PREFIX=/usr LIBDIR=/usr/lib/multi \
    SYSCONFDIR=/etc/op >/dev/null
left=$(tree "$d")
[ -z "$left" ] || fail "make uninstall left:" $left
# The tests after this one run the build of the default variables.
$make -s "$@" all >/dev/null
echo "test-install: ok"
