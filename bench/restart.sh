#!/bin/bash
# bench/restart.sh BUILD : how long a container waits when notifyd dies or is
# upgraded (issue 17): from notifyd's SIGKILL (or SIGUSR2, the in-place
# upgrade) to the first answered request, seen from inside a container.
#
# A "container" (tests/helpers/mv_launch: user + mount namespace, trapped by
# notifyd) runs tests/helpers/storm_probe probe: umount2 of a directory that
# is no mount point (a cheap trapped call) in a loop, RESTART_BENCH_PAUSE_US
# (default 200) apart, every call slower than RESTART_BENCH_THRESH_US
# (default 300) or failed written down with its CLOCK_MONOTONIC start and
# end.  The host takes the time of each signal with the same clock
# (storm_probe signal; CLOCK_MONOTONIC is shared across namespaces).  The
# recovery of one event = end of the first call made after the signal - the
# signal's time (one in flight may still be answered by the dying notifyd; a
# call returning in less than the threshold counts as 0); and the longest
# wait of one call begun within 1 s of the signal ("stall").  RESTART_BENCH_KILLS (default 10) SIGKILLs of the
# serving notifyd under "notifyd --keeper", then RESTART_BENCH_UPGRADES
# (default 10) SIGUSR2s, RESTART_BENCH_GAP (default 2.5) and 1 s apart;
# median and max of each.  Anchor in the same run: the same call's latency
# when nothing happens (p50, p99).
# Without a keeper (issue 17 not merged) the kill line says so: the calls
# then fail with ENOSYS.  Root only; timing never fails: this prints a table.
set -u
BUILD=$(cd "${1:-build}" && pwd)
KILLS=${RESTART_BENCH_KILLS:-10}
UPGRADES=${RESTART_BENCH_UPGRADES:-10}
PAUSE_US=${RESTART_BENCH_PAUSE_US:-200}
# Kills 2.5 s apart: the keeper delays the start after a notifyd that died
# within 2 s of its own (a crash loop), which is not what this measures.
GAP=${RESTART_BENCH_GAP:-2.5}
THRESH_US=${RESTART_BENCH_THRESH_US:-300}

[ "$(id -u)" = 0 ] || { echo "restart bench: needs root"; exit 0; }
for p in "$BUILD/notifyd" "$BUILD/notifyctl" "$BUILD/tests/helpers/storm_probe" \
	"$BUILD/tests/helpers/mv_launch"; do
	[ -x "$p" ] || { echo "restart bench: $p not built"; exit 0; }
done
PROBE=$BUILD/tests/helpers/storm_probe
HELP=$("$BUILD/notifyd" --help 2>&1)
KEEPER=
"$BUILD/notifyd" --keeper --help 2>&1 | grep -q 'unrecognized option' || KEEPER=1

tmp=$(mktemp -d /tmp/restart-bench.XXXXXX)
nd_pid='' probe_pid=''
cleanup() {
	local p
	[ -n "$probe_pid" ] && { touch "$tmp/stop"; kill "$probe_pid" 2>/dev/null; wait "$probe_pid" 2>/dev/null; }
	[ -n "$nd_pid" ] && { kill "$nd_pid" 2>/dev/null; wait "$nd_pid" 2>/dev/null; }
	# RESTART_BENCH_KEEP=DIR: notifyd's log, the probe's calls, the events and the figures.
	[ -n "${RESTART_BENCH_KEEP:-}" ] && mkdir -p "$RESTART_BENCH_KEEP" &&
		cp "$tmp"/*.log "$tmp"/*.out "$tmp/events" "$tmp/rec" "$RESTART_BENCH_KEEP/" 2>/dev/null
	# A serving notifyd its keeper's TERM missed: what runs this run's copy.
	for p in /proc/[0-9]*; do
		case $(readlink "$p/exe" 2>/dev/null) in
		"$tmp/notifyd" | "$tmp/notifyd (deleted)") kill -KILL "${p#/proc/}" 2>/dev/null ;;
		esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/profiles" "$tmp/state" "$tmp/nomount"
chmod 755 "$tmp"
cat >"$tmp/profiles/bench.conf" <<'P'
[profile]
default-action = deny
P
# A copy: the upgrades replace it with a new file, as a package upgrade does.
cp "$BUILD/notifyd" "$tmp/notifyd"
args=(--socket "$tmp/nd.sock" --control "$tmp/ctl.sock" --profiles "$tmp/profiles" --log-level warn)
grep -q -- '--state-dir' <<<"$HELP" && args+=(--state-dir "$tmp/state")
[ -n "$KEEPER" ] && args=(--keeper "${args[@]}")
env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES \
	setsid setpriv --pdeathsig TERM -- "$tmp/notifyd" "${args[@]}" </dev/null 2>"$tmp/notifyd.log" &
nd_pid=$!
for _ in $(seq 50); do [ -S "$tmp/ctl.sock" ] && [ -S "$tmp/nd.sock" ] && break; sleep 0.1; done
[ -S "$tmp/ctl.sock" ] || { echo "restart bench: notifyd did not start: $(tail -n 5 "$tmp/notifyd.log")"; exit 0; }

ctl() { timeout 5 "$BUILD/notifyctl" --control "$tmp/ctl.sock" "$@" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
# serving : the notifyd that serves (notifyctl stats' pid:, else the keeper's child).
serving() {
	local p
	[ -z "$KEEPER" ] && { echo "$nd_pid"; return; }
	p=$(ctl stats | sed -n 's/^pid: *//p')
	if [ -z "$p" ]; then
		for p in $(pgrep -P "$nd_pid" 2>/dev/null); do
			alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = notifyd ] && break
			p=
		done
	fi
	echo "$p"
}
now() { "$PROBE" now | sed 's/^t=//'; }

