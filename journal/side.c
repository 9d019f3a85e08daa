/*
 * journal/side.c - large model descriptions in side files beside the LMDB
 * journal.
 *
 * A description of at least mmig__side_min() bytes is not put in the
 * header record (LMDB would allocate, zero and copy overflow pages for it,
 * then write them): it is written from the caller's buffer to a file of
 * its own in the journal's directory, desc-<migration id>.mmig (mode 0600,
 * created O_EXCL), fdatasync'd, and the directory fsync'd, all BEFORE the
 * commit of the header record that names it; the header holds its length
 * and XXH3-64 instead of the bytes (record.c, format 2).  So a header
 * never names a side file that may not be on disk.
 *
 * Every reader of a description goes through mmig__side_load(), which
 * checks the length and the hash and names the file when it is missing or
 * differs.
 *
 * Orphans -- a side file no header names: a create killed between the side
 * file and its header, or a prune killed between its commit and the
 * unlink -- are reported by verify and removed by prune.  A creator holds
 * an exclusive flock(2) on its side file from just after creating it until
 * its header commit has returned, so a file that can be locked has no
 * creator left that could still commit a header naming it; orphans are
 * judged from a read transaction begun after their locks are taken.  Only
 * names of the exact pattern are ever removed (invariant N).
 */
#include "internal.h"
#include "fault.h"
#include "lmdb-int.h"

#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIDE_PREFIX "desc-"
#define SIDE_SUFFIX ".mmig"

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

size_t
mmig__side_min(void)
{
#ifdef MMIG_FAULT_INJECTION
	/* Test builds only: a smaller threshold, so that the suites can put
	 * both sides of it through every path with small descriptions. */
	const char *e = getenv("MMIG_TEST_SIDE_MIN");

	if (e && *e) {
		char *end;
		unsigned long long v = strtoull(e, &end, 10);

		if (*end == '\0')
			return (size_t)v;
	}
#endif
	return MMIG__SIDE_MIN;
}

void
mmig__side_name(const uint8_t id[MMIG_ID_LEN], char out[MMIG__SIDE_NAME_LEN])
{
	char text[37];

	mmig__id_text(id, text);
	snprintf(out, MMIG__SIDE_NAME_LEN, SIDE_PREFIX "%s" SIDE_SUFFIX, text);
}

bool
mmig__side_parse_name(const char *name, uint8_t id[MMIG_ID_LEN])
{
	char text[37], again[MMIG__SIDE_NAME_LEN];
	size_t n = strlen(name);

	if (n != MMIG__SIDE_NAME_LEN - 1 ||
	    strncmp(name, SIDE_PREFIX, strlen(SIDE_PREFIX)) != 0 ||
	    strcmp(name + n - strlen(SIDE_SUFFIX), SIDE_SUFFIX) != 0)
		return false;
	memcpy(text, name + strlen(SIDE_PREFIX), 36);
	text[36] = '\0';
	if (mmig__id_parse(text, id) != MMIG_OK)
		return false;
	/* Exactly the name we would write, nothing that merely parses. */
	mmig__side_name(id, again);
	return strcmp(again, name) == 0;
}

