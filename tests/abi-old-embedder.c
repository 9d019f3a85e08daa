/*
 * tests/abi-old-embedder.c - a program built against the first sized
 * layout (tests/abi/mmig-0.1.h, a frozen copy), run against the current
 * shared library.  It includes no current header: every struct it fills in
 * or reads is the old one, so the library must honour the size fields and
 * the accessors for it to work (see "ABI" in mmig/common.h).
 */
#include "abi/mmig-0.1.h"

#include "abi/fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const struct abi_entry abi_v1_table[] = {
	ABI_FIELDS(ABI_FIELD_ENTRY) ABI_STRUCTS(ABI_STRUCT_ENTRY)
};
const size_t abi_v1_table_len = sizeof(abi_v1_table) / sizeof(abi_v1_table[0]);

static int
fail(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Dies in the middle of the import, once the units are written. */
static void
die_in_units(void *arg, const char *op, uint64_t done, uint64_t total)
{
	(void)arg;
	(void)total;
	if (strcmp(op, "units") == 0 && done > 0)
		_exit(0);
}

/* A child that imports model @p seed into @p dir and dies mid-way. */
static void
child_import(const char *dir, uint64_t seed)
{
	char journal[512], controller[512], models[512];
	struct mmig_journal_options jo = {
		.size = sizeof(struct mmig_journal_options),
	};
	struct mmig_gen_opts go = {
		.size = sizeof(struct mmig_gen_opts),
		.machines = 3,
		.applications = 2,
		.units_per_app = 2,
		.relations = 1,
		.seed = seed,
	};
	struct mmig_import_options io = {
		.size = sizeof(struct mmig_import_options),
		.progress = die_in_units,
		.batch_rows = 1,
	};
	struct mmig_import_paths paths = { controller, models };
	struct mmig_journal *j = NULL;
	struct mmig_coordinator *c = NULL;
	struct mmig_model_desc *d = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_model model;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;

	snprintf(journal, sizeof(journal), "%s/journal", dir);
	snprintf(controller, sizeof(controller), "%s/controller.db", dir);
	snprintf(models, sizeof(models), "%s/models", dir);
	mem = open_memstream(&buf, &len);
	if (!mem || mmig_model_desc_generate(&go, mem) != MMIG_OK)
		_exit(2);
	fclose(mem);
	if (mmig_model_desc_parse(buf, len, &d, NULL) != MMIG_OK ||
	    mmig_journal_open(&j, journal, &jo, NULL) != MMIG_OK ||
	    mmig_coordinator_new(&c, NULL, NULL) != MMIG_OK ||
	    mmig_import_add_ops_opts(c, &io) != MMIG_OK ||
	    mmig_import_scope_for_model(&paths, d->uuid, MMIG_PROCESS,
					&scope) != MMIG_OK)
		_exit(3);
	mmig_coordinator_set_journal(c, j, MMIG_PROCESS);
	model = (struct mmig_model){ d->uuid, buf, len, d };
	mmig_coordinator_perform(c, NULL, scope, &model);
	_exit(4); /* the progress callback should have ended it */
}

static struct mmig_error *
noop(void *self, struct mmig_scope *scope)
{
	(void)self;
	(void)scope;
	return NULL;
}

int
abi_old_embedder_run(const char *dir, char *why, size_t n)
{
	char journal[512], controller[512], models[512], model_db[512];
	struct mmig_import_paths paths = { controller, models };
	struct mmig_journal_options jo = {
		.size = sizeof(struct mmig_journal_options),
	};
	struct mmig_recover_options ro = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = mmig_import_scope_for_model,
		.scope_arg = &paths,
	};
	struct mmig_journal_stats st = {
		.size = sizeof(struct mmig_journal_stats),
	};
	struct mmig_migration_info info = {
		.size = sizeof(struct mmig_migration_info),
	};
	static const struct mmig_op_vtable vt = {
		.size = sizeof(struct mmig_op_vtable),
		.name = "old-op",
		.version = 1,
		.setup = noop,
	};
	static const struct mmig_op_vtable vt_short = {
		.size = 3, /* below any layout */
		.name = "short-op",
		.version = 1,
	};
	struct mmig_scope_config sc = {
		.size = sizeof(struct mmig_scope_config),
		.controller_db = controller,
		.model_db = model_db,
		.durability = MMIG_PROCESS,
	};
	struct mmig_migration_info *list = NULL;
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = NULL;
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	char ids[2][37];
	size_t n_list = 0;
	int rc = -1;

	snprintf(journal, sizeof(journal), "%s/journal", dir);
	snprintf(controller, sizeof(controller), "%s/controller.db", dir);
	snprintf(models, sizeof(models), "%s/models", dir);
	snprintf(model_db, sizeof(model_db), "%s/scratch.db", dir);
	for (uint64_t seed = 1; seed <= 2; seed++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return fail(why, n, "fork failed");
		if (pid == 0)
			child_import(dir, seed);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			return fail(why, n, "import child %d ended with %d",
				    (int)seed, status);
	}
	if (mmig_journal_open(&j, journal, &jo, NULL) != MMIG_OK)
		return fail(why, n, "journal_open refused the 0.1 options");
	/* The list, read through the accessor with the old struct. */
	if (mmig_journal_list(j, true, &list, &n_list) != MMIG_OK ||
	    n_list != 2) {
		fail(why, n, "journal_list: %zu migrations", n_list);
		goto out;
	}
	for (size_t i = 0; i < n_list; i++) {
		const struct mmig_migration_info *m =
			mmig_migration_info_at(list, i);

		if (strcmp(m->state, "RUNNING") != 0 || m->owner_alive ||
		    m->ops_total != 7 || m->highest_begun != 4) {
			fail(why, n, "list[%zu]: %s alive %d ops %u begun %lld",
			     i, m->state, m->owner_alive, m->ops_total,
			     (long long)m->highest_begun);
			goto out;
		}
		memcpy(ids[i], m->id, sizeof(ids[i]));
	}
	if (mmig_journal_get(j, ids[1], &info) != MMIG_OK ||
	    strcmp(info.id, ids[1]) != 0 || strcmp(info.state, "RUNNING") ||
	    info.size != sizeof(struct mmig_migration_info)) {
		fail(why, n, "journal_get with the 0.1 struct");
		goto out;
	}
	mmig_migration_info_clear(&info);
	/* Recovery, and its summary read through the accessor. */
	if (mmig_registry_new(&r) != MMIG_OK ||
	    mmig_import_register(r) != MMIG_OK ||
	    mmig_recover(j, r, &ro, &s) != MMIG_OK || s->n != 2 ||
	    s->n_unsettled != 0) {
		fail(why, n, "recover with the 0.1 options");
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct mmig_recover_item *it =
			mmig_recover_summary_item(s, i);

		if (strcmp(it->id, ids[0]) != 0 && strcmp(it->id, ids[1]) != 0) {
			fail(why, n, "summary item %zu: id \"%.36s\"", i,
			     it->id);
			goto out;
		}
		if (it->action != MMIG_RECOVER_ROLLED_BACK || it->n_steps < 3 ||
		    strcmp(it->steps[it->n_steps - 1], "record ROLLED_BACK")) {
			fail(why, n, "summary item %zu: action %d", i,
			     (int)it->action);
			goto out;
		}
	}
	if (mmig_recover_summary_item(s, 2) != NULL) {
		fail(why, n, "summary item past the end");
		goto out;
	}
	mmig_journal_get_stats(j, &st);
	if (st.size != sizeof(st) || st.records == 0) {
		fail(why, n, "get_stats with the 0.1 struct");
		goto out;
	}
	/* The 0.1 vtable and scope configuration. */
	if (mmig_registry_add(r, &vt, NULL, NULL) != MMIG_OK ||
	    mmig_registry_add(r, &vt_short, NULL, NULL) != MMIG_EINVAL) {
		fail(why, n, "registry_add with 0.1 vtables");
		goto out;
	}
	if (mmig_scope_new(&scope, &sc) != MMIG_OK) {
		fail(why, n, "scope_new with the 0.1 config");
		goto out;
	}
	rc = 0;
out:
	mmig_scope_free(scope);
	mmig_migration_info_free(list, n_list);
	mmig_recover_summary_free(s);
	mmig_registry_free(r);
	mmig_journal_close(j);
	return rc;
}
