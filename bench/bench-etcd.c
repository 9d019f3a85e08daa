/*
 * bench/bench-etcd.c - figure 9 of `mmig bench`: the journal on etcd
 * (issue 15, "Figures").
 *
 *   - per-op commit latency: one durable migration of no-op ops on an
 *     etcd journal, per op, ÷ the same on an LMDB journal in the same run;
 *   - takeover: a process driving a migration on etcd is SIGKILLed inside
 *     an op; another process waits for its lease to expire (as
 *     `mmig-recover recover --wait` does) and rolls it back: the time from
 *     the kill to settled, ÷ the lease TTL (target ≤ 1.5);
 *   - stale writes accepted: an owner SIGSTOPped inside an op past its TTL,
 *     taken over and rolled back by another process, then SIGCONTed: the
 *     journal records and the database commits of that owner that were
 *     accepted after the takeover (target 0).
 *
 * The cluster: --etcd ENDPOINTS uses one (under a prefix of this run's
 * own); otherwise, when `etcd` is on PATH, three members on loopback with
 * their data in the scratch directory, started here and SIGKILLed at the
 * end (and by the kernel if this process dies first: PR_SET_PDEATHSIG;
 * the supervisor kills the whole process group on a signal).  Without
 * either, the figure is skipped with one line saying so.
 *
 * Only the public API, as every file of bench/.
 */
#include "bench-int.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define N_MEMBERS 3

struct estate {
	char endpoints[256];
	char prefix[128];
	bool own; /* members started here */
	pid_t pids[N_MEMBERS];
	char *controller_db;
	char *model_dir;
	char *lmdb_dir;
	unsigned tag; /* this invocation's, in every model uuid */
};

/* The kinds of migration, in their model uuids. */
enum { KIND_LAT_ETCD = 1, KIND_LAT_LMDB, KIND_TAKEOVER, KIND_STALE };

/* ---- the ops ------------------------------------------------------------------ */

/*
 * What the ops of one migration share.  Each execute inserts one row into
 * the controller database (a fenced transaction, as every op's write is);
 * the one numbered @c stop_at first tells the parent through @c to_parent
 * and then, when @c from_parent is set, waits for its byte (the owner is
 * frozen meanwhile), else blocks for good.  Rows written after that wait
 * are marked late: any of them committed is a stale write accepted.
 * Recovery builds instances with self NULL, and rolls back: nothing to do.
 */
struct eop_self {
	size_t calls;
	size_t stop_at;
	int to_parent, from_parent;
	bool late;
};

struct row {
	const char *uuid;
	size_t op;
	bool late;
};

static struct mmig_error *
insert_row(sqlite3 *db, void *arg)
{
	const struct row *r = arg;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_exec(db,
			  "CREATE TABLE IF NOT EXISTS bench_etcd(uuid TEXT, "
			  "op INTEGER, late INTEGER)",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return mmig_error_sqlite(db, rc, "bench table");
	rc = sqlite3_prepare_v2(db, "INSERT INTO bench_etcd VALUES (?, ?, ?)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)r->op);
		sqlite3_bind_int(st, 3, r->late);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? NULL : mmig_error_sqlite(db, rc, "bench row");
}

static struct mmig_scope *eop_scope; /* the migration's, for execute */

static struct mmig_error *
eop_setup(void *self, struct mmig_scope *scope)
{
	(void)self;
	eop_scope = scope;
	return NULL;
}

static struct mmig_error *
eop_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	struct eop_self *s = self;
	struct mmig_txn_runner *r = NULL;
	struct mmig_error *err;
	struct row row;
	char c = 'x';

	if (!s)
		return NULL;
	s->calls++;
	if (s->stop_at && s->calls == s->stop_at) {
		if (write(s->to_parent, &c, 1) != 1)
			_exit(3);
		if (s->from_parent < 0)
			for (;;)
				pause(); /* until SIGKILLed */
		while (read(s->from_parent, &c, 1) < 0 && errno == EINTR)
			;
		s->late = true;
	}
	if (!s->stop_at)
		return NULL; /* the latency figure: no-ops */
	err = mmig_scope_controller_db(eop_scope, &r);
	if (err)
		return err;
	row = (struct row){ .uuid = model->uuid,
			    .op = s->calls,
			    .late = s->late };
	return mmig_txn_run(r, ctx, insert_row, &row);
}

static struct mmig_error *
eop_rollback(void *self, struct mmig_ctx *ctx, const struct mmig_model *model)
{
	(void)self;
	(void)ctx;
	(void)model;
	return NULL;
}

static const struct mmig_op_vtable eop_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "bench-etcd",
	.version = 1,
	.flags = MMIG_OP_IDEMPOTENT,
	.setup = eop_setup,
	.execute = eop_execute,
	.rollback = eop_rollback,
};

