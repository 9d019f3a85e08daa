/*
 * tests/test-juju.c - juju/description documents (domain/juju.c): the real
 * files read with the right counts and shapes (containers, Kubernetes
 * units, subordinates, peer relations), written back to the same data tree,
 * and malformed documents refused with line, column and path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data-file.h"
#include "internal.h"
#include "juju-int.h"
#include "juju-upgraded.h"
#include "mmig/error.h"
#include "mmig/import.h"
#include "src-check.h"

static char *
read_data(const char *name, size_t *len)
{
	return test_data_file(DATA_DIR, name, len);
}

/* Same data, key order aside (mmig__ynode_same()); says where not. */
static bool
same_tree(const struct mmig__ynode *a, const struct mmig__ynode *b)
{
	const struct mmig__ynode *where = NULL;
	char path[256];

	if (mmig__ynode_same(a, b, &where))
		return true;
	mmig__ynode_path(where, path, sizeof(path));
	print_error("differs at %s\n", path);
	return false;
}

static struct mmig__juju_model *
read_ok(const char *buf, size_t len)
{
	struct mmig__juju_model *m = NULL;
	char *err = NULL;

	if (mmig__juju_read(buf, len, &m, &err) != MMIG_OK)
		fail_msg("read: %s", err ? err : "out of memory");
	return m;
}

/* One entity's extra_src: what import stores reads back to its extra.
 * Counts in *with when it has one, *without when it is emitted. */
static void
check_one_src(struct mmig__juju_model *m, const struct mmig__ynode *extra,
	      const char *extra_src, size_t *with, size_t *without)
{
	struct mmig__ydoc *back = NULL;
	const struct mmig__ynode *x, *y;
	char *err = NULL;

	if (!extra || extra->n == 0) {
		assert_null(extra_src);
		return;
	}
	if (!extra_src) {
		(*without)++;
		return;
	}
	(*with)++;
	if (mmig__yaml_parse(extra_src, strlen(extra_src), 0, NULL, &back,
			     &err) != MMIG_OK)
		fail_msg("extra_src does not parse: %s\n%s", err, extra_src);
	assert_int_equal(mmig__ydoc_root(back)->kind, MMIG__Y_MAP);
	assert_int_equal(mmig__ydoc_root(back)->n, extra->n);
	for (x = extra->first, y = mmig__ydoc_root(back)->first; x;
	     x = x->next, y = y->next)
		if (!src_strict_same(x, y))
			fail_msg("extra_src reads back otherwise:\n%s",
				 extra_src);
	mmig__ydoc_free(back);
	(void)m;
}

/* Every entity's extra_src (what the import stores instead of emitting
 * the extra) reads back to its extra, strictly.  @return how many
 * entities had one; *without gets how many are emitted. */
static size_t
check_extra_src(struct mmig__juju_model *m, size_t *without)
{
	size_t with = 0, i, j;

	*without = 0;
	check_one_src(m, m->extra, m->extra_src, &with, without);
	for (i = 0; i < m->n_machines; i++)
		check_one_src(m, m->machines[i].extra,
			      m->machines[i].extra_src, &with, without);
	for (i = 0; i < m->n_apps; i++) {
		check_one_src(m, m->apps[i].extra, m->apps[i].extra_src, &with,
			      without);
		for (j = 0; j < m->apps[i].n_units; j++)
			check_one_src(m, m->apps[i].units[j].extra,
				      m->apps[i].units[j].extra_src, &with,
				      without);
	}
	for (i = 0; i < m->n_relations; i++) {
		check_one_src(m, m->relations[i].extra,
			      m->relations[i].extra_src, &with, without);
		for (j = 0; j < m->relations[i].n_endpoints; j++)
			check_one_src(m, m->relations[i].ep[j].extra,
				      m->relations[i].ep[j].extra_src, &with,
				      without);
	}
	return with;
}

