#!/bin/sh
# scripts/fuzz.sh [SECONDS] - build the libFuzzer targets with clang (ASan and
# UBSan) and run each for SECONDS (default 60) on a copy of its seed corpus,
# so that nothing is written into the repository.  Fails on any crash, leak
# or sanitizer report; the input that failed is kept in $FUZZ_OUT (default
# build-fuzz/fuzz-out/TARGET) and belongs in tests/fuzz/corpus/TARGET as a
# regression case once the bug is fixed.
#
# Environment: BUILD (default build-fuzz), FUZZ_OUT, JOBS (parallel fuzzing
# jobs per target, default 1).
set -eu

secs=${1:-60}
case $secs in
''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
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
for target in record fold model yaml; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/mmig-fuzz-$target.XXXXXX")
	out=${FUZZ_OUT:-$build/fuzz-out}/$target
	mkdir -p "$out"
	cp "$root/tests/fuzz/corpus/$target/"* "$work/"
	echo "fuzz-$target: ${secs}s on a copy of tests/fuzz/corpus/$target"
	par=
	if [ "$jobs" -gt 1 ]; then
		par="-jobs=$jobs -workers=$jobs"
	fi
	# From the work dir: libFuzzer's job logs (fuzz-N.log) land there.
	# shellcheck disable=SC2086
	if ! (cd "$work" && "$build/tests/fuzz/fuzz-$target" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 $par \
		-print_final_stats=1 -artifact_prefix="$out/" "$work") \
		>"$out/log" 2>&1; then
		echo "fuzz-$target: FAILED, see $out/log:" >&2
		tail -n 40 "$out/log" >&2
		# The failing input itself, so that a log from another
		# machine is enough to reproduce it.
		for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* \
			"$out"/oom-*; do
			[ -f "$f" ] || continue
			echo "$f, base64 (first 4 KiB):" >&2
			head -c 4096 "$f" | base64 -w 0 >&2
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
