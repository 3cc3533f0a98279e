#!/bin/bash
# A container's loop device is never bound by the host (docs/loop.md
# "States of a container's loop device"), against real crun and runc
# containers.
#
# The kernel's LOOP_CTL_GET_FREE (a host `losetup -f`, snapd, another
# runtime) returns any unbound loop device.  notifyd hands a container
# devices it keeps as the container's while they are unbound (fresh, after
# LOOP_CLR_FD, after LO_FLAGS_AUTOCLEAR fired); were the host to bind its
# file to one, the container would read and write the host's file through
# the node notifyd gave it or an fd it opened before.
#
# While a host thread keeps running `losetup -f --show` on a file of its own
# (starting with "HOSTBIND") and detaching it again, containers:
#   - hold:   tests/helpers/loop_hostile --hold keeps a fresh device open,
#             then one after LOOP_CLR_FD, then one whose autoclear fired,
#             reopening the node and reading it all the time;
#   - race:   the loop_hostile --race of notifyd_loop_options.sh;
#   - cycles: util-linux losetup -f / losetup -d / mount -o loop / umount,
#             with the fuse action (fuse2fs) and the kernel action, more
#             cycles than max-loop-devices.
# Asserted: no container ever reads the host's file or sees a backing inode
# that is not its image; the cycles do not run out of devices; every device
# notifyd made is deleted when its container is gone; the host's losetup
# really ran meanwhile.
#
#   RUNTIMES="crun runc", HOSTBIND_SECONDS=N (the hold, default 9).
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

HOLD=${HOSTBIND_SECONDS:-9}
CYCLES=12
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] && [ -x /usr/bin/mount ] || mv_bail "util-linux losetup/mount not found"
[ -x "$MV_BUILD/tests/helpers/loop_hostile" ] || mv_bail "loop_hostile not built (make all)"
FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/fusey.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro, noatime
EOF
cat >"$PROFILES/kern.conf" <<EOF
[profile]
default-action = deny
max-loop-devices = 4

[fs ext4]
action = kernel
allowed-options = ro, noatime
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$MV_BUILD/tests/helpers/loop_hostile" "$ROOTFS/bin/loop_hostile"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"
for i in hold race ext4 kext4 print; do
	mv_make_ext4 "$ROOTFS/img/$i.img" 8M || mv_bail "cannot build the ext4 image"
done
chown -R 100000:100000 "${ROOTFS:?}/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img"

# The host's file: what a container must never read.
HOSTFILE=$MV_TMP/hostbind.img
printf 'HOSTBIND host data\n' >"$HOSTFILE"
truncate -s 1M "$HOSTFILE"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# host_binder STOPFILE LOG : losetup -f --show HOSTFILE, losetup -d, until
# STOPFILE exists; one line per try ("ok /dev/loopN" or "fail").
host_binder() {
	local d
	while [ ! -e "$1" ]; do
		if d=$(timeout 2 losetup -f --show "$HOSTFILE" 2>/dev/null); then
			echo "ok $d"
			losetup -d "$d" 2>/dev/null
		else
			echo fail
		fi
		sleep 0.005
	done >"$2"
}

bundle() { # bundle ID PROFILE CMD...
	local id=$1 profile=$2
	shift 2
	mv_oci_bundle --profile "$profile" --loop "$MV_TMP/$id" "$ROOTFS" "$@" || return 1
	mv_bind_host_libs "$MV_TMP/$id"
}

