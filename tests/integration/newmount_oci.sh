#!/bin/bash
# The new mount API (docs/new-mount-api.md) in real crun and runc containers,
# each mount done twice in the same container: once with mount(2) (busybox
# mount) and once with the system calls util-linux libmount >= 2.39 makes
# (tests/helpers/newmount_seq.c: fsopen/fsconfig/fsmount/mount_setattr/
# move_mount, open_tree clones for bind, fspick for remount), and compared:
# the same result (exit status, errno), the same decision (action=, rule=,
# result=, "locked"/"idmapped" in why=) in notifyd's log, the same line in
# /proc/self/mountinfo (nosuid,nodev forced), the same files readable; then
# bind, remount and propagation on the mount behave as their mount(2)
# equivalents, and umount leaves nothing (no mount, no notifyctl record, no
# FUSE daemon).  Actions: kernel (ext4 on a loop device, tmpfs), fuse (ext4
# by fuse2fs), continue (tmpfs), deny (xfs) and a refused option.  A program
# with no mount(2) fallback (tests/helpers/fsopen_only.c, as composefs)
# mounts ext4 under the kernel and the fuse action.
#
#   RUNTIMES="crun runc" NEWMOUNT_PROFILES="kern fuse" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
for h in newmount_seq fsopen_only; do
	[ -x "$MV_BUILD/tests/helpers/$h" ] || mv_bail "$MV_BUILD/tests/helpers/$h not built (make all)"
done

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES" "$MV_TMP/dec"
# kern: everything through the kernel action; xfs denied.
cat >"$PROFILES/kern.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 16
max-loop-devices = 2

[fs ext4]
action = kernel
idmap = yes
allowed-options = ro,noatime,errors

[fs tmpfs]
action = kernel
allowed-options = size,mode

[fs xfs]
action = deny
EOF
# fuse: ext4 served by fuse2fs; tmpfs left to the kernel (continue); xfs denied.
cat >"$PROFILES/fuse.conf" <<EOF
[profile]
default-action = deny
max-mounts = 16
max-fuse-daemons = 4

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro, noatime

[fs tmpfs]
action = continue

[fs xfs]
action = deny
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
for h in newmount_seq fsopen_only; do
	cp "$MV_BUILD/tests/helpers/$h" "$ROOTFS/bin/$h"
	chown 100000:100000 "$ROOTFS/bin/$h"
done
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
# An image in the container for its own loop devices (docs/loop.md).
mkdir -p "$ROOTFS/img"
mv_make_ext4 "$ROOTFS/img/ext4.img" 8M || mv_bail "cannot build the container's ext4 image"
chown -R 100000:100000 "$ROOTFS/img"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# ---------------------------------------------------------------------------
# What runs in the container.  Every case is a pair of phases, m2-CASE
# (mount(2)) and nm-CASE (newmount_seq), each ending in "mvsync ID.PHASE"
# so the host can cut notifyd's log between them.  The helper functions
# write the same step names for both phases: PHASE, PHASE-read, PHASE-info,
# PHASE-bind, ... .
# ---------------------------------------------------------------------------
cat >"$ROOTFS/bin/nm_cases.sh" <<'EOF'
# Sourced by the per-container scripts: $tok is the container id.
NM=/bin/newmount_seq

# mounted PHASE : the steps that look at /mnt/a after a successful mount.
mounted() {
	mvstep "$1-read" sh -c 'grep -q " /mnt/a " /proc/self/mountinfo || exit 1
		cat /mnt/a/hello.txt 2>/dev/null || { echo x > /mnt/a/f && cat /mnt/a/f; }'
	mvstep "$1-info" sh -c "grep ' /mnt/a ' /proc/self/mountinfo | cut -d' ' -f6-"
	mvsync "$tok.$1.mounted"
}

# gone PHASE : nothing of ours left at /mnt/a and /mnt/b.
gone() {
	mvstep "$1-gone" sh -c "! grep -E ' /mnt/(a|b) ' /proc/self/mountinfo"
	mvstep "$1-nodaemon" sh -c 'i=0; while ps -o comm | grep -q "^fuse2fs"; do
		i=$((i + 1)); [ $i -gt 50 ] && { ps -o pid,args; exit 1; }; sleep 0.1; done'
	mvsync "$tok.$1"
}

