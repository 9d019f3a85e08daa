/*
 * journal/record.c - the journal's record codec: msgpack encoders, decoders
 * written for hostile bytes, kind and state names, the model digest and the
 * JSON form of a transition used by `dump`.
 *
 * Byte format (MMIG_RECORD_FORMAT 2).  Every record is ONE msgpack array:
 *
 *   elem | HEADER (kind 1)        | STATUS (kind 2)      | transition (10..23)
 *   -----+------------------------+----------------------+--------------------
 *   0    | format: uint (1 or 2)  | format: uint         | format: uint
 *   1    | kind: uint (1)         | kind: uint (2)       | kind: uint
 *   2    | id: bin 16             | state: uint 1..6     | op: int, -1 or
 *        |                        |                      |   0..UINT32_MAX
 *   3    | model_uuid: str        | epoch: uint64        | epoch: uint64
 *   4    | plan: array <= 100000  | owner: array 4       | time_ns: uint64
 *        |   of [name: str != "", |   [pid: uint32,      |
 *        |   version: uint32,     |    start_time: u64,  |
 *        |   flags: uint32]       |    boot_id: str,     |
 *        |                        |    host: str]        |
 *   5    | model_desc: bin, or    | updated_ns: uint64   | data: bin or nil
 *        |   (format >= 2) a side |                      |
 *        |   reference: array 2   |                      |
 *        |   [len: uint64,        |                      |
 *        |    xxh3_64: uint64]    |                      |
 *   6    | digest: bin 16         | checksum             | checksum
 *   7    | durability: uint 0..1  |                      |
 *   8    | created_ns: uint64     |                      |
 *   9    | checksum               |                      |
 *
 *   Format 2 is format 1 plus the side reference: a description of at
 *   least MMIG__SIDE_MIN bytes is, on LMDB, kept in a file of its own
 *   beside the journal (journal/side.c) and the header names it by the
 *   migration id, its length and its XXH3-64.  Every record is written
 *   as format 2; format 1 records (always inline) are still read.
 *
 *   checksum: XXH3-64 of every byte before it (from the array header to the
 *   byte before the checksum's own encoding), ALWAYS written as a 9-byte
 *   msgpack uint64 (0xcf + 8 bytes big-endian), so the last 9 bytes of a
 *   record are 0xcf and the checksum whatever its value.
 *   str: UTF-8 is not checked, but no NUL byte (names are C strings) and at
 *   most MMIG_REC_MAX_STR bytes.  Integers may use any msgpack width whose
 *   value msgpack-c reads as unsigned (the encoder writes the shortest).
 *
 * Decoding order, so that each failure has one meaning:
 *  1. length >= 12 and the last 9 bytes are 0xcf + XXH3-64 of the rest;
 *     otherwise MMIG_ECORRUPT ("checksum mismatch": a flipped bit is corrupt,
 *     never a newer format);
 *  2. the array header and element 0 are read by hand: 0 is corrupt, a
 *     version above MMIG_RECORD_FORMAT is MMIG_EFORMAT -- a newer format may
 *     change everything after element 0, so nothing else is looked at;
 *  3. a structural pre-scan walks the whole buffer without allocating: every
 *     length must fit in the bytes that are left, every container may claim
 *     at most as many elements as there are bytes left, nesting is at most
 *     MAX_DEPTH, and the value must end exactly at the end of the buffer.
 *     This bounds what msgpack-c allocates next (it sizes an array from its
 *     header before reading the elements) to a small multiple of the input;
 *  4. msgpack_unpack_next() must consume the buffer exactly;
 *  5. kind, element count, then every field's type and range.
 *
 * Invariants: a decoder never reads outside [buf, buf + len), and on failure
 * leaves *out zeroed; an encoder never produces bytes its decoder refuses.
 */
#include "internal.h"
#include "record.h"

#include "mmig/common.h"

#include <jansson.h>
#include <msgpack.h>
#include <xxhash.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKSUM_LEN 9   /* 0xcf + 8 bytes */
#define MIN_LEN 12    /* fixarray, format, kind, checksum */
#define MAX_DEPTH 8   /* format 1 needs 3: record, plan, op */

#define N_HEADER 10
#define N_STATUS 7
#define N_TRANSITION 7
#define N_PLAN_OP 3
#define N_OWNER 4

/* ---- names -------------------------------------------------------------- */

const char *
mmig__rec_kind_name(unsigned kind)
{
	switch (kind) {
#define MMIG_XX_KIND_NAME(name, val)                                           \
	case val:                                                              \
		return #name;
		MMIG_REC_KIND_MAP(MMIG_XX_KIND_NAME)
#undef MMIG_XX_KIND_NAME
	}
	return "?";
}

bool
mmig__rec_kind_is_transition(unsigned kind)
{
	return kind >= MMIG_REC_BEGIN && kind <= MMIG_REC_CLAIMED;
}

const char *
mmig__state_name(unsigned state)
{
	switch (state) {
#define MMIG_XX_STATE_NAME(name, val)                                          \
	case val:                                                              \
		return #name;
		MMIG_STATE_MAP(MMIG_XX_STATE_NAME)
#undef MMIG_XX_STATE_NAME
	}
	return "?";
}

