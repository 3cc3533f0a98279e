#!/bin/bash
# vfsd --translate-uid / --translate-gid through the real data path: vfsd and
# vhost-user-fs-mount on the host (the mount plays the guest; its callers'
# uids are the "guest" ids).  map:0:100000:65536 in every sandbox mode (files
# created by root land as 100000 on disk and show as 0; disk owners inside the
# range show shifted, outside it unchanged, as the Rust virtiofsd shows them;
# READDIRPLUS, chown and another user), squash-guest:0:1234:4294967295 (the
# form notifyd's virtiofs action uses: everything created is 1234),
# forbid-guest (EPERM for creating and chowning as those ids, others work),
# and the start-up errors for bad rules.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

MOUNT=$MV_BUILD/vhost-user-fs-mount
VFSD=$MV_BUILD/vfsd
for p in "$MOUNT" "$VFSD"; do
	[ -x "$p" ] || mv_bail "$p not built"
done
# The sanitizers' runtime makes syscalls outside vfsd's allowlist.
VFSD_ARGS=()
ldd "$VFSD" 2>/dev/null | grep -q libasan && VFSD_ARGS+=(--seccomp=log)
SHARE=$MV_TMP/share MNT=$MV_TMP/mnt
mkdir -p "$MNT"

BACKEND_PID='' MOUNT_PID=''
stop_all() {
	umount "$MNT" 2>/dev/null
	[ -n "$MOUNT_PID" ] && kill "$MOUNT_PID" 2>/dev/null && wait "$MOUNT_PID" 2>/dev/null
	[ -n "$BACKEND_PID" ] && kill "$BACKEND_PID" 2>/dev/null && wait "$BACKEND_PID" 2>/dev/null
	MOUNT_PID='' BACKEND_PID=''
}
defer stop_all

# start NAME VFSD-ARGS... : vfsd on $SHARE, mounted at $MNT.
start() {
	local name=$1 i
	shift
	rm -f "$MV_TMP/vu.sock"
	"$VFSD" "${VFSD_ARGS[@]}" --socket-path="$MV_TMP/vu.sock" --shared-dir="$SHARE" "$@" \
		2>"$MV_TMP/$name-vfsd.log" &
	BACKEND_PID=$!
	for ((i = 0; i < 50; i++)); do
		[ -S "$MV_TMP/vu.sock" ] && break
		sleep 0.1
	done
	"$MOUNT" "$MV_TMP/vu.sock" "$MNT" 2>"$MV_TMP/$name-mount.log" &
	MOUNT_PID=$!
	for ((i = 0; i < 50; i++)); do
		grep -q " $MNT fuse.vhost-user-fs " /proc/self/mounts && stat "$MNT" >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	t_fail "$name: vfsd started and the share mounted" \
		"$(cat "$MV_TMP/$name-vfsd.log" "$MV_TMP/$name-mount.log")"
	stop_all
	return 1
}

# is DESC WANT PATH [STAT-FLAGS] : owner uid:gid of PATH (not followed) is WANT.
is() {
	local got
	got=$(stat -c %u:%g "$3" 2>&1)
	if [ "$got" = "$2" ]; then t_ok "$1"; else t_fail "$1" "$3: want $2, got $got"; fi
}
# as UID CMD... : run CMD as UID:UID without groups (a non-root guest user).
as() {
	local u=$1
	shift
	setpriv --reuid "$u" --regid "$u" --clear-groups -- "$@"
}

# A fresh share: root owned by the container root (100000), files owned by a
# uid inside the map (100005), one outside it (200000), and host root.
fresh_share() {
	rm -rf "$SHARE"
	mkdir -p "$SHARE/open"
	chmod 0777 "$SHARE/open"
	touch "$SHARE/in5" "$SHARE/out200000" "$SHARE/hostroot"
	chown 100005:100005 "$SHARE/in5"
	chown 200000:200000 "$SHARE/out200000"
	chown -R 100000:100000 "$SHARE/open"
	chown 100000:100000 "$SHARE"
}

MAP=(--translate-uid map:0:100000:65536 --translate-gid map:0:100000:65536)

