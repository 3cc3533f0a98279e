#!/bin/bash
# Red team of the virtiofs action (crun and runc, user namespace 0 -> host
# 100000).  The container's root and the VMM/guest it runs are hostile; the
# host plays the VMM with vhost-user-fs-mount through /proc/PID/root.  One
# check per attack: an attack that is stopped is an ok check on its exact
# outcome; an attack that works is a failing check that says what it got.
#
#   propagation: the source made a shared mount before the share, then
#           /proc bound under it afterwards -- does the mount propagate
#           into vfsd's view of the share (host-root vfsd serving procfs)?
#   submounts: a /proc bound under the source before the share is in it
#           (the copy is recursive) but served with the container's rights
#           only (ids=userns: core_pattern does not open for writing); a bind of /proc or /proc/sys as
#           the source is refused (EPERM), as is the container's /dev
#           tmpfs' device nodes (no device node is served).
#   ids:    a host-root 0600 file in the share stays unreadable through the
#           guest, a host-root 0644 file unwritable, a chown to an id the
#           container does not map fails, a hard link to a host-root file
#           fails; what the guest creates belongs to host 100000; a share
#           of a read-only bind stays read-only; a container user without
#           CAP_SYS_ADMIN gets EPERM.
#   fcaps:  a file capability the guest sets through an xattr share is v3
#           with rootid 100000, never a host-wide v2 one;
#   socket: a bind copy and a mount --move of the socket mount (both
#           ENOENT: its root is an unlinked file), chmod of the socket,
#           umount and umount -l (MNT_DETACH) of it (vfsd stops, the slot is
#           free again), a VMM that reconnects; a VMM holding its
#           connection (and another waiting) does not keep vfsd past umount.
#   stack:  a share over another share's socket (ENOENT), targets through
#           magic links (refused) or a symlink climbing out of / (the
#           container's own file);
#   vfsd:   its fds, mounts, capabilities, cgroup, pid namespace.
#   limits: 8 mounts in parallel against max-shares = 2; two shares
#           starting at once must not wedge notifyd's workers.
#   others: a second container with the same target path cannot stop the
#           first one's share; its max-shares count is its own.
#   exit:   the container exiting with shares up, or in the middle of a
#           mount, leaves no vfsd, no socket in /run/mountvisor.
#           With its share up after a guest request of another uid, the
#           sandboxed vfsd goes with its waiting parent.
#   exec:   a share mounted from a `runtime exec` entry lives until the
#           container exits, then goes; max-shares counts the container's
#           shares, whichever entry (init, exec) asked.
# Round 2:
#   xattr_ids: through an xattr share, trusted.* never reaches the host file;
#           a POSIX ACL naming guest uid 5000 is stored as 100000+5000, one
#           naming 70000 (unmapped) or 4294967294 is refused.
#   xattr_userns: the same on an ids=userns share, and security.capability
#           (v3 rootid=100000 at most).
#   squash_ids: idmap = squash: unmapped and top-of-range guest ids create
#           as the container's 1000; chown to 0 lands on 1000; no ACL of a
#           host id; host root's 0600 file stays unreadable.
#   peerpidfd: SO_PEERPIDFD on the VMM's connection is a pidfd of notifyd
#           (it called listen()); the container's root cannot signal it,
#           pidfd_getfd() from it or setns() into its namespaces.
#   sweep_starve: (runc) 33 exec-entry shares of one container keep the
#           1-second sweep from stopping another container's exec share
#           after that container exited (worked in round 2: the sweep looked
#           at 32 records only; it now looks at all of them).
#   same_id: a crun and a runc container with the same id: max-shares and
#           the exit of one are their own.
#   umount_race: 60 rounds of two mounts and two umounts at once: a vfsd
#           registered after an umount dropped its mount's record is never
#           stopped (worked in round 2, racy: virtiofs_action_mount() records
#           the mount before fuse_daemon_add(), which now looks at the record
#           after adding the daemon), its max-shares slot leaks till exit.
#   overlay_src: a host-mounted overlay rootfs (podman-style) with host
#           root's files in its lower layer as the source: ids=userns, and
#           those files stay unreadable/unwritable through the guest.
#   userns_proc: an ids=userns vfsd is in no pid namespace of the container
#           and absent from its procfs (also the one served in the share).
#   hostpid: a user-namespaced container in the host's pid namespace finds
#           its ids=userns vfsd and may open /proc/PID/root (dumpable, same
#           user namespace), but vfsd and its parent have pivoted into the
#           share: no host file outside the container's view.
#
#   RT_TESTS="name ..." runs a subset of the test_ functions,
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

[ -x "$MV_BUILD/vhost-user-fs-mount" ] || mv_bail "vhost-user-fs-mount not built"
[ -x /usr/bin/python3 ] || mv_bail "python3 not installed (the VMMs)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
MNT=$MV_TMP/mnt
mkdir -p "$PROFILES" "$MNT"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache, ro
EOF

cat >"$PROFILES/xattr.conf" <<EOF
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = xattr
EOF

cat >"$PROFILES/many.conf" <<EOF
[profile]
default-action = deny
max-shares = 40
max-mounts = 100

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache, ro
EOF

cat >"$PROFILES/squash.conf" <<EOF
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = xattr
idmap = squash:1000:1000
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/srv/data" "$ROOTFS/srv/prop" "$ROOTFS/run" "$ROOTFS/usr" "$ROOTFS/lib" \
	"$ROOTFS/lib64"
echo "container data" >"$ROOTFS/srv/data/hello.txt"
chown -hR 100000:100000 "$ROOTFS/srv" "$ROOTFS/run" "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
# Host root's files in the container's directory (ids it does not map).
echo "host secret" >"$ROOTFS/srv/data/rootonly"
chown 0:0 "$ROOTFS/srv/data/rootonly"
chmod 0600 "$ROOTFS/srv/data/rootonly"
echo "host file" >"$ROOTFS/srv/data/rootro"
chown 0:0 "$ROOTFS/srv/data/rootro"
chmod 0644 "$ROOTFS/srv/data/rootro"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

defer mv_front_stop



# gone PID... : every PID exits within 5 s.
gone() {
	local p i
	for p in "$@"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || [ "$(ps -o stat= -p "$p" 2>/dev/null)" = Z ] || break
			sleep 0.1
		done
		kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" 2>/dev/null)" != Z ] && {
			echo "pid $p still running: $(tr '\0' ' ' <"/proc/$p/cmdline")"
			return 1
		}
	done
	return 0
}

not_connects() { ! connects "$1" >/dev/null 2>&1; }

alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z ]; }

# connects PATH : a VMM can connect to the socket at PATH.
connects() {
	/usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect: %s" % e)
    sys.exit(1)
EOF
}

# Sockets notifyd left in its run directory (each share's is unlinked once bound).
run_sockets() { find /run/mountvisor -maxdepth 1 -name "vfsd-$NOTIFYD_PID-*.sock" 2>/dev/null; }

# vfsd processes (share daemons) among notifyd's children.
vfsd_children() {
	local p
	for p in $(cat /proc/"$NOTIFYD_PID"/task/*/children 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^vfsd ' && echo "$p"
	done
}

# Every vfsd process (waiting parent or sandboxed server) that has this
# test's tmpfs in its mount table: started for one of our containers.
MV_TMP_DEV=$(mountpoint -d "$MV_TMP" 2>/dev/null)
our_vfsd() {
	local p
	[ -n "$MV_TMP_DEV" ] || return 0
	for p in $(pgrep -x vfsd; pgrep -f '^vfsd --fd='); do
		grep -q " $MV_TMP_DEV " "/proc/$p/mountinfo" 2>/dev/null && echo "$p"
	done | sort -un
}

# Every vfsd of ours that still runs once the test ends (an attack that
# leaks one): killed, so the test leaves nothing behind.
kill_leaked_vfsd() {
	local p
	for p in $(our_vfsd); do kill -KILL "$p"; done
	return 0
}

# At the end, once notifyd is stopped: also copies of it left behind (stuck
# helpers whose notifyd is gone: see test_concurrent).
kill_leftovers() {
	local p
	kill_leaked_vfsd
	[ -z "$NOTIFYD_PID" ] || return 0
	for p in $(pgrep -f -- "--socket $MV_TMP/run/"); do kill -KILL "$p"; done
	return 0
}
defer kill_leftovers

# notifyd's helper children (copies of notifyd, no exec) that have waited
# in a pipe read for more than 3 s: the user-namespace helpers of
# share_idmap.c, each waiting for an end of file the other one prevents.
stuck_helpers() {
	local p exe
	exe=$(readlink "/proc/$NOTIFYD_PID/exe")
	for p in $(cat /proc/"$NOTIFYD_PID"/task/*/children 2>/dev/null); do
		[ "$(readlink "/proc/$p/exe")" = "$exe" ] || continue
		[ "$(cat "/proc/$p/wchan" 2>/dev/null)" = anon_pipe_read ] || continue
		[ "$(ps -o etimes= -p "$p" | tr -d ' ')" -ge 3 ] 2>/dev/null && echo "$p"
	done
}

# unwedge : kill stuck helpers (the workers waiting for them go on); prints
# what they were.
unwedge() {
	local p fd ps
	ps=$(stuck_helpers)
	for p in $ps; do
		fd=$(($(awk '{print $2}' "/proc/$p/syscall" 2>/dev/null)))
		echo "notifyd helper $p blocked in read(fd $fd = $(readlink "/proc/$p/fd/$fd")) for $(ps -o etimes= -p "$p" | tr -d ' ') s; it holds: $(find "/proc/$p/fd" -mindepth 1 -printf '%f=%l ' 2>/dev/null | grep -o '[0-9]*=pipe:[^ ]*' | tr '\n' ' ')"
	done
	for p in $ps; do kill -KILL "$p" 2>/dev/null; done
}

bundle() { # bundle ID [mv_oci_bundle options] -- CMD...
	local id=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	mv_oci_bundle "${opts[@]}" "$MV_TMP/$id" "$ROOTFS" "$@" && mv_bind_host_libs "$MV_TMP/$id"
}

