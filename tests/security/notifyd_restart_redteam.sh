#!/bin/bash
# Red team against notifyd's restart survival (docs/restart.md), with real
# crun and runc containers (user namespace 0 -> 100000) served by
# `notifyd --keeper` (MOUNTVISOR_KEEPER_QUICK_DEATH_MS=0).  Restarts are
# SIGUSR2 (upgrade in place) and SIGKILL of the serving notifyd (its pid from
# `notifyctl stats`).  Each check passes when the attack is stopped.
#
# Groups (RESTART_RT_ONLY="g1 g2 ..." picks some; RUNTIMES="crun runc"):
#
#   notifysock  The container binds datagram sockets at the keeper's
#               NOTIFY_SOCKET path (<socket dir>/notifyd-keeper.notify) and
#               at systemd's (/run/systemd/notify) inside its own root, then
#               makes notifyd store fds: fresh and bound loop devices, a FUSE
#               mount (fuse2fs: a daemon's output pipe), a kernel mount, a
#               virtiofs share (vfsd), umounts and losetup -d -- before and
#               after a SIGUSR2 and a SIGKILL restart.  Neither socket may
#               receive a message, and notifyd must never have refused a store
#               message for coming from a thread in another root (an fd kept
#               from the store is an fd the next crash loses).
#
#   oddnames    Mount targets and sources with a newline, quotes and JSON
#               punctuation, a backslash, a tab, bytes that are not UTF-8,
#               and a 3.6 KiB target / 200-byte source (kernel action, tmpfs; the
#               kernel refuses fsconfig() strings past 256 bytes):
#               they end up in c.KEY.json.  Across a SIGKILL and a SIGUSR2
#               restart: a notifyd takes over each time, every state file
#               parses, none is dropped as unreadable, notifyctl mounts shows
#               the same records, and each mount's umount is recognised as
#               notifyd's (decision line "mount made by notifyd").  And
#               notifyctl mounts prints no line that is not a record (it
#               prints sources and targets raw: the newline ones forge
#               lines -- FAILS, not restart-specific, left for the lead:
#               control.c mount_one() wants the \xNN escaping of request.c
#               put_kv()).
#
#   execs       (runc) one `runc exec`, then 30 (each mounts and unmounts), then 10 more that end while no
#               notifyd runs: the store (keeper fds), notifyd's fds and the
#               state directory are back to what they were with the container
#               alone.  And an exec started while no notifyd runs is served
#               after the take-over.
#
#   flood       While no notifyd runs, container A starts 60 mount(2) calls
#               (kernel action, tmpfs, each under a 60 s kill timer) and
#               container B one.  After the take-over every call of A is
#               answered 0, B's within 3 s of the successor's start (one
#               container's backlog never starves another).
#
#   interrupt   A caller whose mount(2) waits while no notifyd runs is
#               stopped and continued, and gets a signal with a handler (its
#               call restarts or fails EINTR; it retries).  Afterwards exactly
#               one mount exists at the target and notifyctl has exactly one
#               record of it (no effect doubled by a replay).
#
#   exitdown    A container with a bound and a fresh loop device, a FUSE
#               mount (fuse2fs), a kernel mount, a virtiofs share (vfsd) and a
#               caller waiting in mount(2) is SIGKILLed while no notifyd runs
#               (keeper stopped, serving notifyd SIGKILLed).  After the
#               take-over nothing of it is left: no loop device, fuse2fs,
#               vfsd, state file, notifyctl entry, or fd in the keeper's
#               store (the names it logged as stored and not removed).
#
#   flip        (restart_flip.c) One thread mounts tmpfs in a loop on a
#               target string a second thread flips between /mnt/x and /mnt/y
#               all the time, while notifyd is SIGKILLed and upgraded 10 times
#               (the in-flight log replays a request its predecessor had in
#               hand, reading the arguments again).  Every call answered 0
#               made exactly one mount, every failed call none, no call
#               fails or hangs, and no record is left.
#
#   hold        loop_hostile --hold (notifyd_loop_hostbind.sh's hold: a fresh
#               device kept open, then one after LOOP_CLR_FD, then one whose
#               autoclear fired, reopened and read all the time) while the
#               host runs losetup -f on a file of its own in a loop and
#               notifyd is SIGKILLed and upgraded 8 times: no fd or node of
#               the container ever reads the host's file.
#
#   startdown   A container is started while no notifyd runs (the runtime
#               waits in the listening socket's backlog, which the store
#               keeps): after the take-over its mount is notifyd's and works.
#
#   oddfuse     A FUSE mount (fuse2fs) and a share (vfsd) whose socket file's
#               name has a newline followed by a whole forged log line,
#               quotes, JSON punctuation and a non-UTF-8 byte (the daemon
#               records of c.KEY.json, the "supervised again" log line):
#               across a SIGKILL and a SIGUSR2 restart both daemons are
#               supervised again, no log line is forged, the FUSE mount
#               serves, and both umounts work and stop their daemons.
#
#   bigstate    Every change of a container entry rewrites its whole
#               c.KEY.json.  A container holding 90 mounts on 3.6 KiB targets
#               (about 350 KiB of state) then mounts and unmounts 200 times:
#               every call succeeds; the time against the same cycles with
#               no mount held is printed, not checked (measured: about 4.5x,
#               ~0.5 -> ~2.3 ms a cycle; ~14x under make asan).
#
#   stall       Container A SIGSTOPs its own FUSE daemon and makes two
#               mount(2) calls whose target lies under that FUSE mount (the
#               path lookup hangs), then the admin upgrades (SIGUSR2, which
#               first lets the workers finish what they have in hand).
#               Container B's mount must still be answered within 5 s and the
#               upgrade be done by then.  (Held because the kernel answers
#               notifyd's lookup in a FUSE mount it does not own with EACCES
#               at once -- no FUSE request, no hang; A's calls fail EACCES.)
#
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
command -v perl >/dev/null || mv_bail "perl not installed (the containers call mount(2) through it)"
PY=/usr/bin/python3
[ -x "$PY" ] || mv_bail "python3 not installed (the planted notify sockets)"
LOSETUP=/usr/sbin/losetup
[ -x "$LOSETUP" ] && [ -x /usr/bin/mount ] || mv_bail "util-linux losetup/mount not found"
[ -x "$MV_BUILD/vfsd" ] || mv_bail "$MV_BUILD/vfsd not built"
[ -f "$MV_SRC/notifyd/keeper.c" ] || mv_bail "this notifyd has no --keeper"
[ -x "$MV_BUILD/tests/helpers/loop_hostile" ] || mv_bail "loop_hostile not built (make all)"
FLIP=$MV_BUILD/tests/helpers/restart_flip
[ -x "$FLIP" ] || mv_bail "$FLIP not built (make all)"

