#!/bin/bash
# make bench: notifyd's cost against the bare syscall, measured in the same run.
#
# Anchors: mount+umount done directly by root (no seccomp) on the same ext4
# loop device / tmpfs; and the same tmpfs loop in the same kind of container
# answered by bench/notify_anchor, a supervisor that continues every call at
# once (the kernel's notify round trip and nothing else).  Measured: the same
# loop inside a user+mount namespace whose mount/umount2 are trapped and
# answered by notifyd (kernel action for ext4, continue for tmpfs).
# Each latency case runs MV_BENCH_ROUNDS times (default 3), interleaved; the
# tables give the median of the rounds' p50 and, in brackets, their range:
# this machine is shared.  The image lives in MV_BENCH_TMPDIR (default
# /dev/shm), so the loop device does no disk I/O that would drown notifyd's
# share.  Timing never fails: this prints tables only.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${MV_BENCH_N:-2000}
ROUNDS=${MV_BENCH_ROUNDS:-3}
tmpdir=${MV_BENCH_TMPDIR:-/dev/shm}
[ -d "$tmpdir" ] || tmpdir=/tmp
tmp=$(mktemp -d "$tmpdir/mv-bench.XXXXXX")
loop= nd_pid= an_pid=
cleanup() {
	[ -n "$nd_pid" ] && kill "$nd_pid" 2>/dev/null && wait "$nd_pid" 2>/dev/null
	[ -n "$an_pid" ] && kill "$an_pid" 2>/dev/null && wait "$an_pid" 2>/dev/null
	umount -R "$tmp"/mnt* 2>/dev/null
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

truncate -s 64M "$tmp/ext4.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$tmp/ext4.img"
loop=$(losetup --find --show "$tmp/ext4.img")
read -r maj min < <(stat -Lc '%t %T' "$loop" | while read -r a b; do echo $((16#$a)) $((16#$b)); done)
# The "container" (uid 0 -> host 100000) reaches the device through a node it owns.
mknod "$tmp/dev" b "$maj" "$min" && chown 100000:100000 "$tmp/dev" && chmod 600 "$tmp/dev"
for i in $(seq 0 63); do mkdir -p "$tmp/mnt$i"; done
chmod 755 "$tmp"
mkdir "$tmp/profiles"
cat >"$tmp/profiles/bench.conf" <<'P'
[profile]
default-action = deny
max-mounts = 1000
[fs ext4]
action = kernel
idmap = yes
[fs tmpfs]
action = continue
P
"$BUILD/notifyd" --socket "$tmp/nd.sock" --control "$tmp/ctl.sock" --profiles "$tmp/profiles" \
	--log-level warn 2>"$tmp/notifyd.log" &
nd_pid=$!
"$BUILD/bench/notify_anchor" "$tmp/anchor.sock" 2>"$tmp/anchor.log" &
an_pid=$!
for _ in $(seq 50); do [ -S "$tmp/ctl.sock" ] && [ -S "$tmp/anchor.sock" ] && break; sleep 0.1; done

loopbin=$BUILD/tests/helpers/mountloop
launch() { "$BUILD/tests/helpers/mv_launch" --socket "$tmp/nd.sock" --profile bench "$@"; }
launch_anchor() { "$BUILD/tests/helpers/mv_launch" --socket "$tmp/anchor.sock" "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'; }

# One line per round in each file.
for r in $(seq "$ROUNDS"); do
	unshare -m --propagation private "$loopbin" ext4 "$loop" "$tmp/mnt0" "" "$N" >>"$tmp/bare_ext4"
	launch -- "$loopbin" ext4 "$tmp/dev" "$tmp/mnt0" "" "$N" >>"$tmp/kern_ext4"
	unshare -m --propagation private "$loopbin" tmpfs none "$tmp/mnt0" "" "$N" >>"$tmp/bare_tmpfs"
	launch_anchor -- "$loopbin" tmpfs none "$tmp/mnt0" "" "$N" >>"$tmp/anchor_tmpfs"
	launch -- "$loopbin" tmpfs none "$tmp/mnt0" "" "$N" >>"$tmp/cont_tmpfs"
done
# med FIELD FILE: the median of FIELD over the rounds; rng: "[min–max]"
med() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rng() { field "$1" <"$2" | sort -g | awk '{ v[NR] = $1 } END { printf "[%s–%s]", v[1], v[NR] }'; }
oks() { awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^ok=/) o += substr($i, 4); if ($i ~ /^n=/) n += substr($i, 3) } } END { print o "/" n }' "$1"; }

row() { # name bare-file measured-file
	awk -v n="$1" -v b50="$(med p50_us "$2")" -v b99="$(med p99_us "$2")" \
		-v m50="$(med p50_us "$3")" -v m99="$(med p99_us "$3")" -v ok="$(oks "$3")" \
		'BEGIN { printf "%-34s %9.1f %9.1f %9.1f %9.1f %7.2fx %+9.1f  %s\n", n, b50, m50, b99, m99, m50 / b50, m50 - b50, ok }'
}
echo
echo "notifyd: mount+umount latency, $N iterations x $ROUNDS rounds each (µs, median of the rounds;"
echo "anchor = bare syscalls by root, or the minimal supervisor, same run; image in $tmpdir)"
printf '%-34s %9s %9s %9s %9s %8s %9s  %s\n' "case" "anch p50" "p50" "anch p99" "p99" "p50 x" "p50 +µs" "ok"
row "ext4, kernel action + idmap" "$tmp/bare_ext4" "$tmp/kern_ext4"
row "tmpfs, minimal supervisor (anchor)" "$tmp/bare_tmpfs" "$tmp/anchor_tmpfs"
row "tmpfs, continue action" "$tmp/bare_tmpfs" "$tmp/cont_tmpfs"
row "tmpfs, continue vs min. supervisor" "$tmp/anchor_tmpfs" "$tmp/cont_tmpfs"
echo
echo "per syscall, p50 (µs): the cost notifyd adds to each trapped call [range over the rounds]"
printf '%-34s %9s %9s %9s %9s  %s\n' "case" "anchor" "measured" "added" "ratio" "anchor / measured range"
syscall_row() { # name field anchor-file measured-file
	awk -v n="$1" -v b="$(med "$2" "$3")" -v m="$(med "$2" "$4")" -v rb="$(rng "$2" "$3")" -v rm="$(rng "$2" "$4")" \
		'BEGIN { printf "%-34s %9.1f %9.1f %+9.1f %8.2fx  %s / %s\n", n, b, m, m - b, m / b, rb, rm }'
}
syscall_row "mount ext4 (kernel action)" mount_p50_us "$tmp/bare_ext4" "$tmp/kern_ext4"
syscall_row "umount ext4 (notifyd's mount)" umount_p50_us "$tmp/bare_ext4" "$tmp/kern_ext4"
syscall_row "mount tmpfs, notify round trip" mount_p50_us "$tmp/bare_tmpfs" "$tmp/anchor_tmpfs"
syscall_row "umount tmpfs, notify round trip" umount_p50_us "$tmp/bare_tmpfs" "$tmp/anchor_tmpfs"
syscall_row "mount tmpfs (continue)" mount_p50_us "$tmp/bare_tmpfs" "$tmp/cont_tmpfs"
syscall_row "umount tmpfs (continue, no lookup)" umount_p50_us "$tmp/bare_tmpfs" "$tmp/cont_tmpfs"
syscall_row "mount tmpfs, continue vs anchor" mount_p50_us "$tmp/anchor_tmpfs" "$tmp/cont_tmpfs"
syscall_row "umount tmpfs, continue vs anchor" umount_p50_us "$tmp/anchor_tmpfs" "$tmp/cont_tmpfs"
echo "goal: kernel action <= 1.15x bare at p50 for the pair; continue adds <= 15 µs to each call"
echo
echo "notifyd: requests per second (each iteration = 2 requests: mount + umount2)"
printf '%-12s %-30s %10s %10s %8s\n' "containers" "case" "requests" "seconds" "req/s"
for k in 1 8 64; do
	per=$(( (N * 2) / k )); [ "$per" -lt 50 ] && per=50
	for kind in ext4 tmpfs anchor; do
		start=$(date +%s.%N)
		pids=()
		for i in $(seq 0 $((k - 1))); do
			if [ "$kind" = ext4 ]; then
				launch -- "$loopbin" ext4 "$tmp/dev" "$tmp/mnt$i" "" "$per" >"$tmp/out.$i" &
			elif [ "$kind" = anchor ]; then
				launch_anchor -- "$loopbin" tmpfs none "$tmp/mnt$i" "" "$per" >"$tmp/out.$i" &
			else
				launch -- "$loopbin" tmpfs none "$tmp/mnt$i" "" "$per" >"$tmp/out.$i" &
			fi
			pids+=($!)
		done
		fails=0
		for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
		end=$(date +%s.%N)
		awk -v k="$k" -v kind="$kind" -v n=$((k * per * 2)) -v s="$start" -v e="$end" -v f="$fails" \
			'BEGIN { printf "%-12d %-30s %10d %10.3f %8.0f%s\n", k, (kind == "ext4" ? "ext4 kernel+idmap" : kind == "anchor" ? "tmpfs, minimal supervisor" : "tmpfs continue"), n, e - s, n / (e - s), (f ? "  (" f " containers failed)" : "") }'
	done
done
echo
echo "notifyd after the run: $("$BUILD/notifyctl" --control "$tmp/ctl.sock" stats | tr '\n' ' ')"
grep -c 'error' "$tmp/notifyd.log" | sed 's/^/notifyd error lines: /'
# MV_BENCH_NOTIFYD_ONLY=1: the tables above only.
[ -n "${MV_BENCH_NOTIFYD_ONLY:-}" ] && exit 0
[ -x "$(dirname "$0")/newapi.sh" ] && "$(dirname "$0")/newapi.sh" "$BUILD"
[ -x "$(dirname "$0")/fuse.sh" ] && "$(dirname "$0")/fuse.sh" "$BUILD"
[ -x "$(dirname "$0")/vfsd.sh" ] && "$(dirname "$0")/vfsd.sh" "$BUILD"
[ -x "$(dirname "$0")/vfsd_syscalls.sh" ] && "$(dirname "$0")/vfsd_syscalls.sh" "$BUILD"
[ -x "$(dirname "$0")/share.sh" ] && "$(dirname "$0")/share.sh" "$BUILD"
[ -x "$(dirname "$0")/restart.sh" ] && "$(dirname "$0")/restart.sh" "$BUILD"
