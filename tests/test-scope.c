/*
 * tests/test-scope.c - scopes, transaction runners and the model deleter.
 *
 * Busy handling is tested against real contention: a second connection, in
 * a thread, holds BEGIN IMMEDIATE on the same file while the runner tries to
 * write.  Each test gets a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "mmig/ctx.h"
#include "mmig/error.h"
#include "mmig/scope.h"
#include "scope-int.h"

#define GOOD_UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

struct fixture {
	char dir[64];
	char controller[128];
	char model[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-scope-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->controller, sizeof(f->controller), "%s/controller.db",
		 f->dir);
	snprintf(f->model, sizeof(f->model), "%s/model.db", f->dir);
	*state = f;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag,
	     struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(f);
	return rc;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static struct mmig_scope *
new_scope(const struct fixture *f, enum mmig_durability d, unsigned budget_ms)
{
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = f->controller,
		.model_db = f->model,
		.durability = d,
		.busy_budget_ms = budget_ms,
	};
	struct mmig_scope *s = NULL;

	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_OK);
	assert_non_null(s);
	return s;
}

static void
exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static sqlite3 *
open_raw(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static long long
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static long long
count_rows(const char *path, const char *table)
{
	char sql[128];
	sqlite3 *db = open_raw(path);
	long long n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	n = query_int(db, sql);
	sqlite3_close(db);
	return n;
}

static struct mmig_error *
create_table(sqlite3 *db, void *arg)
{
	(void)arg;
	if (sqlite3_exec(db, "CREATE TABLE t (v INTEGER)", NULL, NULL, NULL))
		return mmig_error_sqlite(db, SQLITE_ERROR, "create");
	return NULL;
}

/* Inserts one row; counts its calls in *arg. */
static struct mmig_error *
insert_row(sqlite3 *db, void *arg)
{
	int *calls = arg;
	int rc;

	if (calls)
		(*calls)++;
	rc = sqlite3_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL, NULL);
	return rc ? mmig_error_sqlite(db, rc, "insert") : NULL;
}

static struct mmig_txn_runner *
controller_with_table(struct mmig_scope *s)
{
	struct mmig_txn_runner *r = NULL;

	assert_null(mmig_scope_controller_db(s, &r));
	assert_non_null(r);
	assert_null(mmig_txn_run(r, NULL, create_table, NULL));
	return r;
}

static void
test_scope_commit_visible_from_second_connection(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	int calls = 0;

	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	assert_int_equal(calls, 1);
	assert_int_equal(count_rows(f->controller, "t"), 1);
	assert_int_equal(r->txn_count, 2);
	assert_int_equal(r->busy_retries, 0);
	assert_false(s->binding.bound);
	mmig_scope_free(s);
}

static struct mmig_error *last_returned;

static struct mmig_error *
insert_then_fail(sqlite3 *db, void *arg)
{
	(void)arg;
	exec_ok(db, "INSERT INTO t VALUES (1)");
	last_returned = mmig_error_new(MMIG_EOP, "boom");
	return last_returned;
}

static void
test_scope_fn_error_rolls_back_and_returns_same_error(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct mmig_error *err;

	err = mmig_txn_run(r, NULL, insert_then_fail, NULL);
	assert_ptr_equal(err, last_returned);
	assert_int_equal(mmig_error_code(err), MMIG_EOP);
	assert_string_equal(mmig_error_message(err), "boom");
	mmig_error_free(err);
	assert_int_equal(sqlite3_get_autocommit(mmig_txn_runner_db(r)), 1);
	assert_int_equal(query_int(mmig_txn_runner_db(r),
				   "SELECT count(*) FROM t"),
			 0);
	assert_int_equal(count_rows(f->controller, "t"), 0);
	assert_int_equal(r->txn_count, 1);
	mmig_scope_free(s);
}

static struct mmig_error *
deferred_fk_violation(sqlite3 *db, void *arg)
{
	(void)arg;
	exec_ok(db, "INSERT INTO child VALUES (42)");
	return NULL;
}

/* A COMMIT that fails (here: a deferred foreign key, which also shows
 * foreign_keys=ON) must not leave the transaction open. */
