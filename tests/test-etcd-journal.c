/*
 * tests/test-etcd-journal.c - the journal's etcd backend against a real
 * 3-member cluster: a migration committed through the unchanged
 * coordinator; "node A" SIGKILLed mid-migration (at fault points, or
 * blocked inside an op) and settled by a process with another node name
 * once A's lease expired, under both policies, every op's work exactly
 * once; a live owner skipped by recovery (EOWNED); a stale owner's append
 * refused (fenced) after another node claimed.
 *
 * Run through `scripts/etcd-cluster.sh run -- test-etcd-journal` (meson
 * does): the endpoints come in MMIG_ETCD_ENDPOINTS.  Every trial uses a
 * prefix of its own.  Nodes are processes with their own node names and
 * a 2 s lease; the target databases are SQLite files all of them reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "etcd.h"
#include "fault.h"
#include "internal.h"
#include "journal-int.h"
#include "mmig/mmig.h"
#include "steps.h"

#define N_OPS 5
#define TTL_S 2
#define MODEL_UUID "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

static const char *endpoints;
static const char *cluster_dir;
static const char *cluster_script;
/* The lease TTL nodes open the journal with. */
static unsigned ttl_s = TTL_S;
/* The model the next migration imports. */
static const char *model_uuid = MODEL_UUID;
/* The description the next migration records. */
static const char *model_desc = "{}";
static size_t model_desc_len = 2;

/* Run the cluster script: "kill leader", "restart 1", ...; @return the
 * number it printed (a member), or 0. */
static int
cluster(const char *fmt, ...)
{
	char args[128], cmd[1024], out[64] = "";
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %.*s '%s' %s", cluster_script,
		 (int)strcspn(args, " "), args, cluster_dir,
		 args + strcspn(args, " "));
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	st = pclose(f);
	if (st != 0)
		fail_msg("cluster script failed: %s", cmd);
	return atoi(out);
}

struct fixture {
	char dir[64];
	char ctl[128];
	char mdir[128];
	char mfile[200];
	char prefix[96];
	enum mmig_durability durability;
};

static struct fixture *F;
static unsigned trial_no;
static enum mmig_policy recover_policy;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Fresh databases and a fresh prefix for the next trial. */
static void
wipe(struct fixture *f)
{
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(mkdir(f->mdir, 0700), 0);
	snprintf(f->prefix, sizeof(f->prefix), "test/%d/%u", (int)getpid(),
		 ++trial_no);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-test-etcdj-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ctl, sizeof(f->ctl), "%s/controller.db", f->dir);
	snprintf(f->mdir, sizeof(f->mdir), "%s/models", f->dir);
	snprintf(f->mfile, sizeof(f->mfile), "%s/%s.db", f->mdir, MODEL_UUID);
	f->durability = MMIG_DURABLE;
	steps_knobs_reset();
	mmig__fault_disarm();
	wipe(f);
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

static struct mmig_journal *
open_node(struct fixture *f, const char *node, unsigned flags)
{
	struct mmig_journal *j = NULL;
	struct mmig_error *e = NULL;
	int rc = mmig_journal_open_etcd(&j, endpoints, f->prefix, node, ttl_s,
					flags, &e);

	if (rc != MMIG_OK)
		fail_msg("open etcd journal as %s: %s", node,
			 mmig_error_message(e));
	return j;
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
	(void)arg;
	(void)level;
	(void)msg;
}

static int
perform_on(struct fixture *f, struct mmig_journal *j)
{
	struct mmig_registry *r = steps_registry(N_OPS, -1);
	struct mmig_coordinator *c;
	struct mmig_scope *scope;
	struct mmig_model model = { .uuid = model_uuid, .desc = model_desc,
				    .desc_len = model_desc_len };
	int rc;

	mmig_coordinator_new(&c, quiet, NULL);
	if (steps_add(c, r, N_OPS) != MMIG_OK)
		return MMIG_EUNKNOWNOP;
	mmig_coordinator_set_journal(c, j, f->durability);
	mmig_scope_for_model(&scope, f->ctl, f->mdir, model_uuid, f->durability);
	rc = mmig_coordinator_perform(c, NULL, scope, &model);
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_registry_free(r);
	return rc;
}

/* Node A: run the migration. */
static int
node_a(struct fixture *f)
{
	struct mmig_journal *j = open_node(f, "node-a", 0);
	int rc = perform_on(f, j);

	mmig_journal_close(j);
	return rc;
}

/* Recover as node @p node; @p skipped_live gets the items skipped because
 * their owner lives.  @return MMIG_OK when nothing is left unsettled. */
