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
 *
 * Threads: every function here may be called from any thread on one shared
 * handle, concurrently (readers run in their own LMDB read transaction,
 * writers are serialized inside the handle), except mmig_journal_close(),
 * which must be the last call on the handle, made when no other thread
 * uses it.  Times are nanoseconds of CLOCK_REALTIME since the Unix epoch.
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

/** A sized struct: see "ABI" in mmig/common.h. */
struct mmig_journal_options {
	/** sizeof(struct mmig_journal_options); 0: the 0.1 layout. */
	size_t size;
	/** MMIG_JOURNAL_* flags. */
	unsigned flags;
	/** Initial LMDB map size in bytes; 0 for the default (64 MiB).  A
	 *  writable handle opens with at least twice the space in use, and
	 *  every write (commit, claim, prune) doubles the map and retries
	 *  whenever it fills. */
	size_t initial_map_size;
};

#define MMIG_JOURNAL_OPTIONS_INIT                                              \
	{ .size = sizeof(struct mmig_journal_options) }

/**
 * Open the journal in directory @p dir; unless read-only, create it when
 * @p dir is missing (made 0700; its parent must exist) or empty (kept as
 * it is: inode, mode, a symlink to it, a mount point).  The journal's
 * files are 0600.  Creation is crash-safe: a crash or power cut leaves no
 * journal or a whole one.  Anything else -- a directory holding other
 * files, another program's LMDB environment -- is refused and left exactly
 * as it was.
 * @param[out] out the journal, or NULL on failure.
 * @param opts  NULL for defaults.  MMIG_EINVAL when opts->size is
 *              smaller than the first layout (see mmig/common.h).
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

/** The lease TTL an etcd journal gets when none is given, in seconds. */
#define MMIG_ETCD_LEASE_TTL_DEFAULT 5u

/**
 * Open the journal stored in an etcd v3 cluster under @p prefix (since
 * 0.2).  Several migrations, processes and nodes share one prefix; each
 * handle is a session: it grants a lease of @p lease_ttl_s seconds, kept
 * alive by a thread of the library, and owns its migrations exactly while
 * the lease lives.  Before every journal commit the owner checks that its
 * lease is certainly alive (with a margin of a quarter of the TTL) and
 * stops with MMIG_ELEASE otherwise, so it never acts after another node
 * may have taken over.  A migration's epoch (invariant F) is an etcd
 * revision.  Durability: every answered commit is on a quorum's disks, in
 * both durability modes.  mmig_journal_open() with a path
 * "etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?node=NAME&lease-ttl=SECONDS]"
 * calls this.  Design: docs/etcd-backend.md.
 *
 * @param[out] out   the journal, or NULL on failure.
 * @param endpoints  "HOST:PORT[,HOST:PORT...]" (an "http://" before each
 *                   is accepted; at most 16), the gateway's client URLs;
 *                   borrowed.
 * @param prefix     key prefix, non-empty, printable, no trailing '/';
 *                   borrowed.
 * @param node       this node's name, shown as the owner's host (NULL or
 *                   "": the host name); printable, no '/'; borrowed.
 * @param lease_ttl_s the session lease's TTL in seconds (0: the default,
 *                   MMIG_ETCD_LEASE_TTL_DEFAULT; at most 3600): how long
 *                   after this process dies its migrations can be taken
 *                   over.
 * @param flags      MMIG_JOURNAL_RDONLY or 0.  Read-only: no lease, no
 *                   writes; an empty prefix is -ENOENT.
 * @param[out] errp  if not NULL, on failure an error naming the journal.
 * @return MMIG_OK; MMIG_EINVAL (a bad argument, named); MMIG_EUNREACHABLE
 * (no member answered); MMIG_EFORMAT (a journal of a newer format);
 * -ENOENT (read-only, nothing there); MMIG_EJOURNAL; MMIG_ENOMEM.
 * mmig_journal_show/dump read at one etcd revision (a record's "lsn" is
 * the revision that wrote it).  Not supported on etcd: compaction
 * (mmig_journal_compact() takes an LMDB directory; etcd's own history is
 * compacted with `etcdctl compact`); stats read as zeros.
 * Threads: as for an LMDB journal.
 */
