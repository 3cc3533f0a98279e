#!/bin/bash
# The metrics listener (docs/metrics.md) under attack: ~1000 connections at
# once -- slowloris, idle, garbage, a 1 MiB request line, header floods --
# while crun and runc containers mount and unmount ext4 through notifyd.
# Their requests must neither fail nor stall (their latency with and without
# the attack is reported, never judged), notifyd's fds and memory stay
# bounded, and /metrics answers again once the attack stops.  Containers
# cannot reach the listener (own network namespace, socket not in their
# root); the unix socket is 0600 root (0660 with --metrics-group): another
# user cannot connect.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

ATTACK=$MV_SRC/tests/helpers/metrics_attack.py
PARSE=$MV_SRC/tests/helpers/metrics_parse.py
PY=/usr/bin/python3
ATTACK_S=${MV_METRICS_ATTACK_S:-20}
ROUNDS=25
command -v curl >/dev/null || mv_bail "curl is not installed (scripts/install-deps.sh)"
"$PY" -c 'import prometheus_client' 2>/dev/null ||
	mv_bail "python3-prometheus-client is not installed (scripts/install-deps.sh)"

PROFILES=$MV_TMP/profiles
ROOTFS=$MV_TMP/rootfs
mkdir -p "$PROFILES" "$MV_TMP/run" "$MV_TMP/out"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = kernel
idmap = yes
EOF
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state" --metrics "127.0.0.1:$PORT" ||
	mv_bail "notifyd did not start"

