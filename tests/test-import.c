/*
 * tests/test-import.c - the reference import operations (domain/import.c):
 * exact contents after a small import, exact counts after a large one,
 * nothing left after a failure at each operation, idempotence of every
 * execute, a duplicate model left untouched, resume from a checkpoint,
 * pause and cancel half-way through an operation, registration.
 *
 * Contents are checked in SQL, on connections of the test's own, never
 * through the operations' scope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "mmig/mmig.h"

#define UUID "0f5c3d1e-8a2b-4c6d-9e7f-1a2b3c4d5e6f"

static const char small_json[] =
	"{ \"version\": 1,\n"
	"  \"model\": { \"uuid\": \"" UUID "\", \"name\": \"prod\",\n"
	"             \"owner\": \"admin\", \"cloud\": \"aws\",\n"
	"             \"region\": \"us-east-1\",\n"
	"             \"config\": { \"logging\": \"<root>=INFO\",\n"
	"                         \"port\": 8080, \"ratio\": 0.5,\n"
	"                         \"debug\": true } },\n"
	"  \"machines\": [\n"
	"    { \"id\": \"0\", \"base\": \"ubuntu@22.04\",\n"
	"      \"constraints\": \"mem=4G\" },\n"
	"    { \"id\": \"1\", \"base\": \"ubuntu@24.04\" } ],\n"
	"  \"applications\": [\n"
	"    { \"name\": \"mysql\", \"charm\": \"ch:mysql-1\",\n"
	"      \"config\": { \"port\": \"3306\" },\n"
	"      \"units\": [ { \"name\": \"mysql/0\", \"machine\": \"0\" } ] },\n"
	"    { \"name\": \"wordpress\", \"charm\": \"ch:wordpress-2\",\n"
	"      \"units\": [ { \"name\": \"wordpress/0\", \"machine\": \"0\" },\n"
	"                 { \"name\": \"wordpress/1\", \"machine\": \"1\" } ] }\n"
	"  ],\n"
	"  \"relations\": [ { \"endpoints\": [ \"wordpress:db\", \"mysql:db\" ] } ]\n"
	"}\n";

/* Each table of the small model, as exact_small() reads it back. */
static const struct {
	const char *sql;
	const char *want;
} small_tables[] = {
	{ "SELECT key || '=' || value || '(' || kind || ')' FROM model_config",
	  "debug=true(bool);logging=<root>=INFO(string);port=8080(integer);"
	  "ratio=0.5(real)" },
	{ "SELECT id || '|' || base || '|' || ifnull(constraints, 'NULL') "
	  "FROM machines",
	  "0|ubuntu@22.04|mem=4G;1|ubuntu@24.04|NULL" },
	{ "SELECT name || '|' || charm FROM applications",
	  "mysql|ch:mysql-1;wordpress|ch:wordpress-2" },
	{ "SELECT application || '|' || key || '|' || value || '|' || kind "
	  "FROM application_config",
	  "mysql|port|3306|string" },
	{ "SELECT name || '|' || application || '|' || machine FROM units",
	  "mysql/0|mysql|0;wordpress/0|wordpress|0;wordpress/1|wordpress|1" },
	{ "SELECT endpoint_a || '|' || endpoint_b FROM relations",
	  "wordpress:db|mysql:db" },
};

struct fixture {
	char dir[64];
	char jdir[96];
	char controller[96];
	char model_dir[96];
	char model_db[160];
	struct mmig_import_paths paths;
	struct mmig_journal *j;
	struct mmig_scope *scope;
	struct mmig_model_desc *d;
	struct mmig_model model;
	char *json;
	size_t json_len;
};

static void
quiet_log(void *arg, enum mmig_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-import-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->jdir, sizeof(f->jdir), "%s/journal", f->dir);
	snprintf(f->controller, sizeof(f->controller), "%s/controller.db",
		 f->dir);
	/* Two levels, so that the scope has parents to make. */
	snprintf(f->model_dir, sizeof(f->model_dir), "%s/m/models", f->dir);
	f->paths.controller_db = f->controller;
	f->paths.model_dir = f->model_dir;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	mmig_scope_free(f->scope);
	mmig_journal_close(f->j);
	mmig_model_desc_free(f->d);
	free(f->json);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Parse @p json (copied) as the fixture's model and make its scope. */
