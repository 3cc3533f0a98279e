#!/bin/bash
# The Debian package's maintainer scripts under a running systemd 252
# (docs/packaging.md): this host has no systemd as pid 1, so, as
# notifyd_systemd.sh does, the test boots Debian's systemd in
# systemd-nspawn over a root built in $MV_TMP, with the host's /usr under a
# writable overlay (upper layer in $MV_TMP) and a copy of dpkg's database, so
# that dpkg inside installs into the container only.  Checked:
#   - dpkg -i under a policy-rc.d that says 101 (image builds): the units
#     enabled, nothing started;
#   - dpkg -i: notifyd.service and its three sockets enabled and started,
#     notifyctl answers through notifyd-control.socket; user nobody can
#     connect to none of the three sockets nor change a profile;
#   - the same package installed again (an upgrade, postinst configure with
#     the old version): no stop, notifyd reloaded in place (same MainPID,
#     systemd's reload job ran), the sockets not restarted;
#   - dpkg --purge: service and sockets stopped, units and links gone.
# MV_DEB_DIR=DIR: use the .deb built in DIR instead of running make deb.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/nspawn_common.sh
. "$(dirname "$0")/nspawn_common.sh"

PKG=mountvisor
if ! command -v systemd-nspawn >/dev/null || [ ! -x /lib/systemd/systemd ]; then
	t_skip "the package under systemd" "systemd and systemd-container are not installed"
	exit 0
fi
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
	t_skip "the package under systemd" "no cgroup2 on /sys/fs/cgroup for systemd-nspawn"
	exit 0
fi
for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null || {
		t_skip "the package under systemd" "$tool is missing (scripts/install-deps.sh installs it)"
		exit 0
	}
done

if [ -n "${MV_DEB_DIR:-}" ]; then
	DEBDIR=$MV_DEB_DIR
else
	make -C "$MV_SRC" deb BUILD="$MV_TMP/debbuild" >"$MV_TMP/make-deb.log" 2>&1 ||
		mv_bail "make deb failed: $(tail -n 30 "$MV_TMP/make-deb.log")"
	DEBDIR=$MV_TMP/debbuild/deb
fi
DEB=
for d in "$DEBDIR"/"${PKG}"_*.deb; do [ -f "$d" ] && DEB=$d; done
[ -n "$DEB" ] || mv_bail "no ${PKG}_*.deb in $DEBDIR"
mkdir -p "$MV_TMP/debs" && cp "$DEB" "$MV_TMP/debs/$PKG.deb"

ROOT=$MV_TMP/sysroot
UPPER=$MV_TMP/usr-upper
MACHINE=mvdeb$$
CG=/sys/fs/cgroup/mv-debsd-$$
NSPAWN_PID=
LEADER=

# The root: a small /etc (no host unit is enabled in it), what dpkg and the
# maintainer scripts read (/etc/dpkg, alternatives, ld.so config), and a copy
# of dpkg's database; /usr is the host's under an overlay.
mkdir -p "$ROOT"/{usr/lib,etc/systemd/system,var/tmp,var/cache,var/log,run,tmp,root,proc,sys,dev} "$UPPER"
ln -s usr/bin "$ROOT/bin"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
ln -s usr/sbin "$ROOT/sbin"
cp /usr/lib/os-release "$ROOT/usr/lib/os-release"
ln -s ../usr/lib/os-release "$ROOT/etc/os-release"
# The host's users and groups: dpkg checks its statoverrides against them.
cp -a /etc/passwd /etc/group "$ROOT/etc/"
systemd-id128 new >"$ROOT/etc/machine-id"
cp -a /etc/dpkg /etc/alternatives /etc/ld.so.conf /etc/ld.so.conf.d "$ROOT/etc/" 2>/dev/null
mkdir -p "$ROOT/var/lib"
cp -a /var/lib/dpkg "$ROOT/var/lib/" || mv_bail "cannot copy /var/lib/dpkg"
rm -f "$ROOT"/var/lib/dpkg/lock*
mkdir -p "$ROOT/var/lib/systemd"