export MOUNTVISOR_KEEPER_QUICK_DEATH_MS=0
ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
STATE=$MV_TMP/state
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-mounts = 100
max-loop-devices = 4
max-fuse-daemons = 4
max-shares = 2

[fs tmpfs]
action = kernel
allowed-options = size

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img" "$ROOTFS/srv/data" \
	"$ROOTFS/run" "$ROOTFS/mnt/f" "$ROOTFS/mnt/k" "$ROOTFS/mnt/o" "$ROOTFS/mnt/i" \
	"$ROOTFS/mnt/fl"
echo "hello from the share" >"$ROOTFS/srv/data/hello.txt"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64" "$ROOTFS/img" "$ROOTFS/mnt"/*
chown -R 100000:100000 "$ROOTFS/srv" "$ROOTFS/run"
mv_make_ext4 "$ROOTFS/img/a.img" 8M || mv_bail "cannot build an ext4 image"
mv_make_ext4 "$ROOTFS/img/b.img" 8M || mv_bail "cannot build an ext4 image"
chown 100000:100000 "$ROOTFS"/img/*.img

serving_pid() { mv_ctl stats 2>/dev/null | awk '$1 == "pid:" {print $2}'; }
restarts_logged() { grep -c 'took over from the notifyd before us' "$MV_LOG" 2>/dev/null || true; }
test_images_attached() { losetup -a | grep -c "$ROOTFS/img/" || true; }

# wait_takeover BEFORE : a notifyd took over since restarts_logged said BEFORE.
wait_takeover() {
	local i
	for ((i = 0; i < 150; i++)); do
		[ "$(restarts_logged)" -gt "$1" ] && [ -n "$(serving_pid)" ] && return 0
		sleep 0.1
	done
	return 1
}

# restart usr2|kill : restart the serving notifyd; 0 once its successor took over.
restart() {
	local before
	before=$(restarts_logged)
	case $1 in
	usr2) kill -USR2 "$(serving_pid)" ;;
	kill) kill -KILL "$(serving_pid)" ;;
	esac
	wait_takeover "$before"
}

# down : the keeper stopped, the serving notifyd SIGKILLed: nobody serves.
# up   : the keeper goes on and starts a successor; 0 once it took over.
DOWN_BEFORE=0
down() {
	DOWN_BEFORE=$(restarts_logged)
	kill -STOP "$NOTIFYD_PID"
	kill -KILL "$(serving_pid)"
}
up() {
	kill -CONT "$NOTIFYD_PID"
	wait_takeover "$DOWN_BEFORE"
}

# What the keeper and the serving notifyd hold: every fd.
all_fds() {
	local pid n=0
	for pid in $NOTIFYD_PID $(serving_pid); do
		n=$((n + $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
	done
	echo "$n"
}

# fd_list : what the keeper and the serving notifyd hold, one "who fd -> target" a line.
fd_list() {
	local pid
	for pid in $NOTIFYD_PID $(serving_pid); do
		find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf "$pid %f %l\n" 2>/dev/null
	done | sort -k1,1n -k2,2n
}

# keeper_names : the names the keeper holds now, sorted (from its log: every
# "stored NAME" not followed by a "removed NAME").
keeper_names() {
	grep -F "notifyd-keeper[$NOTIFYD_PID]" "$MV_LOG" | awk '
		/fd store: stored / { for (i = 1; i <= NF; i++) if ($i == "stored") { held[$(i + 1)] = 1; break } }
		/fd store: removed / { for (i = 1; i <= NF; i++) if ($i == "removed") { delete held[$(i + 1)]; break } }
		END { for (n in held) print n }' | sort
}

# settled_names BEFORE_FILE : keeper_names once it holds nothing that is not
# in BEFORE_FILE (or after 5 s).
settled_names() {
	local i now
	for ((i = 0; i < 50; i++)); do
		now=$(keeper_names | comm -13 "$1" -)
		[ -z "$now" ] && break
		sleep 0.1
	done
	keeper_names
}

# settled_fds BASE : all_fds once it is at most BASE (or after 5 s).
settled_fds() {
	local i n
	for ((i = 0; i < 50; i++)); do
		n=$(all_fds)
		[ "$n" -le "$1" ] && break
		sleep 0.1
	done
	echo "$n"
}

# ---------------------------------------------------------------------------
# notifysock
# ---------------------------------------------------------------------------

# plant_socket DIR NAME LOG : a datagram socket DIR/NAME that logs every
# message (and the fds it carries) to LOG, in the background.
plant_socket() {
	mkdir -p "$1"
	"$PY" - "$1" "$2" "$3" <<'EOF' &
import array, os, socket, sys
d, name, log = sys.argv[1:4]
os.chdir(d)  # sun_path is short; bind relative to the directory
try:
    os.unlink(name)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(name)
os.chmod(name, 0o777)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
open(log, "a").close()
while True:
    msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(253 * 4) + socket.CMSG_SPACE(12))
    with open(log, "a") as out:
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % 4])
                for fd in fds:
                    out.write("fd %s\n" % os.readlink("/proc/self/fd/%d" % fd))
                    os.close(fd)
        out.write("msg %r\n" % msg)
EOF
	PLANTED+=("$!")
}

test_notifysock() {
	local id=rt-$RT-sock kdir sdir i log1=$MV_TMP/planted-keeper.$RT.log log2=$MV_TMP/planted-systemd.$RT.log
	local refused_before
	PLANTED=()
	kdir=$ROOTFS$(dirname "$MV_SOCK")
	sdir=$ROOTFS/run/systemd
	rm -f "$log1" "$log2"
	plant_socket "$kdir" notifyd-keeper.notify "$log1"
	plant_socket "$sdir" notify "$log2"
	# A probe through each path proves the receivers listen and log.
	for ((i = 0; i < 50; i++)); do
		[ -S "$kdir/notifyd-keeper.notify" ] && [ -S "$sdir/notify" ] && break
		sleep 0.1
	done
	"$PY" -c 'import socket, sys
for p in sys.argv[1:]:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"probe", p)' \
		"$kdir/notifyd-keeper.notify" "$sdir/notify" 2>/dev/null
	sleep 0.3
	t_check "$RT/notifysock: the planted sockets receive (probe logged)" \
		grep -q probe "$log1" "$log2"
	t_check "$RT/notifysock: ... both" grep -q probe "$log2"
	sed -i '/probe/d' "$log1" "$log2"
	refused_before=$(grep -c 'fd store: not sending' "$MV_LOG" || true)
	cat >"$ROOTFS/s.sh" <<EOF
L=$LOSETUP
tok=\$1
mvstep fresh \$L -f
mvstep bind-a \$L -f --show /img/a.img
deva=\$(\$L -j /img/a.img -O NAME -n)
mvstep fuse-a /usr/bin/mount -t ext4 "\$deva" /mnt/f
mvstep tmpfs /usr/bin/mount -t tmpfs t /mnt/k
touch /run/fs0.sock
mvstep share /usr/bin/mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
mvsync \$tok.mid
mvstep bind-b \$L -f --show /img/b.img
mvstep umount-fuse /usr/bin/umount /mnt/f
mvstep umount-tmpfs /usr/bin/umount /mnt/k
mvstep umount-share /usr/bin/umount /run/fs0.sock
mvstep detach-a \$L -d "\$deva"
mvsync \$tok.end
EOF
	mv_oci_bundle --loop --sysfs "$MV_TMP/$id" "$ROOTFS" sh /s.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 180
	if ! mv_sync_wait "$ROOTFS" "$id.mid" 60; then
		t_fail "$RT/notifysock: the container set everything up" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	for s in fresh bind-a fuse-a tmpfs share; do
		t_step_ok "$RT/notifysock: $s (before the restarts)" "$id" "$s"
	done
	t_check "$RT/notifysock: SIGUSR2 restart taken over" restart usr2
	t_check "$RT/notifysock: SIGKILL restart taken over" restart kill
	mv_sync_go "$ROOTFS" "$id.mid"
	mv_sync_wait "$ROOTFS" "$id.end" 60
	for s in bind-b umount-fuse umount-tmpfs umount-share detach-a; do
		t_step_ok "$RT/notifysock: $s (after the restarts)" "$id" "$s"
	done
	t_check "$RT/notifysock: one more SIGKILL restart taken over" restart kill
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
	sleep 0.5
	for p in "${PLANTED[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -f "$kdir/notifyd-keeper.notify" "$sdir/notify"
	t_check "$RT/notifysock: the socket at the keeper's NOTIFY_SOCKET path in the container got nothing" \
		[ ! -s "$log1" ]
	[ -s "$log1" ] && t_diag "$(head -n 20 "$log1")"
	t_check "$RT/notifysock: the socket at /run/systemd/notify in the container got nothing" \
		[ ! -s "$log2" ]
	[ -s "$log2" ] && t_diag "$(head -n 20 "$log2")"
	if [ "$(grep -c 'fd store: not sending' "$MV_LOG" || true)" = "$refused_before" ]; then
		t_ok "$RT/notifysock: no fd was kept from the store (nothing sent from a container's root)"
	else
		t_fail "$RT/notifysock: no fd was kept from the store (nothing sent from a container's root)" \
			"$(grep 'fd store: not sending' "$MV_LOG" | tail -n 10)"
	fi
	t_check "$RT/notifysock: after the exit: no loop device with the container's images" \
		[ "$(test_images_attached)" = 0 ]
}

# ---------------------------------------------------------------------------
# oddnames
# ---------------------------------------------------------------------------

test_oddnames() {
	local id=rt-$RT-odd n_before n_after f bad=
	cat >"$ROOTFS/o.pl" <<'EOF'
# mkdir and mount(2) tmpfs on odd targets, with an odd source for some;
# prints "mounted N"; with "umount" as argument umount2()s them instead.
use strict;
my @t = ("/mnt/o/nl\nx", "/mnt/o/q\"},{\"x\":\"y", "/mnt/o/bs\\x\\u0000", "/mnt/o/\xff\xfe\x01z",
         "/mnt/o/tab\tsp ace");
my $long = "/mnt/o";
for my $i (1 .. 17) { $long .= "/d$i" . ("L" x 200); }
push @t, $long;
my @src = ("t", "t\n\"}]\\\xff" . ("S" x 200), "t", "\x01\x02\"", "t", "t");
my $n = 0;
if (($ARGV[0] // "") eq "umount") {
    for my $t (@t) { if (syscall(166, $t, 0) == 0) { $n++ } else { print "umount: $!\n" } }
    print "unmounted $n\n";
    exit 0;
}
for my $t (@t) {
    my $p = "";
    for my $c (split m{/}, substr($t, 1)) { $p .= "/$c"; mkdir $p; }
}
for my $i (0 .. $#t) {
    my ($s, $t, $f, $d) = ($src[$i], $t[$i], "tmpfs", "size=1m");
    if (syscall(165, $s, $t, $f, 0, $d) == 0) { $n++ } else { print "mount $i: $!\n" }
}
print "mounted $n\n";
EOF
	cat >"$ROOTFS/o.sh" <<EOF
tok=\$1
mvstep mount /usr/bin/perl /o.pl
mvsync \$tok.mid
mvstep umount /usr/bin/perl /o.pl umount
mvstep left sh -c 'grep -c " /mnt/o/" /proc/self/mountinfo'
mvsync \$tok.end
EOF
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /o.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.mid" 60; then
		t_fail "$RT/oddnames: the container mounted" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	t_check "$RT/oddnames: the 6 odd mounts were made" \
		grep -q '^mounted 6$' <<<"$(mv_step_out "$id" mount)"
	grep -q '^mounted 6$' <<<"$(mv_step_out "$id" mount)" ||
		t_diag "$(mv_step_out "$id" mount)" "$(mv_decisions "$id" | head -n 8)"
	n_before=$(mv_ctl mounts 2>&1 | grep -cF "$id")
	# A target with a newline must not make notifyctl print a line that is
	# not a record (a forged record of another container, say).
	t_check "$RT/oddnames: notifyctl mounts prints one line per record (no line forged by a target)" \
		sh -c "! '$(mv_prog notifyctl)' --control '$MV_CTL' mounts | grep -av '^ID ' | grep -aqv '^rt-'"
	mv_ctl mounts 2>&1 | grep -av '^ID ' | grep -aqv '^rt-' &&
		t_diag "lines of notifyctl mounts that are no record:" "$(mv_ctl mounts 2>&1 | grep -av '^ID ' | grep -av '^rt-' | cut -c1-120)"
	for mode in kill usr2; do
		t_check "$RT/oddnames: $mode restart taken over" restart "$mode"
		t_check "$RT/oddnames: after the $mode restart the serving notifyd lives" \
			kill -0 "$(serving_pid)"
		bad=
		for f in "$STATE"/c.*.json; do
			[ -e "$f" ] || continue
			jq -e . "$f" >/dev/null 2>&1 || bad+="$f "
		done
		t_check "$RT/oddnames: after the $mode restart every state file parses" [ -z "$bad" ]
		t_check "$RT/oddnames: after the $mode restart no state file was dropped as unreadable" \
			sh -c "! grep -q 'unreadable' '$MV_LOG'"
		n_after=$(mv_ctl mounts 2>&1 | grep -cF "$id")
		t_check "$RT/oddnames: after the $mode restart notifyctl mounts shows the same $n_before records" \
			[ "$n_after" = "$n_before" ] && [ "$n_before" -ge 6 ]
	done
	mv_sync_go "$ROOTFS" "$id.mid"
	mv_sync_wait "$ROOTFS" "$id.end" 60
	t_check "$RT/oddnames: every odd mount's umount works after the restarts" \
		grep -q '^unmounted 6$' <<<"$(mv_step_out "$id" umount)"
	t_check "$RT/oddnames: ... all 6 were recognised as notifyd's" \
		[ "$(mv_decisions "$id" | grep 'syscall=umount2 ' | grep -c 'mount made by notifyd')" -ge 6 ]
	t_check "$RT/oddnames: ... and none is left in the container" \
		[ "$(mv_step_out "$id" left)" = 0 ]
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
}

# ---------------------------------------------------------------------------
# execs
# ---------------------------------------------------------------------------

test_execs() {
	local id=rt-$RT-exec i base_fds base_files fds files pids=()
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh -c "mvsync $id.end" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 180
	for ((i = 0; i < 100; i++)); do
		[ -e "$ROOTFS/tmp/sync/$id.end.ready" ] && break
		sleep 0.1
	done
	sleep 0.5
	# One exec first: notifyd may keep one fd per container (its mount
	# namespace, once a mount record points there); what must not happen is
	# growth with the number of execs.
	mv_rt "$RT" exec "$id" /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("t", "/mnt/i", "tmpfs", ""); syscall(165, $s, $t, $f, 0, $d) == 0 and syscall(166, $t, 0);' \
		>/dev/null 2>&1
	sleep 0.5
	base_fds=$(all_fds)
	fd_list >"$MV_TMP/execs.fds.before"
	base_files=$(find "$STATE" -maxdepth 1 -type f | wc -l)
	for ((i = 0; i < 30; i++)); do
		mv_rt "$RT" exec "$id" /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("t", "/mnt/i", "tmpfs", ""); syscall(165, $s, $t, $f, 0, $d) == 0 and syscall(166, $t, 0);' \
			>/dev/null 2>&1
	done
	fds=$(settled_fds "$base_fds")
	files=$(find "$STATE" -maxdepth 1 -type f | wc -l)
	t_check "$RT/execs: 30 more execs that mounted: keeper and notifyd hold $base_fds fds as before (now $fds)" \
		[ "$fds" -le "$base_fds" ]
	[ "$fds" -le "$base_fds" ] || t_diag "$(fd_list | diff "$MV_TMP/execs.fds.before" -)" \
		"$(grep -E 'fd store|exec' "$MV_LOG" | tail -n 12)"
	t_check "$RT/execs: ... and the state directory has $base_files files as before (now $files)" \
		[ "$files" -le "$base_files" ]
	for ((i = 0; i < 10; i++)); do
		mv_rt "$RT" exec "$id" sh -c 'sleep 1' >/dev/null 2>&1 &
		pids+=("$!")
	done
	sleep 0.5
	down
	for p in "${pids[@]}"; do wait "$p"; done
	t_check "$RT/execs: 10 execs ended while no notifyd ran; a notifyd took over" up
	sleep 1.5
	fds=$(settled_fds "$base_fds")
	files=$(find "$STATE" -maxdepth 1 -type f | wc -l)
	t_check "$RT/execs: ... keeper and notifyd hold $base_fds fds as before (now $fds)" \
		[ "$fds" -le "$base_fds" ]
	t_check "$RT/execs: ... the state directory has $base_files files as before (now $files)" \
		[ "$files" -le "$base_files" ]
	t_check "$RT/execs: ... notifyctl list has the container's one entry" \
		[ "$(mv_ctl list 2>&1 | grep -c "^$id ")" = 1 ]
	# An exec started while no notifyd runs: runc waits in the kept
	# listener's backlog; its mount is served after the take-over.
	down
	mv_rt "$RT" exec "$id" /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("t", "/mnt/i", "tmpfs", ""); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"; syscall(166, $t, 0) == 0 or die "umount: $!\n"; print "exec-ok\n"' \
		>"$MV_TMP/$id.downexec" 2>&1 &
	i=$!
	sleep 1.5
	t_check "$RT/execs: an exec started while no notifyd ran; a notifyd took over" up
	wait "$i"
	t_check "$RT/execs: ... its mount and umount work" grep -q exec-ok "$MV_TMP/$id.downexec"
	grep -q exec-ok "$MV_TMP/$id.downexec" || t_diag "$(cat "$MV_TMP/$id.downexec")"
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
}

# ---------------------------------------------------------------------------
# flood
# ---------------------------------------------------------------------------

test_flood() {
	local a=rt-$RT-flA b=rt-$RT-flB t0 t1 i ms
	cat >"$ROOTFS/fa.sh" <<'EOF'
tok=$1
for i in $(seq 1 60); do mkdir -p /mnt/fl/$i; done
mvsync $tok.go
for i in $(seq 1 60); do
	( if timeout -s KILL 60 /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("t", "$ARGV[0]", "tmpfs", "size=1m"); syscall(165, $s, $t, $f, 0, $d) == 0 or die "$!\n"' /mnt/fl/$i 2>/tmp/fl.$i.err; then echo ok >/tmp/fl.$i; else echo "fail $(cat /tmp/fl.$i.err)" >/tmp/fl.$i; fi ) &
done
wait
mvstep results sh -c 'cat /tmp/fl.* | grep -v "^$" | sort | uniq -c'
mvsync $tok.end
EOF
	cat >"$ROOTFS/fb.sh" <<'EOF'
tok=$1
mvsync $tok.go
mvstep mount timeout -s KILL 60 /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("t", "/mnt/k", "tmpfs", "size=1m"); syscall(165, $s, $t, $f, 0, $d) == 0 or die "$!\n"'
touch /tmp/sync/$tok.done
mvsync $tok.end
EOF
	rm -f "$ROOTFS"/tmp/fl.* "$ROOTFS/tmp/sync/$b.done"
	mv_oci_bundle "$MV_TMP/$a" "$ROOTFS" sh /fa.sh "$a" || return
	mv_bind_host_libs "$MV_TMP/$a"
	mv_oci_bundle "$MV_TMP/$b" "$ROOTFS" sh /fb.sh "$b" || return
	mv_bind_host_libs "$MV_TMP/$b"
	mv_start "$RT" "$MV_TMP/$a" "$a" 180
	mv_start "$RT" "$MV_TMP/$b" "$b" 180
	if ! mv_sync_wait "$ROOTFS" "$a.go" 60 || ! mv_sync_wait "$ROOTFS" "$b.go" 60; then
		t_fail "$RT/flood: both containers up" "$(cat "$(mv_out "$a")" "$(mv_out "$b")")"
		mv_delete_all
		return
	fi
	down
	mv_sync_go "$ROOTFS" "$a.go"
	sleep 1.5 # A's 60 calls wait in the kernel
	mv_sync_go "$ROOTFS" "$b.go"
	sleep 0.5
	t0=$(date +%s%N)
	kill -CONT "$NOTIFYD_PID"
	for ((i = 0; i < 300; i++)); do
		[ -e "$ROOTFS/tmp/sync/$b.done" ] && break
		sleep 0.02
	done
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	t_check "$RT/flood: a notifyd took over" wait_takeover "$DOWN_BEFORE"
	t_step_ok "$RT/flood: B's mount made while no notifyd ran is answered 0" "$b" mount
	t_check "$RT/flood: ... within 3 s of the keeper going on, with A's 60 waiting (${ms} ms)" \
		[ "$ms" -le 3000 ]
	mv_sync_wait "$ROOTFS" "$a.end" 90
	t_check "$RT/flood: all 60 of A's calls are answered 0" \
		[ "$(mv_step_out "$a" results | awk '{$1=$1; print}')" = "60 ok" ]
	[ "$(mv_step_out "$a" results | awk '{$1=$1; print}')" = "60 ok" ] ||
		t_diag "$(mv_step_out "$a" results)"
	mv_sync_go "$ROOTFS" "$a.end"
	mv_sync_go "$ROOTFS" "$b.end"
	mv_wait "$a"
	mv_wait "$b"
	mv_delete "$RT" "$a"
	mv_delete "$RT" "$b"
}

# ---------------------------------------------------------------------------
# interrupt
# ---------------------------------------------------------------------------

test_interrupt() {
	local id=rt-$RT-int pid i
	cat >"$ROOTFS/i.sh" <<'EOF'
tok=$1
mvsync $tok.go
mvstep mount timeout -s KILL 60 /usr/bin/perl -e '
	$SIG{USR1} = sub { $main::sig++ };
	open(my $f, ">", "/tmp/int.pid"); print $f "$$\n"; close $f;
	my $eintr = 0;
	my ($s, $t, $f, $d) = ("t", "/mnt/i", "tmpfs", "size=1m");
	while (syscall(165, $s, $t, $f, 0, $d) != 0) {
		die "mount: $!\n" unless $!{EINTR};
		$eintr++;
	}
	print "mounted (EINTR $eintr, signals $main::sig)\n";'
mvstep count sh -c 'grep -c " /mnt/i " /proc/self/mountinfo'
mvsync $tok.end
EOF
	rm -f "$ROOTFS/tmp/int.pid"
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh /i.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.go" 60; then
		t_fail "$RT/interrupt: the container is up" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	down
	mv_sync_go "$ROOTFS" "$id.go"
	for ((i = 0; i < 100; i++)); do
		[ -s "$ROOTFS/tmp/int.pid" ] && break
		sleep 0.05
	done
	sleep 0.3
	# The caller's host pid: the perl in the container's pid namespace
	# with the pid it wrote.
	local cpid nsp ns
	cpid=$(cat "$ROOTFS/tmp/int.pid" 2>/dev/null)
	ns=$(readlink "/proc/$(mv_container_pid "$RT" "$id")/ns/pid")
	pid=$(pgrep -x perl | while read -r p; do
		nsp=$(awk '$1 == "NSpid:" {print $NF}' "/proc/$p/status" 2>/dev/null)
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] && [ "$nsp" = "$cpid" ] && echo "$p"
	done | head -n1)
	if [ -n "$pid" ]; then
		kill -STOP "$pid"
		sleep 0.1
		kill -CONT "$pid"
		kill -USR1 "$pid"
		sleep 0.1
		kill -USR1 "$pid"
	fi
	t_check "$RT/interrupt: found the waiting caller" [ -n "$pid" ]
	t_check "$RT/interrupt: a notifyd took over" up
	# And once more while the successor may be handling it.
	[ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null
	mv_sync_wait "$ROOTFS" "$id.end" 60
	t_step_ok "$RT/interrupt: the interrupted caller's mount succeeds" "$id" mount
	t_diag "$(mv_step_out "$id" mount)"
	t_check "$RT/interrupt: exactly one mount at the target" [ "$(mv_step_out "$id" count)" = 1 ]
	t_check "$RT/interrupt: notifyctl has exactly one record of it" \
		[ "$(mv_ctl mounts 2>&1 | grep -F "$id" | grep -c ' /mnt/i')" = 1 ]
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
}

# ---------------------------------------------------------------------------
# exitdown
# ---------------------------------------------------------------------------

test_exitdown() {
	local id=rt-$RT-exd fuse_pid vpid i rc devs d left
	keeper_names >"$MV_TMP/exitdown.names.before"
	cat >"$ROOTFS/e.sh" <<EOF
L=$LOSETUP
tok=\$1
mvstep bind-a \$L -f --show /img/a.img
deva=\$(\$L -j /img/a.img -O NAME -n)
mvstep fuse-a /usr/bin/mount -t ext4 "\$deva" /mnt/f
mvstep fresh \$L -f
mvstep tmpfs /usr/bin/mount -t tmpfs t /mnt/k
touch /run/fs0.sock
mvstep share /usr/bin/mount -t vhost-user-fs /srv/data /run/fs0.sock
mvsync \$tok.mid
# notifyd is down now: a caller waits in the kernel when the container is killed.
/usr/bin/mount -t tmpfs t /mnt/i
EOF
	mv_oci_bundle --loop --sysfs "$MV_TMP/$id" "$ROOTFS" sh /e.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.mid" 60; then
		t_fail "$RT/exitdown: the container set everything up" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	for s in bind-a fuse-a fresh tmpfs share; do
		t_step_ok "$RT/exitdown: $s" "$id" "$s"
	done
	devs="$(mv_step_out "$id" bind-a) $(mv_step_out "$id" fresh)"
	fuse_pid=$(mv_decisions "$id" | grep "target=/mnt/f " |
		sed -n 's/.* program=fuse2fs pid=\([0-9]*\).*/\1/p' | tail -n1)
	vpid=$(mv_share_pids "$id" | tail -n1)
	down
	mv_sync_go "$ROOTFS" "$id.mid"
	sleep 0.5
	mv_rt "$RT" kill "$id" KILL >/dev/null 2>&1
	# Its processes are gone now, but its pid namespace ends only once the
	# FUSE daemon, re-parented to the stopped keeper, is reaped: so the
	# keeper goes on before the runtime can see the container's end.
	sleep 1
	t_check "$RT/exitdown: the container was killed while no notifyd ran; a notifyd took over" up
	mv_wait "$id"
	mv_delete "$RT" "$id"
	rc=1
	for ((i = 0; i < 100; i++)); do
		if [ "$(test_images_attached)" = 0 ] && ! kill -0 "$fuse_pid" 2>/dev/null &&
			! kill -0 "$vpid" 2>/dev/null && ! ls "$STATE"/c.*.json >/dev/null 2>&1 &&
			[ ! -e "$STATE/loop.json" ]; then
			rc=0
			break
		fi
		sleep 0.1
	done
	t_check "$RT/exitdown: no loop device with the container's images is left" \
		[ "$(test_images_attached)" = 0 ]
	for d in $devs; do
		t_check "$RT/exitdown: $d is unbound or deleted" \
			sh -c "! [ -e /sys/block/${d#/dev/} ] || ! grep -q . /sys/block/${d#/dev/}/loop/backing_file 2>/dev/null"
	done
	t_check "$RT/exitdown: its fuse2fs (pid ${fuse_pid:-?}) is gone" \
		sh -c "[ -n '$fuse_pid' ] && ! kill -0 '$fuse_pid' 2>/dev/null"
	t_check "$RT/exitdown: its vfsd (pid ${vpid:-?}) is gone" \
		sh -c "[ -n '$vpid' ] && ! kill -0 '$vpid' 2>/dev/null"
	t_check "$RT/exitdown: no state file of it is left" \
		sh -c "! ls '$STATE'/c.*.json '$STATE/loop.json' 2>/dev/null"
	t_check "$RT/exitdown: notifyctl lists no entry of it" \
		sh -c "! '$(mv_prog notifyctl)' --control '$MV_CTL' list | grep -q '^$id '"
	# (loop-nodes, the node tmpfs, is kept always once a loop device was made.)
	left=$(settled_names "$MV_TMP/exitdown.names.before" | comm -13 "$MV_TMP/exitdown.names.before" - |
		grep -vx loop-nodes)
	t_check "$RT/exitdown: the keeper holds no fd of it (left: ${left//$'\n'/ })" [ -z "$left" ]
	[ "$rc" = 0 ] || t_diag "$(tail -n 30 "$MV_LOG")"
}

