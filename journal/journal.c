/*
 * journal/journal.c - the LMDB journal: environment, group commit, and the
 * writer side of a migration (create, stage, commit, claim).
 *
 * Layout: one LMDB environment with five named databases.
 *
 *   meta      "format" -> uint32 journal format (this code: 1)
 *             "durability" -> 1 byte, the durability of every migration
 *             in the journal, fixed by its first (see one_durability())
 *   hdr       id(16) -> HEADER record (immutable)
 *   status    id(16) -> STATUS record (state cache, owner, epoch)
 *   log       id(16) || seq(8, big-endian) -> transition record
 *   inflight  id(16) -> "" for every migration not COMMITTED/ROLLED_BACK
 *
 * A migration's history is one cursor range of `log`; start-up recovery
 * reads `inflight` only, so its cost does not grow with history.
 *
 * Durability ordering.  Each write transaction is made with the
 * environment's flags set for the sync it needs (mdb_env_set_flags, under
 * `write_lock`; LMDB 0.9 ignores sync flags given to mdb_txn_begin):
 *   MMIG__SYNC_NONE  MDB_NOSYNC      nothing synced (process mode)
 *   MMIG__SYNC_DATA  MDB_NOMETASYNC  data pages fdatasync'ed, then the meta
 *                                    page written unsynced: one sync.  A
 *                                    power cut can lose this commit (its
 *                                    meta page), never an older one, since
 *                                    the next commit's sync carries it.
 *   MMIG__SYNC_FULL  0               data synced, meta written and synced.
 * (LMDB writes a fully synced meta page through a descriptor opened with
 * O_DSYNC, so FULL is one fdatasync plus one synchronous write.)
 * Recovery's "one ahead" rule is what makes SYNC_DATA safe for BEGIN
 * records; a migration's first commit and its terminal record use FULL.
 * MDB_NOSYNC commits can, on power loss, leave a meta page on disk whose
 * data pages are not: that is why process mode promises nothing across a
 * power cut, for the whole journal, until the next synced commit.
 *
 * Group commit.  Writers queue their staged records; one thread (the
 * leader) takes every queued request, writes them all in one LMDB
 * transaction with the strongest sync any of them asked for, and wakes the
 * others.  Concurrent migrations of one process thus share syncs.  Before
 * taking the queue the leader waits, briefly, for the writers of the last
 * two batches (gather()): left alone, concurrent writers split into two
 * halves that take turns, and every sync serves half of them.
 *
 * Fencing.  Every request is checked, inside the write transaction, against
 * the epoch in the migration's STATUS record; a writer whose epoch is stale
 * (another process claimed the migration) is refused with MMIG_EFENCED and
 * writes nothing.  Appends are idempotent by seq: a key already holding the
 * same bytes is accepted, different bytes are an error.
 *
 * Map growth.  MDB_MAP_FULL aborts the transaction, the map doubles and the
 * batch is written again; MDB_MAP_RESIZED (another process grew it) adopts
 * the new size.  Resizing needs no transaction open in this process, so
 * every transaction holds `map_lock` shared and a resize takes it
 * exclusively.
 */
#include "fault.h"
#include "internal.h"
#include "journal-int.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_FORMAT 1u
#define DEFAULT_MAP_SIZE ((size_t)64 << 20)

struct commit_req {
	struct mmig__jmig *m;
	enum mmig__sync sync;
	bool creating;
	bool claiming;
	uint8_t *status_val; /* NULL when the status does not change */
	size_t status_len;
	int rc;
	struct mmig_error *err;
	bool excluded; /* failed alone; left out of its batch's retries */
	bool done;
	/* Signalled when the request is done, or when its thread is to lead
	 * the next batch: each waiter has its own, so a finished batch wakes
	 * only its own writers, not every thread queued behind it. */
	pthread_cond_t wake;
	struct commit_req *next;
};

/* Writers remembered from the last batches (see gather()). */
#define RECENT_MAX 64

struct mmig_journal {
	MDB_env *env;
	struct mmig__dbs dbs;
	unsigned flags;
	char *path;
	struct mmig_owner self;

	pthread_mutex_t lock; /* guards the queue, `leading` and `recent` */
	struct commit_req *queue;
	struct commit_req **queue_tail;
	size_t n_queued;
	bool leading;
	/* The migrations that wrote in the last two batches, and how long the
	 * last batch took: what a new leader expects, and for how long. */
	const struct mmig__jmig *recent[2][RECENT_MAX];
	size_t n_recent[2];
	uint64_t last_batch_ns;

	/* The migrations a handle of this process drives: created or
	 * claimed here, not freed yet (see mmig__owner_active()). */
	pthread_mutex_t active_lock;
	struct mmig__jmig *active;

	pthread_rwlock_t map_lock;
	/* Serializes this process's write transactions, so that the sync
	 * flags set on the environment just before one begins are the ones
	 * its commit uses (LMDB 0.9 takes them from the environment, not from
	 * mdb_txn_begin). */
	pthread_mutex_t write_lock;

	atomic_uint_fast64_t commits, syncs, records, bytes, map_grows;
};

int
mmig__from_mdb(int rc)
{
	if (rc == MDB_SUCCESS)
		return MMIG_OK;
	if (rc == MDB_NOTFOUND)
		return MMIG_ENOTFOUND;
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
		return MMIG_ECORRUPT;
	if (rc == MDB_VERSION_MISMATCH)
		return MMIG_EFORMAT;
	if (rc > 0)
		return -rc; /* an errno value */
	return MMIG_EJOURNAL;
}

struct mmig_error *
mmig__mdb_error(int rc, const char *fmt, ...)
{
	struct mmig_error *e;
	char *what;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	what = n >= 0 ? mmig__malloc((size_t)n + 1) : NULL;
	if (!what)
		return mmig_error_new(mmig__from_mdb(rc), "%s", mdb_strerror(rc));
	va_start(ap, fmt);
	vsnprintf(what, (size_t)n + 1, fmt, ap);
	va_end(ap);
	e = mmig_error_new(mmig__from_mdb(rc), "%s: %s", what, mdb_strerror(rc));
	mmig__free(what);
	return e;
}

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

const struct mmig__dbs *
mmig__journal_dbs(const struct mmig_journal *j)
{
	return &j->dbs;
}