# full CASE TYPE SOURCE [OPTS] : the mount, bind, remount and propagation
# sequences, first with mount(2), then with the new API.
full() {
	c=$1 type=$2 src=$3 opts=${4:-}
	mvstep "m2-$c" mount -t "$type" ${opts:+-o "$opts"} "$src" /mnt/a
	mounted "m2-$c"
	mvstep "m2-$c-bind" mount --bind /mnt/a /mnt/b
	mvstep "m2-$c-bindread" sh -c "grep ' /mnt/b ' /proc/self/mountinfo | cut -d' ' -f6-"
	mvstep "m2-$c-suid" mount -o remount,bind,suid /mnt/a
	mvstep "m2-$c-dev" mount -o remount,bind,dev /mnt/b
	mvstep "m2-$c-ro" mount -o remount,bind,ro /mnt/a
	mvstep "m2-$c-roinfo" sh -c "grep ' /mnt/a ' /proc/self/mountinfo | cut -d' ' -f6"
	mvstep "m2-$c-prop" mount --make-shared /mnt/a
	mvstep "m2-$c-propinfo" sh -c "grep ' /mnt/a ' /proc/self/mountinfo | grep -c shared:"
	# util-linux, as busybox passes mountinfo's "idmapped" to the filesystem (EINVAL)
	mvstep "m2-$c-sbro" /usr/bin/mount -o remount,ro /mnt/a
	mvstep "m2-$c-umountb" umount /mnt/b
	mvstep "m2-$c-umount" umount /mnt/a
	gone "m2-$c"

	mvstep "nm-$c" $NM new "$type" "$src" /mnt/a $opts
	mounted "nm-$c"
	mvstep "nm-$c-bind" $NM bind /mnt/a /mnt/b
	mvstep "nm-$c-bindread" sh -c "grep ' /mnt/b ' /proc/self/mountinfo | cut -d' ' -f6-"
	mvstep "nm-$c-suid" $NM remount /mnt/a bind,suid
	mvstep "nm-$c-dev" $NM remount /mnt/b bind,dev
	mvstep "nm-$c-ro" $NM remount /mnt/a bind,ro
	mvstep "nm-$c-roinfo" sh -c "grep ' /mnt/a ' /proc/self/mountinfo | cut -d' ' -f6"
	mvstep "nm-$c-prop" $NM propagation /mnt/a shared
	mvstep "nm-$c-propinfo" sh -c "grep ' /mnt/a ' /proc/self/mountinfo | grep -c shared:"
	# libmount merges the mount's options from mountinfo into a remount's
	# (here the VFS ones, which include "idmapped" where the mount is)
	mvstep "nm-$c-sbro" sh -c "o=\$(awk '\$5 == \"/mnt/a\" {print \$6}' /proc/self/mountinfo)
		$NM remount /mnt/a \"\$o,ro\""
	mvstep "nm-$c-umountb" $NM umount /mnt/b
	mvstep "nm-$c-umount" $NM umount /mnt/a
	gone "nm-$c"
}

# pair CASE TYPE SOURCE OPTS : a mount with options, both ways, looked at,
# unmounted.  libmount passes "ro" as an fsconfig flag and sets
# MOUNT_ATTR_RDONLY, and atime options, by mount_setattr on the detached
# mount fsmount returned, before move_mount.
pair() {
	c=$1 type=$2 src=$3 opts=$4
	mvstep "m2-$c" mount -t "$type" -o "$opts" "$src" /mnt/a
	mounted "m2-$c"
	mvstep "m2-$c-umount" umount /mnt/a
	gone "m2-$c"
	mvstep "nm-$c" $NM new "$type" "$src" /mnt/a "$opts"
	mounted "nm-$c"
	mvstep "nm-$c-umount" $NM umount /mnt/a
	gone "nm-$c"
}

# refused CASE TYPE SOURCE [OPTS] : a mount that must fail, both ways.
refused() {
	c=$1 type=$2 src=$3 opts=${4:-}
	mvstep "m2-$c" mount -t "$type" ${opts:+-o "$opts"} "$src" /mnt/a
	gone "m2-$c"
	mvstep "nm-$c" $NM new "$type" "$src" /mnt/a $opts
	gone "nm-$c"
}

# nofallback CASE TYPE SOURCE : the fsopen-only program, then umount(2).
nofallback() {
	mvstep "nf-$1" /bin/fsopen_only "$2" "$3" /mnt/a
	mounted "nf-$1"
	mvstep "nf-$1-umount" umount /mnt/a
	gone "nf-$1"
}

