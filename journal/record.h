/*
 * journal/record.h - the journal's records in memory, their msgpack codec,
 * and the fold ("replay") from a migration's transitions to its state.
 *
 * Private to the library: the storage, verify/dump and recovery use it; the
 * public API exposes what a caller needs through mmig/journal.h.
 *
 * The byte format is documented in one table at the top of record.c.
 * Every encoded value is a msgpack array whose first element is the format
 * version and whose last element is an XXH3-64 checksum of every byte before
 * that last element.  The decoder is written for hostile bytes.
 */
#ifndef MMIG_JOURNAL_RECORD_H
#define MMIG_JOURNAL_RECORD_H

#include "mmig/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The format this code writes; the decoder accepts 1..this.  Format 2
 * adds one thing: a header's model_desc (element 5) may be a reference to
 * a side file instead of the bytes (see record.c). */
#define MMIG_RECORD_FORMAT 2
/* What every record is written as, but a header naming a side file (2):
 * the bytes of every other record are those of format 1. */
#define MMIG_RECORD_FORMAT_INLINE 1

/* Record kinds.  Values are on disk: never renumber, only append. */
#define MMIG_REC_KIND_MAP(XX)                                                  \
	XX(HEADER, 1)                                                          \
	XX(STATUS, 2)                                                          \
	XX(BEGIN, 10)                                                          \
	XX(DONE, 11)                                                           \
	XX(FAIL, 12)                                                           \
	XX(CHECKPOINT, 13)                                                     \
	XX(UNDO_BEGIN, 14)                                                     \
	XX(UNDO_DONE, 15)                                                      \
	XX(UNDO_FAIL, 16)                                                      \
	XX(MODEL_DELETED, 17)                                                  \
	XX(COMMITTED, 18)                                                      \
	XX(ROLLED_BACK, 19)                                                    \
	XX(NEEDS_ATTENTION, 20)                                                \
	XX(PAUSED, 21)                                                         \
	XX(RESUMED, 22)                                                        \
	XX(CLAIMED, 23)

enum mmig_rec_kind {
#define MMIG_XX_KIND(name, val) MMIG_REC_##name = val,
	MMIG_REC_KIND_MAP(MMIG_XX_KIND)
#undef MMIG_XX_KIND
};

/* @return "BEGIN", "UNDO_DONE", ...; "?" for an unknown kind. */
const char *mmig__rec_kind_name(unsigned kind);
/* @return true for the kinds that are transitions (BEGIN .. CLAIMED). */
bool mmig__rec_kind_is_transition(unsigned kind);

/* Migration states.  Values are on disk (STATUS records). */
#define MMIG_STATE_MAP(XX)                                                     \
	XX(RUNNING, 1)                                                         \
	XX(PAUSED, 2)                                                          \
	XX(ROLLING_BACK, 3)                                                    \
	XX(COMMITTED, 4)                                                       \
	XX(ROLLED_BACK, 5)                                                     \
	XX(NEEDS_ATTENTION, 6)

enum mmig_state {
#define MMIG_XX_STATE(name, val) MMIG_STATE_##name = val,
	MMIG_STATE_MAP(MMIG_XX_STATE)
#undef MMIG_XX_STATE
};

const char *mmig__state_name(unsigned state); /* "?" when unknown */
/* @return true for COMMITTED and ROLLED_BACK: nothing more can happen. */
bool mmig__state_is_final(unsigned state);

/* Caps the decoder enforces (and the encoders refuse to exceed), so hostile
 * bytes cannot make it allocate without bound.  Blobs (model_desc, data)
 * are bounded only by the record's own length. */
#define MMIG_REC_MAX_OPS 100000 /* plan length */
#define MMIG_REC_MAX_STR 4096   /* any string: op name, uuid, boot id, host */

#define MMIG_ID_LEN 16     /* a migration id: a UUID v7 (time-ordered) */
#define MMIG_DIGEST_LEN 16 /* XXH3-128 of the model description */

/* Who drives a migration.  A process is the same one only when pid, start
 * time (clock ticks since boot, /proc/PID/stat field 22) and boot id match. */
struct mmig_owner {
	uint32_t pid;
	uint64_t start_time;
	char *boot_id; /* owned; "" allowed */
	char *host;    /* owned; "" allowed */
};

struct mmig_plan_op {
	char *name; /* owned */
	uint32_t version;
	uint32_t flags;
};

/* Immutable: written once when a migration starts. */
struct mmig_rec_header {
	uint8_t id[MMIG_ID_LEN];
	char *model_uuid;             /* owned */
	struct mmig_plan_op *plan;    /* owned array of n_ops */
	uint32_t n_ops;
	uint8_t *model_desc;          /* owned; the description bytes as given */
	size_t model_desc_len;
	uint8_t digest[MMIG_DIGEST_LEN]; /* XXH3-128 of model_desc, canonical */
	uint32_t durability;          /* enum mmig_durability */
	uint64_t created_ns;          /* CLOCK_REALTIME */
	/* The description lives in a side file beside the journal (LMDB,
	 * journal/side.c): the record holds model_desc_len and desc_xxh64
	 * (XXH3-64 of the bytes) instead of the bytes.  Decoded, model_desc
	 * is NULL until the side file is read (mmig__side_load()); when that
	 * fails, desc_problem (owned) says why, naming the file, and
	 * model_desc stays NULL. */
	bool desc_side;
	uint64_t desc_xxh64;
	char *desc_problem;
};

