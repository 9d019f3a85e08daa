/*
 * tests/power/test-powercut.c - power-loss simulation (issue 8): cut the
 * power at every sync point of a migration and of its recovery, and check
 * that recovery still tells the truth.
 *
 * How.  A migration runs in a child process under the power-cut shim
 * (powercut.c, by LD_PRELOAD, in the child only), which logs every change
 * to the files under the scenario's directory.  Replaying the log over the
 * directory's state before the run (image.c), the suite visits every sync
 * point -- every fsync/fdatasync/O_DSYNC write of the journal and of both
 * SQLite databases, plus the end of the run -- and at each writes the
 * images a power cut there could leave: only what was synced ("none"),
 * everything ("all"), seeded random subsets of the unsynced operations,
 * and one torn write.  Each distinct image goes into a scratch directory,
 * recovery runs on it in a child NOT under the shim, and the invariants
 * are checked in the journal and the databases themselves:
 *   - recovery settles (exit 0), the in-flight index is empty and the
 *     journal verifies clean;
 *   - COMMITTED: each op's work is there exactly once (steps: every row and
 *     a tally of 1; import: both databases equal a clean import's);
 *   - ROLLED_BACK: no row of the migration in either database and no model
 *     database file (so nothing that may have started was left un-rolled);
 *   - no migration in the journal: nothing in the databases (W);
 *   - no op's work or undo committed twice (the steps' tally, counted in
 *     the same transaction as the work);
 *   - an outcome a process reported (exit status of the run, or the lines
 *     of the recovery) is the outcome after the power cut (T).
 * Nested: for a sample of forward cut points, recovery itself runs under
 * the shim and is cut at every one of its sync points, (a) after a power
 * cut (its base is the image), and (b) after the forward process was
 * killed at that point (POWERCUT_AT; the page cache survives, so what the
 * dead process left unsynced is still pending when recovery's power goes:
 * rule 4, "recovery syncs first").
 * Design proofs: with MMIG_TEST_UNSAFE=no-one-ahead (engine/recover.c) or
 * terminal-not-forced (engine/coordinator.c) in the children, the same
 * sweep must find violations, and prints the case that caught one.
 *
 *   test-powercut SHIM HELPER MMIG MMIG-RECOVER
 *
 * POWERCUT_SWEEP=large: more random subsets, every forward cut point
 * nested, a larger model.  POWERCUT_SEED=N changes the seed (default 1);
 * a violation prints the seed, cut point and subset that reproduce it, and
 * POWERCUT_KEEP=DIR keeps the image of the first one (as the power cut
 * left it, before recovery).  POWERCUT_ONLY=WORD runs the tests whose name
 * has WORD.
 * Exit status: 0 all passed, 1 a test failed, 77 skipped (a sanitizer or
 * valgrind build: an LD_PRELOAD shim does not mix with their runtimes).
 */
#include "image.h"
#include "../steps.h"
#include "powercut.h"

#include <mmig/mmig.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OPS 5 /* power-helper's plan */
#define STEP_UUID "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

#ifndef POWER_SANITIZE
#define POWER_SANITIZE "none"
#endif

static const char *shim_path, *helper_path, *mmig_path, *recover_path;

enum workload { WL_STEPS, WL_STEPS_FAIL, WL_IMPORT };

enum report { REP_NONE, REP_COMMITTED, REP_ROLLED_BACK };

struct tally {
	unsigned cut_points, images, duplicates, violations;
	unsigned committed, rolled_back, empty;
	unsigned nested_runs, nested_cut_points, nested_images;
	char first[1024];
};

struct suite {
	char top[PATH_MAX];
	char work[PATH_MAX];  /* where the logged run happens */
	char img[PATH_MAX];   /* an image, recovered and checked */
	char nest[PATH_MAX];  /* (a): an image recovery runs on under the shim */
	char json[PATH_MAX];  /* the import's model description */
	char log[PATH_MAX];
	char nlog[PATH_MAX];
	char out[PATH_MAX];
	char err[PATH_MAX];
	char count[PATH_MAX];
	char model_uuid[40];
	uint64_t seed;
	unsigned n_random;    /* random subsets per cut point */
	unsigned nest_every;  /* nest every k-th forward cut point; 0: never */
	const char *unsafe;   /* MMIG_TEST_UNSAFE for every child */
	bool fresh_journal;   /* the run creates the journal */
	bool kept;            /* POWERCUT_KEEP has its image */
	enum workload w;
	uint64_t want_ctl, want_model; /* a clean import's fingerprints */
	struct tally t;
};

