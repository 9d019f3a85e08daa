/*
 * bench/bench.c - `mmig bench`: runs the eight figures of issue 7 and the
 * etcd figure of issue 15 (see bench/README.md), each over several runs, and prints a table or JSON
 * with the median, min and max of every figure, its ratio to the reference
 * measured in the same run, the target and PASS or MISS.
 *
 * The verdict is on the median of the per-run ratios: each run compares
 * two things measured seconds apart, which cancels most of what a shared,
 * noisy machine does to absolute numbers.
 *
 * Everything is written under one scratch directory (--dir, default the
 * current one), on the filesystem being measured, and removed at the end.
 */
#include "bench.h"
#include "bench-int.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers --------------------------------------------------------- */

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *
bench_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int
bench_rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? 0 : -errno;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = bench_path(path, e->d_name);
		if (!sub) {
			rc = -ENOMEM;
			break;
		}
		if (rc == 0)
			rc = bench_rmtree(sub);
		free(sub);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) != 0)
		rc = -errno;
	return rc;
}

int
bench_mkdirs(const char *path)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; rc == 0; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			rc = -errno;
		if (last)
			break;
		*p = '/';
	}
	free(copy);
	return rc;
}

void
bench_log_quiet(void *arg, enum mmig_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

#define EXEC_REPLY_FD 3

/*
 * Fork; the child runs @p start(@p arg, fd), which never returns and hands
 * @p n doubles back through fd.  The parent reads them into @p out and
 * reaps the child.  @return 0, or -1 when the child failed.
 */
static int
fork_and_read(void (*start)(void *arg, int fd), void *arg, double *out,
	      size_t n, long *maxrss_kib)
{
	double vals[8];
	struct rusage ru;
	int fds[2], status;
	ssize_t got = 0;
	pid_t pid;

	if (n > 8 || pipe(fds) != 0)
		return -1;
	/* Whatever stdio holds would otherwise be written twice. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		start(arg, fds[1]);
	}
	close(fds[1]);
	if (n)
		got = read(fds[0], vals, n * sizeof(double));
	close(fds[0]);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (maxrss_kib)
		*maxrss_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    got != (ssize_t)(n * sizeof(double)))
		return -1;
	if (n)
		memcpy(out, vals, n * sizeof(double));
	return 0;
}

struct child_fn {
	int (*fn)(void *arg, double *out);
	void *arg;
	size_t n;
};

static void
run_fn(void *arg, int fd)
{
	const struct child_fn *c = arg;
	double vals[8] = { 0 };
	int rc = c->fn(c->arg, vals);

	if (rc == 0 && c->n &&
	    write(fd, vals, c->n * sizeof(double)) !=
		    (ssize_t)(c->n * sizeof(double)))
		rc = -1;
	/* _exit: the parent's atexit handlers and buffers are not the
	 * child's to run. */
	_exit(rc == 0 ? 0 : 1);
}

int
bench_child(int (*fn)(void *arg, double *out), void *arg, double *out,
	    size_t n, long *maxrss_kib)
{
	struct child_fn c = { .fn = fn, .arg = arg, .n = n };

	return fork_and_read(run_fn, &c, out, n, maxrss_kib);
}

static void
run_exec(void *arg, int fd)
{
	char *const *argv = arg;

	if (dup2(fd, EXEC_REPLY_FD) >= 0)
		execv("/proc/self/exe", argv);
	fprintf(stderr, "mmig: bench: exec /proc/self/exe: %s\n",
		strerror(errno));
	_exit(1);
}

int
bench_exec(const char *const *args, double *out, size_t n)
{
	const char *argv[16] = { "mmig", "bench-child" };
	size_t argc = 2;

	for (size_t i = 0; args[i]; i++) {
		if (argc == 15)
			return -1;
		argv[argc++] = args[i];
	}
	return fork_and_read(run_exec, (void *)argv, out, n, NULL);
}

int
bench_exec_reply(const double *out, size_t n)
{
	ssize_t w = write(EXEC_REPLY_FD, out, n * sizeof(double));

	return w == (ssize_t)(n * sizeof(double)) ? 0 : -1;
}

int
mmig_bench_child_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "recover") == 0)
		return bench_recover_child_main(argc - 1, argv + 1);
	fprintf(stderr, "mmig: bench-child: runs only under mmig bench\n");
	return 2;
}

long
bench_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

