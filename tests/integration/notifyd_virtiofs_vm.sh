#!/bin/bash
# A VM inside a container gets a virtio-fs share: QEMU (TCG) runs inside a
# crun and a runc container in its own user namespace (0 -> host 100000), the
# container asks notifyd for a vhost-user-fs share of its /srv/data
#   touch /run/fs0.sock
#   mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
# and QEMU connects to /run/fs0.sock; the guest (tests/vm/share-guest-init.sh)
# mounts the share, reads the container's file, writes as uid 0 and 1000.
# Checked: the guest's own checks; the owners on the host (100000, 101000)
# and in the container (0, 1000); umount /run/fs0.sock stops vfsd; the
# container's exit leaves no vfsd, no mount and no notifyd fd behind.
#
#   MV_SHARE_MODE=notifyd (default)  the virtiofs action of notifyd
#   MV_SHARE_MODE=direct             the test starts build/vfsd on the host as
#       root and binds its socket into the container through config.json (no
#       mount in the container, no idmapping: the guest's files are host uid
#       0 and 1000) -- proves the VM-in-container part on its own
#   RUNTIMES="crun runc"             the runtimes to run in
#
# Skips (77) when QEMU, a static busybox or the Debian kernel package is
# unavailable (tests/vm/debian-kernel.sh).
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1
# shellcheck source=tests/vm/debian-kernel.sh
. "$MV_SRC/tests/vm/debian-kernel.sh"

MODE=${MV_SHARE_MODE:-notifyd}
case $MODE in
notifyd | direct) ;;
*) mv_bail "MV_SHARE_MODE must be notifyd or direct, not '$MODE'" ;;
esac
QEMU=$(command -v qemu-system-x86_64) || {
	echo "# qemu-system-x86_64 missing"
	exit 77
}
VFSD=$(mv_prog vfsd) || mv_bail "$VFSD is not a built program (run make all)"
command -v jq >/dev/null || mv_bail "jq missing"

# The guest: Debian's kernel and a busybox initramfs with share-guest-init.sh.
vm_kernel_fetch "$MV_BUILD/vm-cache" || exit $?
INITRAMFS=$MV_TMP/initramfs
vm_initramfs "$INITRAMFS" || exit $?
for f in $(vm_modules virtio_pci virtiofs); do cp "$f" "$INITRAMFS/lib/modules/"; done
if ! cp "$MV_SRC/tests/vm/share-guest-init.sh" "$INITRAMFS/init" || ! chmod 755 "$INITRAMFS/init"; then
	mv_bail "cannot install the guest's /init"
fi
printf 'root:x:0:0::/:/bin/sh\nu1000:x:1000:1000::/:/bin/sh\n' >"$INITRAMFS/etc/passwd"
printf 'root:x:0:\nu1000:x:1000:\n' >"$INITRAMFS/etc/group"
vm_pack "$INITRAMFS" "$MV_TMP/initrd.gz" || exit $?

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
if [ "$MODE" = notifyd ]; then
	cat >"$PROFILES/vm.conf" <<'EOF'
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache, ro, xattr, thread-pool-size
EOF
else
	# QEMU runs under the same seccomp filter and agent as in notifyd mode,
	# but the container mounts nothing.
	cat >"$PROFILES/vm.conf" <<'EOF'
[profile]
default-action = deny
EOF
fi
if ! mv_start_notifyd "$PROFILES"; then
	grep -q "virtiofs" "$MV_LOG" 2>/dev/null &&
		t_diag "notifyd refused the profile's 'action = virtiofs': this notifyd has no virtiofs" \
			"action yet (MV_SHARE_MODE=direct tests the VM-in-container part without it)"
	mv_bail "notifyd did not start with the virtiofs profile: $(grep -m1 'not loaded' "$MV_LOG")"
fi

