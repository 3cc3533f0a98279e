#!/bin/bash
# notifyd never opens a device the caller's device cgroup denies, and never
# takes a device node from a file system it mounted for the container
# (docs/security.md "Mount sources are opened as the caller").
#
# The host attaches a loop device holding an ext4 image with a secret file.
# The container gets a node for it (mknod'ed into its root file system by
# the host, owned by the container's root) but no device-cgroup rule for it:
# its own open() fails with EPERM.  Then:
#   - mount -t ext4 /secretdev with the kernel action and with the fuse
#     action (rw and ro) must fail with EPERM, the secret never be read and
#     no FUSE program ever be started for it;
#   - a device the cgroup allows still mounts with both actions (control);
#   - a node inside an image notifyd mounted (kernel action), pointing at a
#     device the cgroup does allow, is refused as a source (EPERM), also
#     through a bind copy of that mount;
#   - devices the kernel opens by itself while creating the superblock are
#     checked against the container's device cgroup too (docs/security.md
#     "Superblocks are created in the caller's cgroup"): an ext4 image the
#     container may use whose superblock names an external journal on a host
#     loop device it may not use does not mount (kernel action) and the
#     journal device is not written.  The same for a two-device btrfs whose
#     second member is a host device the container may not use (registered
#     by a scan).  With the journal and the member allowed by the cgroup
#     (as `b 7:* rwm` allows every host loop device) they are still refused:
#     while the superblock is created only the source may be opened (a
#     transient cgroup of notifyd's; v2 BPF program, or a v1 devices group
#     when no cgroup2 is visible: test_v1_only).
# runc puts the container in its own cgroup v2 directory with a BPF device
# program.  crun runs with --cgroup-manager=disabled here (it cannot load BPF
# programs on these hosts), so the test puts it in a cgroup v1 `devices`
# group that denies the secret device: notifyd must join that one.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

HELPER=$MV_BUILD/tests/helpers/locked_flags
[ -x "$HELPER" ] || mv_bail "$HELPER not built (make all)"
FUSE2FS=$(command -v fuse2fs) || FUSE2FS=

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-mounts = 64

[fs ext4]
action = kernel
idmap = yes
allowed-options = ro

[fs squashfs]
action = kernel
idmap = yes

[fs btrfs]
action = kernel
idmap = yes
EOF
cat >"$PROFILES/fuse.conf" <<EOF
[profile]
default-action = deny

# (without fuse2fs on the host: a container: path, not checked at load; the fuse cases skip)
[fs ext4]
action = fuse
program = ${FUSE2FS:-container:/usr/sbin/fuse2fs}
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro

[fs squashfs]
action = kernel
idmap = yes
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$HELPER" "$ROOTFS/bin/locked_flags"
mkdir -p "$ROOTFS/mnt/f" "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown -R 100000:100000 "$ROOTFS/bin/locked_flags" "$ROOTFS/mnt" "$ROOTFS/usr" "$ROOTFS/lib" \
	"$ROOTFS/lib64"

# The secret: a valid ext4 on a host loop device the container's cgroup denies.
SECRET="mv-secret-$$-$RANDOM"
mkdir -p "$MV_TMP/secretsrc"
echo "$SECRET" >"$MV_TMP/secretsrc/secret.txt"
mkfs.ext4 -q -F -d "$MV_TMP/secretsrc" "$MV_TMP/secret.img" 8M >/dev/null 2>&1 ||
	mv_bail "cannot build the secret image"
mv_loop_attach "$MV_TMP/secret.img" SECRET_DEV || mv_bail "cannot attach the secret loop device"
mv_devnum "$SECRET_DEV" SMAJ SMIN
mknod -m 0660 "$ROOTFS/secretdev" b "$SMAJ" "$SMIN" || mv_bail "mknod in the rootfs failed"
chown 100000:100000 "$ROOTFS/secretdev"

