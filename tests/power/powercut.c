/*
 * tests/power/powercut.c - an LD_PRELOAD shim that records every change a
 * process makes to the files under one directory, so that the disk image a
 * power cut could leave behind can be rebuilt afterwards (tests only).
 *
 * Design.  The shim changes nothing the process sees: every call goes to
 * the real file system.  What it adds is a log (powercut.h) of each call
 * that changes a watched file or directory -- open (with whether it created
 * the file), write, pwrite, writev, pwritev, ftruncate, fsync, fdatasync,
 * rename, unlink, mkdir, rmdir -- with the bytes written, in the order the
 * calls took effect.  From a snapshot of the directory taken before the
 * process started (the durable base) and that log, image.c rebuilds, for
 * any sync point N, what a disk could hold had the power failed just before
 * the N-th sync: every write synced before N, plus any subset of the writes
 * not yet synced (none, all, seeded random subsets, one torn 512-byte
 * sector), with directory entries (create, rename, unlink, mkdir) durable
 * only once their directory is synced.  Files and directories alike are
 * known by inode (mkdir and rename log the inode too), so that a renamed
 * directory takes its entries, and a file its data, along.  One logged run thus yields every
 * cut point of that run; nothing is simulated inside the process.
 *
 * Sync points are every fsync/fdatasync of a watched descriptor and every
 * write through a watched descriptor opened with O_DSYNC or O_SYNC (LMDB
 * writes its fully synced meta page that way: such a write is durable when
 * it returns).  They are numbered from 1 in each process.
 *
 * Environment:
 *   POWERCUT_DIR=DIR    the watched directory (required; nothing is logged
 *                       without it)
 *   POWERCUT_LOG=FILE   append the log here (several processes may append
 *                       one after the other: each starts with PC_PROC)
 *   POWERCUT_AT=N       cut the power at sync point N: log PC_CUT and
 *                       _exit(PC_CUT_STATUS) without making that sync, so
 *                       the files on disk are what the page cache held
 *   POWERCUT_COUNT=FILE write the number of sync points this process
 *                       reached to FILE when it exits (or is cut)
 *
 * Memory maps.  The journal is LMDB without MDB_WRITEMAP: it reads through
 * its map but writes with pwrite/writev, so msync never matters and is not
 * interposed.  The shim checks that claim: a shared writable map of a
 * watched file is logged as PC_UNSUPPORTED, which fails the test, except
 * for SQLite's -shm and LMDB's lock.mdb, whose contents neither library
 * trusts after a reboot (image.c leaves them out of every image).
 *
 * Not followed (nothing here uses them on watched files): dup'ed
 * descriptors, truncate() by path, fallocate, sync()/syncfs().
 *
 * Built without large-file renaming, so that both the plain and the 64
 * names can be defined: liblmdb calls open/pwrite/writev, SQLite calls
 * open64/pwrite64/ftruncate64.
 */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "powercut.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 4096

#define EXPORT __attribute__((visibility("default")))

struct tracked {
	char *rel;     /* path relative to the watched directory */
	uint64_t ino;
	bool dir;
	bool dsync;    /* opened O_DSYNC or O_SYNC */
	bool append;
};

/* Test-only process state: the shim has no handle to hang it on. */
static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	bool on;
	char root[PATH_MAX];
	size_t root_len;
	int log_fd;
	unsigned long long cut_at, syncs;
	char count_file[PATH_MAX];
	struct tracked *fds[MAX_FDS];

	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*close)(int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*pwrite64)(int, const void *, size_t, off64_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev64)(int, const struct iovec *, int, off64_t);
	int (*ftruncate)(int, off_t);
	int (*ftruncate64)(int, off64_t);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*rename)(const char *, const char *);
	int (*renameat)(int, const char *, int, const char *);
	int (*renameat2)(int, const char *, int, const char *, unsigned);
	int (*unlink)(const char *);
	int (*unlinkat)(int, const char *, int);
	int (*mkdir)(const char *, mode_t);
	int (*mkdirat)(int, const char *, mode_t);
	int (*rmdir)(const char *);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off64_t);
} S = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER,
	.log_fd = -1 };