# The QEMU command line as the container runs it, -append follows (its
# console goes to a file in the container's /tmp, which the host reads in
# the rootfs).
# shellcheck disable=SC2054 # the commas are QEMU's
QEMU_ARGS=(-accel tcg -m 256M -smp 1 -nodefaults -no-user-config -display none -no-reboot
	-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
	-chardev socket,id=fs0,path=/run/fs0.sock
	-device vhost-user-fs-pci,queue-size=1024,chardev=fs0,tag=data
	-serial file:/tmp/console.log
	-kernel /vm/vmlinuz -initrd /vm/initrd.gz)

# descendants PID : every process below PID (any depth), one pid a line.
descendants() {
	local kids k
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null)
	for k in $kids; do
		echo "$k"
		descendants "$k"
	done
}

# share_vfsds : pids of the vfsd processes notifyd started: its descendants
# named vfsd, and the last pid=N of the virtiofs decision lines (their
# why="vfsd pid=N ...") if that process is a live vfsd.
share_vfsds() {
	local p
	{
		for p in $(descendants "$NOTIFYD_PID"); do
			[ "$(cat /proc/"$p"/comm 2>/dev/null)" = vfsd ] && echo "$p"
		done
		for p in $(mv_decisions | grep 'action=virtiofs' | sed -n 's/.* pid=\([0-9]*\).*/\1/p'); do
			[ "$(cat /proc/"$p"/comm 2>/dev/null)" = vfsd ] && [ "$(ps -o stat= -p "$p")" != Z ] &&
				echo "$p"
		done
	} | sort -u | tr '\n' ' '
}

