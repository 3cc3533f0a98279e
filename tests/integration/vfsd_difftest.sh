#!/bin/bash
# Differential testing of vfsd (tests/posix/difftest.c): random operation
# sequences from fixed seeds, run in lock-step on a local directory and on a
# vhost-user-fs-mount mount of vfsd (root, namespace sandbox, --xattr, as in
# vufs_posix.sh), every result, errno and the trees compared; lock operations
# included (OFD locks, flock, a second process probing for a conflict).  Must match but
# for tests/posix/difftest-known.txt.  The same against QEMU's virtiofsd is only
# reported (where it differs from the kernel), and vfsd may differ in no more
# places than it.  DIFFTEST_OPS (ops per seed, default 2000) and
# DIFFTEST_SEEDS (default "1 2 3 4 5 6") make it longer: make difftest.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

MOUNT=$MV_BUILD/vhost-user-fs-mount
DIFF=$MV_BUILD/tests/posix/difftest
VFSD=$MV_BUILD/vfsd
VIRTIOFSD=/usr/lib/qemu/virtiofsd
KNOWN=$MV_SRC/tests/posix/difftest-known.txt
OPS=${DIFFTEST_OPS:-2000}
SEEDS=${DIFFTEST_SEEDS:-1 2 3 4 5 6}
for p in "$MOUNT" "$DIFF" "$VFSD"; do
	[ -x "$p" ] || mv_bail "$p not built"
done
VFSD_ARGS=()
ldd "$VFSD" 2>/dev/null | grep -q libasan && VFSD_ARGS+=(--seccomp=log)

stop_all() { mv_vufs_stop; }
defer stop_all

# start NAME BACKEND-COMMAND... : back-end on $MV_TMP/vu.sock, mounted at $MV_TMP/mnt.
start() {
	local name=$1
	shift
	MV_VUFS_ARGS=()
	mv_vufs_start "$name" "$MV_TMP/mnt" "$@"
}

# run NAME ARGS... : every seed; output in $MV_TMP/NAME-SEED.txt; prints the total of ops compared.
run() {
	local name=$1 seed ops=0 n
	shift
	for seed in $SEEDS; do
		timeout "${DIFFTEST_TIMEOUT:-3600}" "$DIFF" --seed "$seed" --ops "$OPS" "$@" "$MV_TMP/ref" "$MV_TMP/mnt" \
			>"$MV_TMP/$name-$seed.txt" 2>&1
		echo $? >"$MV_TMP/$name-$seed.rc"
		n=$(sed -n 's/^difftest: seed [0-9]*: \([0-9]*\) ops compared.*/\1/p' "$MV_TMP/$name-$seed.txt")
		ops=$((ops + ${n:-0}))
	done
	echo "$ops"
}

# Keys that differed in any seed (one a line, sorted).
keys() {
	cat "$MV_TMP/$1"-*.txt | awk '$1 == "difference" {print $2}' | sort -u
}

# The reference: a tmpfs like the share's, mounted as the FUSE mount is
# (nosuid,nodev: a device node opens with EACCES there, ENXIO for a whiteout here).
mkdir -p "$MV_TMP/ref"
mount -t tmpfs -o nosuid,nodev,mode=0755,size=1g difftest-ref "$MV_TMP/ref" || mv_bail "tmpfs on $MV_TMP/ref"
defer "umount -l '$MV_TMP/ref'"

vfsd_keys= virtiofsd_keys=
if start vfsd "$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" --shared-dir="$MV_TMP/share" --xattr; then
	ops=$(run vfsd --locks --known "$KNOWN" --shrink --keep-going)
	bad=
	for seed in $SEEDS; do
		[ "$(cat "$MV_TMP/vfsd-$seed.rc")" = 0 ] || bad+="$seed "
	done
	vfsd_keys=$(keys vfsd)
	if [ -z "$bad" ]; then
		t_ok "vfsd: $ops ops on the mount give the local results (seeds $SEEDS; known differences: $(tr "\n" " " <<<"$vfsd_keys"))"
	else
		fails=()
		for seed in $bad; do fails+=("$(grep -v '^difference ' "$MV_TMP/vfsd-$seed.txt" | head -n 80)"); done
		t_fail "vfsd: the mount gives the local results (seeds $SEEDS)" "mismatches in seeds: $bad" "${fails[@]}"
	fi
	stop_all
fi
if [ -x "$VIRTIOFSD" ]; then
	if start virtiofsd "$VIRTIOFSD" --socket-path="$MV_TMP/vu.sock" -o source="$MV_TMP/share" -o xattr; then
		ops=$(run virtiofsd --locks --keep-going)
		virtiofsd_keys=$(keys virtiofsd)
		t_diag "QEMU's virtiofsd: $ops ops; where it differs from the kernel (key, count):" \
			"$(cat "$MV_TMP"/virtiofsd-*.txt | awk '$1 == "difference" {c[$2] += $3} END {for (k in c) print k, c[k]}' | sort)"
		t_check "vfsd differs from the kernel in no more places than virtiofsd ($(echo "$vfsd_keys" | grep -c .) vs $(echo "$virtiofsd_keys" | grep -c .))" \
			test "$(echo "$vfsd_keys" | grep -c .)" -le "$(echo "$virtiofsd_keys" | grep -c .)"
		stop_all
	fi
else
	t_skip "QEMU's virtiofsd" "$VIRTIOFSD not installed (qemu-system-common)"
fi
t_check "nothing left mounted" sh -c "! grep -q ' $MV_TMP/mnt ' /proc/self/mounts"
t_done