static void *
real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		/* Without the real call nothing can go on.  Our own write()
		 * is not ready yet: straight to the kernel. */
		static const char msg[] = "powercut: missing libc symbol\n";

		if (syscall(SYS_write, 2, msg, sizeof(msg) - 1) < 0)
			_exit(98);
		_exit(98);
	}
	return p;
}

#define RESOLVE(name) (*(void **)&S.name = real(#name))

static void
die(const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "powercut: %s: %s\n", what,
			 strerror(errno));

	if (S.write(2, msg, (size_t)n) < 0)
		_exit(98);
	_exit(98);
}

static void
write_count(void)
{
	char buf[32];
	int fd, n;

	if (!S.count_file[0])
		return;
	fd = S.open(S.count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%llu\n", S.syncs);
	if (S.write(fd, buf, (size_t)n) != n)
		die("count file");
	S.close(fd);
}

/* Append one record; the caller holds the lock. */
static void
log_rec(uint32_t kind, uint32_t flags, const char *path, size_t path_len,
	uint64_t ino, uint64_t off, const void *data, size_t data_len)
{
	struct pc_rec r = {
		.magic = PC_MAGIC,
		.kind = kind,
		.flags = flags,
		.path_len = (uint32_t)path_len,
		.ino = ino,
		.off = off,
		.data_len = data_len,
	};
	struct iovec iov[3] = {
		{ .iov_base = &r, .iov_len = sizeof(r) },
		{ .iov_base = (void *)path, .iov_len = path_len },
		{ .iov_base = (void *)data, .iov_len = data_len },
	};
	size_t want = sizeof(r) + path_len + data_len;
	ssize_t n;

	if (S.log_fd < 0)
		return;
	n = S.writev(S.log_fd, iov, 3);
	if (n < 0 || (size_t)n != want)
		die("log write");
}

static void
init(void)
{
	const char *dir = getenv("POWERCUT_DIR");
	const char *log = getenv("POWERCUT_LOG");
	const char *at = getenv("POWERCUT_AT");
	const char *count = getenv("POWERCUT_COUNT");

	RESOLVE(open);
	RESOLVE(open64);
	RESOLVE(openat);
	RESOLVE(openat64);
	RESOLVE(close);
	RESOLVE(write);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(writev);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(ftruncate);
	RESOLVE(ftruncate64);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(rename);
	RESOLVE(renameat);
	RESOLVE(renameat2);
	RESOLVE(unlink);
	RESOLVE(unlinkat);
	RESOLVE(mkdir);
	RESOLVE(mkdirat);
	RESOLVE(rmdir);
	RESOLVE(mmap);
	RESOLVE(mmap64);
	if (count)
		snprintf(S.count_file, sizeof(S.count_file), "%s", count);
	if (at)
		S.cut_at = strtoull(at, NULL, 10);
	if (!dir || !realpath(dir, S.root))
		return;
	S.root_len = strlen(S.root);
	if (log) {
		S.log_fd = S.open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				  0644);
		if (S.log_fd < 0)
			die("open log");
	}
	S.on = true;
	pthread_mutex_lock(&S.lock);
	log_rec(PC_PROC, 0, NULL, 0, 0, (uint64_t)getpid(), NULL, 0);
	pthread_mutex_unlock(&S.lock);
}

static void
ensure_init(void)
{
	pthread_once(&S.once, init);
}

__attribute__((constructor)) static void
ctor(void)
{
	ensure_init();
}

__attribute__((destructor)) static void
dtor(void)
{
	write_count();
}

