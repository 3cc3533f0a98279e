#!/bin/bash
# Red-team attacks on notifyd (property 3 of the brief: notifyd never opens a
# device the caller's device cgroup denies -- including devices the KERNEL
# opens on notifyd's behalf during a kernel-action mount made with host
# privilege, in the host's cgroup).
#
# ext4 external journal.  An ext4 superblock without an internal journal
# (s_journal_inum = 0) names its journal device by number (s_journal_dev),
# or its stored default mount options (s_mount_opts, tune2fs -E mount_opts=)
# carry "journal_dev=N" / "journal_path=P".  The kernel opens that device
# itself (ext4_get_journal_blkdev -> bdev_file_open_by_dev, read+write), with
# the credentials and the device cgroup of the task that calls
# fsconfig(FSCONFIG_CMD_CREATE): notifyd's worker, host root, host cgroup.
# notifyd checks only the source (source_open_as_caller()), never what the
# image's superblock makes the kernel open besides it.
#
# The host attaches a loop device holding an ext4 external journal
# (mkfs.ext4 -O journal_dev) and gives the container NO node and NO device
# cgroup rule for it (runc: BPF program; crun: a cgroup v1 devices group that
# denies it).  The container's own image (a device its runtime gives it, or a
# file it attaches with notifyd's loop devices) names that journal.
#   - mount must be refused (or at least fail) and
#   - the host's journal device must see no I/O (writes counted in
#     /sys/block/loopN/stat).
# If the mount succeeds the container's file system writes its journal into a
# host block device it may not open; with a victim's real external journal it
# would replay the victim's transactions into its own image (reads) and
# overwrite the victim's journal (writes).
#
# RESULT (Linux 6.18): was BROKEN under trusted-images, lxd-compatible and
# an `action = kernel` ext4 profile with notifyd's loop devices, runc and
# crun: the mount succeeded, the host journal device was read and written,
# and the "replay" image got the victim's pending block replayed into it.
# Held since FSCONFIG_CMD_CREATE runs in a helper in the caller's cgroup
# (bdev_permission() checks the current task's cgroup) -- which alone did
# not cover the `kloop` cases: a container using notifyd's loop devices
# needs `b 7:* rwm`, which allows the host journal loop device too.  Held
# since the helper creates the superblock in a transient cgroup of
# notifyd's that allows only the source device (device_allow.c): EPERM,
# no I/O on the journal device, nothing replayed.
#
# Also (held, regression): the image's stored default "errors=continue" in
# s_mount_opts does not beat the profile's forced errors=remount-ro (a proxy
# for errors=panic, which we do not try on a shared host).
#
# Further groups (details at each test function):
#   - journal_path= in s_mount_opts is resolved in notifyd's own (host) mount
#     namespace: kernel_mount_create() runs outside the caller's view (BROKEN).
#   - stored default options (s_mount_opts noload / nobarrier,
#     s_default_mount_opts journal_data) bypassed the profile's
#     allowed-options (test_defaults, group "defaults", also run by
#     "journal").  Fixed: notifyd reads the options the new superblock got
#     (/proc/fs/ext4/DEV/options) before attaching it and refuses (EPERM) an
#     option the profile neither allows nor forces; the shipped profiles force
#     barrier, which beats a stored nobarrier (held).
#   - the same images under the shipped default profile (fuse2fs, as the
#     caller, in its cgroup): the host journal is untouched (held).
#   - umount2: a mount put over the target between notifyd's check and its
#     umount2() makes it unmount that one and drop the record of its own
#     mount, which stayed: max-mounts no longer counted (was BROKEN;
#     test_umount_swap, umount_swap.c; fixed: records follow statmount(2)).
#     Bind copies of notifyd mounts outlive their records (test_bind_copy:
#     documented, max-mounts counts attached mounts; the test asserts that).
#   - a FUSE lookup the container stalls (SIGSTOPped fuse2fs bound over /sys)
#     under the global loop-device lock (held: FUSE refuses the host worker).
#
#   RUNTIMES="crun runc" to run a subset; REDTEAM_ONLY="journal swap lock
#   defaults" to run some groups.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cp "$MV_SRC/profiles/trusted-images.conf" "$MV_SRC/profiles/lxd-compatible.conf" "$PROFILES/"
# A test profile: ext4 with the kernel action and notifyd's loop devices, so
# the container attaches an image file it wrote itself.
cat >"$PROFILES/kloop.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4

[fs ext4]
action = kernel
idmap = yes
allowed-options = ro, errors
options = errors=remount-ro
EOF

# umount2 record desync (test_umount_swap): notifyd's own tmpfs mounts, one at most.
cat >"$PROFILES/tswap.conf" <<EOF
[profile]
default-action = deny
max-mounts = 1

[fs tmpfs]
action = kernel
idmap = no
allowed-options = size
EOF

# Stale records (test_umount_stale): the same with two.
sed 's/^max-mounts = 1$/max-mounts = 2/' "$PROFILES/tswap.conf" >"$PROFILES/tswap2.conf"

cp "$MV_SRC/profiles/default.conf" "$PROFILES/default.conf"

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/mnt/f"
chown 100000:100000 "$ROOTFS/mnt/f"
UMOUNT_SWAP=$MV_BUILD/tests/helpers/umount_swap
[ -x "$UMOUNT_SWAP" ] || mv_bail "$UMOUNT_SWAP not built (make all)"
cp "$UMOUNT_SWAP" "$ROOTFS/bin/umount_swap"
chown 100000:100000 "$ROOTFS/bin/umount_swap"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"


