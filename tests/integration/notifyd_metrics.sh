#!/bin/bash
# Metrics (docs/metrics.md): crun and runc containers mount what is allowed
# (kernel), continued (tmpfs) and denied (xfs); `notifyctl stats --json` and
# GET /metrics on `notifyd --metrics unix:PATH` (and a loopback TCP port)
# move by exactly those requests; the exposition passes prometheus_client's
# parser and the fixed-label checks of tests/helpers/metrics_parse.py; a
# container's own strings never reach it and cannot add series; the
# listening socket survives an upgrade in place (SIGUSR2).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PARSE=$MV_SRC/tests/helpers/metrics_parse.py
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
command -v curl >/dev/null || mv_bail "curl is not installed (scripts/install-deps.sh)"
"$PY" -c 'import prometheus_client' 2>/dev/null ||
	mv_bail "python3-prometheus-client is not installed (scripts/install-deps.sh)"

PROFILES=$MV_TMP/profiles
ROOTFS=$MV_TMP/rootfs
MSOCK=$MV_TMP/run/metrics.sock
mkdir -p "$PROFILES" "$MV_TMP/run" "$MV_TMP/out"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 64

[fs ext4]
action = kernel
idmap = yes

[fs tmpfs]
action = continue

[fs xfs]
action = deny
EOF
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
# A free loopback port: the kernel picks one, we hand it to notifyd.
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state" --metrics "unix:$MSOCK" ||
	mv_bail "notifyd did not start"

