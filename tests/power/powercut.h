/*
 * tests/power/powercut.h - the log the power-cut shim (powercut.c) writes and
 * the image builder (image.c) reads.
 *
 * One record per file-system call that changes a watched file or directory,
 * in the order the calls took effect (the shim holds one lock across the
 * real call and its record).  A record is a struct pc_rec followed by
 * path_len bytes of path (relative to the watched directory; a rename's
 * is "from\0to") and data_len bytes of data (a write's bytes).  Native byte
 * order: the log never leaves the machine that wrote it.
 */
#ifndef MMIG_TESTS_POWERCUT_H
#define MMIG_TESTS_POWERCUT_H

#include <stdint.h>

#define PC_MAGIC 0x50435554u /* "PCUT" */

enum pc_kind {
	PC_OPEN = 1, /* path, ino; PC_F_CREATED when the call made the file */
	PC_WRITE,    /* ino, off, data; PC_F_DSYNC: durable at once (a sync
	                point: counted before the write) */
	PC_TRUNC,    /* ino, off = the new size */
	PC_SYNC,     /* ino (PC_F_DIR: path is the directory): a sync point */
	PC_UNLINK,   /* path */
	PC_RENAME,   /* path "from\0to", ino of what moved (0: unknown;
	                PC_F_DIR: a directory) */
	PC_MKDIR,    /* path, ino (0: unknown) */
	PC_RMDIR,    /* path */
	PC_PROC,     /* a process starts appending (off = pid) */
	PC_CUT,      /* the power was cut here (POWERCUT_AT): nothing follows
	                from this process */
	PC_UNSUPPORTED, /* a call the model cannot follow (path names it) */
};

enum pc_flag {
	PC_F_CREATED = 1u << 0,
	PC_F_DIR = 1u << 1,
	PC_F_DSYNC = 1u << 2,
};

struct pc_rec {
	uint32_t magic;
	uint32_t kind;
	uint32_t flags;
	uint32_t path_len;
	uint64_t ino;
	uint64_t off;
	uint64_t data_len;
};

/* Exit status of a process the shim cut (POWERCUT_AT). */
#define PC_CUT_STATUS 86

#endif
