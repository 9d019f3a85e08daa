#!/bin/sh
# scripts/fuzz.sh [SECONDS] - build the libFuzzer targets with clang (ASan and
# UBSan) and run each for SECONDS (default 60) on a copy of its seed corpus,
# so that nothing is written into the repository.  Fails on any crash, leak
# or sanitizer report; the input that failed is kept in $FUZZ_OUT (default
# build-fuzz/fuzz-out/TARGET) and belongs in tests/fuzz/corpus/TARGET as a
# regression case once the bug is fixed.
#
# scripts/fuzz.sh --fixed - the same, reproducibly: seed 1 and a fixed number
# of inputs per target (under a minute each on an idle 2-core machine; at
# most 300 s whatever the machine), so that every machine tries the same
# inputs in the same order and a verdict from one machine holds on another.  This is what
# scripts/test.sh (CI) runs.  A bare run explores: libFuzzer picks a new seed
# each time, which is how new bugs are found before they reach main.
#
# Environment: BUILD (default build-fuzz), FUZZ_OUT, FUZZ_TARGETS (default
# "record fold model yaml"), FUZZ_CAP_SECONDS (--fixed's cap per target,
# default 300), JOBS (parallel fuzzing jobs per target, default 1; ignored
# with --fixed).
set -eu

fixed=
secs=${1:-60}
if [ "$secs" = --fixed ]; then
	fixed=1
	secs=${FUZZ_CAP_SECONDS:-300}
fi
case $secs in
''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --fixed]" >&2; exit 2 ;;
esac

# Inputs per target for --fixed: 30-60 s each on an idle machine (the targets' rates
# differ by 50 times: fuzz-yaml parses and upgrades whole documents).
fixed_runs() {
	case $1 in
	record) echo 1200000 ;;
	fold) echo 240000 ;;
	model) echo 1000000 ;;
	yaml) echo 60000 ;;
	esac
}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-fuzz}
jobs=${JOBS:-1}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzz=true -Dwerror=true \
		-Dfault_injection=true
fi
ninja -C "$build" tests/fuzz/fuzz-record tests/fuzz/fuzz-fold \
	tests/fuzz/fuzz-model tests/fuzz/fuzz-yaml

# One line a target, "TARGET ok" or "TARGET failed", for scripts/test.sh.
results=${FUZZ_OUT:-$build/fuzz-out}/results
mkdir -p "$(dirname "$results")"
: >"$results"
status=0
for target in ${FUZZ_TARGETS:-record fold model yaml}; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/mmig-fuzz-$target.XXXXXX")
	out=${FUZZ_OUT:-$build/fuzz-out}/$target
	mkdir -p "$out"
	cp "$root/tests/fuzz/corpus/$target/"* "$work/"
	par=
	if [ -n "$fixed" ]; then
		# libFuzzer's entropic schedule weighs inputs by how long
		# they ran, and -reload by the clock: both off, or the same
		# seed takes other paths on another machine.
		par="-seed=1 -runs=$(fixed_runs $target) -entropic=0 -reload=0"
		echo "fuzz-$target: $(fixed_runs $target) inputs from seed 1" \
			"on a copy of tests/fuzz/corpus/$target"
	else
		echo "fuzz-$target: ${secs}s on a copy of tests/fuzz/corpus/$target"
		if [ "$jobs" -gt 1 ]; then
			par="-jobs=$jobs -workers=$jobs"
		fi
	fi
	# From the work dir: libFuzzer's job logs (fuzz-N.log) land there.
	# shellcheck disable=SC2086
	if ! (cd "$work" && "$build/tests/fuzz/fuzz-$target" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 $par \
		-print_final_stats=1 -artifact_prefix="$out/" "$work") \
		>"$out/log" 2>&1; then
		echo "fuzz-$target: FAILED, see $out/log:" >&2
		# The report's head names the bug; its tail, the input.
		grep -E -m 1 -A 14 'ERROR|runtime error' "$out/log" >&2 || :
		tail -n 4 "$out/log" >&2
		# The failing input itself, whole, so that a log from another
		# machine is enough to reproduce it: decode with
		# "base64 -d | gunzip".
		for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* \
			"$out"/oom-*; do
			[ -f "$f" ] || continue
			echo "$f ($(wc -c <"$f") bytes), gzip | base64:" >&2
			gzip -9 -n -c "$f" | head -c 65536 | base64 -w 0 >&2
			echo >&2
		done
		echo "$target failed" >>"$results"
		status=1
	else
		echo "$target ok" >>"$results"
		grep -E 'stat::number_of_executed_units|cov:' "$out/log" |
			tail -n 2
	fi
	rm -rf "$work"
done
exit $status
