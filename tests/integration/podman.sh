#!/bin/bash
# podman (Debian 12's 4.3, crun) with the shipped profiles/seccomp/podman.json
# and the shipped profiles (profiles/default.conf): a rootful `podman run`
# with an explicit --uidmap, on an image made offline (scripts/mkimage.sh,
# `podman import`), served by notifyd on a test socket:
#   - podman passes listenerPath/listenerMetadata of the seccomp file through
#     to the container's config.json, with notifyd's NOTIFY rules;
#   - `mount -t ext4 IMAGE` is served by fuse2fs (the fuse action);
#   - losetup -f --show + mount of the device, and mount -o loop, work;
#   - a denied type (xfs) gets EPERM, and notifyd's decision line says so;
#   - bind mounts and tmpfs stay the container's own business;
#   - the shipped podman.json is what scripts/gen-podman-seccomp.sh makes
#     from this machine's podman default (when it is the same default).
# podman's state is the test's own (podman_common.sh).
# shellcheck source=tests/integration/podman_common.sh
. "$(dirname "$0")/podman_common.sh"

# The shipped profiles, as the README uses them.
mv_start_notifyd "$MV_SRC/profiles" || mv_bail "notifyd did not start"

SECCOMP=$PM/seccomp.json
jq --arg s "$MV_SOCK" '.listenerPath = $s' "$MV_SRC/profiles/seccomp/podman.json" >"$SECCOMP" ||
	mv_bail "cannot write the seccomp file"

# The shipped file is what the generator makes from this podman's default.
shipped_sum=$(jq -r '.comment' "$MV_SRC/profiles/seccomp/podman.json" | sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p')
if [ -r /usr/share/containers/seccomp.json ] &&
	[ "$(sha256sum /usr/share/containers/seccomp.json | cut -d' ' -f1)" = "$shipped_sum" ]; then
	t_check "profiles/seccomp/podman.json is what gen-podman-seccomp.sh makes from this podman's default" \
		cmp <("$MV_SRC/scripts/gen-podman-seccomp.sh") "$MV_SRC/profiles/seccomp/podman.json"
else
	t_skip "profiles/seccomp/podman.json regenerates identically" \
		"this machine's /usr/share/containers/seccomp.json is not the one it was made from"
fi

DISK=$PM/disk.img
mv_make_ext4 "$DISK" || mv_bail "cannot build the ext4 image"
chown 100000:100000 "$DISK"

RUN_OPTS=(--uidmap 0:100000:65536 --gidmap 0:100000:65536 --cap-add SYS_ADMIN
	--security-opt "seccomp=$SECCOMP"
	-v /dev/null:/dev/loop-control --device-cgroup-rule "b 7:* rwm"
	--security-opt unmask=/sys/dev/block
	-v "$DISK:/disk.img")

# --- podman puts the listener and notifyd's rules into config.json ---------
cid=$(pm create "${RUN_OPTS[@]}" "$IMAGE" true 2>"$PM/create.err")
if [ -z "$cid" ]; then
	t_fail "podman create with --security-opt seccomp=podman.json" "$(cat "$PM/create.err")"
else
	pm init "$cid" >"$PM/init.out" 2>&1
	cfg=$(find "$PM/storage" -path "*/$cid/userdata/config.json" | head -n1)
	if [ -z "$cfg" ]; then
		t_fail "podman wrote the container's config.json" "$(cat "$PM/init.out")"
	else
		t_check "config.json: listenerPath is notifyd's socket" \
			[ "$(jq -r '.linux.seccomp.listenerPath' "$cfg")" = "$MV_SOCK" ]
		t_check "config.json: listenerMetadata is profile=default" \
			[ "$(jq -r '.linux.seccomp.listenerMetadata' "$cfg")" = profile=default ]
		t_check "config.json: SCMP_ACT_NOTIFY for mount, umount, umount2, fsopen, fsconfig, fsmount, move_mount, mount_setattr, ioctl" \
			[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_NOTIFY") | .names[]] | unique' "$cfg")" \
			= '["fsconfig","fsmount","fsopen","ioctl","mount","mount_setattr","move_mount","umount","umount2"]' ]
		t_check "config.json: mount_setattr trapped only with AT_EMPTY_PATH (args[2] & 0x1000 == 0x1000)" \
			[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_NOTIFY" and (.names | index("mount_setattr")))
				| .args[] | [.index, .value, .valueTwo, .op]]' "$cfg")" = '[[2,4096,4096,"SCMP_CMP_MASKED_EQ"]]' ]
		t_check "config.json: move_mount trapped only with MOVE_MOUNT_F_EMPTY_PATH (args[4] & 4 == 4)" \
			[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_NOTIFY" and (.names | index("move_mount")))
				| .args[] | [.index, .value, .valueTwo, .op]]' "$cfg")" = '[[4,4,4,"SCMP_CMP_MASKED_EQ"]]' ]
		t_check "config.json: fspick, open_tree, mount_setattr (the rest of it) allowed as podman allows them" \
			[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]
				| select(. == "fspick" or . == "open_tree" or . == "mount_setattr")] | sort' "$cfg")" \
			= '["fspick","mount_setattr","open_tree"]' ]
		t_check "config.json: podman's default action (ENOSYS) kept" \
			[ "$(jq -r '.linux.seccomp.defaultAction' "$cfg")" = SCMP_ACT_ERRNO ]
	fi
	pm rm -f -t 0 "$cid" >/dev/null 2>&1
fi

