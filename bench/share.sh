#!/bin/bash
# bench/share.sh BUILD : the notifyd `virtiofs` action (docs/virtiofs.md)
# against vfsd started directly by root, measured in the same run, on the
# same tmpfs directory.  Root only; timing never fails: this prints tables.
#
#   start-up   a container (tests/helpers/mv_launch, user namespace
#              0 -> 100000, trapped by notifyd) runs bench/share_start: N times
#              mount -t vhost-user-fs SRC TARGET, connect to TARGET, send a
#              vhost-user GET_FEATURES and read the answer, umount TARGET.
#              Anchor: root fork+execs vfsd --sandbox=namespace with the
#              arguments notifyd gives it and polls its socket until
#              GET_FEATURES is answered.  SHARE_BENCH_ROUNDS rounds (default
#              3) of SHARE_BENCH_N (default 50), interleaved; the table gives
#              the median of the rounds' p50 (and p90) and their range.
#   serving    what a guest would see, through vhost-user-fs-mount on the
#              host: bench/metabench (create, stat, readdir, unlink of
#              SHARE_BENCH_FILES files, default 5000), a sequential read of a
#              SHARE_BENCH_SEQ file (default 512 MiB) with caches dropped,
#              and 4 KiB random reads at queue depth 16 (fio, libaio,
#              O_DIRECT, SHARE_BENCH_RUNTIME seconds, default 3), through
#              the share a container made (reached at /proc/PID/root/TARGET
#              while the container holds it) and through a vfsd root
#              started on the same directory.  SHARE_BENCH_REPS (default 5)
#              repetitions, each with a fresh back-end and front-end, the
#              order alternating; median and spread ((max-min)/median).
set -u
BUILD=$(cd "${1:-build}" && pwd)
N=${SHARE_BENCH_N:-50}
ROUNDS=${SHARE_BENCH_ROUNDS:-3}
REPS=${SHARE_BENCH_REPS:-5}
NFILES=${SHARE_BENCH_FILES:-5000}
SEQ_MB=${SHARE_BENCH_SEQ:-512}
RUNTIME=${SHARE_BENCH_RUNTIME:-3}
# What notifyd gives the vfsd of a share with these options (share_base_args()
# and share_caps_args() in notifyd/virtiofs_action.c: the caller has every
# capability of its namespace, and the rule allows no device nodes); the
# anchor gets the same.  The tables print both command lines.
OPTS=cache=auto
VFSD_ARGS=(--sandbox=namespace --log-level=info --cache=auto --modcaps=-mknod --inode-file-handles=never)

[ "$(id -u)" = 0 ] || { echo "share bench: needs root"; exit 0; }
for p in "$BUILD/notifyd" "$BUILD/vfsd" "$BUILD/vhost-user-fs-mount" "$BUILD/bench/share_start" \
	"$BUILD/bench/metabench" "$BUILD/tests/helpers/mv_launch"; do
	[ -x "$p" ] || { echo "share bench: $p not built"; exit 0; }
done
[ -c /dev/fuse ] || { echo "share bench: no /dev/fuse"; exit 0; }
HAVE_FIO=1
for p in fio jq; do
	command -v "$p" >/dev/null || { echo "share bench: $p not installed (dd for the sequential read, no random read)"; HAVE_FIO=; }
done
if [ -z "${SB_PRIVATE_NS:-}" ]; then
	exec env SB_PRIVATE_NS=1 unshare -m --propagation private "$0" "$@"
fi

