/*
 * tests/power/power-helper.c - the step plan of the power-cut suite: a
 * journaled migration of N_OPS small operations in durable mode, and its
 * recovery, as a program the suite runs under the power-cut shim.
 *
 *   power-helper run DIR [--fail-at K]   run the migration; op K's execute
 *                                        fails (after its transaction
 *                                        committed), so it rolls back
 *   power-helper recover DIR             mmig_recover, rollback policy
 *
 * DIR holds journal/, controller.db and models/.  The operations are the
 * crash suite's (tests/test-recover.c): op i inserts row i into `steps` and
 * counts its work in `tally`, both in the controller database, through
 * mmig_txn_run; op 2 also writes a row to the model database; rollback
 * deletes the row and counts the undo in `tally` in the same transaction,
 * so the tally counts completed work and completed undos exactly.
 *
 * Output: `run` prints "committed" or "rolled-back" (the outcome perform
 * reported) and exits 0 or 1, 3 for anything else; `recover` prints one
 * "ID ACTION" line per migration and exits 0 when all settled.
 */
#include <mmig/mmig.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OPS 5
#define MODEL_UUID "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

struct step {
	int index;
	int fail_at;
	struct mmig_txn_runner *ctl;
	struct mmig_txn_runner *model;
};

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

	if (!err && s->index == 2)
		err = mmig_scope_model_db(scope, &s->model);
	return err;
}

static struct mmig_error *
do_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	struct mmig_error *err;
	char sql[256];

	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS steps (op INTEGER "
			   "PRIMARY KEY);"
			   "CREATE TABLE IF NOT EXISTS tally (op INTEGER, "
			   "what TEXT, n INTEGER, PRIMARY KEY (op, what))");
	if (err)
		return err;
	/* Markers make a committed transaction run once: a plain INSERT
	 * must never meet its own row. */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO steps VALUES (%d);"
		 "INSERT INTO tally VALUES (%d, 'do', 1) ON CONFLICT DO "
		 "UPDATE SET n = n + 1",
		 s->index, s->index);
	return exec_sql(db, sql);
}

static struct mmig_error *
model_txn(sqlite3 *db, void *arg)
{
	(void)arg;
	return exec_sql(db, "CREATE TABLE IF NOT EXISTS m (x);"
			    "INSERT INTO m VALUES (1)");
}

static struct mmig_error *
step_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;
	struct mmig_error *err;

	(void)m;
	err = mmig_txn_run(s->ctl, ctx, do_txn, s);
	if (!err && s->model)
		err = mmig_txn_run(s->model, ctx, model_txn, s);
	if (!err && s->index == s->fail_at)
		err = mmig_error_new(MMIG_EOP, "boom at %d", s->index);
	return err;
}

static struct mmig_error *
undo_txn(sqlite3 *db, void *arg)
{
	struct step *s = arg;
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "DELETE FROM steps WHERE op = %d;"
		 "INSERT INTO tally VALUES (%d, 'undo', 1) ON CONFLICT DO "
		 "UPDATE SET n = n + 1",
		 s->index, s->index);
	return exec_sql(db, sql);
}

static struct mmig_error *
step_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;

	(void)m;
	return mmig_txn_run(s->ctl, ctx, undo_txn, s);
}

static void
step_destroy(void *self)
{
	free(self);
}

static char step_names[N_OPS][8];
static struct mmig_op_vtable step_vts[N_OPS];

static struct mmig_error *
step_ctor(void *arg, void **self)
{
	struct step *s = calloc(1, sizeof(*s));

	if (!s)
		return mmig_error_new(MMIG_ENOMEM, "step");
	s->index = (int)(intptr_t)arg;
	s->fail_at = -1;
	*self = s;
	return NULL;
}

static struct mmig_registry *
registry(void)
{
	struct mmig_registry *r;

	if (mmig_registry_new(&r) != MMIG_OK)
		return NULL;
	for (int i = 0; i < N_OPS; i++) {
		snprintf(step_names[i], sizeof(step_names[i]), "step%d", i);
		step_vts[i] = (struct mmig_op_vtable){
			.name = step_names[i],
			.version = 1,
			.setup = step_setup,
			.execute = step_execute,
			.rollback = step_rollback,
			.destroy = step_destroy,
		};
		if (mmig_registry_add(r, &step_vts[i], step_ctor,
				      (void *)(intptr_t)i) != MMIG_OK) {
			mmig_registry_free(r);
			return NULL;
		}
	}
	return r;
}

