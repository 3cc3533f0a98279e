#!/bin/bash
# What notifyd made for a container survives a restart (docs/restart.md
# "What is kept, per resource"), in real crun and runc containers with their
# own user namespace.  Before the restart a container has
#   - a kernel mount (squashfs on a host loop device, action = kernel),
#   - a FUSE mount (fuse2fs serving an ext4 image through one of its own
#     loop devices, action = fuse),
#   - a second loop device bound with util-linux losetup,
#   - a fresh loop device (losetup -f: handed out, not bound),
#   - a second FUSE mount, whose daemon is killed while no notifyd runs
#     (kill mode: the keeper is stopped meanwhile),
#   - a virtiofs share (mount -t vhost-user-fs, action = virtiofs: vfsd).
# notifyd is restarted (SIGUSR2: re-executed in place with its fds; with
# RESTART_MODES containing "kill" and a notifyd that has --keeper, also
# SIGKILL of the serving notifyd under `notifyd --keeper`), then:
#   - notifyctl list/mounts/shares show the same resources, stats says
#     restarts: 1 and the same pid;
#   - umount of the old kernel mount is notifyd's (decision line);
#   - the old FUSE daemon still serves, and when killed the log says so and
#     its mount is detached;
#   - the fuse action still opens the backing file of the old bound device;
#   - umount of the old share stops its vfsd;
#   - losetup -d of the old device works; the host's losetup -f, run in a
#     loop all through the restart and once after, never gets a device the
#     container can open;
#   - after the container exits: no loop device, FUSE daemon, vfsd, state
#     file or fd of it is left.
# Then (kill mode) a `runc exec` that made a loop device and a share ends
# while no notifyd runs: both stay the container's until it exits.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
command -v mksquashfs >/dev/null || mv_bail "mksquashfs not installed (squashfs-tools)"
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] && [ -x /usr/bin/mount ] || mv_bail "util-linux losetup/mount not found"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"
[ -x "$MV_BUILD/vfsd" ] || mv_bail "$MV_BUILD/vfsd not built"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
STATE=$MV_TMP/state
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4
max-fuse-daemons = 4
max-shares = 2

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}

[fs squashfs]
action = kernel
idmap = yes

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img" "$ROOTFS/srv/data" \
	"$ROOTFS/run" "$ROOTFS/mnt/f" "$ROOTFS/mnt/g" "$ROOTFS/mnt/h" "$ROOTFS/mnt/k"
echo "hello from the share" >"$ROOTFS/srv/data/hello.txt"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img" "$ROOTFS/mnt"/*
chown -R 100000:100000 "$ROOTFS/srv" "$ROOTFS/run"
mv_make_ext4 "$ROOTFS/img/ext4.img" || mv_bail "cannot build the ext4 image"
mv_make_ext4 "$ROOTFS/img/other.img" 8M || mv_bail "cannot build the second ext4 image"
mv_make_ext4 "$ROOTFS/img/third.img" 8M || mv_bail "cannot build the third ext4 image"
mv_make_ext4 "$ROOTFS/img/fourth.img" 8M || mv_bail "cannot build the fourth ext4 image"
chown 100000:100000 "$ROOTFS"/img/*.img
mkdir -p "$MV_TMP/sqsrc"
echo "hello from squashfs" >"$MV_TMP/sqsrc/hello.txt"
mksquashfs "$MV_TMP/sqsrc" "$MV_TMP/sq.img" -quiet -noappend -all-root >/dev/null ||
	mv_bail "mksquashfs failed"
mv_loop_attach "$MV_TMP/sq.img" SQDEV || mv_bail "cannot attach the squashfs image"
truncate -s 1M "$MV_TMP/host.img"

KEEPER=false
if [ -f "$MV_SRC/notifyd/keeper.c" ]; then
	KEEPER=true
fi

# loop devices the kernel has with one of this test's container images
test_images_attached() { losetup -a | grep -c "$ROOTFS/img/" || true; }

# list_line ID : ID's line of notifyctl list (stdin) without the request
# counters (they count what this notifyd answered), resources sorted.
list_line() {
	awk -v id="$1" '$1 == id {
		r = ""
		for (i = 5; i <= NF; i++) if ($i ~ /=/) r = r " " $i
		print $1, $2, $3, $4 "|" r
	}' | while IFS='|' read -r head res; do
		echo "$head $(tr ' ' '\n' <<<"$res" | grep . | sort | tr '\n' ' ' | sed 's/ $//')"
	done
}

# fuse_pid_of ID TARGET : the pid of the FUSE daemon notifyd started for ID's mount at TARGET
fuse_pid_of() {
	mv_decisions "$1" | grep "target=$2 " | sed -n 's/.* program=fuse2fs pid=\([0-9]*\).*/\1/p' | tail -n1
}

