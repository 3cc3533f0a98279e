#!/bin/bash
# notifyd against clients that do not play by the rules.
#
#   1. Its OCI socket (listenerPath), driven directly: malformed JSON, no
#      "fds", seccompFd named but no fd attached, a pipe passed as seccompFd,
#      too many fds, an oversized message, deep nesting, binary garbage,
#      connections closed early or left idle, 50 garbage connections in a
#      row.  Each must be refused with a log line "OCI hand-over rejected:
#      WHY", leak no fd, and stall nothing: a state split over several writes
#      (fd in the first) is still accepted and served.
#   2. A real container whose mount(2) passes pointers notifyd cannot read
#      (NULL, unmapped, kernel addresses, strings running into an unmapped
#      page): the caller gets the errno the kernel itself gives for the same
#      call (measured in a container without seccomp), and a decision line.
#      Valid strings that cross a page boundary still mount.
#
# Host-side client: a python3 script (below).  Valid hand-overs come from
# tests/helpers/mv_launch (--chunks splits the state); containers run
# tests/helpers/mount_race badptr.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PROFILES=$MV_TMP/profiles
ROOTFS=$MV_TMP/rootfs
mkdir -p "$PROFILES" "$MV_TMP/lt"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny
max-mounts = 64

[fs ext4]
action = kernel
idmap = yes
allowed-options = errors

[fs tmpfs]
action = continue
EOF

LAUNCH=$MV_BUILD/tests/helpers/mv_launch
MOUNTLOOP=$MV_BUILD/tests/helpers/mountloop
if [ -x "$LAUNCH" ] && [ -x "$MOUNTLOOP" ]; then
	# mountloop runs as the container's root (host uid 100000).
	LAUNCH=$(mv_stage "$LAUNCH") && MOUNTLOOP=$(mv_stage "$MOUNTLOOP") ||
		mv_bail "cannot copy mv_launch and mountloop into $MV_TMP/bin"
else
	mv_bail "tests/helpers/mv_launch or mountloop not built (make all)"
fi
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# ---------------------------------------------------------------------------
# The hostile client
# ---------------------------------------------------------------------------

cat >"$MV_TMP/abuse.py" <<'EOF'
# abuse.py SOCKET CASE [ARG] : one hostile hand-over; prints
#   case=CASE result=closed|timeout|reset
# closed = notifyd closed the connection (what a refusal looks like).
#   garbage N   N connections cycling through the quick cases
#   idle STOP   connect, send nothing, hold until file STOP exists
#   ctl-idle CTL:N  N silent connections to the control socket CTL, held 8 s
#   partial-hold STOP  half a state with a pipe fd, hold until STOP exists
import errno, json, os, socket, sys, time

path, case = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
me = os.getpid()

def state(**kw):
    d = {"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": me,
         "metadata": "profile=default",
         "state": {"ociVersion": "1.0.2", "id": "hostile-%d" % me,
                   "status": "creating", "pid": me}}
    d.update(kw)
    return json.dumps(d).encode()

def pipes(n):
    fds = []
    for _ in range(n):
        r, w = os.pipe()
        fds += [r, w]
    return fds[:n] if n else []

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def wait_closed(s, secs=5.0):
    s.settimeout(secs)
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return "closed"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "reset" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "error-%d" % e.errno

def send(s, data, fds=()):
    fds = list(fds)
    try:
        if fds:
            socket.send_fds(s, [data], fds)
        else:
            s.sendall(data)
    except OSError as e:
        if e.errno in (errno.EPIPE, errno.ECONNRESET):
            return "reset"
        raise
    finally:
        for fd in fds:
            os.close(fd)
    return None

