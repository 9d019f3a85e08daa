/*
 * examples/ledger-run.c - runs the ledger plug-in's operations
 * (examples/ledger-plugin.c) as one journaled migration, as an embedder's
 * program would.  If it dies, `mmig-recover --plugin ledger-plugin.so`
 * finishes or rolls back what it left (docs/plugins.md).
 *
 *   ledger-run --plugin FILE.so --journal DIR --controller-db FILE
 *              --model-dir DIR --uuid UUID [--hold-after OP --ready FILE]
 *
 * It loads the plug-in into a registry, exactly as mmig-recover does, and
 * builds its plan from the registry's entries in registration order: the
 * program and the recovery tool thus run the same code.  The databases are
 * those mmig-recover reaches by default: the controller database and
 * MODEL-DIR/UUID.db (mmig_import_scope_for_model()).
 *
 * --hold-after OP stops the migration after OP's execute, before the
 * journal records OP as done: it creates FILE and waits to be killed.  The
 * example's test kills it there with SIGKILL.
 *
 * Exit status: 0 committed, 1 anything else, 2 usage.
 */
#include <mmig/mmig.h>

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct hold {
	const char *op;
	const char *ready;
};

/* The coordinator's hook: runs after each execute, before DONE. */
static struct mmig_error *
hold_hook(void *arg, const struct mmig_op *op)
{
	const struct hold *h = arg;

	if (h->op && strcmp(op->vt->name, h->op) == 0) {
		close(open(h->ready, O_WRONLY | O_CREAT, 0644));
		for (;;)
			pause(); /* until killed */
	}
	return NULL;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: ledger-run --plugin FILE.so --journal DIR "
		     "--controller-db FILE --model-dir DIR --uuid UUID "
		     "[--hold-after OP --ready FILE]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "plugin", required_argument, NULL, 'p' },
		{ "journal", required_argument, NULL, 'j' },
		{ "controller-db", required_argument, NULL, 'c' },
		{ "model-dir", required_argument, NULL, 'm' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "hold-after", required_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mmig_import_paths paths = { 0 };
	const char *plugin = NULL, *journal_dir = NULL, *uuid = NULL;
	struct hold hold = { 0 };
	struct mmig_registry *reg = NULL;
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_ctx *ctx = NULL;
	struct mmig_error *err = NULL;
	struct mmig_model model = { 0 };
	char desc[256];
	int opt, rc, ex = 1;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			plugin = optarg;
			break;
		case 'j':
			journal_dir = optarg;
			break;
		case 'c':
			paths.controller_db = optarg;
			break;
		case 'm':
			paths.model_dir = optarg;
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'H':
			hold.op = optarg;
			break;
		case 'r':
			hold.ready = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!plugin || !journal_dir || !paths.controller_db ||
	    !paths.model_dir || !uuid || optind != argc ||
	    (hold.op && !hold.ready)) {
		usage(stderr);
		return 2;
	}
	/*
	 * mmig-recover parses every journaled description with the reference
	 * import's loader, so the description is a minimal valid one; the
	 * ledger's operations need nothing from it but the uuid.
	 */
	snprintf(desc, sizeof(desc),
		 "{\"version\":1,\"model\":{\"uuid\":\"%s\",\"name\":"
		 "\"ledger\",\"owner\":\"admin\",\"cloud\":\"example\"}}",
		 uuid);
	model = (struct mmig_model){
		.uuid = uuid,
		.desc = desc,
		.desc_len = strlen(desc),
	};

	rc = mmig_registry_new(&reg);
	if (rc == MMIG_OK)
		rc = mmig_registry_load_plugin(reg, plugin, &err);
	if (rc == MMIG_OK)
		rc = mmig_journal_open(&j, journal_dir, NULL, &err);
	if (rc == MMIG_OK)
		rc = mmig_import_scope_for_model(&paths, uuid, MMIG_DURABLE,
						 &scope);
	if (rc == MMIG_OK)
		rc = mmig_coordinator_new(&c, NULL, NULL);
	if (rc == MMIG_OK)
		rc = mmig_ctx_new(&ctx);
	/* The plan: every operation the plug-in registered, in order. */
	for (size_t i = 0; rc == MMIG_OK && i < mmig_registry_len(reg); i++) {
		const struct mmig_op_vtable *vt = mmig_registry_at(reg, i);
		struct mmig_op op;

		err = mmig_registry_build(reg, vt->name, vt->version, &op);
		if (err) {
			rc = mmig_error_code(err);
			break;
		}
		rc = mmig_coordinator_add(c, op.vt, op.self);
		if (rc != MMIG_OK && op.vt->destroy)
			op.vt->destroy(op.self);
	}
	if (rc != MMIG_OK) {
		fprintf(stderr, "ledger-run: %s\n",
			err ? mmig_error_message(err) : mmig_strerror(rc));
		goto out;
	}
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	mmig_coordinator_set_hook(c, hold_hook, &hold);
	rc = mmig_coordinator_perform(c, ctx, scope, &model);
	printf("migration %s: %s\n", mmig_coordinator_migration_id(c),
	       mmig_outcome_name(mmig_coordinator_outcome(c)));
	if (rc != MMIG_OK)
		fprintf(stderr, "ledger-run: %s\n", mmig_coordinator_errmsg(c));
	ex = rc == MMIG_OK ? 0 : 1;
out:
	mmig_error_free(err);
	mmig_ctx_free(ctx);
	/* The operations' code lives in the plug-in: free them before the
	 * registry unloads it. */
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_registry_free(reg);
	return ex;
}
