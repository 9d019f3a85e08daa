/*
 * tests/test-fold.c - the fold from a migration's transitions to its state:
 * every legal path, and illegal records that must be refused with
 * MMIG_EILLEGAL, an error naming the record, and the fold untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmig/error.h"
#include "record.h"

#define B MMIG_REC_BEGIN
#define D MMIG_REC_DONE
#define F MMIG_REC_FAIL
#define CP MMIG_REC_CHECKPOINT
#define UB MMIG_REC_UNDO_BEGIN
#define UD MMIG_REC_UNDO_DONE
#define UF MMIG_REC_UNDO_FAIL
#define MD MMIG_REC_MODEL_DELETED
#define CM MMIG_REC_COMMITTED
#define RB MMIG_REC_ROLLED_BACK
#define NA MMIG_REC_NEEDS_ATTENTION
#define PA MMIG_REC_PAUSED
#define RE MMIG_REC_RESUMED
#define CL MMIG_REC_CLAIMED

/* One step of a script: kind, op, epoch (0 = same as the previous step,
 * starting at 1), data text (NULL = none). */
struct step {
	uint32_t kind;
	int64_t op;
	uint64_t epoch;
	const char *text;
};

static int
apply(struct mmig_fold *f, uint64_t seq, const struct step *s,
      uint64_t *epoch, struct mmig_error **err)
{
	struct mmig_rec_transition t = {
		.kind = s->kind,
		.op = s->op,
		.epoch = s->epoch ? s->epoch : *epoch,
		.time_ns = 1000 + seq,
		.data = (uint8_t *)s->text,
		.data_len = s->text ? strlen(s->text) : 0,
	};

	*epoch = t.epoch;
	return mmig__fold_apply(f, seq, &t, err);
}

/* Fold a whole script that must be legal. */
static void
run_ok(struct mmig_fold *f, uint32_t n_ops, const struct step *steps,
       size_t n)
{
	uint64_t epoch = 1;

	assert_int_equal(mmig__fold_init(f, n_ops), MMIG_OK);
	for (size_t i = 0; i < n; i++) {
		struct mmig_error *err = NULL;
		int rc = apply(f, i, &steps[i], &epoch, &err);

		if (rc != MMIG_OK)
			fail_msg("step %zu: %s", i, mmig_error_message(err));
		assert_null(err);
		assert_int_equal(f->n_records, i + 1);
		assert_int_equal(f->last_epoch, epoch);
		assert_int_equal(f->last_time_ns, 1000 + i);
	}
}

#define RUN_OK(f, n_ops, ...)                                                  \
	do {                                                                   \
		const struct step s_[] = { __VA_ARGS__ };                      \
		run_ok(f, n_ops, s_, sizeof(s_) / sizeof(s_[0]));              \
	} while (0)

/* ---- legal paths -------------------------------------------------------- */

static void
test_fold_init(void **state)
{
	struct mmig_fold f;

	(void)state;
	assert_int_equal(mmig__fold_init(&f, 3), MMIG_OK);
	assert_int_equal(f.state, MMIG_STATE_RUNNING);
	assert_int_equal(f.n_ops, 3);
	assert_int_equal(f.n_records, 0);
	assert_int_equal(f.highest_begun, -1);
	assert_int_equal(f.failed_op, -1);
	assert_null(f.cause);
	assert_null(f.last_error);
	assert_false(f.model_deleted);
	assert_int_equal(mmig__fold_ops_done(&f), 0);
	mmig__fold_free(&f);
	mmig__fold_free(&f); /* zeroed: harmless */
	mmig__fold_free(NULL);
}

