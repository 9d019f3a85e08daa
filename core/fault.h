/*
 * core/fault.h - fault-injection points and unsafe designs, compiled only
 * into test builds: the meson option `fault_injection` (default false)
 * defines MMIG_FAULT_INJECTION.  Without it -- the library and tools users
 * build and install -- MMIG_FAULT() and MMIG_UNSAFE() are constant false,
 * fault.c is not compiled, and nothing reads MMIG_FAULT or
 * MMIG_TEST_UNSAFE from the environment (as SQLite keeps its test hooks
 * behind SQLITE_TEST).  The test suites, scripts/test.sh and the crash
 * checks turn the option on.
 *
 * One table lists every point.  A point reads
 *
 *     if (MMIG_FAULT(JOURNAL_COMMIT)) { ...fail as with EIO... }
 *
 * and costs one predictable branch while nothing is armed.  Armed (by the
 * MMIG_FAULT environment variable or mmig__fault_arm()), the Nth hit of a
 * point either kills the process with SIGKILL -- a real crash, no atexit,
 * no flush -- or makes MMIG_FAULT() true so the caller fails with EIO (or
 * ENOSPC), or stops the process with SIGSTOP and, once continued, goes on.
 *
 *   MMIG_FAULT=POINT:N[:kill|:eio|:enospc|:stop]
 *                                    e.g. MMIG_FAULT=DB_COMMITTED:3:kill
 *   MMIG_FAULT=count:FILE            append "POINT HITS" lines to FILE at
 *                                    exit (how many hits each point had)
 *
 * The mutable state here is test-only and the one exception to "no
 * mutable globals".
 */
#ifndef MMIG_FAULT_H
#define MMIG_FAULT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef MMIG_FAULT_INJECTION

/* name, where it is */
#define MMIG_FAULT_MAP(XX)                                                     \
	XX(JOURNAL_COMMIT, "before a journal commit")                          \
	XX(JOURNAL_COMMITTED, "after a journal commit")                        \
	XX(OP_EXECUTE, "before an operation's execute")                        \
	XX(OP_ROLLBACK, "before an operation's rollback")                      \
	XX(DB_COMMIT, "before a database transaction's COMMIT")                \
	XX(DB_COMMITTED, "after a database transaction's COMMIT")              \
	XX(MODEL_DELETE, "before the model database is deleted")               \
	XX(MODEL_UNLINKED, "after the model database is deleted, before "     \
			   "the deletion is recorded")                        \
	XX(MODEL_CREATED, "after the model database file is created, "        \
			  "before its first transaction")                     \
	XX(RECOVER_SYNCED, "after recovery's first sync, before it reads")    \
	XX(RECOVER_DECIDED, "after recovery decided, before it claims")      \
	XX(RECOVER_CLAIMED, "after recovery claimed a migration")              \
	XX(RECOVER_FENCED, "after recovery fenced the databases, before it "  \
			   "acts")                                            \
	XX(SIDE_WRITTEN, "after a description's side file is written, "      \
			 "before its fdatasync")                              \
	XX(SIDE_SYNCED, "after the side file and its directory are "          \
			"synced, before the header commit")                   \
	XX(PRUNE_COMMITTED, "after prune's commit, before it unlinks the "    \
			    "pruned migrations' side files")

enum mmig_fault_point {
#define MMIG_XX_FAULT(name, where) MMIG_FAULT_##name,
	MMIG_FAULT_MAP(MMIG_XX_FAULT)
#undef MMIG_XX_FAULT
	MMIG_FAULT_COUNT
};

enum mmig_fault_action {
	MMIG_FAULT_KILL = 1, /* raise(SIGKILL) at the Nth hit */
	MMIG_FAULT_EIO = 2,  /* MMIG_FAULT() is true at the Nth hit */
	MMIG_FAULT_ENOSPC = 3, /* the same, and mmig__fault_errno() is
	                          ENOSPC: a full disk rather than a bad one */
	MMIG_FAULT_STOP = 4, /* raise(SIGSTOP) at the Nth hit, then go on
	                        as if nothing happened once continued: an
	                        owner frozen mid-step (a stale owner) */
};

extern bool mmig__fault_on;

#define MMIG_FAULT(name)                                                       \
	(__builtin_expect(mmig__fault_on, 0) &&                                \
	 mmig__fault_hit(MMIG_FAULT_##name))

bool mmig__fault_hit(enum mmig_fault_point p);

/* Arm @p p to act at its @p nth hit (counting from 1, from now). */
void mmig__fault_arm(enum mmig_fault_point p, uint64_t nth,
		     enum mmig_fault_action a);
/* The errno a point that fired should fail with: EIO, or ENOSPC when
 * armed with MMIG_FAULT_ENOSPC. */
int mmig__fault_errno(void);
/* Count hits without acting (for finding how many points a run has). */
void mmig__fault_count_only(void);
void mmig__fault_disarm(void);
uint64_t mmig__fault_hits(enum mmig_fault_point p);
const char *mmig__fault_name(enum mmig_fault_point p);
/* @return the point called @p name, or MMIG_FAULT_COUNT. */
enum mmig_fault_point mmig__fault_lookup(const char *name);

/*
 * Unsafe designs, for the crash and power-cut suites to prove that they
 * notice one: each switch removes one rule the design needs.  Off unless
 * named in MMIG_TEST_UNSAFE (read once, at load); nothing else sets them.
 *   undo-late            UNDO_DONE i held back until the rollback of the
 *                        next op has run (breaks invariant C)
 *   no-one-ahead         recovery trusts the last recorded BEGIN (drops
 *                        rule 1)
 *   terminal-not-forced  COMMITTED / ROLLED_BACK synced like any commit,
 *                        their meta page left unsynced (drops rule 3)
 */
#define MMIG_UNSAFE_MAP(XX)                                                    \
	XX(UNDO_LATE, "undo-late")                                             \
	XX(NO_ONE_AHEAD, "no-one-ahead")                                       \
	XX(TERMINAL_NOT_FORCED, "terminal-not-forced")

enum mmig_unsafe {
#define MMIG_XX_UNSAFE(name, text) MMIG_UNSAFE_##name,
	MMIG_UNSAFE_MAP(MMIG_XX_UNSAFE)
#undef MMIG_XX_UNSAFE
	MMIG_UNSAFE_COUNT
};

extern bool mmig__unsafe_on[MMIG_UNSAFE_COUNT];
#define MMIG_UNSAFE(name) __builtin_expect(mmig__unsafe_on[MMIG_UNSAFE_##name], 0)

#else /* !MMIG_FAULT_INJECTION: no point fires, no design is unsafe */

/* Not even the point's name is kept: the release binaries must hold no
 * trace of the test switches (tests/check-test-switches.sh). */
#define MMIG_FAULT(name) false
#define MMIG_UNSAFE(name) false

/* Only reached under a point that never fires; keeps those branches
 * compiling unchanged. */
static inline int
mmig__fault_errno(void)
{
	return EIO;
}

#endif /* MMIG_FAULT_INJECTION */

#endif