/* write(read(file)) is the file's data tree. */
static void
roundtrip_file(const char *name)
{
	size_t len;
	char *buf = read_data(name, &len);
	struct mmig__juju_model *m = read_ok(buf, len);
	struct mmig__ydoc *orig = NULL, *out = mmig__juju_write(m), *back = NULL;
	char *text = NULL;
	size_t tlen;

	size_t with, without;

	/* Every entity's extra is copied from the file, and reads back. */
	with = check_extra_src(m, &without);
	assert_true(with > 0);
	assert_int_equal(without, 0);
	assert_non_null(out);
	assert_int_equal(mmig__yaml_parse(buf, len, 0, NULL, &orig, NULL), MMIG_OK);
	if (!same_tree(mmig__ydoc_root(orig), mmig__ydoc_root(out)))
		fail_msg("%s: written tree differs", name);
	/* And through YAML text, read again. */
	assert_int_equal(mmig__yaml_emit_buf(mmig__ydoc_root(out), 0, &text, &tlen),
			 MMIG_OK);
	assert_int_equal(mmig__yaml_parse(text, tlen, 0, NULL, &back, NULL),
			 MMIG_OK);
	assert_true(same_tree(mmig__ydoc_root(orig), mmig__ydoc_root(back)));
	free(text);
	mmig__ydoc_free(back);
	mmig__ydoc_free(orig);
	mmig__ydoc_free(out);
	mmig__juju_free(m);
	free(buf);
}

static void
test_juju_iaas_small(void **state)
{
	size_t len, i, peers = 0, subs = 0;
	char *buf = read_data("iaas-small.yaml", &len);
	struct mmig__juju_model *m = read_ok(buf, len);

	(void)state;
	assert_int_equal(m->version, 12);
	assert_string_equal(m->type, "iaas");
	assert_string_equal(m->region, "us-east-1");
	assert_string_equal(m->agent_version, "3.6.14");
	assert_int_equal(m->n_machines, 6);
	for (i = 0; i < m->n_machines; i++) {
		if (strcmp(m->machines[i].id, "0/lxd/1") == 0) {
			assert_string_equal(m->machines[i].parent, "0");
			assert_string_equal(m->machines[i].container_type, "lxd");
			assert_int_equal(m->machines[i].depth, 1);
		}
	}
	assert_int_equal(m->n_apps, 4);
	for (i = 0; i < m->n_apps; i++) {
		if (m->apps[i].subordinate) {
			subs++;
			assert_string_equal(m->apps[i].name, "ntp");
			assert_int_equal(m->apps[i].n_units, 2);
			assert_non_null(m->apps[i].units[0].principal);
		}
	}
	assert_int_equal(subs, 1);
	assert_int_equal(m->n_relations, 4);
	for (i = 0; i < m->n_relations; i++)
		if (m->relations[i].n_endpoints == 1) {
			peers++;
			assert_string_equal(m->relations[i].ep[0].role, "peer");
			assert_string_equal(m->relations[i].key, "mysql:cluster");
		}
	assert_int_equal(peers, 1);
	assert_true(m->n_sequences > 0);
	assert_true(m->n_kept > 100);
	mmig__juju_free(m);
	free(buf);
	roundtrip_file("iaas-small.yaml");
}

static void
test_juju_caas_small(void **state)
{
	size_t len, i, j;
	char *buf = read_data("caas-small.yaml", &len);
	struct mmig__juju_model *m = read_ok(buf, len);

	(void)state;
	assert_string_equal(m->type, "caas");
	assert_int_equal(m->n_machines, 0);
	assert_int_equal(m->n_units_total, 6);
	for (i = 0; i < m->n_apps; i++)
		for (j = 0; j < m->apps[i].n_units; j++)
			assert_null(m->apps[i].units[j].machine);
	mmig__juju_free(m);
	free(buf);
	roundtrip_file("caas-small.yaml");
}

static void
test_juju_iaas_large(void **state)
{
	size_t len;
	char *buf = read_data("iaas-large.yaml", &len);
	struct mmig__juju_model *m = read_ok(buf, len);

	(void)state;
	assert_int_equal(m->n_machines, 600);
	assert_int_equal(m->n_apps, 20);
	assert_int_equal(m->n_relations, 40);
	mmig__juju_free(m);
	free(buf);
	roundtrip_file("iaas-large.yaml");
}

static void
test_juju_v1_dump(void **state)
{
	size_t len;
	char *buf = read_data("juju-model-dump-v1-juju2.1.yaml", &len);
	struct mmig__juju_model *m = read_ok(buf, len);

	(void)state;
	assert_int_equal(m->version, 1);
	assert_string_equal(m->type, "iaas");
	assert_int_equal(m->n_machines, 1);
	assert_string_equal(m->machines[0].id, "1");
	assert_string_equal(m->machines[0].series, "xenial");
	assert_int_equal(m->n_apps, 1);
	assert_int_equal(m->n_units_total, 1);
	assert_int_equal(m->n_relations, 0);
	mmig__juju_free(m);
	free(buf);
	roundtrip_file("juju-model-dump-v1-juju2.1.yaml");
}