# serving_pid : the pid of the notifyd serving requests (the keeper's child under --keeper)
serving_pid() { mv_ctl stats 2>/dev/null | awk '$1 == "pid:" {print $2}'; }

# restarts_logged : how many times a notifyd took over so far
restarts_logged() { grep -c 'took over from the notifyd before us' "$MV_LOG" 2>/dev/null || true; }

# host_losetup_check RT NR... : a host `losetup -f` gets none of the
# container's devices NR... unless notifyd gave that one up first.
host_losetup_check() {
	local rt=$1 dev nr ok=true why=
	shift
	dev=$(losetup -f --show "$MV_TMP/host.img" 2>&1) || {
		t_fail "$rt: the host's losetup -f works after the restart" "$dev"
		return
	}
	nr=${dev#/dev/loop}
	losetup -d "$dev"
	for n in "$@"; do
		if [ "$nr" = "$n" ] && ! grep -qE "loop$nr: .*given up" "$MV_LOG"; then
			ok=false
			why="the host bound loop$nr, the container's, not given up"
		fi
	done
	if $ok; then
		t_ok "$rt: the host's losetup -f got no device of the container's ($dev)"
	else
		t_fail "$rt: the host's losetup -f got no device of the container's" "$why"
	fi
}

# hostbind_check RT NR... : the host's losetup -f that ran through the
# restart ($MV_TMP/hostbind.list) got none of the container's devices NR...
# unless notifyd gave that one up first.
hostbind_check() {
	local rt=$1 n d bad="" count
	shift
	count=$(wc -l <"$MV_TMP/hostbind.list" 2>/dev/null || echo 0)
	for n in "$@"; do
		while read -r d; do
			[ "${d#/dev/loop}" = "$n" ] || continue
			grep -qE "loop$n: .*given up" "$MV_LOG" || bad+="$d "
		done <"$MV_TMP/hostbind.list"
	done
	if [ "$count" -gt 0 ] && [ -z "$bad" ]; then
		t_ok "$rt: the host's losetup -f ran $count times through the restart, never on a device of the container's"
	else
		t_fail "$rt: the host's losetup -f ran through the restart, never on a device of the container's" \
			"$count runs; bound the container's: ${bad:-none}"
	fi
}

# restart MODE : restart the serving notifyd and wait until its successor took over.
restart() {
	local before i
	before=$(restarts_logged)
	case $1 in
	usr2) kill -USR2 "$NOTIFYD_PID" ;;
	kill)
		# The keeper waits while the serving notifyd is killed and a FUSE
		# daemon ($2) dies, so that nobody serves when it dies.
		kill -STOP "$NOTIFYD_PID"
		kill -KILL "$(serving_pid)"
		[ -n "${2:-}" ] && kill -KILL "$2"
		sleep 0.3
		kill -CONT "$NOTIFYD_PID"
		;;
	esac
	for ((i = 0; i < 100; i++)); do
		[ "$(restarts_logged)" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

test_restart() {
	local mode=$1 id=rs-$RT-$1 devf devl devh devx share_pid fuse_pid vanish_pid mounts_before
	local shares_before fuse_n=2 hb
	local list_before list_after mounts_after shares_after stats_before stats_after rc
	cat >"$ROOTFS/r.sh" <<EOF
L=$LOSETUP
tok=\$1
mvstep setup-f \$L -f --show /img/ext4.img
devf=\$(\$L -j /img/ext4.img -O NAME -n)
mvstep mount-fuse /usr/bin/mount -t ext4 "\$devf" /mnt/f
mvstep setup-l \$L -f --show /img/other.img
devl=\$(\$L -j /img/other.img -O NAME -n)
mvstep mount-kernel /usr/bin/mount -t squashfs $SQDEV /mnt/k
touch /run/fs0.sock
mvstep mount-share /usr/bin/mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
mvstep setup-x \$L -f --show /img/third.img
devx=\$(\$L -j /img/third.img -O NAME -n)
mvstep mount-vanish /usr/bin/mount -t ext4 "\$devx" /mnt/h
mvstep fresh \$L -f
mvsync \$tok.before
mvstep read-fuse cat /mnt/f/hello.txt
mvstep write-fuse sh -c 'echo after-restart > /mnt/f/after && cat /mnt/f/after'
mvstep read-kernel cat /mnt/k/hello.txt
mvstep umount-kernel /usr/bin/umount /mnt/k
mvstep mount-backing /usr/bin/mount -t ext4 "\$devl" /mnt/g
mvstep read-backing cat /mnt/g/hello.txt
mvstep umount-backing /usr/bin/umount /mnt/g
mvstep umount-share /usr/bin/umount /run/fs0.sock
mvstep detach-l \$L -d "\$devl"
mvstep list-after \$L -a
mvstep mountinfo-after cat /proc/self/mountinfo
mvsync \$tok.after
mvsync \$tok.end
EOF
	mv_oci_bundle --loop --sysfs --device "$SQDEV" "$MV_TMP/$id" "$ROOTFS" sh /r.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 180
	if ! mv_sync_wait "$ROOTFS" "$id.before" 60; then
		t_fail "$RT/$mode: the container set everything up" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 30 "$MV_LOG")"
		mv_delete_all
		return
	fi
	for s in setup-f mount-fuse setup-l mount-kernel mount-share setup-x mount-vanish fresh; do
		t_step_ok "$RT/$mode: before the restart: $s" "$id" "$s"
	done
	devf=$(mv_step_out "$id" setup-f)
	devl=$(mv_step_out "$id" setup-l)
	devh=$(mv_step_out "$id" fresh)
	devx=$(mv_step_out "$id" setup-x)
	share_pid=$(mv_share_pids "$id" | tail -n1)
	fuse_pid=$(fuse_pid_of "$id" /mnt/f)
	vanish_pid=$(fuse_pid_of "$id" /mnt/h)
	list_before=$(mv_ctl list 2>&1)
	mounts_before=$(mv_ctl mounts 2>&1 | grep -F "$id" | sort)
	[ "$mode" = kill ] && mounts_before=$(grep -v ' /mnt/h' <<<"$mounts_before")
	shares_before=$(mv_ctl shares 2>&1 | grep -F "$id" | sort)
	stats_before=$(mv_ctl stats 2>&1)

	# The host binds loop devices all through the restart.
	rm -f "$MV_TMP/hostbind.list" "$MV_TMP/hostbind.stop"
	(
		while [ ! -e "$MV_TMP/hostbind.stop" ]; do
			d=$(timeout 5 losetup -f --show "$MV_TMP/host.img" 2>/dev/null) || continue
			echo "$d" >>"$MV_TMP/hostbind.list"
			losetup -d "$d"
		done
	) &
	hb=$!
	if ! restart "$mode" "$vanish_pid"; then
		touch "$MV_TMP/hostbind.stop"
		wait "$hb"
		t_fail "$RT/$mode: a notifyd took over" "$(tail -n 30 "$MV_LOG")"
		mv_delete_all
		return
	fi
	t_ok "$RT/$mode: a notifyd took over"
	sleep 0.5
	touch "$MV_TMP/hostbind.stop"
	wait "$hb"
	hostbind_check "$RT/$mode" "${devf#/dev/loop}" "${devl#/dev/loop}" "${devh#/dev/loop}" \
		"${devx#/dev/loop}"
	if [ "$mode" = kill ]; then
		# fuse2fs for /mnt/h was killed while no notifyd ran.
		fuse_n=1
		if mv_wait_log "FUSE daemon .*pid=$vanish_pid .* while serving /mnt/h; its mount was detached" 10; then
			t_ok "$RT/$mode: a FUSE daemon that died while no notifyd ran: its mount is detached"
		else
			t_fail "$RT/$mode: a FUSE daemon that died while no notifyd ran: its mount is detached" \
				"$(tail -n 20 "$MV_LOG")"
		fi
	fi
	list_after=$(mv_ctl list 2>&1)
	mounts_after=$(mv_ctl mounts 2>&1 | grep -F "$id" | sort)
	shares_after=$(mv_ctl shares 2>&1 | grep -F "$id" | sort)
	stats_after=$(mv_ctl stats 2>&1)
	t_check "$RT/$mode: notifyctl list: the same entry (init, profile) and resources" \
		[ "$(list_line "$id" <<<"$list_before" | sed "s/fuse-daemons=2/fuse-daemons=$fuse_n/")" = \
		"$(list_line "$id" <<<"$list_after")" ]
	t_check "$RT/$mode: notifyctl list shows 4 loop devices, $fuse_n FUSE daemon(s), 1 share" \
		[ "$(list_line "$id" <<<"$list_after")" = \
		"$id $(mv_container_pid "$RT" "$id") default oci fuse-daemons=$fuse_n loop-devices=4 vfsd-shares=1" ]
	t_check "$RT/$mode: notifyctl mounts: the same $((fuse_n + 2)) mounts" \
		[ -n "$mounts_after" ] && [ "$mounts_before" = "$mounts_after" ] &&
		[ "$(wc -l <<<"$mounts_after")" = $((fuse_n + 2)) ]
	t_check "$RT/$mode: notifyctl shares: the same share, same vfsd pid" \
		[ -n "$shares_after" ] && [ "$shares_before" = "$shares_after" ] &&
		grep -q "pid=$share_pid " <<<"$shares_after"
	t_check "$RT/$mode: notifyctl stats: restarts counted up" \
		[ "$(sed -n 's/^restarts: *//p' <<<"$stats_after")" -gt \
		"$(sed -n 's/^restarts: *//p' <<<"$stats_before")" ]
	t_check "$RT/$mode: the FUSE daemon is supervised again" \
		grep -qE "FUSE daemon .*pid=$fuse_pid .*supervised again" "$MV_LOG"
	t_check "$RT/$mode: the share's vfsd is supervised again" \
		grep -qE "share daemon .*pid=$share_pid .*supervised again" "$MV_LOG"
	host_losetup_check "$RT/$mode" "${devf#/dev/loop}" "${devl#/dev/loop}" "${devh#/dev/loop}" \
		"${devx#/dev/loop}"

	mv_sync_go "$ROOTFS" "$id.before"
	if ! mv_sync_wait "$ROOTFS" "$id.after" 60; then
		t_fail "$RT/$mode: the container went on after the restart" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 30 "$MV_LOG")"
		mv_delete_all
		return
	fi
	t_check "$RT/$mode: the old FUSE mount still serves reads" \
		[ "$(mv_step_out "$id" read-fuse)" = "hello from ext4" ]
	t_check "$RT/$mode: and writes" [ "$(mv_step_out "$id" write-fuse)" = after-restart ]
	t_step_ok "$RT/$mode: the old kernel mount is readable" "$id" read-kernel
	t_step_ok "$RT/$mode: umount of the old kernel mount works" "$id" umount-kernel
	t_decision "$RT/$mode: ... and is notifyd's (decision line)" "$id" \
		"syscall=umount2 " "target=/mnt/k " "mount made by notifyd" "result=ok"
	t_check "$RT/$mode: ... and its record is gone" \
		sh -c "! '$(mv_prog notifyctl)' --control '$MV_CTL' mounts | grep -F '$id' | grep -q ' /mnt/k'"
	t_step_ok "$RT/$mode: the fuse action opens the old bound device's backing file" \
		"$id" mount-backing
	t_check "$RT/$mode: ... and reads it" \
		[ "$(mv_step_out "$id" read-backing)" = "hello from ext4" ]
	t_step_ok "$RT/$mode: umount of the old share works" "$id" umount-share
	rc=1
	for ((i = 0; i < 50; i++)); do
		kill -0 "$share_pid" 2>/dev/null || { rc=0 && break; }
		sleep 0.1
	done
	t_check "$RT/$mode: ... and stops its vfsd" [ "$rc" = 0 ]
	t_step_ok "$RT/$mode: losetup -d of the old device works" "$id" detach-l
	t_check "$RT/$mode: ... losetup -a lists the FUSE mounts' devices only" \
		[ "$(mv_step_out "$id" list-after | wc -l)" = 2 ]
	if [ "$mode" = kill ]; then
		t_check "$RT/$mode: the dead FUSE mount is gone from the container's mountinfo" \
			sh -c "! grep -q ' /mnt/h ' <<'EOM'
