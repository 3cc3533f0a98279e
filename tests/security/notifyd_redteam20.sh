#!/bin/bash
# Red team on the new mount API's emulation (issue 20, docs/new-mount-api.md):
# attacks a hostile container makes with notifyd's fsopen/fsconfig/fsmount/
# move_mount, in crun and runc containers under the shipped
# profiles/seccomp/oci-seccomp.json.  Each check failed before its fix.
#
#  - max-mounts through a mount fd attached by a path no rule traps
#    (move_mount(FD, ".", ...), MS_MOVE of /proc/self/fd/FD): with
#    max-mounts = 1 a container attached 3 mounts, unrecorded.  Now the
#    mounts fsmount handed out count from fsmount on, and one the container
#    attached by a path becomes a mount record (umount2 and notifyctl know
#    it): the 2nd and 3rd rounds get ENOSPC, held or closed fd alike, and so
#    does mount(2) next to an attached or merely held fsmount fd.
#  - the same sequence with the i386 system call numbers (int $0x80 from a
#    64-bit process; the filter covers SCMP_ARCH_X86): the mount is notifyd's,
#    locked nosuid,nodev, never an unlocked one.
#  - FSCONFIG_SET_FLAG "rw" against a profile that forces ro: the mount
#    stays read-only (the forced option wins, as in mount(2)).
#  - move_mount's to_dfd naming an open FUSE file whose daemon does not
#    answer FLUSH: notifyd took a copy of the caller's open file
#    (pidfd_getfd), and its close waited on the daemon -- the worker and
#    the caller held for as long as the daemon liked (here 30 s).  Now it
#    opens an O_PATH file through /proc/<tid>/fd, which no close flushes.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

HELPER=$MV_BUILD/tests/security/redteam20
[ -x "$HELPER" ] || mv_bail "$HELPER not built (make all)"
SLOWFS=$MV_BUILD/tests/helpers/slow_fuse
[ -x "$SLOWFS" ] || mv_bail "$SLOWFS not built (make all)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-mounts = 1

[fs ext4]
action = kernel
allowed-options = ro,noatime
EOF
cat >"$PROFILES/forcero.conf" <<EOF
[profile]
default-action = deny

[fs ext4]
action = kernel
options = ro
allowed-options = noatime
EOF

# ext4 by the kernel, ext2 (an ext4 image) by fuse2fs: a FUSE mount to attach under.
FUSE2FS=$(command -v fuse2fs) || FUSE2FS=
cat >"$PROFILES/mixed.conf" <<EOF
[profile]
default-action = deny
max-mounts = 2
max-fs-contexts = 4

[fs ext4]
action = kernel

[fs ext2]
action = fuse
program = ${FUSE2FS:-container:/usr/sbin/fuse2fs}
arguments = {source} {mountpoint} -f -o auto_unmount {options}
EOF

# The shipped default profile: overlay is a fuse action with lowerdir,
# upperdir, workdir allowed ("paths in the caller's view").
cp "$MV_SRC/profiles/default.conf" "$PROFILES/shipped.conf"
# Host-only paths: a directory and a file the container cannot see.
HOSTDIR=$MV_TMP/host-only-dir-$$
mkdir -p "$HOSTDIR"
echo secret >"$MV_TMP/host-only-file-$$"

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$HELPER" "$ROOTFS/bin/redteam20"
mkdir -p "$ROOTFS/mnt/f" "$ROOTFS/mnt/g"
chown -R 100000:100000 "$ROOTFS/bin/redteam20" "$ROOTFS/mnt"

mkfs_img() {
	truncate -s 16M "$1" && mkfs.ext4 -q -F "$1" >"$MV_TMP/mkfs.log" 2>&1
}
mkfs_img "$MV_TMP/a.img" || mv_bail "cannot build the image: $(cat "$MV_TMP/mkfs.log")"
mv_loop_attach "$MV_TMP/a.img" DEV_A || mv_bail "cannot attach a loop device"
mkfs_img "$MV_TMP/b.img" || mv_bail "cannot build the image"
mv_loop_attach "$MV_TMP/b.img" DEV_B || mv_bail "cannot attach a loop device"
# One image for each FUSE context (fuse2fs opens its image exclusively).
for x in C D E; do
	mkfs_img "$MV_TMP/$x.img" || mv_bail "cannot build the image"
	mv_loop_attach "$MV_TMP/$x.img" "DEV_$x" || mv_bail "cannot attach a loop device"
