#!/bin/bash
# uevents for a container's own loop devices (docs/loop.md "uevents"): a
# netlink listener (tests/helpers/uevent_listen) in real crun and runc
# containers with their own user and network namespaces sees, for the device
# its `losetup -f` got, `add`, `change` (bound), `change` with
# DISK_MEDIA_CHANGE=1 (detached by `losetup -d`) and `remove` (given up
# 2 s later, unbound), in that order, each in the kernel's format and from
# the kernel (port 0, a SEQNUM), and nothing else: not the device of a second
# container running at the same time, not a host device attached meanwhile.
# The host's own listener sees the kernel's events once, never a copy of an
# injected one, and a container sharing the host's network namespace gets
# nothing injected (it hears the kernel's events already), nor does a
# rootful one with a network namespace of its own (the kernel broadcasts
# there too), nor any with notifyd --no-uevents.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] || mv_bail "util-linux losetup not found"
LISTEN=$MV_BUILD/tests/helpers/uevent_listen
[ -x "$LISTEN" ] || mv_bail "$LISTEN not built (make all)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
printf '[profile]\ndefault-action = deny\nmax-loop-devices = 4\n' >"$PROFILES/default.conf"
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$LISTEN" "$ROOTFS/bin/uevent_listen"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
for n in a b n; do truncate -s 1M "$ROOTFS/img/$n.img"; done
chown -R 100000:100000 "${ROOTFS:?}/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
truncate -s 1M "$MV_TMP/host.img"

# The host's listener for the whole test (the host's network namespace).
"$LISTEN" -t 600 >"$MV_TMP/host.events" 2>&1 &
HOST_LISTEN=$!
defer "kill $HOST_LISTEN 2>/dev/null; wait $HOST_LISTEN 2>/dev/null"
for ((i = 0; i < 50; i++)); do
	[ -s "$MV_TMP/host.events" ] && break
	sleep 0.1
done

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# write_script ID IMG : the container's script: listener up, losetup -f,
# (host checks), losetup -d, wait until the device is given up, listener
# stopped.
write_script() {
	cat >"$ROOTFS/$1.sh" <<SCRIPT
uevent_listen -t 40 >/tmp/$1.events 2>&1 &
l=\$!
i=0
while ! grep -q listening /tmp/$1.events 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done
mvstep setup $LOSETUP -f --show /img/$2
dev=\$($LOSETUP -j /img/$2 -O NAME -n)
mvsync $1.attached
mvstep detach $LOSETUP -d "\$dev"
i=0
while ! grep -q '^uevent .* remove@' /tmp/$1.events && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
sleep 0.5
kill \$l
mvsync $1.done
SCRIPT
}

# events_of FILE : the uevent lines of a listener's output.
events_of() { grep '^uevent ' "$1" 2>/dev/null; }

