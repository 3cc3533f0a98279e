#!/bin/bash
# The restart storm (issue 17): containers make trapped calls in a loop while
# notifyd is killed with SIGKILL and upgraded in place (SIGUSR2), and not one
# call may notice.
#
# MV_STORM_CONTAINERS (default 20) OCI containers, runc and crun half each
# (user-namespaced busybox bundles with notifyd's seccomp rules and the loop
# set-up of docs/loop.md), and one LXC container through the proxy
# (MV_STORM_LXC=0: none) run tests/helpers/storm_probe for MV_STORM_SECONDS
# (default 15): mount -t tmpfs (the kernel action) + umount2, and a loop
# device set up and detached as losetup -f IMG / losetup -d do, every call's
# result (rc, errno name) in a per-container log.  Meanwhile notifyd is killed
# MV_STORM_KILLS times (default 5) and upgraded in place MV_STORM_UPGRADES
# times (default 5; its binary, a copy in $MV_TMP/bin, is replaced by a new
# file before each), alternating, spread over the run.  notifyd runs under
# "notifyd --keeper" (MV_STORM_KEEPER=1; auto: when notifyd --help offers it,
# else a plain notifyd with no kills or upgrades: the baseline).  notifyd
# logs at MV_STORM_LOG_LEVEL (default info: the decision lines).
#
# Checks: every call's errno is one the baseline gives (none, or
# MV_STORM_EXPECTED="EBUSY ..."); every container finishes within a bounded
# wait after its run (a stuck caller is shown with /proc/PID/stack and
# wchan); after the containers exit every loop device notifyd handed them is
# deleted (what is left is deleted at exit), no
# mount of theirs is in notifyd's or the host's view, no child process of
# notifyd, no seccomp notify fd in notifyd (or the keeper); notifyctl stats
# shows 0 containers, restarts: the number of signals and at least as many
# requests as the trapped calls answered (its totals outlive restarts).
# Prints a summary line per container and the totals.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

N=${MV_STORM_CONTAINERS:-20}
SECS=${MV_STORM_SECONDS:-15}
KILLS=${MV_STORM_KILLS:-5}
UPGRADES=${MV_STORM_UPGRADES:-5}
PAUSE_MS=${MV_STORM_PAUSE_MS:-50}
USE_LXC=${MV_STORM_LXC:-1}
EXPECTED=${MV_STORM_EXPECTED:-}
KEEPER=${MV_STORM_KEEPER:-auto}

PROBE=$MV_BUILD/tests/helpers/storm_probe
[ -x "$PROBE" ] || mv_bail "$PROBE not built (make all)"
NOTIFYD_BUILT=$(mv_prog notifyd) || mv_bail "notifyd not built"
HELP=$("$NOTIFYD_BUILT" --help 2>&1)
if [ "$KEEPER" = auto ]; then
	# Not the usage line: whether the option is taken.
	if "$NOTIFYD_BUILT" --keeper --help 2>&1 | grep -q 'unrecognized option'; then KEEPER=0; else KEEPER=1; fi
fi
if [ "$KEEPER" = 0 ] && [ $((KILLS + UPGRADES)) -gt 0 ]; then
	if [ -n "${MV_STORM_KEEPER:-}" ] && [ "$MV_STORM_KEEPER" = 0 ]; then
		t_diag "MV_STORM_KEEPER=0 with $KILLS kills and $UPGRADES upgrades: without a keeper only upgrades (SIGUSR2) can keep the fds; a kill loses them"
	else
		t_skip "notifyd killed $KILLS times and upgraded $UPGRADES times during the storm" \
			"this notifyd has no --keeper (issue 17 not merged): baseline run only"
		KILLS=0 UPGRADES=0
	fi
fi
t_diag "storm: $N OCI containers + $([ "$USE_LXC" = 1 ] && echo 1 || echo 0) LXC, $SECS s," \
	"$KILLS kills, $UPGRADES upgrades, keeper=$KEEPER, pause $PAUSE_MS ms"

