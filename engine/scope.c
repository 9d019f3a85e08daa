/*
 * engine/scope.c - the databases an operation works on: the scope, its two
 * transaction runners (controller and model database) and the model deleter.
 *
 * Connections are opened lazily, on the first request for a runner, because
 * many operations only touch one of the two databases and a model database
 * must not be created by a migration that never gets as far as creating it.
 * Every connection runs in WAL mode with `synchronous` taken from the scope's
 * durability (FULL for MMIG_DURABLE, OFF for MMIG_PROCESS): in WAL mode FULL
 * syncs the log on every commit, so a committed transaction survives power
 * loss, while OFF leaves the writes to the page cache, which survives the
 * process being killed.
 *
 * Busy handling is ours, not SQLite's: no busy timeout is set.  A busy
 * handler would sleep inside sqlite3_step() where it cannot see the
 * operation's context, and it would only retry the one statement, whereas
 * the only safe retry after a lost lock is the whole transaction.  So
 * mmig_txn_run() rolls back, sleeps with exponential backoff, checks the
 * context and runs the transaction again, within a budget per call.
 *
 * Invariant: mmig_txn_run() never returns with a transaction open on the
 * runner's connection that it began itself, whatever failed.
 *
 * The model database file is fenced like a transaction (invariant F) while
 * the scope is bound to a journaled migration: the file is created by the
 * owner's first forward transaction on it, and deleted by
 * mmig_scope_delete_model(), each inside a transaction on the controller
 * database that first checks the owner epoch there.  The controller's write
 * lock is held across the creation or the deletion, so a new owner's
 * fencing transaction (recovery's first step) comes either before -- and
 * the stale owner is refused and touches no file -- or after, and then
 * finds the file as the stale owner left it.  The coordinator journals a
 * deletion (MODEL_DELETED) right after it.
 */
#include "scope-int.h"

#include "fault.h"
#include "internal.h"
#include "mmig/ctx.h"
#include "mmig/error.h"
#include "mmig/scope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	MMIG__BUSY_BUDGET_DEFAULT_MS = 5000,
	MMIG__BUSY_FIRST_DELAY_MS = 1,
	MMIG__BUSY_MAX_DELAY_MS = 64,
};

#define UUID_LEN 36

/*
 * Bounded exponential backoff: 1 ms doubling to 64 ms, never sleeping past
 * the deadline, so a caller's budget is honoured to within one try.
 */
struct backoff {
	uint64_t deadline_ns;
	unsigned delay_ms;
	unsigned tries;
};

static void
backoff_init(struct backoff *b, unsigned budget_ms)
{
	b->deadline_ns = mmig__now_mono_ns() + (uint64_t)budget_ms * 1000000u;
	b->delay_ms = MMIG__BUSY_FIRST_DELAY_MS;
	b->tries = 0;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};

	/* A signal cuts the sleep short; sleep the rest. */
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* @return false once the budget is spent; otherwise sleeps and true. */
static bool
backoff_wait(struct backoff *b)
{
	uint64_t now = mmig__now_mono_ns();
	uint64_t wait_ns;

	if (now >= b->deadline_ns)
		return false;
	wait_ns = (uint64_t)b->delay_ms * 1000000u;
	if (wait_ns > b->deadline_ns - now)
		wait_ns = b->deadline_ns - now;
	sleep_ns(wait_ns);
	b->delay_ms *= 2;
	if (b->delay_ms > MMIG__BUSY_MAX_DELAY_MS)
		b->delay_ms = MMIG__BUSY_MAX_DELAY_MS;
	return true;
}

static bool
sqlite_is_busy(int rc)
{
	/* Mask to the primary code, in case extended codes are enabled. */
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static int
sqlite_to_code(int rc)
{
	return sqlite_is_busy(rc) ? MMIG_EBUSY : MMIG_EDB;
}

struct mmig_error *
mmig_error_sqlite(sqlite3 *db, int rc, const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	return mmig_error_new(sqlite_to_code(rc), "%s: %s",
			      what ? what : "sqlite", msg);
}

/* "<step> <file>: <errmsg>", so a failure names the database it hit. */
static struct mmig_error *
runner_error(const struct mmig_txn_runner *r, sqlite3 *db, int rc,
	     const char *step)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	return mmig_error_new(sqlite_to_code(rc), "%s %s: %s", step, r->path,
			      msg);
}

bool
mmig_uuid_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < UUID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f')) {
			/* Also stops at the terminator of a short string. */
			return false;
		}
	}
	return s[UUID_LEN] == '\0';
}

