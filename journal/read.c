/*
 * journal/read.c - reading migrations back: header, status, the fold of the
 * transitions, the in-flight index, and what the tools show (list, get,
 * show, dump).
 *
 * Everything here runs in a read transaction and writes nothing.  A record
 * that cannot be trusted is reported with the migration and the seq it was
 * found at; it never stops the others from being read.
 */
#include "internal.h"
#include "lmdb-int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Ids begin with their creation time: ids made close together share a
 * prefix. */
#define AMBIGUOUS "prefix matches several migrations; give more of the id"

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

int
mmig__journal_header(struct mmig_journal *j, MDB_txn *txn,
		     const uint8_t id[MMIG_ID_LEN], struct mmig_rec_header *out,
		     struct mmig_error **errp)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	struct mmig_error *err = NULL;
	char text[37];
	int rc;

	mmig__id_text(id, text);
	rc = mdb_get(txn, mmig__journal_dbs(j)->hdr, &key, &val);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: header", text));
		return mmig__from_mdb(rc);
	}
	rc = mmig__rec_header_decode(val.mv_data, val.mv_size, out, &err);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_wrap(err, "migration %s: header", text));
	return rc;
}

int
mmig__journal_status(struct mmig_journal *j, MDB_txn *txn,
		     const uint8_t id[MMIG_ID_LEN], struct mmig_rec_status *out,
		     struct mmig_error **errp)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	struct mmig_error *err = NULL;
	struct mmig__chain chain;
	const uint8_t *rec;
	size_t len;
	char text[37];
	int rc;

	mmig__id_text(id, text);
	rc = mdb_get(txn, mmig__journal_dbs(j)->status, &key, &val);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: status", text));
		return mmig__from_mdb(rc);
	}
	if (!mmig__status_unwrap(&val, &chain, &rec, &len)) {
		set_err(errp, mmig_error_new(MMIG_ECORRUPT,
					     "migration %s: status: %zu bytes, "
					     "too short for its chain",
					     text, val.mv_size));
		return MMIG_ECORRUPT;
	}
	rc = mmig__rec_status_decode(rec, len, out, &err);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_wrap(err, "migration %s: status", text));
	return rc;
}

/* ---- the chain of LSNs ---------------------------------------------------- */

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
mmig__lsn_key(uint8_t key[MMIG__LSN_LEN], uint64_t lsn)
{
	key[0] = MMIG__LSN_PREFIX;
	put_be64(key + 1, lsn);
}

uint64_t
mmig__lsn_of(const MDB_val *key)
{
	const uint8_t *p = key->mv_data;

	if (key->mv_size != MMIG__LSN_LEN || p[0] != MMIG__LSN_PREFIX)
		return 0;
	return get_be64(p + 1);
}

