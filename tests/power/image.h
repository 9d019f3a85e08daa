/*
 * tests/power/image.h - rebuilding the disk images a power cut could leave,
 * from a durable base directory and a power-cut log (powercut.h).
 */
#ifndef MMIG_TESTS_POWER_IMAGE_H
#define MMIG_TESTS_POWER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a disk holds: durable contents and names, plus what is pending. */
struct pc_state;

/* Which of the pending (unsynced) operations reach the disk. */
enum pc_subset {
	PC_SUBSET_NONE,   /* only what was synced */
	PC_SUBSET_ALL,    /* everything (what the page cache held) */
	PC_SUBSET_RANDOM, /* each pending operation with probability 1/2 */
	PC_SUBSET_TORN,   /* all, but one write torn at a 512-byte sector */
};

const char *pc_subset_name(enum pc_subset s);

/* Where a replay stands when it calls back. */
struct pc_cut {
	unsigned cut;      /* sync point number in the log, from 1 */
	unsigned proc;     /* the process (1 = the first in the log) */
	unsigned proc_cut; /* its sync point number within that process */
	bool end;          /* after the last record: not a sync point */
	size_t n_pending;  /* pending operations */
};

/*
 * Take @p root as it is now as the durable base.  @return 0, or -1 with
 * errno set.
 */
int pc_state_new(struct pc_state **out, const char *root);
void pc_state_free(struct pc_state *st);

/* Problems the log reported (PC_UNSUPPORTED, unknown files), or NULL. */
const char *pc_state_problem(const struct pc_state *st);

/*
 * Replay @p log onto @p st.  Before each sync point takes effect, and once
 * after the last record, @p fn is called with the state as the disk would
 * have it if the power went there; a nonzero return stops the replay and is
 * returned.  @return 0, fn's value, or -1 (an unreadable log: errno set).
 */
typedef int (*pc_cut_fn)(void *arg, const struct pc_state *st,
			 const struct pc_cut *cut);
int pc_replay(struct pc_state *st, const char *log, pc_cut_fn fn, void *arg);

/*
 * Write into the empty directory @p dir the image with the pending
 * operations @p subset picks (seeded by @p seed), and its hash in *hash
 * (equal images, equal hashes; @p dir NULL: hash only).  @p what gets a
 * description of the choice.  @return 0 or -1 with errno set.
 */
int pc_image_write(const struct pc_state *st, enum pc_subset subset,
		   uint64_t seed, const char *dir, uint64_t *hash, char *what,
		   size_t what_len);

#endif
