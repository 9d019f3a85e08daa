/*
 * tests/fuzz/fuzz-model.c - libFuzzer target for the model-description
 * parser, mmig_model_desc_parse() (domain/model.c).
 *
 * Whatever the bytes: no crash, no leak, and the parser's contract holds:
 * MMIG_OK with a description and no message, or MMIG_EMODEL with a
 * one-line message and no description (or MMIG_ENOMEM).  A description
 * that parses is walked whole, and its unit count must add up.  A property
 * that does not hold aborts, which libFuzzer reports as a crash.
 */
#include "mmig/import.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
model_walk(const struct mmig_model_desc *d)
{
	size_t units = 0, chars = 0;

	if (!d->uuid || !d->name || !d->owner || !d->cloud)
		abort();
	for (size_t i = 0; i < d->n_config; i++)
		chars += strlen(d->config[i].key);
	for (size_t i = 0; i < d->n_machines; i++)
		chars += strlen(d->machines[i].id);
	for (size_t i = 0; i < d->n_apps; i++) {
		chars += strlen(d->apps[i].name);
		units += d->apps[i].n_units;
	}
	if (units != d->n_units_total)
		abort();
	(void)chars;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmig_model_desc *d = NULL;
	char *msg = NULL;
	/* An empty input is a valid call with a non-NULL pointer. */
	static const uint8_t none[1];
	int rc = mmig_model_desc_parse(size ? (const void *)data : none, size,
				       &d, &msg);

	if (rc == MMIG_OK) {
		if (!d || msg)
			abort();
		model_walk(d);
	} else if (rc == MMIG_EMODEL) {
		if (d || !msg || !msg[0] || strchr(msg, '\n'))
			abort();
	} else if (rc != MMIG_ENOMEM) {
		abort();
	}
	mmig_model_desc_free(d);
	mmig_model_desc_errmsg_free(msg);
	return 0;
}