int
mmig__log_count(struct mmig_journal *j, MDB_txn *txn, uint64_t *n)
{
	uint8_t k[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	MDB_cursor *cur;
	int rc;

	*n = 0;
	mmig__lsn_key(k, 0);
	rc = mdb_cursor_open(txn, mmig__journal_dbs(j)->log, &cur);
	if (rc != MDB_SUCCESS)
		return rc;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == MDB_SUCCESS && mmig__lsn_of(&key) != 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
		(*n)++;
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
}

void
mmig__log_wrap_env(uint8_t env[MMIG__LOG_ENV_LEN],
		   const uint8_t id[MMIG_ID_LEN], uint64_t seq, uint64_t prev)
{
	memcpy(env, id, MMIG_ID_LEN);
	put_be64(env + MMIG_ID_LEN, seq);
	put_be64(env + MMIG_ID_LEN + 8, prev);
}

bool
mmig__log_unwrap(const MDB_val *val, struct mmig__log_rec *out)
{
	const uint8_t *p = val->mv_data;

	if (val->mv_size < MMIG__LOG_ENV_LEN)
		return false;
	memcpy(out->id, p, MMIG_ID_LEN);
	out->seq = get_be64(p + MMIG_ID_LEN);
	out->prev = get_be64(p + MMIG_ID_LEN + 8);
	out->rec = p + MMIG__LOG_ENV_LEN;
	out->len = val->mv_size - MMIG__LOG_ENV_LEN;
	return true;
}

void
mmig__status_wrap_env(uint8_t env[MMIG__STATUS_ENV_LEN],
		      const struct mmig__chain *c)
{
	put_be64(env, c->first);
	put_be64(env + 8, c->last);
	put_be64(env + 16, c->next_seq);
}

bool
mmig__status_unwrap(const MDB_val *val, struct mmig__chain *c,
		    const uint8_t **rec, size_t *len)
{
	const uint8_t *p = val->mv_data;

	if (val->mv_size < MMIG__STATUS_ENV_LEN)
		return false;
	c->first = get_be64(p);
	c->last = get_be64(p + 8);
	c->next_seq = get_be64(p + 16);
	if (rec)
		*rec = p + MMIG__STATUS_ENV_LEN;
	if (len)
		*len = val->mv_size - MMIG__STATUS_ENV_LEN;
	return true;
}

int
mmig__chain_catch_up(struct mmig_journal *j, MDB_txn *txn,
		     const uint8_t id[MMIG_ID_LEN], struct mmig__chain *c,
		     struct mmig_error **errp)
{
	uint8_t k[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	uint64_t stored = c->last, lsn;
	struct mmig__log_rec r;
	const char *why = NULL;
	MDB_cursor *cur;
	char text[37];
	int rc;

	/* A chain the status holds no record of has none: its first record
	 * always rewrites the status. */
	if (stored == 0)
		return MMIG_OK;
	mmig__lsn_key(k, stored + 1);
	rc = mdb_cursor_open(txn, mmig__journal_dbs(j)->log, &cur);
	if (rc != MDB_SUCCESS)
		goto lmdb;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		lsn = mmig__lsn_of(&key);
		if (lsn == 0 || lsn - stored > MMIG__STATUS_LAG)
			break;
		if (!mmig__log_unwrap(&val, &r) ||
		    memcmp(r.id, id, MMIG_ID_LEN) != 0)
			continue; /* another migration's (verify checks it) */
		if (r.seq != c->next_seq)
			why = "has another seq than the chain's next";
		else if (r.prev != c->last)
			why = "does not point back to the chain's end";
		if (why)
			break;
		c->last = lsn;
		c->next_seq++;
	}
	mdb_cursor_close(cur);
	if (why) {
		mmig__id_text(id, text);
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "migration %s: the record at LSN %llu, "
				      "after its status's last (%llu), %s",
				      text, (unsigned long long)lsn,
				      (unsigned long long)stored, why));
		return MMIG_ECORRUPT;
	}
	if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND)
		return MMIG_OK;
lmdb:
	mmig__id_text(id, text);
	set_err(errp, mmig__mdb_error(rc, "migration %s: log", text));
	return mmig__from_mdb(rc);
}

int
mmig__journal_chain(struct mmig_journal *j, MDB_txn *txn,
		    const uint8_t id[MMIG_ID_LEN], struct mmig__chain *c,
		    struct mmig_error **errp)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	char text[37];
	int rc;

	mmig__id_text(id, text);
	rc = mdb_get(txn, mmig__journal_dbs(j)->status, &key, &val);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: status", text));
		return mmig__from_mdb(rc);
	}
	if (!mmig__status_unwrap(&val, c, NULL, NULL)) {
		set_err(errp, mmig_error_new(MMIG_ECORRUPT,
					     "migration %s: status: %zu bytes, "
					     "too short for its chain",
					     text, val.mv_size));
		return MMIG_ECORRUPT;
	}
	return mmig__chain_catch_up(j, txn, id, c, errp);
}

/* One link of a chain: the record at @p lsn must be seq @p seq of @p id.
 * @return MMIG_OK, or MMIG_ECORRUPT / a storage error with *errp. */
static int
chain_link(struct mmig_journal *j, MDB_txn *txn, const uint8_t id[MMIG_ID_LEN],
	   const char *text, uint64_t seq, uint64_t lsn,
	   struct mmig__log_rec *out, struct mmig_error **errp)
{
	uint8_t k[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	const char *why = NULL;
	int rc;

	if (lsn == 0) {
		why = "missing (the chain ends before it)";
		goto corrupt;
	}
	mmig__lsn_key(k, lsn);
	rc = mdb_get(txn, mmig__journal_dbs(j)->log, &key, &val);
	if (rc == MDB_NOTFOUND) {
		why = "missing (no record at its LSN)";
		goto corrupt;
	}
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: seq %llu: log",
					      text, (unsigned long long)seq));
		return mmig__from_mdb(rc);
	}
	if (!mmig__log_unwrap(&val, out))
		why = "log value too short for its envelope";
	else if (memcmp(out->id, id, MMIG_ID_LEN) != 0)
		why = "the record at its LSN belongs to another migration";
	else if (out->seq != seq)
		why = "the record at its LSN has another seq";
	else if (seq == 0 ? out->prev != 0 : (out->prev == 0 || out->prev >= lsn))
		why = "the record does not point back to its predecessor";
	if (!why)
		return MMIG_OK;