# --- map:0:100000:65536, namespace sandbox: the whole picture ------------------
fresh_share
if start map-namespace --sandbox=namespace "${MAP[@]}"; then
	# READDIRPLUS first, before any LOOKUP put the attributes in the cache.
	ls=$(ls -ln "$MNT" 2>&1)
	t_check "READDIRPLUS shows host 100005 as 5" \
		grep -Eq '^-\S+ +1 +5 +5 .* in5$' <<<"$ls"
	t_check "READDIRPLUS shows host 200000 (outside the map) as 200000" \
		grep -Eq '^-\S+ +1 +200000 +200000 .* out200000$' <<<"$ls"
	t_diag "$ls"
	is "the share's root (host 100000) shows as 0:0" 0:0 "$MNT"
	is "a disk file owned by 100005 shows as 5:5" 5:5 "$MNT/in5"
	is "a disk file owned by 200000 (outside the range) shows as 200000:200000, as in Rust" \
		200000:200000 "$MNT/out200000"
	is "a disk file owned by host root (outside the host range) shows as 0:0, as in Rust" \
		0:0 "$MNT/hostroot"
	t_check "root creates a file through the mount (CREATE)" touch "$MNT/new"
	is "  ... owned by 100000:100000 on disk" 100000:100000 "$SHARE/new"
	is "  ... and by 0:0 through the mount" 0:0 "$MNT/new"
	t_check "root makes a directory (MKDIR), a symlink (SYMLINK) and a FIFO (MKNOD)" \
		sh -c "mkdir '$MNT/dir' && ln -s new '$MNT/link' && mkfifo '$MNT/fifo'"
	is "  ... directory 100000:100000 on disk" 100000:100000 "$SHARE/dir"
	is "  ... symlink 100000:100000 on disk" 100000:100000 "$SHARE/link"
	is "  ... FIFO 100000:100000 on disk" 100000:100000 "$SHARE/fifo"
	is "  ... symlink 0:0 through the mount" 0:0 "$MNT/link"
	t_check "uid 1000 creates a file in a 0777 directory" as 1000 touch "$MNT/open/u1000"
	is "  ... owned by 101000:101000 on disk" 101000:101000 "$SHARE/open/u1000"
	is "  ... and by 1000:1000 through the mount" 1000:1000 "$MNT/open/u1000"
	t_check "chown 7:8 through the mount (SETATTR)" chown 7:8 "$MNT/new"
	is "  ... 100007:100008 on disk" 100007:100008 "$SHARE/new"
	is "  ... 7:8 through the mount" 7:8 "$MNT/new"
	t_check "chown 70000:70000 (a guest id outside the map)" chown 70000:70000 "$MNT/new"
	is "  ... passes unchanged to disk" 70000:70000 "$SHARE/new"
	t_check "chown -1:9 changes only the group" chown :9 "$MNT/new"
	is "  ... 70000:100009 on disk" 70000:100009 "$SHARE/new"
	t_check "vfsd logs that it translates" grep -q 'uid/gid translation' "$MV_TMP/map-namespace-vfsd.log"
	stop_all
fi

# --- every sandbox mode starts and translates --------------------------------
for sb in chroot none; do
	fresh_share
	if start "map-$sb" --sandbox="$sb" "${MAP[@]}"; then
		t_check "--sandbox=$sb: root creates a file" touch "$MNT/new"
		is "--sandbox=$sb:   ... 100000:100000 on disk" 100000:100000 "$SHARE/new"
		is "--sandbox=$sb:   ... 0:0 through the mount" 0:0 "$MNT/new"
		is "--sandbox=$sb: host 100005 shows as 5" 5:5 "$MNT/in5"
		stop_all
	fi
done

