/*
 * domain/bundle-model.c - topologies (bundle-int.h): their arrays, the
 * guessing of endpoint roles and interfaces, and a topology as a complete
 * juju/description model.
 *
 * Owns mmig__topo_*() and mmig_model_gen_bundle().  The model is shaped like what
 * juju/description's own Serialize writes (tests/data/juju/iaas-small.yaml
 * and caas-small.yaml are such documents): every machine, application,
 * unit and relation carries its status, status history, tools, addresses,
 * charm origin and metadata, and the model its users, credential, status
 * and the empty collections a real model has.  What is made up (uuid,
 * revisions, times, hashes) comes from the seed through splitmix64, so the
 * same input and seed give the same bytes.
 *
 * Sizes: what import would refuse (more machines, units and relations than
 * MMIG_MODEL_DESC_MAX_ITEMS, a document above the YAML reader's 1 GiB) is
 * refused here with a message instead of written.
 */
#include "internal.h"
#include "bundle-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The YAML reader's default input limit (yaml-doc-int.h). */
#define YAML_MAX_BYTES ((size_t)1 << 30)

#define AGENT_VERSION "3.6.14"

/* ------------------------------------------------------------------------
 * Topology arrays
 * ------------------------------------------------------------------------ */

/* Append one zeroed element to t->arr (n, cap), doubling; NULL when out of
 * memory. */
#define TOPO_ADD(t, arr, n, cap)                                               \
	do {                                                                   \
		if ((t)->n == (t)->cap) {                                      \
			size_t nc_ = (t)->cap ? (t)->cap * 2 : 64;             \
			void *a_ = mmig__realloc((t)->arr,                     \
						 nc_ * sizeof(*(t)->arr));     \
			if (!a_)                                               \
				return NULL;                                   \
			(t)->arr = a_;                                         \
			(t)->cap = nc_;                                        \
		}                                                              \
		memset(&(t)->arr[(t)->n], 0, sizeof(*(t)->arr));               \
		return &(t)->arr[(t)->n++];                                    \
	} while (0)

struct mmig__topo_machine *
mmig__topo_add_machine(struct mmig__topo *t)
{
	TOPO_ADD(t, machines, n_machines, cap_machines);
}

struct mmig__topo_unit *
mmig__topo_add_unit(struct mmig__topo *t)
{
	TOPO_ADD(t, units, n_units, cap_units);
}

struct mmig__topo_app *
mmig__topo_add_app(struct mmig__topo *t)
{
	TOPO_ADD(t, apps, n_apps, cap_apps);
}

struct mmig__topo_relation *
mmig__topo_add_relation(struct mmig__topo *t)
{
	TOPO_ADD(t, relations, n_relations, cap_relations);
}

const char *
mmig__topo_str(struct mmig__topo *t, const char *fmt, ...)
{
	struct mmig__ynode *n;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = mmig__vasprintf(fmt, ap);
	va_end(ap);
	if (!s)
		return NULL;
	n = mmig__ynode_new_str(t->doc, s, strlen(s));
	mmig__free(s);
	return n ? n->str : NULL;
}

static uint64_t
ep_hash(uint32_t app, const char *name)
{
	uint64_t h = 0xcbf29ce484222325u ^ app;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	return h ^ (h >> 29);
}

static int
ep_rehash(struct mmig__topo *t)
{
	size_t cap = t->ep_hash_cap ? t->ep_hash_cap * 2 : 256, i, h;
	uint32_t *a = mmig__calloc(cap, sizeof(*a));

	if (!a)
		return MMIG_ENOMEM;
	for (i = 0; i < t->n_endpoints; i++) {
		h = ep_hash(t->endpoints[i].app, t->endpoints[i].name) &
		    (cap - 1);
		while (a[h])
			h = (h + 1) & (cap - 1);
		a[h] = (uint32_t)i + 1;
	}
	mmig__free(t->ep_hash);
	t->ep_hash = a;
	t->ep_hash_cap = cap;
	return MMIG_OK;
}

uint32_t
mmig__topo_endpoint(struct mmig__topo *t, uint32_t app, const char *name)
{
	struct mmig__topo_endpoint *e;
	size_t h;

	if (2 * (t->n_endpoints + 1) > t->ep_hash_cap && ep_rehash(t))
		return MMIG__TOPO_NONE;
	h = ep_hash(app, name) & (t->ep_hash_cap - 1);
	while (t->ep_hash[h]) {
		e = &t->endpoints[t->ep_hash[h] - 1];
		if (e->app == app && !strcmp(e->name, name))
			return t->ep_hash[h] - 1;
		h = (h + 1) & (t->ep_hash_cap - 1);
	}
	if (t->n_endpoints == t->cap_endpoints) {
		size_t nc = t->cap_endpoints ? t->cap_endpoints * 2 : 64;
		void *a =
			mmig__realloc(t->endpoints, nc * sizeof(*t->endpoints));

		if (!a)
			return MMIG__TOPO_NONE;
		t->endpoints = a;
		t->cap_endpoints = nc;
	}
	t->endpoints[t->n_endpoints] =
		(struct mmig__topo_endpoint){ .app = app, .name = name };
	t->ep_hash[h] = (uint32_t)t->n_endpoints + 1;
	return (uint32_t)t->n_endpoints++;
}

void
mmig__topo_free(struct mmig__topo *t)
{
	if (!t)
		return;
	mmig__free(t->machines);
	mmig__free(t->apps);
	mmig__free(t->units);
	mmig__free(t->endpoints);
	mmig__free(t->relations);
	mmig__free(t->ep_hash);
	mmig__ydoc_free(t->doc);
	mmig__free(t);
}

uint64_t
mmig__topo_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------
 * Roles and interfaces
 * ------------------------------------------------------------------------ */

/* Interfaces of well-known endpoint names, where the name is not it. */
static const char *
known_interface(const char *name)
{
	static const char *const map[][2] = {
		{ "certificates", "tls-certificates" },
		{ "cni", "kubernetes-cni" },
		{ "container-runtime", "container-runtime" },
		{ "containerd", "container-runtime" },
		{ "juju-info", "juju-info" },
		{ "etcd", "etcd" },
		{ "lb-consumers", "loadbalancer" },
		{ "ingress", "ingress" },
		{ "nrpe-external-master", "nrpe-external-master" },
		{ "object-storage", "object-storage" },
	};
	size_t i;

	for (i = 0; i < MMIG_ARRAY_LEN(map); i++)
		if (!strcmp(map[i][0], name))
			return map[i][1];
	return NULL;
}

