#!/usr/bin/env bash
# The mmig tool as a user runs it: help and usage errors, gen-model
# determinism, an import with exact counts, malformed descriptions refused
# with their message and nothing left behind, a duplicate model left intact,
# --test-rollback, and SIGINT/SIGTERM during a large import under both
# policies.  Issue 14: import --json (also refused, also with --quiet), a
# refused import's error said once, '-' for stdin and stdout, help and the
# --version form, gen-model's size limits in import's words, no escape
# sequences with TERM=dumb (on a pty made by script(1)), progress while a
# large description is parsed, and `mmig bench` interrupted by SIGINT and
# SIGTERM leaving no scratch directory.
#
# usage: test-mmig-cli.sh PATH/TO/mmig [PATH/TO/yaml-same DATA_DIR]
# With yaml-same and the real Juju documents (tests/data/juju), also:
# juju/description import with exact counts, export giving the same data,
# export -> import -> export stable, and malformed YAML refused.
# When mmig-recover is built beside mmig, the paused migration is also
# looked at through `mmig-recover list`; otherwise that one inspection is
# skipped (the state is then checked from the databases only).
set -euo pipefail
mmig=$(realpath "$1")
yaml_same=${2:+$(realpath "$2")}
data=${3:+$(realpath "$3")}
recover="$(dirname "$mmig")/mmig-recover"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); }
UUID=0f5c3d1e-8a2b-4c6d-9e7f-1a2b3c4d5e6f

# A fresh scratch directory per case, so that defaults (./mmig-journal,
# ./controller.db, ./models) are what is checked.
fresh() {
	local d="$work/$1"
	rm -rf "$d"
	mkdir -p "$d"
	echo "$d"
}

# Nothing of an import may exist in directory $1.
assert_nothing_left() {
	local d=$1 what=$2
	for f in mmig-journal controller.db controller.db-wal controller.db-shm \
		models; do
		[ -e "$d/$f" ] && fail "$what: left $f behind"
	done
	return 0
}

q() { sqlite3 "$@"; }

# ---- help, version, usage -----------------------------------------------
"$mmig" --help | grep -q "gen-model" || fail "--help"
"$mmig" --version | grep -q "libmmig" || fail "--version"
"$mmig" import --help | grep -q "Exit status" || fail "import --help"
"$mmig" gen-model --help | grep -q -- "--units-per-app" || fail "gen-model --help"
for args in "" "frobnicate" "import" "import a.json b.json" \
	"import --durability sometimes x.json" "import --policy maybe x.json" \
	"import --no-such-option x.json" "gen-model --machines abc" \
	"gen-model --machines -1" "gen-model extra"; do
	d=$(fresh usage)
	set +e
	(cd "$d" && "$mmig" $args >/dev/null 2>"$d/err")
	rc=$?
	set -e
	[ $rc = 2 ] || fail "'mmig $args': exit $rc, want 2"
	grep -q '^mmig: ' "$d/err" || head -1 "$d/err" | grep -q usage ||
		fail "'mmig $args': no message"
	assert_nothing_left "$d" "'mmig $args'"
done
ok

# ---- gen-model ------------------------------------------------------------
d=$(fresh gen)
"$mmig" gen-model --machines 50 --applications 5 --units-per-app 7 \
	--relations 4 --seed 42 -o "$d/a.json"
"$mmig" gen-model --machines 50 --applications 5 --units-per-app 7 \
	--relations 4 --seed 42 >"$d/b.json"
cmp -s "$d/a.json" "$d/b.json" || fail "gen-model: not deterministic"
"$mmig" gen-model --machines 50 --applications 5 --units-per-app 7 \
	--relations 4 --seed 43 -o "$d/c.json"
cmp -s "$d/a.json" "$d/c.json" && fail "gen-model: seed ignored"
"$mmig" gen-model -o "$d/default.json"
ok

# ---- a small import -------------------------------------------------------
base='{ "version": 1,
  "model": { "uuid": "0f5c3d1e-8a2b-4c6d-9e7f-1a2b3c4d5e6f", "name": "prod",
             "owner": "admin", "cloud": "aws", "region": "us-east-1",
             "config": { "logging": "<root>=INFO", "port": 8080 } },
  "machines": [ { "id": "0", "base": "ubuntu@22.04", "constraints": "mem=4G" },
                { "id": "1", "base": "ubuntu@24.04" } ],
  "applications": [
    { "name": "mysql", "charm": "ch:mysql-1", "config": { "port": "3306" },
      "units": [ { "name": "mysql/0", "machine": "0" } ] },
    { "name": "wordpress", "charm": "ch:wordpress-2",
      "units": [ { "name": "wordpress/0", "machine": "0" },
                 { "name": "wordpress/1", "machine": "1" } ] } ],
  "relations": [ { "endpoints": [ "wordpress:db", "mysql:db" ] } ] }'

d=$(fresh small)
printf '%s\n' "$base" >"$d/model.json"
(cd "$d" && "$mmig" import model.json >out 2>err) || fail "small import: $(cat "$d/err")"
grep -q "^migration .*: committed$" "$d/out" || fail "small import: $(cat "$d/out")"
# Not a terminal: one plain line per operation.
[ "$(grep -c ' rows in ' "$d/err")" = 7 ] || fail "progress lines: $(cat "$d/err")"
[ "$(q "$d/controller.db" "SELECT status FROM models WHERE uuid='$UUID'")" = active ] ||
	fail "small import: controller row"
