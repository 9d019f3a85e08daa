/*
 * journal/verify.c - checking a whole journal, and pruning finished
 * migrations.
 *
 * verify reads everything and writes nothing.  It checks, per migration:
 * the header and status decode (checksums included), every transition
 * decodes and folds legally with no gap in the seqs, the status's state
 * (a cache) equals the fold's, and the in-flight index holds the migration
 * exactly when its state is not final.  It also looks for records that
 * belong to no migration.
 *
 * prune deletes whole final migrations (header, status, every transition)
 * in one fully synced write transaction; it never touches one in flight.
 * When the map fills (a delete copies pages too, and so does the commit
 * saving LMDB's free list), the transaction is dropped, the map grown and
 * the whole prune made again.
 */
#include "internal.h"
#include "lmdb-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reporter {
	void (*report)(void *arg, const char *msg);
	void *arg;
	size_t n;
};

static void
problem(struct reporter *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
problem(struct reporter *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->n++;
	if (r->report)
		r->report(r->arg, buf);
}

static bool
key_exists(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[MMIG_ID_LEN])
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;

	return mdb_get(txn, dbi, &key, &val) == MDB_SUCCESS;
}

static void
verify_migration(struct mmig_journal *j, MDB_txn *txn,
		 const uint8_t id[MMIG_ID_LEN], struct reporter *r)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	struct mmig_fold fold = { 0 };
	struct mmig_error *err = NULL;
	uint8_t digest[MMIG_DIGEST_LEN];
	char text[37];
	bool inflight;

	mmig__id_text(id, text);
	if (mmig__journal_header(j, txn, id, &h, &err) != MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	mmig__digest(h.model_desc, h.model_desc_len, digest);
	if (memcmp(digest, h.digest, MMIG_DIGEST_LEN) != 0)
		problem(r, "migration %s: header: model description does not "
			   "match its digest", text);
	if (mmig__journal_status(j, txn, id, &st, &err) != MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	if (mmig__journal_fold(j, txn, id, h.n_ops, &fold, NULL, &err) !=
	    MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	if (st.state != fold.state)
		problem(r, "migration %s: status says %s but its records fold "
			   "to %s", text, mmig__state_name(st.state),
			mmig__state_name(fold.state));
	inflight = key_exists(txn, dbs->inflight, id);
	if (inflight && mmig__state_is_final(fold.state))
		problem(r, "migration %s: %s but still in the in-flight index",
			text, mmig__state_name(fold.state));
	if (!inflight && !mmig__state_is_final(fold.state))
		problem(r, "migration %s: %s but missing from the in-flight "
			   "index", text, mmig__state_name(fold.state));
out:
	mmig_error_free(err);
	mmig__fold_free(&fold);
	mmig__rec_header_free(&h);
	mmig__rec_status_free(&st);
}

/* Keys of @p dbi (or their id prefix, for `log`) that name no migration. */
static int
verify_orphans(struct mmig_journal *j, MDB_txn *txn, MDB_dbi dbi,
	       const char *table, size_t key_len, struct reporter *r)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	uint8_t last[MMIG_ID_LEN] = { 0 };
	bool have_last = false;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != MDB_SUCCESS)
		return mmig__from_mdb(rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	     rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		char text[37];

		if (key.mv_size != key_len) {
			problem(r, "table %s: key of %zu bytes (want %zu)",
				table, key.mv_size, key_len);
			continue;
		}
		if (have_last && memcmp(last, key.mv_data, MMIG_ID_LEN) == 0)
			continue; /* same migration as the key before */
		memcpy(last, key.mv_data, MMIG_ID_LEN);
		have_last = true;
		if (key_exists(txn, dbs->status, last) &&
		    key_exists(txn, dbs->hdr, last))
			continue;
		mmig__id_text(last, text);
		problem(r, "table %s: records of migration %s, which has no "
			   "header or status", table, text);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? MMIG_OK : mmig__from_mdb(rc);
}

int
mmig_journal_verify(struct mmig_journal *j,
		    void (*report)(void *arg, const char *msg), void *arg,
		    size_t *n_problems)
{
	return mmig_journal_verify_v2(j, report, arg, n_problems, NULL);
}

int
mmig_journal_verify_v2(struct mmig_journal *j,
		       void (*report)(void *arg, const char *msg), void *arg,
		       size_t *n_problems, struct mmig_error **errp)
{
	const struct mmig__dbs *dbs;
	struct reporter r = { .report = report, .arg = arg };
	uint8_t(*ids)[MMIG_ID_LEN] = NULL;
	size_t n_ids = 0;
	MDB_txn *txn;
	int rc;

	*n_problems = 0;
	if (errp)
		*errp = NULL;
	if (!mmig__journal_is_lmdb(j))
		return mmig__front_verify(j, report, arg, n_problems, errp);
	dbs = mmig__journal_dbs(j);
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__journal_ids(j, txn, true, &ids, &n_ids);
	for (size_t i = 0; rc == MMIG_OK && i < n_ids; i++)
		verify_migration(j, txn, ids[i], &r);
	if (rc == MMIG_OK)
		rc = verify_orphans(j, txn, dbs->hdr, "hdr", MMIG_ID_LEN, &r);
	if (rc == MMIG_OK)
		rc = verify_orphans(j, txn, dbs->inflight, "inflight",
				    MMIG_ID_LEN, &r);
	if (rc == MMIG_OK)
		rc = verify_orphans(j, txn, dbs->log, "log",
				    MMIG__LOG_KEY_LEN, &r);
	mmig__free(ids);
	mmig__journal_read_end(j, txn);
	*n_problems = r.n;
	if (rc != MMIG_OK && errp)
		*errp = mmig_error_new(rc, "journal %s: verify: %s",
				       mmig__journal_path(j), mmig_strerror(rc));
	return rc;
}

/* ---- prune ------------------------------------------------------------- */

struct candidate {
	uint8_t id[MMIG_ID_LEN];
	uint64_t updated_ns;
};

static int
newest_first(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->updated_ns < y->updated_ns ? 1
	       : x->updated_ns > y->updated_ns ? -1
					       : 0;
}

/* Delete one migration.  @return an LMDB code. */
static int
delete_migration(struct mmig_journal *j, MDB_txn *txn,
		 const uint8_t id[MMIG_ID_LEN])
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	uint8_t start[MMIG__LOG_KEY_LEN];
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	MDB_cursor *cur;
	int rc;

	rc = mdb_del(txn, dbs->hdr, &key, NULL);
	if (rc == MDB_SUCCESS)
		rc = mdb_del(txn, dbs->status, &key, NULL);
	if (rc != MDB_SUCCESS)
		return rc;
	mmig__log_key(start, id, 0);
	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return rc;
	/* Seek the migration's first record again after each delete: once
	 * the last record of the table is deleted the cursor has no current
	 * record to move on from. */
	for (;;) {
		key = (MDB_val){ .mv_size = sizeof(start), .mv_data = start };
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
		if (rc != MDB_SUCCESS || key.mv_size != MMIG__LOG_KEY_LEN ||
		    memcmp(key.mv_data, id, MMIG_ID_LEN) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The backend's settle: prune (mmig_journal_prune_v2() dispatches here). */
int
mmig__lmdb_prune(struct mmig_journal *j, uint64_t older_than_ns, size_t keep,
		 size_t *n_pruned, struct mmig_error **errp)
{
	struct candidate *c = NULL;
	uint8_t(*ids)[MMIG_ID_LEN] = NULL;
	size_t n_ids = 0, n_c = 0;
	uint64_t now = mmig__now_real_ns();
	const char *path = mmig__journal_path(j);
	MDB_txn *txn;
	int rc, mdb_rc = MDB_SUCCESS;

	if (errp)
		*errp = NULL;
again:
	*n_pruned = 0;
	n_c = 0;
	rc = mmig__journal_write_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__journal_ids(j, txn, true, &ids, &n_ids);
	if (rc == MMIG_OK && n_ids) {
		c = mmig__calloc(n_ids, sizeof(*c));
		if (!c)
			rc = MMIG_ENOMEM;
	}
	for (size_t i = 0; rc == MMIG_OK && i < n_ids; i++) {
		struct mmig_rec_status st;

		/* Unreadable status: not ours to judge; verify reports it. */
		if (mmig__journal_status(j, txn, ids[i], &st, NULL) != MMIG_OK)
			continue;
		if (mmig__state_is_final(st.state)) {
			memcpy(c[n_c].id, ids[i], MMIG_ID_LEN);
			c[n_c++].updated_ns = st.updated_ns;
		}
		mmig__rec_status_free(&st);
	}
	if (n_c)
		qsort(c, n_c, sizeof(*c), newest_first);
	for (size_t i = keep; rc == MMIG_OK && i < n_c; i++) {
		/* A time ahead of this clock counts as new, never as old. */
		if (older_than_ns && (c[i].updated_ns > now ||
				      now - c[i].updated_ns < older_than_ns))
			continue;
		mdb_rc = delete_migration(j, txn, c[i].id);
		if (mdb_rc == MDB_SUCCESS)
			(*n_pruned)++;
		else
			rc = mmig__from_mdb(mdb_rc);
	}
	if (rc == MMIG_OK) {
		mdb_rc = mmig__journal_write_commit_mdb(j, txn);
		rc = mmig__from_mdb(mdb_rc);
	} else {
		mmig__journal_write_abort(j, txn);
	}
	mmig__free(c);
	mmig__free(ids);
	c = NULL;
	ids = NULL;
	if (mdb_rc == MDB_MAP_FULL &&
	    mmig__journal_map_grow(j) == MDB_SUCCESS) {
		mdb_rc = MDB_SUCCESS;
		goto again;
	}
	if (rc != MMIG_OK) {
		*n_pruned = 0;
		if (errp && mdb_rc != MDB_SUCCESS)
			*errp = mmig__mdb_error(mdb_rc, "journal %s: prune",
						path);
		else if (errp)
			*errp = mmig_error_new(rc, "journal %s: prune: %s", path,
					       mmig_strerror(rc));
	}
	return rc;
}