scrape() { curl -sS --max-time "${1:-10}" "http://127.0.0.1:$PORT/metrics"; }
val() { awk -v k="$2" '$1 == k {print $2; f = 1} END {if (!f) print 0}' <<<"$1"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$NOTIFYD_PID/status"; }
H='notifyd_request_duration_seconds'

cat >"$ROOTFS/loop.sh" <<'EOF'
dev=$1 n=$2 i=0 bad=0
while [ $i -lt "$n" ]; do
	mount -t ext4 "$dev" /mnt/a || bad=$((bad + 1))
	umount /mnt/a || bad=$((bad + 1))
	i=$((i + 1))
done
echo "failed=$bad"
EOF
cat >"$ROOTFS/reach.sh" <<'EOF'
port=$1
mvstep tcp wget -q -T 3 -O - "http://127.0.0.1:$port/metrics"
mvstep ls ls /run/mountvisor
EOF

# mounts RT TAG : ROUNDS ext4 mount+umount pairs in a fresh container; sets
# WALL_MS (the container's run, start-up included), PER_REQ_US (notifyd's own
# handling, from the histogram) and fails on any failed call or a timeout.
mounts() {
	local rt=$1 tag=$2 id=$MV_IDP-$1-${2// /-} t0 t1 b a rc
	b=$(scrape 30 | "$PY" "$PARSE")
	mv_oci_bundle --socket "$MV_SOCK" --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /loop.sh "$DEV" "$ROUNDS"
	t0=$(date +%s%N)
	mv_run "$rt" "$MV_TMP/$id" "$id" 120
	rc=$?
	t1=$(date +%s%N)
	a=$(scrape 30 | "$PY" "$PARSE")
	WALL_MS=$(((t1 - t0) / 1000000))
	if [ "$rc" = 0 ] && grep -qx "failed=0" "$(mv_out "$id")"; then
		t_ok "$rt $tag: $ROUNDS ext4 mount+umount pairs, none failed or stalled (exit $rc)"
	else
		t_fail "$rt $tag: $ROUNDS ext4 mount+umount pairs, none failed or stalled" "exit $rc" \
			"$(tail -n 5 "$(mv_out "$id")")"
	fi
	PER_REQ_US=$("$PY" -c "
import sys
s = float(sys.argv[2]) - float(sys.argv[1]); n = float(sys.argv[4]) - float(sys.argv[3])
print(int(s / n * 1e6) if n > 0 else -1)" "$(val "$b" "${H}_sum{}")" "$(val "$a" "${H}_sum{}")" \
		"$(val "$b" "${H}_count{}")" "$(val "$a" "${H}_count{}")" 2>/dev/null)
	[ -z "$a" ] && PER_REQ_US="(no scrape)"
}

RTS=()
for rt in crun runc; do
	if command -v "$rt" >/dev/null; then RTS+=("$rt"); else t_skip "$rt: mounts under attack" "$rt is not installed"; fi
done
[ ${#RTS[@]} -gt 0 ] || mv_bail "neither crun nor runc is installed"

# ---------------------------------------------------------------------------
# Containers cannot reach the listener
# ---------------------------------------------------------------------------
for rt in "${RTS[@]}"; do
	id=$MV_IDP-$rt-reach
	mv_oci_bundle --socket "$MV_SOCK" "$MV_TMP/$id" "$ROOTFS" sh /reach.sh "$PORT"
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	if [ "$(mv_step_rc "$id" tcp)" != 0 ] && ! mv_step_out "$id" tcp | grep -q notifyd_; then
		t_ok "$rt: a container cannot reach 127.0.0.1:$PORT (its own network namespace)"
	else
		t_fail "$rt: a container cannot reach 127.0.0.1:$PORT" "$(mv_step_out "$id" tcp | head -n 5)"
	fi
done

# ---------------------------------------------------------------------------
# Baseline, then the same under ~1000 hostile connections
# ---------------------------------------------------------------------------
base_fds=$(mv_notifyd_fds)
base_rss=$(rss_kb)
declare -A BASE_WALL BASE_REQ
for rt in "${RTS[@]}"; do
	mounts "$rt" baseline
	BASE_WALL[$rt]=$WALL_MS
	BASE_REQ[$rt]=$PER_REQ_US
done
base_fds=$(mv_notifyd_fds)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$NOTIFYD_PID/stat"; }
ticks0=$(cpu_ticks)
nice -n 19 "$PY" "$ATTACK" "127.0.0.1:$PORT" "$ATTACK_S" 1000 >"$MV_TMP/attack.out" 2>&1 &
attacker=$!
defer "kill $attacker 2>/dev/null"
sleep 3
max_fds=0 max_rss=0
sample() {
	local f r
	f=$(mv_notifyd_fds)
	r=$(rss_kb)
	[ "${f:-0}" -gt "$max_fds" ] && max_fds=$f
	[ "${r:-0}" -gt "$max_rss" ] && max_rss=$r
}
sample
for rt in "${RTS[@]}"; do
	mounts "$rt" "under attack"
	t_diag "$rt: container run ${BASE_WALL[$rt]} ms -> $WALL_MS ms under attack;" \
		"notifyd's handling per request ${BASE_REQ[$rt]} us -> $PER_REQ_US us"
	sample
done
legit=$(scrape 3 2>&1 | head -c 200)
t_diag "a legitimate scrape during the attack: $([ -n "$legit" ] && echo answered || echo 'not answered (connection cap held by the attacker)')"
while kill -0 "$attacker" 2>/dev/null; do
	sample
	sleep 0.5
done
wait "$attacker"
t_diag "attacker: $(cat "$MV_TMP/attack.out")"
t_diag "notifyd's CPU during the ${ATTACK_S} s attack, the containers' mounts included:" \
	"$(($(cpu_ticks) - ticks0)) ticks of 1/$(getconf CLK_TCK) s"
t_check "notifyd survived the attack" mv_notifyd_alive
# Connection cap 16, plus libmicrohttpd's epoll and wake-up fds.
t_check "notifyd's fds stayed bounded ($base_fds before, at most $max_fds during)" \
	test "$max_fds" -le $((base_fds + 16 + 8))
t_check "notifyd's memory stayed bounded (RSS $base_rss KiB before, at most $max_rss KiB during)" \
	test "$max_rss" -le $((base_rss + 65536))
grep -q "opened=" "$MV_TMP/attack.out" && opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$MV_TMP/attack.out")
t_check "the attacker got its connections through (opened ${opened:-0} >= 1000)" test "${opened:-0}" -ge 1000

ok=0
for ((i = 0; i < 100; i++)); do
	if scrape 5 | "$PY" "$PARSE" >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
t_check "after the attack /metrics answers with a valid exposition again" test "$ok" = 1
for ((i = 0; i < 100; i++)); do
	[ "$(mv_notifyd_fds)" -le $((base_fds + 2)) ] && break
	sleep 0.1
done
t_check "after the attack notifyd's fds are back ($(mv_notifyd_fds), was $base_fds)" \
	test "$(mv_notifyd_fds)" -le $((base_fds + 2))

# ---------------------------------------------------------------------------
# Odd requests one by one: each gets an error or a close, none a crash
# ---------------------------------------------------------------------------
odd() { # odd DESC PYTHON-BYTES-EXPR
	local out
	out=$("$PY" - "$PORT" "$2" <<'EOF' 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(eval(sys.argv[2]))
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except OSError:
    pass
print((data.split(b"\r\n")[0] or b"(closed)").decode(errors="replace"))
EOF
	)
	if mv_notifyd_alive && ! grep -q '^HTTP/1\.[01] 200' <<<"$out"; then
		t_ok "$1: no 200, notifyd lives ($out)"
	else
		t_fail "$1: no 200, notifyd lives" "$out"
	fi
}
odd "1 MiB request line" 'b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n"'
odd "4000 headers" 'b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(4000)) + b"\r\n"'
odd "random bytes" '__import__("os").urandom(8192)'
odd "NUL in the request line" 'b"GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n"'
odd "HTTP/9.9" 'b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n"'
odd "absolute path traversal" 'b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"'
odd "chunked body of 64 MiB claimed" 'b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n" + b"x" * 65536'
odd "pipelined requests" 'b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" * 200'
t_check "after the odd requests /metrics still answers" sh -c \
	"curl -sS --max-time 10 'http://127.0.0.1:$PORT/metrics' | '$PY' '$PARSE' >/dev/null"

# ---------------------------------------------------------------------------
# The unix socket: 0600 root, another user cannot connect
# ---------------------------------------------------------------------------
MSOCK=$MV_TMP/run/metrics.sock
mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state2" --metrics "unix:$MSOCK" ||
	mv_bail "notifyd did not start with a unix listener"
t_check "the unix socket is 0600 root:root" test "$(stat -c %a:%U:%G "$MSOCK")" = 600:root:root
chmod 0755 "$MV_TMP" "$MV_TMP/run" 2>/dev/null # so only the socket's own mode decides
if setpriv --reuid 65534 --regid 65534 --clear-groups -- \
	curl -sS --max-time 5 --unix-socket "$MSOCK" http://localhost/metrics >"$MV_TMP/nobody.out" 2>&1; then
	t_fail "user nobody cannot connect to the unix socket" "$(head -n 3 "$MV_TMP/nobody.out")"
else
	t_ok "user nobody cannot connect to the unix socket ($(head -n 1 "$MV_TMP/nobody.out"))"
fi
t_check "root can" sh -c "curl -sS --max-time 10 --unix-socket '$MSOCK' http://localhost/metrics | '$PY' '$PARSE' >/dev/null"

# --metrics-group: 0660 with that group; its members can scrape, nobody else.
G=47619 # a gid no file of the host uses: no /etc/group entry needed
mv_start_notifyd "$PROFILES" --state-dir "$MV_TMP/state3" --metrics "unix:$MSOCK" --metrics-group "$G" ||
	mv_bail "notifyd did not start with --metrics-group"
t_check "--metrics-group $G: the socket is 0660 root:$G" test "$(stat -c %a:%U:%g "$MSOCK")" = "660:root:$G"
if setpriv --reuid 65534 --regid 65534 --groups "$G" -- \
	curl -sS --max-time 5 --unix-socket "$MSOCK" http://localhost/metrics 2>&1 | "$PY" "$PARSE" >/dev/null; then
	t_ok "a member of group $G (user nobody) can scrape"
else
	t_fail "a member of group $G (user nobody) can scrape"
fi
if setpriv --reuid 65534 --regid 65534 --clear-groups -- \
	curl -sS --max-time 5 --unix-socket "$MSOCK" http://localhost/metrics >"$MV_TMP/nobody.out" 2>&1; then
	t_fail "user nobody outside group $G cannot" "$(head -n 3 "$MV_TMP/nobody.out")"
else
	t_ok "user nobody outside group $G cannot"
fi
out=$(timeout 10 "$(mv_prog notifyd)" --socket "$MV_TMP/run/y.sock" --control "$MV_TMP/run/y.ctl" \
	--profiles "$PROFILES" --metrics "unix:$MV_TMP/run/y.m" --metrics-group no-such-group-mv 2>&1)
t_check "--metrics-group with an unknown name is refused ($out)" \
	sh -c "[ $? != 0 ] && [ ! -e '$MV_TMP/run/y.sock' ]"
t_done
