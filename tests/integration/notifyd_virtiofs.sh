#!/bin/bash
# The virtiofs action through real crun and runc containers in their own
# user namespace (0 -> host 100000): the container's
#   touch /run/fs0.sock; mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
# makes notifyd start vfsd on the host and bind its vhost-user socket over
# /run/fs0.sock.  Here the host plays the VMM and guest with
# vhost-user-fs-mount through the container's path to the socket (the QEMU
# guest inside the container is tests/integration/notifyd_virtiofs_vm.sh).
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

[ -x "$MV_BUILD/vhost-user-fs-mount" ] || mv_bail "vhost-user-fs-mount not built"
[ -x "$MV_BUILD/vfsd" ] || mv_bail "$MV_BUILD/vfsd not built"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
MNT=$MV_TMP/mnt
mkdir -p "$PROFILES" "$MNT"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache, ro, xattr, thread-pool-size
EOF
cat >"$PROFILES/squash.conf" <<EOF
[profile]
default-action = deny

[fs vhost-user-fs]
action = virtiofs
idmap = squash:1000:1000
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/srv/data" "$ROOTFS/run"
echo "hello from the container" >"$ROOTFS/srv/data/hello.txt"
chown -R 100000:100000 "$ROOTFS/srv" "$ROOTFS/run"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

defer mv_front_stop



# wait_no_vfsd ID [SECONDS] : until none of ID's vfsd processes is left.
wait_no_vfsd() {
	local i p left
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		left=
		for p in $(mv_share_pids "$1"); do
			kill -0 "$p" 2>/dev/null && left+="$p "
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "still running: $left"
	return 1
}

test_share() {
	local id=vfs-$RT-share pid vpid sock list
	cat >"$ROOTFS/share.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep mount mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
mvstep sock sh -c 'test -S /run/fs0.sock && stat -c %u:%a /run/fs0.sock'
mvstep mountinfo grep ' /run/fs0.sock ' /proc/self/mountinfo
mvsync "$tok.mounted"
mvstep owners stat -c %u:%g /srv/data/by-root /srv/data/by-1000
mvstep remount mount -o remount,bind,suid,dev /run/fs0.sock
mvstep umount umount /run/fs0.sock
mvstep gone sh -c 'test -S /run/fs0.sock && exit 1; exit 0'
mvsync "$tok.umounted"
EOF
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /share.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		t_fail "$RT: share: container mounted the share" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 20 "$MV_LOG")"
		mv_wait "$id"
		return
	fi
	t_step_ok "$RT: share: mount -t vhost-user-fs /srv/data /run/fs0.sock succeeds" "$id" mount
	t_decision "$RT: share: decision line says action=virtiofs, vfsd pid, idmapped" "$id" \
		'syscall=mount' 'action=virtiofs' 'result=ok' 'vfsd pid=[0-9]+' 'ids=idmapped'
	t_check "$RT: share: the target is a socket owned by the container's root, 0600" \
		[ "$(mv_step_out "$id" sock)" = 0:600 ]
	t_check "$RT: share: the socket mount is nosuid,nodev,noexec" \
		grep -qE 'nosuid,nodev,noexec' <<<"$(mv_step_out "$id" mountinfo)"
	list=$(mv_ctl shares 2>&1)
	t_check "$RT: share: notifyctl shares lists it with vfsd's pid and the source" \
		grep -qE "$id .*pid=[0-9]+ .*source=/srv/data .*target=/run/fs0.sock .*options=cache=auto" \
		<<<"$list"
	pid=$(mv_container_pid "$RT" "$id")
	vpid=$(mv_share_pids "$id" | tail -n1)
	t_check "$RT: share: vfsd runs on the host, in the container's cgroup" \
		[ -n "$vpid" ] && [ "$(cat "/proc/$vpid/cgroup")" = "$(cat "/proc/$pid/cgroup")" ]
	t_check "$RT: share: vfsd is not in the container's pid namespace" \
		[ "$(readlink "/proc/$vpid/ns/pid")" != "$(readlink "/proc/$pid/ns/pid")" ]
	sock=/proc/$pid/root/run/fs0.sock
	if mv_front_start "$sock" "$MNT"; then
		t_ok "$RT: share: a front-end connects through the container's socket and mounts"
		t_check "$RT: share: a file the container made is read through vfsd" \
			[ "$(cat "$MNT/hello.txt")" = "hello from the container" ]
		t_check "$RT: share: the file's owner (container root) is 0 as seen through vfsd" \
			[ "$(stat -c %u "$MNT/hello.txt")" = 0 ]
		echo one >"$MNT/by-root" && echo two >"$MNT/by-1000" && chown 1000:1000 "$MNT/by-1000"
		t_check "$RT: share: a file the front-end's root made is owned by host 100000 on disk" \
			[ "$(stat -c %u:%g "$ROOTFS/srv/data/by-root")" = 100000:100000 ]
		t_check "$RT: share: chown 1000:1000 through vfsd is host 101000 on disk" \
			[ "$(stat -c %u:%g "$ROOTFS/srv/data/by-1000")" = 101000:101000 ]
		t_check "$RT: share: chown to an id the container does not map fails" \
			sh -c "! chown 70000 '$MNT/by-root' 2>/dev/null"
		mv_front_stop
		# A VMM that reconnects (guest reboot, QEMU restarted) gets the share again.
		if mv_front_start "$sock" "$MNT" &&
			[ "$(cat "$MNT/hello.txt")" = "hello from the container" ]; then
			t_ok "$RT: share: a front-end that reconnects gets the share again"
		else
			t_fail "$RT: share: a front-end that reconnects gets the share again" \
				"$(cat "$MV_TMP/front.log")"
		fi
		mv_front_stop
	else
		t_fail "$RT: share: a front-end connects through the container's socket and mounts" \
			"$(cat "$MV_TMP/front.log")" "$(tail -n 20 "$MV_LOG")"
	fi
	mv_sync_go "$ROOTFS" "$id.mounted"
	mv_sync_wait "$ROOTFS" "$id.umounted" 30
	t_check "$RT: share: inside the container the files are 0:0 and 1000:1000" \
		[ "$(mv_step_out "$id" owners | tr '\n' ' ')" = "0:0 1000:1000 " ]
	t_step_errno "$RT: share: remount suid,dev of the socket mount is refused (locked)" "$id" \
		remount EPERM
	t_step_ok "$RT: share: umount /run/fs0.sock succeeds" "$id" umount
	t_step_ok "$RT: share: the socket is gone from the container after umount" "$id" gone
	t_check "$RT: share: umount stops vfsd" wait_no_vfsd "$id" 10
	mv_sync_go "$ROOTFS" "$id.umounted"
	mv_wait "$id"
}

