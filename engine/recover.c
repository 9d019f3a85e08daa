/*
 * engine/recover.c - settling migrations a crash left in flight.
 *
 * For each migration, in this order, and changing nothing until the last
 * step that can refuse:
 *   1. read header, status and the fold of the transitions (one read
 *      transaction); a record that cannot be trusted refuses the migration;
 *   2. check its state and owner: PAUSED and NEEDS_ATTENTION wait for an
 *      operator (unless named), a live owner is left alone;
 *   3. check every op of the plan is in the registry at its version;
 *   4. decide: a rollback already begun always finishes (rule 7); policy
 *      ROLLBACK rolls back from the op after the last BEGIN ("one ahead",
 *      rule 1); policy RESUME re-runs from the first op without DONE, if
 *      that op may be re-run (idempotent, or resumable from a checkpoint);
 *   5. claim it (fully synced, epoch bumped: invariant O), fence the
 *      databases with the new epoch (invariant F), look for undo markers
 *      the journal may have lost (rule 6/7), and run the decision through
 *      the coordinator with the ops rebuilt and set up in this process.
 * A plan is steps 1-4 with nothing written.
 *
 * Recovery deletes nothing by itself: the model database goes only with
 * the rollback of the op that created it (through mmig_scope_delete_model(),
 * fenced and journaled), never as a step of its own.
 *
 * Settling what needs attention: `rollback ID` of a NEEDS_ATTENTION
 * migration claims it and rolls back again every op not undone (its
 * UNDO_BEGIN takes the state back to ROLLING_BACK), whatever failed before
 * -- an op's undo, or the deletion of the model database inside one.  A
 * retry that fails again adds the same few records (CLAIMED, UNDO_BEGIN,
 * UNDO_FAIL, NEEDS_ATTENTION for the op that still fails), never more
 * for ops already undone, so retrying cannot make the journal grow but by
 * a constant per try.
 */
#include "coordinator-int.h"
#include "fault.h"
#include "internal.h"
#include "journal-int.h"
#include "mmig/recover.h"
#include "scope-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ROLLBACK_TIMEOUT_MS 60000u
#define DEFAULT_ROLLBACK_TRIES 3u

const char *
mmig_recover_action_name(enum mmig_recover_action a)
{
	switch (a) {
	case MMIG_RECOVER_COMMITTED:
		return "committed";
	case MMIG_RECOVER_ROLLED_BACK:
		return "rolled-back";
	case MMIG_RECOVER_NEEDS_ATTENTION:
		return "needs-attention";
	case MMIG_RECOVER_SKIPPED_LIVE:
		return "skipped-live";
	case MMIG_RECOVER_SKIPPED_PAUSED:
		return "skipped-paused";
	case MMIG_RECOVER_SKIPPED_ATTENTION:
		return "skipped-attention";
	case MMIG_RECOVER_REFUSED:
		return "refused";
	case MMIG_RECOVER_FAILED:
		return "failed";
	case MMIG_RECOVER_PAUSED:
		return "paused";
	}
	return "?";
}

static bool
is_unsettled(enum mmig_recover_action a)
{
	return a == MMIG_RECOVER_NEEDS_ATTENTION || a == MMIG_RECOVER_REFUSED ||
	       a == MMIG_RECOVER_FAILED;
}

/* ---- summary building ---------------------------------------------------- */

