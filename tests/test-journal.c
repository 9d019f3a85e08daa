/*
 * tests/test-journal.c - the LMDB journal and journaled perform: the
 * invariants W, C and T observed from inside running operations, sync
 * counting, map growth, many threads and two processes on one journal,
 * fencing, verify, dump and prune.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lmdb-int.h"
#include "mmig/mmig.h"
#include "sync-counter.h"

struct fixture {
	char dir[64];
	char jdir[128];
	struct mmig_journal *j;
	struct mmig_scope *scope;
	struct mmig_model model;
};

static struct fixture *current; /* for the ops' checks */

/* ---- operations that look at the journal while they run ----------------- */

struct probe {
	int fail_execute_at; /* -1: never */
	int fail_rollback_at;
	char seen[2048]; /* what the checks saw, as "W0 W1 C1 ..." */
	bool violated;
	struct mmig_coordinator *c;
};

static struct probe probe;

struct probe_op {
	int index;
};

/* Fold the running migration from a fresh read transaction. */
static void
fold_now(struct mmig_fold *fold)
{
	uint8_t id[MMIG_ID_LEN];
	struct mmig_rec_header h;
	MDB_txn *txn;

	assert_int_equal(mmig__id_parse(mmig_coordinator_migration_id(probe.c),
					id),
			 MMIG_OK);
	assert_int_equal(mmig__journal_read_begin(current->j, &txn), MMIG_OK);
	assert_int_equal(mmig__journal_header(current->j, txn, id, &h, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__journal_fold(current->j, txn, id, h.n_ops, fold,
					    NULL, NULL),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	mmig__journal_read_end(current->j, txn);
}

static void
seen(const char *fmt, int i)
{
	size_t n = strlen(probe.seen);

	snprintf(probe.seen + n, sizeof(probe.seen) - n, "%s", n ? " " : "");
	n = strlen(probe.seen);
	snprintf(probe.seen + n, sizeof(probe.seen) - n, fmt, i);
}

static struct mmig_error *
probe_setup(void *self, struct mmig_scope *scope)
{
	return NULL;
}

/* W: when op i runs, BEGIN i is already committed. */
static struct mmig_error *
probe_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct probe_op *op = self;
	struct mmig_fold fold;

	fold_now(&fold);
	if (fold.begun[op->index] && fold.highest_begun == op->index)
		seen("W%d", op->index);
	else
		probe.violated = true;
	mmig__fold_free(&fold);
	if (op->index == probe.fail_execute_at)
		return mmig_error_new(MMIG_EOP, "boom at %d", op->index);
	return NULL;
}

/* C: when op i is rolled back, UNDO_DONE is committed for every op above
 * it that was rolled back successfully, and not for op i itself. */
static struct mmig_error *
probe_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	struct probe_op *op = self;
	struct mmig_fold fold;
	bool ok = true;

	fold_now(&fold);
	for (int k = op->index + 1; k <= probe.fail_execute_at; k++)
		if (k != probe.fail_rollback_at && !fold.undone[k])
			ok = false;
	if (fold.undone[op->index] || !fold.undo_begun[op->index])
		ok = false;
	if (ok)
		seen("C%d", op->index);
	else
		probe.violated = true;
	mmig__fold_free(&fold);
	if (op->index == probe.fail_rollback_at)
		return mmig_error_new(MMIG_EOP, "sad at %d", op->index);
	return NULL;
}

static void
probe_destroy(void *self)
{
	free(self);
}

static const struct mmig_op_vtable probe_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "probe",
	.version = 1,
	.setup = probe_setup,
	.execute = probe_execute,
	.rollback = probe_rollback,
	.destroy = probe_destroy,
};

static void
quiet(void *arg, enum mmig_log_level level, const char *msg)
{
}

static struct mmig_coordinator *
probe_coordinator(int n, enum mmig_durability d)
{
	struct mmig_coordinator *c;

	assert_int_equal(mmig_coordinator_new(&c, quiet, NULL), MMIG_OK);
	for (int i = 0; i < n; i++) {
		struct probe_op *op = calloc(1, sizeof(*op));

		op->index = i;
		assert_int_equal(mmig_coordinator_add(c, &probe_vt, op),
				 MMIG_OK);
	}
	mmig_coordinator_set_journal(c, current->j, d);
	memset(&probe, 0, sizeof(probe));
	probe.fail_execute_at = -1;
	probe.fail_rollback_at = -1;
	probe.c = c;
	return c;
}

/* ---- fixture ------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static struct mmig_error *
no_delete(void *arg, const char *path)
{
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mmig_scope_config cfg = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = "/nonexistent/c.db",
		.model_db = "/nonexistent/m.db",
		.delete_model = no_delete,
	};

	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-test-journal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->jdir, sizeof(f->jdir), "%s/journal", f->dir);
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_scope_new(&f->scope, &cfg), MMIG_OK);
	f->model.uuid = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
	f->model.desc = "{\"version\":1}";
	f->model.desc_len = strlen(f->model.desc);
	current = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	mmig_journal_close(f->j);
	mmig_scope_free(f->scope);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static size_t
verify_problems(struct mmig_journal *j)
{
	size_t n;

	assert_int_equal(mmig_journal_verify(j, NULL, NULL, &n), MMIG_OK);
	return n;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_journal_directory_and_file_modes(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct stat st;

	assert_int_equal(stat(f->jdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->jdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_journal_commit_leaves_whole_life_on_disk(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(3, MMIG_DURABLE);
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;

	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	assert_int_equal(mmig_coordinator_outcome(c), MMIG_OUTCOME_COMMITTED);
	assert_string_equal(probe.seen, "W0 W1 W2");
	assert_false(probe.violated);
	/* read back through the public API, from a reopened journal */
	mmig_journal_close(f->j);
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_get(f->j, mmig_coordinator_migration_id(c),
					  &info),
			 MMIG_OK);
	assert_string_equal(info.state, "COMMITTED");
	assert_int_equal(info.ops_total, 3);
	assert_int_equal(info.ops_done, 3);
	assert_string_equal(info.model_uuid, f->model.uuid);
	assert_false(info.owner_alive);
	mmig_migration_info_clear(&info);
	assert_int_equal(verify_problems(f->j), 0);
	mmig_coordinator_free(c);
}

static void
test_journal_rollback_logs_undo_before_next_rollback(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(4, MMIG_DURABLE);
	struct mmig_migration_info *list;
	size_t n;

	probe.fail_execute_at = 2;
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EOP);
	assert_int_equal(mmig_coordinator_outcome(c), MMIG_OUTCOME_ROLLED_BACK);
	assert_string_equal(probe.seen, "W0 W1 W2 C2 C1 C0");
	assert_false(probe.violated);
	/* final: no longer in flight */
	assert_int_equal(mmig_journal_list(f->j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 0);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state,
			    "ROLLED_BACK");
	assert_string_equal(mmig_migration_info_at(list, 0)->cause,
			    "execute operation probe: boom at 2");
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
	mmig_coordinator_free(c);
}

static void
test_journal_failed_rollback_needs_attention(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(3, MMIG_PROCESS);
	struct mmig_migration_info *list;
	size_t n;

	probe.fail_execute_at = 2;
	probe.fail_rollback_at = 1;
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EOP);
	assert_int_equal(mmig_coordinator_outcome(c),
			 MMIG_OUTCOME_NEEDS_ATTENTION);
	/* op 0 was still rolled back after op 1's rollback failed */
	assert_string_equal(probe.seen, "W0 W1 W2 C2 C1 C0");
	assert_int_equal(mmig_journal_list(f->j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state,
			    "NEEDS_ATTENTION");
	assert_non_null(strstr(mmig_migration_info_at(list, 0)->last_error,
			       "sad at 1"));
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
	mmig_coordinator_free(c);
}

/*
 * Perform with @p c, and measure: the journal's own counters (what it asked
 * for) and the sync points liblmdb really made on the journal's files.
 */
struct measured {
	uint64_t commits, syncs, records;
	struct sync_counts real;
	uint64_t commit_ns, wall_ns;
};

static struct measured
measure_perform(struct fixture *f, struct mmig_coordinator *c)
{
	struct mmig_journal_stats before = MMIG_JOURNAL_STATS_INIT,
				  after = MMIG_JOURNAL_STATS_INIT;
	struct measured m;

	mmig_journal_get_stats(f->j, &before);
	sync_counter_watch(f->jdir);
	m.wall_ns = mmig__now_mono_ns();
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	m.wall_ns = mmig__now_mono_ns() - m.wall_ns;
	sync_counter_get(&m.real);
	sync_counter_watch(NULL);
	mmig_journal_get_stats(f->j, &after);
	m.commits = after.commits - before.commits;
	m.syncs = after.syncs - before.syncs;
	m.records = after.records - before.records;
	m.commit_ns = after.commit_ns - before.commit_ns;
	return m;
}

