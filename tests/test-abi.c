/*
 * tests/test-abi.c - the ABI can grow (see "ABI" in mmig/common.h).
 *
 * Built against the shared library, as an embedder is.  A program compiled
 * against a frozen copy of the first sized layout (abi-old-embedder.c with
 * tests/abi/mmig-0.1.h) imports, lists, reads and recovers through the
 * current library; every field of that layout keeps its offset and size;
 * fields added since start past the old struct's end; and the size rules
 * hold: 0 is the first layout, a size below it is refused, a larger one
 * (a newer embedder) has its unknown tail ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmig/mmig.h"

#include "abi/fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct abi_entry current_table[] = {
	ABI_FIELDS(ABI_FIELD_ENTRY) ABI_STRUCTS(ABI_STRUCT_ENTRY)
};

struct fixture {
	char dir[64];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mmig-abi-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
test_abi_first_layout_fields_keep_their_place(void **state)
{
	(void)state;
	assert_int_equal(abi_v1_table_len,
			 sizeof(current_table) / sizeof(current_table[0]));
	for (size_t i = 0; i < abi_v1_table_len; i++) {
		const struct abi_entry *old = &abi_v1_table[i];
		const struct abi_entry *now = &current_table[i];

		assert_string_equal(old->type, now->type);
		if (old->field) {
			if (old->offset != now->offset ||
			    old->size != now->size)
				fail_msg("%s.%s moved: offset %zu -> %zu, size "
					 "%zu -> %zu",
					 old->type, old->field, old->offset,
					 now->offset, old->size, now->size);
		} else if (now->size < old->size) {
			fail_msg("struct %s shrank: %zu -> %zu", old->type,
				 old->size, now->size);
		}
	}
}

/* The one field added since the first layout starts past its end (tail
 * padding included), so an old struct never seems to cover it. */
static void
test_abi_new_fields_start_past_the_old_end(void **state)
{
	size_t old_item = 0;

	(void)state;
	for (size_t i = 0; i < abi_v1_table_len; i++)
		if (!abi_v1_table[i].field &&
		    strcmp(abi_v1_table[i].type, "mmig_recover_item") == 0)
			old_item = abi_v1_table[i].size;
	assert_true(old_item > 0);
	assert_true(offsetof(struct mmig_recover_item, step_info) >= old_item);
	assert_true(sizeof(struct mmig_recover_item) > old_item);
}

static void
test_abi_old_embedder_works(void **state)
{
	struct fixture *f = *state;
	char why[256] = "";

	if (abi_old_embedder_run(f->dir, why, sizeof(why)) != 0)
		fail_msg("old embedder: %s", why);
}

static void
test_abi_size_zero_is_the_first_layout(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_options o = { .size = 0 };
	struct mmig_journal_stats st = { .size = 0, .commits = 12345 };
	struct mmig_migration_info info = { .size = 0 };
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	char path[128], db[160];
	struct mmig_scope_config cfg = {
		.controller_db = db,
		.model_db = db,
	};

	snprintf(path, sizeof(path), "%s/j", f->dir);
	snprintf(db, sizeof(db), "%s/c.db", f->dir);
	assert_int_equal(mmig_journal_open(&j, path, &o, NULL), MMIG_OK);
	mmig_journal_get_stats(j, &st);
	assert_int_equal(st.size, 0);
	assert_true(st.commits < 1000); /* filled in */
	assert_int_equal(mmig_journal_get(j, "nosuch", &info),
			 MMIG_ENOTFOUND);
	assert_int_equal(mmig_scope_new(&scope, &cfg), MMIG_OK);
	mmig_scope_free(scope);
	mmig_journal_close(j);
}