/* The part of @p abs under the watched directory, or NULL. */
static const char *
under_root(const char *abs)
{
	if (strncmp(abs, S.root, S.root_len) != 0)
		return NULL;
	if (abs[S.root_len] == '\0')
		return "";
	if (abs[S.root_len] != '/')
		return NULL;
	return abs + S.root_len + 1;
}

/*
 * Resolve @p path (relative to @p dirfd) to a path under the watched
 * directory, in @p out.  The last component need not exist (a rename's
 * target), so only its parent is canonicalized.  @return false when the
 * path is not watched.
 */
static bool
watched_path(int dirfd, const char *path, char out[PATH_MAX])
{
	char abs[PATH_MAX * 2], parent[PATH_MAX], canon[PATH_MAX];
	const char *slash, *base, *rel;

	if (!S.on || !path)
		return false;
	if (path[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char here[PATH_MAX];

		if (dirfd == AT_FDCWD) {
			if (!getcwd(here, sizeof(here)))
				return false;
		} else {
			char link[64];
			ssize_t n;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = readlink(link, here, sizeof(here) - 1);
			if (n < 0)
				return false;
			here[n] = '\0';
		}
		snprintf(abs, sizeof(abs), "%s/%s", here, path);
	}
	slash = strrchr(abs, '/');
	base = slash + 1;
	if (slash == abs)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - abs),
			 abs);
	if (!realpath(parent, canon))
		return false;
	snprintf(abs, sizeof(abs), "%s/%s", canon, base);
	rel = under_root(abs);
	if (!rel)
		return false;
	snprintf(out, PATH_MAX, "%s", rel);
	return true;
}

static bool
excluded(const char *rel)
{
	size_t n = strlen(rel);

	return (n >= 4 && strcmp(rel + n - 4, "-shm") == 0) ||
	       (n >= 8 && strcmp(rel + n - 8, "lock.mdb") == 0);
}

static struct tracked *
tracked(int fd)
{
	if (!S.on || fd < 0 || fd >= MAX_FDS)
		return NULL;
	return S.fds[fd];
}

/* After a successful open: track @p fd if its file is watched. */
static void
after_open(int fd, int flags, bool existed)
{
	char link[64], abs[PATH_MAX];
	struct tracked *t;
	struct stat st;
	const char *rel;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, abs, sizeof(abs) - 1);
	if (n < 0)
		return;
	abs[n] = '\0';
	rel = under_root(abs);
	if (!rel || fstat(fd, &st) != 0)
		return;
	if (fd >= MAX_FDS) {
		log_rec(PC_UNSUPPORTED, 0, "fd >= MAX_FDS", 13, 0, 0, NULL, 0);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->rel = strdup(rel)))
		die("out of memory");
	t->ino = (uint64_t)st.st_ino;
	t->dir = S_ISDIR(st.st_mode);
	t->dsync = (flags & (O_DSYNC | O_SYNC)) != 0;
	t->append = (flags & O_APPEND) != 0;
	free(S.fds[fd] ? S.fds[fd]->rel : NULL);
	free(S.fds[fd]);
	S.fds[fd] = t;
	log_rec(PC_OPEN, (existed ? 0 : PC_F_CREATED) | (t->dir ? PC_F_DIR : 0),
		rel, strlen(rel), t->ino, 0, NULL, 0);
	if (existed && (flags & O_TRUNC) && !t->dir)
		log_rec(PC_TRUNC, 0, NULL, 0, t->ino, 0, NULL, 0);
}

static int
do_open(int dirfd, const char *path, int flags, mode_t mode, bool is64)
{
	struct stat st;
	bool existed;
	int fd, saved;

	ensure_init();
	if (!S.on)
		return dirfd == AT_FDCWD
			       ? (is64 ? S.open64 : S.open)(path, flags, mode)
			       : (is64 ? S.openat64 : S.openat)(dirfd, path,
								flags, mode);
	pthread_mutex_lock(&S.lock);
	existed = fstatat(dirfd, path, &st, 0) == 0;
	fd = dirfd == AT_FDCWD ? (is64 ? S.open64 : S.open)(path, flags, mode)
			       : (is64 ? S.openat64 : S.openat)(dirfd, path,
								flags, mode);
	saved = errno;
	if (fd >= 0)
		after_open(fd, flags, existed);
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return fd;
}

