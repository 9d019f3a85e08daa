#!/usr/bin/env bash
# Install, build warning-free (-Werror), and run the whole test suite:
#   1. every suite in a normal build: unit, example, tools (the binaries run
#      as a user would), torture (crash suites), power (power-cut
#      simulation), bench (a quick `mmig bench --json` smoke run; no
#      timing is asserted);
#   2. the unit, example and tools suites again under valgrind's memcheck;
#   3. everything but the power suite (its LD_PRELOAD shim does not mix
#      with sanitizers), the bench and four of the torture suite's five
#      nested sweeps (run in full in 1) under AddressSanitizer +
#      UndefinedBehaviorSanitizer;
#   4. each libFuzzer target for FUZZ_SECONDS (default 60) under ASan+UBSan;
#   5. the default build, as users get it (no -Dfault_injection): its
#      library and tools hold no fault point and no unsafe switch.
# The builds of 1-4 are test builds, -Dfault_injection=true: the crash,
# power-cut and tools suites arm the fault points (core/fault.h).
# Ends with one line, "N passed, M failed", over all of it; exits non-zero
# when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

build() {
	local dir=$1
	shift
	rm -rf "$dir"
	meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; return 1; }
	ninja -C "$dir"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mtest() { meson test --print-errorlogs --num-processes 2 "$@"; }

status=0
echo "== 1. build, and every suite"
build build-test -Dfault_injection=true
mtest -C build-test || status=1
echo "== 2. unit, example and tools suites under valgrind memcheck"
mtest -C build-test --setup valgrind --suite unit --suite example \
	--suite tools || status=1
echo "== 3. build with ASan + UBSan, and every suite but power and bench"
build build-test-asan -Dfault_injection=true \
	-Db_sanitize=address,undefined -Db_lundef=false
# Of the torture suite's nested sweeps (each thousands of crashes, already
# run in full in step 1) one runs here, with every other group.
mtest -C build-test-asan --no-suite power --no-suite bench \
	--no-suite torture || status=1
mtest -C build-test-asan --logbase testlog-torture \
	torture-nested-rollback-durable \
	torture-broken-invariant-is-caught torture-journal-io-errors \
	torture-hostile-journals torture-truncated-journal random-kill ||
	status=1
# A fixed run by default, so that the verdict is the same on every machine;
# FUZZ_SECONDS=N explores instead, N seconds a target from a new seed.
echo "== 4. fuzzing: ${FUZZ_SECONDS:+$FUZZ_SECONDS s per target from a new seed}${FUZZ_SECONDS:-a fixed run per target (scripts/fuzz.sh --fixed)}"
rm -rf build-fuzz
bash scripts/fuzz.sh "${FUZZ_SECONDS:---fixed}" || status=1
echo "== 5. the default build: no test switch in the library or the tools"
build build-release
mtest -C build-release no-test-switches || status=1

# One plain closing line, counted from meson's own logs (a skipped test,
# exit 77, counts as neither) and the fuzz run's results (one per target;
# none at all counts as one failure).
python3 - build-fuzz/fuzz-out/results build-test/meson-logs/testlog.json \
	build-test/meson-logs/testlog-valgrind.json \
	build-test-asan/meson-logs/testlog.json \
	build-test-asan/meson-logs/testlog-torture.json \
	build-release/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[2:]:
    try:
        with open(log) as f:
            for line in f:
                r = json.loads(line)
                if r["result"] in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r["result"] == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        failed += 1
try:
    with open(sys.argv[1]) as f:
        for line in f:
            if line.split()[-1] == "ok":
                passed += 1
            else:
                failed += 1
except FileNotFoundError:
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
