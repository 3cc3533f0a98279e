#!/bin/bash
# Hostile use of the new mount API (issue 20, docs/new-mount-api.md) in real
# crun and runc containers, against notifyd serving fsopen/fsconfig/fsmount/
# move_mount for ext4 under the kernel action.  The container runs
# tests/security/newmount_hostile.c; each group says what it attacks.
#
# limits   -- the kernel's argument limits and phase rules (key and string
#   value 255/256 characters, SET_BINARY 1 MiB / 1 MiB + 1, bad pointers,
#   NULL key, unknown command, non-context and closed fds, fsmount before
#   CMD_CREATE, unknown fsmount flags/attributes, SET_* / CMD_CREATE after
#   CMD_CREATE): every answer on a notifyd context must be the kernel's own,
#   measured by the same helper on the host (root, same device) in this run;
#   the container's own tmpfs context (continue) gives the same answers.
# failed   -- CMD_CREATE that fails (a non-ext4 device, a missing path, a
#   regular file, a directory): the kernel's errno, EBUSY afterwards, and the
#   messages read back from the context name none of notifyd's host paths.
# locked   -- fsmount with attributes 0 still gives nosuid,nodev, locked:
#   mount_setattr clearing them and a bind remount without them fail EPERM.
# forge    -- a context's fd number replaced by a pipe, a memfd, the
#   container's own tmpfs context and a closed number; then one thread swaps
#   notifyd's context and the container's own on one number while another
#   sends source=<a host device the container lacks> and options the profile
#   forbids (the kcmp-then-continue window): the mount notifyd makes must
#   be the container's device with allowed options only.
# race8    -- 8 threads of fsconfig on one context, 2 racing CMD_CREATE.
# pass     -- container A's context and a detached mount of A's handed to
#   container B over a unix socket: B's CMD_CREATE is the kernel's EPERM on a
#   powerless context, B's allowed option never reaches A's mount, B's
#   move_mount of A's mount fails (not B's handle: the kernel decides).
# cap      -- more contexts than max-fs-contexts: the documented errno; the
#   container's own tmpfs contexts do not count.
# kill     -- containers killed while 4 processes run sequences: notifyd's
#   fds, mounts, children and transient cgroups come back to their start.
# fds      -- 10,000 complete and 10,000 abandoned sequences (NEWMOUNT_COUNT;
#   a tenth in the second runtime): notifyd's fd count returns to its start.
# locked also attacks the mount fd fsmount hands out before it is attached:
#   mount_setattr clearing the flags on it, open_tree clones of it attached
#   where notifyd does not look, and remounted without the flags.
#
# OPEN (failing checks until notifyd is fixed; against h-A 8dd140a):
#   limits fsmount_again -- a second fsmount of a created context gives a
#     second mount; the kernel answers EBUSY.
#   failed /nonexist -- a source missing in the container fails ENOENT at
#     CMD_CREATE with no message in the context; the kernel writes
#     "e /nonexist: Can't lookup blockdev" there.
#   pass move_mount -- container B attaches a detached mount notifyd made for
#     A (its fsmount fd, passed over a socket): notifyd answers continue (not
#     B's handle) and the kernel moves a detached mount out of any anonymous
#     namespace; B gets A's mount with no record of B's, and A's own
#     move_mount of it then fails EINVAL.
#
#   RUNTIMES="crun runc", GROUPS_RUN="limits failed ..." to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

GROUPS_RUN=${GROUPS_RUN:-limits failed locked forge race8 pass cap kill fds}
RUNTIMES=${RUNTIMES:-crun runc}
# 10,000 (the issue's number) in make check; 1,000 under make asan, whose
# notifyd is ~10x slower and would pass run.sh's 600 s limit.
if readelf -d "$MV_BUILD/notifyd" 2>/dev/null | grep -q 'libasan'; then
	COUNT=${NEWMOUNT_COUNT:-1000}
else
	COUNT=${NEWMOUNT_COUNT:-10000}
