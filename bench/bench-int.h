/*
 * bench/bench-int.h - what the benchmark's files share: the figures being
 * filled in, the sizes of a run, and small helpers (clock, child processes,
 * scratch directories).
 *
 * A figure holds one value per run, and for timings one ratio per run to a
 * reference measured in that same run (never to a number from elsewhere):
 * absolute numbers drift with the machine, ratios measured side by side
 * hold.  The table and the JSON print the median with min and max.
 */
#ifndef MMIG_BENCH_INT_H
#define MMIG_BENCH_INT_H

#include <mmig/mmig.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_RUNS 50
#define BENCH_MAX_EXTRAS 14

enum bench_target {
	TARGET_NONE,
	TARGET_LE, /* the median must be at most the target */
	TARGET_GE, /* the median must be at least the target */
};

/* A series of per-run values with an optional target of its own. */
struct bench_series {
	const char *key;   /* JSON key */
	const char *label; /* table label */
	const char *unit;
	double v[BENCH_MAX_RUNS];
	size_t n;
	enum bench_target target;
	double target_value;
	/* Set when the series is not measured in this invocation (a peer
	 * that is not there): why, printed instead of numbers. */
	const char *skipped;
};

struct bench_figure {
	int id;
	const char *key;
	const char *title;
	/* The measured value (a timing or a rate), per run. */
	struct bench_series value;
	/* Its ratio to the reference of the same run; key NULL when none. */
	struct bench_series ratio;
	/* What else the figure reports (RSS, syncs per op, ...). */
	struct bench_series extra[BENCH_MAX_EXTRAS];
	size_t n_extra;
	/* Set when a run of it failed: the message, and no verdict. */
	char error[256];
};

/* The sizes of one invocation: the targets' sizes, or --quick's. */
struct bench_sizes {
	bool quick;
	size_t runs;
	size_t sync_writes;    /* write+fdatasync per run of (1) */
	size_t ops;            /* ops of the migrations of (2), (3), (6) */
	size_t process_migs;   /* migrations per run of (3) */
	size_t group_threads;  /* (4) */
	size_t group_threads_wide; /* (4), also reported: 64 */
	size_t group_ops;      /* ops per migration of (4) */
	size_t history;        /* finished migrations of (5) */
	size_t history_ops;    /* ops of each of them */
	size_t history_threads;
	size_t inflight;       /* in-flight migrations of (5) */
	size_t machines, apps, units_per_app, relations; /* (7), (8) */
	size_t bundle_scale;   /* (7)'s YAML: the bundle's --scale */
	size_t etcd_ops;       /* (9): ops of the latency migrations */
	unsigned etcd_ttl_s;   /* (9): the lease TTL of every node */
	size_t etcd_runs;      /* (9): measured in the first N runs */
};

/* The figures: 1-8 of issue 7, 9 the journal on etcd (issue 15). */
#define BENCH_FIGURES 9

struct bench {
	struct bench_sizes sz;
	char *dir; /* the scratch directory, removed at the end */
	void *jstate; /* bench-journal.c's */
	void *istate; /* bench-import.c's */
	void *estate; /* bench-etcd.c's */
	bool json;
	struct bench_figure fig[BENCH_FIGURES];
	double history_build_s;
	uint64_t history_records;
	double model_bytes;
	/* (7)'s juju/description document: its size and what it holds. */
	double yaml_bytes;
	size_t yaml_machines, yaml_units;
	int only; /* --only N: that figure (and its references); 0: all */
	/* The PostgreSQL peer (bench-pg.c): --pg's conninfo or NULL, its
	 * state, and why it is skipped ("" when it is measured). */
	const char *pg_conninfo;
	void *pgstate;
	char pg_skip[320];
	/* (9): --etcd ENDPOINTS, or NULL (a cluster of our own, if etcd is
	 * on PATH); why the figure was skipped, or "". */
	const char *etcd_endpoints;
	char etcd_skipped[160];
};

/* Is figure @p id to be measured in this invocation? */
bool bench_wanted(const struct bench *b, int id);

/* Figure @p id (1-BENCH_FIGURES). */
struct bench_figure *bench_fig(struct bench *b, int id);
/* Append one run's value to a series. */
void bench_put(struct bench_series *s, double v);
/* Add an extra series to a figure; @return it. */
struct bench_series *bench_extra(struct bench_figure *f, const char *key,
				 const char *label, const char *unit);