def one(case):
    s = connect()
    r = None
    if case == "malformed":
        r = send(s, b'{"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": 1,,, }', pipes(1))
    elif case == "nofds":
        d = json.loads(state()); del d["fds"]
        r = send(s, json.dumps(d).encode(), pipes(1))
    elif case == "nofd":
        r = send(s, state())
    elif case == "pipe":
        r = send(s, state(), pipes(1))
    elif case == "manyfds":
        r = send(s, state(), pipes(40))
    elif case == "fdtrickle":
        # 4 fds with each of 6 pieces of a state that never completes.
        for piece in [b'{"fds": ["seccompFd"], ', b'"a": 1, ', b'"b": 2, ', b'"c": 3, ',
                      b'"d": 4, ', b'"e": 5, ']:
            r = send(s, piece, pipes(4)) or r
            time.sleep(0.01)
        s.shutdown(socket.SHUT_WR)
    elif case == "oversized":
        blob = b'{"ociVersion": "1.0.2", "fds": ["seccompFd"], "annotations": {"x": "' + \
            b"a" * (1536 * 1024) + b'"}, "pid": %d}' % me
        r = send(s, blob[:100], pipes(1)) or send(s, blob[100:])
    elif case == "notobject":
        r = send(s, b'["seccompFd", 1, 2]', pipes(1))
    elif case == "badpid":
        r = send(s, state(pid=-4, state={"id": "x", "pid": -4}), pipes(1))
    elif case == "badprofile":
        r = send(s, state(metadata="profile=../../etc/shadow"), pipes(1))
    elif case == "deep":
        r = send(s, b"[" * 100000)
    elif case == "binary":
        r = send(s, bytes([0, 0xff, 0xfe, 0x7b, 0]) + os.urandom(4096), pipes(1))
    elif case == "eof":
        pass
    elif case == "partial":
        r = send(s, state()[:40], pipes(1))
    else:
        sys.exit("unknown case " + case)
    if case in ("eof", "partial"):
        s.shutdown(socket.SHUT_WR)
    res = r or wait_closed(s)
    s.close()
    return res

QUICK = ["malformed", "nofds", "nofd", "pipe", "manyfds", "fdtrickle", "notobject",
         "badpid", "badprofile", "deep", "binary", "eof", "partial"]

if case == "garbage":
    tally = {}
    for i in range(int(arg)):
        res = one(QUICK[i % len(QUICK)])
        tally[res] = tally.get(res, 0) + 1
    print("case=garbage " + " ".join("%s=%d" % kv for kv in sorted(tally.items())))
elif case == "ctl-idle":
    # N connections to the control socket (path in ARG after a colon) that say nothing.
    ctl, n = arg.rsplit(":", 1)
    held = []
    for _ in range(int(n)):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(ctl)
        held.append(c)
    print("connected", flush=True)
    time.sleep(8)
elif case in ("idle", "partial-hold"):
    s = connect()
    if case == "partial-hold":
        send(s, state()[:40], pipes(1))
    print("connected", flush=True)
    s.setblocking(False)
    res = "held"
    for _ in range(600):
        if os.path.exists(arg):
            break
        try:
            if s.recv(1) == b"":
                res = "closed-early"
                break
        except BlockingIOError:
            pass
        time.sleep(0.1)
    s.close()
    print("case=%s result=%s" % (case, res))
else:
    print("case=%s result=%s" % (case, one(case)))
EOF

abuse() { "$MV_PYTHON" "$MV_TMP/abuse.py" "$MV_SOCK" "$@" 2>&1; }
rejections() { grep -cE "OCI hand-over rejected: ${1:-}" "$MV_LOG"; }

