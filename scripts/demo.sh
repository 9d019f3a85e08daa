#!/usr/bin/env bash
# The main job, on built-in defaults, in a scratch directory:
#   1. install what is needed and build;
#   2. generate a model of 10,000 machines and 50,000 units;
#   3. import it as a journaled migration and kill the import with SIGKILL
#      half-way through (an injected crash point: the process dies exactly
#      as under `kill -9`, after its seventh database commit, inside the
#      `units` operation);
#   4. show what mmig-recover sees, and what it would do;
#   5. recover it by resuming, and check the databases hold exactly the
#      description;
#   6. do the same with a second model, recover by rolling back (the
#      default), and check that nothing of it is left.
# Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/install-deps.sh >/dev/null
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
mmig=$root/build/tools/mmig
recover=$root/build/tools/mmig-recover

work=$(mktemp -d "${TMPDIR:-/tmp}/mmig-demo.XXXXXX")
cd "$work"
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
count() { sqlite3 "models/$1.db" "SELECT count(*) FROM $2"; }
uuid_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["uuid"])' "$1"; }

say "1. generate a model (in $work)"
"$mmig" gen-model --machines 10000 --applications 200 --units-per-app 250 \
	--relations 500 --seed 1 -o model.json
uuid=$(uuid_of model.json)
echo "model.json: model $uuid, $(wc -c <model.json) bytes"

say "2. import it; the import is killed with SIGKILL half-way"
set +e
MMIG_FAULT=DB_COMMITTED:7:kill "$mmig" import model.json
status=$?
set -e
echo "mmig import exited with status $status (137 = killed by SIGKILL)"
[ "$status" = 137 ] || fail "the import was not killed"

say "3. mmig-recover list: the migration is in flight, its owner dead"
"$recover" list

say "4. mmig-recover plan --policy resume: what recovery would do (writes nothing)"
"$recover" plan --policy resume

say "5. mmig-recover recover --policy resume"
"$recover" recover --policy resume

say "6. the databases hold exactly the description"
printf '%-13s %8s %8s\n' table expected found
for t in machines:10000 applications:200 units:50000 relations:500; do
	table=${t%%:*} want=${t##*:}
	got=$(count "$uuid" "$table")
	printf '%-13s %8s %8s\n' "$table" "$want" "$got"
	[ "$got" = "$want" ] || fail "$table: $got rows, want $want"
done
status=$(sqlite3 controller.db "SELECT status FROM models WHERE uuid = '$uuid'")
echo "controller: model $uuid is $status"
[ "$status" = active ] || fail "controller status $status"

say "7. a second model, killed the same way, recovered by rolling back (the default)"
"$mmig" gen-model --machines 10000 --applications 200 --units-per-app 250 \
	--relations 500 --seed 2 -o second.json
second=$(uuid_of second.json)
set +e
MMIG_FAULT=DB_COMMITTED:7:kill "$mmig" import --quiet second.json
status=$?
set -e
[ "$status" = 137 ] || fail "the second import was not killed"
"$recover" recover
rows=$(sqlite3 controller.db "SELECT count(*) FROM models WHERE uuid = '$second'")
[ "$rows" = 0 ] || fail "controller row of the rolled-back model is left"
for f in "models/$second.db" "models/$second.db-wal" "models/$second.db-shm"; do
	[ ! -e "$f" ] || fail "$f is left"
done
echo "model $second: no controller row, no database file: nothing left"

say "8. mmig-recover list --all, and verify"
"$recover" list --all
"$recover" verify
echo
echo "OK: the interrupted import was resumed to exactly its description,"
echo "    the second was rolled back without a trace (scratch: $work)"
