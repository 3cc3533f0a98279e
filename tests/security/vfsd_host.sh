#!/bin/bash
# vfsd and vhost-user-fs-mount against hostile local users and back-ends
# (issue 14):
#  - the socket is 0600 under umask 000, 0660 and the group's with
#    --socket-group; another uid cannot connect, before or after the first
#    front-end left, and a front-end with other credentials than the first is
#    turned away even when the socket's mode would let it in; a stale socket
#    at the path is replaced, a live one (another vfsd), a file or a symlink
#    is not;
#  - namespace mode: the waiting parent has no capability, NO_NEW_PRIVS and a
#    seccomp filter, and still forwards SIGTERM; the child has a reduced
#    capability set, an empty bounding set, seccomp and NO_NEW_PRIVS;
#  - an fd the launcher leaves open (to /etc) is in neither process; neither
#    with --sandbox=chroot;
#  - the share's bind mount in the sandbox is nodev,nosuid (and ro with
#    --readonly);
#  - vhost-user-fs-mount against a malicious back-end (tests/helpers/
#    vu_evil_backend.c): bad used entries on either queue fail the pending
#    call with EIO, detach the mount and end the program with status 1, with
#    no sanitizer report (run it from build-asan to get ASan); guest memory
#    is sealed so the back-end cannot truncate it; a used idx running ahead
#    of the chains in flight is such a bad entry; a back-end that negotiates
#    EVENT_IDX and then asks for no kick ever (avail_event, NO_NOTIFY) gets
#    slow requests (the front-end's watchdog kicks), never a hung mount.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

VFSD=$MV_BUILD/vfsd
MOUNT=$MV_BUILD/vhost-user-fs-mount
EVIL=$MV_BUILD/tests/helpers/vu_evil_backend
for p in "$VFSD" "$MOUNT" "$EVIL"; do
	[ -x "$p" ] || mv_bail "$p not built"
done
# The sanitizers' runtime makes syscalls outside vfsd's allowlist.
SECCOMP=--seccomp=kill
ldd "$VFSD" 2>/dev/null | grep -q libasan && SECCOMP=--seccomp=log
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
W=$MV_TMP/w
mkdir -p "$W/share" && chmod 0755 "$W"

# probe SOCKET : connect, send GET_FEATURES; prints "features", "eof" or the errno name.
cat >"$W/probe.py" <<'PY'
import errno, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno)); sys.exit(0)
try:
    s.sendall(struct.pack('<III', 1, 1, 0))
    h = s.recv(12)
except OSError as e:
    print('eof'); sys.exit(0)
print('features' if len(h) == 12 and struct.unpack('<III', h)[0] == 1 else 'eof')
PY
probe() { "$MV_PYTHON" "$W/probe.py" "$1"; }
nobody_probe() { "${NOBODY[@]}" "$MV_PYTHON" "$W/probe.py" "$1"; }

