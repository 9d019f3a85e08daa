/*
 * tests/power/power-helper.c - the step plan of the power-cut suite: a
 * journaled migration of N_OPS small operations in durable mode, and its
 * recovery, as a program the suite runs under the power-cut shim.
 *
 *   power-helper run DIR [--fail-at K]   run the migration; op K's execute
 *                                        fails (after its transaction
 *                                        committed), so it rolls back
 *   power-helper recover DIR             mmig_recover, rollback policy
 *
 * DIR holds journal/, controller.db and models/.  The operations are the
 * crash suites' (tests/steps.c): op i inserts row i into `steps` and
 * counts its work in `tally`, both in the controller database, through
 * mmig_txn_run; op 2 also writes a row to the model database; rollback
 * deletes the row and counts the undo in `tally` in the same transaction,
 * so the tally counts completed work and completed undos exactly.
 *
 * Output: `run` prints "committed" or "rolled-back" (the outcome perform
 * reported) and exits 0 or 1, 3 for anything else; `recover` prints one
 * "ID ACTION" line per migration and exits 0 when all settled.
 */
#include <mmig/mmig.h>

#include "../steps.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OPS 5
#define MODEL_UUID "6ba7b810-9dad-41d1-80b4-00c04fd430c8"

static void
quiet(void *arg, enum mmig_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

struct paths {
	char journal[4096];
	char ctl[4096];
	char models[4096];
};

static int
scope_for(void *arg, const char *uuid, enum mmig_durability d,
	  struct mmig_scope **out)
{
	const struct paths *p = arg;

	return mmig_scope_for_model(out, p->ctl, p->models, uuid, d);
}

static int
run(const struct paths *p, int fail_at)
{
	struct mmig_model model = { .uuid = MODEL_UUID, .desc = "{}",
				    .desc_len = 2 };
	struct mmig_registry *r = steps_registry(N_OPS, -1);
	struct mmig_coordinator *c = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_journal *j = NULL;
	int rc, status = 3;

	if (!r || mmig_journal_open(&j, p->journal, NULL, NULL) != MMIG_OK ||
	    mmig_coordinator_new(&c, quiet, NULL) != MMIG_OK)
		goto out;
	steps_knobs.fail_execute_of = fail_at;
	if (steps_add(c, r, N_OPS) != MMIG_OK)
		goto out;
	mmig_coordinator_set_journal(c, j, MMIG_DURABLE);
	if (mmig_scope_for_model(&scope, p->ctl, p->models, MODEL_UUID,
				 MMIG_DURABLE) != MMIG_OK)
		goto out;
	rc = mmig_coordinator_perform(c, NULL, scope, &model);
	(void)rc;
	switch (mmig_coordinator_outcome(c)) {
	case MMIG_OUTCOME_COMMITTED:
		printf("committed\n");
		status = 0;
		break;
	case MMIG_OUTCOME_ROLLED_BACK:
		printf("rolled-back\n");
		status = 1;
		break;
	default:
		printf("%s\n", mmig_outcome_name(mmig_coordinator_outcome(c)));
		break;
	}
out:
	mmig_coordinator_free(c);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return status;
}

static int
recover(struct paths *p)
{
	struct mmig_recover_options o = {
		.size = sizeof(struct mmig_recover_options),
		.policy = MMIG_POLICY_ROLLBACK,
		.scope_for_model = scope_for,
		.scope_arg = p,
		.log = quiet,
	};
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = steps_registry(N_OPS, -1);
	struct mmig_journal *j = NULL;
	int rc = MMIG_ENOMEM;

	if (r)
		rc = mmig_journal_open(&j, p->journal, NULL, NULL);
	if (rc == MMIG_OK)
		rc = mmig_recover(j, r, &o, &s);
	for (size_t i = 0; rc == MMIG_OK && i < s->n; i++)
		printf("%s %s %s%s%s\n", mmig_recover_summary_item(s, i)->id,
		       mmig_recover_summary_item(s, i)->model_uuid,
		       mmig_recover_action_name(
			       mmig_recover_summary_item(s, i)->action),
		       mmig_recover_summary_item(s, i)->message ? ": " : "",
		       mmig_recover_summary_item(s, i)->message
			       ? mmig_recover_summary_item(s, i)->message
			       : "");
	if (rc == MMIG_OK && s->n_unsettled)
		rc = MMIG_EATTENTION;
	if (rc != MMIG_OK)
		fprintf(stderr, "power-helper: recover: %s\n",
			mmig_strerror(rc));
	mmig_recover_summary_free(s);
	mmig_journal_close(j);
	mmig_registry_free(r);
	return rc == MMIG_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct paths p;
	int fail_at = -1;

	if (argc < 3 || (strcmp(argv[1], "run") && strcmp(argv[1], "recover"))) {
		fprintf(stderr, "usage: power-helper run|recover DIR "
				"[--fail-at K]\n");
		return 2;
	}
	if (argc == 5 && strcmp(argv[3], "--fail-at") == 0)
		fail_at = atoi(argv[4]);
	snprintf(p.journal, sizeof(p.journal), "%s/journal", argv[2]);
	snprintf(p.ctl, sizeof(p.ctl), "%s/controller.db", argv[2]);
	snprintf(p.models, sizeof(p.models), "%s/models", argv[2]);
	if (strcmp(argv[1], "run") == 0)
		return run(&p, fail_at);
	return recover(&p);
}