static void
test_journal_terminal_record_is_synced_before_return(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(1, MMIG_DURABLE);
	struct measured m = measure_perform(f, c);

	/* One op: the first commit (header + BEGIN 0) is fully synced (2),
	 * DONE 0 + COMMITTED fully synced (2).  Fewer means a terminal or
	 * first commit that a power cut could undo. */
	assert_int_equal(m.commits, 2);
	assert_int_equal(m.syncs, 4);
	/* what LMDB really did: each commit's data synced, and each one's
	 * meta page written synchronously */
	assert_int_equal(m.real.fsyncs, 2);
	assert_int_equal(m.real.sync_writes, 2);
	/* the time inside those commits is counted, and is part of the
	 * perform's */
	assert_true(m.commit_ns > 0);
	assert_true(m.commit_ns < m.wall_ns);
	mmig_coordinator_free(c);
}

static void
test_journal_durable_costs_one_sync_per_op(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(100, MMIG_DURABLE);
	struct measured m = measure_perform(f, c);

	/* 100 ops: header + BEGIN 0, then DONE i + BEGIN i+1 (99 of them),
	 * then DONE 99 + COMMITTED: 101 commits.  One sync each, plus one
	 * for the forced first and one for the forced last: 103. */
	assert_int_equal(m.commits, 101);
	assert_int_equal(m.syncs, 103);
	/* and on disk: 101 fdatasyncs, and the meta page written
	 * synchronously only by the first and the last commit */
	assert_int_equal(m.real.fsyncs, 101);
	assert_int_equal(m.real.sync_writes, 2);
	assert_int_equal(m.records, 100 + 100 + 1);
	mmig_coordinator_free(c);
}

static void
test_journal_process_mode_never_syncs(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(20, MMIG_PROCESS);
	struct measured m = measure_perform(f, c);

	assert_int_equal(m.syncs, 0);
	assert_int_equal(m.real.fsyncs, 0);
	assert_int_equal(m.real.sync_writes, 0);
	mmig_coordinator_free(c);
}

/* An op that records a checkpoint per step. */
static struct mmig_error *
checkpointing_execute(void *self, struct mmig_ctx *ctx,
		      const struct mmig_model *m)
{
	for (int step = 1; step <= 3; step++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "step %d", step);
		if (mmig_op_checkpoint(ctx, buf, strlen(buf)) != MMIG_OK)
			return mmig_error_new(MMIG_EJOURNAL, "checkpoint");
	}
	return mmig_error_new(MMIG_EOP, "stop after checkpoints");
}

static void
test_journal_checkpoint_is_recorded(void **state)
{
	struct fixture *f = *state;
	static const struct mmig_op_vtable vt = {
		.size = sizeof(struct mmig_op_vtable),
		.name = "checkpointing",
		.flags = MMIG_OP_RESUMABLE,
		.setup = probe_setup,
		.execute = checkpointing_execute,
	};
	struct mmig_coordinator *c;
	struct mmig_fold fold;

	assert_int_equal(mmig_coordinator_new(&c, quiet, NULL), MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, &vt, NULL), MMIG_OK);
	mmig_coordinator_set_journal(c, f->j, MMIG_DURABLE);
	probe.c = c;
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EOP);
	fold_now(&fold);
	/* the op's bytes behind the op's transaction number (none yet) */
	assert_int_equal(fold.checkpoint_len[0], 8 + 6);
	assert_memory_equal(fold.checkpoint[0], "\0\0\0\0\0\0\0\0", 8);
	assert_memory_equal(fold.checkpoint[0] + 8, "step 3", 6);
	assert_int_equal(fold.state, MMIG_STATE_ROLLED_BACK);
	mmig__fold_free(&fold);
	mmig_coordinator_free(c);
}

static void
test_journal_pause_leaves_migration_resumable(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(3, MMIG_DURABLE);
	struct mmig_migration_info *list;
	struct mmig_ctx *ctx;
	size_t n;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(c, ctx, f->scope, &f->model),
			 MMIG_EPAUSED);
	assert_int_equal(mmig_coordinator_outcome(c), MMIG_OUTCOME_PAUSED);
	/* nothing ran, nothing was rolled back */
	assert_string_equal(probe.seen, "");
	assert_int_equal(mmig_journal_list(f->j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state, "PAUSED");
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
	mmig_ctx_free(ctx);
	mmig_coordinator_free(c);
}

static void
test_journal_map_grows_from_tiny(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_options opts = {
		.size = sizeof(struct mmig_journal_options),
		.initial_map_size = 64 * 1024
	};
	struct mmig_journal_stats stats = MMIG_JOURNAL_STATS_INIT;
	struct mmig_migration_info *list;
	char *big = malloc(256 * 1024);
	char dir[160];
	size_t n;

	memset(big, 'x', 256 * 1024);
	snprintf(dir, sizeof(dir), "%s/tiny", f->dir);
	mmig_journal_close(f->j);
	assert_int_equal(mmig_journal_open(&f->j, dir, &opts, NULL), MMIG_OK);
	f->model.desc = big;
	f->model.desc_len = 256 * 1024;
	for (int i = 0; i < 20; i++) {
		struct mmig_coordinator *c = probe_coordinator(5, MMIG_PROCESS);

		assert_int_equal(
			mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			MMIG_OK);
		mmig_coordinator_free(c);
	}
	mmig_journal_get_stats(f->j, &stats);
	assert_true(stats.map_grows >= 3); /* 5 MiB of headers in 64 KiB */
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 20);
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
	free(big);
}

/* No-op ops for the concurrency tests. */
static struct mmig_error *
noop_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	return NULL;
}

static const struct mmig_op_vtable noop_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "noop",
	.setup = probe_setup,
	.execute = noop_execute,
};

static int
run_noop_migrations(struct mmig_journal *j, struct mmig_scope *scope,
		    const struct mmig_model *model, int migrations, int ops,
		    enum mmig_durability d)
{
	for (int m = 0; m < migrations; m++) {
		struct mmig_coordinator *c;
		int rc;

		if (mmig_coordinator_new(&c, quiet, NULL) != MMIG_OK)
			return -1;
		for (int i = 0; i < ops; i++)
			mmig_coordinator_add(c, &noop_vt, NULL);
		mmig_coordinator_set_journal(c, j, d);
		rc = mmig_coordinator_perform(c, NULL, scope, model);
		mmig_coordinator_free(c);
		if (rc != MMIG_OK)
			return rc;
	}
	return 0;
}

struct thread_arg {
	struct fixture *f;
	int rc;
};

static void *
thread_main(void *p)
{
	struct thread_arg *a = p;

	a->rc = run_noop_migrations(a->f->j, a->f->scope, &a->f->model, 25, 10,
				    MMIG_DURABLE);
	return NULL;
}

static void
test_journal_many_threads_share_commits(void **state)
{
	struct fixture *f = *state;
	struct thread_arg args[8];
	pthread_t threads[8];
	struct mmig_journal_stats before = MMIG_JOURNAL_STATS_INIT,
				  after = MMIG_JOURNAL_STATS_INIT;
	struct mmig_migration_info *list;
	size_t n;

	mmig_journal_get_stats(f->j, &before);
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ .f = f };
		assert_int_equal(
			pthread_create(&threads[i], NULL, thread_main, &args[i]),
			0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(args[i].rc, 0);
	}
	mmig_journal_get_stats(f->j, &after);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 200);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(mmig_migration_info_at(list, i)->state,
				    "COMMITTED");
	mmig_migration_info_free(list, n);
	/* 200 migrations x 11 commits were asked for; with eight threads
	 * waiting on syncs, the leader must have merged some of them. */
	assert_true(after.commits - before.commits < 200 * 11);
	assert_int_equal(after.records - before.records, 200 * 21);
	assert_int_equal(verify_problems(f->j), 0);
}

static void
test_journal_two_processes_write_one_journal(void **state)
{
	struct fixture *f = *state;
	struct mmig_migration_info *list;
	pid_t pids[2];
	size_t n;

	mmig_journal_close(f->j);
	f->j = NULL;
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct mmig_journal *j;
			int rc = mmig_journal_open(&j, f->jdir, NULL, NULL);

			if (rc == MMIG_OK)
				rc = run_noop_migrations(j, f->scope, &f->model,
							 30, 5, MMIG_DURABLE);
			mmig_journal_close(j);
			_exit(rc == MMIG_OK ? 0 : 1);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 60);
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
}