m="$d/models/$UUID.db"
counts=$(q "$m" "SELECT (SELECT count(*) FROM model_config) || ' ' ||
	(SELECT count(*) FROM machines) || ' ' ||
	(SELECT count(*) FROM applications) || ' ' ||
	(SELECT count(*) FROM application_config) || ' ' ||
	(SELECT count(*) FROM units) || ' ' || (SELECT count(*) FROM relations)")
[ "$counts" = "2 2 2 1 3 1" ] || fail "small import counts: $counts"
[ "$(q "$m" "SELECT group_concat(name || '@' || machine, ' ') FROM
	(SELECT * FROM units ORDER BY name)")" = "mysql/0@0 wordpress/0@0 wordpress/1@1" ] ||
	fail "small import units"
ok

# ---- duplicate uuid: refused, the first model untouched ------------------
before=$(q "$m" "SELECT count(*) FROM units")
set +e
(cd "$d" && "$mmig" import --quiet model.json >out2 2>err2)
rc=$?
set -e
[ $rc = 1 ] || fail "duplicate: exit $rc"
grep -q "model $UUID already exists" "$d/err2" || fail "duplicate: $(cat "$d/err2")"
[ -s "$d/out2" ] && fail "--quiet printed $(cat "$d/out2")"
[ -e "$m" ] || fail "duplicate: the first model's database was deleted"
[ "$(q "$d/controller.db" "SELECT status FROM models WHERE uuid='$UUID'")" = active ] ||
	fail "duplicate: the first model's row changed"
[ "$(q "$m" "SELECT count(*) FROM units")" = "$before" ] || fail "duplicate: rows changed"
ok

# ---- a journal holds one durability: a process-mode import is refused in
# the durable journal before it starts, and leaves nothing ------------------
"$mmig" gen-model --machines 5 --applications 2 --units-per-app 2 --seed 9 \
	-o "$d/p.json"
set +e
(cd "$d" && "$mmig" import --quiet --durability process p.json >out3 2>err3)
rc=$?
set -e
[ $rc = 1 ] || fail "process into a durable journal: exit $rc"
grep -q "holds durable migrations; a process one needs a journal of its own" \
	"$d/err3" || fail "process into a durable journal: $(cat "$d/err3")"
# Said once (issue 14): not once by the coordinator's log and again by the
# tool.  Without --quiet, stdout has no "migration : none" line either.
[ "$(wc -l <"$d/err3")" = 1 ] || fail "refused import: error not once: $(cat "$d/err3")"
set +e
(cd "$d" && "$mmig" import --durability process p.json >out4 2>err4)
rc=$?
set -e
[ $rc = 1 ] || fail "refused import: exit $rc"
[ "$(grep -c "holds durable migrations" "$d/err4")" = 1 ] ||
	fail "refused import: error not once: $(cat "$d/err4")"
grep -q '^migration' "$d/out4" && fail "refused import: a migration line: $(cat "$d/out4")"
# With --json: one object, outcome refused, the error, the same exit 1.
set +e
(cd "$d" && "$mmig" import --json --durability process p.json >out5 2>err5)
rc=$?
set -e
[ $rc = 1 ] || fail "refused --json: exit $rc"
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["outcome"] == "refused", o
assert o["migration_id"] is None, o
assert o["exit_status"] == 1, o
assert "holds durable migrations" in o["error"], o
assert o["tables"] is None and o["description"]["units"] == 4, o
' "$d/out5" || fail "refused --json: $(cat "$d/out5")"
[ "$(wc -l <"$d/err5")" = 1 ] || fail "refused --json: stderr $(cat "$d/err5")"
p_uuid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["model"]["uuid"])' "$d/p.json")
[ -e "$d/models/$p_uuid.db" ] && fail "process into a durable journal: a database"
[ "$(q "$d/controller.db" "SELECT count(*) FROM models WHERE uuid='$p_uuid'")" = 0 ] ||
	fail "process into a durable journal: a controller row"
(cd "$d" && "$mmig" import --quiet --durability process --journal pj p.json) ||
	fail "process mode in a journal of its own"
ok

# ---- import --json (issue 14) ---------------------------------------------
# check_json FILE PYTHON: FILE holds exactly one JSON object, bound to o.
check_json() {
	python3 -c "import json, sys
o = json.load(open(sys.argv[1]))
$2" "$1"
}
d=$(fresh json)
printf '%s\n' "$base" >"$d/model.json"
(cd "$d" && "$mmig" import --json --quiet model.json >out 2>err) ||
	fail "--json import: $(cat "$d/err")"
[ -s "$d/err" ] && fail "--json --quiet printed on stderr: $(cat "$d/err")"
check_json "$d/out" '
import re
assert re.fullmatch(r"[0-9a-f-]{36}", o["migration_id"]), o
assert o["outcome"] == "committed" and o["exit_status"] == 0, o
assert o["error"] is None and o["signal"] is None, o
assert o["model_uuid"] == "'"$UUID"'" and o["durability"] == "durable", o
d = o["description"]
assert (d["format"], d["machines"], d["applications"], d["units"],
        d["relations"], d["model_config"], d["application_config"],
        d["kept"]) == ("json", 2, 2, 3, 1, 2, 1, 0), d
t = o["tables"]
assert (t["machines"], t["applications"], t["units"], t["relations"],
        t["model_config"], t["application_config"]) == (2, 2, 3, 1, 2, 1), t
assert not any(k.startswith("mmig_") for k in t), t
assert [x["name"] for x in o["operations"]] == ["create-model",
    "model-config", "machines", "applications", "units", "relations",
    "activate"], o["operations"]
assert all(x["seconds"] >= 0 for x in o["operations"])
tm = o["timings"]
assert set(tm) == {"parse_seconds", "import_seconds", "total_seconds"}, tm
assert 0 <= tm["parse_seconds"] <= tm["total_seconds"], tm
assert 0 < tm["import_seconds"] <= tm["total_seconds"], tm
assert o["test_rollback"] is None
' || fail "--json import: $(cat "$d/out")"
# The id is the journal's.
if [ -x "$recover" ]; then
	id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["migration_id"])' "$d/out")
	"$recover" --journal "$d/mmig-journal" list --all >"$d/list" 2>&1 || true
	grep -q "$id" "$d/list" || fail "--json id not in the journal: $(cat "$d/list")"