# The host's external journal: NOT given to the container.  It belongs to a
# victim file system (victim.img: another tenant's or the host's) that
# crashed with a transaction still to replay in its journal: block VBLK of
# the victim is to be rewritten with a block holding SECRET.
SECRET="MVSECRET-$$-$RANDOM"
VBLK=7000
truncate -s 8M "$MV_TMP/hostjournal.img"
mkfs.ext4 -q -F -O journal_dev -b 4096 "$MV_TMP/hostjournal.img" >/dev/null 2>&1 ||
	mv_bail "cannot build the journal device"
cp "$MV_TMP/hostjournal.img" "$MV_TMP/hostjournal.orig"
# with_journal_copy IMG : mkfs.ext4 IMG with an external journal on a copy
# of the pristine journal (same UUID; every mkfs -J device= adds a user to
# the journal it is given, and the kernel wants exactly one).
with_journal_copy() {
	local img=$1 jdev rc
	shift
	cp "$MV_TMP/hostjournal.orig" "$MV_TMP/jcopy.img"
	jdev=$(losetup --find --show "$MV_TMP/jcopy.img") || return 1
	mkfs.ext4 -q -F -b 4096 -J device="$jdev" "$@" "$img" >/dev/null 2>&1
	rc=$?
	losetup -d "$jdev"
	return "$rc"
}
truncate -s 32M "$MV_TMP/victim.img"
with_journal_copy "$MV_TMP/victim.img" || mv_bail "cannot build the victim"
cp "$MV_TMP/jcopy.img" "$MV_TMP/hostjournal.img" # the journal with its one user
printf '%s\n' "$SECRET" >"$MV_TMP/secret.blk"
truncate -s 4096 "$MV_TMP/secret.blk"
printf 'jo -f %s\njw -b %s %s\njc\n' "$MV_TMP/hostjournal.img" "$VBLK" "$MV_TMP/secret.blk" |
	debugfs -w -f - "$MV_TMP/victim.img" >/dev/null 2>&1
grep -q "$SECRET" "$MV_TMP/hostjournal.img" || mv_bail "cannot write the victim's transaction"
cp "$MV_TMP/hostjournal.img" "$MV_TMP/hostjournal.crafted"
JDEV=$(losetup --find --show "$MV_TMP/hostjournal.img") || mv_bail "cannot attach the journal"
defer "losetup -d '$JDEV'"
mv_devnum "$JDEV" JMAJ JMIN
JNUM=$((JMAJ * 256 + JMIN)) # old-style dev_t as ext4 stores it (minor < 256 here)
[ "$JMIN" -lt 256 ] || mv_bail "journal loop minor $JMIN >= 256"
JNAME=${JDEV#/dev/}
jios() { awk '{print $1 + $5}' "/sys/block/$JNAME/stat"; }
# restore_journal : the victim's pending transaction back on the journal
# device (every mount of a file system without needs_recovery wipes it).
restore_journal() {
	# Never write through a path that is no longer a block device: dd would
	# create a regular file in /dev that breaks later losetup calls.
	[ -b "$JDEV" ] || mv_bail "$JDEV is no longer a block device"
	dd if="$MV_TMP/hostjournal.crafted" of="$JDEV" bs=1M oflag=direct conv=fsync status=none
}

# evil_image FILE MODE : an ext4 image "made by the container".
#   sbdev  : s_journal_dev = the host journal (what mkfs -J device= writes)
#   opts   : s_journal_dev = a device that does not exist, s_mount_opts =
#            "journal_dev=<host journal>" (the stored default options win)
#   path   : as opts, with s_mount_opts = "journal_path=/dev/loopN": a path
#            the kernel resolves in notifyd's view (kernel_mount_create() runs
#            in the host's mount namespace), a node the container has not got
#   replay : as sbdev, and needs_recovery set: the kernel replays the
#            victim's pending transaction into the container's image
#   ext3   : as sbdev, with ext3's features only (mkfs -t ext3)
#   errors : internal journal, s_mount_opts = "errors=continue"
#   defaults: internal journal, s_mount_opts = "nobarrier" and
#            s_default_mount_opts = journal_data (tune2fs -o)
#   noload : internal journal, s_mount_opts = "noload" (skip journal replay)
#   nobarrier: internal journal, s_mount_opts = "nobarrier" only
evil_image() {
	local img=$1 mode=$2
	truncate -s 32M "$img"
	case $mode in
	sbdev | opts | replay | ext3 | path)
		if [ "$mode" = ext3 ]; then
			with_journal_copy "$img" -t ext3 || return 1
		else
			with_journal_copy "$img" || return 1
		fi
		debugfs -w -R "ssv journal_dev $JNUM" "$img" >/dev/null 2>&1 || return 1
		if [ "$mode" = opts ]; then
			debugfs -w -R "ssv journal_dev 0x07ff" "$img" >/dev/null 2>&1 || return 1
			tune2fs -E mount_opts="journal_dev=$JNUM" "$img" >/dev/null 2>&1 || return 1
		fi
		if [ "$mode" = path ]; then
			debugfs -w -R "ssv journal_dev 0x07ff" "$img" >/dev/null 2>&1 || return 1
			debugfs -w -R "ssv mount_opts journal_path=$JDEV" "$img" >/dev/null 2>&1 ||
				return 1
		fi
		if [ "$mode" = replay ]; then
			debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1 || return 1
		fi
		;;
	errors)
		mkfs.ext4 -q -F -b 4096 "$img" >/dev/null 2>&1 || return 1
		tune2fs -E mount_opts=errors=continue "$img" >/dev/null 2>&1 || return 1
		;;
	defaults)
		mkfs.ext4 -q -F -b 4096 "$img" >/dev/null 2>&1 || return 1
		debugfs -w -R "ssv mount_opts nobarrier" "$img" >/dev/null 2>&1 || return 1
		tune2fs -o journal_data "$img" >/dev/null 2>&1 || return 1
		;;
	noload)
		mkfs.ext4 -q -F -b 4096 "$img" >/dev/null 2>&1 || return 1
		debugfs -w -R "ssv mount_opts noload" "$img" >/dev/null 2>&1 || return 1
		;;
	nobarrier)
		mkfs.ext4 -q -F -b 4096 "$img" >/dev/null 2>&1 || return 1
		debugfs -w -R "ssv mount_opts nobarrier" "$img" >/dev/null 2>&1 || return 1
		;;
	esac
	chown 100000:100000 "$img"
}