/* An op that, while it runs, has another process take the migration
 * over; the coordinator's next commit must be refused. */
static struct mmig_error *
taken_over_execute(void *self, struct mmig_ctx *ctx,
		   const struct mmig_model *m)
{
	const char *id = mmig_coordinator_migration_id(probe.c);
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct mmig_journal *j;
		struct mmig_rec_header h;
		struct mmig__jmig *jm = NULL;
		uint8_t raw[MMIG_ID_LEN];
		int rc;

		/* the child opens its own handle, as another process would */
		rc = mmig_journal_open(&j, current->jdir, NULL, NULL);
		if (rc == MMIG_OK)
			rc = mmig__id_parse(id, raw);
		if (rc == MMIG_OK)
			rc = mmig__jmig_claim(j, raw, 0, true, &h, &jm, NULL);
		if (rc == MMIG_OK)
			mmig__rec_header_free(&h);
		mmig__jmig_free(jm);
		mmig_journal_close(j);
		_exit(rc == MMIG_OK ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return mmig_error_new(MMIG_EOP, "claim in child failed");
	return NULL;
}

static void
test_journal_stale_owner_is_fenced_out(void **state)
{
	struct fixture *f = *state;
	static const struct mmig_op_vtable vt = {
		.size = sizeof(struct mmig_op_vtable),
		.name = "taken-over",
		.setup = probe_setup,
		.execute = taken_over_execute,
	};
	struct mmig_coordinator *c;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;

	assert_int_equal(mmig_coordinator_new(&c, quiet, NULL), MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, &vt, NULL), MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, &noop_vt, NULL), MMIG_OK);
	mmig_coordinator_set_journal(c, f->j, MMIG_DURABLE);
	probe.c = c;
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EFENCED);
	assert_int_equal(mmig_coordinator_outcome(c),
			 MMIG_OUTCOME_INTERRUPTED);
	/* the stale owner wrote nothing after the claim */
	assert_int_equal(mmig_journal_get(f->j, mmig_coordinator_migration_id(c),
					  &info),
			 MMIG_OK);
	assert_string_equal(info.state, "RUNNING");
	assert_int_equal(info.ops_done, 0);
	assert_int_equal(info.epoch, 2);
	mmig_migration_info_clear(&info);
	/* and the coordinator refuses to go on */
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EPOISONED);
	mmig_coordinator_free(c);
}

static void
collect(void *arg, const char *msg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 4096 - strlen(buf), "%s\n", msg);
}

static void
test_journal_verify_finds_state_mismatch_and_bit_flip(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(2, MMIG_PROCESS);
	uint8_t id[MMIG_ID_LEN];
	MDB_val v;
	struct mmig_rec_status st;
	char report[4096] = "";
	size_t n;
	MDB_txn *txn;
	uint8_t *copy;
	size_t len;

	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	assert_int_equal(verify_problems(f->j), 0);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	/* flip one bit of seq 1 */
	assert_int_equal(mmig__lmdb_value_get(f->j, txn, "log", id, 1, &v), 0);
	copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size / 2] ^= 0x10;
	assert_int_equal(mmig__lmdb_value_put(f->j, txn, "log", id, 1, copy,
					      v.mv_size),
			 0);
	free(copy);
	/* and make the status claim another state than the records */
	assert_int_equal(mmig__journal_status(f->j, txn, id, &st, NULL), MMIG_OK);
	st.state = MMIG_STATE_ROLLED_BACK;
	assert_int_equal(mmig__rec_status_encode(&st, &copy, &len), MMIG_OK);
	mmig__rec_status_free(&st);
	assert_int_equal(mmig__lmdb_value_put(f->j, txn, "status", id, 0, copy,
					      len),
			 0);
	free(copy);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	assert_int_equal(mmig_journal_verify(f->j, collect, report, &n), MMIG_OK);
	/* the flipped record stops the fold, so the mismatch is not seen yet */
	assert_int_equal(n, 1);
	assert_non_null(strstr(report, mmig_coordinator_migration_id(c)));
	assert_non_null(strstr(report, "seq 1"));
	/* put seq 1 back as it was: now the state mismatch shows */
	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	{
		struct mmig_rec_transition t = { .kind = MMIG_REC_DONE,
						 .op = 0, .epoch = 1 };

		assert_int_equal(mmig__rec_transition_encode(&t, &copy, &len),
				 MMIG_OK);
	}
	assert_int_equal(mmig__lmdb_value_put(f->j, txn, "log", id, 1, copy,
					      len),
			 0);
	free(copy);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	report[0] = '\0';
	assert_int_equal(mmig_journal_verify(f->j, collect, report, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(report, "status says ROLLED_BACK but its "
				       "records fold to COMMITTED"));
	mmig_coordinator_free(c);
}

static void
test_journal_dump_prints_one_json_object_per_line(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(2, MMIG_PROCESS);
	char *buf = NULL;
	size_t len = 0, lines = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	assert_int_equal(mmig_journal_dump(f->j, out, NULL), MMIG_OK);
	fclose(out);
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	/* header + BEGIN 0, DONE 0, BEGIN 1, DONE 1, COMMITTED */
	assert_int_equal(lines, 6);
	assert_non_null(strstr(buf, "\"record\":\"header\""));
	assert_non_null(strstr(buf, "\"kind\":\"COMMITTED\""));
	free(buf);
	mmig_coordinator_free(c);
}

static void
test_journal_prune_keeps_newest_and_in_flight(void **state)
{
	struct fixture *f = *state;
	struct mmig_migration_info *list;
	struct mmig_ctx *ctx;
	size_t n, pruned;

	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 5, 2,
					     MMIG_PROCESS),
			 0);
	/* one paused migration: in flight, never pruned */
	{
		struct mmig_coordinator *c = probe_coordinator(2, MMIG_PROCESS);

		mmig_ctx_new(&ctx);
		mmig_ctx_pause(ctx);
		assert_int_equal(mmig_coordinator_perform(c, ctx, f->scope,
							  &f->model),
				 MMIG_EPAUSED);
		mmig_ctx_free(ctx);
		mmig_coordinator_free(c);
	}
	assert_int_equal(mmig_journal_prune(f->j, 0, 2, &pruned), MMIG_OK);
	assert_int_equal(pruned, 3);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 3);
	mmig_migration_info_free(list, n);
	/* an age limit far in the past prunes nothing */
	assert_int_equal(mmig_journal_prune(f->j, 3600ull * 1000000000ull, 0,
					    &pruned),
			 MMIG_OK);
	assert_int_equal(pruned, 0);
	/* keep none: every final one goes, whichever holds the table's last
	 * key, and the paused one stays */
	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned), MMIG_OK);
	assert_int_equal(pruned, 2);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state, "PAUSED");
	mmig_migration_info_free(list, n);
	assert_int_equal(verify_problems(f->j), 0);
}

static void
test_journal_readonly_open_of_missing_dir_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_options ro = {
		.size = sizeof(struct mmig_journal_options),
		.flags = MMIG_JOURNAL_RDONLY,
	};
	struct mmig_journal *j;
	struct mmig_error *err = NULL;
	char dir[160];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/absent", f->dir);
	assert_int_not_equal(mmig_journal_open(&j, dir, &ro, &err), MMIG_OK);
	assert_null(j);
	assert_non_null(strstr(mmig_error_message(err), dir));
	assert_int_not_equal(stat(dir, &st), 0); /* nothing was created */
	mmig_error_free(err);
}

/* A RUNNING migration owned by this (live) process: header + BEGIN 0. */
static struct mmig__jmig *
start_running_migration(struct fixture *f, uint8_t id[MMIG_ID_LEN])
{
	struct mmig_plan_op plan[1] = { { .name = "probe", .version = 1 } };
	struct mmig_rec_header h = { .model_uuid = "m", .plan = plan,
				     .n_ops = 1 };
	struct mmig__jmig *jm;

	assert_int_equal(mmig__jmig_create(f->j, &h, &jm, NULL), MMIG_OK);
	assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_BEGIN, 0, NULL, 0, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_commit(jm, MMIG__SYNC_FULL, NULL), MMIG_OK);
	memcpy(id, jm->id, MMIG_ID_LEN);
	return jm; /* driven by this process until freed */
}

