/*
 * bench/bench-import.c - figures 7 and 8: the reference import against
 * raw SQLite, and the journal's share of the import.
 *
 * Three contestants, each in a child process of its own (so that peak RSS
 * is that contestant's alone, measured with wait4), each on fresh
 * databases, each given the description already parsed:
 *  - the import as `mmig import` runs it: the seven operations of
 *    domain/import.c through a journaled coordinator, durable;
 *  - the same coordinator without a journal;
 *  - the floor: the same rows written with plain sqlite3 prepared INSERTs,
 *    one transaction per table, with the settings the scope uses (WAL,
 *    synchronous=FULL, foreign_keys=ON).
 * Timed from the first connection to the last commit: parsing the JSON
 * comes before and closing the connections (WAL checkpoint) after, the
 * same for all three.
 */
#include "bench-int.h"
/* the import's own schemas: the floor writes the very same tables */

#include <mmig/import.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum contestant { IMPORT_JOURNALED, IMPORT_BARE, FLOOR };

struct import_job {
	const char *model_path;
	char *dir; /* fresh for each run and contestant */
	enum contestant who;
};

int
bench_import_prepare(struct bench *b)
{
	struct mmig_gen_opts o = {
		.size = sizeof(struct mmig_gen_opts),
		.machines = b->sz.machines,
		.applications = b->sz.apps,
		.units_per_app = b->sz.units_per_app,
		.relations = b->sz.relations,
		.seed = 7,
		.flags = MMIG_GEN_EXACT,
	};
	FILE *out;
	long size;
	int rc;

	/* The path of the description is all this file keeps (b->istate). */
	char *model_path = bench_path(b->dir, "model.json");

	if (!model_path)
		return -1;
	b->istate = model_path;
	out = fopen(model_path, "w");
	if (!out)
		return -1;
	rc = mmig_model_desc_generate(&o, out);
	size = ftell(out);
	if (fclose(out) != 0 || rc != MMIG_OK)
		return -1;
	b->model_bytes = (double)size;
	return 0;
}

static const char *
kind_name(enum mmig_model_desc_kind k)
{
	switch (k) {
	case MMIG_MODEL_DESC_STRING:
		return "string";
	case MMIG_MODEL_DESC_INTEGER:
		return "integer";
	case MMIG_MODEL_DESC_REAL:
		return "real";
	case MMIG_MODEL_DESC_BOOL:
		return "bool";
	}
	return "?";
}

/* ---- the floor ----------------------------------------------------------- */

static int
floor_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fprintf(stderr, "mmig: bench: floor: %s: %s\n", sql,
			msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : -1;
}

