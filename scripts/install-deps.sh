#!/usr/bin/env bash
# Install what libmmig needs to build, test and run, from Debian's packages.
# Run as root on Debian 12.  Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
	build-essential meson ninja-build pkg-config
	liblmdb-dev libsqlite3-dev libmsgpack-dev libjansson-dev libyaml-dev libxxhash-dev
	libcmocka-dev libcurl4-openssl-dev libssl-dev
	# The PostgreSQL peer of `mmig bench` (figures 1 and 2): the client
	# library to build it, the server to measure it (a private cluster
	# in the bench's scratch directory; about 4 s more for bench-quick).
	libpq-dev postgresql
	etcd-server etcd-client
	sqlite3 lmdb-utils clang valgrind scdoc man-db groff-base
	doxygen bash-completion strace
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
