# shellcheck shell=bash
# Shared body of oci_crun.sh and oci_runc.sh: notifyd as the OCI seccomp
# agent (listenerPath) of real containers, run by one runtime.
#
#   oci_main RUNTIME [TEST...]
#
# Every test writes its own profiles, uses its own images and loop devices
# and checks both what the container saw and what notifyd logged.  Set
# OCI_TESTS="ext4 denied ..." to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

OCI_ALL_TESTS="ext4 denied profile bind kill concurrent pairs race fdleak"

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

oci_setup() {
	RT=$1
	ROOTFS=$MV_TMP/rootfs
	PROFILES=$MV_TMP/profiles
	mkdir -p "$PROFILES"

	# default: what most tests use.
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

[fs xfs]
action = deny
EOF
	# strict: picked by listenerMetadata "profile=strict".
	cat >"$PROFILES/strict.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = deny
errno = ENODEV
EOF
	# race: ext4 with one allowed option, xfs denied.
	cat >"$PROFILES/race.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 8

[fs ext4]
action = kernel
idmap = yes
allowed-options = errors

[fs xfs]
action = deny
EOF

	mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
	mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
	mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
	# A second device that exists on the host but is not given to containers.
	mv_make_ext4 "$MV_TMP/other.img" 8M || mv_bail "cannot build the second image"
	mv_loop_attach "$MV_TMP/other.img" OTHER_DEV || mv_bail "cannot attach a loop device"

	mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"
}

# oci_bundle ID [mv_oci_bundle options] -- CMD... : bundle in $MV_TMP/ID.
oci_bundle() {
	local id=$1
	shift
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	mv_oci_bundle "${opts[@]}" "$MV_TMP/$id" "$ROOTFS" "$@"
}

# Decision lines of container ID for one syscall, in order.
decisions_for() { # decisions_for ID SYSCALL
	mv_decisions "$1" | grep -E "(^| )syscall=$2( |$)"
}

# mountinfo_field LINE N : field N (1-based) of a mountinfo line.
mountinfo_opts() { awk '{print $6}' <<<"$1" | tail -n1; }

# ---------------------------------------------------------------------------
# ext4 through the kernel action: idmap, nosuid/nodev, notifyctl, umount
# ---------------------------------------------------------------------------