static void
runner_init(struct mmig_txn_runner *r, struct mmig_scope *s, const char *path)
{
	*r = (struct mmig_txn_runner){
		.scope = s,
		.path = path,
		.db = NULL,
		.txn_count = 0,
		.markers_ready = false,
		.busy_retries = 0,
	};
}

static void
runner_close(struct mmig_txn_runner *r)
{
	/*
	 * close_v2 never fails: with statements still unfinalized the handle
	 * lingers as a zombie until they are, but it is ours no more.
	 */
	sqlite3_close_v2(r->db);
	r->db = NULL;
	r->markers_ready = false;
}

/*
 * Run one setup statement, retrying while the database is busy: the first
 * connection to a WAL database may find another running WAL recovery, and
 * with no busy timeout that shows as SQLITE_BUSY.  When @p res is given, the
 * first column of the first row is copied there.
 */
static int
exec_setup(sqlite3 *db, const char *sql, struct backoff *b, char *res,
	   size_t res_len)
{
	sqlite3_stmt *st = NULL;
	int rc;

	for (;;) {
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW && res) {
				const void *t = sqlite3_column_text(st, 0);

				snprintf(res, res_len, "%s",
					 t ? (const char *)t : "");
			}
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				rc = SQLITE_OK;
			sqlite3_finalize(st);
			st = NULL;
		}
		if (!sqlite_is_busy(rc) || !backoff_wait(b))
			break;
	}
	return rc;
}

/*
 * Open the runner's database; with @p create false a missing file is not
 * made (SQLITE_CANTOPEN, *missing set).
 */

int
mmig__db_file_create(const char *path, unsigned mode)
{
	int fd, rc = MMIG_OK;

	if (!path || !*path || strcmp(path, ":memory:") == 0 ||
	    strncmp(path, "file:", 5) == 0)
		return MMIG_OK;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		  (mode_t)mode);
	if (fd < 0)
		return errno == EEXIST ? MMIG_OK : -errno;
	/* O_EXCL follows no symlink: a link is EEXIST, left as it is.  open()
	 * applied the umask; the mode asked for is the mode wanted. */
	if (fchmod(fd, (mode_t)mode) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static struct mmig_error *
runner_open(struct mmig_txn_runner *r, bool create, bool *missing)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
			  (create ? SQLITE_OPEN_CREATE : 0);
	const struct mmig_scope *s = r->scope;
	struct mmig_error *err = NULL;
	sqlite3 *db = NULL;
	struct backoff b;
	const char *sync_sql;
	char mode[16] = "";
	int rc;

	if (missing)
		*missing = false;
	if (r->db)
		return NULL;
	/* Made with its mode here, only where it may be made at all: a bound
	 * model runner makes its file only in its fenced first transaction. */
	rc = create ? mmig__db_file_create(r->path, s->file_mode) : MMIG_OK;
	if (rc != MMIG_OK) {
		/* MMIG_EDB, as when SQLite cannot open it; the cause named */
		err = mmig_error_new(MMIG_EDB, "open %s: create: %s", r->path,
				     mmig_strerror(rc));
		goto fail;
	}
	rc = sqlite3_open_v2(r->path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		struct stat st;

		if (!create && missing && stat(r->path, &st) != 0 &&
		    errno == ENOENT)
			*missing = true;
		err = runner_error(r, db, rc, "open");
		goto fail;
	}
	backoff_init(&b, s->busy_budget_ms);
	rc = exec_setup(db, "PRAGMA journal_mode=WAL", &b, mode, sizeof(mode));
	if (rc != SQLITE_OK) {
		err = runner_error(r, db, rc, "set WAL mode on");
		goto fail;
	}
	/*
	 * SQLite answers with the mode it ended up in rather than failing.
	 * Only a database with no file (":memory:", "") may stay out of WAL;
	 * anything else would silently lose the durability we promise.
	 */
	if (strcasecmp(mode, "wal") != 0 && *sqlite3_db_filename(db, "main")) {
		err = mmig_error_new(MMIG_EDB,
				     "set WAL mode on %s: journal mode is %s",
				     r->path, mode);
		goto fail;
	}
	sync_sql = s->durability == MMIG_PROCESS ? "PRAGMA synchronous=OFF"
						 : "PRAGMA synchronous=FULL";
	rc = exec_setup(db, sync_sql, &b, NULL, 0);
	if (rc != SQLITE_OK) {
		err = runner_error(r, db, rc, "set synchronous on");
		goto fail;
	}
	rc = exec_setup(db, "PRAGMA foreign_keys=ON", &b, NULL, 0);
	if (rc != SQLITE_OK) {
		err = runner_error(r, db, rc, "enable foreign keys on");
		goto fail;
	}
	r->db = db;
	r->pending = false;
	return NULL;

fail:
	/* open_v2 hands back a handle even when it fails; NULL is harmless. */
	sqlite3_close_v2(db);
	return err;
}