static void
test_scope_failed_commit_leaves_no_transaction(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = NULL;
	struct mmig_error *err;

	assert_null(mmig_scope_controller_db(s, &r));
	exec_ok(mmig_txn_runner_db(r),
		"CREATE TABLE parent (id INTEGER PRIMARY KEY);"
		"CREATE TABLE child (p INTEGER REFERENCES parent(id)"
		" DEFERRABLE INITIALLY DEFERRED)");
	err = mmig_txn_run(r, NULL, deferred_fk_violation, NULL);
	assert_non_null(err);
	assert_int_equal(mmig_error_code(err), MMIG_EDB);
	assert_non_null(strstr(mmig_error_message(err), f->controller));
	assert_non_null(strstr(mmig_error_message(err), "FOREIGN KEY"));
	mmig_error_free(err);
	assert_int_equal(sqlite3_get_autocommit(mmig_txn_runner_db(r)), 1);
	assert_int_equal(count_rows(f->controller, "child"), 0);
	/* The connection is usable again. */
	exec_ok(mmig_txn_runner_db(r), "INSERT INTO parent VALUES (42)");
	assert_null(mmig_txn_run(r, NULL, deferred_fk_violation, NULL));
	mmig_scope_free(s);
}

/*
 * A second connection, in a thread, that takes the write lock, tells the
 * test it has it, and holds it for hold_ms (or until released), optionally
 * cancelling a context after cancel_after_ms.
 */
struct holder {
	const char *path;
	unsigned hold_ms;
	unsigned cancel_after_ms;
	struct mmig_ctx *cancel;
	int ready[2];
	int release[2];
	pthread_t thread;
	int commit_rc;
};

static void
wait_release(struct holder *h, unsigned ms)
{
	struct pollfd p = {.fd = h->release[0], .events = POLLIN};

	poll(&p, 1, (int)ms);
}

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	sqlite3 *db = NULL;
	char c = 'r';

	sqlite3_open(h->path, &db);
	sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (2)", NULL,
		     NULL, NULL);
	if (write(h->ready[1], &c, 1) != 1)
		h->commit_rc = -1;
	if (h->cancel) {
		wait_release(h, h->cancel_after_ms);
		mmig_ctx_cancel(h->cancel);
	}
	wait_release(h, h->hold_ms);
	h->commit_rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

static void
holder_start(struct holder *h, const char *path, unsigned hold_ms)
{
	char c;

	h->path = path;
	h->hold_ms = hold_ms;
	h->commit_rc = -1;
	assert_int_equal(pipe(h->ready), 0);
	assert_int_equal(pipe(h->release), 0);
	assert_int_equal(pthread_create(&h->thread, NULL, holder_main, h), 0);
	/* Only once the lock is really held does the test go on. */
	assert_int_equal(read(h->ready[0], &c, 1), 1);
}

static void
holder_finish(struct holder *h)
{
	char c = 'x';

	assert_int_equal(write(h->release[1], &c, 1), 1);
	pthread_join(h->thread, NULL);
	close(h->ready[0]);
	close(h->ready[1]);
	close(h->release[0]);
	close(h->release[1]);
	assert_int_equal(h->commit_rc, SQLITE_OK);
}

static void
test_scope_busy_is_retried_until_lock_released(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct holder h = {0};
	uint64_t t0, waited_ms;
	int calls = 0;

	holder_start(&h, f->controller, 100);
	t0 = mmig__now_mono_ns();
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	waited_ms = (mmig__now_mono_ns() - t0) / 1000000u;
	holder_finish(&h);
	/* BEGIN IMMEDIATE was refused until the holder committed, so the work
	 * ran exactly once, after several retries. */
	assert_int_equal(calls, 1);
	assert_true(r->busy_retries >= 3);
	assert_true(waited_ms >= 50);
	assert_int_equal(count_rows(f->controller, "t"), 2);
	mmig_scope_free(s);
}

static void
test_scope_busy_budget_exhausted_gives_ebusy(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 50);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct holder h = {0};
	struct mmig_error *err;
	uint64_t t0, waited_ms;
	int calls = 0;

	holder_start(&h, f->controller, 3000);
	t0 = mmig__now_mono_ns();
	err = mmig_txn_run(r, NULL, insert_row, &calls);
	waited_ms = (mmig__now_mono_ns() - t0) / 1000000u;
	holder_finish(&h);
	assert_int_equal(mmig_error_code(err), MMIG_EBUSY);
	assert_non_null(strstr(mmig_error_message(err), "database is busy: "));
	assert_non_null(strstr(mmig_error_message(err), f->controller));
	assert_non_null(strstr(mmig_error_message(err), "gave up after"));
	mmig_error_free(err);
	assert_int_equal(calls, 0);
	assert_true(waited_ms >= 45);
	assert_true(waited_ms < 1500);
	assert_int_equal(sqlite3_get_autocommit(mmig_txn_runner_db(r)), 1);
	assert_int_equal(count_rows(f->controller, "t"), 1);
	mmig_scope_free(s);
}

