/*
 * tests/steps.c - the crash suites' operations (see steps.h).
 *
 * Public API only: the power-cut helper links it against the shared
 * library, the unit suites against the static one.
 */
#include "steps.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct steps_knobs steps_knobs = {
	.fail_execute_of = -1,
	.fail_rollback_of = -1,
	.block_in_op = -1,
	.block_fd = -1,
};

void
steps_knobs_reset(void)
{
	steps_knobs = (struct steps_knobs){
		.fail_execute_of = -1,
		.fail_rollback_of = -1,
		.block_in_op = -1,
		.block_fd = -1,
	};
}

struct step {
	int index;
	const char *uuid; /* the model's, from execute or rollback */
	struct mmig_scope *scope;
	struct mmig_txn_runner *ctl;
	struct mmig_txn_runner *model;
};

/* Does step 0 make (and delete) the model database? */
static bool
makes_model(const struct step *s)
{
	return s->index == 0 && !steps_knobs.keep_model;
}

static struct mmig_error *
exec_sql(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? NULL : mmig_error_sqlite(db, rc, sql);
}

static struct mmig_error *
step_setup(void *self, struct mmig_scope *scope)
{
	struct step *s = self;
	struct mmig_error *err = mmig_scope_controller_db(scope, &s->ctl);

	s->scope = scope;
	if (!err && (s->index == 2 || makes_model(s)))
		err = mmig_scope_model_db(scope, &s->model);
	return err;
}

static struct mmig_error *
do_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	char sql[512];
	struct mmig_error *err;

	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS steps (model TEXT, "
			   "op INTEGER, PRIMARY KEY (model, op));"
			   "CREATE TABLE IF NOT EXISTS tally (model TEXT, "
			   "op INTEGER, what TEXT, n INTEGER, "
			   "PRIMARY KEY (model, op, what))");
	if (err)
		return err;
	/* With markers a committed transaction never runs again, so a plain
	 * INSERT never meets its own row; the tally counts commits. */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO steps VALUES ('%s', %d);"
		 "INSERT INTO tally VALUES ('%s', %d, 'do', 1) ON CONFLICT "
		 "DO UPDATE SET n = n + 1",
		 s->uuid, s->index, s->uuid, s->index);
	return exec_sql(db, sql);
}

static struct mmig_error *
model_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	char sql[256];

	if (s->index == 0)
		return exec_sql(db, "CREATE TABLE IF NOT EXISTS made (x)");
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS m (model TEXT, op INTEGER);"
		 "INSERT INTO m VALUES ('%s', %d)",
		 s->uuid, s->index);
	return exec_sql(db, sql);
}

static struct mmig_error *
model_undo_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	char sql[256];

	/* Runs only when the op's model transaction committed (rule 5). */
	snprintf(sql, sizeof(sql), "DELETE FROM m WHERE model = '%s' AND op = %d",
		 s->uuid, s->index);
	return exec_sql(db, sql);
}

/* Is this op's row (model, index) in the controller database? */
static struct mmig_error *
own_row(struct step *s, bool *yes)
{
	sqlite3 *db = mmig_txn_runner_db(s->ctl);
	sqlite3_stmt *st = NULL;
	char sql[256];
	int rc;

	*yes = false;
	snprintf(sql, sizeof(sql),
		 "SELECT 1 FROM steps WHERE model = '%s' AND op = %d", s->uuid,
		 s->index);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		/* No steps table: nothing committed. */
		sqlite3_finalize(st);
		return NULL;
	}
	rc = sqlite3_step(st);
	*yes = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		       ? NULL
		       : mmig_error_sqlite(db, rc, "read steps");
}

static struct mmig_error *
step_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;
	struct mmig_error *err;

	s->uuid = m->uuid;
	if (s->index == steps_knobs.block_in_op) {
		char c;

		/* Wait until the test says go (or closes the pipe). */
		if (read(steps_knobs.block_fd, &c, 1) < 0)
			return mmig_error_new(-errno, "block");
	}
	err = mmig_txn_run(s->ctl, ctx, do_txn, s);
	if (!err && makes_model(s) && steps_knobs.block_before_model) {
		char c;

		if (read(steps_knobs.block_fd, &c, 1) < 0)
			return mmig_error_new(-errno, "block");
	}
	if (!err && s->model)
		err = mmig_txn_run(s->model, ctx, model_txn, s);
	if (!err && s->index == steps_knobs.fail_execute_of)
		err = mmig_error_new(MMIG_EOP, "boom at %d", s->index);
	if (!err && steps_knobs.done)
		steps_knobs.done('X', m->uuid, s->index);
	return err;
}

