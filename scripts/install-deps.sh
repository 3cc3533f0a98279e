#!/bin/bash
# Installs the Debian packages mountvisor needs to build, lint and test.
# Idempotent: asks dpkg-query which are missing and runs apt-get only for those.
# Never uses sudo; as non-root it fails with the list of what is missing.
set -u

# One package a line.  Unusual entries say why they are here.
PACKAGES=(
	build-essential
	pkg-config
	libseccomp-dev
	libmount-dev
	libfuse3-dev
	fuse3           # fusermount3 and /etc/fuse.conf for the fuse action
	libcap-ng-dev
	libjson-c-dev
	libinih-dev
	libsystemd-dev  # sd_notify fd store, sd_listen_fds_with_names (notifyd restart survival; tests/helpers/fdstore_child)
	crun            # OCI runtime the integration tests drive (listenerPath)
	runc            # second OCI runtime, same tests
	e2fsprogs       # mkfs.ext4 -d and debugfs: ext4 images for the kernel action
	busybox-static  # the only binary in test containers' root file systems
	uidmap          # newuidmap/newgidmap for rootless setups
	jq              # builds and edits OCI config.json in tests/lib.sh
	util-linux      # unshare, losetup, setpriv --pdeathsig, mount
	clang-format    # make lint
	cppcheck        # make lint
	clang           # make fuzz and tests/security/vfsd_fuzz.sh: libFuzzer targets (tests/fuzz/)
	libclang-rt-14-dev # libFuzzer and the sanitizer runtimes for clang 14
	iproute2
	procps          # pgrep/ps in tests
	psmisc          # fuser, pstree when a test needs to look at processes
	python3         # stand-in seccomp listener for the harness self-test
	coreutils       # timeout, stat
	qemu-system-x86 # vfsd VM tests (TCG guest) and QEMU's C virtiofsd, the bench anchor
	bc              # guest run times in tests/vm/run-vfsd-vm.sh
	cpio            # packs the VM test's initramfs
	file            # tells a static busybox from a dynamic one
	fuse2fs         # fuse action: ext4/ext3/ext2 served in user space (profiles/default.conf)
	squashfuse      # fuse action: squashfs served in user space
	fuse-overlayfs  # fuse action: overlay for containers without kernel overlay rights
	squashfs-tools  # mksquashfs: squashfs images for tests/integration/fuse_oci.sh
	btrfs-progs     # mkfs.btrfs: a two-device btrfs in tests/security/notifyd_devices.sh
	fio             # make bench: vfsd vs virtiofsd I/O figures (bench/vfsd.sh)
	strace          # make bench: back-end syscalls per operation (bench/vfsd_syscalls.sh)
	systemd-container # systemd-nspawn: boots systemd 252 for tests/integration/notifyd_systemd.sh
	lxc             # LXC 5.0.2 for tests/integration/lxc.sh (lxc-create -t busybox, lxc-attach)
	yamllint        # tests/integration/k8s_manifests.sh: deploy/kubernetes/*.yaml
	python3-kubernetes # tests/helpers/k8s_validate.py: the manifests against the API's typed models
	python3-yaml    # tests/helpers/k8s_validate.py and k8s_manifests.sh read the manifests
	podman          # podman 4.3 (with crun, conmon) for tests/integration/podman.sh; the test uses --network none, so no slirp4netns/catatonit
	golang-github-containers-common # /usr/share/containers/seccomp.json: podman's default policy, the base of profiles/seccomp/podman.json (scripts/gen-podman-seccomp.sh)
	containerd      # containerd 1.6 and ctr for tests/integration/containerd.sh (runc as its runtime)
	debhelper       # make deb: dh, compat 13 (debian/, docs/packaging.md; tests/integration/deb.sh)
	dpkg-dev        # make deb: dpkg-buildpackage, dpkg-genchanges
	lintian         # make deb: the package is checked with lintian
	libmicrohttpd-dev # notifyd --metrics: the Prometheus listener (notifyd/metrics.c)
	python3-prometheus-client # tests/integration/notifyd_metrics.sh: strict parse of /metrics
	curl            # tests/integration/notifyd_metrics.sh, notifyd_metrics_hostile.sh: scrape /metrics
	libnl-3-dev     # notifyd/uevent.c: uevents for a container's loop devices, sent in its network namespace
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "install-deps: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; install them as root with:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

if ! apt-get update; then
	echo "install-deps: apt-get update failed" >&2
	exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
	echo "install-deps: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installed ${missing[*]}" >&2
