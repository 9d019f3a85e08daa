/*
 * tests/crash-helper.c - a journaled migration that dies where it is told
 * to, and the same operations as a plug-in, for the CLI tests of
 * mmig-recover's plan, recover, resume and rollback.
 *
 * Built twice from this one file:
 *  - the program (crash-helper), which runs N operations of its own as one
 *    journaled migration and kills itself with SIGKILL inside operation K's
 *    execute (after its transaction committed, before DONE K is written:
 *    the interesting place), or pauses, or hangs there as a live owner;
 *  - with -DCRASH_PLUGIN, a plug-in exporting mmig_plugin_register(), so
 *    `mmig-recover --plugin` can rebuild the operations in another process.
 *
 *   crash-helper --journal DIR --controller-db FILE --model-dir DIR
 *                [--uuid UUID] [--ops N] [--idempotent]
 *                [--crash-at K | --pause-at K | --hang-at K --ready FILE]
 *
 * The operations: "step" (version 1, no flags) and "idem-step" (version 1,
 * MMIG_OP_IDEMPOTENT; --idempotent uses it).  Execute adds one to the
 * model's row of crash_steps in the controller database, rollback takes one
 * off (never below 0), each through mmig_txn_run.  Every call appends
 * "execute UUID" or "rollback UUID" to the file named by $CRASH_COUNTS, if
 * set, so a test can count calls across processes.  With
 * $CRASH_FAIL_ROLLBACK set, rollback fails: a way to NEEDS_ATTENTION.
 * With $CRASH_SLOW_MS set, every execute and rollback first sleeps that
 * many milliseconds (cut short by a signal): a slow migration for a test
 * to interrupt.
 *
 * The migration's description is a minimal valid import description, so
 * the built-in import model loader of mmig-recover accepts it.
 *
 * Exit status of the program: 0 committed, 1 anything else; 137 (SIGKILL)
 * when it crashed on purpose.
 */
#include <mmig/mmig.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What op K does when it gets there (the program only). */
enum fate {
	FATE_NONE,
	FATE_CRASH,
	FATE_PAUSE,
	FATE_HANG,
};

struct step {
	/* Position in the plan; -1 in an instance the registry built, which
	 * never knows it and never dies on purpose. */
	int index;
	enum fate fate;
	const char *ready; /* FATE_HANG: touched once the op hangs */
	/* FATE_PAUSE: the context perform was given.  The one execute gets
	 * is derived from it, and a pause must reach the coordinator's own
	 * check before the next op. */
	struct mmig_ctx *top;
	struct mmig_txn_runner *db;
};

static void
count_call(const char *what, const char *model)
{
	const char *path = getenv("CRASH_COUNTS");
	char line[128];
	int fd, len;

	if (!path)
		return;
	/* One write() with O_APPEND: lines from processes never mix. */
	len = snprintf(line, sizeof(line), "%s %s\n", what, model);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)len) != len)
		perror("crash-helper: counts");
	close(fd);
}

/* $CRASH_SLOW_MS: a slow op (a signal ends the sleep early). */
static void
slow_down(void)
{
	const char *ms = getenv("CRASH_SLOW_MS");

	if (ms && atoi(ms) > 0)
		nanosleep(&(struct timespec){ .tv_sec = atoi(ms) / 1000,
					      .tv_nsec = atoi(ms) % 1000 *
							 1000000L },
			  NULL);
}

static struct mmig_error *
step_setup(void *self, struct mmig_scope *scope)
{
	struct step *s = self;

	return mmig_scope_controller_db(scope, &s->db);
}

static struct mmig_error *
exec_sql(sqlite3 *db, const char *sql, const char *model)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, sql);
	if (model)
		sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? NULL : mmig_error_sqlite(db, rc, sql);
}

static struct mmig_error *
add_txn(sqlite3 *db, void *arg)
{
	struct mmig_error *err;

	err = exec_sql(db, "CREATE TABLE IF NOT EXISTS crash_steps ("
			   "model TEXT PRIMARY KEY, n INTEGER NOT NULL)",
		       NULL);
	if (!err)
		err = exec_sql(db, "INSERT INTO crash_steps VALUES (?, 1) "
				   "ON CONFLICT(model) DO UPDATE SET n = n + 1",
			       arg);
	return err;
}

static struct mmig_error *
sub_txn(sqlite3 *db, void *arg)
{
	sqlite3_stmt *st;

	/* Safe when no op ever ran: the table may not exist yet. */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM crash_steps", -1, &st,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_finalize(st);
	return exec_sql(db, "UPDATE crash_steps SET n = n - 1 "
			    "WHERE model = ? AND n > 0",
			arg);
}

static struct mmig_error *
step_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;
	struct mmig_error *err;

	count_call("execute", m->uuid);
	slow_down();
	err = mmig_txn_run(s->db, ctx, add_txn, (void *)m->uuid);
	if (err || s->index < 0)
		return err;
	switch (s->fate) {
	case FATE_CRASH:
		raise(SIGKILL);
		break;
	case FATE_PAUSE:
		/* The coordinator sees it before the next op: PAUSED. */
		mmig_ctx_pause(s->top);
		break;
	case FATE_HANG:
		/* A live owner for the test to (not) take over from. */
		close(open(s->ready, O_WRONLY | O_CREAT, 0644));
		for (;;)
			pause();
	case FATE_NONE:
		break;
	}
	return NULL;
}

