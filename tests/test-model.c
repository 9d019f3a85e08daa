/*
 * tests/test-model.c - model descriptions: parsing, every validation rule,
 * and the generator.
 *
 * Inputs are written with single quotes, which q() turns into double quotes,
 * so that the table of malformed descriptions stays readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmig/import.h"

#define UUID "0f5c3d1e-8a2b-4c6d-9e7f-1a2b3c4d5e6f"

struct fixture {
	char dir[64];
	char file[96];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-model-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->file, sizeof(f->file), "%s/MODEL.json", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->file);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* @p s with every ' turned into ", in a buffer the caller frees. */
static char *
q(const char *s)
{
	char *d = strdup(s), *c;

	assert_non_null(d);
	for (c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	return d;
}

static int
parse_q(const char *s, struct mmig_model_desc **out, char **errmsg)
{
	char *json = q(s);
	int rc = mmig_model_desc_parse(json, strlen(json), out, errmsg);

	free(json);
	return rc;
}

static const char valid_desc[] =
	"{ 'version': 1,\n"
	"  'model': { 'uuid': '" UUID "', 'name': 'prod', 'owner': 'admin',\n"
	"             'cloud': 'aws', 'region': 'us-east-1',\n"
	"             'config': { 'logging': 'info', 'retries': 3,\n"
	"                         'ratio': 0.5, 'debug': true,\n"
	"                         'whole': 2.0, 'off': false, 'neg': -7 } },\n"
	"  'machines': [ { 'id': '0', 'base': 'ubuntu@22.04',\n"
	"                  'constraints': 'mem=4G' },\n"
	"                { 'id': '1', 'base': 'ubuntu@24.04' },\n"
	"                { 'id': '17', 'base': 'ubuntu@22.04',\n"
	"                  'constraints': '' } ],\n"
	"  'applications': [\n"
	"    { 'name': 'mysql', 'charm': 'ch:mysql-1',\n"
	"      'config': { 'port': '3306' },\n"
	"      'units': [ { 'name': 'mysql/0', 'machine': '0' },\n"
	"                 { 'name': 'mysql/1', 'machine': '17' } ] },\n"
	"    { 'name': 'wordpress', 'charm': 'ch:wordpress-7',\n"
	"      'units': [ { 'name': 'wordpress/0', 'machine': '1' } ] },\n"
	"    { 'name': 'ntp', 'charm': 'ch:ntp-2', 'units': [] } ],\n"
	"  'relations': [ { 'endpoints': [ 'wordpress:db', 'mysql:db' ] },\n"
	"                 { 'endpoints': [ 'ntp:juju_info',\n"
	"                                  'mysql:juju-info' ] } ] }\n";

static void
test_model_parse_valid_checks_every_field(void **state)
{
	struct mmig_model_desc *d = NULL;
	const struct mmig_model_desc_kv *c;
	const struct mmig_model_desc_app *a;
	char *err = NULL;

	(void)state;
	assert_int_equal(parse_q(valid_desc, &d, &err), MMIG_OK);
	assert_null(err);
	assert_non_null(d);

	assert_string_equal(d->uuid, UUID);
	assert_string_equal(d->name, "prod");
	assert_string_equal(d->owner, "admin");
	assert_string_equal(d->cloud, "aws");
	assert_string_equal(d->region, "us-east-1");

	/* Config keeps key order, strings as they are, other scalars as
	 * JSON text, and what kind each was. */
	assert_int_equal(d->n_config, 7);
	c = d->config;
	assert_string_equal(c[0].key, "logging");
	assert_string_equal(c[0].value, "info");
	assert_int_equal(c[0].kind, MMIG_MODEL_DESC_STRING);
	assert_string_equal(c[1].key, "retries");
	assert_string_equal(c[1].value, "3");
	assert_int_equal(c[1].kind, MMIG_MODEL_DESC_INTEGER);
	assert_string_equal(c[2].key, "ratio");
	assert_string_equal(c[2].value, "0.5");
	assert_int_equal(c[2].kind, MMIG_MODEL_DESC_REAL);
	assert_string_equal(c[3].key, "debug");
	assert_string_equal(c[3].value, "true");
	assert_int_equal(c[3].kind, MMIG_MODEL_DESC_BOOL);
	assert_string_equal(c[4].key, "whole");
	assert_string_equal(c[4].value, "2.0");
	assert_int_equal(c[4].kind, MMIG_MODEL_DESC_REAL);
	assert_string_equal(c[5].value, "false");
	assert_string_equal(c[6].value, "-7");

	assert_int_equal(d->n_machines, 3);
	assert_string_equal(d->machines[0].id, "0");
	assert_string_equal(d->machines[0].base, "ubuntu@22.04");
	assert_string_equal(d->machines[0].constraints, "mem=4G");
	assert_string_equal(d->machines[1].id, "1");
	assert_string_equal(d->machines[1].base, "ubuntu@24.04");
	assert_null(d->machines[1].constraints);
	assert_string_equal(d->machines[2].id, "17");
	assert_string_equal(d->machines[2].constraints, "");

	assert_int_equal(d->n_apps, 3);
	assert_int_equal(d->n_units_total, 3);
	a = &d->apps[0];
	assert_string_equal(a->name, "mysql");
	assert_string_equal(a->charm, "ch:mysql-1");
	assert_int_equal(a->n_config, 1);
	assert_string_equal(a->config[0].key, "port");
	assert_string_equal(a->config[0].value, "3306");
	assert_int_equal(a->config[0].kind, MMIG_MODEL_DESC_STRING);
	assert_int_equal(a->n_units, 2);
	assert_string_equal(a->units[0].name, "mysql/0");
	assert_string_equal(a->units[0].machine, "0");
	assert_string_equal(a->units[1].name, "mysql/1");
	assert_string_equal(a->units[1].machine, "17");
	a = &d->apps[1];
	assert_string_equal(a->name, "wordpress");
	assert_string_equal(a->charm, "ch:wordpress-7");
	assert_int_equal(a->n_config, 0);
	assert_int_equal(a->n_units, 1);
	assert_string_equal(a->units[0].name, "wordpress/0");
	assert_string_equal(a->units[0].machine, "1");
	a = &d->apps[2];
	assert_string_equal(a->name, "ntp");
	assert_int_equal(a->n_units, 0);

	assert_int_equal(d->n_relations, 2);
	assert_string_equal(d->relations[0].ep[0].spec, "wordpress:db");
	assert_string_equal(d->relations[0].ep[0].app, "wordpress");
	assert_string_equal(d->relations[0].ep[0].name, "db");
	assert_string_equal(d->relations[0].ep[1].spec, "mysql:db");
	assert_string_equal(d->relations[0].ep[1].app, "mysql");
	assert_string_equal(d->relations[0].ep[1].name, "db");
	assert_string_equal(d->relations[1].ep[0].spec, "ntp:juju_info");
	assert_string_equal(d->relations[1].ep[1].name, "juju-info");

	mmig_model_desc_free(d);
}

static void
test_model_optional_sections_may_be_left_out(void **state)
{
	struct mmig_model_desc *d = NULL;

	(void)state;
	assert_int_equal(parse_q("{'version': 1, 'model': {'uuid': '" UUID
				 "', 'name': 'm', 'owner': 'o', "
				 "'cloud': 'c'}}",
				 &d, NULL),
			 MMIG_OK);
	assert_null(d->region);
	assert_int_equal(d->n_config, 0);
	assert_int_equal(d->n_machines, 0);
	assert_int_equal(d->n_apps, 0);
	assert_int_equal(d->n_units_total, 0);
	assert_int_equal(d->n_relations, 0);
	mmig_model_desc_free(d);
}

/* Pieces of the malformed descriptions below. */
#define MODEL_AT(uuid, rest)                                                   \
	"'model':{'uuid':'" uuid "','name':'prod','owner':'admin',"            \
	"'cloud':'aws'" rest "}"
#define MODEL MODEL_AT(UUID, "")
#define HEAD "{'version':1," MODEL
#define MACHINES                                                               \
	",'machines':[{'id':'0','base':'b'},{'id':'1','base':'b'}]"
#define APP(name, extra, units)                                                \
	"{'name':'" name "','charm':'ch:x-1'" extra ",'units':[" units "]}"
#define UNIT(name, machine) "{'name':'" name "','machine':'" machine "'}"
#define TWO_APPS                                                               \
	",'applications':[" APP("mysql", "", UNIT("mysql/0", "0")) ","         \
	APP("wordpress", "", UNIT("wordpress/0", "1")) "]"
#define REL(a, b) "{'endpoints':['" a "','" b "']}"

struct bad_case {
	const char *what;
	const char *json;
	const char *want;
};

static const struct bad_case bad_cases[] = {
	{"syntax error", "{'version': 1,\n 'model': {\n  'uuid': x",
	 "line 3, column 11: invalid token near 'x'"},
	{"empty input", "", "line 1, column 0: unexpected token"},
	{"NUL in a string", HEAD ",'machines':[{'id':'0','base':'\\u0000'}]}",
	 "\\u0000 is not allowed"},
	{"wrong version", "{'version':2," MODEL "}",
	 "version: unsupported version 2 (this build reads 1)"},
	{"version before unknown keys", "{'version':3,'future':{}," MODEL "}",
	 "version: unsupported version 3 (this build reads 1)"},
	{"missing version", "{" MODEL "}", "version: missing"},
	{"version a string", "{'version':'1'," MODEL "}",
	 "version: not an integer"},
	{"top level an array", "[1, 2]", "top level: not an object (an array)"},
	/* Not JSON by its first byte, so read as juju/description YAML. */
	{"top level a number", "42",
	 "line 1, column 1: the document is an int, not a model mapping"},
	{"missing model", "{'version':1}", "model: missing"},
	{"model not an object", "{'version':1,'model':[]}",
	 "model: not an object"},
	{"bad uuid", "{'version':1," MODEL_AT("not-a-uuid", "") "}",
	 "model.uuid: \"not-a-uuid\" is not a canonical lower-case UUID"},
	{"upper-case uuid",
	 "{'version':1," MODEL_AT("0F5C3D1E-8A2B-4C6D-9E7F-1A2B3C4D5E6F", "")
	 "}",
	 "model.uuid: \"0F5C3D1E-8A2B-4C6D-9E7F-1A2B3C4D5E6F\" is not a "
	 "canonical lower-case UUID"},
	{"missing model.name",
	 "{'version':1,'model':{'uuid':'" UUID "','owner':'a','cloud':'c'}}",
	 "model.name: missing"},
	{"model name with upper case",
	 "{'version':1,'model':{'uuid':'" UUID
	 "','name':'Prod','owner':'a','cloud':'c'}}",
	 "model.name: \"Prod\" is not a valid name"},
	{"model name too long",
	 "{'version':1,'model':{'uuid':'" UUID "','name':'"
	 "a123456789012345678901234567890123456789012345678901234567890123"
	 "','owner':'a','cloud':'c'}}",
	 "is not a valid name ([a-z][a-z0-9-]*, at most 63 characters)"},
	{"control character in owner",
	 "{'version':1,'model':{'uuid':'" UUID
	 "','name':'p','owner':'ad\\u0001min','cloud':'c'}}",
	 "model.owner: contains a control character"},
	{"unknown top-level key", HEAD ",'machine':[]}",
	 "unknown top-level key \"machine\""},
	{"unknown model key", "{'version':1," MODEL_AT(UUID, ",'regoin':'x'")
	 "}",
	 "model: unknown key \"regoin\""},
	{"machines not an array", HEAD ",'machines':{}}",
	 "machines: not an array"},
	{"machine not an object", HEAD ",'machines':['0']}",
	 "machines[0]: not an object"},
	{"machine id not a string",
	 HEAD ",'machines':[{'id':'0','base':'b'},{'id':1,'base':'b'},"
	 "{'id':2,'base':'b'}]}",
	 "machines[1].id: not a string"},
	{"machine id with leading zero",
	 HEAD ",'machines':[{'id':'01','base':'b'}]}",
	 "machines[0].id: \"01\" is not a machine id"},
	{"duplicate machine id",
	 HEAD ",'machines':[{'id':'0','base':'b'},{'id':'1','base':'b'},"
	 "{'id':'0','base':'b'}]}",
	 "machines[2].id: duplicate \"0\" (also machines[0])"},
	{"machine without base", HEAD ",'machines':[{'id':'0'}]}",
	 "machines[0].base: missing"},
	{"unknown machine key",
	 HEAD ",'machines':[{'id':'0','base':'b','contraints':''}]}",
	 "machines[0]: unknown key \"contraints\""},
	{"empty app name",
	 HEAD MACHINES ",'applications':[" APP("", "", "") "]}",
	 "applications[0].name: empty"},
	{"app name with upper case",
	 HEAD MACHINES ",'applications':[" APP("MySQL", "", "") "]}",
	 "applications[0].name: \"MySQL\" is not a valid name"},
	{"charm not a string",
	 HEAD MACHINES
	 ",'applications':[{'name':'mysql','charm':5,'units':[]}]}",
	 "applications[0].charm: not a string"},
	{"duplicate app",
	 HEAD MACHINES ",'applications':[" APP("mysql", "", "") ","
	 APP("mysql", "", "") "]}",
	 "applications[1].name: duplicate \"mysql\" (also applications[0])"},
	{"units not an array",
	 HEAD MACHINES
	 ",'applications':[{'name':'mysql','charm':'c','units':{}}]}",
	 "applications[0].units: not an array"},
	{"unit of another app",
	 HEAD MACHINES ",'applications':[" APP("mysql", "",
					       UNIT("wordpress/0", "0")) "]}",
	 "applications[0].units[0].name: \"wordpress/0\" is not a unit of "
	 "application \"mysql\""},
	{"bad unit name",
	 HEAD MACHINES ",'applications':[" APP("mysql", "",
					       UNIT("mysql-0", "0")) "]}",
	 "applications[0].units[0].name: \"mysql-0\" is not "
	 "\"<application>/<number>\""},
	{"unit number with leading zero",
	 HEAD MACHINES ",'applications':[" APP("mysql", "",
					       UNIT("mysql/01", "0")) "]}",
	 "\"mysql/01\" is not \"<application>/<number>\""},
	{"unit machine missing",
	 HEAD MACHINES ",'applications':[" APP("mysql", "",
					       UNIT("mysql/0", "0") ","
					       UNIT("mysql/1", "17")) "]}",
	 "applications[0].units[1].machine: no machine \"17\""},
	{"duplicate unit",
	 HEAD MACHINES ",'applications':[" APP("mysql", "",
					       UNIT("mysql/0", "0") ","
					       UNIT("mysql/0", "1")) "]}",
	 "applications[0].units[1].name: duplicate unit \"mysql/0\""},
	{"duplicate config key",
	 HEAD MACHINES ",'applications':[" APP("mysql",
					       ",'config':{'port':1,'port':2}",
					       "") "]}",
	 "duplicate object key near '\"port\"'"},
	{"config value an object",
	 HEAD MACHINES ",'applications':[" APP("mysql",
					       ",'config':{'port':{'a':1}}",
					       "") "]}",
	 "applications[0].config.port: an object is not a config value"},
	{"config value null",
	 "{'version':1," MODEL_AT(UUID, ",'config':{'x':null}") "}",
	 "model.config.x: null is not a config value"},
	{"config value an array under an odd key",
	 "{'version':1," MODEL_AT(UUID, ",'config':{'a b':[1]}") "}",
	 "model.config[\"a b\"]: an array is not a config value"},
	{"empty config key",
	 "{'version':1," MODEL_AT(UUID, ",'config':{'':'x'}") "}",
	 "model.config: empty key"},
	{"relation endpoints missing",
	 HEAD MACHINES TWO_APPS ",'relations':[{}]}",
	 "relations[0].endpoints: missing"},
	{"relation with one endpoint",
	 HEAD MACHINES TWO_APPS ",'relations':[{'endpoints':['mysql:db']}]}",
	 "relations[0].endpoints: 1 endpoint, want 2"},
	{"relation with three endpoints",
	 HEAD MACHINES TWO_APPS
	 ",'relations':[{'endpoints':['mysql:db','wordpress:db','mysql:x']}]}",
	 "relations[0].endpoints: 3 endpoints, want 2"},
	{"relation endpoint without colon",
	 HEAD MACHINES TWO_APPS ",'relations':[" REL("mysql", "wordpress:db")
	 "]}",
	 "relations[0].endpoints[0]: \"mysql\" is not "
	 "\"<application>:<endpoint>\""},
	{"relation unknown app",
	 HEAD MACHINES TWO_APPS ",'relations':[" REL("mysql:db", "wordpres:db")
	 "]}",
	 "relations[0].endpoints[1]: no application \"wordpres\""},
	{"relation to itself",
	 HEAD MACHINES TWO_APPS ",'relations':[" REL("mysql:db", "mysql:db")
	 "]}",
	 "relations[0]: relates \"mysql:db\" to itself"},
	{"duplicate relation reversed",
	 HEAD MACHINES TWO_APPS ",'relations':[" REL("mysql:db",
						     "wordpress:db") ","
	 REL("wordpress:db", "mysql:db") "]}",
	 "relations[1]: duplicate of relations[0]"},
};

static void
test_model_malformed_descriptions_are_refused(void **state)
{
	struct mmig_model_desc *d;
	char *err;
	size_t i;
	int rc;

	(void)state;
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 25);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];

		d = (struct mmig_model_desc *)1;
		err = NULL;
		rc = parse_q(c->json, &d, &err);
		if (rc != MMIG_EMODEL || !err || !strstr(err, c->want))
			fail_msg("%s: rc %d, message \"%s\", want \"%s\"",
				 c->what, rc, err ? err : "(null)", c->want);
		assert_null(d);
		assert_null(strchr(err, '\n'));
		mmig_model_desc_errmsg_free(err);
	}
}

