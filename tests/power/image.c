/*
 * tests/power/image.c - the disk model behind the power-cut tests: replays a
 * power-cut log (powercut.h) onto a durable base and writes the images a
 * power cut could leave at each sync point.
 *
 * The model (the one SQLite's crash tests use, with directories added):
 *  - A file's contents are durable once the file is fsync'ed or
 *    fdatasync'ed (both the same here: a write's size change is part of
 *    it), or, for one write, when it went through an O_DSYNC descriptor.
 *  - A directory entry (a file created, a rename, an unlink, a mkdir) is
 *    durable once that directory is synced; fsync of a file does not make
 *    its name durable (fsync(2): "an explicit fsync() on a file descriptor
 *    for the directory is also needed").  A rename is durable once either
 *    of its directories is synced.  Renaming a directory changes only the
 *    entries naming it: the entries inside it travel with it, and are made
 *    durable by syncing it under whichever name it then has.
 *  - Until then each operation may or may not have reached the disk, in
 *    any combination: the disk reorders.  Writes land whole or not at all
 *    on each 512-byte sector (sectors are atomic), and bytes outside a
 *    write are never harmed (SQLite's "powersafe overwrite").  A write
 *    that lands carries the newest bytes of its range: when a later write
 *    overlaps an earlier pending one, the earlier one's bytes are updated,
 *    as the page cache would, so that old data never lands over new.
 *  - SQLite's -shm and LMDB's lock.mdb are left out of every image: both
 *    are rebuilt by the first process to open the database after a boot.
 *
 * Objects -- files and directories -- are identified by the inode numbers
 * the log carries; one created afresh is a new object even when the kernel
 * reuses a number.  The namespace is a set of entries (directory object,
 * name) -> object, object 0 being the watched root, so that a directory
 * renamed after files were made in it (the journal, built in a sibling and
 * renamed into place) keeps them.  The log's paths are resolved to entries
 * when they are logged, against the namespace as the processes saw it (the
 * page cache: everything applied); an image walks its entries from the
 * root, so what hangs under a directory whose own entry did not survive is
 * not in it.
 */
#include "image.h"
#include "powercut.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u

struct obj {
	uint8_t *data;
	size_t size;
	bool dir;
};

struct ino_map {
	uint64_t ino;
	int obj;
};

/* A directory entry: @p name in directory object @p dir names @p obj. */
struct name {
	int dir;
	char *name;
	int obj;
};

/* The object every path starts from. */
#define ROOT 0

/* A pending operation, in program order. */
struct op {
	uint32_t kind; /* PC_WRITE, PC_TRUNC, PC_OPEN (= create), PC_UNLINK,
	                  PC_RENAME, PC_MKDIR, PC_RMDIR */
	int obj;       /* written, truncated, created or made */
	uint64_t off;
	uint8_t *data;
	size_t len;
	int dir, dir2; /* the entry (a rename's source), a rename's target */
	char *name;
	char *name2;
};

struct pc_state {
	struct obj *objs;
	size_t n_objs;
	struct ino_map *inos;
	size_t n_inos;
	struct name *names;  /* durable */
	size_t n_names;
	struct name *live;   /* as the processes saw it: all ops applied */
	size_t n_live;
	struct op *pend;
	size_t n_pend;
	char problem[512];
};

const char *
pc_subset_name(enum pc_subset s)
{
	switch (s) {
	case PC_SUBSET_NONE:
		return "none";
	case PC_SUBSET_ALL:
		return "all";
	case PC_SUBSET_RANDOM:
		return "random";
	case PC_SUBSET_TORN:
		return "torn";
	}
	return "?";
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "image: out of memory\n");
		abort();
	}
	return q;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "image: out of memory\n");
		abort();
	}
	return d;
}

static void
problem(struct pc_state *st, const char *fmt, const char *arg)
{
	if (st->problem[0])
		return; /* the first one says the most */
	snprintf(st->problem, sizeof(st->problem), fmt, arg);
}

const char *
pc_state_problem(const struct pc_state *st)
{
	return st->problem[0] ? st->problem : NULL;
}

