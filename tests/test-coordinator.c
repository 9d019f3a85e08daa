/*
 * tests/test-coordinator.c - the coordinator's baseline contract: order of
 * calls, rollback k..0, error wording, defaults, cancellation, logs, and
 * the model deleter: called by no perform on its own (as in the origin,
 * where Perform never calls it), only by an op through the scope.
 * Public API only.
 *
 * Test operations append what they are asked to do to a shared call log
 * ("setup:a execute:a hook:a ..."), so each test asserts the exact sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmig/mmig.h"

enum fail_at { FAIL_NONE, FAIL_SETUP, FAIL_EXECUTE, FAIL_ROLLBACK };

struct calls {
	char log[4096];
	char logger[8192];
	int deletes;
	int destroyed;
	const char *hook_fail_name; /* hook fails for this op */
	struct mmig_ctx *cancel_ctx; /* cancelled by an execute, if set */
	const char *cancel_after;   /* ... of this op */
	int rollback_ctx_err;       /* mmig_ctx_err seen by the last rollback */
};

struct test_op {
	const char *name;
	enum fail_at fail;
	const char *fail_msg;
	struct calls *calls;
};

static void
record(struct calls *calls, const char *what, const char *name)
{
	size_t n = strlen(calls->log);

	snprintf(calls->log + n, sizeof(calls->log) - n, "%s%s:%s",
		 n ? " " : "", what, name);
}

static struct mmig_error *
t_setup(void *self, struct mmig_scope *scope)
{
	struct test_op *op = self;

	(void)scope;
	record(op->calls, "setup", op->name);
	if (op->fail == FAIL_SETUP)
		return mmig_error_new(MMIG_EOP, "%s", op->fail_msg);
	return NULL;
}

static struct mmig_error *
t_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	struct test_op *op = self;

	(void)ctx;
	(void)model;
	record(op->calls, "execute", op->name);
	if (op->calls->cancel_after &&
	    strcmp(op->calls->cancel_after, op->name) == 0)
		mmig_ctx_cancel(op->calls->cancel_ctx);
	if (op->fail == FAIL_EXECUTE)
		return mmig_error_new(MMIG_EOP, "%s", op->fail_msg);
	return NULL;
}

static struct mmig_error *
t_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	struct test_op *op = self;

	(void)model;
	record(op->calls, "rollback", op->name);
	op->calls->rollback_ctx_err = mmig_ctx_err(ctx);
	if (op->fail == FAIL_ROLLBACK)
		return mmig_error_new(MMIG_EOP, "%s", op->fail_msg);
	return NULL;
}

static void
t_destroy(void *self)
{
	struct test_op *op = self;

	op->calls->destroyed++;
	free(op);
}

static const struct mmig_op_vtable full_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "full",
	.version = 1,
	.setup = t_setup,
	.execute = t_execute,
	.rollback = t_rollback,
	.destroy = t_destroy,
};

/* The vtable's name is per instance here, so each op gets its own copy. */
struct named_vt {
	struct mmig_op_vtable vt;
	char name[32];
};

static struct named_vt vts[16];
static size_t n_vts;

static void
add_op(struct mmig_coordinator *c, struct calls *calls, const char *name,
       enum fail_at fail, const char *fail_msg,
       const struct mmig_op_vtable *shape)
{
	struct test_op *op = calloc(1, sizeof(*op));
	struct named_vt *nv = &vts[n_vts++];

	assert_non_null(op);
	snprintf(nv->name, sizeof(nv->name), "%s", name);
	nv->vt = *shape;
	nv->vt.name = nv->name;
	op->name = nv->name;
	op->fail = fail;
	op->fail_msg = fail_msg;
	op->calls = calls;
	assert_int_equal(mmig_coordinator_add(c, &nv->vt, op), MMIG_OK);
}

static void
capture_log(void *arg, enum mmig_log_level level, const char *msg)
{
	struct calls *calls = arg;
	size_t n = strlen(calls->logger);

	snprintf(calls->logger + n, sizeof(calls->logger) - n, "%s: %s\n",
		 mmig_log_level_name(level), msg);
}

