/*
 * engine/coordinator.c - runs a migration's operations in order and rolls
 * back what ran when one fails.
 *
 * This file owns the baseline contract of DESIGN.md ("Coordinator
 * semantics"), down to the wording of its errors and logs, because callers
 * match on them.  Order of events for op i:
 *
 *     check ctx -> log "running operation" -> setup -> execute -> hook
 *
 * and on the first failure at op k:
 *
 *     log "import failed" -> rollback k, k-1, ..., 0 (each logged, every
 *     one called even when one fails)
 *
 * As in the origin, the coordinator never deletes the model database by
 * itself: the scope hands mmig_scope_delete_model() to the operations, and
 * the operation that created the model database deletes it in its own
 * rollback.  A migration that runs against a model database that already
 * existed (an upgrade step, a second migration of a live model) must never
 * lose it because one of its operations failed.
 *
 * Rollbacks get a context of their own (never the forward one, which may be
 * the very thing that was cancelled), with the coordinator's rollback
 * deadline.
 *
 * With a journal, every step is recorded before it is taken (invariant W):
 *
 *   header + BEGIN 0                 commit, fully synced (rule 2)
 *   op i runs
 *   DONE i + BEGIN i+1               one commit, one sync
 *   ...
 *   DONE n-1 + COMMITTED             fully synced before perform returns (T)
 *
 * and on failure at op k:
 *
 *   FAIL k + UNDO_BEGIN k            one commit
 *   rollback k
 *   UNDO_DONE k + UNDO_BEGIN k-1     one commit, before rollback k-1 (C)
 *   ...
 *   ROLLED_BACK                      fully synced (T)
 *
 * An op's rollback that deletes the model database (through the scope)
 * stages MODEL_DELETED right after the files are gone; it commits with
 * that op's UNDO_DONE (scope.c fences the deletion itself by the owner
 * epoch).
 *
 * A failed rollback is recorded as UNDO_FAIL and the migration ends
 * NEEDS_ATTENTION.  When the journal itself fails nothing more is done: an
 * unrecorded step is a step recovery cannot reason about.
 */
#include "ctx-int.h"
#include "fault.h"
#include "internal.h"
#include "coordinator-int.h"
#include "journal-int.h"
#include "mmig/coordinator.h"
#include "scope-int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mmig_coordinator {
	struct mmig_op *ops;
	size_t n_ops;
	size_t cap_ops;
	mmig_log_fn log;
	void *log_arg;
	mmig_hook_fn hook;
	void *hook_arg;
	uint64_t rollback_timeout_ms;
	unsigned rollback_tries;
	struct mmig_error *last_error;
	struct mmig_journal *journal;
	enum mmig_durability durability;
	enum mmig_outcome outcome;
	char migration_id[37];
	bool poisoned;
};

/* One perform (or one recovery of a migration): what the steps share. */
struct run {
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	const struct mmig_model *model;
	struct mmig__jmig *jm; /* NULL without a journal */
	struct mmig_error *jerr; /* the journal's first failure */
	bool recovering; /* ops were rebuilt in another process: set each up
	                    again before its rollback, and retry rollbacks */
	uint64_t last_commit_ns; /* of this migration's latest journal commit */
};

int
mmig_coordinator_new(struct mmig_coordinator **out, mmig_log_fn log,
		     void *log_arg)
{
	struct mmig_coordinator *c = mmig__calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return MMIG_ENOMEM;
	c->log = log ? log : mmig_log_stderr;
	c->log_arg = log ? log_arg : NULL;
	*out = c;
	return MMIG_OK;
}

void
mmig_coordinator_free(struct mmig_coordinator *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_ops; i++)
		if (c->ops[i].vt->destroy)
			c->ops[i].vt->destroy(c->ops[i].self);
	mmig__free(c->ops);
	mmig_error_free(c->last_error);
	mmig__free(c);
}

