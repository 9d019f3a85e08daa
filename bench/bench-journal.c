/*
 * bench/bench-journal.c - figures 1 to 6: the disk's sync limit, the
 * journal's cost per operation (durable, process mode, 16 migrations at
 * once), recovery time against the journal's history, and the time to
 * settle a crashed migration.
 *
 * Every migration here runs no-op operations, so what is timed is the
 * coordinator and the journal alone.  Each figure's reference is measured
 * in the same run (the sync limit just before, an empty history just
 * before or after), so a ratio compares two things that saw the same disk
 * and the same neighbours on this shared machine.
 *
 * Processes.  A journal is never carried across fork() (mmig/common.h):
 * the parent opens and closes its journals around each measurement, and
 * every crash, every history build and every measurement of peak memory
 * runs in a child of its own.  Crashes are real: the child _exit()s inside
 * an operation, leaving the journal exactly as a killed process would.
 */
#include "bench-int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- the no-op operation --------------------------------------------------- */

/*
 * What an instance does besides nothing.  Shared by the ops of one
 * migration: @c calls counts executes across them, so "the n-th execute" is
 * op n-1.  The registry builds instances with self NULL: plain no-ops, which
 * is all recovery needs (it only rolls back).
 */
struct noop_self {
	size_t calls;
	size_t crash_at;           /* _exit(0) in this execute; 0: never */
	size_t block_at;           /* block forever in this execute */
	atomic_size_t *blocked;    /* counts the blocked ones */
};

static struct mmig_error *
noop_setup(void *self, struct mmig_scope *scope)
{
	(void)self;
	(void)scope;
	return NULL;
}

static struct mmig_error *
noop_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	struct noop_self *s = self;

	(void)ctx;
	(void)model;
	if (!s)
		return NULL;
	s->calls++;
	if (s->crash_at && s->calls == s->crash_at)
		_exit(0); /* a crash inside the op: no cleanup, no flush */
	if (s->block_at && s->calls == s->block_at) {
		atomic_fetch_add(s->blocked, 1);
		for (;;)
			pause(); /* until the process _exit()s around us */
	}
	return NULL;
}

static struct mmig_error *
noop_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	(void)self;
	(void)ctx;
	(void)model;
	return NULL;
}

static const struct mmig_op_vtable noop_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "bench-noop",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = noop_setup,
	.execute = noop_execute,
	.rollback = noop_rollback,
};

/* ---- helpers ---------------------------------------------------------------- */

/* Where the scratch databases of one figure live. */
struct scratch {
	char *controller_db;
	char *model_dir;
};

static int
scratch_init(struct scratch *s, const char *dir)
{
	s->controller_db = bench_path(dir, "controller.db");
	s->model_dir = bench_path(dir, "models");
	if (!s->controller_db || !s->model_dir)
		return -1;
	return bench_mkdirs(s->model_dir);
}

/* recovery's scope_for_model: every model's databases in the scratch dir. */
static int
scope_for(void *arg, const char *uuid, enum mmig_durability d,
	  struct mmig_scope **out)
{
	const struct scratch *s = arg;

	return mmig_scope_for_model(out, s->controller_db, s->model_dir, uuid,
				    d);
}

static void
make_uuid(char out[37], unsigned tag, uint64_t n)
{
	snprintf(out, 37, "%08x-0000-4000-8000-%012llx", tag,
		 (unsigned long long)(n & 0xffffffffffffull));
}

/* A coordinator of @p n no-ops sharing @p self, logging nowhere. */
static struct mmig_coordinator *
noop_coordinator(size_t n, struct noop_self *self)
{
	struct mmig_coordinator *c = NULL;

	if (mmig_coordinator_new(&c, bench_log_quiet, NULL) != MMIG_OK)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (mmig_coordinator_add(c, &noop_vt, self) != MMIG_OK) {
			mmig_coordinator_free(c);
			return NULL;
		}
	}
	return c;
}

/*
 * One migration of @p n no-ops, with journal @p j (NULL: none).
 * @return the perform's code.
 */
static int
noop_migration(struct mmig_journal *j, enum mmig_durability d, size_t n,
	       const struct scratch *s, const char *uuid,
	       struct noop_self *self)
{
	struct mmig_model model = { .uuid = uuid };
	struct mmig_coordinator *c = noop_coordinator(n, self);
	struct mmig_scope *scope = NULL;
	int rc;