static void
load(struct fixture *f, const char *json, size_t len)
{
	char *msg = NULL;
	int rc;

	mmig_scope_free(f->scope);
	f->scope = NULL;
	mmig_model_desc_free(f->d);
	f->d = NULL;
	free(f->json);
	f->json = malloc(len + 1);
	assert_non_null(f->json);
	memcpy(f->json, json, len);
	f->json[len] = '\0';
	f->json_len = len;
	rc = mmig_model_desc_parse(f->json, len, &f->d, &msg);
	if (rc != MMIG_OK)
		fail_msg("parse: %s", msg ? msg : "?");
	f->model = (struct mmig_model){
		.uuid = f->d->uuid,
		.desc = f->json,
		.desc_len = len,
		.data = f->d,
	};
	snprintf(f->model_db, sizeof(f->model_db), "%s/%s.db", f->model_dir,
		 f->d->uuid);
	assert_int_equal(mmig_import_scope_for_model(&f->paths, f->d->uuid,
						     MMIG_PROCESS, &f->scope),
			 MMIG_OK);
}

static void
load_small(struct fixture *f)
{
	load(f, small_json, strlen(small_json));
}

/* A generated model: @p m machines, @p a x @p u units, @p r relations. */
static void
load_generated(struct fixture *f, size_t m, size_t a, size_t u, size_t r)
{
	struct mmig_gen_opts o = {
		.size = sizeof(struct mmig_gen_opts),
		.machines = m,
		.applications = a,
		.units_per_app = u,
		.relations = r,
		.seed = 7,
		.flags = MMIG_GEN_EXACT,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	assert_non_null(mem);
	assert_int_equal(mmig_model_desc_generate(&o, mem), MMIG_OK);
	assert_int_equal(fclose(mem), 0);
	load(f, buf, len);
	free(buf);
}

static void
open_journal(struct fixture *f)
{
	struct mmig_error *err = NULL;

	if (f->j)
		return;
	if (mmig_journal_open(&f->j, f->jdir, NULL, &err) != MMIG_OK)
		fail_msg("journal: %s", mmig_error_message(err));
}

/* ---- SQL on the test's own connections ---------------------------------- */

/* The first column of the first row of @p sql on @p path, or NULL. */
static char *
sql_str(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		fail_msg("open %s: %s", path, sqlite3_errmsg(db));
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static long long
sql_int(const char *path, const char *sql)
{
	char *s = sql_str(path, sql);
	long long v;

	assert_non_null(s);
	v = atoll(s);
	free(s);
	return v;
}

/* Every row of @p select (one text column), sorted, joined by ';'. */
static char *
sql_rows(const char *path, const char *select)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "WITH t(x) AS (%s) "
		 "SELECT group_concat(x, ';') FROM (SELECT x FROM t ORDER BY x)",
		 select);
	return sql_str(path, sql);
}

static long long
controller_rows(struct fixture *f, const char *uuid)
{
	char sql[160];

	if (access(f->controller, F_OK) != 0)
		return 0;
	if (sql_int(f->controller, "SELECT count(*) FROM sqlite_master "
				   "WHERE name = 'models'") == 0)
		return 0;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM models WHERE uuid = '%s'", uuid);
	return sql_int(f->controller, sql);
}

static char *
controller_row(struct fixture *f)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT uuid || '|' || name || '|' || owner || '|' || cloud "
		 "|| '|' || ifnull(region, 'NULL') || '|' || status "
		 "FROM models WHERE uuid = '%s'",
		 f->d->uuid);
	return sql_str(f->controller, sql);
}

static bool
model_files_exist(const struct fixture *f)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char path[200];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->model_db, suffixes[i]);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* The small model's every table, exactly. */
static void
assert_exact_small(struct fixture *f, const char *status)
{
	char want[256];
	char *got;

	snprintf(want, sizeof(want),
		 UUID "|prod|admin|aws|us-east-1|%s", status);
	got = controller_row(f);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	for (size_t i = 0; i < sizeof(small_tables) / sizeof(small_tables[0]);
	     i++) {
		got = sql_rows(f->model_db, small_tables[i].sql);
		assert_non_null(got);
		assert_string_equal(got, small_tables[i].want);
		free(got);
	}
}

/* ---- running imports ---------------------------------------------------- */

/* Fails the migration after operation @p at (-1: never). */
struct fail_hook {
	long at;
	long calls;
};

static struct mmig_error *
fail_hook(void *arg, const struct mmig_op *op)
{
	struct fail_hook *h = arg;

	if (h->calls++ == h->at)
		return mmig_error_new(MMIG_EOP, "fail after %s", op->vt->name);
	return NULL;
}

struct run_opts {
	bool journal;
	long fail_at; /* -1: never */
	const struct mmig_import_options *import;
	struct mmig_ctx *ctx;
};

