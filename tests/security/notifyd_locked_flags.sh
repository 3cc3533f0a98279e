#!/bin/bash
# notifyd's mounts keep nosuid,nodev (and ro when asked) for their whole life
# (docs/security.md "Locked mount flags").
#
# In crun and runc containers (user namespace 0 -> 100000) notifyd mounts an
# ext4 image with the kernel action at /mnt/a (rw) and /mnt/c (ro).  The
# image was made by "the container": it holds a block device node with the
# major:minor of a host loop device whose content is a secret, and a setuid
# root program.  The container then tries every way of clearing the flags:
# remount with and without MS_BIND, bind copies and rbind copies remounted,
# --make-private, mount_setattr on the mount and on open_tree clones, fspick
# reconfigure, remount,rw on the ro mount (the new-mount-API calls are not
# trapped, or are continued: the kernel's lock refuses them, never ENOSYS);
# and a mount notifyd hands out through the new mount API, attached by a
# path the rules do not trap (move_mount(FD, ".", ...), MS_MOVE of
# /proc/self/fd/FD), is locked all the same.  Each must fail or leave the flags
# set: mountinfo still shows them, the device node cannot be opened (the
# secret is never read), the setuid program does not gain privileges, and the
# ro mount stays read-only.  A FUSE-action mount of the same image is the
# control for the other mechanism: the container may remount it dev (it is
# its own mount), yet the node still cannot be opened (SB_I_NODEV of a
# superblock owned by the container's user namespace).
#
#   RUNTIMES="crun runc" to run a subset.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

HELPER=$MV_BUILD/tests/helpers/locked_flags
[ -x "$HELPER" ] || mv_bail "$HELPER not built (make all)"
FUSE2FS=$(command -v fuse2fs) || FUSE2FS=

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
allowed-options = ro,noatime

[fs tmpfs]
action = continue
EOF
cat >"$PROFILES/fuse.conf" <<EOF
[profile]
default-action = deny

# (without fuse2fs on the host: a container: path, not checked at load; the fuse cases skip)
[fs ext4]
action = fuse
program = ${FUSE2FS:-container:/usr/sbin/fuse2fs}
arguments = {source} {mountpoint} -f -o auto_unmount {options}
allowed-options = ro

[fs tmpfs]
action = continue
EOF

mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
cp "$HELPER" "$ROOTFS/bin/locked_flags"
mkdir -p "$ROOTFS/mnt/b2" "$ROOTFS/mnt/d" "$ROOTFS/mnt/e" "$ROOTFS/mnt/f" "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown -R 100000:100000 "$ROOTFS/bin/locked_flags" "$ROOTFS/mnt" "$ROOTFS/usr" "$ROOTFS/lib" \
	"$ROOTFS/lib64"