int
mmig_scope_new(struct mmig_scope **out,
	       const struct mmig_scope_config *caller_cfg)
{
	struct mmig_scope_config copy, *cfg = &copy;
	struct mmig_scope *s = NULL;
	int rc = MMIG_OK;

	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	/* Read the caller's layout into ours (see "ABI" in mmig/common.h). */
	if (!caller_cfg ||
	    mmig__sized_in(&copy, sizeof(copy), caller_cfg,
			   MMIG__END(struct mmig_scope_config,
				     busy_budget_ms)) != MMIG_OK)
		return MMIG_EINVAL;
	if (!cfg->controller_db || !*cfg->controller_db ||
	    !cfg->model_db || !*cfg->model_db ||
	    (cfg->durability != MMIG_DURABLE &&
	     cfg->durability != MMIG_PROCESS))
		return MMIG_EINVAL;
	s = mmig__calloc(1, sizeof(*s));
	if (!s)
		return MMIG_ENOMEM;
	s->controller_path = mmig__strdup(cfg->controller_db);
	if (!s->controller_path) {
		rc = MMIG_ENOMEM;
		goto fail_scope;
	}
	s->model_path = mmig__strdup(cfg->model_db);
	if (!s->model_path) {
		rc = MMIG_ENOMEM;
		goto fail_controller;
	}
	s->durability = cfg->durability;
	s->delete_model =
		cfg->delete_model ? cfg->delete_model : mmig_model_db_remove;
	s->delete_arg = cfg->delete_arg;
	s->busy_budget_ms = cfg->busy_budget_ms ? cfg->busy_budget_ms
						: MMIG__BUSY_BUDGET_DEFAULT_MS;
	s->file_mode = MMIG__DB_FILE_MODE;
	runner_init(&s->controller, s, s->controller_path);
	runner_init(&s->model, s, s->model_path);
	*out = s;
	return MMIG_OK;

fail_controller:
	mmig__free(s->controller_path);
fail_scope:
	mmig__free(s);
	return rc;
}

int
mmig_scope_for_model(struct mmig_scope **out, const char *controller_db,
		     const char *model_dir, const char *model_uuid,
		     enum mmig_durability durability)
{
	struct mmig_scope_config cfg = MMIG_SCOPE_CONFIG_INIT;
	char *model_db;
	int rc;

	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	/*
	 * The UUID becomes part of a path: only the canonical form, which has
	 * no '/', no '.' and one spelling per model, may get that far.
	 */
	if (!controller_db || !model_dir || !*model_dir ||
	    !mmig_uuid_valid(model_uuid))
		return MMIG_EINVAL;
	model_db = mmig__asprintf("%s/%s.db", model_dir, model_uuid);
	if (!model_db)
		return MMIG_ENOMEM;
	cfg.controller_db = controller_db;
	cfg.model_db = model_db;
	cfg.durability = durability;
	rc = mmig_scope_new(out, &cfg);
	mmig__free(model_db);
	return rc;
}

void
mmig_scope_free(struct mmig_scope *s)
{
	if (!s)
		return;
	runner_close(&s->controller);
	runner_close(&s->model);
	mmig__free(s->controller_path);
	mmig__free(s->model_path);
	mmig__free(s);
}

const char *
mmig_scope_controller_path(const struct mmig_scope *s)
{
	return s ? s->controller_path : NULL;
}

const char *
mmig_scope_model_path(const struct mmig_scope *s)
{
	return s ? s->model_path : NULL;
}

int
mmig_scope_set_file_mode(struct mmig_scope *s, unsigned mode)
{
	if (!s || (mode & ~0666u) || (mode & 0600u) != 0600u)
		return MMIG_EINVAL;
	s->file_mode = mode;
	return MMIG_OK;
}

static struct mmig_error *
scope_runner(struct mmig_scope *s, struct mmig_txn_runner *r,
	     struct mmig_txn_runner **out)
{
	struct mmig_error *err;
	bool missing = false;

	if (r != &s->model || !s->binding.bound) {
		err = runner_open(r, true, NULL);
	} else {
		/*
		 * Bound: an existing model database is opened, a missing one
		 * is not made here (setup must have no side effects, and a
		 * stale owner must not make it): the runner waits for its
		 * first forward transaction, which makes it fenced.
		 */
		err = runner_open(r, false, &missing);
		if (err && missing) {
			mmig_error_free(err);
			err = NULL;
			r->pending = true;
		}
	}
	*out = err ? NULL : r;
	return err;
}

