/*
 * mmig/scope.h - the databases an operation works on.
 *
 * A scope holds two transaction runners, one on the controller database and
 * one on the model database, each opened lazily on first use (the factory of
 * the origin), and a model deleter that removes the model database.  An
 * operation's setup takes what it needs from the scope; its execute and
 * rollback then run their work through mmig_txn_run().
 *
 * The model deleter is for the operations (the origin's ModelDeleter()):
 * the operation that created the model database deletes it in its own
 * rollback, with mmig_scope_delete_model().  Neither the coordinator nor
 * recovery ever calls it.
 *
 * In a journaled migration the model database file is fenced like a
 * transaction (invariant F): mmig_scope_model_db() opens it only if it
 * exists; a missing one is created by the first forward transaction run
 * on it, and deleted by mmig_scope_delete_model(), each under the
 * controller database's write lock after checking the migration's owner
 * epoch there.  A process that no longer owns the migration gets
 * MMIG_EFENCED and neither creates nor deletes the file.  An undo
 * transaction on a model database that was never made does nothing (there
 * is nothing to undo) and does not make it.  (So the first transaction on
 * a model database not made yet must not be run from inside a transaction
 * on the controller database: the creation needs that connection, and is
 * refused with MMIG_EINVAL.)
 *
 * Every connection is put in WAL mode with `synchronous` set from the
 * durability the scope was made with: FULL for MMIG_DURABLE, OFF for
 * MMIG_PROCESS.
 *
 * Threads: a scope and its runners belong to one migration and are used by
 * one thread at a time (SQLite connections are not shared); another
 * migration, in another thread, gets a scope of its own.  Many processes
 * and scopes may use the same database files at once: SQLite's locks and
 * the runner's busy retries order them.
 */
#ifndef MMIG_SCOPE_H
#define MMIG_SCOPE_H

#include "mmig/common.h"
#include "mmig/ctx.h"
#include "mmig/error.h"

#include <sqlite3.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_scope;
struct mmig_txn_runner;

/**
 * Removes a model's database.  Must succeed when there is nothing to remove.
 * @param path the model database path given to the scope.
 */
typedef struct mmig_error *(*mmig_model_deleter_fn)(void *arg,
						     const char *path);

/** A sized struct: see "ABI" in mmig/common.h. */
struct mmig_scope_config {
	/** sizeof(struct mmig_scope_config); 0: the 0.1 layout. */
	size_t size;
	/** Controller database file; required. */
	const char *controller_db;
	/** Model database file; required. */
	const char *model_db;
	enum mmig_durability durability;
	/** NULL: mmig_model_db_remove(), the file and its -wal/-shm. */
	mmig_model_deleter_fn delete_model;
	void *delete_arg;
	/** Longest a transaction waits on SQLITE_BUSY in all; 0: 5000 ms. */
	unsigned busy_budget_ms;
};

#define MMIG_SCOPE_CONFIG_INIT { .size = sizeof(struct mmig_scope_config) }

/**
 * @param[out] out the scope, or NULL on failure.  Nothing is opened yet.
 * @return MMIG_OK, MMIG_EINVAL (a path missing or empty, an unknown
 * durability, or cfg->size below the first layout), MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_scope_new(struct mmig_scope **out,
			       const struct mmig_scope_config *cfg);

/**
 * The scope for one model: controller database @p controller_db and model
 * database "<model_dir>/<model_uuid>.db".
 * @return MMIG_OK, MMIG_EINVAL when @p model_uuid is not a canonical
 * lower-case UUID (8-4-4-4-12 hex digits) -- checked before it becomes part of
 * a path -- or MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_scope_for_model(struct mmig_scope **out,
				     const char *controller_db,
				     const char *model_dir,
				     const char *model_uuid,
				     enum mmig_durability durability);

/** Closes the connections the scope opened.  NULL is a no-op. */
MMIG_EXPORT void mmig_scope_free(struct mmig_scope *scope);

/** @return the paths the scope was made with; owned by the scope. */
MMIG_EXPORT const char *mmig_scope_controller_path(const struct mmig_scope *s);
/** @return the model database path; owned by the scope, valid until it is
 *  freed. */
MMIG_EXPORT const char *mmig_scope_model_path(const struct mmig_scope *s);

/**
 * The permission bits of the database files the scope creates from now on
 * (the controller and the model database, when missing; SQLite gives their
 * -wal and -shm the same).  The default is 0600, owner only, whatever the
 * process's umask: the databases hold model config and credentials.  A
 * wider @p mode (0640 for a group of readers, say) is set exactly, also
 * regardless of the umask.  A file that exists already is never changed.
 * Added in MMIG_0.2.
 * @param mode owner read and write (0600) plus any of 0066.
 * @return MMIG_OK, or MMIG_EINVAL (@p s NULL, bits outside 0666, or the
 * owner cannot read and write).
 */
MMIG_EXPORT int mmig_scope_set_file_mode(struct mmig_scope *s, unsigned mode);

/**
 * The runner on the controller database, opened (and so the file created)
 * on first call and cached; owned by the scope.
 * @return NULL and *out set, or an error naming the file that did not open.
 */