static void
test_scope_ctx_cancel_during_busy_wait(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 10000);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct holder h = {0};
	struct mmig_ctx *ctx = NULL;
	struct mmig_error *err;
	uint64_t t0, waited_ms;
	int calls = 0;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	h.cancel = ctx;
	h.cancel_after_ms = 50;
	holder_start(&h, f->controller, 10000);
	t0 = mmig__now_mono_ns();
	err = mmig_txn_run(r, ctx, insert_row, &calls);
	waited_ms = (mmig__now_mono_ns() - t0) / 1000000u;
	holder_finish(&h);
	assert_int_equal(mmig_error_code(err), MMIG_ECANCELED);
	mmig_error_free(err);
	assert_int_equal(calls, 0);
	/* Cancelled after 50 ms; noticed within one backoff (<= 64 ms). */
	assert_true(waited_ms < 2000);
	assert_true(r->busy_retries >= 1);
	mmig_ctx_free(ctx);
	mmig_scope_free(s);
}

static void
test_scope_cancelled_ctx_runs_nothing(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct mmig_ctx *ctx = NULL;
	struct mmig_error *err;
	int calls = 0;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_cancel(ctx);
	err = mmig_txn_run(r, ctx, insert_row, &calls);
	assert_int_equal(mmig_error_code(err), MMIG_ECANCELED);
	mmig_error_free(err);
	assert_int_equal(calls, 0);
	mmig_ctx_free(ctx);
	mmig_scope_free(s);
}

struct busy_fn {
	int calls;
	int fail_first;
};

static struct mmig_error *
busy_then_insert(sqlite3 *db, void *arg)
{
	struct busy_fn *b = arg;

	exec_ok(db, "INSERT INTO t VALUES (7)");
	if (b->calls++ < b->fail_first)
		return mmig_error_new(MMIG_EBUSY, "try again");
	return NULL;
}

static void
test_scope_fn_ebusy_is_retried(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct busy_fn b = {.fail_first = 2};

	assert_null(mmig_txn_run(r, NULL, busy_then_insert, &b));
	assert_int_equal(b.calls, 3);
	assert_int_equal(r->busy_retries, 2);
	/* The two busy tries were rolled back. */
	assert_int_equal(count_rows(f->controller, "t"), 1);
	mmig_scope_free(s);
}

static void
test_scope_fn_ebusy_exhausts_budget(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 20);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct busy_fn b = {.fail_first = 1000000};
	struct mmig_error *err;

	err = mmig_txn_run(r, NULL, busy_then_insert, &b);
	assert_int_equal(mmig_error_code(err), MMIG_EBUSY);
	assert_non_null(strstr(mmig_error_message(err), "gave up after"));
	assert_non_null(strstr(mmig_error_message(err), "try again"));
	mmig_error_free(err);
	assert_true(b.calls > 1);
	assert_int_equal(count_rows(f->controller, "t"), 0);
	mmig_scope_free(s);
}

static struct mmig_error *
nested_run(sqlite3 *db, void *arg)
{
	struct mmig_txn_runner *r = arg;
	struct mmig_error *err = mmig_txn_run(r, NULL, insert_row, NULL);
	int code = mmig_error_code(err);

	mmig_error_free(err);
	if (code != MMIG_EINVAL)
		return mmig_error_new(MMIG_EOP, "nested run gave %d", code);
	/* The outer transaction must still be ours and open. */
	return insert_row(db, NULL);
}

static void
test_scope_nested_run_refused_outer_kept(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);

	assert_null(mmig_txn_run(r, NULL, nested_run, r));
	assert_int_equal(count_rows(f->controller, "t"), 1);
	mmig_scope_free(s);
}

