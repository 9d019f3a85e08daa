/*
 * tests/test-bundle.c - real topologies (domain/bundle.c,
 * domain/bundle-model.c): published Juju bundles expanded by Juju's
 * placement rules into juju/description documents, each read back by
 * mmig__juju_read() and counted exactly; placement, subordinates, peers
 * and guessed roles; --scale; determinism per seed; malformed bundles
 * refused with line and column and nothing written.
 *
 * The counts of the two shipped bundles, derived by hand from the files:
 *
 * bundle-charmed-kubernetes-1.35.yaml (iaas, no machines section, no to:)
 *   principals: easyrsa 1, etcd 3, kubeapi-load-balancer 1,
 *     kubernetes-control-plane 2, kubernetes-worker 3 = 10 units, each on
 *     a new machine: 10 machines, no containers;
 *   subordinates (no num_units, related to principals): calico, related
 *     through cni to kubernetes-control-plane (2) and kubernetes-worker (3)
 *     = 5 units (its etcd relation is global); containerd, through
 *     container-runtime to the same two = 5 units; 20 units in all;
 *   relations: 13 in the bundle + peers of etcd (a known HA charm, 3
 *     units), kubernetes-control-plane (2 units), kubernetes-worker
 *     (3 units) = 16.
 *   At scale S: 10 S machines, 20 S units, still 16 relations.
 *
 * bundle-kubeflow-1.10-stable.yaml (bundle: kubernetes)
 *   37 applications, each scale 1: 37 units, none with a machine, no
 *   machines; relations: 35 in the bundle + peers of the two mysql-k8s
 *   applications katib-db and kfp-db = 37.  At scale S: 37 S units.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "bundle-int.h"
#include "data-file.h"
#include "juju-int.h"
#include "mmig/error.h"
#include "mmig/import.h"

#define CK "bundle-charmed-kubernetes-1.35.yaml"
#define KF "bundle-kubeflow-1.10-stable.yaml"

/* Expand @p bundle through the public entry point into YAML bytes. */
static int
gen(const char *bundle, size_t len, uint64_t scale, uint64_t seed, char **yaml,
    size_t *ylen, char **err)
{
	FILE *mem = open_memstream(yaml, ylen);
	int rc;

	assert_non_null(mem);
	rc = mmig_model_gen_bundle(bundle, len, scale, seed, mem, err);
	assert_int_equal(fclose(mem), 0);
	return rc;
}

/* Expand and read back with the juju/description reader. */
static struct mmig__juju_model *
expand(const char *bundle, size_t len, uint64_t scale, uint64_t seed)
{
	struct mmig__juju_model *m = NULL;
	char *yaml = NULL, *err = NULL;
	size_t ylen = 0;
	int rc = gen(bundle, len, scale, seed, &yaml, &ylen, &err);

	if (rc != MMIG_OK)
		fail_msg("expansion failed (%d): %s", rc, err ? err : "");
	rc = mmig__juju_read(yaml, ylen, &m, &err);
	if (rc != MMIG_OK)
		fail_msg("read back failed (%d): %s", rc, err ? err : "");
	free(yaml);
	return m;
}

static struct mmig__juju_model *
expand_file(const char *name, uint64_t scale, uint64_t seed)
{
	size_t len;
	char *b = test_data_file(DATA_DIR, name, &len);
	struct mmig__juju_model *m = expand(b, len, scale, seed);

	free(b);
	return m;
}

static const struct mmig__juju_app *
app(const struct mmig__juju_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_apps; i++)
		if (!strcmp(m->apps[i].name, name))
			return &m->apps[i];
	fail_msg("no application %s", name);
	return NULL;
}

static const struct mmig__juju_unit *
unit(const struct mmig__juju_model *m, const char *name)
{
	size_t i, j;

	for (i = 0; i < m->n_apps; i++)
		for (j = 0; j < m->apps[i].n_units; j++)
			if (!strcmp(m->apps[i].units[j].name, name))
				return &m->apps[i].units[j];
	fail_msg("no unit %s", name);
	return NULL;
}

