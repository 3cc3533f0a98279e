#!/bin/bash
# SIGHUP reloads notifyd's profiles under running containers.
#
#   1. One long-lived container (held at mvsync points) mounts ext4 four
#      times: denied by the first profile set; allowed after the profile is
#      changed to the kernel action and notifyd gets SIGHUP; still allowed
#      after a broken profile is written and SIGHUP'd (the log names
#      FILE:LINE and the old set stays); refused with ENODEV after the file
#      is fixed and reloaded.  notifyctl list shows the container, same pid,
#      all along.
#   2. A container asking for a profile that is not loaded
#      (listenerMetadata profile=nope): a warning at adoption, EPERM with
#      rule "profile 'nope' is not loaded"; once nope.conf is added and
#      reloaded, the same container's mounts follow it.
#   3. Reloads every 50 ms during a storm of requests: every answer is still
#      the one the (unchanging) rules give.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

PROFILES=$MV_TMP/profiles
ROOTFS=$MV_TMP/rootfs
mkdir -p "$PROFILES"

RT=
for r in crun runc; do
	command -v "$r" >/dev/null && RT=$r && break
done
if [ -z "$RT" ]; then
	t_skip "profile reload" "neither crun nor runc is installed"
	exit 0
fi

profile_v1() { # ext4 denied (EPERM)
	cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = deny

[fs tmpfs]
action = continue
EOF
}
profile_v2() { # ext4 through the kernel
	cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = kernel
idmap = yes

[fs tmpfs]
action = continue
EOF
}
BROKEN_LINE=6
profile_broken() { # line 6: an action that does not exist
	cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
idmap = yes
action = explode

[fs tmpfs]
action = continue
EOF
}
profile_v3() { # ext4 denied with ENODEV
	cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = deny
errno = ENODEV

[fs tmpfs]
action = continue
EOF
}
profile_storm() { # what mount_race storm expects
	cat >"$PROFILES/storm.conf" <<EOF
# generation $1
[profile]
default-action = deny
max-mounts = 8

[fs ext4]
action = kernel
idmap = yes
allowed-options = errors

[fs tmpfs]
action = continue

[fs xfs]
action = deny
EOF
}
profile_v1
profile_storm 0

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
DEV=
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

loaded() { grep -c "profiles loaded from $PROFILES" "$MV_LOG"; }
not_loaded() { grep -c "profiles in $PROFILES not loaded" "$MV_LOG"; }

