#!/usr/bin/env bash
# Runs the embedding example as a user would: one migration that commits,
# one that fails and must leave neither its controller row nor its database.
set -euo pipefail
example=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--journal "$work/j" --controller-db "$work/c.db" --model-dir "$work/m")
ok=7d9f4a2e-3b1c-4e5f-8a6b-9c0d1e2f3a4b
bad=0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$example" "${args[@]}" --uuid "$ok" --rows 50 2>/dev/null)
[[ $out == *": committed" ]] || fail "first run: $out"
if "$example" "${args[@]}" --uuid "$bad" --fail-at fill-model 2>/dev/null; then
	fail "the failing run exited 0"
fi
[ -e "$work/m/$bad.db" ] && fail "rolled-back model database left behind"
[ -e "$work/m/$ok.db" ] || fail "committed model database missing"
# The controller still holds exactly the committed model.
rows=$(sqlite3 "$work/c.db" "SELECT group_concat(uuid) FROM models")
[ "$rows" = "$ok" ] || fail "controller rows: $rows"
parts=$(sqlite3 "$work/m/$ok.db" "SELECT count(*) FROM parts")
[ "$parts" = 50 ] || fail "parts: $parts"
"$example" "${args[@]}" --uuid "../../etc/passwd" 2>/dev/null && fail "bad uuid accepted"

# Killed (SIGKILL, injected right after fill-model's database commit), then
# started again: the start-up recovery rolls the dead run back first.
third=5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f
set +e
MMIG_FAULT=DB_COMMITTED:2:kill "$example" "${args[@]}" --uuid "$third" \
	>/dev/null 2>&1
status=$?
set -e
[ "$status" = 137 ] || fail "the injected kill did not happen (exit $status)"
[ -e "$work/m/$third.db" ] || fail "the killed run left no model database"
out=$("$example" "${args[@]}" --uuid "$third" 2>/dev/null)
[[ $out == *"recovered "*": rolled-back"* ]] || fail "no recovery: $out"
[[ $out == *": committed" ]] || fail "rerun after recovery: $out"
rows=$(sqlite3 "$work/c.db" "SELECT count(*) FROM models WHERE uuid = '$third'")
[ "$rows" = 1 ] || fail "controller rows for the recovered model: $rows"
echo "example: 1 passed, 0 failed"
