#!/bin/bash
# The uevents notifyd sends into containers' network namespaces
# (docs/loop.md "uevents"), from a hostile container's side, in real crun and
# runc containers:
# - a spy container with a listener and no loop devices of its own hears
#   nothing while another container floods notifyd with loop requests;
# - the flooding container (GET_FREE, open, LOOP_SET_FD, LOOP_CLR_FD as fast
#   as it goes, a listener that never reads, one that does) gets at most
#   256 events a second, every one well formed and about its own devices
#   only; notifyd stays responsive: a third container's losetup -f meanwhile
#   takes well under a second;
# - a backing file whose name carries newlines and KEY=VALUE text changes
#   nothing in an event (nothing of the container's is in one);
# - events go to the requesting thread's network namespace, one the
#   container may enter (a second one it made with unshare -n), and to no
#   other of its namespaces;
# - afterwards notifyd is alive, holds no more fds than before (the
#   containers' uevent sockets are closed), and no device is left.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] || mv_bail "util-linux losetup not found"
LISTEN=$MV_BUILD/tests/helpers/uevent_listen
[ -x "$LISTEN" ] || mv_bail "$LISTEN not built (make all)"
ROUNDS=${UEVENT_FLOOD_ROUNDS:-5000}

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
printf '[profile]\ndefault-action = deny\nmax-loop-devices = 4\n' >"$PROFILES/default.conf"
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$LISTEN" "$ROOTFS/bin/uevent_listen"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
EVIL=$'/img/e\nACTION=remove\nDEVPATH=:devices:evil DEVNAME=sda'
for f in f.img p.img "${EVIL#/img/}"; do truncate -s 1M "$ROOTFS/img/$f"; done
chown -R 100000:100000 "${ROOTFS:?}/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# The strict form of one event about device N, as the listener prints it.
well_formed() { # well_formed LINE...
	grep -vE '^uevent pid=0 ([a-z]+)@/devices/virtual/block/loop([0-9]+) ACTION=\1 DEVPATH=/devices/virtual/block/loop\2 SUBSYSTEM=block (DISK_MEDIA_CHANGE=1 )?MAJOR=7 MINOR=\2 DEVNAME=loop\2 DEVTYPE=disk (DISKSEQ=[0-9]+ )?SEQNUM=[0-9]+$' <<<"$1"
}

