/*
 * tests/data-file.h - read a test's data file whole, for the suites that
 * parse real Juju documents and bundles (tests/data/juju).
 */
#ifndef MMIG_TEST_DATA_FILE_H
#define MMIG_TEST_DATA_FILE_H

#include <stddef.h>

/*
 * The file @p dir/@p name, NUL-terminated, in a malloc()ed buffer the
 * caller frees; @p len gets its size without the NUL.  A file that cannot
 * be read, or is empty, fails the running cmocka test.
 */
char *test_data_file(const char *dir, const char *name, size_t *len);

#endif
