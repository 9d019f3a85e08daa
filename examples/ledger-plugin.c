/*
 * examples/ledger-plugin.c - a plug-in: operations of one's own that
 * mmig-recover can recover (docs/plugins.md walks through it).
 *
 * A "ledger" is a row in the controller database's `ledgers` table and a
 * model database holding LEDGER_ROWS entries.  Three operations make one:
 *
 *   ledger-create  the controller row (status 'new') and the model
 *                  database with its `entries` table;
 *   ledger-fill    LEDGER_ROWS entries, LEDGER_BATCH per transaction, a
 *                  checkpoint after each batch (idempotent and resumable);
 *   ledger-open    the controller row's status becomes 'open'.
 *
 * Built as a shared object exporting mmig_plugin_register(), the one symbol
 * libmmig looks for.  mmig-recover loads it with --plugin; the program that
 * runs the migrations (examples/ledger-run.c) loads the very same file, so
 * both processes have the same operations at the same versions.
 *
 * What makes the operations recoverable:
 *  - setup only remembers the scope: recovery calls it again, in another
 *    process, before a rollback, so it must have no side effects (not even
 *    opening the model database, which would create the file);
 *  - every write goes through mmig_txn_run(), so each transaction commits
 *    with its marker and a re-run skips what committed (invariant E);
 *  - every rollback is safe on an operation that never ran: recovery rolls
 *    back one operation beyond the last one recorded as begun, and a table
 *    or a file may not exist yet;
 *  - the batches do not depend on anything computed inside a transaction,
 *    so a resumed run makes the same transactions in the same order.
 */
#include <mmig/mmig.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEDGER_ROWS 2000
#define LEDGER_BATCH 100

/* One instance of an operation: what setup handed it. */
struct ledger_op {
	struct mmig_scope *scope;
};

/* ---- SQL helpers ------------------------------------------------------- */

/* Run one statement, with the model's uuid bound to ?1 if it has one. */
static struct mmig_error *
exec1(sqlite3 *db, const char *sql, const char *uuid)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, sql);
	if (uuid && sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW
		       ? NULL
		       : mmig_error_sqlite(db, rc, sql);
}

static int
table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT 1 FROM sqlite_master WHERE "
			       "type = 'table' AND name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* ---- shared setup and destroy ------------------------------------------ */

static struct mmig_error *
ledger_setup(void *self, struct mmig_scope *scope)
{
	struct ledger_op *op = self;

	op->scope = scope; /* nothing opened, nothing created */
	return NULL;
}

static void
ledger_destroy(void *self)
{
	free(self);
}

/* The registry's constructor: a fresh instance for each migration. */
static struct mmig_error *
ledger_new(void *arg, void **self)
{
	struct ledger_op *op = calloc(1, sizeof(*op));

	(void)arg;
	if (!op)
		return mmig_error_new(MMIG_ENOMEM, "ledger: out of memory");
	*self = op;
	return NULL;
}

/* ---- ledger-create ------------------------------------------------------ */

static struct mmig_error *
create_row(sqlite3 *db, void *uuid)
{
	struct mmig_error *err;

	err = exec1(db,
		    "CREATE TABLE IF NOT EXISTS ledgers ("
		    "uuid TEXT PRIMARY KEY, status TEXT NOT NULL)",
		    NULL);
	if (!err)
		err = exec1(db,
			    "INSERT OR IGNORE INTO ledgers VALUES (?1, 'new')",
			    uuid);
	return err;
}

static struct mmig_error *
create_table(sqlite3 *db, void *arg)
{
	(void)arg;
	return exec1(db,
		     "CREATE TABLE IF NOT EXISTS entries ("
		     "n INTEGER PRIMARY KEY, amount INTEGER NOT NULL)",
		     NULL);
}

static struct mmig_error *
create_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *c, *md;
	struct mmig_error *err;

	err = mmig_scope_controller_db(op->scope, &c);
	if (!err)
		err = mmig_txn_run(c, ctx, create_row, (void *)m->uuid);
	/* The model database is opened, and so created, only now. */
	if (!err)
		err = mmig_scope_model_db(op->scope, &md);
	if (!err)
		err = mmig_txn_run(md, ctx, create_table, NULL);
	return err;
}

static struct mmig_error *
delete_row(sqlite3 *db, void *uuid)
{
	if (!table_exists(db, "ledgers"))
		return NULL; /* never ran */
	return exec1(db, "DELETE FROM ledgers WHERE uuid = ?1", uuid);
}

/* Is the ledger's controller row there, still 'new' (made by ledger-create,
 * not yet opened)?  A plain read outside any transaction. */
