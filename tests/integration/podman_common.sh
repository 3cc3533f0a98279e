# shellcheck shell=bash
# Shared by tests/integration/podman.sh and tests/security/podman_seccomp.sh:
# rootful podman with everything it keeps in private places, and the test
# image imported.
#
# podman's storage, run dir, locks and events live in the test's tmpfs
# (containers.conf and storage.conf there; a private /dev/shm for libpod's
# lock, a private /var/lib/containers for the blob cache), so the machine's
# own podman state is never touched.  Gives pm (podman with a timeout),
# IMAGE, and podman_steps DIR (a /steps/mvstep for scripts run in a
# container).
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

if ! command -v podman >/dev/null; then
	echo "# podman not installed (scripts/install-deps.sh installs it)"
	exit 77
fi
command -v crun >/dev/null || mv_bail "crun not installed (podman's runtime here)"
command -v fuse2fs >/dev/null || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
[ -x "$MV_BUILD/fuse-shim/fusermount" ] || mv_bail "$MV_BUILD/fuse-shim/fusermount not built"

PM=$MV_TMP/podman
mkdir -p "$PM"
# private_dir DIR : a tmpfs on DIR in this test's mount namespace (DIR made,
# and removed at the end, if the host has none).
private_dir() {
	if [ ! -d "$1" ]; then
		mkdir -p "$1" || return 1
		defer "rmdir '$1'"
	fi
	mount -t tmpfs -o mode=0700,size=64m mvpodman "$1" || return 1
	defer "umount -l '$1'"
}
# libpod keeps its lock in /dev/shm/libpod_lock, and podman import its blob
# cache in /var/lib/containers/cache whatever storage.conf says: private
# ones here.
if ! private_dir /dev/shm || ! chmod 1777 /dev/shm; then
	mv_bail "cannot mount a private /dev/shm"
fi
private_dir /var/lib/containers || mv_bail "cannot mount a private /var/lib/containers"
cat >"$PM/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$PM/storage"
runroot = "$PM/run"
EOF
# nofile/nproc: podman asks for more than this host lets a process without
# CAP_SYS_RESOURCE set; pids_limit = 0: the cgroup2 lib.sh mounts here has
# no pids controller (hybrid host).  None of this is needed on a plain host.
cat >"$PM/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
pids_limit = 0

[engine]
runtime = "crun"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PM/events.log"
tmp_dir = "$PM/libpod"
volume_path = "$PM/volumes"
static_dir = "$PM/storage/libpod"
EOF
export CONTAINERS_STORAGE_CONF=$PM/storage.conf CONTAINERS_CONF=$PM/containers.conf

pm() { timeout -k 5 120 podman "$@"; }
pm_cleanup() {
	local f
	pm rm -af -t 0 >/dev/null 2>&1
	# A conmon that outlived its container (by the pid podman recorded).
	for f in "$PM"/storage/vfs-containers/*/userdata/conmon.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	pm rmi -af >/dev/null 2>&1
	return 0
}
defer pm_cleanup

IMAGE=localhost/mountvisor-podman-test:latest
"$MV_SRC/scripts/mkimage.sh" "$PM/image.tar" || mv_bail "scripts/mkimage.sh failed"
if ! out=$(pm import "$PM/image.tar" "$IMAGE" 2>&1); then
	mv_bail "podman import failed: $out"
fi
t_ok "podman import of the image scripts/mkimage.sh built offline"

# podman_steps DIR : DIR/mvstep, which brackets a command's output for
# mv_step_rc / mv_step_out (bind DIR at /steps).
podman_steps() {
	mkdir -p "$1"
	mv_write_mvstep "$1/mvstep"
	chmod 0755 "$1"
}
