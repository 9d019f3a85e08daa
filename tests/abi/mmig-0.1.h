/*
 * tests/abi/mmig-0.1.h - a frozen copy of the public structs of the first
 * sized layout (libmmig 0.1, symbol node MMIG_0.1) and of the prototypes
 * an embedder of that time used.  Never edit it to follow the library: it
 * stands for a program compiled once, long ago, that must keep working
 * with every later libmmig without being rebuilt.  The only fields it
 * lacks are those documented "since 0.2" (struct mmig_recover_item's
 * step_info).
 */
#ifndef MMIG_ABI_0_1_H
#define MMIG_ABI_0_1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mmig_journal;
struct mmig_registry;
struct mmig_coordinator;
struct mmig_scope;
struct mmig_ctx;
struct mmig_error;

enum mmig_durability { MMIG_DURABLE = 0, MMIG_PROCESS = 1 };
enum mmig_log_level { MMIG_LOG_DEBUG, MMIG_LOG_INFO, MMIG_LOG_WARN,
		      MMIG_LOG_ERROR };
typedef void (*mmig_log_fn)(void *arg, enum mmig_log_level level,
			    const char *msg);

#define MMIG_OK 0
#define MMIG_EINVAL (-1004)

struct mmig_journal_options {
	size_t size;
	unsigned flags;
	size_t initial_map_size;
};

struct mmig_journal_stats {
	size_t size;
	uint64_t commits;
	uint64_t syncs;
	uint64_t records;
	uint64_t bytes;
	uint64_t map_grows;
};

struct mmig_migration_info {
	size_t size;
	char id[37];
	char model_uuid[37];
	const char *state;
	const char *durability;
	uint32_t ops_total;
	uint32_t ops_done;
	int64_t highest_begun;
	uint64_t epoch;
	uint32_t owner_pid;
	char *owner_host;
	bool owner_alive;
	uint64_t created_ns;
	uint64_t updated_ns;
	char *cause;
	char *last_error;
	char *problem;
};

struct mmig_model {
	const char *uuid;
	const void *desc;
	size_t desc_len;
	void *data;
};

struct mmig_op_vtable {
	size_t size;
	const char *name;
	uint32_t version;
	unsigned flags;
	struct mmig_error *(*setup)(void *self, struct mmig_scope *scope);
	struct mmig_error *(*execute)(void *self, struct mmig_ctx *ctx,
				      const struct mmig_model *model);
	struct mmig_error *(*rollback)(void *self, struct mmig_ctx *ctx,
				       const struct mmig_model *model);
	void (*destroy)(void *self);
};

typedef struct mmig_error *(*mmig_model_deleter_fn)(void *arg,
						     const char *path);

struct mmig_scope_config {
	size_t size;
	const char *controller_db;
	const char *model_db;
	enum mmig_durability durability;
	mmig_model_deleter_fn delete_model;
	void *delete_arg;
	unsigned busy_budget_ms;
};

enum mmig_policy { MMIG_POLICY_ROLLBACK = 0, MMIG_POLICY_RESUME = 1 };

typedef int (*mmig_scope_for_model_fn)(void *arg, const char *model_uuid,
				       enum mmig_durability d,
				       struct mmig_scope **out);

struct mmig_recover_options {
	size_t size;
	enum mmig_policy policy;
	bool fallback_to_rollback;
	mmig_scope_for_model_fn scope_for_model;
	void *scope_arg;
	mmig_log_fn log;
	void *log_arg;
	uint64_t rollback_timeout_ms;
	unsigned rollback_tries;
	bool force;
};

enum mmig_recover_action {
	MMIG_RECOVER_COMMITTED = 1,
	MMIG_RECOVER_ROLLED_BACK,
	MMIG_RECOVER_NEEDS_ATTENTION,
	MMIG_RECOVER_SKIPPED_LIVE,
	MMIG_RECOVER_SKIPPED_PAUSED,
	MMIG_RECOVER_SKIPPED_ATTENTION,
	MMIG_RECOVER_REFUSED,
	MMIG_RECOVER_FAILED,
	MMIG_RECOVER_PAUSED,
};

