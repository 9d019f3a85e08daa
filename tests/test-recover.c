/*
 * tests/test-recover.c - recovery after real crashes.
 *
 * A child process runs a journaled migration of N_OPS operations and is
 * killed with SIGKILL at the k-th hit of a fault point (core/fault.h);
 * the parent then recovers from what is on disk and checks the invariants
 * in the databases themselves:
 *   - nothing is left in flight, and the journal verifies clean;
 *   - COMMITTED: every op's row is there, each op's work committed once;
 *   - ROLLED_BACK: no row, no model database file;
 *   - no op's undo ever committed twice (counted inside the undo's own
 *     transaction, so only committed undos count).
 * Every point, every hit, both policies; then crashes of recovery itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "lmdb-int.h"
#include "mmig/mmig.h"
#include "steps.h"

#define N_OPS 5
#define MODEL_UUID "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

/* ---- the test operations: tests/steps.c ---------------------------------- */

/* A registry of the ops; @p skip leaves one out (-1: none). */
static struct mmig_registry *
registry(int skip)
{
	struct mmig_registry *r = steps_registry(N_OPS, skip);

	assert_non_null(r);
	return r;
}

/* ---- fixture --------------------------------------------------------- */

struct fixture {
	char dir[64];
	char jdir[128];
	char ctl[128];
	char mdir[128];
	char mfile[200];
	enum mmig_durability durability;
	int n_ops; /* ops the migration runs; 0: N_OPS */
	char id[37]; /* a migration a test works on */
};

static struct fixture *F;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
wipe(struct fixture *f)
{
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(mkdir(f->mdir, 0700), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-test-recover-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->jdir, sizeof(f->jdir), "%s/journal", f->dir);
	snprintf(f->ctl, sizeof(f->ctl), "%s/controller.db", f->dir);
	snprintf(f->mdir, sizeof(f->mdir), "%s/models", f->dir);
	snprintf(f->mfile, sizeof(f->mfile), "%s/%s.db", f->mdir, MODEL_UUID);
	assert_int_equal(mkdir(f->mdir, 0700), 0);
	f->durability = MMIG_DURABLE;
	f->n_ops = 0;
	steps_knobs_reset();
	mmig__fault_disarm();
	F = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
scope_for(void *arg, const char *uuid, enum mmig_durability d,
	  struct mmig_scope **out)
{
	struct fixture *f = arg;

	return mmig_scope_for_model(out, f->ctl, f->mdir, uuid, d);
}

static void
quiet(void *arg, enum mmig_log_level level, const char *msg)
{
}

/* ---- the migration, in a child ------------------------------------------ */

/* Run the migration in this (child) process; returns the perform code. */
/* Run the migration of N_OPS steps on journal @p j. */
static int
perform_on(struct fixture *f, struct mmig_journal *j)
{
	struct mmig_registry *r = registry(-1);
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	struct mmig_model model = { .uuid = MODEL_UUID, .desc = "{}",
				    .desc_len = 2 };
	int rc;

	mmig_coordinator_new(&c, quiet, NULL);
	if (steps_add(c, r, f->n_ops ? f->n_ops : N_OPS) != MMIG_OK)
		return MMIG_EUNKNOWNOP;
	mmig_coordinator_set_journal(c, j, f->durability);
	mmig_scope_for_model(&scope, f->ctl, f->mdir, MODEL_UUID, f->durability);
	rc = mmig_coordinator_perform(c, NULL, scope, &model);
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_registry_free(r);
	return rc;
}

static int
run_migration(struct fixture *f)
{
	struct mmig_journal *j;
	int rc = mmig_journal_open(&j, f->jdir, NULL, NULL);

	if (rc != MMIG_OK)
		return rc;
	rc = perform_on(f, j);
	mmig_journal_close(j);
	return rc;
}

/*
 * Fork a child that arms @p p at its @p nth hit and runs @p fn.
 * @return true when the child was killed by SIGKILL (the fault fired).
 */
static bool
crash_child(enum mmig_fault_point p, uint64_t nth, int (*fn)(struct fixture *))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (nth)
			mmig__fault_arm(p, nth, MMIG_FAULT_KILL);
		fn(F);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return true;
	}
	assert_true(WIFEXITED(status));
	return false;
}

/* ---- recovery, and the checks ------------------------------------------- */

static enum mmig_policy recover_policy;

static int
recover_now(struct fixture *f)
{
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = recover_policy,
		.scope_for_model = scope_for,
		.scope_arg = f,
		.log = quiet,
	};
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = registry(-1);
	struct mmig_journal *j;
	int rc;

	rc = mmig_journal_open(&j, f->jdir, NULL, NULL);
	if (rc == MMIG_OK)
		rc = mmig_recover(j, r, &o, &s);
	if (rc == MMIG_OK && s->n_unsettled)
		rc = MMIG_EATTENTION;
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return rc;
}


struct tally {
	unsigned trials, committed, rolled_back, violations;
};

static void
violation(struct tally *t, const char *what, const char *point, uint64_t k)
{
	t->violations++;
	fprintf(stderr, "violation after crash at %s #%llu: %s\n", point,
		(unsigned long long)k, what);
}

