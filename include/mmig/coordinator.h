/*
 * mmig/coordinator.h - runs an ordered list of operations as one migration.
 *
 * The baseline contract is the origin's (Juju's core/modelmigration
 * coordinator, as published Nov 2024; docs/DESIGN.md, "Coordinator
 * semantics", installed as share/doc/libmmig/DESIGN.md):
 *  - perform runs op 0..n-1: setup, execute, then the hook if one is set;
 *  - on the first error at op k it rolls back ops k, k-1, ..., 0 (the failing
 *    op too, since it may have half run) and calls every rollback even when
 *    one fails;
 *  - the error returned is the first failure annotated with where it
 *    happened ("setup operation NAME: ...", "execute operation NAME: ...",
 *    "hook operation NAME: ..."), and each failed rollback wraps it as
 *    "rollback operation at I with ROLLBACK_ERR: ..." (the first failure
 *    stays the cause, with its code);
 *  - a NULL setup fails with "setup not implemented", a NULL execute with
 *    "execute not implemented" (both MMIG_ENOTIMPL); a NULL rollback is a
 *    no-op;
 *  - logged besides: "running operation: NAME" before each op, "import
 *    failed: ERR", "rolling back operation: NAME", "rollback operation for
 *    NAME failed: ERR";
 *  - perform never deletes the model database: the scope hands
 *    mmig_scope_delete_model() to the operations (the origin's
 *    ModelDeleter()), and the operation that created the model database
 *    deletes it in its own rollback.  A migration that runs against a model
 *    database that already existed never loses it.  Recovery does not
 *    delete it either.
 *
 * Deliberate differences from the origin (docs/origin-differences.md gives
 * the reasons at length):
 *  - the context is checked before each operation: a cancelled or expired
 *    context fails the migration at the operation about to run ("before
 *    operation NAME: context canceled") and rolls back from there, that op
 *    included -- so that a cancel stops a long migration between steps
 *    instead of only inside an op that happens to look;
 *  - rollbacks run under a context of their own, with the deadline of
 *    mmig_coordinator_set_rollback_timeout(), never the forward one: that
 *    one may be the very thing that was cancelled, and a rollback that
 *    stops at once leaves half-done work;
 *  - the hook can be set by the embedder (mmig_coordinator_set_hook()),
 *    where the origin's is fixed: a test or an embedder can fail a
 *    migration after any op on purpose (mmig import --test-rollback does);
 *  - a default logger exists: a NULL log function logs to stderr, so that
 *    failures are never silent;
 *  - setup must have no side effects: recovery calls it again, in another
 *    process, before a rollback (see mmig/op.h).
 *
 * Threads: a coordinator is used by one thread at a time.  Many coordinators
 * may perform at once, in threads of one process, sharing one journal (their
 * commits are grouped).  Every callback -- the operations, the hook, the
 * logger -- runs on the thread that called perform.  Cancel or pause a
 * running perform from another thread or a signal handler through its
 * context (mmig/ctx.h).
 */
#ifndef MMIG_COORDINATOR_H
#define MMIG_COORDINATOR_H

#include "mmig/common.h"
#include "mmig/ctx.h"
#include "mmig/error.h"
#include "mmig/journal.h"
#include "mmig/op.h"
#include "mmig/scope.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_coordinator;

/**
 * Called after each successful execute with the operation that ran.  An
 * error fails the migration like an execute error.
 */
typedef struct mmig_error *(*mmig_hook_fn)(void *arg, const struct mmig_op *op);

/**
 * @param[out] out the coordinator, NULL on failure.
 * @param log  log sink; NULL logs to stderr (mmig_log_stderr).
 * @return MMIG_OK or MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_coordinator_new(struct mmig_coordinator **out,
				     mmig_log_fn log, void *log_arg);

/** Destroys every operation added and frees @p c.  NULL is a no-op. */
MMIG_EXPORT void mmig_coordinator_free(struct mmig_coordinator *c);

/**
 * Append an operation.  On success the coordinator owns @p self and calls
 * vt->destroy(self) when it is freed; on failure the caller keeps it.
 * @p vt must outlive the coordinator (it is normally a static const).
 * @return MMIG_OK, MMIG_EINVAL (NULL vt or vt->name, or vt->size below the
 * first layout), MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_coordinator_add(struct mmig_coordinator *c,
				     const struct mmig_op_vtable *vt,
				     void *self);

/** @return the number of operations added. */
MMIG_EXPORT size_t mmig_coordinator_len(const struct mmig_coordinator *c);

/** Set (or, with NULL, clear) the hook called after each execute. */
MMIG_EXPORT void mmig_coordinator_set_hook(struct mmig_coordinator *c,
					   mmig_hook_fn hook, void *arg);

/**
 * Deadline for each operation's rollback, in milliseconds from its start;
 * 0 (the default) for none.  Rollbacks see it through their context.
 */
MMIG_EXPORT void mmig_coordinator_set_rollback_timeout(
	struct mmig_coordinator *c, uint64_t timeout_ms);

/**
 * Run the migration.
 * @param c     the coordinator; at most one perform at a time.
 * @param ctx   cancellation and deadline for the forward run; may be NULL.
 * @param scope the databases; required.
 * @param model passed through to every execute and rollback; required.
 * @return MMIG_OK when every operation ran; otherwise the code of the first
 * failure (the operation's own code, MMIG_ENOTIMPL, MMIG_ECANCELED, ...),
 * after the rollbacks have run.  The whole message is then available from
 * mmig_coordinator_error().  Perform itself never calls the scope's model
 * deleter.
 */