# Mount propagation into the share, and what the source may be.
test_propagation() {
	local id=vfsr-$RT-prop pid v
	rm -rf "$ROOTFS/srv/prop"
	mkdir -p "$ROOTFS/srv/prop/pre" "$ROOTFS/srv/prop/post"
	echo "prop" >"$ROOTFS/srv/prop/file"
	chown -R 100000:100000 "$ROOTFS/srv/prop"
	cat >"$ROOTFS/prop.sh" <<'EOF'
tok=$1
M=/usr/bin/mount
touch /run/p.sock /run/q.sock /run/r.sock /run/d.sock
mvstep bindself $M --bind /srv/prop /srv/prop
mvstep shared $M --make-shared /srv/prop
mvstep pre $M --bind /proc /srv/prop/pre
mvstep share mount -t vhost-user-fs /srv/prop /run/p.sock
mvstep post $M --bind /proc /srv/prop/post
mvstep ctl sh -c ': >>/proc/sys/kernel/core_pattern'
mkdir -p /srv/procbind /srv/sysbind
mvstep bindproc $M --bind /proc /srv/procbind
mvstep procsrc mount -t vhost-user-fs /srv/procbind /run/q.sock
mvstep bindsys $M --bind /proc/sys /srv/sysbind
mvstep syssrc mount -t vhost-user-fs /srv/sysbind /run/r.sock
mvsync "$tok.shared"
mvstep umount umount /run/p.sock
mvstep devsrc mount -t vhost-user-fs /dev /run/d.sock
mkdir -p /srv/rs/post
touch /run/p2.sock
mvstep rshared $M --make-rshared /
mvstep share2 mount -t vhost-user-fs /srv/rs /run/p2.sock
mvstep post2 $M --bind /proc /srv/rs/post
mvsync "$tok.dev"
EOF
	bundle "$id" -- sh /prop.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: propagation: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_step_ok "$RT: propagation: the container made its source a shared mount" "$id" shared
	t_step_ok "$RT: propagation: the share of the shared source mounts" "$id" share
	t_step_ok "$RT: propagation: the container bound its /proc under the shared source" "$id" post
	if mv_front_start "/proc/$pid/root/run/p.sock" "$MNT"; then
		t_check "$RT: propagation: the share serves the source" [ "$(cat "$MNT/file")" = prop ]
		# The copy is recursive (a plain one would show what the runtime's
		# mounts cover): the /proc bound there before is in the share, but
		# then nothing can be idmapped and vfsd has the container's rights.
		t_decision "$RT: submounts: a /proc bound under the source before the share: vfsd runs with the container's ids" \
			"$id" 'action=virtiofs' 'target=/run/p.sock' 'ids=userns'
		t_check "$RT: submounts: ... and core_pattern does not open for writing through it" \
			sh -c "! (: >>'$MNT/pre/sys/kernel/core_pattern') 2>/dev/null"
		if [ -e "$MNT/post/sys/kernel/core_pattern" ]; then
			# Opened for writing only (O_APPEND, nothing written): the
			# container's own root gets EACCES (step ctl); vfsd is host root.
			if (: >>"$MNT/post/sys/kernel/core_pattern") 2>/dev/null; then
				v="and /proc/sys/kernel/core_pattern OPENS FOR WRITING through the guest (host root; the container's own open: $(mv_step_out "$id" ctl | tail -n1))"
			else
				v="(an open of /proc/sys/kernel/core_pattern for writing failed)"
			fi
			t_fail "$RT: propagation: a /proc bound under a shared source after the share stays out of it" \
				"the container's procfs propagated into the share that host-root vfsd serves; the guest sees" \
				"$MNT/post: $(ls "$MNT/post" | head -n 8 | tr '\n' ' ')..." "$v"
		else
			t_check "$RT: propagation: a /proc bound under a shared source after the share stays out of it" \
				sh -c "[ -z \"\$(ls -A '$MNT/post')\" ]"
		fi
		mv_front_stop
	else
		t_fail "$RT: propagation: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	t_step_errno "$RT: submounts: a bind of /proc as the source is EPERM" "$id" procsrc EPERM
	t_step_errno "$RT: submounts: a bind of /proc/sys as the source is EPERM" "$id" syssrc EPERM
	mv_sync_go "$ROOTFS" "$id.shared"
	if mv_sync_wait "$ROOTFS" "$id.dev" 30; then
		if [ "$(mv_step_rc "$id" devsrc)" = 0 ] && mv_front_start "/proc/$pid/root/run/d.sock" "$MNT"; then
			t_check "$RT: submounts: the container's /dev shared shows no device node" \
				sh -c "[ -z \"\$(find '$MNT' \\( -type c -o -type b \\) 2>/dev/null)\" ]"
			mv_front_stop
		else
			t_check "$RT: submounts: the container's /dev tmpfs is refused or served without devices" \
				sh -c "[ '$(mv_step_rc "$id" devsrc)' != 0 ]"
		fi
		t_step_ok "$RT: propagation: the container made its whole tree shared (--make-rshared /)" "$id" rshared
		t_step_ok "$RT: propagation: ... shared a plain directory of its root mount" "$id" share2
		t_step_ok "$RT: propagation: ... and bound its /proc under that directory" "$id" post2
		if [ "$(mv_step_rc "$id" share2)" = 0 ] && mv_front_start "/proc/$pid/root/run/p2.sock" "$MNT"; then
			if [ -e "$MNT/post/sys/kernel/core_pattern" ]; then
				t_fail "$RT: propagation: with / rshared, a /proc bound under a shared directory stays out of the share" \
					"the container's procfs propagated into the share: $MNT/post: $(ls "$MNT/post" | head -n 8 | tr '\n' ' ')..."
			else
				t_check "$RT: propagation: with / rshared, a /proc bound under a shared directory stays out of the share" \
					sh -c "[ -z \"\$(ls -A '$MNT/post')\" ]"
			fi
			mv_front_stop
		fi
		mv_sync_go "$ROOTFS" "$id.dev"
	fi
	mv_wait "$id"
}

# Ids: files the container does not own stay out of the guest's reach.
test_ids() {
	local id=vfsr-$RT-ids pid
	cat >"$ROOTFS/ids.sh" <<'EOF'
tok=$1
touch /run/fs0.sock /run/ro.sock
mvstep share mount -t vhost-user-fs /srv/data /run/fs0.sock
mkdir -p /srv/rodata
mvstep robind /usr/bin/mount --bind /srv/data /srv/rodata
mvstep roremount /usr/bin/mount -o remount,bind,ro /srv/rodata
mvstep roshare mount -t vhost-user-fs /srv/rodata /run/ro.sock
mvstep nonroot /usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all \
	--bounding-set=-all mount -t vhost-user-fs /srv/data /run/ro.sock
mvsync "$tok.shared"
mvstep umount umount /run/fs0.sock
EOF
	bundle "$id" -- sh /ids.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: ids: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
		t_check "$RT: ids: a host-root 0600 file in the share is unreadable through the guest" \
			sh -c "! cat '$MNT/rootonly' 2>/dev/null"
		t_check "$RT: ids: a host-root 0644 file in the share is unwritable through the guest" \
			sh -c "! sh -c 'echo x >>\"$MNT/rootro\"' 2>/dev/null && [ \"\$(cat '$ROOTFS/srv/data/rootro')\" = 'host file' ]"
		t_check "$RT: ids: a host-root file cannot be chmod'ed through the guest" \
			sh -c "! chmod 0666 '$MNT/rootonly' 2>/dev/null && [ \"\$(stat -c %a '$ROOTFS/srv/data/rootonly')\" = 600 ]"
		t_check "$RT: ids: a file the guest creates belongs to the container's root (100000)" \
			sh -c "echo y >'$MNT/mine' && [ \"\$(stat -c %u '$ROOTFS/srv/data/mine')\" = 100000 ]"
		t_check "$RT: ids: a hard link to a host-root file is refused" \
			sh -c "! ln '$MNT/rootonly' '$MNT/rootlink' 2>/dev/null && [ ! -e '$ROOTFS/srv/data/rootlink' ]"
		t_check "$RT: ids: a chown to an id the container does not map (70000) fails" \
			sh -c "! chown 70000 '$MNT/mine' 2>/dev/null && [ \"\$(stat -c %u '$ROOTFS/srv/data/mine')\" = 100000 ]"
		t_check "$RT: ids: a chown to host root's own id through the guest lands on the container's (100000)" \
			sh -c "chown 0:0 '$MNT/mine' && [ \"\$(stat -c %u:%g '$ROOTFS/srv/data/mine')\" = 100000:100000 ]"
		t_check "$RT: ids: a file created by guest uid 70000 is refused (unmapped)" \
			sh -c "! setpriv --reuid 70000 --regid 70000 --clear-groups sh -c 'echo z >\"$MNT/by70000\"' 2>/dev/null; [ ! -e '$ROOTFS/srv/data/by70000' ] || [ \"\$(stat -c %u '$ROOTFS/srv/data/by70000')\" -ge 100000 ]"
		rm -f "$MNT/mine" "$MNT/by70000"
		mv_front_stop
	else
		t_fail "$RT: ids: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	t_step_errno "$RT: ids: a container user without CAP_SYS_ADMIN cannot share (EPERM)" \
		"$id" nonroot EPERM
	t_step_ok "$RT: ids: a share of the container's read-only bind mount (no -o ro)" "$id" roshare
	if mv_front_start "/proc/$pid/root/run/ro.sock" "$MNT"; then
		t_check "$RT: ids: ... refuses the guest's writes (the copy keeps the mount's ro)" \
			sh -c "! touch '$MNT/rowrite' 2>/dev/null && [ ! -e '$ROOTFS/srv/data/rowrite' ]"
		mv_front_stop
	else
		t_fail "$RT: ids: front-end mounts the read-only share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -f "$ROOTFS/srv/data/mine" "$ROOTFS/srv/data/by70000" "$ROOTFS/srv/data/rootlink"
}