struct mmig_error *
mmig_scope_controller_db(struct mmig_scope *s, struct mmig_txn_runner **out)
{
	if (!s || !out) {
		if (out)
			*out = NULL;
		return mmig_error_new(MMIG_EINVAL,
				      "controller database: no scope");
	}
	return scope_runner(s, &s->controller, out);
}

struct mmig_error *
mmig_scope_model_db(struct mmig_scope *s, struct mmig_txn_runner **out)
{
	if (!s || !out) {
		if (out)
			*out = NULL;
		return mmig_error_new(MMIG_EINVAL, "model database: no scope");
	}
	return scope_runner(s, &s->model, out);
}

/* Remove the model database through the scope's deleter: inside the
 * controller's fencing transaction when the scope is bound, directly
 * otherwise (@p db unused). */
static struct mmig_error *
delete_model_txn(sqlite3 *db, void *arg)
{
	struct mmig_scope *s = arg;

	(void)db;
	if (MMIG_FAULT(MODEL_DELETE))
		return mmig_error_new(-EIO, "delete model database %s: "
					    "injected I/O error",
				      s->model_path);
	return s->delete_model(s->delete_arg, s->model_path);
}

/* Inside the controller's fencing transaction: make the model database
 * (opening it with SQLITE_OPEN_CREATE writes its first page). */
static struct mmig_error *
create_model_txn(sqlite3 *db, void *arg)
{
	struct mmig_scope *s = arg;

	(void)db;
	return runner_open(&s->model, true, NULL);
}

static struct mmig_error *fence_run(struct mmig_scope *s, mmig_txn_fn fn);

/*
 * Creating and deleting the model database file of a bound scope are
 * fenced: each runs inside a transaction on the controller database that
 * first checks (and records) the owner epoch there, so a process that lost
 * the migration gets MMIG_EFENCED and touches no file.
 */
static struct mmig_error *
fenced_create(struct mmig_scope *s)
{
	struct mmig_error *err = fence_run(s, create_model_txn);

	if (!err && MMIG_FAULT(MODEL_CREATED))
		err = mmig_error_new(-EIO, "create model database %s: injected "
					   "I/O error after the creation",
				     s->model_path);
	if (!err)
		return NULL;
	/* The next transaction tries again. */
	runner_close(&s->model);
	s->model.pending = true;
	return mmig_error_wrap(err, "create model database %s", s->model_path);
}

/* A deletion is then reported to the binding's model_deleted (the
 * journal's MODEL_DELETED). */
static struct mmig_error *
fenced_delete(struct mmig_scope *s)
{
	struct mmig_error *err = fence_run(s, delete_model_txn);

	if (!err && MMIG_FAULT(MODEL_UNLINKED))
		err = mmig_error_new(-EIO, "delete model database %s: injected "
					   "I/O error after the deletion",
				     s->model_path);
	if (!err && s->binding.model_deleted)
		err = s->binding.model_deleted(s->binding.model_deleted_arg);
	return err;
}

struct mmig_error *
mmig_scope_delete_model(struct mmig_scope *s)
{
	if (!s)
		return mmig_error_new(MMIG_EINVAL,
				      "delete model database: no scope");
	/*
	 * Closing from inside a transaction on that very connection would pull
	 * the handle out from under the transaction's work.
	 */
	if (s->model.db && !sqlite3_get_autocommit(s->model.db))
		return mmig_error_new(MMIG_EINVAL,
				      "delete model database %s: a transaction "
				      "is open on it",
				      s->model_path);
	/*
	 * Our own connection goes first.  Left open, it would keep writing to
	 * files that are no longer there, and on its eventual close it would
	 * checkpoint and unlink the -wal by name, which by then may belong to
	 * a new database made at the same path.
	 */
	runner_close(&s->model);
	s->model.pending = false;
	return s->binding.bound ? fenced_delete(s) : delete_model_txn(NULL, s);
}

/* fsync the directory holding @p path, so renames and unlinks in it are
 * durable. */
static int
sync_parent_dir(const char *path)
{
	char *dir = mmig__strdup(path);
	char *slash;
	int fd, rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	mmig__free(dir);
	return rc;
}

