#!/usr/bin/env bash
# man/test-man.sh - the man pages render, and say what the tools say.
#
#   test-man.sh MMIG MMIG-RECOVER MMIG.1 MMIG-RECOVER.1
#
# For each tool and its page (built by scdoc):
#  - the page renders with `man -l` and groff finds nothing to warn about
#    (-ww: every warning);
#  - every command the tool's --help lists has an entry in the page;
#  - every option that any --help of the tool prints (the tool's own and
#    each command's) appears in the page.
# A new option added to a tool without a word in its page fails here.
set -u

fail=0
passed=0
check() { # NAME CONDITION-STATUS [MESSAGE]
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $1${3:+: $3}"
	fi
}

# The page as a reader sees it, in ASCII, wide, with the words that groff
# hyphenated at the end of a line joined again.
render() {
	LC_ALL=C MANWIDTH=200 man -l "$1" 2>"$tmp/man.err" | col -b |
		sed -e ':a' -e '/-$/{N;s/-\n */-/;ba' -e '}'
}

# The commands a tool's --help lists: the first word of each indented line
# after "Commands:", up to the next blank line.
commands_of() {
	"$1" --help | awk '/^Commands:/{on=1; next} on && /^$/{exit}
		on && /^  [a-z]/{print $1}'
}

# The options in a help text: -x and --long-name words.
options_in() {
	grep -oE -- '(^|[][ ,(|])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[^-]*//' |
		sort -u
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

test_page() { # TOOL PAGE
	local tool=$1 page=$2 name cmds opts text
	name=$(basename "$tool")

	render "$page" >"$tmp/$name.txt"
	check "$name: man -l renders" \
		$([ -s "$tmp/$name.txt" ] && ! [ -s "$tmp/man.err" ]; echo $?) \
		"$(cat "$tmp/man.err")"
	groff -man -Tascii -ww -z "$page" 2>"$tmp/groff.err"
	check "$name: groff warns of nothing" \
		$([ $? -eq 0 ] && ! [ -s "$tmp/groff.err" ]; echo $?) \
		"$(cat "$tmp/groff.err")"
	head -n 1 "$tmp/$name.txt" | grep -q "^$name(1)"
	check "$name: page title" $?

	cmds=$(commands_of "$tool")
	check "$name: --help lists commands" $([ -n "$cmds" ]; echo $?)
	"$tool" --help >"$tmp/help"
	for c in $cmds; do
		"$tool" "$c" --help >>"$tmp/help" 2>&1
		check "$name $c --help exits 0" $?
		# An entry: the command at the start of a line of the page
		# (a heading or a term), or after the tool's name.
		grep -qE "^ *($c( |$)|$name $c( |$))" "$tmp/$name.txt"
		check "$name: page has command $c" $?
	done
	opts=$(options_in <"$tmp/help")
	check "$name: --help has options" $([ -n "$opts" ]; echo $?)
	for o in $opts; do
		grep -qe "$o\\b" "$tmp/$name.txt"
		check "$name: page has option $o" $? \
			"printed by --help, missing from $(basename "$page")"
	done
}

test_page "$1" "$3"
test_page "$2" "$4"

echo "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
