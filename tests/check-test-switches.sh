#!/usr/bin/env bash
# tests/check-test-switches.sh - are the test switches (core/fault.h) in
# the binaries or not?
#
# usage: check-test-switches.sh --absent|--present FAULT.H FILE...
#
# --absent (the default build, what users install): no FILE holds, in its
# strings (strings -a) or its symbols (nm, nm -D), the environment
# variables MMIG_FAULT, MMIG_TEST_UNSAFE or MMIG_TEST_SIDE_MIN, the name
# of any fault point or unsafe design listed in FAULT.H, or a symbol of
# core/fault.c.
# --present (a -Dfault_injection=true build): every FILE holds the two
# variables' names and the fault symbols, so that --absent cannot pass by
# looking at the wrong files or with a pattern that matches nothing.
#
# Exits 0 when every check holds, 1 otherwise, naming each failed check.
set -uo pipefail
mode=$1 header=$2
shift 2
case $mode in --absent | --present) ;; *)
	echo "usage: $0 --absent|--present FAULT.H FILE..." >&2
	exit 2
	;;
esac
for tool in strings nm; do
	command -v "$tool" >/dev/null || { echo "FAIL: no $tool (binutils)" >&2; exit 1; }
done

# Every point and design by name, from the one table (so a new point is
# covered without touching this script), plus what fault.c defines.
points=$(sed -n '/define MMIG_FAULT_MAP/,/^enum mmig_fault_point/p' "$header" |
	grep -oE '^[[:space:]]*XX\([A-Z_]+,' | grep -oE '[A-Z_]{3,}')
designs=$(grep -oE 'XX\([A-Z_]+, "[a-z]+(-[a-z]+)+"\)' "$header" |
	grep -oE '"[a-z-]+"' | tr -d '"')
[ "$(wc -w <<<"$points")" -ge 10 ] && [ "$(wc -w <<<"$designs")" -ge 3 ] || {
	echo "FAIL: could not read the fault points and designs from $header" >&2
	exit 1
}
# Word-bounded, so that e.g. "default" is not taken for "fault".
words="MMIG_FAULT|MMIG_FAULT_[A-Z_]+|MMIG_TEST_UNSAFE|MMIG_UNSAFE[A-Z_]*"
words+="|mmig__fault_[a-z_]+|mmig__unsafe_[a-z_]+"
words+="|fault_from_env|unsafe_from_env|fault\\.c"
words+="|MMIG_TEST_SIDE_MIN"
for n in $points $designs; do words+="|$n"; done
pattern="(^|[^A-Za-z0-9_-])($words)([^A-Za-z0-9_-]|$)"

checks=0 failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for f in "$@"; do
	[ -f "$f" ] || { fail "$f: no such file"; continue; }
	name=$(basename "$f")
	strs=$(strings -a "$f")
	# nm: the symbol table (absent once stripped, which is fine); nm -D:
	# what a shared object or an --export-dynamic binary exports.
	syms=$( { nm "$f" 2>/dev/null; nm -D "$f" 2>/dev/null; } | awk '{print $NF}')
	if [ "$mode" = --absent ]; then
		hits=$(grep -E "$pattern" <<<"$strs" | sort -u | head -n 5 | tr '\n' ' ')
		checks=$((checks + 1))
		[ -z "$hits" ] || fail "$name: strings: $hits"
		hits=$(grep -E "$pattern" <<<"$syms" | sort -u | head -n 5 | tr '\n' ' ')
		checks=$((checks + 1))
		[ -z "$hits" ] || fail "$name: symbols: $hits"
	else
		for want in MMIG_FAULT MMIG_TEST_UNSAFE; do
			checks=$((checks + 1))
			grep -qxF "$want" <<<"$strs" || fail "$name: no \"$want\" in its strings"
		done
		for p in $points; do
			checks=$((checks + 1))
			grep -qE "(^|[^A-Z_])$p([^A-Z_]|$)" <<<"$strs" ||
				fail "$name: fault point $p not in its strings"
		done
		for d in $designs; do
			checks=$((checks + 1))
			grep -qxF "$d" <<<"$strs" ||
				fail "$name: unsafe design $d not in its strings"
		done
		checks=$((checks + 1))
		grep -qx 'mmig__fault_hit' <<<"$syms" || fail "$name: no mmig__fault_hit symbol"
	fi
done
echo "test switches ${mode#--}: $checks checks, $failures failed"
[ "$failures" = 0 ]