corrupt:
	set_err(errp, mmig_error_new(MMIG_ECORRUPT,
				     "migration %s: seq %llu (LSN %llu): %s",
				     text, (unsigned long long)seq,
				     (unsigned long long)lsn, why));
	return MMIG_ECORRUPT;
}

struct link {
	uint64_t lsn;
	MDB_val rec;
};

int
mmig__log_walk(struct mmig_journal *j, MDB_txn *txn,
	       const uint8_t id[MMIG_ID_LEN],
	       int (*fn)(void *arg, uint64_t seq, uint64_t lsn,
			 const MDB_val *rec),
	       void *arg, struct mmig_error **errp)
{
	struct mmig__chain c;
	struct mmig__log_rec r;
	struct link *links = NULL;
	MDB_stat ms;
	char text[37];
	uint64_t lsn;
	int rc;

	mmig__id_text(id, text);
	rc = mmig__journal_chain(j, txn, id, &c, errp);
	if (rc != MMIG_OK)
		return rc;
	if (c.next_seq == 0)
		return MMIG_OK;
	/* A damaged count must not size the array: no chain is longer than
	 * the log. */
	rc = mdb_stat(txn, mmig__journal_dbs(j)->log, &ms);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: log", text));
		return mmig__from_mdb(rc);
	}
	if (c.next_seq > ms.ms_entries) {
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "migration %s: status: a chain of %llu "
				      "records in a log of %llu",
				      text, (unsigned long long)c.next_seq,
				      (unsigned long long)ms.ms_entries));
		return MMIG_ECORRUPT;
	}
	links = mmig__calloc((size_t)c.next_seq, sizeof(*links));
	if (!links)
		return MMIG_ENOMEM;
	lsn = c.last;
	for (uint64_t s = c.next_seq; s-- > 0;) {
		rc = chain_link(j, txn, id, text, s, lsn, &r, errp);
		if (rc != MMIG_OK)
			goto out;
		if (s == 0 && lsn != c.first) {
			set_err(errp, mmig_error_new(
					      MMIG_ECORRUPT,
					      "migration %s: seq 0 at LSN %llu, "
					      "but its status says %llu",
					      text, (unsigned long long)lsn,
					      (unsigned long long)c.first));
			rc = MMIG_ECORRUPT;
			goto out;
		}
		links[s].lsn = lsn;
		links[s].rec = (MDB_val){ .mv_size = r.len,
					  .mv_data = (void *)r.rec };
		lsn = r.prev;
	}
	for (uint64_t s = 0; s < c.next_seq && rc == MMIG_OK; s++)
		rc = fn(arg, s, links[s].lsn, &links[s].rec);
out:
	mmig__free(links);
	return rc;
}

int
mmig__log_find(struct mmig_journal *j, MDB_txn *txn,
	       const uint8_t id[MMIG_ID_LEN], uint64_t seq, uint64_t *lsn)
{
	struct mmig__chain c;
	struct mmig__log_rec r;
	uint64_t at;
	int rc;

	rc = mmig__journal_chain(j, txn, id, &c, NULL);
	if (rc != MMIG_OK)
		return rc;
	if (seq >= c.next_seq)
		return MMIG_ENOTFOUND;
	at = c.last;
	for (uint64_t s = c.next_seq; s-- > seq;) {
		rc = chain_link(j, txn, id, "", s, at, &r, NULL);
		if (rc != MMIG_OK)
			return rc;
		if (s == seq)
			break;
		at = r.prev;
	}
	*lsn = at;
	return MMIG_OK;
}

/* The table and key of one stored record, for the white-box helpers. */
static int
value_locate(struct mmig_journal *j, MDB_txn *txn, const char *table,
	     const uint8_t id[MMIG_ID_LEN], uint64_t seq, MDB_dbi *dbi,
	     uint8_t k[MMIG_ID_LEN], MDB_val *key, size_t *env_len)
{
	const struct mmig__dbs *d = mmig__journal_dbs(j);
	uint64_t lsn;
	int rc;

	*key = (MDB_val){ .mv_size = MMIG_ID_LEN, .mv_data = k };
	memcpy(k, id, MMIG_ID_LEN);
	if (strcmp(table, "hdr") == 0) {
		*dbi = d->hdr;
		*env_len = 0;
	} else if (strcmp(table, "status") == 0) {
		*dbi = d->status;
		*env_len = MMIG__STATUS_ENV_LEN;
	} else {
		rc = mmig__log_find(j, txn, id, seq, &lsn);
		if (rc != MMIG_OK)
			return MDB_NOTFOUND;
		*dbi = d->log;
		*env_len = MMIG__LOG_ENV_LEN;
		mmig__lsn_key(k, lsn);
		key->mv_size = MMIG__LSN_LEN;
	}
	return MDB_SUCCESS;
}