/* The real version-1 dump written at the current versions: every value of
 * the input in it (juju-upgraded.c walks the input and finds each scalar,
 * with its small table of what juju/description moves), every versioned
 * mapping at the current version, the values juju/description's importer
 * derives present, and the upgraded document stable: read and written
 * again it is the same tree, and upgrading it again changes nothing. */
static void
test_juju_upgrade_v1(void **state)
{
	size_t len, tlen, left = 99;
	char *buf = read_data("juju-model-dump-v1-juju2.1.yaml", &len);
	struct mmig__juju_model *m = read_ok(buf, len), *m2;
	struct mmig__ydoc *orig = NULL, *up = mmig__juju_write(m), *again, *back;
	struct mmig__ynode *root, *mach, *app;
	char msg[1024], *text = NULL, *err = NULL;

	(void)state;
	assert_true(mmig__juju_needs_upgrade(m));
	assert_non_null(up);
	assert_int_equal(mmig__yaml_parse(buf, len, 0, NULL, &orig, NULL), MMIG_OK);
	assert_int_equal(mmig__juju_upgrade(up, &left, &err), MMIG_OK);
	assert_null(err);
	assert_int_equal(left, 0);
	if (!juju_upgraded_check(mmig__ydoc_root(orig), mmig__ydoc_root(up), msg,
				 sizeof(msg)))
		fail_msg("%s", msg);

	/* What juju/description derives when it reads version 1. */
	root = mmig__ydoc_root(up);
	assert_string_equal(mmig__ynode_get(root, "type")->str, "iaas");
	assert_string_equal(mmig__ynode_get(root, "agent-version")->str,
			    "2.1-rc1.1");
	assert_int_equal(mmig__ynode_get(root, "environ-version")->v.i, 0);
	assert_string_equal(
		mmig__ynode_get(mmig__ynode_get(root, "sla"), "level")->str, "");
	mach = mmig__ynode_get(mmig__ynode_get(root, "machines"), "machines")->first;
	assert_string_equal(mmig__ynode_get(mach, "base")->str, "ubuntu@16.04");
	assert_string_equal(mmig__ynode_get(mach, "series")->str, "xenial");
	assert_false(mmig__ynode_get(mmig__ynode_get(mmig__ynode_get(mach, "status"),
						     "status"),
				     "neverset")
			     ->v.b);
	app = mmig__ynode_get(mmig__ynode_get(root, "applications"),
			      "applications")
		      ->first;
	assert_string_equal(mmig__ynode_get(app, "type")->str, "iaas");
	assert_int_equal(mmig__ynode_get(mmig__ynode_get(root, "ip-addresses"),
					 "ip-addresses")
				 ->first->n,
			 12);

	/* Read back: current, nothing to upgrade, written the same. */
	assert_int_equal(mmig__yaml_emit_buf(root, 0, &text, &tlen), MMIG_OK);
	m2 = read_ok(text, tlen);
	assert_int_equal(m2->version, MMIG__JUJU_MODEL_VERSION);
	assert_int_equal(m2->machines_version, MMIG__JUJU_MACHINES_VERSION);
	assert_int_equal(m2->applications_version,
			 MMIG__JUJU_APPLICATIONS_VERSION);
	assert_int_equal(m2->apps[0].units_version, MMIG__JUJU_UNITS_VERSION);
	assert_int_equal(m2->relations_version, MMIG__JUJU_RELATIONS_VERSION);
	assert_string_equal(m2->machines[0].base, "ubuntu@16.04");
	assert_false(mmig__juju_needs_upgrade(m2));
	again = mmig__juju_write(m2);
	assert_non_null(again);
	assert_true(same_tree(root, mmig__ydoc_root(again)));
	assert_int_equal(mmig__juju_upgrade(again, &left, NULL), MMIG_OK);
	assert_true(same_tree(root, mmig__ydoc_root(again)));
	/* And the check itself finds a value that went missing. */
	assert_int_equal(mmig__yaml_parse(text, tlen, 0, NULL, &back, NULL),
			 MMIG_OK);
	mmig__ynode_remove(mmig__ynode_get(
		mmig__ynode_get(mmig__ynode_get(mmig__ydoc_root(back), "users"),
				"users")
			->first,
		"last-connection"));
	assert_false(juju_upgraded_check(mmig__ydoc_root(orig),
					 mmig__ydoc_root(back), msg,
					 sizeof(msg)));
	assert_non_null(strstr(msg, "last-connection"));
	mmig__ydoc_free(back);
	mmig__ydoc_free(again);
	mmig__juju_free(m2);
	free(text);
	mmig__ydoc_free(up);
	mmig__ydoc_free(orig);
	mmig__juju_free(m);
	free(buf);
}

