/*
 * mmig/recover.h - settling migrations that a crash left in flight.
 *
 * An embedder calls mmig_recover() once at start-up; an operator runs
 * mmig-recover, which calls the same functions.  For every migration in the
 * journal's in-flight index whose owner is dead, recovery claims it (one
 * LMDB write transaction, so two recoverers never both act), rebuilds its
 * operations from the registry, calls each one's setup, and then:
 *
 *  - policy ROLLBACK (the default, always safe): roll back from the highest
 *    operation that may have started (the one after the last recorded
 *    BEGIN: "one ahead") down to 0, skipping those already undone, delete
 *    the model database, record ROLLED_BACK;
 *  - policy RESUME: re-run from the first operation without DONE, if that
 *    operation is idempotent or resumable from a checkpoint; otherwise
 *    refuse (or roll back, with fallback_to_rollback);
 *  - a migration already rolling back always finishes its rollback;
 *  - PAUSED and NEEDS_ATTENTION migrations are left alone: they are settled
 *    by name (mmig_recover_one()).
 *
 * The calling process counts as a dead owner of the migrations it owns but
 * no longer drives -- a perform the journal interrupted, a recovery that
 * failed after its claim -- so calling mmig_recover() again retries them;
 * what one of its threads is performing is left alone.
 *
 * A migration whose plan names an operation or version the registry lacks,
 * or whose records cannot be trusted, is refused with a message and left
 * exactly as it was.
 *
 * Threads: these functions may be called from any thread, and several
 * recoveries (threads or processes) may run at once on one journal: the
 * claim lets one of them act on each migration.  The operations, the
 * scope_for_model callback and the logger run on the calling thread.
 * Recovery blocks for as long as the rollbacks or resumes it runs take.
 */
#ifndef MMIG_RECOVER_H
#define MMIG_RECOVER_H

#include "mmig/common.h"
#include "mmig/ctx.h"
#include "mmig/error.h"
#include "mmig/journal.h"
#include "mmig/registry.h"
#include "mmig/scope.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What mmig_recover() does with a migration in flight. */
enum mmig_policy {
	MMIG_POLICY_ROLLBACK = 0, /**< undo it (the default, always safe) */
	MMIG_POLICY_RESUME = 1,   /**< run it on, where its ops allow */
};

/** Build the scope for one model (the origin's ScopeForModel). */
typedef int (*mmig_scope_for_model_fn)(void *arg, const char *model_uuid,
				       enum mmig_durability d,
				       struct mmig_scope **out);

/** A sized struct: see "ABI" in mmig/common.h. */
struct mmig_recover_options {
	/** sizeof(struct mmig_recover_options); 0: the 0.1 layout. */
	size_t size;
	enum mmig_policy policy;
	/** Under RESUME, roll back what cannot be resumed instead of
	 *  refusing it. */
	bool fallback_to_rollback;
	/** Required (except for plans): where each model's databases are. */
	mmig_scope_for_model_fn scope_for_model;
	void *scope_arg;
	/** NULL logs to stderr. */
	mmig_log_fn log;
	void *log_arg;
	/** Deadline of each operation's rollback (all its tries); 0: 60 000 ms. */
	uint64_t rollback_timeout_ms;
	/** Tries per operation's rollback; 0: 3. */
	unsigned rollback_tries;
	/** mmig_recover_one(): take over from a live owner. */
	bool force;
	/**
	 * Since 0.2; NULL: never stopped.  A context the caller may cancel
	 * (mmig_ctx_pause() or mmig_ctx_cancel(), both async-signal-safe, so
	 * from a SIGINT handler) to stop recovery at a safe point: no
	 * migration is claimed once it is cancelled (those not reached are
	 * not in the summary); a resume under way stops before its next op
	 * (or where the op itself checks the context) and is left PAUSED
	 * with mmig_ctx_pause() -- settled later by id -- or rolled back
	 * with mmig_ctx_cancel(); a rollback under way always runs to its
	 * end (rule 7).  The journal stays consistent either way.  Borrowed
	 * for the call; not freed.
	 */
	struct mmig_ctx *ctx;
};

#define MMIG_RECOVER_OPTIONS_INIT                                              \
	{ .size = sizeof(struct mmig_recover_options) }

/** What recovery did (or, for a plan, would do) with one migration. */
enum mmig_recover_action {
	MMIG_RECOVER_COMMITTED = 1,   /**< resumed to the end */
	MMIG_RECOVER_ROLLED_BACK,     /**< rolled back, nothing left */
	MMIG_RECOVER_NEEDS_ATTENTION, /**< a rollback failed: an operator
	                                   must act, then `rollback ID` */
	MMIG_RECOVER_SKIPPED_LIVE,    /**< its owner is alive */
	MMIG_RECOVER_SKIPPED_PAUSED,  /**< paused: resume or roll back by id */
	MMIG_RECOVER_SKIPPED_ATTENTION, /**< needs attention: by id only */
	MMIG_RECOVER_REFUSED,         /**< unknown op or version, resume not
	                                   allowed, corrupt records: nothing
	                                   was changed */
	MMIG_RECOVER_FAILED,          /**< the journal failed mid-way, or
	                                   its write lock was held past the
	                                   lock timeout; run recovery again */
	MMIG_RECOVER_PAUSED,          /**< resumed, then paused again */
};

/** @return "committed", "rolled-back", "needs-attention", "skipped-live",
 *  "skipped-paused", "skipped-attention", "refused", "failed", "paused". */
MMIG_EXPORT const char *mmig_recover_action_name(enum mmig_recover_action a);

/**
 * One step of a recovery, as data (since 0.2).  Strings are owned by the
 * summary.
 */
