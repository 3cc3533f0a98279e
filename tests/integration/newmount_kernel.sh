#!/bin/bash
# The new mount API (docs/new-mount-api.md) in real crun and runc containers,
# smoke test of the kernel action: a static program with no mount(2)
# fallback (tests/helpers/newapi_smoke) does fsopen("ext4"), fsconfig
# source + an option, CMD_CREATE, fsmount, move_mount of a loop device the
# runtime gave the container -- mounted idmapped, nosuid,nodev, with the
# decision lines of mount(2)'s path -- and umount2 removes it; tmpfs
# (continue) is mounted by the container itself; xfs (deny) gets the rule's
# errno at fsopen; an option outside allowed-options gets EINVAL; a value
# the filesystem refuses and a failed CMD_CREATE give the kernel's errno with
# the kernel's message readable from the context fd; notifyd holds no more
# fds once the containers are gone.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SMOKE=$MV_BUILD/tests/helpers/newapi_smoke
[ -x "$SMOKE" ] || mv_bail "$SMOKE not built (make all)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<'EOF2'
[profile]
default-action = deny

[fs ext4]
action = kernel
idmap = yes
allowed-options = ro,noatime,errors,commit

[fs tmpfs]
action = continue

[fs xfs]
action = deny
errno = EACCES
EOF2

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$SMOKE" "$ROOTFS/bin/newapi_smoke"
chown 100000:100000 "$ROOTFS/bin/newapi_smoke"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

cat >"$ROOTFS/newmount.sh" <<'EOF2'
dev=$1
mvstep ext4 newapi_smoke ext4 "$dev" /mnt/a errors=continue
mvstep mountinfo grep ' /mnt/a ' /proc/self/mountinfo
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep read cat /mnt/a/hello.txt
mvstep romsg newapi_smoke ext4 "$dev" /mnt/b ro
mvstep umount umount /mnt/a
mvstep gone sh -c 'grep " /mnt/a " /proc/self/mountinfo && exit 1; exit 0'
mvstep tmpfs newapi_smoke tmpfs - /mnt/b size=1m
mvstep tmpfs_umount umount /mnt/b
mvstep xfs newapi_smoke xfs - /mnt/c
mvstep badopt newapi_smoke ext4 "$dev" /mnt/a user_xattr
mvstep badval newapi_smoke ext4 "$dev" /mnt/a errors=bogus
mvstep ro newapi_smoke ext4 "$dev" /mnt/a ro
mvstep mountinfo_ro grep ' /mnt/a ' /proc/self/mountinfo
mvstep umount_ro umount /mnt/a
EOF2

cat >"$ROOTFS/churn.sh" <<'EOF2'
dev=$1 tok=$2 i=0 ok=0
while [ "$i" -lt 30 ]; do
	newapi_smoke ext4 "$dev" /mnt/a >/dev/null && umount /mnt/a && ok=$((ok + 1))
	newapi_smoke ext4 "$dev" /mnt/a user_xattr >/dev/null
	i=$((i + 1))
done
mvstep churn echo "mounted $ok of 30"
mvsync "$tok"
EOF2

# step_has ID STEP TEXT DESC : the step's output contains TEXT.
step_has() {
	if grep -qF -- "$3" <<<"$(mv_step_out "$1" "$2")"; then
		t_ok "$4"
	else
		t_fail "$4" "step $2 of $1 lacks '$3':" "$(mv_step_out "$1" "$2")"
		mv_explain "$1"
	fi
}

