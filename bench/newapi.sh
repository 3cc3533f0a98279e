#!/bin/bash
# bench/newapi.sh BUILD : the new mount API next to mount(2) (issue 20), in
# the same crun container in the same run.
#   mount(2)  tests/helpers/mountloop: mount + umount2 (the anchor)
#   new API   bench/newapi_loop: fsopen, fsconfig "source", CMD_CREATE,
#             fsmount, move_mount, close, umount2 (libmount >= 2.39's order)
# for ext4 on a loop device under the kernel action (idmap) and tmpfs under
# the continue action; and both done by root on the host without any
# container (what the kernel alone costs for each sequence).  Each case runs
# NEWAPI_BENCH_N cycles (default 500) x MV_BENCH_ROUNDS (default 3),
# interleaved; the table gives the median of the rounds' p50 and their range.
# Ratio = new API / mount(2) of the same row.  Timing never fails: tables only.
BUILD=${1:-build}
export MV_BUILD=${MV_BUILD:-$(cd "$BUILD" && pwd)}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1
N=${NEWAPI_BENCH_N:-500}
ROUNDS=${MV_BENCH_ROUNDS:-3}
command -v crun >/dev/null || { echo "new API bench: crun not installed"; exit 0; }
NEWAPI=$MV_BUILD/bench/newapi_loop
MOUNTLOOP=$MV_BUILD/tests/helpers/mountloop
for p in "$NEWAPI" "$MOUNTLOOP"; do
	[ -x "$p" ] || { echo "new API bench: $p not built"; exit 0; }
done

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
printf '%s\n' '[profile]' 'default-action = deny' 'max-mounts = 64' '' '[fs ext4]' \
	'action = kernel' 'idmap = yes' '' '[fs tmpfs]' 'action = continue' >"$PROFILES/default.conf"
ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$NEWAPI" "$MOUNTLOOP" "$ROOTFS/bin/"
chown 100000:100000 "$ROOTFS/bin/newapi_loop" "$ROOTFS/bin/mountloop"
# $MV_TMP is a tmpfs: the loop device does no disk I/O that would drown notifyd's share.
mv_make_ext4 "$MV_TMP/disk.img" 64M || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mkdir -p "$MV_TMP/mnt"
mv_start_notifyd "$PROFILES" --log-level warn || mv_bail "notifyd did not start"

script=
for r in $(seq "$ROUNDS"); do
	script+="mvstep m2_ext4_$r mountloop ext4 $DEV /mnt/a '' $N; "
	script+="mvstep na_ext4_$r newapi_loop ext4 $DEV /mnt/a $N; "
	script+="mvstep m2_tmpfs_$r mountloop tmpfs none /mnt/a '' $N; "
	script+="mvstep na_tmpfs_$r newapi_loop tmpfs none /mnt/a $N; "
done
mv_oci_bundle --device "$DEV" "$MV_TMP/b" "$ROOTFS" sh -c "$script"
for r in $(seq "$ROUNDS"); do
	"$MOUNTLOOP" ext4 "$DEV" "$MV_TMP/mnt" "" "$N" >>"$MV_TMP/bare_m2_ext4"
	"$NEWAPI" ext4 "$DEV" "$MV_TMP/mnt" "$N" >>"$MV_TMP/bare_na_ext4"
	"$MOUNTLOOP" tmpfs none "$MV_TMP/mnt" "" "$N" >>"$MV_TMP/bare_m2_tmpfs"
	"$NEWAPI" tmpfs none "$MV_TMP/mnt" "$N" >>"$MV_TMP/bare_na_tmpfs"
done
mv_run crun "$MV_TMP/b" newapi-bench 900
for k in m2_ext4 na_ext4 m2_tmpfs na_tmpfs; do
	for r in $(seq "$ROUNDS"); do
		mv_step_out newapi-bench "${k}_$r" | grep '^n=' >>"$MV_TMP/ct_$k"
	done
done

field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'; }
med() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
rng() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { printf "[%s-%s]", v[1], v[NR] }'; }
oks() { awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^ok=/) o += substr($i, 4); if ($i ~ /^n=/) n += substr($i, 3) } } END { print o + 0 "/" n + 0 }' "$1"; }
row() { # NAME MOUNT2-FILE NEWAPI-FILE
	awk -v n="$1" -v a="$(med p50_us "$2")" -v m="$(med p50_us "$3")" -v ra="$(rng p50_us "$2")" \
		-v rm="$(rng p50_us "$3")" -v oa="$(oks "$2")" -v om="$(oks "$3")" \
		'BEGIN { printf "%-30s %9.1f %9.1f %7.2fx %+9.1f  %s / %s  ok %s / %s\n", n, a, m, (a ? m / a : 0), m - a, ra, rm, oa, om }'
}
echo
echo "new mount API vs mount(2): one mount+umount cycle, $N cycles x $ROUNDS rounds (µs, median of"
echo "the rounds' p50; anchor = mount(2) in the same place, same run; ranges mount(2) / new API)"
printf '%-30s %9s %9s %8s %9s  %s\n' "case" "mount(2)" "new API" "ratio" "+µs" "ranges, ok"
row "ext4, kernel action + idmap" "$MV_TMP/ct_m2_ext4" "$MV_TMP/ct_na_ext4"
row "tmpfs, continue action" "$MV_TMP/ct_m2_tmpfs" "$MV_TMP/ct_na_tmpfs"
row "ext4, root, no container" "$MV_TMP/bare_m2_ext4" "$MV_TMP/bare_na_ext4"
row "tmpfs, root, no container" "$MV_TMP/bare_m2_tmpfs" "$MV_TMP/bare_na_tmpfs"
echo
echo "new API, p50 of each call (µs; move includes closing both fds)"
printf '%-30s %8s %8s %8s %8s %8s %8s\n' "case" fsopen fsconfig create fsmount move umount
for k in "ext4, kernel action:ct_na_ext4" "tmpfs, continue:ct_na_tmpfs" \
	"ext4, root, no container:bare_na_ext4" "tmpfs, root, no container:bare_na_tmpfs"; do
	f=$MV_TMP/${k##*:}
	printf '%-30s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n' "${k%%:*}" "$(med fsopen_p50_us "$f")" \
		"$(med fsconfig_p50_us "$f")" "$(med create_p50_us "$f")" "$(med fsmount_p50_us "$f")" \
		"$(med move_p50_us "$f")" "$(med umount_p50_us "$f")"
done
errs=$(cat "$MV_TMP"/ct_* "$MV_TMP"/bare_* | field first_error | grep -v '^none$' | sort | uniq -c | tr '\n' ' ')
[ -n "$errs" ] && echo "first errors (STEP:ERRNO): $errs"
mv_stop_notifyd
exit 0