# targetfd CASE TYPE SOURCE : libmount's restricted mode (move_mount onto
# an O_PATH fd of the target, MOVE_MOUNT_T_EMPTY_PATH).
targetfd() {
	mvstep "tf-$1" $NM -T new "$2" "$3" /mnt/a
	mounted "tf-$1"
	mvstep "tf-$1-umount" $NM umount /mnt/a
	gone "tf-$1"
}

# loopcase : ext4 on a loop device the container makes: util-linux 2.38's
# mount -o loop (mount(2), autoclear), then losetup and the new API.
loopcase() {
	mvstep m2-loop /usr/bin/mount -o loop /img/ext4.img /mnt/a
	mounted m2-loop
	mvstep m2-loop-umount /usr/bin/umount /mnt/a
	gone m2-loop
	mvstep nm-loop-setup sh -c '/usr/sbin/losetup -f --show /img/ext4.img >/tmp/loopdev && cat /tmp/loopdev'
	mvstep nm-loop sh -c "$NM new ext4 \$(cat /tmp/loopdev) /mnt/a"
	mounted nm-loop
	mvstep nm-loop-umount $NM umount /mnt/a
	mvstep nm-loop-detach sh -c '/usr/sbin/losetup -d $(cat /tmp/loopdev)'
	gone nm-loop
}
EOF
cat >"$ROOTFS/kern.sh" <<'EOF'
dev=$1 tok=$2
. /bin/nm_cases.sh
full ext4 ext4 "$dev"
full tmpfs tmpfs tmpfs size=1m
pair ro ext4 "$dev" ro
pair noatime ext4 "$dev" noatime
refused xfs xfs "$dev"
refused opt ext4 "$dev" commit=7
nofallback ext4 ext4 "$dev"
targetfd ext4 ext4 "$dev"
loopcase
EOF
cat >"$ROOTFS/fuse.sh" <<'EOF'
dev=$1 tok=$2
. /bin/nm_cases.sh
full ext4 ext4 "$dev"
full tmpfs tmpfs tmpfs size=1m
pair ro ext4 "$dev" ro
pair noatime ext4 "$dev" noatime
refused xfs xfs "$dev"
refused opt ext4 "$dev" commit=7
nofallback ext4 ext4 "$dev"
EOF

# ---------------------------------------------------------------------------
# Host side
# ---------------------------------------------------------------------------

# ndec ID : number of decision lines of container ID so far.
ndec() { mv_decisions "$1" | wc -l; }

# settle ID : wait until ID's decision lines stop growing (decisions are
# logged just after the answer, so the container may be ahead of the log).
settle() {
	local a b i
	a=$(ndec "$1")
	for ((i = 0; i < 20; i++)); do
		sleep 0.15
		b=$(ndec "$1")
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}

# drive ID TOKEN... : for each sync token in order: wait for the container;
# at TOKEN.mounted run on_mounted, at the end of a phase keep the phase's
# decision lines in $MV_TMP/dec/ID.PHASE and run on_done; let it go on.
drive() {
	local id=$1 t seen=0 n
	shift
	for t in "$@"; do
		if ! mv_sync_wait "$ROOTFS" "$id.$t" 60; then
			t_fail "$RT/$PROF: container reached $t" "$(tail -n 30 "$(mv_out "$id")")" \
				"$(tail -n 20 "$MV_LOG")"
			return 1
		fi
		settle "$id"
		case $t in
		*.mounted) on_mounted "$id" "${t%.mounted}" ;;
		*)
			n=$(ndec "$id")
			mv_decisions "$id" | sed -n "$((seen + 1)),${n}p" >"$MV_TMP/dec/$id.$t"
			seen=$n
			on_done "$id" "$t"
			;;
		esac
		mv_sync_go "$ROOTFS" "$id.$t"
	done
}

# on_mounted ID PHASE : notifyctl mounts lists /mnt/a for ID (what mount(2)'s
# mounts get: the new API's must be a mount_record too); continue mounts are
# the kernel's, not notifyd's.
on_mounted() {
	local out listed=no
	out=$(mv_ctl mounts 2>&1)
	awk -v id="$1" '$1 == id && $NF == "/mnt/a"' <<<"$out" | grep -q . && listed=yes
	echo "$listed" >"$MV_TMP/dec/$1.$2.listed"
	echo "$out" >"$MV_TMP/dec/$1.$2.mounts"
}

