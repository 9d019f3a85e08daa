/*
 * domain/import.c - the reference import: seven operations that write a
 * parsed model description (domain/model.c) into the controller database
 * and the model's own database, their registration, and the scope they run
 * in.  The model database is deleted only by create-model's rollback, through
 * mmig_scope_delete_model(), and only when this migration made it.
 *
 * Every write goes through mmig_txn_run() with prepared statements and bound
 * parameters, so the journal's invariants (markers written in the same
 * transaction, fencing) apply to each of them.
 *
 * Invariants:
 *  - Every execute is idempotent: rows are upserts keyed by the
 *    description's own keys, so running an operation again after a crash at
 *    any point -- between batches, or after its last one -- leaves exactly
 *    the description, never a duplicate.
 *  - The batched operations commit at most `batch_rows` rows per
 *    transaction, then record a checkpoint (the index of the next item, 8
 *    bytes little-endian) so that resume skips what is committed.  The
 *    checkpoint is recorded only after its batch committed, so it never
 *    claims more than the database holds; a checkpoint lost in a power cut
 *    merely makes resume redo a batch, which the upserts make harmless.
 *  - Rollbacks decide from what is in the database, not from what this
 *    process remembers: recovery runs them in another process, on an
 *    operation that may never have run.
 */
#include "import-int.h"
#include "internal.h"
#include "juju-int.h"
#include "mmig/coordinator.h"
#include "mmig/import.h"
#include "mmig/registry.h"
#include "mmig/scope.h"
#include "scope-int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define BATCH_ROWS_DEFAULT 20000

/* ------------------------------------------------------------------------
 * Schemas
 * ------------------------------------------------------------------------ */

const char mmig__import_controller_schema[] =
	"CREATE TABLE IF NOT EXISTS models ("
	"uuid TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, "
	"owner TEXT NOT NULL, cloud TEXT NOT NULL, region TEXT, "
	"status TEXT NOT NULL)";

/*
 * Model database schema v2 (PRAGMA user_version 2): the columns of version
 * 1 stay, so a writer of version 1's rows still fits; the rest is new.
 * `extra` columns hold what an entity of a juju/description document has
 * beyond its columns, as YAML text (a mapping), NULL when nothing.
 *
 *   model               one row: identity, type, agent version, the format
 *                       and versions read, the model's other keys
 *   sequences           name -> next number the model would issue
 *   machines            + parent, container_type ("" for a top-level
 *                       machine, NULL when the document did not say),
 *                       series (model versions before machines v3),
 *                       containers (1 when the key was written), extra
 *   applications        + subordinate, settings (1 when written),
 *                       units_version, extra
 *   units               machine NULL (Kubernetes), principal, extra
 *   relations           endpoint_b '' for a peer relation; + id, key,
 *                       suspended, endpoints_version, extra
 *   relation_endpoints  relation id, position, application, name, role,
 *                       interface, scope, extra
 *
 * Config values are text with a kind: "string", "integer", "real", "bool";
 * from juju/description also "null" and "yaml" (a list or mapping, as YAML
 * text).
 */
const char mmig__import_model_schema[] =
	"CREATE TABLE IF NOT EXISTS model ("
	"uuid TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, "
	"owner TEXT NOT NULL, cloud TEXT NOT NULL, region TEXT, "
	"type TEXT NOT NULL, agent_version TEXT, format TEXT NOT NULL, "
	"version INTEGER NOT NULL, machines_version INTEGER, "
	"applications_version INTEGER, relations_version INTEGER, "
	"extra TEXT);"
	"CREATE TABLE IF NOT EXISTS model_config ("
	"key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, "
	"kind TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sequences ("
	"name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS machines ("
	"id TEXT PRIMARY KEY NOT NULL, base TEXT NOT NULL, constraints TEXT, "
	"parent TEXT, container_type TEXT, series TEXT, containers INTEGER, "
	"extra TEXT);"
	"CREATE TABLE IF NOT EXISTS applications ("
	"name TEXT PRIMARY KEY NOT NULL, charm TEXT NOT NULL, "
	"subordinate INTEGER, settings INTEGER, units_version INTEGER, "
	"extra TEXT);"
	"CREATE TABLE IF NOT EXISTS application_config ("
	"application TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
	"kind TEXT NOT NULL, PRIMARY KEY (application, key));"
	"CREATE TABLE IF NOT EXISTS units ("
	"name TEXT PRIMARY KEY NOT NULL, application TEXT NOT NULL, "
	"machine TEXT, principal TEXT, extra TEXT);"
	"CREATE TABLE IF NOT EXISTS relations ("
	"endpoint_a TEXT NOT NULL, endpoint_b TEXT NOT NULL DEFAULT '', "
	"id INTEGER UNIQUE, key TEXT UNIQUE, suspended INTEGER, "
	"endpoints_version INTEGER, extra TEXT, "
	"PRIMARY KEY (endpoint_a, endpoint_b));"
	"CREATE TABLE IF NOT EXISTS relation_endpoints ("
	"relation INTEGER NOT NULL, position INTEGER NOT NULL, "
	"application TEXT NOT NULL, name TEXT NOT NULL, role TEXT, "
	"interface TEXT, scope TEXT, extra TEXT, "
	"PRIMARY KEY (relation, position));"
	"PRAGMA user_version = 2";

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

/* ------------------------------------------------------------------------
 * Small SQLite helpers
 * ------------------------------------------------------------------------ */

static struct mmig_error *
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? NULL : mmig_error_sqlite(db, rc, "prepare");
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	/* The description outlives the statement, so no copy is needed. */
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Step a bound write statement to its end and reset it for the next row. */
static struct mmig_error *
step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? NULL : mmig_error_sqlite(db, rc, what);
}

/* Bind a buffer the statement then owns (freed with free()). */
static void
bind_owned(sqlite3_stmt *st, int i, char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, free);
	else
		sqlite3_bind_null(st, i);
}

/* Bind parameter @p i to an entity's extra as YAML text; NULL when it has
 * none.  @p src is that text as the reader copied it from the document
 * (mmig__ynode_src_text(): it lives as long as the model, and reads back
 * to @p map); without it @p map is emitted.
 * @return an error only when out of memory. */
