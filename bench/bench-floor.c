/*
 * bench/bench-floor.c - the two floors figures 1, 2 and 4 are held
 * against (issue 16): what the disk itself needs for one durable 200-byte
 * write, and what LMDB itself needs for one durable 200-byte put.
 *
 * This is the one file of the tools that calls LMDB (tests/check-layers.sh
 * lets it): not to reach a journal -- the bench reaches those through the
 * public API only -- but to measure the store the journal is built on,
 * bare, in the same run and on the same disk.  Beside them, a peer:
 * SQLite in WAL mode, synchronous=FULL, one INSERT + COMMIT per step.
 * (PostgreSQL, the other store durable-workflow engines use, is the peer
 * of bench-pg.c.)
 */
#include "bench-int.h"

#include <lmdb.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC 200

double
bench_disk_floor_us(const char *path, size_t n)
{
	char rec[REC];
	size_t size = (n + 1) * REC;
	char *zeros;
	uint64_t t0;
	double us = -1;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* Preallocated with written zeros, not fallocate(): an unwritten
	 * extent would make each fdatasync convert it, a metadata update
	 * the floor must not pay.  Then synced whole, so that what follows
	 * changes data blocks only. */
	zeros = calloc(1, size);
	if (!zeros || write(fd, zeros, size) != (ssize_t)size || fsync(fd) != 0)
		goto out;
	memset(rec, 'r', sizeof(rec));
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		if (pwrite(fd, rec, sizeof(rec), (off_t)(i * REC)) !=
			    (ssize_t)sizeof(rec) ||
		    fdatasync(fd) != 0)
			goto out;
	}
	us = (double)(bench_now_ns() - t0) / 1e3 / (double)n;
out:
	free(zeros);
	close(fd);
	unlink(path);
	return us;
}

/* Remove @p dir's LMDB files and the directory. */
static void
lmdb_remove(const char *dir)
{
	char *p;

	if ((p = bench_path(dir, "data.mdb")))
		unlink(p);
	free(p);
	if ((p = bench_path(dir, "lock.mdb")))
		unlink(p);
	free(p);
	rmdir(dir);
}

double
bench_lmdb_floor_us(const char *dir, size_t n)
{
	MDB_env *env = NULL;
	MDB_txn *txn;
	MDB_dbi dbi;
	char rec[REC];
	uint64_t t0 = 0, k;
	double us = -1;
	size_t warm = 10;

	memset(rec, 'r', sizeof(rec));
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    mdb_env_create(&env) != MDB_SUCCESS ||
	    mdb_env_set_mapsize(env, (size_t)64 << 20) != MDB_SUCCESS ||
	    mdb_env_open(env, dir, MDB_NOMETASYNC, 0600) != MDB_SUCCESS)
		goto out;
	/* One put per commit, keys appended (as the journal's log is), each
	 * commit one fdatasync (the meta page rides on the next). */
	for (size_t i = 0; i < warm + n; i++) {
		MDB_val key = { .mv_size = sizeof(k), .mv_data = &k };
		MDB_val val = { .mv_size = sizeof(rec), .mv_data = rec };

		if (i == warm)
			t0 = bench_now_ns();
		k = __builtin_bswap64((uint64_t)i + 1);
		if (mdb_txn_begin(env, NULL, 0, &txn) != MDB_SUCCESS)
			goto out;
		if ((i == 0 && mdb_dbi_open(txn, NULL, 0, &dbi) != MDB_SUCCESS) ||
		    mdb_put(txn, dbi, &key, &val, MDB_APPEND) != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			goto out;
		}
		if (mdb_txn_commit(txn) != MDB_SUCCESS)
			goto out;
	}
	us = (double)(bench_now_ns() - t0) / 1e3 / (double)n;
out:
	if (env)
		mdb_env_close(env);
	lmdb_remove(dir);
	return us;
}

/*
 * A peer: what durable-workflow engines put their steps in.  SQLite in WAL
 * mode with synchronous=FULL, one INSERT of 200 B and its COMMIT per step,
 * in a fresh database file @p path (its -wal and -shm removed after).
 */
double
bench_sqlite_peer_us(const char *path, size_t n)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	char rec[REC];
	uint64_t t0 = 0;
	double us = -1;
	size_t warm = 10;

	memset(rec, 'r', sizeof(rec));
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE step(id INTEGER PRIMARY KEY, v BLOB);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO step(v) VALUES (?)", -1, &ins,
			       NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < warm + n; i++) {
		if (i == warm)
			t0 = bench_now_ns();
		/* Autocommit: the INSERT is its own transaction, committed
		 * (and synced, WAL + FULL) when the step ends. */
		sqlite3_bind_blob(ins, 1, rec, sizeof(rec), SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto out;
		sqlite3_reset(ins);
	}
	us = (double)(bench_now_ns() - t0) / 1e3 / (double)n;
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char name[4096];

		snprintf(name, sizeof(name), "%s%s", path, sfx[i]);
		unlink(name);
	}
	return us;
}