# wait_rejections PATTERN N : until at least N rejection lines match (5 s).
wait_rejections() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(rejections "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# hostile CASE PATTERN DESC : one hostile hand-over is refused with a log line
# matching PATTERN, and notifyd closed the connection and is still alive.
hostile() {
	local case=$1 pat=$2 desc=$3 before out line
	before=$(rejections "$pat")
	out=$(abuse "$case")
	if ! wait_rejections "$pat" $((before + 1)); then
		t_fail "$desc" "no new log line 'OCI hand-over rejected: $pat'" "client: $out" \
			"log tail:" "$(tail -n 5 "$MV_LOG")"
	elif ! grep -qE 'result=(closed|reset)$' <<<"$out"; then
		t_fail "$desc" "notifyd did not close the connection: $out"
	elif ! mv_notifyd_alive; then
		t_fail "$desc" "notifyd died" "$(tail -n 20 "$MV_LOG")"
		mv_bail "notifyd died"
	else
		line=$(grep -E "OCI hand-over rejected: $pat" "$MV_LOG" | tail -n1)
		t_ok "$desc (${line#*rejected: })"
	fi
}

# launch ID [mv_launch options] : a cheap container (tests/helpers/mv_launch)
# that mounts and unmounts a tmpfs twice through notifyd (continue action);
# ok when both pairs worked and notifyd logged its decisions.
launch() {
	local id=$1 out n
	shift
	mkdir -p "$MV_TMP/lt/$id"
	out=$(timeout -k 5 30 "$LAUNCH" --socket "$MV_SOCK" --id "$id" "$@" -- \
		"$MOUNTLOOP" tmpfs none "$MV_TMP/lt/$id" "" 2 2>&1)
	if ! grep -q ' ok=2 ' <<<"$out"; then
		echo "mv_launch: $out"
		return 1
	fi
	if ! mv_wait_log "container $id pid=[0-9]+ .*adopted" 5; then
		echo "no adoption line for $id"
		return 1
	fi
	for ((n = 0; n < 50; n++)); do
		[ "$(mv_decisions "$id" | grep -c 'syscall=mount .*type=tmpfs .*action=continue')" -ge 2 ] &&
			return 0
		sleep 0.1
	done
	echo "decisions of $id:"
	mv_decisions "$id"
	return 1
}

fd_settle() { # notifyd's fd count once it stopped changing (5 s at most)
	local prev=-1 cur j
	for ((j = 0; j < 25; j++)); do
		cur=$(mv_notifyd_fds)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.2
	done
	echo "$cur"
}

# ---------------------------------------------------------------------------
# 1. The OCI socket
# ---------------------------------------------------------------------------

t_check "a valid hand-over from mv_launch is served (warm-up)" launch hostile-warm
fds_before=$(fd_settle)

hostile malformed "malformed JSON" "malformed JSON (with a pipe fd) is refused"
hostile nofds 'no "fds" array' "JSON without \"fds\" is refused"
hostile nofd "seccompFd is fd #0 but 0 fds arrived" "seccompFd named but no fd attached is refused"
hostile pipe "seccompFd is not a seccomp notify fd" "a pipe passed as seccompFd is refused"
hostile manyfds "" "40 fds in one message are refused"
hostile fdtrickle "connection closed after" "fds trickled with an unfinished state are dropped at EOF"
hostile oversized "state larger than" "a state over 1 MiB is refused"
hostile notobject "state is not a JSON object" "a JSON array instead of an object is refused"
hostile badpid 'bad "pid"' "a negative pid is refused"
hostile badprofile "listenerMetadata has an invalid profile name" "listenerMetadata profile=../../etc/shadow is refused"
hostile deep "malformed JSON" "100000 nested arrays are refused (depth limit, no stack overflow)"
hostile binary "malformed JSON" "binary garbage is refused"
hostile eof "connection closed after 0 bytes" "a client that connects and closes is logged"
hostile partial "connection closed after [1-9][0-9]* bytes" "half a state, then EOF, is refused"

t_check "a state split over 3 writes, fd in the first, is accepted and served" \
	launch hostile-split --chunks 3 --pause-ms 300
t_check "a state split over 40 writes, fd in the first, is accepted and served" \
	launch hostile-split40 --chunks 40 --pause-ms 10

# Idle and half-finished connections must not hold up anybody else.
rm -f "$MV_TMP/idle.stop"
"$MV_PYTHON" "$MV_TMP/abuse.py" "$MV_SOCK" idle "$MV_TMP/idle.stop" >"$MV_TMP/idle.out" 2>&1 &
idle_pid=$!
defer "touch '$MV_TMP/idle.stop'; kill $idle_pid; wait $idle_pid"
"$MV_PYTHON" "$MV_TMP/abuse.py" "$MV_SOCK" partial-hold "$MV_TMP/idle.stop" >"$MV_TMP/hold.out" 2>&1 &
hold_pid=$!
defer "touch '$MV_TMP/idle.stop'; kill $hold_pid; wait $hold_pid"
for ((i = 0; i < 50; i++)); do
	grep -q connected "$MV_TMP/idle.out" && grep -q connected "$MV_TMP/hold.out" && break
	sleep 0.1
done
before=$(rejections "connection closed after")
SECONDS=0
t_check "with an idle and a half-sent connection open, a new container is served" \
	launch hostile-while-idle
if [ "$SECONDS" -le 10 ]; then
	t_ok "... without a stall (${SECONDS}s)"
else
	t_fail "... without a stall" "took ${SECONDS}s"
fi
touch "$MV_TMP/idle.stop"
wait "$idle_pid" "$hold_pid"
if grep -q 'result=held' "$MV_TMP/idle.out" && grep -q 'result=held' "$MV_TMP/hold.out"; then
	t_ok "notifyd kept both slow connections open meanwhile (no false refusal)"
else
	t_fail "notifyd kept both slow connections open meanwhile" "$(cat "$MV_TMP/idle.out" "$MV_TMP/hold.out")"
fi
if wait_rejections "connection closed after" $((before + 2)); then
	t_ok "both are logged as rejected once they close"
else
	t_fail "both are logged as rejected once they close" "$(tail -n 5 "$MV_LOG")"
fi

# Silent clients of the control socket must not hold up containers either.
# Each would stall an event loop that served it for its 1 s timeout; measured
# against a plain launch, so a slow machine (a TCG guest: make check-kernel)
# does not count as a stall.
start=$(date +%s%N)
launch hostile-ctl-baseline >/dev/null
base=$((($(date +%s%N) - start) / 1000000))
"$MV_PYTHON" "$MV_TMP/abuse.py" "$MV_SOCK" ctl-idle "$MV_CTL:3" >"$MV_TMP/ctl.out" 2>&1 &
ctl_pid=$!
defer "kill $ctl_pid; wait $ctl_pid"
for ((i = 0; i < 50; i++)); do
	grep -q connected "$MV_TMP/ctl.out" && break
	sleep 0.1
done
start=$(date +%s%N)
out=$(launch hostile-while-ctl-idle)
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -eq 0 ] && [ "$ms" -lt $((base + 1500)) ]; then
	t_ok "with 3 silent notifyctl connections open, a container is served at once (${ms} ms, ${base} ms without)"