# check_events RT ID DEV : ID's listener saw exactly DEV's four events, well formed.
check_events() {
	local rt=$1 id=$2 dev=$3 ev n actions bad want
	n=${dev#/dev/loop}
	ev=$(events_of "$ROOTFS/tmp/$id.events")
	actions=$(awk '{print $3}' <<<"$ev" | tr '\n' ' ')
	want="add@/devices/virtual/block/loop$n change@/devices/virtual/block/loop$n"
	want+=" change@/devices/virtual/block/loop$n remove@/devices/virtual/block/loop$n "
	if [ -n "$dev" ] && [ "$actions" = "$want" ]; then
		t_ok "$rt: $id sees add, change, change, remove for its $dev, in order"
	else
		t_fail "$rt: $id sees add, change, change, remove for its $dev, in order" \
			"saw: $actions" "$ev" "$(grep -E "uevent|$id" "$MV_LOG" | tail -n 20)"
	fi
	bad=$(grep -v " DEVNAME=loop$n " <<<"$ev")
	t_check "$rt: $id sees nothing about another device" [ -z "$bad" ]
	bad=$(grep -vE "^uevent pid=0 ([a-z]+)@/devices/virtual/block/loop$n ACTION=\1 DEVPATH=/devices/virtual/block/loop$n SUBSYSTEM=block (DISK_MEDIA_CHANGE=1 )?MAJOR=7 MINOR=$n DEVNAME=loop$n DEVTYPE=disk (DISKSEQ=[0-9]+ )?SEQNUM=[0-9]+\$" <<<"$ev")
	if [ -n "$ev" ] && [ -z "$bad" ]; then
		t_ok "$rt: $id's events are in the kernel's format, from the kernel (port 0), with a SEQNUM"
	else
		t_fail "$rt: $id's events are in the kernel's format, from the kernel (port 0), with a SEQNUM" \
			"$bad"
	fi
	t_check "$rt: $id: the change at the detach says DISK_MEDIA_CHANGE=1 (as the host's)" \
		grep -q "^uevent pid=0 change@.* DISK_MEDIA_CHANGE=1 " <<<"$ev"
}

# host_mark : remember where the host's listener output is now (host_count counts from there).
host_mark() { HOST_FROM=$(($(wc -l <"$MV_TMP/host.events") + 1)); }
HOST_FROM=1
# until_removed DEV : the uevent lines of stdin from DEV's first add to the
# remove after it: one life of the device (before, a device of that number
# may still have been going; after, the number is anybody's on the host).
until_removed() {
	awk -v a="add@/devices/virtual/block/${1#/dev/}" -v r="remove@/devices/virtual/block/${1#/dev/}" \
		'$1 == "uevent" && $3 == a {on = 1} on && $1 == "uevent" {print} on && $3 == r {exit}'
}
# host_count DEV ACTION : how many ACTION events the host's listener saw in
# the life of DEV that began after host_mark.
host_count() {
	tail -n "+$HOST_FROM" "$MV_TMP/host.events" | until_removed "$1" |
		grep -c "^uevent pid=0 $2@/devices/virtual/block/${1#/dev/} " || true
}

# Two containers at once, and a host device meanwhile.
test_pair() {
	local a=ue-$RT-a b=ue-$RT-b adev bdev hdev
	host_mark
	write_script "$a" a.img
	write_script "$b" b.img
	mv_loop_bundle "$a" -- sh "/$a.sh"
	mv_loop_bundle "$b" -- sh "/$b.sh"
	mv_start "$RT" "$MV_TMP/$a" "$a" 90
	mv_start "$RT" "$MV_TMP/$b" "$b" 90
	if ! mv_sync_wait "$ROOTFS" "$a.attached" 60 || ! mv_sync_wait "$ROOTFS" "$b.attached" 60; then
		t_fail "$RT: both containers attached a loop device" "$(cat "$(mv_out "$a")")" \
			"$(cat "$(mv_out "$b")")" "$(tail -n 20 "$MV_LOG")"
		mv_delete_all
		return
	fi
	t_step_ok "$RT: losetup -f in container A" "$a" setup
	t_step_ok "$RT: losetup -f in container B" "$b" setup
	adev=$(mv_step_out "$a" setup)
	bdev=$(mv_step_out "$b" setup)
	# A device of the host's own, attached and detached while both listen.
	if hdev=$(losetup -f --show "$MV_TMP/host.img"); then
		losetup -d "$hdev"
	else
		t_fail "$RT: a host losetup -f while the containers listen" "failed"
	fi
	sleep 0.3
	mv_sync_go "$ROOTFS" "$a.attached"
	mv_sync_go "$ROOTFS" "$b.attached"
	mv_sync_wait "$ROOTFS" "$a.done" 30 && mv_sync_go "$ROOTFS" "$a.done"
	mv_sync_wait "$ROOTFS" "$b.done" 30 && mv_sync_go "$ROOTFS" "$b.done"
	mv_wait "$a"
	mv_wait "$b"
	t_step_ok "$RT: losetup -d in container A" "$a" detach
	check_events "$RT" "$a" "$adev"
	check_events "$RT" "$b" "$bdev"
	sleep 0.3
	t_check "$RT: the host saw the kernel's add of A's device once (no injected copy)" \
		[ "$(host_count "$adev" add)" = 1 ]
	t_check "$RT: the host saw the kernel's remove of A's device once" \
		[ "$(host_count "$adev" remove)" = 1 ]
	[ -n "$hdev" ] && t_check "$RT: the host's listener saw its own device's change" \
		eval 'tail -n "+$HOST_FROM" "$MV_TMP/host.events" | grep -q "^uevent pid=0 change@/devices/virtual/block/${hdev#/dev/} "'
	t_check "$RT: notifyd's log says A's uevents go to its network namespace" \
		grep -q "$a: uevents for its loop devices go to its network namespace" "$MV_LOG"
}

# A container in the host's network namespace: nothing injected; the host's
# listener sees each of the kernel's events for its device once.
test_hostnet() {
	local id=ue-$RT-hostnet dev
	cat >"$ROOTFS/$id.sh" <<SCRIPT
mvstep setup $LOSETUP -f --show /img/n.img
mvstep detach sh -c '$LOSETUP -d \$($LOSETUP -j /img/n.img -O NAME -n)'
sleep 3
SCRIPT
	host_mark
	mv_loop_bundle "$id" -- sh "/$id.sh"
	jq '.linux.namespaces |= map(select(.type != "network"))' "$MV_TMP/$id/config.json" \
		>"$MV_TMP/$id/c.tmp" && mv "$MV_TMP/$id/c.tmp" "$MV_TMP/$id/config.json"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: host-netns container: losetup -f" "$id" setup
	dev=$(mv_step_out "$id" setup)
	t_check "$RT: host-netns container: notifyd injects nothing (and logs why)" \
		grep -q "$id: no uevents injected for its loop devices: it shares notifyd's network namespace" \
		"$MV_LOG"
	sleep 0.5
	t_check "$RT: host-netns container: the host saw one add of $dev (the kernel's)" \
		[ "$(host_count "$dev" add)" = 1 ]
	t_check "$RT: host-netns container: the host saw one remove of $dev" \
		[ "$(host_count "$dev" remove)" = 1 ]
}

# quiet_script ID IMG : listener up, losetup -f and -d, 2.5 s (the device is
# given up), listener stopped: for containers that must hear nothing injected.
quiet_script() {
	cat >"$ROOTFS/$1.sh" <<SCRIPT
uevent_listen -t 40 >/tmp/$1.events 2>&1 &
l=\$!
i=0
while ! grep -q listening /tmp/$1.events 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done
mvstep setup $LOSETUP -f --show /img/$2
mvstep detach sh -c '$LOSETUP -d \$($LOSETUP -j /img/$2 -O NAME -n)'
sleep 2.5
kill \$l
SCRIPT
}

# A rootful container with a network namespace of its own (no user
# namespace): the kernel broadcasts every uevent there already, so notifyd
# adds none; its listener hears the kernel's add of its device once.
test_rootful_netns() {
	local id=ue-$RT-rootful dev n
	quiet_script "$id" n.img
	mv_loop_bundle "$id" -- sh "/$id.sh"
	jq '.linux.namespaces |= map(select(.type != "user")) | del(.linux.uidMappings, .linux.gidMappings)' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.tmp" && mv "$MV_TMP/$id/c.tmp" "$MV_TMP/$id/config.json"
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_ok "$RT: rootful container with its own network namespace: losetup -f" "$id" setup
	dev=$(mv_step_out "$id" setup)
	n=${dev#/dev/loop}
	t_check "$RT: rootful container: notifyd injects nothing (and logs why)" \
		grep -q "$id: no uevents injected for its loop devices: its network namespace belongs to notifyd's user namespace" \
		"$MV_LOG"
	t_check "$RT: rootful container: its listener heard the kernel's add of $dev once" \
		[ "$(until_removed "$dev" <"$ROOTFS/tmp/$id.events" | grep -c "^uevent pid=0 add@/devices/virtual/block/loop$n ")" = 1 ]
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: not installed"
		continue
	}
	test_pair
	test_hostnet
	test_rootful_netns
done

# notifyd --no-uevents: a container with a network namespace of its own hears nothing.
mv_start_notifyd "$PROFILES" --no-uevents || mv_bail "notifyd --no-uevents did not start"
for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null && break
done
id=ue-$RT-off
quiet_script "$id" n.img
mv_loop_bundle "$id" -- sh "/$id.sh"
mv_run "$RT" "$MV_TMP/$id" "$id" 60
t_step_ok "--no-uevents: losetup -f" "$id" setup
t_check "--no-uevents: the container's listener heard nothing" \
	[ "$(grep -c '^uevent ' "$ROOTFS/tmp/$id.events")" = 0 ]
mv_notifyd_alive && t_ok "notifyd survived" || t_fail "notifyd survived"
t_done