/* Does endpoint @p a beat @p b as its set's provider? */
static bool
better_root(const struct mmig__topo *t, const uint32_t *deg, uint32_t a,
	    uint32_t b)
{
	const struct mmig__topo_endpoint *x = &t->endpoints[a];
	const struct mmig__topo_endpoint *y = &t->endpoints[b];
	bool xi, yi;

	/* juju-info: every charm provides it, a subordinate requires it. */
	xi = !strcmp(x->name, "juju-info") && !t->apps[x->app].subordinate;
	yi = !strcmp(y->name, "juju-info") && !t->apps[y->app].subordinate;
	if (xi != yi)
		return xi;
	if (deg[a] != deg[b])
		return deg[a] > deg[b];
	return a < b;
}

int
mmig__topo_roles(struct mmig__topo *t, const bool *container,
		 const struct mmig__ynode *const *at, char **errmsg)
{
	size_t E = t->n_endpoints, R = t->n_relations, i, k, qh, qt, n;
	uint32_t *deg = NULL, *off = NULL, *adj = NULL, *arel = NULL;
	uint32_t *queue = NULL;
	unsigned char *color = NULL, *cont = NULL;
	int rc = MMIG_ENOMEM;

	if (errmsg)
		*errmsg = NULL;
	deg = mmig__calloc(E + 1, sizeof(*deg));
	off = mmig__calloc(E + 2, sizeof(*off));
	adj = mmig__calloc(2 * R + 1, sizeof(*adj));
	arel = mmig__calloc(2 * R + 1, sizeof(*arel));
	queue = mmig__calloc(E + 1, sizeof(*queue));
	color = mmig__calloc(E + 1, 1);
	cont = mmig__calloc(E + 1, 1);
	if (!deg || !off || !adj || !arel || !queue || !color || !cont)
		goto out;
	for (i = 0; i < R; i++) {
		const struct mmig__topo_relation *r = &t->relations[i];

		for (k = 0; k < r->n; k++)
			if (container && container[i])
				cont[r->ep[k]] = 1;
		if (r->n != 2)
			continue;
		deg[r->ep[0]]++;
		deg[r->ep[1]]++;
	}
	/* Adjacency, CSR: off[e] .. off[e + 1]. */
	for (i = 0; i < E; i++)
		off[i + 1] = off[i] + deg[i];
	for (i = 0; i < E; i++)
		queue[i] = off[i];
	for (i = 0; i < R; i++) {
		const struct mmig__topo_relation *r = &t->relations[i];

		if (r->n != 2)
			continue;
		for (k = 0; k < 2; k++) {
			adj[queue[r->ep[k]]] = r->ep[1 - k];
			arel[queue[r->ep[k]]++] = (uint32_t)i;
		}
	}
	for (i = 0; i < E; i++) {
		const char *iface = NULL;
		uint32_t root;

		if (t->endpoints[i].role || color[i] || !deg[i])
			continue;
		/* The connected set, by breadth first: its best root. */
		qh = qt = 0;
		queue[qt++] = (uint32_t)i;
		color[i] = 3;
		root = (uint32_t)i;
		while (qh < qt) {
			uint32_t e = queue[qh++];

			if (better_root(t, deg, e, root))
				root = e;
			for (k = off[e]; k < off[e + 1]; k++)
				if (!color[adj[k]]) {
					color[adj[k]] = 3;
					queue[qt++] = adj[k];
				}
		}
		n = qt;
		for (k = 0; k < n && !iface; k++)
			iface = known_interface(t->endpoints[queue[k]].name);
		if (!iface)
			iface = t->endpoints[root].name;
		for (k = 0; k < n; k++)
			color[queue[k]] = 0;
		/* Provider at the root, alternating outwards. */
		qh = qt = 0;
		queue[qt++] = root;
		color[root] = 1;
		while (qh < qt) {
			uint32_t e = queue[qh++];

			for (k = off[e]; k < off[e + 1]; k++) {
				uint32_t o = adj[k];

				if (!color[o]) {
					color[o] =
						(unsigned char)(3 - color[e]);
					queue[qt++] = o;
				} else if (color[o] == color[e]) {
					const struct mmig__topo_relation *r =
						&t->relations[arel[k]];
					const struct mmig__topo_endpoint *x =
						&t->endpoints[r->ep[0]];
					const struct mmig__topo_endpoint *y =
						&t->endpoints[r->ep[1]];
					const char *fmt =
						"relation %s:%s %s:%s: no "
						"roles give every relation "
						"of these endpoints a provider "
						"and a requirer";

					rc = MMIG_EMODEL;
					if (!errmsg)
						goto out;
					*errmsg =
						at && at[arel[k]]
							? mmig__ynode_errmsg(
								  at[arel[k]],
								  fmt,
								  t->apps[x->app]
									  .name,
								  x->name,
								  t->apps[y->app]
									  .name,
								  y->name)
							: mmig__asprintf(
								  fmt,
								  t->apps[x->app]
									  .name,
								  x->name,
								  t->apps[y->app]
									  .name,
								  y->name);
					if (!*errmsg)
						rc = MMIG_ENOMEM;
					goto out;
				}
			}
		}
		for (k = 0; k < qt; k++) {
			struct mmig__topo_endpoint *e = &t->endpoints[queue[k]];

			e->role =
				color[queue[k]] == 1 ? "provider" : "requirer";
			e->interface = iface;
		}
	}
	for (i = 0; i < E; i++) {
		struct mmig__topo_endpoint *e = &t->endpoints[i];

		if (!e->role) {
			e->role = "provider";
			e->interface = e->name;
		}
		if (!e->scope)
			e->scope = cont[i] ? "container" : "global";
	}
	rc = MMIG_OK;
out:
	mmig__free(deg);
	mmig__free(off);
	mmig__free(adj);
	mmig__free(arel);
	mmig__free(queue);
	mmig__free(color);
	mmig__free(cont);
	return rc;
}

/* ------------------------------------------------------------------------
 * A topology as a juju/description model
 * ------------------------------------------------------------------------ */

struct mb {
	const struct mmig__topo *t;
	struct mmig__ydoc *d;
	bool oom;
	uint64_t rng;
	/* Seconds since the epoch of the next "updated". */
	int64_t now;
	const char *uuid;
	/* Per application: its units' indexes into t->units, in order. */
	uint32_t *au_off, *au;
	/* Per principal unit: its subordinate units. */
	uint32_t *su_off, *su;
	/* Per application: its endpoints. */
	uint32_t *ae_off, *ae;
};

static struct mmig__ynode *
chk(struct mb *b, struct mmig__ynode *n)
{
	if (!n)
		b->oom = true;
	return n;
}

static struct mmig__ynode *
nmap(struct mb *b)
{
	return chk(b, mmig__ynode_new_map(b->d));
}

static struct mmig__ynode *
nseq(struct mb *b)
{
	return chk(b, mmig__ynode_new_seq(b->d));
}

static struct mmig__ynode *
nstr(struct mb *b, const char *s)
{
	return chk(b, mmig__ynode_new_str(b->d, s, strlen(s)));
}

