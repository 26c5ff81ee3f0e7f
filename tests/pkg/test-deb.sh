#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/pkg/test-deb.sh: the Debian packages, end to end. Builds them with
# dpkg-buildpackage -us -uc -b in a copy of the tree, runs lintian (no
# error allowed), installs the four packages, starts the installed daemon
# (directly: CI has no systemd) with a spawn and a pass service, the pass
# service built from the installed liboneport-dev, talks to both with the
# installed client, then purges them and checks that nothing they put
# there is left. Root only: it installs packages. Run by check.sh.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/pkg/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "test-deb: skipped (not root)"
	exit 0
fi
PKGS="oneportd oneport liboneport1 liboneport-dev"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneport-deb.XXXXXX")
chmod 755 "$tmp"
pid=
lintian=
had_user=0
getent passwd oneportd >/dev/null && had_user=1
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$lintian" ] || wait "$lintian" 2>/dev/null || true
	# Never leave the packages behind, even after a failure.
	for p in $PKGS; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -qv 'not-installed'; then
			apt_get purge "$p" >/dev/null 2>&1 || true
		fi
	done
	# check.sh made this user before; the purge removed it.
	if [ $had_user = 1 ] && ! getent passwd oneportd >/dev/null; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin oneportd
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM
fail() {
	echo "test-deb: $*" >&2
	[ ! -s "$tmp/daemon.err" ] || sed 's/^/test-deb: daemon: /' \
	    "$tmp/daemon.err" >&2
	exit 1
}
# Other apt and dpkg runs on the machine: wait for their lock, bounded.
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -y -q \
	    -o DPkg::Lock::Timeout=120 "$@"
}

for p in $PKGS; do
	! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed ||
	    fail "$p is installed already; purge it first"
done

phase() {
	echo "test-deb: $1 ($(($(date +%s) - start)) s)"
}
start=$(date +%s)

# 1. Build, from the files git has (what a clone has), in a copy.
mkdir "$tmp/src"
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$here" && git ls-files -co --exclude-standard | while read -r f; do
		[ -e "$f" ] && printf '%s\n' "$f"
	done | tar -cf - -T -) | tar -xf - -C "$tmp/src"
else
	(cd "$here" && tar -cf - --exclude=./build --exclude=./build-san \
	    --exclude=./build-fuzz --exclude=./oneportd .) |
	    tar -xf - -C "$tmp/src"
fi
(cd "$tmp/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck noddebs" \
    dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1) || {
	tail -n 30 "$tmp/build.log" >&2
	fail "dpkg-buildpackage failed"
}
grep '^dh_missing: warning' "$tmp/build.log" >&2 || true
version=$(cat "$here/VERSION")
changes=$tmp/oneport_${version}_$(dpkg --print-architecture).changes
[ -f "$changes" ] || fail "no $changes"

phase built
# 2. Lintian, beside the rest (it reads the files, as dpkg does): its
# errors fail the test at the end, the rest is shown.
lintian --fail-on error --allow-root "$changes" >"$tmp/lintian.log" 2>&1 &
lintian=$!

# 3. Install: the four packages, the user, the configuration as conffile.
debs=
for p in $PKGS; do
	debs="$debs $tmp/${p}_${version}_$(dpkg --print-architecture).deb"
done
# shellcheck disable=SC2086
apt_get install --no-install-recommends $debs >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log" >&2
	fail "installing the packages failed"
}
getent passwd oneportd >/dev/null || fail "no user oneportd after install"
dpkg-query -W -f='${Conffiles}\n' oneportd | grep -q ' /etc/oneportd.conf ' ||
    fail "/etc/oneportd.conf is not a conffile of oneportd"
[ "$(oneportd -V)" = "oneportd $version" ] || fail "oneportd -V: $(oneportd -V)"
[ "$(oneport -V)" = "oneport $version" ] || fail "oneport -V: $(oneport -V)"
[ "$(command -v oneportd)" = /usr/sbin/oneportd ] ||
    fail "oneportd is $(command -v oneportd), not /usr/sbin/oneportd"
/usr/sbin/oneportd -nv >"$tmp/n.out" 2>"$tmp/n.err" ||
    fail "oneportd -n rejects the installed /etc/oneportd.conf: $(cat "$tmp/n.err")"
# Its frontend's root is the package's, not /var/empty.
grep -qx 'chroot "/var/lib/oneportd"' "$tmp/n.out" ||
    fail "the installed configuration's chroot is not /var/lib/oneportd"