static int
recover_as(struct fixture *f, const char *node, size_t *skipped_live)
{
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = recover_policy,
		.scope_for_model = scope_for,
		.scope_arg = f,
		.log = quiet,
	};
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = steps_registry(N_OPS, -1);
	struct mmig_journal *j = open_node(f, node, 0);
	int rc = mmig_recover(j, r, &o, &s);

	if (skipped_live)
		*skipped_live = 0;
	for (size_t i = 0; rc == MMIG_OK && i < s->n; i++) {
		const struct mmig_recover_item *it =
			mmig_recover_summary_item(s, i);

		if (skipped_live && it->action == MMIG_RECOVER_SKIPPED_LIVE)
			(*skipped_live)++;
		if (it->message)
			fprintf(stderr, "%s: %s: action %d: %s\n", node,
				it->id, (int)it->action, it->message);
	}
	if (rc == MMIG_OK && s->n_unsettled)
		rc = MMIG_EATTENTION;
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return rc;
}

/* Node B, in a process of its own: recover; exit 0 when all settled. */
static void
node_b_child(struct fixture *f)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(recover_as(f, "node-b", NULL) == MMIG_OK ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Wait until no migration in flight has a live owner (its lease gone);
 * @return the seconds waited (printed, never asserted). */
static double
wait_leases_gone(struct fixture *f)
{
	uint64_t t0 = mmig__now_mono_ns();

	for (int tries = 0; tries < 300; tries++) {
		struct mmig_journal *j = open_node(f, "watcher", MMIG_JOURNAL_RDONLY);
		struct mmig_migration_info *list;
		size_t n, alive = 0;

		assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
		for (size_t i = 0; i < n; i++)
			alive += mmig_migration_info_at(list, i)->owner_alive;
		mmig_migration_info_free(list, n);
		mmig_journal_close(j);
		if (!alive)
			return (double)(mmig__now_mono_ns() - t0) / 1e9;
		usleep(100 * 1000);
	}
	fail_msg("a lease outlived 30 s");
	return 0;
}

struct tally {
	unsigned trials, committed, rolled_back, violations;
};

static void
violation(struct tally *t, const char *what, const char *point, uint64_t k)
{
	t->violations++;
	fprintf(stderr, "violation after kill at %s #%llu: %s\n", point,
		(unsigned long long)k, what);
}

/* The invariants, from the etcd journal and the databases. */
static void
check_settled(struct fixture *f, struct tally *t, const char *point,
	      uint64_t k)
{
	struct mmig_journal *j = open_node(f, "checker", MMIG_JOURNAL_RDONLY);
	struct mmig_migration_info *list;
	size_t n, problems;

	t->trials++;
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
	} else if (n == 1) {
		violation(t, "not settled", point, k);
	}
	if (n == 0 && steps_query(f->ctl, "SELECT count(*) FROM steps") != 0)
		violation(t, "rows without any journal record (W)", point, k);
	if (steps_query(f->ctl, "SELECT count(*) FROM tally WHERE n > 1") != 0)
		violation(t, "an op's work or undo committed twice", point, k);
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
}

/* ---- a migration through the coordinator --------------------------------- */

static void
test_etcd_journal_migration_commits(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	struct mmig_journal *j;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT, *list;
	struct mmig_error *e = NULL;
	char uri[512];
	size_t n;

	wipe(f);
	j = open_node(f, "node-a", 0);
	assert_int_equal(perform_on(f, j), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mmig_migration_info_at(list, 0)->state, "COMMITTED");
	assert_int_equal(mmig_migration_info_at(list, 0)->ops_done, N_OPS);
	assert_string_equal(mmig_migration_info_at(list, 0)->owner_host,
			    "node-a");
	/* an epoch is a revision of the cluster */
	assert_true(mmig_migration_info_at(list, 0)->epoch > 1);
	assert_int_equal(mmig_journal_get(j, mmig_migration_info_at(list, 0)->id,
					  &info),
			 MMIG_OK);
	assert_string_equal(info.state, "COMMITTED");
	mmig_migration_info_clear(&info);
	mmig_migration_info_free(list, n);
	/* dump: the header line, then every record, at one revision */
	{
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);

		assert_non_null(mem);
		assert_int_equal(mmig_journal_dump(j, mem, &e), MMIG_OK);
		assert_int_equal(fclose(mem), 0);
		assert_true(strncmp(text, "{\"record\":\"header\"", 18) == 0);
		assert_non_null(strstr(text, "\"seq\":0,"));
		assert_non_null(strstr(text, "\"kind\":\"COMMITTED\""));
		free(text);
	}
	mmig_journal_close(j);
	check_settled(f, &t, "none", 0);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.committed, 1);

	/* the same journal by path */
	snprintf(uri, sizeof(uri), "etcd://%s/%s?node=node-c&lease-ttl=3",
		 endpoints, f->prefix);
	assert_int_equal(mmig_journal_open(&j, uri, NULL, &e), MMIG_OK);
	assert_int_equal(mmig_journal_list(j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 1);
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
	snprintf(uri, sizeof(uri), "etcd://%s/%s?colour=blue", endpoints,
		 f->prefix);
	assert_int_equal(mmig_journal_open(&j, uri, NULL, &e), MMIG_EINVAL);
	assert_non_null(strstr(mmig_error_message(e), "colour"));
	mmig_error_free(e);
}