static struct mmig__ynode *nfmt(struct mb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct mmig__ynode *
nfmt(struct mb *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		b->oom = true;
		return NULL;
	}
	return chk(b, mmig__ynode_new_str(b->d, buf, (size_t)n));
}

/* The text of a string node; NULL (out of memory noted) for none. */
static const char *
text(struct mb *b, const struct mmig__ynode *n)
{
	if (!n) {
		b->oom = true;
		return NULL;
	}
	return n->str;
}

static void
add(struct mb *b, struct mmig__ynode *map, const char *key,
    struct mmig__ynode *v)
{
	if (b->oom || !map || !v || mmig__ynode_map_add(b->d, map, key, v))
		b->oom = true;
}

static void
push(struct mb *b, struct mmig__ynode *seq, struct mmig__ynode *v)
{
	if (b->oom || !seq || !v || mmig__ynode_seq_add(seq, v))
		b->oom = true;
}

static void
add_str(struct mb *b, struct mmig__ynode *map, const char *key, const char *s)
{
	add(b, map, key, nstr(b, s));
}

static void
add_int(struct mb *b, struct mmig__ynode *map, const char *key, int64_t i)
{
	add(b, map, key, chk(b, mmig__ynode_new_int(b->d, i)));
}

static void
add_bool(struct mb *b, struct mmig__ynode *map, const char *key, bool v)
{
	add(b, map, key, chk(b, mmig__ynode_new_bool(b->d, v)));
}

