#!/bin/bash
# Private loop devices (docs/loop.md) in real crun and runc containers with
# their own user namespace, driven by util-linux 2.38's own losetup and mount
# (the host's /usr bind-mounted read-only, as in fuse_oci.sh): losetup -f,
# -a, -d; mount -o loop redirected to fuse2fs by the default profile and to
# the kernel by a trusting one; mount -o loop,ro of squashfs; two containers
# at once; another container's device refused; everything freed at exit.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
SQUASHFUSE=$(command -v squashfuse) || mv_bail "squashfuse not installed"
command -v mksquashfs >/dev/null || mv_bail "mksquashfs not installed (squashfs-tools)"
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] && [ -x /usr/bin/mount ] || mv_bail "util-linux losetup/mount not found"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro, noatime

[fs squashfs]
action = fuse
program = $SQUASHFUSE
arguments = -f {options} {source} {mountpoint}
options = ro
EOF
cat >"$PROFILES/trusting.conf" <<EOF
[profile]
default-action = deny

[fs ext4]
action = kernel
allowed-options = ro, noatime
EOF
cat >"$PROFILES/one.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 1
EOF
cat >"$PROFILES/none.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 0
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
mv_make_ext4 "$ROOTFS/img/ext4.img" || mv_bail "cannot build the ext4 image"
mv_make_ext4 "$ROOTFS/img/other.img" 8M || mv_bail "cannot build the second ext4 image"
mkdir -p "$MV_TMP/sqsrc"
echo "hello from squashfs" >"$MV_TMP/sqsrc/hello.txt"
mksquashfs "$MV_TMP/sqsrc" "$ROOTFS/img/sq.img" -quiet -noappend -all-root >/dev/null ||
	mv_bail "mksquashfs failed"
chown 100000:100000 "$ROOTFS"/img/*.img
# The host's own loop devices before the tests: none of them may show in a container.
truncate -s 1M "$MV_TMP/host.img"
HOSTDEV=$(losetup -f --show "$MV_TMP/host.img") || mv_bail "cannot attach a host loop device"
defer "losetup -d '$HOSTDEV'"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# one_line DEV IMG LISTING : losetup -a printed exactly one line, DEV's, with IMG.
one_line() {
	[ "$(wc -l <<<"$3")" = 1 ] && grep -qE "^$1: \[[0-9a-f]*\]:[0-9]+ \($2\)\$" <<<"$3"
}

# test_images_attached : how many host loop devices have one of this test's images.
test_images_attached() { losetup -a | grep -c "$ROOTFS/img/" || true; }

# The main scenario: container A (sysfs mounted) sets up, lists, deletes and
# mounts with util-linux; B runs at the same time with its own device; C was
# given A's device node by its runtime config and must be refused.
test_main() {
	local a=loop-$RT-a b=loop-$RT-b c=loop-$RT-c adev bdev rc
	cat >"$ROOTFS/a.sh" <<EOF
L=$LOSETUP
mvstep setup \$L -f --show /img/ext4.img
dev=\$(\$L -j /img/ext4.img -O NAME -n)
mvstep list \$L -a
mvstep sysblock sh -c 'ls /sys/block | grep loop'
mvstep node stat -c '%F %t %u' "\$dev"
mvstep blockbacking \$L -f --show "\$dev"
mvstep partscan \$L -P -f --show /img/other.img
mvsync $a.ready
mvstep list-with-b \$L -a
mvstep detach \$L -d "\$dev"
mvstep list-after \$L -a
mvstep mount-loop /usr/bin/mount -o loop /img/ext4.img /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvstep umount /usr/bin/umount /mnt/a
mvstep mount-sq /usr/bin/mount -o loop,ro /img/sq.img /mnt/b
mvstep read-sq cat /mnt/b/hello.txt
mvstep umount-sq /usr/bin/umount /mnt/b
mvsync $a.done
EOF
	cat >"$ROOTFS/b.sh" <<EOF
mvstep setup $LOSETUP -f --show /img/other.img
mvstep list $LOSETUP -a
mvsync $b.ready
EOF
	mv_loop_bundle "$a" --sysfs -- sh /a.sh
	mv_loop_bundle "$b" -- sh /b.sh
	mv_start "$RT" "$MV_TMP/$a" "$a" 120
	if ! mv_sync_wait "$ROOTFS" "$a.ready" 60; then
		t_fail "$RT: container A reached its first check point" "$(cat "$(mv_out "$a")")" \
			"$(tail -n 20 "$MV_LOG")"
		mv_delete_all
		return
	fi
	adev=$(mv_step_out "$a" setup)
	t_step_ok "$RT: losetup -f --show in a container" "$a" setup
	t_check "$RT: it prints a /dev/loopN" grep -qx '/dev/loop[0-9]*' <<<"$adev"
	t_check "$RT: losetup -a lists exactly its own device and image" \
		one_line "$adev" /img/ext4.img "$(mv_step_out "$a" list)"
	t_check "$RT: /sys/block lists only its own loop" \
		[ "$(mv_step_out "$a" sysblock)" = "${adev#/dev/}" ]
	t_check "$RT: /dev node is a block device 7:N owned by the container's root" \
		[ "$(mv_step_out "$a" node)" = "block special file 7 0" ]
	t_check "$RT: host sees the loop device bound to the image" \
		grep -q "^$adev: .*/img/ext4.img" <<<"$(losetup -a)"
	t_step_errno "$RT: a block device as backing file is refused" "$a" blockbacking EINVAL
	t_step_errno "$RT: partition scanning (losetup -P) refused" "$a" partscan EOPNOTSUPP
	t_decision "$RT: decision line for LOOP_CONFIGURE" "$a" 'syscall=ioctl' \
		'type=LOOP_CONFIGURE' 'action=loop' 'result=ok'

	# B at the same time; C gets A's device from its runtime config.
	mv_start "$RT" "$MV_TMP/$b" "$b" 60
	mv_sync_wait "$ROOTFS" "$b.ready" 60 || t_fail "$RT: container B reached its check point" \
		"$(cat "$(mv_out "$b")")"
	bdev=$(mv_step_out "$b" setup)
	t_check "$RT: two containers get different devices" [ -n "$bdev" ] && [ "$bdev" != "$adev" ]
	t_check "$RT: B lists only its own" one_line "$bdev" /img/other.img "$(mv_step_out "$b" list)"
	cat >"$ROOTFS/c.sh" <<EOF