done

# A FUSE mount whose daemon does not answer the FLUSH of any open but the
# first while $ROOTFS/tmp/slowflag.close exists (the container removes it).
SLOWDIR=$MV_TMP/slowfs
SLOW_PID=
mkdir -p "$SLOWDIR" "$ROOTFS/slowfs" "$ROOTFS/tmp"
chown 100000:100000 "$ROOTFS/slowfs" "$ROOTFS/tmp"
"$SLOWFS" "$ROOTFS/tmp/slowflag" "$SLOWDIR" -f -o allow_other &
SLOW_PID=$!
defer "rm -f '$ROOTFS/tmp/slowflag.close'; umount -l '$SLOWDIR' 2>/dev/null; kill $SLOW_PID 2>/dev/null; wait $SLOW_PID 2>/dev/null"
for _ in $(seq 50); do
	mountpoint -q "$SLOWDIR" && break
	sleep 0.1
done
mountpoint -q "$SLOWDIR" || mv_bail "slow_fuse did not mount"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

cat >"$ROOTFS/rt.sh" <<'EOF'
a=$1
mvstep many_dot redteam20 attach-many "$a" 3 dot
mvstep umount_dot umount /mnt/rt1
mvstep many_proc redteam20 attach-many "$a" 3 procfd
mvstep umount_proc umount /mnt/rt1
mvstep many_close redteam20 attach-many "$a" 3 dotclose
mvstep umount_close umount /mnt/rt1
mvstep then_mount redteam20 then-mount "$a"
mvstep umount_m1 umount /mnt/m1
mvstep held redteam20 held-mount "$a"
mvstep i386 redteam20 i386 "$a" /mnt/i386
mvstep i386_info grep ' /mnt/i386 ' /proc/self/mountinfo
mvstep umount_i386 umount /mnt/i386
mvstep after sh -c 'grep -c " /mnt/" /proc/self/mountinfo; exit 0'
EOF

cat >"$ROOTFS/fuseparent.sh" <<'EOF'
mvstep fuse mount -t ext2 "$2" /mnt/f
mvstep ns redteam20 attach-many "$1" 2 nsdotclose /mnt/f/lost+found
mvstep umount_f umount -l /mnt/f
mvstep fuse_ns env RT20_TYPE=ext2 redteam20 attach-many "$3" 3 nsdotclose /mnt/g
EOF

cat >"$ROOTFS/probe.sh" <<'EOF'
mvstep probe_lower redteam20 probe overlay lowerdir "$1" "$2" "$3" /mnt
mvstep probe_upper redteam20 probe overlay upperdir "$1" "$2" "$3" /mnt
EOF

cat >"$ROOTFS/ro.sh" <<'EOF'
a=$1
mvstep rw redteam20 rw "$a" /mnt/rw
mvstep write sh -c 'echo x > /mnt/rw/new-file'
mvstep umount_rw umount /mnt/rw
EOF

# expect_out ID STEP DESC LINE... : every LINE is a whole line of the step's output.
expect_out() {
	local id=$1 step=$2 desc=$3 out l bad=
	shift 3
	out=$(mv_step_out "$id" "$step")
	for l in "$@"; do
		grep -qxF -- "$l" <<<"$out" || bad+=" want '$l';"
	done
	if [ -z "$bad" ]; then
		t_ok "$RT: $desc"
	else
		t_fail "$RT: $desc" "$bad" "$out"
	fi
}

