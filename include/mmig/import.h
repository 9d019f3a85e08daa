/*
 * mmig/import.h - the reference domain: importing a model described in JSON.
 *
 * Two parts.  The first, here, reads a model description, checks it
 * completely, and hands back plain data; it also generates valid
 * descriptions of any size for tests and benchmarks.  The second, the import
 * operations that write a description into the controller and model
 * databases, follows below.
 *
 * The description format (version 1):
 *
 *   { "version": 1,
 *     "model": { "uuid": "...", "name": "prod", "owner": "admin",
 *                "cloud": "aws", "region": "us-east-1",
 *                "config": { "key": "value", ... } },
 *     "machines": [ { "id": "0", "base": "ubuntu@22.04",
 *                     "constraints": "mem=4G" }, ... ],
 *     "applications": [ { "name": "mysql", "charm": "ch:mysql-1",
 *                         "config": { ... },
 *                         "units": [ { "name": "mysql/0",
 *                                      "machine": "0" }, ... ] }, ... ],
 *     "relations": [ { "endpoints": [ "wordpress:db", "mysql:db" ] }, ... ] }
 *
 * Rules (every one is checked before the parser returns; a description that
 * parses is safe to import as it is):
 *  - "version" (an integer, 1) and "model" are required; "machines",
 *    "applications" and "relations" may be left out and then are empty.
 *    "model.config", an application's "config" and "units", a machine's
 *    "constraints" and "model.region" may be left out too.
 *  - Keys nobody reads are rejected at every level, and so are duplicate keys
 *    in any object: a typo must not pass silently.
 *  - model.uuid is a canonical lower-case UUID (8-4-4-4-12 hex digits).
 *  - Model and application names: [a-z][a-z0-9-]*, at most 63 characters.
 *  - Machine ids: decimal without leading zeros ("0", "17"), unique.
 *  - Unit names: "<application>/<number>", the unit's own application, the
 *    number without leading zeros; unique.  A unit's machine must exist.
 *  - Relations have exactly two endpoints "<application>:<endpoint>" (the
 *    endpoint [a-z][a-z0-9_-]*), naming existing applications; an endpoint is
 *    never related to itself, and a pair is listed once, in either order.
 *  - owner, cloud, charm and base are required, non-empty, without control
 *    characters; so are config keys.  Config values are strings, numbers or
 *    booleans; null, objects and arrays are rejected.
 *  - The size limits below.
 */
#ifndef MMIG_IMPORT_H
#define MMIG_IMPORT_H

#include "mmig/common.h"
#include "mmig/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Model descriptions
 * ------------------------------------------------------------------------ */

/** The description format this build reads and writes. */
#define MMIG_MODEL_DESC_VERSION 1

/*
 * Limits.  They are far above any real model and exist so that a broken or
 * hostile file is refused with a message instead of exhausting memory.
 */
/** Largest description, in bytes. */
#define MMIG_MODEL_DESC_MAX_BYTES ((size_t)256 << 20)
/** Most machines, units (all applications together) and relations. */
#define MMIG_MODEL_DESC_MAX_ITEMS 1000000
/** Most applications. */
#define MMIG_MODEL_DESC_MAX_APPS 100000
/** Most config keys in one config object. */
#define MMIG_MODEL_DESC_MAX_CONFIG 10000
/** Longest name (model, application, endpoint), in bytes. */
#define MMIG_MODEL_DESC_MAX_NAME 63
/** Longest owner, cloud, region, base, constraints, charm or config key. */
#define MMIG_MODEL_DESC_MAX_STRING 1024
/** Longest config value, in bytes. */
#define MMIG_MODEL_DESC_MAX_VALUE 65536

/** What a config value was in the JSON. */
enum mmig_model_desc_kind {
	MMIG_MODEL_DESC_STRING = 0,
	MMIG_MODEL_DESC_INTEGER = 1,
	MMIG_MODEL_DESC_REAL = 2,
	MMIG_MODEL_DESC_BOOL = 3,
};

/**
 * One config entry.  @c value is the string itself for a string; for any
 * other scalar it is its JSON text: an integer in decimal ("8080"), a real as
 * the shortest text that reads back to the same double, always with a '.' or
 * an exponent ("0.5", "1.0", "1e+300"), a boolean as "true" or "false".
 * @c kind tells them apart, so "8080" and 8080 stay different.
 */
struct mmig_model_desc_kv {
	const char *key;
	const char *value;
	enum mmig_model_desc_kind kind;
};

struct mmig_model_desc_machine {
	const char *id;
	const char *base;
	/** NULL when the key was left out; may be "". */
	const char *constraints;
};

