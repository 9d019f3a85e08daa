/*
 * domain/export.c - a model written back from its databases as a
 * juju/description document (`mmig export`).
 *
 * Reads only: the controller database (the model's row must be "active",
 * so a half-imported model is never taken for a whole one) and the model
 * database (schema v2, opened read-only).  The document is built as a
 * yaml-doc tree: every column under its juju/description name, every
 * `extra` (the entity's other keys, kept as YAML text) merged back in, and
 * the collection versions the document was read at, so that exporting what
 * a document imported gives that document's data back (key order and
 * YAML style aside).  Export always writes the current versions: a
 * document read at an older one (model 1-13, or any collection below its
 * current version) is brought up as juju/description's own importer would
 * (mmig__juju_upgrade(), see upgrade() below), every value read kept; a
 * current document comes out as it went in.  A model imported from our
 * JSON format is written as the juju/description document it would have
 * been (model version 14, with only what JSON can say).
 *
 * Invariants: nothing is written to either database; on failure nothing
 * is written to @p out either (the document is emitted only once whole).
 */
#include "internal.h"
#include "juju-int.h"
#include "mmig/import.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ex {
	sqlite3 *db;
	struct mmig__ydoc *d;
	char *err;
	int rc;
};

static int
exfail(struct ex *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
exfail(struct ex *x, int rc, const char *fmt, ...)
{
	va_list ap;

	if (x->rc)
		return x->rc;
	va_start(ap, fmt);
	x->err = mmig__vasprintf(fmt, ap);
	va_end(ap);
	x->rc = rc;
	return rc;
}

static int
oom(struct ex *x)
{
	return exfail(x, MMIG_ENOMEM, "%s", mmig_strerror(MMIG_ENOMEM));
}

static int
dberr(struct ex *x, const char *what)
{
	return exfail(x, MMIG_EDB, "%s: %s", what, sqlite3_errmsg(x->db));
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static bool
col_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL;
}

/* Add @p v under @p key, or note we ran out of memory. */
static void
put(struct ex *x, struct mmig__ynode *map, const char *key,
    struct mmig__ynode *v)
{
	if (!v || !map || mmig__ynode_map_add(x->d, map, key, v))
		oom(x);
}

static void
put_str(struct ex *x, struct mmig__ynode *map, const char *key,
	const char *s)
{
	put(x, map, key, s ? mmig__ynode_new_str(x->d, s, strlen(s)) : NULL);
}

static void
put_int(struct ex *x, struct mmig__ynode *map, const char *key, int64_t i)
{
	put(x, map, key, mmig__ynode_new_int(x->d, i));
}

static void
push(struct ex *x, struct mmig__ynode *seq, struct mmig__ynode *v)
{
	if (!v || !seq || mmig__ynode_seq_add(seq, v))
		oom(x);
}

/* Merge the mapping kept as YAML text into @p map. */
static void
put_extra(struct ex *x, struct mmig__ynode *map, const char *text,
	  const char *what)
{
	struct mmig__ydoc *e = NULL;
	struct mmig__ynode *r, *c;
	char *msg = NULL;
	int rc;

	if (!text || x->rc)
		return;
	rc = mmig__yaml_parse(text, strlen(text), 0, NULL, &e, &msg);
	if (rc) {
		exfail(x, rc == MMIG_EMODEL ? MMIG_ECORRUPT : rc,
		       "%s: kept values unreadable: %s", what,
		       msg ? msg : mmig_strerror(rc));
		mmig__free(msg);
		return;
	}
	r = mmig__ydoc_root(e);
	if (r->kind != MMIG__Y_MAP) {
		exfail(x, MMIG_ECORRUPT, "%s: kept values are not a mapping",
		       what);
	} else {
		for (c = r->first; c && !x->rc; c = c->next) {
			struct mmig__ynode *cp = mmig__ynode_copy(x->d, c);

			if (!cp || mmig__ynode_map_addn(x->d, map, c->key,
							c->key_len, c->key_kind,
							cp))
				oom(x);
		}
	}
	mmig__ydoc_free(e);
}

/* A config value from its text and kind. */
static struct mmig__ynode *
config_value(struct ex *x, const char *value, const char *kind)
{
	struct mmig__ynode tmp = {0}, *n = NULL;
	unsigned k;

	if (strcmp(kind, "string") == 0)
		return mmig__ynode_new_str(x->d, value, strlen(value));
	if (strcmp(kind, "null") == 0)
		return mmig__ynode_new_null(x->d);
	if (strcmp(kind, "bool") == 0)
		return mmig__ynode_new_bool(x->d, strcmp(value, "true") == 0);
	if (strcmp(kind, "yaml") == 0) {
		struct mmig__ydoc *e = NULL;

		if (mmig__yaml_parse(value, strlen(value), 0, NULL, &e, NULL))
			return NULL;
		n = mmig__ynode_copy(x->d, mmig__ydoc_root(e));
		mmig__ydoc_free(e);
		return n;
	}
	mmig__yaml_resolve(value, strlen(value), &k, &tmp);
	if (strcmp(kind, "integer") == 0 && k == MMIG__Y_INT)
		return mmig__ynode_new_int(x->d, tmp.v.i);
	if (strcmp(kind, "integer") == 0 && k == MMIG__Y_UINT)
		return mmig__ynode_new_uint(x->d, tmp.v.u);
	if (strcmp(kind, "real") == 0)
		return mmig__ynode_new_float(x->d, strtod(value, NULL));
	return NULL;
}

/* SELECT key, value, kind ... into a new mapping. */
static struct mmig__ynode *
config_map(struct ex *x, const char *sql, const char *arg)
{
	struct mmig__ynode *map = mmig__ynode_new_map(x->d), *v;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!map) {
		oom(x);
		return NULL;
	}
	if (sqlite3_prepare_v2(x->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dberr(x, "read config");
		return NULL;
	}
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while (!x->rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = config_value(x, col_text(st, 1), col_text(st, 2));
		if (!v) {
			exfail(x, MMIG_ECORRUPT,
			       "config %s: value \"%.64s\" is not a %s",
			       col_text(st, 0), col_text(st, 1), col_text(st, 2));
			break;
		}
		put(x, map, col_text(st, 0), v);
	}
	if (!x->rc && rc != SQLITE_DONE)
		dberr(x, "read config");
	sqlite3_finalize(st);
	return x->rc ? NULL : map;
}

static int
prep(struct ex *x, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(x->db, sql, -1, st, NULL) != SQLITE_OK)
		return dberr(x, "read");
	return MMIG_OK;
}