static const struct mmig__juju_machine *
machine(const struct mmig__juju_model *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->n_machines; i++)
		if (!strcmp(m->machines[i].id, id))
			return &m->machines[i];
	return NULL;
}

static const struct mmig__juju_relation *
relation(const struct mmig__juju_model *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n_relations; i++)
		if (!strcmp(m->relations[i].key, key))
			return &m->relations[i];
	fail_msg("no relation %s", key);
	return NULL;
}

static const struct mmig__juju_endpoint *
endpoint(const struct mmig__juju_relation *r, const char *app_name)
{
	size_t i;

	for (i = 0; i < r->n_endpoints; i++)
		if (!strcmp(r->ep[i].app, app_name))
			return &r->ep[i];
	fail_msg("relation %s has no endpoint of %s", r->key, app_name);
	return NULL;
}

static int64_t
sequence(const struct mmig__juju_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_sequences; i++)
		if (!strcmp(m->sequences[i].name, name))
			return m->sequences[i].value;
	return -1;
}

struct counts {
	size_t machines, containers, units, subordinate_units, relations, peers,
		units_without_machine;
};

/* Name -> thing, sorted, for the checks of large models. */
struct byname {
	const char *name;
	const void *p;
};

static int
cmp_byname(const void *a, const void *b)
{
	return strcmp(((const struct byname *)a)->name,
		      ((const struct byname *)b)->name);
}

static const void *
lookup(const struct byname *v, size_t n, const char *name)
{
	struct byname k = { name, NULL };
	const struct byname *f = bsearch(&k, v, n, sizeof(*v), cmp_byname);

	return f ? f->p : NULL;
}

/* Counts, and the invariants every expansion keeps: a subordinate unit
 * is on its principal's machine, every unit's machine exists. */
static struct counts
count(const struct mmig__juju_model *m)
{
	struct counts c = { .machines = m->n_machines,
			    .relations = m->n_relations };
	struct byname *mi = calloc(m->n_machines + 1, sizeof(*mi));
	struct byname *ui = calloc(m->n_units_total + 1, sizeof(*ui));
	size_t i, j, k = 0;

	assert_non_null(mi);
	assert_non_null(ui);
	for (i = 0; i < m->n_machines; i++) {
		mi[i] = (struct byname){ m->machines[i].id, &m->machines[i] };
		if (m->machines[i].parent)
			c.containers++;
	}
	qsort(mi, m->n_machines, sizeof(*mi), cmp_byname);
	for (i = 0; i < m->n_apps; i++)
		for (j = 0; j < m->apps[i].n_units; j++)
			ui[k++] = (struct byname){ m->apps[i].units[j].name,
						   &m->apps[i].units[j] };
	assert_int_equal(k, m->n_units_total);
	qsort(ui, k, sizeof(*ui), cmp_byname);
	for (i = 0; i < m->n_apps; i++)
		for (j = 0; j < m->apps[i].n_units; j++) {
			const struct mmig__juju_unit *u = &m->apps[i].units[j];
			const struct mmig__juju_unit *p;

			c.units++;
			if (!u->machine)
				c.units_without_machine++;
			else
				assert_non_null(
					lookup(mi, m->n_machines, u->machine));
			if (u->principal) {
				c.subordinate_units++;
				assert_true(m->apps[i].subordinate);
				p = lookup(ui, k, u->principal);
				assert_non_null(p);
				assert_string_equal(u->machine, p->machine);
			}
		}
	free(mi);
	free(ui);
	for (i = 0; i < m->n_relations; i++)
		if (m->relations[i].n_endpoints == 1)
			c.peers++;
	assert_int_equal(c.units, m->n_units_total);
	return c;
}