void
mmig__log_key(uint8_t key[MMIG__LOG_KEY_LEN], const uint8_t id[MMIG_ID_LEN],
	      uint64_t seq)
{
	memcpy(key, id, MMIG_ID_LEN);
	for (int i = 0; i < 8; i++)
		key[MMIG_ID_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* ---- map size ---------------------------------------------------------- */

/* Largest map we grow to: 1 TiB of address space. */
#define MAX_MAP_SIZE ((size_t)1 << 40)

/* Double the map.  Called with no transaction of this process open.
 * @return an LMDB code: MDB_MAP_FULL when the map cannot grow further. */
static int
map_grow(struct mmig_journal *j)
{
	MDB_envinfo info;
	int rc, dead;

	/* A reader slot left by a killed process pins old pages; clearing it
	 * may free enough space by itself, but grow anyway. */
	mdb_reader_check(j->env, &dead);
	pthread_rwlock_wrlock(&j->map_lock);
	mdb_env_info(j->env, &info);
	rc = info.me_mapsize >= MAX_MAP_SIZE
		     ? MDB_MAP_FULL
		     : mdb_env_set_mapsize(j->env, info.me_mapsize * 2);
	pthread_rwlock_unlock(&j->map_lock);
	if (rc == MDB_SUCCESS)
		atomic_fetch_add(&j->map_grows, 1);
	return rc;
}

static void
map_adopt(struct mmig_journal *j)
{
	pthread_rwlock_wrlock(&j->map_lock);
	mdb_env_set_mapsize(j->env, 0);
	pthread_rwlock_unlock(&j->map_lock);
}

/* Begin a transaction with map_lock held shared; adopts a map another
 * process grew. */
static int
txn_begin(struct mmig_journal *j, unsigned flags, MDB_txn **txn)
{
	int rc;

	for (;;) {
		pthread_rwlock_rdlock(&j->map_lock);
		rc = mdb_txn_begin(j->env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			break;
		pthread_rwlock_unlock(&j->map_lock);
		map_adopt(j);
	}
	if (rc != MDB_SUCCESS)
		pthread_rwlock_unlock(&j->map_lock);
	return rc;
}

static void
txn_abort(struct mmig_journal *j, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&j->map_lock);
}

static int
txn_commit(struct mmig_journal *j, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);

	pthread_rwlock_unlock(&j->map_lock);
	return rc;
}

static unsigned
sync_flags_for(enum mmig__sync sync)
{
	switch (sync) {
	case MMIG__SYNC_NONE:
		return MDB_NOSYNC;
	case MMIG__SYNC_DATA:
		return MDB_NOMETASYNC;
	case MMIG__SYNC_FULL:
		return 0;
	}
	return 0;
}

/* Begin a write transaction whose commit syncs as @p sync asks. */
static int
write_begin(struct mmig_journal *j, enum mmig__sync sync, MDB_txn **txn)
{
	unsigned want = sync_flags_for(sync);
	int rc;

	pthread_mutex_lock(&j->write_lock);
	rc = mdb_env_set_flags(j->env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
	if (rc == MDB_SUCCESS && want)
		rc = mdb_env_set_flags(j->env, want, 1);
	if (rc == MDB_SUCCESS)
		rc = txn_begin(j, 0, txn);
	if (rc != MDB_SUCCESS)
		pthread_mutex_unlock(&j->write_lock);
	return rc;
}

static void
write_abort(struct mmig_journal *j, MDB_txn *txn)
{
	txn_abort(j, txn);
	pthread_mutex_unlock(&j->write_lock);
}

static int
write_commit(struct mmig_journal *j, MDB_txn *txn, enum mmig__sync sync)
{
	int rc;

	if (MMIG_FAULT(JOURNAL_COMMIT)) {
		/* An injected I/O error: nothing of this commit is written. */
		write_abort(j, txn);
		return mmig__fault_errno();
	}
	rc = txn_commit(j, txn);
	pthread_mutex_unlock(&j->write_lock);
	if (rc == MDB_SUCCESS && MMIG_FAULT(JOURNAL_COMMITTED))
		rc = mmig__fault_errno(); /* committed, but reported failed */
	if (rc == MDB_SUCCESS) {
		atomic_fetch_add(&j->commits, 1);
		atomic_fetch_add(&j->syncs, sync == MMIG__SYNC_FULL   ? 2
					    : sync == MMIG__SYNC_DATA ? 1
								      : 0);
	}
	return rc;
}

int
mmig__journal_read_begin(struct mmig_journal *j, MDB_txn **txn)
{
	return mmig__from_mdb(txn_begin(j, MDB_RDONLY, txn));
}

void
mmig__journal_read_end(struct mmig_journal *j, MDB_txn *txn)
{
	txn_abort(j, txn);
}

int
mmig__journal_write_begin(struct mmig_journal *j, MDB_txn **txn)
{
	if (j->flags & MMIG_JOURNAL_RDONLY)
		return MMIG_EINVAL;
	return mmig__from_mdb(write_begin(j, MMIG__SYNC_FULL, txn));
}

int
mmig__journal_write_commit(struct mmig_journal *j, MDB_txn *txn)
{
	return mmig__from_mdb(write_commit(j, txn, MMIG__SYNC_FULL));
}

void
mmig__journal_write_abort(struct mmig_journal *j, MDB_txn *txn)
{
	write_abort(j, txn);
}

/* ---- open / close -------------------------------------------------------- */

static int
open_dbs(struct mmig_journal *j, struct mmig_error **errp)
{
	bool rdonly = j->flags & MMIG_JOURNAL_RDONLY;
	unsigned dbflags = rdonly ? 0 : MDB_CREATE;
	struct {
		const char *name;
		MDB_dbi *dbi;
	} dbs[] = {
		{ "meta", &j->dbs.meta },       { "hdr", &j->dbs.hdr },
		{ "status", &j->dbs.status },   { "log", &j->dbs.log },
		{ "inflight", &j->dbs.inflight },
	};
	MDB_val key = { .mv_size = 6, .mv_data = "format" }, val;
	uint32_t format = JOURNAL_FORMAT;
	MDB_txn *txn;
	int rc;

	rc = txn_begin(j, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s: begin", j->path));
		return mmig__from_mdb(rc);
	}
	for (size_t i = 0; i < MMIG_ARRAY_LEN(dbs); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, dbflags, dbs[i].dbi);
		if (rc == MDB_NOTFOUND) {
			set_err(errp, mmig_error_new(
					      MMIG_ECORRUPT,
					      "%s: not a libmmig journal (no '%s' table)",
					      j->path, dbs[i].name));
			txn_abort(j, txn);
			return MMIG_ECORRUPT;
		}
		if (rc != MDB_SUCCESS)
			goto fail;
	}
	rc = mdb_get(txn, j->dbs.meta, &key, &val);
	if (rc == MDB_NOTFOUND && !rdonly) {
		val = (MDB_val){ .mv_size = sizeof(format), .mv_data = &format };
		rc = mdb_put(txn, j->dbs.meta, &key, &val, 0);
	} else if (rc == MDB_SUCCESS) {
		if (val.mv_size != sizeof(format)) {
			set_err(errp, mmig_error_new(MMIG_ECORRUPT,
						     "%s: journal format record is corrupt",
						     j->path));
			txn_abort(j, txn);
			return MMIG_ECORRUPT;
		}
		memcpy(&format, val.mv_data, sizeof(format));
		if (format > JOURNAL_FORMAT) {
			set_err(errp, mmig_error_new(
					      MMIG_EFORMAT,
					      "%s: journal format %u is newer than this build's %u",
					      j->path, format, JOURNAL_FORMAT));
			txn_abort(j, txn);
			return MMIG_EFORMAT;
		}
	} else if (rc == MDB_NOTFOUND) {
		rc = MDB_SUCCESS; /* read-only and empty: nothing to read */
	}
	if (rc != MDB_SUCCESS)
		goto fail;
	rc = txn_commit(j, txn);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s: open tables", j->path));
		return mmig__from_mdb(rc);
	}
	return MMIG_OK;
fail:
	set_err(errp, mmig__mdb_error(rc, "%s: open tables", j->path));
	txn_abort(j, txn);
	return mmig__from_mdb(rc);
}