int
mmig__lmdb_value_get(struct mmig_journal *j, MDB_txn *txn, const char *table,
		     const uint8_t id[MMIG_ID_LEN], uint64_t seq, MDB_val *rec)
{
	uint8_t k[MMIG_ID_LEN];
	MDB_val key, val;
	size_t env;
	MDB_dbi dbi;
	int rc;

	rc = value_locate(j, txn, table, id, seq, &dbi, k, &key, &env);
	if (rc == MDB_SUCCESS)
		rc = mdb_get(txn, dbi, &key, &val);
	if (rc == MDB_SUCCESS && val.mv_size < env)
		rc = MDB_CORRUPTED;
	if (rc == MDB_SUCCESS)
		*rec = (MDB_val){ .mv_size = val.mv_size - env,
				  .mv_data = (uint8_t *)val.mv_data + env };
	return rc;
}

int
mmig__lmdb_value_put(struct mmig_journal *j, MDB_txn *txn, const char *table,
		     const uint8_t id[MMIG_ID_LEN], uint64_t seq,
		     const void *rec, size_t len)
{
	uint8_t k[MMIG_ID_LEN], *buf;
	MDB_val key, val;
	size_t env;
	MDB_dbi dbi;
	int rc;

	rc = value_locate(j, txn, table, id, seq, &dbi, k, &key, &env);
	if (rc == MDB_SUCCESS)
		rc = mdb_get(txn, dbi, &key, &val);
	if (rc == MDB_SUCCESS && val.mv_size < env)
		rc = MDB_CORRUPTED;
	if (rc != MDB_SUCCESS)
		return rc;
	buf = mmig__malloc(env + len + 1);
	if (!buf)
		return ENOMEM;
	memcpy(buf, val.mv_data, env);
	memcpy(buf + env, rec, len);
	val = (MDB_val){ .mv_size = env + len, .mv_data = buf };
	rc = mdb_put(txn, dbi, &key, &val, 0);
	mmig__free(buf);
	return rc;
}

struct fold_walk {
	struct mmig_fold *fold;
	uint64_t expect_seq;
	const char *id_text;
	struct mmig_error *err;
};

static int
fold_one(void *arg, uint64_t seq, uint64_t lsn, const MDB_val *val)
{
	struct fold_walk *w = arg;
	struct mmig_rec_transition t;
	struct mmig_error *err = NULL;
	int rc;

	(void)lsn;
	if (seq != w->expect_seq) {
		w->err = mmig_error_new(MMIG_ECORRUPT,
					"migration %s: seq %llu missing (next record is seq %llu)",
					w->id_text,
					(unsigned long long)w->expect_seq,
					(unsigned long long)seq);
		return MMIG_ECORRUPT;
	}
	rc = mmig__rec_transition_decode(val->mv_data, val->mv_size, &t, &err);
	if (rc != MMIG_OK) {
		w->err = mmig_error_wrap(err, "migration %s: seq %llu",
					 w->id_text, (unsigned long long)seq);
		return rc;
	}
	rc = mmig__fold_apply(w->fold, seq, &t, &err);
	mmig__rec_transition_free(&t);
	if (rc != MMIG_OK) {
		w->err = mmig_error_wrap(err, "migration %s", w->id_text);
		return rc;
	}
	w->expect_seq++;
	return MMIG_OK;
}

int
mmig__journal_fold(struct mmig_journal *j, MDB_txn *txn,
		   const uint8_t id[MMIG_ID_LEN], uint32_t n_ops,
		   struct mmig_fold *out, uint64_t *next_seq,
		   struct mmig_error **errp)
{
	char text[37];
	struct fold_walk w = { .fold = out, .id_text = text };
	int rc;

	mmig__id_text(id, text);
	rc = mmig__fold_init(out, n_ops);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__log_walk(j, txn, id, fold_one, &w, &w.err);
	if (rc != MMIG_OK) {
		if (!w.err)
			w.err = mmig_error_new(rc, "migration %s: log: %s", text,
					       mmig_strerror(rc));
		set_err(errp, w.err);
		mmig__fold_free(out);
		return rc;
	}
	if (next_seq)
		*next_seq = w.expect_seq;
	return MMIG_OK;
}

