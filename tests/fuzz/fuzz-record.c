/*
 * tests/fuzz/fuzz-record.c - libFuzzer target for the record decoders and
 * the fold.
 *
 * Every input goes to all three decoders twice: as given, and with its last
 * 9 bytes replaced by a correct checksum of the rest.  Without the second
 * pass the fuzzer would almost never get past the checksum, and the field
 * checks behind it would go untested.  Whatever decodes must survive a
 * re-encode and decode unchanged; a decoded transition is also printed as
 * JSON and folded, both into a fresh fold and into one in the middle of a
 * rollback.  A property that does not hold aborts, which libFuzzer reports
 * as a crash.
 */
#include "record.h"

#include "mmig/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(int rc, struct mmig_error *err)
{
	/* A refused input gives a clear error and nothing else. */
	if (rc != MMIG_ECORRUPT && rc != MMIG_EFORMAT && rc != MMIG_ENOMEM)
		abort();
	if (!err || mmig_error_code(err) != rc ||
	    mmig_error_message(err)[0] == '\0')
		abort();
	mmig_error_free(err);
}

static void
fold_one(struct mmig_fold *f, const struct mmig_rec_transition *t)
{
	struct mmig_error *err = NULL;
	uint64_t n = f->n_records;
	uint32_t state = f->state;
	int rc = mmig__fold_apply(f, n, t, &err);

	if (rc == MMIG_OK) {
		if (err || f->n_records != n + 1)
			abort();
		return;
	}
	if (rc != MMIG_EILLEGAL || !err || f->n_records != n ||
	    f->state != state)
		abort();
	mmig_error_free(err);
}

static void
prefix(struct mmig_fold *f, uint32_t kind, int64_t op)
{
	struct mmig_rec_transition t = { .kind = kind, .op = op, .epoch = 1 };

	if (mmig__fold_apply(f, f->n_records, &t, NULL) != MMIG_OK)
		abort();
}

static void
fold_transition(const struct mmig_rec_transition *t)
{
	struct mmig_fold f;

	if (mmig__fold_init(&f, 4) != MMIG_OK)
		return;
	fold_one(&f, t);
	mmig__fold_free(&f);

	if (mmig__fold_init(&f, 4) != MMIG_OK)
		return;
	prefix(&f, MMIG_REC_BEGIN, 0);
	prefix(&f, MMIG_REC_DONE, 0);
	prefix(&f, MMIG_REC_BEGIN, 1);
	prefix(&f, MMIG_REC_FAIL, 1);
	prefix(&f, MMIG_REC_UNDO_BEGIN, 1);
	fold_one(&f, t);
	fold_one(&f, t); /* the same record twice */
	mmig__fold_free(&f);
}

static void
run(const uint8_t *data, size_t size)
{
	struct mmig_rec_header h, h2;
	struct mmig_rec_status s, s2;
	struct mmig_rec_transition t, t2;
	struct mmig_error *err = NULL;
	uint8_t *buf;
	size_t len;
	char *json;
	int rc;

	(void)mmig__rec_peek_kind(data, size);

	rc = mmig__rec_header_decode(data, size, &h, &err);
	if (rc == MMIG_OK) {
		if (mmig__rec_header_encode(&h, &buf, &len) != MMIG_OK)
			abort();
		if (mmig__rec_header_decode(buf, len, &h2, NULL) != MMIG_OK ||
		    !mmig__rec_header_equal(&h, &h2))
			abort();
		free(buf);
		mmig__rec_header_free(&h2);
		mmig__rec_header_free(&h);
	} else {
		check_error(rc, err);
	}

	err = NULL;
	rc = mmig__rec_status_decode(data, size, &s, &err);
	if (rc == MMIG_OK) {
		if (mmig__rec_status_encode(&s, &buf, &len) != MMIG_OK)
			abort();
		if (mmig__rec_status_decode(buf, len, &s2, NULL) != MMIG_OK ||
		    !mmig__rec_status_equal(&s, &s2))
			abort();
		free(buf);
		mmig__rec_status_free(&s2);
		mmig__rec_status_free(&s);
	} else {
		check_error(rc, err);
	}

	err = NULL;
	rc = mmig__rec_transition_decode(data, size, &t, &err);
	if (rc == MMIG_OK) {
		if (mmig__rec_transition_encode(&t, &buf, &len) != MMIG_OK)
			abort();
		if (mmig__rec_transition_decode(buf, len, &t2, NULL) !=
			    MMIG_OK ||
		    !mmig__rec_transition_equal(&t, &t2))
			abort();
		free(buf);
		mmig__rec_transition_free(&t2);
		json = mmig__rec_transition_json(&t);
		free(json);
		fold_transition(&t);
		mmig__rec_transition_free(&t);
	} else {
		check_error(rc, err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint64_t h;

	run(data, size);
	if (size < 9)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	h = XXH3_64bits(copy, size - 9);
	copy[size - 9] = 0xcf;
	for (int i = 0; i < 8; i++)
		copy[size - 1 - i] = (uint8_t)(h >> (8 * i));
	run(copy, size);
	free(copy);
	return 0;
}