bool
mmig__state_is_final(unsigned state)
{
	return state == MMIG_STATE_COMMITTED ||
	       state == MMIG_STATE_ROLLED_BACK;
}

static bool
state_is_known(uint64_t state)
{
	return state >= MMIG_STATE_RUNNING &&
	       state <= MMIG_STATE_NEEDS_ATTENTION;
}

void
mmig__digest(const void *data, size_t len, uint8_t out[MMIG_DIGEST_LEN])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(out, c.digest, MMIG_DIGEST_LEN);
}

/* ---- errors ------------------------------------------------------------- */

static int
fail(struct mmig_error **errp, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record an error when the caller wants one; @return @p code. */
static int
fail(struct mmig_error **errp, int code, const char *fmt, ...)
{
	va_list ap;

	if (errp) {
		va_start(ap, fmt);
		*errp = mmig_error_newv(code, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- encoding ----------------------------------------------------------- */

/* A growable buffer behind the msgpack packer.  A failed write sets nomem
 * and every later write fails too, so the encoders check once at the end. */
struct outbuf {
	uint8_t *p;
	size_t len, cap;
	bool nomem;
};

static int
outbuf_write(void *data, const char *buf, size_t len)
{
	struct outbuf *o = data;
	size_t cap;
	uint8_t *p;

	if (o->nomem)
		return -1;
	if (len > o->cap - o->len) {
		cap = o->cap ? o->cap : 128;
		while (cap - o->len < len) {
			if (cap > SIZE_MAX / 2) {
				o->nomem = true;
				return -1;
			}
			cap *= 2;
		}
		p = mmig__realloc(o->p, cap);
		if (!p) {
			o->nomem = true;
			return -1;
		}
		o->p = p;
		o->cap = cap;
	}
	if (len)
		memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Append the checksum of everything so far and hand the buffer over. */
static int
outbuf_finish(struct outbuf *o, uint8_t **buf, size_t *len)
{
	uint8_t ck[CKSUM_LEN];

	if (!o->nomem) {
		ck[0] = 0xcf;
		put_be64(ck + 1, XXH3_64bits(o->p, o->len));
		outbuf_write(o, (const char *)ck, sizeof(ck));
	}
	if (o->nomem) {
		mmig__free(o->p);
		*buf = NULL;
		*len = 0;
		return MMIG_ENOMEM;
	}
	*buf = o->p;
	*len = o->len;
	return MMIG_OK;
}

static bool
str_ok(const char *s, bool nonempty)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	return n <= MMIG_REC_MAX_STR && (n > 0 || !nonempty);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s ? s : "", n);
}

static void
pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, n ? p : "", n);
}

/* Everything mmig__rec_header_encode() refuses, in one place. */
static bool
header_ok(const struct mmig_rec_header *h)
{
	if (!str_ok(h->model_uuid, false) || h->n_ops > MMIG_REC_MAX_OPS ||
	    (h->n_ops && !h->plan) ||
	    (h->model_desc_len && !h->model_desc && !h->desc_side) ||
	    h->model_desc_len > UINT32_MAX || h->durability > MMIG_PROCESS)
		return false;
	for (uint32_t i = 0; i < h->n_ops; i++)
		if (!str_ok(h->plan[i].name, true))
			return false;
	return true;
}

int
mmig__rec_header_encode_parts(const struct mmig_rec_header *h,
			      struct mmig__rec_header_parts *out)
{
	struct outbuf head = { 0 }, tail = { 0 };
	msgpack_packer pk;
	XXH3_state_t *xs;
	uint8_t ck[CKSUM_LEN];
	bool bad;

	*out = (struct mmig__rec_header_parts){ 0 };
	if (!header_ok(h))
		return MMIG_EINVAL;

	/* Every byte before the description's body ... */
	msgpack_packer_init(&pk, &head, outbuf_write);
	msgpack_pack_array(&pk, N_HEADER);
	msgpack_pack_uint32(&pk, h->desc_side ? MMIG_RECORD_FORMAT
					      : MMIG_RECORD_FORMAT_INLINE);
	msgpack_pack_uint32(&pk, MMIG_REC_HEADER);
	pack_bin(&pk, h->id, MMIG_ID_LEN);
	pack_str(&pk, h->model_uuid);
	msgpack_pack_array(&pk, h->n_ops);
	for (uint32_t i = 0; i < h->n_ops; i++) {
		msgpack_pack_array(&pk, N_PLAN_OP);
		pack_str(&pk, h->plan[i].name);
		msgpack_pack_uint32(&pk, h->plan[i].version);
		msgpack_pack_uint32(&pk, h->plan[i].flags);
	}
	if (h->desc_side) {
		/* A reference: the bytes go in the side file. */
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, h->model_desc_len);
		msgpack_pack_uint64(&pk, h->desc_xxh64);
	} else {
		msgpack_pack_bin(&pk, h->model_desc_len);
	}
	/* ... and every byte after it but the checksum. */
	msgpack_packer_init(&pk, &tail, outbuf_write);
	pack_bin(&pk, h->digest, MMIG_DIGEST_LEN);
	msgpack_pack_uint32(&pk, h->durability);
	msgpack_pack_uint64(&pk, h->created_ns);

	xs = head.nomem || tail.nomem ? NULL : XXH3_createState();
	bad = !xs || XXH3_64bits_reset(xs) == XXH_ERROR ||
	      XXH3_64bits_update(xs, head.p, head.len) == XXH_ERROR ||
	      (h->model_desc_len && !h->desc_side &&
	       XXH3_64bits_update(xs, h->model_desc, h->model_desc_len) ==
		       XXH_ERROR) ||
	      XXH3_64bits_update(xs, tail.p, tail.len) == XXH_ERROR;
	if (!bad) {
		ck[0] = 0xcf;
		put_be64(ck + 1, XXH3_64bits_digest(xs));
		outbuf_write(&tail, (const char *)ck, sizeof(ck));
	}
	XXH3_freeState(xs);
	if (bad || tail.nomem) {
		mmig__free(head.p);
		mmig__free(tail.p);
		return MMIG_ENOMEM;
	}
	out->head = head.p;
	out->head_len = head.len;
	if (h->desc_side) {
		out->side = h->model_desc;
		out->side_len = h->model_desc ? h->model_desc_len : 0;
	} else {
		out->desc = h->model_desc;
		out->desc_len = h->model_desc_len;
	}
	out->tail = tail.p;
	out->tail_len = tail.len;
	return MMIG_OK;
}