static void
item_message(struct mmig_recover_item *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
item_message(struct mmig_recover_item *it, const char *fmt, ...)
{
	va_list ap;

	mmig__free(it->message);
	va_start(ap, fmt);
	it->message = mmig__vasprintf(fmt, ap);
	va_end(ap);
}

/*
 * Add a step: as data (@p action, the op's @p index or -1, its name @p op
 * and @p detail, each may be NULL but action) and as the line of prose
 * @p fmt makes.  action is a string constant; op and detail are copies the
 * item owns; text is steps[i].  Out of memory, the step is dropped, or
 * step_info is dropped altogether rather than let it disagree with
 * steps.
 */
static void
item_step(struct mmig_recover_item *it, const char *action, int64_t index,
	  const char *op, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void
item_step(struct mmig_recover_item *it, const char *action, int64_t index,
	  const char *op, const char *detail, const char *fmt, ...)
{
	struct mmig_recover_step *info = NULL;
	char **steps, *text, *op_copy = NULL, *detail_copy = NULL;
	va_list ap;

	steps = mmig__realloc(it->steps, (it->n_steps + 1) * sizeof(*steps));
	if (!steps)
		return;
	it->steps = steps;
	va_start(ap, fmt);
	text = mmig__vasprintf(fmt, ap);
	va_end(ap);
	if (!text)
		return;
	if (it->step_info || it->n_steps == 0) {
		info = mmig__realloc(it->step_info,
				     (it->n_steps + 1) * sizeof(*info));
		op_copy = op ? mmig__strdup(op) : NULL;
		detail_copy = detail ? mmig__strdup(detail) : NULL;
		if (!info || (op && !op_copy) || (detail && !detail_copy)) {
			struct mmig_recover_step *old =
				info ? info : it->step_info;

			mmig__free(op_copy);
			mmig__free(detail_copy);
			for (size_t i = 0; old && i < it->n_steps; i++) {
				mmig__free((char *)old[i].op);
				mmig__free((char *)old[i].detail);
			}
			mmig__free(old);
			info = NULL;
		}
		it->step_info = info;
	}
	if (info)
		info[it->n_steps] = (struct mmig_recover_step){
			.action = action,
			.index = index,
			.op = op_copy,
			.detail = detail_copy,
			.text = text,
		};
	it->steps[it->n_steps++] = text;
}

static void
item_clear(struct mmig_recover_item *it)
{
	for (size_t i = 0; i < it->n_steps; i++) {
		mmig__free(it->steps[i]);
		if (it->step_info) {
			mmig__free((char *)it->step_info[i].op);
			mmig__free((char *)it->step_info[i].detail);
		}
	}
	mmig__free(it->steps);
	mmig__free(it->step_info);
	mmig__free(it->message);
}

struct mmig_recover_item *
mmig_recover_summary_item(const struct mmig_recover_summary *s, size_t i)
{
	/* items is of this library's layout, whatever the caller's. */
	return s && i < s->n ? &s->items[i] : NULL;
}

void
mmig_recover_summary_free(struct mmig_recover_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		item_clear(&s->items[i]);
	mmig__free(s->items);
	mmig__free(s);
}

static struct mmig_recover_item *
summary_add(struct mmig_recover_summary *s, const uint8_t id[MMIG_ID_LEN])
{
	struct mmig_recover_item *items =
		mmig__realloc(s->items, (s->n + 1) * sizeof(*items));

	if (!items)
		return NULL;
	s->items = items;
	memset(&items[s->n], 0, sizeof(items[s->n]));
	mmig__id_text(id, items[s->n].id);
	return &items[s->n++];
}

/* ---- what we know of one migration before touching it -------------------- */

struct subject {
	uint8_t id[MMIG_ID_LEN];
	struct mmig_rec_header h;
	struct mmig_rec_status st;
	struct mmig_fold fold;
};

static void
subject_free(struct subject *m)
{
	mmig__rec_header_free(&m->h);
	mmig__rec_status_free(&m->st);
	mmig__fold_free(&m->fold);
}

static int
subject_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
	     struct subject *m, struct mmig_error **errp)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->id, id, MMIG_ID_LEN);
	return mmig__journal_read(j, id, &m->h, &m->st, &m->fold, NULL, errp);
}

enum decision { DECIDE_NONE, DECIDE_ROLLBACK, DECIDE_RESUME };

