/*
 * tests/abi/fields.h - every field of the first sized layout, as an
 * X-macro: X(struct tag, field).  Compiled once against the frozen header
 * (tests/abi/mmig-0.1.h) and once against the current headers, the two
 * tables of offsets and sizes must agree field for field.  S(struct tag)
 * lists the structs whose sizeof is compared (the current may only be
 * larger).
 */
#define ABI_FIELDS(X)                                                          \
	X(mmig_journal_options, size)                                          \
	X(mmig_journal_options, flags)                                         \
	X(mmig_journal_options, initial_map_size)                              \
	X(mmig_journal_stats, size)                                            \
	X(mmig_journal_stats, commits)                                         \
	X(mmig_journal_stats, syncs)                                           \
	X(mmig_journal_stats, records)                                         \
	X(mmig_journal_stats, bytes)                                           \
	X(mmig_journal_stats, map_grows)                                       \
	X(mmig_migration_info, size)                                           \
	X(mmig_migration_info, id)                                             \
	X(mmig_migration_info, model_uuid)                                     \
	X(mmig_migration_info, state)                                          \
	X(mmig_migration_info, durability)                                     \
	X(mmig_migration_info, ops_total)                                      \
	X(mmig_migration_info, ops_done)                                       \
	X(mmig_migration_info, highest_begun)                                  \
	X(mmig_migration_info, epoch)                                          \
	X(mmig_migration_info, owner_pid)                                      \
	X(mmig_migration_info, owner_host)                                     \
	X(mmig_migration_info, owner_alive)                                    \
	X(mmig_migration_info, created_ns)                                     \
	X(mmig_migration_info, updated_ns)                                     \
	X(mmig_migration_info, cause)                                          \
	X(mmig_migration_info, last_error)                                     \
	X(mmig_migration_info, problem)                                        \
	X(mmig_model, uuid)                                                    \
	X(mmig_model, desc)                                                    \
	X(mmig_model, desc_len)                                                \
	X(mmig_model, data)                                                    \
	X(mmig_op_vtable, size)                                                \
	X(mmig_op_vtable, name)                                                \
	X(mmig_op_vtable, version)                                             \
	X(mmig_op_vtable, flags)                                               \
	X(mmig_op_vtable, setup)                                               \
	X(mmig_op_vtable, execute)                                             \
	X(mmig_op_vtable, rollback)                                            \
	X(mmig_op_vtable, destroy)                                             \
	X(mmig_scope_config, size)                                             \
	X(mmig_scope_config, controller_db)                                    \
	X(mmig_scope_config, model_db)                                         \
	X(mmig_scope_config, durability)                                       \
	X(mmig_scope_config, delete_model)                                     \
	X(mmig_scope_config, delete_arg)                                       \
	X(mmig_scope_config, busy_budget_ms)                                   \
	X(mmig_recover_options, size)                                          \
	X(mmig_recover_options, policy)                                        \
	X(mmig_recover_options, fallback_to_rollback)                          \
	X(mmig_recover_options, scope_for_model)                               \
	X(mmig_recover_options, scope_arg)                                     \
	X(mmig_recover_options, log)                                           \
	X(mmig_recover_options, log_arg)                                       \
	X(mmig_recover_options, rollback_timeout_ms)                           \
	X(mmig_recover_options, rollback_tries)                                \
	X(mmig_recover_options, force)                                         \
	X(mmig_recover_item, id)                                               \
	X(mmig_recover_item, model_uuid)                                       \
	X(mmig_recover_item, action)                                           \
	X(mmig_recover_item, message)                                          \
	X(mmig_recover_item, steps)                                            \
	X(mmig_recover_item, n_steps)                                          \
	X(mmig_recover_summary, items)                                         \
	X(mmig_recover_summary, n)                                             \
	X(mmig_recover_summary, n_unsettled)                                   \
	X(mmig_gen_opts, size)                                                 \
	X(mmig_gen_opts, machines)                                             \
	X(mmig_gen_opts, applications)                                         \
	X(mmig_gen_opts, units_per_app)                                        \
	X(mmig_gen_opts, relations)                                            \
	X(mmig_gen_opts, seed)                                                 \
	X(mmig_gen_opts, flags)                                                \
	X(mmig_import_options, size)                                           \
	X(mmig_import_options, progress)                                       \
	X(mmig_import_options, progress_arg)                                   \
	X(mmig_import_options, batch_rows)                                     \
	X(mmig_import_paths, controller_db)                                    \
	X(mmig_import_paths, model_dir)

#define ABI_STRUCTS(S)                                                         \
	S(mmig_journal_options)                                                \
	S(mmig_journal_stats)                                                  \
	S(mmig_migration_info)                                                 \
	S(mmig_model)                                                          \
	S(mmig_op_vtable)                                                      \
	S(mmig_scope_config)                                                   \
	S(mmig_recover_options)                                                \
	S(mmig_recover_item)                                                   \
	S(mmig_recover_summary)                                                \
	S(mmig_gen_opts)                                                       \
	S(mmig_import_options)                                                 \
	S(mmig_import_paths)

/* One entry: offset and size of a field, or (field NULL) a struct's sizeof. */
struct abi_entry {
	const char *type;
	const char *field;
	size_t offset;
	size_t size;
};

#define ABI_FIELD_ENTRY(T, f)                                                  \
	{ #T, #f, offsetof(struct T, f), sizeof(((struct T *)0)->f) },
#define ABI_STRUCT_ENTRY(T) { #T, NULL, 0, sizeof(struct T) },

/* The frozen layout's table (built in abi-old-embedder.c). */
extern const struct abi_entry abi_v1_table[];
extern const size_t abi_v1_table_len;

/*
 * The old embedder's whole life against the current library: generate two
 * model descriptions, import each in a child process that dies mid-import
 * (SIGKILL-like _exit from its progress callback), then list, get, recover
 * and check -- all through the frozen structs.  @p dir is an empty
 * directory.  @return 0, or -1 with a message in @p why.
 */
int abi_old_embedder_run(const char *dir, char *why, size_t why_len);
