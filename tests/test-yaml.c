/*
 * tests/test-yaml.c - the YAML document layer (domain/yaml-doc.c): typing of
 * scalars as yaml.v2 types them, positions and paths in messages, the
 * refusals (duplicate keys, aliases, merges, tags, limits), aliases under a
 * budget, and emit -> parse giving the same tree.
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
#include "mmig/error.h"
#include "yaml-doc-int.h"
#include "src-check.h"

static struct mmig__ydoc *
parse_ok(const char *s, unsigned flags)
{
	struct mmig__ydoc *d = NULL;
	char *err = NULL;
	int rc = mmig__yaml_parse(s, strlen(s), flags, NULL, &d, &err);

	if (rc != MMIG_OK)
		fail_msg("parse failed (%d): %s\n%s", rc, err ? err : "", s);
	assert_null(err);
	assert_non_null(d);
	return d;
}

/* Parse must fail with MMIG_EMODEL and a message containing @p want. */
static void
parse_bad_lim(const char *s, unsigned flags,
	      const struct mmig__yaml_limits *lim, const char *want)
{
	struct mmig__ydoc *d = (void *)1;
	char *err = NULL;
	int rc = mmig__yaml_parse(s, strlen(s), flags, lim, &d, &err);

	assert_int_equal(rc, MMIG_EMODEL);
	assert_null(d);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
	mmig__free(err);
}

static void
parse_bad(const char *s, unsigned flags, const char *want)
{
	parse_bad_lim(s, flags, NULL, want);
}

