#!/bin/bash
# notifyd under a real systemd 252 through the shipped units (systemd/).
#
# This host has no systemd as pid 1, so the test boots Debian's systemd 252
# in a container: systemd-nspawn --boot over a root built in $MV_TMP (a few
# files in /etc, the host's /usr read-only, `make install DESTDIR=...`'s
# /usr/local read-only), in a cgroup of its own on the plain cgroup2 lib.sh
# mounts.  docs/systemd.md ("Testing under a real systemd") has the details.
#
#   1. The harness with a stand-in (tests/helpers/sd_standin.py, run by the
#      shipped notifyd.service through a drop-in that replaces ExecStart=):
#      socket activation through notifyd.socket, Type=notify reaching
#      active, the fd store (one memfd) kept across `systemctl reload`
#      (re-exec in place, same MainPID), across a SIGKILL (Restart=always,
#      NRestarts grows) and across `systemctl restart`; flushed by stop.
#   2. The real notifyd through the shipped units, unchanged: activation
#      through the control socket (notifyctl stats), reload keeps MainPID and
#      pid:, watchdog pings, the LXC socket.  A container (mv_launch, run as
#      a transient service of the booted systemd) handed over through
#      notifyd.socket: its notify fd in the store; tmpfs (kernel action) and
#      ext4 through fuse2fs (fuse action) mounted for it under the unit's
#      hardening; no death of notifyd but the ones caused here; SIGKILL gives
#      a new MainPID, NRestarts and restarts: grow, the container is taken
#      over, its next trapped call answered as before (time from the kill to
#      the successor's READY=1 printed), a mount made before the kill known
#      to the successor; the container kept through `systemctl restart` (a
#      skip, with the reason, until notifyd's SIGTERM keeps its state).
#      Skipped as a whole while notifyd is not linked with libsystemd.
#   2b. crun and runc, each run by the booted systemd, hand their
#      containers over through listenerPath; a tmpfs mounted through notifyd
#      before a SIGKILL of notifyd, a new mount and both umounts after it.
#   3. vfsd@.service: an instance from /etc/mountvisor/vfsd/NAME.conf
#      listens on /run/vfsd/NAME.sock and stops cleanly.
#   4. Teardown: poweroff; nothing of the container is left (processes,
#      cgroups, mounts).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/nspawn_common.sh
. "$(dirname "$0")/nspawn_common.sh"

if ! command -v systemd-nspawn >/dev/null || [ ! -x /lib/systemd/systemd ]; then
	t_skip "notifyd under systemd" "systemd and systemd-container are not installed"
	exit 0
fi
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
	t_skip "notifyd under systemd" "no cgroup2 on /sys/fs/cgroup for systemd-nspawn"
	exit 0
fi

ROOT=$MV_TMP/sysroot
STAGE=$MV_TMP/stage
MACHINE=mvsd$$
CG=/sys/fs/cgroup/mv-systemd-$$
NSPAWN_PID=
LEADER=

# ---------------------------------------------------------------------------
# make install into a staging directory; the units come from there
# ---------------------------------------------------------------------------

if ! out=$(make -s -C "$MV_SRC" BUILD="$MV_BUILD" NO_BUILD=1 install DESTDIR="$STAGE" PREFIX=/usr/local 2>&1); then
	mv_bail "make install DESTDIR=$STAGE failed: $out"
fi
UNITDIR=$STAGE/usr/local/lib/systemd/system
missing=
for u in notifyd.service notifyd.socket notifyd-lxc.socket notifyd-control.socket vfsd@.service; do
	[ -f "$UNITDIR/$u" ] || missing="$missing $u"
done
if [ -z "$missing" ] && grep -q '^ExecStart=/usr/local/bin/notifyd ' "$UNITDIR/notifyd.service"; then
	t_ok "make install puts the units into \$(PREFIX)/lib/systemd/system with the program paths"
else
	t_fail "make install puts the units into \$(PREFIX)/lib/systemd/system" "missing:$missing" \
		"$(ls -l "$UNITDIR" 2>&1)"
fi
out=$(make -s -C "$MV_SRC" BUILD="$MV_BUILD" NO_BUILD=1 install DESTDIR="$MV_TMP/stage-usr" PREFIX=/usr 2>&1)
if [ -f "$MV_TMP/stage-usr/lib/systemd/system/notifyd.service" ] &&
	grep -q '^ExecStart=/usr/bin/notifyd ' "$MV_TMP/stage-usr/lib/systemd/system/notifyd.service"; then
	t_ok "make install PREFIX=/usr puts the units into /lib/systemd/system (Debian)"
