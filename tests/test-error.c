/*
 * tests/test-error.c - error codes and chained error values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mmig/error.h"

static void
test_error_strerror_covers_own_and_errno_codes(void **state)
{
	(void)state;
	assert_string_equal(mmig_strerror(MMIG_ENOTIMPL), "not implemented");
	assert_string_equal(mmig_err_name(MMIG_ECORRUPT), "MMIG_ECORRUPT");
	assert_string_equal(mmig_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(mmig_err_name(-EIO), "EIO");
	assert_string_equal(mmig_strerror(MMIG_OK), "success");
	assert_string_equal(mmig_strerror(-5000), "unknown error");
}

static void
test_error_wrap_keeps_code_and_prefixes_message(void **state)
{
	struct mmig_error *e = mmig_error_new(MMIG_EDB, "boom");

	(void)state;
	e = mmig_error_wrap(e, "execute operation %s", "create");
	e = mmig_error_wrap(e, "rollback operation at %d with %s", 0, "sad");
	assert_int_equal(mmig_error_code(e), MMIG_EDB);
	assert_string_equal(mmig_error_message(e),
			    "rollback operation at 0 with sad: "
			    "execute operation create: boom");
	assert_string_equal(mmig_error_message(mmig_error_cause(e)), "boom");
	mmig_error_free(e);
}

static void
test_error_long_message_is_not_truncated(void **state)
{
	char big[10000];
	struct mmig_error *e;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	e = mmig_error_wrap(mmig_error_new(MMIG_EOP, "%s", big), "outer");
	assert_int_equal(strlen(mmig_error_message(e)), strlen(big) + 7);
	mmig_error_free(e);
}

static void
test_error_null_is_success(void **state)
{
	(void)state;
	assert_null(mmig_error_wrap(NULL, "nothing"));
	assert_int_equal(mmig_error_code(NULL), MMIG_OK);
	assert_string_equal(mmig_error_message(NULL), "");
	mmig_error_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_strerror_covers_own_and_errno_codes),
		cmocka_unit_test(test_error_wrap_keeps_code_and_prefixes_message),
		cmocka_unit_test(test_error_long_message_is_not_truncated),
		cmocka_unit_test(test_error_null_is_success),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
