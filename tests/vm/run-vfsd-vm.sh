#!/bin/bash
# Boots a QEMU guest (TCG) whose only file system is a vfsd share and runs
# tests/vm/guest-init.sh in it.  Usage: run-vfsd-vm.sh MODE
#   namespace  vfsd --sandbox=namespace, read-write workload
#   userns     vfsd --sandbox=chroot as an unprivileged user inside a user namespace
#   readonly   vfsd --sandbox=namespace --readonly
#   anchor     QEMU's C virtiofsd instead of vfsd, same workload (for comparing times)
# Prints TAP lines (guest checks and host-side checks); exit 77 if the
# kernel package or QEMU is unavailable.
set -u
mode=${1:-namespace}
BUILD=${MV_BUILD:-$(pwd)/build}
SRC=${MV_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
VFSD=$BUILD/vfsd
cache=$BUILD/vm-cache
work=$(mktemp -d /tmp/vfsd-vm-XXXXXX)
vfsd_pid=
lock_pids=()
cleanup() {
	local p
	for p in "${lock_pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$vfsd_pid" ] && kill "$vfsd_pid" 2>/dev/null && wait "$vfsd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=tests/vm/debian-kernel.sh
. "$SRC/tests/vm/debian-kernel.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "# qemu-system-x86_64 missing"; exit 77; }

# Debian kernel, fetched once (apt-get download + dpkg -x, as DESIGN.md measured).
vm_kernel_fetch "$cache" || exit $?

# initramfs: static busybox, the modules, the workload as /init
root=$work/initramfs
vm_initramfs "$root" || exit $?
for f in $(vm_modules virtio_pci virtiofs); do cp "$f" "$root/lib/modules/"; done
cp "$SRC/tests/vm/guest-init.sh" "$root/init"
# Lock probe for the guest's side of the shared-lock checks (rw modes).
[ -x "$BUILD/tests/helpers/guest_lock" ] && cp "$BUILD/tests/helpers/guest_lock" "$root/bin/"
chmod 755 "$root/init"
echo guest-only >"$root/etc/vfsd-target"
printf 'root:x:0:0::/:/bin/sh\nu1000:x:1000:1000::/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nu1000:x:1000:\n' >"$root/etc/group"
vm_pack "$root" "$work/initrd.gz" || { r=$?; echo "# packing the initramfs failed"; exit $r; }

# the share, as the host sees it
share=$work/share
mkdir -p "$share/many"
echo "hello from host" >"$share/hello.txt"
for i in $(seq 1 1000); do : >"$share/many/e$i"; done
ln -s /etc/vfsd-target "$share/abs_link"
ln -s ../../../../../../etc/vfsd-target "$share/rel_link"
sock=$work/vfsd.sock
log=$work/vfsd.log
args=(--socket-path="$sock" --shared-dir="$share" --log-level=info --cache=auto)
# A sanitizer build makes syscalls of its own (sigaltstack, ...): log them instead of killing.
ldd "$VFSD" 2>/dev/null | grep -q libasan && args+=(--seccomp=log)
case $mode in
namespace) "$VFSD" "${args[@]}" --sandbox=namespace >"$log" 2>&1 & ;;
readonly) "$VFSD" "${args[@]}" --sandbox=namespace --readonly >"$log" 2>&1 & ;;
userns)
	# An unprivileged user (nobody) that is root only inside its own user
	# namespace: the container case, where only chroot is possible.
	chown -R 65534:65534 "$share"
	chmod 755 "$work"
	mkdir "$work/sockdir"
	chown 65534:65534 "$work/sockdir"
	sock=$work/sockdir/vfsd.sock
	args[0]=--socket-path="$sock"
	# A copy nobody can reach: the clone (and $BUILD) may be where only root
	# can enter (/root is 0700 on Debian).
	cp "$VFSD" "$work/vfsd" && chmod 755 "$work/vfsd" || exit 1
	setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		unshare --user --map-root-user -- "$work/vfsd" "${args[@]}" --sandbox=chroot >"$log" 2>&1 &
	;;
anchor)
	[ -x /usr/lib/qemu/virtiofsd ] || { echo "# no /usr/lib/qemu/virtiofsd"; exit 77; }
	/usr/lib/qemu/virtiofsd --socket-path="$sock" -o source="$share",cache=auto,sandbox=namespace \
		--thread-pool-size=0 >"$log" 2>&1 &
	;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
vfsd_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "not ok - $mode: vfsd did not create its socket"; sed 's/^/# /' "$log"; exit 1; }