else
	t_fail "with 3 silent notifyctl connections open, a container is served at once" \
		"took ${ms} ms (exit $rc); the control socket is served inside the event loop" "$out"
fi
kill "$ctl_pid" 2>/dev/null
wait "$ctl_pid" 2>/dev/null

# 50 garbage connections: all refused, no fd left behind.
before=$(rejections)
out=$(abuse garbage 50)
if wait_rejections "" $((before + 50)); then
	t_ok "50 garbage connections: 50 rejection lines ($out)"
else
	t_fail "50 garbage connections: 50 rejection lines" "$((before + 50 - $(rejections))) missing" "$out"
fi
if grep -qE 'timeout|error' <<<"$out"; then
	t_fail "notifyd closed every garbage connection" "$out"
else
	t_ok "notifyd closed every garbage connection"
fi
fds_after=$(fd_settle)
if [ "$fds_after" = "$fds_before" ]; then
	t_ok "notifyd has as many fds as before the abuse ($fds_before)"
else
	t_fail "notifyd has as many fds as before the abuse" "before $fds_before, after $fds_after:" \
		"$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
fi
if mv_notifyd_alive; then
	t_ok "notifyd is alive after the abuse"
else
	mv_bail "notifyd died: $(tail -n 20 "$MV_LOG")"
fi
t_check "and serves the next container" launch hostile-after

# ---------------------------------------------------------------------------
# 2. A real container: a mount after the abuse, then unreadable pointers
# ---------------------------------------------------------------------------

RT=
for r in crun runc; do
	command -v "$r" >/dev/null && RT=$r && break
done
if [ -z "$RT" ]; then
	t_skip "real container after the abuse; bad pointers" "neither crun nor runc is installed"
	exit 0
fi
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
[ -x "$ROOTFS/bin/mount_race" ] || mv_bail "tests/helpers/mount_race not built (make all)"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
DEV=
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"

cat >"$ROOTFS/hostile.sh" <<'EOF'
dev=$1
mvstep mount mount -t ext4 "$dev" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep umount umount /mnt/a
mvstep bp_ext4 mount_race badptr "$dev" ext4 errors=continue
mvstep bp_tmpfs mount_race badptr none tmpfs size=1m
EOF
id=$MV_IDP-$RT-hostile
mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /hostile.sh "$DEV"
mv_run "$RT" "$MV_TMP/$id" "$id" 60
t_step_ok "$RT: after the abuse a real container mounts ext4 through notifyd" "$id" mount
if [ "$(mv_step_out "$id" read)" = "hello from ext4" ]; then
	t_ok "$RT: ... and reads it"
else
	t_fail "$RT: ... and reads it" "$(mv_step_out "$id" read)"
fi
t_step_ok "$RT: ... and unmounts it" "$id" umount

# The kernel's own answers: the same calls in a container without seccomp.
ref=$MV_IDP-$RT-kernel
mv_oci_bundle --no-seccomp --device "$DEV" "$MV_TMP/$ref" "$ROOTFS" sh /hostile.sh "$DEV"
mv_run "$RT" "$MV_TMP/$ref" "$ref" 60

# Cases where notifyd cannot read an argument: the caller must get what the
# kernel gives.  unterminated_data: the kernel copies a page of options
# without needing a NUL; EFAULT is accepted there too.
FAULT_CASES="null_type null_target empty_target unmapped_type unmapped_source unmapped_target
unmapped_data kernel_type kernel_target low_source unterminated_type unterminated_source
unterminated_target long_type long_source long_target long_data umount_null umount_unmapped
umount_kernel umount_unterminated umount_long"
VALID_CASES="straddle_target straddle_type umount_setup umount_valid valid"

