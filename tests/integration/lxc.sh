#!/bin/bash
# notifyd behind real LXC 5.0.2: an unprivileged busybox container (lxc-create
# -t busybox, lxc.idmap) started with lxc-start, using the shipped
# profiles/seccomp/lxc-notify.seccomp and profiles/lxc/mountvisor.conf, its
# commands run with lxc-attach.  The container's own util-linux (the host's
# /usr, bound read-only) sets up a loop device, the kernel action mounts ext4
# from it, the fuse action serves squashfs from another, a type the profile
# denies is refused, and so is its fsopen(2), while the new mount API's
# kernel-action types get ENOSYS (the proxy cannot pass fds: mount(2)
# fallback); notifyd is restarted while the container runs and LXC's
# reconnect keeps it working; its loop devices are gone after lxc-stop.  A
# uevent listener in the container hears add and change of its own loop
# device and nothing else, and add again from the restarted notifyd.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

for p in lxc-create lxc-start lxc-attach lxc-stop; do
	command -v "$p" >/dev/null || mv_bail "$p not installed (scripts/install-deps.sh installs lxc)"
done
SQUASHFUSE=$(command -v squashfuse) || mv_bail "squashfuse not installed"
command -v mksquashfs >/dev/null || mv_bail "mksquashfs not installed"

# Root's subordinate ids for lxc.idmap, in this test's mount namespace only.
echo "root:100000:65536" >"$MV_TMP/subid"
mount --bind "$MV_TMP/subid" /etc/subuid && mount --bind "$MV_TMP/subid" /etc/subgid ||
	mv_bail "cannot provide /etc/subuid for the test"

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/lxcmix.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4

[fs ext4]
action = kernel
allowed-options = ro, noatime

[fs squashfs]
action = fuse
program = $SQUASHFUSE
arguments = -f {options} {source} {mountpoint}
options = ro

[fs tmpfs]
action = continue
EOF
LXC_SOCK=$MV_TMP/run/notifyd-lxc.sock
mv_start_notifyd "$PROFILES" --lxc-socket "$LXC_SOCK" || mv_bail "notifyd did not start"

LXCP=$MV_TMP/lxc
NAME=mvlxc
mkdir -p "$LXCP"
lxc-create -P "$LXCP" -n "$NAME" -t busybox >"$MV_TMP/lxc-create.log" 2>&1 ||
	mv_bail "lxc-create -t busybox failed: $(tail -n 5 "$MV_TMP/lxc-create.log")"
ROOTFS=$LXCP/$NAME/rootfs
mkdir -p "$ROOTFS/img" "$ROOTFS/mnt/a" "$ROOTFS/mnt/b" "$ROOTFS/mnt/c" "$ROOTFS/usr"
mv_make_ext4 "$ROOTFS/img/ext4.img" || mv_bail "cannot build the ext4 image"
mkdir -p "$MV_TMP/sqsrc" && echo "hello from squashfs" >"$MV_TMP/sqsrc/hello.txt"
mksquashfs "$MV_TMP/sqsrc" "$ROOTFS/img/sq.img" -quiet -noappend -all-root >/dev/null ||
	mv_bail "mksquashfs failed"
cp "$MV_BUILD/tests/helpers/umount32" "$ROOTFS/bin/umount32"
chown -R 100000:100000 "$ROOTFS"
chmod 755 "$LXCP" "$LXCP/$NAME"
# The shipped snippet, with this test's socket; the rest is an unprivileged busybox container.
sed -e "s|/run/mountvisor/notifyd-lxc.sock|$LXC_SOCK|" \
	-e "s|/usr/local/share/mountvisor/profiles/seccomp/lxc-notify.seccomp|$MV_SRC/profiles/seccomp/lxc-notify.seccomp|" \
	-e "s|profile=default|profile=lxcmix name=$NAME|" \
	"$MV_SRC/profiles/lxc/mountvisor.conf" >"$MV_TMP/mountvisor.conf"