static void
test_abi_size_below_the_first_layout_is_refused(void **state)
{
	struct fixture *f = *state;
	struct mmig_journal_options o = { .size = sizeof(size_t) };
	struct mmig_recover_options ro = { .size = 1 };
	struct mmig_import_options io = { .size = sizeof(size_t) + 1 };
	struct mmig_gen_opts go = { .size = 2 };
	struct mmig_migration_info info = { .size = 5 };
	struct mmig_recover_summary *s = (void *)1;
	struct mmig_registry *r = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_scope_config cfg = {
		.size = 7,
		.controller_db = "a.db",
		.model_db = "b.db",
	};
	static const struct mmig_op_vtable vt = { .size = 4, .name = "x" };
	char path[128];

	snprintf(path, sizeof(path), "%s/j", f->dir);
	assert_int_equal(mmig_journal_open(&j, path, &o, &err), MMIG_EINVAL);
	assert_null(j);
	assert_non_null(strstr(mmig_error_message(err), "journal options"));
	mmig_error_free(err);
	o.size = 0;
	assert_int_equal(mmig_journal_open(&j, path, &o, NULL), MMIG_OK);
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_recover(j, r, &ro, &s), MMIG_EINVAL);
	assert_null(s);
	assert_int_equal(mmig_journal_get(j, "x", &info), MMIG_EINVAL);
	assert_int_equal(mmig_registry_add(r, &vt, NULL, NULL), MMIG_EINVAL);
	assert_int_equal(mmig_scope_new(&scope, &cfg), MMIG_EINVAL);
	assert_int_equal(mmig_coordinator_new(&c, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_coordinator_add(c, &vt, NULL), MMIG_EINVAL);
	assert_int_equal(mmig_import_add_ops_opts(c, &io), MMIG_EINVAL);
	assert_int_equal(mmig_coordinator_len(c), 0);
	assert_int_equal(mmig_model_desc_generate(&go, stdout), MMIG_EINVAL);
	mmig_coordinator_free(c);
	mmig_registry_free(r);
	mmig_journal_close(j);
}

/* A newer embedder's larger struct: what this library does not know is
 * ignored, what it knows is read. */
static void
test_abi_larger_size_ignores_the_unknown_tail(void **state)
{
	struct fixture *f = *state;
	struct {
		struct mmig_journal_options o;
		uint64_t future[4];
	} newer = {
		.o = { .size = sizeof(newer), .flags = MMIG_JOURNAL_RDONLY },
		.future = { 1, 2, 3, 4 },
	};
	struct {
		struct mmig_journal_stats st;
		uint64_t future;
	} stats = { .st = { .size = sizeof(stats) }, .future = 77 };
	struct mmig_journal *j = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/j", f->dir);
	assert_int_equal(mmig_journal_open(&j, path, NULL, NULL), MMIG_OK);
	mmig_journal_close(j);
	/* Read-only was read from the larger struct: nothing is written. */
	assert_int_equal(mmig_journal_open(&j, path, &newer.o, NULL), MMIG_OK);
	mmig_journal_get_stats(j, &stats.st);
	assert_int_equal(stats.st.size, sizeof(stats));
	assert_int_equal(stats.st.commits, 0);
	/* Nothing written past the library's own layout. */
	assert_int_equal(stats.future, 77);
	mmig_journal_close(j);
}

/* Writing into a caller's struct stops at the caller's size. */
static void
test_abi_out_structs_stop_at_the_callers_size(void **state)
{
	struct fixture *f = *state;
	union {
		struct mmig_journal_stats st;
		unsigned char bytes[sizeof(struct mmig_journal_stats)];
	} u;
	size_t small = offsetof(struct mmig_journal_stats, map_grows) +
		       sizeof(uint64_t);
	struct mmig_journal *j = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/j", f->dir);
	assert_int_equal(mmig_journal_open(&j, path, NULL, NULL), MMIG_OK);
	memset(&u, 0xa5, sizeof(u));
	u.st.size = small;
	mmig_journal_get_stats(j, &u.st);
	assert_int_equal(u.st.size, small);
	assert_true(u.st.commits < 1000); /* filled in */
	for (size_t i = small; i < sizeof(u); i++)
		assert_int_equal(u.bytes[i], 0xa5);
	mmig_journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_first_layout_fields_keep_their_place),
		cmocka_unit_test(test_abi_new_fields_start_past_the_old_end),
		cmocka_unit_test_setup_teardown(test_abi_old_embedder_works,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_abi_size_zero_is_the_first_layout, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_abi_size_below_the_first_layout_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_abi_larger_size_ignores_the_unknown_tail, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_abi_out_structs_stop_at_the_callers_size, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