struct mmig_recover_item {
	char id[37];
	char model_uuid[37];
	enum mmig_recover_action action;
	char *message;
	char **steps;
	size_t n_steps;
};

struct mmig_recover_summary {
	struct mmig_recover_item *items;
	size_t n;
	size_t n_unsettled;
};

struct mmig_gen_opts {
	size_t size;
	size_t machines;
	size_t applications;
	size_t units_per_app;
	size_t relations;
	uint64_t seed;
	unsigned flags;
};

typedef void (*mmig_import_progress_fn)(void *arg, const char *op,
					 uint64_t done, uint64_t total);

struct mmig_import_options {
	size_t size;
	mmig_import_progress_fn progress;
	void *progress_arg;
	size_t batch_rows;
};

struct mmig_import_paths {
	const char *controller_db;
	const char *model_dir;
};

/* Only the head of the parsed description: the embedder reads uuid. */
struct mmig_model_desc {
	const char *uuid;
};

int mmig_journal_open(struct mmig_journal **out, const char *dir,
		      const struct mmig_journal_options *opts,
		      struct mmig_error **errp);
void mmig_journal_close(struct mmig_journal *j);
void mmig_journal_get_stats(const struct mmig_journal *j,
			    struct mmig_journal_stats *out);
int mmig_journal_list(struct mmig_journal *j, bool all,
		      struct mmig_migration_info **out, size_t *n);
struct mmig_migration_info *
mmig_migration_info_at(struct mmig_migration_info *a, size_t i);
void mmig_migration_info_free(struct mmig_migration_info *a, size_t n);
void mmig_migration_info_clear(struct mmig_migration_info *i);
int mmig_journal_get(struct mmig_journal *j, const char *id,
		     struct mmig_migration_info *out);

int mmig_registry_new(struct mmig_registry **out);
void mmig_registry_free(struct mmig_registry *r);
typedef struct mmig_error *(*mmig_op_ctor_fn)(void *arg, void **self);
int mmig_registry_add(struct mmig_registry *r,
		      const struct mmig_op_vtable *vt, mmig_op_ctor_fn ctor,
		      void *arg);

int mmig_coordinator_new(struct mmig_coordinator **out, mmig_log_fn log,
			 void *log_arg);
void mmig_coordinator_free(struct mmig_coordinator *c);
int mmig_coordinator_add(struct mmig_coordinator *c,
			 const struct mmig_op_vtable *vt, void *self);
void mmig_coordinator_set_journal(struct mmig_coordinator *c,
				  struct mmig_journal *j,
				  enum mmig_durability d);
int mmig_coordinator_perform(struct mmig_coordinator *c, struct mmig_ctx *ctx,
			     struct mmig_scope *scope,
			     const struct mmig_model *model);

int mmig_scope_new(struct mmig_scope **out,
		   const struct mmig_scope_config *cfg);
void mmig_scope_free(struct mmig_scope *scope);

int mmig_recover(struct mmig_journal *j, const struct mmig_registry *r,
		 const struct mmig_recover_options *opts,
		 struct mmig_recover_summary **out);
struct mmig_recover_item *
mmig_recover_summary_item(const struct mmig_recover_summary *s, size_t i);
void mmig_recover_summary_free(struct mmig_recover_summary *s);

int mmig_model_desc_generate(const struct mmig_gen_opts *o, FILE *out);
int mmig_model_desc_parse(const void *json, size_t len,
			  struct mmig_model_desc **out, char **errmsg);
void mmig_model_desc_free(struct mmig_model_desc *desc);
int mmig_import_register(struct mmig_registry *r);
int mmig_import_add_ops_opts(struct mmig_coordinator *c,
			     const struct mmig_import_options *opts);
int mmig_import_scope_for_model(void *arg, const char *model_uuid,
				enum mmig_durability d,
				struct mmig_scope **out);

#endif