static void
quiet(void *arg, enum mmig_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

struct paths {
	char journal[4096];
	char ctl[4096];
	char models[4096];
};

static int
scope_for(void *arg, const char *uuid, enum mmig_durability d,
	  struct mmig_scope **out)
{
	const struct paths *p = arg;

	return mmig_scope_for_model(out, p->ctl, p->models, uuid, d);
}

static int
run(const struct paths *p, int fail_at)
{
	struct mmig_model model = { .uuid = MODEL_UUID, .desc = "{}",
				    .desc_len = 2 };
	struct mmig_registry *r = registry();
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_journal *j = NULL;
	int rc, status = 3;

	if (!r || mmig_journal_open(&j, p->journal, NULL, NULL) != MMIG_OK ||
	    mmig_coordinator_new(&c, quiet, NULL) != MMIG_OK)
		goto out;
	for (int i = 0; i < N_OPS; i++) {
		struct mmig_op op;
		struct mmig_error *err = mmig_registry_build(r, step_names[i],
							     1, &op);

		if (err) {
			mmig_error_free(err);
			goto out;
		}
		((struct step *)op.self)->fail_at = fail_at;
		mmig_coordinator_add(c, op.vt, op.self);
	}
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	if (mmig_scope_for_model(&scope, p->ctl, p->models, MODEL_UUID,
				 MMIG_DURABLE) != MMIG_OK)
		goto out;
	rc = mmig_coordinator_perform(c, NULL, scope, &model);
	(void)rc;
	switch (mmig_coordinator_outcome(c)) {
	case MMIG_OUTCOME_COMMITTED:
		printf("committed\n");
		status = 0;
		break;
	case MMIG_OUTCOME_ROLLED_BACK:
		printf("rolled-back\n");
		status = 1;
		break;
	default:
		printf("%s\n", mmig_outcome_name(mmig_coordinator_outcome(c)));
		break;
	}
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return status;
}

static int
recover(struct paths *p)
{
	struct mmig_recover_options o = {
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for,
		.scope_arg = p,
		.log = quiet,
	};
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = registry();
	struct mmig_journal *j = NULL;
	int rc = MMIG_ENOMEM;

	if (r)
		rc = mmig_journal_open(&j, p->journal, NULL, NULL);
	if (rc == MMIG_OK)
		rc = mmig_recover(j, r, &o, &s);
	for (size_t i = 0; rc == MMIG_OK && i < s->n; i++)
		printf("%s %s %s%s%s\n", s->items[i].id,
		       s->items[i].model_uuid,
		       mmig_recover_action_name(s->items[i].action),
		       s->items[i].message ? ": " : "",
		       s->items[i].message ? s->items[i].message : "");
	if (rc == MMIG_OK && s->n_unsettled)
		rc = MMIG_EATTENTION;
	if (rc != MMIG_OK)
		fprintf(stderr, "power-helper: recover: %s\n",
			mmig_strerror(rc));
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return rc == MMIG_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct paths p;
	int fail_at = -1;

	if (argc < 3 || (strcmp(argv[1], "run") && strcmp(argv[1], "recover"))) {
		fprintf(stderr, "usage: power-helper run|recover DIR "
				"[--fail-at K]\n");
		return 2;
	}
	if (argc == 5 && strcmp(argv[3], "--fail-at") == 0)
		fail_at = atoi(argv[4]);
	snprintf(p.journal, sizeof(p.journal), "%s/journal", argv[2]);
	snprintf(p.ctl, sizeof(p.ctl), "%s/controller.db", argv[2]);
	snprintf(p.models, sizeof(p.models), "%s/models", argv[2]);
	if (strcmp(argv[1], "run") == 0)
		return run(&p, fail_at);
	return recover(&p);
}