static struct mmig_error *
count_delete(void *arg, const char *path)
{
	struct calls *calls = arg;

	(void)path;
	calls->deletes++;
	record(calls, "delete", "model");
	return NULL;
}

static struct mmig_error *
hook(void *arg, const struct mmig_op *op)
{
	struct calls *calls = arg;

	record(calls, "hook", op->vt->name);
	if (calls->hook_fail_name &&
	    strcmp(calls->hook_fail_name, op->vt->name) == 0)
		return mmig_error_new(MMIG_EOP, "hooked");
	return NULL;
}

struct fixture {
	struct calls calls;
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	struct mmig_model model;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mmig_scope_config cfg = {
		/* The deleter is counted, not run, and no op opens a
		 * database, so these paths are never touched. */
		.controller_db = "/nonexistent/controller.db",
		.model_db = "/nonexistent/model.db",
		.delete_model = count_delete,
	};

	assert_non_null(f);
	n_vts = 0;
	cfg.delete_arg = &f->calls;
	assert_int_equal(mmig_coordinator_new(&f->c, capture_log, &f->calls),
			 MMIG_OK);
	mmig_coordinator_set_hook(f->c, hook, &f->calls);
	assert_int_equal(mmig_scope_new(&f->scope, &cfg), MMIG_OK);
	f->model.uuid = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	mmig_coordinator_free(f->c);
	mmig_scope_free(f->scope);
	free(f);
	return 0;
}

static int
perform(struct fixture *f, struct mmig_ctx *ctx)
{
	return mmig_coordinator_perform(f->c, ctx, f->scope, &f->model);
}

static void
test_coordinator_add_and_len(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mmig_coordinator_len(f->c), 0);
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(mmig_coordinator_len(f->c), 2);
	assert_int_equal(mmig_coordinator_add(f->c, NULL, NULL), MMIG_EINVAL);
	assert_int_equal(mmig_coordinator_len(f->c), 2);
}

static void
test_coordinator_free_destroys_every_op(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	mmig_coordinator_free(f->c);
	f->c = NULL;
	assert_int_equal(f->calls.destroyed, 2);
}

static void
test_coordinator_runs_ops_in_order_and_never_deletes_on_success(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "c", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_OK);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:b execute:b hook:b "
			    "setup:c execute:c hook:c");
	assert_int_equal(f->calls.deletes, 0);
	assert_null(mmig_coordinator_error(f->c));
	assert_string_equal(mmig_coordinator_errmsg(f->c), "");
}

static void
test_coordinator_rollback_at_setup(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_SETUP, "boom", &full_vt);
	add_op(f->c, &f->calls, "c", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:b "
			    "rollback:b rollback:a");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "setup operation b: boom");
}

static void
test_coordinator_rollback_at_execute(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_EXECUTE, "boom", &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:b execute:b "
			    "rollback:b rollback:a");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "execute operation b: boom");
}

static void
test_coordinator_rollback_at_hook(void **state)
{
	struct fixture *f = *state;

	f->calls.hook_fail_name = "a";
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a rollback:a");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "hook operation a: hooked");
}

static void
test_coordinator_rollback_order_k_to_0_for_every_k(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "o0", "o1", "o2", "o3", "o4" };

	for (size_t k = 0; k < 5; k++) {
		char want[1024] = "";
		struct mmig_coordinator *c;

		assert_int_equal(
			mmig_coordinator_new(&c, capture_log, &f->calls),
			MMIG_OK);
		mmig_coordinator_set_hook(c, hook, &f->calls);
		n_vts = 0;
		f->calls.log[0] = '\0';
		f->calls.deletes = 0;
		for (size_t i = 0; i < 5; i++)
			add_op(c, &f->calls, names[i],
			       i == k ? FAIL_EXECUTE : FAIL_NONE, "boom",
			       &full_vt);
		for (size_t i = 0; i < k; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 "setup:o%zu execute:o%zu hook:o%zu ", i, i, i);
		/* the failing op gets no hook: it runs only after success */
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
			 "setup:o%zu execute:o%zu", k, k);
		for (size_t i = k + 1; i-- > 0;)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 " rollback:o%zu", i);
		strcat(want, "");
		assert_int_equal(
			mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			MMIG_EOP);
		assert_string_equal(f->calls.log, want);
		/* The origin's Perform never calls the deleter itself. */
		assert_int_equal(f->calls.deletes, 0);
		mmig_coordinator_free(c);
	}
}

