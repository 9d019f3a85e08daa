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
#include "fault.h"
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

/* An orphan side file is one more problem. */
static void
report_side(void *arg, const char *msg)
{
	problem(arg, "%s", msg);
}

static bool
key_exists(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[MMIG_ID_LEN])
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;

	return mdb_get(txn, dbi, &key, &val) == MDB_SUCCESS;
}

/* @return true when the migration's chain could be walked, its length in
 * *chain_len. */
static bool
verify_migration(struct mmig_journal *j, MDB_txn *txn,
		 const uint8_t id[MMIG_ID_LEN], struct reporter *r,
		 uint64_t *chain_len)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	struct mmig_fold fold = { 0 };
	struct mmig_error *err = NULL;
	uint8_t digest[MMIG_DIGEST_LEN];
	char text[37];
	bool inflight, walked = false;
	uint64_t next_seq = 0;

	mmig__id_text(id, text);
	if (mmig__journal_header(j, txn, id, &h, &err) != MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	mmig__side_load_or_note(mmig__journal_path(j), &h);
	if (h.desc_problem)
		problem(r, "migration %s: header: %s", text, h.desc_problem);
	else
		mmig__digest(h.model_desc, h.model_desc_len, digest);
	if (!h.desc_problem && memcmp(digest, h.digest, MMIG_DIGEST_LEN) != 0)
		problem(r, "migration %s: header: model description does not "
			   "match its digest", text);
	if (mmig__journal_status(j, txn, id, &st, &err) != MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	if (mmig__journal_fold(j, txn, id, h.n_ops, &fold, &next_seq, &err) !=
	    MMIG_OK) {
		problem(r, "%s", mmig_error_message(err));
		goto out;
	}
	walked = true;
	*chain_len = next_seq;
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
	return walked;
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

static int
lsn_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The LSNs on the chains of migrations @p ids, sorted, in *out (at most
 * @p cap: the caller counted them).  A chain that breaks ends there
 * (verify_migration() reports it).  @return an MMIG code. */
static int
chain_lsns(struct mmig_journal *j, MDB_txn *txn,
	   const uint8_t (*ids)[MMIG_ID_LEN], size_t n_ids, uint64_t cap,
	   uint64_t **out, size_t *n_out)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	uint64_t *lsns = mmig__calloc(cap ? cap : 1, sizeof(*lsns));
	size_t n = 0;

	if (!lsns)
		return MMIG_ENOMEM;
	for (size_t i = 0; i < n_ids; i++) {
		struct mmig__chain c;
		uint64_t lsn;

		if (mmig__journal_chain(j, txn, ids[i], &c, NULL) != MMIG_OK)
			continue;
		lsn = c.last;
		for (uint64_t s = c.next_seq; s-- > 0 && lsn != 0 && n < cap;) {
			uint8_t k[MMIG__LSN_LEN];
			MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
			struct mmig__log_rec lr;

			mmig__lsn_key(k, lsn);
			if (mdb_get(txn, dbs->log, &key, &val) != MDB_SUCCESS ||
			    !mmig__log_unwrap(&val, &lr) ||
			    memcmp(lr.id, ids[i], MMIG_ID_LEN) != 0 ||
			    lr.seq != s || lr.prev >= lsn)
				break;
			lsns[n++] = lsn;
			lsn = lr.prev;
		}
	}
	qsort(lsns, n, sizeof(*lsns), lsn_cmp);
	*out = lsns;
	*n_out = n;
	return MMIG_OK;
}

/* At most this many records on no chain are named one by one. */
#define STRAYS_NAMED 100

/* The records of existing migrations that lie on no chain (there are some:
 * the log holds more records than the chains), each named with its LSN. */
static int
name_strays(struct mmig_journal *j, MDB_txn *txn,
	    const uint8_t (*ids)[MMIG_ID_LEN], size_t n_ids,
	    uint64_t on_chains, struct reporter *r)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	uint8_t first[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(first), .mv_data = first }, val;
	uint64_t *lsns, named = 0, more = 0;
	size_t n_lsns;
	MDB_cursor *cur;
	int rc;

	rc = chain_lsns(j, txn, ids, n_ids, on_chains, &lsns, &n_lsns);
	if (rc != MMIG_OK)
		return rc;
	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS) {
		mmig__free(lsns);
		return mmig__from_mdb(rc);
	}
	mmig__lsn_key(first, 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		uint64_t lsn = mmig__lsn_of(&key);
		struct mmig__log_rec lr;
		char text[37];

		/* Bad keys, short values and records of no migration are
		 * reported by verify_log() already. */
		if (lsn == 0 || !mmig__log_unwrap(&val, &lr) ||
		    !key_exists(txn, dbs->status, lr.id) ||
		    !key_exists(txn, dbs->hdr, lr.id) ||
		    bsearch(&lsn, lsns, n_lsns, sizeof(*lsns), lsn_cmp))
			continue;
		if (named == STRAYS_NAMED) {
			more++;
			continue;
		}
		named++;
		mmig__id_text(lr.id, text);
		problem(r, "table log: LSN %llu (seq %llu) of migration %s is "
			   "on no chain of it",
			(unsigned long long)lsn, (unsigned long long)lr.seq,
			text);
	}
	mdb_cursor_close(cur);
	mmig__free(lsns);
	if (more)
		problem(r, "table log: %llu more records on no chain",
			(unsigned long long)more);
	return rc == MDB_NOTFOUND ? MMIG_OK : mmig__from_mdb(rc);
}

