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
/* Fold every transition of @p id (following its chain); @p n_ops from its
 * header.  Also returns the next free seq. */
int mmig__journal_fold(struct mmig_journal *j, MDB_txn *txn,
		       const uint8_t id[MMIG_ID_LEN], uint32_t n_ops,
		       struct mmig_fold *out, uint64_t *next_seq,
		       struct mmig_error **errp);

/* Ids of the migrations in flight (the index), or of all with @p all. */
int mmig__journal_ids(struct mmig_journal *j, MDB_txn *txn, bool all,
		      uint8_t (**ids)[MMIG_ID_LEN], size_t *n);

/* The DB handles, for the readers and verify.  `log` is the main table
 * (see "The log" below): only its keys with the log's prefix are log. */
struct mmig__dbs {
	MDB_dbi meta, hdr, status, log, inflight;
};
const struct mmig__dbs *mmig__journal_dbs(const struct mmig_journal *j);

/*
 * The log (journal format 3, ARIES layout).  The log is keyed by a
 * journal-wide log sequence number (LSN, from 1), every new record appended
 * at the log's right edge (MDB_APPEND), so a batch of many migrations
 * writes a few adjacent pages.  It lives in LMDB's main (unnamed) table,
 * beside the records that name the other tables, under keys
 *
 *   0xff || LSN(8, big-endian)
 *
 * which sort after every table name (ASCII): the log is the main table's
 * right edge.  Why there: a commit that touches a named table also
 * rewrites the main table's leaf that holds that table's root, one page
 * more per sync than LMDB's own floor (one put in one table); a commit
 * that only appends to the log now touches one tree, as the floor does.
 * A log value is an envelope and the transition record (record.c) as it
 * was encoded:
 *
 *   id(16) || seq(8, big-endian) || prev LSN(8, big-endian; 0: none) || record
 *
 * and a `status` value is the migration's chain as of its last rewrite and
 * its STATUS record:
 *
 *   first LSN(8) || last LSN(8) || next seq(8) || status record
 *
 * (all big-endian; first and last 0 while it has no record).  The status is
 * rewritten when the state changes, not on every commit -- an ARIES
 * checkpoint of the chain's end rather than a second page per sync.  What
 * makes that readable: a commit that appends a record more than
 * MMIG__STATUS_LAG LSNs past the stored last LSN, or the chain's first
 * record, rewrites the status in the same transaction.  So every record
 * of a migration past its stored last LSN lies within the MMIG__STATUS_LAG
 * LSNs after it, and a reader finds the chain's true end by scanning only
 * those (mmig__journal_chain()).  A migration is then read by following
 * its chain from that end back to the first: every record on it must
 * carry the migration's id and the seq one below the one after it, and
 * point back to a lower LSN.
 */
#define MMIG__LSN_LEN 9
#define MMIG__LSN_PREFIX 0xffu
#define MMIG__STATUS_LAG 1024u
#define MMIG__LOG_ENV_LEN (MMIG_ID_LEN + 16)
#define MMIG__STATUS_ENV_LEN 24

/* One migration's chain, from its status value. */
struct mmig__chain {
	uint64_t first, last; /* LSNs; 0 when it has no record */
	uint64_t next_seq;    /* records on the chain */
};

/* One log value, taken apart. */
struct mmig__log_rec {
	uint8_t id[MMIG_ID_LEN];
	uint64_t seq, prev;
	const uint8_t *rec; /* the transition record, in the value */
	size_t len;
};

void mmig__lsn_key(uint8_t key[MMIG__LSN_LEN], uint64_t lsn);
/* The LSN the next appended record gets in @p txn (journal.c): past the
 * log's right edge and past meta "lsn", the floor a prune leaves.
 * @return an LMDB code. */
int mmig__journal_lsn_next(struct mmig_journal *j, MDB_txn *txn,
			   uint64_t *out);
/* The LSN of a log key; 0 for any other key of the main table. */
uint64_t mmig__lsn_of(const MDB_val *key);
/* @return false when @p val is too short to hold an envelope. */
bool mmig__log_unwrap(const MDB_val *val, struct mmig__log_rec *out);
bool mmig__status_unwrap(const MDB_val *val, struct mmig__chain *c,
			 const uint8_t **rec, size_t *len);
void mmig__status_wrap_env(uint8_t env[MMIG__STATUS_ENV_LEN],
			   const struct mmig__chain *c);
void mmig__log_wrap_env(uint8_t env[MMIG__LOG_ENV_LEN],
			const uint8_t id[MMIG_ID_LEN], uint64_t seq,
			uint64_t prev);

/* The chain of @p id: its status value's, carried on to the true end
 * through the MMIG__STATUS_LAG LSNs after the stored last one.  @return
 * MMIG_OK, MMIG_ENOTFOUND, MMIG_ECORRUPT (a value too short, a record past
 * the stored end that does not continue the chain), with *errp. */
int mmig__journal_chain(struct mmig_journal *j, MDB_txn *txn,
			const uint8_t id[MMIG_ID_LEN], struct mmig__chain *c,
			struct mmig_error **errp);
/* Carry chain @p c of @p id (as a status stored it) on to its true end. */
int mmig__chain_catch_up(struct mmig_journal *j, MDB_txn *txn,
			 const uint8_t id[MMIG_ID_LEN], struct mmig__chain *c,
			 struct mmig_error **errp);
