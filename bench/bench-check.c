/*
 * bench/bench-check.c - the 'bench' test suite: run `mmig bench --quick
 * --json` and check that what it prints is well-formed JSON with every
 * figure present, each with a numeric median, min and max for its value,
 * its ratio (figures 2-9) and each extra series, and no error; figure 7
 * with its YAML path (a bundle expanded, parsed, imported and floored);
 * figure 9 (etcd) measured, or skipped only when etcd is not on PATH.
 *
 * It deliberately checks no timing and no verdict: on a shared CI machine
 * a timing assertion is noise, and --quick sizes are not the targets'.
 * One exception, not a timing: figure 9's stale writes accepted must be 0.
 *
 * The PostgreSQL peer of figures 1 and 2 is checked for what applies on
 * this machine: built without libpq, it must say "skipped: built without
 * libpq"; with libpq but no server installed (initdb and postgres in
 * /usr/lib/postgresql/N/bin or PATH), a skip saying so; with both, a
 * number in each run (figure 1) and a ratio (figure 2).  The one skip
 * accepted where it is installed is the one a root run cannot avoid: the
 * scratch directory not reachable by the user PostgreSQL must run as.
 *
 * usage: bench-check PATH-TO-MMIG with-libpq|without-libpq
 */
#include <jansson.h>

#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int problems;

static void
problem(const char *fmt, const char *a, long b)
{
	fprintf(stderr, "bench-check: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	problems++;
}

/* Is a PostgreSQL server installed where `mmig bench` looks for one? */
static bool
pg_installed(void)
{
	char cand[4096];
	const char *path = getenv("PATH");
	glob_t g;
	bool found = false;

	if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && !found; i++) {
			snprintf(cand, sizeof(cand), "%s", g.gl_pathv[i]);
			strcpy(strrchr(cand, '/'), "/initdb");
			found = access(cand, X_OK) == 0;
		}
		globfree(&g);
	}
	while (!found && path && *path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(cand, sizeof(cand), "%.*s/initdb", (int)len,
				 path);

		found = n > 0 && (size_t)n < sizeof(cand) && len &&
			access(cand, X_OK) == 0;
		path += len + (path[len] == ':');
	}
	return found;
}

/* The PostgreSQL peer: measured, or skipped for the reason that applies. */
static void
check_pg_peer(const json_t *root, bool with_libpq)
{
	const json_t *pg = json_object_get(json_object_get(root, "peers"),
					   "postgresql");
	const json_t *figs = json_object_get(root, "figures");
	const json_t *v1 = json_object_get(json_array_get(figs, 0),
					   "pg_peer_us");
	const json_t *v2 = json_object_get(json_array_get(figs, 1),
					   "ratio_to_pg_peer");
	const char *why = json_string_value(json_object_get(pg, "skipped"));
	bool measured = json_is_true(json_object_get(pg, "measured"));

	if (!json_is_object(pg) ||
	    !json_is_boolean(json_object_get(pg, "measured"))) {
		problem("%s: no \"peers\": {\"postgresql\": {\"measured\"}}",
			"top level", 0);
		return;
	}
	if (measured) {
		if (!with_libpq)
			problem("%s: measured by a build without libpq",
				"PostgreSQL peer", 0);
		/* Their numbers: check_series() of the figure loop. */
		if (!json_is_object(v1) || !json_is_object(v2))
			problem("%s: measured, but figure 1's pg_peer_us or "
				"figure 2's ratio_to_pg_peer is missing",
				"PostgreSQL peer", 0);
		printf("bench-check: PostgreSQL peer measured: %s\n",
		       json_string_value(json_object_get(pg, "what")));
		return;
	}
	if (!why || !*why) {
		problem("%s: not measured, and no \"skipped\" reason",
			"PostgreSQL peer", 0);
		return;
	}
	if (!json_is_null(v1) || !json_is_null(v2))
		problem("%s: skipped, but its series are not null",
			"PostgreSQL peer", 0);
	printf("bench-check: PostgreSQL peer skipped: %s\n", why);
	if (!with_libpq) {
		if (strcmp(why, "built without libpq") != 0)
			problem("PostgreSQL peer: built without libpq, but "
				"skipped for: %s",
				why, 0);
	} else if (!pg_installed()) {
		if (!strstr(why, "no PostgreSQL server found"))
			problem("PostgreSQL peer: no server installed, but "
				"skipped for: %s",
				why, 0);
	} else if (!strstr(why, "cannot reach")) {
		problem("PostgreSQL peer: installed here, but skipped: %s",
			why, 0);
	}
}

static bool
is_number(const json_t *v)
{
	return json_is_number(v);
}

/* A series: unit, median, min, max numeric, runs an array of numbers. */
static void
check_series(const json_t *s, const char *name, long id)
{
	static const char *const keys[] = { "median", "min", "max" };
	const json_t *runs;
	size_t i;
	json_t *v;

	if (!json_is_object(s)) {
		problem("figure %2$ld: %1$s is not an object", name, id);
		return;
	}
	if (!json_is_string(json_object_get(s, "unit")))
		problem("figure %2$ld: %1$s has no unit", name, id);
	for (size_t k = 0; k < 3; k++)
		if (!is_number(json_object_get(s, keys[k])))
			problem("figure %2$ld: %1$s has no numeric median, "
				"min and max",
				name, id);
	runs = json_object_get(s, "runs");
	if (!json_is_array(runs) || json_array_size(runs) < 1)
		problem("figure %2$ld: %1$s has no runs", name, id);
	json_array_foreach(runs, i, v)
		if (!is_number(v))
			problem("figure %2$ld: %1$s: a run is not a number",
				name, id);
}

