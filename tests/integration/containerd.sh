#!/bin/bash
# containerd 1.6 (Debian 12) as a real daemon on a private socket, root and
# state dir, runc as its runtime, with an image imported offline (an OCI
# image layout this test builds by hand from scripts/mkimage.sh's root file
# system): `ctr run --seccomp --seccomp-profile FILE` takes an OCI seccomp
# object as it is, listenerPath and listenerMetadata included, so
# profiles/seccomp/oci-seccomp.json (listenerPath pointed at the test's
# notifyd) makes notifyd the container's mount supervisor:
#   - `mount -t ext4` of a block device given with --device is served by
#     fuse2fs (the shipped default profile), read and unmounted;
#   - a denied type (xfs) gets EPERM, and notifyd's decision line says so;
#   - listenerMetadata profile=NAME picks another profile.
# containerd's shim sockets, FIFOs and runc state go under /run/containerd,
# which gets a private tmpfs in this test's mount namespace.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

for p in containerd ctr containerd-shim-runc-v2; do
	if ! command -v "$p" >/dev/null; then
		echo "# $p not installed (scripts/install-deps.sh installs containerd)"
		exit 77
	fi
done
command -v runc >/dev/null || mv_bail "runc not installed (containerd's runtime)"
command -v fuse2fs >/dev/null || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"

CT=$MV_TMP/containerd
mkdir -p "$CT/root" "$CT/state"
if [ ! -d /run/containerd ]; then
	mkdir -p /run/containerd || mv_bail "cannot create /run/containerd"
	defer "rmdir /run/containerd"
fi
mount -t tmpfs -o mode=0711,size=64m mvcontainerd /run/containerd ||
	mv_bail "cannot mount a private /run/containerd"
defer "umount -l /run/containerd"

SOCK=$CT/containerd.sock
cat >"$CT/config.toml" <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
# Nothing here needs Kubernetes' CRI or the snapshotters of other file systems.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$CT/containerd.ttrpc.sock"

[debug]
  address = "$CT/debug.sock"
  level = "info"

[plugins."io.containerd.runtime.v2.task"]
  platforms = ["linux/amd64"]
EOF

CTRD_PID=
stop_containerd() {
	local i
	[ -n "$CTRD_PID" ] || return 0
	kill -TERM "$CTRD_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CTRD_PID" 2>/dev/null
	wait "$CTRD_PID" 2>/dev/null
	CTRD_PID=
}
setpriv --pdeathsig TERM -- containerd --config "$CT/config.toml" \
	</dev/null >"$CT/containerd.log" 2>&1 &
CTRD_PID=$!
defer stop_containerd

ctr_() { timeout -k 5 120 ctr --address "$SOCK" --namespace mvtest "$@"; }
# Tasks and containers first (their shims), then the daemon.
ctr_cleanup() {
	local c
	for c in $(ctr_ tasks ls -q 2>/dev/null); do
		ctr_ tasks kill -s SIGKILL "$c" >/dev/null 2>&1
		ctr_ tasks delete -f "$c" >/dev/null 2>&1
	done
	for c in $(ctr_ containers ls -q 2>/dev/null); do
		ctr_ containers delete "$c" >/dev/null 2>&1
	done
	return 0
}
defer ctr_cleanup

for ((i = 0; i < 100; i++)); do
	ctr --address "$SOCK" version >/dev/null 2>&1 && break
	kill -0 "$CTRD_PID" 2>/dev/null || break
	sleep 0.1
done
if ! ctr --address "$SOCK" version >/dev/null 2>&1; then
	mv_bail "containerd did not start: $(tail -n 20 "$CT/containerd.log")"
fi
t_ok "containerd $(containerd --version | awk '{print $3}') runs on a private socket and root"

# --- an OCI image layout, made offline --------------------------------------
IMAGE=localhost/mountvisor-containerd-test:latest
OCI=$CT/oci
mkdir -p "$OCI/blobs/sha256"
"$MV_SRC/scripts/mkimage.sh" "$CT/layer.tar" || mv_bail "scripts/mkimage.sh failed"
# blob FILE : move FILE into the layout, print its digest hex.
blob() {
	local h
	h=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$OCI/blobs/sha256/$h"
	echo "$h"
}
gzip -n -c "$CT/layer.tar" >"$CT/layer.tar.gz"
diffid=$(sha256sum "$CT/layer.tar" | cut -d' ' -f1)
lsize=$(stat -c %s "$CT/layer.tar.gz")
layer=$(blob "$CT/layer.tar.gz")
jq -n --arg d "sha256:$diffid" '{architecture: "amd64", os: "linux",
	config: {Env: ["PATH=/usr/sbin:/usr/bin:/bin"], Cmd: ["/bin/sh"]},
	rootfs: {type: "layers", diff_ids: [$d]}}' >"$CT/config.json"
csize=$(stat -c %s "$CT/config.json")
config=$(blob "$CT/config.json")
jq -n --arg c "sha256:$config" --argjson cs "$csize" --arg l "sha256:$layer" --argjson ls "$lsize" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' \
	>"$CT/manifest.json"
