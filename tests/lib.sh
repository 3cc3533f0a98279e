# shellcheck shell=bash
# tests/lib.sh — sourced by every integration test (tests/integration/*.sh).
#
# What it gives a test:
#   TAP output     t_ok, t_fail, t_check, t_expect_fail_errno, t_skip, t_diag,
#                  t_done (prints the tally; the EXIT trap calls it too)
#   cleanup        defer "shell command" — run in reverse order on EXIT, INT and
#                  TERM, whether the test passed or not
#   isolation      the test re-executes itself in a private mount namespace
#                  (unshare -m --propagation private) with a tmpfs work dir
#                  $MV_TMP and a plain cgroup2 on /sys/fs/cgroup (crun needs it
#                  on these hybrid-cgroup hosts); every mount it makes dies with
#                  that namespace
#   notifyd        mv_start_notifyd PROFILEDIR, mv_stop_notifyd (which also
#                  fails the test on ASan/LSan/UBSan reports in notifyd's
#                  log), mv_log, mv_decisions [ID], notifyctl wrapper mv_ctl
#   stand-in       mv_start_stub_listener: a python3 listener that takes the
#                  seccomp fd and answers every request CONTINUE (harness checks)
#   images         mv_make_ext4 IMG, mv_loop_attach IMG VAR, mv_make_rootfs DIR
#   other uids     mv_stage PROG: a copy of a built program that a test runs as
#                  another uid, in $MV_TMP/bin (the clone may be 0700)
#   containers     mv_oci_bundle, mv_run / mv_run_crun / mv_run_runc,
#                  mv_start (background), mv_wait, mv_kill, mv_out
#   steps          containers run /bin/mvstep NAME CMD..., which brackets CMD's
#                  output with "@@begin NAME" / "@@end NAME rc=N";
#                  mv_step_rc, mv_step_out, t_step_ok, t_step_errno read them
#
# Environment: MV_BUILD (build dir, has notifyd, notifyctl, tests/helpers/*),
# MV_SRC (source tree).  tests/run.sh sets both.  Sets MV_PYTHON (python3,
# resolved past any pyenv shim) for tests that run python.

set -u

MV_SRC=${MV_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MV_BUILD=${MV_BUILD:-$MV_SRC/build}
export MV_SRC MV_BUILD

# ---------------------------------------------------------------------------
# Preconditions and the private mount namespace
# ---------------------------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	echo "# these tests need root (user namespaces, loop devices, mounts)" >&2
	exit 77
fi

if [ -z "${MV_IN_PRIVATE_NS:-}" ]; then
	export MV_IN_PRIVATE_NS=1
	# Same pid: exec replaces the shell, so signals from run.sh reach the test.
	exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
	echo "# cannot enter a private mount namespace (unshare -m)" >&2
	exit 1
fi

# python3 resolved once: a pyenv-style shim costs most of a second per call.
MV_PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -n "$MV_PYTHON" ] && [ -x "$MV_PYTHON" ] || MV_PYTHON=python3
export MV_PYTHON

# ---------------------------------------------------------------------------
# TAP
# ---------------------------------------------------------------------------

MV_T_OK=0
MV_T_FAIL=0
MV_T_SKIP=0
MV_T_DONE=

t_diag() { # t_diag TEXT... : comment lines, also for multi-line text
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

t_ok() {
	MV_T_OK=$((MV_T_OK + 1))
	printf 'ok - %s\n' "$1"
}

t_fail() { # t_fail DESC [DIAGNOSTIC...] : each diagnostic on its own "# " lines
	local d
	MV_T_FAIL=$((MV_T_FAIL + 1))
	printf 'not ok - %s\n' "$1"
	shift
	for d in "$@"; do
		t_diag "$d"
	done
	return 0
}

t_skip() { # t_skip DESC WHY
	MV_T_SKIP=$((MV_T_SKIP + 1))
	printf 'ok - %s # SKIP %s\n' "$1" "$2"
}

# t_check DESC CMD... : ok if CMD exits 0; on failure shows its output.
t_check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_ok "$desc"
		return 0
	fi
	t_fail "$desc" "command: $*" "exit code: $rc" "$out"
	return 1
}

# errno name -> message as strerror(3) prints it (what busybox shows).
mv_strerror() {
	"$MV_PYTHON" -c 'import errno, os, sys
print(os.strerror(getattr(errno, sys.argv[1])))' "$1" 2>/dev/null || echo "$1"
}

# mv_errno_in ERRNO TEXT : does TEXT show that errno?  busybox mount reports
# EPERM as "permission denied (are you root?)" instead of strerror's text.
mv_errno_in() {
	grep -qF -- "$(mv_strerror "$1")" <<<"$2" && return 0
	[ "$1" = EPERM ] && grep -qF -- "permission denied (are you root?)" <<<"$2"
}

# t_expect_fail_errno DESC ERRNO[|ERRNO...] CMD... : ok if CMD fails and its
# output shows the message of one of the errnos (e.g. EPERM -> "Operation not
# permitted").
t_expect_fail_errno() {
	local desc=$1 errs=$2 out rc e _errs
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_fail "$desc" "command: $*" "expected failure with $errs, but it succeeded" "$out"
		return 1
	fi
	IFS='|' read -r -a _errs <<<"$errs"
	for e in "${_errs[@]}"; do
		if mv_errno_in "$e" "$out"; then
			t_ok "$desc"
			return 0
		fi
	done
	t_fail "$desc" "command: $*" "expected $errs, got exit $rc:" "$out"
	return 1
}

# Print the tally once; the exit code says whether anything failed.
t_done() {
	[ -n "$MV_T_DONE" ] && return 0
	MV_T_DONE=1
	printf '# %d ok, %d not ok, %d skipped\n' "$MV_T_OK" "$MV_T_FAIL" "$MV_T_SKIP"
}

# mv_bail WHY : stop the test here (cleanup still runs).
mv_bail() {
	t_fail "bail out: $1"
	exit 1
}

# ---------------------------------------------------------------------------
# Cleanup stack
# ---------------------------------------------------------------------------

MV_DEFER=()