static bool
excluded(const char *path)
{
	size_t n = strlen(path);

	return (n >= 4 && strcmp(path + n - 4, "-shm") == 0) ||
	       (n >= 8 && strcmp(path + n - 8, "lock.mdb") == 0);
}

static int
obj_new(struct pc_state *st, bool dir)
{
	st->objs = xrealloc(st->objs, (st->n_objs + 1) * sizeof(*st->objs));
	st->objs[st->n_objs] = (struct obj){ .dir = dir };
	return (int)st->n_objs++;
}

static void
ino_set(struct pc_state *st, uint64_t ino, int obj)
{
	for (size_t i = 0; i < st->n_inos; i++)
		if (st->inos[i].ino == ino) {
			st->inos[i].obj = obj;
			return;
		}
	st->inos = xrealloc(st->inos, (st->n_inos + 1) * sizeof(*st->inos));
	st->inos[st->n_inos++] = (struct ino_map){ .ino = ino, .obj = obj };
}

static int
ino_get(const struct pc_state *st, uint64_t ino)
{
	for (size_t i = 0; i < st->n_inos; i++)
		if (st->inos[i].ino == ino)
			return st->inos[i].obj;
	return -1;
}

/* Write @p len bytes at @p off into @p o, growing it (with zeros). */
static void
obj_write(struct obj *o, uint64_t off, const uint8_t *data, size_t len)
{
	if (off + len > o->size) {
		o->data = xrealloc(o->data, off + len);
		if (off > o->size)
			memset(o->data + o->size, 0, off - o->size);
		o->size = off + len;
	}
	memcpy(o->data + off, data, len);
}

static void
obj_truncate(struct obj *o, uint64_t size)
{
	if (size > o->size) {
		o->data = xrealloc(o->data, size);
		memset(o->data + o->size, 0, size - o->size);
	}
	o->size = size;
}

/* ---- names ---------------------------------------------------------------- */

static ssize_t
name_find(const struct name *names, size_t n, int dir, const char *name,
	  size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (names[i].dir == dir && strlen(names[i].name) == len &&
		    strncmp(names[i].name, name, len) == 0)
			return (ssize_t)i;
	return -1;
}

static void
name_set(struct name **names, size_t *n, int dir, const char *name, int obj)
{
	ssize_t i = name_find(*names, *n, dir, name, strlen(name));

	if (i >= 0) {
		(*names)[i].obj = obj;
		return;
	}
	*names = xrealloc(*names, (*n + 1) * sizeof(**names));
	(*names)[*n] = (struct name){ .dir = dir, .name = xstrdup(name),
				      .obj = obj };
	(*n)++;
}

static void
name_del(struct name *names, size_t *n, int dir, const char *name)
{
	ssize_t i = name_find(names, *n, dir, name, strlen(name));

	if (i < 0)
		return;
	free(names[i].name);
	names[i] = names[*n - 1];
	(*n)--;
}

/* Apply one namespace operation; one that no longer makes sense (its
 * source is not there in this image) does nothing. */
static void
name_apply(struct name **names, size_t *n, const struct op *op)
{
	ssize_t i;

	switch (op->kind) {
	case PC_OPEN:
	case PC_MKDIR:
		name_set(names, n, op->dir, op->name, op->obj);
		break;
	case PC_UNLINK:
	case PC_RMDIR:
		name_del(*names, n, op->dir, op->name);
		break;
	case PC_RENAME:
		i = name_find(*names, *n, op->dir, op->name, strlen(op->name));
		if (i >= 0) {
			int obj = (*names)[i].obj;

			name_del(*names, n, op->dir, op->name);
			name_set(names, n, op->dir2, op->name2, obj);
		}
		break;
	}
}

static bool
is_name_op(uint32_t kind)
{
	return kind == PC_OPEN || kind == PC_MKDIR || kind == PC_UNLINK ||
	       kind == PC_RMDIR || kind == PC_RENAME;
}

/*
 * The directory object @p path names among @p names ("" is the root), or
 * -1.  With @p base: the directory holding @p path's last component, which
 * *base points to (it need not exist: a create's, a rename's target).
 */
