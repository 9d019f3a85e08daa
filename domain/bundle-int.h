/*
 * domain/bundle-int.h - real topologies: a published Juju bundle expanded
 * (at any scale) into a complete juju/description model.  Private to the
 * project.
 *
 * The expansion goes through an intermediate form, the topology below:
 * machines
 * (containers with their parent), applications with their units (machine,
 * principal) and endpoints (role, interface, scope), relations of one or
 * two endpoints.  bundle.c makes a topology from a bundle; bundle-model.c
 * turns a topology into a
 * struct mmig__juju_model whose per-entity data (status, histories, tools,
 * addresses, charm metadata, ...) is shaped like what juju/description's
 * own Serialize writes, for mmig__juju_write() and the YAML emitter.
 *
 * Thread rules: none shared; a topology is used by one thread.
 */
#ifndef MMIG_BUNDLE_INT_H
#define MMIG_BUNDLE_INT_H

#include "juju-int.h"
#include "mmig/import.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** No index (a top-level machine's parent, a unit without machine...). */
#define MMIG__TOPO_NONE UINT32_MAX

struct mmig__topo_machine {
	/** "3", "3/lxd/0", "3/lxd/0/kvm/1". */
	const char *id;
	/** Index of the enclosing machine; MMIG__TOPO_NONE at the top. */
	uint32_t parent;
	/** "lxd" or "kvm" for a container, NULL at the top. */
	const char *ctype;
	/** "ubuntu@24.04". */
	const char *base;
	/** Juju constraints text ("cores=2 mem=8G"); NULL for none. */
	const char *constraints;
	/** Containers made so far in it, by type (their next numbers). */
	uint32_t n_lxd;
	uint32_t n_kvm;
};

struct mmig__topo_unit {
	/** "etcd/2". */
	const char *name;
	uint32_t app;
	/** Index into machines; MMIG__TOPO_NONE for a Kubernetes unit. */
	uint32_t machine;
	/** Index into units of the principal unit; MMIG__TOPO_NONE for a
	 *  principal unit. */
	uint32_t principal;
};

/** One endpoint of one application: every relation naming it shares it,
 *  so its role and interface are the same in all of them. */
struct mmig__topo_endpoint {
	uint32_t app;
	const char *name;
	/** "provider", "requirer" or "peer". */
	const char *role;
	const char *interface;
	/** "global" or "container". */
	const char *scope;
};

struct mmig__topo_app {
	const char *name;
	/** Charm name ("etcd"). */
	const char *charm;
	/** "1.35/stable"; NULL when not given. */
	const char *channel;
	/** Charm revision (made up, from the seed, when not given). */
	int64_t revision;
	const char *base;
	/** Juju constraints text; NULL for none. */
	const char *constraints;
	/** Charm config: a mapping node of the topology's document, or
	 *  NULL. */
	const struct mmig__ynode *options;
	bool subordinate;
	bool expose;
	bool trust;
	/** How many units of it the topology has (in units[], in order of
	 *  their numbers, not contiguous). */
	uint64_t n_units;
};

struct mmig__topo_relation {
	/** Indexes into endpoints; ep[1] unused when n == 1 (peer). */
	uint32_t ep[2];
	uint32_t n;
};

struct mmig__topo {
	/** Owns strings and option nodes; handed to the model made from it. */
	struct mmig__ydoc *doc;
	const char *name;
	/** "iaas" or "caas". */
	const char *type;
	/** Default base of the model ("ubuntu@24.04"). */
	const char *base;
	uint64_t seed;
	struct mmig__topo_machine *machines;
	size_t n_machines, cap_machines;
	struct mmig__topo_app *apps;
	size_t n_apps, cap_apps;
	struct mmig__topo_unit *units;
	size_t n_units, cap_units;
	struct mmig__topo_endpoint *endpoints;
	size_t n_endpoints, cap_endpoints;
	/* Open addressing on (app, name): endpoint index + 1, 0 empty. */
	uint32_t *ep_hash;
	size_t ep_hash_cap;
	struct mmig__topo_relation *relations;
	size_t n_relations, cap_relations;
};