# defer "command" : run at exit, last deferred first.  Runs with eval in the
# main shell; call defer only from the main shell (not inside $(...)).
defer() {
	MV_DEFER+=("$*")
}

mv_run_defers() {
	local i
	for ((i = ${#MV_DEFER[@]} - 1; i >= 0; i--)); do
		eval "${MV_DEFER[i]}" >/dev/null 2>&1 </dev/null || true
		unset 'MV_DEFER[i]'
	done
	MV_DEFER=()
}

mv_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# Containers first, so notifyd sees them go before it is stopped.
	declare -F mv_delete_all >/dev/null && mv_delete_all
	# notifyd before the other defers, with stdout kept: its sanitizer check
	# may print a "not ok" line (defers run with output discarded).
	declare -F mv_stop_notifyd >/dev/null && mv_stop_notifyd
	mv_run_defers
	t_done
	if [ "$MV_T_FAIL" -gt 0 ] && [ "$rc" -eq 0 ]; then
		rc=1
	fi
	exit "$rc"
}

trap mv_on_exit EXIT
trap 'echo "# interrupted"; exit 130' INT
trap 'echo "# terminated"; exit 143' TERM

# ---------------------------------------------------------------------------
# Work directory (tmpfs, private to this namespace) and cgroups
# ---------------------------------------------------------------------------

MV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mvtest.XXXXXX") || {
	echo "# mktemp failed" >&2
	exit 1
}
defer "rmdir '$MV_TMP'"
if mount -t tmpfs -o mode=0755,size=4g mvtest "$MV_TMP"; then
	defer "umount -l '$MV_TMP'"
else
	echo "# cannot mount a tmpfs on $MV_TMP; using the directory as it is" >&2
	defer "rm -rf --one-file-system '$MV_TMP'"
fi
# Keep logs and container output of a failed test (or of any, with
# MV_KEEP_LOGS=1) in $MV_BUILD/test-logs/NAME.files; runs before the umount.
mv_keep_logs() {
	local dest
	[ "$MV_T_FAIL" -gt 0 ] || [ -n "${MV_KEEP_LOGS:-}" ] || return 0
	dest=$MV_BUILD/test-logs/$(basename "$0" .sh).files
	rm -rf "$dest" && mkdir -p "$dest" || return 0
	cp -r "$MV_TMP/out" "$dest/" 2>/dev/null
	cp "$MV_TMP"/*.log "$MV_TMP"/*.err "$dest/" 2>/dev/null
	for b in "$MV_TMP"/*/config.json; do
		[ -f "$b" ] && cp "$b" "$dest/$(basename "$(dirname "$b")").config.json"
	done
	return 0
}
defer mv_keep_logs
# Container root (host uid 100000) must traverse it to reach the rootfs.
chmod 0755 "$MV_TMP"
mkdir -p "$MV_TMP/out" "$MV_TMP/run"
export MV_TMP

# crun 1.8.1 refuses the hybrid cgroup layout of these hosts; a plain cgroup2
# mounted over /sys/fs/cgroup in this namespace satisfies it (and runc).
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null ||
		echo "# cannot mount cgroup2 on /sys/fs/cgroup; runtimes may fail" >&2
fi

# Container ids are unique per test run so leftovers of a killed run never clash.
# shellcheck disable=SC2034 # used by the tests that source this file
MV_IDP="mv$$"

# ---------------------------------------------------------------------------
# notifyd
# ---------------------------------------------------------------------------

NOTIFYD_PID=
MV_SOCK=
MV_CTL=
MV_LOG=

# mv_prog NAME : path of a built program ($MV_BUILD/NAME, or $MV_BUILD/bin/NAME).
mv_prog() {
	local c
	for c in "$MV_BUILD/$1" "$MV_BUILD/bin/$1"; do
		if [ -f "$c" ] && [ -x "$c" ]; then
			echo "$c"
			return 0
		fi
	done
	echo "$MV_BUILD/$1"
	return 1
}

# mv_stage PROG : copy the built program PROG into $MV_TMP/bin (0755) and
# print its path there.  For programs a test runs as another uid (a
# container's root is host uid 100000): the clone, and so $MV_BUILD, may sit
# where only root can enter (/root is 0700 on Debian), $MV_TMP never does.
mv_stage() {
	local dest=$MV_TMP/bin/${1##*/}
	mkdir -p "$MV_TMP/bin" && chmod 0755 "$MV_TMP/bin" &&
		cp "$1" "$dest" && chmod 0755 "$dest" && echo "$dest"
}

# mv_start_notifyd PROFILEDIR [EXTRA ARGS...] : start notifyd in the
# background on per-test sockets, log to $MV_LOG; waits for both sockets.
mv_start_notifyd() {
	local profiles=$1 i
	shift
	[ -n "$NOTIFYD_PID" ] && mv_stop_notifyd
	local prog
	if ! prog=$(mv_prog notifyd); then
		t_fail "notifyd starts" "$prog is not a built program (run make all)"
		return 1
	fi
	MV_SOCK=$MV_TMP/run/notifyd.sock
	MV_CTL=$MV_TMP/run/notifyd.ctl
	MV_LOG=$MV_TMP/notifyd.log
	rm -f "$MV_SOCK" "$MV_CTL"
	# Where this notifyd's part of the (appended) log starts, for the sanitizer check.
	MV_LOG_OFF=$(stat -c %s "$MV_LOG" 2>/dev/null || echo 0)
	# --pdeathsig: should the test itself be SIGKILLed, notifyd still goes.
	setpriv --pdeathsig TERM -- \
		"$prog" --socket "$MV_SOCK" --profiles "$profiles" --control "$MV_CTL" \
		--log-level debug "$@" </dev/null 2>>"$MV_LOG" >&2 &
	NOTIFYD_PID=$!
	defer "mv_stop_notifyd"
	for ((i = 0; i < 100; i++)); do
		[ -S "$MV_SOCK" ] && [ -S "$MV_CTL" ] && return 0
		if ! kill -0 "$NOTIFYD_PID" 2>/dev/null; then
			wait "$NOTIFYD_PID"
			t_fail "notifyd starts" "notifyd exited with $? before its sockets appeared:" \
				"$(tail -n 30 "$MV_LOG")"
			NOTIFYD_PID=
			return 1
		fi
		sleep 0.1
	done
	t_fail "notifyd starts" "sockets $MV_SOCK / $MV_CTL did not appear in 10 s:" \
		"$(tail -n 30 "$MV_LOG")"
	return 1
}

# mv_stop_notifyd : SIGTERM, wait up to 10 s, then SIGKILL.  Returns notifyd's
# exit status (137 when it had to be killed); MV_NOTIFYD_RC holds it too.
# Then fails the test (t_fail) if this notifyd's log holds a report of
# AddressSanitizer, LeakSanitizer (leaks at exit) or UBSan ("runtime error:"),
# as a build made by "make asan" writes them.
MV_NOTIFYD_RC=
MV_LOG_OFF=0
# mv_notifyd_stuck_report PID : where each of notifyd's threads waits, its
# children and the end of its log, for a notifyd that did not go on SIGTERM.
mv_notifyd_stuck_report() {
	local t c
	for t in /proc/"$1"/task/*; do
		echo "# thread ${t##*/} $(cat "$t/comm" 2>/dev/null) state $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
			"wchan $(cat "$t/wchan" 2>/dev/null) children: $(cat "$t/children" 2>/dev/null)"
		sed 's/^/#   /' "$t/stack" 2>/dev/null | head -12
		for c in $(cat "$t/children" 2>/dev/null); do
			echo "#   child $c: $(grep -E '^(State|SigPnd|ShdPnd|SigBlk|TracerPid|NSpid):' /proc/"$c"/status 2>/dev/null | tr '\n\t' '  ')"
			sed 's/^/#     /' /proc/"$c"/stack 2>/dev/null | head -8
		done
	done
	[ -n "$MV_LOG" ] && tail -n 25 "$MV_LOG" 2>/dev/null | sed 's/^/# log: /'
	return 0
}

mv_stop_notifyd() {
	local pid=$NOTIFYD_PID i
	[ -z "$pid" ] && return 0
	NOTIFYD_PID=
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# A zombie still answers kill -0; wait reaps it below.
		[ "$(ps -o stat= -p "$pid" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z ]; then
		echo "# notifyd did not exit within 10 s of SIGTERM; killing it" >&2
		mv_notifyd_stuck_report "$pid" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	MV_NOTIFYD_RC=$?
	mv_sanitizer_check
	return "$MV_NOTIFYD_RC"
}

MV_SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|Sanitizer has encountered a fatal error|runtime error:'

# mv_sanitizer_check : t_fail with the report if notifyd's log (since it was
# last started) has a sanitizer finding.
mv_sanitizer_check() {
	local found
	[ -n "$MV_LOG" ] && [ -f "$MV_LOG" ] || return 0
	found=$(tail -c +$((MV_LOG_OFF + 1)) "$MV_LOG" | grep -E -m1 -A 40 -- "$MV_SANITIZER_RE")
	MV_LOG_OFF=$(stat -c %s "$MV_LOG" 2>/dev/null || echo 0)
	[ -z "$found" ] && return 0
	t_fail "notifyd ran clean under the sanitizers" "notifyd's log ($MV_LOG) says:" "$found"
}

mv_log() { echo "$MV_LOG"; }

# mv_decisions [ID] : notifyd's decision lines, for one container id if given.
mv_decisions() {
	[ -f "$MV_LOG" ] || return 0
	if [ $# -gt 0 ]; then
		grep -E "decision (.* )?id=\"?$1\"?( |$)" "$MV_LOG" || true
	else
		grep -E 'decision ' "$MV_LOG" || true
	fi
}

# mv_kv KEY LINE : the value of key=value in a decision line ("" quoting and
# \" \\ escapes undone).  Scans the pairs after "decision" in order, so text
# inside a quoted value never passes for a key.
mv_kv() {
	local key=$1 rest=${2#*decision} k v
	local re='^[[:space:]]+([A-Za-z_][A-Za-z0-9_-]*)=("(([^"\\]|\\.)*)"|([^[:space:]]*))'
	while [[ $rest =~ $re ]]; do
		k=${BASH_REMATCH[1]}
		if [ "${BASH_REMATCH[2]:0:1}" = '"' ]; then
			v=${BASH_REMATCH[3]}
			v=${v//\\\"/\"}
			v=${v//\\\\/\\}
		else
			v=${BASH_REMATCH[5]}
		fi
		if [ "$k" = "$key" ]; then
			printf '%s\n' "$v"
			return 0
		fi
		rest=${rest:${#BASH_REMATCH[0]}}
	done
	return 1
}

# mv_wait_log PATTERN [SECONDS] : wait until notifyd's log matches (grep -E).
# Decisions are logged right after the answer, so a container can finish
# before its last line is written.
mv_wait_log() {
	local pat=$1 secs=${2:-5} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qE -- "$pat" "$MV_LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# mv_ctl ARGS... : notifyctl against this test's notifyd.
mv_ctl() {
	"$(mv_prog notifyctl)" --control "$MV_CTL" "$@"
}

mv_notifyd_alive() {
	[ -n "$NOTIFYD_PID" ] && kill -0 "$NOTIFYD_PID" 2>/dev/null &&
		[ "$(ps -o stat= -p "$NOTIFYD_PID" 2>/dev/null)" != Z ]
}

mv_notifyd_fds() { # number of open fds of notifyd
	local n
	n=$(find "/proc/$NOTIFYD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$n"
}

mv_notifyd_children() { # pids of notifyd's live children (helpers, FUSE daemons), one line
	cat /proc/"$NOTIFYD_PID"/task/*/children 2>/dev/null | tr -d ' \n'
}

# Transient allowlist cgroups (PID-N) of this notifyd still there; another
# notifyd on the host may be mid-mount, so only ours count.
mv_notifyd_transient_cgroups() {
	find /sys/fs/cgroup -maxdepth 3 -path "*mountvisor-create/$NOTIFYD_PID-*" -type d 2>/dev/null
}

# Show what helps when a check on container $1 fails.
mv_explain() {
	local id=$1
	t_diag "--- container $id output ($(mv_out "$id")):"
	t_diag "$(tail -n 40 "$(mv_out "$id")" 2>/dev/null)"
	if [ -n "$MV_LOG" ] && [ -f "$MV_LOG" ]; then
		t_diag "--- notifyd decisions for $id:"
		t_diag "$(mv_decisions "$id" | tail -n 20)"
		t_diag "--- notifyd log tail:"
		t_diag "$(tail -n 15 "$MV_LOG")"
	fi
}

# ---------------------------------------------------------------------------
# Stand-in listener (harness self-test without notifyd)
# ---------------------------------------------------------------------------

MV_STUB_PID=
MV_STUB_LOG=

# mv_start_stub_listener SOCKET : a python3 seccomp agent that accepts the
# runtime's state + fd, then answers every notification CONTINUE and logs
#   state id=ID pid=PID metadata=M fds=N
#   notif id=ID pid=PID nr=NR arch=0xARCH args=a0,a1,a2,a3
mv_start_stub_listener() {
	local sock=$1 i
	MV_STUB_LOG=$MV_TMP/stub.log
	cat >"$MV_TMP/stub_listener.py" <<'EOF'
import json, os, select, socket, struct, sys, fcntl, errno

# <linux/seccomp.h>: struct seccomp_notif is 80 bytes, seccomp_notif_resp 24.
NOTIF_RECV = 0xC0502100  # SECCOMP_IOWR(0, struct seccomp_notif)
NOTIF_SEND = 0xC0182101  # SECCOMP_IOWR(1, struct seccomp_notif_resp)
FLAG_CONTINUE = 1

path = sys.argv[1]
log = open(sys.argv[2], "a", buffering=1)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lsock.bind(path)
lsock.listen(64)
poll = select.poll()
poll.register(lsock, select.POLLIN)
conns = {}   # fd -> [socket, bytes, container id]
notify = {}  # fd -> container id

while True:
    for fd, ev in poll.poll():
        if fd == lsock.fileno():
            c, _ = lsock.accept()
            conns[c.fileno()] = [c, b"", None]
            poll.register(c, select.POLLIN)
        elif fd in conns:
            c, buf, cid = conns[fd]
            try:
                msg, fds, _, _ = socket.recv_fds(c, 65536, 8)
            except OSError:
                msg, fds = b"", []
            buf += msg
            conns[fd][1] = buf
            for nfd in fds:
                notify[nfd] = None
                poll.register(nfd, select.POLLIN)
            try:
                state = json.loads(buf)
            except ValueError:
                state = None
            if state is not None and conns[fd][2] is None:
                cid = state.get("state", {}).get("id")
                conns[fd][2] = cid
                for nfd in fds or [k for k, v in notify.items() if v is None]:
                    notify[nfd] = cid
                log.write("state id=%s pid=%s metadata=%s fds=%d\n" %
                          (cid, state.get("pid"), state.get("metadata"), len(fds)))
            if not msg or state is not None:
                poll.unregister(fd)
                c.close()
                del conns[fd]
        elif fd in notify:
            if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                poll.unregister(fd)
                os.close(fd)
                del notify[fd]
                continue
            req = bytearray(80)
            try:
                fcntl.ioctl(fd, NOTIF_RECV, req, True)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EINTR):
                    continue
                poll.unregister(fd)
                os.close(fd)
                del notify[fd]
                continue
            nid, pid, flags, nr, arch, ip = struct.unpack_from("<QIIiIQ", req, 0)
            args = struct.unpack_from("<6Q", req, 32)
            log.write("notif id=%s pid=%d nr=%d arch=0x%x args=%s\n" %
                      (notify[fd], pid, nr, arch, ",".join(hex(a) for a in args[:4])))
            resp = struct.pack("<QqiI", nid, 0, 0, FLAG_CONTINUE)
            try:
                fcntl.ioctl(fd, NOTIF_SEND, bytearray(resp), True)
            except OSError:
                pass
EOF
	rm -f "$sock"
	setpriv --pdeathsig KILL -- "$MV_PYTHON" "$MV_TMP/stub_listener.py" "$sock" "$MV_STUB_LOG" </dev/null \
		>>"$MV_TMP/stub.err" 2>&1 &
	MV_STUB_PID=$!
	defer "kill -KILL $MV_STUB_PID; wait $MV_STUB_PID"
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		kill -0 "$MV_STUB_PID" 2>/dev/null || break
		sleep 0.1
	done
	t_fail "stand-in listener starts" "$(cat "$MV_TMP/stub.err" 2>/dev/null)"
	return 1
}

# ---------------------------------------------------------------------------
# Images, loop devices, root file systems
# ---------------------------------------------------------------------------

# mv_make_ext4 IMG [SIZE] : ext4 image holding
#   /owned-by-root (uid 0, gid 0), /owned-by-1000 (uid 1000), /hello.txt
mv_make_ext4() {
	local img=$1 size=${2:-16M} src
	src=$(mktemp -d "$MV_TMP/ext4src.XXXXXX") || return 1
	echo "root's file" >"$src/owned-by-root"
	echo "user 1000's file" >"$src/owned-by-1000"
	echo "hello from ext4" >"$src/hello.txt"
	chown 0:0 "$src/owned-by-root" "$src/hello.txt"
	chown 1000:1000 "$src/owned-by-1000"
	chmod 0644 "$src"/*
	chmod 0755 "$src"
	mkfs.ext4 -q -F -L mvtest -d "$src" "$img" "$size" >"$MV_TMP/mkfs.log" 2>&1 || {
		echo "# mkfs.ext4 $img failed: $(cat "$MV_TMP/mkfs.log")" >&2
		return 1
	}
	rm -rf "$src"
}

# mv_disk_uid IMG PATH : owner uid of PATH as stored on the ext4 image.
mv_disk_uid() {
	debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/.*User: *\([0-9]*\).*/\1/p' | head -n1
}

# mv_devnum DEV [VAR_MAJ VAR_MIN] : the device number of node DEV (symlinks
# followed), into the two variables, or printed as MAJ:MIN (mountinfo's form).
mv_devnum() {
	local t maj min
	t=$(stat -L -c '%t %T' "$1") || return 1
	read -r maj min <<<"$t"
	if [ $# -ge 3 ]; then
		printf -v "$2" '%d' "$((16#$maj))"
		printf -v "$3" '%d' "$((16#$min))"
	else
		echo "$((16#$maj)):$((16#$min))"
	fi
}

# mv_loop_attach IMG VAR : attach IMG to a free loop device, store its path in
# VAR, defer the detach.  The node is handed to the container's root (host uid
# 100000): a device a container may mount is one its root can open, and in a
# user namespace host root's 0660 node is not (the runtimes bind-mount the
# host node into the container, ownership and all).
mv_loop_attach() {
	local _mv_img=$1 _mv_var=$2 _mv_dev
	_mv_dev=$(losetup --find --show "$_mv_img") || {
		echo "# losetup --find --show $_mv_img failed" >&2
		return 1
	}
	defer "losetup -d '$_mv_dev'"
	defer "chown 0:disk '$_mv_dev'; chmod 0660 '$_mv_dev'"
	chown 100000:100000 "$_mv_dev"
	printf -v "$_mv_var" '%s' "$_mv_dev"
}

# mv_loop_bundle ID [mv_oci_bundle options] -- CMD... : $MV_TMP/ID, a
# loop-enabled bundle (mv_oci_bundle --loop) on the test's $ROOTFS, with the
# host's /usr bound in (mv_bind_host_libs) for util-linux's losetup.
mv_loop_bundle() {
	local id=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	# shellcheck disable=SC2153 # ROOTFS is set by the calling test
	mv_oci_bundle --loop "${opts[@]}" "$MV_TMP/$id" "${ROOTFS:?}" "$@" || return 1
	mv_bind_host_libs "$MV_TMP/$id"
}

# mv_write_mvstep FILE : the in-container step runner (mvstep NAME CMD...),
# whose bracketed output mv_step_rc / mv_step_out read; for root file systems
# a test does not build with mv_make_rootfs (podman, containerd images).
mv_write_mvstep() {
	cat >"$1" <<'EOF'
#!/bin/sh
# mvstep NAME CMD... : run CMD; bracket its output for the host-side parser.
name=$1
shift
echo "@@begin $name"
"$@" 2>&1
rc=$?
echo "@@end $name rc=$rc"
exit 0
EOF
	chmod 0755 "$1"
}

# mv_make_rootfs DIR : busybox-static root file system with /dev /proc /sys
# /mnt/a /mnt/b /tmp, /bin/mvstep and, if built, /bin/mount_race; owned by
# the container's root (host uid 100000).
mv_make_rootfs() {
	local dir=$1 app bb
	bb=$(command -v busybox) || {
		echo "# busybox not found (apt-get install busybox-static)" >&2
		return 1
	}
	if ldd "$bb" >/dev/null 2>&1; then
		echo "# $bb is not static (apt-get install busybox-static)" >&2
		return 1
	fi
	mkdir -p "$dir"/{bin,dev,proc,sys,mnt/a,mnt/b,mnt/c,tmp,etc,root} || return 1
	cp "$bb" "$dir/bin/busybox"
	for app in $("$bb" --list); do
		[ "$app" = busybox ] || ln -sf busybox "$dir/bin/$app"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/etc/passwd"
	printf 'root:x:0:\n' >"$dir/etc/group"
	mv_write_mvstep "$dir/bin/mvstep"
	cat >"$dir/bin/mvsync" <<'EOF'
#!/bin/sh
# mvsync TOKEN : tell the host we got to TOKEN; wait (60 s at most) for its go.
touch "/tmp/sync/$1.ready"
i=0
while [ ! -e "/tmp/sync/$1.go" ]; do
	i=$((i + 1))
	if [ "$i" -gt 600 ]; then
		echo "mvsync $1: no go from the host in 60 s"
		exit 1
	fi
	sleep 0.1
done
EOF
	chmod 0755 "$dir/bin/mvstep" "$dir/bin/mvsync"
	mkdir -p "$dir/tmp/sync"
	chmod 1777 "$dir/tmp/sync"
	if [ -x "$MV_BUILD/tests/helpers/mount_race" ]; then
		cp "$MV_BUILD/tests/helpers/mount_race" "$dir/bin/mount_race"
	fi
	chmod 1777 "$dir/tmp"
	chown -hR 100000:100000 "$dir"
}

# ---------------------------------------------------------------------------
# OCI bundles and runtimes
# ---------------------------------------------------------------------------

# mv_oci_bundle [--profile NAME] [--device PATH]... [--socket PATH]
#               [--no-seccomp] [--seccomp FILE] [--loop] [--sysfs] DIR ROOTFS CMD...
# --loop: notifyd's loop devices (docs/loop.md): /dev/null bound at
# /dev/loop-control, block major 7 allowed.  --sysfs: mount /sys.
# Writes DIR/config.json: user namespace (0 -> 100000, 65536 ids), new
# pid/net/ipc/uts/mount namespaces, CAP_SYS_ADMIN, the seccomp object from
# profiles/seccomp/oci-seccomp.json with listenerPath = the socket (default
# $MV_SOCK) and listenerMetadata = "profile=NAME", and the given block
# devices (same path as on the host; the runtimes bind-mount host nodes in a
# user namespace).
mv_oci_bundle() {
	local profile=default sock=${MV_SOCK:-} seccomp_file="$MV_SRC/profiles/seccomp/oci-seccomp.json"
	local use_seccomp=1 devs=() devjson='[]' d t maj min loop=false sys=false
	while [ $# -gt 0 ]; do
		case $1 in
		--profile) profile=$2; shift 2 ;;
		--loop) loop=true; shift ;;
		--sysfs) sys=true; shift ;;
		--device) devs+=("$2"); shift 2 ;;
		--socket) sock=$2; shift 2 ;;
		--seccomp) seccomp_file=$2; shift 2 ;;
		--no-seccomp) use_seccomp=0; shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	local dir=$1 rootfs=$2
	shift 2
	mkdir -p "$dir" || return 1
	for d in "${devs[@]}"; do
		t=$(stat -L -c '%F %t %T' "$d") || return 1
		case $t in
		"block special file "*) ;;
		*) echo "# $d is not a block device" >&2; return 1 ;;
		esac
		read -r _ _ _ maj min <<<"$t"
		devjson=$(jq -c --arg p "$d" --argjson maj "$((16#$maj))" --argjson min "$((16#$min))" \
			'. + [{path: $p, type: "b", major: $maj, minor: $min, fileMode: 432, uid: 0, gid: 0}]' \
			<<<"$devjson")
	done
	local caps='["CAP_SYS_ADMIN","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETUID","CAP_SETGID","CAP_SETPCAP","CAP_MKNOD","CAP_SYS_CHROOT","CAP_AUDIT_WRITE"]'
	local seccomp=null
	if [ "$use_seccomp" = 1 ]; then
		seccomp=$(jq -c --arg sock "$sock" --arg meta "profile=$profile" \
			'.listenerPath = $sock | .listenerMetadata = $meta' "$seccomp_file") || return 1
	fi
	jq -n --arg rootfs "$rootfs" --argjson caps "$caps" --argjson devs "$devjson" \
		--argjson seccomp "$seccomp" --argjson loop "$loop" --argjson sys "$sys" --args '
	{
	  ociVersion: "1.0.2",
	  process: {
	    terminal: false,
	    user: {uid: 0, gid: 0},
	    args: $ARGS.positional,
	    env: ["PATH=/bin", "HOME=/root", "TERM=dumb"],
	    cwd: "/",
	    capabilities: {bounding: $caps, effective: $caps, permitted: $caps},
	    rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
	    noNewPrivileges: true
	  },
	  root: {path: $rootfs, readonly: false},
	  hostname: "mvtest",
	  mounts: ([
	    {destination: "/proc", type: "proc", source: "proc"},
	    {destination: "/dev", type: "tmpfs", source: "tmpfs",
	     options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
	    {destination: "/dev/pts", type: "devpts", source: "devpts",
	     options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
	    {destination: "/dev/shm", type: "tmpfs", source: "shm",
	     options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}
	  ] + (if $loop then [{destination: "/dev/loop-control", type: "bind", source: "/dev/null",
	                       options: ["bind"]}] else [] end)
	    + (if $sys then [{destination: "/sys", type: "sysfs", source: "sysfs",
	                      options: ["nosuid", "noexec", "nodev", "ro"]}] else [] end)),
	  linux: ({
	    namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"},
	                 {type: "mount"}, {type: "user"}],
	    uidMappings: [{containerID: 0, hostID: 100000, size: 65536}],
	    gidMappings: [{containerID: 0, hostID: 100000, size: 65536}],
	    devices: $devs,
	    resources: {devices: ([{allow: false, access: "rwm"}] +
	      [$devs[] | {allow: true, type: "b", major: .major, minor: .minor, access: "rwm"}] +
	      (if $loop then [{allow: true, type: "b", major: 7, access: "rwm"},
	                      {allow: true, type: "c", major: 1, minor: 3, access: "rwm"}]
	       else [] end))}
	  } + (if $seccomp == null then {} else {seccomp: $seccomp} end))
	}' -- "$@" >"$dir/config.json"
}

MV_CRUN=(crun --root "$MV_TMP/crun-state" --cgroup-manager=disabled)
MV_RUNC=(runc --root "$MV_TMP/runc-state")

# mv_rt_argv RUNTIME : MV_RT_ARGV=(the runtime with this test's state dir and flags)
mv_rt_argv() {
	case $1 in
	crun) MV_RT_ARGV=("${MV_CRUN[@]}") ;;
	runc) MV_RT_ARGV=("${MV_RUNC[@]}") ;;
	*) echo "# unknown runtime $1" >&2; MV_RT_ARGV=(false) ;;
	esac
}

mv_rt() { # mv_rt RUNTIME ARGS... : crun/runc with this test's state dir and flags
	local MV_RT_ARGV
	mv_rt_argv "$1"
	shift
	timeout -k 5 60 "${MV_RT_ARGV[@]}" "$@"
}

# mv_out ID : file with the stdout+stderr of container ID (and the runtime).
mv_out() { echo "$MV_TMP/out/$1.out"; }

# mv_delete RUNTIME ID : kill and delete, whatever state it is in.
mv_delete() {
	local MV_RT_ARGV
	mv_rt_argv "$1"
	timeout -k 5 20 "${MV_RT_ARGV[@]}" kill "$2" KILL >/dev/null 2>&1
	timeout -k 5 20 "${MV_RT_ARGV[@]}" delete -f "$2" >/dev/null 2>&1
	return 0
}

# mv_delete_all : kill and delete every container in this test's state dirs
# and reap background runs.  The EXIT trap calls it before the defers.
mv_delete_all() {
	local rt id pid
	for rt in crun runc; do
		[ -d "$MV_TMP/$rt-state" ] || continue
		for id in $(mv_rt "$rt" list -q 2>/dev/null); do
			mv_delete "$rt" "$id"
		done
	done
	for pid in "${MV_BG_PID[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	MV_BG_PID=()
}

# mv_run RUNTIME BUNDLE ID [TIMEOUT] : run the container to completion (or
# TIMEOUT seconds, default 60), output in $(mv_out ID); always deleted
# afterwards.  Returns the container's exit status (124 on timeout).
mv_run() {
	local rt=$1 bundle=$2 id=$3 to=${4:-60} rc out pid
	local MV_RT_ARGV
	out=$(mv_out "$id")
	mv_rt_argv "$rt"
	# In the background so a signal to the test is handled at once (wait
	# returns; the trap's mv_delete_all removes the container).
	timeout -k 5 "$to" "${MV_RT_ARGV[@]}" run --bundle "$bundle" "$id" </dev/null >"$out" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	mv_delete "$rt" "$id"
	return "$rc"
}
mv_run_crun() { mv_run crun "$@"; }
mv_run_runc() { mv_run runc "$@"; }

declare -A MV_BG_PID=()
declare -A MV_BG_RT=()

# mv_start RUNTIME BUNDLE ID [TIMEOUT] : mv_run in the background; mv_wait ID.
mv_start() {
	local rt=$1 id=$3
	mv_run "$@" &
	MV_BG_PID[$id]=$!
	MV_BG_RT[$id]=$rt
}

# mv_wait ID : wait for a container started with mv_start; its exit status.
mv_wait() {
	local pid=${MV_BG_PID[$1]:-} rc
	[ -z "$pid" ] && return 127
	wait "$pid"
	rc=$?
	unset "MV_BG_PID[$1]"
	return "$rc"
}

# mv_kill ID [SIGNAL] : signal the container's init (default KILL).
mv_kill() {
	mv_rt "${MV_BG_RT[$1]}" kill "$1" "${2:-KILL}"
}

# mv_container_pid RUNTIME ID : host pid of the container's init.
mv_container_pid() {
	mv_rt "$1" state "$2" 2>/dev/null | jq -r '.pid // empty'
}

# mv_sync_wait ROOTFS TOKEN [SECONDS] : wait until a container ran "mvsync TOKEN".
mv_sync_wait() {
	local i
	for ((i = 0; i < ${3:-60} * 10; i++)); do
		[ -e "$1/tmp/sync/$2.ready" ] && return 0
		sleep 0.1
	done
	return 1
}

# mv_sync_go ROOTFS TOKEN : let the container waiting in "mvsync TOKEN" go on.
mv_sync_go() {
	touch "$1/tmp/sync/$2.go"
}

# ---------------------------------------------------------------------------
# Steps inside the container (/bin/mvstep)
# ---------------------------------------------------------------------------

# t_decision DESC ID PATTERN... : ok once a decision line of container ID
# matches every grep -E pattern (waits up to 5 s for the log).
t_decision() {
	local desc=$1 id=$2 i lines p
	shift 2
	for ((i = 0; i < 50; i++)); do
		lines=$(mv_decisions "$id")
		for p in "$@"; do
			lines=$(grep -E -- "$p" <<<"$lines")
		done
		if [ -n "$lines" ]; then
			t_ok "$desc"
			return 0
		fi
		sleep 0.1
	done
	t_fail "$desc" "no decision line of $id matches: $*"
	mv_explain "$id"
	return 1
}

# mv_bind_host_libs BUNDLE : bind the host's /usr, /lib and /lib64 read-only
# into the bundle's container (for host programs run inside it: FUSE
# programs, util-linux).
mv_bind_host_libs() {
	jq '.mounts += [
	  {destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro"]},
	  {destination: "/lib", type: "bind", source: "/lib", options: ["rbind", "ro"]},
	  {destination: "/lib64", type: "bind", source: "/lib64", options: ["rbind", "ro"]}]' \
		"$1/config.json" >"$1/config.tmp" && mv "$1/config.tmp" "$1/config.json"
}

# mv_bundle_devices BUNDLE DEV... : give the container these block devices
# (node + device-cgroup allow rule), as mv_oci_bundle --device does.
mv_bundle_devices() {
	local b=$1 d t maj min
	shift
	for d in "$@"; do
		t=$(stat -L -c '%t %T' "$d")
		read -r maj min <<<"$t"
		jq --arg p "$d" --argjson maj "$((16#$maj))" --argjson min "$((16#$min))" '
		  .linux.devices += [{path: $p, type: "b", major: $maj, minor: $min, fileMode: 432, uid: 0, gid: 0}]
		  | .linux.resources.devices += [{allow: true, type: "b", major: $maj, minor: $min, access: "rwm"}]' \
			"$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	done
}

# mv_fuse_bundle ID ROOTFS [mv_oci_bundle options] -- CMD... : $MV_TMP/ID,
# a bundle of ROOTFS with the host's /usr, /lib and /lib64 bound read-only
# (a FUSE program notifyd starts runs in the container's view and needs them).
mv_fuse_bundle() {
	local id=$1 root=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	mv_oci_bundle "${opts[@]}" "$MV_TMP/$id" "$root" "$@" || return 1
	mv_bind_host_libs "$MV_TMP/$id"
}

# mv_fuse_daemon_pid ID : the FUSE daemon's pid from the last fuse decision of ID.
mv_fuse_daemon_pid() {
	mv_decisions "$1" | grep 'action=fuse' | sed -n 's/.* pid=\([0-9]*\) handover=.*/\1/p' | tail -n1
}

# mv_fuse_daemons PATTERN : pids of notifyd's children (FUSE daemons:
# CLONE_PARENT) whose command line matches -- not another test's.
mv_fuse_daemons() { pgrep -P "$NOTIFYD_PID" -f -- "$1" || true; }

# mv_fuse_daemons_gone PATTERN [SECONDS] : wait (10 s) until no such daemon is left.
mv_fuse_daemons_gone() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		[ -z "$(mv_fuse_daemons "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# mv_step_rc ID NAME : exit code of step NAME in container ID's output
# ("missing" if the step never finished).
mv_step_rc() {
	local rc
	rc=$(sed -n "s/^@@end $2 rc=\([0-9]*\)\$/\1/p" "$(mv_out "$1")" 2>/dev/null | tail -n1)
	echo "${rc:-missing}"
}

# mv_step_out ID NAME : output of step NAME.
mv_step_out() {
	awk -v n="$2" '$0 == "@@begin " n {on = 1; next} on && index($0, "@@end " n " rc=") == 1 {on = 0} on' \
		"$(mv_out "$1")" 2>/dev/null
}

# t_step_ok DESC ID NAME : step NAME in container ID exited 0.
t_step_ok() {
	local rc
	rc=$(mv_step_rc "$2" "$3")
	if [ "$rc" = 0 ]; then
		t_ok "$1"
		return 0
	fi
	t_fail "$1" "step $3 in container $2: exit $rc" "$(mv_step_out "$2" "$3")"
	mv_explain "$2"
	return 1
}

# t_step_errno DESC ID NAME ERRNO[|ERRNO...] : step failed with one of them.
t_step_errno() {
	local rc out e _errs
	rc=$(mv_step_rc "$2" "$3")
	out=$(mv_step_out "$2" "$3")
	if [ "$rc" != missing ] && [ "$rc" != 0 ]; then
		IFS='|' read -r -a _errs <<<"$4"
		for e in "${_errs[@]}"; do
			if mv_errno_in "$e" "$out"; then
				t_ok "$1"
				return 0
			fi
		done
	fi
	t_fail "$1" "step $3 in container $2: exit $rc, expected failure with $4" "$out"
	mv_explain "$2"
	return 1
}

# t_newapi DESC ID STEP NAME=ERRNO... : the lines "NAME errno=ERRNO" of
# `mount_race newapi` (tests/helpers/mount_race.c) run as step STEP of
# container ID; ERRNO 0 means the call succeeded.
t_newapi() {
	local desc=$1 id=$2 step=$3 out kv bad=
	shift 3
	out=$(mv_step_out "$id" "$step")
	for kv in "$@"; do
		grep -qx -- "${kv%%=*} errno=${kv#*=}" <<<"$out" || bad+=" ${kv%%=*}: want ${kv#*=};"
	done
	if [ -z "$bad" ]; then
		t_ok "$desc"
		return 0
	fi
	t_fail "$desc" "$bad" "$out"
	return 1
}

# ---------------------------------------------------------------------------
# virtio-fs shares (the virtiofs action, docs/virtiofs.md)
# ---------------------------------------------------------------------------

# mv_front_start SOCKET MNT : play the VMM and guest for a share with
# vhost-user-fs-mount SOCKET MNT in the background (log in
# $MV_TMP/front.log); 0 once MNT is mounted, 1 after 5 s.  The share of a
# container is reached through /proc/PID/root/SOCKETFILE.
MV_FRONT_PID= MV_FRONT_MNT=
mv_front_start() {
	local i
	MV_FRONT_MNT=$2
	"$MV_BUILD/vhost-user-fs-mount" "$1" "$2" 2>"$MV_TMP/front.log" &
	MV_FRONT_PID=$!
	for ((i = 0; i < 50; i++)); do
		grep -q " $2 fuse.vhost-user-fs " /proc/self/mounts && stat "$2" >/dev/null 2>&1 &&
			return 0
		kill -0 "$MV_FRONT_PID" 2>/dev/null || return 1 # it gave up (see front.log)
		sleep 0.1
	done
	return 1
}

# mv_front_stop : unmount and stop what mv_front_start started (also as a defer).
mv_front_stop() {
	[ -n "$MV_FRONT_MNT" ] && umount "$MV_FRONT_MNT" 2>/dev/null
	[ -n "$MV_FRONT_PID" ] && kill "$MV_FRONT_PID" 2>/dev/null && wait "$MV_FRONT_PID" 2>/dev/null
	MV_FRONT_PID= MV_FRONT_MNT=
}

# mv_vufs_start NAME MNT BACKEND-COMMAND... : a vhost-user-fs back-end that
# listens on $MV_TMP/vu.sock (a fresh $MV_TMP/share to serve), and
# vhost-user-fs-mount with the arguments in the array MV_VUFS_ARGS in front
# of it at MNT: the local FUSE mount stands in for a guest.  Pids in
# MV_VUFS_BACKEND and MV_VUFS_FRONT, logs in $MV_TMP/NAME-backend.log and
# NAME-mount.log.  Not mounted within 5 s: t_fail "NAME: mounted", stops both.
MV_VUFS_ARGS=() MV_VUFS_BACKEND= MV_VUFS_FRONT= MV_VUFS_MNT=
mv_vufs_start() {
	local name=$1 i
	MV_VUFS_MNT=$2
	shift 2
	rm -rf "$MV_TMP/share" "$MV_TMP/vu.sock"
	mkdir -p "$MV_TMP/share" "$MV_VUFS_MNT"
	"$@" 2>"$MV_TMP/$name-backend.log" &
	MV_VUFS_BACKEND=$!
	for ((i = 0; i < 50; i++)); do
		[ -S "$MV_TMP/vu.sock" ] && break
		sleep 0.1
	done
	"$MV_BUILD/vhost-user-fs-mount" "${MV_VUFS_ARGS[@]}" "$MV_TMP/vu.sock" "$MV_VUFS_MNT" \
		2>"$MV_TMP/$name-mount.log" &
	MV_VUFS_FRONT=$!
	for ((i = 0; i < 50; i++)); do
		grep -q " $MV_VUFS_MNT fuse.vhost-user-fs " /proc/self/mounts &&
			stat "$MV_VUFS_MNT" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	t_fail "$name: mounted" "$(cat "$MV_TMP/$name-backend.log" "$MV_TMP/$name-mount.log")"
	mv_vufs_stop
	return 1
}

# mv_vufs_stop [SECONDS] : unmount, give the front-end SECONDS (default 0) to
# exit by itself (so it prints its --stats), then stop both.
mv_vufs_stop() {
	local i
	[ -n "$MV_VUFS_MNT" ] && umount "$MV_VUFS_MNT" 2>/dev/null
	for ((i = 0; i < ${1:-0} * 10; i++)); do
		if [ -z "$MV_VUFS_FRONT" ] || ! kill -0 "$MV_VUFS_FRONT" 2>/dev/null; then break; fi
		sleep 0.1
	done
	[ -n "$MV_VUFS_FRONT" ] && kill "$MV_VUFS_FRONT" 2>/dev/null && wait "$MV_VUFS_FRONT" 2>/dev/null
	[ -n "$MV_VUFS_BACKEND" ] && kill "$MV_VUFS_BACKEND" 2>/dev/null &&
		wait "$MV_VUFS_BACKEND" 2>/dev/null
	MV_VUFS_FRONT= MV_VUFS_BACKEND=
	return 0
}

# mv_share_pids ID : the vfsd pids of container ID's shares, from its decision lines.
mv_share_pids() {
	mv_decisions "$1" | grep 'action=virtiofs' | sed -n 's/.* why="vfsd pid=\([0-9]*\) .*/\1/p'
}

# mv_share_server PID : the process of share vfsd PID that serves (the child
# its namespace sandbox forked; PID itself only waits).
mv_share_server() { awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null; }