mkdir "$CG" || mv_bail "cannot create the cgroup $CG"
mv_rm_cgroup() {
	[ -d "$CG" ] || return 0
	find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -d "$CG" ]
}
defer mv_rm_cgroup
# nspawn writes under /run/systemd: keep that in this mount namespace.
if [ -d /run/systemd ]; then
	mount -t tmpfs -o mode=0755 mvnspawn /run/systemd
else
	mount -t tmpfs -o mode=0755 mvnspawn /run
fi

(
	echo "$BASHPID" >"$CG/cgroup.procs" || exit 1
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --boot --register=no --keep-unit \
		--machine="$MACHINE" -D "$ROOT" --capability=all --system-call-filter="bpf pidfd_getfd" \
		--overlay="/usr:$UPPER:/usr" --bind-ro="$MV_TMP/debs:/mvdeb" --bind=/dev/fuse \
		-- systemd.unit=multi-user.target
) </dev/null >"$MV_TMP/nspawn.log" 2>&1 &
NSPAWN_PID=$!

active() { [ "$(sc systemctl is-active "$1" 2>/dev/null)" = active ]; }
defer "mv_poweroff"

nspawn_leader
wait_for 60 booted || mv_bail "the container's systemd did not finish booting: $(sc systemctl --failed --no-pager 2>&1)"
t_ok "systemd boots in systemd-nspawn with the host's /usr under an overlay"

SOCKS="notifyd.socket notifyd-lxc.socket notifyd-control.socket"
units_state() {
	local u
	for u in notifyd.service $SOCKS; do
		printf '%s %s %s\n' "$u" "$(sc systemctl is-enabled "$u" 2>&1)" "$(sc systemctl is-active "$u" 2>&1)"
	done
}

# --- install under a policy-rc.d that forbids starting (image builds) -------
# Written into the overlay (the host's own policy-rc.d, if any, stays as it is).
sc sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
out=$(sc env DEBIAN_FRONTEND=noninteractive dpkg -i /mvdeb/$PKG.deb 2>&1)
t_check "dpkg -i under policy-rc.d (exit 101)" [ $? -eq 0 ]
st=$(units_state)
if ! grep -qv ' enabled inactive$' <<<"$st"; then
	t_ok "policy-rc.d 101: notifyd.service and its sockets enabled, none started"
else
	t_fail "policy-rc.d 101: notifyd.service and its sockets enabled, none started" "$st" "$out"
fi
out=$(sc env DEBIAN_FRONTEND=noninteractive dpkg --purge $PKG 2>&1)
t_check "dpkg --purge (nothing was started)" [ $? -eq 0 ]
sc rm -f /usr/sbin/policy-rc.d

# --- first install -------------------------------------------------------
out=$(sc env DEBIAN_FRONTEND=noninteractive dpkg -i /mvdeb/$PKG.deb 2>&1)
rc=$?
t_check "dpkg -i in the booted system" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || t_diag "$out"
wait_for 20 active notifyd.service
st=$(units_state)
if ! grep -qv ' enabled active$' <<<"$st"; then
	t_ok "first install: notifyd.service and its three sockets enabled and running"
else
	t_fail "first install: notifyd.service and its three sockets enabled and running" "$st" \
		"$(sc systemctl status --no-pager notifyd.service 2>&1 | tail -n 20)"
fi
pid1=$(prop notifyd.service MainPID)
t_check "notifyctl stats answers through notifyd-control.socket (pid $pid1)" \
	sh -c "nsenter -t $LEADER -a -- timeout 20 notifyctl --control /run/mountvisor/notifyctl.sock stats | grep -qx 'pid: $pid1'"