static bool
rollback_begun(const struct mmig_fold *f)
{
	if (f->state == MMIG_STATE_ROLLING_BACK ||
	    f->state == MMIG_STATE_NEEDS_ATTENTION)
		return true;
	for (uint32_t i = 0; i < f->n_ops; i++)
		if (f->undo_begun[i] || f->undone[i])
			return true;
	return false;
}

static uint32_t
first_not_done(const struct mmig_fold *f)
{
	uint32_t k = 0;

	while (k < f->n_ops && f->done[k])
		k++;
	return k;
}

/*
 * The highest op that may have touched a database: the last BEGIN, or the
 * one after it, since a power cut can lose the newest commit (rule 1).
 */
static uint32_t
highest_may_have_started(const struct mmig_fold *f)
{
	/* One ahead (rule 1), but in a test of the unsafe design (fault.h). */
	int64_t hi = f->highest_begun + (MMIG_UNSAFE(NO_ONE_AHEAD) ? 0 : 1);

	if (hi >= (int64_t)f->n_ops)
		hi = (int64_t)f->n_ops - 1;
	return hi < 0 ? 0 : (uint32_t)hi;
}

/*
 * Only a RUNNING or ROLLING_BACK migration has a process driving it.  A
 * PAUSED or NEEDS_ATTENTION one rests: its last owner returned from
 * perform (or recovery) and may well still be alive, but acts no more --
 * unless its last record is CLAIMED, a recoverer about to act.  (The claim
 * itself applies the same rule again, atomically; see journal.c.)
 */
static bool
may_take_over(const struct mmig_recover_options *o, const struct mmig_fold *f)
{
	return o->force || ((f->state == MMIG_STATE_PAUSED ||
			     f->state == MMIG_STATE_NEEDS_ATTENTION) &&
			    f->last_kind != MMIG_REC_CLAIMED);
}