static void
test_journal_live_owner_is_not_taken_over(void **state)
{
	struct fixture *f = *state;
	struct mmig_rec_header h;
	struct mmig__jmig *jm, *driver;
	struct mmig_error *err = NULL;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	uint8_t id[MMIG_ID_LEN];
	char text[37];

	driver = start_running_migration(f, id);
	mmig__id_text(id, text);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, &err),
			 MMIG_EOWNED);
	assert_null(jm);
	assert_non_null(strstr(mmig_error_message(err), "is alive"));
	mmig_error_free(err);
	/* nothing was written: same epoch, no CLAIMED record */
	assert_int_equal(mmig_journal_get(f->j, text, &info), MMIG_OK);
	assert_int_equal(info.epoch, 1);
	mmig_migration_info_clear(&info);
	/* a claim with the wrong expected epoch is fenced */
	assert_int_equal(mmig__jmig_claim(f->j, id, 7, true, &h, &jm, &err),
			 MMIG_EFENCED);
	mmig_error_free(err);
	/* forced, the claim goes through and bumps the epoch */
	assert_int_equal(mmig__jmig_claim(f->j, id, 1, true, &h, &jm, NULL),
			 MMIG_OK);
	assert_int_equal(jm->epoch, 2);
	mmig__rec_header_free(&h);
	mmig__jmig_free(jm);
	mmig__jmig_free(driver);
}

static void
test_journal_resting_migration_may_be_claimed_once(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(2, MMIG_DURABLE);
	struct mmig_rec_header h;
	struct mmig__jmig *jm, *claimer;
	struct mmig_error *err = NULL;
	struct mmig_ctx *ctx;
	uint8_t id[MMIG_ID_LEN];

	/* paused by this live process: it rests, so it may be claimed */
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(c, ctx, f->scope, &f->model),
			 MMIG_EPAUSED);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &claimer,
					  NULL),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	/* just claimed (its last record is CLAIMED, its claimer drives it):
	 * a second recoverer must not take it from the first */
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, &err),
			 MMIG_EOWNED);
	mmig_error_free(err);
	/* once the claimer lets go without settling it (a failed recovery),
	 * this process may claim it again */
	mmig__jmig_free(claimer);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, NULL),
			 MMIG_OK);
	assert_int_equal(jm->epoch, 3);
	mmig__rec_header_free(&h);
	mmig__jmig_free(jm);
	mmig_ctx_free(ctx);
	mmig_coordinator_free(c);
}


/*
 * A journal whose data fills its map exactly: a new process opens it with a
 * map smaller than the file, and LMDB sizes the map to the pages in use.
 * Every write path must grow it and retry (issue 13, item 1): the claim,
 * prune, a new migration.
 */
static void
fill_journal_then_reopen_tight(struct fixture *f, const char *name,
			       uint8_t id[MMIG_ID_LEN])
{
	struct mmig_journal_options tiny = { .initial_map_size = 64 * 1024 };
	char *big = malloc(300 * 1024);
	char dir[160];

	memset(big, 'x', 300 * 1024);
	snprintf(dir, sizeof(dir), "%s/%s", f->dir, name);
	mmig_journal_close(f->j);
	assert_int_equal(mmig_journal_open(&f->j, dir, &tiny, NULL), MMIG_OK);
	f->model.desc = big;
	f->model.desc_len = 300 * 1024;
	for (int i = 0; i < 3; i++) {
		struct mmig_coordinator *c = probe_coordinator(2, MMIG_DURABLE);

		assert_int_equal(
			mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			MMIG_OK);
		mmig_coordinator_free(c);
	}
	/* one left in flight, driven by nobody: claimable */
	mmig__jmig_free(start_running_migration(f, id));
	mmig_journal_close(f->j);
	f->model.desc = "{\"version\":1}";
	f->model.desc_len = strlen(f->model.desc);
	free(big);
	assert_int_equal(mmig_journal_open(&f->j, dir, &tiny, NULL), MMIG_OK);
}

static void
test_journal_full_map_grows_on_every_write_path(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_stats stats;
	struct mmig_migration_info *list;
	struct mmig_rec_header h;
	struct mmig__jmig *jm = NULL;
	struct mmig_error *err = NULL;
	uint8_t id[MMIG_ID_LEN];
	size_t n = 0;

	fill_journal_then_reopen_tight(f, "full", id);
	/* opened with room to spare, not with the map LMDB sized to the
	 * pages in use */
	mmig_journal_get_stats(f->j, &stats);
	assert_true(stats.map_grows >= 1);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, &err),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	mmig__jmig_free(jm);
	assert_int_equal(mmig_journal_prune_v2(f->j, 0, 0, &n, &err), MMIG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 2, 2,
					     MMIG_DURABLE),
			 MMIG_OK);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 3); /* the claimed one and the two new */
	mmig_migration_info_free(list, n);
}

static uint64_t
file_hash(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint64_t h = 1469598103934665603ull;
	int ch;

	assert_non_null(fp);
	while ((ch = fgetc(fp)) != EOF)
		h = (h ^ (uint64_t)ch) * 1099511628211ull;
	fclose(fp);
	return h;
}

static void
test_journal_corrupt_record_refused_and_journal_unchanged(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(2, MMIG_DURABLE);
	uint8_t id[MMIG_ID_LEN];
	MDB_val v;
	struct mmig_rec_header h;
	struct mmig__jmig *jm;
	struct mmig_error *err = NULL;
	struct mmig_ctx *ctx;
	char data[200];
	uint64_t before;
	MDB_txn *txn;
	uint8_t *copy;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(c, ctx, f->scope, &f->model),
			 MMIG_EPAUSED);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	/* garble the last byte of seq 0 (its checksum) */
	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mmig__lmdb_value_get(f->j, txn, "log", id, 0, &v), 0);
	copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 1] ^= 0xff;
	assert_int_equal(mmig__lmdb_value_put(f->j, txn, "log", id, 0, copy,
					      v.mv_size),
			 0);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	free(copy);
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	before = file_hash(data);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, true, &h, &jm, &err),
			 MMIG_ECORRUPT);
	/* the error names the migration and the record */
	assert_non_null(strstr(mmig_error_message(err),
			       mmig_coordinator_migration_id(c)));
	assert_non_null(strstr(mmig_error_message(err), "seq 0"));
	mmig_error_free(err);
	assert_int_equal(file_hash(data), before);
	mmig_ctx_free(ctx);
	mmig_coordinator_free(c);
}

/*
 * Ids are UUIDs of version 7: they sort by creation time, so the journal's
 * newest migrations -- those in flight -- share the right edge of every
 * table instead of being spread over the file.
 */
static void
test_journal_ids_sort_by_creation_time(void **state)
{
	uint8_t a[MMIG_ID_LEN], b[MMIG_ID_LEN], c[MMIG_ID_LEN];
	struct timespec ts;
	uint64_t ms = 0, now_ms;

	(void)state;
	assert_int_equal(mmig__id_new(a), MMIG_OK);
	assert_int_equal(mmig__id_new(b), MMIG_OK);
	usleep(2000);
	assert_int_equal(mmig__id_new(c), MMIG_OK);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | a[i];
	assert_true(ms <= now_ms && now_ms - ms < 1000);
	assert_int_equal(a[6] >> 4, 7);    /* version */
	assert_int_equal(a[8] >> 6, 2);    /* RFC 9562 variant */
	assert_memory_not_equal(a, b, MMIG_ID_LEN); /* same ms, random rest */
	assert_true(memcmp(a, c, MMIG_ID_LEN) < 0);
	assert_true(memcmp(b, c, MMIG_ID_LEN) < 0);
}

/*
 * A journal holds migrations of one durability, fixed by its first: an
 * unsynced process-mode commit could otherwise take durable migrations
 * down with it in a power cut.  The refusal writes nothing and is a plain
 * error: the coordinator is not poisoned.
 */
static void
test_journal_holds_one_durability(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c;
	char data[200];
	uint64_t before;

	c = probe_coordinator(2, MMIG_DURABLE);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	before = file_hash(data);
	probe.seen[0] = '\0';
	mmig_coordinator_set_journal(c, f->j, MMIG_PROCESS);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EINVAL);
	assert_int_equal(mmig_coordinator_outcome(c), MMIG_OUTCOME_NONE);
	assert_non_null(strstr(mmig_coordinator_errmsg(c),
			       "holds durable migrations; a process one "
			       "needs a journal of its own"));
	assert_string_equal(probe.seen, ""); /* no op ran */
	assert_true(file_hash(data) == before);
	/* not poisoned: durable again, it runs */
	mmig_coordinator_set_journal(c, f->j, MMIG_DURABLE);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig_coordinator_free(c);

	/* the other way round, on a journal of its own */
	mmig_journal_close(f->j);
	snprintf(f->jdir, sizeof(f->jdir), "%s/process-journal", f->dir);
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, NULL), MMIG_OK);
	c = probe_coordinator(2, MMIG_PROCESS);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig_coordinator_set_journal(c, f->j, MMIG_DURABLE);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_EINVAL);
	assert_non_null(strstr(mmig_coordinator_errmsg(c),
			       "holds process migrations"));
	mmig_coordinator_free(c);
}

