/*
 * journal/journal.c - the LMDB journal: environment, group commit, and the
 * writer side of a migration (create, stage, commit, claim).
 *
 * Layout: one LMDB environment with four named databases and the log in
 * its main table.
 *
 *   meta      "format" -> uint32 journal format (this code: 3; formats 1
 *             -- the log keyed by (id, seq) -- and 2 -- the status
 *             rewritten by every commit, the log in a table of its own --
 *             are refused)
 *             "durability" -> 1 byte, the durability of every migration
 *             in the journal, fixed by its first (see one_durability())
 *             "lsn" -> the LSN floor a prune leaves (8, big-endian)
 *   hdr       id(16) -> HEADER record (immutable)
 *   status    id(16) -> first LSN || last LSN || next seq || STATUS record
 *   inflight  id(16) -> "" for every migration not COMMITTED/ROLLED_BACK
 *   (main)    0xff || LSN(8, big-endian) -> id || seq || prev LSN ||
 *             transition: the log, after the records naming the tables
 *
 * The log is the classic write-ahead log (ARIES): every transition of
 * every migration gets the next journal-wide log sequence number and is
 * appended at the log's right edge (MDB_APPEND), so a batch of many
 * migrations writes a few adjacent pages instead of one leaf per
 * migration.  Each record carries its migration's previous LSN, and the
 * status its first and last as of its last rewrite -- on a change of
 * state, or when the chain has run MMIG__STATUS_LAG LSNs past it: a
 * migration is read by following its chain back from its end (lmdb-int.h,
 * read.c).  So a commit that only appends (the common one: DONE i with
 * BEGIN i+1) writes one tree's pages, as LMDB's own floor does.  Start-up
 * recovery reads `inflight` only, so its cost does not grow with history.  Appends stay
 * idempotent by seq: a staged record whose seq is on the chain already
 * with the same bytes is skipped (append_staged()).
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
 * exclusively.  Every write path -- group commit, claim, prune, table
 * creation -- grows and retries, on a put and on the commit alike (a
 * commit saving LMDB's free list can itself need a page).  A journal is
 * opened with room to spare: LMDB sizes the map of a file larger than the
 * size asked for to exactly the pages in use, so a new process would
 * otherwise start with a full map.
 *
 * The write lock, bounded.  LMDB's writers wait on a process-shared robust
 * mutex in lock.mdb (mdb_txn_begin, LOCK_MUTEX: pthread_mutex_lock without
 * a timeout).  Robustness covers a holder that dies, not one that is
 * stopped (SIGSTOP, Ctrl-Z) or hung: every other writer would wait forever,
 * silently.  LMDB offers no timed variant, so every writer here first takes
 * a POSIX record lock of our own on one byte of lock.mdb (WLOCK_OFFSET, far
 * beyond the bytes LMDB locks: byte 0 and one byte per reader pid), polling
 * F_SETLK until a deadline the caller sets (mmig_journal_set_lock_timeout,
 * 5 s by default), and only then calls mdb_txn_begin.  Every libmmig
 * writer holds that byte before LMDB's mutex, so a writer that got it
 * never waits long on the mutex.  A record lock is chosen over a second
 * mutex because F_GETLK names the process holding it, so the error can
 * say which process to resume or end, and because the kernel releases it
 * when the holder dies.  A record lock is released when its process closes
 * any descriptor of the file: lock.mdb is opened once per journal handle
 * here (LMDB opens its own), closed only after the environment, and a
 * journal is open at most once per process (see the registry below) --
 * the rule LMDB's own record locks already need.
 *
 * One handle per journal per process.  LMDB's locks belong to the process:
 * a second environment on the same files in one process would drop them
 * when it closes.  mmig_journal_open() refuses a journal this process has
 * open already (MMIG_EBUSY), found by the directory's device and inode in
 * a process-wide registry -- the one mutable global of the library, since
 * the rule it enforces is per process.  Entries record the pid that made
 * them, so a child after fork() may open the journal afresh.
 */
#include "fault.h"
#include "internal.h"
#include "lmdb-int.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <sys/statvfs.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <unistd.h>

/* 3: the log keyed by LSN in the main table, the status a checkpoint of
 * the chain's end (lmdb-int.h).  2 kept the log in a table of its own and
 * rewrote the status on every commit; 1 keyed the log by (migration id,
 * seq).  Both are refused: nothing shipped with them. */
#define JOURNAL_FORMAT 3u
#define DEFAULT_MAP_SIZE ((size_t)64 << 20)
#define DEFAULT_LOCK_TIMEOUT_NS ((uint64_t)5000000000u)
/* The byte of lock.mdb our writers lock (see "The write lock" above). */
#define WLOCK_OFFSET ((off_t)1 << 40)
/* Where a journal is built before it is moved into its directory, and
 * where a compacted copy is written: names no journal file has. */
#define NEW_PREFIX ".mmig-new-"
#define COMPACT_PREFIX ".mmig-compact-"

struct commit_req {
	struct mmig__jmig *m;
	enum mmig__sync sync;
	bool creating;
	bool claiming;
	uint8_t *status_val; /* NULL when the status does not change */
	size_t status_len;
	/* Read by check_fence() in the batch's transaction: the migration's
	 * chain of LSNs (to its true end), the last LSN its status holds,
	 * and its status record as stored (a copy).  write_req() sets
	 * new_stored: the last LSN the status holds after this commit. */
	struct mmig__chain chain;
	uint64_t stored_last, new_stored;
	uint8_t *old_status;
	size_t old_status_len;
	int rc;
	struct mmig_error *err;
	bool excluded; /* failed alone; left out of its batch's retries */
	/* Set before `wake` is posted: what the post means. */
	enum { REQ_WAITING, REQ_DONE, REQ_LEAD } outcome;
	/* Posted exactly once while the request waits: when it is done, or
	 * when its thread is to lead the next batch.  A semaphore, not a
	 * condition: the waiter wakes without taking `lock` back, so the 16
	 * writers of a finished batch do not queue on the mutex one context
	 * switch after another (measured: 2.7 switches per op with a
	 * condition, on a VM where a switch costs about 10 us).  glibc's
	 * sem_post touches the semaphore no more once the count is visible,
	 * so the waiter may destroy it as soon as sem_wait returns. */
	sem_t wake;
	struct commit_req *next;
};

/* Writers remembered from the last batches (see gather()). */
#define RECENT_MAX 64

struct mmig_journal {
	/* First: what the front (migration.c) dispatches through. */
	const struct mmig__backend_ops *ops;
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

	/* The migrations a handle of this process drives. */
	struct mmig__driving driving;

	pthread_rwlock_t map_lock;
	/* Serializes this process's write transactions, so that the sync
	 * flags set on the environment just before one begins are the ones
	 * its commit uses (LMDB 0.9 takes them from the environment, not from
	 * mdb_txn_begin). */
	pthread_mutex_t write_lock;
	/* Bytes data.mdb is known to have (under write_lock; see
	 * cover_pages()). */
	uint64_t file_covers;

	atomic_uint_fast64_t commits, syncs, records, bytes, map_grows;
	atomic_uint_fast64_t commit_ns; /* in mdb_txn_commit: writes, syncs */

	/* Our descriptor of lock.mdb, for the write lock; -1 if none. */
	int lock_fd;
	atomic_uint_fast64_t lock_timeout_ns;

	/* In the registry of journals this process has open. */
	bool registered;
	dev_t reg_dev;
	ino_t reg_ino;
	pid_t reg_pid;
	struct mmig_journal *reg_next;
};

/* ---- one handle per journal per process --------------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mmig_journal *registry;

static int
busy_error(const char *dir, struct mmig_error **errp)
{
	if (errp)
		*errp = mmig_error_new(
			MMIG_EBUSY,
			"%s: this journal is already open in this process "
			"(pid %d); share that handle, since LMDB's locks belong "
			"to the process and a second handle would drop them",
			dir, (int)getpid());
	return MMIG_EBUSY;
}

/* Enter @p j for directory @p dir; refused when this process has it open.
 * @return MMIG_OK, MMIG_EBUSY (message in *errp), -errno. */