/* One import of the fixture's model.  @return the perform's code. */
static int
run(struct fixture *f, const struct run_opts *o, enum mmig_outcome *outcome,
    char **errmsg)
{
	struct mmig_coordinator *c = NULL;
	struct fail_hook hook = { .at = o->fail_at };
	int rc;

	assert_int_equal(mmig_coordinator_new(&c, quiet_log, NULL), MMIG_OK);
	assert_int_equal(mmig_import_add_ops_opts(c, o->import), MMIG_OK);
	assert_int_equal(mmig_coordinator_len(c), 7);
	if (o->journal) {
		open_journal(f);
		mmig_coordinator_set_journal(c, f->j, MMIG_PROCESS);
	}
	if (o->fail_at >= 0)
		mmig_coordinator_set_hook(c, fail_hook, &hook);
	rc = mmig_coordinator_perform(c, o->ctx, f->scope, &f->model);
	if (outcome)
		*outcome = mmig_coordinator_outcome(c);
	if (errmsg)
		*errmsg = strdup(mmig_coordinator_errmsg(c));
	mmig_coordinator_free(c);
	return rc;
}

static void
run_ok(struct fixture *f, bool journal)
{
	struct run_opts o = { .journal = journal, .fail_at = -1 };
	char *msg = NULL;

	if (run(f, &o, NULL, &msg) != MMIG_OK)
		fail_msg("import: %s", msg);
	free(msg);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_import_small_exact(void **state)
{
	struct fixture *f = *state;

	load_small(f);
	run_ok(f, true);
	assert_exact_small(f, "active");
}

static void
test_import_large_counts(void **state)
{
	struct fixture *f = *state;
	char *s;

	load_generated(f, 10000, 200, 250, 500);
	assert_int_equal(f->d->n_units_total, 50000);
	run_ok(f, true);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM machines"),
			 10000);
	assert_int_equal(sql_int(f->model_db,
				 "SELECT count(*) FROM applications"),
			 200);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM units"),
			 50000);
	assert_int_equal(sql_int(f->model_db,
				 "SELECT count(*) FROM relations"),
			 500);
	assert_int_equal(sql_int(f->model_db,
				 "SELECT count(*) FROM model_config"),
			 (long long)f->d->n_config);
	/* Every unit on a machine that exists, of an application that
	 * exists, and 250 to each application. */
	assert_int_equal(sql_int(f->model_db,
				 "SELECT count(*) FROM units u "
				 "JOIN machines m ON m.id = u.machine "
				 "JOIN applications a ON a.name = "
				 "u.application"),
			 50000);
	assert_int_equal(sql_int(f->model_db,
				 "SELECT count(*) FROM (SELECT application "
				 "FROM units GROUP BY application "
				 "HAVING count(*) = 250)"),
			 200);
	s = controller_row(f);
	assert_non_null(s);
	assert_non_null(strstr(s, "|active"));
	free(s);
}

static void
test_import_fail_at_each_op(void **state)
{
	struct fixture *f = *state;

	load_generated(f, 30, 4, 5, 3);
	for (long k = 0; k < 7; k++) {
		/* A batch of 7 rows, so the ops commit several times. */
		struct mmig_import_options io = {
			.size = sizeof(struct mmig_import_options),
			.batch_rows = 7
		};
		struct run_opts o = { .journal = true, .fail_at = k,
				      .import = &io };
		enum mmig_outcome outcome;
		char *msg = NULL;

		assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EOP);
		assert_int_equal(outcome, MMIG_OUTCOME_ROLLED_BACK);
		assert_non_null(strstr(msg, "hook operation"));
		free(msg);
		assert_int_equal(controller_rows(f, f->d->uuid), 0);
		if (model_files_exist(f))
			fail_msg("model database left after failing at op %ld",
				 k);
	}
	/* After all that, an import goes through whole. */
	run_ok(f, true);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM units"),
			 20);
}

static void
build_all(struct mmig_registry **r, struct mmig_op ops[7])
{
	struct mmig_error *err;

	assert_int_equal(mmig_registry_new(r), MMIG_OK);
	assert_int_equal(mmig_import_register(*r), MMIG_OK);
	assert_int_equal(mmig_registry_len(*r), 7);
	for (size_t i = 0; i < 7; i++) {
		const struct mmig_op_vtable *vt = mmig_registry_at(*r, i);

		err = mmig_registry_build(*r, vt->name, vt->version, &ops[i]);
		if (err)
			fail_msg("build %s: %s", vt->name,
				 mmig_error_message(err));
	}
}

static void
destroy_all(struct mmig_registry *r, struct mmig_op ops[7])
{
	for (size_t i = 0; i < 7; i++)
		if (ops[i].vt->destroy)
			ops[i].vt->destroy(ops[i].self);
	mmig_registry_free(r);
}