/*
 * The rule holds at the first commit too, inside its write transaction:
 * a migration created while the journal was empty, committed after a
 * migration of the other durability, is refused and writes nothing.
 */
static void
test_journal_one_durability_checked_at_first_commit(void **state)
{
	struct fixture *f = *state;
	struct mmig_plan_op plan[1] = { { .name = "probe", .version = 1 } };
	struct mmig_rec_header h = { .model_uuid = "m", .plan = plan,
				     .n_ops = 1, .durability = MMIG_DURABLE };
	struct mmig_coordinator *c;
	struct mmig_error *err = NULL;
	struct mmig__jmig *jm;
	char data[200];
	uint64_t before;

	assert_int_equal(mmig__jmig_create(f->j, &h, &jm, NULL), MMIG_OK);
	assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_BEGIN, 0, NULL, 0, NULL),
			 MMIG_OK);
	c = probe_coordinator(1, MMIG_PROCESS);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig_coordinator_free(c);
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	before = file_hash(data);
	assert_int_equal(mmig__jmig_commit(jm, MMIG__SYNC_FULL, &err),
			 MMIG_EINVAL);
	assert_non_null(strstr(mmig_error_message(err),
			       "holds process migrations"));
	mmig_error_free(err);
	assert_true(file_hash(data) == before);
	mmig__jmig_free(jm);
}


/* ---- issue 13: what an operator can meet ---------------------------------- */

/* One handle per journal per process: a second open is refused clearly,
 * the first handle goes on working, and a child after fork() may open its
 * own. */
static void
test_journal_second_open_in_one_process_refused(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_options ro = { .flags = MMIG_JOURNAL_RDONLY };
	struct mmig_journal *j2 = (struct mmig_journal *)&j2;
	struct mmig_error *err = NULL;
	char link[160];
	pid_t pid;
	int status;

	assert_int_equal(mmig_journal_open(&j2, f->jdir, NULL, &err),
			 MMIG_EBUSY);
	assert_null(j2);
	assert_non_null(strstr(mmig_error_message(err),
			       "already open in this process"));
	mmig_error_free(err);
	/* read-only, or through another path to the same directory: the
	 * same journal */
	assert_int_equal(mmig_journal_open(&j2, f->jdir, &ro, NULL), MMIG_EBUSY);
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(symlink(f->jdir, link), 0);
	assert_int_equal(mmig_journal_open(&j2, link, NULL, NULL), MMIG_EBUSY);
	/* the first handle was not disturbed */
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 2, 2,
					     MMIG_DURABLE),
			 MMIG_OK);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig_journal *cj;
		int rc = mmig_journal_open(&cj, f->jdir, NULL, NULL);

		mmig_journal_close(cj);
		_exit(rc == MMIG_OK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* once closed, it may be opened again */
	mmig_journal_close(f->j);
	assert_int_equal(mmig_journal_open(&f->j, link, NULL, NULL), MMIG_OK);
	assert_int_equal(verify_problems(f->j), 0);
}

/* Another program's LMDB environment: refused by a writable open too, and
 * not one byte of it written (invariant N). */
static void
test_journal_foreign_environment_refused_unwritten(void **state)
{
	struct fixture *f = *state;
	char dir[160], data[200], other[160], file[200];
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { .mv_size = 5, .mv_data = "alice" };
	MDB_val v = { .mv_size = 1, .mv_data = "1" };
	uint64_t before;
	struct stat st;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/foreign", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mdb_env_create(&env), MDB_SUCCESS);
	mdb_env_set_maxdbs(env, 2);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), MDB_SUCCESS);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), MDB_SUCCESS);
	assert_int_equal(mdb_dbi_open(txn, "users", MDB_CREATE, &dbi),
			 MDB_SUCCESS);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), MDB_SUCCESS);
	assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
	mdb_env_close(env);
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	before = file_hash(data);
	assert_int_equal(mmig_journal_open(&j, dir, NULL, &err), MMIG_ECORRUPT);
	assert_null(j);
	assert_non_null(strstr(mmig_error_message(err), "not a libmmig journal"));
	mmig_error_free(err);
	assert_true(file_hash(data) == before);
	/* a directory holding other files: refused, nothing made in it */
	snprintf(other, sizeof(other), "%s/other", f->dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(file, sizeof(file), "%s/notes.txt", other);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("not ours\n", fp);
	fclose(fp);
	assert_int_equal(mmig_journal_open(&j, other, NULL, &err),
			 MMIG_ECORRUPT);
	mmig_error_free(err);
	snprintf(file, sizeof(file), "%s/data.mdb", other);
	assert_int_not_equal(stat(file, &st), 0);
}

/* A journal is made inside an existing empty directory: the directory keeps
 * its inode and mode, a symlink to it stays a symlink, and what a dead
 * creation left there is cleared. */
static void
test_journal_created_inside_existing_empty_directory(void **state)
{
	struct fixture *f = *state;
	char dir[160], link[160], target[160], work[200], data[200];
	struct stat before, after;

	mmig_journal_close(f->j);
	f->j = NULL;
	snprintf(dir, sizeof(dir), "%s/mine", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0751), 0);
	assert_int_equal(stat(dir, &before), 0);
	snprintf(work, sizeof(work), "%s/.mmig-new-999999999", dir);
	assert_int_equal(mkdir(work, 0700), 0);
	assert_int_equal(mmig_journal_open(&f->j, dir, NULL, NULL), MMIG_OK);
	assert_int_equal(stat(dir, &after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_int_equal(after.st_mode & 07777, 0751);
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	assert_int_equal(stat(data, &after), 0);
	assert_int_equal(after.st_mode & 0777, 0600);
	assert_int_not_equal(stat(work, &after), 0); /* cleared */
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 1, 2,
					     MMIG_DURABLE),
			 MMIG_OK);
	mmig_journal_close(f->j);
	f->j = NULL;
	snprintf(target, sizeof(target), "%s/target", f->dir);
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mmig_journal_open(&f->j, link, NULL, NULL), MMIG_OK);
	assert_int_equal(lstat(link, &after), 0);
	assert_true(S_ISLNK(after.st_mode));
	snprintf(data, sizeof(data), "%s/data.mdb", target);
	assert_int_equal(stat(data, &after), 0);
}

/*
 * Reader slots left by a killed process fill the table: a handle opened
 * before clears them (mdb_reader_check) and goes on; a table full of live
 * readers is said as such.
 */
static void
test_journal_full_reader_table_is_cleared_or_named(void **state)
{
	struct fixture *f = *state;
	struct mmig_migration_info *list = NULL;
	struct mmig_error *err = NULL;
	MDB_txn *held[512];
	size_t n_held = 0, n;
	pid_t pid;
	int status, fds[2], k = -1;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig_journal *j;
		MDB_txn *txn;

		k = 0;
		close(fds[0]);
		if (mmig_journal_open(&j, f->jdir, NULL, NULL) == MMIG_OK)
			while (k < 512 &&
			       mmig__journal_read_begin(j, &txn) == MMIG_OK)
				k++;
		/* every slot, then die without letting go: killed, as a
		 * crashed reader is (and so no exit-time leak check, under
		 * valgrind, judges what it meant to leave behind) */
		if (write(fds[1], &k, sizeof(k)) != (ssize_t)sizeof(k))
			k = -1;
		raise(SIGKILL);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &k, sizeof(k)), (ssize_t)sizeof(k));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the child held some slots, not all it asked for: the table filled */
	assert_true(k > 0 && k < 512);
	assert_int_equal(mmig_journal_list_v2(f->j, true, &list, &n, &err),
			 MMIG_OK);
	mmig_migration_info_free(list, n);
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 1, 1,
					     MMIG_DURABLE),
			 MMIG_OK);
	/* live readers fill it: said so */
	while (n_held < 512 &&
	       mmig__journal_read_begin(f->j, &held[n_held]) == MMIG_OK)
		n_held++;
	assert_true(n_held < 512);
	assert_int_not_equal(mmig_journal_list_v2(f->j, true, &list, &n, &err),
			     MMIG_OK);
	assert_non_null(strstr(mmig_error_message(err), "MDB_READERS_FULL"));
	assert_non_null(strstr(mmig_error_message(err), f->jdir));
	mmig_error_free(err);
	while (n_held > 0)
		mmig__journal_read_end(f->j, held[--n_held]);
}

