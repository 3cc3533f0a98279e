#!/bin/bash
# notifyd --keeper (notifyd/keeper.c): the fd store for hosts without systemd.
# The keeper runs tests/helpers/fdstore_child in notifyd's place
# (MOUNTVISOR_KEEPER_EXEC), which reports what it was handed and stores,
# removes and misbehaves as its plan file says.  Checked:
#   1. names and the very same open files survive 5 SIGKILLs of the child;
#      --keeper is not passed on; LISTEN_PID names the child; nothing else leaks in;
#   2. a later FDSTORE under a stored name replaces it; FDSTOREREMOVE forgets it;
#   3. a stored fd whose peer hung up is dropped; fds sent by any process but
#      the serving one are refused and closed;
#   4. a child that fails before READY=1 ends the keeper with its status;
#   5. a crash loop is slowed down (backoff) and the store is kept meanwhile;
#   6. descendants of a dead child are re-parented to the keeper and reaped;
#   7. the keeper's own fds are the same before and after 20 restarts; one thread;
#      the store is bounded (by RLIMIT_NOFILE here);
#   8. SIGTERM stops the child and then the keeper, which removes its socket;
#   9. the real notifyd under the keeper: SIGKILL of notifyd, stats answers from a
#      new pid with the same listening sockets; SIGUSR2 upgrades in place, SIGHUP reloads.
# The checks are eval'd strings (expanded when they run); /proc/PID/fd names are numbers.
# shellcheck disable=SC2016,SC2012,SC2010
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

NOTIFYD=$(mv_prog notifyd) || mv_bail "notifyd is not built"
CHILD=$(mv_prog tests/helpers/fdstore_child) || mv_bail "tests/helpers/fdstore_child is not built"
KEEPERS=()
# shellcheck disable=SC2016 # expanded when the defer runs
defer 'for p in "${KEEPERS[@]}"; do kill -KILL "$p" 2>/dev/null; done'
# Children the keepers started, should a keeper be killed before them.
# shellcheck disable=SC2016
defer 'for f in "$MV_TMP"/k*/starts; do [ -f "$f" ] && awk "{print \$1}" "$f" | xargs -r kill -KILL 2>/dev/null; done; true'

# kstart DIR [ENV=VALUE...]: a keeper in the background serving DIR; sets KP.
kstart() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(exec env FDSTORE_CHILD_DIR="$dir" MOUNTVISOR_KEEPER_EXEC="$CHILD" "$@" \
		"$NOTIFYD" --keeper --socket "$dir/n.sock" --log-level debug \
		</dev/null 2>>"$dir/keeper.log") &
	KP=$!
	KEEPERS+=("$KP")
}