cat >"$LXCP/$NAME/config" <<EOF
lxc.rootfs.path = dir:$ROOTFS
lxc.uts.name = $NAME
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.autodev = 1
lxc.tty.max = 1
lxc.pty.max = 1
lxc.signal.halt = SIGUSR1
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = /usr usr none ro,rbind 0 0
lxc.mount.entry = /lib lib none ro,bind 0 0
lxc.mount.entry = /lib64 lib64 none ro,bind 0 0
lxc.idmap = u 0 100000 65536
lxc.idmap = g 0 100000 65536
# The device list of /usr/share/lxc/config/common.conf.
lxc.cgroup2.devices.deny = a
lxc.cgroup2.devices.allow = c *:* m
lxc.cgroup2.devices.allow = b *:* m
lxc.cgroup2.devices.allow = c 1:3 rwm
lxc.cgroup2.devices.allow = c 1:5 rwm
lxc.cgroup2.devices.allow = c 1:7 rwm
lxc.cgroup2.devices.allow = c 1:8 rwm
lxc.cgroup2.devices.allow = c 1:9 rwm
lxc.cgroup2.devices.allow = c 5:0 rwm
lxc.cgroup2.devices.allow = c 5:1 rwm
lxc.cgroup2.devices.allow = c 5:2 rwm
lxc.cgroup2.devices.allow = c 136:* rwm
lxc.include = $MV_TMP/mountvisor.conf
EOF
defer "lxc-stop -P '$LXCP' -n '$NAME' -k >/dev/null 2>&1"
lxc-start -P "$LXCP" -n "$NAME" -d -l INFO -o "$MV_TMP/lxc.log" ||
	mv_bail "lxc-start failed: $(grep -E 'ERROR|WARN' "$MV_TMP/lxc.log" | tail -n 8)"
# Ready once lxc-attach works; 60 s, as a loaded machine or an ASan build can be slow.
for ((i = 0; i < 300; i++)); do
	lxc-attach -P "$LXCP" -n "$NAME" -- /bin/true 2>/dev/null && break
	sleep 0.2
done
[ "$i" -lt 300 ] || mv_bail "lxc-attach into the container did not work within 60 s"

# in_ct CMD... : run CMD in the container with lxc-attach; output in $OUT,
# status returned.
#
# LXC 5.0.2's lxc-attach loses an attached command's seccomp listener now and
# then (more often on a busy machine), so that every trapped call of that
# command fails with ENOSYS from the kernel and never reaches LXC's monitor,
# let alone notifyd.  Two of its processes write to the same stream socket
# (src/lxc/attach.c, lxc_attach()): the intermediate process sends the
# attached process's pid (sync_wake_pid(ipc_sockets[1])), and the attached
# process, once it has loaded its filter, sends the listener fd as a one-byte
# message with SCM_RIGHTS (do_attach() -> lxc_seccomp_send_notifier_fd()).
# When the fd comes first, lxc-attach's read() of the pid (sync_wait_pid())
# returns that one byte, the kernel discards the fd no one asked for, and
# lxc-attach gives up without a log line: the listener is closed, so the
# kernel answers ENOSYS, and lxc-attach never sends it to the monitor
# (LXC_CMD_SECCOMP_NOTIFY_ADD_LISTENER).  An attach that handed its listener
# over logs 'Command "seccomp_notify_add_listener" received response'; one that
# did not ran its command unsupervised, with every trapped call failed and
# nothing done, and is run again (noted in the output).  Any other failure,
# or the listener lost 10 times in a row, reaches the test's checks.
MV_ATTACHES=0
in_ct() {
	local try rc log
	for ((try = 1; try <= 10; try++)); do
		MV_ATTACHES=$((MV_ATTACHES + 1))
		log=$MV_TMP/attach.$MV_ATTACHES.log
		OUT=$(timeout 60 lxc-attach -l DEBUG -o "$log" -P "$LXCP" -n "$NAME" \
			--clear-env -v PATH=/bin:/usr/bin:/usr/sbin -- "$@" 2>&1)
		rc=$?
		grep -qF 'Command "seccomp_notify_add_listener" received response' "$log" &&
			return "$rc"
		t_diag "lxc-attach lost the seccomp listener of '$*' (attempt $try, exit $rc," \
			"LXC 5.0.2's attach race: its trapped calls got ENOSYS from the kernel): running it again"
	done
	t_diag "$(grep -E 'ERROR|WARN' "$log" | tail -n 5)"
	return "$rc"
}

