/*
 * journal/fold.c - the fold: a migration's state as a pure function of its
 * transitions, in seq order.
 *
 * It owns the rules of what may follow what.  Recovery, verify and the
 * writer all fold the same way, so a journal that one of them accepts the
 * others accept too, and a writer cannot stage a record that a later reader
 * would refuse.
 *
 * Rules (state starts RUNNING; "op" means 0 <= op < n_ops; kinds marked
 * "no op" must carry op -1):
 *   every record   not after COMMITTED or ROLLED_BACK (final); epoch not
 *                  below the last record's (fencing, invariant F)
 *   BEGIN i        RUNNING; ops < i all DONE; i not DONE.  A begun but
 *                  not done op may begin again (resume).
 *   CHECKPOINT i   RUNNING; i begun, not DONE; keeps the latest blob
 *   DONE i         RUNNING; i begun, not DONE
 *   FAIL i         RUNNING; i <= highest begun + 1 (a cancel may fail the
 *                  op about to begin); i not DONE -> ROLLING_BACK; the
 *                  first FAIL's text is the cause
 *   UNDO_BEGIN i   any non-final state; i not undone -> ROLLING_BACK.
 *                  i need not have begun: the one-ahead rule undoes an op
 *                  that may have started unrecorded.
 *   UNDO_DONE i    ROLLING_BACK; UNDO_BEGIN i seen; i not undone
 *   UNDO_FAIL i    ROLLING_BACK; UNDO_BEGIN i seen; i not undone;
 *                  its text becomes last_error
 *   MODEL_DELETED  RUNNING or ROLLING_BACK (no op); idempotent.  The op that
 *                  created the model database deleted it (normally in its
 *                  rollback); informative, never required.
 *   NEEDS_ATTENTION ROLLING_BACK -> NEEDS_ATTENTION (no op); its text, if
 *                  any, becomes last_error.  Not final: an operator may
 *                  retry the rollback with UNDO_BEGIN.
 *   COMMITTED      RUNNING, every op DONE (no op)
 *   ROLLED_BACK    ROLLING_BACK, or NEEDS_ATTENTION once every begun op is
 *                  undone (settling one whose failure was not an op's);
 *                  every begun op undone.  No MODEL_DELETED needed: only
 *                  the op that created the model database deletes it, and
 *                  a migration of an existing one deletes nothing.
 *   PAUSED         RUNNING -> PAUSED (no op)
 *   RESUMED        PAUSED -> RUNNING (no op)
 *   CLAIMED        any non-final state, no change (no op)
 *
 * Invariant: a rejected record leaves the fold exactly as it was.  Every
 * check, and every allocation the record needs, happens before the first
 * change.
 */
#include "internal.h"
#include "record.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
mmig__fold_init(struct mmig_fold *f, uint32_t n_ops)
{
	memset(f, 0, sizeof(*f));
	f->n_ops = n_ops;
	f->state = MMIG_STATE_RUNNING;
	f->highest_begun = -1;
	f->failed_op = -1;
	f->begun = mmig__calloc(n_ops, 1);
	f->done = mmig__calloc(n_ops, 1);
	f->undo_begun = mmig__calloc(n_ops, 1);
	f->undone = mmig__calloc(n_ops, 1);
	f->checkpoint = mmig__calloc(n_ops, sizeof(*f->checkpoint));
	f->checkpoint_len = mmig__calloc(n_ops, sizeof(*f->checkpoint_len));
	if (!f->begun || !f->done || !f->undo_begun || !f->undone ||
	    !f->checkpoint || !f->checkpoint_len) {
		mmig__fold_free(f);
		return MMIG_ENOMEM;
	}
	return MMIG_OK;
}

void
mmig__fold_free(struct mmig_fold *f)
{
	if (!f)
		return;
	if (f->checkpoint)
		for (uint32_t i = 0; i < f->n_ops; i++)
			mmig__free(f->checkpoint[i]);
	mmig__free(f->checkpoint);
	mmig__free(f->checkpoint_len);
	mmig__free(f->begun);
	mmig__free(f->done);
	mmig__free(f->undo_begun);
	mmig__free(f->undone);
	mmig__free(f->cause);
	mmig__free(f->last_error);
	memset(f, 0, sizeof(*f));
}

uint32_t
mmig__fold_ops_done(const struct mmig_fold *f)
{
	uint32_t n = 0;

	for (uint32_t i = 0; f->done && i < f->n_ops; i++)
		n += f->done[i] != 0;
	return n;
}

bool
mmig__fold_rests(const struct mmig_fold *f)
{
	return (f->state == MMIG_STATE_PAUSED ||
		f->state == MMIG_STATE_NEEDS_ATTENTION) &&
	       f->last_kind != MMIG_REC_CLAIMED;
}

