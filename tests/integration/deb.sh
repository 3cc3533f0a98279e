#!/bin/bash
# The Debian package (docs/packaging.md): `make deb` builds it from a copy of
# the tree and lintian passes; the .deb holds every program, man page,
# profile (the /etc ones as conffiles), seccomp file, the LXC snippet, the
# libvirt descriptor and the systemd units, with /usr paths inside; `dpkg -i`
# installs it on this machine, `make demo`'s scenario runs against the
# installed notifyd and notifyctl with /etc/mountvisor/profiles, and
# `dpkg --purge` leaves the machine as it was: no file, no unit link, no
# daemon.  The purge also runs when the test fails or is killed (defer).
#
# MV_DEB_DIR=DIR: test the .deb already built in DIR (make deb's
# build/deb) instead of building one.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PKG=mountvisor
for tool in dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$tool" >/dev/null || {
		t_skip "Debian package" "$tool is missing (scripts/install-deps.sh installs it)"
		exit 0
	}
done

# Never purge an installation this test did not make.
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
	t_skip "Debian package" "$PKG is installed on this machine; the test would remove it"
	exit 0
fi
for f in /usr/bin/notifyd /usr/bin/notifyctl /usr/bin/vfsd /etc/mountvisor /usr/share/mountvisor; do
	if [ -e "$f" ]; then
		t_skip "Debian package" "$f exists (not from the package); the test would replace it"
		exit 0
	fi
done