int
main(int argc, char **argv)
{
	static const char *const keys[] = {
		"sync_limit",       "journal_durable", "journal_process",
		"group_commit",     "recovery_history", "settle",
		"import_vs_sqlite", "import_journal_overhead",
		"etcd",
	};
	/* Figure 7's YAML path: each a series of its own. */
	static const char *const yaml_keys[] = {
		"yaml_parse_ms",       "yaml_events_ms", "yaml_parse_ratio",
		"yaml_ms",             "yaml_ratio_to_floor",
		"yaml_floor_ms",       "yaml_desc_ms",
		"yaml_ratio_to_floor_desc", "yaml_rss_kib",
		"yaml_no_journal_ms", "yaml_no_journal_ratio",
	};
	char cmd[4096];
	json_error_t jerr;
	json_t *root, *figs, *f, *sizes;
	FILE *p;
	size_t i;
	int status;

	if (argc != 3 || (strcmp(argv[2], "with-libpq") != 0 &&
			  strcmp(argv[2], "without-libpq") != 0)) {
		fprintf(stderr, "usage: bench-check PATH-TO-MMIG "
				"with-libpq|without-libpq\n");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "'%s' bench --quick --json", argv[1]);
	p = popen(cmd, "r");
	if (!p) {
		perror("bench-check: popen");
		return 1;
	}
	root = json_loadf(p, 0, &jerr);
	status = pclose(p);
	if (!root) {
		fprintf(stderr, "bench-check: not JSON: line %d: %s\n",
			jerr.line, jerr.text);
		return 1;
	}
	if (status != 0)
		problem("%s exited with status %ld", "mmig bench", status);
	if (!json_is_true(json_object_get(root, "quick")))
		problem("%s: \"quick\" is not true", "top level", 0);
	figs = json_object_get(root, "figures");
	if (!json_is_array(figs) || json_array_size(figs) != 9)
		problem("%s: \"figures\" is not an array of 9", "top level", 0);
	json_array_foreach(figs, i, f) {
		long id = (long)i + 1;
		const char *key, *k;
		json_t *v;

		if (json_integer_value(json_object_get(f, "id")) != id)
			problem("figure %2$ld: %1$s", "wrong id", id);
		key = json_string_value(json_object_get(f, "key"));
		if (!key || strcmp(key, keys[i]) != 0)
			problem("figure %2$ld: key is not %1$s", keys[i], id);
		if (!json_is_null(json_object_get(f, "error")))
			problem("figure %2$ld: error: %1$s",
				json_string_value(json_object_get(f, "error")),
				id);
		if (id == 9 && json_is_string(json_object_get(f, "skipped"))) {
			/* Only when there is no etcd to run. */
			const char *why = json_string_value(
				json_object_get(f, "skipped"));

			if (strncmp(why, "skipped: etcd not found", 23) != 0)
				problem("figure %2$ld: skipped: %1$s", why, id);
			else if (system("command -v etcd >/dev/null 2>&1") == 0)
				problem("figure %2$ld: %1$s, but etcd is on "
					"PATH",
					why, id);
			continue;
		}
		check_series(json_object_get(f, "value"), "value", id);
		/* Not a timing: a stale owner's write accepted is a bug. */
		if (id == 9 &&
		    json_number_value(json_object_get(
			    json_object_get(f, "stale_writes"), "max")) != 0)
			problem("figure %2$ld: %1$s", "stale writes accepted",
				id);
		if (id > 1)
			check_series(json_object_get(f, "ratio"), "ratio", id);
		/* Every other object member is an extra series. */
		json_object_foreach(f, k, v)
			if (json_is_object(v) && strcmp(k, "value") != 0 &&
			    strcmp(k, "ratio") != 0)
				check_series(v, k, id);
		if (!json_object_get(f, "pass"))
			problem("figure %2$ld: %1$s", "no \"pass\"", id);
		if (id == 7)
			for (size_t y = 0; y < sizeof(yaml_keys) /
						       sizeof(yaml_keys[0]);
			     y++)
				if (!json_is_object(
					    json_object_get(f, yaml_keys[y])))
					problem("figure %2$ld: no %1$s",
						yaml_keys[y], id);
	}
	sizes = json_object_get(root, "sizes");
	if (json_integer_value(json_object_get(sizes, "yaml_units")) <= 0)
		problem("%s: no \"yaml_units\" in \"sizes\"", "top level", 0);
	check_pg_peer(root, strcmp(argv[2], "with-libpq") == 0);
	json_decref(root);
	if (problems) {
		fprintf(stderr, "bench-check: %d problems\n", problems);
		return 1;
	}
	printf("bench-check: 9 figures, all present and well-formed\n");
	return 0;
}