mvstep read $LOSETUP $adev
mvstep configure $LOSETUP $adev /img/other.img
mvstep remove $LOSETUP -d $adev
mvstep mount /usr/bin/mount -t ext4 $adev /mnt/a
EOF
	# The runtime binds the host node: make it openable by the container's root.
	chown 100000:100000 "$adev"
	mv_loop_bundle "$c" --device "$adev" -- sh /c.sh
	mv_run "$RT" "$MV_TMP/$c" "$c" 60
	chown 0:disk "$adev" 2>/dev/null
	t_step_errno "$RT: reading another container's loop device: EPERM" "$c" read EPERM
	t_step_errno "$RT: configuring another container's loop device: EPERM" "$c" configure EPERM
	t_step_errno "$RT: detaching another container's loop device: EPERM" "$c" remove EPERM
	t_check "$RT: mounting another container's loop device fails" [ "$(mv_step_rc "$c" mount)" != 0 ]
	t_decision "$RT: ... with EPERM from notifyd" "$c" 'syscall=mount' 'result=EPERM' \
		"another container's loop device"
	mv_sync_go "$ROOTFS" "$b.ready"
	mv_wait "$b"
	mv_sync_go "$ROOTFS" "$a.ready"

	if ! mv_sync_wait "$ROOTFS" "$a.done" 60; then
		t_fail "$RT: container A finished its steps" "$(cat "$(mv_out "$a")")" "$(tail -n 20 "$MV_LOG")"
	fi
	t_check "$RT: with B running, A still lists only its own" \
		one_line "$adev" /img/ext4.img "$(mv_step_out "$a" list-with-b)"
	t_step_ok "$RT: losetup -d" "$a" detach
	t_check "$RT: losetup -a empty after -d" [ -z "$(mv_step_out "$a" list-after)" ]
	t_step_ok "$RT: mount -o loop ext4.img (default profile)" "$a" mount-loop
	t_check "$RT: file read through it" [ "$(mv_step_out "$a" read)" = "hello from ext4" ]
	t_check "$RT: served by fuse2fs, not the kernel's ext4" \
		grep -q ' - fuse\.fuse2fs ' <<<"$(mv_step_out "$a" mountinfo)"
	t_decision "$RT: fuse2fs got the image file, not the loop device" "$a" 'syscall=mount' \
		'action=fuse' 'result=ok'
	t_step_ok "$RT: umount" "$a" umount
	t_step_ok "$RT: mount -o loop,ro squash.img" "$a" mount-sq
	t_check "$RT: squashfs file read" [ "$(mv_step_out "$a" read-sq)" = "hello from squashfs" ]
	t_step_ok "$RT: umount of the squashfs" "$a" umount-sq
	mv_sync_go "$ROOTFS" "$a.done"
	mv_wait "$a"
	rc=$?
	t_check "$RT: container A exits 0" [ "$rc" -eq 0 ]
	mv_wait_log "container $a gone: its" 10 >/dev/null
	t_check "$RT: after exit no test image is attached on the host" [ "$(test_images_attached)" = 0 ]
	t_check "$RT: the host's own loop device was never touched" \
		grep -q "^$HOSTDEV: .*host.img" <<<"$(losetup -a)"
}