/*
 * A writer stopped inside a commit holds the write lock: every other
 * writer waits no longer than its lock timeout, and the error names the
 * holder and what to do.  A claim so refused is "owned by a live process"
 * (recovery skips it and goes on).  Once the holder dies, writes go on.
 */
static void
test_journal_write_lock_wait_is_bounded_and_names_holder(void **state)
{
	struct fixture *f = *state;
	struct mmig_error *err = NULL;
	struct mmig_rec_header h;
	struct mmig__jmig *jm = NULL;
	uint8_t id[MMIG_ID_LEN];
	char pidtext[64];
	int pfd[2], status;
	size_t n;
	pid_t pid;
	char c;

	mmig__jmig_free(start_running_migration(f, id));
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig_journal *j;
		MDB_txn *txn;

		close(pfd[0]);
		if (mmig_journal_open(&j, f->jdir, NULL, NULL) != MMIG_OK ||
		    mmig__journal_write_begin(j, &txn) != MMIG_OK)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	mmig_journal_set_lock_timeout(f->j, 200000000u); /* 0.2 s */
	snprintf(pidtext, sizeof(pidtext), "held by pid %d (stopped)",
		 (int)pid);
	assert_int_equal(mmig_journal_prune_v2(f->j, 0, 0, &n, &err),
			 MMIG_EBUSY);
	assert_non_null(strstr(mmig_error_message(err), pidtext));
	assert_non_null(strstr(mmig_error_message(err), "kill -CONT"));
	mmig_error_free(err);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, &err),
			 MMIG_EOWNED);
	assert_non_null(strstr(mmig_error_message(err), pidtext));
	mmig_error_free(err);
	/* a new migration fails the same way instead of hanging */
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 1, 1,
					     MMIG_DURABLE),
			 MMIG_EBUSY);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &jm, NULL),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	mmig__jmig_free(jm);
	assert_int_equal(mmig_journal_prune_v2(f->j, 0, 0, &n, NULL), MMIG_OK);
}

/* Compaction shrinks the file, keeps every migration, and refuses while
 * the journal is open (here or in another process). */
static void
test_journal_compact_shrinks_and_needs_the_journal_alone(void **state)
{
	struct fixture *f = *state;
	struct mmig_migration_info *list;
	struct mmig_error *err = NULL;
	uint64_t before = 0, after = 0;
	uint8_t id[MMIG_ID_LEN];
	char text[37];
	int pfd[2], status;
	size_t n;
	pid_t pid;
	char c;

	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 40, 8,
					     MMIG_DURABLE),
			 MMIG_OK);
	mmig__jmig_free(start_running_migration(f, id));
	mmig__id_text(id, text);
	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &n), MMIG_OK);
	assert_int_equal(n, 40);
	/* open here: refused */
	assert_int_equal(mmig_journal_compact(f->jdir, NULL, NULL, &err),
			 MMIG_EBUSY);
	mmig_error_free(err);
	mmig_journal_close(f->j);
	f->j = NULL;
	/* open in another process: refused, naming it */
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig_journal *j;

		close(pfd[0]);
		if (mmig_journal_open(&j, f->jdir, NULL, NULL) != MMIG_OK ||
		    write(pfd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	assert_int_equal(mmig_journal_compact(f->jdir, NULL, NULL, &err),
			 MMIG_EBUSY);
	assert_non_null(strstr(mmig_error_message(err), "open in another process"));
	mmig_error_free(err);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(mmig_journal_compact(f->jdir, &before, &after, &err),
			 MMIG_OK);
	assert_true(after < before);
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, text);
	mmig_migration_info_free(list, n);
	/* and it takes writes as before */
	assert_int_equal(run_noop_migrations(f->j, f->scope, &f->model, 3, 2,
					     MMIG_DURABLE),
			 MMIG_OK);
	assert_int_equal(mmig_journal_list(f->j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 4);
	mmig_migration_info_free(list, n);
}

/* ---- the log keyed by LSN (journal format 3) ---------------------------- */

static uint64_t
log_entries(struct mmig_journal *j)
{
	MDB_txn *txn;
	uint64_t n;

	assert_int_equal(mmig__journal_read_begin(j, &txn), MMIG_OK);
	assert_int_equal(mmig__log_count(j, txn, &n), 0);
	mmig__journal_read_end(j, txn);
	return n;
}

/* Every key of `log` is an LSN, growing by one from the first; each value
 * names its migration and seq and points back to the record before it on
 * its migration's chain; the status holds the chain's first and last. */
static void
check_layout(struct mmig_journal *j, const uint8_t ids[][MMIG_ID_LEN],
	     size_t n_ids)
{
	uint64_t last_of[8] = { 0 }, next_seq[8] = { 0 }, first_of[8] = { 0 };
	uint64_t expect_lsn = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	assert_true(n_ids <= 8);
	assert_int_equal(mmig__journal_read_begin(j, &txn), MMIG_OK);
	assert_int_equal(mdb_cursor_open(txn, mmig__journal_dbs(j)->log, &cur),
			 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mmig__log_rec r;
		uint64_t lsn = mmig__lsn_of(&k);
		size_t m;

		if (lsn == 0) {
			/* Before the log, only the records naming the
			 * tables; after it, nothing. */
			assert_int_equal(expect_lsn, 0);
			assert_true(k.mv_size < MMIG__LSN_LEN);
			continue;
		}
		assert_int_equal(k.mv_size, MMIG__LSN_LEN);
		if (expect_lsn)
			assert_int_equal(lsn, expect_lsn);
		expect_lsn = lsn + 1;
		assert_true(mmig__log_unwrap(&v, &r));
		for (m = 0; m < n_ids; m++)
			if (memcmp(r.id, ids[m], MMIG_ID_LEN) == 0)
				break;
		assert_true(m < n_ids);
		assert_int_equal(r.seq, next_seq[m]);
		assert_int_equal(r.prev, last_of[m]);
		if (!first_of[m])
			first_of[m] = lsn;
		last_of[m] = lsn;
		next_seq[m]++;
	}
	mdb_cursor_close(cur);
	for (size_t m = 0; m < n_ids; m++) {
		struct mmig__chain c;

		assert_int_equal(mmig__journal_chain(j, txn, ids[m], &c, NULL),
				 MMIG_OK);
		assert_int_equal(c.first, first_of[m]);
		assert_int_equal(c.last, last_of[m]);
		assert_int_equal(c.next_seq, next_seq[m]);
	}
	mmig__journal_read_end(j, txn);
}

static struct mmig_error *
plain_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	return NULL;
}

static const struct mmig_op_vtable plain_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "plain",
	.version = 1,
	.setup = probe_setup,
	.execute = plain_execute,
};

/* A coordinator of @p n ops that look at nothing (safe to run in many
 * threads at once, unlike the probes). */