msize=$(stat -c %s "$CT/manifest.json")
manifest=$(blob "$CT/manifest.json")
jq -n --arg m "sha256:$manifest" --argjson ms "$msize" --arg name "$IMAGE" \
	'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
	digest: $m, size: $ms, platform: {architecture: "amd64", os: "linux"},
	annotations: {"io.containerd.image.name": $name, "org.opencontainers.image.ref.name": "latest"}}]}' \
	>"$OCI/index.json"
echo '{"imageLayoutVersion": "1.0.0"}' >"$OCI/oci-layout"
tar -C "$OCI" -cf "$CT/image.tar" oci-layout index.json blobs
if out=$(ctr_ images import --snapshotter native "$CT/image.tar" 2>&1) &&
	ctr_ images ls -q | grep -qxF "$IMAGE"; then
	t_ok "ctr images import of the OCI archive built offline"
else
	mv_bail "ctr images import failed: $out $(ctr_ images ls 2>&1)"
fi

# --- notifyd and the seccomp profile -----------------------------------------
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cp "$MV_SRC/profiles/default.conf" "$PROFILES/"
cat >"$PROFILES/strict.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = deny
errno = ENODEV
EOF
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

# seccomp_file PROFILE : the OCI rules with this notifyd's socket and PROFILE.
seccomp_file() {
	jq --arg s "$MV_SOCK" --arg m "profile=$1" '.listenerPath = $s | .listenerMetadata = $m' \
		"$MV_SRC/profiles/seccomp/oci-seccomp.json" >"$CT/seccomp-$1.json"
	echo "$CT/seccomp-$1.json"
}

mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"

STEPS=$MV_TMP/steps
mkdir -p "$STEPS"
mv_write_mvstep "$STEPS/mvstep"
cat >"$STEPS/run.sh" <<'EOF'
s=/steps/mvstep
dev=$1
$s ext4 busybox mount -t ext4 "$dev" /mnt/a
$s read cat /mnt/a/hello.txt
$s mountinfo grep ' /mnt/a ' /proc/self/mountinfo
$s umount busybox umount /mnt/a
$s xfs busybox mount -t xfs "$dev" /mnt/a
$s tmpfs busybox mount -t tmpfs -o size=1m mvtmp /mnt/b
EOF
chmod 0755 "$STEPS" "$STEPS/mvstep" "$STEPS/run.sh"

# ctr_run ID PROFILE : run the steps in a container, output in $(mv_out ID).
# --cpu-shares 0: ctr asks for cpu shares by default, and the cgroup2 lib.sh
# mounts on these hybrid-cgroup hosts has no cpu controller (a plain
# cgroup2 host needs no such flag).
ctr_run() {
	ctr_ run --rm --snapshotter native \
		--uidmap 0:100000:65536 --gidmap 0:100000:65536 \
		--cap-add CAP_SYS_ADMIN --cpu-shares 0 \
		--seccomp --seccomp-profile "$(seccomp_file "$2")" \
		--device "$DEV" \
		--mount "type=bind,src=$STEPS,dst=/steps,options=rbind:ro" \
		"$IMAGE" "$1" sh /steps/run.sh "$DEV" </dev/null >"$(mv_out "$1")" 2>&1
}

ID=ctrd-default
ctr_run "$ID" default
rc=$?
t_check "ctr run --seccomp-profile oci-seccomp.json exits 0" [ "$rc" = 0 ]
t_step_ok "containerd: mount -t ext4 of the given block device" "$ID" ext4
t_decision "containerd: notifyd decided it: action=fuse program=fuse2fs" "$ID" \
	'syscall=mount ' 'type=ext4 ' 'action=fuse ' 'result=ok' 'program=fuse2fs'
t_check "containerd: file read through fuse2fs" [ "$(mv_step_out "$ID" read)" = "hello from ext4" ]
t_check "containerd: mountinfo shows fuse.fuse2fs with nosuid,nodev" \
	grep -qE 'nosuid,nodev.* - fuse\.fuse2fs ' <<<"$(mv_step_out "$ID" mountinfo)"
t_step_ok "containerd: umount" "$ID" umount
t_step_errno "containerd: mount -t xfs is denied with EPERM" "$ID" xfs EPERM
t_decision "containerd: decision line for xfs (action=deny result=EPERM)" "$ID" \
	'syscall=mount ' 'type=xfs ' 'action=deny ' 'result=EPERM'
t_step_ok "containerd: tmpfs mounts (continue)" "$ID" tmpfs

ID=ctrd-strict
ctr_run "$ID" strict
t_step_errno "containerd: listenerMetadata profile=strict picks strict.conf (ENODEV)" "$ID" ext4 ENODEV
t_decision "containerd: decision line for profile strict (result=ENODEV)" "$ID" \
	'syscall=mount ' 'action=deny ' 'result=ENODEV'

# --- nothing left behind ------------------------------------------------------
for ((i = 0; i < 50; i++)); do
	[ -z "$(pgrep -f 'fuse2fs /proc/self/fd/3')" ] && break
	sleep 0.1
done
t_check "containerd: no fuse2fs left" [ -z "$(pgrep -f 'fuse2fs /proc/self/fd/3')" ]
t_check "containerd: --rm removed the containers" [ -z "$(ctr_ containers ls -q)" ]
t_check "notifyd alive" mv_notifyd_alive
t_done