test_ext4() {
	local id=$MV_IDP-$RT-ext4 uid rc info opts
	uid=$(mv_disk_uid "$MV_TMP/disk.img" /owned-by-root)
	if [ "$uid" = 0 ]; then
		t_ok "$RT: /owned-by-root is uid 0 on the ext4 image"
	else
		t_fail "$RT: /owned-by-root is uid 0 on the ext4 image" "debugfs says uid '$uid'"
	fi
	cat >"$ROOTFS/ext4.sh" <<'EOF'
dev=$1 tok=$2
mvstep mount mount -t ext4 "$dev" /mnt/a
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep uid1000 stat -c %u /mnt/a/owned-by-1000
mvstep read cat /mnt/a/hello.txt
mvstep write sh -c 'grep -q " /mnt/a " /proc/self/mountinfo && echo new > /mnt/a/new-file && stat -c %u:%g /mnt/a/new-file'
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvsync "$tok.mounted"
mvstep umount umount /mnt/a
mvstep gone sh -c 'grep " /mnt/a " /proc/self/mountinfo && exit 1; exit 0'
mvsync "$tok.unmounted"
mvstep nosuid mount -t ext4 -o nosuid,noatime,errors=continue "$dev" /mnt/a
mvstep mountinfo2 grep ' /mnt/a ' /proc/self/mountinfo
mvstep umount2 umount /mnt/a
EOF
	oci_bundle "$id" --device "$DEV" -- sh /ext4.sh "$DEV" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90

	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		info=$(mv_ctl mounts 2>&1)
		if awk -v id="$id" '$1 == id && $NF == "/mnt/a" && / ext4 /' <<<"$info" | grep -q .; then
			t_ok "$RT: notifyctl mounts lists the ext4 mount"
		else
			t_fail "$RT: notifyctl mounts lists the ext4 mount" "$info"
		fi
		info=$(mv_ctl list 2>&1)
		if awk -v id="$id" '$1 == id && $3 == "default"' <<<"$info" | grep -q .; then
			t_ok "$RT: notifyctl list shows the container with profile default"
		else
			t_fail "$RT: notifyctl list shows the container with profile default" "$info"
		fi
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: container reached the mounted state" "$(cat "$(mv_out "$id")")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.unmounted" 60; then
		info=$(mv_ctl mounts 2>&1)
		if [ "$(mv_step_rc "$id" mount)" != 0 ] || [ "$(mv_step_rc "$id" umount)" != 0 ]; then
			t_fail "$RT: after umount notifyctl mounts no longer lists it" \
				"not checked: mount or umount failed"
		elif awk -v id="$id" '$1 == id' <<<"$info" | grep -q .; then
			t_fail "$RT: after umount notifyctl mounts no longer lists it" "$info"
		else
			t_ok "$RT: after umount notifyctl mounts no longer lists it"
		fi
		mv_sync_go "$ROOTFS" "$id.unmounted"
	else
		t_fail "$RT: container reached the unmounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "$RT: ext4 container exits 0" "exit $rc"

	t_step_ok "$RT: ext4 on a loop device mounts (kernel action)" "$id" mount
	if [ "$(mv_step_out "$id" uid)" = 0 ]; then
		t_ok "$RT: idmapped: file of disk uid 0 is owned by the container's root"
	else
		t_fail "$RT: idmapped: file of disk uid 0 is owned by the container's root" \
			"stat says '$(mv_step_out "$id" uid)'"
		mv_explain "$id"
	fi
	if [ "$(mv_step_out "$id" uid1000)" = 1000 ]; then
		t_ok "$RT: idmapped: file of disk uid 1000 is uid 1000 in the container"
	else
		t_fail "$RT: idmapped: file of disk uid 1000 is uid 1000 in the container" \
			"stat says '$(mv_step_out "$id" uid1000)'"
	fi
	if [ "$(mv_step_out "$id" read)" = "hello from ext4" ]; then
		t_ok "$RT: file content readable"
	else
		t_fail "$RT: file content readable" "$(mv_step_out "$id" read)"
	fi
	if [ "$(mv_step_out "$id" write)" = 0:0 ]; then
		t_ok "$RT: container root creates a file owned by it"
	else
		t_fail "$RT: container root creates a file owned by it" "$(mv_step_out "$id" write)"
	fi
	uid=$(mv_disk_uid "$MV_TMP/disk.img" /new-file)
	if [ "$uid" = 0 ]; then
		t_ok "$RT: that file is uid 0 on disk (idmapped write)"
	else
		t_fail "$RT: that file is uid 0 on disk (idmapped write)" "debugfs says uid '$uid'"
	fi
	opts=$(mountinfo_opts "$(mv_step_out "$id" mountinfo)")
	if [[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* ]]; then
		t_ok "$RT: nosuid,nodev forced on a plain mount ($opts)"
	else
		t_fail "$RT: nosuid,nodev forced on a plain mount" "mountinfo: $(mv_step_out "$id" mountinfo)"
	fi
	if [ "$(sed 's/.* - ext4 \([^ ]*\) .*/\1/' <<<"$(mv_step_out "$id" mountinfo)")" = "$DEV" ]; then
		t_ok "$RT: mountinfo shows the source as the caller gave it ($DEV)"
	else
		t_fail "$RT: mountinfo shows the source as the caller gave it ($DEV)" \
			"mountinfo: $(mv_step_out "$id" mountinfo)"
	fi
	if [[ ,$opts, == *,idmapped,* ]]; then
		t_ok "$RT: mountinfo marks the mount idmapped"
	else
		t_fail "$RT: mountinfo marks the mount idmapped" "mountinfo: $(mv_step_out "$id" mountinfo)"
	fi
	t_step_ok "$RT: umount of the notifyd mount works" "$id" umount
	if [ "$(mv_step_rc "$id" mount)" = 0 ]; then
		t_step_ok "$RT: the mount is gone from mountinfo after umount" "$id" gone
	else
		t_fail "$RT: the mount is gone from mountinfo after umount" "not checked: mount failed"
	fi
	t_step_ok "$RT: mount -o nosuid,noatime,errors=continue works" "$id" nosuid
	opts=$(mountinfo_opts "$(mv_step_out "$id" mountinfo2)")
	if [[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* && ,$opts, == *,noatime,* ]]; then
		t_ok "$RT: mount -o nosuid: mountinfo shows nosuid,nodev,noatime ($opts)"
	else
		t_fail "$RT: mount -o nosuid: mountinfo shows nosuid,nodev,noatime" \
			"mountinfo: $(mv_step_out "$id" mountinfo2)"
	fi
	t_step_ok "$RT: second umount works" "$id" umount2
	t_decision "$RT: decision line for the ext4 mount (action=kernel result=ok)" "$id" \
		"syscall=mount " "type=ext4 " "source=$DEV " "target=/mnt/a " "action=kernel " "result=ok"
	t_decision "$RT: decision line for the umount (result=ok)" "$id" \
		"syscall=umount2 " "target=/mnt/a " "result=ok"
}