else
	t_fail "make install PREFIX=/usr puts the units into /lib/systemd/system" "$out" \
		"$(find "$MV_TMP/stage-usr" -name '*.service' 2>&1)"
fi
rm -rf "$MV_TMP/stage-usr"
# ---------------------------------------------------------------------------
# The root the container boots: the host's /usr, a small /etc
# ---------------------------------------------------------------------------

mkdir -p "$ROOT"/{usr/lib,etc/systemd/system,etc/default,var/tmp,run,tmp,root,proc,sys,dev,mv}
ln -s usr/bin "$ROOT/bin"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
ln -s usr/sbin "$ROOT/sbin"
# nspawn looks for os-release before it mounts /usr over the placeholder.
cp /usr/lib/os-release "$ROOT/usr/lib/os-release"
ln -s ../usr/lib/os-release "$ROOT/etc/os-release"
grep -E '^(root|nobody|messagebus|systemd-[a-z-]+):' /etc/passwd >"$ROOT/etc/passwd"
grep -E '^(root|nogroup|messagebus|adm|tty|disk|kmem|utmp|systemd-[a-z-]+):' /etc/group >"$ROOT/etc/group"
systemd-id128 new >"$ROOT/etc/machine-id"
cp -r "$STAGE/etc/mountvisor" "$ROOT/etc/"
echo 'NOTIFYD_OPTS="--log-level debug"' >"$ROOT/etc/default/notifyd"
# A profile for the container of phase 2: tmpfs done by notifyd itself
# (kernel action: fsmount in the container's namespaces, flags locked
# through its user namespace), ext4 served by fuse2fs started in the
# container's namespaces and cgroup: notifyd's real work, under the unit's
# hardening.
cat >"$ROOT/etc/mountvisor/profiles/sysd.conf" <<'EOF'
[profile]
default-action = deny
[fs tmpfs]
action = kernel
allowed-options = size
[fs ext4]
action = fuse
program = /usr/bin/fuse2fs
allowed-options = ro, noatime, norecovery
EOF
mkdir -p "$MV_TMP/img"
mv_make_ext4 "$MV_TMP/img/disk.ext4" 8M || mv_bail "mkfs.ext4 failed"
chmod 0644 "$MV_TMP/img/disk.ext4"
# An OCI container for crun and runc inside the booted system (phase 2b):
# busybox rootfs, notifyd's seccomp rules, /run/mvx of the booted system
# bound at /mvx for its commands.
mkdir -p "$MV_TMP/oci"
mv_make_rootfs "$MV_TMP/oci/rootfs" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$MV_TMP/oci/rootfs/mvx"
chown -R 100000:100000 "$MV_TMP/oci/rootfs"
mv_oci_bundle --socket /run/mountvisor/notifyd.sock --profile sysd "$MV_TMP/oci/bundle" /mvoci/rootfs \
	/bin/sh -c 'i=0
	while :; do
		if [ -e /mvx/$MVRT.go.$i ]; then
			sh /mvx/$MVRT.go.$i >/mvx/$MVRT.res.$i.tmp 2>&1
			echo "rc=$?" >>/mvx/$MVRT.res.$i.tmp
			mv /mvx/$MVRT.res.$i.tmp /mvx/$MVRT.res.$i
			i=$((i + 1))
		fi
		sleep 0.05
	done' || mv_bail "cannot write the OCI bundle"
for rt in crun runc; do
	mkdir -p "$MV_TMP/oci/$rt"
	jq --arg rt "$rt" '.mounts += [{destination: "/mvx", type: "bind", source: "/run/mvx", options: ["rbind"]}]
		| .process.env += ["MVRT=" + $rt] | .hostname = $rt' \
		"$MV_TMP/oci/bundle/config.json" >"$MV_TMP/oci/$rt/config.json"
done

# The stand-in: the shipped notifyd.service with ExecStart= replaced (phase 1).
mkdir -p "$ROOT/etc/systemd/system/notifyd.service.d"
cat >"$ROOT/etc/systemd/system/notifyd.service.d/standin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/bin/python3 /mv/sd_standin.py
EOF

