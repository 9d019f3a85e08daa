/*
 * journal/backend.h - the storage backend interface of the journal
 * (internal to journal/; the engine uses journal-int.h, which dispatches
 * through it).
 *
 * A backend stores migrations: a header, a status (state cache, owner,
 * epoch) and a log of transition records, each with its migration's seq,
 * plus an index of the migrations in flight.  How the log is keyed is the
 * backend's own (LMDB: by a journal-wide LSN, each record linked to its
 * migration's previous one; lmdb-int.h); the engine sees seqs only.  Records are opaque bytes here (record.c
 * encodes them, fold.c folds them), so a backend never interprets a
 * transition beyond what fencing and the in-flight index need.  The
 * operations are those of DESIGN.md, "The journal":
 *
 *   session   this process's owner identity, and whether the owner of a
 *             migration may still act on it (liveness);
 *   claim     take a migration over given the epoch last seen: a larger
 *             epoch, or MMIG_EOWNED ("owned by a live session"), or
 *             MMIG_EFENCED (another claim won since it was read);
 *   append    a handle's staged records, fenced by its epoch and
 *             idempotent by sequence number: appending a record whose seq
 *             holds the same bytes already succeeds and writes nothing, so
 *             retrying an append whose answer was lost is safe;
 *   read      one migration's header, status and records, in seq order,
 *             from one consistent view (a range read);
 *   list      the migrations in flight (or all of them);
 *   settle    make what was appended survive power loss (sync), and prune
 *             settled migrations.
 *
 * The LMDB journal (journal.c, read.c, verify.c; lmdb-int.h) is the first
 * implementation; its tricks -- group commit, one sync per operation, the
 * map that grows -- stay behind append and claim.  A replicated store
 * (etcd: leases for liveness, an owner key's create_revision for the epoch,
 * txn for the fenced append) implements the same operations.
 *
 * The front: struct mmig_journal is each backend's own state struct, whose
 * first member is the vtable pointer (LMDB: journal.c; etcd:
 * etcd-backend.c); mmig__journal_ops() reads that first member, whatever
 * the backend.  mmig_journal_open() opens LMDB, or etcd for a path
 * "etcd://..."; mmig_journal_open_etcd() opens etcd.  The public readers
 * mmig_journal_list/get go through read and list below on etcd; show
 * and dump have an etcd version (mmig__etcd_show/dump); verify and
 * compaction are LMDB code and refuse another backend with MMIG_ENOTIMPL
 * naming it (mmig__journal_is_lmdb()).
 *
 * Threads: every operation may be called from any thread; the backend
 * serializes what needs it.  A handle (struct mmig__jmig) is used by one
 * thread at a time.
 */
#ifndef MMIG_BACKEND_H
#define MMIG_BACKEND_H

#include "journal-int.h"

#include <stdio.h>

/* Bumped when an operation is added or changes meaning. */
#define MMIG__BACKEND_VERSION 2u /* 2: side_min */

struct mmig__backend_ops {
	/* For messages: "lmdb". */
	const char *name;
	/* MMIG__BACKEND_VERSION of the layout this table was written to. */
	unsigned version;
	/* Where the journal is, for messages: the directory, for LMDB. */
	const char *(*where)(const struct mmig_journal *j);

	/* ---- session (liveness) ---------------------------------------- */

	/* This process's owner identity in this journal; owned by @p j. */
	const struct mmig_owner *(*session)(struct mmig_journal *j);
	/* True when owner @p o may still act on migration @p id (see
	 * mmig__owner_active() in journal-int.h). */
	bool (*owner_active)(struct mmig_journal *j,
			     const uint8_t id[MMIG_ID_LEN],
			     const struct mmig_owner *o);
	/* Handle @p m starts (@p on) or stops driving its migration: what
	 * owner_active() answers for this process's own migrations. */
	void (*drive)(struct mmig__jmig *m, bool on);

	/* May @p m's owner still act (a step, a target database commit)?
	 * MMIG_OK or an error with *errp; NULL: always (LMDB).  Any
	 * thread. */
	int (*check)(struct mmig__jmig *m, struct mmig_error **errp);