size_t
mmig__rec_header_parts_len(const struct mmig__rec_header_parts *p)
{
	return p->head_len + p->desc_len + p->tail_len;
}

void
mmig__rec_header_parts_copy(const struct mmig__rec_header_parts *p,
			    uint8_t *dst)
{
	memcpy(dst, p->head, p->head_len);
	if (p->desc_len)
		memcpy(dst + p->head_len, p->desc, p->desc_len);
	memcpy(dst + p->head_len + p->desc_len, p->tail, p->tail_len);
}

void
mmig__rec_header_parts_free(struct mmig__rec_header_parts *p)
{
	mmig__free(p->head);
	mmig__free(p->tail);
	*p = (struct mmig__rec_header_parts){ 0 };
}

int
mmig__rec_header_encode(const struct mmig_rec_header *h, uint8_t **buf,
			size_t *len)
{
	struct mmig__rec_header_parts p;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = mmig__rec_header_encode_parts(h, &p);
	if (rc != MMIG_OK)
		return rc;
	*buf = mmig__malloc(mmig__rec_header_parts_len(&p));
	if (!*buf) {
		mmig__rec_header_parts_free(&p);
		return MMIG_ENOMEM;
	}
	mmig__rec_header_parts_copy(&p, *buf);
	*len = mmig__rec_header_parts_len(&p);
	mmig__rec_header_parts_free(&p);
	return MMIG_OK;
}

int
mmig__rec_status_encode(const struct mmig_rec_status *s, uint8_t **buf,
			size_t *len)
{
	struct outbuf o = { 0 };
	msgpack_packer pk;
	const struct mmig_owner *w = &s->owner;

	*buf = NULL;
	*len = 0;
	if (!state_is_known(s->state) ||
	    (w->boot_id && !str_ok(w->boot_id, false)) ||
	    (w->host && !str_ok(w->host, false)))
		return MMIG_EINVAL;

	msgpack_packer_init(&pk, &o, outbuf_write);
	msgpack_pack_array(&pk, N_STATUS);
	msgpack_pack_uint32(&pk, MMIG_RECORD_FORMAT_INLINE);
	msgpack_pack_uint32(&pk, MMIG_REC_STATUS);
	msgpack_pack_uint32(&pk, s->state);
	msgpack_pack_uint64(&pk, s->epoch);
	msgpack_pack_array(&pk, N_OWNER);
	msgpack_pack_uint32(&pk, w->pid);
	msgpack_pack_uint64(&pk, w->start_time);
	pack_str(&pk, w->boot_id);
	pack_str(&pk, w->host);
	msgpack_pack_uint64(&pk, s->updated_ns);
	return outbuf_finish(&o, buf, len);
}

int
mmig__rec_transition_encode(const struct mmig_rec_transition *t,
			    uint8_t **buf, size_t *len)
{
	struct outbuf o = { 0 };
	msgpack_packer pk;

	*buf = NULL;
	*len = 0;
	if (!mmig__rec_kind_is_transition(t->kind) || t->op < -1 ||
	    t->op > (int64_t)UINT32_MAX || (!t->data && t->data_len) ||
	    t->data_len > UINT32_MAX)
		return MMIG_EINVAL;

	msgpack_packer_init(&pk, &o, outbuf_write);
	msgpack_pack_array(&pk, N_TRANSITION);
	msgpack_pack_uint32(&pk, MMIG_RECORD_FORMAT_INLINE);
	msgpack_pack_uint32(&pk, t->kind);
	msgpack_pack_int64(&pk, t->op);
	msgpack_pack_uint64(&pk, t->epoch);
	msgpack_pack_uint64(&pk, t->time_ns);
	if (t->data)
		pack_bin(&pk, t->data, t->data_len);
	else
		msgpack_pack_nil(&pk);
	return outbuf_finish(&o, buf, len);
}