/* fsync a directory, so the entries made in it are durable. */
static int
sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

static char *
parent_of(const char *path)
{
	char *p = mmig__strdup(path);
	char *slash;

	if (!p)
		return NULL;
	while ((slash = strrchr(p, '/')) && slash != p && slash[1] == '\0')
		*slash = '\0'; /* trailing slashes */
	slash = strrchr(p, '/');
	if (!slash) {
		mmig__free(p);
		return mmig__strdup(".");
	}
	slash[slash == p ? 1 : 0] = '\0';
	return p;
}

static bool
dir_is_missing_or_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return errno == ENOENT;
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/*
 * A data file shorter than its meta page says (truncated by a bad copy, a
 * full disk, a damaged filesystem) would make LMDB read past the end of
 * its map, which kills the process with SIGBUS.  Refuse it with a message
 * instead, before anything reads it.
 */
static int
check_length(struct mmig_journal *j, const char *dir, struct mmig_error **errp)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	char *path;
	uint64_t need;
	int rc = MMIG_OK;

	if (mdb_env_info(j->env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(j->env, &st) != MDB_SUCCESS)
		return MMIG_OK; /* nothing to compare: let LMDB decide */
	path = mmig__asprintf("%s/data.mdb", dir);
	if (!path)
		return MMIG_ENOMEM;
	need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if (stat(path, &fst) == 0 && (uint64_t)fst.st_size < need) {
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "%s: truncated: %lld bytes, but its pages "
				      "reach %llu",
				      path, (long long)fst.st_size,
				      (unsigned long long)need));
		rc = MMIG_ECORRUPT;
	}
	mmig__free(path);
	return rc;
}

static int open_at(struct mmig_journal **out, const char *dir,
		   const struct mmig_journal_options *opts,
		   struct mmig_error **errp);

/*
 * Make a new journal so that a crash or a power cut at any instant leaves
 * either no journal or a whole one: build it in a directory of its own,
 * sync its files and the directory, rename it into place, and sync the
 * parent.  (LMDB writes a new file's first meta pages without a sync, and
 * nothing would sync the directory entries: a power cut could otherwise
 * lose a journal whose migrations' effects are already in the databases.)
 */
static int
create_atomically(const char *dir, const struct mmig_journal_options *opts,
		  struct mmig_error **errp)
{
	struct mmig_journal *tmp_j = NULL;
	char *tmp = mmig__asprintf("%s.new-%d", dir, (int)getpid());
	char *parent = parent_of(dir);
	int rc;

	if (!tmp || !parent) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	rc = open_at(&tmp_j, tmp, opts, errp);
	if (rc == MMIG_OK)
		rc = mmig__from_mdb(mdb_env_sync(tmp_j->env, 1));
	mmig_journal_close(tmp_j);
	if (rc == MMIG_OK)
		rc = sync_dir(tmp);
	if (rc == MMIG_OK && rename(tmp, dir) != 0) {
		rc = errno == ENOTEMPTY || errno == EEXIST ? MMIG_OK : -errno;
		/* Another process made it first: use theirs. */
		for (const char *f = "data.mdb"; f; f = strcmp(f, "data.mdb") == 0
							  ? "lock.mdb"
							  : NULL) {
			char *file = mmig__asprintf("%s/%s", tmp, f);

			if (file)
				unlink(file);
			mmig__free(file);
		}
		rmdir(tmp);
	}
	if (rc == MMIG_OK)
		rc = sync_dir(parent);
	if (rc != MMIG_OK && errp && !*errp)
		*errp = mmig_error_new(rc, "%s: create: %s", dir,
				       mmig_strerror(rc));
out:
	mmig__free(tmp);
	mmig__free(parent);
	return rc;
}

int
mmig_journal_open(struct mmig_journal **out, const char *dir,
		  const struct mmig_journal_options *caller_opts,
		  struct mmig_error **errp)
{
	struct mmig_journal_options copy, *opts = NULL;
	bool rdonly;
	int rc;