# on_done ID PHASE : after the umount notifyctl no longer lists it, and the
# kernel's ext4 superblock of $DEV is gone (/sys/fs/ext4/loopN: a context
# or mount fd still held somewhere keeps it, and the device busy).
on_done() {
	local out i sb=no
	for ((i = 0; i < 30; i++)); do
		sb=no
		[ -e "/sys/fs/ext4/${DEV#/dev/}" ] || break
		sb=yes
		sleep 0.1
	done
	echo "$sb" >"$MV_TMP/dec/$1.$2.sb"
	[ "$sb" = yes ] && ls -l "/proc/$NOTIFYD_PID/fd/" >"$MV_TMP/dec/$1.$2.fds" 2>&1
	out=$(mv_ctl mounts 2>&1)
	if awk -v id="$1" '$1 == id' <<<"$out" | grep -q .; then
		echo yes >"$MV_TMP/dec/$1.$2.left"
	else
		echo no >"$MV_TMP/dec/$1.$2.left"
	fi
}

# tokens PHASE... : the sync tokens the container script goes through.
phases_full() { echo "m2-$1.mounted m2-$1 nm-$1.mounted nm-$1"; }
phases_refused() { echo "m2-$1 nm-$1"; }

# first_line FILE PATTERN... : first line of FILE matching every grep -E pattern.
first_line() {
	local f=$1 lines
	shift
	lines=$(cat "$f" 2>/dev/null)
	for p in "$@"; do
		lines=$(grep -E -- "$p" <<<"$lines")
	done
	head -n1 <<<"$lines"
}

# why_marks LINE : the words of why= that the comparison looks at.
why_marks() {
	local w out=
	w=$(mv_kv why "$1")
	for m in locked idmapped; do
		[[ " $w " == *" $m"* ]] && out+="$m "
	done
	echo "${out% }"
}

# same_decision CASE : the new API's calls were decided by mount(2)'s rule
# with mount(2)'s action and result (for a mount: on fsconfig's CMD_CREATE
# or move_mount), the move_mount that attaches says what mount(2)'s line
# says (action, result, "locked"/"idmapped"), and none of its calls was
# answered ENOSYS.
same_decision() {
	local c=$1 f2=$MV_TMP/dec/$ID.m2-$1 fn=$MV_TMP/dec/$ID.nm-$1 l2 ln lm a r res
	l2=$(first_line "$f2" '(^| )syscall=mount ')
	if [ -z "$l2" ]; then
		t_fail "$RT/$PROF: $c: mount(2) has a decision line" "$(cat "$f2" 2>/dev/null)"
		return
	fi
	a=$(mv_kv action "$l2")
	r=$(mv_kv rule "$l2")
	res=$(mv_kv result "$l2")
	local sysre='(^| )syscall=(fsopen|fsconfig|fsmount|move_mount) ' x
	[ "$res" = ok ] && sysre='(^| )syscall=(fsconfig|move_mount) '
	ln=
	while IFS= read -r x; do
		[ -n "$x" ] && [ "$(mv_kv action "$x")" = "$a" ] && [ "$(mv_kv result "$x")" = "$res" ] &&
			[ "$(mv_kv rule "$x")" = "$r" ] && { ln=$x; break; }
	done < <(grep -E -- "$sysre" "$fn" 2>/dev/null)
	if [ -n "$ln" ]; then
		t_ok "$RT/$PROF: $c: the new API is decided as mount(2) (action=$a rule=\"$r\" result=$res)"
	else
		t_fail "$RT/$PROF: $c: the new API is decided as mount(2) (action=$a rule=\"$r\" result=$res)" \
			"mount(2): $l2" "new API (all lines of the phase):" "$(cat "$fn" 2>/dev/null)"
	fi
	if [ "$res" = ok ]; then
		lm=$(first_line "$fn" '(^| )syscall=move_mount ' 'result=ok')
		# The one difference kept on purpose: the new API locks its FUSE mounts as
		# DESIGN.md asks of every notifyd mount; mount(2)'s FUSE path does not
		# (docs/new-mount-api.md "The fuse action").
		local marks
		marks=$(why_marks "$l2")
		[ "$a" = fuse ] && marks=$(echo "locked $marks" | xargs)
		if [ -n "$lm" ] && [ "$(mv_kv action "$lm")" = "$a" ] &&
			[ "$(why_marks "$lm")" = "$marks" ]; then
			t_ok "$RT/$PROF: $c: the attaching move_mount's line says action=$a result=ok $marks"
		else
			t_fail "$RT/$PROF: $c: the attaching move_mount's line says action=$a result=ok $marks" \
				"mount(2): $l2" "new API: ${lm:-no move_mount line with result=ok}"
		fi
		if [ -n "$lm" ] && [ "$(mv_kv rule "$lm")" != "$r" ]; then
			t_diag "$RT/$PROF: $c: note: move_mount's rule is \"$(mv_kv rule "$lm")\", mount(2)'s \"$r\""
		fi
	fi
	if grep -qE 'syscall=(fsopen|fsconfig|fsmount|move_mount) .*result=ENOSYS' "$fn" 2>/dev/null; then
		t_fail "$RT/$PROF: $c: no new-API call answered ENOSYS" "$(grep ENOSYS "$fn")"
	else
		t_ok "$RT/$PROF: $c: no new-API call answered ENOSYS"
	fi
}