static void
test_coordinator_rollback_errors_wrapped_in_order(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_ROLLBACK, "sad-a", &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "c", FAIL_ROLLBACK, "sad-c", &full_vt);
	add_op(f->c, &f->calls, "d", FAIL_EXECUTE, "boom", &full_vt);
	/* d's rollback succeeds (it fails at execute), c's and a's fail. */
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_string_equal(
		mmig_coordinator_errmsg(f->c),
		"rollback operation at 0 with sad-a: "
		"rollback operation at 2 with sad-c: execute operation d: boom");
	/* Every rollback was called although two failed. */
	assert_non_null(strstr(f->calls.log, "rollback:d rollback:c "
					     "rollback:b rollback:a"));
	/* The first failure is still the cause, with its code. */
	assert_string_equal(
		mmig_error_message(mmig_error_cause(mmig_coordinator_error(f->c))),
		"boom");
}

static struct mmig_error *
fail_both_execute(void *self, struct mmig_ctx *ctx,
		  const struct mmig_model *model)
{
	(void)self;
	(void)ctx;
	(void)model;
	return mmig_error_new(MMIG_EOP, "boom");
}

static struct mmig_error *
fail_both_rollback(void *self, struct mmig_ctx *ctx,
		   const struct mmig_model *model)
{
	(void)self;
	(void)ctx;
	(void)model;
	return mmig_error_new(MMIG_EOP, "sad");
}

static struct mmig_error *
noop_setup(void *self, struct mmig_scope *scope)
{
	(void)self;
	(void)scope;
	return NULL;
}

static void
test_coordinator_rollback_error_message_matches_origin(void **state)
{
	struct fixture *f = *state;
	static const struct mmig_op_vtable vt = {
		.size = sizeof(struct mmig_op_vtable),
		.name = "foo",
		.setup = noop_setup,
		.execute = fail_both_execute,
		.rollback = fail_both_rollback,
	};

	assert_int_equal(mmig_coordinator_add(f->c, &vt, NULL), MMIG_OK);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "rollback operation at 0 with sad: "
			    "execute operation foo: boom");
}

static void
test_coordinator_missing_setup_is_not_implemented(void **state)
{
	struct fixture *f = *state;
	static const struct mmig_op_vtable vt = { .name = "bare" };

	assert_int_equal(mmig_coordinator_add(f->c, &vt, NULL), MMIG_OK);
	assert_int_equal(perform(f, NULL), MMIG_ENOTIMPL);
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "setup operation bare: setup not implemented");
	assert_int_equal(mmig_error_code(mmig_error_cause(
				 mmig_coordinator_error(f->c))),
			 MMIG_ENOTIMPL);
	/* The missing rollback was a no-op; nothing deleted anything. */
	assert_int_equal(f->calls.deletes, 0);
}

static void
test_coordinator_missing_execute_is_not_implemented(void **state)
{
	struct fixture *f = *state;
	static const struct mmig_op_vtable vt = {
		.size = sizeof(struct mmig_op_vtable),
		.name = "setup-only",
		.setup = noop_setup,
	};

	assert_int_equal(mmig_coordinator_add(f->c, &vt, NULL), MMIG_OK);
	assert_int_equal(perform(f, NULL), MMIG_ENOTIMPL);
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "execute operation setup-only: execute not "
			    "implemented");
	assert_int_equal(f->calls.deletes, 0);
}

static void
test_coordinator_missing_rollback_is_a_noop(void **state)
{
	struct fixture *f = *state;
	struct mmig_op_vtable no_rollback = full_vt;

	no_rollback.rollback = NULL;
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &no_rollback);
	add_op(f->c, &f->calls, "c", FAIL_EXECUTE, "boom", &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_non_null(strstr(f->calls.log,
			       "execute:c rollback:c rollback:a"));
	/* No rollback error was added for the op without a rollback. */
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "execute operation c: boom");
}