loaded() { grep -c "profiles loaded from $PROFILES" "$MV_LOG"; }

# reload : SIGHUP notifyd, wait until it says it loaded the profiles again.
reload() {
	local before i
	before=$(loaded)
	kill -HUP "$NOTIFYD_PID"
	for ((i = 0; i < 50; i++)); do
		[ "$(loaded)" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

# The trusting profile mounts the host loop device with the kernel's ext4.
# Then a reload lowers its max-loop-devices to 0: the device the container
# still holds no longer mounts (EPERM) with the kernel action.
test_kernel() {
	local id=loop-$RT-kernel
	cat >"$ROOTFS/k.sh" <<EOF
mvstep mount /usr/bin/mount -o loop /img/ext4.img /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvstep umount /usr/bin/umount /mnt/a
mvstep keep sh -c '$LOSETUP -f --show /img/ext4.img >/tmp/keepdev'
mvsync reload
mvstep after_reload sh -c '/bin/mount -t ext4 \$(cat /tmp/keepdev) /mnt/a'
mvstep after_reload_clean sh -c "! grep -q ' /mnt/a ' /proc/self/mountinfo"
mvstep detach sh -c '$LOSETUP -d \$(cat /tmp/keepdev)'
EOF
	rm -f "$ROOTFS/tmp/sync/reload."*
	cp "$PROFILES/trusting.conf" "$MV_TMP/trusting.conf.orig"
	mv_loop_bundle "$id" --profile trusting -- sh /k.sh
	mv_start "$RT" "$MV_TMP/$id" "$id" 60
	if mv_sync_wait "$ROOTFS" reload 50; then
		sed -i 's/^default-action = deny$/&\nmax-loop-devices = 0/' "$PROFILES/trusting.conf"
		reload || t_fail "$RT: kernel: the lowered profile was reloaded"
	fi
	mv_sync_go "$ROOTFS" reload
	mv_wait "$id"
	cp "$MV_TMP/trusting.conf.orig" "$PROFILES/trusting.conf"
	reload || t_fail "$RT: kernel: the original profile was reloaded"
	t_step_ok "$RT: mount -o loop ext4.img (kernel profile)" "$id" mount
	t_check "$RT: kernel: file read" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_check "$RT: kernel: mountinfo shows the kernel's ext4 on the loop device (7:N)" \
		grep -qE ' 7:[0-9]+ / /mnt/a .* - ext4 ' <<<"$(mv_step_out "$id" mountinfo)"
	t_step_ok "$RT: kernel: umount" "$id" umount
	t_step_ok "$RT: kernel: a loop device kept for later" "$id" keep
	t_step_errno "$RT: kernel: after a reload to max-loop-devices = 0 it no longer mounts" \
		"$id" after_reload EPERM
	t_decision "$RT: kernel: decision line says why" "$id" 'syscall=mount ' 'action=kernel ' \
		'result=EPERM' 'max-loop-devices = 0'
	t_step_ok "$RT: kernel: ... and nothing is mounted" "$id" after_reload_clean
	mv_wait_log "container $id gone: its" 10 >/dev/null
	t_check "$RT: kernel: nothing attached after exit" [ "$(test_images_attached)" = 0 ]
}

# max-loop-devices: one is fine, the second is ENOSPC; 0 refuses with EPERM.
test_limit() {
	local id=loop-$RT-limit id0=loop-$RT-none
	cat >"$ROOTFS/l.sh" <<EOF
mvstep first $LOSETUP -f --show /img/ext4.img
mvstep second $LOSETUP -f --show /img/other.img
EOF
	mv_loop_bundle "$id" --profile one -- sh /l.sh
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: limit: first loop device" "$id" first
	t_check "$RT: limit: second one fails" [ "$(mv_step_rc "$id" second)" != 0 ]
	t_decision "$RT: limit: ENOSPC with max-loop-devices in the log" "$id" \
		'type=LOOP_CTL_GET_FREE' 'result=ENOSPC' 'max-loop-devices'
	echo "mvstep first $LOSETUP -f --show /img/ext4.img" >"$ROOTFS/n.sh"
	mv_loop_bundle "$id0" --profile none -- sh /n.sh
	mv_run "$RT" "$MV_TMP/$id0" "$id0" 60
	t_decision "$RT: max-loop-devices = 0: EPERM" "$id0" 'type=LOOP_CTL_GET_FREE' 'result=EPERM'
	mv_wait_log "container $id gone: its" 10 >/dev/null
	t_check "$RT: limit: nothing attached after exit" [ "$(test_images_attached)" = 0 ]
}

# Bad pointers, bad fds, wrong file types, high request bits, a racing fd
# table (tests/helpers/loop_hostile.c): clear errnos, nothing leaks.
test_hostile() {
	local id=loop-$RT-hostile out c
	cp "$MV_BUILD/tests/helpers/loop_hostile" "$ROOTFS/bin/loop_hostile"
	mv_loop_bundle "$id" -- /bin/loop_hostile /img/other.img
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	out=$(cat "$(mv_out "$id")")
	for c in get-free:0 open-dev:0 configure-null-ptr:EFAULT configure-hole:EFAULT \
		configure-kernel-ptr:EFAULT configure-fd-not-open:EBADF configure-directory:EINVAL \
		configure-itself:EINVAL set-fd-not-open:EBADF clr-fd-bad-fd:EBADF configure-image:0 \
		set-status-hole:EFAULT get-status-hole:EFAULT get-status-high-bits:0 \
		ctl-remove-bound:EBUSY ctl-remove-missing:EPERM ctl-add-too-big:EINVAL clr-fd:0; do
		t_check "$RT: hostile: ${c%%:*} answered ${c#*:}" \
			grep -qE "^case=${c%%:*} rc=-?[0-9]+ errno=${c#*:}\$" <<<"$out"
	done
	# get-status-hole and get-status-high-bits: both must reach notifyd.
	t_check "$RT: hostile: a request number with high bits set is still trapped" \
		[ "$(mv_decisions "$id" | grep -c 'type=LOOP_GET_STATUS64 .*result=ok')" = 1 ]
	t_check "$RT: hostile: fd swapped under 400 requests: every answer fits one of the files" \
		grep -q 'race calls=400 unexpected=0' <<<"$out"
	mv_wait_log "container $id gone: its" 10 >/dev/null
	t_check "$RT: hostile: nothing attached after exit" [ "$(test_images_attached)" = 0 ]
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: not installed"
		continue
	}
	test_main
	test_kernel
	test_limit
	test_hostile
done
# Every device notifyd created is deleted once its container is gone (some
# are busy for a moment while the container's last fds close: retried).
handed=$(sed -n 's/.*type=LOOP_CTL_GET_FREE target=\(\/dev\/loop[0-9]*\) .*result=[0-9]*$/\1/p' "$MV_LOG" |
	sort -u | tr '\n' ' ')
for ((i = 0; i < 80; i++)); do
	left=$(for d in $handed; do [ -e "$d" ] && echo "$d"; done)
	[ -z "$left" ] && break
	sleep 0.1
done
t_check "every loop device notifyd created ($handed) was deleted on the host" [ -z "$left" ]
mv_notifyd_alive && t_ok "notifyd survived" || t_fail "notifyd survived"
t_done
