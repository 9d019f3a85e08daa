#!/usr/bin/env bash
# docs/test-api-docs.sh - the API reference was generated, and documents
# every public function.
#
#   test-api-docs.sh API-DIR     (the directory Doxygen wrote)
#
# Checks: the HTML and the section-3 man pages exist, the man pages render
# with man -l, every MMIG_EXPORT function of include/mmig/ appears in the
# HTML, and Doxygen's warning log names no undocumented function.
set -u
api=$1
fail=0
passed=0
check() { # NAME STATUS [MESSAGE]
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $1${3:+: $3}"
	fi
}

[ -f "$api/html/index.html" ]
check "html/index.html exists" $?
ls "$api"/man/man3/*.3mmig >/dev/null 2>&1
check "man3 pages exist" $?
for page in "$api"/man/man3/mmig_op_vtable.3mmig \
	"$api"/man/man3/journal.h.3mmig; do
	out=$(LC_ALL=C MANWIDTH=100 man -l "$page" 2>&1 >/dev/null)
	check "man -l $(basename "$page")" $([ -z "$out" ]; echo $?) "$out"
done

[ -f "$api/doxygen-warnings.log" ]
check "Doxygen's warning log exists" $?
undocumented=$(grep -E '\(function\).* is not documented' \
	"$api/doxygen-warnings.log")
check "every public function has a docstring" \
	$([ -z "$undocumented" ]; echo $?) "$undocumented"

# The functions the headers export, each in the reference.
src=$(dirname "$0")/../include/mmig
funcs=$(sed -n 's/.*[ *]\(mmig_[a-z0-9_]*\)(.*/\1/p' "$src"/*.h |
	sort -u)
[ -n "$funcs" ]
check "headers declare functions" $?
cat "$api"/html/*.html >"$api/all.html.txt"
for f in $funcs; do
	grep -q "$f" "$api/all.html.txt"
	check "reference has $f" $?
done
rm -f "$api/all.html.txt"

echo "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