static void
check_pragmas(struct mmig_txn_runner *r, long long sync)
{
	char mode[16];

	query_text(mmig_txn_runner_db(r), "PRAGMA journal_mode", mode,
		   sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(query_int(mmig_txn_runner_db(r), "PRAGMA synchronous"),
			 sync);
	assert_int_equal(
		query_int(mmig_txn_runner_db(r), "PRAGMA foreign_keys"), 1);
	assert_int_equal(
		query_int(mmig_txn_runner_db(r), "PRAGMA busy_timeout"), 0);
}

static void
test_scope_wal_and_synchronous_per_durability(void **state)
{
	struct fixture *f = *state;
	static const struct {
		enum mmig_durability d;
		long long sync; /* PRAGMA synchronous: OFF 0, FULL 2 */
	} cases[] = {
		{MMIG_DURABLE, 2},
		{MMIG_PROCESS, 0},
	};

	for (size_t i = 0; i < MMIG_ARRAY_LEN(cases); i++) {
		struct mmig_scope *s = new_scope(f, cases[i].d, 0);
		struct mmig_txn_runner *c = NULL, *m = NULL;

		assert_null(mmig_scope_controller_db(s, &c));
		assert_null(mmig_scope_model_db(s, &m));
		check_pragmas(c, cases[i].sync);
		check_pragmas(m, cases[i].sync);
		mmig_scope_free(s);
	}
}

static void
test_scope_opens_lazily_and_caches(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = NULL, *r2 = NULL;

	assert_string_equal(mmig_scope_controller_path(s), f->controller);
	assert_string_equal(mmig_scope_model_path(s), f->model);
	assert_false(exists(f->controller));
	assert_false(exists(f->model));
	assert_null(mmig_scope_controller_db(s, &r));
	assert_true(exists(f->controller));
	assert_false(exists(f->model));
	assert_null(mmig_scope_controller_db(s, &r2));
	assert_ptr_equal(r, r2);
	assert_ptr_equal(mmig_txn_runner_db(r), mmig_txn_runner_db(r2));
	assert_null(mmig_scope_model_db(s, &r2));
	assert_ptr_not_equal(r, r2);
	assert_true(exists(f->model));
	mmig_scope_free(s);
	mmig_scope_free(NULL);
}

static void
test_scope_open_failure_names_file(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = "/nonexistent-dir-mmig/c.db",
		.model_db = f->model,
	};
	struct mmig_scope *s = NULL;
	struct mmig_txn_runner *r = (void *)&cfg;
	struct mmig_error *err;

	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_OK);
	err = mmig_scope_controller_db(s, &r);
	assert_null(r);
	assert_int_equal(mmig_error_code(err), MMIG_EDB);
	assert_non_null(
		strstr(mmig_error_message(err), "/nonexistent-dir-mmig/c.db"));
	mmig_error_free(err);
	mmig_scope_free(s);
}

static void
test_scope_new_rejects_missing_paths(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = f->controller,
	};
	struct mmig_scope *s = (void *)&cfg;

	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_EINVAL);
	assert_null(s);
	cfg.model_db = "";
	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_EINVAL);
	cfg.model_db = f->model;
	cfg.durability = (enum mmig_durability)7;
	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_EINVAL);
	assert_int_equal(mmig_scope_new(&s, NULL), MMIG_EINVAL);
	assert_null(s);
}

/* A process that dies mid-write leaves the database with its -wal and -shm
 * behind: exactly what the deleter must clear. */
