#!/bin/bash
# Red-team attacks on vfsd (tests/security/vfsd_redteam.c): a hostile guest
# sending requests as a non-root guest user (uid 1000) against root's files
# in the share, in every sandbox, with and without file handles; and the
# --readonly share against every modifying request; a directory moved out
# of the share by the host; symlink attributes; a FUSE fuzz and memory-table
# races; the VMM shrinking guest memory.  See the C file for the list.
# Tests that fail document holes (commit messages on branch rv).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RT=$MV_BUILD/tests/helpers/vfsd_redteam
if [ ! -x "$RT" ] || [ ! -x "$MV_BUILD/vfsd" ]; then
	mv_bail "vfsd and $RT built"
fi

work=$MV_TMP/rt
run() { # run TAG SANDBOX ONLY [vfsd options...]
	local tag=$1 sandbox=$2 only=$3
	shift 3
	local extra=() o
	for o in "$@"; do extra+=(--vfsd-opt "$o"); done
	rm -rf "$work" && mkdir -p "$work/share" "$work/outside" && chmod 0755 "$work" "$work/share"
	if [ "$only" = readonly ]; then
		printf 'ROOT-CONTENT' >"$work/share/ro-file" && chmod 0644 "$work/share/ro-file"
		mkdir "$work/share/ro-dir"
	fi
	"$RT" --share "$work/share" --outside "$work/outside" --sandbox "$sandbox" --tag "$tag" --only "$only" "${extra[@]}"
	local rc=$?
	[ $rc -eq 0 ] || t_fail "$tag: vfsd_redteam exited $rc"
	cp "$work/share.$tag.log" "$MV_TMP/" 2>/dev/null
}

CRED=cred-open,cred-setattr,cred-xattr,cred-dir,moved-out,symlink-attr
run cred-namespace namespace "$CRED"
run cred-chroot chroot "$CRED"
run cred-none none "$CRED"
run cred-handles none "$CRED" --inode-file-handles=mandatory
run cred-pool none "$CRED" --thread-pool-size=4
run ro-namespace namespace readonly --readonly
run ro-none none readonly --readonly
run ro-handles none readonly --readonly --inode-file-handles=mandatory
# Random requests in concurrent batches (run from build-asan for ASan), and
# memory-table changes with requests in flight (VMM).
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-pool namespace fuzz,memrace --thread-pool-size=4
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-handles none fuzz --inode-file-handles=mandatory
RT_FUZZ_ROUNDS=${RT_FUZZ_ROUNDS:-3000} run fuzz-chroot chroot fuzz,memrace
# The front-end (VMM) shrinks guest memory under vfsd.
run memshrink none memshrink