static void
test_bundle_charmed_kubernetes(void **state)
{
	struct mmig__juju_model *m = expand_file(CK, 1, 1);
	struct counts c = count(m);
	const struct mmig__juju_relation *r;
	size_t i;

	(void)state;
	assert_string_equal(m->type, "iaas");
	assert_string_equal(m->name, "charmed-kubernetes");
	assert_int_equal(m->version, MMIG__JUJU_MODEL_VERSION);
	assert_int_equal(c.machines, 10);
	assert_int_equal(c.containers, 0);
	assert_int_equal(m->n_apps, 7);
	assert_int_equal(c.units, 20);
	assert_int_equal(c.subordinate_units, 10);
	assert_int_equal(c.relations, 16);
	assert_int_equal(c.peers, 3);
	assert_int_equal(app(m, "easyrsa")->n_units, 1);
	assert_int_equal(app(m, "etcd")->n_units, 3);
	assert_int_equal(app(m, "kubeapi-load-balancer")->n_units, 1);
	assert_int_equal(app(m, "kubernetes-control-plane")->n_units, 2);
	assert_int_equal(app(m, "kubernetes-worker")->n_units, 3);
	assert_int_equal(app(m, "calico")->n_units, 5);
	assert_true(app(m, "calico")->subordinate);
	assert_int_equal(app(m, "containerd")->n_units, 5);
	assert_true(app(m, "containerd")->subordinate);
	assert_false(app(m, "etcd")->subordinate);
	/* Options are the application's settings. */
	assert_non_null(app(m, "etcd")->settings);
	assert_string_equal(
		mmig__ynode_get(app(m, "etcd")->settings, "channel")->str,
		"3.4/stable");
	/* Each principal unit on its own machine, in order. */
	for (i = 0; i < 10; i++)
		assert_non_null(machine(m, (const char *[]){ "0", "1", "2", "3",
							     "4", "5", "6", "7",
							     "8", "9" }[i]));
	assert_int_equal(sequence(m, "machine"), 10);
	assert_int_equal(sequence(m, "application-calico"), 5);
	assert_int_equal(sequence(m, "relation"), 16);
	/* Roles: the endpoint of most relations provides. */
	r = relation(m, "kubernetes-control-plane:certificates easyrsa:client");
	assert_string_equal(endpoint(r, "easyrsa")->role, "provider");
	assert_string_equal(endpoint(r, "easyrsa")->interface,
			    "tls-certificates");
	assert_string_equal(endpoint(r, "kubernetes-control-plane")->role,
			    "requirer");
	assert_string_equal(endpoint(r, "easyrsa")->scope, "global");
	/* A subordinate's attachment is container-scoped, its etcd
	 * relation is not. */
	r = relation(m, "kubernetes-worker:cni calico:cni");
	assert_string_equal(endpoint(r, "calico")->scope, "container");
	assert_string_equal(endpoint(r, "kubernetes-worker")->scope,
			    "container");
	r = relation(m, "calico:etcd etcd:db");
	assert_string_equal(endpoint(r, "calico")->scope, "global");
	assert_string_equal(endpoint(r, "etcd")->role, "provider");
	/* Peers. */
	r = relation(m, "etcd:cluster");
	assert_int_equal(r->n_endpoints, 1);
	assert_string_equal(r->ep[0].role, "peer");
	assert_string_equal(r->ep[0].interface, "etcd");
	mmig__juju_free(m);
}