/* ---- node A killed, node B settles ---------------------------------------- */

static bool
kill_a_at(struct fixture *f, enum mmig_fault_point p, uint64_t nth)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		mmig__fault_arm(p, nth, MMIG_FAULT_KILL);
		node_a(f);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return true;
	}
	return false;
}

static void
count_hits(struct fixture *f, uint64_t hits[MMIG_FAULT_COUNT])
{
	int pfd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		mmig__fault_count_only();
		node_a(f);
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

/* Kill node A at the first, a middle and the last hit of the points a
 * forward run passes, and let node B settle each. */
static void
kill_and_takeover(struct fixture *f, struct tally *t)
{
	static const enum mmig_fault_point points[] = {
		MMIG_FAULT_JOURNAL_COMMIT, MMIG_FAULT_JOURNAL_COMMITTED,
		MMIG_FAULT_OP_EXECUTE,	   MMIG_FAULT_DB_COMMIT,
		MMIG_FAULT_DB_COMMITTED,
	};
	uint64_t hits[MMIG_FAULT_COUNT];
	double waited = 0;

	wipe(f);
	count_hits(f, hits);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		enum mmig_fault_point p = points[i];
		uint64_t ks[3] = { 1, (hits[p] + 1) / 2, hits[p] };

		assert_true(hits[p] > 0);
		for (int x = 0; x < 3; x++) {
			if (ks[x] == 0 || (x && ks[x] == ks[x - 1]))
				continue;
			wipe(f);
			assert_true(kill_a_at(f, p, ks[x]));
			waited += wait_leases_gone(f);
			node_b_child(f);
			check_settled(f, t, mmig__fault_name(p), ks[x]);
		}
	}
	printf("mean wait for a killed node's lease: %.2f s (TTL %d s)\n",
	       t->trials ? waited / t->trials : 0, TTL_S);
}

static void
test_etcd_journal_killed_node_rollback_policy(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };

	recover_policy = MMIG_POLICY_ROLLBACK;
	kill_and_takeover(f, &t);
	printf("rollback policy: %u kills, %u committed, %u rolled back, "
	       "%u violations\n",
	       t.trials, t.committed, t.rolled_back, t.violations);
	assert_int_equal(t.violations, 0);
	assert_true(t.trials >= 10);
	assert_true(t.rolled_back > 0);
}

static void
test_etcd_journal_killed_node_resume_policy(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };

	steps_knobs.idempotent = true;
	recover_policy = MMIG_POLICY_RESUME;
	kill_and_takeover(f, &t);
	printf("resume policy: %u kills, %u committed, %u rolled back, "
	       "%u violations\n",
	       t.trials, t.committed, t.rolled_back, t.violations);
	assert_int_equal(t.violations, 0);
	assert_true(t.trials >= 10);
	assert_true(t.committed > t.trials / 2);
}

/*
 * Node A blocked inside op 2: its lease lives, so node B's recovery skips
 * it (the claim says EOWNED); A is SIGKILLed; B waits for the lease and
 * settles it.
 */