# rc_class ID STEP : 0, or the errno name the step's output shows.
rc_class() {
	local rc out e
	rc=$(mv_step_rc "$1" "$2")
	[ "$rc" = 0 ] && { echo 0; return; }
	[ "$rc" = missing ] && { echo missing; return; }
	out=$(mv_step_out "$1" "$2")
	# util-linux mount(8) words errnos its own way (exit 32)
	case $out in
	*": permission denied."*) echo EPERM; return ;;
	*"mount point not mounted or bad option"*) echo EINVAL; return ;;
	esac
	for e in EPERM EACCES EINVAL ENODEV ENOTBLK EBUSY ENOENT EROFS ENOSYS EMFILE ENOSPC; do
		if mv_errno_in "$e" "$out"; then
			echo "$e"
			return
		fi
	done
	echo "rc=$rc"
}

# same_step DESC STEP WANT : mount(2)'s m2-STEP and the new API's nm-STEP
# ended alike, and as WANT (0 or an errno name; "same": whatever mount(2) gave).
same_step() {
	local desc=$1 s=$2 want=$3 a b
	a=$(rc_class "$ID" "m2-$s")
	b=$(rc_class "$ID" "nm-$s")
	[ "$want" = same ] && [ "$a" != missing ] && want=$a
	if [ "$a" = "$b" ] && [ "$a" = "$want" ]; then
		t_ok "$RT/$PROF: $desc: mount(2) and the new API both give $want"
	else
		t_fail "$RT/$PROF: $desc: mount(2) and the new API both give $want" \
			"mount(2): $a: $(mv_step_out "$ID" "m2-$s")" "new API: $b: $(mv_step_out "$ID" "nm-$s")"
	fi
}

# diff_step DESC STEP M2 NM : m2-STEP gave M2 and nm-STEP NM (a known difference).
diff_step() {
	local a b
	a=$(rc_class "$ID" "m2-$2")
	b=$(rc_class "$ID" "nm-$2")
	if [ "$a" = "$3" ] && [ "$b" = "$4" ]; then
		t_ok "$RT/$PROF: $1: mount(2) gives $3, the new API (locked) $4"
	else
		t_fail "$RT/$PROF: $1: mount(2) gives $3, the new API (locked) $4" \
			"mount(2): $a: $(mv_step_out "$ID" "m2-$2")" "new API: $b: $(mv_step_out "$ID" "nm-$2")"
	fi
}

# same_out DESC STEP : m2-STEP and nm-STEP printed the same.
same_out() {
	local a b
	a=$(mv_step_out "$ID" "m2-$2")
	b=$(mv_step_out "$ID" "nm-$2")
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		t_ok "$RT/$PROF: $1"
	else
		t_fail "$RT/$PROF: $1" "mount(2): $a" "new API:  $b"
	fi
}

# has_nosuid_nodev INFO : the mount options (first field) have both.
has_nosuid_nodev() {
	local o=${1%% *}
	[[ ,$o, == *,nosuid,* && ,$o, == *,nodev,* ]]
}

# sb_released CASE PREFIX... : after each phase PREFIX-CASE ended, no ext4
# superblock of $DEV was left (checked for the ext4 cases).
sb_released() {
	local c=$1 p
	shift
	for p in "$@"; do
		if [ "$(cat "$MV_TMP/dec/$ID.$p-$c.sb" 2>/dev/null)" = no ]; then
			t_ok "$RT/$PROF: $c: $p: after umount the ext4 superblock of $DEV is gone"
		else
			t_fail "$RT/$PROF: $c: $p: after umount the ext4 superblock of $DEV is gone" \
				"/sys/fs/ext4/${DEV#/dev/} still there 3 s after the phase ended" \
				"notifyd's fds then:" "$(grep -v ' -> socket:' "$MV_TMP/dec/$ID.$p-$c.fds" 2>&1)"
		fi
	done
}

