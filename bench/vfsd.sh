#!/bin/bash
# bench/vfsd.sh BUILD : vfsd against QEMU's C virtiofsd, both behind the same
# front-end (vhost-user-fs-mount), on the same tmpfs- and ext4-backed
# directories, with the host-native figure (the workload run on the directory
# itself) as the limit.  Every figure is the median of VFSD_BENCH_REPS runs
# (default 3) with its spread ((max-min)/median).  Timing never fails.
#
#   metadata  create, stat, unlink of 10,000 files; readdir of 10,000 entries
#             (bench/metabench.c), operations per second
#   seq       1 GiB write (with fsync) and read (caches dropped), MiB/s (fio)
#   rand      4 KiB random read and write IOPS, O_DIRECT, libaio, queue depth
#             1 and 16, one job; and 4 jobs at depth 16 (fio)
#
# Targets: native; vfsd and virtiofsd with one request queue; vfsd with four
# queues (one per fio job; QEMU's C virtiofsd has only one).  The last
# columns are vfsd/virtiofsd (1 queue each) and vfsd 4q/virtiofsd.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
REPS=${VFSD_BENCH_REPS:-3}
RUNTIME=${VFSD_BENCH_RUNTIME:-3}
NFILES=${VFSD_BENCH_FILES:-10000}
SEQ=${VFSD_BENCH_SEQ:-1G}
VIRTIOFSD=/usr/lib/qemu/virtiofsd

if [ -z "${VB_PRIVATE_NS:-}" ]; then
	exec env VB_PRIVATE_NS=1 unshare -m --propagation private "$0" "$@"
fi
for p in fio jq; do
	command -v "$p" >/dev/null || { echo "vfsd bench: $p not installed"; exit 0; }
done
[ -x "$VIRTIOFSD" ] || { echo "vfsd bench: $VIRTIOFSD not installed"; exit 0; }
META=$BUILD/bench/metabench
tmp=$(mktemp -d /tmp/vfsd-bench.XXXXXX)
loop= backend= front=
stop_target() {
	umount "$tmp/mnt" 2>/dev/null
	[ -n "$front" ] && { kill "$front" 2>/dev/null; wait "$front" 2>/dev/null; }
	[ -n "$backend" ] && { kill "$backend" 2>/dev/null; wait "$backend" 2>/dev/null; }
	front= backend=
}
cleanup() {
	stop_target
	umount "$tmp/ext4" 2>/dev/null
	[ -n "$loop" ] && losetup -d "$loop"
	umount "$tmp/tmpfs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/tmpfs" "$tmp/ext4" "$tmp/mnt"
mount -t tmpfs -o size=8G tmpfs "$tmp/tmpfs"
truncate -s 4G "$tmp/tmpfs/ext4.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$tmp/tmpfs/ext4.img"
loop=$(losetup --find --show "$tmp/tmpfs/ext4.img")
mount "$loop" "$tmp/ext4"
mkdir -p "$tmp/tmpfs/share" "$tmp/ext4/share"

# start TARGET SHARE : back-end + front-end for TARGET, sets DIR to work in.
start() {
	local i q=1
	rm -f "$tmp/vu.sock"
	case $1 in
	native) DIR=$2; return 0 ;;
	vfsd) "$BUILD/vfsd" --socket-path="$tmp/vu.sock" --shared-dir="$2" --cache=auto \
		--log-level=warn 2>"$tmp/backend.log" & ;;
	vfsd4q) q=4; "$BUILD/vfsd" --socket-path="$tmp/vu.sock" --shared-dir="$2" --cache=auto \
		--log-level=warn 2>"$tmp/backend.log" & ;;
	virtiofsd) "$VIRTIOFSD" --socket-path="$tmp/vu.sock" -o source="$2" -o cache=auto \
		2>"$tmp/backend.log" & ;;
	esac
	backend=$!
	for ((i = 0; i < 50; i++)); do [ -S "$tmp/vu.sock" ] && break; sleep 0.1; done
	"$BUILD/vhost-user-fs-mount" --queues "$q" "$tmp/vu.sock" "$tmp/mnt" 2>"$tmp/front.log" &
	front=$!
	for ((i = 0; i < 50; i++)); do stat "$tmp/mnt" >/dev/null 2>&1 && grep -q " $tmp/mnt " /proc/self/mounts && break; sleep 0.1; done
	DIR=$tmp/mnt
}

# CPU seconds (user+sys) the front-end has used so far.
front_cpu() {
	[ -n "$front" ] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$front/stat" 2>/dev/null || echo 0
}

fio_run() { # fio_run NAME ARGS... : prints the job's JSON
	fio --name="$1" --directory="$DIR" --output-format=json "${@:2}" 2>/dev/null
}