for m in sbdev opts path replay ext3 errors defaults noload nobarrier; do
	evil_image "$MV_TMP/$m.img" "$m" || mv_bail "cannot build the $m image"
	cp "$MV_TMP/$m.img" "$MV_TMP/$m.orig"
done
mv_loop_attach "$MV_TMP/sbdev.img" DEV_SBDEV || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/opts.img" DEV_OPTS || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/replay.img" DEV_REPLAY || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/errors.img" DEV_ERRORS || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/path.img" DEV_PATH || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/ext3.img" DEV_EXT3 || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/defaults.img" DEV_DEFAULTS || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/noload.img" DEV_NOLOAD || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/nobarrier.img" DEV_NOBARRIER || mv_bail "cannot attach a loop device"
# restore MODE : the image as made (a mount rewrites it) on its device and as
# the container's file, and the victim's journal as it crashed.
restore() {
	local var=DEV_${1^^}
	[ -b "${!var}" ] || mv_bail "${!var} is no longer a block device"
	dd if="$MV_TMP/$1.orig" of="${!var}" bs=1M oflag=direct conv=fsync status=none
	cp "$MV_TMP/$1.orig" "$ROOTFS/img/$1.img"
	chown 100000:100000 "$ROOTFS/img/$1.img"
	restore_journal
}

# crun: a cgroup v1 devices group that denies the journal device.
DEVCG=$MV_TMP/devcg
DEVGRP=
mkdir -p "$DEVCG"
if mount -t cgroup -o devices mvdevices "$DEVCG" 2>/dev/null; then
	defer "umount -l '$DEVCG'"
	DEVGRP=$DEVCG/mvredteam-$$
	mkdir -p "$DEVGRP" && defer "rmdir '$DEVGRP'"
	echo "b $JMAJ:$JMIN rwm" >"$DEVGRP/devices.deny" || DEVGRP=
fi

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# journal.sh DEV : mount it, look for the victim's secret in the container's
# own device, write, sync, show the options, unmount.
cat >"$ROOTFS/journal.sh" <<EOF
dev=\$1
mvstep mount mount -t \${2:-ext4} "\$dev" /mnt/a
mvstep leak sh -c "dd if=\$dev bs=4096 skip=$VBLK count=1 2>/dev/null | grep -a -o 'MVSECRET-[0-9-]*'"
mvstep write sh -c 'echo written > /mnt/a/f && sync'
mvstep options cat "/proc/fs/ext4/\${dev#/dev/}/options"
mvstep umount umount /mnt/a
EOF
# remount.sh DEV : mount it, try to turn barriers off by a remount (the
# superblock belongs to the host's user namespace: the kernel refuses), show
# the options, unmount.
cat >"$ROOTFS/remount.sh" <<EOF
dev=\$1
mvstep mount mount -t ext4 "\$dev" /mnt/a
mvstep remount mount -o remount,nobarrier "\$dev" /mnt/a
mvstep options cat "/proc/fs/ext4/\${dev#/dev/}/options"
mvstep umount umount /mnt/a
EOF
# journal_loop.sh IMG : the same on a loop device of notifyd's (util-linux losetup).
cat >"$ROOTFS/journal_loop.sh" <<EOF
mvstep setup /usr/sbin/losetup -f --show "\$1"
dev=\$(/usr/sbin/losetup -j "\$1" -O NAME -n)
mvstep mount mount -t ext4 "\$dev" /mnt/a
mvstep leak sh -c "dd if=\$1 bs=4096 skip=$VBLK count=1 2>/dev/null | grep -a -o 'MVSECRET-[0-9-]*'"
mvstep write sh -c 'echo written > /mnt/a/f && sync'
mvstep options cat "/proc/fs/ext4/\${dev#/dev/}/options"
mvstep umount umount /mnt/a
mvstep detach /usr/sbin/losetup -d "\$dev"
EOF

run() { # run ID
	local id=$1
	if [ "$RT" = crun ]; then
		(
			echo "$BASHPID" >"$DEVGRP/cgroup.procs" || exit 1
			mv_run crun "$MV_TMP/$id" "$id" 90
		)
	else
		mv_run "$RT" "$MV_TMP/$id" "$id" 90
	fi
}