# The socket mount: copies, moves, lazy umount, reconnects.
test_socket() {
	local id=vfsr-$RT-sock pid pids a b c
	cat >"$ROOTFS/sock.sh" <<'EOF'
tok=$1
M=/usr/bin/mount
touch /run/a.sock /run/a2.sock /run/b.sock /run/bm.sock /run/c.sock
mvstep share_a mount -t vhost-user-fs /srv/data /run/a.sock
mvstep bind_a $M --bind /run/a.sock /run/a2.sock
mvstep chmod_a chmod 0666 /run/a.sock
mvsync "$tok.a0"
mvstep umount_a umount /run/a.sock
mvsync "$tok.a"
mvstep umount_a2 umount /run/a2.sock
mvstep share_b mount -t vhost-user-fs /srv/data /run/b.sock
mvstep move_b $M --move /run/b.sock /run/bm.sock
mvsync "$tok.b"
mvstep umount_bm umount /run/bm.sock
mvstep umount_b umount /run/b.sock
mvstep share_c mount -t vhost-user-fs /srv/data /run/c.sock
mvstep detach_c umount -l /run/c.sock
mvsync "$tok.c"
EOF
	bundle "$id" -- sh /sock.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 120
	if ! mv_sync_wait "$ROOTFS" "$id.a0" 60; then
		t_fail "$RT: socket: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	a=$(mv_share_pids "$id" | sed -n 1p)
	t_step_ok "$RT: socket: the share mounts" "$id" share_a
	# The socket mount's root is an unlinked file: the kernel lets nobody
	# attach a copy of it, or move it.
	t_step_errno "$RT: socket: a bind copy of the socket mount is refused (ENOENT: its root is unlinked)" \
		"$id" bind_a ENOENT
	t_step_ok "$RT: socket: the container may chmod its socket (it owns it)" "$id" chmod_a
	t_check "$RT: socket: the bound socket is the container's root's (100000), nobody else's" \
		[ "$(stat -c %u:%g:%F "/proc/$pid/root/run/a.sock")" = "100000:100000:socket" ]
	t_check "$RT: socket: nothing connects at the would-be copy" not_connects "/proc/$pid/root/run/a2.sock"
	if mv_front_start "/proc/$pid/root/run/a.sock" "$MNT"; then
		mv_front_stop
		if mv_front_start "/proc/$pid/root/run/a.sock" "$MNT"; then
			t_check "$RT: socket: a VMM that reconnects gets the share again" \
				[ "$(cat "$MNT/hello.txt")" = "container data" ]
			mv_front_stop
		else
			t_fail "$RT: socket: a VMM that reconnects gets the share again" "$(cat "$MV_TMP/front.log")"
		fi
	else
		t_fail "$RT: socket: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.a0"
	if mv_sync_wait "$ROOTFS" "$id.a" 30; then
		t_step_ok "$RT: socket: umount of the socket" "$id" umount_a
		t_check "$RT: socket: umount of the socket stops vfsd" gone "$a"
		mv_sync_go "$ROOTFS" "$id.a"
	else
		t_fail "$RT: socket: container got past umount of the original" "$(cat "$(mv_out "$id")")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.b" 30; then
		b=$(mv_share_pids "$id" | sed -n 2p)
		t_step_errno "$RT: socket: the would-be copy is no mount (EINVAL)" "$id" umount_a2 EINVAL
		t_step_ok "$RT: socket: a second share mounts after the umount (slot freed)" "$id" share_b
		t_step_errno "$RT: socket: mount --move of the socket mount is refused (ENOENT: its root is unlinked)" \
			"$id" move_b ENOENT
		mv_sync_go "$ROOTFS" "$id.b"
	else
		t_fail "$RT: socket: container got to its moved share" "$(cat "$(mv_out "$id")")"
	fi
	if mv_sync_wait "$ROOTFS" "$id.c" 30; then
		c=$(mv_share_pids "$id" | sed -n 3p)
		t_step_errno "$RT: socket: umount of the would-be moved path is EINVAL" "$id" umount_bm EINVAL
		t_step_ok "$RT: socket: umount of the unmoved socket" "$id" umount_b
		t_check "$RT: socket: ... stops its vfsd" gone "$b"
		t_step_ok "$RT: socket: a third share mounts" "$id" share_c
		t_step_ok "$RT: socket: umount -l (MNT_DETACH) of the socket" "$id" detach_c
		t_check "$RT: socket: umount -l (MNT_DETACH) of the socket stops vfsd" gone "$c" ||
			mv_explain "$id"
		mv_sync_go "$ROOTFS" "$id.c"
	else
		t_fail "$RT: socket: container got to its detached share" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	pids=$(mv_share_pids "$id")
	t_check "$RT: socket: no vfsd of the container left after its exit" gone $pids
	t_check "$RT: socket: no socket left in /run/mountvisor" sh -c "[ -z \"\$(find /run/mountvisor -maxdepth 1 -name 'vfsd-$NOTIFYD_PID-*.sock')\" ]"
}

# File capabilities the guest sets (xattr allowed, the container's root
# has CAP_SETFCAP): on the host they count only in the container's user
# namespace (v3, rootid 100000), never as host-wide v2 capabilities.
test_fcaps() {
	local id=vfsr-$RT-fcaps pid caps
	cat >"$ROOTFS/fcaps.sh" <<'EOF'
tok=$1
touch /run/x.sock
mvstep share mount -t vhost-user-fs -o xattr /srv/data /run/x.sock
mvsync "$tok.shared"
EOF
	bundle "$id" --profile xattr -- sh /fcaps.sh "$id" || return
	jq '.process.capabilities |= with_entries(.value += ["CAP_SETFCAP"])' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: fcaps: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	if mv_front_start "/proc/$pid/root/run/x.sock" "$MNT"; then
		cp /bin/true "$MNT/capbin" 2>/dev/null
		setcap cap_sys_admin+ep "$MNT/capbin" 2>"$MV_TMP/setcap.err"
		caps=$(/usr/bin/python3 - "$ROOTFS/srv/data/capbin" <<'EOF'
import os, struct, sys
try:
    v = os.getxattr(sys.argv[1], "security.capability")
except OSError as e:
    print("none (%s)" % e.strerror)
    sys.exit(0)
magic = struct.unpack("<I", v[:4])[0]
if len(v) == 24 and magic >> 24 == 3:
    print("v3 rootid=%d" % struct.unpack("<I", v[20:24])[0])
else:
    print("v%d (%d bytes): host-wide" % (magic >> 24, len(v)))
EOF
)
		t_diag "setcap cap_sys_admin+ep through the guest: $(cat "$MV_TMP/setcap.err"); on the host: $caps"
		case $caps in
		none* | "v3 rootid=100000")
			t_ok "$RT: fcaps: a capability the guest sets is no host-wide (v2) file capability ($caps)" ;;
		*)
			t_fail "$RT: fcaps: a capability the guest sets is no host-wide (v2) file capability" \
				"security.capability of the guest's file on the host: $caps" \
				"(the container's root, setting it itself, gets v3 rootid=100000)" ;;
		esac
		rm -f "$MNT/capbin"
		mv_front_stop
	else
		t_fail "$RT: fcaps: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -f "$ROOTFS/srv/data/capbin"
}

# A VMM that holds its connection (and a second one waiting behind it)
# cannot keep a share alive past its umount.
test_held() {
	local id=vfsr-$RT-held pid vpid child hold
	cat >"$ROOTFS/held.sh" <<'EOF'
tok=$1
touch /run/h.sock
mvstep share mount -t vhost-user-fs /srv/data /run/h.sock
mvsync "$tok.shared"
mvstep umount umount /run/h.sock
mvsync "$tok.done"
EOF
	bundle "$id" -- sh /held.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: held: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	vpid=$(mv_share_pids "$id" | head -n1)
	child=$(mv_share_server "$vpid")
	if mv_front_start "/proc/$pid/root/run/h.sock" "$MNT"; then
		# A second VMM connects and says nothing.
		/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(30)' "/proc/$pid/root/run/h.sock" &
		hold=$!
		sleep 0.3
		mv_sync_go "$ROOTFS" "$id.shared"
		if mv_sync_wait "$ROOTFS" "$id.done" 30; then
			t_step_ok "$RT: held: umount with a VMM connected and another waiting" "$id" umount
			t_check "$RT: held: ... stops vfsd (waiting parent)" gone "$vpid"
			t_check "$RT: held: ... and its sandboxed server" gone "${child:-0}"
			t_check "$RT: held: the connected guest gets errors, not the share" \
				sh -c "! timeout 5 cat '$MNT/hello.txt' >/dev/null 2>&1"
		else
			t_fail "$RT: held: container got past its umount" "$(cat "$(mv_out "$id")")"
		fi
		kill "$hold" 2>/dev/null
		wait "$hold" 2>/dev/null
		mv_front_stop
	else
		t_fail "$RT: held: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
		mv_sync_go "$ROOTFS" "$id.shared"
	fi
	mv_sync_go "$ROOTFS" "$id.done"
	mv_wait "$id"
}

# A share over another share's socket, and targets that lead elsewhere.
test_stack() {
	local id=vfsr-$RT-stack pid v1
	cat >"$ROOTFS/stack.sh" <<'EOF'
tok=$1
touch /run/s.sock /run/real.sock
ln -sf ../../../../../run/real.sock /run/uplink.sock
mvstep s1 mount -t vhost-user-fs /srv/data /run/s.sock
mvstep s2 mount -t vhost-user-fs /srv/data /run/s.sock
mvstep magic mount -t vhost-user-fs /srv/data /proc/1/root/run/real.sock
mvstep fdmagic sh -c 'exec 5</run/real.sock; mount -t vhost-user-fs /srv/data /proc/self/fd/5'
mvsync "$tok.stacked"
mvstep u1 umount /run/s.sock
mvstep u2 umount /run/s.sock
mvstep link mount -t vhost-user-fs /srv/data /run/uplink.sock
mvsync "$tok.link"
EOF
	bundle "$id" -- sh /stack.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.stacked" 60; then
		t_fail "$RT: stack: container got to its shares" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	v1=$(mv_share_pids "$id" | sed -n 1p)
	t_step_ok "$RT: stack: a share on /run/s.sock" "$id" s1
	t_step_errno "$RT: stack: a second share over its socket is ENOENT (the socket mount's root is unlinked)" \
		"$id" s2 ENOENT
	t_check "$RT: stack: the first share still serves" connects "/proc/$pid/root/run/s.sock"
	t_step_errno "$RT: stack: a target through /proc/1/root (a magic link) is ELOOP" "$id" magic ELOOP
	t_step_errno "$RT: stack: a target through /proc/self/fd/N is refused (ENOENT or ELOOP)" \
		"$id" fdmagic "ENOENT|ELOOP"
	mv_sync_go "$ROOTFS" "$id.stacked"
	if mv_sync_wait "$ROOTFS" "$id.link" 30; then
		t_step_ok "$RT: stack: umount of the share" "$id" u1
		t_check "$RT: stack: ... stops its vfsd" gone "$v1"
		t_step_errno "$RT: stack: a second umount is the kernel's EINVAL" "$id" u2 EINVAL
		t_step_ok "$RT: stack: a target given as a relative symlink climbing out of / mounts" "$id" link
		t_check "$RT: stack: ... over the container's own /run/real.sock" \
			connects "/proc/$pid/root/run/real.sock"
		mv_sync_go "$ROOTFS" "$id.link"
	else
		t_fail "$RT: stack: container got to its symlinked target" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
}

