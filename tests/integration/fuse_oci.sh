#!/bin/bash
# The fuse action through real crun and runc containers in their own user
# namespace: a container's busybox `mount -t ext4 DEV /mnt/a` is served by
# the host's fuse2fs, squashfs by squashfuse, overlay by fuse-overlayfs.
# The container's root file system is busybox plus the host's /usr, /lib and
# /lib64 bind-mounted read-only (the FUSE programs are the host's binaries,
# executed inside the container, so their libraries must be there).
#
#   FUSE_TESTS="ext4 squashfs ..." RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ALL_TESTS="ext4 squashfs overlay kill corrupt exit limit progonly nonempty umount"
FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
SQUASHFUSE=$(command -v squashfuse) || mv_bail "squashfuse not installed"
FUSE_OVERLAYFS=$(command -v fuse-overlayfs) || mv_bail "fuse-overlayfs not installed"
command -v mksquashfs >/dev/null || mv_bail "mksquashfs not installed (squashfs-tools)"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-fuse-daemons = 4

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro, noatime, norecovery

[fs squashfs]
action = fuse
program = $SQUASHFUSE
arguments = -f {options} {source} {mountpoint}
options = ro

[fs overlay]
action = fuse
program = $FUSE_OVERLAYFS
source = none
arguments = -f {options} {mountpoint}
allowed-options = lowerdir, upperdir, workdir

[fs tmpfs]
action = continue
EOF
cat >"$PROFILES/one.conf" <<EOF
[profile]
default-action = deny
max-fuse-daemons = 1

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
EOF
# Profiles that name only the program: the default arguments must work for
# libfuse2 (fuse2fs) and libfuse3 (squashfuse) programs alike.
cat >"$PROFILES/progonly.conf" <<EOF
[profile]
default-action = deny

[fs ext4]
action = fuse
program = $FUSE2FS

[fs squashfs]
action = fuse
program = $SQUASHFUSE
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/sq" "$ROOTFS/ov"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/sq" "$ROOTFS/ov"

mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mv_make_ext4 "$MV_TMP/disk2.img" 8M || mv_bail "cannot build the second ext4 image"
mv_loop_attach "$MV_TMP/disk2.img" DEV2 || mv_bail "cannot attach a loop device"
# Corrupt: a valid ext4 whose superblock magic is zeroed.
mv_make_ext4 "$MV_TMP/bad.img" 8M || mv_bail "cannot build the corrupt image"
printf '\0\0' | dd of="$MV_TMP/bad.img" bs=1 seek=$((1024 + 0x38)) conv=notrunc status=none
mv_loop_attach "$MV_TMP/bad.img" BAD || mv_bail "cannot attach a loop device"
mkdir -p "$MV_TMP/sqsrc/dir"
echo "hello from squashfs" >"$MV_TMP/sqsrc/dir/hello.txt"
mksquashfs "$MV_TMP/sqsrc" "$MV_TMP/sq.img" -quiet -noappend -all-root >/dev/null ||
	mv_bail "mksquashfs failed"
mv_loop_attach "$MV_TMP/sq.img" SQ || mv_bail "cannot attach a loop device"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