# Whatever the package could leave behind, by name, in the places dpkg, its
# maintainer scripts and systemd write to.  Other programs may install
# packages meanwhile: only paths that name us count.
WATCH='mountvisor|notifyd|notifyctl|vfsd|vhost-user-fs-mount|fuse-shim'
# /run/mountvisor/state is skipped: it is notifyd's default --state-dir, which
# a notifyd of some other test on the machine may be writing meanwhile (the
# package starts none here; installed_procs checks that).
snapshot() {
	find /etc /usr /var/lib/dpkg/info /var/lib/systemd /var/cache/debconf /run -xdev 2>/dev/null |
		grep -E "$WATCH" | grep -v '^/run/mountvisor/state' | sort
}
# Processes whose binary is a package file (or was, before the purge).
installed_procs() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in
		/usr/bin/notifyd* | /usr/bin/vfsd* | /usr/bin/vhost-user-fs-mount* | /usr/lib/mountvisor/*)
			echo "${p#/proc/} $exe"
			;;
		esac
	done
}

# --- build ---------------------------------------------------------------
if [ -n "${MV_DEB_DIR:-}" ]; then
	DEBDIR=$MV_DEB_DIR
	t_diag "testing the package in $DEBDIR (MV_DEB_DIR)"
else
	# Its own build directory: the normal one ($MV_BUILD) stays as it is.
	git_before=$(cd "$MV_SRC" && git status --porcelain 2>/dev/null)
	start=$(date +%s)
	if make -C "$MV_SRC" deb BUILD="$MV_TMP/debbuild" >"$MV_TMP/make-deb.log" 2>&1; then
		t_ok "make deb builds the package and lintian passes ($(($(date +%s) - start)) s)"
	else
		t_fail "make deb builds the package and lintian passes" "$(tail -n 40 "$MV_TMP/make-deb.log")"
	fi
	DEBDIR=$MV_TMP/debbuild/deb
fi
DEB=
for d in "$DEBDIR"/"${PKG}"_*.deb; do [ -f "$d" ] && DEB=$d; done
[ -n "$DEB" ] || mv_bail "no ${PKG}_*.deb in $DEBDIR"
if [ -f "$DEBDIR/lintian.txt" ]; then
	t_check "lintian reports no error or warning" \
		sh -c "! grep -E '^[EW]: ' '$DEBDIR/lintian.txt'"
fi
if [ -z "${MV_DEB_DIR:-}" ]; then
	git_after=$(cd "$MV_SRC" && git status --porcelain 2>/dev/null)
	t_check "make deb leaves the source tree as it was (git status)" \
		sh -c '[ "$1" = "$2" ] || { printf "before:\n%s\nafter:\n%s\n" "$1" "$2"; exit 1; }' _ \
		"$git_before" "$git_after"
fi

# --- contents --------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\.\//, "/", p); sub(/\/$/, "", p); print p }' >"$MV_TMP/contents"
expected=(/usr/bin/notifyd /usr/bin/notifyctl /usr/bin/vfsd /usr/bin/vhost-user-fs-mount
	/usr/lib/mountvisor/fuse-shim/fusermount
	/usr/share/qemu/vhost-user/50-vfsd.json
	/usr/share/mountvisor/profiles/lxc/mountvisor.conf
	/usr/share/mountvisor/seccomp
	"/usr/share/doc/$PKG/copyright" "/usr/share/doc/$PKG/changelog.gz")
for m in "$MV_SRC"/docs/man/*.[1-8]; do
	expected+=("/usr/share/man/man${m##*.}/$(basename "$m").gz")
done
for p in "$MV_SRC"/profiles/*.conf; do
	expected+=("/etc/mountvisor/profiles/$(basename "$p")" "/usr/share/mountvisor/profiles/$(basename "$p")")
done
# The seccomp files: wherever make install puts them (profiles/seccomp/ or
# seccomp/), reachable as /usr/share/mountvisor/seccomp/NAME once installed.
seccomp_missing=()
for s in "$MV_SRC"/profiles/seccomp/*; do
	grep -qxE "/usr/share/mountvisor/(profiles/)?seccomp/$(basename "$s")" "$MV_TMP/contents" ||
		seccomp_missing+=("$(basename "$s")")
done
t_check "the package holds every seccomp file of profiles/seccomp/" \
	sh -c '[ $# -eq 0 ] || { printf "missing: %s\n" "$@"; exit 1; }' _ "${seccomp_missing[@]}"
for u in "$MV_SRC"/systemd/*.service "$MV_SRC"/systemd/*.socket; do
	expected+=("/lib/systemd/system/$(basename "$u")")
done
missing=()
for e in "${expected[@]}"; do
	grep -qxF "$e" "$MV_TMP/contents" || missing+=("$e")
done
t_check "the package holds all ${#expected[@]} expected files" \
	sh -c '[ $# -eq 0 ] || { printf "missing: %s\n" "$@"; exit 1; }' _ "${missing[@]}"
t_check "nothing under /usr/local in the package" sh -c "! grep -q '^/usr/local' '$MV_TMP/contents'"
# notifyd runs as root on what /etc/mountvisor and /usr hold: a file another
# user could change, or a setuid bit, would hand them the host.
t_check "every file is root:root, none setuid/setgid or writable by others" \
	sh -c "dpkg-deb -c '$DEB' | awk '\$1 !~ /^l/ && (\$2 != \"root/root\" || \$1 ~ /[sS]/ || substr(\$1, 6, 1) == \"w\" || substr(\$1, 9, 1) == \"w\") { print; bad = 1 } END { exit bad }'"

dpkg-deb -e "$DEB" "$MV_TMP/control"
want_conf=$(for p in "$MV_SRC"/profiles/*.conf; do echo "/etc/mountvisor/profiles/$(basename "$p")"; done | sort)
t_check "every profile in /etc/mountvisor/profiles is a conffile" \
	sh -c '[ -z "$1" ] || { echo "not conffiles: $1"; exit 1; }' _ \
	"$(comm -23 <(echo "$want_conf") <(sort "$MV_TMP/control/conffiles"))"
# Every file under /etc is the admin's to edit: a conffile, and nothing else is.
etc_files=$(dpkg-deb -c "$DEB" | awk '$1 ~ /^-/ { p = $6; sub(/^\./, "", p); print p }' | grep '^/etc/' | sort)
t_check "the conffiles are exactly the package's files under /etc" \
	diff <(sort "$MV_TMP/control/conffiles") <(echo "$etc_files")

# Paths inside the shipped files: the package's, never make install's default.
dpkg-deb -x "$DEB" "$MV_TMP/x"
t_check "no /usr/local path in the units, the LXC snippet or the libvirt descriptor" \
	sh -c "! grep -n '^[^#]*/usr/local' '$MV_TMP'/x/lib/systemd/system/* '$MV_TMP'/x/usr/share/mountvisor/profiles/lxc/mountvisor.conf '$MV_TMP'/x/usr/share/qemu/vhost-user/50-vfsd.json"
