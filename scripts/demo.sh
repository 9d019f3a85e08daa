#!/usr/bin/env bash
# The main job, on built-in defaults, in a scratch directory: install what is
# needed, build, then run a journaled migration that commits and one that
# fails at its second operation and is rolled back, showing the journal and
# both databases after each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/mmig-demo.XXXXXX")
example=build/examples/embed-example
args=(--journal "$work/journal" --controller-db "$work/controller.db"
	--model-dir "$work/models")
ok_uuid=7d9f4a2e-3b1c-4e5f-8a6b-9c0d1e2f3a4b
bad_uuid=0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e

echo "== 1. a migration of two operations that commits (scratch: $work)"
"$example" "${args[@]}" --uuid "$ok_uuid" --rows 1000 --show
echo
echo "== 2. a migration that fails at its second operation and rolls back"
"$example" "${args[@]}" --uuid "$bad_uuid" --fail-at fill-model --show || true
echo
echo "== what the databases hold now"
echo "controller models:"
sqlite3 "$work/controller.db" "SELECT uuid, status FROM models"
echo "model databases:"
ls "$work/models"
echo "parts in $ok_uuid: $(sqlite3 "$work/models/$ok_uuid.db" 'SELECT count(*) FROM parts')"
if [ -e "$work/models/$bad_uuid.db" ]; then
	echo "FAIL: the rolled-back model's database is still there" >&2
	exit 1
fi
echo "the rolled-back model left no row and no database file"
