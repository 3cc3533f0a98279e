#!/bin/bash
# notifyd's minimum kernel (Linux 5.12, notifyd/kernel_check.c): on a kernel
# that lacks a required feature notifyd refuses to start, and its message
# names the minimum, the missing feature and the version that brought it.
# An older kernel is played by a seccomp filter that answers ENOSYS for the
# calls it would not have (tests/helpers/enosys); the run itself shows that
# this kernel passes.  make check-kernel runs this on Debian 12's 6.1 too.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

ENOSYS=$MV_BUILD/tests/helpers/enosys
NOTIFYD=$(mv_prog notifyd)
[ -x "$ENOSYS" ] || mv_bail "no $ENOSYS (make all builds it)"
mkdir -p "$MV_TMP/profiles" "$MV_TMP/run"
printf '[profile]\ndefault-action = deny\n' >"$MV_TMP/profiles/default.conf"
args=(--socket "$MV_TMP/run/n.sock" --control "$MV_TMP/run/c.sock" --profiles "$MV_TMP/profiles")

# refused CALLS FEATURE SINCE : notifyd under enosys CALLS exits non-zero with
# a message naming Linux 5.12, FEATURE and SINCE, and never listens.
refused() {
	local out rc
	out=$(timeout 10 "$ENOSYS" "$1" "$NOTIFYD" "${args[@]}" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "needs Linux 5.12 or newer" <<<"$out" &&
		grep -qF "lacks $2 (Linux $3)" <<<"$out" && grep -qF "($(uname -r))" <<<"$out" &&
		[ ! -e "$MV_TMP/run/n.sock" ]; then
		t_ok "without $1: refuses to start, names $2 (Linux $3)"
	else
		t_fail "without $1: refuses to start, names $2 (Linux $3)" "exit $rc" "$out"
	fi
	rm -f "$MV_TMP/run/n.sock" "$MV_TMP/run/c.sock"
}

refused mount_setattr "mount_setattr(2)" 5.12
refused close_range "close_range(2)" 5.9
refused pidfd_getfd "pidfd_getfd(2)" 5.6
refused openat2 "openat2(2)" 5.6
refused pidfd_open "pidfd_open(2)" 5.3
refused clone3 "clone3(2)" 5.3
refused fsopen "fsopen(2)" 5.2
# Newest first: a 5.8 kernel lacks several; the message names the newest.
refused mount_setattr,close_range,openat2 "mount_setattr(2)" 5.12

# This kernel has them all: notifyd starts, says so, and stops on SIGTERM.
"$NOTIFYD" "${args[@]}" >"$MV_TMP/start.log" 2>&1 &
pid=$!
defer "kill $pid 2>/dev/null"
for _ in $(seq 100); do [ -S "$MV_TMP/run/n.sock" ] && break; sleep 0.1; done
t_check "on $(uname -r): notifyd starts" test -S "$MV_TMP/run/n.sock"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
t_check "no kernel complaint in its log" sh -c "! grep -q 'needs Linux' '$MV_TMP/start.log'"
