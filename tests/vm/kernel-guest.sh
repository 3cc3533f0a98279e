#!/bin/bash
# pid 1 of the make check-kernel guest, after kernel-init.sh switched to the
# host's root file system (read-only 9p with a tmpfs overlay): mounts what a
# booted Debian 12 has (proc, sys, a unified cgroup2, devpts, tmpfs /tmp and
# /run), points the kernel's module loader at the Debian package's module
# tree, runs tests/run.sh on the selected tests and leaves its output, the
# test logs and the exit status in the "mvout" 9p share for the host.
# Kernel command line: mvsrc= mvbuild= mvtests= (comma-separated patterns).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
out=/run/mvout
finish() {
	echo "$1" >"$out/rc"
	sync
	echo "KVMTEST-DONE rc=$1"
	busybox poweroff -f
}

mount -t proc proc /proc
src= build= tests=
for w in $(cat /proc/cmdline); do
	case $w in
	mvsrc=*) src=${w#mvsrc=} ;;
	mvbuild=*) build=${w#mvbuild=} ;;
	mvtests=*) tests=${w#mvtests=} ;;
	esac
done
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
# Debian 12 boots with systemd's unified hierarchy: cgroup2 alone on /sys/fs/cgroup.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t configfs configfs /sys/kernel/config 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mkdir -p "$out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 mvout "$out" || {
	echo "KVMTEST-FAIL mount mvout"
	busybox poweroff -f
}
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
exec </dev/console >/dev/console 2>&1

# Modules: the unpacked package's tree at the path the kernel expects, and a
# modprobe for the kernel's request_module() (fsopen("ext4") loads ext4, as
# on a booted system).  The host has no kmod; busybox's modprobe reads modules.dep.
# A symlink, not a bind mount: a mount under /lib would be locked in a
# container's user namespace, and LXC's non-recursive bind of /lib then fails.
kver=$(uname -r)
mkdir -p /lib/modules
ln -sfn "$(cat /run/mvout/modroot)/lib/modules/$kver" "/lib/modules/$kver"
[ -f "/lib/modules/$kver/modules.dep" ] || echo "# no module tree for $kver"
mkdir -p /run/mvbin
ln -s "$(command -v busybox)" /run/mvbin/modprobe
echo /run/mvbin/modprobe >/proc/sys/kernel/modprobe
for m in loop ext4 fuse squashfs overlay btrfs xfs erofs vfat; do
	busybox modprobe "$m" 2>/dev/null || echo "# modprobe $m failed"
done
[ -e /dev/loop-control ] || echo "# no /dev/loop-control"
[ -e /dev/fuse ] || echo "# no /dev/fuse"
hostname kernel-vm
ip link set lo up 2>/dev/null
sysctl -qw kernel.unprivileged_userns_clone=1 2>/dev/null
ulimit -n 65536

echo "# guest: Linux $kver, $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
cd "$src" || finish 2
# Everything runs several times slower under TCG than on the host.
export MV_TEST_TIMEOUT=1800
# notifyd_reload.sh's storm: 8000 requests do not fit its container's 120 s
# under TCG (about 20 times slower); 1000 still overlap some 100 reloads.
export RELOAD_STORM_COUNT=${RELOAD_STORM_COUNT:-1000}
# The same for oci_crun.sh and oci_runc.sh's storm of 10000.
export OCI_STORM_COUNT=${OCI_STORM_COUNT:-1000}
# The build tree is the host's (read-only below the overlay); the test logs
# go straight to the host, so a slow or stuck test can be watched from there.
mkdir -p "$out/test-logs" "$build/test-logs"
mount --bind "$out/test-logs" "$build/test-logs"
# (tests/run.sh empties it; it cannot remove the mount point itself)
TESTS=${tests//,/ } tests/run.sh "$build" 2>&1 | tee "$out/run.out"
finish "${PIPESTATUS[0]}"
