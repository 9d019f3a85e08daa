/*
 * tests/test-modes.c - the modes of what the library creates (issue 13):
 * the controller and model databases and their -wal and -shm 0600, the
 * model directory 0700, whatever the umask; mmig_scope_set_file_mode()
 * widens the files' mode exactly; what exists is never changed; a
 * compacted journal keeps its data file 0600.
 *
 * Each test sets its own umask (the widest, 0, unless it says otherwise)
 * and a fresh temporary directory; the files are looked at while the
 * connection is open, when the -wal and -shm exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmig/error.h"
#include "mmig/import.h"
#include "mmig/journal.h"
#include "mmig/scope.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

struct fixture {
	char dir[64];
	char controller[128];
	char model[128];
	mode_t umask_before;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-modes-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->controller, sizeof(f->controller), "%s/controller.db",
		 f->dir);
	snprintf(f->model, sizeof(f->model), "%s/model.db", f->dir);
	f->umask_before = umask(0);
	*state = f;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag,
	     struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	umask(f->umask_before);
	rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* The permission bits of @p path, which must exist. */
static unsigned
mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		fail_msg("stat %s: %s", path, strerror(errno));
	return (unsigned)(st.st_mode & 07777);
}

/* @p path, its -wal and its -shm all have mode @p want. */
static void
assert_db_mode(const char *path, unsigned want)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char p[256];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		if (mode_of(p) != want)
			fail_msg("%s: mode %04o, want %04o", p, mode_of(p),
				 want);
	}
}

static struct mmig_error *
create_table(sqlite3 *db, void *arg)
{
	(void)arg;
	return sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL) ==
			       SQLITE_OK
		       ? NULL
		       : mmig_error_new(MMIG_EDB, "create table");
}

/* Write to both databases of @p s, so that each has its -wal and -shm. */
static void
write_both(struct mmig_scope *s)
{
	struct mmig_txn_runner *c = NULL, *m = NULL;

	assert_null(mmig_scope_controller_db(s, &c));
	assert_null(mmig_scope_model_db(s, &m));
	assert_null(mmig_txn_run(c, NULL, create_table, NULL));
	assert_null(mmig_txn_run(m, NULL, create_table, NULL));
}

static struct mmig_scope *
new_scope(const struct fixture *f)
{
	struct mmig_scope_config cfg = {
		.controller_db = f->controller,
		.model_db = f->model,
		.durability = MMIG_DURABLE,
	};
	struct mmig_scope *s = NULL;

	assert_int_equal(mmig_scope_new(&s, &cfg), MMIG_OK);
	return s;
}

static void
test_modes_databases_owner_only_whatever_the_umask(void **state)
{
	struct fixture *f = *state;
	static const mode_t umasks[] = { 0, 022, 077 };

	for (size_t i = 0; i < 3; i++) {
		struct mmig_scope *s;

		umask(umasks[i]);
		s = new_scope(f);
		write_both(s);
		assert_db_mode(f->controller, 0600);
		assert_db_mode(f->model, 0600);
		mmig_scope_free(s);
		assert_null(mmig_model_db_remove(NULL, f->model));
		assert_null(mmig_model_db_remove(NULL, f->controller));
	}
}

static void
test_modes_set_file_mode_widens_exactly(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s;

	umask(077); /* narrower than asked: still exactly 0640 */
	s = new_scope(f);
	assert_int_equal(mmig_scope_set_file_mode(s, 0640), MMIG_OK);
	write_both(s);
	assert_db_mode(f->controller, 0640);
	assert_db_mode(f->model, 0640);
	mmig_scope_free(s);
}

static void
test_modes_set_file_mode_rejects_bad_modes(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s = new_scope(f);
	static const unsigned bad[] = { 0400, 0200, 0700, 0611, 04600, 01600,
					0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mmig_scope_set_file_mode(s, bad[i]),
				 MMIG_EINVAL);
	assert_int_equal(mmig_scope_set_file_mode(NULL, 0600), MMIG_EINVAL);
	assert_int_equal(mmig_scope_set_file_mode(s, 0666), MMIG_OK);
	assert_int_equal(mmig_scope_set_file_mode(s, 0600), MMIG_OK);
	/* the last one set holds */
	write_both(s);
	assert_db_mode(f->model, 0600);
	mmig_scope_free(s);
}