# ---------------------------------------------------------------------------
# Refusals: denied type, option not allowed, sources outside the container,
# the new mount API
# ---------------------------------------------------------------------------

test_denied() {
	local id=$MV_IDP-$RT-denied line
	cat >"$ROOTFS/denied.sh" <<'EOF'
dev=$1 other=$2 hostpath=$3
mvstep xfs mount -t xfs "$dev" /mnt/a
mvstep btrfs mount -t btrfs "$dev" /mnt/a
mvstep badopt mount -t ext4 -o data=journal "$dev" /mnt/a
mvstep hostpath mount -t ext4 "$hostpath" /mnt/a
mvstep otherdev mount -t ext4 "$other" /mnt/a
mvstep clean sh -c '! grep -E " /mnt/a " /proc/self/mountinfo'
mvstep goodopt mount -t ext4 -o errors=continue,commit=7 "$dev" /mnt/a
mvstep goodinfo grep ' /mnt/a ' /proc/self/mountinfo
mvstep umount umount /mnt/a
mvstep newapi mount_race newapi
mvstep newapi_info grep ' /mnt/b ' /proc/self/mountinfo
EOF
	oci_bundle "$id" --device "$DEV" -- sh /denied.sh "$DEV" "$OTHER_DEV" "$MV_TMP/disk.img"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60 || t_fail "$RT: refusals container exits 0" \
		"exit $?" "$(cat "$(mv_out "$id")")"

	t_step_errno "$RT: denied fs type (xfs) gives EPERM" "$id" xfs EPERM
	t_decision "$RT: decision line for the denied type (action=deny result=EPERM)" "$id" \
		"syscall=mount " "type=xfs " "action=deny " "result=EPERM"
	t_step_errno "$RT: type without a section falls to default-action deny (EPERM)" "$id" btrfs EPERM
	t_step_errno "$RT: option not in allowed-options gives EINVAL" "$id" badopt EINVAL
	t_decision "$RT: decision line for the option (result=EINVAL)" "$id" \
		"syscall=mount " "type=ext4 " "data=\"?data=journal" "result=EINVAL"
	t_step_errno "$RT: a host path as source is refused" "$id" hostpath "ENOENT|ENOTBLK|EPERM|EACCES"
	t_step_errno "$RT: a host device not given to the container is refused" "$id" otherdev \
		"ENOENT|ENOTBLK|EPERM|EACCES"
	line=$(decisions_for "$id" mount | grep -F "source=$OTHER_DEV " | tail -n1)
	if [ -n "$line" ] && [ "$(mv_kv result "$line")" != ok ]; then
		t_ok "$RT: decision line refuses $OTHER_DEV ($(mv_kv result "$line"))"
	else
		t_fail "$RT: decision line refuses $OTHER_DEV" "line: $line"
	fi
	t_step_ok "$RT: nothing got mounted by the refused requests" "$id" clean
	t_step_ok "$RT: allowed options (errors=continue,commit=7) mount" "$id" goodopt
	if grep -q 'commit=7' <<<"$(mv_step_out "$id" goodinfo)"; then
		t_ok "$RT: the allowed option reached the file system"
	else
		t_fail "$RT: the allowed option reached the file system" "$(mv_step_out "$id" goodinfo)"
	fi
	t_step_ok "$RT: and unmount" "$id" umount
	# The new mount API (docs/seccomp-rules.md): tmpfs is a continue type,
	# so its fsopen is continued and the kernel decides the rest; the
	# fsconfig, fsmount and move_mount on that fd are trapped but not
	# notifyd's handles, so continued too.
	t_newapi "$RT: new mount API, continue type: fsopen, fsconfig, fsmount, move_mount of a tmpfs work" \
		"$id" newapi fsopen_tmpfs=0 fsconfig_size=0 fsconfig_create=0 fsmount=0 move_mount=0
	if grep -q ' - tmpfs ' <<<"$(mv_step_out "$id" newapi_info)"; then
		t_ok "$RT: the tmpfs made with the new mount API is on /mnt/b"
	else
		t_fail "$RT: the tmpfs made with the new mount API is on /mnt/b" "$(mv_step_out "$id" newapi_info)"
	fi
	t_decision "$RT: decision line for fsopen of the continue type (action=continue)" "$id" \
		"syscall=fsopen " "type=tmpfs " "action=continue "
	t_newapi "$RT: fsopen(NULL) gets the kernel's EFAULT, an unknown type ENODEV" \
		"$id" newapi fsopen_null=EFAULT fsopen_unknown=ENODEV
	t_newapi "$RT: fsopen of a deny-action type (xfs) gets EPERM" "$id" newapi fsopen_xfs=EPERM
	t_decision "$RT: decision line for fsopen of the denied type (action=deny result=EPERM)" "$id" \
		"syscall=fsopen " "type=xfs " "action=deny " "result=EPERM"
	t_newapi "$RT: fspick, open_tree, mount_setattr and a move_mount by path reach the kernel" \
		"$id" newapi fspick=0 open_tree=0 mount_setattr=0 move_mount_path=ENOENT
	line=$(mv_decisions "$id" | grep -E 'syscall=(fspick|open_tree) ')
	t_check "$RT: no decision line for fspick, open_tree (not trapped)" [ -z "$line" ]
	t_decision "$RT: mount_setattr(AT_EMPTY_PATH) of the container's own mount is continued" "$id" \
		"syscall=mount_setattr " "action=continue "
}