launch() { "$BUILD/tests/helpers/mv_launch" --socket "$tmp/nd.sock" --profile bench -- "$PROBE" "$@"; }
# The anchor: the same call for 2 s with nothing happening.
launch probe 2 "$tmp/nomount" "$PAUSE_US" "$THRESH_US" >"$tmp/anchor.out" 2>&1
launch probe 3600 "$tmp/nomount" "$PAUSE_US" "$THRESH_US" "$tmp/stop" >"$tmp/probe.out" 2>&1 &
probe_pid=$!
for _ in $(seq 100); do grep -q '^ready' "$tmp/probe.out" && break; sleep 0.1; done
grep -q '^ready' "$tmp/probe.out" || { echo "restart bench: the probe did not start: $(tail -n 3 "$tmp/probe.out")"; exit 0; }
sleep 1

# event KIND SIGNUM : signal the serving notifyd, wait until one serves again
# (another pid after a kill, the new file after an upgrade; 10 s at most).
: >"$tmp/events"
dead=
event() {
	local kind=$1 sig=$2 old new t ino='' i
	old=$(serving)
	alive "$old" || { dead=1; return 1; }
	if [ "$kind" = upgrade ]; then
		cp "$BUILD/notifyd" "$tmp/notifyd.new" && printf '\nupgrade\n' >>"$tmp/notifyd.new" &&
			mv -f "$tmp/notifyd.new" "$tmp/notifyd"
		ino=$(stat -c %i "$tmp/notifyd")
	fi
	t=$("$PROBE" signal "$old" "$sig" | sed 's/^t=//')
	# No keeper: notifyd itself was killed (reaped here, quietly).
	[ "$old" = "$nd_pid" ] && [ "$kind" = kill ] && wait "$nd_pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		alive "$nd_pid" || { i=200; break; } # nothing left to serve again
		new=$(serving)
		if alive "$new" && ctl ping | grep -q pong; then
			[ "$kind" = kill ] && [ "$new" != "$old" ] && break
			[ "$kind" = upgrade ] && [ "$(stat -L -c %i "/proc/$new/exe" 2>/dev/null)" = "$ino" ] && break
		fi
		sleep 0.05
	done
	echo "$kind $t $(now) $([ "$i" -lt 200 ] && echo ok || echo lost)" >>"$tmp/events"
	[ "$i" -lt 200 ] || { dead=1; return 1; }
}
for ((k = 0; k < KILLS && !${dead:-0}; k++)); do event kill 9 || break; sleep "$GAP"; done
if [ -z "$dead" ]; then
	for ((u = 0; u < UPGRADES; u++)); do event upgrade 12 || break; sleep 1; done
fi
sleep 0.5
touch "$tmp/stop"
# A call notifyd took and never answered keeps the probe in the kernel for good.
stuck=
for _ in $(seq 100); do kill -0 "$probe_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$probe_pid" 2>/dev/null; then
	stuck=$(tail -n 1 "$tmp/probe.out")
	for p in $(pgrep -P "$probe_pid") "$probe_pid"; do kill -KILL "$p" 2>/dev/null; done
fi
wait "$probe_pid" 2>/dev/null
probe_pid=''

