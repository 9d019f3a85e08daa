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
# It also fails on LMDB (its header, types or calls, or the LMDB backend's
# lmdb-int.h) anywhere but in the LMDB backend's files: the engine, the
# domain and the tools reach storage only through the journal's backend
# interface.
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
			# Made at build time (tools/meson.build: bench/embed.py).
			[ "$folder/$hdr" = bench/bench-bundle.h ] && continue
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
# Storage stays behind the journal's backend interface (journal/backend.h):
# LMDB -- its header, its types and calls, the LMDB backend's internal
# header -- appears only in the LMDB backend's own files, never in the
# engine, the domain, the tools or the journal's backend-neutral front.
# bench/bench-floor.c measures bare LMDB as a reference (issue 16's
# floor), and reaches no journal with it.
lmdb_files="journal/journal.c journal/read.c journal/verify.c journal/side.c journal/lmdb-int.h bench/bench-floor.c"
lmdb_pattern='<lmdb\.h>|"lmdb-int\.h"|(^|[^A-Za-z0-9_])(MDB_[A-Za-z_]+|mdb_[a-z_]+)'
for folder in $all; do
	for f in "$folder"/*.c "$folder"/*.h; do
		[ -f "$f" ] || continue
		case " $lmdb_files " in *" $f "*) continue ;; esac
		checked=$((checked + 1))
		# Code only: a comment may name what LMDB does.
		hits=$(grep -nE "$lmdb_pattern" "$f" |
			grep -vE '^[0-9]+:[[:space:]]*(/\*|\*|//)' | head -n 3)
		if [ -n "$hits" ]; then
			while IFS= read -r h; do
				echo "FAIL: $f:${h%%:*}: LMDB outside its backend (journal/backend.h): ${h#*:}" >&2
			done <<<"$hits"
			failures=$((failures + 1))
		fi
	done
done

# A check that read nothing proves nothing.
if [ "$checked" -lt 50 ]; then
	echo "FAIL: only $checked includes read under $root: wrong directory?" >&2
	exit 1
fi
echo "$checked includes and files checked, $failures failures"
[ "$failures" = 0 ]
