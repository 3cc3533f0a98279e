#!/bin/bash
# The source of a kernel-action mount shows as the caller gave it (mountinfo,
# findmnt, df), and naming it so never lets the kernel's lookup reach anything
# but the device notifyd checked (docs/security.md "The source string").
#
# notifyd hands the kernel the caller's own source string; the kernel looks it
# up when the superblock is created, in a view of notifyd's helper where that
# path is a bind clone of the checked node.  In crun and runc containers (user
# namespace 0 -> 100000) the container mounts its ext4 device by strings
# chosen to mislead that lookup: with "..", relative to its cwd, through
# symlinks, through a symlinked directory, by a name that is another device
# on the host (a symlink to its own device in the container), and by a path
# too long for fsconfig() (256 bytes or more: the checked fd is the name
# then).  Each must mount the container's device and no other (major:minor
# in mountinfo, content), and every name but the long one shows as given.
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

ROOTFS=$MV_TMP/rootfs
PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-mounts = 64

[fs ext4]
action = kernel
idmap = yes
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
# The host device a misleading name points at: a secret the container must never see.
mkdir -p "$MV_TMP/secret"
echo "host secret" >"$MV_TMP/secret/secret"
mkfs.ext4 -q -F -d "$MV_TMP/secret" "$MV_TMP/other.img" 8M >/dev/null 2>&1 ||
	mv_bail "cannot build the second image"
mv_loop_attach "$MV_TMP/other.img" OTHER || mv_bail "cannot attach a loop device"
chown 0:disk "$OTHER"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

DEVNUM=$(mv_devnum "$DEV")
N=${DEV#/dev/}
LONG=/dev
for ((i = 0; i < 130; i++)); do LONG+=/.; done
LONG+=/$N
MID=/dev
for ((i = 0; i < 100; i++)); do MID+=/.; done
MID+=/$N

cat >"$ROOTFS/source.sh" <<'EOF'
dev=$1 other=$2 long=$3 mid=$4
n=${dev#/dev/}
check() { # check NAME SOURCE : mount SOURCE, show what the container sees, unmount
	mvstep "$1" mount -t ext4 "$2" /mnt/a
	mvstep "$1-mi" sh -c "grep ' /mnt/a ' /proc/self/mountinfo"
	mvstep "$1-fm" /usr/bin/findmnt -n -o SOURCE /mnt/a
	mvstep "$1-df" sh -c 'df -P /mnt/a | tail -n 1'
	mvstep "$1-read" sh -c 'cat /mnt/a/hello.txt /mnt/a/secret 2>/dev/null; true'
	mvstep "$1-umount" umount /mnt/a
}
check plain "$dev"
check dotdot "/../../dev/../dev/./$n"
cd /dev && check relative "$n" && cd /
ln -s "$dev" /tmp/link
check symlink /tmp/link
mkdir -p /tmp/d && ln -s /dev /tmp/d/dev
check symdir "/tmp/d/dev/$n"
# The host's other device's path, here a symlink to the container's own.
rm -f "$other" && ln -s "$dev" "$other"
check hostname "$other"
check mid "$mid"
check long "$long"
EOF

# t_source RT CASE SHOWN : case CASE mounted the container's device, and
# mountinfo, findmnt and df show SHOWN as its source ("" : any name).
t_source() {
	local rt=$1 c=$2 want=$3 id=$4 mi fields src num fm df
	if [ "$(mv_step_rc "$id" "$c")" != 0 ]; then
		t_fail "$rt: $c: the mount works" "$(mv_step_out "$id" "$c")"
		mv_explain "$id"
		return
	fi
	mi=$(mv_step_out "$id" "$c-mi" | tail -n 1)
	num=$(awk '{print $3}' <<<"$mi")
	src=$(sed 's/.* - [^ ]* \([^ ]*\) .*/\1/' <<<"$mi")
	if [ "$num" = "$DEVNUM" ] && ! grep -q "host secret" <<<"$(mv_step_out "$id" "$c-read")"; then
		t_ok "$rt: $c: the container's own device is mounted ($num)"
	else
		t_fail "$rt: $c: the container's own device is mounted" "want $DEVNUM: $mi" \
			"read: $(mv_step_out "$id" "$c-read")"
	fi
	fm=$(mv_step_out "$id" "$c-fm")
	df=$(mv_step_out "$id" "$c-df" | awk '{print $1}')
	if [ -z "$want" ]; then
		t_ok "$rt: $c: shown as $src (fsconfig() takes no longer string)"
	elif [ "$src" = "$want" ] && [ "$fm" = "$want" ] && [ "$df" = "$want" ]; then
		t_ok "$rt: $c: mountinfo, findmnt and df show the source as given ($want)"
	else
		t_fail "$rt: $c: mountinfo, findmnt and df show the source as given ($want)" \
			"mountinfo: $mi" "findmnt: $fm" "df: $df"
	fi
	t_step_ok "$rt: $c: and unmounts" "$id" "$c-umount"
}

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	id=$MV_IDP-$RT-source
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /source.sh "$DEV" "$OTHER" "$LONG" "$MID"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90 || t_fail "$RT: source-name container exits 0" "exit $?"
	t_source "$RT" plain "$DEV" "$id"
	t_source "$RT" dotdot "/../../dev/../dev/./$N" "$id"
	t_source "$RT" relative "$N" "$id"
	t_source "$RT" symlink /tmp/link "$id"
	t_source "$RT" symdir "/tmp/d/dev/$N" "$id"
	t_source "$RT" hostname "$OTHER" "$id"
	t_source "$RT" mid "$MID" "$id"
	t_source "$RT" long "" "$id"
	if grep -q "^$OTHER " /proc/self/mountinfo || findmnt -n -S "$OTHER" >/dev/null 2>&1; then
		t_fail "$RT: the host's other device was never mounted" "$(findmnt -S "$OTHER")"
	else
		t_ok "$RT: the host's other device was never mounted"
	fi
done