tmp=$(mktemp -d /tmp/share-bench.XXXXXX)
nd_pid='' hold_pid='' front='' backend=''
# The vfsd processes notifyd started (from its decision lines): should the
# container outlive notifyd, they would outlive it too.
share_vfsd() { sed -n 's/.*action=virtiofs .*result=ok why="vfsd pid=\([0-9]*\) .*/\1/p' "$tmp/notifyd.log" 2>/dev/null; }
stop_front() {
	umount "$tmp/mnt" 2>/dev/null
	[ -n "$front" ] && { kill "$front" 2>/dev/null; wait "$front" 2>/dev/null; }
	front=''
}
stop_target() {
	stop_front
	if [ -n "$hold_pid" ]; then
		exec 7>&-
		for _ in $(seq 50); do kill -0 "$hold_pid" 2>/dev/null || break; sleep 0.1; done
		kill "$hold_pid" 2>/dev/null
		wait "$hold_pid" 2>/dev/null
	fi
	[ -n "$backend" ] && { kill "$backend" 2>/dev/null; wait "$backend" 2>/dev/null; }
	hold_pid='' backend=''
}
cleanup() {
	local p
	stop_target
	# notifyd stops and reaps the vfsd of a share whose container is gone: let it.
	for _ in $(seq 30); do
		for p in $(share_vfsd); do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$nd_pid" ] && kill "$nd_pid" 2>/dev/null && wait "$nd_pid" 2>/dev/null
	for p in $(share_vfsd); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$BUILD/vfsd" ] && kill -KILL "$p" 2>/dev/null
	done
	umount "$tmp/tmpfs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The share's file system: a tmpfs (no disk under the figures), the
# directory owned by the container's root so the share is writable.
mkdir -p "$tmp/tmpfs" "$tmp/mnt" "$tmp/run" "$tmp/profiles"
chmod 755 "$tmp"
mount -t tmpfs -o size=4G,mode=755 tmpfs "$tmp/tmpfs"
SRC=$tmp/tmpfs/share
mkdir "$SRC"
dd if=/dev/urandom of="$SRC/seq.dat" bs=1M count="$SEQ_MB" status=none
chmod 644 "$SRC/seq.dat"
chown -R 100000:100000 "$SRC" "$tmp/run"
cat >"$tmp/profiles/share.conf" <<P
[profile]
default-action = deny
max-shares = 64

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache
P
# Its own process group: a ^C reaches the containers, and notifyd outlives
# them long enough to stop their vfsd; the parent's death still ends it.
setsid setpriv --pdeathsig TERM -- "$BUILD/notifyd" --socket "$tmp/nd.sock" --control "$tmp/ctl.sock" --profiles "$tmp/profiles" \
	--log-level info </dev/null 2>"$tmp/notifyd.log" &
nd_pid=$!
for _ in $(seq 50); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.1; done
[ -S "$tmp/ctl.sock" ] || { echo "share bench: notifyd did not start: $(tail -n 5 "$tmp/notifyd.log")"; exit 0; }
launch() { "$BUILD/tests/helpers/mv_launch" --socket "$tmp/nd.sock" --profile share "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'; }
med() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
rng() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { printf "[%.0f–%.0f]", v[1], v[NR] }'; }
oks() { awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^ok=/) o += substr($i, 4); if ($i ~ /^n=/) n += substr($i, 3) } } END { print o "/" n }' "$1"; }

# 1. Start-up: one line per round in each file.
: >"$tmp/lat_share" && : >"$tmp/lat_direct"
for _ in $(seq "$ROUNDS"); do
	"$BUILD/bench/share_start" direct "$N" "$tmp/direct.sock" "$BUILD/vfsd" \
		--socket-path="$tmp/direct.sock" --shared-dir="$SRC" "${VFSD_ARGS[@]}" \
		>>"$tmp/lat_direct" 2>>"$tmp/direct.log"
	launch -- "$BUILD/bench/share_start" mount "$SRC" "$tmp/run/fs0.sock" "$N" "$OPTS" \
		>>"$tmp/lat_share" 2>>"$tmp/share.log"
