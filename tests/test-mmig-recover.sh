#!/usr/bin/env bash
# tests/test-mmig-recover.sh - mmig-recover run as an operator and a script
# would run it: every command, its JSON, its exit status (0 settled or
# clean, 1 failed / refused / needs attention, 2 usage), --help and
# --version everywhere, errors one line on stderr, read-only commands that
# neither create nor change a journal, verify on a damaged journal, prune,
# and plan / recover / resume / rollback on migrations left behind by a
# process killed mid-operation.
#
# usage: test-mmig-recover.sh MMIG-RECOVER EMBED-EXAMPLE CRASH-HELPER
#                             CRASH-PLUGIN.so JOURNAL-DAMAGE MMIG
#
# Every check runs; the script fails at the end if any did.
set -uo pipefail
# Absolute paths: some checks run from another directory.
recover=$(realpath "$1") example=$(realpath "$2") helper=$(realpath "$3")
plugin=$(realpath "$4") damage=$(realpath "$5") mmig=$(realpath "$6")
work=$(mktemp -d)
hang_pid=
cleanup() {
	[ -n "$hang_pid" ] && kill -9 "$hang_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export CRASH_COUNTS=$work/counts
unset CRASH_FAIL_ROLLBACK MMIG_FAULT

checks=0 failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
ok() { checks=$((checks + 1)); }

# expect RC CMD...: run CMD; stdout in $out, stderr in $err; check the exit.
expect() {
	local want=$1
	shift
	out=$("$@" 2>"$work/stderr")
	rc=$?
	err=$(<"$work/stderr")
	if [ "$rc" != "$want" ]; then
		fail "$(basename "$1") ${*:2}: exit $rc, want $want" \
			"(stdout: ${out:0:400}) (stderr: ${err:0:400})"
		return 1
	fi
	ok
}
# has TEXT NEEDLE WHAT: TEXT contains NEEDLE.
has() {
	if [[ $1 == *"$2"* ]]; then ok; else fail "$3: no \"$2\" in: ${1:0:600}"; fi
}
hasnt() {
	if [[ $1 != *"$2"* ]]; then ok; else fail "$3: \"$2\" in: ${1:0:600}"; fi
}
same() {
	if [ "$1" = "$2" ]; then ok; else fail "$3: \"$1\" != \"$2\""; fi
}
# pyjson JSON CODE: run python CODE with the parsed JSON as d.
pyjson() {
	if python3 -c '
import json, re, sys
d = json.loads(sys.argv[1])
exec(sys.argv[2])
' "$1" "$2"; then ok; else fail "json check: $2 on: ${1:0:600}"; fi
}
# jget JSON EXPR: print a value from JSON.
jget() {
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# A journal and its databases; R runs mmig-recover on them.
use() {
	J=$work/$1/j C=$work/$1/c.db M=$work/$1/m
	mkdir -p "$work/$1"
}
R() { "$recover" --journal "$J" --controller-db "$C" --model-dir "$M" "$@"; }
# The journal's data file: LMDB keeps readers in lock.mdb, so "nothing
# written" is checked on data.mdb, where every record lives.
snap() { cksum <"$J/data.mdb"; }

commands=(list show watch plan recover resume rollback verify dump prune compact)

# ---- --help and --version, everywhere -------------------------------------
expect 0 "$recover" --help
has "$out" "usage: mmig-recover" "--help"
for c in "${commands[@]}"; do has "$out" "  $c" "--help lists $c"; done
has "$out" "Exit status: 0" "--help documents exit status"
expect 0 "$recover" -h
# --version: "NAME (libmmig) X.Y.Z", the form both tools print (issue 14).
version_form() {
	if [[ $1 =~ ^mmig-recover\ \(libmmig\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then ok; else
		fail "$2: \"$1\" is not \"mmig-recover (libmmig) X.Y.Z\""
	fi
}
expect 0 "$recover" --version && version_form "$out" "--version"
expect 0 "$recover" -V && version_form "$out" "-V"
help_all=$("$recover" --help)
for c in "${commands[@]}"; do
	expect 0 "$recover" "$c" --help && {
		has "$out" "usage: mmig-recover [GLOBAL OPTIONS] $c" "$c --help"
		has "$out" "Exit status" "$c --help"
	}
	# help COMMAND is COMMAND --help, word for word
	cmd_help=$out
	expect 0 "$recover" help "$c" && same "$out" "$cmd_help" "help $c is $c --help"
	expect 0 "$recover" "$c" --version && version_form "$out" "$c --version"
done
has "$help_all" "  help [COMMAND]" "--help lists help"
expect 0 "$recover" help && same "$out" "$help_all" "help is --help"
expect 0 "$recover" help --help && same "$out" "$help_all" "help --help is --help"
expect 0 "$recover" --journal /nonexistent/j help list && has "$out" "usage: mmig-recover [GLOBAL OPTIONS] list" "global options before help"
# --help wins over a missing ID: asking how is never a usage error.
expect 0 "$recover" show --help

# ---- usage errors: exit 2, one line naming what is wrong -----------------
usage_error() {
	local msg=$1
	shift
	expect 2 "$recover" "$@" && {
		has "$err" "$msg" "$*"
		same "$(printf '%s\n' "$err" | wc -l)" 1 "$* prints one line"
		same "$out" "" "$* prints nothing on stdout"
	}
}
expect 2 "$recover" && has "$err" "usage: mmig-recover" "no command"
usage_error 'mmig-recover: usage: unknown command "frob"' frob
usage_error 'mmig-recover: usage: unknown option --bogus' --bogus list
usage_error 'mmig-recover: list: unknown option --bogus' list --bogus
usage_error 'mmig-recover: list: unknown option -x' list -x
usage_error 'mmig-recover: list: list does not take --force' list --force
usage_error 'mmig-recover: verify: verify does not take --all' --all verify
usage_error 'mmig-recover: dump: dump does not take --json' dump --json
usage_error 'mmig-recover: recover: recover does not take --keep' recover --keep 1
usage_error 'mmig-recover: list: unexpected argument "extra"' list extra
usage_error 'mmig-recover: show: unexpected argument "b"' show a b
for c in show resume rollback; do
	usage_error "mmig-recover: $c: missing migration ID" "$c"
done
usage_error 'mmig-recover: show: empty migration ID' show ''
usage_error 'mmig-recover: prune: say what to prune' prune
usage_error 'mmig-recover: prune: --older-than: bad duration "5x"' prune --older-than 5x
usage_error 'mmig-recover: prune: --older-than: bad duration "30"' prune --older-than 30
usage_error 'mmig-recover: prune: --older-than: bad duration "d"' prune --older-than d
usage_error 'mmig-recover: prune: --keep: "-1" is not a count' prune --keep -1
usage_error 'mmig-recover: prune: --keep: "many" is not a count' prune --keep many
usage_error 'mmig-recover: recover: --policy: "sideways" is neither' recover --policy sideways
usage_error 'mmig-recover: prune: option --keep needs a value' prune --keep
usage_error 'mmig-recover: usage: option --journal needs a value' --journal
usage_error 'mmig-recover: help: unknown command "frob" (try mmig-recover help)' help frob
usage_error 'mmig-recover: help: unexpected argument "b"' help list b

# ---- a journal that does not exist yet: nothing in flight -----------------
# A process killed before it made its journal leaves none; recovery at the
# next start must not fail on that (issue 13).  Said on stderr, exit 0,
# nothing created.  A path whose parent does not exist is still an error.
use missing
for args in "list" "plan" "verify" "dump" "recover" "prune --keep 1" "compact"; do
	# shellcheck disable=SC2086
	expect 0 R $args &&
		same "$err" "mmig-recover: open journal: $J: no journal there yet: nothing in flight" \
			"$args on a missing journal"
	[ -e "$J" ] && fail "$args created the journal"
done
expect 0 R list && same "$out" "no migrations in flight" "list of a missing journal"
expect 0 R list --json && {
	pyjson "$out" 'assert d == [], d'
	has "$err" "no journal there yet" "list --json says so on stderr"
}
expect 0 R recover --json && pyjson "$out" "assert d == {'items': [], 'count': 0, 'unsettled': 0}, d"
for args in "show abc" "resume abc" "rollback abc"; do
	# shellcheck disable=SC2086
	expect 1 R $args && has "$err" "migration abc: not in the journal" "$args on a missing journal"
done
[ -e "$J" ] && fail "a command created the missing journal"
J=$work/missing/no-such-dir/j
for args in "list" "recover" "prune --keep 1"; do
	# shellcheck disable=SC2086
	expect 1 R $args &&
		same "$err" "mmig-recover: open journal: $J: No such file or directory" \
			"$args with a missing parent"
done
[ -e "$work/missing/no-such-dir" ] && fail "the missing parent was created"
# An empty directory (an import that failed before its journal was made
# leaves one, made 0700) holds nothing in flight either, and no command
# makes a journal in it; a work directory a dead creation left is ours.
use emptydir
mkdir -p "$J/.mmig-new-999999"
for args in "list" "plan" "verify" "dump" "recover" "prune --keep 1" "compact"; do
	# shellcheck disable=SC2086
	expect 0 R $args &&
		same "$err" "mmig-recover: open journal: $J: no journal there yet: nothing in flight" \
			"$args on an empty directory"
	[ -e "$J/data.mdb" ] && { fail "$args made a journal in an empty directory"; rm -f "$J"/*.mdb; }
done
expect 0 R list --json && pyjson "$out" 'assert d == [], d'
# A directory of other files: every command names the cause, read-only
# ones too (not "No such file or directory").
use otherfiles-ro
mkdir -p "$J"
echo "not ours" >"$J/notes.txt"
for args in "list" "verify" "dump" "show abc"; do
	# shellcheck disable=SC2086
	expect 1 R $args && has "$err" "not a libmmig journal (the directory holds other files" "$args on a directory of other files"
done
same "$(ls -A "$J")" "notes.txt" "the directory of other files was left as it was (read-only)"
mkdir -p "$work/cwd"
cd "$work/cwd" || exit 1
expect 0 "$recover" list &&
	same "$err" "mmig-recover: open journal: ./mmig-journal: no journal there yet: nothing in flight" \
		"default journal path"
[ -e "$work/cwd/mmig-journal" ] && fail "list created ./mmig-journal"
cd - >/dev/null || exit 1

# ---- another program's LMDB environment: refused, not a byte written ------
use foreign
mkdir -p "$J"
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n alice\n 1\nDATA=END\n' |
	mdb_load -s users "$J" || fail "mdb_load"
sum=$(sha256sum <"$J/data.mdb")
for args in "list" "verify" "dump" "recover" "plan" "prune --keep 0" "compact" \
	"show abc" "rollback abc"; do
	# shellcheck disable=SC2086
	expect 1 R $args && has "$err" "not a libmmig journal" "$args on a foreign environment"
done
same "$(sha256sum <"$J/data.mdb")" "$sum" "the foreign environment was left as it was"
# keys in LMDB's main table only, no named tables: foreign too
use foreign-main
mkdir -p "$J"
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n format\n 1\nDATA=END\n' |
	mdb_load "$J" || fail "mdb_load"
sum=$(sha256sum <"$J/data.mdb")
expect 1 R recover && has "$err" "not a libmmig journal" "recover on a foreign main table"
expect 1 R prune --keep 0
same "$(sha256sum <"$J/data.mdb")" "$sum" "the foreign main table was left as it was"
# a directory holding other files: refused, nothing created in it
use otherfiles
mkdir -p "$J"
echo "not ours" >"$J/notes.txt"
expect 1 R recover && has "$err" "not a libmmig journal (the directory holds other files" "a directory of other files"
[ -e "$J/data.mdb" ] && fail "a journal was made in a directory of other files"
same "$(ls -A "$J")" "notes.txt" "the directory of other files was left as it was"

# ---- a journal with a committed and a rolled-back migration --------------
use one
good=7d9f4a2e-3b1c-4e5f-8a6b-9c0d1e2f3a4b
bad=0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e
ex_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
good_id=$("$example" "${ex_args[@]}" --uuid "$good" --rows 5 2>/dev/null | sed -n 's/^migration \([^:]*\):.*/\1/p')
bad_id=$("$example" "${ex_args[@]}" --uuid "$bad" --fail-at fill-model 2>/dev/null | sed -n 's/^migration \([^:]*\):.*/\1/p')
[ ${#good_id} = 36 ] && [ ${#bad_id} = 36 ] || fail "embed-example ids: '$good_id' '$bad_id'"
before=$(snap)

expect 0 R list && has "$out" "no migrations in flight" "list, nothing in flight"
expect 0 R list --json && pyjson "$out" 'assert d == [], d'
expect 0 R list --all && {
	has "$out" "$good_id" "list --all"
	has "$out" "$bad_id" "list --all"
	has "$out" "COMMITTED" "list --all"
	has "$out" "ROLLED_BACK" "list --all"
	has "$out" "2/2" "list --all ops"
	has "$out" " dead " "list --all owner"
	has "$out" "cause: execute operation fill-model" "list --all cause"
}
expect 0 R --json list --all && pyjson "$out" "
assert isinstance(d, list) and len(d) == 2, d
by = {m['model_uuid']: m for m in d}
need = {'id', 'model_uuid', 'state', 'ops_done', 'ops_total', 'owner_alive',
        'owner_pid', 'owner_host', 'epoch', 'created', 'updated', 'cause',
        'last_error', 'problem'}
# one time form (issue 14): RFC 3339 UTC with microseconds, beside the
# same instant in integer nanoseconds
import calendar, datetime
def same_time(text, ns):
    t = datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')
    us = calendar.timegm(t.timetuple()) * 1000000 + t.microsecond
    assert us == ns // 1000, (text, ns)
rfc = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')
for m in d:
    assert need <= set(m), need - set(m)
    assert m['owner_alive'] is False and m['ops_total'] == 2, m
    assert rfc.match(m['created']) and rfc.match(m['updated']), m
    same_time(m['created'], m['created_ns'])
    same_time(m['updated'], m['updated_ns'])
    assert m['created_ns'] <= m['updated_ns'], m
    assert m['problem'] is None and m['last_error'] is None, m
    assert m['epoch'] >= 1 and m['owner_pid'] > 0 and m['owner_host'], m
g, b = by['$good'], by['$bad']
assert g['id'] == '$good_id' and g['state'] == 'COMMITTED', g
assert g['ops_done'] == 2 and g['cause'] is None, g
assert b['id'] == '$bad_id' and b['state'] == 'ROLLED_BACK', b
assert 'failing on purpose' in b['cause'], b
"

# list and show sync the journal before reporting progress, as recovery
# does before acting on it: a power cut cannot then undo what they showed.
for args in "list --all" "show $good_id"; do
	# shellcheck disable=SC2086
	# (LeakSanitizer cannot run under ptrace: off for this run.)
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=fdatasync,fsync -o "$work/trace" \
		"$recover" --journal "$J" $args >/dev/null 2>&1 || fail "strace $args"
	has "$(<"$work/trace")" "sync(" "$args syncs before it reads"
done

# show: by a prefix, readable, op names from the plan, errors.  Ids begin
# with their creation time, so two made a moment apart share a prefix: that
# one is refused, a longer one (into the random part) is not.
common=$(python3 -c 'import os, sys; print(os.path.commonprefix(sys.argv[1:]))' "$good_id" "$bad_id")
expect 1 R show "$common" && has "$err" "prefix matches several migrations" "ambiguous prefix"
expect 0 R show "${bad_id:0:24}" && {
	has "$out" "migration   $bad_id" "show header"
	has "$out" "model       $bad" "show header"
	has "$out" "state       ROLLED_BACK" "show header"
	has "$out" "0  register-model v1" "show plan"
	has "$out" "#3    FAIL            op 1 fill-model: execute operation fill-model: failing on purpose" "show FAIL"
	has "$out" "UNDO_DONE       op 0 register-model" "show undo"
	has "$out" "MODEL_DELETED" "show"
	if [[ $out =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z\ \ \#0 ]]; then ok; else fail "show: no RFC 3339 time on #0: $out"; fi
}
expect 0 R show "$bad_id" --json && pyjson "$out" "
assert d[0]['record'] == 'header' and d[0]['id'] == '$bad_id', d[0]
assert [p['name'] for p in d[0]['plan']] == ['register-model', 'fill-model']
t = d[1:]
assert all(x['record'] == 'transition' for x in t), t
assert [x['seq'] for x in t] == list(range(len(t))), t
kinds = [x['kind'] for x in t]
assert kinds[0] == 'BEGIN' and kinds[-1] == 'ROLLED_BACK', kinds
f = [x for x in t if x['kind'] == 'FAIL']
assert len(f) == 1 and f[0]['op'] == 1 and 'failing on purpose' in f[0]['data'], f
# the tool's vocabulary beside the library's fields (issue 14)
import calendar, datetime
def same_time(text, ns):
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', text), text
    t = datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')
    assert calendar.timegm(t.timetuple()) * 1000000 + t.microsecond == ns // 1000, (text, ns)
same_time(d[0]['created'], d[0]['created_ns'])
assert list(d[0]).index('created') == list(d[0]).index('created_ns') + 1, list(d[0])
for x in t:
    same_time(x['time'], x['time_ns'])
for p in d[0]['plan']:
    assert p['flags'] == 0 and p['flag_names'] == [], p
"
expect 1 R show ffffffff && same "$err" "mmig-recover: show: migration ffffffff: not in the journal" "show unknown"
expect 1 R show ffffffff --json && same "$out" "" "show unknown --json prints nothing"

expect 0 R dump && pyjson "$(printf '%s\n' "$out" | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))')" "
assert sorted(x['id'] for x in d if x['record'] == 'header') == sorted(['$good_id', '$bad_id']), d
rfc = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')
for x in d:
    if x['record'] == 'header':
        assert rfc.match(x['created']) and isinstance(x['created_ns'], int), x
        assert all(p['flag_names'] == [] for p in x['plan']), x
    else:
        assert x['record'] == 'transition', x
        assert rfc.match(x['time']) and isinstance(x['time_ns'], int), x
"
dump_lines=$(printf '%s\n' "$out" | wc -l)
n_good=$(R show "$good_id" --json | jget "$(cat)" "len(d)")
n_bad=$(R show "$bad_id" --json | jget "$(cat)" "len(d)")
same "$dump_lines" "$((n_good + n_bad))" "dump: one line per record, as show --json"
expect 0 R verify && same "$out" "no problems" "verify clean"
expect 0 R verify --json && pyjson "$out" "assert d == {'problems': [], 'count': 0}, d"
same "$(snap)" "$before" "read-only commands left data.mdb as it was"

# ---- a damaged record ---------------------------------------------------
use damaged
cp -r "$work/one/j" "$J"
"$damage" "$J" "$bad_id" 3 || fail "journal-damage"
before=$(snap)
expect 1 R verify && {
	has "$out" "migration $bad_id: seq 3:" "verify names the record"
	has "$err" "mmig-recover: verify: 1 problem in $J" "verify summary"
}
expect 1 R verify --json && pyjson "$out" "
assert d['count'] == len(d['problems']) == 1, d
assert '$bad_id' in d['problems'][0] and 'seq 3' in d['problems'][0], d
"
expect 1 R show "$bad_id" && {
	has "$out" "migration   $bad_id" "show of a damaged migration prints what it can"
	has "$out" "corrupt record: seq 3" "show marks the bad record"
	has "$err" "mmig-recover: show: migration $bad_id: seq 3" "show names the record"
}
expect 1 R show "$bad_id" --json && pyjson "$out" "
assert {'record': 'corrupt', 'id': '$bad_id', 'seq': 3} in d, d
"
expect 1 R dump && has "$err" "seq 3" "dump names the record"
expect 0 R list --all --json && pyjson "$out" "
b = [m for m in d if m['id'] == '$bad_id'][0]
assert b['problem'] and 'seq 3' in b['problem'], b
"
same "$(snap)" "$before" "read-only commands on a damaged journal wrote nothing"

# ---- prune ---------------------------------------------------------------
use one
last_id=
for u in 1b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e 2b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e \
	3b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e; do
	last_id=$("$example" "${ex_args[@]}" --uuid "$u" --rows 1 2>/dev/null | sed -n 's/^migration \([^:]*\):.*/\1/p')
done
expect 0 R list --all --json && pyjson "$out" "assert len(d) == 5, d"
expect 0 R prune --keep 3 && same "$out" "pruned 2 migrations" "prune --keep 3"
expect 0 R list --all --json && pyjson "$out" "
assert len(d) == 3, d
assert '$last_id' in [m['id'] for m in d], 'the newest was pruned'
"
expect 0 R prune --keep 3 --json && pyjson "$out" "assert d == {'pruned': 0}, d"
expect 0 R prune --older-than 30d && same "$out" "pruned 0 migrations" "prune --older-than 30d"
sleep 2
expect 0 R prune --older-than 1s --keep 1 && same "$out" "pruned 2 migrations" "prune --older-than 1s --keep 1"
expect 0 R list --all --json && pyjson "$out" "assert [m['id'] for m in d] == ['$last_id'], d"
expect 0 R prune --older-than 1s && same "$out" "pruned 1 migration" "prune --older-than 1s"
expect 0 R list --all --json && pyjson "$out" "assert d == [], d"

# ---- migrations left behind by a killed process ---------------------------
use crash
P=(--plugin "$plugin")
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
# crashed UUID OPS ARGS...: run the helper to its death; print the id.
crashed() {
	local u=$1
	shift
	"$helper" "${h_args[@]}" --uuid "$u" "$@" >/dev/null 2>&1
	local st=$?
	[ "$st" = 137 ] || [ "$st" = 1 ] || fail "crash-helper $*: exit $st"
	R list --json | jget "$(cat)" "[m['id'] for m in d if m['model_uuid'] == '$u'][0]"
}
steps_n() { sqlite3 "$C" "SELECT n FROM crash_steps WHERE model = '$1'"; }
state_of() { R list --all --json | jget "$(cat)" "[m['state'] for m in d if m['id'] == '$1'][0]"; }

ua=a0000000-0000-4000-8000-000000000001
a=$(crashed $ua --ops 4 --crash-at 2)
expect 0 R list --json && pyjson "$out" "
assert len(d) == 1, d
m = d[0]
assert m['id'] == '$a' and m['state'] == 'RUNNING', m
assert m['owner_alive'] is False and m['ops_done'] == 2 and m['ops_total'] == 4, m
"
expect 0 R list && { has "$out" "RUNNING" "list"; has "$out" "2/4" "list ops"; has "$out" " dead " "list owner"; }
expect 0 R show "$a" && has "$out" "BEGIN           op 2 step" "show of the crashed one"
same "$(steps_n $ua)" 3 "ops 0..2 committed before the crash"

before=$(snap) counts_before=$(cat "$CRASH_COUNTS" 2>/dev/null)
# Without the plug-in the operations are unknown: refused, nothing written.
expect 1 R plan && has "$out" "$a $ua refused" "plan without the plug-in"
expect 1 R recover && {
	has "$out" "$a $ua refused" "recover without the plug-in"
	has "$out" "step" "the refusal names the operation"
}
same "$(snap)" "$before" "a refused recovery wrote nothing"
same "$(state_of "$a")" RUNNING "a refused recovery changed nothing"
# plan: steps, and nothing written, nothing run.
expect 0 R "${P[@]}" plan && {
	has "$out" "$a $ua would be rolled-back" "plan"
	has "$out" "  1. " "plan lists steps"
}
expect 0 R "${P[@]}" plan "${a:0:24}" --json && pyjson "$out" "
assert d['count'] == 1 and d['unsettled'] == 0, d
it = d['items'][0]
assert it['id'] == '$a' and it['model_uuid'] == '$ua', it
assert it['action'] == 'rolled-back' and len(it['steps']) > 0, it
# steps as data (op, index, action), the prose beside them
acts = {'resume', 'run', 'roll-back', 'skip', 'record', 'finish-rollback', 'fall-back'}
for st in it['steps']:
    assert set(st) == {'action', 'index', 'op', 'detail', 'text'}, st
    assert st['action'] in acts and isinstance(st['index'], int), st
    assert (st['op'] is None) == (st['index'] == -1), st
rb = [(st['index'], st['op']) for st in it['steps'] if st['action'] == 'roll-back']
assert rb == [(3, 'step'), (2, 'step'), (1, 'step'), (0, 'step')], rb
assert it['steps'][-1]['action'] == 'record' and it['steps'][-1]['detail'] == 'ROLLED_BACK', it
"
plan_json=$out
same "$(snap)" "$before" "plan wrote nothing"
same "$(cat "$CRASH_COUNTS" 2>/dev/null)" "$counts_before" "plan ran no operation"
# recover does what plan said.
expect 0 R "${P[@]}" recover --json && {
	same "$err" "" "recover --json is quiet on stderr"
	PLAN_JSON=$plan_json pyjson "$out" "
import os
assert d['count'] == 1 and d['unsettled'] == 0, d
it = d['items'][0]
assert it['id'] == '$a' and it['action'] == 'rolled-back', it
plan = json.loads(os.environ['PLAN_JSON'])['items'][0]
assert it['steps'] == plan['steps'], (it['steps'], plan['steps'])
"
}
expect 0 R list --json && pyjson "$out" "assert d == [], d"
same "$(state_of "$a")" ROLLED_BACK "recovered state"
same "$(steps_n $ua)" 0 "every committed op undone"
[ -e "$M/$ua.db" ] && fail "the model database was left behind"
expect 0 R verify

# recover, readable: a line per migration, the log on stderr
ub=b0000000-0000-4000-8000-000000000002
b=$(crashed $ub --ops 3 --crash-at 0)
expect 0 R "${P[@]}" recover && {
	same "$out" "$b $ub rolled-back" "recover summary line"
	has "$err" "mmig-recover: info: " "recover logs on stderr"
}
expect 0 R "${P[@]}" recover && same "$out" "nothing to recover" "recover twice"

# resume: an idempotent op is re-run and the migration commits
uc=c0000000-0000-4000-8000-000000000003
c=$(crashed $uc --ops 3 --crash-at 1 --idempotent)
expect 0 R "${P[@]}" plan --policy resume --json && pyjson "$out" "
assert d['items'][0]['action'] == 'committed', d
"
expect 0 R "${P[@]}" recover --policy resume && same "$out" "$c $uc committed" "resume an idempotent op"
same "$(state_of "$c")" COMMITTED "resumed state"
n=$(steps_n $uc)
[ "$n" -ge 3 ] 2>/dev/null && ok || fail "resumed migration ran every op: n=$n"

# resume refused for a non-idempotent op, unless --fallback
ud=d0000000-0000-4000-8000-000000000004
d_=$(crashed $ud --ops 3 --crash-at 1)
before=$(snap)
expect 1 R "${P[@]}" recover --policy resume && has "$out" "$d_ $ud refused" "resume refused"
same "$(snap)" "$before" "a refused resume wrote nothing"
expect 1 R "${P[@]}" plan --policy resume
expect 0 R "${P[@]}" recover --policy resume --fallback && same "$out" "$d_ $ud rolled-back" "--fallback"
same "$(state_of "$d_")" ROLLED_BACK "fallback state"

# PAUSED: left alone by recover, settled by name
ue=e0000000-0000-4000-8000-000000000005
e=$(crashed $ue --ops 3 --pause-at 1)
same "$(state_of "$e")" PAUSED "paused"
# ... and exits 1: a paused migration is left unsettled (issue 13).
expect 1 R "${P[@]}" recover && has "$out" "$e $ue skipped-paused" "recover leaves PAUSED alone"
same "$(state_of "$e")" PAUSED "still paused"
expect 1 R "${P[@]}" recover --json && pyjson "$out" "
assert [i['action'] for i in d['items']] == ['skipped-paused'], d
"
expect 1 R "${P[@]}" plan && has "$out" "$e $ue skipped-paused" "plan exits as recover would"
expect 0 R "${P[@]}" rollback "${e:0:24}" && same "$out" "$e $ue rolled-back" "rollback ID"
same "$(state_of "$e")" ROLLED_BACK "rolled back by name"
same "$(steps_n $ue)" 0 "paused one fully undone"
uf=f0000000-0000-4000-8000-000000000006
f=$(crashed $uf --ops 3 --pause-at 1 --idempotent)
expect 0 R "${P[@]}" resume "$f" --json && pyjson "$out" "
assert d['items'][0]['id'] == '$f' and d['items'][0]['action'] == 'committed', d
"
same "$(state_of "$f")" COMMITTED "resumed by name"
same "$(steps_n $uf)" 3 "resumed by name ran the rest"

# a failed rollback: NEEDS_ATTENTION, list still exits 0, then retry by name
ug=90000000-0000-4000-8000-000000000007
g=$(crashed $ug --ops 2 --crash-at 1)
CRASH_FAIL_ROLLBACK=1 expect 1 R "${P[@]}" recover && has "$out" "$g $ug needs-attention" "failed rollback"
# Left alone by the next recover, which still exits 1 (issue 13: it exited
# 0, so `mmig-recover recover || alert` never alerted).
expect 1 R "${P[@]}" recover && has "$out" "$g $ug skipped-attention: needs attention" "recover skips NEEDS_ATTENTION, exit 1"
expect 0 R list --json && pyjson "$out" "
m = [m for m in d if m['id'] == '$g'][0]
assert m['state'] == 'NEEDS_ATTENTION' and m['last_error'], m
assert 'failing on purpose' in m['last_error'], m
"
expect 0 R "${P[@]}" rollback "$g" && same "$out" "$g $ug rolled-back" "retry after attention"
same "$(state_of "$g")" ROLLED_BACK "settled after attention"

# a live owner: not taken over, unless --force, which says so
uh=80000000-0000-4000-8000-000000000008
"$helper" "${h_args[@]}" --uuid $uh --ops 3 --hang-at 1 --ready "$work/ready" >/dev/null 2>&1 &
hang_pid=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || fail "the hanging helper never got to op 1"
h=$(R list --json | jget "$(cat)" "[m['id'] for m in d if m['model_uuid'] == '$uh'][0]")
expect 0 R list --json && pyjson "$out" "
m = [m for m in d if m['id'] == '$h'][0]
assert m['owner_alive'] is True and m['owner_pid'] == $hang_pid, m
"
expect 0 R "${P[@]}" recover && has "$out" "$h $uh skipped-live" "recover leaves a live owner alone"
before=$(snap)
expect 1 R "${P[@]}" rollback "$h" && hasnt "$err" "warning" "no --force, no warning"
same "$(state_of "$h")" RUNNING "a live owner is not taken over"
expect 0 R "${P[@]}" rollback "$h" --force && {
	same "$(printf '%s\n' "$err" | grep -c 'warning')" 1 "one warning line"
	has "$err" "mmig-recover: warning: --force: taking migration $h over from its live owner, pid $hang_pid on " "--force warning"
	same "$out" "$h $uh rolled-back" "forced rollback"
}
same "$(state_of "$h")" ROLLED_BACK "forced rollback state"
kill -9 "$hang_pid" 2>/dev/null
wait "$hang_pid" 2>/dev/null
hang_pid=

# ---- the built-in import operations, no plug-in --------------------------
# MMIG_FAULT (core/fault.h) kills the shipped tools at a chosen point.
use import
"$mmig" gen-model --machines 5 --applications 2 --units-per-app 2 -o "$work/model.json" ||
	fail "mmig gen-model"
model=$(jget "$(cat "$work/model.json")" "d['model']['uuid']")
imp=(--journal "$J" --controller-db "$C" --model-dir "$M")
# The journal refuses the first commit (a full disk at the header): nothing
# was written, so the import says so and exits 1, not 3 "interrupted,
# settle it with mmig-recover" (issue 13); there is nothing to settle.
expect 1 env MMIG_FAULT=JOURNAL_COMMIT:1:enospc "$mmig" import "${imp[@]}" "$work/model.json" && {
	same "$out" "import not started: nothing was written, nothing to settle" "refused first commit: stdout"
	has "$err" "mmig: import: the journal refused its first commit, nothing was written: journal $J: commit: No space left on device" "refused first commit: the cause"
	hasnt "$err" "left for recovery" "refused first commit: nothing left for recovery"
}
expect 0 R list --json && same "$out" "[]" "refused first commit: the journal holds nothing"
expect 0 R recover && same "$out" "nothing to recover" "refused first commit: nothing to recover"
# A first commit that took effect though reported failed is still left for
# recovery (exit 3), and recovery settles it.
expect 3 env MMIG_FAULT=JOURNAL_COMMITTED:1:eio "$mmig" import "${imp[@]}" "$work/model.json" &&
	has "$err" "left for recovery" "first commit done but reported failed"
expect 0 R recover && has "$out" " $model rolled-back" "first commit done but reported failed: settled"
MMIG_FAULT=OP_EXECUTE:4:kill "$mmig" import "${imp[@]}" --quiet "$work/model.json" >/dev/null 2>&1
same "$?" 137 "mmig import killed before op 3"
expect 0 R list --json && pyjson "$out" "
assert len(d) == 1 and d[0]['model_uuid'] == '$model' and d[0]['ops_total'] == 7, d
assert d[0]['state'] == 'RUNNING' and d[0]['ops_done'] == 3, d
"
i=$(R list --json | jget "$(cat)" "d[0]['id']")
expect 0 R plan && has "$out" "roll back op 0 create-model" "plan of an import"
# The import's checkpoints decoded; a watch of an orphan ends at once.
expect 0 R show "$i" && has "$out" "op 2 machines: row 5 of 5 (batch 20000)" \
	"show decodes the import's checkpoints"
hasnt "$out" "binary data" "no opaque checkpoint left"
expect 1 R watch "$i" && {
	same "$(printf '%s\n' "$out" | head -1)" \
		"RUNNING  ops 3/7  op 3 applications  owner $(jget "$(R list --json)" "d[0]['owner_pid']") dead" \
		"watch line of an orphan (not a terminal: plain)"
	has "$out" "waits for recovery" "watch says the owner is gone"
	hasnt "$out" $'\e' "no escape sequences when not a terminal"
}
expect 1 R show "$i" --follow && has "$out" "op 3 applications" "show --follow"
# Recovery itself killed mid-way, then run again: it converges.
MMIG_FAULT=OP_ROLLBACK:2:kill R recover >/dev/null 2>&1
same "$?" 137 "recover killed at its second rollback"
same "$(state_of "$i")" ROLLING_BACK "a rollback interrupted"
expect 0 R recover && same "$out" "$i $model rolled-back" "recover after a crash in recovery"
same "$(sqlite3 "$C" "SELECT count(*) FROM models WHERE uuid = '$model'")" 0 \
	"rolled-back import left no controller row"
[ -e "$M/$model.db" ] && fail "rolled-back import left its model database"
# The same import killed again, and resumed this time.
MMIG_FAULT=OP_EXECUTE:4:kill "$mmig" import "${imp[@]}" --quiet "$work/model.json" >/dev/null 2>&1
same "$?" 137 "mmig import killed again"
i=$(R list --json | jget "$(cat)" "d[0]['id']")
expect 0 R recover --policy resume && same "$out" "$i $model committed" "resume an import"
expect 0 R watch "$i" && has "$out" "COMMITTED  ops 7/7  op 6 activate" "watch of a settled import"
same "$(sqlite3 "$C" "SELECT status FROM models WHERE uuid = '$model'")" active \
	"resumed import is active"
same "$(sqlite3 "$M/$model.db" "SELECT count(*) FROM machines")" 5 "resumed import's machines"
same "$(sqlite3 "$M/$model.db" "SELECT count(*) FROM units")" 4 "resumed import's units"
expect 0 R verify

# The rollback's deletion of the model database fails (EIO): the import
# needs attention, the database stays; `rollback ID` settles it once the
# fault is gone, and the deletion is journaled.
"$mmig" gen-model --machines 2 --applications 1 --seed 7 -o "$work/model7.json" ||
	fail "mmig gen-model --seed 7"
model7=$(jget "$(cat "$work/model7.json")" "d['model']['uuid']")
MMIG_FAULT=MODEL_DELETE:1:eio "$mmig" import "${imp[@]}" --quiet --test-rollback \
	"$work/model7.json" >/dev/null 2>&1
same "$?" 3 "import whose model deletion failed needs attention"
i7=$(R list --json | jget "$(cat)" "[m['id'] for m in d if m['model_uuid'] == '$model7'][0]")
same "$(state_of "$i7")" NEEDS_ATTENTION "a failed deletion needs attention"
[ -e "$M/$model7.db" ] || fail "the model database went although its deletion failed"
expect 1 R recover && has "$out" "$i7 $model7 skipped-attention" "recover leaves it to the operator"
expect 0 R rollback "$i7" && same "$(state_of "$i7")" ROLLED_BACK "rollback ID settles a failed deletion"
[ -e "$M/$model7.db" ] && fail "settled, but the model database is there"
same "$(sqlite3 "$C" "SELECT count(*) FROM models WHERE uuid = '$model7'")" 0 \
	"settled, and no controller row"
expect 0 R show "$i7" && has "$out" "MODEL_DELETED" "the deletion is journaled"
expect 0 R rollback "$i7"
expect 0 R verify

# A model database that is there already, and that no import made: the
# import (and --test-rollback) refuses it and leaves every row as it was.
sqlite3 "$M/$model7.db" "CREATE TABLE mine (k TEXT); INSERT INTO mine VALUES ('kept');"
"$mmig" import "${imp[@]}" --quiet "$work/model7.json" >/dev/null 2>&1
same "$?" 1 "import over a database that is not its own refused"
"$mmig" import "${imp[@]}" --quiet --test-rollback "$work/model7.json" >/dev/null 2>&1
[ "$?" = 0 ] && fail "--test-rollback over a database that is not its own"
same "$(sqlite3 "$M/$model7.db" "SELECT k FROM mine")" kept "the existing database kept its rows"
rm -f "$M/$model7.db"
expect 0 R verify

# Modes (issue 13): what recovery creates is 0600 by default; --file-mode
# widens exactly that, whatever the umask, and changes nothing that exists.
use modes
imp=(--journal "$J" --controller-db "$C" --model-dir "$M")
(umask 000 && MMIG_FAULT=OP_EXECUTE:1:kill "$mmig" import "${imp[@]}" --quiet "$work/model.json") >/dev/null 2>&1
same "$?" 137 "import killed before create-model ran"
same "$(stat -c %a "$M")" 700 "the model directory the import made, umask 000"
same "$(stat -c %a "$C")" 600 "the controller database the import made, umask 000"
[ -e "$M/$model.db" ] && fail "create-model had not run, yet its database exists"
(umask 077 && R --file-mode 0640 recover --policy resume) >"$work/modes.out" 2>&1
same "$?" 0 "resume creating the model database: $(cat "$work/modes.out")"
same "$(stat -c %a "$M/$model.db")" 640 "--file-mode 0640: the model database recovery created"
same "$(stat -c %a "$C")" 600 "--file-mode: the import's controller database (umask 000) is not changed"
same "$(stat -c %a "$M")" 700 "--file-mode: an existing directory is not changed"
expect 2 R --file-mode 0755 list && has "$err" "mmig-recover: usage: --file-mode: \"0755\" is not an octal mode" "--file-mode 0755 refused"
expect 2 R --file-mode rw list

# An import frozen inside an op (a stale owner) and taken over by a forced
# rollback: once continued, its commit is fenced, and it says that another
# process took the migration over, not "settle it with mmig-recover":
# there is nothing left for its operator to settle (issue 12).
use fenced
imp=(--journal "$J" --controller-db "$C" --model-dir "$M")
MMIG_FAULT=OP_EXECUTE:3:stop "$mmig" import "${imp[@]}" "$work/model.json" \
	>"$work/fenced.out" 2>"$work/fenced.err" &
hang_pid=$!
for _ in $(seq 100); do
	[ "$(ps -o stat= -p "$hang_pid" | cut -c1)" = T ] && break
	sleep 0.1
done
same "$(ps -o stat= -p "$hang_pid" | cut -c1)" T "the import stopped inside an op"
f=$(R list --json | jget "$(cat)" "d[0]['id']")
expect 0 R rollback "$f" --force && same "$out" "$f $model rolled-back" "the frozen import rolled back by force"
kill -CONT "$hang_pid"
wait "$hang_pid"
same "$?" 3 "the fenced import exits 3 (interrupted)"
hang_pid=
has "$(<"$work/fenced.out")" "migration $f: interrupted (taken over by another process, which settles it; see mmig-recover show $f)" "the fenced import says it was taken over"
hasnt "$(<"$work/fenced.out")" "settle it with mmig-recover" "the fenced import does not ask to be settled"
same "$(state_of "$f")" ROLLED_BACK "the fenced import changed nothing after the takeover"
expect 0 R verify

# mmig import refuses another program's environment too, writing nothing
use foreign
sum=$(sha256sum <"$J/data.mdb")
"$mmig" import --journal "$J" --controller-db "$C" --model-dir "$M" --quiet "$work/model.json" >/dev/null 2>"$work/stderr"
st=$?
[ "$st" != 0 ] && ok || fail "mmig import into a foreign environment: exit 0"
has "$(<"$work/stderr")" "not a libmmig journal" "mmig import names a foreign environment"
same "$(sha256sum <"$J/data.mdb")" "$sum" "mmig import left the foreign environment as it was"

# ---- where a journal may live: an existing empty directory, a symlink ----
# The journal is made inside it: same inode, same mode (issue 13).
use inside
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
mkdir -p "$J" && chmod 0750 "$J"
ino=$(stat -c %i "$J")
crashed a1000000-0000-4000-8000-000000000001 --ops 2 --crash-at 1 >/dev/null
same "$(stat -c %i:%a "$J")" "$ino:750" "the journal was made inside the empty directory"
[ -f "$J/data.mdb" ] && ok || fail "no data.mdb inside the directory"
expect 0 R "${P[@]}" recover && has "$out" "rolled-back" "recover in an existing directory"
use link
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
mkdir -p "$work/link/target"
ln -s "$work/link/target" "$J"
crashed a2000000-0000-4000-8000-000000000002 --ops 2 --crash-at 1 >/dev/null
[ -L "$J" ] && [ -f "$work/link/target/data.mdb" ] && ok ||
	fail "a symlinked empty directory: the link was replaced or the journal is elsewhere"
expect 0 R "${P[@]}" recover && has "$out" "rolled-back" "recover through a symlink"
# a work directory left by a creation that died is not a journal's content
use leftover
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
mkdir -p "$J/.mmig-new-999999999"
echo junk >"$J/.mmig-new-999999999/data.mdb"
crashed a3000000-0000-4000-8000-000000000003 --ops 2 --crash-at 1 >/dev/null
[ -e "$J/.mmig-new-999999999" ] && fail "a dead creation's work directory was left"
expect 0 R "${P[@]}" recover && has "$out" "rolled-back" "recover after a dead creation"

# ---- compact ---------------------------------------------------------------
use compact
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
for u in c1000000-0000-4000-8000-000000000001 c2000000-0000-4000-8000-000000000002 \
	c3000000-0000-4000-8000-000000000003; do
	"$helper" "${h_args[@]}" --uuid "$u" --ops 30 >/dev/null 2>&1 ||
		fail "crash-helper run for compact"
done
k=$(crashed c4000000-0000-4000-8000-000000000004 --ops 3 --crash-at 1)
expect 0 R prune --keep 0 && same "$out" "pruned 3 migrations" "prune before compact"
size_before=$(stat -c %s "$J/data.mdb")
expect 0 R compact --json && pyjson "$out" "
assert d['bytes_before'] == $size_before, d
assert 0 < d['bytes_after'] < d['bytes_before'], d
"
expect 0 R list --json && pyjson "$out" "assert [m['id'] for m in d] == ['$k'], d"
expect 0 R verify
expect 0 R compact && has "$out" "compacted $J: " "compact, readable"
[ -n "$(ls -A "$J" | grep -v -e '^data.mdb$' -e '^lock.mdb$')" ] && fail "compact left files behind"
expect 0 R "${P[@]}" recover && has "$out" "$k c4000000-0000-4000-8000-000000000004 rolled-back" "recover after compact"

# ---- a writer stopped inside a commit --------------------------------------
# Every wait for the write lock is bounded; the error names the process and
# what to do; recover reports the migrations it cannot claim as owned by a
# live process and goes on; readers never wait (issue 13).
use stopped
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
s1=$(crashed d1000000-0000-4000-8000-000000000001 --ops 3 --crash-at 1)
rm -f "$work/held"
"$damage" --hold-lock "$J" "$work/held" &
hang_pid=$!
for _ in $(seq 100); do
	[ -e "$work/held" ] && [ "$(ps -o stat= -p "$hang_pid" | cut -c1)" = T ] && break
	sleep 0.1
done
[ -e "$work/held" ] || fail "the lock holder never got its lock"
expect 0 R list --json && pyjson "$out" "assert [m['id'] for m in d] == ['$s1'], d"
# s1's owner is dead: nobody else will settle it, so it is not "skipped-live"
# but left unsettled, and recover exits 1 (recover || alert alerts).
expect 1 R "${P[@]}" --lock-timeout 1s recover
has "$out" "$s1 d1000000-0000-4000-8000-000000000001 failed" "recover fails what it cannot claim"
has "$out" "held by pid $hang_pid (stopped)" "recover names the holder"
has "$out" "kill -CONT $hang_pid" "recover says what to do"
expect 1 R --lock-timeout 1s prune --keep 0 && {
	has "$err" "mmig-recover: prune: journal $J: its write lock is held by pid $hang_pid (stopped)" "prune names the holder"
	same "$(printf '%s\n' "$err" | wc -l)" 1 "one line"
}
usage_error 'mmig-recover: usage: --lock-timeout: bad duration "soon"' --lock-timeout soon list
kill -9 "$hang_pid" 2>/dev/null
wait "$hang_pid" 2>/dev/null
hang_pid=
expect 0 R "${P[@]}" recover && has "$out" "$s1 d1000000-0000-4000-8000-000000000001 rolled-back" "recover once the holder is gone"

# ---- a file system of its own: a mount point, and a full disk --------------
# In a user and mount namespace of its own (unshare -rm), so no privilege is
# needed: a tmpfs mounted on the journal's empty directory, then filled up.
use mounted
mkdir -p "$J"
if unshare -rm true 2>/dev/null; then
	unshare -rm env J="$J" C="$C" M="$M" helper="$helper" recover="$recover" \
		plugin="$plugin" work="$work" bash -c '
mount -t tmpfs -o size=2m,mode=0710 tmpfs "$J" || exit 99
before=$(stat -c %i:%a "$J")
"$helper" --journal "$J" --controller-db "$C" --model-dir "$M" \
	--uuid e1000000-0000-4000-8000-000000000001 --ops 2 --crash-at 1 >/dev/null 2>&1
echo "mount: $(stat -c %i:%a "$J") was $before"
dd if=/dev/zero of="$J/fill" bs=4k >/dev/null 2>&1
"$recover" --journal "$J" --controller-db "$C" --model-dir "$M" --plugin "$plugin" recover
echo "full: $?"
rm -f "$J/fill"
"$recover" --journal "$J" --controller-db "$C" --model-dir "$M" --plugin "$plugin" recover
echo "recover: $?"
' >"$work/mounted.out" 2>&1
	m=$(<"$work/mounted.out")
	if [[ $m =~ mount:\ ([0-9]+:710)\ was\ ([0-9]+:710) ]] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then ok; else
		fail "a journal on a mount point: $m"
	fi
	has "$m" "e1000000-0000-4000-8000-000000000001 rolled-back" "recover on a mount point"
	has "$m" "recover: 0" "recover on a mount point"
	has "$m" "claim: No space left on device" "a full disk is named as such"
	has "$m" "full: 1" "a full disk fails recover"
	hasnt "$m" "Input/output error" "a full disk is not an I/O error"
else
	fail "unshare -rm is not available: cannot test a mount point"
fi

# ---- progress, and SIGINT: a clean stop at a safe point --------------------
# CRASH_SLOW_MS (crash-helper.c) makes every op slow.  The first SIGINT stops
# recovery where the journal is consistent: a resume under way is left
# PAUSED before its next op, a rollback under way runs to its end, nothing
# more is claimed; exit 130.  What is left settles later, exactly once.
use sigint
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
: >"$CRASH_COUNTS"
calls() { grep -c "^$1 $2\$" "$CRASH_COUNTS"; }
# wait_calls KIND UUID N: until the counts file holds N such calls (10 s).
wait_calls() {
	for _ in $(seq 200); do
		[ "$(calls "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	fail "no $3 $1 calls of $2: $(cat "$CRASH_COUNTS")"
	return 1
}
# interrupted CALLS-KIND UUID N ARGS...: run mmig-recover ARGS slowly in the
# background, SIGINT it once the Nth call is made; rc, out, err as expect.
interrupted() {
	local kind=$1 u=$2 n=$3
	shift 3
	CRASH_SLOW_MS=3000 "$recover" --journal "$J" --controller-db "$C" \
		--model-dir "$M" "${P[@]}" "$@" >"$work/int.out" 2>"$work/int.err" &
	local pid=$!
	wait_calls "$kind" "$u" "$n" && kill -INT "$pid"
	wait "$pid"
	rc=$? out=$(<"$work/int.out") err=$(<"$work/int.err")
}

# A resume interrupted: PAUSED, settled by resume ID, every op once.
us=51000000-0000-4000-8000-000000000001
si=$(crashed $us --ops 5 --crash-at 1 --idempotent)
same "$(calls execute $us)" 2 "ops 0 and 1 ran before the crash"
interrupted execute $us 3 recover --policy resume
same "$rc" 130 "SIGINT during recover --policy resume: exit 130 (stderr: $err)"
has "$out" "$si $us paused: " "the interrupted resume is paused"
same "$(printf '%s\n' "$out" | wc -l)" 1 "one migration in the summary"
has "$err" "mmig-recover: interrupted: stopping at the next safe point" "SIGINT is acknowledged"
has "$err" "settled by mmig-recover recover" "says how to settle what is left"
same "$(state_of "$si")" PAUSED "interrupted resume: PAUSED"
same "$(steps_n $us)" 2 "the op under way when interrupted did not run its transaction"
expect 0 R verify
expect 1 R "${P[@]}" recover && has "$out" "$si $us skipped-paused" "recover leaves the paused one to resume ID"
expect 0 R "${P[@]}" resume "$si" && same "$out" "$si $us committed" "resume ID after SIGINT"
same "$(state_of "$si")" COMMITTED "settled after SIGINT"
# op 1 was called again, but its transaction had committed before the
# crash (the database's marker says so): every op's transaction once.
same "$(steps_n $us)" 5 "every op's transaction exactly once"
expect 0 R show "$si" --json && pyjson "$out" "
kinds = [x['kind'] for x in d[1:]]
assert kinds.count('COMMITTED') == 1 and kinds.count('PAUSED') == 1, kinds
assert kinds.count('ROLLED_BACK') == 0, kinds
"
n_exec=$(calls execute $us)
expect 0 R "${P[@]}" recover --policy resume && same "$out" "nothing to recover" "settled exactly once"
expect 0 R "${P[@]}" resume "$si"
same "$(calls execute $us)" "$n_exec" "a settled migration runs nothing more"

# A rollback interrupted: it runs to its end; the next is not claimed.
ur1=52000000-0000-4000-8000-000000000001 ur2=52000000-0000-4000-8000-000000000002
r1=$(crashed $ur1 --ops 3 --crash-at 1)
r2=$(crashed $ur2 --ops 3 --crash-at 1)
interrupted rollback $ur1 1 recover
same "$rc" 130 "SIGINT during recover: exit 130 (stderr: $err)"
same "$out" "$r1 $ur1 rolled-back" "the rollback under way ran to its end, the next was not claimed"
same "$(state_of "$r1")" ROLLED_BACK "the first is rolled back"
has "$err" "mmig-recover: progress: ${r1:0:8} ROLLING_BACK  ops 1/3  op 1 step" "plain progress lines when not a terminal"
hasnt "$err" $'\e' "no escape sequences on a non-terminal"
same "$(state_of "$r2")" RUNNING "the second is still in flight"
same "$(calls rollback $ur2)" 0 "nothing of the second was rolled back"
expect 0 R list --json && pyjson "$out" "
assert [(m['id'], m['state'], m['owner_alive']) for m in d] == [('$r2', 'RUNNING', False)], d
"
expect 0 R verify
expect 0 R "${P[@]}" recover && same "$out" "$r2 $ur2 rolled-back" "recover after SIGINT settles the rest"
same "$(steps_n $ur1):$(steps_n $ur2)" "0:0" "both fully undone"
# ops 2 (one ahead), 1 and 0 of each: every rollback once
same "$(calls rollback $ur1):$(calls rollback $ur2)" "3:3" "every rollback ran exactly once"
expect 0 R "${P[@]}" recover && same "$out" "nothing to recover" "nothing left after SIGINT"

# On a terminal: one status line redrawn in place; TERM=dumb: no escapes.
# script(1) gives the run a pseudo-terminal.
for term in xterm dumb; do
	ut=53000000-0000-4000-8000-00000000000${#term}
	tt=$(crashed $ut --ops 2 --crash-at 1)
	TERM=$term CRASH_SLOW_MS=600 script -qec \
		"$(printf '%q ' "$recover" --journal "$J" --controller-db "$C" --model-dir "$M" "${P[@]}" rollback "$tt")" \
		/dev/null >"$work/tty.out" 2>&1
	same "$?" 0 "rollback on a terminal, TERM=$term"
	tty_out=$(<"$work/tty.out")
	has "$tty_out" "$tt $ut rolled-back" "rollback on a terminal, TERM=$term"
	if [ "$term" = dumb ]; then
		hasnt "$tty_out" $'\e' "TERM=dumb: no escape sequences"
		has "$tty_out" "mmig-recover: progress: ${tt:0:8} ROLLING_BACK" "TERM=dumb: plain progress lines"
	else
		has "$tty_out" $'\r\e[K'"${tt:0:8} ROLLING_BACK  ops 1/2  op " "a terminal: the status line redrawn"
	fi
done
# --json: nothing on stderr, also while it runs slowly
ut=53000000-0000-4000-8000-000000000009
tt=$(crashed $ut --ops 2 --crash-at 1)
CRASH_SLOW_MS=400 expect 0 R "${P[@]}" recover --json && same "$err" "" "recover --json shows no progress"

use crash
h_args=(--journal "$J" --controller-db "$C" --model-dir "$M")
expect 1 R "${P[@]}" resume ffffffff && same "$err" "mmig-recover: resume: migration ffffffff: not in the journal" "resume unknown"
expect 1 R "${P[@]}" rollback ffffffff
expect 1 R --plugin "$work/nope.so" recover && has "$err" "mmig-recover: load plugin: plug-in $work/nope.so" "bad plug-in"
expect 0 R verify
expect 0 R list && has "$out" "no migrations in flight" "all settled"

echo "mmig-recover: $checks checks, $failures failed"
[ "$failures" = 0 ]
