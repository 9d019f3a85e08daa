#!/usr/bin/env bash
# examples/test-ledger-plugin.sh - the example plug-in, as docs/plugins.md
# tells its reader to use it: a migration of the plug-in's operations is
# killed with SIGKILL (by this script, another process) in the middle, then
# mmig-recover --plugin settles it, by resuming and by rolling back.
#
#   test-ledger-plugin.sh LEDGER-RUN LEDGER-PLUGIN.so MMIG-RECOVER
set -u
run=$1
plugin=$2
recover=$3
work=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
pid=
args=(--journal "$work/journal" --controller-db "$work/controller.db"
	--model-dir "$work/models")
passed=0
failed=0
check() { # NAME STATUS [DETAIL]
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $1${3:+: $3}"
	fi
}
sql() { sqlite3 "$@" 2>&1; }

# Start a migration held after OP, wait until it is there, kill it.
start_and_kill() { # UUID OP
	rm -f "$work/ready"
	"$run" --plugin "$plugin" "${args[@]}" --uuid "$1" \
		--hold-after "$2" --ready "$work/ready" >"$work/run.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		[ -e "$work/ready" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$work/ready" ]
	check "$1 reached $2" $? "$(cat "$work/run.out")"
	kill -9 $pid
	wait $pid 2>/dev/null
	check "$1 killed by SIGKILL" $([ $? -eq 137 ]; echo $?)
	pid=
}

# 1. A run that is not interrupted commits.
a=11111111-2222-4333-8444-555555555555
out=$("$run" --plugin "$plugin" "${args[@]}" --uuid "$a" 2>&1)
check "plain run commits" $?  "$out"
check "plain run says committed" $([[ $out == *": committed" ]]; echo $?) "$out"

# 2. Killed after ledger-fill ran, before the journal recorded it done.
b=22222222-3333-4444-8555-666666666666
start_and_kill "$b" ledger-fill
out=$("$recover" "${args[@]}" list 2>&1)
check "list shows the dead migration" \
	$([[ $out == *"$b"* && $out == *dead* ]]; echo $?) "$out"
# Without the plug-in its operations are unknown: refused, nothing changed.
out=$("$recover" "${args[@]}" recover --policy resume 2>&1)
check "recover without the plug-in exits 1" $([ $? -eq 1 ]; echo $?) "$out"
check "recover without the plug-in refuses" \
	$([[ $out == *refused* && $out == *ledger-* ]]; echo $?) "$out"
out=$("$recover" "${args[@]}" --plugin "$plugin" plan --policy resume 2>&1)
check "plan with the plug-in" $? "$out"
out=$("$recover" "${args[@]}" --plugin "$plugin" recover --policy resume 2>&1)
check "resume with the plug-in exits 0" $? "$out"
check "resume commits" $([[ $out == *"$b"*committed* ]]; echo $?) "$out"
n=$(sql "$work/models/$b.db" "SELECT count(*), sum(amount) FROM entries")
m=$(sql "$work/models/$a.db" "SELECT count(*), sum(amount) FROM entries")
check "resumed ledger has every entry once" \
	$([ "$n" = "$m" ] && [[ $n == 2000\|* ]]; echo $?) "$n vs $m"
s=$(sql "$work/controller.db" "SELECT status FROM ledgers WHERE uuid = '$b'")
check "resumed ledger is open" $([ "$s" = open ]; echo $?) "$s"

# 3. Killed the same way, then rolled back (the default policy).
c=33333333-4444-4555-8666-777777777777
start_and_kill "$c" ledger-fill
out=$("$recover" "${args[@]}" --plugin "$plugin" recover 2>&1)
check "rollback with the plug-in exits 0" $? "$out"
check "rolled back" $([[ $out == *"$c"*rolled-back* ]]; echo $?) "$out"
s=$(sql "$work/controller.db" "SELECT count(*) FROM ledgers WHERE uuid = '$c'")
check "no controller row left" $([ "$s" = 0 ]; echo $?) "$s"
check "no model database left" $([ ! -e "$work/models/$c.db" ]; echo $?)

# 4. Killed after the first operation: rolled back from one ahead
#    (ledger-fill never ran, and its rollback must cope).
d=44444444-5555-4666-8777-888888888888
start_and_kill "$d" ledger-create
out=$("$recover" "${args[@]}" --plugin "$plugin" recover 2>&1)
check "early kill rolled back" $([[ $out == *"$d"*rolled-back* ]]; echo $?) "$out"
check "no model database left (early)" $([ ! -e "$work/models/$d.db" ]; echo $?)

# Everything settled, the journal clean, the first ledgers untouched.
out=$("$recover" "${args[@]}" verify 2>&1)
check "journal verifies" $? "$out"
out=$("$recover" "${args[@]}" list --json 2>&1)
check "nothing in flight" $([ "$out" = "[]" ]; echo $?) "$out"
s=$(sql "$work/controller.db" "SELECT group_concat(uuid) FROM (SELECT uuid FROM ledgers ORDER BY uuid)")
check "controller holds exactly the committed ledgers" \
	$([ "$s" = "$a,$b" ]; echo $?) "$s"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