done
echo
echo "notifyd virtiofs action: start-up, $N mounts x $ROUNDS rounds (µs; median of the rounds, [range of p50])"
echo "anchor = vfsd fork+exec'd by root with the same arguments, until GET_FEATURES is answered"
printf '%-44s %10s %10s %8s  %s\n' "step" "p50" "p90" "ok" "p50 range"
lat_row() { # name field file
	printf '%-44s %10.0f %10.0f %8s  %s\n' "$1" "$(med "${2}_p50_us" "$3")" "$(med "${2}_p90_us" "$3")" \
		"$(oks "$3")" "$(rng "${2}_p50_us" "$3")"
}
lat_row "anchor: exec -> socket accepts" accept "$tmp/lat_direct"
lat_row "anchor: exec -> GET_FEATURES answered" answer "$tmp/lat_direct"
lat_row "anchor: SIGTERM -> vfsd reaped" stop "$tmp/lat_direct"
lat_row "share: mount(2) returns" mount "$tmp/lat_share"
lat_row "share: mount call -> socket accepts" accept "$tmp/lat_share"
lat_row "share: mount call -> GET_FEATURES answered" answer "$tmp/lat_share"
lat_row "share: umount(2)" umount "$tmp/lat_share"
awk -v a="$(med answer_p50_us "$tmp/lat_direct")" -v s="$(med answer_p50_us "$tmp/lat_share")" \
	'BEGIN { if (a > 0) printf "ratio share/anchor to GET_FEATURES answered (p50): %.2fx (%+.0f µs)\n", s / a, s - a }'
for f in direct share; do
	grep -q '^share_start:' "$tmp/$f.log" 2>/dev/null &&
		echo "$f errors: $(grep '^share_start:' "$tmp/$f.log" | sort | uniq -c | head -n 3 | tr '\n' ' ')"
done

# 2. Serving.
# start TARGET : a back-end and the front-end on $tmp/mnt; 0 when mounted.
start() {
	local i sock line
	rm -f "$tmp/vu.sock"
	case $1 in
	root)
		"$BUILD/vfsd" --socket-path="$tmp/vu.sock" --shared-dir="$SRC" "${VFSD_ARGS[@]}" \
			2>"$tmp/backend.log" &
		backend=$!
		sock=$tmp/vu.sock
		for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
		;;
	share)
		rm -f "$tmp/hold.ctl" "$tmp/hold.out"
		mkfifo "$tmp/hold.ctl"
		launch -- "$BUILD/bench/share_start" hold "$SRC" "$tmp/run/fs0.sock" "$OPTS" \
			<"$tmp/hold.ctl" >"$tmp/hold.out" 2>>"$tmp/share.log" &
		hold_pid=$!
		exec 7>"$tmp/hold.ctl"
		for ((i = 0; i < 100; i++)); do [ -s "$tmp/hold.out" ] && break; sleep 0.05; done
		read -r line <"$tmp/hold.out"
		case $line in
		ready\ pid=*) sock=/proc/${line#ready pid=}/root$tmp/run/fs0.sock ;;
		*) echo "share bench: the container's mount failed: $line"; return 1 ;;
		esac
		[ -s "$tmp/share.args" ] ||
			tr '\0' ' ' <"/proc/$(share_vfsd | tail -n 1)/cmdline" >"$tmp/share.args" 2>/dev/null
		;;
	esac
	"$BUILD/vhost-user-fs-mount" "$sock" "$tmp/mnt" 2>"$tmp/front.log" 7>&- &
	front=$!
	for ((i = 0; i < 50; i++)); do
		grep -q " $tmp/mnt " /proc/self/mounts && stat "$tmp/mnt" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "share bench: $1: front-end did not mount: $(tail -n 3 "$tmp/front.log")"
	return 1
}

# front_alive TARGET : the front-end still serves (a workload on a dead FUSE
# mount may hang: fio did once).
front_alive() {
	kill -0 "$front" 2>/dev/null && return 0
	echo "share bench: $1: the front-end died: $(tail -n 2 "$tmp/front.log")" >&2
	return 1
}