$(mv_step_out "$id" mountinfo-after)
EOM"
	fi
	host_losetup_check "$RT/$mode" "${devf#/dev/loop}" "${devl#/dev/loop}" "${devh#/dev/loop}" \
		"${devx#/dev/loop}"

	# The old FUSE daemon dies: the supervisor (not its parent any more) sees it.
	kill -KILL "$fuse_pid"
	if mv_wait_log "FUSE daemon .*pid=$fuse_pid (exited|was killed).* while serving .*its mount was detached" 10; then
		t_ok "$RT/$mode: the old FUSE daemon's death is logged, its mount detached"
	else
		t_fail "$RT/$mode: the old FUSE daemon's death is logged, its mount detached" \
			"$(tail -n 20 "$MV_LOG")"
	fi
	mv_sync_go "$ROOTFS" "$id.after"
	mv_sync_wait "$ROOTFS" "$id.end" 30
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
	rc=1
	for ((i = 0; i < 100; i++)); do
		if [ "$(test_images_attached)" = 0 ] && ! ls "$STATE"/c.*.json >/dev/null 2>&1 &&
			[ ! -e "$STATE/loop.json" ]; then
			rc=0
			break
		fi
		sleep 0.1
	done
	t_check "$RT/$mode: after the exit: no loop device with the container's images" \
		[ "$(test_images_attached)" = 0 ]
	for d in "$devf" "$devl" "$devh" "$devx"; do
		[ -n "$d" ] || continue
		t_check "$RT/$mode: after the exit: $d is deleted" \
			sh -c "! [ -e /sys/block/${d#/dev/} ] || ! grep -q . /sys/block/${d#/dev/}/loop/backing_file 2>/dev/null"
	done
	t_check "$RT/$mode: after the exit: no state file of it" \
		sh -c "! ls '$STATE'/c.*.json '$STATE/loop.json' 2>/dev/null"
	t_check "$RT/$mode: after the exit: no fuse2fs or vfsd of it" \
		sh -c "! kill -0 $fuse_pid 2>/dev/null && ! kill -0 $share_pid 2>/dev/null &&
			! kill -0 $vanish_pid 2>/dev/null"
	t_check "$RT/$mode: after the exit: notifyd holds no pipe, loop device or stored fd of it" \
		[ "$(held_fds)" = "$BASE_FDS" ]
}