	if (!c)
		return MMIG_ENOMEM;
	rc = mmig_scope_for_model(&scope, s->controller_db, s->model_dir,
				  uuid, d);
	if (rc == MMIG_OK) {
		if (j)
			mmig_coordinator_set_journal(c, j, d);
		rc = mmig_coordinator_perform(c, NULL, scope, &model);
		if (rc != MMIG_OK)
			fprintf(stderr, "mmig: bench: perform: %s\n",
				mmig_coordinator_errmsg(c));
	}
	mmig_scope_free(scope);
	mmig_coordinator_free(c);
	return rc;
}

static struct mmig_journal *
journal_open(const char *dir, size_t map)
{
	struct mmig_journal_options o = MMIG_JOURNAL_OPTIONS_INIT;
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;

	o.initial_map_size = map;
	if (mmig_journal_open(&j, dir, &o, &err) != MMIG_OK) {
		fprintf(stderr, "mmig: bench: journal %s: %s\n", dir,
			mmig_error_message(err));
		mmig_error_free(err);
	}
	return j;
}

static double
us_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e3;
}

/* What this file keeps for one invocation (b->jstate): its paths, made
 * once, and a counter that makes every model uuid unique. */
struct jstate {
	char *f1, *f2, *f3, *f4, *f5, *f6;
	char *disk_floor, *lmdb_floor; /* (1)'s floors */
	char *sqlite_peer;             /* (1)'s peer */
	/* The journals of figures 2-4, each inside its figure's scratch
	 * directory (a journal's own directory holds nothing else). */
	char *j2, *j3, *j4;
	/* Figure 5's journals: the full history, the same ÷ 10 and ÷ 100
	 * (how recovery grows with it), and an empty one. */
	char *hist, *hist10, *hist100, *empty;
	struct scratch s2, s3, s4, s5, s6;
	uint64_t seq;
};

void
bench_journal_finish(struct bench *b)
{
	struct jstate *P = b->jstate;
	struct scratch *sc[] = { &P->s2, &P->s3, &P->s4, &P->s5, &P->s6 };
	char *paths[] = { P->f1, P->f2, P->f3, P->f4, P->f5, P->f6,
			  P->disk_floor, P->lmdb_floor, P->sqlite_peer,
			  P->j2, P->j3, P->j4, P->hist, P->hist10,
			  P->hist100, P->empty };

	bench_pg_stop(b);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		free(paths[i]);
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		free(sc[i]->controller_db);
		free(sc[i]->model_dir);
	}
	free(P);
	b->jstate = NULL;
}

int
bench_journal_prepare(struct bench *b)
{
	struct jstate *P = calloc(1, sizeof(*P));

	if (!P)
		return -1;
	/* Freed by bench_journal_finish(). */
	b->jstate = P;
	P->f1 = bench_path(b->dir, "sync-limit.dat");
	P->f2 = bench_path(b->dir, "j-durable");
	P->f3 = bench_path(b->dir, "j-process");
	P->f4 = bench_path(b->dir, "j-group");
	P->f5 = bench_path(b->dir, "recovery");
	P->f6 = bench_path(b->dir, "j-settle");
	if (!P->f1 || !P->f2 || !P->f3 || !P->f4 || !P->f5 || !P->f6)
		return -1;
	P->disk_floor = bench_path(b->dir, "disk-floor.dat");
	P->lmdb_floor = bench_path(b->dir, "lmdb-floor");
	P->sqlite_peer = bench_path(b->dir, "sqlite-peer.db");
	if (!P->disk_floor || !P->lmdb_floor || !P->sqlite_peer)
		return -1;
	P->j2 = bench_path(P->f2, "journal");
	P->j3 = bench_path(P->f3, "journal");
	P->j4 = bench_path(P->f4, "journal");
	if (!P->j2 || !P->j3 || !P->j4)
		return -1;
	P->hist = bench_path(P->f5, "j-history");
	P->hist10 = bench_path(P->f5, "j-history-10");
	P->hist100 = bench_path(P->f5, "j-history-100");
	P->empty = bench_path(P->f5, "j-empty");
	if (!P->hist || !P->hist10 || !P->hist100 || !P->empty)
		return -1;
	if (scratch_init(&P->s2, P->f2) || scratch_init(&P->s3, P->f3) ||
	    scratch_init(&P->s4, P->f4) || scratch_init(&P->s5, P->f5) ||
	    scratch_init(&P->s6, P->f6))
		return -1;
	/* The PostgreSQL peer of (1) and (2): its server is started (or
	 * reached) once per invocation; when it cannot be, the table says
	 * why instead of a number. */
	if (!bench_wanted(b, 1) && !bench_wanted(b, 2))
		snprintf(b->pg_skip, sizeof(b->pg_skip),
			 "not measured with --only %d", b->only);
	else if (!b->json)
		fprintf(stderr, "mmig: bench: starting the PostgreSQL "
				"peer...\n");
	if (b->pg_skip[0] || bench_pg_start(b) != 0) {
		bench_fig(b, 1)->extra[3].skipped = b->pg_skip;
		bench_fig(b, 2)->extra[3].skipped = b->pg_skip;
	}
	return 0;
}