/* Steps 2-4: decide, and describe the steps in @p it. */
static enum decision
decide(struct mmig_journal *j, const struct mmig_registry *reg,
       const struct mmig_recover_options *o, enum mmig_recover_mode mode,
       const struct subject *m, struct mmig_recover_item *it)
{
	const struct mmig_fold *f = &m->fold;
	const struct mmig_op_vtable *vt;
	bool resume;
	uint32_t k;

	if (mode == MMIG_RECOVER_MODE_POLICY &&
	    f->state == MMIG_STATE_PAUSED) {
		it->action = MMIG_RECOVER_SKIPPED_PAUSED;
		item_message(it, "paused: resume or roll it back by id");
		return DECIDE_NONE;
	}
	if (mode == MMIG_RECOVER_MODE_POLICY &&
	    f->state == MMIG_STATE_NEEDS_ATTENTION) {
		it->action = MMIG_RECOVER_SKIPPED_ATTENTION;
		item_message(it, "needs attention: %s; fix the cause, then "
				 "roll it back by id",
			     f->last_error ? f->last_error : "a rollback failed");
		return DECIDE_NONE;
	}
	if (!may_take_over(o, f) &&
	    mmig__owner_active(j, m->id, &m->st.owner)) {
		it->action = MMIG_RECOVER_SKIPPED_LIVE;
		item_message(it, "owner pid %u on %s is alive", m->st.owner.pid,
			     m->st.owner.host);
		return DECIDE_NONE;
	}
	for (uint32_t i = 0; i < m->h.n_ops; i++) {
		const struct mmig_plan_op *p = &m->h.plan[i];
		struct mmig_op none;
		struct mmig_error *err;

		if (mmig_registry_find(reg, p->name, p->version, &vt) ==
		    MMIG_OK)
			continue;
		/* Not there: building it fails, with the message that says
		 * what is missing and what is there. */
		err = mmig_registry_build(reg, p->name, p->version, &none);
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "op %u: %s; nothing was changed", i,
			     mmig_error_message(err));
		mmig_error_free(err);
		return DECIDE_NONE;
	}
	resume = mode == MMIG_RECOVER_MODE_RESUME ||
		 (mode == MMIG_RECOVER_MODE_POLICY &&
		  o->policy == MMIG_POLICY_RESUME);
	if (resume && rollback_begun(f)) {
		if (mode == MMIG_RECOVER_MODE_RESUME) {
			it->action = MMIG_RECOVER_REFUSED;
			item_message(it, "its rollback has begun and can only be "
					 "finished: roll it back instead");
			return DECIDE_NONE;
		}
		item_step(it, "finish-rollback", -1, NULL,
			  "policy resume does not apply",
			  "finish the rollback already begun (policy "
			  "resume does not apply)");
		resume = false;
	}
	k = first_not_done(f);
	if (resume && k < m->h.n_ops) {
		const struct mmig_plan_op *p = &m->h.plan[k];
		bool idem = p->flags & MMIG_OP_IDEMPOTENT;
		bool from_cp = (p->flags & MMIG_OP_RESUMABLE) &&
			       f->checkpoint[k];

		if (!idem && !from_cp && (f->begun[k] || (int64_t)k ==
						       f->highest_begun + 1)) {
			if (!o->fallback_to_rollback) {
				it->action = MMIG_RECOVER_REFUSED;
				item_message(it, "op %u %s may have half run and "
						 "is neither idempotent nor "
						 "resumable from a checkpoint: "
						 "roll it back",
					     k, p->name);
				return DECIDE_NONE;
			}
			item_step(it, "fall-back", k, p->name,
				  "cannot be resumed",
				  "op %u %s cannot be resumed: falling "
				  "back to rollback", k, p->name);
			resume = false;
		}
	}
	if (resume) {
		if (f->state == MMIG_STATE_PAUSED)
			item_step(it, "resume", -1, NULL, "RESUMED",
				  "record RESUMED");
		for (uint32_t i = k; i < m->h.n_ops; i++) {
			const char *why = i != k	    ? NULL
					  : f->checkpoint[i] ? "from its last "
							       "checkpoint"
					  : f->begun[i] ? "again: idempotent"
							: NULL;

			item_step(it, "run", i, m->h.plan[i].name, why,
				  "run op %u %s%s%s%s", i, m->h.plan[i].name,
				  why ? " (" : "", why ? why : "",
				  why ? ")" : "");
		}
		item_step(it, "record", -1, NULL, "COMMITTED",
			  "record COMMITTED");
		return DECIDE_RESUME;
	}
	if (m->h.n_ops) {
		uint32_t hi = highest_may_have_started(f);

		for (uint32_t i = hi + 1; i-- > 0;) {
			const char *name = m->h.plan[i].name;

			if (f->undone[i])
				item_step(it, "skip", i, name, "undone before",
					  "skip op %u %s (undone before)", i,
					  name);
			else if ((int64_t)i > f->highest_begun)
				item_step(it, "roll-back", i, name,
					  "may have started: one ahead",
					  "roll back op %u %s (may have "
					  "started: one ahead)", i, name);
			else
				item_step(it, "roll-back", i, name, NULL,
					  "roll back op %u %s", i, name);
		}
	}
	/* No step of its own deletes the model database: the rollback of
	 * the op that created it does (and records MODEL_DELETED). */
	item_step(it, "record", -1, NULL, "ROLLED_BACK", "record ROLLED_BACK");
	return DECIDE_ROLLBACK;
}

/* ---- acting ---------------------------------------------------------------- */