# What vfsd can reach: fds, mounts, capabilities, cgroup, namespaces.
test_vfsd_view() {
	local id=vfsr-$RT-view pid vpid child st cst fd t bad=
	cat >"$ROOTFS/view.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep share mount -t vhost-user-fs /srv/data /run/fs0.sock
mvsync "$tok.shared"
EOF
	bundle "$id" -- sh /view.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: vfsd: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	vpid=$(mv_share_pids "$id" | head -n1)
	child=$(mv_share_server "$vpid")
	# Let a guest look something up first so vfsd holds inode fds.
	if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
		cat "$MNT/hello.txt" >/dev/null
		ls -la "$MNT" >/dev/null
	fi
	for fd in /proc/"$child"/fd/*; do
		t=$(readlink "$fd") || continue # closed meanwhile
		case $t in
		/dev/null | pipe:* | socket:* | anon_inode:*) ;;
		/*)
			# A directory or file of the share (it is vfsd's /) or its /proc.
			if [ "$(stat -L -c %d:%i "$fd")" = "$(stat -c %d:%i "$ROOTFS/srv/data")" ] ||
				[ "$(stat -f -L -c %T "$fd")" = proc ] ||
				[ -n "$(find "$ROOTFS/srv/data" -xdev -inum "$(stat -L -c %i "$fd")" 2>/dev/null)" ]; then
				:
			else
				bad+="$fd -> $t; "
			fi
			;;
		*) bad+="$fd -> $t; " ;;
		esac
	done
	t_check "$RT: vfsd: every fd of vfsd leads into the share, its /proc, /dev/null, a pipe or a socket" \
		[ -z "$bad" ]
	[ -n "$bad" ] && t_diag "$bad"
	t_check "$RT: vfsd: its waiting parent holds only stdio" \
		sh -c "[ \"\$(ls /proc/$vpid/fd | sort -n | tr '\n' ' ')\" = '0 1 2 ' ]"
	t_check "$RT: vfsd: its mount table is the share alone" \
		sh -c "[ \"\$(awk '{print \$5}' /proc/$child/mountinfo | tr '\n' ' ')\" = '/ ' ]"
	st=$(cat "/proc/$child/status" 2>/dev/null)
	cst=$(cat "/proc/$pid/status" 2>/dev/null)
	t_check "$RT: vfsd: its effective capabilities are a subset of the container's" \
		[ $(((16#$(awk '/^CapEff/ {print $2}' <<<"$st")) & ~(16#$(awk '/^CapEff/ {print $2}' <<<"$cst")))) = 0 ]
	t_check "$RT: vfsd: its bounding set has no CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE" \
		[ $(((16#$(awk '/^CapBnd/ {print $2}' <<<"$st")) & ((1 << 21) | (1 << 19) | (1 << 16)))) = 0 ]
	t_check "$RT: vfsd: no new privileges (setuid files cannot raise it)" \
		grep -qE '^NoNewPrivs:[[:space:]]+1' <<<"$st"
	t_check "$RT: vfsd: it runs in the container's cgroup" \
		[ "$(cat "/proc/$child/cgroup")" = "$(cat "/proc/$pid/cgroup")" ]
	t_check "$RT: vfsd: it has no network but its own (empty) namespace" \
		sh -c "[ \"\$(readlink /proc/$child/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]"
	t_check "$RT: vfsd: the container cannot see it (outside its pid namespace)" \
		sh -c "! grep -qlw vfsd /proc/$pid/root/proc/[0-9]*/comm 2>/dev/null"
	mv_front_stop
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	t_check "$RT: vfsd: the share's vfsd goes with the container" gone "$vpid"
}

# The container exits with its share up after a guest request of another
# uid: the sandboxed vfsd must go with its waiting parent.
test_exit_served() {
	local id=vfsr-$RT-served pid vpid child
	mkdir -p "$ROOTFS/srv/data/pub"
	chown 100000:100000 "$ROOTFS/srv/data/pub"
	chmod 1777 "$ROOTFS/srv/data/pub"
	cat >"$ROOTFS/served.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep share mount -t vhost-user-fs /srv/data /run/fs0.sock
mvsync "$tok.shared"
EOF
	bundle "$id" -- sh /served.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: exit-served: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	vpid=$(mv_share_pids "$id" | head -n1)
	child=$(mv_share_server "$vpid")
	if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
		t_check "$RT: exit-served: guest uid 1000 creates a file (vfsd switches its fsuid)" \
			setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "echo u >'$MNT/pub/u1000'"
		mv_front_stop
	else
		t_fail "$RT: exit-served: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	t_check "$RT: exit-served: the waiting vfsd goes with the container" gone "$vpid"
	t_check "$RT: exit-served: the sandboxed vfsd (pid ${child:-?}) goes with it" gone "${child:-0}"
	rm -rf "$ROOTFS/srv/data/pub"
}

# Two shares starting at the same moment (one container, two mounts in
# parallel -- or two containers): each must complete, and notifyd must go
# on serving everybody.
test_concurrent() {
	local id round stuck= t0 pid
	cat >"$ROOTFS/conc.sh" <<'EOF'
touch /run/c1.sock /run/c2.sock
mount -t vhost-user-fs /srv/data /run/c1.sock &
mount -t vhost-user-fs /srv/data /run/c2.sock &
wait
echo both-answered
EOF
	# Each round: two containers, two mounts each, at the same time.
	for ((round = 0; round < 10; round++)); do
		[ -n "$stuck" ] && break
		t0=$SECONDS
		for id in "vfsr-$RT-conc-$round-a" "vfsr-$RT-conc-$round-b"; do
			bundle "$id" -- sh /conc.sh || return
			mv_start "$RT" "$MV_TMP/$id" "$id" 20
		done
		mv_wait "vfsr-$RT-conc-$round-a"
		mv_wait "vfsr-$RT-conc-$round-b"
		sleep 3
		stuck=$(unwedge)
		[ -n "$stuck" ] && stuck+=$'\n'"(round $round: $(grep -lc both-answered "$(mv_out "vfsr-$RT-conc-$round-a")" "$(mv_out "vfsr-$RT-conc-$round-b")" 2>/dev/null | wc -l) of 2 containers had both mounts answered within $((SECONDS - t0)) s)"
	done
	if [ -z "$stuck" ]; then
		t_ok "$RT: concurrent: 2 x 2 shares started at once, 10 times: every mount answered, no helper stuck"
	else
		t_fail "$RT: concurrent: two shares started at once never wedge notifyd's workers" \
			"$stuck" "each stuck pair holds a worker thread in waitid() for good (--workers 4 by default: two pairs stop notifyd for every container); killed here"
	fi
	# notifyd serves the next container (after the kill above, if any).
	id=vfsr-$RT-conc-after
	cat >"$ROOTFS/conc2.sh" <<'EOF'
touch /run/c3.sock
mvstep share mount -t vhost-user-fs /srv/data /run/c3.sock
EOF
	bundle "$id" -- sh /conc2.sh || return
	mv_run "$RT" "$MV_TMP/$id" "$id" 30
	t_step_ok "$RT: concurrent: a share of the next container works" "$id" share
}

# Many mounts at once against max-shares = 2.
test_parallel() {
	local id=vfsr-$RT-par pids n live=0 p
	cat >"$ROOTFS/par.sh" <<'EOF'
tok=$1
for i in 1 2 3 4 5 6 7 8; do touch /run/p$i.sock; done
for i in 1 2 3 4 5 6 7 8; do
	(mount -t vhost-user-fs /srv/data /run/p$i.sock 2>/tmp/par$i.err; echo "rc$i=$?") &
done
wait
cat /tmp/par*.err
mvsync "$tok.done"
EOF
	bundle "$id" -- sh /par.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.done" 60; then
		t_fail "$RT: parallel: container got through its mounts" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	n=$(grep -c '^rc[0-9]=0$' "$(mv_out "$id")")
	pids=$(mv_share_pids "$id")
	for p in $pids; do alive "$p" && live=$((live + 1)); done
	t_check "$RT: parallel: of 8 mounts at once at most max-shares = 2 succeed (got $n)" [ "$n" -le 2 ]
	t_check "$RT: parallel: at most 2 vfsd run for the container (got $live)" [ "$live" -le 2 ]
	t_check "$RT: parallel: the refused ones say ENOSPC (or EAGAIN/EBUSY: too many pending)" \
		sh -c "! grep -E '^mount:' '$(mv_out "$id")' | grep -vqE 'No space left|try again|busy'"
	mv_sync_go "$ROOTFS" "$id.done"
	mv_wait "$id"
	t_check "$RT: parallel: every vfsd went with the container" gone $pids
	p=$(unwedge)
	[ -n "$p" ] && t_diag "parallel: stuck helpers killed (see concurrent): $p"
}