/*
 * The log: every key an LSN, every value an envelope naming a migration
 * that exists, and every record on its migration's chain -- as many
 * records in the table as the chains of all migrations hold (@p on_chains,
 * counted by the caller over the migrations whose chain could be walked);
 * when it holds more, the records on no chain are named.
 */
static int
verify_log(struct mmig_journal *j, MDB_txn *txn,
	   const uint8_t (*ids)[MMIG_ID_LEN], size_t n_ids, uint64_t on_chains,
	   bool all_walked, struct reporter *r)
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	uint8_t first[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(first), .mv_data = first }, val;
	uint64_t n = 0, n_orphan = 0;
	MDB_cursor *cur;
	int rc;

	rc = mdb_cursor_open(txn, dbs->log, &cur);
	if (rc != MDB_SUCCESS)
		return mmig__from_mdb(rc);
	/* The log is the main table's keys from the log's prefix on. */
	mmig__lsn_key(first, 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct mmig__log_rec lr;
		char text[37];

		n++;
		if (mmig__lsn_of(&key) == 0) {
			problem(r, "table log: key of %zu bytes (want %d, "
				   "the first 0x%02x)",
				key.mv_size, MMIG__LSN_LEN, MMIG__LSN_PREFIX);
			continue;
		}
		if (!mmig__log_unwrap(&val, &lr)) {
			problem(r, "table log: LSN %llu: value of %zu bytes, "
				   "too short for its envelope",
				(unsigned long long)mmig__lsn_of(&key),
				val.mv_size);
			continue;
		}
		if (key_exists(txn, dbs->status, lr.id) &&
		    key_exists(txn, dbs->hdr, lr.id))
			continue;
		n_orphan++;
		mmig__id_text(lr.id, text);
		problem(r, "table log: LSN %llu (seq %llu) of migration %s, "
			   "which has no header or status",
			(unsigned long long)mmig__lsn_of(&key),
			(unsigned long long)lr.seq, text);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return mmig__from_mdb(rc);
	if (all_walked && n > on_chains + n_orphan)
		return name_strays(j, txn, ids, n_ids, on_chains, r);
	return MMIG_OK;
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
	uint64_t on_chains = 0;
	bool all_walked = true;
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
	for (size_t i = 0; rc == MMIG_OK && i < n_ids; i++) {
		uint64_t len = 0;

		if (verify_migration(j, txn, ids[i], &r, &len))
			on_chains += len;
		else
			all_walked = false;
	}
	if (rc == MMIG_OK)
		rc = verify_orphans(j, txn, dbs->hdr, "hdr", MMIG_ID_LEN, &r);
	if (rc == MMIG_OK)
		rc = verify_orphans(j, txn, dbs->inflight, "inflight",
				    MMIG_ID_LEN, &r);
	if (rc == MMIG_OK)
		rc = verify_log(j, txn, (const uint8_t(*)[MMIG_ID_LEN])ids,
				n_ids, on_chains, all_walked, &r);
	mmig__free(ids);
	mmig__journal_read_end(j, txn);
	if (rc == MMIG_OK) {
		/* Side files no header names (its own view, begun once the
		 * files are locked: side.c). */
		struct mmig_error *serr = NULL;
		size_t n_orphans;

		rc = mmig__side_orphans(j, false, report_side, &r, &n_orphans,
					&serr);
		if (rc != MMIG_OK) {
			*n_problems = r.n;
			if (errp)
				*errp = serr ? mmig_error_wrap(serr, "verify")
					     : mmig_error_new(rc, "verify: %s",
							      mmig_strerror(rc));
			else
				mmig_error_free(serr);
			return rc;
		}
		mmig_error_free(serr);
	}
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

/*
 * Delete one migration: its header, its status and every record on its
 * chain, followed from the last LSN back.  A chain that breaks stops the
 * deletion of records there (what is left is on no chain, and verify
 * reports it), never the prune.  @return an LMDB code.
 */
static int
delete_migration(struct mmig_journal *j, MDB_txn *txn,
		 const uint8_t id[MMIG_ID_LEN])
{
	const struct mmig__dbs *dbs = mmig__journal_dbs(j);
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	uint8_t k[MMIG__LSN_LEN];
	MDB_val lkey = { .mv_size = sizeof(k), .mv_data = k };
	struct mmig__chain c;
	uint64_t lsn;
	int rc;

	rc = mdb_get(txn, dbs->status, &key, &val);
	if (rc != MDB_SUCCESS)
		return rc;
	if (!mmig__status_unwrap(&val, &c, NULL, NULL))
		c = (struct mmig__chain){ 0 };
	/* To the chain's end; where the chain breaks past the status, to
	 * the last record that continues it. */
	(void)mmig__chain_catch_up(j, txn, id, &c, NULL);
	rc = mdb_del(txn, dbs->hdr, &key, NULL);
	if (rc == MDB_SUCCESS)
		rc = mdb_del(txn, dbs->status, &key, NULL);
	if (rc != MDB_SUCCESS)
		return rc;
	lsn = c.last;
	for (uint64_t s = c.next_seq; s-- > 0 && lsn != 0;) {
		struct mmig__log_rec lr;

		mmig__lsn_key(k, lsn);
		rc = mdb_get(txn, dbs->log, &lkey, &val);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != MDB_SUCCESS)
			return rc;
		if (!mmig__log_unwrap(&val, &lr) ||
		    memcmp(lr.id, id, MMIG_ID_LEN) != 0 || lr.seq != s ||
		    lr.prev >= lsn)
			break; /* not this migration's: leave it */
		rc = mdb_del(txn, dbs->log, &lkey, NULL);
		if (rc != MDB_SUCCESS)
			return rc;
		lsn = lr.prev;
	}
	return MDB_SUCCESS;
}