static void
test_bundle_kubeflow(void **state)
{
	struct mmig__juju_model *m = expand_file(KF, 1, 1);
	struct counts c = count(m);
	const struct mmig__juju_relation *r;

	(void)state;
	assert_string_equal(m->type, "caas");
	assert_string_equal(m->name, "kubeflow");
	assert_int_equal(c.machines, 0);
	assert_int_equal(m->n_apps, 37);
	assert_int_equal(c.units, 37);
	assert_int_equal(c.units_without_machine, 37);
	assert_int_equal(c.subordinate_units, 0);
	assert_int_equal(c.relations, 37);
	assert_int_equal(c.peers, 2);
	assert_int_equal(relation(m, "katib-db:database-peers")->n_endpoints,
			 1);
	assert_int_equal(relation(m, "kfp-db:database-peers")->n_endpoints, 1);
	/* [argo-controller, minio]: named after minio's endpoint, which
	 * provides object storage to four applications. */
	r = relation(m, "argo-controller:object-storage minio:object-storage");
	assert_string_equal(endpoint(r, "minio")->role, "provider");
	assert_string_equal(endpoint(r, "argo-controller")->role, "requirer");
	assert_string_equal(endpoint(r, "minio")->interface, "object-storage");
	/* istio-pilot:ingress serves nine applications. */
	r = relation(m, "dex-auth:ingress istio-pilot:ingress");
	assert_string_equal(endpoint(r, "istio-pilot")->role, "provider");
	assert_int_equal(sequence(m, "application-minio"), 1);
	assert_int_equal(sequence(m, "machine"), -1);
	mmig__juju_free(m);
}

/* Juju's placement rules on a bundle that uses all of them. */
static const char placement_bundle[] =
	"series: jammy\n"
	"machines:\n"
	"  \"0\": {constraints: mem=8G}\n"
	"  \"1\": {}\n"
	"applications:\n"
	"  db:\n"
	"    charm: mysql\n"
	"    num_units: 3\n"
	"    to: [\"lxd:0\", \"lxd:1\", \"lxd:new\"]\n"
	"  web:\n"
	"    charm: ch:wordpress\n"
	"    num_units: 4\n"
	"    to: [\"0\", db/1, \"kvm:db/0\", \"lxd:db\"]\n"
	"  cache:\n"
	"    charm: memcached\n"
	"    num_units: 2\n"
	"  ntp:\n"
	"    charm: ntp\n"
	"  empty:\n"
	"    charm: ubuntu\n"
	"    num_units: 0\n"
	"relations:\n"
	"  - [web:db, db:db]\n"
	"  - [ntp:juju-info, web:juju-info]\n"
	"  - [ntp, db]\n";

