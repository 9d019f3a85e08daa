#!/usr/bin/env bash
# mmig gen-model --from-bundle as a user runs it: usage
# errors, byte-for-byte determinism per seed, a bad bundle refused with its
# line and column and no output file left, and the expansions of both
# shipped bundles imported with exact counts and exported with the same
# data (the counts are derived in tests/test-bundle.c).
#
# usage: test-gen-bundle.sh PATH/TO/mmig PATH/TO/yaml-same DATA_DIR
set -euo pipefail
mmig=$(realpath "$1")
yaml_same=$(realpath "$2")
data=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); }
q() { sqlite3 "$@"; }
ck=$data/bundle-charmed-kubernetes-1.35.yaml
kf=$data/bundle-kubeflow-1.10-stable.yaml

# ---- usage ----------------------------------------------------------------
"$mmig" gen-model --help | grep -q -- "--from-bundle" || fail "--help"
for args in "--scale 2" "--from-bundle $ck --machines 3" \
	"--from-bundle $ck --format json" "--format xml" \
	"--from-bundle $ck --scale 0" "--from-bundle $ck --scale x"; do
	set +e
	"$mmig" gen-model $args -o "$work/x.yaml" >/dev/null 2>"$work/err"
	rc=$?
	set -e
	[ $rc = 2 ] || fail "'gen-model $args': exit $rc, want 2"
	grep -q '^mmig: usage: ' "$work/err" || fail "'gen-model $args': message"
	[ ! -e "$work/x.yaml" ] || fail "'gen-model $args': wrote its output"
done
ok

# ---- determinism ----------------------------------------------------------
"$mmig" gen-model --from-bundle "$ck" --scale 3 --seed 5 -o "$work/a.yaml"
"$mmig" gen-model --from-bundle "$ck" --scale 3 --seed 5 >"$work/b.yaml"
cmp -s "$work/a.yaml" "$work/b.yaml" || fail "not deterministic"
"$mmig" gen-model --from-bundle "$ck" --scale 3 --seed 6 -o "$work/c.yaml"
cmp -s "$work/a.yaml" "$work/c.yaml" && fail "seed ignored"
ok

# ---- refusals -------------------------------------------------------------
printf 'machines:\n  "0": {}\napplications:\n  a:\n    charm: x\n    num_units: 2\n    to: ["0", "lxd:7"]\n' >"$work/bad.yaml"
set +e
"$mmig" gen-model --from-bundle "$work/bad.yaml" -o "$work/out.yaml" 2>"$work/err"
rc=$?
set -e
[ $rc = 1 ] || fail "bad bundle: exit $rc, want 1"
grep -q "bad.yaml: line 7, column 15: applications.a.to\[1\]: .*machine 7" \
	"$work/err" || fail "bad bundle: message $(cat "$work/err")"
[ ! -e "$work/out.yaml" ] || fail "bad bundle: left its output"
set +e
"$mmig" gen-model --from-bundle "$work/none.yaml" 2>"$work/err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "none.yaml: No such file" "$work/err" ||
	fail "missing bundle: exit $rc"
# Over what import takes (1,000,000 machines, units and relations).
set +e
"$mmig" gen-model --from-bundle "$ck" --scale 40000 -o "$work/big.yaml" \
	2>"$work/err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "import refuses" "$work/err" ||
	fail "too big: exit $rc: $(cat "$work/err")"
[ ! -e "$work/big.yaml" ] || fail "too big: left its output"
ok

# ---- import and export ----------------------------------------------------
# bundle scale machines units relations endpoints no-machine subordinate type
while read -r b scale machines units relations endpoints nomachine subs \
	type; do
	d=$work/imp-$scale-$(basename "$b")
	mkdir -p "$d"
	"$mmig" gen-model --from-bundle "$data/$b" --scale "$scale" --seed 9 \
		-o "$d/model.yaml"
	(cd "$d" && "$mmig" import model.yaml --durability process \
		>out 2>err) || fail "import $b: $(cat "$d/err")"
	uuid=$(awk '/^  uuid:/ {print $2; exit}' "$d/model.yaml")
	db=$d/models/$uuid.db
	[ "$(q "$db" "SELECT count(*) FROM machines")" = "$machines" ] ||
		fail "$b x$scale: machines"
	[ "$(q "$db" "SELECT count(*) FROM units")" = "$units" ] ||
		fail "$b x$scale: units"
	[ "$(q "$db" "SELECT count(*) FROM relations")" = "$relations" ] ||
		fail "$b x$scale: relations"
	[ "$(q "$db" "SELECT count(*) FROM relation_endpoints")" = "$endpoints" ] ||
		fail "$b x$scale: endpoints"
	[ "$(q "$db" "SELECT count(*) FROM units WHERE machine IS NULL")" = "$nomachine" ] ||
		fail "$b x$scale: units without a machine"
	[ "$(q "$db" "SELECT count(*) FROM units WHERE principal IS NOT NULL")" = "$subs" ] ||
		fail "$b x$scale: subordinate units"
	[ "$(q "$db" "SELECT type FROM model")" = "$type" ] || fail "$b: type"
	(cd "$d" && "$mmig" export "$uuid" -o exported.yaml) || fail "export $b"
	"$yaml_same" "$d/model.yaml" "$d/exported.yaml" ||
		fail "$b x$scale: export differs from the expansion"
	ok
done <<-EOF
bundle-charmed-kubernetes-1.35.yaml 1 10 20 16 29 0 10 iaas
bundle-charmed-kubernetes-1.35.yaml 20 200 400 16 29 0 200 iaas
bundle-kubeflow-1.10-stable.yaml 1 0 37 37 72 37 0 caas
bundle-kubeflow-1.10-stable.yaml 20 0 740 37 72 740 0 caas
EOF

echo "test-gen-bundle: $passed groups passed"
