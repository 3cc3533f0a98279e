#!/bin/bash
# The fuse action through the new mount API (docs/fuse.md "Through the new
# mount API", docs/new-mount-api.md): in crun and runc containers in their
# own user namespace, a program with no mount(2) fallback
# (tests/helpers/newmount_seq: fsopen, fsconfig, FSCONFIG_CMD_CREATE, fsmount,
# move_mount) mounts an ext4 image that fuse2fs serves (libfuse2, through
# the fusermount stand-in) and a squashfs squashfuse serves (libfuse3,
# /dev/fd/4).  Checked: the
# decision lines, mountinfo (fuse.fuse2fs, nosuid,nodev), the files, umount
# stopping the daemon, ro, the forced options, and that nothing is left
# behind by a context closed after CMD_CREATE, a mount closed before
# move_mount, a caller killed during the start-up, or a notifyd that dies
# during it.
#
#   NM_TESTS="mount ro closed killed squashfs restart" RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ALL_TESTS="mount ro closed killed squashfs restart hostpath"
FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
SQUASHFUSE=$(command -v squashfuse) || mv_bail "squashfuse not installed"
command -v mksquashfs >/dev/null || mv_bail "mksquashfs not installed (squashfs-tools)"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"
SEQ=$MV_BUILD/tests/helpers/newmount_seq
[ -x "$SEQ" ] || mv_bail "$SEQ not built"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
# norecovery: a forced option, seen on fuse2fs's command line.
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-fuse-daemons = 4

[fs ext4]
action = fuse
program = $FUSE2FS
allowed-options = ro, noatime
options = norecovery

[fs squashfs]
action = fuse
program = $SQUASHFUSE
options = ro
EOF
# Path-valued options whose parser looks the path up at fsconfig time
# (overlay's lowerdir, ext4's journal_path): test_hostpath.
cat >"$PROFILES/hpk.conf" <<EOF
[profile]
default-action = deny

[fs overlay]
action = fuse
program = $(command -v fuse-overlayfs || echo /usr/bin/fuse-overlayfs)
source = none
allowed-options = lowerdir, upperdir, workdir

EOF
cat >"$PROFILES/hpo.conf" <<EOF
[profile]
default-action = deny

[fs overlay]
action = kernel
allowed-options = lowerdir, upperdir, workdir
EOF
# A FUSE program that never answers (sh -c: the arguments must name
# {source} and {mountpoint}, which sleep would not take).
cat >"$PROFILES/slow.conf" <<EOF
[profile]
default-action = deny

[fs ext4]
action = fuse
program = $(command -v sh)
arguments = -c exec\${IFS}sleep\${IFS}29.25 {source} {mountpoint}
startup-timeout = 3
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$SEQ" "$ROOTFS/bin/newmount_seq"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/sq"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/sq" "$ROOTFS/bin/newmount_seq"

mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mkdir -p "$MV_TMP/sqsrc/dir"
echo "hello from squashfs" >"$MV_TMP/sqsrc/dir/hello.txt"
mksquashfs "$MV_TMP/sqsrc" "$MV_TMP/sq.img" -quiet -noappend -all-root >/dev/null ||
	mv_bail "mksquashfs failed"
mv_loop_attach "$MV_TMP/sq.img" SQ || mv_bail "cannot attach a loop device"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# t_gone DESC PATTERN [SECONDS] : no host process matches PATTERN (in time).
t_gone() {
	if mv_fuse_daemons_gone "$2" "${3:-10}"; then
		t_ok "$1"
	else
		t_fail "$1" "$(ps -o pid,args -p "$(mv_fuse_daemons "$2" | head -n1)")"
	fi
}

# no_fuse_mount DESC : no fuse2fs mount is left in the host's mount table.
t_no_fuse_mount() {
	if grep -q 'fuse\.fuse2fs' /proc/self/mountinfo; then
		t_fail "$1" "$(grep fuse /proc/self/mountinfo)"
	else
		t_ok "$1"
	fi
}

fuse_count() {
	mv_ctl list 2>/dev/null | awk -v id="$1" '$1 == id' |
		sed -n 's/.* fuse-daemons=\([0-9]*\).*/\1/p' | head -n1
}

