#!/bin/bash
# vfsd --translate-uid/--translate-gid under a real virtio-fs guest kernel
# (QEMU, TCG), which checks permissions itself (default_permissions) against
# the owners vfsd reports: guest root's files land as the container root
# (100000) on the host and are 0 in the guest, a guest user's as 100000+uid,
# host owners inside the map show shifted, outside it unchanged, and a
# forbid-guest uid gets EPERM.  Rules: map:0:100000:3000, forbid-guest:3000:1,
# map:3001:103001:62535 (uids), map:0:100000:65536 (gids).
# Skips (77) when QEMU, a static busybox or the Debian kernel package is unavailable.
set -u
BUILD=${MV_BUILD:-$(pwd)/build}
SRC=${MV_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
VFSD=$BUILD/vfsd
work=$(mktemp -d /tmp/vfsd-vm-tr-XXXXXX)
vfsd_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[ -n "$vfsd_pid" ] && kill "$vfsd_pid" 2>/dev/null && wait "$vfsd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "# needs root (chown in the share)"; exit 77; }

# shellcheck source=tests/vm/debian-kernel.sh
. "$SRC/tests/vm/debian-kernel.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "# qemu-system-x86_64 missing"; exit 77; }
vm_kernel_fetch "$BUILD/vm-cache" || exit $?
root=$work/initramfs
vm_initramfs "$root" || exit $?
for f in $(vm_modules virtio_pci virtiofs); do cp "$f" "$root/lib/modules/"; done
printf 'root:x:0:0::/:/bin/sh\nu1000:x:1000:1000::/:/bin/sh\nu3000:x:3000:3000::/:/bin/sh\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nu1000:x:1000:\nu3000:x:3000:\n' >"$root/etc/group"
cat >"$root/init" <<'GUEST'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci fuse virtiofs; do
	insmod /lib/modules/$m.ko 2>/dev/null
done
t() { # t "description" command...
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then echo "VMTEST ok - $d"; else echo "VMTEST not ok - $d"; fi
}
own() { [ "$(stat -c %u:%g "$1")" = "$2" ]; }
mkdir -p /mnt
t "mount -t virtiofs" mount -t virtiofs share /mnt
t "share root (host 100000) is 0:0" own /mnt 0:0
t "host 100005 shows as 5:5" own /mnt/in5 5:5
t "host 200000 (outside the map) shows as 200000:200000" own /mnt/out200000 200000:200000
t "ls -ln (READDIRPLUS) shows 5 5" sh -c "ls -ln /mnt | grep -q ' 5 *5 .* in5\$'"
t "root creates a file" sh -c "echo r >/mnt/byroot"
t "  ... owned 0:0" own /mnt/byroot 0:0
t "root makes a directory" mkdir /mnt/dir
t "  ... owned 0:0" own /mnt/dir 0:0
t "uid 1000 creates a file in a 0777 directory" \
	sh -c "chmod 0777 /mnt/dir && su -s /bin/sh u1000 -c 'echo u >/mnt/dir/u'"
t "  ... owned 1000:1000" own /mnt/dir/u 1000:1000
t "uid 1000 may not write root's 0644 file (the guest checks the reported owner)" \
	sh -c "! su -s /bin/sh u1000 -c 'echo x >>/mnt/byroot'"
t "chown 7:8" chown 7:8 /mnt/byroot
t "  ... shown as 7:8" own /mnt/byroot 7:8
t "forbidden uid 3000 cannot create (EPERM)" \
	sh -c "su -s /bin/sh u3000 -c 'echo x >/mnt/dir/f3000' 2>&1 | grep -q 'not permitted'"
t "chown to forbidden uid 3000 fails" sh -c "! chown 3000 /mnt/dir/u"
t "umount" umount /mnt
echo VMTEST-DONE
poweroff -f
GUEST
chmod 755 "$root/init"
vm_pack "$root" "$work/initrd.gz" || { r=$?; echo "# packing the initramfs failed"; exit $r; }

share=$work/share
mkdir -p "$share"
touch "$share/in5" "$share/out200000"
chown 100005:100005 "$share/in5"
chown 200000:200000 "$share/out200000"
chown 100000:100000 "$share"
sock=$work/vfsd.sock
log=$work/vfsd.log
args=(--socket-path="$sock" --shared-dir="$share" --sandbox=namespace --cache=auto
	--translate-uid map:0:100000:3000 --translate-uid forbid-guest:3000:1
	--translate-uid map:3001:103001:62535 --translate-gid map:0:100000:65536)
ldd "$VFSD" 2>/dev/null | grep -q libasan && args+=(--seccomp=log)
"$VFSD" "${args[@]}" >"$log" 2>&1 &
vfsd_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "not ok - vfsd did not create its socket"; sed 's/^/# /' "$log"; exit 1; }
timeout 300 qemu-system-x86_64 -accel tcg -m 256M -smp 1 -nographic -no-reboot -nic none \
	-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
	-chardev socket,id=char0,path="$sock" \
	-device vhost-user-fs-pci,queue-size=1024,chardev=char0,tag=share \
	-kernel "$VM_VMLINUZ" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1" >"$work/console.log" 2>&1
sed -n 's/^VMTEST //p' "$work/console.log" | tr -d '\r'
fail=0
grep -q VMTEST-DONE "$work/console.log" || { echo "not ok - guest workload finished"; fail=1; }
host() { # host "description" WANT PATH : owner uid:gid of PATH on the host
	if [ "$(stat -c %u:%g "$3" 2>&1)" = "$2" ]; then
		echo "ok - host: $1"
	else
		echo "not ok - host: $1 (want $2, got $(stat -c %u:%g "$3" 2>&1))"
		fail=1
	fi
}
host "guest root's directory is 100000:100000" 100000:100000 "$share/dir"
host "uid 1000's file is 101000:101000" 101000:101000 "$share/dir/u"
host "chown 7:8 landed as 100007:100008" 100007:100008 "$share/byroot"
if [ -e "$share/dir/f3000" ]; then
	echo "not ok - host: nothing created for forbidden uid 3000"
	fail=1
else
	echo "ok - host: nothing created for forbidden uid 3000"
fi
if kill -0 "$vfsd_pid" 2>/dev/null; then echo "ok - host: vfsd survived"; else echo "not ok - host: vfsd survived"; fail=1; fi
if [ $fail -ne 0 ] || grep -q '^VMTEST not ok' "$work/console.log"; then
	echo "# --- console"; tail -n 30 "$work/console.log" | sed 's/^/# /'
	echo "# --- vfsd"; tail -n 30 "$log" | sed 's/^/# /'
fi
exit 0