static int
resolve(const struct pc_state *st, const struct name *names, size_t n,
	const char *path, const char **base)
{
	const char *end = base ? strrchr(path, '/') : NULL;
	int dir = ROOT;

	if (base) {
		*base = end ? end + 1 : path;
		if (!end)
			return ROOT;
	} else {
		end = path + strlen(path);
	}
	while (path < end) {
		const char *slash = memchr(path, '/', (size_t)(end - path));
		size_t len = slash ? (size_t)(slash - path)
				   : (size_t)(end - path);
		ssize_t i = name_find(names, n, dir, path, len);

		if (i < 0 || names[i].obj < 0 || !st->objs[names[i].obj].dir)
			return -1;
		dir = names[i].obj;
		path += len + (slash ? 1 : 0);
	}
	return dir;
}

/* ---- the base --------------------------------------------------------------- */

static struct pc_state *scan_state;
static size_t scan_root_len;
static int scan_err;

static int
scan_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	struct pc_state *st = scan_state;
	const char *rel = path + scan_root_len;
	const char *base;
	int fd, obj, dir;

	if (*rel == '/')
		rel++;
	if (!*rel) {
		ino_set(st, (uint64_t)sb->st_ino, ROOT);
		return 0;
	}
	if (flag != FTW_D && flag != FTW_F)
		return 0;
	/* nftw visits a directory before what it holds. */
	dir = resolve(st, st->names, st->n_names, rel, &base);
	if (dir < 0) {
		scan_err = ENOENT;
		return -1;
	}
	obj = obj_new(st, flag == FTW_D);
	ino_set(st, (uint64_t)sb->st_ino, obj);
	name_set(&st->names, &st->n_names, dir, base, obj);
	if (flag == FTW_D)
		return 0;
	if (excluded(rel))
		return 0;
	st->objs[obj].data = xrealloc(NULL, (size_t)sb->st_size);
	st->objs[obj].size = (size_t)sb->st_size;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, st->objs[obj].data, (size_t)sb->st_size) !=
			      sb->st_size) {
		scan_err = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
pc_state_new(struct pc_state **out, const char *root)
{
	struct pc_state *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	obj_new(st, true); /* ROOT */
	scan_state = st;
	scan_root_len = strlen(root);
	scan_err = 0;
	rc = nftw(root, scan_entry, 16, FTW_PHYS);
	scan_state = NULL;
	if (rc != 0) {
		pc_state_free(st);
		errno = scan_err ? scan_err : errno;
		return -1;
	}
	for (size_t i = 0; i < st->n_names; i++)
		name_set(&st->live, &st->n_live, st->names[i].dir,
			 st->names[i].name, st->names[i].obj);
	*out = st;
	return 0;
}

static void
op_free(struct op *op)
{
	free(op->data);
	free(op->name);
	free(op->name2);
}

void
pc_state_free(struct pc_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_objs; i++)
		free(st->objs[i].data);
	for (size_t i = 0; i < st->n_names; i++)
		free(st->names[i].name);
	for (size_t i = 0; i < st->n_live; i++)
		free(st->live[i].name);
	for (size_t i = 0; i < st->n_pend; i++)
		op_free(&st->pend[i]);
	free(st->objs);
	free(st->inos);
	free(st->names);
	free(st->live);
	free(st->pend);
	free(st);
}

/* ---- replay ------------------------------------------------------------------ */

static struct op *
pend_add(struct pc_state *st, uint32_t kind)
{
	st->pend = xrealloc(st->pend, (st->n_pend + 1) * sizeof(*st->pend));
	st->pend[st->n_pend] = (struct op){ .kind = kind, .obj = -1,
					    .dir = -1, .dir2 = -1 };
	return &st->pend[st->n_pend++];
}

/* Remove the pending operations @p keep says no to, keeping the order. */
static void
pend_compact(struct pc_state *st, const bool *gone)
{
	size_t k = 0;

	for (size_t i = 0; i < st->n_pend; i++) {
		if (gone[i])
			op_free(&st->pend[i]);
		else
			st->pend[k++] = st->pend[i];
	}
	st->n_pend = k;
}

