/*
 * tests/fuzz/test-fuzz-corpus.c - every seed and regression file of the
 * fold and model-parser fuzz targets, run through the targets' own entry
 * points in an ordinary build (no clang, no libFuzzer).  A property the
 * target checks aborts, so a regression fails here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both targets define the libFuzzer entry point: give each its own name. */
#define LLVMFuzzerTestOneInput fuzz_fold_input
#include "fuzz-fold.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_input
#include "fuzz-model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_yaml_input
#include "fuzz-yaml.c"
#undef LLVMFuzzerTestOneInput

#ifndef CORPUS_FOLD
#error "CORPUS_FOLD must name tests/fuzz/corpus/fold"
#endif

/* Run every file of @p dir through @p entry; @return how many. */
static int
run_corpus(const char *dir, int (*entry)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		uint8_t *buf;
		long size;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) < (int)sizeof(path));
		f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		size = ftell(f);
		assert_true(size >= 0);
		rewind(f);
		/* an exact-size heap copy, so ASan sees any overread */
		buf = malloc(size ? (size_t)size : 1);
		assert_non_null(buf);
		assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
		fclose(f);
		assert_int_equal(entry(buf, (size_t)size), 0);
		free(buf);
		files++;
	}
	closedir(d);
	return files;
}

static void
test_fuzz_corpus_fold(void **state)
{
	(void)state;
	assert_true(run_corpus(CORPUS_FOLD, fuzz_fold_input) >= 10);
}

/* The ok- files parse, the bad- ones are refused: the seeds mean what
 * their names say. */
static void
test_fuzz_corpus_model(void **state)
{
	DIR *d = opendir(CORPUS_MODEL);
	struct dirent *e;

	(void)state;
	assert_true(run_corpus(CORPUS_MODEL, fuzz_model_input) >= 8);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct mmig_model_desc *desc = NULL;
		char *msg = NULL;
		int rc;

		if (strncmp(e->d_name, "ok-", 3) != 0 &&
		    strncmp(e->d_name, "bad-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS_MODEL, e->d_name);
		rc = mmig_model_desc_parse_file(path, &desc, &msg, NULL, NULL);
		if (e->d_name[0] == 'o' && rc != MMIG_OK)
			fail_msg("%s: %s", e->d_name, msg);
		if (e->d_name[0] == 'b' && rc == MMIG_OK)
			fail_msg("%s: parses", e->d_name);
		mmig_model_desc_free(desc);
		mmig_model_desc_errmsg_free(msg);
	}
	closedir(d);
}

/* The YAML seeds: each through the parser, the emitter and the juju
 * reader; the ok- files are models that read. */
static void
test_fuzz_corpus_yaml(void **state)
{
	DIR *d = opendir(CORPUS_YAML);
	struct dirent *e;

	(void)state;
	assert_true(run_corpus(CORPUS_YAML, fuzz_yaml_input) >= 8);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct mmig_model_desc *desc = NULL;
		char *msg = NULL;
		int rc;

		if (strncmp(e->d_name, "ok-", 3) != 0 ||
		    strstr(e->d_name, "bundle"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS_YAML, e->d_name);
		rc = mmig_model_desc_parse_file(path, &desc, &msg, NULL, NULL);
		if (rc != MMIG_OK)
			fail_msg("%s: %s", e->d_name, msg);
		mmig_model_desc_free(desc);
	}
	closedir(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_corpus_fold),
		cmocka_unit_test(test_fuzz_corpus_model),
		cmocka_unit_test(test_fuzz_corpus_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