static struct mmig_error *
bind_extra(sqlite3_stmt *st, int i, const struct mmig__ynode *map,
	   const char *src)
{
	char *text = NULL;
	size_t len;
	int rc;

	if (!map || map->n == 0) {
		sqlite3_bind_null(st, i);
		return NULL;
	}
	if (src) {
		sqlite3_bind_text(st, i, src, -1, SQLITE_STATIC);
		return NULL;
	}
	rc = mmig__yaml_emit_buf(map, 0, &text, &len);
	if (rc)
		return mmig_error_new(rc, "keep verbatim: %s",
				      mmig_strerror(rc));
	bind_owned(st, i, text);
	return NULL;
}

static const struct mmig__juju_model *
juju_of(const struct mmig_model_desc *d)
{
	return d->priv;
}

static void
bind_int_or_null(sqlite3_stmt *st, int i, bool present, int64_t v)
{
	if (present)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/*
 * @return true when table @p name exists.  Rollbacks ask first, because they
 * must succeed on a database their operation never touched.
 */
static struct mmig_error *
table_exists(sqlite3 *db, const char *name, bool *yes)
{
	sqlite3_stmt *st = NULL;
	struct mmig_error *err;
	int rc;

	*yes = false;
	err = prepare(db,
		      "SELECT 1 FROM sqlite_master WHERE type = 'table' "
		      "AND name = ?",
		      &st);
	if (err)
		return err;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*yes = true;
	else if (rc != SQLITE_DONE)
		err = mmig_error_sqlite(db, rc, "read schema");
	sqlite3_finalize(st);
	return err;
}

/* ------------------------------------------------------------------------
 * The operations' common state
 * ------------------------------------------------------------------------ */

struct batch;

/*
 * What a batched operation writes: its statements, how many items it has
 * and how to write item i.  @c put returns the number of rows it wrote (an
 * application counts its config rows), so a batch is bounded in rows.
 */
struct rows_kind {
	const char *sql[2];
	size_t (*total)(const struct mmig_model_desc *d);
	/* Position a cursor before item @p from (units walk applications). */
	void (*seek)(struct batch *b, size_t from);
	struct mmig_error *(*put)(struct batch *b, size_t i, size_t *rows);
};

struct import_op {
	const struct mmig_op_vtable *vt;
	const struct rows_kind *rows; /* NULL for create-model and activate */
	struct mmig_import_options opts;
	struct mmig_scope *scope;     /* bound by setup */
	struct mmig_txn_runner *db;   /* the database the op writes */
};

static void
report(const struct import_op *op, uint64_t done, uint64_t total)
{
	if (op->opts.progress)
		op->opts.progress(op->opts.progress_arg, op->vt->name, done,
				  total);
}

static struct mmig_error *
model_desc(const struct mmig_model *model, const struct mmig_model_desc **d)
{
	*d = model ? model->data : NULL;
	if (!*d)
		return mmig_error_new(MMIG_EINVAL,
				      "no model description (model->data is "
				      "NULL)");
	return NULL;
}

/* The model's uuid: the one the migration carries, else the description's. */
static const char *
model_uuid(const struct mmig_model *model)
{
	const struct mmig_model_desc *d = model ? model->data : NULL;

	if (model && model->uuid)
		return model->uuid;
	return d ? d->uuid : NULL;
}

static void
import_op_destroy(void *self)
{
	mmig__free(self);
}

/* ------------------------------------------------------------------------
 * create-model
 * ------------------------------------------------------------------------ */

struct controller_row {
	const struct mmig_model_desc *d;
	bool journaled; /* the scope writes markers (invariant E) */
};

/*
 * Insert the model's row, "importing".  A row already there is another
 * migration's -- a model imported before, or one being imported right now
 * -- and this import refuses to touch it.  With one exception, for the op
 * to be idempotent without a journal: an "importing" row left by an
 * earlier run of this very op.  With a journal that cannot be: once this
 * transaction committed, its marker makes a re-run skip it (invariant E),
 * so whatever row it meets is someone else's.
 */
static struct mmig_error *
create_controller_txn(sqlite3 *db, void *arg)
{
	const struct controller_row *row = arg;
	const struct mmig_model_desc *d = row->d;
	sqlite3_stmt *st = NULL;
	struct mmig_error *err = NULL;
	const unsigned char *status;
	bool ours = false;
	int rc;

	rc = sqlite3_exec(db, mmig__import_controller_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, "create controller schema");
	err = prepare(db, "SELECT status FROM models WHERE uuid = ?", &st);
	if (err)
		return err;
	bind_text(st, 1, d->uuid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		status = sqlite3_column_text(st, 0);
		ours = !row->journaled && status &&
		       strcmp((const char *)status, "importing") == 0;
		if (!ours)
			err = mmig_error_new(MMIG_EEXIST,
					     "model %s already exists "
					     "(status %s)",
					     d->uuid,
					     status ? (const char *)status
						    : "NULL");
	} else if (rc != SQLITE_DONE) {
		err = mmig_error_sqlite(db, rc, "read models");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (err)
		return err;
	err = prepare(db,
		      ours ? "UPDATE models SET name = ?2, owner = ?3, "
			     "cloud = ?4, region = ?5 "
			     "WHERE uuid = ?1 AND status = 'importing'"
			   : "INSERT INTO models (uuid, name, owner, cloud, "
			     "region, status) "
			     "VALUES (?1, ?2, ?3, ?4, ?5, 'importing')",
		      &st);
	if (err)
		return err;
	bind_text(st, 1, d->uuid);
	bind_text(st, 2, d->name);
	bind_text(st, 3, d->owner);
	bind_text(st, 4, d->cloud);
	bind_text(st, 5, d->region);
	err = step_done(db, st, "insert model");
	sqlite3_finalize(st);
	return err;
}

static struct mmig_error *
create_model_db_txn(sqlite3 *db, void *arg)
{
	int rc = sqlite3_exec(db, mmig__import_model_schema, NULL, NULL, NULL);

	(void)arg;
	return rc == SQLITE_OK ? NULL
			       : mmig_error_sqlite(db, rc,
						   "create model schema");
}

static struct mmig_error *
controller_setup(void *self, struct mmig_scope *scope)
{
	struct import_op *op = self;

	op->scope = scope;
	return mmig_scope_controller_db(scope, &op->db);
}

static struct mmig_error *controller_row_ours(struct import_op *op,
					      const char *uuid, bool *ours);

/*
 * Is there a model database at the scope's path that is not this
 * import's?  One with a table of its own (not our markers) belongs to
 * someone else unless this op made it: in a journaled migration, this
 * op's forward transaction in this migration (its marker) is there;
 * without a journal, the controller holds an "importing" row for the model
 * (create_controller_txn() takes such a row for its own, too).  An import
 * must never adopt another's database, or its rollback would delete it.
 * An empty file has nothing to lose.  Read-only, outside the scope, so
 * that nothing is created here.
 */
static struct mmig_error *
model_db_foreign(struct import_op *op, const char *uuid, bool *foreign)
{
	struct mmig_scope *scope = op->scope;
	const char *path = mmig_scope_model_path(scope);
	const struct mmig__txn_binding *b = &scope->binding;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct mmig_error *err = NULL;
	struct stat sb;
	bool tables = false, ours = false;
	int rc;

	*foreign = false;
	if (stat(path, &sb) != 0)
		return NULL;
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"SELECT 1 FROM sqlite_master WHERE "
					"type = 'table' AND name NOT LIKE "
					"'mmig\\_%' ESCAPE '\\'",
					-1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		tables = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (rc == SQLITE_OK && tables && !b->bound) {
		sqlite3_close_v2(db);
		db = NULL;
		err = controller_row_ours(op, uuid, &ours);
	} else if (rc == SQLITE_OK && tables) {
		bool markers = false;

		err = table_exists(db, "mmig_applied", &markers);
		if (!err && markers &&
		    (rc = sqlite3_prepare_v2(db,
					     "SELECT 1 FROM mmig_applied WHERE "
					     "migration = ? AND op = ? AND "
					     "kind = 'do'",
					     -1, &st, NULL)) == SQLITE_OK) {
			bind_text(st, 1, b->migration);
			sqlite3_bind_int64(st, 2, b->op);
			rc = sqlite3_step(st);
			ours = rc == SQLITE_ROW;
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				rc = SQLITE_OK;
			sqlite3_finalize(st);
		}
	}
	if (!err && rc != SQLITE_OK)
		err = mmig_error_sqlite(db, rc, "read");
	sqlite3_close_v2(db);
	if (err)
		return mmig_error_wrap(err, "model database %s", path);
	*foreign = tables && !ours;
	return NULL;
}

static struct mmig_error *
create_model_execute(void *self, struct mmig_ctx *ctx,
		     const struct mmig_model *model)
{
	struct import_op *op = self;
	struct controller_row row;
	struct mmig_txn_runner *mdb = NULL;
	struct mmig_error *err;
	bool foreign = false;

	err = model_desc(model, &row.d);
	if (err)
		return err;
	if (model->uuid && strcmp(model->uuid, row.d->uuid) != 0)
		return mmig_error_new(MMIG_EINVAL,
				      "model uuid %s is not its description's "
				      "(%s)",
				      model->uuid, row.d->uuid);
	row.journaled = mmig__scope_journaled(op->scope);
	report(op, 0, 1);
	/* Before anything is written: a model database that is someone
	 * else's is refused, and so never touched, nor deleted by our
	 * rollback (which deletes only after our controller row). */
	err = model_db_foreign(op, row.d->uuid, &foreign);
	if (!err && foreign)
		err = mmig_error_new(MMIG_EEXIST,
				     "model %s already exists: its database "
				     "%s is not this import's",
				     row.d->uuid,
				     mmig_scope_model_path(op->scope));
	if (err)
		return err;
	err = mmig_txn_run(op->db, ctx, create_controller_txn, &row);
	if (err)
		return err;
	/*
	 * The model database is opened -- and so created -- only now, once
	 * the controller row is ours: a refused duplicate never opens the
	 * existing model's database at all.  In a journaled migration its
	 * creation is fenced (scope.c): a stale owner cannot make it.
	 */
	err = mmig_scope_model_db(op->scope, &mdb);
	if (!err)
		err = mmig_txn_run(mdb, ctx, create_model_db_txn, NULL);
	if (!err)
		report(op, 1, 1);
	return err;
}

/* Arguments of the two controller rollbacks and of activate. */
struct status_change {
	const char *uuid;
	const char *sql;
	const char *what;
	bool must_change; /* fail when no row matched */
};

static struct mmig_error *
status_txn(sqlite3 *db, void *arg)
{
	const struct status_change *sc = arg;
	sqlite3_stmt *st = NULL;
	struct mmig_error *err;
	bool yes;

	err = table_exists(db, "models", &yes);
	if (err)
		return err;
	if (!yes)
		return sc->must_change
			       ? mmig_error_new(MMIG_ENOTFOUND,
						"%s: no models table",
						sc->what)
			       : NULL;
	err = prepare(db, sc->sql, &st);
	if (err)
		return err;
	bind_text(st, 1, sc->uuid);
	err = step_done(db, st, sc->what);
	sqlite3_finalize(st);
	if (!err && sc->must_change && sqlite3_changes(db) == 0)
		err = mmig_error_new(MMIG_ENOTFOUND,
				     "%s: model %s has no row being imported",
				     sc->what, sc->uuid);
	return err;
}

/*
 * Is the controller's row for @p uuid this import's?  Only an "importing"
 * row can be; in a journaled migration it must also be this op's (its
 * marker is in the controller database: another migration of the same
 * model may be importing it right now).  Without a journal an "importing"
 * row counts as ours, as in create_controller_txn().  A plain read
 * outside any transaction: only this migration changes its own row.
 */
static struct mmig_error *
controller_row_ours(struct import_op *op, const char *uuid, bool *ours)
{
	sqlite3 *db = mmig_txn_runner_db(op->db);
	sqlite3_stmt *st = NULL;
	struct mmig_error *err;
	bool yes = false;
	int rc;

	*ours = false;
	if (!db)
		return mmig_error_new(MMIG_EDB, "rollback: controller database "
						"is not open");
	err = table_exists(db, "models", &yes);
	if (err || !yes)
		return err;
	err = prepare(db,
		      "SELECT 1 FROM models WHERE uuid = ? "
		      "AND status = 'importing'",
		      &st);
	if (err)
		return err;
	bind_text(st, 1, uuid);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = mmig_error_sqlite(db, rc, "read models");
	yes = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	if (err || !yes)
		return err;
	if (!mmig__scope_journaled(op->scope)) {
		*ours = true;
		return NULL;
	}
	return mmig__scope_op_committed(op->scope, op->db, ours);
}

/*
 * The model database first, then the controller row, so that whether the
 * database is ours is decided from the row while it is still there: a
 * crash between the two finds the row again and deletes again (deleting
 * is idempotent); a crash after both finds no row and deletes nothing.
 * The deletion goes through mmig_scope_delete_model(), which fences it by
 * the owner epoch and has the coordinator journal MODEL_DELETED.
 */
static struct mmig_error *
create_model_rollback(void *self, struct mmig_ctx *ctx,
		      const struct mmig_model *model)
{
	struct import_op *op = self;
	struct status_change sc = {
		.uuid = model_uuid(model),
		/*
		 * Only an "importing" row can be this import's: when the
		 * model already existed (and create-model refused it), its
		 * row is active and stays.
		 */
		.sql = "DELETE FROM models WHERE uuid = ? "
		       "AND status = 'importing'",
		.what = "delete model",
	};
	struct mmig_error *err;
	bool ours = false;

	if (!sc.uuid)
		return mmig_error_new(MMIG_EINVAL, "rollback: no model uuid");
	err = controller_row_ours(op, sc.uuid, &ours);
	if (!err && ours)
		err = mmig_scope_delete_model(op->scope);
	if (err)
		return err;
	return mmig_txn_run(op->db, ctx, status_txn, &sc);
}

/* ------------------------------------------------------------------------
 * activate
 * ------------------------------------------------------------------------ */

static struct mmig_error *
activate_execute(void *self, struct mmig_ctx *ctx,
		 const struct mmig_model *model)
{
	struct import_op *op = self;
	struct status_change sc = {
		.uuid = model_uuid(model),
		/* "active" too, so that running it again is harmless. */
		.sql = "UPDATE models SET status = 'active' WHERE uuid = ? "
		       "AND status IN ('importing', 'active')",
		.what = "activate model",
		.must_change = true,
	};
	struct mmig_error *err;

	if (!sc.uuid)
		return mmig_error_new(MMIG_EINVAL, "no model uuid");
	report(op, 0, 1);
	err = mmig_txn_run(op->db, ctx, status_txn, &sc);
	if (!err)
		report(op, 1, 1);
	return err;
}

static struct mmig_error *
activate_rollback(void *self, struct mmig_ctx *ctx,
		  const struct mmig_model *model)
{
	struct import_op *op = self;
	struct status_change sc = {
		.uuid = model_uuid(model),
		/*
		 * activate runs only after create-model succeeded in this
		 * migration, and create-model refuses a model that is
		 * active, so an active row here is this import's own.  Back
		 * to "importing", create-model's rollback (next) deletes it.
		 */
		.sql = "UPDATE models SET status = 'importing' WHERE uuid = ? "
		       "AND status = 'active'",
		.what = "deactivate model",
	};

	if (!sc.uuid)
		return mmig_error_new(MMIG_EINVAL, "rollback: no model uuid");
	return mmig_txn_run(op->db, ctx, status_txn, &sc);
}

/* ------------------------------------------------------------------------
 * The batched operations
 * ------------------------------------------------------------------------ */

struct batch {
	const struct rows_kind *kind;
	const struct mmig_model_desc *d;
	sqlite3 *db;
	sqlite3_stmt *st[2];
	size_t from;      /* first item of the batch */
	size_t to;        /* one past its last item */
	size_t max_rows;
	size_t app, unit; /* the units' cursor */
};

static struct mmig_error *
batch_txn(sqlite3 *db, void *arg)
{
	struct batch *b = arg;
	const struct rows_kind *k = b->kind;
	size_t total = k->total(b->d), i;
	struct mmig_error *err = NULL;

	/* Everything is set up again on each try: a busy try starts over. */
	b->db = db;
	b->st[0] = b->st[1] = NULL;
	for (i = 0; i < MMIG_ARRAY_LEN(k->sql) && k->sql[i] && !err; i++)
		err = prepare(db, k->sql[i], &b->st[i]);
	if (!err && k->seek)
		k->seek(b, b->from);
	for (i = b->from; !err && i < b->to && i < total; i++) {
		size_t rows_put;

		err = k->put(b, i, &rows_put);
	}
	sqlite3_finalize(b->st[0]);
	sqlite3_finalize(b->st[1]);
	b->st[0] = b->st[1] = NULL;
	return err;
}

static void
le64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
le64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | in[i];
	return v;
}

/*
 * A batched op's checkpoint: the index of the next item, the batch size and
 * the op's total of items, 8 bytes each, little-endian.  The total is for
 * watchers (mmig-recover show shows "rows done of total"); resume reads
 * only the first two, and also takes the 16-byte checkpoints of earlier
 * builds, which had no total.
 */
#define CHECKPOINT_LEN 24
#define CHECKPOINT_LEN_OLD 16

static struct mmig_error *
checkpoint(struct mmig_ctx *ctx, size_t next, size_t batch, size_t total,
	   bool durable)
{
	uint8_t cp[CHECKPOINT_LEN];
	int rc;

	le64_put(cp, next);
	le64_put(cp + 8, batch);
	le64_put(cp + 16, total);
	rc = durable ? mmig_op_checkpoint_now(ctx, cp, sizeof(cp))
		     : mmig_op_checkpoint(ctx, cp, sizeof(cp));
	/* MMIG_EINVAL: not run by a coordinator (a direct call), so there is
	 * nowhere to record progress. */
	if (rc != MMIG_OK && rc != MMIG_EINVAL)
		return mmig_error_new(rc, "checkpoint at item %zu: %s", next,
				      mmig_strerror(rc));
	return NULL;
}

/* @return true when resuming: *start and *batch from the checkpoint. */
static bool
resume_point(struct mmig_ctx *ctx, size_t total, size_t *start, size_t *batch)
{
	const void *cp = NULL;
	size_t len = 0;

	if (!mmig_op_resume_point(ctx, &cp, &len) ||
	    (len != CHECKPOINT_LEN && len != CHECKPOINT_LEN_OLD) ||
	    le64_get(cp) > total || le64_get((const uint8_t *)cp + 8) == 0)
		return false;
	*start = (size_t)le64_get(cp);
	*batch = (size_t)le64_get((const uint8_t *)cp + 8);
	return true;
}

static struct mmig_error *
model_setup(void *self, struct mmig_scope *scope)
{
	struct import_op *op = self;

	op->scope = scope;
	return mmig_scope_model_db(scope, &op->db);
}

static const struct rows_kind config_rows;

static struct mmig_error *
batched_execute(void *self, struct mmig_ctx *ctx,
		const struct mmig_model *model)
{
	struct import_op *op = self;
	struct batch b = { .kind = op->rows };
	struct mmig_error *err;
	size_t total, start = 0;

	/* The model database's mode (0600 unless widened) is the scope's:
	 * it makes the file, its -wal and -shm with it. */
	err = model_desc(model, &b.d);
	if (err)
		return err;
	total = op->rows->total(b.d);
	b.max_rows = op->opts.batch_rows ? op->opts.batch_rows
					 : BATCH_ROWS_DEFAULT;
	/*
	 * Resume where the last checkpoint says, with the batch size it was
	 * made with: the batches after it must be the very ones the
	 * interrupted run would have made, transaction for transaction.  A
	 * fresh start with another batch size than the default (which is
	 * what a recovering process uses) records it before the first
	 * transaction, so that a resume from before any batch makes the same
	 * batches too.
	 */
	if (!resume_point(ctx, total, &start, &b.max_rows) &&
	    b.max_rows != BATCH_ROWS_DEFAULT) {
		err = checkpoint(ctx, 0, b.max_rows, total, true);
		if (err)
			return err;
	}
	report(op, start, total);
	for (b.from = start; b.from < total; b.from = b.to) {
		/*
		 * The batch's bounds are fixed here, not by the transaction:
		 * a transaction that committed before a crash is skipped when
		 * this op runs again (its callback does not run), and the op
		 * must still know where the next batch starts.
		 */
		b.to = total - b.from > b.max_rows ? b.from + b.max_rows : total;
		err = mmig_txn_run(op->db, ctx, batch_txn, &b);
		if (!err)
			err = checkpoint(ctx, b.to, b.max_rows, total, false);
		if (err)
			return err;
		report(op, b.to, total);
	}
	return NULL;
}

/* model-config: item 0 is the model row and its sequences, then one item
 * per config key. */

static size_t
config_total(const struct mmig_model_desc *d)
{
	return 1 + d->n_config;
}

static struct mmig_error *
model_row_put(struct batch *b, size_t *rows)
{
	const struct mmig_model_desc *d = b->d;
	const struct mmig__juju_model *j = juju_of(d);
	sqlite3_stmt *st = b->st[1];
	struct mmig_error *err = NULL;
	size_t i;

	bind_text(st, 1, d->uuid);
	bind_text(st, 2, d->name);
	bind_text(st, 3, d->owner);
	bind_text(st, 4, d->cloud);
	bind_text(st, 5, j && !j->has_region ? NULL : d->region);
	bind_text(st, 6, d->type);
	bind_text(st, 7, d->agent_version);
	bind_text(st, 8, d->format);
	sqlite3_bind_int(st, 9, j ? j->version : MMIG_MODEL_DESC_VERSION);
	bind_int_or_null(st, 10, j, j ? j->machines_version : 0);
	bind_int_or_null(st, 11, j, j ? j->applications_version : 0);
	bind_int_or_null(st, 12, j, j ? j->relations_version : 0);
	if (j && (err = bind_extra(st, 13, j->extra, j->extra_src)))
		return err;
	err = step_done(b->db, st, "insert model");
	*rows = 1;
	if (err || !j)
		return err;
	/* Sequences: few, so in this item's statement set. */
	if ((err = prepare(b->db,
			   "INSERT INTO sequences (name, value) VALUES (?1, ?2) "
			   "ON CONFLICT (name) DO UPDATE SET value = "
			   "excluded.value",
			   &st)))
		return err;
	for (i = 0; i < j->n_sequences && !err; i++) {
		bind_text(st, 1, j->sequences[i].name);
		sqlite3_bind_int64(st, 2, j->sequences[i].value);
		err = step_done(b->db, st, "insert sequence");
	}
	sqlite3_finalize(st);
	*rows += j->n_sequences;
	return err;
}

/* A juju config value's kind: "null" and "yaml" besides the four. */
static const char *
juju_kind(const struct mmig__ynode *n, enum mmig_model_desc_kind k)
{
	if (n->kind == MMIG__Y_NULL)
		return "null";
	if (n->kind == MMIG__Y_SEQ || n->kind == MMIG__Y_MAP)
		return "yaml";
	return kind_name(k);
}

/* The @p i-th member of mapping @p map. */
static const struct mmig__ynode *
nth_member(const struct mmig__ynode *map, size_t i)
{
	const struct mmig__ynode *c = map ? map->first : NULL;

	while (c && i--)
		c = c->next;
	return c;
}

static struct mmig_error *
config_put(struct batch *b, size_t i, size_t *rows)
{
	const struct mmig_model_desc_kv *kv;
	const struct mmig__juju_model *j = juju_of(b->d);
	sqlite3_stmt *st = b->st[0];

	if (i == 0)
		return model_row_put(b, rows);
	kv = &b->d->config[i - 1];
	bind_text(st, 1, kv->key);
	bind_text(st, 2, kv->value);
	bind_text(st, 3, j ? juju_kind(nth_member(j->config, i - 1), kv->kind)
			   : kind_name(kv->kind));
	*rows = 1;
	return mmig_error_wrap(step_done(b->db, st, "insert"),
			       "model config %s", kv->key);
}

static const struct rows_kind config_rows = {
	.sql = { "INSERT INTO model_config (key, value, kind) "
		 "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
		 "value = excluded.value, kind = excluded.kind",
		 "INSERT INTO model (uuid, name, owner, cloud, region, type, "
		 "agent_version, format, version, machines_version, "
		 "applications_version, relations_version, extra) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
		 "ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, "
		 "owner = excluded.owner, cloud = excluded.cloud, "
		 "region = excluded.region, type = excluded.type, "
		 "agent_version = excluded.agent_version, "
		 "format = excluded.format, version = excluded.version, "
		 "machines_version = excluded.machines_version, "
		 "applications_version = excluded.applications_version, "
		 "relations_version = excluded.relations_version, "
		 "extra = excluded.extra" },
	.total = config_total,
	.put = config_put,
};

/* machines */

static size_t
machines_total(const struct mmig_model_desc *d)
{
	return d->n_machines;
}

static struct mmig_error *
machines_put(struct batch *b, size_t i, size_t *rows)
{
	const struct mmig_model_desc_machine *m = &b->d->machines[i];
	const struct mmig__juju_model *j = juju_of(b->d);
	sqlite3_stmt *st = b->st[0];
	struct mmig_error *err;

	bind_text(st, 1, m->id);
	bind_text(st, 2, m->base);
	bind_text(st, 3, m->constraints);
	if (j) {
		const struct mmig__juju_machine *jm = &j->machines[i];

		bind_text(st, 2, jm->base);
		bind_text(st, 4, jm->parent);
		bind_text(st, 5, jm->has_container_type ? jm->container_type
							: NULL);
		bind_text(st, 6, jm->series);
		sqlite3_bind_int(st, 7, jm->has_containers);
		if ((err = bind_extra(st, 8, jm->extra, jm->extra_src))) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return err;
		}
	}
	*rows = 1;
	return mmig_error_wrap(step_done(b->db, st, "insert"), "machine %s",
			       m->id);
}