bp_errno() { # bp_errno ID STEP CASE : errno of one badptr case
	mv_step_out "$1" "$2" | sed -n "s/^badptr case=$3 rc=-\{0,1\}[0-9]* errno=\([A-Z0-9]*\)\$/\1/p"
}

n_efault=0
for step in bp_ext4 bp_tmpfs; do
	fs=${step#bp_}
	if [ "$(mv_step_rc "$id" "$step")" != 0 ] || [ "$(mv_step_rc "$ref" "$step")" != 0 ]; then
		t_fail "$RT: mount_race badptr ($fs) ran" "$(mv_step_out "$id" "$step")" \
			"kernel reference: $(mv_step_out "$ref" "$step")"
		mv_explain "$id"
		continue
	fi
	nbad=0
	for c in $FAULT_CASES unterminated_data; do
		got=$(bp_errno "$id" "$step" "$c")
		want=$(bp_errno "$ref" "$step" "$c")
		[ "$got" = EFAULT ] && [ "${c#umount_}" = "$c" ] && n_efault=$((n_efault + 1))
		[ -n "$got" ] && [ "$got" = "$want" ] && continue
		# The kernel copies a page of options without needing a NUL; EFAULT is fine too.
		[ "$c" = unterminated_data ] && [ "$got" = EFAULT ] && continue
		# One line per mismatch, so a failure names its case.
		t_fail "$RT: $fs: $c gets the kernel's errno" \
			"notifyd's caller got ${got:-nothing}, the kernel gives ${want:-nothing}" \
			"decisions with result=${got:-?}:" \
			"$(mv_decisions "$id" | grep -F "result=${got:-?}" | tail -n 2 | cut -c 1-300)"
		nbad=$((nbad + 1))
	done
	if [ "$nbad" -eq 0 ]; then
		t_ok "$RT: $fs: unreadable or oversized mount(2)/umount2(2) arguments get the kernel's errno"
	fi
	bad=()
	for c in $VALID_CASES; do
		got=$(bp_errno "$id" "$step" "$c")
		[ "$got" = 0 ] || bad+=("$c: ${got:-nothing}")
	done
	if [ ${#bad[@]} -eq 0 ]; then
		t_ok "$RT: $fs: strings crossing a page boundary mount; valid mount and umount2 work"
	else
		t_fail "$RT: $fs: strings crossing a page boundary mount; valid mount and umount2 work" "${bad[@]}" \
			"$(mv_step_out "$id" "$step")"
	fi
done
# Every EFAULT answer to a mount has its decision line.
for ((i = 0; i < 50; i++)); do
	n=$(mv_decisions "$id" | grep 'syscall=mount ' | grep -c 'result=EFAULT')
	[ "$n" -ge "$n_efault" ] && break
	sleep 0.1
done
if [ "$n_efault" -gt 0 ] && [ "$n" -eq "$n_efault" ]; then
	t_ok "$RT: one mount decision line with result=EFAULT per EFAULT answer ($n)"
else
	t_fail "$RT: one mount decision line with result=EFAULT per EFAULT answer" \
		"$n_efault EFAULT answers, $n decision lines" "$(mv_decisions "$id" | grep EFAULT)"
fi
line=$(mv_decisions "$id" | grep 'result=EFAULT' | head -n1)
if grep -q 'why="argument [0-9] is not readable"' <<<"$line"; then
	t_ok "$RT: the decision line says which argument was unreadable"
else
	t_fail "$RT: the decision line says which argument was unreadable" "$line"
fi

# Arguments of up to PATH_MAX bytes must not push the outcome off the line.
cut=$(mv_decisions "$id" | grep -v ' result=')
if [ -z "$cut" ]; then
	t_ok "$RT: every decision line, even with 4 KiB arguments, has its result"
else
	t_fail "$RT: every decision line, even with 4 KiB arguments, has its result" \
		"$(grep -c . <<<"$cut") lines without result=, e.g. (${#cut} chars in all):" \
		"$(head -n 1 <<<"$cut" | cut -c 1-200) ... $(head -n 1 <<<"$cut" | tail -c 100)"
fi

if mv_notifyd_alive; then
	t_ok "notifyd is alive at the end"
else
	t_fail "notifyd is alive at the end" "$(tail -n 20 "$MV_LOG")"
fi
if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC" "$(tail -n 20 "$MV_LOG")"
fi