static mode_t
mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, false);
}

EXPORT int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, true);
}

EXPORT int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, false);
}

EXPORT int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true);
}

EXPORT int
close(int fd)
{
	int rc, saved;

	ensure_init();
	if (!tracked(fd))
		return S.close(fd);
	pthread_mutex_lock(&S.lock);
	rc = S.close(fd);
	saved = errno;
	free(S.fds[fd]->rel);
	free(S.fds[fd]);
	S.fds[fd] = NULL;
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return rc;
}

/*
 * A sync point is about to happen; the caller holds the lock.  At the
 * chosen one the power goes: the sync is never made.
 */
static void
sync_point(void)
{
	S.syncs++;
	if (S.cut_at && S.syncs == S.cut_at) {
		log_rec(PC_CUT, 0, NULL, 0, 0, S.syncs, NULL, 0);
		write_count();
		_exit(PC_CUT_STATUS);
	}
}

/* Log a write of @p n bytes of @p iov at @p off; the caller holds the
 * lock and made the write. */
static void
log_write(struct tracked *t, uint64_t off, const struct iovec *iov, int cnt,
	  size_t n)
{
	char *buf;
	size_t got = 0;

	if (n == 0)
		return;
	if (cnt == 1) {
		log_rec(PC_WRITE, t->dsync ? PC_F_DSYNC : 0, NULL, 0, t->ino,
			off, iov[0].iov_base, n);
		return;
	}
	buf = malloc(n);
	if (!buf)
		die("out of memory");
	for (int i = 0; i < cnt && got < n; i++) {
		size_t k = iov[i].iov_len < n - got ? iov[i].iov_len : n - got;

		memcpy(buf + got, iov[i].iov_base, k);
		got += k;
	}
	log_rec(PC_WRITE, t->dsync ? PC_F_DSYNC : 0, NULL, 0, t->ino, off, buf,
		n);
	free(buf);
}

/*
 * Every write goes through here.  @p off < 0: at the file position (or at
 * the end with O_APPEND).  @p kind picks the real call.
 */
enum wkind { W_WRITE, W_PWRITE, W_PWRITE64, W_WRITEV, W_PWRITEV, W_PWRITEV64 };

static ssize_t
real_write(enum wkind kind, int fd, const struct iovec *iov, int cnt,
	   off_t off)
{
	switch (kind) {
	case W_WRITE:
		return S.write(fd, iov[0].iov_base, iov[0].iov_len);
	case W_PWRITE:
		return S.pwrite(fd, iov[0].iov_base, iov[0].iov_len, off);
	case W_PWRITE64:
		return S.pwrite64(fd, iov[0].iov_base, iov[0].iov_len, off);
	case W_WRITEV:
		return S.writev(fd, iov, cnt);
	case W_PWRITEV:
		return S.pwritev(fd, iov, cnt, off);
	case W_PWRITEV64:
		return S.pwritev64(fd, iov, cnt, off);
	}
	errno = EINVAL;
	return -1;
}

static ssize_t
do_write(enum wkind kind, int fd, const struct iovec *iov, int cnt,
	 off_t off)
{
	bool positional = kind != W_WRITE && kind != W_WRITEV;
	struct tracked *t;
	ssize_t n;
	off_t at = off;
	int saved;

	ensure_init();
	t = tracked(fd);
	if (!t)
		return real_write(kind, fd, iov, cnt, off);
	pthread_mutex_lock(&S.lock);
	if (t->dsync)
		sync_point();
	if (!positional && !t->append)
		at = lseek(fd, 0, SEEK_CUR);
	n = real_write(kind, fd, iov, cnt, off);
	saved = errno;
	if (n > 0 && !positional && t->append) {
		struct stat st;

		at = fstat(fd, &st) == 0 ? st.st_size - n : -1;
	}
	if (n > 0 && at < 0)
		log_rec(PC_UNSUPPORTED, 0, "write offset", 12, t->ino, 0, NULL,
			0);
	else if (n > 0)
		log_write(t, (uint64_t)at, iov, cnt, (size_t)n);
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return n;
}