static const struct rows_kind machines_rows = {
	.sql = { "INSERT INTO machines (id, base, constraints, parent, "
		 "container_type, series, containers, extra) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		 "ON CONFLICT (id) DO UPDATE SET "
		 "base = excluded.base, constraints = excluded.constraints, "
		 "parent = excluded.parent, "
		 "container_type = excluded.container_type, "
		 "series = excluded.series, containers = excluded.containers, "
		 "extra = excluded.extra" },
	.total = machines_total,
	.put = machines_put,
};

/* applications, with their config */

static size_t
apps_total(const struct mmig_model_desc *d)
{
	return d->n_apps;
}

static struct mmig_error *
apps_put(struct batch *b, size_t i, size_t *rows)
{
	const struct mmig_model_desc_app *a = &b->d->apps[i];
	const struct mmig__juju_model *j = juju_of(b->d);
	const struct mmig__juju_app *ja = j ? &j->apps[i] : NULL;
	struct mmig_error *err;
	size_t k;

	bind_text(b->st[0], 1, a->name);
	bind_text(b->st[0], 2, a->charm);
	if (ja) {
		bind_int_or_null(b->st[0], 3, ja->has_subordinate,
				 ja->subordinate);
		sqlite3_bind_int(b->st[0], 4, ja->settings != NULL);
		sqlite3_bind_int(b->st[0], 5, ja->units_version);
		if ((err = bind_extra(b->st[0], 6, ja->extra,
				      ja->extra_src))) {
			sqlite3_reset(b->st[0]);
			sqlite3_clear_bindings(b->st[0]);
			return err;
		}
	}
	err = step_done(b->db, b->st[0], "insert");
	for (k = 0; k < a->n_config && !err; k++) {
		bind_text(b->st[1], 1, a->name);
		bind_text(b->st[1], 2, a->config[k].key);
		bind_text(b->st[1], 3, a->config[k].value);
		bind_text(b->st[1], 4,
			  ja ? juju_kind(nth_member(ja->settings, k),
					 a->config[k].kind)
			     : kind_name(a->config[k].kind));
		err = step_done(b->db, b->st[1], "insert config");
	}
	*rows = 1 + a->n_config;
	return mmig_error_wrap(err, "application %s", a->name);
}