# reload COUNTER_FN : SIGHUP, wait until COUNTER_FN's count grows.
reload() {
	local before i
	before=$("$1")
	kill -HUP "$NOTIFYD_PID"
	for ((i = 0; i < 50; i++)); do
		[ "$("$1")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

# t_listed DESC ID PID : notifyctl list shows container ID with init PID.
t_listed() {
	local out
	out=$(mv_ctl list 2>&1)
	if awk -v id="$2" -v pid="$3" '$1 == id && $2 == pid' <<<"$out" | grep -q .; then
		t_ok "$1"
	else
		t_fail "$1" "looking for $2 pid $3 in:" "$out"
	fi
}

# t_last_mount DESC ID PATTERN... : the last mount decision of ID matches all.
t_last_mount() {
	local desc=$1 id=$2 line i p ok
	shift 2
	for ((i = 0; i < 50; i++)); do
		line=$(mv_decisions "$id" | grep 'syscall=mount ' | tail -n1)
		ok=1
		for p in "$@"; do
			grep -qE -- "$p" <<<"$line" || ok=
		done
		[ -n "$ok" ] && break
		sleep 0.1
	done
	if [ -n "$ok" ]; then
		t_ok "$desc"
	else
		t_fail "$desc" "last mount decision of $id: $line" "wanted: $*"
	fi
}

# ---------------------------------------------------------------------------
# 1. One running container through four profile generations
# ---------------------------------------------------------------------------

id=$MV_IDP-$RT-reload
cat >"$ROOTFS/reload.sh" <<'EOF'
dev=$1 tok=$2
mvstep m1 mount -t ext4 "$dev" /mnt/a
mvsync "$tok.1"
mvstep m2 mount -t ext4 "$dev" /mnt/a
mvstep u2 umount /mnt/a
mvsync "$tok.2"
mvstep m3 mount -t ext4 "$dev" /mnt/a
mvstep u3 umount /mnt/a
mvsync "$tok.3"
mvstep m4 mount -t ext4 "$dev" /mnt/a
EOF
mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /reload.sh "$DEV" "$id"
mv_start "$RT" "$MV_TMP/$id" "$id" 120

if ! mv_sync_wait "$ROOTFS" "$id.1" 60; then
	t_fail "$RT: container reached its first sync point" "$(cat "$(mv_out "$id")")"
	mv_bail "container did not start"
fi
cpid=$(mv_ctl list 2>/dev/null | awk -v id="$id" '$1 == id {print $2}')
t_step_errno "$RT: profile v1 (ext4 deny): mount gets EPERM" "$id" m1 EPERM
t_last_mount "$RT: ... decision line: rule default [fs ext4] action=deny, EPERM" "$id" \
	'rule="default \[fs ext4\] action=deny"' 'result=EPERM'
t_listed "$RT: notifyctl list shows the container (pid ${cpid:-?})" "$id" "${cpid:-none}"

profile_v2
if reload loaded; then
	t_ok "SIGHUP with ext4 changed to kernel: profiles reloaded"
else
	t_fail "SIGHUP with ext4 changed to kernel: profiles reloaded" "$(tail -n 5 "$MV_LOG")"
fi
t_listed "$RT: the container is still listed after the reload, same pid" "$id" "${cpid:-none}"
mv_sync_go "$ROOTFS" "$id.1"
mv_sync_wait "$ROOTFS" "$id.2" 60 || t_fail "$RT: container reached its second sync point" \
	"$(cat "$(mv_out "$id")")"
t_step_ok "$RT: the same container's next ext4 mount now succeeds" "$id" m2
t_step_ok "$RT: ... and unmounts" "$id" u2
t_last_mount "$RT: ... decision line: rule default [fs ext4] action=kernel, ok" "$id" \
	'rule="default \[fs ext4\] action=kernel"' 'result=ok'

profile_broken
if reload not_loaded; then
	t_ok "SIGHUP with a broken profile: reload refused"
else
	t_fail "SIGHUP with a broken profile: reload refused" "$(tail -n 5 "$MV_LOG")"
fi
line=$(grep "profiles in $PROFILES not loaded" "$MV_LOG" | tail -n1)
if grep -qF "$PROFILES/default.conf:$BROKEN_LINE: " <<<"$line"; then
	t_ok "the error names FILE:LINE (${line#*keeping the ones in force: })"
else
	t_fail "the error names FILE:LINE ($PROFILES/default.conf:$BROKEN_LINE:)" "$line"
fi
if grep -q "keeping the ones in force" <<<"$line"; then
	t_ok "... and says the old profiles stay"
else
	t_fail "... and says the old profiles stay" "$line"
fi
if mv_notifyd_alive; then
	t_ok "notifyd survives the broken profile"
else
	mv_bail "notifyd died on a broken profile: $(tail -n 20 "$MV_LOG")"
fi
t_listed "$RT: the container is still listed, same pid" "$id" "${cpid:-none}"
mv_sync_go "$ROOTFS" "$id.2"
mv_sync_wait "$ROOTFS" "$id.3" 60 || t_fail "$RT: container reached its third sync point" \
	"$(cat "$(mv_out "$id")")"
t_step_ok "$RT: with the broken file on disk the old set (ext4 kernel) still decides" "$id" m3
t_step_ok "$RT: ... and unmounts" "$id" u3
t_last_mount "$RT: ... decision line: action=kernel, ok" "$id" \
	'rule="default \[fs ext4\] action=kernel"' 'result=ok'

profile_v3
if reload loaded; then
	t_ok "SIGHUP after fixing the file (ext4 deny, ENODEV): profiles reloaded"
else
	t_fail "SIGHUP after fixing the file: profiles reloaded" "$(tail -n 5 "$MV_LOG")"
fi
t_listed "$RT: the container is still listed, same pid" "$id" "${cpid:-none}"
mv_sync_go "$ROOTFS" "$id.3"
mv_wait "$id"
rc=$?
[ "$rc" -eq 0 ] || t_fail "$RT: reload container exits 0" "exit $rc" "$(cat "$(mv_out "$id")")"
t_step_errno "$RT: the fixed profile decides: ENODEV" "$id" m4 ENODEV
t_last_mount "$RT: ... decision line: action=deny, ENODEV" "$id" \
	'rule="default \[fs ext4\] action=deny"' 'result=ENODEV'
n=$(grep -cE "container $id pid=[0-9]+ .*adopted" "$MV_LOG")
if [ "$n" -eq 1 ]; then
	t_ok "$RT: the container was adopted once and kept through three reloads"
else
	t_fail "$RT: the container was adopted once and kept through three reloads" "$n adoption lines"
fi

# ---------------------------------------------------------------------------
# 2. A profile that is not loaded
# ---------------------------------------------------------------------------

id=$MV_IDP-$RT-nope
cat >"$ROOTFS/nope.sh" <<'EOF'
tok=$1
mvstep t1 mount -t tmpfs -o size=1m nope /mnt/b
mvsync "$tok.1"
mvstep t2 mount -t tmpfs -o size=1m nope /mnt/b
EOF
mv_oci_bundle --profile nope "$MV_TMP/$id" "$ROOTFS" sh /nope.sh "$id"
mv_start "$RT" "$MV_TMP/$id" "$id" 60
if mv_sync_wait "$ROOTFS" "$id.1" 60; then
	if mv_wait_log "container $id asks for profile 'nope', which is not loaded" 1; then
		t_ok "$RT: profile=nope: a warning at adoption ($(grep -o "container $id asks .*" "$MV_LOG" | head -n1))"
	else
		t_fail "$RT: profile=nope: a warning at adoption" "$(grep "$id" "$MV_LOG")"
	fi
	if grep -E "container $id .*not loaded" "$MV_LOG" | grep -q ' warn: '; then
		t_ok "$RT: ... logged at warn level"
	else
		t_fail "$RT: ... logged at warn level" "$(grep "$id" "$MV_LOG" | head -n 3)"
	fi
	t_step_errno "$RT: profile=nope: tmpfs mount gets EPERM" "$id" t1 EPERM
	t_last_mount "$RT: ... decision line: rule \"profile 'nope' is not loaded\", EPERM" "$id" \
		"rule=\"profile 'nope' is not loaded\"" 'result=EPERM'
	cat >"$PROFILES/nope.conf" <<'EOF'
[profile]
default-action = deny

[fs tmpfs]
action = continue
EOF
	reload loaded || t_fail "SIGHUP with nope.conf added: profiles reloaded" "$(tail -n 5 "$MV_LOG")"
	mv_sync_go "$ROOTFS" "$id.1"
else
	t_fail "$RT: profile=nope container reached its sync point" "$(cat "$(mv_out "$id")")"
fi
mv_wait "$id"
t_step_ok "$RT: once nope.conf is loaded the same container's tmpfs mount works" "$id" t2
t_last_mount "$RT: ... decision line: rule nope [fs tmpfs] action=continue" "$id" \
	'rule="nope \[fs tmpfs\] action=continue"' 'result=continue'

# ---------------------------------------------------------------------------
# 3. Reloads during a storm of requests
# ---------------------------------------------------------------------------

id=$MV_IDP-$RT-storm
count=${RELOAD_STORM_COUNT:-8000}
mv_oci_bundle --profile storm --device "$DEV" "$MV_TMP/$id" "$ROOTFS" mount_race storm "$DEV" "$count"
before=$(loaded)
mv_start "$RT" "$MV_TMP/$id" "$id" 120
gen=0
while [ -n "${MV_BG_PID[$id]:-}" ] && kill -0 "${MV_BG_PID[$id]}" 2>/dev/null; do
	gen=$((gen + 1))
	profile_storm "$gen"
	kill -HUP "$NOTIFYD_PID"
	sleep 0.05
done
mv_wait "$id"
sleep 0.2
out=$(grep '^storm ' "$(mv_out "$id")")
if [[ $out =~ requests=([0-9]+)\ unexpected=0 ]] && [ "${BASH_REMATCH[1]}" -ge "$count" ]; then
	t_ok "$RT: $out while notifyd reloaded $(($(loaded) - before)) times"
else
	t_fail "$RT: a storm of $count requests during $gen reloads is answered as the rules say" \
		"${out:-no summary}"
	mv_explain "$id"
fi
# Signals sent close together may coalesce: at least one reload, none refused.
n=$(($(loaded) - before))
if [ "$n" -ge 1 ] && [ "$(not_loaded)" -eq 1 ]; then
	t_ok "the $gen SIGHUPs during the storm gave $n reloads, none refused"
else
	t_fail "the $gen SIGHUPs during the storm gave reloads, none refused" \
		"$n reloads logged" "$(grep 'not loaded' "$MV_LOG" | tail -n 3)"
fi

if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC" "$(tail -n 20 "$MV_LOG")"
fi
