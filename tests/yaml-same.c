/*
 * tests/yaml-same.c - do two YAML files hold the same data?  Maps compare
 * by key whatever their order, scalars by kind and value (as yaml.v2 reads
 * them), sequences in order.  Used by the CLI tests to check that
 * `mmig export` gives back what `mmig import` read.
 *
 * usage: yaml-same A.yaml B.yaml   exit 0 same, 1 different (the first
 * difference's path on stderr), 2 unreadable.
 */
#include "internal.h"
#include "yaml-doc-int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mmig__ynode *where;

static bool
same(const struct mmig__ynode *a, const struct mmig__ynode *b)
{
	const struct mmig__ynode *x, *y;

	where = a;
	if (a->kind != b->kind || a->n != b->n)
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
		for (x = a->first, y = b->first; x && y; x = x->next, y = y->next)
			if (!same(x, y))
				return false;
		return true;
	case MMIG__Y_MAP:
		for (x = a->first; x; x = x->next) {
			for (y = b->first; y; y = y->next)
				if (y->key_kind == x->key_kind &&
				    y->key_len == x->key_len &&
				    !memcmp(y->key, x->key, x->key_len))
					break;
			if (!y) {
				where = x;
				return false;
			}
			if (!same(x, y))
				return false;
		}
		return true;
	default: return true;
	}
}

static struct mmig__ydoc *
load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *err = NULL;
	size_t len = 0, n;
	struct mmig__ydoc *d = NULL;
	char chunk[65536];

	if (!f) {
		perror(path);
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, len + n);
		if (!buf)
			exit(2);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (mmig__yaml_parse(buf, len, 0, NULL, &d, &err) != MMIG_OK) {
		fprintf(stderr, "%s: %s\n", path, err ? err : "out of memory");
		exit(2);
	}
	free(buf);
	return d;
}

int
main(int argc, char **argv)
{
	struct mmig__ydoc *a, *b;
	char path[512];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: yaml-same A.yaml B.yaml\n");
		return 2;
	}
	a = load(argv[1]);
	b = load(argv[2]);
	rc = same(mmig__ydoc_root(a), mmig__ydoc_root(b)) ? 0 : 1;
	if (rc) {
		mmig__ynode_path(where, path, sizeof(path));
		fprintf(stderr, "%s and %s differ at line %u of the first: %s\n",
			argv[1], argv[2], (unsigned)where->line, path);
	}
	mmig__ydoc_free(a);
	mmig__ydoc_free(b);
	return rc;
}
