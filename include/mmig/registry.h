/*
 * mmig/registry.h - operations by name, so that a process that did not
 * start a migration can rebuild its plan from the journal.
 *
 * Each entry is an operation's vtable (its name, version and flags) and a
 * constructor that makes a fresh instance.  A plan recorded in the journal
 * names (name, version) pairs; recovery refuses a migration whose plan names
 * an operation or a version the registry lacks, before changing anything.
 *
 * The registry also knows how to turn a journaled model description back
 * into the `data` the operations expect (the model loader).
 *
 * Plug-ins: a shared object that exports
 *     int mmig_plugin_register(struct mmig_registry *r);
 * adds its operations when loaded with mmig_registry_load_plugin().
 * Writing one: docs/plugins.md (installed as share/doc/libmmig/plugins.md).
 *
 * Threads: fill a registry from one thread (add, load_plugin, set the
 * loader); once filled it is only read, and recoveries in several threads
 * may share it.  A plug-in stays loaded until the registry is freed.
 */
#ifndef MMIG_REGISTRY_H
#define MMIG_REGISTRY_H

#include "mmig/common.h"
#include "mmig/error.h"
#include "mmig/op.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmig_registry;

/**
 * Make a new instance of an operation.  @p *self is what the vtable's
 * functions receive; it is destroyed with vt->destroy.
 */
typedef struct mmig_error *(*mmig_op_ctor_fn)(void *arg, void **self);

/** Rebuild model->data from the journaled description bytes. */
typedef struct mmig_error *(*mmig_model_load_fn)(void *arg, const void *desc,
						  size_t len, void **data);
/** Free what a mmig_model_load_fn made. */
typedef void (*mmig_model_unload_fn)(void *arg, void *data);

/** The symbol a plug-in exports; returns MMIG_OK or an error code. */
typedef int (*mmig_plugin_register_fn)(struct mmig_registry *r);
/** The name of the function a plug-in exports (a mmig_plugin_register_fn). */
#define MMIG_PLUGIN_SYMBOL "mmig_plugin_register"

/** @return MMIG_OK or MMIG_ENOMEM; *out is NULL on failure. */
MMIG_EXPORT int mmig_registry_new(struct mmig_registry **out);
/** Unloads plug-ins too.  NULL is a no-op. */
MMIG_EXPORT void mmig_registry_free(struct mmig_registry *r);

/**
 * Register @p vt (name, version and flags are read from it) with its
 * constructor.  A NULL @p ctor makes instances with self = @p arg.
 * @return MMIG_OK, MMIG_EINVAL (no name, or vt->size below the first
 * layout), MMIG_EEXIST (same name and
 * version already registered), MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_registry_add(struct mmig_registry *r,
				  const struct mmig_op_vtable *vt,
				  mmig_op_ctor_fn ctor, void *arg);

/**
 * Look an operation up.
 * @return MMIG_OK; MMIG_EUNKNOWNOP when no operation has that name;
 * MMIG_EVERSION when it has, but not that version.
 */
MMIG_EXPORT int mmig_registry_find(const struct mmig_registry *r,
				   const char *name, uint32_t version,
				   const struct mmig_op_vtable **vt);

/**
 * Make a new instance of (name, version).
 * @return NULL and *op filled, or an error naming the operation
 * ("unknown operation \"foo\"", "operation \"foo\" version 3: this build
 * has versions 1, 2").
 */
MMIG_EXPORT struct mmig_error *mmig_registry_build(
	const struct mmig_registry *r, const char *name, uint32_t version,
	struct mmig_op *op);

/**
 * Set how a journaled description becomes model->data for the operations
 * (replacing any loader set before).  Without one, data is NULL.  @p arg is
 * passed to both functions and must outlive the registry.  Cannot fail.
 */
MMIG_EXPORT void mmig_registry_set_model_loader(struct mmig_registry *r,
						mmig_model_load_fn load,
						mmig_model_unload_fn unload,
						void *arg);
/** Load a model's data with the registry's loader; without one, data is
 *  NULL.  Release with mmig_registry_unload_model(). */
MMIG_EXPORT struct mmig_error *mmig_registry_load_model(
	const struct mmig_registry *r, const void *desc, size_t len,
	void **data);
/** Release data from mmig_registry_load_model().  NULL data is a no-op. */
MMIG_EXPORT void mmig_registry_unload_model(const struct mmig_registry *r,
					    void *data);

/**
 * dlopen @p path (only that file: a path without a '/' is taken relative
 * to the current directory, never searched for) and call its
 * mmig_plugin_register().
 * @return MMIG_OK, or MMIG_EINVAL with *errp naming the file and the
 * reason (not found, no symbol, registration failed).
 */
MMIG_EXPORT int mmig_registry_load_plugin(struct mmig_registry *r,
					  const char *path,
					  struct mmig_error **errp);

/** @return the number of (name, version) entries. */
MMIG_EXPORT size_t mmig_registry_len(const struct mmig_registry *r);
/** @return the vtable of entry @p i (0 <= i < len), in registration order. */
MMIG_EXPORT const struct mmig_op_vtable *
mmig_registry_at(const struct mmig_registry *r, size_t i);

#ifdef __cplusplus
}
#endif

#endif
