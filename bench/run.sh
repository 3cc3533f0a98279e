#!/bin/bash
# make bench: notifyd's cost against the bare syscall, measured in the same run.
#
# Anchor: mount+umount done directly by root (no seccomp) on the same ext4
# loop device / tmpfs.  Measured: the same loop inside a user+mount namespace
# whose mount/umount2 are trapped and answered by notifyd (kernel action for
# ext4, continue for tmpfs).  Timing never fails: this prints tables only.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${MV_BENCH_N:-2000}
tmp=$(mktemp -d /tmp/mv-bench.XXXXXX)
loop= nd_pid=
cleanup() {
	[ -n "$nd_pid" ] && kill "$nd_pid" 2>/dev/null && wait "$nd_pid" 2>/dev/null
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
for _ in $(seq 50); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.1; done

loopbin=$BUILD/tests/helpers/mountloop
launch() { "$BUILD/tests/helpers/mv_launch" --socket "$tmp/nd.sock" --profile bench "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'; }

bare_ext4=$(unshare -m --propagation private "$loopbin" ext4 "$loop" "$tmp/mnt0" "" "$N")
bare_tmpfs=$(unshare -m --propagation private "$loopbin" tmpfs none "$tmp/mnt0" "" "$N")
kern_ext4=$(launch -- "$loopbin" ext4 "$tmp/dev" "$tmp/mnt0" "" "$N")
cont_tmpfs=$(launch -- "$loopbin" tmpfs none "$tmp/mnt0" "" "$N")

row() { # name bare measured
	local b50 b99 m50 m99
	b50=$(field p50_us <<<"$2") b99=$(field p99_us <<<"$2")
	m50=$(field p50_us <<<"$3") m99=$(field p99_us <<<"$3")
	awk -v n="$1" -v b50="$b50" -v b99="$b99" -v m50="$m50" -v m99="$m99" -v ok="$(field ok <<<"$3")/$(field n <<<"$3")" \
		'BEGIN { printf "%-34s %9.1f %9.1f %9.1f %9.1f %7.2fx %+9.1f  %s\n", n, b50, m50, b99, m99, m50 / b50, m50 - b50, ok }'
}
echo
echo "notifyd: mount+umount latency, $N iterations each (µs; anchor = bare syscalls by root, same run)"
printf '%-34s %9s %9s %9s %9s %8s %9s  %s\n' "case" "bare p50" "p50" "bare p99" "p99" "p50 x" "p50 +µs" "ok"
row "ext4, kernel action + idmap" "$bare_ext4" "$kern_ext4"
row "tmpfs, continue action" "$bare_tmpfs" "$cont_tmpfs"
echo
echo "per syscall, p50 (µs): the cost notifyd adds to each trapped call"
printf '%-34s %9s %9s %9s %9s %9s\n' "case" "bare" "measured" "added" "ratio" ""
syscall_row() { # name field bare measured
	awk -v n="$1" -v b="$(field "$2" <<<"$3")" -v m="$(field "$2" <<<"$4")" \
		'BEGIN { printf "%-34s %9.1f %9.1f %+9.1f %8.2fx\n", n, b, m, m - b, m / b }'
}
syscall_row "mount ext4 (kernel action)" mount_p50_us "$bare_ext4" "$kern_ext4"
syscall_row "umount ext4 (notifyd's mount)" umount_p50_us "$bare_ext4" "$kern_ext4"
syscall_row "mount tmpfs (continue)" mount_p50_us "$bare_tmpfs" "$cont_tmpfs"
syscall_row "umount tmpfs (continue, no lookup)" umount_p50_us "$bare_tmpfs" "$cont_tmpfs"
echo "goal: kernel action < 2x bare at p50; continue adds < 20 µs"

echo
echo "notifyd: requests per second (each iteration = 2 requests: mount + umount2)"
printf '%-12s %-30s %10s %10s %8s\n' "containers" "case" "requests" "seconds" "req/s"
for k in 1 8 64; do
	per=$(( (N * 2) / k )); [ "$per" -lt 50 ] && per=50
	for kind in ext4 tmpfs; do
		start=$(date +%s.%N)
		pids=()
		for i in $(seq 0 $((k - 1))); do
			if [ "$kind" = ext4 ]; then
				launch -- "$loopbin" ext4 "$tmp/dev" "$tmp/mnt$i" "" "$per" >"$tmp/out.$i" &
			else
				launch -- "$loopbin" tmpfs none "$tmp/mnt$i" "" "$per" >"$tmp/out.$i" &
			fi
			pids+=($!)
		done
		fails=0
		for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
		end=$(date +%s.%N)
		awk -v k="$k" -v kind="$kind" -v n=$((k * per * 2)) -v s="$start" -v e="$end" -v f="$fails" \
			'BEGIN { printf "%-12d %-30s %10d %10.3f %8.0f%s\n", k, (kind == "ext4" ? "ext4 kernel+idmap" : "tmpfs continue"), n, e - s, n / (e - s), (f ? "  (" f " containers failed)" : "") }'
	done
done
echo
echo "notifyd after the run: $("$BUILD/notifyctl" --control "$tmp/ctl.sock" stats | tr '\n' ' ')"
grep -c 'error' "$tmp/notifyd.log" | sed 's/^/notifyd error lines: /'
[ -x "$(dirname "$0")/fuse.sh" ] && "$(dirname "$0")/fuse.sh" "$BUILD"
[ -x "$(dirname "$0")/vfsd.sh" ] && "$(dirname "$0")/vfsd.sh" "$BUILD"