# nspawn (--keep-unit, --register=no: no systemd or machined on the host)
# makes payload/ and supervisor/ cgroups under its own; give it one of its own.
mkdir "$CG" || mv_bail "cannot create the cgroup $CG"
mv_rm_cgroup() { # depth first; only empty cgroups go
	[ -d "$CG" ] || return 0
	find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -d "$CG" ]
}
defer mv_rm_cgroup

# nspawn writes /run/systemd/nspawn/{locks,propagate}: keep them in this
# namespace, not on the host's /run (a tmpfs over /run/systemd, or /run).
if [ -d /run/systemd ]; then
	mount -t tmpfs -o mode=0755 mvnspawn /run/systemd
else
	mount -t tmpfs -o mode=0755 mvnspawn /run
fi

mv_boot() {
	(
		echo "$BASHPID" >"$CG/cgroup.procs" || exit 1
		SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --boot --register=no --keep-unit \
			--machine="$MACHINE" -D "$ROOT" --capability=all --system-call-filter="bpf pidfd_getfd" \
			--bind-ro=/usr --bind-ro="$STAGE/usr/local:/usr/local" \
			--bind-ro="$MV_SRC/tests/helpers:/mv" --bind-ro="$MV_BUILD/tests/helpers:/mvbin" \
			--bind=/dev/fuse --bind-ro="$MV_TMP/img:/mvimg" --bind="$MV_TMP/oci:/mvoci" \
			-- systemd.unit=multi-user.target
	) </dev/null >"$MV_TMP/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
}

defer "mv_poweroff"

mv_boot
nspawn_leader
if wait_for 60 booted; then
	t_ok "systemd 252 boots in systemd-nspawn ($(sc systemctl --version | head -n1))"
else
	mv_bail "the container's systemd did not finish booting: $(sc systemctl is-system-running 2>&1;
		sc systemctl --failed --no-pager 2>&1; tail -n 20 "$MV_TMP/nspawn.log")"
fi

t_check "systemd-analyze verify accepts the installed units" \
	sc env SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	/usr/local/lib/systemd/system/notifyd.service /usr/local/lib/systemd/system/notifyd.socket \
	/usr/local/lib/systemd/system/notifyd-lxc.socket /usr/local/lib/systemd/system/notifyd-control.socket \
	/usr/local/lib/systemd/system/vfsd@.service

# ask PATH : one line from the stand-in's socket (connecting activates it).
ask() {
	sc timeout 20 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
print(s.makefile().readline().strip())' "$1"
}
field() { # field NAME LINE
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}
active() {
	[ "$(sc systemctl is-active "$1" 2>/dev/null)" = active ]
}
newpid() { # newpid UNIT OLDPID : active with another MainPID
	active "$1" && local p && p=$(prop "$1" MainPID) && [ "$p" != 0 ] && [ "$p" != "$2" ]
}

# ---------------------------------------------------------------------------
# 1. The harness and systemd 252's fd store, with the stand-in
# ---------------------------------------------------------------------------

SOCKS="notifyd.socket notifyd-lxc.socket notifyd-control.socket"
t_check "systemctl start $SOCKS" sc systemctl start $SOCKS
if active notifyd.socket && [ "$(prop notifyd.service ActiveState)" = inactive ]; then
	t_ok "the sockets listen, notifyd.service is not started yet"
else
	t_fail "the sockets listen, notifyd.service is not started yet" \
		"$(sc systemctl status --no-pager $SOCKS notifyd.service 2>&1)"
fi

line=$(ask /run/mountvisor/notifyd.sock)
pid1=$(field pid "$line")
if [ -n "$pid1" ] && [ "$(field starts "$line")" = 1 ] && active notifyd.service &&
	[ "$(prop notifyd.service MainPID)" = "$pid1" ] &&
	[ "$(field fds "$line")" = "control,lxc,memo,oci" ]; then
	t_ok "a connection activates notifyd.service (Type=notify: active, MainPID $pid1, fds oci, lxc, control)"
else
	t_fail "a connection activates notifyd.service" "answer: $line" \
		"$(sc systemctl status --no-pager notifyd.service 2>&1)"
fi
n=$(prop notifyd.service NFileDescriptorStore)
if [ "$n" = 1 ]; then
	t_ok "FDSTORE=1 from the main process: NFileDescriptorStore=1"