/* The next time, as Juju writes it: 2025-03-04T05:06:07Z. */
static struct mmig__ynode *
ntime(struct mb *b)
{
	time_t s = (time_t)b->now++;
	struct tm tm;
	char buf[32];

	if (!gmtime_r(&s, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		b->oom = true;
		return NULL;
	}
	return nstr(b, buf);
}

/* {version: 2, status: {value, message, updated, neverset: false}} */
static struct mmig__ynode *
status(struct mb *b, const char *value, const char *message)
{
	struct mmig__ynode *m = nmap(b), *s = nmap(b);

	add_int(b, m, "version", 2);
	add_str(b, s, "value", value);
	if (message)
		add_str(b, s, "message", message);
	add(b, s, "updated", ntime(b));
	add_bool(b, s, "neverset", false);
	add(b, m, "status", s);
	return m;
}

/* {version: 2, history: []} */
static struct mmig__ynode *
history(struct mb *b)
{
	struct mmig__ynode *m = nmap(b);

	add_int(b, m, "version", 2);
	add(b, m, "history", nseq(b));
	return m;
}

/* {version: V, KEY: []} */
static struct mmig__ynode *
empty(struct mb *b, int version, const char *key)
{
	struct mmig__ynode *m = nmap(b);

	add_int(b, m, "version", version);
	add(b, m, key, nseq(b));
	return m;
}

static struct mmig__ynode *
tools(struct mb *b)
{
	struct mmig__ynode *m = nmap(b);

	add_int(b, m, "version", 2);
	add_str(b, m, "tools-version", AGENT_VERSION "-ubuntu-amd64");
	add_str(b, m, "url",
		"https://controller.example.invalid:17070/tools/" AGENT_VERSION
		"-ubuntu-amd64");
	add_str(b, m, "sha256",
		"4f2d6a0f0c1d9e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
		"4a");
	add_int(b, m, "size", 61234567);
	return m;
}

static struct mmig__ynode *
address(struct mb *b, const char *ip, const char *origin)
{
	struct mmig__ynode *m = nmap(b);

	add_int(b, m, "version", 2);
	add_str(b, m, "value", ip);
	add_str(b, m, "type", "ipv4");
	add_str(b, m, "scope", "local-cloud");
	if (origin) {
		add_str(b, m, "origin", origin);
		add_str(b, m, "spaceid", "0");
	}
	return m;
}

/* A machine's address: machines in 10.0.0.0/9, containers in
 * 172.16.0.0/12, Kubernetes units in 10.128.0.0/9. */
static void
ip_of(char *buf, size_t size, unsigned kind, uint32_t k)
{
	k += 2;
	if (kind == 0)
		snprintf(buf, size, "10.%u.%u.%u", (k >> 16) & 127,
			 (k >> 8) & 255, k & 255);
	else if (kind == 1)
		snprintf(buf, size, "172.%u.%u.%u", 16 + ((k >> 16) & 15),
			 (k >> 8) & 255, k & 255);
	else
		snprintf(buf, size, "10.%u.%u.%u", 128 + ((k >> 16) & 127),
			 (k >> 8) & 255, k & 255);
}

static void
unit_ip(const struct mb *b, uint32_t u, char *buf, size_t size)
{
	const struct mmig__topo_unit *x = &b->t->units[u];

	if (x->machine == MMIG__TOPO_NONE)
		ip_of(buf, size, 2, u);
	else
		ip_of(buf, size, b->t->machines[x->machine].ctype ? 1 : 0,
		      x->machine);
}

/* "mem=8G" -> 8192 (MiB, as Juju keeps sizes); false if not a size. */
static bool
size_mib(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0, mul = 1;
	size_t i;

	if (!len)
		return false;
	switch (s[len - 1]) {
	case 'M':
		len--;
		break;
	case 'G':
		mul = 1024;
		len--;
		break;
	case 'T':
		mul = 1024 * 1024;
		len--;
		break;
	case 'P':
		mul = 1024 * 1024 * 1024;
		len--;
		break;
	}
	if (!len || len > 12)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v * mul;
	return true;
}

/* Juju's constraints text as juju/description's constraints mapping;
 * NULL when nothing in it is one of the keys below. */
static struct mmig__ynode *
constraints(struct mb *b, const char *text)
{
	static const char *const strs[] = { "arch", "instance-type",
					    "virt-type", "container" };
	struct mmig__ynode *m = nmap(b);
	const char *p = text;
	bool any = false;

	add_int(b, m, "version", 5);
	while (p && *p) {
		const char *end = strchr(p, ' '), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p), kl, i;
		int64_t v;
		char key[32], val[128];

		eq = memchr(p, '=', len);
		if (eq && (kl = (size_t)(eq - p)) < sizeof(key) &&
		    len - kl - 1 < sizeof(val)) {
			memcpy(key, p, kl);
			key[kl] = '\0';
			memcpy(val, eq + 1, len - kl - 1);
			val[len - kl - 1] = '\0';
			for (i = 0; i < MMIG_ARRAY_LEN(strs); i++)
				if (!strcmp(key, strs[i])) {
					add_str(b, m, i ? key : "architecture",
						val);
					any = true;
				}
			if ((!strcmp(key, "cores") ||
			     !strcmp(key, "cpu-power")) &&
			    size_mib(val, strlen(val), &v) &&
			    !strchr("MGTP", val[strlen(val) - 1])) {
				add_int(b, m, key, v);
				any = true;
			}
			if ((!strcmp(key, "mem") ||
			     !strcmp(key, "root-disk")) &&
			    size_mib(val, strlen(val), &v)) {
				add_int(b, m, key[0] == 'm' ? "memory" : key,
					v);
				any = true;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return any ? m : NULL;
}

/* Per-group index arrays (CSR): off[g] .. off[g + 1] in v, in order. */
static int
group(size_t n_groups, size_t n, const uint32_t *key, uint32_t **off_out,
      uint32_t **v_out)
{
	uint32_t *off = mmig__calloc(n_groups + 2, sizeof(*off));
	uint32_t *v = mmig__calloc(n + 1, sizeof(*v));
	uint32_t *pos = mmig__calloc(n_groups + 1, sizeof(*pos));
	size_t i;

	if (!off || !v || !pos) {
		mmig__free(off);
		mmig__free(v);
		mmig__free(pos);
		return MMIG_ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (key[i] != MMIG__TOPO_NONE)
			off[key[i] + 1]++;
	for (i = 0; i < n_groups; i++)
		off[i + 1] += off[i];
	for (i = 0; i < n_groups; i++)
		pos[i] = off[i];
	for (i = 0; i < n; i++)
		if (key[i] != MMIG__TOPO_NONE)
			v[pos[key[i]]++] = (uint32_t)i;
	mmig__free(pos);
	*off_out = off;
	*v_out = v;
	return MMIG_OK;
}

static int
cmp_seq(const void *a, const void *b)
{
	return strcmp(((const struct mmig__juju_seq *)a)->name,
		      ((const struct mmig__juju_seq *)b)->name);
}

/* The model's other collections, empty, at the versions juju/description's
 * NewModel writes for model version 14 (model.go setSpaces 3, setStorages
 * 4, setAuthorizedKeys 1, ...), so that a generated document is current in
 * every collection and export gives it back unchanged. */
static void
model_extra(struct mb *b, struct mmig__juju_model *m)
{
	static const struct {
		const char *key;
		int version;
		const char *list;
	} empties[] = {
		{"remote-entities", 1, "remote-entities"},
		{"relation-networks", 1, "relation-networks"},
		{"offer-connections", 1, "offer-connections"},
		{"external-controllers", 1, "external-controllers"},
		{"spaces", 3, "spaces"},
		{"link-layer-devices", 1, "link-layer-devices"},
		{"ip-addresses", 5, "ip-addresses"},
		{"subnets", 6, "subnets"},
		{"cloud-image-metadata", 2, "cloudimagemetadata"},
	}, empties2[] = {
		{"actions", 4, "actions"},
		{"operations", 2, "operations"},
		{"ssh-host-keys", 1, "ssh-host-keys"},
	}, empties3[] = {
		{"volumes", 1, "volumes"},
		{"filesystems", 1, "filesystems"},
		{"storages", 4, "storages"},
		{"storage-pools", 1, "pools"},
		{"firewall-rules", 1, "firewall-rules"},
		{"remote-applications", 3, "remote-applications"},
		{"secrets", 2, "secrets"},
		{"remote-secrets", 1, "remote-secrets"},
		{"virtual-host-keys", 1, "virtual-host-keys"},
		{"authorized-keys", 1, "users-authorized-keys"},
	};
	struct mmig__ynode *x = m->extra, *n, *s, *u;
	bool caas = !strcmp(m->type, "caas");
	size_t i;

	add_str(b, x, "latest-tools", AGENT_VERSION);
	add_int(b, x, "environ-version", 1);
	n = nmap(b);
	add_int(b, n, "version", 1);
	s = nseq(b);
	u = nmap(b);
	add_str(b, u, "name", "admin");
	add_str(b, u, "display-name", "admin");
	add_str(b, u, "created-by", "admin");
	add(b, u, "date-created", ntime(b));
	add_str(b, u, "access", "admin");
	push(b, s, u);
	add(b, n, "users", s);
	add(b, x, "users", n);
	for (i = 0; i < MMIG_ARRAY_LEN(empties); i++)
		add(b, x, empties[i].key,
		    empty(b, empties[i].version, empties[i].list));
	add(b, x, "status", status(b, "available", NULL));
	add(b, x, "status-history", history(b));
	for (i = 0; i < MMIG_ARRAY_LEN(empties2); i++)
		add(b, x, empties2[i].key,
		    empty(b, empties2[i].version, empties2[i].list));
	n = nmap(b);
	add_int(b, n, "version", 2);
	add_str(b, n, "owner", m->owner);
	add_str(b, n, "cloud", m->cloud);
	add_str(b, n, "name", caas ? "microk8s" : "default");
	add_str(b, n, "auth-type", caas ? "certificate" : "access-key");
	s = nmap(b);
	if (caas) {
		add_str(b, s, "Token", "FAKE-TOKEN-not-a-secret");
	} else {
		add_str(b, s, "access-key", "AKIAFAKEFAKEFAKEFAKE");
		add_str(b, s, "secret-key",
			"FAKE/secret+key/NOT-REAL/0000000000000000");
	}
	add(b, n, "attributes", s);
	add(b, x, "cloud-credential", n);
	for (i = 0; i < MMIG_ARRAY_LEN(empties3); i++)
		add(b, x, empties3[i].key,
		    empty(b, empties3[i].version, empties3[i].list));
	n = nmap(b);
	add_str(b, n, "level", "unsupported");
	add_str(b, n, "owner", "");
	add_str(b, n, "credentials", "");
	add(b, x, "sla", n);
	n = nmap(b);
	add_str(b, n, "code", "");
	add_str(b, n, "info", "");
	add(b, x, "meter-status", n);
}

static void
machine_extra(struct mb *b, uint32_t i, struct mmig__ynode *x)
{
	const struct mmig__topo_machine *tm = &b->t->machines[i];
	struct mmig__ynode *n, *s;
	char ip[32], host[96];
	uint64_t r = mmig__topo_rand(&b->rng);

	ip_of(ip, sizeof(ip), tm->ctype ? 1 : 0, i);
	snprintf(host, sizeof(host), "juju-%.6s-%s", b->uuid, tm->id);
	for (char *p = host; *p; p++)
		if (*p == '/')
			*p = '-';
	add(b, x, "nonce", nfmt(b, "machine-%s:%08" PRIx64, tm->id, r >> 32));
	add(b, x, "password-hash", nfmt(b, "%016" PRIx64, r));
	add_str(b, x, "hostname", host);
	n = nmap(b);
	add_int(b, n, "version", 6);
	if (tm->ctype) {
		add_str(b, n, "instance-id", host);
		add_str(b, n, "display-name", host);
	} else {
		add(b, n, "instance-id", nfmt(b, "i-%016" PRIx64, r ^ i));
		add(b, n, "display-name", nfmt(b, "i-%016" PRIx64, r ^ i));
	}
	add(b, n, "status", status(b, "running", NULL));
	add(b, n, "status-history", history(b));
	add(b, n, "modification-status", status(b, "idle", NULL));
	add_str(b, n, "architecture", "amd64");
	add_int(b, n, "memory", 8192);
	add_int(b, n, "root-disk", 32768);
	add_int(b, n, "cores", 2);
	add_str(b, n, "availability-zone", "us-east-1a");
	add(b, x, "instance", n);
	add(b, x, "status", status(b, "started", NULL));
	add(b, x, "status-history", history(b));
	s = nseq(b);
	push(b, s, address(b, ip, "provider"));
	add(b, x, "provider-addresses", s);
	s = nseq(b);
	push(b, s, address(b, ip, "machine"));
	add(b, x, "machine-addresses", s);
	add(b, x, "preferred-public-address", address(b, ip, "provider"));
	add(b, x, "preferred-private-address", address(b, ip, "provider"));
	add(b, x, "tools", tools(b));
	s = nseq(b);
	push(b, s, nstr(b, "host-units"));
	add(b, x, "jobs", s);
	s = nseq(b);
	if (!tm->ctype)
		push(b, s, nstr(b, "lxd"));
	add(b, x, "supported-containers", s);
	if (tm->constraints && (n = constraints(b, tm->constraints)))
		add(b, x, "constraints", n);
	n = nmap(b);
	add_int(b, n, "version", 1);
	add(b, n, "machine-port-ranges", nmap(b));
	add(b, x, "opened-port-ranges", n);
	add(b, x, "block-devices", empty(b, 2, "block-devices"));
}

/* The charm's metadata from the endpoints the topology gives it. */
static struct mmig__ynode *
charm_metadata(struct mb *b, uint32_t a)
{
	static const char *const roles[][2] = {
		{ "provider", "provides" },
		{ "requirer", "requires" },
		{ "peer", "peers" },
	};
	const struct mmig__topo_app *ta = &b->t->apps[a];
	struct mmig__ynode *m = nmap(b), *g, *e;
	size_t r, k;

	add_int(b, m, "version", 1);
	add_str(b, m, "name", ta->charm);
	add(b, m, "summary", nfmt(b, "%s charm", ta->charm));
	add(b, m, "description",
	    nfmt(b, "Charm %s (made up from a bundle).", ta->charm));
	if (ta->subordinate)
		add_bool(b, m, "subordinate", true);
	for (r = 0; r < MMIG_ARRAY_LEN(roles); r++) {
		g = NULL;
		for (k = b->ae_off[a]; k < b->ae_off[a + 1]; k++) {
			const struct mmig__topo_endpoint *te =
				&b->t->endpoints[b->ae[k]];

			if (strcmp(te->role, roles[r][0]))
				continue;
			if (!g)
				g = nmap(b);
			/* One endpoint per name; a second relation of it
			 * shares it. */
			if (mmig__ynode_get(g, te->name))
				continue;
			e = nmap(b);
			add_str(b, e, "name", te->name);
			add_str(b, e, "role", te->role);
			add_str(b, e, "interface", te->interface);
			add_bool(b, e, "optional", false);
			add_int(b, e, "limit", 0);
			add_str(b, e, "scope", te->scope);
			add(b, g, te->name, e);
		}
		if (g)
			add(b, m, roles[r][1], g);
	}
	return m;
}

/* The Ubuntu version and series of a base, 22.04 (jammy) when not one
 * of these. */
static void
base_series(const char *base, const char **ver, const char **series)
{
	static const char *const map[][2] = {
		{ "16.04", "xenial" }, { "18.04", "bionic" },
		{ "20.04", "focal" },  { "22.04", "jammy" },
		{ "24.04", "noble" },
	};
	size_t k;

	*ver = "22.04";
	*series = "jammy";
	if (!base || strncmp(base, "ubuntu@", 7))
		return;
	for (k = 0; k < MMIG_ARRAY_LEN(map); k++)
		if (!strcmp(base + 7, map[k][0])) {
			*ver = map[k][0];
			*series = map[k][1];
		}
}

static void
app_extra(struct mb *b, uint32_t a, struct mmig__ynode *x, bool caas,
	  int64_t rev)
{
	const struct mmig__topo_app *ta = &b->t->apps[a];
	struct mmig__ynode *n, *s;
	const char *series, *ver;
	uint64_t r = mmig__topo_rand(&b->rng);
	size_t k;

	base_series(ta->base, &ver, &series);
	add_str(b, x, "type", caas ? "caas" : "iaas");
	/* charm-url is a column; the rest of the application follows. */
	add_str(b, x, "cs-channel", "stable");
	add_int(b, x, "charm-mod-version", 0);
	if (ta->expose)
		add_bool(b, x, "exposed", true);
	add(b, x, "status", status(b, "active", NULL));
	add(b, x, "status-history", history(b));
	n = nmap(b);
	add_str(b, n, "", "0");
	for (k = b->ae_off[a]; k < b->ae_off[a + 1]; k++)
		if (!mmig__ynode_get(n, b->t->endpoints[b->ae[k]].name))
			add_str(b, n, b->t->endpoints[b->ae[k]].name, "0");
	add(b, x, "endpoint-bindings", n);
	n = nmap(b);
	add_bool(b, n, "trust", ta->trust);
	add(b, x, "application-config", n);
	if (ta->constraints && (n = constraints(b, ta->constraints)))
		add(b, x, "constraints", n);
	if (b->au_off[a + 1] > b->au_off[a])
		add_str(b, x, "leader", b->t->units[b->au[b->au_off[a]]].name);
	add(b, x, "leadership-settings", nmap(b));
	add(b, x, "resources", empty(b, 2, "resources"));
	if (caas) {
		add(b, x, "password-hash",
		    nfmt(b, "fake-app-hash-%016" PRIx64, r));
		add_bool(b, x, "has-resources", true);
		add_int(b, x, "desired-scale", (int64_t)ta->n_units);
		n = nmap(b);
		add_int(b, n, "version", 1);
		add(b, n, "provider-id", nfmt(b, "svc-%08" PRIx64, r >> 32));
		s = nseq(b);
		push(b, s, address(b, "10.152.183.10", NULL));
		add(b, n, "addresses", s);
		add(b, x, "cloud-service", n);
		add(b, x, "tools", tools(b));
		add(b, x, "operator-status", status(b, "running", NULL));
	}
	n = nmap(b);
	add_int(b, n, "version", 1);
	add(b, n, "machine-port-ranges", nmap(b));
	add(b, x, "opened-port-ranges", n);
	n = nmap(b);
	add_int(b, n, "version", 2);
	add_str(b, n, "source", "charm-hub");
	add(b, n, "id", nfmt(b, "%.16s%016" PRIx64, ta->charm, r));
	add(b, n, "hash",
	    nfmt(b, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, r,
		 r ^ 0x5555, r ^ 0xaaaa, r ^ 0xffff));
	add_int(b, n, "revision", rev);
	add_str(b, n, "channel", ta->channel ? ta->channel : "stable");
	add(b, n, "platform", nfmt(b, "amd64/ubuntu/%s/stable", ver));
	add(b, x, "charm-origin", n);
	add(b, x, "charm-metadata", charm_metadata(b, a));
	n = nmap(b);
	add_int(b, n, "version", 1);
	s = nseq(b);
	{
		struct mmig__ynode *bs = nmap(b), *arch = nseq(b);

		add_str(b, bs, "name", "ubuntu");
		add_str(b, bs, "channel", ver);
		push(b, arch, nstr(b, "amd64"));
		add(b, bs, "architectures", arch);
		push(b, s, bs);
	}
	add(b, n, "bases", s);
	add(b, x, "charm-manifest", n);
}

static void
unit_extra(struct mb *b, uint32_t u, struct mmig__ynode *x, bool caas)
{
	const struct mmig__topo_unit *tu = &b->t->units[u];
	struct mmig__ynode *n, *s;
	uint64_t r = mmig__topo_rand(&b->rng);
	char ip[32];
	size_t k;

	add(b, x, "agent-status", status(b, "idle", NULL));
	add(b, x, "agent-status-history", history(b));
	add(b, x, "workload-status", status(b, "active", "ready"));
	add(b, x, "workload-status-history", history(b));
	add(b, x, "workload-version-history", history(b));
	if (tu->principal == MMIG__TOPO_NONE &&
	    b->su_off[u + 1] > b->su_off[u]) {
		s = nseq(b);
		for (k = b->su_off[u]; k < b->su_off[u + 1]; k++)
			push(b, s, nstr(b, b->t->units[b->su[k]].name));
		add(b, x, "subordinates", s);
	}
	add(b, x, "password-hash", nfmt(b, "fake-unit-hash-%016" PRIx64, r));
	if (!caas)
		add(b, x, "tools", tools(b));
	add(b, x, "resources", empty(b, 2, "resources"));
	add(b, x, "payloads", empty(b, 1, "payloads"));
	if (caas) {
		unit_ip(b, u, ip, sizeof(ip));
		n = nmap(b);
		add_int(b, n, "version", 1);
		add_str(b, n, "provider-id", tu->name);
		add(b, n, "address", address(b, ip, NULL));
		add(b, n, "ports", nseq(b));
		add(b, x, "cloud-container", n);
	}
}

/* One endpoint of a relation: the model's fields and its extra. */
static void
endpoint(struct mb *b, struct mmig__juju_endpoint *e, uint32_t ei)
{
	const struct mmig__topo_endpoint *te = &b->t->endpoints[ei];
	struct mmig__ynode *us;
	size_t k;
	char ip[32];

	e->app = b->t->apps[te->app].name;
	e->name = te->name;
	e->role = te->role;
	e->interface = te->interface;
	e->scope = te->scope;
	e->extra = nmap(b);
	add_bool(b, e->extra, "optional", false);
	add_int(b, e->extra, "limit", 0);
	us = nmap(b);
	for (k = b->au_off[te->app]; k < b->au_off[te->app + 1] && !b->oom;
	     k++) {
		struct mmig__ynode *s = nmap(b);

		unit_ip(b, b->au[k], ip, sizeof(ip));
		add_str(b, s, "ingress-address", ip);
		add_str(b, s, "private-address", ip);
		add(b, us, b->t->units[b->au[k]].name, s);
	}
	add(b, e->extra, "unit-settings", us);
	add(b, e->extra, "application-settings", nmap(b));
}

/* Machines depth first: each parent, then its containers. */
static int
machine_order(const struct mmig__topo *t, uint32_t *order, uint32_t *depth)
{
	uint32_t *parent = mmig__calloc(t->n_machines + 1, sizeof(*parent));
	uint32_t *off = NULL, *ch = NULL, *stack = NULL, *next = NULL;
	size_t i, n = 0, sp;
	int rc = MMIG_ENOMEM;

	if (!parent)
		return rc;
	for (i = 0; i < t->n_machines; i++)
		parent[i] = t->machines[i].parent;
	if (group(t->n_machines, t->n_machines, parent, &off, &ch))
		goto out;
	stack = mmig__calloc(t->n_machines + 1, sizeof(*stack));
	next = mmig__calloc(t->n_machines + 1, sizeof(*next));
	if (!stack || !next)
		goto out;
	for (i = 0; i < t->n_machines; i++) {
		if (t->machines[i].parent != MMIG__TOPO_NONE)
			continue;
		sp = 0;
		stack[sp++] = (uint32_t)i;
		order[n] = (uint32_t)i;
		depth[n++] = 0;
		next[i] = off[i];
		while (sp) {
			uint32_t top = stack[sp - 1];

			if (next[top] == off[top + 1]) {
				sp--;
				continue;
			}
			uint32_t c = ch[next[top]++];

			order[n] = c;
			depth[n++] = (uint32_t)sp;
			next[c] = off[c];
			stack[sp++] = c;
		}
	}
	rc = MMIG_OK;
out:
	mmig__free(parent);
	mmig__free(off);
	mmig__free(ch);
	mmig__free(stack);
	mmig__free(next);
	return rc;
}

int
mmig__topo_model(struct mmig__topo *t, struct mmig__juju_model **out)
{
	struct mmig__juju_model *m;
	struct mb b = { .t = t, .rng = t->seed };
	uint32_t *key = NULL, *order = NULL, *depth = NULL;
	bool caas = !strcmp(t->type, "caas");
	size_t i, j, k, nseq_ = 0, top = 0;
	uint64_t hi, lo, maxtop = 0;

	*out = NULL;
	if (!(m = mmig__calloc(1, sizeof(*m))))
		return MMIG_ENOMEM;
	m->doc = b.d = t->doc;
	t->doc = NULL;
	/* 2025-01-01 plus up to about three years, by the seed. */
	b.now = 1735689600 + (int64_t)(mmig__topo_rand(&b.rng) % 1000) * 86400;

	/* Groupings: units by application, subordinate units by principal,
	 * endpoints by application. */
	key = mmig__calloc(t->n_units + t->n_endpoints + 1, sizeof(*key));
	if (!key)
		goto nomem;
	for (i = 0; i < t->n_units; i++)
		key[i] = t->units[i].app;
	if (group(t->n_apps, t->n_units, key, &b.au_off, &b.au))
		goto nomem;
	for (i = 0; i < t->n_units; i++)
		key[i] = t->units[i].principal;
	if (group(t->n_units, t->n_units, key, &b.su_off, &b.su))
		goto nomem;
	for (i = 0; i < t->n_endpoints; i++)
		key[i] = t->endpoints[i].app;
	if (group(t->n_apps, t->n_endpoints, key, &b.ae_off, &b.ae))
		goto nomem;

	hi = (mmig__topo_rand(&b.rng) & ~(uint64_t)0xf000) | 0x4000;
	lo = (mmig__topo_rand(&b.rng) & ~((uint64_t)3 << 62)) |
	     ((uint64_t)2 << 62);
	b.uuid = text(&b, nfmt(&b,
			       "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64
			       "-%04" PRIx64 "-%012" PRIx64,
			       hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
			       lo >> 48, lo & 0xffffffffffffu));
	if (b.oom)
		goto nomem;
	m->version = MMIG__JUJU_MODEL_VERSION;
	m->uuid = b.uuid;
	m->name = t->name;
	m->owner = "admin";
	m->cloud = caas ? "microk8s" : "aws";
	m->region = caas ? "localhost" : "us-east-1";
	m->has_region = true;
	m->type = t->type;
	m->agent_version = AGENT_VERSION;
	m->config = nmap(&b);
	add_str(&b, m->config, "agent-version", AGENT_VERSION);
	add_str(&b, m->config, "default-base", t->base);
	add_bool(&b, m->config, "development", false);
	add_bool(&b, m->config, "enable-os-refresh-update", true);
	add_str(&b, m->config, "logging-config", "<root>=INFO");
	add_str(&b, m->config, "name", t->name);
	add_str(&b, m->config, "type", caas ? "kubernetes" : "ec2");
	add_str(&b, m->config, "update-status-hook-interval", "5m");
	add_str(&b, m->config, "uuid", b.uuid);
	m->extra = nmap(&b);
	if (b.oom)
		goto nomem;
	model_extra(&b, m);

	/* Sequences: what the target must not hand out again. */
	for (i = 0; i < t->n_machines; i++) {
		uint64_t v;

		if (t->machines[i].parent != MMIG__TOPO_NONE)
			continue;
		top++;
		v = strtoull(t->machines[i].id, NULL, 10) + 1;
		if (v > maxtop)
			maxtop = v;
		nseq_ +=
			(t->machines[i].n_lxd > 0) + (t->machines[i].n_kvm > 0);
	}
	for (i = 0; i < t->n_machines; i++)
		if (t->machines[i].parent != MMIG__TOPO_NONE)
			nseq_ += (t->machines[i].n_lxd > 0) +
				 (t->machines[i].n_kvm > 0);
	m->sequences =
		mmig__calloc(t->n_apps + nseq_ + 2, sizeof(*m->sequences));
	if (!m->sequences)
		goto nomem;
	for (i = 0; i < t->n_apps; i++)
		if (t->apps[i].n_units)
			m->sequences[m->n_sequences++] =
				(struct mmig__juju_seq){
					text(&b, nfmt(&b, "application-%s",
						      t->apps[i].name)),
					(int64_t)t->apps[i].n_units
				};
	if (top)
		m->sequences[m->n_sequences++] =
			(struct mmig__juju_seq){ "machine", (int64_t)maxtop };
	for (i = 0; i < t->n_machines && !b.oom; i++) {
		if (t->machines[i].n_lxd)
			m->sequences[m->n_sequences++] =
				(struct mmig__juju_seq){
					text(&b,
					     nfmt(&b, "machine%slxdContainer",
						  t->machines[i].id)),
					t->machines[i].n_lxd
				};
		if (t->machines[i].n_kvm)
			m->sequences[m->n_sequences++] =
				(struct mmig__juju_seq){
					text(&b,
					     nfmt(&b, "machine%skvmContainer",
						  t->machines[i].id)),
					t->machines[i].n_kvm
				};
	}
	if (t->n_relations)
		m->sequences[m->n_sequences++] =
			(struct mmig__juju_seq){ "relation",
						 (int64_t)t->n_relations };
	if (b.oom)
		goto nomem;
	qsort(m->sequences, m->n_sequences, sizeof(*m->sequences), cmp_seq);

	/* Machines, parents before their containers. */
	m->machines_version = MMIG__JUJU_MACHINES_VERSION;
	if (t->n_machines) {
		order = mmig__calloc(t->n_machines, sizeof(*order));
		depth = mmig__calloc(t->n_machines, sizeof(*depth));
		m->machines = mmig__calloc(t->n_machines, sizeof(*m->machines));
		if (!order || !depth || !m->machines ||
		    machine_order(t, order, depth))
			goto nomem;
	}
	for (i = 0; i < t->n_machines && !b.oom; i++) {
		const struct mmig__topo_machine *tm = &t->machines[order[i]];
		struct mmig__juju_machine *mc = &m->machines[i];

		mc->id = tm->id;
		mc->parent = tm->parent == MMIG__TOPO_NONE
				     ? NULL
				     : t->machines[tm->parent].id;
		mc->container_type = tm->ctype ? tm->ctype : "";
		mc->has_container_type = tm->ctype != NULL;
		mc->base = tm->base;
		mc->has_containers = true;
		mc->depth = depth[i];
		mc->extra = nmap(&b);
		machine_extra(&b, order[i], mc->extra);
		m->n_machines++;
	}

	/* Applications and their units. */
	m->applications_version = MMIG__JUJU_APPLICATIONS_VERSION;
	if (t->n_apps && !(m->apps = mmig__calloc(t->n_apps, sizeof(*m->apps))))
		goto nomem;
	for (i = 0; i < t->n_apps && !b.oom; i++) {
		const struct mmig__topo_app *ta = &t->apps[i];
		struct mmig__juju_app *a = &m->apps[i];
		const char *ver, *series;
		uint64_t r = ep_hash(0, ta->name) ^ t->seed;
		int64_t rev = ta->revision >= 0
				      ? ta->revision
				      : (int64_t)(1 + (r >> 40) % 900);

		a->name = ta->name;
		base_series(ta->base, &ver, &series);
		a->charm_url = text(&b, nfmt(&b, "ch:amd64/%s/%s-%" PRId64,
					     series, ta->charm, rev));
		a->subordinate = ta->subordinate;
		a->has_subordinate = ta->subordinate;
		if (ta->options)
			a->settings =
				chk(&b, mmig__ynode_copy(b.d, ta->options));
		else
			a->settings = nmap(&b);
		a->units_version = MMIG__JUJU_UNITS_VERSION;
		a->extra = nmap(&b);
		if (b.oom)
			goto nomem;
		app_extra(&b, (uint32_t)i, a->extra, caas, rev);
		j = b.au_off[i + 1] - b.au_off[i];
		if (j && !(a->units = mmig__calloc(j, sizeof(*a->units))))
			goto nomem;
		for (k = b.au_off[i]; k < b.au_off[i + 1] && !b.oom; k++) {
			const struct mmig__topo_unit *tu = &t->units[b.au[k]];
			struct mmig__juju_unit *u = &a->units[a->n_units++];

			u->name = tu->name;
			u->machine = tu->machine == MMIG__TOPO_NONE
					     ? NULL
					     : t->machines[tu->machine].id;
			u->principal = tu->principal == MMIG__TOPO_NONE
					       ? NULL
					       : t->units[tu->principal].name;
			u->extra = nmap(&b);
			unit_extra(&b, b.au[k], u->extra, caas);
		}
		m->n_units_total += a->n_units;
		m->n_apps++;
	}
	/* Relations. */
	m->relations_version = MMIG__JUJU_RELATIONS_VERSION;
	if (t->n_relations && !(m->relations = mmig__calloc(
					t->n_relations, sizeof(*m->relations))))
		goto nomem;
	for (i = 0; i < t->n_relations && !b.oom; i++) {
		const struct mmig__topo_relation *tr = &t->relations[i];
		struct mmig__juju_relation *r = &m->relations[i];
		uint32_t prov = tr->ep[0], req = tr->ep[1];

		if (tr->n == 2 &&
		    strcmp(t->endpoints[prov].role, "provider") != 0) {
			prov = tr->ep[1];
			req = tr->ep[0];
		}
		r->id = (int64_t)i;
		r->suspended = false;
		r->has_suspended = true;
		r->endpoints_version = MMIG__JUJU_ENDPOINTS_VERSION;
		r->n_endpoints = tr->n;
		endpoint(&b, &r->ep[0], prov);
		if (tr->n == 2) {
			endpoint(&b, &r->ep[1], req);
			r->key = text(&b,
				      nfmt(&b, "%s:%s %s:%s",
					   t->apps[t->endpoints[req].app].name,
					   t->endpoints[req].name,
					   t->apps[t->endpoints[prov].app].name,
					   t->endpoints[prov].name));
		} else {
			r->key = text(&b,
				      nfmt(&b, "%s:%s",
					   t->apps[t->endpoints[prov].app].name,
					   t->endpoints[prov].name));
		}
		r->extra = nmap(&b);
		add_str(&b, r->extra, "suspended-reason", "");
		add(&b, r->extra, "status", status(&b, "joined", NULL));
		m->n_relations++;
	}
	if (b.oom)
		goto nomem;
	mmig__free(key);
	mmig__free(order);
	mmig__free(depth);
	mmig__free(b.au_off);
	mmig__free(b.au);
	mmig__free(b.su_off);
	mmig__free(b.su);
	mmig__free(b.ae_off);
	mmig__free(b.ae);
	*out = m;
	return MMIG_OK;
nomem:
	mmig__free(key);
	mmig__free(order);
	mmig__free(depth);
	mmig__free(b.au_off);
	mmig__free(b.au);
	mmig__free(b.su_off);
	mmig__free(b.su);
	mmig__free(b.ae_off);
	mmig__free(b.ae);
	mmig__juju_free(m);
	return MMIG_ENOMEM;
}

/* ------------------------------------------------------------------------
 * Public entry points
 * ------------------------------------------------------------------------ */

/* Write the model as YAML to @p out, refusing a document the YAML reader
 * would refuse for its size. */
static int
emit_model(struct mmig__juju_model *m, FILE *out, char **errmsg)
{
	struct mmig__ydoc *doc = mmig__juju_write(m);
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!doc)
		return MMIG_ENOMEM;
	/* The model's document is no longer needed: free it first. */
	mmig__juju_free(m);
	rc = mmig__yaml_emit_buf(mmig__ydoc_root(doc), 0, &buf, &len);
	mmig__ydoc_free(doc);
	if (rc)
		return rc;
	if (len > YAML_MAX_BYTES) {
		mmig__free(buf);
		if (errmsg && !(*errmsg = mmig__asprintf(
					"the document would be %zu bytes; "
					"import reads at most %zu",
					len, YAML_MAX_BYTES)))
			return MMIG_ENOMEM;
		return MMIG_EMODEL;
	}
	if (fwrite(buf, 1, len, out) != len || fflush(out) != 0)
		rc = errno ? -errno : -EIO;
	mmig__free(buf);
	return rc;
}

/*
 * Refuse, before making it, a document far above what the YAML reader
 * takes: a machine is about 2.1 KB of YAML, a unit 1.1 KB, a unit's
 * settings in a relation 0.1 KB (measured on expansions of the shipped
 * bundles).  The estimate must be 10% over the limit, so that a document
 * near it is made and measured exactly by emit_model() instead.
 */
static int
too_big(const struct mmig__topo *t, char **errmsg)
{
	uint64_t est = (uint64_t)1 << 20, *per_app;
	size_t i, k;

	per_app = mmig__calloc(t->n_apps + 1, sizeof(*per_app));
	if (!per_app)
		return MMIG_ENOMEM;
	for (i = 0; i < t->n_units; i++)
		per_app[t->units[i].app]++;
	for (i = 0; i < t->n_relations; i++)
		for (k = 0; k < t->relations[i].n; k++)
			est += 100 * per_app[t->endpoints[t->relations[i].ep[k]]
						     .app];
	mmig__free(per_app);
	est += (uint64_t)t->n_machines * 2100 + (uint64_t)t->n_units * 1100;
	if (est <= YAML_MAX_BYTES + YAML_MAX_BYTES / 10)
		return MMIG_OK;
	if (errmsg && !(*errmsg = mmig__asprintf(
				"the document would be about %" PRIu64
				" MB (%zu machines, %zu units); import reads "
				"at most %zu MB",
				est >> 20, t->n_machines, t->n_units,
				YAML_MAX_BYTES >> 20)))
		return MMIG_ENOMEM;
	return MMIG_EMODEL;
}

int
mmig_model_gen_bundle(const void *bundle, size_t len, uint64_t scale,
		      uint64_t seed, FILE *out, char **errmsg)
{
	struct mmig__bundle_opts o = { .scale = scale, .seed = seed };
	struct mmig__topo *t = NULL;
	struct mmig__juju_model *m = NULL;
	int rc;

	if (errmsg)
		*errmsg = NULL;
	if (!out || (!bundle && len))
		return MMIG_EINVAL;
	rc = mmig__bundle_topo(bundle, len, &o, &t, errmsg);
	if (rc)
		return rc;
	if ((rc = too_big(t, errmsg))) {
		mmig__topo_free(t);
		return rc;
	}
	rc = mmig__topo_model(t, &m);
	mmig__topo_free(t);
	if (rc)
		return rc;
	return emit_model(m, out, errmsg);
}