static int
registry_add(struct mmig_journal *j, const char *dir, struct mmig_error **errp)
{
	struct stat st;
	pid_t self = getpid();
	int rc = MMIG_OK;

	if (stat(dir, &st) != 0)
		return -errno;
	pthread_mutex_lock(&registry_lock);
	for (struct mmig_journal *e = registry; e; e = e->reg_next) {
		if (e->reg_pid == self && e->reg_dev == st.st_dev &&
		    e->reg_ino == st.st_ino) {
			rc = MMIG_EBUSY;
			break;
		}
	}
	if (rc == MMIG_OK) {
		j->reg_dev = st.st_dev;
		j->reg_ino = st.st_ino;
		j->reg_pid = self;
		j->reg_next = registry;
		registry = j;
		j->registered = true;
	}
	pthread_mutex_unlock(&registry_lock);
	return rc == MMIG_OK ? MMIG_OK : busy_error(dir, errp);
}

static void
registry_remove(struct mmig_journal *j)
{
	struct mmig_journal **p;

	if (!j->registered)
		return;
	pthread_mutex_lock(&registry_lock);
	for (p = &registry; *p; p = &(*p)->reg_next) {
		if (*p == j) {
			*p = j->reg_next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	j->registered = false;
}

/* True when this process has directory @p dir open as a journal. */
static bool
registry_has(const char *dir)
{
	struct stat st;
	pid_t self = getpid();
	bool found = false;

	if (stat(dir, &st) != 0)
		return false;
	pthread_mutex_lock(&registry_lock);
	for (struct mmig_journal *e = registry; e && !found; e = e->reg_next)
		found = e->reg_pid == self && e->reg_dev == st.st_dev &&
			e->reg_ino == st.st_ino;
	pthread_mutex_unlock(&registry_lock);
	return found;
}

/* ---- the bounded write lock ------------------------------------------- */

/* "stopped", "running", ... from /proc/PID/stat, or NULL. */
static const char *
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p || p[1] != ' ')
		return NULL;
	switch (p[2]) {
	case 'T':
	case 't':
		return "stopped";
	case 'D':
		return "in uninterruptible sleep";
	case 'Z':
		return "a zombie";
	default:
		return "running";
	}
}

/*
 * Take our write lock on lock.mdb, polling until the handle's deadline.
 * Polled, not F_SETLKW: a blocking wait has no timeout, and a signal to
 * interrupt it is not a library's to send.  The sleep doubles from 50 us
 * to 5 ms, short against a commit, so a free lock is taken promptly.
 * @return MMIG_OK, or MMIG_EBUSY with *errp naming the holder.
 */
static int
wlock_take(struct mmig_journal *j, struct mmig_error **errp)
{
	uint64_t timeout = atomic_load(&j->lock_timeout_ns);
	uint64_t start = mmig__now_mono_ns(), sleep_ns = 50000;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = WLOCK_OFFSET, .l_len = 1 };
	pid_t holder = 0;
	const char *state;

	if (j->lock_fd < 0)
		return MMIG_OK;
	for (;;) {
		struct flock probe = fl;
		struct timespec ts;

		fl.l_type = F_WRLCK;
		if (fcntl(j->lock_fd, F_SETLK, &fl) == 0)
			return MMIG_OK;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			int e = errno;

			if (errp)
				*errp = mmig_error_new(-e, "journal %s: write lock: %s",
						       j->path, strerror(e));
			return -e;
		}
		if (fcntl(j->lock_fd, F_GETLK, &probe) == 0) {
			if (probe.l_type == F_UNLCK)
				continue; /* let go meanwhile: take it now */
			holder = probe.l_pid;
		}
		if (timeout != UINT64_MAX &&
		    mmig__now_mono_ns() - start >= timeout)
			break;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)sleep_ns;
		nanosleep(&ts, NULL);
		if (sleep_ns < 5000000)
			sleep_ns *= 2;
	}
	state = holder > 0 ? proc_state(holder) : NULL;
	if (errp)
		*errp = mmig_error_new(
			MMIG_EBUSY,
			"journal %s: its write lock is held by pid %d%s%s%s for "
			"more than %.1f s; if that process is stopped, resume it "
			"(kill -CONT %d) or end it, then try again",
			j->path, (int)holder, state ? " (" : "",
			state ? state : "", state ? ")" : "",
			(double)timeout / 1e9, (int)holder);
	return MMIG_EBUSY;
}

static void
wlock_release(struct mmig_journal *j)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET,
			    .l_start = WLOCK_OFFSET, .l_len = 1 };

	if (j->lock_fd >= 0)
		fcntl(j->lock_fd, F_SETLK, &fl);
}

void
mmig_journal_set_lock_timeout(struct mmig_journal *j, uint64_t timeout_ns)
{
	if (!mmig__journal_is_lmdb(j))
		return; /* no write lock to wait for */
	atomic_store(&j->lock_timeout_ns, timeout_ns);
}

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
	e = mmig_error_new(mmig__from_mdb(rc), "%s: %s%s", what, mdb_strerror(rc),
			   rc == MDB_READERS_FULL
				   ? " (every reader slot is held by a live "
				     "process, even after clearing those of "
				     "dead ones; close some journal handles)"
			   : rc == MDB_MAP_FULL
				   ? " (the map could not grow further)"
				   : "");
	mmig__free(what);
	return e;
}

/*
 * LMDB reports a short write as EIO, which is what a full file system
 * gives it: call that ENOSPC when the file system holding the journal has
 * (almost) nothing left, so the operator is told the real cause.
 */
