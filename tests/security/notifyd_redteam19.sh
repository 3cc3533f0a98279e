#!/bin/bash
# Red team of issue 19 (uevents, metrics, Kubernetes allowlist, oci-config,
# podman seccomp file, Debian package), in real crun and runc containers.
# Each check says what it attacks; checks marked FIX fail without the fix
# named there.
#
# umount32 -- the 32-bit x86 umount(target) syscall (nr 22).  The runtimes'
#   filters cover SCMP_ARCH_X86, so a 64-bit container process reaches it by
#   int 0x80 (tests/security/umount32.c).  FIX 018ec55: it was not in the
#   trapped set of oci-seccomp.json, lxc-notify.seccomp or podman.json, so a
#   container unmounted a mount notifyd made without notifyd seeing it (no
#   decision line; its record, FUSE daemon or share left behind until some
#   later umount2).  Now trapped, and handled as umount2(target, 0): without
#   the second half of the fix notifyd read the caller's leftover ecx as
#   flags -- 0x10 (unknown) handed the mount to the kernel unseen as before,
#   and MNT_DETACH made notifyd detach a busy mount the caller's umount
#   could not.
# loop32 -- the old LOOP_GET_STATUS / LOOP_SET_STATUS from a 32-bit x86
#   caller (int 0x80; tests/security/loop32.c) on its own loop device.  FIX
#   (notifyd/loop_request.c status_i386()): notifyd copied its own 168-byte
#   struct loop_info for them, where the caller's is 140 bytes with other
#   offsets -- it wrote 28 bytes past the caller's struct and read every
#   field from the wrong place (the caller's own memory only, so no boundary
#   crossed, but a 32-bit program's memory corrupted by notifyd).  7c2ba19.
# podman -- profiles/seccomp/podman.json traps umount and no longer allows it
#   outright (FIX 018ec55; an unconditional allow would win over the trap).
#
#   RUNTIMES="crun runc" to run a subset; GROUPS_RUN="umount32 loop32 podman".
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

GROUPS_RUN=${GROUPS_RUN:-umount32 loop32 podman}
want() { [[ " $GROUPS_RUN " == *" $1 "* ]]; }
MV_IDP=rt19

UMOUNT32=$MV_BUILD/tests/helpers/umount32
LOOP32=$MV_BUILD/tests/helpers/loop32
if [ ! -x "$UMOUNT32" ] || [ ! -x "$LOOP32" ]; then mv_bail "$UMOUNT32 or $LOOP32 not built (make all)"; fi
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] || mv_bail "util-linux losetup not found"

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
# tmpfs mounts made by notifyd itself (action = kernel), so each is a record.
printf '%s\n' '[profile]' 'default-action = deny' 'max-mounts = 8' 'max-loop-devices = 2' '' \
	'[fs tmpfs]' 'action = kernel' 'idmap = no' 'allowed-options = size' >"$PROFILES/default.conf"

ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$UMOUNT32" "$ROOTFS/bin/umount32"
cp "$LOOP32" "$ROOTFS/bin/loop32"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
truncate -s 1M "$ROOTFS/img/f.img"
chown 100000:100000 "$ROOTFS/bin/umount32" "$ROOTFS/bin/loop32"
chown -R 100000:100000 "${ROOTFS:?}/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# ---------------------------------------------------------------------------
# umount32
# ---------------------------------------------------------------------------
cat >"$ROOTFS/umount32.sh" <<'SCRIPT'
mvstep mnt-a mount -t tmpfs -o size=1m t /mnt/a
mvstep um-a umount32 /mnt/a 0x10
mvstep gone-a sh -c '! grep -q " /mnt/a " /proc/self/mountinfo'
# A busy mount (a shell's cwd in it): umount(target) has no MNT_DETACH, so
# EBUSY, whatever the caller left in ecx (2 = MNT_DETACH).
mvstep mnt-b mount -t tmpfs -o size=1m t /mnt/b
(cd /mnt/b && sleep 3) &
sleep 0.3
mvstep um-b umount32 /mnt/b 2
mvstep still-b grep -q " /mnt/b " /proc/self/mountinfo
wait
mvstep um-b2 umount32 /mnt/b 0
# Held before: i386's umount2 (nr 52) was trapped all along.
mvstep mnt-c mount -t tmpfs -o size=1m t /mnt/c
mvstep um-c umount32 /mnt/c 0 52
SCRIPT