# A `runc exec` (crun exec) entry makes a loop device and a share, and ends
# while no notifyd runs (keeper stopped, serving notifyd killed): its entry
# is gone at the take-over, but the container lives on, so both are still
# the container's (the device follows the container, the share runs until
# the container's last entry goes); both go when the container exits.
test_exec() {
	local id=rs-$RT-exec xpid out dev vpid rc
	mv_oci_bundle --loop "$MV_TMP/$id" "$ROOTFS" sh -c "mvsync $id.up; mvsync $id.end" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.up" 60; then
		t_fail "$RT/exec: container up" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	mv_sync_go "$ROOTFS" "$id.up"
	rm -f "$ROOTFS/tmp/sync/$id.exgo"
	mv_rt "$RT" exec "$id" sh -c "$LOSETUP -f --show /img/fourth.img &&
		touch /run/e.sock && mount -t vhost-user-fs /srv/data /run/e.sock && echo shared &&
		while [ ! -e /tmp/sync/$id.exgo ]; do sleep 0.1; done" >"$MV_TMP/$id.exec" 2>&1 &
	xpid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q shared "$MV_TMP/$id.exec" && break
		sleep 0.1
	done
	out=$(cat "$MV_TMP/$id.exec")
	dev=$(head -n1 <<<"$out")
	if ! grep -q shared <<<"$out"; then
		t_fail "$RT/exec: an exec makes a loop device and a share" "$out" "$(tail -n 20 "$MV_LOG")"
		kill "$xpid" 2>/dev/null
		mv_delete_all
		return
	fi
	t_ok "$RT/exec: an exec makes a loop device ($dev) and a share"
	vpid=$(mv_share_pids "$id" | tail -n1)
	kill -STOP "$NOTIFYD_PID"
	kill -KILL "$(serving_pid)"
	touch "$ROOTFS/tmp/sync/$id.exgo"
	wait "$xpid"
	before=$(restarts_logged)
	kill -CONT "$NOTIFYD_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(restarts_logged)" -gt "$before" ] && break
		sleep 0.1
	done
	t_check "$RT/exec: a notifyd took over after the exec ended" [ "$(restarts_logged)" -gt "$before" ]
	sleep 1.5 # the supervisor's sweep of shares whose container is gone runs every second
	t_check "$RT/exec: the container's loop device is still bound and its own" \
		grep -q "/img/fourth.img" <<<"$(mv_rt "$RT" exec "$id" "$LOSETUP" -a 2>&1)"
	t_check "$RT/exec: notifyctl list shows the device under the container's entry" \
		grep -qE "^$id .*loop-devices=1" <<<"$(mv_ctl list 2>&1)"
	t_check "$RT/exec: the exec's share still runs (vfsd pid $vpid)" kill -0 "$vpid"
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
	rc=1
	for ((i = 0; i < 100; i++)); do
		if [ "$(test_images_attached)" = 0 ] && ! kill -0 "$vpid" 2>/dev/null &&
			! ls "$STATE"/c.*.json "$STATE/loop.json" >/dev/null 2>&1; then
			rc=0
			break
		fi
		sleep 0.1
	done
	t_check "$RT/exec: after the exit: no loop device, vfsd or state file left" [ "$rc" = 0 ]
}

