#!/bin/sh
# SPDX-License-Identifier: ISC
# Build everything with ASan+UBSan and warnings as errors, then run every
# test layer: parser tables, config tests, fuzz-input replay, black-box
# tests against the real daemon (sanitized, then plain), and a short
# libFuzzer run.
set -eu
cd "$(dirname "$0")"
. scripts/deps.sh
# test_forward: nginx behind oneportd, sshd and its client through it.
need nginx-light openssh-server openssh-client openssl
# test_systemd: systemd-socket-activate, systemd-analyze.
need systemd
# test_cluster: a real etcd member, hosts in network namespaces.
need etcd-server etcd-client iproute2
need $BUILD_DEPS clang libclang-rt-14-dev python3 mandoc netcat-openbsd \
    socat xinetd procps openssl curl openssh-client openssh-server stunnel4 \
    haproxy python3-prometheus-client
# The Debian packages: built, checked by lintian, installed, run, purged;
# first, so that on a fresh machine the package makes the oneportd user.
need debhelper lintian
sh tests/pkg/test-deb.sh
if [ "$(id -u)" -eq 0 ] && ! getent passwd oneportd >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin oneportd
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
make SANITIZE=1 WERROR=1 check
# Once more on the plain build: the production seccomp filter, without the
# calls the sanitizers need, is what the black-box tests meet.
make WERROR=1
ONEPORTD=$(pwd)/build/oneportd python3 -m unittest discover \
    -s tests/blackbox -p 'test_*.py'
# ./try.sh and the README's commands against it, on the plain build.
sh tests/pkg/test-try.sh
make fuzz
# Every target: fuzz/NAME.srcs names what NAME_fuzz.c is built with.
for t in $(ls fuzz/*.srcs | sed 's|fuzz/||; s|\.srcs$||'); do
	# git keeps no empty folder: a target without crash inputs yet has none.
	mkdir -p build-fuzz/corpus-$t fuzz/crashes/$t
	build-fuzz/${t}_fuzz -max_total_time=${FUZZ_SECONDS:-20} \
	    -dict=fuzz/$t.dict -artifact_prefix=fuzz/crashes/$t/ \
	    build-fuzz/corpus-$t fuzz/corpus/$t
done
echo "check: all passed"