/* The page cache holds the newest bytes: a pending write that overlaps a
 * newer one carries the newer bytes if it lands. */
static void
refresh_overlaps(struct pc_state *st, int obj, uint64_t off,
		 const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < st->n_pend; i++) {
		struct op *p = &st->pend[i];
		uint64_t lo, hi;

		if (p->kind != PC_WRITE || p->obj != obj)
			continue;
		lo = p->off > off ? p->off : off;
		hi = p->off + p->len < off + len ? p->off + p->len : off + len;
		if (lo < hi)
			memcpy(p->data + (lo - p->off), data + (lo - off),
			       hi - lo);
	}
}

static void
sync_file(struct pc_state *st, int obj)
{
	bool *gone = xrealloc(NULL, st->n_pend * sizeof(bool));

	for (size_t i = 0; i < st->n_pend; i++) {
		struct op *p = &st->pend[i];

		gone[i] = false;
		if (p->obj != obj || (p->kind != PC_WRITE && p->kind != PC_TRUNC))
			continue;
		if (p->kind == PC_WRITE)
			obj_write(&st->objs[obj], p->off, p->data, p->len);
		else
			obj_truncate(&st->objs[obj], p->off);
		gone[i] = true;
	}
	pend_compact(st, gone);
	free(gone);
}

static void
sync_dir(struct pc_state *st, int dir)
{
	bool *gone = xrealloc(NULL, st->n_pend * sizeof(bool));

	for (size_t i = 0; i < st->n_pend; i++) {
		struct op *p = &st->pend[i];

		gone[i] = is_name_op(p->kind) &&
			  (p->dir == dir || p->dir2 == dir);
		if (gone[i])
			name_apply(&st->names, &st->n_names, p);
	}
	pend_compact(st, gone);
	free(gone);
}

static int
obj_of(struct pc_state *st, uint64_t ino)
{
	int obj = ino_get(st, ino);

	if (obj < 0) {
		problem(st, "%s", "a write to a file the log never opened");
		obj = obj_new(st, false);
		ino_set(st, ino, obj);
	}
	return obj;
}

/*
 * The entry @p path names, as the processes see it: its directory in *dir,
 * its last component in *base.  @return false (and a problem) when its
 * directory is not one the model knows.
 */
static bool
live_entry(struct pc_state *st, const char *path, int *dir, const char **base)
{
	*dir = resolve(st, st->live, st->n_live, path, base);
	if (*dir < 0)
		problem(st, "%s: in a directory the model does not know", path);
	return *dir >= 0;
}

/* Log a namespace operation: pending on disk, done in the page cache. */
static struct op *
name_op(struct pc_state *st, uint32_t kind, int dir, const char *base)
{
	struct op *op = pend_add(st, kind);

	op->dir = dir;
	op->name = xstrdup(base);
	return op;
}

static void
live_apply(struct pc_state *st)
{
	name_apply(&st->live, &st->n_live, &st->pend[st->n_pend - 1]);
}