# wait_no_vfsd [SECONDS] : until share_vfsds is empty.
wait_no_vfsd() {
	local i
	for ((i = 0; i < ${1:-10} * 10; i++)); do
		[ -z "$(share_vfsds)" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_fds N [SECONDS] : until notifyd holds N fds again.
wait_fds() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		[ "$(mv_notifyd_fds)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# sync_or_exit ROOTFS TOKEN ID SECONDS : mv_sync_wait that gives up as soon
# as container ID (started with mv_start) has exited without getting there.
sync_or_exit() {
	local i pid=${MV_BG_PID[$3]:-}
	for ((i = 0; i < $4 * 10; i++)); do
		[ -e "$1/tmp/sync/$2.ready" ] && return 0
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break
		sleep 0.1
	done
	[ -e "$1/tmp/sync/$2.ready" ]
}

# owners ROOT : "path uid:gid" of the guest's files under ROOT/srv/data.
owners() {
	local f
	for f in g-root g-dir g-dir/g-user g-dir/g-udir g-chown g-again; do
		echo "$f $(stat -c %u:%g "$1/srv/data/$f" 2>&1)"
	done
}

# guest_checks ID STEP CONSOLE PREFIX : QEMU's exit (step STEP of container
# ID) and the guest's checks in CONSOLE, as TAP lines of this test.
guest_checks() {
	local id=$1 step=$2 console=$3 pre=$4 line
	t_step_ok "$RT: ${pre}QEMU exits 0 (guest powered off)" "$id" "$step"
	while IFS= read -r line; do
		case $line in
		"ok - "*) t_ok "$RT: ${pre}guest: ${line#ok - }" ;;
		"not ok - "*) t_fail "$RT: ${pre}guest: ${line#not ok - }" ;;
		esac
	done < <(sed -n 's/^VMTEST //p' "$console" 2>/dev/null | tr -d '\r')
	if grep -q VMTEST-DONE "$console" 2>/dev/null; then
		t_ok "$RT: ${pre}guest workload finished"
	else
		t_fail "$RT: ${pre}guest workload finished" "--- console:" \
			"$(tail -n 30 "$console" 2>&1)" "--- qemu:" "$(mv_step_out "$id" "$step")"
	fi
}

# direct mode: vfsd started here as root on the container's /srv/data.
DIRECT_PID=
start_direct_vfsd() {
	local rootfs=$1 sock=$2 log=$3 i args
	args=(--socket-path="$sock" --shared-dir="$rootfs/srv/data" --sandbox=namespace --cache=auto
		--log-level=info)
	ldd "$VFSD" 2>/dev/null | grep -q libasan && args+=(--seccomp=log)
	setpriv --pdeathsig TERM -- "$VFSD" "${args[@]}" </dev/null >"$log" 2>&1 &
	DIRECT_PID=$!
	defer "kill $DIRECT_PID; wait $DIRECT_PID"
	for ((i = 0; i < 50; i++)); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	[ -S "$sock" ] || return 1
	# vfsd makes it 0600 root: the VMM is the container's root, host uid 100000.
	chown 100000:100000 "$sock"
}

run_vm() {
	local id=vm-$RT-$MV_IDP rootfs=$MV_TMP/rootfs-$RT bundle=$MV_TMP/vm-$RT sock
	local fds0 rc t0 t1 t2 exp_host exp_ct line reached
	rootfs=$MV_TMP/rootfs-$RT
	mv_make_rootfs "$rootfs" || mv_bail "cannot build the busybox rootfs"
	mkdir -p "$rootfs"/{usr,lib,lib64,run,srv/data,vm}
	if ! cp "$VM_VMLINUZ" "$rootfs/vm/vmlinuz" || ! cp "$MV_TMP/initrd.gz" "$rootfs/vm/initrd.gz"; then
		mv_bail "cannot copy the guest's kernel and initramfs into the rootfs"
	fi
	chmod 0644 "$rootfs"/vm/*
	chown -R 100000:100000 "$rootfs"/{usr,lib,lib64,run,srv,vm}

	cat >"$rootfs/vm.sh" <<EOF
mode=\$1 tok=\$2
append="console=ttyS0 quiet panic=-1 sharemode=\$mode"
mvstep write sh -c 'echo "hello from the container" > /srv/data/hello.txt'
if [ "\$mode" = notifyd ]; then
	mvstep touch touch /run/fs0.sock
	mvstep mount mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock
	if ! [ -S /run/fs0.sock ]; then
		echo "no vhost-user socket at /run/fs0.sock: QEMU not started"
		exit 1
	fi
fi
mvstep sock ls -ln /run/fs0.sock
mvstep t0 cut -d' ' -f1 /proc/uptime
mvstep qemu timeout 60 $QEMU ${QEMU_ARGS[*]@Q} -append "\$append"
mvstep t1 cut -d' ' -f1 /proc/uptime
mv /tmp/console.log /tmp/console-first.log
# QEMU restarted: the VMM reconnects to the same socket.
mvstep qemu2 timeout 60 $QEMU ${QEMU_ARGS[*]@Q} -append "\$append sharephase=reconnect"
mvstep t2 cut -d' ' -f1 /proc/uptime
mv /tmp/console.log /tmp/console-reconnect.log
mvstep ls ls -lnR /srv/data
mvstep owners sh -c 'cd /srv/data && for f in g-root g-dir g-dir/g-user g-dir/g-udir g-chown g-again; do echo "\$f \$(stat -c %u:%g \$f)"; done'
mvsync "\$tok.vmdone"
if [ "\$mode" = notifyd ]; then
	mvstep umount umount /run/fs0.sock
	mvstep gone sh -c '! grep -q " /run/fs0.sock " /proc/self/mountinfo && [ -f /run/fs0.sock ] && ! [ -S /run/fs0.sock ]'
	mvsync "\$tok.unmounted"
fi
EOF
	mv_oci_bundle --profile vm "$bundle" "$rootfs" sh /vm.sh "$MODE" "$id" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$bundle"
	if [ "$MODE" = direct ]; then
		mkdir -p "$MV_TMP/direct-$RT"
		sock=$MV_TMP/direct-$RT/fs0.sock
		if ! start_direct_vfsd "$rootfs" "$sock" "$MV_TMP/vfsd-$RT.log"; then
			t_fail "$RT: direct: vfsd creates its socket" "$(cat "$MV_TMP/vfsd-$RT.log")"
			return 1
		fi
		jq --arg s "$sock" '.mounts += [{destination: "/run/fs0.sock", type: "bind", source: $s,
			options: ["bind"]}]' "$bundle/config.json" >"$bundle/config.tmp" &&
			mv "$bundle/config.tmp" "$bundle/config.json"
	fi

	fds0=$(mv_notifyd_fds)
	mv_start "$RT" "$bundle" "$id" 200
	reached=0
	sync_or_exit "$rootfs" "$id.vmdone" "$id" 190 && reached=1
	if [ "$MODE" = notifyd ]; then
		# First, so that a refused mount is the first failure shown.
		t_step_ok "$RT: mount -t vhost-user-fs -o cache=auto /srv/data /run/fs0.sock" "$id" mount
		t_decision "$RT: the decision line says action=virtiofs" "$id" \
			'syscall=mount' 'action=virtiofs' 'result=ok'
	fi
	if [ "$reached" = 1 ]; then
		t0=$(mv_step_out "$id" t0)
		t1=$(mv_step_out "$id" t1)
		t2=$(mv_step_out "$id" t2)
		t_diag "$RT: QEMU ran $(echo "$t1 - $t0" | bc) s inside the container (boot, workload, power-off)," \
			"then $(echo "$t2 - $t1" | bc) s restarted on the same socket"
		if [ "$MODE" = notifyd ]; then
			if [ -n "$(share_vfsds)" ]; then
				t_ok "$RT: notifyd's vfsd serves the share"
			else
				t_fail "$RT: notifyd's vfsd serves the share" "$(ps -o pid,ppid,args -p "$(pgrep -d, vfsd)")"
			fi
		fi
		t_check "$RT: /run/fs0.sock is a socket the container's root can connect to" \
			grep -q '^s' <<<"$(mv_step_out "$id" sock)"
		guest_checks "$id" qemu "$rootfs/tmp/console-first.log" ""
		guest_checks "$id" qemu2 "$rootfs/tmp/console-reconnect.log" "QEMU restarted: "
		if [ "$MODE" = notifyd ]; then
			exp_host="g-root 100000:100000|g-dir 100000:100000|g-dir/g-user 101000:101000|g-dir/g-udir 101000:101000|g-chown 101000:101000|g-again 100000:100000"
			exp_ct="g-root 0:0|g-dir 0:0|g-dir/g-user 1000:1000|g-dir/g-udir 1000:1000|g-chown 1000:1000|g-again 0:0"
		else
			# No idmapping: host uids as the guest gave them, unmapped in the container.
			exp_host="g-root 0:0|g-dir 0:0|g-dir/g-user 1000:1000|g-dir/g-udir 1000:1000|g-chown 1000:1000|g-again 0:0"
			exp_ct="g-root 65534:65534|g-dir 65534:65534|g-dir/g-user 65534:65534|g-dir/g-udir 65534:65534|g-chown 65534:65534|g-again 65534:65534"
		fi
		t_check "$RT: owners on the host: $exp_host" \
			[ "$(owners "$rootfs" | paste -sd'|')" = "$exp_host" ]
		t_check "$RT: owners in the container: $exp_ct" \
			[ "$(mv_step_out "$id" owners | paste -sd'|')" = "$exp_ct" ]
		mv_sync_go "$rootfs" "$id.vmdone"
	else
		t_fail "$RT: the container ran QEMU to the end" "--- container:" "$(tail -n 40 "$(mv_out "$id")")" \
			"--- console:" "$(tail -n 30 "$rootfs"/tmp/console*.log 2>&1)" \
			"--- notifyd log:" "$(tail -n 10 "$MV_LOG")"
	fi
	if [ "$MODE" = notifyd ] && [ "$reached" = 1 ]; then
		if sync_or_exit "$rootfs" "$id.unmounted" "$id" 20; then
			t_step_ok "$RT: umount /run/fs0.sock" "$id" umount
			t_decision "$RT: the umount's decision line" "$id" \
				'syscall=umount2' 'target=/run/fs0.sock' 'result=ok'
			t_step_ok "$RT: the socket's mount is gone, /run/fs0.sock is the container's file again" "$id" gone
			if wait_no_vfsd 10; then
				t_ok "$RT: umount stops vfsd"
			else
				t_fail "$RT: umount stops vfsd" "$(ps -o pid,ppid,args -p "$(share_vfsds | tr ' ' ,)0")"
			fi
			mv_sync_go "$rootfs" "$id.unmounted"
		else
			t_fail "$RT: the container got to its umount" "$(tail -n 20 "$(mv_out "$id")")"
		fi
	fi
	mv_wait "$id"
	rc=$?
	if [ "$rc" = 0 ]; then
		t_ok "$RT: container exits 0"
	else
		t_fail "$RT: container exits 0" "exit $rc"
	fi
	if wait_no_vfsd 10; then
		t_ok "$RT: no vfsd of notifyd left after the container's exit"
	else
		t_fail "$RT: no vfsd of notifyd left after the container's exit" \
			"$(ps -o pid,ppid,args -p "$(share_vfsds | tr ' ' ,)0")"
	fi
	if grep -E "fs0\.sock|$rootfs" "/proc/$NOTIFYD_PID/mountinfo" /proc/self/mountinfo >/dev/null; then
		t_fail "$RT: no mount of the share left on the host" \
			"$(grep -E "fs0\.sock|$rootfs" "/proc/$NOTIFYD_PID/mountinfo" /proc/self/mountinfo)"
	else
		t_ok "$RT: no mount of the share left on the host"
	fi
	if wait_fds "$fds0" 10; then
		t_ok "$RT: notifyd's fd count is back to $fds0"
	else
		t_fail "$RT: notifyd's fd count is back to $fds0" "now $(mv_notifyd_fds):" \
			"$(ls -l "/proc/$NOTIFYD_PID/fd" 2>&1)"
	fi
	if [ "$MODE" = direct ]; then
		t_check "$RT: direct: vfsd survived the guest" kill -0 "$DIRECT_PID"
		t_check "$RT: direct: the front-end was the container's root (host uid 100000), twice" \
			[ "$(grep -c 'front-end connected (uid 100000,' "$MV_TMP/vfsd-$RT.log")" = 2 ]
		kill "$DIRECT_PID" 2>/dev/null
		wait "$DIRECT_PID" 2>/dev/null
	fi
}

# warm_up : one share mounted and unmounted without a VM before the fd counts
# are taken: notifyd starts its daemon supervisor (a thread with its epoll
# and eventfd) with the first share and keeps it.
warm_up() {
	local id=vm-warm-$MV_IDP rootfs=$MV_TMP/rootfs-warm rt
	for rt in ${RUNTIMES:-crun runc}; do
		command -v "$rt" >/dev/null && break
	done
	mv_make_rootfs "$rootfs" || mv_bail "cannot build the busybox rootfs"
	mkdir -p "$rootfs"/{run,srv/data} && chown -R 100000:100000 "$rootfs"/{run,srv}
	cat >"$rootfs/warm.sh" <<'EOF'
touch /run/w.sock
mvstep mount mount -t vhost-user-fs /srv/data /run/w.sock
mvstep umount umount /run/w.sock
EOF
	mv_oci_bundle --profile vm "$MV_TMP/$id" "$rootfs" sh /warm.sh || mv_bail "cannot write the bundle"
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_ok "warm-up ($rt): a share without a VM mounts" "$id" mount
	t_step_ok "warm-up ($rt): and unmounts" "$id" umount
	wait_no_vfsd 10 ||
		t_fail "warm-up ($rt): its vfsd exits" "$(ps -o pid,ppid,args -p "$(share_vfsds | tr ' ' ,)0")"
}

[ "$MODE" = notifyd ] && warm_up
for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT tests" "$RT not installed"
		continue
	}
	run_vm
done
t_done
