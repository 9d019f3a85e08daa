/*
 * tests/test-record.c - the journal record codec: round trips, hostile
 * bytes (every truncation, every bit flip, random buffers, crafted fields),
 * the format version, JSON, and the fuzz corpus.
 *
 * The corpus in tests/fuzz/corpus/record/ is partly generated here: the
 * ok-* files are what the encoder writes for fixed samples (so a change of
 * the byte format fails test_record_corpus_matches_encoder) and the bad-*
 * files are hand-made nasty inputs.  To rewrite them after a deliberate
 * format change:
 *   MMIG_WRITE_CORPUS=tests/fuzz/corpus/record build/tests/test-record
 * Other files there (fuzzer finds) are only run through the decoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <xxhash.h>

#include "mmig/common.h"
#include "mmig/error.h"
#include "record.h"

#ifndef CORPUS_DIR
#error "CORPUS_DIR must name tests/fuzz/corpus/record"
#endif

/* ---- samples ------------------------------------------------------------ */

static struct mmig_plan_op plan3[] = {
	{ .name = (char *)"create-table", .version = 1, .flags = 0 },
	{ .name = (char *)"copy-rows", .version = 2, .flags = 1 },
	{ .name = (char *)"drop-old", .version = 1, .flags = 0 },
};
static const char desc3[] = "{\"tables\":[\"a\",\"b\"]}";

static struct mmig_rec_header
sample_header(struct mmig_plan_op *plan, uint32_t n_ops, const void *desc,
	      size_t desc_len)
{
	struct mmig_rec_header h = {
		.model_uuid = (char *)"6f1c2a4e-0d1b-4c55-9d0e-2b7f3a9c8e11",
		.plan = plan,
		.n_ops = n_ops,
		.model_desc = (uint8_t *)desc,
		.model_desc_len = desc_len,
		.durability = MMIG_DURABLE,
		.created_ns = 1700000000123456789ull,
	};

	for (int i = 0; i < MMIG_ID_LEN; i++)
		h.id[i] = (uint8_t)(0xa0 + i);
	mmig__digest(desc, desc_len, h.digest);
	return h;
}

static struct mmig_rec_status
sample_status(void)
{
	return (struct mmig_rec_status){
		.state = MMIG_STATE_ROLLING_BACK,
		.epoch = 3,
		.owner = {
			.pid = 4242,
			.start_time = 987654321,
			.boot_id =
				(char *)"1b2c3d4e-aaaa-bbbb-cccc-0123456789ab",
			.host = (char *)"db-ctl-1",
		},
		.updated_ns = 1700000000999999999ull,
	};
}

static struct mmig_rec_transition
sample_transition(uint32_t kind, int64_t op, const char *text)
{
	return (struct mmig_rec_transition){
		.kind = kind,
		.op = op,
		.epoch = 2,
		.time_ns = 1700000001000000000ull,
		.data = (uint8_t *)text,
		.data_len = text ? strlen(text) : 0,
	};
}

/* ---- helpers ------------------------------------------------------------ */

static void
enc_header(const struct mmig_rec_header *h, uint8_t **buf, size_t *len)
{
	assert_int_equal(mmig__rec_header_encode(h, buf, len), MMIG_OK);
}

static void
enc_status(const struct mmig_rec_status *s, uint8_t **buf, size_t *len)
{
	assert_int_equal(mmig__rec_status_encode(s, buf, len), MMIG_OK);
}

static void
enc_transition(const struct mmig_rec_transition *t, uint8_t **buf,
	       size_t *len)
{
	assert_int_equal(mmig__rec_transition_encode(t, buf, len), MMIG_OK);
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Run @p buf through all three decoders.  Each must either decode (and
 * then survive a re-encode unchanged) or fail with a clear error and a
 * zeroed record.  @return how many decoded; *codes gets the failures'
 * codes OR'ed as bits: 1 ECORRUPT, 2 EFORMAT. */
static int
decode_all(const void *buf, size_t len, unsigned *codes)
{
	struct mmig_rec_header h, h2;
	struct mmig_rec_status s, s2;
	struct mmig_rec_transition t, t2;
	struct mmig_error *err[3] = { NULL, NULL, NULL };
	int rc[3], ok = 0;
	uint8_t *out;
	size_t out_len;

	rc[0] = mmig__rec_header_decode(buf, len, &h, &err[0]);
	rc[1] = mmig__rec_status_decode(buf, len, &s, &err[1]);
	rc[2] = mmig__rec_transition_decode(buf, len, &t, &err[2]);
	*codes = 0;
	for (int i = 0; i < 3; i++) {
		if (rc[i] == MMIG_OK) {
			assert_null(err[i]);
			ok++;
			continue;
		}
		if (rc[i] == MMIG_ECORRUPT)
			*codes |= 1;
		else if (rc[i] == MMIG_EFORMAT)
			*codes |= 2;
		else
			fail_msg("decoder %d: rc %s", i, mmig_err_name(rc[i]));
		assert_non_null(err[i]);
		assert_int_equal(mmig_error_code(err[i]), rc[i]);
		assert_true(strlen(mmig_error_message(err[i])) > 0);
		mmig_error_free(err[i]);
	}
	if (rc[0] == MMIG_OK) {
		enc_header(&h, &out, &out_len);
		assert_int_equal(mmig__rec_header_decode(out, out_len, &h2,
							 NULL),
				 MMIG_OK);
		assert_true(mmig__rec_header_equal(&h, &h2));
		free(out);
		mmig__rec_header_free(&h2);
		mmig__rec_header_free(&h);
	} else {
		assert_true(all_zero(&h, sizeof(h)));
	}
	if (rc[1] == MMIG_OK) {
		enc_status(&s, &out, &out_len);
		assert_int_equal(mmig__rec_status_decode(out, out_len, &s2,
							 NULL),
				 MMIG_OK);
		assert_true(mmig__rec_status_equal(&s, &s2));
		free(out);
		mmig__rec_status_free(&s2);
		mmig__rec_status_free(&s);
	} else {
		assert_true(all_zero(&s, sizeof(s)));
	}
	if (rc[2] == MMIG_OK) {
		char *json;

		enc_transition(&t, &out, &out_len);
		assert_int_equal(mmig__rec_transition_decode(out, out_len,
							     &t2, NULL),
				 MMIG_OK);
		assert_true(mmig__rec_transition_equal(&t, &t2));
		free(out);
		json = mmig__rec_transition_json(&t);
		assert_non_null(json);
		free(json);
		mmig__rec_transition_free(&t2);
		mmig__rec_transition_free(&t);
	} else {
		assert_true(all_zero(&t, sizeof(t)));
	}
	return ok;
}

/* Overwrite the last 9 bytes with a correct checksum of the rest. */
static void
reseal(uint8_t *buf, size_t len)
{
	uint64_t h = XXH3_64bits(buf, len - 9);

	buf[len - 9] = 0xcf;
	for (int i = 0; i < 8; i++)
		buf[len - 1 - i] = (uint8_t)(h >> (8 * i));
}

/* Append a checksum to hand-packed bytes and hand them over as a record. */
static uint8_t *
seal(msgpack_sbuffer *sb, size_t *len)
{
	uint8_t ck[9] = { 0xcf };
	uint8_t *out;

	msgpack_sbuffer_write(sb, (const char *)ck, sizeof(ck));
	out = (uint8_t *)sb->data;
	*len = sb->size;
	reseal(out, *len);
	sb->data = NULL;
	sb->size = sb->alloc = 0;
	return out;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- crafted records ---------------------------------------------------- */

/* A hand-packed record in which the field named @p field is replaced by
 * what @p bad packs.  Field names are the ones the decoder's messages use. */
typedef void (*packfn)(msgpack_packer *pk);

static bool
is(const char *field, const char *name)
{
	return field && strcmp(field, name) == 0;
}

#define FIELD(name, ...)                                                       \
	do {                                                                   \
		if (is(field, name))                                           \
			bad(pk);                                               \
		else {                                                         \
			__VA_ARGS__;                                           \
		}                                                              \
	} while (0)

static void
pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pack_b(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin_with_body(pk, p, n);
}

static uint8_t *
craft_header(const char *field, packfn bad, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk_, *pk = &pk_;
	uint8_t id[16] = { 0 }, digest[16];
	char name[32];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(pk, &sb, msgpack_sbuffer_write);
	mmig__digest("d", 1, digest);
	msgpack_pack_array(pk, 10);
	FIELD("format", msgpack_pack_uint8(pk, 1));
	FIELD("kind", msgpack_pack_uint8(pk, MMIG_REC_HEADER));
	FIELD("id", pack_b(pk, id, 16));
	FIELD("model_uuid", pack_s(pk, "uuid"));
	FIELD("plan", {
		msgpack_pack_array(pk, 3);
		for (int i = 0; i < 3; i++) {
			char f[32];

			snprintf(f, sizeof(f), "plan[%d]", i);
			if (is(field, f)) {
				bad(pk);
				continue;
			}
			msgpack_pack_array(pk, 3);
			snprintf(f, sizeof(f), "plan[%d].name", i);
			snprintf(name, sizeof(name), "op%d", i);
			FIELD(f, pack_s(pk, name));
			snprintf(f, sizeof(f), "plan[%d].version", i);
			FIELD(f, msgpack_pack_uint8(pk, 1));
			snprintf(f, sizeof(f), "plan[%d].flags", i);
			FIELD(f, msgpack_pack_uint8(pk, 0));
		}
	});
	FIELD("model_desc", pack_b(pk, "d", 1));
	FIELD("digest", pack_b(pk, digest, 16));
	FIELD("durability", msgpack_pack_uint8(pk, 0));
	FIELD("created_ns", msgpack_pack_uint64(pk, 5));
	return seal(&sb, len);
}

static uint8_t *
craft_status(const char *field, packfn bad, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk_, *pk = &pk_;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(pk, 7);
	FIELD("format", msgpack_pack_uint8(pk, 1));
	FIELD("kind", msgpack_pack_uint8(pk, MMIG_REC_STATUS));
	FIELD("state", msgpack_pack_uint8(pk, MMIG_STATE_RUNNING));
	FIELD("epoch", msgpack_pack_uint8(pk, 1));
	FIELD("owner", {
		msgpack_pack_array(pk, 4);
		FIELD("owner.pid", msgpack_pack_uint32(pk, 77));
		FIELD("owner.start_time", msgpack_pack_uint32(pk, 88));
		FIELD("owner.boot_id", pack_s(pk, "boot"));
		FIELD("owner.host", pack_s(pk, "host"));
	});
	FIELD("updated_ns", msgpack_pack_uint8(pk, 9));
	return seal(&sb, len);
}

static uint8_t *
craft_transition(const char *field, packfn bad, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk_, *pk = &pk_;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(pk, 7);
	FIELD("format", msgpack_pack_uint8(pk, 1));
	FIELD("kind", msgpack_pack_uint8(pk, MMIG_REC_BEGIN));
	FIELD("op", msgpack_pack_uint8(pk, 0));
	FIELD("epoch", msgpack_pack_uint8(pk, 1));
	FIELD("time_ns", msgpack_pack_uint8(pk, 2));
	FIELD("data", msgpack_pack_nil(pk));
	return seal(&sb, len);
}

static void
bad_int7(msgpack_packer *pk)
{
	msgpack_pack_uint8(pk, 7);
}

static void
bad_neg5(msgpack_packer *pk)
{
	msgpack_pack_int8(pk, -5);
}

static void
bad_neg2(msgpack_packer *pk)
{
	msgpack_pack_int8(pk, -2);
}

static void
bad_neg1(msgpack_packer *pk)
{
	msgpack_pack_int8(pk, -1);
}

static void
bad_nil(msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}

static void
bad_true(msgpack_packer *pk)
{
	msgpack_pack_true(pk);
}

static void
bad_float(msgpack_packer *pk)
{
	msgpack_pack_double(pk, 1.5);
}

static void
bad_str(msgpack_packer *pk)
{
	pack_s(pk, "x");
}

static void
bad_empty_str(msgpack_packer *pk)
{
	pack_s(pk, "");
}

static void
bad_bin3(msgpack_packer *pk)
{
	pack_b(pk, "abc", 3);
}

static void
bad_array0(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 0);
}

static void
bad_map0(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 0);
}

