/*
 * engine/scope-int.h - the layouts of a scope and its transaction runners,
 * for the modules that work on them directly (the coordinator binds a runner
 * to the migration and operation it is running, for invariant E).
 *
 * A scope owns both runners by value, so a runner pointer handed out by
 * mmig_scope_controller_db() or mmig_scope_model_db() stays valid for the
 * scope's whole life, also across mmig_scope_delete_model() (which closes
 * the model runner's connection but keeps the runner).
 */
#ifndef MMIG_SCOPE_INT_H
#define MMIG_SCOPE_INT_H

#include "mmig/scope.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * What a scope's runners are bound to while a journaled migration runs
 * (invariants E and F).  While bound, every transaction also:
 *  - fences: reads mmig_epoch for the migration and refuses to commit when
 *    the database has seen a newer owner epoch (MMIG_EFENCED), else records
 *    its own;
 *  - forward (undo false): skips the work when the marker row
 *    (migration, op, txn, 'do') is already there -- that transaction
 *    committed before a crash -- and otherwise writes it with the work;
 *  - undo: skips when (migration, op, txn, 'undo') is there (never undo
 *    twice); runs the work only when op has a 'do' marker in this database
 *    (never undo what did not commit here); writes the 'undo' marker.
 * Transaction numbers count the op's mmig_txn_run calls across both
 * databases, from 1, so an op that re-runs from its start meets its
 * committed transactions again in the same order.
 */
struct mmig__txn_binding {
	bool bound;
	char migration[37];
	uint64_t epoch;
	int64_t op;
	bool undo;
	uint64_t txn_no;   /* of the op's latest mmig_txn_run */
	uint64_t skipped;  /* transactions skipped as already done */
	/* Called right after mmig_scope_delete_model() removed the model
	 * database (fenced): the coordinator records MODEL_DELETED there.
	 * NULL: nothing to record.  An error fails the deletion. */
	struct mmig_error *(*model_deleted)(void *arg);
	void *model_deleted_arg;
	/* Called right before every COMMIT of a bound runner: an error (the
	 * owner's lease may be about to expire) rolls the transaction back
	 * instead.  NULL: none. */
	struct mmig_error *(*alive)(void *arg);
	void *alive_arg;
};

/*
 * Bind (or with NULL @p migration, unbind) the scope's runners.  While
 * bound, the model database file is fenced like a transaction: it is
 * created only by a forward transaction of the owner (under the controller
 * database's write lock, after the epoch check), and deleted only by
 * mmig_scope_delete_model() under the same lock and check; a stale owner
 * gets MMIG_EFENCED and the file is left as it is.
 */
void mmig__scope_bind(struct mmig_scope *s, const char *migration,
		      uint64_t epoch);
/* True while the scope's runners are bound to a journaled migration (and
 * so write markers). */
bool mmig__scope_journaled(const struct mmig_scope *s);
/* The op whose transactions come next; restarts transaction numbers. */
void mmig__scope_bind_op(struct mmig_scope *s, int64_t op, bool undo);
/* Write the binding's epoch into the controller database, and into the
 * model database when its file exists, so a stale owner is fenced out
 * before the new one does anything. */
struct mmig_error *mmig__scope_fence(struct mmig_scope *s);
/*
 * Whether the bound op committed a forward transaction in @p r's database
 * in this migration (its 'do' marker is there): how an op's rollback tells
 * what its own execute made from what was there before.  Unbound: false.
 * Reads outside any transaction.
 */
struct mmig_error *mmig__scope_op_committed(struct mmig_scope *s,
					    struct mmig_txn_runner *r,
					    bool *yes);
/* True when either database holds an 'undo' marker of the migration. */
struct mmig_error *mmig__scope_any_undo(struct mmig_scope *s,
					const char *migration, bool *any);

struct mmig_txn_runner {
	struct mmig_scope *scope; /* the scope that owns this runner */
	const char *path;         /* owned by the scope */
	sqlite3 *db;              /* NULL until first use, and after close */
	/* Transactions committed through this runner. */
	uint64_t txn_count;
	/* The marker tables exist in this connection's database. */
	bool markers_ready;
	/* Tries that hit SQLITE_BUSY (or an MMIG_EBUSY from the work) and were
	 * retried or given up on; for tests and benchmarks. */
	uint64_t busy_retries;
	/* Model runner of a bound scope whose file did not exist when it was
	 * asked for: the first forward transaction creates it (fenced); an
	 * undo transaction finds nothing to undo and creates nothing. */
	bool pending;
};

/* Database files (and, through SQLite, their -wal and -shm) are created
 * owner-only: they hold model config and credentials. */
#define MMIG__DB_FILE_MODE 0600u
#define MMIG__DIR_MODE 0700u

/*
 * Create the database file @p path empty, with exactly @p mode whatever
 * the umask, unless it exists (an existing file is never changed).  SQLite
 * takes an empty file for a new database, and gives the -wal and -shm it
 * creates beside it the database file's mode.  Paths that name no file of
 * their own (":memory:", "", "file:" URIs) are left to SQLite.
 * @return MMIG_OK or -errno.
 */
int mmig__db_file_create(const char *path, unsigned mode);

struct mmig_scope {
	char *controller_path;
	char *model_path;
	enum mmig_durability durability;
	mmig_model_deleter_fn delete_model; /* never NULL once made */
	void *delete_arg;
	unsigned busy_budget_ms; /* never 0 once made */
	unsigned file_mode; /* of the database files it creates; 0600 */
	struct mmig_txn_runner controller;
	struct mmig_txn_runner model;
	struct mmig__txn_binding binding;
};

#endif
