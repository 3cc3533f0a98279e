#!/bin/bash
# The in-flight log (docs/restart.md "In-flight requests"): notifyd dies in
# the middle of a request -- MOUNTVISOR_CRASH_AT=POINT makes it -- and the
# notifyd that takes over gives the caller exactly its normal answer.
#
# For each point (after-recv, before-attach, after-attach, before-answer
# for a kernel mount; after-umount for umount2; after-loop-add for
# losetup -f; before-daemon-mark (the daemon runs, the log does not name it
# yet), after-daemon-start and after-attach for a FUSE mount, and an
# upgrade while a FUSE program starts), a crun and a runc container make the
# call once: it returns 0, the mount is there
# once (not stacked twice), its umount works, losetup shows one device, no
# FUSE daemon or loop device is left over, the log says "recovered:", and
# `notifyctl stats` counts every request once.  Then LXC's proxy (after-recv,
# before-answer): the request is answered once through LXC's connection.
#
# How notifyd "dies", both ways in turn: SIGKILL under its keeper
# (`notifyd --keeper`, the store that outlives it; a new pid takes over),
# and MOUNTVISOR_CRASH_MODE=exec, which re-executes it in place at that
# point, nothing finished (the same hand-over of fds and log, same pid).
#   MV_INFLIGHT_MODE=kill|exec, RUNTIMES="crun runc", POINTS="...",
#   LXC_POINTS="..." to run a subset.
if [ -z "${MV_INFLIGHT_MODE:-}" ]; then
	rc=0
	for mode in kill exec; do
		MV_INFLIGHT_MODE=$mode "$0" "$@" || rc=1
	done
	exit "$rc"
fi
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

MODE=$MV_INFLIGHT_MODE
ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
FUSE2FS=$(command -v fuse2fs || true)
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 2

[fs ext4]
action = kernel
idmap = yes

[fs tmpfs]
action = continue
EOF
cat >"$PROFILES/fuse.conf" <<EOF
[profile]
default-action = deny
max-fuse-daemons = 2

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
DEV=
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
# FUSE points get their own image: fuse2fs must never read a superblock the
# kernel's ext4 (mounted from DEV in other points) may be writing.
mv_make_ext4 "$MV_TMP/fuse.img" || mv_bail "cannot build the ext4 image"
FDEV=
mv_loop_attach "$MV_TMP/fuse.img" FDEV || mv_bail "cannot attach a loop device"

RUNTIMES=${RUNTIMES:-crun runc}
POINTS_SET=${POINTS:-}
POINTS=${POINTS:-after-recv before-attach after-attach before-answer after-umount after-loop-add fuse:before-daemon-mark fuse:after-daemon-start fuse:after-attach fuse:upgrade}
# A bound device needs the loop table restored at restart (loop_state.c's
# restore) for the container to release it: only then.
if [ -z "${POINTS_SET:-}" ] && grep -q '"loop-devices"' "$MV_SRC/notifyd/restart.c"; then
	POINTS="$POINTS after-loop-configure"
fi
cp "$MV_TMP/disk.img" "$ROOTFS/tmp/img.ext4" && chown 100000:100000 "$ROOTFS/tmp/img.ext4"
# Should a test leave a device bound to it, it goes with the test.
defer 'losetup -j "$ROOTFS/tmp/img.ext4" -O NAME -n | xargs -r -n1 losetup -d'

# start_crashing POINT : notifyd that dies at POINT of its first request there.
start_crashing() {
	if [ "$MODE" = kill ]; then
		MOUNTVISOR_CRASH_AT=$1 mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state" --keeper
	else
		MOUNTVISOR_CRASH_AT=$1 MOUNTVISOR_CRASH_MODE=exec \
			mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state"
	fi
}

# the notifyd serving now (the keeper's child, or the re-executed one)
serving_pid() { mv_ctl stats 2>/dev/null | sed -n 's/^pid: //p'; }
stat_of() { mv_ctl stats 2>/dev/null | sed -n "s/^$1: //p"; }

# stats_consistent DESC : requests = kernel + continue + denied + enosys + failed
t_stats_consistent() {
	local s req sum
	s=$(mv_ctl stats 2>&1)
	req=$(sed -n 's/^requests: //p' <<<"$s")
	sum=0
	for k in kernel continue denied enosys failed; do
		sum=$((sum + $(sed -n "s/^$k: //p" <<<"$s" | grep . || echo 0)))
	done
	t_check "$1" [ -n "$req" ] && [ "$req" -gt 0 ] && [ "$req" = "$sum" ] ||
		t_diag "$s"
}

