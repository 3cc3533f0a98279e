#!/bin/bash
# notifyctl oci-config against a bundle somebody else prepared
# (docs/oci-config.md "Security"):
#   - config.json as a symbolic link to a host file (valid JSON even) is not
#     followed, as a hard link to a host file it is replaced, never written
#     through: the host file keeps its bytes;
#   - a listenerPath that points at somebody else's socket (where the
#     container's seccomp fd would go) is refused without --force;
#   - a bundle that maps its root onto a host account does not get a host
#     block device chowned to that account;
#   - with real crun and runc containers: a syscall the bundle denies stays
#     denied (the bundle's errno, notifyd never asked), while the rest of the
#     rules do reach notifyd — oci-config never turns a deny into a trap
#     notifyd could allow.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

NCTL=$(mv_prog notifyctl) || mv_bail "notifyctl not built (make all)"
RULES=$MV_SRC/profiles/seccomp/oci-seccomp.json

oc() {
	OUT=$("$NCTL" oci-config --rules "$RULES" "$@" 2>&1)
	RC=$?
}
t_rc() {
	local rc=$?
	if [ "$rc" = 0 ]; then t_ok "$1"; else t_fail "$1" "exit $RC, output: $OUT"; fi
}
spec() {
	rm -rf "$2" && mkdir -p "$2" && (cd "$2" && "$1" spec) >/dev/null 2>&1
}

# A host file that is valid JSON, reached through a symlink: not followed.
mkdir -p "$MV_TMP/host"
b=$MV_TMP/sym
spec runc "$b"
mv "$b/config.json" "$MV_TMP/host/victim.json"
ln -s "$MV_TMP/host/victim.json" "$b/config.json"
sum=$(sha256sum <"$MV_TMP/host/victim.json")
oc "$b"
[ "$RC" = 2 ] && grep -q 'symbolic link' <<<"$OUT" && [ -L "$b/config.json" ]
t_rc "config.json a symlink to a host JSON file: refused (exit 2), link left"
t_check "the symlink's target keeps its bytes" [ "$(sha256sum <"$MV_TMP/host/victim.json")" = "$sum" ]

# A hard link to a host file: the bundle's name gets a new file.
b=$MV_TMP/hard
spec runc "$b"
cp "$b/config.json" "$MV_TMP/host/linked.json"
rm "$b/config.json" && ln "$MV_TMP/host/linked.json" "$b/config.json"
sum=$(sha256sum <"$MV_TMP/host/linked.json")
oc "$b"
[ "$RC" = 0 ] && [ "$(jq -r .linux.seccomp.listenerPath "$b/config.json")" = /run/mountvisor/notifyd.sock ]
t_rc "config.json hard-linked to a host file: rewritten in the bundle"
t_check "the hard-linked host file keeps its bytes" [ "$(sha256sum <"$MV_TMP/host/linked.json")" = "$sum" ]
t_check "no temp file left in the bundle" [ "$(ls -A "$b")" = config.json ]

# listenerPath already at somebody else's socket.
b=$MV_TMP/evil
spec runc "$b"
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/tmp/evil.sock",
  syscalls: [{names: ["mount"], action: "SCMP_ACT_NOTIFY", args: [{index: 3, value: 1978400, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ"}]}]}' \
	"$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
sum=$(sha256sum <"$b/config.json")
oc "$b"
[ "$RC" = 2 ] && grep -q 'already /tmp/evil.sock' <<<"$OUT" && [ "$(sha256sum <"$b/config.json")" = "$sum" ]
t_rc "listenerPath at another socket: refused without --force, file untouched"

# Root mapped onto a host account: no chown of a host device to it.
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
chown 0:disk "$DEV"
b=$MV_TMP/hostacct
spec runc "$b"
jq '.linux.namespaces += [{type: "user"}]
  | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}]
  | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]' \
	"$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
oc --device "$DEV" "$b"
[ "$RC" = 2 ] && grep -q 'host account' <<<"$OUT" && [ "$(stat -c %u "$DEV")" = 0 ]
t_rc "root mapped to host uid 1000: the device is not chowned to it (exit 2)"

# ---------------------------------------------------------------------------
# Real containers: the bundle's denial of mount stays; umount2 reaches notifyd
# ---------------------------------------------------------------------------

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<'EOF'
[profile]
default-action = continue

[fs ext4]
action = kernel
idmap = yes
EOF
ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"
cat >"$ROOTFS/run.sh" <<'EOF'
mvstep mount mount -t ext4 "$1" /mnt/a
mvstep tmpfs mount -t tmpfs none /mnt/b
mvstep umount umount /mnt/c
EOF
for rt in crun runc; do
	id=$MV_IDP-ochost-$rt
	b=$MV_TMP/run-$rt
	spec "$rt" "$b" || { t_fail "$rt spec"; continue; }
	jq --arg root "$ROOTFS" --arg dev "$DEV" '.root = {path: $root, readonly: false}
	  | .process.terminal = false | .process.args = ["sh", "/run.sh", $dev]
	  | .process.capabilities |= with_entries(.value += ["CAP_SYS_ADMIN"])
	  | .mounts |= map(select(.destination != "/sys" and .destination != "/sys/fs/cgroup"))
	  | .linux.namespaces += [{type: "user"}]
	  | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
	  | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
	  | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
	      syscalls: [{names: ["mount"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}' \
		"$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
	oc --socket "$MV_SOCK" --device "$DEV" "$b"
	t_check "$rt: oci-config keeps the bundle's mount denial (exit $RC: $OUT)" \
		grep -q 'kept: linux.seccomp: mount stays SCMP_ACT_ERRNO' <<<"$OUT"
	mv_run "$rt" "$b" "$id" 60
	t_step_errno "$rt: mount -t ext4 gets the bundle's EACCES, not notifyd's kernel mount" "$id" mount EACCES
	t_step_errno "$rt: mount -t tmpfs too" "$id" tmpfs EACCES
	t_decision "$rt: umount2 reaches notifyd (the container is attached)" "$id" "syscall=umount2 "
	if mv_decisions "$id" | grep -q 'syscall=mount '; then
		t_fail "$rt: notifyd never saw a mount of this container" "$(mv_decisions "$id")"
	else
		t_ok "$rt: notifyd never saw a mount of this container"
	fi
done
t_check "notifyd survived" mv_notifyd_alive
t_done