MMIG_EXPORT int mmig_journal_open_etcd(struct mmig_journal **out,
				       const char *endpoints,
				       const char *prefix, const char *node,
				       unsigned lease_ttl_s, unsigned flags,
				       struct mmig_error **errp);

/** Close; every migration handle on it must be finished (no coordinator
 *  or recovery still using it).  NULL is a no-op. */
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

/** A sized struct, filled in by the library. */
struct mmig_journal_stats {
	/** Set by the caller (MMIG_JOURNAL_STATS_INIT); 0: the 0.1 layout. */
	size_t size;
	uint64_t commits;  /**< LMDB write transactions committed */
	uint64_t syncs;    /**< sync points those commits asked for: an
	                        fdatasync, or the O_DSYNC write of a meta
	                        page (a fully synced commit has two) */
	uint64_t records;  /**< transition records written */
	uint64_t bytes;    /**< encoded bytes of every value written, and of
	                      every description side file */
	uint64_t map_grows; /**< times the map was grown */
	uint64_t commit_ns; /**< wall time, in ns, inside those commits:
	                         LMDB writing the pages and syncing them
	                         (not the puts before, nor a side file).
	                         Added in MMIG_0.2: a caller built with the
	                         0.1 layout's size does not get it */
};

#define MMIG_JOURNAL_STATS_INIT { .size = sizeof(struct mmig_journal_stats) }

/** Counters since open, for tests and benchmarks; @p out is filled in
 *  (the caller owns it) as far as out->size covers (with a size below the
 *  first layout, nothing).  Cannot fail.  The counters are read one by one,
 *  so with concurrent writers they need not be from one instant. */
MMIG_EXPORT void mmig_journal_get_stats(const struct mmig_journal *j,
					struct mmig_journal_stats *out);

/* ---- reading migrations: what the tools show ---------------------- */

/**
 * A migration as listed.  Strings are owned by the array (or the struct)
 * they came in.  A sized struct: in an array from mmig_journal_list() each
 * element's size is the library's, and elements are reached with
 * mmig_migration_info_at(); for mmig_journal_get() the caller sets size.
 */