static void
test_yaml_resolve_like_yaml_v2(void **state)
{
	static const struct {
		const char *text;
		unsigned kind;
		double num; /* int, uint or float value; bool as 0/1 */
	} cases[] = {
		{"", MMIG__Y_NULL, 0},         {"~", MMIG__Y_NULL, 0},
		{"null", MMIG__Y_NULL, 0},     {"NULL", MMIG__Y_NULL, 0},
		{"nULL", MMIG__Y_STR, 0},      {"yes", MMIG__Y_BOOL, 1},
		{"Y", MMIG__Y_BOOL, 1},        {"on", MMIG__Y_BOOL, 1},
		{"off", MMIG__Y_BOOL, 0},      {"No", MMIG__Y_BOOL, 0},
		{"FALSE", MMIG__Y_BOOL, 0},    {"fAlse", MMIG__Y_STR, 0},
		{"0", MMIG__Y_INT, 0},         {"-17", MMIG__Y_INT, -17},
		{"+5", MMIG__Y_INT, 5},        {"0x1F", MMIG__Y_INT, 31},
		{"017", MMIG__Y_INT, 15},      {"0o17", MMIG__Y_INT, 15},
		{"0b101", MMIG__Y_INT, 5},     {"-0b101", MMIG__Y_INT, -5},
		{"1_000", MMIG__Y_INT, 1000},  {"08", MMIG__Y_FLOAT, 8},
		{"1.5", MMIG__Y_FLOAT, 1.5},   {"1.", MMIG__Y_FLOAT, 1},
		{".5", MMIG__Y_FLOAT, 0.5},    {"-.5", MMIG__Y_FLOAT, -0.5},
		{"1e3", MMIG__Y_FLOAT, 1000},  {"1e400", MMIG__Y_STR, 0},
		{"16.04", MMIG__Y_FLOAT, 16.04},
		{"18446744073709551615", MMIG__Y_UINT, 18446744073709551615.0},
		{"99999999999999999999", MMIG__Y_FLOAT, 1e20},
		{"0x", MMIG__Y_STR, 0},        {"1.2.3", MMIG__Y_STR, 0},
		{"2017-03-29T10:00:00Z", MMIG__Y_STR, 0},
		{"2017-03-29", MMIG__Y_STR, 0}, {"1:20", MMIG__Y_STR, 0},
		{"0/lxd/0", MMIG__Y_STR, 0},   {"3.6.14", MMIG__Y_STR, 0},
		{"-", MMIG__Y_STR, 0},         {"+", MMIG__Y_STR, 0},
		{".", MMIG__Y_STR, 0},         {"._5", MMIG__Y_STR, 0},
		{"<<", MMIG__Y_STR, 0},        {"true-ish", MMIG__Y_STR, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mmig__ynode n = {0};
		unsigned kind;
		double v = 0;

		mmig__yaml_resolve(cases[i].text, strlen(cases[i].text), &kind,
				   &n);
		if (kind != cases[i].kind)
			fail_msg("\"%s\": %s, want %s", cases[i].text,
				 mmig__ykind_name(kind),
				 mmig__ykind_name(cases[i].kind));
		switch (kind) {
		case MMIG__Y_BOOL: v = n.v.b; break;
		case MMIG__Y_INT: v = (double)n.v.i; break;
		case MMIG__Y_UINT: v = (double)n.v.u; break;
		case MMIG__Y_FLOAT: v = n.v.f; break;
		default: break;
		}
		if (v != cases[i].num)
			fail_msg("\"%s\": %g, want %g", cases[i].text, v,
				 cases[i].num);
	}
	{
		struct mmig__ynode n = {0};
		unsigned kind;

		mmig__yaml_resolve(".NaN", 4, &kind, &n);
		assert_int_equal(kind, MMIG__Y_FLOAT);
		assert_true(isnan(n.v.f));
		mmig__yaml_resolve("-.inf", 5, &kind, &n);
		assert_int_equal(kind, MMIG__Y_FLOAT);
		assert_true(isinf(n.v.f) && n.v.f < 0);
	}
}

static void
test_yaml_scalars_quoted_are_strings(void **state)
{
	struct mmig__ydoc *d = parse_ok(
		"a: \"1\"\nb: '16.04'\nc: yes\nd: |\n  line\ne: !!str 7\n"
		"f: !!float 3\ng: ''\nh:\ni: \"\"\n",
		0);
	struct mmig__ynode *r = mmig__ydoc_root(d);

	assert_int_equal(mmig__ynode_get(r, "a")->kind, MMIG__Y_STR);
	assert_string_equal(mmig__ynode_get(r, "a")->str, "1");
	assert_int_equal(mmig__ynode_get(r, "b")->kind, MMIG__Y_STR);
	assert_int_equal(mmig__ynode_get(r, "b")->style, MMIG__YS_SINGLE);
	assert_int_equal(mmig__ynode_get(r, "c")->kind, MMIG__Y_BOOL);
	assert_true(mmig__ynode_get(r, "c")->v.b);
	assert_int_equal(mmig__ynode_get(r, "d")->kind, MMIG__Y_STR);
	assert_string_equal(mmig__ynode_get(r, "d")->str, "line\n");
	assert_int_equal(mmig__ynode_get(r, "d")->style, MMIG__YS_LITERAL);
	assert_int_equal(mmig__ynode_get(r, "e")->kind, MMIG__Y_STR);
	assert_int_equal(mmig__ynode_get(r, "f")->kind, MMIG__Y_FLOAT);
	assert_true(mmig__ynode_get(r, "f")->v.f == 3.0);
	assert_int_equal(mmig__ynode_get(r, "g")->kind, MMIG__Y_STR);
	assert_int_equal(mmig__ynode_get(r, "h")->kind, MMIG__Y_NULL);
	assert_int_equal(mmig__ynode_get(r, "i")->kind, MMIG__Y_STR);
	assert_null(mmig__ynode_get(r, "missing"));
	mmig__ydoc_free(d);
}

static void
test_yaml_positions_and_paths(void **state)
{
	struct mmig__ydoc *d = parse_ok(
		"applications:\n"
		"  - name: a\n"
		"    units:\n"
		"      - {name: a/0, machine: \"0\"}\n"
		"      - name: a/1\n"
		"        machine: 0/lxd/3\n"
		"'odd.key': [1, 2]\n",
		0);
	struct mmig__ynode *r = mmig__ydoc_root(d), *apps, *u1, *m, *odd;
	char path[128], *msg;

	apps = mmig__ynode_get(r, "applications");
	assert_non_null(apps);
	assert_int_equal(apps->kind, MMIG__Y_SEQ);
	u1 = mmig__ynode_get(apps->first, "units")->first->next;
	m = mmig__ynode_get(u1, "machine");
	assert_int_equal(m->line, 6);
	assert_int_equal(m->col, 18);
	mmig__ynode_path(m, path, sizeof(path));
	assert_string_equal(path, "applications[0].units[1].machine");
	msg = mmig__ynode_errmsg(m, "no such machine %s", m->str);
	assert_string_equal(msg, "line 6, column 18: "
				 "applications[0].units[1].machine: "
				 "no such machine 0/lxd/3");
	mmig__free(msg);
	odd = mmig__ynode_get(r, "odd.key");
	assert_non_null(odd);
	mmig__ynode_path(odd->last, path, sizeof(path));
	assert_string_equal(path, "[\"odd.key\"][1]");
	mmig__ynode_path(r, path, sizeof(path));
	assert_string_equal(path, "");
	/* A path too long for the buffer is cut with "...". */
	mmig__ynode_path(m, path, 12);
	assert_string_equal(path, "applicat...");
	mmig__ydoc_free(d);
}

static void
test_yaml_refusals(void **state)
{
	static const struct mmig__yaml_limits small = {
		.max_bytes = 64, .max_depth = 3, .max_nodes = 10,
		.max_alias_nodes = 20};

	(void)state;
	parse_bad("a: 1\nb: 2\na: 3\n", 0,
		  "line 3, column 4: a: duplicate key (first at line 1, column 4)");
	parse_bad("x:\n  - {k: 1, k: 2}\n", 0, "x[0].k: duplicate key");
	parse_bad("16: a\n0x10: b\n", 0, "duplicate key");
	parse_bad("a: &x 1\nb: *x\n", 0,
		  "line 2, column 4: b: aliases (*x) are not allowed here");
	parse_bad("a: {<<: {b: 1}}\n", 0, "merge keys (<<) are not allowed");
	parse_bad("? [1]\n: 2\n", 0, "a mapping key must be a scalar");
	parse_bad("7: a\n", MMIG__YAML_STRING_KEYS,
		  "key \"7\" is a int, not a string");
	parse_bad("a: !!python/object 1\n", 0, "not supported here");
	parse_bad("a: !!int abc\n", 0, "a: \"abc\" is not a valid !!int");
	parse_bad("a: !!map [1]\n", 0, "tag does not match a sequence");
	parse_bad("a: 1\n---\nb: 2\n", 0, "line 2, column 1: more than one document");
	parse_bad("", 0, "empty document");
	parse_bad("# only a comment\n", 0, "empty document");
	parse_bad("a: [1, 2\nb: 3\n", 0, "line 2");
	parse_bad("a:\n  b: 1\n c: 2\n", 0, "line 3, column 2");
	parse_bad("a: \"unterminated\n", 0, "line 2");
	parse_bad("a: \xff\xfe\n", 0, "invalid");
	parse_bad("\tа: 1\n", 0, "line 1");
	parse_bad_lim("a: [[[[1]]]]\n", 0, &small, "a[0][0]: nested deeper than 3 levels");
	parse_bad_lim("[1,2,3,4,5,6,7,8,9,10,11]\n", 0, &small, "more than 10 nodes");
	parse_bad_lim("a: 1234567890123456789012345678901234567890123456789012345678901234\n",
		      0, &small, "bytes, more than the 64 allowed");
	parse_bad("a: *nope\n", MMIG__YAML_ALLOW_ALIASES, "unknown anchor &nope");
	parse_bad("a: &x [1, *x]\n", MMIG__YAML_ALLOW_ALIASES,
		  "alias *x inside the node it names");
	parse_bad("a: {<<: 1}\n", MMIG__YAML_ALLOW_ALIASES,
		  "a merge (<<) takes a mapping or a sequence of mappings");
}

static void
test_yaml_billion_laughs_refused(void **state)
{
	char doc[2048];
	size_t i, off = 0;
	struct mmig__ydoc *d = NULL;
	char *err = NULL;
	int rc;

	(void)state;
	off += (size_t)snprintf(doc + off, sizeof(doc) - off,
				"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 10; i++)
		off += (size_t)snprintf(doc + off, sizeof(doc) - off,
					"a%zu: &a%zu [*a%zu, *a%zu, *a%zu, *a%zu, "
					"*a%zu, *a%zu, *a%zu, *a%zu, *a%zu, "
					"*a%zu]\n",
					i, i, i - 1, i - 1, i - 1, i - 1, i - 1,
					i - 1, i - 1, i - 1, i - 1, i - 1);
	rc = mmig__yaml_parse(doc, off, MMIG__YAML_ALLOW_ALIASES, NULL, &d,
			      &err);
	assert_int_equal(rc, MMIG_EMODEL);
	assert_null(d);
	assert_non_null(strstr(err, "aliases expand to more than 100000 nodes"));
	mmig__free(err);
}

static void
test_yaml_aliases_and_merges_when_allowed(void **state)
{
	struct mmig__ydoc *d = parse_ok(
		"base: &b {series: noble, constraints: 'mem=4G', num: 1}\n"
		"list: &l [1, 2]\n"
		"app:\n"
		"  <<: *b\n"
		"  num: 3\n"
		"  copy: *l\n"
		"two:\n"
		"  <<: [{x: 1, y: 1}, {x: 2, z: 2}]\n",
		MMIG__YAML_ALLOW_ALIASES);
	struct mmig__ynode *r = mmig__ydoc_root(d), *app, *two, *copy;
	char path[64];

	app = mmig__ynode_get(r, "app");
	assert_int_equal(app->n, 4);
	assert_string_equal(mmig__ynode_get(app, "series")->str, "noble");
	assert_int_equal(mmig__ynode_get(app, "num")->v.i, 3);
	copy = mmig__ynode_get(app, "copy");
	assert_int_equal(copy->kind, MMIG__Y_SEQ);
	assert_int_equal(copy->n, 2);
	assert_int_equal(copy->line, 6);
	mmig__ynode_path(copy->last, path, sizeof(path));
	assert_string_equal(path, "app.copy[1]");
	two = mmig__ynode_get(r, "two");
	assert_int_equal(two->n, 3);
	assert_int_equal(mmig__ynode_get(two, "x")->v.i, 1);
	assert_int_equal(mmig__ynode_get(two, "z")->v.i, 2);
	mmig__ydoc_free(d);
	/* Explicit duplicates are still refused next to a merge. */
	parse_bad("b: &b {x: 1}\na: {<<: *b, w: 1, w: 2}\n",
		  MMIG__YAML_ALLOW_ALIASES, "a.w: duplicate key");
	/* "y" is YAML 1.1's true, as a key too. */
	parse_bad("a: {y: 1, true: 2}\n", 0, "a.true: duplicate key");
	/* Anchors alone are fine in a dump. */
	mmig__ydoc_free(parse_ok("a: &x 1\n", 0));
}

static json_t *
tree_json(const struct mmig__ydoc *d)
{
	char *err = NULL;
	json_t *j = mmig__ynode_to_json(mmig__ydoc_root(d), &err);

	if (!j)
		fail_msg("to_json: %s", err ? err : "out of memory");
	return j;
}

/* Same kind, value, keys and children, in the same order. */
static bool
node_equal(const struct mmig__ynode *a, const struct mmig__ynode *b)
{
	const struct mmig__ynode *x, *y;

	if (a->kind != b->kind || a->n != b->n)
		return false;
	if ((a->key != NULL) != (b->key != NULL))
		return false;
	if (a->key && (a->key_kind != b->key_kind || a->key_len != b->key_len ||
		       memcmp(a->key, b->key, a->key_len) != 0))
		return false;
	switch (a->kind) {
	case MMIG__Y_BOOL: return a->v.b == b->v.b;
	case MMIG__Y_INT: return a->v.i == b->v.i;
	case MMIG__Y_UINT: return a->v.u == b->v.u;
	case MMIG__Y_FLOAT:
		return (isnan(a->v.f) && isnan(b->v.f)) ||
		       (a->v.f == b->v.f && signbit(a->v.f) == signbit(b->v.f));
	case MMIG__Y_STR:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	case MMIG__Y_SEQ:
	case MMIG__Y_MAP:
		for (x = a->first, y = b->first; x && y; x = x->next, y = y->next)
			if (!node_equal(x, y))
				return false;
		return true;
	default: return true;
	}
}

/* emit(parse(s)) parses to the same tree. */
static void
roundtrip(const char *s)
{
	struct mmig__ydoc *a = parse_ok(s, 0), *b;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(mmig__yaml_emit_buf(mmig__ydoc_root(a), 0, &out, &len),
			 MMIG_OK);
	b = parse_ok(out, 0);
	if (!node_equal(mmig__ydoc_root(a), mmig__ydoc_root(b)))
		fail_msg("round trip changed the tree:\n%s\nemitted:\n%s", s, out);
	free(out);
	mmig__ydoc_free(a);
	mmig__ydoc_free(b);
}

static void
test_yaml_emit_roundtrip(void **state)
{
	(void)state;
	roundtrip("a: \"1\"\nb: '16.04'\nc: yes\nd: 'yes'\ne: ''\nf: \"~\"\n"
		  "g: null\nh: 1.0\ni: 1e300\nj: -0.0\nk: 0x10\nl: \"0x10\"\n"
		  "m: \"1:20\"\nmerge: \"<<\"\nbig: 18446744073709551615\n"
		  "n: key n is false\n");
	roundtrip("cert: |\n  -----BEGIN-----\n  abc\n\n"
		  "keep: |+\n  x\n\n\n"
		  "strip: |-\n  y\n"
		  "folded: >\n  a\n  b\n"
		  "spaces: ' lead and trail '\n"
		  "colon: 'a: b'\nhash: 'a #b'\n"
		  "nl: \"a\\nb \\n\"\ntab: \"a\\tb\"\nnul: \"a\\0b\"\n"
		  "unicode: \"caf\\u00e9 \\U0001F600\"\n");
	roundtrip("empty_map: {}\nempty_seq: []\nnested: [[], {}, [1, [2]]]\n"
		  "'key with: colon': 1\n\"\": empty key\n");
	roundtrip("- 1\n- two\n- {three: 3}\n");
	roundtrip("7: int key\n0x10: hex key\nyes: bool key\n~: null key\n"
		  ".inf: inf\n.nan: nan\n1.5: float key\n");
	roundtrip("plain scalar at the root\n");
}

static void
test_yaml_emit_quotes_ambiguous_strings(void **state)
{
	struct mmig__ydoc *d = mmig__ydoc_new();
	struct mmig__ynode *m, *s;
	char *out = NULL;
	size_t len;

	(void)state;
	assert_non_null(d);
	m = mmig__ynode_new_map(d);
	mmig__ydoc_set_root(d, m);
	assert_int_equal(mmig__ynode_map_add(d, m, "on",
					     mmig__ynode_new_str(d, "on", 2)),
			 MMIG_OK);
	assert_int_equal(mmig__ynode_map_add(d, m, "f",
					     mmig__ynode_new_float(d, 2.0)),
			 MMIG_OK);
	assert_int_equal(mmig__ynode_map_add(d, m, "i",
					     mmig__ynode_new_int(d, -3)),
			 MMIG_OK);
	s = mmig__ynode_new_seq(d);
	assert_int_equal(mmig__ynode_map_add(d, m, "s", s), MMIG_OK);
	assert_int_equal(mmig__ynode_seq_add(s, mmig__ynode_new_null(d)),
			 MMIG_OK);
	assert_int_equal(mmig__ynode_seq_add(s, mmig__ynode_new_bool(d, false)),
			 MMIG_OK);
	/* A placed node cannot be placed twice. */
	assert_int_equal(mmig__ynode_seq_add(s, mmig__ynode_get(m, "i")),
			 MMIG_EINVAL);
	assert_int_equal(mmig__yaml_emit_buf(m, 0, &out, &len), MMIG_OK);
	assert_string_equal(out, "\"on\": \"on\"\nf: 2.0\ni: -3\ns:\n- null\n- false\n");
	assert_int_equal(len, strlen(out));
	free(out);
	mmig__ydoc_free(d);
}

static void
test_yaml_json_conversion(void **state)
{
	struct mmig__ydoc *d = parse_ok(
		"a: [1, 2.5, \"x\", true, null, {b: c}]\nbig: 18446744073709551615\n"
		"inf: .inf\nm: {7: seven}\n",
		0);
	struct mmig__ynode *r = mmig__ydoc_root(d), *back;
	struct mmig__ydoc *d2 = mmig__ydoc_new();
	json_t *j, *j2;
	char *err = NULL;

	(void)state;
	j = mmig__ynode_to_json(mmig__ynode_get(r, "a"), &err);
	assert_non_null(j);
	assert_null(err);
	back = mmig__ynode_from_json(d2, j);
	assert_non_null(back);
	j2 = mmig__ynode_to_json(back, NULL);
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	assert_null(mmig__ynode_to_json(mmig__ynode_get(r, "big"), &err));
	assert_non_null(strstr(err, "line 2, column 6: big: integer"));
	mmig__free(err);
	assert_null(mmig__ynode_to_json(mmig__ynode_get(r, "inf"), &err));
	assert_non_null(strstr(err, "inf: an infinity cannot be stored"));
	mmig__free(err);
	assert_null(mmig__ynode_to_json(mmig__ynode_get(r, "m"), &err));
	if (!strstr(err, "line 4, column 8: m.7: key is a int, not a string"))
		fail_msg("%s", err);
	mmig__free(err);
	mmig__ydoc_free(d2);
	mmig__ydoc_free(d);
}

static void
test_yaml_copy_is_deep(void **state)
{
	struct mmig__ydoc *d = parse_ok("a: {b: [1, {c: d}], e: f}\n", 0);
	struct mmig__ydoc *d2 = mmig__ydoc_new();
	struct mmig__ynode *c = mmig__ynode_copy(d2, mmig__ydoc_root(d));
	json_t *j1, *j2;

	(void)state;
	assert_non_null(c);
	mmig__ydoc_set_root(d2, c);
	j1 = tree_json(d);
	j2 = tree_json(d2);
	mmig__ydoc_free(d);
	assert_true(json_equal(j1, j2));
	json_decref(j1);
	json_decref(j2);
	mmig__ydoc_free(d2);
}

static char *
read_data(const char *name, size_t *len)
{
	return test_data_file(DATA_DIR, name, len);
}

/* Every real file parses (dumps without aliases, with string keys) and
 * comes back the same through the emitter. */
static void
test_yaml_real_files(void **state)
{
	static const char *const files[] = {
		"juju-model-dump-v1-juju2.1.yaml", "iaas-small.yaml",
		"caas-small.yaml", "iaas-large.yaml",
		"bundle-charmed-kubernetes-1.35.yaml",
		"bundle-kubeflow-1.10-stable.yaml",
	};
	size_t i, len, outlen;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *buf = read_data(files[i], &len), *out = NULL, *err = NULL;
		struct mmig__ydoc *a = NULL, *b = NULL;

		if (mmig__yaml_parse(buf, len, MMIG__YAML_STRING_KEYS, NULL, &a,
				     &err) != MMIG_OK)
			fail_msg("%s: %s", files[i], err);
		assert_int_equal(mmig__yaml_emit_buf(mmig__ydoc_root(a), 0, &out,
						     &outlen),
				 MMIG_OK);
		if (mmig__yaml_parse(out, outlen, MMIG__YAML_STRING_KEYS, NULL,
				     &b, &err) != MMIG_OK)
			fail_msg("%s emitted: %s", files[i], err);
		assert_true(node_equal(mmig__ydoc_root(a), mmig__ydoc_root(b)));
		free(out);
		free(buf);
		mmig__ydoc_free(a);
		mmig__ydoc_free(b);
	}
	{
		/* The dump's facts: "1" and "16.04" stay strings, timestamps
		 * stay strings, block scalars keep their newlines. */
		char *buf = read_data("juju-model-dump-v1-juju2.1.yaml", &len);
		struct mmig__ydoc *d = NULL;
		struct mmig__ynode *r, *v;

		assert_int_equal(mmig__yaml_parse(buf, len, 0, NULL, &d, NULL),
				 MMIG_OK);
		r = mmig__ydoc_root(d);
		v = mmig__ynode_get(r, "version");
		assert_int_equal(v->kind, MMIG__Y_INT);
		assert_int_equal(v->v.i, 1);
		v = mmig__ynode_get(mmig__ynode_get(r, "machines"), "machines");
		assert_int_equal(v->kind, MMIG__Y_SEQ);
		v = mmig__ynode_get(v->first, "id");
		assert_int_equal(v->kind, MMIG__Y_STR);
		assert_string_equal(v->str, "1");
		mmig__ydoc_free(d);
		free(buf);
	}
}

static void
test_yaml_args(void **state)
{
	struct mmig__ydoc *d = (void *)1;
	char *err = (void *)1;

	(void)state;
	assert_int_equal(mmig__yaml_parse(NULL, 1, 0, NULL, &d, &err), MMIG_EINVAL);
	assert_null(err);
	assert_int_equal(mmig__yaml_parse("a", 1, 0, NULL, NULL, NULL),
			 MMIG_EINVAL);
	mmig__ydoc_free(NULL);
	assert_int_equal(mmig__yaml_emit(NULL, 0, stdout), MMIG_EINVAL);
}

/* Every mapping of @p yaml copied from the source reads back the same;
 * @return how many had a text (the others have a member that cannot be
 * copied). */
static size_t
src_all(const char *yaml, size_t len, size_t *without)
{
	struct mmig__ydoc *d = NULL;
	char *err = NULL;
	size_t with = 0;

	*without = 0;
	if (mmig__yaml_parse(yaml, len, 0, NULL, &d, &err) != MMIG_OK)
		fail_msg("parse: %s\n%s", err ? err : "", yaml);
	if (!src_check_tree(d, mmig__ydoc_root(d), yaml, len, &with, without))
		fail_msg("does not read back:\n%s", yaml);
	mmig__ydoc_free(d);
	return with;
}

/* Odd but valid inputs: each mapping's members, copied from the source
 * with their keys moved to column 1, read back to the very same nodes
 * (same order, kinds, styles, texts). */
static void
test_yaml_src_text_reads_back(void **state)
{
	static const char *const docs[] = {
		/* flow collections, one over several lines */
		"a: {x: 1, y: [1, 2]}\nb: [ {p: q},\n     r ]\n",
		"items:\n  - name: a\n    flow: {x: 1,\n      y: 2}\n"
		"    z: 3\n",
		/* block scalars: literal, folded, strip, keep (with the blank
		 * lines a keep scalar owns), more-indented lines */
		"lit: |\n  line1\n   line2\n\n  line3\nfold: >-\n  a\n  b\n"
		"keep: |+\n  k\n\n\nnext: 1\n",
		"m:\n  - s: >\n      folded\n        more\n      back\n"
		"    t: |-\n      x\n",
		/* a keeping block scalar last in a nested mapping: the next
		 * key's indentation is not one more line of it (found by the
		 * fuzz corpus) */
		"c:\n  attributes:\n    cert: |+\n      PEM\n\n"
		"    key: |+\n      KEY\n\n  auth-type: certificate\n",
		"m:\n  - a: |+\n      x\n\n    \n  - b: 1\n",
		/* quoted keys and values, escapes */
		"\"quoted key\": 1\n'single': 2\n\"esc\\tkey\": \"a\\u00e9\\n\"\n",
		/* comments inside and after ranges */
		"m:\n  # c1\n  a: 1 # c2\n\n  # c3\nn: 2 # c4\n# tail\n",
		"a:\n  b: 1\n# end, no newline",
		/* CRLF, a tab after a colon and inside quotes */
		"a: 1\r\nb:\r\n  c: 2\r\n  d: [1,\r\n    2]\r\n",
		"a:\tb\nc: \"x\ty\"\nd: 'p\tq'\n",
		/* ranges at the end of the input without a newline */
		"a: 1\nb:\n  c: 2",
		"a: 1\nb: last",
		"a: 1\nb: |\n  text\n",
		/* indentless and indented sequences, nested deep */
		"s:\n- 1\n- 2\nt: 3\nu:\n  - v: 1\n    w:\n    - x\n",
		/* plain scalars over several lines */
		"p: one\n  two\n  three\nq: x\n",
		/* non-ASCII: offsets are bytes, libyaml counts characters */
		"\xc3\xa9: \xc3\xbc\nk: \"\xe6\x97\xa5\xe6\x9c\xac\"\n"
		"n:\n  \xc3\xa9\xc3\xa9: [\xc3\xbc, \xc3\xbc]\n  z: 1\n",
		/* tags, an unused anchor, numeric and boolean keys */
		"a: !!str 123\nb: &anc x\nc: !!float 1\n1: a\n0x10: b\ntrue: c\n",
		/* empty values, document markers */
		"a:\nb: 2\nc: ~\n",
		"---\na: 1\nb:\n  c: 2\n...\n",
		"--- # doc\na: {}\nb: []\nc: ''\n",
		/* a mapping in a sequence in a mapping, at deeper indents */
		"x:\n      - k: 1\n        l:\n            m: n\n      - k: 2\n",
	};
	size_t without;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		size_t with = src_all(docs[i], strlen(docs[i]), &without);

		if (with == 0)
			fail_msg("no mapping copied from:\n%s", docs[i]);
	}
}