/* Mark a figure failed (the first message stays). */
void bench_fail(struct bench_figure *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

uint64_t bench_now_ns(void);
/* "<dir>/<name>", malloc'ed; NULL on failure. */
char *bench_path(const char *dir, const char *name);
/* rm -rf @p path (files and directories below it); 0 or -errno. */
int bench_rmtree(const char *path);
/* mkdir -p. */
int bench_mkdirs(const char *path);

/*
 * Run @p fn in a child process.  The child fills @p out[0..n-1] (at most
 * 8 values) and they come back through a pipe; @p maxrss_kib gets the
 * child's peak resident set (wait4), which keeps one measurement's memory
 * out of the next.  @return 0, or -1 when the child failed (it printed why).
 */
int bench_child(int (*fn)(void *arg, double *out), void *arg, double *out,
		size_t n, long *maxrss_kib);

/*
 * Run `mmig bench-child @p args...` -- this program, started afresh by
 * exec -- and read the @p n values (at most 8) it writes to descriptor 3.
 * A forked child counts its parent's pages in its resident set; a program
 * started afresh has only its own, as a process recovering at start-up
 * does.  @return 0, or -1 when the child failed (it printed why).
 */
int bench_exec(const char *const *args, double *out, size_t n);

/* In `mmig bench-child`: hand @p n values back to bench_exec(). */
int bench_exec_reply(const double *out, size_t n);

/* Peak resident set of this process so far (VmHWM), in KiB; -1 if
 * unknown. */
long bench_peak_rss_kib(void);

/*
 * In a child of bench_child(): start its peak resident set over from the
 * current one (Linux: /proc/self/clear_refs), so that the peak reported
 * is what came after -- not, say, parsing the input.  @return 0 or -1.
 */
int bench_peak_rss_restart(void);

/* A log sink that drops everything: logging is not what is measured. */
void bench_log_quiet(void *arg, enum mmig_log_level level, const char *msg);

/* The floors (bench-floor.c), microseconds per operation or a negative
 * value on failure: @p n pwrites of 200 B, each followed by fdatasync,
 * into file @p path preallocated and synced first (the disk's); @p n LMDB
 * commits of one 200 B put each, MDB_NOMETASYNC, in a fresh environment
 * in directory @p dir (LMDB's).  Both remove what they made. */
double bench_disk_floor_us(const char *path, size_t n);
double bench_lmdb_floor_us(const char *dir, size_t n);
/* A peer: SQLite, WAL, synchronous=FULL, @p n autocommitted INSERTs of
 * 200 B into a fresh database file @p path, which is removed after. */
double bench_sqlite_peer_us(const char *path, size_t n);

/*
 * The PostgreSQL peer (bench-pg.c): one autocommitted 200 B INSERT per
 * step, synchronous_commit=on.  bench_pg_start() reaches the server of
 * b->pg_conninfo, or starts a private cluster in b->dir (same disk as the
 * journals; as user postgres or nobody when root) and makes the peer's
 * table; @return 0, or -1 with b->pg_skip saying why it is skipped.
 * bench_pg_peer_us(): microseconds per step over @p n steps (after 10 not
 * timed), or a negative value.  bench_pg_describe(): what was measured,
 * for the peers line, or NULL when skipped.  bench_pg_stop(): drop the
 * table, disconnect, stop the private server and wait for it; safe to call
 * whatever bench_pg_start() returned, and more than once.
 */
int bench_pg_start(struct bench *b);
double bench_pg_peer_us(struct bench *b, size_t n);
const char *bench_pg_describe(const struct bench *b);
void bench_pg_stop(struct bench *b);

/* The figures (bench-journal.c, bench-import.c).  Each prepares once per
 * invocation and then measures run @p r. */
int bench_journal_prepare(struct bench *b);
/* Free what bench_journal_prepare() kept. */
void bench_journal_finish(struct bench *b);
/* Build figure 5's history once per invocation (in a child). */
int bench_history_build(struct bench *b);
void bench_journal_run(struct bench *b, size_t r);
/* `mmig bench-child recover JOURNAL CONTROLLER_DB MODEL_DIR EXPECT`. */
int bench_recover_child_main(int argc, char **argv);
int bench_import_prepare(struct bench *b);
void bench_import_run(struct bench *b, size_t r);
/* Free what bench_import_prepare() kept (its files go with b->dir). */
void bench_import_finish(struct bench *b);
/* Figure 9 (bench-etcd.c): find or start the cluster (or note in
 * b->etcd_skipped why not), measure run @p r, stop the cluster started
 * and free the state. */
int bench_etcd_prepare(struct bench *b);
void bench_etcd_run(struct bench *b, size_t r);
void bench_etcd_finish(struct bench *b);

#endif