static const struct rows_kind apps_rows = {
	.sql = { "INSERT INTO applications (name, charm, subordinate, "
		 "settings, units_version, extra) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
		 "ON CONFLICT (name) DO UPDATE SET charm = excluded.charm, "
		 "subordinate = excluded.subordinate, "
		 "settings = excluded.settings, "
		 "units_version = excluded.units_version, "
		 "extra = excluded.extra",
		 "INSERT INTO application_config (application, key, value, "
		 "kind) VALUES (?1, ?2, ?3, ?4) "
		 "ON CONFLICT (application, key) DO UPDATE SET "
		 "value = excluded.value, kind = excluded.kind" },
	.total = apps_total,
	.put = apps_put,
};

/* units: one index over every application's units, in order */

static size_t
units_total(const struct mmig_model_desc *d)
{
	return d->n_units_total;
}

static void
units_seek(struct batch *b, size_t from)
{
	size_t a = 0;

	while (a < b->d->n_apps && from >= b->d->apps[a].n_units) {
		from -= b->d->apps[a].n_units;
		a++;
	}
	b->app = a;
	b->unit = from;
}

static struct mmig_error *
units_put(struct batch *b, size_t i, size_t *rows)
{
	const struct mmig_model_desc_app *a;
	const struct mmig_model_desc_unit *u;
	sqlite3_stmt *st = b->st[0];

	(void)i; /* the cursor, positioned by units_seek(), is item i */
	while (b->unit >= b->d->apps[b->app].n_units) {
		b->app++;
		b->unit = 0;
	}
	a = &b->d->apps[b->app];
	u = &a->units[b->unit];
	bind_text(st, 1, u->name);
	bind_text(st, 2, a->name);
	bind_text(st, 3, u->machine);
	if (juju_of(b->d)) {
		const struct mmig__juju_unit *ju =
			&juju_of(b->d)->apps[b->app].units[b->unit];
		struct mmig_error *err;

		bind_text(st, 4, ju->principal);
		if ((err = bind_extra(st, 5, ju->extra, ju->extra_src))) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return err;
		}
	}
	b->unit++;
	*rows = 1;
	return mmig_error_wrap(step_done(b->db, st, "insert"), "unit %s",
			       u->name);
}