/* Apply one record (not a sync point's callback). */
static void
apply(struct pc_state *st, const struct pc_rec *r, const char *path,
      const uint8_t *data)
{
	const char *base, *base2;
	struct op *op;
	ssize_t i;
	int obj, dir, dir2;

	switch (r->kind) {
	case PC_OPEN:
		if (r->flags & PC_F_DIR) {
			/* A directory the log has not named by inode yet
			 * (its mkdir's stat failed): know it by path. */
			obj = ino_get(st, r->ino);
			if (obj >= 0 && st->objs[obj].dir)
				break;
			obj = resolve(st, st->live, st->n_live, path, NULL);
			if (obj < 0)
				problem(st, "opened directory %s, not in the "
					    "base nor made in the log",
					path);
			else
				ino_set(st, r->ino, obj);
			break;
		}
		if (r->flags & PC_F_CREATED) {
			if (!live_entry(st, path, &dir, &base))
				break;
			obj = obj_new(st, false);
			ino_set(st, r->ino, obj);
			op = name_op(st, PC_OPEN, dir, base);
			op->obj = obj;
			live_apply(st);
		} else if (ino_get(st, r->ino) < 0) {
			/* Made by some process the log does not cover. */
			if (!excluded(path))
				problem(st, "opened %s, not in the base nor "
					    "created in the log",
					path);
			ino_set(st, r->ino, obj_new(st, false));
		}
		break;
	case PC_WRITE:
		obj = obj_of(st, r->ino);
		refresh_overlaps(st, obj, r->off, data, r->data_len);
		if (r->flags & PC_F_DSYNC) {
			obj_write(&st->objs[obj], r->off, data, r->data_len);
			break;
		}
		op = pend_add(st, PC_WRITE);
		op->obj = obj;
		op->off = r->off;
		op->len = r->data_len;
		op->data = xrealloc(NULL, r->data_len);
		memcpy(op->data, data, r->data_len);
		break;
	case PC_TRUNC:
		op = pend_add(st, PC_TRUNC);
		op->obj = obj_of(st, r->ino);
		op->off = r->off;
		break;
	case PC_SYNC:
		if (!(r->flags & PC_F_DIR)) {
			sync_file(st, obj_of(st, r->ino));
			break;
		}
		/* By inode: the path is the one it was opened by, and it
		 * may have been renamed since. */
		obj = ino_get(st, r->ino);
		if (obj < 0 || !st->objs[obj].dir)
			obj = resolve(st, st->live, st->n_live, path, NULL);
		if (obj < 0)
			problem(st, "synced directory %s, which the model "
				    "does not know",
				path);
		else
			sync_dir(st, obj);
		break;
	case PC_MKDIR:
		if (!live_entry(st, path, &dir, &base))
			break;
		obj = obj_new(st, true);
		if (r->ino)
			ino_set(st, r->ino, obj);
		op = name_op(st, PC_MKDIR, dir, base);
		op->obj = obj;
		live_apply(st);
		break;
	case PC_UNLINK:
	case PC_RMDIR:
		if (!live_entry(st, path, &dir, &base))
			break;
		name_op(st, r->kind, dir, base);
		live_apply(st);
		break;
	case PC_RENAME:
		if (!live_entry(st, path, &dir, &base) ||
		    !live_entry(st, path + strlen(path) + 1, &dir2, &base2))
			break;
		i = name_find(st->live, st->n_live, dir, base, strlen(base));
		if (i < 0) {
			problem(st, "renamed %s, which the model does not have",
				path);
			break;
		}
		/* The file system says what moved: the model must agree. */
		obj = ino_get(st, r->ino);
		if (r->ino && obj < 0)
			ino_set(st, r->ino, st->live[i].obj);
		else if (r->ino && obj != st->live[i].obj)
			problem(st, "renamed %s: the model's namespace and the "
				    "file system's disagree",
				path);
		op = name_op(st, PC_RENAME, dir, base);
		op->dir2 = dir2;
		op->name2 = xstrdup(base2);
		live_apply(st);
		break;
	case PC_UNSUPPORTED:
		problem(st, "the shim saw what it cannot model: %s", path);
		break;
	}
}

int
pc_replay(struct pc_state *st, const char *log, pc_cut_fn fn, void *arg)
{
	struct pc_cut cut = { 0 };
	FILE *fp = fopen(log, "rb");
	char *path = NULL;
	uint8_t *data = NULL;
	struct pc_rec r;
	int rc = 0;

	if (!fp)
		return -1;
	while (fread(&r, sizeof(r), 1, fp) == 1) {
		if (r.magic != PC_MAGIC) {
			errno = EBADMSG;
			rc = -1;
			break;
		}
		path = xrealloc(path, r.path_len + 2);
		data = xrealloc(data, r.data_len);
		if ((r.path_len && fread(path, r.path_len, 1, fp) != 1) ||
		    (r.data_len && fread(data, r.data_len, 1, fp) != 1)) {
			errno = EBADMSG;
			rc = -1;
			break;
		}
		path[r.path_len] = '\0';
		path[r.path_len + 1] = '\0';
		if (r.kind == PC_PROC) {
			cut.proc++;
			cut.proc_cut = 0;
		}
		if (r.kind == PC_SYNC ||
		    (r.kind == PC_WRITE && (r.flags & PC_F_DSYNC))) {
			cut.cut++;
			cut.proc_cut++;
			cut.n_pending = st->n_pend;
			rc = fn(arg, st, &cut);
			if (rc)
				break;
		}
		apply(st, &r, path, data);
	}
	if (rc == 0 && ferror(fp)) {
		errno = EIO;
		rc = -1;
	}
	if (rc == 0) {
		cut.cut++;
		cut.proc_cut++;
		cut.end = true;
		cut.n_pending = st->n_pend;
		rc = fn(arg, st, &cut);
	}
	free(path);
	free(data);
	fclose(fp);
	return rc;
}