run_one() {
	local rt=$1 id=$MV_IDP-$1-newmount fds_before fds_after opts rc i
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: new mount API smoke test" "$rt is not installed"
		return
	fi
	fds_before=$(mv_notifyd_fds)
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /newmount.sh "$DEV"
	mv_run "$rt" "$MV_TMP/$id" "$id" 90
	rc=$?
	[ "$rc" -eq 0 ] || t_fail "$rt: container exits 0" "exit $rc" "$(cat "$(mv_out "$id")")"

	t_step_ok "$rt: ext4 through fsopen/fsconfig/fsmount/move_mount (kernel action)" "$id" ext4
	step_has "$id" ext4 "fsopen ok" "$rt: fsopen(ext4) returns a context fd"
	step_has "$id" read "hello from ext4" "$rt: the file system's content is readable"
	if [ "$(mv_step_out "$id" uid)" = 0 ]; then
		t_ok "$rt: idmapped: disk uid 0 is the container's root"
	else
		t_fail "$rt: idmapped: disk uid 0 is the container's root" "stat: $(mv_step_out "$id" uid)"
	fi
	opts=$(awk '{print $6}' <<<"$(mv_step_out "$id" mountinfo)" | tail -n1)
	if [[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* && ,$opts, == *,noatime,* &&
		,$opts, == *,idmapped,* ]]; then
		t_ok "$rt: mount is nosuid,nodev (forced), noatime (fsmount's attr), idmapped ($opts)"
	else
		t_fail "$rt: mount is nosuid,nodev,noatime,idmapped" "$(mv_step_out "$id" mountinfo)"
	fi
	if [ "$(sed 's/.* - ext4 \([^ ]*\) .*/\1/' <<<"$(mv_step_out "$id" mountinfo)")" = "$DEV" ]; then
		t_ok "$rt: mountinfo shows the source as the caller gave it"
	else
		t_fail "$rt: mountinfo shows the source as the caller gave it" \
			"$(mv_step_out "$id" mountinfo)"
	fi
	t_step_ok "$rt: umount2 of the new-API mount works" "$id" umount
	t_step_ok "$rt: and it is gone" "$id" gone
	t_step_ok "$rt: tmpfs (continue) mounted by the container itself" "$id" tmpfs
	t_step_ok "$rt: its umount works" "$id" tmpfs_umount
	step_has "$id" xfs "fsopen err=EACCES" "$rt: xfs (deny, errno = EACCES) refused at fsopen"
	step_has "$id" badopt "user_xattr err=EINVAL" \
		"$rt: an option outside allowed-options gets EINVAL"
	step_has "$id" badval "errors err=EINVAL" \
		"$rt: a value the filesystem refuses gets the kernel's EINVAL"
	step_has "$id" badval "msg: e ext4: Bad value for 'errors'" \
		"$rt: and the filesystem's message is read from the context fd"
	step_has "$id" romsg "create err=EBUSY" \
		"$rt: ro superblock of a device mounted rw: CMD_CREATE gets the kernel's EBUSY"
	step_has "$id" romsg "Can't mount, would change RO state" \
		"$rt: and its message is read from the caller's context fd (the failed context)"
	t_decision "$rt: the failed CMD_CREATE leaves its messages to the caller" "$id" \
		"syscall=fsconfig " "result=EBUSY" "left in the caller's context"
	t_step_ok "$rt: SET_FLAG ro mounts read-only" "$id" ro
	opts=$(awk '{print $6}' <<<"$(mv_step_out "$id" mountinfo_ro)" | tail -n1)
	if [[ $(mv_step_out "$id" mountinfo_ro) =~ \ -\ ext4\ [^\ ]+\ ro(,|$) ]]; then
		t_ok "$rt: the superblock is read-only"
	else
		t_fail "$rt: the superblock is read-only" "$(mv_step_out "$id" mountinfo_ro)"
	fi
	t_step_ok "$rt: its umount works" "$id" umount_ro

	t_decision "$rt: decision line of fsopen(ext4): action=kernel result=FD" "$id" \
		"syscall=fsopen " "type=ext4 " "action=kernel " "result=[0-9]+ "
	t_decision "$rt: decision line of CMD_CREATE: action=kernel result=ok" "$id" \
		"syscall=fsconfig " "type=ext4 " "source=$DEV " "action=kernel " "result=ok" \
		"superblock created"
	t_decision "$rt: decision line of move_mount: as mount(2)'s (mnt_id, locked, idmapped)" \
		"$id" "syscall=move_mount " "type=ext4 " "target=/mnt/a " "action=kernel " \
		"result=ok" "locked idmapped"
	t_decision "$rt: decision line of umount2 of that mount: result=ok" "$id" \
		"syscall=umount2 " "target=/mnt/a " "result=ok"
	t_decision "$rt: tmpfs fsopen continues" "$id" "syscall=fsopen " "type=tmpfs " \
		"action=continue"
	t_decision "$rt: xfs fsopen denied with EACCES" "$id" "syscall=fsopen " "type=xfs " \
		"action=deny " "EACCES"
	t_decision "$rt: user_xattr refused by the profile" "$id" "syscall=fsconfig " \
		"allowed-options"

	# 30 mounts and 30 abandoned contexts by short-lived processes: the
	# handles of processes that are gone do not pile up.
	local cid=$MV_IDP-$rt-churn line
	mv_oci_bundle --device "$DEV" "$MV_TMP/$cid" "$ROOTFS" sh /churn.sh "$DEV" "$cid"
	mv_start "$rt" "$MV_TMP/$cid" "$cid" 180
	if mv_sync_wait "$ROOTFS" "$cid" 150; then
		line=$(mv_ctl list 2>&1 | awk -v id="$cid" '$1 == id')
		if [[ $line =~ fs-contexts=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -le 2 ]; then
			t_ok "$rt: after 30 mounts and 30 abandoned contexts the container holds ${BASH_REMATCH[1]} handles"
		else
			t_fail "$rt: handles of exited processes are swept" "notifyctl list: $line"
		fi
		mv_sync_go "$ROOTFS" "$cid"
	else
		t_fail "$rt: churn container reached its end" "$(cat "$(mv_out "$cid")")"
	fi
	mv_wait "$cid"
	if [ "$(mv_step_out "$cid" churn)" = "mounted 30 of 30" ]; then
		t_ok "$rt: 30 of 30 new-API mounts and umounts in a row"
	else
		t_fail "$rt: 30 of 30 new-API mounts and umounts in a row" \
			"$(mv_step_out "$cid" churn)" "$(tail -n 5 "$(mv_out "$cid")")"
	fi

	# Nothing left: the container's contexts and mounts went with it.
	for ((i = 0; i < 50; i++)); do
		fds_after=$(mv_notifyd_fds)
		[ "$fds_after" -le "$fds_before" ] && break
		sleep 0.1
	done
	if [ "$fds_after" -le "$fds_before" ]; then
		t_ok "$rt: notifyd's fd count is back to $fds_before after the container"
	else
		t_fail "$rt: notifyd's fd count is back after the container" \
			"before $fds_before, after $fds_after" "$(ls -l "/proc/$NOTIFYD_PID/fd")"
	fi
}

# Warm-up: what notifyd makes once and keeps (the staging mount namespace of
# mount_lock.c) is not a leak of the containers measured below.
warm_up() {
	local rt id
	for rt in ${RUNTIMES:-crun runc}; do
		command -v "$rt" >/dev/null || continue
		id=$MV_IDP-$rt-warmup
		mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" \
			sh -c 'newapi_smoke ext4 "$1" /mnt/a && umount /mnt/a' sh "$DEV"
		mv_run "$rt" "$MV_TMP/$id" "$id" 60 || t_diag "warm-up container $id failed"
		return
	done
}

warm_up
for rt in ${RUNTIMES:-crun runc}; do
	run_one "$rt"
done
if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC" "$(tail -n 20 "$MV_LOG")"
fi
t_done