fi
want() { [[ " $GROUPS_RUN " == *" $1 "* ]]; }
MV_IDP=nmh

HELPER=$MV_BUILD/tests/helpers/newmount_hostile
[ -x "$HELPER" ] || mv_bail "$HELPER not built (make all)"

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 64

[fs ext4]
action = kernel
idmap = yes
allowed-options = ro,noatime,errors,commit

[fs tmpfs]
action = continue
EOF
want cap && cat >"$PROFILES/cap.conf" <<'EOF'
[profile]
default-action = deny
max-fs-contexts = 4

[fs ext4]
action = kernel
idmap = yes

[fs tmpfs]
action = continue
EOF

ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$HELPER" "$ROOTFS/bin/newmount_hostile"
mkdir -p "$ROOTFS/tmp/dir" "$ROOTFS/tmp/l" "$ROOTFS/shared"
truncate -s 8M "$ROOTFS/tmp/bad.img"
chown -R 100000:100000 "${ROOTFS:?}/bin/newmount_hostile" "$ROOTFS/tmp" "$ROOTFS/shared"

mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
truncate -s 8M "$MV_TMP/bad.img"
mv_loop_attach "$MV_TMP/bad.img" BAD || mv_bail "cannot attach a loop device"
# A host device no container is given: the source of the forged calls.
mv_make_ext4 "$MV_TMP/other.img" 8M || mv_bail "cannot build the second image"
mv_loop_attach "$MV_TMP/other.img" OTHER || mv_bail "cannot attach a loop device"
mkdir -p "$MV_TMP/refdir"

# The kernel's own answers, on the host, to the same calls.
REF_LIMITS=$("$HELPER" limits ext4 "$DEV")
REF_FAILED=$("$HELPER" failed ext4 "$BAD" /nonexist "$MV_TMP/bad.img" "$MV_TMP/refdir")

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# bundle ID [mv_oci_bundle options] -- CMD... : $MV_TMP/ID with $DEV and $BAD.
bundle() {
	local id=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	mv_oci_bundle --device "$DEV" --device "$BAD" "${opts[@]}" "$MV_TMP/$id" "$ROOTFS" "$@"
}

# case_field OUT CASE KEY : KEY's value on the "case=CASE" line of OUT.
case_field() {
	sed -n "s/^case=$2 \(.* \)\?$3=\([^ ]*\).*/\2/p" <<<"$1" | head -n1
}

# case_line OUT CASE : the whole "case=CASE" line.
case_line() { grep -m1 "^case=$2 " <<<"$1"; }

# t_case DESC OUT CASE ERRNO : the case's errno is ERRNO (0 for success).
t_case() {
	local got
	got=$(case_field "$2" "$3" errno)
	if [ "$got" = "$4" ]; then
		t_ok "$1"
	else
		t_fail "$1" "case $3: expected $4, got ${got:-no line}" "$2"
	fi
}

# fd_settle : notifyd's fd count once it stopped changing (5 s at most).
fd_settle() {
	local prev=-1 cur j
	for ((j = 0; j < 25; j++)); do
		cur=$(mv_notifyd_fds)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.2
	done
	echo "$cur"
}

# fd_back BASE : wait (10 s at most) for the count to come back to BASE (+2).
fd_back() {
	local i cur
	for ((i = 0; i < 50; i++)); do
		cur=$(mv_notifyd_fds)
		[ "$cur" -le $(($1 + 2)) ] && break
		sleep 0.2
	done
	echo "$cur"
}

# Mounts of a device in notifyd's own mount namespace (it must hold none of its own).
dev_mounts() { grep -c " $(mv_devnum "$1") " "/proc/$NOTIFYD_PID/mountinfo"; }

# ---------------------------------------------------------------------------