static struct mmig_coordinator *
rebuild(const struct mmig_registry *reg, const struct mmig_recover_options *o,
	const struct mmig_rec_header *h, struct mmig_error **errp)
{
	struct mmig_coordinator *c;

	if (mmig_coordinator_new(&c, o->log, o->log_arg) != MMIG_OK) {
		*errp = mmig_error_new(MMIG_ENOMEM, "out of memory");
		return NULL;
	}
	mmig_coordinator_set_rollback_timeout(
		c, o->rollback_timeout_ms ? o->rollback_timeout_ms
					  : DEFAULT_ROLLBACK_TIMEOUT_MS);
	mmig__coordinator_set_rollback_tries(
		c, o->rollback_tries ? o->rollback_tries : DEFAULT_ROLLBACK_TRIES);
	for (uint32_t i = 0; i < h->n_ops; i++) {
		struct mmig_op op;

		*errp = mmig_registry_build(reg, h->plan[i].name,
					    h->plan[i].version, &op);
		if (!*errp && mmig_coordinator_add(c, op.vt, op.self) != MMIG_OK) {
			if (op.vt->destroy)
				op.vt->destroy(op.self);
			*errp = mmig_error_new(MMIG_ENOMEM, "out of memory");
		}
		if (*errp) {
			mmig_coordinator_free(c);
			return NULL;
		}
	}
	return c;
}

static enum mmig_recover_action
action_of(enum mmig_outcome o)
{
	switch (o) {
	case MMIG_OUTCOME_COMMITTED:
		return MMIG_RECOVER_COMMITTED;
	case MMIG_OUTCOME_ROLLED_BACK:
		return MMIG_RECOVER_ROLLED_BACK;
	case MMIG_OUTCOME_NEEDS_ATTENTION:
		return MMIG_RECOVER_NEEDS_ATTENTION;
	case MMIG_OUTCOME_PAUSED:
		return MMIG_RECOVER_PAUSED;
	default:
		return MMIG_RECOVER_FAILED;
	}
}

/*
 * What a refused claim makes of a migration.  A live owner settles it
 * itself: skipped.  A write lock held past the timeout (a writer stopped
 * inside a commit, whoever it is) says nothing of this migration's owner,
 * who may be dead: it is left unsettled, a failure that names the holder,
 * so that `recover || alert` alerts.  Anything else failed.
 */
static enum mmig_recover_action
claim_refused(int rc, const struct mmig_error *err)
{
	return (rc == MMIG_EOWNED || rc == MMIG_EFENCED) &&
			       mmig_error_code(err) != MMIG_EBUSY
		       ? MMIG_RECOVER_SKIPPED_LIVE
		       : MMIG_RECOVER_FAILED;
}

/*
 * The description is in a side file that is missing or not what its
 * header says (journal/side.c): neither a rollback nor a resume can run
 * without the model, so the migration is claimed and left NEEDS_ATTENTION
 * with the reason, naming the file; nothing else is touched.  A RUNNING
 * or PAUSED one first gets UNDO_BEGIN of its highest op that may have
 * started (the fold reaches NEEDS_ATTENTION only through a rollback; an
 * undo begun is what a crash can leave too, so the later rollback simply
 * runs it).
 */
static void
attention_without_model(struct mmig_journal *j,
			const struct mmig_recover_options *o,
			const struct subject *m, struct mmig_recover_item *it)
{
	struct mmig_rec_header claimed = { 0 };
	struct mmig__jmig *jm = NULL;
	struct mmig_error *err = NULL;
	const char *why = m->h.desc_problem;
	int rc;

	rc = mmig__jmig_claim(j, m->id, m->st.epoch, o->force, &claimed, &jm,
			      &err);
	if (rc != MMIG_OK) {
		it->action = claim_refused(rc, err);
		item_message(it, "%s", mmig_error_message(err));
		goto out;
	}
	if (jm->fold.state == MMIG_STATE_RUNNING ||
	    jm->fold.state == MMIG_STATE_PAUSED) {
		uint32_t k = m->h.n_ops ? highest_may_have_started(&jm->fold)
					: 0;

		rc = mmig__jmig_stage(jm, MMIG_REC_UNDO_BEGIN, k, NULL, 0,
				      &err);
	}
	if (rc == MMIG_OK && jm->fold.state != MMIG_STATE_NEEDS_ATTENTION)
		rc = mmig__jmig_stage(jm, MMIG_REC_NEEDS_ATTENTION, -1, why,
				      strlen(why), &err);
	if (rc == MMIG_OK && jm->n_staged)
		rc = mmig__jmig_commit(jm, MMIG__SYNC_FULL, &err);
	if (rc != MMIG_OK) {
		it->action = MMIG_RECOVER_FAILED;
		item_message(it, "%s", err ? mmig_error_message(err)
					   : mmig_strerror(rc));
		goto out;
	}
	it->action = MMIG_RECOVER_NEEDS_ATTENTION;
	item_message(it, "model description: %s; nothing was changed: put "
			 "the file back, then roll it back by id",
		     why);
out:
	mmig__jmig_free(jm);
	mmig_error_free(err);
	mmig__rec_header_free(&claimed);
}