struct mmig_error *
mmig_model_db_remove(void *arg, const char *path)
{
	/*
	 * Deleting must be idempotent and leave no half state that could be
	 * mistaken for a database.  So every file is first renamed to a
	 * tombstone -- the -wal before the database, since a -wal left next
	 * to no database would be replayed into the next database created at
	 * this path -- the directory is synced (the database is now gone,
	 * durably), then the tombstones are unlinked.  A crash anywhere
	 * leaves either the files or tombstones that the next call removes.
	 */
	static const char *const suffixes[] = { "-wal", "-shm", "" };
	struct mmig_error *err = NULL;
	int rc;

	(void)arg;
	if (!path || !*path)
		return mmig_error_new(MMIG_EINVAL,
				      "remove model database: no path");
	for (size_t i = 0; i < MMIG_ARRAY_LEN(suffixes) && !err; i++) {
		char *file = mmig__asprintf("%s%s", path, suffixes[i]);
		char *tomb = mmig__asprintf("%s.tombstone%s", path,
					    suffixes[i]);

		if (!file || !tomb)
			err = mmig_error_new(MMIG_ENOMEM,
					     "remove model database %s: %s",
					     path, mmig_strerror(MMIG_ENOMEM));
		else if (rename(file, tomb) != 0 && errno != ENOENT)
			err = mmig_error_new(-errno, "remove %s: %s", file,
					     strerror(errno));
		mmig__free(file);
		mmig__free(tomb);
	}
	if (!err && (rc = sync_parent_dir(path)) != 0)
		err = mmig_error_new(rc, "remove %s: sync directory: %s", path,
				     strerror(-rc));
	for (size_t i = 0; i < MMIG_ARRAY_LEN(suffixes) && !err; i++) {
		char *tomb = mmig__asprintf("%s.tombstone%s", path,
					    suffixes[i]);

		if (!tomb)
			err = mmig_error_new(MMIG_ENOMEM, "remove %s: %s", path,
					     mmig_strerror(MMIG_ENOMEM));
		else if (unlink(tomb) != 0 && errno != ENOENT)
			err = mmig_error_new(-errno, "remove %s: %s", tomb,
					     strerror(errno));
		mmig__free(tomb);
	}
	return err;
}

/* ---- markers and fencing (invariants E and F) ---------------------------- */

static const char markers_schema[] =
	"CREATE TABLE IF NOT EXISTS mmig_applied ("
	" migration TEXT NOT NULL, op INTEGER NOT NULL, txn INTEGER NOT NULL,"
	" kind TEXT NOT NULL, epoch INTEGER NOT NULL,"
	" PRIMARY KEY (migration, op, txn, kind)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS mmig_epoch ("
	" migration TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;";

void
mmig__scope_bind(struct mmig_scope *s, const char *migration, uint64_t epoch)
{
	s->binding = (struct mmig__txn_binding){ .op = -1 };
	if (!migration)
		return;
	s->binding.bound = true;
	snprintf(s->binding.migration, sizeof(s->binding.migration), "%s",
		 migration);
	s->binding.epoch = epoch;
}

bool
mmig__scope_journaled(const struct mmig_scope *s)
{
	return s && s->binding.bound;
}

void
mmig__scope_bind_op(struct mmig_scope *s, int64_t op, bool undo)
{
	s->binding.op = op;
	s->binding.undo = undo;
	s->binding.txn_no = 0;
}

/* Run @p sql with the given integer/text parameters; *found says whether
 * it produced a row, *value gets its first column. */
static int
marker_query(sqlite3 *db, const char *sql, const char *migration,
	     int64_t a, int64_t b, const char *kind, bool *found,
	     int64_t *value)
{
	sqlite3_stmt *st;
	int rc, i = 1;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, i++, migration, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, i++, a);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, i++, b);
	if (sqlite3_bind_parameter_count(st) >= 4)
		sqlite3_bind_text(st, i++, kind, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (found)
		*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW && value)
		*value = sqlite3_column_int64(st, 0);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

/* What a bound transaction does besides fencing: run the work and write
 * its marker (RUN), nothing (SKIP: it committed before), only the marker
 * (ONLY: an undo of what never committed here), or nothing at all (FENCE:
 * the fencing transaction, op -1, which has no marker). */
enum marker_plan { MARK_RUN, MARK_SKIP, MARK_ONLY, MARK_FENCE };

/*
 * Inside the open transaction: fence on the epoch, then decide whether the
 * work runs.  The marker is written afterwards by marker_write().
 */
/* The migration's epoch in the scope's controller database. */
static struct mmig_error *
controller_epoch(struct mmig_scope *s, const char *migration, bool *found,
		 int64_t *epoch)
{
	struct mmig_txn_runner *c;
	struct mmig_error *err = mmig_scope_controller_db(s, &c);
	bool table = false;
	int rc;

	*found = false;
	if (err)
		return err;
	rc = marker_query(c->db,
			  "SELECT 1 FROM sqlite_master WHERE name = 'mmig_epoch'",
			  "", 0, 0, NULL, &table, NULL);
	if (rc == SQLITE_OK && table)
		rc = marker_query(c->db,
				  "SELECT epoch FROM mmig_epoch WHERE migration = ?",
				  migration, 0, 0, NULL, found, epoch);
	return rc == SQLITE_OK ? NULL
			       : runner_error(c, c->db, rc, "read epoch in");
}