/* ---- (1) sync limit ---------------------------------------------------------- */

/*
 * Append 200 bytes and fdatasync, @p n times, to a file beside the
 * journals (same filesystem, same directory level).  Appending is what the
 * journal does too: its file grows as it commits.
 * @return microseconds per write+fdatasync, or a negative value.
 */
static double
sync_limit(const char *path, size_t n)
{
	char rec[200];
	uint64_t t0;
	double us;
	int fd;

	memset(rec, 'r', sizeof(rec));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	/* The first sync also pays for making the file. */
	if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) ||
	    fdatasync(fd) != 0) {
		close(fd);
		return -1;
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) ||
		    fdatasync(fd) != 0) {
			close(fd);
			return -1;
		}
	}
	us = us_since(t0) / (double)n;
	close(fd);
	unlink(path);
	return us;
}

/* ---- (2) durable, (3) process mode -------------------------------------------- */

static int
migrations(struct mmig_journal *j, enum mmig_durability d, size_t count,
	   size_t ops, const struct scratch *s, uint64_t *seq,
	   double *us_per_op)
{
	char uuid[37];
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < count; i++) {
		make_uuid(uuid, 0x2, (*seq)++);
		if (noop_migration(j, d, ops, s, uuid, NULL) != MMIG_OK)
			return -1;
	}
	*us_per_op = us_since(t0) / (double)(count * ops);
	return 0;
}

/*
 * One durable migration of sz.ops no-ops on its own journal, after a short
 * warm-up (a journal's first commits grow its file).  @p us gets the cost
 * per op, @p st (if given) the journal's counters over the migration.
 * @return 0, or -1 when a migration failed.
 */
static int
durable_once(struct bench *b, double *us, struct mmig_journal_stats *st)
{
	struct jstate *P = b->jstate;
	struct mmig_journal_stats s0 = MMIG_JOURNAL_STATS_INIT,
				  s1 = MMIG_JOURNAL_STATS_INIT;
	struct mmig_journal *j = journal_open(P->j2, 0);
	double warm;
	int rc;

	if (!j)
		return -1;
	rc = migrations(j, MMIG_DURABLE, 1, 10, &P->s2, &P->seq, &warm);
	mmig_journal_get_stats(j, &s0);
	if (rc == 0)
		rc = migrations(j, MMIG_DURABLE, 1, b->sz.ops, &P->s2,
				&P->seq, us);
	mmig_journal_get_stats(j, &s1);
	mmig_journal_close(j);
	if (st) {
		st->syncs = s1.syncs - s0.syncs;
		st->commits = s1.commits - s0.commits;
		st->commit_ns = s1.commit_ns - s0.commit_ns;
	}
	return rc;
}

static void
run_process(struct bench *b)
{
	struct jstate *P = b->jstate;
	struct bench_figure *f = bench_fig(b, 3);
	struct mmig_journal *j = journal_open(P->j3, 0);
	double us, bare, warm;

	if (!j) {
		bench_fail(f, "cannot open the journal");
		return;
	}
	if (migrations(j, MMIG_PROCESS, 1, 10, &P->s3, &P->seq, &warm) != 0 ||
	    migrations(j, MMIG_PROCESS, b->sz.process_migs, b->sz.ops, &P->s3,
		       &P->seq, &us) != 0 ||
	    migrations(NULL, MMIG_PROCESS, b->sz.process_migs, b->sz.ops,
		       &P->s3, &P->seq, &bare) != 0) {
		mmig_journal_close(j);
		bench_fail(f, "a migration failed");
		return;
	}
	mmig_journal_close(j);
	bench_put(&f->value, us);
	bench_put(&f->ratio, us / bare);
	bench_put(&f->extra[0], bare);
}

/* ---- (4) group commit -------------------------------------------------------- */

struct group_thread {
	pthread_t tid;
	pthread_barrier_t *start;
	struct mmig_journal *j;
	const struct scratch *s;
	size_t ops;
	char uuid[37];
	int rc;
};