struct mmig_model_desc_unit {
	/** "<application>/<number>". */
	const char *name;
	/** A machine id present in mmig_model_desc.machines; NULL for a unit
	 *  of a Kubernetes model read from a juju/description document. */
	const char *machine;
};

struct mmig_model_desc_app {
	const char *name;
	const char *charm;
	const struct mmig_model_desc_kv *config;
	size_t n_config;
	const struct mmig_model_desc_unit *units;
	size_t n_units;
};

struct mmig_model_desc_endpoint {
	/** As written: "<application>:<endpoint>". */
	const char *spec;
	/** The two halves of @c spec. */
	const char *app;
	const char *name;
};

struct mmig_model_desc_relation {
	/** In the order of the description. */
	struct mmig_model_desc_endpoint ep[2];
};

/**
 * A parsed, validated description.  Everything in it, strings and arrays
 * included, is owned by the description and lives until
 * mmig_model_desc_free(); arrays keep the order of the JSON, and config
 * entries keep the order of their keys.  Read-only.
 */
struct mmig_model_desc {
	const char *uuid;
	const char *name;
	const char *owner;
	const char *cloud;
	/** NULL when the key was left out. */
	const char *region;
	const struct mmig_model_desc_kv *config;
	size_t n_config;
	const struct mmig_model_desc_machine *machines;
	size_t n_machines;
	const struct mmig_model_desc_app *apps;
	size_t n_apps;
	/** All applications' units together. */
	size_t n_units_total;
	const struct mmig_model_desc_relation *relations;
	size_t n_relations;

	/* Since 0.2: a juju/description document (see mmig_model_desc_parse())
	 * fills these too; our JSON gives "json", 0, "iaas", NULL, 0. */
	/** "json" or "juju". */
	const char *format;
	/** juju/description: the model version read (1-14); 0 for JSON. */
	int source_version;
	/** "iaas" or "caas". */
	const char *type;
	/** The model's agent version; NULL when the document has none. */
	const char *agent_version;
	/** How many values, all entities together, are kept as written
	 *  because they have no column (status, addresses, users, ...). */
	size_t n_kept;
	/** Private to libmmig. */
	const void *priv;
};

/**
 * Parse and validate a description: our JSON (above), or, when the first
 * non-blank byte is not '{', a juju/description YAML document (what
 * `juju migrate` sends and `juju dump-model` prints; YAML 1.1 as Go's
 * yaml.v2 reads it; every collection dispatched on its own version: model
 * 1-14, machines 1-4, applications 1-14, units 1-3, relations 1-3,
 * endpoints 1-2).  From such a document: machines include containers
 * (parents first; ids like "0/lxd/3"), a unit's @c machine is NULL in a
 * Kubernetes (caas) model, a peer relation has one endpoint (@c ep[1] all
 * NULL), config values that are not scalars are YAML text of kind
 * MMIG_MODEL_DESC_STRING; everything without a field is kept verbatim for
 * the import and `mmig export`.  Messages name "line L, column C: PATH".
 *
 * @param[in] json the bytes, @p len of them, UTF-8; need not be
 *            NUL-terminated.
 * @param[out] out the description, NULL on failure.
 * @param[out] errmsg may be NULL.  On MMIG_EMODEL, a one-line message naming
 *             the place, e.g. "machines[2].id: not a string" or "line 3,
 *             column 7: ..." for JSON syntax; free it with
 *             mmig_model_desc_errmsg_free().  NULL otherwise.
 * @return MMIG_OK; MMIG_EMODEL when the description breaks a rule above;
 *         MMIG_EINVAL when @p json (with @p len > 0) or @p out is NULL;
 *         MMIG_ENOMEM (also when the message itself cannot be allocated).
 */
MMIG_EXPORT int mmig_model_desc_parse(const void *json, size_t len,
				      struct mmig_model_desc **out,
				      char **errmsg);

/**
 * Read the file @p path and parse it like mmig_model_desc_parse().
 * Messages start with the path: "MODEL.json: No such file or directory",
 * "MODEL.json: line 3, column 7: ...".
 *
 * @param[out] bytes may be NULL.  On success, the file's bytes exactly as
 *             read (the journal keeps the description as given), with a NUL
 *             after the last one that @p len does not count; free them with
 *             mmig_model_desc_bytes_free().  NULL on failure.
 * @param[out] len may be NULL; the number of bytes.
 * @return MMIG_OK; -errno when the file cannot be read (with a message);
 *         MMIG_EMODEL (also for a file over MMIG_MODEL_DESC_MAX_BYTES);
 *         MMIG_EINVAL; MMIG_ENOMEM.
 */