int
bench_peak_rss_restart(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs("5", f) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

/* ---- figures ----------------------------------------------------------------- */

bool
bench_wanted(const struct bench *b, int id)
{
	return !b->only || b->only == id;
}

struct bench_figure *
bench_fig(struct bench *b, int id)
{
	return &b->fig[id - 1];
}

void
bench_put(struct bench_series *s, double v)
{
	if (s->n < BENCH_MAX_RUNS)
		s->v[s->n++] = v;
}

struct bench_series *
bench_extra(struct bench_figure *f, const char *key, const char *label,
	    const char *unit)
{
	struct bench_series *s = &f->extra[f->n_extra++];

	*s = (struct bench_series){ .key = key, .label = label, .unit = unit };
	return s;
}

void
bench_fail(struct bench_figure *f, const char *fmt, ...)
{
	va_list ap;

	if (f->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->error, sizeof(f->error), fmt, ap);
	va_end(ap);
}

static void
series(struct bench_series *s, const char *key, const char *label,
       const char *unit, enum bench_target t, double target)
{
	*s = (struct bench_series){ .key = key, .label = label, .unit = unit,
				    .target = t, .target_value = target };
}

/* The figures, their units and targets (issue 7). */
static void
figures_init(struct bench *b)
{
	struct bench_figure *f;
	struct bench_series *x;

	f = bench_fig(b, 1);
	*f = (struct bench_figure){ .id = 1, .key = "sync_limit",
		.title = "sync limit: write+fdatasync, 200 B" };
	series(&f->value, "us", "per write+fdatasync", "us", TARGET_NONE, 0);
	bench_extra(f, "disk_floor_us", "disk floor: pwrite+fdatasync", "us");
	bench_extra(f, "lmdb_floor_us", "LMDB floor: put+commit", "us");
	bench_extra(f, "sqlite_peer_us", "peer: SQLite WAL FULL insert",
		    "us");
	bench_extra(f, "pg_peer_us", "peer: PostgreSQL insert", "us");

	f = bench_fig(b, 2);
	*f = (struct bench_figure){ .id = 2, .key = "journal_durable",
		.title = "journal cost per op, durable" };
	series(&f->value, "us_per_op", "per op", "us", TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_lmdb_floor", "÷ LMDB floor", "x",
	       TARGET_LE, 1.05);
	bench_extra(f, "ratio_to_disk_floor", "÷ disk floor", "x");
	bench_extra(f, "ratio_to_sync_limit", "÷ (1) append", "x");
	bench_extra(f, "ratio_to_sqlite_peer", "÷ peer SQLite WAL FULL", "x");
	bench_extra(f, "ratio_to_pg_peer", "÷ peer PostgreSQL", "x");
	bench_extra(f, "syncs_per_op", "sync points per op", "");
	bench_extra(f, "commits_per_op", "LMDB commits per op", "");
	bench_extra(f, "commit_us", "LMDB commit (writes+sync)", "us");

	f = bench_fig(b, 3);
	*f = (struct bench_figure){ .id = 3, .key = "journal_process",
		.title = "journal cost per op, process mode" };
	series(&f->value, "us_per_op", "per op", "us", TARGET_LE, 5.0);
	series(&f->ratio, "ratio_to_no_journal", "÷ no journal", "x",
	       TARGET_NONE, 0);
	bench_extra(f, "no_journal_us_per_op", "no journal, per op", "us");

	f = bench_fig(b, 4);
	*f = (struct bench_figure){ .id = 4, .key = "group_commit",
		.title = "group commit, durable" };
	series(&f->value, "ops_per_s", "aggregate", "ops/s", TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_single", "÷ (2) ops/s", "x", TARGET_GE,
	       12.0);
	bench_extra(f, "single_ops_per_s", "one migration (2)", "ops/s");
	bench_extra(f, "commits_per_op", "LMDB commits per op", "");
	bench_extra(f, "syncs_per_op", "sync points per op", "");
	bench_extra(f, "wide_ops_per_s", "aggregate, wide group", "ops/s");
	bench_extra(f, "wide_ratio_to_single", "wide ÷ (2) ops/s", "x");
	bench_extra(f, "wide_commits_per_op", "wide: LMDB commits per op", "");
	bench_extra(f, "switches_per_op", "context switches per op", "");
	/* What limits the ratio before any CPU or wake-up: a batch's
	 * commit writes more pages than one migration's.  The ceiling is
	 * the ratio if nothing but the commits took time: threads × (2)'s
	 * commit ÷ the batch's. */
	bench_extra(f, "batch_commit_us", "batch's LMDB commit", "us");
	bench_extra(f, "commit_ceiling", "ceiling, commits alone", "x");
	/* The rest of a batch's time: the writers' wake-ups, ops and
	 * queueing, and the CPU they take (every thread's, user + system). */
	bench_extra(f, "cpu_us_per_op", "CPU per op, all threads", "us");
	bench_extra(f, "between_commits_us", "between commits, per batch",
		    "us");

	f = bench_fig(b, 5);
	*f = (struct bench_figure){ .id = 5, .key = "recovery_history",
		.title = "recovery, 1 in flight, with history" };
	series(&f->value, "ms", "open + mmig_recover", "ms", TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_empty", "÷ empty history", "x",
	       TARGET_LE, 1.2);
	bench_extra(f, "empty_ms", "empty history", "ms");
	bench_extra(f, "rss_kib", "peak RSS, history", "KiB");
	bench_extra(f, "rss_empty_kib", "peak RSS, empty", "KiB");
	x = bench_extra(f, "rss_ratio", "RSS ÷ empty (flat)", "x");
	x->target = TARGET_LE;
	x->target_value = 1.15;
	/* How both grow: the history ÷ 100 and ÷ 10 (10k and 100k at the
	 * targets' size of 1M). */
	bench_extra(f, "ratio_to_empty_h100", "history ÷ 100: ÷ empty", "x");
	bench_extra(f, "ratio_to_empty_h10", "history ÷ 10: ÷ empty", "x");
	bench_extra(f, "rss_ratio_h100", "history ÷ 100: RSS ÷ empty", "x");
	bench_extra(f, "rss_ratio_h10", "history ÷ 10: RSS ÷ empty", "x");

	f = bench_fig(b, 6);
	*f = (struct bench_figure){ .id = 6, .key = "settle",
		.title = "settling a crashed migration" };
	series(&f->value, "ms", "mmig_recover", "ms", TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_ops_x_sync", "÷ (ops × (1))", "x",
	       TARGET_LE, 1.2);
	bench_extra(f, "syncs_per_op", "sync points per op", "");

	f = bench_fig(b, 7);
	*f = (struct bench_figure){ .id = 7, .key = "import_vs_sqlite",
		.title = "import vs raw SQLite, durable" };
	series(&f->value, "ms", "mmig import", "ms", TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_floor", "÷ raw SQLite", "x", TARGET_LE,
	       1.5);
	bench_extra(f, "floor_ms", "raw SQLite (floor)", "ms");
	bench_extra(f, "rss_kib", "peak RSS, import", "KiB");
	bench_extra(f, "floor_rss_kib", "peak RSS, floor", "KiB");
	/* The YAML path: a real topology as juju/description, its parse
	 * on its own, and its import against the same rows in raw SQLite. */
	bench_extra(f, "yaml_parse_ms", "YAML parse (ours)", "ms");
	bench_extra(f, "yaml_events_ms", "YAML libyaml events only", "ms");
	bench_extra(f, "yaml_parse_ratio", "YAML parse ÷ events only",
		    "x");
	bench_extra(f, "yaml_ms", "YAML mmig import", "ms");
	x = bench_extra(f, "yaml_ratio_to_floor", "YAML ÷ raw SQLite", "x");
	x->target = TARGET_LE;
	x->target_value = 1.5;
	bench_extra(f, "yaml_floor_ms", "YAML raw SQLite (floor)", "ms");
	bench_extra(f, "yaml_desc_ms", "YAML doc write+fdatasync", "ms");
	bench_extra(f, "yaml_ratio_to_floor_desc", "YAML ÷ (floor + doc write)",
		    "x");
	bench_extra(f, "yaml_rss_kib", "YAML peak RSS, import", "KiB");
	bench_extra(f, "yaml_no_journal_ms", "YAML import, no journal", "ms");
	bench_extra(f, "yaml_no_journal_ratio", "YAML no journal ÷ floor",
		    "x");

	f = bench_fig(b, 8);
	*f = (struct bench_figure){ .id = 8, .key = "import_journal_overhead",
		.title = "journal overhead on the import" };
	series(&f->value, "ms", "with journal", "ms", TARGET_NONE, 0);
	/* Issue 16 (8): bounded below by writing the description once,
	 * durably (rollbacks receive the model: rule 2). */
	series(&f->ratio, "ratio_to_no_journal_desc",
	       "÷ (no journal + desc write)", "x", TARGET_LE, 1.02);
	bench_extra(f, "no_journal_ms", "without journal", "ms");
	bench_extra(f, "no_journal_rss_kib", "peak RSS, no journal", "KiB");
	bench_extra(f, "journal_syncs", "journal sync points", "");
	bench_extra(f, "journal_mib", "journal bytes written", "MiB");
	bench_extra(f, "desc_write_ms", "desc write+fdatasync", "ms");
	bench_extra(f, "ratio_to_no_journal", "÷ no journal (old ratio)", "x");
	bench_extra(f, "journal_commit_ms", "journal commits (writes+syncs)",
		    "ms");
	bench_extra(f, "commit_share", "commits ÷ (no journal + desc)", "x");

	/* bench-etcd.c fills these in this order. */
	f = bench_fig(b, 9);
	*f = (struct bench_figure){ .id = 9, .key = "etcd",
		.title = "journal on etcd (3 members)" };
	series(&f->value, "us_per_op", "per op, durable, etcd", "us",
	       TARGET_NONE, 0);
	series(&f->ratio, "ratio_to_lmdb", "÷ the same on LMDB", "x",
	       TARGET_NONE, 0);
	bench_extra(f, "lmdb_us_per_op", "per op, durable, LMDB", "us");
	bench_extra(f, "lease_ttl_s", "lease TTL", "s");
	bench_extra(f, "takeover_ms", "takeover: kill → settled", "ms");
	x = bench_extra(f, "takeover_ratio_to_ttl", "takeover ÷ TTL", "x");
	x->target = TARGET_LE;
	x->target_value = 1.5;
	bench_extra(f, "frozen_takeover_ms", "takeover: SIGSTOP → settled",
		    "ms");
	bench_extra(f, "frozen_takeover_ratio_to_ttl",
		    "frozen takeover ÷ TTL", "x");
	x = bench_extra(f, "stale_writes", "stale writes accepted", "");
	x->target = TARGET_LE;
	x->target_value = 0;
	bench_extra(f, "stale_journal_records", "stale: journal records", "");
	bench_extra(f, "stale_db_commits", "stale: database commits", "");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stats {
	double median, min, max;
};

static struct stats
stats_of(const struct bench_series *s)
{
	double v[BENCH_MAX_RUNS];
	struct stats st = { NAN, NAN, NAN };

	if (!s->n)
		return st;
	memcpy(v, s->v, s->n * sizeof(double));
	qsort(v, s->n, sizeof(double), cmp_double);
	st.min = v[0];
	st.max = v[s->n - 1];
	st.median = s->n % 2 ? v[s->n / 2]
			     : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	return st;
}

/* -1 no target (or no data), 0 MISS, 1 PASS. */
static int
verdict(const struct bench_series *s)
{
	struct stats st = stats_of(s);

	if (s->target == TARGET_NONE || !s->n)
		return -1;
	if (s->target == TARGET_LE)
		return st.median <= s->target_value;
	return st.median >= s->target_value;
}

/* The figure's verdict: MISS if any target misses, PASS if all pass. */
static int
figure_verdict(const struct bench_figure *f)
{
	const struct bench_series *all[2 + BENCH_MAX_EXTRAS];
	size_t n = 0;
	int v = -1;

	if (f->error[0])
		return 0;
	all[n++] = &f->value;
	all[n++] = &f->ratio;
	for (size_t i = 0; i < f->n_extra; i++)
		all[n++] = &f->extra[i];
	for (size_t i = 0; i < n; i++) {
		int x = all[i]->key ? verdict(all[i]) : -1;

		if (x == 0)
			return 0;
		if (x == 1)
			v = 1;
	}
	return v;
}

/* ---- output ------------------------------------------------------------------ */

/* Three significant digits or so, without exponent for the usual sizes. */
static void
fmt_num(char *buf, size_t cap, double v)
{
	double a = fabs(v);

	if (isnan(v))
		snprintf(buf, cap, "-");
	else if (a >= 1000)
		snprintf(buf, cap, "%.0f", v);
	else if (a >= 100)
		snprintf(buf, cap, "%.1f", v);
	else if (a >= 10)
		snprintf(buf, cap, "%.2f", v);
	else
		snprintf(buf, cap, "%.3f", v);
}

static void
print_series(const struct bench_series *s, bool first, int id,
	     const char *title)
{
	struct stats st = stats_of(s);
	char med[32], lo[32], hi[32], range[80], tgt[32] = "";
	int v = verdict(s);

	if (s->skipped) {
		if (first)
			printf("%d  %-38s\n", id, title);
		printf("     %-26s skipped: %s\n", s->label, s->skipped);
		return;
	}
	fmt_num(med, sizeof(med), st.median);
	fmt_num(lo, sizeof(lo), st.min);
	fmt_num(hi, sizeof(hi), st.max);
	snprintf(range, sizeof(range), "(%s – %s)", lo, hi);
	if (s->target != TARGET_NONE)
		snprintf(tgt, sizeof(tgt), "%s %g", s->target == TARGET_LE
							   ? "≤"
							   : "≥",
			 s->target_value);
	if (first)
		printf("%d  %-38s\n", id, title);
	/* Byte-counted padding would misalign the UTF-8 labels; they are
	 * short and the table is for people, so a fixed indent will do. */
	printf("     %-26s %10s %-6s %-24s %-8s %s\n", s->label, med, s->unit,
	       range, tgt, v < 0 ? "" : v ? "PASS" : "MISS");
}

/*
 * How this program was built, as far as the figures care: the library is
 * built with the same project arguments, so what holds here holds there.
 * The default `meson setup build` is debugoptimized, which keeps
 * assertions; fault points cost a branch each.  @return a note for the
 * top of the output, or NULL for a release build.
 */
static const char *
build_note(void)
{
#if !defined(__OPTIMIZE__)
	return "built WITHOUT optimisation: the figures are not the "
	       "library's; measure with a release build (meson setup B "
	       "-Dbuildtype=release)";
#elif defined(MMIG_FAULT_INJECTION)
	return "built with fault injection (-Dfault_injection=true): every "
	       "fault point costs a branch; measure with a release build "
	       "(meson setup B -Dbuildtype=release)";
#elif !defined(NDEBUG)
	return "built with assertions (the default debugoptimized build): "
	       "process mode (3) pays for them; measure with a release build "
	       "(meson setup B -Dbuildtype=release)";
#else
	return NULL;
#endif
}

static void
print_table(const struct bench *b)
{
	size_t met = 0, missed = 0;

	if (build_note())
		printf("NOTE: %s\n", build_note());
	printf("mmig bench: %zu runs each; median, (min – max) over runs; "
	       "ratios are per run, to the reference measured in the same "
	       "run\n",
	       b->sz.runs);
	printf("peers: SQLite WAL synchronous=FULL in (1) and (2); ");
	if (bench_pg_describe(b))
		printf("%s in (1) and (2)\n", bench_pg_describe(b));
	else
		printf("PostgreSQL: skipped: %s\n", b->pg_skip);
	if (b->sz.quick)
		printf("QUICK: reduced sizes, NOT the targets' sizes; the "
		       "verdicts below do not count\n");
	printf("sizes: %zu-op migrations; group %zu (wide: %zu) × %zu ops; "
	       "history %zu "
	       "migrations (%llu records, built in %.1f s), %zu in flight; "
	       "import %zu machines, %zu applications, %zu units (%.1f MB "
	       "JSON); YAML: Charmed Kubernetes bundle × %zu, %zu machines, "
	       "%zu units (%.1f MB)\n\n",
	       b->sz.ops, b->sz.group_threads, b->sz.group_threads_wide,
	       b->sz.group_ops, b->sz.history,
	       (unsigned long long)b->history_records, b->history_build_s,
	       b->sz.inflight, b->sz.machines, b->sz.apps,
	       b->sz.apps * b->sz.units_per_app, b->model_bytes / 1e6,
	       b->sz.bundle_scale, b->yaml_machines, b->yaml_units,
	       b->yaml_bytes / 1e6);
	for (int id = 1; id <= BENCH_FIGURES; id++) {
		const struct bench_figure *f = &b->fig[id - 1];
		int v = figure_verdict(f);

		if (id == 9 && b->etcd_skipped[0]) {
			printf("%d  %-38s\n     %s\n", id, f->title,
			       b->etcd_skipped);
			continue;
		}
		print_series(&f->value, true, id, f->title);
		if (f->ratio.key)
			print_series(&f->ratio, false, id, f->title);
		for (size_t i = 0; i < f->n_extra; i++)
			print_series(&f->extra[i], false, id, f->title);
		if (f->error[0])
			printf("     ERROR: %s\n", f->error);
		if (v == 1)
			met++;
		else if (v == 0)
			missed++;
	}
	printf("\ntargets: %zu met, %zu missed%s\n", met, missed,
	       b->sz.quick ? " (quick sizes: not the targets' sizes)" : "");
}

static void
json_num(double v)
{
	if (isnan(v) || isinf(v))
		printf("null");
	else
		printf("%.6g", v);
}

static void
json_series(const struct bench_series *s)
{
	struct stats st = stats_of(s);
	int v = verdict(s);

	/* Not measured (a peer that is not there): why is in "peers". */
	if (s->skipped) {
		printf("null");
		return;
	}
	printf("{\"unit\": \"%s\", \"median\": ", s->unit);
	json_num(st.median);
	printf(", \"min\": ");
	json_num(st.min);
	printf(", \"max\": ");
	json_num(st.max);
	printf(", \"runs\": [");
	for (size_t i = 0; i < s->n; i++) {
		printf(i ? ", " : "");
		json_num(s->v[i]);
	}
	printf("]");
	if (s->target != TARGET_NONE) {
		printf(", \"target\": {\"op\": \"%s\", \"value\": ",
		       s->target == TARGET_LE ? "<=" : ">=");
		json_num(s->target_value);
		printf("}, \"pass\": %s", v < 0 ? "null" : v ? "true" : "false");
	}
	printf("}");
}

/* A JSON string: the messages are ours, but a path may hold anything. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_json(const struct bench *b, const struct utsname *u)
{
	printf("{\n  \"quick\": %s,\n  \"runs\": %zu,\n",
	       b->sz.quick ? "true" : "false", b->sz.runs);
	printf("  \"build_note\": ");
	if (build_note())
		json_str(build_note());
	else
		printf("null");
	printf(",\n");
	/* The peers of (1) and (2): what was measured, or why not. */
	printf("  \"peers\": {\"sqlite\": {\"measured\": true, "
	       "\"what\": \"SQLite WAL synchronous=FULL\"}, "
	       "\"postgresql\": {\"measured\": %s, ",
	       bench_pg_describe(b) ? "true" : "false");
	if (bench_pg_describe(b)) {
		printf("\"what\": ");
		json_str(bench_pg_describe(b));
	} else {
		printf("\"skipped\": ");
		json_str(b->pg_skip);
	}
	printf("}},\n");
	printf("  \"machine\": {\"cores\": %ld, \"kernel\": ",
	       sysconf(_SC_NPROCESSORS_ONLN));
	json_str(u->release);
	printf("},\n  \"sizes\": {\"ops\": %zu, \"group_threads\": %zu, "
	       "\"group_threads_wide\": %zu, \"group_ops\": %zu, \"history\": %zu, \"history_records\": "
	       "%llu, \"history_build_s\": %.3f, \"inflight\": %zu, "
	       "\"machines\": %zu, \"applications\": %zu, \"units\": %zu, "
	       "\"yaml_bundle_scale\": %zu, \"yaml_machines\": %zu, "
	       "\"yaml_units\": %zu, \"yaml_bytes\": %.0f},\n",
	       b->sz.ops, b->sz.group_threads, b->sz.group_threads_wide,
	       b->sz.group_ops, b->sz.history,
	       (unsigned long long)b->history_records, b->history_build_s,
	       b->sz.inflight, b->sz.machines, b->sz.apps,
	       b->sz.apps * b->sz.units_per_app, b->sz.bundle_scale,
	       b->yaml_machines, b->yaml_units, b->yaml_bytes);
	printf("  \"figures\": [\n");
	for (int id = 1; id <= BENCH_FIGURES; id++) {
		const struct bench_figure *f = &b->fig[id - 1];
		int v = figure_verdict(f);

		printf("    {\"id\": %d, \"key\": \"%s\", \"title\": ", id,
		       f->key);
		json_str(f->title);
		if (id == 9 && b->etcd_skipped[0]) {
			/* No series: why, instead. */
			printf(",\n     \"skipped\": ");
			json_str(b->etcd_skipped);
			printf(", \"error\": null, \"pass\": null}%s\n",
			       id < BENCH_FIGURES ? "," : "");
			continue;
		}
		printf(",\n     \"value\": ");
		json_series(&f->value);
		if (f->ratio.key) {
			printf(",\n     \"ratio\": ");
			json_series(&f->ratio);
		}
		for (size_t i = 0; i < f->n_extra; i++) {
			printf(",\n     \"%s\": ", f->extra[i].key);
			json_series(&f->extra[i]);
		}
		printf(",\n     \"error\": ");
		if (f->error[0])
			json_str(f->error);
		else
			printf("null");
		printf(", \"pass\": %s}%s\n",
		       v < 0 ? "null" : v ? "true" : "false",
		       id < BENCH_FIGURES ? "," : "");
	}
	printf("  ]\n}\n");
}

/* ---- interruption ------------------------------------------------------------- */

/*
 * SIGINT, SIGTERM or SIGHUP must not leave the scratch directory behind.
 * The benchmark's work (threads, forked and exec'd children) cannot stop
 * at a safe point on a signal, so it runs in a child process of its own,
 * leader of its own process group; this process only waits.  A signal it
 * gets is passed on to that whole group; once the child is gone, the
 * leftovers of the group are killed, the directory removed, and this
 * process dies of the same signal (status 128 + N to a shell: 130 for
 * SIGINT, 143 for SIGTERM).
 */
static volatile sig_atomic_t bench_sig;
static volatile pid_t bench_pgid;

static void
bench_on_signal(int sig)
{
	pid_t g = bench_pgid;

	if (!bench_sig)
		bench_sig = sig;
	if (g > 0)
		kill(-g, sig);
}

static const int bench_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void
bench_signals_set(void (*handler)(int), struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(bench_signals[i], &sa, old ? &old[i] : NULL);
}

static void
bench_signals_restore(const struct sigaction *old)
{
	for (size_t i = 0; i < 3; i++)
		sigaction(bench_signals[i], &old[i], NULL);
}

/*
 * Run bench_run(@p b) in a supervised child (above).  @return its exit
 * status; on a signal, does not return once the directory is removed.
 */
static int bench_run(struct bench *b);

static int
bench_supervise(struct bench *b)
{
	struct sigaction old[3];
	int status = 0, ret;
	siginfo_t si;
	pid_t pid;

	bench_sig = 0;
	bench_signals_set(bench_on_signal, old);
	fflush(NULL);
	pid = bench_sig ? -1 : fork();
	if (pid == 0) {
		setpgid(0, 0);
		bench_signals_restore(old);
		_exit(bench_run(b));
	}
	if (pid > 0) {
		/* Both sides set the group, whichever runs first. */
		setpgid(pid, pid);
		bench_pgid = pid;
		if (bench_sig)
			kill(-pid, bench_sig);
		/* Waited for but not reaped: while the child is a zombie its
		 * pid, the group's id, cannot be reused. */
		while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 &&
		       errno == EINTR)
			;
		bench_pgid = 0;
		/* What the child left running (a measurement's own child). */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else if (!bench_sig) {
		fprintf(stderr, "mmig: bench: fork: %s\n", strerror(errno));
	}
	ret = pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (pid > 0 && WIFSIGNALED(status) && !bench_sig)
		fprintf(stderr, "mmig: bench: killed by signal %d\n",
			WTERMSIG(status));
	if (bench_sig) {
		int sig = bench_sig, rc;

		/* A child killed just now may still be closing its files:
		 * a directory still filling up is tried again. */
		for (int i = 0; (rc = bench_rmtree(b->dir)) != 0 && i < 50; i++)
			usleep(20000);
		if (rc == 0)
			fprintf(stderr, "mmig: bench: interrupted by signal %d; "
					"removed %s\n",
				sig, b->dir);
		else
			fprintf(stderr, "mmig: bench: interrupted by signal %d; "
					"could not remove %s: %s\n",
				sig, b->dir, strerror(-rc));
		bench_signals_restore(old);
		signal(sig, SIG_DFL);
		raise(sig);
		return 128 + sig;
	}
	bench_signals_restore(old);
	return ret;
}

/* ---- options ------------------------------------------------------------------ */

void
mmig_bench_usage(FILE *out)
{
	fprintf(out,
		"usage: mmig bench [--json] [--runs N] [--quick] [--dir DIR]\n"
		"                  [--only N] [--pg CONNINFO] [--etcd HOST:PORT[,...]]\n"
		"\n"
		"Measure the journal against the disk's own sync limit, "
		"recovery time\n"
		"against history, and the import against raw SQLite (see "
		"bench/README.md).\n"
		"Every figure is the median of N runs with min and max, and "
		"each timing is\n"
		"also a ratio to its reference measured in the same run, "
		"with its target\n"
		"and PASS or MISS.\n"
		"\n"
		"Options:\n"
		"  --json      print the figures as JSON instead of a table\n"
		"  --runs N    runs of each figure (default 5, at most %d)\n"
		"  --quick     reduced sizes (a smoke test of about 10 s); "
		"the figures\n"
		"              are then NOT the targets' sizes\n"
		"  --dir DIR   where the scratch files go (default: the "
		"current\n"
		"              directory); the filesystem being measured\n"
		"  --only N    measure figure N only (and the references it "
		"needs);\n"
		"              for profiling one figure\n"
		"  --pg CONNINFO  the PostgreSQL peer of (1) and (2) on this "
		"server (a\n"
		"              libpq connection string); default: a private "
		"cluster in\n"
		"              the scratch directory, if PostgreSQL is "
		"installed\n"
		"  --etcd HOST:PORT[,HOST:PORT...]\n"
		"              figure 9 on this etcd cluster (under a prefix "
		"of its\n"
		"              own); default: a 3-member cluster on loopback "
		"started\n"
		"              and stopped by the bench when etcd is on PATH, "
		"else the\n"
		"              figure is skipped\n"
		"  -h, --help  show this help\n"
		"\n"
		"Exit status: 0 measured (whatever the verdicts), 1 a "
		"measurement failed,\n"
		"2 usage error.\n",
		BENCH_MAX_RUNS);
}

static void
sizes_init(struct bench_sizes *s, bool quick, size_t runs)
{
	*s = (struct bench_sizes){
		.quick = quick,
		.runs = runs,
		.sync_writes = quick ? 50 : 200,
		.ops = quick ? 200 : 1000,
		.process_migs = quick ? 2 : 10,
		.group_threads = 16,
		.group_threads_wide = quick ? 32 : 64,
		.group_ops = quick ? 100 : 1000,
		.history = quick ? 2000 : 1000000,
		.history_ops = 5,
		.history_threads = 8,
		.inflight = 1,
		.machines = quick ? 500 : 10000,
		.apps = quick ? 20 : 200,
		.units_per_app = quick ? 25 : 250,
		.relations = quick ? 20 : 100,
		/* 20 units and 10 machines per copy of the bundle: 50,000
		 * units and 25,000 machines (128 MB of YAML). */
		.bundle_scale = quick ? 25 : 2500,
		.etcd_ops = quick ? 20 : 200,
		/* etcd's shortest lease is 2 s (1.5 election timeouts,
		 * rounded up). */
		.etcd_ttl_s = quick ? 2 : 3,
		/* Each run of (9) waits out two leases: one with --quick. */
		.etcd_runs = quick ? 1 : runs,
	};
}

enum { OPT_JSON = 256, OPT_RUNS, OPT_QUICK, OPT_DIR, OPT_ONLY, OPT_PG,
       OPT_ETCD };

int
mmig_bench_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "pg", required_argument, NULL, OPT_PG },
		{ "etcd", required_argument, NULL, OPT_ETCD },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bench *b = calloc(1, sizeof(*b));
	const char *parent = ".";
	bool quick = false;
	unsigned long runs = 5;
	char *end, *tmpl = NULL;
	int opt, ret = 1;

	if (!b)
		return 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			b->json = true;
			break;
		case OPT_RUNS:
			errno = 0;
			runs = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || runs < 1 ||
			    runs > BENCH_MAX_RUNS) {
				fprintf(stderr, "mmig: usage: --runs %s: not "
						"a count from 1 to %d\n",
					optarg, BENCH_MAX_RUNS);
				ret = 2;
				goto out;
			}
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_DIR:
			parent = optarg;
			break;
		case OPT_ONLY:
			b->only = atoi(optarg);
			if (b->only < 1 || b->only > BENCH_FIGURES) {
				fprintf(stderr, "mmig: usage: --only %s: not "
						"a figure from 1 to %d\n",
					optarg, BENCH_FIGURES);
				ret = 2;
				goto out;
			}
			break;
		case OPT_PG:
			b->pg_conninfo = optarg;
			break;
		case OPT_ETCD:
			if (!*optarg) {
				fprintf(stderr, "mmig: usage: --etcd: no "
						"endpoints (HOST:PORT[,...])\n");
				ret = 2;
				goto out;
			}
			b->etcd_endpoints = optarg;
			break;
		case 'h':
			mmig_bench_usage(stdout);
			ret = 0;
			goto out;
		default:
			fprintf(stderr, "mmig: usage: see 'mmig bench "
					"--help'\n");
			ret = 2;
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mmig: usage: bench: unexpected argument %s\n",
			argv[optind]);
		ret = 2;
		goto out;
	}
	sizes_init(&b->sz, quick, runs);
	figures_init(b);
	tmpl = bench_path(parent, "mmig-bench.XXXXXX");
	if (!tmpl || !mkdtemp(tmpl)) {
		fprintf(stderr, "mmig: bench: scratch directory in %s: %s\n",
			parent, strerror(errno));
		goto out;
	}
	b->dir = tmpl;
	ret = bench_supervise(b);
