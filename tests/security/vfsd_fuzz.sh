#!/bin/bash
# vfsd under libFuzzer for a short while (tests/fuzz/README.md): builds the
# fuzz targets with clang into build-fuzz/ (make fuzz-build) and runs each for
# FUZZ_SECONDS (default 10).  ok when nothing crashed, leaked, hung or let the
# canary outside the share into a reply.  `make fuzz` runs them longer.
. "$(dirname "$0")/../lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_BUILD=${FUZZ_BUILD:-$MV_SRC/build-fuzz}

if ! command -v clang >/dev/null; then
	t_fail "clang is installed" "scripts/install-deps.sh installs clang and libclang-rt-14-dev"
	exit 1
fi
out=$(make -C "$MV_SRC" --no-print-directory FUZZ_BUILD="$FUZZ_BUILD" fuzz-build 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
	t_fail "fuzz targets build (make fuzz-build)" "$(tail -n 30 <<<"$out")"
	exit 1
fi
t_ok "fuzz targets build (make fuzz-build)"

# The harness's own check: with vfsd serving the directory above the share,
# a READDIR of it must trip the marker and a LOOKUP the outside-inode check.
for seed in readdir:"canary marker" escape:"outside the share"; do
	out=$(VFSD_FUZZ_SELFTEST=1 "$FUZZ_BUILD/tests/fuzz/fuzz_fuse" -artifact_prefix="${MV_TMP:-/tmp}/" \
		"$MV_SRC/tests/fuzz/corpus/fuzz_fuse/${seed%%:*}" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "vfsd fuzz: .*${seed#*:}" <<<"$out"; then
		t_ok "canary self-test: seed ${seed%%:*} out of a too-wide share is caught (${seed#*:})"
	else
		t_fail "canary self-test: seed ${seed%%:*} out of a too-wide share is caught (${seed#*:})" \
			"exit $rc" "$(grep -E 'vfsd fuzz|ERROR' <<<"$out")"
	fi
done

for t in fuzz_fuse fuzz_vhost_user; do
	out=$("$MV_SRC/tests/fuzz/run.sh" "$FUZZ_BUILD" "$FUZZ_SECONDS" "$t" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_ok "$t: no crash in ${FUZZ_SECONDS}s"
		t_diag "$out"
	else
		t_fail "$t: no crash in ${FUZZ_SECONDS}s" "$out"
	fi
done