# test_journal PROFILE MODE [loop] : the container mounts the MODE image
# (evil_image) given by its runtime, or [loop] attached by itself.
test_journal() {
	local profile=$1 mode=$2 loop=${3:-} id dev var w0 w1 R rc fstype=${FSTYPE:-ext4}
	id=$MV_IDP-$RT-$profile-$mode${loop:+-loop}-$fstype
	R="$RT/$profile/$mode${loop:+/loop}${FSTYPE:+/$FSTYPE}"
	restore "$mode"
	if [ -n "$loop" ]; then
		mv_oci_bundle --loop --profile "$profile" "$MV_TMP/$id" "$ROOTFS" \
			sh /journal_loop.sh "/img/$mode.img" || mv_bail "cannot write the bundle"
		mv_bind_host_libs "$MV_TMP/$id"
	else
		var=DEV_${mode^^}
		dev=${!var}
		mv_oci_bundle --profile "$profile" --device "$dev" "$MV_TMP/$id" "$ROOTFS" \
			sh /journal.sh "$dev" "$fstype" || mv_bail "cannot write the bundle"
	fi
	w0=$(jios)
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	w1=$(jios)
	[ -n "$loop" ] && t_step_ok "$R: losetup -f --show of the container's own image" "$id" setup
	rc=$(mv_step_rc "$id" mount)
	if [ "$rc" = 0 ]; then
		t_fail "$R: an ext4 naming a host journal device the cgroup denies is not mounted" \
			"the mount succeeded: the kernel opened $JDEV ($JMAJ:$JMIN) for notifyd" \
			"options: $(mv_step_out "$id" options | tr '\n' ,)" \
			"$(mv_decisions "$id" | grep 'syscall=mount ' | tail -n 1)"
	else
		t_ok "$R: an ext4 naming a host journal device the cgroup denies is not mounted"
	fi
	if [ "$w0" = "$w1" ]; then
		t_ok "$R: the host journal device saw no I/O"
	else
		t_fail "$R: the host journal device saw no I/O" \
			"$JDEV reads+writes went from $w0 to $w1 while the container ran"
	fi
	if [ "$mode" = replay ]; then
		if grep -q -- "$SECRET" "$(mv_out "$id")"; then
			t_fail "$R: the victim's journal is not replayed into the container's image" \
				"the container read the victim's block from its own device:" \
				"$(mv_step_out "$id" leak)"
		else
			t_ok "$R: the victim's journal is not replayed into the container's image"
		fi
	fi
}

# test_journal_fuse MODE : the shipped default profile gives ext4 to fuse2fs,
# which runs as the caller, in its cgroup: the host journal must stay
# untouched whatever the mount's outcome (held; regression).
test_journal_fuse() {
	local mode=$1 id R var dev w0 w1
	id=$MV_IDP-$RT-default-$mode
	R="$RT/default/$mode"
	restore "$mode"
	var=DEV_${mode^^}
	dev=${!var}
	mv_oci_bundle --profile default --device "$dev" "$MV_TMP/$id" "$ROOTFS" \
		sh /journal.sh "$dev" || mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	w0=$(jios)
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	w1=$(jios)
	t_diag "$R: mount exit $(mv_step_rc "$id" mount): $(mv_step_out "$id" mount | head -n 2)"
	if [ "$w0" = "$w1" ]; then
		t_ok "$R: fuse2fs: the host journal device saw no I/O"
	else
		t_fail "$R: fuse2fs: the host journal device saw no I/O" \
			"$JDEV reads+writes went from $w0 to $w1 while the container ran"
	fi
	if grep -q -- "$SECRET" "$(mv_out "$id")"; then
		t_fail "$R: fuse2fs: the victim's journal is not replayed into the container's image"
	else
		t_ok "$R: fuse2fs: the victim's journal is not replayed into the container's image"
	fi
}

# test_errors PROFILE : s_mount_opts=errors=continue vs the forced errors=remount-ro.
test_errors() {
	local profile=$1 id R
	id=$MV_IDP-$RT-$profile-errors
	R="$RT/$profile/errors"
	restore errors
	mv_oci_bundle --profile "$profile" --device "$DEV_ERRORS" "$MV_TMP/$id" "$ROOTFS" \
		sh /journal.sh "$DEV_ERRORS" || mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_ok "$R: an ext4 with stored errors=continue mounts" "$id" mount
	if grep -qx 'errors=remount-ro' <<<"$(mv_step_out "$id" options)"; then
		t_ok "$R: the forced errors=remount-ro beats the superblock's errors=continue"
	else
		t_fail "$R: the forced errors=remount-ro beats the superblock's errors=continue" \
			"$(mv_step_out "$id" options)"
	fi
}