/* A collection {version: v, name: []} under @p map; returns the list. */
static struct mmig__ynode *
collection(struct ex *x, struct mmig__ynode *map, const char *name,
	   int64_t version)
{
	struct mmig__ynode *c = mmig__ynode_new_map(x->d);
	struct mmig__ynode *s = mmig__ynode_new_seq(x->d);

	put_int(x, c, "version", version);
	put(x, c, name, s);
	put(x, map, name, c);
	return x->rc ? NULL : s;
}

/* Machines: rows in insertion order have parents before containers; a
 * container is placed in its parent's "containers" list. */
static void
machines(struct ex *x, struct mmig__ynode *root, int64_t version)
{
	struct mmig__ynode *list = collection(x, root, "machines", version);
	sqlite3_stmt *st = NULL;
	struct mmig__ynode **made = NULL;
	char **ids = NULL;
	size_t n = 0, cap = 0, i;
	int rc;

	if (!list || prep(x, "SELECT id, base, parent, container_type, "
			     "series, containers, extra FROM machines "
			     "ORDER BY rowid",
			  &st))
		return;
	while (!x->rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mmig__ynode *m = mmig__ynode_new_map(x->d), *cs;
		const char *id = col_text(st, 0), *parent = col_text(st, 2);

		put_str(x, m, "id", id);
		if (!col_null(st, 4))
			put_str(x, m, "series", col_text(st, 4));
		else
			put_str(x, m, "base", col_text(st, 1));
		if (!col_null(st, 3))
			put_str(x, m, "container-type", col_text(st, 3));
		if (sqlite3_column_int(st, 5))
			put(x, m, "containers", mmig__ynode_new_seq(x->d));
		put_extra(x, m, col_text(st, 6), id);
		if (x->rc)
			break;
		if (!parent) {
			push(x, list, m);
		} else {
			for (i = n; i-- > 0;)
				if (strcmp(ids[i], parent) == 0)
					break;
			if (i == (size_t)-1) {
				exfail(x, MMIG_ECORRUPT,
				       "machine %s: parent %s not found", id,
				       parent);
				break;
			}
			cs = mmig__ynode_get(made[i], "containers");
			if (!cs) {
				cs = mmig__ynode_new_seq(x->d);
				put(x, made[i], "containers", cs);
			}
			push(x, cs, m);
		}
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 64;
			void *a = mmig__realloc(made, c2 * sizeof(*made));
			void *b;

			if (!a) {
				oom(x);
				break;
			}
			made = a;
			b = mmig__realloc(ids, c2 * sizeof(*ids));
			if (!b) {
				oom(x);
				break;
			}
			ids = b;
			cap = c2;
		}
		made[n] = m;
		if (!(ids[n] = mmig__strdup(id))) {
			oom(x);
			break;
		}
		n++;
	}
	if (!x->rc && rc != SQLITE_DONE)
		dberr(x, "read machines");
	for (i = 0; i < n; i++)
		mmig__free(ids[i]);
	mmig__free(ids);
	mmig__free(made);
	sqlite3_finalize(st);
}