static void
bad_big(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, (uint64_t)UINT32_MAX + 1);
}

static void
bad_nul_str(msgpack_packer *pk)
{
	msgpack_pack_str_with_body(pk, "a\0b", 3);
}

static void
bad_long_str(msgpack_packer *pk)
{
	static char s[MMIG_REC_MAX_STR + 1];

	memset(s, 'x', sizeof(s));
	msgpack_pack_str_with_body(pk, s, sizeof(s));
}

static void
bad_ext(msgpack_packer *pk)
{
	msgpack_pack_ext_with_body(pk, "abcd", 4, 5);
}

typedef uint8_t *(*craftfn)(const char *field, packfn bad, size_t *len);

enum { DEC_HEADER, DEC_STATUS, DEC_TRANSITION };

static int
decode_as(int which, const void *buf, size_t len, struct mmig_error **err)
{
	struct mmig_rec_header h;
	struct mmig_rec_status s;
	struct mmig_rec_transition t;
	int rc;

	switch (which) {
	case DEC_HEADER:
		rc = mmig__rec_header_decode(buf, len, &h, err);
		mmig__rec_header_free(&h);
		return rc;
	case DEC_STATUS:
		rc = mmig__rec_status_decode(buf, len, &s, err);
		mmig__rec_status_free(&s);
		return rc;
	default:
		rc = mmig__rec_transition_decode(buf, len, &t, err);
		mmig__rec_transition_free(&t);
		return rc;
	}
}

/* ---- tests: names, round trips ------------------------------------------ */

static void
test_record_kind_and_state_names(void **state)
{
	(void)state;
	assert_string_equal(mmig__rec_kind_name(MMIG_REC_HEADER), "HEADER");
	assert_string_equal(mmig__rec_kind_name(MMIG_REC_UNDO_DONE),
			    "UNDO_DONE");
	assert_string_equal(mmig__rec_kind_name(99), "?");
	assert_string_equal(mmig__rec_kind_name(0), "?");
	assert_false(mmig__rec_kind_is_transition(MMIG_REC_HEADER));
	assert_false(mmig__rec_kind_is_transition(MMIG_REC_STATUS));
	assert_true(mmig__rec_kind_is_transition(MMIG_REC_BEGIN));
	assert_true(mmig__rec_kind_is_transition(MMIG_REC_CLAIMED));
	assert_false(mmig__rec_kind_is_transition(MMIG_REC_CLAIMED + 1));
	assert_string_equal(mmig__state_name(MMIG_STATE_NEEDS_ATTENTION),
			    "NEEDS_ATTENTION");
	assert_string_equal(mmig__state_name(0), "?");
	assert_true(mmig__state_is_final(MMIG_STATE_COMMITTED));
	assert_true(mmig__state_is_final(MMIG_STATE_ROLLED_BACK));
	assert_false(mmig__state_is_final(MMIG_STATE_NEEDS_ATTENTION));
	assert_false(mmig__state_is_final(MMIG_STATE_PAUSED));
}

static void
check_header_round_trip(const struct mmig_rec_header *h)
{
	struct mmig_rec_header d;
	struct mmig_error *err = NULL;
	uint8_t *buf;
	size_t len;

	enc_header(h, &buf, &len);
	assert_int_equal(mmig__rec_peek_kind(buf, len), MMIG_REC_HEADER);
	assert_int_equal(mmig__rec_header_decode(buf, len, &d, &err),
			 MMIG_OK);
	assert_null(err);
	free(buf); /* the decoded record owns copies */
	assert_true(mmig__rec_header_equal(h, &d));
	assert_memory_equal(d.id, h->id, MMIG_ID_LEN);
	assert_string_equal(d.model_uuid, h->model_uuid);
	assert_int_equal(d.n_ops, h->n_ops);
	for (uint32_t i = 0; i < h->n_ops; i++) {
		assert_string_equal(d.plan[i].name, h->plan[i].name);
		assert_int_equal(d.plan[i].version, h->plan[i].version);
		assert_int_equal(d.plan[i].flags, h->plan[i].flags);
	}
	assert_int_equal(d.model_desc_len, h->model_desc_len);
	assert_non_null(d.model_desc);
	assert_memory_equal(d.digest, h->digest, MMIG_DIGEST_LEN);
	assert_int_equal(d.durability, h->durability);
	assert_int_equal(d.created_ns, h->created_ns);
	mmig__rec_header_free(&d);
	assert_true(all_zero(&d, sizeof(d)));
}