# The host's side of the guest's lock checks (tests/vm/guest-init.sh): locks
# held for the whole run, a look at the guest's lock when it says it holds
# one, and an unlock two seconds after the guest starts waiting.
PROBE=$SRC/tests/helpers/lockprobe.py
# (vfsd only: QEMU's virtiofsd keeps locks in the guest by default.)
if [ "$mode" = namespace ]; then
	mkdir -p "$share/lk"
	for f in host-posix host-flock guest-posix host-wait; do : >"$share/lk/$f"; done
	hold_lock() { # hold_lock PATH KIND : pid of a host process holding a write lock
		timeout 900 python3 "$PROBE" hold "$1" "$2" w >/dev/null 2>&1 &
		lock_pids+=($!)
	}
	hold_lock "$share/lk/host-posix" posix
	hold_lock "$share/lk/host-flock" flock
	hold_lock "$share/lk/host-wait" posix
	wait_pid=$!
	(
		for _ in $(seq 6000); do [ -e "$share/lk/guest-holds" ] && break; sleep 0.1; done
		python3 "$PROBE" try "$share/lk/guest-posix" posix w >"$share/lk/host-saw.tmp" 2>&1
		mv "$share/lk/host-saw.tmp" "$share/lk/host-saw"
		for _ in $(seq 6000); do [ -e "$share/lk/guest-waits" ] && break; sleep 0.1; done
		sleep 2
		kill "$wait_pid"
	) &
	lock_pids+=($!)
fi

gmode=rw
[ "$mode" = readonly ] && gmode=ro
[ "$mode" = userns ] && gmode=userns
start=$(date +%s.%N)
timeout 600 qemu-system-x86_64 -accel tcg -m 256M -smp 1 -nographic -no-reboot -nic none \
	-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
	-chardev socket,id=char0,path="$sock" \
	-device vhost-user-fs-pci,queue-size=1024,chardev=char0,tag=share \
	-kernel "$VM_VMLINUZ" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 vfsdmode=$gmode" >"$work/console.log" 2>&1
qrc=$?
end=$(date +%s.%N)
echo "# $mode: guest ran $(echo "$end - $start" | bc) s (qemu exit $qrc)"
sed -n 's/^VMTEST //p' "$work/console.log" | tr -d '\r' | sed "s/^\(not ok\|ok\) - /\1 - $mode: /"
fail=0
grep -q VMTEST-DONE "$work/console.log" || { echo "not ok - $mode: guest workload finished"; fail=1; }

host() { # host "description" command...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then echo "ok - $mode: host: $d"; else echo "not ok - $mode: host: $d"; fail=1; fi
}
host "vfsd survived the guest" kill -0 "$vfsd_pid"
host "symlink targets were never resolved on the host" test ! -e /etc/vfsd-target
if [ "$mode" = readonly ]; then
	host "share unchanged" sh -c "[ ! -e '$share/newfile' ] && [ ! -e '$share/newdir' ] && grep -qx 'hello from host' '$share/hello.txt'"
else
	W=$share/w
	host "renamed file content" sh -c "head -c 17 '$W/b' | grep -qx 'written by guest'"
	host "hard link shares the inode" sh -c "[ \"\$(stat -c %i '$W/b')\" = \"\$(stat -c %i '$W/hard')\" ]"
	host "symlink target" sh -c "[ \"\$(readlink '$W/sym')\" = b ]"
	host "truncated size" sh -c "[ \"\$(stat -c %s '$W/b')\" = 100000 ]"
	host "mode 0640" sh -c "[ \"\$(stat -c %a '$W/b')\" = 640 ]"
	host "500 files left" sh -c "[ \"\$(ls '$W' | grep -c '^f[0-9]')\" = 500 ]"
	host "large file size" sh -c "[ \"\$(stat -c %s '$W/big')\" = 314572800 ]"
	host "large file content" cmp -n 314572800 "$W/big" /dev/zero
	host "FIFO is a FIFO on the host" test -p "$W/fifo"
	if [ "$mode" = userns ]; then
		host "no device node in the share" test ! -e "$W/null"
	else
		host "device node created but never opened by vfsd" test -c "$W/null"
	fi
	if [ "$mode" = namespace ] || [ "$mode" = anchor ]; then
		host "chown to 1000:1000" sh -c "[ \"\$(stat -c %u:%g '$W/b')\" = 1000:1000 ]"
		host "file created by guest uid 1000 owned by 1000" sh -c "[ \"\$(stat -c %u '$W/user')\" = 1000 ]"
		host "setuid cleared by the unprivileged write" sh -c "[ \"\$(stat -c %a '$W/suid')\" = 755 ]"
	fi
fi
if [ $fail -ne 0 ] || grep -q '^VMTEST not ok' "$work/console.log"; then
	echo "# --- console"; tail -n 30 "$work/console.log" | sed 's/^/# /'
	echo "# --- vfsd"; tail -n 30 "$log" | sed 's/^/# /'
fi
exit 0