static void
test_etcd_journal_live_owner_skipped_then_settled(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	size_t skipped = 0;
	int go[2], status;
	pid_t pid;

	wipe(f);
	recover_policy = MMIG_POLICY_ROLLBACK;
	assert_int_equal(pipe(go), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		node_a(f);
		_exit(0);
	}
	close(go[0]);
	steps_knobs.block_in_op = -1;
	steps_knobs.block_fd = -1;
	/* until A is inside op 2: ops 0 and 1 are done */
	for (int i = 0; i < 300 && steps_query(f->ctl,
					       "SELECT count(*) FROM steps") < 2;
	     i++)
		usleep(50 * 1000);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	assert_int_equal(recover_as(f, "node-b", &skipped), MMIG_OK);
	assert_int_equal(skipped, 1);
	/* nothing was touched */
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(go[1]);
	printf("lease gone %.2f s after the kill\n", wait_leases_gone(f));
	node_b_child(f);
	check_settled(f, &t, "blocked in op 2", 1);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

/*
 * Node A frozen (SIGSTOP) inside op 2, past its TTL; node B takes over and
 * rolls back; A resumed: its late database commit and journal append are
 * refused (its lease deadline passed; the epochs would refuse them too),
 * A's perform fails, and nothing is applied twice.
 */
static void
test_etcd_journal_frozen_owner_is_refused_everywhere(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	int go[2], res[2], status, rc = MMIG_OK;
	pid_t pid;

	wipe(f);
	recover_policy = MMIG_POLICY_ROLLBACK;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		rc = node_a(f);
		if (write(res[1], &rc, sizeof(rc)) != sizeof(rc))
			_exit(2);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	steps_knobs.block_in_op = -1;
	steps_knobs.block_fd = -1;
	for (int i = 0; i < 300 && steps_query(f->ctl,
					       "SELECT count(*) FROM steps") < 2;
	     i++)
		usleep(50 * 1000);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	printf("frozen owner's lease gone after %.2f s\n", wait_leases_gone(f));
	node_b_child(f);
	check_settled(f, &t, "frozen in op 2, before B", 1);
	/* A goes on: op 2's execute commits, then the journal */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(read(res[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	printf("the resumed owner's perform: %s\n", mmig_err_name(rc));
	assert_int_not_equal(rc, MMIG_OK);
	close(go[1]);
	close(res[0]);
	check_settled(f, &t, "frozen in op 2, after A resumed", 2);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 2);
}

/*
 * Three nodes killed mid-migration (three models); two nodes recover them
 * at once: every migration is settled once (each recoverer either settles
 * it or finds it claimed), nothing is undone twice.
 */
static void
test_etcd_journal_two_recoverers_settle_each_once(void **state)
{
	static const char *models[3] = {
		"6ba7b810-9dad-41d1-80b4-00c04fd430c1",
		"6ba7b810-9dad-41d1-80b4-00c04fd430c2",
		"6ba7b810-9dad-41d1-80b4-00c04fd430c3",
	};
	struct fixture *f = *state;
	struct mmig_migration_info *list;
	struct mmig_journal *j;
	pid_t pids[2];
	size_t n;

	wipe(f);
	recover_policy = MMIG_POLICY_ROLLBACK;
	for (int i = 0; i < 3; i++) {
		model_uuid = models[i];
		assert_true(kill_a_at(f, MMIG_FAULT_OP_EXECUTE, 3));
	}
	model_uuid = MODEL_UUID;
	wait_leases_gone(f);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(recover_as(f, i ? "node-c" : "node-b", NULL) ==
					      MMIG_OK
				      ? 0
				      : 1);
	}
	for (int i = 0; i < 2; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	j = open_node(f, "checker", MMIG_JOURNAL_RDONLY);
	assert_int_equal(mmig_journal_list(j, false, &list, &n), MMIG_OK);
	assert_int_equal(n, 0);
	mmig_migration_info_free(list, n);
	assert_int_equal(mmig_journal_list(j, true, &list, &n), MMIG_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(mmig_migration_info_at(list, i)->state,
				    "ROLLED_BACK");
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 0);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM tally "
					     "WHERE n > 1"),
			 0);
	/* ops 0 and 1 of each were done, and are undone once each (op 2
	 * began, committed nothing, so its rollback has nothing to undo) */
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM tally "
					     "WHERE what = 'undo'"),
			 3 * 2);
}

/*
 * Node A inside op 2 while the leader is killed: a new leader is elected,
 * A's lease (kept through the other members; a new leader restarts its
 * countdown) and its appends fail over, and the migration commits.
 */