# A uevent listener in the container (its own network namespace,
# lxc.net.0.type = empty, owned by its user namespace): notifyd's uevents for
# its loop devices (docs/loop.md "uevents").  It makes no trapped call, so
# lxc-attach's listener race does not matter to it.
cp "$MV_BUILD/tests/helpers/uevent_listen" "$ROOTFS/bin/uevent_listen"
chown 100000:100000 "$ROOTFS/bin/uevent_listen"
cp "$MV_BUILD/tests/helpers/mount_race" "$ROOTFS/bin/mount_race"
chown 100000:100000 "$ROOTFS/bin/mount_race"
lxc-attach -P "$LXCP" -n "$NAME" -- /bin/uevent_listen -t 120 >"$MV_TMP/lxc.events" 2>&1 &
LISTENER=$!
defer "kill $LISTENER 2>/dev/null; wait $LISTENER 2>/dev/null"
for ((i = 0; i < 100; i++)); do
	grep -q listening "$MV_TMP/lxc.events" && break
	sleep 0.1
done
# lxc_events_for DEV ACTION [KEY] : the listener's ACTION events for DEV (with KEY).
lxc_events_for() {
	grep "^uevent pid=0 $2@/devices/virtual/block/${1#/dev/} .* DEVNAME=${1#/dev/} .*${3:-}" \
		"$MV_TMP/lxc.events"
}

DEV=/dev/loop-none
if in_ct /usr/sbin/losetup -f --show /img/ext4.img; then
	DEV=$OUT
	t_ok "losetup -f --show in an LXC container ($DEV)"
else
	t_fail "losetup -f --show in an LXC container" "$OUT" "$(tail -n 20 "$MV_LOG")"
fi
in_ct /usr/sbin/losetup -a
t_check "losetup -a lists only its own device" \
	[ "$(wc -l <<<"$OUT")" = 1 ] && grep -q "^$DEV: .*(/img/ext4.img)" <<<"$OUT"
t_check "the container was adopted through the proxy with the cookie's profile" \
	grep -q "container $NAME pid=[0-9]* monitor=[0-9]* profile=lxcmix adopted (LXC proxy)" "$MV_LOG"
in_ct mount -t ext4 "$DEV" /mnt/a
t_check "kernel action: mount -t ext4 of its loop device" [ $? -eq 0 ] || t_diag "$OUT"
in_ct cat /mnt/a/hello.txt
t_check "kernel action: file read" [ "$OUT" = "hello from ext4" ]
in_ct umount /mnt/a
t_check "kernel action: umount" [ $? -eq 0 ]
# The 32-bit x86 umount(2) (nr 22, by int 0x80): trapped by lxc-notify.seccomp
# too, so notifyd unmounts its own mount and drops the record (red team 19).
in_ct mount -t ext4 "$DEV" /mnt/a
t_check "kernel action: mount -t ext4 again" [ $? -eq 0 ] || t_diag "$OUT"
in_ct /bin/umount32 /mnt/a
t_check "kernel action: 32-bit umount ($OUT)" [ $? -eq 0 ]
umount32_seen() { grep " syscall=umount " "$MV_LOG" | grep "target=/mnt/a" | grep -q "action=umount"; }
t_check "kernel action: notifyd saw the 32-bit umount and unmounted its mount" umount32_seen
in_ct /usr/sbin/losetup -d "$DEV"
t_check "losetup -d" [ $? -eq 0 ]
for ((i = 0; i < 30; i++)); do
	lxc_events_for "$DEV" change DISK_MEDIA_CHANGE=1 >/dev/null && break
	sleep 0.1
done
t_check "uevents: the container's listener heard add of $DEV" lxc_events_for "$DEV" add
t_check "uevents: ... change (bound) and change with DISK_MEDIA_CHANGE=1 (detached)" \
	[ "$(lxc_events_for "$DEV" change | grep -c .)" = 2 ] &&
	lxc_events_for "$DEV" change DISK_MEDIA_CHANGE=1 >/dev/null
t_check "uevents: ... and nothing about any other device" \
	eval '! grep "^uevent " "$MV_TMP/lxc.events" | grep -qv " DEVNAME=${DEV#/dev/} "'
in_ct /usr/bin/mount -o loop,ro /img/sq.img /mnt/b
t_check "fuse action: mount -o loop,ro squash.img (squashfuse)" [ $? -eq 0 ] || t_diag "$OUT"
in_ct cat /mnt/b/hello.txt
t_check "fuse action: file read" [ "$OUT" = "hello from squashfs" ]
in_ct umount /mnt/b
in_ct mount -t xfs /img/ext4.img /mnt/c
t_check "deny: a type the profile does not allow is refused with EPERM" \
	mv_errno_in EPERM "$OUT"
