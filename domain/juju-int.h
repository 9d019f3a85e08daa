/*
 * domain/juju-int.h - Juju's own model description (the juju/description
 * document that `juju migrate` sends and `juju dump-model` prints) read into
 * a faithful model, and written back.  Private to the project.
 *
 * What has a column in the model database is read into the fields below;
 * everything else of each entity stays in its @c extra mapping, verbatim
 * (its nested collections with their own versions included), so that
 * mmig__juju_write() gives the whole document back.
 *
 * Versions: each collection is dispatched on its own `version`, as
 * juju/description does.  Read: model 1-14, machines 1-4, applications
 * 1-14, units 1-3, relations 1-3, endpoints 1-2; any other is refused,
 * naming the collection, the version and the versions read.  Nested
 * collections we do not model (status, tools, addresses, ...) are kept
 * verbatim with their versions and are not dispatched.
 */
#ifndef MMIG_JUJU_INT_H
#define MMIG_JUJU_INT_H

#include "yaml-doc-int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The versions this build writes (juju/description's current ones). */
#define MMIG__JUJU_MODEL_VERSION 14
#define MMIG__JUJU_MACHINES_VERSION 4
#define MMIG__JUJU_APPLICATIONS_VERSION 14
#define MMIG__JUJU_UNITS_VERSION 3
#define MMIG__JUJU_RELATIONS_VERSION 3
#define MMIG__JUJU_ENDPOINTS_VERSION 2

struct mmig__juju_machine {
	/** "0", "0/lxd/3", "0/lxd/3/kvm/1". */
	const char *id;
	/** The enclosing machine's id; NULL for a top-level machine. */
	const char *parent;
	/** The machine's "container-type" ("" for a top-level machine; the
	 *  id's type part for a container). */
	const char *container_type;
	bool has_container_type;
	/** "ubuntu@22.04" from version 3 on; "" when absent. */
	const char *base;
	/** Version 1-2: "xenial"; NULL from version 3 on. */
	const char *series;
	/** Whether "containers" was written (an empty list is kept). */
	bool has_containers;
	/** Nesting: 0 for a top-level machine. */
	unsigned depth;
	/** The machine's mapping without id, base/series, containers. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
};

struct mmig__juju_unit {
	const char *name;
	/** NULL when the document has "" (a Kubernetes unit). */
	const char *machine;
	/** The principal unit's name for a subordinate unit; NULL otherwise. */
	const char *principal;
	/** Without name, machine, principal. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
};

struct mmig__juju_app {
	const char *name;
	const char *charm_url;
	bool subordinate;
	/** Whether "subordinate" was written. */
	bool has_subordinate;
	/** The "settings" mapping (charm config), NULL when absent. */
	struct mmig__ynode *settings;
	struct mmig__juju_unit *units;
	size_t n_units;
	int units_version;
	/** Without name, charm-url, subordinate, settings, units. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
};

struct mmig__juju_endpoint {
	const char *app;
	const char *name;
	/** "provider", "requirer" or "peer". */
	const char *role;
	const char *interface;
	/** "global" or "container". */
	const char *scope;
	/** Without application-name, name, role, interface, scope. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
};

struct mmig__juju_relation {
	int64_t id;
	const char *key;
	bool suspended;
	/** 1 (a peer relation) or 2. */
	size_t n_endpoints;
	struct mmig__juju_endpoint ep[2];
	int endpoints_version;
	bool has_suspended;
	/** Without id, key, suspended, endpoints. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
};

struct mmig__juju_seq {
	const char *name;
	int64_t value;
};

struct mmig__juju_model {
	/** Owns every node and string below. */
	struct mmig__ydoc *doc;
	int version;
	const char *uuid;
	const char *name;
	const char *owner;
	const char *cloud;
	/** May be "". */
	const char *region;
	bool has_region;
	/** "iaas" or "caas" (version 1-3: "iaas", not written). */
	const char *type;
	/** From version 11 on "agent-version", before from config; NULL
	 *  when neither has it. */
	const char *agent_version;
	/** The "config" mapping (holds name and uuid too). */
	struct mmig__ynode *config;
	struct mmig__juju_seq *sequences;
	size_t n_sequences;
	/** Parents before their containers, in document order otherwise. */
	struct mmig__juju_machine *machines;
	size_t n_machines;
	int machines_version;
	struct mmig__juju_app *apps;
	size_t n_apps;
	size_t n_units_total;
	int applications_version;
	struct mmig__juju_relation *relations;
	size_t n_relations;
	int relations_version;
	/** The model's other keys (users, spaces, status, ...), verbatim. */
	struct mmig__ynode *extra;
	/** @c extra as YAML text copied from the document, or NULL (then
	 *  emit @c extra); see mmig__ynode_src_text(). */
	const char *extra_src;
	/** Members kept verbatim in all extras together (for the summary). */
	size_t n_kept;
};

/**
 * Read a juju/description document.
 * @param[out] out the model, NULL on failure.
 * @param[out] errmsg may be NULL; on MMIG_EMODEL "line L, column C: PATH:
 *             what" (free with mmig__free()).
 * @return MMIG_OK, MMIG_EMODEL, MMIG_ENOMEM, MMIG_EINVAL.
 */
int mmig__juju_read(const void *buf, size_t len, struct mmig__juju_model **out,
		    char **errmsg);

/** Free a model.  NULL is a no-op. */
void mmig__juju_free(struct mmig__juju_model *m);

/**
 * The model as a juju/description document tree (a new document; free it
 * with mmig__ydoc_free()): the modelled fields written back under the
 * names of the version they were read at, and every extra copied.
 * @return NULL when out of memory.
 */
struct mmig__ydoc *mmig__juju_write(const struct mmig__juju_model *m);

/**
 * Is a model read from a document older than the current versions?  Yes
 * when the model, machines, applications, any application's units, the
 * relations or any relation's endpoints are below MMIG__JUJU_*_VERSION
 * (model 1, machines 1-2 and applications 1-10 are versions the current
 * juju/description no longer reads; model 2-13 it reads).  Export writes
 * every document at the current versions (mmig__juju_upgrade(), which
 * also brings up older nested collections this does not look at: a
 * version-12 document's resources, spaces, storages).
 */
bool mmig__juju_needs_upgrade(const struct mmig__juju_model *m);

/**
 * Bring the juju/description document tree @p d, in place, to the versions
 * this build writes (MMIG__JUJU_*_VERSION and the nested ones
 * juju/description's NewModel writes), doing what juju/description's
 * importer does for each older version: keys renamed or derived, new
 * required keys given the importer's default.  Nothing is removed: a key a
 * later version dropped stays where it was.  A collection with items whose
 * upgrade is not written here keeps its version (juju/description reads
 * each collection at its own); @p left counts them.  A document already
 * current is left as it is.
 * @param[out] left may be NULL.
 * @param[out] errmsg may be NULL; on MMIG_EMODEL "line L, column C: PATH:
 *             what" (free with mmig__free()).
 * @return MMIG_OK; MMIG_EMODEL (a value juju/description's importer would
 *         refuse, such as a series it has no base for); MMIG_ENOMEM;
 *         MMIG_EINVAL (@p d has no mapping root).
 */
int mmig__juju_upgrade(struct mmig__ydoc *d, size_t *left, char **errmsg);

/** Does @p buf look like a YAML document rather than our JSON (the first
 *  byte after blanks and a UTF-8 BOM is neither '{' nor '[')?  An empty
 *  buffer is JSON's to refuse. */
bool mmig__juju_looks_yaml(const void *buf, size_t len);

#endif
