/*
 * engine/ctx-int.h - the context's layout, for the modules that derive
 * contexts (the coordinator gives each operation a child of the caller's
 * context that also carries the running migration, for checkpoints).
 */
#ifndef MMIG_CTX_INT_H
#define MMIG_CTX_INT_H

#include "mmig/ctx.h"

#include <stdatomic.h>

enum {
	MMIG__CTX_LIVE = 0,
	MMIG__CTX_CANCELED = 1,
	MMIG__CTX_PAUSED = 2,
};

struct mmig_ctx {
	atomic_int state;             /* MMIG__CTX_* */
	uint64_t deadline_ns;         /* CLOCK_MONOTONIC; 0 = none */
	const struct mmig_ctx *parent; /* its state and deadline apply too */
	void *run;                    /* the coordinator's run, or NULL */
	size_t op_index;              /* the op this context was handed to */
};

/* A child context on the caller's storage: live, no deadline of its own. */
void mmig__ctx_init(struct mmig_ctx *ctx, const struct mmig_ctx *parent);

#endif
