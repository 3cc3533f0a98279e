#!/bin/bash
# POSIX (fcntl) and flock locks shared between a vfsd mount and the host:
# vhost-user-fs-mount in front of vfsd (namespace sandbox, seccomp kill), a
# process on the mount and a process on the shared directory see each other's
# locks both ways; F_SETLKW on the mount waits without holding up the queue,
# is granted when the host lets go and ends with EINTR on a signal (the
# front-end forwards FUSE_INTERRUPT); locks go when the mount-side process
# closes or exits; two processes on the mount conflict with each other.
# Once with queue threads serving inline (one queue), once with a pool of
# workers on two queues; and --no-locks keeps locks in the "guest".
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

MOUNT=$MV_BUILD/vhost-user-fs-mount
VFSD=$MV_BUILD/vfsd
PROBE=$MV_SRC/tests/helpers/lockprobe.py
for p in "$MOUNT" "$VFSD"; do
	[ -x "$p" ] || mv_bail "$p not built"
done
VFSD_ARGS=()
ldd "$VFSD" 2>/dev/null | grep -q libasan && VFSD_ARGS+=(--seccomp=log)
SHARE=$MV_TMP/share MNT=$MV_TMP/mnt

HOLDERS=()
stop_all() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; done
	HOLDERS=()
	mv_vufs_stop
}
defer stop_all

# start NAME QUEUES VFSD-ARGS... : vfsd on $MV_TMP/vu.sock mounted at $MNT.
start() {
	local name=$1 queues=$2
	shift 2
	MV_VUFS_ARGS=(--queues "$queues")
	mv_vufs_start "$name" "$MNT" "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" \
		--shared-dir="$SHARE" "$@"
}

probe() { timeout 20 "$MV_PYTHON" "$PROBE" "$@" 2>&1; }

# expect WANT CMD... : CMD's output is WANT.
expect() {
	local want=$1 out
	shift
	out=$("$@" 2>&1)
	[ "$out" = "$want" ] && return 0
	echo "expected '$want', got '$out'"
	return 1
}

# hold VAR ARGS... : a lockprobe "hold" in the background; waits for "held".
hold() {
	local var=$1 out=$MV_TMP/hold.$RANDOM i
	shift
	: >"$out"
	timeout 120 "$MV_PYTHON" "$PROBE" hold "$@" >"$out" 2>&1 &
	printf -v "$var" %s $!
	HOLDERS+=($!)
	for ((i = 0; i < 100; i++)); do
		grep -q held "$out" && return 0
		sleep 0.05
	done
	echo "holder did not get the lock: $(cat "$out")"
	return 1
}

# free_within KIND SECONDS : the host can take a KIND write lock on the file within SECONDS.
free_within() {
	local i out
	for ((i = 0; i < $2 * 10; i++)); do
		out=$(probe try "$SHARE/f" "$1" w)
		[ "$out" = ok ] && return 0
		sleep 0.1
	done
	echo "still locked after $2 s: $out"
	return 1
}

release() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# waited OUTPUT WORD MIN MAX : "WORD SECONDS" with MIN <= SECONDS < MAX.
waited() {
	awk -v w="$2" -v lo="$3" -v hi="$4" '$1 == w && $2 >= lo && $2 < hi {ok = 1} END {exit !ok}' <<<"$1" &&
		return 0
	echo "expected '$2' after $3..$4 s, got '$1'"
	return 1
}

# start_waiter PATH KIND : a blocking write lock on PATH in the background
# (WAITER, its answer in waiter.out), given a second to block.
start_waiter() {
	: >"$MV_TMP/waiter.out"
	probe wait "$1" "$2" w >"$MV_TMP/waiter.out" &
	WAITER=$!
	sleep 1
}

still_waiting() {
	[ ! -s "$MV_TMP/waiter.out" ] && return 0
	echo "returned while the host held its lock: $(cat "$MV_TMP/waiter.out")"
	return 1
}

# granted_now : the waiter says "granted" within 10 s.
granted_now() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '^granted' "$MV_TMP/waiter.out" && return 0
		sleep 0.1
	done
	echo "waiter said: $(cat "$MV_TMP/waiter.out")"
	return 1
}

threads() { ls "/proc/$MV_VUFS_BACKEND/task" 2>/dev/null | wc -l; }