int
mmig_coordinator_add(struct mmig_coordinator *c,
		     const struct mmig_op_vtable *vt, void *self)
{
	/* The vtable is kept as it is: a field added after the first layout
	 * is read only through MMIG__HAS(). */
	if (!vt || !vt->name ||
	    mmig__sized_check(vt->size, MMIG__END(struct mmig_op_vtable,
						  destroy)) != MMIG_OK)
		return MMIG_EINVAL;
	if (c->n_ops == c->cap_ops) {
		size_t cap = c->cap_ops ? c->cap_ops * 2 : 8;
		struct mmig_op *ops =
			mmig__realloc(c->ops, cap * sizeof(*ops));

		if (!ops)
			return MMIG_ENOMEM;
		c->ops = ops;
		c->cap_ops = cap;
	}
	c->ops[c->n_ops++] = (struct mmig_op){ .vt = vt, .self = self };
	return MMIG_OK;
}

size_t
mmig_coordinator_len(const struct mmig_coordinator *c)
{
	return c->n_ops;
}

void
mmig_coordinator_set_hook(struct mmig_coordinator *c, mmig_hook_fn hook,
			  void *arg)
{
	c->hook = hook;
	c->hook_arg = arg;
}

void
mmig_coordinator_set_rollback_timeout(struct mmig_coordinator *c,
				      uint64_t timeout_ms)
{
	c->rollback_timeout_ms = timeout_ms;
}

const struct mmig_error *
mmig_coordinator_error(const struct mmig_coordinator *c)
{
	return c->last_error;
}

const char *
mmig_coordinator_errmsg(const struct mmig_coordinator *c)
{
	return mmig_error_message(c->last_error);
}

