#!/bin/bash
# make demo: notifyd on the shipped profiles, real runc containers in their
# own user namespace trying the mounts a user would; prints each request and
# notifyd's decision, then tears everything down.
BUILD=${1:-build}
export MV_BUILD=${MV_BUILD:-$(cd "$BUILD" && pwd)}
export MV_SRC=${MV_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
# The profiles notifyd reads: the tree's, or MV_DEMO_PROFILES (the package
# test runs the demo on an installed package's /etc/mountvisor/profiles).
MV_DEMO_PROFILES=${MV_DEMO_PROFILES:-$MV_SRC/profiles}
. "$MV_SRC/tests/lib.sh"
# The test library's closing tally ("# 0 ok, ...") means nothing here.
MV_T_DONE=1

mv_make_rootfs "$MV_TMP/rootfs" || mv_bail "cannot build the container root file system"
# The fuse action runs the host's FUSE programs inside the container: give it
# the host's /usr and libraries, read-only.
mkdir -p "$MV_TMP/rootfs/usr" "$MV_TMP/rootfs/lib" "$MV_TMP/rootfs/lib64"
mkdir -p "$MV_TMP/img" && echo "hello from the image" >"$MV_TMP/img/hello.txt"
mkfs.ext4 -q -F -d "$MV_TMP/img" "$MV_TMP/disk.img" 16M >/dev/null || mv_bail "mkfs.ext4 failed"
mv_loop_attach "$MV_TMP/disk.img" LOOP || mv_bail "no loop device"
mv_start_notifyd "$MV_DEMO_PROFILES" || mv_bail "notifyd did not start"

# Steps a user would try: NAME TARGET COMMAND...  Every step has its own target
# so the decision line can be found in notifyd's log.
run_demo() { # PROFILE ID
	local profile=$1 id=$2
	mv_oci_bundle --profile "$profile" --device "$LOOP" "$MV_TMP/b-$id" "$MV_TMP/rootfs" sh -c "
		mvstep ext4 mount -t ext4 $LOOP /mnt/a
		mvstep ext4-owner sh -c 'ls -ln /mnt/a/hello.txt 2>/dev/null || echo not mounted'
		mvstep ext4-write sh -c 'echo written > /mnt/a/new.txt && cat /mnt/a/new.txt'
		mvstep ps sh -c 'ps -o pid,args | grep -e fuse2fs -e PID | grep -v grep'
		mvstep tmpfs mount -t tmpfs demo /mnt/b
		mvstep xfs mount -t xfs $LOOP /mnt/c
		mvstep ntfs3 mount -t ntfs3 $LOOP /mnt/c
		mvstep bind mount --bind /mnt/b /tmp
		mvstep umount umount /mnt/a
	" >/dev/null || return 1
	jq '.mounts += [
	  {destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro"]},
	  {destination: "/lib", type: "bind", source: "/lib", options: ["rbind", "ro"]},
	  {destination: "/lib64", type: "bind", source: "/lib64", options: ["rbind", "ro"]}]' \
		"$MV_TMP/b-$id/config.json" >"$MV_TMP/b-$id/config.tmp" &&
		mv "$MV_TMP/b-$id/config.tmp" "$MV_TMP/b-$id/config.json"
	mv_run runc "$MV_TMP/b-$id" "$id" 60
}

show() { # ID STEP TARGET WHAT
	local id=$1 step=$2 target=$3 what=$4 rc out dec
	rc=$(mv_step_rc "$id" "$step")
	out=$(mv_step_out "$id" "$step" | tr '\n' ' ' | cut -c1-40)
	dec=$(grep "decision id=$id " "$MV_LOG" | grep -E "target=$target( |$)" | grep -E "syscall=$5" | tail -n1)
	# An umount2 answered without reading the caller's memory logs no target.
	[ -z "$dec" ] && [ "$5" = umount2 ] &&
		dec=$(grep "decision id=$id " "$MV_LOG" | grep "syscall=umount2" | grep -v "target=" | tail -n1)
	if [ "$5" = none ]; then
		dec="-"
	elif [ -n "$dec" ]; then
		dec="$(mv_kv action "$dec") -> $(mv_kv result "$dec")  [$(mv_kv rule "$dec")]"
	else
		dec="(not intercepted: the kernel handled it)"
	fi
	printf '  %-34s %-5s %-40s %s\n' "$what" "${rc:-?}" "${out:--}" "$dec"
}

# explain ID : say why a request failed where the profile did not refuse it
# (the table shows only the errno).
explain() {
	local id=$1 dec
	dec=$(grep "decision id=$id " "$MV_LOG" | grep -E "syscall=mount .*type=xfs " | tail -n1)
	if [ "$(mv_kv action "$dec")" = kernel ] && [ "$(mv_kv result "$dec")" = EBUSY ]; then
		echo "  (xfs: the profile lets the kernel try; the kernel answers EBUSY because $LOOP is"
		echo "   still mounted as ext4 at /mnt/a, and a block device serves one filesystem at a time)"
	fi
	dec=$(grep "decision id=$id " "$MV_LOG" | grep -E "syscall=mount .*type=ntfs3 " | tail -n1)
	if [ "$(mv_kv result "$dec")" = ENODEV ]; then
		echo "  (ntfs3: no [fs ntfs3] section, so default-action = deny; ENODEV instead of EPERM"
		echo "   because this kernel has no ntfs3, as mount(2) itself would answer)"
	fi
}

for profile in default trusted-images; do
	id=demo-$profile
	echo
	echo "=== runc container '$id' (uid 0 -> host 100000), listenerMetadata profile=$profile"
	run_demo "$profile" "$id"
	printf '  %-34s %-5s %-40s %s\n' "request in the container" "exit" "output" "notifyd's decision"
	show "$id" ext4 /mnt/a "mount -t ext4 $LOOP /mnt/a" mount
	show "$id" ext4-owner none "ls -ln /mnt/a/hello.txt" none
	show "$id" ext4-write none "echo written > /mnt/a/new.txt" none
	show "$id" ps none "ps (FUSE program in the container)" none
	show "$id" tmpfs /mnt/b "mount -t tmpfs demo /mnt/b" mount
	show "$id" xfs /mnt/c "mount -t xfs $LOOP /mnt/c" "mount.*type=xfs"
	show "$id" ntfs3 /mnt/c "mount -t ntfs3 $LOOP /mnt/c" "mount.*type=ntfs3"
	show "$id" bind /tmp "mount --bind /mnt/b /tmp" mount
	show "$id" umount /mnt/a "umount /mnt/a" umount2
	explain "$id"
done
echo
echo "notifyctl stats:"
mv_ctl stats | sed 's/^/  /'
echo
echo "The default profile serves the untrusted ext4 image with fuse2fs inside the container:"
echo "the kernel's ext4 driver never parses it.  trusted-images has the host kernel mount it,"
echo "idmapped, so hello.txt (uid 0 on disk) belongs to the container's root."