# Another container, same notifyd, same target path.
test_others() {
	local ida=vfsr-$RT-oa idb=vfsr-$RT-ob va
	cat >"$ROOTFS/oa.sh" <<'EOF'
tok=$1
touch /run/o1.sock /run/o2.sock
mvstep s1 mount -t vhost-user-fs /srv/data /run/o1.sock
mvstep s2 mount -t vhost-user-fs /srv/data /run/o2.sock
mvsync "$tok.a"
EOF
	cat >"$ROOTFS/ob.sh" <<'EOF'
touch /run/o1.sock /run/o2.sock
mvstep u1 umount /run/o1.sock
mvstep u1l umount -l /run/o1.sock
mvstep s1 mount -t vhost-user-fs /srv/data /run/o1.sock
mvstep s2 mount -t vhost-user-fs /srv/data /run/o2.sock
EOF
	bundle "$ida" -- sh /oa.sh "$ida" || return
	bundle "$idb" -- sh /ob.sh || return
	mv_start "$RT" "$MV_TMP/$ida" "$ida" 90
	if ! mv_sync_wait "$ROOTFS" "$ida.a" 60; then
		t_fail "$RT: others: first container got its shares" "$(cat "$(mv_out "$ida")")"
		mv_wait "$ida"
		return
	fi
	va=$(mv_share_pids "$ida")
	mv_run "$RT" "$MV_TMP/$idb" "$idb" 60
	t_step_errno "$RT: others: umount of the same path in another container is the kernel's EINVAL" \
		"$idb" u1 EINVAL
	t_step_errno "$RT: others: umount -l of the same path in another container is EINVAL" \
		"$idb" u1l EINVAL
	t_step_ok "$RT: others: the other container's first share (its own max-shares)" "$idb" s1
	t_step_ok "$RT: others: the other container's second share (its own max-shares)" "$idb" s2
	t_check "$RT: others: the first container's vfsd survive the other's umounts and exit" \
		sh -c "for p in $(echo $va); do kill -0 \$p || exit 1; done"
	t_check "$RT: others: the other container's vfsd went with it" gone $(mv_share_pids "$idb")
	mv_sync_go "$ROOTFS" "$ida.a"
	mv_wait "$ida"
	t_check "$RT: others: the first container's vfsd went with it" gone $va
}