group_limits() {
	local rt=$1 id=$MV_IDP-$1-limits out_ext4 out_tmpfs c ref
	bundle "$id" -- sh -c "mvstep ext4 newmount_hostile limits ext4 $DEV;
		mvstep tmpfs newmount_hostile limits tmpfs none"
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	out_ext4=$(mv_step_out "$id" ext4)
	out_tmpfs=$(mv_step_out "$id" tmpfs)
	for c in fsopen key_255 key_256 string_255 string_256 binary_1m binary_1m_bad_pointer \
		binary_1m_plus_1 binary_0 key_bad_pointer value_bad_pointer key_null \
		flag_with_value create_with_key unknown_cmd fsmount_before_create pipe_fd \
		pipe_create pipe_fsmount closed_fd closed_fsmount source source_twice options_300 create \
		set_after_create flag_after_create create_again fsmount_bad_flags \
		fsmount_bad_attr fsmount_idmap_attr fsmount fsmount_again; do
		ref=$(case_field "$REF_LIMITS" "$c" errno)
		t_case "$rt: ext4 context, $c: ${ref:-?} as the kernel answers" "$out_ext4" "$c" "$ref"
	done
	# After fsmount the kernel takes parameters for a CMD_RECONFIGURE (0) that
	# notifyd does not emulate (EBUSY): shown, not checked.
	t_diag "$rt: SET_STRING after fsmount: kernel $(case_field "$REF_LIMITS" set_after_fsmount errno)," \
		"notifyd $(case_field "$out_ext4" set_after_fsmount errno)"
	# The container's own tmpfs context (continue): the argument checks are the kernel's.
	for c in key_256 string_256 binary_1m_bad_pointer binary_1m_plus_1 key_bad_pointer \
		key_null unknown_cmd fsmount_before_create closed_fd; do
		ref=$(case_field "$REF_LIMITS" "$c" errno)
		t_case "$rt: own tmpfs context, $c: ${ref:-?} (the continue path)" "$out_tmpfs" "$c" "$ref"
	done
}

group_failed() {
	local rt=$1 id=$MV_IDP-$1-failed out ref i c msgs bad
	bundle "$id" -- mvstep failed newmount_hostile failed ext4 "$BAD" /nonexist /tmp/bad.img /tmp/dir
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	out=$(mv_step_out "$id" failed)
	# One block per source, in the same order on both sides.
	for i in 1 2 3 4; do
		local blk rblk
		blk=$(awk -v n="$i" '/^case=failed_source /{k++} k==n' <<<"$out")
		rblk=$(awk -v n="$i" '/^case=failed_source /{k++} k==n' <<<"$REF_FAILED")
		for c in failed_create set_after_failed create_after_failed fsmount_after_failed; do
			ref=$(case_field "$rblk" "$c" errno)
			t_case "$rt: failed CMD_CREATE ($(case_field "$blk" failed_source source)), $c: ${ref:-?}" \
				"$blk" "$c" "$ref"
		done
	done
	msgs=$(grep '^msg=' <<<"$out")
	bad=$(grep -E '/proc/|/run/mountvisor|notifyd|'"$MV_TMP" <<<"$msgs")
	if [ -z "$bad" ]; then
		t_ok "$rt: no message of a failed context names a host path ($(wc -l <<<"$msgs") lines)"
	else
		t_fail "$rt: no message of a failed context names a host path" "$bad"
	fi
	# A missing source is refused by notifyd's own resolution in the caller's
	# view, before any context of notifyd's tried it: the errno is the
	# kernel's (checked above), the kernel's message ("...: Can't lookup
	# blockdev") is not written (docs/new-mount-api.md "Not done yet").
	t_diag "$rt: not written for a missing source, the kernel's: $(grep '^msg=' <<<"$REF_FAILED" | head -n1)"
	t_check "$rt: notifyd holds no mount of the bad device" test "$(dev_mounts "$BAD")" = 0
}