	*out = NULL;
	if (errp)
		*errp = NULL;
	/* The caller's struct may be an older, smaller layout: read it into
	 * ours (see "ABI" in mmig/common.h). */
	if (caller_opts) {
		if (mmig__sized_in(&copy, sizeof(copy), caller_opts,
				   MMIG__END(struct mmig_journal_options,
					     initial_map_size)) != MMIG_OK) {
			if (errp)
				*errp = mmig_error_new(MMIG_EINVAL,
					"%s: journal options: size %zu is "
					"below the first layout", dir,
					caller_opts->size);
			return MMIG_EINVAL;
		}
		opts = &copy;
	}
	rdonly = opts && (opts->flags & MMIG_JOURNAL_RDONLY);
	if (!rdonly && dir_is_missing_or_empty(dir)) {
		rc = create_atomically(dir, opts, errp);
		if (rc != MMIG_OK)
			return rc;
	}
	return open_at(out, dir, opts, errp);
}

static int
open_at(struct mmig_journal **out, const char *dir,
	const struct mmig_journal_options *opts, struct mmig_error **errp)
{
	struct mmig_journal_options defaults = MMIG_JOURNAL_OPTIONS_INIT;
	struct mmig_journal *j;
	unsigned envflags;
	int rc, dead;

	*out = NULL;
	if (errp)
		*errp = NULL;
	if (!opts)
		opts = &defaults;
	j = mmig__calloc(1, sizeof(*j));
	if (!j)
		return MMIG_ENOMEM;
	j->flags = opts->flags;
	j->queue_tail = &j->queue;
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->active_lock, NULL);
	pthread_rwlock_init(&j->map_lock, NULL);
	pthread_mutex_init(&j->write_lock, NULL);
	j->path = mmig__strdup(dir);
	rc = j->path ? mmig__owner_self(&j->self) : MMIG_ENOMEM;
	if (rc != MMIG_OK)
		goto fail;
	if (!(j->flags & MMIG_JOURNAL_RDONLY) && mkdir(dir, 0700) != 0 &&
	    errno != EEXIST) {
		rc = -errno;
		set_err(errp, mmig_error_new(rc, "%s: %s", dir, strerror(-rc)));
		goto fail;
	}
	rc = mdb_env_create(&j->env);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s", dir));
		rc = mmig__from_mdb(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(j->env, 8);
	mdb_env_set_mapsize(j->env, opts->initial_map_size
					    ? opts->initial_map_size
					    : DEFAULT_MAP_SIZE);
	/* MDB_NOTLS: read transactions are not tied to threads, and the
	 * group-commit leader may be any thread. */
	envflags = MDB_NOTLS;
	if (j->flags & MMIG_JOURNAL_RDONLY)
		envflags |= MDB_RDONLY;
	rc = mdb_env_open(j->env, dir, envflags, 0600);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s", dir));
		rc = mmig__from_mdb(rc);
		goto fail;
	}
	/* Clear reader slots left by processes that were killed. */
	mdb_reader_check(j->env, &dead);
	rc = check_length(j, dir, errp);
	if (rc == MMIG_OK)
		rc = open_dbs(j, errp);
	if (rc != MMIG_OK)
		goto fail;
	*out = j;
	return MMIG_OK;
fail:
	mmig_journal_close(j);
	return rc;
}

void
mmig_journal_close(struct mmig_journal *j)
{
	if (!j)
		return;
	if (j->env)
		mdb_env_close(j->env);
	mmig__owner_free(&j->self);
	mmig__free(j->path);
	pthread_rwlock_destroy(&j->map_lock);
	pthread_mutex_destroy(&j->write_lock);
	pthread_mutex_destroy(&j->lock);
	pthread_mutex_destroy(&j->active_lock);
	mmig__free(j);
}

int
mmig_journal_sync(struct mmig_journal *j)
{
	char *path;
	int fd, rc = MMIG_OK;

	if (!(j->flags & MMIG_JOURNAL_RDONLY)) {
		rc = mmig__from_mdb(mdb_env_sync(j->env, 1));
		atomic_fetch_add(&j->syncs, 1);
		return rc;
	}
	/* Read-only handles cannot ask LMDB to sync, but an fdatasync on any
	 * descriptor of the file flushes what other processes wrote. */
	path = mmig__asprintf("%s/data.mdb", j->path);
	if (!path)
		return MMIG_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fdatasync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	mmig__free(path);
	atomic_fetch_add(&j->syncs, 1);
	return rc;
}

void
mmig_journal_get_stats(const struct mmig_journal *j,
		       struct mmig_journal_stats *out)
{
	struct mmig_journal *mj = (struct mmig_journal *)j;
	struct mmig_journal_stats s = MMIG_JOURNAL_STATS_INIT;

	s.commits = atomic_load(&mj->commits);
	s.syncs = atomic_load(&mj->syncs);
	s.records = atomic_load(&mj->records);
	s.bytes = atomic_load(&mj->bytes);
	s.map_grows = atomic_load(&mj->map_grows);
	/* Only as far as the caller's layout reaches. */
	(void)mmig__sized_out(out, &s, sizeof(s),
			      MMIG__END(struct mmig_journal_stats, map_grows));
}

/*
 * A journal holds migrations of one durability, fixed by its first one.
 * A process-mode commit is not synced: after a power cut its meta page can
 * be on disk without its data pages, and LMDB then opens a broken tree --
 * every migration in the file would be lost with it, durable ones too.
 * @return the durability stored in @p txn's meta, or -1 when none is yet.
 */
static int
stored_durability(struct mmig_journal *j, MDB_txn *txn)
{
	MDB_val key = { .mv_size = 10, .mv_data = "durability" }, val;

	if (mdb_get(txn, j->dbs.meta, &key, &val) != MDB_SUCCESS ||
	    val.mv_size != 1)
		return -1;
	return *(const uint8_t *)val.mv_data;
}

static int
put_durability(struct mmig_journal *j, MDB_txn *txn, enum mmig_durability d)
{
	MDB_val key = { .mv_size = 10, .mv_data = "durability" };
	uint8_t byte = (uint8_t)d;
	MDB_val val = { .mv_size = 1, .mv_data = &byte };

	return mdb_put(txn, j->dbs.meta, &key, &val, 0);
}

/* A new migration of durability @p d may go into the journal as of @p txn;
 * otherwise the error says why. */
static struct mmig_error *
one_durability(struct mmig_journal *j, MDB_txn *txn, enum mmig_durability d)
{
	int held = stored_durability(j, txn);

	if (held < 0 || held == (int)d)
		return NULL;
	return mmig_error_new(
		MMIG_EINVAL,
		"journal %s holds %s migrations; a %s one needs a journal of "
		"its own (process-mode commits are not synced, and a power "
		"cut during one could corrupt every migration in the file)",
		j->path, mmig_durability_name((enum mmig_durability)held),
		mmig_durability_name(d));
}

