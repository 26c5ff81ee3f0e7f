# oneport: plain make. `make` builds oneportd; `make SANITIZE=1` builds the
# same with ASan and UBSan into build-san/; `make check` runs every test
# layer; `make fuzz` builds the libFuzzer targets with clang.

CC	?= cc
PREFIX	?= /usr/local
MANDIR	?= $(PREFIX)/share/man
BISON	?= bison
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wwrite-strings
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -Ilib
LDLIBS	+= -lseccomp

ifeq ($(WERROR),1)
CFLAGS	+= -Werror
endif
ifeq ($(SANITIZE),1)
B	 = build-san
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined -DONEPORT_SANITIZE
LDFLAGS	+= -fsanitize=address,undefined
else
B	 = build
endif

DAEMON_OBJS = oneportd.o child.o dispatch.o frontend.o source.o sandbox.o spawn.o handoff.o control.o supervise.o \
	      redirect.o sockdiag.o \
	      linger.o errline.o \
	      request.o ipc.o \
	      config.o parse.o printconf.o addr.o log.o
OBJS	= $(addprefix $(B)/,$(DAEMON_OBJS)) $(B)/lib/wire.o $(B)/lib/ancil.o

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

$(B)/%.o: src/%.c src/oneportd.h lib/wire.h lib/ancil.h | $(B)
	$(CC) $(CFLAGS) -c -o $@ $<


# Generated code gets the warnings it was written for, not ours.
$(B)/parse.c: src/parse.y | $(B)
	$(BISON) -o $@ $<
$(B)/parse.o: $(B)/parse.c src/oneportd.h
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(B):
	mkdir -p $@

# ---- tests ----
TEST_REQUEST = $(B)/request_test
$(TEST_REQUEST): tests/unit/request_test.c $(B)/request.o $(B)/config.o \
		 $(B)/log.o $(B)/addr.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

TEST_SANDBOX = $(B)/sandbox_test
$(TEST_SANDBOX): tests/unit/sandbox_test.c $(B)/sandbox.o $(B)/log.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check: all $(TEST_REQUEST) $(TEST_SANDBOX) lib-check
	$(TEST_REQUEST)
	$(TEST_SANDBOX)
	sh tests/config/run.sh $(CURDIR)/$(B)/config-test
	sh fuzz/replay.sh $(B)
	sh man/lint.sh
	sh docs/check-draft.sh
	ONEPORTD=$(CURDIR)/$(B)/oneportd python3 -m unittest discover \
	    -s tests/spec -p 'test_*.py' 
	ONEPORTD=$(CURDIR)/$(B)/oneportd python3 -m unittest discover \
	    -s tests/blackbox -p 'test_*.py' -v

# ---- fuzzing (clang) ----
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -Isrc \
	      -fsanitize=fuzzer,address,undefined
fuzz: build-fuzz/request_fuzz build-fuzz/wire_fuzz build-fuzz/reply_fuzz \
      build-fuzz/ipc_config_fuzz build-fuzz/ipc_frontend_fuzz \
      build-fuzz/errline_fuzz build-fuzz/config_fuzz
build-fuzz/request_fuzz: fuzz/request_fuzz.c src/request.c src/config.c \
		src/log.c src/addr.c build/parse.c src/oneportd.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/request_fuzz.c src/request.c \
	    src/config.c src/log.c src/addr.c
# The messages between the frontend and the parent, each direction.
build-fuzz/ipc_%_fuzz: fuzz/ipc_%_fuzz.c src/ipc.c src/config.c src/log.c \
		src/addr.c lib/ancil.c src/oneportd.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ $< src/ipc.c src/config.c src/log.c \
	    src/addr.c lib/ancil.c
build-fuzz/errline_fuzz: fuzz/errline_fuzz.c src/errline.c src/oneportd.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/errline_fuzz.c src/errline.c
build-fuzz/config_fuzz: fuzz/config_fuzz.c build/parse.c src/config.c \
		src/printconf.c src/log.c src/addr.c src/oneportd.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ fuzz/config_fuzz.c build/parse.c \
	    src/config.c src/printconf.c src/log.c src/addr.c

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(B)/oneportd $(DESTDIR)$(PREFIX)/sbin/oneportd
	install -m 644 man/oneportd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/oneportd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(B)/oneport $(DESTDIR)$(PREFIX)/bin/oneport
	install -m 644 man/oneport.1 $(DESTDIR)$(MANDIR)/man1/
	$(LIB_INSTALL)

clean:
	rm -rf build build-san build-fuzz oneportd

.PHONY: all check fuzz install clean

# liboneport: the library, its example service, tests and install.
include lib/lib.mk
