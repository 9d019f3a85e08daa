/*
 * tests/juju-upgraded.c - the check that an exported document is the
 * current-version form of an older one (see juju-upgraded.h).
 *
 * Two walks.  The first goes through the old tree and finds each scalar
 * in the new one at the same path (mapping members by key, sequence items
 * by index); a collection's own "version" may only have grown; the few
 * values juju/description moves or replaces when it reads an old version
 * are found through the `moved` table instead.  The second walk finds
 * every mapping of the new tree that has an integer "version" and checks
 * it against the `current` table, by path with indices left out: a
 * versioned mapping the table does not know is a failure too, so a
 * collection forgotten by the upgrade cannot pass.
 */
#include "juju-upgraded.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Values a later version moved or replaced: the old value at @c from is
 * found by following @c then from the node now at that path; @c value is
 * what it must be there (NULL: the old value itself). */
static const struct {
	const char *from, *then, *value;
} moved[] = {
	/* cloudinstance.go newCloudInstanceFromValid: version 1's status
	 * string was "exported incorrectly" and becomes a status of value
	 * "unknown" (a non-empty string would be its message; the real
	 * dump's is empty). */
	{"machines.machines[].instance.status", "status.value", "unknown"},
};

/* The version every versioned mapping has in a current document. */
static const struct {
	const char *path;
	long version;
} current[] = {
	{"", 14},
	{"actions", 4},
	{"applications", 14},
	{"applications.applications[].resources", 2},
	{"applications.applications[].charm-manifest", 1},
	{"applications.applications[].charm-metadata", 1},
	{"applications.applications[].charm-origin", 2},
	{"applications.applications[].cloud-service", 1},
	{"applications.applications[].cloud-service.addresses[]", 2},
	{"applications.applications[].constraints", 5},
	{"applications.applications[].opened-port-ranges", 1},
	{"applications.applications[].operator-status", 2},
	{"applications.applications[].status", 2},
	{"applications.applications[].status-history", 2},
	{"applications.applications[].tools", 2},
	{"applications.applications[].units", 3},
	{"applications.applications[].units.units[].agent-status", 2},
	{"applications.applications[].units.units[].agent-status-history", 2},
	{"applications.applications[].units.units[].cloud-container", 1},
	{"applications.applications[].units.units[].cloud-container.address", 2},
	{"applications.applications[].units.units[].payloads", 1},
	{"applications.applications[].units.units[].resources", 2},
	{"applications.applications[].units.units[].tools", 2},
	{"applications.applications[].units.units[].workload-status", 2},
	{"applications.applications[].units.units[].workload-status-history", 2},
	{"applications.applications[].units.units[].workload-version-history", 2},
	{"authorized-keys", 1},
	{"cloud-credential", 2},
	{"cloud-image-metadata", 2},
	{"constraints", 5},
	{"external-controllers", 1},
	{"filesystems", 1},
	{"firewall-rules", 1},
	{"ip-addresses", 5},
	{"link-layer-devices", 1},
	{"machines", 4},
	{"machines.machines[].block-devices", 2},
	{"machines.machines[].constraints", 5},
	{"machines.machines[].containers[].block-devices", 2},
	{"machines.machines[].containers[].constraints", 5},
	{"machines.machines[].containers[].instance", 6},
	{"machines.machines[].containers[].instance.modification-status", 2},
	{"machines.machines[].containers[].instance.status", 2},
	{"machines.machines[].containers[].instance.status-history", 2},
	{"machines.machines[].containers[].machine-addresses[]", 2},
	{"machines.machines[].containers[].opened-port-ranges", 1},
	{"machines.machines[].containers[].preferred-private-address", 2},
	{"machines.machines[].containers[].preferred-public-address", 2},
	{"machines.machines[].containers[].provider-addresses[]", 2},
	{"machines.machines[].containers[].status", 2},
	{"machines.machines[].containers[].status-history", 2},
	{"machines.machines[].containers[].tools", 2},
	{"machines.machines[].instance", 6},
	{"machines.machines[].instance.modification-status", 2},
	{"machines.machines[].instance.status", 2},
	{"machines.machines[].instance.status-history", 2},
	{"machines.machines[].machine-addresses[]", 2},
	{"machines.machines[].opened-port-ranges", 1},
	{"machines.machines[].preferred-private-address", 2},
	{"machines.machines[].preferred-public-address", 2},
	{"machines.machines[].provider-addresses[]", 2},
	{"machines.machines[].status", 2},
	{"machines.machines[].status-history", 2},
	{"machines.machines[].tools", 2},
	{"offer-connections", 1},
	{"operations", 2},
	{"relation-networks", 1},
	{"relations", 3},
	{"relations.relations[].endpoints", 2},
	{"relations.relations[].status", 2},
	{"remote-applications", 3},
	{"remote-entities", 1},
	{"remote-secrets", 1},
	{"secrets", 2},
	{"spaces", 3},
	{"ssh-host-keys", 1},
	/* The model's status and status-history: model version 14 dropped
	 * them (model.go modelV14Fields); they are kept, as read. */
	{"status", 2},
	{"status-history", 2},
	{"storage-pools", 1},
	{"storages", 4},
	{"subnets", 6},
	{"users", 1},
	{"virtual-host-keys", 1},
	{"volumes", 1},
};

struct chk {
	char *msg;
	size_t size;
	bool bad;
};

static void
bad(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bad(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bad)
		return;
	c->bad = true;
	va_start(ap, fmt);
	vsnprintf(c->msg, c->size, fmt, ap);
	va_end(ap);
}

