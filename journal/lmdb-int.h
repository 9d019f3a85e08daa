/*
 * journal/lmdb-int.h - the LMDB backend's internals: transactions, tables,
 * keys and the readers that run inside a transaction.  Used by journal.c,
 * read.c and verify.c, and by white-box tests that look at or damage the
 * tables; never by the engine, recovery or the tools, which go through
 * journal-int.h (tests/check-layers.sh fails on an LMDB name outside
 * journal/).
 */
#ifndef MMIG_LMDB_INT_H
#define MMIG_LMDB_INT_H

#include "backend.h"
#include "journal-int.h"

#include <lmdb.h>

/* ---- reading inside a transaction (journal/read.c) -------------------- */

/* A read transaction, for the readers below; _end also aborts a write
 * transaction. */
int mmig__journal_read_begin(struct mmig_journal *j, MDB_txn **txn);
void mmig__journal_read_end(struct mmig_journal *j, MDB_txn *txn);
/* mmig__journal_read_begin() with LMDB's cause in *errp. */
int mmig__journal_read_begin2(struct mmig_journal *j, MDB_txn **txn,
			      struct mmig_error **errp);
/* A write transaction outside group commit (maintenance: prune); its
 * commit is fully synced.  Begin waits for the journal's write lock no
 * longer than the handle's lock timeout (MMIG_EBUSY, naming the holder in
 * *errp). */
int mmig__journal_write_begin(struct mmig_journal *j, MDB_txn **txn);
int mmig__journal_write_begin2(struct mmig_journal *j, MDB_txn **txn,
			       struct mmig_error **errp);
int mmig__journal_write_commit(struct mmig_journal *j, MDB_txn *txn);
/* The commit, returning LMDB's own code (MDB_MAP_FULL: grow, retry). */
int mmig__journal_write_commit_mdb(struct mmig_journal *j, MDB_txn *txn);
void mmig__journal_write_abort(struct mmig_journal *j, MDB_txn *txn);
/* Double the map; no transaction of this process may be open.  @return
 * an LMDB code, MDB_MAP_FULL when it cannot grow further. */
int mmig__journal_map_grow(struct mmig_journal *j);
/* The directory the journal was opened with. */
const char *mmig__journal_path(const struct mmig_journal *j);

int mmig__journal_header(struct mmig_journal *j, MDB_txn *txn,
			 const uint8_t id[MMIG_ID_LEN],
			 struct mmig_rec_header *out, struct mmig_error **errp);
int mmig__journal_status(struct mmig_journal *j, MDB_txn *txn,
			 const uint8_t id[MMIG_ID_LEN],
			 struct mmig_rec_status *out, struct mmig_error **errp);
/* Fold every transition of @p id; @p n_ops from its header.  Also returns
 * the next free seq. */
int mmig__journal_fold(struct mmig_journal *j, MDB_txn *txn,
		       const uint8_t id[MMIG_ID_LEN], uint32_t n_ops,
		       struct mmig_fold *out, uint64_t *next_seq,
		       struct mmig_error **errp);

/* Ids of the migrations in flight (the index), or of all with @p all. */
int mmig__journal_ids(struct mmig_journal *j, MDB_txn *txn, bool all,
		      uint8_t (**ids)[MMIG_ID_LEN], size_t *n);

/* The DB handles, for the readers and verify. */
struct mmig__dbs {
	MDB_dbi meta, hdr, status, log, inflight;
};
const struct mmig__dbs *mmig__journal_dbs(const struct mmig_journal *j);

/* Keys: (id) and (id, big-endian seq). */
#define MMIG__LOG_KEY_LEN (MMIG_ID_LEN + 8)
void mmig__log_key(uint8_t key[MMIG__LOG_KEY_LEN],
		   const uint8_t id[MMIG_ID_LEN], uint64_t seq);

/* An error for an LMDB return code, naming what was being done. */
struct mmig_error *mmig__mdb_error(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mmig__from_mdb(int rc);

/* The backend's read and list (read.c). */
int mmig__lmdb_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		    struct mmig_rec_header *h, struct mmig_rec_status *st,
		    struct mmig_fold *fold, uint64_t *next_seq,
		    struct mmig_error **errp);
int mmig__lmdb_list(struct mmig_journal *j, bool all,
		    uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
		    struct mmig_error **errp);
/* The backend's prune (verify.c). */
int mmig__lmdb_prune(struct mmig_journal *j, uint64_t older_than_ns,
		     size_t keep, size_t *n_pruned, struct mmig_error **errp);

#endif