test_umount32() {
	local id=$MV_IDP-$RT-um32
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /umount32.sh || mv_bail "cannot write the bundle"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60 || t_diag "$RT: umount32 container exit $?"
	t_step_ok "$RT: umount32: notifyd mounts tmpfs on /mnt/a (a record)" "$id" mnt-a
	t_step_ok "$RT: umount32: int 0x80 umount(/mnt/a) works" "$id" um-a
	t_step_ok "$RT: umount32: /mnt/a is gone" "$id" gone-a
	# FIX 018ec55 (trap): without it there is no decision line at all.
	t_decision "$RT: umount32: notifyd saw the 32-bit umount and unmounted its own mount (flags 0, not ecx's 0x10)" \
		"$id" 'syscall=umount ' 'target=/mnt/a' 'action=umount' 'flags=0x0'
	# FIX 018ec55 (flags): with ecx read as MNT_DETACH notifyd detached it.
	t_step_errno "$RT: umount32: a busy mount is not lazily detached by a leftover ecx=MNT_DETACH" \
		"$id" um-b EBUSY
	t_step_ok "$RT: umount32: ... it is still mounted" "$id" still-b
	t_step_ok "$RT: umount32: ... and unmounts once idle" "$id" um-b2
	t_step_ok "$RT: umount32: i386 umount2 (nr 52) works" "$id" um-c
	t_decision "$RT: umount32: ... and notifyd unmounted its own mount (regression: held before)" \
		"$id" 'syscall=umount2 ' 'target=/mnt/c' 'action=umount'
	t_check "$RT: umount32: notifyd is alive" mv_notifyd_alive
}

# ---------------------------------------------------------------------------
# loop32
# ---------------------------------------------------------------------------
cat >"$ROOTFS/loop32.sh" <<SCRIPT
dev=\$($LOSETUP -f --show /img/f.img) || exit 1
mvstep loop32 loop32 "\$dev" rt19-name
$LOSETUP -d "\$dev"
SCRIPT

test_loop32() {
	local id=$MV_IDP-$RT-loop32
	mv_oci_bundle --loop "$MV_TMP/$id" "$ROOTFS" sh /loop32.sh || mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60 || t_diag "$RT: loop32 container exit $?"
	t_step_ok "$RT: loop32: 32-bit LOOP_GET_STATUS/LOOP_SET_STATUS get the i386 struct loop_info ($(mv_step_out "$id" loop32 | tr '\n' ' '))" \
		"$id" loop32
	t_check "$RT: loop32: notifyd is alive" mv_notifyd_alive
}

# ---------------------------------------------------------------------------
# podman
# ---------------------------------------------------------------------------
test_podman() {
	local f=$MV_SRC/profiles/seccomp/podman.json
	t_check "podman.json: umount is trapped (SCMP_ACT_NOTIFY)" \
		jq -e '[.syscalls[] | select(.action == "SCMP_ACT_NOTIFY") | .names[]] | index("umount") != null' "$f"
	t_check "podman.json: umount has no unconditional allow rule" \
		jq -e '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW" and ((.args // []) | length) == 0) | .names[]] | index("umount") == null' "$f"
	t_check "lxc-notify.seccomp: umount is trapped" \
		grep -qx 'umount notify' "$MV_SRC/profiles/seccomp/lxc-notify.seccomp"
}

want podman && test_podman
for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	want umount32 && test_umount32
	want loop32 && test_loop32
done
t_done