MMIG_EXPORT int mmig_coordinator_perform(struct mmig_coordinator *c,
					 struct mmig_ctx *ctx,
					 struct mmig_scope *scope,
					 const struct mmig_model *model);

/**
 * @return the error of the last perform, or NULL after a success.  Owned by
 * @p c, valid until the next perform or free.
 */
MMIG_EXPORT const struct mmig_error *
mmig_coordinator_error(const struct mmig_coordinator *c);

/** @return mmig_error_message() of the last error, "" after a success. */
MMIG_EXPORT const char *mmig_coordinator_errmsg(const struct mmig_coordinator *c);

/* ---- journaled perform -------------------------------------------------- */

/**
 * Journal every perform from now on in @p j (which must outlive @p c), with
 * durability @p d.  NULL turns journaling off.
 *
 * With a journal, perform writes the migration's header and BEGIN 0 (fully
 * synced) before op 0 runs; DONE i together with BEGIN i+1 in one commit
 * (one sync) before op i+1 runs; UNDO_DONE i before the rollback of op i-1
 * starts (with MODEL_DELETED when that op's rollback deleted the model
 * database through the scope); and returns only once COMMITTED or
 * ROLLED_BACK is fully synced.
 * If the journal itself fails, perform stops at once without rolling back
 * (it could not record the rollback) and returns the journal's error: the
 * migration is left for recovery, and this coordinator refuses further
 * performs (MMIG_EPOISONED).
 *
 * A journal holds migrations of one durability, fixed by its first: an
 * unsynced process-mode commit could take durable migrations down with it
 * in a power cut.  Perform with the other durability returns MMIG_EINVAL
 * before anything is written or run (outcome MMIG_OUTCOME_NONE).
 *
 * When the migration's first commit fails and the journal does not hold
 * the migration (nothing was written, no op ran: a full disk at the header,
 * say), perform returns the journal's error (e.g. -ENOSPC) with outcome
 * MMIG_OUTCOME_NONE and an empty migration id: there is nothing to recover,
 * and the coordinator is not poisoned.  If the journal holds it, or cannot
 * tell, the outcome is MMIG_OUTCOME_INTERRUPTED as for any later failure.
 */
MMIG_EXPORT void mmig_coordinator_set_journal(struct mmig_coordinator *c,
					      struct mmig_journal *j,
					      enum mmig_durability d);

/** How the last perform ended. */
enum mmig_outcome {
	MMIG_OUTCOME_NONE = 0,        /**< no perform yet, or it was refused
	                                   before anything was written */
	MMIG_OUTCOME_COMMITTED,       /**< every op ran; COMMITTED durable */
	MMIG_OUTCOME_ROLLED_BACK,     /**< failed; every rollback succeeded */
	MMIG_OUTCOME_NEEDS_ATTENTION, /**< failed, and a rollback failed too
	                                   (also one whose deletion of the
	                                   model database failed) */
	MMIG_OUTCOME_PAUSED,          /**< cancelled with pause: resumable */
	MMIG_OUTCOME_INTERRUPTED,     /**< the journal failed: left for
	                                   recovery */
};

/** @return how the last perform ended (MMIG_OUTCOME_NONE before any, and
 *  when perform refused to start).  Cannot fail. */
MMIG_EXPORT enum mmig_outcome
mmig_coordinator_outcome(const struct mmig_coordinator *c);

/** @return "none", "committed", "rolled-back", "needs-attention",
 *  "paused", "interrupted"; "?" for a value this library does not know.
 *  A static string. */
MMIG_EXPORT const char *mmig_outcome_name(enum mmig_outcome o);

/**
 * @return the id (UUID text) of the journaled migration the last perform
 * wrote, or "" without a journal.  Owned by @p c.
 */
MMIG_EXPORT const char *
mmig_coordinator_migration_id(const struct mmig_coordinator *c);

/**
 * Record progress inside a long execute, for resume after a crash.  Called
 * by an operation with the context its execute was given.  Without a
 * journal it does nothing.  The bytes are copied.  A checkpoint is made
 * durable at most every 200 ms, otherwise with the migration's next journal
 * commit, so a crash may resume the op from an earlier checkpoint than its
 * last (its transactions since then are recognised and skipped).
 * @return MMIG_OK, MMIG_EINVAL (not an operation's context), or the
 * journal's error.
 */
MMIG_EXPORT int mmig_op_checkpoint(struct mmig_ctx *ctx, const void *data,
				   size_t len);

/**
 * mmig_op_checkpoint(), durable when it returns: for what a resume must
 * know to redo the op's work the same way (a batch size), not for mere
 * progress.  One sync.
 */
MMIG_EXPORT int mmig_op_checkpoint_now(struct mmig_ctx *ctx, const void *data,
				       size_t len);

/**
 * The last checkpoint this operation recorded before the migration was
 * interrupted, when it is being resumed.  Calling it means "I go on from
 * here": call it before the op's first transaction, and when it returns
 * true, continue from the checkpoint rather than from the start, so that
 * the op's transactions are the same ones, in the same order, as in the run
 * that was interrupted (the journal recognises them by their number).
 * @return true and the bytes (valid during the execute) when there is one.
 * Call it only from the operation's execute, with the context it was given.
 */
MMIG_EXPORT bool mmig_op_resume_point(struct mmig_ctx *ctx, const void **data,
				      size_t *len);

#ifdef __cplusplus
}
#endif

#endif