static struct mmig_coordinator *
plain_coordinator(int n, enum mmig_durability d)
{
	struct mmig_coordinator *c;

	assert_int_equal(mmig_coordinator_new(&c, quiet, NULL), MMIG_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(mmig_coordinator_add(c, &plain_vt, NULL),
				 MMIG_OK);
	mmig_coordinator_set_journal(c, current->j, d);
	return c;
}

struct perform_arg {
	struct fixture *f;
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	int rc;
};

static void *
perform_thread(void *p)
{
	struct perform_arg *a = p;

	a->rc = mmig_coordinator_perform(a->c, NULL, a->scope, &a->f->model);
	return NULL;
}

static void
test_journal_log_is_keyed_by_lsn_and_chained(void **state)
{
	struct fixture *f = *state;
	struct perform_arg a[4];
	pthread_t t[4];
	uint8_t ids[4][MMIG_ID_LEN];

	/* Four migrations at once: their records interleave at the log's
	 * right edge, and each one still reads back whole. */
	for (int i = 0; i < 4; i++) {
		a[i] = (struct perform_arg){ .f = f,
					     .c = plain_coordinator(6, MMIG_DURABLE),
					     .scope = f->scope };
		assert_int_equal(pthread_create(&t[i], NULL, perform_thread,
						&a[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].rc, MMIG_OK);
		assert_int_equal(mmig__id_parse(mmig_coordinator_migration_id(
							a[i].c),
						ids[i]),
				 MMIG_OK);
	}
	check_layout(f->j, (const uint8_t(*)[MMIG_ID_LEN])ids, 4);
	assert_int_equal(verify_problems(f->j), 0);
	for (int i = 0; i < 4; i++) {
		struct mmig_fold fold;
		struct mmig_rec_header h;

		assert_int_equal(mmig__journal_read(f->j, ids[i], &h, NULL,
						    &fold, NULL, NULL),
				 MMIG_OK);
		assert_int_equal(fold.state, MMIG_STATE_COMMITTED);
		assert_int_equal(mmig__fold_ops_done(&fold), 6);
		mmig__fold_free(&fold);
		mmig__rec_header_free(&h);
		mmig_coordinator_free(a[i].c);
	}
}

/* An append whose answer was lost is retried: the same records are on
 * the chain already and nothing is written again; other bytes under a
 * seq that is there are refused. */
static void
test_journal_append_retry_is_idempotent(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(3, MMIG_PROCESS);
	uint8_t id[MMIG_ID_LEN];
	struct mmig_rec_header h;
	struct mmig__jmig *m;
	struct mmig_error *err = NULL;
	struct mmig_ctx *ctx;
	uint64_t n;

	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(c, ctx, f->scope, &f->model),
			 MMIG_EPAUSED);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, &m, &err),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	assert_int_equal(mmig__jmig_stage(m, MMIG_REC_RESUMED, -1, NULL, 0,
					  NULL),
			 MMIG_OK);
	n = log_entries(f->j);
	assert_int_equal(mmig__journal_ops(f->j)->append(m, NULL, 0,
							 MMIG__SYNC_NONE, &err),
			 MMIG_OK);
	assert_int_equal(log_entries(f->j), n + 1);
	/* the same append again: accepted, nothing written */
	assert_int_equal(mmig__journal_ops(f->j)->append(m, NULL, 0,
							 MMIG__SYNC_NONE, &err),
			 MMIG_OK);
	assert_int_equal(log_entries(f->j), n + 1);
	/* other bytes under that seq: refused, nothing written */
	m->staged[0].val[m->staged[0].len / 2] ^= 0x20;
	assert_int_not_equal(mmig__journal_ops(f->j)->append(m, NULL, 0,
							     MMIG__SYNC_NONE,
							     &err),
			     MMIG_OK);
	mmig_error_free(err);
	assert_int_equal(log_entries(f->j), n + 1);
	/* the chain reads back, RESUMED once at its end */
	{
		struct mmig_fold fold;
		uint64_t next;

		assert_int_equal(mmig__journal_read(f->j, id, &h, NULL, &fold,
						    &next, NULL),
				 MMIG_OK);
		assert_int_equal(fold.last_kind, MMIG_REC_RESUMED);
		assert_int_equal(next, m->next_seq);
		mmig__fold_free(&fold);
		mmig__rec_header_free(&h);
	}
	mmig__jmig_free(m);
	mmig_ctx_free(ctx);
	mmig_coordinator_free(c);
}

/* A paused migration of 3 probe ops, claimed: @p m drives it. */
static void
paused_and_claimed(struct fixture *f, struct mmig_coordinator **c,
		   uint8_t id[MMIG_ID_LEN], struct mmig__jmig **m)
{
	struct mmig_rec_header h;
	struct mmig_error *err = NULL;
	struct mmig_ctx *ctx;

	*c = probe_coordinator(3, MMIG_PROCESS);
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(*c, ctx, f->scope, &f->model),
			 MMIG_EPAUSED);
	mmig_ctx_free(ctx);
	mmig__id_parse(mmig_coordinator_migration_id(*c), id);
	assert_int_equal(mmig__jmig_claim(f->j, id, 0, false, &h, m, &err),
			 MMIG_OK);
	mmig__rec_header_free(&h);
}

/* Append one record of @p kind to @p m without a new status record, as a
 * commit that changes no state does. */
static void
append_bare(struct fixture *f, struct mmig__jmig *m, uint32_t kind)
{
	struct mmig_error *err = NULL;

	assert_int_equal(mmig__jmig_stage(m, kind, -1, NULL, 0, NULL), MMIG_OK);
	assert_int_equal(mmig__journal_ops(f->j)->append(m, NULL, 0,
							 MMIG__SYNC_NONE, &err),
			 MMIG_OK);
}

/* The chain as @p id's status stores it, and carried on to its end. */
static void
chains(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
       struct mmig__chain *stored, struct mmig__chain *end)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id }, val;
	MDB_txn *txn;

	assert_int_equal(mmig__journal_read_begin(j, &txn), MMIG_OK);
	assert_int_equal(mdb_get(txn, mmig__journal_dbs(j)->status, &key, &val),
			 0);
	assert_true(mmig__status_unwrap(&val, stored, NULL, NULL));
	assert_int_equal(mmig__journal_chain(j, txn, id, end, NULL), MMIG_OK);
	mmig__journal_read_end(j, txn);
}

static uint32_t
last_kind(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
	  uint64_t *next)
{
	struct mmig_rec_header h;
	struct mmig_fold fold;
	uint32_t kind;

	assert_int_equal(mmig__journal_read(j, id, &h, NULL, &fold, next, NULL),
			 MMIG_OK);
	kind = fold.last_kind;
	mmig__fold_free(&fold);
	mmig__rec_header_free(&h);
	return kind;
}

/* The status is a checkpoint of the chain's end (format 3): a commit that
 * only appends leaves it as it is, and a reader finds the end in the
 * MMIG__STATUS_LAG LSNs after it; a record appended further than that
 * from it rewrites it, so the chain still reads whole after any number of
 * other migrations' records. */
static void
test_journal_status_checkpoints_the_chain(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c, *big;
	struct mmig__chain stored, end;
	uint8_t id[MMIG_ID_LEN];
	struct mmig__jmig *m;
	uint64_t next;

	paused_and_claimed(f, &c, id, &m);
	append_bare(f, m, MMIG_REC_RESUMED);
	chains(f->j, id, &stored, &end);
	assert_true(stored.last < end.last);
	assert_int_equal(end.next_seq, stored.next_seq + 1);
	assert_int_equal(last_kind(f->j, id, &next), MMIG_REC_RESUMED);
	assert_int_equal(next, m->next_seq);

	/* Another migration takes the log's end more than MMIG__STATUS_LAG
	 * LSNs past what the status holds. */
	big = plain_coordinator(MMIG__STATUS_LAG / 2 + 8, MMIG_PROCESS);
	assert_int_equal(mmig_coordinator_perform(big, NULL, f->scope,
						  &f->model),
			 MMIG_OK);
	append_bare(f, m, MMIG_REC_PAUSED);
	chains(f->j, id, &stored, &end);
	assert_true(end.last > MMIG__STATUS_LAG);
	assert_int_equal(stored.last, end.last);
	assert_int_equal(stored.next_seq, end.next_seq);
	assert_int_equal(last_kind(f->j, id, &next), MMIG_REC_PAUSED);
	assert_int_equal(next, m->next_seq);
	assert_int_equal(verify_problems(f->j), 0);
	mmig__jmig_free(m);
	mmig_coordinator_free(big);
	mmig_coordinator_free(c);
}

/* A record past the status's last LSN that names the migration but does
 * not continue its chain is corruption, reported with its LSN. */
static void
test_journal_chain_past_status_is_checked(void **state)
{
	struct fixture *f = *state;
	struct mmig__chain stored, end;
	struct mmig_coordinator *c;
	struct mmig_rec_header h;
	struct mmig_error *err = NULL;
	struct mmig_fold fold;
	uint8_t id[MMIG_ID_LEN], k[MMIG__LSN_LEN], *copy;
	struct mmig__jmig *m;
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	MDB_txn *txn;
	char want[64];

	paused_and_claimed(f, &c, id, &m);
	append_bare(f, m, MMIG_REC_RESUMED);
	chains(f->j, id, &stored, &end);
	assert_true(stored.last < end.last);
	/* Give the record past the status another seq. */
	mmig__lsn_key(k, end.last);
	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mdb_get(txn, mmig__journal_dbs(f->j)->log, &key, &val),
			 0);
	copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	copy[MMIG_ID_LEN + 7] ^= 0x04;
	val.mv_data = copy;
	assert_int_equal(mdb_put(txn, mmig__journal_dbs(f->j)->log, &key, &val,
				 0),
			 0);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	free(copy);
	assert_int_equal(mmig__journal_read(f->j, id, &h, NULL, &fold, NULL,
					    &err),
			 MMIG_ECORRUPT);
	snprintf(want, sizeof(want), "the record at LSN %llu, after",
		 (unsigned long long)end.last);
	assert_non_null(strstr(mmig_error_message(err), want));
	mmig_error_free(err);
	assert_true(verify_problems(f->j) > 0);
	mmig__jmig_free(m);
	mmig_coordinator_free(c);
}

/* LSNs only grow: a prune that deletes the log's right edge does not give
 * its LSNs out again. */