/* The invariants, from the journal and the databases. */
static void
check_settled(struct fixture *f, struct tally *t, const char *point,
	      uint64_t k)
{
	struct mmig_migration_info *list;
	struct mmig_journal *j;
	size_t n, problems;

	t->trials++;
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	if (n)
		violation(t, "still in flight", point, k);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig_journal_verify(j, NULL, NULL, &problems), MMIG_OK);
	if (problems)
		violation(t, "journal does not verify", point, k);
	assert_int_equal(mmig_journal_list(j, true, &list, &n), MMIG_OK);
	if (n == 1 &&
	    strcmp(mmig_migration_info_at(list, 0)->state, "COMMITTED") == 0) {
		t->committed++;
		if (steps_query(f->ctl, "SELECT count(*) FROM steps") != N_OPS)
			violation(t, "committed but rows missing", point, k);
		if (steps_query(f->ctl,
				"SELECT count(*) FROM tally WHERE what = 'do' "
				"AND n = 1") != N_OPS)
			violation(t, "committed but some op's work not exactly "
				     "once", point, k);
		if (steps_query(f->mfile, "SELECT count(*) FROM m") != 1)
			violation(t, "committed but model data wrong", point, k);
	} else if (n == 1 && strcmp(mmig_migration_info_at(list, 0)->state,
				    "ROLLED_BACK") == 0) {
		t->rolled_back++;
		if (steps_query(f->ctl, "SELECT count(*) FROM steps") != 0)
			violation(t, "rolled back but rows left", point, k);
		if (access(f->mfile, F_OK) == 0)
			violation(t, "rolled back but model file left", point,
				  k);
	} else if (n > 1) {
		violation(t, "more than one migration", point, k);
	}
	/* n == 0: the crash came before the first commit; nothing ran. */
	if (n == 0 && steps_query(f->ctl, "SELECT count(*) FROM steps") != 0)
		violation(t, "rows without any journal record (W)", point, k);
	if (steps_query(f->ctl, "SELECT count(*) FROM tally WHERE n > 1") != 0)
		violation(t, "an op's work or undo committed twice", point, k);
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
}

/* How many hits each point has in one uninterrupted run of @p fn. */
static void
count_hits(int (*fn)(struct fixture *), uint64_t hits[MMIG_FAULT_COUNT])
{
	int pfd[2];
	pid_t pid;
	int status;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		mmig__fault_count_only();
		fn(F);
		for (int p = 0; p < MMIG_FAULT_COUNT; p++)
			hits[p] = mmig__fault_hits((enum mmig_fault_point)p);
		if (write(pfd[1], hits, sizeof(uint64_t) * MMIG_FAULT_COUNT) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], hits, sizeof(uint64_t) * MMIG_FAULT_COUNT),
			 (ssize_t)(sizeof(uint64_t) * MMIG_FAULT_COUNT));
	close(pfd[0]);
	waitpid(pid, &status, 0);
}

static void
print_tally(const char *name, const struct tally *t)
{
	printf("%s: %u crash trials, %u committed, %u rolled back, "
	       "%u violations\n",
	       name, t->trials, t->committed, t->rolled_back, t->violations);
}

/*
 * Crash the forward run at every hit of every point, recover, check.
 * @return the number of crash points (point, hit) there were.
 */
static unsigned
crash_every_point(struct fixture *f, struct tally *t)
{
	uint64_t hits[MMIG_FAULT_COUNT];
	unsigned points = 0;

	wipe(f);
	count_hits(run_migration, hits);
	for (int p = 0; p < MMIG_FAULT_COUNT; p++) {
		points += (unsigned)hits[p];
		for (uint64_t k = 1; k <= hits[p]; k++) {
			wipe(f);
			assert_true(crash_child((enum mmig_fault_point)p, k,
						run_migration));
			assert_int_equal(recover_now(f), MMIG_OK);
			check_settled(f, t, mmig__fault_name(p), k);
		}
	}
	return points;
}

static void
test_recover_crash_at_every_point_rollback_policy(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	unsigned points = 0;

	recover_policy = MMIG_POLICY_ROLLBACK;
	for (int mode = 0; mode < 4; mode++) {
		f->durability = mode & 1 ? MMIG_PROCESS : MMIG_DURABLE;
		/* modes 2, 3: op 3 fails, so the child is itself rolling
		 * back when it is killed */
		steps_knobs.fail_execute_of = mode >= 2 ? 3 : -1;
		points += crash_every_point(f, &t);
	}
	print_tally("rollback policy, both durability modes, forward and "
		    "failing runs", &t);
	assert_int_equal(t.trials, points);
	assert_true(points >= 4 * 29);
	assert_int_equal(t.violations, 0);
	/* a crash after COMMITTED is durable stays committed */
	assert_true(t.committed > 0);
	assert_true(t.rolled_back > 0);
}

static void
test_recover_crash_at_every_point_resume_policy(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };

	unsigned points = 0;

	steps_knobs.idempotent = true;
	recover_policy = MMIG_POLICY_RESUME;
	for (int mode = 0; mode < 2; mode++) {
		f->durability = mode ? MMIG_PROCESS : MMIG_DURABLE;
		points += crash_every_point(f, &t);
	}
	print_tally("resume policy, both durability modes", &t);
	assert_int_equal(t.trials, points);
	assert_int_equal(t.violations, 0);
	/* resume finishes what was interrupted mid-way */
	assert_true(t.committed > t.trials / 2);
}

/*
 * The description in a side file (journal/side.c; the test threshold of 1
 * byte puts even "{}" there): crash at every hit of every point -- the
 * side file written but not synced, synced but no header -- and recover
 * under both policies, in durable mode.  A create killed before its header
 * leaves an orphan, removed when recovery opens the journal, and nothing
 * in flight.
 */
static void
test_recover_crash_at_every_point_side_file(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	uint64_t hits[MMIG_FAULT_COUNT];
	unsigned points = 0;

	setenv("MMIG_TEST_SIDE_MIN", "1", 1);
	f->durability = MMIG_DURABLE;
	wipe(f);
	count_hits(run_migration, hits);
	assert_int_equal(hits[MMIG_FAULT_SIDE_WRITTEN], 1);
	assert_int_equal(hits[MMIG_FAULT_SIDE_SYNCED], 1);

	recover_policy = MMIG_POLICY_ROLLBACK;
	points += crash_every_point(f, &t);
	print_tally("side file, rollback policy", &t);
	steps_knobs.idempotent = true;
	recover_policy = MMIG_POLICY_RESUME;
	points += crash_every_point(f, &t);
	print_tally("side file, both policies", &t);
	unsetenv("MMIG_TEST_SIDE_MIN");
	assert_int_equal(t.trials, points);
	assert_true(points >= 2 * 29);
	assert_int_equal(t.violations, 0);
	assert_true(t.committed > 0);
	assert_true(t.rolled_back > 0);
}

