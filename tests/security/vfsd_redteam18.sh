#!/bin/bash
# The red team of issue 18's vfsd changes (tests/security/vfsd_redteam18.c):
# host-shared locks (a write lock through a read-only open, locks of new
# owners while the host swaps a FIFO and a device node over the open file's
# name), the cached fsuid/fsgid (callers alternating on one queue, ids vfsd
# cannot take, ACCESS), the known-inode LOOKUP and READDIRPLUS by d_ino under
# host renames (a node id never changes type), and every cap reached at once
# (owners, handles, waiters) then a disconnect.  Inline queues, a pool, the
# chroot and none sandboxes; the budget case with a small RLIMIT_NOFILE.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RT=$MV_BUILD/tests/helpers/vfsd_redteam18
SLOWFS=$MV_BUILD/tests/helpers/slow_fuse
if [ ! -x "$RT" ] || [ ! -x "$MV_BUILD/vfsd" ] || [ ! -x "$SLOWFS" ]; then
	mv_bail "vfsd, $RT and $SLOWFS built"
fi

work=$MV_TMP/rt18
# The hostile FUSE mount (SLOW=1 runs): share/fz, opens hang while $work/flag exists.
slow_pid=
slow_mount() {
	mkdir -p "$work/share/fz"
	"$SLOWFS" "$work/flag" "$work/share/fz" -f -o allow_other &
	slow_pid=$!
	for _ in $(seq 50); do
		mountpoint -q "$work/share/fz" && return 0
		sleep 0.1
	done
	return 1
}
slow_umount() {
	rm -f "$work/flag" "$work/flag.close" "$work/flag.lock"
	umount -l "$work/share/fz" 2>/dev/null
	[ -n "$slow_pid" ] && kill "$slow_pid" 2>/dev/null && wait "$slow_pid" 2>/dev/null
	slow_pid=
}
defer slow_umount

run() { # run TAG [vfsd options...]  (RT18_ONLY=cases: a subset; SLOW=1: with the FUSE mount)
	local tag=$1 o extra=()
	shift
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work" && mkdir -p "$work/share" "$work/outside"
	echo secret >"$work/outside/secret"
	if [ -n "${SLOW:-}" ]; then
		if slow_mount; then
			extra+=(--slow-flag "$work/flag")
		else
			t_fail "$tag: the hostile FUSE mount came up"
		fi
	fi
	"$RT" --share "$work/share" --outside "$work/outside/secret" --tag "$tag" \
		${RT18_ONLY:+--only "${RT18_ONLY}"} "${extra[@]}"
	local rc=$?
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_redteam18 exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
	slow_umount
}

run rt18-inline --sandbox=namespace --rlimit-nofile=512
SLOW=1 run rt18-pool --sandbox=namespace --thread-pool-size=4 --rlimit-nofile=512
SLOW=1 run rt18-chroot --sandbox=chroot --thread-pool-size=2 --rlimit-nofile=512
SLOW=1 run rt18-none --sandbox=none --thread-pool-size=2 --rlimit-nofile=512
run rt18-inline-none --sandbox=none --rlimit-nofile=512