static const struct rows_kind units_rows = {
	.sql = { "INSERT INTO units (name, application, machine, principal, "
		 "extra) VALUES (?1, ?2, ?3, ?4, ?5) "
		 "ON CONFLICT (name) DO UPDATE SET "
		 "application = excluded.application, "
		 "machine = excluded.machine, principal = excluded.principal, "
		 "extra = excluded.extra" },
	.total = units_total,
	.seek = units_seek,
	.put = units_put,
};

/* relations */

static size_t
relations_total(const struct mmig_model_desc *d)
{
	return d->n_relations;
}

/* "a:x b:y", the key our JSON's relations get (Juju's own form). */
static char *
json_relation_key(const struct mmig_model_desc_relation *r)
{
	return mmig__asprintf("%s %s", r->ep[0].spec, r->ep[1].spec);
}

static struct mmig_error *
relations_put(struct batch *b, size_t i, size_t *rows)
{
	const struct mmig_model_desc_relation *r = &b->d->relations[i];
	const struct mmig__juju_model *j = juju_of(b->d);
	const struct mmig__juju_relation *jr = j ? &j->relations[i] : NULL;
	sqlite3_stmt *st = b->st[0];
	struct mmig_error *err = NULL;
	char *key = NULL;
	int64_t id = jr ? jr->id : (int64_t)i;
	size_t k, n = jr ? jr->n_endpoints : 2;

	bind_text(st, 1, r->ep[0].spec);
	bind_text(st, 2, r->ep[1].spec ? r->ep[1].spec : "");
	sqlite3_bind_int64(st, 3, id);
	if (jr) {
		bind_text(st, 4, jr->key);
		bind_int_or_null(st, 5, jr->has_suspended, jr->suspended);
		sqlite3_bind_int(st, 6, jr->endpoints_version);
		err = bind_extra(st, 7, jr->extra, jr->extra_src);
	} else {
		if (!(key = json_relation_key(r)))
			err = mmig_error_new(MMIG_ENOMEM, "relation key");
		bind_text(st, 4, key);
	}
	if (!err)
		err = step_done(b->db, st, "insert");
	else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	mmig__free(key);
	st = b->st[1];
	for (k = 0; k < n && !err; k++) {
		const struct mmig__juju_endpoint *e = jr ? &jr->ep[k] : NULL;

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)k);
		bind_text(st, 3, e ? e->app : r->ep[k].app);
		bind_text(st, 4, e ? e->name : r->ep[k].name);
		if (e) {
			bind_text(st, 5, e->role);
			bind_text(st, 6, e->interface);
			bind_text(st, 7, e->scope);
			if ((err = bind_extra(st, 8, e->extra, e->extra_src)))
				break;
		}
		err = step_done(b->db, st, "insert endpoint");
	}
	*rows = 1 + n;
	return mmig_error_wrap(err, "relation %s %s", r->ep[0].spec,
			       r->ep[1].spec ? r->ep[1].spec : "");
}