static void
test_journal_lsn_grows_past_a_prune(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = probe_coordinator(2, MMIG_PROCESS);
	struct mmig__chain chain;
	uint8_t id[MMIG_ID_LEN];
	uint64_t last;
	size_t pruned;
	MDB_txn *txn;

	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__journal_read_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mmig__journal_chain(f->j, txn, id, &chain, NULL),
			 MMIG_OK);
	mmig__journal_read_end(f->j, txn);
	last = chain.last;
	mmig_coordinator_free(c);
	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned), MMIG_OK);
	assert_int_equal(pruned, 1);
	assert_int_equal(log_entries(f->j), 0);
	c = probe_coordinator(2, MMIG_PROCESS);
	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__journal_read_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mmig__journal_chain(f->j, txn, id, &chain, NULL),
			 MMIG_OK);
	mmig__journal_read_end(f->j, txn);
	assert_true(chain.first > last);
	assert_int_equal(verify_problems(f->j), 0);
	mmig_coordinator_free(c);
}

/* LMDB may leave the pages a transaction allocated and freed again
 * (loose pages) unwritten past the file's end, so a commit can leave a
 * meta page whose last page lies beyond data.mdb.  A prune of many
 * migrations does (in format 3 their records are the main table's right
 * edge): the file must still reach the last page, or the next open takes
 * the journal for a truncated one and refuses it. */
static void
test_journal_file_reaches_its_last_page_after_prune(void **state)
{
	struct fixture *f = *state;
	struct mmig_error *err = NULL;
	char data[200], desc[1400];
	size_t pruned;

	/* A description of an import's size: headers of a page's third. */
	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = 0;
	memcpy(desc, "{\"v\":\"", 6);
	memcpy(desc + sizeof(desc) - 3, "\"}", 2);
	f->model.desc = desc;
	f->model.desc_len = strlen(desc);
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	for (int round = 0; round < 12; round++) {
		MDB_envinfo info;
		MDB_stat st;
		struct stat fst;
		MDB_env *env;
		int n = 10 + 10 * round;

		for (int i = 0; i < n; i++) {
			struct mmig_coordinator *c =
				plain_coordinator(7, MMIG_PROCESS);

			assert_int_equal(mmig_coordinator_perform(c, NULL,
								  f->scope,
								  &f->model),
					 MMIG_OK);
			mmig_coordinator_free(c);
		}
		assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned),
				 MMIG_OK);
		assert_int_equal(pruned, (size_t)n);
		mmig_journal_close(f->j);
		f->j = NULL;
		assert_int_equal(mdb_env_create(&env), 0);
		assert_int_equal(mdb_env_open(env, f->jdir,
					      MDB_RDONLY | MDB_NOTLS, 0600),
				 0);
		assert_int_equal(mdb_env_info(env, &info), 0);
		assert_int_equal(mdb_env_stat(env, &st), 0);
		mdb_env_close(env);
		assert_int_equal(stat(data, &fst), 0);
		assert_true((uint64_t)fst.st_size >=
			    ((uint64_t)info.me_last_pgno + 1) * st.ms_psize);
		assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, &err),
				 MMIG_OK);
		current = f;
		assert_int_equal(verify_problems(f->j), 0);
	}
}

/* A record that names a migration but lies on no chain, further past the
 * status's last LSN than a reader looks (a stray copy), is reported by
 * verify with its LSN, not only counted. */
static void
test_journal_verify_names_a_record_on_no_chain(void **state)
{
	struct fixture *f = *state;
	struct mmig_coordinator *c = plain_coordinator(3, MMIG_PROCESS);
	struct mmig__chain chain;
	uint8_t id[MMIG_ID_LEN], k[MMIG__LSN_LEN], *copy;
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	char report[4096] = "", want[64];
	uint64_t stray;
	MDB_txn *txn;
	size_t n;

	assert_int_equal(mmig_coordinator_perform(c, NULL, f->scope, &f->model),
			 MMIG_OK);
	mmig__id_parse(mmig_coordinator_migration_id(c), id);
	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mmig__journal_chain(f->j, txn, id, &chain, NULL),
			 MMIG_OK);
	mmig__lsn_key(k, chain.last);
	assert_int_equal(mdb_get(txn, mmig__journal_dbs(f->j)->log, &key, &val),
			 0);
	copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	val.mv_data = copy;
	stray = chain.last + MMIG__STATUS_LAG + 100;
	mmig__lsn_key(k, stray);
	assert_int_equal(mdb_put(txn, mmig__journal_dbs(f->j)->log, &key, &val,
				 0),
			 0);
	free(copy);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	assert_int_equal(mmig_journal_verify(f->j, collect, report, &n), MMIG_OK);
	assert_true(n >= 1);
	snprintf(want, sizeof(want), "LSN %llu ", (unsigned long long)stray);
	assert_non_null(strstr(report, want));
	assert_non_null(strstr(report, mmig_coordinator_migration_id(c)));
	mmig_coordinator_free(c);
}

/* A journal of an older layout (format 2: the log in a table of its own,
 * the status rewritten by every commit; format 1 keyed the log by
 * migration and seq) is refused with a clear error, and left as it was. */
static void
test_journal_old_format_refused_unchanged(void **state)
{
	struct fixture *f = *state;
	MDB_val key = { .mv_size = 6, .mv_data = "format" }, val;
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	uint32_t old = 2;
	char data[200];
	uint64_t before;
	MDB_txn *txn;

	assert_int_equal(mmig__journal_write_begin(f->j, &txn), MMIG_OK);
	val = (MDB_val){ .mv_size = sizeof(old), .mv_data = &old };
	assert_int_equal(mdb_put(txn, mmig__journal_dbs(f->j)->meta, &key, &val,
				 0),
			 0);
	assert_int_equal(mmig__journal_write_commit(f->j, txn), MMIG_OK);
	mmig_journal_close(f->j);
	f->j = NULL;
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	before = file_hash(data);
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, &err),
			 MMIG_EFORMAT);
	assert_null(j);
	assert_non_null(strstr(mmig_error_message(err), "journal format 2"));
	assert_non_null(strstr(mmig_error_message(err), "older"));
	mmig_error_free(err);
	assert_int_equal(file_hash(data), before);
	assert_int_equal(mmig_journal_open(&f->j, f->jdir, NULL, &err),
			 MMIG_EFORMAT);
	mmig_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_journal_directory_and_file_modes),
		T(test_journal_commit_leaves_whole_life_on_disk),
		T(test_journal_rollback_logs_undo_before_next_rollback),
		T(test_journal_failed_rollback_needs_attention),
		T(test_journal_terminal_record_is_synced_before_return),
		T(test_journal_durable_costs_one_sync_per_op),
		T(test_journal_process_mode_never_syncs),
		T(test_journal_checkpoint_is_recorded),
		T(test_journal_pause_leaves_migration_resumable),
		T(test_journal_map_grows_from_tiny),
		T(test_journal_many_threads_share_commits),
		T(test_journal_two_processes_write_one_journal),
		T(test_journal_stale_owner_is_fenced_out),
		T(test_journal_verify_finds_state_mismatch_and_bit_flip),
		T(test_journal_dump_prints_one_json_object_per_line),
		T(test_journal_prune_keeps_newest_and_in_flight),
		T(test_journal_readonly_open_of_missing_dir_fails_cleanly),
		T(test_journal_live_owner_is_not_taken_over),
		T(test_journal_resting_migration_may_be_claimed_once),
		T(test_journal_corrupt_record_refused_and_journal_unchanged),
		T(test_journal_ids_sort_by_creation_time),
		T(test_journal_holds_one_durability),
		T(test_journal_one_durability_checked_at_first_commit),
		T(test_journal_full_map_grows_on_every_write_path),
		T(test_journal_second_open_in_one_process_refused),
		T(test_journal_foreign_environment_refused_unwritten),
		T(test_journal_created_inside_existing_empty_directory),
		T(test_journal_full_reader_table_is_cleared_or_named),
		T(test_journal_write_lock_wait_is_bounded_and_names_holder),
		T(test_journal_compact_shrinks_and_needs_the_journal_alone),
		T(test_journal_log_is_keyed_by_lsn_and_chained),
		T(test_journal_append_retry_is_idempotent),
		T(test_journal_status_checkpoints_the_chain),
		T(test_journal_file_reaches_its_last_page_after_prune),
		T(test_journal_chain_past_status_is_checked),
		T(test_journal_verify_names_a_record_on_no_chain),
		T(test_journal_lsn_grows_past_a_prune),
		T(test_journal_old_format_refused_unchanged),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