# Threads of vfsd back to n (waiters gone) within 3 s.
threads_back_to() {
	local i
	for ((i = 0; i < 30; i++)); do
		[ "$(threads)" -le "$1" ] && return 0
		sleep 0.1
	done
	echo "vfsd has $(threads) threads, $1 before the waits"
	return 1
}

# Requests on the mount keep being answered while a SETLKW waits.
others_served() {
	local i
	for ((i = 0; i < 50; i++)); do
		timeout 5 stat "$MNT/g" >/dev/null || return 1
		timeout 5 cat "$MNT/g" >/dev/null || return 1
	done
	timeout 5 sh -c "echo more >>'$MNT/g'"
}

run_locks() {
	local n=$1 gp hp out base wpid
	echo data >"$SHARE/f"
	echo other >"$SHARE/g"
	base=$(threads)

	# A POSIX lock taken on the mount, seen by the host.
	hold gp "$MNT/f" posix w || t_fail "$n: a process on the mount takes a POSIX write lock"
	t_check "$n: the host's F_SETLK gets EAGAIN while a mount process holds a POSIX lock" \
		expect EAGAIN probe try "$SHARE/f" posix w
	t_check "$n: the host's F_GETLK reports the mount's write lock" \
		expect WRLCK probe getlk "$SHARE/f" r
	t_check "$n: another process on the mount conflicts with it (F_SETLK EAGAIN)" \
		expect EAGAIN probe try "$MNT/f" posix r
	t_check "$n: and F_GETLK on the mount reports it" expect WRLCK probe getlk "$MNT/f" r
	# (the holder is timeout's child)
	t_check "$n: with the holder's pid" expect "$(pgrep -P "$gp")" probe getlkpid "$MNT/f" r
	release "$gp"
	t_check "$n: the lock goes when the mount-side process exits" \
		expect ok probe try "$SHARE/f" posix w

	# A POSIX lock taken on the host, seen on the mount.
	hold hp "$SHARE/f" posix r || t_fail "$n: the host takes a POSIX read lock"
	t_check "$n: F_SETLK on the mount gets EAGAIN while the host holds a lock" \
		expect EAGAIN probe try "$MNT/f" posix w
	t_check "$n: a shared lock on the mount coexists with the host's read lock" \
		expect ok probe try "$MNT/f" posix r
	t_check "$n: F_GETLK on the mount reports the host's read lock" \
		expect RDLCK probe getlk "$MNT/f" w
	t_check "$n: with pid 0 (a host pid means nothing on the other side)" \
		expect 0 probe getlkpid "$MNT/f" w
	start_waiter "$MNT/f" posix
	t_check "$n: F_SETLKW on the mount waits while the host holds its lock" still_waiting
	release "$hp"
	t_check "$n: ... and is granted when the host lets go" granted_now
	wait "$WAITER"

	# A waiting F_SETLKW is interrupted by a signal; the queue keeps serving.
	hold hp "$SHARE/f" posix w || t_fail "$n: the host takes a POSIX write lock"
	probe wait "$MNT/f" posix w 2 >"$MV_TMP/wait.out" &
	wpid=$!
	sleep 0.3
	t_check "$n: other requests are answered while a SETLKW waits" others_served
	wait "$wpid"
	out=$(cat "$MV_TMP/wait.out")
	t_check "$n: a signal ends the waiting F_SETLKW with EINTR ($out)" waited "$out" EINTR 1.5 5
	t_check "$n: the host still holds its lock" expect EAGAIN probe try "$MNT/f" posix w
	t_check "$n: no waiter thread is left in vfsd" threads_back_to "$base"
	release "$hp"

	# flock, both ways.
	hold gp "$MNT/f" flock w || t_fail "$n: a process on the mount takes an flock"
	t_check "$n: the host's flock(LOCK_NB) gets EWOULDBLOCK while the mount holds one" \
		expect EAGAIN probe try "$SHARE/f" flock w
	t_check "$n: another open on the mount conflicts with it too" \
		expect EAGAIN probe try "$MNT/f" flock r
	release "$gp"
	t_check "$n: the flock goes when the mount-side process exits" \
		expect ok probe try "$SHARE/f" flock w
	hold hp "$SHARE/f" flock w || t_fail "$n: the host takes an flock"
	t_check "$n: flock(LOCK_NB) on the mount gets EWOULDBLOCK while the host holds one" \
		expect EAGAIN probe try "$MNT/f" flock r
	start_waiter "$MNT/f" flock
	t_check "$n: a blocking flock on the mount waits while the host holds one" still_waiting
	release "$hp"
	t_check "$n: ... and is granted when the host lets go" granted_now
	wait "$WAITER"
	hold hp "$SHARE/f" flock w || t_fail "$n: the host takes an flock again"
	out=$(probe wait "$MNT/f" flock w 1)
	t_check "$n: a signal ends a waiting flock on the mount ($out)" waited "$out" EINTR 0.9 5
	release "$hp"

	# Unlocks the kernel sends as SETLKW (F_SETLKW with F_UNLCK, flock(LOCK_UN)).
	for k in posix flock; do
		# The kernel sends RELEASE (which drops a closed file's flock, and
		# any lock a cancelled waiter got meanwhile) after close returns:
		# start from a file nobody locks.
		t_check "$n: nothing left locked on the file before the $k unlock case" free_within "$k" 10
		timeout 60 "$MV_PYTHON" "$PROBE" unlockw "$MNT/f" $k >"$MV_TMP/unlockw.out" 2>&1 &
		gp=$!
		HOLDERS+=("$gp")
		for ((i = 0; i < 400; i++)); do
			grep -q . "$MV_TMP/unlockw.out" && break
			sleep 0.05
		done
		t_check "$n: $k unlock by a blocking call works, the file still open" \
			sh -c "grep -qx ok '$MV_TMP/unlockw.out' && [ \"\$('$MV_PYTHON' '$PROBE' try '$SHARE/f' $k w)\" = ok ]"
		release "$gp"
	done

	# POSIX close semantics: closing any fd of the file drops the process's locks.
	timeout 60 "$MV_PYTHON" "$PROBE" twofds "$MNT/f" >"$MV_TMP/twofds.out" 2>&1 &
	gp=$!
	HOLDERS+=("$gp")
	for ((i = 0; i < 100; i++)); do
		grep -q closed "$MV_TMP/twofds.out" && break
		sleep 0.05
	done
	t_check "$n: closing another fd of the file drops the mount process's POSIX lock" \
		expect ok probe try "$SHARE/f" posix w
	release "$gp"
	t_check "$n: no waiter thread is left in vfsd at the end" threads_back_to "$base"
	t_check "$n: vfsd logged no error" sh -c "! grep -E ' (error|warning):' '$MV_TMP/$n-backend.log'"
	t_check "$n: vfsd still runs" kill -0 "$MV_VUFS_BACKEND"
}

