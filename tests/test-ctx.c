/*
 * tests/test-ctx.c - cancellation, pause, deadlines, and cancel from a
 * signal handler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include "ctx-int.h"
#include "mmig/mmig.h"

static void
test_ctx_new_is_live(void **state)
{
	struct mmig_ctx *ctx;

	(void)state;
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	assert_int_equal(mmig_ctx_err(ctx), MMIG_OK);
	assert_false(mmig_ctx_pause_requested(ctx));
	mmig_ctx_free(ctx);
	mmig_ctx_free(NULL);
}

static void
test_ctx_cancel_and_pause(void **state)
{
	struct mmig_ctx *ctx;

	(void)state;
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_ctx_err(ctx), MMIG_ECANCELED);
	assert_true(mmig_ctx_pause_requested(ctx));
	/* A later plain cancel does not turn a pause into a rollback. */
	mmig_ctx_cancel(ctx);
	assert_true(mmig_ctx_pause_requested(ctx));
	mmig_ctx_free(ctx);
}

static void
test_ctx_child_sees_parent_but_not_the_reverse(void **state)
{
	struct mmig_ctx *parent;
	struct mmig_ctx child, other;

	(void)state;
	assert_int_equal(mmig_ctx_new(&parent), MMIG_OK);
	mmig__ctx_init(&child, parent);
	mmig__ctx_init(&other, parent);
	mmig_ctx_cancel(&other);
	assert_int_equal(mmig_ctx_err(parent), MMIG_OK);
	assert_int_equal(mmig_ctx_err(&child), MMIG_OK);
	mmig_ctx_cancel(parent);
	assert_int_equal(mmig_ctx_err(&child), MMIG_ECANCELED);
	mmig_ctx_free(parent);
}

static void
test_ctx_deadline(void **state)
{
	struct mmig_ctx *ctx;

	(void)state;
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_set_timeout(ctx, 3600 * 1000);
	assert_int_equal(mmig_ctx_err(ctx), MMIG_OK);
	mmig_ctx_set_timeout(ctx, 1);
	usleep(5000);
	assert_int_equal(mmig_ctx_err(ctx), MMIG_ETIMEDOUT);
	mmig_ctx_set_timeout(ctx, 0);
	assert_int_equal(mmig_ctx_err(ctx), MMIG_OK);
	mmig_ctx_free(ctx);
}

static struct mmig_ctx *signal_ctx;

static void
on_alarm(int sig)
{
	(void)sig;
	mmig_ctx_cancel(signal_ctx);
}

static void
test_ctx_cancel_from_signal_handler(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	(void)state;
	assert_int_equal(mmig_ctx_new(&signal_ctx), MMIG_OK);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	alarm(1);
	/* Bounded: the alarm fires after one second. */
	for (int i = 0; i < 5000 && mmig_ctx_err(signal_ctx) == MMIG_OK; i++)
		usleep(1000);
	assert_int_equal(mmig_ctx_err(signal_ctx), MMIG_ECANCELED);
	mmig_ctx_free(signal_ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_new_is_live),
		cmocka_unit_test(test_ctx_cancel_and_pause),
		cmocka_unit_test(test_ctx_child_sees_parent_but_not_the_reverse),
		cmocka_unit_test(test_ctx_deadline),
		cmocka_unit_test(test_ctx_cancel_from_signal_handler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