static void
test_bundle_placement(void **state)
{
	struct mmig__juju_model *m =
		expand(placement_bundle, strlen(placement_bundle), 1, 3);
	struct counts c = count(m);
	const struct mmig__juju_relation *r;

	(void)state;
	assert_int_equal(c.machines, 10);
	assert_int_equal(c.containers, 5);
	assert_int_equal(c.units, 16);
	assert_int_equal(c.subordinate_units, 7);
	/* 3 relations + peers of db (mysql), web (4 units), cache (2). */
	assert_int_equal(c.relations, 6);
	assert_int_equal(c.peers, 3);
	assert_string_equal(unit(m, "db/0")->machine, "0/lxd/0");
	assert_string_equal(unit(m, "db/1")->machine, "1/lxd/0");
	assert_string_equal(unit(m, "db/2")->machine, "2/lxd/0");
	assert_string_equal(unit(m, "web/0")->machine, "0");
	assert_string_equal(unit(m, "web/1")->machine, "1/lxd/0");
	assert_string_equal(unit(m, "web/2")->machine, "0/lxd/0/kvm/0");
	/* "lxd:db" after db/1 and db/0: one more than db/0. */
	assert_string_equal(unit(m, "web/3")->machine, "1/lxd/0/lxd/0");
	assert_string_equal(unit(m, "cache/0")->machine, "3");
	assert_string_equal(unit(m, "cache/1")->machine, "4");
	assert_int_equal(app(m, "empty")->n_units, 0);
	assert_false(app(m, "empty")->subordinate);
	/* ntp attaches through juju-info to web, and through the relation
	 * naming no endpoint (juju-info too) to db: one unit per unit of
	 * each. */
	assert_int_equal(app(m, "ntp")->n_units, 7);
	assert_string_equal(unit(m, "ntp/2")->principal, "web/2");
	assert_string_equal(unit(m, "ntp/2")->machine, "0/lxd/0/kvm/0");
	assert_string_equal(unit(m, "ntp/6")->principal, "db/2");
	assert_string_equal(unit(m, "ntp/6")->machine, "2/lxd/0");
	/* Containers follow their parents, any depth. */
	assert_string_equal(machine(m, "0/lxd/0/kvm/0")->parent, "0/lxd/0");
	assert_string_equal(machine(m, "0/lxd/0/kvm/0")->container_type, "kvm");
	assert_int_equal(machine(m, "0/lxd/0/kvm/0")->depth, 2);
	assert_string_equal(machine(m, "0")->base, "ubuntu@22.04");
	assert_int_equal(sequence(m, "machine"), 5);
	assert_int_equal(sequence(m, "machine0lxdContainer"), 1);
	assert_int_equal(sequence(m, "machine0/lxd/0kvmContainer"), 1);
	assert_int_equal(sequence(m, "machine1/lxd/0lxdContainer"), 1);
	/* The bundle's machine 0 keeps its constraints. */
	assert_int_equal(mmig__ynode_get(mmig__ynode_get(machine(m, "0")->extra,
							 "constraints"),
					 "memory")
				 ->v.i,
			 8192);
	/* juju-info: the principal provides, the subordinate requires. */
	r = relation(m, "ntp:juju-info web:juju-info");
	assert_string_equal(endpoint(r, "web")->role, "provider");
	assert_string_equal(endpoint(r, "ntp")->scope, "container");
	r = relation(m, "ntp:juju-info db:juju-info");
	assert_string_equal(endpoint(r, "db")->role, "provider");
	assert_string_equal(endpoint(r, "ntp")->scope, "container");
	/* A tie (each endpoint in one relation): the first named provides
	 * (a guess; the charms would say). */
	r = relation(m, "db:db web:db");
	assert_string_equal(endpoint(r, "web")->role, "provider");
	assert_string_equal(endpoint(r, "db")->interface, "db");
	assert_string_equal(relation(m, "db:cluster")->ep[0].interface,
			    "mysql-ha");
	mmig__juju_free(m);

	/* Scale 2: each copy has its own machines and units. */
	m = expand(placement_bundle, strlen(placement_bundle), 2, 3);
	c = count(m);
	assert_int_equal(c.machines, 20);
	assert_int_equal(c.units, 32);
	assert_int_equal(c.relations, 6);
	assert_string_equal(unit(m, "db/3")->machine, "2/lxd/0");
	assert_string_equal(unit(m, "db/4")->machine, "3/lxd/0");
	assert_string_equal(unit(m, "db/5")->machine, "5/lxd/0");
	assert_string_equal(unit(m, "web/4")->machine, "2");
	assert_string_equal(unit(m, "web/5")->machine, "3/lxd/0");
	assert_string_equal(unit(m, "web/7")->machine, "3/lxd/0/lxd/0");
	assert_string_equal(unit(m, "cache/3")->machine, "9");
	assert_int_equal(app(m, "ntp")->n_units, 14);
	mmig__juju_free(m);
}

/* Fewer directives than units: the last repeats, "app" counting on. */
static void
test_bundle_placement_repeats(void **state)
{
	static const char b[] = "machines:\n"
				"  0:\n"
				"applications:\n"
				"  a:\n"
				"    charm: ubuntu\n"
				"    num_units: 3\n"
				"    to: [\"lxd:0\"]\n"
				"  b:\n"
				"    charm: ubuntu\n"
				"    num_units: 3\n"
				"    to: [a]\n";
	struct mmig__juju_model *m = expand(b, strlen(b), 1, 1);

	(void)state;
	assert_string_equal(unit(m, "a/0")->machine, "0/lxd/0");
	assert_string_equal(unit(m, "a/1")->machine, "0/lxd/1");
	assert_string_equal(unit(m, "a/2")->machine, "0/lxd/2");
	assert_string_equal(unit(m, "b/0")->machine, "0/lxd/0");
	assert_string_equal(unit(m, "b/1")->machine, "0/lxd/1");
	assert_string_equal(unit(m, "b/2")->machine, "0/lxd/2");
	assert_int_equal(m->n_machines, 4);
	assert_int_equal(sequence(m, "machine0lxdContainer"), 3);
	mmig__juju_free(m);
}