EXPORT ssize_t
write(int fd, const void *buf, size_t n)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };

	return do_write(W_WRITE, fd, &iov, 1, -1);
}

EXPORT ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };

	return do_write(W_PWRITE, fd, &iov, 1, off);
}

EXPORT ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };

	return do_write(W_PWRITE64, fd, &iov, 1, off);
}

EXPORT ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	return do_write(W_WRITEV, fd, iov, cnt, -1);
}

EXPORT ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_write(W_PWRITEV, fd, iov, cnt, off);
}

EXPORT ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return do_write(W_PWRITEV64, fd, iov, cnt, off);
}

static int
do_truncate(int fd, off_t len, bool is64)
{
	struct tracked *t;
	int rc, saved;

	ensure_init();
	t = tracked(fd);
	if (!t)
		return is64 ? S.ftruncate64(fd, len) : S.ftruncate(fd, len);
	pthread_mutex_lock(&S.lock);
	rc = is64 ? S.ftruncate64(fd, len) : S.ftruncate(fd, len);
	saved = errno;
	if (rc == 0)
		log_rec(PC_TRUNC, 0, NULL, 0, t->ino, (uint64_t)len, NULL, 0);
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return rc;
}

EXPORT int
ftruncate(int fd, off_t len)
{
	return do_truncate(fd, len, false);
}

EXPORT int
ftruncate64(int fd, off64_t len)
{
	return do_truncate(fd, len, true);
}

static int
do_sync(int fd, bool data_only)
{
	struct tracked *t;
	int rc, saved;

	ensure_init();
	t = tracked(fd);
	if (!t)
		return data_only ? S.fdatasync(fd) : S.fsync(fd);
	pthread_mutex_lock(&S.lock);
	sync_point();
	rc = data_only ? S.fdatasync(fd) : S.fsync(fd);
	saved = errno;
	if (rc == 0)
		log_rec(PC_SYNC, t->dir ? PC_F_DIR : 0, t->rel, strlen(t->rel),
			t->ino, 0, NULL, 0);
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return rc;
}

EXPORT int
fsync(int fd)
{
	return do_sync(fd, false);
}

EXPORT int
fdatasync(int fd)
{
	return do_sync(fd, true);
}

/* A call on one path: unlink, mkdir, rmdir. */
enum pkind { P_UNLINK, P_UNLINKAT, P_MKDIR, P_MKDIRAT, P_RMDIR };