# wait_done DIR OLDPID: waits (10 s) for a child other than OLDPID to finish its plan; echoes its pid.
wait_done() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$(cat "$1/done" 2>/dev/null)
		if [ -n "$p" ] && [ "$p" != "$2" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# handed DIR: "NAME CONTENT" of each fd the current child was handed, sorted.
handed() { awk 'NR > 4 {print $1, $4}' "$1/handed" | sort | tr '\n' ' '; }
# inode DIR NAME
inode() { awk -v n="$2" 'NR > 4 && $1 == n {print $3}' "$1/handed"; }
# keeper_has FD-LINK-SUBSTRING: does the keeper hold such an fd?
keeper_has() { ls -l "/proc/$KP/fd" 2>/dev/null | grep -q -- "$1"; }
# wait_gone PID [TENTHS]: the process exited (a zombie of ours counts as gone).
wait_gone() {
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		[ -e "/proc/$1" ] || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}
# kexit PID: waits for a background keeper; its exit status in KRC.
kexit() {
	wait_gone "$1" 200 || kill -KILL "$1"
	wait "$1"
	KRC=$?
}

# ---------------------------------------------------------------------------
# 1-3. the store across SIGKILLs
D=$MV_TMP/k1
mkdir -p "$D"
printf 'store m.a alpha\nstore m.b beta\npeer p.1\nforeign f.1\nready\n' >"$D/plan"
kstart "$D"
C=$(wait_done "$D" "") || mv_bail "the keeper's first child did not run: $(tail -n 5 "$D/keeper.log")"
t_check "the child is started without --keeper, with the other options" \
	grep -qx "argv --socket $D/n.sock --log-level debug" "$D/handed"
t_check "the keeper is one thread" [ "$(ls "/proc/$KP/task" | wc -l)" = 1 ]
t_check "its notify socket is 0600 beside --socket" \
	[ "$(stat -c '%F %a' "$D/notifyd-keeper.notify")" = "socket 600" ]
ino=$(stat -c %i "$D/notifyd-keeper.notify")
FDSTORE_CHILD_DIR=$D/second MOUNTVISOR_KEEPER_EXEC=$CHILD timeout 10 "$NOTIFYD" --keeper \
	--so="$D/n.sock" </dev/null 2>"$D/second.log"
SECOND=$?
t_check "a second keeper for the same socket directory (--so=, abbreviated) refuses to start (exit $SECOND)" \
	eval '[ "$SECOND" = 1 ] && grep -q "Address already in use" "$D/second.log" && [ ! -e "$D/second/starts" ]'
t_check "... and the first one keeps its socket" [ "$(stat -c %i "$D/notifyd-keeper.notify")" = "$ino" ]

ok=1 first_ino="" why=""
for i in 1 2 3 4 5; do
	printf 'store g.%s gen%s\nready\n' "$i" "$i" >"$D/plan"
	kill -KILL "$C"
	C=$(wait_done "$D" "$C") || {
		ok=
		why="no child after kill $i"
		break
	}
	[ -n "$first_ino" ] || first_ino=$(inode "$D" m.a)
	if [ "$(inode "$D" m.a)" != "$first_ino" ] || ! grep -qx 'listen_pid ok' "$D/handed" ||
		! grep -qx 'extra 0' "$D/handed"; then
		ok=
		why="after kill $i: $(cat "$D/handed")"
		break
	fi
done
t_check "names and the same open files survive 5 SIGKILLs${why:+ ($why)}" [ -n "$ok" ]
t_check "... every name, with its content" \
	[ "$(handed "$D")" = "g.1 gen1 g.2 gen2 g.3 gen3 g.4 gen4 m.a alpha m.b beta " ]
t_check "a stored socket whose peer died with the child was dropped" \
	eval '! grep -q "^p.1 " "$D/handed" && [ "$(ls -l /proc/$KP/fd | grep -c socket:)" = 1 ]'
t_check "... and the log says so" grep -q "removed p.1 (fd [0-9]*): hung up" "$D/keeper.log"
t_check "an fd sent by a process other than the serving one is refused" \
	grep -q "refused (serving pid" "$D/keeper.log"
t_check "... and closed (the keeper holds no memfd:f.1)" eval '! keeper_has "memfd:f.1 "'
t_check "... and never handed over" eval '! grep -q "^f.1 " "$D/handed"'

# 2. replace, remove
printf 'store m.a alpha2\nremove m.b\nremove g.1\nready\n' >"$D/plan"
kill -KILL "$C"
C=$(wait_done "$D" "$C") || mv_bail "no child after the kill"
printf 'ready\n' >"$D/plan"
kill -KILL "$C"
C=$(wait_done "$D" "$C") || mv_bail "no child after the kill"
t_check "FDSTORE under a stored name replaces the fd; FDSTOREREMOVE forgets it" \
	[ "$(handed "$D")" = "g.2 gen2 g.3 gen3 g.4 gen4 g.5 gen5 m.a alpha2 " ]
t_check "... and the keeper closed the removed ones" \
	eval '! keeper_has "memfd:m.b " && ! keeper_has "memfd:g.1 " && [ "$(ls -l /proc/$KP/fd | grep -c "memfd:m.a ")" = 1 ]'

# 7. no fd leaks over 20 restarts (test hook: no backoff, so this takes seconds)
kill -TERM "$KP"
kexit "$KP"
t_check "SIGTERM stops child and keeper, with the child's status ($KRC)" \
	eval '[ "$KRC" = 0 ] && wait_gone "$C" 10 && [ ! -e "$D/notifyd-keeper.notify" ]'

D=$MV_TMP/k7
mkdir -p "$D"
printf 'store m.x x\nstore m.y y\nready\n' >"$D/plan"
kstart "$D" MOUNTVISOR_KEEPER_QUICK_DEATH_MS=0
C=$(wait_done "$D" "") || mv_bail "no first child: $(tail -n 5 "$D/keeper.log")"
kill -KILL "$C"
C=$(wait_done "$D" "$C") || mv_bail "no second child"
before=$(ls "/proc/$KP/fd" | wc -l)
ok=1
for ((i = 0; i < 20; i++)); do
	kill -KILL "$C"
	C=$(wait_done "$D" "$C") || {
		ok=
		break
	}
done
after=$(ls "/proc/$KP/fd" | wc -l)
t_check "20 more restarts" [ -n "$ok" ]
t_check "the keeper's fd count is the same before and after ($before, $after)" [ "$before" = "$after" ]
t_check "... and the last child still got both fds" [ "$(handed "$D")" = "m.x x m.y y " ]
kill -TERM "$KP"
kexit "$KP"

# 7b. the store is bounded: a keeper with 200 fds at most stores (200 - 64) / 2
D=$MV_TMP/k7b
mkdir -p "$D"
printf 'many 80 b\nready\n' >"$D/plan"
(exec prlimit --nofile=200:200 env FDSTORE_CHILD_DIR="$D" MOUNTVISOR_KEEPER_EXEC="$CHILD" \
	"$NOTIFYD" --keeper --socket "$D/n.sock" --log-level debug </dev/null 2>>"$D/keeper.log") &
KP=$!
KEEPERS+=("$KP")
C=$(wait_done "$D" "") || mv_bail "no first child: $(tail -n 5 "$D/keeper.log")"
printf 'ready\n' >"$D/plan"
kill -KILL "$C"
C=$(wait_done "$D" "$C") || mv_bail "no second child"
t_check "the store is bounded (RLIMIT_NOFILE 200: 68 of 80 kept, $(($(wc -l <"$D/handed") - 4)) handed)" \
	eval '[ "$(($(wc -l <"$D/handed") - 4))" = 68 ] && [ "$(grep -c "refused: the store is full" "$D/keeper.log")" = 12 ]'
t_check "... and the first 68 are the ones kept" \
	eval 'grep -q "^b.67 memfd [0-9]* b.67$" "$D/handed" && ! grep -q "^b.68 " "$D/handed"'
kill -TERM "$KP"
kexit "$KP"

# 4. a first start that fails
for c in 'exit 3:3' 'crash:139'; do
	D=$MV_TMP/k4-${c%%:*}
	D=${D// /}
	mkdir -p "$D"
	printf '%s\n' "${c%%:*}" >"$D/plan"
	kstart "$D"
	kexit "$KP"
	t_check "a child that ends with '${c%%:*}' before READY=1 ends the keeper with status ${c#*:} ($KRC)" \
		[ "$KRC" = "${c#*:}" ]
	t_check "... after one start" [ "$(wc -l <"$D/starts")" = 1 ]
done

# 5. backoff on a crash loop, store kept
D=$MV_TMP/k5
mkdir -p "$D"
printf 'store m.k kept\nready\n' >"$D/plan"
kstart "$D"
C=$(wait_done "$D" "") || mv_bail "no first child"
printf 'crash\n' >"$D/plan"
kill -KILL "$C"
sleep 4
starts=$(($(wc -l <"$D/starts") - 1))
gaps=$(awk 'NR > 1 {if (p) printf "%d ", $2 - p; p = $2}' "$D/starts")
t_diag "starts in 4 s of crashes: $starts; ms between them: $gaps"
t_check "a crash loop is slowed down: $starts starts in 4 s" eval '[ "$starts" -ge 3 ] && [ "$starts" -le 7 ]'
t_check "... with growing delays" \
	awk 'NR > 1 {if (p) g[n++] = $2 - p; p = $2} END {exit !(n >= 3 && g[n-1] >= 2 * g[1] && g[1] >= 150)}' "$D/starts"
printf 'ready\n' >"$D/plan"
C=$(wait_done "$D" "$C")
t_check "a child that works again comes within the 5 s bound, with the stored fds" \
	eval '[ -n "$C" ] && [ "$(handed "$D")" = "m.k kept " ]'

# 6. orphans
printf 'orphan 1\nready\n' >"$D/plan"
kill -KILL "$C"
C=$(wait_done "$D" "$C") || mv_bail "no child after the kill"
O=$(cat "$D/orphan")
printf 'ready\n' >"$D/plan"
kill -KILL "$C"
sleep 0.3
t_check "a dead child's child is re-parented to the keeper (subreaper)" \
	[ "$(awk '$1 == "PPid:" {print $2}' "/proc/$O/status" 2>/dev/null)" = "$KP" ]
sleep 1.5
t_check "... and reaped when it exits (no zombie)" eval '[ ! -e "/proc/$O" ]'
C=$(wait_done "$D" "$C")
t_check "the keeper has no zombie child" \
	eval '! ps -o stat= --ppid "$KP" | grep -q Z'
kill -TERM "$KP"
kexit "$KP"
t_check "SIGTERM during a crash loop's wait or a run stops the keeper ($KRC)" [ "$KRC" = 0 ]

# ---------------------------------------------------------------------------
# 9. the real notifyd under the keeper
R=$MV_TMP/real
mkdir -p "$R/profiles"
printf '[profile]\ndefault-action = deny\n' >"$R/profiles/default.conf"
CTL=$(mv_prog notifyctl) || mv_bail "notifyctl is not built"
(exec "$NOTIFYD" --keeper --socket "$R/run/notifyd.sock" --control "$R/run/ctl.sock" \
	--profiles "$R/profiles" --state-dir "$R/state" --log-level debug </dev/null 2>>"$R/log") &
KP=$!
KEEPERS+=("$KP")
# stats_pid [NOT]: waits (10 s) until notifyctl stats answers with a pid other than NOT; echoes it.
stats_pid() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$("$CTL" --control "$R/run/ctl.sock" stats 2>/dev/null | awk '$1 == "pid:" {print $2}')
		if [ -n "$p" ] && [ "$p" != "${1:-}" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
P1=$(stats_pid) || mv_bail "notifyd --keeper did not answer: $(tail -n 20 "$R/log")"
sleep 2 # past the 2 s in which a death delays the next start
t_check "notifyd --keeper: notifyctl stats answers, from the keeper's child" \
	[ "$(awk '$1 == "PPid:" {print $2}' "/proc/$P1/status")" = "$KP" ]
t_check "... which stored its listening sockets in the keeper" \
	grep -q "stored oci .*stored control\|stored control .*stored oci" <(tr '\n' ' ' <"$R/log")
ino=$(stat -c %i "$R/run/notifyd.sock")
up=$(($(date +%s%N) / 1000000))
kill -KILL "$P1"
P2=$(stats_pid "$P1")
t_diag "from SIGKILL to stats answering again: $(($(date +%s%N) / 1000000 - up)) ms (no backoff: notifyd was up 2 s)"
t_check "after a SIGKILL of the serving notifyd, stats answers again, from a new pid ($P1 -> ${P2:-none})" \
	[ -n "$P2" ]
# Stored: the two listening sockets and the in-flight log (wal).
t_check "... which was handed both listening sockets and its in-flight log (the socket file is the same: $ino)" \
	eval 'grep -q "started .*(pid $P2, start 2) with 3 stored fd" "$R/log" && [ "$(stat -c %i "$R/run/notifyd.sock")" = "$ino" ]'
kill -USR2 "$KP"
sleep 1
P3=$(stats_pid "")
t_check "SIGUSR2 to the keeper upgrades notifyd in place (same pid $P2, ${P3:-none})" \
	eval '[ "$P3" = "$P2" ] && grep -q "signal 12: forwarded" "$R/log" && grep -q "notifyd\[$P2\] info: upgrade" "$R/log"'
loads() { grep -c "notifyd\[$P2\] info: profiles loaded" "$R/log"; }
n=$(loads)
kill -HUP "$KP"
for ((i = 0; i < 50; i++)); do
	[ "$(loads)" -gt "$n" ] && break
	sleep 0.1
done
t_check "SIGHUP to the keeper reloads notifyd's profiles" [ "$(loads)" -gt "$n" ]
kill -TERM "$KP"
kexit "$KP"
t_check "SIGTERM stops the keeper and notifyd ($KRC)" eval '[ "$KRC" = 0 ] && wait_gone "$P2" 10'
t_check "no sanitizer report in the keepers' and notifyd's logs (make asan)" \
	eval '! grep -lE "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$R/log" "$MV_TMP"/k*/keeper.log'

t_done