static int
cause_of(const char *path, int rc)
{
	struct statvfs vfs;

	if (rc == EIO && statvfs(path, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < ((uint64_t)1 << 20))
		return ENOSPC;
	return rc;
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

	bool cleared = false;

	for (;;) {
		pthread_rwlock_rdlock(&j->map_lock);
		rc = mdb_txn_begin(j->env, NULL, flags, txn);
		if (rc == MDB_READERS_FULL && !cleared) {
			int dead;

			/* Slots left by killed processes: clear them and try
			 * once more (issue 13, item 12). */
			pthread_rwlock_unlock(&j->map_lock);
			mdb_reader_check(j->env, &dead);
			cleared = true;
			continue;
		}
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

/* Pages data.mdb is kept ahead of LMDB's last page (cover_pages()). */
#define FILE_SLACK_PAGES 256u

/*
 * Make data.mdb reach at least @p slack pages past the last page LMDB's
 * newest meta page names (extending it to twice that when it must grow,
 * so that it grows seldom).  Why: LMDB does not write the pages a
 * transaction allocated and freed again (loose pages: a delete that merges
 * pages it has just copied, as a prune of many migrations does at the
 * log's edge); they go to the free list, and when they were the highest
 * pages the file ends before the meta's last page.  LMDB never reads a
 * free page, but the next open's check_length() cannot tell that file from
 * a truncated one, and refuses it.  So, with the write lock held: before
 * each write transaction, FILE_SLACK_PAGES ahead -- a transaction taking
 * fewer new pages than that cannot end past the file, and its commit's
 * sync carries the new size -- and after each commit, to the last page
 * for one that took more (synced when the commit was; a crash between
 * such a commit and this leaves the short file).  The added pages are
 * zeros, sparse, and free.  Best effort: a failure shows as the open's
 * refusal.
 */
static void
cover_pages(struct mmig_journal *j, uint64_t slack, bool sync)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	mdb_filehandle_t fd;
	uint64_t need, want;

	if (mdb_env_info(j->env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(j->env, &st) != MDB_SUCCESS)
		return;
	need = ((uint64_t)info.me_last_pgno + 1 + slack) * st.ms_psize;
	/* The file only grows (compaction makes a new one, which this
	 * handle does not use), so a size seen once is still there: most
	 * calls end here, without a system call. */
	if (need <= j->file_covers)
		return;
	if (mdb_env_get_fd(j->env, &fd) != MDB_SUCCESS || fstat(fd, &fst) != 0)
		return;
	j->file_covers = (uint64_t)fst.st_size;
	if (j->file_covers >= need)
		return;
	want = need + slack * st.ms_psize;
	if (ftruncate(fd, (off_t)want) != 0)
		return;
	j->file_covers = want;
	if (sync)
		(void)fdatasync(fd);
}

/*
 * Begin a write transaction whose commit syncs as @p sync asks: this
 * process's write_lock, then the journal's write lock (bounded), then
 * LMDB's.
 * @return MMIG_OK, or an error code with the message in *errp (never
 * NULL on failure).
 */
static int
write_begin(struct mmig_journal *j, enum mmig__sync sync, MDB_txn **txn,
	    struct mmig_error **errp)
{
	unsigned want = sync_flags_for(sync);
	int rc;

	*errp = NULL;
	pthread_mutex_lock(&j->write_lock);
	rc = wlock_take(j, errp);
	if (rc != MMIG_OK) {
		pthread_mutex_unlock(&j->write_lock);
		if (!*errp)
			*errp = mmig_error_new(rc, "journal %s: write lock: %s",
					       j->path, mmig_strerror(rc));
		return rc;
	}
	rc = mdb_env_set_flags(j->env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
	if (rc == MDB_SUCCESS && want)
		rc = mdb_env_set_flags(j->env, want, 1);
	if (rc == MDB_SUCCESS)
		rc = txn_begin(j, 0, txn);
	if (rc != MDB_SUCCESS) {
		wlock_release(j);
		pthread_mutex_unlock(&j->write_lock);
		*errp = mmig__mdb_error(rc, "journal %s: begin", j->path);
		return mmig__from_mdb(rc);
	}
	cover_pages(j, FILE_SLACK_PAGES, false); /* synced by the commit */
	return MMIG_OK;
}

static void
write_abort(struct mmig_journal *j, MDB_txn *txn)
{
	txn_abort(j, txn);
	wlock_release(j);
	pthread_mutex_unlock(&j->write_lock);
}

static int
write_commit(struct mmig_journal *j, MDB_txn *txn, enum mmig__sync sync)
{
	uint64_t t0, ns;
	int rc;

	if (MMIG_FAULT(JOURNAL_COMMIT)) {
		/* An injected I/O error: nothing of this commit is written. */
		write_abort(j, txn);
		return mmig__fault_errno();
	}
	t0 = mmig__now_mono_ns();
	rc = txn_commit(j, txn);
	ns = mmig__now_mono_ns() - t0;
	if (rc == MDB_SUCCESS)
		cover_pages(j, 0, sync != MMIG__SYNC_NONE);
	wlock_release(j);
	pthread_mutex_unlock(&j->write_lock);
	rc = cause_of(j->path, rc);
	if (rc == MDB_SUCCESS && MMIG_FAULT(JOURNAL_COMMITTED))
		rc = mmig__fault_errno(); /* committed, but reported failed */
	if (rc == MDB_SUCCESS) {
		atomic_fetch_add(&j->commit_ns, ns);
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
mmig__journal_write_begin2(struct mmig_journal *j, MDB_txn **txn,
			   struct mmig_error **errp)
{
	struct mmig_error *err = NULL;
	int rc;

	if (j->flags & MMIG_JOURNAL_RDONLY) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "journal %s is open read-only",
					     j->path));
		return MMIG_EINVAL;
	}
	rc = write_begin(j, MMIG__SYNC_FULL, txn, &err);
	set_err(errp, err);
	return rc;
}

int
mmig__journal_write_begin(struct mmig_journal *j, MDB_txn **txn)
{
	return mmig__journal_write_begin2(j, txn, NULL);
}

int
mmig__journal_write_commit_mdb(struct mmig_journal *j, MDB_txn *txn)
{
	return write_commit(j, txn, MMIG__SYNC_FULL);
}

int
mmig__journal_write_commit(struct mmig_journal *j, MDB_txn *txn)
{
	return mmig__from_mdb(write_commit(j, txn, MMIG__SYNC_FULL));
}

int
mmig__journal_map_grow(struct mmig_journal *j)
{
	return map_grow(j);
}

int
mmig__journal_read_begin2(struct mmig_journal *j, MDB_txn **txn,
			  struct mmig_error **errp)
{
	int rc = txn_begin(j, MDB_RDONLY, txn);

	if (rc != MDB_SUCCESS)
		set_err(errp, mmig__mdb_error(rc, "journal %s: read", j->path));
	return mmig__from_mdb(rc);
}

const char *
mmig__journal_path(const struct mmig_journal *j)
{
	return j->path;
}

void
mmig__journal_write_abort(struct mmig_journal *j, MDB_txn *txn)
{
	write_abort(j, txn);
}

/* ---- open / close -------------------------------------------------------- */

static const struct {
	const char *name;
	size_t off;
} tables[] = {
	{ "meta", offsetof(struct mmig__dbs, meta) },
	{ "hdr", offsetof(struct mmig__dbs, hdr) },
	{ "status", offsetof(struct mmig__dbs, status) },
	{ "inflight", offsetof(struct mmig__dbs, inflight) },
};

static MDB_dbi *
table_dbi(struct mmig_journal *j, size_t i)
{
	return (MDB_dbi *)((char *)&j->dbs + tables[i].off);
}

/* Check the stored format of an open journal (in @p txn). */
static int
check_format(struct mmig_journal *j, MDB_txn *txn, bool *missing,
	     struct mmig_error **errp)
{
	MDB_val key = { .mv_size = 6, .mv_data = "format" }, val;
	uint32_t format;
	int rc;

	*missing = false;
	rc = mdb_get(txn, j->dbs.meta, &key, &val);
	if (rc == MDB_NOTFOUND) {
		*missing = true;
		return MMIG_OK;
	}
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s: format", j->path));
		return mmig__from_mdb(rc);
	}
	if (val.mv_size != sizeof(format)) {
		set_err(errp, mmig_error_new(MMIG_ECORRUPT,
					     "%s: journal format record is corrupt",
					     j->path));
		return MMIG_ECORRUPT;
	}
	memcpy(&format, val.mv_data, sizeof(format));
	if (format < JOURNAL_FORMAT) {
		set_err(errp, mmig_error_new(
				      MMIG_EFORMAT,
				      "%s: journal format %u is older than this "
				      "build's %u (another layout of the log) "
				      "and cannot be read by it; settle its "
				      "migrations with the build that wrote it, "
				      "then start a new journal; left as it was",
				      j->path, format, JOURNAL_FORMAT));
		return MMIG_EFORMAT;
	}
	if (format > JOURNAL_FORMAT) {
		set_err(errp, mmig_error_new(
				      MMIG_EFORMAT,
				      "%s: journal format %u is newer than this build's %u",
				      j->path, format, JOURNAL_FORMAT));
		return MMIG_EFORMAT;
	}
	return MMIG_OK;
}

/*
 * Open the tables.  First in a read transaction, which writes nothing and
 * needs no write lock: a journal (every table there) is simply opened; an
 * environment holding anything else is another program's and refused
 * before a byte of it is written (invariant N, issue 13 item 3).  Only an
 * empty environment -- a journal being created -- gets a write
 * transaction, to create the tables and the format key.
 */
static int
open_dbs(struct mmig_journal *j, struct mmig_error **errp)
{
	bool rdonly = j->flags & MMIG_JOURNAL_RDONLY, missing = false;
	struct mmig_error *err = NULL;
	const char *absent = NULL;
	MDB_stat st;
	MDB_txn *txn;
	int rc;

	rc = txn_begin(j, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s: begin", j->path));
		return mmig__from_mdb(rc);
	}
	/* The log is the main table (lmdb-int.h, "The log"). */
	rc = mdb_dbi_open(txn, NULL, 0, &j->dbs.log);
	if (rc != MDB_SUCCESS)
		goto fail;
	for (size_t i = 0; i < MMIG_ARRAY_LEN(tables) && !absent; i++) {
		rc = mdb_dbi_open(txn, tables[i].name, 0, table_dbi(j, i));
		if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
			absent = tables[i].name;
		else if (rc != MDB_SUCCESS)
			goto fail;
	}
	if (!absent) {
		rc = check_format(j, txn, &missing, errp);
		if (rc != MMIG_OK) {
			txn_abort(j, txn);
			return rc;
		}
		if (missing && rdonly)
			missing = false; /* read-only and empty: nothing to read */
		if (!missing) {
			/* Committed, not aborted: the table handles opened in
			 * a transaction live on only if it commits. */
			rc = txn_commit(j, txn);
			if (rc != MDB_SUCCESS) {
				set_err(errp, mmig__mdb_error(rc, "%s: open tables",
							      j->path));
				return mmig__from_mdb(rc);
			}
			return MMIG_OK;
		}
	}
	/* Not (or not yet) a journal: only an empty environment may become
	 * one. */
	rc = mdb_stat(txn, j->dbs.log, &st);
	if (rc != MDB_SUCCESS)
		goto fail;
	txn_abort(j, txn);
	if (rdonly || (st.ms_entries > 0 && (absent || !missing))) {
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "%s: not a libmmig journal (no '%s' table); "
				      "left as it was",
				      j->path, absent ? absent : "format"));
		return MMIG_ECORRUPT;
	}
	if (st.ms_entries > 0 && missing) {
		/* Our tables without a format key: a foreign program's
		 * tables that happen to share our names. */
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "%s: not a libmmig journal (no format key); "
				      "left as it was",
				      j->path));
		return MMIG_ECORRUPT;
	}
	rc = write_begin(j, MMIG__SYNC_FULL, &txn, &err);
	if (rc != MMIG_OK) {
		set_err(errp, err);
		return rc;
	}
	for (size_t i = 0; i < MMIG_ARRAY_LEN(tables); i++) {
		rc = mdb_dbi_open(txn, tables[i].name, MDB_CREATE,
				  table_dbi(j, i));
		if (rc != MDB_SUCCESS)
			break;
	}
	if (rc == MDB_SUCCESS) {
		MDB_val key = { .mv_size = 6, .mv_data = "format" }, val;
		uint32_t format = JOURNAL_FORMAT;

		val = (MDB_val){ .mv_size = sizeof(format), .mv_data = &format };
		rc = mdb_put(txn, j->dbs.meta, &key, &val, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = MDB_SUCCESS; /* another process made it first */
	}
	if (rc != MDB_SUCCESS) {
		write_abort(j, txn);
		set_err(errp, mmig__mdb_error(rc, "%s: create tables", j->path));
		return mmig__from_mdb(rc);
	}
	/* Not write_commit(): the making of a journal is no migration's
	 * commit, and the fault points count those. */
	rc = txn_commit(j, txn);
	wlock_release(j);
	pthread_mutex_unlock(&j->write_lock);
	if (rc != MDB_SUCCESS) {
		set_err(errp, mmig__mdb_error(rc, "%s: create tables", j->path));
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

/* Remove a work directory of ours (NEW_PREFIX, COMPACT_PREFIX) and the
 * LMDB files in it. */
static void
remove_workdir(const char *path)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };

	for (size_t i = 0; i < MMIG_ARRAY_LEN(files); i++) {
		char *f = mmig__asprintf("%s/%s", path, files[i]);

		if (f)
			unlink(f);
		mmig__free(f);
	}
	rmdir(path);
}