/* Before a prune deletes records: remember the next LSN in meta "lsn",
 * so that deleting the log's right edge never gives an LSN out twice. */
static int
keep_lsn_floor(struct mmig_journal *j, MDB_txn *txn)
{
	MDB_val key = { .mv_size = 3, .mv_data = "lsn" }, val;
	uint8_t v[MMIG__LSN_LEN];
	uint64_t next;
	int rc;

	rc = mmig__journal_lsn_next(j, txn, &next);
	if (rc != MDB_SUCCESS)
		return rc;
	mmig__lsn_key(v, next);
	val = (MDB_val){ .mv_size = sizeof(v), .mv_data = v };
	return mdb_put(txn, mmig__journal_dbs(j)->meta, &key, &val, 0);
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
		if (*n_pruned == 0) {
			mdb_rc = keep_lsn_floor(j, txn);
			if (mdb_rc != MDB_SUCCESS) {
				rc = mmig__from_mdb(mdb_rc);
				break;
			}
		}
		mdb_rc = delete_migration(j, txn, c[i].id);
		if (mdb_rc == MDB_SUCCESS)
			(*n_pruned)++;
		else
			rc = mmig__from_mdb(mdb_rc);
	}
	if (rc == MMIG_OK) {
		mdb_rc = mmig__journal_write_commit_mdb(j, txn);
		rc = mmig__from_mdb(mdb_rc);
		if (rc == MMIG_OK && MMIG_FAULT(PRUNE_COMMITTED))
			rc = -mmig__fault_errno();
		if (rc == MMIG_OK) {
			/* Only now that no header names them: the side files
			 * of what was pruned, and any orphan before them
			 * (side.c).  A crash in between leaves orphans the
			 * next prune removes. */
			struct mmig_error *serr = NULL;
			size_t n_orphans;

			rc = mmig__side_orphans(j, true, NULL, NULL,
						&n_orphans, &serr);
			if (rc != MMIG_OK) {
				*n_pruned = 0;
				mmig__free(c);
				mmig__free(ids);
				if (!serr)
					serr = mmig_error_new(
						rc, "journal %s: %s", path,
						mmig_strerror(rc));
				if (errp)
					*errp = mmig_error_wrap(serr, "prune");
				else
					mmig_error_free(serr);
				return rc;
			}
		}
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