/*
 * A side file gone: recovery cannot roll back or resume without the model,
 * so the migration is left NEEDS_ATTENTION, the message naming the file,
 * the databases untouched.  With the file put back, a rollback by id
 * settles it.
 */
static void
test_recover_missing_side_file_needs_attention(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for,
		.scope_arg = f,
		.log = quiet,
	};
	struct mmig_recover_summary *s = NULL;
	struct mmig_migration_info *list;
	struct mmig_registry *r = registry(-1);
	const struct mmig_recover_item *it;
	struct mmig_journal *j;
	char side[256], saved[256], cmd[600];
	struct tally t = { 0 };
	uint8_t id[MMIG_ID_LEN];
	size_t n;

	setenv("MMIG_TEST_SIDE_MIN", "1", 1);
	wipe(f);
	/* killed before op 2's execute: ops 0 and 1 done */
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 3, run_migration));
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	snprintf(f->id, sizeof(f->id), "%s", mmig_migration_info_at(list, 0)->id);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig__id_parse(f->id, id), MMIG_OK);
	{
		char name[MMIG__SIDE_NAME_LEN];

		mmig__side_name(id, name);
		snprintf(side, sizeof(side), "%s/%s", f->jdir, name);
		snprintf(saved, sizeof(saved), "%s/saved-side", f->dir);
	}
	assert_int_equal(rename(side, saved), 0);

	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 1);
	it = mmig_recover_summary_item(s, 0);
	assert_int_equal(it->action, MMIG_RECOVER_NEEDS_ATTENTION);
	assert_non_null(strstr(it->message, side));
	assert_non_null(strstr(it->message, "missing"));
	mmig_recover_summary_free(s);
	s = NULL;
	/* nothing undone: ops 0 and 1's rows are there */
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state,
			    "NEEDS_ATTENTION");
	mmig_migration_info_free(list, n);
	/* policy recovery leaves it alone now (by id only) */
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_SKIPPED_ATTENTION);
	assert_non_null(strstr(mmig_recover_summary_item(s, 0)->message, side));
	mmig_recover_summary_free(s);
	s = NULL;

	/* the operator puts the file back and rolls it back by id */
	snprintf(cmd, sizeof(cmd), "mv %s %s", saved, side);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mmig_recover_one(j, r, &o, f->id,
					  MMIG_RECOVER_MODE_ROLLBACK, &s),
			 MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	unsetenv("MMIG_TEST_SIDE_MIN");
	check_settled(f, &t, "OP_EXECUTE", 3);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

/* Recovery run in a child, so that it can be crashed too. */
static int
recover_child(struct fixture *f)
{
	return recover_now(f);
}

static void
snapshot(struct fixture *f, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", to, f->dir, to);
	assert_int_equal(system(cmd), 0);
}

static void
restore(struct fixture *f, const char *from)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", f->dir, from,
		 f->dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * For each forward crash point: crash recovery at every hit of every
 * point, then crash the next recovery again at the same place, then
 * recover for good.
 */
static void
test_recover_crash_during_recovery_at_every_point(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	uint64_t hits[MMIG_FAULT_COUNT];
	char snap[128];
	unsigned nested = 0;

	snprintf(snap, sizeof(snap), "%s.snap", f->dir);
	recover_policy = MMIG_POLICY_ROLLBACK;
	f->durability = MMIG_PROCESS;
	wipe(f);
	count_hits(run_migration, hits);
	/* forward crashes inside each op's database work */
	for (uint64_t k = 1; k <= hits[MMIG_FAULT_DB_COMMITTED]; k += 2) {
		wipe(f);
		assert_true(crash_child(MMIG_FAULT_DB_COMMITTED, k,
					run_migration));
		snapshot(f, snap);
		for (int p = 0; p < MMIG_FAULT_COUNT; p++) {
			for (uint64_t r = 1;; r++) {
				char where[64];

				restore(f, snap);
				if (!crash_child((enum mmig_fault_point)p, r,
						 recover_child))
					break; /* past the last hit */
				nested++;
				/* and crash the second recovery at the same
				 * point again, if it gets there */
				if (crash_child((enum mmig_fault_point)p, r,
						recover_child))
					nested++;
				assert_int_equal(recover_now(f), MMIG_OK);
				snprintf(where, sizeof(where),
					 "DB_COMMITTED #%llu then %s",
					 (unsigned long long)k,
					 mmig__fault_name(p));
				check_settled(f, &t, where, r);
			}
		}
	}
	printf("crashed recoveries: %u (nested), ", nested);
	print_tally("recovery crashed at every point", &t);
	assert_true(nested > 20);
	assert_int_equal(t.violations, 0);
	snapshot(f, snap); /* keeps cp happy */
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", snap);
		assert_int_equal(system(cmd), 0);
	}
}

static int
recover_in_child_concurrently(struct fixture *f)
{
	return recover_now(f) == MMIG_OK ? 0 : 1;
}

static void
test_recover_two_recoverers_at_once(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	pid_t a, b;
	int sa, sb;

	recover_policy = MMIG_POLICY_ROLLBACK;
	wipe(f);
	assert_true(crash_child(MMIG_FAULT_DB_COMMITTED, 4, run_migration));
	a = fork();
	if (a == 0)
		_exit(recover_in_child_concurrently(f));
	b = fork();
	if (b == 0)
		_exit(recover_in_child_concurrently(f));
	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	assert_true(WIFEXITED(sa) && WIFEXITED(sb));
	check_settled(f, &t, "two recoverers", 0);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

static void
open_all(struct fixture *f, struct mmig_journal **j,
	 struct mmig_registry **r, int skip)
{
	assert_int_equal(mmig_journal_open(j, f->jdir, NULL, NULL), MMIG_OK);
	*r = registry(skip);
}

static struct mmig_recover_options
options(struct fixture *f)
{
	return (struct mmig_recover_options){
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for,
		.scope_arg = f,
		.log = quiet,
	};
}


/* Wait (up to 5 s) until @p n steps committed. */
static void
wait_for_steps(struct fixture *f, long long n)
{
	for (int i = 0;
	     i < 500 && steps_query(f->ctl, "SELECT count(*) FROM steps") < n;
	     i++)
		usleep(10000);
}

/*
 * Start the migration in a child that stops inside op 2 until the parent
 * writes to (or closes) *go_w, and wait until ops 0 and 1 committed.  The
 * child exits 0 when perform returns @p expect.
 */
static pid_t
start_blocked_owner(struct fixture *f, int expect, int *go_w)
{
	int go[2];
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		_exit(run_migration(f) == expect ? 0 : 1);
	}
	close(go[0]);
	wait_for_steps(f, 2);
	*go_w = go[1];
	return pid;
}