# check_full CASE WANT_TYPE MANAGED : the checks of one "full" case; MANAGED
# is yes when notifyd makes the mount (kernel, fuse), no for continue.
check_full() {
	local c=$1 want_type=$2 managed=$3 p info
	same_step "$c: mount" "$c" 0
	same_decision "$c"
	for p in m2 nm; do
		info=$(mv_step_out "$ID" "$p-$c-info")
		if [[ $info == *" - $want_type "* ]]; then
			t_ok "$RT/$PROF: $c: $p: mountinfo shows $want_type"
		else
			t_fail "$RT/$PROF: $c: $p: mountinfo shows $want_type" "$info"
		fi
		if [ "$managed" = yes ]; then
			if has_nosuid_nodev "$info"; then
				t_ok "$RT/$PROF: $c: $p: nosuid,nodev forced"
			else
				t_fail "$RT/$PROF: $c: $p: nosuid,nodev forced" "$info"
			fi
		fi
		if [ "$(cat "$MV_TMP/dec/$ID.$p-$c.listed" 2>/dev/null)" = "$managed" ]; then
			t_ok "$RT/$PROF: $c: $p: notifyctl mounts lists it: $managed"
		else
			t_fail "$RT/$PROF: $c: $p: notifyctl mounts lists it: $managed" "notifyctl mounts said:" \
				"$(cat "$MV_TMP/dec/$ID.$p-$c.mounts" 2>/dev/null)"
		fi
		if [ "$(cat "$MV_TMP/dec/$ID.$p-$c.left" 2>/dev/null)" = no ]; then
			t_ok "$RT/$PROF: $c: $p: after umount notifyctl lists nothing"
		else
			t_fail "$RT/$PROF: $c: $p: after umount notifyctl lists nothing" "$(mv_ctl mounts 2>&1)"
		fi
	done
	same_out "$c: same mountinfo line (options, type, source, super options)" "$c-info"
	same_out "$c: same file content read" "$c-read"
	same_step "$c: bind of it (open_tree clone / MS_BIND)" "$c-bind" 0
	same_out "$c: the bind copy looks the same" "$c-bindread"
	if [ "$PROF" = kern ]; then
		same_step "$c: remount,bind,suid refused (locked)" "$c-suid" EPERM
		same_step "$c: remount,bind,dev on the bind copy refused (locked)" "$c-dev" EPERM
	elif [ "$managed" = yes ]; then
		# docs/fuse.md: mount(2)'s FUSE mount belongs to the container's user
		# namespace and is not locked (a FUSE superblock of the container's
		# user namespace is nodev and honours set-id bits only inside it);
		# the new API locks it, as DESIGN.md asks of every notifyd mount.
		diff_step "$c: remount,bind,suid" "$c-suid" 0 EPERM
		diff_step "$c: remount,bind,dev on the bind copy" "$c-dev" 0 EPERM
	else
		same_step "$c: remount,bind,suid" "$c-suid" 0
		same_step "$c: remount,bind,dev on the bind copy" "$c-dev" 0
	fi
	same_step "$c: remount,bind,ro" "$c-ro" 0
	if [ "$PROF" != kern ] && [ "$managed" = yes ]; then
		# mount(2)'s unlocked FUSE mount lost nosuid to the suid remount above.
		t_check "$RT/$PROF: $c: the new API's mount kept nosuid,nodev through the remounts" \
			has_nosuid_nodev "$(mv_step_out "$ID" "nm-$c-roinfo")"
	else
		same_out "$c: same options after the ro remount" "$c-roinfo"
	fi
	t_check "$RT/$PROF: $c: ... which are read-only" \
		grep -q '^ro,' <<<"$(mv_step_out "$ID" "nm-$c-roinfo")"
	same_step "$c: make-shared (mount_setattr propagation)" "$c-prop" 0
	same_out "$c: same propagation after it" "$c-propinfo"
	# A superblock remount of notifyd's mounts (a continue mount is the
	# kernel's business both ways; busybox also merges tmpfs's options).
	if [ "$PROF" = kern ]; then
		# the superblock is notifyd's (host user namespace): not the container's
		# to reconfigure (EPERM; EINVAL first where mountinfo's "idmapped" is
		# passed on as a filesystem option, as util-linux does)
		same_step "$c: remount,ro of the superblock (fspick + RECONFIGURE)" "$c-sbro" same
		t_check "$RT/$PROF: $c: ... refused" [ "$(mv_step_rc "$ID" "nm-$c-sbro")" != 0 ]
	elif [ "$managed" = yes ]; then
		same_step "$c: remount,ro of the superblock (fspick + RECONFIGURE)" "$c-sbro" same
	fi
	same_step "$c: umount of the bind copy" "$c-umountb" 0
	same_step "$c: umount" "$c-umount" 0
	same_step "$c: nothing left at /mnt/a, /mnt/b" "$c-gone" 0
	same_step "$c: no FUSE daemon left" "$c-nodaemon" 0
	[ "$c" = ext4 ] && sb_released "$c" m2 nm
}

