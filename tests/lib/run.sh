#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/lib/run.sh: liboneport as built in BUILDDIR. The shared library
# must export the oneport_* API and nothing else, under its soname, and
# liboneport.pc must be usable; then lib_test plays oneportd against the
# library and against the example echo-service.
# Usage: tests/lib/run.sh [BUILDDIR]   (make lib-check builds what it needs)
set -eu

B=${1:-build}
so=$B/liboneport.so.1
api="oneport_accept oneport_close oneport_conn_close oneport_listen
    oneport_connect oneport_errstr oneport_greeting oneport_help oneport_query
    oneport_register oneport_register_port oneport_server_fd oneport_token_check oneport_strerror"

for f in "$so" "$B/liboneport.a" "$B/liboneport.pc" "$B/lib_test" \
    "$B/echo-service"; do
	if [ ! -e "$f" ]; then
		echo "run.sh: $f is missing (make lib)" >&2
		exit 2
	fi
done

# A sanitizer build's library also defines the sanitizers' hooks.
exported=$(nm -D --defined-only "$so" | awk '{ print $3 }' |
    grep -v -e '^__asan' -e '^__ubsan' -e '^__odr_asan' -e '^__sanitizer' |
    sort)
want=$(printf '%s\n' $api | sort)
if [ "$exported" != "$want" ]; then
	echo "run.sh: $so exports:" $exported >&2
	echo "run.sh: expected:" $want >&2
	exit 1
fi
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != liboneport.so.1 ]; then
	echo "run.sh: soname is '$soname', not liboneport.so.1" >&2
	exit 1
fi
flags=$(pkg-config --cflags --libs "$B/liboneport.pc")
case $flags in
*-loneport*) ;;
*)	echo "run.sh: liboneport.pc gives '$flags'" >&2
	exit 1 ;;
esac
echo "run.sh: $so exports the API only; soname and .pc good"

"$B/lib_test" "$B/echo-service"