# ---------------------------------------------------------------------------
# flip
# ---------------------------------------------------------------------------

test_flip() {
	local id=rt-$RT-flip i n_kill=0 n_usr2=0 out summary
	cp "$FLIP" "$ROOTFS/bin/restart_flip"
	mkdir -p "$ROOTFS/mnt/x" "$ROOTFS/mnt/y"
	chown 100000:100000 "$ROOTFS/mnt/x" "$ROOTFS/mnt/y"
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh -c "mvsync $id.go; mvstep flip /bin/restart_flip 12" ||
		return
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.go" 60; then
		t_fail "$RT/flip: the container is up" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	mv_sync_go "$ROOTFS" "$id.go"
	sleep 1
	# 10 restarts while the container mounts: SIGKILL and SIGUSR2 in turn.
	for ((i = 0; i < 10; i++)); do
		if ((i % 2 == 0)); then
			restart kill && n_kill=$((n_kill + 1))
		else
			restart usr2 && n_usr2=$((n_usr2 + 1))
		fi
		sleep 0.$((RANDOM % 5 + 3))
	done
	t_check "$RT/flip: 10 restarts while the target flips ($n_kill SIGKILL, $n_usr2 SIGUSR2 taken over)" \
		[ $((n_kill + n_usr2)) = 10 ]
	mv_wait "$id"
	mv_delete "$RT" "$id"
	t_step_ok "$RT/flip: the caller finished (no call hung)" "$id" flip
	out=$(mv_step_out "$id" flip)
	summary=$(grep '^calls ' <<<"$out")
	t_diag "$summary" "$(grep '^errno ' <<<"$out")" \
		"$(grep -c 'recovered: ' "$MV_LOG") recovered: lines in notifyd's log so far"
	t_check "$RT/flip: every call's answer matches what it did (no doubled or missing mount)" \
		grep -q ' inconsistent 0$' <<<"$summary"
	grep -q ' inconsistent 0$' <<<"$summary" || t_diag "$(grep '^call ' <<<"$out" | head -n 10)"
	t_check "$RT/flip: no call failed" grep -q ' failed 0 ' <<<"$summary"
	t_check "$RT/flip: notifyctl has no record of the container left" \
		sh -c "! '$(mv_prog notifyctl)' --control '$MV_CTL' mounts | grep -qF '$id'"
}