int
mmig__journal_ids(struct mmig_journal *j, MDB_txn *txn, bool all,
		  uint8_t (**ids)[MMIG_ID_LEN], size_t *n)
{
	MDB_dbi dbi = all ? mmig__journal_dbs(j)->status
			  : mmig__journal_dbs(j)->inflight;
	uint8_t(*a)[MMIG_ID_LEN] = NULL;
	size_t len = 0, cap = 0;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc;

	*ids = NULL;
	*n = 0;
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != MDB_SUCCESS)
		return mmig__from_mdb(rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	     rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size != MMIG_ID_LEN)
			continue; /* verify reports it */
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = mmig__realloc(a, ncap * MMIG_ID_LEN);

			if (!p) {
				mdb_cursor_close(cur);
				mmig__free(a);
				return MMIG_ENOMEM;
			}
			a = p;
			cap = ncap;
		}
		memcpy(a[len++], key.mv_data, MMIG_ID_LEN);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		mmig__free(a);
		return mmig__from_mdb(rc);
	}
	*ids = a;
	*n = len;
	return MMIG_OK;
}

/* ---- the backend's read and list ----------------------------------------- */

int
mmig__lmdb_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		struct mmig_rec_header *h, struct mmig_rec_status *st,
		struct mmig_fold *fold, uint64_t *next_seq,
		struct mmig_error **errp)
{
	struct mmig_rec_header own = { 0 };
	MDB_txn *txn;
	int rc;

	if (fold && !h)
		h = &own; /* the fold needs the header's n_ops */
	rc = mmig__journal_read_begin(j, &txn);
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_new(rc, "read journal: %s",
					     mmig_strerror(rc)));
		return rc;
	}
	if (h)
		rc = mmig__journal_header(j, txn, id, h, errp);
	if (rc == MMIG_OK && st)
		rc = mmig__journal_status(j, txn, id, st, errp);
	if (rc == MMIG_OK && fold)
		rc = mmig__journal_fold(j, txn, id, h->n_ops, fold, next_seq,
					errp);
	mmig__journal_read_end(j, txn);
	mmig__rec_header_free(&own);
	/* A description in a side file: read and checked (side.c), any
	 * problem noted in the header for the caller to act on. */
	if (rc == MMIG_OK && h != &own)
		mmig__side_load_or_note(mmig__journal_path(j), h);
	if (rc != MMIG_OK) {
		/* Nothing half-read is left to the caller. */
		mmig__rec_header_free(h);
		mmig__rec_status_free(st);
	}
	return rc;
}

int
mmig__lmdb_list(struct mmig_journal *j, bool all,
		uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
		struct mmig_error **errp)
{
	MDB_txn *txn;
	int rc;

	*ids = NULL;
	*n = 0;
	rc = mmig__journal_read_begin(j, &txn);
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_new(rc, "read journal: %s",
					     mmig_strerror(rc)));
		return rc;
	}
	rc = mmig__journal_ids(j, txn, all, ids, n);
	mmig__journal_read_end(j, txn);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_new(rc, "read journal: list: %s",
					     mmig_strerror(rc)));
	return rc;
}

/* ---- public readers ------------------------------------------------------ */

void
mmig_migration_info_clear(struct mmig_migration_info *i)
{
	mmig__free(i->owner_host);
	mmig__free(i->cause);
	mmig__free(i->last_error);
	mmig__free(i->problem);
	i->owner_host = i->cause = i->last_error = i->problem = NULL;
}

void
mmig_migration_info_free(struct mmig_migration_info *a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++)
		mmig_migration_info_clear(&a[i]);
	mmig__free(a);
}

struct mmig_migration_info *
mmig_migration_info_at(struct mmig_migration_info *a, size_t i)
{
	/* The array is of this library's layout, whatever the caller's. */
	return a ? &a[i] : NULL;
}

static char *
dup_or_null(const char *s)
{
	return s ? mmig__strdup(s) : NULL;
}

void
mmig__info_begin(struct mmig_migration_info *info,
		 const uint8_t id[MMIG_ID_LEN])
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	mmig__id_text(id, info->id);
	info->state = "?";
	info->durability = "?";
	info->highest_begun = -1;
}

void
mmig__info_header(struct mmig_migration_info *info,
		  const struct mmig_rec_header *h)
{
	snprintf(info->model_uuid, sizeof(info->model_uuid), "%s",
		 h->model_uuid);
	info->ops_total = h->n_ops;
	info->created_ns = h->created_ns;
	info->durability =
		mmig_durability_name((enum mmig_durability)h->durability);
}