MMIG_EXPORT struct mmig_error *
mmig_scope_controller_db(struct mmig_scope *s, struct mmig_txn_runner **out);
/** The runner on the model database, opened on first call and cached;
 *  owned by the scope.  Without a journal, a missing file is created here.
 *  In a journaled migration a model database that does not exist yet is
 *  not created here (setup has no side effects, and a stale owner must not
 *  make it): the runner is returned without a connection
 *  (mmig_txn_runner_db() is NULL) and its first forward transaction creates
 *  the file, fenced.
 *  @return NULL and *out set, or an error (MMIG_EDB, MMIG_ENOMEM) naming the
 *  file that did not open; the caller frees it. */
MMIG_EXPORT struct mmig_error *
mmig_scope_model_db(struct mmig_scope *s, struct mmig_txn_runner **out);

/**
 * Remove the model database through the scope's deleter, closing the
 * scope's own connection to it first.  For the operation that created the
 * model database, in its rollback; nothing else in the library calls it.
 * Idempotent: deleting what is not there succeeds.
 *
 * In a journaled migration the deletion is fenced and journaled: it runs
 * inside a transaction on the controller database that first checks the
 * migration's owner epoch there (MMIG_EFENCED for a process that lost the
 * migration: nothing is deleted), and the coordinator records
 * MODEL_DELETED once the files are gone (it commits with the op's
 * UNDO_DONE: a crash before that makes recovery delete again, which is
 * harmless).  The deleter runs with
 * the controller database's write lock held.
 *
 * The model runner stays valid but has no connection (mmig_txn_run() on it
 * fails) until mmig_scope_model_db() is called again, which opens -- and
 * so creates -- the database anew (in a journaled migration: on its first
 * forward transaction).
 * @return NULL, the deleter's error as it is, MMIG_EFENCED, the journal's
 * error (the deletion happened but could not be recorded), an error of the
 * controller database, or MMIG_EINVAL when a transaction is open on the
 * model database.
 */
MMIG_EXPORT struct mmig_error *mmig_scope_delete_model(struct mmig_scope *s);

/** @return true when @p s is a canonical lower-case UUID. */
MMIG_EXPORT bool mmig_uuid_valid(const char *s);

/**
 * The default model deleter: remove @p path and its "-wal" and "-shm"
 * files.  Files that are already gone are not an error.  Each file is first
 * renamed to a tombstone beside it, the -wal and -shm before the database,
 * the directory is synced, then the tombstones are unlinked; the first
 * failure stops it.  So a stale -wal is never left beside no database (it
 * would be replayed into the next one made there), and a crash leaves the
 * files or tombstones that the next call removes.  @p arg is unused.
 * @return NULL, or an error naming the file with code -errno.
 */
MMIG_EXPORT struct mmig_error *mmig_model_db_remove(void *arg,
						     const char *path);

/**
 * Work done inside one transaction.  Return NULL to commit, an error to roll
 * back.  Returning an error whose code is MMIG_EBUSY makes the runner roll
 * back and run @p fn again (within the busy budget).
 */
typedef struct mmig_error *(*mmig_txn_fn)(sqlite3 *db, void *arg);

/**
 * Run @p fn inside BEGIN IMMEDIATE ... COMMIT.  On SQLITE_BUSY the whole
 * transaction is retried with bounded exponential backoff (1 ms doubling to
 * 64 ms) until the busy budget is spent; @p ctx is checked before each try.
 *
 * In a journaled migration each call is numbered (per operation, from 1,
 * or from the number saved with the checkpoint the op resumed from) and
 * commits a marker with the work.  When the operation runs again after a
 * crash, a call whose transaction committed before is skipped: it returns
 * NULL without calling @p fn.  So an operation must make the same calls in
 * the same order when it runs again, and must not depend on anything @p fn
 * computes (decide batch bounds before the call, not inside it).
 * @return NULL once committed; otherwise the error of @p fn (the very value
 * it returned, unless it was MMIG_EBUSY), or an error naming the SQLite
 * failure (MMIG_EDB; MMIG_EBUSY "database is busy: FILE: gave up after N
 * tries: ..." when the budget ran out), or mmig_ctx_err()'s code
 * (MMIG_ECANCELED, MMIG_ETIMEDOUT) when @p ctx ended before a try, or
 * MMIG_EINVAL when called inside a transaction on the same connection; in
 * every case with the transaction rolled back.  A NULL @p ctx never ends.
 */
MMIG_EXPORT struct mmig_error *mmig_txn_run(struct mmig_txn_runner *r,
					     struct mmig_ctx *ctx,
					     mmig_txn_fn fn, void *arg);

/** @return the runner's connection, for reads outside a transaction; NULL
 *  after mmig_scope_delete_model() closed it. */
MMIG_EXPORT sqlite3 *mmig_txn_runner_db(struct mmig_txn_runner *r);

/** @return an error with MMIG_EDB (MMIG_EBUSY for SQLITE_BUSY and
 *  SQLITE_LOCKED) and "<what>: <sqlite3_errmsg(db)>"; with a NULL @p db the
 *  text is sqlite3_errstr(rc). */
MMIG_EXPORT struct mmig_error *mmig_error_sqlite(sqlite3 *db, int rc,
						  const char *what);

#ifdef __cplusplus
}
#endif

#endif