static const struct rows_kind relations_rows = {
	.sql = { "INSERT INTO relations (endpoint_a, endpoint_b, id, key, "
		 "suspended, endpoints_version, extra) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
		 "ON CONFLICT (endpoint_a, endpoint_b) DO UPDATE SET "
		 "id = excluded.id, key = excluded.key, "
		 "suspended = excluded.suspended, "
		 "endpoints_version = excluded.endpoints_version, "
		 "extra = excluded.extra",
		 "INSERT INTO relation_endpoints (relation, position, "
		 "application, name, role, interface, scope, extra) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		 "ON CONFLICT (relation, position) DO UPDATE SET "
		 "application = excluded.application, name = excluded.name, "
		 "role = excluded.role, interface = excluded.interface, "
		 "scope = excluded.scope, extra = excluded.extra" },
	.total = relations_total,
	.put = relations_put,
};

/* ------------------------------------------------------------------------
 * The vtables, the plan, registration
 * ------------------------------------------------------------------------ */

#define BATCHED_FLAGS (MMIG_OP_IDEMPOTENT | MMIG_OP_RESUMABLE)

static const struct mmig_op_vtable create_model_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "create-model",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = controller_setup,
	.execute = create_model_execute,
	.rollback = create_model_rollback,
	.destroy = import_op_destroy,
};