static void
test_fold_commit(void **state)
{
	struct mmig_fold f;

	(void)state;
	RUN_OK(&f, 3, { B, 0, 0, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
	       { D, 1, 0, NULL }, { B, 2, 0, NULL }, { D, 2, 0, NULL },
	       { CM, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	assert_int_equal(mmig__fold_ops_done(&f), 3);
	assert_int_equal(f.highest_begun, 2);
	assert_int_equal(f.failed_op, -1);
	mmig__fold_free(&f);

	/* A migration with no ops commits at once. */
	RUN_OK(&f, 0, { CM, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	mmig__fold_free(&f);
}

static void
test_fold_fail_then_rollback(void **state)
{
	struct mmig_fold f;

	(void)state;
	RUN_OK(&f, 3, { B, 0, 0, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
	       { F, 1, 0, "op copy-rows: disk full" },
	       /* one ahead: op 2 may have started unrecorded */
	       { UB, 2, 0, NULL }, { UD, 2, 0, NULL }, { UB, 1, 0, NULL },
	       { UD, 1, 0, NULL }, { UB, 0, 0, NULL }, { UD, 0, 0, NULL },
	       { MD, -1, 0, NULL }, { MD, -1, 0, NULL }, { RB, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLED_BACK);
	assert_int_equal(f.failed_op, 1);
	assert_string_equal(f.cause, "op copy-rows: disk full");
	assert_true(f.model_deleted);
	assert_int_equal(mmig__fold_ops_done(&f), 1);
	assert_true(f.undone[0] && f.undone[1] && f.undone[2]);
	mmig__fold_free(&f);
}

static void
test_fold_fail_before_begin_and_rollback_without_fail(void **state)
{
	struct mmig_fold f;

	(void)state;
	/* A cancel fails the op that was about to begin. */
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { D, 0, 0, NULL },
	       { F, 1, 0, "canceled" }, { UB, 0, 0, NULL }, { UD, 0, 0, NULL },
	       { MD, -1, 0, NULL }, { RB, -1, 0, NULL });
	assert_int_equal(f.failed_op, 1);
	assert_int_equal(f.highest_begun, 0);
	assert_string_equal(f.cause, "canceled");
	mmig__fold_free(&f);

	/* Recovery may decide to roll back with no FAIL at all, and a
	 * failure before anything began rolls back nothing. */
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { CL, -1, 2, "pid 9" },
	       { UB, 0, 0, NULL }, { UD, 0, 0, NULL }, { MD, -1, 0, NULL },
	       { RB, -1, 0, NULL });
	assert_int_equal(f.failed_op, -1);
	assert_null(f.cause);
	assert_int_equal(f.last_epoch, 2);
	mmig__fold_free(&f);
	RUN_OK(&f, 2, { F, 0, 0, NULL }, { MD, -1, 0, NULL },
	       { RB, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLED_BACK);
	mmig__fold_free(&f);
}

static void
test_fold_resume_after_rebegin(void **state)
{
	struct mmig_fold f;

	(void)state;
	/* The owner died inside op 1; a new owner claims (a newer epoch)
	 * and begins op 1 again. */
	RUN_OK(&f, 3, { B, 0, 1, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
	       { CL, -1, 2, "pid 77 on db-ctl-2" }, { B, 1, 0, NULL },
	       { B, 1, 3, NULL }, { D, 1, 0, NULL }, { B, 2, 0, NULL },
	       { D, 2, 0, NULL }, { CM, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	assert_int_equal(f.last_epoch, 3);
	assert_int_equal(f.n_records, 10);
	mmig__fold_free(&f);
}

static void
test_fold_pause_and_resume(void **state)
{
	struct mmig_fold f;

	(void)state;
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { D, 0, 0, NULL }, { PA, -1, 0, NULL },
	       { CL, -1, 2, NULL }, { RE, -1, 0, NULL }, { B, 1, 0, NULL },
	       { PA, -1, 0, NULL }, { RE, -1, 0, NULL }, { D, 1, 0, NULL },
	       { CM, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	mmig__fold_free(&f);

	/* A paused migration may be rolled back instead of resumed. */
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { PA, -1, 0, NULL },
	       { UB, 0, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLING_BACK);
	mmig__fold_free(&f);
}

static void
test_fold_needs_attention_then_retry(void **state)
{
	struct mmig_fold f;

	(void)state;
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
	       { F, 1, 0, "first" }, { UB, 1, 0, NULL }, { UD, 1, 0, NULL },
	       { UB, 0, 0, NULL }, { UF, 0, 0, "locked" },
	       { NA, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_NEEDS_ATTENTION);
	/* NEEDS_ATTENTION with no text keeps the UNDO_FAIL's. */
	assert_string_equal(f.last_error, "locked");
	assert_string_equal(f.cause, "first");
	mmig__fold_free(&f);

	/* An operator retries: claim, undo op 0 again, and finish. */
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
	       { F, 1, 0, "first" }, { UB, 1, 0, NULL }, { UD, 1, 0, NULL },
	       { UB, 0, 0, NULL }, { UF, 0, 0, "locked" },
	       { NA, -1, 0, "rollback of op 0 failed: locked" },
	       { CL, -1, 5, "operator" }, { UB, 0, 0, NULL },
	       { UF, 0, 0, "still locked" }, { UB, 0, 0, NULL },
	       { UD, 0, 0, NULL }, { MD, -1, 0, NULL }, { RB, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLED_BACK);
	assert_string_equal(f.last_error, "still locked");
	assert_string_equal(f.cause, "first");
	mmig__fold_free(&f);
}

static void
test_fold_model_deleted_is_informative(void **state)
{
	struct mmig_fold f;

	(void)state;
	/* A migration of an existing model database deletes nothing: its
	 * rollback ends without MODEL_DELETED. */
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { F, 0, 0, "boom" },
	       { UB, 0, 0, NULL }, { UD, 0, 0, NULL }, { RB, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLED_BACK);
	assert_false(f.model_deleted);
	mmig__fold_free(&f);
	/* An op may delete (and make again) the model database while it
	 * runs forward. */
	RUN_OK(&f, 1, { B, 0, 0, NULL }, { MD, -1, 0, NULL },
	       { D, 0, 0, NULL }, { CM, -1, 0, NULL });
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	assert_true(f.model_deleted);
	mmig__fold_free(&f);
	/* A NEEDS_ATTENTION whose every begun op is undone (an older
	 * journal's failed deletion) settles straight to ROLLED_BACK. */
	RUN_OK(&f, 1, { B, 0, 0, NULL }, { F, 0, 0, "boom" },
	       { UB, 0, 0, NULL }, { UD, 0, 0, NULL },
	       { NA, -1, 0, "delete failed" }, { CL, -1, 2, "operator" },
	       { RB, -1, 2, NULL });
	assert_int_equal(f.state, MMIG_STATE_ROLLED_BACK);
	mmig__fold_free(&f);
}

static void
test_fold_checkpoints(void **state)
{
	struct mmig_fold f;
	struct mmig_rec_transition t = {
		.kind = MMIG_REC_CHECKPOINT,
		.op = 1,
		.epoch = 1,
		.data = (uint8_t *)"\x00\x01\x02",
		.data_len = 3,
	};

	(void)state;
	RUN_OK(&f, 2, { B, 0, 0, NULL }, { CP, 0, 0, "row 100" },
	       { CP, 0, 0, "row 200" }, { D, 0, 0, NULL }, { B, 1, 0, NULL });
	assert_int_equal(f.checkpoint_len[0], 7);
	assert_memory_equal(f.checkpoint[0], "row 200", 7);
	assert_null(f.checkpoint[1]);
	assert_int_equal(f.checkpoint_len[1], 0);

	/* Binary blobs are kept as given. */
	assert_int_equal(mmig__fold_apply(&f, 5, &t, NULL), MMIG_OK);
	assert_int_equal(f.checkpoint_len[1], 3);
	assert_memory_equal(f.checkpoint[1], "\x00\x01\x02", 3);
	/* An empty checkpoint replaces the blob with an empty one. */
	t.data = (uint8_t *)"";
	t.data_len = 0;
	assert_int_equal(mmig__fold_apply(&f, 6, &t, NULL), MMIG_OK);
	assert_non_null(f.checkpoint[1]);
	assert_int_equal(f.checkpoint_len[1], 0);
	t.kind = MMIG_REC_DONE;
	t.data = NULL;
	assert_int_equal(mmig__fold_apply(&f, 7, &t, NULL), MMIG_OK);
	t.kind = MMIG_REC_COMMITTED;
	t.op = -1;
	assert_int_equal(mmig__fold_apply(&f, 8, &t, NULL), MMIG_OK);
	assert_int_equal(f.state, MMIG_STATE_COMMITTED);
	mmig__fold_free(&f);
}

/* ---- illegal records ---------------------------------------------------- */

struct illegal_case {
	const char *what;
	uint32_t n_ops;
	struct step prefix[12];
	size_t n_prefix;
	struct step bad;
	const char *want; /* the whole message */
};

#define S(...) { __VA_ARGS__ }
#define P(...)                                                                 \
	.prefix = { __VA_ARGS__ },                                             \
	.n_prefix = sizeof((struct step[]){ __VA_ARGS__ }) / sizeof(struct step)

static const struct illegal_case cases[] = {
	{ "DONE without BEGIN", 3, P(S(B, 0, 0, NULL), S(D, 0, 0, NULL)),
	  S(D, 1, 0, NULL), "seq 2 DONE op 1: no BEGIN for op 1" },
	{ "BEGIN skipping an op", 3, P(S(B, 0, 0, NULL)), S(B, 1, 0, NULL),
	  "seq 1 BEGIN op 1: op 0 is not done" },
	{ "BEGIN of a done op", 3, P(S(B, 0, 0, NULL), S(D, 0, 0, NULL)),
	  S(B, 0, 0, NULL), "seq 2 BEGIN op 0: op 0 is already done" },
	{ "DONE twice", 3, P(S(B, 0, 0, NULL), S(D, 0, 0, NULL)),
	  S(D, 0, 0, NULL), "seq 2 DONE op 0: op 0 is already done" },
	{ "op out of range", 3, P(S(B, 0, 0, NULL)), S(D, 3, 0, NULL),
	  "seq 1 DONE op 3: op out of range (plan has 3 ops)" },
	{ "negative op", 3, P(S(B, 0, 0, NULL)), S(UB, -1, 0, NULL),
	  "seq 1 UNDO_BEGIN: op out of range (plan has 3 ops)" },
	{ "an op on COMMITTED", 1, P(S(B, 0, 0, NULL), S(D, 0, 0, NULL)),
	  S(CM, 0, 0, NULL), "seq 2 COMMITTED op 0: takes no op" },
	{ "COMMITTED with an op not done", 2,
	  P(S(B, 0, 0, NULL), S(D, 0, 0, NULL), S(B, 1, 0, NULL)),
	  S(CM, -1, 0, NULL), "seq 3 COMMITTED: op 1 is not done" },
	{ "anything after COMMITTED", 1,
	  P(S(B, 0, 0, NULL), S(D, 0, 0, NULL), S(CM, -1, 0, NULL)),
	  S(CL, -1, 0, NULL),
	  "seq 3 CLAIMED: migration is already COMMITTED" },
	{ "UNDO after ROLLED_BACK", 1,
	  P(S(F, 0, 0, NULL), S(MD, -1, 0, NULL), S(RB, -1, 0, NULL)),
	  S(UB, 0, 0, NULL),
	  "seq 3 UNDO_BEGIN op 0: migration is already ROLLED_BACK" },
	{ "an older epoch (fenced)", 2, P(S(B, 0, 1, NULL), S(CL, -1, 4, NULL)),
	  S(D, 0, 3, NULL),
	  "seq 2 DONE op 0: epoch 3 is older than 4 (fenced out)" },
	{ "BEGIN while rolling back", 2, P(S(B, 0, 0, NULL), S(F, 0, 0, NULL)),
	  S(B, 0, 0, NULL),
	  "seq 2 BEGIN op 0: state is ROLLING_BACK, not RUNNING" },
	{ "FAIL past the next op", 3, P(S(B, 0, 0, NULL)), S(F, 2, 0, NULL),
	  "seq 1 FAIL op 2: op 2 is past the next op to begin (highest "
	  "begun: 0)" },
	{ "FAIL of a done op", 3, P(S(B, 0, 0, NULL), S(D, 0, 0, NULL)),
	  S(F, 0, 0, NULL), "seq 2 FAIL op 0: op 0 is already done" },
	{ "UNDO_DONE without UNDO_BEGIN", 2,
	  P(S(B, 0, 0, NULL), S(F, 0, 0, NULL)), S(UD, 0, 0, NULL),
	  "seq 2 UNDO_DONE op 0: no UNDO_BEGIN for op 0" },
	{ "undone twice", 2,
	  P(S(B, 0, 0, NULL), S(F, 0, 0, NULL), S(UB, 0, 0, NULL),
	    S(UD, 0, 0, NULL)),
	  S(UD, 0, 0, NULL), "seq 4 UNDO_DONE op 0: op 0 is already undone" },
	{ "UNDO_BEGIN of an undone op", 2,
	  P(S(B, 0, 0, NULL), S(F, 0, 0, NULL), S(UB, 0, 0, NULL),
	    S(UD, 0, 0, NULL)),
	  S(UB, 0, 0, NULL), "seq 4 UNDO_BEGIN op 0: op 0 is already undone" },
	{ "ROLLED_BACK while running", 1, P(S(B, 0, 0, NULL)),
	  S(RB, -1, 0, NULL),
	  "seq 1 ROLLED_BACK: state is RUNNING, not ROLLING_BACK or "
	  "NEEDS_ATTENTION" },
	{ "ROLLED_BACK with a begun op not undone", 2,
	  P(S(B, 0, 0, NULL), S(D, 0, 0, NULL), S(B, 1, 0, NULL),
	    S(F, 1, 0, NULL), S(UB, 1, 0, NULL), S(UD, 1, 0, NULL),
	    S(MD, -1, 0, NULL)),
	  S(RB, -1, 0, NULL),
	  "seq 7 ROLLED_BACK: op 0 began but is not undone" },
	{ "MODEL_DELETED while paused", 1,
	  P(S(B, 0, 0, NULL), S(PA, -1, 0, NULL)), S(MD, -1, 0, NULL),
	  "seq 2 MODEL_DELETED: state is PAUSED, not RUNNING or "
	  "ROLLING_BACK" },
	{ "NEEDS_ATTENTION while running", 1, P(S(B, 0, 0, NULL)),
	  S(NA, -1, 0, "x"),
	  "seq 1 NEEDS_ATTENTION: state is RUNNING, not ROLLING_BACK" },
	{ "RESUMED while running", 1, P(S(B, 0, 0, NULL)), S(RE, -1, 0, NULL),
	  "seq 1 RESUMED: state is RUNNING, not PAUSED" },
	{ "PAUSED twice", 1, P(S(PA, -1, 0, NULL)), S(PA, -1, 0, NULL),
	  "seq 1 PAUSED: state is PAUSED, not RUNNING" },
	{ "CHECKPOINT of an op not begun", 2, P(S(B, 0, 0, NULL)),
	  S(CP, 1, 0, "blob"), "seq 1 CHECKPOINT op 1: no BEGIN for op 1" },
	{ "CHECKPOINT while paused", 2, P(S(B, 0, 0, NULL), S(PA, -1, 0, NULL)),
	  S(CP, 0, 0, "blob"),
	  "seq 2 CHECKPOINT op 0: state is PAUSED, not RUNNING" },
	{ "UNDO_DONE in NEEDS_ATTENTION", 1,
	  P(S(B, 0, 0, NULL), S(F, 0, 0, NULL), S(UB, 0, 0, NULL),
	    S(UF, 0, 0, "x"), S(NA, -1, 0, NULL)),
	  S(UD, 0, 0, NULL),
	  "seq 5 UNDO_DONE op 0: state is NEEDS_ATTENTION, not ROLLING_BACK" },
	{ "a HEADER in the stream", 1, P(S(B, 0, 0, NULL)),
	  S(MMIG_REC_HEADER, -1, 0, NULL), "seq 1 HEADER: not a transition" },
	{ "a STATUS in the stream", 1, P(S(B, 0, 0, NULL)),
	  S(MMIG_REC_STATUS, -1, 0, NULL), "seq 1 STATUS: not a transition" },
	{ "an unknown kind", 1, P(S(B, 0, 0, NULL)), S(99, -1, 0, NULL),
	  "seq 1 kind 99: unknown kind" },
};

static void
test_fold_illegal_records_are_refused(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct illegal_case *k = &cases[c];
		struct mmig_fold f;
		struct mmig_error *err = NULL;
		uint64_t epoch = 1;
		uint64_t n_records, last_epoch, last_time;
		uint32_t st, done;
		int64_t highest, failed;
		char *cause, *last_error;
		bool deleted;
		int rc;

		run_ok(&f, k->n_ops, k->prefix, k->n_prefix);
		epoch = f.last_epoch ? f.last_epoch : 1;
		n_records = f.n_records;
		last_epoch = f.last_epoch;
		last_time = f.last_time_ns;
		st = f.state;
		done = mmig__fold_ops_done(&f);
		highest = f.highest_begun;
		failed = f.failed_op;
		cause = f.cause;
		last_error = f.last_error;
		deleted = f.model_deleted;

		rc = apply(&f, k->n_prefix, &k->bad, &epoch, &err);
		if (rc != MMIG_EILLEGAL)
			fail_msg("%s: rc %s", k->what, mmig_err_name(rc));
		assert_int_equal(mmig_error_code(err), MMIG_EILLEGAL);
		if (strcmp(mmig_error_message(err), k->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", k->what,
				 mmig_error_message(err), k->want);
		mmig_error_free(err);

		/* The fold is exactly as it was. */
		assert_int_equal(f.n_records, n_records);
		assert_int_equal(f.state, st);
		assert_int_equal(f.last_epoch, last_epoch);
		assert_int_equal(f.last_time_ns, last_time);
		assert_int_equal(mmig__fold_ops_done(&f), done);
		assert_int_equal(f.highest_begun, highest);
		assert_int_equal(f.failed_op, failed);
		assert_ptr_equal(f.cause, cause);
		assert_ptr_equal(f.last_error, last_error);
		assert_int_equal(f.model_deleted, deleted);

		/* A refused record does not even need an error pointer. */
		assert_int_equal(apply(&f, k->n_prefix, &k->bad, &epoch, NULL),
				 MMIG_EILLEGAL);
		mmig__fold_free(&f);
	}
}

static void
test_fold_refused_checkpoint_keeps_the_old_blob(void **state)
{
	struct mmig_fold f;
	struct mmig_rec_transition t = {
		.kind = MMIG_REC_CHECKPOINT,
		.op = 0,
		.epoch = 0, /* older than the fold's: fenced */
		.data = (uint8_t *)"new",
		.data_len = 3,
	};
	uint8_t *old;

	(void)state;
	RUN_OK(&f, 1, { B, 0, 0, NULL }, { CP, 0, 0, "old" });
	old = f.checkpoint[0];
	assert_int_equal(mmig__fold_apply(&f, 2, &t, NULL), MMIG_EILLEGAL);
	assert_ptr_equal(f.checkpoint[0], old);
	assert_memory_equal(f.checkpoint[0], "old", 3);
	mmig__fold_free(&f);
}

static void
test_fold_same_records_give_same_state(void **state)
{
	/* The fold is a pure function: folding twice agrees. */
	static const struct step s[] = {
		{ B, 0, 0, NULL }, { D, 0, 0, NULL }, { B, 1, 0, NULL },
		{ F, 1, 0, "boom" }, { UB, 1, 0, NULL }, { UD, 1, 0, NULL },
	};
	struct mmig_fold a, b;

	(void)state;
	run_ok(&a, 3, s, sizeof(s) / sizeof(s[0]));
	run_ok(&b, 3, s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(a.state, b.state);
	assert_int_equal(a.n_records, b.n_records);
	assert_memory_equal(a.begun, b.begun, 3);
	assert_memory_equal(a.done, b.done, 3);
	assert_memory_equal(a.undo_begun, b.undo_begun, 3);
	assert_memory_equal(a.undone, b.undone, 3);
	assert_string_equal(a.cause, b.cause);
	mmig__fold_free(&a);
	mmig__fold_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_init),
		cmocka_unit_test(test_fold_commit),
		cmocka_unit_test(test_fold_fail_then_rollback),
		cmocka_unit_test(test_fold_model_deleted_is_informative),
		cmocka_unit_test(
			test_fold_fail_before_begin_and_rollback_without_fail),
		cmocka_unit_test(test_fold_resume_after_rebegin),
		cmocka_unit_test(test_fold_pause_and_resume),
		cmocka_unit_test(test_fold_needs_attention_then_retry),
		cmocka_unit_test(test_fold_checkpoints),
		cmocka_unit_test(test_fold_illegal_records_are_refused),
		cmocka_unit_test(
			test_fold_refused_checkpoint_keeps_the_old_blob),
		cmocka_unit_test(test_fold_same_records_give_same_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