static bool
kind_has_op(uint32_t kind)
{
	switch (kind) {
	case MMIG_REC_BEGIN:
	case MMIG_REC_DONE:
	case MMIG_REC_FAIL:
	case MMIG_REC_CHECKPOINT:
	case MMIG_REC_UNDO_BEGIN:
	case MMIG_REC_UNDO_DONE:
	case MMIG_REC_UNDO_FAIL:
		return true;
	default:
		return false;
	}
}

static struct mmig_error *
illegal(uint64_t seq, const struct mmig_rec_transition *t, const char *fmt,
	...) __attribute__((format(printf, 3, 4)));

/* "seq 7 DONE op 3: <reason>", code MMIG_EILLEGAL. */
static struct mmig_error *
illegal(uint64_t seq, const struct mmig_rec_transition *t, const char *fmt,
	...)
{
	const char *name = mmig__rec_kind_name(t->kind);
	struct mmig_error *e;
	char kind[32], op[32] = "";
	va_list ap;

	if (strcmp(name, "?") == 0)
		snprintf(kind, sizeof(kind), "kind %" PRIu32, t->kind);
	else
		snprintf(kind, sizeof(kind), "%s", name);
	if (t->op != -1)
		snprintf(op, sizeof(op), " op %" PRId64, t->op);
	va_start(ap, fmt);
	e = mmig_error_newv(MMIG_EILLEGAL, fmt, ap);
	va_end(ap);
	return mmig_error_wrap(e, "seq %" PRIu64 " %s%s", seq, kind, op);
}

/* A NUL-terminated copy of a record's text, or NULL for no data.  *nomem is
 * set when the copy failed. */
static char *
text_of(const struct mmig_rec_transition *t, bool *nomem)
{
	char *s;

	if (!t->data)
		return NULL;
	s = mmig__malloc(t->data_len + 1);
	if (!s) {
		*nomem = true;
		return NULL;
	}
	if (t->data_len)
		memcpy(s, t->data, t->data_len);
	s[t->data_len] = '\0';
	return s;
}

/* @return true when @p t can follow the records folded into @p f; else
 * false with the reason in @p why.  Reads @p f only. */