/* ---- writing one request inside the batch's transaction ------------------ */

static int
check_fence(struct mmig_journal *j, MDB_txn *txn, struct commit_req *req)
{
	struct mmig__jmig *m = req->m;
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = m->id }, val;
	struct mmig_rec_status st;
	struct mmig_error *err = NULL;
	int rc;

	rc = mdb_get(txn, j->dbs.status, &key, &val);
	if (req->creating) {
		if (rc == MDB_SUCCESS) {
			req->err = mmig_error_new(MMIG_EEXIST,
						  "migration %s: already exists",
						  m->id_text);
			return MMIG_EEXIST;
		}
		req->err = one_durability(j, txn, m->durability);
		return req->err ? mmig_error_code(req->err) : MMIG_OK;
	}
	if (rc != MDB_SUCCESS) {
		req->err = mmig__mdb_error(rc, "migration %s: status",
					   m->id_text);
		return mmig__from_mdb(rc);
	}
	rc = mmig__rec_status_decode(val.mv_data, val.mv_size, &st, &err);
	if (rc != MMIG_OK) {
		req->err = mmig_error_wrap(err, "migration %s: status",
					   m->id_text);
		return rc;
	}
	rc = st.epoch == m->epoch ? MMIG_OK : MMIG_EFENCED;
	if (rc != MMIG_OK)
		req->err = mmig_error_new(
			MMIG_EFENCED,
			"migration %s: epoch %llu was claimed by pid %u (epoch %llu)",
			m->id_text, (unsigned long long)m->epoch,
			st.owner.pid, (unsigned long long)st.epoch);
	mmig__rec_status_free(&st);
	return rc;
}

/* Put unless the key holds the same bytes already (idempotent by seq). */
static int
put_once(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val)
{
	MDB_val old = *val;
	int rc = mdb_put(txn, dbi, key, &old, MDB_NOOVERWRITE);

	if (rc == MDB_KEYEXIST && old.mv_size == val->mv_size &&
	    memcmp(old.mv_data, val->mv_data, val->mv_size) == 0)
		return MDB_SUCCESS;
	return rc;
}

/* The puts of one request.  Returns an LMDB code: anything but success
 * aborts the whole batch (the map filled, or a bug). */
static int
write_req(struct mmig_journal *j, MDB_txn *txn, struct commit_req *req)
{
	struct mmig__jmig *m = req->m;
	MDB_val id = { .mv_size = MMIG_ID_LEN, .mv_data = m->id }, val;
	uint8_t key[MMIG__LOG_KEY_LEN];
	MDB_val lkey = { .mv_size = sizeof(key), .mv_data = key };
	uint64_t bytes = 0;
	int rc = MDB_SUCCESS;

	if (m->header_val) {
		val = (MDB_val){ .mv_size = m->header_len,
				 .mv_data = m->header_val };
		rc = mdb_put(txn, j->dbs.hdr, &id, &val, MDB_NOOVERWRITE);
		if (rc == MDB_SUCCESS && stored_durability(j, txn) < 0)
			rc = put_durability(j, txn, m->durability);
		if (rc != MDB_SUCCESS)
			return rc;
		bytes += m->header_len;
	}
	for (size_t i = 0; i < m->n_staged; i++) {
		mmig__log_key(key, m->id, m->staged[i].seq);
		val = (MDB_val){ .mv_size = m->staged[i].len,
				 .mv_data = m->staged[i].val };
		rc = put_once(txn, j->dbs.log, &lkey, &val);
		if (rc != MDB_SUCCESS)
			return rc;
		bytes += m->staged[i].len;
	}
	if (req->status_val) {
		val = (MDB_val){ .mv_size = req->status_len,
				 .mv_data = req->status_val };
		rc = mdb_put(txn, j->dbs.status, &id, &val, 0);
		if (rc != MDB_SUCCESS)
			return rc;
		bytes += req->status_len;
		if (mmig__state_is_final(m->fold.state)) {
			rc = mdb_del(txn, j->dbs.inflight, &id, NULL);
			if (rc == MDB_NOTFOUND)
				rc = MDB_SUCCESS;
		} else {
			val = (MDB_val){ .mv_size = 0, .mv_data = "" };
			rc = mdb_put(txn, j->dbs.inflight, &id, &val, 0);
		}
	}
	atomic_fetch_add(&j->bytes, bytes);
	atomic_fetch_add(&j->records, m->n_staged);
	return rc;
}

/*
 * Write every request of @p batch in one transaction.  A request whose
 * puts fail (a key conflict) fails alone: its puts may be half done, so
 * the transaction is aborted and the batch written again without it.
 * That costs a retry only when something is wrong, where a nested
 * transaction per request would cost an allocation and a merge on every
 * request of every batch.
 */
static void
write_batch(struct mmig_journal *j, struct commit_req *batch)
{
	enum mmig__sync sync = MMIG__SYNC_NONE;
	bool alone = batch->next == NULL;
	struct commit_req *req;
	MDB_txn *txn;
	int rc;

	for (req = batch; req; req = req->next)
		if (req->sync > sync)
			sync = req->sync;
again:
	rc = write_begin(j, sync, &txn);
	if (rc != MDB_SUCCESS)
		goto fail;
	for (req = batch; req; req = req->next) {
		if (req->excluded)
			continue;
		mmig_error_free(req->err);
		req->err = NULL;
		req->rc = check_fence(j, txn, req);
		if (req->rc != MMIG_OK)
			continue;
		rc = write_req(j, txn, req);
		if (rc == MDB_SUCCESS)
			continue;
		if (rc == MDB_MAP_FULL || alone)
			break;
		req->excluded = true;
		req->rc = mmig__from_mdb(rc);
		req->err = mmig__mdb_error(rc, "migration %s: append",
					   req->m->id_text);
		write_abort(j, txn);
		goto again;
	}
	if (rc != MDB_SUCCESS) {
		write_abort(j, txn);
		goto fail;
	}
	rc = write_commit(j, txn, sync);
	if (rc == MDB_SUCCESS)
		return;
fail:
	if (rc == MDB_MAP_FULL && map_grow(j) == MDB_SUCCESS)
		goto again;
	for (req = batch; req; req = req->next) {
		if (req->excluded)
			continue; /* its own failure says more */
		mmig_error_free(req->err);
		req->rc = mmig__from_mdb(rc);
		req->err = mmig__mdb_error(rc, "journal %s: commit", j->path);
	}
}