else
	t_fail "FDSTORE=1 from the main process: NFileDescriptorStore=1" "NFileDescriptorStore=$n"
fi

t_check "systemctl reload notifyd" sc systemctl reload notifyd
line=$(ask /run/mountvisor/notifyd.sock)
if [ "$(field pid "$line")" = "$pid1" ] && [ "$(field starts "$line")" = 2 ] &&
	[ "$(prop notifyd.service MainPID)" = "$pid1" ] && active notifyd.service; then
	t_ok "reload re-executes in place: same MainPID, the stored memfd handed back (LISTEN_FDS)"
else
	t_fail "reload re-executes in place" "before: pid=$pid1" "after: $line" \
		"$(sc systemctl status --no-pager notifyd.service 2>&1)"
fi

r0=$(prop notifyd.service NRestarts)
sc systemctl kill -s KILL notifyd
if wait_for 20 newpid notifyd.service "$pid1"; then
	line=$(ask /run/mountvisor/notifyd.sock)
	pid2=$(field pid "$line")
	r1=$(prop notifyd.service NRestarts)
	if [ "$(field starts "$line")" = 3 ] && [ "$r1" -gt "$r0" ] &&
		[ "$(prop notifyd.service NFileDescriptorStore)" = 1 ]; then
		t_ok "SIGKILL: restarted (MainPID $pid1 -> $pid2, NRestarts $r0 -> $r1), the fd store kept"
	else
		t_fail "SIGKILL: restarted with the fd store kept" "answer: $line" "NRestarts $r0 -> $r1" \
			"NFileDescriptorStore=$(prop notifyd.service NFileDescriptorStore)"
	fi
else
	t_fail "SIGKILL: systemd restarts notifyd" "$(sc systemctl status --no-pager notifyd.service 2>&1)"
	pid2=$pid1
fi

# What does `systemctl restart` do to the store in 252?  The manual: fds are
# released "when the service is fully stopped and no job is queued or being
# executed for it"; a restart job is being executed throughout.
sc systemctl restart notifyd
line=$(ask /run/mountvisor/notifyd.sock)
if [ "$(field starts "$line")" = 4 ]; then
	t_ok "systemctl restart keeps the fd store in systemd 252 (the restart job holds it)"
else
	t_fail "systemctl restart keeps the fd store in systemd 252" "answer: $line"
fi
sc systemctl stop notifyd 2>/dev/null
n=$(prop notifyd.service NFileDescriptorStore)
line=$(ask /run/mountvisor/notifyd.sock)
if [ "$n" = 0 ] && [ "$(field starts "$line")" = 1 ]; then
	t_ok "systemctl stop flushes the fd store (the next start begins afresh)"
else
	t_fail "systemctl stop flushes the fd store" "NFileDescriptorStore after stop: $n" "answer: $line"
fi
sc systemctl stop notifyd.service $SOCKS 2>/dev/null
rm -r "$ROOT/etc/systemd/system/notifyd.service.d"
sc systemctl daemon-reload

# ---------------------------------------------------------------------------
# 2. The real notifyd through the shipped units
# ---------------------------------------------------------------------------

ctl() {
	sc timeout 20 /usr/local/bin/notifyctl --control /run/mountvisor/notifyctl.sock "$@"
}
stat_field() { # stat_field NAME TEXT : value of "NAME: value" in notifyctl stats
	sed -n "s/^[[:space:]]*$1:[[:space:]]*\\([^[:space:]]*\\).*/\\1/p" <<<"$2" | head -n1
}

if ! ldd "$STAGE/usr/local/bin/notifyd" 2>/dev/null | grep -q libsystemd; then
	t_skip "the real notifyd under systemd" "notifyd is not linked with libsystemd (no sd_notify yet)"
