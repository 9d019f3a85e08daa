/*
 * domain/gen.c - generating valid model descriptions of any size.
 *
 * Owns mmig_model_desc_generate().  What it writes must always pass
 * mmig_model_desc_parse(), and the same options must give the same bytes
 * everywhere, so that a test or a benchmark can be repeated from its seed.
 * Hence the generator's own PRNG (splitmix64: rand() differs between C
 * libraries and is shared global state) and only integer arithmetic.
 *
 * Everything is written as it is made; the only memory used is one index
 * per application, for choosing relations.
 */
#include "internal.h"
#include "juju-int.h"
#include "mmig/import.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for zero fields, as the header documents. */
#define DEF_MACHINES 10
#define DEF_APPS 3
#define DEF_UNITS 2
#define DEF_RELATIONS 2
#define DEF_SEED 1

static const char *const charms[] = {
	"mysql",      "wordpress", "postgresql", "redis",     "haproxy",
	"nginx",      "kafka",     "zookeeper",  "prometheus", "grafana",
	"memcached",  "rabbitmq",  "keystone",   "glance",    "nova-compute",
	"ceph-osd",
};

static const char *const bases[] = {
	"ubuntu@22.04",
	"ubuntu@24.04",
	"ubuntu@20.04",
};

/* NULL: the machine has no "constraints" key at all. */
static const char *const constraints[] = {
	NULL, "", "mem=4G", "cores=2 mem=8G", "arch=arm64 mem=16G",
};

static const char *const interfaces[] = {
	"db", "website", "cache", "metrics", "amqp", "identity",
};

static const char *const regions[] = {
	"us-east-1", "eu-west-1", "ap-southeast-2",
};

struct gen {
	FILE *out;
	uint64_t rng;
	int err; /* the first write error, as -errno */
};