static bool
check(const struct mmig_fold *f, const struct mmig_rec_transition *t,
      char *why, size_t size)
{
	const char *st = mmig__state_name(f->state);
	uint32_t i = t->op >= 0 ? (uint32_t)t->op : 0;

#define WHY(...) (snprintf(why, size, __VA_ARGS__), false)
#define WANT_STATE(s)                                                          \
	if (f->state != MMIG_STATE_##s)                                        \
		return WHY("state is %s, not " #s, st);

	if (!mmig__rec_kind_is_transition(t->kind))
		return WHY("%s", t->kind == MMIG_REC_HEADER ||
					 t->kind == MMIG_REC_STATUS
				 ? "not a transition"
				 : "unknown kind");
	if (mmig__state_is_final(f->state))
		return WHY("migration is already %s", st);
	if (t->epoch < f->last_epoch)
		return WHY("epoch %" PRIu64 " is older than %" PRIu64
			   " (fenced out)",
			   t->epoch, f->last_epoch);
	if (kind_has_op(t->kind)) {
		if (t->op < 0 || t->op >= (int64_t)f->n_ops)
			return WHY("op out of range (plan has %" PRIu32
				   " ops)",
				   f->n_ops);
	} else if (t->op != -1) {
		return WHY("takes no op");
	}

	switch (t->kind) {
	case MMIG_REC_BEGIN:
		WANT_STATE(RUNNING);
		for (uint32_t j = 0; j < i; j++)
			if (!f->done[j])
				return WHY("op %" PRIu32 " is not done", j);
		if (f->done[i])
			return WHY("op %" PRIu32 " is already done", i);
		break;
	case MMIG_REC_CHECKPOINT:
	case MMIG_REC_DONE:
		WANT_STATE(RUNNING);
		if (!f->begun[i])
			return WHY("no BEGIN for op %" PRIu32, i);
		if (f->done[i])
			return WHY("op %" PRIu32 " is already done", i);
		break;
	case MMIG_REC_FAIL:
		WANT_STATE(RUNNING);
		if (t->op > f->highest_begun + 1)
			return WHY("op %" PRIu32 " is past the next op to "
				   "begin (highest begun: %" PRId64 ")",
				   i, f->highest_begun);
		if (f->done[i])
			return WHY("op %" PRIu32 " is already done", i);
		break;
	case MMIG_REC_UNDO_BEGIN:
		if (f->undone[i])
			return WHY("op %" PRIu32 " is already undone", i);
		break;
	case MMIG_REC_UNDO_DONE:
	case MMIG_REC_UNDO_FAIL:
		WANT_STATE(ROLLING_BACK);
		if (!f->undo_begun[i])
			return WHY("no UNDO_BEGIN for op %" PRIu32, i);
		if (f->undone[i])
			return WHY("op %" PRIu32 " is already undone", i);
		break;
	case MMIG_REC_MODEL_DELETED:
		if (f->state != MMIG_STATE_RUNNING &&
		    f->state != MMIG_STATE_ROLLING_BACK)
			return WHY("state is %s, not RUNNING or ROLLING_BACK",
				   st);
		break;
	case MMIG_REC_NEEDS_ATTENTION:
		WANT_STATE(ROLLING_BACK);
		break;
	case MMIG_REC_COMMITTED:
		WANT_STATE(RUNNING);
		for (uint32_t j = 0; j < f->n_ops; j++)
			if (!f->done[j])
				return WHY("op %" PRIu32 " is not done", j);
		break;
	case MMIG_REC_ROLLED_BACK:
		if (f->state != MMIG_STATE_ROLLING_BACK &&
		    f->state != MMIG_STATE_NEEDS_ATTENTION)
			return WHY("state is %s, not ROLLING_BACK or "
				   "NEEDS_ATTENTION",
				   st);
		for (uint32_t j = 0; j < f->n_ops; j++)
			if (f->begun[j] && !f->undone[j])
				return WHY("op %" PRIu32 " began but is not "
					   "undone",
					   j);
		break;
	case MMIG_REC_PAUSED:
		WANT_STATE(RUNNING);
		break;
	case MMIG_REC_RESUMED:
		WANT_STATE(PAUSED);
		break;
	case MMIG_REC_CLAIMED:
		break;
	}
	return true;
#undef WANT_STATE
#undef WHY
}

int
mmig__fold_apply(struct mmig_fold *f, uint64_t seq,
		 const struct mmig_rec_transition *t, struct mmig_error **errp)
{
	char why[160];
	uint8_t *blob = NULL;
	char *text = NULL;
	bool nomem = false;
	uint32_t i = t->op >= 0 ? (uint32_t)t->op : 0;

	if (!check(f, t, why, sizeof(why))) {
		if (errp)
			*errp = illegal(seq, t, "%s", why);
		return MMIG_EILLEGAL;
	}

	/* Allocate what the record keeps before changing anything. */
	if (t->kind == MMIG_REC_CHECKPOINT && t->data) {
		blob = mmig__malloc(t->data_len ? t->data_len : 1);
		if (!blob)
			nomem = true;
		else if (t->data_len)
			memcpy(blob, t->data, t->data_len);
	}
	if ((t->kind == MMIG_REC_FAIL && !f->cause) ||
	    t->kind == MMIG_REC_UNDO_FAIL ||
	    t->kind == MMIG_REC_NEEDS_ATTENTION)
		text = text_of(t, &nomem);
	if (nomem) {
		mmig__free(blob);
		mmig__free(text);
		if (errp)
			*errp = mmig_error_wrap(
				mmig_error_new(MMIG_ENOMEM, "out of memory"),
				"seq %" PRIu64 " %s", seq,
				mmig__rec_kind_name(t->kind));
		return MMIG_ENOMEM;
	}

	switch (t->kind) {
	case MMIG_REC_BEGIN:
		f->begun[i] = 1;
		if (t->op > f->highest_begun)
			f->highest_begun = t->op;
		break;
	case MMIG_REC_CHECKPOINT:
		mmig__free(f->checkpoint[i]);
		f->checkpoint[i] = blob;
		f->checkpoint_len[i] = blob ? t->data_len : 0;
		break;
	case MMIG_REC_DONE:
		f->done[i] = 1;
		break;
	case MMIG_REC_FAIL:
		f->failed_op = t->op;
		if (text)
			f->cause = text;
		f->state = MMIG_STATE_ROLLING_BACK;
		break;
	case MMIG_REC_UNDO_BEGIN:
		f->undo_begun[i] = 1;
		f->state = MMIG_STATE_ROLLING_BACK;
		break;
	case MMIG_REC_UNDO_DONE:
		f->undone[i] = 1;
		break;
	case MMIG_REC_UNDO_FAIL:
	case MMIG_REC_NEEDS_ATTENTION:
		/* A NEEDS_ATTENTION with no text keeps the UNDO_FAIL's. */
		if (text || t->kind == MMIG_REC_UNDO_FAIL) {
			mmig__free(f->last_error);
			f->last_error = text;
		}
		if (t->kind == MMIG_REC_NEEDS_ATTENTION)
			f->state = MMIG_STATE_NEEDS_ATTENTION;
		break;
	case MMIG_REC_MODEL_DELETED:
		f->model_deleted = true;
		break;
	case MMIG_REC_COMMITTED:
		f->state = MMIG_STATE_COMMITTED;
		break;
	case MMIG_REC_ROLLED_BACK:
		f->state = MMIG_STATE_ROLLED_BACK;
		break;
	case MMIG_REC_PAUSED:
		f->state = MMIG_STATE_PAUSED;
		break;
	case MMIG_REC_RESUMED:
		f->state = MMIG_STATE_RUNNING;
		break;
	}
	f->n_records++;
	f->last_epoch = t->epoch;
	f->last_kind = t->kind;
	f->last_time_ns = t->time_ns;
	return MMIG_OK;
}
