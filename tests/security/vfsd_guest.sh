#!/bin/bash
# A hostile guest against vfsd (issue 14, items 1 and 3), in every sandbox:
# tests/security/vfsd_guest_attack.c plays VMM and guest and forges the
# requests.  Here the host side is set up: a share and a directory beside
# it (on the same file system, so the host can move directories out of the
# share), and a real loop device over a file holding a secret, whose
# major:minor the guest gives to MKNOD and the host to mknod(2) in the share.
# The program asserts the secret never reaches the guest and the backing
# file never changes; this script checks it once more at the end.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

ATTACK=$MV_BUILD/tests/helpers/vfsd_guest_attack
if [ ! -x "$ATTACK" ] || [ ! -x "$MV_BUILD/vfsd" ]; then
	mv_bail "vfsd and $ATTACK built"
fi

work=$MV_TMP/guest
mkdir -p "$work/share" "$work/outside"
secret="vfsd-guest-secret-$$-$RANDOM"
backing=$work/backing.img
{ printf '%s' "$secret"; head -c 65536 /dev/zero; } >"$backing"
sum_before=$(sha256sum <"$backing")
dev_args=()
if loopdev=$(losetup --find --show "$backing" 2>/dev/null); then
	defer "losetup -d '$loopdev'"
	dev_args=(--blockdev "$loopdev" --secret "$secret" --backing "$backing")
	t_ok "loop device $loopdev over a file holding a secret"
else
	t_skip "block device cases use a real loop device" "losetup failed"
fi

run() { # run TAG SANDBOX [vfsd options...]  (ONLY=tests: a subset)
	local tag=$1 sandbox=$2
	shift 2
	local extra=() o
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work/share" "$work/outside" && mkdir -p "$work/share" "$work/outside"
	"$ATTACK" --share "$work/share" --outside "$work/outside" --sandbox "$sandbox" \
		--tag "$tag" ${ONLY:+--only "$ONLY"} "${dev_args[@]}" "${extra[@]}"
	local rc=$?
	# The C program prints the TAP lines; count them into this script's tally.
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_guest_attack exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
}

run namespace namespace
run chroot chroot
run none none
# Inodes held by file handles: reopened by open_by_handle_at (O_PATH only).
run handles none --inode-file-handles=mandatory

# A deleted file's inode number reused by a FIFO while the guest still knows
# the old inode by its handle: ext4 reuses numbers at once (tmpfs never does).
img=$MV_TMP/ext4.img
if truncate -s 64M "$img" && mkfs.ext4 -q "$img" 2>/dev/null &&
	mkdir -p "$MV_TMP/ext4" && mount -o loop "$img" "$MV_TMP/ext4"; then
	defer "umount '$MV_TMP/ext4'"
	save_work=$work
	work=$MV_TMP/ext4
	ONLY=reuse run reuse none --inode-file-handles=mandatory --rlimit-nofile=600
	work=$save_work
else
	t_skip "inode-number reuse with file handles" "no ext4 image could be mounted"
fi

if [ -n "${loopdev:-}" ]; then
	t_check "the loop device's backing file is unchanged after every run" \
		[ "$(sha256sum <"$backing")" = "$sum_before" ]
fi
