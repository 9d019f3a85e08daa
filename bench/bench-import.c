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
 *
 * The YAML path of figure 7: a real topology, the Charmed Kubernetes
 * bundle of the test data expanded by the library (as `mmig gen-model
 * --from-bundle ... --scale N --format yaml` does) into a juju/description
 * document of 50,000 units, and
 *  - its parse on its own: mmig_model_desc_parse() (libyaml's events and
 *    our reader, domain/yaml-doc.c and domain/juju.c), against libyaml's
 *    event parser alone on the same bytes, the bound no reader can beat;
 *  - its import as `mmig import` runs it (journaled, durable), against the
 *    floor: the very rows the import writes -- read back from a reference
 *    import made once per invocation, so "the same rows" holds by
 *    construction, verbatim YAML text and all -- inserted with plain
 *    prepared INSERTs into the same schema, one transaction per batch of
 *    the import (20,000 items; the tables an operation writes together in
 *    one transaction), WAL + synchronous=FULL.
 */
#include "bench-int.h"
/* the import's own schemas: the floor writes the very same tables */

#include "bench-bundle.h"

#include <mmig/coordinator.h>
#include <mmig/import.h>
#include <yaml.h>

#include <dirent.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum contestant { IMPORT_JOURNALED, IMPORT_BARE, FLOOR, YAML_FLOOR };

struct import_job {
	const char *model_path;
	char *dir; /* fresh for each run and contestant */
	enum contestant who;
	const char *ref_dir; /* YAML_FLOOR: the reference import's */
};

/* What this file keeps between prepare and the runs (b->istate). */
struct import_state {
	char *model_path; /* our JSON */
	char *yaml_path;  /* the juju/description document */
	char *ref_dir;    /* the reference import of it, for the floor */
};

/* The import's batch size (BATCH_ROWS_DEFAULT of domain/import.c). */
#define IMPORT_BATCH_ROWS 20000

static int yaml_prepare(struct bench *b, struct import_state *s);

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

	struct import_state *s = calloc(1, sizeof(*s));
	char *model_path = bench_path(b->dir, "model.json");

	if (!s || !model_path) {
		free(s);
		free(model_path);
		return -1;
	}
	s->model_path = model_path;
	b->istate = s;
	out = fopen(model_path, "w");
	if (!out)
		return -1;
	rc = mmig_model_desc_generate(&o, out);
	size = ftell(out);
	if (fclose(out) != 0 || rc != MMIG_OK)
		return -1;
	b->model_bytes = (double)size;
	return bench_wanted(b, 7) ? yaml_prepare(b, s) : 0;
}

void
bench_import_finish(struct bench *b)
{
	struct import_state *s = b->istate;

	if (!s)
		return;
	free(s->model_path);
	free(s->yaml_path);
	free(s->ref_dir);
	free(s);
	b->istate = NULL;
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

static int durable_write(const char *path, const char *buf, size_t len);

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
	out[3] = (double)st.commit_ns / 1e6;
	rc = 0;
	if (!j) {
		/* Figure 8's lower bound besides the import itself: the
		 * description's bytes written once and synced, as the
		 * journal must before op 0 (rule 2). */
		char *copy = bench_path(job->dir, "description.copy");

		t0 = bench_now_ns();
		rc = copy ? durable_write(copy, model->desc, model->desc_len)
			  : -1;
		out[1] = (double)(bench_now_ns() - t0) / 1e6;
		free(copy);
	}
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_error_free(err);
	free(jdir);
	return rc;
}

/* In the child: parse, then time the contestant.  out[0] = ms; for the
 * journaled import out[1] = sync points, out[2] = MiB the journal wrote
 * and out[3] = ms inside its commits (pages written and synced); for the
 * import without a journal out[1] = ms of writing the description once,
 * durably (after its clock). */
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

/* One contestant on fresh databases: @return 0 with out[0..3] (see
 * import_child()) and *rss. */
static int
contest(struct bench *b, enum contestant who, double *out, long *rss)
{
	static const char *const names[] = { "import-journal",
					     "import-bare", "floor" };
	const struct import_state *s = b->istate;
	struct import_job job = { .model_path = s->model_path, .who = who };
	int rc;

	job.dir = bench_path(b->dir, names[who]);
	if (!job.dir)
		return -1;
	bench_rmtree(job.dir);
	rc = bench_mkdirs(job.dir);
	if (rc == 0)
		rc = bench_child(import_child, &job, out, 4, rss);
	bench_rmtree(job.dir);
	free(job.dir);
	return rc;
}