static struct mmig_error *
marker_check(struct mmig_txn_runner *r, enum marker_plan *plan)
{
	const struct mmig__txn_binding *b = &r->scope->binding;
	sqlite3 *db = r->db;
	const char *kind = b->undo ? "undo" : "do";
	struct mmig_error *err;
	int64_t db_epoch = 0;
	bool found;
	int rc;

	*plan = MARK_RUN;
	if (!r->markers_ready) {
		rc = sqlite3_exec(db, markers_schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return runner_error(r, db, rc, "create marker tables in");
		r->markers_ready = true;
	}
	rc = marker_query(db, "SELECT epoch FROM mmig_epoch WHERE migration = ?",
			  b->migration, 0, 0, NULL, &found, &db_epoch);
	if (rc != SQLITE_OK)
		return runner_error(r, db, rc, "read epoch in");
	/* A model database made after the new owner fenced (a stale owner
	 * creating it late) has no epoch of its own yet: the controller's is
	 * the one that counts. */
	if (!found && r != &r->scope->controller) {
		err = controller_epoch(r->scope, b->migration, &found, &db_epoch);
		if (err)
			return err;
	}
	if (found && (uint64_t)db_epoch > b->epoch)
		return mmig_error_new(MMIG_EFENCED,
				      "%s: migration %s is owned by epoch %lld "
				      "now, this is epoch %llu: refusing to "
				      "commit",
				      r->path, b->migration, (long long)db_epoch,
				      (unsigned long long)b->epoch);
	if (!found || (uint64_t)db_epoch < b->epoch) {
		rc = marker_query(db,
				  "INSERT OR REPLACE INTO mmig_epoch VALUES (?, ?)",
				  b->migration, (int64_t)b->epoch, 0, NULL,
				  NULL, NULL);
		if (rc != SQLITE_OK)
			return runner_error(r, db, rc, "write epoch in");
	}
	if (b->op < 0) {
		*plan = MARK_FENCE;
		return NULL;
	}
	rc = marker_query(db,
			  "SELECT 1 FROM mmig_applied WHERE migration = ? "
			  "AND op = ? AND txn = ? AND kind = ?",
			  b->migration, b->op, (int64_t)b->txn_no, kind, &found,
			  NULL);
	if (rc != SQLITE_OK)
		return runner_error(r, db, rc, "read markers in");
	if (found) {
		*plan = MARK_SKIP; /* committed before: never twice */
		return NULL;
	}
	if (b->undo) {
		/* Undo only what this op committed here (rule 5). */
		rc = marker_query(db,
				  "SELECT 1 FROM mmig_applied WHERE migration = ? "
				  "AND op = ? AND kind = 'do'",
				  b->migration, b->op, 0, NULL, &found, NULL);
		if (rc != SQLITE_OK)
			return runner_error(r, db, rc, "read markers in");
		if (!found)
			*plan = MARK_ONLY;
	}
	return NULL;
}

static struct mmig_error *
marker_write(struct mmig_txn_runner *r)
{
	const struct mmig__txn_binding *b = &r->scope->binding;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(r->db,
				"INSERT INTO mmig_applied VALUES (?, ?, ?, ?, ?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return runner_error(r, r->db, rc, "write marker in");
	sqlite3_bind_text(st, 1, b->migration, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, b->op);
	sqlite3_bind_int64(st, 3, (int64_t)b->txn_no);
	sqlite3_bind_text(st, 4, b->undo ? "undo" : "do", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)b->epoch);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? NULL
				 : runner_error(r, r->db, rc, "write marker in");
}

static struct mmig_error *
fence_txn(sqlite3 *db, void *arg)
{
	return NULL; /* marker_check() does the fencing */
}

/* Run @p fn in a fencing transaction (op -1: epoch check, no marker) on
 * the controller database; the binding is as it was afterwards, the op's
 * transaction numbers included. */
static struct mmig_error *
fence_run(struct mmig_scope *s, mmig_txn_fn fn)
{
	struct mmig__txn_binding saved = s->binding;
	struct mmig_txn_runner *r;
	struct mmig_error *err;

	mmig__scope_bind_op(s, -1, false);
	err = mmig_scope_controller_db(s, &r);
	if (!err)
		err = mmig_txn_run(r, NULL, fn, s);
	s->binding = saved;
	return err;
}

struct mmig_error *
mmig__scope_fence(struct mmig_scope *s)
{
	struct mmig_txn_runner *r;
	struct mmig_error *err;
	struct stat st;
	int64_t op = s->binding.op;
	bool undo = s->binding.undo;

	/* Op -1: a transaction that only fences, with no marker. */
	mmig__scope_bind_op(s, -1, false);
	err = mmig_scope_controller_db(s, &r);
	if (!err)
		err = mmig_txn_run(r, NULL, fence_txn, NULL);
	if (!err && stat(s->model_path, &st) == 0) {
		mmig__scope_bind_op(s, -1, false);
		err = mmig_scope_model_db(s, &r);
		if (!err)
			err = mmig_txn_run(r, NULL, fence_txn, NULL);
	}
	mmig__scope_bind_op(s, op, undo);
	return err;
}

struct mmig_error *
mmig__scope_op_committed(struct mmig_scope *s, struct mmig_txn_runner *r,
			 bool *yes)
{
	bool table = false;
	int rc;

	*yes = false;
	if (!s->binding.bound || s->binding.op < 0 || !r || !r->db)
		return NULL;
	rc = marker_query(r->db,
			  "SELECT 1 FROM sqlite_master WHERE name = 'mmig_applied'",
			  "", 0, 0, NULL, &table, NULL);
	if (rc == SQLITE_OK && table)
		rc = marker_query(r->db,
				  "SELECT 1 FROM mmig_applied WHERE migration = ? "
				  "AND op = ? AND kind = 'do'",
				  s->binding.migration, s->binding.op, 0, NULL,
				  yes, NULL);
	return rc == SQLITE_OK ? NULL
			       : runner_error(r, r->db, rc, "read markers in");
}

static struct mmig_error *
any_undo_in(struct mmig_txn_runner *r, const char *migration, bool *any)
{
	bool found = false;
	int rc;

	rc = marker_query(r->db,
			  "SELECT 1 FROM sqlite_master WHERE name = 'mmig_applied'",
			  "", 0, 0, NULL, &found, NULL);
	if (rc == SQLITE_OK && found)
		rc = marker_query(r->db,
				  "SELECT 1 FROM mmig_applied WHERE migration = ? "
				  "AND kind = 'undo'",
				  migration, 0, 0, NULL, &found, NULL);
	if (rc != SQLITE_OK)
		return runner_error(r, r->db, rc, "read markers in");
	*any = *any || found;
	return NULL;
}

struct mmig_error *
mmig__scope_any_undo(struct mmig_scope *s, const char *migration, bool *any)
{
	struct mmig_txn_runner *r;
	struct mmig_error *err;
	struct stat st;

	*any = false;
	if (stat(s->controller_path, &st) == 0) {
		err = mmig_scope_controller_db(s, &r);
		if (!err)
			err = any_undo_in(r, migration, any);
		if (err)
			return err;
	}
	if (stat(s->model_path, &st) == 0) {
		err = mmig_scope_model_db(s, &r);
		if (!err)
			err = any_undo_in(r, migration, any);
		if (err)
			return err;
	}
	return NULL;
}

/*
 * Roll back whatever transaction is open.  @return false when one is still
 * open afterwards (the connection cannot be trusted for another try).
 */
static bool
txn_rollback(sqlite3 *db)
{
	if (sqlite3_get_autocommit(db))
		return true;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return sqlite3_get_autocommit(db) != 0;
}

/*
 * One try: BEGIN IMMEDIATE, the work, COMMIT.  Sets *errp to NULL once
 * committed, or to the error.  @return true when the error is a busy one the
 * caller may retry; the transaction is rolled back either way.
 */
static bool
txn_try(struct mmig_txn_runner *r, mmig_txn_fn fn, void *arg,
	struct mmig_error **errp)
{
	sqlite3 *db = r->db;
	struct mmig_error *err;
	bool busy;
	int rc;

	/*
	 * IMMEDIATE takes the write lock up front, so a busy database shows
	 * here, before any work, and not half-way through it.
	 */
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		busy = sqlite_is_busy(rc);
		*errp = busy ? mmig_error_sqlite(db, rc, "begin")
			     : runner_error(r, db, rc, "begin transaction on");
		return busy;
	}
	if (r->scope->binding.bound) {
		enum marker_plan plan;

		err = marker_check(r, &plan);
		/* A fencing transaction's work runs once the epoch is
		 * checked: the model file's creation or deletion. */
		if (!err && (plan == MARK_RUN || plan == MARK_FENCE))
			err = fn(db, arg);
		if (!err && plan != MARK_SKIP && plan != MARK_FENCE)
			err = marker_write(r);
		/* A skipped transaction still commits: its epoch write is what
		 * fences a stale owner out (invariant F). */
		if (!err && plan == MARK_SKIP)
			r->scope->binding.skipped++;
	} else {
		err = fn(db, arg);
	}
	if (err) {
		busy = mmig_error_code(err) == MMIG_EBUSY;
		/* The marker tables may have been made in this very
		 * transaction: make sure the next one checks again. */
		r->markers_ready = false;
		if (!txn_rollback(db) && busy) {
			/* Retrying on a connection still in a transaction
			 * would nest; report the connection instead. */
			mmig_error_free(err);
			err = runner_error(r, db, sqlite3_errcode(db),
					   "rollback on");
			busy = false;
		}
		/* Any other error of the work comes back as it is. */
		*errp = err;
		return busy;
	}
	if (r->scope && r->scope->binding.bound && r->scope->binding.alive) {
		struct mmig_error *lerr =
			r->scope->binding.alive(r->scope->binding.alive_arg);

		if (lerr) {
			txn_rollback(db);
			r->markers_ready = false;
			*errp = lerr;
			return false;
		}
	}
	if (MMIG_FAULT(DB_COMMIT)) {
		txn_rollback(db);
		r->markers_ready = false;
		*errp = mmig_error_new(-EIO, "commit on %s: injected I/O error",
				       r->path);
		return false;
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK && MMIG_FAULT(DB_COMMITTED)) {
		*errp = mmig_error_new(-EIO, "commit on %s: injected I/O "
					     "error after the commit", r->path);
		return false;
	}
	if (rc == SQLITE_OK) {
		r->txn_count++;
		*errp = NULL;
		return false;
	}
	/*
	 * A failed COMMIT (busy, a deferred constraint, I/O) leaves the
	 * transaction open; the message is taken before the rollback
	 * overwrites it.
	 */
	busy = sqlite_is_busy(rc);
	r->markers_ready = false;
	err = busy ? mmig_error_sqlite(db, rc, "commit")
		   : runner_error(r, db, rc, "commit on");
	if (!txn_rollback(db))
		busy = false;
	*errp = err;
	return busy;
}