scrape() { curl -sS --max-time 10 --unix-socket "$MSOCK" http://localhost/metrics; }
# parsed : the current exposition, checked and flattened (metrics_parse.py), or fails.
parsed() { scrape | "$PY" "$PARSE"; }
# val SNAPSHOT SERIES : the value of SERIES (as metrics_parse.py prints it), 0 if absent.
val() { awk -v k="$2" '$1 == k {print $2; f = 1} END {if (!f) print 0}' <<<"$1"; }
json() { mv_ctl stats --json; }
jval() { jq -r "$2" <<<"$1"; }

# ---------------------------------------------------------------------------
# The listener, the format, stats --json against stats
# ---------------------------------------------------------------------------
t_check "the metrics socket is 0600 root" test "$(stat -c %a:%U "$MSOCK")" = 600:root
out=$(curl -sS -i --max-time 10 --unix-socket "$MSOCK" http://localhost/metrics)
t_check "GET /metrics: 200 with Content-Type text/plain; version=0.0.4" \
	grep -qiE '^Content-Type: text/plain; version=0\.0\.4' <<<"$out"
t_check "GET /other: 404" grep -qE '^HTTP/1\.[01] 404' \
	<<<"$(curl -sS -i --max-time 10 --unix-socket "$MSOCK" http://localhost/other)"
t_check "POST /metrics: 405" grep -qE '^HTTP/1\.[01] 405' \
	<<<"$(curl -sS -i --max-time 10 -X POST -d x=1 --unix-socket "$MSOCK" http://localhost/metrics)"
t_check "HTTP/1.0 GET /metrics: 200" grep -qE '^HTTP/1\.[01] 200' \
	<<<"$(curl -sS -i -0 --max-time 10 --unix-socket "$MSOCK" http://localhost/metrics)"
if before=$(parsed 2>"$MV_TMP/parse.err"); then
	t_ok "the exposition parses strictly (prometheus_client + fixed labels)"
else
	t_fail "the exposition parses strictly (prometheus_client + fixed labels)" \
		"$(cat "$MV_TMP/parse.err")" "$(scrape | head -n 60)"
fi
j0=$(json)
t_check "stats --json is one JSON object" jq -e 'type == "object"' <<<"$j0"
plain=$(mv_ctl stats)
ok=1
for k in pid restarts containers requests kernel continue denied enosys failed callers-gone \
	recovered open-fds profiles-dir; do
	p=$(sed -n "s/^$k: //p" <<<"$plain")
	j=$(jval "$j0" ".\"$k\"")
	# open-fds moves with the connections of the two commands themselves
	[ "$k" = open-fds ] && continue
	[ "$p" = "$j" ] || { ok=0; t_diag "stats $k: plain '$p', json '$j'"; }
done
t_check "stats --json gives the numbers of stats (pid, restarts, totals, profiles-dir)" test "$ok" = 1
t_check "stats --json: in-flight as used/slots, as stats says" test \
	"$(jval "$j0" '"\(.["in-flight"].used) of \(.["in-flight"].slots)"')" = \
	"$(sed -n 's/^in-flight: //p' <<<"$plain")"
t_check "stats --json: profiles and features as stats says" test \
	"$(jval "$j0" '.profiles | join(" ")')|$(jval "$j0" .features)" = \
	"$(sed -n 's/^profiles: //p' <<<"$plain")|$(sed -n 's/^features: //p' <<<"$plain")"
if ! mv_ctl list --json >/dev/null 2>&1; then
	t_ok "notifyctl --json with another command is refused"
else
	t_fail "notifyctl --json with another command is refused" "exit 0"
fi

# ---------------------------------------------------------------------------
# Containers: allowed, continued, denied -- counted exactly
# ---------------------------------------------------------------------------
cat >"$ROOTFS/m.sh" <<'EOF'
dev=$1
mvstep ext4 mount -t ext4 "$dev" /mnt/a
mvstep umount umount /mnt/a
mvstep tmpfs mount -t tmpfs none /mnt/b
mvstep xfs mount -t xfs "$dev" /mnt/a
EOF
K='notifyd_requests_total{action="kernel",result="ok",syscall="mount"}'
U='notifyd_requests_total{action="umount",result="ok",syscall="umount2"}'
C='notifyd_requests_total{action="continue",result="continue",syscall="mount"}'
D='notifyd_requests_total{action="deny",result="EPERM",syscall="mount"}'
H='notifyd_request_duration_seconds_count{}'
for RT in crun runc; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT: metrics of a container's mounts" "$RT is not installed"
		continue
	fi
	id=$MV_IDP-$RT-metrics
	before=$(parsed) || t_fail "$RT: scrape before" "$(scrape | head -n 40)"
	jb=$(json)
	mv_oci_bundle --socket "$MV_SOCK" --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /m.sh "$DEV"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60 || t_fail "$RT: container exits 0" "exit $?"
	t_step_ok "$RT: ext4 mounts (kernel)" "$id" ext4
	t_step_ok "$RT: it unmounts" "$id" umount
	t_step_ok "$RT: tmpfs mounts (continue)" "$id" tmpfs
	t_step_errno "$RT: xfs is denied" "$id" xfs EPERM
	mv_wait_log "decision .*id=\"?$id\"?.* type=xfs " 5
	after=$(parsed) || t_fail "$RT: scrape after" "$(scrape | head -n 40)"
	ja=$(json)
	n=$(mv_decisions "$id" | wc -l)
	t_check "$RT: the container made exactly 4 trapped calls (decision lines: $n)" test "$n" = 4
	for s in "$K" "$U" "$C" "$D"; do
		d=$(($(val "$after" "$s") - $(val "$before" "$s")))
		t_check "$RT: $s moved by 1 ($d)" test "$d" = 1
	done
	d=$(($(val "$after" "$H") - $(val "$before" "$H")))
	t_check "$RT: the latency histogram counted the 4 requests ($d)" test "$d" = 4
	for k in requests:4 kernel:2 continue:1 denied:1 failed:0 enosys:0; do
		d=$(($(jval "$ja" ".${k%:*}") - $(jval "$jb" ".${k%:*}")))
		t_check "$RT: stats --json ${k%:*} moved by ${k#*:} ($d)" test "$d" = "${k#*:}"
	done
	t_diag "$RT: latency sum so far $(val "$after" 'notifyd_request_duration_seconds_sum{}') s" \
		"over $(val "$after" "$H") requests"
done
t_check "notifyd_containers and stats agree" test \
	"$(val "$(parsed)" 'notifyd_containers{}')" = "$(jval "$(json)" .containers)"

# ---------------------------------------------------------------------------
# Gauges: a FUSE daemon and a loop device held, then released
# ---------------------------------------------------------------------------
gauges() {
	local rt=$1 id=$MV_IDP-$1-gauges b m a i j
	b=$(parsed)
	mv_oci_bundle --socket "$MV_SOCK" --profile gauges --loop "$MV_TMP/$id" "$ROOTFS" sh /g.sh "$id"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$rt" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		m=$(parsed)
		j=$(json)
		t_check "$rt: while mounted: notifyd_daemons{kind=fuse} 1" \
			test "$(val "$m" 'notifyd_daemons{kind="fuse"}')" = 1
		t_check "$rt: while mounted: notifyd_loop_devices{state=bound} 1" \
			test "$(val "$m" 'notifyd_loop_devices{state="bound"}')" = 1
		t_check "$rt: while mounted: stats --json resources agree (fuse-daemons 1, loop-devices 1)" \
			test "$(jval "$j" '"\(.resources["fuse-daemons"]) \(.resources["loop-devices"])"')" = "1 1"
		t_check "$rt: the FUSE start-up counted: {mount,fuse,ok} moved by 1" \
			test $(($(val "$m" "$F") - $(val "$b" "$F"))) = 1
		mv_sync_go "$ROOTFS" "$id.mounted"
	else
		t_fail "$rt: gauges container reached the mounted state" "$(cat "$(mv_out "$id")")" \
			"$(tail -n 20 "$MV_LOG")"
	fi
	mv_wait "$id" || t_fail "$rt: gauges container exits 0" "$(cat "$(mv_out "$id")")"
	t_step_ok "$rt: fuse2fs mount of the container's loop device" "$id" mount
	t_step_ok "$rt: losetup -d" "$id" detach
	for ((i = 0; i < 100; i++)); do
		a=$(parsed)
		[ "$(val "$a" 'notifyd_daemons{kind="fuse"}')" = 0 ] &&
			[ "$(val "$a" 'notifyd_loop_devices{state="bound"}')" = 0 ] && break
		sleep 0.1
	done
	t_check "$rt: after exit: no FUSE daemon, no bound loop device" test \
		"$(val "$a" 'notifyd_daemons{kind="fuse"}') $(val "$a" 'notifyd_loop_devices{state="bound"}')" = "0 0"
}
FUSE2FS=$(command -v fuse2fs)
if [ -z "$FUSE2FS" ] || [ ! -x /usr/sbin/losetup ]; then
	t_skip "gauges of FUSE daemons and loop devices" "fuse2fs or util-linux losetup is not installed"
else
	printf '%s\n' '[profile]' 'default-action = deny' 'max-loop-devices = 2' '' '[fs ext4]' \
		'action = fuse' "program = $FUSE2FS" \
		'arguments = {source} {mountpoint} -f -o auto_unmount {options}' >"$PROFILES/gauges.conf"
	# shellcheck disable=SC2016 # the container's script: expanded in the container
	printf '%s\n' 'dev=$(/usr/sbin/losetup -f --show /img/ext4.img)' 'echo "dev=$dev"' \
		'mvstep mount mount -t ext4 "$dev" /mnt/a' 'mvsync "$1.mounted"' \
		'mvstep umount umount /mnt/a' 'mvstep detach /usr/sbin/losetup -d "$dev"' >"$ROOTFS/g.sh"
	kill -HUP "$NOTIFYD_PID"
	sleep 1 # the reload is logged; the set is swapped at once
	case $ROOTFS in "$MV_TMP"/?*) ;; *) mv_bail "rootfs '$ROOTFS' is not under \$MV_TMP" ;; esac
	mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
	chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
	mv_make_ext4 "$ROOTFS/img/ext4.img" || mv_bail "cannot build the ext4 image"
	chown 100000:100000 "$ROOTFS/img/ext4.img"
	F='notifyd_requests_total{action="fuse",result="ok",syscall="mount"}'
	for RT in crun runc; do
		command -v "$RT" >/dev/null && gauges "$RT"
	done