/* The pid in a work directory's name, or 0. */
static pid_t
workdir_pid(const char *name)
{
	const char *p = NULL;
	char *end;
	long v;

	if (strncmp(name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0)
		p = name + strlen(NEW_PREFIX);
	else if (strncmp(name, COMPACT_PREFIX, strlen(COMPACT_PREFIX)) == 0)
		p = name + strlen(COMPACT_PREFIX);
	if (!p)
		return 0;
	v = strtol(p, &end, 10);
	return *end == '\0' && v > 0 ? (pid_t)v : 0;
}

enum dir_kind {
	DIR_MISSING,
	DIR_EMPTY,   /* nothing but work directories of ours */
	DIR_JOURNAL, /* has data.mdb */
	DIR_OTHER,   /* holds something else */
	DIR_ERROR,
};

/*
 * What directory @p path holds.  Work directories a creation or a
 * compaction left behind when it died are ours: removed when their
 * process is gone (kill(pid, 0)), ignored otherwise.
 */
static enum dir_kind
dir_kind(const char *path, int *err)
{
	DIR *d = opendir(path);
	struct dirent *e;
	enum dir_kind kind = DIR_EMPTY;

	*err = 0;
	if (!d) {
		*err = errno;
		return errno == ENOENT ? DIR_MISSING : DIR_ERROR;
	}
	while ((e = readdir(d))) {
		pid_t pid;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strcmp(e->d_name, "data.mdb") == 0) {
			kind = DIR_JOURNAL;
			break;
		}
		pid = workdir_pid(e->d_name);
		if (pid == 0) {
			kind = DIR_OTHER;
			continue;
		}
		if (pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH) {
			char *w = mmig__asprintf("%s/%s", path, e->d_name);

			if (w)
				remove_workdir(w);
			mmig__free(w);
		}
	}
	closedir(d);
	return kind;
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
		   const struct mmig_journal_options *opts, bool reg,
		   struct mmig_error **errp);

/*
 * Make a new journal in directory @p dir (created 0700 when missing; an
 * existing empty one is kept as it is: its inode, mode, owner, a symlink
 * to it, a file system mounted on it) so that a crash or a power cut at
 * any instant leaves either no journal or a whole one.  The journal is
 * built in a work directory inside @p dir, its data file synced, then
 * moved into @p dir with a rename that never replaces (another process
 * creating the same journal at once wins or loses whole), and @p dir
 * synced.  (LMDB writes a new file's first meta pages without a sync, and
 * nothing would sync the directory entries: a power cut could otherwise
 * lose a journal whose migrations' effects are already in the
 * databases.)  A work directory left by a crash is not a journal and is
 * removed by the next open.
 */
static int
create_inside(const char *dir, bool made, const struct mmig_journal_options *opts,
	      struct mmig_error **errp)
{
	struct mmig_journal *tmp_j = NULL;
	char *tmp = mmig__asprintf("%s/" NEW_PREFIX "%d", dir, (int)getpid());
	char *from = tmp ? mmig__asprintf("%s/data.mdb", tmp) : NULL;
	char *to = mmig__asprintf("%s/data.mdb", dir);
	char *parent = parent_of(dir);
	int rc;

	if (!tmp || !from || !to || !parent) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	/* A new directory's own entry must be durable too. */
	rc = made ? sync_dir(parent) : MMIG_OK;
	if (rc == MMIG_OK)
		rc = open_at(&tmp_j, tmp, opts, false, errp);
	if (rc == MMIG_OK)
		rc = mmig__from_mdb(mdb_env_sync(tmp_j->env, 1));
	mmig_journal_close(tmp_j);
	/* The data file's own entry too, before it is moved: a rename moves
	 * an entry that must itself be durable. */
	if (rc == MMIG_OK)
		rc = sync_dir(tmp);
	if (rc == MMIG_OK &&
	    renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		if (errno == EINVAL || errno == ENOSYS) {
			/* A file system without RENAME_NOREPLACE: a link
			 * never replaces either. */
			rc = link(from, to) == 0 || errno == EEXIST ? MMIG_OK
								    : -errno;
		} else {
			/* EEXIST: another process made it first; use theirs. */
			rc = errno == EEXIST ? MMIG_OK : -errno;
		}
	}
	if (tmp)
		remove_workdir(tmp);
	if (rc == MMIG_OK)
		rc = sync_dir(dir);
	if (rc != MMIG_OK && errp && !*errp)
		*errp = mmig_error_new(rc, "%s: create: %s", dir,
				       mmig_strerror(rc));
out:
	mmig__free(tmp);
	mmig__free(from);
	mmig__free(to);
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
	bool made = false;
	int rc, err;

