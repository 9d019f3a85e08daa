/*
 * domain/bundle.c - a published Juju bundle expanded into a topology
 * (bundle-int.h), at any scale.
 *
 * Owns mmig__bundle_topo().  The rules are Juju's own, as its charm
 * package reads a bundle (BundleData, ParsePlacement, verifyPlacement):
 *  - A placement is (<container>:)?(<application>(/<unit>)?|<machine>|new).
 *    The n-th directive of `to` places the n-th unit; when there are fewer
 *    directives than units the last one is repeated, and when there are
 *    none every unit goes to a new machine.  An application without a unit
 *    number means one more than the previous directive naming that
 *    application, or unit 0.  A container type makes a new container there.
 *  - More directives than units, a machine the machines section lacks, an
 *    application the bundle lacks, a unit above the target's unit count,
 *    and a machine of the machines section nothing is placed on are errors.
 *  - Kubernetes bundles (`bundle: kubernetes`) use `scale` (or num_units);
 *    they have no machines section, their units have no machine, and their
 *    one `to` directive is a node selector.
 * What a bundle does not say and a charm's metadata would (which
 * applications are subordinates, which relations are container-scoped,
 * endpoint names, roles and interfaces, peer relations) is guessed the
 * same way every time; bundle-int.h lists the guesses.
 *
 * Scale N deploys the bundle N times side by side into the same
 * applications: copy c has its own machines of the machines section, its
 * units c*n .. c*n+n-1 of each application, and its placements refer to
 * its own machines and units.  Relations stay one per bundle relation.
 *
 * Everything is in document order or index order, and nothing here draws
 * from the seed: placement is fully determined by the bundle and the scale.
 */
#include "internal.h"
#include "bundle-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bundle is a few kilobytes and at most a few hundred applications,
 * machines and relations; anything far bigger is not one (and the guesses
 * below compare relations pairwise). */
#define BUNDLE_MAX_BYTES ((size_t)16 << 20)
#define BUNDLE_MAX_APPS 5000
#define BUNDLE_MAX_MACHINES 10000
#define BUNDLE_MAX_RELATIONS 5000

enum pkind { P_NEW, P_MACHINE, P_UNIT };

/* One parsed `to` directive. */
struct place {
	const struct mmig__ynode *node;
	/* NULL, "lxd" or "kvm". */
	const char *ctype;
	enum pkind kind;
	/* P_MACHINE: index into machines[]; P_UNIT: target application. */
	uint32_t target;
	/* P_UNIT: the unit number within one copy (implicit numbers
	 * resolved). */
	uint64_t unit;
	/* P_UNIT without a number: repeating it takes the next unit. */
	bool implicit;
};

struct bmachine {
	const struct mmig__ynode *node;
	uint64_t num;
	const char *constraints;
	const char *base;
	uint64_t refs;
	/* Topology index of this machine in each copy. */
	uint32_t *topo;
};

struct bapp {
	const struct mmig__ynode *node;
	const char *name;
	/* Units in one copy. */
	uint64_t n;
	bool has_num;
	bool subordinate;
	struct place *to;
	size_t n_to;
	bool placed;
	/* Topology index of each of its principal units (n * scale). */
	uint32_t *units;
};

struct brel {
	const struct mmig__ynode *node;
	uint32_t app[2];
	/* NULL when left out. */
	const char *name[2];
	const struct mmig__ynode *ep_node[2];
};

struct byname {
	const char *name;
	uint32_t i;
};

struct bundle {
	struct mmig__topo *t;
	struct mmig__ydoc *doc;
	uint64_t scale;
	bool caas;
	struct bmachine *machines;
	size_t n_machines;
	struct bapp *apps;
	size_t n_apps;
	/* The applications sorted by name, for find_app(). */
	struct byname *by_name;
	struct brel *rels;
	size_t n_rels;
	/* Machines, units and relations made so far, against the limit. */
	uint64_t items;
	uint64_t max_items;
	/* The next top-level machine number. */
	uint64_t next_machine;
	char *err;
	int rc;
};

