/*
 * journal/journal-int.h - the journal as the coordinator and recovery use
 * it: migration handles (create, stage, commit, claim), liveness, reading
 * one migration and listing what is in flight.
 *
 * Nothing here names the storage: these functions dispatch through the
 * backend interface (backend.h), whose first implementation is LMDB
 * (lmdb-int.h, which only journal/ and white-box tests include).  Group
 * commit, one sync per operation and LMDB's transactions stay behind it.
 */
#ifndef MMIG_JOURNAL_INT_H
#define MMIG_JOURNAL_INT_H

#include "mmig/journal.h"
#include "record.h"

#include <pthread.h>

/*
 * How durable a commit must be before it returns.  On LMDB: NONE is
 * written to the page cache only; DATA is one fdatasync, after which all
 * but the newest commit survive power loss (LMDB's no-meta-sync mode);
 * FULL syncs data and meta page, so this commit survives power loss.  A
 * backend whose every commit is durable (a quorum write) treats all three
 * alike.
 */
enum mmig__sync {
	MMIG__SYNC_NONE = 0,
	MMIG__SYNC_DATA = 1,
	MMIG__SYNC_FULL = 2,
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
	/* First commit only (has_header): the header record in pieces, its
	 * description borrowed from the creator (mmig__jmig_create()). */
	bool has_header;
	struct mmig__rec_header_parts header;
	struct mmig__staged *staged;
	size_t n_staged, cap_staged;
	/* The LMDB backend's memory of this migration's chain as its last
	 * commit here left it -- first and last LSN, records -- and the last
	 * LSN the status held then: saves catching the chain up from the
	 * status on every commit (journal.c, chain_end()). */
	bool chain_known;
	uint64_t chain_first, chain_last, chain_len, chain_stored;
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
 * The migrations a handle of this process drives in one journal: created
 * or claimed here, not freed yet.  What a backend's owner_active answers
 * for this process's own session (journal/migration.c).  Any thread.
 */
struct mmig__driving {
	pthread_mutex_t lock;
	struct mmig__jmig *head; /* linked through active_next */
};

void mmig__driving_init(struct mmig__driving *d);
void mmig__driving_destroy(struct mmig__driving *d);
/* Handle @p m starts (@p on) or stops driving its migration. */
void mmig__driving_set(struct mmig__driving *d, struct mmig__jmig *m, bool on);
/* True when a handle of this process drives migration @p id. */
bool mmig__driving_has(struct mmig__driving *d, const uint8_t id[MMIG_ID_LEN]);

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
 * the caller stages before it (normally BEGIN 0).  The description
 * (h->model_desc) is not copied: the caller keeps it alive and unchanged
 * until the commit that writes the header returns, or the handle is freed
 * (whichever is first), so that the journal copies its bytes only once.
 */
int mmig__jmig_create(struct mmig_journal *j, const struct mmig_rec_header *h,
		      struct mmig__jmig **out, struct mmig_error **errp);

/*
 * Take over migration @p id: atomically (on LMDB, in one write
 * transaction), check the epoch is still @p expected_epoch (0: whatever it
 * is) and the owner is dead (unless @p force, or the migration rests:
 * PAUSED or NEEDS_ATTENTION and not just claimed), bump the epoch, record
 * this process as owner and append CLAIMED.  The handle comes back with the fold of every record and
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
 * Commit what is staged: the backend's append, fenced by the handle's
 * epoch, durable to at least @p sync (capped at NONE in process mode).
 * (LMDB shares one transaction among the migrations of this process
 * committing at once: group commit.)
 * @return MMIG_OK; MMIG_EFENCED when another process claimed the migration;
 * MMIG_EJOURNAL / -errno when the storage failed.  After a failure the
 * handle is poisoned.
 */
int mmig__jmig_commit(struct mmig__jmig *m, enum mmig__sync sync,
		      struct mmig_error **errp);

/*
 * May the handle's owner still act -- execute a step, commit to a target
 * database?  MMIG_OK, or MMIG_ELEASE (etcd: the session's lease may expire
 * within the margin; then for good) with *errp.  Always MMIG_OK on LMDB,
 * whose owners are judged by pid.  Any thread.
 */
int mmig__jmig_check(struct mmig__jmig *m, struct mmig_error **errp);

void mmig__jmig_free(struct mmig__jmig *m);

/* ---- reading (through the backend) ------------------------------------- */

/*
 * Migration @p id from one consistent view of the journal: its header
 * (@p h), its status (@p st) and the fold of every transition (@p fold,
 * for the header's n_ops), each optional (NULL: not read; the fold needs
 * the header).  @p next_seq, when not NULL, gets the next free seq.  What
 * comes back is the caller's to free (mmig__rec_header_free(), ...); on
 * failure nothing is.  @return MMIG_OK, MMIG_ENOTFOUND, a record's
 * MMIG_ECORRUPT / MMIG_EFORMAT / MMIG_EILLEGAL, a storage error; *errp
 * names the migration and the record.
 */
int mmig__journal_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		       struct mmig_rec_header *h, struct mmig_rec_status *st,
		       struct mmig_fold *fold, uint64_t *next_seq,
		       struct mmig_error **errp);

/* Ids of the migrations in flight (the index), or of all with @p all; the
 * array is the caller's (mmig__free()).  @return MMIG_OK or a storage
 * error, with *errp when @p errp is not NULL. */
int mmig__journal_list(struct mmig_journal *j, bool all,
		       uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
		       struct mmig_error **errp);

#endif
