#!/bin/bash
# notifyd upgraded in place (SIGUSR2: it re-executes the binary now at its
# path, same pid, handing itself every fd it keeps) while crun and runc
# containers mount and unmount in a loop: no call may fail, the containers
# are taken over from their state files (docs/restart.md), and what is left
# in the state directory is exactly what is live.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

UPGRADES=${MV_UPGRADES:-5}
ITER=1500

PROFILES=$MV_TMP/profiles
STATE=$MV_TMP/state
mkdir -p "$PROFILES" "$MV_TMP/run"
cat >"$PROFILES/default.conf" <<'PROF'
[profile]
default-action = deny
max-mounts = 64

[fs tmpfs]
action = kernel
PROF
mv_make_rootfs "$MV_TMP/rootfs" || mv_bail "cannot build the busybox rootfs"

# The binary under test is a copy, so the test can replace it as an upgrade does.
BIN=$(mv_stage "$(mv_prog notifyd)") || mv_bail "cannot copy notifyd"
MV_SOCK=$MV_TMP/run/notifyd.sock
MV_CTL=$MV_TMP/run/notifyd.ctl
MV_LOG=$MV_TMP/notifyd.log
setpriv --pdeathsig TERM -- "$BIN" --socket "$MV_SOCK" --control "$MV_CTL" \
	--profiles "$PROFILES" --state-dir "$STATE" --log-level debug </dev/null 2>>"$MV_LOG" &
NOTIFYD_PID=$!
defer "mv_stop_notifyd"
for ((i = 0; i < 100; i++)); do
	[ -S "$MV_SOCK" ] && [ -S "$MV_CTL" ] && break
	sleep 0.1
done
[ -S "$MV_CTL" ] || mv_bail "notifyd did not start: $(tail -n 20 "$MV_LOG")"

stat_of() { mv_ctl stats | awk -v k="$1:" '$1 == k {print $2}'; }

t_check "a fresh notifyd reports its pid and no restart" \
	test "$(stat_of pid)" = "$NOTIFYD_PID" -a "$(stat_of restarts)" = 0
# One mount first: notifyd makes its staging namespace for locked mounts
# (mount_lock.c) once and keeps it, so count fds from there on.
mv_oci_bundle "$MV_TMP/b-warm" "$MV_TMP/rootfs" /bin/sh -c 'mount -t tmpfs t /mnt && umount /mnt' ||
	mv_bail "bundle"
mv_run runc "$MV_TMP/b-warm" warm 60 || mv_bail "the warm-up container failed: $(cat "$(mv_out warm)")"
for ((i = 0; i < 50; i++)); do
	[ "$(stat_of containers)" = 0 ] && break
	sleep 0.1
done
fds0=$(mv_notifyd_fds)

# Each container logs one line per failed call and a summary.
LOOP='ok=0; bad=0; i=0
while [ $i -lt '$ITER' ]; do
	i=$((i + 1))
	if mount -t tmpfs t /mnt 2>/tmp/e && echo x >/mnt/f && umount /mnt 2>>/tmp/e
	then ok=$((ok + 1)); else bad=$((bad + 1)); echo "FAIL $i: $(cat /tmp/e)"; fi
done
echo "done ok=$ok bad=$bad"'
for rt in runc crun; do
	mv_oci_bundle "$MV_TMP/b-$rt" "$MV_TMP/rootfs" /bin/sh -c "$LOOP" || mv_bail "bundle"
	mv_start "$rt" "$MV_TMP/b-$rt" "up-$rt" 180
done
for ((i = 0; i < 100; i++)); do
	[ "$(stat_of containers)" = 2 ] && break
	sleep 0.05
done
t_check "both containers handed over" test "$(stat_of containers)" = 2

for ((u = 1; u <= UPGRADES; u++)); do
	# A new file at the path, as a package upgrade leaves it.
	cp "$(mv_prog notifyd)" "$BIN.new" && mv -f "$BIN.new" "$BIN"
	kill -USR2 "$NOTIFYD_PID"
	for ((i = 0; i < 100; i++)); do
		[ "$(stat_of restarts 2>/dev/null)" = "$u" ] && break
		sleep 0.05
	done
	t_check "upgrade $u: serving again, restarts: $u" test "$(stat_of restarts)" = "$u"
	t_check "upgrade $u: same pid (systemd's MainPID, the keeper's child)" \
		test "$(stat_of pid)" = "$NOTIFYD_PID"
	t_check "upgrade $u: runs the new file" \
		test "$(readlink "/proc/$NOTIFYD_PID/exe")" = "$BIN"
	n=$(stat_of containers)
	# A container may have finished its loop meanwhile.
	t_check "upgrade $u: the containers are taken over ($n)" test "$n" -ge 1
	sleep 0.3
done

for rt in runc crun; do
	mv_wait "up-$rt"
	rc=$?
	out=$(mv_out "up-$rt")
	t_check "$rt: the container exits 0" test "$rc" = 0
	if grep -q "^done ok=$ITER bad=0" "$out"; then
		t_ok "$rt: $ITER mount/umount cycles across $UPGRADES upgrades, none failed"
	else
		t_fail "$rt: $ITER mount/umount cycles across $UPGRADES upgrades, none failed" \
			"$(grep -E "FAIL|done" "$out" | head -n 10)"
	fi
done
t_check "the log names each take-over" \
	test "$(grep -c "took over from the notifyd before us" "$MV_LOG")" = "$UPGRADES"

for ((i = 0; i < 50; i++)); do
	[ "$(stat_of containers)" = 0 ] && break
	sleep 0.1
done
t_check "no container left after both exited" test "$(stat_of containers)" = 0
t_check "no container state file left" \
	test -z "$(find "$STATE" -name 'c.*' 2>/dev/null)"
# A control connection's thread may still be closing its fd: allow it a moment.
for ((i = 0; i < 20; i++)); do
	[ "$(mv_notifyd_fds)" -le "$fds0" ] && break
	sleep 0.05
done
t_check "notifyd holds no more fds than before the containers ($fds0)" \
	test "$(mv_notifyd_fds)" -le "$fds0"

# State that does not match what is handed back is dropped at the next start.
echo '{"key":99,"id":"ghost","profile":"default","runtime":"oci","init_pid":1,"init_start":1}' \
	>"$STATE/c.99.json"
echo 'not json' >"$STATE/c.98.json"
kill -USR2 "$NOTIFYD_PID"
for ((i = 0; i < 100; i++)); do
	[ "$(stat_of restarts 2>/dev/null)" = "$((UPGRADES + 1))" ] && break
	sleep 0.05
done
t_check "a state file whose fd is gone is released and removed" \
	test ! -e "$STATE/c.99.json"
t_check "an unreadable state file is removed" test ! -e "$STATE/c.98.json"
t_check "... with a warning" grep -q "c.98.json unreadable" "$MV_LOG"
t_check "still no container after that" test "$(stat_of containers)" = 0

if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM after upgrades"
else
	t_fail "notifyd exits 0 on SIGTERM after upgrades" "exit $MV_NOTIFYD_RC"
fi
t_check "without a store, a clean stop removes its sockets" test ! -e "$MV_SOCK" -a ! -e "$MV_CTL"
t_done
