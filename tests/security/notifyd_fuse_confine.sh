#!/bin/bash
# The FUSE program is container code (issue 13, items 1 and 5), through real
# crun and runc containers (user namespace 0 -> 100000) and the shipped
# profiles/default.conf (ext4 -> the host's fuse2fs).
#
# confine: a hostile root file system whose /etc/ld.so.preload loads
#   tests/security/fuse_preload.c into fuse2fs.  Its constructor walks ".."
#   from every fd and /proc/self/fd link, tries to read a host secret and to
#   create a file in the host's /tmp, dumps its capability sets,
#   no_new_privs, seccomp mode and cgroup, and tries mount, unshare+mount,
#   open_tree, open_tree_attr, fsopen, setns, clone(CLONE_NEWNS), chroot and a
#   loop ioctl.  Each property is
#   checked against the trapped caller's own, and the running daemon's fds
#   are checked from the host.
# refuse: a program that cannot be put in the caller's cgroup (the test hides
#   that cgroup from notifyd) is not started: the mount fails with EPERM, and
#   the decision line says why (the image is opened in the caller's cgroup
#   first, so that refusal usually comes before the program's).
# starting: container A's FUSE program never answers FUSE_INIT (profile
#   "hang": program = container:/bin/sh running sleep); its second mount is refused
#   EAGAIN (max-fuse-starting = 1), and meanwhile container B's ext4 mount
#   succeeds in under 5 s with notifyd running a single worker.
#
#   CONFINE_TESTS="confine refuse starting" RUNTIMES="crun runc" for a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ALL_TESTS="confine refuse starting"
command -v fuse2fs >/dev/null || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
PRELOAD=$MV_BUILD/tests/helpers/fuse_preload.so
[ -f "$PRELOAD" ] || mv_bail "$PRELOAD not built (make all)"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cp "$MV_SRC/profiles/default.conf" "$PROFILES/default.conf"
cat >"$PROFILES/hang.conf" <<'EOF'
[profile]
default-action = deny
max-fuse-starting = 1

# A FUSE "program" that never reads /dev/fuse: FUSE_INIT is never answered.
# (sh -c: arguments must name {source} and {mountpoint}, which sleep would not take.)
[fs ext4]
action = fuse
program = container:/bin/sh
arguments = -c exec${IFS}sleep${IFS}600 {source} {mountpoint}
startup-timeout = 60
EOF

# Plain busybox root (container B, A) and a hostile one with ld.so.preload.
ROOTFS=$MV_TMP/rootfs
HOSTILE=$MV_TMP/hostile
for r in "$ROOTFS" "$HOSTILE"; do
	mv_make_rootfs "$r" || mv_bail "cannot build the busybox rootfs"
	mkdir -p "$r/usr" "$r/lib" "$r/lib64"
	chown 100000:100000 "$r/usr" "$r/lib" "$r/lib64"
done
SECRET=$MV_TMP/host-secret
# A host directory the container has no counterpart of: creating a file in it
# proves a way out to the host's /tmp.
ESCAPE=/tmp/mv-escape-$MV_IDP
echo "host secret $$" >"$SECRET"
chmod 0644 "$SECRET"
mkdir -p "$ESCAPE"
chmod 1777 "$ESCAPE"
defer "rm -rf '$ESCAPE'"
cp "$PRELOAD" "$HOSTILE/preload.so"
echo /preload.so >"$HOSTILE/etc/ld.so.preload"
echo "$SECRET" >"$HOSTILE/etc/mvtest-secret"
echo "$ESCAPE/created" >"$HOSTILE/etc/mvtest-escape"
mkdir -p "$HOSTILE/tmp/preload-out"
chmod 1777 "$HOSTILE/tmp/preload-out"
# libfuse2 runs /bin/fusermount first: the container's must never be the one.
printf '#!/bin/sh\necho "$*" >/tmp/preload-out/container-fusermount\nexit 1\n' \
	>"$HOSTILE/bin/fusermount"
chmod 0755 "$HOSTILE/bin/fusermount"
chown 100000:100000 "$HOSTILE/bin/fusermount"
chown -R 100000:100000 "$HOSTILE/preload.so" "$HOSTILE/etc" "$HOSTILE/tmp/preload-out"

for i in 1 2 3; do
	mv_make_ext4 "$MV_TMP/disk$i.img" 8M || mv_bail "cannot build ext4 image $i"