# check_pair CASE WANT_TYPE : a pair mounted alike, with the same mountinfo
# line: the option CASE (ro, noatime) besides the forced nosuid,nodev.
check_pair() {
	local c=$1 info o
	same_step "$c: mount -o $c" "$c" 0
	same_decision "$c"
	info=$(mv_step_out "$ID" "nm-$c-info")
	o=${info%% *}
	if has_nosuid_nodev "$info" && [[ ,$o, == *,$c,* ]] && [[ $info == *" - $2 "* ]]; then
		t_ok "$RT/$PROF: $c: nm: mountinfo shows $2 with $c and nosuid,nodev"
	else
		t_fail "$RT/$PROF: $c: nm: mountinfo shows $2 with $c and nosuid,nodev" "$info" \
			"$(mv_step_out "$ID" "nm-$c")"
	fi
	same_out "$c: same mountinfo line" "$c-info"
	same_out "$c: same file content read" "$c-read"
	same_step "$c: umount" "$c-umount" 0
	same_step "$c: nothing left" "$c-gone" 0
	same_step "$c: no FUSE daemon left" "$c-nodaemon" 0
	sb_released "$c" m2 nm
}

# check_refused CASE ERRNO : both refused alike, nothing mounted.
check_refused() {
	same_step "$1: refused" "$1" "$2"
	same_decision "$1"
	same_step "$1: nothing mounted" "$1-gone" 0
}

# check_single PREFIX CASE WANT_TYPE : a mount by fsopen_only (nf) or
# newmount_seq -T (tf): mounted, readable, nosuid,nodev, record, gone.
check_single() {
	local p=$1 c=$2 t=$3 info
	t_step_ok "$RT/$PROF: $c: $4" "$ID" "$p-$c"
	t_check "$RT/$PROF: $c: $p: file read" [ "$(mv_step_out "$ID" "$p-$c-read")" = "hello from ext4" ]
	info=$(mv_step_out "$ID" "$p-$c-info")
	if [[ $info == *" - $t "* ]] && has_nosuid_nodev "$info"; then
		t_ok "$RT/$PROF: $c: $p: mountinfo shows $t, nosuid,nodev"
	else
		t_fail "$RT/$PROF: $c: $p: mountinfo shows $t, nosuid,nodev" "$info"
	fi
	if [ "$(cat "$MV_TMP/dec/$ID.$p-$c.listed" 2>/dev/null)" = yes ]; then
		t_ok "$RT/$PROF: $c: $p: notifyctl mounts lists it at /mnt/a"
	else
		t_fail "$RT/$PROF: $c: $p: notifyctl mounts lists it at /mnt/a" "notifyctl mounts said:" \
			"$(cat "$MV_TMP/dec/$ID.$p-$c.mounts" 2>/dev/null)" "decisions:" \
			"$(cat "$MV_TMP/dec/$ID.$p-$c" 2>/dev/null)"
	fi
	t_step_ok "$RT/$PROF: $c: $p: umount" "$ID" "$p-$c-umount"
	t_step_ok "$RT/$PROF: $c: $p: nothing left" "$ID" "$p-$c-gone"
	t_step_ok "$RT/$PROF: $c: $p: no FUSE daemon left" "$ID" "$p-$c-nodaemon"
	sb_released "$c" "$p"
	t_check "$RT/$PROF: $c: $p: after umount notifyctl lists nothing" \
		[ "$(cat "$MV_TMP/dec/$ID.$p-$c.left" 2>/dev/null)" = no ]
	t_check "$RT/$PROF: $c: $p: no call answered ENOSYS" \
		[ -z "$(grep -E 'result=ENOSYS' "$MV_TMP/dec/$ID.$p-$c" 2>/dev/null)" ]
}

