/*
 * tests/test-side.c - large model descriptions in side files beside the
 * LMDB journal (journal/side.c): the threshold at both sides, the one
 * reader's checks (missing, short, changed), verify's orphans, prune
 * removing the side files it frees (also when killed between its commit
 * and the unlink), compaction keeping them, and only exact names ever
 * removed.
 *
 * MMIG_TEST_SIDE_MIN (test builds only) lowers the threshold, so that
 * most tests use small descriptions; one test uses the real 1 MiB one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "lmdb-int.h"
#include "mmig/mmig.h"

#define SMALL_MIN 100

struct fixture {
	char dir[64];
	struct mmig_journal *j;
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char min[32];

	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-test-side-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(min, sizeof(min), "%d", SMALL_MIN);
	setenv("MMIG_TEST_SIDE_MIN", min, 1);
	mmig__fault_disarm();
	assert_int_equal(mmig_journal_open(&f->j, f->dir, NULL, NULL), MMIG_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	mmig_journal_close(f->j);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("MMIG_TEST_SIDE_MIN");
	free(f);
	return 0;
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed);
	return p;
}

/* Create a migration with description @p desc (header + BEGIN 0); with
 * @p finish, DONE 0 and COMMITTED too.  Its id in @p id. */
static void
create(struct fixture *f, const uint8_t *desc, size_t len, bool finish,
       uint8_t id[MMIG_ID_LEN])
{
	struct mmig_plan_op plan[1] = { { .name = "probe", .version = 1 } };
	struct mmig_rec_header h = { .model_uuid = "m", .plan = plan,
				     .n_ops = 1,
				     .model_desc = (uint8_t *)desc,
				     .model_desc_len = len,
				     .durability = MMIG_DURABLE };
	struct mmig__jmig *jm;

	mmig__digest(desc, len, h.digest);
	assert_int_equal(mmig__jmig_create(f->j, &h, &jm, NULL), MMIG_OK);
	assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_BEGIN, 0, NULL, 0, NULL),
			 MMIG_OK);
	assert_int_equal(mmig__jmig_commit(jm, MMIG__SYNC_FULL, NULL), MMIG_OK);
	if (finish) {
		assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_DONE, 0, NULL, 0,
						  NULL),
				 MMIG_OK);
		assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_COMMITTED, -1,
						  NULL, 0, NULL),
				 MMIG_OK);
		assert_int_equal(mmig__jmig_commit(jm, MMIG__SYNC_FULL, NULL),
				 MMIG_OK);
	}
	memcpy(id, jm->id, MMIG_ID_LEN);
	mmig__jmig_free(jm);
}

static void
side_path(struct fixture *f, const uint8_t id[MMIG_ID_LEN], char *out,
	  size_t size)
{
	char name[MMIG__SIDE_NAME_LEN];

	mmig__side_name(id, name);
	snprintf(out, size, "%s/%s", f->dir, name);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The stored header record's bytes (a copy) and the decoded header. */
static size_t
stored_header_len(struct fixture *f, const uint8_t id[MMIG_ID_LEN],
		  uint8_t *format)
{
	MDB_txn *txn;
	MDB_val v;
	size_t n;

	assert_int_equal(mmig__journal_read_begin(f->j, &txn), MMIG_OK);
	assert_int_equal(mmig__lmdb_value_get(f->j, txn, "hdr", id, 0, &v), 0);
	n = v.mv_size;
	*format = ((const uint8_t *)v.mv_data)[1];
	mmig__journal_read_end(f->j, txn);
	return n;
}

static void
collect(void *arg, const char *msg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 8192 - strlen(buf), "%s\n", msg);
}

static size_t
verify(struct fixture *f, char report[8192])
{
	size_t n;

	report[0] = '\0';
	assert_int_equal(mmig_journal_verify(f->j, collect, report, &n),
			 MMIG_OK);
	return n;
}

/* ---- tests ------------------------------------------------------------- */

/* Below the threshold the bytes stay in the header (format 1); at it they
 * go to desc-ID.mmig, 0600, and the header (format 2) is small; both read
 * back the same bytes. */