test_hostbind() {
	local hold=hb-$RT-hold race=hb-$RT-race cyc=hb-$RT-cycles kcyc=hb-$RT-kcycles
	local stop=$MV_TMP/stop-$RT blog=$MV_TMP/binder-$RT.log b line id
	# cycles.sh IMAGE: each container its own image (a kernel mount writes to it).
	cat >"$ROOTFS/cycles.sh" <<EOF
L=$LOSETUP
img=\$1
ino=\$(stat -c %i "\$img")
i=0; ok=0; bad=0; foreign=0
while [ \$i -lt $CYCLES ]; do
	i=\$((i + 1))
	d=\$(\$L -f --show "\$img") || { bad=\$((bad + 1)); echo "cycle \$i: losetup -f failed"; continue; }
	b=\$(\$L -l -n -O BACK-INO "\$d" | tr -d ' ')
	[ "\$b" = "\$ino" ] || { foreign=\$((foreign + 1)); echo "cycle \$i: \$d backing inode '\$b'"; }
	\$L -d "\$d" || { bad=\$((bad + 1)); echo "cycle \$i: losetup -d \$d failed"; }
	/usr/bin/mount -o loop "\$img" /mnt/a || { bad=\$((bad + 1)); echo "cycle \$i: mount -o loop failed"; continue; }
	[ "\$(cat /mnt/a/hello.txt)" = "hello from ext4" ] || { bad=\$((bad + 1)); echo "cycle \$i: content"; }
	/usr/bin/umount /mnt/a || { bad=\$((bad + 1)); echo "cycle \$i: umount failed"; }
	for n in /dev/loop[0-9]*; do
		head -c 8 "\$n" 2>/dev/null | grep -q HOSTBIND && { foreign=\$((foreign + 1)); echo "cycle \$i: \$n reads the host's file"; }
	done
	ok=\$((ok + 1))
done
echo "cycles ok=\$ok bad=\$bad foreign=\$foreign"
EOF
	bundle "$hold" fusey /bin/loop_hostile --hold "$HOLD" /img/hold.img || return
	bundle "$race" fusey /bin/loop_hostile --race 300 /img/race.img || return
	bundle "$cyc" fusey sh /cycles.sh /img/ext4.img || return
	bundle "$kcyc" kern sh /cycles.sh /img/kext4.img || return

	rm -f "$stop"
	host_binder "$stop" "$blog" &
	b=$!
	mv_start "$RT" "$MV_TMP/$hold" "$hold" 120
	mv_start "$RT" "$MV_TMP/$race" "$race" 300
	mv_start "$RT" "$MV_TMP/$cyc" "$cyc" 200
	mv_start "$RT" "$MV_TMP/$kcyc" "$kcyc" 200
	for id in "$hold" "$race" "$cyc" "$kcyc"; do mv_wait "$id"; done
	touch "$stop"
	wait "$b"

	t_diag "$RT: host losetup -f: $(grep -c '^ok' "$blog") bound, $(grep -c '^fail' "$blog") failed or timed out"
	t_check "$RT: the host's losetup -f ran meanwhile" [ "$(grep -c '^ok' "$blog")" -gt 0 ]

	line=$(grep '^hold ' "$(mv_out "$hold")")
	t_diag "$RT: $line"
	t_check "$RT: hold: all three phases ran" grep -qE '^hold fresh=[1-9][0-9]* cleared=[1-9][0-9]* autoclear=[0-9]+ ' <<<"$line"
	t_check "$RT: hold: no fd or node of the container ever reached the host's file" \
		grep -q ' foreign=0$' <<<"$line"
	[ -n "$line" ] || t_diag "$(cat "$(mv_out "$hold")")"

	line=$(grep '^race2 ' "$(mv_out "$race")")
	t_diag "$RT: $line; $(grep '^reopen ' "$(mv_out "$race")")"
	t_check "$RT: race: ran" grep -q '^race2 rounds=300 ' <<<"$line"
	t_check "$RT: race: no device of the container was bound to anything but its image" \
		grep -q ' nonregular=0 ' <<<"$line"
	t_check "$RT: race: every answer fits one of the files" grep -q ' unexpected=0$' <<<"$line"

	for id in "$cyc" "$kcyc"; do
		line=$(grep '^cycles ' "$(mv_out "$id")")
		t_diag "$RT: $id: $line"
		t_check "$RT: $id: $CYCLES cycles of losetup -f/-d and mount -o loop/umount, all fine (max-loop-devices 4)" \
			grep -q "^cycles ok=$CYCLES bad=0 " <<<"$line"
		t_check "$RT: $id: never a foreign backing file, never the host's data" \
			grep -q ' foreign=0$' <<<"$line"
		[ "$line" = "cycles ok=$CYCLES bad=0 foreign=0" ] || t_diag "$(grep -v '^@@' "$(mv_out "$id")" | head -n 20)"
	done
	for id in "$hold" "$race" "$cyc" "$kcyc"; do
		mv_wait_log "container $id gone: its" 10 >/dev/null
	done
}