fi

# ---------------------------------------------------------------------------
# Bounded cardinality: a container's strings never reach the output
# ---------------------------------------------------------------------------
if command -v runc >/dev/null; then
	RT=runc
else
	RT=crun
fi
cat >"$ROOTFS/junk.sh" <<'EOF'
i=0
while [ $i -lt 150 ]; do
	mount -t "mvjunk$i" "/src-mvjunk$i" /mnt/a 2>/dev/null
	mount -t ext4 -o "mvjunkopt$i" "/dev/mvjunkdev$i" /mnt/a 2>/dev/null
	i=$((i + 1))
done
echo done
EOF
before=$(parsed)
lines_before=$(scrape | grep -vc '^#')
id=$MV_IDP-$RT-junk
mv_oci_bundle --socket "$MV_SOCK" "$MV_TMP/$id" "$ROOTFS" sh /junk.sh
mv_run "$RT" "$MV_TMP/$id" "$id" 90 || t_fail "$RT: junk container exits 0" "exit $?"
after=$(parsed) || t_fail "scrape after the junk container" "$(scrape | head -n 40)"
raw=$(scrape)
t_check "no string of the container (mvjunk*) appears in /metrics" \
	sh -c "! grep -q mvjunk <<'X'
$raw
X"
if json | grep -q mvjunk; then
	t_fail "no string of the container appears in stats --json" "$(json)"
else
	t_ok "no string of the container appears in stats --json"
fi
lines_after=$(grep -vc '^#' <<<"$raw")
new=$((lines_after - lines_before))
# At most the new (syscall, action, result) series of this container's answers:
# mount/deny/EPERM exists already; ENOENT/ENOTBLK/EINVAL may be new.
t_check "300 odd requests add at most 4 series ($lines_before -> $lines_after)" test "$new" -le 4
d=$(($(val "$after" "$H") - $(val "$before" "$H")))
t_check "... and are all counted ($d of 300)" test "$d" = 300

# ---------------------------------------------------------------------------
# Upgrade in place: same socket, restarts counted, counters restart
# ---------------------------------------------------------------------------
ino=$(stat -c %i "$MSOCK")
st0=$(val "$after" 'notifyd_start_time_seconds{}')
fds0=$(mv_notifyd_fds)
sleep 1.1 # start times are whole seconds
kill -USR2 "$NOTIFYD_PID"
for ((i = 0; i < 100; i++)); do
	[ "$(jval "$(json 2>/dev/null)" .restarts 2>/dev/null)" = 1 ] && break
	sleep 0.05