/** mmig__bundle_expand() options. */
struct mmig__bundle_opts {
	/** Multiplies every application's units and the machines section;
	 *  0 is taken as 1. */
	uint64_t scale;
	/** Everything made up (uuid, revisions, addresses, times) comes from
	 *  it: the same bundle, scale and seed give the same model. */
	uint64_t seed;
	/** Most machines, units and relations together; 0: the import's
	 *  limit, MMIG_MODEL_DESC_MAX_ITEMS (a fuzzer sets a small one). */
	uint64_t max_items;
	/** Most nodes the bundle's aliases may copy; 0: the YAML reader's
	 *  default. */
	size_t max_alias_nodes;
};

/**
 * Read a bundle (YAML; anchors and merge keys resolved under the parser's
 * alias budget) and expand it into a topology by Juju's rules:
 *  - placement (`to:`): "new", a machine of the machines section ("0"),
 *    a unit of another application ("app/1", or "app" for the next one),
 *    each optionally in a new container ("lxd:0", "lxd:new",
 *    "kvm:app/0"); fewer directives than units repeat the last one, none
 *    means "new";
 *  - `num_units: 0` gives no units; `scale` is num_units for Kubernetes
 *    bundles (`bundle: kubernetes`), whose units have no machine;
 *  - an application without num_units (and no `to`) related to a
 *    principal is a subordinate: one unit per unit of each principal it
 *    is related to through a container-scoped relation;
 *  - endpoints left out (`[argo-controller, minio]`) are named after an
 *    endpoint the other side has; roles are given per endpoint so that
 *    every relation has one provider and one requirer; interfaces are
 *    shared along the relations; well-known HA charms and applications
 *    of several units get a peer relation.
 * @return MMIG_OK; MMIG_EMODEL with @p errmsg "line L, column C: PATH:
 *         what" (unknown placement target, unit on a missing machine,
 *         alias bomb, over the import limits, ...); MMIG_ENOMEM;
 *         MMIG_EINVAL.
 */
int mmig__bundle_topo(const void *buf, size_t len,
		      const struct mmig__bundle_opts *o,
		      struct mmig__topo **out, char **errmsg);

/** Free a topology.  NULL is a no-op. */
void mmig__topo_free(struct mmig__topo *t);

/**
 * The juju/description model (current versions) of a topology, with
 * per-entity data shaped like juju/description's own output.  The model
 * takes the topology's document (t->doc becomes NULL: free the topology
 * after, it is no use for another model).
 * @return MMIG_OK, MMIG_ENOMEM.
 */
int mmig__topo_model(struct mmig__topo *t, struct mmig__juju_model **out);

/* Internal helpers shared by bundle.c and bundle-model.c. */

/** Append a machine/unit/endpoint/relation/app; NULL when out of memory
 *  (the arrays grow by doubling). */
struct mmig__topo_machine *mmig__topo_add_machine(struct mmig__topo *t);
struct mmig__topo_unit *mmig__topo_add_unit(struct mmig__topo *t);
struct mmig__topo_app *mmig__topo_add_app(struct mmig__topo *t);
struct mmig__topo_relation *mmig__topo_add_relation(struct mmig__topo *t);

/** A string of the topology's document, formatted; NULL when out of
 *  memory. */
const char *mmig__topo_str(struct mmig__topo *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** The endpoint (app, name), made with no role yet when new.
 *  @return its index; MMIG__TOPO_NONE when out of memory. */
uint32_t mmig__topo_endpoint(struct mmig__topo *t, uint32_t app,
			     const char *name);

/**
 * Give every endpoint without a role one, so that each relation of two
 * has a provider and a requirer: in each connected set of endpoints a
 * principal's juju-info provides, else the one in most relations (a tie:
 * the first named), and the others alternate.
 * Interfaces: one per connected set, a well-known one when an endpoint
 * name is known, else the providing endpoint's name.  Scope: container
 * where @p container says so for the relation.
 * @param[in] container per relation, may be NULL (all global).
 * @param[in] at per relation, the node a message names; may be NULL.
 * @return MMIG_OK; MMIG_EMODEL when no such assignment exists (with
 *         @p errmsg naming the relation); MMIG_ENOMEM.
 */
int mmig__topo_roles(struct mmig__topo *t, const bool *container,
		     const struct mmig__ynode *const *at, char **errmsg);

/** splitmix64 step, as the JSON generator uses. */
uint64_t mmig__topo_rand(uint64_t *state);

#endif