/* A version-1 document whose config has no agent-version: model.go reads
 * "" from it and Serialize writes the field all the same (no omitempty),
 * and a version-11-or-later reader requires it, so the upgrade writes "".
 * Found by fuzz-yaml: the upgraded document could not be read back. */
static void
test_juju_upgrade_v1_without_agent_version(void **state)
{
	size_t len, tlen, left = 99;
	char *buf = read_data("juju-model-dump-v1-juju2.1.yaml", &len);
	char *at = strstr(buf, "  agent-version: 2.1-rc1.1\n"), *text = NULL;
	struct mmig__juju_model *m, *m2;
	struct mmig__ydoc *up;

	(void)state;
	assert_non_null(at);
	memcpy(at, "  agent-xersion", strlen("  agent-xersion"));
	m = read_ok(buf, len);
	up = mmig__juju_write(m);
	assert_non_null(up);
	assert_int_equal(mmig__juju_upgrade(up, &left, NULL), MMIG_OK);
	assert_string_equal(
		mmig__ynode_get(mmig__ydoc_root(up), "agent-version")->str, "");
	assert_int_equal(mmig__yaml_emit_buf(mmig__ydoc_root(up), 0, &text,
					     &tlen),
			 MMIG_OK);
	m2 = read_ok(text, tlen);
	assert_string_equal(m2->agent_version, "");
	assert_false(mmig__juju_needs_upgrade(m2));
	mmig__juju_free(m2);
	free(text);
	mmig__ydoc_free(up);
	mmig__juju_free(m);
	free(buf);
}

/* A serializer-written version-12 document (model 12; spaces 2, storages
 * 3, application and unit resources 1) written at the current versions:
 * every value of the input in it (the model's status and status-history,
 * which version 14 dropped, included), every versioned mapping at the
 * current version, authorized-keys added empty, and the upgraded document
 * stable: read and written again it is the same tree, current, and
 * upgrading it again changes nothing. */
static void
upgrade_v12_file(const char *name)
{
	size_t len, tlen, left = 99;
	char *buf = read_data(name, &len);
	struct mmig__juju_model *m = read_ok(buf, len), *m2;
	struct mmig__ydoc *orig = NULL, *up = mmig__juju_write(m), *again;
	struct mmig__ynode *root, *ak;
	char msg[1024], *text = NULL, *err = NULL;

	assert_int_equal(m->version, 12);
	assert_true(mmig__juju_needs_upgrade(m));
	assert_non_null(up);
	assert_int_equal(mmig__yaml_parse(buf, len, 0, NULL, &orig, NULL), MMIG_OK);
	assert_int_equal(mmig__juju_upgrade(up, &left, &err), MMIG_OK);
	assert_null(err);
	assert_int_equal(left, 0);
	if (!juju_upgraded_check(mmig__ydoc_root(orig), mmig__ydoc_root(up), msg,
				 sizeof(msg)))
		fail_msg("%s: %s", name, msg);
	root = mmig__ydoc_root(up);
	assert_int_equal(mmig__ynode_get(root, "version")->v.i, 14);
	ak = mmig__ynode_get(root, "authorized-keys");
	assert_non_null(ak);
	assert_int_equal(mmig__ynode_get(ak, "version")->v.i, 1);
	assert_int_equal(mmig__ynode_get(ak, "users-authorized-keys")->n, 0);
	assert_non_null(mmig__ynode_get(mmig__ynode_get(root, "status"), "status"));
	assert_int_equal(mmig__ynode_get(mmig__ynode_get(root, "spaces"), "version")
				 ->v.i,
			 3);
	assert_int_equal(mmig__ynode_get(mmig__ynode_get(root, "storages"),
					 "version")
				 ->v.i,
			 4);

	/* Our reader reads it back, current, and writes the same tree. */
	assert_int_equal(mmig__yaml_emit_buf(root, 0, &text, &tlen), MMIG_OK);
	m2 = read_ok(text, tlen);
	assert_int_equal(m2->version, MMIG__JUJU_MODEL_VERSION);
	assert_false(mmig__juju_needs_upgrade(m2));
	assert_int_equal(m2->n_machines, m->n_machines);
	assert_int_equal(m2->n_units_total, m->n_units_total);
	assert_int_equal(m2->n_relations, m->n_relations);
	assert_string_equal(m2->type, m->type);
	again = mmig__juju_write(m2);
	assert_non_null(again);
	assert_true(same_tree(root, mmig__ydoc_root(again)));
	assert_int_equal(mmig__juju_upgrade(again, &left, NULL), MMIG_OK);
	assert_int_equal(left, 0);
	assert_true(same_tree(root, mmig__ydoc_root(again)));
	mmig__ydoc_free(again);
	mmig__juju_free(m2);
	free(text);
	mmig__ydoc_free(up);
	mmig__ydoc_free(orig);
	mmig__juju_free(m);
	free(buf);
}

