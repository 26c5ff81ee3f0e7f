# SPDX-License-Identifier: ISC
# oneport: plain make. `make` builds oneportd; `make SANITIZE=1` builds the
# same with ASan and UBSan into build-san/; `make check` runs every test
# layer; `make fuzz` builds the libFuzzer targets with clang.

CC	?= cc
BISON	?= bison
VERSION	:= $(shell cat VERSION)

# Where `make install` puts things; DESTDIR is prepended to each. The
# configuration is /etc/oneportd.conf unless SYSCONFDIR says otherwise,
# whatever the PREFIX: the daemon is built to read it there.
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR	?= $(PREFIX)/share
MANDIR	?= $(DATADIR)/man
DOCDIR	?= $(DATADIR)/doc/oneport
EXAMPLESDIR ?= $(DOCDIR)/examples
SYSCONFDIR ?= /etc
UNITDIR	?= $(PREFIX)/lib/systemd/system

# CFLAGS, CPPFLAGS and LDFLAGS are the builder's (`make CFLAGS=-O0`,
# dpkg-buildflags); what the code needs is added to them here, the
# builder's last so that they win. Add the project's own flags to
# ONEPORT_CFLAGS, not to CFLAGS: after the override below, a plain
# `CFLAGS +=` is ignored.
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wwrite-strings
CFLAGS	?= -O2 -g
ONEPORT_CPPFLAGS = -D_GNU_SOURCE -Ilib
ONEPORT_CFLAGS	 = -std=c11 $(WARN)
ONEPORT_LDFLAGS	 =
LDLIBS	+= -lseccomp -ljson-c -lcrypto

ifeq ($(WERROR),1)
ONEPORT_CFLAGS	+= -Werror
endif
ifeq ($(SANITIZE),1)
B	 = build-san
ONEPORT_CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined -DONEPORT_SANITIZE
ONEPORT_LDFLAGS	+= -fsanitize=address,undefined
else
B	 = build
endif
override CFLAGS	 := $(ONEPORT_CPPFLAGS) $(CPPFLAGS) $(ONEPORT_CFLAGS) $(CFLAGS)
override LDFLAGS := $(ONEPORT_LDFLAGS) $(LDFLAGS)

# The rules below come before `all`, which stays the goal of a bare make.
.DEFAULT_GOAL := all

# What the programs are told at build time, kept in a file that changes
# only when a value does, so that what uses it is rebuilt then and only
# then: `make install PREFIX=/usr` after `make` rewrites liboneport.pc.
BUILD_VARS = VERSION=$(VERSION) PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) \
	     INCLUDEDIR=$(INCLUDEDIR) SYSCONFDIR=$(SYSCONFDIR)
$(B)/build-vars: FORCE | $(B)
	@printf '%s\n' '$(BUILD_VARS)' | cmp -s - $@ || \
	    printf '%s\n' '$(BUILD_VARS)' >$@
FORCE:
# The version and the configuration's path, for each program's -V and
# default -f.
DEFINES	= -DONEPORT_VERSION='"$(VERSION)"' \
	  -DONEPORTD_CONF='"$(SYSCONFDIR)/oneportd.conf"'
$(B)/parent/oneportd.o $(B)/oneport: $(B)/build-vars
$(B)/parent/oneportd.o $(B)/oneport: override CFLAGS += $(DEFINES)

# One folder per process, and the pieces both use. The -I flags are the
# rule: a frontend or shared file cannot see the parent's header, and
# the parent sees the frontend's only for frontend_run.
PARENT_OBJS	= oneportd loop answer felink rlink child dispatch spawn handoff \
		  control supervise redirect sockdiag errline listen notify upgrade \
		  stats status clink ctoken remote
PARENT_OBJS	+= proc rkeep
FRONTEND_OBJS	= frontend source sandbox request probe tls http ssh proxy route \
		  metrics scrape
FRONTEND_OBJS	+= access lend pass
COMMON_OBJS	= config parse printconf addr log ipc linger refusal proxyout \
		  privdrop clusterconf clusteripc takeback