# What notifyd (and its keeper: the store) holds that a container could have
# left: pipes, block devices, memfds, pidfds (the listeners, the state
# directory and the node tmpfs stay).
held_fds() {
	local pid
	for pid in $NOTIFYD_PID $(serving_pid); do
		find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null
	done | grep -cE '^(pipe:|/dev/loop|anon_inode:\[pidfd\]|/memfd:notifyd-parked)' || true
}

mv_start_notifyd "$PROFILES" --state-dir "$STATE" || mv_bail "notifyd did not start"
BASE_FDS=$(held_fds)
MODES=${RESTART_MODES:-usr2 kill}
for RT in ${RUNTIMES:-crun runc}; do
	for mode in $MODES; do
		if [ "$mode" = kill ] && ! $KEEPER; then
			t_skip "$RT/kill: SIGKILL under notifyd --keeper" "this notifyd has no --keeper yet"
			continue
		fi
		if [ "$mode" = kill ] && [ -z "${KEEPER_STARTED:-}" ]; then
			mv_stop_notifyd
			mv_start_notifyd "$PROFILES" --state-dir "$STATE" --keeper ||
				mv_bail "notifyd --keeper did not start"
			KEEPER_STARTED=1
			BASE_FDS=$(held_fds)
		fi
		test_restart "$mode"
		if [ "$mode" = kill ] && [ "$RT" = crun ]; then
			# An exec's process under the filter but no notify fd of its own.
			t_skip "$RT/exec: an exec's entry gone while no notifyd ran" \
				"crun 1.8.1's exec hands notifyd no notify fd"
		elif [ "$mode" = kill ]; then
			test_exec
		fi
	done
done
t_done
