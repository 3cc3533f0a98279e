#!/bin/bash
# What notifyd does with what is already at its socket paths
# (common/unix_listener.c, the rule vfsd shares):
#   1. a fresh start creates both sockets 0600, whatever the umask;
#   2. a second notifyd on the same path refuses to start (EADDRINUSE) and the
#      first one keeps serving;
#   3. a regular file, a directory or a symlink at the path is refused
#      (EEXIST) and left as it was (a symlink's target too);
#   4. the sockets of a notifyd killed with SIGKILL (stale: nobody listens)
#      are replaced by the next start;
#   5. a clean exit removes its own sockets, but not a file that replaced one.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PROFILES=$MV_TMP/profiles
RUN=$MV_TMP/run
mkdir -p "$PROFILES" "$RUN"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny
EOF
NOTIFYD=$(mv_prog notifyd) || mv_bail "notifyd is not built"
LOG=$MV_TMP/notifyd-sockets.log
PIDS=()
# shellcheck disable=SC2016 # expanded when the defer runs
defer 'for p in "${PIDS[@]}"; do kill -KILL "$p"; done'

# start_bg SOCK CTL : notifyd in the background; waits for both sockets.
start_bg() {
	local i
	(umask 0 && exec "$NOTIFYD" --socket "$1" --control "$2" --profiles "$PROFILES" \
		--log-level debug </dev/null 2>>"$LOG") &
	BG=$!
	PIDS+=("$BG")
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && [ -S "$2" ] && return 0
		kill -0 "$BG" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_fg SOCK CTL : notifyd expected to refuse; echoes its exit status.
start_fg() {
	timeout 20 "$NOTIFYD" --socket "$1" --control "$2" --profiles "$PROFILES" \
		</dev/null 2>>"$LOG"
	echo $?
}

ctl_ok() { "$(mv_prog notifyctl)" --control "$1" list >/dev/null 2>&1; }

# refused RC : notifyd exited by itself with a failure (not by the timeout).
refused() { [ "$1" != 0 ] && [ "$1" != 124 ]; }
# all "TEST ARGS" ... : every quoted test(1) expression holds.
all() {
	local e
	for e in "$@"; do
		eval "[ $e ]" || return 1
	done
}

# 1. fresh start
if start_bg "$RUN/a.sock" "$RUN/a.ctl"; then
	t_ok "notifyd starts on fresh paths"
else
	mv_bail "notifyd did not start: $(tail -n 5 "$LOG")"
fi
A=$BG
t_check "both sockets are 0600 under umask 0" \
	[ "$(stat -c %a "$RUN/a.sock") $(stat -c %a "$RUN/a.ctl")" = "600 600" ]
t_check "no private directory is left beside them" \
	[ "$(find "$RUN" -mindepth 1 -maxdepth 1 -name '.*' | wc -l)" = 0 ]

# 2. a live socket is not stolen
before=$(stat -c %i "$RUN/a.sock")
rc=$(start_fg "$RUN/a.sock" "$RUN/b.ctl")
t_check "a second notifyd on a live socket exits non-zero ($rc)" refused "$rc"
t_check "... saying the address is in use" grep -q "Address already in use" "$LOG"
t_check "... and the first one's socket is the same file" [ "$(stat -c %i "$RUN/a.sock")" = "$before" ]
t_check "... and the first notifyd still answers" ctl_ok "$RUN/a.ctl"

# 3. non-sockets are left alone
echo keep >"$RUN/file"
rc=$(start_fg "$RUN/file" "$RUN/c.ctl")
t_check "a regular file at the socket path is refused ($rc)" refused "$rc"
t_check "... and kept as it was" [ "$(cat "$RUN/file")" = keep ]
mkdir "$RUN/dir"
rc=$(start_fg "$RUN/dir" "$RUN/d.ctl")
t_check "a directory at the socket path is refused ($rc)" all "'$rc' != 0" "'$rc' != 124" "-d '$RUN/dir'"
ln -s "$RUN/file" "$RUN/link"
ln -s "$RUN/nowhere" "$RUN/dangling"
rc=$(start_fg "$RUN/link" "$RUN/e.ctl")
rc2=$(start_fg "$RUN/dangling" "$RUN/f.ctl")
t_check "a symlink at the socket path is refused ($rc, dangling: $rc2)" \
	all "'$rc' != 0" "'$rc' != 124" "'$rc2' != 0" "'$rc2' != 124" "-L '$RUN/link'" "-L '$RUN/dangling'"
t_check "... its target is untouched and nothing is created through it" \
	all "'$(cat "$RUN/file")' = keep" "! -e '$RUN/nowhere'"
t_check "the refused starts left no socket behind" \
	all "! -e '$RUN/b.ctl'" "! -e '$RUN/c.ctl'" "! -e '$RUN/d.ctl'" "! -e '$RUN/e.ctl'" "! -e '$RUN/f.ctl'"

# 4. stale sockets of a killed notifyd are replaced
kill -KILL "$A"
wait "$A" 2>/dev/null
t_check "a killed notifyd leaves its sockets behind" all "-S '$RUN/a.sock'" "-S '$RUN/a.ctl'"
old=$(stat -c %i "$RUN/a.sock")
# The stale files are there from the start: wait for an answer, not for the files.
start_bg "$RUN/a.sock" "$RUN/a.ctl"
B=$BG
for ((i = 0; i < 100; i++)); do
	ctl_ok "$RUN/a.ctl" && break
	kill -0 "$B" 2>/dev/null || break
	sleep 0.1
done
if ctl_ok "$RUN/a.ctl"; then
	t_ok "the next notifyd replaces the stale sockets and answers"
else
	t_fail "the next notifyd replaces the stale sockets and answers" "$(tail -n 5 "$LOG")"
fi
t_check "... with new socket files" [ "$(stat -c %i "$RUN/a.sock")" != "$old" ]

# 5. clean exit: own sockets removed, a replacement kept
echo other >"$RUN/other"
mv "$RUN/other" "$RUN/a.ctl"
kill -TERM "$B"
wait "$B"
rc=$?
t_check "notifyd exits 0 on SIGTERM ($rc)" [ "$rc" = 0 ]
t_check "its own socket is removed at exit" [ ! -e "$RUN/a.sock" ]
t_check "a file that replaced its control socket is kept" [ "$(cat "$RUN/a.ctl" 2>/dev/null)" = other ]
t_done