else
	t_check "systemctl start $SOCKS (the shipped units, real notifyd)" sc systemctl start $SOCKS
	st=$(ctl stats 2>&1)
	npid=$(stat_field pid "$st")
	if active notifyd.service && [ -n "$npid" ] && [ "$(prop notifyd.service MainPID)" = "$npid" ]; then
		t_ok "notifyctl stats activates notifyd through notifyd-control.socket (pid: $npid, active)"
	else
		t_fail "notifyctl stats activates notifyd through notifyd-control.socket" "$st" \
			"$(sc systemctl status --no-pager notifyd.service 2>&1)"
	fi
	t_diag "NFileDescriptorStore after start: $(prop notifyd.service NFileDescriptorStore)"
	wd=$(prop notifyd.service WatchdogUSec)
	[ -n "$wd" ] && t_diag "WatchdogUSec=$wd"

	t_check "systemctl reload notifyd (upgrade in place)" sc systemctl reload notifyd
	if wait_for 20 active notifyd.service; then :; fi
	st=$(ctl stats 2>&1)
	if [ "$(prop notifyd.service MainPID)" = "$npid" ] && [ "$(stat_field pid "$st")" = "$npid" ] &&
		active notifyd.service; then
		t_ok "reload: same MainPID $npid, still active, answers notifyctl (restarts: $(stat_field restarts "$st"))"
	else
		t_fail "reload: same MainPID, still active" "$st" \
			"$(sc systemctl status --no-pager notifyd.service 2>&1)"
	fi

	# A "container" (tests/helpers/mv_launch: user and mount namespace,
	# notifyd's seccomp rules, the OCI hand-over) whose notify fd goes to the
	# store.  It runs the shell command in /run/mvx/go.N and writes its
	# output and exit status to /run/mvx/res.N.
	sc mkdir -p /run/mvx && sc chmod 0777 /run/mvx
	# A transient service of the booted systemd, so that it sits in a cgroup
	# of the container's (nsenter alone leaves it in the test's cgroup,
	# outside the container's cgroup namespace, which notifyd refuses).
	sc systemd-run --quiet --unit=mvsysd1 -p KillMode=control-group /mvbin/mv_launch --socket /run/mountvisor/notifyd.sock --id sysd1 --profile sysd -- /bin/sh -c '
		i=0
		while :; do
			if [ -e /run/mvx/go.$i ]; then
				sh /run/mvx/go.$i >/run/mvx/res.$i.tmp 2>&1
				echo "rc=$?" >>/run/mvx/res.$i.tmp
				mv /run/mvx/res.$i.tmp /run/mvx/res.$i
				i=$((i + 1))
			fi
			sleep 0.05
		done' </dev/null >/dev/null 2>&1
	NCMD=0
	OUT=
	incont() { # incont CMD : run shell CMD in the container; OUT= its output and rc=N
		local n=$NCMD
		NCMD=$((NCMD + 1))
		sc sh -c "cat >/run/mvx/go.$n.tmp && mv /run/mvx/go.$n.tmp /run/mvx/go.$n" <<<"$1"
		OUT=
		wait_for 30 sc test -e "/run/mvx/res.$n" && OUT=$(sc cat "/run/mvx/res.$n")
	}
	trapped() { # a trapped call the profile does not allow, answered by notifyd
		incont "umount /mv-none"
	}
	listed() { ctl list 2>/dev/null | grep -q sysd1; }
	if wait_for 20 listed; then
		t_ok "a container handed over through notifyd.socket is supervised"
	else
		t_fail "a container handed over through notifyd.socket is supervised" "$(ctl list 2>&1)"
	fi
	trapped
	res0=$OUT
	t_diag "the container's umount2 /mv-none before the kill: $res0"
	n0=$(prop notifyd.service NFileDescriptorStore)
	if [ "$n0" -ge 1 ] 2>/dev/null; then
		t_ok "the container's notify fd is in systemd's store (NFileDescriptorStore=$n0)"
	else
		t_fail "the container's notify fd is in systemd's store" "NFileDescriptorStore=$n0"
	fi

	incont "mkdir -p /run/mvx/t && mount -t tmpfs -o size=1m mvt /run/mvx/t && grep ' /run/mvx/t ' /proc/self/mountinfo && umount /run/mvx/t"
	out=$OUT
	if grep -q 'rc=0' <<<"$out" && grep ' /run/mvx/t ' <<<"$out" | grep -q 'nosuid' &&
		grep ' /run/mvx/t ' <<<"$out" | grep -q 'nodev'; then
		t_ok "under the unit's hardening notifyd mounts for the container (kernel action: tmpfs, nosuid,nodev) and unmounts"
	else
		t_fail "under the unit's hardening notifyd mounts for the container (kernel action)" "$out" \
			"$(sc journalctl --no-pager -u notifyd.service 2>&1 | grep -i 'decision\|error\|warn\|fuse' | tail -n 12)"
	fi
	# mount(2) itself: util-linux's mount would set up a loop device for the
	# image first, and nspawn's /dev has no loop nodes.
	incont "mkdir -p /run/mvx/e && python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b\"/mvimg/disk.ext4\", b\"/run/mvx/e\", b\"ext4\", 1, None):
    sys.exit(\"mount: \" + os.strerror(ctypes.get_errno()))' && cat /run/mvx/e/hello.txt && umount /run/mvx/e"
	out=$OUT
	if grep -q 'rc=0' <<<"$out" && grep -q 'hello from ext4' <<<"$out"; then
		t_ok "under the unit's hardening notifyd serves ext4 with fuse2fs in the container (fuse action)"
	else
		t_fail "under the unit's hardening notifyd serves ext4 with fuse2fs (fuse action)" "$out" \
			"$(sc journalctl --no-pager -u notifyd.service 2>&1 | grep -i 'decision\|error\|warn\|fuse' | tail -n 12)"
	fi

	# A mount that outlives notifyd: its successor must know it for the umount.
	incont "mkdir -p /run/mvx/k && mount -t tmpfs -o size=1m mvk /run/mvx/k"
	kept=$OUT

	st=$(ctl stats 2>&1)
	npid=$(prop notifyd.service MainPID)
	r0=$(prop notifyd.service NRestarts)
	wd=$(prop notifyd.service WatchdogTimestampMonotonic)
	if [ -n "$wd" ] && [ "$wd" != 0 ]; then
		t_ok "notifyd pings systemd's watchdog (WatchdogTimestampMonotonic=$wd)"
	else
		t_fail "notifyd pings systemd's watchdog" "WatchdogTimestampMonotonic=$wd"
	fi
	if sc python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])' /run/mountvisor/notifyd-lxc.sock 2>/dev/null &&
		sc journalctl --no-pager -u notifyd.service | grep -q "LXC proxy on /run/mountvisor/notifyd-lxc.sock"; then
		t_ok "notifyd serves LXC's proxy socket from notifyd-lxc.socket (SOCK_SEQPACKET)"
	else
		t_fail "notifyd serves LXC's proxy socket from notifyd-lxc.socket" \
			"$(sc journalctl --no-pager -u notifyd.service | grep -i lxc | tail -n 3)"
	fi
	if [ "$r0" = 0 ]; then
		t_ok "notifyd did not die on its own so far (NRestarts=0)"
	else
		t_fail "notifyd did not die on its own so far" "NRestarts=$r0" \
			"$(sc journalctl --no-pager -o short-precise -u notifyd.service 2>&1 | grep -B3 -A1 'Main process exited' | head -n 20)"
	fi
	k0=$(stat_field restarts "$st")
	sc systemctl kill -s KILL notifyd
	if wait_for 30 newpid notifyd.service "$npid"; then
		st=$(ctl stats 2>&1)
		r1=$(prop notifyd.service NRestarts)
		k1=$(stat_field restarts "$st")
		if [ "$r1" -gt "$r0" ] && [ "$(stat_field pid "$st")" = "$(prop notifyd.service MainPID)" ] &&
			[ -n "$k1" ] && [ "$k1" -gt "${k0:-0}" ]; then
			t_ok "SIGKILL: systemd restarts notifyd (NRestarts $r0 -> $r1, restarts: $k0 -> $k1)"
			# From the kill to the successor's READY=1, by the journal's
			# monotonic clock (RestartSec=100ms included).
			ms=$(sc journalctl --no-pager -o short-monotonic -u notifyd.service 2>/dev/null |
				awk '/Main process exited, code=killed, status=9/ { gsub(/[][]/, "", $1); t = $1 }
				t && /Started notifyd.service/ { gsub(/[][]/, "", $1); v = int(($1 - t) * 1000); t = 0 }
				END { if (v != "") print v }')
			[ -n "$ms" ] && t_diag "SIGKILL to READY=1 of the successor: $ms ms (RestartSec=100ms included)"
		else
			t_fail "SIGKILL: restarted, counters grow" "NRestarts $r0 -> $r1" "$st"
		fi
		n=$(prop notifyd.service NFileDescriptorStore)
		if [ "$n" -ge 1 ] 2>/dev/null && listed; then
			t_ok "the new notifyd took the container over from the store (NFileDescriptorStore=$n, notifyctl list)"
		else
			t_fail "the new notifyd took the container over from the store" "NFileDescriptorStore=$n" \
				"$(ctl list 2>&1)"
		fi
		trapped
		res1=$OUT
		incont "umount /run/mvx/k"
		if grep -q rc=0 <<<"$kept" && grep -q rc=0 <<<"$OUT" &&
			sc journalctl --no-pager -u notifyd.service | grep 'target=/run/mvx/k ' | grep -q 'syscall=umount2.*mount made by notifyd.*result=ok'; then
			t_ok "a mount made before the SIGKILL is known to the successor: its umount is notifyd's"
		else
			t_fail "a mount made before the SIGKILL is known to the successor" "mount: $kept" "umount: $OUT"
		fi
		if [ -n "$res1" ] && [ "$res1" = "$res0" ] && ! grep -q "not implemented" <<<"$res1"; then
			t_ok "the container's next trapped call is answered as before the kill"
		else
			t_fail "the container's next trapped call is answered as before the kill" \
				"before: $res0" "after: $res1"
		fi
	else
		t_fail "SIGKILL: systemd restarts notifyd" "$(sc systemctl status --no-pager notifyd.service 2>&1)"
	fi

	# systemctl restart: 252 keeps the store (phase 1), and notifyd's SIGTERM
	# under a store leaves everything to its successor, so the container
	# stays supervised through it.
	npid=$(prop notifyd.service MainPID)
	sc systemctl restart notifyd
	if wait_for 30 newpid notifyd.service "$npid" && wait_for 5 listed; then
		trapped
		res2=$OUT
		if [ "$res2" = "$res0" ]; then
			t_ok "systemctl restart: the container stays supervised, its calls answered"
		else
			t_fail "systemctl restart: the container's calls answered" "before: $res0" "after: $res2"
		fi
	else
		t_fail "systemctl restart: the container stays supervised" \
			"no new notifyd listing it; the store holds $(prop notifyd.service NFileDescriptorStore) fd(s)"
	fi
	sc systemctl stop mvsysd1.service

	# 2b. crun and runc containers (the runtimes' own hand-over through
	# listenerPath), each a transient service of the booted systemd: a
	# mount before and after a SIGKILL of notifyd.
	for rt in crun runc; do
		case $rt in
		crun) rtcmd="crun --root /run/mvrt-crun --cgroup-manager=disabled" ;;
		runc) rtcmd="runc --root /run/mvrt-runc" ;;
		esac
		NR=0
		inrt() { # inrt CMD : run CMD in the $rt container; OUT= output and rc=N
			local n=$NR
			NR=$((NR + 1))
			sc sh -c "cat >/run/mvx/$rt.go.$n.tmp && mv /run/mvx/$rt.go.$n.tmp /run/mvx/$rt.go.$n" <<<"$1"
			OUT=
			wait_for 30 sc test -e "/run/mvx/$rt.res.$n" && OUT=$(sc cat "/run/mvx/$rt.res.$n")
		}
		# The container's init ignores the SIGTERM of a stop (pid 1 of its pid
		# namespace, no handler): a short stop timeout, and the test kills it first.
		sc systemd-run --quiet --unit="mv$rt" -p KillMode=control-group -p TimeoutStopSec=5 \
			$rtcmd run --no-new-keyring \
			--bundle "/mvoci/$rt" "mvsd-$rt" </dev/null >/dev/null 2>&1
		inrt "mount -t tmpfs -o size=1m $rt /mnt/a && grep ' /mnt/a ' /proc/self/mountinfo"
		if ! grep -q rc=0 <<<"$OUT"; then
			t_fail "$rt: a container under systemd mounts through notifyd" "$OUT" \
				"$(sc journalctl --no-pager -u "mv$rt" 2>&1 | tail -n 5)" \
				"$(sc journalctl --no-pager -u notifyd.service 2>&1 | grep "mvsd-$rt" | tail -n 3)"
			sc systemctl stop "mv$rt.service"
			continue
		fi
		t_ok "$rt: a container started by $rt under systemd mounts through notifyd ($(grep -o 'nosuid,nodev' <<<"$OUT" | head -n1))"
		npid=$(prop notifyd.service MainPID)
		sc systemctl kill -s KILL notifyd
		if ! wait_for 30 newpid notifyd.service "$npid"; then
			t_fail "$rt: notifyd back after SIGKILL" "$(sc systemctl status --no-pager notifyd.service 2>&1)"
			sc systemctl stop "mv$rt.service"
			continue
		fi
		inrt "mount -t tmpfs -o size=1m ${rt}2 /mnt/b && umount /mnt/b && umount /mnt/a && echo both-gone"
		if grep -q rc=0 <<<"$OUT" && grep -q both-gone <<<"$OUT"; then
			t_ok "$rt: after SIGKILL its calls are answered: a new mount, the umount of the new and of the old one"
		else
			t_fail "$rt: after SIGKILL its calls are answered" "$OUT" \
				"$(sc journalctl --no-pager -u notifyd.service 2>&1 | grep "mvsd-$rt" | tail -n 4)"
		fi
		sc $rtcmd kill "mvsd-$rt" KILL >/dev/null 2>&1
		sc systemctl stop "mv$rt.service"
		sc $rtcmd delete -f "mvsd-$rt" >/dev/null 2>&1
		sc systemctl reset-failed "mv$rt.service" >/dev/null 2>&1
	done
	sc systemctl stop notifyd.service $SOCKS 2>/dev/null
	if [ "$(prop notifyd.service ActiveState)" = inactive ] && ! sc pgrep -x notifyd >/dev/null; then
		t_ok "systemctl stop: notifyd gone"
	else
		t_fail "systemctl stop: notifyd gone" "$(sc systemctl status --no-pager notifyd.service 2>&1)"
	fi
