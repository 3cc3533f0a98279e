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
if [ ! -x "$RT" ] || [ ! -x "$MV_BUILD/vfsd" ]; then
	mv_bail "vfsd and $RT built"
fi

work=$MV_TMP/rt18
run() { # run TAG [vfsd options...]  (ONLY=cases: a subset)
	local tag=$1 o extra=()
	shift
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work" && mkdir -p "$work/share" "$work/outside"
	echo secret >"$work/outside/secret"
	"$RT" --share "$work/share" --outside "$work/outside/secret" --tag "$tag" \
		${ONLY:+--only "$ONLY"} "${extra[@]}"
	local rc=$?
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_redteam18 exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
}

run rt18-inline --sandbox=namespace --rlimit-nofile=512
run rt18-pool --sandbox=namespace --thread-pool-size=4 --rlimit-nofile=512
run rt18-chroot --sandbox=chroot --thread-pool-size=2 --rlimit-nofile=512
run rt18-none --sandbox=none --rlimit-nofile=512
