# mountvisor — one entry point. See README.md.
#
#   make            build everything into build/
#   make check      install missing Debian packages, build, run every test
#   make check-kernel  notifyd's integration and security tests in a QEMU guest (TCG) booting
#                   Debian's own kernel (6.1 on Debian 12), the host's root shared read-only;
#                   not part of check (TCG: ~20x the host's time, about two hours on 2 cores)
#   make demo       install, build, run the end-to-end demo on profiles/default.conf
#   make bench      install, build, print benchmark tables
#   make asan       rebuild with -fsanitize=address,undefined into build-asan/ and run the tests
#   make lint       clang-format check + cppcheck
#   make fuzz       libFuzzer targets for vfsd into build-fuzz/, each run FUZZ_SECONDS (default 60)
#   make install    programs and man pages under $(PREFIX), profiles also in /etc/mountvisor,
#                   systemd units in $(SYSTEMDUNITDIR) (docs/systemd.md)
#   make deb        Debian package (debhelper) into $(BUILD)/deb/, built from a copy of the
#                   tree, then lintian (docs/packaging.md)

PREFIX  ?= /usr/local
SYSCONFDIR ?= /etc
# Debian's convention: packages (PREFIX=/usr) ship units in /lib/systemd/system;
# a local install (PREFIX=/usr/local) in /usr/local/lib/systemd/system, which
# systemd also reads.  Both are outside /etc/systemd/system, the admin's.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
BUILD   ?= build
OBJ     := $(BUILD)/obj
$(shell mkdir -p $(BUILD)/tests/unit $(BUILD)/tests/helpers)
CC      ?= cc
PKGS    := libseccomp mount json-c inih libcap-ng fuse3 libmicrohttpd libnl-3.0
WERROR  := $(if $(CI),-Werror,)
OPTFLAGS ?= -O2 -g
SANITIZE ?=
# Project flags live in MV_CFLAGS so a CFLAGS given on the command line adds to them.
MV_WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wformat=2 -Wvla -Wno-unused-parameter $(WERROR)
MV_CFLAGS := $(OPTFLAGS) $(SANITIZE) $(MV_WARN) -D_GNU_SOURCE -I. \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP
# Programs that cannot take the sanitizers: static binaries run inside test
# containers, and libraries loaded into other programs.  Same warnings.
MV_PLAIN_CFLAGS := -O2 -g $(MV_WARN) -D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=2
LDFLAGS += $(SANITIZE)
LDLIBS  += -lpthread

# Every program lists its objects in its own fragment; one fragment per directory.
PROGRAMS :=
include common/common.mk
include notifyd/notifyd.mk
-include vfsd/vfsd.mk
-include fuse-helpers/fuse-helpers.mk
include tests/tests.mk
-include tests/fuzz/fuzz.mk
-include bench/bench.mk

all: $(PROGRAMS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_CFLAGS) $(CFLAGS) -c -o $@ $<

deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) all
	tests/run.sh $(BUILD)

# Debian 12's kernel (linux-image-amd64's dependency), whatever the host runs:
# the fallbacks for kernels older than the host's run here.  MV_KERNEL_TESTS,
# MV_KERNEL_PKG, MV_VM_CPUS, MV_VM_MEM: see tests/vm/run-kernel-vm.sh.
check-kernel: deps
	$(MAKE) all
	tests/vm/run-kernel-vm.sh $(BUILD)

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)

# A long differential run of vfsd against the kernel (and virtiofsd's list):
# DIFFTEST_OPS per seed, DIFFTEST_SEEDS; see tests/integration/vfsd_difftest.sh.
difftest: deps
	$(MAKE) all
	DIFFTEST_OPS=$${DIFFTEST_OPS:-50000} DIFFTEST_SEEDS="$${DIFFTEST_SEEDS:-1 2 3 4 5 6 7 8}" \
		MV_TEST_TIMEOUT=$${MV_TEST_TIMEOUT:-14400} TESTS=vfsd_difftest tests/run.sh $(BUILD)

bench: deps
	$(MAKE) all
	bench/run.sh $(BUILD)

asan: deps
	$(MAKE) BUILD=build-asan OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SANITIZE="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		tests/run.sh build-asan

LINT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
lint:
	clang-format --dry-run --Werror $(LINT_SRC)
	@# cppcheck cannot model __attribute__((cleanup)) (cleanup.h), so its leak check
	@# only reports false positives here; make asan's LeakSanitizer covers leaks.
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=memleak -I. -D_GNU_SOURCE $(LINT_SRC)