# A container that exits with its share still mounted leaves nothing behind.
test_exit() {
	local id=vfs-$RT-exit fds
	fds=$(mv_notifyd_fds)
	cat >"$ROOTFS/exit.sh" <<'EOF'
touch /run/fs0.sock /run/fs1.sock
mvstep mount0 mount -t vhost-user-fs /srv/data /run/fs0.sock
mvstep mount1 mount -t vhost-user-fs -o ro /srv/data /run/fs1.sock
EOF
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /exit.sh || return
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: exit: first share mounted" "$id" mount0
	t_step_ok "$RT: exit: second share (ro) mounted" "$id" mount1
	t_decision "$RT: exit: the ro share says ro" "$id" 'action=virtiofs' 'result=ok' ' ro'
	t_check "$RT: exit: the container's exit stops both vfsd" wait_no_vfsd "$id" 10
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(mv_notifyd_fds)" -le "$fds" ] && break
		sleep 0.1
	done
	t_check "$RT: exit: notifyd's fds are back to $fds" [ "$(mv_notifyd_fds)" -le "$fds" ]
}

# idmap = squash:1000:1000: whatever id the guest creates with, the container sees 1000.
test_squash() {
	local id=vfs-$RT-squash pid
	rm -rf "$ROOTFS/srv/data/by-root" "$ROOTFS/srv/data/by-1000" "$ROOTFS/srv/data/sq"
	# Every request runs as the container's 1000 then: it creates where 1000 may.
	mkdir -p "$ROOTFS/srv/data/sq"
	chown 101000:101000 "$ROOTFS/srv/data/sq"
	cat >"$ROOTFS/squash.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep mount mount -t vhost-user-fs /srv/data /run/fs0.sock
mvsync "$tok.mounted"
mvstep owner stat -c %u:%g /srv/data/sq/f
EOF
	mv_oci_bundle --profile squash "$MV_TMP/$id" "$ROOTFS" sh /squash.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		pid=$(mv_container_pid "$RT" "$id")
		if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
			echo x >"$MNT/sq/f"
			mv_front_stop
		fi
		mv_sync_go "$ROOTFS" "$id.mounted"
	fi
	mv_wait "$id"
	t_decision "$RT: squash: decision line says squash" "$id" 'action=virtiofs' 'result=ok' \
		'squash'
	t_check "$RT: squash: a file created as root is 1000:1000 in the container" \
		[ "$(mv_step_out "$id" owner)" = 1000:1000 ]
	t_check "$RT: squash: and host 101000:101000 on disk" \
		[ "$(stat -c %u:%g "$ROOTFS/srv/data/sq/f" 2>/dev/null)" = 101000:101000 ]
	rm -rf "$ROOTFS/srv/data/sq"
	t_check "$RT: squash: vfsd gone with the container" wait_no_vfsd "$id" 10
}

# vfsd dying on its own is logged and its socket is detached; the next share works.
test_dies() {
	local id=vfs-$RT-dies vpid i
	cat >"$ROOTFS/dies.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep mount mount -t vhost-user-fs /srv/data /run/fs0.sock
mvsync "$tok.mounted"
mvstep gone sh -c 'test -S /run/fs0.sock && exit 1; grep " /run/fs0.sock " /proc/self/mountinfo && exit 1; exit 0'
mvstep again mount -t vhost-user-fs /srv/data /run/fs0.sock
mvstep umount umount /run/fs0.sock
EOF
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /dies.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		vpid=$(mv_share_pids "$id" | head -n1)
		kill -KILL "$vpid"
		for ((i = 0; i < 50; i++)); do
			grep -q "share daemon vfsd pid=$vpid was killed by signal KILL" "$MV_LOG" && break
			sleep 0.1
		done
		t_check "$RT: dies: vfsd's death is logged and its socket detached" \
			grep -q "share daemon vfsd pid=$vpid was killed by signal KILL while serving /run/fs0.sock; its mount was detached" "$MV_LOG"
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$RT: dies: container mounted its share" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: dies: the container no longer sees a socket there" "$id" gone
	t_step_ok "$RT: dies: the next share mounts" "$id" again
	t_step_ok "$RT: dies: and unmounts" "$id" umount
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: virtiofs action" "$RT not installed"
		continue
	}
	test_share
	test_exit
	test_dies
	test_squash
	rm -f "$ROOTFS/srv/data/by-root" "$ROOTFS/srv/data/by-1000"
done
t_done