/* ---- helpers ------------------------------------------------------------------ */

static struct mmig_journal *
open_etcd(const struct bench *b, const char *node, unsigned flags)
{
	const struct estate *e = b->estate;
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	int rc = mmig_journal_open_etcd(&j, e->endpoints, e->prefix, node,
					b->sz.etcd_ttl_s, flags, &err);

	if (rc != MMIG_OK) {
		fprintf(stderr, "mmig: bench: etcd journal as %s: %s\n", node,
			err ? mmig_error_message(err) : mmig_strerror(rc));
		mmig_error_free(err);
		return NULL;
	}
	return j;
}

/* A model uuid unique to this invocation, kind and run. */
static void
model_uuid(const struct estate *e, unsigned kind, size_t r, char out[37])
{
	snprintf(out, 37, "e7cd%04x-0000-4000-8000-%06x%06x", kind & 0xffff,
		 e->tag & 0xffffff, (unsigned)r & 0xffffff);
}

/* One migration of @p n ops sharing @p self on journal @p j; @return the
 * perform's code. */
static int
run_migration(const struct estate *e, struct mmig_journal *j, size_t n,
	      const char *uuid, struct eop_self *self, double *us)
{
	struct mmig_model model = { .uuid = uuid };
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	uint64_t t0;
	int rc;

	if (mmig_coordinator_new(&c, bench_log_quiet, NULL) != MMIG_OK)
		return MMIG_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (mmig_coordinator_add(c, &eop_vt, self) != MMIG_OK) {
			mmig_coordinator_free(c);
			return MMIG_ENOMEM;
		}
	rc = mmig_scope_for_model(&scope, e->controller_db, e->model_dir, uuid,
				  MMIG_DURABLE);
	if (rc == MMIG_OK) {
		mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
		t0 = bench_now_ns();
		rc = mmig_coordinator_perform(c, NULL, scope, &model);
		if (us)
			*us = (double)(bench_now_ns() - t0) / 1e3;
	}
	mmig_scope_free(scope);
	mmig_coordinator_free(c);
	return rc;
}

/* ---- the cluster -------------------------------------------------------------- */

/* An unused loopback port (the kernel's pick; a race with another process
 * binding it before etcd does makes the start fail, and it is retried). */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* The etcd program on PATH, or NULL. */
static char *
find_etcd(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (!path || !(copy = strdup(path)))
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = bench_path(*dir ? dir : ".", "etcd");
		struct stat st;

		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

static void
stop_members(struct estate *e)
{
	for (int i = 0; i < N_MEMBERS; i++) {
		if (e->pids[i] <= 0)
			continue;
		kill(e->pids[i], SIGKILL);
		while (waitpid(e->pids[i], NULL, 0) < 0 && errno == EINTR)
			;
		e->pids[i] = 0;
	}
}

static pid_t
start_member(const char *etcd, const char *dir, int i, const int *cport,
	     const int *pport, const char *cluster)
{
	char name[8], data[512], log[512], curl[64], purl[64];
	pid_t parent = getpid(), pid;

	snprintf(name, sizeof(name), "m%d", i + 1);
	snprintf(data, sizeof(data), "%s/m%d.data", dir, i + 1);
	snprintf(log, sizeof(log), "%s/m%d.log", dir, i + 1);
	snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", cport[i]);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", pport[i]);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600),
		    null = open("/dev/null", O_RDONLY);

		/* Dies with the bench, however the bench dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (null >= 0)
			dup2(null, 0);
		execl(etcd, "etcd", "--name", name, "--data-dir", data,
		      "--listen-client-urls", curl, "--advertise-client-urls",
		      curl, "--listen-peer-urls", purl,
		      "--initial-advertise-peer-urls", purl,
		      "--initial-cluster", cluster, "--initial-cluster-state",
		      "new", "--initial-cluster-token", "mmig-bench",
		      "--logger", "zap", "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Does the cluster answer a linearizable read (so: a leader, a quorum)? */