MMIG_EXPORT int mmig_model_desc_parse_file(const char *path,
					   struct mmig_model_desc **out,
					   char **errmsg, void **bytes,
					   size_t *len);

/** Free a description.  NULL is a no-op. */
MMIG_EXPORT void mmig_model_desc_free(struct mmig_model_desc *desc);

/** Free a message from the parser.  NULL is a no-op. */
MMIG_EXPORT void mmig_model_desc_errmsg_free(char *errmsg);

/** Free the bytes from mmig_model_desc_parse_file().  NULL is a no-op. */
MMIG_EXPORT void mmig_model_desc_bytes_free(void *bytes);

/** mmig_gen_opts.flags: take zero counts and a zero seed literally. */
#define MMIG_GEN_EXACT 0x1u
/**
 * mmig_gen_opts.flags (since 0.2): write the same model as a
 * juju/description YAML document of the current versions (model 14,
 * machines 4, applications 14, units 3, relations 3, endpoints 2) instead
 * of our JSON: name and uuid in config, sequences that the numbers used
 * never reach past, relation endpoints provider then requirer with the
 * endpoint's name as interface, global scope, agent version 3.6.14.
 * Machine constraints strings have no place there and are left out.
 */
#define MMIG_GEN_YAML 0x2u

/**
 * What mmig_model_desc_generate() makes.  Zero-initialised fields take the
 * defaults: 10 machines, 3 applications, 2 units per application,
 * 2 relations, seed 1 -- unless MMIG_GEN_EXACT is set, when a zero is a zero.
 */
struct mmig_gen_opts {
	/** sizeof(struct mmig_gen_opts); 0: the 0.1 layout (see "ABI" in
	 *  mmig/common.h). */
	size_t size;
	size_t machines;
	size_t applications;
	size_t units_per_app;
	/** Capped at one relation per pair of applications. */
	size_t relations;
	uint64_t seed;
	unsigned flags;
};

#define MMIG_GEN_OPTS_INIT { .size = sizeof(struct mmig_gen_opts) }

/**
 * Write a valid description to @p out.  The same options give the same
 * bytes on every platform; the model uuid (random-looking, version 4 shaped)
 * and name are derived from the seed.  Units are spread evenly over the
 * machines; relations join distinct applications, never the same pair twice.
 * A few config keys of each kind are included.  Written as it goes, so size
 * costs only time; the stream is flushed at the end.
 *
 * @param[in] o NULL for all defaults.
 * @return MMIG_OK; MMIG_EINVAL when @p out is NULL, or there are units but
 *         no machines; MMIG_ENOMEM; -errno when writing fails.  A
 *         description over the limits above can be generated but will not
 *         parse.
 */
MMIG_EXPORT int mmig_model_desc_generate(const struct mmig_gen_opts *o,
					 FILE *out);

/**
 * Expand a published Juju bundle (YAML, @p len bytes) into a complete
 * juju/description model of the current version and write it to @p out.
 * Juju's placement rules (`to: [lxd:0]`, `lxd:new`, machines of the
 * machines section, units of other applications, unplaced units on new
 * machines, `num_units: 0`, `scale` for Kubernetes bundles), subordinates
 * with one unit per related principal unit, endpoint roles and interfaces
 * guessed the same way every time where the bundle leaves them out, and
 * peer relations for well-known HA charms and applications of several
 * units.  Anchors and aliases are resolved under an expansion budget.
 *
 * @param scale multiplies every application's units and the machines
 *        section (0 is 1).
 * @param seed what is made up (uuid, revisions, times, hashes) comes from
 *        it: the same bundle, scale and seed give the same bytes.
 * @param[out] errmsg may be NULL; on MMIG_EMODEL "line L, column C: PATH:
 *             what" (an unknown placement target, a unit placed on a
 *             missing machine, an alias bomb, a model over the import
 *             limits, ...), free with mmig_model_desc_errmsg_free().
 * @return MMIG_OK; MMIG_EMODEL; MMIG_EINVAL; MMIG_ENOMEM; -errno when
 *         writing fails (some bytes may have been written).
 */
MMIG_EXPORT int mmig_model_gen_bundle(const void *bundle, size_t len,
				      uint64_t scale, uint64_t seed,
				      FILE *out, char **errmsg);