# Control: a device the container is given with an allow rule.
mv_make_ext4 "$MV_TMP/ok.img" 8M || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/ok.img" DEV_OK || mv_bail "cannot attach a loop device"
# Inner: allowed by the cgroup too, but reached only through a node in an image.
mv_make_ext4 "$MV_TMP/inner.img" 8M || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/inner.img" DEV_INNER || mv_bail "cannot attach a loop device"
mv_devnum "$DEV_INNER" IMAJ IMIN
# Outer: a squashfs image "made by the container" with a node for the inner device.
mkdir -p "$MV_TMP/outersrc"
mknod -m 0666 "$MV_TMP/outersrc/inner" b "$IMAJ" "$IMIN"
mksquashfs "$MV_TMP/outersrc" "$MV_TMP/outer.img" -quiet -noappend >/dev/null 2>&1 ||
	mv_bail "cannot build the squashfs image"
mv_loop_attach "$MV_TMP/outer.img" DEV_OUTER || mv_bail "cannot attach a loop device"

# External journal: an ext4 image (as a container could write one) whose
# superblock names a journal device (by number and UUID) on a host loop
# device the container is not given.  mkfs -J device= needs the journal
# attached first.
truncate -s 8M "$MV_TMP/journal.img"
mkfs.ext4 -q -F -O journal_dev -b 4096 "$MV_TMP/journal.img" >/dev/null 2>&1 ||
	mv_bail "cannot build the external journal"
mv_loop_attach "$MV_TMP/journal.img" JDEV || mv_bail "cannot attach the journal device"
mv_devnum "$JDEV" JMAJ JMIN
truncate -s 32M "$MV_TMP/extj.img"
mkfs.ext4 -q -F -b 4096 -J device="$JDEV" "$MV_TMP/extj.img" >/dev/null 2>&1 ||
	mv_bail "cannot build the image with an external journal"
mv_loop_attach "$MV_TMP/extj.img" DEV_EXTJ || mv_bail "cannot attach a loop device"

# btrfs: metadata raid1 over two host loop devices, both registered with the
# kernel by a scan (as udev does); the container is given only the first.
BTRFS_OK=
if command -v mkfs.btrfs >/dev/null && grep -qw btrfs /proc/filesystems; then
	truncate -s 128M "$MV_TMP/btr1.img" "$MV_TMP/btr2.img"
	if mv_loop_attach "$MV_TMP/btr1.img" BDEV1 && mv_loop_attach "$MV_TMP/btr2.img" BDEV2 &&
		mkfs.btrfs -q -f -d single -m raid1 "$BDEV1" "$BDEV2" >/dev/null 2>&1 &&
		btrfs device scan "$BDEV1" "$BDEV2" >/dev/null 2>&1; then
		mv_devnum "$BDEV2" B2MAJ B2MIN
		defer "btrfs device scan --forget '$BDEV1' '$BDEV2' >/dev/null 2>&1"
		BTRFS_OK=1
	fi
fi

# crun: a cgroup v1 devices group that denies the secret device (and the
# journal and the second btrfs member); another that denies only the secret.
DEVCG=$MV_TMP/devcg
DEVGRP=
mkdir -p "$DEVCG"
if mount -t cgroup -o devices mvdevices "$DEVCG" 2>/dev/null; then
	defer "umount -l '$DEVCG'"
	DEVGRP=$DEVCG/mvtest-$$
	mkdir -p "$DEVGRP" && defer "rmdir '$DEVGRP'"
	echo "b $SMAJ:$SMIN rwm" >"$DEVGRP/devices.deny" || DEVGRP=
	echo "b $JMAJ:$JMIN rwm" >"$DEVGRP/devices.deny" || DEVGRP=
	[ -n "$BTRFS_OK" ] && { echo "b $B2MAJ:$B2MIN rwm" >"$DEVGRP/devices.deny" || DEVGRP=; }
	DEVGRP_J=$DEVCG/mvtest-$$-j
	mkdir -p "$DEVGRP_J" && defer "rmdir '$DEVGRP_J'"
	echo "b $SMAJ:$SMIN rwm" >"$DEVGRP_J/devices.deny" || DEVGRP=
fi

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