static bool
cluster_ready(const char *endpoints)
{
	struct mmig_journal *j = NULL;
	int rc = mmig_journal_open_etcd(&j, endpoints, "mmig-bench-probe",
					"probe", 0, MMIG_JOURNAL_RDONLY, NULL);

	mmig_journal_close(j);
	return rc == MMIG_OK || rc == -ENOENT;
}

static int
start_cluster(struct estate *e, const char *etcd, const char *dir)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int cport[N_MEMBERS], pport[N_MEMBERS];
		char cluster[512] = "";
		bool died = false;

		for (int i = 0; i < N_MEMBERS; i++) {
			cport[i] = free_port();
			pport[i] = free_port();
			if (cport[i] < 0 || pport[i] < 0)
				return -1;
		}
		e->endpoints[0] = '\0';
		for (int i = 0; i < N_MEMBERS; i++) {
			size_t l = strlen(cluster), le = strlen(e->endpoints);

			snprintf(cluster + l, sizeof(cluster) - l,
				 "%sm%d=http://127.0.0.1:%d", i ? "," : "",
				 i + 1, pport[i]);
			snprintf(e->endpoints + le, sizeof(e->endpoints) - le,
				 "%s127.0.0.1:%d", i ? "," : "", cport[i]);
		}
		for (int i = 0; i < N_MEMBERS; i++) {
			char data[512];

			snprintf(data, sizeof(data), "%s/m%d.data", dir, i + 1);
			bench_rmtree(data);
			e->pids[i] = start_member(etcd, dir, i, cport, pport,
						  cluster);
			if (e->pids[i] < 0) {
				e->pids[i] = 0;
				died = true;
			}
		}
		/* Up to 30 s for a leader (elections on a loaded machine). */
		for (int t = 0; !died && t < 150; t++) {
			if (cluster_ready(e->endpoints))
				return 0;
			for (int i = 0; i < N_MEMBERS; i++)
				if (waitpid(e->pids[i], NULL, WNOHANG) ==
				    e->pids[i]) {
					e->pids[i] = 0;
					died = true; /* a port taken? */
				}
			usleep(200 * 1000);
		}
		stop_members(e);
	}
	return -1;
}

/* ---- prepare, finish ---------------------------------------------------------- */

int
bench_etcd_prepare(struct bench *b)
{
	struct estate *e = calloc(1, sizeof(*e));
	char *etcd = NULL, *dir = NULL;
	int rc = -1;

	if (!e)
		return -1;
	b->estate = e;
	e->tag = (unsigned)getpid();
	e->controller_db = bench_path(b->dir, "etcd-controller.db");
	e->model_dir = bench_path(b->dir, "etcd-models");
	e->lmdb_dir = bench_path(b->dir, "etcd-lmdb");
	if (!e->controller_db || !e->model_dir || !e->lmdb_dir ||
	    bench_mkdirs(e->model_dir) != 0)
		goto out;
	if (b->etcd_endpoints) {
		char host[64] = "host";

		gethostname(host, sizeof(host) - 1);
		snprintf(e->endpoints, sizeof(e->endpoints), "%s",
			 b->etcd_endpoints);
		/* A prefix of this run's own in a cluster shared with
		 * others. */
		snprintf(e->prefix, sizeof(e->prefix), "mmig-bench/%s-%d-%lld",
			 host, (int)getpid(), (long long)time(NULL));
		if (!cluster_ready(e->endpoints))
			bench_fail(bench_fig(b, 9),
				   "etcd at %.200s does not answer",
				   e->endpoints);
		rc = 0;
		goto out;
	}
	etcd = find_etcd();
	if (!etcd) {
		snprintf(b->etcd_skipped, sizeof(b->etcd_skipped),
			 "skipped: etcd not found (not on PATH; install "
			 "etcd-server, or give --etcd ENDPOINTS)");
		rc = 0;
		goto out;
	}
	dir = bench_path(b->dir, "etcd-cluster");
	if (!dir || bench_mkdirs(dir) != 0)
		goto out;
	snprintf(e->prefix, sizeof(e->prefix), "mmig-bench");
	e->own = true;
	if (!b->json)
		fprintf(stderr, "mmig: bench: starting a 3-member etcd "
				"cluster on loopback...\n");
	if (start_cluster(e, etcd, dir) != 0) {
		bench_fail(bench_fig(b, 9),
			   "the etcd cluster did not start (logs in %s/m*.log, "
			   "removed with the scratch directory)",
			   dir);
		rc = 0;
		goto out;
	}
	rc = 0;
out:
	free(etcd);
	free(dir);
	return rc;
}

