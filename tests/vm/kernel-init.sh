#!/bin/busybox sh
# /init of the make check-kernel guest (busybox, in the initramfs): loads the
# modules that reach the host's root file system (virtio, 9p, overlay, from
# the same Debian package as the kernel), mounts it read-only over 9p with a
# tmpfs overlay on top so tests can write anywhere, and switches to it to run
# tests/vm/kernel-guest.sh with the host's own bash.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() {
	echo "KVMTEST-FAIL $*"
	poweroff -f
}
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || fail "insmod $m"
done
guest=
for w in $(cat /proc/cmdline); do
	case $w in mvguest=*) guest=${w#mvguest=} ;; esac
done
mkdir -p /lower /rw /newroot
# cache=loose: the host tree does not change under a test run, and lookups
# and execs over 9p are several times faster with the guest's caches.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=524288 hostroot /lower ||
	fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 rw /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot ||
	fail "mount overlay"
[ -x "/newroot$guest" ] || fail "no $guest in the host root"
exec switch_root /newroot /bin/bash "$guest"
