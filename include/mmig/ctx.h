/*
 * mmig/ctx.h - cancellation and deadlines.
 *
 * A context is handed to every execute and rollback.  Operations check it
 * between units of work with mmig_ctx_err(); the coordinator checks it between
 * operations.  Cancelling is a single atomic store, so it is safe from any
 * thread and from a signal handler.
 *
 * Rollbacks never run under the forward context (which may be the very thing
 * that was cancelled): the coordinator gives them a context of their own.
 */
#ifndef MMIG_CTX_H
#define MMIG_CTX_H

#include "mmig/common.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_ctx;

/**
 * @param[out] out a new context, not cancelled and with no deadline; NULL on
 *             failure.
 * @return MMIG_OK or MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_ctx_new(struct mmig_ctx **out);
/** NULL is a no-op. */
MMIG_EXPORT void mmig_ctx_free(struct mmig_ctx *ctx);

/** Cancel: the migration stops and rolls back.  Async-signal-safe. */
MMIG_EXPORT void mmig_ctx_cancel(struct mmig_ctx *ctx);
/** Cancel with pause: a journaled migration stops and stays resumable
 *  (state PAUSED) instead of rolling back.  Async-signal-safe. */
MMIG_EXPORT void mmig_ctx_pause(struct mmig_ctx *ctx);

/** Set a deadline @p timeout_ms from now (CLOCK_MONOTONIC); 0 removes it. */
MMIG_EXPORT void mmig_ctx_set_timeout(struct mmig_ctx *ctx,
				      uint64_t timeout_ms);

/**
 * @return MMIG_OK while the context is live, MMIG_ECANCELED once cancelled
 * (with or without pause), MMIG_ETIMEDOUT once its deadline has passed.  A
 * context derived by the library reports its parent's state too.
 */
MMIG_EXPORT int mmig_ctx_err(const struct mmig_ctx *ctx);

/** @return true when the context (or a parent) was cancelled with pause. */
MMIG_EXPORT bool mmig_ctx_pause_requested(const struct mmig_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