static void
test_recover_live_owner_not_taken_over(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	int go, status;
	pid_t pid;

	wipe(f);
	pid = start_blocked_owner(f, MMIG_OK, &go);
	open_all(f, &j, &r, -1);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_SKIPPED_LIVE);
	assert_non_null(
		strstr(mmig_recover_summary_item(s, 0)->message, "is alive"));
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	/* let it finish: it commits, untouched */
	assert_int_equal(write(go, "g", 1), 1);
	close(go);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"),
			 N_OPS);
}

/*
 * A recovery that fails after its claim leaves this process as the owner.
 * The same process, recovering again, takes the migration over once more:
 * it is not waiting for its own end.
 */
static void
test_recover_retries_in_the_same_process_after_a_failure(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	struct mmig_journal *j;
	struct mmig_registry *r;

	wipe(f);
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 2, run_migration));
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 1);
	open_all(f, &j, &r, -1);
	mmig__fault_arm(MMIG_FAULT_RECOVER_FENCED, 1, MMIG_FAULT_EIO);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	mmig__fault_disarm();
	assert_int_equal(s->n, 1);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_FAILED);
	assert_int_equal(
		mmig_journal_get(j, mmig_recover_summary_item(s, 0)->id, &info),
		MMIG_OK);
	assert_int_equal(info.owner_pid, (unsigned)getpid());
	assert_false(info.owner_alive); /* owned here, driven by nothing */
	mmig_migration_info_clear(&info);
	mmig_recover_summary_free(s);

	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(s);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 0);
	mmig_journal_close(j);
	mmig_registry_free(r);
}

struct driver {
	struct fixture *f;
	struct mmig_journal *j;
	int rc;
};

static void *
drive(void *arg)
{
	struct driver *d = arg;

	d->rc = perform_on(d->f, d->j);
	return NULL;
}

/* ...but what a thread of this process is running is left alone. */
static void
test_recover_leaves_what_this_process_runs(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct driver d = { .f = f };
	struct mmig_registry *r;
	pthread_t tid;
	int go[2];

	wipe(f);
	open_all(f, &d.j, &r, -1);
	assert_int_equal(pipe(go), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	assert_int_equal(pthread_create(&tid, NULL, drive, &d), 0);
	wait_for_steps(f, 2);
	assert_int_equal(mmig_recover(d.j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_SKIPPED_LIVE);
	mmig_recover_summary_free(s);
	assert_int_equal(write(go[1], "g", 1), 1);
	pthread_join(tid, NULL);
	steps_knobs.block_in_op = -1;
	close(go[0]);
	close(go[1]);
	assert_int_equal(d.rc, MMIG_OK);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"),
			 N_OPS);
	mmig_journal_close(d.j);
	mmig_registry_free(r);
}

static void
test_recover_unknown_op_and_version_refused_nothing_changed(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	char data[200];
	uint64_t jh, ch;

	wipe(f);
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 4, run_migration));
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	jh = steps_file_hash(data);
	ch = steps_file_hash(f->ctl);
	/* a registry without step3 */
	open_all(f, &j, &r, 3);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_REFUSED);
	assert_int_equal(s->n_unsettled, 1);
	assert_non_null(strstr(mmig_recover_summary_item(s, 0)->message,
			       "unknown operation \"step3\""));
	mmig_recover_summary_free(s);
	mmig_registry_free(r);
	/* a registry with step3 at another version */
	r = registry(3);
	{
		static struct mmig_op_vtable v2;

		v2 = *steps_vtable(3);
		v2.version = 2;
		assert_int_equal(mmig_registry_add(r, &v2, steps_ctor,
						   (void *)(intptr_t)3),
				 MMIG_OK);
	}
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_REFUSED);
	assert_non_null(
		strstr(mmig_recover_summary_item(s, 0)->message,
		       "\"step3\" version 1: this build has version 2"));
	mmig_recover_summary_free(s);
	mmig_registry_free(r);
	mmig_journal_close(j);
	/* nothing was written: the sync recovery starts with aside, the
	 * journal's bytes and the database's are as they were */
	assert_true(jh == steps_file_hash(data));
	assert_true(ch == steps_file_hash(f->ctl));
	/* with the right registry it settles */
	assert_int_equal(recover_now(f), MMIG_OK);
}

