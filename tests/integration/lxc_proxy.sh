#!/bin/bash
# notifyd --lxc-socket against a client that speaks LXC 5.0.2's seccomp proxy
# protocol byte for byte (tests/helpers/lxc_proxy_client.c): a real trapped
# mount(2) forwarded with /proc/<pid>, mem and the notify fd and answered;
# malformed messages (reserved field set, wrong sizes, short, lying cookie
# length, missing or extra fds) answered at once with an error, on a live
# connection and as a connection's first message; a FUSE start-up longer
# than LXC's 30 s wait is answered ETIMEDOUT in time; notifyd stays healthy
# and closes every fd it was sent.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

CLIENT=$MV_BUILD/tests/helpers/lxc_proxy_client
[ -x "$CLIENT" ] || mv_bail "$CLIENT not built"
mkdir -p "$MV_TMP/profiles"
cat >"$MV_TMP/profiles/default.conf" <<EOF
[profile]
default-action = deny

# A FUSE program that never mounts: notifyd waits for it up to startup-timeout.
# (sh -c: arguments must name {mountpoint}, which sleep would not take.)
[fs mvtest-slow]
action = fuse
program = $(command -v sh)
source = none
arguments = -c exec\${IFS}sleep\${IFS}30 {mountpoint}
startup-timeout = 3
EOF
LXC_SOCK=$MV_TMP/run/lxc.sock
mv_start_notifyd "$MV_TMP/profiles" --lxc-socket "$LXC_SOCK" || mv_bail "notifyd did not start"
t_check "the LXC socket is a SOCK_SEQPACKET socket, 0600" \
	[ "$(stat -c %a "$LXC_SOCK")" = 600 ]
fds_before=$(mv_notifyd_fds)

out=$(timeout 60 "$CLIENT" "$LXC_SOCK" 2>&1)
t_diag "$out"
size=$(($(getconf LONG_BIT) == 64 ? 32 + 80 + 24 : 0))

# reply_ok NAME ERRNO DESC [SIZE] : the reply came within a second, had the
# size the request's header implies and the errno.
reply_ok() {
	local line
	line=$(grep "^case=$1 " <<<"$out")
	if [[ $line =~ reply=${4:-$size}\ error=$2\ .*ms=([0-9]+)\. ]] && [ "${BASH_REMATCH[1]}" -lt 1000 ]; then
		t_ok "$3"
	else
		t_fail "$3" "got: ${line:-nothing}"
	fi
}
reply_ok first-real ENODEV "a trapped mount(2) forwarded like LXC does is answered (ENODEV: unknown type)"
t_check "the child's mount(2) got that errno through LXC's way of answering" \
	[ "$(grep -c '^child errno=ENODEV$' <<<"$out")" = 3 ]
reply_ok reserved-set ENOSYS "reserved field set: answered ENOSYS at once"
reply_ok wrong-sizes ENOSYS "struct sizes not the kernel's: answered ENOSYS at once, laid out as the sender counts" $((size + 8))
reply_ok short ENOSYS "short message: answered ENOSYS at once"
reply_ok cookie-length-lies ENOSYS "cookie length that does not add up: answered at once"
reply_ok no-fds ENOSYS "no fds: answered ENOSYS at once"
reply_ok one-fd ENOSYS "one fd: answered ENOSYS at once"
reply_ok four-fds ENOSYS "four fds: answered ENOSYS at once"
reply_ok last-real ENODEV "after all that the connection still serves real requests"
reply_ok first-bad ENOSYS "a bad first message on a new connection is answered at once"
reply_ok after-first-bad ENODEV "... and the connection then works"
t_check "the real requests have decision lines with the cookie's name" \
	[ "$(mv_decisions lxc-proxy-client | grep -c 'syscall=mount .*result=ENODEV')" = 3 ]
t_check "bad messages are logged" grep -q 'bad LXC proxy message, answered ENOSYS: reserved field' "$MV_LOG"

# One container's slow request (a FUSE start-up) does not hold up another's.
out=$(timeout 60 "$CLIENT" "$LXC_SOCK" concurrent 2>&1)
t_diag "$out"
quick=$(sed -n 's/^case=quick-while-slow .*error=ENODEV .*ms=\([0-9]*\)\..*/\1/p' <<<"$out")
slow=$(sed -n 's/^case=slow .*error=[A-Z]* .*ms=\([0-9]*\)\..*/\1/p' <<<"$out")
t_check "another container's request is answered while a FUSE start-up waits (${quick:-?} ms)" \
	test "${quick:-99999}" -lt 1000
t_check "the slow one is answered with an error at its start-up timeout (${slow:-?} ms)" \
	test "${slow:-0}" -ge 2500 -a "${slow:-0}" -lt 10000

# LXC waits 30 s for an answer, then answers ENOSYS itself and would take a
# later answer for its next request's: a FUSE start-up allowed 60 s is cut
# short so notifyd's ETIMEDOUT still comes in time.
mv_wait_log "lxc-proxy-client pid=.* closed its LXC proxy connection" 5 >/dev/null
sed -i 's/^startup-timeout = 3$/startup-timeout = 60/' "$MV_TMP/profiles/default.conf"
closed=$(grep -c "lxc-proxy-client pid=.* closed its LXC proxy connection" "$MV_LOG")
kill -HUP "$NOTIFYD_PID"
for ((i = 0; i < 50; i++)); do
	[ "$(grep -c 'profiles loaded' "$MV_LOG")" -ge 2 ] && break
	sleep 0.1
done
out=$(timeout 60 "$CLIENT" "$LXC_SOCK" concurrent 2>&1)
t_diag "$out"
slow=$(sed -n 's/^case=slow .*error=ETIMEDOUT .*ms=\([0-9]*\)\..*/\1/p' <<<"$out")
t_check "a longer FUSE start-up for LXC is answered ETIMEDOUT before LXC's 30 s (${slow:-?} ms)" \
	test "${slow:-0}" -ge 20000 -a "${slow:-99999}" -lt 29000
t_check "... and its decision line says so" \
	mv_wait_log "syscall=mount type=mvtest-slow .*result=ETIMEDOUT why=\"sh did not answer FUSE_INIT within 2[0-9] s\"" 5

for ((i = 0; i < 50; i++)); do
	[ "$(grep -c "lxc-proxy-client pid=.* closed its LXC proxy connection" "$MV_LOG")" -gt "$closed" ] && break
	sleep 0.1
done
sleep 0.5
t_check "no fd of the 30-odd sent stays in notifyd" [ "$(mv_notifyd_fds)" = "$fds_before" ]
t_check "notifyd alive" mv_notifyd_alive
t_done