static struct mmig_error *
undo_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	char sql[512];

	/* Runs only when this op's work committed (rule 5); the tally
	 * commits with the undo, so it counts completed undos. */
	snprintf(sql, sizeof(sql),
		 "DELETE FROM steps WHERE model = '%s' AND op = %d;"
		 "INSERT INTO tally VALUES ('%s', %d, 'undo', 1) ON CONFLICT "
		 "DO UPDATE SET n = n + 1",
		 s->uuid, s->index, s->uuid, s->index);
	return exec_sql(db, sql);
}

static struct mmig_error *
step_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;
	struct mmig_error *err;

	s->uuid = m->uuid;
	if (s->index == steps_knobs.fail_rollback_of)
		return mmig_error_new(MMIG_EOP, "sad at %d", s->index);
	if (s->index == 2)
		err = mmig_txn_run(s->model, ctx, model_undo_txn, s);
	else
		err = NULL;
	if (!err && makes_model(s)) {
		bool ours = false;

		/* The model database first, while the row says it is ours. */
		err = own_row(s, &ours);
		if (!err && ours)
			err = mmig_scope_delete_model(s->scope);
	}
	if (!err)
		err = mmig_txn_run(s->ctl, ctx, undo_txn, s);
	if (!err && steps_knobs.done)
		steps_knobs.done('R', m->uuid, s->index);
	return err;
}

static void
step_destroy(void *self)
{
	free(self);
}

static char step_names[STEPS_MAX][8];
static struct mmig_op_vtable step_vts[STEPS_MAX];

struct mmig_error *
steps_ctor(void *arg, void **self)
{
	struct step *s = calloc(1, sizeof(*s));

	if (!s)
		return mmig_error_new(MMIG_ENOMEM, "step");
	s->index = (int)(intptr_t)arg;
	*self = s;
	return NULL;
}

const struct mmig_op_vtable *
steps_vtable(int i)
{
	return &step_vts[i];
}

struct mmig_registry *
steps_registry(int n, int skip)
{
	struct mmig_registry *r;

	if (n > STEPS_MAX || mmig_registry_new(&r) != MMIG_OK)
		return NULL;
	for (int i = 0; i < n; i++) {
		snprintf(step_names[i], sizeof(step_names[i]), "step%d", i);
		step_vts[i] = (struct mmig_op_vtable){
			.size = sizeof(struct mmig_op_vtable),
			.name = step_names[i],
			.version = 1,
			.flags =
				steps_knobs.idempotent ? MMIG_OP_IDEMPOTENT : 0,
			.setup = step_setup,
			.execute = step_execute,
			.rollback = step_rollback,
			.destroy = step_destroy,
		};
		if (i != skip &&
		    mmig_registry_add(r, &step_vts[i], steps_ctor,
				      (void *)(intptr_t)i) != MMIG_OK) {
			mmig_registry_free(r);
			return NULL;
		}
	}
	return r;
}

int
steps_add(struct mmig_coordinator *c, const struct mmig_registry *r, int n)
{
	for (int i = 0; i < n; i++) {
		struct mmig_op op;
		struct mmig_error *err =
			mmig_registry_build(r, step_names[i], 1, &op);

		if (err) {
			mmig_error_free(err);
			return MMIG_EUNKNOWNOP;
		}
		if (mmig_coordinator_add(c, op.vt, op.self) != MMIG_OK) {
			op.vt->destroy(op.self);
			return MMIG_ENOMEM;
		}
	}
	return MMIG_OK;
}

long long
steps_query(const char *path, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	long long v = -1;

	if (access(path, F_OK) != 0)
		return 0;
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -2;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else {
		v = 0; /* no such table: nothing committed */
	}
	sqlite3_close(db);
	return v;
}

uint64_t
steps_file_hash(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint64_t h = 1469598103934665603ull;
	int ch;

	if (!fp)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		h = (h ^ (uint64_t)ch) * 1099511628211ull;
	fclose(fp);
	return h;
}