static int bfail(struct bundle *b, const struct mmig__ynode *at,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record the first error, a message about @p at; returns it. */
static int
bfail(struct bundle *b, const struct mmig__ynode *at, const char *fmt, ...)
{
	char *what, *msg;
	va_list ap;

	if (b->rc)
		return b->rc;
	va_start(ap, fmt);
	what = mmig__vasprintf(fmt, ap);
	va_end(ap);
	if (!what)
		return b->rc = MMIG_ENOMEM;
	msg = at ? mmig__ynode_errmsg(at, "%s", what) : mmig__strdup(what);
	mmig__free(what);
	if (!msg)
		return b->rc = MMIG_ENOMEM;
	b->err = msg;
	return b->rc = MMIG_EMODEL;
}

static int
oom(struct bundle *b)
{
	if (!b->rc)
		b->rc = MMIG_ENOMEM;
	return b->rc;
}

/* One more machine, unit or relation, refused past the import limit. */
static int
count_item(struct bundle *b, const struct mmig__ynode *at)
{
	if (++b->items > b->max_items)
		return bfail(b, at,
			     "at scale %" PRIu64 " the model has more than "
			     "%" PRIu64 " machines, units and relations "
			     "together, which import refuses",
			     b->scale, b->max_items);
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Reading the bundle
 * ------------------------------------------------------------------------ */

/* The member @p key of @p map if it has kind @p kind (any scalar for
 * MMIG__Y_STR when @p any_scalar); an error when it has another. */
static const struct mmig__ynode *
member(struct bundle *b, const struct mmig__ynode *map, const char *key,
       unsigned kind)
{
	const struct mmig__ynode *n = mmig__ynode_get(map, key);

	if (!n || b->rc)
		return NULL;
	if (n->kind == MMIG__Y_NULL && kind != MMIG__Y_BOOL)
		return NULL;
	if (n->kind != kind) {
		bfail(b, n, "a %s, want a %s", mmig__ykind_name(n->kind),
		      mmig__ykind_name(kind));
		return NULL;
	}
	return n;
}

static const char *
member_str(struct bundle *b, const struct mmig__ynode *map, const char *key)
{
	const struct mmig__ynode *n = member(b, map, key, MMIG__Y_STR);

	return n ? n->str : NULL;
}

/* "0", "17": Juju's NumberSnippet, no leading zeros. */
static bool
is_number(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return true;
}

/* Juju's application names: [a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*,
 * i.e. lower-case words joined by single hyphens, no word all digits
 * after the first. */
static bool
is_app_name(const char *s, size_t len)
{
	size_t i = 0;
	bool letter;

	if (!len || len > MMIG_MODEL_DESC_MAX_NAME || s[0] < 'a' || s[0] > 'z')
		return false;
	while (i < len) {
		letter = false;
		if (i && s[i] == '-')
			i++;
		else if (i)
			return false;
		if (i == len)
			return false;
		for (; i < len && s[i] != '-'; i++) {
			if (s[i] >= 'a' && s[i] <= 'z')
				letter = true;
			else if (s[i] < '0' || s[i] > '9')
				return false;
		}
		if (!letter)
			return false;
	}
	return true;
}

/* strcmp of (s, len) against a NUL-terminated @p name. */
static int
cmp_name(const char *s, size_t len, const char *name)
{
	int c = strncmp(s, name, len);

	if (c)
		return c;
	return name[len] ? -1 : 0;
}

static int
find_app(const struct bundle *b, const char *name, size_t len)
{
	size_t lo = 0, hi = b->n_apps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_name(name, len, b->by_name[mid].name);

		if (!c)
			return (int)b->by_name[mid].i;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int
cmp_byname(const void *x, const void *y)
{
	return strcmp(((const struct byname *)x)->name,
		      ((const struct byname *)y)->name);
}

/* "noble" -> "ubuntu@24.04"; NULL for a series we do not know. */
static const char *
series_base(const char *series)
{
	static const char *const map[][2] = {
		{ "xenial", "ubuntu@16.04" }, { "bionic", "ubuntu@18.04" },
		{ "focal", "ubuntu@20.04" },  { "jammy", "ubuntu@22.04" },
		{ "noble", "ubuntu@24.04" },
	};
	size_t i;

	for (i = 0; i < MMIG_ARRAY_LEN(map); i++)
		if (!strcmp(map[i][0], series))
			return map[i][1];
	return NULL;
}

/* The base of a mapping with "base" or "series"; @p dflt when neither. */
static const char *
read_base(struct bundle *b, const struct mmig__ynode *map, const char *dflt)
{
	const struct mmig__ynode *n;
	const char *s;

	if ((s = member_str(b, map, "base")))
		return s;
	n = member(b, map, "series", MMIG__Y_STR);
	if (!n)
		return dflt;
	if (!(s = series_base(n->str)))
		bfail(b, n,
		      "unknown series \"%.32s\" (known: xenial, bionic, "
		      "focal, jammy, noble)",
		      n->str);
	return s;
}

/* The charm's name from "etcd", "ch:etcd", "cs:~user/xenial/etcd-12". */
static const char *
charm_name(struct bundle *b, const struct mmig__ynode *n)
{
	const char *s = n->str, *slash, *end;
	size_t len;

	if (!strncmp(s, "ch:", 3) || !strncmp(s, "cs:", 3))
		s += 3;
	if ((slash = strrchr(s, '/')))
		s = slash + 1;
	end = s + strlen(s);
	/* A trailing revision "-12". */
	for (len = (size_t)(end - s);
	     len && s[len - 1] >= '0' && s[len - 1] <= '9'; len--)
		;
	if (len && len < (size_t)(end - s) && s[len - 1] == '-')
		end = s + len - 1;
	if (!is_app_name(s, (size_t)(end - s))) {
		bfail(b, n,
		      "\"%.64s\" is not a charm name (a local charm "
		      "path is not supported)",
		      n->str);
		return NULL;
	}
	return mmig__topo_str(b->t, "%.*s", (int)(end - s), s);
}

static int
cmp_machine(const void *x, const void *y)
{
	const struct bmachine *a = x, *b = y;

	return a->num < b->num ? -1 : a->num > b->num;
}

static int
read_machines(struct bundle *b, const struct mmig__ynode *root)
{
	const struct mmig__ynode *ms = mmig__ynode_get(root, "machines"), *c;
	size_t i;

	if (!ms || ms->kind == MMIG__Y_NULL)
		return MMIG_OK;
	if (ms->kind != MMIG__Y_MAP)
		return bfail(b, ms, "a %s, want a mapping of machines",
			     mmig__ykind_name(ms->kind));
	if (b->caas && ms->n)
		return bfail(b, ms, "a Kubernetes bundle has no machines");
	if (!ms->n)
		return MMIG_OK;
	if (ms->n > BUNDLE_MAX_MACHINES)
		return bfail(b, ms, "more than %d machines",
			     BUNDLE_MAX_MACHINES);
	if (!(b->machines = mmig__calloc(ms->n, sizeof(*b->machines))))
		return oom(b);
	for (c = ms->first; c; c = c->next) {
		struct bmachine *m = &b->machines[b->n_machines];

		if (c->key_kind == MMIG__Y_STR ? !is_number(c->key, &m->num)
					       : (c->key_kind != MMIG__Y_INT ||
						  !is_number(c->key, &m->num)))
			return bfail(b, c,
				     "machine id \"%.32s\" is not a "
				     "number",
				     c->key);
		m->node = c;
		if (c->kind != MMIG__Y_NULL && c->kind != MMIG__Y_MAP)
			return bfail(b, c, "a %s, want a machine mapping",
				     mmig__ykind_name(c->kind));
		m->constraints = member_str(b, c, "constraints");
		m->base = read_base(b, c, b->t->base);
		if (b->rc)
			return b->rc;
		b->n_machines++;
	}
	/* In order of their numbers ("1" and "01" are one machine to
	 * YAML keys only if written alike: is_number() refuses "01"). */
	qsort(b->machines, b->n_machines, sizeof(*b->machines), cmp_machine);
	for (i = 1; i < b->n_machines; i++)
		if (b->machines[i].num == b->machines[i - 1].num)
			return bfail(b, b->machines[i].node,
				     "machine %" PRIu64 " twice",
				     b->machines[i].num);
	return MMIG_OK;
}

static int
find_machine(const struct bundle *b, uint64_t num)
{
	size_t lo = 0, hi = b->n_machines;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->machines[mid].num == num)
			return (int)mid;
		if (b->machines[mid].num > num)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* One directive, syntax and targets; implicit unit numbers are resolved
 * by the caller. */
static int
parse_place(struct bundle *b, const struct mmig__ynode *n, struct place *p)
{
	const char *s = n->str, *colon = strchr(s, ':'), *slash;
	uint64_t v = 0; /* set when the placement names a unit */
	int a, mi;

	p->node = n;
	p->ctype = NULL;
	if (colon) {
		size_t tl = (size_t)(colon - s);

		if (tl == 3 && !strncmp(s, "lxd", 3))
			p->ctype = "lxd";
		else if (tl == 3 && !strncmp(s, "kvm", 3))
			p->ctype = "kvm";
		else
			return bfail(b, n,
				     "placement \"%.64s\": unknown "
				     "container type \"%.*s\" (lxd or "
				     "kvm)",
				     s, (int)(tl > 16 ? 16 : tl), s);
		s = colon + 1;
	}
	if (!strcmp(s, "new")) {
		p->kind = P_NEW;
		return MMIG_OK;
	}
	if (is_number(s, &v)) {
		if ((mi = find_machine(b, v)) < 0)
			return bfail(b, n,
				     "placement \"%.64s\" refers to "
				     "machine %" PRIu64 ", which the "
				     "machines section does not have",
				     n->str, v);
		p->kind = P_MACHINE;
		p->target = (uint32_t)mi;
		b->machines[mi].refs++;
		return MMIG_OK;
	}
	slash = strchr(s, '/');
	/* "new/1" is no placement (Juju's ParsePlacement refuses it). */
	if (!is_app_name(s, slash ? (size_t)(slash - s) : strlen(s)) ||
	    (slash && !is_number(slash + 1, &v)) ||
	    (slash && slash - s == 3 && !strncmp(s, "new", 3)))
		return bfail(b, n,
			     "\"%.64s\" is not a placement "
			     "([lxd:|kvm:](new|MACHINE|APP[/UNIT]))",
			     n->str);
	a = find_app(b, s, slash ? (size_t)(slash - s) : strlen(s));
	if (a < 0)
		return bfail(b, n,
			     "placement \"%.64s\" refers to an "
			     "application the bundle does not have",
			     n->str);
	p->kind = P_UNIT;
	p->target = (uint32_t)a;
	p->implicit = !slash;
	p->unit = slash ? v : 0;
	return MMIG_OK;
}

static int
read_apps(struct bundle *b, const struct mmig__ynode *root)
{
	const struct mmig__ynode *as = mmig__ynode_get(root, "applications");
	const struct mmig__ynode *c, *n;
	struct mmig__topo_app *ta;
	size_t i;

	if (!as)
		as = mmig__ynode_get(root, "services");
	if (!as)
		return bfail(b, root, "no \"applications\"");
	if (as->kind != MMIG__Y_MAP || !as->n)
		return bfail(b, as,
			     "want a mapping of at least one "
			     "application");
	if (as->n > BUNDLE_MAX_APPS)
		return bfail(b, as, "more than %d applications",
			     BUNDLE_MAX_APPS);
	if (!(b->apps = mmig__calloc(as->n, sizeof(*b->apps))) ||
	    !(b->by_name = mmig__calloc(as->n, sizeof(*b->by_name))))
		return oom(b);
	/* Names first: placements may name any application. */
	for (c = as->first; c; c = c->next) {
		if (c->key_kind != MMIG__Y_STR ||
		    !is_app_name(c->key, c->key_len))
			return bfail(b, c,
				     "\"%.64s\" is not an application "
				     "name",
				     c->key);
		if (c->kind != MMIG__Y_MAP)
			return bfail(b, c, "a %s, want an application mapping",
				     mmig__ykind_name(c->kind));
		b->apps[b->n_apps].node = c;
		b->by_name[b->n_apps] =
			(struct byname){ c->key, (uint32_t)b->n_apps };
		b->apps[b->n_apps++].name = c->key;
	}
	/* The parser refused duplicate keys: names are unique. */
	qsort(b->by_name, b->n_apps, sizeof(*b->by_name), cmp_byname);
	if (mmig__ynode_get(root, "saas")) {
		for (c = mmig__ynode_get(root, "saas")->first; c; c = c->next)
			if (find_app(b, c->key, c->key_len) >= 0)
				return bfail(b, c,
					     "application \"%.64s\" is "
					     "also a SAAS offer",
					     c->key);
	}
	for (i = 0; i < b->n_apps; i++) {
		struct bapp *a = &b->apps[i];
		const struct mmig__ynode *nu, *sc, *to;
		const char *base;

		c = a->node;
		if (!(ta = mmig__topo_add_app(b->t)))
			return oom(b);
		ta->name = a->name;
		n = member(b, c, "charm", MMIG__Y_STR);
		if (!n && !b->rc)
			return bfail(b, c, "no \"charm\"");
		if (!n || !(ta->charm = charm_name(b, n)))
			return b->rc ? b->rc : oom(b);
		ta->channel = member_str(b, c, "channel");
		n = member(b, c, "revision", MMIG__Y_INT);
		ta->revision = n ? n->v.i : -1;
		if (n && n->v.i < 0)
			return bfail(b, n, "a revision is a number >= 0");
		ta->constraints = member_str(b, c, "constraints");
		base = read_base(b, c, b->t->base);
		ta->base = base;
		ta->options = member(b, c, "options", MMIG__Y_MAP);
		n = member(b, c, "expose", MMIG__Y_BOOL);
		ta->expose = n && n->v.b;
		n = member(b, c, "trust", MMIG__Y_BOOL);
		ta->trust = n && n->v.b;
		nu = member(b, c, "num_units", MMIG__Y_INT);
		sc = member(b, c, "scale", MMIG__Y_INT);
		if (b->rc)
			return b->rc;
		if ((nu && nu->v.i < 0) || (sc && sc->v.i < 0))
			return bfail(b, nu && nu->v.i < 0 ? nu : sc,
				     "a negative number of units");
		if (nu && sc && nu->v.i > 0 && sc->v.i > 0)
			return bfail(b, sc,
				     "cannot specify both scale and "
				     "num_units for application %s",
				     a->name);
		a->has_num = nu || sc;
		a->n = (uint64_t)(sc && sc->v.i > 0 ? sc->v.i
				  : nu		    ? nu->v.i
						    : 0);
		if (member(b, c, "placement", MMIG__Y_STR) && !b->caas)
			return bfail(b, mmig__ynode_get(c, "placement"),
				     "placement is for Kubernetes bundles");
		to = mmig__ynode_get(c, "to");
		if (!to || to->kind == MMIG__Y_NULL)
			continue;
		if (to->kind != MMIG__Y_SEQ)
			return bfail(b, to, "a %s, want a list of placements",
				     mmig__ykind_name(to->kind));
		if (b->caas) {
			/* A node selector: nothing to place. */
			if (to->n > 1)
				return bfail(b, to,
					     "too many placement "
					     "directives for "
					     "application %s",
					     a->name);
			continue;
		}
		if (to->n > a->n)
			return bfail(b, to,
				     "too many units specified in unit "
				     "placement for application %s "
				     "(%" PRIu32 " for %" PRIu64 ")",
				     a->name, to->n, a->n);
		if (to->n && !(a->to = mmig__calloc(to->n, sizeof(*a->to))))
			return oom(b);
		for (n = to->first; n; n = n->next) {
			if (n->kind == MMIG__Y_SEQ || n->kind == MMIG__Y_MAP ||
			    n->kind == MMIG__Y_NULL)
				return bfail(b, n, "a %s, want a placement",
					     mmig__ykind_name(n->kind));
			if (parse_place(b, n, &a->to[a->n_to]))
				return b->rc;
			a->n_to++;
		}
	}
	return b->rc;
}

/* Implicit unit numbers ("app" = one more than the previous directive
 * naming app, or 0) and every unit number against its target's count. */
static int
resolve_units(struct bundle *b)
{
	int64_t *last = mmig__calloc(b->n_apps, sizeof(*last));
	size_t i, k;

	if (!last)
		return oom(b);
	for (i = 0; i < b->n_apps; i++)
		last[i] = -1;
	for (i = 0; i < b->n_apps && !b->rc; i++) {
		struct bapp *a = &b->apps[i];

		for (k = 0; k < a->n_to; k++) {
			struct place *p = &a->to[k];

			if (p->kind != P_UNIT)
				continue;
			if (p->implicit)
				p->unit = (uint64_t)(last[p->target] + 1);
			last[p->target] = (int64_t)p->unit;
			if (p->unit >= b->apps[p->target].n) {
				bfail(b, p->node,
				      "placement \"%.64s\" specifies unit "
				      "%" PRIu64 " of %s, which starts %" PRIu64
				      " unit(s)",
				      p->node->str, p->unit,
				      b->apps[p->target].name,
				      b->apps[p->target].n);
				break;
			}
		}
		/* Only this application's directives count. */
		for (k = 0; k < a->n_to; k++)
			if (a->to[k].kind == P_UNIT)
				last[a->to[k].target] = -1;
	}
	mmig__free(last);
	return b->rc;
}

/* "app:endpoint" or "app". */
static int
parse_endpoint(struct bundle *b, const struct mmig__ynode *n, struct brel *r,
	       int side)
{
	const char *s = n->str, *colon;
	const char *name;
	size_t alen;
	int a;

	if (n->kind == MMIG__Y_SEQ || n->kind == MMIG__Y_MAP ||
	    n->kind == MMIG__Y_NULL)
		return bfail(b, n, "a %s, want \"application:endpoint\"",
			     mmig__ykind_name(n->kind));
	colon = strchr(s, ':');
	alen = colon ? (size_t)(colon - s) : strlen(s);
	a = find_app(b, s, alen);
	if (a < 0) {
		const struct mmig__ynode *saas = NULL;

		/* The root of the node's tree holds "saas". */
		for (saas = n; saas->parent; saas = saas->parent)
			;
		saas = mmig__ynode_get(saas, "saas");
		if (saas && mmig__ynode_get(saas, s))
			return bfail(b, n,
				     "relation to SAAS offer \"%.64s\": "
				     "offers are not supported",
				     s);
		return bfail(b, n,
			     "relation endpoint \"%.64s\" refers to an "
			     "application the bundle does not have",
			     s);
	}
	name = NULL;
	if (colon) {
		const char *e = colon + 1;
		size_t i, len = strlen(e);

		if (!len || len > MMIG_MODEL_DESC_MAX_NAME || e[0] < 'a' ||
		    e[0] > 'z')
			return bfail(b, n, "\"%.64s\" is not an endpoint name",
				     e);
		for (i = 0; i < len; i++)
			if (!((e[i] >= 'a' && e[i] <= 'z') ||
			      (e[i] >= '0' && e[i] <= '9') || e[i] == '-' ||
			      e[i] == '_'))
				return bfail(b, n,
					     "\"%.64s\" is not an "
					     "endpoint name",
					     e);
		name = e;
	}
	r->app[side] = (uint32_t)a;
	r->name[side] = name;
	r->ep_node[side] = n;
	return MMIG_OK;
}

static int
read_relations(struct bundle *b, const struct mmig__ynode *root)
{
	const struct mmig__ynode *rs = mmig__ynode_get(root, "relations"), *c;

	if (!rs || rs->kind == MMIG__Y_NULL)
		return MMIG_OK;
	if (rs->kind != MMIG__Y_SEQ)
		return bfail(b, rs, "a %s, want a list of relations",
			     mmig__ykind_name(rs->kind));
	if (rs->n > BUNDLE_MAX_RELATIONS)
		return bfail(b, rs, "more than %d relations",
			     BUNDLE_MAX_RELATIONS);
	if (rs->n && !(b->rels = mmig__calloc(rs->n, sizeof(*b->rels))))
		return oom(b);
	for (c = rs->first; c; c = c->next) {
		struct brel *r = &b->rels[b->n_rels];

		if (c->kind != MMIG__Y_SEQ || c->n != 2)
			return bfail(b, c,
				     "a relation is a list of two "
				     "endpoints");
		r->node = c;
		if (parse_endpoint(b, c->first, r, 0) ||
		    parse_endpoint(b, c->first->next, r, 1))
			return b->rc;
		if (r->app[0] == r->app[1])
			return bfail(b, c, "relation relates %s to itself",
				     b->apps[r->app[0]].name);
		b->n_rels++;
		if (count_item(b, c))
			return b->rc;
	}
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Guesses where a charm's metadata would tell
 * ------------------------------------------------------------------------ */

/* Endpoint names whose relations are container-scoped in the charms that
 * use them (a subordinate attaches to its principal through them). */
static bool
container_name(const char *name)
{
	static const char *const names[] = {
		"juju-info",
		"cni",
		"container-runtime",
		"containerd",
		"nrpe-external-master",
		"general-info",
		"local-monitors",
		"ha",
		"cos-agent",
		"beats-host",
		"logging",
	};
	size_t i;

	for (i = 0; name && i < MMIG_ARRAY_LEN(names); i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Subordinates: no num_units, no placement, related to an application
 * that is not such a candidate itself. */
static void
find_subordinates(struct bundle *b)
{
	size_t i;

	if (b->caas)
		return;
	for (i = 0; i < b->n_rels; i++) {
		const struct brel *r = &b->rels[i];
		const struct bapp *x = &b->apps[r->app[0]];
		const struct bapp *y = &b->apps[r->app[1]];
		bool cx = !x->has_num && !x->n_to, cy = !y->has_num && !y->n_to;

		if (cx && !cy)
			b->apps[r->app[0]].subordinate = true;
		if (cy && !cx)
			b->apps[r->app[1]].subordinate = true;
	}
	for (i = 0; i < b->n_apps; i++)
		b->t->apps[i].subordinate = b->apps[i].subordinate;
}

/* Name the endpoints a relation leaves out: after the other side's name;
 * when both are left out, juju-info between a subordinate and a principal
 * (how a subordinate attaches when its charm says nothing more), else
 * after the endpoint in most named relations of the second application
 * (else the first), else after the second application's charm. */
static int
name_endpoints(struct bundle *b)
{
	size_t i, j, *deg;
	int s, k;

	/* How many relations name each named endpoint. */
	if (!(deg = mmig__calloc(2 * b->n_rels + 1, sizeof(*deg))))
		return oom(b);
	for (i = 0; i < b->n_rels; i++)
		for (s = 0; s < 2; s++) {
			const struct brel *r = &b->rels[i];

			if (!r->name[s])
				continue;
			for (j = 0; j < b->n_rels; j++)
				for (k = 0; k < 2; k++)
					if (b->rels[j].app[k] == r->app[s] &&
					    b->rels[j].name[k] &&
					    !strcmp(b->rels[j].name[k],
						    r->name[s]))
						deg[2 * i + (size_t)s]++;
		}
	for (i = 0; i < b->n_rels; i++) {
		struct brel *r = &b->rels[i];
		const char *best = NULL;
		size_t best_deg = 0;

		if (r->name[0] && r->name[1])
			continue;
		if (r->name[0] || r->name[1]) {
			r->name[r->name[0] ? 1 : 0] =
				r->name[r->name[0] ? 0 : 1];
			continue;
		}
		if (b->apps[r->app[0]].subordinate !=
		    b->apps[r->app[1]].subordinate)
			best = "juju-info";
		for (s = 1; s >= 0 && !best; s--)
			for (j = 0; j < b->n_rels; j++)
				for (k = 0; k < 2; k++)
					if (b->rels[j].app[k] == r->app[s] &&
					    deg[2 * j + (size_t)k] > best_deg) {
						best_deg =
							deg[2 * j + (size_t)k];
						best = b->rels[j].name[k];
					}
		if (!best)
			best = b->t->apps[r->app[1]].charm;
		r->name[0] = r->name[1] = best;
	}
	mmig__free(deg);
	/* The same pair of endpoints twice, in either order. */
	for (i = 0; i < b->n_rels; i++)
		for (j = 0; j < i; j++) {
			const struct brel *x = &b->rels[i], *y = &b->rels[j];

			for (s = 0; s < 2; s++)
				if (x->app[0] == y->app[s] &&
				    x->app[1] == y->app[1 - s] &&
				    !strcmp(x->name[0], y->name[s]) &&
				    !strcmp(x->name[1], y->name[1 - s]))
					return bfail(b, x->node,
						     "relation %s:%s %s:%s is "
						     "defined more than once",
						     b->apps[x->app[0]].name,
						     x->name[0],
						     b->apps[x->app[1]].name,
						     x->name[1]);
		}
	return MMIG_OK;
}

/* Is relation @p r container-scoped?  A subordinate and a principal, and
 * a known container endpoint name -- or the subordinate has no such
 * relation to any principal at all (it must attach somehow). */
static bool
rel_container(const struct bundle *b, const struct brel *r)
{
	const struct bapp *x = &b->apps[r->app[0]], *y = &b->apps[r->app[1]];
	uint32_t sub;
	size_t i;

	if (x->subordinate == y->subordinate)
		return false;
	if (container_name(r->name[0]) || container_name(r->name[1]))
		return true;
	sub = x->subordinate ? r->app[0] : r->app[1];
	for (i = 0; i < b->n_rels; i++) {
		const struct brel *q = &b->rels[i];

		if ((q->app[0] == sub || q->app[1] == sub) &&
		    b->apps[q->app[0]].subordinate !=
			    b->apps[q->app[1]].subordinate &&
		    (container_name(q->name[0]) || container_name(q->name[1])))
			return false;
	}
	return true;
}

/* Charms whose metadata has a peer relation, with its name and
 * interface. */
static const char *const peer_charms[][3] = {
	{ "etcd", "cluster", "etcd" },
	{ "mysql", "cluster", "mysql-ha" },
	{ "mysql-k8s", "database-peers", "mysql_peers" },
	{ "mysql-router", "cluster", "mysql-router-peers" },
	{ "postgresql", "database-peers", "postgresql_peers" },
	{ "postgresql-k8s", "database-peers", "postgresql_peers" },
	{ "rabbitmq-server", "cluster", "rabbitmq-ha" },
	{ "ceph-mon", "mon", "ceph" },
	{ "percona-cluster", "cluster", "percona-cluster" },
	{ "mongodb", "replica-set", "mongodb-replica-set" },
	{ "kafka", "cluster", "cluster" },
	{ "zookeeper", "zookeeper", "zookeeper" },
};

/* ------------------------------------------------------------------------
 * Expansion
 * ------------------------------------------------------------------------ */

static uint32_t
new_machine(struct bundle *b, const struct mmig__ynode *at, const char *base,
	    const char *constraints)
{
	struct mmig__topo *t = b->t;
	struct mmig__topo_machine *m;
	/* Top-level machines are numbered in order of creation. */
	uint64_t n = b->next_machine++;

	if (count_item(b, at))
		return MMIG__TOPO_NONE;
	if (!(m = mmig__topo_add_machine(t))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	m->parent = MMIG__TOPO_NONE;
	m->base = base;
	m->constraints = constraints;
	if (!(m->id = mmig__topo_str(t, "%" PRIu64, n))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	return (uint32_t)(t->n_machines - 1);
}

static uint32_t
new_container(struct bundle *b, const struct mmig__ynode *at, uint32_t host,
	      const char *ctype, const char *base)
{
	struct mmig__topo *t = b->t;
	struct mmig__topo_machine *m;
	uint32_t *counter, k;

	if (count_item(b, at))
		return MMIG__TOPO_NONE;
	if (!(m = mmig__topo_add_machine(t))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	counter = !strcmp(ctype, "lxd") ? &t->machines[host].n_lxd
					: &t->machines[host].n_kvm;
	k = (*counter)++;
	m->parent = host;
	m->ctype = ctype;
	m->base = base;
	if (!(m->id = mmig__topo_str(t, "%s/%s/%" PRIu32, t->machines[host].id,
				     ctype, k))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	return (uint32_t)(t->n_machines - 1);
}

static uint32_t
new_unit(struct bundle *b, const struct mmig__ynode *at, uint32_t app,
	 uint32_t machine, uint32_t principal)
{
	struct mmig__topo *t = b->t;
	struct mmig__topo_app *a = &t->apps[app];
	struct mmig__topo_unit *u;

	if (count_item(b, at))
		return MMIG__TOPO_NONE;
	if (!(u = mmig__topo_add_unit(t))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	u->app = app;
	u->machine = machine;
	u->principal = principal;
	if (!(u->name = mmig__topo_str(t, "%s/%" PRIu64, a->name,
				       a->n_units++))) {
		oom(b);
		return MMIG__TOPO_NONE;
	}
	return (uint32_t)(t->n_units - 1);
}

/* Place every unit of application @p i (its targets are placed). */
static int
place_app(struct bundle *b, uint32_t i)
{
	struct bapp *a = &b->apps[i];
	const struct mmig__topo_app *ta = &b->t->apps[i];
	uint64_t c, j, total = a->n * b->scale;

	if (!total) {
		a->placed = true;
		return MMIG_OK;
	}
	if (!(a->units = mmig__calloc(total, sizeof(*a->units))))
		return oom(b);
	for (c = 0; c < b->scale; c++) {
		for (j = 0; j < a->n; j++) {
			static const struct place fresh = { .kind = P_NEW };
			const struct place *p = j < a->n_to ? &a->to[j]
						: a->n_to ? &a->to[a->n_to - 1]
							  : &fresh;
			const struct mmig__ynode *at =
				p->node ? p->node : a->node;
			uint32_t host = MMIG__TOPO_NONE, m, u;

			if (b->caas) {
				m = MMIG__TOPO_NONE;
			} else {
				switch (p->kind) {
				case P_NEW:
					host = new_machine(
						b, at, ta->base,
						p->ctype ? NULL
							 : ta->constraints);
					break;
				case P_MACHINE:
					host = b->machines[p->target].topo[c];
					break;
				case P_UNIT: {
					const struct bapp *tg =
						&b->apps[p->target];
					uint64_t un = p->unit;

					/* A repeated "app": the next ones. */
					if (p->implicit && j >= a->n_to)
						un += j - (a->n_to - 1);
					if (un >= tg->n) {
						return bfail(
							b, at,
							"placement \"%.64s\" "
							"for unit %" PRIu64
							" of %s needs unit "
							"%" PRIu64 " of %s, "
							"which starts %" PRIu64
							" unit(s)",
							p->node->str, j,
							a->name, un, tg->name,
							tg->n);
					}
					if (tg->subordinate)
						return bfail(
							b, at,
							"placement \"%.64s\" "
							"refers to "
							"subordinate %s, "
							"whose units go with "
							"their principals",
							p->node->str, tg->name);
					host = b->t->units[tg->units[c * tg->n +
								     un]]
						       .machine;
					break;
				}
				}
				if (b->rc)
					return b->rc;
				m = host;
				if (p->ctype)
					m = new_container(b, at, host, p->ctype,
							  ta->base);
				if (b->rc)
					return b->rc;
			}
			u = new_unit(b, at, i, m, MMIG__TOPO_NONE);
			if (b->rc)
				return b->rc;
			a->units[c * a->n + j] = u;
		}
	}
	a->placed = true;
	return MMIG_OK;
}

static int
place_all(struct bundle *b)
{
	size_t i, k, left = 0;
	bool progress = true;

	/* The machines section, copy by copy, in order of their numbers. */
	for (i = 0; i < b->n_machines; i++) {
		struct bmachine *m = &b->machines[i];

		if (!m->refs)
			return bfail(b, m->node,
				     "machine %" PRIu64 " is not "
				     "referred to by a placement "
				     "directive",
				     m->num);
		if (!(m->topo = mmig__calloc(b->scale, sizeof(*m->topo))))
			return oom(b);
	}
	for (i = 0; i < b->scale * b->n_machines; i++) {
		struct bmachine *m = &b->machines[i % b->n_machines];
		uint32_t x = new_machine(b, m->node, m->base, m->constraints);

		if (b->rc)
			return b->rc;
		m->topo[i / b->n_machines] = x;
	}
	for (i = 0; i < b->n_apps; i++)
		if (!b->apps[i].subordinate)
			left++;
	/* Applications whose placement targets are placed, until none is
	 * left; a pass that places nothing is a cycle. */
	while (left && progress) {
		progress = false;
		for (i = 0; i < b->n_apps; i++) {
			struct bapp *a = &b->apps[i];
			bool ready = true;

			if (a->placed || a->subordinate)
				continue;
			for (k = 0; k < a->n_to && ready; k++)
				if (a->to[k].kind == P_UNIT &&
				    !b->apps[a->to[k].target].placed &&
				    !b->apps[a->to[k].target].subordinate)
					ready = false;
			if (!ready)
				continue;
			if (place_app(b, (uint32_t)i))
				return b->rc;
			progress = true;
			left--;
		}
	}
	if (left) {
		for (i = 0; i < b->n_apps && b->apps[i].placed; i++)
			;
		for (; i < b->n_apps; i++)
			if (!b->apps[i].placed && !b->apps[i].subordinate)
				break;
		return bfail(b, mmig__ynode_get(b->apps[i].node, "to"),
			     "the placements of %s and the applications it "
			     "refers to form a cycle",
			     b->apps[i].name);
	}
	return MMIG_OK;
}

/* One unit of each subordinate per unit of each principal it is related
 * to through a container-scoped relation, beside it; relations in bundle
 * order, a second one between the same two applications adds nothing. */
static int
place_subordinates(struct bundle *b, const bool *container)
{
	size_t r, q;
	uint64_t k;

	for (r = 0; r < b->n_rels; r++) {
		const struct brel *x = &b->rels[r];
		uint32_t sub, p;
		bool seen = false;

		if (!container[r])
			continue;
		sub = b->apps[x->app[0]].subordinate ? x->app[0] : x->app[1];
		p = sub == x->app[0] ? x->app[1] : x->app[0];
		for (q = 0; q < r && !seen; q++)
			seen = container[q] && ((b->rels[q].app[0] == sub &&
						 b->rels[q].app[1] == p) ||
						(b->rels[q].app[1] == sub &&
						 b->rels[q].app[0] == p));
		if (seen)
			continue;
		for (k = 0; k < b->apps[p].n * b->scale; k++) {
			uint32_t pu = b->apps[p].units[k];

			new_unit(b, x->node, sub, b->t->units[pu].machine, pu);
			if (b->rc)
				return b->rc;
		}
	}
	return MMIG_OK;
}

/* The relations, peers included, into the topology; roles guessed. */
static int
make_relations(struct bundle *b)
{
	struct mmig__topo *t = b->t;
	bool *container = NULL;
	const struct mmig__ynode **at = NULL;
	size_t i, k, cap = b->n_rels + b->n_apps;

	container = mmig__calloc(cap ? cap : 1, sizeof(*container));
	at = mmig__calloc(cap ? cap : 1, sizeof(*at));
	if (!container || !at)
		goto nomem;
	for (i = 0; i < b->n_rels; i++) {
		const struct brel *r = &b->rels[i];
		struct mmig__topo_relation *tr = mmig__topo_add_relation(t);

		if (!tr)
			goto nomem;
		tr->n = 2;
		for (k = 0; k < 2; k++) {
			tr->ep[k] =
				mmig__topo_endpoint(t, r->app[k], r->name[k]);
			if (tr->ep[k] == MMIG__TOPO_NONE)
				goto nomem;
		}
		container[i] = rel_container(b, r);
		at[i] = r->node;
	}
	if (place_subordinates(b, container))
		goto out;
	/* Peers: the charms known to have them, and any principal of more
	 * than one unit (high availability is what peers are for). */
	for (i = 0; i < b->n_apps; i++) {
		const struct mmig__topo_app *ta = &t->apps[i];
		const char *name = NULL, *iface = NULL;
		struct mmig__topo_relation *tr;
		uint32_t e;

		if (b->apps[i].subordinate)
			continue;
		for (k = 0; k < MMIG_ARRAY_LEN(peer_charms); k++)
			if (!strcmp(peer_charms[k][0], ta->charm)) {
				name = peer_charms[k][1];
				iface = peer_charms[k][2];
			}
		if (!name && b->apps[i].n >= 2) {
			name = "cluster";
			iface = mmig__topo_str(t, "%s-peers", ta->charm);
			if (!iface)
				goto nomem;
		}
		if (!name)
			continue;
		for (e = 0; e < t->n_endpoints; e++)
			if (t->endpoints[e].app == i &&
			    !strcmp(t->endpoints[e].name, name))
				break;
		/* The bundle uses the name already: no peer guessed. */
		if (e < t->n_endpoints)
			continue;
		if (count_item(b, b->apps[i].node))
			goto out;
		if ((e = mmig__topo_endpoint(t, (uint32_t)i, name)) ==
			    MMIG__TOPO_NONE ||
		    !(tr = mmig__topo_add_relation(t)))
			goto nomem;
		t->endpoints[e].role = "peer";
		t->endpoints[e].interface = iface;
		t->endpoints[e].scope = "global";
		tr->n = 1;
		tr->ep[0] = e;
		at[t->n_relations - 1] = b->apps[i].node;
	}
	if (mmig__topo_roles(t, container, at, &b->err))
		b->rc = b->err ? MMIG_EMODEL : MMIG_ENOMEM;
	goto out;
nomem:
	oom(b);
out:
	mmig__free(container);
	mmig__free(at);
	return b->rc;
}

/* Refuse early what would be over the import limits, before making it. */
static int
check_size(struct bundle *b, const struct mmig__ynode *root)
{
	const uint64_t max = b->max_items;
	uint64_t units = 0, per;
	size_t i;

	for (i = 0; i < b->n_apps; i++) {
		per = b->apps[i].n;
		if (per > max ||
		    (b->scale && per * b->scale / b->scale != per))
			per = max + 1;
		else
			per *= b->scale;
		units += per;
		if (units > max)
			break;
	}
	if (units > max ||
	    (b->n_machines &&
	     b->scale > max / b->n_machines))
		return bfail(b, root,
			     "at scale %" PRIu64 " the model has more than "
			     "%" PRIu64 " machines, units and relations "
			     "together, which import refuses",
			     b->scale, max);
	return MMIG_OK;
}

int
mmig__bundle_topo(const void *buf, size_t len,
		  const struct mmig__bundle_opts *o, struct mmig__topo **out,
		  char **errmsg)
{
	struct mmig__yaml_limits lim = {
		.max_bytes = BUNDLE_MAX_BYTES,
		.max_alias_nodes = o ? o->max_alias_nodes : 0,
	};
	struct bundle b = {
		.scale = o && o->scale ? o->scale : 1,
		.max_items = o && o->max_items &&
				     o->max_items < MMIG_MODEL_DESC_MAX_ITEMS
			     ? o->max_items
			     : MMIG_MODEL_DESC_MAX_ITEMS,
	};
	const struct mmig__ynode *root, *n;
	const char *name;
	size_t i;

	if (errmsg)
		*errmsg = NULL;
	if (!out || (!buf && len))
		return MMIG_EINVAL;
	*out = NULL;
	if (len > BUNDLE_MAX_BYTES) {
		b.rc = MMIG_EMODEL;
		b.err = mmig__asprintf("a bundle of %zu bytes; more than %zu "
				       "is not a bundle",
				       len, BUNDLE_MAX_BYTES);
		if (!b.err)
			b.rc = MMIG_ENOMEM;
		goto done;
	}
	b.rc = mmig__yaml_parse(buf, len, MMIG__YAML_ALLOW_ALIASES, &lim,
				&b.doc, &b.err);
	if (b.rc)
		goto done;
	/* The topology keeps strings and option nodes of the bundle's
	 * document, and makes its own in it. */
	if (!(b.t = mmig__calloc(1, sizeof(*b.t)))) {
		oom(&b);
		goto done;
	}
	b.t->doc = b.doc;
	b.doc = NULL;
	/* The seed, the bundle's bytes and the scale make everything made
	 * up: two bundles (or two scales of one) expanded with one seed
	 * still get different model uuids. */
	{
		uint64_t h = 0xcbf29ce484222325u, st;
		size_t k;

		for (k = 0; k < len; k++)
			h = (h ^ ((const unsigned char *)buf)[k]) *
			    0x100000001b3u;
		st = (o ? o->seed : 0) ^ h;
		b.t->seed = mmig__topo_rand(&st) ^ b.scale;
	}
	root = mmig__ydoc_root(b.t->doc);
	if (root->kind != MMIG__Y_MAP) {
		bfail(&b, root, "a %s, want a bundle mapping",
		      mmig__ykind_name(root->kind));
		goto done;
	}
	n = member(&b, root, "bundle", MMIG__Y_STR);
	if (n && strcmp(n->str, "kubernetes"))
		bfail(&b, n,
		      "bundle has an invalid type \"%.32s\" (only "
		      "\"kubernetes\")",
		      n->str);
	b.caas = n != NULL;
	b.t->type = b.caas ? "caas" : "iaas";
	name = member_str(&b, root, "name");
	/* A model name: Juju's [a-z0-9][a-z0-9-]*. */
	if (name && strlen(name) <= MMIG_MODEL_DESC_MAX_NAME &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
		    strlen(name) &&
	    name[0] != '-' && name[0])
		b.t->name = name;
	else
		b.t->name = "bundle";
	if ((n = member(&b, root, "default-base", MMIG__Y_STR)))
		b.t->base = n->str;
	else
		b.t->base = read_base(&b, root, "ubuntu@22.04");
	if (b.rc)
		goto done;
	if (read_machines(&b, root) || read_apps(&b, root) ||
	    resolve_units(&b) || read_relations(&b, root) ||
	    check_size(&b, root))
		goto done;
	find_subordinates(&b);
	if (name_endpoints(&b) || place_all(&b) || make_relations(&b))
		goto done;
done:
	for (i = 0; b.machines && i < b.n_machines; i++)
		mmig__free(b.machines[i].topo);
	mmig__free(b.machines);
	for (i = 0; b.apps && i < b.n_apps; i++) {
		mmig__free(b.apps[i].to);
		mmig__free(b.apps[i].units);
	}
	mmig__free(b.apps);
	mmig__free(b.by_name);
	mmig__free(b.rels);
	if (b.rc) {
		mmig__topo_free(b.t);
		mmig__ydoc_free(b.doc);
		if (errmsg)
			*errmsg = b.err;
		else
			mmig__free(b.err);
		return b.rc;
	}
	*out = b.t;
	return MMIG_OK;
}