	*out = NULL;
	if (errp)
		*errp = NULL;
	/* The caller's struct may be an older, smaller layout: read it into
	 * ours (see "ABI" in mmig/common.h). */
	if (caller_opts) {
		if (mmig__sized_in(&copy, sizeof(copy), caller_opts,
				   MMIG__END(struct mmig_journal_options,
					     initial_map_size)) != MMIG_OK) {
			set_err(errp, mmig_error_new(MMIG_EINVAL,
					"%s: journal options: size %zu is "
					"below the first layout", dir,
					caller_opts->size));
			return MMIG_EINVAL;
		}
		opts = &copy;
	}
	rdonly = opts && (opts->flags & MMIG_JOURNAL_RDONLY);
	if (strncmp(dir, MMIG_ETCD_SCHEME, strlen(MMIG_ETCD_SCHEME)) == 0)
		return mmig__etcd_journal_open_uri(
			out, dir, rdonly ? MMIG_JOURNAL_RDONLY : 0, errp);
	/* Refused before anything is touched: even opening lock.mdb again
	 * would drop this process's locks on it. */
	if (registry_has(dir))
		return busy_error(dir, errp);
	switch (dir_kind(dir, &err)) {
	case DIR_MISSING:
		if (rdonly)
			break; /* LMDB names the missing directory */
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			rc = -errno;
			set_err(errp, mmig_error_new(rc, "%s: %s", dir,
						     strerror(-rc)));
			return rc;
		}
		made = true;
		/* fall through */
	case DIR_EMPTY:
		if (rdonly)
			break;
		rc = create_inside(dir, made, opts, errp);
		if (rc != MMIG_OK)
			return rc;
		break;
	case DIR_OTHER:
		if (rdonly)
			break; /* LMDB finds no data.mdb and says so */
		set_err(errp, mmig_error_new(
				      MMIG_ECORRUPT,
				      "%s: not a libmmig journal (the directory "
				      "holds other files and no data.mdb); left "
				      "as it was",
				      dir));
		return MMIG_ECORRUPT;
	case DIR_ERROR:
		rc = -err;
		set_err(errp, mmig_error_new(rc, "%s: %s", dir, strerror(err)));
		return rc;
	case DIR_JOURNAL:
		break;
	}
	return open_at(out, dir, opts, true, errp);
}

/*
 * Give the map room to spare: at least twice the pages in use.  LMDB
 * sizes the map of a file larger than asked to exactly its pages, so a
 * process opening a journal that grew elsewhere would start full.
 */
static void
map_room(struct mmig_journal *j)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used;

	if (mdb_env_info(j->env, &info) != MDB_SUCCESS ||
	    mdb_env_stat(j->env, &st) != MDB_SUCCESS)
		return;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (info.me_mapsize < 2 * used && 2 * used <= MAX_MAP_SIZE &&
	    mdb_env_set_mapsize(j->env, 2 * used) == MDB_SUCCESS)
		atomic_fetch_add(&j->map_grows, 1);
}

static int
open_at(struct mmig_journal **out, const char *dir,
	const struct mmig_journal_options *opts, bool reg,
	struct mmig_error **errp)
{
	struct mmig_journal_options defaults = MMIG_JOURNAL_OPTIONS_INIT;
	struct mmig_journal *j;
	unsigned envflags;
	char *lock_path;
	int rc, dead;

	*out = NULL;
	if (errp)
		*errp = NULL;
	if (!opts)
		opts = &defaults;
	j = mmig__calloc(1, sizeof(*j));
	if (!j)
		return MMIG_ENOMEM;
	j->ops = &mmig__lmdb_backend;
	j->flags = opts->flags;
	j->queue_tail = &j->queue;
	j->lock_fd = -1;
	atomic_store(&j->lock_timeout_ns, DEFAULT_LOCK_TIMEOUT_NS);
	pthread_mutex_init(&j->lock, NULL);
	mmig__driving_init(&j->driving);
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
	if (reg) {
		rc = registry_add(j, dir, errp);
		if (rc == -ENOENT)
			rc = MMIG_OK; /* LMDB names the missing directory */
		if (rc != MMIG_OK)
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
	if (!(j->flags & MMIG_JOURNAL_RDONLY)) {
		/* Our own descriptor of lock.mdb, for the write lock; closed
		 * only after the environment (see "The write lock"). */
		lock_path = mmig__asprintf("%s/lock.mdb", dir);
		if (!lock_path) {
			rc = MMIG_ENOMEM;
			goto fail;
		}
		j->lock_fd = open(lock_path, O_RDWR | O_CLOEXEC);
		rc = j->lock_fd < 0 ? -errno : MMIG_OK;
		if (rc != MMIG_OK)
			set_err(errp, mmig_error_new(rc, "%s: %s", lock_path,
						     strerror(-rc)));
		mmig__free(lock_path);
		if (rc != MMIG_OK)
			goto fail;
	}
	/* Clear reader slots left by processes that were killed. */
	mdb_reader_check(j->env, &dead);
	rc = check_length(j, dir, errp);
	if (rc != MMIG_OK)
		goto fail;
	if (!(j->flags & MMIG_JOURNAL_RDONLY))
		map_room(j);
	rc = open_dbs(j, errp);
	if (rc != MMIG_OK)
		goto fail;
	if (!(j->flags & MMIG_JOURNAL_RDONLY)) {
		/* Side files a killed create or prune left (side.c): no
		 * header names them and no creator holds them.  Best effort:
		 * verify reports what is left, prune tries again. */
		size_t n_orphans;

		(void)mmig__side_orphans(j, true, NULL, NULL, &n_orphans,
					 NULL);
	}
	*out = j;
	return MMIG_OK;
fail:
	mmig_journal_close(j);
	return rc;
}

static void
lmdb_close(struct mmig_journal *j)
{
	if (j->env)
		mdb_env_close(j->env);
	/* After the environment: closing any descriptor of lock.mdb drops
	 * every record lock this process holds on it, LMDB's included. */
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	registry_remove(j);
	mmig__owner_free(&j->self);
	mmig__free(j->path);
	pthread_rwlock_destroy(&j->map_lock);
	pthread_mutex_destroy(&j->write_lock);
	pthread_mutex_destroy(&j->lock);
	mmig__driving_destroy(&j->driving);
	mmig__free(j);
}

static int
lmdb_sync(struct mmig_journal *j, struct mmig_error **errp)
{
	char *path;
	int fd, rc = MMIG_OK;

	if (!(j->flags & MMIG_JOURNAL_RDONLY)) {
		rc = cause_of(j->path, mdb_env_sync(j->env, 1));
		atomic_fetch_add(&j->syncs, 1);
		if (rc != MDB_SUCCESS)
			set_err(errp, mmig__mdb_error(rc, "journal %s: sync",
						      j->path));
		return mmig__from_mdb(rc);
	}
	/* Read-only handles cannot ask LMDB to sync, but an fdatasync on any
	 * descriptor of the file flushes what other processes wrote. */
	path = mmig__asprintf("%s/data.mdb", j->path);
	if (!path)
		return MMIG_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fdatasync(fd) != 0)
		rc = -cause_of(j->path, errno);
	if (fd >= 0)
		close(fd);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_new(rc, "journal %s: sync: %s", path,
					     strerror(-rc)));
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

	if (!mmig__journal_is_lmdb(j)) {
		(void)mmig__sized_out(out, &s, sizeof(s),
				      MMIG__END(struct mmig_journal_stats,
						map_grows));
		return;
	}
	s.commits = atomic_load(&mj->commits);
	s.syncs = atomic_load(&mj->syncs);
	s.records = atomic_load(&mj->records);
	s.bytes = atomic_load(&mj->bytes);
	s.map_grows = atomic_load(&mj->map_grows);
	s.commit_ns = atomic_load(&mj->commit_ns);
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

/*
 * Carry req->chain, as the status stores it, on to its true end.  Only the
 * owner appends to a migration, and the fence has just shown that this
 * process still owns it: if the status holds what it held after our last
 * commit, the chain is where that commit left it.  Otherwise (the first
 * commit after a claim, or after a failed commit) it is caught up from the
 * log, at most MMIG__STATUS_LAG LSNs.
 */
static int
chain_end(struct mmig_journal *j, MDB_txn *txn, struct commit_req *req)
{
	struct mmig__jmig *m = req->m;

	req->stored_last = req->chain.last;
	if (m->chain_known && m->chain_stored == req->stored_last) {
		req->chain = (struct mmig__chain){ .first = m->chain_first,
						   .last = m->chain_last,
						   .next_seq = m->chain_len };
		return MMIG_OK;
	}
	return mmig__chain_catch_up(j, txn, m->id, &req->chain, &req->err);
}

