#!/bin/sh
# docs/install-api.sh API_DIR DOCDIR MANDIR - install the API reference
# Doxygen wrote at build time: API_DIR/html into DOCDIR/html and
# API_DIR/man/man3 into MANDIR/man3 (DOCDIR and MANDIR relative to the
# prefix, as meson's options are).  Run by meson at install time: Doxygen
# chooses the file names, so meson cannot list them when it configures.
set -eu
api=$1
root=${MESON_INSTALL_DESTDIR_PREFIX:?run by meson install}
install_tree() { # SRC DEST
	mkdir -p "$2"
	cp -R "$1"/. "$2"/
	# Pages readable by all, whatever the build user's umask.
	find "$2" -type d -exec chmod 755 {} + -o -type f -exec chmod 644 {} +
}
install_tree "$api/html" "$root/$2/html"
install_tree "$api/man/man3" "$root/$3/man3"
