#!/usr/bin/env bash
# tests/test-etcd-tools.sh - mmig and mmig-recover on an etcd journal, as
# two "nodes": node A's `mmig import` is SIGKILLed mid-import (MMIG_FAULT);
# node B's recover skips it while A's lease lives, `recover --wait` waits
# for the lease and settles it, under both policies; list/plan/verify/prune
# work, show (text and --json, by id or prefix) reads the records from etcd.
#
#   scripts/etcd-cluster.sh run -- test-etcd-tools.sh MMIG MMIG-RECOVER
#
# The cluster's endpoints come in MMIG_ETCD_ENDPOINTS.
set -u
mmig=$1
recover=$2
eps=${MMIG_ETCD_ENDPOINTS:?run me through scripts/etcd-cluster.sh run --}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset MMIG_FAULT
export ASAN_OPTIONS=${ASAN_OPTIONS:-}
passed=0
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
ok() { passed=$((passed + 1)); }
# expect STATUS CMD...: run, keep stdout in $out and stderr in $err.
expect() {
	local want=$1
	shift
	out=$("$@" 2>"$work/err")
	local rc=$?
	err=$(cat "$work/err")
	if [ "$rc" != "$want" ]; then
		fail "exit $rc, not $want: $*: $out $err"
		return 1
	fi
	ok
}
has() { case $1 in *"$2"*) ok ;; *) fail "$3: no \"$2\" in: $1" ;; esac; }

"$mmig" gen-model --machines 5 --applications 2 --units-per-app 2 \
	-o "$work/model.json" >/dev/null || { echo "FAIL: gen-model"; exit 1; }
model=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["uuid"])' "$work/model.json")

for policy in rollback resume; do
	J="etcd://$eps/tools-$$-$policy"
	d=$work/$policy
	mkdir -p "$d/models"
	A=(--journal "$J" --node node-a --lease-ttl 2 --controller-db "$d/controller.db" --model-dir "$d/models")
	B=(--journal "$J" --node node-b --controller-db "$d/controller.db" --model-dir "$d/models")

	expect 0 "$recover" "${B[@]}" list && has "$err" "no journal there yet" "$policy: empty prefix"
	MMIG_FAULT=OP_EXECUTE:4:kill "$mmig" import "${A[@]}" --quiet "$work/model.json" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 137 ] && ok || fail "$policy: import not killed (exit $rc)"
	# A's lease lives for up to 2 s: B leaves it alone (unless the lease
	# went already: then it settles it, which is right too).
	expect 0 "$recover" "${B[@]}" list --json &&
		python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert len(d) == 1 and d[0]["state"] == "RUNNING" and d[0]["owner_host"] == "node-a", d
assert d[0]["ops_done"] == 3, d
assert isinstance(d[0]["owner_alive"], bool), d
' "$out" && ok || fail "$policy: list of the killed import: $out"
	expect 0 "$recover" "${B[@]}" list && has "$out" "node-a" "$policy: list's node"
	# Once A's lease is gone, list says so and plan offers to settle it.
	for _ in $(seq 1 60); do
		"$recover" "${B[@]}" list --json | python3 -c '
import json, sys
sys.exit(0 if not json.load(sys.stdin)[0]["owner_alive"] else 1)' && break
		sleep 0.25
	done
	expect 0 "$recover" "${B[@]}" list && has "$out" "dead" "$policy: list says the owner is dead"
	expect 0 "$recover" "${B[@]}" plan --policy "$policy" --json &&
		python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["count"] == 1 and len(d["items"]) == 1, d
' "$out" && ok || fail "$policy: plan: $out"
	expect 0 "$recover" "${B[@]}" recover --policy "$policy" --wait 15 &&
		has "$out" " $model " "$policy: settled after the lease"
	want=$([ $policy = rollback ] && echo ROLLED_BACK || echo COMMITTED)
	expect 0 "$recover" "${B[@]}" list --all --json &&
		python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert len(d) == 1 and d[0]["state"] == sys.argv[2] and d[0]["owner_host"] == "node-b", d
assert d[0]["owner_alive"] is False, d
' "$out" "$want" && ok || fail "$policy: after recover: $out"
	expect 0 "$recover" "${B[@]}" list --json && [ "$out" = "[]" ] && ok ||
		fail "$policy: still in flight: $out"
	expect 0 "$recover" "${B[@]}" verify
	id=$("$recover" "${B[@]}" list --all --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
	# show: the header and every record, read from etcd.
	expect 0 "$recover" "${B[@]}" show "$id" &&
		has "$out" "migration   $id" "$policy: show names it" &&
		has "$out" "owner       pid" "$policy: show's owner line" &&
		has "$out" "timeline" "$policy: show's timeline" &&
		has "$out" "$want" "$policy: show's last record"
	expect 0 "$recover" "${B[@]}" show "${id:0:13}" --json &&
		python3 -c '
import json, sys
d = json.loads(sys.argv[1])
h, recs = d[0], d[1:]
assert h["record"] == "header" and h["id"] == sys.argv[2], h
assert h["state"] == sys.argv[3] and h["model_uuid"] == sys.argv[4], h
assert len(h["plan"]) == 7, h
assert recs and all(r["record"] == "transition" for r in recs), recs
assert [r["seq"] for r in recs] == list(range(len(recs))), recs
lsn = [r["lsn"] for r in recs]
assert lsn == sorted(lsn) and lsn[0] > 0, lsn
assert recs[0]["kind"] == "BEGIN" and recs[-1]["kind"] == sys.argv[3], recs[-1]
' "$out" "$id" "$want" "$model" && ok || fail "$policy: show --json: $out"
	expect 1 "$recover" "${B[@]}" show 00000000-0000-0000-0000-000000000000 &&
		has "$err" "not in the journal" "$policy: show of an unknown id"
	# dump: what show --json prints, one object a line, at one revision.
	show_json=$("$recover" "${B[@]}" show "$id" --json)
	expect 0 "$recover" "${B[@]}" dump &&
		python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
shown = json.loads(sys.argv[2])
assert lines == shown, (lines, shown)
assert lines[0]["record"] == "header" and len(lines) > 10, lines
' "$out" "$show_json" && ok || fail "$policy: dump: $out"
	# compact: refused, saying why and what to use instead.
	expect 1 "$recover" "${B[@]}" compact &&
		has "$err" "cluster-wide" "$policy: compact says why" &&
		has "$err" "etcdctl compact" "$policy: compact says what instead"
	expect 0 "$recover" "${B[@]}" prune --keep 0 && has "$out" "1" "$policy: pruned"
	expect 0 "$recover" "${B[@]}" dump && [ -z "$out" ] && ok ||
		fail "$policy: dump after prune: $out"
	expect 0 "$recover" "${B[@]}" list --all --json && [ "$out" = "[]" ] && ok ||
		fail "$policy: pruned but listed: $out"
done

# A bad parameter in the path is named.
expect 1 "$recover" --journal "etcd://$eps/x?colour=blue" recover &&
	has "$err" "colour" "an unknown parameter is named"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