# --- squash-guest: what notifyd's virtiofs action gives idmap = squash:UID:GID --
fresh_share
chmod 0777 "$SHARE"
SQ=(--translate-uid squash-guest:0:1234:4294967295 --translate-gid squash-guest:0:1234:4294967295)
if start squash --sandbox=namespace "${SQ[@]}"; then
	t_check "squash-guest: root creates a file and a directory" \
		sh -c "touch '$MNT/sq' && mkdir '$MNT/sqdir'"
	is "  ... file 1234:1234 on disk" 1234:1234 "$SHARE/sq"
	is "  ... directory 1234:1234 on disk" 1234:1234 "$SHARE/sqdir"
	is "  ... shown as 1234:1234 (host ids are not translated back)" 1234:1234 "$MNT/sq"
	# Not touch: setting the times of a file now shown as 1234's is refused.
	t_check "squash-guest: uid 1000 creates a file" as 1000 sh -c ": >'$MNT/open/sq1000'"
	is "  ... 1234:1234 on disk" 1234:1234 "$SHARE/open/sq1000"
	t_check "squash-guest: chown 5:6" chown 5:6 "$MNT/sq"
	is "  ... still 1234:1234 on disk" 1234:1234 "$SHARE/sq"
	is "squash-guest: host root's file still shows as 0:0" 0:0 "$MNT/hostroot"
	stop_all
fi

# --- forbid-guest -------------------------------------------------------------
fresh_share
chmod 0777 "$SHARE"
if start forbid --sandbox=namespace --translate-uid forbid-guest:0:1 \
	--translate-gid forbid-guest:0:1 --translate-uid forbid-guest:2000:10; then
	t_expect_fail_errno "forbid-guest 0: root's CREATE fails with EPERM" EPERM touch "$MNT/f"
	t_check "  ... and made nothing" test ! -e "$SHARE/f"
	t_expect_fail_errno "forbid-guest 0: root's MKDIR fails with EPERM" EPERM mkdir "$MNT/d"
	t_expect_fail_errno "forbid-guest 0: root's SYMLINK fails with EPERM" EPERM ln -s x "$MNT/l"
	t_expect_fail_errno "forbid-guest 0: root's MKNOD fails with EPERM" EPERM mkfifo "$MNT/p"
	t_check "uid 1000 (not forbidden) creates a file" as 1000 touch "$MNT/open/ok1000"
	is "  ... owned by 1000:1000 (no rule: unchanged)" 1000:1000 "$SHARE/open/ok1000"
	t_expect_fail_errno "uid 2005 (forbid-guest:2000:10) cannot create" EPERM \
		as 2005 touch "$MNT/open/no2005"
	chown 1000:1000 "$SHARE/in5"
	t_expect_fail_errno "chown to forbidden uid 2003 fails with EPERM" EPERM chown 2003 "$MNT/in5"
	t_expect_fail_errno "chown to forbidden gid 0 fails with EPERM" EPERM chown :0 "$MNT/in5"
	is "  ... the owner did not change" 1000:1000 "$SHARE/in5"
	t_check "chown to uid 1001 (not forbidden) works" chown 1001 "$MNT/in5"
	is "  ... 1001 on disk" 1001:1000 "$SHARE/in5"
	stop_all
fi

# --- start-up errors ----------------------------------------------------------
bad() { # bad DESC MESSAGE-PART ARGS...
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$VFSD" --socket-path="$MV_TMP/bad.sock" --shared-dir="$SHARE" "$@" 2>&1)
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$out"; then
		t_ok "$desc"
	else
		t_fail "$desc" "exit $rc, want 2 and '$want'" "$out"
	fi
}
bad "overlapping rules refused, as the Rust virtiofsd words it" \
	"--translate-uid forbid-guest:1001:1999: Guest-to-host mapping 'fail [1001, 3000)' intersects previously added entry" \
	--translate-uid map:2000:2000:1 --translate-uid forbid-guest:1001:1999
bad "overlapping host ranges refused" "Host-to-guest mapping" \
	--translate-gid map:0:100000:65536 --translate-gid host:165535:0:1
bad "unknown type refused" "unknown type 'squash'" --translate-uid squash:0:1:2
bad "missing field refused" "map takes 3 numbers, got 2" --translate-gid map:0:100000
bad "range past 4294967295 refused" "range overflow" --translate-uid squash-guest:1:1234:4294967295
bad "non-number refused" "invalid value '-1'" --translate-uid guest:-1:0:1
bad "--posix-acl with translation refused" "--posix-acl cannot be used with --translate-uid" \
	--posix-acl --translate-uid map:0:1:1
t_check "vfsd --help lists --translate-uid and --translate-gid" \
	sh -c "'$VFSD' --help | grep -q -- --translate-uid= && '$VFSD' --help | grep -q -- --translate-gid="