/* Mutable, small: rewritten on a change of state or owner.  The state is a
 * cache of the fold of the transitions; verify checks they agree. */
struct mmig_rec_status {
	uint32_t state;    /* enum mmig_state */
	uint64_t epoch;    /* bumped by every claim (invariant F) */
	struct mmig_owner owner;
	uint64_t updated_ns;
};

/* One transition: seq N of its migration (the LMDB backend stores it
 * under an LSN, with the seq and the previous LSN beside it). */
struct mmig_rec_transition {
	uint32_t kind;      /* MMIG_REC_BEGIN .. MMIG_REC_CLAIMED */
	int64_t op;         /* op index, or -1 for kinds with no op */
	uint64_t epoch;     /* the writer's owner epoch */
	uint64_t time_ns;   /* CLOCK_REALTIME */
	uint8_t *data;      /* FAIL/UNDO_FAIL/NEEDS_ATTENTION: error text;
	                       CHECKPOINT: the blob; CLAIMED: owner text;
	                       otherwise NULL.  Owned by the record when
	                       decoded; see mmig__rec_transition_free(). */
	size_t data_len;
};

/*
 * Encoders append to a growable buffer.  On success *buf and *len hold a
 * malloc'd buffer the caller frees with free() (or mmig__free()); on failure
 * *buf is NULL and *len 0.  The checksum is always written as a 9-byte
 * msgpack uint64, so the last 9 bytes of every record are 0xcf and the
 * checksum, big-endian.
 * @return MMIG_OK; MMIG_ENOMEM; MMIG_EINVAL for a record the decoder would
 * refuse, so that nothing undecodable is ever written: a NULL or empty op
 * name, a NULL model_uuid, a string over MMIG_REC_MAX_STR, a plan over
 * MMIG_REC_MAX_OPS, an unknown durability or state, a kind that is not a
 * transition, an op below -1, data NULL with data_len != 0.  A NULL owner
 * boot_id or host is written as "".
 */
int mmig__rec_header_encode(const struct mmig_rec_header *h, uint8_t **buf,
			    size_t *len);
int mmig__rec_status_encode(const struct mmig_rec_status *s, uint8_t **buf,
			    size_t *len);

/*
 * A header record in three pieces, so that storage can take it with one
 * copy (LMDB's MDB_RESERVE) instead of an encoded buffer and then a copy
 * of it: @c head is every byte before the description's body, @c desc the
 * description itself (borrowed from the mmig_rec_header, NOT copied: it
 * must stay alive and unchanged while the pieces are used), @c tail every
 * byte after it, the checksum included.  head + desc + tail is, byte for
 * byte, what mmig__rec_header_encode() writes (which is built on this).
 * mmig__rec_header_encode_parts() fails as mmig__rec_header_encode() does;
 * on failure *out is zeroed.  Free with mmig__rec_header_parts_free()
 * (which leaves the description alone; zeroed pieces are a no-op).
 */
struct mmig__rec_header_parts {
	uint8_t *head;
	size_t head_len;
	const uint8_t *desc;
	size_t desc_len;
	uint8_t *tail;
	size_t tail_len;
	/* A header with desc_side: the record (head + tail, desc empty)
	 * holds the reference; these are the bytes for the side file,
	 * borrowed like desc (NULL/0 otherwise). */
	const uint8_t *side;
	size_t side_len;
};
int mmig__rec_header_encode_parts(const struct mmig_rec_header *h,
				  struct mmig__rec_header_parts *out);
/** @return the record's length in bytes. */
size_t mmig__rec_header_parts_len(const struct mmig__rec_header_parts *p);
/** Write the record into @p dst (mmig__rec_header_parts_len() bytes). */
void mmig__rec_header_parts_copy(const struct mmig__rec_header_parts *p,
				 uint8_t *dst);
void mmig__rec_header_parts_free(struct mmig__rec_header_parts *p);
int mmig__rec_transition_encode(const struct mmig_rec_transition *t,
				uint8_t **buf, size_t *len);

/*
 * Decoders.  On success *out is filled and owns copies of everything (the
 * input can go away).  On failure *out is left zeroed and, when errp is not
 * NULL, *errp gets an error naming what is wrong ("field plan[2].name: not a
 * string", "checksum mismatch", "format 7 is newer than 1").
 * The digest is not checked against model_desc here: verify reports that.
 * A transition's data decodes to NULL when it was written as NULL, and to
 * a non-NULL buffer (possibly of length 0) otherwise.
 * @return MMIG_OK; MMIG_ECORRUPT for bytes that are not a valid record
 * (truncated, wrong types, checksum, unknown kind, a record of another
 * kind); MMIG_EFORMAT for a format version newer than MMIG_RECORD_FORMAT
 * (checked after the checksum, so a flipped bit is always ECORRUPT);
 * MMIG_ENOMEM.
 */
