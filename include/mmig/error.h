/*
 * mmig/error.h - error codes and error values.
 *
 * Two shapes of failure, on purpose:
 *  - Calls that manage handles (open, new, add, close) return an int: MMIG_OK
 *    (0) or a negative code.  System errors come back as -errno; libmmig's
 *    own codes are below MMIG_ERRNO_BASE so the two never collide.
 *  - Calls that do work for an operation (setup, execute, rollback, a
 *    transaction) return a struct mmig_error *: NULL on success, otherwise a
 *    heap value that carries a code and a chain of messages, so that a failure
 *    deep in SQLite reads, at the top, like
 *      "rollback operation at 0 with sad: execute operation create: boom".
 *
 * Messages are never truncated: every frame is allocated to its length.
 * When memory runs out, the functions below return a shared static value
 * whose code is MMIG_ENOMEM; mmig_error_free() ignores it.
 *
 * Threads: an error value is owned by one thread at a time (it may be handed
 * over); the functions that only read codes (mmig_strerror(),
 * mmig_err_name()) may be called from any thread.
 */
#ifndef MMIG_ERROR_H
#define MMIG_ERROR_H

#include "mmig/common.h"

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Success. */
#define MMIG_OK 0
/** libmmig's own codes are MMIG_ERRNO_BASE - offset, below any -errno. */
#define MMIG_ERRNO_BASE (-1000)

/* The one table of libmmig's own codes: name, offset, text. */
#define MMIG_ERRNO_MAP(XX)                                                     \
	XX(ENOTIMPL, 1, "not implemented")                                     \
	XX(ECANCELED, 2, "context canceled")                                   \
	XX(ETIMEDOUT, 3, "deadline exceeded")                                  \
	XX(EINVAL, 4, "invalid argument")                                      \
	XX(ENOMEM, 5, "out of memory")                                         \
	XX(EDB, 6, "database error")                                           \
	XX(EBUSY, 7, "database is busy")                                       \
	XX(EJOURNAL, 8, "journal error")                                       \
	XX(ECORRUPT, 9, "corrupt record")                                      \
	XX(EFORMAT, 10, "record written by a newer format")                    \
	XX(ENOTFOUND, 11, "not found")                                         \
	XX(EEXIST, 12, "already exists")                                       \
	XX(EOWNED, 13, "owned by a live process")                              \
	XX(EFENCED, 14, "fenced out by a newer owner")                         \
	XX(EUNKNOWNOP, 15, "unknown operation")                                \
	XX(EVERSION, 16, "operation version mismatch")                         \
	XX(EPOISONED, 17, "handle poisoned by an earlier journal error")       \
	XX(EOP, 18, "operation failed")                                        \
	XX(EPAUSED, 19, "paused")                                              \
	XX(EATTENTION, 20, "needs attention")                                  \
	XX(EILLEGAL, 21, "illegal transition")                                 \
	XX(EMODEL, 22, "invalid model description")                           \
	XX(EUNREACHABLE, 23, "store unreachable; nothing applied")             \
	XX(EUNKNOWN, 24, "outcome unknown")                                    \
	XX(ELEASE, 25, "lease expired")                                        \
	XX(ECOMPACTED, 26, "revision compacted")

enum mmig_errno {
#define MMIG_XX_ENUM(name, off, text) MMIG_##name = MMIG_ERRNO_BASE - (off),
	MMIG_ERRNO_MAP(MMIG_XX_ENUM)
#undef MMIG_XX_ENUM
};

/**
 * @return a static description of @p code: libmmig's own text for its codes,
 * strerror() text for -errno, "unknown error" otherwise.  Never NULL.
 */
MMIG_EXPORT const char *mmig_strerror(int code);
/** @return the symbolic name, e.g. "MMIG_ECORRUPT" or "EIO".  Never NULL. */
MMIG_EXPORT const char *mmig_err_name(int code);

struct mmig_error;

/**
 * A new error with @p code and a printf-style message.
 * @return a value the caller owns (free with mmig_error_free()); never NULL.
 */
MMIG_EXPORT struct mmig_error *mmig_error_new(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** mmig_error_new() with a va_list; @p ap is consumed.
 *  @return a value the caller owns; never NULL. */
MMIG_EXPORT struct mmig_error *mmig_error_newv(int code, const char *fmt,
					       va_list ap);

/**
 * Annotate @p cause: the message becomes "<fmt>: <cause message>" and the
 * code stays the cause's.  Takes ownership of @p cause (also on failure).
 * A NULL @p cause gives NULL, so a call can be wrapped unconditionally.
 */
MMIG_EXPORT struct mmig_error *mmig_error_wrap(struct mmig_error *cause,
					       const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** @return the code (the innermost cause's); MMIG_OK for NULL. */
MMIG_EXPORT int mmig_error_code(const struct mmig_error *e);

/**
 * @return the whole message, frames joined by ": ".  Owned by @p e and valid
 * until it is freed.  "" for NULL.
 */
MMIG_EXPORT const char *mmig_error_message(const struct mmig_error *e);

/** @return the innermost error of the chain (the first failure); @p e itself
 *  when it wraps nothing. */
MMIG_EXPORT const struct mmig_error *
mmig_error_cause(const struct mmig_error *e);

/** Free a whole chain.  NULL and the static out-of-memory value are no-ops. */
MMIG_EXPORT void mmig_error_free(struct mmig_error *e);

#ifdef __cplusplus
}
#endif

#endif