static struct mmig_error *
step_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct step *s = self;

	count_call("rollback", m->uuid);
	slow_down();
	if (getenv("CRASH_FAIL_ROLLBACK"))
		return mmig_error_new(MMIG_EOP, "rollback failing on purpose "
						"(CRASH_FAIL_ROLLBACK)");
	return mmig_txn_run(s->db, ctx, sub_txn, (void *)m->uuid);
}

static void
step_destroy(void *self)
{
	free(self);
}

static const struct mmig_op_vtable step_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "step",
	.version = 1,
	.setup = step_setup,
	.execute = step_execute,
	.rollback = step_rollback,
	.destroy = step_destroy,
};

static const struct mmig_op_vtable idem_step_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "idem-step",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = step_setup,
	.execute = step_execute,
	.rollback = step_rollback,
	.destroy = step_destroy,
};

#ifdef CRASH_PLUGIN

static struct mmig_error *
step_new(void *arg, void **self)
{
	struct step *s = calloc(1, sizeof(*s));

	if (!s)
		return mmig_error_new(MMIG_ENOMEM, "crash plug-in: step");
	s->index = -1;
	*self = s;
	return NULL;
}

int mmig_plugin_register(struct mmig_registry *r);

int
mmig_plugin_register(struct mmig_registry *r)
{
	int rc = mmig_registry_add(r, &step_vt, step_new, NULL);

	if (rc == MMIG_OK)
		rc = mmig_registry_add(r, &idem_step_vt, step_new, NULL);
	return rc;
}

#else /* the program */

#include <getopt.h>

static void
usage(FILE *out)
{
	fprintf(out, "usage: crash-helper --journal DIR --controller-db FILE "
		     "--model-dir DIR [--uuid UUID] [--ops N] [--idempotent] "
		     "[--crash-at K | --pause-at K | --hang-at K --ready "
		     "FILE]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "controller-db", required_argument, NULL, 'c' },
		{ "model-dir", required_argument, NULL, 'm' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "ops", required_argument, NULL, 'n' },
		{ "idempotent", no_argument, NULL, 'i' },
		{ "crash-at", required_argument, NULL, 'k' },
		{ "pause-at", required_argument, NULL, 'p' },
		{ "hang-at", required_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'r' },
		{ 0 },
	};
	struct mmig_import_paths paths = { 0 };
	const char *journal_dir = NULL, *ready = NULL;
	const char *uuid = "5f0c3a1e-8b2d-4c6e-9a7f-1e2d3c4b5a69";
	int n_ops = 4, at = -1, opt, rc, ex = 1;
	enum fate fate = FATE_NONE;
	bool idempotent = false;
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_ctx *ctx = NULL;
	struct mmig_error *err = NULL;
	struct mmig_model model = { 0 };
	char desc[512];

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			journal_dir = optarg;
			break;
		case 'c':
			paths.controller_db = optarg;
			break;
		case 'm':
			paths.model_dir = optarg;
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'n':
			n_ops = atoi(optarg);
			break;
		case 'i':
			idempotent = true;
			break;
		case 'k':
			fate = FATE_CRASH;
			at = atoi(optarg);
			break;
		case 'p':
			fate = FATE_PAUSE;
			at = atoi(optarg);
			break;
		case 'H':
			fate = FATE_HANG;
			at = atoi(optarg);
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!journal_dir || !paths.controller_db || !paths.model_dir ||
	    optind != argc || n_ops < 1 || (fate == FATE_HANG && !ready)) {
		usage(stderr);
		return 2;
	}
	snprintf(desc, sizeof(desc),
		 "{\"version\":1,\"model\":{\"uuid\":\"%s\",\"name\":\"crash\","
		 "\"owner\":\"admin\",\"cloud\":\"test\"}}",
		 uuid);
	model.uuid = uuid;
	model.desc = desc;
	model.desc_len = strlen(desc);

	rc = mmig_journal_open(&j, journal_dir, NULL, &err);
	if (rc == MMIG_OK)
		rc = mmig_import_controller_init(paths.controller_db, &err);
	if (rc == MMIG_OK)
		rc = mmig_import_scope_for_model(&paths, uuid, MMIG_DURABLE,
						 &scope);
	if (rc == MMIG_OK)
		rc = mmig_coordinator_new(&c, NULL, NULL);
	if (rc == MMIG_OK)
		rc = mmig_ctx_new(&ctx);
	for (int i = 0; rc == MMIG_OK && i < n_ops; i++) {
		struct step *s = calloc(1, sizeof(*s));

		if (!s) {
			rc = MMIG_ENOMEM;
			break;
		}
		*s = (struct step){
			.index = i,
			.fate = i == at ? fate : FATE_NONE,
			.ready = ready,
			.top = ctx,
		};
		rc = mmig_coordinator_add(c, idempotent ? &idem_step_vt
							: &step_vt,
					  s);
		if (rc != MMIG_OK)
			free(s);
	}
	if (rc != MMIG_OK) {
		fprintf(stderr, "crash-helper: %s\n",
			err ? mmig_error_message(err) : mmig_strerror(rc));
		goto out;
	}
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	rc = mmig_coordinator_perform(c, ctx, scope, &model);
	printf("migration %s: %s%s%s\n", mmig_coordinator_migration_id(c),
	       mmig_outcome_name(mmig_coordinator_outcome(c)), rc ? ": " : "",
	       mmig_coordinator_errmsg(c));
	ex = rc == MMIG_OK ? 0 : 1;
out:
	mmig_error_free(err);
	mmig_ctx_free(ctx);
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	return ex;
}

#endif
