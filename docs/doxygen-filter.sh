#!/bin/sh
# Doxygen's input filter for the public headers (see Doxyfile.in): the
# plain comment that opens a header becomes its @file block.
exec sed -e '1s|^/\*$|/** @file|' "$1"