/* ------------------------------------------------------------------------
 * Import operations
 *
 * Seven operations, in this order, move a description into the databases:
 *
 *   create-model  controller row (status "importing") + model database
 *                 schema; refuses a model that already exists
 *   model-config  model_config(key, value, kind)
 *   machines      machines(id, base, constraints)
 *   applications  applications(name, charm) + application_config
 *   units         units(name, application, machine)
 *   relations     relations(endpoint_a, endpoint_b), in description order
 *   activate      controller row status "active"
 *
 * Databases.  The controller database has
 *   models(uuid TEXT PRIMARY KEY, name, owner, cloud, region,
 *          status TEXT NOT NULL)
 * and each model has its own database "<model-dir>/<uuid>.db" with
 *   model_config(key PRIMARY KEY, value, kind)
 *   machines(id PRIMARY KEY, base, constraints)
 *   applications(name PRIMARY KEY, charm)
 *   application_config(application, key, value, kind,
 *                      PRIMARY KEY(application, key))
 *   units(name PRIMARY KEY, application, machine)
 *   relations(endpoint_a, endpoint_b, PRIMARY KEY(endpoint_a, endpoint_b))
 * Config values are stored as text (see struct mmig_model_desc_kv) with
 * their kind: "string", "integer", "real" or "bool".
 *
 * Every operation is MMIG_OP_IDEMPOTENT: its writes are upserts, so running
 * it again after a crash at any point leaves exactly the description.  The
 * batched ones (model-config, machines, applications, units, relations) are
 * also MMIG_OP_RESUMABLE: after each batch transaction commits they record a
 * checkpoint, three little-endian 64-bit numbers: the index of the next
 * item to write, the batch size and the op's total of items (24 bytes; the
 * 16 bytes of earlier builds lack the total), and on resume they start
 * from there.  A checkpoint that does not read as
 * such an index is ignored (the op starts over, which is safe).
 *
 * Rollbacks.  create-model's deletes the model database, then the
 * controller row, and only when the row is this import's: "importing", and
 * in a journaled migration written by this very migration (its marker is in
 * the controller database).  So a refused duplicate never removes the model
 * that was there, nor its database.  The database goes through
 * mmig_scope_delete_model(), fenced by the owner epoch and journaled
 * (MODEL_DELETED); when that fails the migration needs attention, and
 * `mmig-recover rollback ID` finishes it once the cause is fixed.
 * activate's turns "active" back into "importing" (activate only runs
 * after create-model succeeded in the same migration, and create-model
 * refuses an active model, so an active row by then is this import's).
 * The model database operations have none: their rows go with the
 * database, which this import made.
 *
 * A model database file that is already there with tables of its own, and
 * that this migration did not make, is refused by create-model
 * (MMIG_EEXIST, "model UUID already exists: its database PATH is not this
 * import's") before anything is written: an import never adopts, and so
 * never deletes, a database that is not its own.
 *
 * Two imports of one model UUID at once.  A journaled create-model takes no
 * existing row for its own: once its transaction committed, its marker
 * skips it on resume (invariant E), so a row it meets is another
 * migration's -- a model imported earlier, or being imported right now --
 * and it fails with MMIG_EEXIST, touching neither.  Without a journal there
 * are no markers: create-model then takes an "importing" row for its own,
 * so that it can be run again, and only the caller can keep two imports of
 * one model apart.
 * ------------------------------------------------------------------------ */

struct mmig_coordinator;
struct mmig_registry;
struct mmig_scope;

/**
 * Progress of one operation: @p done of @p total items (config keys,
 * machines, applications, units, relations; 1 for create-model and
 * activate).  Called when the operation starts (with @p done > 0 when it
 * resumes from a checkpoint) and after each batch commits, from the thread
 * running the migration.  @p op is the operation's name.
 */
typedef void (*mmig_import_progress_fn)(void *arg, const char *op,
					 uint64_t done, uint64_t total);

/** A sized struct: see "ABI" in mmig/common.h. */
struct mmig_import_options {
	/** sizeof(struct mmig_import_options); 0: the 0.1 layout. */
	size_t size;
	/** NULL: no progress reports. */
	mmig_import_progress_fn progress;
	void *progress_arg;
	/** Items per transaction; 0: 20000.  A resume keeps the batch size of
	 *  the run it resumes (recorded in its checkpoints). */
	size_t batch_rows;
};

#define MMIG_IMPORT_OPTIONS_INIT                                               \
	{ .size = sizeof(struct mmig_import_options) }

/**
 * Register the seven operations (each with a constructor) and the model
 * loader (mmig_model_desc_parse() of the journaled bytes, freed with
 * mmig_model_desc_free()), so that recovery can rebuild an import.
 * Instances made by the registry use the default options.
 * @return MMIG_OK, MMIG_EEXIST (already registered), MMIG_ENOMEM,
 * MMIG_EINVAL (@p r is NULL).
 */
MMIG_EXPORT int mmig_import_register(struct mmig_registry *r);

