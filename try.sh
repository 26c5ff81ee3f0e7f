#!/bin/sh
# SPDX-License-Identifier: ISC
# ./try.sh [PORT]: build oneportd and run it in the foreground with the
# example services of examples/oneportd.conf on 127.0.0.1 and ::1, port
# PORT (7001 by default), with the two programs that file names: the pass
# service's build/echo-service and, on PORT+1, the daytime server the
# redirect points at (socat). From another terminal (README.md, "Try it"):
#   printf 'help\r\n' | nc 127.0.0.1 7001          the services offered
#   printf 'daytime\r\n' | nc 127.0.0.1 7001       spawn: date -u
#   echo hello | build/oneport 127.0.0.1:7001 echo      spawn: cat
#   echo hello | build/oneport 127.0.0.1:7001 libecho   pass: echo-service
#   build/oneport 127.0.0.1:7001 moved             redirect: "@7002 host=127.0.0.1", followed
# Ctrl-C stops all three.
set -eu
cd "$(dirname "$0")"
usage() {
	echo "usage: ./try.sh [port]   (a port number from 1 to 65534;" \
	    "the redirect's server takes the next one)" >&2
	exit 2
}
[ $# -le 1 ] || usage
port=${1:-7001}
case $port in
'' | *[!0-9]* | 0*) usage ;;
esac
[ "$port" -le 65534 ] || usage
next=$((port + 1))
. scripts/deps.sh
need $BUILD_DEPS netcat-openbsd socat
make
if [ "$(id -u)" -eq 0 ] && ! getent passwd oneportd >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin oneportd
fi

# The example with this run's ports and socket. The copy is ours, so
# oneportd, which as root reads only a file root owns, takes it.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneport-try.XXXXXX")
pids=
trap 'kill $pids 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM
sed -e "s|port 7001\$|port $port|; s|port 7002\$|port $next|" \
    -e "s|\"/tmp/oneport-try/echo.sock\"|\"$tmp/echo.sock\"|" \
    examples/oneportd.conf >"$tmp/oneportd.conf"
chmod 644 "$tmp/oneportd.conf"

build/echo-service -e "$tmp/echo.sock" &
pids="$pids $!"
socat TCP-LISTEN:"$next",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"/bin/date -u" &
pids="$pids $!"
# Both must be up before the first client; neither takes long.
i=0
until [ -S "$tmp/echo.sock" ] && nc -z 127.0.0.1 "$next" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "try.sh: echo-service or socat did not start" \
		    "(is port $next free?)" >&2
		exit 1
	fi
	sleep 0.1
done
# In the background, so that a signal to this script stops all three.
./oneportd -d -f "$tmp/oneportd.conf" &
pids="$pids $!"
wait $!