	/* ---- creating and claiming -------------------------------------- */

	/* A description of at least this many bytes is kept out of the
	 * header record, in a side file the backend writes (and syncs)
	 * before the header commits: the header holds its length and
	 * XXH3-64 (record.c, format 2).  NULL: never (etcd chunks large
	 * headers itself).  LMDB: journal/side.c. */
	size_t (*side_min)(void);

	/* May a new migration of durability @p d begin here?  MMIG_OK, or
	 * MMIG_EINVAL (a read-only handle; a journal holding the other
	 * durability) with the reason in *errp.  Appending the new
	 * migration's first records checks again, atomically. */
	int (*admit)(struct mmig_journal *j, enum mmig_durability d,
		     struct mmig_error **errp);
	/*
	 * Claim migration @p id given the epoch last seen (@p
	 * expected_epoch, 0: any), durably (it survives power loss once this
	 * returns MMIG_OK).  Checks that the migration is not final and that
	 * its owner is not active (unless @p force, or it rests: PAUSED or
	 * NEEDS_ATTENTION, last record not CLAIMED), writes the status with
	 * epoch + 1 and this session as owner, and appends CLAIMED, all or
	 * nothing.  On success *out is a new handle, driving, with the fold
	 * of every record, next_seq, epoch, durability and status, nothing
	 * staged; @p h the header (the caller frees it).
	 * @return MMIG_OK, MMIG_EOWNED, MMIG_EFENCED, MMIG_ENOTFOUND,
	 * MMIG_EINVAL (final), a record's MMIG_ECORRUPT / MMIG_EFORMAT /
	 * MMIG_EILLEGAL, a storage error; *errp names the migration.
	 */
	int (*claim)(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		     uint64_t expected_epoch, bool force,
		     struct mmig_rec_header *h, struct mmig__jmig **out,
		     struct mmig_error **errp);

	/* ---- append ------------------------------------------------------ */

	/*
	 * Append what @p m staged -- its header first when it creates the
	 * migration (m->header), then m->staged[] by seq -- and, when
	 * @p status_val is not NULL, the new status (and the in-flight index
	 * entry it implies), all or nothing, if and only if the stored
	 * epoch is still m->epoch (or, creating, no migration m->id exists
	 * yet).  Durable to at least @p sync before it returns.  Does not
	 * touch @p m, except that a backend whose epochs are decided by the
	 * store (etcd: the create txn's revision) sets m->epoch and
	 * m->status.epoch when it creates the migration.  @return MMIG_OK; MMIG_EFENCED when another session
	 * claimed it; MMIG_EEXIST; a storage error with *errp.
	 */
	int (*append)(struct mmig__jmig *m, const uint8_t *status_val,
		      size_t status_len, enum mmig__sync sync,
		      struct mmig_error **errp);

	/* ---- reading ------------------------------------------------------ */

	/* One migration from one consistent view: as mmig__journal_read()
	 * in journal-int.h. */
	int (*read)(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		    struct mmig_rec_header *h, struct mmig_rec_status *st,
		    struct mmig_fold *fold, uint64_t *next_seq,
		    struct mmig_error **errp);
	/* As mmig__journal_list() in journal-int.h. */
	int (*list)(struct mmig_journal *j, bool all,
		    uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
		    struct mmig_error **errp);

	/* ---- settle ------------------------------------------------------- */

	/* Everything appended so far survives power loss (rule 4). */
	int (*sync)(struct mmig_journal *j, struct mmig_error **errp);
	/* As mmig_journal_prune_v2(). */
	int (*prune)(struct mmig_journal *j, uint64_t older_than_ns,
		     size_t keep, size_t *n_pruned, struct mmig_error **errp);
	/* Release everything; @p j is freed. */
	void (*close)(struct mmig_journal *j);
};

/* The backend of @p j. */
const struct mmig__backend_ops *mmig__journal_ops(const struct mmig_journal *j);