static void
test_juju_upgrade_v12(void **state)
{
	(void)state;
	upgrade_v12_file("iaas-small.yaml");
	upgrade_v12_file("caas-small.yaml");
	upgrade_v12_file("iaas-large.yaml");
}

/* A current document (a bundle expanded by gen-model, model 14) needs no
 * upgrade, and mmig__juju_upgrade() leaves it exactly as it is; the
 * version checker passes it against itself. */
static void
test_juju_upgrade_not_needed(void **state)
{
	const char *bundles[] = {"bundle-charmed-kubernetes-1.35.yaml",
				 "bundle-kubeflow-1.10-stable.yaml"};
	size_t i, len, ylen, left = 99;
	char msg[1024];

	(void)state;
	for (i = 0; i < sizeof(bundles) / sizeof(bundles[0]); i++) {
		char *bundle = read_data(bundles[i], &len), *yaml = NULL,
		     *err = NULL;
		FILE *mem = open_memstream(&yaml, &ylen);
		struct mmig__juju_model *m;
		struct mmig__ydoc *orig = NULL, *d;

		assert_non_null(mem);
		if (mmig_model_gen_bundle(bundle, len, 1, 7, mem, &err) != MMIG_OK)
			fail_msg("%s: %s", bundles[i], err ? err : "");
		assert_int_equal(fclose(mem), 0);
		m = read_ok(yaml, ylen);
		assert_int_equal(m->version, MMIG__JUJU_MODEL_VERSION);
		assert_false(mmig__juju_needs_upgrade(m));
		d = mmig__juju_write(m);
		assert_non_null(d);
		assert_int_equal(mmig__yaml_parse(yaml, ylen, 0, NULL, &orig, NULL),
				 MMIG_OK);
		assert_int_equal(mmig__juju_upgrade(d, &left, NULL), MMIG_OK);
		assert_int_equal(left, 0);
		assert_true(same_tree(mmig__ydoc_root(orig), mmig__ydoc_root(d)));
		if (!juju_upgraded_check(mmig__ydoc_root(orig), mmig__ydoc_root(d),
					 msg, sizeof(msg)))
			fail_msg("%s: %s", bundles[i], msg);
		mmig__ydoc_free(orig);
		mmig__ydoc_free(d);
		mmig__juju_free(m);
		free(yaml);
		free(bundle);
	}
}

/* Replace the first @p from in @p base by @p to. */
static char *
mutate(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	size_t a, b = strlen(from), c = strlen(to), n = strlen(base);
	char *s;

	if (!at)
		fail_msg("mutation source \"%s\" not found", from);
	a = (size_t)(at - base);
	s = malloc(n - b + c + 1);
	assert_non_null(s);
	memcpy(s, base, a);
	memcpy(s + a, to, c);
	memcpy(s + a + c, at + b, n - a - b + 1);
	return s;
}