/* What cannot be copied is not: an indentation indicator (fixed relative
 * to the mapping), a flow mapping's members, an explicit key, a byte
 * order mark, aliases allowed; built and copied nodes have no range.  A
 * mapping with such a member has no text (its owner emits it), the others
 * around it still do. */
static void
test_yaml_src_text_refuses_what_cannot_move(void **state)
{
	struct {
		const char *yaml;
		const char *path; /* the mapping without text, "" = root */
	} cases[] = {
		{ "a: |2\n   x\nb: 1\n", "" },
		{ "m:\n  a: >1\n    x\n  b: 1\nn: 2\n", "m" },
		{ "a: {x: 1}\n", "a" },
		{ "a: 1\nb: |\n  text", "" },
		{ "a: 1\nb: >+\n  text", "" },
		{ "? a\n: 1\nb: 2\n", "" },
	};
	const char *text;
	size_t len, without, with;
	struct mmig__ydoc *d, *e;
	struct mmig__ynode *r, *c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = parse_ok(cases[i].yaml, 0);
		r = mmig__ydoc_root(d);
		if (cases[i].path[0])
			r = mmig__ynode_get(r, cases[i].path);
		assert_non_null(r);
		assert_int_equal(mmig__ynode_src_text(d, r, cases[i].yaml,
						      strlen(cases[i].yaml),
						      &text, &len),
				 MMIG_OK);
		assert_null(text);
		assert_int_equal(len, 0);
		mmig__ydoc_free(d);
		/* and whatever is copied still reads back */
		with = src_all(cases[i].yaml, strlen(cases[i].yaml), &without);
		assert_true(without >= 1);
		(void)with;
	}
	/* The mapping around the tainted one has no text either. */
	d = parse_ok("m:\n  a: |2\n     x\nn: 1\n", 0);
	assert_int_equal(mmig__ynode_src_text(d, mmig__ydoc_root(d),
					      "m:\n  a: |2\n     x\nn: 1\n",
					      22, &text, &len),
			 MMIG_OK);
	assert_null(text);
	mmig__ydoc_free(d);
	/* A byte order mark; aliases allowed. */
	{
		static const char bom[] = "\xef\xbb\xbf" "a: 1\nb: 2\n";

		d = parse_ok(bom, 0);
		assert_int_equal(mmig__ynode_src_text(d, mmig__ydoc_root(d),
						      bom, strlen(bom), &text,
						      &len),
				 MMIG_OK);
		assert_null(text);
		mmig__ydoc_free(d);
		d = parse_ok("a: 1\nb: 2\n", MMIG__YAML_ALLOW_ALIASES);
		assert_int_equal(mmig__ynode_src_text(d, mmig__ydoc_root(d),
						      "a: 1\nb: 2\n", 10,
						      &text, &len),
				 MMIG_OK);
		assert_null(text);
		mmig__ydoc_free(d);
	}
	/* Built, and copied into another document: no range. */
	d = parse_ok("a: 1\nb: 2\n", 0);
	e = mmig__ydoc_new();
	assert_non_null(e);
	r = mmig__ynode_copy(e, mmig__ydoc_root(d));
	assert_non_null(r);
	for (c = r->first; c; c = c->next)
		assert_int_equal(c->src_end, 0);
	assert_int_equal(mmig__ynode_src_text(e, r, "a: 1\nb: 2\n", 10, &text,
					      &len),
			 MMIG_OK);
	assert_null(text);
	/* A range outside the buffer given is refused. */
	assert_int_equal(mmig__ynode_src_text(d, mmig__ydoc_root(d),
					      "a: 1\nb: 2\n", 4, &text, &len),
			 MMIG_EINVAL);
	assert_null(text);
	mmig__ydoc_free(e);
	mmig__ydoc_free(d);
}