test_maxmounts() {
	local id=$MV_IDP-$RT-rt20
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /rt.sh "$DEV_A" || mv_bail "cannot write the bundle"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_A"
	mv_run "$RT" "$MV_TMP/$id" "$id" 120 ||
		t_fail "$RT: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	local how
	for how in dot proc close; do
		expect_out "$id" "many_$how" \
			"max-mounts = 1 holds against mounts attached by a path ($how): one attached, then ENOSPC" \
			"round 1 step=attach errno=0" "round 2 step=create errno=ENOSPC" \
			"round 3 step=create errno=ENOSPC" "attached=1"
		t_step_ok "$RT: the mount attached by a path ($how) is a mount record: umount2 through notifyd" \
			"$id" "umount_$how"
	done
	t_decision "$RT: the refusal says why (max-mounts)" "$id" "syscall=fsconfig " "result=ENOSPC" \
		"max-mounts = 1"
	t_decision "$RT: umount2 of the mount attached by a path is notifyd's" "$id" \
		"syscall=umount2 " "target=/mnt/rt1" "result=ok"
	expect_out "$id" then_mount "mount(2) next to a mount attached by a path: ENOSPC" \
		"attach errno=0" "mount errno=ENOSPC"
	t_step_ok "$RT: ... and that mount unmounts through notifyd" "$id" umount_m1
	expect_out "$id" held "mount(2) while an fsmount fd is held unattached: ENOSPC" \
		"mount errno=ENOSPC"
	expect_out "$id" i386 "the i386 new-API sequence gets notifyd's locked mount" \
		"step=move_mount errno=0"
	local out
	out=$(mv_step_out "$id" i386)
	if grep -q "nosuid=1 nodev=1" <<<"$out"; then
		t_ok "$RT: i386: the mount is nosuid,nodev"
	else
		t_fail "$RT: i386: the mount is nosuid,nodev" "$out"
	fi
	t_decision "$RT: i386: move_mount decided by notifyd (locked)" "$id" "syscall=move_mount " \
		"target=/mnt/i386" "result=ok" "locked"
	t_step_ok "$RT: i386: the mount unmounts" "$id" umount_i386
}

test_forced_ro() {
	local id=$MV_IDP-$RT-rt20ro
	mv_oci_bundle --profile forcero "$MV_TMP/$id" "$ROOTFS" sh /ro.sh "$DEV_A" ||
		mv_bail "cannot write the bundle"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_A"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90 ||
		t_fail "$RT: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	local out
	out=$(mv_step_out "$id" rw)
	if grep -qx "step=move_mount errno=0" <<<"$out" && grep -q "rdonly=1" <<<"$out"; then
		t_ok "$RT: SET_FLAG rw against a forced ro: the mount is read-only"
	elif grep -q "errno=" <<<"$out" && ! grep -qx "step=move_mount errno=0" <<<"$out"; then
		t_ok "$RT: SET_FLAG rw against a forced ro: refused ($(head -n1 <<<"$out"))"
	else
		t_fail "$RT: SET_FLAG rw against a forced ro: the mount is read-only" "$out"
	fi
	if [ "$(mv_step_rc "$id" write)" = 0 ]; then
		t_fail "$RT: no write reaches the forced-ro image" "$(mv_step_out "$id" write)"
	else
		t_ok "$RT: no write reaches the forced-ro image"
	fi
}

# A mount fsmount handed out, attached by a path under a FUSE mount (whose
# inodes answer notifyd no statx()) from a private mount namespace (where
# notifyd's look in the container's namespace does not find it), its fd
# closed: when the sweep drops the handle, the mount must still become a
# record.  max-mounts = 2: the FUSE mount and one more; max-fs-contexts = 4:
# the sweep drops what the owner closed from 2 handles on.  fuse_ns: the
# same with fuse-action mounts (a context each: fuse2fs opens its image
# exclusively), whose root refuses notifyd the walk to "..".
test_fuse_parent() {
	local id=$MV_IDP-$RT-rt20fp
	if [ -z "$FUSE2FS" ]; then
		t_skip "$RT: a mount attached under a FUSE mount still counts" "fuse2fs not installed"
		return
	fi
	mv_oci_bundle --profile mixed "$MV_TMP/$id" "$ROOTFS" sh /fuseparent.sh "$DEV_A" "$DEV_B" \
		"$DEV_C,$DEV_D,$DEV_E" || mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_A" "$DEV_B" "$DEV_C" "$DEV_D" "$DEV_E"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90 ||
		t_fail "$RT: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_ok "$RT: fuse2fs mount at /mnt/f" "$id" fuse
	expect_out "$id" ns "a mount attached under a FUSE mount in a private namespace still counts" \
		"round 1 step=attach errno=0" "round 2 step=create errno=ENOSPC" "attached=1"
	expect_out "$id" fuse_ns "a FUSE-action mount attached by a path in a private namespace still counts" \
		"round 1 step=attach errno=0" "round 2 step=attach errno=0" \
		"round 3 step=create errno=ENOSPC" "attached=2"
}