test_ext4() {
	local id=fuse-$RT-ext4 rc fsck
	cat >"$ROOTFS/ext4.sh" <<'EOF'
dev=$1 tok=$2
mvstep mount mount -t ext4 "$dev" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep write sh -c 'echo written-through-fuse > /mnt/a/new-file && stat -c %u:%g /mnt/a/new-file'
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvstep ps sh -c 'ps -o pid,comm,args | grep "[f]use2fs"'
mvsync "$tok.mounted"
mvstep umount umount /mnt/a
mvstep gone sh -c 'grep " /mnt/a " /proc/self/mountinfo && exit 1; exit 0'
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV" -- sh /ext4.sh "$DEV" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		if [ -n "$(mv_fuse_daemons "fuse2fs /proc/self/fd/3")" ]; then
			t_ok "$RT: ext4: fuse2fs runs (seen from the host too)"
		else
			t_fail "$RT: ext4: fuse2fs runs (seen from the host too)"
		fi
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: ext4: container reached the mounted state" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 20 "$MV_LOG")"
	fi
	mv_wait "$id"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "$RT: ext4 container exits 0" "exit $rc"
	t_step_ok "$RT: ext4: busybox mount -t ext4 DEV succeeds (fuse action)" "$id" mount
	t_decision "$RT: ext4: decision line says action=fuse program=fuse2fs" "$id" \
		'syscall=mount' 'action=fuse' 'result=ok' 'program=fuse2fs'
	t_check "$RT: ext4: file content read through fuse2fs" \
		[ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_check "$RT: ext4: disk uid 0 is the container's root" [ "$(mv_step_out "$id" uid)" = 0 ]
	t_check "$RT: ext4: new file written, owned by the container's root (0:0)" \
		[ "$(mv_step_out "$id" write)" = 0:0 ]
	t_check "$RT: ext4: mountinfo shows fuse.fuse2fs, nosuid,nodev" \
		grep -qE 'nosuid,nodev.* - fuse\.fuse2fs ' <<<"$(mv_step_out "$id" mountinfo)"
	t_check "$RT: ext4: fuse2fs is visible in the container's ps" \
		grep -q fuse2fs <<<"$(mv_step_out "$id" ps)"
	t_step_ok "$RT: ext4: umount by the container succeeds" "$id" umount
	t_step_ok "$RT: ext4: mount gone after umount" "$id" gone
	if mv_fuse_daemons_gone "fuse2fs /proc/self/fd/3" 10; then
		t_ok "$RT: ext4: fuse2fs exits after the container's umount"
	else
		t_fail "$RT: ext4: fuse2fs exits after the container's umount" \
			"$(ps -o pid,args -p "$(mv_fuse_daemons 'fuse2fs /proc/self/fd/3' | head -n1)")"
	fi
	if [ "$(debugfs -R 'cat /new-file' "$MV_TMP/disk.img" 2>/dev/null)" = written-through-fuse ]; then
		t_ok "$RT: ext4: data is on the host image after umount"
	else
		t_fail "$RT: ext4: data is on the host image after umount" \
			"$(debugfs -R 'ls -l /' "$MV_TMP/disk.img" 2>&1)"
	fi
	t_check "$RT: ext4: new file is uid 0 on disk" [ "$(mv_disk_uid "$MV_TMP/disk.img" /new-file)" = 0 ]
	if fsck=$(e2fsck -fn "$MV_TMP/disk.img" 2>&1); then
		t_ok "$RT: ext4: e2fsck -fn is clean after the FUSE session"
	else
		t_fail "$RT: ext4: e2fsck -fn is clean after the FUSE session" "$fsck"
	fi
	debugfs -w -R 'rm /new-file' "$MV_TMP/disk.img" >/dev/null 2>&1
}

test_squashfs() {
	local id=fuse-$RT-sq
	cat >"$ROOTFS/sq.sh" <<'EOF'
mvstep mount mount -t squashfs "$1" /sq
mvstep read cat /sq/dir/hello.txt
mvstep write sh -c 'echo x > /sq/new'
mvstep ps sh -c 'ps -o pid,args | grep "[s]quashfuse"'
mvstep umount umount /sq
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$SQ" -- sh /sq.sh "$SQ"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: squashfs: mount -t squashfs DEV succeeds (squashfuse)" "$id" mount
	t_check "$RT: squashfs: file read through squashfuse" \
		[ "$(mv_step_out "$id" read)" = "hello from squashfs" ]
	t_step_errno "$RT: squashfs: writing fails read-only" "$id" write "EROFS|ENOSYS|EPERM|EACCES"
	t_check "$RT: squashfs: squashfuse visible in the container's ps" \
		grep -q squashfuse <<<"$(mv_step_out "$id" ps)"
	t_step_ok "$RT: squashfs: umount" "$id" umount
	t_check "$RT: squashfs: squashfuse exits after umount" mv_fuse_daemons_gone "squashfuse.*/dev/fd/4" 10
}

test_overlay() {
	local id=fuse-$RT-ov
	cat >"$ROOTFS/ov.sh" <<'EOF'
mkdir -p /tmp/ov/lower /tmp/ov/upper /tmp/ov/work
echo lower-file > /tmp/ov/lower/l.txt
mvstep mount mount -t overlay overlay -o lowerdir=/tmp/ov/lower,upperdir=/tmp/ov/upper,workdir=/tmp/ov/work /ov
mvstep read cat /ov/l.txt
mvstep write sh -c 'echo upper-file > /ov/u.txt && cat /tmp/ov/upper/u.txt'
mvstep mountinfo grep ' /ov ' /proc/self/mountinfo
mvstep umount umount /ov
EOF
	mv_fuse_bundle "$id" "$ROOTFS" -- sh /ov.sh
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: overlay: mount -t overlay succeeds (fuse-overlayfs)" "$id" mount
	t_check "$RT: overlay: lower file visible" [ "$(mv_step_out "$id" read)" = lower-file ]
	t_check "$RT: overlay: write lands in upperdir" [ "$(mv_step_out "$id" write)" = upper-file ]
	t_check "$RT: overlay: mountinfo says fuse.fuse-overlayfs" \
		grep -q 'fuse.fuse-overlayfs' <<<"$(mv_step_out "$id" mountinfo)"
	t_step_ok "$RT: overlay: umount" "$id" umount
}

test_kill() {
	local id=fuse-$RT-kill pid i
	cat >"$ROOTFS/kill.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/b
mvsync "$2.mounted"
mvstep gone sh -c 'grep " /mnt/b " /proc/self/mountinfo && exit 1; exit 0'
mvstep remount mount -t ext4 "$1" /mnt/b
mvstep read cat /mnt/b/hello.txt
mvstep umount umount /mnt/b
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV2" -- sh /kill.sh "$DEV2" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		pid=$(mv_fuse_daemon_pid "$id")
		if [ -n "$pid" ] && kill -KILL "$pid"; then
			for ((i = 0; i < 50; i++)); do
				grep -q "pid=$pid .*detached" "$MV_LOG" && break
				sleep 0.1
			done
			if grep -q "pid=$pid .*detached" "$MV_LOG"; then
				t_ok "$RT: kill: notifyd logs the dead daemon and detaches its mount"
			else
				t_fail "$RT: kill: notifyd logs the dead daemon and detaches its mount" \
					"$(grep -i fuse "$MV_LOG" | tail -n 5)"
			fi
		else
			t_fail "$RT: kill: found the daemon's pid in the decision line" "$(mv_decisions "$id")"
		fi
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: kill: container reached the mounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: kill: mount is gone from the container after the daemon died" "$id" gone
	t_step_ok "$RT: kill: the container can mount again" "$id" remount
	t_check "$RT: kill: and read" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
}

test_corrupt() {
	local id=fuse-$RT-bad start
	cat >"$ROOTFS/bad.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/c
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$BAD" -- sh /bad.sh "$BAD"
	start=$(date +%s)
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_errno "$RT: corrupt: a corrupt ext4 image gives EINVAL or EUCLEAN" "$id" mount \
		"EINVAL|EUCLEAN"
	t_check "$RT: corrupt: answered in less than 10 s" [ $(($(date +%s) - start)) -lt 10 ]
	t_decision "$RT: corrupt: the decision line carries fuse2fs's message" "$id" \
		'action=fuse' 'result=EINVAL' 'fuse2fs exited'
}

test_exit() {
	local id=fuse-$RT-exit i
	cat >"$ROOTFS/exit.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/b
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV2" -- sh /exit.sh "$DEV2"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: exit: mount, then the container exits with it mounted" "$id" mount
	if mv_fuse_daemons_gone "fuse2fs /proc/self/fd/3" 10; then
		t_ok "$RT: exit: no fuse2fs left on the host"
	else
		t_fail "$RT: exit: no fuse2fs left on the host" "$(ps -ef | grep '[f]use2fs')"
	fi
	if grep -q 'fuse.fuse2fs' /proc/self/mountinfo; then
		t_fail "$RT: exit: no FUSE mount left on the host" "$(grep fuse /proc/self/mountinfo)"
	else
		t_ok "$RT: exit: no FUSE mount left on the host"
	fi
	for ((i = 0; i < 50; i++)); do
		mv_ctl list 2>/dev/null | grep -q "$id" || break
		sleep 0.1
	done
	if mv_ctl list 2>/dev/null | grep -q "$id"; then
		t_fail "$RT: exit: notifyd forgot the container" "$(mv_ctl list 2>&1)"
	else
		t_ok "$RT: exit: notifyd forgot the container"
	fi
}

test_limit() {
	local id=fuse-$RT-limit
	cat >"$ROOTFS/limit.sh" <<'EOF'
mvstep first mount -t ext4 "$1" /mnt/a
mvstep second mount -t ext4 "$2" /mnt/b
mvstep umount umount /mnt/a
mvstep third mount -t ext4 "$2" /mnt/b
mvstep umount2 umount /mnt/b
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --profile one --device "$DEV" --device "$DEV2" -- sh /limit.sh "$DEV" "$DEV2"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: limit: first FUSE mount fits max-fuse-daemons = 1" "$id" first
	t_step_errno "$RT: limit: second gives ENOSPC" "$id" second "ENOSPC|EAGAIN"
	t_step_ok "$RT: limit: after umount (and the daemon's exit) the slot is free again" "$id" third
}

# A profile with only action and program, for a libfuse2 and a libfuse3 program.
test_progonly() {
	local id=fuse-$RT-progonly
	cat >"$ROOTFS/progonly.sh" <<'EOF'
mvstep ext4 mount -t ext4 "$1" /mnt/a
mvstep ext4read cat /mnt/a/hello.txt
mvstep ext4umount umount /mnt/a
mvstep sq mount -t squashfs "$2" /sq
mvstep sqread cat /sq/dir/hello.txt
mvstep squmount umount /sq
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --profile progonly --device "$DEV" --device "$SQ" -- sh /progonly.sh "$DEV" "$SQ"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: progonly: fuse2fs with the default arguments mounts" "$id" ext4
	t_check "$RT: progonly: fuse2fs reads" [ "$(mv_step_out "$id" ext4read)" = "hello from ext4" ]
	t_step_ok "$RT: progonly: fuse2fs unmounts" "$id" ext4umount
	t_step_ok "$RT: progonly: squashfuse with the default arguments mounts" "$id" sq
	t_check "$RT: progonly: squashfuse reads" \
		[ "$(mv_step_out "$id" sqread)" = "hello from squashfs" ]
	t_step_ok "$RT: progonly: squashfuse unmounts" "$id" squmount
	mv_fuse_daemons_gone "fuse2fs /proc/self/fd/3" 10 && mv_fuse_daemons_gone "squashfuse.*/dev/fd/4" 10
}

# Over a non-empty directory, as the kernel allows: its files are hidden
# while mounted and back after umount; libfuse2 (fuse2fs) and libfuse3
# (squashfuse), with the shipped-style and with the default arguments.
test_nonempty() {
	local id prof
	cat >"$ROOTFS/nonempty.sh" <<'EOF'
mkdir -p /ne/e /ne/s && echo under-e > /ne/e/under.txt && echo under-s > /ne/s/under.txt
mvstep ext4 mount -t ext4 "$1" /ne/e
mvstep ext4read cat /ne/e/hello.txt
mvstep ext4hidden sh -c 'test ! -e /ne/e/under.txt'
mvstep ext4umount umount /ne/e
mvstep ext4back cat /ne/e/under.txt
mvstep sq mount -t squashfs "$2" /ne/s
mvstep sqread cat /ne/s/dir/hello.txt
mvstep sqhidden sh -c 'test ! -e /ne/s/under.txt'
mvstep squmount umount /ne/s
mvstep sqback cat /ne/s/under.txt
EOF
	for prof in default progonly; do
		id=fuse-$RT-ne-$prof
		mv_fuse_bundle "$id" "$ROOTFS" --profile "$prof" --device "$DEV" --device "$SQ" -- \
			sh /nonempty.sh "$DEV" "$SQ"
		mv_run "$RT" "$MV_TMP/$id" "$id" 60
		t_step_ok "$RT: nonempty ($prof): fuse2fs mounts over a non-empty directory" "$id" ext4
		t_check "$RT: nonempty ($prof): fuse2fs reads the image" \
			[ "$(mv_step_out "$id" ext4read)" = "hello from ext4" ]
		t_step_ok "$RT: nonempty ($prof): fuse2fs hides the directory's own files" "$id" ext4hidden
		t_step_ok "$RT: nonempty ($prof): fuse2fs umount" "$id" ext4umount
		t_check "$RT: nonempty ($prof): the files are back after fuse2fs's umount" \
			[ "$(mv_step_out "$id" ext4back)" = under-e ]
		t_step_ok "$RT: nonempty ($prof): squashfuse mounts over a non-empty directory" "$id" sq
		t_check "$RT: nonempty ($prof): squashfuse reads the image" \
			[ "$(mv_step_out "$id" sqread)" = "hello from squashfs" ]
		t_step_ok "$RT: nonempty ($prof): squashfuse hides the directory's own files" "$id" sqhidden
		t_step_ok "$RT: nonempty ($prof): squashfuse umount" "$id" squmount
		t_check "$RT: nonempty ($prof): the files are back after squashfuse's umount" \
			[ "$(mv_step_out "$id" sqback)" = under-s ]
		mv_fuse_daemons_gone "fuse2fs /proc/self/fd/3" 10 && mv_fuse_daemons_gone "squashfuse.*/dev/fd/4" 10
	done
}

# fuse_count ID : the fuse-daemons count of ID in `notifyctl list` ("" if none).
fuse_count() {
	mv_ctl list 2>/dev/null | awk -v id="$1" '$1 == id' |
		sed -n 's/.* fuse-daemons=\([0-9]*\).*/\1/p' | head -n1
}

# wait_fuse_count ID N : until notifyctl list shows fuse-daemons=N for ID (10 s).
wait_fuse_count() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(fuse_count "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# umount of a FUSE mount notifyd made is notifyd's (its record and its
# daemon's reservation follow), though the FUSE mount refuses notifyd its
# unique mount id: max-fuse-daemons = 1 fits a new mount right after.
test_umount() {
	local id=fuse-$RT-umount recs
	cat >"$ROOTFS/umount.sh" <<'EOF'
mvstep first mount -t ext4 "$1" /mnt/a
mvsync "$3.mounted"
mvstep umount umount /mnt/a
mvsync "$3.unmounted"
mvstep again mount -t ext4 "$2" /mnt/b
mvstep read cat /mnt/b/hello.txt
mvstep umount2 umount /mnt/b
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --profile one --device "$DEV" --device "$DEV2" -- \
		sh /umount.sh "$DEV" "$DEV2" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		recs=$(mv_ctl mounts 2>&1 | awk -v id="$id" '$1 == id')
		t_check "$RT: umount: notifyctl mounts lists the FUSE mount" grep -q ' /mnt/a$' <<<"$recs"
		t_check "$RT: umount: notifyctl list shows fuse-daemons=1" [ "$(fuse_count "$id")" = 1 ]
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: umount: container reached the mounted state" "$(cat "$(mv_out "$id")")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.unmounted" 60; then
		t_decision "$RT: umount: the decision says it is notifyd's FUSE mount" "$id" \
			'syscall=umount2' 'target=/mnt/a' 'action=umount' 'mount made by notifyd' 'result=ok'
		recs=$(mv_ctl mounts 2>&1 | awk -v id="$id" '$1 == id')
		t_check "$RT: umount: its record is gone from notifyctl mounts" \
			[ -z "$(grep ' /mnt/a$' <<<"$recs")" ]
		if wait_fuse_count "$id" 0; then
			t_ok "$RT: umount: fuse-daemons goes back to 0 (the daemon exited)"
		else
			t_fail "$RT: umount: fuse-daemons goes back to 0 (the daemon exited)" \
				"$(mv_ctl list 2>&1)"
		fi
		mv_sync_go "$ROOTFS" "$id.unmounted"
	else
		t_fail "$RT: umount: container reached the unmounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: umount: umount of the FUSE mount succeeds" "$id" umount
	t_step_ok "$RT: umount: a new FUSE mount fits max-fuse-daemons = 1 again" "$id" again
	t_check "$RT: umount: and reads" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_step_ok "$RT: umount: and unmounts" "$id" umount2
	t_decision "$RT: umount: the second umount is notifyd's too" "$id" \
		'syscall=umount2' 'target=/mnt/b' 'action=umount' 'result=ok'
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || { t_skip "$RT tests" "$RT not installed"; continue; }
	for t in ${FUSE_TESTS:-$ALL_TESTS}; do
		"test_$t"
	done
done
t_done