/* Anchors and merge keys are resolved. */
static void
test_bundle_anchors(void **state)
{
	static const char b[] = "applications:\n"
				"  a: &base\n"
				"    charm: ubuntu\n"
				"    num_units: 2\n"
				"    options: {x: 1}\n"
				"  b:\n"
				"    <<: *base\n"
				"    num_units: 3\n";
	struct mmig__juju_model *m = expand(b, strlen(b), 1, 1);

	(void)state;
	assert_int_equal(app(m, "a")->n_units, 2);
	assert_int_equal(app(m, "b")->n_units, 3);
	assert_int_equal(mmig__ynode_get(app(m, "b")->settings, "x")->v.i, 1);
	mmig__juju_free(m);
}

static void
test_bundle_deterministic(void **state)
{
	size_t len, l1 = 0, l2 = 0, l3 = 0;
	char *b = test_data_file(DATA_DIR, CK, &len), *y1 = NULL, *y2 = NULL, *y3 = NULL;
	char *err = NULL;
	struct mmig__juju_model *m1, *m3;
	size_t i, j;

	(void)state;
	assert_int_equal(gen(b, len, 3, 42, &y1, &l1, &err), MMIG_OK);
	assert_int_equal(gen(b, len, 3, 42, &y2, &l2, &err), MMIG_OK);
	assert_int_equal(gen(b, len, 3, 43, &y3, &l3, &err), MMIG_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(y1, y2, l1);
	assert_false(l1 == l3 && !memcmp(y1, y3, l1));
	/* Another seed changes what is made up, not the topology. */
	assert_int_equal(mmig__juju_read(y1, l1, &m1, &err), MMIG_OK);
	assert_int_equal(mmig__juju_read(y3, l3, &m3, &err), MMIG_OK);
	assert_string_not_equal(m1->uuid, m3->uuid);
	assert_int_equal(m1->n_machines, m3->n_machines);
	assert_int_equal(m1->n_apps, m3->n_apps);
	for (i = 0; i < m1->n_apps; i++) {
		assert_int_equal(m1->apps[i].n_units, m3->apps[i].n_units);
		for (j = 0; j < m1->apps[i].n_units; j++) {
			const struct mmig__juju_unit *u1 =
				&m1->apps[i].units[j];
			const struct mmig__juju_unit *u3 =
				&m3->apps[i].units[j];

			assert_string_equal(u1->name, u3->name);
			assert_string_equal(u1->machine, u3->machine);
		}
	}
	assert_int_equal(m1->n_relations, m3->n_relations);
	assert_int_equal(m1->n_units_total, 60);
	mmig__juju_free(m1);
	mmig__juju_free(m3);
	free(y1);
	free(y2);
	free(y3);
	free(b);
}

/* Large scales: at least 50,000 units, counted exactly after reading the
 * document back. */
static void
test_bundle_charmed_kubernetes_large(void **state)
{
	struct mmig__juju_model *m = expand_file(CK, 2500, 7);
	struct counts c = count(m);

	(void)state;
	assert_int_equal(c.machines, 25000);
	assert_int_equal(c.units, 50000);
	assert_int_equal(c.subordinate_units, 25000);
	assert_int_equal(c.relations, 16);
	assert_int_equal(app(m, "kubernetes-worker")->n_units, 7500);
	assert_int_equal(app(m, "calico")->n_units, 12500);
	assert_string_equal(unit(m, "kubernetes-worker/7499")->machine,
			    unit(m, "containerd/7499")->machine);
	assert_int_equal(sequence(m, "machine"), 25000);
	mmig__juju_free(m);
}

static void
test_bundle_kubeflow_large(void **state)
{
	struct mmig__juju_model *m = expand_file(KF, 1400, 7);
	struct counts c = count(m);

	(void)state;
	assert_int_equal(c.machines, 0);
	assert_int_equal(c.units, 37 * 1400);
	assert_int_equal(c.units_without_machine, 37 * 1400);
	assert_int_equal(c.relations, 37);
	assert_int_equal(app(m, "minio")->n_units, 1400);
	mmig__juju_free(m);
}

/* Refused with MMIG_EMODEL, a message holding @p where ("line L, column
 * C") and @p want, and nothing written. */
static void
bad_scaled(const char *bundle, uint64_t scale, const char *where,
	   const char *want)
{
	char *yaml = NULL, *err = NULL;
	size_t ylen = 0;
	int rc = gen(bundle, strlen(bundle), scale, 1, &yaml, &ylen, &err);

	if (rc != MMIG_EMODEL)
		fail_msg("rc %d, want MMIG_EMODEL, for:\n%s", rc, bundle);
	assert_non_null(err);
	if (!strstr(err, where) || !strstr(err, want) || strchr(err, '\n'))
		fail_msg("message \"%s\" lacks \"%s\" or \"%s\", or is not "
			 "one line",
			 err, where, want);
	assert_int_equal(ylen, 0);
	mmig_model_desc_errmsg_free(err);
	free(yaml);
}

static void
bad(const char *bundle, const char *where, const char *want)
{
	bad_scaled(bundle, 1, where, want);
}

static void
test_bundle_malformed(void **state)
{
	(void)state;
	/* An unknown placement target: a machine, an application. */
	bad("machines:\n  \"0\": {}\n"
	    "applications:\n  a:\n    charm: x\n    num_units: 2\n"
	    "    to: [\"0\", \"lxd:7\"]\n",
	    "line 7, column 15", "refers to machine 7");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [nosuch/0]\n",
	    "line 5, column 10", "application the bundle does not have");
	/* A unit placed on a machine the bundle lacks. */
	bad("machines:\n  \"0\": {}\n"
	    "applications:\n  a:\n    charm: x\n    num_units: 2\n"
	    "    to:\n    - \"0\"\n    - \"3\"\n",
	    "line 9, column 7", "refers to machine 3");
	/* Billion laughs. */
	bad("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "applications: {a: {charm: x}}\n",
	    "line 5, column 36", "aliases expand to more than");
	/* A unit number above what the target starts. */
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "  b:\n    charm: x\n    num_units: 1\n    to: [\"a/1\"]\n",
	    "line 8, column 10", "specifies unit 1 of a");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    scale: 2\n",
	    "line 5, column 12", "both scale and num_units");
	bad("machines:\n  \"0\": {}\n  \"1\": {}\n"
	    "applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [\"0\"]\n",
	    "line 3, column 8", "machine 1 is not referred to");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [b/0]\n"
	    "  b:\n    charm: x\n    num_units: 1\n    to: [a/0]\n",
	    "line 5, column 9", "form a cycle");
	bad("machines: {\"0\": {}}\n"
	    "applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [\"lxc:0\"]\n",
	    "line 6, column 10", "unknown container type");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [new, new]\n",
	    "line 5, column 9", "too many units");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "relations:\n- [a:db, b:db]\n",
	    "line 6, column 10", "application the bundle does not have");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "relations:\n- [a:db, a:x]\n",
	    "line 6, column 3", "relates a to itself");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "  b:\n    charm: z\n    num_units: 1\n"
	    "relations:\n- [a:db, b:db]\n- [b:db, a:db]\n",
	    "line 10, column 3", "defined more than once");
	bad("bundle: kubernetes\nmachines:\n  \"0\": {}\n"
	    "applications:\n  a:\n    charm: x\n    scale: 1\n",
	    "line 3, column 3", "a Kubernetes bundle has no machines");
	bad("bundle: k8s\napplications:\n  a:\n    charm: x\n",
	    "line 1, column 9", "invalid type");
	bad("- a\n- b\n", "line 1, column 1", "want a bundle mapping");
	bad("name: x\n", "line 1, column 1", "no \"applications\"");
	bad("applications:\n  a:\n    num_units: 1\n", "line 3, column 5",
	    "no \"charm\"");
	bad("applications:\n  a:\n    charm: x\n    num_units: many\n",
	    "line 4, column 16", "want a int");
	bad("applications:\n  a:\n    charm: x\n  s:\n    charm: z\n"
	    "  b:\n    charm: x\n    num_units: 1\n    to: [s/0]\n"
	    "relations:\n- [s:juju-info, a:juju-info]\n"
	    "- [a:x, b:x]\n",
	    "line 9, column 10", "which starts 0 unit(s)");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "relations:\n- [a:db]\n",
	    "line 6, column 3", "a list of two endpoints");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "  b:\n    charm: x\n    num_units: 1\n"
	    "relations:\n- [a:Db, b:db]\n",
	    "line 9, column 4", "not an endpoint name");
	bad("applications:\n  A:\n    charm: x\n", "line 3, column 5",
	    "not an application name");
	bad("applications:\n  a:\n    charm: x\n    series: warty\n",
	    "line 4, column 13", "unknown series");
	/* Input quoted in a message is escaped: a message is one line
	 * (found by fuzz-yaml: a folded scalar's newline). */
	bad("applications:\n  a:\n    charm: x\n    series: >\n"
	    "      war\"ty\n",
	    "line 4, column 13", "unknown series \"war\"ty\\n\" (known");
	bad("applications:\n  a:\n    charm: x\n    num_units: 1\n"
	    "    to: [\"lxd:new/1\"]\n",
	    "line 5, column 10", "not a placement");
	/* Over what import takes: 1,000,000 machines, units and relations. */
	bad_scaled("applications:\n  a:\n    charm: x\n    num_units: 3\n",
		   400000, "line 1, column 1", "which import refuses");
}