static void
test_import_ops_idempotent(void **state)
{
	struct fixture *f = *state;
	struct mmig_registry *r = NULL;
	struct mmig_op ops[7];
	struct mmig_error *err;

	load_small(f);
	build_all(&r, ops);
	for (size_t i = 0; i < 7; i++) {
		err = ops[i].vt->setup(ops[i].self, f->scope);
		assert_null(err);
		for (int twice = 0; twice < 2; twice++) {
			err = ops[i].vt->execute(ops[i].self, NULL, &f->model);
			if (err)
				fail_msg("%s run %d: %s", ops[i].vt->name,
					 twice + 1, mmig_error_message(err));
		}
	}
	assert_exact_small(f, "active");
	/* Every op after create-model once more, in order: still exact. */
	for (size_t i = 1; i < 7; i++) {
		err = ops[i].vt->execute(ops[i].self, NULL, &f->model);
		assert_null(err);
	}
	assert_exact_small(f, "active");
	/* create-model itself never runs after activate in one migration;
	 * an active row is a model that exists, and it is refused. */
	err = ops[0].vt->execute(ops[0].self, NULL, &f->model);
	assert_int_equal(mmig_error_code(err), MMIG_EEXIST);
	mmig_error_free(err);
	assert_exact_small(f, "active");
	/* Rollbacks twice too: nothing left of the controller row. */
	for (size_t i = 7; i-- > 0;) {
		for (int twice = 0; twice < 2; twice++) {
			err = ops[i].vt->rollback
				      ? ops[i].vt->rollback(ops[i].self, NULL,
							    &f->model)
				      : NULL;
			if (err)
				fail_msg("rollback %s: %s", ops[i].vt->name,
					 mmig_error_message(err));
		}
	}
	assert_int_equal(controller_rows(f, UUID), 0);
	destroy_all(r, ops);
}

static void
test_import_rollback_never_ran(void **state)
{
	struct fixture *f = *state;
	struct mmig_registry *r = NULL;
	struct mmig_op ops[7];
	struct mmig_error *err;

	/* Recovery rolls back ops that never ran, on databases that do not
	 * exist yet: every rollback must succeed and create nothing of
	 * the model. */
	load_small(f);
	build_all(&r, ops);
	for (size_t i = 7; i-- > 0;) {
		if (!ops[i].vt->rollback)
			continue;
		assert_null(ops[i].vt->setup(ops[i].self, f->scope));
		err = ops[i].vt->rollback(ops[i].self, NULL, &f->model);
		if (err)
			fail_msg("%s: %s", ops[i].vt->name,
				 mmig_error_message(err));
	}
	assert_null(mmig_scope_delete_model(f->scope));
	assert_false(model_files_exist(f));
	assert_int_equal(controller_rows(f, UUID), 0);
	destroy_all(r, ops);
}

static void
test_import_duplicate_uuid(void **state)
{
	struct fixture *f = *state;
	struct run_opts o = { .journal = true, .fail_at = -1 };
	enum mmig_outcome outcome;
	char *msg = NULL;

	load_small(f);
	run_ok(f, true);
	assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EEXIST);
	assert_int_equal(outcome, MMIG_OUTCOME_ROLLED_BACK);
	assert_non_null(strstr(msg, "model " UUID " already exists"));
	free(msg);
	/* The first model: row active, database and rows intact. */
	assert_true(access(f->model_db, F_OK) == 0);
	assert_exact_small(f, "active");
	/* Also when the second import is a different description of the
	 * same uuid. */
	{
		char *other = strdup(small_json);
		char *p = strstr(other, "\"prod\"");

		assert_non_null(p);
		memcpy(p, "\"test\"", 6);
		load(f, other, strlen(other));
		free(other);
	}
	assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EEXIST);
	free(msg);
	assert_int_equal(outcome, MMIG_OUTCOME_ROLLED_BACK);
	load_small(f);
	assert_exact_small(f, "active");
}


/* A hook that, after op @c at, says so on @c ready and waits for a byte on
 * @c go: the migration stays in flight while the test acts. */
struct pause_hook {
	int at, calls;
	int ready, go; /* pipe ends */
};

static struct mmig_error *
pause_hook(void *arg, const struct mmig_op *op)
{
	struct pause_hook *h = arg;
	char c = 'r';

	(void)op;
	if (h->calls++ == h->at) {
		if (write(h->ready, &c, 1) != 1 || read(h->go, &c, 1) != 1)
			return mmig_error_new(MMIG_EOP, "pause hook: pipe");
	}
	return NULL;
}

struct first_import {
	struct fixture *f;
	struct pause_hook hook;
	int rc;
};

static void *
first_import_main(void *arg)
{
	struct first_import *a = arg;
	struct mmig_coordinator *c = NULL;

	assert_int_equal(mmig_coordinator_new(&c, quiet_log, NULL), MMIG_OK);
	assert_int_equal(mmig_import_add_ops(c), MMIG_OK);
	mmig_coordinator_set_journal(c, a->f->j, MMIG_PROCESS);
	mmig_coordinator_set_hook(c, pause_hook, &a->hook);
	a->rc = mmig_coordinator_perform(c, NULL, a->f->scope, &a->f->model);
	mmig_coordinator_free(c);
	return NULL;
}

