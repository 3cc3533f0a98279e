#!/bin/bash
# Issue 13 items 4, 6 and 7 against real crun and runc containers, with the
# profiles exactly as shipped (profiles/*.conf) plus one test profile:
#
#  4. forced options win: mount -o errors=panic,errors=panic (and variants)
#     under trusted-images and lxd-compatible reaches the kernel as
#     errors=remount-ro (the super options in /proc/self/mountinfo), also on
#     images whose superblock says panic; a forced noacl is not undone by
#     acl; journal_path= (opens a host device) is refused.
#  6. loop ioctls never `continue`: tests/helpers/loop_hostile --race swaps
#     fd numbers among loop devices, /dev/null, a FIFO, a directory, a socket
#     while sending LOOP_CONFIGURE/LOOP_SET_FD/LOOP_SET_STATUS64 with
#     PARTSCAN; no LOOP_* decision is `continue`, no device of the container
#     ever has PARTSCAN or a backing file other than the image (checked from
#     inside through the devices' own fds, and from the host by a watcher).
#  7. trusted-images hands out no loop devices, and a loop device the
#     runtime gave cannot be detached or re-pointed by the container;
#     b 7:* rwm in the device cgroup opens no host loop device through a
#     node on an image notifyd mounted (nodev, locked: needs notifyd's
#     locked kernel mounts).
#
#   RUNTIMES="crun runc", LOOP_RACE_ROUNDS=N (default 1500) to change.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ROUNDS=${LOOP_RACE_ROUNDS:-1500}
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] || mv_bail "util-linux losetup not found"
[ -x "$MV_BUILD/tests/helpers/loop_hostile" ] || mv_bail "loop_hostile not built (make all)"
command -v mke2fs >/dev/null || mv_bail "mke2fs not installed"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cp "$MV_SRC"/profiles/*.conf "$PROFILES/"
# forcing: forced negations and aliases (nodelalloc against delalloc, grpid
# against nogrpid and sysvgroups), next to errors.
cat >"$PROFILES/forcing.conf" <<EOF
[profile]
default-action = deny

[fs ext4]
action = kernel
idmap = yes
allowed-options = delalloc, nodelalloc, grpid, nogrpid, sysvgroups, errors
options = nodelalloc, grpid, errors=remount-ro
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$MV_BUILD/tests/helpers/loop_hostile" "$ROOTFS/bin/loop_hostile"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
mv_make_ext4 "$ROOTFS/img/race.img" 8M || mv_bail "cannot build the ext4 image"
mv_make_ext4 "$ROOTFS/img/evil.img" 8M || mv_bail "cannot build the ext4 image"
chown -R 100000:100000 "${ROOTFS:?}/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"

# Host-given images (trusted): ext4 whose superblock says errors=continue, one
# that says panic, ext3 and ext2.
mkimg() { # mkimg FILE TYPE ERRORS
	mke2fs -q -F -t "$2" -e "$3" "$1" 8M >"$MV_TMP/mkfs.log" 2>&1
}
for spec in cont:ext4:continue panic:ext4:panic ext3:ext3:continue ext2:ext2:continue; do
	IFS=: read -r name type errs <<<"$spec"
	mkimg "$MV_TMP/$name.img" "$type" "$errs" || mv_bail "mke2fs -t $type failed: $(cat "$MV_TMP/mkfs.log")"
	mv_loop_attach "$MV_TMP/$name.img" "DEV_$name" || mv_bail "cannot attach $name.img"
done
# A host loop device the containers are never given, holding a secret, and an
# image (given to the containers) with a block node naming it: b 7:* in the
# device cgroup must not make that node openable.
printf 'host secret\n' >"$MV_TMP/secret.img"
truncate -s 1M "$MV_TMP/secret.img"
SECRET_DEV=$(losetup -f --show "$MV_TMP/secret.img") || mv_bail "cannot attach the secret"
defer "losetup -d '$SECRET_DEV'"
mkdir -p "$MV_TMP/nodesrc"
mknod -m 0666 "$MV_TMP/nodesrc/hostloop" b 7 "$((16#$(stat -c %T "$SECRET_DEV")))"
mke2fs -q -F -t ext4 -d "$MV_TMP/nodesrc" "$MV_TMP/nodes.img" 8M >"$MV_TMP/mkfs.log" 2>&1 ||
	mv_bail "mke2fs -d with a device node failed: $(cat "$MV_TMP/mkfs.log")"
mv_loop_attach "$MV_TMP/nodes.img" DEV_nodes || mv_bail "cannot attach nodes.img"
# shellcheck disable=SC2154 # set by mv_loop_attach
t_diag "host devices: cont=$DEV_cont panic=$DEV_panic ext3=$DEV_ext3 ext2=$DEV_ext2 nodes=$DEV_nodes secret=$SECRET_DEV"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# super_opts ID STEP : the super options (after " - TYPE SOURCE ") of a mountinfo line.
super_opts() { mv_step_out "$1" "$2" | sed -n 's/.* - [^ ]* [^ ]* \([^ ]*\)$/\1/p' | tail -n1; }

# expect_super DESC ID STEP WANT [NOT] : the mount's super options have WANT and not NOT.
expect_super() {
	local opts
	opts=$(super_opts "$2" "$3")
	if [[ ,$opts, == *,$4,* ]] && { [ -z "${5:-}" ] || [[ ,$opts, != *,$5,* ]]; }; then
		t_ok "$1 ($opts)"
	else
		t_fail "$1" "super options '$opts', want $4${5:+, not $5}" "$(mv_step_out "$2" "$3")"
		mv_explain "$2"
	fi
}

# ---------------------------------------------------------------------------
# Item 4: errors=panic never reaches the kernel; forced negations hold
# ---------------------------------------------------------------------------
test_forced() {
	local id=opt-$RT-trusted id2=opt-$RT-lxd id3=opt-$RT-forcing n v
	local variants=("errors=panic,errors=panic" "errors=panic" "errors=continue,errors=panic"
		"errors=remount-ro,errors=panic" "errors=panic,noatime,errors=panic,errors=panic")
	{
		n=0
		for v in "${variants[@]}"; do
			echo "mvstep m$n mount -t ext4 -o $v $DEV_cont /mnt/a"
			echo "mvstep i$n grep ' /mnt/a ' /proc/self/mountinfo"
			echo "mvstep u$n umount /mnt/a"
			n=$((n + 1))
		done
		echo "mvstep mpanic mount -t ext4 $DEV_panic /mnt/a"
		echo "mvstep ipanic grep ' /mnt/a ' /proc/self/mountinfo"
		echo "mvstep upanic umount /mnt/a"
		echo "mvstep mext3 mount -t ext3 -o errors=panic,errors=panic $DEV_ext3 /mnt/a"
		echo "mvstep iext3 grep ' /mnt/a ' /proc/self/mountinfo"
		echo "mvstep uext3 umount /mnt/a"
		echo "mvstep mext2 mount -t ext2 -o errors=panic,errors=panic $DEV_ext2 /mnt/a"
		echo "mvstep iext2 grep ' /mnt/a ' /proc/self/mountinfo"
		echo "mvstep uext2 umount /mnt/a"
		echo "mvstep journal mount -t ext4 -o journal_path=/dev/vda $DEV_cont /mnt/a"
		echo "mvstep dax mount -t ext4 -o dax $DEV_cont /mnt/a"
		# Item 7, a device the runtime gave: read its status, but never detach or re-point it.
		echo "mvstep lstatus $LOSETUP $DEV_cont"
		echo "mvstep ldetach $LOSETUP -d $DEV_cont"
		echo "mvstep lgetfree $LOSETUP -f --show /img/evil.img"
		echo "mvstep mloop /usr/bin/mount -o loop /img/evil.img /mnt/b"
	} >"$ROOTFS/trusted.sh"
	oci_bundle "$id" trusted-images --loop --device "$DEV_cont" --device "$DEV_panic" \
		--device "$DEV_ext3" --device "$DEV_ext2" -- sh /trusted.sh
	mv_run "$RT" "$MV_TMP/$id" "$id" 120
	for ((n = 0; n < ${#variants[@]}; n++)); do
		t_step_ok "$RT: trusted-images: mount -o ${variants[n]} mounts" "$id" "m$n"
		expect_super "$RT: trusted-images: -o ${variants[n]} reaches the kernel as errors=remount-ro" \
			"$id" "i$n" errors=remount-ro errors=panic
	done
	t_step_ok "$RT: trusted-images: an image whose superblock says panic mounts" "$id" mpanic
	expect_super "$RT: trusted-images: ... with errors=remount-ro, not the image's panic" \
		"$id" ipanic errors=remount-ro
	t_step_ok "$RT: trusted-images: ext3 with errors=panic,errors=panic mounts" "$id" mext3
	expect_super "$RT: trusted-images: ext3 gets errors=remount-ro" "$id" iext3 errors=remount-ro errors=panic
	t_step_ok "$RT: trusted-images: ext2 with errors=panic,errors=panic mounts" "$id" mext2
	expect_super "$RT: trusted-images: ext2 gets errors=remount-ro" "$id" iext2 errors=remount-ro errors=panic
	t_step_errno "$RT: trusted-images: journal_path= (a host device) refused" "$id" journal EINVAL
	t_step_errno "$RT: trusted-images: dax refused" "$id" dax EINVAL
	t_decision "$RT: trusted-images: the decision names journal_path" "$id" 'syscall=mount' \
		'result=EINVAL' 'journal_path'
	t_step_ok "$RT: item 7: status of a runtime-given loop device can be read" "$id" lstatus
	t_step_errno "$RT: item 7: detaching a runtime-given loop device: EPERM" "$id" ldetach EPERM
	t_check "$RT: item 7: ... and it is still bound to the host's image" \
		grep -q "^$DEV_cont: .*cont.img" <<<"$(losetup -a)"
	t_decision "$RT: item 7: LOOP_CLR_FD on it is refused, not continued" "$id" \
		'type=LOOP_CLR_FD' 'action=deny' 'result=EPERM'
	t_check "$RT: item 7: trusted-images hands out no loop device (losetup -f fails)" \
		[ "$(mv_step_rc "$id" lgetfree)" != 0 ]
	t_decision "$RT: item 7: LOOP_CTL_GET_FREE under trusted-images: EPERM" "$id" \
		'type=LOOP_CTL_GET_FREE' 'result=EPERM' 'max-loop-devices=0'
	t_check "$RT: item 7: mount -o loop of a container-made image fails" \
		[ "$(mv_step_rc "$id" mloop)" != 0 ]
	t_check "$RT: item 7: no mount decision ran the kernel on a container-made image" \
		[ -z "$(mv_decisions "$id" | grep 'syscall=mount' | grep 'action=kernel' | grep 'result=ok' |
			grep -v -e "source=$DEV_cont " -e "source=$DEV_panic " -e "source=$DEV_ext3 " \
				-e "source=$DEV_ext2 ")" ]

	cat >"$ROOTFS/lxd.sh" <<EOF
mvstep m0 mount -t ext4 -o errors=panic,errors=panic $DEV_cont /mnt/a
mvstep i0 grep ' /mnt/a ' /proc/self/mountinfo
mvstep u0 umount /mnt/a
mvstep mpanic mount -t ext4 $DEV_panic /mnt/a
mvstep ipanic grep ' /mnt/a ' /proc/self/mountinfo
mvstep upanic umount /mnt/a
mvstep journal mount -t ext4 -o journal_path=/dev/vda $DEV_cont /mnt/a
EOF
	oci_bundle "$id2" lxd-compatible --device "$DEV_cont" --device "$DEV_panic" -- sh /lxd.sh
	mv_run "$RT" "$MV_TMP/$id2" "$id2" 60
	t_step_ok "$RT: lxd-compatible: mount -o errors=panic,errors=panic mounts" "$id2" m0
	expect_super "$RT: lxd-compatible: ... as errors=remount-ro" "$id2" i0 errors=remount-ro errors=panic
	t_step_ok "$RT: lxd-compatible: an image whose superblock says panic mounts" "$id2" mpanic
	expect_super "$RT: lxd-compatible: ... with errors=remount-ro" "$id2" ipanic errors=remount-ro
	t_step_errno "$RT: lxd-compatible: journal_path= refused" "$id2" journal EINVAL

	cat >"$ROOTFS/forcing.sh" <<EOF
mvstep m0 mount -t ext4 -o delalloc,nogrpid,errors=panic,sysvgroups,delalloc $DEV_cont /mnt/a
mvstep i0 grep ' /mnt/a ' /proc/self/mountinfo
mvstep u0 umount /mnt/a
EOF
	oci_bundle "$id3" forcing --device "$DEV_cont" -- sh /forcing.sh
	mv_run "$RT" "$MV_TMP/$id3" "$id3" 60
	t_step_ok "$RT: forced: mount -o delalloc,nogrpid,errors=panic,sysvgroups,delalloc mounts" "$id3" m0
	expect_super "$RT: forced nodelalloc: the caller's delalloc does not undo it" "$id3" i0 nodelalloc
	expect_super "$RT: forced grpid: nogrpid and its alias sysvgroups do not undo it" "$id3" i0 grpid
	expect_super "$RT: forced errors=remount-ro beside them" "$id3" i0 errors=remount-ro errors=panic
	t_decision "$RT: forced options: the decision shows the caller's data as sent" "$id3" \
		'syscall=mount' 'data="?delalloc,nogrpid,errors=panic,sysvgroups,delalloc' 'result=ok'
}

# Item 7, docs/loop.md "Why b 7:* rwm is safe": with b 7:* in its device
# cgroup a container mounts (kernel action) an image holding a node b 7 N of a
# host loop device it was never given; the node opens neither as mounted
# (nodev) nor after mount -o remount,bind,dev (nodev is locked).
test_nodes() {
	local id=opt-$RT-nodes
	cat >"$ROOTFS/nodes.sh" <<EOF
mvstep mount mount -t ext4 $DEV_nodes /mnt/a
mvstep node stat -c '%F %t:%T' /mnt/a/hostloop
mvstep read head -c 11 /mnt/a/hostloop
mvstep remount mount -o remount,bind,dev /mnt/a
mvstep read2 head -c 11 /mnt/a/hostloop
mvstep copy mount --bind /mnt/a /mnt/b
mvstep remount2 mount -o remount,bind,dev /mnt/b
mvstep read3 head -c 11 /mnt/b/hostloop
EOF
	oci_bundle "$id" forcing --loop --device "$DEV_nodes" -- sh /nodes.sh
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: b 7:*: the image with a host loop node mounts (kernel action)" "$id" mount
	t_check "$RT: b 7:*: ... and the node is there (block 7:N)" \
		grep -q '^block special file 7:' <<<"$(mv_step_out "$id" node)"
	t_check "$RT: b 7:*: the node does not open on notifyd's mount (nodev)" \
		[ "$(mv_step_rc "$id" read)" != 0 ]
	t_check "$RT: b 7:*: nodev cannot be remounted away (locked)" \
		[ "$(mv_step_rc "$id" remount)" != 0 ]
	t_check "$RT: b 7:*: nor on a bind copy" [ "$(mv_step_rc "$id" remount2)" != 0 ]
	t_check "$RT: b 7:*: the host's loop device never opened (no secret read)" \
		[ "$(grep -c 'host secret' "$(mv_out "$id")")" = 0 ]
	if [ "$(mv_step_rc "$id" remount)" = 0 ]; then
		t_diag "$RT: notifyd's kernel mount lost nodev to a remount: its flags are not locked" \
			"(DESIGN.md, 'Locking a mount's flags'); until they are, b 7:* rwm and a" \
			"kernel-action profile let a container open every host loop device"
	fi
}

# oci_bundle ID PROFILE [mv_oci_bundle options] -- CMD...: with the host's /usr.
oci_bundle() {
	local id=$1 profile=$2
	shift 2
	mv_fuse_bundle "$id" "$ROOTFS" --profile "$profile" "$@"
}

# ---------------------------------------------------------------------------
# Item 6: LOOP_* decisions are made and carried out on the file taken
# ---------------------------------------------------------------------------

# backing_of N: "INODE FILE" of /dev/loopN's backing file ("" if unbound).
# losetup reads the inode with LOOP_GET_STATUS64 but the name from sysfs, so
# a device changing state mid-read can give an inode with no name.  --raw
# writes a space in a name as \x20 and an empty column as nothing: split
# at commas so that an empty name stays empty.
backing_of() {
	local line
	line=$(losetup -n -l --raw -O BACK-INO,BACK-FILE "/dev/loop$1" 2>/dev/null)
	echo "${line// /,}"
}

# watch_devices OUT SUMMARY IMG : until OUT has "race2 ", sample the container's
# two devices from the host; print a line for every PARTSCAN or foreign backing
# inode, and how many samples were taken into SUMMARY.
watch_devices() {
	local out=$1 img_ino watched="" d i ino file samples=0 bound=0 parked=0
	img_ino=$(stat -c %i "$3")
	for ((i = 0; i < 600; i++)); do
		watched=$(sed -n 's/^devices=//p' "$out" 2>/dev/null | tr ',' ' ')
		[ -n "$watched" ] && break
		sleep 0.1
	done
	[ -z "$watched" ] && return
	while ! grep -q '^race2 ' "$out" 2>/dev/null; do
		for d in $watched; do
			# loop/partscan exists only while the device is bound (losetup's
			# PARTSCAN column falls back to 1 for one not bound yet).
			[ "$(cat "/sys/block/loop$d/loop/partscan" 2>/dev/null)" = 1 ] &&
				echo "loop$d partscan=1"
			IFS=, read -r ino file <<<"$(backing_of "$d")"
			[ -n "$ino" ] && [ "$ino" != "$img_ino" ] && [ -z "$file" ] &&
				IFS=, read -r ino file <<<"$(backing_of "$d")"
			samples=$((samples + 1))
			[ -n "$ino" ] || continue
			# A device the container gave up (its exit, or fresh for 2 s) is
			# parked on notifyd's empty memfd until it is deleted
			# (docs/loop.md "States"): bound, to nobody's data
			# (loop_hostile's inspect() skips it the same way).
			if [ "$file" = '/memfd:notifyd-parked-loop\x20(deleted)' ]; then
				parked=$((parked + 1))
				continue
			fi
			bound=$((bound + 1))
			[ "$ino" != "$img_ino" ] && echo "loop$d backing inode $ino ($file)"
		done
		sleep 0.02
	done
	echo "watched loop${watched// /,loop}: $samples samples, $bound bound, $parked parked on notifyd's memfd" >"$2"
}

test_race() {
	local id=race-$RT out w breach line c n_ioctl n_cont
	out=$(mv_out "$id")
	mkdir -p "$(dirname "$out")"
	oci_bundle "$id" default --loop -- /bin/loop_hostile --race "$ROUNDS" /img/race.img
	: >"$out"
	watch_devices "$out" "$MV_TMP/watch-$RT.sum" "$ROOTFS/img/race.img" >"$MV_TMP/watch-$RT.log" 2>/dev/null &
	w=$!
	SECONDS=0
	mv_run "$RT" "$MV_TMP/$id" "$id" 400
	t_diag "$RT: race of $ROUNDS rounds took ${SECONDS}s"
	grep -q '^race2 ' "$out" || echo "race2 (none)" >>"$out"
	wait "$w"
	line=$(grep '^race2 ' "$out" | head -n1)
	t_diag "$RT: $line; $(grep '^errnos' "$out")"
	for c in bind-second-device:0 configure-back-fifo:EINVAL set-fd-back-fifo:EINVAL configure-back-directory:EINVAL \
		set-fd-back-directory:EINVAL configure-back-socket:EINVAL set-fd-back-socket:EINVAL \
		configure-back-blockdev:EINVAL set-fd-back-blockdev:EINVAL configure-partscan:EOPNOTSUPP \
		configure-on-null:ENOTTY configure-on-fifo:ENOTTY configure-on-directory:ENOTTY \
		configure-on-socket:ENOTTY configure-on-image:ENOTTY set-fd-on-null:ENOTTY \
		ctl-get-free-on-image:ENOTTY ctl-get-free-on-loop:EINVAL set-fd-on-control:ENOTTY \
		get-status-o-path:EBADF unknown-cmd-on-loop:EINVAL; do
		t_check "$RT: ${c%%:*} answered ${c#*:} (the kernel's answer for that file)" \
			grep -qE "^case=${c%%:*} rc=-?[0-9]+ errno=${c#*:}\$" "$out"
	done
	t_check "$RT: race: $ROUNDS rounds ran" grep -q "^race2 rounds=$ROUNDS calls=$((ROUNDS * 4)) " <<<"$line"
	t_check "$RT: race: no device of the container ever had PARTSCAN (read through its own fd)" \
		grep -q ' partscan=0 ' <<<"$line"
	t_check "$RT: race: no device was ever bound to anything but the image (no FIFO, directory, socket or block device)" \
		grep -q ' nonregular=0 ' <<<"$line"
	t_check "$RT: race: every answer fits one of the files" grep -q ' unexpected=0$' <<<"$line"
	t_check "$RT: race: the swaps reached notifyd (ENOTTY and EOPNOTSUPP both seen)" \
		grep -q 'ENOTTY=.*EOPNOTSUPP=\|EOPNOTSUPP=.*ENOTTY=' <<<"$(grep '^errnos' "$out")"
	t_diag "$RT: host watcher: $(cat "$MV_TMP/watch-$RT.sum" 2>/dev/null)"
	breach=$(sort -u "$MV_TMP/watch-$RT.log")
	t_check "$RT: race: the host never saw PARTSCAN or a foreign backing file on its devices" \
		[ -z "$breach" ]
	[ -n "$breach" ] && t_diag "$breach"
	mv_wait_log "container $id gone: its" 10 >/dev/null
	n_ioctl=$(mv_decisions "$id" | grep -c 'syscall=ioctl ')
	n_cont=$(mv_decisions "$id" | grep 'syscall=ioctl ' | grep -cE 'action=continue|result=continue')
	t_diag "$RT: $n_ioctl LOOP_* decisions logged"
	t_check "$RT: race: notifyd decided every LOOP_* request ($n_ioctl >= $((ROUNDS * 4)))" \
		[ "$n_ioctl" -ge $((ROUNDS * 4)) ]
	t_check "$RT: race: not one LOOP_* decision was continue" [ "$n_cont" = 0 ]
	# Other tests on this host may have their own loops: only those of our images count.
	t_check "$RT: race: no loop device on the host backed by this test's files has PARTSCAN" \
		[ -z "$(losetup -l -n -O PARTSCAN,BACK-FILE 2>/dev/null | grep -F "$MV_TMP" | grep '^ *1 ')" ]
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: not installed"
		continue
	}
	test_forced
	test_nodes
	test_race
done
t_check "no LOOP_* decision of any container was continue" \
	[ "$(mv_decisions | grep 'syscall=ioctl ' | grep -cE 'action=continue|result=continue')" = 0 ]
if mv_notifyd_alive; then t_ok "notifyd survived"; else t_fail "notifyd survived"; fi
t_done