int mmig__rec_header_decode(const void *buf, size_t len,
			    struct mmig_rec_header *out,
			    struct mmig_error **errp);
int mmig__rec_status_decode(const void *buf, size_t len,
			    struct mmig_rec_status *out,
			    struct mmig_error **errp);
int mmig__rec_transition_decode(const void *buf, size_t len,
				struct mmig_rec_transition *out,
				struct mmig_error **errp);

/* @return the kind of an encoded record (element 1) without a full decode,
 * or 0 when it cannot be read. */
unsigned mmig__rec_peek_kind(const void *buf, size_t len);

/* Free what a record owns and zero it.  NULL is a no-op. */
void mmig__rec_header_free(struct mmig_rec_header *h);
void mmig__rec_status_free(struct mmig_rec_status *s);
void mmig__rec_transition_free(struct mmig_rec_transition *t);
void mmig__owner_free(struct mmig_owner *o);
/* @return MMIG_OK or MMIG_ENOMEM (then *dst is zeroed). */
int mmig__owner_copy(struct mmig_owner *dst, const struct mmig_owner *src);

/* Field-by-field equality, as the decoder would see it: a NULL owner
 * string equals "", a NULL transition data differs from an empty one. */
bool mmig__rec_header_equal(const struct mmig_rec_header *a,
			    const struct mmig_rec_header *b);
bool mmig__rec_status_equal(const struct mmig_rec_status *a,
			    const struct mmig_rec_status *b);
bool mmig__rec_transition_equal(const struct mmig_rec_transition *a,
				const struct mmig_rec_transition *b);

/* XXH3-128 of @p data, as 16 bytes big-endian (canonical form). */
void mmig__digest(const void *data, size_t len, uint8_t out[MMIG_DIGEST_LEN]);

/*
 * One record as JSON, on one line with no trailing newline, for `dump`:
 * {"kind":"BEGIN","op":3,"epoch":1,"time_ns":...,"data":"..."}; binary data
 * is printed as a JSON string when it is valid UTF-8 text with no NUL
 * byte, else as {"base64":"..."} (RFC 4648, padded); NULL data is null.
 * An unknown kind is printed as its number; epoch and time_ns above
 * INT64_MAX as decimal strings (JSON integers here are signed 64-bit).
 * @return a malloc'd string, or NULL when out of memory.
 */
char *mmig__rec_transition_json(const struct mmig_rec_transition *t);

/*
 * The fold: a pure function from a migration's transitions, in seq order,
 * to its state.  Feed records one at a time; a record that cannot follow
 * the ones before is rejected with MMIG_EILLEGAL and an error naming it
 * ("seq 7 DONE op 3: no BEGIN for op 3"), and the fold is left as it was
 * before that record.  The rules are listed at the top of fold.c.
 */
struct mmig_fold {
	uint32_t n_ops;         /* from the plan */
	uint32_t state;         /* enum mmig_state */
	uint64_t n_records;     /* records folded */
	int64_t highest_begun;  /* highest op with BEGIN, -1 if none */
	int64_t failed_op;      /* op of the FAIL record, -1 if none */
	uint8_t *begun;         /* n_ops flags: BEGIN seen */
	uint8_t *done;          /* n_ops flags: DONE seen */
	uint8_t *undo_begun;    /* n_ops flags: UNDO_BEGIN seen */
	uint8_t *undone;        /* n_ops flags: UNDO_DONE seen */
	/* Last CHECKPOINT per op (owned copies; NULL/0 when none). */
	uint8_t **checkpoint;
	size_t *checkpoint_len;
	char *cause;            /* text of the first FAIL (owned), or NULL */
	char *last_error;       /* text of the latest UNDO_FAIL or
	                           NEEDS_ATTENTION (owned), or NULL */
	bool model_deleted;
	uint64_t last_epoch;    /* epoch of the latest record */
	uint32_t last_kind;     /* kind of the latest record, 0 if none */
	uint64_t last_time_ns;  /* time of the latest record */
};

/* @return MMIG_OK or MMIG_ENOMEM.  State starts RUNNING. */
int mmig__fold_init(struct mmig_fold *f, uint32_t n_ops);
/* @p seq only names the record in the error. */
int mmig__fold_apply(struct mmig_fold *f, uint64_t seq,
		     const struct mmig_rec_transition *t,
		     struct mmig_error **errp);
void mmig__fold_free(struct mmig_fold *f);
/* @return the number of ops with DONE. */
uint32_t mmig__fold_ops_done(const struct mmig_fold *f);
/*
 * True when the migration rests: PAUSED or NEEDS_ATTENTION, its last
 * record not CLAIMED.  The process that wrote that state returned from
 * perform (or recovery) and may be alive, but acts on it no more, so it
 * may be taken over; a CLAIMED last means a recoverer has just taken it
 * and is about to act.  Every backend decides it inside its claim's
 * atomic write, so two claims cannot both see it resting.
 */
bool mmig__fold_rests(const struct mmig_fold *f);

#endif