# ---------------------------------------------------------------------------
# hold
# ---------------------------------------------------------------------------

test_hold() {
	local id=rt-$RT-hold stop=$MV_TMP/hold-stop blog=$MV_TMP/hold-binder.log b i n=0 line
	cp "$MV_BUILD/tests/helpers/loop_hostile" "$ROOTFS/bin/loop_hostile"
	[ -e "$ROOTFS/img/hold.img" ] || {
		mv_make_ext4 "$ROOTFS/img/hold.img" 8M && chown 100000:100000 "$ROOTFS/img/hold.img"
	}
	printf 'HOSTBIND host data\n' >"$MV_TMP/hostbind.img"
	truncate -s 1M "$MV_TMP/hostbind.img"
	mv_oci_bundle --loop "$MV_TMP/$id" "$ROOTFS" /bin/loop_hostile --hold 9 /img/hold.img || return
	mv_bind_host_libs "$MV_TMP/$id"
	rm -f "$stop" "$blog"
	(
		while [ ! -e "$stop" ]; do
			d=$(timeout 5 "$LOSETUP" -f --show "$MV_TMP/hostbind.img" 2>/dev/null) || continue
			echo "$d" >>"$blog"
			"$LOSETUP" -d "$d"
		done
	) &
	b=$!
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	sleep 1
	# SIGKILL and SIGUSR2 in turn through the three phases of the hold.
	for ((i = 0; i < 8; i++)); do
		if ((i % 2 == 0)); then restart kill && n=$((n + 1)); else restart usr2 && n=$((n + 1)); fi
		sleep 0.$((RANDOM % 6 + 4))
	done
	mv_wait "$id"
	mv_delete "$RT" "$id"
	touch "$stop"
	wait "$b"
	t_check "$RT/hold: 8 restarts taken over during the hold ($n)" [ "$n" = 8 ]
	line=$(grep '^hold ' "$(mv_out "$id")")
	t_diag "$line" "host losetup -f ran $(wc -l <"$blog" 2>/dev/null || echo 0) times"
	t_check "$RT/hold: all three phases ran" \
		grep -qE '^hold fresh=[1-9][0-9]* cleared=[1-9][0-9]* autoclear=[0-9]+ ' <<<"$line"
	t_check "$RT/hold: no fd or node of the container ever reached the host's file" \
		grep -qE ' foreign=0$' <<<"$line"
	[ -n "$line" ] || t_diag "$(cat "$(mv_out "$id")")"
	t_check "$RT/hold: the host's losetup -f really ran meanwhile" [ -s "$blog" ]
	for ((i = 0; i < 50; i++)); do
		[ "$(test_images_attached)" = 0 ] && break
		sleep 0.1
	done
	t_check "$RT/hold: after the exit no loop device with the container's images" \
		[ "$(test_images_attached)" = 0 ]
}

