/*
 * tests/juju-upgraded.h - is a juju/description document the current-version
 * upgrade of an older one?  Shared by tests/test-juju.c and tests/yaml-same.c.
 */
#ifndef TESTS_JUJU_UPGRADED_H
#define TESTS_JUJU_UPGRADED_H

#include "yaml-doc-int.h"

#include <stdbool.h>
#include <stddef.h>

/**
 * Does @p new_root hold every scalar value of @p old_root, at the same
 * place or where the table in juju-upgraded.c says a later version moved
 * it, and is every versioned mapping of @p new_root at the current
 * version (the table there)?  On false, @p msg says where.
 */
bool juju_upgraded_check(const struct mmig__ynode *old_root,
			 const struct mmig__ynode *new_root, char *msg,
			 size_t size);

#endif
