/*
 * mmig/journal.h - the write-ahead journal: an LMDB environment (a
 * directory) holding any number of migrations, written by any number of
 * threads and processes.
 *
 * A coordinator given a journal (mmig_coordinator_set_journal()) records
 * every transition of its migration before acting on it; recovery replays
 * what is in flight.  This header also carries what operators' tools need:
 * listing, reading, verifying, dumping and pruning migrations.
 *
 * Durability.  In MMIG_DURABLE mode each commit costs one fdatasync: LMDB
 * writes the data pages, syncs them, then writes the meta page without
 * syncing it (MDB_NOMETASYNC), so the meta page rides on the next commit's
 * sync.  A power cut can therefore lose the newest commit, never an older
 * one; recovery allows for that by treating the operation after the last
 * recorded BEGIN as possibly started ("one ahead").  A migration's first
 * commit and its terminal record are fully synced (data, then meta).  In
 * MMIG_PROCESS mode nothing is synced: a killed process loses nothing, a
 * power cut may lose anything not yet written back.
 *
 * Caveats: an open journal must not cross fork(); keep the directory on a
 * local filesystem; all threads of a process share one handle: opening a
 * journal this process has open already is refused (MMIG_EBUSY), since
 * LMDB's locks belong to the process and a second handle's close would
 * drop the first one's.
 *
 * Waiting.  Writers wait for the journal's write lock at most the
 * handle's lock timeout (mmig_journal_set_lock_timeout(), 5 s by
 * default), then fail with MMIG_EBUSY and a message naming the process
 * that holds it -- a writer stopped (SIGSTOP, Ctrl-Z) inside a commit
 * would otherwise stop every other writer, silently.  Readers never wait
 * for writers.
 */
#ifndef MMIG_JOURNAL_H
#define MMIG_JOURNAL_H

#include "mmig/common.h"
#include "mmig/error.h"

#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_journal;

/** Open read-only: for listing, showing, verifying; nothing is written. */
#define MMIG_JOURNAL_RDONLY 0x1u

struct mmig_journal_options {
	/** MMIG_JOURNAL_* flags. */
	unsigned flags;
	/** Initial LMDB map size in bytes; 0 for the default (64 MiB).  A
	 *  writable handle opens with at least twice the space in use, and
	 *  every write (commit, claim, prune) doubles the map and retries
	 *  whenever it fills. */
	size_t initial_map_size;
};

/**
 * Open the journal in directory @p dir; unless read-only, create it when
 * @p dir is missing (made 0700; its parent must exist) or empty (kept as
 * it is: inode, mode, a symlink to it, a mount point).  The journal's
 * files are 0600.  Creation is crash-safe: a crash or power cut leaves no
 * journal or a whole one.  Anything else -- a directory holding other
 * files, another program's LMDB environment -- is refused and left exactly
 * as it was.
 * @param[out] out the journal, or NULL on failure.
 * @param opts  NULL for defaults.
 * @param[out] errp if not NULL, on failure an error naming the directory.
 * @return MMIG_OK; -errno for system errors (-ENOENT when read-only and
 * missing, or when the parent is missing); MMIG_EFORMAT for a journal
 * written by a newer format; MMIG_ECORRUPT for one that is not a libmmig
 * journal; MMIG_EBUSY when this process has it open already (share that
 * handle), or its write lock was held past the default timeout while a
 * new journal's tables were made; MMIG_EJOURNAL for other LMDB errors.
 */
MMIG_EXPORT int mmig_journal_open(struct mmig_journal **out, const char *dir,
				  const struct mmig_journal_options *opts,
				  struct mmig_error **errp);

/** Close; every migration handle on it must be finished.  NULL is a no-op. */
MMIG_EXPORT void mmig_journal_close(struct mmig_journal *j);

