#!/bin/busybox sh
# shellcheck shell=dash disable=SC2016 # single quotes: expanded by the inner sh
# /init of the VM-in-a-container guest (tests/integration/notifyd_virtiofs_vm.sh):
# QEMU runs inside a user-namespaced container and the guest's only share is
# the container's /srv/data, tag "data".  Mounts it, reads the file the
# container wrote, creates files as uid 0 and as uid 1000, a directory, a
# chown; prints one "VMTEST ok - ..." / "VMTEST not ok - ..." line per check,
# then VMTEST-DONE, and powers off.  The host and the container check the
# owners afterwards.
#
# Kernel command line: sharemode=notifyd|direct.  notifyd: the share is
# idmapped into the container's user namespace, so the container's root (the
# owner of its files) is uid 0 in the guest.  direct: vfsd was started by
# host root without a mapping, the container's root is host uid 100000.
# sharephase=reconnect: a second boot on the same share (QEMU restarted in
# the container): the first boot's files are there, one more is created.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /lib/modules/$m.ko 2>/dev/null
done
mode=notifyd phase=first
for w in $(cat /proc/cmdline); do
	case $w in
	sharemode=*) mode=${w#sharemode=} ;;
	sharephase=*) phase=${w#sharephase=} ;;
	esac
done
croot=0
[ "$mode" = direct ] && croot=100000
ok() { echo "VMTEST ok - $*"; }
no() { echo "VMTEST not ok - $*"; }
t() { # t "description" command...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else no "$d"; fi
}
done_() {
	echo VMTEST-DONE
	poweroff -f
}
mkdir -p /mnt
if ! mount -t virtiofs data /mnt; then
	no "mount -t virtiofs data"
	done_
fi
ok "mount -t virtiofs data"
if [ "$phase" = reconnect ]; then
	t "reconnect: the first boot's files are there" \
		sh -c '[ "$(cat /mnt/g-root)" = "written by guest root" ] && [ "$(stat -c %u:%g /mnt/g-dir/g-user)" = 1000:1000 ]'
	t "reconnect: create as uid 0" sh -c 'echo again > /mnt/g-again && [ "$(stat -c %u /mnt/g-again)" = 0 ]'
	t "reconnect: umount" umount /mnt
	done_
fi
t "read the file the container wrote" grep -qx 'hello from the container' /mnt/hello.txt
t "the container's file is owned by uid $croot" sh -c "[ \"\$(stat -c %u /mnt/hello.txt)\" = $croot ]"
t "create as uid 0" sh -c 'echo "written by guest root" > /mnt/g-root'
t "uid 0's file reads back, owned 0:0" \
	sh -c '[ "$(cat /mnt/g-root)" = "written by guest root" ] && [ "$(stat -c %u:%g /mnt/g-root)" = 0:0 ]'
t "mkdir" sh -c 'mkdir /mnt/g-dir && chmod 0777 /mnt/g-dir'
t "create as uid 1000 (su)" su -s /bin/sh u1000 -c 'echo "written by guest 1000" > /mnt/g-dir/g-user'
t "uid 1000's file owned 1000:1000" sh -c '[ "$(stat -c %u:%g /mnt/g-dir/g-user)" = 1000:1000 ]'
t "mkdir as uid 1000" su -s /bin/sh u1000 -c 'mkdir /mnt/g-dir/g-udir'
t "chown 1000:1000" sh -c 'echo chowned > /mnt/g-chown && chown 1000:1000 /mnt/g-chown'
t "chown visible" sh -c '[ "$(stat -c %u:%g /mnt/g-chown)" = 1000:1000 ]'
t "readdir of the share" sh -c 'ls /mnt | grep -qx g-dir && ls /mnt | grep -qx hello.txt'
t "umount" umount /mnt
done_
