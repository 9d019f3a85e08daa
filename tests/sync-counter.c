/*
 * tests/sync-counter.c - interposes fdatasync, fsync, pwrite and write in
 * the test executable, so that the calls liblmdb (a shared library) makes
 * are counted before they go to libc.  Built without large-file renaming:
 * liblmdb calls the plain `pwrite` symbol.
 */
#undef _FILE_OFFSET_BITS
#include "sync-counter.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char watched[512];
static atomic_ulong n_fsyncs, n_sync_writes;

void
sync_counter_watch(const char *dir)
{
	snprintf(watched, sizeof(watched), "%s", dir ? dir : "");
	atomic_store(&n_fsyncs, 0);
	atomic_store(&n_sync_writes, 0);
}

void
sync_counter_get(struct sync_counts *out)
{
	out->fsyncs = atomic_load(&n_fsyncs);
	out->sync_writes = atomic_load(&n_sync_writes);
}

static int
watched_fd(int fd)
{
	char link[64], path[600];
	ssize_t n;

	if (!watched[0])
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, watched, strlen(watched)) == 0;
}

static void
count_write(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & (O_DSYNC | O_SYNC)) && watched_fd(fd))
		atomic_fetch_add(&n_sync_writes, 1);
}

int
fdatasync(int fd)
{
	int (*real)(int);

	/* POSIX's way round ISO C's ban on object-to-function casts */
	*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	if (watched_fd(fd))
		atomic_fetch_add(&n_fsyncs, 1);
	return real(fd);
}

int
fsync(int fd)
{
	int (*real)(int);

	*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	if (watched_fd(fd))
		atomic_fetch_add(&n_fsyncs, 1);
	return real(fd);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t (*real)(int, const void *, size_t, off_t);

	*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	count_write(fd);
	return real(fd, buf, n, off);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	ssize_t (*real)(int, const void *, size_t);

	*(void **)&real = dlsym(RTLD_NEXT, "write");
	count_write(fd);
	return real(fd, buf, n);
}