/* Every way a perform can fail: the deleter is never called by it. */
static void
test_coordinator_perform_never_calls_the_deleter(void **state)
{
	struct fixture *f = *state;
	static const enum fail_at fails[] = { FAIL_SETUP, FAIL_EXECUTE,
					      FAIL_ROLLBACK };
	struct mmig_ctx *ctx;

	for (size_t i = 0; i < 3; i++) {
		struct mmig_coordinator *c;

		assert_int_equal(mmig_coordinator_new(&c, capture_log,
						      &f->calls),
				 MMIG_OK);
		n_vts = 0;
		add_op(c, &f->calls, "a", fails[i], "x", &full_vt);
		add_op(c, &f->calls, "b", FAIL_EXECUTE, "boom", &full_vt);
		assert_int_equal(
			mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			MMIG_EOP);
		mmig_coordinator_free(c);
	}
	/* hook failure, cancel, success */
	f->calls.hook_fail_name = "a";
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	f->calls.hook_fail_name = NULL;
	assert_int_equal(perform(f, NULL), MMIG_OK);
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_cancel(ctx);
	assert_int_equal(perform(f, ctx), MMIG_ECANCELED);
	mmig_ctx_free(ctx);
	assert_int_equal(f->calls.deletes, 0);
	assert_null(strstr(f->calls.log, "delete"));
	assert_null(strstr(f->calls.logger, "delet"));
}

/* The same with a journal: a journaled perform, failed or rolled back,
 * calls no deleter either (the journal's ROLLED_BACK needs none). */
static void
test_coordinator_journaled_perform_never_calls_the_deleter(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/mmig-test-coord-XXXXXX", cmd[128];
	struct mmig_journal *j;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(mmig_journal_open(&j, dir, NULL, NULL), MMIG_OK);
	mmig_coordinator_set_journal(f->c, j, MMIG_PROCESS);
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_EXECUTE, "boom", &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_int_equal(mmig_coordinator_outcome(f->c),
			 MMIG_OUTCOME_ROLLED_BACK);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:b execute:b "
			    "rollback:b rollback:a");
	assert_int_equal(f->calls.deletes, 0);
	mmig_coordinator_free(f->c);
	f->c = NULL;
	mmig_journal_close(j);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* An op that made the model database deletes it in its own rollback,
 * through the deleter the scope hands out (the origin's ModelDeleter). */
static struct mmig_scope *creator_scope;

static struct mmig_error *
creator_setup(void *self, struct mmig_scope *scope)
{
	creator_scope = scope;
	return t_setup(self, scope);
}

static struct mmig_error *
creator_rollback(void *self, struct mmig_ctx *ctx,
		 const struct mmig_model *model)
{
	struct mmig_error *err = t_rollback(self, ctx, model);

	return err ? err : mmig_scope_delete_model(creator_scope);
}

static void
test_coordinator_op_deletes_through_the_scope(void **state)
{
	struct fixture *f = *state;
	struct mmig_op_vtable creator = full_vt;

	creator.setup = creator_setup;
	creator.rollback = creator_rollback;
	add_op(f->c, &f->calls, "create", FAIL_NONE, NULL, &creator);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "c", FAIL_EXECUTE, "boom", &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_EOP);
	assert_int_equal(f->calls.deletes, 1);
	assert_string_equal(f->calls.log,
			    "setup:create execute:create hook:create "
			    "setup:b execute:b hook:b setup:c execute:c "
			    "rollback:c rollback:b rollback:create "
			    "delete:model");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "execute operation c: boom");
}

static struct mmig_error *
failing_delete(void *arg, const char *path)
{
	(void)arg;
	(void)path;
	return mmig_error_new(MMIG_EDB, "disk gone");
}