static void
test_bundle_scale_limit(void **state)
{
	size_t len;
	char *b = test_data_file(DATA_DIR, CK, &len), *yaml = NULL, *err = NULL;
	size_t ylen = 0;

	(void)state;
	/* 10 machines and 20 units per copy: 33,334 copies are over. */
	assert_int_equal(gen(b, len, 33334, 1, &yaml, &ylen, &err),
			 MMIG_EMODEL);
	assert_non_null(strstr(err, "import refuses"));
	assert_int_equal(ylen, 0);
	mmig_model_desc_errmsg_free(err);
	free(yaml);
	yaml = NULL;
	err = NULL;
	/* 900,000 machines and units are fewer than import's count limit,
	 * but their document would be far above the 1 GiB it reads:
	 * refused before the model is made. */
	assert_int_equal(gen(b, len, 30000, 1, &yaml, &ylen, &err),
			 MMIG_EMODEL);
	assert_non_null(strstr(err, "import reads at most 1024 MB"));
	assert_int_equal(ylen, 0);
	mmig_model_desc_errmsg_free(err);
	free(yaml);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_charmed_kubernetes),
		cmocka_unit_test(test_bundle_kubeflow),
		cmocka_unit_test(test_bundle_placement),
		cmocka_unit_test(test_bundle_placement_repeats),
		cmocka_unit_test(test_bundle_anchors),
		cmocka_unit_test(test_bundle_deterministic),
		cmocka_unit_test(test_bundle_malformed),
		cmocka_unit_test(test_bundle_scale_limit),
		cmocka_unit_test(test_bundle_charmed_kubernetes_large),
		cmocka_unit_test(test_bundle_kubeflow_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