/* The header as one msgpack buffer, packed in one go the way the format
 * comment describes it (independent of the encoder's pieces). */
static void
header_one_buffer(const struct mmig_rec_header *h, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	uint8_t ck[9];
	uint64_t x;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 10);
	msgpack_pack_uint32(&pk, MMIG_RECORD_FORMAT_INLINE);
	msgpack_pack_uint32(&pk, MMIG_REC_HEADER);
	msgpack_pack_bin(&pk, MMIG_ID_LEN);
	msgpack_pack_bin_body(&pk, h->id, MMIG_ID_LEN);
	msgpack_pack_str(&pk, strlen(h->model_uuid));
	msgpack_pack_str_body(&pk, h->model_uuid, strlen(h->model_uuid));
	msgpack_pack_array(&pk, h->n_ops);
	for (uint32_t i = 0; i < h->n_ops; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_str(&pk, strlen(h->plan[i].name));
		msgpack_pack_str_body(&pk, h->plan[i].name,
				      strlen(h->plan[i].name));
		msgpack_pack_uint32(&pk, h->plan[i].version);
		msgpack_pack_uint32(&pk, h->plan[i].flags);
	}
	msgpack_pack_bin(&pk, h->model_desc_len);
	msgpack_pack_bin_body(&pk, h->model_desc_len ? (const void *)h->model_desc
						     : "",
			      h->model_desc_len);
	msgpack_pack_bin(&pk, MMIG_DIGEST_LEN);
	msgpack_pack_bin_body(&pk, h->digest, MMIG_DIGEST_LEN);
	msgpack_pack_uint32(&pk, h->durability);
	msgpack_pack_uint64(&pk, h->created_ns);
	x = XXH3_64bits(sb->data, sb->size);
	ck[0] = 0xcf;
	for (int i = 8; i >= 1; i--, x >>= 8)
		ck[i] = (uint8_t)x;
	msgpack_sbuffer_write(sb, (const char *)ck, sizeof(ck));
}

/* The header in pieces (what the journal writes in place with
 * MDB_RESERVE): the description is borrowed, not copied, and the pieces
 * put together are the record byte for byte, checksum included, for a
 * description of every msgpack bin width and an empty one. */
static void
test_record_header_parts_are_the_record(void **state)
{
	static const size_t sizes[] = { 0, 1, 255, 256, 65535, 65536, 300000 };
	uint8_t *big = malloc(300000);

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 300000; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct mmig_rec_header h = sample_header(
			plan3, 3, sizes[k] ? big : NULL, sizes[k]);
		struct mmig__rec_header_parts p;
		struct mmig_rec_header back;
		msgpack_sbuffer want;
		uint8_t *buf, *enc;
		size_t enc_len;

		assert_int_equal(mmig__rec_header_encode_parts(&h, &p),
				 MMIG_OK);
		assert_ptr_equal(p.desc, h.model_desc);
		assert_int_equal(p.desc_len, sizes[k]);
		header_one_buffer(&h, &want);
		assert_int_equal(mmig__rec_header_parts_len(&p), want.size);
		buf = malloc(want.size);
		assert_non_null(buf);
		mmig__rec_header_parts_copy(&p, buf);
		assert_memory_equal(buf, want.data, want.size);
		enc_header(&h, &enc, &enc_len);
		assert_int_equal(enc_len, want.size);
		assert_memory_equal(enc, want.data, want.size);
		assert_int_equal(mmig__rec_header_decode(buf, want.size, &back,
							 NULL),
				 MMIG_OK);
		assert_true(mmig__rec_header_equal(&h, &back));
		mmig__rec_header_free(&back);
		free(enc);
		free(buf);
		msgpack_sbuffer_destroy(&want);
		mmig__rec_header_parts_free(&p);
		mmig__rec_header_parts_free(&p); /* zeroed: a no-op */
	}
	free(big);
}

/* What the whole-buffer encoder refuses, the pieces refuse, zeroed. */
static void
test_record_header_parts_refuse_what_encode_refuses(void **state)
{
	struct mmig_rec_header h = sample_header(plan3, 3, desc3,
						 sizeof(desc3) - 1);
	struct mmig__rec_header_parts p;

	(void)state;
	h.model_uuid = NULL;
	assert_int_equal(mmig__rec_header_encode_parts(&h, &p), MMIG_EINVAL);
	assert_null(p.head);
	assert_null(p.tail);
	assert_int_equal(mmig__rec_header_parts_len(&p), 0);
	h = sample_header(plan3, 3, desc3, sizeof(desc3) - 1);
	h.model_desc = NULL;
	assert_int_equal(mmig__rec_header_encode_parts(&h, &p), MMIG_EINVAL);
	h = sample_header(plan3, 3, desc3, sizeof(desc3) - 1);
	h.durability = 99;
	assert_int_equal(mmig__rec_header_encode_parts(&h, &p), MMIG_EINVAL);
}

static void
test_record_header_round_trip(void **state)
{
	struct mmig_rec_header h = sample_header(plan3, 3, desc3,
						 strlen(desc3));
	struct mmig_plan_op odd = { .name = (char *)"x",
				    .version = UINT32_MAX,
				    .flags = UINT32_MAX };

	(void)state;
	check_header_round_trip(&h);
	h.durability = MMIG_PROCESS;
	h.created_ns = UINT64_MAX;
	h.plan = &odd;
	h.n_ops = 1;
	check_header_round_trip(&h);
}

static void
test_record_header_empty_plan_and_desc_round_trip(void **state)
{
	struct mmig_rec_header h = sample_header(NULL, 0, NULL, 0);

	(void)state;
	h.model_uuid = (char *)"";
	check_header_round_trip(&h);
}

static void
test_record_header_big_desc_and_plan_round_trip(void **state)
{
	size_t n = 1 << 20;
	uint8_t *desc = malloc(n);
	struct mmig_plan_op *plan = calloc(MMIG_REC_MAX_OPS, sizeof(*plan));
	struct mmig_rec_header h;

	(void)state;
	assert_non_null(desc);
	assert_non_null(plan);
	for (size_t i = 0; i < n; i++)
		desc[i] = (uint8_t)(i * 31 + 7);
	for (uint32_t i = 0; i < MMIG_REC_MAX_OPS; i++) {
		plan[i].name = (char *)(i % 2 ? "even-longer-op-name" : "op");
		plan[i].version = i;
		plan[i].flags = i * 3;
	}
	h = sample_header(plan, MMIG_REC_MAX_OPS, desc, n);
	check_header_round_trip(&h);
	free(plan);
	free(desc);
}

static void
test_record_status_round_trip(void **state)
{
	struct mmig_rec_status s = sample_status(), d;
	uint8_t *buf;
	size_t len;

	(void)state;
	enc_status(&s, &buf, &len);
	assert_int_equal(mmig__rec_status_decode(buf, len, &d, NULL),
			 MMIG_OK);
	free(buf);
	assert_true(mmig__rec_status_equal(&s, &d));
	assert_int_equal(d.state, MMIG_STATE_ROLLING_BACK);
	assert_int_equal(d.owner.pid, 4242);
	assert_string_equal(d.owner.host, "db-ctl-1");
	mmig__rec_status_free(&d);

	/* A NULL owner string is written, and read back, as "". */
	s.owner.boot_id = NULL;
	s.owner.host = NULL;
	s.owner.pid = UINT32_MAX;
	s.epoch = UINT64_MAX;
	s.state = MMIG_STATE_NEEDS_ATTENTION;
	enc_status(&s, &buf, &len);
	assert_int_equal(mmig__rec_status_decode(buf, len, &d, NULL),
			 MMIG_OK);
	free(buf);
	assert_string_equal(d.owner.boot_id, "");
	assert_string_equal(d.owner.host, "");
	assert_true(mmig__rec_status_equal(&s, &d));
	mmig__rec_status_free(&d);
}