/* ---- images ------------------------------------------------------------------ */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* An image's file or directory, by path; obj's object. */
struct entry {
	char *path;
	int obj;
};

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
		      ((const struct entry *)b)->path);
}

/*
 * The paths reachable from directory @p dir (at @p prefix) through
 * @p names, appended to *out.  What hangs under a directory no surviving
 * entry names is not reached; @p seen keeps a directory that two entries
 * name (an unlikely mix of landed renames) from being walked twice.
 */
static void
walk(const struct name *names, size_t n, const struct obj *objs, bool *seen,
     int dir, const char *prefix, struct entry **out, size_t *n_out)
{
	if (seen[dir])
		return;
	seen[dir] = true;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (names[i].dir != dir)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix,
			 *prefix ? "/" : "", names[i].name);
		*out = xrealloc(*out, (*n_out + 1) * sizeof(**out));
		(*out)[(*n_out)++] = (struct entry){ .path = xstrdup(path),
						     .obj = names[i].obj };
		if (objs[names[i].obj].dir)
			walk(names, n, objs, seen, names[i].obj, path, out,
			     n_out);
	}
}

/* Land the part of write @p p that @p mask (bit k: its k-th sector) says. */
static void
write_sectors(struct obj *o, const struct op *p, uint64_t mask)
{
	uint64_t first = p->off / SECTOR;
	uint64_t end = p->off + p->len;

	for (uint64_t s = first; s * SECTOR < end; s++) {
		uint64_t lo = s * SECTOR > p->off ? s * SECTOR : p->off;
		uint64_t hi = (s + 1) * SECTOR < end ? (s + 1) * SECTOR : end;

		if (s - first < 64 && !(mask & (1ull << (s - first))))
			continue;
		obj_write(o, lo, p->data + (lo - p->off), hi - lo);
	}
}

static int
write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return close(fd);
}