cat >"$ROOTFS/devices.sh" <<'EOF'
ok=$1 outer=$2 fs=$3
mvstep own_open locked_flags opendev /secretdev
mvstep mount mount -t ext4 /secretdev "$fs"
mvstep leak cat "$fs/secret.txt"
mvstep mount_ro mount -t ext4 -o ro /secretdev "$fs"
mvstep leak_ro cat "$fs/secret.txt"
mvstep not_mounted sh -c "! grep -q ' $fs ' /proc/self/mountinfo"
mvstep ok_mount mount -t ext4 "$ok" "$fs"
mvstep ok_read cat "$fs/hello.txt"
mvstep ok_umount umount "$fs"
mvstep outer mount -t squashfs "$outer" /mnt/c
mvstep inner mount -t ext4 /mnt/c/inner "$fs"
mvstep bind mount --bind /mnt/c /mnt/b
mvstep inner_bind mount -t ext4 /mnt/b/inner "$fs"
mvstep inner_open locked_flags opendev /mnt/c/inner
mvstep clean sh -c "! grep -q ' $fs ' /proc/self/mountinfo"
EOF

# bundle ID PROFILE : a bundle for devices.sh; DEV_OK and DEV_OUTER and
# DEV_INNER are allowed, the secret device is not.
bundle() {
	local id=$1 profile=$2 fs=/mnt/a
	[ "$profile" = fuse ] && fs=/mnt/f
	mv_oci_bundle --profile "$profile" --device "$DEV_OK" --device "$DEV_OUTER" \
		--device "$DEV_INNER" "$MV_TMP/$id" "$ROOTFS" sh /devices.sh "$DEV_OK" "$DEV_OUTER" "$fs" ||
		mv_bail "cannot write the bundle"
	[ "$profile" = fuse ] && mv_bind_host_libs "$MV_TMP/$id"
	return 0
}

# run ID : the container in the runtime's device cgroup setup (see the header).
run() { # run ID [V1_GROUP]
	local id=$1 grp=${2:-$DEVGRP}
	if [ "$RT" = crun ]; then
		(
			echo "$BASHPID" >"$grp/cgroup.procs" || exit 1
			mv_run crun "$MV_TMP/$id" "$id" 90
		)
	else
		mv_run "$RT" "$MV_TMP/$id" "$id" 90
	fi
}

no_secret() {
	if grep -q -- "$SECRET" "$(mv_out "$1")" "$MV_LOG"; then
		t_fail "$RT/$2: the secret was never read"
	else
		t_ok "$RT/$2: the secret was never read"
	fi
}

test_devices() { # test_devices PROFILE
	local profile=$1 id=$MV_IDP-$RT-$1 action=kernel
	[ "$profile" = fuse ] && action=fuse
	local R="$RT/$action"
	bundle "$id" "$profile"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"

	t_step_errno "$R: the container itself may not open the secret device" "$id" own_open EPERM
	t_step_errno "$R: mount -t ext4 of the denied device is refused" "$id" mount EPERM
	t_step_errno "$R: mount -o ro of the denied device is refused" "$id" mount_ro EPERM
	t_step_ok "$R: nothing was mounted" "$id" not_mounted
	t_decision "$R: decision line: the caller may not open it (device cgroup)" "$id" \
		"syscall=mount " "source=/secretdev " "action=$action " "result=EPERM" \
		"may not open /secretdev"
	if mv_decisions "$id" | grep 'source=/secretdev ' | grep -q 'result=ok'; then
		t_fail "$R: no mount of the denied device succeeded" "$(mv_decisions "$id")"
	else
		t_ok "$R: no mount of the denied device succeeded"
	fi
	if [ "$action" = fuse ]; then
		if mv_decisions "$id" | grep 'source=/secretdev ' | grep -q 'program='; then
			t_fail "$R: no FUSE program was started for the denied device" \
				"$(mv_decisions "$id" | grep 'source=/secretdev ')"
		else
			t_ok "$R: no FUSE program was started for the denied device"
		fi
	fi
	no_secret "$id" "$action"
	t_step_ok "$R: a device the cgroup allows still mounts" "$id" ok_mount
	if [ "$(mv_step_out "$id" ok_read)" = "hello from ext4" ]; then
		t_ok "$R: and reads"
	else
		t_fail "$R: and reads" "$(mv_step_out "$id" ok_read)"
	fi
	t_step_ok "$R: and unmounts" "$id" ok_umount
	t_step_ok "$R: the outer image mounts (squashfs, kernel action)" "$id" outer
	t_step_errno "$R: a device node inside a notifyd mount is refused as a source" "$id" inner \
		EPERM
	t_decision "$R: decision line: node on a notifyd mount" "$id" \
		"source=/mnt/c/inner " "result=EPERM" "notifyd mounted for the container"
	t_step_errno "$R: ... also through a bind copy of that mount" "$id" inner_bind \
		"EPERM|EACCES"
	t_step_errno "$R: and the container cannot open that node itself (nodev)" "$id" \
		inner_open "EACCES|EPERM"
	t_step_ok "$R: nothing was mounted from the inner node" "$id" clean
}

