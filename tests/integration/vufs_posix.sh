#!/bin/bash
# vhost-user-fs-mount in front of vfsd and of QEMU's C virtiofsd: the POSIX
# behaviour suite (tests/posix/posix_suite.c) on the mount must give the same
# results as on a plain local directory of the same file system (tmpfs), but
# for the cases listed with a reason in tests/posix/known-differences.txt.
# Both with VIRTIO_RING_F_EVENT_IDX (negotiated by default) and without
# (--no-event-idx), each with a parallel stress (8 processes of small
# operations and 2 large copies, several queues) that must end in bounded
# time with the watchdog off, so a lost kick or call shows as a hang, and
# --stats must show no reply found late.
# Also: several queues at once, ENOTCONN (not a hang) when the back-end dies,
# and the front-end exits when the file system is unmounted.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

MOUNT=$MV_BUILD/vhost-user-fs-mount
SUITE=$MV_BUILD/tests/posix/posix_suite
VFSD=$MV_BUILD/vfsd
VIRTIOFSD=/usr/lib/qemu/virtiofsd
for p in "$MOUNT" "$SUITE" "$VFSD"; do
	[ -x "$p" ] || mv_bail "$p not built"
done
# The sanitizers' runtime makes syscalls outside vfsd's allowlist.
VFSD_ARGS=()
ldd "$VFSD" 2>/dev/null | grep -q libasan && VFSD_ARGS+=(--seccomp=log)
KNOWN=$(grep -v '^#' "$MV_SRC/tests/posix/known-differences.txt" | awk 'NF {print $1}')

mkdir -p "$MV_TMP/ref" "$MV_TMP/share" "$MV_TMP/mnt"
"$SUITE" "$MV_TMP/ref" >"$MV_TMP/ref.txt" 2>&1
t_check "the suite runs on a local directory ($(wc -l <"$MV_TMP/ref.txt") cases)" \
	test "$(wc -l <"$MV_TMP/ref.txt")" -ge 60

# No watchdog: a lost notification must hang (and fail a bounded wait), not be rescued.
MOUNT_ARGS=(--stats --watchdog 0)
# Let the front-end exit by itself after the unmount, so --stats is printed.
stop_all() { mv_vufs_stop 5; }
defer stop_all

# start NAME QUEUES BACKEND-COMMAND... : back-end on $MV_TMP/vu.sock, mounted at $MV_TMP/mnt.
start() {
	local name=$1 queues=$2
	shift 2
	MV_VUFS_ARGS=("${MOUNT_ARGS[@]}" --queues "$queues")
	mv_vufs_start "$name" "$MV_TMP/mnt" "$@"
}

# compare NAME : the suite on the mount against the local run.
compare() {
	local name=$1 diffs unknown c
	timeout 120 "$SUITE" "$MV_TMP/mnt" >"$MV_TMP/$name.txt" 2>&1
	diffs=$(diff "$MV_TMP/ref.txt" "$MV_TMP/$name.txt" | sed -n 's/^[<>] \([^:]*\):.*/\1/p' | sort -u)
	unknown=
	for c in $diffs; do
		grep -qx -- "$c" <<<"$KNOWN" || unknown+="$c "
	done
	if [ -z "$unknown" ]; then
		t_ok "$name: POSIX suite gives the local results ($(wc -l <"$MV_TMP/$name.txt") cases${diffs:+, known differences: $diffs})"
	else
		t_fail "$name: POSIX suite gives the local results" "cases that differ: $unknown" \
			"$(diff "$MV_TMP/ref.txt" "$MV_TMP/$name.txt")"
	fi
}

# stress NAME : 8 processes of small operations and 2 large copies at once,
# bounded; every one must finish with the right data.
stress() {
	local name=$1 j pids=() ok=0 rc
	head -c 4M /dev/urandom >"$MV_TMP/big.src"
	for ((j = 1; j <= 8; j++)); do
		(
			d=$MV_TMP/mnt/s$j
			mkdir "$d" || exit 1
			for ((i = 0; i < 150; i++)); do
				echo "$j.$i" >"$d/f$((i % 10))" && [ "$(cat "$d/f$((i % 10))")" = "$j.$i" ] &&
					ls "$d" >/dev/null && stat "$d/f$((i % 10))" >/dev/null || exit 1
				[ $((i % 10)) = 9 ] && { rm "$d"/f* || exit 1; }
			done
		) &
		pids+=($!)
	done
	for ((j = 1; j <= 2; j++)); do
		(cp "$MV_TMP/big.src" "$MV_TMP/mnt/big$j" && cmp -s "$MV_TMP/big.src" "$MV_TMP/mnt/big$j") &
		pids+=($!)
	done
	# The watchdog of the test: a hang (lost wake-up) fails here instead of stalling the suite.
	rc=0
	timeout 180 bash -c 'while kill -0 "$@" 2>/dev/null; do sleep 0.2; done' _ "${pids[@]}" || rc=124
	for j in "${pids[@]}"; do
		if [ "$rc" = 124 ]; then
			kill -9 "$j" 2>/dev/null
		fi
		wait "$j" && ok=$((ok + 1))
	done
	t_check "$name: parallel stress (10 processes) ends within 180 s, all right" \
		[ "$rc" = 0 -a "$ok" = 10 ]
}

