#!/usr/bin/env bash
# Install, build warning-free (-Werror), and run the whole test suite twice:
# once as built, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exit status is non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

run_suite() {
	local dir=$1
	shift
	rm -rf "$dir"
	meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; return 1; }
	ninja -C "$dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

status=0
echo "== build and test (debugoptimized, -Werror)"
run_suite build-test || status=1
echo "== build and test under ASan + UBSan"
run_suite build-test-asan -Db_sanitize=address,undefined -Db_lundef=false ||
	status=1

# One plain closing line over both runs, counted from meson's own logs.
python3 - build-test build-test-asan <<'PY'
import json, sys
passed = failed = 0
for d in sys.argv[1:]:
    try:
        with open(f"{d}/meson-logs/testlog.json") as f:
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
