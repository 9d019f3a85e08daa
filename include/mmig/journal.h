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
 * local filesystem; all threads of a process should share one handle.
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
	/** Initial LMDB map size in bytes; 0 for the default (64 MiB).  The
	 *  map doubles by itself whenever it fills. */
	size_t initial_map_size;
};

#define MMIG_JOURNAL_OPTIONS_INIT                                              \
	{ .size = sizeof(struct mmig_journal_options) }

/**
 * Open (creating it 0700, its files 0600, unless read-only) the journal in
 * directory @p dir.
 * @param[out] out the journal, or NULL on failure.
 * @param opts  NULL for defaults.  MMIG_EINVAL when opts->size is
 *              smaller than the first layout (see mmig/common.h).
 * @param[out] errp if not NULL, on failure an error naming the directory.
 * @return MMIG_OK; -errno for system errors (-ENOENT when read-only and
 * missing); MMIG_EFORMAT for a journal written by a newer format;
 * MMIG_ECORRUPT for one that is not a libmmig journal; MMIG_EJOURNAL for
 * other LMDB errors.
 */
MMIG_EXPORT int mmig_journal_open(struct mmig_journal **out, const char *dir,
				  const struct mmig_journal_options *opts,
				  struct mmig_error **errp);

/** Close; every migration handle on it must be finished.  NULL is a no-op. */
MMIG_EXPORT void mmig_journal_close(struct mmig_journal *j);

/**
 * Force everything committed so far to disk, data and meta page.  Recovery
 * calls it before reading, so it never acts on a commit a power cut could
 * still undo.
 * @return MMIG_OK or MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_sync(struct mmig_journal *j);

/** A sized struct, filled in by the library. */
struct mmig_journal_stats {
	/** Set by the caller (MMIG_JOURNAL_STATS_INIT); 0: the 0.1 layout. */
	size_t size;
	uint64_t commits;  /**< LMDB write transactions committed */
	uint64_t syncs;    /**< sync points those commits asked for: an
	                        fdatasync, or the O_DSYNC write of a meta
	                        page (a fully synced commit has two) */
	uint64_t records;  /**< transition records written */
	uint64_t bytes;    /**< encoded bytes of every value written */
	uint64_t map_grows; /**< times the map was grown */
};

#define MMIG_JOURNAL_STATS_INIT { .size = sizeof(struct mmig_journal_stats) }

/** Counters since open, for tests and benchmarks.  Fills the fields that
 *  out->size covers; with a size below the first layout, nothing. */
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
 * @param[out] out array of @p *n entries, each reached with
 *             mmig_migration_info_at() (not out[i]: the element may be
 *             larger than the caller's struct); free with
 *             mmig_migration_info_free().
 * @return MMIG_OK, MMIG_ENOMEM or MMIG_EJOURNAL.
 */
MMIG_EXPORT int mmig_journal_list(struct mmig_journal *j, bool all,
				  struct mmig_migration_info **out, size_t *n);
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
 * @return MMIG_OK, MMIG_ENOTFOUND, MMIG_EINVAL (prefix not unique, or
 * out->size below the first layout), ...
 */
MMIG_EXPORT int mmig_journal_get(struct mmig_journal *j, const char *id,
				 struct mmig_migration_info *out);

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

/**
 * Delete final (COMMITTED or ROLLED_BACK) migrations whose latest record is
 * older than @p older_than_ns (0: no age limit), keeping the newest
 * @p keep of them whatever their age.  Migrations in flight are never
 * pruned.
 * @param[out] n_pruned how many were deleted.
 */
MMIG_EXPORT int mmig_journal_prune(struct mmig_journal *j,
				   uint64_t older_than_ns, size_t keep,
				   size_t *n_pruned);

#ifdef __cplusplus
}
#endif

#endif
