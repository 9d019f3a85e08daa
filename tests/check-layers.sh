#!/usr/bin/env bash
# tests/check-layers.sh - do the folders keep to their layers?
#
# usage: check-layers.sh SOURCE_ROOT
#
# The library's folders are layers (docs/DESIGN.md, "Layout"); a file may
# include the public headers (mmig/...), headers of its own folder and
# headers of the folders below it, never one above:
#   core/      nothing of ours
#   journal/   core/
#   engine/    core/ journal/
#   domain/    core/ journal/ engine/
#   tools/, bench/  the public headers only (and their own headers)
# A quoted include is looked up by name in those folders; one found in a
# folder the file may not use, or in none at all, fails the check, naming
# the file, the line and the folder it reached into.  The meson build
# compiles each layer with its own include paths, so most such includes
# fail to build anyway; this check also reads what a build never sees (a
# file left out of meson.build, an #include behind an #ifdef).
#
# Exits 0 when every include keeps to its layer, 1 otherwise.
set -uo pipefail
root=${1:?usage: $0 SOURCE_ROOT}
cd "$root" || exit 2

declare -A allowed=(
	[core]="core"
	[journal]="core journal"
	[engine]="core journal engine"
	[domain]="core journal engine domain"
	[tools]="tools bench"
	[bench]="tools bench"
)
all="core journal engine domain tools bench"

failures=0 checked=0
for folder in $all; do
	for f in "$folder"/*.c "$folder"/*.h; do
		[ -f "$f" ] || continue
		while IFS=: read -r line hdr; do
			checked=$((checked + 1))
			case $hdr in mmig/*) [ -f "include/$hdr" ] && continue ;; esac
			found=""
			for d in $all; do
				[ -f "$d/$hdr" ] && found+="$d "
			done
			if [ -z "$found" ]; then
				echo "FAIL: $f:$line: \"$hdr\" is in none of: $all include/mmig" >&2
				failures=$((failures + 1))
				continue
			fi
			ok=0
			for d in $found; do
				for a in ${allowed[$folder]}; do
					[ "$d" = "$a" ] && ok=1
				done
			done
			if [ "$ok" = 0 ]; then
				echo "FAIL: $f:$line: includes \"$hdr\" from ${found% }/, outside what $folder/ may use (${allowed[$folder]})" >&2
				failures=$((failures + 1))
			fi
		done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
			sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
	done
done
# A check that read nothing proves nothing.
if [ "$checked" -lt 50 ]; then
	echo "FAIL: only $checked includes read under $root: wrong directory?" >&2
	exit 1
fi
echo "$checked includes checked, $failures across layers"
[ "$failures" = 0 ]
