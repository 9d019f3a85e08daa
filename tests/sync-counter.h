/*
 * tests/sync-counter.h - counts the sync points the process really makes
 * on files under one directory: fdatasync/fsync calls, and writes through
 * descriptors opened with O_DSYNC or O_SYNC (how LMDB syncs a meta page).
 * The library's own counters say what it asked for; these say what
 * happened.
 */
#ifndef MMIG_TEST_SYNC_COUNTER_H
#define MMIG_TEST_SYNC_COUNTER_H

struct sync_counts {
	unsigned long fsyncs;       /* fdatasync + fsync */
	unsigned long sync_writes;  /* pwrite/write on an O_DSYNC/O_SYNC fd */
};

/* Count only files whose path starts with @p dir (NULL: stop counting). */
void sync_counter_watch(const char *dir);
void sync_counter_get(struct sync_counts *out);

#endif