# The new mount API through LXC's proxy (docs/seccomp-rules.md): the proxy
# cannot install an fd in the caller, so a kernel- or fuse-action type's
# fsopen gets ENOSYS (libmount >= 2.39 then falls back to mount(2)); a
# continue type is the kernel's to answer, a denied one gets the profile's errno.
in_ct /bin/mount_race fsopen ext4
t_check "new mount API: fsopen of a kernel-action type gets ENOSYS (mount(2) fallback) ($OUT)" \
	[ "$OUT" = "fsopen errno=ENOSYS" ]
in_ct /bin/mount_race fsopen squashfs
t_check "new mount API: fsopen of a fuse-action type gets ENOSYS ($OUT)" [ "$OUT" = "fsopen errno=ENOSYS" ]
in_ct /bin/mount_race fsopen tmpfs
t_check "new mount API: fsopen of a continue-action type: the kernel's fd ($OUT)" [ "$OUT" = "fsopen errno=0" ]
in_ct /bin/mount_race fsopen xfs
t_check "new mount API: fsopen of a type the profile denies: EPERM ($OUT)" [ "$OUT" = "fsopen errno=EPERM" ]
t_decision "new mount API: decision line for the denied fsopen (action=deny result=EPERM)" "$NAME" \
	"syscall=fsopen " "type=xfs " "action=deny " "result=EPERM"
t_check "decision lines for the container" [ "$(mv_decisions "$NAME" | grep -c .)" -ge 6 ]

# notifyd restarts under the running container; LXC reconnects on its next request.
mv_stop_notifyd
mv_start_notifyd "$PROFILES" --lxc-socket "$LXC_SOCK" || mv_bail "notifyd did not restart"
# The adds heard so far (the old notifyd's; its stop sent remove for its devices).
sleep 0.3
ADDS=$(grep -c '^uevent pid=0 add@' "$MV_TMP/lxc.events")
in_ct mount -t xfs /img/ext4.img /mnt/c
t_check "after a notifyd restart LXC reconnects: the next request is answered by notifyd" \
	mv_errno_in EPERM "$OUT"
in_ct /usr/sbin/losetup -f --show /img/ext4.img
t_check "... and loop devices work again" grep -qx '/dev/loop[0-9]*' <<<"$OUT"
DEV2=$OUT
# Which device this is: its sysfs directory, made anew whenever a loop device
# is created, so another test on the host taking the number after notifyd
# deleted it is not mistaken for this one.
DEV2_INO=$(stat -L -c %i "/sys/class/block/${DEV2#/dev/}" 2>/dev/null)
# The decision line follows the answer, so it may come after losetup returned.
t_check "the new notifyd handled the LOOP_CONFIGURE" \
	mv_wait_log "notifyd\\[$NOTIFYD_PID\\] info: decision id=$NAME .*type=LOOP_CONFIGURE .*result=ok" 10
# new_add_of DEV : an add of DEV came after the ADDS adds heard before the
# restart (mount -t xfs of an image file set up a loop device already).
new_add_of() {
	grep '^uevent pid=0 add@' "$MV_TMP/lxc.events" | tail -n "+$((ADDS + 1))" |
		grep -q " DEVNAME=${1#/dev/} "
}
# lxc-attach relays the listener's output a moment later.
for ((i = 0; i < 30; i++)); do
	new_add_of "$DEV2" && break
	sleep 0.1
done
t_check "uevents: after the restart the listener heard add of $DEV2 from the new notifyd" \
	new_add_of "$DEV2" || t_diag "adds before: $ADDS" "$(cut -c1-120 "$MV_TMP/lxc.events")"

lxc-stop -P "$LXCP" -n "$NAME" -k
mv_wait_log "notifyd\\[$NOTIFYD_PID\\] info: container $NAME gone: its" 30 >/dev/null
t_check "after lxc-stop its loop device is detached on the host" \
	[ "$(losetup -a | grep -c "$ROOTFS/img/")" = 0 ]
# dev_deleted: DEV2 (as it was while attached) no longer exists.
dev_deleted() {
	local ino
	ino=$(stat -L -c %i "/sys/class/block/${DEV2#/dev/}" 2>/dev/null) || return 0
	[ -n "$DEV2_INO" ] && [ "$ino" != "$DEV2_INO" ]
}
t_check "... and deleted" dev_deleted || t_diag "$(grep -E 'loop|gone' "$MV_LOG" | tail -n 12)"
t_check "notifyd alive" mv_notifyd_alive
t_done
