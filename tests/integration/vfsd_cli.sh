#!/bin/bash
# vfsd command line: both dialects (Rust virtiofsd and QEMU's -o), option
# errors, --print-capabilities, and a start-up with each sandbox that
# answers a vhost-user GET_FEATURES.
set -u
VFSD=${MV_BUILD:-build}/vfsd
n=0
t() { # t "description" command...
	local d=$1
	shift
	if "$@" >/dev/null 2>&1; then echo "ok - $d"; else echo "not ok - $d"; fi
}
[ -x "$VFSD" ] || { echo "not ok - vfsd built"; exit 1; }
tmp=$(mktemp -d /tmp/vfsd-cli-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/share"

t "--print-capabilities prints a vhost-user fs document" \
	sh -c "'$VFSD' --print-capabilities | grep -q '\"type\": \"fs\"'"
t "--help exits 0" "$VFSD" --help
t "unknown option rejected" sh -c "! '$VFSD' --no-such-option 2>/dev/null"
t "missing --shared-dir rejected" sh -c "! '$VFSD' --socket-path=$tmp/s 2>/dev/null"
t "missing socket rejected" sh -c "! '$VFSD' --shared-dir=$tmp/share 2>/dev/null"
t "bad --cache value rejected" sh -c "! '$VFSD' --socket-path=$tmp/s --shared-dir=$tmp/share --cache=sometimes 2>/dev/null"
t "bad --sandbox value rejected" sh -c "! '$VFSD' --socket-path=$tmp/s --shared-dir=$tmp/share --sandbox=jail 2>/dev/null"
t "bad --seccomp value rejected" sh -c "! '$VFSD' --socket-path=$tmp/s --shared-dir=$tmp/share --seccomp=maybe 2>/dev/null"
t "unknown -o option rejected" sh -c "! '$VFSD' --socket-path=$tmp/s -o source=$tmp/share,frobnicate 2>/dev/null"
# File handles need CAP_DAC_READ_SEARCH in the initial user namespace: in a
# user namespace (the chroot-in-a-container case) mandatory fails at start-up
# with a clear message and prefer falls back to O_PATH fds.
t "--inode-file-handles=mandatory in a user namespace fails at start-up, saying why" \
	sh -c "! unshare --user --map-root-user '$VFSD' --socket-path=$tmp/s --shared-dir=$tmp/share \
		--sandbox=chroot --inode-file-handles=mandatory 2>$tmp/fh.log &&
		grep -q 'open_by_handle_at needs CAP_DAC_READ_SEARCH' $tmp/fh.log"

# Start vfsd and speak one vhost-user message to it: GET_FEATURES.
probe() { # probe SOCKET -> prints the features as hex
	python3 - "$1" <<'PY'
import socket, struct, sys, time
for _ in range(50):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
s.sendall(struct.pack('<III', 1, 1, 0))
h = s.recv(12); req, flags, size = struct.unpack('<III', h)
v = struct.unpack('<Q', s.recv(size))[0]
print('%x' % v if req == 1 and flags & 4 else 'bad')
PY
}
in_userns=""
start() { # start NAME args... ; returns after the socket answers
	local name=$1
	shift
	# shellcheck disable=SC2086 # $in_userns is a command prefix
	$in_userns "$VFSD" --socket-path="$tmp/$name.sock" "$@" >"$tmp/$name.log" 2>&1 &
	local f
	f=$(probe "$tmp/$name.sock" 2>/dev/null)
	kill $! 2>/dev/null
	wait $! 2>/dev/null
	# VERSION_1 | INDIRECT_DESC | EVENT_IDX | PROTOCOL_FEATURES
	[ "$f" = 170000000 ]
}
start_userns() { in_userns="unshare --user --map-root-user" start "$@"; }
t "Rust dialect, --sandbox=none" start rust-none --shared-dir="$tmp/share" --sandbox=none --seccomp=none
t "Rust dialect, --sandbox=chroot, --seccomp=kill, --cache=always --xattr --readonly" \
	start rust-chroot --shared-dir="$tmp/share" --sandbox=chroot --seccomp=kill --cache=always --xattr --readonly
t "Rust dialect, --sandbox=namespace --thread-pool-size=4 --log-level=debug" \
	start rust-ns --shared-dir="$tmp/share" --sandbox=namespace --thread-pool-size=4 --log-level=debug
t "--inode-file-handles=mandatory as root" \
	start fh-mandatory --shared-dir="$tmp/share" --sandbox=namespace --inode-file-handles=mandatory
t "  ... logs that inodes keep file handles" grep -q 'inodes keep file handles' "$tmp/fh-mandatory.log"
t "--inode-file-handles=prefer in a user namespace falls back to O_PATH fds" \
	start_userns fh-prefer --shared-dir="$tmp/share" --sandbox=chroot --inode-file-handles=prefer
t "  ... and says so once" grep -q 'prefer: file handles do not work here' "$tmp/fh-prefer.log"
t "QEMU dialect, -o source=,cache=none,sandbox=chroot,xattr,no_posix_lock -f" \
	start c-dialect -o source="$tmp/share",cache=none,sandbox=chroot,xattr,no_posix_lock -f
t "QEMU dialect log_level and --thread-pool-size" \
	start c-dialect2 -o source="$tmp/share",log_level=debug,sandbox=none --thread-pool-size=0
# --fd: an inherited listening socket
python3 - "$tmp/fd.sock" "$VFSD" "$tmp/share" >"$tmp/fd.log" 2>&1 <<'PY' &
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
os.set_inheritable(s.fileno(), True)
p = subprocess.Popen([sys.argv[2], '--fd=%d' % s.fileno(), '--shared-dir=' + sys.argv[3],
                      '--sandbox=none'], pass_fds=[s.fileno()])
open(sys.argv[1] + '.pid', 'w').write(str(p.pid))
p.wait()
PY
fdpid=$!
f=$(probe "$tmp/fd.sock" 2>/dev/null)
t "--fd serves an inherited listening socket" test "$f" = 170000000
kill "$(cat "$tmp/fd.sock.pid" 2>/dev/null)" 2>/dev/null
wait $fdpid 2>/dev/null
exit 0