# test_defaults PROFILE MODE OPTION... : the image's stored default mount
# options (s_mount_opts, s_default_mount_opts) must obey the profile's
# allowed-options.  trusted-images says "nothing that skips journal replay or
# write barriers (noload, norecovery, nobarrier)"; lxd-compatible allows only
# data=ordered.  Either the mount is refused -- then with EPERM and a
# decision line that names an option coming from the image -- or none of
# OPTION... is among the options the kernel applied.
test_defaults() {
	local profile=$1 mode=$2 id R o opts var dev d
	shift 2
	id=$MV_IDP-$RT-$profile-$mode
	R="$RT/$profile/$mode"
	var=DEV_${mode^^}
	dev=${!var}
	restore "$mode"
	mv_oci_bundle --profile "$profile" --device "$dev" "$MV_TMP/$id" "$ROOTFS" \
		sh /journal.sh "$dev" || mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	opts=$(mv_step_out "$id" options)
	if [ "$(mv_step_rc "$id" mount)" != 0 ]; then
		t_ok "$R: an ext4 whose superblock asks for $* is refused"
		d=$(mv_decisions "$id" | grep 'syscall=mount ' | tail -n 1)
		if grep -q 'result=EPERM' <<<"$d" && grep -q "has option '[^']*' from the image" <<<"$d"; then
			t_ok "$R: EPERM, and the decision line names the image's option"
		else
			t_fail "$R: EPERM, and the decision line names the image's option" "$d"
		fi
		return
	fi
	for o in "$@"; do
		if grep -qx "$o" <<<"$opts"; then
			t_fail "$R: the image's stored default options do not reach the kernel: $o" \
				"the profile does not allow $o; the superblock got it applied:" \
				"$(tr '\n' , <<<"$opts")"
		else
			t_ok "$R: the image's stored default options do not reach the kernel: $o"
		fi
	done
}

# test_barrier PROFILE : an image whose only stored default is nobarrier
# mounts, the profile's forced barrier wins, and the container cannot
# remount it nobarrier afterwards (held).
test_barrier() {
	local profile=$1 id R opts
	id=$MV_IDP-$RT-$profile-nobarrier
	R="$RT/$profile/nobarrier"
	restore nobarrier
	mv_oci_bundle --profile "$profile" --device "$DEV_NOBARRIER" "$MV_TMP/$id" "$ROOTFS" \
		sh /remount.sh "$DEV_NOBARRIER" || mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_ok "$R: an ext4 with stored nobarrier mounts" "$id" mount
	if [ "$(mv_step_rc "$id" remount)" != 0 ]; then
		t_ok "$R: the container cannot remount it nobarrier"
		t_diag "$R: remount: $(mv_step_out "$id" remount | head -n 1)"
	else
		t_fail "$R: the container cannot remount it nobarrier" "$(mv_step_out "$id" remount)"
	fi
	opts=$(mv_step_out "$id" options)
	if grep -qx barrier <<<"$opts" && ! grep -qx nobarrier <<<"$opts"; then
		t_ok "$R: the forced barrier beats the superblock's nobarrier"
	else
		t_fail "$R: the forced barrier beats the superblock's nobarrier" "$(tr '\n' , <<<"$opts")"
	fi
}

# test_umount_swap : umount2's check and act look the path up twice
# (umount_request_handle(): view_open() to decide, umount2(rq->target) to
# act).  A bind mount put over the target in between is what the kernel then
# unmounts; notifyd used to drop the record of its own mount, which stayed:
# max-mounts stopped counting (umount_swap.c).  Fixed: a record is dropped
# only when statmount(2) no longer finds its unique mount id in the caller's
# namespace (umount_notifyd_mount()).
# Asserts, with max-mounts = 1: the helper never gets a second notifyd mount
# through (no "extra=" line, at most 1 alive at its end); then, with the
# container still running, /proc/PID/mountinfo holds at most one notifyd
# tmpfs (hidden ones under a bind included) and notifyctl's records name
# exactly the targets of the notifyd tmpfs mounts there.
test_umount_swap() {
	local id=$MV_IDP-$RT-umount-swap R="$RT/umount-swap" out pid rpid recs live
	rm -f "$ROOTFS"/tmp/sync/swap.check.*
	mv_oci_bundle --profile tswap "$MV_TMP/$id" "$ROOTFS" \
		sh -c 'mvstep swap umount_swap 3000 1; mvsync swap.check' ||
		mv_bail "cannot write the bundle"
	run "$id" &
	rpid=$!
	if mv_sync_wait "$ROOTFS" swap.check 240; then
		pid=$(mv_ctl list | awk -v id="$id" '$1 == id { print $2; exit }')
		# notifyd's tmpfs mounts (size=64k under /mnt/sa, /mnt/sc), hidden ones too.
		live=$(awk '$5 ~ "^/mnt/s[ac]/" { for (i = 7; $i != "-"; i++); \
			if ($(i + 1) == "tmpfs" && $0 ~ /size=64k/) print $5 }' \
			"/proc/$pid/mountinfo" 2>/dev/null | sort)
		recs=$(mv_ctl mounts | awk -v id="$id" '$1 == id { print $NF }' | sort)
	fi
	mv_sync_go "$ROOTFS" swap.check
	wait "$rpid" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	out=$(mv_step_out "$id" swap)
	if ! grep -q '^done ' <<<"$out"; then
		t_fail "$R: the race ran" "$out"
		return
	fi
	t_diag "$R: $(grep '^done ' <<<"$out")"
	if grep -q 'extra=' <<<"$out" || [ "$(mv_step_rc "$id" swap)" != 0 ]; then
		t_fail "$R: a mount put over the target under umount2 does not desync notifyd's records (max-mounts = 1)" \
			"$(grep -E 'extra=|^done ' <<<"$out" | head -n 6)" \
			"$(mv_decisions "$id" | grep 'syscall=umount2' | grep -v 'result=continue' | tail -n 3)"
	else
		t_ok "$R: a mount put over the target under umount2 does not desync notifyd's records (max-mounts = 1)"
	fi
	if [ -z "$pid" ]; then
		t_fail "$R: records match mountinfo" "no pid for $id in notifyctl list"
	elif [ -n "$live" ] && [ "$(grep -c . <<<"$live")" -le 1 ] && [ "$live" = "$recs" ]; then
		t_ok "$R: records match mountinfo (at most max-mounts = 1 notifyd mount alive)"
	else
		t_fail "$R: records match mountinfo (at most max-mounts = 1 notifyd mount alive)" \
			"notifyd tmpfs in /proc/$pid/mountinfo: $(tr '\n' ' ' <<<"$live")" \
			"notifyctl mounts: $(tr '\n' ' ' <<<"$recs")"
	fi
	# How often the bind landed inside the window (the record was kept then).
	t_diag "$R: umount2 that met another mount at the target: $(mv_decisions "$id" |
		grep 'syscall=umount2' | grep -c 'stays recorded')"
}