static char *
side_path(const char *dir, const uint8_t id[MMIG_ID_LEN])
{
	char name[MMIG__SIDE_NAME_LEN];

	mmig__side_name(id, name);
	return mmig__asprintf("%s/%s", dir, name);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = MMIG_OK;

	if (fd < 0 || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

int
mmig__side_write(const char *dir, const uint8_t id[MMIG_ID_LEN],
		 const void *buf, size_t len, bool sync, int *lock_fd,
		 struct mmig_error **errp)
{
	const uint8_t *p = buf;
	char *path = side_path(dir, id);
	const char *what = "create";
	struct stat st;
	size_t done = 0;
	int fd = -1, rc = MMIG_OK;

	*lock_fd = -1;
	if (!path)
		return MMIG_ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* Locked before anything else, and still ours: a prune that judged
	 * the empty file an orphan in between has unlinked it. */
	what = "lock";
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	what = "write";
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto out;
		}
		done += (size_t)w;
	}
	if (MMIG_FAULT(SIDE_WRITTEN)) {
		rc = -mmig__fault_errno();
		goto out;
	}
	what = "sync";
	if (sync && fdatasync(fd) != 0) {
		rc = -errno;
		goto out;
	}
	if (sync)
		rc = fsync_dir(dir);
	if (rc == MMIG_OK && MMIG_FAULT(SIDE_SYNCED))
		rc = -mmig__fault_errno();
out:
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_new(rc, "side file %s: %s: %s", path,
					     what, mmig_strerror(rc)));
		if (fd >= 0) {
			/* Never named by a header: ours to remove.  (A file
			 * that O_EXCL found is not ours: fd is -1 then.) */
			unlink(path);
			close(fd);
		}
	} else {
		*lock_fd = fd;
	}
	mmig__free(path);
	return rc;
}

void
mmig__side_release(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);
}

int
mmig__side_load(const char *dir, struct mmig_rec_header *h,
		struct mmig_error **errp)
{
	char *path;
	uint8_t *buf = NULL;
	struct stat st;
	size_t done = 0;
	uint64_t hash;
	int fd, rc = MMIG_OK;
	struct mmig_error *err = NULL;

	if (!h->desc_side || h->model_desc)
		return MMIG_OK;
	path = side_path(dir, h->id);
	if (!path)
		return MMIG_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		err = mmig_error_new(MMIG_ECORRUPT,
				     "side file %s: %s (the header names it: "
				     "%zu bytes)",
				     path, rc == -ENOENT ? "missing"
							 : mmig_strerror(rc),
				     h->model_desc_len);
		rc = MMIG_ECORRUPT;
		goto out;
	}
	if ((uint64_t)st.st_size != (uint64_t)h->model_desc_len) {
		rc = MMIG_ECORRUPT;
		err = mmig_error_new(rc,
				     "side file %s: %lld bytes, the header "
				     "says %zu",
				     path, (long long)st.st_size,
				     h->model_desc_len);
		goto out;
	}
	buf = mmig__malloc(h->model_desc_len ? h->model_desc_len : 1);
	if (!buf) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	while (done < h->model_desc_len) {
		ssize_t r = read(fd, buf + done, h->model_desc_len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			err = mmig_error_new(MMIG_ECORRUPT,
					     "side file %s: read: %s", path,
					     r < 0 ? mmig_strerror(rc)
						   : "shorter than it was");
			rc = MMIG_ECORRUPT;
			goto out;
		}
		done += (size_t)r;
	}
	hash = XXH3_64bits(buf, h->model_desc_len);
	if (hash != h->desc_xxh64) {
		rc = MMIG_ECORRUPT;
		err = mmig_error_new(rc,
				     "side file %s: XXH3-64 %016llx, the "
				     "header says %016llx",
				     path, (unsigned long long)hash,
				     (unsigned long long)h->desc_xxh64);
		goto out;
	}
	h->model_desc = buf;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	mmig__free(buf);
	mmig__free(path);
	if (rc != MMIG_OK && !err)
		err = mmig_error_new(rc, "side file of migration: %s",
				     mmig_strerror(rc));
	if (rc != MMIG_OK)
		set_err(errp, err);
	return rc;
}

void
mmig__side_load_or_note(const char *dir, struct mmig_rec_header *h)
{
	struct mmig_error *err = NULL;

	if (!h->desc_side || h->model_desc || h->desc_problem)
		return;
	if (mmig__side_load(dir, h, &err) != MMIG_OK) {
		h->desc_problem = mmig__strdup(err ? mmig_error_message(err)
						   : "side file: out of memory");
		mmig_error_free(err);
	}
}