/* The LMDB backend (journal.c). */
extern const struct mmig__backend_ops mmig__lmdb_backend;
/* The etcd backend (etcd-backend.c). */
extern const struct mmig__backend_ops mmig__etcd_backend;

/* True when @p j is an LMDB journal: the LMDB-only public calls (read.c,
 * verify.c, journal.c) check this before touching LMDB state. */
static inline bool
mmig__journal_is_lmdb(const struct mmig_journal *j)
{
	return mmig__journal_ops(j) == &mmig__lmdb_backend;
}

/* A journal path naming an etcd journal starts with this. */
#define MMIG_ETCD_SCHEME "etcd://"

/* Open "etcd://HOST:PORT[,...]/PREFIX[?node=NAME&lease-ttl=SECONDS]"
 * (mmig_journal_open() dispatches here). */
int mmig__etcd_journal_open_uri(struct mmig_journal **out, const char *uri,
				unsigned flags, struct mmig_error **errp);

/* The public readers through read and list, for a backend other than
 * LMDB (as mmig_journal_list_v2() and mmig_journal_get_v2()). */
int mmig__front_list_info(struct mmig_journal *j, bool all,
			  struct mmig_migration_info **out, size_t *n,
			  struct mmig_error **errp);
int mmig__front_get_info(struct mmig_journal *j, const char *id_text,
			 struct mmig_migration_info *out,
			 struct mmig_error **errp);
/* As mmig_journal_verify_v2(): every migration read and folded, and the
 * in-flight index against the states. */
int mmig__front_verify(struct mmig_journal *j,
		       void (*report)(void *arg, const char *msg), void *arg,
		       size_t *n_problems, struct mmig_error **errp);
/* `show` of one migration on the etcd backend (as mmig_journal_show()):
 * the header line, then one line per transition whose "lsn" is the etcd
 * revision that wrote the record; all read at one revision. */
int mmig__etcd_show(struct mmig_journal *j, const char *id_text, FILE *out,
		    struct mmig_error **errp);
/* `dump` on the etcd backend (as mmig_journal_dump()): every migration's
 * `show` lines, all read at one revision (held in memory until complete:
 * a compaction of that revision meanwhile starts the dump again). */
int mmig__etcd_dump(struct mmig_journal *j, FILE *out,
		    struct mmig_error **errp);
/* Tests only (NULL otherwise): called by every etcd read of a migration
 * once its revision is fixed, before the description chunks and the log are
 * read at that revision, so that a test can compact history in between. */
extern void (*mmig__etcd_read_hook)(void *arg, int64_t revision);
extern void *mmig__etcd_read_hook_arg;
/* The header line of `show` (read.c), for every backend. */
int mmig__show_header(FILE *out, const struct mmig_rec_header *h,
		      const struct mmig_rec_status *st, const char *id_text);
/* A struct mmig_migration_info filled in steps, the same on every backend
 * (read.c): begin with the id and "?" for what is not known yet, then what
 * the header, the status and the fold of the migration say, or the problem
 * that stopped the reading (an entry is made all the same).  @p state
 * judges whether the owner is alive (a final state: not). */
void mmig__info_begin(struct mmig_migration_info *info,
		      const uint8_t id[MMIG_ID_LEN]);
void mmig__info_header(struct mmig_migration_info *info,
		       const struct mmig_rec_header *h);
void mmig__info_status(struct mmig_journal *j,
		       struct mmig_migration_info *info,
		       const uint8_t id[MMIG_ID_LEN],
		       const struct mmig_rec_status *st, unsigned state);
void mmig__info_fold(struct mmig_migration_info *info,
		     const struct mmig_fold *fold);
void mmig__info_problem(struct mmig_migration_info *info, int rc,
			const struct mmig_error *err);
/* MMIG_ENOTIMPL, with an error naming @p what and the backend. */
int mmig__front_unsupported(struct mmig_journal *j, const char *what,
			    struct mmig_error **errp);

/* Free what @p m staged (records and header), once appended or given up. */
void mmig__jmig_clear_staged(struct mmig__jmig *m);

#endif