# stats NAME on|off : after stop_all, the front-end's --stats line.
stats() {
	local line
	line=$(grep 'stats: event-idx' "$MV_TMP/$1-mount.log")
	t_diag "$1: ${line#*stats: }"
	t_check "$1: EVENT_IDX $2, no reply found late by a watchdog" \
		grep -q "stats: event-idx $2 .* late-used 0\$" <<<"$line"
}

# Back-ends as root with the namespace sandbox, xattrs on, like a VM's; with
# EVENT_IDX, then without.
for mode in on off; do
	sfx= MOUNT_ARGS=(--stats --watchdog 0)
	[ $mode = off ] && sfx=-noevidx MOUNT_ARGS+=(--no-event-idx)
	if start vfsd$sfx 1 "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" \
		--shared-dir="$MV_TMP/share" --xattr; then
		compare vfsd$sfx
		stop_all
		stats vfsd$sfx $mode
	fi
	if start vfsd-4q$sfx 4 "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" \
		--shared-dir="$MV_TMP/share" --xattr --thread-pool-size=2; then
		compare vfsd-4q$sfx
		# Four readers at once, one per queue at best: all must see the same bytes.
		head -c 8M /dev/urandom >"$MV_TMP/share/big"
		sum=$(md5sum <"$MV_TMP/share/big")
		ok=0 pids=()
		for i in 1 2 3 4; do
			(md5sum <"$MV_TMP/mnt/big" >"$MV_TMP/sum$i") &
			pids+=($!)
		done
		wait "${pids[@]}"
		for i in 1 2 3 4; do
			[ "$(cat "$MV_TMP/sum$i")" = "$sum" ] && ok=$((ok + 1))
		done
		t_check "vfsd-4q$sfx: four parallel readers get the right data" [ "$ok" = 4 ]
		stress vfsd-4q$sfx
		stop_all
		stats vfsd-4q$sfx $mode
	fi
	if [ -x "$VIRTIOFSD" ]; then
		if start virtiofsd$sfx 1 "$VIRTIOFSD" --socket-path="$MV_TMP/vu.sock" \
			-o source="$MV_TMP/share" -o xattr; then
			compare virtiofsd$sfx
			stress virtiofsd$sfx
			stop_all
			stats virtiofsd$sfx $mode
		fi
	else
		t_skip "QEMU's virtiofsd" "$VIRTIOFSD not installed (qemu-system-common)"
	fi
done
MOUNT_ARGS=()

# The back-end dies: callers get ENOTCONN at once (ECONNABORTED for one that
# was already queued when the front-end aborted the connection, e.g. behind
# the asynchronous RELEASE of the file just written), the front-end exits.
if start vfsd-dies 1 "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" --shared-dir="$MV_TMP/share"; then
	echo x >"$MV_TMP/mnt/file"
	kill -9 "$MV_VUFS_BACKEND"
	wait "$MV_VUFS_BACKEND" 2>/dev/null
	MV_VUFS_BACKEND=
	out=$(timeout 10 stat "$MV_TMP/mnt/file" 2>&1)
	rc=$?
	t_diag "stat said: $out"
	t_check "back-end killed: stat fails with ENOTCONN, no hang" \
		test "$rc" != 124 -a "$rc" != 0 -a -n "$({ mv_errno_in ENOTCONN "$out" ||
			mv_errno_in ECONNABORTED "$out"; } && echo y)"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$MV_VUFS_FRONT" 2>/dev/null || break
		sleep 0.1
	done
	t_check "the front-end exited" sh -c "! kill -0 $MV_VUFS_FRONT 2>/dev/null"
	wait "$MV_VUFS_FRONT" 2>/dev/null
	MV_VUFS_FRONT=
	umount "$MV_TMP/mnt"
fi

# Unmounting ends the front-end with status 0.
if start vfsd-umount 1 "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" --shared-dir="$MV_TMP/share"; then
	umount "$MV_TMP/mnt"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$MV_VUFS_FRONT" 2>/dev/null || break
		sleep 0.1
	done
	wait "$MV_VUFS_FRONT"
	rc=$?
	MV_VUFS_FRONT=
	t_check "umount ends vhost-user-fs-mount with status 0" [ "$rc" = 0 ]
	stop_all
fi
t_check "nothing left mounted" sh -c "! grep -q ' $MV_TMP/mnt ' /proc/self/mounts"
t_done