static void
test_recover_failed_rollback_needs_attention_then_retry(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	struct tally t = { 0 };
	char id[37];

	wipe(f);
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 5, run_migration));
	steps_knobs.fail_rollback_of = 1;
	open_all(f, &j, &r, -1);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_NEEDS_ATTENTION);
	assert_non_null(
		strstr(mmig_recover_summary_item(s, 0)->message, "sad at 1"));
	snprintf(id, sizeof(id), "%s", mmig_recover_summary_item(s, 0)->id);
	mmig_recover_summary_free(s);
	/* ops 4..2 and 0 were undone, 1 was not */
	assert_int_equal(
		steps_query(f->ctl, "SELECT group_concat(op) FROM steps"), 1);
	/* a plain recover leaves it to the operator */
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_SKIPPED_ATTENTION);
	mmig_recover_summary_free(s);
	/* the cause is fixed; rollback by id retries only op 1 */
	steps_knobs.fail_rollback_of = -1;
	assert_int_equal(mmig_recover_one(j, r, &o, id,
					  MMIG_RECOVER_MODE_ROLLBACK, &s),
			 MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	check_settled(f, &t, "needs attention, then rollback", 0);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

static int
run_paused(struct fixture *f)
{
	steps_knobs.fail_execute_of = -1;
	return run_migration(f);
}

static void
test_recover_paused_left_alone_then_resumed_by_id(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	struct mmig_ctx *ctx;
	struct mmig_model model = { .uuid = MODEL_UUID, .desc = "{}",
				    .desc_len = 2 };
	char id[37];

	(void)run_paused;
	wipe(f);
	steps_knobs.idempotent = true;
	open_all(f, &j, &r, -1);
	/* a migration paused before its first op, by this process */
	mmig_coordinator_new(&c, quiet, NULL);
	assert_int_equal(steps_add(c, r, N_OPS), MMIG_OK);
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	mmig_scope_for_model(&scope, f->ctl, f->mdir, MODEL_UUID, MMIG_DURABLE);
	mmig_ctx_new(&ctx);
	mmig_ctx_pause(ctx);
	assert_int_equal(mmig_coordinator_perform(c, ctx, scope, &model),
			 MMIG_EPAUSED);
	snprintf(id, sizeof(id), "%s", mmig_coordinator_migration_id(c));
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_ctx_free(ctx);
	/* its owner, this process, is alive, but a paused migration rests */
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_SKIPPED_PAUSED);
	mmig_recover_summary_free(s);
	assert_int_equal(mmig_recover_one(j, r, &o, id,
					  MMIG_RECOVER_MODE_RESUME, &s),
			 MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_COMMITTED);
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"),
			 N_OPS);
}

static void
test_recover_resume_does_not_redo_committed_transactions(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };

	/* killed right after op 2's controller transaction committed, before
	 * DONE 2: resume runs op 2 again, its committed transaction is
	 * skipped (the tally would count 2 otherwise).  Commits before it:
	 * op 0's controller transaction, the fenced creation of the model
	 * database (a controller transaction too), op 0's model transaction,
	 * op 1's. */
	steps_knobs.idempotent = true;
	recover_policy = MMIG_POLICY_RESUME;
	wipe(f);
	assert_true(crash_child(MMIG_FAULT_DB_COMMITTED, 5, run_migration));
	assert_int_equal(steps_query(f->ctl,
				     "SELECT n FROM tally WHERE op = 2 AND "
				     "what = 'do'"),
			 1);
	assert_int_equal(recover_now(f), MMIG_OK);
	check_settled(f, &t, "resume after DB commit", 3);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.committed, 1);
	assert_int_equal(steps_query(f->ctl,
				     "SELECT n FROM tally WHERE op = 2 AND "
				     "what = 'do'"),
			 1);
}

/*
 * mmig_recover_options.ctx, cancelled (paused) before recovery: nothing is
 * claimed, nothing written, nothing run; the migration stays in flight as
 * it was and the next recovery settles it, exactly once.
 */
static void
test_recover_stopped_by_ctx_claims_nothing(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_migration_info before = MMIG_MIGRATION_INFO_INIT,
				   after = MMIG_MIGRATION_INFO_INIT;
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	struct mmig_ctx *ctx;
	struct mmig_migration_info *list;
	struct tally t = { 0 };
	size_t n;

	steps_knobs.idempotent = true;
	wipe(f);
	/* killed before op 2's execute */
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 3, run_migration));
	open_all(f, &j, &r, -1);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(mmig_journal_get(j, mmig_migration_info_at(list, 0)->id,
					  &before),
			 MMIG_OK);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig_ctx_new(&ctx), MMIG_OK);
	mmig_ctx_pause(ctx);
	o.ctx = ctx;
	o.policy = MMIG_POLICY_RESUME;
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 0); /* not reached, not in the summary */
	mmig_recover_summary_free(s);
	assert_int_equal(mmig_recover_one(j, r, &o, before.id,
					  MMIG_RECOVER_MODE_ROLLBACK, &s),
			 MMIG_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_FAILED);
	assert_non_null(strstr(mmig_recover_summary_item(s, 0)->message,
			       "stopped before it was claimed"));
	mmig_recover_summary_free(s);
	assert_int_equal(mmig_journal_get(j, before.id, &after), MMIG_OK);
	assert_string_equal(after.state, "RUNNING");
	assert_int_equal(after.epoch, before.epoch);
	assert_int_equal(after.ops_done, before.ops_done);
	assert_int_equal(after.updated_ns, before.updated_ns);
	mmig_migration_info_clear(&before);
	mmig_migration_info_clear(&after);
	mmig_ctx_free(ctx);
	mmig_journal_close(j);
	mmig_registry_free(r);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	/* the next recovery, not stopped, settles it */
	recover_policy = MMIG_POLICY_RESUME;
	assert_int_equal(recover_now(f), MMIG_OK);
	check_settled(f, &t, "stopped, then recovered", 0);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.committed, 1);
}

static void
test_recover_stale_owner_fenced_out(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_journal *j;
	struct mmig_registry *r;
	int go, status;
	pid_t pid;

	wipe(f);
	pid = start_blocked_owner(f, MMIG_EFENCED, &go);
	/* an operator forces a rollback while the owner is still running */
	o.force = true;
	open_all(f, &j, &r, -1);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(mmig_recover_summary_item(s, 0)->action,
			 MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	/* the stale owner wakes up and tries to commit op 2: refused */
	assert_int_equal(write(go, "g", 1), 1);
	close(go);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 0);
	assert_int_equal(
		steps_query(f->ctl, "SELECT count(*) FROM tally WHERE op = 2"),
		0);
}

static void
steps_equal(const struct mmig_recover_item *a,
	    const struct mmig_recover_item *b)
{
	assert_int_equal(a->n_steps, b->n_steps);
	for (size_t i = 0; i < a->n_steps; i++)
		assert_string_equal(a->steps[i], b->steps[i]);
	assert_int_equal(a->action, b->action);
}