void
mmig__info_status(struct mmig_journal *j, struct mmig_migration_info *info,
		  const uint8_t id[MMIG_ID_LEN],
		  const struct mmig_rec_status *st, unsigned state)
{
	info->epoch = st->epoch;
	info->owner_pid = st->owner.pid;
	info->owner_host = dup_or_null(st->owner.host);
	info->owner_alive = !mmig__state_is_final(state) &&
			    mmig__owner_active(j, id, &st->owner);
	info->state = mmig__state_name(st->state);
	info->updated_ns = st->updated_ns;
}

void
mmig__info_fold(struct mmig_migration_info *info,
		const struct mmig_fold *fold)
{
	info->state = mmig__state_name(fold->state);
	info->ops_done = mmig__fold_ops_done(fold);
	info->highest_begun = fold->highest_begun;
	if (fold->last_time_ns)
		info->updated_ns = fold->last_time_ns;
	info->cause = dup_or_null(fold->cause);
	info->last_error = dup_or_null(fold->last_error);
}

void
mmig__info_problem(struct mmig_migration_info *info, int rc,
		   const struct mmig_error *err)
{
	info->problem = mmig__strdup(err ? mmig_error_message(err)
					 : mmig_strerror(rc));
}

/* Fill @p info for @p id.  A migration that cannot be read still gets an
 * entry, with `problem` saying why. */
static void
read_info(struct mmig_journal *j, MDB_txn *txn, const uint8_t id[MMIG_ID_LEN],
	  struct mmig_migration_info *info)
{
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	struct mmig_fold fold = { 0 };
	struct mmig_error *err = NULL;
	int rc;

	mmig__info_begin(info, id);
	rc = mmig__journal_header(j, txn, id, &h, &err);
	if (rc == MMIG_OK) {
		mmig__info_header(info, &h);
		rc = mmig__journal_status(j, txn, id, &st, &err);
	}
	if (rc == MMIG_OK) {
		mmig__info_status(j, info, id, &st, st.state);
		rc = mmig__journal_fold(j, txn, id, h.n_ops, &fold, NULL, &err);
	}
	if (rc == MMIG_OK) {
		mmig__info_fold(info, &fold);
		mmig__fold_free(&fold);
	} else {
		mmig__info_problem(info, rc, err);
	}
	mmig_error_free(err);
	mmig__rec_header_free(&h);
	mmig__rec_status_free(&st);
}

int
mmig_journal_list(struct mmig_journal *j, bool all,
		  struct mmig_migration_info **out, size_t *n)
{
	return mmig_journal_list_v2(j, all, out, n, NULL);
}

int
mmig_journal_list_v2(struct mmig_journal *j, bool all,
		     struct mmig_migration_info **out, size_t *n,
		     struct mmig_error **errp)
{
	uint8_t(*ids)[MMIG_ID_LEN];
	size_t n_ids;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	*n = 0;
	if (errp)
		*errp = NULL;
	if (!mmig__journal_is_lmdb(j))
		return mmig__front_list_info(j, all, out, n, errp);
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__journal_ids(j, txn, all, &ids, &n_ids);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_new(rc, "journal %s: list: %s",
					     mmig__journal_path(j),
					     mmig_strerror(rc)));
	if (rc == MMIG_OK) {
		*out = mmig__calloc(n_ids ? n_ids : 1, sizeof(**out));
		if (!*out) {
			rc = MMIG_ENOMEM;
			set_err(errp, mmig_error_new(rc, "list: out of memory"));
		}
	}
	if (rc == MMIG_OK) {
		for (size_t i = 0; i < n_ids; i++)
			read_info(j, txn, ids[i], &(*out)[i]);
		*n = n_ids;
	}
	mmig__free(ids);
	mmig__journal_read_end(j, txn);
	return rc;
}

/* Resolve a full id or a unique prefix of its text. */
static int
resolve_id(struct mmig_journal *j, MDB_txn *txn, const char *text,
	   uint8_t id[MMIG_ID_LEN])
{
	uint8_t(*ids)[MMIG_ID_LEN];
	size_t n_ids, found = 0;
	size_t len = strlen(text);
	int rc;

	if (mmig__id_parse(text, id) == MMIG_OK)
		return MMIG_OK;
	if (len == 0 || len > 36)
		return MMIG_ENOTFOUND;
	rc = mmig__journal_ids(j, txn, true, &ids, &n_ids);
	if (rc != MMIG_OK)
		return rc;
	for (size_t i = 0; i < n_ids; i++) {
		char t[37];

		mmig__id_text(ids[i], t);
		if (strncmp(t, text, len) == 0) {
			if (found++ == 0)
				memcpy(id, ids[i], MMIG_ID_LEN);
		}
	}
	mmig__free(ids);
	return found == 1 ? MMIG_OK : found ? MMIG_EINVAL : MMIG_ENOTFOUND;
}