static void
applications(struct ex *x, struct mmig__ynode *root, int64_t version,
	     bool juju)
{
	struct mmig__ynode *list = collection(x, root, "applications", version);
	sqlite3_stmt *st = NULL, *us = NULL;
	int rc;

	if (!list ||
	    prep(x, "SELECT name, charm, subordinate, settings, units_version, "
		    "extra, (SELECT count(*) FROM application_config "
		    "WHERE application = name) FROM applications ORDER BY rowid",
		 &st) ||
	    prep(x, "SELECT name, machine, principal, extra FROM units "
		    "WHERE application = ?1 ORDER BY rowid",
		 &us))
		goto out;
	while (!x->rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mmig__ynode *a = mmig__ynode_new_map(x->d), *ul;
		const char *name = col_text(st, 0);
		int urc;

		put_str(x, a, "name", name);
		put_str(x, a, "charm-url", col_text(st, 1));
		if (!col_null(st, 2))
			put(x, a, "subordinate",
			    mmig__ynode_new_bool(x->d,
						 sqlite3_column_int(st, 2)));
		if (!juju || sqlite3_column_int(st, 3) ||
		    sqlite3_column_int(st, 6))
			put(x, a, "settings",
			    config_map(x,
				       "SELECT key, value, kind FROM "
				       "application_config WHERE "
				       "application = ?1 ORDER BY rowid",
				       name));
		ul = collection(x, a, "units",
				col_null(st, 4) ? MMIG__JUJU_UNITS_VERSION
						: sqlite3_column_int(st, 4));
		sqlite3_bind_text(us, 1, name, -1, SQLITE_TRANSIENT);
		while (!x->rc && (urc = sqlite3_step(us)) == SQLITE_ROW) {
			struct mmig__ynode *u = mmig__ynode_new_map(x->d);

			put_str(x, u, "name", col_text(us, 0));
			put_str(x, u, "machine",
				col_null(us, 1) ? "" : col_text(us, 1));
			if (!col_null(us, 2))
				put_str(x, u, "principal", col_text(us, 2));
			put_extra(x, u, col_text(us, 3), col_text(us, 0));
			push(x, ul, u);
		}
		if (!x->rc && urc != SQLITE_DONE)
			dberr(x, "read units");
		sqlite3_reset(us);
		put_extra(x, a, col_text(st, 5), name);
		push(x, list, a);
	}
	if (!x->rc && rc != SQLITE_DONE)
		dberr(x, "read applications");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(us);
}