# listenerMetadata "profile=strict" picks strict.conf (ext4 denied with ENODEV).
test_profile() {
	local id=$MV_IDP-$RT-strict
	cat >"$ROOTFS/strict.sh" <<'EOF'
mvstep ext4 mount -t ext4 "$1" /mnt/a
mvstep fsopen mount_race fsopen ext4
EOF
	oci_bundle "$id" --profile strict --device "$DEV" -- sh /strict.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id" "$id" 30
	t_step_errno "$RT: listenerMetadata profile=strict selects strict.conf (ENODEV)" "$id" ext4 ENODEV
	t_decision "$RT: decision line for profile strict (result=ENODEV)" "$id" \
		"syscall=mount " "action=deny " "result=ENODEV"
	t_newapi "$RT: fsopen of the denied type gets the rule's errno (ENODEV)" "$id" fsopen fsopen=ENODEV
	t_decision "$RT: decision line for that fsopen (action=deny result=ENODEV)" "$id" \
		"syscall=fsopen " "type=ext4 " "action=deny " "result=ENODEV"
}

# ---------------------------------------------------------------------------
# Bind mounts are not trapped; tmpfs with the continue action
# ---------------------------------------------------------------------------

test_bind() {
	local id=$MV_IDP-$RT-bind n lines
	cat >"$ROOTFS/bind.sh" <<'EOF'
mvstep tmpfs mount -t tmpfs -o size=1m,mode=0755 mvtmp /mnt/b
mvstep tmpfs_use sh -c 'grep " /mnt/b " /proc/self/mountinfo && echo hi > /mnt/b/f && cat /mnt/b/f'
mvstep bind mount --bind /mnt/b /mnt/c
mvstep bind_use sh -c 'grep " /mnt/c " /proc/self/mountinfo && cat /mnt/c/f'
mvstep rbind mount --rbind /tmp /mnt/a
mvstep remount mount -o remount,bind,ro /mnt/c
mvstep private mount --make-rprivate /mnt/c
EOF
	oci_bundle "$id" -- sh /bind.sh
	mv_run "$RT" "$MV_TMP/$id" "$id" 30
	t_step_ok "$RT: tmpfs with the continue action mounts" "$id" tmpfs
	t_step_ok "$RT: the tmpfs is usable" "$id" tmpfs_use
	t_decision "$RT: decision line for tmpfs (action=continue)" "$id" \
		"syscall=mount " "type=tmpfs " "target=/mnt/b " "action=continue "
	t_step_ok "$RT: bind mount inside the container works" "$id" bind
	t_step_ok "$RT: the bind mount shows the tmpfs content" "$id" bind_use
	t_step_ok "$RT: rbind works" "$id" rbind
	t_step_ok "$RT: read-only bind remount works" "$id" remount
	t_step_ok "$RT: propagation change works" "$id" private
	mv_wait_log "decision .*id=$id .*type=tmpfs" 5
	sleep 0.5
	lines=$(decisions_for "$id" mount)
	n=$(grep -c . <<<"$lines")
	if [ "$n" -eq 1 ] && grep -q 'type=tmpfs' <<<"$lines"; then
		t_ok "$RT: bind, rbind, remount and propagation changes made no decision line"
	else
		t_fail "$RT: bind, rbind, remount and propagation changes made no decision line" \
			"$n mount decisions:" "$lines"
	fi
}

