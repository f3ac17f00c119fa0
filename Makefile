# lastgood — crash-loop boot recovery agent
#
#   make              build ./lastgood (release)
#   make test         install build deps (as root), unit + integration tests,
#                     all under ASan+UBSan, plus a release-binary smoke pass
#   make bench        benchmarks (see bench/)
#   make fuzz         libFuzzer targets, bounded time each (FUZZ_SECONDS=0: build only)
#   make binaries     every binary (release, test, unit tests), nothing run:
#                     `make CC=clang BUILDDIR=build/clang binaries` is CI's clang build
#   make analyze      clang-tidy (.clang-tidy) against tests/analyze/baseline.txt
#                     (ANALYZE_FLAGS=--baseline rewrites it: review the diff)
#   make check-format clang-format (.clang-format) --dry-run over FORMAT_SRCS
#   make check-vm     end-to-end crash-loop tests in a UEFI VM
#   make demo         the built-in demo: a real crash loop in a VM, recovered
#   make install      honours DESTDIR and PREFIX; INITRD=auto|initramfs-tools|dracut|both
#                     (auto: the initrd generator found on the target, see dist/install.sh)
#   make dist         lastgood-VERSION.tar.gz (DISTDIR=.) for rpmbuild -tb

# `make` alone builds: the helper targets below (print-lib-srcs, …) come
# before `all` in this file.
.DEFAULT_GOAL := all

PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=
# Which initrd generator(s) make install integrates with (dist/install.sh).
INITRD ?= auto

CC ?= cc
# Helpers working in parallel build into their own tree: make BUILDDIR=/tmp/x …
BUILDDIR ?= build
# Libraries linked at start-up: those every invocation uses. libarchive,
# libefivar and libblkid are dlopen()ed where needed (lib/dlib.h): a snapshot
# or restore, efivarfs, a device lookup, a policy file to parse (libyaml:
# a compiled policy needs none); the healthy boot path does not pay
# the dynamic loader for them (see README, Performance). Their headers are
# still used for the prototypes. The unit tests link libefivar to set up
# fake variables themselves.
PKGS := nettle zlib
PKGS_DLOPEN := efivar blkid libarchive yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_DLOPEN) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# nettle is linked statically where its archive is installed (Debian's
# nettle-dev ships it): the shared libnettle carries ~350 symbol relocations
# (its hash and cipher tables) that the dynamic loader resolved at every
# start, a third of a healthy boot's instructions, for the two primitives
# lastgood uses (SHA-256, HMAC-SHA256). Its symbols stay hidden, so the
# libnettle that a dlopen()ed libarchive brings is never interposed.
# debian/control names it in Static-Built-Using, so a nettle update triggers
# a rebuild. NETTLE_STATIC=0 links the shared library instead.
NETTLE_A := $(shell pkg-config --variable=libdir nettle 2>/dev/null)/libnettle.a
NETTLE_STATIC ?= $(if $(wildcard $(NETTLE_A)),1,0)
ifeq ($(NETTLE_STATIC),1)
PKG_LIBS := $(filter-out -lnettle,$(PKG_LIBS)) $(NETTLE_A) -Wl,--exclude-libs,libnettle.a
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wmissing-prototypes
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g $(WARN) -fstack-protector-strong $(PKG_CFLAGS) -I.
# Distribution flags (dpkg-buildflags' hardening) are appended, not replaced.
RELEASE_CFLAGS := $(BASE_CFLAGS) -O2 -D_FORTIFY_SOURCE=2 $(CPPFLAGS) $(CFLAGS)
# The test build: sanitizers and the fault-injection points.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TEST_CFLAGS := $(BASE_CFLAGS) -O1 $(SAN) -DLASTGOOD_FAULT_INJECTION
LDLIBS := $(PKG_LIBS) -ldl

