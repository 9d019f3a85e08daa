#!/usr/bin/env bash
# docs/test-doc-links.sh - the documents meson installs link only to
# documents it installs too: every relative Markdown link "(NAME.md)" in an
# installed document of docs/ names a file installed in the same directory.
#
#   test-doc-links.sh BUILD-DIR SOURCE-DIR
set -u
build=$1 src=$2
fail=0 passed=0
installed=$(meson introspect "$build" --installed) || {
	echo "FAIL: meson introspect --installed"
	exit 1
}
# "source": "destination" pairs of the documents of docs/ installed.
pairs=$(python3 -c '
import json, os, sys
src = os.path.realpath(sys.argv[1])
for s, d in json.loads(sys.stdin.read()).items():
    if os.path.dirname(os.path.realpath(s)) == src and s.endswith(".md"):
        print(s + "\t" + d)
' "$src/docs" <<<"$installed")
[ -n "$pairs" ] || { echo "FAIL: no document of docs/ is installed"; exit 1; }
while IFS=$'\t' read -r s d; do
	dir=$(dirname "$d")
	for link in $(grep -o '([A-Za-z0-9_.-]*\.md)' "$s" | tr -d '()' | sort -u); do
		if python3 -c '
import json, os, sys
inst = json.loads(sys.stdin.read()).values()
sys.exit(0 if os.path.join(sys.argv[1], sys.argv[2]) in inst else 1)
' "$dir" "$link" <<<"$installed"; then
			passed=$((passed + 1))
		else
			fail=$((fail + 1))
			echo "FAIL: $(basename "$s") links to $link, which is not installed beside it ($dir)"
		fi
	done
done <<<"$pairs"
echo "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