/* The model database operations have no rollback: create-model's removes
 * the whole database, which this import made. */
static const struct mmig_op_vtable config_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "model-config",
	.version = 2,
	.flags = BATCHED_FLAGS,
	.setup = model_setup,
	.execute = batched_execute,
	.destroy = import_op_destroy,
};

static const struct mmig_op_vtable machines_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "machines",
	.version = 2,
	.flags = BATCHED_FLAGS,
	.setup = model_setup,
	.execute = batched_execute,
	.destroy = import_op_destroy,
};

static const struct mmig_op_vtable apps_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "applications",
	.version = 2,
	.flags = BATCHED_FLAGS,
	.setup = model_setup,
	.execute = batched_execute,
	.destroy = import_op_destroy,
};

static const struct mmig_op_vtable units_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "units",
	.version = 2,
	.flags = BATCHED_FLAGS,
	.setup = model_setup,
	.execute = batched_execute,
	.destroy = import_op_destroy,
};

static const struct mmig_op_vtable relations_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "relations",
	.version = 2,
	.flags = BATCHED_FLAGS,
	.setup = model_setup,
	.execute = batched_execute,
	.destroy = import_op_destroy,
};

static const struct mmig_op_vtable activate_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "activate",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = controller_setup,
	.execute = activate_execute,
	.rollback = activate_rollback,
	.destroy = import_op_destroy,
};

struct plan_entry {
	const struct mmig_op_vtable *vt;
	const struct rows_kind *rows;
};

static const struct plan_entry plan[] = {
	{ &create_model_vt, NULL },
	{ &config_vt, &config_rows },
	{ &machines_vt, &machines_rows },
	{ &apps_vt, &apps_rows },
	{ &units_vt, &units_rows },
	{ &relations_vt, &relations_rows },
	{ &activate_vt, NULL },
};

static struct import_op *
import_op_new(const struct plan_entry *e, const struct mmig_import_options *o)
{
	struct import_op *op = mmig__calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->vt = e->vt;
	op->rows = e->rows;
	if (o)
		op->opts = *o;
	return op;
}

/* The registry's constructor: @p arg is the plan entry. */
static struct mmig_error *
import_op_ctor(void *arg, void **self)
{
	*self = import_op_new(arg, NULL);
	return *self ? NULL
		     : mmig_error_new(MMIG_ENOMEM, "import operation: %s",
				      mmig_strerror(MMIG_ENOMEM));
}

static struct mmig_error *
model_load(void *arg, const void *desc, size_t len, void **data)
{
	struct mmig_model_desc *d = NULL;
	struct mmig_error *err = NULL;
	char *msg = NULL;
	int rc;

	(void)arg;
	rc = mmig_model_desc_parse(desc, len, &d, &msg);
	if (rc != MMIG_OK)
		err = mmig_error_new(rc, "model description: %s",
				     msg ? msg : mmig_strerror(rc));
	mmig_model_desc_errmsg_free(msg);
	*data = d;
	return err;
}

static void
model_unload(void *arg, void *data)
{
	(void)arg;
	mmig_model_desc_free(data);
}