# ---------------------------------------------------------------------------
# startdown
# ---------------------------------------------------------------------------

test_startdown() {
	local id=rt-$RT-std
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" sh -c "mvstep mount /usr/bin/mount -t tmpfs t /mnt/k; mvstep umount /usr/bin/umount /mnt/k" ||
		return
	mv_bind_host_libs "$MV_TMP/$id"
	down
	mv_start "$RT" "$MV_TMP/$id" "$id" 60
	sleep 1.5 # the runtime waits in the listening socket's backlog
	t_check "$RT/startdown: a container started while no notifyd ran; a notifyd took over" up
	mv_wait "$id"
	mv_delete "$RT" "$id"
	t_step_ok "$RT/startdown: its mount is notifyd's and works" "$id" mount
	t_decision "$RT/startdown: ... (decision line)" "$id" "syscall=mount " "target=/mnt/k " "result=ok"
	t_step_ok "$RT/startdown: its umount works" "$id" umount
}

# ---------------------------------------------------------------------------
# oddfuse
# ---------------------------------------------------------------------------

test_oddfuse() {
	local id=rt-$RT-oddf fpid vpid m
	cat >"$ROOTFS/of.pl" <<'EOF'
# A FUSE mount (ext4 -> fuse2fs) and a share (vhost-user-fs -> vfsd); the
# share's socket file has a newline, a whole forged log line, quotes, JSON
# punctuation and a non-UTF-8 byte in its name.  (fuse2fs itself refuses
# such a mountpoint: libfuse2's fusermount fallback fails, EINVAL.)
use strict;
my ($dev, $op) = @ARGV;
my $ft = "/mnt/o/plain";
my $st = "/run/s\n00:00:00.000 notifyd[1] info: decision id=forged-by-container result=ok \"]}\\\xfe.sock";
if ($op eq "mount") {
    mkdir "/mnt/o"; mkdir $ft;
    open(my $f, ">", $st) or die "$st: $!\n"; close $f;
    my ($s, $t, $ty, $d) = ($dev, $ft, "ext4", "");
    syscall(165, $s, $t, $ty, 0, $d) == 0 or die "fuse mount: $!\n";
    my ($s2, $t2, $ty2, $d2) = ("/srv/data", $st, "vhost-user-fs", "");
    syscall(165, $s2, $t2, $ty2, 0, $d2) == 0 or die "share mount: $!\n";
    print "mounted\n";
} elsif ($op eq "read") {
    open(my $f, "<", "$ft/hello.txt") or die "read: $!\n"; print <$f>;
} else {
    syscall(166, $ft, 0) == 0 or die "fuse umount: $!\n";
    syscall(166, $st, 0) == 0 or die "share umount: $!\n";
    print "unmounted\n";
}
EOF
	cat >"$ROOTFS/of.sh" <<EOF
tok=\$1
dev=\$($LOSETUP -f --show /img/b.img)
mvstep mount /usr/bin/perl /of.pl "\$dev" mount
mvsync \$tok.mid
mvstep read /usr/bin/perl /of.pl "\$dev" read
mvstep umount /usr/bin/perl /of.pl "\$dev" umount
$LOSETUP -d "\$dev"
mvsync \$tok.end
EOF
	mv_oci_bundle --loop "$MV_TMP/$id" "$ROOTFS" sh /of.sh "$id" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.mid" 60; then
		t_fail "$RT/oddfuse: the container mounted" "$(cat "$(mv_out "$id")")"
		mv_delete_all
		return
	fi
	t_step_ok "$RT/oddfuse: FUSE mount and share on odd targets" "$id" mount
	fpid=$(mv_decisions "$id" | grep 'action=fuse' | sed -n 's/.* program=fuse2fs pid=\([0-9]*\).*/\1/p' | tail -n1)
	vpid=$(mv_share_pids "$id" | tail -n1)
	for m in kill usr2; do
		t_check "$RT/oddfuse: $m restart taken over" restart "$m"
		t_check "$RT/oddfuse: ... no state file dropped as unreadable" \
			sh -c "! grep -q 'unreadable' '$MV_LOG'"
	done
	t_check "$RT/oddfuse: the FUSE daemon (pid ${fpid:-?}) is supervised again" \
		grep -qE "FUSE daemon .*pid=$fpid .*supervised again" "$MV_LOG"
	t_check "$RT/oddfuse: the share's vfsd (pid ${vpid:-?}) is supervised again" \
		grep -qE "share daemon .*pid=$vpid .*supervised again" "$MV_LOG"
	t_check "$RT/oddfuse: no log line forged by the share's socket name" \
		[ "$(grep -a -c '^00:00:00.000 notifyd\[1\]' "$MV_LOG")" = 0 ]
	t_check "$RT/oddfuse: the log holds nothing but printable ASCII, tabs and newlines" \
		sh -c "! LC_ALL=C grep -q '[^[:print:][:space:]]' '$MV_LOG'"
	mv_sync_go "$ROOTFS" "$id.mid"
	mv_sync_wait "$ROOTFS" "$id.end" 60
	t_check "$RT/oddfuse: the old FUSE mount still serves" \
		[ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_step_ok "$RT/oddfuse: both umounts work" "$id" umount
	for ((i = 0; i < 50; i++)); do
		kill -0 "$vpid" 2>/dev/null || kill -0 "$fpid" 2>/dev/null || break
		sleep 0.1
	done
	t_check "$RT/oddfuse: ... and stop fuse2fs and vfsd" \
		sh -c "[ -n '$fpid' ] && [ -n '$vpid' ] && ! kill -0 '$fpid' 2>/dev/null && ! kill -0 '$vpid' 2>/dev/null"
	mv_sync_go "$ROOTFS" "$id.end"
	mv_wait "$id"
	mv_delete "$RT" "$id"
}

# ---------------------------------------------------------------------------
# bigstate
# ---------------------------------------------------------------------------

# bigstate_run ID HELD : a container holding HELD tmpfs mounts on 3.6 KiB
# targets times 200 mount+umount cycles of a short target; prints ms.
bigstate_run() {
	local id=$1 held=$2 out
	cat >"$ROOTFS/bs.pl" <<'EOF'
use strict;
use Time::HiRes qw(time);
my $held = $ARGV[0];
my $base = "/mnt/o/big";
for my $i (1 .. 17) { $base .= "/d$i" . ("L" x 200); }
for my $n (1 .. $held) {
    my $p = "";
    for my $c (split m{/}, substr("$base/$n", 1)) { $p .= "/$c"; mkdir $p; }
    my ($s, $t, $f, $d) = ("t" . ("S" x 200), "$base/$n", "tmpfs", "size=1m");
    syscall(165, $s, $t, $f, 0, $d) == 0 or die "held $n: $!\n";
}
my ($s, $t, $f, $d) = ("t", "/mnt/i", "tmpfs", "size=1m");
my $t0 = time;
for (1 .. 200) {
    syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n";
    syscall(166, $t, 0) == 0 or die "umount: $!\n";
}
printf "ms %d\n", (time - $t0) * 1000;
EOF
	mv_oci_bundle "$MV_TMP/$id" "$ROOTFS" /usr/bin/perl /bs.pl "$held" || return
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 120
	out=$(cat "$(mv_out "$id")")
	sed -n 's/^ms //p' <<<"$out"
	grep -q '^ms ' <<<"$out" || echo "# $out" >&2
}

test_bigstate() {
	local small big size
	small=$(bigstate_run "rt-$RT-bs0" 0)
	big=$(bigstate_run "rt-$RT-bs90" 90)
	t_diag "200 mount+umount cycles: ${small:-?} ms with no mount held, ${big:-?} ms with 90 held on 3.6 KiB targets"
	# Timing is reported, never a failure (a sanitizer build is ~3x slower on the big side).
	t_check "$RT/bigstate: 200 mount+umount cycles succeed with and without 90 long mounts held" \
		[ -n "$small" ] && [ -n "$big" ]
}

# ---------------------------------------------------------------------------
# stall
# ---------------------------------------------------------------------------

test_stall() {
	local a=rt-$RT-stA b=rt-$RT-stB t0 t1 ms before i ok=false
	cat >"$ROOTFS/stall.pl" <<'EOF'
my ($s, $t, $f, $d) = ("t", "$ARGV[0]", "tmpfs", "");
syscall(165, $s, $t, $f, 0, $d) == 0 or die "$!\n";
EOF
	cat >"$ROOTFS/sa.sh" <<EOF
tok=\$1
dev=\$($LOSETUP -f --show /img/b.img)
mvstep fuse /usr/bin/mount -t ext4 "\$dev" /mnt/f
# mount(2) itself (mount(8) would stat the target first and hang there), on
# targets never looked up before: notifyd's lookup goes to the stopped daemon
mvstep stop sh -c 'kill -STOP \$(pidof fuse2fs) && echo stopped'
/usr/bin/perl /stall.pl /mnt/f/uncached1 >/tmp/stall.1 2>&1 &
/usr/bin/perl /stall.pl /mnt/f/uncached2 >/tmp/stall.2 2>&1 &
mvsync \$tok.mid
kill -CONT \$(pidof fuse2fs)
wait

/usr/bin/umount /mnt/f
$LOSETUP -d "\$dev"
EOF
	cat >"$ROOTFS/sb.sh" <<'EOF'
tok=$1
mvsync $tok.go
mvstep mount timeout -s KILL 60 /usr/bin/mount -t tmpfs t /mnt/k
touch /tmp/sync/$tok.done
mvstep umount /usr/bin/umount /mnt/k
EOF
	rm -f "$ROOTFS/tmp/sync/$b.done"
	mv_oci_bundle --loop "$MV_TMP/$a" "$ROOTFS" sh /sa.sh "$a" || return
	mv_bind_host_libs "$MV_TMP/$a"
	mv_oci_bundle "$MV_TMP/$b" "$ROOTFS" sh /sb.sh "$b" || return
	mv_bind_host_libs "$MV_TMP/$b"
	mv_start "$RT" "$MV_TMP/$a" "$a" 120
	mv_start "$RT" "$MV_TMP/$b" "$b" 120
	if ! mv_sync_wait "$ROOTFS" "$a.mid" 60 || ! mv_sync_wait "$ROOTFS" "$b.go" 60; then
		t_fail "$RT/stall: both containers up" "$(cat "$(mv_out "$a")" "$(mv_out "$b")")"
		mv_delete_all
		return
	fi
	t_step_ok "$RT/stall: A's FUSE mount" "$a" fuse
	t_step_ok "$RT/stall: A stopped its own FUSE daemon" "$a" stop
	sleep 1 # A's two mounts under the stopped FUSE mount are in notifyd's hands
	before=$(restarts_logged)
	kill -USR2 "$(serving_pid)"
	sleep 0.5
	t0=$(date +%s%N)
	mv_sync_go "$ROOTFS" "$b.go"
	for ((i = 0; i < 250; i++)); do
		[ -e "$ROOTFS/tmp/sync/$b.done" ] && { ok=true && break; }
		sleep 0.02
	done
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	t_check "$RT/stall: an upgrade while A's requests hang on A's stopped FUSE daemon: B's mount is answered within 5 s (${ms} ms)" $ok
	t_check "$RT/stall: ... and the upgrade is done by then" [ "$(restarts_logged)" -gt "$before" ]
	mv_sync_go "$ROOTFS" "$a.mid"
	mv_wait "$a"
	mv_wait "$b"
	mv_delete "$RT" "$a"
	mv_delete "$RT" "$b"
	wait_takeover "$before" || t_diag "no take-over even after A's daemon went on"
	t_diag "A's calls under its stopped FUSE daemon:" "$(cat "$ROOTFS/tmp/stall.1" "$ROOTFS/tmp/stall.2" 2>&1)" \
		"$(mv_decisions "$a" | grep uncached | cut -c1-250)"
}

mv_start_notifyd "$PROFILES" --state-dir "$STATE" --keeper || mv_bail "notifyd --keeper did not start"
GROUPS_RUN=${RESTART_RT_ONLY:-notifysock oddnames execs flood interrupt exitdown flip hold startdown oddfuse bigstate stall}
for RT in ${RUNTIMES:-crun runc}; do
	for g in $GROUPS_RUN; do
		if [ "$g" = execs ] && [ "$RT" = crun ]; then
			t_skip "$RT/execs" "crun 1.8.1's exec hands notifyd no notify fd"
			continue
		fi
		"test_$g"
		t_check "$RT/$g: the keeper and a serving notifyd live afterwards" \
			sh -c "kill -0 $NOTIFYD_PID && [ -n \"\$('$(mv_prog notifyctl)' --control '$MV_CTL' stats 2>/dev/null | awk '\$1 == \"pid:\" {print \$2}')\" ]"
	done
done
t_done