static void
check_transition_round_trip(const struct mmig_rec_transition *t)
{
	struct mmig_rec_transition d;
	uint8_t *buf;
	size_t len;

	enc_transition(t, &buf, &len);
	assert_int_equal(mmig__rec_peek_kind(buf, len), t->kind);
	assert_int_equal(mmig__rec_transition_decode(buf, len, &d, NULL),
			 MMIG_OK);
	free(buf);
	assert_true(mmig__rec_transition_equal(t, &d));
	assert_int_equal(d.kind, t->kind);
	assert_int_equal(d.op, t->op);
	assert_int_equal(d.epoch, t->epoch);
	assert_int_equal(d.time_ns, t->time_ns);
	if (t->data) {
		assert_non_null(d.data);
		assert_int_equal(d.data_len, t->data_len);
	} else {
		assert_null(d.data);
		assert_int_equal(d.data_len, 0);
	}
	mmig__rec_transition_free(&d);
	assert_true(all_zero(&d, sizeof(d)));
}

static void
test_record_transition_round_trip_every_kind(void **state)
{
	(void)state;
	for (uint32_t k = MMIG_REC_BEGIN; k <= MMIG_REC_CLAIMED; k++) {
		struct mmig_rec_transition t;

		t = sample_transition(k, -1, NULL);
		check_transition_round_trip(&t);
		t = sample_transition(k, 0, "");
		check_transition_round_trip(&t);
		t = sample_transition(k, 3, "op failed: boom");
		check_transition_round_trip(&t);
		t = sample_transition(k, 200, "x");
		t.epoch = UINT64_MAX;
		t.time_ns = 0;
		check_transition_round_trip(&t);
	}
}

static void
test_record_transition_big_data_round_trip(void **state)
{
	size_t n = (1 << 20) + 3;
	uint8_t *blob = malloc(n);
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_CHECKPOINT, UINT32_MAX, NULL);

	(void)state;
	assert_non_null(blob);
	for (size_t i = 0; i < n; i++)
		blob[i] = (uint8_t)(i ^ (i >> 8));
	t.data = blob;
	t.data_len = n;
	check_transition_round_trip(&t);
	free(blob);
}

static void
test_record_checksum_is_last_nine_bytes(void **state)
{
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_COMMITTED, -1, NULL);
	uint8_t *buf;
	size_t len;
	uint64_t h, stored = 0;

	(void)state;
	/* Whatever its value, the checksum is a full 9-byte uint64. */
	for (uint64_t e = 0; e < 300; e++) {
		t.epoch = e;
		enc_transition(&t, &buf, &len);
		assert_true(len >= 12);
		assert_int_equal(buf[len - 9], 0xcf);
		h = XXH3_64bits(buf, len - 9);
		stored = 0;
		for (size_t i = len - 8; i < len; i++)
			stored = stored << 8 | buf[i];
		assert_true(h == stored);
		free(buf);
	}
}

static void
test_record_peek_kind(void **state)
{
	struct mmig_rec_header h = sample_header(plan3, 3, desc3, 3);
	struct mmig_rec_status s = sample_status();
	uint8_t *buf;
	size_t len;

	(void)state;
	enc_header(&h, &buf, &len);
	assert_int_equal(mmig__rec_peek_kind(buf, len), MMIG_REC_HEADER);
	assert_int_equal(mmig__rec_peek_kind(buf, 2), 0);
	assert_int_equal(mmig__rec_peek_kind(buf, 3), MMIG_REC_HEADER);
	free(buf);
	enc_status(&s, &buf, &len);
	assert_int_equal(mmig__rec_peek_kind(buf, len), MMIG_REC_STATUS);
	free(buf);
	assert_int_equal(mmig__rec_peek_kind(NULL, 0), 0);
	assert_int_equal(mmig__rec_peek_kind("\xc0", 1), 0);
	assert_int_equal(mmig__rec_peek_kind("\x93\x01\xc0", 3), 0);
	assert_int_equal(mmig__rec_peek_kind("\x93\x01\x0a", 3), 10);
}

static void
test_record_digest(void **state)
{
	uint8_t a[MMIG_DIGEST_LEN], b[MMIG_DIGEST_LEN];
	XXH128_hash_t x = XXH3_128bits("abc", 3);
	uint8_t want[MMIG_DIGEST_LEN];

	(void)state;
	/* Canonical means big-endian: high 64 bits first. */
	for (int i = 0; i < 8; i++) {
		want[i] = (uint8_t)(x.high64 >> (56 - 8 * i));
		want[8 + i] = (uint8_t)(x.low64 >> (56 - 8 * i));
	}
	mmig__digest("abc", 3, a);
	assert_memory_equal(a, want, MMIG_DIGEST_LEN);
	mmig__digest("abd", 3, b);
	assert_memory_not_equal(a, b, MMIG_DIGEST_LEN);
	mmig__digest(NULL, 0, b);
}

static void
test_record_owner_copy(void **state)
{
	struct mmig_rec_status s = sample_status();
	struct mmig_owner o = { 0 };

	(void)state;
	assert_int_equal(mmig__owner_copy(&o, &s.owner), MMIG_OK);
	assert_int_equal(o.pid, 4242);
	assert_string_equal(o.host, "db-ctl-1");
	assert_ptr_not_equal(o.host, s.owner.host);
	mmig__owner_free(&o);
	assert_true(all_zero(&o, sizeof(o)));
	mmig__owner_free(NULL);
	mmig__rec_header_free(NULL);
	mmig__rec_status_free(NULL);
	mmig__rec_transition_free(NULL);
}

/* ---- tests: hostile bytes ----------------------------------------------- */

/* One valid record of each kind, small enough to mutate exhaustively. */
static void
three_samples(uint8_t *buf[3], size_t len[3])
{
	struct mmig_rec_header h = sample_header(plan3, 3, desc3,
						 strlen(desc3));
	struct mmig_rec_status s = sample_status();
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_FAIL, 2, "boom");

	enc_header(&h, &buf[0], &len[0]);
	enc_status(&s, &buf[1], &len[1]);
	enc_transition(&t, &buf[2], &len[2]);
}

static void
test_record_every_truncation_is_corrupt(void **state)
{
	uint8_t *buf[3];
	size_t len[3];
	unsigned codes;

	(void)state;
	three_samples(buf, len);
	for (int k = 0; k < 3; k++) {
		for (size_t n = 0; n < len[k]; n++) {
			/* A copy of exactly n bytes, so ASan sees overreads. */
			uint8_t *p = malloc(n ? n : 1);

			memcpy(p, buf[k], n);
			assert_int_equal(decode_all(p, n, &codes), 0);
			assert_int_equal(codes, 1);
			free(p);
		}
		free(buf[k]);
	}
}

static void
test_record_every_bit_flip_is_corrupt(void **state)
{
	uint8_t *buf[3];
	size_t len[3];
	unsigned codes;

	(void)state;
	three_samples(buf, len);
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < len[k] * 8; i++) {
			buf[k][i / 8] ^= (uint8_t)(1u << (i % 8));
			/* With a 64-bit checksum none of them decodes. */
			assert_int_equal(decode_all(buf[k], len[k], &codes),
					 0);
			assert_int_equal(codes, 1);
			buf[k][i / 8] ^= (uint8_t)(1u << (i % 8));
		}
		assert_int_equal(decode_all(buf[k], len[k], &codes), 1);
		free(buf[k]);
	}
}

static void
test_record_random_buffers_are_refused(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t buf[512];
	unsigned codes;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		size_t n = xorshift(&seed) % sizeof(buf);

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)xorshift(&seed);
		assert_int_equal(decode_all(buf, n, &codes), 0);
	}
	/* The same with a valid checksum, so that the bytes reach the
	 * structural checks; make some start like a record. */
	for (int i = 0; i < 10000; i++) {
		size_t n = 12 + xorshift(&seed) % (sizeof(buf) - 12);

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)xorshift(&seed);
		if (i % 2) {
			buf[0] = (uint8_t)(0x90 | (xorshift(&seed) % 16));
			buf[1] = 1;
			buf[2] = (uint8_t)(xorshift(&seed) % 24);
		}
		reseal(buf, n);
		(void)decode_all(buf, n, &codes);
	}
}

