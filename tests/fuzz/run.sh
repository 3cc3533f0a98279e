#!/bin/bash
# Runs vfsd's libFuzzer targets for a while each and prints what they did.
#
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]     (make fuzz; tests/security/vfsd_fuzz.sh)
#
# BUILD is the fuzz build directory (build-fuzz); targets default to every
# binary in BUILD/tests/fuzz/.  Each target starts from its checked-in seeds
# (tests/fuzz/corpus/TARGET, read only) and the inputs earlier runs kept in
# BUILD/fuzz-corpus/TARGET, where new ones go.  A crash, leak, sanitizer
# report, canary leak or hang (-timeout) leaves its input in
# BUILD/fuzz-artifacts/ and makes the exit status 1.  tests/fuzz/TARGET.dict,
# if there is one, is the target's libFuzzer dictionary.  Full output:
# BUILD/fuzz-logs/TARGET.log.
set -u
BUILD=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
SECONDS_EACH=${2:-60}
shift 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for t in "$BUILD"/tests/fuzz/fuzz_*; do
		[ -x "$t" ] && targets+=("$(basename "$t")")
	done
fi
[ ${#targets[@]} -gt 0 ] || { echo "run.sh: no fuzz targets in $BUILD/tests/fuzz (make fuzz-build)" >&2; exit 1; }

rc=0
for t in "${targets[@]}"; do
	bin=$BUILD/tests/fuzz/$t
	work=$BUILD/fuzz-corpus/$t
	art=$BUILD/fuzz-artifacts
	log=$BUILD/fuzz-logs/$t.log
	mkdir -p "$work" "$art" "$(dirname "$log")"
	dict=()
	[ -f "$SRC/tests/fuzz/$t.dict" ] && dict=(-dict="$SRC/tests/fuzz/$t.dict")
	# -timeout: one input may not take 20 s (a hang is a finding too).
	# Leak checking stays on: vfsd must not leak per request or connection.
	start=$(date +%s)
	timeout -k 10 $((SECONDS_EACH + 120)) "$bin" -max_total_time="$SECONDS_EACH" \
		-print_final_stats=1 -timeout=20 -rss_limit_mb=4096 -max_len=16384 \
		-artifact_prefix="$art/$t-" "${dict[@]}" "$work" "$SRC/tests/fuzz/corpus/$t" >"$log" 2>&1
	status=$?
	elapsed=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
	printf '%s: %s executions in %ss, cov: %s ft: %s corpus: %s' "$t" "${execs:-?}" \
		"$elapsed" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [ "$status" -eq 0 ]; then
		echo ", no crash"
		continue
	fi
	rc=1
	echo ", FAILED (exit $status)"
	grep -E 'ERROR: |runtime error:|vfsd fuzz: |SUMMARY:|Test unit written to' "$log" | head -n 20 | sed 's/^/  /'
	echo "  full output: $log"
done
exit $rc