# loop devices notifyd's log names (answers to LOOP_CTL_*, removals) that
# still exist unbound
left_loops() {
	local nr
	for nr in $({
		grep 'syscall=ioctl' "$MV_LOG" | grep -oE 'result=[0-9]+' | cut -d= -f2
		grep -oE 'removed loop[0-9]+' "$MV_LOG" | grep -oE '[0-9]+$'
	} | sort -u); do
		[ -e "/sys/block/loop$nr" ] && [ ! -e "/sys/block/loop$nr/loop/backing_file" ] &&
			echo "loop$nr"
	done
}

n=0
for RT in $RUNTIMES; do
	command -v "$RT" >/dev/null || {
		t_skip "$MODE $RT: in-flight recovery" "$RT not installed"
		continue
	}
	for P in $POINTS; do
		n=$((n + 1))
		id=inflight-$RT-$n
		point=${P#fuse:}
		case $P in
		fuse:*)
			[ -n "$FUSE2FS" ] || {
				t_skip "$MODE $RT: $P" "fuse2fs not installed"
				continue
			}
			# A fresh image each: a FUSE program killed by its container's
			# pid namespace while it still flushes (or stopped while it opens
			# the image) may leave a torn superblock for the next point.
			cp "$MV_TMP/fuse.img" "$MV_TMP/fuse-$n.img"
			FDEV=
			mv_loop_attach "$MV_TMP/fuse-$n.img" FDEV || mv_bail "cannot attach a loop device"
			profile=fuse
			script="mvstep m mount -t ext4 $FDEV /mnt/a
mvstep count sh -c 'grep -c \" /mnt/a \" /proc/self/mountinfo'
mvstep read cat /mnt/a/hello.txt
mvstep u umount /mnt/a"
			;;
		after-loop-configure)
			profile=default
			script="mvstep l /usr/sbin/losetup -f /tmp/img.ext4
mvstep count sh -c 'ls /dev | grep -c ^loop[0-9]'
mvstep d sh -c 'losetup -d /dev/loop*[0-9]'"
			;;
		after-loop-add)
			profile=default
			script="mvstep l /usr/sbin/losetup -f
mvstep count sh -c 'ls /dev | grep -c ^loop[0-9]'"
			;;
		*)
			profile=default
			script="mvstep m mount -t ext4 $DEV /mnt/a