# Another user of the host (nobody here) reaches none of notifyd's sockets:
# the OCI agent socket would let it hand notifyd a seccomp fd of its own
# choosing, the control socket lists every container.
for s in notifyd.sock notifyd-lxc.sock notifyctl.sock; do
	out=$(sc setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c 'import socket, sys
t = socket.SOCK_SEQPACKET if "lxc" in sys.argv[1] else socket.SOCK_STREAM
s = socket.socket(socket.AF_UNIX, t)
try:
    s.connect(sys.argv[1])
    print("connected")
except PermissionError:
    print("EACCES")
except OSError as e:
    print("error", e)' "/run/mountvisor/$s" 2>&1)
	if [ "$out" = EACCES ]; then
		t_ok "nobody cannot connect to /run/mountvisor/$s (EACCES)"
	else
		t_fail "nobody cannot connect to /run/mountvisor/$s" "$out" \
			"$(sc ls -la /run/mountvisor 2>&1)"
	fi
done
t_check "nobody cannot change a profile notifyd reads" \
	sc setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
	'! echo x >>/etc/mountvisor/profiles/default.conf && ! touch /etc/mountvisor/profiles/evil.conf'
sock_ino() { sc stat -c %i /run/mountvisor/notifyd.sock 2>/dev/null; }
ino1=$(sock_ino)

# --- upgrade (the same version again: postinst configure OLDVERSION) -------
reloads() { sc journalctl --no-pager -u notifyd.service 2>/dev/null | grep -c 'Reloading'; }
r0=$(reloads)
out=$(sc env DEBIAN_FRONTEND=noninteractive dpkg -i /mvdeb/$PKG.deb 2>&1)
t_check "dpkg -i again (upgrade path)" [ $? -eq 0 ]
wait_for 20 sh -c "[ \$(nsenter -t $LEADER -a -- journalctl --no-pager -u notifyd.service | grep -c Reloading) -gt $r0 ]"
r1=$(reloads)
pid2=$(prop notifyd.service MainPID)
if active notifyd.service && [ "$pid2" = "$pid1" ] && [ "$r1" -gt "$r0" ]; then
	t_ok "upgrade: notifyd reloaded in place, not restarted (MainPID $pid1 kept, reload job ran)"
else
	t_fail "upgrade: notifyd reloaded in place, not restarted" "MainPID $pid1 -> $pid2, reloads $r0 -> $r1" "$out" \
		"$(sc journalctl --no-pager -u notifyd.service 2>&1 | tail -n 20)"
fi
ino2=$(sock_ino)
if [ -n "$ino1" ] && [ "$ino1" = "$ino2" ] && active notifyd.socket; then
	t_ok "upgrade: the sockets were not restarted (same notifyd.sock inode)"
else
	t_fail "upgrade: the sockets were not restarted" "inode $ino1 -> $ino2" "$(units_state)"
fi
t_check "after the upgrade notifyctl still answers (same pid)" \
	sh -c "nsenter -t $LEADER -a -- timeout 20 notifyctl --control /run/mountvisor/notifyctl.sock stats | grep -qx 'pid: $pid1'"

# --- purge -------------------------------------------------------------------
out=$(sc env DEBIAN_FRONTEND=noninteractive dpkg --purge $PKG 2>&1)
t_check "dpkg --purge in the booted system" [ $? -eq 0 ]
left=$(for u in notifyd.service $SOCKS; do active "$u" && echo "$u"; done)
t_check "purge: service and sockets stopped" [ -z "$left" ]
t_check "purge: units, enable links and profiles gone" \
	nsenter -t "$LEADER" -a -- sh -c '! ls -d /etc/mountvisor /etc/systemd/system/*.wants/notifyd* /lib/systemd/system/notifyd* /usr/bin/notifyd 2>/dev/null | grep .' 
t_check "purge: no notifyd process left in the container" \
	sh -c "! nsenter -t $LEADER -a -- pgrep -x notifyd"

mv_poweroff
t_check "poweroff: the container is gone" mv_rm_cgroup