test_flood() {
	local spy=ueh-$RT-spy fl=ueh-$RT-flood pr=ueh-$RT-probe ev bad n secs max devs t0 t1 ms
	cat >"$ROOTFS/$spy.sh" <<SCRIPT
uevent_listen -t 60 >/tmp/$spy.events 2>&1 &
l=\$!
mvsync $spy.up
kill \$l
SCRIPT
	cat >"$ROOTFS/$fl.sh" <<SCRIPT
uevent_listen -n -t 60 >/dev/null 2>&1 &
s=\$!
uevent_listen -t 60 >/tmp/$fl.events 2>&1 &
l=\$!
i=0
while ! grep -q listening /tmp/$fl.events 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done
mvsync $fl.up
mvstep flood uevent_listen -F $ROUNDS /img/f.img
mvstep evil $LOSETUP -f --show '$EVIL'
mvstep evil-detach sh -c '$LOSETUP -D'
sleep 3
kill \$l \$s
SCRIPT
	cat >"$ROOTFS/$pr.sh" <<SCRIPT
mvstep probe $LOSETUP -f --show /img/p.img
SCRIPT
	mv_loop_bundle "$spy" -- sh "/$spy.sh"
	mv_loop_bundle "$fl" -- sh "/$fl.sh"
	mv_loop_bundle "$pr" -- sh "/$pr.sh"
	mv_start "$RT" "$MV_TMP/$spy" "$spy" 90
	mv_start "$RT" "$MV_TMP/$fl" "$fl" 90
	if ! mv_sync_wait "$ROOTFS" "$spy.up" 60 || ! mv_sync_wait "$ROOTFS" "$fl.up" 60; then
		t_fail "$RT: spy and flooder started" "$(cat "$(mv_out "$spy")")" \
			"$(cat "$(mv_out "$fl")")" "$(tail -n 20 "$MV_LOG")"
		mv_delete_all
		return
	fi
	mv_sync_go "$ROOTFS" "$fl.up"
	sleep 0.2
	# Another container's request in the middle of the flood.
	t0=$(date +%s%N)
	mv_run "$RT" "$MV_TMP/$pr" "$pr" 60
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	t_check "$RT: the flood still ran when the probe container was done" \
		[ "$(mv_step_rc "$fl" flood)" = missing ]
	t_step_ok "$RT: a third container's losetup -f works during the flood" "$pr" probe
	echo "# $RT: the probe container ran (start to exit, runtime included) in $ms ms during the flood"
	t_check "$RT: ... within 5 s" [ "$ms" -lt 5000 ]
	mv_wait "$fl"
	mv_sync_go "$ROOTFS" "$spy.up"
	mv_wait "$spy"

	t_step_ok "$RT: the flood ran" "$fl" flood
	echo "# $RT: $(mv_step_out "$fl" flood)"
	ev=$(grep '^uevent ' "$ROOTFS/tmp/$fl.events")
	n=$(grep -c . <<<"$ev")
	echo "# $RT: the flooder's listener got $n events"
	t_check "$RT: the flooder got events for its devices" [ "$n" -gt 0 ]
	bad=$(well_formed "$ev")
	t_check "$RT: every event the flooder got is well formed (nothing of its file names in one)" \
		[ -z "$bad" ]
	t_check "$RT: no event has text of the backing file's name (DEVNAME=sda)" \
		eval '! grep -qE "devices:evil|DEVNAME=sda" <<<"$ev"'
	# Its devices: the ones notifyd handed it.
	devs=$(mv_decisions "$fl" | sed -n 's/.*type=LOOP_CTL_\(GET_FREE\|ADD\) target=\/dev\/loop\([0-9]*\) .*result=[0-9]*$/\2/p' | sort -u)
	bad=$(sed -n 's/.* DEVNAME=loop\([0-9]*\) .*/\1/p' <<<"$ev" | sort -u | grep -vxF -f <(echo "$devs") || true)
	t_check "$RT: every event is about a device notifyd handed the flooder (${devs//$'\n'/ })" \
		[ -z "$bad" ]
	# At most 256 a second: count per second of SEQNUM arrival is not
	# visible to the listener; the total bounds it by the flood's length.
	secs=$(sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$(mv_step_out "$fl" flood)")
	max=$((((${secs:-0} / 1000) + 2) * 256 + 16))
	t_check "$RT: the flooder got at most 256 events a second ($n in ${secs:-?} ms, bound $max)" \
		[ "$n" -le "$max" ]
	t_check "$RT: notifyd logged the flooder's dropped uevents" \
		grep -q "$fl: [0-9]* uevents not sent (more than 256 a second" "$MV_LOG"
	ev=$(grep '^uevent ' "$ROOTFS/tmp/$spy.events")
	t_check "$RT: the spy container (a listener, no loop devices) heard nothing" [ -z "$ev" ]
	mv_wait_log "container $fl gone: its" 10 >/dev/null
}

# The fds notifyd keeps once any container had a loop device (its node
# tmpfs, ...): the baseline, after a first container used one and exited.
warm_up() {
	local id=ueh-warm-up rt
	for rt in ${RUNTIMES:-crun runc}; do command -v "$rt" >/dev/null && break; done
	echo "mvstep setup $LOSETUP -f --show /img/p.img" >"$ROOTFS/$id.sh"
	mv_loop_bundle "$id" -- sh "/$id.sh"
	mv_run "$rt" "$MV_TMP/$id" "$id" 60
	t_step_ok "warm-up container got a loop device" "$id" setup
	mv_wait_log "container $id gone: its" 10 >/dev/null
	sleep 0.5
	FDS0=$(mv_notifyd_fds)
}
warm_up

# The namespace is the calling thread's: a container whose first loop
# request comes from a process in a second network namespace of its own
# (unshare -n: one its root may enter, so one where it could send uevents
# itself) gets its events there, and its first namespace hears nothing.
test_other_netns() {
	local id=ueh-$RT-netns ev inner
	cat >"$ROOTFS/$id.sh" <<SCRIPT
uevent_listen -t 30 >/tmp/$id.outer 2>&1 &
o=\$!
unshare -n sh -c 'uevent_listen -t 30 >/tmp/$id.inner 2>&1 & l=\$!; sleep 0.3; $LOSETUP -f --show /img/p.img; $LOSETUP -D; sleep 3; kill \$l'
mvstep inner cat /tmp/$id.inner
kill \$o
SCRIPT
	mv_loop_bundle "$id" -- sh "/$id.sh"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	inner=$(grep '^uevent ' "$ROOTFS/tmp/$id.inner")
	t_check "$RT: events go to the requesting thread's own second network namespace" \
		grep -q '^uevent pid=0 add@/devices/virtual/block/loop' <<<"$inner"
	ev=$(grep '^uevent ' "$ROOTFS/tmp/$id.outer")
	t_check "$RT: ... and its first network namespace heard nothing" [ -z "$ev" ]
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: not installed"
		continue
	}
	test_flood
	test_other_netns
done
for ((i = 0; i < 50; i++)); do
	[ "$(mv_notifyd_fds)" -le "$FDS0" ] && break
	sleep 0.1
done
t_check "notifyd holds no more fds than before the containers ($(mv_notifyd_fds) <= $FDS0)" \
	[ "$(mv_notifyd_fds)" -le "$FDS0" ]
handed=$(sed -n 's/.*type=LOOP_CTL_GET_FREE target=\(\/dev\/loop[0-9]*\) .*result=[0-9]*$/\1/p' "$MV_LOG" |
	sort -u | tr '\n' ' ')
for ((i = 0; i < 80; i++)); do
	left=$(for d in $handed; do [ -e "$d" ] && echo "$d"; done)
	[ -z "$left" ] && break
	sleep 0.1
done
t_check "every loop device notifyd handed out was deleted" [ -z "$left" ]
mv_notifyd_alive && t_ok "notifyd survived" || t_fail "notifyd survived"
t_done