done
mv_loop_attach "$MV_TMP/disk1.img" DEV1 || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/disk2.img" DEV2 || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/disk3.img" DEV3 || mv_bail "cannot attach a loop device"

# One worker: a start-up that held it would stall every other container.
mv_start_notifyd "$PROFILES" --workers 1 || mv_bail "notifyd did not start"

# field FILE KEY : value of "KEY value" / "Key:\tvalue" in FILE (first match).
field() {
	awk -v k="$2" '$1 == k {print $2; exit}' "$1"
}

# subset HEX_A HEX_B : is every bit of A also in B?
subset() {
	[ -n "$1" ] && [ -n "$2" ] && (((0x$1 & ~0x$2) == 0))
}

test_confine() {
	local id=$MV_IDP-$RT-confine out pid caller bad link f k d c
	caller=$MV_TMP/$id.caller
	cat >"$HOSTILE/confine.sh" <<'EOF'
mvstep caller sh -c 'grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; grep "^0::" /proc/self/cgroup'
mvstep mount mount -t ext4 "$1" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvsync "$2.mounted"
mvstep umount umount /mnt/a
EOF
	rm -f "$HOSTILE"/tmp/preload-out/* "$ESCAPE"/*
	mv_fuse_bundle "$id" "$HOSTILE" --device "$DEV1" -- sh /confine.sh "$DEV1" "$id"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$HOSTILE" "$id.mounted" 60; then
		pid=$(mv_fuse_daemon_pid "$id")
		bad=
		for f in /proc/"$pid"/fd/*; do
			link=$(readlink "$f") || continue
			[[ $link =~ ^(/dev/loop[0-9]+|/dev/fuse|/dev/null|pipe:\[[0-9]+\]|socket:\[[0-9]+\])$ ]] ||
				bad+="${f##*/} -> $link; "
		done
		if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ -z "$bad" ]; then
			t_ok "$RT: confine: the running fuse2fs holds only the image, /dev/fuse, /dev/null, pipes, sockets"
		else
			t_fail "$RT: confine: the running fuse2fs holds only the image, /dev/fuse, /dev/null, pipes, sockets" \
				"pid=$pid others: $bad" "$(ls -l /proc/"$pid"/fd/ 2>&1)"
		fi
		grep -E '^(Cap|NoNewPrivs|Seccomp)' "/proc/$pid/status" >"$MV_TMP/$id.daemon" 2>/dev/null
		t_diag "fuse2fs pid $pid from the host: $(tr '\n\t' '  ' <"$MV_TMP/$id.daemon")"
		mv_sync_go "$HOSTILE" "$id.mounted"
	else
		t_fail "$RT: confine: container reached the mounted state" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	mv_step_out "$id" caller | tr '\t' ' ' >"$caller"
	t_step_ok "$RT: confine: mount -t ext4 through fuse2fs still works with the preload" "$id" mount
	t_check "$RT: confine: and reads the file" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_decision "$RT: confine: decision line says ok" "$id" 'action=fuse' 'result=ok' 'program=fuse2fs'

	out=$(grep -l '^comm fuse2fs' "$HOSTILE"/tmp/preload-out/* 2>/dev/null | head -n1)
	if [ -z "$out" ] || ! grep -q '^done' "$out"; then
		t_fail "$RT: confine: the preload library ran inside fuse2fs" \
			"$(ls -l "$HOSTILE/tmp/preload-out/")" "$(cat "$out" 2>/dev/null)"
		return
	fi
	t_ok "$RT: confine: the preload library ran inside fuse2fs"
	t_check "$RT: confine: the container's own /bin/fusermount never ran (the stand-in covers it)" \
		[ ! -e "$HOSTILE/tmp/preload-out/container-fusermount" ]
	t_diag "$(grep -E '^(fd|Cap|NoNewPrivs|Seccomp)' "$out")"
	t_check "$RT: confine: no fd or /proc/self/fd link walks out of the container" \
		bash -c "! grep -E 'walk=ESCAPED' '$out'"
	t_check "$RT: confine: the host secret was not read" [ "$(field "$out" secret)" = none ]
	t_check "$RT: confine: no file created in the host's /tmp" \
		bash -c "[ \"\$(awk '\$1 == \"hosttmp\" {print \$2}' '$out')\" = none ] && [ -z \"\$(ls -A '$ESCAPE')\" ]"
	t_check "$RT: confine: fuse2fs starts with no directory fd at all (no fuse-shim dir)" \
		bash -c "! grep -E '^fd [0-9]+ .* walk=(contained|ESCAPED)' '$out'"
	for k in CapBnd CapPrm CapEff CapInh CapAmb; do
		d=$(field "$out" "$k:")
		c=$(field "$caller" "$k:")
		if subset "$d" "$c"; then
			t_ok "$RT: confine: $k of fuse2fs ($d) is within the caller's ($c)"
		else
			t_fail "$RT: confine: $k of fuse2fs ($d) is within the caller's ($c)"
		fi
	done
	c=$(field "$caller" NoNewPrivs:)
	d=$(field "$out" NoNewPrivs:)
	t_check "$RT: confine: no_new_privs set as the caller's is ($c)" \
		bash -c "[ '$c' = 0 ] || [ '$d' = 1 ]"
	t_check "$RT: confine: seccomp filter present (caller Seccomp $(field "$caller" Seccomp:))" \
		[ "$(field "$out" Seccomp:)" = 2 ]
	for k in mount unshare unshare_mount open_tree fsopen setns clone_newns chroot ioctl_loop; do
		d=$(field "$out" "$k")
		if [ "$d" = EPERM ]; then
			t_ok "$RT: confine: $k fails EPERM in fuse2fs"
		else
			t_fail "$RT: confine: $k fails EPERM in fuse2fs" "got: ${d:-nothing}"
		fi
	done
	d=$(field "$out" open_tree_attr)
	t_check "$RT: confine: open_tree_attr (newer than libseccomp) fails ENOSYS ($d)" \
		[ "$d" = ENOSYS ]
	c=$(grep '^0::' "$caller")
	d=$(awk '$1 == "cgroup" {print $2}' "$out")
	t_check "$RT: confine: fuse2fs runs in the caller's cgroup ($c)" \
		bash -c "[ -n '$c' ] && [ '$c' = '$d' ]"
}

test_refuse() {
	local id=$MV_IDP-$RT-refuse pid cg own
	cat >"$HOSTILE/refuse.sh" <<'EOF'
mvsync "$2.ready"
mvstep mount mount -t ext4 "$1" /mnt/a
mvsync "$2.done"
EOF
	mv_fuse_bundle "$id" "$HOSTILE" --device "$DEV1" -- sh /refuse.sh "$DEV1" "$id"
	# crun (no cgroup manager) leaves the container in our cgroup: one of its own.
	own=/sys/fs/cgroup/mv-refuse-$MV_IDP
	if [ "$(sed -n 's/^0:://p' /proc/self/cgroup)" = / ] && mkdir -p "$own"; then
		echo $$ >"$own/cgroup.procs"
		defer "echo $$ >/sys/fs/cgroup/cgroup.procs; rmdir '$own'"
	fi
	mv_start "$RT" "$MV_TMP/$id" "$id" 60
	if ! mv_sync_wait "$HOSTILE" "$id.ready" 30; then
		t_fail "$RT: refuse: container started" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)
	if [ -z "$pid" ] || [ -z "$cg" ] || [ "$cg" = / ] || [ ! -d "/sys/fs/cgroup$cg" ] ||
		! mount -t tmpfs mvhide "/sys/fs/cgroup$cg"; then
		mv_sync_go "$HOSTILE" "$id.ready"
		mv_sync_go "$HOSTILE" "$id.done"
		mv_wait "$id"
		t_skip "$RT: refuse: a program that cannot join the caller's cgroup: EPERM" \
			"cannot hide the container's cgroup '$cg' from notifyd"
		return
	fi
	# notifyd now sees no cgroup.procs for the caller: it cannot confine the program.
	mv_sync_go "$HOSTILE" "$id.ready"
	mv_sync_wait "$HOSTILE" "$id.done" 30
	umount "/sys/fs/cgroup$cg"
	mv_sync_go "$HOSTILE" "$id.done"
	mv_wait "$id"
	[ -d "$own" ] && echo $$ >/sys/fs/cgroup/cgroup.procs
	t_step_errno "$RT: refuse: a program that cannot join the caller's cgroup: the mount fails EPERM" \
		"$id" mount EPERM
	# Since the source is opened as the caller (source_open.c), its helper is
	# the first to find the caller's cgroup gone, before any program is planned.
	t_decision "$RT: refuse: the decision line says why" "$id" 'action=fuse' 'result=EPERM' \
		"(cannot confine fuse2fs: opening the caller's cgroup.procs|opening the caller's cgroup v2 directory)"
}

test_starting() {
	local ida=$MV_IDP-$RT-hang idb=$MV_IDP-$RT-other took
	cat >"$ROOTFS/hang.sh" <<'EOF'
mount -t ext4 "$1" /mnt/a >/tmp/first.out 2>&1 &
first=$!
sleep 1
mvstep second mount -t ext4 "$1" /mnt/b
mvsync "$2.hanging"
kill "$first"
EOF
	cat >"$ROOTFS/other.sh" <<'EOF'
t0=$(cut -d' ' -f1 /proc/uptime)
mvstep mount mount -t ext4 "$1" /mnt/a
t1=$(cut -d' ' -f1 /proc/uptime)
mvstep took awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
mvstep read cat /mnt/a/hello.txt
mvstep tmpfs mount -t tmpfs none /mnt/b
mvstep umount umount /mnt/a
EOF
	mv_fuse_bundle "$ida" "$ROOTFS" --profile hang --device "$DEV3" -- sh /hang.sh "$DEV3" "$ida"
	mv_fuse_bundle "$idb" "$ROOTFS" --device "$DEV2" -- sh /other.sh "$DEV2"
	mv_start "$RT" "$MV_TMP/$ida" "$ida" 90
	if ! mv_sync_wait "$ROOTFS" "$ida.hanging" 60; then
		t_fail "$RT: starting: container A reached the hanging state" "$(cat "$(mv_out "$ida")")"
		mv_explain "$ida"
		mv_wait "$ida"
		return
	fi
	t_step_errno "$RT: starting: A's second FUSE mount past max-fuse-starting = 1 gets EAGAIN" \
		"$ida" second EAGAIN
	t_decision "$RT: starting: the decision line names max-fuse-starting" "$ida" \
		'result=EAGAIN' 'max-fuse-starting = 1'
	if mv_ctl stats >/dev/null 2>&1; then
		t_ok "$RT: starting: notifyctl stats answers while A's start-up hangs"
	else
		t_fail "$RT: starting: notifyctl stats answers while A's start-up hangs"
	fi
	mv_run "$RT" "$MV_TMP/$idb" "$idb" 60
	t_step_ok "$RT: starting: B's mount -t ext4 succeeds while A's start-up hangs (1 worker)" \
		"$idb" mount
	took=$(mv_step_out "$idb" took)
	t_diag "B's mount took ${took:-?} s"
	t_check "$RT: starting: B's mount took less than 5 s ($took s)" \
		awk -v t="$took" 'BEGIN {exit !(t != "" && t < 5)}'
	t_check "$RT: starting: B reads through fuse2fs" [ "$(mv_step_out "$idb" read)" = "hello from ext4" ]
	t_step_ok "$RT: starting: B's other requests are served (tmpfs mount)" "$idb" tmpfs
	t_step_ok "$RT: starting: B's umount" "$idb" umount
	if mv_decisions "$ida" | grep -q 'target=/mnt/a .*action=fuse'; then
		t_fail "$RT: starting: A's first mount is still starting (not answered yet)" \
			"$(mv_decisions "$ida")"
	else
		t_ok "$RT: starting: A's first mount is still starting (not answered yet)"
	fi
	mv_sync_go "$ROOTFS" "$ida.hanging"
	mv_wait "$ida"
	if mv_wait_log "decision id=$ida .*target=/mnt/a .*action=fuse" 20; then
		t_ok "$RT: starting: A's first mount is answered once A is gone (exactly one decision)"
		t_check "$RT: starting: exactly one decision line for A's first mount" \
			[ "$(mv_decisions "$ida" | grep -c 'target=/mnt/a .*action=fuse')" = 1 ]
	else
		t_fail "$RT: starting: A's first mount is answered once A is gone (exactly one decision)" \
			"$(tail -n 20 "$MV_LOG")"
	fi
	if mv_wait_log "decision id=$ida .*target=/mnt/a .*action=fuse" 1 &&
		! pgrep -f 'sleep 600' >/dev/null; then
		t_ok "$RT: starting: no hanging FUSE program left"
	else
		t_fail "$RT: starting: no hanging FUSE program left" "$(pgrep -af 'sleep 600')"
	fi
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || { t_skip "$RT tests" "$RT not installed"; continue; }
	for t in ${CONFINE_TESTS:-$ALL_TESTS}; do
		"test_$t"
	done
done
t_done