static void
test_recover_plan_matches_recover_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *plan, *done;
	struct mmig_journal *j;
	struct mmig_registry *r;
	char data[200];
	uint64_t jh, ch;

	wipe(f);
	assert_true(crash_child(MMIG_FAULT_JOURNAL_COMMITTED, 3,
				run_migration));
	snprintf(data, sizeof(data), "%s/data.mdb", f->jdir);
	open_all(f, &j, &r, -1);
	jh = steps_file_hash(data);
	ch = steps_file_hash(f->ctl);
	assert_int_equal(mmig_recover_plan(j, r, &o, NULL,
					   MMIG_RECOVER_MODE_POLICY, &plan),
			 MMIG_OK);
	assert_true(jh == steps_file_hash(data));
	assert_true(ch == steps_file_hash(f->ctl));
	assert_int_equal(plan->n, 1);
	/* killed after the third commit (header + BEGIN 0, DONE 0 + BEGIN 1,
	 * DONE 1 + BEGIN 2): op 3 is one ahead */
	assert_string_equal(mmig_recover_summary_item(plan, 0)->steps[0],
			    "roll back op 3 step3 (may have started: one "
			    "ahead)");
	assert_string_equal(mmig_recover_summary_item(plan, 0)->steps[3],
			    "roll back op 0 step0");
	/* No step deletes the model database: step 0's rollback does. */
	assert_string_equal(mmig_recover_summary_item(plan, 0)->steps[4],
			    "record ROLLED_BACK");
	assert_int_equal(mmig_recover_summary_item(plan, 0)->n_steps, 5);
	/* The same steps as data: {action, index, op, detail, text}. */
	{
		const struct mmig_recover_item *it =
			mmig_recover_summary_item(plan, 0);
		const struct mmig_recover_step *st = it->step_info;

		assert_non_null(st);
		assert_string_equal(st[0].action, "roll-back");
		assert_int_equal(st[0].index, 3);
		assert_string_equal(st[0].op, "step3");
		assert_string_equal(st[0].detail,
				    "may have started: one ahead");
		assert_string_equal(st[3].action, "roll-back");
		assert_int_equal(st[3].index, 0);
		assert_null(st[3].detail);
		assert_string_equal(st[4].action, "record");
		assert_int_equal(st[4].index, -1);
		assert_null(st[4].op);
		assert_string_equal(st[4].detail, "ROLLED_BACK");
		for (size_t i = 0; i < it->n_steps; i++)
			assert_ptr_equal(st[i].text, it->steps[i]);
	}
	assert_int_equal(mmig_recover(j, r, &o, &done), MMIG_OK);
	steps_equal(mmig_recover_summary_item(plan, 0),
		    mmig_recover_summary_item(done, 0));
	mmig_recover_summary_free(plan);
	mmig_recover_summary_free(done);
	mmig_journal_close(j);
	mmig_registry_free(r);
}

/* ---- a model database that existed before the migration ---------------- */

/* A model database with rows of its own, made before any migration. */
static void
make_existing_model(struct fixture *f)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->mfile, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA journal_mode=WAL;"
				      "CREATE TABLE pre (k INTEGER PRIMARY KEY, "
				      "v TEXT);"
				      "INSERT INTO pre VALUES (1, 'one'), "
				      "(2, 'two'), (3, 'three');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}