/* Read @p text (a version-1 document) and write it upgraded; the upgrade's
 * result code, the tree in *out (NULL on failure). */
static int
upgrade_text(const char *text, struct mmig__ydoc **out, char **err)
{
	struct mmig__juju_model *m = read_ok(text, strlen(text));
	struct mmig__ydoc *d = mmig__juju_write(m);
	int rc;

	assert_non_null(d);
	rc = mmig__juju_upgrade(d, NULL, err);
	mmig__juju_free(m);
	if (rc) {
		mmig__ydoc_free(d);
		d = NULL;
	}
	*out = d;
	return rc;
}

/* Upgrade steps the real dump does not need: version-1 agent tools name a
 * series, version 2 the OS; a non-empty version-1 instance status is kept
 * as the message of juju/description's "unknown" status; a series
 * juju/description has no base for is refused, naming the place. */
static void
test_juju_upgrade_steps(void **state)
{
	size_t len;
	char *buf = read_data("juju-model-dump-v1-juju2.1.yaml", &len);
	char *t1, *t2, *t3, *err = NULL;
	struct mmig__ydoc *d;
	struct mmig__ynode *root, *unit, *inst;

	(void)state;
	buf = realloc(buf, len + 1);
	assert_non_null(buf);
	buf[len] = '\0';
	t1 = mutate(buf, "tools-version: 2.1-rc1.1-ubuntu-amd64\n"
			 "          url: \"\"\n          version: 2",
		    "tools-version: 2.1-rc1.1-xenial-amd64\n"
		    "          url: \"\"\n          version: 1");
	t2 = mutate(t1, "      status: \"\"\n      version: 1",
		    "      status: provisioning\n      version: 1");
	if (upgrade_text(t2, &d, &err) != MMIG_OK)
		fail_msg("upgrade: %s", err ? err : "out of memory");
	root = mmig__ydoc_root(d);
	unit = mmig__ynode_get(
		mmig__ynode_get(mmig__ynode_get(root, "applications"),
				"applications")
			->first,
		"units");
	unit = mmig__ynode_get(unit, "units")->first;
	assert_string_equal(
		mmig__ynode_get(mmig__ynode_get(unit, "tools"), "tools-version")
			->str,
		"2.1-rc1.1-ubuntu-amd64");
	assert_int_equal(
		mmig__ynode_get(mmig__ynode_get(unit, "tools"), "version")->v.i, 2);
	inst = mmig__ynode_get(
		mmig__ynode_get(mmig__ynode_get(root, "machines"), "machines")
			->first,
		"instance");
	assert_int_equal(mmig__ynode_get(inst, "version")->v.i, 6);
	inst = mmig__ynode_get(mmig__ynode_get(inst, "status"), "status");
	assert_string_equal(mmig__ynode_get(inst, "value")->str, "unknown");
	assert_string_equal(mmig__ynode_get(inst, "message")->str,
			    "provisioning");
	mmig__ydoc_free(d);

	t3 = mutate(buf, "    series: xenial\n    status:\n      status:\n"
			 "        updated: 2017-03-06",
		    "    series: nosuch\n    status:\n      status:\n"
		    "        updated: 2017-03-06");
	assert_int_equal(upgrade_text(t3, &d, &err), MMIG_EMODEL);
	assert_null(d);
	assert_non_null(err);
	assert_non_null(strstr(err, "machines[0].series"));
	mmig__free(err);
	free(t1);
	free(t2);
	free(t3);
	free(buf);
}