/* Step 5: claim, fence, and run the decision. */
static void
act(struct mmig_journal *j, const struct mmig_registry *reg,
    const struct mmig_recover_options *o, struct subject *m,
    enum decision d, struct mmig_recover_item *it)
{
	struct mmig_model model = { .uuid = m->h.model_uuid,
				    .desc = m->h.model_desc,
				    .desc_len = m->h.model_desc_len };
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_rec_header claimed = { 0 };
	struct mmig__jmig *jm = NULL;
	struct mmig_error *err = NULL;
	bool any_undo = false;
	int rc;

	if (!o->scope_for_model) {
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "no scope_for_model given: cannot reach the "
				 "databases");
		return;
	}
	if (m->h.desc_problem) {
		attention_without_model(j, o, m, it);
		return;
	}
	rc = o->scope_for_model(o->scope_arg, m->h.model_uuid,
				(enum mmig_durability)m->h.durability, &scope);
	if (rc != MMIG_OK) {
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "scope for model %s: %s", m->h.model_uuid,
			     mmig_strerror(rc));
		return;
	}
	err = mmig_registry_load_model(reg, m->h.model_desc,
				       m->h.model_desc_len, &model.data);
	if (err) {
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "model description: %s; nothing was changed",
			     mmig_error_message(err));
		goto out;
	}
	c = rebuild(reg, o, &m->h, &err);
	if (!c) {
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "%s; nothing was changed",
			     mmig_error_message(err));
		goto out;
	}
	/* The claim decides again, atomically, whether the owner may be
	 * passed over (a resting migration, or force). */
	rc = mmig__jmig_claim(j, m->id, m->st.epoch, o->force, &claimed, &jm,
			      &err);
	if (rc != MMIG_OK) {
		it->action = claim_refused(rc, err);
		item_message(it, "%s", mmig_error_message(err));
		goto out;
	}
	if (MMIG_FAULT(RECOVER_CLAIMED)) {
		it->action = MMIG_RECOVER_FAILED;
		item_message(it, "injected I/O error after the claim");
		mmig__jmig_free(jm);
		goto out;
	}
	/* Fence first: from here a stale owner can no longer commit. */
	mmig__scope_bind(scope, jm->id_text, jm->epoch);
	err = mmig__scope_fence(scope);
	if (!err && d == DECIDE_RESUME)
		err = mmig__scope_any_undo(scope, jm->id_text, &any_undo);
	mmig__scope_bind(scope, NULL, 0);
	if (err) {
		it->action = MMIG_RECOVER_FAILED;
		item_message(it, "%s", mmig_error_message(err));
		mmig__jmig_free(jm);
		goto out;
	}
	if (MMIG_FAULT(RECOVER_FENCED)) {
		it->action = MMIG_RECOVER_FAILED;
		item_message(it, "injected I/O error after fencing");
		mmig__jmig_free(jm);
		goto out;
	}
	if (d == DECIDE_RESUME && any_undo) {
		/* An undo committed whose UNDO_DONE the journal lost (rule 7). */
		item_step(it, "finish-rollback", -1, NULL,
			  "an undo marker is in the databases",
			  "an undo marker is in the databases: the "
			  "rollback had begun, finishing it instead");
		d = DECIDE_ROLLBACK;
	}
	if (d == DECIDE_RESUME)
		mmig__coordinator_resume(c, jm, scope, &model,
					 first_not_done(&jm->fold), o->ctx);
	else
		mmig__coordinator_rollback(
			c, jm, scope, &model,
			m->h.n_ops ? highest_may_have_started(&jm->fold) : 0,
			m->fold.cause ? m->fold.cause
				      : "interrupted; rolled back by recovery");
	it->action = action_of(mmig_coordinator_outcome(c));
	if (it->action != MMIG_RECOVER_COMMITTED &&
	    it->action != MMIG_RECOVER_ROLLED_BACK)
		item_message(it, "%s", mmig_coordinator_errmsg(c));