struct mmig_error *
mmig_txn_run(struct mmig_txn_runner *r, struct mmig_ctx *ctx, mmig_txn_fn fn,
	     void *arg)
{
	struct mmig_error *err = NULL, *last_busy = NULL;
	struct backoff b;
	int rc;

	if (!r || !fn)
		return mmig_error_new(MMIG_EINVAL,
				      "transaction: runner and function are "
				      "required");
	if (!r->db && r->pending && r->scope->binding.bound &&
	    r->scope->binding.undo) {
		/* The model database was never made: an undo has nothing to
		 * undo there (rule 5), and must not make it. */
		r->scope->binding.txn_no++;
		return NULL;
	}
	if (!r->db && r->pending) {
		err = r->scope->binding.bound ? fenced_create(r->scope)
					      : runner_open(r, true, NULL);
		if (err)
			return err;
	}
	if (!r->db)
		return mmig_error_new(MMIG_EDB,
				      "transaction on %s: connection closed "
				      "(model database deleted); get the "
				      "runner from the scope again",
				      r->path);
	/*
	 * BEGIN inside a transaction would fail, and our cleanup would then
	 * roll back a transaction that is not ours.
	 */
	if (!sqlite3_get_autocommit(r->db))
		return mmig_error_new(MMIG_EINVAL,
				      "transaction on %s: a transaction is "
				      "already open on this connection",
				      r->path);
	/* Numbered per call, not per try: a retry is the same transaction. */
	if (r->scope->binding.bound)
		r->scope->binding.txn_no++;
	backoff_init(&b, r->scope->busy_budget_ms);
	for (;;) {
		rc = mmig_ctx_err(ctx);
		if (rc != MMIG_OK) {
			err = mmig_error_new(rc, "transaction on %s: %s",
					     r->path, mmig_strerror(rc));
			break;
		}
		b.tries++;
		if (!txn_try(r, fn, arg, &err))
			break;
		r->busy_retries++;
		mmig_error_free(last_busy);
		last_busy = err;
		err = NULL;
		if (!backoff_wait(&b)) {
			/* The last busy failure stays as the cause. */
			err = mmig_error_wrap(last_busy,
					      "database is busy: %s: gave up "
					      "after %u tries",
					      r->path, b.tries);
			last_busy = NULL;
			break;
		}
	}
	mmig_error_free(last_busy);
	return err;
}

sqlite3 *
mmig_txn_runner_db(struct mmig_txn_runner *r)
{
	return r ? r->db : NULL;
}
