#!/usr/bin/env bash
# contrib/test-systemd-unit.sh - the example unit passes systemd-analyze
# verify, with ExecStart= pointed at the mmig-recover just built (verify
# insists that the program exists).
#
#   test-systemd-unit.sh UNIT MMIG-RECOVER
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=[^ ]*/mmig-recover |ExecStart=$(realpath "$2") |" "$1" \
	>"$work/mmig-recover.service"
grep -q "^ExecStart=$(realpath "$2") " "$work/mmig-recover.service"
grep -q '^Type=oneshot$' "$work/mmig-recover.service"
grep -q '^Before=' "$work/mmig-recover.service"
# A missing state directory must not fail the unit (first boot).
grep -q '^ReadWritePaths=-/var/lib/mmig$' "$work/mmig-recover.service"
SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no \
	"$work/mmig-recover.service"
echo "1 passed, 0 failed"