out:
	mmig_error_free(err);
	mmig__rec_header_free(&claimed);
	mmig_coordinator_free(c);
	mmig_registry_unload_model(reg, model.data);
	mmig_scope_free(scope);
}

static void
recover_id(struct mmig_journal *j, const struct mmig_registry *reg,
	   const struct mmig_recover_options *o, const uint8_t id[MMIG_ID_LEN],
	   enum mmig_recover_mode mode, bool dry, struct mmig_recover_item *it)
{
	struct mmig_error *err = NULL;
	struct subject m;
	enum decision d;

	if (subject_read(j, id, &m, &err) != MMIG_OK) {
		it->action = MMIG_RECOVER_REFUSED;
		item_message(it, "%s; nothing was changed",
			     mmig_error_message(err));
		mmig_error_free(err);
		subject_free(&m);
		return;
	}
	snprintf(it->model_uuid, sizeof(it->model_uuid), "%s", m.h.model_uuid);
	if (mmig__state_is_final(m.fold.state)) {
		it->action = m.fold.state == MMIG_STATE_COMMITTED
				     ? MMIG_RECOVER_COMMITTED
				     : MMIG_RECOVER_ROLLED_BACK;
		item_message(it, "already %s", mmig__state_name(m.fold.state));
		subject_free(&m);
		return;
	}
	d = decide(j, reg, o, mode, &m, it);
	if (d != DECIDE_NONE) {
		/* A plan says what would happen. */
		it->action = d == DECIDE_RESUME ? MMIG_RECOVER_COMMITTED
						: MMIG_RECOVER_ROLLED_BACK;
		if (!dry && MMIG_FAULT(RECOVER_DECIDED)) {
			it->action = MMIG_RECOVER_FAILED;
			item_message(it, "injected I/O error before the claim");
		} else if (!dry && o->ctx && mmig_ctx_err(o->ctx) != MMIG_OK) {
			/* Stopped before the claim: nothing was changed. */
			it->action = MMIG_RECOVER_FAILED;
			item_message(it, "stopped before it was claimed (%s); "
					 "nothing was changed",
				     mmig_strerror(mmig_ctx_err(o->ctx)));
		} else if (!dry) {
			act(j, reg, o, &m, d, it);
		}
	}
	subject_free(&m);
}

static struct mmig_recover_summary *
summary_new(void)
{
	return mmig__calloc(1, sizeof(struct mmig_recover_summary));
}

static void
summary_count(struct mmig_recover_summary *s)
{
	s->n_unsettled = 0;
	for (size_t i = 0; i < s->n; i++)
		if (is_unsettled(s->items[i].action))
			s->n_unsettled++;
}

static int
recover_all(struct mmig_journal *j, const struct mmig_registry *reg,
	    const struct mmig_recover_options *o, bool dry,
	    struct mmig_recover_summary **out)
{
	struct mmig_recover_summary *s;
	uint8_t(*ids)[MMIG_ID_LEN] = NULL;
	size_t n_ids = 0;
	int rc;