DAEMON="fuse2fs .*/proc/self/fd/3"

test_mount() {
	local id=nm-$RT-mount args
	cat >"$ROOTFS/nm.sh" <<'EOF'
dev=$1 tok=$2
mvstep mount newmount_seq mount ext4 "$dev" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvsync "$tok.mounted"
mvstep umount umount /mnt/a
mvstep gone sh -c 'grep " /mnt/a " /proc/self/mountinfo && exit 1; exit 0'
mvsync "$tok.unmounted"
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV" -- sh /nm.sh "$DEV" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		args=$(ps -o args= -p "$(mv_fuse_daemons "$DAEMON" | head -n1)" 2>/dev/null)
		t_check "$RT: mount: fuse2fs runs, seen from the host" [ -n "$args" ]
		t_check "$RT: mount: fuse2fs got the forced option norecovery" \
			grep -q norecovery <<<"$args"
		t_check "$RT: mount: fuse2fs was told a placeholder mountpoint (/tmp)" \
			grep -q ' /tmp ' <<<"$args "
		t_check "$RT: mount: notifyctl mounts lists /mnt/a" \
			grep -q '/mnt/a' <<<"$(mv_ctl mounts 2>&1)"
		t_check "$RT: mount: notifyctl list counts the daemon" [ "$(fuse_count "$id")" = 1 ]
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: mount: container reached the mounted state" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 20 "$MV_LOG")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.unmounted" 60; then
		t_gone "$RT: mount: fuse2fs exits after the container's umount" "$DAEMON"
		mv_sync_go "$ROOTFS" "$id.unmounted"
	else
		t_fail "$RT: mount: container reached the unmounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: mount: fsopen..move_mount of ext4 succeeds (fuse action)" "$id" mount
	t_decision "$RT: mount: CMD_CREATE's decision line: action=fuse program=fuse2fs detached" \
		"$id" 'action=fuse' 'result=ok' 'program=fuse2fs' 'detached'
	t_decision "$RT: mount: move_mount's decision line: action=fuse result=ok" "$id" \
		'syscall=move_mount' 'action=fuse' 'result=ok'
	t_check "$RT: mount: file content read through fuse2fs" \
		[ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_check "$RT: mount: disk uid 0 is the container's root" [ "$(mv_step_out "$id" uid)" = 0 ]
	t_check "$RT: mount: mountinfo shows fuse.fuse2fs, nosuid,nodev" \
		grep -qE 'nosuid,nodev.* - fuse\.fuse2fs ' <<<"$(mv_step_out "$id" mountinfo)"
	t_step_ok "$RT: mount: umount by the container succeeds" "$id" umount
	t_step_ok "$RT: mount: mount gone after umount" "$id" gone
}

test_ro() {
	local id=nm-$RT-ro
	cat >"$ROOTFS/nmro.sh" <<'EOF'
mvstep mount newmount_seq mount ext4 "$1" /mnt/b ro
mvstep write sh -c 'echo x > /mnt/b/new-file'
mvstep read cat /mnt/b/hello.txt
mvstep notallowed newmount_seq mount ext4 "$1" /mnt/c nodelalloc
mvstep umount umount /mnt/b
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV" -- sh /nmro.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: ro: fsconfig(SET_FLAG ro) then the sequence succeeds" "$id" mount
	t_step_errno "$RT: ro: writing fails with EROFS" "$id" write EROFS
	t_check "$RT: ro: and reading works" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_step_errno "$RT: ro: an option not in allowed-options is refused" "$id" notallowed \
		"EPERM|EINVAL"
	t_step_ok "$RT: ro: umount" "$id" umount
	t_gone "$RT: ro: no fuse2fs left" "$DAEMON"
}

# A context closed after CMD_CREATE (its FUSE program started) and a mount
# closed before move_mount: notifyd's registry holds their superblocks until
# it sweeps them (docs/new-mount-api.md: a handle of an exited process goes
# at the container's next fsopen/fsmount, a closed one at a umount notifyd
# does or once the registry is half full); then their programs exit.
test_closed() {
	local id=nm-$RT-closed i
	cat >"$ROOTFS/nmclosed.sh" <<'EOF'
mvstep create newmount_seq create ext4 "$1" -
mvstep fsmount newmount_seq fsmount ext4 "$1" -
mvstep mount newmount_seq mount ext4 "$1" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvsync "$2.mounted"
mvstep umount umount /mnt/a
mvsync "$2.unmounted"
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV" -- sh /nmclosed.sh "$DEV" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		# The next fsopen drops the handles of exited processes (their
		# superblocks go): only the mounted one's fuse2fs is left.
		for ((i = 0; i < 100; i++)); do
			[ "$(mv_fuse_daemons "$DAEMON" | wc -l)" = 1 ] && break
			sleep 0.1
		done
		t_check "$RT: closed: one fuse2fs runs: the closed contexts' programs exited" \
			[ "$(mv_fuse_daemons "$DAEMON" | wc -l)" = 1 ]
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: closed: container reached the mounted state" "$(cat "$(mv_out "$id")")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.unmounted" 60; then
		t_gone "$RT: closed: after the umount no fuse2fs is left, the container still running" \
			"$DAEMON"
		mv_sync_go "$ROOTFS" "$id.unmounted"
	else
		t_fail "$RT: closed: container reached the unmounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: closed: CMD_CREATE, then the context closed" "$id" create
	t_check "$RT: closed: said created" [ "$(mv_step_out "$id" create)" = created ]
	t_step_ok "$RT: closed: fsmount, then the mount closed unattached" "$id" fsmount
	t_step_ok "$RT: closed: a full sequence still works after that" "$id" mount
	t_check "$RT: closed: and reads" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_step_ok "$RT: closed: umount" "$id" umount
	t_gone "$RT: closed: no fuse2fs left after the container exited" "$DAEMON"
	t_no_fuse_mount "$RT: closed: no FUSE mount left on the host"
}

# A libfuse3 program (squashfuse) through the new API: the connection is
# handed over as /dev/fd/4, no placeholder.
test_squashfs() {
	local id=nm-$RT-sq
	cat >"$ROOTFS/nmsq.sh" <<'EOF'
mvstep mount newmount_seq mount squashfs "$1" /sq
mvstep read cat /sq/dir/hello.txt
mvstep mountinfo grep ' /sq ' /proc/self/mountinfo
mvstep umount umount /sq
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$SQ" -- sh /nmsq.sh "$SQ"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: squashfs: fsopen..move_mount of squashfs succeeds (squashfuse)" "$id" mount
	t_check "$RT: squashfs: file read through squashfuse" \
		[ "$(mv_step_out "$id" read)" = "hello from squashfs" ]
	t_check "$RT: squashfs: mountinfo shows fuse.squashfuse" \
		grep -q ' - fuse\.squashfuse ' <<<"$(mv_step_out "$id" mountinfo)"
	t_decision "$RT: squashfs: decision line says handover=fd detached" "$id" \
		'action=fuse' 'result=ok' 'program=squashfuse' 'handover=fd detached'
	t_step_ok "$RT: squashfs: umount" "$id" umount
	t_gone "$RT: squashfs: no squashfuse left" "squashfuse"
}

# A path a parser looks up at fsconfig time must be looked up in the
# caller's view, never in notifyd's: otherwise the answer tells the
# container which host paths exist.  HOSTONLY exists on the host only,
# NOWHERE nowhere; the container must get the same answer for both (the
# path in the output made equal).  overlay (`fuse`: the program parses its
# options, H is only a handle: profile hpk) and overlay under `kernel`
# (the kernel's parser on H, run in the caller's view: profile hpo).
test_hostpath() {
	local hostonly=$MV_TMP/hostonly nowhere=/nowhere-$$ id k a b
	mkdir -p "$hostonly"
	touch "$hostonly/hostfile"
	cat >"$ROOTFS/nmhp.sh" <<EOF
mvstep host newmount_seq create overlay none - lowerdir=$hostonly
mvstep none newmount_seq create overlay none - lowerdir=$nowhere
mvstep m2 mount -t overlay -o lowerdir=$hostonly:/bin none /mnt/a
mvstep m2ls ls /mnt/a
EOF
	for k in hpk hpo; do
		id=nm-$RT-$k
		mv_fuse_bundle "$id" "$ROOTFS" --profile $k -- sh /nmhp.sh
		mv_run "$RT" "$MV_TMP/$id" "$id" 60
		a=$(mv_step_rc "$id" host; mv_step_out "$id" host | sed "s|$hostonly|P|g")
		b=$(mv_step_rc "$id" none; mv_step_out "$id" none | sed "s|$nowhere|P|g")
		t_check "$RT: hostpath: $k: both sequences ran" [ "$(mv_step_rc "$id" host)" != missing ]
		t_check "$RT: hostpath: $k: a lowerdir only the host has answers as one nobody has" \
			[ "$a" = "$b" ]
	done
	t_check "$RT: hostpath: overlay's kernel parser looked lowerdir up in the container's view (ENOENT)" \
		grep -q 'fsconfig lowerdir=.*errno 2)' <<<"$(mv_step_out "nm-$RT-hpo" host)"
	t_step_errno "$RT: hostpath: mount(2) of overlay (kernel action) looks lowerdir up in the container's view too" \
		"nm-$RT-hpo" m2 ENOENT
	t_check "$RT: hostpath: and shows the container nothing of the host's directory" \
		[ -z "$(mv_step_out "nm-$RT-hpo" m2ls | grep -x hostfile)" ]
}

# notifyd dies right after the FUSE program of a CMD_CREATE started (the
# exec test hook: it re-executes itself in place, notifyd(8)): its successor
# stops the program (the in-flight log says "daemon started", no mount was
# handed out) and handles the CMD_CREATE again on a context it does not know
# (handles are not kept across a restart): the kernel's EPERM on the
# powerless H.  Nothing is left; a new sequence works.
test_restart() {
	local id=nm-$RT-restart
	mkdir -p "$MV_TMP/state"
	if ! MOUNTVISOR_CRASH_AT=after-daemon-start MOUNTVISOR_CRASH_MODE=exec \
		mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state"; then
		t_fail "$RT: restart: notifyd starts with the crash hook" "$(tail -n 5 "$MV_LOG")"
		return
	fi
	cat >"$ROOTFS/nmrestart.sh" <<'EOF'
mvstep create newmount_seq create ext4 "$1" -
mvstep mount newmount_seq mount ext4 "$1" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep umount umount /mnt/a
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --device "$DEV" -- sh /nmrestart.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_check "$RT: restart: notifyd died during the start-up and came back (recovered)" \
		grep -q "recovered: id=" "$MV_LOG"
	t_step_errno "$RT: restart: the interrupted CMD_CREATE gets the kernel's EPERM" "$id" \
		create EPERM
	t_step_ok "$RT: restart: a new sequence works with the successor" "$id" mount
	t_check "$RT: restart: and reads" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_step_ok "$RT: restart: umount" "$id" umount
	t_gone "$RT: restart: no fuse2fs left" "$DAEMON"
	mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start again"
}

# The caller killed while its FUSE program starts (it never answers
# FUSE_INIT): the start-up gives up within startup-timeout and leaves nothing.
test_killed() {
	local id=nm-$RT-killed
	cat >"$ROOTFS/nmkilled.sh" <<'EOF'
newmount_seq mount ext4 "$1" /mnt/c &
sleep 1
kill -9 $!
wait
sleep 5 # past startup-timeout: the start-up gives up while the container lives on
mvstep after sh -c 'grep " /mnt/c " /proc/self/mountinfo && exit 1; exit 0'
EOF
	mv_fuse_bundle "$id" "$ROOTFS" --profile slow --device "$DEV" -- sh /nmkilled.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: killed: nothing mounted in the container" "$id" after
	t_gone "$RT: killed: the FUSE program is stopped" "sleep 29.25" 10
	t_decision "$RT: killed: the start-up's decision line says it gave up, caller gone" "$id" \
		'action=fuse' 'result=(ETIMEDOUT|ENOENT)' 'caller=gone'
	t_no_fuse_mount "$RT: killed: no FUSE mount left on the host"
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT tests" "$RT not installed"
		continue
	}
	for t in ${NM_TESTS:-$ALL_TESTS}; do
		"test_$t"
	done
done
t_done