static void
test_modes_existing_files_are_not_changed(void **state)
{
	struct fixture *f = *state;
	struct mmig_scope *s;
	int fd;

	/* An operator's empty controller database, world-readable. */
	fd = open(f->controller, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	s = new_scope(f);
	write_both(s);
	assert_db_mode(f->controller, 0644);
	assert_db_mode(f->model, 0600);
	mmig_scope_free(s);
}

static void
test_modes_import_makes_model_dir_and_controller_private(void **state)
{
	struct fixture *f = *state;
	char models[160], parent[160], db[256];
	struct mmig_import_paths paths = { .controller_db = f->controller };
	struct mmig_error *err = NULL;
	struct mmig_txn_runner *m = NULL;
	struct mmig_scope *s = NULL;

	snprintf(parent, sizeof(parent), "%s/var", f->dir);
	snprintf(models, sizeof(models), "%s/var/models", f->dir);
	snprintf(db, sizeof(db), "%s/" UUID ".db", models);
	paths.model_dir = models;
	assert_int_equal(mmig_import_controller_init(f->controller, &err),
			 MMIG_OK);
	assert_int_equal(mode_of(f->controller), 0600);
	assert_int_equal(mmig_import_scope_for_model(&paths, UUID,
						     MMIG_DURABLE, &s),
			 MMIG_OK);
	assert_int_equal(mode_of(parent), 0700);
	assert_int_equal(mode_of(models), 0700);
	assert_null(mmig_scope_model_db(s, &m));
	assert_null(mmig_txn_run(m, NULL, create_table, NULL));
	assert_db_mode(db, 0600);
	mmig_scope_free(s);
}

static void
test_modes_import_leaves_an_existing_model_dir_alone(void **state)
{
	struct fixture *f = *state;
	char models[160];
	struct mmig_import_paths paths = { .controller_db = f->controller };
	struct mmig_scope *s = NULL;

	snprintf(models, sizeof(models), "%s/models", f->dir);
	assert_int_equal(mkdir(models, 0755), 0);
	paths.model_dir = models;
	assert_int_equal(mmig_import_scope_for_model(&paths, UUID,
						     MMIG_DURABLE, &s),
			 MMIG_OK);
	assert_int_equal(mode_of(models), 0755);
	mmig_scope_free(s);
}

/* mdb_env_copy2() creates its copy 0666 & ~umask: the compacted data
 * file, which holds descriptions (model config, credentials), must be
 * made 0600 again before it replaces the journal's. */
static void
test_modes_compacted_journal_stays_owner_only(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal *j = NULL;
	char jdir[128], data[160];
	uint64_t before = 0, after = 0;

	snprintf(jdir, sizeof(jdir), "%s/journal", f->dir);
	snprintf(data, sizeof(data), "%s/data.mdb", jdir);
	umask(0);
	assert_int_equal(mmig_journal_open(&j, jdir, NULL, NULL), MMIG_OK);
	mmig_journal_close(j);
	assert_int_equal(mode_of(data), 0600);
	assert_int_equal(mmig_journal_compact(jdir, &before, &after, NULL),
			 MMIG_OK);
	assert_true(after > 0);
	assert_int_equal(mode_of(data), 0600);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_modes_databases_owner_only_whatever_the_umask),
		T(test_modes_set_file_mode_widens_exactly),
		T(test_modes_set_file_mode_rejects_bad_modes),
		T(test_modes_existing_files_are_not_changed),
		T(test_modes_import_makes_model_dir_and_controller_private),
		T(test_modes_import_leaves_an_existing_model_dir_alone),
		T(test_modes_compacted_journal_stays_owner_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