group_locked() {
	local rt=$1 id=$MV_IDP-$1-locked out
	bundle "$id" -- mvstep seq newmount_hostile seq 1 ext4 "$DEV" /mnt/a
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	out=$(mv_step_out "$id" seq)
	if grep -q '^seq n=1 ok=1 ' <<<"$out"; then
		t_ok "$rt: fsopen..move_mount..umount2 of ext4 under the kernel action"
	else
		t_fail "$rt: fsopen..move_mount..umount2 of ext4 under the kernel action" "$out"
		mv_explain "$id"
	fi
	t_check "$rt: fsmount with attributes 0 still gives nosuid,nodev" \
		grep -q '^case=flags nosuid=1 nodev=1' <<<"$out"
	t_case "$rt: mount_setattr clearing nosuid,nodev: EPERM (locked)" "$out" locked_setattr EPERM
	t_case "$rt: bind remount without nosuid,nodev: EPERM (locked)" "$out" locked_remount EPERM
	t_check "$rt: still nosuid,nodev after both" \
		grep -q '^case=flags_after nosuid=1 nodev=1' <<<"$out"
	t_decision "$rt: a decision line as mount(2)'s (action=kernel result=ok locked)" "$id" \
		'action=kernel' 'result=ok' 'locked'

	id=$MV_IDP-$rt-detached
	bundle "$id" -- mvstep det newmount_hostile detached ext4 "$DEV" /mnt/a /mnt/b
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	out=$(mv_step_out "$id" det)
	t_case "$rt: fsmount's fd before move_mount: mount_setattr clearing nosuid,nodev: EPERM" \
		"$out" detached_setattr_clear EPERM
	if [ "$(case_field "$out" detached_clone errno)" = 0 ]; then
		t_case "$rt: its open_tree clone: mount_setattr clearing nosuid,nodev: EPERM" \
			"$out" clone_setattr_clear EPERM
		if [ "$(case_field "$out" clone_move_mount errno)" = 0 ]; then
			t_check "$rt: the clone attached without notifyd: still nosuid,nodev" \
				grep -q '^case=clone_flags nosuid=1 nodev=1' <<<"$out"
			t_case "$rt: the clone's bind remount without nosuid,nodev: EPERM" \
				"$out" clone_remount EPERM
		fi
	else
		# The kernel clones a detached mount of the caller's own; notifyd's handed
		# fd is the mount's root opened O_RDONLY (ADDFD installs no O_PATH file).
		t_diag "$rt: open_tree(OPEN_TREE_CLONE) of the handed-out mount:" \
			"$(case_field "$out" detached_clone errno) (the kernel: 0 on a mount of the caller's own)"
	fi
	t_case "$rt: an access-time change that also clears nosuid: EPERM (the kernel's, continued)" \
		"$out" detached_atime_clear EPERM
	t_case "$rt: an access-time change alone (libmount's -o noatime): done by notifyd" \
		"$out" detached_noatime 0
	t_case "$rt: the mount that replaced the fd: clearing nosuid,nodev still EPERM" \
		"$out" detached_setattr_clear_again EPERM
	t_decision "$rt: the access-time change has a decision line (new locked mount)" "$id" \
		'syscall=mount_setattr' 'result=ok' 'locked with the new access-time flags'
	t_case "$rt: the fd, attached after all that, mounts" "$out" detached_move_mount 0
	t_check "$rt: and is nosuid,nodev" grep -q '^case=flags nosuid=1 nodev=1' <<<"$out"
	t_check "$rt: and noatime" grep -q '^case=opts opts=.*noatime' <<<"$out"
}

