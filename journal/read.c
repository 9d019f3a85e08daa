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
	char text[37];
	int rc;

	mmig__id_text(id, text);
	rc = mdb_get(txn, mmig__journal_dbs(j)->status, &key, &val);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "migration %s: status", text));
		return mmig__from_mdb(rc);
	}
	rc = mmig__rec_status_decode(val.mv_data, val.mv_size, out, &err);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_wrap(err, "migration %s: status", text));
	return rc;
}

static uint64_t
seq_of(const MDB_val *key)
{
	const uint8_t *k = key->mv_data;
	uint64_t seq = 0;

	for (int i = 0; i < 8; i++)
		seq = seq << 8 | k[MMIG_ID_LEN + i];
	return seq;
}

/* Call @p fn for each transition of @p id, in seq order. */
static int
foreach_transition(struct mmig_journal *j, MDB_txn *txn,
		   const uint8_t id[MMIG_ID_LEN],
		   int (*fn)(void *arg, uint64_t seq, const MDB_val *val),
		   void *arg)
{
	uint8_t start[MMIG__LOG_KEY_LEN];
	MDB_val key = { .mv_size = sizeof(start), .mv_data = start }, val;
	MDB_cursor *cur;
	int rc;

	mmig__log_key(start, id, 0);
	rc = mdb_cursor_open(txn, mmig__journal_dbs(j)->log, &cur);
	if (rc != MDB_SUCCESS)
		return mmig__from_mdb(rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && key.mv_size == MMIG__LOG_KEY_LEN &&
	       memcmp(key.mv_data, id, MMIG_ID_LEN) == 0) {
		int frc = fn(arg, seq_of(&key), &val);

		if (frc != MMIG_OK) {
			mdb_cursor_close(cur);
			return frc;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MMIG_OK
						       : mmig__from_mdb(rc);
}

struct fold_walk {
	struct mmig_fold *fold;
	uint64_t expect_seq;
	const char *id_text;
	struct mmig_error *err;
};

static int
fold_one(void *arg, uint64_t seq, const MDB_val *val)
{
	struct fold_walk *w = arg;
	struct mmig_rec_transition t;
	struct mmig_error *err = NULL;
	int rc;

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
	rc = foreach_transition(j, txn, id, fold_one, &w);
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

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	mmig__id_text(id, info->id);
	info->state = "?";
	info->durability = "?";
	info->highest_begun = -1;
	rc = mmig__journal_header(j, txn, id, &h, &err);
	if (rc == MMIG_OK) {
		snprintf(info->model_uuid, sizeof(info->model_uuid), "%s",
			 h.model_uuid);
		info->ops_total = h.n_ops;
		info->created_ns = h.created_ns;
		info->durability = mmig_durability_name(
			(enum mmig_durability)h.durability);
		rc = mmig__journal_status(j, txn, id, &st, &err);
	}
	if (rc == MMIG_OK) {
		info->epoch = st.epoch;
		info->owner_pid = st.owner.pid;
		info->owner_host = dup_or_null(st.owner.host);
		info->owner_alive = !mmig__state_is_final(st.state) &&
				    mmig__owner_active(j, id, &st.owner);
		info->state = mmig__state_name(st.state);
		info->updated_ns = st.updated_ns;
		rc = mmig__journal_fold(j, txn, id, h.n_ops, &fold, NULL, &err);
	}
	if (rc == MMIG_OK) {
		info->state = mmig__state_name(fold.state);
		info->ops_done = mmig__fold_ops_done(&fold);
		info->highest_begun = fold.highest_begun;
		if (fold.last_time_ns)
			info->updated_ns = fold.last_time_ns;
		info->cause = dup_or_null(fold.cause);
		info->last_error = dup_or_null(fold.last_error);
		mmig__fold_free(&fold);
	} else {
		info->problem = mmig__strdup(err ? mmig_error_message(err)
						 : mmig_strerror(rc));
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
show_one(void *arg, uint64_t seq, const MDB_val *val)
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
	/* The record's JSON object, with the record type, id and seq first. */
	fprintf(w->out, "{\"record\":\"transition\",\"id\":\"%s\",\"seq\":%llu,%s\n",
		w->id_text, (unsigned long long)seq, json + 1);
	mmig__free(json);
	return MMIG_OK;
}

/* The header line of `show`, built with jansson so that every string is
 * escaped whatever bytes a foreign or damaged header holds. */
static int
show_header(FILE *out, const struct mmig_rec_header *h,
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
	show_header(out, &h, &st, text);
	rc = foreach_transition(j, txn, id, show_one, &w);
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
		return mmig__front_unsupported(j, "show", errp);
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
		return mmig__front_unsupported(j, "dump", errp);
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