static void
logf_(const struct mmig_coordinator *c, enum mmig_log_level level,
      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
logf_(const struct mmig_coordinator *c, enum mmig_log_level level,
      const char *fmt, ...)
{
	char small[256];
	char *msg = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Long messages (errors with deep chains) are logged whole. */
	if ((size_t)n >= sizeof(small)) {
		msg = mmig__malloc((size_t)n + 1);
		if (!msg) {
			msg = small;
		} else {
			va_start(ap, fmt);
			vsnprintf(msg, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	c->log(c->log_arg, level, msg);
	if (msg != small)
		mmig__free(msg);
}

void
mmig_coordinator_set_journal(struct mmig_coordinator *c, struct mmig_journal *j,
			     enum mmig_durability d)
{
	c->journal = j;
	c->durability = d;
}

enum mmig_outcome
mmig_coordinator_outcome(const struct mmig_coordinator *c)
{
	return c->outcome;
}

const char *
mmig_outcome_name(enum mmig_outcome o)
{
	switch (o) {
	case MMIG_OUTCOME_NONE:
		return "none";
	case MMIG_OUTCOME_COMMITTED:
		return "committed";
	case MMIG_OUTCOME_ROLLED_BACK:
		return "rolled-back";
	case MMIG_OUTCOME_NEEDS_ATTENTION:
		return "needs-attention";
	case MMIG_OUTCOME_PAUSED:
		return "paused";
	case MMIG_OUTCOME_INTERRUPTED:
		return "interrupted";
	}
	return "?";
}

const char *
mmig_coordinator_migration_id(const struct mmig_coordinator *c)
{
	return c->migration_id;
}

/* ---- journal steps ------------------------------------------------------- */

/*
 * Stage one transition.  Without a journal, or once it failed, it does
 * nothing; the first failure is kept in r->jerr.
 */
static void
jnote(struct run *r, uint32_t kind, int64_t op, const char *text)
{
	struct mmig_error *err = NULL;

	if (!r->jm || r->jerr)
		return;
	if (mmig__jmig_stage(r->jm, kind, op, text, text ? strlen(text) : 0,
			     &err) != MMIG_OK)
		r->jerr = err ? err : mmig_error_new(MMIG_EJOURNAL, "stage");
}

/* Commit what is staged.  @return false when the journal has failed. */
static bool
jcommit(struct run *r, enum mmig__sync sync)
{
	struct mmig_error *err = NULL;

	if (!r->jm)
		return true;
	if (!r->jerr && mmig__jmig_commit(r->jm, sync, &err) != MMIG_OK)
		r->jerr = err ? err : mmig_error_new(MMIG_EJOURNAL, "commit");
	r->last_commit_ns = mmig__now_mono_ns();
	return r->jerr == NULL;
}

/*
 * A CHECKPOINT record's data is the op's own bytes behind an 8-byte prefix:
 * the number of the op's last database transaction when it was taken
 * (little-endian).  Resuming from the checkpoint restores that number, so
 * the op's later transactions get the same numbers, and so the same
 * markers, as in the run that was interrupted (invariant E): a transaction
 * that committed then is recognised and skipped, and no other is.
 */
#define CHECKPOINT_PREFIX 8

/*
 * A checkpoint is progress: it is committed when the migration's last
 * commit is this old, otherwise it rides on the next commit (a later
 * checkpoint, or DONE).  Losing one costs re-running some transactions --
 * skipped by their markers -- never correctness, and it saves a sync per
 * batch.  mmig_op_checkpoint_now() is for what a resume must know.
 */
#define CHECKPOINT_INTERVAL_NS (200u * 1000 * 1000)

static int
checkpoint(struct mmig_ctx *ctx, const void *data, size_t len, bool now)
{
	struct run *r = ctx ? ctx->run : NULL;
	struct mmig_error *err = NULL;
	uint64_t txn_no;
	uint8_t *buf;
	int rc;

	if (!r)
		return MMIG_EINVAL;
	if (!r->jm)
		return MMIG_OK;
	if (r->jerr)
		return mmig_error_code(r->jerr);
	buf = mmig__malloc(CHECKPOINT_PREFIX + len);
	if (!buf)
		return MMIG_ENOMEM;
	txn_no = r->scope->binding.txn_no;
	for (int i = 0; i < CHECKPOINT_PREFIX; i++)
		buf[i] = (uint8_t)(txn_no >> (8 * i));
	if (len)
		memcpy(buf + CHECKPOINT_PREFIX, data, len);
	rc = mmig__jmig_stage(r->jm, MMIG_REC_CHECKPOINT, (int64_t)ctx->op_index,
			      buf, CHECKPOINT_PREFIX + len, &err);
	mmig__free(buf);
	if (rc != MMIG_OK) {
		r->jerr = err ? err : mmig_error_new(rc, "checkpoint");
		return rc;
	}
	if (!now &&
	    mmig__now_mono_ns() - r->last_commit_ns < CHECKPOINT_INTERVAL_NS)
		return MMIG_OK;
	return jcommit(r, MMIG__SYNC_DATA) ? MMIG_OK : mmig_error_code(r->jerr);
}

int
mmig_op_checkpoint(struct mmig_ctx *ctx, const void *data, size_t len)
{
	return checkpoint(ctx, data, len, false);
}

int
mmig_op_checkpoint_now(struct mmig_ctx *ctx, const void *data, size_t len)
{
	return checkpoint(ctx, data, len, true);
}

bool
mmig_op_resume_point(struct mmig_ctx *ctx, const void **data, size_t *len)
{
	struct run *r = ctx ? ctx->run : NULL;
	const struct mmig_fold *f;
	const uint8_t *cp;
	uint64_t txn_no = 0;

	*data = NULL;
	*len = 0;
	if (!r || !r->jm)
		return false;
	f = &r->jm->fold;
	if (ctx->op_index >= f->n_ops || !f->checkpoint[ctx->op_index] ||
	    f->checkpoint_len[ctx->op_index] < CHECKPOINT_PREFIX)
		return false;
	cp = f->checkpoint[ctx->op_index];
	for (int i = CHECKPOINT_PREFIX; i-- > 0;)
		txn_no = txn_no << 8 | cp[i];
	/* The op goes on from here: number its transactions from here. */
	r->scope->binding.txn_no = txn_no;
	*data = cp + CHECKPOINT_PREFIX;
	*len = f->checkpoint_len[ctx->op_index] - CHECKPOINT_PREFIX;
	return true;
}

/* ---- the steps ----------------------------------------------------------- */

static struct mmig_error *
op_setup(const struct mmig_op *op, struct mmig_scope *scope)
{
	if (!op->vt->setup)
		return mmig_error_new(MMIG_ENOTIMPL, "setup not implemented");
	return op->vt->setup(op->self, scope);
}

static struct mmig_error *
op_execute(const struct mmig_op *op, struct mmig_ctx *ctx,
	   const struct mmig_model *model)
{
	if (!op->vt->execute)
		return mmig_error_new(MMIG_ENOTIMPL, "execute not implemented");
	return op->vt->execute(op->self, ctx, model);
}

static struct mmig_error *
op_rollback(const struct mmig_op *op, struct mmig_ctx *ctx,
	    const struct mmig_model *model)
{
	if (!op->vt->rollback)
		return NULL;
	return op->vt->rollback(op->self, ctx, model);
}

static struct mmig_error *owner_alive(void *arg);

/*
 * Run op i forward: the cancel check, setup, execute, hook.  The error comes
 * back annotated with the step that failed.
 */
static struct mmig_error *
run_op(struct run *r, struct mmig_ctx *ctx, size_t i)
{
	struct mmig_coordinator *c = r->c;
	const struct mmig_op *op = &c->ops[i];
	const char *name = op->vt->name;
	struct mmig_ctx op_ctx;
	struct mmig_error *err;
	int rc;

	rc = mmig_ctx_err(ctx);
	if (rc != MMIG_OK)
		return mmig_error_new(rc, "before operation %s: %s", name,
				      mmig_strerror(rc));
	logf_(c, MMIG_LOG_INFO, "running operation: %s", name);
	err = op_setup(op, r->scope);
	if (err)
		return mmig_error_wrap(err, "setup operation %s", name);
	mmig__ctx_init(&op_ctx, ctx);
	op_ctx.run = r;
	op_ctx.op_index = i;
	mmig__scope_bind_op(r->scope, (int64_t)i, false);
	if (MMIG_FAULT(OP_EXECUTE))
		return mmig_error_new(-EIO, "execute operation %s: injected "
					    "I/O error", name);
	err = owner_alive(r);
	if (err)
		return mmig_error_wrap(err, "before operation %s", name);
	err = op_execute(op, &op_ctx, r->model);
	if (err)
		return mmig_error_wrap(err, "execute operation %s", name);
	if (c->hook) {
		err = c->hook(c->hook_arg, op);
		if (err)
			return mmig_error_wrap(err, "hook operation %s", name);
	}
	return NULL;
}

/*
 * One op's rollback.  In recovery the op was rebuilt in this process, so
 * its setup runs first, and a failed rollback is tried again (up to
 * rollback_tries) while the rollback deadline allows.
 */
static struct mmig_error *
rollback_op(struct run *r, size_t i, struct mmig_ctx *rb_ctx)
{
	const struct mmig_op *op = &r->c->ops[i];
	unsigned tries = r->recovering && r->c->rollback_tries
				 ? r->c->rollback_tries
				 : 1;
	struct mmig_error *err = NULL;

	for (unsigned t = 0; t < tries; t++) {
		mmig_error_free(err);
		if (t > 0 && mmig_ctx_err(rb_ctx) != MMIG_OK)
			return mmig_error_new(mmig_ctx_err(rb_ctx),
					      "gave up after %u tries: %s", t,
					      mmig_strerror(mmig_ctx_err(rb_ctx)));
		err = r->recovering ? op_setup(op, r->scope) : NULL;
		if (err) {
			err = mmig_error_wrap(err, "setup");
			continue;
		}
		mmig__scope_bind_op(r->scope, (int64_t)i, true);
		err = MMIG_FAULT(OP_ROLLBACK)
			      ? mmig_error_new(-EIO, "injected I/O error")
			      : op_rollback(op, rb_ctx, r->model);
		/* Fenced out: another process owns the migration now, and
		 * trying again cannot change that. */
		if (!err || mmig_error_code(err) == MMIG_EFENCED)
			return err;
	}
	return err;
}

/* Terminal records are fully synced (rule 3), but in a test of the unsafe
 * design (fault.h). */
static enum mmig__sync
terminal_sync(void)
{
	return MMIG_UNSAFE(TERMINAL_NOT_FORCED) ? MMIG__SYNC_DATA
						: MMIG__SYNC_FULL;
}

/*
 * Roll back ops k..0 (skipping those the journal says are undone).  Nothing
 * else: the model database goes only with the rollback of the op that
 * created it.  Every rollback is called even when one fails;
 * each failure wraps @p err, so the first failure stays at the end of the
 * message and keeps its code.  @p *all_ok says whether everything was undone.
 */
static struct mmig_error *
roll_back(struct run *r, size_t k, struct mmig_error *err, bool *all_ok)
{
	struct mmig_coordinator *c = r->c;
	const struct mmig_fold *fold = r->jm ? &r->jm->fold : NULL;
	struct mmig_ctx rb_ctx;
	struct mmig_error *rb_err;
	bool begun = false; /* an UNDO_BEGIN is staged for the op at hand */
	/* Only in a test of the unsafe design (fault.h): UNDO_DONE i held
	 * back until the rollback of the next op has run. */
	bool undo_late = MMIG_UNSAFE(UNDO_LATE);
	int64_t late = -1; /* the op whose UNDO_DONE is held back */

	*all_ok = true;
	mmig__ctx_init(&rb_ctx, NULL);
	rb_ctx.run = r;
	for (size_t i = k + 1; i-- > 0;) {
		const struct mmig_op *op = &c->ops[i];

		/* Undone before a crash: never twice (invariant C). */
		if (fold && fold->undone[i])
			continue;
		if (!begun)
			jnote(r, MMIG_REC_UNDO_BEGIN, (int64_t)i, NULL);
		if (!jcommit(r, MMIG__SYNC_DATA))
			return err;
		logf_(c, MMIG_LOG_INFO, "rolling back operation: %s",
		      op->vt->name);
		rb_ctx.op_index = i;
		/* Each op's rollback has the whole deadline: one slow undo
		 * must not starve the ones after it. */
		mmig_ctx_set_timeout(&rb_ctx, c->rollback_timeout_ms);
		rb_err = rollback_op(r, i, &rb_ctx);
		if (late >= 0) { /* TEST-ONLY BREAK: too late */
			jnote(r, MMIG_REC_UNDO_DONE, late, NULL);
			late = -1;
		}
		if (!rb_err && undo_late) { /* TEST-ONLY BREAK */
			late = (int64_t)i;
		} else if (!rb_err) {
			jnote(r, MMIG_REC_UNDO_DONE, (int64_t)i, NULL);
		} else {
			*all_ok = false;
			logf_(c, MMIG_LOG_ERROR,
			      "rollback operation for %s failed: %s",
			      op->vt->name, mmig_error_message(rb_err));
			jnote(r, MMIG_REC_UNDO_FAIL, (int64_t)i,
			      mmig_error_message(rb_err));
			err = mmig_error_wrap(err,
					      "rollback operation at %zu with %s",
					      i, mmig_error_message(rb_err));
			mmig_error_free(rb_err);
		}
		/* UNDO_DONE i rides with UNDO_BEGIN of the next op to undo,
		 * committed before that rollback starts (invariant C). */
		begun = false;
		for (size_t n = i; n-- > 0;) {
			if (fold && fold->undone[n])
				continue;
			jnote(r, MMIG_REC_UNDO_BEGIN, (int64_t)n, NULL);
			begun = true;
			break;
		}
	}
	if (late >= 0) /* TEST-ONLY BREAK */
		jnote(r, MMIG_REC_UNDO_DONE, late, NULL);
	mmig__scope_bind_op(r->scope, -1, false);
	if (*all_ok)
		jnote(r, MMIG_REC_ROLLED_BACK, -1, NULL);
	else
		jnote(r, MMIG_REC_NEEDS_ATTENTION, -1, mmig_error_message(err));
	jcommit(r, terminal_sync()); /* MMIG__SYNC_FULL but in the test */
	return err;
}

/* Start the journaled migration: header + BEGIN 0, fully synced. */
static int
journal_start(struct run *r)
{
	struct mmig_coordinator *c = r->c;
	struct mmig_rec_header h = {
		.model_uuid = (char *)(r->model->uuid ? r->model->uuid : ""),
		.n_ops = (uint32_t)c->n_ops,
		.model_desc = (uint8_t *)r->model->desc,
		.model_desc_len = r->model->desc ? r->model->desc_len : 0,
		.durability = c->durability,
	};
	struct mmig_plan_op *plan;
	int rc;

	plan = mmig__calloc(c->n_ops, sizeof(*plan));
	if (!plan) {
		r->jerr = mmig_error_new(MMIG_ENOMEM, "journal: new migration: "
						      "out of memory");
		return MMIG_ENOMEM;
	}
	for (size_t i = 0; i < c->n_ops; i++)
		plan[i] = (struct mmig_plan_op){
			.name = (char *)c->ops[i].vt->name,
			.version = c->ops[i].vt->version,
			.flags = c->ops[i].vt->flags,
		};
	h.plan = plan;
	mmig__digest(h.model_desc, h.model_desc_len, h.digest);
	rc = mmig__jmig_create(c->journal, &h, &r->jm, &r->jerr);
	mmig__free(plan);
	if (rc != MMIG_OK && !r->jerr)
		r->jerr = mmig_error_new(rc, "journal: new migration: %s",
					 mmig_strerror(rc));
	if (rc != MMIG_OK)
		return rc;
	snprintf(c->migration_id, sizeof(c->migration_id), "%s",
		 r->jm->id_text);
	if (!c->n_ops)
		return MMIG_OK; /* the header rides with COMMITTED */
	jnote(r, MMIG_REC_BEGIN, 0, NULL);
	return jcommit(r, MMIG__SYNC_FULL) ? MMIG_OK
					    : mmig_error_code(r->jerr);
}

/*
 * The journal failed: stop here, poison the coordinator, and report the
 * journal's error beside the migration's own (if it had one).
 */
static int
interrupted(struct run *r, struct mmig_error *err)
{
	struct mmig_coordinator *c = r->c;

	c->poisoned = true;
	c->outcome = MMIG_OUTCOME_INTERRUPTED;
	logf_(c, MMIG_LOG_ERROR,
	      "journal failed, migration %s left for recovery: %s",
	      c->migration_id, mmig_error_message(r->jerr));
	if (err) {
		c->last_error = mmig_error_wrap(err, "journal failed with %s",
						mmig_error_message(r->jerr));
		mmig_error_free(r->jerr);
	} else {
		c->last_error = r->jerr;
	}
	r->jerr = NULL;
	mmig__jmig_free(r->jm);
	r->jm = NULL;
	return mmig_error_code(c->last_error);
}

/* The journal would not take the migration (nothing was written, no op
 * ran): an error like any other, not a journal failure. */
static int
refused(struct run *r)
{
	struct mmig_coordinator *c = r->c;

	c->last_error = r->jerr;
	r->jerr = NULL;
	logf_(c, MMIG_LOG_ERROR, "migration not started: %s",
	      mmig_error_message(c->last_error));
	return mmig_error_code(c->last_error);
}

/*
 * The migration's first commit (header and BEGIN 0) failed.  A commit is
 * all or nothing, so when the journal does not hold the migration now,
 * nothing was written and no op ran (a full disk at the header, say): the
 * journal refused it, and there is nothing for recovery to settle.  When it
 * does hold it (the commit took effect though reported failed), or the
 * journal cannot tell, it is a journal failure like any later one.
 */
static int
first_commit_failed(struct run *r)
{
	struct mmig_coordinator *c = r->c;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	int rc = mmig_journal_get(c->journal, c->migration_id, &info);

	if (rc == MMIG_OK)
		mmig_migration_info_clear(&info);
	if (rc != MMIG_ENOTFOUND)
		return interrupted(r, NULL);
	mmig__jmig_free(r->jm);
	r->jm = NULL;
	c->migration_id[0] = '\0';
	r->jerr = mmig_error_wrap(r->jerr, "the journal refused its first "
					   "commit, nothing was written");
	return refused(r);
}

/* Reset the per-perform results; @return false (with the error set) when
 * the coordinator may not run. */
static bool
begin_run(struct mmig_coordinator *c, struct mmig_scope *scope,
	  const struct mmig_model *model)
{
	mmig_error_free(c->last_error);
	c->last_error = NULL;
	c->outcome = MMIG_OUTCOME_NONE;
	c->migration_id[0] = '\0';
	if (c->poisoned) {
		c->last_error = mmig_error_new(
			MMIG_EPOISONED,
			"perform: an earlier journal failure poisoned this "
			"coordinator; recover, then make a new one");
		return false;
	}
	if (!scope || !model) {
		c->last_error = mmig_error_new(MMIG_EINVAL,
					       "perform: scope and model are required");
		return false;
	}
	return true;
}

/* Roll back from op @p hi because of @p err, and settle the outcome. */
static int
fail_and_roll_back(struct run *r, size_t hi, struct mmig_error *err)
{
	struct mmig_coordinator *c = r->c;
	bool all_ok;

	err = roll_back(r, hi, err, &all_ok);
	if (r->jerr)
		return interrupted(r, err);
	c->outcome = all_ok ? MMIG_OUTCOME_ROLLED_BACK
			    : MMIG_OUTCOME_NEEDS_ATTENTION;
	c->last_error = err;
	return mmig_error_code(err);
}

/*
 * Run ops @p from..n-1 (BEGIN @p from is already committed), then commit;
 * on failure pause or roll back.  Frees the journal handle.
 */
static int
run_forward(struct run *r, struct mmig_ctx *ctx, size_t from)
{
	struct mmig_coordinator *c = r->c;
	struct mmig_error *err = NULL;
	size_t i;
	int rc;

	for (i = from; i < c->n_ops; i++) {
		err = run_op(r, ctx, i);
		if (err)
			break;
		jnote(r, MMIG_REC_DONE, (int64_t)i, NULL);
		if (i + 1 < c->n_ops) {
			jnote(r, MMIG_REC_BEGIN, (int64_t)i + 1, NULL);
			if (!jcommit(r, MMIG__SYNC_DATA))
				return interrupted(r, NULL);
		}
	}
	if (!err) {
		jnote(r, MMIG_REC_COMMITTED, -1, NULL);
		if (!jcommit(r, terminal_sync())) /* SYNC_FULL, see there */
			return interrupted(r, NULL);
		c->outcome = MMIG_OUTCOME_COMMITTED;
		rc = MMIG_OK;
		goto out;
	}
	logf_(c, MMIG_LOG_ERROR, "import failed: %s", mmig_error_message(err));
	if (r->jm && mmig_error_code(err) == MMIG_ECANCELED &&
	    mmig_ctx_pause_requested(ctx)) {
		/* Paused: nothing is undone; recovery or an operator resumes
		 * from the first op without DONE. */
		jnote(r, MMIG_REC_PAUSED, -1, NULL);
		if (!jcommit(r, MMIG__SYNC_FULL))
			return interrupted(r, err);
		c->outcome = MMIG_OUTCOME_PAUSED;
		c->last_error = mmig_error_wrap(err, "paused");
		rc = MMIG_EPAUSED;
		goto out;
	}
	jnote(r, MMIG_REC_FAIL, (int64_t)i, mmig_error_message(err));
	rc = fail_and_roll_back(r, i, err);
	if (c->outcome == MMIG_OUTCOME_INTERRUPTED)
		return rc;
out:
	mmig__jmig_free(r->jm);
	r->jm = NULL;
	return rc;
}

/*
 * The scope deleted the model database (fenced, inside an op's rollback or
 * execute): MODEL_DELETED is staged at once and rides on the migration's
 * next commit -- UNDO_DONE of the op whose rollback deleted it (or its
 * UNDO_FAIL), at the latest the terminal record -- which costs no sync of
 * its own.  A crash before that commit loses it together with UNDO_DONE,
 * so recovery runs the op's rollback again and deletes again: deleting is
 * idempotent, and the record is made then.
 */
static struct mmig_error *
note_model_deleted(void *arg)
{
	struct run *r = arg;

	jnote(r, MMIG_REC_MODEL_DELETED, -1, NULL);
	if (r->jerr)
		return mmig_error_new(mmig_error_code(r->jerr),
				      "record MODEL_DELETED: %s",
				      mmig_error_message(r->jerr));
	return NULL;
}

/* Before every database commit: may this owner still act (on etcd: its
 * lease is certainly alive)? */
static struct mmig_error *
owner_alive(void *arg)
{
	struct run *r = arg;
	struct mmig_error *err = NULL;

	if (r->jm && mmig__jmig_check(r->jm, &err) != MMIG_OK)
		return err ? err : mmig_error_new(MMIG_ELEASE, "lease");
	return NULL;
}

/* Bind the scope's runners to the journaled migration (invariant E). */
static void
bind_scope(struct run *r)
{
	if (!r->jm)
		return;
	mmig__scope_bind(r->scope, r->jm->id_text, r->jm->epoch);
	r->scope->binding.model_deleted = note_model_deleted;
	r->scope->binding.model_deleted_arg = r;
	r->scope->binding.alive = owner_alive;
	r->scope->binding.alive_arg = r;
}

int
mmig_coordinator_perform(struct mmig_coordinator *c, struct mmig_ctx *ctx,
			 struct mmig_scope *scope,
			 const struct mmig_model *model)
{
	struct run r = { .c = c, .scope = scope, .model = model };
	int rc;

	if (!begin_run(c, scope, model))
		return mmig_error_code(c->last_error);
	if (c->journal && journal_start(&r) != MMIG_OK)
		return r.jm ? first_commit_failed(&r) : refused(&r);
	bind_scope(&r);
	rc = run_forward(&r, ctx, 0);
	mmig__scope_bind(scope, NULL, 0);
	return rc;
}

/* ---- recovery's entry points (coordinator-int.h) ------------------------- */

void
mmig__coordinator_set_rollback_tries(struct mmig_coordinator *c,
				     unsigned tries)
{
	c->rollback_tries = tries;
}

/* The common start of resume and rollback: the coordinator takes the
 * claimed migration over, bound to the scope.  @return false when it may not
 * run (the handle is then freed). */
static bool
begin_recovery_run(struct run *r)
{
	struct mmig_coordinator *c = r->c;

	if (!begin_run(c, r->scope, r->model)) {
		mmig__jmig_free(r->jm);
		r->jm = NULL;
		return false;
	}
	snprintf(c->migration_id, sizeof(c->migration_id), "%s",
		 r->jm->id_text);
	bind_scope(r);
	return true;
}

int
mmig__coordinator_resume(struct mmig_coordinator *c, struct mmig__jmig *jm,
			 struct mmig_scope *scope,
			 const struct mmig_model *model, size_t from,
			 struct mmig_ctx *ctx)
{
	struct run r = { .c = c, .scope = scope, .model = model, .jm = jm,
			 .recovering = true };
	int rc;

	if (!begin_recovery_run(&r))
		return mmig_error_code(c->last_error);
	if (jm->fold.state == MMIG_STATE_PAUSED)
		jnote(&r, MMIG_REC_RESUMED, -1, NULL);
	if (from < c->n_ops)
		jnote(&r, MMIG_REC_BEGIN, (int64_t)from, NULL);
	if (!jcommit(&r, MMIG__SYNC_DATA)) {
		rc = interrupted(&r, NULL);
	} else {
		logf_(c, MMIG_LOG_INFO, "resuming migration %s at operation %zu",
		      jm->id_text, from);
		rc = run_forward(&r, ctx, from);
	}
	mmig__scope_bind(scope, NULL, 0);
	return rc;
}

int
mmig__coordinator_rollback(struct mmig_coordinator *c, struct mmig__jmig *jm,
			   struct mmig_scope *scope,
			   const struct mmig_model *model, size_t hi,
			   const char *cause)
{
	struct run r = { .c = c, .scope = scope, .model = model, .jm = jm,
			 .recovering = true };
	int rc;

	if (!begin_recovery_run(&r))
		return mmig_error_code(c->last_error);
	logf_(c, MMIG_LOG_INFO, "rolling back migration %s from operation %zu",
	      jm->id_text, hi);
	rc = fail_and_roll_back(&r, hi, mmig_error_new(MMIG_EOP, "%s", cause));
	mmig__jmig_free(r.jm); /* NULL when interrupted() freed it */
	mmig__scope_bind(scope, NULL, 0);
	return rc;
}