static void
make_db_with_wal(const char *path)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db = NULL;
		int rc = sqlite3_open(path, &db);

		rc |= sqlite3_exec(db,
				   "PRAGMA journal_mode=WAL;"
				   "CREATE TABLE x (v);"
				   "INSERT INTO x VALUES (1)",
				   NULL, NULL, NULL);
		_exit(rc == SQLITE_OK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_scope_model_db_remove_clears_wal_and_shm(void **state)
{
	struct fixture *f = *state;
	char wal[160], shm[160];

	snprintf(wal, sizeof(wal), "%s-wal", f->model);
	snprintf(shm, sizeof(shm), "%s-shm", f->model);
	make_db_with_wal(f->model);
	assert_true(exists(f->model));
	assert_true(exists(wal));
	assert_true(exists(shm));
	assert_null(mmig_model_db_remove(NULL, f->model));
	assert_false(exists(f->model));
	assert_false(exists(wal));
	assert_false(exists(shm));
	/* Nothing left to remove is not an error. */
	assert_null(mmig_model_db_remove(NULL, f->model));
}

static void
test_scope_model_db_remove_reports_unlink_error(void **state)
{
	struct fixture *f = *state;
	char shm[160];
	struct mmig_error *err;

	char tomb[200];

	/* unlink() of a directory fails with EISDIR (not ENOENT). */
	snprintf(shm, sizeof(shm), "%s-shm", f->model);
	snprintf(tomb, sizeof(tomb), "%s.tombstone-shm", f->model);
	make_db_with_wal(f->model);
	assert_int_equal(unlink(shm), 0);
	assert_int_equal(mkdir(shm, 0700), 0);
	err = mmig_model_db_remove(NULL, f->model);
	assert_int_equal(mmig_error_code(err), -EISDIR);
	assert_non_null(strstr(mmig_error_message(err), tomb));
	mmig_error_free(err);
	/* The database is already gone from its path (renamed to a
	 * tombstone, directory synced); what failed is the clean-up, which
	 * the next call finishes. */
	assert_false(exists(f->model));
	assert_int_equal(rmdir(tomb), 0);
	assert_null(mmig_model_db_remove(NULL, f->model));
}

static void
test_scope_delete_model_closes_then_removes(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *m = NULL, *m2 = NULL;
	struct mmig_error *err;

	assert_null(mmig_scope_model_db(s, &m));
	assert_null(mmig_txn_run(m, NULL, create_table, NULL));
	assert_true(exists(f->model));
	assert_null(mmig_scope_delete_model(s));
	assert_false(exists(f->model));
	assert_null(mmig_txn_runner_db(m));
	/* A runner without a connection refuses work instead of crashing or
	 * silently creating the database again. */
	err = mmig_txn_run(m, NULL, create_table, NULL);
	assert_int_equal(mmig_error_code(err), MMIG_EDB);
	mmig_error_free(err);
	assert_false(exists(f->model));
	assert_null(mmig_scope_delete_model(s));
	/* Asking the scope again opens a fresh database. */
	assert_null(mmig_scope_model_db(s, &m2));
	assert_ptr_equal(m, m2);
	assert_true(exists(f->model));
	mmig_scope_free(s);
}

struct deleter_probe {
	struct mmig_scope *scope;
	int calls;
	char path[160];
	bool connection_closed;
	struct mmig_error *result;
};

static struct mmig_error *
probe_deleter(void *arg, const char *path)
{
	struct deleter_probe *p = arg;

	p->calls++;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->connection_closed = p->scope->model.db == NULL;
	return p->result;
}

static void
test_scope_custom_deleter_called(void **state)
{
	struct fixture *f = *state;
	struct deleter_probe p = {0};
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = f->controller,
		.model_db = f->model,
		.delete_model = probe_deleter,
		.delete_arg = &p,
	};
	struct mmig_txn_runner *m = NULL;
	struct mmig_error *err;

	assert_int_equal(mmig_scope_new(&p.scope, &cfg), MMIG_OK);
	assert_null(mmig_scope_model_db(p.scope, &m));
	assert_null(mmig_scope_delete_model(p.scope));
	assert_int_equal(p.calls, 1);
	assert_string_equal(p.path, f->model);
	assert_true(p.connection_closed);
	/* The custom deleter did not remove anything. */
	assert_true(exists(f->model));
	p.result = mmig_error_new(MMIG_EOP, "no");
	err = mmig_scope_delete_model(p.scope);
	assert_ptr_equal(err, p.result);
	mmig_error_free(err);
	assert_int_equal(p.calls, 2);
	mmig_scope_free(p.scope);
}

static void
test_scope_uuid_validation(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"",
		"../../etc/passwd",
		"a/b",
		"../0f8fad5b-d9cb-469f-a165-70867728950e",
		"0f8fad5b-d9cb-469f-a165-70867728950e/..",
		"0f8fad5b/d9cb-469f-a165-70867728950e",
		"0F8FAD5B-D9CB-469F-A165-70867728950E",
		"0f8fad5b-d9cb-469f-a165-70867728950E",
		"0f8fad5b-d9cb-469f-a165-70867728950",
		"0f8fad5b-d9cb-469f-a165-70867728950e0",
		"0f8fad5bd9cb469fa16570867728950e",
		"0f8fad5b0d9cb0469f0a165070867728950e",
		"0f8fad5b-d9cb-469f-a165-70867728950e ",
		"0f8fad5b-d9cb-469f-a165-70867728950g",
		"{0f8fad5b-d9cb-469f-a165-70867728950e}",
		"0f8fad5b-d9cb-469f-a165-7086772895.e",
	};
	struct mmig_scope *s;
	char want[200];

	for (size_t i = 0; i < MMIG_ARRAY_LEN(bad); i++) {
		s = (void *)f;
		assert_false(mmig_uuid_valid(bad[i]));
		assert_int_equal(mmig_scope_for_model(&s, f->controller,
						      f->dir, bad[i],
						      MMIG_DURABLE),
				 MMIG_EINVAL);
		assert_null(s);
	}
	assert_false(mmig_uuid_valid(NULL));
	s = (void *)f;
	assert_int_equal(mmig_scope_for_model(&s, f->controller, f->dir, NULL,
					      MMIG_DURABLE),
			 MMIG_EINVAL);
	assert_null(s);

	assert_true(mmig_uuid_valid(GOOD_UUID));
	assert_int_equal(mmig_scope_for_model(&s, f->controller, f->dir,
					      GOOD_UUID, MMIG_PROCESS),
			 MMIG_OK);
	snprintf(want, sizeof(want), "%s/%s.db", f->dir, GOOD_UUID);
	assert_string_equal(mmig_scope_model_path(s), want);
	assert_string_equal(mmig_scope_controller_path(s), f->controller);
	mmig_scope_free(s);
}