static int
check_fence(struct mmig_journal *j, MDB_txn *txn, struct commit_req *req)
{
	struct mmig__jmig *m = req->m;
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = m->id }, val;
	struct mmig_rec_status st;
	struct mmig_error *err = NULL;
	int rc;

	const uint8_t *rec;
	size_t len;

	req->chain = (struct mmig__chain){ 0 };
	mmig__free(req->old_status);
	req->old_status = NULL;
	req->old_status_len = 0;
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
	if (!mmig__status_unwrap(&val, &req->chain, &rec, &len)) {
		req->err = mmig_error_new(MMIG_ECORRUPT,
					  "migration %s: status: too short for "
					  "its chain", m->id_text);
		return MMIG_ECORRUPT;
	}
	rc = mmig__rec_status_decode(rec, len, &st, &err);
	if (rc != MMIG_OK) {
		req->err = mmig_error_wrap(err, "migration %s: status",
					   m->id_text);
		return rc;
	}
	/* Kept for the status rewrite: the put may move the page it is in. */
	req->old_status = mmig__malloc(len ? len : 1);
	if (!req->old_status) {
		mmig__rec_status_free(&st);
		req->err = mmig_error_new(MMIG_ENOMEM, "migration %s: status",
					  m->id_text);
		return MMIG_ENOMEM;
	}
	memcpy(req->old_status, rec, len);
	req->old_status_len = len;
	rc = st.epoch == m->epoch ? MMIG_OK : MMIG_EFENCED;
	if (rc != MMIG_OK)
		req->err = mmig_error_new(
			MMIG_EFENCED,
			"migration %s: epoch %llu was claimed by pid %u (epoch %llu)",
			m->id_text, (unsigned long long)m->epoch,
			st.owner.pid, (unsigned long long)st.epoch);
	mmig__rec_status_free(&st);
	if (rc == MMIG_OK)
		rc = chain_end(j, txn, req);
	return rc;
}

/*
 * The LSN the next record gets in @p txn: one past the log's right edge,
 * and never one a prune removed from that edge (meta "lsn", written by
 * prune), so LSNs only grow.  @return an LMDB code.
 */
int
mmig__journal_lsn_next(struct mmig_journal *j, MDB_txn *txn, uint64_t *out)
{
	MDB_val k = { 0 }, v;
	MDB_cursor *cur;
	uint64_t next = 1;
	int rc;

	rc = mdb_cursor_open(txn, j->dbs.log, &cur);
	if (rc != MDB_SUCCESS)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_SUCCESS)
		next = mmig__lsn_of(&k) + 1;
	else if (rc != MDB_NOTFOUND)
		return rc;
	k = (MDB_val){ .mv_size = 3, .mv_data = "lsn" };
	rc = mdb_get(txn, j->dbs.meta, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == MMIG__LSN_LEN) {
		uint64_t floor = mmig__lsn_of(&v);

		if (floor > next)
			next = floor;
	} else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		return rc;
	}
	*out = next;
	return MDB_SUCCESS;
}

/* Record @p seq on chain @p c of @p id, found by following the chain back
 * from its last LSN.  @return an LMDB code; MDB_CORRUPTED for a broken
 * chain. */
static int
chain_find(struct mmig_journal *j, MDB_txn *txn, const uint8_t id[MMIG_ID_LEN],
	   const struct mmig__chain *c, uint64_t seq, MDB_val *rec)
{
	uint8_t k[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	struct mmig__log_rec r;
	uint64_t lsn = c->last;
	int rc;

	for (uint64_t s = c->next_seq; s-- > seq;) {
		if (lsn == 0)
			return MDB_CORRUPTED;
		mmig__lsn_key(k, lsn);
		rc = mdb_get(txn, j->dbs.log, &key, &val);
		if (rc != MDB_SUCCESS)
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		if (!mmig__log_unwrap(&val, &r) ||
		    memcmp(r.id, id, MMIG_ID_LEN) != 0 || r.seq != s ||
		    r.prev >= lsn)
			return MDB_CORRUPTED;
		if (s == seq) {
			*rec = (MDB_val){ .mv_size = r.len,
					  .mv_data = (void *)r.rec };
			return MDB_SUCCESS;
		}
		lsn = r.prev;
	}
	return MDB_CORRUPTED;
}

/*
 * Append @p m's staged records to the log, each at the next LSN
 * (*next_lsn, 0 until this transaction has read it), linked to the one
 * before on chain @p c, which is updated.  Idempotent by seq: a record
 * whose seq is already on the chain with the same bytes is skipped
 * (a retried append whose answer was lost); with other bytes, or a seq
 * beyond the chain's end, it is MDB_KEYEXIST.  @return an LMDB code.
 */
static int
append_staged(struct mmig_journal *j, MDB_txn *txn, struct mmig__jmig *m,
	      struct mmig__chain *c, uint64_t *next_lsn, uint64_t *bytes,
	      size_t *n_new)
{
	uint8_t k[MMIG__LSN_LEN];
	MDB_val key = { .mv_size = sizeof(k), .mv_data = k }, val;
	int rc;

	*n_new = 0;
	for (size_t i = 0; i < m->n_staged; i++) {
		const struct mmig__staged *s = &m->staged[i];

		if (s->seq < c->next_seq) {
			rc = chain_find(j, txn, m->id, c, s->seq, &val);
			if (rc != MDB_SUCCESS)
				return rc;
			if (val.mv_size != s->len ||
			    memcmp(val.mv_data, s->val, s->len) != 0)
				return MDB_KEYEXIST;
			continue;
		}
		if (s->seq != c->next_seq)
			return MDB_KEYEXIST;
		if (*next_lsn == 0) {
			rc = mmig__journal_lsn_next(j, txn, next_lsn);
			if (rc != MDB_SUCCESS)
				return rc;
		}
		mmig__lsn_key(k, *next_lsn);
		val = (MDB_val){ .mv_size = MMIG__LOG_ENV_LEN + s->len };
		rc = mdb_put(txn, j->dbs.log, &key, &val,
			     MDB_APPEND | MDB_RESERVE);
		if (rc != MDB_SUCCESS)
			return rc;
		mmig__log_wrap_env(val.mv_data, m->id, s->seq, c->last);
		memcpy((uint8_t *)val.mv_data + MMIG__LOG_ENV_LEN, s->val,
		       s->len);
		if (c->first == 0)
			c->first = *next_lsn;
		c->last = (*next_lsn)++;
		c->next_seq++;
		*bytes += s->len;
		(*n_new)++;
	}
	return MDB_SUCCESS;
}

/* Write @p id's status value: chain @p c and the status record @p rec. */
static int
put_status(struct mmig_journal *j, MDB_txn *txn, const uint8_t *id,
	   const struct mmig__chain *c, const uint8_t *rec, size_t len)
{
	MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = (void *)id };
	MDB_val val = { .mv_size = MMIG__STATUS_ENV_LEN + len };
	int rc;

	rc = mdb_put(txn, j->dbs.status, &key, &val, MDB_RESERVE);
	if (rc != MDB_SUCCESS)
		return rc;
	mmig__status_wrap_env(val.mv_data, c);
	memcpy((uint8_t *)val.mv_data + MMIG__STATUS_ENV_LEN, rec, len);
	return MDB_SUCCESS;
}

/* The puts of one request.  Returns an LMDB code: anything but success
 * aborts the whole batch (the map filled, or a bug). */