# For each event: kind status recovery-ms errno-of-that-call failed-calls longest-stall-ms.
awk -v thresh="$THRESH_US" '
FILENAME == ARGV[1] { kind[++ne] = $1; t[ne] = $2; st[ne] = $4; next }
$1 == "slow" {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	ns++; s_start[ns] = v["start"] + 0; s_end[ns] = v["end"] + 0; s_err[ns] = v["errno"]
}
$1 == "probe" { summary = $0 }
END {
	for (e = 1; e <= ne; e++) {
		next_t = e < ne ? t[e + 1] : 9e18; rec = -1; err = "0"; failed = 0; stall = 0
		for (j = 1; j <= ns; j++) {
			if (s_end[j] <= t[e] || s_end[j] > next_t) continue
			if (s_err[j] != "EINVAL" && s_err[j] != "0") failed++
			# The first call made after the signal: one in flight may still get
			# the answer of the dying notifyd: SIGKILL takes a moment to stop its threads.
			if (rec < 0 && s_start[j] >= t[e]) { rec = (s_end[j] - t[e]) / 1e6; err = s_err[j] }
			# The longest wait of a call that began within 1 s of the signal.
			if (s_start[j] < t[e] + 1e9 && (s_end[j] - s_start[j]) / 1e6 > stall) stall = (s_end[j] - s_start[j]) / 1e6
		}
		printf "%s %s %.3f %s %d %.3f\n", kind[e], st[e], rec, err, failed, stall
	}
	print summary
}' "$tmp/events" "$tmp/probe.out" >"$tmp/rec"

echo
echo "notifyd restart: from the signal to the first answered request made after it, seen in a"
echo "container, and the longest wait of one call (umount2 of a non-mount every ${PAUSE_US} µs;"
echo "CLOCK_MONOTONIC on both sides; ms)"
printf '%-30s %4s %9s %9s %9s %11s %10s  %s\n' "event" "n" "median" "max" "min" "stall med" "stall max" "failed calls"
row() { # kind label : a recovery under the threshold counts as 0
	awk -v k="$1" -v label="$2" -v thr="$THRESH_US" '
	$1 == k { f += $5 }
	$1 == k && ($4 == "EINVAL" || $4 == "0") { n++; v[n] = $3 < 0 ? 0 : $3; w[n] = $6; if ($3 < 0) under++ }
	$1 == k && $4 != "EINVAL" && $4 != "0" { lost++ }
	END {
		if (lost) { printf "%-30s %4d %9s %9s %9s %11s %10s  %d  (first call after the signal failed: %d events)\n", label, n + lost, "failed", "-", "-", "-", "-", f, lost; exit }
		if (n == 0) { printf "%-30s %4d %9s\n", label, 0, "-"; exit }
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
			if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
			if (w[j] < w[i]) { x = w[i]; w[i] = w[j]; w[j] = x }
		}
		m = int((n + 1) / 2)
		printf "%-30s %4d %9.2f %9.2f %9.2f %11.2f %10.2f  %d%s\n", label, n, v[m], v[n], v[1], w[m], w[n], f, \
			(under ? "  (" under " under " thr " µs, counted as 0)" : "")
	}' "$tmp/rec"
}
row kill "SIGKILL$([ -n "$KEEPER" ] && echo ", keeper restarts it" || echo " (no keeper)")"
row upgrade "SIGUSR2, in-place upgrade"
awk '$1 == "probe" {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "anchor, the same call with nothing happening: p50 %d µs, p99 %d µs, max %d µs (%d calls in 2 s)\n", \
		v["p50_us"], v["p99_us"], v["max_us"], v["calls"]
}' "$tmp/anchor.out"
failed=$(awk '$1 == "kill" || $1 == "upgrade" { f += $5 } END { print f + 0 }' "$tmp/rec")
if [ -z "$KEEPER" ] || [ "$failed" -gt 0 ] || grep -q ' lost$' "$tmp/events"; then
	echo "notifyd does not survive restarts:$([ -z "$KEEPER" ] && echo " this notifyd has no --keeper;")" \
		"$failed calls failed after the events ($(awk '($1 == "kill" || $1 == "upgrade") && $5 > 0 { print $1 ": " $4 }' "$tmp/rec" |
			sort | uniq -c | tr -s ' \n' ' '))"
fi
[ -n "$stuck" ] && echo "a call of the probe never returned (killed 10 s after the run); its last line before: $stuck"
grep -q ' lost$' "$tmp/events" && echo "notifyd did not serve again within 10 s after: $(grep ' lost$' "$tmp/events" | head -n 1)"
echo "each event (ms): $(awk '$1 == "kill" || $1 == "upgrade" { printf "%s%s=%.1f", (n++ ? " " : ""), substr($1, 1, 1), $3 }' "$tmp/rec")"
r=$(ctl stats | sed -n 's/^restarts: *//p')
echo "restarts: ${r:-?} for $(grep -c . "$tmp/events") signals; serving pid: $(serving)"
[ -n "$r" ] && [ "$r" -gt "$(grep -c . "$tmp/events")" ] &&
	echo "notifyd also restarted $((r - $(grep -c . "$tmp/events"))) time(s) by itself: $(grep -cE 'exited|died|killed by signal' "$tmp/notifyd.log") keeper lines about a death"