static void
test_scope_error_sqlite_maps_codes(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = open_raw(f->controller);
	struct mmig_error *err;

	assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM nope", NULL,
					  NULL, NULL),
			     SQLITE_OK);
	err = mmig_error_sqlite(db, SQLITE_ERROR, "select");
	assert_int_equal(mmig_error_code(err), MMIG_EDB);
	assert_string_equal(mmig_error_message(err),
			    "select: no such table: nope");
	mmig_error_free(err);
	err = mmig_error_sqlite(NULL, SQLITE_BUSY, "x");
	assert_int_equal(mmig_error_code(err), MMIG_EBUSY);
	mmig_error_free(err);
	err = mmig_error_sqlite(NULL, SQLITE_LOCKED, "x");
	assert_int_equal(mmig_error_code(err), MMIG_EBUSY);
	mmig_error_free(err);
	sqlite3_close(db);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* ---- markers and fencing ------------------------------------------------ */

static void
test_scope_bound_txn_committed_once_skipped_on_rerun(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	int calls = 0;

	mmig__scope_bind(s, "m-1", 1);
	mmig__scope_bind_op(s, 3, false);
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	assert_int_equal(calls, 1);
	/* the op runs again from its start, as resume does: transaction 1
	 * committed already and is skipped; transaction 2 is new */
	mmig__scope_bind_op(s, 3, false);
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	assert_int_equal(calls, 1);
	assert_int_equal(s->binding.skipped, 1);
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	assert_int_equal(calls, 2);
	assert_int_equal(count_rows(f->controller, "t"), 2);
	assert_int_equal(count_rows(f->controller, "mmig_applied"), 2);
	mmig_scope_free(s);
}

static void
test_scope_marker_commits_with_the_work_or_not_at_all(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	struct mmig_error *err;

	mmig__scope_bind(s, "m-1", 1);
	mmig__scope_bind_op(s, 0, false);
	err = mmig_txn_run(r, NULL, insert_then_fail, NULL);
	assert_non_null(err);
	mmig_error_free(err);
	assert_int_equal(count_rows(f->controller, "t"), 0);
	/* no marker was left (the marker table itself was rolled back with
	 * the work), so on resume the transaction runs again and commits */
	mmig__scope_bind_op(s, 0, false);
	assert_null(mmig_txn_run(r, NULL, insert_row, NULL));
	assert_int_equal(count_rows(f->controller, "t"), 1);
	assert_int_equal(count_rows(f->controller, "mmig_applied"), 1);
	mmig_scope_free(s);
}

static void
test_scope_stale_epoch_is_fenced_out(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_scope *stale = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s), *rs;
	struct mmig_error *err;
	int calls = 0;

	/* the new owner (epoch 2) fences the database first */
	mmig__scope_bind(s, "m-1", 2);
	assert_null(mmig__scope_fence(s));
	/* the old owner, still running with epoch 1, tries to commit */
	assert_null(mmig_scope_controller_db(stale, &rs));
	mmig__scope_bind(stale, "m-1", 1);
	mmig__scope_bind_op(stale, 1, false);
	err = mmig_txn_run(rs, NULL, insert_row, &calls);
	assert_int_equal(mmig_error_code(err), MMIG_EFENCED);
	assert_non_null(strstr(mmig_error_message(err), "epoch 2"));
	mmig_error_free(err);
	assert_int_equal(count_rows(f->controller, "t"), 0);
	/* the new owner commits */
	mmig__scope_bind_op(s, 1, false);
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	assert_int_equal(count_rows(f->controller, "t"), 1);
	mmig_scope_free(stale);
	mmig_scope_free(s);
}

static struct mmig_error *
delete_rows(sqlite3 *db, void *arg)
{
	int *calls = arg;

	(*calls)++;
	return sqlite3_exec(db, "DELETE FROM t", NULL, NULL, NULL)
		       ? mmig_error_sqlite(db, SQLITE_ERROR, "delete")
		       : NULL;
}