wait_sock() { # wait_sock PATH
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

PIDS=()
# shellcheck disable=SC2016 # expanded when the defer runs
defer 'for p in "${PIDS[@]}"; do kill "$p"; done; wait'

# --- 1. socket mode, peers ------------------------------------------------------
# umask 000 and an fd to /etc inherited as fd 7, as a careless launcher would leave them.
(
	umask 000
	exec 7</etc
	exec "$VFSD" --socket-path="$W/a.sock" --shared-dir="$W/share" "$SECCOMP" \
		>"$MV_TMP/vfsd-a.log" 2>&1
) &
A=$!
PIDS+=("$A")
wait_sock "$W/a.sock" || mv_bail "vfsd did not create its socket"
t_check "socket is 0600 under umask 000" test "$(stat -c %a "$W/a.sock")" = 600
t_check "  ... and no temporary directory is left beside it" \
	test -z "$(find "$W" -maxdepth 1 -name '.vfsd-*')"
t_check "uid 65534 cannot connect before the first front-end" \
	test "$(nobody_probe "$W/a.sock")" = EACCES
t_check "the owner's front-end is served" test "$(probe "$W/a.sock")" = features
t_check "uid 65534 cannot connect after the first front-end left" \
	test "$(nobody_probe "$W/a.sock")" = EACCES
# Past the file mode (as with a socket some launcher made world-writable, or an
# --fd socket): vfsd itself turns away a front-end with other credentials.
chmod 0666 "$W/a.sock"
t_check "a front-end with another uid than the first is disconnected at once" \
	test "$(nobody_probe "$W/a.sock")" = eof
t_check "  ... and the log says why" grep -q 'refused a front-end.*uid 65534' "$MV_TMP/vfsd-a.log"
t_check "the first front-end's uid/gid may reconnect" test "$(probe "$W/a.sock")" = features

# --- 2. the namespace-mode parent and child ---------------------------------------
CHILD=$(pgrep -P "$A" | head -1)
status() { grep -E "^$2:" "/proc/$1/status" | awk '{print $2}'; }
if [ -z "$CHILD" ]; then
	t_fail "vfsd's sandboxed child found"
else
	for f in CapEff CapPrm CapBnd CapInh CapAmb; do
		t_check "parent: $f is empty" test "$(status "$A" $f)" = 0000000000000000
	done
	t_check "parent: NoNewPrivs" test "$(status "$A" NoNewPrivs)" = 1
	t_check "parent: seccomp filter" test "$(status "$A" Seccomp)" = 2
	t_check "child: bounding set empty" test "$(status "$CHILD" CapBnd)" = 0000000000000000
	t_check "child: no capability beyond the file-operation set (no SYS_ADMIN, DAC_READ_SEARCH)" \
		test $((0x$(status "$CHILD" CapEff) & ~0x880000db)) = 0
	t_check "child: NoNewPrivs" test "$(status "$CHILD" NoNewPrivs)" = 1
	t_check "child: seccomp filter" test "$(status "$CHILD" Seccomp)" = 2

	# --- 3. inherited fds ---
	etc=$(stat -L -c %d:%i /etc)
	fd_to_etc() { # fd_to_etc PID : fds of PID that lead to /etc
		local f
		for f in /proc/"$1"/fd/*; do
			[ "$(stat -L -c %d:%i "$f" 2>/dev/null)" = "$etc" ] && echo "$f"
		done
	}
	t_check "the launcher's fd 7 to /etc is not in the child" test -z "$(fd_to_etc "$CHILD")"
	t_check "  ... nor in the parent" test -z "$(fd_to_etc "$A")"
	t_check "the parent keeps no fd but stdio" \
		test "$(find /proc/"$A"/fd -mindepth 1 -printf '%f\n' | sort -n | tr '\n' ' ')" = "0 1 2 "

	# --- 4. the share's bind mount ---
	opts=$(awk '$5 == "/" {print $6}' "/proc/$CHILD/mountinfo")
	t_check "the share is mounted nodev in the sandbox ($opts)" grep -qw nodev <<<"${opts//,/ }"
	t_check "  ... and nosuid" grep -qw nosuid <<<"${opts//,/ }"

	kill -TERM "$A"
	wait "$A"
	rc=$?
	t_check "SIGTERM to the confined parent stops vfsd (exit $rc)" test "$rc" = 143
	t_check "  ... child gone too" test ! -d "/proc/$CHILD"
fi

# --readonly: ro on top of nodev,nosuid.
"$VFSD" --socket-path="$W/r.sock" --shared-dir="$W/share" --readonly "$SECCOMP" \
	>"$MV_TMP/vfsd-r.log" 2>&1 &
R=$!
PIDS+=("$R")
wait_sock "$W/r.sock"
RC=$(pgrep -P "$R" | head -1)
opts=$(awk '$5 == "/" {print $6}' "/proc/${RC:-0}/mountinfo" 2>/dev/null)
t_check "--readonly: the share is mounted ro,nodev,nosuid ($opts)" \
	bash -c "grep -qw ro <<<'${opts//,/ }' && grep -qw nodev <<<'${opts//,/ }' && grep -qw nosuid <<<'${opts//,/ }'"
kill "$R" && wait "$R"

# --socket-group and --sandbox=chroot (no waiting parent, same fd rule).
(
	umask 000
	exec 7</etc
	exec "$VFSD" --socket-path="$W/g.sock" --socket-group=nogroup --shared-dir="$W/share" \
		--sandbox=chroot "$SECCOMP" >"$MV_TMP/vfsd-g.log" 2>&1
) &
G=$!
PIDS+=("$G")
wait_sock "$W/g.sock"
t_check "--socket-group: mode 0660" test "$(stat -c %a "$W/g.sock")" = 660
t_check "--socket-group: group nogroup" test "$(stat -c %G "$W/g.sock")" = nogroup
t_check "--socket-group: a member of the group (first front-end) is served" \
	test "$(nobody_probe "$W/g.sock")" = features
t_check "--socket-group: root, with another uid than the first front-end, is then refused" \
	test "$(probe "$W/g.sock")" = eof
t_check "--sandbox=chroot: the launcher's fd 7 to /etc is gone" test -z "$(fd_to_etc "$G")"
kill "$G" && wait "$G"

# A stale socket (a.sock, left by the vfsd stopped above) is replaced.
"$VFSD" --socket-path="$W/a.sock" --shared-dir="$W/share" --sandbox=none --seccomp=none \
	>"$MV_TMP/vfsd-stale.log" 2>&1 &
S=$!
PIDS+=("$S")
for ((i = 0; i < 100; i++)); do
	[ "$(probe "$W/a.sock")" = features ] && break
	sleep 0.05
done
t_check "a stale socket at --socket-path is replaced, mode 0600" \
	bash -c "[ $i -lt 100 ] && [ \"\$(stat -c %a '$W/a.sock')\" = 600 ]"
# A live one is not (common/unix_listener.c): a second vfsd must not steal
# the first one's front-ends.
ino=$(stat -c %i "$W/a.sock")
t_check "a socket another vfsd listens on is not replaced (EADDRINUSE)" \
	bash -c "! timeout 10 '$VFSD' --socket-path='$W/a.sock' --shared-dir='$W/share' \
		--sandbox=none --seccomp=none 2>'$MV_TMP/vfsd-live.log' &&
		grep -q 'Address already in use' '$MV_TMP/vfsd-live.log' &&
		[ \"\$(stat -c %i '$W/a.sock')\" = $ino ]"
t_check "... and the first vfsd still serves it" test "$(probe "$W/a.sock")" = features
kill "$S" && wait "$S"
ln -s "$W/a.sock" "$W/link.sock"
t_check "a symlink at --socket-path is left alone, even one to a socket" \
	bash -c "! '$VFSD' --socket-path='$W/link.sock' --shared-dir='$W/share' 2>/dev/null &&
		[ -L '$W/link.sock' ]"
t_check "a non-socket at --socket-path is left alone" \
	bash -c "echo keep >'$W/file' && ! '$VFSD' --socket-path='$W/file' --shared-dir='$W/share' 2>/dev/null && grep -q keep '$W/file'"

# --- 5. vhost-user-fs-mount against a malicious back-end ---------------------------
# shellcheck disable=SC2317 # called through t_expect_fail_errno
show_out() {
	echo "$OUT"
	return 1
}
# bstat PATH : stat PATH, bounded.  A FUSE request the server has read is
# waited for uninterruptibly (timeout cannot end it), so after 20 s the
# mount program ($mp of evil()) is killed, which aborts the connection: a
# back-end whose break went unseen fails the checks instead of hanging them.
bstat() {
	local f=$MV_TMP/bstat.out p i
	stat "$1" >"$f" 2>&1 &
	p=$!
	for ((i = 0; i < 200; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "# stat $1 still waits after 20 s: killing vhost-user-fs-mount" >&2
		sed 's/^/# back-end: /' "$d/evil.log" "$d/mount.log" >&2
		kill -KILL "$mp" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	cat "$f"
}

# evil MODE ERRNOS : the evil back-end breaks the protocol as MODE says.
evil() {
	local mode=$1 errs=$2 d=$MV_TMP/evil-$1 ep mp rc i out found root holder
	mkdir -p "$d/mnt"
	"$EVIL" "$d/s" "$mode" 2>"$d/evil.log" &
	ep=$!
	wait_sock "$d/s"
	"$MOUNT" "$d/s" "$d/mnt" 2>"$d/mount.log" &
	mp=$!
	for ((i = 0; i < 100; i++)); do
		grep -q " $d/mnt " /proc/self/mountinfo && break
		sleep 0.05
	done
	# A first lookup; the hiprio modes need a second (a new node id, so a FORGET).
	# Through an fd on the mount's root: the kernel may send the FORGET right
	# after the first lookup, and once the program has cut the back-end off
	# and detached the mount, a path would lead to the directory beneath
	# (ENOENT); the fd still leads to the aborted connection (ENOTCONN).
	# A sleeper opens and holds it, not this shell: the open sends OPENDIR,
	# which a stalled connection would leave this shell waiting on for good.
	sleep 120 3<"$d/mnt" &
	holder=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "/proc/$holder/fd/3" ] && break
		sleep 0.1
	done
	root=/proc/$holder/fd/3
	out=$(bstat "$root/x")
	[[ $mode == hiprio-* ]] && out=$(bstat "$root/x")
	rc=1
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$mp" 2>/dev/null; then
			wait "$mp"
			rc=$?
			break
		fi
		sleep 0.1
	done
	# The FORGET may also be handled after the second lookup was answered:
	# then no call was pending at the cut-off, and the next one must fail.
	if [[ $mode == hiprio-* ]] && [[ $out == *File:* ]]; then
		out=$(bstat "$root/x")
	fi
	kill -KILL "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	kill "$mp" "$ep" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$ep" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$ep" 2>/dev/null
	wait "$ep" 2>/dev/null
	OUT=$out
	t_expect_fail_errno "evil back-end, $mode: the pending call fails with $errs" "$errs" show_out
	t_check "evil back-end, $mode: vhost-user-fs-mount says so and exits 1 (exit $rc)" \
		bash -c "[ $rc = 1 ] && grep -q 'broke the protocol' '$d/mount.log'"
	found=$(grep -E -A 30 -- "$MV_SANITIZER_RE" "$d/mount.log")
	t_check "evil back-end, $mode: no sanitizer report" test -z "$found"
	[ -n "$found" ] && t_diag "$found"
	t_check "evil back-end, $mode: the mount is gone" bash -c "! grep -q ' $d/mnt ' /proc/self/mountinfo"
	umount -l "$d/mnt" 2>/dev/null
}
for m in oob notinflight dup biglen ahead; do
	evil "$m" EIO
done
# A request still queued in the kernel when the program exits gets
# ECONNABORTED, one made after it exited ENOTCONN (whether a call is pending
# at the cut-off depends on when the kernel sends the FORGET).
for m in hiprio-oob hiprio-notinflight hiprio-dup hiprio-len hiprio-ahead; do
	evil "$m" "EIO|ECONNABORTED|ENOTCONN"
done

# The back-end has the guest memory fd; truncating it would make the front-end
# die of SIGBUS.  The memfd is sealed, so the attempt fails and all goes on.
d=$MV_TMP/evil-shrink
mkdir -p "$d/mnt"
"$EVIL" "$d/s" shrink 2>"$d/evil.log" &
ep=$!
wait_sock "$d/s"
"$MOUNT" "$d/s" "$d/mnt" 2>"$d/mount.log" &
mp=$!
for ((i = 0; i < 100; i++)); do
	grep -q " $d/mnt " /proc/self/mountinfo && break
	sleep 0.05
done
t_check "evil back-end, shrink: the lookup is answered" timeout 20 stat "$d/mnt/x"
t_check "evil back-end, shrink: it could not truncate guest memory" \
	grep -q 'shrink refused' "$d/evil.log"
umount "$d/mnt"
timeout 20 tail --pid="$mp" -f /dev/null
wait "$mp"
rc=$?
t_check "evil back-end, shrink: vhost-user-fs-mount exits 0 when unmounted (exit $rc)" test "$rc" = 0
t_check "evil back-end, shrink: no sanitizer report" bash -c "! grep -E -- '$MV_SANITIZER_RE' '$d/mount.log'"
kill "$ep" 2>/dev/null
wait "$ep" 2>/dev/null

# EVENT_IDX, and then the back-end asks never to be kicked: the front-end
# must not trust that forever (its watchdog kicks a queue whose requests get
# no reply for --watchdog ms), so every call is answered, late.
d=$MV_TMP/evil-nokick
mkdir -p "$d/mnt"
"$EVIL" "$d/s" nokick 2>"$d/evil.log" &
ep=$!
wait_sock "$d/s"
"$MOUNT" --stats --watchdog 200 "$d/s" "$d/mnt" 2>"$d/mount.log" &
mp=$!
for ((i = 0; i < 100; i++)); do
	grep -q " $d/mnt " /proc/self/mountinfo && break
	sleep 0.05
done
t_check "evil back-end, nokick: lookups are answered (late) within 20 s" \
	timeout 20 sh -c "stat '$d/mnt/x' && stat '$d/mnt/y' && stat '$d/mnt/x'"
umount "$d/mnt"
timeout 20 tail --pid="$mp" -f /dev/null
wait "$mp"
rc=$?
t_diag "$(grep 'stats:' "$d/mount.log")"
t_check "evil back-end, nokick: vhost-user-fs-mount exits 0 when unmounted (exit $rc)" test "$rc" = 0
t_check "evil back-end, nokick: EVENT_IDX was on and the watchdog had to kick" \
	grep -Eq 'stats: event-idx on .* watchdog [1-9]' "$d/mount.log"
t_check "evil back-end, nokick: no sanitizer report" bash -c "! grep -E -- '$MV_SANITIZER_RE' '$d/mount.log'"
kill "$ep" 2>/dev/null
wait "$ep" 2>/dev/null
exit 0