static int
do_path(enum pkind kind, int dirfd, const char *path, int flags, mode_t mode)
{
	char rel[PATH_MAX];
	bool watched;
	int rc, saved;
	uint32_t rec;

	ensure_init();
	pthread_mutex_lock(&S.lock);
	watched = watched_path(kind == P_UNLINKAT || kind == P_MKDIRAT
				       ? dirfd
				       : AT_FDCWD,
			       path, rel);
	switch (kind) {
	case P_UNLINK:
		rc = S.unlink(path);
		rec = PC_UNLINK;
		break;
	case P_UNLINKAT:
		rc = S.unlinkat(dirfd, path, flags);
		rec = flags & AT_REMOVEDIR ? PC_RMDIR : PC_UNLINK;
		break;
	case P_MKDIR:
		rc = S.mkdir(path, mode);
		rec = PC_MKDIR;
		break;
	case P_MKDIRAT:
		rc = S.mkdirat(dirfd, path, mode);
		rec = PC_MKDIR;
		break;
	default:
		rc = S.rmdir(path);
		rec = PC_RMDIR;
		break;
	}
	saved = errno;
	if (rc == 0 && watched) {
		struct stat st;
		uint64_t ino = 0;

		/* A directory is known by its inode, as a file is: a sync of
		 * it names the inode, and it keeps it across renames. */
		if (rec == PC_MKDIR &&
		    fstatat(kind == P_MKDIRAT ? dirfd : AT_FDCWD, path, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
			ino = (uint64_t)st.st_ino;
		log_rec(rec, 0, rel, strlen(rel), ino, 0, NULL, 0);
	}
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return rc;
}

EXPORT int
unlink(const char *path)
{
	return do_path(P_UNLINK, AT_FDCWD, path, 0, 0);
}

EXPORT int
unlinkat(int dirfd, const char *path, int flags)
{
	return do_path(P_UNLINKAT, dirfd, path, flags, 0);
}

EXPORT int
mkdir(const char *path, mode_t mode)
{
	return do_path(P_MKDIR, AT_FDCWD, path, 0, mode);
}

EXPORT int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	return do_path(P_MKDIRAT, dirfd, path, 0, mode);
}

EXPORT int
rmdir(const char *path)
{
	return do_path(P_RMDIR, AT_FDCWD, path, 0, 0);
}

static int
do_rename(int odir, const char *from, int ndir, const char *to,
	  unsigned flags, int which)
{
	char rf[PATH_MAX], rt[PATH_MAX], both[2 * PATH_MAX];
	bool wf, wt;
	int rc, saved;

	ensure_init();
	pthread_mutex_lock(&S.lock);
	wf = watched_path(odir, from, rf);
	wt = watched_path(ndir, to, rt);
	rc = which == 0	  ? S.rename(from, to)
	     : which == 1 ? S.renameat(odir, from, ndir, to)
			  : S.renameat2(odir, from, ndir, to, flags);
	saved = errno;
	if (rc == 0 && wf && wt) {
		size_t a = strlen(rf), b = strlen(rt);
		struct stat st = { 0 };
		uint64_t ino = 0;

		/* What moved, so that the image builder can check that its
		 * namespace (paths resolved through renamed directories)
		 * agrees with the file system's. */
		if (fstatat(ndir, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
			ino = (uint64_t)st.st_ino;
		memcpy(both, rf, a + 1);
		memcpy(both + a + 1, rt, b);
		log_rec(PC_RENAME, (ino && S_ISDIR(st.st_mode)) ? PC_F_DIR : 0,
			both, a + 1 + b, ino, 0, NULL, 0);
	} else if (rc == 0 && (wf || wt)) {
		log_rec(PC_UNSUPPORTED, 0, "rename across the watched root",
			30, 0, 0, NULL, 0);
	}
	pthread_mutex_unlock(&S.lock);
	errno = saved;
	return rc;
}

EXPORT int
rename(const char *from, const char *to)
{
	return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

EXPORT int
renameat(int odir, const char *from, int ndir, const char *to)
{
	return do_rename(odir, from, ndir, to, 0, 1);
}

EXPORT int
renameat2(int odir, const char *from, int ndir, const char *to,
	  unsigned flags)
{
	return do_rename(odir, from, ndir, to, flags, 2);
}

/* A shared writable map of a watched file would write behind our back. */
static void
check_map(int prot, int flags, int fd)
{
	struct tracked *t = tracked(fd);

	if (!t || !(prot & PROT_WRITE) || !(flags & MAP_SHARED) ||
	    excluded(t->rel))
		return;
	pthread_mutex_lock(&S.lock);
	log_rec(PC_UNSUPPORTED, 0, t->rel, strlen(t->rel), t->ino, 0, NULL, 0);
	pthread_mutex_unlock(&S.lock);
}

EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	ensure_init();
	check_map(prot, flags, fd);
	return S.mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	ensure_init();
	check_map(prot, flags, fd);
	return S.mmap64(addr, len, prot, flags, fd, off);
}