int
mmig_journal_get(struct mmig_journal *j, const char *id_text,
		 struct mmig_migration_info *out)
{
	return mmig_journal_get_v2(j, id_text, out, NULL);
}

int
mmig_journal_get_v2(struct mmig_journal *j, const char *id_text,
		    struct mmig_migration_info *out, struct mmig_error **errp)
{
	/* Every field of the first layout; what a later layout adds past it
	 * must be freed here when the caller's struct does not reach it. */
	const size_t first = MMIG__END(struct mmig_migration_info, problem);
	struct mmig_migration_info full = MMIG_MIGRATION_INFO_INIT;
	uint8_t id[MMIG_ID_LEN];
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = id }, val;
	MDB_txn *txn;
	int rc;

	if (errp)
		*errp = NULL;
	if (mmig__sized_check(out->size, first) != MMIG_OK)
		return MMIG_EINVAL;
	/* A cleared caller's struct, so that _clear() after a failure is
	 * harmless. */
	(void)mmig__sized_out(out, &full, sizeof(full), first);
	if (!mmig__journal_is_lmdb(j)) {
		rc = mmig__front_get_info(j, id_text, &full, errp);
		if (rc == MMIG_OK)
			(void)mmig__sized_out(out, &full, sizeof(full), first);
		return rc;
	}
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = resolve_id(j, txn, id_text, id);
	if (rc == MMIG_OK &&
	    mdb_get(txn, mmig__journal_dbs(j)->status, &key, &val) != MDB_SUCCESS)
		rc = MMIG_ENOTFOUND;
	if (rc == MMIG_OK) {
		read_info(j, txn, id, &full);
		(void)mmig__sized_out(out, &full, sizeof(full), first);
	} else {
		set_err(errp, mmig_error_new(rc, "migration %s: %s", id_text,
					     rc == MMIG_EINVAL ? AMBIGUOUS
					     : rc == MMIG_ENOTFOUND
						     ? "not in the journal"
						     : mmig_strerror(rc)));
	}
	mmig__journal_read_end(j, txn);
	return rc;
}

/* ---- show / dump --------------------------------------------------------- */

struct show_walk {
	FILE *out;
	const char *id_text;
	struct mmig_error *err;
};

static int
show_one(void *arg, uint64_t seq, uint64_t lsn, const MDB_val *val)
{
	struct show_walk *w = arg;
	struct mmig_rec_transition t;
	struct mmig_error *err = NULL;
	char *json;
	int rc;

	rc = mmig__rec_transition_decode(val->mv_data, val->mv_size, &t, &err);
	if (rc != MMIG_OK) {
		fprintf(w->out,
			"{\"record\":\"corrupt\",\"id\":\"%s\",\"seq\":%llu}\n",
			w->id_text, (unsigned long long)seq);
		if (!w->err)
			w->err = mmig_error_wrap(err, "migration %s: seq %llu",
						 w->id_text,
						 (unsigned long long)seq);
		else
			mmig_error_free(err);
		return MMIG_OK; /* keep going: show everything readable */
	}
	json = mmig__rec_transition_json(&t);
	mmig__rec_transition_free(&t);
	if (!json)
		return MMIG_ENOMEM;
	/* The record's JSON object, with the record type, id, seq and LSN
	 * first. */
	fprintf(w->out,
		"{\"record\":\"transition\",\"id\":\"%s\",\"seq\":%llu,"
		"\"lsn\":%llu,%s\n",
		w->id_text, (unsigned long long)seq, (unsigned long long)lsn,
		json + 1);
	mmig__free(json);
	return MMIG_OK;
}

/* The header line of `show`, built with jansson so that every string is
 * escaped whatever bytes a foreign or damaged header holds. */