/**
 * Force everything committed so far to disk, data and meta page.  Recovery
 * calls it before reading, so it never acts on a commit a power cut could
 * still undo.  A read-only handle syncs too (an fdatasync of the data
 * file), so tools that only look can show what is durable.
 * @return MMIG_OK, -errno (-ENOSPC when the file system is full) or
 * MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_sync(struct mmig_journal *j);
/** mmig_journal_sync() with the cause in *errp (if not NULL). */
MMIG_EXPORT int mmig_journal_sync_v2(struct mmig_journal *j,
				     struct mmig_error **errp);

/**
 * How long a writer on @p j waits for the journal's write lock before it
 * fails with MMIG_EBUSY: nanoseconds, UINT64_MAX for ever.  5 s until set.
 * Any thread; applies to waits that begin afterwards.
 */
MMIG_EXPORT void mmig_journal_set_lock_timeout(struct mmig_journal *j,
					       uint64_t timeout_ns);

/**
 * Compact the journal in @p dir: LMDB's compacting copy (free pages
 * dropped; pruning alone never shrinks the file) is written beside the data
 * file, synced, and renamed over it, so a crash or power cut at any instant
 * leaves the old file or the new one, whole.  Needs the journal to itself:
 * refused (MMIG_EBUSY) while any process, this one included, has it open.
 * @param[out] bytes_before, bytes_after  the data file's size; may be NULL.
 * @param[out] errp if not NULL, on failure the cause.
 * @return MMIG_OK; MMIG_EBUSY; MMIG_ECORRUPT (not a libmmig journal);
 * -errno (-ENOENT: no journal there; -ENOSPC: no room for the copy);
 * MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_compact(const char *dir, uint64_t *bytes_before,
				     uint64_t *bytes_after,
				     struct mmig_error **errp);

struct mmig_journal_stats {
	uint64_t commits;  /**< LMDB write transactions committed */
	uint64_t syncs;    /**< sync points those commits asked for: an
	                        fdatasync, or the O_DSYNC write of a meta
	                        page (a fully synced commit has two) */
	uint64_t records;  /**< transition records written */
	uint64_t bytes;    /**< encoded bytes of every value written */
	uint64_t map_grows; /**< times the map was grown */
};

/** Counters since open, for tests and benchmarks. */
MMIG_EXPORT void mmig_journal_get_stats(const struct mmig_journal *j,
					struct mmig_journal_stats *out);

/* ---- reading migrations: what the tools show ---------------------- */

/** A migration as listed.  Strings are owned by the array they came in. */
struct mmig_migration_info {
	char id[37];         /**< migration id, UUID text */
	char model_uuid[37];
	const char *state;   /**< "RUNNING", "PAUSED", "ROLLING_BACK",
	                          "COMMITTED", "ROLLED_BACK", "NEEDS_ATTENTION" */
	const char *durability; /**< "durable" or "process" */
	uint32_t ops_total;
	uint32_t ops_done;
	int64_t highest_begun; /**< -1 when no op began */
	uint64_t epoch;
	uint32_t owner_pid;
	char *owner_host;
	bool owner_alive;    /**< the owner may still act on it (for this
	                          process: one of its threads drives it) */
	uint64_t created_ns; /**< CLOCK_REALTIME */
	uint64_t updated_ns; /**< time of the latest record */
	char *cause;         /**< first failure, or NULL */
	char *last_error;    /**< latest rollback failure, or NULL */
	char *problem;       /**< set when the migration cannot be read or
	                          folded: names the bad record; the other
	                          fields are then partial */
};

/**
 * List migrations: those in flight (any state but COMMITTED and
 * ROLLED_BACK), or every one with @p all.  In-flight ones are found through
 * the in-flight index, so the cost does not grow with history.
 * @param[out] out array of @p *n entries; free with
 *             mmig_migration_info_free().
 * @return MMIG_OK, MMIG_ENOMEM or MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_list(struct mmig_journal *j, bool all,
				  struct mmig_migration_info **out, size_t *n);
/** mmig_journal_list() with the cause (LMDB's reason, the path) in *errp
 *  (if not NULL) on failure. */