# test_umount_stale : a record whose mount went by other means (here: the
# container lazily unmounts a parent of it, which is the kernel's business)
# is dropped at the next umount2 notifyd performs for the container
# (mount_record_prune(): the record's unique mount id is no longer in its
# mount namespace).  max-mounts = 2: A under a detached parent, B unmounted
# by notifyd; then C and D both fit (with A's record kept, D got ENOSPC).
test_umount_stale() {
	local id=$MV_IDP-$RT-umount-stale R="$RT/umount-stale"
	cat >"$ROOTFS/umount_stale.sh" <<'EOF'
mkdir -p /mnt/p /mnt/q /mnt/c /mnt/d
mount --bind /mnt/p /mnt/p
mkdir -p /mnt/p/x
mvstep mountA mount -t tmpfs -o size=64k none /mnt/p/x
mvstep detach umount -l /mnt/p
mvstep mountB mount -t tmpfs -o size=64k none /mnt/q
mvstep umountB umount /mnt/q
mvstep mountC mount -t tmpfs -o size=64k none /mnt/c
mvstep mountD mount -t tmpfs -o size=64k none /mnt/d
EOF
	mv_oci_bundle --profile tswap2 "$MV_TMP/$id" "$ROOTFS" sh /umount_stale.sh ||
		mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	if [ "$(mv_step_rc "$id" mountA)/$(mv_step_rc "$id" detach)/$(mv_step_rc "$id" mountB)/$(mv_step_rc "$id" umountB)" != 0/0/0/0 ]; then
		t_fail "$R: set-up: a notifyd mount under a lazily unmounted parent, one more mounted and unmounted" \
			"$(cat "$(mv_out "$id")")"
		return
	fi
	if [ "$(mv_step_rc "$id" mountC)/$(mv_step_rc "$id" mountD)" = 0/0 ]; then
		t_ok "$R: the record of a mount gone with its parent is dropped at the next notifyd umount2 (max-mounts = 2)"
	else
		t_fail "$R: the record of a mount gone with its parent is dropped at the next notifyd umount2 (max-mounts = 2)" \
			"mountC: $(mv_step_out "$id" mountC)" "mountD: $(mv_step_out "$id" mountD)"
	fi
}

# test_umount_limit : the same at the limit, with no notifyd umount2 in
# between: max-mounts = 1, A under a lazily detached parent, then B must fit
# (mount_check_prepare() in mount_check.c prunes records of gone mounts at the limit).
test_umount_limit() {
	local id=$MV_IDP-$RT-umount-limit R="$RT/umount-limit"
	cat >"$ROOTFS/umount_limit.sh" <<'EOS'
mkdir -p /mnt/p /mnt/b
mount --bind /mnt/p /mnt/p
mkdir -p /mnt/p/x
mvstep mountA mount -t tmpfs -o size=64k none /mnt/p/x
mvstep detach umount -l /mnt/p
mvstep mountB mount -t tmpfs -o size=64k none /mnt/b
mvstep mountC mount -t tmpfs -o size=64k none /mnt/p
EOS
	mv_oci_bundle --profile tswap "$MV_TMP/$id" "$ROOTFS" sh /umount_limit.sh ||
		mv_bail "cannot write the bundle"
	run "$id" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	if [ "$(mv_step_rc "$id" mountA)/$(mv_step_rc "$id" detach)" != 0/0 ]; then
		t_fail "$R: set-up: a notifyd mount under a lazily unmounted parent" \
			"$(cat "$(mv_out "$id")")"
		return
	fi
	t_step_ok "$R: at max-mounts = 1, the record of a mount gone with its parent does not count" \
		"$id" mountB
	t_step_errno "$R: the next mount past max-mounts = 1 still gets ENOSPC" "$id" mountC ENOSPC
}