t_check "the libvirt descriptor names /usr/bin/vfsd" \
	jq -e '.type == "fs" and .binary == "/usr/bin/vfsd"' "$MV_TMP/x/usr/share/qemu/vhost-user/50-vfsd.json"

# --- install -----------------------------------------------------------------
# The maintainer scripts start, stop and reload units only where
# /run/systemd/system exists.  Hide it in this test's mount namespace, so that
# on a host booted with systemd too this is the install of a chroot or an
# image build (enable links only) and nothing starts on the host;
# deb_systemd.sh checks the scripts under a running systemd, in a container.
if [ -d /run/systemd ]; then
	mount -t tmpfs -o mode=0755 mvdeb /run/systemd || mv_bail "cannot hide /run/systemd"
fi
before=$(snapshot)
# dpkg may be busy (apt elsewhere on the machine): wait for its lock, 2 min at most.
dpkg_retry() {
	local i out
	for ((i = 0; i < 60; i++)); do
		out=$(DEBIAN_FRONTEND=noninteractive "$@" 2>&1) && {
			echo "$out"
			return 0
		}
		grep -qi 'lock' <<<"$out" || break
		sleep 2
	done
	echo "$out"
	return 1
}
defer "dpkg_retry dpkg --purge $PKG"
if out=$(dpkg_retry dpkg -i "$DEB"); then
	t_ok "dpkg -i installs the package"
else
	t_fail "dpkg -i installs the package" "$out"
	mv_bail "cannot install $DEB"
fi
t_check "the snapshot sees the installed files" grep -qx /usr/bin/notifyd <<<"$(snapshot)"
t_check "dpkg says the package is installed" \
	sh -c "dpkg-query -W -f='\${db:Status-Status}' $PKG | grep -qx installed"
missing=()
for e in "${expected[@]}"; do
	[ -e "$e" ] || missing+=("$e")
done
t_check "every expected file is on the machine" \
	sh -c '[ $# -eq 0 ] || { printf "missing: %s\n" "$@"; exit 1; }' _ "${missing[@]}"
missing=()
for s in "$MV_SRC"/profiles/seccomp/*; do
	[ -f "/usr/share/mountvisor/seccomp/$(basename "$s")" ] || missing+=("$(basename "$s")")
done
t_check "every seccomp file is in /usr/share/mountvisor/seccomp/" \
	sh -c '[ $# -eq 0 ] || { printf "missing: %s\n" "$@"; exit 1; }' _ "${missing[@]}"
t_check "the LXC snippet's seccomp file exists" \
	test -f "$(sed -n 's/^lxc.seccomp.profile *= *//p' /usr/share/mountvisor/profiles/lxc/mountvisor.conf)"