/*
 * Two journaled imports of one model at once, through the library (mmig
 * import refuses the second before it starts): the second finds the
 * first's row, fails at create-model and rolls back without touching the
 * first's row, database or rows; the first then commits, exact.
 */
static void
test_import_concurrent_duplicate_leaves_the_first(void **state)
{
	struct fixture *f = *state;
	struct first_import a = { .f = f, .hook = { .at = 2 } };
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	int ready[2], go[2];
	pthread_t tid;
	char ch;

	load_small(f);
	open_journal(f);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	a.hook.ready = ready[1];
	a.hook.go = go[0];
	assert_int_equal(pthread_create(&tid, NULL, first_import_main, &a), 0);
	assert_int_equal(read(ready[0], &ch, 1), 1); /* first in op 3 */

	assert_int_equal(mmig_coordinator_new(&c, quiet_log, NULL), MMIG_OK);
	assert_int_equal(mmig_import_add_ops(c), MMIG_OK);
	mmig_coordinator_set_journal(c, f->j, MMIG_PROCESS);
	assert_int_equal(mmig_import_scope_for_model(&f->paths, f->d->uuid,
						     MMIG_PROCESS, &scope),
			 MMIG_OK);
	assert_int_equal(mmig_coordinator_perform(c, NULL, scope, &f->model),
			 MMIG_EEXIST);
	assert_int_equal(mmig_coordinator_outcome(c), MMIG_OUTCOME_ROLLED_BACK);
	assert_non_null(strstr(mmig_coordinator_errmsg(c), "already exists"));
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	assert_true(access(f->model_db, F_OK) == 0);

	assert_int_equal(write(go[1], "g", 1), 1);
	pthread_join(tid, NULL);
	assert_int_equal(a.rc, MMIG_OK);
	assert_exact_small(f, "active");
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(go[i]);
	}
}

/*
 * Resume: an operation given a checkpoint skips what it covers.  A wrapper
 * op records a fake checkpoint ("next item: 5") with its own context, then
 * runs the real machines op with that context, which must find it through
 * mmig_op_resume_point() and write machines 5.. only.
 */
struct wrapper {
	struct mmig_op inner;
	uint64_t next;
	uint64_t batch;
	size_t len;
};

static struct mmig_error *
wrapper_setup(void *self, struct mmig_scope *scope)
{
	struct wrapper *w = self;

	return w->inner.vt->setup(w->inner.self, scope);
}

static struct mmig_error *
wrapper_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct wrapper *w = self;
	uint8_t blob[16] = {0};

	/* the import's checkpoint: next item, then batch size */
	for (int i = 0; i < 8; i++) {
		blob[i] = (uint8_t)(w->next >> (8 * i));
		blob[8 + i] = (uint8_t)(w->batch >> (8 * i));
	}
	assert_int_equal(mmig_op_checkpoint(ctx, blob, w->len), MMIG_OK);
	return w->inner.vt->execute(w->inner.self, ctx, m);
}

static void
wrapper_destroy(void *self)
{
	struct wrapper *w = self;

	w->inner.vt->destroy(w->inner.self);
	free(w);
}

static const struct mmig_op_vtable wrapper_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "machines",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT | MMIG_OP_RESUMABLE,
	.setup = wrapper_setup,
	.execute = wrapper_execute,
	.destroy = wrapper_destroy,
};

/* Import create-model then the wrapped machines op; @return machines. */
static long long
resume_machines(struct fixture *f, struct mmig_registry *r, uint64_t next,
		uint64_t batch, size_t len)
{
	struct mmig_coordinator *c = NULL;
	struct mmig_op create;
	struct wrapper *w = calloc(1, sizeof(*w));
	char *msg;
	long long n;

	assert_non_null(w);
	w->next = next;
	w->batch = batch;
	w->len = len;
	assert_null(mmig_registry_build(r, "create-model", 1, &create));
	assert_null(mmig_registry_build(r, "machines", 2, &w->inner));
	assert_int_equal(mmig_coordinator_new(&c, quiet_log, NULL), MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, create.vt, create.self),
			 MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, &wrapper_vt, w), MMIG_OK);
	open_journal(f);
	mmig_coordinator_set_journal(c, f->j, MMIG_PROCESS);
	if (mmig_coordinator_perform(c, NULL, f->scope, &f->model) != MMIG_OK)
		fail_msg("perform: %s", mmig_coordinator_errmsg(c));
	mmig_coordinator_free(c);
	n = sql_int(f->model_db, "SELECT count(*) FROM machines");
	msg = sql_str(f->model_db,
		      "SELECT min(CAST(id AS INTEGER)) FROM machines");
	if (n)
		assert_non_null(msg);
	free(msg);
	return n;
}

