/*
 * domain/juju.c - reading and writing juju/description documents.
 *
 * Owns the rules of juju-int.h.  The document is parsed whole by
 * yaml-doc.c (no aliases, string keys where Juju has them is left to the
 * places below, since unit relation-state has integer keys), then walked
 * once: every collection's `version` is checked against the versions we
 * read, the modelled fields are taken out of their entity's mapping (which
 * then holds exactly what we keep verbatim), and the cross-references are
 * checked (a unit's machine or container exists, a subordinate's
 * principal exists and is not itself a subordinate, relation endpoints
 * name applications of the model, relation ids and keys are unique).
 *
 * Invariants:
 *  - Every message names the place: "line L, column C: PATH: what".
 *  - A model handed out owns its document; its strings point into it.
 *  - Lookups (machines by id, units by name, applications by name) go
 *    through sorted arrays with bsearch, so a 200-machine, 50,000-unit
 *    model costs n log n.
 */
#include "internal.h"
#include "juju-int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	struct mmig__juju_model *m;
	/* Members taken into columns: removed from their mappings only once
	 * the whole model is checked, so every message has its full path. */
	struct mmig__ynode **drop;
	size_t n_drop;
	size_t cap_drop;
	/* The document's bytes, for the extras' source text. */
	const void *src;
	size_t src_len;
	char *err;
	int rc;
};

static int
rfail(struct reader *r, const struct mmig__ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
rfail(struct reader *r, const struct mmig__ynode *at, const char *fmt, ...)
{
	char *what, *msg;
	va_list ap;

	if (r->rc)
		return r->rc;
	va_start(ap, fmt);
	what = mmig__vasprintf(fmt, ap);
	va_end(ap);
	msg = what ? mmig__ynode_errmsg(at, "%s", what) : NULL;
	mmig__free(what);
	r->err = msg;
	r->rc = msg ? MMIG_EMODEL : MMIG_ENOMEM;
	return r->rc;
}

/* "a string", "an int", ... */
static const char *
kind_a(unsigned kind)
{
	switch (kind) {
	case MMIG__Y_NULL: return "a null";
	case MMIG__Y_BOOL: return "a bool";
	case MMIG__Y_INT:
	case MMIG__Y_UINT: return "an int";
	case MMIG__Y_FLOAT: return "a float";
	case MMIG__Y_STR: return "a string";
	case MMIG__Y_SEQ: return "a sequence";
	default: return "a mapping";
	}
}

static int
room(struct reader *r)
{
	if (!r->rc)
		r->rc = MMIG_ENOMEM;
	return r->rc;
}

/* @p extra's text copied from the document (mmig__ynode_src_text()), for
 * the import to store as it is instead of emitting it: NULL when a member
 * has no source range (the import emits that one). */
static int
keep_src(struct reader *r, const struct mmig__ynode *extra, const char **out)
{
	size_t len;
	int rc = mmig__ynode_src_text(r->m->doc, extra, r->src, r->src_len,
				      out, &len);

	if (rc == MMIG_ENOMEM)
		return room(r);
	if (rc != MMIG_OK)
		*out = NULL; /* a range outside the input: emit instead */
	return MMIG_OK;
}

static int
defer_remove(struct reader *r, struct mmig__ynode *n)
{
	if (r->n_drop == r->cap_drop) {
		size_t cap = r->cap_drop ? r->cap_drop * 2 : 256;
		struct mmig__ynode **d = mmig__realloc(r->drop, cap * sizeof(*d));

		if (!d)
			return room(r);
		r->drop = d;
		r->cap_drop = cap;
	}
	r->drop[r->n_drop++] = n;
	return MMIG_OK;
}

/* Take member @p key out of @p map: NULL when absent (and not @p need),
 * refused when of another kind than @p kind (0xff: any). */
static struct mmig__ynode *
take(struct reader *r, struct mmig__ynode *map, const char *key,
     unsigned kind, bool need)
{
	struct mmig__ynode *v = mmig__ynode_get(map, key);

	if (!v) {
		if (need)
			rfail(r, map, "missing \"%s\"", key);
		return NULL;
	}
	if (kind != 0xffu && v->kind != kind &&
	    !(kind == MMIG__Y_INT && v->kind == MMIG__Y_UINT)) {
		rfail(r, v, "%s, want %s", kind_a(v->kind), kind_a(kind));
		return NULL;
	}
	if (defer_remove(r, v))
		return NULL;
	return v;
}

/* A required or optional string member, taken out. */
static const char *
take_str(struct reader *r, struct mmig__ynode *map, const char *key,
	 bool need, struct mmig__ynode **node)
{
	struct mmig__ynode *v = take(r, map, key, MMIG__Y_STR, need);

	if (node)
		*node = v;
	return v ? v->str : NULL;
}

static bool
has_nul(const struct mmig__ynode *n)
{
	return memchr(n->str, '\0', n->len) != NULL;
}

/* ------------------------------------------------------------------------
 * Juju's naming rules (github.com/juju/names)
 * ------------------------------------------------------------------------ */

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* (?:0|[1-9][0-9]*) at *s; advances. */
static bool
number(const char **s)
{
	const char *p = *s;

	if (*p == '0') {
		*s = p + 1;
		return true;
	}
	if (*p < '1' || *p > '9')
		return false;
	while (is_digit(*p))
		p++;
	*s = p;
	return true;
}

/* Machine ids: number(/[a-z]+/number)*. */
static bool
valid_machine_id(const char *s)
{
	if (!number(&s))
		return false;
	while (*s == '/') {
		s++;
		if (!is_lower(*s))
			return false;
		while (is_lower(*s))
			s++;
		if (*s++ != '/' || !number(&s))
			return false;
	}
	return *s == '\0';
}

/* Application names: [a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*: words of
 * letters and digits joined by single hyphens, each word after the first
 * holding a letter, the first starting with one. */
static bool
valid_app_name(const char *s, size_t len)
{
	size_t i = 0;
	bool letter;

	if (len == 0 || !is_lower(s[0]))
		return false;
	while (i < len && (is_lower(s[i]) || is_digit(s[i])))
		i++;
	while (i < len) {
		if (s[i++] != '-')
			return false;
		letter = false;
		while (i < len && (is_lower(s[i]) || is_digit(s[i])))
			letter |= is_lower(s[i++]);
		if (!letter)
			return false;
	}
	return true;
}

/* Model names: ^[a-z0-9]+[a-z0-9-]*$ -- may start with a digit. */
static bool
valid_model_name(const char *s)
{
	if (!is_lower(*s) && !is_digit(*s))
		return false;
	for (; *s; s++)
		if (!is_lower(*s) && !is_digit(*s) && *s != '-')
			return false;
	return true;
}

static bool
valid_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (i = 0; shape[i]; i++) {
		if (shape[i] == '-' ? s[i] != '-'
				    : !(is_digit(s[i]) ||
					(s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* "<application>/<number>" whose application is @p app. */
static bool
valid_unit_name(const char *s, const char *app)
{
	size_t n = strlen(app);

	if (strncmp(s, app, n) != 0 || s[n] != '/')
		return false;
	s += n + 1;
	return number(&s) && *s == '\0';
}

/* ------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------ */

/* Take "version" from @p map and check it is in [lo, hi]. */
static int
check_version(struct reader *r, struct mmig__ynode *map, const char *what,
	      int lo, int hi, int *out)
{
	struct mmig__ynode *v = mmig__ynode_get(map, "version");

	if (!v)
		return rfail(r, map, "missing \"version\"");
	if (v->kind != MMIG__Y_INT || v->v.i < lo || v->v.i > hi)
		return rfail(r, v,
			     "%s version %s is not one we read (we read %d-%d)",
			     what, v->str, lo, hi);
	*out = (int)v->v.i;
	if (defer_remove(r, v))
		return r->rc;
	return MMIG_OK;
}

/* A versioned collection {version: N, <key>: [...]} under @p parent's
 * @p name; the list is returned (taken out of the collection, which keeps
 * anything else verbatim and is put back where it was, list-less). */
static struct mmig__ynode *
collection(struct reader *r, struct mmig__ynode *parent, const char *name,
	   const char *what, int lo, int hi, int *version, bool need)
{
	struct mmig__ynode *c = mmig__ynode_get(parent, name), *list;

	if (!c) {
		if (need)
			rfail(r, parent, "missing \"%s\"", name);
		return NULL;
	}
	if (c->kind != MMIG__Y_MAP) {
		rfail(r, c, "%s, want a mapping with a version and %s",
		      kind_a(c->kind), name);
		return NULL;
	}
	if (check_version(r, c, what, lo, hi, version))
		return NULL;
	list = take(r, c, name, MMIG__Y_SEQ, true);
	if (!list)
		return NULL;
	if (c->n != 2) {
		struct mmig__ynode *x;

		for (x = c->first; x; x = x->next)
			if (x != list && strcmp(x->key, "version"))
				break;
		rfail(r, x ? x : c, "not a key of the %s collection", what);
		return NULL;
	}
	if (defer_remove(r, c))
		return NULL;
	return list;
}

/* ------------------------------------------------------------------------
 * Sorted indexes
 * ------------------------------------------------------------------------ */

struct idx {
	const char *key;
	size_t i;
};

static int
idx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct idx *)a)->key,
		      ((const struct idx *)b)->key);
}

static struct idx *
idx_find(struct idx *v, size_t n, const char *key)
{
	struct idx k = {.key = key};

	return n ? bsearch(&k, v, n, sizeof(*v), idx_cmp) : NULL;
}

/* Sort and refuse duplicates; @p nodes gives each entry's node for the
 * message. */
static int
idx_sort(struct reader *r, struct idx *v, size_t n, const char *what,
	 struct mmig__ynode *const *nodes)
{
	size_t i;

	qsort(v, n, sizeof(*v), idx_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1].key, v[i].key) == 0)
			return rfail(r, nodes[v[i - 1].i > v[i].i ? v[i - 1].i : v[i].i],
				     "%s \"%s\" twice", what, v[i].key);
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Machines
 * ------------------------------------------------------------------------ */

