/*
 * mmig/op.h - the operation contract.
 *
 * An operation is one step of a migration: a const vtable shared by every
 * instance plus a `void *self` for the instance.  The coordinator calls, for
 * each operation in order, setup(scope) then execute(ctx, model); when any
 * step fails it calls rollback(ctx, model) on the failing operation and on
 * every one before it, last first.
 *
 *  - setup binds the operation to the scope's databases.  It must have no
 *    side effects: recovery calls it again, in another process, before a
 *    rollback.
 *  - execute does the work.
 *  - rollback is best effort and must be safe on an operation that never ran,
 *    half ran, or ran twice.
 *
 * A NULL setup or execute fails with MMIG_ENOTIMPL ("not implemented"); a
 * NULL rollback is a no-op; a NULL destroy leaves self alone.
 */
#ifndef MMIG_OP_H
#define MMIG_OP_H

#include "mmig/common.h"
#include "mmig/ctx.h"
#include "mmig/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_scope;

/** Re-running execute after a crash is harmless (resume may re-run it). */
#define MMIG_OP_IDEMPOTENT 0x1u
/** execute records checkpoints and can continue from the last one. */
#define MMIG_OP_RESUMABLE 0x2u

/**
 * What a migration moves.  A plain struct that never grows: the
 * coordinator only passes it through.  @p desc / @p desc_len are the
 * description bytes as given (the journal keeps them, so recovery can
 * rebuild @p data); @p data is the embedder's parsed form.  Everything stays owned by the caller and must
 * outlive the call it is passed to.
 */
struct mmig_model {
	const char *uuid;     /**< the model's UUID, canonical lower-case */
	const void *desc;     /**< the description bytes, as given */
	size_t desc_len;      /**< bytes in @c desc */
	void *data;           /**< the embedder's parsed form, or NULL */
};

/**
 * An operation's code, shared by every instance (normally a static const
 * that outlives every coordinator and registry using it).  Each callback
 * gets the instance's @c self and runs on the thread that called perform or
 * recovery.  A callback returns NULL on success or an error the coordinator
 * takes ownership of.
 *
 * A sized struct (see "ABI" in mmig/common.h):
 *
 *     static const struct mmig_op_vtable vt = {
 *             .size = sizeof(struct mmig_op_vtable),
 *             .name = "my-op", ... };
 *
 * (0 stands for the 0.1 layout); the library calls only the functions
 * that size covers.
 */
struct mmig_op_vtable {
	/** sizeof(struct mmig_op_vtable); 0: the 0.1 layout. */
	size_t size;
	/** Stable name: the journal records it, recovery looks it up. */
	const char *name;
	/** Bumped whenever execute or rollback change meaning. */
	uint32_t version;
	/** MMIG_OP_IDEMPOTENT, MMIG_OP_RESUMABLE. */
	unsigned flags;
	/** Bind to the scope's databases; no side effects.  @p scope is
	 *  borrowed for the migration. */
	struct mmig_error *(*setup)(void *self, struct mmig_scope *scope);
	/** Do the work, its writes through mmig_txn_run(); check @p ctx
	 *  between units of work. */
	struct mmig_error *(*execute)(void *self, struct mmig_ctx *ctx,
				      const struct mmig_model *model);
	/** Undo it, best effort; safe on an operation that never ran, half
	 *  ran or ran twice.  @p ctx carries the rollback deadline. */
	struct mmig_error *(*rollback)(void *self, struct mmig_ctx *ctx,
				       const struct mmig_model *model);
	/** Free @p self; called once, when its owner is freed. */
	void (*destroy)(void *self);
};

/** An operation instance, as the coordinator holds it.  Never grows. */
struct mmig_op {
	const struct mmig_op_vtable *vt; /**< the operation's code */
	void *self;                      /**< the instance */
};

#ifdef __cplusplus
}
#endif

#endif