static int
floor_open(const char *path, sqlite3 **db)
{
	if (sqlite3_open_v2(path, db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return -1;
	return floor_exec(*db, "PRAGMA journal_mode=WAL") ||
	       floor_exec(*db, "PRAGMA synchronous=FULL") ||
	       floor_exec(*db, "PRAGMA foreign_keys=ON");
}

/* Bind @p n texts (NULL binds NULL) and step. */
static int
floor_row(sqlite3_stmt *st, int n, const char *const *v)
{
	int rc;

	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
floor_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

/* One table's rows in one transaction. */
static int
floor_table(sqlite3 *db, const struct mmig_model_desc *d, int table)
{
	static const char *const sql[] = {
		"INSERT INTO model_config (key, value, kind) VALUES (?, ?, ?)",
		"INSERT INTO machines (id, base, constraints) VALUES (?, ?, ?)",
		"INSERT INTO applications (name, charm) VALUES (?, ?)",
		"INSERT INTO application_config (application, key, value, "
		"kind) VALUES (?, ?, ?, ?)",
		"INSERT INTO units (name, application, machine) "
		"VALUES (?, ?, ?)",
		"INSERT INTO relations (endpoint_a, endpoint_b) VALUES (?, ?)",
	};
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (floor_exec(db, "BEGIN") || floor_prepare(db, sql[table], &st))
		return -1;
	switch (table) {
	case 0:
		for (size_t i = 0; i < d->n_config && !rc; i++) {
			const char *v[] = { d->config[i].key,
					    d->config[i].value,
					    kind_name(d->config[i].kind) };
			rc = floor_row(st, 3, v);
		}
		break;
	case 1:
		for (size_t i = 0; i < d->n_machines && !rc; i++) {
			const char *v[] = { d->machines[i].id,
					    d->machines[i].base,
					    d->machines[i].constraints };
			rc = floor_row(st, 3, v);
		}
		break;
	case 2:
		for (size_t i = 0; i < d->n_apps && !rc; i++) {
			const char *v[] = { d->apps[i].name,
					    d->apps[i].charm };
			rc = floor_row(st, 2, v);
		}
		break;
	case 3:
		for (size_t i = 0; i < d->n_apps && !rc; i++) {
			const struct mmig_model_desc_app *a = &d->apps[i];

			for (size_t k = 0; k < a->n_config && !rc; k++) {
				const char *v[] = {
					a->name, a->config[k].key,
					a->config[k].value,
					kind_name(a->config[k].kind)
				};
				rc = floor_row(st, 4, v);
			}
		}
		break;
	case 4:
		for (size_t i = 0; i < d->n_apps && !rc; i++) {
			const struct mmig_model_desc_app *a = &d->apps[i];

			for (size_t k = 0; k < a->n_units && !rc; k++) {
				const char *v[] = { a->units[k].name, a->name,
						    a->units[k].machine };
				rc = floor_row(st, 3, v);
			}
		}
		break;
	case 5:
		for (size_t i = 0; i < d->n_relations && !rc; i++) {
			const char *v[] = { d->relations[i].ep[0].spec,
					    d->relations[i].ep[1].spec };
			rc = floor_row(st, 2, v);
		}
		break;
	}
	sqlite3_finalize(st);
	if (rc) {
		fprintf(stderr, "mmig: bench: floor: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return floor_exec(db, "COMMIT");
}

/* The floor's writes.  The connections come back open in @p ctrl and
 * @p mdb: closing checkpoints the WAL, which the caller leaves out of the
 * timing as the import's scope does (it closes after perform returns). */
static int
run_floor(const struct mmig_model_desc *d, const char *ctrl_path,
	  const char *model_db, sqlite3 **ctrl, sqlite3 **mdb)
{
	const char *v[] = { d->uuid, d->name, d->owner, d->cloud, d->region };
	sqlite3_stmt *st = NULL;
	int rc;

	rc = floor_open(ctrl_path, ctrl) ||
	     floor_exec(*ctrl, mmig_import_schema("controller")) ||
	     floor_exec(*ctrl, "BEGIN") ||
	     floor_prepare(*ctrl,
			   "INSERT INTO models (uuid, name, owner, cloud, "
			   "region, status) VALUES (?, ?, ?, ?, ?, 'active')",
			   &st) ||
	     floor_row(st, 5, v) || floor_exec(*ctrl, "COMMIT") ||
	     floor_open(model_db, mdb) ||
	     floor_exec(*mdb, mmig_import_schema("model"));
	sqlite3_finalize(st);
	for (int t = 0; t < 6 && !rc; t++)
		rc = floor_table(*mdb, d, t);
	return rc;
}

/* ---- the import ---------------------------------------------------------- */

/*
 * The import as cmd_import() in tools/mmig.c runs it, minus the progress
 * display: journal, scope for the model, the seven operations, perform.
 * @return 0 once committed.  The journal is opened before the clock starts
 * (opening is not the import's cost), the scope's connections inside it.
 */
static int
run_import(const struct import_job *job, struct mmig_model *model,
	   struct mmig_import_paths *paths, double *out)
{
	struct mmig_journal_stats st = MMIG_JOURNAL_STATS_INIT;
	struct mmig_journal *j = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_error *err = NULL;
	char *jdir = bench_path(job->dir, "journal");
	uint64_t t0;
	int rc = -1;

	if (!jdir)
		return -1;
	if (job->who == IMPORT_JOURNALED &&
	    mmig_journal_open(&j, jdir, NULL, &err) != MMIG_OK) {
		fprintf(stderr, "mmig: bench: journal: %s\n",
			mmig_error_message(err));
		goto out;
	}
	if (mmig_coordinator_new(&c, bench_log_quiet, NULL) != MMIG_OK ||
	    mmig_import_add_ops(c) != MMIG_OK)
		goto out;
	if (j)
		mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	t0 = bench_now_ns();
	if (mmig_import_scope_for_model(paths, model->uuid, MMIG_DURABLE,
					&scope) != MMIG_OK)
		goto out;
	if (mmig_coordinator_perform(c, NULL, scope, model) != MMIG_OK) {
		fprintf(stderr, "mmig: bench: import: %s\n",
			mmig_coordinator_errmsg(c));
		goto out;
	}
	out[0] = (double)(bench_now_ns() - t0) / 1e6;
	if (j)
		mmig_journal_get_stats(j, &st);
	out[1] = (double)st.syncs;
	out[2] = (double)st.bytes / (1024.0 * 1024.0);
	rc = 0;
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_error_free(err);
	free(jdir);
	return rc;
}

/* In the child: parse, then time the contestant.  out[0] = ms; for the
 * journaled import out[1] = sync points and out[2] = MiB the journal
 * wrote. */
static int
import_child(void *arg, double *out)
{
	struct import_job *job = arg;
	struct mmig_model_desc *d = NULL;
	struct mmig_model model = { 0 };
	char *ctrl = bench_path(job->dir, "controller.db");
	char *mdir = bench_path(job->dir, "models");
	struct mmig_import_paths paths = { .controller_db = ctrl,
					   .model_dir = mdir };
	sqlite3 *c = NULL, *m = NULL;
	char *msg = NULL, *mdb = NULL;
	void *bytes = NULL;
	size_t len = 0;
	uint64_t t0;
	int rc = -1;

	if (!ctrl || !mdir)
		goto out;
	if (mmig_model_desc_parse_file(job->model_path, &d, &msg, &bytes,
				       &len) != MMIG_OK) {
		fprintf(stderr, "mmig: bench: %s\n", msg ? msg : "parse");
		goto out;
	}
	model = (struct mmig_model){ .uuid = d->uuid, .desc = bytes,
				     .desc_len = len, .data = d };
	/* Parsing peaks higher than any contestant, the same for all three:
	 * the peak reported is the one after it. */
	if (bench_peak_rss_restart() != 0)
		goto out;
	if (job->who != FLOOR) {
		rc = run_import(job, &model, &paths, out);
		goto out;
	}
	mdb = malloc(strlen(mdir) + 48);
	if (!mdb || bench_mkdirs(mdir) != 0)
		goto out;
	sprintf(mdb, "%s/%s.db", mdir, d->uuid);
	t0 = bench_now_ns();
	rc = run_floor(d, ctrl, mdb, &c, &m);
	out[0] = (double)(bench_now_ns() - t0) / 1e6;
	sqlite3_close_v2(c);
	sqlite3_close_v2(m);
out:
	mmig_model_desc_errmsg_free(msg);
	mmig_model_desc_free(d);
	mmig_model_desc_bytes_free(bytes);
	free(mdb);
	free(ctrl);
	free(mdir);
	return rc;
}

/* One contestant on fresh databases: @return 0 with out[0..2] (see
 * import_child()) and *rss. */
static int
contest(struct bench *b, enum contestant who, double *out, long *rss)
{
	static const char *const names[] = { "import-journal",
					     "import-bare", "floor" };
	struct import_job job = { .model_path = b->istate, .who = who };
	int rc;

	job.dir = bench_path(b->dir, names[who]);
	if (!job.dir)
		return -1;
	bench_rmtree(job.dir);
	rc = bench_mkdirs(job.dir);
	if (rc == 0)
		rc = bench_child(import_child, &job, out, 3, rss);
	bench_rmtree(job.dir);
	free(job.dir);
	return rc;
}

void
bench_import_run(struct bench *b, size_t r)
{
	struct bench_figure *f7 = bench_fig(b, 7), *f8 = bench_fig(b, 8);
	double jms[3] = { 0 }, bms[3] = { 0 }, fms[3] = { 0 };
	long jrss = 0, brss = 0, frss = 0;
	int rc;

	/* Rotate the order, so no contestant always goes first (or always
	 * meets the previous one's WAL checkpoint still being written out). */
	switch (r % 3) {
	case 0:
		rc = contest(b, FLOOR, fms, &frss) ||
		     contest(b, IMPORT_JOURNALED, jms, &jrss) ||
		     contest(b, IMPORT_BARE, bms, &brss);
		break;
	case 1:
		rc = contest(b, IMPORT_JOURNALED, jms, &jrss) ||
		     contest(b, IMPORT_BARE, bms, &brss) ||
		     contest(b, FLOOR, fms, &frss);
		break;
	default:
		rc = contest(b, IMPORT_BARE, bms, &brss) ||
		     contest(b, FLOOR, fms, &frss) ||
		     contest(b, IMPORT_JOURNALED, jms, &jrss);
		break;
	}
	if (rc) {
		bench_fail(f7, "an import or the floor failed");
		bench_fail(f8, "an import failed");
		return;
	}
	bench_put(&f7->value, jms[0]);
	bench_put(&f7->ratio, jms[0] / fms[0]);
	bench_put(&f7->extra[0], fms[0]);
	bench_put(&f7->extra[1], (double)jrss);
	bench_put(&f7->extra[2], (double)frss);
	bench_put(&f8->value, jms[0]);
	bench_put(&f8->ratio, jms[0] / bms[0]);
	bench_put(&f8->extra[0], bms[0]);
	bench_put(&f8->extra[1], (double)brss);
	bench_put(&f8->extra[2], jms[1]);
	bench_put(&f8->extra[3], jms[2]);
}