fi

# ---------------------------------------------------------------------------
# 3. vfsd@.service
# ---------------------------------------------------------------------------

mkdir -p "$ROOT/srv/share"
echo hello >"$ROOT/srv/share/hello"
cat >"$ROOT/etc/mountvisor/vfsd/test.conf" <<'EOF'
VFSD_SHARED_DIR=/srv/share
VFSD_OPTS="--cache=auto --log-level=debug"
EOF
sc systemctl start vfsd@test.service
if wait_for 20 sc test -S /run/vfsd/test.sock && active vfsd@test.service; then
	t_ok "vfsd@test.service listens on /run/vfsd/test.sock"
else
	t_fail "vfsd@test.service listens on /run/vfsd/test.sock" \
		"$(sc systemctl status --no-pager vfsd@test.service 2>&1)" \
		"$(sc journalctl --no-pager -u vfsd@test.service 2>&1 | tail -n 20)"
fi
sc systemctl stop vfsd@test.service
result=$(prop vfsd@test.service Result)
asan=
ldd "$STAGE/usr/local/bin/vfsd" 2>/dev/null | grep -q libasan && asan=1
state=$(prop vfsd@test.service ActiveState)
if sc test -d /run/vfsd && { [ "$state" = inactive ] && [ "$result" = success ] ||
	[ -n "$asan" ] && [ "$state" != active ]; }; then
	t_ok "vfsd@test.service stops cleanly; /run/vfsd stays for other instances"
	# An ASan build's sandbox parent dies of its own seccomp filter (SIGSYS)
	# on the way out; the plain build exits 143.
	[ "$result" != success ] && t_diag "ASan build: vfsd's stop ended with Result=$result"
else
	t_fail "vfsd@test.service stops cleanly" "$(sc systemctl status --no-pager vfsd@test.service 2>&1)"
fi

# ---------------------------------------------------------------------------
# 4. Teardown
# ---------------------------------------------------------------------------

# An ASan/UBSan build reports into the journal (notifyd's and vfsd's stderr).
san=$(sc journalctl --no-pager 2>/dev/null | grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' | head -n 5)
if [ -z "$san" ]; then
	t_ok "no sanitizer report in the journal"
else
	t_fail "no sanitizer report in the journal" "$san"
fi
failed=$(sc systemctl list-units --failed --plain --no-legend 2>/dev/null)
[ -n "$failed" ] && t_diag "failed units in the container (not ours unless named):" "$failed"
mv_poweroff
left=$(cat "$CG"/cgroup.procs "$CG"/*/cgroup.procs 2>/dev/null | wc -l)
if [ "$left" -eq 0 ] && ! grep -q "$ROOT" /proc/self/mountinfo && mv_rm_cgroup; then
	t_ok "poweroff: the container is gone (no process, cgroup or mount left)"
else
	t_fail "poweroff: the container is gone" "processes left: $left" \
		"$(grep "$ROOT" /proc/self/mountinfo)"
fi
