/*
 * tests/steps.h - the operations the crash suites run (recover, torture and
 * the power-cut helper), and the helpers their checks share.
 *
 * "stepK" (K = 0 .. n-1, version 1).  Execute commits one transaction
 * through the controller database's runner: the row (model, K) in `steps`,
 * and one more 'do' for (model, K) in `tally`; step 2 also commits a row
 * (model, 2) to table `m` of the model database.  Rollback deletes the row
 * and adds an 'undo' to the tally, in one transaction; step 2's also
 * deletes its row in `m` (only when it committed there: rule 5).
 *
 * Step 0 makes the model database, as the import's create-model does: after
 * its controller transaction it commits one to the model database (table
 * `made`), which creates the file; its rollback deletes the model database
 * through mmig_scope_delete_model() while its own row (model, 0) is still
 * there -- the row says the database is this migration's -- then undoes the
 * row.  With the knob keep_model, step 0 neither makes nor deletes it: a
 * migration of a model database that existed before, which no path of the
 * library may delete.  The runner's markers (invariant E) make a
 * committed transaction run once, so a plain INSERT never meets its own
 * row, and a tally above 1 is a transaction done twice.
 *
 * The knobs are read when an op runs (the flag, when the registry is
 * built); set them before forking a child or starting a recovery.
 */
#ifndef MMIG_TESTS_STEPS_H
#define MMIG_TESTS_STEPS_H

#include <mmig/mmig.h>

#include <stdbool.h>
#include <stdint.h>

#define STEPS_MAX 16

struct steps_knobs {
	bool idempotent;      /* register the ops with MMIG_OP_IDEMPOTENT */
	int fail_execute_of;  /* this op's execute fails after its work; -1 */
	int fail_rollback_of; /* this op's rollback fails; -1 */
	int block_in_op;      /* this op's execute first reads a byte from */
	int block_fd;	      /* block_fd (the test says go); -1: none */
	/* Step 0 reads a byte from block_fd between its controller
	 * transaction and its first use of the model database. */
	bool block_before_model;
	/* Step 0 neither makes nor deletes the model database. */
	bool keep_model;
	/* Called after an execute ('X') or rollback ('R') succeeded. */
	void (*done)(char what, const char *model_uuid, int op);
};

extern struct steps_knobs steps_knobs;

/* Every knob back to "none". */
void steps_knobs_reset(void);

/* A registry of ops step0 .. step(@p n - 1), leaving out @p skip (-1:
 * none).  @return NULL when out of memory. */
struct mmig_registry *steps_registry(int n, int skip);

/* Op @p i's vtable and constructor (its argument is (void *)(intptr_t)i),
 * for a test that registers a changed copy. */
const struct mmig_op_vtable *steps_vtable(int i);
struct mmig_error *steps_ctor(void *arg, void **self);

/* Build ops 0 .. @p n - 1 from @p r and add them to @p c.  @return
 * MMIG_OK, or MMIG_EUNKNOWNOP when @p r lacks one. */
int steps_add(struct mmig_coordinator *c, const struct mmig_registry *r, int n);

/* The first column of @p sql's first row, as an integer, on the database
 * at @p path (the steps' controller database, say): 0 when the file or the
 * table is not there (nothing committed), -1 when there is no row, -2 when
 * the file cannot be opened. */
long long steps_query(const char *path, const char *sql);

/* A hash (FNV-1a) of the file's bytes, 0 when it cannot be read: to show
 * that a refusal changed nothing. */
uint64_t steps_file_hash(const char *path);

#endif