static void
test_model_bad_arguments(void **state)
{
	struct mmig_model_desc *d = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(mmig_model_desc_parse(NULL, 3, &d, &err), MMIG_EINVAL);
	assert_null(err);
	assert_int_equal(mmig_model_desc_parse("{}", 2, NULL, &err),
			 MMIG_EINVAL);
	/* Without a place for the message the code still comes back. */
	assert_int_equal(mmig_model_desc_parse("[]", 2, &d, NULL),
			 MMIG_EMODEL);
	assert_null(d);
	mmig_model_desc_free(NULL);
	mmig_model_desc_errmsg_free(NULL);
	/* Units with nowhere to run are refused before anything is written. */
	assert_int_equal(mmig_model_desc_generate(
				 &(struct mmig_gen_opts){
					 .size = sizeof(struct mmig_gen_opts),
					 .applications = 1,
					 .units_per_app = 1,
					 .flags = MMIG_GEN_EXACT },
				 stderr),
			 MMIG_EINVAL);
	assert_int_equal(mmig_model_desc_generate(NULL, NULL), MMIG_EINVAL);
	mmig_model_desc_bytes_free(NULL);
}

/* Generate into memory. */
static char *
generate(const struct mmig_gen_opts *o, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(mmig_model_desc_generate(o, f), MMIG_OK);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static struct mmig_model_desc *
generate_and_parse(const struct mmig_gen_opts *o)
{
	struct mmig_model_desc *d = NULL;
	char *err = NULL, *buf;
	size_t len;
	int rc;

	buf = generate(o, &len);
	rc = mmig_model_desc_parse(buf, len, &d, &err);
	if (rc != MMIG_OK)
		fail_msg("generated description refused: %s",
			 err ? err : mmig_strerror(rc));
	free(buf);
	return d;
}

static void
test_model_generate_gives_the_requested_counts(void **state)
{
	static const struct {
		struct mmig_gen_opts o;
		size_t machines, apps, units, relations;
	} cases[] = {
		{{0}, 10, 3, 6, 2},
		{{.seed = 2}, 10, 3, 6, 2},
		{{.machines = 7, .applications = 4, .units_per_app = 5,
		  .relations = 6, .seed = 3},
		 7, 4, 20, 6},
		/* 3 applications have 3 pairs; 4 have 6; 5 have 10. */
		{{.applications = 3, .relations = 10, .seed = 4}, 10, 3, 6, 3},
		{{.applications = 4, .relations = 100, .seed = 5}, 10, 4, 8, 6},
		{{.applications = 5, .relations = 10, .seed = 6},
		 10, 5, 10, 10},
		{{.applications = 40, .units_per_app = 1, .machines = 1,
		  .relations = 300, .seed = 7},
		 1, 40, 40, 300},
		{{.flags = MMIG_GEN_EXACT}, 0, 0, 0, 0},
		{{.machines = 2, .applications = 1, .relations = 5,
		  .flags = MMIG_GEN_EXACT},
		 2, 1, 0, 0},
	};
	struct mmig_model_desc *d;
	size_t i, j, units;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = generate_and_parse(&cases[i].o);
		assert_int_equal(d->n_machines, cases[i].machines);
		assert_int_equal(d->n_apps, cases[i].apps);
		assert_int_equal(d->n_units_total, cases[i].units);
		assert_int_equal(d->n_relations, cases[i].relations);
		for (j = 0, units = 0; j < d->n_apps; j++)
			units += d->apps[j].n_units;
		assert_int_equal(units, cases[i].units);
		assert_true(d->n_config > 0);
		mmig_model_desc_free(d);
	}
	d = generate_and_parse(NULL);
	assert_int_equal(d->n_machines, 10);
	assert_int_equal(d->n_relations, 2);
	mmig_model_desc_free(d);
}