RELAY_OBJS	= relay lent pipes table sandbox
CLUSTER_OBJS	= cluster etcd sandbox
COMMON_INC	= -Isrc/common
FRONTEND_INC	= -Isrc/frontend $(COMMON_INC)
RELAY_INC	= -Isrc/relay $(COMMON_INC)
CLUSTER_INC	= -Isrc/cluster $(COMMON_INC)
PARENT_INC	= -Isrc/parent -Isrc/relay -Isrc/cluster $(FRONTEND_INC)
COMMON_H	= $(wildcard src/common/*.h) lib/wire.h lib/ancil.h lib/name.h
FRONTEND_H	= $(wildcard src/frontend/*.h) $(COMMON_H)
RELAY_H		= $(wildcard src/relay/*.h) $(COMMON_H)
CLUSTER_H	= $(wildcard src/cluster/*.h) $(COMMON_H)
PARENT_H	= $(wildcard src/parent/*.h) $(RELAY_H) $(CLUSTER_H) \
		  $(FRONTEND_H)
OBJS	= $(PARENT_OBJS:%=$(B)/parent/%.o) \
	  $(FRONTEND_OBJS:%=$(B)/frontend/%.o) \
	  $(RELAY_OBJS:%=$(B)/relay/%.o) \
	  $(CLUSTER_OBJS:%=$(B)/cluster/%.o) \
	  $(COMMON_OBJS:%=$(B)/common/%.o) $(B)/lib/wire.o $(B)/lib/ancil.o \
	  $(B)/lib/name.o

# ./oneportd is the plain build; a sanitizer build stays in build-san/.
ifeq ($(SANITIZE),1)
all: $(B)/oneportd lib
else
all: $(B)/oneportd oneportd lib
endif

oneportd: $(B)/oneportd
	ln -sf $(B)/oneportd $@

$(B)/oneportd: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(B)/parent/%.o: src/parent/%.c $(PARENT_H) | $(B)/parent
	$(CC) $(CFLAGS) $(PARENT_INC) -c -o $@ $<
$(B)/frontend/%.o: src/frontend/%.c $(FRONTEND_H) | $(B)/frontend
	$(CC) $(CFLAGS) $(FRONTEND_INC) -c -o $@ $<
$(B)/relay/%.o: src/relay/%.c $(RELAY_H) | $(B)/relay
	$(CC) $(CFLAGS) $(RELAY_INC) -c -o $@ $<
$(B)/cluster/%.o: src/cluster/%.c $(CLUSTER_H) | $(B)/cluster
	$(CC) $(CFLAGS) $(CLUSTER_INC) -c -o $@ $<
$(B)/common/%.o: src/common/%.c $(COMMON_H) | $(B)/common
	$(CC) $(CFLAGS) $(COMMON_INC) -c -o $@ $<

# Generated code gets the warnings it was written for, not ours.
$(B)/common/parse.c: src/common/parse.y | $(B)/common
	$(BISON) -o $@ $<
$(B)/common/parse.o: $(B)/common/parse.c $(COMMON_H)
	$(CC) $(CFLAGS) $(COMMON_INC) -Wno-missing-prototypes -c -o $@ $<

$(B) $(B)/parent $(B)/frontend $(B)/relay $(B)/cluster $(B)/common:
	mkdir -p $@

# ---- tests ----
TEST_REQUEST = $(B)/request_test
$(TEST_REQUEST): tests/unit/request_test.c $(B)/frontend/request.o \
		 $(B)/common/config.o $(B)/common/clusterconf.o $(B)/common/log.o $(B)/common/addr.o \
		 $(B)/lib/name.o
	$(CC) $(CFLAGS) $(FRONTEND_INC) $(LDFLAGS) -o $@ $^

TEST_PROBE = $(B)/probe_test
PROBE_OBJS = probe tls http ssh proxy route request
$(TEST_PROBE): tests/unit/probe_test.c $(PROBE_OBJS:%=$(B)/frontend/%.o) \
		 $(B)/common/config.o $(B)/common/clusterconf.o $(B)/common/log.o $(B)/common/addr.o \
		 $(B)/lib/name.o
	$(CC) $(CFLAGS) $(FRONTEND_INC) $(LDFLAGS) -o $@ $^

# The PROXY headers the relay builds, read back by the frontend's parser.
TEST_PROXYOUT = $(B)/proxyout_test
$(TEST_PROXYOUT): tests/unit/proxyout_test.c $(B)/common/proxyout.o \
		 $(B)/frontend/proxy.o
	$(CC) $(CFLAGS) $(FRONTEND_INC) $(LDFLAGS) -o $@ $^

TEST_SANDBOX = $(B)/sandbox_test
$(TEST_SANDBOX): tests/unit/sandbox_test.c $(B)/frontend/sandbox.o \
		 $(B)/common/privdrop.o $(B)/common/log.o
	$(CC) $(CFLAGS) $(FRONTEND_INC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check: all $(TEST_REQUEST) $(TEST_PROBE) $(TEST_PROXYOUT) $(TEST_SANDBOX) \
       lib-check
	$(TEST_REQUEST)
	$(TEST_PROBE)
	$(TEST_PROXYOUT)
	$(TEST_SANDBOX)
	sh scripts/check-includes.sh
	sh scripts/check-spdx.sh
	MAKE=$(MAKE) sh tests/pkg/test-install.sh SANITIZE=$(SANITIZE) \
	    WERROR=$(WERROR)
	sh tests/config/run.sh $(CURDIR)/$(B)/config-test
	sh fuzz/replay.sh $(B)
	sh man/lint.sh
	sh docs/check-draft.sh
	ONEPORTD=$(CURDIR)/$(B)/oneportd python3 -m unittest discover \
	    -s tests/spec -p 'test_*.py' 
	ONEPORTD=$(CURDIR)/$(B)/oneportd python3 -m unittest discover \
	    -s tests/blackbox -p 'test_*.py' -v

# ---- fuzzing (clang) ----
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE $(PARENT_INC) -Ilib \
	      -fsanitize=fuzzer,address,undefined
fuzz: build-fuzz/request_fuzz build-fuzz/wire_fuzz build-fuzz/reply_fuzz \
      build-fuzz/ipc_config_fuzz build-fuzz/ipc_frontend_fuzz \
      build-fuzz/ipc_relay_fuzz \
      build-fuzz/errline_fuzz build-fuzz/config_fuzz build-fuzz/probe_fuzz \
      build-fuzz/proxy_fuzz build-fuzz/proxyout_fuzz build-fuzz/scrape_fuzz \
      build-fuzz/etcd_fuzz build-fuzz/ipc_cluster_fuzz build-fuzz/ipc_parent_fuzz
FUZZ_CONFIG = src/common/config.c src/common/log.c src/common/addr.c \
	      src/common/clusterconf.c lib/name.c
build-fuzz/request_fuzz: fuzz/request_fuzz.c src/frontend/request.c \
		$(FUZZ_CONFIG) $(FRONTEND_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/request_fuzz.c src/frontend/request.c \
	    $(FUZZ_CONFIG)
# The probes of a client's first bytes and route.c; the PROXY header.
PROBE_SRCS = $(PROBE_OBJS:%=src/frontend/%.c)
build-fuzz/probe_fuzz: fuzz/probe_fuzz.c $(PROBE_SRCS) $(FUZZ_CONFIG) \
		$(FRONTEND_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/probe_fuzz.c $(PROBE_SRCS) \
	    $(FUZZ_CONFIG)
build-fuzz/proxy_fuzz: fuzz/proxy_fuzz.c src/frontend/proxy.c $(FRONTEND_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/proxy_fuzz.c src/frontend/proxy.c
build-fuzz/scrape_fuzz: fuzz/scrape_fuzz.c src/frontend/scrape.c $(FRONTEND_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/scrape_fuzz.c src/frontend/scrape.c
# What the relay builds, read back by what the frontend parses.
build-fuzz/proxyout_fuzz: fuzz/proxyout_fuzz.c src/common/proxyout.c \
		src/frontend/proxy.c $(FRONTEND_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/proxyout_fuzz.c \
	    src/common/proxyout.c src/frontend/proxy.c
# The messages between the frontend and the parent, each direction.
build-fuzz/ipc_%_fuzz: fuzz/ipc_%_fuzz.c src/common/ipc.c $(FUZZ_CONFIG) \
		lib/ancil.c $(COMMON_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ $< src/common/ipc.c $(FUZZ_CONFIG) \
	    lib/ancil.c
# What the cluster process reads of etcd's; the parent <-> it messages.
build-fuzz/etcd_fuzz: fuzz/etcd_fuzz.c src/cluster/etcd.c $(CLUSTER_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/etcd_fuzz.c src/cluster/etcd.c \
	    -ljson-c
build-fuzz/ipc_cluster_fuzz: fuzz/ipc_cluster_fuzz.c src/common/clusteripc.c \
		src/common/ipc.c $(FUZZ_CONFIG) lib/ancil.c $(COMMON_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/ipc_cluster_fuzz.c \
	    src/common/clusteripc.c src/common/ipc.c $(FUZZ_CONFIG) lib/ancil.c
build-fuzz/errline_fuzz: fuzz/errline_fuzz.c src/parent/errline.c $(PARENT_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/errline_fuzz.c src/parent/errline.c
build-fuzz/config_fuzz: fuzz/config_fuzz.c build/common/parse.c \
		$(FUZZ_CONFIG) src/common/printconf.c $(COMMON_H)
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/config_fuzz.c build/common/parse.c \
	    $(FUZZ_CONFIG) src/common/printconf.c

# ---- install ----
# Other programs add themselves to these lists and are installed and
# uninstalled with the rest; every man page in man/ is installed.
SBIN_PROGS	= $(B)/oneportd $(B)/oneportd-import
BIN_PROGS	= $(B)/oneport
MAN_PAGES	= $(wildcard man/*.[1-8])
EXAMPLES	= examples/oneportd.conf examples/names.conf \
		  examples/echo-service.c
CONF		= $(DESTDIR)$(SYSCONFDIR)/oneportd.conf

# oneportd-import is a script: the build fills in its version.
all: $(B)/oneportd-import
$(B)/oneportd-import: scripts/oneportd-import VERSION | $(B)
	sed 's/@VERSION@/$(VERSION)/' scripts/oneportd-import >$@
	chmod 755 $@

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(EXAMPLESDIR)
	install -m 755 $(SBIN_PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 755 $(BIN_PROGS) $(DESTDIR)$(BINDIR)/
	for m in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
		install -d $$d && install -m 644 $$m $$d/ || exit 1; \
	done
	install -m 644 $(EXAMPLES) $(DESTDIR)$(EXAMPLESDIR)/
	@# A configuration already there is the administrator's: kept.
	[ -e $(CONF) ] || install -m 644 etc/oneportd.conf $(CONF)
	$(LIB_INSTALL)
	$(MAKE) install-units

# systemd's units, with the paths of this install (test_systemd.py too).
UNITS	= oneportd.service oneportd.socket
install-units:
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		    systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done

# Everything install put there, and the configuration only if nobody
# changed it; folders of other packages are left, even empty.
uninstall:
	rm -f $(SBIN_PROGS:$(B)/%=$(DESTDIR)$(SBINDIR)/%) \
	    $(BIN_PROGS:$(B)/%=$(DESTDIR)$(BINDIR)/%) \
	    $(EXAMPLES:examples/%=$(DESTDIR)$(EXAMPLESDIR)/%)
	for m in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	done
	! [ -d $(DESTDIR)$(EXAMPLESDIR) ] || rmdir $(DESTDIR)$(EXAMPLESDIR)
	! [ -d $(DESTDIR)$(DOCDIR) ] || rmdir $(DESTDIR)$(DOCDIR)
	! cmp -s etc/oneportd.conf $(CONF) || rm -f $(CONF)
	$(LIB_UNINSTALL)
	rm -f $(UNITS:%=$(DESTDIR)$(UNITDIR)/%)

clean:
	rm -rf build build-san build-fuzz oneportd

.PHONY: all check fuzz install install-units uninstall clean FORCE

# liboneport: the library, its example service, tests and install.
include lib/lib.mk
