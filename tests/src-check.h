/*
 * tests/src-check.h - checks that a mapping's source text
 * (mmig__ynode_src_text()) reads back to the mapping, strictly: the same
 * members in the same order, each node of the same kind, style, text and
 * key.  Header-only, for test-yaml.c and test-juju.c.
 */
#ifndef MMIG_TEST_SRC_CHECK_H
#define MMIG_TEST_SRC_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "yaml-doc-int.h"

/* Same kind, style, text, key and children in order; prints where not. */
static __attribute__((unused)) bool
src_strict_same(const struct mmig__ynode *a, const struct mmig__ynode *b)
{
	const struct mmig__ynode *x, *y;
	char path[256];

	if (a->kind != b->kind || a->n != b->n || a->len != b->len ||
	    a->key_len != b->key_len || a->key_kind != b->key_kind ||
	    (a->kind < MMIG__Y_SEQ && a->style != b->style) ||
	    (a->str && memcmp(a->str, b->str, a->len) != 0) ||
	    (a->key && memcmp(a->key, b->key, a->key_len) != 0) ||
	    !mmig__ynode_same(a, b, NULL)) {
		mmig__ynode_path(a, path, sizeof(path));
		fprintf(stderr, "src text differs at %s\n", path);
		return false;
	}
	for (x = a->first, y = b->first; x && y; x = x->next, y = y->next)
		if (!src_strict_same(x, y))
			return false;
	return true;
}

/*
 * Check @p map's source text, when it has one, against @p map.
 * @return 1 when it had one and it read back the same, 0 when it had
 *         none, -1 when it did not read back (or did not parse).
 */
static __attribute__((unused)) int
src_check_map(struct mmig__ydoc *doc, const struct mmig__ynode *map,
	      const void *src, size_t src_len)
{
	const char *text = NULL;
	size_t len = 0;
	struct mmig__ydoc *back = NULL;
	const struct mmig__ynode *r, *x, *y;
	char *err = NULL;
	int ok = 1;

	if (mmig__ynode_src_text(doc, map, src, src_len, &text, &len) !=
	    MMIG_OK)
		return -1;
	if (!text)
		return 0;
	if (strlen(text) != len ||
	    mmig__yaml_parse(text, len, 0, NULL, &back, &err) != MMIG_OK) {
		fprintf(stderr, "src text does not parse: %s\n---\n%s---\n",
			err ? err : "", text);
		free(err);
		return -1;
	}
	r = mmig__ydoc_root(back);
	if (r->kind != MMIG__Y_MAP || r->n != map->n)
		ok = -1;
	for (x = map->first, y = r->first; ok == 1 && x && y;
	     x = x->next, y = y->next)
		if (!src_strict_same(x, y))
			ok = -1;
	if (ok != 1)
		fprintf(stderr, "src text reads back otherwise:\n---\n%s---\n",
			text);
	mmig__ydoc_free(back);
	return ok;
}

/* src_check_map() on every mapping under @p n (itself included): counts
 * those with a text in *with, without in *without; false at the first
 * that does not read back. */
static __attribute__((unused)) bool
src_check_tree(struct mmig__ydoc *doc, const struct mmig__ynode *n,
	       const void *src, size_t src_len, size_t *with, size_t *without)
{
	const struct mmig__ynode *c;

	if (n->kind == MMIG__Y_MAP && n->n) {
		int rc = src_check_map(doc, n, src, src_len);

		if (rc < 0)
			return false;
		if (rc)
			(*with)++;
		else
			(*without)++;
	}
	for (c = n->first; c; c = c->next)
		if (!src_check_tree(doc, c, src, src_len, with, without))
			return false;
	return true;
}

#endif