static void
test_model_generate_spreads_units_over_machines(void **state)
{
	struct mmig_gen_opts o = { .size = sizeof(struct mmig_gen_opts),
				   .machines = 7,
				   .applications = 4,
				   .units_per_app = 5,
				   .seed = 9 };
	struct mmig_model_desc *d = generate_and_parse(&o);
	size_t per[7] = {0}, i, j, lo = SIZE_MAX, hi = 0;

	(void)state;
	for (i = 0; i < d->n_apps; i++)
		for (j = 0; j < d->apps[i].n_units; j++)
			per[atoi(d->apps[i].units[j].machine)]++;
	for (i = 0; i < 7; i++) {
		lo = per[i] < lo ? per[i] : lo;
		hi = per[i] > hi ? per[i] : hi;
	}
	assert_true(hi - lo <= 1);
	mmig_model_desc_free(d);
}

static void
test_model_generate_is_deterministic_per_seed(void **state)
{
	struct mmig_gen_opts o = { .size = sizeof(struct mmig_gen_opts),
				   .machines = 50,
				   .applications = 8,
				   .units_per_app = 3,
				   .relations = 10,
				   .seed = 42 };
	struct mmig_model_desc *d1, *d2;
	char *a, *b, *c;
	size_t la, lb, lc;

	(void)state;
	a = generate(&o, &la);
	b = generate(&o, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	o.seed = 43;
	c = generate(&o, &lc);
	assert_true(la != lc || memcmp(a, c, la) != 0);

	/* The uuid is derived from the seed, and is v4-shaped. */
	assert_int_equal(mmig_model_desc_parse(a, la, &d1, NULL), MMIG_OK);
	assert_int_equal(mmig_model_desc_parse(c, lc, &d2, NULL), MMIG_OK);
	assert_string_not_equal(d1->uuid, d2->uuid);
	assert_int_equal(d1->uuid[14], '4');
	assert_non_null(strchr("89ab", d1->uuid[19]));
	mmig_model_desc_free(d1);
	mmig_model_desc_free(d2);
	free(a);
	free(b);
	free(c);
}

static void
test_model_large_generated_model_parses(void **state)
{
	struct mmig_gen_opts o = { .size = sizeof(struct mmig_gen_opts),
				   .machines = 10000,
				   .applications = 200,
				   .units_per_app = 250,
				   .relations = 2000,
				   .seed = 11 };
	struct mmig_model_desc *d = generate_and_parse(&o);

	(void)state;
	assert_int_equal(d->n_machines, 10000);
	assert_int_equal(d->n_apps, 200);
	assert_int_equal(d->n_units_total, 50000);
	assert_int_equal(d->n_relations, 2000);
	assert_string_equal(d->machines[9999].id, "9999");
	mmig_model_desc_free(d);
}

static void
test_model_parse_file_keeps_bytes(void **state)
{
	struct fixture *f = *state;
	struct mmig_model_desc *d = NULL;
	char *json = q(valid_desc), *err = NULL;
	void *bytes = NULL;
	size_t len = 0;
	FILE *fp = fopen(f->file, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(json, 1, strlen(json), fp), strlen(json));
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(mmig_model_desc_parse_file(f->file, &d, &err, &bytes,
						    &len),
			 MMIG_OK);
	assert_null(err);
	assert_int_equal(len, strlen(json));
	assert_memory_equal(bytes, json, len);
	assert_int_equal(((char *)bytes)[len], '\0');
	assert_string_equal(d->name, "prod");
	assert_int_equal(d->n_units_total, 3);
	mmig_model_desc_free(d);
	mmig_model_desc_bytes_free(bytes);
	free(json);

	/* The bytes are optional. */
	assert_int_equal(mmig_model_desc_parse_file(f->file, &d, NULL, NULL,
						    NULL),
			 MMIG_OK);
	mmig_model_desc_free(d);
}

static void
test_model_parse_file_names_the_file(void **state)
{
	struct fixture *f = *state;
	struct mmig_model_desc *d = NULL;
	char *err = NULL, want[160];
	void *bytes = (void *)1;
	FILE *fp;

	assert_int_equal(mmig_model_desc_parse_file(f->file, &d, &err, &bytes,
						    NULL),
			 -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", f->file);
	assert_string_equal(err, want);
	assert_null(d);
	assert_null(bytes);
	mmig_model_desc_errmsg_free(err);

	assert_int_equal(mmig_model_desc_parse_file(f->dir, &d, &err, NULL,
						    NULL),
			 -EISDIR);
	mmig_model_desc_errmsg_free(err);

	fp = fopen(f->file, "w");
	assert_non_null(fp);
	fputs("{\"version\": 1,\n\"model\": }", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(mmig_model_desc_parse_file(f->file, &d, &err, &bytes,
						    NULL),
			 MMIG_EMODEL);
	snprintf(want, sizeof(want), "%s: line 2, column ", f->file);
	assert_memory_equal(err, want, strlen(want));
	assert_null(bytes);
	mmig_model_desc_errmsg_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_parse_valid_checks_every_field),
		cmocka_unit_test(test_model_optional_sections_may_be_left_out),
		cmocka_unit_test(test_model_malformed_descriptions_are_refused),
		cmocka_unit_test(test_model_bad_arguments),
		cmocka_unit_test(
			test_model_generate_gives_the_requested_counts),
		cmocka_unit_test(
			test_model_generate_spreads_units_over_machines),
		cmocka_unit_test(test_model_generate_is_deterministic_per_seed),
		cmocka_unit_test(test_model_large_generated_model_parses),
		cmocka_unit_test_setup_teardown(
			test_model_parse_file_keeps_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_model_parse_file_names_the_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