	*out = NULL;
	/* Rule 4: act on (and report) nothing a power cut could undo. */
	rc = mmig_journal_sync(j);
	if (rc == MMIG_OK && MMIG_FAULT(RECOVER_SYNCED))
		rc = -mmig__fault_errno();
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__journal_list(j, false, &ids, &n_ids, NULL);
	if (rc != MMIG_OK)
		return rc;
	s = summary_new();
	if (!s) {
		mmig__free(ids);
		return MMIG_ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct mmig_recover_item *it;

		/* Stopped (o->ctx cancelled): claim nothing more. */
		if (!dry && o->ctx && mmig_ctx_err(o->ctx) != MMIG_OK)
			break;
		it = summary_add(s, ids[i]);

		if (!it) {
			rc = MMIG_ENOMEM;
			break;
		}
		recover_id(j, reg, o, ids[i], MMIG_RECOVER_MODE_POLICY, dry, it);
	}
	mmig__free(ids);
	summary_count(s);
	*out = s;
	return rc;
}

/* Read the caller's options, of whatever layout, into ours (see "ABI" in
 * mmig/common.h). */
static int
options_in(struct mmig_recover_options *o,
	   const struct mmig_recover_options *opts)
{
	if (!opts)
		return MMIG_EINVAL;
	return mmig__sized_in(o, sizeof(*o), opts,
			      MMIG__END(struct mmig_recover_options, force));
}

int
mmig_recover(struct mmig_journal *j, const struct mmig_registry *r,
	     const struct mmig_recover_options *opts,
	     struct mmig_recover_summary **out)
{
	struct mmig_recover_options o;

	*out = NULL;
	if (options_in(&o, opts) != MMIG_OK)
		return MMIG_EINVAL;
	return recover_all(j, r, &o, false, out);
}

/* Resolve @p text (an id or a unique prefix) among every migration. */
static int
resolve(struct mmig_journal *j, const char *text, uint8_t id[MMIG_ID_LEN])
{
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	int rc = mmig_journal_get(j, text, &info);

	if (rc == MMIG_OK) {
		rc = mmig__id_parse(info.id, id);
		mmig_migration_info_clear(&info);
	}
	return rc;
}

static int
recover_named(struct mmig_journal *j, const struct mmig_registry *r,
	      const struct mmig_recover_options *o, const char *text,
	      enum mmig_recover_mode mode, bool dry,
	      struct mmig_recover_summary **out)
{
	struct mmig_recover_summary *s;
	struct mmig_recover_item *it;
	uint8_t id[MMIG_ID_LEN];
	int rc;

	*out = NULL;
	rc = mmig_journal_sync(j);
	if (rc == MMIG_OK && MMIG_FAULT(RECOVER_SYNCED))
		rc = -mmig__fault_errno();
	if (rc == MMIG_OK)
		rc = resolve(j, text, id);
	if (rc != MMIG_OK)
		return rc;
	s = summary_new();
	it = s ? summary_add(s, id) : NULL;
	if (!it) {
		mmig_recover_summary_free(s);
		return MMIG_ENOMEM;
	}
	recover_id(j, r, o, id, mode, dry, it);
	summary_count(s);
	*out = s;
	return MMIG_OK;
}

int
mmig_recover_one(struct mmig_journal *j, const struct mmig_registry *r,
		 const struct mmig_recover_options *opts, const char *id,
		 enum mmig_recover_mode mode, struct mmig_recover_summary **out)
{
	struct mmig_recover_options o;

	*out = NULL;
	if (options_in(&o, opts) != MMIG_OK)
		return MMIG_EINVAL;
	return recover_named(j, r, &o, id, mode, false, out);
}

int
mmig_recover_plan(struct mmig_journal *j, const struct mmig_registry *r,
		  const struct mmig_recover_options *opts, const char *id,
		  enum mmig_recover_mode mode, struct mmig_recover_summary **out)
{
	struct mmig_recover_options o;

	*out = NULL;
	if (options_in(&o, opts) != MMIG_OK)
		return MMIG_EINVAL;
	if (id)
		return recover_named(j, r, &o, id, mode, true, out);
	return recover_all(j, r, &o, true, out);
}