static bool
is_scalar(const struct mmig__ynode *n)
{
	return n->kind != MMIG__Y_SEQ && n->kind != MMIG__Y_MAP;
}

/* @p path with ".key" or "[]" appended into @p out. */
static void
child_path(char *out, size_t size, const char *path,
	   const struct mmig__ynode *child)
{
	if (child->key)
		snprintf(out, size, "%s%s%s", path, *path ? "." : "",
			 child->key);
	else
		snprintf(out, size, "%s[]", path);
}

/* The child of @p n that corresponds to @p oc (same key or index). */
static const struct mmig__ynode *
counterpart(const struct mmig__ynode *n, const struct mmig__ynode *oc)
{
	const struct mmig__ynode *c;

	if (!n)
		return NULL;
	for (c = n->first; c; c = c->next)
		if (oc->key ? c->key && c->key_len == oc->key_len &&
				      memcmp(c->key, oc->key, oc->key_len) == 0
			    : c->index == oc->index)
			return c;
	return NULL;
}

/* Follow the dotted keys of @p then from @p n. */
static const struct mmig__ynode *
follow(const struct mmig__ynode *n, const char *then)
{
	char key[64];
	const char *dot;
	size_t len;

	while (n && *then) {
		dot = strchr(then, '.');
		len = dot ? (size_t)(dot - then) : strlen(then);
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, then, len);
		key[len] = '\0';
		n = mmig__ynode_get(n, key);
		then += len + (dot ? 1 : 0);
	}
	return n;
}

static void
walk_old(struct chk *c, const struct mmig__ynode *o,
	 const struct mmig__ynode *n, const char *path)
{
	const struct mmig__ynode *oc, *nc;
	char cp[512], where[512];
	size_t i;

	for (oc = o->first; oc && !c->bad; oc = oc->next) {
		child_path(cp, sizeof(cp), path, oc);
		nc = counterpart(n, oc);
		for (i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
			if (strcmp(moved[i].from, cp) == 0)
				break;
		if (i < sizeof(moved) / sizeof(moved[0]) && is_scalar(oc)) {
			const struct mmig__ynode *t = follow(nc, moved[i].then);

			if (!t || !is_scalar(t) ||
			    (moved[i].value
				     ? t->kind != MMIG__Y_STR ||
					       strcmp(t->str, moved[i].value)
				     : !mmig__ynode_same(oc, t, NULL))) {
				mmig__ynode_path(oc, where, sizeof(where));
				bad(c, "%s (line %u): not found moved to %s",
				    where, (unsigned)oc->line, moved[i].then);
			}
			continue;
		}
		if (!nc) {
			mmig__ynode_path(oc, where, sizeof(where));
			bad(c, "%s (line %u): missing from the new document",
			    where, (unsigned)oc->line);
			return;
		}
		if (oc->key && strcmp(oc->key, "version") == 0 &&
		    oc->kind == MMIG__Y_INT && o->kind == MMIG__Y_MAP) {
			if (nc->kind != MMIG__Y_INT || nc->v.i < oc->v.i) {
				mmig__ynode_path(oc, where, sizeof(where));
				bad(c, "%s: version went from %s to %s", where,
				    oc->str, nc->str ? nc->str : "a container");
			}
			continue;
		}
		if (is_scalar(oc)) {
			if (!mmig__ynode_same(oc, nc, NULL)) {
				mmig__ynode_path(oc, where, sizeof(where));
				bad(c, "%s (line %u): \"%s\" became \"%s\"", where,
				    (unsigned)oc->line, oc->str,
				    nc->str ? nc->str : "a container");
			}
			continue;
		}
		if (nc->kind != oc->kind || (oc->kind == MMIG__Y_SEQ &&
					     nc->n != oc->n)) {
			mmig__ynode_path(oc, where, sizeof(where));
			bad(c, "%s (line %u): changed shape", where,
			    (unsigned)oc->line);
			return;
		}
		walk_old(c, oc, nc, cp);
	}
}

static void
walk_versions(struct chk *c, const struct mmig__ynode *n, const char *path)
{
	const struct mmig__ynode *v, *x;
	char cp[512];
	size_t i;

	if (n->kind == MMIG__Y_MAP && (v = mmig__ynode_get(n, "version")) &&
	    v->kind == MMIG__Y_INT) {
		for (i = 0; i < sizeof(current) / sizeof(current[0]); i++)
			if (strcmp(current[i].path, path) == 0)
				break;
		if (i == sizeof(current) / sizeof(current[0]))
			bad(c, "\"%s\" has version %s, which the table of "
			       "current versions does not know",
			    path, v->str);
		else if (v->v.i != current[i].version)
			bad(c, "\"%s\" is at version %s, not the current %ld",
			    path, v->str, current[i].version);
	}
	if (n->kind == MMIG__Y_MAP || n->kind == MMIG__Y_SEQ)
		for (x = n->first; x && !c->bad; x = x->next) {
			child_path(cp, sizeof(cp), path, x);
			walk_versions(c, x, cp);
		}
}

bool
juju_upgraded_check(const struct mmig__ynode *old_root,
		    const struct mmig__ynode *new_root, char *msg, size_t size)
{
	struct chk c = {.msg = msg, .size = size};

	if (size)
		msg[0] = '\0';
	walk_old(&c, old_root, new_root, "");
	walk_versions(&c, new_root, "");
	return !c.bad;
}
