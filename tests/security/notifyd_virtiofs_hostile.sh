#!/bin/bash
# The virtiofs action against a hostile container (crun and runc, user
# namespace 0 -> host 100000).  Each refusal gets a clear errno and a
# decision line; what a share does hand out stays the container's:
#
#   source: a symlink or ".." out of the root, /proc/1/root (a magic link),
#           procfs and sysfs (files that act on the host), a directory the
#           caller may not read, one it may not write (served read-only);
#   target: missing, a directory;
#   limits: max-shares, an option outside allowed-options, a bad value;
#   vfsd:   no capability the caller lacks (CAP_DAC_OVERRIDE dropped in the
#           container is dropped in vfsd), no CAP_MKNOD (a front-end's mknod
#           of a device node fails), seccomp on, outside the container's pid
#           namespace;
#   the VMM: garbage on the socket (vfsd lives or exits cleanly, notifyd
#           lives, the container's next share works).
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

[ -x "$MV_BUILD/vhost-user-fs-mount" ] || mv_bail "vhost-user-fs-mount not built"
[ -x /usr/bin/python3 ] || mv_bail "python3 not installed (the garbage VMM)"

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
MNT=$MV_TMP/mnt
mkdir -p "$PROFILES" "$MNT"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-shares = 2

[fs vhost-user-fs]
action = virtiofs
allowed-options = cache, ro, thread-pool-size, bogus

[fs proc]
action = continue
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/srv/data" "$ROOTFS/srv/secret" "$ROOTFS/srv/readonly" "$ROOTFS/run" \
	"$ROOTFS/srv/sub/covered" "$ROOTFS/srv/sub/proc" \
	"$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
echo "container data" >"$ROOTFS/srv/data/hello.txt"
# Under a mount the runtime puts there (locked): the container never sees it.
echo "hidden by the runtime's mount" >"$ROOTFS/srv/sub/covered/under.txt"
ln -s ../../../../../../../../work "$ROOTFS/srv/up"
ln -s /work "$ROOTFS/srv/abs"
chown -hR 100000:100000 "$ROOTFS/srv" "$ROOTFS/run" "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
# Host root's, not mapped in the container: it may not read it.
chown 0:0 "$ROOTFS/srv/secret"
chmod 0700 "$ROOTFS/srv/secret"
# In the shared directory but host root's, mode 0600: the container cannot read it.
echo "host root's" >"$ROOTFS/srv/data/hostroot.txt"
chown 0:0 "$ROOTFS/srv/data/hostroot.txt"
chmod 0600 "$ROOTFS/srv/data/hostroot.txt"
# Readable, not writable by the container's root.
chown 0:0 "$ROOTFS/srv/readonly"
chmod 0755 "$ROOTFS/srv/readonly"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

defer mv_front_stop




bundle() { # bundle ID [mv_oci_bundle options] -- CMD...
	local id=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	mv_oci_bundle "${opts[@]}" "$MV_TMP/$id" "$ROOTFS" "$@" && mv_bind_host_libs "$MV_TMP/$id"
}