/*
 * How many writers a new leader should expect: the distinct migrations of
 * the last two batches.  Two, because concurrent writers settle into
 * alternating halves -- one half queues while the other's batch syncs --
 * and gathering both halves into one batch is the point.  Called with
 * j->lock held.
 */
static size_t
expected_writers(const struct mmig_journal *j)
{
	size_t n = j->n_recent[0];

	for (size_t i = 0; i < j->n_recent[1]; i++) {
		bool seen = false;

		for (size_t k = 0; k < j->n_recent[0] && !seen; k++)
			seen = j->recent[0][k] == j->recent[1][i];
		n += !seen;
	}
	return n;
}

/*
 * The leader, before taking the queue: while fewer writers are queued than
 * wrote in the last two batches, give the others a moment to queue too --
 * as long as each next one arrives within a quarter of the last batch's
 * time.  One sync then serves every concurrent migration instead of half
 * of them.  A lone migration expects only itself and never waits; a
 * migration busy in a long op costs the others one short wait per batch.
 * Called with j->lock held; yields the CPU with the lock dropped, since on
 * a small machine the writers being waited for need it to get here.
 */
static void
gather(struct mmig_journal *j)
{
	size_t want = expected_writers(j), seen = j->n_queued;
	uint64_t wait_ns = j->last_batch_ns / 4, deadline;

	if (want <= seen)
		return;
	if (wait_ns > 200000u)
		wait_ns = 200000u;
	deadline = mmig__now_mono_ns() + wait_ns;
	while (j->n_queued < want) {
		uint64_t now;

		pthread_mutex_unlock(&j->lock);
		sched_yield();
		pthread_mutex_lock(&j->lock);
		now = mmig__now_mono_ns();
		if (j->n_queued > seen) {
			seen = j->n_queued;
			deadline = now + wait_ns;
		} else if (now >= deadline) {
			break;
		}
	}
}

/* Remember the writers of @p batch for expected_writers(). */
static void
remember(struct mmig_journal *j, const struct commit_req *batch)
{
	size_t n = 0;

	memcpy(j->recent[1], j->recent[0], sizeof(j->recent[0]));
	j->n_recent[1] = j->n_recent[0];
	for (; batch && n < RECENT_MAX; batch = batch->next)
		j->recent[0][n++] = batch->m;
	j->n_recent[0] = n;
}

/* Queue @p req and return once some leader (maybe this thread) wrote it. */
static void
group_commit(struct mmig_journal *j, struct commit_req *req)
{
	pthread_cond_init(&req->wake, NULL);
	pthread_mutex_lock(&j->lock);
	req->next = NULL;
	*j->queue_tail = req;
	j->queue_tail = &req->next;
	j->n_queued++;
	while (!req->done) {
		struct commit_req *batch, *r;
		uint64_t t0;

		if (j->leading) {
			pthread_cond_wait(&req->wake, &j->lock);
			continue;
		}
		j->leading = true;
		gather(j);
		batch = j->queue;
		j->queue = NULL;
		j->queue_tail = &j->queue;
		j->n_queued = 0;
		pthread_mutex_unlock(&j->lock);
		t0 = mmig__now_mono_ns();
		write_batch(j, batch);
		pthread_mutex_lock(&j->lock);
		j->last_batch_ns = mmig__now_mono_ns() - t0;
		remember(j, batch);
		/* Each waiter is woken under the lock, so it cannot return
		 * (and destroy its condition) before we are done with it. */
		for (r = batch; r; r = r->next) {
			r->done = true;
			if (r != req)
				pthread_cond_signal(&r->wake);
		}
		j->leading = false;
		/* Whoever queued meanwhile leads the next batch. */
		if (j->queue)
			pthread_cond_signal(&j->queue->wake);
	}
	pthread_mutex_unlock(&j->lock);
	pthread_cond_destroy(&req->wake);
}

/* ---- the migration writer ------------------------------------------------ */

static void
clear_staged(struct mmig__jmig *m)
{
	for (size_t i = 0; i < m->n_staged; i++)
		mmig__free(m->staged[i].val);
	m->n_staged = 0;
	mmig__free(m->header_val);
	m->header_val = NULL;
	m->header_len = 0;
}

/* ---- which migrations this process drives -------------------------------- */

static void
active_add(struct mmig__jmig *m)
{
	struct mmig_journal *j = m->j;

	pthread_mutex_lock(&j->active_lock);
	m->active_next = j->active;
	j->active = m;
	pthread_mutex_unlock(&j->active_lock);
}

static void
active_remove(struct mmig__jmig *m)
{
	struct mmig_journal *j = m->j;
	struct mmig__jmig **p;

	pthread_mutex_lock(&j->active_lock);
	for (p = &j->active; *p; p = &(*p)->active_next) {
		if (*p == m) {
			*p = m->active_next;
			break;
		}
	}
	pthread_mutex_unlock(&j->active_lock);
}

static bool
driving(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN])
{
	bool found = false;

	pthread_mutex_lock(&j->active_lock);
	for (struct mmig__jmig *m = j->active; m && !found; m = m->active_next)
		found = memcmp(m->id, id, MMIG_ID_LEN) == 0;
	pthread_mutex_unlock(&j->active_lock);
	return found;
}

static bool
owner_is_self(const struct mmig_journal *j, const struct mmig_owner *o)
{
	const struct mmig_owner *me = &j->self;

	return o->pid == me->pid && o->start_time == me->start_time &&
	       strcmp(o->boot_id ? o->boot_id : "", me->boot_id) == 0 &&
	       strcmp(o->host ? o->host : "", me->host) == 0;
}

bool
mmig__owner_active(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		   const struct mmig_owner *o)
{
	if (owner_is_self(j, o))
		return driving(j, id);
	return mmig__owner_alive(o);
}