/* ---- small helpers ------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fresh_dir(const char *dir)
{
	rm_rf(dir);
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
		exit(1);
	}
}

static void
path_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);

	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "path too long: %s/%s\n", a, b);
		exit(1);
	}
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static void
violation(struct suite *s, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
violation(struct suite *s, const char *where, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->t.violations++;
	if (!s->t.first[0])
		snprintf(s->t.first, sizeof(s->t.first), "%s: %s", where, what);
	/* The unsafe designs are expected to fail: show the first only. */
	if (!s->unsafe || s->t.violations == 1)
		fprintf(stderr, "violation: %s: %s\n", where, what);
}

/* ---- children ------------------------------------------------------------ */

struct shim {
	const char *dir;      /* watched; NULL: no shim */
	const char *log;
	unsigned long long at; /* POWERCUT_AT; 0: none */
	const char *count;
};

/* Run @p argv; its stdout lands in @p out.  @return its exit status, or
 * 128 + signal. */
static int
run(struct suite *s, char *const argv[], const struct shim *sh, char *out,
    size_t out_len)
{
	int status, fd;
	ssize_t n;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		fd = open(s->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		fd = open(s->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(127);
		unsetenv("POWERCUT_AT");
		unsetenv("POWERCUT_COUNT");
		if (sh && sh->dir) {
			char at[32];

			setenv("LD_PRELOAD", shim_path, 1);
			setenv("POWERCUT_DIR", sh->dir, 1);
			setenv("POWERCUT_LOG", sh->log, 1);
			if (sh->at) {
				snprintf(at, sizeof(at), "%llu", sh->at);
				setenv("POWERCUT_AT", at, 1);
			}
			if (sh->count)
				setenv("POWERCUT_COUNT", sh->count, 1);
		} else {
			unsetenv("LD_PRELOAD");
			unsetenv("POWERCUT_DIR");
			unsetenv("POWERCUT_LOG");
		}
		if (s->unsafe)
			setenv("MMIG_TEST_UNSAFE", s->unsafe, 1);
		else
			unsetenv("MMIG_TEST_UNSAFE");
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}
	if (out) {
		out[0] = '\0';
		fd = open(s->out, O_RDONLY);
		n = fd >= 0 ? read(fd, out, out_len - 1) : -1;
		out[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static void
show_stderr(struct suite *s)
{
	char buf[2048];
	int fd = open(s->err, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "  its stderr: %s", buf);
	}
	if (fd >= 0)
		close(fd);
}

/* The forward run of the workload in @p dir. */
static int
run_forward(struct suite *s, const char *dir, const struct shim *sh)
{
	char journal[PATH_MAX], ctl[PATH_MAX], models[PATH_MAX];

	path_join(journal, dir, "journal");
	path_join(ctl, dir, "controller.db");
	path_join(models, dir, "models");
	if (s->w == WL_IMPORT) {
		char *argv[] = { (char *)mmig_path, "import", "--journal",
				 journal, "--controller-db", ctl, "--model-dir",
				 models, "--quiet", s->json, NULL };

		return run(s, argv, sh, NULL, 0);
	} else {
		char *argv[] = { (char *)helper_path, "run", (char *)dir,
				 s->w == WL_STEPS_FAIL ? "--fail-at" : NULL,
				 "3", NULL };

		return run(s, argv, sh, NULL, 0);
	}
}

static enum report
forward_report(int status)
{
	return status == 0 ? REP_COMMITTED
	       : status == 1 ? REP_ROLLED_BACK
			     : REP_NONE;
}

/* Recovery in @p dir; *rep gets the outcome it reported. */
static int
run_recover(struct suite *s, const char *dir, const struct shim *sh,
	    enum report *rep)
{
	char journal[PATH_MAX], ctl[PATH_MAX], models[PATH_MAX];
	char out[4096];
	int status;

	path_join(journal, dir, "journal");
	path_join(ctl, dir, "controller.db");
	path_join(models, dir, "models");
	if (s->w == WL_IMPORT) {
		char *argv[] = { (char *)recover_path, "--journal", journal,
				 "--controller-db", ctl, "--model-dir", models,
				 "recover", NULL };

		status = run(s, argv, sh, out, sizeof(out));
	} else {
		char *argv[] = { (char *)helper_path, "recover", (char *)dir,
				 NULL };

		status = run(s, argv, sh, out, sizeof(out));
	}
	if (rep)
		*rep = strstr(out, " committed") ? REP_COMMITTED
		       : strstr(out, " rolled-back") ? REP_ROLLED_BACK
						     : REP_NONE;
	return status;
}

/*
 * The base of a scenario, taken as durable: an empty models directory and
 * an empty journal made by an earlier process (as on any machine after its
 * first migration), or, with s->fresh_journal, no journal at all: the run
 * creates it, and its creation is cut too.
 */
static void
prepare_base(struct suite *s, const char *dir)
{
	char models[PATH_MAX], journal[PATH_MAX];
	struct mmig_journal *j;
	int rc;

	fresh_dir(dir);
	path_join(models, dir, "models");
	if (mkdir(models, 0700) != 0) {
		perror("mkdir models");
		exit(1);
	}
	if (s->fresh_journal)
		return;
	path_join(journal, dir, "journal");
	rc = mmig_journal_open(&j, journal, NULL, NULL);
	if (rc != MMIG_OK) {
		fprintf(stderr, "make journal: %s\n", mmig_strerror(rc));
		exit(1);
	}
	mmig_journal_close(j);
}

/* ---- the databases ---------------------------------------------------------- */


/* A hash of every row of every table but the markers' (0: no file). */
static uint64_t
fingerprint(const char *path)
{
	sqlite3_stmt *tables, *st;
	uint64_t h = 1;
	sqlite3 *db;

	if (access(path, F_OK) != 0)
		return 0;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_master WHERE type = "
			       "'table' AND name NOT LIKE 'mmig\\_%' ESCAPE '\\' "
			       "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
			       "ORDER BY name",
			       -1, &tables, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return 2;
	}
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		char sql[512];
		int cols;

		for (const char *c = name; *c; c++)
			h = mix(h, (uint8_t)*c);
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			continue;
		cols = sqlite3_column_count(st);
		sqlite3_finalize(st);
		for (int c = 1; c <= cols; c++)
			snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
				 "%s%d", c == 1 ? " ORDER BY " : ", ", c);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(st) == SQLITE_ROW) {
			h = mix(h, 0x726f77); /* a row */
			for (int c = 0; c < cols; c++) {
				const uint8_t *v = sqlite3_column_blob(st, c);
				int n = sqlite3_column_bytes(st, c);

				h = mix(h, (uint64_t)sqlite3_column_type(st, c));
				for (int k = 0; k < n; k++)
					h = mix(h, v[k]);
			}
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return h;
}

/* ---- the invariants ------------------------------------------------------------ */

static const char *
report_name(enum report r)
{
	return r == REP_COMMITTED ? "committed"
	       : r == REP_ROLLED_BACK ? "rolled back"
				      : "nothing";
}

/*
 * Check the settled state in @p dir after recovery exited with
 * @p rec_status.  @p reps are outcomes processes reported before the power
 * went (REP_NONE: none).
 */
static void
check(struct suite *s, const char *dir, int rec_status, enum report rep1,
      enum report rep2, const char *where)
{
	char journal[PATH_MAX], ctl[PATH_MAX], mfile[PATH_MAX];
	struct mmig_migration_info *list = NULL;
	struct mmig_journal *j = NULL;
	const char *state = NULL;
	size_t n = 0, problems = 0;
	bool model_file;
	char sql[256];
	int rc;

	path_join(journal, dir, "journal");
	path_join(ctl, dir, "controller.db");
	if (snprintf(mfile, sizeof(mfile), "%s/models/%s.db", dir,
		     s->w == WL_IMPORT ? s->model_uuid : STEP_UUID) >=
	    (int)sizeof(mfile))
		exit(1);
	model_file = access(mfile, F_OK) == 0;
	if (rec_status != 0)
		violation(s, where, "recovery did not settle (exit %d)",
			  rec_status);
	rc = mmig_journal_open(&j, journal, NULL, NULL);
	if (rc != MMIG_OK) {
		violation(s, where, "journal does not open: %s",
			  mmig_strerror(rc));
		return;
	}
	if (mmig_journal_list(j, false, &list, &n) != MMIG_OK || n != 0)
		violation(s, where, "%zu migration(s) still in flight", n);
	mmig_migration_info_free(list, n);
	if (mmig_journal_verify(j, NULL, NULL, &problems) != MMIG_OK ||
	    problems)
		violation(s, where, "journal does not verify (%zu problems)",
			  problems);
	list = NULL;
	n = 0;
	if (mmig_journal_list(j, true, &list, &n) != MMIG_OK)
		violation(s, where, "journal cannot be listed");
	if (n > 1)
		violation(s, where, "%zu migrations in the journal", n);
	if (n == 1)
		state = mmig_migration_info_at(list, 0)->state;
	if (state && strcmp(state, "COMMITTED") == 0) {
		s->t.committed++;
		if (s->w == WL_STEPS_FAIL)
			violation(s, where, "committed, but op 3 always fails");
		if (s->w == WL_IMPORT) {
			if (fingerprint(ctl) != s->want_ctl)
				violation(s, where, "committed, but the "
						    "controller database is not "
						    "a clean import's");
			if (fingerprint(mfile) != s->want_model)
				violation(s, where, "committed, but the model "
						    "database is not a clean "
						    "import's");
		} else {
			if (steps_query(ctl, "SELECT count(*) FROM steps") !=
			    N_OPS)
				violation(s, where, "committed, but rows are "
						    "missing");
			if (steps_query(
				    ctl,
				    "SELECT count(*) FROM tally WHERE what = "
				    "'do' AND n = 1") != N_OPS)
				violation(s, where, "committed, but some op's "
						    "work is not there exactly "
						    "once");
			if (steps_query(mfile, "SELECT count(*) FROM m") != 1)
				violation(s, where, "committed, but the model "
						    "database is wrong");
		}
	} else if (state && strcmp(state, "ROLLED_BACK") == 0) {
		s->t.rolled_back++;
	} else if (state) {
		violation(s, where, "migration left %s", state);
	} else {
		s->t.empty++;
	}
	/* Rolled back, or never recorded: no trace anywhere (W). */
	if (!state || strcmp(state, "ROLLED_BACK") == 0) {
		const char *what = state ? "rolled back" : "no journal record";

		if (model_file)
			violation(s, where, "%s, but the model database file "
					    "is there",
				  what);
		if (s->w == WL_IMPORT) {
			snprintf(sql, sizeof(sql),
				 "SELECT count(*) FROM models WHERE uuid = '%s'",
				 s->model_uuid);
			if (steps_query(ctl, sql) != 0)
				violation(s, where, "%s, but the controller "
						    "row is there",
					  what);
		} else {
			long long left =
				steps_query(ctl, "SELECT count(*) FROM steps");

			if (left != 0)
				violation(s, where, "%s, but %lld op row(s) "
						    "left (an op that may have "
						    "started was not rolled "
						    "back)",
					  what, left);
		}
	}
	if (s->w != WL_IMPORT &&
	    steps_query(ctl, "SELECT count(*) FROM tally WHERE n > 1") != 0)
		violation(s, where, "an op's work or undo committed twice");
	for (int k = 0; k < 2; k++) {
		enum report rep = k ? rep2 : rep1;
		const char *want = rep == REP_COMMITTED ? "COMMITTED"
						       : "ROLLED_BACK";

		if (rep != REP_NONE && (!state || strcmp(state, want) != 0))
			violation(s, where, "reported %s before the power cut, "
					    "but is %s after it (T)",
				  report_name(rep), state ? state : "gone");
	}
	mmig_migration_info_free(list, n);
	mmig_journal_close(j);
}

/* ---- cutting ------------------------------------------------------------------- */

/* One level of cutting: what the callback needs. */
struct level {
	struct suite *s;
	const char *name;      /* "forward", "recovery after ..." */
	const char *dir;       /* where images go */
	unsigned only_proc;    /* cut points of this process only; 0: all */
	enum report rep;       /* what the logged process reported */
	enum report outer_rep; /* reported before this level began */
	bool nest;             /* (a): recover under the shim, cut again */
	unsigned *cut_points, *images;
	char outer[1024];      /* where the outer level was cut */
};

static int on_cut(void *arg, const struct pc_state *st,
		  const struct pc_cut *cut);

/*
 * (a): image @p what (already in s->nest) is what the disk holds after a
 * power cut; recovery runs on it under the shim, and is cut in turn.
 */
static void
nest_after_power_cut(struct suite *s, const char *where, enum report rep)
{
	struct shim sh = { .dir = s->nest, .log = s->nlog };
	struct pc_state *st;
	struct level lv = {
		.s = s,
		.name = "recovery",
		.dir = s->img,
		.outer_rep = rep,
		.cut_points = &s->t.nested_cut_points,
		.images = &s->t.nested_images,
	};

	if (pc_state_new(&st, s->nest) != 0) {
		perror("scan image");
		exit(1);
	}
	unlink(s->nlog);
	run_recover(s, s->nest, &sh, &lv.rep);
	if (snprintf(lv.outer, sizeof(lv.outer), "%s, then power cut during ",
		     where) < 0)
		lv.outer[0] = '\0';
	s->t.nested_runs++;
	if (pc_replay(st, s->nlog, on_cut, &lv) < 0) {
		perror("replay recovery log");
		exit(1);
	}
	if (pc_state_problem(st))
		violation(s, where, "shim: %s", pc_state_problem(st));
	pc_state_free(st);
}

static int
on_cut(void *arg, const struct pc_state *st, const struct pc_cut *cut)
{
	struct level *lv = arg;
	struct suite *s = lv->s;
	unsigned n_subsets = 3 + s->n_random;
	uint64_t seen[16];
	unsigned n_seen = 0;

	if (lv->only_proc && cut->proc != lv->only_proc)
		return 0;
	(*lv->cut_points)++;
	for (unsigned k = 0; k < n_subsets && k < 16; k++) {
		enum pc_subset sub = k == 0 ? PC_SUBSET_NONE
				     : k == 1 ? PC_SUBSET_ALL
				     : k == 2 ? PC_SUBSET_TORN
					      : PC_SUBSET_RANDOM;
		uint64_t seed = mix(mix(mix(s->seed, s->w), cut->cut), k);
		char what[256], where[2048];
		const char *keep = getenv("POWERCUT_KEEP");
		unsigned before;
		enum report rep;
		uint64_t h;
		bool dup = false;
		int status;

		pc_image_write(st, sub, seed, NULL, &h, what, sizeof(what));
		for (unsigned i = 0; i < n_seen; i++)
			dup = dup || seen[i] == h;
		if (dup) {
			s->t.duplicates++;
			continue;
		}
		seen[n_seen++] = h;
		(*lv->images)++;
		snprintf(where, sizeof(where),
			 "%s%s cut point %u%s (sync %u of process %u), "
			 "subset %s [seed %#" PRIx64 "]",
			 lv->outer, lv->name, cut->cut,
			 cut->end ? " = end of run" : "", cut->proc_cut,
			 cut->proc, what, seed);
		fresh_dir(lv->dir);
		if (pc_image_write(st, sub, seed, lv->dir, NULL, NULL, 0) != 0) {
			perror("write image");
			exit(1);
		}
		before = s->t.violations;
		status = run_recover(s, lv->dir, NULL, &rep);
		if (status != 0 && !s->unsafe)
			show_stderr(s);
		check(s, lv->dir, status, cut->end ? lv->rep : REP_NONE,
		      lv->outer_rep, where);
		if (s->t.violations > before && keep && !s->kept) {
			/* The image as the power cut left it, to look at. */
			fresh_dir(keep);
			pc_image_write(st, sub, seed, keep, NULL, NULL, 0);
			fprintf(stderr, "  image kept in %s\n", keep);
			s->kept = true;
		}
		/* (a): a sample of the forward cut points, nested once. */
		if (lv->nest && s->nest_every &&
		    (cut->cut % s->nest_every == 0 || cut->end) &&
		    (sub == PC_SUBSET_NONE || sub == PC_SUBSET_RANDOM)) {
			fresh_dir(s->nest);
			pc_image_write(st, sub, seed, s->nest, NULL, NULL, 0);
			nest_after_power_cut(s, where,
					     cut->end ? lv->rep : REP_NONE);
		}
	}
	return 0;
}

/* Run the workload once under the shim and cut it everywhere. */
static void
sweep_forward(struct suite *s)
{
	struct shim sh = { .dir = s->work, .log = s->log };
	struct level lv = {
		.s = s,
		.name = "forward",
		.dir = s->img,
		.nest = true,
		.cut_points = &s->t.cut_points,
		.images = &s->t.images,
	};
	struct pc_state *st;
	int status;

	prepare_base(s, s->work);
	if (pc_state_new(&st, s->work) != 0) {
		perror("scan base");
		exit(1);
	}
	unlink(s->log);
	status = run_forward(s, s->work, &sh);
	lv.rep = forward_report(status);
	if (lv.rep == REP_NONE) {
		fprintf(stderr, "forward run exited %d\n", status);
		show_stderr(s);
		s->t.violations++;
		pc_state_free(st);
		return;
	}
	if (pc_replay(st, s->log, on_cut, &lv) < 0) {
		perror("replay");
		exit(1);
	}
	if (pc_state_problem(st))
		violation(s, "forward", "shim: %s", pc_state_problem(st));
	pc_state_free(st);
}

/*
 * (b): kill the forward run at sync point @p n (the page cache survives),
 * run recovery under the shim on what is left, and cut recovery's power at
 * each of its sync points; what the dead process left unsynced is still
 * pending then.
 */
static void
sweep_kill_then_cut(struct suite *s, unsigned n)
{
	struct shim fwd = { .dir = s->work, .log = s->log, .at = n };
	struct shim rec = { .dir = s->work, .log = s->log };
	struct level lv = {
		.s = s,
		.name = "recovery",
		.dir = s->img,
		.only_proc = 2,
		.cut_points = &s->t.nested_cut_points,
		.images = &s->t.nested_images,
	};
	struct pc_state *st;
	int status;

	prepare_base(s, s->work);
	if (pc_state_new(&st, s->work) != 0) {
		perror("scan base");
		exit(1);
	}
	unlink(s->log);
	status = run_forward(s, s->work, &fwd);
	if (status != PC_CUT_STATUS) {
		fprintf(stderr, "forward run not cut at %u: exit %d\n", n,
			status);
		s->t.violations++;
		pc_state_free(st);
		return;
	}
	run_recover(s, s->work, &rec, &lv.rep);
	snprintf(lv.outer, sizeof(lv.outer),
		 "forward process killed at sync %u, then power cut during ",
		 n);
	s->t.nested_runs++;
	if (pc_replay(st, s->log, on_cut, &lv) < 0) {
		perror("replay");
		exit(1);
	}
	if (pc_state_problem(st))
		violation(s, lv.outer, "shim: %s", pc_state_problem(st));
	pc_state_free(st);
}

/* How many sync points a clean logged run of the workload has. */
static unsigned
count_syncs(struct suite *s)
{
	struct shim sh = { .dir = s->work, .log = s->log, .count = s->count };
	char buf[32] = "";
	FILE *fp;

	prepare_base(s, s->work);
	unlink(s->log);
	run_forward(s, s->work, &sh);
	fp = fopen(s->count, "r");
	if (!fp || !fgets(buf, sizeof(buf), fp)) {
		if (fp)
			fclose(fp);
		return 0;
	}
	fclose(fp);
	return (unsigned)strtoul(buf, NULL, 10);
}

/* A clean import, unlogged: what a committed image must hold. */
static void
learn_import(struct suite *s)
{
	char ctl[PATH_MAX], mfile[PATH_MAX];

	prepare_base(s, s->work);
	if (run_forward(s, s->work, NULL) != 0) {
		show_stderr(s);
		fprintf(stderr, "a clean import failed\n");
		exit(1);
	}
	path_join(ctl, s->work, "controller.db");
	if (snprintf(mfile, sizeof(mfile), "%s/models/%s.db", s->work,
		     s->model_uuid) >= (int)sizeof(mfile))
		exit(1);
	s->want_ctl = fingerprint(ctl);
	s->want_model = fingerprint(mfile);
}

static void
print_tally(const char *name, const struct suite *s, double secs)
{
	const struct tally *t = &s->t;

	printf("%s: %u cut points, %u images (%u duplicates skipped); "
	       "nested: %u recoveries cut at %u points, %u images; "
	       "settled %u committed, %u rolled back, %u never recorded; "
	       "%u violations (%.1fs)\n",
	       name, t->cut_points, t->images, t->duplicates, t->nested_runs,
	       t->nested_cut_points, t->nested_images, t->committed,
	       t->rolled_back, t->empty, t->violations, secs);
	fflush(stdout);
}

/* Forward sweep, (a) nested on the way, (b) for a sample of points. */
static void
full_sweep(struct suite *s, bool nested)
{
	unsigned n = nested ? count_syncs(s) : 0;

	if (!nested)
		s->nest_every = 0;
	sweep_forward(s);
	for (unsigned k = 1; nested && s->nest_every && k <= n;
	     k += s->nest_every)
		sweep_kill_then_cut(s, k);
}

/* ---- the tests --------------------------------------------------------------------- */

static struct suite S0;

/* Over every test that expects no violation. */
static struct tally total;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
reset(struct suite *s, enum workload w, const char *unsafe)
{
	s->t = (struct tally){ 0 };
	s->w = w;
	s->unsafe = unsafe;
	s->fresh_journal = false;
}

static bool
test_powercut_steps_commit(struct suite *s)
{
	double t0 = now();

	reset(s, WL_STEPS, NULL);
	full_sweep(s, true);
	print_tally("steps plan, committed", s, now() - t0);
	return s->t.violations == 0 && s->t.cut_points >= 10 &&
	       s->t.committed > 0 && s->t.rolled_back > 0 &&
	       s->t.nested_cut_points > 0;
}

static bool
test_powercut_steps_failing_op_rolls_back(struct suite *s)
{
	double t0 = now();

	reset(s, WL_STEPS_FAIL, NULL);
	full_sweep(s, true);
	print_tally("steps plan, op 3 fails (forward rollback)", s,
		    now() - t0);
	return s->t.violations == 0 && s->t.cut_points >= 10 &&
	       s->t.committed == 0 && s->t.rolled_back > 0;
}

/* True when DIR/journal holds a description's side file. */
static bool
has_side_file(const char *dir)
{
	char journal[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	path_join(journal, dir, "journal");
	d = opendir(journal);
	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL)
		found = strncmp(e->d_name, "desc-", 5) == 0 &&
			strlen(e->d_name) == 46;
	closedir(d);
	return found;
}

static bool
test_powercut_import(struct suite *s)
{
	double t0 = now();

	bool ok, side;

	reset(s, WL_IMPORT, NULL);
	/* The description in a side file beside the journal (journal/side.c;
	 * the threshold lowered for the import, which every child inherits):
	 * written and synced before the header naming it commits, so no cut
	 * leaves a header without its side file.  The steps plans keep theirs
	 * in the header. */
	setenv("MMIG_TEST_SIDE_MIN", "1", 1);
	learn_import(s);
	side = has_side_file(s->work);
	if (!side)
		fprintf(stderr, "the clean import left no side file\n");
	full_sweep(s, true);
	unsetenv("MMIG_TEST_SIDE_MIN");
	print_tally("reference import (mmig import), description in a side "
		    "file", s, now() - t0);
	ok = side && s->t.violations == 0 && s->t.cut_points >= 10 &&
	     s->t.committed > 0 && s->t.rolled_back > 0;
	return ok;
}

/*
 * The journal created by the migration itself, on a machine where none
 * existed: its creation (made in a sibling directory, synced, renamed into
 * place, the parent synced) is cut too, and so is recovery's, on images
 * the power cut left without one.  Some images must have no journal yet
 * (else the creation was never cut) and, like every run, both outcomes.
 */
static bool
test_powercut_fresh_journal(struct suite *s)
{
	double t0 = now();

	reset(s, WL_STEPS, NULL);
	s->fresh_journal = true;
	full_sweep(s, true);
	print_tally("steps plan, journal created by the run", s, now() - t0);
	return s->t.violations == 0 && s->t.cut_points >= 10 &&
	       s->t.committed > 0 && s->t.rolled_back > 0 && s->t.empty > 0 &&
	       s->t.nested_cut_points > 0;
}

/* An unsafe design must be caught. */
static bool
unsafe_caught(struct suite *s, const char *unsafe)
{
	double t0 = now();
	char name[128];

	reset(s, WL_STEPS, unsafe);
	full_sweep(s, false);
	snprintf(name, sizeof(name), "UNSAFE %s, steps plan", unsafe);
	print_tally(name, s, now() - t0);
	if (s->t.violations)
		printf("  caught by: %s\n", s->t.first);
	return s->t.violations > 0;
}

static bool
test_powercut_unsafe_no_one_ahead_is_caught(struct suite *s)
{
	return unsafe_caught(s, "no-one-ahead");
}

static bool
test_powercut_unsafe_terminal_not_forced_is_caught(struct suite *s)
{
	return unsafe_caught(s, "terminal-not-forced");
}

/* The shim itself: POWERCUT_COUNT and POWERCUT_AT agree with the log. */
static int
count_cb(void *arg, const struct pc_state *st, const struct pc_cut *cut)
{
	unsigned *n = arg;

	(void)st;
	if (!cut->end)
		(*n)++;
	return 0;
}

static bool
test_powercut_shim_counts_and_cuts(struct suite *s)
{
	struct shim sh = { .dir = s->work, .log = s->log };
	struct pc_state *st;
	unsigned n, log_syncs = 0;
	bool ok = true;

	reset(s, WL_STEPS, NULL);
	n = count_syncs(s);
	prepare_base(s, s->img);
	pc_state_new(&st, s->img);
	pc_replay(st, s->log, count_cb, &log_syncs);
	pc_state_free(st);
	printf("shim: %u sync points counted, %u in the log\n", n, log_syncs);
	ok = n > 0 && n == log_syncs;
	/* Cut at the middle one: the process stops there, the log says so. */
	prepare_base(s, s->work);
	unlink(s->log);
	sh.at = n / 2;
	sh.count = s->count;
	if (run_forward(s, s->work, &sh) != PC_CUT_STATUS)
		ok = false;
	log_syncs = 0;
	prepare_base(s, s->img);
	pc_state_new(&st, s->img);
	pc_replay(st, s->log, count_cb, &log_syncs);
	pc_state_free(st);
	ok = ok && log_syncs == n / 2 - 1;
	printf("shim: cut at %u, the log holds %u sync points before it\n",
	       n / 2, log_syncs);
	return ok;
}

static bool
sanitized(void)
{
	const char *pre = getenv("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__)
	return true;
#endif
	if (strcmp(POWER_SANITIZE, "none") != 0)
		return true;
	/* valgrind preloads its own: the children would not be ours. */
	return pre && strstr(pre, "vgpreload");
}

static void
model_uuid_of(struct suite *s)
{
	char buf[4096], *p;
	FILE *fp = fopen(s->json, "r");
	size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;

	if (fp)
		fclose(fp);
	buf[n] = '\0';
	p = strstr(buf, "\"uuid\": \"");
	if (!p) {
		fprintf(stderr, "no model uuid in %s\n", s->json);
		exit(1);
	}
	snprintf(s->model_uuid, sizeof(s->model_uuid), "%.36s", p + 9);
}

static void
setup(struct suite *s, bool large)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	const char *seed = getenv("POWERCUT_SEED");
	char machines[16], units[16];

	/* tmpfs when there is one: the children's real fsyncs are free. */
	snprintf(s->top, sizeof(s->top), "%s/mmig-power-XXXXXX", base);
	if (!mkdtemp(s->top)) {
		perror("mkdtemp");
		exit(1);
	}
	path_join(s->work, s->top, "work");
	path_join(s->img, s->top, "img");
	path_join(s->nest, s->top, "nest");
	path_join(s->json, s->top, "model.json");
	path_join(s->log, s->top, "run.log");
	path_join(s->nlog, s->top, "nested.log");
	path_join(s->out, s->top, "stdout");
	path_join(s->err, s->top, "stderr");
	path_join(s->count, s->top, "count");
	s->seed = seed ? strtoull(seed, NULL, 0) : 1;
	s->n_random = large ? 8 : 2;
	s->nest_every = large ? 1 : 3;
	snprintf(machines, sizeof(machines), "%d", large ? 40 : 3);
	snprintf(units, sizeof(units), "%d", large ? 10 : 2);
	{
		char *argv[] = { (char *)mmig_path, "gen-model", "--machines",
				 machines, "--applications", "3",
				 "--units-per-app", units, "--relations", "2",
				 "-o", s->json, NULL };

		if (run(s, argv, NULL, NULL, 0) != 0) {
			fprintf(stderr, "mmig gen-model failed\n");
			exit(1);
		}
	}
	model_uuid_of(s);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool (*fn)(struct suite *);
	} tests[] = {
#define T(fn) { #fn, fn }
		T(test_powercut_shim_counts_and_cuts),
		T(test_powercut_steps_commit),
		T(test_powercut_steps_failing_op_rolls_back),
		T(test_powercut_import),
		T(test_powercut_unsafe_no_one_ahead_is_caught),
		T(test_powercut_unsafe_terminal_not_forced_is_caught),
		/* Its own meson test: see main(). */
		T(test_powercut_fresh_journal),
#undef T
	};
	const char *sweep = getenv("POWERCUT_SWEEP");
	const char *only = getenv("POWERCUT_ONLY");
	struct suite *s = &S0;
	unsigned passed = 0, failed = 0;
	bool fresh;

	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "--fresh-journal") == 0)) {
		fprintf(stderr, "usage: test-powercut SHIM HELPER MMIG "
				"MMIG-RECOVER [--fresh-journal]\n");
		return 2;
	}
	fresh = argc == 6;
	if (sanitized()) {
		printf("SKIP: the power-cut suite runs only in a build without "
		       "sanitizers or valgrind (its LD_PRELOAD shim does not "
		       "mix with their runtimes)\n");
		return 77;
	}
	shim_path = argv[1];
	helper_path = argv[2];
	mmig_path = argv[3];
	recover_path = argv[4];
	setup(s, sweep && strcmp(sweep, "large") == 0);
	printf("power-cut suite: seed %#" PRIx64 ", %u random subsets per cut "
	       "point, nesting every %u forward cut points, in %s\n",
	       s->seed, s->n_random, s->nest_every, s->top);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool fresh_test = tests[i].fn == test_powercut_fresh_journal;
		bool ok;

		if ((only && !strstr(tests[i].name, only)) || fresh != fresh_test)
			continue;
		ok = tests[i].fn(s);
		if (!s->unsafe) {
			total.cut_points += s->t.cut_points +
					    s->t.nested_cut_points;
			total.images += s->t.images + s->t.nested_images;
			total.violations += s->t.violations;
		}
		printf("%s %s\n", ok ? "PASS" : "FAIL", tests[i].name);
		fflush(stdout);
		if (ok)
			passed++;
		else
			failed++;
	}
	rm_rf(s->top);
	printf("total (safe design): %u cut points, %u images recovered and "
	       "checked, %u violations\n",
	       total.cut_points, total.images, total.violations);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
