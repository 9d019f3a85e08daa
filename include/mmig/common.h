/*
 * mmig/common.h - version, symbol export, and the small enums every module
 * shares (durability, log levels).
 *
 * Caveats (read these before embedding libmmig):
 *  - One coordinator per thread.  Coordinators, scopes and contexts may be
 *    handed between threads, but a handle is never used by two threads at
 *    once, except mmig_ctx_cancel()/mmig_ctx_pause(), which are safe from any
 *    thread and from a signal handler.
 *  - fork: do not carry an open journal or an open SQLite connection across
 *    fork(); open them again in the child.
 *  - NFS and other network filesystems: LMDB and SQLite both rely on POSIX
 *    locks and on fsync being honest.  Keep the journal and the databases on
 *    a local filesystem.
 *
 * ABI: structs that grow.  A struct the embedder fills in (the options and
 * configs, the operation vtable) or hands to the library to fill in
 * (mmig_migration_info, mmig_journal_stats) opens with `size_t size`: the
 * size of the layout the embedder was compiled with, set by the struct's
 * _INIT macro, e.g.
 *
 *     struct mmig_journal_options o = MMIG_JOURNAL_OPTIONS_INIT;
 *     struct mmig_recover_options r = {
 *             .size = sizeof(struct mmig_recover_options), ... };
 *
 * The library reads only the fields that size covers (the rest take their
 * defaults) and writes only the fields it covers, so a program built
 * against an older, smaller layout keeps working with a newer library,
 * without recompiling.  A larger size than the library knows (a program
 * built against a newer header) is accepted and the fields this library
 * does not know are ignored: check mmig_version() before relying on a field
 * documented "since 0.x".  size 0 means the first layout, the one of
 * libmmig 0.1 (symbol node MMIG_0.1), so a struct cleared with `= {0}` works
 * as that layout; a size from 1 up to less than the first layout is refused
 * with MMIG_EINVAL.  Fields are only ever appended, each at an offset past
 * the end (tail padding included) of every earlier layout.
 *
 * Arrays the library returns (mmig_journal_list(), a recovery summary's
 * items) are reached through accessors, mmig_migration_info_at() and
 * mmig_recover_summary_item(), never by indexing: their element may grow.
 * Structs without a size field (mmig_model, mmig_op, mmig_import_paths,
 * mmig_model_desc and its parts) never change layout; what they lack will
 * come as a new type.  Functions never change signature (a _v2 is added),
 * and each release adds its functions in a new node of the symbol map.
 */
#ifndef MMIG_COMMON_H
#define MMIG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(MMIG_BUILDING) && defined(__GNUC__)
#define MMIG_EXPORT __attribute__((visibility("default")))
#else
#define MMIG_EXPORT
#endif

#define MMIG_VERSION_MAJOR 0
#define MMIG_VERSION_MINOR 1
#define MMIG_VERSION_PATCH 0
/** Version as one number, 0xMMmmpp, for compile-time comparisons. */
#define MMIG_VERSION_NUMBER                                                    \
	((MMIG_VERSION_MAJOR << 16) | (MMIG_VERSION_MINOR << 8) |              \
	 MMIG_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/** @return the library's version, as MMIG_VERSION_NUMBER. */
MMIG_EXPORT unsigned mmig_version(void);
/** @return the library's version as a string, e.g. "0.1.0". */
MMIG_EXPORT const char *mmig_version_string(void);

/**
 * How much a migration must survive.
 *
 * MMIG_DURABLE survives power loss: every record the invariants need is
 * fsynced before the step it guards.  MMIG_PROCESS survives the process
 * being killed but not the machine: nothing is fsynced, the page cache holds
 * what was written.
 */
enum mmig_durability {
	MMIG_DURABLE = 0,
	MMIG_PROCESS = 1,
};

/** @return "durable" or "process"; "?" for anything else. */
MMIG_EXPORT const char *mmig_durability_name(enum mmig_durability d);

/** How much a log line matters; a sink may drop the lower levels. */
enum mmig_log_level {
	MMIG_LOG_DEBUG = 0,
	MMIG_LOG_INFO = 1,
	MMIG_LOG_WARN = 2,
	MMIG_LOG_ERROR = 3,
};

/**
 * A log sink.  @p msg is valid only during the call.  Called from the thread
 * that drives the migration.
 */
typedef void (*mmig_log_fn)(void *arg, enum mmig_log_level level,
			    const char *msg);

/** The default sink: "mmig: LEVEL: msg" on stderr.  @p arg is unused. */
MMIG_EXPORT void mmig_log_stderr(void *arg, enum mmig_log_level level,
				 const char *msg);

/** @return "debug", "info", "warn" or "error". */
MMIG_EXPORT const char *mmig_log_level_name(enum mmig_log_level level);

#ifdef __cplusplus
}
#endif

#endif