/* Its rows as text, to compare with what was there; "" when gone. */
static void
existing_rows(struct fixture *f, char *out, size_t size)
{
	sqlite3_stmt *st;
	sqlite3 *db;

	out[0] = '\0';
	if (access(f->mfile, F_OK) != 0)
		return;
	assert_int_equal(sqlite3_open_v2(f->mfile, &db, SQLITE_OPEN_READONLY,
					 NULL),
			 SQLITE_OK);
	if (sqlite3_prepare_v2(db,
			       "SELECT group_concat(k || '=' || v, ',') FROM "
			       "(SELECT * FROM pre ORDER BY k)",
			       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0))
			snprintf(out, size, "%s",
				 (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

#define EXISTING_ROWS "1=one,2=two,3=three"

/* The invariants of a migration of an existing model database: settled,
 * and the database there with every row it had. */
static void
check_kept(struct fixture *f, struct tally *t, const char *point, uint64_t k)
{
	struct mmig_migration_info *list;
	struct mmig_journal *j;
	char rows[256];
	size_t n, problems;
	int n_ops = f->n_ops ? f->n_ops : N_OPS;

	t->trials++;
	existing_rows(f, rows, sizeof(rows));
	if (strcmp(rows, EXISTING_ROWS) != 0)
		violation(t, "the existing model database lost rows", point, k);
	if (steps_query(f->mfile, "SELECT count(*) FROM pre") != 3)
		violation(t, "the existing model database changed", point, k);
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	if (n)
		violation(t, "still in flight", point, k);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig_journal_verify(j, NULL, NULL, &problems), MMIG_OK);
	if (problems)
		violation(t, "journal does not verify", point, k);
	assert_int_equal(mmig_journal_list(j, true, &list, &n), MMIG_OK);
	if (n == 1 && strcmp(list[0].state, "COMMITTED") == 0) {
		t->committed++;
		if (steps_query(f->ctl, "SELECT count(*) FROM steps") != n_ops)
			violation(t, "committed but rows missing", point, k);
		if (steps_query(f->mfile, "SELECT count(*) FROM m") != 1)
			violation(t, "committed but model data wrong", point, k);
	} else if (n == 1 && strcmp(list[0].state, "ROLLED_BACK") == 0) {
		t->rolled_back++;
		if (steps_query(f->ctl, "SELECT count(*) FROM steps") != 0)
			violation(t, "rolled back but rows left", point, k);
		/* what the ops wrote there is undone, the rest stays */
		if (steps_query(f->mfile, "SELECT count(*) FROM m") > 0)
			violation(t, "rolled back but op 2's row left", point,
				  k);
	} else if (n > 1) {
		violation(t, "more than one migration", point, k);
	}
	if (steps_query(f->ctl, "SELECT count(*) FROM tally WHERE n > 1") != 0)
		violation(t, "an op's work or undo committed twice", point, k);
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
}

static void
test_recover_existing_model_db_kept_after_failed_perform(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	char rows[256];

	/* four ops that never delete the model database; op 2 of 4 fails
	 * after writing to it */
	wipe(f);
	f->n_ops = 4;
	steps_knobs.keep_model = true;
	steps_knobs.fail_execute_of = 2;
	make_existing_model(f);
	assert_int_equal(run_migration(f), MMIG_EOP);
	existing_rows(f, rows, sizeof(rows));
	assert_string_equal(rows, EXISTING_ROWS);
	check_kept(f, &t, "failed perform", 0);
	assert_int_equal(t.rolled_back, 1);
	assert_int_equal(t.violations, 0);
	/* a rollback by recovery, of a crash before anything was undone */
	wipe(f);
	make_existing_model(f);
	assert_true(crash_child(MMIG_FAULT_OP_EXECUTE, 3, run_migration));
	recover_policy = MMIG_POLICY_ROLLBACK;
	assert_int_equal(recover_now(f), MMIG_OK);
	check_kept(f, &t, "OP_EXECUTE", 3);
	assert_int_equal(t.rolled_back, 2);
	assert_int_equal(t.violations, 0);
}

/* Crash at every hit of every point, recover with @p policy, check. */
static unsigned
crash_every_point_kept(struct fixture *f, struct tally *t,
		       enum mmig_policy policy)
{
	uint64_t hits[MMIG_FAULT_COUNT];
	unsigned points = 0;

	recover_policy = policy;
	wipe(f);
	make_existing_model(f);
	count_hits(run_migration, hits);
	for (int p = 0; p < MMIG_FAULT_COUNT; p++) {
		points += (unsigned)hits[p];
		for (uint64_t k = 1; k <= hits[p]; k++) {
			wipe(f);
			make_existing_model(f);
			assert_true(crash_child((enum mmig_fault_point)p, k,
						run_migration));
			assert_int_equal(recover_now(f), MMIG_OK);
			check_kept(f, t, mmig__fault_name(p), k);
		}
	}
	return points;
}

static void
test_recover_existing_model_db_kept_after_crash_at_every_point(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	unsigned points = 0;

	f->n_ops = 4;
	f->durability = MMIG_PROCESS;
	steps_knobs.keep_model = true;
	/* rollback policy: a run that would commit, and one whose op 2
	 * fails (killed while it rolls back) */
	steps_knobs.fail_execute_of = -1;
	points += crash_every_point_kept(f, &t, MMIG_POLICY_ROLLBACK);
	steps_knobs.fail_execute_of = 2;
	points += crash_every_point_kept(f, &t, MMIG_POLICY_ROLLBACK);
	/* resume policy (the ops may be run again) */
	steps_knobs.fail_execute_of = -1;
	steps_knobs.idempotent = true;
	points += crash_every_point_kept(f, &t, MMIG_POLICY_RESUME);
	print_tally("existing model database, both policies", &t);
	assert_int_equal(t.trials, points);
	assert_true(points >= 3 * 10);
	assert_int_equal(t.violations, 0);
	assert_true(t.committed > 0);
	assert_true(t.rolled_back > 0);
}

/* ---- a failed deletion of the model database, settled ------------------- */

/* The fold of migration @p id, read from the journal. */
static void
read_fold(struct fixture *f, const char *id, struct mmig_fold *fold)
{
	struct mmig_journal *j;
	struct mmig_rec_header h;
	struct mmig_error *err = NULL;
	uint8_t bin[MMIG_ID_LEN];
	MDB_txn *txn;

	assert_int_equal(mmig__id_parse(id, bin), MMIG_OK);
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig__journal_read_begin(j, &txn), MMIG_OK);
	assert_int_equal(mmig__journal_header(j, txn, bin, &h, &err), MMIG_OK);
	assert_int_equal(mmig__journal_fold(j, txn, bin, h.n_ops, fold, NULL,
					    &err),
			 MMIG_OK);
	mmig__journal_read_end(j, txn);
	mmig__rec_header_free(&h);
	mmig_journal_close(j);
}

/* `rollback ID` of the test's migration; @return the action. */
static enum mmig_recover_action
settle(struct fixture *f)
{
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = registry(-1);
	struct mmig_journal *j;
	enum mmig_recover_action a = MMIG_RECOVER_FAILED;

	o.rollback_tries = 1;
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	if (mmig_recover_one(j, r, &o, f->id, MMIG_RECOVER_MODE_ROLLBACK,
			     &s) == MMIG_OK)
		a = s->items[0].action;
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return a;
}

static int
settle_child(struct fixture *f)
{
	return settle(f) == MMIG_RECOVER_ROLLED_BACK ? MMIG_OK : MMIG_EOP;
}

/* A perform whose op 3 fails and whose deletion of the model database
 * (in op 0's rollback) fails with EIO: NEEDS_ATTENTION. */
static void
fail_the_delete(struct fixture *f)
{
	struct mmig_migration_info *list;
	struct mmig_journal *j;
	size_t n;

	wipe(f);
	steps_knobs.fail_execute_of = 3;
	mmig__fault_arm(MMIG_FAULT_MODEL_DELETE, 1, MMIG_FAULT_EIO);
	assert_int_equal(run_migration(f), MMIG_EOP);
	mmig__fault_disarm();
	steps_knobs.fail_execute_of = -1;
	assert_int_equal(mmig_journal_open(&j, f->jdir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].state, "NEEDS_ATTENTION");
	assert_non_null(strstr(list[0].last_error, "injected I/O error"));
	snprintf(f->id, sizeof(f->id), "%s", list[0].id);
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
	/* the database is still there, and so is op 0's row, which says it
	 * is this migration's */
	assert_int_equal(access(f->mfile, F_OK), 0);
	assert_int_equal(
		steps_query(f->ctl, "SELECT group_concat(op) FROM steps"), 0);
}

static void
test_recover_failed_delete_needs_attention_then_settled(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	struct mmig_fold fold;
	uint64_t before, grew = 0;

	fail_the_delete(f);
	read_fold(f, f->id, &fold);
	assert_false(fold.model_deleted);
	before = fold.n_records;
	mmig__fold_free(&fold);
	/* retried while the cause is still there: each try fails the same
	 * way and adds the same few records, however many tries */
	for (int i = 0; i < 4; i++) {
		mmig__fault_arm(MMIG_FAULT_MODEL_DELETE, 1, MMIG_FAULT_EIO);
		assert_int_equal(settle(f), MMIG_RECOVER_NEEDS_ATTENTION);
		mmig__fault_disarm();
		read_fold(f, f->id, &fold);
		assert_int_equal(fold.state, MMIG_STATE_NEEDS_ATTENTION);
		grew = fold.n_records - before;
		/* CLAIMED, UNDO_BEGIN 0, UNDO_FAIL 0, NEEDS_ATTENTION; the
		 * first try also undoes op 4 once (UNDO_BEGIN 4, UNDO_DONE
		 * 4): recovery's one ahead, which perform did not need */
		assert_int_equal(grew, i == 0 ? 6 : 4);
		before = fold.n_records;
		mmig__fold_free(&fold);
		assert_int_equal(access(f->mfile, F_OK), 0);
	}
	/* the cause is gone: settled, the file gone, and recorded */
	assert_int_equal(settle(f), MMIG_RECOVER_ROLLED_BACK);
	read_fold(f, f->id, &fold);
	assert_int_equal(fold.state, MMIG_STATE_ROLLED_BACK);
	assert_true(fold.model_deleted);
	mmig__fold_free(&fold);
	check_settled(f, &t, "failed delete, then rollback by id", 0);
	assert_int_equal(t.rolled_back, 1);
	assert_int_equal(t.violations, 0);
	/* and again: nothing more to do, nothing written */
	read_fold(f, f->id, &fold);
	before = fold.n_records;
	mmig__fold_free(&fold);
	assert_int_equal(settle(f), MMIG_RECOVER_ROLLED_BACK);
	read_fold(f, f->id, &fold);
	assert_int_equal(fold.n_records, before);
	mmig__fold_free(&fold);
}

static void
test_recover_failed_delete_settle_crashed_at_every_point(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	uint64_t hits[MMIG_FAULT_COUNT];
	char snap[128];
	unsigned points = 0;

	snprintf(snap, sizeof(snap), "%s.snap", f->dir);
	fail_the_delete(f);
	snapshot(f, snap);
	count_hits(settle_child, hits);
	assert_true(hits[MMIG_FAULT_MODEL_DELETE] >= 1);
	assert_true(hits[MMIG_FAULT_MODEL_UNLINKED] >= 1);
	for (int p = 0; p < MMIG_FAULT_COUNT; p++) {
		for (uint64_t k = 1; k <= hits[p]; k++) {
			restore(f, snap);
			assert_true(crash_child((enum mmig_fault_point)p, k,
						settle_child));
			points++;
			/* crashed while settling: settle again */
			assert_int_equal(settle(f), MMIG_RECOVER_ROLLED_BACK);
			check_settled(f, &t, mmig__fault_name(p), k);
		}
	}
	print_tally("failed delete, settle crashed at every point", &t);
	assert_int_equal(t.trials, points);
	assert_true(points >= 8);
	assert_int_equal(t.rolled_back, points);
	assert_int_equal(t.violations, 0);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", snap);
		assert_int_equal(system(cmd), 0);
	}
}