t_check "notifyd.service is enabled, with its three sockets" \
	sh -c 'for u in multi-user.target.wants/notifyd.service sockets.target.wants/notifyd.socket \
		sockets.target.wants/notifyd-lxc.socket sockets.target.wants/notifyd-control.socket; do
		[ "$(readlink /etc/systemd/system/$u)" = /lib/systemd/system/${u#*/} ] || { echo "no link $u"; exit 1; }; done'
if command -v systemd-analyze >/dev/null; then
	# verify also checks that every ExecStart= program exists.
	t_check "systemd-analyze verify accepts the installed units" \
		systemd-analyze verify /lib/systemd/system/notifyd.service /lib/systemd/system/notifyd.socket \
		/lib/systemd/system/notifyd-lxc.socket /lib/systemd/system/notifyd-control.socket \
		/lib/systemd/system/vfsd@.service
fi
# Without a running systemd (a chroot, an image build, this machine) the
# maintainer scripts only enable the units (docs/packaging.md).
procs=$(installed_procs)
[ -z "$procs" ] && t_ok "no daemon started without a running systemd" ||
	t_fail "no daemon started without a running systemd" "$procs"

# --- make demo's scenario on the installed programs ------------------------
# A build directory that holds only the installed programs: mv_prog (tests/lib.sh)
# takes $MV_BUILD/bin/NAME, so nothing from the build tree can stand in.
INST=$MV_TMP/installed
mkdir -p "$INST/bin"
ln -s /usr/bin/notifyd /usr/bin/notifyctl /usr/bin/vfsd /usr/bin/vhost-user-fs-mount "$INST/bin/"
# What notifyd.service gives notifyd: the fuse-shim directory of the package.
SHIM=$(sed -n 's/^Environment=MOUNTVISOR_FUSE_SHIM_DIR=//p' /lib/systemd/system/notifyd.service)
t_check "notifyd.service points at the package's fusermount stand-in" test -x "$SHIM/fusermount"
env -u MV_IN_PRIVATE_NS MV_BUILD="$INST" MV_DEMO_PROFILES=/etc/mountvisor/profiles \
	MOUNTVISOR_FUSE_SHIM_DIR="$SHIM" bash "$MV_SRC/scripts/demo.sh" "$INST" >"$MV_TMP/demo.out" 2>&1
rc=$?
t_diag "$(cat "$MV_TMP/demo.out")"
t_check "the demo runs to its end on the installed package" [ "$rc" -eq 0 ]
demo_has() { # DESC REGEX
	t_check "demo: $1" grep -qE -- "$2" "$MV_TMP/demo.out"
}
demo_has "notifyd read /etc/mountvisor/profiles" '^ +profiles-dir: /etc/mountvisor/profiles$'
demo_has "default: ext4 served by fuse2fs (the package's fusermount stand-in)" \
	'^ +mount -t ext4 .* 0 .*fuse -> ok +\[default \[fs ext4\] action=fuse\]'
demo_has "default: xfs denied with EPERM" 'mount -t xfs .*deny -> EPERM +\[default \[fs xfs\]'
demo_has "trusted-images: ext4 mounted by the kernel" \
	'^ +mount -t ext4 .* 0 .*kernel -> ok +\[trusted-images \[fs ext4\] action=kernel\]'
demo_has "the container wrote to its image" '^ +echo written > /mnt/a/new.txt +0 +written'
[ "$(grep -cE '^ +umount /mnt/a +0 .*umount -> ok' "$MV_TMP/demo.out")" -eq 2 ] &&
	t_ok "demo: both containers unmounted their image" ||
	t_fail "demo: both containers unmounted their image"

# --- purge -----------------------------------------------------------------
if out=$(dpkg_retry dpkg --purge "$PKG"); then
	t_ok "dpkg --purge removes the package"
else
	t_fail "dpkg --purge removes the package" "$out"
fi
t_check "dpkg has forgotten the package" \
	sh -c "! dpkg-query -W -f='\${db:Status-Status}' $PKG 2>/dev/null | grep -qv '^not-installed$'"
after=$(snapshot)
# Only what is there now and was not before counts: dpkg removes only its
# own files, and the skip at the top saw none of them before.
t_check "after the purge no file, unit link or state of the package is left" \
	sh -c '[ -z "$1" ] || { echo "left: $1"; exit 1; }' _ "$(comm -13 <(echo "$before") <(echo "$after"))"
gone=$(comm -23 <(echo "$before") <(echo "$after"))
[ -z "$gone" ] || t_diag "gone meanwhile (not the package's): $gone"
procs=$(installed_procs)
[ -z "$procs" ] && t_ok "no process runs a program of the package" ||
	t_fail "no process runs a program of the package" "$procs"