static void *
group_main(void *arg)
{
	struct group_thread *t = arg;

	pthread_barrier_wait(t->start);
	t->rc = noop_migration(t->j, MMIG_DURABLE, t->ops, t->s, t->uuid,
			       NULL);
	return NULL;
}

/* What this process has used so far, every thread's: context switches,
 * voluntary or not (a group commit's writers sleep and wake once per op at
 * least), and CPU time, user + system, in microseconds. */
struct usage {
	double switches, cpu_us;
};

static struct usage
usage_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return (struct usage){ 0 };
	return (struct usage){
		.switches = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw,
		.cpu_us = (double)ru.ru_utime.tv_sec * 1e6 +
			  (double)ru.ru_utime.tv_usec +
			  (double)ru.ru_stime.tv_sec * 1e6 +
			  (double)ru.ru_stime.tv_usec,
	};
}

/* What this process has used since @p before (a usage_now()). */
static struct usage
usage_since(struct usage before)
{
	struct usage now = usage_now();

	return (struct usage){ .switches = now.switches - before.switches,
			       .cpu_us = now.cpu_us - before.cpu_us };
}

/*
 * Where a batch of figure 4 spends its time (@p agg ops/s, @p grp the
 * journal's counters over the run; @p one figure 2's): inside its LMDB
 * commit, and between the end of one commit and the start of the next --
 * waking the batch's writers, running their next op, queueing them again.
 * The ceiling is the ratio the commits alone allow: threads × one
 * migration's commit ÷ a batch's, the figure if the time between commits
 * were nothing.
 */
static void
put_batch_split(struct bench *b, struct bench_figure *f4, double agg,
		const struct mmig_journal_stats *grp,
		const struct mmig_journal_stats *one)
{
	double total = (double)(b->sz.group_threads * b->sz.group_ops),
	       batch_us = (double)grp->commit_ns / 1e3 / (double)grp->commits,
	       one_us = (double)one->commit_ns / 1e3 / (double)one->commits,
	       wall_us = total / agg * 1e6 / (double)grp->commits;

	bench_put(&f4->extra[7], batch_us);
	bench_put(&f4->extra[8], (double)b->sz.group_threads * one_us /
					 batch_us);
	bench_put(&f4->extra[10], wall_us - batch_us);
}

/* @return the aggregate ops/s of @p n migrations at once, or
 * a negative value; @p st gets the journal's counters and *used what the
 * process used during the run. */
static double
group_once(struct bench *b, size_t n, struct mmig_journal_stats *st,
	   struct usage *used)
{
	struct jstate *P = b->jstate;
	size_t started = 0, total;
	struct group_thread *t = calloc(n, sizeof(*t));
	struct mmig_journal_stats s0 = MMIG_JOURNAL_STATS_INIT,
				  s1 = MMIG_JOURNAL_STATS_INIT;
	struct mmig_journal *j = NULL;
	pthread_barrier_t start;
	double warm, us, agg = -1;
	bool ok = true;
	uint64_t t0;

	if (!t || !(j = journal_open(P->j4, 0))) {
		free(t);
		return -1;
	}
	if (migrations(j, MMIG_DURABLE, 1, 10, &P->s4, &P->seq, &warm) != 0) {
		ok = false;
		goto out;
	}
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	for (size_t i = 0; i < n; i++) {
		t[i] = (struct group_thread){ .start = &start, .j = j,
					      .s = &P->s4,
					      .ops = b->sz.group_ops };
		make_uuid(t[i].uuid, 0x4, P->seq++);
		if (pthread_create(&t[i].tid, NULL, group_main, &t[i]) != 0)
			break;
		started++;
	}
	if (started < n) {
		/* Cannot happen short of resource exhaustion; the barrier
		 * would never open, so give up before waiting on it. */
		fprintf(stderr, "mmig: bench: cannot start %zu threads\n", n);
		exit(1);
	}
	mmig_journal_get_stats(j, &s0);
	*used = usage_now();
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		ok = ok && t[i].rc == MMIG_OK;
	}
	us = us_since(t0);
	*used = usage_since(*used);
	mmig_journal_get_stats(j, &s1);
	pthread_barrier_destroy(&start);
	total = n * b->sz.group_ops;
	if (ok)
		agg = (double)total / (us / 1e6);
	st->commits = s1.commits - s0.commits;
	st->syncs = s1.syncs - s0.syncs;
	st->commit_ns = s1.commit_ns - s0.commit_ns;
out:
	mmig_journal_close(j);
	free(t);
	return agg;
}

/* ---- recovery, in a child --------------------------------------------------- */