sums() { sha256sum "$@" | cut -d' ' -f1 | tr '\n' ' '; }

# Devices the kernel opens for the superblock, not named by the caller.
test_sb_devices() {
	local id=$MV_IDP-$RT-sbdev R="$RT/kernel" before after
	local -a bdevs=() bdevs_ok=()
	[ -n "$BTRFS_OK" ] && bdevs=(--device "$BDEV1") && bdevs_ok=(--device "$BDEV1" --device "$BDEV2")
	cat >"$ROOTFS/sbdev.sh" <<'EOF2'
extj=$1 btr=$2
mvstep extj mount -t ext4 "$extj" /mnt/a
mvstep extj_ro mount -t ext4 -o ro "$extj" /mnt/a
mvstep extj_clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
if [ -n "$btr" ]; then
	mvstep btr mount -t btrfs "$btr" /mnt/a
	mvstep btr_clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
fi
EOF2
	sync
	before=$(sums "$JDEV" "$MV_TMP/journal.img")
	[ -n "$BTRFS_OK" ] && before+=$(sums "$BDEV2" "$MV_TMP/btr2.img")
	mv_oci_bundle --device "$DEV_EXTJ" "${bdevs[@]}" "$MV_TMP/$id" "$ROOTFS" sh /sbdev.sh \
		"$DEV_EXTJ" "${BDEV1:-}" || mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_errno "$R: an ext4 image whose external journal is a denied device does not mount" \
		"$id" extj "EPERM|EACCES|EINVAL"
	t_step_errno "$R: ... also read-only" "$id" extj_ro "EPERM|EACCES|EINVAL"
	t_step_ok "$R: ... and nothing is mounted" "$id" extj_clean
	t_decision "$R: decision line: the superblock was created with only the source allowed" \
		"$id" "source=$DEV_EXTJ " "action=kernel " \
		"creating the superblock with only the source device allowed"
	if [ -n "$BTRFS_OK" ]; then
		t_step_errno "$R: a btrfs whose other member is a denied host device does not mount" \
			"$id" btr "EPERM|EACCES|EINVAL|ENOENT|EIO"
		t_step_ok "$R: ... and nothing is mounted" "$id" btr_clean
	else
		t_skip "$R: btrfs with a denied member" "no mkfs.btrfs or btrfs in this kernel"
	fi
	sync
	after=$(sums "$JDEV" "$MV_TMP/journal.img")
	[ -n "$BTRFS_OK" ] && after+=$(sums "$BDEV2" "$MV_TMP/btr2.img")
	if [ "$before" = "$after" ]; then
		t_ok "$R: the denied devices were not written"
	else
		t_fail "$R: the denied devices were not written" "before $before" "after  $after"
	fi
	test_sb_allowed "$R" "$MV_IDP-$RT-sbdev-ok"
}