static int
row_is_new(sqlite3 *db, const char *uuid)
{
	sqlite3_stmt *st;
	int yes = 0;

	if (!db || !table_exists(db, "ledgers") ||
	    sqlite3_prepare_v2(db,
			       "SELECT 1 FROM ledgers WHERE uuid = ?1 AND "
			       "status = 'new'",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/*
 * As in the origin, the op that made the model database deletes it in its
 * own rollback, through the scope (fenced, and journaled as MODEL_DELETED);
 * the coordinator and recovery never do.  It goes first, while the 'new'
 * row still says the database is this op's: a crash between the two steps
 * finds the row again and deletes again (a no-op), and a ledger that was
 * there before this migration (another status) keeps its database.
 */
static struct mmig_error *
create_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *c;
	struct mmig_error *err;

	err = mmig_scope_controller_db(op->scope, &c);
	if (!err && row_is_new(mmig_txn_runner_db(c), m->uuid))
		err = mmig_scope_delete_model(op->scope);
	if (!err)
		err = mmig_txn_run(c, ctx, delete_row, (void *)m->uuid);
	return err;
}

static const struct mmig_op_vtable create_vt = {
	.name = "ledger-create",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = ledger_setup,
	.execute = create_execute,
	.rollback = create_rollback,
	.destroy = ledger_destroy,
};

/* ---- ledger-fill -------------------------------------------------------- */

struct batch {
	uint64_t from, to;
};

static struct mmig_error *
fill_batch(sqlite3 *db, void *arg)
{
	const struct batch *b = arg;
	struct mmig_error *err = NULL;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"INSERT OR IGNORE INTO entries VALUES "
				"(?1, ?2)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, "insert entries");
	for (uint64_t n = b->from; n < b->to && !err; n++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)(n * 7 % 1000));
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			err = mmig_error_sqlite(db, rc, "insert entries");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return err;
}

/* The checkpoint: the next entry to write, 8 bytes little-endian (a
 * fixed byte order, since the journal may be read on another machine). */
static void
put_u64(uint8_t b[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t b[8])
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static struct mmig_error *
fill_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *md;
	struct mmig_error *err;
	const void *cp;
	size_t cp_len;
	uint64_t next = 0;
	uint8_t buf[8];
	int rc;

	(void)m;
	/* Resumed: go on from the last checkpoint, before any transaction. */
	if (mmig_op_resume_point(ctx, &cp, &cp_len) && cp_len == 8)
		next = get_u64(cp);
	err = mmig_scope_model_db(op->scope, &md);
	while (!err && next < LEDGER_ROWS) {
		struct batch b = { next, next + LEDGER_BATCH };

		if (b.to > LEDGER_ROWS)
			b.to = LEDGER_ROWS;
		/* Checks ctx first: a cancel stops between two batches. */
		err = mmig_txn_run(md, ctx, fill_batch, &b);
		if (err)
			break;
		next = b.to;
		put_u64(buf, next);
		rc = mmig_op_checkpoint(ctx, buf, sizeof(buf));
		if (rc != MMIG_OK)
			err = mmig_error_new(rc, "ledger-fill: checkpoint: %s",
					     mmig_strerror(rc));
	}
	return err;
}

static struct mmig_error *
empty_entries(sqlite3 *db, void *arg)
{
	(void)arg;
	if (!table_exists(db, "entries"))
		return NULL;
	return exec1(db, "DELETE FROM entries", NULL);
}

static struct mmig_error *
fill_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *md;
	struct mmig_error *err;

	(void)m;
	/* No database, nothing to undo -- and opening it would create it. */
	if (access(mmig_scope_model_path(op->scope), F_OK) != 0)
		return NULL;
	err = mmig_scope_model_db(op->scope, &md);
	if (!err)
		err = mmig_txn_run(md, ctx, empty_entries, NULL);
	return err;
}

static const struct mmig_op_vtable fill_vt = {
	.name = "ledger-fill",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT | MMIG_OP_RESUMABLE,
	.setup = ledger_setup,
	.execute = fill_execute,
	.rollback = fill_rollback,
	.destroy = ledger_destroy,
};

/* ---- ledger-open -------------------------------------------------------- */

static struct mmig_error *
set_open(sqlite3 *db, void *uuid)
{
	return exec1(db, "UPDATE ledgers SET status = 'open' WHERE uuid = ?1",
		     uuid);
}

static struct mmig_error *
set_new(sqlite3 *db, void *uuid)
{
	if (!table_exists(db, "ledgers"))
		return NULL;
	return exec1(db, "UPDATE ledgers SET status = 'new' WHERE uuid = ?1",
		     uuid);
}

static struct mmig_error *
open_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *c;
	struct mmig_error *err;

	err = mmig_scope_controller_db(op->scope, &c);
	if (!err)
		err = mmig_txn_run(c, ctx, set_open, (void *)m->uuid);
	return err;
}

static struct mmig_error *
open_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct ledger_op *op = self;
	struct mmig_txn_runner *c;
	struct mmig_error *err;

	err = mmig_scope_controller_db(op->scope, &c);
	if (!err)
		err = mmig_txn_run(c, ctx, set_new, (void *)m->uuid);
	return err;
}

static const struct mmig_op_vtable open_vt = {
	.name = "ledger-open",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = ledger_setup,
	.execute = open_execute,
	.rollback = open_rollback,
	.destroy = ledger_destroy,
};

/* ---- the plug-in's entry point ------------------------------------------ */

/*
 * Called once when the plug-in is loaded.  The operations are registered in
 * plan order, which is also how examples/ledger-run.c builds its plan.
 * Returns MMIG_OK or the first error (the registry is then freed by the
 * loader's caller, and the plug-in reported as failed).
 */
__attribute__((visibility("default"))) int
mmig_plugin_register(struct mmig_registry *r);

int
mmig_plugin_register(struct mmig_registry *r)
{
	static const struct mmig_op_vtable *const plan[] = {
		&create_vt,
		&fill_vt,
		&open_vt,
	};
	int rc = MMIG_OK;

	for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]) && !rc; i++)
		rc = mmig_registry_add(r, plan[i], ledger_new, NULL);
	return rc;
}