# measure TARGET : "metric value" lines
measure() {
	local m j k s e
	start "$1" || { stop_target; return; }
	m=$("$BUILD/bench/metabench" "$tmp/mnt" "$NFILES" 2>/dev/null)
	for k in create stat readdir unlink; do
		echo "meta-$k $(tr ' ' '\n' <<<"$m" | sed -n "s/^$k=//p")"
	done
	front_alive "$1" || { stop_target; return; }
	sync
	echo 3 >/proc/sys/vm/drop_caches
	if [ -n "$HAVE_FIO" ]; then
		j=$(fio --name=sr --filename="$tmp/mnt/seq.dat" --readonly --rw=read --bs=1M \
			--size="${SEQ_MB}M" --ioengine=psync --output-format=json 2>/dev/null)
		echo "seq-read $(jq '.jobs[0].read.bw_bytes / 1048576' <<<"$j" 2>/dev/null)"
		front_alive "$1" || { stop_target; return; }
		j=$(fio --name=rr --filename="$tmp/mnt/seq.dat" --readonly --rw=randread --bs=4k \
			--size="${SEQ_MB}M" --ioengine=libaio --direct=1 --iodepth=16 \
			--runtime="$RUNTIME" --time_based --output-format=json 2>/dev/null)
		echo "randread-qd16 $(jq '.jobs[0].read.iops' <<<"$j" 2>/dev/null)"
	else
		s=$(date +%s%N)
		dd if="$tmp/mnt/seq.dat" of=/dev/null bs=1M status=none
		e=$(date +%s%N)
		echo "seq-read $(awk -v mb="$SEQ_MB" -v ns=$((e - s)) 'BEGIN { printf "%.1f", mb / (ns / 1e9) }')"
	fi
	stop_target
}

: >"$tmp/res"
# Alternate which goes first: the machine may be shared, and the first of a pair
# also pays for a cold tmpfs directory.
for rep in $(seq "$REPS"); do
	order="root share"
	[ $((rep % 2)) = 0 ] && order="share root"
	for t in $order; do
		# Not in a pipeline: a subshell would not run the INT trap.
		measure "$t" >"$tmp/one"
		sed "s/^/$rep $t /" "$tmp/one" >>"$tmp/res"
	done
done
echo
echo "notifyd virtiofs share vs vfsd started by root, same tmpfs directory, through vhost-user-fs-mount;"
echo "median of $REPS (spread %); paired: the median [range] of each repetition's share/root, the two"
echo "measured back to back (robust against a load that drifts); goal: ratio 1.00 within noise"
printf '%-16s %20s %20s %8s %8s  %s\n' metric "vfsd by root" "notifyd share" ratio paired "paired range"
METRICS="meta-create meta-stat meta-readdir meta-unlink seq-read"
[ -n "$HAVE_FIO" ] && METRICS="$METRICS randread-qd16"
for m in $METRICS; do
	awk -v m="$m" '
	function sort(v, n,   i, j, x) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
	}
	function med(v, n) { return n == 0 ? 0 : n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
	$3 == m && $4 != "" && $4 != "null" { val[$2, ++cnt[$2]] = $4; by[$1, $2] = $4; reps[$1] = 1 }
	END {
		line = sprintf("%-16s", m)
		for (k = 1; k <= 2; k++) {
			t = k == 1 ? "root" : "share"; n = cnt[t]
			delete v; for (i = 1; i <= n; i++) v[i] = val[t, i]
			sort(v, n); md[t] = med(v, n)
			sp = md[t] > 0 ? 100 * (v[n] - v[1]) / md[t] : 0
			line = line sprintf(" %12.0f (%3.0f%%)", md[t], sp)
		}
		n = 0; delete v
		for (r in reps) if (by[r, "root"] > 0 && by[r, "share"] != "") v[++n] = by[r, "share"] / by[r, "root"]
		sort(v, n)
		print line sprintf(" %7.2fx %7.2fx  [%.2f–%.2f]", md["root"] > 0 ? md["share"] / md["root"] : 0, med(v, n), v[1], v[n])
	}' "$tmp/res"
done
echo "share's vfsd (notifyd): $(cat "$tmp/share.args" 2>/dev/null)"
echo "root's vfsd:            vfsd --socket-path=S --shared-dir=SRC ${VFSD_ARGS[*]}"
echo "units: meta-* operations/s (readdir: entries/s), seq-read MiB/s (${SEQ_MB} MiB, caches dropped), randread-qd16 IOPS (4 KiB, O_DIRECT)"
echo "notifyd after the run: $("$BUILD/notifyctl" --control "$tmp/ctl.sock" stats | tr '\n' ' ')"
grep -c ' error' "$tmp/notifyd.log" | sed 's/^/notifyd error lines: /'