static void
test_juju_malformed(void **state)
{
	static const struct {
		const char *file, *from, *to, *want;
	} cases[] = {
		{"iaas-small.yaml", "machines:\n  version: 4", "machines:\n  version: 7",
		 "line 32, column 12: machines.version: machines version 7 is not one we read (we read 1-4)"},
		{"iaas-small.yaml", "version: 12\n", "version: 15\n", "model version 15 is not one we read (we read 1-14)"},
		{"iaas-small.yaml", "  version: 14\n  applications:", "  version: 99\n  applications:",
		 "applications.version: applications version 99"},
		{"iaas-small.yaml", "machine: 0/lxd/0", "machine: 0/lxd/9",
		 "applications.applications[0].units.units[0]: unit mysql/0 is on machine \"0/lxd/9\", which the model does not have"},
		{"iaas-small.yaml", "principal: wordpress/0", "principal: \"\"",
		 "has no principal"},
		{"iaas-small.yaml", "principal: wordpress/0", "principal: wordpress/7",
		 "principal \"wordpress/7\" of unit ntp/0 is not a unit of the model"},
		{"iaas-small.yaml", "machine: 0/lxd/0", "machine: \"\"",
		 "has no machine in an iaas model"},
		{"iaas-small.yaml", "machine: 0/lxd/0", "machine: 0/lxd/",
		 "units[0].machine: \"0/lxd/\" is not a machine id"},
		{"iaas-small.yaml", "  - id: \"2\"", "  - id: \"0\"",
		 "machines.machines[2].id: machine \"0\" twice"},
		{"iaas-small.yaml", "  - id: \"2\"", "  - id: \"2/lxd/0\"",
		 "is a container id, listed as a top-level machine"},
		{"iaas-small.yaml", "\n        role: peer", "\n        role: boss",
		 "role: role \"boss\" is not provider, requirer or peer"},
		{"iaas-small.yaml", "  - id: 1\n", "  - id: 0\n", "relation id 0 twice"},
		{"iaas-small.yaml", "  - id: 1\n", "  - id: \"1\"\n", "relations.relations[1].id: a string, want an int"},
		{"iaas-small.yaml", "key: wordpress:db mysql:db", "key: mysql:cluster", "relation key \"mysql:cluster\" twice"},
		{"iaas-small.yaml", "type: iaas", "type: vm", "type: type \"vm\" is not iaas or caas"},
		{"iaas-small.yaml", "owner: admin", "owner: [admin]", "owner: a sequence, want a string"},
		{"iaas-small.yaml", "owner: admin", "ownr: admin", "missing \"owner\""},
		{"iaas-small.yaml", "cloud: aws\n", "cloud: aws\ncloud: gce\n", "cloud: duplicate key"},
		{"iaas-small.yaml", "    subordinate: true", "    subordinate: yes please",
		 "subordinate: a string, want a bool"},
		{"caas-small.yaml", "version: 12\n", "version: 12\nextra: &a [1]\nmore: *a\n",
		 "line 3, column 7: more: aliases (*a) are not allowed here"},
		{"iaas-small.yaml", "  - id: \"0\"\n", "  - id: \"00\"\n", "machines.machines[0].id: \"00\" is not a machine id"},
		{"iaas-small.yaml", "- name: mysql\n", "- name: MySQL\n", "\"MySQL\" is not an application name"},
		{"iaas-small.yaml", "application-name: mysql", "application-name: nosuch",
		 "relation mysql:cluster: application \"nosuch\" is not in the model"},
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *base = read_data(cases[i].file, &len);
		char *doc = mutate(base, cases[i].from, cases[i].to);
		struct mmig__juju_model *m = (void *)1;
		char *err = NULL;
		int rc = mmig__juju_read(doc, strlen(doc), &m, &err);

		if (rc != MMIG_EMODEL || !err || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc %d, \"%s\", want \"%s\"", i, rc,
				 err ? err : "", cases[i].want);
		if (strncmp(err, "line ", 5) != 0)
			fail_msg("case %zu: no line:column in \"%s\"", i, err);
		assert_null(m);
		mmig__free(err);
		free(doc);
		free(base);
	}
}

static void
test_juju_looks_yaml(void **state)
{
	(void)state;
	assert_false(mmig__juju_looks_yaml("  \n{\"version\": 1}", 17));
	assert_true(mmig__juju_looks_yaml("version: 12\n", 12));
	assert_true(mmig__juju_looks_yaml("\xef\xbb\xbf# dump\n", 10));
	assert_false(mmig__juju_looks_yaml("", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_juju_iaas_small),
		cmocka_unit_test(test_juju_caas_small),
		cmocka_unit_test(test_juju_iaas_large),
		cmocka_unit_test(test_juju_v1_dump),
		cmocka_unit_test(test_juju_upgrade_v1),
		cmocka_unit_test(test_juju_upgrade_v1_without_agent_version),
		cmocka_unit_test(test_juju_upgrade_v12),
		cmocka_unit_test(test_juju_upgrade_not_needed),
		cmocka_unit_test(test_juju_upgrade_steps),
		cmocka_unit_test(test_juju_malformed),
		cmocka_unit_test(test_juju_looks_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