void
mmig__jmig_free(struct mmig__jmig *m)
{
	if (!m)
		return;
	if (m->active)
		active_remove(m);
	clear_staged(m);
	mmig__free(m->staged);
	mmig__fold_free(&m->fold);
	mmig__rec_status_free(&m->status);
	mmig__free(m);
}

int
mmig__jmig_create(struct mmig_journal *j, const struct mmig_rec_header *h,
		  struct mmig__jmig **out, struct mmig_error **errp)
{
	struct mmig_rec_header hdr = *h;
	struct mmig_error *err;
	struct mmig__jmig *m;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	if (j->flags & MMIG_JOURNAL_RDONLY) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "journal %s is open read-only",
					     j->path));
		return MMIG_EINVAL;
	}
	/* Refused here, before anything is staged; the first commit checks
	 * again, atomically, against a creation in another process. */
	rc = mmig__journal_read_begin(j, &txn);
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_new(rc, "journal %s: read: %s",
					     j->path, mmig_strerror(rc)));
		return rc;
	}
	err = one_durability(j, txn, (enum mmig_durability)h->durability);
	mmig__journal_read_end(j, txn);
	if (err) {
		rc = mmig_error_code(err);
		set_err(errp, err);
		return rc;
	}
	m = mmig__calloc(1, sizeof(*m));
	if (!m)
		return MMIG_ENOMEM;
	m->j = j;
	rc = mmig__id_new(m->id);
	if (rc != MMIG_OK)
		goto fail;
	mmig__id_text(m->id, m->id_text);
	m->durability = (enum mmig_durability)h->durability;
	m->epoch = 1;
	rc = mmig__fold_init(&m->fold, h->n_ops);
	if (rc != MMIG_OK)
		goto fail;
	memcpy(hdr.id, m->id, MMIG_ID_LEN);
	hdr.created_ns = mmig__now_real_ns();
	rc = mmig__rec_header_encode(&hdr, &m->header_val, &m->header_len);
	if (rc != MMIG_OK)
		goto fail;
	m->status.state = MMIG_STATE_RUNNING;
	m->status.epoch = m->epoch;
	rc = mmig__owner_copy(&m->status.owner, &j->self);
	if (rc != MMIG_OK)
		goto fail;
	m->committed_state = 0; /* nothing on disk yet */
	m->active = true;
	active_add(m);
	*out = m;
	return MMIG_OK;
fail:
	set_err(errp, mmig_error_new(rc, "journal %s: new migration: %s",
				     j->path, mmig_strerror(rc)));
	mmig__jmig_free(m);
	return rc;
}

int
mmig__jmig_stage(struct mmig__jmig *m, uint32_t kind, int64_t op,
		 const void *data, size_t len, struct mmig_error **errp)
{
	struct mmig_rec_transition t = {
		.kind = kind,
		.op = op,
		.epoch = m->epoch,
		.time_ns = mmig__now_real_ns(),
		.data = (uint8_t *)data,
		.data_len = len,
	};
	struct mmig__staged *s;
	struct mmig_error *err = NULL;
	int rc;

	if (m->poisoned) {
		set_err(errp, mmig_error_new(MMIG_EPOISONED,
					     "migration %s: an earlier journal "
					     "commit failed; recover it",
					     m->id_text));
		return MMIG_EPOISONED;
	}
	if (m->n_staged == m->cap_staged) {
		size_t cap = m->cap_staged ? m->cap_staged * 2 : 4;

		s = mmig__realloc(m->staged, cap * sizeof(*s));
		if (!s)
			return MMIG_ENOMEM;
		m->staged = s;
		m->cap_staged = cap;
	}
	s = &m->staged[m->n_staged];
	rc = mmig__rec_transition_encode(&t, &s->val, &s->len);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__fold_apply(&m->fold, m->next_seq, &t, &err);
	if (rc != MMIG_OK) {
		mmig__free(s->val);
		set_err(errp, mmig_error_wrap(err, "migration %s", m->id_text));
		return rc;
	}
	s->seq = m->next_seq++;
	m->n_staged++;
	return MMIG_OK;
}

int
mmig__jmig_commit(struct mmig__jmig *m, enum mmig__sync sync,
		  struct mmig_error **errp)
{
	struct commit_req req = {
		.m = m,
		.sync = m->durability == MMIG_PROCESS ? MMIG__SYNC_NONE : sync,
		.creating = m->header_val != NULL,
	};
	int rc;

	if (m->poisoned) {
		set_err(errp, mmig_error_new(MMIG_EPOISONED,
					     "migration %s: an earlier journal "
					     "commit failed; recover it",
					     m->id_text));
		return MMIG_EPOISONED;
	}
	if (m->fold.state != m->committed_state) {
		m->status.state = m->fold.state;
		m->status.updated_ns = mmig__now_real_ns();
		rc = mmig__rec_status_encode(&m->status, &req.status_val,
					     &req.status_len);
		if (rc != MMIG_OK)
			return rc;
	}
	group_commit(m->j, &req);
	mmig__free(req.status_val);
	if (req.rc != MMIG_OK) {
		m->poisoned = true;
		set_err(errp, req.err);
		return req.rc;
	}
	m->committed_state = m->fold.state;
	clear_staged(m);
	return MMIG_OK;
}

/* ---- claiming a migration (recovery) ------------------------------------- */

/*
 * A PAUSED or NEEDS_ATTENTION migration rests: the process that wrote its
 * last state returned from perform (or recovery) and may be alive, but acts
 * on it no more, so it may be taken over.  Unless its last record is a
 * CLAIMED: then a recoverer has just taken it and is about to act.  Decided
 * here, inside the claim's write transaction, so two claims cannot both see
 * it resting.
 */
static bool
resting(const struct mmig_fold *f)
{
	return (f->state == MMIG_STATE_PAUSED ||
		f->state == MMIG_STATE_NEEDS_ATTENTION) &&
	       f->last_kind != MMIG_REC_CLAIMED;
}

/*
 * Inside the claim's write transaction: check, bump the epoch, write the
 * new status and the CLAIMED record.  @return MMIG_OK or an error in *errp;
 * *mdb_rc gets an LMDB failure (MDB_MAP_FULL makes the caller grow and
 * retry).
 */