struct recover_job {
	const char *journal;
	const struct scratch *s;
	size_t expect; /* migrations to find, each rolled back */
	struct mmig_journal_stats stats;
};

/* Open the journal and settle what is in flight; out[0] = ms, out[1] =
 * syncs asked for. */
static int
recover_child(void *arg, double *out)
{
	struct recover_job *job = arg;
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.scope_for_model = scope_for,
		.scope_arg = (void *)job->s,
		.log = bench_log_quiet,
	};
	struct mmig_recover_summary *sum = NULL;
	struct mmig_journal_stats st = MMIG_JOURNAL_STATS_INIT;
	struct mmig_registry *reg = NULL;
	struct mmig_journal *j;
	size_t rolled = 0;
	uint64_t t0;
	int rc;

	if (mmig_registry_new(&reg) != MMIG_OK ||
	    mmig_registry_add(reg, &noop_vt, NULL, NULL) != MMIG_OK)
		return -1;
	t0 = bench_now_ns();
	j = journal_open(job->journal, 0);
	if (!j)
		return -1;
	rc = mmig_recover(j, reg, &o, &sum);
	out[0] = us_since(t0) / 1e3;
	if (rc != MMIG_OK) {
		fprintf(stderr, "mmig: bench: recover: %s\n",
			mmig_strerror(rc));
		return -1;
	}
	for (size_t i = 0; i < sum->n; i++)
		rolled += mmig_recover_summary_item(sum, i)->action ==
			  MMIG_RECOVER_ROLLED_BACK;
	if (sum->n != job->expect || rolled != job->expect) {
		fprintf(stderr,
			"mmig: bench: recover: found %zu migrations, rolled "
			"back %zu; expected %zu\n",
			sum->n, rolled, job->expect);
		return -1;
	}
	mmig_journal_get_stats(j, &st);
	out[1] = (double)st.syncs;
	mmig_recover_summary_free(sum);
	mmig_journal_close(j);
	mmig_registry_free(reg);
	return 0;
}

/* `mmig bench-child recover JOURNAL CONTROLLER_DB MODEL_DIR EXPECT`: the
 * recovery of figure 5, in a process started afresh; replies ms, syncs and
 * the peak RSS in KiB. */
int
bench_recover_child_main(int argc, char **argv)
{
	struct scratch s;
	struct recover_job job = { .s = &s };
	double out[3];

	if (argc != 5) {
		fprintf(stderr, "mmig: bench-child: recover: 4 arguments\n");
		return 2;
	}
	job.journal = argv[1];
	s = (struct scratch){ .controller_db = argv[2], .model_dir = argv[3] };
	job.expect = strtoul(argv[4], NULL, 10);
	if (recover_child(&job, out) != 0)
		return 1;
	out[2] = (double)bench_peak_rss_kib();
	return bench_exec_reply(out, 3) == 0 ? 0 : 1;
}

/* ---- (6) settling a crashed 1,000-op migration ------------------------------ */

struct crash_job {
	const char *journal;
	const struct scratch *s;
	size_t ops;
	char uuid[37];
};

/* Run the migration and _exit() inside its last op. */
static int
crash_child(void *arg, double *out)
{
	struct crash_job *job = arg;
	struct noop_self self = { .crash_at = job->ops };
	struct mmig_journal *j = journal_open(job->journal, 0);

	(void)out;
	if (!j)
		return -1;
	noop_migration(j, MMIG_DURABLE, job->ops, job->s, job->uuid, &self);
	fprintf(stderr, "mmig: bench: the migration did not crash\n");
	return -1;
}

/* @return the time to settle, in ms, or a negative value; @p syncs gets
 * the sync points recovery asked for. */
static double
settle_once(struct bench *b, double *syncs)
{
	struct jstate *P = b->jstate;
	struct crash_job cj = { .journal = P->f6, .s = &P->s6,
				.ops = b->sz.ops };
	struct recover_job rj = { .journal = P->f6, .s = &P->s6, .expect = 1 };
	char *jdir = bench_path(P->f6, "journal");
	double out[2];
	long rss;

	if (!jdir)
		return -1;
	bench_rmtree(jdir);
	cj.journal = rj.journal = jdir;
	make_uuid(cj.uuid, 0x6, P->seq++);
	if (bench_child(crash_child, &cj, NULL, 0, &rss) != 0 ||
	    bench_child(recover_child, &rj, out, 2, &rss) != 0) {
		free(jdir);
		return -1;
	}
	free(jdir);
	*syncs = out[1];
	return out[0];
}

/* ---- (5) recovery time against history -------------------------------------- */