/* ---- a stale owner neither makes nor deletes the model database --------- */

static void
test_recover_stale_owner_paused_before_model_db_makes_no_file(void **state)
{
	struct fixture *f = *state;
	struct mmig_recover_options o = options(f);
	struct mmig_recover_summary *s;
	struct mmig_registry *r;
	struct mmig_journal *j;
	struct tally t = { 0 };
	int go[2], status;
	pid_t pid;

	wipe(f);
	assert_int_equal(pipe(go), 0);
	steps_knobs.block_before_model = true;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		_exit(run_migration(f) == MMIG_OK ? 0 : 1);
	}
	close(go[0]);
	steps_knobs_reset();
	/* the owner is in op 0, its controller transaction committed, its
	 * model database not yet opened */
	while (steps_query(f->ctl, "SELECT count(*) FROM steps") != 1)
		usleep(10000);
	assert_int_equal(access(f->mfile, F_OK), -1);
	/* the operator forces a rollback, taking the migration over */
	o.force = true;
	open_all(f, &j, &r, -1);
	assert_int_equal(mmig_recover(j, r, &o, &s), MMIG_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->items[0].action, MMIG_RECOVER_ROLLED_BACK);
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	/* the stale owner goes on: it may not make the file */
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(access(f->mfile, F_OK), -1);
	check_settled(f, &t, "stale owner after a forced rollback", 0);
	assert_int_equal(t.rolled_back, 1);
	assert_int_equal(t.violations, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_recover_crash_at_every_point_rollback_policy),
		T(test_recover_crash_at_every_point_resume_policy),
		T(test_recover_crash_at_every_point_side_file),
		T(test_recover_missing_side_file_needs_attention),
		T(test_recover_crash_during_recovery_at_every_point),
		T(test_recover_two_recoverers_at_once),
		T(test_recover_live_owner_not_taken_over),
		T(test_recover_retries_in_the_same_process_after_a_failure),
		T(test_recover_leaves_what_this_process_runs),
		T(test_recover_unknown_op_and_version_refused_nothing_changed),
		T(test_recover_failed_rollback_needs_attention_then_retry),
		T(test_recover_paused_left_alone_then_resumed_by_id),
		T(test_recover_resume_does_not_redo_committed_transactions),
		T(test_recover_stale_owner_fenced_out),
		T(test_recover_stopped_by_ctx_claims_nothing),
		T(test_recover_plan_matches_recover_and_writes_nothing),
		T(test_recover_existing_model_db_kept_after_failed_perform),
		T(test_recover_existing_model_db_kept_after_crash_at_every_point),
		T(test_recover_failed_delete_needs_attention_then_settled),
		T(test_recover_failed_delete_settle_crashed_at_every_point),
		T(test_recover_stale_owner_paused_before_model_db_makes_no_file),
#undef T
	};

	/* MMIG_TEST_FILTER=PATTERN runs only the tests it matches. */
	if (getenv("MMIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MMIG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