static void yaml_run(struct bench *b, size_t r);

void
bench_import_run(struct bench *b, size_t r)
{
	struct bench_figure *f7 = bench_fig(b, 7), *f8 = bench_fig(b, 8);
	double jms[4] = { 0 }, bms[4] = { 0 }, fms[4] = { 0 };
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
	bench_put(&f8->ratio, jms[0] / (bms[0] + bms[1]));
	bench_put(&f8->extra[0], bms[0]);
	bench_put(&f8->extra[1], (double)brss);
	bench_put(&f8->extra[2], jms[1]);
	bench_put(&f8->extra[3], jms[2]);
	bench_put(&f8->extra[4], bms[1]);
	bench_put(&f8->extra[5], jms[0] / bms[0]);
	/* What the syncs alone cost, on the import's path: rule 2 and
	 * invariant W put each of them before a database commit. */
	bench_put(&f8->extra[6], jms[3]);
	bench_put(&f8->extra[7], jms[3] / (bms[0] + bms[1]));
	if (bench_wanted(b, 7))
		yaml_run(b, r);
}

/* ---- the YAML path ------------------------------------------------------- */

/* A file's bytes, malloc'ed, NUL after them; NULL on failure. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
		*len = fread(buf, 1, (size_t)size, f);
		if (*len != (size_t)size) {
			free(buf);
			buf = NULL;
		} else {
			buf[*len] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* In a child: the reference import (no journal, process mode: only the
 * rows matter), out[0] = machines, out[1] = units. */
static int
ref_child(void *arg, double *out)
{
	const struct import_job *job = arg;
	struct mmig_model_desc *d = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	char *ctrl = bench_path(job->dir, "controller.db");
	char *mdir = bench_path(job->dir, "models");
	struct mmig_import_paths paths = { .controller_db = ctrl,
					   .model_dir = mdir };
	struct mmig_model model = { 0 };
	char *msg = NULL;
	void *bytes = NULL;
	size_t len = 0;
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
	if (mmig_coordinator_new(&c, bench_log_quiet, NULL) != MMIG_OK ||
	    mmig_import_add_ops(c) != MMIG_OK ||
	    mmig_import_scope_for_model(&paths, d->uuid, MMIG_PROCESS,
					&scope) != MMIG_OK)
		goto out;
	if (mmig_coordinator_perform(c, NULL, scope, &model) != MMIG_OK) {
		fprintf(stderr, "mmig: bench: reference import: %s\n",
			mmig_coordinator_errmsg(c));
		goto out;
	}
	out[0] = (double)d->n_machines;
	out[1] = (double)d->n_units_total;
	rc = 0;
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_model_desc_errmsg_free(msg);
	mmig_model_desc_free(d);
	mmig_model_desc_bytes_free(bytes);
	free(ctrl);
	free(mdir);
	return rc;
}

/* The document (the bundle expanded at the scale of the sizes) and the
 * reference import of it, once per invocation. */
static int
yaml_prepare(struct bench *b, struct import_state *s)
{
	struct import_job job = { .who = YAML_FLOOR };
	double out[2] = { 0 };
	char *msg = NULL;
	FILE *f;
	long size;
	int rc;

	s->yaml_path = bench_path(b->dir, "model.yaml");
	s->ref_dir = bench_path(b->dir, "yaml-reference");
	if (!s->yaml_path || !s->ref_dir)
		return -1;
	f = fopen(s->yaml_path, "w");
	if (!f)
		return -1;
	rc = mmig_model_gen_bundle(bench_bundle, bench_bundle_len,
				   b->sz.bundle_scale, 1, f, &msg);
	size = ftell(f);
	if (fclose(f) != 0 || rc != MMIG_OK) {
		fprintf(stderr, "mmig: bench: bundle: %s\n",
			msg ? msg : mmig_strerror(rc));
		mmig_model_desc_errmsg_free(msg);
		return -1;
	}
	b->yaml_bytes = (double)size;
	job.model_path = s->yaml_path;
	job.dir = s->ref_dir;
	if (bench_mkdirs(job.dir) != 0 ||
	    bench_child(ref_child, &job, out, 2, NULL) != 0)
		return -1;
	b->yaml_machines = (size_t)out[0];
	b->yaml_units = (size_t)out[1];
	return 0;
}

