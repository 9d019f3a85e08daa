/*
 * tests/plugin-sample.c - the smallest plug-in: registers one operation.
 * Loaded by tests/test-registry.c through mmig_registry_load_plugin().
 */
#include <mmig/mmig.h>

static struct mmig_error *
sample_execute(void *self, struct mmig_ctx *ctx, const struct mmig_model *m)
{
	return NULL;
}

static const struct mmig_op_vtable sample_vt = {
	.size = sizeof(struct mmig_op_vtable),
	.name = "plugin-sample",
	.version = 7,
	.flags = MMIG_OP_IDEMPOTENT,
	.execute = sample_execute,
};

int mmig_plugin_register(struct mmig_registry *r);

__attribute__((visibility("default"))) int
mmig_plugin_register(struct mmig_registry *r)
{
	return mmig_registry_add(r, &sample_vt, NULL, NULL);
}