static void
test_side_threshold_both_sides(void **state)
{
	struct fixture *f = *state;
	uint8_t *below = pattern(SMALL_MIN - 1, 1), *at = pattern(SMALL_MIN, 2);
	uint8_t idb[MMIG_ID_LEN], ida[MMIG_ID_LEN], fmt;
	struct mmig_rec_header h;
	char path[256], report[8192];
	struct stat st;

	create(f, below, SMALL_MIN - 1, false, idb);
	create(f, at, SMALL_MIN, false, ida);
	side_path(f, idb, path, sizeof(path));
	assert_false(exists(path));
	assert_true(stored_header_len(f, idb, &fmt) > SMALL_MIN - 1);
	assert_int_equal(fmt, 1);

	side_path(f, ida, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SMALL_MIN);
	assert_true(stored_header_len(f, ida, &fmt) < SMALL_MIN);
	assert_int_equal(fmt, 2);

	assert_int_equal(mmig__journal_read(f->j, ida, &h, NULL, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_true(h.desc_side);
	assert_null(h.desc_problem);
	assert_int_equal(h.model_desc_len, SMALL_MIN);
	assert_memory_equal(h.model_desc, at, SMALL_MIN);
	mmig__rec_header_free(&h);
	assert_int_equal(mmig__journal_read(f->j, idb, &h, NULL, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_false(h.desc_side);
	assert_memory_equal(h.model_desc, below, SMALL_MIN - 1);
	mmig__rec_header_free(&h);
	assert_int_equal(verify(f, report), 0);
	free(below);
	free(at);
}

/* The built-in threshold, 1 MiB, without the test override. */
static void
test_side_default_threshold_is_1_mib(void **state)
{
	struct fixture *f = *state;
	size_t mib = (size_t)1 << 20;
	uint8_t *below = pattern(mib - 1, 3), *at = pattern(mib, 4);
	uint8_t idb[MMIG_ID_LEN], ida[MMIG_ID_LEN], fmt;
	char path[256], report[8192];

	unsetenv("MMIG_TEST_SIDE_MIN");
	assert_int_equal(mmig__side_min(), mib);
	create(f, below, mib - 1, false, idb);
	create(f, at, mib, false, ida);
	side_path(f, idb, path, sizeof(path));
	assert_false(exists(path));
	assert_true(stored_header_len(f, idb, &fmt) >= mib - 1);
	side_path(f, ida, path, sizeof(path));
	assert_true(exists(path));
	assert_true(stored_header_len(f, ida, &fmt) < 1024);
	assert_int_equal(verify(f, report), 0);
	free(below);
	free(at);
}

/* The one reader names the file: missing, wrong length, changed bytes;
 * verify reports each, and the migration still reads (its problem noted),
 * so that it can be listed and recovered to NEEDS_ATTENTION. */
static void
test_side_missing_short_or_changed_is_named(void **state)
{
	struct fixture *f = *state;
	uint8_t *desc = pattern(300, 5), id[MMIG_ID_LEN];
	struct mmig_rec_header h;
	struct mmig_error *err = NULL;
	char path[256], saved[300], report[8192];
	FILE *fp;

	create(f, desc, 300, false, id);
	side_path(f, id, path, sizeof(path));
	fp = fopen(path, "rb");
	assert_int_equal(fread(saved, 1, 300, fp), 300);
	fclose(fp);

	/* missing */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mmig__journal_read(f->j, id, &h, NULL, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_null(h.model_desc);
	assert_non_null(h.desc_problem);
	assert_non_null(strstr(h.desc_problem, path));
	assert_non_null(strstr(h.desc_problem, "missing"));
	/* the reader itself, asked directly */
	assert_int_equal(mmig__side_load(f->dir, &(struct mmig_rec_header){
		.desc_side = true, .model_desc_len = 300,
		.desc_xxh64 = h.desc_xxh64, .id = { 0 } }, &err),
			 MMIG_ECORRUPT);
	mmig_error_free(err);
	err = NULL;
	mmig__rec_header_free(&h);
	assert_int_equal(verify(f, report), 1);
	assert_non_null(strstr(report, path));
	assert_non_null(strstr(report, "missing"));

	/* one byte short */
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(saved, 1, 299, fp), 299);
	fclose(fp);
	assert_int_equal(verify(f, report), 1);
	assert_non_null(strstr(report, "299 bytes, the header says 300"));

	/* same length, one byte changed */
	saved[150] ^= 1;
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(saved, 1, 300, fp), 300);
	fclose(fp);
	assert_int_equal(verify(f, report), 1);
	assert_non_null(strstr(report, "XXH3-64"));
	assert_non_null(strstr(report, path));

	/* put back: clean */
	saved[150] ^= 1;
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(saved, 1, 300, fp), 300);
	fclose(fp);
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

static void
touch(const char *dir, const char *name)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("x", fp);
	fclose(fp);
}

/* An orphan (a side file no header names) is reported by verify and
 * removed by prune; one whose creator still holds it is neither; names
 * that are not exactly ours are never touched. */
static void
test_side_orphans_reported_and_pruned_only_exact_names(void **state)
{
	struct fixture *f = *state;
	uint8_t *desc = pattern(200, 6), orphan[MMIG_ID_LEN],
		held[MMIG_ID_LEN], kept[MMIG_ID_LEN];
	char path[256], hpath[256], kpath[256], report[8192], upper[64];
	char name[MMIG__SIDE_NAME_LEN];
	int lock_fd, orphan_fd;
	size_t pruned;

	create(f, desc, 200, false, kept); /* in flight: kept */
	assert_int_equal(mmig__id_new(orphan), MMIG_OK);
	assert_int_equal(mmig__id_new(held), MMIG_OK);
	/* a create killed before its header: the file, no header, no lock */
	assert_int_equal(mmig__side_write(f->dir, orphan, desc, 200, true,
					  &orphan_fd, NULL),
			 MMIG_OK);
	mmig__side_release(orphan_fd);
	/* a create between its side file and its header commit */
	assert_int_equal(mmig__side_write(f->dir, held, desc, 200, true,
					  &lock_fd, NULL),
			 MMIG_OK);
	/* not ours: near misses of the pattern */
	mmig__side_name(orphan, name);
	snprintf(upper, sizeof(upper), "%s", name);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	touch(f->dir, upper);
	touch(f->dir, "desc-notes.mmig");
	snprintf(path, sizeof(path), "%s.bak", name);
	touch(f->dir, path);
	touch(f->dir, "notes.txt");

	side_path(f, orphan, path, sizeof(path));
	side_path(f, held, hpath, sizeof(hpath));
	side_path(f, kept, kpath, sizeof(kpath));
	assert_int_equal(verify(f, report), 1);
	assert_non_null(strstr(report, path));
	assert_non_null(strstr(report, "no header names it"));
	assert_null(strstr(report, hpath));

	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned), MMIG_OK);
	assert_int_equal(pruned, 0);
	assert_false(exists(path));
	assert_true(exists(hpath));
	assert_true(exists(kpath));
	snprintf(path, sizeof(path), "%s/%s", f->dir, upper);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s/desc-notes.mmig", f->dir);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s/%s.bak", f->dir, name);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s/notes.txt", f->dir);
	assert_true(exists(path));

	/* the holder gives up without a header: now an orphan */
	mmig__side_release(lock_fd);
	assert_int_equal(verify(f, report), 1);
	assert_non_null(strstr(report, hpath));
	/* a writable open removes it too */
	mmig_journal_close(f->j);
	assert_int_equal(mmig_journal_open(&f->j, f->dir, NULL, NULL), MMIG_OK);
	assert_false(exists(hpath));
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