# ---------------------------------------------------------------------------
# A container killed in the middle of requests leaves notifyd healthy
# ---------------------------------------------------------------------------

test_kill() {
	local id=$MV_IDP-$RT-killed id2=$MV_IDP-$RT-after i n left
	oci_bundle "$id" --device "$DEV" -- mount_race storm "$DEV" 100000000
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	for ((i = 0; i < 300; i++)); do
		n=$(mv_decisions "$id" | grep -c .)
		[ "$n" -ge 200 ] && break
		sleep 0.1
	done
	if [ "$n" -lt 200 ]; then
		t_fail "$RT: storm container makes requests" "only $n decisions in 30 s"
		mv_explain "$id"
	fi
	mv_kill "$id" KILL
	mv_wait "$id"
	if mv_notifyd_alive; then
		t_ok "$RT: notifyd alive after a container was killed mid-request ($n requests seen)"
	else
		t_fail "$RT: notifyd alive after a container was killed mid-request" \
			"$(tail -n 30 "$MV_LOG")"
		return
	fi
	left=
	for ((i = 0; i < 100; i++)); do
		left=$(mv_ctl list 2>&1 | awk -v id="$id" '$1 == id')
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -z "$left" ]; then
		t_ok "$RT: notifyctl list drops the killed container"
	else
		t_fail "$RT: notifyctl list drops the killed container" "$(mv_ctl list 2>&1)"
	fi
	left=$(mv_ctl mounts 2>&1 | awk -v id="$id" '$1 == id')
	if [ -z "$left" ]; then
		t_ok "$RT: notifyctl mounts has nothing of the killed container"
	else
		t_fail "$RT: notifyctl mounts has nothing of the killed container" "$left"
	fi
	cat >"$ROOTFS/after.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/a
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep umount umount /mnt/a
EOF
	oci_bundle "$id2" --device "$DEV" -- sh /after.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id2" "$id2" 30
	t_step_ok "$RT: the next container mounts ext4" "$id2" mount
	if [ "$(mv_step_out "$id2" uid)" = 0 ]; then
		t_ok "$RT: ... idmapped as before"
	else
		t_fail "$RT: ... idmapped as before" "$(mv_step_out "$id2" uid)"
	fi
	t_step_ok "$RT: ... and unmounts it" "$id2" umount
}

# ---------------------------------------------------------------------------
# 20 containers mounting at the same time, each its own loop device
# ---------------------------------------------------------------------------

test_concurrent() {
	local n=${OCI_CONCURRENT:-20} i id devs=() bad=0 rc ok=0 msgs=
	cat >"$ROOTFS/concurrent.sh" <<'EOF'
dev=$1
mvstep mount mount -t ext4 "$dev" /mnt/a
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep tmpfs mount -t tmpfs -o size=1m t /mnt/b
mvstep umount umount /mnt/a
EOF
	for ((i = 0; i < n; i++)); do
		mv_make_ext4 "$MV_TMP/c$i.img" 8M || mv_bail "mkfs for concurrent container $i failed"
		mv_loop_attach "$MV_TMP/c$i.img" "devs[$i]" || mv_bail "losetup for container $i failed"
	done
	for ((i = 0; i < n; i++)); do
		id=$MV_IDP-$RT-c$i
		oci_bundle "$id" --device "${devs[i]}" -- sh /concurrent.sh "${devs[i]}"
	done
	for ((i = 0; i < n; i++)); do
		id=$MV_IDP-$RT-c$i
		mv_start "$RT" "$MV_TMP/$id" "$id" 120
	done
	for ((i = 0; i < n; i++)); do
		id=$MV_IDP-$RT-c$i
		mv_wait "$id"
		rc=$?
		if [ "$rc" -eq 0 ] && [ "$(mv_step_rc "$id" mount)" = 0 ] &&
			[ "$(mv_step_out "$id" uid)" = 0 ] && [ "$(mv_step_rc "$id" tmpfs)" = 0 ] &&
			[ "$(mv_step_rc "$id" umount)" = 0 ]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			msgs+="container $id (${devs[i]}): exit $rc"$'\n'"$(tail -n 20 "$(mv_out "$id")")"$'\n'
		fi
	done
	if [ "$bad" -eq 0 ]; then
		t_ok "$RT: $n containers mounting concurrently all succeed"
	else
		t_fail "$RT: $n containers mounting concurrently all succeed" "$ok ok, $bad failed" "$msgs"
		t_diag "$(tail -n 30 "$MV_LOG")"
	fi
	for ((i = 0; i < 50; i++)); do
		n=$(mv_decisions | grep -E "id=$MV_IDP-$RT-c[0-9]+ " | grep 'syscall=mount ' |
			grep 'type=ext4 ' | grep -c 'result=ok')
		[ "$n" -ge "$ok" ] && break
		sleep 0.1
	done
	if [ "$n" -eq "$ok" ]; then
		t_ok "$RT: one kernel decision per concurrent container ($n)"
	else
		t_fail "$RT: one kernel decision per concurrent container" "$n decisions for $ok containers"
	fi
}

