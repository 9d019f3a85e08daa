#!/usr/bin/env bash
# contrib/test-completion.sh - the bash completion scripts load in bash and
# complete what the tools accept.
#
#   test-completion.sh MMIG MMIG-RECOVER COMPLETION-DIR
#
# For each tool: the script loads with no error; with the cursor after the
# tool's name, every command its --help lists is offered; after a command
# and "--", every long option that command's --help prints is offered.
# Then mmig-recover completes a migration id from a real journal.
set -u
mmig=$1
recover=$2
dir=$(realpath "$3")
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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The tools under the names the scripts complete, first on PATH.
mkdir "$work/bin"
ln -s "$(realpath "$mmig")" "$work/bin/mmig"
ln -s "$(realpath "$recover")" "$work/bin/mmig-recover"
export PATH="$work/bin:$PATH"

for f in mmig mmig-recover; do
	out=$(bash --norc --noprofile -c "set -e; . '$dir/$f'; complete -p $f" 2>&1)
	check "$f: script loads and registers" $? "$out"
done

# complete WORDS...: what the function offers for the last word.
complete_words() {
	bash --norc --noprofile -c '
		. "$1/mmig"; . "$1/mmig-recover"
		shift
		fn=$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/")
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		"$fn"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$dir" "$@"
}

commands_of() {
	"$1" --help | awk '/^Commands:/{on=1; next} on && /^$/{exit}
		on && /^  [a-z]/{print $1}'
}

for tool in mmig mmig-recover; do
	cmds=$(commands_of "$tool")
	check "$tool: --help lists commands" $([ -n "$cmds" ]; echo $?)
	offered=$(complete_words "$tool" "")
	for c in $cmds; do
		grep -qx -- "$c" <<<"$offered"
		check "$tool: command $c completed" $? "$(echo $offered)"
		opts=$("$tool" "$c" --help | grep -oE -- '--[a-z][a-z-]*' |
			sort -u)
		offered_opts=$(complete_words "$tool" "$c" --)
		for o in $opts; do
			grep -qx -- "$o" <<<"$offered_opts"
			check "$tool $c: option $o completed" $? \
				"$(echo $offered_opts)"
		done
	done
done

# Values.
out=$(complete_words mmig-recover recover --policy "")
check "recover --policy values" \
	$([ "$(echo $out)" = "rollback resume" ]; echo $?) "$out"
out=$(complete_words mmig import --durability p)
check "import --durability p" $([ "$out" = process ]; echo $?) "$out"

# A migration id, read from a real journal.
cd "$work"
mmig gen-model --machines 1 --applications 1 --units-per-app 1 \
	--relations 0 -o model.json &&
	mmig import --quiet --journal j --controller-db c.db \
		--model-dir m model.json
check "a migration to complete" $?
id=$(mmig-recover --journal j list --all --json |
	grep -o '"id": *"[0-9a-f-]*"' | grep -o '[0-9a-f-]\{36\}')
out=$(complete_words mmig-recover --journal j show "${id:0:4}")
check "show completes the id" $([ -n "$id" ] && [ "$out" = "$id" ]; echo $?) \
	"id=$id offered=$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