/* Prune deletes the side file of each migration it prunes, after its
 * commit; an in-flight one keeps its file. */
static void
test_side_prune_removes_side_files(void **state)
{
	struct fixture *f = *state;
	uint8_t *desc = pattern(500, 7), done[MMIG_ID_LEN], live[MMIG_ID_LEN];
	char dpath[256], lpath[256], report[8192];
	size_t pruned;

	create(f, desc, 500, true, done);
	create(f, desc, 500, false, live);
	side_path(f, done, dpath, sizeof(dpath));
	side_path(f, live, lpath, sizeof(lpath));
	assert_true(exists(dpath));
	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned), MMIG_OK);
	assert_int_equal(pruned, 1);
	assert_false(exists(dpath));
	assert_true(exists(lpath));
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

/* Killed (SIGKILL) between prune's commit and its unlink: the pruned
 * migration's side file is an orphan -- reported by verify on a
 * read-only handle, removed by the next prune (or writable open). */
static void
test_side_prune_killed_after_commit_leaves_orphan(void **state)
{
	struct fixture *f = *state;
	uint8_t *desc = pattern(400, 8), done[MMIG_ID_LEN];
	struct mmig_journal_options ro = MMIG_JOURNAL_OPTIONS_INIT;
	struct mmig_journal *r;
	char path[256], report[8192];
	size_t pruned, n;
	int status;
	pid_t pid;

	create(f, desc, 400, true, done);
	side_path(f, done, path, sizeof(path));
	mmig_journal_close(f->j);
	f->j = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig_journal *cj;

		if (mmig_journal_open(&cj, f->dir, NULL, NULL) != MMIG_OK)
			_exit(2);
		mmig__fault_arm(MMIG_FAULT_PRUNE_COMMITTED, 1, MMIG_FAULT_KILL);
		mmig_journal_prune(cj, 0, 0, &pruned);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(exists(path));

	ro.flags = MMIG_JOURNAL_RDONLY;
	assert_int_equal(mmig_journal_open(&r, f->dir, &ro, NULL), MMIG_OK);
	report[0] = '\0';
	assert_int_equal(mmig_journal_verify(r, collect, report, &n), MMIG_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(report, path));
	mmig_journal_close(r);
	assert_true(exists(path)); /* a read-only handle removes nothing */

	assert_int_equal(mmig_journal_open(&f->j, f->dir, NULL, NULL), MMIG_OK);
	assert_false(exists(path));
	assert_int_equal(mmig_journal_prune(f->j, 0, 0, &pruned), MMIG_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

/* A create failing at the side file (an I/O error injected after the
 * write, or after the sync) writes no header and leaves no file. */
static void
test_side_write_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	static const enum mmig_fault_point points[] = {
		MMIG_FAULT_SIDE_WRITTEN, MMIG_FAULT_SIDE_SYNCED };
	uint8_t *desc = pattern(256, 9);
	struct mmig_plan_op plan[1] = { { .name = "probe", .version = 1 } };
	char report[8192];

	for (size_t i = 0; i < 2; i++) {
		struct mmig_rec_header h = { .model_uuid = "m", .plan = plan,
					     .n_ops = 1, .model_desc = desc,
					     .model_desc_len = 256,
					     .durability = MMIG_DURABLE };
		struct mmig_migration_info *list;
		struct mmig_error *err = NULL;
		struct mmig__jmig *jm;
		char path[256];
		size_t n;

		mmig__digest(desc, 256, h.digest);
		assert_int_equal(mmig__jmig_create(f->j, &h, &jm, NULL),
				 MMIG_OK);
		assert_int_equal(mmig__jmig_stage(jm, MMIG_REC_BEGIN, 0, NULL,
						  0, NULL),
				 MMIG_OK);
		mmig__fault_arm(points[i], 1, MMIG_FAULT_EIO);
		assert_int_not_equal(mmig__jmig_commit(jm, MMIG__SYNC_FULL,
						       &err),
				     MMIG_OK);
		mmig__fault_disarm();
		side_path(f, jm->id, path, sizeof(path));
		assert_non_null(strstr(mmig_error_message(err), path));
		mmig_error_free(err);
		assert_false(exists(path));
		mmig__jmig_free(jm);
		assert_int_equal(mmig_journal_list(f->j, true, &list, &n),
				 MMIG_OK);
		assert_int_equal(n, 0);
		mmig_migration_info_free(list, n);
	}
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

/* Compaction swaps data.mdb only: the side files stay and still read. */
static void
test_side_compact_keeps_side_files(void **state)
{
	struct fixture *f = *state;
	uint8_t *desc = pattern(1000, 10), id[MMIG_ID_LEN];
	struct mmig_rec_header h;
	char report[8192];

	create(f, desc, 1000, false, id);
	mmig_journal_close(f->j);
	f->j = NULL;
	assert_int_equal(mmig_journal_compact(f->dir, NULL, NULL, NULL),
			 MMIG_OK);
	assert_int_equal(mmig_journal_open(&f->j, f->dir, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig__journal_read(f->j, id, &h, NULL, NULL, NULL,
					    NULL),
			 MMIG_OK);
	assert_null(h.desc_problem);
	assert_memory_equal(h.model_desc, desc, 1000);
	mmig__rec_header_free(&h);
	assert_int_equal(verify(f, report), 0);
	free(desc);
}

/* show prints the size and digest, never the bytes. */
static void
test_side_show_prints_size_not_bytes(void **state)
{
	struct fixture *f = *state;
	char desc[8 * 20 + 1] = "";
	uint8_t id[MMIG_ID_LEN];
	char text[37], *buf = NULL;
	size_t len = 0;
	FILE *out;

	for (int i = 0; i < 20; i++)
		strcat(desc, "SECRET-K");
	assert_true(strlen(desc) >= SMALL_MIN);
	create(f, (const uint8_t *)desc, strlen(desc), false, id);
	mmig__id_text(id, text);
	out = open_memstream(&buf, &len);
	assert_int_equal(mmig_journal_show(f->j, text, out, NULL), MMIG_OK);
	assert_int_equal(mmig_journal_dump(f->j, out, NULL), MMIG_OK);
	fclose(out);
	assert_null(strstr(buf, "SECRET"));
	assert_non_null(strstr(buf, "model_digest"));
	free(buf);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_side_threshold_both_sides),
		T(test_side_default_threshold_is_1_mib),
		T(test_side_missing_short_or_changed_is_named),
		T(test_side_orphans_reported_and_pruned_only_exact_names),
		T(test_side_prune_removes_side_files),
		T(test_side_prune_killed_after_commit_leaves_orphan),
		T(test_side_write_failure_leaves_nothing),
		T(test_side_compact_keeps_side_files),
		T(test_side_show_prints_size_not_bytes),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