struct mmig_migration_info {
	/** sizeof(struct mmig_migration_info); 0: the 0.1 layout. */
	size_t size;
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

#define MMIG_MIGRATION_INFO_INIT                                               \
	{ .size = sizeof(struct mmig_migration_info) }

/**
 * List migrations: those in flight (any state but COMMITTED and
 * ROLLED_BACK), or every one with @p all.  In-flight ones are found through
 * the in-flight index, so the cost does not grow with history.
 * A migration whose records cannot be read is still listed, with
 * @c problem set.
 * @param j     the journal (read-only or not).
 * @param all   false: in flight only; true: every migration.
 * @param[out] out array of @p *n entries, oldest first (ids sort by
 *             creation time), each reached with mmig_migration_info_at()
 *             (not out[i]: the element may be larger than the caller's
 *             struct); owned by the caller, free with
 *             mmig_migration_info_free().  NULL on failure.
 * @param[out] n the number of entries.
 * @return MMIG_OK, MMIG_ENOMEM or MMIG_EJOURNAL (an LMDB error), or
 * MMIG_ECORRUPT when LMDB finds the file itself damaged.
 */
MMIG_EXPORT int mmig_journal_list(struct mmig_journal *j, bool all,
				  struct mmig_migration_info **out, size_t *n);
/** mmig_journal_list() with the cause (LMDB's reason, the path) in *errp
 *  (if not NULL) on failure. */
MMIG_EXPORT int mmig_journal_list_v2(struct mmig_journal *j, bool all,
				     struct mmig_migration_info **out,
				     size_t *n, struct mmig_error **errp);
/** Free an array from mmig_journal_list(): its @p n entries' strings and the
 *  array.  NULL is a no-op. */
MMIG_EXPORT void mmig_migration_info_free(struct mmig_migration_info *a,
					  size_t n);

/**
 * Entry @p i of an array from mmig_journal_list(), whatever the size of the
 * struct the caller was compiled with (since 0.2).
 * @return the entry; NULL when @p a is NULL.  @p i is not checked against
 * the array's length.
 */
MMIG_EXPORT struct mmig_migration_info *
mmig_migration_info_at(struct mmig_migration_info *a, size_t i);

/** Free what one entry owns (for mmig_journal_get()); the struct stays. */
MMIG_EXPORT void mmig_migration_info_clear(struct mmig_migration_info *i);

/**
 * Find a migration by its id or a unique prefix of it.  Set out->size first
 * (MMIG_MIGRATION_INFO_INIT); the fields that size covers are filled in and
 * the rest of the caller's struct is left alone.  Release @p out with
 * mmig_migration_info_clear().
 * @param id  the id (UUID text) or a prefix of it.
 * @param[out] out filled in on success (its strings owned by @p out); its
 *             size must be set (MMIG_MIGRATION_INFO_INIT).
 * @return MMIG_OK, MMIG_ENOTFOUND, MMIG_EINVAL (prefix not unique, or
 * out->size below the first layout), MMIG_ENOMEM, MMIG_EJOURNAL,
 * MMIG_ECORRUPT.
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
 * {"record":"transition","seq":N,...} per transition.  Times are RFC 3339,
 * UTC.  Writes nothing to the journal.
 * @param id  the id or a unique prefix of it.
 * @param out where the JSON goes (the caller's stream, not closed).
 * @param[out] errp if not NULL, on failure an error naming the migration
 *             and record; the caller frees it with mmig_error_free().
 * @return MMIG_OK, MMIG_ENOTFOUND, MMIG_EINVAL (prefix not unique),
 * MMIG_ECORRUPT or MMIG_EFORMAT (the bad record is named in *errp and
 * printed as {"record":"corrupt",...}; what is readable is still printed),
 * MMIG_ENOMEM, MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_show(struct mmig_journal *j, const char *id,
				  FILE *out, struct mmig_error **errp);

/** mmig_journal_show() for every migration, in id order.  A bad record does
 *  not stop the others from being printed.
 *  @return MMIG_OK, or the first error met (as mmig_journal_show(); *errp
 *  names its record). */
MMIG_EXPORT int mmig_journal_dump(struct mmig_journal *j, FILE *out,
				  struct mmig_error **errp);

/**
 * Check the whole journal: every record decodes and its checksum holds,
 * each migration's transitions fold legally, the status's state agrees with
 * the fold, and the in-flight index lists exactly the migrations not final.
 * Each problem is passed to @p report (a line naming migration and record).
 * Reads everything in one read transaction and writes nothing.
 * @param j       the journal (read-only or not).
 * @param report  called once per problem, on the calling thread, with a
 *                message valid only during the call; may be NULL.
 * @param arg     passed to @p report.
 * @param[out] n_problems the count.
 * @return MMIG_OK when the journal could be read (problems or not),
 * otherwise MMIG_ENOMEM, MMIG_EJOURNAL or MMIG_ECORRUPT (LMDB found the
 * file itself damaged).
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
 * pruned, nor are migrations whose status record cannot be read (verify
 * reports those).  Everything is deleted in one write transaction, fully
 * synced: all of it or none of it.  The map grows as needed.  Pruning
 * frees pages for reuse but never shrinks the file:
 * mmig_journal_compact() does.  On etcd each migration goes in a txn of
 * its own, and the description chunks of a create that never completed
 * (its creator's lease gone) are deleted too, whatever their age, each
 * such migration id counting as one in @p n_pruned.
 * @param j  a journal opened read-write.
 * @param older_than_ns  minimum age in nanoseconds of the latest record
 *           (CLOCK_REALTIME; a time ahead of the clock counts as new).
 * @param keep  how many of the newest final migrations to keep whatever
 *           their age; 0 keeps none.
 * @param[out] n_pruned how many were deleted; 0 on failure.
 * @return MMIG_OK; MMIG_EBUSY (the write lock was held past the lock
 * timeout); -errno (-ENOSPC: the file system is full); MMIG_EJOURNAL
 * (nothing is deleted then); MMIG_EINVAL (read-only handle); MMIG_ENOMEM.
 * Thread-safe on a shared handle; serialized with the handle's writers.
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