int
mmig_import_register(struct mmig_registry *r)
{
	int rc = MMIG_OK;

	if (!r)
		return MMIG_EINVAL;
	for (size_t i = 0; i < MMIG_ARRAY_LEN(plan) && rc == MMIG_OK; i++)
		rc = mmig_registry_add(r, plan[i].vt, import_op_ctor,
				       (void *)&plan[i]);
	if (rc == MMIG_OK)
		mmig_registry_set_model_loader(r, model_load, model_unload,
					       NULL);
	return rc;
}

int
mmig_import_add_ops_opts(struct mmig_coordinator *c,
			 const struct mmig_import_options *opts)
{
	struct mmig_import_options copy = MMIG_IMPORT_OPTIONS_INIT;
	int rc = MMIG_OK;

	if (!c)
		return MMIG_EINVAL;
	/* Read the caller's layout into ours (see "ABI" in mmig/common.h). */
	if (opts && mmig__sized_in(&copy, sizeof(copy), opts,
				   MMIG__END(struct mmig_import_options,
					     batch_rows)) != MMIG_OK)
		return MMIG_EINVAL;
	for (size_t i = 0; i < MMIG_ARRAY_LEN(plan) && rc == MMIG_OK; i++) {
		struct import_op *op = import_op_new(&plan[i], &copy);

		if (!op)
			return MMIG_ENOMEM;
		rc = mmig_coordinator_add(c, plan[i].vt, op);
		if (rc != MMIG_OK)
			import_op_destroy(op);
	}
	return rc;
}

int
mmig_import_add_ops(struct mmig_coordinator *c)
{
	return mmig_import_add_ops_opts(c, NULL);
}

/* ------------------------------------------------------------------------
 * The scope and its model deleter
 * ------------------------------------------------------------------------ */

/*
 * The import's model deleter: mmig_model_db_remove(), for a path named
 * "<uuid>.db" only -- a last guard against removing a file that is no
 * model database.  Whether the database is this import's is decided by
 * create-model's rollback, the only caller (through
 * mmig_scope_delete_model()), before it asks.
 */
static struct mmig_error *
import_delete_model(void *arg, const char *path)
{
	const char *base, *uuid_end;
	char uuid[37];
	struct mmig_error *err;

	(void)arg;
	if (!path)
		return mmig_error_new(MMIG_EINVAL,
				      "delete model database: no path");
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	uuid_end = strstr(base, ".db");
	if (!uuid_end || uuid_end - base != 36 || strcmp(uuid_end, ".db") != 0)
		return mmig_error_new(MMIG_EINVAL,
				      "delete model database %s: not named "
				      "<uuid>.db",
				      path);
	memcpy(uuid, base, 36);
	uuid[36] = '\0';
	if (!mmig_uuid_valid(uuid))
		return mmig_error_new(MMIG_EINVAL,
				      "delete model database %s: not named "
				      "<uuid>.db",
				      path);
	err = mmig_model_db_remove(NULL, path);
	if (err)
		err = mmig_error_wrap(err, "delete model database %s", path);
	return err;
}

/* mkdir -p: make @p dir and its missing parents, each 0700 whatever the
 * umask (the model databases hold config and credentials); directories
 * that exist are left as they are. */
static int
make_dirs(const char *dir)
{
	char *copy = mmig__strdup(dir);
	int rc = MMIG_OK;
	char *p;

	if (!copy)
		return MMIG_ENOMEM;
	for (p = copy + 1; rc == MMIG_OK; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(copy, MMIG__DIR_MODE) == 0) {
			if (chmod(copy, MMIG__DIR_MODE) != 0)
				rc = -errno;
		} else if (errno != EEXIST) {
			rc = -errno;
		}
		if (last)
			break;
		*p = '/';
	}
	mmig__free(copy);
	return rc;
}

const char *
mmig_import_schema(const char *db)
{
	if (db && strcmp(db, "controller") == 0)
		return mmig__import_controller_schema;
	if (db && strcmp(db, "model") == 0)
		return mmig__import_model_schema;
	return NULL;
}

int
mmig_import_scope_for_model(void *arg, const char *model_uuid,
			    enum mmig_durability d, struct mmig_scope **out)
{
	const struct mmig_import_paths *p = arg;
	struct mmig_scope_config cfg = MMIG_SCOPE_CONFIG_INIT;
	char *model_db;
	int rc;

	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	/* The uuid becomes part of a path: only the canonical form. */
	if (!p || !p->controller_db || !*p->controller_db || !p->model_dir ||
	    !*p->model_dir || !mmig_uuid_valid(model_uuid))
		return MMIG_EINVAL;
	rc = make_dirs(p->model_dir);
	if (rc != MMIG_OK)
		return rc;
	model_db = mmig__asprintf("%s/%s.db", p->model_dir, model_uuid);
	if (!model_db)
		return MMIG_ENOMEM;
	cfg.controller_db = p->controller_db;
	cfg.model_db = model_db;
	cfg.durability = d;
	cfg.delete_model = import_delete_model;
	cfg.delete_arg = (void *)p;
	rc = mmig_scope_new(out, &cfg);
	mmig__free(model_db);
	return rc;
}

int
mmig_import_controller_init(const char *controller_db,
			    struct mmig_error **errp)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			  SQLITE_OPEN_NOMUTEX;
	struct mmig_error *err = NULL;
	sqlite3 *db = NULL;
	int rc;

	if (errp)
		*errp = NULL;
	if (!controller_db || !*controller_db)
		return MMIG_EINVAL;
	/* Owner-only, as a scope creates it (scope-int.h). */
	rc = mmig__db_file_create(controller_db, MMIG__DB_FILE_MODE);
	if (rc != MMIG_OK) {
		err = mmig_error_new(rc, "controller database %s: create: %s",
				     controller_db, mmig_strerror(rc));
		goto out;
	}
	rc = sqlite3_open_v2(controller_db, &db, flags, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		/* WAL like every connection of a scope, so the file is in the
		 * mode the migrations will find it in. */
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
				  NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, mmig__import_controller_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		err = mmig_error_wrap(mmig_error_sqlite(db, rc, "create schema"),
				      "controller database %s", controller_db);
	sqlite3_close_v2(db);
out:
	rc = mmig_error_code(err);
	if (errp)
		*errp = err;
	else
		mmig_error_free(err);
	return rc;
}