# test_bind_copy : what max-mounts counts.  A bind copy of a notifyd mount
# is the kernel's (the rule file traps only new superblocks; notifyd never
# sees it),
# and umount2 of the original is notifyd's, which drops the original's
# record: the copy keeps the superblock alive past its record, so more
# notifyd superblocks than max-mounts can live at once.  That is documented
# (docs/security.md, "max-mounts counts attached mounts, not superblocks"):
# with the kernel's interfaces notifyd cannot count superblocks honestly (a
# mount namespace the container creates, an open file or a lazily detached
# mount keeps one alive just as well as a bind copy).  What must hold, and is
# asserted here (max-mounts = 1):
#   - every bind copy is the kernel's (the filter does not even trap
#     MS_BIND) and every umount2 of an original is notifyd's (ok); the
#     copies stay readable;
#   - notifyd's records are exactly its attached mounts still there: none
#     once the originals are gone, while the five copies live;
#   - a copy keeps nosuid,nodev locked: remounting it dev,suid is refused;
#   - one more notifyd mount gets through (records count attached mounts),
#     the next gets ENOSPC; umount2 of a copy is the kernel's.
# (Before: this test asserted at most one superblock alive and failed on
# purpose; changed to assert the documented behaviour.)
test_bind_copy() {
	local id=$MV_IDP-$RT-bind-copy R="$RT/bind-copy" n pid recs i
	rm -f "$ROOTFS"/tmp/sync/bind.check.*
	cat >"$ROOTFS/bind_copy.sh" <<'EOF'
for i in 1 2 3 4 5; do
	mkdir -p /mnt/k/$i /mnt/sa/x
	mvstep mount$i mount -t tmpfs -o size=64k none /mnt/sa/x
	echo "sb$i" >/mnt/sa/x/id
	mvstep bind$i mount --bind /mnt/sa/x /mnt/k/$i
	mvstep umount$i umount /mnt/sa/x
done
mvstep alive sh -c 'cat /mnt/k/*/id'
mvsync bind.check
mvstep remount mount -o remount,bind,dev,suid /mnt/k/1
mkdir -p /mnt/sc/6 /mnt/sc/7
mvstep mount6 mount -t tmpfs -o size=64k none /mnt/sc/6
mvstep mount7 mount -t tmpfs -o size=64k none /mnt/sc/7
mvstep umount6 umount /mnt/sc/6
mvstep umountk umount /mnt/k/1
EOF
	mv_oci_bundle --profile tswap "$MV_TMP/$id" "$ROOTFS" sh /bind_copy.sh ||
		mv_bail "cannot write the bundle"
	run "$id" &
	pid=$!
	if mv_sync_wait "$ROOTFS" bind.check 120; then
		recs=$(mv_ctl mounts | awk -v id="$id" '$1 == id' | grep -c .)
	fi
	mv_sync_go "$ROOTFS" bind.check
	wait "$pid" || t_fail "$R: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	for i in 1 2 3 4 5; do
		[ "$(mv_step_rc "$id" "mount$i")/$(mv_step_rc "$id" "bind$i")/$(mv_step_rc "$id" "umount$i")" = 0/0/0 ] ||
			break
	done
	if [ "$i" = 5 ] && [ "$(mv_step_rc "$id" umount5)" = 0 ]; then
		t_ok "$R: five rounds of mount, bind copy, umount of the original"
	else
		t_fail "$R: five rounds of mount, bind copy, umount of the original" \
			"round $i: $(mv_step_out "$id" "mount$i") $(mv_step_out "$id" "bind$i") $(mv_step_out "$id" "umount$i")"
	fi
	t_decision "$R: umount2 of the original is notifyd's" "$id" \
		'syscall=umount2' 'target=/mnt/sa/x' 'action=umount' 'result=ok'
	n=$(mv_step_out "$id" alive | grep -c '^sb[0-9]$')
	if [ "$n" = 5 ] && [ "${recs:-x}" = 0 ]; then
		t_ok "$R: the copies outlive their records (documented: max-mounts counts attached mounts, not superblocks)"
	else
		t_fail "$R: the copies outlive their records (documented: max-mounts counts attached mounts, not superblocks)" \
			"$n copies readable (want 5), ${recs:-no} records with the originals gone (want 0)"
	fi
	if [ "$(mv_step_rc "$id" remount)" != 0 ]; then
		t_ok "$R: a bind copy keeps nosuid,nodev locked"
	else
		t_fail "$R: a bind copy keeps nosuid,nodev locked" "$(mv_step_out "$id" remount)"
	fi
	if [ "$(mv_step_rc "$id" mount6)" = 0 ] && [ "$(mv_step_rc "$id" mount7)" != 0 ] &&
		grep -q 'No space left' <<<"$(mv_step_out "$id" mount7)"; then
		t_ok "$R: max-mounts = 1 counts the attached mounts: one more, then ENOSPC"
	else
		t_fail "$R: max-mounts = 1 counts the attached mounts: one more, then ENOSPC" \
			"mount6: $(mv_step_out "$id" mount6)" "mount7: $(mv_step_out "$id" mount7)"
	fi
	# The last umount2 (of the copy /mnt/k/1) comes when no record is left.
	if [ "$(mv_step_rc "$id" umountk)" = 0 ]; then
		t_decision "$R: umount2 of a copy is the kernel's" "$id" \
			'syscall=umount2' 'result=continue' 'no notifyd mounts'
	else
		t_fail "$R: umount2 of a copy is the kernel's" "$(mv_step_out "$id" umountk)"
	fi
}

