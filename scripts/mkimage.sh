#!/bin/bash
# Builds, offline, a small container image as a tar archive of a root file
# system, for `podman import` (docs/podman.md, tests/integration/podman.sh):
# busybox-static as /bin/*, and the host's util-linux losetup and mount,
# fuse2fs and e2fsprogs' mkfs.ext4, each with the shared libraries it links
# (the fuse action runs the host's FUSE program inside the container, whose
# root must then hold that program's libraries: docs/fuse.md).
#
#   scripts/mkimage.sh OUT.tar
set -eu

out=${1:?usage: scripts/mkimage.sh OUT.tar}
bb=$(command -v busybox) || {
	echo "mkimage: busybox not found (apt-get install busybox-static)" >&2
	exit 1
}
if ldd "$bb" >/dev/null 2>&1; then
	echo "mkimage: $bb is not static (apt-get install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,usr/sbin,dev,proc,sys,mnt/a,mnt/b,tmp,etc,root}
cp "$bb" "$root/bin/busybox"
for app in $("$bb" --list); do
	[ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
done
# Host programs and every library they load, at the same paths (merged /usr:
# /lib and /lib64 are links on Debian 12; the copies are real directories).
for prog in /usr/sbin/losetup /usr/bin/mount /usr/bin/umount /usr/bin/fuse2fs /usr/sbin/mkfs.ext4 /usr/sbin/mke2fs; do
	[ -x "$prog" ] || continue
	cp "$prog" "$root$prog"
	for lib in $(ldd "$prog" | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || cp -L --parents "$lib" "$root"
	done
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$out" .