done
up=$(parsed) || t_fail "scrape after the upgrade" "$(scrape | head -n 40)"
t_check "after SIGUSR2: notifyd_restarts_total 1" test "$(val "$up" 'notifyd_restarts_total{}')" = 1
t_check "after SIGUSR2: a later notifyd_start_time_seconds" \
	test "$(val "$up" 'notifyd_start_time_seconds{}')" -gt "$st0"
t_check "after SIGUSR2: the same socket file serves (kept in the fd store)" \
	test "$(stat -c %i "$MSOCK")" = "$ino"
t_check "after SIGUSR2: request counters start again at 0" \
	test "$(val "$up" "$H")" = 0
t_check "after SIGUSR2: no fd of the old listener thread leaked ($fds0 -> $(mv_notifyd_fds))" \
	test "$(mv_notifyd_fds)" -le "$fds0"
mv_stop_notifyd
t_check "a clean stop removes the (handed back) metrics socket" test ! -e "$MSOCK"

# ---------------------------------------------------------------------------
# Under the keeper: a SIGKILLed notifyd's successor serves on the same socket
# ---------------------------------------------------------------------------
K=$MV_TMP/keeper
mkdir -p "$K/run"
KSOCK=$K/run/metrics.sock
(exec "$(mv_prog notifyd)" --keeper --socket "$K/run/n.sock" --control "$K/run/c.sock" \
	--profiles "$PROFILES" --state-dir "$K/state" --metrics "unix:$KSOCK" </dev/null 2>>"$K/log") &
KP=$!
defer "kill -TERM $KP 2>/dev/null; wait $KP 2>/dev/null"
kstat() { "$(mv_prog notifyctl)" --control "$K/run/c.sock" stats --json 2>/dev/null; }
# kpid [NOT] : waits (10 s) for a serving notifyd other than NOT; its pid.
kpid() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$(kstat | jq -r '.pid // empty' 2>/dev/null)
		[ -n "$p" ] && [ "$p" != "${1:-}" ] && echo "$p" && return 0
		sleep 0.1
	done
	return 1
}
if P1=$(kpid); then
	sleep 2 # past the keeper's back-off after an early death
	kino=$(stat -c %i "$KSOCK")
	kill -KILL "$P1"
	P2=$(kpid "$P1")
	kscrape=$(curl -sS --max-time 10 --unix-socket "$KSOCK" http://localhost/metrics | "$PY" "$PARSE")
	t_check "keeper: after SIGKILL a new notifyd serves ($P1 -> ${P2:-none})" test -n "$P2"
	t_check "keeper: on the same socket file, handed back by the keeper" \
		test "$(stat -c %i "$KSOCK")" = "$kino"
	t_check "keeper: notifyd_restarts_total 1" test "$(val "$kscrape" 'notifyd_restarts_total{}')" = 1
else
	t_fail "notifyd --keeper --metrics starts" "$(tail -n 20 "$K/log")"
fi
kill -TERM "$KP" 2>/dev/null
wait "$KP" 2>/dev/null

# ---------------------------------------------------------------------------
# A loopback TCP listener; other addresses are refused
# ---------------------------------------------------------------------------
mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state2" --metrics "127.0.0.1:$PORT" ||
	mv_bail "notifyd did not start with a TCP listener"
if curl -sS --max-time 10 "http://127.0.0.1:$PORT/metrics" | "$PY" "$PARSE" >/dev/null; then
	t_ok "--metrics 127.0.0.1:PORT serves a valid exposition"
else
	t_fail "--metrics 127.0.0.1:PORT serves a valid exposition" "$(tail -n 5 "$MV_LOG")"
fi
mv_stop_notifyd
for spec in "0.0.0.0:$PORT" "[::]:$PORT" "192.0.2.1:$PORT" "localhost:$PORT" "127.0.0.1:0" \
	"unix:$MV_TMP/nodir/m.sock"; do
	rm -f "$MV_TMP/run/x.sock" "$MV_TMP/run/x.ctl"
	out=$(timeout 10 "$(mv_prog notifyd)" --socket "$MV_TMP/run/x.sock" --control "$MV_TMP/run/x.ctl" \
		--profiles "$PROFILES" --state-dir "$MV_TMP/state3" --metrics "$spec" 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "metrics: cannot serve" <<<"$out" &&
		[ ! -e "$MV_TMP/run/x.sock" ]; then
		t_ok "--metrics $spec: refused at start, no socket left"
	else
		t_fail "--metrics $spec: refused at start, no socket left" "exit $rc" "$out"
	fi
done
t_done
