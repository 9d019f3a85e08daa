#!/usr/bin/env bash
# Install, build warning-free (-Werror), and run the whole test suite three
# times: as built, under valgrind's memcheck, and under AddressSanitizer +
# UndefinedBehaviorSanitizer.
# Exit status is non-zero when anything fails.
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

status=0
echo "== build and test (debugoptimized, -Werror)"
build build-test
meson test -C build-test --print-errorlogs --num-processes 2 || status=1
echo "== the same build under valgrind memcheck"
meson test -C build-test --setup valgrind --print-errorlogs --num-processes 2 ||
	status=1
echo "== build and test under ASan + UBSan"
build build-test-asan -Db_sanitize=address,undefined -Db_lundef=false
meson test -C build-test-asan --print-errorlogs --num-processes 2 || status=1

# One plain closing line over both runs, counted from meson's own logs.
python3 - build-test/meson-logs/testlog.json \
	build-test/meson-logs/testlog-valgrind.json \
	build-test-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = 0
for log in sys.argv[1:]:
    try:
        with open(log) as f:
            for line in f:
                r = json.loads(line)
                if r["result"] in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                else:
                    failed += 1
    except FileNotFoundError:
        failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit $status