void
bench_etcd_finish(struct bench *b)
{
	struct estate *e = b->estate;

	if (!e)
		return;
	if (e->own) {
		stop_members(e);
	} else if (e->endpoints[0] && !b->etcd_skipped[0]) {
		/* A shared cluster: remove what this run settled. */
		struct mmig_journal *j = open_etcd(b, "bench", 0);
		size_t n = 0;

		if (j)
			mmig_journal_prune_v2(j, 0, 0, &n, NULL);
		mmig_journal_close(j);
	}
	free(e->controller_db);
	free(e->model_dir);
	free(e->lmdb_dir);
	free(e);
	b->estate = NULL;
}

/* ---- (a) latency --------------------------------------------------------------- */

struct lat_job {
	struct bench *b;
	bool on_etcd;
	size_t r;
};

static int
lat_child(void *arg, double *out)
{
	struct lat_job *job = arg;
	struct estate *e = job->b->estate;
	struct mmig_journal *j = NULL;
	struct eop_self self = { 0 };
	char uuid[37];
	int rc;

	model_uuid(e, job->on_etcd ? KIND_LAT_ETCD : KIND_LAT_LMDB, job->r,
		   uuid);
	if (job->on_etcd) {
		j = open_etcd(job->b, "bench", 0);
	} else {
		struct mmig_journal_options o = MMIG_JOURNAL_OPTIONS_INIT;
		char name[32];
		char *dir;
		struct mmig_error *err = NULL;

		snprintf(name, sizeof(name), "etcd-lmdb-%zu", job->r);
		dir = bench_path(job->b->dir, name);
		if (dir && mmig_journal_open(&j, dir, &o, &err) != MMIG_OK) {
			fprintf(stderr, "mmig: bench: journal %s: %s\n", dir,
				mmig_error_message(err));
			mmig_error_free(err);
			j = NULL;
		}
		free(dir);
	}
	if (!j)
		return -1;
	rc = run_migration(e, j, job->b->sz.etcd_ops, uuid, &self, &out[0]);
	mmig_journal_close(j);
	if (rc != MMIG_OK) {
		fprintf(stderr, "mmig: bench: migration on %s: %s\n",
			job->on_etcd ? "etcd" : "LMDB", mmig_strerror(rc));
		return -1;
	}
	out[0] /= (double)job->b->sz.etcd_ops;
	return 0;
}

/* ---- (b), (c) takeover -------------------------------------------------------- */

struct take_job {
	struct bench *b;
	uint64_t t0; /* the kill (or the freeze), monotonic ns */
};

static int
scope_for(void *arg, const char *uuid, enum mmig_durability d,
	  struct mmig_scope **out)
{
	const struct estate *e = arg;

	return mmig_scope_for_model(out, e->controller_db, e->model_dir, uuid,
				    d);
}

/* Another node: wait for the owners' leases to expire (polling every
 * 50 ms), then recover with the rollback policy: out[0] = ms from t0 to
 * settled. */
static int
take_child(void *arg, double *out)
{
	struct take_job *job = arg;
	struct estate *e = job->b->estate;
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for,
		.scope_arg = e,
		.log = bench_log_quiet,
	};
	struct mmig_recover_summary *sum = NULL;
	struct mmig_registry *reg = NULL;
	struct mmig_journal *j = open_etcd(job->b, "bench-b", 0);
	size_t rolled = 0;
	int rc;

	if (!j || mmig_registry_new(&reg) != MMIG_OK ||
	    mmig_registry_add(reg, &eop_vt, NULL, NULL) != MMIG_OK) {
		mmig_journal_close(j);
		mmig_registry_free(reg);
		return -1;
	}
	for (int t = 0; t < 1200; t++) {
		struct mmig_migration_info *a = NULL;
		size_t n = 0, alive = 0;

		if (mmig_journal_list_v2(j, false, &a, &n, NULL) != MMIG_OK)
			break;
		for (size_t i = 0; i < n; i++)
			alive += mmig_migration_info_at(a, i)->owner_alive;
		mmig_migration_info_free(a, n);
		if (!alive)
			break;
		usleep(50 * 1000);
	}
	rc = mmig_recover(j, reg, &o, &sum);
	out[0] = (double)(bench_now_ns() - job->t0) / 1e6;
	if (rc == MMIG_OK)
		for (size_t i = 0; i < sum->n; i++)
			rolled += mmig_recover_summary_item(sum, i)->action ==
				  MMIG_RECOVER_ROLLED_BACK;
	mmig_recover_summary_free(sum);
	mmig_journal_close(j);
	mmig_registry_free(reg);
	if (rc != MMIG_OK || rolled != 1) {
		fprintf(stderr,
			"mmig: bench: takeover: recover %s, rolled "
			"back %zu of 1\n",
			mmig_strerror(rc), rolled);
		return -1;
	}
	return 0;
}