fi
# The same model again: refused by create-model, rolled back, exit 1.
set +e
(cd "$d" && "$mmig" import --json model.json >out2 2>err2)
rc=$?
set -e
[ $rc = 1 ] || fail "--json duplicate: exit $rc"
check_json "$d/out2" '
assert o["outcome"] == "rolled-back" and o["exit_status"] == 1, o
assert "already exists" in o["error"] and o["migration_id"], o
assert o["tables"] is None, o' || fail "--json duplicate: $(cat "$d/out2")"
# A malformed description: refused, exit 2 as without --json, one line on
# stderr, the error in the object; nothing created.
d=$(fresh json-bad)
printf '%s\n' "$base" | sed 's/"version": 1/"version": 2/' >"$d/model.json"
set +e
(cd "$d" && "$mmig" import --json model.json >out 2>err)
rc=$?
set -e
[ $rc = 2 ] || fail "--json malformed: exit $rc"
[ "$(wc -l <"$d/err")" = 1 ] || fail "--json malformed: stderr $(cat "$d/err")"
check_json "$d/out" '
assert o["outcome"] == "refused" and o["exit_status"] == 2, o
assert o["error"].startswith("description: model.json: ") and "version" in o["error"], o
assert o["migration_id"] is None and o["description"] is None, o' ||
	fail "--json malformed: $(cat "$d/out")"
rm "$d/model.json" "$d/out" "$d/err"
assert_nothing_left "$d" "--json malformed"
# Another program's LMDB environment as the journal: refused, said once.
d=$(fresh json-foreign)
printf '%s\n' "$base" >"$d/model.json"
mkdir "$d/j"
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n alice\n 1\nDATA=END\n' |
	mdb_load -s users "$d/j" || fail "mdb_load"
set +e
(cd "$d" && "$mmig" import --json --journal j model.json >out 2>err)
rc=$?
set -e
[ $rc = 1 ] || fail "--json foreign journal: exit $rc"
[ "$(grep -c "not a libmmig journal" "$d/err")" = 1 ] && [ "$(wc -l <"$d/err")" = 1 ] ||
	fail "--json foreign journal: stderr $(cat "$d/err")"
check_json "$d/out" '
assert o["outcome"] == "refused" and o["exit_status"] == 1, o
assert o["error"].startswith("journal: j: not a libmmig journal"), o' ||
	fail "--json foreign journal: $(cat "$d/out")"
# A journal whose write lock a stopped process holds: the first commit is
# refused after the lock timeout, said once, exit 1, nothing to settle.
# (journal-damage is built beside the tools in a fault-injection build.)
damage="$(dirname "$mmig")/../tests/journal-damage"
if [ -x "$damage" ]; then
	d=$(fresh json-locked)
	printf '%s\n' "$base" >"$d/model.json"
	"$mmig" gen-model --seed 21 -o "$d/other.json"
	(cd "$d" && "$mmig" import --quiet other.json) || fail "locked: first import"
	"$damage" --hold-lock "$d/mmig-journal" "$d/held" &
	hold_pid=$!
	for _ in $(seq 100); do
		[ -e "$d/held" ] && [ "$(ps -o stat= -p "$hold_pid" | cut -c1)" = T ] && break
		sleep 0.1
	done
	set +e
	(cd "$d" && "$mmig" import --json model.json >out 2>err)
	rc=$?
	set -e
	kill -9 "$hold_pid" 2>/dev/null || true
	wait "$hold_pid" 2>/dev/null || true
	[ $rc = 1 ] || fail "locked journal: exit $rc: $(cat "$d/err")"
	[ "$(wc -l <"$d/err")" = 1 ] && grep -q "write lock is held by pid $hold_pid" "$d/err" ||
		fail "locked journal: stderr $(cat "$d/err")"
	check_json "$d/out" '
assert o["outcome"] == "refused" and o["exit_status"] == 1, o
assert o["migration_id"] is None and "write lock is held" in o["error"], o' ||
		fail "locked journal: $(cat "$d/out")"
	[ -e "$d/models/$UUID.db" ] && fail "locked journal: a model database"
else
	echo "note: journal-damage not built; the locked-journal case skipped"
fi
# --test-rollback --json: the rolled-back migration and its differences.
d=$(fresh json-test-rollback)
printf '%s\n' "$base" >"$d/model.json"
(cd "$d" && "$mmig" import --json --quiet --test-rollback model.json >out 2>err) ||
	fail "--json --test-rollback: $(cat "$d/err")"
check_json "$d/out" '
assert o["outcome"] == "committed", o
tr = o["test_rollback"]
assert tr["differences"] == 0 and tr["migration_id"] != o["migration_id"], o' ||
	fail "--json --test-rollback: $(cat "$d/out")"
ok

# ---- "-" for standard input and output (issue 14) -------------------------
d=$(fresh stdio)
printf '%s\n' "$base" >"$d/model.json"
(cd "$d" && "$mmig" import --quiet - <model.json) || fail "import -"
[ "$(q "$d/controller.db" "SELECT status FROM models WHERE uuid='$UUID'")" = active ] ||
	fail "import -: controller row"
(cd "$d" && "$mmig" export "$UUID" -o - >a.yaml && "$mmig" export "$UUID" >b.yaml) ||
	fail "export -o -"