static void
relations(struct ex *x, struct mmig__ynode *root, int64_t version)
{
	struct mmig__ynode *list = collection(x, root, "relations", version);
	sqlite3_stmt *st = NULL, *es = NULL;
	int rc;

	if (!list ||
	    prep(x, "SELECT id, key, suspended, endpoints_version, extra "
		    "FROM relations ORDER BY rowid",
		 &st) ||
	    prep(x, "SELECT application, name, role, interface, scope, extra "
		    "FROM relation_endpoints WHERE relation = ?1 "
		    "ORDER BY position",
		 &es))
		goto out;
	while (!x->rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mmig__ynode *r = mmig__ynode_new_map(x->d), *el;
		int erc;

		put_int(x, r, "id", sqlite3_column_int64(st, 0));
		put_str(x, r, "key", col_text(st, 1));
		if (!col_null(st, 2))
			put(x, r, "suspended",
			    mmig__ynode_new_bool(x->d,
						 sqlite3_column_int(st, 2)));
		el = collection(x, r, "endpoints",
				col_null(st, 3) ? MMIG__JUJU_ENDPOINTS_VERSION
						: sqlite3_column_int(st, 3));
		sqlite3_bind_int64(es, 1, sqlite3_column_int64(st, 0));
		while (!x->rc && (erc = sqlite3_step(es)) == SQLITE_ROW) {
			struct mmig__ynode *e = mmig__ynode_new_map(x->d);

			put_str(x, e, "application-name", col_text(es, 0));
			put_str(x, e, "name", col_text(es, 1));
			/* Our JSON says no role, interface or scope. */
			put_str(x, e, "role",
				col_null(es, 2) ? "" : col_text(es, 2));
			put_str(x, e, "interface",
				col_null(es, 3) ? "" : col_text(es, 3));
			put_str(x, e, "scope",
				col_null(es, 4) ? "" : col_text(es, 4));
			put_extra(x, e, col_text(es, 5), col_text(st, 1));
			push(x, el, e);
		}
		if (!x->rc && erc != SQLITE_DONE)
			dberr(x, "read relation endpoints");
		sqlite3_reset(es);
		put_extra(x, r, col_text(st, 4), col_text(st, 1));
		push(x, list, r);
	}
	if (!x->rc && rc != SQLITE_DONE)
		dberr(x, "read relations");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(es);
}

static void
sequences(struct ex *x, struct mmig__ynode *root)
{
	struct mmig__ynode *map = mmig__ynode_new_map(x->d);
	sqlite3_stmt *st = NULL;
	int rc;

	put(x, root, "sequences", map);
	if (x->rc || prep(x, "SELECT name, value FROM sequences ORDER BY rowid",
			  &st))
		return;
	while (!x->rc && (rc = sqlite3_step(st)) == SQLITE_ROW)
		put_int(x, map, col_text(st, 0), sqlite3_column_int64(st, 1));
	if (!x->rc && rc != SQLITE_DONE)
		dberr(x, "read sequences");
	sqlite3_finalize(st);
}

