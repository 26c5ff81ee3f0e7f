# SPDX-License-Identifier: ISC
# lib/lib.mk: liboneport, included by the top Makefile (anywhere after B,
# CC and CFLAGS are set; it leaves the default goal alone). `lib` builds
# the static and shared library, liboneport.pc and the example service;
# `lib-check` runs the wire tables and the service tests; $(LIB_INSTALL)
# is a recipe that installs the header, the libraries and the .pc, and
# $(LIB_UNINSTALL) removes them. wire.o, ancil.o and name.o are also what the daemon links for
# lib/wire.h, lib/ancil.h and lib/name.h.

LIB_GOAL	:= $(.DEFAULT_GOAL)

LIB_SONAME	 = liboneport.so.1
# Position-independent objects serve both libraries; only symbols marked
# EXPORT in the sources (the oneport_* API) leave the shared one.
LIB_CFLAGS	 = $(CFLAGS) -fPIC -fvisibility=hidden -Ilib
LIB_OBJS	 = $(B)/lib/wire.o $(B)/lib/ancil.o $(B)/lib/service.o \
		   $(B)/lib/name.o
# The client side (lib/client.c, lib/reply.c) and the oneport command.
LIB_OBJS	+= $(B)/lib/client.o $(B)/lib/reply.o $(B)/lib/token.o \
		   $(B)/lib/tokpipe.o
LIB_ALL		 = $(B)/liboneport.a $(B)/$(LIB_SONAME) $(B)/liboneport.so \
		   $(B)/liboneport.pc $(B)/echo-service
LIB_TESTS	 = $(B)/wire_test $(B)/lib_test
LIB_ALL		+= $(B)/oneport
LIB_TESTS	+= $(B)/reply_test $(B)/token-service

lib: $(LIB_ALL)

$(B)/lib/%.o: lib/%.c lib/wire.h lib/ancil.h lib/oneport.h lib/internal.h \
		lib/name.h \
		| $(B)/lib
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(B)/lib/client.o $(B)/lib/reply.o: lib/reply.h
$(B)/lib/token.o $(B)/lib/tokpipe.o: lib/reply.h lib/tokpipe.h

$(B)/lib:
	mkdir -p $@

$(B)/liboneport.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(B)/$(LIB_SONAME): $(LIB_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -o $@ $(LIB_OBJS)

$(B)/liboneport.so: $(B)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $@

$(B)/liboneport.pc: lib/lib.mk $(B)/build-vars
	printf '%s\n' 'prefix=$(PREFIX)' \
	    'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	    'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' \
	    '' 'Name: liboneport' \
	    'Description: accept connections handed over by oneportd' \
	    'Version: $(VERSION)' 'Libs: -L$${libdir} -loneport' \
	    'Cflags: -I$${includedir}' >$@

# The example links the static library: it runs from the build tree.
$(B)/echo-service: examples/echo-service.c lib/oneport.h $(B)/liboneport.a
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ examples/echo-service.c \
	    $(B)/liboneport.a

# The oneport command, like the example, links the static library.
$(B)/oneport: cmd/oneport.c cmd/status.c cmd/status.h lib/oneport.h \
		$(B)/liboneport.a
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ cmd/oneport.c cmd/status.c \
	    $(B)/liboneport.a

# ---- tests ----
$(B)/wire_test: tests/unit/wire_test.c $(B)/lib/wire.o $(B)/lib/name.o
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $^

# Linked against the shared library, so a symbol it needs and the library
# does not export fails here; the fake daemon uses its own wire.o.
$(B)/lib_test: tests/lib/service_test.c $(B)/lib/wire.o $(B)/lib/name.o \
		$(B)/liboneport.so
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ tests/lib/service_test.c \
	    $(B)/lib/wire.o $(B)/lib/name.o -L$(B) -loneport -Wl,-rpath,'$$ORIGIN'

$(B)/reply_test: tests/unit/reply_test.c $(B)/lib/reply.o lib/reply.h
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ tests/unit/reply_test.c \
	    $(B)/lib/reply.o

# A redirect target that checks the token with oneport_token_check.
$(B)/token-service: tests/client/token_service.c lib/oneport.h \
		$(B)/liboneport.a
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ tests/client/token_service.c \
	    $(B)/liboneport.a

# The client tests play the command against the real daemon.
lib-check: lib $(LIB_TESTS) $(B)/oneportd
	$(B)/wire_test
	sh tests/lib/run.sh $(B)
	$(B)/reply_test
	sh tests/client/run.sh $(B)

# ---- fuzzing (clang; FUZZ_CFLAGS comes from the top Makefile) ----
build-fuzz/wire_fuzz: fuzz/wire_fuzz.c lib/wire.c lib/wire.h lib/name.c
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ fuzz/wire_fuzz.c lib/wire.c lib/name.c

fuzz: build-fuzz/reply_fuzz build-fuzz/tokpipe_fuzz
build-fuzz/tokpipe_fuzz: fuzz/tokpipe_fuzz.c lib/tokpipe.c lib/reply.c \
		lib/tokpipe.h lib/reply.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ fuzz/tokpipe_fuzz.c lib/tokpipe.c \
	    lib/reply.c

fuzz: build-fuzz/ancil_fuzz
build-fuzz/ancil_fuzz: fuzz/ancil_fuzz.c lib/ancil.c lib/ancil.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ fuzz/ancil_fuzz.c lib/ancil.c

build-fuzz/reply_fuzz: fuzz/reply_fuzz.c lib/reply.c lib/reply.h
	mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ilib -o $@ fuzz/reply_fuzz.c lib/reply.c

# ---- install: use as a recipe line, `$(LIB_INSTALL)` ----
define LIB_INSTALL
install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
install -m 644 lib/oneport.h $(DESTDIR)$(INCLUDEDIR)/oneport.h
install -m 644 $(B)/liboneport.a $(DESTDIR)$(LIBDIR)/liboneport.a
install -m 755 $(B)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/liboneport.so
install -m 644 $(B)/liboneport.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
endef

# ---- uninstall: `$(LIB_UNINSTALL)`, what LIB_INSTALL put there ----
define LIB_UNINSTALL
rm -f $(DESTDIR)$(INCLUDEDIR)/oneport.h $(DESTDIR)$(LIBDIR)/liboneport.a \
    $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/liboneport.so \
    $(DESTDIR)$(LIBDIR)/pkgconfig/liboneport.pc
endef

lib-install: lib
	$(LIB_INSTALL)

.PHONY: lib lib-check lib-install

# An included file's first rule must not become the default goal.
.DEFAULT_GOAL	:= $(LIB_GOAL)