# The container exits in the middle of a mount, or with shares up.
test_exit() {
	local id d ids=() pids=() p leaked= i
	# The windows are a few ms wide around the time a share takes to start:
	# two rounds of exits spread over it.
	for d in 0 0.005 0.0075 0.01 0.0125 0.015 0.0175 0.02 0.0225 0.025 0.03 0.035 0.04 0.05 0.1 \
		0 0.005 0.0075 0.01 0.0125 0.015 0.0175 0.02 0.0225 0.025 0.03 0.035 0.04 0.05; do
		id=vfsr-$RT-exit-${#ids[@]}-${d/./}
		ids+=("$id")
		cat >"$ROOTFS/exit.sh" <<EOF
for i in 1 2; do touch /run/e\$i.sock; done
mount -t vhost-user-fs /srv/data /run/e1.sock &
mount -t vhost-user-fs /srv/data /run/e2.sock &
sleep $d
echo exiting
EOF
		bundle "$id" -- sh /exit.sh || return
		mv_run "$RT" "$MV_TMP/$id" "$id" 60
	done
	sleep 1
	for id in "${ids[@]}"; do
		for p in $(mv_share_pids "$id"); do
			pids+=("$p")
			gone "$p" >/dev/null ||
				leaked+="vfsd pid=$p of $id still runs, started by: $(mv_decisions "$id" | grep "vfsd pid=$p ")"$'\n'
		done
	done
	if [ -z "$leaked" ]; then
		t_ok "$RT: exit: containers that exit mid-mount leave no vfsd notifyd started (${#pids[@]} shares started)"
	else
		t_fail "$RT: exit: containers that exit mid-mount leave no vfsd notifyd started (${#pids[@]} shares started)" \
			"$leaked"
	fi
	# The sandboxed server under each: pid 1 of its own pid namespace, it
	# must die with its waiting parent (PR_SET_PDEATHSIG).
	leaked=
	for p in $(our_vfsd); do
		[ "$(awk '/^NSpid/ {print $3}' "/proc/$p/status")" = 1 ] &&
			[ "$(awk '/^PPid/ {print $2}' "/proc/$p/status")" = 1 ] &&
			leaked+="sandboxed vfsd $p (pid 1 of its pid namespace) runs on, its parent gone (PPid 1)"$'\n'
	done
	if [ -z "$leaked" ]; then
		t_ok "$RT: exit: ... and no sandboxed vfsd orphaned under them"
	else
		t_fail "$RT: exit: ... and no sandboxed vfsd orphaned under them" "$leaked"
	fi
	kill_leaked_vfsd
	p=$(unwedge)
	[ -n "$p" ] && t_diag "exit: stuck helpers killed (see concurrent): $p"
	# Workers freed just now finish their requests (and unlink their sockets).
	for ((i = 0; i < 50; i++)); do
		[ -z "$(run_sockets)" ] && break
		sleep 0.1
	done
	t_check "$RT: exit: ... and no socket in /run/mountvisor" sh -c "[ -z '$(run_sockets)' ]"
	t_check "$RT: exit: notifyd is alive" mv_notifyd_alive
}

# A share mounted from an exec entry (another listener connection).
test_exec() {
	local id=vfsr-$RT-exec vpid out i
	cat >"$ROOTFS/exec.sh" <<'EOF'
tok=$1
touch /run/x.sock
mvsync "$tok.up"
EOF
	bundle "$id" -- sh /exec.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.up" 60; then
		t_fail "$RT: exec: container up" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	out=$(mv_rt "$RT" exec "$id" mount -t vhost-user-fs /srv/data /run/x.sock 2>&1)
	for ((i = 0; i < 50; i++)); do
		vpid=$(mv_share_pids "$id" | head -n1)
		[ -n "$vpid" ] && break
		mv_errno_in ENOSYS "$out" && break
		sleep 0.1
	done
	if [ -z "$vpid" ] && mv_errno_in ENOSYS "$out" && [ -z "$(mv_decisions "$id")" ]; then
		# The runtime gave notifyd no listener for the exec entry.
		t_skip "$RT: exec: a share from an exec entry" "$RT exec hands no seccomp listener over: $out"
		mv_sync_go "$ROOTFS" "$id.up"
		mv_wait "$id"
		return
	fi
	t_check "$RT: exec: an exec entry mounts a share" [ -n "$vpid" ] ||
		{ t_diag "$RT exec: $out"; mv_explain "$id"; }
	t_check "$RT: exec: the share outlives the exec entry" alive "${vpid:-0}"
	# max-shares = 2 is the container's, whichever entry asks.
	out=$(mv_rt "$RT" exec "$id" sh -c 'touch /run/y.sock /run/z.sock;
		mount -t vhost-user-fs /srv/data /run/y.sock && echo second-ok;
		mount -t vhost-user-fs /srv/data /run/z.sock && echo third-ok' 2>&1)
	t_check "$RT: exec: a second share from another exec entry (max-shares = 2)" \
		grep -q second-ok <<<"$out"
	t_check "$RT: exec: a third share, from yet another entry, is ENOSPC (max-shares counts the container)" \
		sh -c "! grep -q third-ok <<'EOT'
$out
EOT
grep -q 'No space left' <<'EOT'
$out
EOT"
	out=$(mv_rt "$RT" exec "$id" sh -c 'touch /run/w.sock; mount -t vhost-user-fs /srv/data /run/w.sock' 2>&1)
	t_check "$RT: exec: ... also from a fresh exec entry (ENOSPC)" mv_errno_in ENOSPC "$out"
	t_diag "$RT: exec: shares of $id now: $(mv_share_pids "$id" | wc -l) (max-shares = 2)"
	mv_sync_go "$ROOTFS" "$id.up"
	mv_wait "$id"
	t_check "$RT: exec: the shares of exec entries go with the container" gone $(mv_share_pids "$id")
}

# Round 2.  xattr share: trusted.* and POSIX ACLs naming ids the guest picks.
# The guest (host root's front-end, so the ids in the ACL are taken as they
# are) names container id 5000, an id the container does not map (70000) and
# (uid_t)-1; on the host only ids of the container's range (100000..165535)
# may appear, and no trusted.* xattr.
acl_xattr() { # acl_xattr FILE UID : sets user:UID:rw- as system.posix_acl_access
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import os, struct, sys
u = int(sys.argv[2])
v = struct.pack("<I", 2)
for tag, perm, i in ((1, 6, 0xffffffff), (2, 6, u), (4, 4, 0xffffffff), (0x10, 6, 0xffffffff), (0x20, 4, 0xffffffff)):
    v += struct.pack("<HHI", tag, perm, i)
try:
    os.setxattr(sys.argv[1], "system.posix_acl_access", v)
    print("set")
except OSError as e:
    print("refused (%s)" % e.strerror)
EOF
}
acl_ids() { # acl_ids FILE : the named user ids of FILE's access ACL, as stored
	/usr/bin/python3 - "$1" <<'EOF'
import os, struct, sys
try:
    v = os.getxattr(sys.argv[1], "system.posix_acl_access")
except OSError:
    sys.exit(0)
for o in range(4, len(v), 8):
    tag, perm, i = struct.unpack("<HHI", v[o:o + 8])
    if tag == 2:
        print(i)
EOF
}
test_xattr_ids() {
	local id=vfsr-$RT-xids pid out got u f
	cat >"$ROOTFS/xids.sh" <<'EOF'
tok=$1
touch /run/x.sock
mvstep share mount -t vhost-user-fs -o xattr /srv/data /run/x.sock
mvsync "$tok.shared"
EOF
	bundle "$id" --profile xattr -- sh /xids.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: xattr ids: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	if mv_front_start "/proc/$pid/root/run/x.sock" "$MNT"; then
		t_diag "$RT: xattr ids: $(mv_decisions "$id" | grep -o 'ids=[a-z]*' | head -n1)"
		echo x >"$MNT/xfile"
		out=$(/usr/bin/python3 -c 'import os,sys
try:
    os.setxattr(sys.argv[1], "trusted.rt2", b"x"); print("set")
except OSError as e:
    print("refused (%s)" % e.strerror)' "$MNT/xfile")
		got=$(
			/usr/bin/python3 -c 'import os,sys
try:
    print(os.getxattr(sys.argv[1], "trusted.rt2"))
except OSError:
    pass' "$ROOTFS/srv/data/xfile")
		if [ -z "$got" ]; then
			t_ok "$RT: xattr ids: a trusted.* xattr the guest sets does not reach the host file (guest: $out)"
		else
			t_fail "$RT: xattr ids: a trusted.* xattr the guest sets does not reach the host file" \
				"guest setxattr trusted.rt2: $out; on the host the file has trusted.rt2=$got" \
				"(trusted.* needs CAP_SYS_ADMIN in the host's user namespace; the container lacks it)"
		fi
		for u in 5000 70000 4294967294; do
			f=$MNT/acl$u
			echo x >"$f"
			out=$(acl_xattr "$f" "$u")
			got=$(acl_ids "$ROOTFS/srv/data/acl$u" | tr '\n' ' ')
			if [ -z "$(for i in $got; do
				[ "$i" -ge 100000 ] && [ "$i" -le 165535 ] || echo "$i"
			done)" ]; then
				t_ok "$RT: xattr ids: an ACL naming guest uid $u stores only ids of the container's range (guest: $out; host ids: ${got:-none})"
			else
				t_fail "$RT: xattr ids: an ACL naming guest uid $u stores only ids of the container's range" \
					"guest set system.posix_acl_access user:$u:rw-: $out" \
					"on the host the ACL names uid(s) $got: outside 100000..165535, a host user the container cannot name"
			fi
		done
		rm -f "$MNT/xfile" "$MNT"/acl*
		mv_front_stop
	else
		t_fail "$RT: xattr ids: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -f "$ROOTFS/srv/data/xfile" "$ROOTFS/srv/data"/acl*
}

# Round 2.  The VMM's side of the socket: SO_PEERCRED and SO_PEERPIDFD name
# whoever called listen() -- notifyd.  The container's root (its user and pid
# namespace) gets a pidfd of host-root notifyd that way; it must not signal
# it (signal 0 is the permission check alone), take its fds or join its
# namespaces.
test_peerpidfd() {
	local id=vfsr-$RT-peer pid out
	cat >"$ROOTFS/peer.sh" <<'EOF'
tok=$1
touch /run/x.sock
mvstep share mount -t vhost-user-fs /srv/data /run/x.sock
mvsync "$tok.shared"
EOF
	bundle "$id" -- sh /peer.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: peer: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	out=$(nsenter -t "$pid" -U -p -- /usr/bin/python3 - "/proc/$pid/root/run/x.sock" <<'EOF' 2>&1
import ctypes, errno, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def sc(n, *a):
    r = libc.syscall(n, *a)
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
print("ids", os.getuid(), "in the container's user namespace")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
p, u, g = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print("peercred pid=%d uid=%d gid=%d" % (p, u, g))
try:
    fd = struct.unpack("i", s.getsockopt(socket.SOL_SOCKET, 77, 4))[0]
except OSError as e:
    print("peerpidfd refused (%s)" % e.strerror)
    sys.exit(0)
print("peerpidfd", [l.strip() for l in open("/proc/self/fdinfo/%d" % fd) if l.startswith("NSpid")])
print("signal0", sc(424, fd, 0, None, 0))
print("getfd", sc(438, fd, 0, 0))
print("setns-mnt", sc(308, fd, 0x20000))
print("setns-net", sc(308, fd, 0x40000000))
EOF
)
	t_diag "$RT: peer: $out"
	if grep -q 'peercred' <<<"$out"; then
		if grep -Eq '^(signal0|getfd|setns-mnt|setns-net) ok' <<<"$out"; then
			t_fail "$RT: peer: the pidfd of the socket's listener (notifyd) gives the container no power over it" \
				"the container's root, connected to its share socket, got through SO_PEERPIDFD:" "$out"
		else
			t_ok "$RT: peer: the pidfd of the socket's listener (notifyd) gives the container no power over it (signal 0, pidfd_getfd, setns refused)"
		fi
	else
		t_fail "$RT: peer: the container's root connects to its share" "$out"
	fi
	t_check "$RT: peer: notifyd is alive" mv_notifyd_alive
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
}

# Round 2.  The 1-second sweep looks at the first 32 daemon records of gone
# entries only (fuse_daemon.c: sweep_orphans(), v[32]), newest first, and
# puts back those whose container lives.  A container allowed many shares
# (profile "many": max-shares = 40) makes 33 from a `runc exec` entry after
# a victim container made its own from an exec entry: once the victim exits,
# is its vfsd still stopped?  SWEEP_N=31 is the control (the victim's share
# is then swept).
test_sweep_starve() {
	local idv=vfsr-$RT-sv ida=vfsr-$RT-sa vpid out i n want=${SWEEP_N:-33}
	[ "$RT" = runc ] || return 0 # crun exec hands no listener (see exec)
	cat >"$ROOTFS/sv.sh" <<'EOF'
tok=$1
mvsync "$tok.up"
EOF
	bundle "$idv" -- sh /sv.sh "$idv" || return
	bundle "$ida" --profile many -- sh /sv.sh "$ida" || return
	mv_start "$RT" "$MV_TMP/$idv" "$idv" 120
	mv_start "$RT" "$MV_TMP/$ida" "$ida" 120
	if ! mv_sync_wait "$ROOTFS" "$idv.up" 60 || ! mv_sync_wait "$ROOTFS" "$ida.up" 60; then
		t_fail "$RT: sweep: containers up" "$(cat "$(mv_out "$idv")" "$(mv_out "$ida")")"
		mv_sync_go "$ROOTFS" "$idv.up"
		mv_sync_go "$ROOTFS" "$ida.up"
		mv_wait "$idv"
		mv_wait "$ida"
		return
	fi
	out=$(mv_rt "$RT" exec "$idv" sh -c 'touch /run/sv.sock; mount -t vhost-user-fs /srv/data /run/sv.sock' 2>&1)
	for ((i = 0; i < 50; i++)); do
		vpid=$(mv_share_pids "$idv" | head -n1)
		[ -n "$vpid" ] && break
		sleep 0.1
	done
	t_check "$RT: sweep: the victim's exec entry mounts a share" [ -n "$vpid" ] || t_diag "$out"
	out=$(mv_rt "$RT" exec "$ida" sh -c 'i=0; while [ $i -lt '"$want"' ]; do i=$((i+1));
		touch /run/s$i.sock; mount -t vhost-user-fs /srv/data /run/s$i.sock || echo "share $i failed"; done' 2>&1)
	n=$(mv_share_pids "$ida" | wc -l)
	t_check "$RT: sweep: the other container's exec entry made $want shares (max-shares = 40): $n" [ "$n" -ge "$want" ] ||
		t_diag "$out"
	# Both exec entries are gone now; the victim exits.
	mv_sync_go "$ROOTFS" "$idv.up"
	mv_wait "$idv"
	if gone "${vpid:-0}" >/dev/null && gone "${vpid:-0}" >/dev/null; then
		t_ok "$RT: sweep: the victim's exec share goes with the victim although $want of another container's wait in the sweep"
	else
		t_fail "$RT: sweep: the victim's exec share goes with the victim although $want of another container's wait in the sweep" \
			"container $idv exited 10 s ago; its vfsd pid $vpid (started by its exec entry) still runs:" \
			"sweep_orphans() in notifyd/fuse_daemon.c collects the first 32 gone-entry records (newest first) and" \
			"puts back those whose container lives: the $n newer ones of $ida take every slot, every second"
	fi
	mv_sync_go "$ROOTFS" "$ida.up"
	mv_wait "$ida"
	t_check "$RT: sweep: ... and the other container's $want go with it" gone $(mv_share_pids "$ida")
	kill_leaked_vfsd
}

# Round 2.  Two containers with the same id, one from each runtime (their
# own state directories): each has its own max-shares and the exit of one
# neither stops the other's shares nor, through the sweep, its exec share.
test_same_id() {
	local id=vfsr-same other ra rb pa pb va vb i out
	[ "$RT" = crun ] || return 0
	other=runc
	command -v "$other" >/dev/null || return 0
	cat >"$ROOTFS/same.sh" <<'EOF'
tok=$1
touch /run/$tok-1.sock /run/$tok-2.sock /run/$tok-3.sock
mvstep $tok-s1 mount -t vhost-user-fs /srv/data /run/$tok-1.sock
mvstep $tok-s2 mount -t vhost-user-fs /srv/data /run/$tok-2.sock
mvstep $tok-s3 mount -t vhost-user-fs /srv/data /run/$tok-3.sock
mvsync "$tok.up"
EOF
	mv_oci_bundle "$MV_TMP/same-a" "$ROOTFS" sh /same.sh same-a && mv_bind_host_libs "$MV_TMP/same-a" || return
	mv_oci_bundle "$MV_TMP/same-b" "$ROOTFS" sh /same.sh same-b && mv_bind_host_libs "$MV_TMP/same-b" || return
	mv_run "$RT" "$MV_TMP/same-a" "$id" 120 >/dev/null 2>&1 &
	ra=$!
	if ! mv_sync_wait "$ROOTFS" same-a.up 60; then
		t_fail "$RT: same id: first container got its shares" "$(cat "$(mv_out "$id")")"
		wait "$ra"
		return
	fi
	pa=$(mv_container_pid "$RT" "$id")
	va=$(mv_share_pids "$id")
	t_check "$RT: same id: the first container has 2 shares" [ "$(echo $va | wc -w)" = 2 ]
	t_step_errno "$RT: same id: ... its third is ENOSPC" "$id" same-a-s3 ENOSPC
	mv_run "$other" "$MV_TMP/same-b" "$id" 120 >/dev/null 2>&1 &
	rb=$!
	if ! mv_sync_wait "$ROOTFS" same-b.up 60; then
		t_fail "$RT: same id: second container ($other, same id) got up" "$(cat "$(mv_out "$id")")"
		mv_sync_go "$ROOTFS" same-a.up
		wait "$ra" "$rb"
		return
	fi
	pb=$(mv_container_pid "$other" "$id")
	vb=$(mv_share_pids "$id" | grep -vxF "$va")
	t_diag "same id $id: $RT init $pa vfsd $(echo $va); $other init $pb vfsd $(echo $vb)"
	t_check "$RT: same id: the $other container of the same id has its own 2 shares" [ "$(echo $vb | wc -w)" = 2 ]
	mv_sync_go "$ROOTFS" same-a.up
	wait "$ra"
	t_check "$RT: same id: the first container's vfsd go with it" gone $va
	sleep 2.5 # two sweeps
	t_check "$RT: same id: the $other container's vfsd live on after the other one of its id exits" \
		sh -c "for p in $(echo $vb); do kill -0 \$p || exit 1; done"
	out=$(connects "/proc/$pb/root/run/same-b-1.sock")
	t_check "$RT: same id: ... and its share still connects" [ -z "$out" ] || t_diag "$out"
	mv_sync_go "$ROOTFS" same-b.up
	wait "$rb"
	t_check "$RT: same id: the $other container's vfsd go with it" gone $vb
}

# Round 2.  Shares racing their umounts: two sockets mounted and unmounted
# (plain and lazy) at once, 60 rounds, then every socket unmounted.  No vfsd
# of the container may run on once its socket is gone (an umount between
# share_attach() recording the mount and fuse_daemon_add() registering vfsd
# found no daemon to stop; fixed), max-shares = 2 must be whole again,
# the third ENOSPC, and the exit leaves no vfsd and no socket.
test_umount_race() {
	local id=vfsr-$RT-ur left p
	cat >"$ROOTFS/ur.sh" <<'EOF'
tok=$1
touch /run/ua.sock /run/ub.sock /run/uc.sock
i=0
while [ $i -lt 60 ]; do
	i=$((i + 1))
	mount -t vhost-user-fs /srv/data /run/ua.sock 2>/dev/null &
	mount -t vhost-user-fs /srv/data /run/ub.sock 2>/dev/null &
	umount /run/ua.sock 2>/dev/null &
	umount -l /run/ub.sock 2>/dev/null &
	wait
done
while umount /run/ua.sock 2>/dev/null; do :; done
while umount /run/ub.sock 2>/dev/null; do :; done
mvsync "$tok.clean"
mvstep again1 mount -t vhost-user-fs /srv/data /run/ua.sock
mvstep again2 mount -t vhost-user-fs /srv/data /run/ub.sock
mvstep third mount -t vhost-user-fs /srv/data /run/uc.sock
mvsync "$tok.done"
EOF
	bundle "$id" -- sh /ur.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 150
	if ! mv_sync_wait "$ROOTFS" "$id.clean" 120; then
		t_fail "$RT: umount race: the container got through its rounds" "$(tail -n 20 "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	sleep 1 # SIGTERM'd vfsd flush and exit
	left=
	for p in $(mv_share_pids "$id"); do
		alive "$p" && left+="$p "
	done
	if [ -z "$left" ]; then
		t_ok "$RT: umount race: once every socket is unmounted no vfsd of the container runs"
	else
		t_fail "$RT: umount race: once every socket is unmounted no vfsd of the container runs" \
			"vfsd $left still run(s) with no socket mount left in the container, each holding a max-shares slot until it exits;" \
			"virtiofs_action_mount() records the socket mount (share_attach -> mount_record_add) before fuse_daemon_add()" \
			"registers vfsd: an umount in between drops the record and its fuse_daemon_stop_unmounted() finds no daemon" \
			"$(mv_decisions "$id" | grep -E "vfsd pid=(${left// /|}0) " | sed 's/.*\(target=[^ ]*\).*\(result=.*\)/\1 \2/')"
	fi
	mv_sync_go "$ROOTFS" "$id.clean"
	if ! mv_sync_wait "$ROOTFS" "$id.done" 30; then
		t_fail "$RT: umount race: the container mounted again" "$(tail -n 20 "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	t_step_ok "$RT: umount race: after the racing rounds a share mounts (no slot leaked)" "$id" again1
	t_step_ok "$RT: umount race: ... and a second one (max-shares = 2)" "$id" again2
	t_step_errno "$RT: umount race: ... the third is ENOSPC" "$id" third ENOSPC
	mv_sync_go "$ROOTFS" "$id.done"
	mv_wait "$id"
	t_check "$RT: umount race: its vfsd go with it" gone $(mv_share_pids "$id")
	t_check "$RT: umount race: ... and no socket in /run/mountvisor" sh -c "[ -z '$(run_sockets)' ]"
	t_check "$RT: umount race: notifyd is alive" mv_notifyd_alive
}

# Round 2.  A podman-style rootfs: an overlay the host mounted (its mounter's
# credentials are host root's) whose lower layer holds host root's files.
# The container shares a directory of it; through the guest host root's 0600
# file stays unreadable and its 0644 file unwritable, and nothing the guest
# does reaches the lower layer.
test_overlay_src() {
	local id=vfsr-$RT-ovl o=$MV_TMP/ovl-$RT pid
	mkdir -p "$o/lower/srv/ovl" "$o/upper" "$o/work" "$o/merged"
	echo "lower secret" >"$o/lower/srv/ovl/secret"
	chmod 0600 "$o/lower/srv/ovl/secret"
	echo "lower file" >"$o/lower/srv/ovl/ro"
	chmod 0644 "$o/lower/srv/ovl/ro"
	chown 100000:100000 "$o/upper" "$o/work"
	if ! mount -t overlay overlay -o "lowerdir=$o/lower:$ROOTFS,upperdir=$o/upper,workdir=$o/work" \
		"$o/merged"; then
		t_skip "$RT: overlay: a host-mounted overlay rootfs" "overlay mount failed"
		return
	fi
	cat >"$o/merged/ovl.sh" <<'EOF'
tok=$1
touch /run/o.sock
mvstep share mount -t vhost-user-fs /srv/ovl /run/o.sock
mvstep own cat /srv/ovl/secret
mvsync "$tok.shared"
EOF
	if ! bundle "$id" -- sh /ovl.sh "$id" ||
		! jq --arg r "$o/merged" '.root.path = $r' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" ||
		! mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"; then
		umount "$o/merged"
		return
	fi
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$o/merged" "$id.shared" 60; then
		t_fail "$RT: overlay: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		umount "$o/merged"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_step_errno "$RT: overlay: the container itself cannot read the lower layer's 0600 root file" "$id" own EACCES
	if [ "$(mv_step_rc "$id" share)" = 0 ] && mv_front_start "/proc/$pid/root/run/o.sock" "$MNT"; then
		t_diag "$RT: overlay: $(mv_decisions "$id" | grep 'action=virtiofs' | grep -o 'why=.*')"
		t_check "$RT: overlay: the lower layer's 0600 root file stays unreadable through the guest" \
			sh -c "! cat '$MNT/secret' >/dev/null 2>&1"
		t_check "$RT: overlay: its 0644 root file is not writable through the guest" \
			sh -c "! (echo guest >>'$MNT/ro') 2>/dev/null"
		t_check "$RT: overlay: ... and chmod of it fails" sh -c "! chmod 0666 '$MNT/ro' 2>/dev/null"
		mv_front_stop
		t_check "$RT: overlay: the host's lower layer is unchanged" \
			sh -c "[ \"\$(cat '$o/lower/srv/ovl/ro')\" = 'lower file' ] && [ \"\$(stat -c %a '$o/lower/srv/ovl/ro')\" = 644 ] && [ ! -e '$o/upper/srv/ovl/ro' ] || { ls -lR '$o/upper'; false; }"
	else
		t_check "$RT: overlay: a share of the overlay rootfs is refused with an errno" \
			sh -c "[ '$(mv_step_rc "$id" share)' != 0 ]"
		t_diag "$(mv_step_out "$id" share)"
	fi
	mv_sync_go "$o/merged" "$id.shared"
	mv_wait "$id"
	umount "$o/merged"
	rm -rf "$o"
}

# Round 2.  ids=userns: vfsd runs as root of the container's user namespace
# (a /proc bound below the source cannot be idmapped).  It must stay out of
# the container's reach all the same: in no pid namespace of the container,
# absent from the container's procfs (also the one the guest sees in the
# share), and -- if the container's root could name it -- its /proc/PID/root
# is a diagnostic only (the kernel's ptrace rules for a process of its user
# namespace).
test_userns_proc() {
	local id=vfsr-$RT-up pid vpid child cns p seen acc
	mkdir -p "$ROOTFS/srv/up/p"
	chown -R 100000:100000 "$ROOTFS/srv/up"
	cat >"$ROOTFS/up.sh" <<'EOF'
tok=$1
touch /run/u.sock
mvstep bind /usr/bin/mount --bind /proc /srv/up/p
mvstep share mount -t vhost-user-fs /srv/up /run/u.sock
mvsync "$tok.shared"
EOF
	bundle "$id" -- sh /up.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: userns vfsd: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_decision "$RT: userns vfsd: a /proc below the source makes vfsd run in the container's user namespace" \
		"$id" 'action=virtiofs' 'ids=userns'
	vpid=$(mv_share_pids "$id" | head -n1)
	child=$(mv_share_server "${vpid:-0}")
	cns=$(readlink "/proc/$pid/ns/pid")
	t_check "$RT: userns vfsd: neither vfsd process is in the container's pid namespace" \
		sh -c "[ -n '$vpid' ] && [ -n '$child' ] && [ \"\$(readlink /proc/$vpid/ns/pid)\" != '$cns' ] && [ \"\$(readlink /proc/$child/ns/pid)\" != '$cns' ]"
	if mv_front_start "/proc/$pid/root/run/u.sock" "$MNT"; then
		seen=
		for p in "$MNT"/p/[0-9]*; do
			tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q '^vfsd ' && seen+="${p##*/} "
		done
		t_check "$RT: userns vfsd: the container's procfs (as the guest sees it in the share) lists no vfsd" \
			[ -z "$seen" ]
		mv_front_stop
	else
		t_fail "$RT: userns vfsd: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	acc=$(nsenter -t "$pid" -U -- /bin/sh -c "ls /proc/$child/root/ >/dev/null 2>&1 && echo readable || echo refused; cat /proc/$child/environ >/dev/null 2>&1 && echo environ-readable || echo environ-refused" 2>&1 | tr '\n' ' ')
	t_diag "$RT: userns vfsd: the container's root (its user namespace, host pid namespace) on /proc/$child: $acc"
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	umount "$ROOTFS/srv/up/p" 2>/dev/null
	rm -rf "$ROOTFS/srv/up"
}

# Round 2.  A user-namespaced container in the host's pid namespace (the
# `--pid=host` of podman, hostPID pods with user namespaces), /proc bound
# from the host.  With ids=userns vfsd runs as root of the container's user
# namespace and stays dumpable: the container's root can ptrace it, and
# vfsd's waiting parent has as its root a copy of the host's whole mount
# tree (share_launch.c unshares notifyd's mount namespace).  Through
# /proc/PID/root of it, can the container read a host file outside its
# view (a 0644 file in this test's directory)?
test_hostpid() {
	local id=vfsr-$RT-hp pid out
	echo "host only" >"$MV_TMP/hostonly.txt"
	chmod 0644 "$MV_TMP/hostonly.txt"
	mkdir -p "$ROOTFS/srv/hp/p"
	chown -R 100000:100000 "$ROOTFS/srv/hp"
	cat >"$ROOTFS/hp.sh" <<'EOF'
tok=$1 host=$2
touch /run/h.sock
mvstep own cat "$host"
mvstep bind /usr/bin/mount --bind /proc/self/fdinfo /srv/hp/p
mvstep share mount -t vhost-user-fs /srv/hp /run/h.sock
for p in /proc/[0-9]*; do
	case "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" in
	"vfsd --fd=3 --shared-dir=/run/mountvisor/share"*) echo "${p#/proc/}" >>/tmp/hp.vfsd ;;
	esac
done
for v in $(cat /tmp/hp.vfsd 2>/dev/null); do
	mvstep "read-$v" cat "/proc/$v/root$host"
	mvstep "ls-$v" sh -c "ls /proc/$v/root/ | tr '\\n' ' '; grep -c . /proc/$v/mountinfo"
done
mvsync "$tok.shared"
EOF
	bundle "$id" -- sh /hp.sh "$id" "$MV_TMP/hostonly.txt" || return
	jq '.linux.namespaces |= map(select(.type != "pid")) |
		.mounts |= map(if .destination == "/proc" then {destination: "/proc", type: "bind", source: "/proc", options: ["rbind", "nosuid", "nodev", "noexec"]} else . end)' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	rm -f "$ROOTFS/tmp/hp.vfsd"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_skip "$RT: host pid: a user-namespaced container in the host's pid namespace" \
			"$(tail -n 5 "$(mv_out "$id")" | tr '\n' ' ')"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_step_errno "$RT: host pid: the container cannot open the host file itself" "$id" own ENOENT
	t_diag "$RT: host pid: $(mv_decisions "$id" | grep 'action=virtiofs' | grep -o 'why=.*'); vfsd seen by the container: $(tr '\n' ' ' <"$ROOTFS/tmp/hp.vfsd" 2>/dev/null)"
	out=
	for v in $(cat "$ROOTFS/tmp/hp.vfsd" 2>/dev/null); do
		t_diag "$RT: host pid: /proc/$v/root$MV_TMP/hostonly.txt from the container: rc $(mv_step_rc "$id" "read-$v") $(mv_step_out "$id" "read-$v" | head -n1)"
		t_diag "$RT: host pid: ... /proc/$v/root/ and its mount count: $(mv_step_out "$id" "ls-$v" | tr '\n' ' ')"
		[ "$(mv_step_rc "$id" "read-$v")" = 0 ] && out+="vfsd pid $v: /proc/$v/root$MV_TMP/hostonly.txt gave '$(mv_step_out "$id" "read-$v" | head -n1)'; "
	done
	if [ -z "$(cat "$ROOTFS/tmp/hp.vfsd" 2>/dev/null)" ]; then
		t_ok "$RT: host pid: the container finds no vfsd of its share (ids: $(mv_decisions "$id" | grep -o 'ids=[a-z]*' | head -n1))"
	elif [ -z "$out" ]; then
		t_ok "$RT: host pid: no host file outside the container's view through /proc/PID/root of its vfsd"
	else
		t_fail "$RT: host pid: no host file outside the container's view through /proc/PID/root of its vfsd" \
			"$out" "vfsd (ids=userns) runs as the container's user-namespace root and is dumpable; its waiting parent's" \
			"root is share_launch.c's unshared copy of the host's mount namespace"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -rf "$ROOTFS/srv/hp" "$ROOTFS/tmp/hp.vfsd"
}

# Round 2.  The same xattr attacks on an ids=userns share (a procfs below the
# source), where vfsd is root of the container's user namespace: trusted.*,
# ACLs naming host ids, and security.capability (v3 with rootid 100000 at
# most).
test_xattr_userns() {
	local id=vfsr-$RT-xu pid out got u d=$ROOTFS/srv/xu caps
	mkdir -p "$d/p"
	chown -R 100000:100000 "$d"
	cat >"$ROOTFS/xu.sh" <<'EOF'
tok=$1
touch /run/x.sock
mvstep bind /usr/bin/mount --bind /proc/self/fdinfo /srv/xu/p
mvstep share mount -t vhost-user-fs -o xattr /srv/xu /run/x.sock
mvsync "$tok.shared"
EOF
	bundle "$id" --profile xattr -- sh /xu.sh "$id" || return
	jq '.process.capabilities |= with_entries(.value += ["CAP_SETFCAP"])' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: xattr userns: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_decision "$RT: xattr userns: the share runs with ids=userns" "$id" 'action=virtiofs' 'ids=userns'
	if mv_front_start "/proc/$pid/root/run/x.sock" "$MNT"; then
		echo x >"$MNT/xfile"
		out=$(/usr/bin/python3 -c 'import os,sys
try:
    os.setxattr(sys.argv[1], "trusted.rt2", b"x"); print("set")
except OSError as e:
    print("refused (%s)" % e.strerror)' "$MNT/xfile")
		got=$(/usr/bin/python3 -c 'import os,sys
try:
    print(os.getxattr(sys.argv[1], "trusted.rt2"))
except OSError:
    pass' "$d/xfile")
		t_check "$RT: xattr userns: a trusted.* xattr the guest sets does not reach the host file (guest: $out)" [ -z "$got" ]
		for u in 5000 70000; do
			echo x >"$MNT/acl$u"
			out=$(acl_xattr "$MNT/acl$u" "$u")
			got=$(acl_ids "$d/acl$u" | tr '\n' ' ')
			if [ -z "$(for i in $got; do
				[ "$i" -ge 100000 ] && [ "$i" -le 165535 ] || echo "$i"
			done)" ]; then
				t_ok "$RT: xattr userns: an ACL naming guest uid $u stores only ids of the container's range (guest: $out; host ids: ${got:-none})"
			else
				t_fail "$RT: xattr userns: an ACL naming guest uid $u stores only ids of the container's range" \
					"guest set user:$u:rw-: $out; on the host the ACL names $got"
			fi
		done
		cp /bin/true "$MNT/capbin" 2>/dev/null
		setcap cap_sys_admin+ep "$MNT/capbin" 2>"$MV_TMP/setcap.err"
		caps=$(/usr/bin/python3 - "$d/capbin" <<'EOF'
import os, struct, sys
try:
    v = os.getxattr(sys.argv[1], "security.capability")
except OSError as e:
    print("none (%s)" % e.strerror)
    sys.exit(0)
magic = struct.unpack("<I", v[:4])[0]
if len(v) == 24 and magic >> 24 == 3:
    print("v3 rootid=%d" % struct.unpack("<I", v[20:24])[0])
else:
    print("v%d (%d bytes): host-wide" % (magic >> 24, len(v)))
EOF
)
		case $caps in
		none* | "v3 rootid=100000")
			t_ok "$RT: xattr userns: a capability the guest sets is no host-wide file capability ($caps; setcap: $(head -c 80 "$MV_TMP/setcap.err"))" ;;
		*)
			t_fail "$RT: xattr userns: a capability the guest sets is no host-wide file capability" \
				"security.capability of the guest's file on the host: $caps" ;;
		esac
		mv_front_stop
	else
		t_fail "$RT: xattr userns: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -rf "$d"
}

# Round 2.  idmap = squash:1000:1000: guest ids the container does not map
# (70000) or at the top of the id space (4294967294) create as container
# 1000 (host 101000); guest root's chown to 0 lands on 1000 too; an ACL
# naming an unmapped id is refused; host root's 0600 file stays unreadable.
# (uid 4294967295, outside squash-guest:0:1000:4294967295, cannot come from
# a kernel front-end; vfsd's set_fsid() refuses it: fuse_creds.c.)
test_squash_ids() {
	local id=vfsr-$RT-sq pid d=$ROOTFS/srv/sq u own out
	mkdir -p "$d"
	chmod 1777 "$d"
	chown 100000:100000 "$d"
	echo secret >"$d/rootonly"
	chmod 0600 "$d/rootonly"
	cat >"$ROOTFS/sq.sh" <<'EOF'
tok=$1
touch /run/s.sock
mvstep share mount -t vhost-user-fs -o xattr /srv/sq /run/s.sock
mvsync "$tok.shared"
EOF
	bundle "$id" --profile squash -- sh /sq.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.shared" 60; then
		t_fail "$RT: squash: container got to its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	t_decision "$RT: squash: the share squashes" "$id" 'action=virtiofs' 'squash'
	if mv_front_start "/proc/$pid/root/run/s.sock" "$MNT"; then
		for u in 70000 4294967294; do
			out=$(setpriv --reuid="$u" --regid="$u" --clear-groups sh -c "echo x >'$MNT/by$u'" 2>&1)
			own=$(stat -c %u:%g "$d/by$u" 2>/dev/null)
			t_check "$RT: squash: guest uid $u creates as the container's 1000 (host $own${out:+; $out})" \
				[ "$own" = 101000:101000 ]
		done
		echo x >"$MNT/byroot"
		chown 0:0 "$MNT/byroot" 2>/dev/null
		own=$(stat -c %u:%g "$d/byroot" 2>/dev/null)
		t_check "$RT: squash: guest root's file, chowned to 0, is the container's 1000 on the host ($own)" \
			[ "$own" = 101000:101000 ]
		out=$(acl_xattr "$MNT/byroot" 70000)
		t_check "$RT: squash: an ACL naming an unmapped id stores no host id outside the container's range (guest: $out; host: $(acl_ids "$d/byroot" | tr '\n' ' '))" \
			sh -c "for i in \$(printf '%s\n' '$(acl_ids "$d/byroot" | tr '\n' ' ')'); do [ \"\$i\" -ge 100000 ] && [ \"\$i\" -le 165535 ] || exit 1; done"
		t_check "$RT: squash: host root's 0600 file stays unreadable through the guest" \
			sh -c "! cat '$MNT/rootonly' >/dev/null 2>&1"
		mv_front_stop
	else
		t_fail "$RT: squash: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.shared"
	mv_wait "$id"
	rm -rf "$d"
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: virtiofs red team" "$RT not installed"
		continue
	}
	for t in ${RT_TESTS:-propagation ids fcaps socket held stack vfsd_view exit_served concurrent parallel others exit exec xattr_ids peerpidfd sweep_starve same_id umount_race overlay_src userns_proc hostpid xattr_userns squash_ids}; do
		"test_$t"
	done
done
t_check "notifyd is alive after all attacks" mv_notifyd_alive
t_done