[ -s "$d/a.yaml" ] && cmp -s "$d/a.yaml" "$d/b.yaml" || fail "export -o -: differs"
[ -e "$d/-" ] && fail "export -o -: wrote a file named -"
"$mmig" gen-model --seed 3 -o - >"$d/g1.json"
"$mmig" gen-model --seed 3 >"$d/g2.json"
cmp -s "$d/g1.json" "$d/g2.json" || fail "gen-model -o -: differs"
[ -e "$d/-" ] && fail "gen-model -o -: wrote a file named -"
set +e
printf '{ "version": 1,' | (cd "$d" && "$mmig" import - >out 2>err)
rc=$?
set -e
[ $rc = 2 ] && grep -q '^mmig: description: stdin: line ' "$d/err" ||
	fail "import - malformed: exit $rc: $(cat "$d/err")"
if [ -d "$data" ]; then
	"$mmig" gen-model --from-bundle - --seed 4 \
		<"$data/bundle-charmed-kubernetes-1.35.yaml" >"$d/b1.yaml" ||
		fail "--from-bundle -"
	"$mmig" gen-model --from-bundle "$data/bundle-charmed-kubernetes-1.35.yaml" \
		--seed 4 >"$d/b2.yaml"
	cmp -s "$d/b1.yaml" "$d/b2.yaml" || fail "--from-bundle -: differs"
fi
ok

# ---- help, the version's form (issue 14) ----------------------------------
cmp -s <("$mmig" help) <("$mmig" --help) || fail "help != --help"
for c in import gen-model export bench; do
	cmp -s <("$mmig" help $c) <("$mmig" $c --help) || fail "help $c"
done
cmp -s <("$mmig" help --version) <("$mmig" --version) || fail "help --version"
set +e
"$mmig" help frobnicate >/dev/null 2>"$work/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "unknown command 'frobnicate'" "$work/err" || fail "help frobnicate: $rc"
"$mmig" --version | grep -qxE 'mmig \(libmmig\) [0-9]+\.[0-9]+\.[0-9]+' ||
	fail "--version form: $("$mmig" --version)"
ok

# ---- gen-model refuses what import refuses, in import's words (issue 14) --
d=$(fresh gen-limits)
while IFS='|' read -r args want; do
	set +e
	# shellcheck disable=SC2086
	"$mmig" gen-model $args -o "$d/x.json" 2>"$d/err"
	rc=$?
	set -e
	[ $rc = 1 ] || fail "gen-model $args: exit $rc"
	grep -qF "mmig: gen-model: $want; import would refuse the model" "$d/err" ||
		fail "gen-model $args: $(cat "$d/err")"
	[ -e "$d/x.json" ] && fail "gen-model $args: wrote its file"
done <<-'LIMITS'
--machines 1000001|machines: 1000001 entries, at most 1000000
--applications 100001 --units-per-app 0|applications: 100001 entries, at most 100000
--applications 1001 --units-per-app 1000|applications: 1001000 units in all, at most 1000000
--machines 0 --applications 1500 --units-per-app 0 --relations 1000001|relations: 1000001 entries, at most 1000000
--applications 18446744073709551615 --units-per-app 2|applications: 18446744073709551615 entries, at most 100000
LIMITS
# At the limit it is written; over it, import says the same words.
"$mmig" gen-model --machines 0 --applications 100000 --units-per-app 0 \
	--relations 0 -o "$d/at.json" || fail "gen-model at the limit"
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("{\"version\": 1, \"model\": {\"uuid\": \"0f5c3d1e-8a2b-4c6d-9e7f-1a2b3c4d5e6f\", \"name\": \"m\", \"owner\": \"a\", \"cloud\": \"c\"}, \"applications\": [")
    f.write(",".join("{\"name\": \"a%d\", \"charm\": \"c\"}" % i for i in range(100001)))
    f.write("]}\n")' "$d/over.json"
set +e
(cd "$d" && "$mmig" import over.json >out 2>err); rc=$?
set -e
[ $rc = 2 ] && grep -qF "mmig: description: over.json: applications: 100001 entries, at most 100000" \
	"$d/err" || fail "import over the limit: exit $rc: $(cat "$d/err")"
ok