struct history_job {
	const char *journal;
	const struct scratch *s;
	size_t count, ops, threads;
	atomic_size_t next;
	struct mmig_journal *j;
	int rc;
};

static void *
history_main(void *arg)
{
	struct history_job *h = arg;
	char uuid[37];
	size_t i;

	while ((i = atomic_fetch_add(&h->next, 1)) < h->count) {
		make_uuid(uuid, 0x5, i);
		if (noop_migration(h->j, MMIG_PROCESS, h->ops, h->s, uuid,
				   NULL) != MMIG_OK) {
			h->rc = -1;
			break;
		}
	}
	return NULL;
}

/*
 * Fill the history: @c count finished migrations, in process mode (no sync:
 * what is built is the journal's shape, not its durability), from several
 * threads so that group commit packs them into few LMDB transactions.
 * out[0] = transition records written.  A final sync makes the history
 * durable before it is measured against.
 */
static int
history_child(void *arg, double *out)
{
	struct history_job *h = arg;
	pthread_t tid[64];
	struct mmig_journal_stats st = MMIG_JOURNAL_STATS_INIT;
	size_t n = h->threads < 64 ? h->threads : 64, started = 0;

	h->j = journal_open(h->journal, (size_t)1 << 30);
	if (!h->j)
		return -1;
	atomic_init(&h->next, 0);
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, history_main, h) == 0)
			started++;
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (!started || h->rc != 0)
		return -1;
	if (mmig_journal_sync(h->j) != MMIG_OK)
		return -1;
	mmig_journal_get_stats(h->j, &st);
	out[0] = (double)st.records;
	mmig_journal_close(h->j);
	return 0;
}

/* Leave @c count migrations in flight: each blocks in its op 2 (after BEGIN
 * 2 is committed), then the process _exit()s around them. */
struct inflight_thread {
	pthread_t tid;
	struct mmig_journal *j;
	const struct scratch *s;
	struct noop_self self;
	size_t ops;
	char uuid[37];
};

static void *
inflight_main(void *arg)
{
	struct inflight_thread *t = arg;
	int rc;

	/* Process mode, as the history: a journal holds one durability. */
	rc = noop_migration(t->j, MMIG_PROCESS, t->ops, t->s, t->uuid,
			    &t->self);
	/* Reached only when the migration failed before op 2. */
	fprintf(stderr, "mmig: bench: a migration to leave in flight "
			"failed: %s\n", mmig_strerror(rc));
	_exit(1);
}

struct inflight_job {
	const char *journal;
	const struct scratch *s;
	size_t count;
	unsigned tag;
	uint64_t seq;
};

static int
inflight_child(void *arg, double *out)
{
	struct inflight_job *job = arg;
	struct inflight_thread *t = calloc(job->count, sizeof(*t));
	atomic_size_t blocked;
	struct mmig_journal *j = journal_open(job->journal, 0);

	(void)out;
	if (!t || !j)
		return -1;
	atomic_init(&blocked, 0);
	for (size_t i = 0; i < job->count; i++) {
		t[i] = (struct inflight_thread){
			.j = j,
			.s = job->s,
			.self = { .block_at = 3, .blocked = &blocked },
			.ops = 5,
		};
		make_uuid(t[i].uuid, job->tag, job->seq++);
		if (pthread_create(&t[i].tid, NULL, inflight_main, &t[i]) != 0)
			return -1;
	}
	while (atomic_load(&blocked) < job->count)
		usleep(1000);
	_exit(0); /* the crash: every migration is left in op 2 */
}

/* Build one history of @p count finished migrations in @p journal.
 * @return 0 with *records, or -1. */
static int
history_build_one(struct bench *b, const char *journal, size_t count,
		  uint64_t *records)
{
	struct jstate *P = b->jstate;
	struct history_job h = {
		.journal = journal,
		.s = &P->s5,
		.count = count,
		.ops = b->sz.history_ops,
		.threads = b->sz.history_threads,
	};
	double out[1];
	long rss;

	bench_rmtree(journal);
	if (bench_child(history_child, &h, out, 1, &rss) != 0)
		return -1;
	*records = (uint64_t)out[0];
	return 0;
}

/*
 * Build figure 5's histories: the full size, and the same ÷ 10 and ÷ 100
 * (how recovery grows with the history).  Each in its own journal, through
 * the journal's own code (process mode, group commit from several
 * threads).  history_build_s and history_records are the full one's.
 */
