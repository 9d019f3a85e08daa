/*
 * tests/fuzz/fuzz-yaml.c - libFuzzer target for the YAML document layer
 * (domain/yaml-doc.c), the juju/description reader (domain/juju.c) and the
 * bundle expander (domain/bundle.c, domain/bundle-model.c).
 *
 * Whatever the bytes: no crash, no leak, and the contracts hold:
 *  - mmig__yaml_parse() gives MMIG_OK with a document and no message, or
 *    MMIG_EMODEL with a one-line message and no document (or ENOMEM), in
 *    both modes (a dump: no aliases; a bundle: aliases under a budget);
 *  - a document that parses is emitted, and the emitted text parses to the
 *    same tree;
 *  - every mapping of it whose members have source ranges
 *    (mmig__ynode_src_text(), what import stores as an entity's extra)
 *    reads back from that text to the very same nodes, styles included;
 *  - a model that mmig__juju_read() accepts is written back, and that
 *    document reads again with the same counts;
 *  - every model read is upgraded as export does (mmig__juju_upgrade(),
 *    a no-op on a current one) or refused with a one-line message, and
 *    the upgraded document reads again with the same counts, needs no
 *    further upgrade, and upgrading it again changes nothing;
 *  - the same bytes as a bundle, expanded under a small budget (2,000
 *    machines, units and relations; 10,000 alias copies): MMIG_OK with a
 *    topology, or MMIG_EMODEL with a one-line message; a topology's model
 *    is written, and the document reads back as a juju/description model
 *    with the topology's counts -- what the expander makes, import takes.
 * A property that does not hold aborts, which libFuzzer reports.
 */
#include "bundle-int.h"
#include "internal.h"
#include "juju-int.h"
#include "yaml-doc-int.h"
#include "../src-check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
fz_same(const struct mmig__ynode *a, const struct mmig__ynode *b)
{
	const struct mmig__ynode *x, *y;

	if (a->kind != b->kind || a->n != b->n)
		return false;
	if ((a->key == NULL) != (b->key == NULL) ||
	    (a->key && (a->key_kind != b->key_kind || a->key_len != b->key_len ||
			memcmp(a->key, b->key, a->key_len))))
		return false;
	switch (a->kind) {
	case MMIG__Y_BOOL: return a->v.b == b->v.b;
	case MMIG__Y_INT: return a->v.i == b->v.i;
	case MMIG__Y_UINT: return a->v.u == b->v.u;
	case MMIG__Y_FLOAT:
		return (isnan(a->v.f) && isnan(b->v.f)) || a->v.f == b->v.f;
	case MMIG__Y_STR:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	case MMIG__Y_SEQ:
	case MMIG__Y_MAP:
		for (x = a->first, y = b->first; x && y; x = x->next, y = y->next)
			if (!fz_same(x, y))
				return false;
		return true;
	default: return true;
	}
}

static void
check_parse(const uint8_t *data, size_t size, unsigned flags)
{
	static const struct mmig__yaml_limits lim = {
		.max_bytes = 1 << 20, .max_depth = 64, .max_nodes = 100000,
		.max_alias_nodes = 10000};
	struct mmig__ydoc *d = NULL, *again = NULL;
	char *msg = NULL, *text = NULL;
	size_t len = 0;
	int rc = mmig__yaml_parse(data, size, flags, &lim, &d, &msg);

	if (rc == MMIG_OK) {
		size_t with = 0, without = 0;

		if (!d || msg || !mmig__ydoc_root(d))
			abort();
		if (!src_check_tree(d, mmig__ydoc_root(d), data, size, &with,
				    &without))
			abort();
		if ((flags & MMIG__YAML_ALLOW_ALIASES) && with)
			abort();
		rc = mmig__yaml_emit_buf(mmig__ydoc_root(d), 0, &text, &len);
		if (rc == MMIG_OK) {
			/* What we write we read back, to the same tree; the
			 * limits are raised for the emitter's own layout. */
			rc = mmig__yaml_parse(text, len, flags, NULL, &again,
					      NULL);
			if (rc == MMIG_OK &&
			    !fz_same(mmig__ydoc_root(d), mmig__ydoc_root(again)))
				abort();
			if (rc != MMIG_OK && rc != MMIG_ENOMEM)
				abort();
		} else if (rc != MMIG_ENOMEM) {
			abort();
		}
	} else if (rc == MMIG_EMODEL) {
		if (d || !msg || !msg[0] || strchr(msg, '\n'))
			abort();
	} else if (rc != MMIG_ENOMEM) {
		abort();
	}
	free(text);
	mmig__ydoc_free(again);
	mmig__ydoc_free(d);
	mmig__free(msg);
}