/* libyaml's event parser alone over @p buf: the bound of any parse. */
static int
events_only(const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t e;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &e)) {
			fprintf(stderr, "mmig: bench: libyaml: %s\n",
				p.problem ? p.problem : "error");
			rc = -1;
			break;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return rc;
}

/* In a child: out[0] = ms of mmig_model_desc_parse() (libyaml's events,
 * the tree, the juju/description reader), out[1] = ms of libyaml's
 * events alone, the two in the order @p job->who says (run by run). */
static int
parse_child(void *arg, double *out)
{
	const struct import_job *job = arg;
	struct mmig_model_desc *d = NULL;
	char *msg = NULL, *buf;
	size_t len = 0;
	uint64_t t0;
	int rc = 0;

	buf = slurp(job->model_path, &len);
	if (!buf)
		return -1;
	for (int k = 0; k < 2 && rc == 0; k++) {
		bool ours = (k == 0) == (job->who == IMPORT_JOURNALED);

		t0 = bench_now_ns();
		if (ours) {
			rc = mmig_model_desc_parse(buf, len, &d, &msg) ==
					     MMIG_OK
				     ? 0
				     : -1;
			out[0] = (double)(bench_now_ns() - t0) / 1e6;
			if (rc)
				fprintf(stderr, "mmig: bench: %s\n",
					msg ? msg : "parse");
			mmig_model_desc_free(d);
			mmig_model_desc_errmsg_free(msg);
		} else {
			rc = events_only(buf, len);
			out[1] = (double)(bench_now_ns() - t0) / 1e6;
		}
	}
	free(buf);
	return rc;
}

/*
 * The tables of the model database in the order the import writes them,
 * and which of them one operation writes in the same transactions: the
 * model row, its sequences and config (model-config); machines;
 * applications and their config; units; relations and their endpoints.
 */
static const char *const yaml_tables[] = {
	"model",        "sequences",          "model_config",
	"machines",     "applications",       "application_config",
	"units",        "relations",          "relation_endpoints",
};
static const int yaml_group[] = { 0, 0, 0, 1, 2, 2, 3, 4, 4 };
#define N_YAML_TABLES (sizeof(yaml_tables) / sizeof(yaml_tables[0]))

/* One table's rows as read back, and the INSERT that writes them. */
struct rows {
	char *sql;
	int ncol;
	sqlite3_value **v; /* nrows * ncol */
	size_t nrows;
};

static void
rows_free(struct rows *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncol; i++)
		sqlite3_value_free(t->v[i]);
	free(t->v);
	free(t->sql);
}

/* Read every row of @p table (in rowid order: the import's order). */
static int
rows_load(sqlite3 *db, const char *table, const char *cols, struct rows *t)
{
	char sel[256], *sql;
	sqlite3_stmt *st = NULL;
	size_t cap = 0, len;
	int rc;

	snprintf(sel, sizeof(sel), "SELECT %s FROM %s ORDER BY rowid",
		 cols ? cols : "*", table);
	if (sqlite3_prepare_v2(db, sel, -1, &st, NULL) != SQLITE_OK)
		return -1;
	t->ncol = sqlite3_column_count(st);
	len = strlen(table) + 64;
	for (int c = 0; c < t->ncol; c++)
		len += strlen(sqlite3_column_name(st, c)) + 4;
	sql = t->sql = malloc(len);
	if (!sql) {
		sqlite3_finalize(st);
		return -1;
	}
	sql += sprintf(sql, "INSERT INTO %s (", table);
	for (int c = 0; c < t->ncol; c++)
		sql += sprintf(sql, "%s%s", c ? ", " : "",
			       sqlite3_column_name(st, c));
	sql += sprintf(sql, ") VALUES (");
	for (int c = 0; c < t->ncol; c++)
		sql += sprintf(sql, "%s?", c ? ", " : "");
	sprintf(sql, ")");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t->nrows + 1) * (size_t)t->ncol > cap) {
			size_t ncap = cap ? 2 * cap : 1024;
			sqlite3_value **nv;

			while (ncap < (t->nrows + 1) * (size_t)t->ncol)
				ncap *= 2;
			nv = realloc(t->v, ncap * sizeof(*nv));
			if (!nv)
				break;
			t->v = nv;
			cap = ncap;
		}
		for (int c = 0; c < t->ncol; c++)
			t->v[t->nrows * (size_t)t->ncol + (size_t)c] =
				sqlite3_value_dup(sqlite3_column_value(st, c));
		t->nrows++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The model database's file name in @p dir ("<uuid>.db"), malloc'ed. */