# ---------------------------------------------------------------------------
# Rounds of two containers mounting and unmounting at once, with private loop
# devices: a container that exits with its loop device still mounted makes
# notifyd free the device a moment later (loop_state.c starts a retry
# thread from the worker that saw it go), while the other one is unmounting.
# Every mount and umount must succeed: no spurious errno.
# ---------------------------------------------------------------------------

test_pairs() {
	local rounds=${OCI_PAIR_ROUNDS:-20} r i id ids rc bad=0 steps=0 msgs= line
	if [ ! -x /usr/bin/mount ] || [ ! -x /usr/bin/umount ]; then
		t_skip "$RT: pairs of containers mounting at once" "util-linux mount not found"
		return
	fi
	mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
	chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
	for i in 0 1; do
		mv_make_ext4 "$ROOTFS/img/pair$i.img" 8M || mv_bail "cannot build pair image $i"
	done
	chown 100000:100000 "$ROOTFS"/img/pair*.img
	# pairs.sh IMG N : N rounds of mount -o loop + umount, then one mount
	# left in place at exit.
	cat >"$ROOTFS/pairs.sh" <<'EOF'
img=$1 n=$2 i=0
while [ "$i" -lt "$n" ]; do
	mvstep "mount$i" /usr/bin/mount -o loop "$img" /mnt/a
	mvstep "read$i" cat /mnt/a/hello.txt
	mvstep "umount$i" /usr/bin/umount /mnt/a
	i=$((i + 1))
done
mvstep last /usr/bin/mount -o loop "$img" /mnt/a
EOF
	for ((r = 0; r < rounds; r++)); do
		ids=()
		for i in 0 1; do
			id=$MV_IDP-$RT-p$r-$i
			ids+=("$id")
			# Uneven lengths, alternating: one exits while the other still works.
			oci_bundle "$id" --loop -- sh /pairs.sh "/img/pair$i.img" $(((r + i) % 2 ? 2 : 5))
			mv_bind_host_libs "$MV_TMP/$id"
		done
		for id in "${ids[@]}"; do
			mv_start "$RT" "$MV_TMP/$id" "$id" 120
		done
		for id in "${ids[@]}"; do
			mv_wait "$id"
			rc=$?
			while read -r line; do
				steps=$((steps + 1))
				[[ $line == *" rc=0" ]] && continue
				bad=$((bad + 1))
				msgs+="$id: $line: $(mv_step_out "$id" "$(awk '{print $2}' <<<"$line")")"$'\n'
			done < <(grep '^@@end ' "$(mv_out "$id")")
			if [ "$rc" -ne 0 ] || [ "$(mv_step_rc "$id" last)" = missing ]; then
				bad=$((bad + 1))
				msgs+="$id: exit $rc, steps unfinished: $(tail -n 5 "$(mv_out "$id")")"$'\n'
			fi
		done
	done
	if [ "$bad" -eq 0 ]; then
		t_ok "$RT: $rounds rounds of two containers mounting at once: $steps steps, no errno"
	else
		t_fail "$RT: $rounds rounds of two containers mounting at once: no errno" \
			"$bad of $steps steps failed:" "$msgs"
		t_diag "$(mv_decisions | grep -E "id=$MV_IDP-$RT-p" | grep -v 'result=ok' | head -n 10)"
	fi
	line=$(mv_decisions | grep -E "id=$MV_IDP-$RT-p" | grep -F "cannot enter" | head -n 3)
	if [ -z "$line" ]; then
		t_ok "$RT: no request refused for want of entering the caller's mount namespace"
	else
		t_fail "$RT: no request refused for want of entering the caller's mount namespace" "$line"
	fi
}

# ---------------------------------------------------------------------------
# Race: arguments rewritten while notifyd works on the request
# ---------------------------------------------------------------------------