static int
write_req(struct mmig_journal *j, MDB_txn *txn, struct commit_req *req,
	  uint64_t *next_lsn)
{
	struct mmig__jmig *m = req->m;
	MDB_val id = { .mv_size = MMIG_ID_LEN, .mv_data = m->id }, val;
	uint64_t bytes = 0;
	size_t n_new = 0;
	int rc = MDB_SUCCESS;

	if (m->has_header) {
		/* Encoded in place: the description is copied once, straight
		 * into the pages LMDB writes (it can be the whole model). */
		size_t hlen = mmig__rec_header_parts_len(&m->header);

		val = (MDB_val){ .mv_size = hlen, .mv_data = NULL };
		rc = mdb_put(txn, j->dbs.hdr, &id, &val,
			     MDB_NOOVERWRITE | MDB_RESERVE);
		if (rc == MDB_SUCCESS)
			mmig__rec_header_parts_copy(&m->header, val.mv_data);
		if (rc == MDB_SUCCESS && stored_durability(j, txn) < 0)
			rc = put_durability(j, txn, m->durability);
		if (rc != MDB_SUCCESS)
			return rc;
		bytes += hlen;
	}
	rc = append_staged(j, txn, m, &req->chain, next_lsn, &bytes, &n_new);
	if (rc != MDB_SUCCESS)
		return rc;
	/* The status is rewritten with a new record (a change of state), and
	 * to keep the chain's end findable: at its first record, and when it
	 * has run more than MMIG__STATUS_LAG LSNs past what the status holds
	 * (lmdb-int.h, "The log"). */
	req->new_stored = req->stored_last;
	if (req->status_val ||
	    (n_new && (req->stored_last == 0 ||
		       req->chain.last - req->stored_last > MMIG__STATUS_LAG))) {
		req->new_stored = req->chain.last;
		if (!req->status_val && !req->old_status)
			return MDB_INCOMPATIBLE; /* a new migration without one */
		rc = req->status_val
			     ? put_status(j, txn, m->id, &req->chain,
					  req->status_val, req->status_len)
			     : put_status(j, txn, m->id, &req->chain,
					  req->old_status,
					  req->old_status_len);
		if (rc != MDB_SUCCESS)
			return rc;
	}
	if (req->status_val) {
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

/* After @p batch's transaction: what each migration's next commit finds
 * (chain_end()).  A request that failed forgets: its chain is read again. */
static void
remember_chains(struct commit_req *batch)
{
	for (struct commit_req *req = batch; req; req = req->next) {
		struct mmig__jmig *m = req->m;

		m->chain_known = !req->excluded && req->rc == MMIG_OK;
		m->chain_first = req->chain.first;
		m->chain_last = req->chain.last;
		m->chain_len = req->chain.next_seq;
		m->chain_stored = req->new_stored;
	}
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
	struct mmig_error *berr = NULL;
	struct commit_req *req;
	uint64_t next_lsn;
	MDB_txn *txn;
	int rc;

	for (req = batch; req; req = req->next)
		if (req->sync > sync)
			sync = req->sync;
again:
	next_lsn = 0; /* read from the log by the first record appended */
	rc = write_begin(j, sync, &txn, &berr);
	if (rc != MMIG_OK) {
		/* The write lock not taken in time, or LMDB refused to begin:
		 * every request fails with that cause. */
		for (req = batch; req; req = req->next) {
			if (req->excluded)
				continue;
			mmig_error_free(req->err);
			req->rc = rc;
			req->err = mmig_error_new(rc, "%s",
						  mmig_error_message(berr));
		}
		mmig_error_free(berr);
		return;
	}
	for (req = batch; req; req = req->next) {
		if (req->excluded)
			continue;
		mmig_error_free(req->err);
		req->err = NULL;
		req->rc = check_fence(j, txn, req);
		if (req->rc != MMIG_OK)
			continue;
		rc = write_req(j, txn, req, &next_lsn);
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
	if (rc == MDB_SUCCESS) {
		remember_chains(batch);
		return;
	}
fail:
	/* A put or the commit itself (saving the free list needs pages
	 * too) filled the map: grow it and write the batch again. */
	if (rc == MDB_MAP_FULL && map_grow(j) == MDB_SUCCESS)
		goto again;
	for (req = batch; req; req = req->next) {
		if (req->excluded)
			continue; /* its own failure says more */
		mmig_error_free(req->err);
		req->rc = mmig__from_mdb(rc);
		req->err = mmig__mdb_error(rc, "journal %s: commit", j->path);
	}
	remember_chains(batch); /* forgets: it may have committed after all */
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

/* Sleep until the request's semaphore is posted; @return what it meant. */
static int
await_post(struct commit_req *req)
{
	while (sem_wait(&req->wake) != 0)
		; /* EINTR: a signal handler ran; wait on */
	return req->outcome;
}

/*
 * Queue @p req and return once some leader (maybe this thread) wrote it.
 * Leadership is handed from a leader to the first request queued behind
 * its batch, so `leading` stays set and no other thread slips in between.
 */
static void
group_commit(struct mmig_journal *j, struct commit_req *req)
{
	struct commit_req *batch, *r, *next, *heir;
	uint64_t t0;

	sem_init(&req->wake, 0, 0);
	req->outcome = REQ_WAITING;
	pthread_mutex_lock(&j->lock);
	req->next = NULL;
	*j->queue_tail = req;
	j->queue_tail = &req->next;
	j->n_queued++;
	if (j->leading) {
		pthread_mutex_unlock(&j->lock);
		if (await_post(req) == REQ_DONE) {
			sem_destroy(&req->wake);
			return;
		}
		pthread_mutex_lock(&j->lock); /* handed the lead */
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
	/* Whoever queued meanwhile leads the next batch. */
	heir = j->queue;
	j->leading = heir != NULL;
	pthread_mutex_unlock(&j->lock);
	/* Wake the batch with the lock dropped.  A request may return (and
	 * its stack go) once posted: read its link first. */
	for (r = batch; r; r = next) {
		next = r->next;
		if (r == req)
			continue;
		r->outcome = REQ_DONE;
		sem_post(&r->wake);
	}
	if (heir) {
		heir->outcome = REQ_LEAD;
		sem_post(&heir->wake);
	}
	sem_destroy(&req->wake);
}

/* ---- which migrations this process drives -------------------------------- */

static bool
owner_is_self(const struct mmig_journal *j, const struct mmig_owner *o)
{
	const struct mmig_owner *me = &j->self;

	return o->pid == me->pid && o->start_time == me->start_time &&
	       strcmp(o->boot_id ? o->boot_id : "", me->boot_id) == 0 &&
	       strcmp(o->host ? o->host : "", me->host) == 0;
}

static bool
lmdb_owner_active(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		  const struct mmig_owner *o)
{
	if (owner_is_self(j, o))
		return mmig__driving_has(&j->driving, id);
	return mmig__owner_alive(o);
}

/* The session's list: what lmdb_owner_active() answers for this process. */
static void
lmdb_drive(struct mmig__jmig *m, bool on)
{
	mmig__driving_set(&m->j->driving, m, on);
}

static const struct mmig_owner *
lmdb_session(struct mmig_journal *j)
{
	return &j->self;
}

static const char *
lmdb_where(const struct mmig_journal *j)
{
	return j->path;
}

static int
lmdb_admit(struct mmig_journal *j, enum mmig_durability d,
	   struct mmig_error **errp)
{
	struct mmig_error *err;
	MDB_txn *txn;
	int rc;

	if (j->flags & MMIG_JOURNAL_RDONLY) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "journal %s is open read-only",
					     j->path));
		return MMIG_EINVAL;
	}
	rc = mmig__journal_read_begin2(j, &txn, errp);
	if (rc != MMIG_OK)
		return rc;
	err = one_durability(j, txn, d);
	mmig__journal_read_end(j, txn);
	if (err) {
		rc = mmig_error_code(err);
		set_err(errp, err);
		return rc;
	}
	return MMIG_OK;
}

/* Append through group commit: one LMDB transaction shared with whatever
 * other migrations of this process are committing. */
static int
lmdb_append(struct mmig__jmig *m, const uint8_t *status_val,
	    size_t status_len, enum mmig__sync sync, struct mmig_error **errp)
{
	struct commit_req req = {
		.m = m,
		.sync = sync,
		.creating = m->has_header,
		.status_val = (uint8_t *)status_val,
		.status_len = status_len,
	};
	int side_fd = -1, rc;

	if (m->has_header && m->header.side) {
		/* The description first, durable and locked, before the
		 * header that names it can commit (side.c). */
		rc = mmig__side_write(m->j->path, m->id, m->header.side,
				      m->header.side_len,
				      sync != MMIG__SYNC_NONE, &side_fd, errp);
		if (rc != MMIG_OK)
			return rc;
	}
	group_commit(m->j, &req);
	if (side_fd >= 0 && req.rc == MMIG_OK)
		atomic_fetch_add(&m->j->bytes, m->header.side_len);
	/* Let go of it only now: until here a prune must not take it for
	 * an orphan.  (A failed commit leaves it: the header may have
	 * committed all the same; if not, it is an orphan prune removes.) */
	mmig__side_release(side_fd);
	mmig__free(req.old_status);
	if (req.rc != MMIG_OK)
		set_err(errp, req.err);
	else
		mmig_error_free(req.err);
	return req.rc;
}

/* ---- claiming a migration (recovery) ------------------------------------- */

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
	struct mmig_rec_status st = { 0 };
	struct mmig__chain chain;
	uint64_t next_lsn = 0, bytes = 0;
	size_t n_new;
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
	if (rc == MMIG_OK)
		rc = mmig__journal_chain(j, txn, m->id, &chain, errp);
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
	if (!force && !mmig__fold_rests(&m->fold) &&
	    lmdb_owner_active(j, m->id, &st.owner)) {
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
		mmig__driving_set(&j->driving, m, true);
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
	/* CLAIMED at the log's edge, then the status with the new epoch and
	 * the chain's new end. */
	*mdb_rc = append_staged(j, txn, m, &chain, &next_lsn, &bytes, &n_new);
	if (*mdb_rc == MDB_SUCCESS)
		*mdb_rc = put_status(j, txn, m->id, &chain, sval, slen);
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

static int
lmdb_claim(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
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
	rc = write_begin(j, MMIG__SYNC_FULL, &txn, &err);
	if (rc == MMIG_EBUSY) {
		/* The journal's write lock is held by a process that does
		 * not let go (stopped, hung): a live owner as far as this
		 * claim can tell, so recovery reports it so and goes on. */
		err = mmig_error_wrap(err, "migration %s: claim", m->id_text);
		rc = MMIG_EOWNED;
		goto fail;
	}
	if (rc != MMIG_OK) {
		err = mmig_error_wrap(err, "migration %s: claim", m->id_text);
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
	if (mdb_rc == MDB_MAP_FULL && map_grow(j) == MDB_SUCCESS) {
		/* The commit saving LMDB's free list needed a page: the
		 * transaction is gone, so make the claim again. */
		mmig__rec_header_free(header_out);
		mmig__jmig_free(m);
		goto again;
	}
	if (mdb_rc != MDB_SUCCESS) {
		err = mmig__mdb_error(mdb_rc, "migration %s: claim", m->id_text);
		rc = mmig__from_mdb(mdb_rc);
		goto fail;
	}
	mmig__jmig_clear_staged(m);
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

/* ---- compaction ----------------------------------------------------------- */

static int
file_size(const char *path, uint64_t *out)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	*out = (uint64_t)st.st_size;
	return MMIG_OK;
}

/* fsync a file by path. */
static int
sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = MMIG_OK;

	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * Compaction needs the journal to itself, and whoever opens it next must
 * find LMDB's lock file consistent with the new data file (a compacted
 * copy starts its transaction ids afresh; the lock file remembers the old
 * ones, and only an opener that finds itself alone re-reads them).
 *
 * So: open it here (refused if this process has it open), then upgrade
 * LMDB's own shared record lock on byte 0 of lock.mdb -- which every
 * process holds while it has the environment open -- to an exclusive one,
 * without waiting.  That fails while any other process has the journal
 * open, and once held makes every new opener wait in mdb_env_open() until
 * it is released.  Under it: the compacting copy into a work directory
 * inside the journal's, fsync, rename over data.mdb, fsync the directory.
 * Then a second environment is opened on the new file: record locks do
 * not conflict within a process, so it finds itself alone and rebuilds
 * the lock file from the new data file before it shares the lock -- and
 * only then can a waiting opener go on.  Both environments are closed
 * (closing either drops every lock of this process on lock.mdb, which is
 * why this is done only with nothing else of the journal open here).
 */
int
mmig_journal_compact(const char *dir, uint64_t *bytes_before,
		     uint64_t *bytes_after, struct mmig_error **errp)
{
	struct mmig_journal *j = NULL, *fresh = NULL;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };
	char *tmp = NULL, *from = NULL, *to = NULL;
	uint64_t before = 0, after = 0;
	struct mmig_error *err = NULL;
	int rc;

	if (errp)
		*errp = NULL;
	if (bytes_before)
		*bytes_before = 0;
	if (bytes_after)
		*bytes_after = 0;
	if (strncmp(dir, MMIG_ETCD_SCHEME, strlen(MMIG_ETCD_SCHEME)) == 0) {
		set_err(errp, mmig_error_new(MMIG_ENOTIMPL,
					     "%s: compact is not built for the "
					     "etcd backend (etcd compacts its "
					     "own history)",
					     dir));
		return MMIG_ENOTIMPL;
	}
	if (dir_kind(dir, &rc) != DIR_JOURNAL) {
		rc = -ENOENT;
		set_err(errp, mmig_error_new(rc, "%s: compact: no journal there",
					     dir));
		return rc;
	}
	rc = mmig_journal_open(&j, dir, NULL, &err);
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_wrap(err, "compact"));
		return rc;
	}
	tmp = mmig__asprintf("%s/" COMPACT_PREFIX "%d", dir, (int)getpid());
	from = tmp ? mmig__asprintf("%s/data.mdb", tmp) : NULL;
	to = mmig__asprintf("%s/data.mdb", dir);
	if (!tmp || !from || !to) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	/* LMDB's own descriptor of lock.mdb is not reachable, but any will
	 * do: record locks belong to the process, so this upgrades LMDB's
	 * shared lock on byte 0 in place. */
	if (fcntl(j->lock_fd, F_SETLK, &fl) != 0) {
		struct flock probe = fl;

		if (fcntl(j->lock_fd, F_GETLK, &probe) != 0)
			probe.l_pid = 0;
		rc = MMIG_EBUSY;
		err = mmig_error_new(rc,
				     "%s: compact: the journal is open in another "
				     "process (pid %d); compaction needs it to "
				     "itself",
				     dir, (int)probe.l_pid);
		goto out;
	}
	rc = file_size(to, &before);
	if (rc == MMIG_OK && mkdir(tmp, 0700) != 0)
		rc = -errno;
	if (rc != MMIG_OK) {
		err = mmig_error_new(rc, "%s: compact: %s", dir, mmig_strerror(rc));
		goto out;
	}
	rc = mdb_env_copy2(j->env, tmp, MDB_CP_COMPACT);
	if (rc != MDB_SUCCESS) {
		rc = cause_of(dir, rc);
		err = mmig__mdb_error(rc, "%s: compact: copy", dir);
		rc = mmig__from_mdb(rc);
		goto out;
	}
	/* mdb_env_copy2() made the copy 0666 & ~umask; the journal's data
	 * file holds descriptions and is 0600 (issue 13, item 7). */
	rc = chmod(from, 0600) == 0 ? MMIG_OK : -errno;
	if (rc == MMIG_OK)
		rc = sync_file(from);
	if (rc == MMIG_OK && rename(from, to) != 0)
		rc = -errno;
	if (rc == MMIG_OK)
		rc = sync_dir(dir);
	if (rc != MMIG_OK) {
		err = mmig_error_new(rc, "%s: compact: %s", dir, mmig_strerror(rc));
		goto out;
	}
	/* The new data file is in place: rebuild the lock file from it while
	 * still holding the exclusive lock (see above). */
	rc = open_at(&fresh, dir, NULL, false, &err);
	if (rc != MMIG_OK) {
		err = mmig_error_wrap(err, "%s: compact: reopen", dir);
		goto out;
	}
	rc = file_size(to, &after);
out:
	if (tmp)
		remove_workdir(tmp);
	mmig_journal_close(fresh);
	/* Closing j's environment and descriptor drops the lock. */
	mmig_journal_close(j);
	if (rc == MMIG_OK) {
		if (bytes_before)
			*bytes_before = before;
		if (bytes_after)
			*bytes_after = after;
	} else if (!err) {
		err = mmig_error_new(rc, "%s: compact: %s", dir, mmig_strerror(rc));
	}
	set_err(errp, rc == MMIG_OK ? NULL : err);
	if (rc == MMIG_OK)
		mmig_error_free(err);
	mmig__free(tmp);
	mmig__free(from);
	mmig__free(to);
	return rc;
}

/* ---- the backend ---------------------------------------------------------- */

const struct mmig__backend_ops mmig__lmdb_backend = {
	.name = "lmdb",
	.version = MMIG__BACKEND_VERSION,
	.where = lmdb_where,
	.session = lmdb_session,
	.owner_active = lmdb_owner_active,
	.drive = lmdb_drive,
	.side_min = mmig__side_min,
	.admit = lmdb_admit,
	.claim = lmdb_claim,
	.append = lmdb_append,
	.read = mmig__lmdb_read,
	.list = mmig__lmdb_list,
	.sync = lmdb_sync,
	.prune = mmig__lmdb_prune,
	.close = lmdb_close,
};

/* Every backend's state struct has the vtable pointer as its first
 * member, so a journal handle points at it, whatever the backend. */
const struct mmig__backend_ops *
mmig__journal_ops(const struct mmig_journal *j)
{
	return *(const struct mmig__backend_ops *const *)(const void *)j;
}
