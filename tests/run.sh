#!/bin/bash
# Runs every test and prints one summary line "N passed, N failed, N skipped".
#
# A test is an executable: build/tests/unit/* (C unit tests) or
# tests/integration/*.sh and tests/security/*.sh.  Each prints TAP-style lines "ok - what" /
# "not ok - what" (and "ok - what # SKIP why"); a test that exits non-zero
# without printing "not ok" counts one failure, exit 77 with nothing printed
# counts one skip.  Output of every test is kept in $BUILD/test-logs/.
set -u
BUILD=${1:-build}
ONLY=${TESTS:-}
export MV_BUILD=$(cd "$BUILD" && pwd)
export MV_SRC=$(cd "$(dirname "$0")/.." && pwd)
logs=$MV_BUILD/test-logs
rm -rf "$logs" && mkdir -p "$logs"
pass=0 fail=0 skip=0
failed=()

tests=()
for t in "$MV_BUILD"/tests/unit/test_* "$MV_SRC"/tests/integration/*.sh \
	"$MV_SRC"/tests/security/*.sh; do
	[ -x "$t" ] || continue
	if [ -n "$ONLY" ]; then # TESTS="a b": names containing a or b
		hit=
		for pat in $ONLY; do [[ "$(basename "$t")" == *$pat* ]] && hit=1; done
		[ -n "$hit" ] || continue
	fi
	tests+=("$t")
done

for t in "${tests[@]}"; do
	name=$(basename "$t")
	log=$logs/$name.log
	start=$(date +%s)
	timeout --kill-after=10 ${MV_TEST_TIMEOUT:-600} "$t" >"$log" 2>&1
	rc=$?
	p=$(grep '^ok ' "$log" | grep -vc '# SKIP' || true)
	s=$(grep '^ok ' "$log" | grep -c '# SKIP' || true)
	f=$(grep -c '^not ok ' "$log" || true)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 77 ] && [ "$p" -eq 0 ]; then s=$((s + 1)); else f=1; fi
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	printf '%-40s %3d ok %3d failed %3d skipped (%ds)\n' "$name" "$p" "$f" "$s" $(($(date +%s) - start))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		grep -E '^not ok ' "$log" | sed 's/^/    /'
		echo "    --- last lines of $log (exit $rc):"
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
