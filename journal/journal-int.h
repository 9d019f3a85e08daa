/*
 * journal/journal-int.h - the journal's backend interface, used by the
 * coordinator and by recovery.
 *
 * The interface is kept narrow enough that a replicated store could sit
 * behind it later: open a session (this process's owner identity),
 * create a migration, claim one given the epoch last seen (bumps it),
 * append records fenced by epoch and idempotent by sequence number, read a
 * migration's records in order, list what is in flight.  Everything
 * LMDB-specific -- group commit, one sync per operation -- stays in
 * journal.c.
 */
#ifndef MMIG_JOURNAL_INT_H
#define MMIG_JOURNAL_INT_H

#include "mmig/journal.h"
#include "record.h"

#include <lmdb.h>
#include <pthread.h>

/* How durable a commit must be before it returns. */
enum mmig__sync {
	MMIG__SYNC_NONE = 0, /* written to the page cache only */
	MMIG__SYNC_DATA = 1, /* one fdatasync: all but the newest commit
	                        survive power loss (MDB_NOMETASYNC) */
	MMIG__SYNC_FULL = 2, /* data and meta page synced: this commit
	                        survives power loss */
};

/* A migration being written by this process. */
struct mmig__jmig {
	struct mmig_journal *j;
	uint8_t id[MMIG_ID_LEN];
	char id_text[37];
	enum mmig_durability durability;
	uint64_t epoch;
	uint64_t next_seq;
	struct mmig_fold fold;    /* of every record staged so far */
	uint32_t committed_state; /* state in the STATUS record on disk */
	struct mmig_rec_status status;
	bool poisoned;            /* a commit failed: only recovery may go on */
	/* What the next commit writes. */
	uint8_t *header_val;      /* first commit only */
	size_t header_len;
	struct mmig__staged *staged;
	size_t n_staged, cap_staged;
	/* In the journal's list of migrations this process drives. */
	bool active;
	struct mmig__jmig *active_next;
};

struct mmig__staged {
	uint64_t seq;
	uint8_t *val;
	size_t len;
};

/* This process's identity as an owner (pid, start time, boot id, host). */
int mmig__owner_self(struct mmig_owner *out);
/* True unless @p o is known dead: same host and boot, and the pid is gone
 * or now belongs to a process with another start time.  An owner on
 * another host or boot of this host is dead when the boot differs; on
 * another host it cannot be checked and counts as alive. */
bool mmig__owner_alive(const struct mmig_owner *o);

/*
 * True when owner @p o may still act on migration @p id: another process
 * that is alive (mmig__owner_alive()), or this process while one of its
 * handles (from create or claim, not yet freed) drives the migration.
 * This process owning a migration that none of its handles drives -- a
 * perform the journal interrupted, a recovery that failed after its claim
 * -- may take it over again, instead of waiting for its own end.
 */
bool mmig__owner_active(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
			const struct mmig_owner *o);

/* A new migration id (a UUID v7: time-ordered), and its text form. */
int mmig__id_new(uint8_t id[MMIG_ID_LEN]);
void mmig__id_text(const uint8_t id[MMIG_ID_LEN], char out[37]);
int mmig__id_parse(const char *text, uint8_t id[MMIG_ID_LEN]);

/*
 * Start a new migration: the header and the status (RUNNING, epoch 1, this
 * process as owner) are staged for the first commit, together with whatever
 * the caller stages before it (normally BEGIN 0).
 */
int mmig__jmig_create(struct mmig_journal *j, const struct mmig_rec_header *h,
		      struct mmig__jmig **out, struct mmig_error **errp);

/*
 * Take over migration @p id: in one write transaction, check the epoch is
 * still @p expected_epoch (0: whatever it is) and the owner is dead (unless
 * @p force, or the migration rests: PAUSED or NEEDS_ATTENTION and not just
 * claimed), bump the epoch, record this process as owner and append
 * CLAIMED.  The handle comes back with the fold of every record and
 * the header in @p header_out (owned by the caller).
 * @return MMIG_OK, MMIG_EOWNED (owner alive), MMIG_ENOTFOUND, MMIG_EFENCED
 * (another claim won), MMIG_ECORRUPT / MMIG_EFORMAT / MMIG_EILLEGAL (a
 * record that cannot be trusted; nothing written), ...
 */
int mmig__jmig_claim(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		     uint64_t expected_epoch, bool force,
		     struct mmig_rec_header *header_out,
		     struct mmig__jmig **out, struct mmig_error **errp);

/* Stage a transition for the next commit; checked against the fold. */
int mmig__jmig_stage(struct mmig__jmig *m, uint32_t kind, int64_t op,
		     const void *data, size_t len, struct mmig_error **errp);

/*
 * Commit what is staged, as one LMDB transaction shared with whatever
 * other migrations of this process are committing (group commit), durable
 * to at least @p sync (capped at NONE in process mode).
 * @return MMIG_OK; MMIG_EFENCED when another process claimed the migration;
 * MMIG_EJOURNAL / -errno when LMDB failed.  After a failure the handle is
 * poisoned.
 */
int mmig__jmig_commit(struct mmig__jmig *m, enum mmig__sync sync,
		      struct mmig_error **errp);

void mmig__jmig_free(struct mmig__jmig *m);

/* ---- reading (journal/read.c) ----------------------------------------- */

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

#endif
