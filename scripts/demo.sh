#!/usr/bin/env bash
# The main job, on built-in defaults, in a scratch directory:
#   1. install what is needed and build;
#   2. expand a real topology: the published Charmed Kubernetes 1.35 bundle
#      (tests/data/juju), 1250 copies of it side by side, into a Juju model
#      description (juju/description YAML): 12,500 machines, 25,000 units;
#   3. import it as a journaled migration and kill the import with
#      `kill -9` half-way through its `units` operation: the import is
#      watched (SIGSTOP, look, SIGCONT, a few milliseconds at a time) until
#      units rows are committed, and killed there, frozen, so the kill lands
#      inside `units` on a fast disk or a slow one;
#   4. show what mmig-recover sees, and what it would do;
#   5. recover it by resuming, and check the databases hold exactly the
#      description: every table's rows counted, and the model exported
#      (`mmig export`) and compared with the input, value for value;
#   6. do the same with a second model, recover by rolling back (the
#      default), and check that nothing of it is left.
# It runs the tools as users build them (the default build, no test
# switches).  Exits non-zero if any check fails.
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
# Compares two YAML documents as data (key order aside); built with the
# tests, from the library's own YAML reader.
yaml_same=$root/build/tests/yaml-same
bundle=$root/tests/data/juju/bundle-charmed-kubernetes-1.35.yaml

work=$(mktemp -d "${TMPDIR:-/tmp}/mmig-demo.XXXXXX")
cd "$work"
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
count() { sqlite3 "models/$1.db" "SELECT count(*) FROM $2"; }
# The model's uuid: the first `uuid:` of the document's top-level config.
uuid_of() { sed -n 's/^  uuid: //p' "$1" | head -n 1; }

# freeze_in_units PID DB: let the import PID run a few milliseconds at a
# time (SIGSTOP, look at its model database DB read-only, SIGCONT) until
# units rows are committed; leave it stopped there and print how many.
# Fails if the import ends first.  Being stopped while it is looked at, it
# cannot finish the operation between the look and the kill.
freeze_in_units() {
	python3 - "$1" "$2" <<'PY'
import os, signal, sqlite3, sys, time
pid, db = int(sys.argv[1]), sys.argv[2]

def state():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"

def signal_it(sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        sys.exit("the import ended before it could be killed in units")

def units():
    # Read-only, never creating the file; no database or no table yet is 0.
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0)
        try:
            return c.execute("SELECT count(*) FROM units").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return 0

deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    signal_it(signal.SIGSTOP)
    while state() not in ("T", "t", "Z", "X", "gone"):
        time.sleep(0.0002)
    if state() != "T":
        sys.exit("the import ended before it could be killed in units")
    n = units()
    if n > 0:
        print(n)
        sys.exit(0)
    signal_it(signal.SIGCONT)
    time.sleep(0.002)
sys.exit("the import never got to units")
PY
}

# kill_in_units UUID ARGS...: run `mmig import ARGS...` and kill -9 it once
# it is frozen inside units; check that it died of the signal.  The import
# starts stopped (its shell stops itself, then execs mmig when continued),
# so that it cannot get ahead while the watcher starts.
kill_in_units() {
	local model=$1 pid n status t0
	shift
	t0=$(date +%s.%N)
	bash -c 'kill -STOP $$; exec "$@"' import "$mmig" import "$@" &
	pid=$!
	n=$(freeze_in_units "$pid" "models/$model.db") ||
		{ kill -9 "$pid" 2>/dev/null; fail "could not stop the import in units"; }
	kill -9 "$pid"
	set +e
	{ wait "$pid"; } 2>/dev/null # the shell's own "Killed" job notice
	status=$?
	set -e
	echo "killed (kill -9) inside units, $n of its rows committed," \
		"$(python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$t0") s" \
		"after it started;"
	echo "mmig import exited with status $status (137 = killed by SIGKILL)"
	[ "$status" = 137 ] || fail "the import was not killed"
	# The journal agrees: units (op 4) begun, not done; the owner dead.
	"$recover" list --json | python3 -c '
import json, sys
d = [m for m in json.load(sys.stdin) if m["model_uuid"] == sys.argv[1]]
assert len(d) == 1, d
m = d[0]
assert m["state"] == "RUNNING" and m["ops_done"] == 4, m
assert m["owner_alive"] is False, m
' "$model" || fail "the journal does not show the import killed in units"
}

say "1. expand a real topology (in $work)"
"$mmig" gen-model --from-bundle "$bundle" --scale 1250 --seed 1 -o model.yaml
uuid=$(uuid_of model.yaml)
echo "model.yaml: model $uuid, $(wc -c <model.yaml) bytes"

say "2. import it; the import is killed with kill -9 half-way, inside units"
kill_in_units "$uuid" model.yaml

say "3. mmig-recover list: the migration is in flight, its owner dead"
"$recover" list

say "4. mmig-recover plan --policy resume: what recovery would do (writes nothing)"
"$recover" plan --policy resume

say "5. mmig-recover recover --policy resume"
"$recover" recover --policy resume

say "6. the databases hold exactly the description"
# Charmed Kubernetes 1.35 is 10 machines, 20 units (10 of them
# subordinates), 7 applications and 16 relations (29 endpoints); 1250
# copies side by side share the applications and relations.
printf '%-19s %8s %8s\n' table expected found
for t in machines:12500 applications:7 units:25000 relations:16 \
	relation_endpoints:29; do
	table=${t%%:*} want=${t##*:}
	got=$(count "$uuid" "$table")
	printf '%-19s %8s %8s\n' "$table" "$want" "$got"
	[ "$got" = "$want" ] || fail "$table: $got rows, want $want"
done
status=$(sqlite3 controller.db "SELECT status FROM models WHERE uuid = '$uuid'")
echo "controller: model $uuid is $status"
[ "$status" = active ] || fail "controller status $status"
"$mmig" export "$uuid" -o exported.yaml
"$yaml_same" model.yaml exported.yaml ||
	fail "the exported model differs from the description"
echo "mmig export: the model written back is the description, value for value"

say "7. a second model, killed the same way, recovered by rolling back (the default)"
"$mmig" gen-model --from-bundle "$bundle" --scale 1250 --seed 2 -o second.yaml
second=$(uuid_of second.yaml)
kill_in_units "$second" --quiet second.yaml
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
echo "OK: the interrupted import of a real topology was resumed to exactly"
echo "    its description,"
echo "    the second was rolled back without a trace (scratch: $work)"
