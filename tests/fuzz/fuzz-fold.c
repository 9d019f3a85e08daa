/*
 * tests/fuzz/fuzz-fold.c - libFuzzer target for the fold: a sequence of
 * transitions, decoded from the input, folded one by one.
 *
 * Input: byte 0 is the plan length (mod 9); then records of
 *
 *     kind  op  epoch-step  data-length  data...
 *
 * one byte each but the data: kind 0..17 maps onto BEGIN..CLAIMED and a
 * few kinds that are not transitions, op is the byte minus 2 (so -2..253),
 * the epoch grows by epoch-step (and, when that byte is 255, goes back by
 * one: a fenced-out writer).  Each record also goes through the codec
 * (encode, decode, compare) before it is folded, as recovery reads it.
 *
 * Illegal sequences are expected; what must hold is the fold's own
 * contract (journal/fold.c): a rejected record changes nothing and says
 * why; an accepted one counts; the state is always one of the six; a
 * final state is reached only as its rule says.  A property that does
 * not hold aborts, which libFuzzer reports as a crash.
 */
#include "record.h"

#include "mmig/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t fold_kinds[] = {
	MMIG_REC_BEGIN,	      MMIG_REC_DONE,	    MMIG_REC_FAIL,
	MMIG_REC_CHECKPOINT,  MMIG_REC_UNDO_BEGIN,  MMIG_REC_UNDO_DONE,
	MMIG_REC_UNDO_FAIL,   MMIG_REC_MODEL_DELETED, MMIG_REC_COMMITTED,
	MMIG_REC_ROLLED_BACK, MMIG_REC_NEEDS_ATTENTION, MMIG_REC_PAUSED,
	MMIG_REC_RESUMED,     MMIG_REC_CLAIMED,	    MMIG_REC_HEADER,
	MMIG_REC_STATUS,      9,		    99,
};

/* A snapshot of what a rejected record must leave as it was. */
struct fold_view {
	uint32_t state;
	uint64_t n_records, last_epoch;
	int64_t highest_begun, failed_op;
	bool model_deleted;
	uint8_t flags[4][8];
};

static void
fold_view(const struct mmig_fold *f, struct fold_view *v)
{
	memset(v, 0, sizeof(*v));
	v->state = f->state;
	v->n_records = f->n_records;
	v->last_epoch = f->last_epoch;
	v->highest_begun = f->highest_begun;
	v->failed_op = f->failed_op;
	v->model_deleted = f->model_deleted;
	for (uint32_t i = 0; i < f->n_ops && i < 8; i++) {
		v->flags[0][i] = f->begun[i];
		v->flags[1][i] = f->done[i];
		v->flags[2][i] = f->undo_begun[i];
		v->flags[3][i] = f->undone[i];
	}
}

static void
fold_check_state(const struct mmig_fold *f)
{
	if (!mmig__state_name(f->state) ||
	    strcmp(mmig__state_name(f->state), "?") == 0)
		abort();
	if (f->highest_begun >= (int64_t)f->n_ops || f->highest_begun < -1)
		abort();
	if (f->state == MMIG_STATE_COMMITTED)
		for (uint32_t i = 0; i < f->n_ops; i++)
			if (!f->done[i])
				abort();
	if (f->state == MMIG_STATE_ROLLED_BACK) {
		for (uint32_t i = 0; i < f->n_ops; i++)
			if (f->begun[i] && !f->undone[i])
				abort();
	}
	for (uint32_t i = 0; i < f->n_ops; i++)
		if ((f->done[i] && !f->begun[i]) ||
		    (f->undone[i] && !f->undo_begun[i]))
			abort();
}

/* Through the codec, as the journal stores it; @return the decoded copy
 * in @p out, or false when the encoder refuses the record. */
static bool
fold_round_trip(const struct mmig_rec_transition *t,
		struct mmig_rec_transition *out)
{
	uint8_t *buf;
	size_t len;

	if (mmig__rec_transition_encode(t, &buf, &len) != MMIG_OK)
		return false;
	if (mmig__rec_transition_decode(buf, len, out, NULL) != MMIG_OK ||
	    !mmig__rec_transition_equal(t, out))
		abort();
	free(buf);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmig_fold f;
	size_t at = 1;
	uint64_t epoch = 1;

	if (size < 1 || mmig__fold_init(&f, data[0] % 9) != MMIG_OK)
		return 0;
	while (at + 4 <= size) {
		struct mmig_rec_transition t = {
			.kind = fold_kinds[data[at] % (sizeof(fold_kinds) /
						      sizeof(fold_kinds[0]))],
			.op = (int64_t)data[at + 1] - 2,
			.time_ns = at,
		}, d;
		struct mmig_error *err = NULL;
		struct fold_view before, after;
		size_t dlen = data[at + 3];
		int rc;

		if (data[at + 2] == 255 && epoch > 0)
			epoch--;
		else
			epoch += data[at + 2] % 3;
		t.epoch = epoch;
		at += 4;
		if (dlen > size - at)
			dlen = size - at;
		if (dlen) {
			t.data = (uint8_t *)data + at;
			t.data_len = dlen;
			at += dlen;
		}
		fold_view(&f, &before);
		if (fold_round_trip(&t, &d)) {
			rc = mmig__fold_apply(&f, before.n_records, &d, &err);
			mmig__rec_transition_free(&d);
		} else {
			rc = mmig__fold_apply(&f, before.n_records, &t, &err);
		}
		fold_view(&f, &after);
		if (rc == MMIG_OK) {
			if (err || after.n_records != before.n_records + 1)
				abort();
		} else {
			/* rejected: a reason, and nothing changed */
			if ((rc != MMIG_EILLEGAL && rc != MMIG_ENOMEM) || !err ||
			    !mmig_error_message(err)[0] ||
			    memcmp(&before, &after, sizeof(before)) != 0)
				abort();
			mmig_error_free(err);
		}
		fold_check_state(&f);
	}
	(void)mmig__fold_ops_done(&f);
	mmig__fold_free(&f);
	return 0;
}
