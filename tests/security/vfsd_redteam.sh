#!/bin/bash
# Red-team attacks on vfsd (tests/security/vfsd_redteam.c): a hostile guest
# sending requests as a non-root guest user (uid 1000) against root's files
# in the share (asserting the documented virtio-fs permission model, and what
# --modcaps takes away), in every sandbox, with and without file handles; the
# --readonly share against every modifying request and atime; a directory
# moved out of the share by the host (the documented residual); symlink
# attributes; a FUSE fuzz and memory-table races; the VMM shrinking guest
# memory.  See the C file for the list and why each case expects what it does.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RT=$MV_BUILD/tests/helpers/vfsd_redteam
if [ ! -x "$RT" ] || [ ! -x "$MV_BUILD/vfsd" ]; then
	mv_bail "vfsd and $RT built"
fi

work=$MV_TMP/rt
run() { # run TAG SANDBOX ONLY [vfsd options...]
	local tag=$1 sandbox=$2 only=$3
	shift 3
	local extra=() o
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work" && mkdir -p "$work/share" "$work/outside" && chmod 0755 "$work" "$work/share"
	if [ "$only" = readonly ]; then
		printf 'ROOT-CONTENT' >"$work/share/ro-file" && chmod 0644 "$work/share/ro-file"
		mkdir "$work/share/ro-dir"
	fi
	"$RT" --share "$work/share" --outside "$work/outside" --sandbox "$sandbox" --tag "$tag" --only "$only" "${extra[@]}"
	local rc=$?
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_redteam exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
}

CRED=cred-open,cred-setattr,cred-xattr,cred-dir,moved-out,symlink-attr
run cred-namespace namespace "$CRED"
run cred-chroot chroot "$CRED"
run cred-none none "$CRED"
run cred-handles none "$CRED" --inode-file-handles=mandatory
run cred-pool none "$CRED" --thread-pool-size=4
# What --modcaps can take away from a hostile guest (vfsd(8) SECURITY).
run cred-modcaps none cred-open,cred-setattr,cred-xattr --modcaps=-setfcap:-fsetid
run cred-modcaps-ns namespace cred-xattr --modcaps=-setfcap
run ro-namespace namespace readonly --readonly
run ro-none none readonly --readonly
run ro-handles none readonly --readonly --inode-file-handles=mandatory
# Random requests in concurrent batches (run from build-asan for ASan), and
# memory-table changes with requests in flight (VMM).
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-pool namespace fuzz,memrace --thread-pool-size=4
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-handles none fuzz --inode-file-handles=mandatory
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-chroot chroot fuzz,memrace
# The front-end (VMM) shrinks guest memory under vfsd.
run memshrink none memshrink
run memshrink-ns namespace memshrink

# --- vhost-user-fs-mount against a back-end whose reply /dev/fuse refuses ----
# A reply header with error +1 passes the tool's checks (len and unique are
# right) but the kernel rejects the write; the request must still end (EIO),
# not hang the host process that made the call.
MOUNT=$MV_BUILD/vhost-user-fs-mount
EVIL=$MV_BUILD/tests/helpers/vu_evil_backend
if [ -x "$MOUNT" ] && [ -x "$EVIL" ]; then
	d=$MV_TMP/evil-badheader
	mkdir -p "$d/mnt"
	"$EVIL" "$d/s" badheader 2>"$d/evil.log" &
	ep=$!
	defer "kill $ep 2>/dev/null"
	for ((i = 0; i < 100; i++)); do [ -S "$d/s" ] && break; sleep 0.05; done
	"$MOUNT" "$d/s" "$d/mnt" 2>"$d/mount.log" &
	mp=$!
	defer "kill $mp 2>/dev/null; umount -l '$d/mnt' 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		grep -q " $d/mnt " /proc/self/mountinfo && break
		sleep 0.05
	done
	# The caller sits in an uninterruptible wait (the request was read from
	# /dev/fuse): no timeout(1) can end it, only an answer or the connection
	# going away, so it runs in the background and the tool is killed after.
	stat "$d/mnt/x" >"$d/stat.out" 2>&1 &
	sp=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$sp" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$sp" 2>/dev/null; then
		t_fail "evil back-end, badheader: the call ends within 10 s" \
			"stat still blocked ($(awk '{print $3}' "/proc/$sp/stat" 2>/dev/null) state)" \
			"mount.log: $(head -c 300 "$d/mount.log")"
		kill "$mp" 2>/dev/null # closing /dev/fuse aborts the connection
		wait "$sp" 2>/dev/null
	else
		wait "$sp"
		t_check "evil back-end, badheader: the call ends, with EIO ($(cat "$d/stat.out"))" \
			grep -qi 'input/output' "$d/stat.out"
	fi
	kill "$mp" 2>/dev/null
	umount -l "$d/mnt" 2>/dev/null
else
	t_skip "vhost-user-fs-mount against a bad reply header" "not built"
fi