/*
 * Node A: a migration of 4 ops on etcd whose op 2 stops (see struct
 * eop_self).  Exits 0 when its perform failed (as a stale owner must), 1
 * when it succeeded, 2 when it could not start.
 */
static void
node_a(struct bench *b, const char *uuid, int to_parent, int from_parent)
{
	struct estate *e = b->estate;
	struct eop_self self = { .stop_at = 2,
				 .to_parent = to_parent,
				 .from_parent = from_parent };
	struct mmig_journal *j = open_etcd(b, "bench-a", 0);
	int rc;

	if (!j)
		_exit(2);
	rc = run_migration(e, j, 4, uuid, &self, NULL);
	mmig_journal_close(j);
	_exit(rc == MMIG_OK ? 1 : 0);
}

/* Wait for @p pid (at most 120 s, then SIGKILL); @return its status. */
static int
reap(pid_t pid)
{
	int status = 0;

	for (int t = 0; t < 1200; t++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -1;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* The rows A wrote after it was resumed, committed. */
static long
late_rows(const struct estate *e, const char *uuid)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	if (sqlite3_open_v2(e->controller_db, &db, SQLITE_OPEN_READONLY,
			    NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM bench_etcd WHERE uuid = ? "
			       "AND late = 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * The journal records of model @p uuid's migration accepted from a stale
 * owner: after the takeover's CLAIMED, any with an epoch below its, and
 * any after the terminal record.  -1 when it cannot be read or did not
 * settle.
 */
static long
late_records(struct bench *b, const char *uuid)
{
	struct mmig_journal *j =
		open_etcd(b, "bench-check", MMIG_JOURNAL_RDONLY);
	struct mmig_migration_info *a = NULL;
	char *text = NULL, *line, *save = NULL;
	size_t n = 0, len = 0;
	long stale = -1;
	bool claimed = false, settled = false;
	json_int_t claim_epoch = 0;
	FILE *mem;

	if (!j || mmig_journal_list_v2(j, true, &a, &n, NULL) != MMIG_OK)
		goto out;
	mem = open_memstream(&text, &len);
	for (size_t i = 0; mem && i < n; i++) {
		const struct mmig_migration_info *m =
			mmig_migration_info_at(a, i);

		if (strcmp(m->model_uuid, uuid) == 0 &&
		    mmig_journal_show(j, m->id, mem, NULL) != MMIG_OK) {
			fclose(mem);
			mem = NULL;
		}
	}
	if (!mem || fclose(mem) != 0)
		goto out;
	stale = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *v = json_loads(line, 0, NULL);
		const char *kind =
			json_string_value(json_object_get(v, "kind"));
		json_int_t epoch =
			json_integer_value(json_object_get(v, "epoch"));

		if (kind && settled)
			stale++;
		else if (kind && claimed && epoch < claim_epoch)
			stale++;
		if (kind && strcmp(kind, "CLAIMED") == 0) {
			claimed = true;
			claim_epoch = epoch;
		}
		if (kind && (strcmp(kind, "ROLLED_BACK") == 0 ||
			     strcmp(kind, "COMMITTED") == 0))
			settled = true;
		json_decref(v);
	}
	if (!settled)
		stale = -1;
out:
	free(text);
	mmig_migration_info_free(a, n);
	mmig_journal_close(j);
	return stale;
}

/* (b): @return the takeover in ms, or a negative value. */
static double
takeover_killed(struct bench *b, size_t r)
{
	struct estate *e = b->estate;
	struct take_job job = { .b = b };
	char uuid[37], c;
	double out[1] = { -1 };
	int p[2];
	pid_t pid;

	model_uuid(e, KIND_TAKEOVER, r, uuid);
	if (pipe(p) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		node_a(b, uuid, p[1], -1);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0)
			reap(pid);
		return -1;
	}
	close(p[0]);
	kill(pid, SIGKILL);
	job.t0 = bench_now_ns();
	reap(pid);
	if (bench_child(take_child, &job, out, 1, NULL) != 0)
		return -1;
	return out[0];
}

/* (c): @return the stale writes accepted (journal records + database
 * commits), or a negative value; *frozen_ms the takeover of the frozen
 * owner. */
static double
stale_writes(struct bench *b, size_t r, double *frozen_ms, double *records,
	     double *rows)
{
	struct estate *e = b->estate;
	struct take_job job = { .b = b };
	char uuid[37], c = 'g';
	double out[1] = { -1 };
	int up[2], down[2], status;
	long nrec, nrow;
	pid_t pid;

	model_uuid(e, KIND_STALE, r, uuid);
	if (pipe(up) != 0)
		return -1;
	if (pipe(down) != 0) {
		close(up[0]);
		close(up[1]);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		node_a(b, uuid, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &c, 1) != 1) {
		close(up[0]);
		close(down[1]);
		if (pid > 0)
			reap(pid);
		return -1;
	}
	close(up[0]);
	/* Frozen inside op 2, before its database write. */
	kill(pid, SIGSTOP);
	job.t0 = bench_now_ns();
	if (bench_child(take_child, &job, out, 1, NULL) != 0) {
		kill(pid, SIGKILL);
		kill(pid, SIGCONT);
		close(down[1]);
		reap(pid);
		return -1;
	}
	*frozen_ms = out[0];
	/* Taken over and rolled back: A goes on from where it stood. */
	c = 'g';
	if (write(down[1], &c, 1) != 1)
		c = 0;
	close(down[1]);
	kill(pid, SIGCONT);
	status = reap(pid);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
		fprintf(stderr, "mmig: bench: stale owner: status %d\n",
			status);
		return -1;
	}
	nrec = late_records(b, uuid);
	nrow = late_rows(e, uuid);
	if (nrec < 0 || nrow < 0)
		return -1;
	*records = (double)nrec;
	*rows = (double)nrow;
	/* A perform that succeeded is a stale owner's commit accepted,
	 * whatever the counts say. */
	return (double)(nrec + nrow + (WEXITSTATUS(status) == 1));
}

/* ---- one run ------------------------------------------------------------------- */

void
bench_etcd_run(struct bench *b, size_t r)
{
	struct bench_figure *f = bench_fig(b, 9);
	struct estate *e = b->estate;
	struct lat_job le = { .b = b, .on_etcd = true, .r = r },
		       ll = { .b = b, .on_etcd = false, .r = r };
	double etcd_us[1], lmdb_us[1], take, frozen = 0, recs = 0, rows = 0,
					     stale,
					     ttl = (double)b->sz.etcd_ttl_s;

	if (!e || b->etcd_skipped[0] || f->error[0] || r >= b->sz.etcd_runs)
		return;
	/* Which one goes first alternates run by run. */
	if (r % 2 == 0) {
		if (bench_child(lat_child, &le, etcd_us, 1, NULL) != 0 ||
		    bench_child(lat_child, &ll, lmdb_us, 1, NULL) != 0)
			goto failed;
	} else {
		if (bench_child(lat_child, &ll, lmdb_us, 1, NULL) != 0 ||
		    bench_child(lat_child, &le, etcd_us, 1, NULL) != 0)
			goto failed;
	}
	take = takeover_killed(b, r);
	if (take < 0)
		goto failed;
	stale = stale_writes(b, r, &frozen, &recs, &rows);
	if (stale < 0)
		goto failed;
	bench_put(&f->value, etcd_us[0]);
	bench_put(&f->ratio, etcd_us[0] / lmdb_us[0]);
	bench_put(&f->extra[0], lmdb_us[0]);
	bench_put(&f->extra[1], ttl);
	bench_put(&f->extra[2], take);
	bench_put(&f->extra[3], take / (ttl * 1e3));
	bench_put(&f->extra[4], frozen);
	bench_put(&f->extra[5], frozen / (ttl * 1e3));
	bench_put(&f->extra[6], stale);
	bench_put(&f->extra[7], recs);
	bench_put(&f->extra[8], rows);
	return;
failed:
	bench_fail(f, "run %zu failed (see the messages above)", r + 1);
}