/* Clear what resume_machines() left -- the model database and the
 * controller's row -- for the next one: a row of another migration is
 * never taken for a new import's own. */
static void
forget_model(struct fixture *f)
{
	free(sql_str(f->controller, "DELETE FROM models"));
	assert_null(mmig_scope_delete_model(f->scope));
	assert_int_equal(access(f->model_db, F_OK), -1);
}

static void
test_import_resume_from_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct mmig_registry *r = NULL;
	char *s;

	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_import_register(r), MMIG_OK);
	load_generated(f, 12, 1, 1, 0);
	/* Items 0..4 are skipped: machines 5..11 only. */
	assert_int_equal(resume_machines(f, r, 5, 5000, 16), 7);
	s = sql_str(f->model_db, "SELECT min(CAST(id AS INTEGER)) || '-' || "
				 "max(CAST(id AS INTEGER)) FROM machines");
	assert_string_equal(s, "5-11");
	free(s);
	/* A checkpoint that does not read as an index of this description
	 * is ignored: the op starts over, and the upserts make that safe. */
	forget_model(f);
	assert_int_equal(resume_machines(f, r, 99, 5000, 16), 12);
	forget_model(f);
	assert_int_equal(resume_machines(f, r, 5, 5000, 8), 12);
	forget_model(f);
	assert_int_equal(resume_machines(f, r, 5, 0, 16), 12);
	/* At the end: nothing left to write. */
	forget_model(f);
	assert_int_equal(resume_machines(f, r, 12, 5000, 16), 0);
	mmig_registry_free(r);
}

/* Pause or cancel from the progress callback, once units have a batch in. */
struct stopper {
	struct mmig_ctx *ctx;
	bool pause;
	uint64_t units_seen;
};

static void
stop_in_units(void *arg, const char *op, uint64_t done, uint64_t total)
{
	struct stopper *s = arg;

	(void)total;
	if (strcmp(op, "units") != 0 || done == 0)
		return;
	s->units_seen = done;
	if (s->pause)
		mmig_ctx_pause(s->ctx);
	else
		mmig_ctx_cancel(s->ctx);
}

static size_t
count_in(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void
test_import_pause_mid_op(void **state)
{
	struct fixture *f = *state;
	struct stopper s = { .pause = true };
	struct mmig_import_options io = {
		.size = sizeof(struct mmig_import_options),
		.progress = stop_in_units,
		.progress_arg = &s,
		.batch_rows = 100,
	};
	struct run_opts o = { .journal = true, .fail_at = -1, .import = &io };
	struct mmig_migration_info *list = NULL;
	enum mmig_outcome outcome;
	char *msg = NULL, *dump = NULL;
	size_t n = 0, dump_len = 0;
	FILE *mem;

	load_generated(f, 50, 4, 100, 2);
	assert_int_equal(mmig_ctx_new(&s.ctx), MMIG_OK);
	o.ctx = s.ctx;
	assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EPAUSED);
	free(msg);
	assert_int_equal(outcome, MMIG_OUTCOME_PAUSED);
	/* Stopped between two batches: exactly one batch of units in. */
	assert_int_equal(s.units_seen, 100);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM units"),
			 100);
	assert_int_equal(controller_rows(f, f->d->uuid), 1);
	assert_int_equal(mmig_journal_list(f->j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state, "PAUSED");
	assert_string_equal(mmig_migration_info_at(list, 0)->model_uuid,
			    f->d->uuid);
	/* The checkpoints: one as each batched op starts (it records the
	 * batch size), then one per batch of 100 rows: for model-config,
	 * machines, applications, and the one batch of units so far. */
	mem = open_memstream(&dump, &dump_len);
	assert_non_null(mem);
	assert_int_equal(mmig_journal_show(f->j,
					   mmig_migration_info_at(list, 0)->id,
					   mem, NULL),
			 MMIG_OK);
	fclose(mem);
	assert_true(f->d->n_config > 0);
	assert_int_equal(count_in(dump, "CHECKPOINT"), 2 * 4);
	free(dump);
	mmig_migration_info_free(list, n);
	mmig_ctx_free(s.ctx);
}

static void
test_import_cancel_mid_op(void **state)
{
	struct fixture *f = *state;
	struct stopper s = { .pause = false };
	struct mmig_import_options io = {
		.size = sizeof(struct mmig_import_options),
		.progress = stop_in_units,
		.progress_arg = &s,
		.batch_rows = 100,
	};
	struct run_opts o = { .journal = true, .fail_at = -1, .import = &io };
	enum mmig_outcome outcome;
	char *msg = NULL;

	load_generated(f, 50, 4, 100, 2);
	assert_int_equal(mmig_ctx_new(&s.ctx), MMIG_OK);
	o.ctx = s.ctx;
	assert_int_equal(run(f, &o, &outcome, &msg), MMIG_ECANCELED);
	assert_non_null(strstr(msg, "execute operation units"));
	free(msg);
	assert_int_equal(outcome, MMIG_OUTCOME_ROLLED_BACK);
	assert_int_equal(controller_rows(f, f->d->uuid), 0);
	assert_false(model_files_exist(f));
	mmig_ctx_free(s.ctx);
}

