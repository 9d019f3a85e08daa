/*
 * tests/test-registry.c - operations by name and version, constructors,
 * the model loader, and plug-ins loaded from a path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mmig/mmig.h"

static const struct mmig_op_vtable a1 = { .name = "a", .version = 1 };
static const struct mmig_op_vtable a2 = { .name = "a", .version = 2 };
static const struct mmig_op_vtable b1 = { .name = "b", .version = 1 };

static int made;

static struct mmig_error *
make(void *arg, void **self)
{
	made++;
	*self = arg;
	return NULL;
}

static struct mmig_error *
refuse(void *arg, void **self)
{
	return mmig_error_new(MMIG_EINVAL, "no instance today");
}

static void
test_registry_find_by_name_and_version(void **state)
{
	struct mmig_registry *r;
	const struct mmig_op_vtable *vt;

	(void)state;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &a1, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &a2, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &a2, NULL, NULL), MMIG_EEXIST);
	assert_int_equal(mmig_registry_add(r, NULL, NULL, NULL), MMIG_EINVAL);
	assert_int_equal(mmig_registry_len(r), 2);
	assert_int_equal(mmig_registry_find(r, "a", 2, &vt), MMIG_OK);
	assert_ptr_equal(vt, &a2);
	assert_int_equal(mmig_registry_find(r, "a", 3, &vt), MMIG_EVERSION);
	assert_int_equal(mmig_registry_find(r, "zz", 1, &vt), MMIG_EUNKNOWNOP);
	assert_ptr_equal(mmig_registry_at(r, 1), &a2);
	assert_null(mmig_registry_at(r, 2));
	mmig_registry_free(r);
}

static void
test_registry_build_names_what_is_missing(void **state)
{
	struct mmig_registry *r;
	struct mmig_error *err;
	struct mmig_op op;
	int payload;

	(void)state;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &a1, make, &payload), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &a2, NULL, NULL), MMIG_OK);
	assert_int_equal(mmig_registry_add(r, &b1, refuse, NULL), MMIG_OK);
	made = 0;
	assert_null(mmig_registry_build(r, "a", 1, &op));
	assert_ptr_equal(op.vt, &a1);
	assert_ptr_equal(op.self, &payload);
	assert_int_equal(made, 1);
	err = mmig_registry_build(r, "a", 9, &op);
	assert_int_equal(mmig_error_code(err), MMIG_EVERSION);
	assert_string_equal(mmig_error_message(err),
			    "operation \"a\" version 9: this build has "
			    "version 1, 2");
	mmig_error_free(err);
	err = mmig_registry_build(r, "nope", 1, &op);
	assert_int_equal(mmig_error_code(err), MMIG_EUNKNOWNOP);
	assert_non_null(strstr(mmig_error_message(err), "\"nope\""));
	mmig_error_free(err);
	err = mmig_registry_build(r, "b", 1, &op);
	assert_string_equal(mmig_error_message(err),
			    "construct operation b: no instance today");
	assert_null(op.vt);
	mmig_error_free(err);
	mmig_registry_free(r);
}

static struct mmig_error *
load(void *arg, const void *desc, size_t len, void **data)
{
	*data = strndup(desc, len);
	return NULL;
}

static void
unload(void *arg, void *data)
{
	free(data);
}

static void
test_registry_model_loader(void **state)
{
	struct mmig_registry *r;
	void *data;

	(void)state;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	assert_null(mmig_registry_load_model(r, "x", 1, &data));
	assert_null(data); /* no loader: no data */
	mmig_registry_set_model_loader(r, load, unload, NULL);
	assert_null(mmig_registry_load_model(r, "{\"a\":1}", 7, &data));
	assert_string_equal(data, "{\"a\":1}");
	mmig_registry_unload_model(r, data);
	mmig_registry_free(r);
}

static void
test_registry_plugin_loaded_from_its_path_only(void **state)
{
	struct mmig_registry *r;
	const struct mmig_op_vtable *vt;
	struct mmig_error *err = NULL;

	(void)state;
	assert_int_equal(mmig_registry_new(&r), MMIG_OK);
	if (mmig_registry_load_plugin(r, PLUGIN_PATH, &err) != MMIG_OK)
		fail_msg("%s", mmig_error_message(err));
	assert_int_equal(mmig_registry_find(r, "plugin-sample", 7, &vt),
			 MMIG_OK);
	assert_int_equal(vt->flags, MMIG_OP_IDEMPOTENT);
	/* a bare name is never searched for on the library path */
	assert_int_equal(mmig_registry_load_plugin(r, "libc.so.6", &err),
			 MMIG_EINVAL);
	assert_non_null(strstr(mmig_error_message(err), "libc.so.6"));
	mmig_error_free(err);
	/* a shared object without the entry point */
	assert_int_equal(mmig_registry_load_plugin(r, "/lib/x86_64-linux-gnu/libc.so.6",
						   &err),
			 MMIG_EINVAL);
	assert_non_null(strstr(mmig_error_message(err),
			       "no mmig_plugin_register()"));
	mmig_error_free(err);
	mmig_registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_find_by_name_and_version),
		cmocka_unit_test(test_registry_build_names_what_is_missing),
		cmocka_unit_test(test_registry_model_loader),
		cmocka_unit_test(test_registry_plugin_loaded_from_its_path_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
