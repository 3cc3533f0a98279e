#!/bin/bash
# A hostile guest against vfsd's host-shared locks (tests/security/vfsd_locks_hostile.c):
# garbage in GETLK/SETLK/SETLKW, a symlink out of the share, a flood of
# SETLKW past the waiter cap (other requests keep being answered, threads
# bounded by the cap), INTERRUPT of a waiter, and a disconnect with 64
# waiters (threads, fds and locks all go; a new front-end is served).  With
# queue threads serving inline and with a pool, in the namespace sandbox and
# in chroot.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

HOSTILE=$MV_BUILD/tests/helpers/vfsd_locks_hostile
if [ ! -x "$HOSTILE" ] || [ ! -x "$MV_BUILD/vfsd" ]; then
	mv_bail "vfsd and $HOSTILE built"
fi

work=$MV_TMP/locks
run() { # run TAG [vfsd options...]
	local tag=$1 o extra=()
	shift
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work" && mkdir -p "$work/share" "$work/outside"
	echo data >"$work/share/f"
	echo secret >"$work/outside/secret"
	ln -s "$work/outside/secret" "$work/share/esc"
	"$HOSTILE" --share "$work/share" --outside-file "$work/outside/secret" --tag "$tag" "${extra[@]}"
	local rc=$?
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_locks_hostile exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
}

run locks-inline --sandbox=namespace
run locks-pool --sandbox=namespace --thread-pool-size=4
run locks-chroot --sandbox=chroot --thread-pool-size=2
