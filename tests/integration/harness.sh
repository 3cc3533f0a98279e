#!/bin/bash
# Harness self-test, independent of notifyd: a stand-in python3 listener takes
# the seccomp fd from crun and from runc and answers every request CONTINUE.
# Proves that containers start with a user namespace and the seccomp listener
# configured, that profiles/seccomp/oci-seccomp.json traps exactly the calls
# it should (new superblocks, umount2; of the new mount API fsopen, fsconfig,
# fsmount, move_mount with MOVE_MOUNT_F_EMPTY_PATH and mount_setattr with
# AT_EMPTY_PATH) and not bind mounts, remounts, propagation changes, fspick,
# open_tree or a move_mount by path, and that devices are passed in.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

rootfs=$MV_TMP/rootfs
mv_make_rootfs "$rootfs" || mv_bail "cannot build the busybox rootfs"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build an ext4 image"
dev=
mv_loop_attach "$MV_TMP/disk.img" dev || mv_bail "cannot attach a loop device"
sock=$MV_TMP/run/stub.sock
mv_start_stub_listener "$sock" || mv_bail "no stand-in listener"

# x86_64 syscall numbers, as the stand-in logs them.
NR_mount=165 NR_umount2=166
# New mount API, "NR:NAME:how often mount_race newapi gets it trapped" (see
# tests/helpers/mount_race.c): fsopen of tmpfs, NULL, an unknown type and xfs;
# one fsconfig SET_STRING and one CMD_CREATE; one fsmount; one move_mount of
# the two (the one with MOVE_MOUNT_F_EMPTY_PATH); one mount_setattr (with
# AT_EMPTY_PATH, on a detached clone); fspick and open_tree never.
NEWAPI_TRAPS="430:fsopen:4 431:fsconfig:2 432:fsmount:1 429:move_mount:1 433:fspick:0 428:open_tree:0 442:mount_setattr:1"

cat >"$rootfs/rules.sh" <<'EOF'
mvstep tmpfs mount -t tmpfs -o size=1m tmpfs /mnt/a
mvstep bind mount --bind /tmp /mnt/b
mvstep remount mount -o remount,bind,ro /mnt/b
mvstep private mount --make-private /mnt/a
mvstep umount umount /mnt/a
mvstep newapi mount_race newapi
mvstep dev stat -c '%F %u:%g' "$1"
EOF

stub_notifs() { # stub_notifs ID NR : how many notifications with that nr
	grep -c "^notif id=$1 .* nr=$2 " "$MV_STUB_LOG"
}

for rt in crun runc; do
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: harness" "$rt not installed"
		continue
	fi

	id=$MV_IDP-$rt-hello
	mv_oci_bundle --socket "$sock" --profile stubtest "$MV_TMP/$id" "$rootfs" echo hello
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	rc=$?
	if [ "$rc" -eq 0 ] && grep -qx hello "$(mv_out "$id")"; then
		t_ok "$rt: container with user namespace and seccomp listener prints hello"
	else
		t_fail "$rt: container with user namespace and seccomp listener prints hello" \
			"exit $rc" "$(cat "$(mv_out "$id")")" "$(cat "$MV_TMP/stub.err" 2>/dev/null)"
	fi
	if grep -q "^state id=$id pid=[0-9]* metadata=profile=stubtest fds=1\$" "$MV_STUB_LOG"; then
		t_ok "$rt: listener got the state (id, pid, metadata) and one fd"
	else
		t_fail "$rt: listener got the state (id, pid, metadata) and one fd" "$(cat "$MV_STUB_LOG")"
	fi

	id=$MV_IDP-$rt-rules
	mv_oci_bundle --socket "$sock" --device "$dev" "$MV_TMP/$id" "$rootfs" sh /rules.sh "$dev"
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_ok "$rt: tmpfs mount (trapped, continued) works" "$id" tmpfs
	t_step_ok "$rt: bind mount works" "$id" bind
	t_step_ok "$rt: bind remount read-only works" "$id" remount
	t_step_ok "$rt: propagation change works" "$id" private
	t_step_ok "$rt: umount works" "$id" umount
	n=$(stub_notifs "$id" "$NR_mount")
	if [ "$n" -eq 1 ]; then
		t_ok "$rt: exactly one mount(2) trapped (tmpfs; not bind, remount, make-private)"
	else
		t_fail "$rt: exactly one mount(2) trapped (tmpfs; not bind, remount, make-private)" \
			"trapped $n:" "$(grep "^notif id=$id " "$MV_STUB_LOG")"
	fi
	n=$(stub_notifs "$id" "$NR_umount2")
	if [ "$n" -eq 1 ]; then
		t_ok "$rt: umount2 trapped"
	else
		t_fail "$rt: umount2 trapped" "trapped $n:" "$(grep "^notif id=$id " "$MV_STUB_LOG")"
	fi
	wrong= seen=
	for t in $NEWAPI_TRAPS; do
		IFS=: read -r nr name want <<<"$t"
		n=$(stub_notifs "$id" "$nr")
		seen+=" $name=$n"
		[ "$n" -eq "$want" ] || wrong+=" $name trapped $n times, want $want;"
	done
	if [ -z "$wrong" ]; then
		t_ok "$rt: new mount API: fsopen, fsconfig, fsmount, move_mount(F_EMPTY_PATH), mount_setattr(AT_EMPTY_PATH) trapped, fspick, open_tree, move_mount by path not (${seen# })"
	else
		t_fail "$rt: new mount API: exactly the calls that need a decision are trapped" "$wrong" \
			"$(mv_step_out "$id" newapi)" "$(grep "^notif id=$id " "$MV_STUB_LOG")"
	fi
	# Continued by the stand-in, every call gets the kernel's own answer.
	want='fsopen_tmpfs errno=0 fsconfig_size errno=0 fsconfig_create errno=0 fsmount errno=0 move_mount errno=0 fsopen_null errno=EFAULT fsopen_unknown errno=ENODEV'
	got=$(mv_step_out "$id" newapi | head -n 7 | tr '\n' ' ')
	t_check "$rt: new mount API continued: a tmpfs mounted by fsopen..move_mount, fsopen(NULL) EFAULT, unknown type ENODEV" \
		[ "$got" = "$want " ]
	if [ "$(mv_step_out "$id" dev)" = "block special file 0:0" ]; then
		t_ok "$rt: $dev is in the container, a block device owned by its root"
	else
		t_fail "$rt: $dev is in the container, a block device owned by its root" \
			"$(mv_step_out "$id" dev)"
	fi

	# A container killed mid-way is deleted and leaves no state.
	id=$MV_IDP-$rt-sleeper
	mv_oci_bundle --socket "$sock" "$MV_TMP/$id" "$rootfs" sleep 300
	mv_start "$rt" "$MV_TMP/$id" "$id" 60
	for ((i = 0; i < 50; i++)); do
		[ -n "$(mv_container_pid "$rt" "$id")" ] && break
		sleep 0.1
	done
	mv_kill "$id" KILL
	mv_wait "$id"
	rc=$?
	state=$(mv_rt "$rt" list -q 2>/dev/null | grep -c .)
	if [ "$rc" -eq 137 ] && [ "$state" -eq 0 ]; then
		t_ok "$rt: killed container is reaped and deleted"
	else
		t_fail "$rt: killed container is reaped and deleted" "exit $rc, $state left:" \
			"$(mv_rt "$rt" list 2>&1)"
	fi
done