/* ---- decoding: the raw layer -------------------------------------------- */

/* A cursor over raw bytes, for what is read before msgpack-c sees them. */
struct rd {
	const uint8_t *p;
	size_t len, off;
};

static bool
rd_take(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->len - r->off)
		return false;
	*out = r->p + r->off;
	r->off += n;
	return true;
}

static bool
rd_array(struct rd *r, uint64_t *n)
{
	const uint8_t *b, *x;

	if (!rd_take(r, 1, &b))
		return false;
	if ((*b & 0xf0) == 0x90) {
		*n = *b & 0x0f;
		return true;
	}
	if (*b != 0xdc && *b != 0xdd)
		return false;
	if (!rd_take(r, *b == 0xdc ? 2 : 4, &x))
		return false;
	*n = get_be(x, *b == 0xdc ? 2 : 4);
	return true;
}

/* Any encoding that msgpack-c reads as a POSITIVE_INTEGER: positive fixint,
 * uint 8..64, and int 8..64 holding a value >= 0. */
static bool
rd_uint(struct rd *r, uint64_t *v)
{
	const uint8_t *b, *x;
	size_t n;

	if (!rd_take(r, 1, &b))
		return false;
	if (*b <= 0x7f) {
		*v = *b;
		return true;
	}
	if (*b >= 0xcc && *b <= 0xcf)
		n = (size_t)1 << (*b - 0xcc);
	else if (*b >= 0xd0 && *b <= 0xd3)
		n = (size_t)1 << (*b - 0xd0);
	else
		return false;
	if (!rd_take(r, n, &x))
		return false;
	if (*b >= 0xd0 && (x[0] & 0x80))
		return false;
	*v = get_be(x, n);
	return true;
}

unsigned
mmig__rec_peek_kind(const void *buf, size_t len)
{
	struct rd r = { .p = buf, .len = buf ? len : 0 };
	uint64_t n, fmt, kind;

	if (!rd_array(&r, &n) || n < 3 || !rd_uint(&r, &fmt) ||
	    !rd_uint(&r, &kind) || kind > UINT_MAX)
		return 0;
	return (unsigned)kind;
}

/*
 * Walk one msgpack value over the whole buffer without allocating (step 3
 * of the decoding order).  @return NULL when it is sound, else why not.
 */
static const char *
prescan(const uint8_t *p, size_t len)
{
	uint64_t pending[MAX_DEPTH];
	int depth = 0;
	size_t off = 0;

	pending[0] = 1;
	while (depth >= 0) {
		uint64_t skip = 0, items = 0, lenlen = 0;
		bool container = false, pairs = false;
		uint8_t b;

		if (pending[depth] == 0) {
			depth--;
			continue;
		}
		pending[depth]--;
		if (off >= len)
			return "truncated";
		b = p[off++];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			skip = 0;
		} else if (b <= 0x8f) {
			container = pairs = true;
			items = b & 0x0f;
		} else if (b <= 0x9f) {
			container = true;
			items = b & 0x0f;
		} else if (b <= 0xbf) {
			skip = b & 0x1f;
		} else if (b == 0xc1) {
			return "byte 0xc1 is never used";
		} else if (b <= 0xc6) { /* bin 8/16/32 */
			lenlen = (uint64_t)1 << (b - 0xc4);
		} else if (b <= 0xc9) { /* ext 8/16/32: length, then type */
			lenlen = (uint64_t)1 << (b - 0xc7);
		} else if (b == 0xca) {
			skip = 4;
		} else if (b == 0xcb) {
			skip = 8;
		} else if (b <= 0xd3) { /* uint, int 8..64 */
			skip = (uint64_t)1 << ((b - 0xcc) & 3);
		} else if (b <= 0xd8) { /* fixext 1..16, plus the type */
			skip = 1 + ((uint64_t)1 << (b - 0xd4));
		} else if (b <= 0xdb) { /* str 8/16/32 */
			lenlen = (uint64_t)1 << (b - 0xd9);
		} else { /* 0xdc..0xdf: array 16/32, map 16/32 */
			container = true;
			pairs = b >= 0xde;
			lenlen = (b & 1) ? 4 : 2;
		}
		if (lenlen) {
			if (lenlen > len - off)
				return "truncated";
			if (container)
				items = get_be(p + off, lenlen);
			else
				skip = get_be(p + off, lenlen);
			off += lenlen;
			if (b >= 0xc7 && b <= 0xc9)
				skip += 1;
		}
		if (container) {
			if (pairs)
				items *= 2;
			/* Every element takes at least one byte. */
			if (items > len - off)
				return "a container claims more elements than "
				       "there are bytes";
			if (depth + 1 >= MAX_DEPTH)
				return "nested too deeply";
			pending[++depth] = items;
		} else {
			if (skip > len - off)
				return "truncated";
			off += skip;
		}
	}
	if (off != len)
		return "trailing bytes after the record";
	return NULL;
}

