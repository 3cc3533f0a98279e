#!/bin/bash
# bench/fuse.sh BUILD : the fuse action against its anchor, measured in the same run.
#   time-to-ready  mount(2) of ext4 from a crun container, served by fuse2fs
#                  through notifyd (p50 of the mount call, helpers/mountloop)
#                  vs. fuse2fs started directly by root on the same image
#                  (fork+exec until the mount answers statfs), p50
#   throughput     dd write/read of 64 MiB through both mounts
# Ratios: < 1.2 for time-to-ready and ~1.0 for throughput are the goals (issue 3).
BUILD=${1:-build}
export MV_BUILD=${MV_BUILD:-$(cd "$BUILD" && pwd)}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1
N=${FUSE_BENCH_N:-20}
FUSE2FS=$(command -v fuse2fs) || { echo "fuse bench: fuse2fs not installed"; exit 0; }

PROFILES=$MV_TMP/profiles ROOTFS=$MV_TMP/rootfs
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-fuse-daemons = 64

[fs ext4]
action = fuse
program = $FUSE2FS
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro
EOF
mv_make_rootfs "$ROOTFS" >/dev/null || exit 1
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
cp "$MV_BUILD/tests/helpers/mountloop" "$ROOTFS/bin/mountloop"
mv_make_ext4 "$MV_TMP/disk.img" 256M || exit 1
mv_loop_attach "$MV_TMP/disk.img" DEV || exit 1
mv_start_notifyd "$PROFILES" --log-level warn >/dev/null || exit 1

p50() { sort -n | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'; }

# Anchor: fuse2fs by root, ready when statfs answers.
mkdir -p "$MV_TMP/direct"
for ((i = 0; i < N; i++)); do
	s=$(date +%s%N)
	"$FUSE2FS" "$DEV" "$MV_TMP/direct" -o ro >/dev/null 2>&1
	stat -f "$MV_TMP/direct" >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
	umount "$MV_TMP/direct"
	while pgrep -f "fuse2fs $DEV" >/dev/null; do sleep 0.01; done
done >"$MV_TMP/direct.us"
direct_us=$(p50 <"$MV_TMP/direct.us")

# Anchor throughput: 64 MiB written, then read on a fresh mount.
"$FUSE2FS" "$DEV" "$MV_TMP/direct" >/dev/null 2>&1
s=$(date +%s%N)
dd if=/dev/zero of="$MV_TMP/direct/big" bs=1M count=64 conv=fsync status=none
e=$(date +%s%N)
direct_w=$(awk -v ns=$((e - s)) 'BEGIN {printf "%.1f", 64 / (ns / 1e9)}')
umount "$MV_TMP/direct"
while pgrep -f "fuse2fs $DEV" >/dev/null; do sleep 0.01; done
"$FUSE2FS" "$DEV" "$MV_TMP/direct" -o ro >/dev/null 2>&1
s=$(date +%s%N)
dd if="$MV_TMP/direct/big" of=/dev/null bs=1M status=none
e=$(date +%s%N)
direct_r=$(awk -v ns=$((e - s)) 'BEGIN {printf "%.1f", 64 / (ns / 1e9)}')
umount "$MV_TMP/direct"
while pgrep -f "fuse2fs $DEV" >/dev/null; do sleep 0.01; done
debugfs -w -R 'rm /big' "$MV_TMP/disk.img" >/dev/null 2>&1

# Through notifyd, from a crun container.
cat >"$ROOTFS/bench.sh" <<EOF
mvstep loop mountloop ext4 $DEV /mnt/a ro $N
mount -t ext4 $DEV /mnt/a
s=\$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=/mnt/a/big bs=1M count=64 conv=fsync 2>/dev/null; e=\$(cut -d' ' -f1 /proc/uptime)
echo "@@w \$s \$e"
umount /mnt/a
sleep 1
mount -t ext4 -o ro $DEV /mnt/a
s=\$(cut -d' ' -f1 /proc/uptime); dd if=/mnt/a/big of=/dev/null bs=1M 2>/dev/null; e=\$(cut -d' ' -f1 /proc/uptime)
echo "@@r \$s \$e"
umount /mnt/a
EOF
mv_oci_bundle --device "$DEV" "$MV_TMP/b" "$ROOTFS" sh /bench.sh >/dev/null || exit 1
jq '.mounts += [
  {destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro"]},
  {destination: "/lib", type: "bind", source: "/lib", options: ["rbind", "ro"]},
  {destination: "/lib64", type: "bind", source: "/lib64", options: ["rbind", "ro"]}]' \
	"$MV_TMP/b/config.json" >"$MV_TMP/b/c.json" && mv "$MV_TMP/b/c.json" "$MV_TMP/b/config.json"
mv_run crun "$MV_TMP/b" fuse-bench 300
line=$(mv_step_out fuse-bench loop)
fuse_us=$(sed -n 's/.* mount_p50_us=\([0-9.]*\).*/\1/p' <<<"$line")
wns=$(sed -n 's/^@@w //p' "$(mv_out fuse-bench)")
rns=$(sed -n 's/^@@r //p' "$(mv_out fuse-bench)")
# /proc/uptime in the container: centiseconds, enough for 64 MiB.
fuse_w=$(awk '{t = $2 - $1; printf "%.1f", (t > 0 ? 64 / t : 0)}' <<<"${wns:-0 0}")
fuse_r=$(awk '{t = $2 - $1; printf "%.1f", (t > 0 ? 64 / t : 0)}' <<<"${rns:-0 0}")

echo
echo "fuse action (ext4 -> fuse2fs), n=$N"
printf '%-34s %12s %12s %8s\n' "measure" "notifyd" "direct" "ratio"
awk -v a="${fuse_us:-0}" -v b="$direct_us" 'BEGIN {printf "%-34s %12.0f %12.0f %8.2f\n", "time to ready, p50 (us)", a, b, b ? a / b : 0}'
awk -v a="$fuse_w" -v b="$direct_w" 'BEGIN {printf "%-34s %12.1f %12.1f %8.2f\n", "write 64 MiB + fsync (MiB/s)", a, b, b ? a / b : 0}'
awk -v a="$fuse_r" -v b="$direct_r" 'BEGIN {printf "%-34s %12.1f %12.1f %8.2f\n", "read 64 MiB, fresh mount (MiB/s)", a, b, b ? a / b : 0}'
echo "container: $line w=[$wns] r=[$rns]"
exit 0