RUNTIMES=()
for rt in runc crun; do command -v "$rt" >/dev/null && RUNTIMES+=("$rt"); done
[ "${#RUNTIMES[@]}" -gt 0 ] || mv_bail "neither runc nor crun is installed"
if [ "$USE_LXC" = 1 ]; then
	for p in lxc-create lxc-start lxc-info lxc-stop; do
		command -v "$p" >/dev/null || {
			t_skip "the LXC container of the storm" "$p not installed"
			USE_LXC=0
			break
		}
	done
fi

# ---------------------------------------------------------------------------
# notifyd: a copy of the binary that upgrades replace, under --keeper
# ---------------------------------------------------------------------------

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES" "$MV_TMP/bin" "$MV_TMP/state"
cat >"$PROFILES/storm.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 16
max-loop-devices = 4

[fs tmpfs]
action = kernel
idmap = no
allowed-options = size
EOF
ND_BIN=$MV_TMP/bin/notifyd
cp "$NOTIFYD_BUILT" "$ND_BIN"
LXC_SOCK=$MV_TMP/run/notifyd-lxc.sock

# storm_start_notifyd : like mv_start_notifyd, but the binary is $ND_BIN and,
# with KEEPER=1, notifyd --keeper (NOTIFYD_PID is then the keeper's pid).
storm_start_notifyd() {
	local i args=(--socket "$MV_SOCK" --lxc-socket "$LXC_SOCK" --profiles "$PROFILES"
		--control "$MV_CTL" --log-level "${MV_STORM_LOG_LEVEL:-info}")
	grep -q -- '--state-dir' <<<"$HELP" && args+=(--state-dir "$MV_TMP/state")
	[ "$KEEPER" = 1 ] && args=(--keeper "${args[@]}")
	rm -f "$MV_SOCK" "$MV_CTL" "$LXC_SOCK"
	MV_LOG_OFF=$(stat -c %s "$MV_LOG" 2>/dev/null || echo 0)
	env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES \
		setpriv --pdeathsig TERM -- "$ND_BIN" "${args[@]}" </dev/null 2>>"$MV_LOG" >&2 &
	NOTIFYD_PID=$!
	defer "mv_stop_notifyd"
	for ((i = 0; i < 100; i++)); do
		[ -S "$MV_SOCK" ] && [ -S "$MV_CTL" ] && return 0
		kill -0 "$NOTIFYD_PID" 2>/dev/null || break
		sleep 0.1
	done
	t_fail "notifyd starts" "$ND_BIN ${args[*]}" "$(tail -n 30 "$MV_LOG")"
	return 1
}
MV_SOCK=$MV_TMP/run/notifyd.sock
MV_CTL=$MV_TMP/run/notifyd.ctl
MV_LOG=$MV_TMP/notifyd.log
# Whatever runs $ND_BIN (a serving notifyd the keeper's TERM missed) goes at the end.
kill_leftovers() {
	local p
	for p in /proc/[0-9]*; do
		case $(readlink "$p/exe" 2>/dev/null) in
		"$ND_BIN" | "$ND_BIN (deleted)") kill -KILL "${p#/proc/}" 2>/dev/null ;;
		esac
	done
}
defer kill_leftovers
storm_start_notifyd || mv_bail "notifyd did not start"

alive() { # alive PID : a live process, not a zombie
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}
ctl() { timeout 5 "$(mv_prog notifyctl)" --control "$MV_CTL" "$@" 2>/dev/null; }
stat_field() { ctl stats | sed -n "s/^$1: *//p" | head -n1; }

# serving_pid : the notifyd that serves: notifyctl stats' pid:, else the keeper's child.
serving_pid() {
	local p
	if [ "$KEEPER" != 1 ]; then
		echo "$NOTIFYD_PID"
		return
	fi
	p=$(stat_field pid)
	if [ -z "$p" ]; then
		for p in $(pgrep -P "$NOTIFYD_PID" 2>/dev/null); do
			alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = notifyd ] && break
			p=
		done
	fi
	echo "$p"
}

