#!/bin/sh
# tests/test-random-kill.sh MMIG MMIG_RECOVER [TRIALS] [SEED]
#
# The random kill suite: the reference import of a large model (10,000
# machines, 50,000 units) is killed with SIGKILL from outside at a seeded
# random instant inside its run time, then settled by mmig-recover, with
# the policy alternating between rollback and resume and the durability
# between durable and process.  Checked with sqlite3 after each trial:
#   rolled back  => no controller row, no model database file;
#   committed    => the row is 'active' and the model database holds
#                   exactly the description's machines, units,
#                   applications and relations;
#   always       => `mmig-recover verify` exits 0 and `list --json` is [].
# The same SEED gives the same instants (the run time is measured first,
# so the spread follows the machine).  Prints trials and violations.
set -u

mmig=$1
rec=$2
trials=${3:-24}
seed=${4:-${MMIG_SEED:-6}}
machines=10000
apps=50
units_per_app=1000
relations=40

dir=$(mktemp -d "${TMPDIR:-/tmp}/mmig-random-kill.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
"$mmig" gen-model --machines $machines --applications $apps \
	--units-per-app $units_per_app --relations $relations --seed 7 \
	-o "$dir/model.json" || exit 1
uuid=$(grep -o '"uuid": "[^"]*"' "$dir/model.json" | head -n 1 | cut -d'"' -f4)
units=$((apps * units_per_app))

now_us() {
	echo $(($(date +%s%N) / 1000))
}

# Seeded LCG (the C library's constants), so the trials repeat exactly.
state=$seed
next_random() {
	state=$(((state * 1103515245 + 12345) % 2147483648))
}

import() { # DIR DURABILITY; exec, so that $! is mmig itself
	exec "$mmig" import --journal "$1/journal" --controller-db "$1/controller.db" \
		--model-dir "$1/models" --durability "$2" --quiet \
		"$dir/model.json" >/dev/null 2>"$1/import.err"
}

# One undisturbed run, to spread the kills over the real run time.
mkdir "$dir/measure"
t0=$(now_us)
(import "$dir/measure" durable) || { cat "$dir/measure/import.err"; exit 1; }
run_us=$(($(now_us) - t0))
echo "random kill: one import of $machines machines, $units units takes" \
	"$((run_us / 1000)) ms; $trials trials, seed $seed"

violations=0
committed=0
rolled_back=0
finished=0
violation() {
	violations=$((violations + 1))
	echo "violation in trial $trial (delay ${delay_us} us, $policy," \
		"$durability): $*" >&2
}

count() { # TABLE
	sqlite3 "$run/models/$uuid.db" "SELECT count(*) FROM $1" 2>/dev/null
}

trial=1
while [ $trial -le "$trials" ]; do
	run=$dir/t$trial
	mkdir "$run"
	next_random
	# 0 .. 1.2 x the run time: now and then the import wins the race
	delay_us=$((state % (run_us * 12 / 10 + 1)))
	if [ $((trial % 2)) -eq 1 ]; then policy=rollback; else policy=resume; fi
	if [ $((trial % 4)) -lt 2 ]; then durability=durable; else durability=process; fi
	import "$run" $durability &
	pid=$!
	sleep "$((delay_us / 1000000)).$(printf %06d $((delay_us % 1000000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	st=$?
	[ $st -eq 0 ] && finished=$((finished + 1))
	if [ $st -ne 0 ] && [ $st -ne 137 ]; then
		violation "import exited $st: $(cat "$run/import.err")"
	fi
	# Killed before the journal existed: nothing to recover.
	if [ -d "$run/journal" ] && ! "$rec" --journal "$run/journal" \
		--controller-db "$run/controller.db" --model-dir "$run/models" \
		recover --policy $policy >"$run/recover.out" 2>&1; then
		violation "recover failed: $(cat "$run/recover.out")"
	fi
	row=$(sqlite3 "$run/controller.db" \
		"SELECT status FROM models WHERE uuid = '$uuid'" 2>/dev/null)
	if [ -z "$row" ]; then
		rolled_back=$((rolled_back + 1))
		[ -e "$run/models/$uuid.db" ] &&
			violation "rolled back, but the model database is there"
	elif [ "$row" = active ]; then
		committed=$((committed + 1))
		[ "$(count machines)" = $machines ] ||
			violation "committed with $(count machines) machines"
		[ "$(count units)" = $units ] ||
			violation "committed with $(count units) units"
		[ "$(count applications)" = $apps ] ||
			violation "committed with $(count applications) applications"
		[ "$(count relations)" = $relations ] ||
			violation "committed with $(count relations) relations"
	else
		violation "the controller row is '$row' after recovery"
	fi
	if [ -d "$run/journal" ]; then
		"$rec" --journal "$run/journal" verify >"$run/verify.out" 2>&1 ||
			violation "verify: $(cat "$run/verify.out")"
		# stdout only: a journal killed while being made is no journal
		# yet, which list says on stderr beside its "[]".
		left=$("$rec" --journal "$run/journal" list --json \
			2>"$run/list.err")
		[ "$left" = "[]" ] ||
			violation "still in flight: $left $(cat "$run/list.err")"
	fi
	rm -rf "$run"
	trial=$((trial + 1))
done
echo "random kill: $trials trials, $committed committed, $rolled_back" \
	"rolled back ($finished finished before the kill), $violations violations"
[ $violations -eq 0 ]