static void
test_record_mutations_with_valid_checksum(void **state)
{
	uint64_t seed = 42;
	uint8_t *buf[3], *p;
	size_t len[3];
	unsigned codes;
	int decoded = 0;

	(void)state;
	three_samples(buf, len);
	for (int k = 0; k < 3; k++) {
		p = malloc(len[k]);
		for (int i = 0; i < 5000; i++) {
			int n = 1 + (int)(xorshift(&seed) % 3);

			memcpy(p, buf[k], len[k]);
			while (n--)
				p[xorshift(&seed) % (len[k] - 9)] =
					(uint8_t)xorshift(&seed);
			reseal(p, len[k]);
			/* Anything that decodes must survive a round trip;
			 * decode_all checks that. */
			decoded += decode_all(p, len[k], &codes);
		}
		free(p);
		free(buf[k]);
	}
	/* Mutating a string's bytes keeps a record valid: some must. */
	assert_true(decoded > 0);
}

/* A header naming a side file: the sample's description stays out of the
 * record, which holds its length and XXH3-64 (format 2). */
static struct mmig_rec_header
side_header(void)
{
	struct mmig_rec_header h = sample_header(plan3, 3, desc3,
						 strlen(desc3));

	h.desc_side = true;
	h.desc_xxh64 = XXH3_64bits(desc3, strlen(desc3));
	return h;
}

static void
test_record_side_reference_round_trip(void **state)
{
	struct mmig_rec_header h = side_header(), got;
	struct mmig__rec_header_parts p;
	struct mmig_error *err = NULL;
	uint8_t *buf, *joined;
	size_t len;

	(void)state;
	enc_header(&h, &buf, &len);
	/* Format 2, and the description's bytes are not in the record. */
	assert_int_equal(buf[1], 2);
	assert_true(len < 200);
	assert_null(memmem(buf, len, desc3, strlen(desc3)));
	assert_int_equal(mmig__rec_header_decode(buf, len, &got, &err),
			 MMIG_OK);
	assert_true(got.desc_side);
	assert_null(got.model_desc); /* until the side file is read */
	assert_int_equal(got.model_desc_len, strlen(desc3));
	assert_true(got.desc_xxh64 == h.desc_xxh64);
	assert_memory_equal(got.digest, h.digest, MMIG_DIGEST_LEN);
	assert_true(mmig__rec_header_equal(&h, &got));
	mmig__rec_header_free(&got);

	/* In pieces: head + tail are the record, the bytes go aside. */
	assert_int_equal(mmig__rec_header_encode_parts(&h, &p), MMIG_OK);
	assert_int_equal(p.desc_len, 0);
	assert_ptr_equal(p.side, h.model_desc);
	assert_int_equal(p.side_len, strlen(desc3));
	assert_int_equal(mmig__rec_header_parts_len(&p), len);
	joined = malloc(len);
	mmig__rec_header_parts_copy(&p, joined);
	assert_memory_equal(joined, buf, len);
	free(joined);
	mmig__rec_header_parts_free(&p);

	/* The same header inline is format 1, as every record before. */
	h.desc_side = false;
	free(buf);
	enc_header(&h, &buf, &len);
	assert_int_equal(buf[1], 1);
	assert_non_null(memmem(buf, len, desc3, strlen(desc3)));
	free(buf);
}

static void
test_record_side_reference_needs_format_2(void **state)
{
	struct mmig_rec_header h = side_header(), got;
	struct mmig_error *err = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	enc_header(&h, &buf, &len);
	/* A format-1 record cannot hold a reference. */
	buf[1] = 1;
	reseal(buf, len);
	assert_int_equal(mmig__rec_header_decode(buf, len, &got, &err),
			 MMIG_ECORRUPT);
	assert_non_null(strstr(mmig_error_message(err), "model_desc"));
	mmig_error_free(err);
	free(buf);
}

static void
test_record_newer_format_is_eformat(void **state)
{
	uint8_t *buf[3];
	size_t len[3];
	struct mmig_error *err = NULL;
	unsigned codes;

	(void)state;
	three_samples(buf, len);
	for (int k = 0; k < 3; k++) {
		/* fixarray, then the positive fixint 1 */
		assert_int_equal(buf[k][1], MMIG_RECORD_FORMAT_INLINE);
		buf[k][1] = 3;
		reseal(buf[k], len[k]);
		assert_int_equal(decode_all(buf[k], len[k], &codes), 0);
		assert_int_equal(codes, 2);
		assert_int_equal(decode_as(k, buf[k], len[k], &err),
				 MMIG_EFORMAT);
		assert_string_equal(mmig_error_message(err),
				    "format 3 is newer than 2");
		mmig_error_free(err);
		err = NULL;

		/* A newer format with a bad checksum is corrupt, not newer. */
		buf[k][len[k] - 1] ^= 1;
		assert_int_equal(decode_as(k, buf[k], len[k], NULL),
				 MMIG_ECORRUPT);

		buf[k][1] = 0;
		reseal(buf[k], len[k]);
		assert_int_equal(decode_as(k, buf[k], len[k], &err),
				 MMIG_ECORRUPT);
		assert_non_null(strstr(mmig_error_message(err), "format"));
		mmig_error_free(err);
		err = NULL;
		free(buf[k]);
	}
}

static void
test_record_newer_format_may_change_everything(void **state)
{
	/* A format-2 record whose fields format 1 would refuse. */
	static const uint8_t body[] = { 0x94, 0xcd, 0x01, 0x00, 0xc1, 0xc1 };
	uint8_t buf[sizeof(body) + 9];
	struct mmig_error *err = NULL;

	(void)state;
	memcpy(buf, body, sizeof(body));
	reseal(buf, sizeof(buf));
	assert_int_equal(mmig__rec_header_decode(buf, sizeof(buf), &(struct
		mmig_rec_header){ 0 }, &err), MMIG_EFORMAT);
	assert_string_equal(mmig_error_message(err),
			    "format 256 is newer than 2");
	mmig_error_free(err);
}

static void
test_record_trailing_bytes_are_corrupt(void **state)
{
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_BEGIN, 1, NULL);
	uint8_t *buf, *p;
	size_t len;
	struct mmig_error *err = NULL;
	unsigned codes;

	(void)state;
	enc_transition(&t, &buf, &len);

	/* A byte after the checksum. */
	p = malloc(len + 1);
	memcpy(p, buf, len);
	p[len] = 0;
	assert_int_equal(decode_all(p, len + 1, &codes), 0);
	assert_int_equal(codes, 1);
	free(p);

	/* A whole value after the array, then a valid checksum. */
	p = malloc(len + 10);
	memcpy(p, buf, len);
	p[len] = 0xc0;
	memset(p + len + 1, 0, 9);
	reseal(p, len + 10);
	assert_int_equal(mmig__rec_transition_decode(p, len + 10, &t, &err),
			 MMIG_ECORRUPT);
	assert_non_null(strstr(mmig_error_message(err), "trailing"));
	mmig_error_free(err);
	free(p);
	free(buf);
}

static void
test_record_wrong_kind_is_corrupt(void **state)
{
	uint8_t *buf[3];
	size_t len[3];
	struct mmig_error *err = NULL;

	(void)state;
	three_samples(buf, len);
	assert_int_equal(decode_as(DEC_STATUS, buf[0], len[0], &err),
			 MMIG_ECORRUPT);
	assert_string_equal(mmig_error_message(err),
			    "kind HEADER, want STATUS");
	mmig_error_free(err);
	err = NULL;
	assert_int_equal(decode_as(DEC_TRANSITION, buf[1], len[1], &err),
			 MMIG_ECORRUPT);
	assert_string_equal(mmig_error_message(err),
			    "kind STATUS, want a transition");
	mmig_error_free(err);
	err = NULL;
	assert_int_equal(decode_as(DEC_HEADER, buf[2], len[2], &err),
			 MMIG_ECORRUPT);
	assert_string_equal(mmig_error_message(err), "kind FAIL, want HEADER");
	mmig_error_free(err);
	for (int k = 0; k < 3; k++)
		free(buf[k]);
}