test_race() {
	local id=$MV_IDP-$RT-race count=${OCI_RACE_COUNT:-400} out rc n
	if [ ! -x "$ROOTFS/bin/mount_race" ]; then
		t_fail "$RT: race test" "$MV_BUILD/tests/helpers/mount_race not built (make all)"
		return
	fi
	oci_bundle "$id" --profile race --device "$DEV" -- \
		mount_race race "$DEV" "$count" ext4 xfs errors=continue data=journal
	mv_run "$RT" "$MV_TMP/$id" "$id" 150
	rc=$?
	out=$(mv_out "$id")
	# At least $count attempts; more (up to 10x) until both outcomes were seen
	# and a call overlapped a rewrite, which a loaded machine may delay.
	n=$(sed -n 's/^race done attempts=\([0-9]*\)$/\1/p' "$out")
	if [ "$rc" -ne 0 ] || [ -z "$n" ] || [ "$n" -lt "$count" ]; then
		t_fail "$RT: mount_race ran $count attempts" "exit $rc, attempts ${n:-?}"
		mv_explain "$id"
		return
	fi
	race_compare "$id" "$n"
}

# race_compare ID COUNT : check mount_race's attempt lines of container ID
# against notifyd's decision lines (see tests/helpers/mount_race.c).
race_compare() {
	local id=$1 count=$2 out attempts decs i=0 n_ok=0 n_fail=0 n_flip
	local viol=() line d at rc errno fstype opts super dtarget dtype dresult ddata
	out=$(mv_out "$id")
	mapfile -t attempts < <(grep '^attempt=' "$out")
	# Decisions are logged just after the answer: give the last ones a moment.
	for ((i = 0; i < 50; i++)); do
		mapfile -t decs < <(decisions_for "$id" mount)
		[ "${#decs[@]}" -ge "$count" ] && break
		sleep 0.1
	done
	sleep 0.2
	mapfile -t decs < <(decisions_for "$id" mount)
	if [ "${#attempts[@]}" -ne "$count" ] || [ "${#decs[@]}" -ne "$count" ]; then
		t_fail "$RT: race: one decision line per mount attempt" \
			"${#attempts[@]} attempts, ${#decs[@]} mount decisions"
		mv_explain "$id"
		return
	fi
	t_ok "$RT: race: one decision line per mount attempt ($count)"
	# Pair attempts and decisions by source (/tmp/mr/N, unique per attempt).
	local -A by_src=()
	local dup=0 src
	for d in "${decs[@]}"; do
		src=$(mv_kv source "$d")
		[ -n "${by_src[$src]+x}" ] && dup=$((dup + 1))
		by_src[$src]=$d
	done
	[ "$dup" -eq 0 ] || viol+=("$dup sources have more than one decision line")
	for ((i = 0; i < count; i++)); do
		line=${attempts[i]}
		[[ $line =~ src=([^ ]+)\ rc=(-?[0-9]+)\ errno=([A-Z0-9]+)\ at=([^ ]+)\ fstype=([^ ]+)\ opts=([^ ]+)\ super=([^ ]*) ]] || {
			viol+=("unparsable: $line")
			continue
		}
		src=${BASH_REMATCH[1]} rc=${BASH_REMATCH[2]} errno=${BASH_REMATCH[3]} at=${BASH_REMATCH[4]}
		fstype=${BASH_REMATCH[5]} opts=${BASH_REMATCH[6]} super=${BASH_REMATCH[7]}
		d=${by_src[$src]:-}
		if [ -z "$d" ]; then
			viol+=("#$i: no decision line with source=$src: $line")
			continue
		fi
		dtarget=$(mv_kv target "$d") dtype=$(mv_kv type "$d") dresult=$(mv_kv result "$d")
		ddata=$(mv_kv data "$d")
		if [ "$rc" = 0 ]; then
			n_ok=$((n_ok + 1))
			if [ "$dresult" != ok ]; then
				viol+=("#$i succeeded but notifyd logged result=$dresult: $line | $d")
			elif [ "$at" != "$dtarget" ]; then
				viol+=("#$i mounted at $at, notifyd logged target=$dtarget: $line | $d")
			elif [ "$fstype" != "$dtype" ]; then
				viol+=("#$i mounted $fstype, notifyd logged type=$dtype: $line | $d")
			elif [[ ,$super, == *,data=journal,* ]]; then
				viol+=("#$i has the disallowed data=journal: $line | $d")
			elif [[ ,$ddata, == *data=journal* ]]; then
				viol+=("#$i succeeded though notifyd's copy had data=journal: $line | $d")
			elif [[ ,$opts, != *,nosuid,* || ,$opts, != *,nodev,* ]]; then
				viol+=("#$i lacks nosuid,nodev: $line")
			fi
		else
			n_fail=$((n_fail + 1))
			if [ "$at" != none ]; then
				viol+=("#$i failed ($errno) but something is mounted at $at: $line | $d")
			elif [ "$dresult" != "$errno" ]; then
				viol+=("#$i failed with $errno, notifyd logged result=$dresult: $line | $d")
			fi
		fi
	done
	if [ "${#viol[@]}" -eq 0 ]; then
		t_ok "$RT: race: every mount matches notifyd's logged decision ($n_ok mounted, $n_fail refused)"
	else
		t_fail "$RT: race: every mount matches notifyd's logged decision" \
			"${#viol[@]} mismatches ($n_ok mounted, $n_fail refused); first ones:" \
			"$(printf '%s\n' "${viol[@]:0:10}")"
	fi
	n_flip=$(grep -c ' flipped=1$' <<<"$(printf '%s\n' "${attempts[@]}")")
	if [ "$n_ok" -gt 0 ] && [ "$n_fail" -gt 0 ] && [ "$n_flip" -gt 0 ]; then
		t_ok "$RT: race: both outcomes happened, so the flipping reached notifyd ($count attempts, $n_flip overlapped a rewrite)"
	else
		t_fail "$RT: race: both outcomes happened, so the flipping reached notifyd" \
			"$n_ok mounted, $n_fail refused, $n_flip of $count calls overlapped a rewrite"
	fi
}