static void
test_scope_undo_only_what_committed_and_never_twice(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r = controller_with_table(s);
	int calls = 0, undos = 0;
	bool any;

	mmig__scope_bind(s, "m-1", 1);
	/* op 0 committed a row; op 1 never ran */
	mmig__scope_bind_op(s, 0, false);
	assert_null(mmig_txn_run(r, NULL, insert_row, &calls));
	/* undoing op 1 (one ahead: it never ran) must not touch op 0's row */
	mmig__scope_bind_op(s, 1, true);
	assert_null(mmig_txn_run(r, NULL, delete_rows, &undos));
	assert_int_equal(undos, 0);
	assert_int_equal(count_rows(f->controller, "t"), 1);
	/* undoing op 0 runs once */
	mmig__scope_bind_op(s, 0, true);
	assert_null(mmig_txn_run(r, NULL, delete_rows, &undos));
	assert_int_equal(undos, 1);
	assert_int_equal(count_rows(f->controller, "t"), 0);
	/* a crash, then the rollback of op 0 again: skipped */
	mmig__scope_bind_op(s, 0, true);
	assert_null(mmig_txn_run(r, NULL, delete_rows, &undos));
	assert_int_equal(undos, 1);
	assert_null(mmig__scope_any_undo(s, "m-1", &any));
	assert_true(any);
	assert_null(mmig__scope_any_undo(s, "m-2", &any));
	assert_false(any);
	mmig_scope_free(s);
}

static void
test_scope_every_takeover_fences_even_when_work_is_skipped(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *first = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_scope *second = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *r1 = controller_with_table(first), *r2;
	struct mmig_error *err;
	int calls = 0;

	/* epoch 2 fences and does op 0's transaction 1 */
	mmig__scope_bind(first, "m-1", 2);
	assert_null(mmig__scope_fence(first));
	mmig__scope_bind_op(first, 0, false);
	assert_null(mmig_txn_run(r1, NULL, insert_row, &calls));
	/* epoch 3 takes over: its fence and its replay of transaction 1
	 * (skipped, committed before) must both leave epoch 3 behind */
	assert_null(mmig_scope_controller_db(second, &r2));
	mmig__scope_bind(second, "m-1", 3);
	assert_null(mmig__scope_fence(second));
	mmig__scope_bind_op(second, 0, false);
	assert_null(mmig_txn_run(r2, NULL, insert_row, &calls));
	assert_int_equal(calls, 1);
	{
		sqlite3 *db = open_raw(f->controller);

		assert_int_equal(query_int(db, "SELECT epoch FROM mmig_epoch"),
				 3);
		sqlite3_close(db);
	}
	/* epoch 2, still running, can no longer commit */
	err = mmig_txn_run(r1, NULL, insert_row, &calls);
	assert_int_equal(mmig_error_code(err), MMIG_EFENCED);
	mmig_error_free(err);
	mmig_scope_free(second);
	mmig_scope_free(first);
}

static void
test_scope_model_db_made_late_by_stale_owner_is_fenced(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *owner = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_scope *stale = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *m;
	struct mmig_error *err;
	int calls = 0;

	/* the stale owner (epoch 1) was bound before it lost the migration,
	 * as the coordinator binds before the first setup */
	mmig__scope_bind(stale, "m-1", 1);
	/* the new owner fences: the model database does not exist yet, so
	 * only the controller gets the epoch */
	controller_with_table(owner);
	mmig__scope_bind(owner, "m-1", 2);
	assert_null(mmig__scope_fence(owner));
	assert_false(exists(f->model));
	/* the stale owner asks for the model database: not made (setup must
	 * have no side effects) ... */
	assert_null(mmig_scope_model_db(stale, &m));
	assert_non_null(m);
	assert_null(mmig_txn_runner_db(m));
	assert_false(exists(f->model));
	/* ... and its first transaction, which would make it, is refused
	 * before the file is created: the controller's epoch is newer */
	mmig__scope_bind_op(stale, 0, false);
	err = mmig_txn_run(m, NULL, insert_row, &calls);
	assert_int_equal(mmig_error_code(err), MMIG_EFENCED);
	mmig_error_free(err);
	assert_int_equal(calls, 0);
	assert_false(exists(f->model));
	/* the owner makes it */
	assert_null(mmig_scope_model_db(owner, &m));
	mmig__scope_bind_op(owner, 0, false);
	assert_null(mmig_txn_run(m, NULL, create_table, NULL));
	assert_true(exists(f->model));
	mmig_scope_free(stale);
	mmig_scope_free(owner);
}

static void
test_scope_undo_never_makes_the_model_db(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_txn_runner *m;
	int calls = 0;

	mmig__scope_bind(s, "m-1", 1);
	assert_null(mmig_scope_model_db(s, &m));
	/* the rollback of an op that never ran: nothing to undo there, and
	 * the file is not made for it */
	mmig__scope_bind_op(s, 0, true);
	assert_null(mmig_txn_run(m, NULL, insert_row, &calls));
	assert_int_equal(calls, 0);
	assert_false(exists(f->model));
	mmig_scope_free(s);
}