static int
claim_in_txn(struct mmig_journal *j, MDB_txn *txn, struct mmig__jmig *m,
	     uint64_t expected_epoch, bool force,
	     struct mmig_rec_header *h, int *mdb_rc, struct mmig_error **errp)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = m->id }, val;
	uint8_t lk[MMIG__LOG_KEY_LEN];
	MDB_val lkey = { .mv_size = sizeof(lk), .mv_data = lk };
	struct mmig_rec_status st = { 0 };
	char what[300];
	uint8_t *sval = NULL;
	size_t slen;
	int rc;

	*mdb_rc = MDB_SUCCESS;
	rc = mmig__journal_header(j, txn, m->id, h, errp);
	if (rc == MMIG_OK)
		rc = mmig__journal_status(j, txn, m->id, &st, errp);
	if (rc == MMIG_OK)
		rc = mmig__journal_fold(j, txn, m->id, h->n_ops, &m->fold,
					&m->next_seq, errp);
	if (rc != MMIG_OK)
		goto out;
	if (expected_epoch && st.epoch != expected_epoch) {
		*errp = mmig_error_new(MMIG_EFENCED,
				       "migration %s: claimed by pid %u on %s "
				       "(epoch %llu) since it was read",
				       m->id_text, st.owner.pid, st.owner.host,
				       (unsigned long long)st.epoch);
		rc = MMIG_EFENCED;
		goto out;
	}
	if (mmig__state_is_final(m->fold.state)) {
		*errp = mmig_error_new(MMIG_EINVAL, "migration %s is already %s",
				       m->id_text,
				       mmig__state_name(m->fold.state));
		rc = MMIG_EINVAL;
		goto out;
	}
	if (!force && !resting(&m->fold) &&
	    mmig__owner_active(j, m->id, &st.owner)) {
		*errp = mmig_error_new(MMIG_EOWNED,
				       "migration %s: owner pid %u on %s is alive",
				       m->id_text, st.owner.pid, st.owner.host);
		rc = MMIG_EOWNED;
		goto out;
	}
	/* Driven from here on: in the list before the claim commits, so that
	 * another thread of this process cannot take it too. */
	if (!m->active) {
		m->active = true;
		active_add(m);
	}
	m->durability = (enum mmig_durability)h->durability;
	m->epoch = st.epoch + 1;
	m->status.epoch = m->epoch;
	m->status.state = m->fold.state;
	m->status.updated_ns = mmig__now_real_ns();
	rc = mmig__owner_copy(&m->status.owner, &j->self);
	if (rc != MMIG_OK)
		goto out;
	snprintf(what, sizeof(what),
		 "pid %u on %s took over from pid %u on %s%s", j->self.pid,
		 j->self.host, st.owner.pid, st.owner.host,
		 force ? " (forced)" : "");
	rc = mmig__jmig_stage(m, MMIG_REC_CLAIMED, -1, what, strlen(what),
			      errp);
	if (rc == MMIG_OK)
		rc = mmig__rec_status_encode(&m->status, &sval, &slen);
	if (rc != MMIG_OK)
		goto out;
	val = (MDB_val){ .mv_size = slen, .mv_data = sval };
	*mdb_rc = mdb_put(txn, j->dbs.status, &key, &val, 0);
	if (*mdb_rc == MDB_SUCCESS) {
		mmig__log_key(lk, m->id, m->staged[0].seq);
		val = (MDB_val){ .mv_size = m->staged[0].len,
				 .mv_data = m->staged[0].val };
		*mdb_rc = mdb_put(txn, j->dbs.log, &lkey, &val,
				  MDB_NOOVERWRITE);
	}
	if (*mdb_rc != MDB_SUCCESS) {
		*errp = mmig__mdb_error(*mdb_rc, "migration %s: claim",
					m->id_text);
		rc = mmig__from_mdb(*mdb_rc);
	}
out:
	mmig__free(sval);
	mmig__rec_status_free(&st);
	return rc;
}

static struct mmig__jmig *
jmig_blank(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN])
{
	struct mmig__jmig *m = mmig__calloc(1, sizeof(*m));

	if (m) {
		m->j = j;
		memcpy(m->id, id, MMIG_ID_LEN);
		mmig__id_text(id, m->id_text);
	}
	return m;
}

int
mmig__jmig_claim(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		 uint64_t expected_epoch, bool force,
		 struct mmig_rec_header *header_out, struct mmig__jmig **out,
		 struct mmig_error **errp)
{
	struct mmig_error *err = NULL;
	struct mmig__jmig *m;
	MDB_txn *txn;
	int rc, mdb_rc;

	*out = NULL;
	memset(header_out, 0, sizeof(*header_out));
again:
	m = jmig_blank(j, id);
	if (!m) {
		set_err(errp, mmig_error_new(MMIG_ENOMEM, "claim: out of memory"));
		return MMIG_ENOMEM;
	}
	/* A claim is fully synced: the new epoch is what fences the old
	 * owner out, so it must not be lost. */
	mdb_rc = write_begin(j, MMIG__SYNC_FULL, &txn);
	if (mdb_rc != MDB_SUCCESS) {
		err = mmig__mdb_error(mdb_rc, "migration %s: claim", m->id_text);
		rc = mmig__from_mdb(mdb_rc);
		goto fail;
	}
	rc = claim_in_txn(j, txn, m, expected_epoch, force, header_out,
			  &mdb_rc, &err);
	if (rc != MMIG_OK) {
		write_abort(j, txn);
		if (mdb_rc == MDB_MAP_FULL && map_grow(j) == MDB_SUCCESS) {
			mmig_error_free(err);
			err = NULL;
			mmig__rec_header_free(header_out);
			mmig__jmig_free(m);
			goto again;
		}
		goto fail;
	}
	mdb_rc = write_commit(j, txn, MMIG__SYNC_FULL);
	if (mdb_rc != MDB_SUCCESS) {
		err = mmig__mdb_error(mdb_rc, "migration %s: claim", m->id_text);
		rc = mmig__from_mdb(mdb_rc);
		goto fail;
	}
	clear_staged(m);
	m->committed_state = m->fold.state;
	*out = m;
	return MMIG_OK;
fail:
	if (!err)
		err = mmig_error_new(rc, "migration %s: claim: %s", m->id_text,
				     mmig_strerror(rc));
	mmig__rec_header_free(header_out);
	mmig__jmig_free(m);
	set_err(errp, err);
	return rc;
}