# ---- TERM=dumb and terminals (issue 14) -----------------------------------
# script(1) runs the import on a pseudo-terminal; a pty turns each \n into
# \r\n, so a redraw is a \r followed by anything but \n.
on_tty() { # TERM OUTFILE COMMAND...
	local term=$1 out=$2
	shift 2
	TERM=$term script -qefc "$(printf '%q ' "$@")" /dev/null >"$out" 2>&1 </dev/null || true
}
has_escapes() { python3 -c '
import re, sys
b = open(sys.argv[1], "rb").read()
sys.exit(0 if b"\x1b" in b or re.search(rb"\r[^\n]", b) else 1)' "$1"; }
d=$(fresh tty)
"$mmig" gen-model --machines 3000 --applications 30 --units-per-app 200 \
	--seed 11 -o "$d/model.json"
on_tty xterm "$d/xterm.out" "$mmig" import --journal "$d/j1" \
	--controller-db "$d/c1.db" --model-dir "$d/m1" "$d/model.json"
grep -q "committed" "$d/xterm.out" || fail "tty import: $(cat -v "$d/xterm.out")"
has_escapes "$d/xterm.out" || fail "a terminal got no progress bar: $(cat -v "$d/xterm.out")"
for term in dumb ""; do
	on_tty "$term" "$d/dumb.out" "$mmig" import --journal "$d/j-$term" \
		--controller-db "$d/c-$term.db" --model-dir "$d/m-$term" "$d/model.json"
	grep -q "committed" "$d/dumb.out" || fail "TERM=$term import: $(cat -v "$d/dumb.out")"
	has_escapes "$d/dumb.out" && fail "TERM='$term': escapes: $(cat -v "$d/dumb.out")"
	[ "$(grep -c ' rows in ' "$d/dumb.out")" = 7 ] ||
		fail "TERM='$term': not plain lines: $(cat -v "$d/dumb.out")"
done
ok

# ---- malformed descriptions: exit 2, the message, nothing left -----------
# Each case: a name, a sed expression applied to the valid description, and
# a fragment of the message that must name the problem.
bad_cases=(
	"truncated|s/\"relations\".*//|line 13, column 2"
	"trailing-garbage|\$s/\$/ x/|line 14, column 2"
	"version-2|s/\"version\": 1/\"version\": 2/|version"
	"version-missing|s/\"version\": 1,//|version"
	"version-string|s/\"version\": 1/\"version\": \"1\"/|version"
	"uuid-upper|s/0f5c3d1e/0F5C3D1E/|model.uuid"
	"uuid-short|s/-1a2b3c4d5e6f\"/\"/|model.uuid"
	"unknown-key-top|s/\"version\": 1,/\"version\": 1, \"extra\": 1,/|extra"
	"unknown-key-machine|s/\"id\": \"1\",/\"id\": \"1\", \"size\": 2,/|machines[1]"
	"duplicate-key|s/\"name\": \"prod\",/\"name\": \"prod\", \"name\": \"x\",/|duplicate object key"
	"machine-leading-zero|s/\"id\": \"1\"/\"id\": \"01\"/|machines[1].id"
	"machine-duplicate|s/\"id\": \"1\"/\"id\": \"0\"/|machines[1].id: duplicate"
	"unit-other-app|s/\"wordpress\\/1\"/\"mysql\\/1\"/|applications[1].units[1].name"
	"unit-no-machine|s/\"machine\": \"1\"/\"machine\": \"17\"/|no machine \"17\""
	"unit-duplicate|s/\"wordpress\\/1\"/\"wordpress\\/0\"/|applications[1].units[1].name: duplicate unit"
	"unit-bad-number|s/\"wordpress\\/1\"/\"wordpress\\/x\"/|applications[1].units[1].name"
	"relation-unknown-app|s/\"mysql:db\" \\]/\"redis:db\" ]/|no application \"redis\""
	"relation-one-endpoint|s/\"wordpress:db\", \"mysql:db\"/\"wordpress:db\"/|1 endpoint, want 2"
	"relation-self|s/\"mysql:db\" \\]/\"wordpress:db\" ]/|to itself"
	"relation-duplicate|s/\\] } \\] }/] }, { \"endpoints\": [ \"mysql:db\", \"wordpress:db\" ] } ] }/|relations[1]: duplicate of relations[0]"
	"app-name-upper|s/\"name\": \"mysql\"/\"name\": \"MySQL\"/|applications[0].name"
	"owner-empty|s/\"owner\": \"admin\"/\"owner\": \"\"/|model.owner"
	"config-null|s/\"port\": 8080/\"port\": null/|model.config.port"
	"config-object|s/\"port\": 8080/\"port\": {}/|model.config.port"
	"charm-missing|s/\"charm\": \"ch:mysql-1\", //|applications[0].charm: missing"
	"machines-not-array|s/\"machines\": \\[/\"machines\": {\"x\": [/;s/\"ubuntu@24.04\" } \\],/\"ubuntu@24.04\" } ]},/|machines"
	"owner-control-char|s/\"owner\": \"admin\"/\"owner\": \"ad\\\\u0001min\"/|model.owner"
	"empty-file|s/.*//|line 1, column 0"
)
for c in "${bad_cases[@]}"; do
	IFS='|' read -r name expr want <<<"$c"
	d=$(fresh "bad-$name")
	printf '%s\n' "$base" | sed -z "$expr" >"$d/model.json"
	cmp -s "$d/model.json" <(printf '%s\n' "$base") &&
		fail "bad $name: the edit did not apply"
	set +e
	(cd "$d" && "$mmig" import model.json >out 2>err)
	rc=$?
	set -e
	[ $rc = 2 ] || fail "bad $name: exit $rc ($(cat "$d/err"))"
	[ "$(wc -l <"$d/err")" = 1 ] || fail "bad $name: not one line: $(cat "$d/err")"
	grep -q '^mmig: description: model.json: ' "$d/err" ||
		fail "bad $name: message $(cat "$d/err")"
	grep -qF -- "$want" "$d/err" || fail "bad $name: want '$want' in $(cat "$d/err")"
	assert_nothing_left "$d" "bad $name"
done
# A description that is not there at all.
d=$(fresh bad-missing)
set +e
(cd "$d" && "$mmig" import nothing.json >out 2>err)
rc=$?
set -e
[ $rc = 2 ] && grep -q "nothing.json" "$d/err" || fail "missing file: exit $rc"
assert_nothing_left "$d" "missing file"
ok

# ---- --test-rollback ------------------------------------------------------
d=$(fresh rollback)
# Another model first, so the controller holds a row that must survive.
"$mmig" gen-model --seed 5 -o "$d/other.json"
"$mmig" gen-model --machines 300 --applications 6 --units-per-app 40 \
	--relations 5 --seed 6 -o "$d/model.json"
(cd "$d" && "$mmig" import --quiet other.json) || fail "rollback: first import"
(cd "$d" && "$mmig" import --test-rollback model.json >out 2>err) ||
	fail "--test-rollback: $(cat "$d/err")"
grep -q "exactly as before" "$d/out" || fail "--test-rollback: $(cat "$d/out")"
[ "$(grep -c '^migration ' "$d/out")" = 2 ] || fail "--test-rollback: $(cat "$d/out")"
[ "$(q "$d/controller.db" "SELECT count(*) FROM models WHERE status='active'")" = 2 ] ||
	fail "--test-rollback: both models active at the end"
ok

# ---- signals during a large import ----------------------------------------
big="$work/big.json"
"$mmig" gen-model --machines 20000 --applications 300 --units-per-app 2000 \
	--relations 100 --seed 9 -o "$big"
big_uuid=$(sed -n 's/.*"uuid": "\([0-9a-f-]*\)".*/\1/p' "$big" | head -1)

# Parsing a large description on a terminal: a status line redrawn in
# place; with TERM=dumb the plain lines and no escape.  (A byte of garbage
# at the end: the whole description is parsed, then refused, nothing made.)
d=$(fresh parse-tty)
"$mmig" gen-model --machines 5000 --applications 100 --units-per-app 1800 \
	--relations 50 --seed 12 -o "$d/bad.json"
echo x >>"$d/bad.json"
[ "$(stat -c %s "$d/bad.json")" -ge $((8 << 20)) ] || fail "parse-tty: not large"
on_tty xterm "$d/xterm.out" "$mmig" import --journal "$d/j" \
	--controller-db "$d/c.db" --model-dir "$d/m" "$d/bad.json"
grep -q "description: parsing .*bad.json (" "$d/xterm.out" && has_escapes "$d/xterm.out" ||
	fail "parsing on a terminal: $(cat -v "$d/xterm.out")"
grep -q "mmig: description: .*bad.json: line " "$d/xterm.out" ||
	fail "parsing on a terminal: no error: $(cat -v "$d/xterm.out")"
on_tty dumb "$d/dumb.out" "$mmig" import --journal "$d/j" \
	--controller-db "$d/c.db" --model-dir "$d/m" "$d/bad.json"
has_escapes "$d/dumb.out" && fail "parsing, TERM=dumb: $(cat -v "$d/dumb.out")"
grep -q "bytes read in .* s, parsing" "$d/dumb.out" ||
	fail "parsing, TERM=dumb: $(cat -v "$d/dumb.out")"
rm "$d/bad.json" "$d/xterm.out" "$d/dumb.out"
assert_nothing_left "$d" "parsing a bad large description"
ok

# Start an import in $1 with extra options, signal it with $2 once the units
# operation is under way, and leave its exit status in $d/rc.
interrupt() {
	local d=$1 sig=$2
	shift 2
	(cd "$d" && exec "$mmig" import "$@" "$big" >out 2>err) &
	local pid=$!
	# The plain progress lines say when each operation is done.
	for _ in $(seq 1 3000); do
		grep -q '^mmig: applications ' "$d/err" 2>/dev/null && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.01
	done
	kill -s "$sig" $pid 2>/dev/null || true
	set +e
	wait $pid
	echo $? >"$d/rc"
	set -e
}

for sig in INT TERM; do
	d=$(fresh "sig-$sig")
	json=()
	[ $sig = TERM ] && json=(--json)
	interrupt "$d" $sig "${json[@]}"
	rc=$(cat "$d/rc")
	[ "$rc" = 1 ] || fail "SIG$sig rollback: exit $rc: $(cat "$d/err")"
	grep -q "context canceled" "$d/err" || fail "SIG$sig: $(cat "$d/err")"
	# A large description: plain lines while it is read and parsed.
	grep -qE "^mmig: description: .*big.json: [0-9]+ bytes read in .* s, parsing$" \
		"$d/err" && grep -q "^mmig: description: .*big.json: parsed in " "$d/err" ||
		fail "SIG$sig: no parsing progress: $(head -3 "$d/err")"
	if [ $sig = TERM ]; then
		check_json "$d/out" '
assert o["outcome"] == "rolled-back" and o["signal"] == "SIGTERM", o
assert o["exit_status"] == 1 and "context canceled" in o["error"], o
assert o["tables"] is None and o["description"]["units"] == 600000, o' ||
			fail "SIGTERM --json: $(cat "$d/out")"
	else
		grep -q ": rolled-back$" "$d/out" || fail "SIG$sig: $(cat "$d/out")"
	fi
	[ "$(q "$d/controller.db" "SELECT count(*) FROM models")" = 0 ] ||
		fail "SIG$sig: controller row left"
	ls "$d/models" | grep -q . && fail "SIG$sig: left $(ls "$d/models")"
done
ok

d=$(fresh sig-pause)
interrupt "$d" INT --policy pause
rc=$(cat "$d/rc")
[ "$rc" = 3 ] || fail "SIGINT pause: exit $rc: $(cat "$d/err")"
grep -q ": paused " "$d/out" || fail "SIGINT pause: $(cat "$d/out")"
# Paused means nothing undone: the row is still importing, and the units
# written so far are still there, short of the whole.
[ "$(q "$d/controller.db" "SELECT status FROM models")" = importing ] ||
	fail "pause: controller row"
n=$(q "$d/models/$big_uuid.db" "SELECT count(*) FROM units")
[ "$n" -lt 600000 ] || fail "pause: all $n units written"
if [ -x "$recover" ]; then
	"$recover" --journal "$d/mmig-journal" list >"$d/list" 2>&1 ||
		true # exit 1: something needs attention, which a pause is
	grep -q PAUSED "$d/list" || fail "pause: journal: $(cat "$d/list")"
else
	echo "note: mmig-recover not built; journal state of the pause unchecked"
fi
# While it is paused, the same model is not imported again.
set +e
(cd "$d" && "$mmig" import "$big" >out3 2>err3)
rc=$?
set -e
[ $rc = 1 ] && grep -q "in flight" "$d/err3" || fail "import while paused: exit $rc"
ok

# ---- modes (issue 13): owner-only whatever the umask; --file-mode widens
d=$(fresh modes)
"$mmig" gen-model --machines 2 --applications 1 --units-per-app 1 -o "$d/m.json"
(cd "$d" && umask 000 && "$mmig" import --quiet m.json) || fail "modes: import"
for f in controller.db models mmig-journal; do
	want=600
	[ -d "$d/$f" ] && want=700
	[ "$(stat -c %a "$d/$f")" = $want ] || fail "modes: $f is $(stat -c %a "$d/$f"), want $want"
done
for f in "$d"/models/*; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "modes: $f is $(stat -c %a "$f")"
done
d=$(fresh modes-wide)
"$mmig" gen-model --machines 2 --applications 1 --units-per-app 1 -o "$d/m.json"
(cd "$d" && umask 077 && "$mmig" import --quiet --file-mode 0640 \
	--model-dir var/models m.json) || fail "modes: import --file-mode 0640"
for f in controller.db var/models/*.db; do
	[ "$(stat -c %a "$d"/$f)" = 640 ] || fail "modes: --file-mode 0640: $f is $(stat -c %a "$d"/$f)"
done
for f in var var/models; do
	[ "$(stat -c %a "$d/$f")" = 750 ] || fail "modes: --file-mode 0640: $f is $(stat -c %a "$d/$f")"
done
# --test-rollback makes the controller database itself: the same mode.
d=$(fresh modes-test-rollback)
"$mmig" gen-model --machines 2 --applications 1 --units-per-app 1 -o "$d/m.json"
(cd "$d" && umask 000 && "$mmig" import --quiet --test-rollback m.json) ||
	fail "modes: --test-rollback"
[ "$(stat -c %a "$d/controller.db")" = 600 ] || fail "modes: --test-rollback: controller.db"
d=$(fresh modes-test-rollback-wide)
"$mmig" gen-model --machines 2 --applications 1 --units-per-app 1 -o "$d/m.json"
(cd "$d" && "$mmig" import --quiet --test-rollback --file-mode 0660 m.json) ||
	fail "modes: --test-rollback --file-mode 0660"
[ "$(stat -c %a "$d/controller.db")" = 660 ] || fail "modes: --test-rollback: controller.db 0660"
for bad in 0755 0400 4600 rw 06000 ""; do
	set +e
	(cd "$d" && "$mmig" import --file-mode "$bad" m.json >/dev/null 2>"$d/err")
	rc=$?
	set -e
	[ $rc = 2 ] && grep -q -- "--file-mode" "$d/err" || fail "--file-mode '$bad': exit $rc"
done
ok

# ---- juju/description documents -----------------------------------------
if [ -n "$yaml_same" ] && [ -d "$data" ]; then
	# file uuid machines units relations endpoints no-machine-units
	# principals kind
	while read -r f uuid machines units relations endpoints nomachine \
		principals type; do
		d=$(fresh "juju-$f")
		(cd "$d" && "$mmig" import "$data/$f" --durability process \
			>out 2>err) || fail "import $f: $(cat "$d/err")"
		grep -q "values without a column kept as written" "$d/err" ||
			fail "import $f: no summary"
		db="$d/models/$uuid.db"
		[ "$(q "$db" "SELECT count(*) FROM machines")" = "$machines" ] ||
			fail "$f: machines"
		[ "$(q "$db" "SELECT count(*) FROM units")" = "$units" ] ||
			fail "$f: units"
		[ "$(q "$db" "SELECT count(*) FROM relations")" = "$relations" ] ||
			fail "$f: relations"
		[ "$(q "$db" "SELECT count(*) FROM relation_endpoints")" = "$endpoints" ] ||
			fail "$f: endpoints"
		[ "$(q "$db" "SELECT count(*) FROM units WHERE machine IS NULL")" = "$nomachine" ] ||
			fail "$f: units without a machine"
		[ "$(q "$db" "SELECT count(*) FROM units WHERE principal IS NOT NULL")" = "$principals" ] ||
			fail "$f: subordinate units"
		[ "$(q "$db" "SELECT type FROM model")" = "$type" ] || fail "$f: type"
		[ "$(q "$db" "PRAGMA user_version")" = 2 ] || fail "$f: schema"
		[ "$(stat -c %a "$db")" = 600 ] || fail "$f: model database not 0600"
		# Every container row names its parent and type.
		[ "$(q "$db" "SELECT count(*) FROM machines WHERE parent IS NOT NULL
			AND (container_type IS NULL OR id NOT LIKE parent || '/' ||
			container_type || '/%')")" = 0 ] || fail "$f: containers"
		(cd "$d" && "$mmig" export "$uuid" -o exported.yaml) ||
			fail "export $f"
		[ "$(stat -c %a "$d/exported.yaml")" = 600 ] ||
			fail "$f: export not 0600"
		# Each is older than the current versions (model 1 or 12):
		# exported at the current versions, every value of the input
		# in it.
		"$yaml_same" --upgraded "$data/$f" "$d/exported.yaml" ||
			fail "$f: export is not the input upgraded"
		"$yaml_same" --upgraded "$data/$f" "$data/$f" 2>/dev/null &&
			fail "$f: the upgrade check passes the input itself"
		grep -q "^version: 14$" "$d/exported.yaml" ||
			fail "$f: export not at model version 14"
		if [ "$f" = iaas-small.yaml ]; then
			clean_export=$d/exported.yaml
		fi
		# export -> import -> export is stable, to the byte.
		d2=$(fresh "juju2-$f")
		(cd "$d2" && "$mmig" import "$d/exported.yaml" --quiet \
			--durability process && "$mmig" export "$uuid" >again.yaml) ||
			fail "$f: import of the export"
		cmp -s "$d/exported.yaml" "$d2/again.yaml" ||
			fail "$f: second export differs"
		ok
	done <<-EOF
	juju-model-dump-v1-juju2.1.yaml bd3fae18-5ea1-4bc5-8837-45400cf1f8f6 1 1 0 0 0 0 iaas
	iaas-small.yaml 3a5b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d 6 7 4 7 0 2 iaas
	caas-small.yaml 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b 0 6 1 2 6 0 caas
	iaas-large.yaml 7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f 600 1000 40 64 0 200 iaas
	EOF

	# Export: usage and refusals.
	d=$(fresh export-usage)
	set +e
	(cd "$d" && "$mmig" export NOT-A-UUID 2>err); rc=$?
	[ $rc = 2 ] || fail "export bad uuid: exit $rc"
	(cd "$d" && "$mmig" export "$UUID" -o x.yaml 2>err); rc=$?
	set -e
	[ $rc = 1 ] && grep -q "export:" "$d/err" || fail "export unknown: exit $rc"
	[ ! -e "$d/x.yaml" ] || fail "export unknown: left its file"
	ls "$d" | grep -q tmp && fail "export unknown: left a temporary file"
	"$mmig" export --help | grep -q "0600" || fail "export --help"
	ok

	# Malformed documents: exit 2, line and column, nothing left behind.
	n=0
	while IFS='|' read -r from to want; do
		d=$(fresh juju-bad)
		sed "0,/$from/s//$to/" "$data/iaas-small.yaml" >"$d/bad.yaml"
		cmp -s "$data/iaas-small.yaml" "$d/bad.yaml" &&
			fail "malformed: '$from' not found"
		set +e
		(cd "$d" && "$mmig" import bad.yaml >out 2>err); rc=$?
		set -e
		[ $rc = 2 ] || fail "malformed '$to': exit $rc"
		grep -q "line [0-9]*, column [0-9]*: .*$want" "$d/err" ||
			fail "malformed '$to': $(cat "$d/err")"
		rm -f "$d/bad.yaml" "$d/out" "$d/err"
		assert_nothing_left "$d" "malformed '$to'"
		n=$((n + 1))
	done <<-'EOF'
	^  version: 4$|  version: 5|machines version 5 is not one we read
	machine: 0\/lxd\/0|machine: 0\/lxd\/7|which the model does not have
	principal: wordpress\/0|principal: ""|has no principal
	^cloud: aws$|cloud: aws\ncloud: aws|duplicate key
	^owner: admin$|owner: \&o admin\nx: *o|aliases
	^version: 12$|version: 12\n- oops|
	EOF
	[ $n = 6 ] || fail "malformed: $n cases"
	ok

	# A real topology (containers, subordinates, a peer relation) killed
	# with SIGKILL as each data operation starts, then recovered under both
	# policies: rolled back, nothing is left; resumed, the export is the
	# input at the current versions, to the byte what a clean import
	# exports.  (MMIG_FAULT, core/fault.h.)
	if [ -x "$recover" ]; then
		big=$data/iaas-small.yaml
		bu=3a5b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
		for op in 1 2 3 4 5; do
			for policy in rollback resume; do
				d=$(fresh "kill-$op-$policy")
				set +e
				(cd "$d" && MMIG_FAULT=OP_EXECUTE:$op:kill "$mmig" \
					import "$big" --quiet >/dev/null 2>&1)
				rc=$?
				set -e
				[ $rc = 137 ] || fail "kill at op $op: exit $rc"
				(cd "$d" && "$recover" --journal mmig-journal \
					--controller-db controller.db --model-dir models \
					recover --policy "$policy" >out 2>err) ||
					fail "recover $policy after op $op: $(cat "$d/err")"
				if [ "$policy" = rollback ]; then
					grep -q "rolled-back" "$d/out" ||
						fail "rollback after op $op: $(cat "$d/out")"
					# Killed before create-model: no models table yet.
					n=$(q "$d/controller.db" "SELECT count(*) FROM models" \
						2>/dev/null || echo 0)
					[ "$n" = 0 ] ||
						fail "rollback after op $op: controller row left"
					[ -e "$d/models/$bu.db" ] &&
						fail "rollback after op $op: model database left"
				else
					grep -q "committed" "$d/out" ||
						fail "resume after op $op: $(cat "$d/out")"
					(cd "$d" && "$mmig" export "$bu" -o back.yaml) ||
						fail "export after resume at op $op"
					"$yaml_same" --upgraded "$big" "$d/back.yaml" ||
						fail "resume after op $op: export differs"
					cmp -s "$clean_export" "$d/back.yaml" ||
						fail "resume after op $op: export is not a clean import's"
				fi
			done
		done
		ok
	fi
else
	echo "note: yaml-same or the Juju test data not given; juju/description cases skipped"
fi

# ---- mmig bench interrupted: its scratch directory removed (issue 14) ------
for sig in INT TERM; do
	d=$(fresh "bench-$sig")
	"$mmig" bench --quick --dir "$d" >"$d/out" 2>"$d/err" &
	pid=$!
	# Interrupted once it is measuring: the scratch directory has files.
	for _ in $(seq 1 600); do
		ls -A "$d"/mmig-bench.*/ 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	ls -A "$d"/mmig-bench.*/ 2>/dev/null | grep -q . || fail "bench never started"
	sleep 0.5
	kill -s $sig $pid
	set +e
	wait $pid
	rc=$?
	set -e
	want=$((128 + $(kill -l $sig)))
	[ $rc = $want ] || fail "bench SIG$sig: exit $rc, want $want: $(cat "$d/err")"
	ls -d "$d"/mmig-bench.* 2>/dev/null && fail "bench SIG$sig: scratch directory left"
	grep -q "interrupted by signal" "$d/err" || fail "bench SIG$sig: $(cat "$d/err")"
done
ok

echo "mmig-cli: $passed passed, 0 failed"