static void
check_upgrade(const struct mmig__juju_model *m)
{
	struct mmig__juju_model *m2 = NULL;
	struct mmig__ydoc *out = mmig__juju_write(m), *again = NULL;
	char *msg = NULL, *text = NULL;
	size_t len = 0;
	int rc;

	if (!out)
		return;
	rc = mmig__juju_upgrade(out, NULL, &msg);
	if (rc == MMIG_EMODEL) {
		if (!msg || !msg[0] || strchr(msg, '\n'))
			abort();
	} else if (rc == MMIG_OK) {
		if (msg)
			abort();
		if (mmig__yaml_emit_buf(mmig__ydoc_root(out), 0, &text, &len) !=
		    MMIG_OK)
			goto out;
		rc = mmig__juju_read(text, len, &m2, NULL);
		if (rc == MMIG_ENOMEM)
			goto out;
		if (rc != MMIG_OK || m2->n_machines != m->n_machines ||
		    m2->n_apps != m->n_apps ||
		    m2->n_units_total != m->n_units_total ||
		    m2->n_relations != m->n_relations ||
		    mmig__juju_needs_upgrade(m2))
			abort();
		again = mmig__juju_write(m2);
		if (again && mmig__juju_upgrade(again, NULL, NULL) == MMIG_OK &&
		    !mmig__ynode_same(mmig__ydoc_root(out),
				      mmig__ydoc_root(again), NULL))
			abort();
	} else if (rc != MMIG_ENOMEM) {
		abort();
	}
out:
	free(text);
	mmig__free(msg);
	mmig__ydoc_free(again);
	mmig__juju_free(m2);
	mmig__ydoc_free(out);
}

static void
check_juju(const uint8_t *data, size_t size)
{
	struct mmig__juju_model *m = NULL, *m2 = NULL;
	struct mmig__ydoc *out = NULL;
	char *msg = NULL, *text = NULL;
	size_t len = 0;
	int rc = mmig__juju_read(data, size, &m, &msg);

	if (rc == MMIG_OK) {
		if (!m || msg || !m->uuid || !m->name)
			abort();
		out = mmig__juju_write(m);
		if (out &&
		    mmig__yaml_emit_buf(mmig__ydoc_root(out), 0, &text, &len) ==
			    MMIG_OK) {
			rc = mmig__juju_read(text, len, &m2, NULL);
			if (rc == MMIG_OK &&
			    (m2->n_machines != m->n_machines ||
			     m2->n_apps != m->n_apps ||
			     m2->n_units_total != m->n_units_total ||
			     m2->n_relations != m->n_relations ||
			     m2->n_kept != m->n_kept))
				abort();
			if (rc != MMIG_OK && rc != MMIG_ENOMEM)
				abort();
		}
	} else if (rc == MMIG_EMODEL) {
		if (m || !msg || !msg[0] || strchr(msg, '\n'))
			abort();
	} else if (rc != MMIG_ENOMEM) {
		abort();
	}
	free(text);
	mmig__ydoc_free(out);
	mmig__juju_free(m2);
	/* Export upgrades every document (a current one it leaves as it
	 * is). */
	if (m)
		check_upgrade(m);
	mmig__juju_free(m);
	mmig__free(msg);
}

static void
check_bundle(const uint8_t *data, size_t size)
{
	const struct mmig__bundle_opts o = { .scale = 1 + size % 3,
					     .seed = 1,
					     .max_items = 2000,
					     .max_alias_nodes = 10000 };
	struct mmig__topo *t = NULL;
	struct mmig__juju_model *m = NULL, *m2 = NULL;
	struct mmig__ydoc *out = NULL;
	char *msg = NULL, *text = NULL;
	size_t len = 0, n_machines, n_units, n_relations;
	int rc = mmig__bundle_topo(data, size, &o, &t, &msg);

	if (rc == MMIG_EMODEL) {
		if (t || !msg || !msg[0] || strchr(msg, '\n'))
			abort();
		goto out;
	}
	if (rc != MMIG_OK) {
		if (rc != MMIG_ENOMEM)
			abort();
		goto out;
	}
	if (!t || msg || t->n_machines + t->n_units + t->n_relations > 2000)
		abort();
	n_machines = t->n_machines;
	n_units = t->n_units;
	n_relations = t->n_relations;
	rc = mmig__topo_model(t, &m);
	if (rc != MMIG_OK) {
		if (rc != MMIG_ENOMEM)
			abort();
		goto out;
	}
	out = mmig__juju_write(m);
	if (!out ||
	    mmig__yaml_emit_buf(mmig__ydoc_root(out), 0, &text, &len) !=
		    MMIG_OK)
		goto out;
	rc = mmig__juju_read(text, len, &m2, &msg);
	if (rc == MMIG_OK &&
	    (m2->n_machines != n_machines || m2->n_units_total != n_units ||
	     m2->n_relations != n_relations ||
	     m2->n_machines != m->n_machines ||
	     m2->n_units_total != m->n_units_total))
		abort();
	if (rc != MMIG_OK && rc != MMIG_ENOMEM)
		abort();
out:
	free(text);
	mmig__ydoc_free(out);
	mmig__juju_free(m2);
	mmig__juju_free(m);
	mmig__topo_free(t);
	mmig__free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t none[1];
	const uint8_t *p = size ? data : none;

	check_parse(p, size, 0);
	check_parse(p, size, MMIG__YAML_ALLOW_ALIASES | MMIG__YAML_STRING_KEYS);
	check_juju(p, size);
	check_bundle(p, size);
	return 0;
}