out:
	if (b->dir)
		bench_rmtree(b->dir);
	free(tmpl);
	free(b);
	return ret;
}

/* The benchmark proper, in the supervised child.  @return its exit status. */
static int
bench_run(struct bench *b)
{
	struct utsname u;
	bool failed = false;
	int ret = 1;

	uname(&u);
	if (bench_journal_prepare(b) != 0 || bench_import_prepare(b) != 0 ||
	    (bench_wanted(b, 9) && bench_etcd_prepare(b) != 0)) {
		fprintf(stderr, "mmig: bench: prepare in %s failed\n", b->dir);
		goto out;
	}
	if (!b->json)
		fprintf(stderr, "mmig: bench: building the history (%zu "
				"migrations)...\n",
			b->sz.history);
	if (bench_wanted(b, 5) && bench_history_build(b) != 0)
		bench_fail(bench_fig(b, 5), "building the history failed");
	for (size_t r = 0; r < b->sz.runs; r++) {
		if (!b->json)
			fprintf(stderr, "mmig: bench: run %zu of %zu\n", r + 1,
				b->sz.runs);
		bench_journal_run(b, r);
		if (bench_wanted(b, 7) || bench_wanted(b, 8))
			bench_import_run(b, r);
		if (bench_wanted(b, 9))
			bench_etcd_run(b, r);
	}
	if (b->json)
		print_json(b, &u);
	else
		print_table(b);
	for (int id = 1; id <= BENCH_FIGURES; id++)
		failed = failed || b->fig[id - 1].error[0];
	ret = failed ? 1 : 0;
out:
	if (b->jstate)
		bench_journal_finish(b);
	bench_import_finish(b);
	bench_etcd_finish(b);
	fflush(NULL);
	return ret;
}