# test_sb_allowed LABEL ID : the same images in a container whose device
# cgroup allows the journal and the other btrfs member too (runc: --device;
# crun: a v1 group that denies only the secret), as with `b 7:* rwm`.
# While creating the superblock only the source may be opened
# (docs/security.md "Superblocks are created in the caller's cgroup"), so
# they are still refused -- the documented limitation for external journals
# and multi-device file systems -- and nothing is written; a plain ext4 in
# the same container mounts (the source itself is allowed).
test_sb_allowed() {
	local R=$1 id=$2 before after
	local -a bdevs_ok=()
	[ -n "$BTRFS_OK" ] && bdevs_ok=(--device "$BDEV1" --device "$BDEV2")
	cat >"$ROOTFS/sbdev_ok.sh" <<'EOF2'
extj=$1 ok=$2 btr=$3
mvstep extj mount -t ext4 "$extj" /mnt/a
mvstep extj_ro mount -t ext4 -o ro "$extj" /mnt/a
mvstep extj_clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
if [ -n "$btr" ]; then
	mvstep btr mount -t btrfs "$btr" /mnt/a
	mvstep btr_clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
fi
mvstep ok mount -t ext4 "$ok" /mnt/a
mvstep ok_read cat /mnt/a/hello.txt
mvstep ok_umount umount /mnt/a
EOF2
	sync
	before=$(sums "$JDEV" "$MV_TMP/journal.img")
	[ -n "$BTRFS_OK" ] && before+=$(sums "$BDEV2" "$MV_TMP/btr2.img")
	mv_oci_bundle --device "$DEV_EXTJ" --device "$JDEV" --device "$DEV_OK" "${bdevs_ok[@]}" \
		"$MV_TMP/$id" "$ROOTFS" sh /sbdev_ok.sh "$DEV_EXTJ" "$DEV_OK" "${BDEV1:-}" ||
		mv_bail "cannot write the bundle"
	run "$id" "${DEVGRP_J:-}" ||
		t_fail "$R: allowed-devices container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_errno "$R: with the journal device allowed by the cgroup the image still does not mount" \
		"$id" extj "EPERM"
	t_step_errno "$R: ... also read-only" "$id" extj_ro "EPERM"
	t_step_ok "$R: ... and nothing is mounted" "$id" extj_clean
	t_decision "$R: decision line: only the source device allowed" "$id" \
		"source=$DEV_EXTJ " "result=EPERM" \
		"creating the superblock with only the source device allowed"
	if [ -n "$BTRFS_OK" ]; then
		t_step_errno "$R: a two-device btrfs does not mount, both members allowed (limitation)" \
			"$id" btr "EPERM|EACCES|EINVAL|ENOENT|EIO"
		t_step_ok "$R: ... and nothing is mounted" "$id" btr_clean
	fi
	t_step_ok "$R: a plain ext4 in the same container mounts" "$id" ok
	if [ "$(mv_step_out "$id" ok_read)" = "hello from ext4" ]; then
		t_ok "$R: ... and reads"
	else
		t_fail "$R: ... and reads" "$(mv_step_out "$id" ok_read)"
	fi
	t_step_ok "$R: ... and unmounts" "$id" ok_umount
	sync
	after=$(sums "$JDEV" "$MV_TMP/journal.img")
	[ -n "$BTRFS_OK" ] && after+=$(sums "$BDEV2" "$MV_TMP/btr2.img")
	if [ "$before" = "$after" ]; then
		t_ok "$R: the allowed journal and member devices were not written"
	else
		t_fail "$R: the allowed journal and member devices were not written" \
			"before $before" "after  $after"
	fi
}