/* ---- decoding: fields --------------------------------------------------- */

/* Field checkers return NULL when the field is good, else a reason for the
 * message; the nomem sentinel means an allocation failed instead. */
static const char nomem[] = "out of memory";

static const char *
want_uint(const msgpack_object *o, uint64_t max, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return "not an unsigned integer";
	if (o->via.u64 > max)
		return "out of range";
	*v = o->via.u64;
	return NULL;
}

static const char *
want_u32(const msgpack_object *o, uint32_t *v)
{
	uint64_t x;
	const char *why = want_uint(o, UINT32_MAX, &x);

	if (!why)
		*v = (uint32_t)x;
	return why;
}

static const char *
want_str(const msgpack_object *o, bool nonempty, char **out)
{
	uint32_t n;

	if (o->type != MSGPACK_OBJECT_STR)
		return "not a string";
	n = o->via.str.size;
	if (n > MMIG_REC_MAX_STR)
		return "string too long";
	if (n == 0 && nonempty)
		return "empty string";
	if (n && memchr(o->via.str.ptr, '\0', n))
		return "string contains a NUL byte";
	*out = mmig__malloc((size_t)n + 1);
	if (!*out)
		return nomem;
	if (n)
		memcpy(*out, o->via.str.ptr, n);
	(*out)[n] = '\0';
	return NULL;
}

/* A bin of any length (exact == SIZE_MAX) or of exactly @p exact bytes. */
static const char *
want_bin(const msgpack_object *o, size_t exact, const uint8_t **p, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return "not binary";
	if (exact != SIZE_MAX && o->via.bin.size != exact)
		return "wrong length";
	*p = (const uint8_t *)o->via.bin.ptr;
	*n = o->via.bin.size;
	return NULL;
}