test_refusals() {
	local id=vfsh-$RT-refuse
	cat >"$ROOTFS/refuse.sh" <<'EOF'
touch /run/s.sock
mkdir -p /run/adir
mvstep up mount -t vhost-user-fs /srv/up /run/s.sock
mvstep abs mount -t vhost-user-fs /srv/abs /run/s.sock
mvstep dotdot mount -t vhost-user-fs /../../../../../../work /run/s.sock
mvstep magic mount -t vhost-user-fs /proc/1/root /run/s.sock
mvstep proc mount -t vhost-user-fs /proc /run/s.sock
mvstep proc2 mount -t vhost-user-fs /proc/sys /run/s.sock
mvstep file mount -t vhost-user-fs /dev/null /run/s.sock
mvstep secret mount -t vhost-user-fs /srv/secret /run/s.sock
mvstep notarget mount -t vhost-user-fs /srv/data /run/missing.sock
mvstep dirtarget mount -t vhost-user-fs /srv/data /run/adir
mvstep option mount -t vhost-user-fs -o xattr /srv/data /run/s.sock
mvstep notvfsd mount -t vhost-user-fs -o bogus /srv/data /run/s.sock
mvstep badvalue mount -t vhost-user-fs -o cache=sometimes /srv/data /run/s.sock
mvstep badpool mount -t vhost-user-fs -o thread-pool-size=100000 /srv/data /run/s.sock
touch /run/a.sock /run/b.sock /run/c.sock
mvstep max1 mount -t vhost-user-fs /srv/data /run/a.sock
mvstep max2 mount -t vhost-user-fs /srv/data /run/b.sock
mvstep max3 mount -t vhost-user-fs /srv/data /run/c.sock
mvstep umount1 umount /run/a.sock
mvstep max3again mount -t vhost-user-fs /srv/data /run/c.sock
EOF
	bundle "$id" -- sh /refuse.sh || return
	mv_run "$RT" "$MV_TMP/$id" "$id" 60
	t_step_errno "$RT: a relative symlink out of the root stays in it (the container's /work: ENOENT)" \
		"$id" up ENOENT
	t_step_errno "$RT: an absolute symlink to a host path is the container's path (ENOENT)" \
		"$id" abs ENOENT
	t_step_errno "$RT: /../../work is the container's /work (ENOENT)" "$id" dotdot ENOENT
	t_step_errno "$RT: /proc/1/root (a magic link) is refused (ELOOP)" "$id" magic ELOOP
	t_step_errno "$RT: procfs is never shared (EPERM)" "$id" proc EPERM
	t_step_errno "$RT: /proc/sys is never shared (EPERM)" "$id" proc2 EPERM
	t_step_errno "$RT: a non-directory as the source is ENOTDIR" "$id" file ENOTDIR
	t_step_errno "$RT: a directory the caller may not read is EACCES" "$id" secret EACCES
	t_step_errno "$RT: a missing target is ENOENT" "$id" notarget ENOENT
	t_step_errno "$RT: a directory as the target is ENOTDIR" "$id" dirtarget ENOTDIR
	t_step_errno "$RT: an option outside allowed-options is EINVAL" "$id" option EINVAL
	t_step_errno "$RT: an allowed option vfsd does not know is EINVAL" "$id" notvfsd EINVAL
	t_step_errno "$RT: cache=sometimes is EINVAL" "$id" badvalue EINVAL
	t_step_errno "$RT: thread-pool-size=100000 is EINVAL" "$id" badpool EINVAL
	t_step_ok "$RT: first of max-shares = 2" "$id" max1
	t_step_ok "$RT: second of max-shares = 2" "$id" max2
	t_step_errno "$RT: a third share is ENOSPC" "$id" max3 ENOSPC
	t_step_ok "$RT: umount of a share" "$id" umount1
	t_step_ok "$RT: after a umount there is room again" "$id" max3again
	t_decision "$RT: the magic link's decision line says why" "$id" 'action=virtiofs' \
		'result=ELOOP' 'source /proc/1/root'
	t_decision "$RT: the procfs decision line says why" "$id" 'action=virtiofs' \
		'result=EPERM' 'never shared'
	t_decision "$RT: the max-shares decision line says why" "$id" 'action=virtiofs' \
		'result=ENOSPC' 'max-shares = 2'
}