int
mmig__side_unlink(const char *dir, const uint8_t id[MMIG_ID_LEN])
{
	char *path = side_path(dir, id);
	int rc = MMIG_OK;

	if (!path)
		return MMIG_ENOMEM;
	if (unlink(path) != 0)
		rc = errno == ENOENT ? MMIG_OK : -errno;
	mmig__free(path);
	return rc;
}

int
mmig__side_sync_dir(const char *dir)
{
	return fsync_dir(dir);
}

/* One side file seen by the orphan scan, locked while it is judged. */
struct seen {
	uint8_t id[MMIG_ID_LEN];
	int fd;
};

int
mmig__side_orphans(struct mmig_journal *j, bool remove,
		   void (*report)(void *arg, const char *msg), void *arg,
		   size_t *n_orphans, struct mmig_error **errp)
{
	const char *dir = mmig__journal_path(j);
	struct seen *seen = NULL;
	size_t n = 0, cap = 0, removed = 0;
	struct dirent *de;
	MDB_txn *txn = NULL;
	DIR *d;
	int rc = MMIG_OK;

	*n_orphans = 0;
	d = opendir(dir);
	if (!d) {
		rc = -errno;
		set_err(errp, mmig_error_new(rc, "journal %s: side files: %s",
					     dir, mmig_strerror(rc)));
		return rc;
	}
	while ((de = readdir(d))) {
		uint8_t id[MMIG_ID_LEN];
		int fd;

		if (!mmig__side_parse_name(de->d_name, id))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue; /* gone meanwhile, or not a file of ours */
		/* Locked: its creator is still before its header commit. */
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			continue;
		}
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 8;
			struct seen *s2 = mmig__realloc(seen, c2 * sizeof(*s2));

			if (!s2) {
				close(fd);
				rc = MMIG_ENOMEM;
				break;
			}
			seen = s2;
			cap = c2;
		}
		memcpy(seen[n].id, id, MMIG_ID_LEN);
		seen[n++].fd = fd;
	}
	/* Begun after every lock was taken: a header committed by a creator
	 * that has let go of its file is in this view. */
	if (rc == MMIG_OK && n)
		rc = mmig__journal_read_begin2(j, &txn, errp);
	for (size_t i = 0; rc == MMIG_OK && i < n; i++) {
		const struct mmig__dbs *dbs = mmig__journal_dbs(j);
		MDB_val key = { .mv_size = MMIG_ID_LEN, .mv_data = seen[i].id };
		MDB_val val;
		char name[MMIG__SIDE_NAME_LEN], msg[512];
		int mrc = mdb_get(txn, dbs->hdr, &key, &val);

		if (mrc == MDB_SUCCESS)
			continue;
		if (mrc != MDB_NOTFOUND) {
			rc = mmig__from_mdb(mrc);
			set_err(errp, mmig__mdb_error(mrc, "journal %s: side "
							   "files", dir));
			break;
		}
		mmig__side_name(seen[i].id, name);
		(*n_orphans)++;
		if (remove) {
			if (unlinkat(dirfd(d), name, 0) == 0 || errno == ENOENT)
				removed++;
			snprintf(msg, sizeof(msg),
				 "side file %s/%s: no header names it; removed",
				 dir, name);
		} else {
			snprintf(msg, sizeof(msg),
				 "side file %s/%s: no header names it (an "
				 "orphan: prune removes it)",
				 dir, name);
		}
		if (report)
			report(arg, msg);
	}
	if (txn)
		mmig__journal_read_end(j, txn);
	for (size_t i = 0; i < n; i++)
		close(seen[i].fd);
	mmig__free(seen);
	closedir(d);
	if (rc == MMIG_OK && removed)
		rc = fsync_dir(dir);
	if (rc == MMIG_ENOMEM)
		set_err(errp, mmig_error_new(rc, "journal %s: side files: %s",
					     dir, mmig_strerror(rc)));
	return rc;
}