/* Copies are never NULL, even when empty, so that "present" survives. */
static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = mmig__malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* Turn a field reason into the decoder's return code and error. */
static int
field_fail(struct mmig_error **errp, const char *why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
field_fail(struct mmig_error **errp, const char *why, const char *fmt, ...)
{
	char field[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(field, sizeof(field), fmt, ap);
	va_end(ap);
	if (why == nomem)
		return fail(errp, MMIG_ENOMEM, "field %s: out of memory",
			    field);
	return fail(errp, MMIG_ECORRUPT, "field %s: %s", field, why);
}

/* The unpacked record, after steps 1..4 and the kind and length checks. */
struct dec {
	msgpack_unpacked u;
	const msgpack_object *f; /* the top array's elements */
	uint32_t n;
	uint64_t kind;
	uint64_t format;
};

static const char *
kind_text(uint64_t kind, char *buf, size_t size)
{
	const char *name = kind <= UINT_MAX ? mmig__rec_kind_name(
						      (unsigned)kind)
					    : "?";

	if (strcmp(name, "?") == 0)
		snprintf(buf, size, "unknown kind %llu",
			 (unsigned long long)kind);
	else
		snprintf(buf, size, "kind %s", name);
	return buf;
}

/*
 * Steps 1..4, then element 1 (kind) against @p want (0 = any transition)
 * and the element count.  The caller calls dec_close() whatever happens.
 */
static int
dec_open(struct dec *d, const void *vbuf, size_t len, unsigned want,
	 uint32_t n_want, struct mmig_error **errp)
{
	const uint8_t *buf = vbuf;
	struct rd r;
	uint64_t stored, computed, n, fmt;
	const char *why;
	const msgpack_object *last;
	char kt[48];
	size_t off = 0;
	msgpack_unpack_return ur;

	memset(d, 0, sizeof(*d));
	msgpack_unpacked_init(&d->u);
	if (!buf || len < MIN_LEN)
		return fail(errp, MMIG_ECORRUPT, "truncated: %zu bytes",
			    buf ? len : 0);
	if (buf[len - CKSUM_LEN] != 0xcf)
		return fail(errp, MMIG_ECORRUPT,
			    "no checksum at the end of the record");
	stored = get_be(buf + len - 8, 8);
	computed = XXH3_64bits(buf, len - CKSUM_LEN);
	if (stored != computed)
		return fail(errp, MMIG_ECORRUPT,
			    "checksum mismatch (stored %016llx, computed "
			    "%016llx)",
			    (unsigned long long)stored,
			    (unsigned long long)computed);

	r = (struct rd){ .p = buf, .len = len };
	if (!rd_array(&r, &n) || n < 3)
		return fail(errp, MMIG_ECORRUPT, "not a record array");
	if (!rd_uint(&r, &fmt))
		return fail(errp, MMIG_ECORRUPT,
			    "field format: not an unsigned integer");
	if (fmt == 0)
		return fail(errp, MMIG_ECORRUPT,
			    "field format: 0 is not a format");
	if (fmt > MMIG_RECORD_FORMAT)
		return fail(errp, MMIG_EFORMAT, "format %llu is newer than %d",
			    (unsigned long long)fmt, MMIG_RECORD_FORMAT);

	d->format = fmt;
	why = prescan(buf, len);
	if (why)
		return fail(errp, MMIG_ECORRUPT, "%s", why);
	ur = msgpack_unpack_next(&d->u, (const char *)buf, len, &off);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		return fail(errp, MMIG_ENOMEM, "out of memory unpacking");
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len ||
	    d->u.data.type != MSGPACK_OBJECT_ARRAY ||
	    d->u.data.via.array.size < 3)
		/* The pre-scan should have caught all of these. */
		return fail(errp, MMIG_ECORRUPT, "not a msgpack record");
	d->f = d->u.data.via.array.ptr;
	d->n = d->u.data.via.array.size;
	last = &d->f[d->n - 1];
	if (last->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    last->via.u64 != stored)
		return fail(errp, MMIG_ECORRUPT,
			    "field checksum: not the last element");

	if (d->f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return fail(errp, MMIG_ECORRUPT,
			    "field kind: not an unsigned integer");
	d->kind = d->f[1].via.u64;
	if (want ? d->kind != want
		 : (d->kind > UINT_MAX ||
		    !mmig__rec_kind_is_transition((unsigned)d->kind)))
		return fail(errp, MMIG_ECORRUPT, "%s, want %s",
			    kind_text(d->kind, kt, sizeof(kt)),
			    want ? mmig__rec_kind_name(want) : "a transition");
	if (d->n != n_want)
		return fail(errp, MMIG_ECORRUPT,
			    "%s record has %u elements, want %u",
			    mmig__rec_kind_name((unsigned)d->kind), d->n,
			    n_want);
	return MMIG_OK;
}

static void
dec_close(struct dec *d)
{
	msgpack_unpacked_destroy(&d->u);
}

int
mmig__rec_header_decode(const void *buf, size_t len,
			struct mmig_rec_header *out, struct mmig_error **errp)
{
	struct dec d;
	const msgpack_object *f, *plan;
	const uint8_t *p;
	size_t n;
	uint64_t v;
	const char *why;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dec_open(&d, buf, len, MMIG_REC_HEADER, N_HEADER, errp);
	if (rc != MMIG_OK)
		goto out;
	f = d.f;

	if ((why = want_bin(&f[2], MMIG_ID_LEN, &p, &n))) {
		rc = field_fail(errp, why, "id");
		goto out;
	}
	memcpy(out->id, p, MMIG_ID_LEN);
	if ((why = want_str(&f[3], false, &out->model_uuid))) {
		rc = field_fail(errp, why, "model_uuid");
		goto out;
	}

	plan = &f[4];
	if (plan->type != MSGPACK_OBJECT_ARRAY) {
		rc = field_fail(errp, "not an array", "plan");
		goto out;
	}
	if (plan->via.array.size > MMIG_REC_MAX_OPS) {
		rc = field_fail(errp, "too many ops", "plan");
		goto out;
	}
	out->plan = mmig__calloc(plan->via.array.size,
				 sizeof(*out->plan));
	if (!out->plan) {
		rc = field_fail(errp, nomem, "plan");
		goto out;
	}
	for (uint32_t i = 0; i < plan->via.array.size; i++) {
		const msgpack_object *op = &plan->via.array.ptr[i];
		struct mmig_plan_op *po = &out->plan[i];

		/* Count as we go, so that free() sees every name. */
		out->n_ops = i + 1;
		if (op->type != MSGPACK_OBJECT_ARRAY ||
		    op->via.array.size != N_PLAN_OP) {
			rc = field_fail(errp, "not an array of 3", "plan[%u]",
					i);
			goto out;
		}
		if ((why = want_str(&op->via.array.ptr[0], true, &po->name))) {
			rc = field_fail(errp, why, "plan[%u].name", i);
			goto out;
		}
		if ((why = want_u32(&op->via.array.ptr[1], &po->version))) {
			rc = field_fail(errp, why, "plan[%u].version", i);
			goto out;
		}
		if ((why = want_u32(&op->via.array.ptr[2], &po->flags))) {
			rc = field_fail(errp, why, "plan[%u].flags", i);
			goto out;
		}
	}

	if (d.format >= 2 && f[5].type == MSGPACK_OBJECT_ARRAY) {
		const msgpack_object *ref = f[5].via.array.ptr;

		if (f[5].via.array.size != 2) {
			rc = field_fail(errp, "not an array of 2", "model_desc");
			goto out;
		}
		if ((why = want_uint(&ref[0], UINT32_MAX, &v))) {
			rc = field_fail(errp, why, "model_desc.len");
			goto out;
		}
		out->model_desc_len = (size_t)v;
		if ((why = want_uint(&ref[1], UINT64_MAX, &out->desc_xxh64))) {
			rc = field_fail(errp, why, "model_desc.xxh3_64");
			goto out;
		}
		out->desc_side = true;
	} else {
		if ((why = want_bin(&f[5], SIZE_MAX, &p, &n))) {
			rc = field_fail(errp, why, "model_desc");
			goto out;
		}
		out->model_desc = dup_bytes(p, n);
		if (!out->model_desc) {
			rc = field_fail(errp, nomem, "model_desc");
			goto out;
		}
		out->model_desc_len = n;
	}
	if ((why = want_bin(&f[6], MMIG_DIGEST_LEN, &p, &n))) {
		rc = field_fail(errp, why, "digest");
		goto out;
	}
	memcpy(out->digest, p, MMIG_DIGEST_LEN);
	if ((why = want_uint(&f[7], MMIG_PROCESS, &v))) {
		rc = field_fail(errp, why, "durability");
		goto out;
	}
	out->durability = (uint32_t)v;
	if ((why = want_uint(&f[8], UINT64_MAX, &out->created_ns))) {
		rc = field_fail(errp, why, "created_ns");
		goto out;
	}
out:
	dec_close(&d);
	if (rc != MMIG_OK)
		mmig__rec_header_free(out);
	return rc;
}

int
mmig__rec_status_decode(const void *buf, size_t len,
			struct mmig_rec_status *out, struct mmig_error **errp)
{
	struct dec d;
	const msgpack_object *f, *w;
	uint64_t v;
	const char *why;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dec_open(&d, buf, len, MMIG_REC_STATUS, N_STATUS, errp);
	if (rc != MMIG_OK)
		goto out;
	f = d.f;

	if ((why = want_uint(&f[2], UINT32_MAX, &v))) {
		rc = field_fail(errp, why, "state");
		goto out;
	}
	if (!state_is_known(v)) {
		rc = fail(errp, MMIG_ECORRUPT,
			  "field state: unknown state %llu",
			  (unsigned long long)v);
		goto out;
	}
	out->state = (uint32_t)v;
	if ((why = want_uint(&f[3], UINT64_MAX, &out->epoch))) {
		rc = field_fail(errp, why, "epoch");
		goto out;
	}
	w = &f[4];
	if (w->type != MSGPACK_OBJECT_ARRAY ||
	    w->via.array.size != N_OWNER) {
		rc = field_fail(errp, "not an array of 4", "owner");
		goto out;
	}
	if ((why = want_u32(&w->via.array.ptr[0], &out->owner.pid))) {
		rc = field_fail(errp, why, "owner.pid");
		goto out;
	}
	if ((why = want_uint(&w->via.array.ptr[1], UINT64_MAX,
			     &out->owner.start_time))) {
		rc = field_fail(errp, why, "owner.start_time");
		goto out;
	}
	if ((why = want_str(&w->via.array.ptr[2], false,
			    &out->owner.boot_id))) {
		rc = field_fail(errp, why, "owner.boot_id");
		goto out;
	}
	if ((why = want_str(&w->via.array.ptr[3], false, &out->owner.host))) {
		rc = field_fail(errp, why, "owner.host");
		goto out;
	}
	if ((why = want_uint(&f[5], UINT64_MAX, &out->updated_ns))) {
		rc = field_fail(errp, why, "updated_ns");
		goto out;
	}
out:
	dec_close(&d);
	if (rc != MMIG_OK)
		mmig__rec_status_free(out);
	return rc;
}

int
mmig__rec_transition_decode(const void *buf, size_t len,
			    struct mmig_rec_transition *out,
			    struct mmig_error **errp)
{
	struct dec d;
	const msgpack_object *f;
	const uint8_t *p;
	size_t n;
	const char *why;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dec_open(&d, buf, len, 0, N_TRANSITION, errp);
	if (rc != MMIG_OK)
		goto out;
	f = d.f;
	out->kind = (uint32_t)d.kind;

	if (f[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    f[2].via.u64 <= UINT32_MAX) {
		out->op = (int64_t)f[2].via.u64;
	} else if (f[2].type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		   f[2].via.i64 == -1) {
		out->op = -1;
	} else {
		rc = field_fail(errp, "not -1 or an op index", "op");
		goto out;
	}
	if ((why = want_uint(&f[3], UINT64_MAX, &out->epoch))) {
		rc = field_fail(errp, why, "epoch");
		goto out;
	}
	if ((why = want_uint(&f[4], UINT64_MAX, &out->time_ns))) {
		rc = field_fail(errp, why, "time_ns");
		goto out;
	}
	if (f[5].type != MSGPACK_OBJECT_NIL) {
		if ((why = want_bin(&f[5], SIZE_MAX, &p, &n))) {
			rc = field_fail(errp, "not binary or nil", "data");
			goto out;
		}
		out->data = dup_bytes(p, n);
		if (!out->data) {
			rc = field_fail(errp, nomem, "data");
			goto out;
		}
		out->data_len = n;
	}
out:
	dec_close(&d);
	if (rc != MMIG_OK)
		mmig__rec_transition_free(out);
	return rc;
}

/* ---- ownership ---------------------------------------------------------- */

void
mmig__owner_free(struct mmig_owner *o)
{
	if (!o)
		return;
	mmig__free(o->boot_id);
	mmig__free(o->host);
	memset(o, 0, sizeof(*o));
}

int
mmig__owner_copy(struct mmig_owner *dst, const struct mmig_owner *src)
{
	struct mmig_owner c = {
		.pid = src->pid,
		.start_time = src->start_time,
	};

	c.boot_id = mmig__strdup(src->boot_id ? src->boot_id : "");
	c.host = mmig__strdup(src->host ? src->host : "");
	if (!c.boot_id || !c.host) {
		mmig__owner_free(&c);
		memset(dst, 0, sizeof(*dst));
		return MMIG_ENOMEM;
	}
	*dst = c;
	return MMIG_OK;
}

void
mmig__rec_header_free(struct mmig_rec_header *h)
{
	if (!h)
		return;
	if (h->plan)
		for (uint32_t i = 0; i < h->n_ops; i++)
			mmig__free(h->plan[i].name);
	mmig__free(h->plan);
	mmig__free(h->model_uuid);
	mmig__free(h->model_desc);
	mmig__free(h->desc_problem);
	memset(h, 0, sizeof(*h));
}

void
mmig__rec_status_free(struct mmig_rec_status *s)
{
	if (!s)
		return;
	mmig__owner_free(&s->owner);
	memset(s, 0, sizeof(*s));
}

void
mmig__rec_transition_free(struct mmig_rec_transition *t)
{
	if (!t)
		return;
	mmig__free(t->data);
	memset(t, 0, sizeof(*t));
}

/* ---- equality ----------------------------------------------------------- */

static bool
str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool
bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

bool
mmig__rec_header_equal(const struct mmig_rec_header *a,
		       const struct mmig_rec_header *b)
{
	if (memcmp(a->id, b->id, MMIG_ID_LEN) != 0 ||
	    !str_eq(a->model_uuid, b->model_uuid) || a->n_ops != b->n_ops ||
	    a->desc_side != b->desc_side ||
	    (a->desc_side && (a->desc_xxh64 != b->desc_xxh64 ||
			      a->model_desc_len != b->model_desc_len)) ||
	    (!a->desc_side &&
	     !bytes_eq(a->model_desc, a->model_desc_len, b->model_desc,
		       b->model_desc_len)) ||
	    memcmp(a->digest, b->digest, MMIG_DIGEST_LEN) != 0 ||
	    a->durability != b->durability || a->created_ns != b->created_ns)
		return false;
	for (uint32_t i = 0; i < a->n_ops; i++)
		if (!str_eq(a->plan[i].name, b->plan[i].name) ||
		    a->plan[i].version != b->plan[i].version ||
		    a->plan[i].flags != b->plan[i].flags)
			return false;
	return true;
}

bool
mmig__rec_status_equal(const struct mmig_rec_status *a,
		       const struct mmig_rec_status *b)
{
	return a->state == b->state && a->epoch == b->epoch &&
	       a->owner.pid == b->owner.pid &&
	       a->owner.start_time == b->owner.start_time &&
	       str_eq(a->owner.boot_id, b->owner.boot_id) &&
	       str_eq(a->owner.host, b->owner.host) &&
	       a->updated_ns == b->updated_ns;
}

bool
mmig__rec_transition_equal(const struct mmig_rec_transition *a,
			   const struct mmig_rec_transition *b)
{
	return a->kind == b->kind && a->op == b->op && a->epoch == b->epoch &&
	       a->time_ns == b->time_ns && !a->data == !b->data &&
	       bytes_eq(a->data, a->data_len, b->data, b->data_len);
}

/* ---- JSON --------------------------------------------------------------- */

/* RFC 4648 base64 with padding; jansson has none. */
static char *
base64(const uint8_t *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *o;
	size_t i;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = mmig__malloc((n + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		*o++ = abc[v >> 18];
		*o++ = abc[(v >> 12) & 63];
		*o++ = abc[(v >> 6) & 63];
		*o++ = abc[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = abc[v >> 18];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static json_t *
json_u64(uint64_t v)
{
	char text[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	return json_string(text);
}

static json_t *
json_data(const uint8_t *p, size_t n)
{
	json_t *s;
	char *b64;

	if (!p)
		return json_null();
	/* jansson refuses invalid UTF-8 here; a NUL byte makes it binary. */
	if (!memchr(p, '\0', n)) {
		s = json_stringn((const char *)p, n);
		if (s)
			return s;
	}
	b64 = base64(p, n);
	if (!b64)
		return NULL;
	s = json_pack("{s:s}", "base64", b64);
	mmig__free(b64);
	return s;
}

char *
mmig__rec_transition_json(const struct mmig_rec_transition *t)
{
	json_t *o = json_object();
	const char *name = mmig__rec_kind_name(t->kind);
	char *text = NULL;
	int bad = 0;

	if (!o)
		return NULL;
	bad |= json_object_set_new(o, "kind",
				   strcmp(name, "?") ? json_string(name)
						     : json_integer(t->kind));
	bad |= json_object_set_new(o, "op", json_integer(t->op));
	bad |= json_object_set_new(o, "epoch", json_u64(t->epoch));
	bad |= json_object_set_new(o, "time_ns", json_u64(t->time_ns));
	bad |= json_object_set_new(o, "data", json_data(t->data, t->data_len));
	if (!bad)
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}