static uint64_t
next(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0, by rejection so no value is favoured. */
static uint64_t
below(struct gen *g, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;

	do
		x = next(g);
	while (x >= limit);
	return x % n;
}

static void emit(struct gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* fprintf that remembers the first failure and then writes nothing more. */
static void
emit(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (g->err)
		return;
	va_start(ap, fmt);
	n = vfprintf(g->out, fmt, ap);
	va_end(ap);
	if (n < 0)
		g->err = errno ? -errno : -EIO;
}

/* Application @p i's name: a charm name, rotated by the seed, with a
 * suffix once the names run out, so that names never repeat. */
static void
app_name(char *buf, size_t cap, size_t i, size_t rot)
{
	size_t w = MMIG_ARRAY_LEN(charms);
	const char *base = charms[(i + rot) % w];

	if (i < w)
		snprintf(buf, cap, "%s", base);
	else
		snprintf(buf, cap, "%s-%zu", base, i / w);
}

static void
emit_model(struct gen *g, uint64_t seed)
{
	uint64_t hi, lo;

	/* Version 4 shape: the version nibble 4, the variant bits 10. */
	hi = (next(g) & ~(uint64_t)0xf000) | 0x4000;
	lo = (next(g) & ~((uint64_t)3 << 62)) | ((uint64_t)2 << 62);
	emit(g,
	     "{\"version\": %d,\n"
	     " \"model\": {\"uuid\": \"%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64
	     "-%04" PRIx64 "-%012" PRIx64 "\",\n"
	     "  \"name\": \"gen-%" PRIu64 "\", \"owner\": \"admin\", "
	     "\"cloud\": \"aws\", \"region\": \"%s\",\n"
	     "  \"config\": {\"logging-config\": \"<root>=WARNING\", "
	     "\"update-status-hook-interval\": \"%" PRIu64 "m\", "
	     "\"automatically-retry-hooks\": %s, "
	     "\"max-action-results-age\": %" PRIu64 "}},\n",
	     MMIG_MODEL_DESC_VERSION, hi >> 32, (hi >> 16) & 0xffff,
	     hi & 0xffff, lo >> 48, lo & 0xffffffffffffu, seed,
	     regions[below(g, MMIG_ARRAY_LEN(regions))], 1 + below(g, 10),
	     below(g, 2) ? "true" : "false", 24 * (1 + below(g, 30)));
}

static void
emit_machines(struct gen *g, size_t n)
{
	const char *c;
	size_t i;

	emit(g, " \"machines\": [");
	for (i = 0; i < n && !g->err; i++) {
		emit(g, "%s\n  {\"id\": \"%zu\", \"base\": \"%s\"",
		     i ? "," : "", i, bases[below(g, MMIG_ARRAY_LEN(bases))]);
		c = constraints[below(g, MMIG_ARRAY_LEN(constraints))];
		if (c)
			emit(g, ", \"constraints\": \"%s\"", c);
		emit(g, "}");
	}
	emit(g, "\n ],\n");
}

static void
emit_apps(struct gen *g, size_t napps, size_t per_app, size_t nmach,
	  size_t rot)
{
	char name[64];
	size_t i, j, unit = 0, start;

	/* Round robin from a random machine spreads units evenly. */
	start = nmach ? (size_t)below(g, nmach) : 0;
	emit(g, " \"applications\": [");
	for (i = 0; i < napps && !g->err; i++) {
		app_name(name, sizeof(name), i, rot);
		emit(g,
		     "%s\n  {\"name\": \"%s\", \"charm\": \"ch:%s-%" PRIu64
		     "\",\n"
		     "   \"config\": {\"port\": %" PRIu64 ", \"debug\": %s, "
		     "\"ratio\": %" PRIu64 ".5, \"profile\": \"%s\"},\n"
		     "   \"units\": [",
		     i ? "," : "", name,
		     charms[(i + rot) % MMIG_ARRAY_LEN(charms)],
		     1 + below(g, 200), 1024 + below(g, 60000),
		     below(g, 2) ? "true" : "false", below(g, 4),
		     below(g, 2) ? "fast" : "safe");
		for (j = 0; j < per_app && !g->err; j++, unit++)
			emit(g,
			     "%s\n    {\"name\": \"%s/%zu\", "
			     "\"machine\": \"%zu\"}",
			     j ? "," : "", name, j, (start + unit) % nmach);
		emit(g, "%s]}", per_app ? "\n   " : "");
	}
	emit(g, "\n ],\n");
}

/*
 * Every unordered pair of n applications is {perm[i], perm[(i + d) % n]}
 * for one d in 1..n/2 -- exactly once, except that for even n the pairs at
 * d = n/2 come up twice and only the first half of i is taken.  Walking d
 * then i gives distinct pairs without remembering any; the shuffled perm
 * makes them look random.
 */
static int
emit_relations(struct gen *g, size_t napps, size_t nrel, size_t rot)
{
	char a[64], b[64];
	size_t *perm = NULL;
	size_t i, k, d = 1, idx = 0, tmp, x, y;
	const char *iface;

	emit(g, " \"relations\": [");
	if (nrel > 0) {
		perm = mmig__malloc(napps * sizeof(*perm));
		if (!perm)
			return MMIG_ENOMEM;
		for (i = 0; i < napps; i++)
			perm[i] = i;
		for (i = napps - 1; i > 0; i--) {
			k = (size_t)below(g, i + 1);
			tmp = perm[i];
			perm[i] = perm[k];
			perm[k] = tmp;
		}
	}
	for (k = 0; k < nrel && !g->err; k++) {
		if (idx == napps || (2 * d == napps && idx == napps / 2)) {
			d++;
			idx = 0;
		}
		x = perm[idx];
		y = perm[(idx + d) % napps];
		idx++;
		if (below(g, 2)) {
			tmp = x;
			x = y;
			y = tmp;
		}
		app_name(a, sizeof(a), x, rot);
		app_name(b, sizeof(b), y, rot);
		iface = interfaces[below(g, MMIG_ARRAY_LEN(interfaces))];
		emit(g, "%s\n  {\"endpoints\": [\"%s:%s\", \"%s:%s\"]}",
		     k ? "," : "", a, iface, b, iface);
	}
	emit(g, "\n ]\n}\n");
	mmig__free(perm);
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * The same model as a juju/description document
 * ------------------------------------------------------------------------ */

struct yb {
	struct mmig__ydoc *d;
	bool oom;
};

static struct mmig__ynode *
yb_chk(struct yb *y, struct mmig__ynode *n)
{
	if (!n)
		y->oom = true;
	return n;
}

static void
yb_put(struct yb *y, struct mmig__ynode *map, const char *key,
       struct mmig__ynode *v)
{
	if (y->oom || !v || !map || mmig__ynode_map_add(y->d, map, key, v))
		y->oom = true;
}

static void
yb_str(struct yb *y, struct mmig__ynode *map, const char *key, const char *s)
{
	yb_put(y, map, key, yb_chk(y, mmig__ynode_new_str(y->d, s, strlen(s))));
}

static void
yb_int(struct yb *y, struct mmig__ynode *map, const char *key, int64_t i)
{
	yb_put(y, map, key, yb_chk(y, mmig__ynode_new_int(y->d, i)));
}

static void
yb_push(struct yb *y, struct mmig__ynode *seq, struct mmig__ynode *v)
{
	if (y->oom || !v || !seq || mmig__ynode_seq_add(seq, v))
		y->oom = true;
}

static struct mmig__ynode *
yb_coll(struct yb *y, struct mmig__ynode *map, const char *name, int version)
{
	struct mmig__ynode *c = yb_chk(y, mmig__ynode_new_map(y->d));
	struct mmig__ynode *s = yb_chk(y, mmig__ynode_new_seq(y->d));

	yb_int(y, c, "version", version);
	yb_put(y, c, name, s);
	yb_put(y, map, name, c);
	return s;
}

static struct mmig__ynode *
yb_value(struct yb *y, const struct mmig_model_desc_kv *kv)
{
	switch (kv->kind) {
	case MMIG_MODEL_DESC_INTEGER:
		return mmig__ynode_new_int(y->d, strtoll(kv->value, NULL, 10));
	case MMIG_MODEL_DESC_REAL:
		return mmig__ynode_new_float(y->d, strtod(kv->value, NULL));
	case MMIG_MODEL_DESC_BOOL:
		return mmig__ynode_new_bool(y->d,
					    strcmp(kv->value, "true") == 0);
	default:
		return mmig__ynode_new_str(y->d, kv->value, strlen(kv->value));
	}
}

static void
yb_config(struct yb *y, struct mmig__ynode *map,
	  const struct mmig_model_desc_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		yb_put(y, map, kv[i].key, yb_chk(y, yb_value(y, &kv[i])));
}

/* The unit number after "<app>/". */
static int64_t
unit_number(const char *name)
{
	return strtoll(strchr(name, '/') + 1, NULL, 10);
}

static struct mmig__ydoc *
juju_from_desc(const struct mmig_model_desc *d)
{
	struct yb y = {.d = mmig__ydoc_new()};
	struct mmig__ynode *root, *cfg, *seqs, *list, *n, *ul, *el;
	char key[256];
	int64_t next_machine = 0;
	size_t i, j;

	if (!y.d)
		return NULL;
	root = yb_chk(&y, mmig__ynode_new_map(y.d));
	if (root)
		mmig__ydoc_set_root(y.d, root);
	yb_int(&y, root, "version", MMIG__JUJU_MODEL_VERSION);
	yb_str(&y, root, "owner", d->owner);
	yb_str(&y, root, "cloud", d->cloud);
	yb_str(&y, root, "cloud-region", d->region ? d->region : "");
	yb_str(&y, root, "type", "iaas");
	yb_str(&y, root, "agent-version", "3.6.14");
	cfg = yb_chk(&y, mmig__ynode_new_map(y.d));
	yb_str(&y, cfg, "name", d->name);
	yb_str(&y, cfg, "uuid", d->uuid);
	yb_config(&y, cfg, d->config, d->n_config);
	yb_put(&y, root, "config", cfg);
	seqs = yb_chk(&y, mmig__ynode_new_map(y.d));
	yb_put(&y, root, "sequences", seqs);

	list = yb_coll(&y, root, "machines", MMIG__JUJU_MACHINES_VERSION);
	for (i = 0; i < d->n_machines && !y.oom; i++) {
		int64_t id = strtoll(d->machines[i].id, NULL, 10);

		n = yb_chk(&y, mmig__ynode_new_map(y.d));
		yb_str(&y, n, "id", d->machines[i].id);
		yb_str(&y, n, "base", d->machines[i].base);
		yb_put(&y, n, "containers",
		       yb_chk(&y, mmig__ynode_new_seq(y.d)));
		yb_push(&y, list, n);
		if (id >= next_machine)
			next_machine = id + 1;
	}
	yb_int(&y, seqs, "machine", next_machine);

	list = yb_coll(&y, root, "applications",
		       MMIG__JUJU_APPLICATIONS_VERSION);
	for (i = 0; i < d->n_apps && !y.oom; i++) {
		const struct mmig_model_desc_app *a = &d->apps[i];
		struct mmig__ynode *settings;
		int64_t next_unit = 0;

		n = yb_chk(&y, mmig__ynode_new_map(y.d));
		yb_str(&y, n, "name", a->name);
		yb_str(&y, n, "charm-url", a->charm);
		settings = yb_chk(&y, mmig__ynode_new_map(y.d));
		yb_config(&y, settings, a->config, a->n_config);
		yb_put(&y, n, "settings", settings);
		ul = yb_coll(&y, n, "units", MMIG__JUJU_UNITS_VERSION);
		for (j = 0; j < a->n_units && !y.oom; j++) {
			struct mmig__ynode *u =
				yb_chk(&y, mmig__ynode_new_map(y.d));

			yb_str(&y, u, "name", a->units[j].name);
			yb_str(&y, u, "machine", a->units[j].machine);
			yb_push(&y, ul, u);
			if (unit_number(a->units[j].name) >= next_unit)
				next_unit = unit_number(a->units[j].name) + 1;
		}
		yb_push(&y, list, n);
		snprintf(key, sizeof(key), "application-%s", a->name);
		yb_int(&y, seqs, key, next_unit);
	}

	list = yb_coll(&y, root, "relations", MMIG__JUJU_RELATIONS_VERSION);
	for (i = 0; i < d->n_relations && !y.oom; i++) {
		const struct mmig_model_desc_relation *r = &d->relations[i];

		n = yb_chk(&y, mmig__ynode_new_map(y.d));
		yb_int(&y, n, "id", (int64_t)i);
		snprintf(key, sizeof(key), "%s %s", r->ep[0].spec,
			 r->ep[1].spec);
		yb_str(&y, n, "key", key);
		yb_put(&y, n, "suspended",
		       yb_chk(&y, mmig__ynode_new_bool(y.d, false)));
		el = yb_coll(&y, n, "endpoints", MMIG__JUJU_ENDPOINTS_VERSION);
		for (j = 0; j < 2 && !y.oom; j++) {
			struct mmig__ynode *e =
				yb_chk(&y, mmig__ynode_new_map(y.d));

			yb_str(&y, e, "application-name", r->ep[j].app);
			yb_str(&y, e, "name", r->ep[j].name);
			yb_str(&y, e, "role", j == 0 ? "provider" : "requirer");
			yb_str(&y, e, "interface", r->ep[j].name);
			yb_str(&y, e, "scope", "global");
			yb_push(&y, el, e);
		}
		yb_push(&y, list, n);
	}
	yb_int(&y, seqs, "relation", (int64_t)d->n_relations);
	if (y.oom) {
		mmig__ydoc_free(y.d);
		return NULL;
	}
	return y.d;
}

/* The JSON model, made as usual, read back and written as YAML. */
static int
generate_yaml(const struct mmig_gen_opts *o, FILE *out)
{
	struct mmig_gen_opts json = *o;
	struct mmig_model_desc *d = NULL;
	struct mmig__ydoc *doc = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	json.flags &= ~MMIG_GEN_YAML;
	if (!(mem = open_memstream(&buf, &len)))
		return MMIG_ENOMEM;
	rc = mmig_model_desc_generate(&json, mem);
	if (fclose(mem) != 0 && rc == MMIG_OK)
		rc = MMIG_ENOMEM;
	if (rc == MMIG_OK)
		rc = mmig_model_desc_parse(buf, len, &d, NULL);
	free(buf);
	if (rc == MMIG_OK && !(doc = juju_from_desc(d)))
		rc = MMIG_ENOMEM;
	if (rc == MMIG_OK)
		rc = mmig__yaml_emit(mmig__ydoc_root(doc), 0, out);
	mmig__ydoc_free(doc);
	mmig_model_desc_free(d);
	return rc;
}

int
mmig_model_desc_generate(const struct mmig_gen_opts *caller_o, FILE *out)
{
	struct mmig_gen_opts def = MMIG_GEN_OPTS_INIT, *o = &def;
	struct gen g = {.out = out};
	size_t nmach, napps, per_app, nrel, maxrel, rot;
	uint64_t seed;
	bool exact;
	int rc;

	if (!out)
		return MMIG_EINVAL;
	/* Read the caller's layout into ours (see "ABI" in mmig/common.h). */
	if (caller_o && mmig__sized_in(&def, sizeof(def), caller_o,
				       MMIG__END(struct mmig_gen_opts,
						 flags)) != MMIG_OK)
		return MMIG_EINVAL;
	if (o->flags & MMIG_GEN_YAML)
		return generate_yaml(o, out);
	exact = (o->flags & MMIG_GEN_EXACT) != 0;
	nmach = o->machines || exact ? o->machines : DEF_MACHINES;
	napps = o->applications || exact ? o->applications : DEF_APPS;
	per_app = o->units_per_app || exact ? o->units_per_app : DEF_UNITS;
	nrel = o->relations || exact ? o->relations : DEF_RELATIONS;
	seed = o->seed || exact ? o->seed : DEF_SEED;
	if (napps > 0 && per_app > 0 && nmach == 0)
		return MMIG_EINVAL;
	/* One relation per pair of applications at most. */
	maxrel = napps % 2 ? napps * ((napps - 1) / 2)
			   : napps / 2 * (napps - 1);
	if (nrel > maxrel)
		nrel = maxrel;

	/* Mixed with a constant so that seed 0 does not start the stream at
	 * the PRNG's own zero state. */
	g.rng = seed ^ 0x6d6d69672d67656eu;
	rot = (size_t)below(&g, MMIG_ARRAY_LEN(charms));
	emit_model(&g, seed);
	emit_machines(&g, nmach);
	emit_apps(&g, napps, per_app, nmach, rot);
	rc = emit_relations(&g, napps, nrel, rot);
	if (rc != MMIG_OK)
		return rc;
	if (!g.err && fflush(out) != 0)
		g.err = errno ? -errno : -EIO;
	return g.err;
}
