/*
 * engine/coordinator-int.h - what recovery drives in the coordinator: a
 * claimed migration resumed from an op, or rolled back from one.  Both take
 * the journal handle over (and free it), bind the scope's runners to the
 * migration, and leave the outcome and error on the coordinator as perform
 * does.
 */
#ifndef MMIG_COORDINATOR_INT_H
#define MMIG_COORDINATOR_INT_H

#include "journal-int.h"
#include "mmig/coordinator.h"

/* Tries per op rollback in recovery (perform itself tries once). */
void mmig__coordinator_set_rollback_tries(struct mmig_coordinator *c,
					  unsigned tries);

/* Run ops @p from..n-1 of the claimed migration @p jm (re-BEGIN @p from,
 * RESUMED first if it was paused), then commit; roll back on failure. */
int mmig__coordinator_resume(struct mmig_coordinator *c, struct mmig__jmig *jm,
			     struct mmig_scope *scope,
			     const struct mmig_model *model, size_t from,
			     struct mmig_ctx *ctx);

/* Roll back ops @p hi..0 of @p jm, skipping those already undone, and
 * record ROLLED_BACK (or NEEDS_ATTENTION).  Deletes nothing by itself. */
int mmig__coordinator_rollback(struct mmig_coordinator *c,
			       struct mmig__jmig *jm, struct mmig_scope *scope,
			       const struct mmig_model *model, size_t hi,
			       const char *cause);

#endif
