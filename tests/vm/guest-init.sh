#!/bin/busybox sh
# /init of the vfsd test guest: load virtio-fs, mount the share, run the
# workload for the mode given on the kernel command line (vfsdmode=rw|ro|userns)
# and print one "VMTEST ok - ..." / "VMTEST not ok - ..." line per check.
# The host checks the files left in the share afterwards.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /lib/modules/$m.ko 2>/dev/null
done
mode=rw
for w in $(cat /proc/cmdline); do
	case $w in vfsdmode=*) mode=${w#vfsdmode=} ;; esac
done
ok() { echo "VMTEST ok - $*"; }
no() { echo "VMTEST not ok - $*"; }
t() { # t "description" command...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else no "$d"; fi
}
mkdir -p /mnt
if ! mount -t virtiofs share /mnt; then
	no "mount -t virtiofs"
	echo VMTEST-DONE
	poweroff -f
fi
ok "mount -t virtiofs"
t "read a host file" grep -q '^hello from host$' /mnt/hello.txt
t "readdir of 1000 host entries" sh -c '[ "$(ls /mnt/many | wc -l)" = 1000 ]'
t "absolute symlink resolves inside the guest" sh -c '[ "$(cat /mnt/abs_link)" = guest-only ]'
t "relative symlink out of the share stays in the guest" \
	sh -c '[ "$(cat /mnt/rel_link)" = guest-only ]'
t "'..' of the mount root is the guest's /" sh -c '[ -e /mnt/../init ]'

if [ "$mode" = ro ]; then
	t "create refused on --readonly" sh -c '! touch /mnt/newfile'
	t "mkdir refused on --readonly" sh -c '! mkdir /mnt/newdir'
	t "write refused on --readonly" sh -c '! echo x >> /mnt/hello.txt'
	t "unlink refused on --readonly" sh -c '! rm /mnt/hello.txt'
	echo VMTEST-DONE
	poweroff -f
fi

W=/mnt/w
t "mkdir" mkdir $W
t "create + write" sh -c "echo 'written by guest' > $W/a"
t "read back" grep -q '^written by guest$' $W/a
t "append" sh -c "echo line2 >> $W/a"
t "rename" mv $W/a $W/b
t "hard link" ln $W/b $W/hard
t "symlink" ln -s b $W/sym
t "readlink" sh -c "[ \"\$(readlink $W/sym)\" = b ]"
t "chmod" chmod 0640 $W/b
t "chmod visible" sh -c "[ \"\$(stat -c %a $W/b)\" = 640 ]"
if [ "$mode" = rw ]; then
	t "chown" chown 1000:1000 $W/b
	t "create as uid 1000 owns the file" \
		sh -c "chmod 0777 $W && su -s /bin/sh u1000 -c 'echo u > $W/user' && [ \"\$(stat -c %u:%g $W/user)\" = 1000:1000 ]"
	# No CAP_FSETID: the write must clear setuid (vfsd negotiates HANDLE_KILLPRIV_V2).
	t "write by uid 1000 clears its file's setuid bit" \
		sh -c "su -s /bin/sh u1000 -c 'echo s > $W/suid && chmod 4755 $W/suid && echo t >> $W/suid' && [ \"\$(stat -c %a $W/suid)\" = 755 ]"
fi
t "truncate" truncate -s 100000 $W/b
t "truncate visible" sh -c "[ \"\$(stat -c %s $W/b)\" = 100000 ]"
t "mkfifo in the share" mkfifo $W/fifo
if [ "$mode" = userns ]; then
	# The host kernel refuses device nodes to a user namespace; vfsd passes that on.
	t "mknod char device refused (vfsd in a user namespace)" sh -c "! mknod $W/null c 1 3"
else
	t "mknod char device in the share" mknod $W/null c 1 3
fi
i=0
while [ $i -lt 1000 ]; do
	: >$W/f$i || break
	i=$((i + 1))
done
t "create 1000 files" [ $i = 1000 ]
t "readdir of 1000 guest-created files" sh -c "[ \"\$(ls $W | grep -c '^f[0-9]')\" = 1000 ]"
t "unlink 500 of them" sh -c "for j in \$(seq 0 499); do rm $W/f\$j || exit 1; done"
t "large file (> page cache) write + fsync" \
	sh -c "dd if=/dev/zero of=$W/big bs=1M count=300 2>/dev/null && sync"
t "large file read back" sh -c "[ \"\$(dd if=$W/big bs=1M 2>/dev/null | wc -c)\" = 314572800 ]"
t "rmdir of non-empty dir fails" sh -c "mkdir $W/dd && : > $W/dd/x && ! rmdir $W/dd"
t "rm -r" rm -r $W/dd
if [ "$mode" = rw ] && [ -x /bin/guest_lock ] && [ -d /mnt/lk ]; then
	# Locks shared with the host (run-vfsd-vm.sh holds the host's side and
	# answers the markers; vfsd negotiates FUSE_POSIX_LOCKS/FLOCK_LOCKS).
	t "the host's POSIX lock conflicts in the guest" \
		sh -c '[ "$(guest_lock try /mnt/lk/host-posix posix)" = EAGAIN ]'
	t "the host's flock conflicts in the guest" \
		sh -c '[ "$(guest_lock try /mnt/lk/host-flock flock)" = EAGAIN ]'
	t "the guest's POSIX lock conflicts on the host" sh -c \
		'guest_lock hold /mnt/lk/guest-posix posix /mnt/lk/guest-holds /mnt/lk/host-saw &&
		 grep -qx EAGAIN /mnt/lk/host-saw'
	: >/mnt/lk/guest-waits
	out=$(guest_lock wait /mnt/lk/host-wait posix)
	echo "VMTEST # blocking F_SETLKW: $out"
	t "a blocking F_SETLKW waits for the host's unlock and gets the lock" \
		sh -c "echo '$out' | awk '\$1 == \"granted\" && \$2 >= 1 {ok = 1} END {exit !ok}'"
fi
t "df on the share" df /mnt
t "umount" umount /mnt
echo VMTEST-DONE
poweroff -f