struct deleted_probe {
	int calls;
	bool file_gone;
	const char *path;
	struct mmig_error *result;
};

static struct mmig_error *
on_deleted(void *arg)
{
	struct deleted_probe *p = arg;

	p->calls++;
	p->file_gone = !exists(p->path);
	return p->result;
}

static void
test_scope_stale_owner_cannot_delete_the_model_db(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *stale = new_scope(f, MMIG_DURABLE, 0);
	struct mmig_scope *owner = new_scope(f, MMIG_DURABLE, 0);
	struct deleted_probe p = { .path = f->model };
	struct mmig_txn_runner *m;
	struct mmig_error *err;

	/* epoch 1 made the model database */
	mmig__scope_bind(stale, "m-1", 1);
	stale->binding.model_deleted = on_deleted;
	stale->binding.model_deleted_arg = &p;
	assert_null(mmig_scope_model_db(stale, &m));
	mmig__scope_bind_op(stale, 0, false);
	assert_null(mmig_txn_run(m, NULL, create_table, NULL));
	assert_true(exists(f->model));
	/* epoch 2 takes over and fences both databases */
	mmig__scope_bind(owner, "m-1", 2);
	owner->binding.model_deleted = on_deleted;
	owner->binding.model_deleted_arg = &p;
	assert_null(mmig__scope_fence(owner));
	/* epoch 1, in its rollback, may not delete it */
	mmig__scope_bind_op(stale, 0, true);
	err = mmig_scope_delete_model(stale);
	assert_int_equal(mmig_error_code(err), MMIG_EFENCED);
	mmig_error_free(err);
	assert_true(exists(f->model));
	assert_int_equal(p.calls, 0);
	/* the owner may, and its deletion is reported once the file is
	 * gone (the coordinator records MODEL_DELETED there) */
	mmig__scope_bind_op(owner, 0, true);
	assert_null(mmig_scope_delete_model(owner));
	assert_false(exists(f->model));
	assert_int_equal(p.calls, 1);
	assert_true(p.file_gone);
	/* idempotent; a failure to record fails the deletion */
	p.result = mmig_error_new(MMIG_EJOURNAL, "journal gone");
	err = mmig_scope_delete_model(owner);
	assert_ptr_equal(err, p.result);
	mmig_error_free(err);
	assert_int_equal(p.calls, 2);
	/* the stale owner cannot make it again either */
	assert_null(mmig_scope_model_db(stale, &m));
	mmig__scope_bind_op(stale, 1, false);
	err = mmig_txn_run(m, NULL, create_table, NULL);
	assert_int_equal(mmig_error_code(err), MMIG_EFENCED);
	mmig_error_free(err);
	assert_false(exists(f->model));
	mmig_scope_free(owner);
	mmig_scope_free(stale);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_scope_commit_visible_from_second_connection),
		T(test_scope_fn_error_rolls_back_and_returns_same_error),
		T(test_scope_failed_commit_leaves_no_transaction),
		T(test_scope_busy_is_retried_until_lock_released),
		T(test_scope_busy_budget_exhausted_gives_ebusy),
		T(test_scope_ctx_cancel_during_busy_wait),
		T(test_scope_cancelled_ctx_runs_nothing),
		T(test_scope_fn_ebusy_is_retried),
		T(test_scope_fn_ebusy_exhausts_budget),
		T(test_scope_nested_run_refused_outer_kept),
		T(test_scope_wal_and_synchronous_per_durability),
		T(test_scope_opens_lazily_and_caches),
		T(test_scope_open_failure_names_file),
		T(test_scope_new_rejects_missing_paths),
		T(test_scope_model_db_remove_clears_wal_and_shm),
		T(test_scope_model_db_remove_reports_unlink_error),
		T(test_scope_delete_model_closes_then_removes),
		T(test_scope_custom_deleter_called),
		T(test_scope_uuid_validation),
		T(test_scope_error_sqlite_maps_codes),
		T(test_scope_bound_txn_committed_once_skipped_on_rerun),
		T(test_scope_marker_commits_with_the_work_or_not_at_all),
		T(test_scope_stale_epoch_is_fenced_out),
		T(test_scope_undo_only_what_committed_and_never_twice),
		T(test_scope_every_takeover_fences_even_when_work_is_skipped),
		T(test_scope_model_db_made_late_by_stale_owner_is_fenced),
		T(test_scope_undo_never_makes_the_model_db),
		T(test_scope_stale_owner_cannot_delete_the_model_db),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
