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

#include <stdint.h>

/*
 * What a runner is bound to while an operation runs: migration id, op index
 * and owner epoch.  Declared here so the runner can carry a pointer to it;
 * the coordinator defines it when it starts writing markers.
 */
struct mmig__txn_binding;

struct mmig_txn_runner {
	struct mmig_scope *scope; /* the scope that owns this runner */
	const char *path;         /* owned by the scope */
	sqlite3 *db;              /* NULL until first use, and after close */
	/*
	 * NULL for now.  A later change makes mmig_txn_run() write an
	 * mmig_applied marker row (migration id, op index, transaction
	 * number, owner epoch) inside each transaction while the runner is
	 * bound, and refuse to commit when the database holds a newer epoch
	 * for the migration (invariants E and F).
	 */
	struct mmig__txn_binding *binding;
	/* Transactions committed through this runner; the marker's
	 * transaction number will be taken from it. */
	uint64_t txn_count;
	/* Tries that hit SQLITE_BUSY (or an MMIG_EBUSY from the work) and were
	 * retried or given up on; for tests and benchmarks. */
	uint64_t busy_retries;
};

struct mmig_scope {
	char *controller_path;
	char *model_path;
	enum mmig_durability durability;
	mmig_model_deleter_fn delete_model; /* never NULL once made */
	void *delete_arg;
	unsigned busy_budget_ms; /* never 0 once made */
	struct mmig_txn_runner controller;
	struct mmig_txn_runner model;
};

#endif