/* Members taken out are not in the text; the rest read back, in order. */
static void
test_yaml_src_text_without_removed_members(void **state)
{
	static const char y[] = "- name: u/0\n  machine: \"0\"\n"
				"  status:\n    current: active\n"
				"  tools: {version: 3.1}\n  principal: ''\n";
	struct mmig__ydoc *d = parse_ok(y, 0);
	struct mmig__ynode *u = mmig__ydoc_root(d)->first;
	const char *text;
	size_t len;

	(void)state;
	mmig__ynode_remove(mmig__ynode_get(u, "name"));
	mmig__ynode_remove(mmig__ynode_get(u, "machine"));
	assert_int_equal(src_check_map(d, u, y, strlen(y)), 1);
	assert_int_equal(mmig__ynode_src_text(d, u, y, strlen(y), &text, &len),
			 MMIG_OK);
	assert_string_equal(text, "status:\n    current: active\n"
				  "tools: {version: 3.1}\nprincipal: ''\n");
	mmig__ydoc_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_resolve_like_yaml_v2),
		cmocka_unit_test(test_yaml_scalars_quoted_are_strings),
		cmocka_unit_test(test_yaml_positions_and_paths),
		cmocka_unit_test(test_yaml_refusals),
		cmocka_unit_test(test_yaml_billion_laughs_refused),
		cmocka_unit_test(test_yaml_aliases_and_merges_when_allowed),
		cmocka_unit_test(test_yaml_emit_roundtrip),
		cmocka_unit_test(test_yaml_emit_quotes_ambiguous_strings),
		cmocka_unit_test(test_yaml_json_conversion),
		cmocka_unit_test(test_yaml_copy_is_deep),
		cmocka_unit_test(test_yaml_real_files),
		cmocka_unit_test(test_yaml_src_text_reads_back),
		cmocka_unit_test(test_yaml_src_text_refuses_what_cannot_move),
		cmocka_unit_test(test_yaml_src_text_without_removed_members),
		cmocka_unit_test(test_yaml_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