# What vfsd runs with, as the container's processes are confined.
test_confined() {
	local id=vfsh-$RT-confined pid vpid child st
	cat >"$ROOTFS/confined.sh" <<'EOF'
tok=$1
touch /run/fs0.sock /run/ro.sock
mvstep mount mount -t vhost-user-fs /srv/data /run/fs0.sock
mvstep romount mount -t vhost-user-fs /srv/readonly /run/ro.sock
mvsync "$tok.mounted"
EOF
	bundle "$id" -- sh /confined.sh "$id" || return
	# The container's root without CAP_DAC_OVERRIDE.
	jq '.process.capabilities |= with_entries(.value |= map(select(. != "CAP_DAC_OVERRIDE")))' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		t_fail "$RT: confined: container mounted its shares" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	pid=$(mv_container_pid "$RT" "$id")
	vpid=$(mv_share_pids "$id" | head -n1)
	child=$(mv_share_server "$vpid")
	st=$(cat "/proc/$child/status" 2>/dev/null)
	t_check "$RT: confined: vfsd has no CAP_DAC_OVERRIDE (the container dropped it)" \
		[ $(((16#$(awk '/^CapEff/ {print $2}' <<<"$st") >> 1) & 1)) = 0 ]
	t_check "$RT: confined: vfsd has no CAP_MKNOD (devices = no)" \
		[ $(((16#$(awk '/^CapEff/ {print $2}' <<<"$st") >> 27) & 1)) = 0 ]
	t_check "$RT: confined: vfsd has no CAP_SYS_ADMIN" \
		[ $(((16#$(awk '/^CapEff/ {print $2}' <<<"$st") >> 21) & 1)) = 0 ]
	t_check "$RT: confined: vfsd runs under its seccomp filter" \
		grep -qE '^Seccomp:[[:space:]]+2' <<<"$st"
	t_check "$RT: confined: vfsd is outside the container's pid namespace" \
		[ "$(readlink "/proc/$child/ns/pid")" != "$(readlink "/proc/$pid/ns/pid")" ]
	t_decision "$RT: confined: a source the caller may not write is shared read-only" "$id" \
		'action=virtiofs' 'result=ok' 'ro \(the caller may not write'
	if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
		t_check "$RT: confined: a host-root 0600 file in the share cannot be read through it" \
			sh -c "! cat '$MNT/hostroot.txt' 2>/dev/null"
		t_check "$RT: confined: nor written" sh -c "! echo x >> '$MNT/hostroot.txt' 2>/dev/null"
		t_check "$RT: confined: nor chowned" sh -c "! chown 0 '$MNT/hostroot.txt' 2>/dev/null"
		t_check "$RT: confined: the host file is unchanged" \
			[ "$(cat "$ROOTFS/srv/data/hostroot.txt")" = "host root's" ]
		t_check "$RT: confined: a front-end's mknod of a device node fails" \
			sh -c "! mknod '$MNT/null' c 1 3 2>/dev/null"
		t_check "$RT: confined: no device node appeared on the host" \
			[ ! -e "$ROOTFS/srv/data/null" ]
		echo x >"$MNT/suid" && chmod 4755 "$MNT/suid"
		t_check "$RT: confined: a setuid file the front-end makes belongs to the container (100000)" \
			[ "$(stat -c %u "$ROOTFS/srv/data/suid")" = 100000 ]
		rm -f "$MNT/suid"
		mv_front_stop
	else
		t_fail "$RT: confined: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	if mv_front_start "/proc/$pid/root/run/ro.sock" "$MNT"; then
		t_check "$RT: confined: the read-only share refuses a create" \
			sh -c "! touch '$MNT/new' 2>/dev/null"
		mv_front_stop
	else
		t_fail "$RT: confined: front-end mounts the read-only share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.mounted"
	mv_wait "$id"
}

# A VMM that sends garbage: vfsd survives or exits cleanly, notifyd lives on.
test_garbage() {
	local id=vfsh-$RT-garbage pid vpid
	cat >"$ROOTFS/garbage.py" <<'EOF'
import os, socket, struct, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(2)
    return s
# 1: random bytes
s = conn(); s.sendall(os.urandom(4096)); s.close()
# 2: headers with absurd sizes and unknown requests
s = conn()
for req in (0, 1, 2, 0xffff, 0x7fffffff, 5, 24):
    try:
        s.sendall(struct.pack("<III", req, 1, 0xfffffff0))
    except OSError:
        break
s.close()
# 3: a header promising a payload that never comes, then hang up
s = conn(); s.sendall(struct.pack("<III", 1, 1, 64)); s.close()
print("garbage sent")
EOF
	cat >"$ROOTFS/garbage.sh" <<'EOF'
tok=$1
touch /run/fs0.sock /run/fs1.sock
mvstep mount mount -t vhost-user-fs /srv/data /run/fs0.sock
mvstep garbage /usr/bin/python3 /garbage.py /run/fs0.sock
mvstep umount umount /run/fs0.sock
mvstep again mount -t vhost-user-fs /srv/data /run/fs1.sock
mvsync "$tok.again"
EOF
	bundle "$id" -- sh /garbage.sh "$id" || return
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if mv_sync_wait "$ROOTFS" "$id.again" 60; then
		pid=$(mv_container_pid "$RT" "$id")
		if mv_front_start "/proc/$pid/root/run/fs1.sock" "$MNT"; then
			t_check "$RT: garbage: the next share serves" \
				[ "$(cat "$MNT/hello.txt")" = "container data" ]
			mv_front_stop
		else
			t_fail "$RT: garbage: the next share serves" "$(cat "$MV_TMP/front.log")"
		fi
		mv_sync_go "$ROOTFS" "$id.again"
	else
		t_fail "$RT: garbage: container got to its second share" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$RT: garbage: the share mounts" "$id" mount
	t_step_ok "$RT: garbage: the garbage VMM ran" "$id" garbage
	t_step_ok "$RT: garbage: umount after the garbage works" "$id" umount
	t_step_ok "$RT: garbage: a second share mounts" "$id" again
	t_check "$RT: garbage: notifyd is alive" mv_notifyd_alive
	vpid=$(mv_share_pids "$id" | head -n1)
	t_check "$RT: garbage: the attacked vfsd was not left running" \
		sh -c "for i in \$(seq 50); do kill -0 $vpid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
	t_check "$RT: garbage: vfsd logged no crash (no SIGSEGV/SIGABRT)" \
		sh -c "! grep -E 'vfsd pid=$vpid .*signal (SEGV|ABRT|BUS|ILL)' '$MV_LOG'"
}

# Mounts below the source: what they cover stays covered; a procfs the
# container mounted there is served with the container's rights only.
test_submounts() {
	local id=vfsh-$RT-sub pid before
	cat >"$ROOTFS/sub.sh" <<'EOF'
tok=$1
touch /run/fs0.sock
mvstep proc mount -t proc proc /srv/sub/proc
mvstep mount mount -t vhost-user-fs /srv/sub /run/fs0.sock
mvsync "$tok.mounted"
EOF
	bundle "$id" -- sh /sub.sh "$id" || return
	jq '.mounts += [{destination: "/srv/sub/covered", type: "tmpfs", source: "tmpfs",
	                 options: ["nosuid", "nodev", "mode=755"]}]' \
		"$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_start "$RT" "$MV_TMP/$id" "$id" 90
	if ! mv_sync_wait "$ROOTFS" "$id.mounted" 60; then
		t_fail "$RT: submounts: container mounted its share" "$(cat "$(mv_out "$id")")"
		mv_wait "$id"
		return
	fi
	t_step_ok "$RT: submounts: the container mounts proc below the source" "$id" proc
	t_step_ok "$RT: submounts: the share of the source mounts" "$id" mount
	t_decision "$RT: submounts: procfs below the source: vfsd runs with the container's ids" \
		"$id" 'action=virtiofs' 'result=ok' 'ids=userns'
	pid=$(mv_container_pid "$RT" "$id")
	if mv_front_start "/proc/$pid/root/run/fs0.sock" "$MNT"; then
		t_check "$RT: submounts: the runtime's mount still covers what is under it" \
			[ ! -e "$MNT/covered/under.txt" ]
		t_check "$RT: submounts: the container's procfs is there" [ -d "$MNT/proc/sys/kernel" ]
		before=$(cat /proc/sys/kernel/core_pattern)
		t_check "$RT: submounts: writing kernel.core_pattern through it fails" \
			sh -c "! echo '|/bin/false' > '$MNT/proc/sys/kernel/core_pattern' 2>/dev/null"
		t_check "$RT: submounts: the host's core_pattern is unchanged" \
			[ "$(cat /proc/sys/kernel/core_pattern)" = "$before" ]
		mv_front_stop
	else
		t_fail "$RT: submounts: front-end mounts the share" "$(cat "$MV_TMP/front.log")"
	fi
	mv_sync_go "$ROOTFS" "$id.mounted"
	mv_wait "$id"
}

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT: virtiofs hostile cases" "$RT not installed"
		continue
	}
	test_refusals
	test_confined
	test_submounts
	test_garbage
done
t_done