# No cgroup2 hierarchy where notifyd sees it (a pure cgroup v1 host): the
# allowlist is a cgroup v1 devices group of notifyd's ("a" denied, the
# source allowed).  /sys/fs/cgroup becomes a bind mount of a cgroup2
# subdirectory (crun still finds cgroup2 there; notifyd looks for a
# hierarchy's root and finds none), then the plain cgroup2 comes back.
test_v1_only() {
	local R="crun/kernel/no-cgroup2" hide=/sys/fs/cgroup/mvhide-$$ view=$MV_TMP/cg2view
	defer "rmdir '$hide' 2>/dev/null"
	mkdir -p "$hide" "$view" && mount --bind "$hide" "$view" &&
		umount -l /sys/fs/cgroup && mount --bind "$view" /sys/fs/cgroup ||
		{ t_fail "$R: hide cgroup2 from notifyd"; return; }
	umount -l "$view"
	# The host's /sys/fs/cgroup/unified (hybrid) is under the bind now.
	if [ -e /sys/fs/cgroup/unified ] || [ -e /sys/fs/cgroup/mvhide-$$ ]; then
		t_fail "$R: cgroup2's root is hidden from notifyd" "$(grep cgroup /proc/self/mountinfo)"
	fi
	[ -d "$DEVCG/mountvisor-create" ] && t_diag "$R: $DEVCG/mountvisor-create existed before"
	test_sb_allowed "$R" "$MV_IDP-crun-v1only"
	# What made the allowlist: notifyd's transient v1 devices groups.
	if [ -d "$DEVCG/mountvisor-create" ]; then
		t_ok "$R: the allowlist was a cgroup v1 devices group of notifyd's"
		if [ -z "$(find "$DEVCG/mountvisor-create" -mindepth 1 -type d)" ]; then
			t_ok "$R: ... and none is left"
		else
			t_fail "$R: ... and none is left" "$(ls "$DEVCG/mountvisor-create")"
		fi
		rmdir "$DEVCG/mountvisor-create" 2>/dev/null
	else
		t_fail "$R: the allowlist was a cgroup v1 devices group of notifyd's" \
			"no $DEVCG/mountvisor-create"
	fi
	umount -l /sys/fs/cgroup
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || mv_bail "cannot mount cgroup2 again"
	rmdir "$hide" 2>/dev/null
}

# When notifyd cannot join the caller's devices cgroup (here: the v1 devices
# hierarchy is no longer mounted where notifyd sees it), it refuses every
# mount with a source, even of an allowed device, and says why.
test_unjoinable() {
	local id=$MV_IDP-crun-unjoinable
	cat >"$ROOTFS/unjoinable.sh" <<'EOF2'
mvstep mount mount -t ext4 "$1" /mnt/a
mvstep clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
EOF2
	mv_oci_bundle --device "$DEV_OK" "$MV_TMP/$id" "$ROOTFS" sh /unjoinable.sh "$DEV_OK" ||
		mv_bail "cannot write the bundle"
	(
		echo "$BASHPID" >"$DEVGRP/cgroup.procs" || exit 1
		umount -l "$DEVCG" || exit 1
		mv_run crun "$MV_TMP/$id" "$id" 90
	) || t_fail "crun: unjoinable container exits 0" "exit $?"
	t_step_errno "crun: a devices cgroup notifyd cannot join refuses the mount (EPERM)" "$id" \
		mount EPERM
	t_step_ok "crun: ... and nothing is mounted" "$id" clean
	t_decision "crun: decision line says the devices cgroup cannot be joined" "$id" \
		"source=$DEV_OK " "result=EPERM" "devices hierarchy"
}

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	if [ "$RT" = crun ] && [ -z "$DEVGRP" ]; then
		t_skip "crun tests" "no cgroup v1 devices controller to put crun's container in"
		continue
	fi
	test_devices default
	test_sb_devices
	if [ -n "$FUSE2FS" ]; then
		test_devices fuse
	else
		t_skip "$RT: fuse action" "fuse2fs not installed"
	fi
done
# notifyd removes each transient cgroup once its helper is gone.
left=$(find /sys/fs/cgroup/mountvisor-create -mindepth 1 -maxdepth 1 -type d \
	-name "$NOTIFYD_PID-*" 2>/dev/null)
if [ -z "$left" ]; then
	t_ok "no transient cgroup v2 directory of notifyd's is left"
else
	t_fail "no transient cgroup v2 directory of notifyd's is left" "$left"
fi
if [[ " ${RUNTIMES:-crun runc} " == *" crun "* ]] && [ -n "$DEVGRP" ]; then
	RT=crun test_v1_only
fi
# Last: it takes the v1 devices hierarchy away.
[[ " ${RUNTIMES:-crun runc} " == *" crun "* ]] && [ -n "$DEVGRP" ] && test_unjoinable
exit 0
