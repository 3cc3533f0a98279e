#!/bin/bash
# make check-kernel: runs notifyd's integration and security tests inside a
# QEMU guest that boots Debian's own kernel (linux-image-amd64's dependency:
# 6.1 on Debian 12), so the fallbacks for kernels older than the host's are
# exercised.  Usage: run-kernel-vm.sh [BUILD]
#
# The guest's root file system is the host's own, shared read-only over 9p
# (QEMU -virtfs) with a tmpfs overlay on top: crun, runc, LXC, fuse2fs and the
# build are all there.  Its modules come from the same package as the kernel.
# tests/run.sh runs in the guest; its lines appear here as they come, and
# this script exits with its status (77: no QEMU, busybox or kernel package).
#
# Environment: MV_KERNEL_TESTS  test name patterns (default: notifyd's tests)
#              MV_KERNEL_PKG    another linux-image package
#              MV_VM_CPUS, MV_VM_MEM (default 2, 8G), MV_VM_ACCEL (kvm|tcg;
#              default tcg), MV_VM_TIMEOUT (s, default 5400), MV_VM_KEEP=1 keeps
#              the console log and the guest's output in /tmp/kernel-vm-*
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# notifyd's tests: the unit tests of its modules, every integration test that
# starts notifyd (and the harness self-test), and its security tests.
TESTS_DEFAULT="test_mount_options test_mount_verify test_oci_state test_profile harness oci_crun oci_runc \
fuse_oci loop_oci lxc notifyd_"
tests=${MV_KERNEL_TESTS:-$TESTS_DEFAULT}
cpus=${MV_VM_CPUS:-2}
mem=${MV_VM_MEM:-8G}
# shellcheck source=tests/vm/debian-kernel.sh
. "$SRC/tests/vm/debian-kernel.sh"

command -v qemu-system-x86_64 >/dev/null || { echo "# qemu-system-x86_64 missing"; exit 77; }
[ -x "$BUILD/notifyd" ] || { echo "# $BUILD/notifyd missing: run make first"; exit 2; }
vm_kernel_fetch "$BUILD/vm-cache" || exit $?
echo "# kernel: Debian linux-image-$VM_KVER"

work=$(mktemp -d /tmp/kernel-vm-XXXXXX)
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
	if [ -n "${MV_VM_KEEP:-}" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$work/initramfs
vm_initramfs "$root" || exit $?
: >"$root/lib/modules/order"
for f in $(vm_modules virtio_pci 9pnet_virtio 9p overlay); do
	cp "$f" "$root/lib/modules/" && basename "$f" >>"$root/lib/modules/order"
done
cp "$SRC/tests/vm/kernel-init.sh" "$root/init" && chmod 755 "$root/init"
vm_pack "$root" "$work/initrd.gz" || exit $?

out=$work/out
mkdir -p "$out"
echo "$VM_MODROOT" >"$out/modroot"
echo "# the guest's test logs, as they are written: $out/test-logs/"

# TCG: guests hang at boot under this host's /dev/kvm (DESIGN.md), so KVM is opt-in.
accel=${MV_VM_ACCEL:-tcg}
cpu=max
[ "$accel" = kvm ] && cpu=host
echo "# guest: $cpus CPUs, $mem, -accel $accel; tests: $tests"
start=$(date +%s)
# -virtfs multidevs=remap: the host root spans several file systems (/, /work,
# ...); remapping keeps their inode numbers apart in the guest.
qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$cpus" -m "$mem" \
	-nographic -no-reboot -nic none \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-virtfs local,path="$out",mount_tag=mvout,security_model=passthrough,multidevs=remap \
	-kernel "$VM_VMLINUZ" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 mvguest=$SRC/tests/vm/kernel-guest.sh mvsrc=$SRC mvbuild=$BUILD mvtests=${tests// /,}" \
	</dev/null >"$work/console.log" 2>&1 &
qemu_pid=$!
# Show the guest's test lines as they come (the console also has kernel noise).
tail -n +1 -f --pid="$qemu_pid" "$work/console.log" 2>/dev/null | sed -u 's/\r$//' |
	grep --line-buffered -E '^(# |[a-z_0-9.]+\.sh |test_|failed:|[0-9]+ passed|    |KVMTEST)' &
tail_pid=$!
timeout_s=${MV_VM_TIMEOUT:-5400}
for _ in $(seq "$timeout_s"); do
	kill -0 "$qemu_pid" 2>/dev/null || break
	sleep 1
done
if kill -0 "$qemu_pid" 2>/dev/null; then
	echo "# guest still running after ${timeout_s}s: stopped"
	kill "$qemu_pid"
fi
wait "$qemu_pid" 2>/dev/null
qemu_pid=
wait "$tail_pid" 2>/dev/null
echo "# guest ran $(($(date +%s) - start)) s on Linux $VM_KVER"
rm -rf "$BUILD/test-logs-kernel"
[ -d "$out/test-logs" ] && cp -r "$out/test-logs" "$BUILD/test-logs-kernel" &&
	echo "# logs of the guest's tests: $BUILD/test-logs-kernel/"
if [ ! -f "$out/rc" ]; then
	echo "# the guest did not finish; last console lines:"
	tail -n 40 "$work/console.log" | tr -d '\r' | sed 's/^/# /'
	exit 1
fi
exit "$(cat "$out/rc")"