static void
test_import_register(void **state)
{
	static const char *const names[] = {
		"create-model", "model-config", "machines", "applications",
		"units", "relations", "activate",
	};
	struct fixture *f = *state;
	struct mmig_registry *r = NULL;
	struct mmig_model_desc *d = NULL;
	struct mmig_error *err;
	void *data = NULL;

	(void)f;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_import_register(r), MMIG_OK);
	assert_int_equal(mmig_registry_len(r), 7);
	for (size_t i = 0; i < 7; i++) {
		const struct mmig_op_vtable *vt = mmig_registry_at(r, i);

		assert_string_equal(vt->name, names[i]);
		/* The model database operations write schema v2. */
		assert_int_equal(vt->version, i == 0 || i == 6 ? 1 : 2);
		assert_true(vt->flags & MMIG_OP_IDEMPOTENT);
	}
	assert_int_equal(mmig_import_register(r), MMIG_EEXIST);
	/* The loader rebuilds model->data from the journaled bytes. */
	assert_null(mmig_registry_load_model(r, small_json, strlen(small_json),
					     &data));
	d = data;
	assert_string_equal(d->uuid, UUID);
	assert_int_equal(d->n_units_total, 3);
	mmig_registry_unload_model(r, data);
	err = mmig_registry_load_model(r, "{", 1, &data);
	assert_non_null(err);
	assert_int_equal(mmig_error_code(err), MMIG_EMODEL);
	mmig_error_free(err);
	mmig_registry_free(r);
}

static void
test_import_scope_paths(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = NULL;
	struct stat st;

	assert_int_equal(mmig_import_scope_for_model(&f->paths, "../../x",
						     MMIG_DURABLE, &s),
			 MMIG_EINVAL);
	assert_null(s);
	assert_int_equal(mmig_import_scope_for_model(NULL, UUID, MMIG_DURABLE,
						     &s),
			 MMIG_EINVAL);
	/* The model directory is made, parents and all. */
	assert_int_equal(mmig_import_scope_for_model(&f->paths, UUID,
						     MMIG_DURABLE, &s),
			 MMIG_OK);
	assert_int_equal(stat(f->model_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Nothing is opened yet, and deleting what is not there is fine. */
	assert_int_equal(access(f->controller, F_OK), -1);
	assert_null(mmig_scope_delete_model(s));
	mmig_scope_free(s);
	/* The controller schema on its own. */
	assert_int_equal(mmig_import_controller_init(f->controller, NULL),
			 MMIG_OK);
	assert_int_equal(controller_rows(f, UUID), 0);
}

/*
 * Killed (SIGKILL) in the middle of units, imported with batches of 100;
 * resumed by recovery, whose registry-built ops default to batches of
 * 5,000.  The resumed op must make the interrupted run's batches, with the
 * same transaction numbers: each batch committed once, none skipped.
 */
static void
test_import_killed_mid_op_resumes_with_its_own_batches(void **state)
{
	struct fixture *f = *state;
	struct mmig_import_options small = {
		.size = sizeof(struct mmig_import_options), .batch_rows = 100
	};
	struct run_opts o = { .journal = true, .fail_at = -1,
			      .import = &small };
	struct mmig_recover_options ro = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_RESUME,
		.scope_for_model = mmig_import_scope_for_model,
		.scope_arg = &f->paths,
		.log = quiet_log,
	};
	struct mmig_recover_summary *sum;
	struct mmig_registry *r;
	pid_t pid;
	int status;

	load_generated(f, 100, 4, 250, 0);
	/* database commits: create-model 3 (its controller row, the fenced
	 * creation of the model database, its schema), config 1, machines 1,
	 * applications 1, then units 1..10: the 11th is units' 5th */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mmig__fault_arm(MMIG_FAULT_DB_COMMITTED, 11, MMIG_FAULT_KILL);
		run(f, &o, NULL, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM units"), 500);
	open_journal(f);
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_import_register(r), MMIG_OK);
	mmig_scope_free(f->scope); /* recovery makes its own */
	f->scope = NULL;
	assert_int_equal(mmig_recover(f->j, r, &ro, &sum), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(sum, 0)->action,
			 MMIG_RECOVER_COMMITTED);
	mmig_recover_summary_free(sum);
	mmig_registry_free(r);
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM units"),
			 1000);
	/* units is op 4: ten transactions of 100, numbered 1..10, once each */
	assert_int_equal(sql_int(f->model_db, "SELECT count(*) FROM "
					      "mmig_applied WHERE op = 4"),
			 10);
	assert_int_equal(sql_int(f->model_db, "SELECT max(txn) FROM "
					      "mmig_applied WHERE op = 4"),
			 10);
}

