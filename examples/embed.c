/*
 * examples/embed.c - the smallest program that embeds libmmig with
 * operations of its own.
 *
 * Two operations move a "model" into two databases:
 *   register-model  inserts the model's row in the controller database;
 *                   it makes the model, so its rollback deletes the model
 *                   database (through the scope's deleter), then the row;
 *   fill-model      creates the model database and fills it (no rollback:
 *                   register-model's removes the whole database).
 * As in the origin, the coordinator never deletes a database by itself:
 * the op that made the model does, in its own rollback.
 * Every step is journaled.  `--fail-at fill-model` makes that op fail after
 * its writes, to show the rollback.
 *
 * At start-up, before anything else, it settles whatever an earlier run
 * left in flight (mmig_recover()): that is why its operations are in a
 * registry, so that they can be rebuilt from the journal by name.
 *
 * usage: embed-example --journal DIR --controller-db FILE --model-dir DIR
 *                      [--uuid UUID] [--fail-at OP] [--rows N] [--show]
 */
#include <mmig/mmig.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the command line asks of the operations; every instance reads it. */
struct config {
	const char *fail_at;
	int rows;
	const char *controller_db;
	const char *model_dir;
};

struct example {
	const struct config *cfg;
	int rows;
	const char *fail_at;
	struct mmig_scope *scope;
	struct mmig_txn_runner *db;
};

static struct mmig_error *
exec_sql(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? NULL : mmig_error_sqlite(db, rc, sql);
}

static struct mmig_error *
register_setup(void *self, struct mmig_scope *scope)
{
	struct example *ex = self;

	ex->scope = scope;
	return mmig_scope_controller_db(scope, &ex->db);
}

static struct mmig_error *
register_txn(sqlite3 *db, void *arg)
{
	const struct mmig_model *model = arg;
	struct mmig_error *err;
	sqlite3_stmt *st;
	int rc;

	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS models ("
			   "uuid TEXT PRIMARY KEY, status TEXT NOT NULL)");
	if (err)
		return err;
	rc = sqlite3_prepare_v2(db, "INSERT INTO models VALUES (?, 'active')",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, "prepare");
	sqlite3_bind_text(st, 1, model->uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? NULL : mmig_error_sqlite(db, rc, "insert");
}

static struct mmig_error *
register_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct example *ex = self;

	return mmig_txn_run(ex->db, ctx, register_txn, (void *)m);
}