# notify_fds PID : how many seccomp notify fds PID holds.
notify_fds() {
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:seccomp notify" ] && n=$((n + 1))
	done
	echo "$n"
}

# ---------------------------------------------------------------------------
# The containers
# ---------------------------------------------------------------------------

ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/img" "$ROOTFS/tmp/storm"
cp "$PROBE" "$ROOTFS/bin/storm_probe"
IDS=()
declare -A RT_OF=() LOG_OF=()
for ((i = 0; i < N; i++)); do
	rt=${RUNTIMES[i % ${#RUNTIMES[@]}]}
	id=$MV_IDP-storm-$rt-$i
	IDS+=("$id")
	RT_OF[$id]=$rt
	LOG_OF[$id]=$ROOTFS/tmp/storm/$id.log
	truncate -s 1M "$ROOTFS/img/$i.img"
	mv_oci_bundle --loop --profile storm "$MV_TMP/$id" "$ROOTFS" \
		/bin/storm_probe storm "$SECS" "/tmp/storm/$id.log" /tmp/storm/go "/img/$i.img" "$PAUSE_MS" ||
		mv_bail "bundle $id"
done
chown -R 100000:100000 "$ROOTFS/img" "$ROOTFS/tmp/storm" "$ROOTFS/bin/storm_probe"

LXCP=$MV_TMP/lxc
LXC_NAME=mvstorm$$
LXC_ROOTFS=
if [ "$USE_LXC" = 1 ]; then
	# Root's subordinate ids for lxc.idmap, in this test's mount namespace only.
	echo "root:100000:65536" >"$MV_TMP/subid"
	if ! mount --bind "$MV_TMP/subid" /etc/subuid || ! mount --bind "$MV_TMP/subid" /etc/subgid; then
		mv_bail "cannot provide /etc/subuid for the test"
	fi
	mkdir -p "$LXCP"
	lxc-create -P "$LXCP" -n "$LXC_NAME" -t busybox >"$MV_TMP/lxc-create.log" 2>&1 ||
		mv_bail "lxc-create -t busybox failed: $(tail -n 5 "$MV_TMP/lxc-create.log")"
	LXC_ROOTFS=$LXCP/$LXC_NAME/rootfs
	mkdir -p "$LXC_ROOTFS/img" "$LXC_ROOTFS/mnt/a" "$LXC_ROOTFS/tmp/storm"
	cp "$PROBE" "$LXC_ROOTFS/bin/storm_probe"
	truncate -s 1M "$LXC_ROOTFS/img/lxc.img"
	chown -R 100000:100000 "$LXC_ROOTFS"
	chmod 755 "$LXCP" "$LXCP/$LXC_NAME"
	sed -e "s|/run/mountvisor/notifyd-lxc.sock|$LXC_SOCK|" \
		-e "s|/usr/local/share/mountvisor/profiles/seccomp/lxc-notify.seccomp|$MV_SRC/profiles/seccomp/lxc-notify.seccomp|" \
		-e "s|profile=default|profile=storm name=$LXC_NAME|" \
		"$MV_SRC/profiles/lxc/mountvisor.conf" >"$MV_TMP/mountvisor.conf"
	# The probe is the container's init: no lxc-attach (whose LXC 5.0.2 race
	# loses a command's listener now and then, tests/integration/lxc.sh).
	cat >"$LXCP/$LXC_NAME/config" <<EOF
lxc.rootfs.path = dir:$LXC_ROOTFS
lxc.uts.name = $LXC_NAME
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.autodev = 1
lxc.tty.max = 0
lxc.pty.max = 1
lxc.mount.auto = proc:mixed sys:ro
lxc.idmap = u 0 100000 65536
lxc.idmap = g 0 100000 65536
lxc.cgroup2.devices.deny = a
lxc.cgroup2.devices.allow = c 1:3 rwm
lxc.cgroup2.devices.allow = c 1:5 rwm
lxc.cgroup2.devices.allow = c 1:9 rwm
lxc.init.cmd = /bin/storm_probe storm $SECS /tmp/storm/lxc.log /tmp/storm/go /img/lxc.img $PAUSE_MS
lxc.include = $MV_TMP/mountvisor.conf
EOF
	IDS+=("$LXC_NAME")
	RT_OF[$LXC_NAME]=lxc
	LOG_OF[$LXC_NAME]=$LXC_ROOTFS/tmp/storm/lxc.log
	defer "lxc-stop -P '$LXCP' -n '$LXC_NAME' -k"
fi

# The loop devices notifyd handed the containers, from its decision lines.
# losetup -l cannot find them by image: it shows a backing file by its path in
# the container (/img/N.img).
handed_loops() {
	sed -n 's/.*type=LOOP_CTL_GET_FREE target=\(\/dev\/loop[0-9]*\) .*result=[0-9]*$/\1/p' "$MV_LOG" 2>/dev/null |
		sort -u
}
# remember_loops : the sysfs inode of each handed device that exists now: a
# device deleted and made anew (by another test) has another one.
declare -A LOOP_INO=()
remember_loops() {
	local d ino
	for d in $(handed_loops); do
		[ -n "${LOOP_INO[$d]:-}" ] && continue
		ino=$(stat -L -c %i "/sys/class/block/${d#/dev/}" 2>/dev/null) && LOOP_INO[$d]=$ino
	done
}
still_ours() { # still_ours DEV : DEV is the device notifyd handed out and it still exists
	[ -n "${LOOP_INO[$1]:-}" ] && [ "$(stat -L -c %i "/sys/class/block/${1#/dev/}" 2>/dev/null)" = "${LOOP_INO[$1]}" ]
}
# At exit (a failure of notifyd's to free them is reported below): detach
# and delete the devices handed out here that are still there.
free_test_loops() {
	local d nums=()
	remember_loops
	for d in "${!LOOP_INO[@]}"; do
		still_ours "$d" || continue
		[ -e "/sys/class/block/${d#/dev/}/loop/backing_file" ] && losetup -d "$d"
		nums+=("${d#/dev/loop}")
	done
	[ "${#nums[@]}" -gt 0 ] && "$MV_PYTHON" -c 'import fcntl, os, sys, time
fd = os.open("/dev/loop-control", os.O_RDWR)
for n in sys.argv[1:]:
    for _ in range(20):  # busy for a moment after the detach
        try:
            fcntl.ioctl(fd, 0x4C81, int(n))  # LOOP_CTL_REMOVE
            break
        except OSError:
            time.sleep(0.05)' "${nums[@]}"
}
defer free_test_loops

t0_start=$(date +%s)
for id in "${IDS[@]}"; do
	if [ "${RT_OF[$id]}" = lxc ]; then
		lxc-start -P "$LXCP" -n "$LXC_NAME" -d -l INFO -o "$MV_TMP/lxc.log" ||
			t_fail "lxc-start of the storm's LXC container" "$(grep -E 'ERROR|WARN' "$MV_TMP/lxc.log" | tail -n 8)"
	else
		mv_start "${RT_OF[$id]}" "$MV_TMP/$id" "$id" $((SECS + 240))
	fi
done
# Every probe waits for the go file; all must be ready first.
not_ready=()
for ((w = 0; w < 1200; w++)); do
	not_ready=()
	for id in "${IDS[@]}"; do
		grep -q '^ready ' "${LOG_OF[$id]}" 2>/dev/null || not_ready+=("$id")
	done
	[ "${#not_ready[@]}" -eq 0 ] && break
	sleep 0.1
done
if [ "${#not_ready[@]}" -gt 0 ]; then
	msg=()
	for id in "${not_ready[@]}"; do
		msg+=("$id: $(tail -n 5 "$(mv_out "$id")" 2>/dev/null)")
	done
	[ "$USE_LXC" = 1 ] && msg+=("lxc.log: $(grep -E 'ERROR|WARN' "$MV_TMP/lxc.log" | tail -n 5)")
	t_fail "all ${#IDS[@]} containers started within 120 s" "not ready: ${not_ready[*]}" "${msg[@]}"
	mv_bail "containers did not start"
fi
t_ok "all ${#IDS[@]} containers started ($(($(date +%s) - t0_start)) s)"
# An LXC container is adopted at its first request through the proxy: the OCI ones count now.
n_ct=$(stat_field containers)
t_check "notifyctl stats counts the $N OCI containers (containers: ${n_ct:-?})" [ "${n_ct:-0}" -ge "$N" ]
t_diag "at go: serving notifyd pid $(serving_pid), $(find "$MV_TMP/state" -name 'c.*.json' 2>/dev/null | wc -l) container state files in $MV_TMP/state"
SERVING=$(serving_pid)
MOUNTS_BEFORE=$(wc -l <"/proc/$SERVING/mountinfo" 2>/dev/null)

# ---------------------------------------------------------------------------
# The storm: kills and upgrades, alternating, spread over SECS - 3 seconds
# ---------------------------------------------------------------------------

EVENTS=$MV_TMP/events
: >"$EVENTS"
touch "$ROOTFS/tmp/storm/go"
[ -n "$LXC_ROOTFS" ] && touch "$LXC_ROOTFS/tmp/storm/go"
GO_T=$("$PROBE" now | sed 's/^t=//')
n_events=$((KILLS + UPGRADES))
event_fail=0
if [ "$n_events" -gt 0 ]; then
	step_ms=$(((SECS - 3) * 1000 / n_events))
	[ "$step_ms" -lt 300 ] && step_ms=300
	k=0 u=0
	for ((e = 0; e < n_events; e++)); do
		# Alternate; whichever kind is left over comes last.
		if { [ $((e % 2)) = 0 ] && [ "$k" -lt "$KILLS" ]; } || [ "$u" -ge "$UPGRADES" ]; then
			kind=kill k=$((k + 1))
		else
			kind=upgrade u=$((u + 1))
		fi
		# Wait until this event's slot (1 s after go, then every step_ms).
		now=$("$PROBE" now | sed 's/^t=//')
		due=$((GO_T + 1000000000 + e * step_ms * 1000000))
		[ "$now" -lt "$due" ] && sleep "$(awk -v d=$((due - now)) 'BEGIN { printf "%.3f", d / 1e9 }')"
		old=$(serving_pid)
		if ! alive "$old"; then
			t_fail "event $e ($kind): a serving notifyd to act on" "serving pid '${old}'" "$(tail -n 20 "$MV_LOG")"
			event_fail=1
			break
		fi
		if [ "$kind" = kill ]; then
			t_ev=$("$PROBE" signal "$old" 9 | sed 's/^t=//')
		else
			# A new file at the same path (as a package upgrade does), with
			# bytes that differ: the upgrade runs what is on disk now.
			cp "$NOTIFYD_BUILT" "$ND_BIN.new" && printf '\nupgrade %d\n' "$u" >>"$ND_BIN.new" &&
				mv -f "$ND_BIN.new" "$ND_BIN"
			new_ino=$(stat -c %i "$ND_BIN")
			t_ev=$("$PROBE" signal "$old" 12 | sed 's/^t=//')
		fi
		# Serving again: a live notifyd that answers, another pid after a kill,
		# the new file after an upgrade (restarts: is checked at the end).
		ok=
		for ((w = 0; w < 300; w++)); do
			new=$(serving_pid)
			if alive "$new" && ctl ping | grep -q pong; then
				if [ "$kind" = kill ] && [ "$new" != "$old" ]; then
					ok=1
				elif [ "$kind" = upgrade ] && [ "$(stat -L -c %i "/proc/$new/exe" 2>/dev/null)" = "$new_ino" ]; then
					ok=1
				fi
				[ -n "$ok" ] && break
			fi
			sleep 0.05
		done
		t_back=$("$PROBE" now | sed 's/^t=//')
		echo "t=$t_ev kind=$kind old=$old new=${new:-none} serving_again_ms=$(((t_back - t_ev) / 1000000)) ok=${ok:-0}" >>"$EVENTS"
		if [ -z "$ok" ]; then
			t_fail "event $e: notifyd serves again within 15 s of the $kind of pid $old" \
				"serving pid now '${new:-none}'$([ "$kind" = upgrade ] && echo ", exe inode $(stat -L -c %i "/proc/$new/exe" 2>/dev/null) (new file: $new_ino)")" \
				"$(tail -n 20 "$MV_LOG")"
			event_fail=1
			break
		fi
	done
	t_diag "$(cat "$EVENTS")"
	[ "$event_fail" = 0 ] && t_ok "notifyd killed $k times and upgraded $u times, serving again after each"
	n_run=0
	for id in "${IDS[@]}"; do grep -q '^summary ' "${LOG_OF[$id]}" 2>/dev/null || n_run=$((n_run + 1)); done
	n_ct=$(stat_field containers)
	t_check "after the last restart notifyctl stats still counts the $n_run running containers (containers: ${n_ct:-?})" \
		[ "${n_ct:-x}" -ge "$n_run" ]
	r=$(stat_field restarts)
	if [ -n "$r" ]; then
		t_check "notifyctl stats: restarts: $r (expected $n_events)" [ "$r" = "$n_events" ]
	else
		t_fail "notifyctl stats shows restarts:" "$(ctl stats)"
	fi
fi

# ---------------------------------------------------------------------------
# Every container finishes within a bounded wait
# ---------------------------------------------------------------------------

# init_pid ID : host pid of the container's init (the probe).
init_pid() {
	if [ "${RT_OF[$1]}" = lxc ]; then
		lxc-info -P "$LXCP" -n "$LXC_NAME" -p -H 2>/dev/null
	else
		mv_container_pid "${RT_OF[$1]}" "$1"
	fi
}
deadline=$(($(date +%s) + SECS + 30))
while :; do
	left=()
	for id in "${IDS[@]}"; do grep -q '^summary ' "${LOG_OF[$id]}" 2>/dev/null || left+=("$id"); done
	[ "${#left[@]}" -eq 0 ] && break
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 0.2
done
if [ "${#left[@]}" -eq 0 ]; then
	t_ok "no caller stuck: every container's loop finished within $((SECS + 30)) s of go"
else
	msg=()
	for id in "${left[@]}"; do
		p=$(init_pid "$id")
		msg+=("$id (init pid ${p:-?}): last calls: $(tail -n 2 "${LOG_OF[$id]}" 2>/dev/null | tr '\n' '|')")
		# The stuck call came after the last answered one: the first event after that.
		lt=$(tail -n 1 "${LOG_OF[$id]}" 2>/dev/null | sed -n 's/^call t=\([0-9]*\) .* us=\([0-9]*\)$/\1 \2/p')
		if [ -n "$lt" ]; then
			read -r lt lus <<<"$lt"
			lt=$((lt + lus * 1000))
			msg+=("  first event after its last answered call: $(awk -v t="$lt" '{ split($1, a, "="); if (a[2] + 0 > t + 0) { print $0 " (+" int((a[2] - t) / 1e6) " ms)"; exit } }' "$EVENTS")")
		fi
		if [ -n "$p" ]; then
			msg+=("  wchan: $(cat "/proc/$p/wchan" 2>/dev/null) syscall: $(cut -d' ' -f1-3 "/proc/$p/syscall" 2>/dev/null)")
			msg+=("  stack: $(tr '\n' ' ' <"/proc/$p/stack" 2>/dev/null)")
		fi
	done
	t_fail "no caller stuck: every container's loop finished within $((SECS + 30)) s of go" \
		"${#left[@]} stuck:" "${msg[@]}"
fi
for id in "${IDS[@]}"; do
	[ "${RT_OF[$id]}" = lxc ] && continue
	if grep -q '^summary ' "${LOG_OF[$id]}" 2>/dev/null; then mv_wait "$id"; else mv_delete "${RT_OF[$id]}" "$id"; fi
done
if [ "$USE_LXC" = 1 ]; then
	for ((w = 0; w < 100; w++)); do
		[ "$(lxc-info -P "$LXCP" -n "$LXC_NAME" -s -H 2>/dev/null)" = STOPPED ] && break
		sleep 0.1
	done
	lxc-stop -P "$LXCP" -n "$LXC_NAME" -k >/dev/null 2>&1
fi

# ---------------------------------------------------------------------------
# Every call's result
# ---------------------------------------------------------------------------

TRAPPED_RE='^(mount|umount2|LOOP_CTL_GET_FREE|LOOP_CONFIGURE|LOOP_CLR_FD)$'
tot_calls=0 tot_ok=0 tot_bad=0 tot_trapped=0
declare -A tot_errno=()
bad_lines=()
for id in "${IDS[@]}"; do
	f=${LOG_OF[$id]}
	# calls ok trapped-and-answered then "errno count" pairs.
	read -r c o ta errs < <(awk -v re="$TRAPPED_RE" '
		$1 == "call" {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			c++; if (v["rc"] >= 0) o++; else e[v["errno"]]++
			if (v["op"] ~ re && v["errno"] != "ENOSYS") ta++
		}
		END { s = ""; for (k in e) s = s " " k "=" e[k]; print c + 0, o + 0, ta + 0, s }' "$f" 2>/dev/null)
	tot_calls=$((tot_calls + c)) tot_ok=$((tot_ok + o)) tot_trapped=$((tot_trapped + ta))
	for kv in $errs; do
		tot_errno[${kv%%=*}]=$((${tot_errno[${kv%%=*}]:-0} + ${kv#*=}))
		if [[ " $EXPECTED " != *" ${kv%%=*} "* ]]; then
			tot_bad=$((tot_bad + ${kv#*=}))
			# The first failures, each with the event that caught it in flight, else the last before it.
			while read -r line; do
				t=$(sed -n 's/.* t=\([0-9]*\) .*/\1/p' <<<"$line")
				us=$(sed -n 's/.* us=\([0-9]*\)$/\1/p' <<<"$line")
				ts=$t
				t=$((t + ${us:-0} * 1000))
				# The first event while it was in the kernel, else the last before it.
				ev=$(awk -v s="$ts" -v t="$t" '{ split($1, a, "=") }
					a[2] + 0 > s + 0 && a[2] + 0 <= t + 0 { print "in flight at it (" int((a[2] - s) / 1e6) " ms after the call began): " $0; f = 1; exit }
					a[2] + 0 <= s + 0 { last = $0; lt = a[2] }
					END { if (!f && last != "") print "returned " int((t - lt) / 1e6) " ms after: " last }' "$EVENTS")
				[ -n "$ev" ] || ev="before any event"
				bad_lines+=("$id: $line ($ev)")
			done < <(grep -E "^call .* errno=${kv%%=*} " "$f" | head -n 3)
		fi
	done
	printf '# %-32s %-5s calls=%-6d ok=%-6d%s\n' "$id" "${RT_OF[$id]}" "$c" "$o" "${errs:+ failed:$errs}"
	[ "${c:-0}" -gt 0 ] || t_fail "container $id made calls" "$(tail -n 5 "$f" 2>/dev/null)" \
		"$(tail -n 5 "$(mv_out "$id")" 2>/dev/null)"
done
errs_line=
for k in "${!tot_errno[@]}"; do errs_line+=" $k=${tot_errno[$k]}"; done
t_diag "totals: ${#IDS[@]} containers, calls=$tot_calls ok=$tot_ok failed=$((tot_calls - tot_ok))${errs_line:+ (}${errs_line# }${errs_line:+)}"
if [ "$tot_bad" -eq 0 ] && [ "$tot_calls" -gt 0 ]; then
	t_ok "no call failed with an errno the baseline does not give ($tot_calls calls${EXPECTED:+, expected: $EXPECTED})"
else
	t_fail "no call failed with an errno the baseline does not give" \
		"$tot_bad of $tot_calls calls failed unexpectedly:${errs_line}" "${bad_lines[@]:0:30}"
fi

# ---------------------------------------------------------------------------
# Nothing left behind; notifyctl consistent
# ---------------------------------------------------------------------------

SERVING=$(serving_pid)
for ((w = 0; w < 100; w++)); do
	n_ct=$(stat_field containers)
	[ "${n_ct:-x}" = 0 ] && break
	sleep 0.1
done
t_check "notifyctl stats: containers back to 0 (${n_ct:-?})" [ "${n_ct:-x}" = 0 ]
t_check "notifyctl list is empty" [ -z "$(ctl list | tail -n +2)" ]
reqs=$(stat_field requests)
# The totals live in the in-flight log's header: they count across restarts.
# An answer a notifyd sent just before its SIGKILL, before it counted it, is
# counted by nobody (its successor finds the id no longer pending): at most
# one per kill and worker is allowed, and the shortfall is shown.
short=$((tot_trapped - ${reqs:-0}))
t_check "notifyctl stats: requests ${reqs:-?} cover the $tot_trapped trapped calls answered$([ "$short" -gt 0 ] && echo " but $short (SIGKILLed before counting)")" \
	[ "$short" -le $((KILLS * 4)) ]
remember_loops
for ((w = 0; w < 100; w++)); do
	loops=
	for d in "${!LOOP_INO[@]}"; do still_ours "$d" && loops+=" $d"; done
	[ -z "$loops" ] && break
	sleep 0.1
done
n_handed=$(handed_loops | grep -c .)
if [ -z "$loops" ]; then
	t_ok "every loop device notifyd handed the containers ($n_handed) is deleted"
else
	bound=$(for d in $loops; do losetup -l -n -O NAME,BACK-FILE "$d" 2>/dev/null; done | awk 'NF >= 2')
	t_fail "every loop device notifyd handed the containers ($n_handed) is deleted" \
		"$(wc -w <<<"$loops") still exist, $(grep -c . <<<"$bound") of them bound:" \
		"$(head -n 5 <<<"$bound")" "unbound: $(for d in $loops; do grep -q "^$d " <<<"$bound" || printf '%s ' "$d"; done | cut -c1-300)"
fi
mnt_left=$(grep -c ' - tmpfs storm ' "/proc/$SERVING/mountinfo" 2>/dev/null)
after_lines=$(wc -l <"/proc/$SERVING/mountinfo" 2>/dev/null)
t_check "no container mount left in notifyd's view (${mnt_left:-?} storm tmpfs; $MOUNTS_BEFORE mounts before, $after_lines now)" \
	[ "${mnt_left:-1}" = 0 ]
t_check "no container mount left in the host's view" \
	[ "$(grep -c ' - tmpfs storm ' /proc/self/mountinfo)" = 0 ]
kids=
for ((w = 0; w < 50; w++)); do
	kids=$(pgrep -P "$SERVING" 2>/dev/null | tr '\n' ' ')
	[ -z "$kids" ] && break
	sleep 0.1
done
t_check "no child process of notifyd is left (no FUSE daemon or helper)" [ -z "$kids" ] ||
	t_diag "$(for p in $kids; do ps -o pid=,args= -p "$p"; done)"
for ((w = 0; w < 50; w++)); do
	nfd=$(notify_fds "$SERVING")
	[ "$nfd" = 0 ] && break
	sleep 0.1
done
t_check "no seccomp notify fd left in notifyd ($nfd)" [ "$nfd" = 0 ]
if [ "$KEEPER" = 1 ]; then
	kfd=$(notify_fds "$NOTIFYD_PID")
	t_check "no seccomp notify fd left in the keeper ($kfd)" [ "$kfd" = 0 ]
fi
ls "$MV_TMP/state" >"$MV_TMP/state.left" 2>/dev/null
t_check "no container state file left ($(grep -c 'c\.' "$MV_TMP/state.left"))" \
	[ "$(grep -c '^c\.' "$MV_TMP/state.left")" = 0 ]
t_check "notifyd alive" alive "$SERVING"
t_done