/**
 * Append fresh instances of the seven operations, in order, with default
 * options.  The migration's model must carry the parsed description:
 * model->data is a struct mmig_model_desc * and model->uuid its uuid.
 * @return MMIG_OK, MMIG_ENOMEM, MMIG_EINVAL.  On failure the operations
 * already appended stay in the coordinator (which owns them).
 */
MMIG_EXPORT int mmig_import_add_ops(struct mmig_coordinator *c);

/** mmig_import_add_ops() with options; @p opts may be NULL.  The options
 *  are copied. */
MMIG_EXPORT int mmig_import_add_ops_opts(struct mmig_coordinator *c,
					 const struct mmig_import_options *opts);

/** Where the import's databases live.  Never grows. */
struct mmig_import_paths {
	/** The controller database file. */
	const char *controller_db;
	/** The directory of the model databases, "<uuid>.db" each. */
	const char *model_dir;
};

/**
 * The scope for importing (or recovering the import of) one model: a
 * mmig_scope_for_model_fn for mmig_recover_options.scope_for_model.  Creates
 * @p paths->model_dir (and its parents) when missing, 0700 whatever the
 * umask; the scope creates database files 0600 (mmig_scope_set_file_mode()
 * widens that).  The scope's model
 * deleter removes "<model_dir>/<uuid>.db" and its -wal/-shm (and refuses
 * any other name); only create-model's rollback asks for it, once it has
 * seen that the database is this import's, so a failed import of a model
 * that exists, or is being imported by another migration, never deletes
 * that model's database.
 *
 * @param arg a struct mmig_import_paths *, which must outlive the scope.
 * @param[out] out the scope, NULL on failure.
 * @return MMIG_OK; MMIG_EINVAL (no paths, or @p model_uuid not a canonical
 * lower-case UUID); MMIG_ENOMEM; -errno when the model directory cannot be
 * made.
 */
MMIG_EXPORT int mmig_import_scope_for_model(void *arg, const char *model_uuid,
					    enum mmig_durability d,
					    struct mmig_scope **out);

/**
 * The SQL that makes the import's tables (CREATE TABLE IF NOT EXISTS
 * statements separated by ';', for sqlite3_exec()), for tools that write
 * or read the same tables without the operations, e.g. a benchmark's
 * raw-SQLite baseline (since 0.2).
 * @param db "controller" or "model".
 * @return a static string; NULL for any other @p db.
 */
MMIG_EXPORT const char *mmig_import_schema(const char *db);

/**
 * Create the controller database's schema (the models table) if missing.
 * create-model does it too; tools call it to take a "before" picture of a
 * controller database that does not exist yet (mmig import
 * --test-rollback), since schema, once made, is not undone by a rollback.
 * A missing file is created 0600, whatever the umask.
 * @param[out] errp if not NULL, on failure an error naming the file.
 * @return MMIG_OK, MMIG_EDB, MMIG_EBUSY, MMIG_ENOMEM, MMIG_EINVAL, -errno
 * when the file cannot be created.
 */
MMIG_EXPORT int mmig_import_controller_init(const char *controller_db,
					    struct mmig_error **errp);

/**
 * Write an imported model back as a juju/description YAML document of the
 * current version (model 14 and the current version of every collection):
 * the model database's columns under their juju/description names and
 * everything kept verbatim.  A current document comes back with the same
 * data (key order and YAML style aside); an older one (model 1-13, or any
 * collection below its current version) is brought up as
 * juju/description's importer would, every value read kept (see mmig(1));
 * a model imported from our JSON format is written with what JSON says.
 * Importing an export and exporting again gives the same bytes.
 *
 * Reads only.  The model's controller row must be "active": a model whose
 * import is unsettled is refused.  Nothing is written to @p out on failure.
 *
 * @param[in] paths where the databases are.
 * @param[out] errmsg may be NULL; on failure a one-line message (free with
 *             mmig_model_desc_errmsg_free()).
 * @return MMIG_OK; MMIG_ENOTFOUND (no such model or database); MMIG_EBUSY
 *         (not active); MMIG_ECORRUPT (a database this import did not
 *         write); MMIG_EMODEL (an older document juju/description's
 *         importer would refuse to bring up, such as a machine series it
 *         has no base for; the message names the place); MMIG_EDB;
 *         MMIG_ENOMEM; -errno when writing fails; MMIG_EINVAL.
 * Thread rules: any thread; it opens its own connections.
 */
MMIG_EXPORT int mmig_model_export(const struct mmig_import_paths *paths,
				  const char *model_uuid, FILE *out,
				  char **errmsg);

#ifdef __cplusplus
}
#endif

#endif