int
bench_history_build(struct bench *b)
{
	struct jstate *P = b->jstate;
	uint64_t t0, records;

	bench_rmtree(P->empty);
	if (history_build_one(b, P->hist100, b->sz.history / 100,
			      &records) != 0 ||
	    history_build_one(b, P->hist10, b->sz.history / 10, &records) != 0)
		return -1;
	t0 = bench_now_ns();
	if (history_build_one(b, P->hist, b->sz.history, &records) != 0)
		return -1;
	b->history_build_s = (double)(bench_now_ns() - t0) / 1e9;
	b->history_records = records;
	return 0;
}

/* One side of figure 5: put migrations in flight, then time recovery.
 * @return 0 with *ms and *rss_kib, or -1. */
static int
recovery_side(struct bench *b, const char *journal, unsigned tag, double *ms,
	      long *rss_kib)
{
	struct jstate *P = b->jstate;
	struct inflight_job ij = { .journal = journal, .s = &P->s5,
				   .count = b->sz.inflight, .tag = tag,
				   .seq = P->seq };
	char expect[32];
	const char *args[] = { "recover", journal, P->s5.controller_db,
			       P->s5.model_dir, expect, NULL };
	double out[3];
	long rss;

	snprintf(expect, sizeof(expect), "%zu", b->sz.inflight);
	/* The child's uuids are taken from ours: count them as used. */
	P->seq += b->sz.inflight;
	if (bench_child(inflight_child, &ij, NULL, 0, &rss) != 0 ||
	    bench_exec(args, out, 3) != 0)
		return -1;
	*ms = out[0];
	*rss_kib = (long)out[2];
	return 0;
}

static void
run_recovery(struct bench *b, size_t r)
{
	struct jstate *P = b->jstate;
	struct bench_figure *f = bench_fig(b, 5);
	/* Sides: empty, history ÷ 100, ÷ 10, full. */
	const char *journal[4] = { P->empty, P->hist100, P->hist10, P->hist };
	const unsigned tag[4] = { 0x50, 0x52, 0x53, 0x51 };
	double ms[4] = { 0 };
	long rss[4] = { 0 };

	/* Alternate the order, so no side always follows another's disk
	 * traffic. */
	for (size_t k = 0; k < 4; k++) {
		size_t i = r % 2 == 0 ? k : 3 - k;

		if (recovery_side(b, journal[i], tag[i], &ms[i], &rss[i]) !=
		    0) {
			bench_fail(f, "leaving migrations in flight or "
				      "recovering them failed");
			return;
		}
	}
	bench_put(&f->value, ms[3]);
	bench_put(&f->ratio, ms[3] / ms[0]);
	bench_put(&f->extra[0], ms[0]);
	bench_put(&f->extra[1], (double)rss[3]);
	bench_put(&f->extra[2], (double)rss[0]);
	bench_put(&f->extra[3], (double)rss[3] / (double)rss[0]);
	bench_put(&f->extra[4], ms[1] / ms[0]);
	bench_put(&f->extra[5], ms[2] / ms[0]);
	bench_put(&f->extra[6], (double)rss[1] / (double)rss[0]);
	bench_put(&f->extra[7], (double)rss[2] / (double)rss[0]);
}

/* ---- one run ------------------------------------------------------------------ */

/*
 * One run.  On a shared machine the disk's speed drifts within seconds, so
 * each reference is taken on both sides of what it is compared with, and
 * averaged: the sync limit before and after (2) and (6), one migration
 * alone before and after the concurrent ones of (4).
 */