# The one source list: the fuzz build reads it too (make print-lib-srcs).
# Folders import only downward: lib < config < recovery < agent.
SRCS := $(sort $(wildcard lib/*.c config/*.c recovery/*.c agent/*.c))
LIB_SRCS := $(filter-out agent/main.c,$(SRCS))
HDRS := $(wildcard lib/*.h config/*.h recovery/*.h agent/*.h)

REL_OBJS := $(SRCS:%.c=$(BUILDDIR)/release/%.o)
TEST_OBJS := $(SRCS:%.c=$(BUILDDIR)/test/%.o)
TEST_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILDDIR)/test/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILDDIR)/test/unit/%)

# What clang-format owns: every C file of ours (the four code folders, the unit
# tests, the fuzz targets, the benchmarks).
FORMAT_SRCS := $(SRCS) $(HDRS) $(sort $(wildcard tests/unit/*.[ch] tests/fuzz/*.[ch] bench/*.[ch]))
# clang-tidy compiles each file as the test build does (fault points in);
# warnings stay warnings there, the compilers' -Werror builds judge those.
TIDY_FLAGS := $(filter-out -Werror -g -fstack-protector-strong,$(BASE_CFLAGS)) -DLASTGOOD_FAULT_INJECTION


print-lib-srcs:
	@echo $(LIB_SRCS)

# The warnings every build uses; the fuzz build reads them too.
print-warn-flags:
	@echo $(WARN)

.PHONY: print-lib-srcs print-warn-flags binaries analyze all clean test unit integration deps install uninstall bench fuzz check-vm check-vm-full demo format check-format man dist

all: lastgood man

lastgood: $(BUILDDIR)/release/lastgood
	cp $< $@

$(BUILDDIR)/release/lastgood: $(REL_OBJS)
	$(CC) $(RELEASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILDDIR)/release/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) -c -o $@ $<

$(BUILDDIR)/test/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c -o $@ $<

$(BUILDDIR)/test/lastgood: $(TEST_OBJS)
	$(CC) $(TEST_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILDDIR)/test/unit/%: tests/unit/%.c $(TEST_LIB_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itests/unit -o $@ $< $(TEST_LIB_OBJS) $(LDLIBS) $(shell pkg-config --libs efivar yaml-0.1) -lcmocka

# `make test` on a fresh Debian 12 machine, as root, installs what it needs.
ifeq ($(shell id -u),0)
TEST_DEPS := deps
endif

deps:
	@./tests/install-deps.sh

test: $(TEST_DEPS)
	$(MAKE) -j$$(nproc) lastgood $(BUILDDIR)/test/lastgood $(UNIT_BINS)
	BUILDDIR=$(BUILDDIR) ./tests/run-all.sh

binaries: $(BUILDDIR)/release/lastgood $(BUILDDIR)/test/lastgood $(UNIT_BINS)

unit: $(UNIT_BINS)
	BUILDDIR=$(BUILDDIR) ./tests/run-all.sh unit

integration: lastgood $(BUILDDIR)/test/lastgood
	BUILDDIR=$(BUILDDIR) ./tests/run-all.sh integration

man:
	@if [ -d docs/man ]; then $(MAKE) -s -C docs/man; fi

bench: lastgood
	./bench/run.sh

fuzz:
	BUILDDIR=$(BUILDDIR) ./tests/fuzz/run.sh $(FUZZ_SECONDS)

analyze:
	BUILDDIR=$(BUILDDIR) TIDY_FLAGS="$(TIDY_FLAGS)" SRCS="$(SRCS)" ./tests/analyze/run.sh $(ANALYZE_FLAGS)

check-vm: lastgood
	./tests/vm/run.sh

check-vm-full: lastgood
	./tests/vm/run-full.sh

demo:
	./tests/vm/demo.sh

install: lastgood man
	install -D -m 0755 lastgood $(DESTDIR)$(SBINDIR)/lastgood
	install -D -m 0644 config/policy.yaml $(DESTDIR)$(SYSCONFDIR)/lastgood/policy.yaml
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/lastgood/policy.d
	install -d -m 0755 $(DESTDIR)/usr/share/lastgood/profiles
	install -m 0644 dist/profiles/*.yaml $(DESTDIR)/usr/share/lastgood/profiles/
	install -D -m 0644 dist/systemd/lastgood.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/lastgood.catalog
	@if [ -x dist/install.sh ]; then DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" MANDIR="$(MANDIR)" INITRD="$(INITRD)" dist/install.sh install; fi

# lastgood-VERSION.tar.gz of the tree (committed and new files, less ignored
# ones) in DISTDIR, for rpmbuild -tb (dist/rpm/lastgood.spec).
DISTDIR ?= .
dist:
	@./dist/tarball.sh "$(DISTDIR)"

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lastgood
	rm -f $(DESTDIR)/usr/share/lastgood/profiles/*.yaml
	-rmdir $(DESTDIR)/usr/share/lastgood/profiles 2>/dev/null
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/catalog/lastgood.catalog
	@if [ -x dist/install.sh ]; then DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" MANDIR="$(MANDIR)" dist/install.sh uninstall; fi
	@echo "left $(DESTDIR)$(SYSCONFDIR)/lastgood/ (admin configuration) in place"

format:
	clang-format -i $(FORMAT_SRCS)

check-format:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILDDIR) lastgood