# ---------------------------------------------------------------------------
# No fd leaks over ~10,000 requests
# ---------------------------------------------------------------------------

test_fdleak() {
	local id=$MV_IDP-$RT-warm id2=$MV_IDP-$RT-storm count=${OCI_STORM_COUNT:-10000}
	local before after i out
	if [ ! -x "$ROOTFS/bin/mount_race" ]; then
		t_fail "$RT: fd leak test" "$MV_BUILD/tests/helpers/mount_race not built (make all)"
		return
	fi
	# Warm up once (lazily opened things), then take the baseline.
	oci_bundle "$id" --device "$DEV" -- mount_race storm "$DEV" 16
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	fd_settle() { # print the fd count once it stopped changing (5 s at most)
		local prev=-1 cur j
		for ((j = 0; j < 25; j++)); do
			cur=$(mv_notifyd_fds)
			[ "$cur" = "$prev" ] && break
			prev=$cur
			sleep 0.2
		done
		echo "$cur"
	}
	before=$(fd_settle)
	oci_bundle "$id2" --device "$DEV" -- mount_race storm "$DEV" "$count"
	mv_run "$RT" "$MV_TMP/$id2" "$id2" 170
	out=$(grep '^storm ' "$(mv_out "$id2")")
	if [[ $out =~ requests=([0-9]+)\ unexpected=0 ]] && [ "${BASH_REMATCH[1]}" -ge "$count" ]; then
		t_ok "$RT: $out, all answered as the profile says"
	else
		t_fail "$RT: storm of $count requests answered as the profile says" "${out:-no summary}"
		mv_explain "$id2"
	fi
	for ((i = 0; i < 50; i++)); do
		after=$(mv_notifyd_fds)
		[ "$after" = "$before" ] && break
		sleep 0.2
	done
	if [ "$after" = "$before" ]; then
		t_ok "$RT: notifyd has the same number of fds before and after ($before)"
	else
		t_fail "$RT: notifyd has the same number of fds before and after" \
			"before $before, after $after:" "$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
	fi
}

# ---------------------------------------------------------------------------

oci_main() {
	local rt=$1 t tests
	shift
	tests=${*:-${OCI_TESTS:-$OCI_ALL_TESTS}}
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: OCI tests" "$rt is not installed"
		exit 0
	fi
	oci_setup "$rt"
	for t in $tests; do
		"test_$t"
		if ! mv_notifyd_alive; then
			t_fail "$rt: notifyd still running after test $t" "$(tail -n 40 "$MV_LOG")"
			mv_bail "notifyd died"
		fi
	done
	if mv_stop_notifyd; then
		t_ok "$rt: notifyd exits 0 on SIGTERM"
	else
		t_fail "$rt: notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC" "$(tail -n 20 "$MV_LOG")"
	fi
}