static void
test_record_field_errors_name_the_field(void **state)
{
	static const struct {
		int which;
		const char *field;
		packfn bad;
		const char *want;
	} cases[] = {
		{ DEC_HEADER, "kind", bad_neg5, "field kind: not an unsigned" },
		{ DEC_HEADER, "format", bad_str,
		  "field format: not an unsigned" },
		{ DEC_HEADER, "id", bad_str, "field id: not binary" },
		{ DEC_HEADER, "id", bad_bin3, "field id: wrong length" },
		{ DEC_HEADER, "model_uuid", bad_int7,
		  "field model_uuid: not a string" },
		{ DEC_HEADER, "model_uuid", bad_nul_str,
		  "field model_uuid: string contains a NUL byte" },
		{ DEC_HEADER, "model_uuid", bad_long_str,
		  "field model_uuid: string too long" },
		{ DEC_HEADER, "plan", bad_nil, "field plan: not an array" },
		{ DEC_HEADER, "plan", bad_map0, "field plan: not an array" },
		{ DEC_HEADER, "plan[1]", bad_array0,
		  "field plan[1]: not an array of 3" },
		{ DEC_HEADER, "plan[2].name", bad_int7,
		  "field plan[2].name: not a string" },
		{ DEC_HEADER, "plan[2].name", bad_empty_str,
		  "field plan[2].name: empty string" },
		{ DEC_HEADER, "plan[0].name", bad_nul_str,
		  "field plan[0].name: string contains a NUL byte" },
		{ DEC_HEADER, "plan[1].version", bad_neg5,
		  "field plan[1].version: not an unsigned integer" },
		{ DEC_HEADER, "plan[0].flags", bad_big,
		  "field plan[0].flags: out of range" },
		{ DEC_HEADER, "model_desc", bad_str,
		  "field model_desc: not binary" },
		{ DEC_HEADER, "digest", bad_bin3,
		  "field digest: wrong length" },
		{ DEC_HEADER, "durability", bad_int7,
		  "field durability: out of range" },
		{ DEC_HEADER, "created_ns", bad_float,
		  "field created_ns: not an unsigned integer" },
		{ DEC_HEADER, "created_ns", bad_ext,
		  "field created_ns: not an unsigned integer" },
		{ DEC_STATUS, "state", bad_int7,
		  "field state: unknown state 7" },
		{ DEC_STATUS, "state", bad_true,
		  "field state: not an unsigned integer" },
		{ DEC_STATUS, "epoch", bad_neg1,
		  "field epoch: not an unsigned integer" },
		{ DEC_STATUS, "owner", bad_nil,
		  "field owner: not an array of 4" },
		{ DEC_STATUS, "owner.pid", bad_big,
		  "field owner.pid: out of range" },
		{ DEC_STATUS, "owner.start_time", bad_str,
		  "field owner.start_time: not an unsigned integer" },
		{ DEC_STATUS, "owner.boot_id", bad_nul_str,
		  "field owner.boot_id: string contains a NUL byte" },
		{ DEC_STATUS, "owner.host", bad_bin3,
		  "field owner.host: not a string" },
		{ DEC_STATUS, "updated_ns", bad_nil,
		  "field updated_ns: not an unsigned integer" },
		{ DEC_TRANSITION, "kind", bad_int7,
		  "unknown kind 7, want a transition" },
		{ DEC_TRANSITION, "op", bad_neg2,
		  "field op: not -1 or an op index" },
		{ DEC_TRANSITION, "op", bad_big,
		  "field op: not -1 or an op index" },
		{ DEC_TRANSITION, "op", bad_nil,
		  "field op: not -1 or an op index" },
		{ DEC_TRANSITION, "epoch", bad_neg1,
		  "field epoch: not an unsigned integer" },
		{ DEC_TRANSITION, "time_ns", bad_float,
		  "field time_ns: not an unsigned integer" },
		{ DEC_TRANSITION, "data", bad_str,
		  "field data: not binary or nil" },
		{ DEC_TRANSITION, "data", bad_int7,
		  "field data: not binary or nil" },
	};
	static const craftfn craft[] = { craft_header, craft_status,
					 craft_transition };
	struct mmig_error *err = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* The unmodified crafted records decode. */
	for (int k = 0; k < 3; k++) {
		buf = craft[k](NULL, NULL, &len);
		assert_int_equal(decode_as(k, buf, len, NULL), MMIG_OK);
		free(buf);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = craft[cases[i].which](cases[i].field, cases[i].bad,
					    &len);
		assert_int_equal(decode_as(cases[i].which, buf, len, &err),
				 MMIG_ECORRUPT);
		if (strstr(mmig_error_message(err), cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				 mmig_error_message(err), cases[i].want);
		mmig_error_free(err);
		err = NULL;
		free(buf);
	}
}

static uint8_t *
sealed(const void *body, size_t n, size_t *len)
{
	uint8_t *p = malloc(n + 9);

	memcpy(p, body, n);
	*len = n + 9;
	reseal(p, *len);
	return p;
}

static void
expect_corrupt(const uint8_t *buf, size_t len, const char *want)
{
	struct mmig_error *err = NULL;
	unsigned codes;

	assert_int_equal(decode_all(buf, len, &codes), 0);
	assert_int_equal(codes, 1);
	assert_int_equal(decode_as(DEC_HEADER, buf, len, &err),
			 MMIG_ECORRUPT);
	if (!strstr(mmig_error_message(err), want))
		fail_msg("got \"%s\", want \"%s\"", mmig_error_message(err),
			 want);
	mmig_error_free(err);
}

static void
test_record_caps_bound_what_hostile_bytes_allocate(void **state)
{
	/* [1, 1, array32 claiming 4G elements] */
	static const uint8_t huge_array[] = { 0x93, 0x01, 0x01, 0xdd, 0xff,
					      0xff, 0xff, 0xff };
	/* [1, 1, bin32 claiming 4 GiB] */
	static const uint8_t huge_bin[] = { 0x93, 0x01, 0x01, 0xc6, 0xff,
					    0xff, 0xff, 0xff, 0x00 };
	/* [1, 1, map32 claiming 2G pairs] */
	static const uint8_t huge_map[] = { 0x93, 0x01, 0x01, 0xdf, 0x7f,
					    0xff, 0xff, 0xff };
	/* the reserved byte */
	static const uint8_t c1[] = { 0x93, 0x01, 0x01, 0xc1 };
	uint8_t deep[64], *buf;
	size_t len, n = 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	buf = sealed(huge_array, sizeof(huge_array), &len);
	expect_corrupt(buf, len, "more elements than there are bytes");
	free(buf);
	buf = sealed(huge_map, sizeof(huge_map), &len);
	expect_corrupt(buf, len, "more elements than there are bytes");
	free(buf);
	buf = sealed(huge_bin, sizeof(huge_bin), &len);
	expect_corrupt(buf, len, "truncated");
	free(buf);
	buf = sealed(c1, sizeof(c1), &len);
	expect_corrupt(buf, len, "0xc1");
	free(buf);

	/* [1, 1, [[[[...]]]]] forty deep */
	deep[n++] = 0x93;
	deep[n++] = 0x01;
	deep[n++] = 0x01;
	for (int i = 0; i < 40; i++)
		deep[n++] = 0x91;
	deep[n++] = 0xc0;
	buf = sealed(deep, n, &len);
	expect_corrupt(buf, len, "nested too deeply");
	free(buf);

	/* A plan one op longer than the cap. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 10);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, MMIG_REC_HEADER);
	pack_b(&pk, "0123456789abcdef", 16);
	pack_s(&pk, "u");
	msgpack_pack_array(&pk, MMIG_REC_MAX_OPS + 1);
	for (int i = 0; i < MMIG_REC_MAX_OPS + 1; i++) {
		msgpack_pack_array(&pk, 3);
		pack_s(&pk, "o");
		msgpack_pack_uint8(&pk, 1);
		msgpack_pack_uint8(&pk, 0);
	}
	pack_b(&pk, "", 0);
	pack_b(&pk, "0123456789abcdef", 16);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 0);
	buf = seal(&sb, &len);
	expect_corrupt(buf, len, "field plan: too many ops");
	free(buf);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_record_null_and_short_buffers(void **state)
{
	struct mmig_rec_transition t;
	struct mmig_error *err = NULL;

	(void)state;
	assert_int_equal(mmig__rec_transition_decode(NULL, 0, &t, &err),
			 MMIG_ECORRUPT);
	assert_string_equal(mmig_error_message(err), "truncated: 0 bytes");
	mmig_error_free(err);
	assert_int_equal(mmig__rec_transition_decode("", 0, &t, NULL),
			 MMIG_ECORRUPT);
	assert_int_equal(mmig__rec_transition_decode("\x93\x01\x0a", 3, &t,
						     NULL),
			 MMIG_ECORRUPT);
}

static void
test_record_encoder_rejects_what_it_cannot_decode(void **state)
{
	struct mmig_plan_op p[2] = { { .name = (char *)"a" },
				     { .name = (char *)"" } };
	struct mmig_rec_header h = sample_header(p, 1, NULL, 0);
	struct mmig_rec_status s = sample_status();
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_BEGIN, 0, NULL);
	char long_str[MMIG_REC_MAX_STR + 2];
	uint8_t *buf = (uint8_t *)"x";
	size_t len = 1;

	(void)state;
	memset(long_str, 'x', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';

	h.n_ops = 2; /* an empty name */
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	p[1].name = NULL;
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	p[1].name = long_str;
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	h.n_ops = MMIG_REC_MAX_OPS + 1;
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	h.n_ops = 1;
	h.model_uuid = NULL;
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	h.model_uuid = (char *)"u";
	h.durability = 2;
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);
	h.durability = 0;
	h.model_desc_len = 3; /* with a NULL model_desc */
	assert_int_equal(mmig__rec_header_encode(&h, &buf, &len),
			 MMIG_EINVAL);

	s.state = 0;
	assert_int_equal(mmig__rec_status_encode(&s, &buf, &len),
			 MMIG_EINVAL);
	s.state = MMIG_STATE_NEEDS_ATTENTION + 1;
	assert_int_equal(mmig__rec_status_encode(&s, &buf, &len),
			 MMIG_EINVAL);
	s = sample_status();
	s.owner.host = long_str;
	assert_int_equal(mmig__rec_status_encode(&s, &buf, &len),
			 MMIG_EINVAL);

	t.kind = MMIG_REC_HEADER;
	assert_int_equal(mmig__rec_transition_encode(&t, &buf, &len),
			 MMIG_EINVAL);
	t.kind = 99;
	assert_int_equal(mmig__rec_transition_encode(&t, &buf, &len),
			 MMIG_EINVAL);
	t.kind = MMIG_REC_BEGIN;
	t.op = -2;
	assert_int_equal(mmig__rec_transition_encode(&t, &buf, &len),
			 MMIG_EINVAL);
	t.op = (int64_t)UINT32_MAX + 1;
	assert_int_equal(mmig__rec_transition_encode(&t, &buf, &len),
			 MMIG_EINVAL);
	t.op = 0;
	t.data_len = 4;
	assert_int_equal(mmig__rec_transition_encode(&t, &buf, &len),
			 MMIG_EINVAL);
	assert_null(buf);
}