# test_loop_lock : one container blocks every other container's loop devices.
# loop_device_get() (loop_device.c) holds the global `loop_state.lock` while
# place() works in the caller's view: loop_view_install() ->
# loop_attach_in_view(rq, tree, "/sys", "block") (loop_node.c) looks up
# /sys/block as the container sees it.  The
# container binds a directory of a FUSE mount notifyd made for it (ext4 via
# fuse2fs, shipped default profile) over /sys and SIGSTOPs the fuse2fs (it
# runs in the container's pid namespace with the container root's ids), then
# asks for its first loop device: the worker waits for a FUSE LOOKUP that
# never comes, with the lock held.  Another container's losetup then hangs
# (and so does every container_forget() of a container with loop devices).
# RESULT: held.  FUSE refuses the worker's lookup at once (EACCES: the worker
# is not in the FUSE mount's user namespace, fuse_allow_current_process()),
# so no request reaches the stopped fuse2fs; notifyd logs "cannot overmount
# /sys/block: Permission denied" and goes on.  Kept as a regression test.
test_loop_lock() {
	local a=$MV_IDP-$RT-lock-a b=$MV_IDP-$RT-lock-b c=$MV_IDP-$RT-lock-c
	local R="$RT/default/loop-lock"
	local lockdev
	# The FUSE image comes as a block device from the runtime, so that the
	# stalled losetup is the container's first loop request (loop_view_install()).
	mv_make_ext4 "$MV_TMP/lock.img" 8M || mv_bail "cannot build the ext4 image"
	mv_loop_attach "$MV_TMP/lock.img" lockdev || mv_bail "cannot attach a loop device"
	mv_make_ext4 "$ROOTFS/img/victim.img" 8M || mv_bail "cannot build the ext4 image"
	chown 100000:100000 "$ROOTFS/img/victim.img"
	rm -f "$ROOTFS"/tmp/sync/*
	cat >"$ROOTFS/lock_a.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/f
mvstep mkdir mkdir /mnt/f/s
mvstep bind mount --bind /mnt/f/s /sys
pid=
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = fuse2fs ] && pid=${p#/proc/}
done
mvstep stop kill -STOP "$pid"
umount_swap getfree >/tmp/a.losetup 2>&1 &
sleep 2
mvsync lock.stalled
mvstep a_losetup cat /tmp/a.losetup
kill -CONT "$pid"
EOF
	cat >"$ROOTFS/lock_b.sh" <<'EOF'
mvstep losetup timeout 15 umount_swap getfree
EOF
	mv_oci_bundle --loop --profile default "$MV_TMP/$c" "$ROOTFS" sh /lock_b.sh ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$c"
	mv_oci_bundle --loop --profile default --device "$lockdev" "$MV_TMP/$a" "$ROOTFS" \
		sh /lock_a.sh "$lockdev" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$a"
	mv_oci_bundle --loop --profile default "$MV_TMP/$b" "$ROOTFS" sh /lock_b.sh ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$b"

	# Control: another container's losetup works while nobody stalls.
	run "$c" || t_fail "$R: control container exits 0" "exit $?" "$(cat "$(mv_out "$c")")"
	t_step_ok "$R: control: LOOP_CTL_GET_FREE in a container" "$c" losetup

	mv_start "$RT" "$MV_TMP/$a" "$a" 120
	if ! mv_sync_wait "$ROOTFS" lock.stalled 60; then
		t_fail "$R: the attacker got its FUSE mount stalled" "$(cat "$(mv_out "$a")")"
		mv_sync_go "$ROOTFS" lock.stalled
		mv_wait "$a"
		return
	fi
	run "$b" || true
	mv_sync_go "$ROOTFS" lock.stalled
	mv_wait "$a"
	t_step_ok "$R: attacker: ext4 via fuse2fs" "$a" mount
	t_step_ok "$R: attacker: SIGSTOP of its fuse2fs" "$a" stop
	if [ "$(mv_step_rc "$b" losetup)" = 0 ]; then
		t_ok "$R: another container's LOOP_CTL_GET_FREE is not blocked by a stalled FUSE lookup"
	else
		t_fail "$R: another container's LOOP_CTL_GET_FREE is not blocked by a stalled FUSE lookup" \
			"step losetup of $b: exit $(mv_step_rc "$b" losetup) (timeout 15 s)" \
			"$(mv_step_out "$b" losetup)"
	fi
}

want() { [ -z "${REDTEAM_ONLY:-}" ] || [[ " $REDTEAM_ONLY " == *" $1 "* ]]; }

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	if [ "$RT" = crun ] && [ -z "$DEVGRP" ]; then
		t_skip "crun tests" "no cgroup v1 devices controller to put crun's container in"
		continue
	fi
	# REDTEAM_ONLY="journal swap lock defaults" picks groups (all by default).
	if want journal; then
	for p in trusted-images lxd-compatible; do
		test_journal "$p" sbdev
		test_journal "$p" opts
		test_journal "$p" path
		test_journal "$p" replay
		test_errors "$p"
	done
	fi
	if want journal || want defaults; then
	for p in trusted-images lxd-compatible; do
		test_defaults "$p" defaults nobarrier data=journal
		test_defaults "$p" noload norecovery
		test_barrier "$p"
	done
	fi
	if want journal; then
	# trusted-images also gives ext3 to the kernel (same driver, same journal code).
	FSTYPE=ext3 test_journal trusted-images ext3
	test_journal_fuse replay
	test_journal_fuse opts
	fi
	want swap && test_umount_swap
	want swap && test_umount_stale
	want swap && test_umount_limit
	want swap && test_bind_copy
	want lock && test_loop_lock
	if want journal; then
		test_journal kloop sbdev loop
		test_journal kloop opts loop
		test_journal kloop replay loop
	fi
done
exit 0