int
pc_image_write(const struct pc_state *st, enum pc_subset subset,
	       uint64_t seed, const char *dir, uint64_t *hash, char *what,
	       size_t what_len)
{
	bool *land = xrealloc(NULL, st->n_pend * sizeof(bool));
	struct obj *objs = xrealloc(NULL, st->n_objs * sizeof(*objs));
	bool *seen = calloc(st->n_objs, sizeof(bool));
	struct name *names = NULL;
	struct entry *paths = NULL;
	size_t n_names = 0, n_paths = 0, n_land = 0;
	ssize_t torn = -1;
	uint64_t torn_mask = ~0ull, rng = seed, h = 1469598103934665603ull;
	int rc = 0;

	if (!seen) {
		fprintf(stderr, "image: out of memory\n");
		abort();
	}
	/* Which pending operations reach the disk. */
	for (size_t i = 0; i < st->n_pend; i++)
		land[i] = subset == PC_SUBSET_ALL || subset == PC_SUBSET_TORN ||
			  (subset == PC_SUBSET_RANDOM && (splitmix(&rng) & 1));
	if (subset == PC_SUBSET_TORN) {
		size_t n_writes = 0, pick;

		for (size_t i = 0; i < st->n_pend; i++)
			n_writes += st->pend[i].kind == PC_WRITE;
		pick = n_writes ? splitmix(&rng) % n_writes : 0;
		for (size_t i = 0; i < st->n_pend && n_writes; i++)
			if (st->pend[i].kind == PC_WRITE && pick-- == 0) {
				torn = (ssize_t)i;
				break;
			}
	}
	if (torn >= 0) {
		const struct op *p = &st->pend[torn];
		uint64_t sectors = (p->off + p->len - 1) / SECTOR -
				   p->off / SECTOR + 1;
		uint64_t all = sectors >= 64 ? ~0ull : (1ull << sectors) - 1;

		/* Some of its sectors land, never all; a one-sector write
		 * does not land at all (sectors are atomic). */
		torn_mask = 0;
		for (int tries = 0; tries < 16 && sectors > 1; tries++) {
			torn_mask = splitmix(&rng) & all;
			if (torn_mask != 0 && torn_mask != all)
				break;
		}
		if (torn_mask == all)
			torn_mask &= ~1ull;
	}
	for (size_t i = 0; i < st->n_pend; i++)
		n_land += land[i];
	if (what && torn >= 0)
		snprintf(what, what_len,
			 "%s: %zu of %zu pending ops land, write #%zd "
			 "(%zu bytes at %llu) torn, sector mask %#llx",
			 pc_subset_name(subset), n_land, st->n_pend, torn,
			 st->pend[torn].len,
			 (unsigned long long)st->pend[torn].off,
			 (unsigned long long)torn_mask);
	else if (what)
		snprintf(what, what_len, "%s: %zu of %zu pending ops land",
			 pc_subset_name(subset), n_land, st->n_pend);

	/* Names: the durable ones, then the landed operations in order. */
	for (size_t i = 0; i < st->n_names; i++)
		name_set(&names, &n_names, st->names[i].dir, st->names[i].name,
			 st->names[i].obj);
	for (size_t i = 0; i < st->n_pend; i++)
		if (land[i] && is_name_op(st->pend[i].kind))
			name_apply(&names, &n_names, &st->pend[i]);
	walk(names, n_names, st->objs, seen, ROOT, "", &paths, &n_paths);

	/* Contents: durable, then the landed writes in order. */
	for (size_t i = 0; i < st->n_objs; i++) {
		objs[i].size = st->objs[i].size;
		objs[i].data = xrealloc(NULL, objs[i].size);
		if (objs[i].size)
			memcpy(objs[i].data, st->objs[i].data, objs[i].size);
	}
	for (size_t i = 0; i < st->n_pend; i++) {
		const struct op *p = &st->pend[i];

		if (!land[i] || p->obj < 0)
			continue;
		if (p->kind == PC_WRITE)
			write_sectors(&objs[p->obj], p,
				      (ssize_t)i == torn ? torn_mask : ~0ull);
		else if (p->kind == PC_TRUNC)
			obj_truncate(&objs[p->obj], p->off);
	}

	/* Out, in path order: parents before children, and a stable hash. */
	qsort(paths, n_paths, sizeof(*paths), cmp_entry);
	for (size_t i = 0; i < n_paths && rc == 0; i++) {
		const char *p = paths[i].path;
		bool is_dir = st->objs[paths[i].obj].dir;
		char full[PATH_MAX];

		if (excluded(p))
			continue;
		h = fnv(h, p, strlen(p) + 1);
		if (!is_dir) {
			const struct obj *o = &objs[paths[i].obj];
			uint64_t size = o->size;

			h = fnv(h, &size, sizeof(size));
			h = fnv(h, o->data, o->size);
		}
		if (!dir)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, p);
		if (is_dir)
			rc = mkdir(full, 0700) == 0 || errno == EEXIST ? 0 : -1;
		else
			rc = write_file(full, objs[paths[i].obj].data,
					objs[paths[i].obj].size);
	}
	if (hash)
		*hash = h;
	for (size_t i = 0; i < n_names; i++)
		free(names[i].name);
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i].path);
	for (size_t i = 0; i < st->n_objs; i++)
		free(objs[i].data);
	free(names);
	free(paths);
	free(seen);
	free(objs);
	free(land);
	return rc;
}
