#!/bin/bash
# bench/vfsd_syscalls.sh BUILD : system calls the back-end makes per guest
# operation, vfsd against QEMU's C virtiofsd behind the same front-end
# (vhost-user-fs-mount) on a tmpfs-backed share, both with cache=auto as in
# bench/vfsd.sh.  The stats come 1.5 s after the creates, when the guest's
# entries and attributes (1 s) have expired: each reaches the back-end as a
# LOOKUP of an inode it already has, as in bench/metabench.  Reads and
# writes are O_DIRECT, so each is one READ or WRITE.  Each phase of
# bench/opcount runs VFSD_SYSCALLS_N times (default 1000; readdir lists N
# entries, counted per entry) with strace -c attached to every thread of the
# serving process only for that phase.
# VFSD_SYSCALLS_DETAIL=1 also prints the per-syscall breakdown.
# Counting never fails: this prints a table.
set -u
BUILD=$(cd "${1:-build}" && pwd)
N=${VFSD_SYSCALLS_N:-1000}
VIRTIOFSD=/usr/lib/qemu/virtiofsd
OPC=$BUILD/bench/opcount

if [ -z "${VS_PRIVATE_NS:-}" ]; then
	exec env VS_PRIVATE_NS=1 unshare -m --propagation private "$0" "$@"
fi
command -v strace >/dev/null || { echo "vfsd syscalls: strace not installed"; exit 0; }
[ -x "$VIRTIOFSD" ] || { echo "vfsd syscalls: $VIRTIOFSD not installed"; exit 0; }
tmp=$(mktemp -d /tmp/vfsd-sys.XXXXXX)
backend= front= tracer=
stop_target() {
	[ -n "$tracer" ] && { kill -INT "$tracer" 2>/dev/null; wait "$tracer" 2>/dev/null; }
	umount "$tmp/mnt" 2>/dev/null
	[ -n "$front" ] && { kill "$front" 2>/dev/null; wait "$front" 2>/dev/null; }
	[ -n "$backend" ] && { kill "$backend" 2>/dev/null; wait "$backend" 2>/dev/null; }
	front= backend= tracer=
}
cleanup() {
	stop_target
	umount "$tmp/share" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$tmp/share" "$tmp/mnt"
mount -t tmpfs -o size=1G tmpfs "$tmp/share"

start() {
	local i
	rm -f "$tmp/vu.sock"
	case $1 in
	vfsd) "$BUILD/vfsd" --socket-path="$tmp/vu.sock" --shared-dir="$tmp/share" --cache=auto \
		--log-level=warn 2>"$tmp/backend.log" & ;;
	virtiofsd) "$VIRTIOFSD" --socket-path="$tmp/vu.sock" -o source="$tmp/share" -o cache=auto \
		2>"$tmp/backend.log" & ;;
	esac
	backend=$!
	for ((i = 0; i < 50; i++)); do [ -S "$tmp/vu.sock" ] && break; sleep 0.1; done
	"$BUILD/vhost-user-fs-mount" "$tmp/vu.sock" "$tmp/mnt" 2>"$tmp/front.log" &
	front=$!
	for ((i = 0; i < 50; i++)); do grep -q " $tmp/mnt " /proc/self/mounts && break; sleep 0.1; done
}

# The process that serves requests: the back-end or its deepest child (both
# daemons may fork into their sandbox and leave a parent waiting).
server_pid() {
	local p=$backend c
	while c=$(pgrep -P "$p" | head -1) && [ -n "$c" ]; do p=$c; done
	echo "$p"
}

# count TARGET PHASE : "ALL FS", syscalls per operation of PHASE: all, and
# those left after the transport's (eventfd read/write, poll, futex), whose
# number depends on how requests happen to coalesce; "- -" if it failed.
count() {
	local pid out=$tmp/strace.$1.$2 i
	pid=$(server_pid)
	strace -f -c -o "$out" -p "$pid" 2>/dev/null &
	tracer=$!
	# strace attaches to every thread before it reports; give it a moment.
	sleep 0.5
	"$OPC" "$tmp/mnt" "$2" "$N"
	local rc=$?
	kill -INT "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	tracer=
	for ((i = 0; i < 20; i++)); do grep -q total "$out" 2>/dev/null && break; sleep 0.1; done
	if [ "$rc" != 0 ]; then echo "- -"; return; fi
	awk -v n="$N" '/^-/ { sep++; next }
		sep == 1 && NF >= 5 && $NF !~ /^(read|write|poll|ppoll|futex|restart_syscall)$/ { fs += $4 }
		$NF == "total" { all = $4; found = 1 }
		END { if (found) printf "%.2f %.2f", all / n, fs / n; else printf "- -" }' "$out"
}

PHASES="create stat readdir unlink read write"
for t in vfsd virtiofsd; do
	start "$t"
	for ph in $PHASES; do
		case $ph in
		read) "$OPC" "$tmp/mnt" mkdata 1 ;;
		stat) sleep 1.5 ;;
		esac
		echo "$t $ph $(count "$t" "$ph")" >>"$tmp/res"
		case $ph in
		write) "$OPC" "$tmp/mnt" rmdata 1 ;;
		esac
	done
	stop_target
done

echo
echo "back-end system calls per operation (strace -c, every thread), $N operations per phase,"
echo "cache=auto, tmpfs share; readdir: per entry listed"
echo "all: every syscall; fs: without the transport's (eventfd read/write, poll, futex)"
printf '%-10s %10s %10s %9s   %10s %10s %9s\n' op "vfsd all" "vfd all" vfsd/vfd "vfsd fs" "vfd fs" vfsd/vfd
for ph in $PHASES; do
	awk -v ph="$ph" '
		function ratio(a, b) { return (b + 0 > 0 && a != "-") ? sprintf("%.2fx", a / b) : "-" }
		$2 == ph { all[$1] = $3; fs[$1] = $4 }
		END { printf "%-10s %10s %10s %9s   %10s %10s %9s\n", ph, all["vfsd"], all["virtiofsd"],
		      ratio(all["vfsd"], all["virtiofsd"]), fs["vfsd"], fs["virtiofsd"],
		      ratio(fs["vfsd"], fs["virtiofsd"]) }' "$tmp/res"
done
if [ -n "${VFSD_SYSCALLS_DETAIL:-}" ]; then
	for f in "$tmp"/strace.*; do
		echo "--- ${f##*/strace.}"
		awk '/^-/ { s++ ; next } s == 1 && NF { printf "  %-20s %s\n", $NF, $4 }' "$f" | sort -k2 -nr | head -12
	done
fi