# measure TARGET SHARE REP : one value per metric, "metric value" lines, into $tmp/res
measure() {
	local t=$1 share=$2 m j
	start "$t" "$share"
	local cpu0 wall0
	cpu0=$(front_cpu) wall0=$(date +%s.%N)
	m=$("$META" "$DIR" "$NFILES" 2>/dev/null)
	for k in create stat readdir unlink; do
		echo "meta-$k $(tr ' ' '\n' <<<"$m" | sed -n "s/^$k=//p")"
	done
	j=$(fio_run sw --rw=write --bs=1M --size="$SEQ" --ioengine=psync --end_fsync=1)
	echo "seq-write $(jq '.jobs[0].write.bw_bytes / 1048576' <<<"$j")"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	j=$(fio_run sw --rw=read --bs=1M --size="$SEQ" --ioengine=psync)
	echo "seq-read $(jq '.jobs[0].read.bw_bytes / 1048576' <<<"$j")"
	rm -f "$DIR"/sw.*
	for rw in randread randwrite; do
		for qd in 1 16; do
			j=$(fio_run rr --rw=$rw --bs=4k --size=256M --ioengine=libaio --direct=1 \
				--iodepth=$qd --runtime="$RUNTIME" --time_based)
			echo "$rw-qd$qd $(jq ".jobs[0].${rw#rand}.iops" <<<"$j")"
		done
	done
	j=$(fio_run rr --rw=randread --bs=4k --size=256M --ioengine=libaio --direct=1 --iodepth=16 \
		--numjobs=4 --group_reporting --runtime="$RUNTIME" --time_based)
	echo "randread-qd16x4 $(jq '.jobs[0].read.iops' <<<"$j")"
	rm -f "$DIR"/rr.*
	awk -v c0="$cpu0" -v c1="$(front_cpu)" -v w0="$wall0" -v w1="$(date +%s.%N)" \
		'BEGIN { printf "front-cpu %.1f\n", ((w1 - w0) > 0 ? 100 * (c1 - c0) / (w1 - w0) : 0) }'
	stop_target
}

TARGETS="native vfsd virtiofsd vfsd4q"
METRICS="meta-create meta-stat meta-readdir meta-unlink seq-write seq-read randread-qd1 randread-qd16 randwrite-qd1 randwrite-qd16 randread-qd16x4"

# The machine's load, printed with each table: on a shared host the spreads
# follow it, and a ratio inside the spread says nothing.
load() { cut -d' ' -f1-3 /proc/loadavg; }
for fs in tmpfs ext4; do
	load0=$(load)
	: >"$tmp/res"
	for rep in $(seq "$REPS"); do
		for t in $TARGETS; do
			measure "$t" "$tmp/$fs/share" | sed "s/^/$t /" >>"$tmp/res"
		done
	done
	echo
	echo "vfsd vs QEMU's virtiofsd 7.2 through vhost-user-fs-mount, $fs-backed share; median of $REPS (spread %)"
	printf '%-16s %18s %18s %18s %18s %9s %9s\n' metric native vfsd virtiofsd "vfsd 4 queues" \
		"vfsd/vfd" "4q/vfd"
	for m in $METRICS; do
		awk -v m="$m" -v targets="$TARGETS" '
		function med(t,   n, i, j, x, v) {
			n = cnt[t]; for (i = 1; i <= n; i++) v[i] = val[t, i]
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
			lo[t] = v[1]; hi[t] = v[n]
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		$2 == m { cnt[$1]++; val[$1, cnt[$1]] = $3 }
		END {
			split(targets, ts, " ")
			line = sprintf("%-16s", m)
			for (k = 1; k <= 4; k++) {
				t = ts[k]; md[t] = med(t)
				sp = md[t] > 0 ? 100 * (hi[t] - lo[t]) / md[t] : 0
				line = line sprintf(" %11.0f (%3.0f%%)", md[t], sp)
			}
			r1 = md["virtiofsd"] > 0 ? md["vfsd"] / md["virtiofsd"] : 0
			r4 = md["virtiofsd"] > 0 ? md["vfsd4q"] / md["virtiofsd"] : 0
			print line sprintf(" %8.2fx %8.2fx", r1, r4)
		}' "$tmp/res"
	done
	echo "load average (1, 5, 15 min) before: $load0, after: $(load)"
	awk '$2 == "front-cpu" && $1 != "native" { s[$1] += $3; n[$1]++ }
		END { printf "front-end CPU (vhost-user-fs-mount, %% of one core over the run):"
		      for (t in s) printf " %s %.0f%%", t, s[t] / n[t]; print "" }' "$tmp/res"
done
echo "units: meta-* operations/s (readdir: entries/s), seq-* MiB/s, rand* IOPS"
echo "goal: vfsd >= virtiofsd everywhere; >= 1.5x on metadata and on parallel I/O with several queues"