mvstep count sh -c 'grep -c \" /mnt/a \" /proc/self/mountinfo'
mvstep read cat /mnt/a/hello.txt
mvstep u umount /mnt/a
mvstep count2 sh -c 'grep -c \" /mnt/a \" /proc/self/mountinfo'"
			;;
		esac
		if [ "$point" = upgrade ]; then
			# SIGUSR2 while the FUSE program starts (on a thread of its own,
			# not waited for): the new binary recovers it from the log.
			mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state" || continue
		else
			start_crashing "$point" || continue
		fi
		pid0=$(serving_pid)
		bundle=$MV_TMP/b-$id
		if [ "$P" = after-loop-add ] || [ "$P" = after-loop-configure ]; then
			mv_oci_bundle --profile "$profile" --loop --sysfs "$bundle" "$ROOTFS" sh -c "$script"
			mv_bind_host_libs "$bundle"
		elif [ "$profile" = fuse ]; then
			mv_oci_bundle --profile "$profile" --device "$FDEV" "$bundle" "$ROOTFS" sh -c "$script"
			mv_bind_host_libs "$bundle"
		else
			mv_oci_bundle --profile "$profile" --device "$DEV" "$bundle" "$ROOTFS" sh -c "$script"
		fi
		if [ "$point" = upgrade ]; then
			mv_start "$RT" "$bundle" "$id" 60
			for ((i = 0; i < 200; i++)); do
				grep -q "fuse2fs gets" "$MV_LOG" && break
				sleep 0.05
			done
			kill -USR2 "$NOTIFYD_PID"
			mv_wait "$id"
			rc=$?
		else
			mv_run "$RT" "$bundle" "$id" 60
			rc=$?
		fi
		t_check "$MODE $RT $P: the container ran to its end" [ "$rc" = 0 ] || t_diag "$(cat "$(mv_out "$id")")"
		case $P in
		after-loop-configure)
			t_step_ok "$MODE $RT $P: losetup -f IMAGE returned 0" "$id" l
			t_check "$MODE $RT $P: one loop device node in the container" \
				[ "$(mv_step_out "$id" count)" = 1 ] || t_diag "$(mv_step_out "$id" count)"
			t_step_ok "$MODE $RT $P: losetup -d returned 0" "$id" d
			for ((i = 0; i < 30; i++)); do
				[ -z "$(losetup -j "$ROOTFS/tmp/img.ext4")" ] && break
				sleep 0.1
			done
			t_check "$MODE $RT $P: no device left bound to the image" \
				[ -z "$(losetup -j "$ROOTFS/tmp/img.ext4")" ]
			;;
		after-loop-add)
			t_step_ok "$MODE $RT $P: losetup -f returned 0" "$id" l
			t_check "$MODE $RT $P: one loop device node in the container" \
				[ "$(mv_step_out "$id" count)" = 1 ] || t_diag "$(mv_step_out "$id" count)"
			;;
		*)
			t_step_ok "$MODE $RT $P: mount returned 0" "$id" m
			t_check "$MODE $RT $P: mounted once, not stacked" [ "$(mv_step_out "$id" count)" = 1 ] ||
				t_diag "$(mv_step_out "$id" count)"
			t_check "$MODE $RT $P: the mount serves the image" \
				grep -q "hello" <<<"$(mv_step_out "$id" read)"
			t_step_ok "$MODE $RT $P: umount returned 0" "$id" u
			;;
		esac
		case $P in fuse:* | after-loop-*) ;;
		*)
			t_check "$MODE $RT $P: nothing left at /mnt/a after the umount" \
				[ "$(mv_step_out "$id" count2)" = 0 ]
			;;
		esac
		if [ "$point" = upgrade ]; then
			# Where the start-up was when the exec came is up to timing.
			t_check "$MODE $RT $P: notifyd was upgraded" grep -q "took over from the notifyd before us" "$MV_LOG"
			t_diag "upgrade came $(grep -q 'recovered: id=' "$MV_LOG" && echo 'during the start-up (recovered)' || echo 'outside the start-up')"
		else
			t_check "$MODE $RT $P: notifyd died and came back (log: recovered)" \
				grep -q "recovered: id=" "$MV_LOG" || t_diag "$(grep -E 'test hook|recover|took over' "$MV_LOG" | tail -n 8)"
		fi
		if [ "$P" = fuse:before-daemon-mark ] && [ "$MODE" = exec ]; then
			# Our child after the exec, named by nothing: stopped and reaped
			# (its zombie would keep the container's init from ending).
			t_check "$MODE $RT $P: the daemon no record names was stopped" \
				grep -q "named by no record" "$MV_LOG"
		fi
		pid1=$(serving_pid)
		t_check "$MODE $RT $P: notifyd serves again (pid $pid0 -> $pid1)" [ -n "$pid1" ]
		t_stats_consistent "$MODE $RT $P: notifyctl stats totals add up"
		# Nothing leaked: no loop device notifyd made (the ones its log names:
		# other tests make their own meanwhile) is left unbound, no FUSE daemon.
		for ((i = 0; i < 30; i++)); do
			[ -z "$(left_loops)" ] && break
			sleep 0.1
		done
		t_check "$MODE $RT $P: no loop device left" [ -z "$(left_loops)" ] || t_diag "$(left_loops)"
		lstat=$(stat_of loop-devices)
		t_check "$MODE $RT $P: notifyd holds no loop device" [ "${lstat:-0}" = 0 ]
		t_check "$MODE $RT $P: no FUSE daemon left" [ -z "$(pgrep -f "fuse2fs $FDEV" || true)" ]
		mv_stop_notifyd
		grep -E "recovered:|test hook: crash|removed loop|killed pid" "$MV_LOG" | sed "s/^/# /"
		: >"$MV_LOG"
	done
done