/* A model database at the model's path, with rows of its own, that no
 * import made: refused before anything is written, and left exactly. */
static void
test_import_existing_model_db_refused_and_kept(void **state)
{
	struct fixture *f = *state;
	struct run_opts o = { .journal = true, .fail_at = -1 };
	enum mmig_outcome outcome;
	char *msg = NULL, *rows;
	sqlite3 *db;

	load_small(f);
	assert_int_equal(sqlite3_open(f->model_db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE mine (k TEXT);"
				      "INSERT INTO mine VALUES ('a'), ('b');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	for (int journal = 1; journal >= 0; journal--) {
		o.journal = journal;
		assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EEXIST);
		assert_int_equal(outcome, MMIG_OUTCOME_ROLLED_BACK);
		assert_non_null(strstr(msg, "is not this import's"));
		free(msg);
		rows = sql_rows(f->model_db, "SELECT k FROM mine");
		assert_string_equal(rows, "a;b");
		free(rows);
		assert_int_equal(sql_int(f->model_db,
					 "SELECT count(*) FROM sqlite_master "
					 "WHERE name NOT LIKE 'mmig%'"),
				 1);
		assert_int_equal(controller_rows(f, UUID), 0);
	}
}

/* The rollback's deletion of the model database fails: NEEDS_ATTENTION,
 * with the database and the row kept for the retry; `rollback ID` settles
 * it once the fault is gone, and the deletion is journaled. */
static void
test_import_failed_delete_settled_by_rollback_id(void **state)
{
	struct fixture *f = *state;
	struct run_opts o = { .journal = true, .fail_at = 3 };
	struct mmig_recover_options ro = {
		.scope_for_model = mmig_import_scope_for_model,
		.scope_arg = &f->paths,
		.log = quiet_log,
		.rollback_tries = 1,
	};
	struct mmig_recover_summary *sum;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	struct mmig_registry *r;
	enum mmig_outcome outcome;
	char *msg = NULL;
	char id[37];

	load_small(f);
	mmig__fault_arm(MMIG_FAULT_MODEL_DELETE, 1, MMIG_FAULT_EIO);
	assert_int_equal(run(f, &o, &outcome, &msg), MMIG_EOP);
	mmig__fault_disarm();
	assert_int_equal(outcome, MMIG_OUTCOME_NEEDS_ATTENTION);
	assert_non_null(strstr(msg, "rollback operation at 0 with "));
	free(msg);
	assert_true(model_files_exist(f));
	assert_int_equal(controller_rows(f, UUID), 1);
	{
		struct mmig_migration_info *list;
		size_t n;

		assert_int_equal(mmig_journal_list(f->j, false, &list, &n),
				 MMIG_OK);
		assert_int_equal(n, 1);
		assert_string_equal(list[0].state, "NEEDS_ATTENTION");
		snprintf(id, sizeof(id), "%s", list[0].id);
		mmig_migration_info_free(list, n);
	}
	mmig_scope_free(f->scope); /* recovery makes its own */
	f->scope = NULL;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_import_register(r), MMIG_OK);
	/* a plain recover leaves it to the operator */
	assert_int_equal(mmig_recover(f->j, r, &ro, &sum), MMIG_OK);
	assert_int_equal(sum->items[0].action, MMIG_RECOVER_SKIPPED_ATTENTION);
	mmig_recover_summary_free(sum);
	assert_true(model_files_exist(f));
	/* fixed: rollback by id */
	assert_int_equal(mmig_recover_one(f->j, r, &ro, id,
					  MMIG_RECOVER_MODE_ROLLBACK, &sum),
			 MMIG_OK);
	assert_int_equal(sum->items[0].action, MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(sum);
	mmig_registry_free(r);
	assert_false(model_files_exist(f));
	assert_int_equal(controller_rows(f, UUID), 0);
	assert_int_equal(mmig_journal_get(f->j, id, &info), MMIG_OK);
	assert_string_equal(info.state, "ROLLED_BACK");
	mmig_migration_info_clear(&info);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_small_exact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_import_existing_model_db_refused_and_kept, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_import_failed_delete_settled_by_rollback_id, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_import_large_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_import_fail_at_each_op,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_ops_idempotent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_rollback_never_ran,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_import_concurrent_duplicate_leaves_the_first,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_duplicate_uuid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_import_resume_from_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_import_killed_mid_op_resumes_with_its_own_batches,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_pause_mid_op, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_import_cancel_mid_op,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_register, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_import_scope_paths, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