static struct mmig_error *
unregister_txn(sqlite3 *db, void *arg)
{
	const struct mmig_model *model = arg;
	sqlite3_stmt *st;
	int rc;

	/* Safe when the op never ran: the table may not even exist. */
	rc = sqlite3_prepare_v2(db, "DELETE FROM models WHERE uuid = ?", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, model->uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? NULL : mmig_error_sqlite(db, rc, "delete");
}

/* Is the model's row there?  (A real embedder also tells its own row from
 * another migration's: the reference import keeps a status for that.) */
static bool
registered(struct example *ex, const struct mmig_model *m)
{
	sqlite3 *db = mmig_txn_runner_db(ex->db);
	sqlite3_stmt *st;
	bool yes = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM models WHERE uuid = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return false; /* no table: nothing registered */
	sqlite3_bind_text(st, 1, m->uuid, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

static struct mmig_error *
register_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct example *ex = self;
	struct mmig_error *err = NULL;

	/* The database first, while the row says the model is ours; both
	 * steps may be repeated after a crash. */
	if (registered(ex, m))
		err = mmig_scope_delete_model(ex->scope);
	if (!err)
		err = mmig_txn_run(ex->db, ctx, unregister_txn, (void *)m);
	return err;
}

static void
example_destroy(void *self)
{
	free(self);
}

static const struct mmig_op_vtable register_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "register-model",
	.version = 1,
	.setup = register_setup,
	.execute = register_execute,
	.rollback = register_rollback,
	.destroy = example_destroy,
};

static struct mmig_error *
fill_setup(void *self, struct mmig_scope *scope)
{
	struct example *ex = self;

	return mmig_scope_model_db(scope, &ex->db);
}

static struct mmig_error *
fill_txn(sqlite3 *db, void *arg)
{
	struct example *ex = arg;
	struct mmig_error *err;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS parts ("
			   "id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
	if (err)
		return err;
	if (sqlite3_prepare_v2(db, "INSERT INTO parts (name) VALUES (?)", -1,
			       &st, NULL) != SQLITE_OK)
		return mmig_error_sqlite(db, SQLITE_ERROR, "prepare");
	for (int i = 0; i < ex->rows && rc == SQLITE_DONE; i++) {
		char name[32];

		snprintf(name, sizeof(name), "part-%d", i);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? NULL : mmig_error_sqlite(db, rc, "insert");
}

static struct mmig_error *
fill_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct example *ex = self;
	struct mmig_error *err = mmig_txn_run(ex->db, ctx, fill_txn, ex);

	if (!err && ex->fail_at && strcmp(ex->fail_at, "fill-model") == 0)
		err = mmig_error_new(MMIG_EOP, "failing on purpose (--fail-at)");
	return err;
}

static const struct mmig_op_vtable fill_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "fill-model",
	.version = 1,
	.setup = fill_setup,
	.execute = fill_execute,
	.destroy = example_destroy,
};

/* The registry's constructor: a fresh instance reading the config. */
static struct mmig_error *
example_new(void *arg, void **self)
{
	const struct config *cfg = arg;
	struct example *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return mmig_error_new(MMIG_ENOMEM, "out of memory");
	ex->cfg = cfg;
	ex->rows = cfg->rows;
	ex->fail_at = cfg->fail_at;
	*self = ex;
	return NULL;
}

static int
scope_for_model(void *arg, const char *uuid, enum mmig_durability d,
		struct mmig_scope **out)
{
	const struct config *cfg = arg;

	return mmig_scope_for_model(out, cfg->controller_db, cfg->model_dir,
				    uuid, d);
}

/* Settle what an earlier run left in flight; @return false on failure. */
static bool
recover_at_startup(struct mmig_journal *j, struct mmig_registry *reg,
		   struct config *cfg)
{
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for_model,
		.scope_arg = cfg,
	};
	struct mmig_recover_summary *s;
	bool ok;

	if (mmig_recover(j, reg, &o, &s) != MMIG_OK)
		return false;
	for (size_t i = 0; i < s->n; i++)
		printf("recovered %s: %s%s%s\n",
		       mmig_recover_summary_item(s, i)->id,
		       mmig_recover_action_name(
			       mmig_recover_summary_item(s, i)->action),
		       mmig_recover_summary_item(s, i)->message ? ": " : "",
		       mmig_recover_summary_item(s, i)->message
			       ? mmig_recover_summary_item(s, i)->message
			       : "");
	ok = s->n_unsettled == 0;
	mmig_recover_summary_free(s);
	return ok;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: embed-example --journal DIR --controller-db FILE "
		"--model-dir DIR [--uuid UUID] [--fail-at OP] [--rows N] "
		"[--show]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "controller-db", required_argument, NULL, 'c' },
		{ "model-dir", required_argument, NULL, 'm' },
		{ "fail-at", required_argument, NULL, 'f' },
		{ "rows", required_argument, NULL, 'r' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "show", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *journal_dir = NULL;
	struct config cfg = { .rows = 1000 };
	struct mmig_registry *reg = NULL;
	struct mmig_model model = {
		.uuid = "7d9f4a2e-3b1c-4e5f-8a6b-9c0d1e2f3a4b",
		.desc = "{\"example\":true}",
	};
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_error *err = NULL;
	bool show = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			journal_dir = optarg;
			break;
		case 'c':
			cfg.controller_db = optarg;
			break;
		case 'm':
			cfg.model_dir = optarg;
			break;
		case 'f':
			cfg.fail_at = optarg;
			break;
		case 'r':
			cfg.rows = atoi(optarg);
			break;
		case 'u':
			model.uuid = optarg;
			break;
		case 's':
			show = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!journal_dir || !cfg.controller_db || !cfg.model_dir ||
	    optind != argc) {
		usage(stderr);
		return 2;
	}
	model.desc_len = strlen(model.desc);
	mkdir(cfg.model_dir, 0755);
	rc = mmig_journal_open(&j, journal_dir, NULL, &err);
	if (rc != MMIG_OK) {
		fprintf(stderr, "embed-example: journal: %s\n",
			mmig_error_message(err));
		mmig_error_free(err);
		return 1;
	}
	if (mmig_registry_new(&reg) != MMIG_OK ||
	    mmig_registry_add(reg, &register_vt, example_new, &cfg) != MMIG_OK ||
	    mmig_registry_add(reg, &fill_vt, example_new, &cfg) != MMIG_OK) {
		fprintf(stderr, "embed-example: registry: out of memory\n");
		rc = MMIG_ENOMEM;
		goto out;
	}
	if (!recover_at_startup(j, reg, &cfg)) {
		fprintf(stderr, "embed-example: recovery left migrations "
				"unsettled; see mmig-recover list\n");
		rc = MMIG_EATTENTION;
		goto out;
	}
	rc = mmig_scope_for_model(&scope, cfg.controller_db, cfg.model_dir,
				  model.uuid, MMIG_DURABLE);
	if (rc == MMIG_EINVAL)
		fprintf(stderr, "embed-example: --uuid %s: not a canonical "
				"lower-case UUID\n", model.uuid);
	if (rc == MMIG_OK)
		rc = mmig_coordinator_new(&c, NULL, NULL);
	for (int i = 0; rc == MMIG_OK && i < 2; i++) {
		static const char *const plan[] = { "register-model",
						    "fill-model" };
		struct mmig_op op;
		struct mmig_error *berr = mmig_registry_build(reg, plan[i], 1,
							      &op);

		rc = berr ? mmig_error_code(berr)
			  : mmig_coordinator_add(c, op.vt, op.self);
		mmig_error_free(berr);
	}
	if (rc != MMIG_OK) {
		fprintf(stderr, "embed-example: %s\n", mmig_strerror(rc));
		goto out;
	}
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	rc = mmig_coordinator_perform(c, NULL, scope, &model);
	printf("migration %s: %s%s%s\n", mmig_coordinator_migration_id(c),
	       mmig_outcome_name(mmig_coordinator_outcome(c)),
	       rc ? ": " : "", mmig_coordinator_errmsg(c));
	if (show)
		mmig_journal_show(j, mmig_coordinator_migration_id(c), stdout,
				  NULL);
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_registry_free(reg);
	mmig_journal_close(j);
	return rc == MMIG_OK ? 0 : 1;
}