# fsconfig(SET_STRING, "lowerdir", PATH) on notifyd's overlay context: the
# kernel's overlay parser resolves the path at fsconfig time, in the view of
# the task calling fsconfig on the context.  Host-only paths must look
# exactly like paths that do not exist (no host probe).
test_path_probe() {
	local id=$MV_IDP-$RT-rt20probe
	mv_oci_bundle --profile shipped "$MV_TMP/$id" "$ROOTFS" sh /probe.sh "$HOSTDIR" \
		"$MV_TMP/host-only-file-$$" "$MV_TMP/does-not-exist-$$" || mv_bail "cannot write the bundle"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90 ||
		t_fail "$RT: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	local step out e_dir e_file e_none
	for step in probe_lower probe_upper; do
		out=$(mv_step_out "$id" $step)
		e_dir=$(sed -n "s|^probe $HOSTDIR errno=||p" <<<"$out")
		e_file=$(sed -n "s|^probe $MV_TMP/host-only-file-$$ errno=||p" <<<"$out")
		e_none=$(sed -n "s|^probe $MV_TMP/does-not-exist-$$ errno=||p" <<<"$out")
		if [ -n "$e_none" ] && [ "$e_dir" = "$e_none" ] && [ "$e_file" = "$e_none" ]; then
			t_ok "$RT: $step: a host-only directory and file answer as a missing path ($e_none)"
		else
			t_fail "$RT: $step: a host-only directory and file answer as a missing path" \
				"dir=$e_dir file=$e_file missing=$e_none" "$out"
		fi
		if grep -q "^probe /mnt errno=0$" <<<"$out"; then
			t_ok "$RT: $step: a directory of the container's own is accepted"
		else
			t_fail "$RT: $step: a directory of the container's own is accepted" "$out"
		fi
	done
}

# move_mount(M, "", FD, "", F_EMPTY_PATH | T_EMPTY_PATH) with FD an open
# file on that FUSE mount (a regular file: the attach fails, the answer must
# come at once, not after the daemon's 30 s).
test_todfd() {
	local id=$MV_IDP-$RT-rt20todfd out ms
	touch "$ROOTFS/tmp/slowflag.close"
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" redteam20 todfd "$DEV_A" /slowfs/slow /tmp/slowflag.close ||
		mv_bail "cannot write the bundle"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_A"
	jq --arg s "$SLOWDIR" '.mounts += [{destination: "/slowfs", type: "bind", source: $s, options: ["rbind"]}]' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90
	out=$(grep '^todfd ' "$(mv_out "$id")")
	ms=$(sed -n 's/^todfd errno=[A-Z0-9]* ms=\([0-9]*\)$/\1/p' <<<"$out")
	if [ -n "$ms" ] && [ "$ms" -lt 10000 ]; then
		t_ok "$RT: move_mount to an fd of a stalling FUSE file is answered at once (${ms} ms; ${out#todfd })"
	else
		t_fail "$RT: move_mount to an fd of a stalling FUSE file is answered at once" \
			"${out:-no output}" "$(cat "$(mv_out "$id")")"
	fi
	rm -f "$ROOTFS/tmp/slowflag.close"
	t_check "$RT: notifyd is alive after the stalling FUSE file" mv_notifyd_alive
}

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	test_maxmounts
	test_forced_ro
	test_path_probe
	test_fuse_parent
	test_todfd
done