# The secret: a host loop device no container is given.
SECRET="mv-secret-$$-$RANDOM"
for _ in $(seq 64); do echo "$SECRET"; done >"$MV_TMP/secret.img"
truncate -s 1M "$MV_TMP/secret.img"
mv_loop_attach "$MV_TMP/secret.img" SECRET_DEV || mv_bail "cannot attach the secret loop device"
chown 0:0 "$SECRET_DEV"
chmod 0600 "$SECRET_DEV"
read -r SMAJ SMIN < <(stat -c '%t %T' "$SECRET_DEV")
SMAJ=$((16#$SMAJ)) SMIN=$((16#$SMIN))

# The container's image: a node for the secret device (0666, so only nodev
# stands between the container and the secret) and a setuid-root program.
mk_hostile_ext4() {
	local img=$1 src
	src=$(mktemp -d "$MV_TMP/hostile.XXXXXX") || return 1
	mknod -m 0666 "$src/secretdev" b "$SMAJ" "$SMIN" || return 1
	cp "$HELPER" "$src/suidprobe" && chown 0:0 "$src/suidprobe" && chmod 4755 "$src/suidprobe"
	echo "hello" >"$src/hello.txt"
	mkfs.ext4 -q -F -d "$src" "$img" 16M >"$MV_TMP/mkfs.log" 2>&1 || return 1
	rm -rf "$src"
}
mk_hostile_ext4 "$MV_TMP/a.img" || mv_bail "cannot build the image: $(cat "$MV_TMP/mkfs.log")"
mk_hostile_ext4 "$MV_TMP/c.img" || mv_bail "cannot build the image"
mk_hostile_ext4 "$MV_TMP/f.img" || mv_bail "cannot build the image"
mv_loop_attach "$MV_TMP/a.img" DEV_A || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/c.img" DEV_C || mv_bail "cannot attach a loop device"
mv_loop_attach "$MV_TMP/f.img" DEV_F || mv_bail "cannot attach a loop device"

# Check on the host that the image really is what the test claims.
if debugfs -R "stat /secretdev" "$MV_TMP/a.img" 2>/dev/null | grep -q "Type: block special"; then
	t_ok "the container's image holds a block device node for the secret loop device"
else
	t_fail "the container's image holds a block device node for the secret loop device"
fi

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

cat >"$ROOTFS/locked.sh" <<'EOF'
a=$1 c=$2
mvstep mount mount -t ext4 "$a" /mnt/a
mvstep mountro mount -t ext4 -o ro "$c" /mnt/c
mvstep before grep -E ' /mnt/(a|c) ' /proc/self/mountinfo
mvstep remount_bind_devsuid mount -o remount,bind,dev,suid /mnt/a
mvstep remount_dev mount -o remount,dev,suid /mnt/a
mvstep setattr locked_flags setattr /mnt/a
mvstep clone_setattr locked_flags clone-setattr /mnt/a /mnt/b2
mvstep rclone_setattr locked_flags rclone-setattr /mnt/a
mvstep fspick locked_flags fspick /mnt/a
mvstep private mount --make-private /mnt/a
mvstep private_remount mount -o remount,bind,dev,suid /mnt/a
mvstep bind mount --bind /mnt/a /mnt/b
mvstep bind_remount mount -o remount,bind,dev,suid /mnt/b
mvstep bind_setattr locked_flags setattr /mnt/b
mvstep rbind mount --rbind /mnt /tmp
mvstep rbind_remount mount -o remount,bind,dev,suid /tmp/a
mvstep ro_remount_bind mount -o remount,bind,rw /mnt/c
mvstep ro_remount mount -o remount,rw /mnt/c
mvstep ro_setattr locked_flags setattr /mnt/c
mvstep ro_clone locked_flags clone-setattr /mnt/c
mvstep ro_fspick locked_flags fspick /mnt/c
mvstep bypass_dot mount_race attach-by-path "$a" /mnt/d dot
mvstep bypass_proc mount_race attach-by-path "$a" /mnt/e procfd
mvstep bypass_setattr locked_flags setattr /mnt/d
mvstep bypass_flags_d locked_flags flags /mnt/d
mvstep bypass_flags_e locked_flags flags /mnt/e
mvstep bypass_dev locked_flags opendev /mnt/d/secretdev
mvstep after grep -E ' /(mnt|tmp)/(a|b|b2|c) ' /proc/self/mountinfo
mvstep flags_a locked_flags flags /mnt/a
mvstep flags_b locked_flags flags /mnt/b
mvstep flags_rb locked_flags flags /tmp/a
mvstep flags_c locked_flags flags /mnt/c
mvstep dev_a locked_flags opendev /mnt/a/secretdev
mvstep dev_b locked_flags opendev /mnt/b/secretdev
mvstep dev_rb locked_flags opendev /tmp/a/secretdev
mvstep dev_c locked_flags opendev /mnt/c/secretdev
mvstep suid locked_flags runas 1000 /mnt/a/suidprobe euid
mvstep suid_b locked_flags runas 1000 /mnt/b/suidprobe euid
mvstep write_c sh -c 'echo x > /mnt/c/new-file'
mvstep umount_b umount /mnt/b
mvstep umount_a umount /mnt/a
EOF

cat >"$ROOTFS/fuse.sh" <<'EOF'
f=$1
mvstep mount mount -t ext4 "$f" /mnt/f
mvstep remount mount -o remount,bind,dev /mnt/f
mvstep info grep ' /mnt/f ' /proc/self/mountinfo
mvstep dev locked_flags opendev /mnt/f/secretdev
mvstep suid locked_flags runas 1000 /mnt/f/suidprobe euid
mvstep umount umount /mnt/f
EOF

# no_secret ID STEP : the step's output never shows the secret.
no_secret() {
	if grep -q -- "$SECRET" "$(mv_out "$1")"; then
		t_fail "$RT: $2: the secret was never read" "$(mv_step_out "$1" "$2")"
	else
		t_ok "$RT: $2: the secret was never read"
	fi
}

# expect_refused ID STEP DESC : the step failed (any errno the kernel gives).
expect_refused() {
	local rc
	rc=$(mv_step_rc "$1" "$2")
	if [ "$rc" != 0 ] && [ "$rc" != missing ]; then
		t_ok "$RT: $3 is refused ($(mv_step_out "$1" "$2" | tail -n1))"
	else
		t_fail "$RT: $3 is refused" "step $2: rc=$rc" "$(mv_step_out "$1" "$2")"
	fi
}

# expect_flags ID STEP WANT : statvfs flags of a step (e.g. "nodev=1 nosuid=1").
expect_flags() {
	local out
	out=$(mv_step_out "$1" "$2")
	local w ok=1
	for w in $3; do
		[[ " $out " == *" $w "* ]] || ok=0
	done
	if [ "$ok" = 1 ]; then
		t_ok "$RT: $2: still $3"
	else
		t_fail "$RT: $2: still $3" "$out"
	fi
}

# expect_kernel_refused ID STEP DESC : as expect_refused, and the errno is the
# kernel's, not ENOSYS: the call reached the kernel (untrapped, or trapped and
# continued because the fd is not one of notifyd's context handles) and the
# lock refused it.
expect_kernel_refused() {
	local rc out
	rc=$(mv_step_rc "$1" "$2")
	out=$(mv_step_out "$1" "$2")
	if [ "$rc" != 0 ] && [ "$rc" != missing ] && ! grep -q 'errno=ENOSYS' <<<"$out"; then
		t_ok "$RT: $3 is refused by the kernel ($(tail -n1 <<<"$out"))"
	else
		t_fail "$RT: $3 is refused by the kernel" "step $2: rc=$rc" "$out"
	fi
}

# test_locked VARIANT : "shipped" uses profiles/seccomp/oci-seccomp.json:
# fspick and open_tree are not trapped, the fsconfig on fspick's fd and a
# mount_setattr(AT_EMPTY_PATH) are trapped and continued (not notifyd's
# handles), so only the kernel's locks stand in the way
# (docs/seccomp-rules.md).
# "rawapi" traps only mount(2) (every call, also remounts and binds) and
# umount2; nothing of the new mount API reaches notifyd.
test_locked() {
	local variant=$1 id=$MV_IDP-$RT-locked-$1 line opts sc=()
	if [ "$variant" = rawapi ]; then
		jq '.syscalls = [{names: ["mount", "umount2"], action: "SCMP_ACT_NOTIFY"}]' \
			"$MV_SRC/profiles/seccomp/oci-seccomp.json" >"$MV_TMP/seccomp-rawapi.json"
		sc=(--seccomp "$MV_TMP/seccomp-rawapi.json")
	fi
	local RT="$RT/$variant"
	mv_oci_bundle "${sc[@]}" "$MV_TMP/$id" "$ROOTFS" sh /locked.sh "$DEV_A" "$DEV_C" ||
		mv_bail "cannot write the bundle"
	# The setuid check needs a process that may gain privileges at all.
	jq '.process.noNewPrivileges = false' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" &&
		mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_A" "$DEV_C"
	mv_run "${RT%/*}" "$MV_TMP/$id" "$id" 90 ||
		t_fail "$RT: container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"

	t_step_ok "$RT: kernel-action mount at /mnt/a" "$id" mount
	t_step_ok "$RT: kernel-action mount -o ro at /mnt/c" "$id" mountro
	t_decision "$RT: the decision line says the mount is locked" "$id" \
		"syscall=mount " "target=/mnt/a " "action=kernel " "result=ok" "locked"
	expect_refused "$id" remount_bind_devsuid "mount -o remount,bind,dev,suid"
	expect_refused "$id" remount_dev "mount -o remount,dev,suid (no bind)"
	expect_kernel_refused "$id" setattr "mount_setattr clearing nodev,nosuid,rdonly"
	expect_kernel_refused "$id" clone_setattr "mount_setattr on an open_tree clone"
	expect_kernel_refused "$id" rclone_setattr "recursive mount_setattr on a recursive clone"
	expect_kernel_refused "$id" fspick "fspick + fsconfig reconfigure"
	t_step_ok "$RT: mount --make-private works (propagation is not a lock)" "$id" private
	expect_refused "$id" private_remount "remount,bind,dev,suid after --make-private"
	t_step_ok "$RT: a bind copy can be made" "$id" bind
	expect_refused "$id" bind_remount "remount,bind,dev,suid of a bind copy"
	expect_kernel_refused "$id" bind_setattr "mount_setattr on a bind copy"
	t_step_ok "$RT: an rbind copy can be made" "$id" rbind
	expect_refused "$id" rbind_remount "remount,bind,dev,suid of an rbind copy"
	expect_refused "$id" ro_remount_bind "remount,bind,rw of the ro mount"
	expect_refused "$id" ro_remount "remount,rw of the ro mount"
	expect_kernel_refused "$id" ro_setattr "mount_setattr clearing rdonly"
	expect_kernel_refused "$id" ro_clone "mount_setattr clearing rdonly on a clone"
	expect_kernel_refused "$id" ro_fspick "fspick reconfigure rw of the ro mount"

	# mountinfo: every copy still nosuid,nodev; the ro one still ro.
	local bad=
	while read -r line; do
		opts=$(awk '{print $6}' <<<"$line")
		[[ ,$opts, == *,nosuid,* && ,$opts, == *,nodev,* ]] || bad+="$line"$'\n'
		if [[ $line == *" /mnt/c "* ]] && [[ ,$opts, != *,ro,* ]]; then
			bad+="(not ro) $line"$'\n'
		fi
	done < <(mv_step_out "$id" after | grep ' /')
	if [ -z "$bad" ] && [ "$(mv_step_out "$id" after | grep -c ' /')" -ge 4 ]; then
		t_ok "$RT: mountinfo: every notifyd mount and copy is still nosuid,nodev (and ro)"
	else
		t_fail "$RT: mountinfo: every notifyd mount and copy is still nosuid,nodev (and ro)" \
			"${bad:-fewer mounts than expected}" "$(mv_step_out "$id" after)"
	fi
	expect_flags "$id" flags_a "nodev=1 nosuid=1"
	expect_flags "$id" flags_b "nodev=1 nosuid=1"
	expect_flags "$id" flags_rb "nodev=1 nosuid=1"
	expect_flags "$id" flags_c "nodev=1 nosuid=1 rdonly=1"
	local s
	for s in dev_a dev_b dev_rb dev_c; do
		t_step_errno "$RT: $s: the image's device node cannot be opened" "$id" "$s" "EACCES|EPERM"
	done
	no_secret "$id" "all steps"
	if [ "$(mv_step_out "$id" suid)" = "euid=1000" ] && [ "$(mv_step_out "$id" suid_b)" = "euid=1000" ]; then
		t_ok "$RT: the image's setuid-root program runs without privileges (euid 1000)"
	else
		t_fail "$RT: the image's setuid-root program runs without privileges (euid 1000)" \
			"$(mv_step_out "$id" suid)" "$(mv_step_out "$id" suid_b)"
	fi
	t_step_errno "$RT: the ro mount stays read-only" "$id" write_c "EROFS"
	# notifyd's new-API mount fd attached by a path, which the shipped rules
	# do not trap (docs/seccomp-rules.md): whatever notifyd records, the
	# mount must already be locked when the container gets its fd.
	if [ "$variant" = shipped ]; then
		local step
		for step in bypass_dot bypass_proc; do
			if [ "$(mv_step_out "$id" "$step")" = "attach errno=0" ]; then
				t_ok "$RT: $step: notifyd's mount fd attached by path, untrapped (docs/seccomp-rules.md)"
			else
				t_fail "$RT: $step: notifyd's mount fd attached by path" \
					"$(mv_step_out "$id" "$step")" "(if notifyd now refuses this, update this check and docs/seccomp-rules.md)"
			fi
		done
		expect_kernel_refused "$id" bypass_setattr "mount_setattr on the mount attached by path"
		expect_flags "$id" bypass_flags_d "nodev=1 nosuid=1"
		expect_flags "$id" bypass_flags_e "nodev=1 nosuid=1"
		t_step_errno "$RT: bypass_dev: the image's device node cannot be opened there" "$id" bypass_dev \
			"EACCES|EPERM"
	fi
	t_step_ok "$RT: the bind copy can be unmounted" "$id" umount_b
	t_step_ok "$RT: the locked notifyd mount can still be unmounted" "$id" umount_a
}

test_fuse() {
	local id=$MV_IDP-$RT-fuse
	if [ -z "$FUSE2FS" ]; then
		t_skip "$RT: FUSE mounts: remount,dev still opens no device" "fuse2fs not installed"
		return
	fi
	mv_oci_bundle --profile fuse "$MV_TMP/$id" "$ROOTFS" sh /fuse.sh "$DEV_F" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	jq '.process.noNewPrivileges = false' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" &&
		mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_bundle_devices "$MV_TMP/$id" "$DEV_F"
	mv_run "$RT" "$MV_TMP/$id" "$id" 90 ||
		t_fail "$RT: FUSE container exits 0" "exit $?" "$(cat "$(mv_out "$id")")"
	t_step_ok "$RT: fuse-action mount at /mnt/f" "$id" mount
	t_step_ok "$RT: the container may remount its FUSE mount dev" "$id" remount
	t_step_errno "$RT: FUSE mount: the image's device node still cannot be opened" "$id" dev \
		"EACCES|EPERM"
	no_secret "$id" "FUSE steps"
	local e
	e=$(mv_step_out "$id" suid)
	if [ "$e" = "euid=1000" ] || [ "$e" = "euid=0" ]; then
		# euid 0 here is the container's own root (ids mapped in its user
		# namespace): the FUSE superblock belongs to it.
		t_ok "$RT: FUSE mount: a setuid program gains at most the container's own ids ($e)"
	else
		t_fail "$RT: FUSE mount: a setuid program gains at most the container's own ids" "$e"
	fi
	t_step_ok "$RT: FUSE mount unmounts" "$id" umount
}

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	test_locked shipped
	test_locked rawapi
	test_fuse
done