/* A failed deletion is the failure of the rollback that asked for it. */
static void
test_coordinator_deleter_failure_is_that_rollbacks_error(void **state)
{
	struct fixture *f = *state;
	struct mmig_op_vtable creator = full_vt;
	struct mmig_scope *scope;
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = "/nonexistent/c.db",
		.model_db = "/nonexistent/m.db",
		.delete_model = failing_delete,
	};

	creator.setup = creator_setup;
	creator.rollback = creator_rollback;
	assert_int_equal(mmig_scope_new(&scope, &cfg), MMIG_OK);
	add_op(f->c, &f->calls, "create", FAIL_NONE, NULL, &creator);
	add_op(f->c, &f->calls, "a", FAIL_EXECUTE, "boom", &full_vt);
	assert_int_equal(
		mmig_coordinator_perform(f->c, NULL, scope, &f->model), MMIG_EOP);
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "rollback operation at 0 with disk gone: "
			    "execute operation a: boom");
	assert_non_null(strstr(f->calls.logger,
			       "error: rollback operation for create failed: "
			       "disk gone\n"));
	mmig_scope_free(scope);
}

static void
test_coordinator_cancel_between_ops(void **state)
{
	struct fixture *f = *state;
	struct mmig_ctx *ctx;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	f->calls.cancel_ctx = ctx;
	f->calls.cancel_after = "b";
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_NONE, NULL, &full_vt);
	add_op(f->c, &f->calls, "c", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, ctx), MMIG_ECANCELED);
	/* c never ran; c (about to run), b, a rolled back. */
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:b execute:b hook:b "
			    "rollback:c rollback:b rollback:a");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "before operation c: context canceled");
	/* Rollbacks ran under their own, live context. */
	assert_int_equal(f->calls.rollback_ctx_err, MMIG_OK);
	mmig_ctx_free(ctx);
}

static void
test_coordinator_deadline_passed_stops_before_first_op(void **state)
{
	struct fixture *f = *state;
	struct mmig_ctx *ctx;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_set_timeout(ctx, 1);
	/* sleep past the deadline without timing anything */
	while (mmig_ctx_err(ctx) == MMIG_OK)
		;
	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, ctx), MMIG_ETIMEDOUT);
	assert_string_equal(f->calls.log, "rollback:a");
	assert_string_equal(mmig_coordinator_errmsg(f->c),
			    "before operation a: deadline exceeded");
	mmig_ctx_free(ctx);
}

static void
test_coordinator_logs_ops_rollbacks_and_failures(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_ROLLBACK, "sad", &full_vt);
	add_op(f->c, &f->calls, "b", FAIL_EXECUTE, "boom", &full_vt);
	perform(f, NULL);
	assert_string_equal(
		f->calls.logger,
		"info: running operation: a\n"
		"info: running operation: b\n"
		"error: import failed: execute operation b: boom\n"
		"info: rolling back operation: b\n"
		"info: rolling back operation: a\n"
		"error: rollback operation for a failed: sad\n");
}

static void
test_coordinator_perform_can_run_again(void **state)
{
	struct fixture *f = *state;

	add_op(f->c, &f->calls, "a", FAIL_NONE, NULL, &full_vt);
	assert_int_equal(perform(f, NULL), MMIG_OK);
	assert_int_equal(perform(f, NULL), MMIG_OK);
	assert_string_equal(f->calls.log,
			    "setup:a execute:a hook:a setup:a execute:a hook:a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_coordinator_add_and_len),
		T(test_coordinator_free_destroys_every_op),
		T(test_coordinator_runs_ops_in_order_and_never_deletes_on_success),
		T(test_coordinator_rollback_at_setup),
		T(test_coordinator_rollback_at_execute),
		T(test_coordinator_rollback_at_hook),
		T(test_coordinator_rollback_order_k_to_0_for_every_k),
		T(test_coordinator_rollback_errors_wrapped_in_order),
		T(test_coordinator_rollback_error_message_matches_origin),
		T(test_coordinator_missing_setup_is_not_implemented),
		T(test_coordinator_missing_execute_is_not_implemented),
		T(test_coordinator_missing_rollback_is_a_noop),
		T(test_coordinator_perform_never_calls_the_deleter),
		T(test_coordinator_journaled_perform_never_calls_the_deleter),
		T(test_coordinator_op_deletes_through_the_scope),
		T(test_coordinator_deleter_failure_is_that_rollbacks_error),
		T(test_coordinator_cancel_between_ops),
		T(test_coordinator_deadline_passed_stops_before_first_op),
		T(test_coordinator_logs_ops_rollbacks_and_failures),
		T(test_coordinator_perform_can_run_again),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