struct mmig_recover_step {
	/** "resume" (record RESUMED), "run", "roll-back", "skip",
	 *  "record" (a final record), "finish-rollback",
	 *  "fall-back" (to rollback). */
	const char *action;
	/** The operation's index in the plan, or -1 when the step is not
	 *  about one operation. */
	int64_t index;
	/** The operation's name, or NULL. */
	const char *op;
	/** What qualifies the step, or NULL: "from its last checkpoint",
	 *  "may have started: one ahead", "undone before", the record
	 *  written ("RESUMED", "COMMITTED", "ROLLED_BACK"), ... */
	const char *detail;
	/** The same step as one line of prose: steps[i] of the item. */
	const char *text;
};

/**
 * One migration in a summary.  Reached with mmig_recover_summary_item():
 * the struct may grow.
 */
struct mmig_recover_item {
	char id[37];                     /**< migration id, UUID text */
	char model_uuid[37];             /**< the model it migrates */
	enum mmig_recover_action action; /**< what was (or would be) done */
	/** Why (for refused, skipped, failed, needs-attention), or NULL. */
	char *message;
	/** The steps taken (or planned), in order, one line each:
	 *  "rollback op 3 units (may have started: one ahead)", ... */
	char **steps;
	size_t n_steps; /**< lines in @c steps */
	/** The same @c n_steps steps as data (since 0.2); may be NULL when
	 *  memory ran out. */
	struct mmig_recover_step *step_info;
};

/** What a recovery or a plan did, one item per migration looked at.
 *  Allocated by the library; fields are only appended. */
struct mmig_recover_summary {
	/** @c n items, oldest first.  Reach item i with
	 *  mmig_recover_summary_item(s, i), not items[i]. */
	struct mmig_recover_item *items;
	size_t n; /**< items in @c items */
	/** Items that are not settled (needs attention, refused, failed). */
	size_t n_unsettled;
};

/**
 * Settle every orphaned migration by @p opts->policy.  First syncs the
 * journal (so nothing a power cut could still undo is acted on), then
 * claims, fences and settles each migration in turn.
 * @param j    a journal opened read-write (a plan may use a read-only one).
 * @param r    the operations of every plan in the journal, by name and
 *             version, and the model loader.  Borrowed for the call.
 * @param opts the policy and callbacks; borrowed for the call.
 * @param[out] out the summary, owned by the caller (free with
 *             mmig_recover_summary_free()); NULL when the journal could not
 *             be read.  Set even with MMIG_ENOMEM, holding the items done.
 * @return MMIG_OK when the journal could be read and every item was
 * looked at (items may still be unsettled: see n_unsettled); MMIG_EINVAL
 * when @p opts is NULL or opts->size is below the first layout; otherwise
 * MMIG_EJOURNAL, MMIG_ECORRUPT, -errno (the sync or a read failed) or
 * MMIG_ENOMEM.  A failure to settle one migration is its item's action and
 * message, never the return code.
 */
MMIG_EXPORT int mmig_recover(struct mmig_journal *j,
			     const struct mmig_registry *r,
			     const struct mmig_recover_options *opts,
			     struct mmig_recover_summary **out);

/** How mmig_recover_one() and mmig_recover_plan() treat the migration. */
enum mmig_recover_mode {
	MMIG_RECOVER_MODE_POLICY = 0, /**< as mmig_recover() would */
	MMIG_RECOVER_MODE_RESUME,     /**< resume (also a PAUSED one) */
	MMIG_RECOVER_MODE_ROLLBACK,   /**< roll back (also PAUSED or
	                                   NEEDS_ATTENTION: retries only what
	                                   is not undone) */
};

/**
 * Settle one migration, named by id or a unique prefix of it, in @p mode:
 * also a PAUSED or NEEDS_ATTENTION one.  With @p opts->force, take it over
 * even from a live owner (which is then fenced out).
 * @param id  the id (UUID text) or a unique prefix of it.
 * @param[out] out a summary of one item (owned by the caller, free with
 *             mmig_recover_summary_free()); NULL on failure.
 * @return as mmig_recover(); MMIG_ENOTFOUND for an unknown id; MMIG_EINVAL
 * for a prefix that matches several migrations.
 */
MMIG_EXPORT int mmig_recover_one(struct mmig_journal *j,
				 const struct mmig_registry *r,
				 const struct mmig_recover_options *opts,
				 const char *id, enum mmig_recover_mode mode,
				 struct mmig_recover_summary **out);

/**
 * What mmig_recover() (or, with @p id, mmig_recover_one() in @p mode)
 * would do, step by step, without writing anything: no claim, no record,
 * no database change.  The items' steps say what would be done.
 * @param id  NULL for every migration in flight, or an id or prefix.
 * @param[out] out the summary, owned by the caller (free with
 *             mmig_recover_summary_free()).
 * @return as mmig_recover() (with @p id NULL) or mmig_recover_one().
 */
MMIG_EXPORT int mmig_recover_plan(struct mmig_journal *j,
				  const struct mmig_registry *r,
				  const struct mmig_recover_options *opts,
				  const char *id, enum mmig_recover_mode mode,
				  struct mmig_recover_summary **out);

/** Free a summary, its items and their strings.  NULL is a no-op. */
MMIG_EXPORT void mmig_recover_summary_free(struct mmig_recover_summary *s);

/**
 * Item @p i (0 <= i < s->n) of a summary, whatever the size of the struct
 * the caller was compiled with (since 0.2).
 * @return the item, or NULL when @p s is NULL or @p i is out of range.
 */
MMIG_EXPORT struct mmig_recover_item *
mmig_recover_summary_item(const struct mmig_recover_summary *s, size_t i);

#ifdef __cplusplus
}
#endif

#endif