group_forge() {
	local rt=$1 id=$MV_IDP-$1-forge out line c
	bundle "$id" -- mvstep forge newmount_hostile forge ext4 "$DEV" "$OTHER" /mnt/a 3
	mv_run "$rt" "$MV_TMP/$id" "$id" 90
	out=$(mv_step_out "$id" forge)
	for c in pipe_source pipe_create pipe_fsmount memfd_source memfd_create; do
		t_case "$rt: forged fd ($c): EINVAL, the kernel's answer for a non-context" "$out" "$c" EINVAL
	done
	t_case "$rt: the container's own tmpfs context under the number: its own answer" \
		"$out" own_source 0
	for c in closed_source closed_create closed_fsmount; do
		t_case "$rt: closed number ($c): EBADF" "$out" "$c" EBADF
	done
	t_case "$rt: the real context, given back its number, mounts" "$out" forge_mount 0
	line=$(case_line "$out" forge_mounted)
	if [[ $line == *" same=1 "* ]] && [[ $line != *size=* ]]; then
		t_ok "$rt: that mount is the container's device, without the forged size= ($line)"
	else
		t_fail "$rt: that mount is the container's device, without the forged size=" \
			"${line:-no forge_mounted line}" "$out"
	fi
	line=$(grep '^race ' <<<"$out")
	if [[ $line =~ calls=([0-9]+)\ answered=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
		[ "${BASH_REMATCH[1]}" -gt 0 ]; then
		t_ok "$rt: every racing fsconfig answered ($line)"
	else
		t_fail "$rt: every racing fsconfig answered" "${line:-no race line}" "$out"
	fi
	t_case "$rt: after the swap race the context still creates and mounts" "$out" race_mount 0
	line=$(case_line "$out" race_mounted)
	if [[ $line == *" same=1 "* ]] && [[ $line != *nodelalloc* ]] && [[ $line != *stripe* ]]; then
		t_ok "$rt: the raced mount is the container's device with no forbidden option ($line)"
	else
		t_fail "$rt: the raced mount is the container's device with no forbidden option" \
			"${line:-no race_mounted line} (host device $OTHER is $(mv_devnum "$OTHER"))" "$out"
	fi
	t_check "$rt: the host device of the forged source was never mounted by notifyd" \
		test "$(dev_mounts "$OTHER")" = 0
}

group_race8() {
	local rt=$1 id=$MV_IDP-$1-race8 out line
	bundle "$id" -- mvstep race8 newmount_hostile race8 ext4 "$DEV" /mnt/a
	mv_run "$rt" "$MV_TMP/$id" "$id" 90
	out=$(mv_step_out "$id" race8)
	line=$(case_line "$out" race8)
	# 72 allowed calls all succeed; the 24 forbidden ones get the errno mount(2)
	# gives for an option outside allowed-options (EINVAL or EPERM), all the same.
	if [[ $line =~ allowed:0=72,\ forbidden:(EINVAL|EPERM)=24,$ ]]; then
		t_ok "$rt: 8 threads x 12 fsconfig: 72 allowed ones 0, 24 stripe=8 refused ($line)"
	else
		t_fail "$rt: 8 threads x 12 fsconfig: 72 allowed ones 0, 24 stripe=8 refused alike" \
			"${line:-no race8 line}" "$out"
	fi
	line=$(case_line "$out" race8_create)
	if [ "$line" = "case=race8_create a=0 b=EBUSY" ] || [ "$line" = "case=race8_create a=EBUSY b=0" ]; then
		t_ok "$rt: two racing CMD_CREATE: one creates, the other EBUSY"
	else
		t_fail "$rt: two racing CMD_CREATE: one creates, the other EBUSY" "${line:-no line}" "$out"
	fi
	t_case "$rt: the raced context mounts" "$out" race8_move_mount 0
	line=$(case_line "$out" race8_mounted)
	if [[ $line == *" same=1 "* ]] && [[ $line != *stripe* ]]; then
		t_ok "$rt: the raced context's mount has no forbidden option ($line)"
	else
		t_fail "$rt: the raced context's mount has no forbidden option" "${line:-no line}" "$out"
	fi
}

group_pass() {
	local rt=$1 a=$MV_IDP-$1-passa b=$MV_IDP-$1-passb shared=$MV_TMP/shared-$1 oa ob line
	mkdir -p "$shared"
	chmod 0777 "$shared"
	rm -f "${shared:?}"/*
	bundle "$b" -- mvstep recv newmount_hostile pass-recv /shared/sock
	bundle "$a" -- mvstep send newmount_hostile pass-send /shared/sock ext4 "$DEV" /mnt/a /shared/done
	for id in "$a" "$b"; do
		jq --arg s "$shared" '.mounts += [{destination: "/shared", type: "bind", source: $s,
			options: ["rbind"]}]' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.tmp" &&
			mv "$MV_TMP/$id/c.tmp" "$MV_TMP/$id/config.json"
	done
	mv_start "$rt" "$MV_TMP/$b" "$b" 60
	mv_start "$rt" "$MV_TMP/$a" "$a" 60
	mv_wait "$b"
	touch "$shared/done"
	mv_wait "$a"
	ob=$(mv_step_out "$b" recv)
	oa=$(mv_step_out "$a" send)
	t_case "$rt: B received A's context" "$ob" recv_fd 0
	line=$(case_line "$ob" recv_move_mount)
	# A mount fd A passes on is A's mount given away, as on the host: whoever
	# holds a detached mount may attach it (the kernel also lets a user
	# namespace's root attach a host-made detached mount, even by a path, so
	# notifyd could not stop it).  It stays what notifyd made: nosuid,nodev
	# locked (group locked), counted against A's max-mounts
	# (docs/new-mount-api.md "Handles and limits").
	if [[ $line == *" rc=0 "* ]] && grep -q '^case=recv_mnt_b same_dev_as_root=0' <<<"$ob"; then
		t_ok "$rt: B's move_mount of the mount A passed it: the kernel's, attached ($line)"
	else
		t_fail "$rt: B's move_mount of the mount A passed it: the kernel's, attached" "$ob"
	fi
	t_decision "$rt: B's move_mount of a mount that is not B's handle is continued" "$b" \
		'syscall=move_mount' 'action=continue'
	t_case "$rt: A's own move_mount of it afterwards: EINVAL (attached already, the kernel's)" \
		"$oa" sender_mount2 EINVAL
	t_case "$rt: B's CMD_CREATE on A's context: EPERM (a powerless context)" "$ob" recv_create EPERM
	t_case "$rt: B's fsmount on it: EINVAL (nothing created)" "$ob" recv_fsmount EINVAL
	t_case "$rt: A creates and mounts its context afterwards" "$oa" sender_mount 0
	line=$(case_line "$oa" sender_mounted)
	if [[ $line == *" same=1 "* ]] && [[ $line != *commit=7* ]]; then
		t_ok "$rt: A's mount is its own device without B's commit=7 ($line)"
	else
		t_fail "$rt: A's mount is its own device without B's commit=7" "${line:-no line}" "$oa" "$ob"
	fi
	if mv_decisions "$b" | grep -E 'action=kernel' | grep -q 'result=ok'; then
		t_fail "$rt: notifyd made nothing for B" "$(mv_decisions "$b")"
	else
		t_ok "$rt: notifyd made nothing for B"
	fi
}

group_cap() {
	local rt=$1 id=$MV_IDP-$1-cap out
	bundle "$id" --profile cap -- sh -c 'mvstep ext4 newmount_hostile cap ext4;
		mvstep tmpfs newmount_hostile cap tmpfs'
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	out=$(mv_step_out "$id" ext4)
	t_check "$rt: max-fs-contexts = 4: the 5th fsopen of ext4 fails EMFILE" \
		grep -q '^case=cap opened=4 errno=EMFILE' <<<"$out"
	t_case "$rt: after closing one, fsopen works again" "$out" cap_after_close 0
	out=$(mv_step_out "$id" tmpfs)
	t_check "$rt: the container's own tmpfs contexts do not count (256 open)" \
		grep -q '^case=cap opened=256 errno=0' <<<"$out"
}

group_kill() {
	local rt=$1 base after i id children loops_before loops_after
	base=$(fd_settle)
	# Loop devices on this test's files: the three it attached, no more (the
	# host's other loop devices come and go with other tests).
	loops_before=$(losetup -a | grep -c "$MV_TMP/")
	for i in 1 2 3 4 5 6; do
		id=$MV_IDP-$rt-kill$i
		bundle "$id" -- newmount_hostile loop ext4 "$DEV" /tmp/l
		mv_start "$rt" "$MV_TMP/$id" "$id" 60
		sleep "0.$((i + 2))"
		mv_kill "$id" KILL >/dev/null 2>&1
		mv_wait "$id"
	done
	t_diag "$rt: calls answered ENOENT (caller gone mid-call) in the killed containers: $(mv_decisions |
		grep -E "id=\"?$MV_IDP-$rt-kill" | grep -c 'result=ENOENT')"
	after=$(fd_back "$base")
	if [ "$after" -le $((base + 2)) ]; then
		t_ok "$rt: 6 containers killed mid-sequence: notifyd's fds back to $after (start $base)"
	else
		t_fail "$rt: 6 containers killed mid-sequence: notifyd's fds back to the start" \
			"start $base, now $after" "$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
	fi
	t_check "$rt: notifyd holds no mount of the device" test "$(dev_mounts "$DEV")" = 0
	children=$(mv_notifyd_children)
	t_check "$rt: no child of notifyd left ($children)" test -z "$children"
	t_check "$rt: no transient cgroup left" test -z "$(mv_notifyd_transient_cgroups)"
	loops_after=$(losetup -a | grep -c "$MV_TMP/")
	t_check "$rt: no loop device left ($loops_before before, $loops_after after)" \
		test "$loops_after" = "$loops_before"
	t_check "$rt: notifyd alive" mv_notifyd_alive
}

# fds: NEWMOUNT_COUNT in the first runtime, a tenth of it in the others (the
# same code in notifyd; the whole run stays inside run.sh's 600 s).
FDS_FIRST=1
group_fds() {
	local rt=$1 id=$MV_IDP-$1-fds base after out COUNT=$COUNT
	[ -z "$FDS_FIRST" ] && COUNT=$((COUNT / 10))
	FDS_FIRST=
	bundle "$id-warm" -- newmount_hostile seq 20 ext4 "$DEV" /mnt/a
	mv_run "$rt" "$MV_TMP/$id-warm" "$id-warm" 60
	base=$(fd_settle)
	bundle "$id" -- sh -c "mvstep seq newmount_hostile seq $COUNT ext4 $DEV /mnt/a;
		mvstep abandon newmount_hostile abandon $COUNT ext4 $DEV"
	local t0=$SECONDS
	mv_run "$rt" "$MV_TMP/$id" "$id" 1500
	out=$(mv_step_out "$id" seq)
	t_check "$rt: $COUNT complete sequences all succeed ($((SECONDS - t0)) s for both runs)" \
		grep -q "^seq n=$COUNT ok=$COUNT failed=0" <<<"$out" || t_diag "$out"
	out=$(mv_step_out "$id" abandon)
	t_check "$rt: $COUNT abandoned sequences (fsopen; ..CMD_CREATE; ..fsmount, then close) all answered" \
		grep -q "^abandon n=$COUNT failed=0" <<<"$out" || t_diag "$out"
	after=$(fd_back "$base")
	if [ "$after" -le $((base + 2)) ]; then
		t_ok "$rt: notifyd's fd count back to $after after them (start $base)"
	else
		t_fail "$rt: notifyd's fd count back to its start" "start $base, now $after" \
			"$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
	fi
	t_check "$rt: notifyd holds no mount of the device" test "$(dev_mounts "$DEV")" = 0
}

for rt in $RUNTIMES; do
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: new mount API hostile tests" "$rt is not installed"
		continue
	fi
	for g in $GROUPS_RUN; do
		"group_$g" "$rt"
		if ! mv_notifyd_alive; then
			t_fail "$rt: notifyd still running after $g" "$(tail -n 40 "$MV_LOG")"
			mv_bail "notifyd died"
		fi
	done
done

if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC" "$(tail -n 20 "$MV_LOG")"
fi