# --- a container mounts through notifyd ------------------------------------
STEPS=$PM/steps
podman_steps "$STEPS"
cat >"$STEPS/run.sh" <<'EOF'
s=/steps/mvstep
$s ext4 busybox mount -t ext4 /disk.img /mnt/a
$s read cat /mnt/a/hello.txt
$s write sh -c 'echo via-podman > /mnt/a/podman-file && stat -c %u:%g /mnt/a/podman-file'
$s mountinfo grep ' /mnt/a ' /proc/self/mountinfo
$s umount umount /mnt/a
$s losetup sh -c 'dev=$(/usr/sbin/losetup -f --show /disk.img) && echo $dev > /tmp/dev && echo $dev'
$s losetup-a /usr/sbin/losetup -a
$s mount-dev sh -c '/usr/bin/mount -t ext4 $(cat /tmp/dev) /mnt/b && cat /mnt/b/hello.txt'
$s umount-dev /usr/bin/umount /mnt/b
$s detach sh -c '/usr/sbin/losetup -d $(cat /tmp/dev)'
$s mount-loop sh -c '/usr/bin/mount -o loop /disk.img /mnt/b && cat /mnt/b/podman-file'
$s umount-loop /usr/bin/umount /mnt/b
$s xfs busybox mount -t xfs /disk.img /mnt/a
$s tmpfs busybox mount -t tmpfs -o size=1m mvtmp /mnt/a
$s bind busybox mount --bind /mnt/a /mnt/b
$s clean sh -c '! grep -E " - (fuse|ext|xfs)" /proc/self/mountinfo'
EOF
chmod 0755 "$STEPS/run.sh"

ID=podman-run
rm -f "$PM/cid"
pm run --rm --cidfile "$PM/cid" "${RUN_OPTS[@]}" -v "$STEPS:/steps:ro" "$IMAGE" sh /steps/run.sh \
	>"$(mv_out "$ID")" 2>&1
rc=$?
t_check "podman run --rm ... exits 0" [ "$rc" = 0 ]
CID=$(cat "$PM/cid" 2>/dev/null)
[ -n "$CID" ] || t_fail "podman wrote the container id" "$(cat "$(mv_out "$ID")")"

# mv_step_* read $(mv_out ID); the decisions carry podman's container id.
t_step_ok "podman: mount -t ext4 of an image file" "$ID" ext4
t_decision "podman: the ext4 mount is served by fuse2fs (action=fuse)" "$CID" \
	'syscall=mount ' 'type=ext4 ' 'action=fuse ' 'result=ok' 'program=fuse2fs'
t_check "podman: file read through fuse2fs" [ "$(mv_step_out "$ID" read)" = "hello from ext4" ]
t_check "podman: file written by the container's root (0:0)" [ "$(mv_step_out "$ID" write)" = 0:0 ]
t_check "podman: mountinfo shows fuse.fuse2fs with nosuid,nodev" \
	grep -qE 'nosuid,nodev.* - fuse\.fuse2fs ' <<<"$(mv_step_out "$ID" mountinfo)"
t_step_ok "podman: umount" "$ID" umount
t_step_ok "podman: losetup -f --show IMAGE" "$ID" losetup
t_check "podman: losetup -a lists the container's device with its image" \
	grep -q "^$(mv_step_out "$ID" losetup): .*/disk.img" <<<"$(mv_step_out "$ID" losetup-a)"
t_step_ok "podman: mount -t ext4 of that loop device (and read)" "$ID" mount-dev
t_step_ok "podman: umount of it" "$ID" umount-dev
t_step_ok "podman: losetup -d" "$ID" detach
t_step_ok "podman: mount -o loop IMAGE (reads the file written before)" "$ID" mount-loop
t_step_ok "podman: umount of the -o loop mount" "$ID" umount-loop
t_decision "podman: loop ioctls answered by notifyd (LOOP_SET_FD)" "$CID" \
	'syscall=ioctl ' 'type=LOOP_SET_FD ' 'action=loop ' 'result=ok'
t_step_errno "podman: mount -t xfs is denied with EPERM" "$ID" xfs EPERM
t_decision "podman: decision line for xfs (action=deny result=EPERM)" "$CID" \
	'syscall=mount ' 'type=xfs ' 'action=deny ' 'result=EPERM'
t_step_ok "podman: tmpfs mounts (continue)" "$ID" tmpfs
t_step_ok "podman: bind mount works (not trapped)" "$ID" bind
t_step_ok "podman: nothing of notifyd's is left mounted in the container" "$ID" clean
if [ "$(debugfs -R 'cat /podman-file' "$DISK" 2>/dev/null)" = via-podman ]; then
	t_ok "podman: the container's write is on the host image"
else
	t_fail "podman: the container's write is on the host image" "$(debugfs -R 'ls -l /' "$DISK" 2>&1)"
fi

# --- nothing left behind ---------------------------------------------------
for ((i = 0; i < 50; i++)); do
	[ -z "$(losetup -j "$DISK")" ] && [ -z "$(pgrep -f 'fuse2fs /proc/self/fd/3')" ] && break
	sleep 0.1
done
t_check "podman: no loop device on the image after the container exited" [ -z "$(losetup -j "$DISK")" ]
t_check "podman: no fuse2fs left" [ -z "$(pgrep -f 'fuse2fs /proc/self/fd/3')" ]
t_check "podman: --rm removed the container" [ -z "$(pm ps -aq)" ]
for ((i = 0; i < 50; i++)); do
	[ -z "$(mv_ctl list 2>/dev/null | awk -v id="$CID" '$1 == id')" ] && break
	sleep 0.1
done
t_check "podman: notifyd forgot the container" [ -z "$(mv_ctl list 2>/dev/null | awk -v id="$CID" '$1 == id')" ]
t_check "podman: notifyd alive" mv_notifyd_alive
t_done