/* The number of records in the log.  @return an LMDB code. */
int mmig__log_count(struct mmig_journal *j, MDB_txn *txn, uint64_t *n);

/*
 * Call @p fn for each record on the chain of @p id, in seq order, with its
 * LSN and the transition record's bytes (the envelope taken off).  A
 * broken chain -- a missing LSN, a record of another migration or seq, a
 * link that does not point back -- is MMIG_ECORRUPT naming the seq, with
 * *errp.  @p fn's own non-OK return stops the walk and is returned.
 */
int mmig__log_walk(struct mmig_journal *j, MDB_txn *txn,
		   const uint8_t id[MMIG_ID_LEN],
		   int (*fn)(void *arg, uint64_t seq, uint64_t lsn,
			     const MDB_val *rec),
		   void *arg, struct mmig_error **errp);

/* The LSN of record @p seq of @p id, following its chain back from the
 * last.  @return MMIG_OK, MMIG_ENOTFOUND, MMIG_ECORRUPT. */
int mmig__log_find(struct mmig_journal *j, MDB_txn *txn,
		   const uint8_t id[MMIG_ID_LEN], uint64_t seq,
		   uint64_t *lsn);

/*
 * For white-box tests that look at or damage one stored record: the
 * record's bytes (without the envelope) of @p id's header (@p table
 * "hdr"), status ("status") or transition @p seq ("log"), and the same
 * replaced by @p len bytes at @p rec, its envelope kept.  @return an LMDB
 * code (MDB_NOTFOUND).
 */
int mmig__lmdb_value_get(struct mmig_journal *j, MDB_txn *txn,
			 const char *table, const uint8_t id[MMIG_ID_LEN],
			 uint64_t seq, MDB_val *rec);
int mmig__lmdb_value_put(struct mmig_journal *j, MDB_txn *txn,
			 const char *table, const uint8_t id[MMIG_ID_LEN],
			 uint64_t seq, const void *rec, size_t len);

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
/* ---- side files (journal/side.c) ---------------------------------------
 * A description of at least mmig__side_min() bytes lives in
 * DIR/desc-<migration id>.mmig, written and synced before its header
 * commits; the header holds its length and XXH3-64 (see side.c). */
#define MMIG__SIDE_MIN ((size_t)1 << 20) /* 1 MiB */
/* "desc-" + 36 + ".mmig" + NUL */
#define MMIG__SIDE_NAME_LEN 47
/* The threshold: MMIG__SIDE_MIN (test builds: MMIG_TEST_SIDE_MIN may set
 * it, in bytes). */
size_t mmig__side_min(void);
void mmig__side_name(const uint8_t id[MMIG_ID_LEN],
		     char out[MMIG__SIDE_NAME_LEN]);
/* True when @p name is exactly a side file name; its id in @p id. */
bool mmig__side_parse_name(const char *name, uint8_t id[MMIG_ID_LEN]);
/*
 * Create the side file of migration @p id in @p dir (O_EXCL, 0600), lock
 * it (flock, exclusive), write @p len bytes of @p buf and, with @p sync
 * (whenever the header's commit syncs: not in process mode), fdatasync it
 * and fsync @p dir.  On success *lock_fd holds the file, locked: keep it until
 * the commit of the header naming it has returned, then
 * mmig__side_release().  On failure the file is removed and *errp names
 * it.  @return MMIG_OK, -errno, MMIG_ENOMEM.
 */
int mmig__side_write(const char *dir, const uint8_t id[MMIG_ID_LEN],
		     const void *buf, size_t len, bool sync, int *lock_fd,
		     struct mmig_error **errp);
void mmig__side_release(int lock_fd);
/*
 * THE reader of a side file: for a header with desc_side and no bytes,
 * read DIR/desc-<id>.mmig into h->model_desc (owned by @p h), checking its
 * length and XXH3-64 against the header.  A header without desc_side, or
 * already loaded, is left alone.  @return MMIG_OK; MMIG_ECORRUPT for a
 * missing, short, long or changed file, with *errp naming the file;
 * MMIG_ENOMEM.
 */
int mmig__side_load(const char *dir, struct mmig_rec_header *h,
		    struct mmig_error **errp);
/* mmig__side_load(), its failure kept in h->desc_problem (readers that
 * must still act on the migration: mmig__journal_read() of a header,
 * verify).  mmig__journal_header() itself does not read side files, so
 * that list and show never read a description. */
void mmig__side_load_or_note(const char *dir, struct mmig_rec_header *h);
/* Remove migration @p id's side file (none: MMIG_OK).  @return -errno. */
int mmig__side_unlink(const char *dir, const uint8_t id[MMIG_ID_LEN]);
int mmig__side_sync_dir(const char *dir);
/*
 * Side files that no header names and no creator holds (orphans): each
 * reported through @p report (may be NULL) and, with @p remove, unlinked
 * (then the directory is synced).  Only exact side file names are looked
 * at.  *n_orphans gets how many.  @return MMIG_OK or an error with *errp.
 */
int mmig__side_orphans(struct mmig_journal *j, bool remove,
		       void (*report)(void *arg, const char *msg), void *arg,
		       size_t *n_orphans, struct mmig_error **errp);

/* The backend's prune (verify.c). */
int mmig__lmdb_prune(struct mmig_journal *j, uint64_t older_than_ns,
		     size_t keep, size_t *n_pruned, struct mmig_error **errp);

#endif