static char *
find_model_db(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *name = NULL;

	while (d && !name && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 3 && strcmp(e->d_name + n - 3, ".db") == 0)
			name = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	return name;
}

/* Insert the rows of @p t, committing every IMPORT_BATCH_ROWS rows of the
 * transaction open on @p db (*in_txn counts them). */
static int
rows_insert(sqlite3 *db, const struct rows *t, size_t *in_txn)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db, t->sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < t->nrows && !rc; i++) {
		for (int c = 0; c < t->ncol; c++)
			sqlite3_bind_value(st, c + 1,
					   t->v[i * (size_t)t->ncol +
						(size_t)c]);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
		if (!rc && ++*in_txn == IMPORT_BATCH_ROWS) {
			*in_txn = 0;
			rc = floor_exec(db, "COMMIT") ||
			     floor_exec(db, "BEGIN");
		}
	}
	if (rc)
		fprintf(stderr, "mmig: bench: floor: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

/*
 * Write @p len bytes to a new file @p path and fdatasync it: what holding
 * the description durably costs at the least (the journal must, before op
 * 0 runs: rule 2), a plain file being the cheapest way to.  @return 0.
 */
static int
durable_write(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc;

	if (!f)
		return -1;
	rc = fwrite(buf, 1, len, f) == len && fflush(f) == 0 &&
			     fdatasync(fileno(f)) == 0
		     ? 0
		     : -1;
	return fclose(f) == 0 ? rc : -1;
}

/* In a child: load the reference import's rows, then time writing them
 * into fresh databases.  out[0] = ms; then out[1] = ms of writing the
 * document's bytes once, durably (durable_write()). */
static int
yaml_floor_child(void *arg, double *out)
{
	const struct import_job *job = arg;
	struct rows t[N_YAML_TABLES] = { 0 }, models = { 0 };
	char *rctrl = bench_path(job->ref_dir, "controller.db");
	char *rmdir = bench_path(job->ref_dir, "models");
	char *ctrl = bench_path(job->dir, "controller.db");
	char *mdir = bench_path(job->dir, "models");
	char *name = rmdir ? find_model_db(rmdir) : NULL;
	char *rmdb = NULL, *mdb = NULL, *doc = NULL, *copy = NULL;
	sqlite3 *db = NULL, *c = NULL, *m = NULL;
	size_t in_txn = 0, doc_len = 0;
	uint64_t t0;
	int rc = -1;

	if (!rctrl || !rmdir || !ctrl || !mdir || !name)
		goto out;
	rmdb = bench_path(rmdir, name);
	mdb = bench_path(mdir, name);
	if (!rmdb || !mdb || bench_mkdirs(mdir) != 0)
		goto out;
	if (sqlite3_open_v2(rctrl, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    rows_load(db, "models", NULL, &models) != 0 || models.nrows != 1)
		goto out;
	sqlite3_close_v2(db);
	db = NULL;
	if (sqlite3_open_v2(rmdb, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto out;
	for (size_t i = 0; i < N_YAML_TABLES; i++)
		if (rows_load(db, yaml_tables[i], NULL, &t[i]) != 0)
			goto out;
	if (bench_peak_rss_restart() != 0)
		goto out;

	t0 = bench_now_ns();
	if (floor_open(ctrl, &c) ||
	    floor_exec(c, mmig_import_schema("controller")) ||
	    floor_exec(c, "BEGIN") || rows_insert(c, &models, &in_txn) ||
	    floor_exec(c, "COMMIT") || floor_open(mdb, &m) ||
	    floor_exec(m, mmig_import_schema("model")))
		goto out;
	for (size_t i = 0; i < N_YAML_TABLES; i++) {
		bool first = i == 0 || yaml_group[i] != yaml_group[i - 1];
		bool last = i + 1 == N_YAML_TABLES ||
			    yaml_group[i] != yaml_group[i + 1];

		if (first) {
			in_txn = 0;
			if (floor_exec(m, "BEGIN"))
				goto out;
		}
		if (rows_insert(m, &t[i], &in_txn) ||
		    (last && floor_exec(m, "COMMIT")))
			goto out;
	}
	out[0] = (double)(bench_now_ns() - t0) / 1e6;
	sqlite3_close_v2(c);
	sqlite3_close_v2(m);
	c = m = NULL;
	/* The description, read before the clock starts. */
	doc = slurp(job->model_path, &doc_len);
	copy = bench_path(job->dir, "description.copy");
	if (!doc || !copy)
		goto out;
	t0 = bench_now_ns();
	if (durable_write(copy, doc, doc_len) != 0)
		goto out;
	out[1] = (double)(bench_now_ns() - t0) / 1e6;
	rc = 0;
out:
	free(doc);
	free(copy);
	sqlite3_close_v2(db);
	sqlite3_close_v2(c);
	sqlite3_close_v2(m);
	for (size_t i = 0; i < N_YAML_TABLES; i++)
		rows_free(&t[i]);
	rows_free(&models);
	free(rctrl);
	free(rmdir);
	free(ctrl);
	free(mdir);
	free(name);
	free(rmdb);
	free(mdb);
	return rc;
}

/* One YAML contestant on fresh databases. */
static int
yaml_contest(struct bench *b, enum contestant who, double *out, long *rss)
{
	const struct import_state *s = b->istate;
	struct import_job job = { .model_path = s->yaml_path, .who = who,
				  .ref_dir = s->ref_dir };
	int rc;

	job.dir = bench_path(b->dir, who == YAML_FLOOR	     ? "yaml-floor"
				     : who == IMPORT_BARE ? "yaml-bare"
							  : "yaml-import");
	if (!job.dir)
		return -1;
	bench_rmtree(job.dir);
	rc = bench_mkdirs(job.dir);
	if (rc == 0)
		rc = bench_child(who == YAML_FLOOR ? yaml_floor_child
						   : import_child,
				 &job, out, who == YAML_FLOOR ? 2 : 3, rss);
	bench_rmtree(job.dir);
	free(job.dir);
	return rc;
}

static void
yaml_run(struct bench *b, size_t r)
{
	const struct import_state *s = b->istate;
	struct bench_figure *f7 = bench_fig(b, 7);
	struct import_job pj = { .model_path = s->yaml_path,
				 .who = r % 2 ? IMPORT_JOURNALED : FLOOR };
	double pms[2] = { 0 }, jms[3] = { 0 }, fms[2] = { 0 }, bms[3] = { 0 };
	long jrss = 0, frss = 0, brss = 0;
	int rc;

	/* Which goes first rotates, run by run, as above.  The import
	 * without a journal tells the journal's share from the import's
	 * own (the rows, the verbatim YAML each row's extra holds). */
	rc = bench_child(parse_child, &pj, pms, 2, NULL);
	if (!rc && r % 3 == 0)
		rc = yaml_contest(b, YAML_FLOOR, fms, &frss) ||
		     yaml_contest(b, IMPORT_JOURNALED, jms, &jrss) ||
		     yaml_contest(b, IMPORT_BARE, bms, &brss);
	else if (!rc && r % 3 == 1)
		rc = yaml_contest(b, IMPORT_JOURNALED, jms, &jrss) ||
		     yaml_contest(b, IMPORT_BARE, bms, &brss) ||
		     yaml_contest(b, YAML_FLOOR, fms, &frss);
	else if (!rc)
		rc = yaml_contest(b, IMPORT_BARE, bms, &brss) ||
		     yaml_contest(b, YAML_FLOOR, fms, &frss) ||
		     yaml_contest(b, IMPORT_JOURNALED, jms, &jrss);
	if (rc) {
		bench_fail(f7, "the YAML parse, import or floor failed");
		return;
	}
	bench_put(&f7->extra[3], pms[0]);
	bench_put(&f7->extra[4], pms[1]);
	bench_put(&f7->extra[5], pms[0] / pms[1]);
	bench_put(&f7->extra[6], jms[0]);
	bench_put(&f7->extra[7], jms[0] / fms[0]);
	bench_put(&f7->extra[8], fms[0]);
	bench_put(&f7->extra[9], fms[1]);
	bench_put(&f7->extra[10], jms[0] / (fms[0] + fms[1]));
	bench_put(&f7->extra[11], (double)jrss);
	bench_put(&f7->extra[12], bms[0]);
	bench_put(&f7->extra[13], bms[0] / fms[0]);
}