# A container takes a fresh device (`losetup -f`, print only) and keeps it
# unbound: notifyd gives it up after 2 s (docs/loop.md "fresh"), so a host
# `losetup -f` that spun on it gets through, never onto a device the
# container can still open, and the container's late bind fails cleanly.
test_printonly() {
	local id=hb-$RT-print out t0 t1 dev cdev i
	cat >"$ROOTFS/print.sh" <<EOF
d=\$($LOSETUP -f) || { echo "printonly: losetup -f failed"; exit 0; }
echo "printonly got \$d"
sleep 6
if head -c 8 "\$d" 2>/dev/null | grep -q HOSTBIND; then echo "late read HOSTBIND"; else echo "late read none"; fi
if $LOSETUP "\$d" /img/print.img 2>/dev/null; then
	[ "\$($LOSETUP -l -n -O BACK-INO "\$d" | tr -d ' ')" = "\$(stat -c %i /img/print.img)" ] && echo "late bind new" || echo "late bind foreign"
	$LOSETUP -d "\$d"
else echo "late bind failed"; fi
d2=\$($LOSETUP -f --show /img/print.img) && echo "again ok \$d2" && $LOSETUP -d "\$d2"
EOF
	bundle "$id" kern sh /print.sh || return
	out=$(mv_out "$id")
	mv_start "$RT" "$MV_TMP/$id" "$id" 60
	for ((i = 0; i < 100; i++)); do
		grep -q '^printonly ' "$out" 2>/dev/null && break
		sleep 0.1
	done
	cdev=$(sed -n 's/^printonly got //p' "$out")
	t0=$(date +%s%N)
	dev=$(timeout 10 "$LOSETUP" -f --show "$HOSTFILE")
	t1=$(date +%s%N)
	t_diag "$RT: container's fresh device ${cdev:-none}; host losetup -f got ${dev:-nothing} after $(((t1 - t0) / 1000000)) ms"
	t_check "$RT: the container got a device with losetup -f" [ -n "$cdev" ]
	t_check "$RT: host losetup -f succeeded within 4 s while the container kept its fresh device" \
		[ -n "$dev" -a $(((t1 - t0) / 1000000)) -lt 4000 ]
	mv_wait "$id"
	[ -n "$dev" ] && "$LOSETUP" -d "$dev"
	t_diag "$RT: $(grep -E '^(late|again) ' "$out" | tr '\n' ';')"
	t_check "$RT: the container never read the host's file through its expired device" grep -q '^late read none$' "$out"
	# util-linux's losetup DEV FILE re-adds (LOOP_CTL_ADD) a device that is
	# gone, as on the host: notifyd hands out a new device of that number
	# (new node, held first) if nobody else took the number meanwhile.
	t_check "$RT: the container's late bind of the expired number failed or got a new device of its own" \
		grep -qE '^late bind (failed|new)$' "$out"
	grep -qE '^late bind (failed|new)$' "$out" || t_diag "$(grep -E "loop${cdev#/dev/loop}[^0-9]" "$MV_LOG" | tail -n 12)"
	t_check "$RT: its next losetup -f IMG worked" grep -q '^again ok ' "$out"
	mv_wait_log "container $id gone: its" 10 >/dev/null
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: not installed"
		continue
	}
	test_hostbind
	test_printonly
done
# Every device notifyd made is deleted once its container is gone.
handed=$(sed -n 's/.*type=LOOP_CTL_\(GET_FREE\|ADD\) target=\(\/dev\/loop[0-9]*\) .*result=[0-9]*$/\2/p' "$MV_LOG" |
	sort -u | tr '\n' ' ')
for ((i = 0; i < 80; i++)); do
	left=$(for d in $handed; do losetup -l -n -O NAME,BACK-FILE 2>/dev/null | grep -q "^$d .*$ROOTFS" && echo "$d"; done)
	[ -z "$left" ] && break
	sleep 0.1
done
t_check "no image of the containers is still attached on the host" [ -z "$left" ]
t_check "no test image left attached" [ -z "$(losetup -l -n -O BACK-FILE | grep -F "$MV_TMP")" ]
if mv_notifyd_alive; then t_ok "notifyd survived"; else t_fail "notifyd survived"; fi
t_done