struct mstate {
	size_t cap;
	/* The node of each machine's id, for messages. */
	struct mmig__ynode **id_nodes;
};

static int
read_machine(struct reader *r, struct mstate *ms, struct mmig__ynode *node,
	     const char *parent, unsigned depth)
{
	struct mmig__juju_model *m = r->m;
	struct mmig__juju_machine *mc;
	struct mmig__ynode *idn, *ct, *containers, *c, *next;
	size_t n = strlen(parent ? parent : "");

	if (node->kind != MMIG__Y_MAP)
		return rfail(r, node, "%s, want a machine mapping",
			     kind_a(node->kind));
	if (m->n_machines == ms->cap) {
		size_t cap = ms->cap ? ms->cap * 2 : 64;
		void *a = mmig__realloc(m->machines, cap * sizeof(*m->machines));
		void *b;

		if (!a)
			return room(r);
		m->machines = a;
		b = mmig__realloc(ms->id_nodes, cap * sizeof(*ms->id_nodes));
		if (!b)
			return room(r);
		ms->id_nodes = b;
		ms->cap = cap;
	}
	mc = &m->machines[m->n_machines];
	*mc = (struct mmig__juju_machine){.depth = depth};
	if (!(mc->id = take_str(r, node, "id", true, &idn)))
		return r->rc;
	if (has_nul(idn) || !valid_machine_id(mc->id))
		return rfail(r, idn, "\"%.64s\" is not a machine id", mc->id);
	if (parent) {
		/* "<parent>/<type>/<n>", and the type is the container's. */
		const char *t;

		if (strncmp(mc->id, parent, n) != 0 || mc->id[n] != '/' ||
		    strchr(mc->id + n + 1, '/') == NULL ||
		    strchr(strchr(mc->id + n + 1, '/') + 1, '/'))
			return rfail(r, idn,
				     "container \"%s\" is not inside machine "
				     "\"%s\"",
				     mc->id, parent);
		mc->parent = parent;
		t = mc->id + n + 1;
		ct = mmig__ynode_get(node, "container-type");
		if (ct && (ct->kind != MMIG__Y_STR ||
			   strncmp(ct->str, t, ct->len) != 0 ||
			   t[ct->len] != '/'))
			return rfail(r, ct,
				     "container-type \"%.32s\" does not match "
				     "id \"%s\"",
				     ct->kind == MMIG__Y_STR ? ct->str : "",
				     mc->id);
		if (ct) {
			if (defer_remove(r, ct))
				return r->rc;
			mc->has_container_type = true;
		}
		if (!(mc->container_type = ct ? ct->str : NULL)) {
			struct mmig__ynode *tn = mmig__ynode_new_str(
				m->doc, t, (size_t)(strchr(t, '/') - t));

			if (!tn)
				return room(r);
			mc->container_type = tn->str;
		}
	} else {
		if (strchr(mc->id, '/'))
			return rfail(r, idn,
				     "\"%s\" is a container id, listed as a "
				     "top-level machine",
				     mc->id);
		ct = mmig__ynode_get(node, "container-type");
		if (ct && (ct->kind != MMIG__Y_STR || ct->len != 0))
			return rfail(r, ct,
				     "a top-level machine has no container-type");
		if (ct) {
			if (defer_remove(r, ct))
				return r->rc;
			mc->has_container_type = true;
		}
		mc->container_type = "";
	}
	if (m->machines_version >= 3) {
		mc->base = take_str(r, node, "base", true, NULL);
	} else {
		mc->series = take_str(r, node, "series", true, NULL);
		mc->base = "";
	}
	if (r->rc)
		return r->rc;
	containers = take(r, node, "containers", MMIG__Y_SEQ, false);
	if (r->rc)
		return r->rc;
	mc->extra = node;
	mc->has_containers = containers != NULL;
	ms->id_nodes[m->n_machines] = idn;
	m->n_machines++;
	if (containers) {
		/* mc moves when the array grows; its id does not. */
		const char *self = mc->id;

		for (c = containers->first; c; c = next) {
			next = c->next;
			if (read_machine(r, ms, c, self, depth + 1))
				return r->rc;
		}
	}
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Applications and units
 * ------------------------------------------------------------------------ */

static int
read_unit(struct reader *r, struct mmig__juju_app *a,
	  struct mmig__juju_unit *u, struct mmig__ynode *node)
{
	struct mmig__ynode *n, *mn;

	if (node->kind != MMIG__Y_MAP)
		return rfail(r, node, "%s, want a unit mapping",
			     kind_a(node->kind));
	if (!(u->name = take_str(r, node, "name", true, &n)))
		return r->rc;
	if (has_nul(n) || !valid_unit_name(u->name, a->name))
		return rfail(r, n, "\"%.64s\" is not a unit of \"%s\"",
			     u->name, a->name);
	if (!take_str(r, node, "machine", true, &mn))
		return r->rc;
	u->machine = mn->len ? mn->str : NULL;
	if (u->machine && !valid_machine_id(u->machine))
		return rfail(r, mn, "\"%.64s\" is not a machine id",
			     u->machine);
	n = mmig__ynode_get(node, "principal");
	if (n && n->kind != MMIG__Y_STR)
		return rfail(r, n, "%s, want a string",
			     kind_a(n->kind));
	/* An empty principal stays verbatim: only a name has a column. */
	if (n && n->len) {
		if (defer_remove(r, n))
			return r->rc;
		u->principal = n->str;
	}
	u->extra = node;
	return MMIG_OK;
}

static int
read_app(struct reader *r, struct mmig__juju_app *a, struct mmig__ynode *node)
{
	struct mmig__ynode *n, *units, *c;
	size_t i;

	if (node->kind != MMIG__Y_MAP)
		return rfail(r, node, "%s, want an application mapping",
			     kind_a(node->kind));
	if (!(a->name = take_str(r, node, "name", true, &n)))
		return r->rc;
	if (has_nul(n) || !valid_app_name(a->name, n->len))
		return rfail(r, n, "\"%.64s\" is not an application name",
			     a->name);
	if (!(a->charm_url = take_str(r, node, "charm-url", true, NULL)))
		return r->rc;
	n = take(r, node, "subordinate", MMIG__Y_BOOL, false);
	if (r->rc)
		return r->rc;
	a->has_subordinate = n != NULL;
	a->subordinate = n && n->v.b;
	a->settings = take(r, node, "settings", MMIG__Y_MAP, false);
	if (r->rc)
		return r->rc;
	units = collection(r, node, "units", "units", 1, 3, &a->units_version,
			   true);
	if (!units)
		return r->rc;
	if (units->n) {
		a->units = mmig__calloc(units->n, sizeof(*a->units));
		if (!a->units)
			return room(r);
	}
	for (c = units->first, i = 0; c; c = c->next, i++)
		if (read_unit(r, a, &a->units[a->n_units++], c))
			return r->rc;
	r->m->n_units_total += a->n_units;
	a->extra = node;
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Relations
 * ------------------------------------------------------------------------ */

static int
read_endpoint(struct reader *r, struct mmig__juju_endpoint *e,
	      struct mmig__ynode *node)
{
	struct mmig__ynode *n;

	if (node->kind != MMIG__Y_MAP)
		return rfail(r, node, "%s, want an endpoint mapping",
			     kind_a(node->kind));
	e->app = take_str(r, node, "application-name", true, NULL);
	e->name = take_str(r, node, "name", true, NULL);
	e->role = take_str(r, node, "role", true, &n);
	e->interface = take_str(r, node, "interface", true, NULL);
	e->scope = take_str(r, node, "scope", true, NULL);
	if (r->rc)
		return r->rc;
	if (strcmp(e->role, "provider") && strcmp(e->role, "requirer") &&
	    strcmp(e->role, "peer"))
		return rfail(r, n, "role \"%.32s\" is not provider, requirer "
				   "or peer",
			     e->role);
	e->extra = node;
	return MMIG_OK;
}

static int
read_relation(struct reader *r, struct mmig__juju_relation *rel,
	      struct mmig__ynode *node)
{
	struct mmig__ynode *n, *eps, *c;

	if (node->kind != MMIG__Y_MAP)
		return rfail(r, node, "%s, want a relation mapping",
			     kind_a(node->kind));
	if (!(n = take(r, node, "id", MMIG__Y_INT, true)))
		return r->rc;
	if (n->kind != MMIG__Y_INT || n->v.i < 0)
		return rfail(r, n, "relation id %s is not a number >= 0",
			     n->str);
	rel->id = n->v.i;
	if (!(rel->key = take_str(r, node, "key", true, NULL)))
		return r->rc;
	n = take(r, node, "suspended", MMIG__Y_BOOL, false);
	if (r->rc)
		return r->rc;
	rel->has_suspended = n != NULL;
	rel->suspended = n && n->v.b;
	eps = collection(r, node, "endpoints", "endpoints", 1, 2,
			 &rel->endpoints_version, true);
	if (!eps)
		return r->rc;
	if (eps->n < 1 || eps->n > 2)
		return rfail(r, eps, "%" PRIu32 " endpoints, want 1 or 2",
			     eps->n);
	for (c = eps->first; c; c = c->next)
		if (read_endpoint(r, &rel->ep[rel->n_endpoints++], c))
			return r->rc;
	if (rel->n_endpoints == 1 && strcmp(rel->ep[0].role, "peer") != 0)
		return rfail(r, eps->first,
			     "one endpoint, role \"%s\": only a peer relation "
			     "has one",
			     rel->ep[0].role);
	if (rel->n_endpoints == 2 && (!strcmp(rel->ep[0].role, "peer") ||
				      !strcmp(rel->ep[1].role, "peer")))
		return rfail(r, eps, "a peer endpoint in a relation of two");
	rel->extra = node;
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * The model
 * ------------------------------------------------------------------------ */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is @p name an application of remote-applications (kept verbatim)? */
static bool
is_remote_app(const struct mmig__ynode *root, const char *name)
{
	const struct mmig__ynode *ra = mmig__ynode_get(root, "remote-applications");
	const struct mmig__ynode *c, *n;

	ra = mmig__ynode_get(ra, "remote-applications");
	if (!ra || ra->kind != MMIG__Y_SEQ)
		return false;
	for (c = ra->first; c; c = c->next) {
		n = mmig__ynode_get(c, "name");
		if (n && n->kind == MMIG__Y_STR && strcmp(n->str, name) == 0)
			return true;
	}
	return false;
}

static int
read_model(struct reader *r, struct mmig__ynode *root)
{
	struct mmig__juju_model *m = r->m;
	struct mmig__ynode *n, *list, *c, *seqs;
	struct mstate ms = {0};
	struct idx *mi = NULL, *ui = NULL, *ai = NULL, *ri = NULL;
	struct mmig__ynode **unodes = NULL, **anodes = NULL, **rnodes = NULL;
	size_t i, j, k;

	if (root->kind != MMIG__Y_MAP)
		return rfail(r, root, "the document is %s, not a model "
				      "mapping",
			     kind_a(root->kind));
	if (check_version(r, root, "model", 1, 14, &m->version))
		return r->rc;
	m->owner = take_str(r, root, "owner", true, NULL);
	m->cloud = take_str(r, root, "cloud", true, NULL);
	m->region = take_str(r, root, "cloud-region", false, NULL);
	if (r->rc)
		return r->rc;
	m->has_region = m->region != NULL;
	if (!m->region)
		m->region = "";
	if (m->version >= 4) {
		if (!(m->type = take_str(r, root, "type", true, &n)))
			return r->rc;
		if (strcmp(m->type, "iaas") && strcmp(m->type, "caas"))
			return rfail(r, n, "type \"%.32s\" is not iaas or caas",
				     m->type);
	} else {
		m->type = "iaas";
	}
	if (!(m->config = take(r, root, "config", MMIG__Y_MAP, true)))
		return r->rc;
	n = mmig__ynode_get(m->config, "uuid");
	if (!n || n->kind != MMIG__Y_STR || !valid_uuid(n->str))
		return rfail(r, n ? n : m->config,
			     "%s is not a lower-case uuid",
			     n ? "config uuid" : "no \"uuid\": config");
	m->uuid = n->str;
	n = mmig__ynode_get(m->config, "name");
	if (!n || n->kind != MMIG__Y_STR || !valid_model_name(n->str))
		return rfail(r, n ? n : m->config, "%s",
			     n ? "not a model name ([a-z0-9][a-z0-9-]*)"
			       : "no \"name\"");
	m->name = n->str;
	if (m->version >= 11) {
		m->agent_version = take_str(r, root, "agent-version", true, NULL);
		if (r->rc)
			return r->rc;
	} else {
		n = mmig__ynode_get(m->config, "agent-version");
		m->agent_version = n && n->kind == MMIG__Y_STR ? n->str : NULL;
	}
	seqs = take(r, root, "sequences", MMIG__Y_MAP, true);
	if (!seqs)
		return r->rc;
	if (seqs->n) {
		m->sequences = mmig__calloc(seqs->n, sizeof(*m->sequences));
		if (!m->sequences)
			return room(r);
	}
	for (c = seqs->first; c; c = c->next) {
		if (c->key_kind != MMIG__Y_STR)
			return rfail(r, c, "a sequence name must be a string");
		if (c->kind != MMIG__Y_INT || c->v.i < 0)
			return rfail(r, c, "a sequence is a number >= 0");
		m->sequences[m->n_sequences].name = c->key;
		m->sequences[m->n_sequences++].value = c->v.i;
	}

	/* Machines, containers flattened after their parent. */
	list = collection(r, root, "machines", "machines", 1, 4,
			  &m->machines_version, true);
	if (!list)
		goto out;
	for (c = list->first; c; c = c->next)
		if (read_machine(r, &ms, c, NULL, 0))
			goto out;
	if (m->n_machines) {
		if (!(mi = mmig__calloc(m->n_machines, sizeof(*mi))))
			goto oom;
		for (i = 0; i < m->n_machines; i++)
			mi[i] = (struct idx){m->machines[i].id, i};
		if (idx_sort(r, mi, m->n_machines, "machine", ms.id_nodes))
			goto out;
	}

	/* Applications and their units. */
	list = collection(r, root, "applications", "applications", 1, 14,
			  &m->applications_version, true);
	if (!list)
		goto out;
	if (list->n) {
		m->apps = mmig__calloc(list->n, sizeof(*m->apps));
		anodes = mmig__calloc(list->n, sizeof(*anodes));
		ai = mmig__calloc(list->n, sizeof(*ai));
		if (!m->apps || !anodes || !ai)
			goto oom;
	}
	for (c = list->first; c; c = c->next) {
		struct mmig__ynode *nm = mmig__ynode_get(c, "name");

		anodes[m->n_apps] = nm ? nm : c;
		if (read_app(r, &m->apps[m->n_apps], c)) {
			m->n_apps++; /* so that its units are freed */
			goto out;
		}
		ai[m->n_apps] = (struct idx){m->apps[m->n_apps].name, m->n_apps};
		m->n_apps++;
	}
	if (m->n_apps && idx_sort(r, ai, m->n_apps, "application", anodes))
		goto out;
	if (m->n_units_total) {
		ui = mmig__calloc(m->n_units_total, sizeof(*ui));
		unodes = mmig__calloc(m->n_units_total, sizeof(*unodes));
		if (!ui || !unodes)
			goto oom;
	}
	for (i = 0, k = 0; i < m->n_apps; i++) {
		for (j = 0; j < m->apps[i].n_units; j++, k++) {
			ui[k] = (struct idx){m->apps[i].units[j].name, k};
			unodes[k] = m->apps[i].units[j].extra;
		}
	}
	if (k && idx_sort(r, ui, k, "unit", unodes))
		goto out;
	/* Cross-references of units. */
	for (i = 0; i < m->n_apps; i++) {
		struct mmig__juju_app *a = &m->apps[i];

		for (j = 0; j < a->n_units; j++) {
			struct mmig__juju_unit *u = &a->units[j];

			if (u->machine &&
			    !idx_find(mi, m->n_machines, u->machine)) {
				rfail(r, u->extra,
				      "unit %s is on machine \"%s\", which the "
				      "model does not have",
				      u->name, u->machine);
				goto out;
			}
			if (!u->machine && strcmp(m->type, "caas") != 0) {
				rfail(r, u->extra,
				      "unit %s has no machine in an iaas model",
				      u->name);
				goto out;
			}
			if (a->subordinate && !u->principal) {
				rfail(r, u->extra,
				      "unit %s of subordinate %s has no "
				      "principal",
				      u->name, a->name);
				goto out;
			}
			if (!a->subordinate && u->principal) {
				rfail(r, u->extra,
				      "unit %s has a principal, but %s is not a "
				      "subordinate",
				      u->name, a->name);
				goto out;
			}
			if (u->principal) {
				struct idx *p = idx_find(ui, k, u->principal);
				const char *slash = strchr(u->principal, '/');
				struct idx *pa;

				if (!p || !slash) {
					rfail(r, u->extra,
					      "principal \"%s\" of unit %s is not "
					      "a unit of the model",
					      u->principal, u->name);
					goto out;
				}
				/* The principal's application is no
				 * subordinate. */
				for (pa = ai; pa < ai + m->n_apps; pa++)
					if (strlen(pa->key) ==
						    (size_t)(slash - u->principal) &&
					    !strncmp(pa->key, u->principal,
						     (size_t)(slash -
							      u->principal)))
						break;
				if (pa < ai + m->n_apps &&
				    m->apps[pa->i].subordinate) {
					rfail(r, u->extra,
					      "principal %s of unit %s is itself "
					      "a subordinate",
					      u->principal, u->name);
					goto out;
				}
			}
		}
	}

	/* Relations. */
	list = collection(r, root, "relations", "relations", 1, 3,
			  &m->relations_version, true);
	if (!list)
		goto out;
	if (list->n) {
		m->relations = mmig__calloc(list->n, sizeof(*m->relations));
		ri = mmig__calloc(list->n, sizeof(*ri));
		rnodes = mmig__calloc(list->n, sizeof(*rnodes));
		if (!m->relations || !ri || !rnodes)
			goto oom;
	}
	for (c = list->first; c; c = c->next) {
		struct mmig__juju_relation *rel = &m->relations[m->n_relations];
		rnodes[m->n_relations] = c;
		if (read_relation(r, rel, c))
			goto out;
		for (i = 0; i < rel->n_endpoints; i++) {
			if (!idx_find(ai, m->n_apps, rel->ep[i].app) &&
			    !is_remote_app(root, rel->ep[i].app)) {
				rfail(r, rel->ep[i].extra,
				      "relation %s: application \"%s\" is not "
				      "in the model",
				      rel->key, rel->ep[i].app);
				goto out;
			}
		}
		ri[m->n_relations] = (struct idx){rel->key, m->n_relations};
		m->n_relations++;
	}
	if (m->n_relations &&
	    idx_sort(r, ri, m->n_relations, "relation key", rnodes))
		goto out;
	if (m->n_relations > 1) {
		int64_t *ids = mmig__calloc(m->n_relations, sizeof(*ids));

		if (!ids)
			goto oom;
		for (i = 0; i < m->n_relations; i++)
			ids[i] = m->relations[i].id;
		qsort(ids, m->n_relations, sizeof(*ids), cmp_i64);
		for (i = 1; i < m->n_relations; i++)
			if (ids[i] == ids[i - 1])
				break;
		if (i < m->n_relations) {
			int64_t dup = ids[i];

			for (j = 0; m->relations[j].id != dup; j++)
				;
			for (j++; m->relations[j].id != dup; j++)
				;
			mmig__free(ids);
			rfail(r, rnodes[j], "relation id %" PRId64 " twice", dup);
			goto out;
		}
		mmig__free(ids);
	}
	m->extra = root;
	/* Every check passed: take the columns out, count what stays. */
	for (i = 0; i < r->n_drop; i++)
		mmig__ynode_remove(r->drop[i]);
	m->n_kept = root->n;
	if (keep_src(r, root, &m->extra_src))
		goto out;
	for (i = 0; i < m->n_machines; i++) {
		m->n_kept += m->machines[i].extra->n;
		if (keep_src(r, m->machines[i].extra,
			     &m->machines[i].extra_src))
			goto out;
	}
	for (i = 0; i < m->n_apps; i++) {
		struct mmig__juju_app *a = &m->apps[i];

		m->n_kept += a->extra->n;
		if (keep_src(r, a->extra, &a->extra_src))
			goto out;
		for (j = 0; j < a->n_units; j++) {
			m->n_kept += a->units[j].extra->n;
			if (keep_src(r, a->units[j].extra,
				     &a->units[j].extra_src))
				goto out;
		}
	}
	for (i = 0; i < m->n_relations; i++) {
		struct mmig__juju_relation *rl = &m->relations[i];

		m->n_kept += rl->extra->n;
		if (keep_src(r, rl->extra, &rl->extra_src))
			goto out;
		for (j = 0; j < rl->n_endpoints; j++) {
			m->n_kept += rl->ep[j].extra->n;
			if (keep_src(r, rl->ep[j].extra, &rl->ep[j].extra_src))
				goto out;
		}
	}
	goto out;
oom:
	room(r);
out:
	mmig__free(ms.id_nodes);
	mmig__free(mi);
	mmig__free(ui);
	mmig__free(ai);
	mmig__free(ri);
	mmig__free(unodes);
	mmig__free(anodes);
	mmig__free(rnodes);
	return r->rc;
}

void
mmig__juju_free(struct mmig__juju_model *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_apps; i++)
		mmig__free(m->apps[i].units);
	mmig__free(m->apps);
	mmig__free(m->machines);
	mmig__free(m->relations);
	mmig__free(m->sequences);
	mmig__ydoc_free(m->doc);
	mmig__free(m);
}

bool
mmig__juju_looks_yaml(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0;

	/* A UTF-8 byte order mark, then blanks. */
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	for (; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return p[i] != '{' && p[i] != '[';
	return false;
}

int
mmig__juju_read(const void *buf, size_t len, struct mmig__juju_model **out,
		char **errmsg)
{
	struct reader r = {0};
	int rc;

	if (errmsg)
		*errmsg = NULL;
	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	if (!(r.m = mmig__calloc(1, sizeof(*r.m))))
		return MMIG_ENOMEM;
	r.src = buf;
	r.src_len = len;
	rc = mmig__yaml_parse(buf, len, 0, NULL, &r.m->doc, &r.err);
	if (rc) {
		r.rc = rc;
		goto fail;
	}
	if (read_model(&r, mmig__ydoc_root(r.m->doc)))
		goto fail;
	mmig__free(r.drop);
	*out = r.m;
	return MMIG_OK;
fail:
	mmig__free(r.drop);
	mmig__juju_free(r.m);
	if (errmsg)
		*errmsg = r.err;
	else
		mmig__free(r.err);
	return r.rc;
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

struct writer {
	struct mmig__ydoc *d;
	bool oom;
};

static struct mmig__ynode *
w_chk(struct writer *w, struct mmig__ynode *n)
{
	if (!n)
		w->oom = true;
	return n;
}

static void
w_add(struct writer *w, struct mmig__ynode *map, const char *key,
      struct mmig__ynode *v)
{
	if (w->oom || !v || mmig__ynode_map_add(w->d, map, key, v))
		w->oom = true;
}

static void
w_str(struct writer *w, struct mmig__ynode *map, const char *key,
      const char *s)
{
	w_add(w, map, key, w_chk(w, mmig__ynode_new_str(w->d, s, strlen(s))));
}

static void
w_int(struct writer *w, struct mmig__ynode *map, const char *key, int64_t i)
{
	w_add(w, map, key, w_chk(w, mmig__ynode_new_int(w->d, i)));
}

/* Copy every member of @p extra (a mapping, may be NULL) into @p map. */
static void
w_extra(struct writer *w, struct mmig__ynode *map,
	const struct mmig__ynode *extra)
{
	const struct mmig__ynode *c;
	struct mmig__ynode *cp;

	if (!extra || w->oom)
		return;
	for (c = extra->first; c && !w->oom; c = c->next) {
		if (!(cp = mmig__ynode_copy(w->d, c))) {
			w->oom = true;
			return;
		}
		/* Keys keep their kind: relation-state has int keys. */
		if (mmig__ynode_map_addn(w->d, map, c->key, c->key_len,
					 c->key_kind, cp))
			w->oom = true;
	}
}

/* {version: v, <name>: seq} into @p map, with @p rest (the collection's
 * other keys, kept verbatim) when there were any. */
static struct mmig__ynode *
w_collection(struct writer *w, struct mmig__ynode *map, const char *name,
	     int version)
{
	struct mmig__ynode *c = w_chk(w, mmig__ynode_new_map(w->d));
	struct mmig__ynode *s = w_chk(w, mmig__ynode_new_seq(w->d));

	w_int(w, c, "version", version);
	w_add(w, c, name, s);
	w_add(w, map, name, c);
	return w->oom ? NULL : s;
}

static struct mmig__ynode *
w_machine(struct writer *w, const struct mmig__juju_model *m, size_t *i)
{
	const struct mmig__juju_machine *mc = &m->machines[*i];
	struct mmig__ynode *n = w_chk(w, mmig__ynode_new_map(w->d)), *cs = NULL;

	w_str(w, n, "id", mc->id);
	if (mc->series)
		w_str(w, n, "series", mc->series);
	else
		w_str(w, n, "base", mc->base);
	if (mc->has_container_type)
		w_str(w, n, "container-type", mc->container_type);
	if (mc->has_containers) {
		cs = w_chk(w, mmig__ynode_new_seq(w->d));
		w_add(w, n, "containers", cs);
	}
	w_extra(w, n, mc->extra);
	/* The containers follow their parent in the array. */
	while (!w->oom && *i + 1 < m->n_machines &&
	       m->machines[*i + 1].depth > mc->depth) {
		++*i;
		if (!cs) {
			cs = w_chk(w, mmig__ynode_new_seq(w->d));
			w_add(w, n, "containers", cs);
		}
		if (!w->oom &&
		    mmig__ynode_seq_add(cs, w_machine(w, m, i)) != MMIG_OK)
			w->oom = true;
	}
	return w->oom ? NULL : n;
}

struct mmig__ydoc *
mmig__juju_write(const struct mmig__juju_model *m)
{
	struct writer w = {.d = mmig__ydoc_new()};
	struct mmig__ynode *root, *s, *n, *us, *es;
	size_t i, j;

	if (!w.d)
		return NULL;
	root = w_chk(&w, mmig__ynode_new_map(w.d));
	if (root)
		mmig__ydoc_set_root(w.d, root);
	w_int(&w, root, "version", m->version);
	w_str(&w, root, "owner", m->owner);
	w_str(&w, root, "cloud", m->cloud);
	if (m->has_region)
		w_str(&w, root, "cloud-region", m->region);
	if (m->version >= 4)
		w_str(&w, root, "type", m->type);
	if (m->version >= 11 && m->agent_version)
		w_str(&w, root, "agent-version", m->agent_version);
	w_add(&w, root, "config", w_chk(&w, mmig__ynode_copy(w.d, m->config)));
	n = w_chk(&w, mmig__ynode_new_map(w.d));
	for (i = 0; i < m->n_sequences; i++)
		w_int(&w, n, m->sequences[i].name, m->sequences[i].value);
	w_add(&w, root, "sequences", n);

	s = w_collection(&w, root, "machines", m->machines_version);
	for (i = 0; !w.oom && i < m->n_machines; i++)
		if (mmig__ynode_seq_add(s, w_machine(&w, m, &i)))
			w.oom = true;

	s = w_collection(&w, root, "applications", m->applications_version);
	for (i = 0; !w.oom && i < m->n_apps; i++) {
		const struct mmig__juju_app *a = &m->apps[i];

		n = w_chk(&w, mmig__ynode_new_map(w.d));
		w_str(&w, n, "name", a->name);
		w_str(&w, n, "charm-url", a->charm_url);
		if (a->has_subordinate)
			w_add(&w, n, "subordinate",
			      w_chk(&w, mmig__ynode_new_bool(w.d, a->subordinate)));
		if (a->settings)
			w_add(&w, n, "settings",
			      w_chk(&w, mmig__ynode_copy(w.d, a->settings)));
		us = w_collection(&w, n, "units", a->units_version);
		for (j = 0; !w.oom && j < a->n_units; j++) {
			const struct mmig__juju_unit *u = &a->units[j];
			struct mmig__ynode *un = w_chk(&w, mmig__ynode_new_map(w.d));

			w_str(&w, un, "name", u->name);
			w_str(&w, un, "machine", u->machine ? u->machine : "");
			if (u->principal)
				w_str(&w, un, "principal", u->principal);
			w_extra(&w, un, u->extra);
			if (!w.oom && mmig__ynode_seq_add(us, un))
				w.oom = true;
		}
		w_extra(&w, n, a->extra);
		if (!w.oom && mmig__ynode_seq_add(s, n))
			w.oom = true;
	}

	s = w_collection(&w, root, "relations", m->relations_version);
	for (i = 0; !w.oom && i < m->n_relations; i++) {
		const struct mmig__juju_relation *rel = &m->relations[i];

		n = w_chk(&w, mmig__ynode_new_map(w.d));
		w_int(&w, n, "id", rel->id);
		w_str(&w, n, "key", rel->key);
		if (rel->has_suspended)
			w_add(&w, n, "suspended",
			      w_chk(&w, mmig__ynode_new_bool(w.d, rel->suspended)));
		es = w_collection(&w, n, "endpoints", rel->endpoints_version);
		for (j = 0; !w.oom && j < rel->n_endpoints; j++) {
			const struct mmig__juju_endpoint *e = &rel->ep[j];
			struct mmig__ynode *en = w_chk(&w, mmig__ynode_new_map(w.d));

			w_str(&w, en, "application-name", e->app);
			w_str(&w, en, "name", e->name);
			w_str(&w, en, "role", e->role);
			w_str(&w, en, "interface", e->interface);
			w_str(&w, en, "scope", e->scope);
			w_extra(&w, en, e->extra);
			if (!w.oom && mmig__ynode_seq_add(es, en))
				w.oom = true;
		}
		w_extra(&w, n, rel->extra);
		if (!w.oom && mmig__ynode_seq_add(s, n))
			w.oom = true;
	}
	w_extra(&w, root, m->extra);
	if (w.oom) {
		mmig__ydoc_free(w.d);
		return NULL;
	}
	return w.d;
}

/* ------------------------------------------------------------------------
 * Upgrading an older document to the current versions
 *
 * Each step below is what juju/description's own importer does when it
 * reads the older version (and what its Serialize then writes at the
 * current one); the function named in each comment is the one in
 * github.com/juju/description (model.go newModelFromValid and NewModel,
 * machine.go importMachine, ... as of the commit before 4e1c1d9, the last
 * that read model 1, machines 1-2 and applications 1-10).  Two rules of
 * our own, since nothing read may be lost:
 *  - a key a later version dropped (a machine's or application's
 *    "series", cloud-image-metadata's "series") is kept where it was:
 *    juju/description's importer ignores keys it does not know;
 *  - a value a later version derives (a machine's "base" from its
 *    "series") is added next to the value it comes from.
 * A collection whose items changed shape in a way not written here keeps
 * its version when it has items (juju/description reads each collection
 * at its own version); an empty one is simply brought to the current
 * version.  No such collection occurs in the documents we have.
 * ------------------------------------------------------------------------ */

struct up {
	struct mmig__ydoc *d;
	char *err;
	int rc;
	/* Collections left at an older version (see above). */
	size_t left;
};

static void
u_oom(struct up *u)
{
	if (!u->rc)
		u->rc = MMIG_ENOMEM;
}

static void
u_fail(struct up *u, const struct mmig__ynode *at, const char *what)
{
	if (u->rc)
		return;
	u->err = mmig__ynode_errmsg(at, "%s", what);
	u->rc = u->err ? MMIG_EMODEL : MMIG_ENOMEM;
}

/* Add @p v under @p key unless @p map has it; returns the member. */
static struct mmig__ynode *
u_ensure(struct up *u, struct mmig__ynode *map, const char *key,
	 struct mmig__ynode *v)
{
	struct mmig__ynode *have = mmig__ynode_get(map, key);

	if (have || u->rc)
		return have;
	if (!v || mmig__ynode_map_add(u->d, map, key, v)) {
		u_oom(u);
		return NULL;
	}
	return v;
}

static struct mmig__ynode *
u_str(struct up *u, const char *s)
{
	return mmig__ynode_new_str(u->d, s, strlen(s));
}

/* Overwrite scalar @p n (a node of u->d's tree) with @p t's value. */
static void
u_assign(struct up *u, struct mmig__ynode *n, const struct mmig__ynode *t)
{
	if (!t) {
		u_oom(u);
		return;
	}
	n->kind = t->kind;
	n->v = t->v;
	n->str = t->str;
	n->len = t->len;
	n->style = t->style;
}

/* The int "version" of @p map; 0 when there is none. */
static int
u_version(const struct mmig__ynode *map)
{
	const struct mmig__ynode *v = mmig__ynode_get(map, "version");

	return v && v->kind == MMIG__Y_INT && v->v.i > 0 && v->v.i < INT32_MAX
		       ? (int)v->v.i
		       : 0;
}

static void
u_set_version(struct up *u, struct mmig__ynode *map, int version)
{
	struct mmig__ynode *v = mmig__ynode_get(map, "version");

	if (v)
		u_assign(u, v, mmig__ynode_new_int(u->d, version));
	else
		u_ensure(u, map, "version", mmig__ynode_new_int(u->d, version));
}

/* A new empty collection {version: v, <list>: []}. */
static struct mmig__ynode *
u_new_coll(struct up *u, const char *list, int version)
{
	struct mmig__ynode *c = mmig__ynode_new_map(u->d);

	if (!c || mmig__ynode_map_add(u->d, c, "version",
				      mmig__ynode_new_int(u->d, version)) ||
	    mmig__ynode_map_add(u->d, c, list, mmig__ynode_new_seq(u->d))) {
		u_oom(u);
		return NULL;
	}
	return c;
}

typedef void (*up_item_fn)(struct up *u, struct mmig__ynode *item, int from);

/* Bring the collection @p c ({version, <list>: [...]}, may be NULL) to
 * @p to: each item through @p item; without one, @p same says whether
 * the items kept their shape (else a collection with items stays).  The
 * items of a collection already at @p to go through @p item too: they can
 * hold older nested collections (a version-12 model's applications are at
 * 14, their resources at 1). */
static void
u_coll(struct up *u, struct mmig__ynode *c, const char *list, int to,
       up_item_fn item, bool same)
{
	struct mmig__ynode *l, *x;
	int from;

	if (!c || c->kind != MMIG__Y_MAP || u->rc)
		return;
	from = u_version(c);
	if (from == 0 || from > to)
		return;
	l = mmig__ynode_get(c, list);
	if (from < to && l && l->kind == MMIG__Y_SEQ && l->n && !item &&
	    !same) {
		u->left++;
		return;
	}
	if (l && l->kind == MMIG__Y_SEQ && item)
		for (x = l->first; x && !u->rc; x = x->next)
			if (x->kind == MMIG__Y_MAP)
				item(u, x, from);
	if (from < to)
		u_set_version(u, c, to);
}

/* Status {version, status: {value, message, data, updated}}: version 2
 * adds "neverset" (status.go statusV2Fields, default false; written by
 * newStatus without omitempty). */
static void
u_point(struct up *u, struct mmig__ynode *p, int from)
{
	if (from < 2 && p && p->kind == MMIG__Y_MAP)
		u_ensure(u, p, "neverset", mmig__ynode_new_bool(u->d, false));
}

static void
u_status(struct up *u, struct mmig__ynode *st)
{
	if (!st || st->kind != MMIG__Y_MAP || u_version(st) != 1)
		return;
	u_point(u, mmig__ynode_get(st, "status"), 1);
	u_set_version(u, st, 2);
}

/* Status history {version, history: [points]}: the same change per point
 * (status.go importStatusList with statusV2Fields). */
static void
u_history(struct up *u, struct mmig__ynode *h)
{
	u_coll(u, h, "history", 2, u_point, false);
}

/* Address version 2 adds "spaceid", default "" and written omitempty
 * (address.go importAddressV2): only the version changes. */
static void
u_address(struct up *u, struct mmig__ynode *a)
{
	if (a && a->kind == MMIG__Y_MAP && u_version(a) == 1)
		u_set_version(u, a, 2);
}

static void
u_addresses(struct up *u, struct mmig__ynode *list)
{
	struct mmig__ynode *x;

	if (!list || list->kind != MMIG__Y_SEQ)
		return;
	for (x = list->first; x; x = x->next)
		u_address(u, x);
}

/* Juju's series and the base each stands for (github.com/juju/os
 * series.GetOSFromSeries and SeriesVersion, which machine.go importMachine
 * used to make a version-3 "base" of a version 1-2 "series"). */
static const struct {
	const char *series, *base;
} series_base[] = {
	{"precise", "ubuntu@12.04"}, {"trusty", "ubuntu@14.04"},
	{"xenial", "ubuntu@16.04"},  {"artful", "ubuntu@17.10"},
	{"bionic", "ubuntu@18.04"},  {"cosmic", "ubuntu@18.10"},
	{"disco", "ubuntu@19.04"},   {"eoan", "ubuntu@19.10"},
	{"focal", "ubuntu@20.04"},   {"groovy", "ubuntu@20.10"},
	{"hirsute", "ubuntu@21.04"}, {"impish", "ubuntu@21.10"},
	{"jammy", "ubuntu@22.04"},   {"kinetic", "ubuntu@22.10"},
	{"lunar", "ubuntu@23.04"},   {"mantic", "ubuntu@23.10"},
	{"noble", "ubuntu@24.04"},   {"oracular", "ubuntu@24.10"},
	{"centos7", "centos@7"},     {"centos8", "centos@8"},
	{"centos9", "centos@9"},
};

static const char *
base_of_series(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(series_base) / sizeof(series_base[0]); i++)
		if (strlen(series_base[i].series) == len &&
		    memcmp(series_base[i].series, s, len) == 0)
			return series_base[i].base;
	return NULL;
}

/* Agent tools: version 1's "tools-version" (2.1.0-xenial-amd64) names a
 * series where version 2's names the OS (2.1.0-ubuntu-amd64)
 * (machine.go importAgentToolsV2, newAgentTools). */
static void
u_tools(struct up *u, struct mmig__ynode *t)
{
	struct mmig__ynode *tv;
	const char *arch, *rel, *base, *at;
	char *s;

	if (!t || t->kind != MMIG__Y_MAP || u_version(t) != 1)
		return;
	tv = mmig__ynode_get(t, "tools-version");
	if (tv && tv->kind == MMIG__Y_STR && (arch = strrchr(tv->str, '-'))) {
		for (rel = arch; rel > tv->str && rel[-1] != '-'; rel--)
			;
		if (rel == tv->str) {
			u_fail(u, tv, "tools-version is not "
				      "version-series-arch");
			return;
		}
		base = base_of_series(rel, (size_t)(arch - rel));
		if (!base) {
			u_fail(u, tv, "tools-version names a series "
				      "juju/description has no OS for");
			return;
		}
		at = strchr(base, '@');
		s = mmig__asprintf("%.*s%.*s%s", (int)(rel - tv->str), tv->str,
				   (int)(at - base), base, arch);
		if (!s) {
			u_oom(u);
			return;
		}
		u_assign(u, tv, u_str(u, s));
		mmig__free(s);
	}
	u_set_version(u, t, 2);
}

/* Cloud instance 1 -> 6 (cloudinstance.go newCloudInstanceFromValid):
 * version 1's "status" was a string juju/description calls "exported
 * incorrectly" and replaces by a status of value "unknown" (the zero
 * time, as newStatus writes it); a non-empty string is kept as that
 * status's message.  Version 2 adds status-history (newStatusHistory);
 * 3-6 add charm-profiles, modification-status, root-disk-source and
 * virt-type, all written omitempty. */
static void
u_instance(struct up *u, struct mmig__ynode *in)
{
	struct mmig__ynode *st, *p, *old;
	int from;

	if (!in || in->kind != MMIG__Y_MAP || !(from = u_version(in)) ||
	    from >= 6)
		return;
	if (from == 1) {
		old = mmig__ynode_get(in, "status");
		st = mmig__ynode_new_map(u->d);
		p = mmig__ynode_new_map(u->d);
		if (!st || !p || mmig__ynode_map_add(u->d, st, "version",
						     mmig__ynode_new_int(u->d, 2)) ||
		    mmig__ynode_map_add(u->d, p, "value", u_str(u, "unknown"))) {
			u_oom(u);
			return;
		}
		if (old && old->kind == MMIG__Y_STR && old->len &&
		    mmig__ynode_map_add(u->d, p, "message",
					mmig__ynode_copy(u->d, old))) {
			u_oom(u);
			return;
		}
		if (old && old->kind != MMIG__Y_STR) {
			u_fail(u, old, "a version-1 instance status is "
				       "a string");
			return;
		}
		if (mmig__ynode_map_add(u->d, p, "updated",
					u_str(u, "0001-01-01T00:00:00Z")) ||
		    mmig__ynode_map_add(u->d, p, "neverset",
					mmig__ynode_new_bool(u->d, false)) ||
		    mmig__ynode_map_add(u->d, st, "status", p)) {
			u_oom(u);
			return;
		}
		if (old)
			mmig__ynode_remove(old);
		if (mmig__ynode_map_add(u->d, in, "status", st)) {
			u_oom(u);
			return;
		}
		u_ensure(u, in, "status-history", u_new_coll(u, "history", 2));
	} else {
		u_status(u, mmig__ynode_get(in, "status"));
		u_history(u, mmig__ynode_get(in, "status-history"));
		u_status(u, mmig__ynode_get(in, "modification-status"));
	}
	u_set_version(u, in, 6);
}

/* Machine 1-2 -> 4 (machine.go importMachine, machineSchemaV3): "base"
 * made from "series" (which stays), and the nested versions brought up;
 * version 2 added opened-port-ranges (omitempty) and 4 nothing written.
 * Block devices 1 -> 2 add serial-id, omitempty (blockdevice.go). */
static void
u_machine(struct up *u, struct mmig__ynode *m, int from)
{
	struct mmig__ynode *s, *c;
	const char *base;

	if (from < 3 && !mmig__ynode_get(m, "base")) {
		s = mmig__ynode_get(m, "series");
		if (!s || s->kind != MMIG__Y_STR) {
			u_fail(u, s ? s : m, "a version-1 machine needs "
					     "a series");
			return;
		}
		if (!(base = base_of_series(s->str, s->len))) {
			u_fail(u, s, "series juju/description has no "
				     "base for");
			return;
		}
		u_ensure(u, m, "base", u_str(u, base));
	}
	u_status(u, mmig__ynode_get(m, "status"));
	u_history(u, mmig__ynode_get(m, "status-history"));
	u_instance(u, mmig__ynode_get(m, "instance"));
	u_tools(u, mmig__ynode_get(m, "tools"));
	u_addresses(u, mmig__ynode_get(m, "provider-addresses"));
	u_addresses(u, mmig__ynode_get(m, "machine-addresses"));
	u_address(u, mmig__ynode_get(m, "preferred-public-address"));
	u_address(u, mmig__ynode_get(m, "preferred-private-address"));
	u_coll(u, mmig__ynode_get(m, "block-devices"), "block-devices", 2,
	       NULL, true);
	c = mmig__ynode_get(m, "containers");
	if (c && c->kind == MMIG__Y_SEQ)
		for (c = c->first; c && !u->rc; c = c->next)
			if (c->kind == MMIG__Y_MAP)
				u_machine(u, c, from);
}

/* Unit 1 -> 3 (unit.go unitV2Fields, unitV3Fields): every added key is
 * optional and written omitempty; the nested versions come up: statuses,
 * histories, tools, unit resources 1 -> 2 (unitresources.go; items kept
 * only when there are none, their revision changed shape). */
static void
u_unit(struct up *u, struct mmig__ynode *un, int from)
{
	(void)from;
	u_status(u, mmig__ynode_get(un, "agent-status"));
	u_status(u, mmig__ynode_get(un, "workload-status"));
	u_history(u, mmig__ynode_get(un, "agent-status-history"));
	u_history(u, mmig__ynode_get(un, "workload-status-history"));
	u_history(u, mmig__ynode_get(un, "workload-version-history"));
	u_tools(u, mmig__ynode_get(un, "tools"));
	u_coll(u, mmig__ynode_get(un, "resources"), "resources", 2, NULL,
	       false);
}

/* Application 1-10 -> 14 (application.go importApplication): "type"
 * defaults to "iaas" (version 2); every other added key is optional and
 * written omitempty; "series" (dropped by version 9) stays.  Resources
 * 1 -> 2 as for units; units 1 -> 3. */
static void
u_app(struct up *u, struct mmig__ynode *a, int from)
{
	if (from < 2)
		u_ensure(u, a, "type", u_str(u, "iaas"));
	u_status(u, mmig__ynode_get(a, "status"));
	u_history(u, mmig__ynode_get(a, "status-history"));
	u_status(u, mmig__ynode_get(a, "operator-status"));
	u_tools(u, mmig__ynode_get(a, "tools"));
	u_coll(u, mmig__ynode_get(a, "resources"), "resources", 2, NULL, false);
	u_coll(u, mmig__ynode_get(a, "units"), "units", 3, u_unit, false);
}

/* Endpoint 1 -> 2 adds "application-settings" (endpoint.go
 * endpointV2Fields), written as an empty mapping when unset. */
static void
u_endpoint(struct up *u, struct mmig__ynode *e, int from)
{
	if (from < 2)
		u_ensure(u, e, "application-settings",
			 mmig__ynode_new_map(u->d));
}

/* Relation 1 -> 3 (relation.go relationV3Fields): "suspended" false and
 * "suspended-reason" "" (written without omitempty); version 2's status
 * is optional. */
static void
u_relation(struct up *u, struct mmig__ynode *r, int from)
{
	if (from < 3) {
		u_ensure(u, r, "suspended", mmig__ynode_new_bool(u->d, false));
		u_ensure(u, r, "suspended-reason", u_str(u, ""));
	}
	u_status(u, mmig__ynode_get(r, "status"));
	u_coll(u, mmig__ynode_get(r, "endpoints"), "endpoints", 2, u_endpoint,
	       false);
}

/* IP address 1 -> 5 (ipaddress.go ipAddressV2Schema .. V5Schema): the
 * added keys written without omitempty get their defaults. */
static void
u_ipaddr(struct up *u, struct mmig__ynode *a, int from)
{
	if (from < 2)
		u_ensure(u, a, "is-default-gateway",
			 mmig__ynode_new_bool(u->d, false));
	if (from < 3)
		u_ensure(u, a, "origin", u_str(u, ""));
	if (from < 4)
		u_ensure(u, a, "is-shadow", mmig__ynode_new_bool(u->d, false));
	if (from < 5)
		u_ensure(u, a, "is-secondary", mmig__ynode_new_bool(u->d, false));
}

/* Cloud credential 1 -> 2 (cloudcredential.go
 * importCloudCredentialHandler): "certificate" with a Token attribute
 * becomes "oauth2"; "oauth2withcert" becomes "clientcertificate" (with
 * ClientCertificateData and ClientKeyData) or "oauth2" (with Token).
 * juju/description then drops the other attributes; we keep them. */
static void
u_credential(struct up *u, struct mmig__ynode *c)
{
	struct mmig__ynode *at, *attrs;

	if (!c || c->kind != MMIG__Y_MAP || u_version(c) != 1)
		return;
	at = mmig__ynode_get(c, "auth-type");
	attrs = mmig__ynode_get(c, "attributes");
	if (at && at->kind == MMIG__Y_STR) {
		if (!strcmp(at->str, "certificate") &&
		    mmig__ynode_get(attrs, "Token")) {
			u_assign(u, at, u_str(u, "oauth2"));
		} else if (!strcmp(at->str, "oauth2withcert")) {
			if (mmig__ynode_get(attrs, "ClientCertificateData") &&
			    mmig__ynode_get(attrs, "ClientKeyData"))
				u_assign(u, at, u_str(u, "clientcertificate"));
			else if (mmig__ynode_get(attrs, "Token"))
				u_assign(u, at, u_str(u, "oauth2"));
			else {
				u_fail(u, at, "oauth2withcert without client "
					      "certificate or token");
				return;
			}
		}
	}
	u_set_version(u, c, 2);
}

/* Model-level collections: the current version NewModel's setX writes,
 * and whether the items kept their shape from version 1 on. */
static const struct {
	const char *key, *list;
	int version;
	bool same;
} model_colls[] = {
	{"users", "users", 1, true},
	{"spaces", "spaces", 3, false},
	{"subnets", "subnets", 6, false},
	/* setLinkLayerDevices writes 1. */
	{"link-layer-devices", "link-layer-devices", 1, true},
	{"ssh-host-keys", "ssh-host-keys", 1, true},
	/* Version 2 drops "series", which stays. */
	{"cloud-image-metadata", "cloudimagemetadata", 2, true},
	{"actions", "actions", 4, false},
	{"volumes", "volumes", 1, true},
	{"filesystems", "filesystems", 1, true},
	{"storages", "storages", 4, false},
	{"storage-pools", "pools", 1, true},
	{"remote-applications", "remote-applications", 3, false},
	{"remote-entities", "remote-entities", 1, true},
	{"relation-networks", "relation-networks", 1, true},
	{"firewall-rules", "firewall-rules", 1, true},
	{"offer-connections", "offer-connections", 1, true},
	{"external-controllers", "external-controllers", 1, true},
	{"operations", "operations", 2, false},
	{"secrets", "secrets", 2, false},
	{"remote-secrets", "remote-secrets", 1, true},
	{"virtual-host-keys", "virtual-host-keys", 1, true},
	{"authorized-keys", "users-authorized-keys", 1, true},
};

/* The model 1-13 -> 14 (model.go newModelFromValid, modelV2Fields ..
 * modelV14Fields; what NewModel and Serialize write for what it did not
 * read): type "iaas" (4), environ-version 0 (3), agent-version from the
 * config, or "" (11), the collections each version added, empty, at their
 * current version (setRemoteApplications ..  setAuthorizedKeys), an
 * empty sla and meter-status (2).  Version 13 added "authorized-keys"
 * (modelV13Fields; newModelFromValid reads it from importVersion 13 on,
 * NewModel writes it through setAuthorizedKeys at version 1): a
 * version-12 document gets it empty.  Version 14 dropped the model's
 * "status" and "status-history" (modelV14Fields): they stay, nothing read
 * is lost, and a current juju/description reads the document all the
 * same, since model.go checks it with schema.FieldMap, which is not
 * strict (github.com/juju/schema fieldmap.go fieldMapC.Coerce looks up
 * only the fields it knows; StrictFieldMap is the one that refuses an
 * unknown key).  The collections each of those versions left at an older
 * version (a version-12 document's spaces 2, storages 3, resources 1) come
 * up through the same table when they are empty; none has items in the
 * documents we have.  Applications, machines and relations already at the
 * current version are walked for their nested collections all the same. */
static void
u_model(struct up *u, struct mmig__ynode *root, int from)
{
	struct mmig__ynode *av, *sla, *ms;
	size_t i;

	u_coll(u, mmig__ynode_get(root, "machines"), "machines",
	       MMIG__JUJU_MACHINES_VERSION, u_machine, false);
	u_coll(u, mmig__ynode_get(root, "applications"), "applications",
	       MMIG__JUJU_APPLICATIONS_VERSION, u_app, false);
	u_coll(u, mmig__ynode_get(root, "relations"), "relations",
	       MMIG__JUJU_RELATIONS_VERSION, u_relation, false);
	if (from >= MMIG__JUJU_MODEL_VERSION)
		return;
	u_ensure(u, root, "type", u_str(u, "iaas"));
	av = mmig__ynode_get(mmig__ynode_get(root, "config"), "agent-version");
	/* model.go reads it from the config below 11 and Serialize writes
	 * the field without omitempty: "" when the config has none. */
	if (from < 11)
		u_ensure(u, root, "agent-version",
			 av && av->kind == MMIG__Y_STR
				 ? mmig__ynode_copy(u->d, av)
				 : u_str(u, ""));
	u_ensure(u, root, "environ-version", mmig__ynode_new_int(u->d, 0));
	u_coll(u, mmig__ynode_get(root, "ip-addresses"), "ip-addresses", 5,
	       u_ipaddr, false);
	u_credential(u, mmig__ynode_get(root, "cloud-credential"));
	for (i = 0; i < sizeof(model_colls) / sizeof(model_colls[0]); i++) {
		struct mmig__ynode *c = mmig__ynode_get(root, model_colls[i].key);

		if (c)
			u_coll(u, c, model_colls[i].list, model_colls[i].version,
			       NULL, model_colls[i].same);
		else
			u_ensure(u, root, model_colls[i].key,
				 u_new_coll(u, model_colls[i].list,
					    model_colls[i].version));
	}
	sla = mmig__ynode_new_map(u->d);
	if (!sla || mmig__ynode_map_add(u->d, sla, "level", u_str(u, "")) ||
	    mmig__ynode_map_add(u->d, sla, "owner", u_str(u, "")) ||
	    mmig__ynode_map_add(u->d, sla, "credentials", u_str(u, ""))) {
		u_oom(u);
		return;
	}
	u_ensure(u, root, "sla", sla);
	ms = mmig__ynode_new_map(u->d);
	if (!ms || mmig__ynode_map_add(u->d, ms, "code", u_str(u, "")) ||
	    mmig__ynode_map_add(u->d, ms, "info", u_str(u, ""))) {
		u_oom(u);
		return;
	}
	u_ensure(u, root, "meter-status", ms);
	u_set_version(u, root, MMIG__JUJU_MODEL_VERSION);
}

bool
mmig__juju_needs_upgrade(const struct mmig__juju_model *m)
{
	size_t i;

	if (m->version < MMIG__JUJU_MODEL_VERSION ||
	    m->machines_version < MMIG__JUJU_MACHINES_VERSION ||
	    m->applications_version < MMIG__JUJU_APPLICATIONS_VERSION ||
	    m->relations_version < MMIG__JUJU_RELATIONS_VERSION)
		return true;
	for (i = 0; i < m->n_apps; i++)
		if (m->apps[i].units_version < MMIG__JUJU_UNITS_VERSION)
			return true;
	for (i = 0; i < m->n_relations; i++)
		if (m->relations[i].endpoints_version <
		    MMIG__JUJU_ENDPOINTS_VERSION)
			return true;
	return false;
}

int
mmig__juju_upgrade(struct mmig__ydoc *d, size_t *left, char **errmsg)
{
	struct up u = {.d = d};
	struct mmig__ynode *root = mmig__ydoc_root(d);

	if (errmsg)
		*errmsg = NULL;
	if (left)
		*left = 0;
	if (!root || root->kind != MMIG__Y_MAP)
		return MMIG_EINVAL;
	u_model(&u, root, u_version(root));
	if (left)
		*left = u.left;
	if (errmsg)
		*errmsg = u.err;
	else
		mmig__free(u.err);
	return u.rc;
}