/* The controller row must say "active". */
static int
check_active(struct ex *x, const char *controller_db, const char *uuid)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_open_v2(controller_db, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		exfail(x, MMIG_ENOTFOUND, "%s: %s", controller_db,
		       sqlite3_errmsg(db));
		sqlite3_close(db);
		return x->rc;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT status FROM models WHERE uuid = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		exfail(x, MMIG_ENOTFOUND, "%s: no models table (%s)",
		       controller_db, sqlite3_errmsg(db));
	} else {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			exfail(x, MMIG_ENOTFOUND, "model %s: not in %s", uuid,
			       controller_db);
		else if (rc != SQLITE_ROW)
			exfail(x, MMIG_EDB, "%s: %s", controller_db,
			       sqlite3_errmsg(db));
		else if (strcmp(col_text(st, 0), "active") != 0)
			exfail(x, MMIG_EBUSY,
			       "model %s is %s, not active: settle its import "
			       "first",
			       uuid, col_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return x->rc;
}

/* Put @p front's keys first (in that order), @p back's last, the other
 * members of @p map between, in the order they had. */
static void
reorder(struct ex *x, struct mmig__ynode *map, const char *const *front,
	const char *const *back)
{
	struct mmig__ynode *c, *next, *rest = mmig__ynode_new_map(x->d);
	const char *const *k;
	struct mmig__ynode *m;

	if (!rest) {
		oom(x);
		return;
	}
	/* Everything out into @p rest, then back in the wanted order. */
	for (c = map->first; c; c = next) {
		next = c->next;
		mmig__ynode_remove(c);
		if (mmig__ynode_map_addn(x->d, rest, c->key, c->key_len,
					 c->key_kind, c)) {
			oom(x);
			return;
		}
	}
	for (k = front; *k; k++)
		if ((m = mmig__ynode_get(rest, *k))) {
			mmig__ynode_remove(m);
			put(x, map, *k, m);
		}
	for (c = rest->first; c; c = next) {
		next = c->next;
		for (k = back; *k && strcmp(*k, c->key); k++)
			;
		if (*k)
			continue;
		mmig__ynode_remove(c);
		if (mmig__ynode_map_addn(x->d, map, c->key, c->key_len,
					 c->key_kind, c))
			oom(x);
	}
	for (k = back; *k; k++)
		if ((m = mmig__ynode_get(rest, *k))) {
			mmig__ynode_remove(m);
			put(x, map, *k, m);
		}
}

/* Each item of collection @p name of @p map through reorder(). */
static void
reorder_items(struct ex *x, struct mmig__ynode *map, const char *name,
	      const char *const *front, const char *const *back)
{
	struct mmig__ynode *c;

	c = mmig__ynode_get(mmig__ynode_get(map, name), name);
	if (c && c->kind == MMIG__Y_SEQ)
		for (c = c->first; c && !x->rc; c = c->next)
			if (c->kind == MMIG__Y_MAP)
				reorder(x, c, front, back);
}

static void
reorder_machines(struct ex *x, struct mmig__ynode *list)
{
	static const char *const front[] = {"id", "base", "container-type",
					    "containers", NULL};
	static const char *const none[] = {NULL};
	struct mmig__ynode *c;

	if (!list || list->kind != MMIG__Y_SEQ)
		return;
	for (c = list->first; c && !x->rc; c = c->next) {
		if (c->kind != MMIG__Y_MAP)
			continue;
		reorder(x, c, front, none);
		reorder_machines(x, mmig__ynode_get(c, "containers"));
	}
}

/*
 * Every juju/description document is written at the current versions
 * (mmig__juju_upgrade(); a current one it leaves as it is), its members in
 * the order build() writes a current one, so that importing the export
 * and exporting again gives the same bytes.
 */
static void
upgrade(struct ex *x, struct mmig__ynode *root)
{
	static const char *const model_front[] = {
		"version", "owner", "cloud", "cloud-region", "type",
		"agent-version", NULL};
	static const char *const model_back[] = {
		"config", "sequences", "machines", "applications", "relations",
		NULL};
	static const char *const app_front[] = {
		"name", "charm-url", "subordinate", "settings", "units", NULL};
	static const char *const unit_front[] = {"name", "machine", "principal",
						 NULL};
	static const char *const rel_front[] = {"id", "key", "suspended",
						"endpoints", NULL};
	static const char *const ep_front[] = {
		"application-name", "name", "role", "interface", "scope", NULL};
	static const char *const none[] = {NULL};
	struct mmig__ynode *l, *c;
	char *msg = NULL;
	int rc;

	rc = mmig__juju_upgrade(x->d, NULL, &msg);
	if (rc) {
		exfail(x, rc, "upgrade to the current version: %s",
		       msg ? msg : mmig_strerror(rc));
		mmig__free(msg);
		return;
	}
	reorder(x, root, model_front, model_back);
	reorder_machines(x, mmig__ynode_get(mmig__ynode_get(root, "machines"),
					    "machines"));
	reorder_items(x, root, "applications", app_front, none);
	l = mmig__ynode_get(mmig__ynode_get(root, "applications"),
			    "applications");
	for (c = l ? l->first : NULL; c && !x->rc; c = c->next)
		reorder_items(x, c, "units", unit_front, none);
	reorder_items(x, root, "relations", rel_front, none);
	l = mmig__ynode_get(mmig__ynode_get(root, "relations"), "relations");
	for (c = l ? l->first : NULL; c && !x->rc; c = c->next)
		reorder_items(x, c, "endpoints", ep_front, none);
}

static void
build(struct ex *x)
{
	struct mmig__ynode *root = mmig__ynode_new_map(x->d);
	sqlite3_stmt *st = NULL;
	bool juju;
	int64_t mv, av, rv;

	if (!root) {
		oom(x);
		return;
	}
	mmig__ydoc_set_root(x->d, root);
	if (prep(x, "SELECT version, owner, cloud, region, type, "
		    "agent_version, format, machines_version, "
		    "applications_version, relations_version, extra, uuid, "
		    "name FROM model",
		 &st))
		return;
	if (sqlite3_step(st) != SQLITE_ROW) {
		exfail(x, MMIG_ECORRUPT, "the model database has no model row");
		sqlite3_finalize(st);
		return;
	}
	juju = strcmp(col_text(st, 6), "juju") == 0;
	put_int(x, root, "version",
		juju ? sqlite3_column_int64(st, 0) : MMIG__JUJU_MODEL_VERSION);
	put_str(x, root, "owner", col_text(st, 1));
	put_str(x, root, "cloud", col_text(st, 2));
	if (!col_null(st, 3))
		put_str(x, root, "cloud-region", col_text(st, 3));
	if (!juju || sqlite3_column_int64(st, 0) >= 4)
		put_str(x, root, "type", col_text(st, 4));
	if (!col_null(st, 5) && (!juju || sqlite3_column_int64(st, 0) >= 11))
		put_str(x, root, "agent-version", col_text(st, 5));
	mv = juju ? sqlite3_column_int64(st, 7) : MMIG__JUJU_MACHINES_VERSION;
	av = juju ? sqlite3_column_int64(st, 8)
		  : MMIG__JUJU_APPLICATIONS_VERSION;
	rv = juju ? sqlite3_column_int64(st, 9) : MMIG__JUJU_RELATIONS_VERSION;
	put_extra(x, root, col_text(st, 10), "model");
	{
		struct mmig__ynode *cfg = config_map(
			x, "SELECT key, value, kind FROM model_config "
			   "ORDER BY rowid",
			NULL);

		/* juju/description keeps the name and uuid in config; our
		 * JSON in the model itself. */
		if (cfg && !mmig__ynode_get(cfg, "name"))
			put_str(x, cfg, "name", col_text(st, 12));
		if (cfg && !mmig__ynode_get(cfg, "uuid"))
			put_str(x, cfg, "uuid", col_text(st, 11));
		put(x, root, "config", cfg);
	}
	sqlite3_finalize(st);
	sequences(x, root);
	machines(x, root, mv);
	applications(x, root, av, juju);
	relations(x, root, rv);
	if (!x->rc && juju)
		upgrade(x, root);
}

int
mmig_model_export(const struct mmig_import_paths *paths,
		  const char *model_uuid, FILE *out, char **errmsg)
{
	struct ex x = {0};
	char *path = NULL;
	int rc;

	if (errmsg)
		*errmsg = NULL;
	if (!paths || !paths->controller_db || !paths->model_dir ||
	    !model_uuid || !out)
		return MMIG_EINVAL;
	if (check_active(&x, paths->controller_db, model_uuid))
		goto out;
	path = mmig__asprintf("%s/%s.db", paths->model_dir, model_uuid);
	if (!path) {
		oom(&x);
		goto out;
	}
	rc = sqlite3_open_v2(path, &x.db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		exfail(&x, MMIG_ENOTFOUND, "%s: %s", path,
		       sqlite3_errmsg(x.db));
		goto out;
	}
	sqlite3_busy_timeout(x.db, 5000);
	if (!(x.d = mmig__ydoc_new())) {
		oom(&x);
		goto out;
	}
	/* One read transaction: the document is one snapshot. */
	if (sqlite3_exec(x.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		dberr(&x, path);
		goto out;
	}
	build(&x);
	sqlite3_exec(x.db, "COMMIT", NULL, NULL, NULL);
	if (!x.rc) {
		rc = mmig__yaml_emit(mmig__ydoc_root(x.d), 0, out);
		if (rc)
			exfail(&x, rc, "write: %s", mmig_strerror(rc));
	}
out:
	mmig__ydoc_free(x.d);
	sqlite3_close(x.db);
	mmig__free(path);
	if (x.rc && errmsg)
		*errmsg = x.err;
	else
		mmig__free(x.err);
	return x.rc;
}