# check_loop : ext4 on the container's own loop device, both ways.
check_loop() {
	local p info
	t_step_ok "$RT/$PROF: loop: losetup -f --show in the container" "$ID" nm-loop-setup
	same_step "loop: mount of ext4 on the container's loop device" loop 0
	same_decision loop
	for p in m2 nm; do
		info=$(mv_step_out "$ID" "$p-loop-info")
		if [[ $info == *" - ext4 /dev/loop"* ]] && has_nosuid_nodev "$info"; then
			t_ok "$RT/$PROF: loop: $p: mountinfo shows ext4 on /dev/loopN, nosuid,nodev"
		else
			t_fail "$RT/$PROF: loop: $p: mountinfo shows ext4 on /dev/loopN, nosuid,nodev" "$info"
		fi
	done
	same_out "loop: same file content read" loop-read
	same_step "loop: umount" loop-umount 0
	t_step_ok "$RT/$PROF: loop: losetup -d after the new API's umount" "$ID" nm-loop-detach
	same_step "loop: nothing left at /mnt/a" loop-gone 0
}

run_profile() {
	local type toks rc
	ID=$MV_IDP-$RT-$PROF
	type=ext4
	[ "$PROF" = fuse ] && type=fuse.fuse2fs
	toks="$(phases_full ext4) $(phases_full tmpfs) $(phases_full ro) $(phases_full noatime)"
	toks+=" $(phases_refused xfs)"
	toks+=" $(phases_refused opt)"
	toks+=" nf-ext4.mounted nf-ext4"
	local loop=()
	if [ "$PROF" = kern ]; then
		toks+=" tf-ext4.mounted tf-ext4 m2-loop.mounted m2-loop nm-loop.mounted nm-loop"
		loop=(--loop)
	fi
	mv_oci_bundle --profile "$PROF" "${loop[@]}" --device "$DEV" "$MV_TMP/$ID" "$ROOTFS" \
		sh "/$PROF.sh" "$DEV" "$ID" || mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$ID"
	mv_start "$RT" "$MV_TMP/$ID" "$ID" 240
	# shellcheck disable=SC2086 # a list of tokens
	drive "$ID" $toks
	mv_wait "$ID"
	rc=$?
	t_check "$RT/$PROF: the container ran to its end (exit 0)" [ "$rc" = 0 ]
	mv_wait_log "container $ID gone" 10 >/dev/null
	if [ "$PROF" = kern ]; then
		local i
		for ((i = 0; i < 50; i++)); do
			losetup -a | grep -qF "$ROOTFS/img/" || break
			sleep 0.1
		done
		t_check "$RT/$PROF: no loop device of the container's image is left on the host" \
			[ -z "$(losetup -a | grep -F "$ROOTFS/img/")" ]
	fi

	check_full ext4 "$type" yes
	if [ "$PROF" = kern ]; then
		check_full tmpfs tmpfs yes
	else
		check_full tmpfs tmpfs no
	fi
	check_pair ro "$type"
	check_pair noatime "$type"
	check_refused xfs EPERM
	check_refused opt EINVAL
	check_single nf ext4 "$type" "a program with no mount(2) fallback (fsopen only) mounts ext4"
	if [ "$PROF" = kern ]; then
		check_single tf ext4 "$type" "libmount's target-fd mode (MOVE_MOUNT_T_EMPTY_PATH) mounts ext4"
		check_loop
	fi
	# notifyd opens some fds once, at the first use of an action (a FUSE
	# worker, the fusermount memfd): the count after the first round of
	# profiles is the baseline every later run must come back to.
	# (FUSE daemons are reaped a moment after their container: up to 5 s)
	local fds i
	for ((i = 0; i < 50; i++)); do
		fds=$(mv_notifyd_fds)
		[ -z "${FDS_RAN[$PROF]:-}" ] || [ "$fds" -le "$FDS_BASE" ] && break
		sleep 0.1
	done
	if [ -z "${FDS_RAN[$PROF]:-}" ]; then
		FDS_RAN[$PROF]=1
		FDS_BASE=$fds
	elif [ "$fds" -le "$FDS_BASE" ]; then
		t_ok "$RT/$PROF: notifyd's fd count is back to $FDS_BASE (after the first round)"
	else
		t_fail "$RT/$PROF: notifyd's fd count is back to $FDS_BASE (after the first round)" \
			"it is $fds:" "$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
	fi
}

declare -A FDS_RAN=()
FDS_BASE=0
for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: runs" "$RT is not installed"
		continue
	}
	for PROF in ${NEWMOUNT_PROFILES:-kern fuse}; do
		run_profile
	done
done
if mv_notifyd_alive; then
	t_ok "notifyd survived"
else
	t_fail "notifyd survived"
fi
t_done