/* ---- tests: JSON -------------------------------------------------------- */

static void
check_json(const struct mmig_rec_transition *t, const char *want)
{
	char *json = mmig__rec_transition_json(t);

	assert_non_null(json);
	assert_string_equal(json, want);
	free(json);
}

static void
test_record_transition_json(void **state)
{
	struct mmig_rec_transition t =
		sample_transition(MMIG_REC_FAIL, 3, "op \"x\" failed: é");
	static const uint8_t bin[] = { 0xff, 0x00, 0x01, 0x02, 0xfe };

	(void)state;
	check_json(&t, "{\"kind\":\"FAIL\",\"op\":3,\"epoch\":2,"
		       "\"time_ns\":1700000001000000000,"
		       "\"data\":\"op \\\"x\\\" failed: é\"}");
	t = sample_transition(MMIG_REC_COMMITTED, -1, NULL);
	check_json(&t, "{\"kind\":\"COMMITTED\",\"op\":-1,\"epoch\":2,"
		       "\"time_ns\":1700000001000000000,\"data\":null}");
	t = sample_transition(MMIG_REC_CHECKPOINT, 0, NULL);
	t.data = (uint8_t *)bin;
	for (size_t n = 0; n <= sizeof(bin); n++) {
		static const char *const want[] = {
			"\"\"", "{\"base64\":\"/w==\"}",
			"{\"base64\":\"/wA=\"}", "{\"base64\":\"/wAB\"}",
			"{\"base64\":\"/wABAg==\"}",
			"{\"base64\":\"/wABAv4=\"}",
		};
		char expect[200];

		t.data_len = n;
		snprintf(expect, sizeof(expect),
			 "{\"kind\":\"CHECKPOINT\",\"op\":0,\"epoch\":2,"
			 "\"time_ns\":1700000001000000000,\"data\":%s}",
			 want[n]);
		check_json(&t, expect);
	}
	/* Text with a NUL byte is printed as binary. */
	t.data = (uint8_t *)"a\0b";
	t.data_len = 3;
	t.kind = 77;
	t.epoch = UINT64_MAX;
	check_json(&t, "{\"kind\":77,\"op\":0,"
		       "\"epoch\":\"18446744073709551615\","
		       "\"time_ns\":1700000001000000000,"
		       "\"data\":{\"base64\":\"YQBi\"}}");
}

/* ---- tests: the corpus -------------------------------------------------- */

struct sample {
	char name[64];
	uint8_t *buf;
	size_t len;
};

static void
add(struct sample *s, size_t *n, const char *name, uint8_t *buf, size_t len)
{
	snprintf(s[*n].name, sizeof(s[*n].name), "%s", name);
	s[*n].buf = buf;
	s[*n].len = len;
	(*n)++;
}

/* The generated part of the corpus: valid records of each kind (ok-*) and
 * hand-made nasty inputs (bad-*). */
