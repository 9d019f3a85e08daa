/*
 * engine/ctx.c - cancellation and deadlines.
 *
 * Cancelling is one atomic store with no allocation and no lock, which is
 * what makes it safe from a signal handler.  A child context reports its own
 * state and every parent's; it never changes a parent.
 */
#include "ctx-int.h"
#include "internal.h"

void
mmig__ctx_init(struct mmig_ctx *ctx, const struct mmig_ctx *parent)
{
	atomic_init(&ctx->state, MMIG__CTX_LIVE);
	ctx->deadline_ns = 0;
	ctx->parent = parent;
	ctx->run = NULL;
	ctx->op_index = 0;
}

int
mmig_ctx_new(struct mmig_ctx **out)
{
	*out = mmig__malloc(sizeof(**out));
	if (!*out)
		return MMIG_ENOMEM;
	mmig__ctx_init(*out, NULL);
	return MMIG_OK;
}

void
mmig_ctx_free(struct mmig_ctx *ctx)
{
	mmig__free(ctx);
}

void
mmig_ctx_cancel(struct mmig_ctx *ctx)
{
	int live = MMIG__CTX_LIVE;

	/* A pause already asked for stays a pause. */
	atomic_compare_exchange_strong(&ctx->state, &live, MMIG__CTX_CANCELED);
}

void
mmig_ctx_pause(struct mmig_ctx *ctx)
{
	atomic_store(&ctx->state, MMIG__CTX_PAUSED);
}

void
mmig_ctx_set_timeout(struct mmig_ctx *ctx, uint64_t timeout_ms)
{
	ctx->deadline_ns =
		timeout_ms ? mmig__now_mono_ns() + timeout_ms * 1000000u : 0;
}

int
mmig_ctx_err(const struct mmig_ctx *ctx)
{
	uint64_t now = 0;

	for (; ctx; ctx = ctx->parent) {
		if (atomic_load(&ctx->state) != MMIG__CTX_LIVE)
			return MMIG_ECANCELED;
		if (ctx->deadline_ns) {
			if (!now)
				now = mmig__now_mono_ns();
			if (now >= ctx->deadline_ns)
				return MMIG_ETIMEDOUT;
		}
	}
	return MMIG_OK;
}

bool
mmig_ctx_pause_requested(const struct mmig_ctx *ctx)
{
	for (; ctx; ctx = ctx->parent)
		if (atomic_load(&ctx->state) == MMIG__CTX_PAUSED)
			return true;
	return false;
}