# Two containers (crun and runc) mount and unmount ext4 in a loop at once;
# notifyd dies at POINT of the Kth request that gets there, with requests of
# both in flight: every call of both still returns 0, no mount is stacked.
# Under the keeper only: the exec hook re-executes from a worker while the
# other workers go on using fds, and fdstore_exec() moves the stored fds to
# 3.. in the process's one fd table meanwhile (an upgrade quiesces the
# workers first).
STORM_N=${STORM_N:-40}
for point in ${STORM_POINTS:-after-recv:30 after-attach:25 before-answer:40 after-umount:20}; do
	[ "$MODE" = kill ] || break
	command -v crun >/dev/null && command -v runc >/dev/null || break
	start_crashing "$point" || continue
	ids=()
	for RT in crun runc; do
		id=storm-$RT-${point%%:*}
		ids+=("$id")
		bundle=$MV_TMP/b-$id
		mv_oci_bundle --device "$DEV" "$bundle" "$ROOTFS" sh -c "
i=0
while [ \$i -lt $STORM_N ]; do
	mount -t ext4 $DEV /mnt/a || { echo FAIL mount \$i; exit 1; }
	n=\$(grep -c ' /mnt/a ' /proc/self/mountinfo)
	[ \$n = 1 ] || { echo FAIL stacked \$i \$n; exit 1; }
	umount /mnt/a || { echo FAIL umount \$i; exit 1; }
	i=\$((i + 1))
done
echo DONE \$i"
		mv_start "$RT" "$bundle" "$id" 120
	done
	for id in "${ids[@]}"; do
		mv_wait "$id"
		rc=$?
		t_check "$MODE storm $point: $id made $STORM_N mounts and umounts, each 0, none stacked" \
			[ "$rc" = 0 ] && grep -q "^DONE $STORM_N$" "$(mv_out "$id")" ||
			t_diag "rc=$rc: $(tail -n 3 "$(mv_out "$id")")"
	done
	t_check "$MODE storm $point: notifyd died and came back" grep -q "took over from the notifyd before us" "$MV_LOG" ||
		t_diag "$(grep -E 'test hook|recover|took over' "$MV_LOG" | tail -n 8)"
	t_stats_consistent "$MODE storm $point: notifyctl stats totals add up"
	grep -E "recovered:|test hook: crash|result=E|error|warn" "$MV_LOG" | sed "s/^/# /"
	mv_stop_notifyd
	: >"$MV_LOG"
done

# LXC's proxy (tests/helpers/lxc_proxy_client plays the monitor): notifyd
# dies right after it took the first message off the connection; its
# successor finds the monitor's notify fd by the request's id, handles the
# request again and answers through the connection handed back.
CLIENT=$MV_BUILD/tests/helpers/lxc_proxy_client
if [ -x "$CLIENT" ] && { [ -z "${LXC_POINTS+x}" ] || [ -n "$LXC_POINTS" ]; }; then
	for point in ${LXC_POINTS:-after-recv before-answer}; do
		if [ "$MODE" = kill ]; then
			MOUNTVISOR_CRASH_AT=$point mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state" \
				--lxc-socket "$MV_TMP/run/lxc.sock" --keeper || continue
		else
			MOUNTVISOR_CRASH_AT=$point MOUNTVISOR_CRASH_MODE=exec mv_start_notifyd "$PROFILES" \
				--state-dir "$MV_TMP/state" --lxc-socket "$MV_TMP/run/lxc.sock" || continue
		fi
		out=$(timeout 60 "$CLIENT" "$MV_TMP/run/lxc.sock" 2>&1)
		t_check "$MODE LXC $point: the first request is answered once, through LXC's connection" \
			grep -q "^case=first-real reply=[1-9][0-9]* error=ENODEV " <<<"$out" || t_diag "$out"
		t_check "$MODE LXC $point: the caller's mount(2) got ENODEV" grep -q "^child errno=ENODEV$" <<<"$out"
		t_check "$MODE LXC $point: the connection goes on (malformed requests answered at once)" \
			grep -q "^case=reserved-set reply=[1-9][0-9]* error=ENOSYS " <<<"$out"
		t_check "$MODE LXC $point: recovered from the log" grep -q "recovered: id=.*container=" "$MV_LOG" ||
			t_diag "$(grep -E 'test hook|recover|took over' "$MV_LOG" | tail -n 8)"
		t_stats_consistent "$MODE LXC $point: notifyctl stats totals add up"
		grep -E "recovered:|test hook: crash" "$MV_LOG" | sed "s/^/# /"
		mv_stop_notifyd
		: >"$MV_LOG"
	done
fi
t_done