void
bench_journal_run(struct bench *b, size_t r)
{
	struct jstate *P = b->jstate;
	struct bench_figure *f1 = bench_fig(b, 1), *f2 = bench_fig(b, 2);
	struct bench_figure *f4 = bench_fig(b, 4), *f6 = bench_fig(b, 6);
	struct mmig_journal_stats st = MMIG_JOURNAL_STATS_INIT,
				  gst = MMIG_JOURNAL_STATS_INIT,
				  wst = MMIG_JOURNAL_STATS_INIT;
	double s0, s1, sync_us, d0 = -1, d1 = -1, agg, wide, ms, syncs = 0;
	double df0, df1, lf0, lf1, disk_us, lmdb_us, peer_us;
	double total;
	struct usage gu = { 0 }, wu = { 0 };

	/* The floors, then the append reference, on both sides of (2). */
	df0 = bench_disk_floor_us(P->disk_floor, b->sz.sync_writes);
	lf0 = bench_lmdb_floor_us(P->lmdb_floor, b->sz.sync_writes);
	s0 = sync_limit(P->f1, b->sz.sync_writes);
	if ((bench_wanted(b, 2) || bench_wanted(b, 4)) &&
	    durable_once(b, &d0, &st) != 0)
		d0 = -1;
	s1 = sync_limit(P->f1, b->sz.sync_writes);
	lf1 = bench_lmdb_floor_us(P->lmdb_floor, b->sz.sync_writes);
	df1 = bench_disk_floor_us(P->disk_floor, b->sz.sync_writes);
	if (s0 <= 0 || s1 <= 0 || df0 <= 0 || df1 <= 0) {
		bench_fail(f1, "write+fdatasync in %s failed: %s", b->dir,
			   strerror(errno));
		return;
	}
	if (lf0 <= 0 || lf1 <= 0) {
		bench_fail(f1, "LMDB's floor in %s failed", b->dir);
		return;
	}
	sync_us = (s0 + s1) / 2;
	disk_us = (df0 + df1) / 2;
	lmdb_us = (lf0 + lf1) / 2;
	bench_put(&f1->value, sync_us);
	bench_put(&f1->extra[0], disk_us);
	bench_put(&f1->extra[1], lmdb_us);
	peer_us = bench_sqlite_peer_us(P->sqlite_peer, b->sz.sync_writes);
	if (peer_us > 0) {
		bench_put(&f1->extra[2], peer_us);
		if (d0 > 0)
			bench_put(&f2->extra[2], d0 / peer_us);
	}
	if (!b->pg_skip[0]) {
		peer_us = bench_pg_peer_us(b, b->sz.sync_writes);
		if (peer_us > 0) {
			bench_put(&f1->extra[3], peer_us);
			if (d0 > 0)
				bench_put(&f2->extra[3], d0 / peer_us);
		} else {
			bench_fail(f1, "the PostgreSQL peer failed (%s)",
				   bench_pg_describe(b));
		}
	}
	if (d0 > 0) {
		bench_put(&f2->value, d0);
		bench_put(&f2->ratio, d0 / lmdb_us);
		bench_put(&f2->extra[0], d0 / disk_us);
		bench_put(&f2->extra[1], d0 / sync_us);
		bench_put(&f2->extra[4], (double)st.syncs / (double)b->sz.ops);
		bench_put(&f2->extra[5],
			  (double)st.commits / (double)b->sz.ops);
		if (st.commits)
			bench_put(&f2->extra[6], (double)st.commit_ns / 1e3 /
							 (double)st.commits);
	} else if (bench_wanted(b, 2) || bench_wanted(b, 4)) {
		bench_fail(f2, "a migration failed");
	}
	if (bench_wanted(b, 3))
		run_process(b);
	if (bench_wanted(b, 4)) {
		agg = group_once(b, b->sz.group_threads, &gst, &gu);
		wide = group_once(b, b->sz.group_threads_wide, &wst, &wu);
		if (durable_once(b, &d1, NULL) != 0 || agg <= 0 || wide <= 0 ||
		    d0 <= 0) {
			bench_fail(f4, "a migration failed");
		} else {
			double single = 1e6 / ((d0 + d1) / 2);

			total = (double)(b->sz.group_threads * b->sz.group_ops);
			bench_put(&f4->value, agg);
			bench_put(&f4->ratio, agg / single);
			bench_put(&f4->extra[0], single);
			bench_put(&f4->extra[1], (double)gst.commits / total);
			bench_put(&f4->extra[2], (double)gst.syncs / total);
			bench_put(&f4->extra[3], wide);
			bench_put(&f4->extra[4], wide / single);
			bench_put(&f4->extra[5],
				  (double)wst.commits /
					  (double)(b->sz.group_threads_wide *
						   b->sz.group_ops));
			bench_put(&f4->extra[6], gu.switches / total);
			bench_put(&f4->extra[9], gu.cpu_us / total);
			if (gst.commits && st.commits)
				put_batch_split(b, f4, agg, &gst, &st);
		}
	}
	if (bench_wanted(b, 6)) {
		s0 = sync_limit(P->f1, b->sz.sync_writes);
		ms = settle_once(b, &syncs);
		s1 = sync_limit(P->f1, b->sz.sync_writes);
		if (ms < 0 || s0 <= 0 || s1 <= 0) {
			bench_fail(f6, "the crash or its recovery failed");
		} else {
			bench_put(&f6->value, ms);
			bench_put(&f6->ratio, ms * 1e3 / ((double)b->sz.ops *
							 (s0 + s1) / 2));
			bench_put(&f6->extra[0], syncs / (double)b->sz.ops);
		}
	}
	if (bench_wanted(b, 5))
		run_recovery(b, r);
}
