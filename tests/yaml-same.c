/*
 * tests/yaml-same.c - do two YAML files hold the same data?  Maps compare
 * by key whatever their order, scalars by kind and value (as yaml.v2 reads
 * them), sequences in order: mmig__ynode_same().  Used by the CLI tests
 * to check that `mmig export` gives back what `mmig import` read.
 *
 * usage: yaml-same A.yaml B.yaml   exit 0 same, 1 different (the first
 * difference's path on stderr), 2 unreadable.
 *        yaml-same --upgraded OLD.yaml NEW.yaml   the same exits for "NEW
 * is OLD written at the current juju/description versions, every value of
 * OLD in it" (juju_upgraded_check()).
 */
#include "internal.h"
#include "juju-upgraded.h"
#include "yaml-doc-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const struct mmig__ynode *where = NULL;
	struct mmig__ydoc *a, *b;
	char path[512];
	int rc;

	if (argc == 4 && strcmp(argv[1], "--upgraded") == 0) {
		char msg[1024];

		a = load(argv[2]);
		b = load(argv[3]);
		rc = juju_upgraded_check(mmig__ydoc_root(a), mmig__ydoc_root(b),
					 msg, sizeof(msg))
			     ? 0
			     : 1;
		if (rc)
			fprintf(stderr, "%s is not the upgrade of %s: %s\n",
				argv[3], argv[2], msg);
		mmig__ydoc_free(a);
		mmig__ydoc_free(b);
		return rc;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: yaml-same A.yaml B.yaml\n"
				"       yaml-same --upgraded OLD.yaml NEW.yaml\n");
		return 2;
	}
	a = load(argv[1]);
	b = load(argv[2]);
	rc = mmig__ynode_same(mmig__ydoc_root(a), mmig__ydoc_root(b), &where)
		     ? 0
		     : 1;
	if (rc) {
		mmig__ynode_path(where, path, sizeof(path));
		fprintf(stderr, "%s and %s differ at line %u of the first: %s\n",
			argv[1], argv[2], (unsigned)where->line, path);
	}
	mmig__ydoc_free(a);
	mmig__ydoc_free(b);
	return rc;
}