# NO_BUILD=1: install what $(BUILD) holds as it is (tests install a sanitizer
# build without rebuilding it with other flags).
install: $(if $(NO_BUILD),,all)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mountvisor/profiles/seccomp \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m644 profiles/*.conf $(DESTDIR)$(PREFIX)/share/mountvisor/profiles/
	@# notifyd reads /etc/mountvisor/profiles by default; an admin's edits there are kept.
	install -d $(DESTDIR)$(SYSCONFDIR)/mountvisor/profiles
	for f in profiles/*.conf; do [ -e $(DESTDIR)$(SYSCONFDIR)/mountvisor/$$f ] || \
		install -m644 $$f $(DESTDIR)$(SYSCONFDIR)/mountvisor/profiles/; done
	install -m644 profiles/seccomp/* $(DESTDIR)$(PREFIX)/share/mountvisor/profiles/seccomp/
	@# Every seccomp file (podman's, docs/podman.md, among them) also where
	@# `--security-opt seccomp=` and Localhost-profile users look for them.
	install -d $(DESTDIR)$(PREFIX)/share/mountvisor/seccomp
	install -m644 profiles/seccomp/* $(DESTDIR)$(PREFIX)/share/mountvisor/seccomp/
	install -d $(DESTDIR)$(PREFIX)/share/mountvisor/profiles/lxc
	sed 's|/usr/local/|$(PREFIX)/|' profiles/lxc/mountvisor.conf \
		> $(DESTDIR)$(PREFIX)/share/mountvisor/profiles/lxc/mountvisor.conf
	@# libvirt looks for vhost-user back-end descriptors in /etc/qemu/vhost-user too.
	install -d $(DESTDIR)$(SYSCONFDIR)/qemu/vhost-user
	sed 's|/usr/local/bin|$(PREFIX)/bin|' vfsd/50-vfsd.json > $(DESTDIR)$(SYSCONFDIR)/qemu/vhost-user/50-vfsd.json
	install -m644 docs/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/ 2>/dev/null || true
	install -m644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/ 2>/dev/null || true
	@# The static fusermount stand-in notifyd hands to libfuse2 programs
	@# (docs/fuse.md); notifyd.service points MOUNTVISOR_FUSE_SHIM_DIR at it.
	install -d $(DESTDIR)$(PREFIX)/lib/mountvisor/fuse-shim
	install -m755 $(FUSE_SHIM) $(DESTDIR)$(PREFIX)/lib/mountvisor/fuse-shim/fusermount
	@# systemd units with the installed programs' paths; vfsd@NAME reads
	@# $(SYSCONFDIR)/mountvisor/vfsd/NAME.conf.
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/mountvisor/vfsd
	for f in systemd/*.service systemd/*.socket; do \
		sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' \
		    -e 's|/usr/local/lib/mountvisor/|$(PREFIX)/lib/mountvisor/|g' \
		    -e 's|/etc/mountvisor/|$(SYSCONFDIR)/mountvisor/|g' $$f \
			> $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f) && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$f) || exit 1; \
	done

# The package is built from a copy of the tree (tracked and untracked files,
# not what .gitignore ignores) in $(BUILD)/deb/mountvisor, so dh's debian/
# scratch directories and the copy's own build/ never touch the source tree
# or $(BUILD) itself.  The .deb, .changes and lintian's report (lintian.txt)
# land in $(BUILD)/deb; the copy is removed after a successful build.
DEB_DIR = $(abspath $(BUILD))/deb
# $(BUILD) relative to the tree (a BUILD= inside it that .gitignore does not
# name must not be copied into itself).
DEB_SKIP = $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/mountvisor
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -co --exclude-standard | grep -zv '^$(DEB_SKIP)/' | \
			tar --null --ignore-failed-read -cf - -T - 2>/dev/null; \
	else \
		tar --exclude=./.git --exclude='./build*' --exclude='./$(DEB_SKIP)' -cf - .; \
	fi | tar -xf - -C $(DEB_DIR)/mountvisor
	@# A make given on our command line must not leak into the package's
	@# build (BUILD=, -j jobserver fds): dpkg-buildpackage starts clean.
	cd $(DEB_DIR)/mountvisor && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		DEB_BUILD_OPTIONS="parallel=$$(nproc) $${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -b --no-sign
	rm -rf $(DEB_DIR)/mountvisor
	@# Any error or warning tag (not overridden) fails the target.
	lintian --fail-on error,warning --info $(DEB_DIR)/*.changes >$(DEB_DIR)/lintian.txt 2>&1; \
		rc=$$?; cat $(DEB_DIR)/lintian.txt; exit $$rc
	@ls -1 $(DEB_DIR)/*.deb

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps check check-kernel demo difftest bench asan lint install deb clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