static void
test_etcd_journal_leader_killed_mid_migration(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	int go[2], res[2], status, rc = MMIG_OK, leader;
	pid_t pid;

	wipe(f);
	ttl_s = 6; /* an election on a loaded machine takes seconds */
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		rc = node_a(f);
		if (write(res[1], &rc, sizeof(rc)) != sizeof(rc))
			_exit(2);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	steps_knobs.block_in_op = -1;
	steps_knobs.block_fd = -1;
	for (int i = 0; i < 300 && steps_query(f->ctl,
					       "SELECT count(*) FROM steps") < 2;
	     i++)
		usleep(50 * 1000);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	leader = cluster("kill leader");
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(res[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(go[1]);
	close(res[0]);
	cluster("restart %d", leader);
	ttl_s = TTL_S;
	printf("member %d (the leader) killed mid-migration: %s\n", leader,
	       mmig_err_name(rc));
	assert_int_equal(rc, MMIG_OK);
	check_settled(f, &t, "leader killed", 1);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.committed, 1);
}

/*
 * Node A inside op 2 when every member goes down: A stops as interrupted
 * (its appends cannot be answered, and it gives up before its lease could
 * have expired), nothing is half-applied; once the cluster is back and
 * A's lease has expired, node B settles it.
 */
static void
test_etcd_journal_all_members_down(void **state)
{
	struct fixture *f = *state;
	struct tally t = { 0 };
	int go[2], res[2], status, rc = MMIG_OK;
	pid_t pid;

	wipe(f);
	recover_policy = MMIG_POLICY_ROLLBACK;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(res), 0);
	steps_knobs.block_in_op = 2;
	steps_knobs.block_fd = go[0];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		rc = node_a(f);
		if (write(res[1], &rc, sizeof(rc)) != sizeof(rc))
			_exit(2);
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	steps_knobs.block_in_op = -1;
	steps_knobs.block_fd = -1;
	for (int i = 0; i < 300 && steps_query(f->ctl,
					       "SELECT count(*) FROM steps") < 2;
	     i++)
		usleep(50 * 1000);
	assert_int_equal(steps_query(f->ctl, "SELECT count(*) FROM steps"), 2);
	cluster("kill 1");
	cluster("kill 2");
	cluster("kill 3");
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(res[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	close(go[1]);
	close(res[0]);
	printf("every member down mid-migration: perform %s\n",
	       mmig_err_name(rc));
	assert_int_not_equal(rc, MMIG_OK);
	cluster("restart 1 2 3");
	printf("lease gone %.2f s after the cluster came back\n",
	       wait_leases_gone(f));
	node_b_child(f);
	check_settled(f, &t, "all members down", 1);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

/*
 * A description larger than one etcd request goes in chunks: a migration
 * with a 2.5 MiB one commits, its header reads back byte for byte, and a
 * killed one is settled by another node, which reads it too.
 */
static void
test_etcd_journal_large_description(void **state)
{
	struct fixture *f = *state;
	size_t len = (size_t)5 << 19;
	char *desc = malloc(len);
	struct mmig_rec_header h;
	struct mmig_journal *j;
	uint8_t(*ids)[MMIG_ID_LEN];
	struct tally t = { 0 };
	size_t n;

	assert_non_null(desc);
	memset(desc, 'x', len);
	memcpy(desc, "{\"pad\":\"", 8);
	memcpy(desc + len - 2, "\"}", 2);
	model_desc = desc;
	model_desc_len = len;
	wipe(f);
	j = open_node(f, "node-a", 0);
	assert_int_equal(perform_on(f, j), MMIG_OK);
	assert_int_equal(mmig__journal_list(j, true, &ids, &n, NULL), MMIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(mmig__journal_read(j, ids[0], &h, NULL, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_int_equal(h.model_desc_len, len);
	assert_memory_equal(h.model_desc, desc, len);
	mmig__rec_header_free(&h);
	mmig__free(ids);
	mmig_journal_close(j);

	wipe(f);
	recover_policy = MMIG_POLICY_ROLLBACK;
	assert_true(kill_a_at(f, MMIG_FAULT_OP_EXECUTE, 3));
	wait_leases_gone(f);
	node_b_child(f);
	check_settled(f, &t, "large description", 1);
	model_desc = "{}";
	model_desc_len = 2;
	free(desc);
	assert_int_equal(t.violations, 0);
	assert_int_equal(t.rolled_back, 1);
}

/* ---- orphan description chunks ---------------------------------------------- */

struct lines {
	unsigned n;
	char text[4096];
};

static void
collect(void *arg, const char *msg)
{
	struct lines *l = arg;
	size_t len = strlen(l->text);

	l->n++;
	snprintf(l->text + len, sizeof(l->text) - len, "%s\n", msg);
}

/* The keys under @p prefix ("P/m/ID/desc/", ...), counted. */
static int64_t
keys_under(struct mmig__etcd *c, const char *prefix, int64_t *lease)
{
	struct mmig__etcd_range r = { .key = prefix,
				      .key_len = strlen(prefix),
				      .prefix = true };
	struct mmig__etcd_range_result res;
	int64_t n;

	assert_int_equal(mmig__etcd_get(c, &r, &res, NULL), MMIG_OK);
	n = (int64_t)res.n;
	if (lease)
		*lease = res.n ? res.kvs[0].lease : 0;
	mmig__etcd_range_result_free(&res);
	return n;
}

/*
 * Node A is SIGKILLed between the chunks of a large description and the
 * create txn (the first JOURNAL_COMMIT): chunks with no migration.  While
 * A's lease lives, its create might still complete: verify says nothing
 * and prune leaves them.  Once the lease is gone (revoked here, as its
 * expiry would), verify names every chunk key and prune removes them, and
 * nothing else under the prefix.
 */
static void
test_etcd_journal_orphan_chunks(void **state)
{
	struct fixture *f = *state;
	size_t len = (size_t)5 << 19, problems = 0, pruned = 99;
	char *desc = malloc(len), pm[160], pd[256], pc[256];
	struct mmig__etcd *c = NULL;
	struct mmig_journal *j;
	struct mmig_error *e = NULL;
	struct lines l = { 0 };
	int64_t chunks, lease = 0, other;

	assert_non_null(desc);
	memset(desc, 'x', len);
	memcpy(desc, "{\"pad\":\"", 8);
	memcpy(desc + len - 2, "\"}", 2);
	model_desc = desc;
	model_desc_len = len;
	wipe(f);
	/* A long lease: "A may still be creating" must hold while we look. */
	ttl_s = 60;
	assert_true(kill_a_at(f, MMIG_FAULT_JOURNAL_COMMIT, 1));
	ttl_s = TTL_S;
	assert_int_equal(mmig__etcd_open(&c, endpoints, NULL, NULL), MMIG_OK);
	snprintf(pm, sizeof(pm), "%s/m/", f->prefix);
	/* A key outside the journal's own, under a neighbouring prefix:
	 * never touched. */
	snprintf(pc, sizeof(pc), "%s-other/m/x/desc/00000000", f->prefix);
	assert_int_equal(mmig__etcd_put(c, pc, strlen(pc), "keep", 4, 0, NULL,
					NULL),
			 MMIG_OK);
	{
		struct mmig__etcd_range r = { .key = pm,
					      .key_len = strlen(pm),
					      .prefix = true,
					      .keys_only = true };
		struct mmig__etcd_range_result res;
		const char *id;

		assert_int_equal(mmig__etcd_get(c, &r, &res, NULL), MMIG_OK);
		assert_true(res.n >= 2);
		id = (const char *)res.kvs[0].key + strlen(pm);
		snprintf(pd, sizeof(pd), "%s%.36s/desc/", pm, id);
		snprintf(pc, sizeof(pc), "%s%.36s/creating", pm, id);
		/* Chunks and A's marker, no header. */
		for (size_t i = 0; i < res.n; i++)
			assert_null(strstr((const char *)res.kvs[i].key,
					   "/hdr"));
		mmig__etcd_range_result_free(&res);
	}
	chunks = keys_under(c, pd, NULL);
	assert_true(chunks >= 5); /* 2.5 MiB in 512 KiB pieces */
	assert_int_equal(keys_under(c, pc, &lease), 1);
	assert_true(lease != 0);

	/* A's lease lives: not an orphan yet. */
	j = open_node(f, "node-b", 0);
	assert_int_equal(mmig_journal_verify_v2(j, collect, &l, &problems, &e),
			 MMIG_OK);
	assert_int_equal(problems, 0);
	assert_int_equal(mmig_journal_prune_v2(j, 0, 0, &pruned, &e), MMIG_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(keys_under(c, pd, NULL), chunks);
	assert_int_equal(keys_under(c, pc, NULL), 1); /* still A's */

	/* A's lease gone: every chunk key is named, then removed. */
	assert_int_equal(mmig__etcd_lease_revoke(c, lease, NULL), MMIG_OK);
	assert_int_equal(keys_under(c, pc, NULL), 0);
	assert_int_equal(mmig_journal_verify_v2(j, collect, &l, &problems, &e),
			 MMIG_OK);
	assert_int_equal(problems, (size_t)chunks);
	assert_int_equal(l.n, (unsigned)chunks);
	printf("etcd-journal: orphan chunks: %s", l.text);
	for (int64_t i = 0; i < chunks; i++) {
		char key[320];

		snprintf(key, sizeof(key), "description chunk %s%08llx: no "
			 "migration", pd, (unsigned long long)i);
		assert_non_null(strstr(l.text, key));
	}
	/* The dump and the list see no migration. */
	{
		uint8_t(*ids)[MMIG_ID_LEN] = NULL;
		size_t n = 9;

		assert_int_equal(mmig__journal_list(j, true, &ids, &n, NULL),
				 MMIG_OK);
		assert_int_equal(n, 0);
		mmig__free(ids);
	}
	assert_int_equal(mmig_journal_prune_v2(j, 0, 0, &pruned, &e), MMIG_OK);
	assert_int_equal(pruned, 1);
	assert_int_equal(keys_under(c, pd, NULL), 0);
	assert_int_equal(keys_under(c, pm, NULL), 0);
	assert_int_equal(mmig_journal_verify_v2(j, NULL, NULL, &problems, &e),
			 MMIG_OK);
	assert_int_equal(problems, 0);
	/* Nothing outside the prefix was touched. */
	snprintf(pc, sizeof(pc), "%s-other/", f->prefix);
	other = keys_under(c, pc, NULL);
	assert_int_equal(other, 1);
	{
		struct mmig__etcd_range r = { .key = pc,
					      .key_len = strlen(pc),
					      .prefix = true };

		assert_int_equal(mmig__etcd_delete(c, &r, NULL, NULL), MMIG_OK);
	}
	mmig_journal_close(j);
	mmig__etcd_close(c);

	/* And a large create that completes leaves no marker behind. */
	wipe(f);
	j = open_node(f, "node-a", 0);
	assert_int_equal(perform_on(f, j), MMIG_OK);
	assert_int_equal(mmig_journal_verify_v2(j, NULL, NULL, &problems, &e),
			 MMIG_OK);
	assert_int_equal(problems, 0);
	mmig_journal_close(j);
	model_desc = "{}";
	model_desc_len = 2;
	free(desc);
}

/* ---- a read across a compaction --------------------------------------------- */

struct compactor {
	struct mmig__etcd *c;
	int64_t compacted_at; /* the last compaction's revision, 0: none */
	unsigned compactions, restarts;
	int rc;
};

/* The read hook: a read at a revision newer than the last compaction gets
 * one more revision made and every revision below it compacted, so that
 * its log walk at its own revision meets ECOMPACTED.  The read started
 * again (at the compaction's revision) is left alone, but one more revision
 * is made, so that the next read is compacted under in its turn. */
static void
compact_under_read(void *arg, int64_t rev)
{
	struct compactor *k = arg;
	int64_t now = 0;
	int rc;

	rc = mmig__etcd_put(k->c, "compaction-test/bump", 20, "x", 1, 0, &now,
			    NULL);
	if (rev <= k->compacted_at) {
		k->restarts++;
		if (rc != MMIG_OK && k->rc == MMIG_OK)
			k->rc = rc;
		return;
	}
	if (rc == MMIG_OK)
		rc = mmig__etcd_compact(k->c, now, NULL);
	if (rc != MMIG_OK && k->rc == MMIG_OK)
		k->rc = rc;
	k->compacted_at = now;
	k->compactions++;
}

static size_t
count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void
test_etcd_journal_read_survives_compaction(void **state)
{
	struct fixture *f = *state;
	struct compactor k = { 0 };
	struct mmig_rec_header h;
	struct mmig_fold want, got;
	struct mmig_journal *j;
	uint8_t(*ids)[MMIG_ID_LEN];
	char idt[37], *text = NULL, seq0[64];
	size_t n, len = 0;
	FILE *mem;

	wipe(f);
	j = open_node(f, "node-a", 0);
	assert_int_equal(perform_on(f, j), MMIG_OK);
	assert_int_equal(mmig__journal_list(j, true, &ids, &n, NULL), MMIG_OK);
	assert_int_equal(n, 1);
	mmig__id_text(ids[0], idt);
	assert_int_equal(mmig__journal_read(j, ids[0], &h, NULL, &want, NULL,
					    NULL),
			 MMIG_OK);
	mmig__rec_header_free(&h);
	assert_int_equal(want.state, MMIG_STATE_COMMITTED);
	assert_true(want.n_records > 2);
	assert_int_equal(mmig__etcd_open(&k.c, endpoints, NULL, NULL), MMIG_OK);

	/* One read: its log walk meets the compaction, it starts again once,
	 * and folds every record exactly once. */
	mmig__etcd_read_hook_arg = &k;
	mmig__etcd_read_hook = compact_under_read;
	assert_int_equal(mmig__journal_read(j, ids[0], &h, NULL, &got, NULL,
					    NULL),
			 MMIG_OK);
	assert_int_equal(k.rc, MMIG_OK);
	assert_int_equal(k.compactions, 1);
	assert_int_equal(k.restarts, 1);
	assert_int_equal(got.n_records, want.n_records);
	assert_int_equal(got.state, want.state);
	assert_int_equal(got.last_epoch, want.last_epoch);
	assert_string_equal(h.model_uuid, model_uuid);
	mmig__fold_free(&got);
	mmig__rec_header_free(&h);

	/* show across compactions (its own read and the id's lookup each
	 * compacted under): every record printed once, none twice. */
	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	assert_int_equal(mmig_journal_show(j, idt, mem, NULL), MMIG_OK);
	assert_int_equal(fclose(mem), 0);
	/* dump, whose revision is compacted under it: it starts again, once,
	 * and prints what show printed (one migration), each line once. */
	{
		unsigned c0 = k.compactions, r0 = k.restarts;
		char *dtext = NULL;
		size_t dlen = 0;
		FILE *dm = open_memstream(&dtext, &dlen);

		assert_non_null(dm);
		assert_int_equal(mmig_journal_dump(j, dm, NULL), MMIG_OK);
		assert_int_equal(fclose(dm), 0);
		assert_int_equal(k.rc, MMIG_OK);
		assert_int_equal(k.compactions, c0 + 1);
		assert_int_equal(k.restarts, r0 + 1);
		assert_string_equal(dtext, text);
		free(dtext);
	}
	mmig__etcd_read_hook = NULL;
	mmig__etcd_read_hook_arg = NULL;
	assert_int_equal(k.rc, MMIG_OK);
	printf("show: %u compactions, %u restarts in all\n", k.compactions,
	       k.restarts);
	assert_true(k.compactions >= 2);
	assert_true(k.restarts >= 2);
	assert_int_equal(count_of(text, "\"record\":\"header\""), 1);
	assert_int_equal(count_of(text, "\"record\":\"transition\""),
			 want.n_records);
	snprintf(seq0, sizeof(seq0), "\"id\":\"%s\",\"seq\":0,", idt);
	assert_int_equal(count_of(text, seq0), 1);
	free(text);
	mmig__fold_free(&want);
	mmig__free(ids);
	mmig__etcd_close(k.c);
	mmig_journal_close(j);
}

/* ---- fencing ---------------------------------------------------------------- */

static void
test_etcd_journal_stale_owner_is_fenced(void **state)
{
	struct fixture *f = *state;
	struct mmig_plan_op plan[1] = { { .name = "probe", .version = 1 } };
	struct mmig_rec_header h = { .model_uuid = "m", .plan = plan,
				     .n_ops = 1, .durability = MMIG_DURABLE };
	struct mmig_journal *ja, *jb;
	struct mmig__jmig *a, *b = NULL;
	struct mmig_rec_header got;
	struct mmig_rec_status st;
	struct mmig_error *e = NULL;
	uint64_t epoch_a;

	wipe(f);
	ja = open_node(f, "node-a", 0);
	jb = open_node(f, "node-b", 0);
	assert_int_equal(mmig__jmig_create(ja, &h, &a, NULL), MMIG_OK);
	assert_int_equal(mmig__jmig_stage(a, MMIG_REC_BEGIN, 0, NULL, 0, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_commit(a, MMIG__SYNC_FULL, NULL), MMIG_OK);
	epoch_a = a->epoch;
	assert_true(epoch_a > 1);
	assert_int_equal(mmig__journal_read(jb, a->id, NULL, &st, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_int_equal(st.epoch, epoch_a);
	assert_string_equal(st.owner.host, "node-a");
	mmig__rec_status_free(&st);

	/* A's lease lives: B may not take it */
	assert_int_equal(mmig__jmig_claim(jb, a->id, epoch_a, false, &got, &b,
					  &e),
			 MMIG_EOWNED);
	assert_non_null(strstr(mmig_error_message(e), "node-a"));
	mmig_error_free(e);
	e = NULL;
	assert_null(b);
	/* a claim given a stale epoch is fenced */
	assert_int_equal(mmig__jmig_claim(jb, a->id, epoch_a - 1, true, &got,
					  &b, &e),
			 MMIG_EFENCED);
	mmig_error_free(e);
	e = NULL;
	/* forced: B takes over with a larger epoch */
	assert_int_equal(mmig__jmig_claim(jb, a->id, epoch_a, true, &got, &b,
					  &e),
			 MMIG_OK);
	assert_true(b->epoch > epoch_a);
	mmig__rec_header_free(&got);

	/* A's append is refused, and wrote nothing */
	assert_int_equal(mmig__jmig_stage(a, MMIG_REC_DONE, 0, NULL, 0, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_commit(a, MMIG__SYNC_FULL, &e),
			 MMIG_EFENCED);
	mmig_error_free(e);
	e = NULL;
	/* B goes on from where the journal is */
	assert_int_equal(mmig__jmig_stage(b, MMIG_REC_DONE, 0, NULL, 0, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_stage(b, MMIG_REC_COMMITTED, -1, NULL, 0,
					  NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_commit(b, MMIG__SYNC_FULL, &e), MMIG_OK);
	{
		struct mmig_fold fold;
		uint64_t next;

		assert_int_equal(mmig__journal_read(ja, a->id, &got, &st, &fold,
						    &next, NULL),
				 MMIG_OK);
		/* BEGIN 0, CLAIMED, DONE 0, COMMITTED: A's DONE is not there */
		assert_int_equal(next, 4);
		assert_int_equal(fold.state, MMIG_STATE_COMMITTED);
		assert_string_equal(st.owner.host, "node-b");
		mmig__fold_free(&fold);
		mmig__rec_header_free(&got);
		mmig__rec_status_free(&st);
	}
	mmig__jmig_free(a);
	mmig__jmig_free(b);
	mmig_journal_close(ja);
	mmig_journal_close(jb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_migration_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_stale_owner_is_fenced, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_live_owner_skipped_then_settled,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_frozen_owner_is_refused_everywhere,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_two_recoverers_settle_each_once,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_leader_killed_mid_migration, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_all_members_down, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_large_description, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_orphan_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_read_survives_compaction, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_killed_node_rollback_policy, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_etcd_journal_killed_node_resume_policy, setup,
			teardown),
	};

	endpoints = getenv("MMIG_ETCD_ENDPOINTS");
	cluster_dir = getenv("MMIG_ETCD_DIR");
	cluster_script = getenv("MMIG_ETCD_CLUSTER");
	if (!endpoints || !cluster_dir || !cluster_script) {
		printf("SKIP: MMIG_ETCD_ENDPOINTS not set: run me through "
		       "scripts/etcd-cluster.sh run --\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("MMIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MMIG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