MMIG_EXPORT int mmig_journal_list_v2(struct mmig_journal *j, bool all,
				     struct mmig_migration_info **out,
				     size_t *n, struct mmig_error **errp);
MMIG_EXPORT void mmig_migration_info_free(struct mmig_migration_info *a,
					  size_t n);
/** Free what one entry owns (for mmig_journal_get()); the struct stays. */
MMIG_EXPORT void mmig_migration_info_clear(struct mmig_migration_info *i);

/**
 * Find a migration by its id or a unique prefix of it.  Release @p out with
 * mmig_migration_info_clear().
 * @return MMIG_OK, MMIG_ENOTFOUND, MMIG_EINVAL (prefix not unique), ...
 */
MMIG_EXPORT int mmig_journal_get(struct mmig_journal *j, const char *id,
				 struct mmig_migration_info *out);
/** mmig_journal_get() with the cause in *errp (if not NULL) on failure. */
MMIG_EXPORT int mmig_journal_get_v2(struct mmig_journal *j, const char *id,
				    struct mmig_migration_info *out,
				    struct mmig_error **errp);

/**
 * Write a migration's header and every transition to @p out as JSON, one
 * object per line: first {"record":"header",...} then one
 * {"record":"transition","seq":N,...} per transition.
 * @return MMIG_OK, MMIG_ENOTFOUND, MMIG_ECORRUPT (the bad record is named in
 * *errp and printed as {"record":"corrupt",...}), ...
 */
MMIG_EXPORT int mmig_journal_show(struct mmig_journal *j, const char *id,
				  FILE *out, struct mmig_error **errp);

/** mmig_journal_show() for every migration, in id order. */
MMIG_EXPORT int mmig_journal_dump(struct mmig_journal *j, FILE *out,
				  struct mmig_error **errp);

/**
 * Check the whole journal: every record decodes and its checksum holds,
 * each migration's transitions fold legally, the status's state agrees with
 * the fold, and the in-flight index lists exactly the migrations not final.
 * Each problem is passed to @p report (a line naming migration and record).
 * @param[out] n_problems the count.
 * @return MMIG_OK when the journal could be read (problems or not),
 * otherwise an error code.
 */
MMIG_EXPORT int mmig_journal_verify(struct mmig_journal *j,
				    void (*report)(void *arg, const char *msg),
				    void *arg, size_t *n_problems);
/** mmig_journal_verify() with the cause in *errp (if not NULL) when the
 *  journal could not be read. */
MMIG_EXPORT int mmig_journal_verify_v2(struct mmig_journal *j,
				       void (*report)(void *arg,
						      const char *msg),
				       void *arg, size_t *n_problems,
				       struct mmig_error **errp);

/**
 * Delete final (COMMITTED or ROLLED_BACK) migrations whose latest record is
 * older than @p older_than_ns (0: no age limit), keeping the newest
 * @p keep of them whatever their age.  Migrations in flight are never
 * pruned.
 * The map grows as needed.  Pruning frees pages for reuse but never
 * shrinks the file: mmig_journal_compact() does.
 * @param[out] n_pruned how many were deleted.
 * @return MMIG_OK; MMIG_EBUSY (the write lock was held past the lock
 * timeout); -errno (-ENOSPC: the file system is full); MMIG_EJOURNAL;
 * MMIG_EINVAL (read-only handle).
 */
MMIG_EXPORT int mmig_journal_prune(struct mmig_journal *j,
				   uint64_t older_than_ns, size_t keep,
				   size_t *n_pruned);
/** mmig_journal_prune() with the cause in *errp (if not NULL). */
MMIG_EXPORT int mmig_journal_prune_v2(struct mmig_journal *j,
				      uint64_t older_than_ns, size_t keep,
				      size_t *n_pruned,
				      struct mmig_error **errp);

#ifdef __cplusplus
}
#endif

#endif