if start inline 1 --thread-pool-size=0; then
	flags=$(sed -n 's/.*initialised, flags \(0x[0-9a-f]*\).*/\1/p' "$MV_TMP/inline-backend.log" | tail -1)
	# FUSE_POSIX_LOCKS (1 << 1) and FUSE_FLOCK_LOCKS (1 << 10)
	t_check "inline: INIT negotiated POSIX and flock locks (flags $flags)" \
		test $((${flags:-0} & 0x402)) = $((0x402))
	run_locks inline
	stop_all
fi
if start pool 2 --thread-pool-size=2; then
	run_locks pool
	stop_all
fi
if start nolocks 1 --no-locks; then
	echo data >"$SHARE/f"
	hold gp "$MNT/f" posix w || t_fail "no-locks: a process on the mount takes a POSIX lock"
	t_check "--no-locks: the mount's POSIX lock stays local (the host can lock)" \
		expect ok probe try "$SHARE/f" posix w
	t_check "--no-locks: ... but a second mount process still conflicts (guest-local lock)" \
		expect EAGAIN probe try "$MNT/f" posix w
	release "$gp"
	stop_all
fi
if start cdialect 1 -o no_posix_lock,flock; then
	echo data >"$SHARE/f"
	hold gp "$MNT/f" flock w || t_fail "-o no_posix_lock,flock: a mount process takes an flock"
	t_check "-o no_posix_lock,flock: flock is shared with the host" \
		expect EAGAIN probe try "$SHARE/f" flock w
	release "$gp"
	hold gp "$MNT/f" posix w || t_fail "-o no_posix_lock,flock: a mount process takes a POSIX lock"
	t_check "-o no_posix_lock,flock: POSIX locks stay local" expect ok probe try "$SHARE/f" posix w
	release "$gp"
	stop_all
fi