static size_t
corpus_samples(struct sample *s)
{
	static const uint8_t huge_array[] = { 0x93, 0x01, 0x0a, 0xdd, 0xff,
					      0xff, 0xff, 0xff };
	static const uint8_t huge_bin[] = { 0x97, 0x01, 0x0a, 0x00, 0x01,
					    0x01, 0xc6, 0xff, 0xff, 0xff,
					    0xf0, 0x00 };
	static const uint8_t kind99[] = { 0x97, 0x01, 0x63, 0x00, 0x01,
					  0x01, 0xc0 };
	static const uint8_t c1[] = { 0x97, 0x01, 0x0a, 0x00, 0x01, 0x01,
				      0xc1 };
	static const uint8_t op_minus2[] = { 0x97, 0x01, 0x0a, 0xfe, 0x01,
					     0x01, 0xc0 };
	static const uint8_t ext_data[] = { 0x97, 0x01, 0x0c, 0x00, 0x01,
					    0x01, 0xd6, 0x05, 0x61, 0x62,
					    0x63, 0x64 };
	struct mmig_rec_header h = sample_header(plan3, 3, desc3,
						 strlen(desc3));
	struct mmig_rec_status st = sample_status();
	struct mmig_rec_transition t;
	uint8_t *buf, deep[64];
	size_t len, n = 0, d = 0;
	char name[64];

	enc_header(&h, &buf, &len);
	add(s, &n, "ok-header-plan3.bin", buf, len);
	h = sample_header(NULL, 0, NULL, 0);
	enc_header(&h, &buf, &len);
	add(s, &n, "ok-header-empty.bin", buf, len);
	h = side_header();
	enc_header(&h, &buf, &len);
	add(s, &n, "ok-header-side.bin", buf, len);
	enc_status(&st, &buf, &len);
	add(s, &n, "ok-status.bin", buf, len);
	st.state = MMIG_STATE_RUNNING;
	st.owner.host = NULL;
	enc_status(&st, &buf, &len);
	add(s, &n, "ok-status-running.bin", buf, len);
	for (uint32_t k = MMIG_REC_BEGIN; k <= MMIG_REC_CLAIMED; k++) {
		bool has_op = k <= MMIG_REC_UNDO_FAIL;
		const char *text = k == MMIG_REC_FAIL ? "boom"
				   : k == MMIG_REC_CHECKPOINT ? "\x01\x02\xff"
				   : k == MMIG_REC_UNDO_FAIL ||
						   k == MMIG_REC_NEEDS_ATTENTION
					   ? "undo failed"
				   : k == MMIG_REC_CLAIMED ? "pid 7 on h"
							   : NULL;

		t = sample_transition(k, has_op ? 1 : -1, text);
		enc_transition(&t, &buf, &len);
		snprintf(name, sizeof(name), "ok-%s.bin",
			 mmig__rec_kind_name(k));
		for (char *c = name; *c; c++)
			if (*c == '_')
				*c = '-';
		add(s, &n, name, buf, len);
	}

	add(s, &n, "bad-empty.bin", malloc(1), 0);
	h = sample_header(plan3, 3, desc3, strlen(desc3));
	enc_header(&h, &buf, &len);
	add(s, &n, "bad-truncated-header.bin", buf, len - 1);
	t = sample_transition(MMIG_REC_DONE, 2, NULL);
	enc_transition(&t, &buf, &len);
	buf[3] ^= 0x10;
	add(s, &n, "bad-bitflip-done.bin", buf, len);
	enc_transition(&t, &buf, &len);
	buf[1] = 3;
	reseal(buf, len);
	add(s, &n, "bad-format-3.bin", buf, len);
	enc_transition(&t, &buf, &len);
	buf[1] = 0;
	reseal(buf, len);
	add(s, &n, "bad-format-0.bin", buf, len);
	enc_transition(&t, &buf, &len);
	buf = realloc(buf, len + 1);
	buf[len] = 0x00;
	add(s, &n, "bad-trailing-byte.bin", buf, len + 1);
	enc_transition(&t, &buf, &len);
	buf = realloc(buf, len + 10);
	buf[len] = 0xc0;
	reseal(buf, len + 10);
	add(s, &n, "bad-trailing-value.bin", buf, len + 10);
	buf = sealed(huge_array, sizeof(huge_array), &len);
	add(s, &n, "bad-huge-array.bin", buf, len);
	buf = sealed(huge_bin, sizeof(huge_bin), &len);
	add(s, &n, "bad-huge-bin.bin", buf, len);
	deep[d++] = 0x93;
	deep[d++] = 0x01;
	deep[d++] = 0x0a;
	for (int i = 0; i < 40; i++)
		deep[d++] = 0x91;
	deep[d++] = 0xc0;
	buf = sealed(deep, d, &len);
	add(s, &n, "bad-deep-nesting.bin", buf, len);
	buf = craft_header("plan[1].name", bad_nul_str, &len);
	add(s, &n, "bad-nul-in-name.bin", buf, len);
	buf = sealed(kind99, sizeof(kind99), &len);
	add(s, &n, "bad-kind-99.bin", buf, len);
	buf = sealed(c1, sizeof(c1), &len);
	add(s, &n, "bad-reserved-c1.bin", buf, len);
	buf = sealed(op_minus2, sizeof(op_minus2), &len);
	add(s, &n, "bad-op-minus-2.bin", buf, len);
	buf = sealed(ext_data, sizeof(ext_data), &len);
	add(s, &n, "bad-ext-data.bin", buf, len);
	return n;
}

static void
test_record_corpus_matches_encoder(void **state)
{
	struct sample s[64];
	const char *write_dir = getenv("MMIG_WRITE_CORPUS");
	size_t n;

	(void)state;
	n = corpus_samples(s);
	assert_true(n <= sizeof(s) / sizeof(s[0]));
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		unsigned codes;
		int ok = decode_all(s[i].buf, s[i].len, &codes);
		FILE *f;

		/* The generator itself must be right. */
		if (strncmp(s[i].name, "ok-", 3) == 0)
			assert_int_equal(ok, 1);
		else
			assert_int_equal(ok, 0);
		assert_true(snprintf(path, sizeof(path), "%s/%s",
				     write_dir ? write_dir : CORPUS_DIR,
				     s[i].name) < (int)sizeof(path));
		if (write_dir) {
			f = fopen(path, "wb");
			assert_non_null(f);
			assert_int_equal(fwrite(s[i].buf, 1, s[i].len, f),
					 s[i].len);
			assert_int_equal(fclose(f), 0);
		} else {
			uint8_t got[4096];
			size_t got_len;

			f = fopen(path, "rb");
			if (!f)
				fail_msg("%s: %s (MMIG_WRITE_CORPUS=dir "
					 "rewrites the corpus)",
					 path, strerror(errno));
			got_len = fread(got, 1, sizeof(got), f);
			fclose(f);
			/* A difference means the byte format changed. */
			if (got_len != s[i].len ||
			    memcmp(got, s[i].buf, got_len) != 0)
				fail_msg("%s differs from what the encoder "
					 "writes now",
					 path);
		}
		free(s[i].buf);
	}
}

static void
test_record_corpus_files_are_handled(void **state)
{
	DIR *dir = opendir(CORPUS_DIR);
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		char path[4096];
		uint8_t *buf;
		long size;
		unsigned codes;
		int ok;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR,
				     e->d_name) < (int)sizeof(path));
		f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		size = ftell(f);
		assert_true(size >= 0);
		rewind(f);
		buf = malloc((size_t)size + 1);
		assert_int_equal(fread(buf, 1, (size_t)size, f),
				 (size_t)size);
		fclose(f);
		ok = decode_all(buf, (size_t)size, &codes);
		if (strncmp(e->d_name, "ok-", 3) == 0 && ok != 1)
			fail_msg("%s: does not decode", e->d_name);
		if (strncmp(e->d_name, "bad-", 4) == 0 && ok != 0)
			fail_msg("%s: decodes", e->d_name);
		free(buf);
		files++;
	}
	closedir(dir);
	assert_true(files >= 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_kind_and_state_names),
		cmocka_unit_test(test_record_header_round_trip),
		cmocka_unit_test(test_record_header_parts_are_the_record),
		cmocka_unit_test(
			test_record_header_parts_refuse_what_encode_refuses),
		cmocka_unit_test(
			test_record_header_empty_plan_and_desc_round_trip),
		cmocka_unit_test(
			test_record_header_big_desc_and_plan_round_trip),
		cmocka_unit_test(test_record_status_round_trip),
		cmocka_unit_test(test_record_transition_round_trip_every_kind),
		cmocka_unit_test(test_record_transition_big_data_round_trip),
		cmocka_unit_test(test_record_checksum_is_last_nine_bytes),
		cmocka_unit_test(test_record_peek_kind),
		cmocka_unit_test(test_record_digest),
		cmocka_unit_test(test_record_owner_copy),
		cmocka_unit_test(test_record_every_truncation_is_corrupt),
		cmocka_unit_test(test_record_every_bit_flip_is_corrupt),
		cmocka_unit_test(test_record_random_buffers_are_refused),
		cmocka_unit_test(test_record_mutations_with_valid_checksum),
		cmocka_unit_test(test_record_newer_format_is_eformat),
		cmocka_unit_test(test_record_side_reference_round_trip),
		cmocka_unit_test(test_record_side_reference_needs_format_2),
		cmocka_unit_test(
			test_record_newer_format_may_change_everything),
		cmocka_unit_test(test_record_trailing_bytes_are_corrupt),
		cmocka_unit_test(test_record_wrong_kind_is_corrupt),
		cmocka_unit_test(test_record_field_errors_name_the_field),
		cmocka_unit_test(
			test_record_caps_bound_what_hostile_bytes_allocate),
		cmocka_unit_test(test_record_null_and_short_buffers),
		cmocka_unit_test(
			test_record_encoder_rejects_what_it_cannot_decode),
		cmocka_unit_test(test_record_transition_json),
		cmocka_unit_test(test_record_corpus_matches_encoder),
		cmocka_unit_test(test_record_corpus_files_are_handled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