# The units, with the installed paths, neither enabled nor started.
for u in oneportd.service oneportd.socket; do
	[ ! -f "$here/systemd/$u" ] || [ -f "/lib/systemd/system/$u" ] ||
	    fail "no /lib/systemd/system/$u"
done
[ ! -f "$here/systemd/oneportd.service" ] ||
    grep -q '^ExecStart=/usr/sbin/oneportd .*-f /etc/oneportd.conf' \
    /lib/systemd/system/oneportd.service ||
    fail "oneportd.service does not start /usr/sbin/oneportd"
[ ! -e /etc/systemd/system/multi-user.target.wants/oneportd.service ] ||
    fail "oneportd.service was enabled at install"
pkg-config --modversion liboneport | grep -qx "$version" ||
    fail "pkg-config liboneport is not $version"

phase installed
# 4. Run it: a spawn service and a pass service whose program is built
# against the installed library, on a port of the kernel's choice.
# shellcheck disable=SC2046
cc -o "$tmp/echo-service" /usr/share/doc/oneportd/examples/echo-service.c \
    $(pkg-config --cflags --libs liboneport) ||
    fail "echo-service does not build with liboneport-dev"
ldd "$tmp/echo-service" | grep -q 'liboneport.so.1 => /\(usr/\)\{0,1\}lib/' ||
    fail "echo-service is not linked with the installed liboneport.so.1"
cat >"$tmp/test.conf" <<CONF
listen on 127.0.0.1 port 0
control "$tmp/control.sock"
chroot "/var/lib/oneportd"
service "daytime" { command "/bin/date" "-u" }
service "echo" {
	socket "$tmp/echo.sock"
	command "$tmp/echo-service" "-e"
}
CONF
/usr/sbin/oneportd -d -f "$tmp/test.conf" >"$tmp/daemon.err" 2>&1 &
pid=$!
up() {
	has "$tmp/daemon.err" 'listening on 127.0.0.1:' || gone "$pid"
}
poll 100 up && ! gone "$pid" ||
    fail "the installed oneportd did not start listening"
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$tmp/daemon.err" | head -n 1)
out=$(timeout 20 oneport 127.0.0.1 "$port" daytime) ||
    fail "oneport 127.0.0.1 $port daytime failed"
case $out in
*UTC*)	;;
*)	fail "daytime said: $out" ;;
esac
# The pass service comes up beside the daemon; ask until it does.
ask() {
	out=$(echo "hello through liboneport" |
	    timeout 20 oneport "127.0.0.1:$port" echo 2>"$tmp/client.err")
}
poll 50 ask || fail "oneport to the pass service: $(cat "$tmp/client.err")"
# echo-service says who called first, then echoes.
[ "$(printf '%s\n' "$out" | tail -n 1)" = "hello through liboneport" ] ||
    fail "echo said: $out"
[ "$(timeout 20 oneport -l "127.0.0.1:$port")" = "$(printf 'daytime\necho')" ] ||
    fail "oneport -l does not list daytime and echo"
kill "$pid"
poll 100 gone "$pid" || fail "oneportd did not stop on SIGTERM"
pid=

phase "ran and stopped"
# 5. Purge: no file of any package, no configuration, no user.
files=$tmp/files
for p in $PKGS; do
	dpkg-query -L "$p"
done | grep -v '^/\.$' | LC_ALL=C sort -u >"$files"
# shellcheck disable=SC2086
apt_get purge $PKGS >"$tmp/purge.log" 2>&1 || {
	cat "$tmp/purge.log" >&2
	fail "purging the packages failed"
}
for p in $PKGS; do
	! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed ||
	    fail "$p is still installed after the purge"
done
left=
while read -r f; do
	# Folders of other packages (/usr/bin, ...) stay, as they should.
	if [ -e "$f" ] && ! { [ -d "$f" ] && dpkg-query -S "$f" >/dev/null 2>&1; }
	then
		left="$left $f"
	fi
done <"$files"
for f in /etc/oneportd.conf /var/lib/oneportd /usr/share/doc/oneportd; do
	[ ! -e "$f" ] || left="$left $f"
done
[ -z "$left" ] || fail "left after the purge:$left"
getent passwd oneportd >/dev/null && fail "user oneportd left after the purge"
getent group oneportd >/dev/null && fail "group oneportd left after the purge"
if ! wait "$lintian"; then
	cat "$tmp/lintian.log" >&2
	fail "lintian found errors"
fi
echo "test-deb: lintian: $(grep -c '^[EW]:' "$tmp/lintian.log") errors" \
    "and warnings, $(grep -c '^[IP]:' "$tmp/lintian.log") notes"
sed 's/^/test-deb: lintian: /' "$tmp/lintian.log"
phase ok