int
mmig__show_header(FILE *out, const struct mmig_rec_header *h,
	    const struct mmig_rec_status *st, const char *id_text)
{
	char digest[2 * MMIG_DIGEST_LEN + 1];
	json_t *o, *plan;
	char *text;

	for (int i = 0; i < MMIG_DIGEST_LEN; i++)
		snprintf(digest + 2 * i, 3, "%02x", h->digest[i]);
	plan = json_array();
	for (uint32_t i = 0; i < h->n_ops; i++)
		json_array_append_new(plan,
				      json_pack("{s:s, s:I, s:I}", "name",
						h->plan[i].name, "version",
						(json_int_t)h->plan[i].version,
						"flags",
						(json_int_t)h->plan[i].flags));
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:s, s:I, "
		      "s:{s:I, s:I, s:s, s:s}}",
		      "record", "header", "id", id_text, "model_uuid",
		      h->model_uuid, "durability",
		      mmig_durability_name((enum mmig_durability)h->durability),
		      "created_ns", (json_int_t)h->created_ns, "model_bytes",
		      (json_int_t)h->model_desc_len, "model_digest", digest,
		      "plan", plan, "state", mmig__state_name(st->state),
		      "epoch", (json_int_t)st->epoch, "owner", "pid",
		      (json_int_t)st->owner.pid, "start_time",
		      (json_int_t)st->owner.start_time, "boot_id",
		      st->owner.boot_id, "host", st->owner.host);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text)
		return MMIG_ENOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return MMIG_OK;
}

static int
show_id(struct mmig_journal *j, MDB_txn *txn, const uint8_t id[MMIG_ID_LEN],
	FILE *out, struct mmig_error **errp)
{
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	char text[37];
	struct show_walk w = { .out = out, .id_text = text };
	struct mmig_error *werr = NULL;
	int rc;

	mmig__id_text(id, text);
	rc = mmig__journal_header(j, txn, id, &h, errp);
	if (rc == MMIG_OK)
		rc = mmig__journal_status(j, txn, id, &st, errp);
	if (rc != MMIG_OK) {
		fprintf(out, "{\"record\":\"corrupt\",\"id\":\"%s\",\"what\":\"header\"}\n",
			text);
		goto out;
	}
	mmig__show_header(out, &h, &st, text);
	rc = mmig__log_walk(j, txn, id, show_one, &w, &werr);
	if (rc != MMIG_OK && werr) {
		/* The chain breaks: no transition can be trusted to be
		 * this migration's, so none is shown. */
		fprintf(out, "{\"record\":\"corrupt\",\"id\":\"%s\","
			     "\"what\":\"chain\"}\n", text);
		mmig_error_free(w.err);
		w.err = werr;
		werr = NULL;
		rc = MMIG_OK;
	}
	if (rc == MMIG_OK && w.err) {
		rc = mmig_error_code(w.err);
		set_err(errp, w.err);
		w.err = NULL;
	}
	mmig_error_free(w.err);
out:
	mmig__rec_header_free(&h);
	mmig__rec_status_free(&st);
	return rc;
}

int
mmig_journal_show(struct mmig_journal *j, const char *id_text, FILE *out,
		  struct mmig_error **errp)
{
	uint8_t id[MMIG_ID_LEN];
	MDB_txn *txn;
	int rc;

	if (errp)
		*errp = NULL;
	if (!mmig__journal_is_lmdb(j))
		return strcmp(mmig__journal_ops(j)->name, "etcd") == 0
			       ? mmig__etcd_show(j, id_text, out, errp)
			       : mmig__front_unsupported(j, "show", errp);
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = resolve_id(j, txn, id_text, id);
	if (rc == MMIG_OK)
		rc = show_id(j, txn, id, out, errp);
	else
		set_err(errp, mmig_error_new(rc, "migration %s: %s", id_text,
					     rc == MMIG_EINVAL ? AMBIGUOUS
							       : "not in the journal"));
	mmig__journal_read_end(j, txn);
	return rc;
}

int
mmig_journal_dump(struct mmig_journal *j, FILE *out, struct mmig_error **errp)
{
	uint8_t(*ids)[MMIG_ID_LEN];
	size_t n_ids;
	MDB_txn *txn;
	int rc, first_bad = MMIG_OK;

	if (errp)
		*errp = NULL;
	if (!mmig__journal_is_lmdb(j))
		return strcmp(mmig__journal_ops(j)->name, "etcd") == 0
			       ? mmig__etcd_dump(j, out, errp)
			       : mmig__front_unsupported(j, "dump", errp);
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__journal_ids(j, txn, true, &ids, &n_ids);
	for (size_t i = 0; rc == MMIG_OK && i < n_ids; i++) {
		struct mmig_error *err = NULL;
		int src = show_id(j, txn, ids[i], out, &err);

		if (src != MMIG_OK && first_bad == MMIG_OK) {
			first_bad = src;
			set_err(errp, err);
		} else {
			mmig_error_free(err);
		}
	}
	if (rc == MMIG_OK)
		mmig__free(ids);
	mmig__journal_read_end(j, txn);
	return rc != MMIG_OK ? rc : first_bad;
}
