/*
 * tools/mmig-recover.c - the operator's tool for what a crash left behind:
 * list, show, plan, recover, resume, roll back, verify, dump and prune the
 * migrations of a journal.
 *
 * It uses the public API only (STYLE.md H4): the journal's readers for the
 * read-only commands, mmig_recover*() for the rest, with the reference
 * import operations built in (mmig_import_register()) and more loaded from
 * the plug-ins named with --plugin.
 *
 * Invariants the tool keeps on top of the library's:
 *  - list, show, plan, verify and dump open the journal read-only and never
 *    create it: looking must not change what is looked at;
 *  - no command creates a journal, in a missing directory or an empty
 *    one.  A journal that does not exist yet (a process killed or failed
 *    before it made one: no directory, or an empty one) holds nothing in
 *    flight: every command says so on stderr and does nothing, exit 0 (an
 *    ID named is "not in the journal", exit 1).  A journal path whose parent
 *    does not exist is a mistyped --journal: an error;
 *  - list and show sync the journal first, as recovery does, so they never
 *    report progress a power cut could still undo; if that sync fails they
 *    say what they show may not be durable yet;
 *  - exit status 0 when everything is settled or clean, 1 when something
 *    failed, was refused or needs attention, 2 on usage errors; every error
 *    is one line on stderr, "mmig-recover: <step>: <message>".
 */
#include <mmig/mmig.h>

#include "file-mode.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
/* b64_pton() (libresolv): the checkpoints show prints as base64. */
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>

#define PROG "mmig-recover"

#define EXIT_OK 0
#define EXIT_ATTENTION 1
#define EXIT_USAGE 2
/* open_journal(): there is no journal yet (not an exit status). */
#define NO_JOURNAL (-1)

/* Long options without a short form get codes above any character. */
enum opt_code {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_JOURNAL = 256,
	OPT_CONTROLLER_DB,
	OPT_MODEL_DIR,
	OPT_PLUGIN,
	OPT_JSON,
	OPT_ALL,
	OPT_POLICY,
	OPT_FALLBACK,
	OPT_FORCE,
	OPT_OLDER_THAN,
	OPT_KEEP,
	OPT_FILE_MODE,
	OPT_LOCK_TIMEOUT,
	OPT_FOLLOW,
	OPT_NODE,
	OPT_LEASE_TTL,
	OPT_WAIT,
};

/* Which command-specific options a command accepts. */
#define F_JSON 0x01u
#define F_ALL 0x02u
#define F_POLICY 0x04u
#define F_FALLBACK 0x08u
#define F_FORCE 0x10u
#define F_OLDER_THAN 0x20u
#define F_KEEP 0x40u
#define F_FOLLOW 0x80u
#define F_WAIT 0x100u

/* Ids begin with their creation time: ids made close together share a
 * prefix. */
#define AMBIGUOUS "prefix matches several migrations; give more of the id"

/* How many positional arguments (an ID) a command takes. */
enum arg_kind {
	ARG_NONE,
	ARG_OPTIONAL_ID,
	ARG_ID,
};

struct cli;
struct live;

struct command {
	const char *name;
	int (*run)(struct cli *cli);
	unsigned flags;
	enum arg_kind arg;
	const char *synopsis;
	const char *help;
};

/* Everything the command line said. */
struct cli {
	const struct command *cmd;
	const char *journal;
	const char *controller_db;
	const char *model_dir;
	unsigned file_mode; /* --file-mode; 0: the library's 0600 / 0700 */
	const char **plugins;
	size_t n_plugins;
	const char *id;
	bool json;
	bool all;
	bool force;
	bool fallback;
	bool follow;
	enum mmig_policy policy;
	uint64_t older_ns;
	size_t keep;
	uint64_t lock_timeout_ns; /* 0: the library's default */
	/* An etcd journal: this node's name (NULL: the host name) and the
	 * session lease's TTL in seconds (0: the library's default). */
	const char *node;
	unsigned lease_ttl_s;
	/* recover --wait: how long to wait for live owners' leases. */
	uint64_t wait_ns;
	/* The command options given (F_*), checked against the command's. */
	unsigned seen;
	/* recover, resume, rollback: the progress shown while they run, or
	 * NULL. */
	struct live *live;
};

/* ---- messages ------------------------------------------------------------ */

/* One line on stderr: "mmig-recover: <step>: <message>". */
static void
fail_msg(const char *step, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
fail_msg(const char *step, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s: ", step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The library's message when there is one, else the code's text. */
static const char *
err_text(const struct mmig_error *err, int rc)
{
	return err ? mmig_error_message(err) : mmig_strerror(rc);
}

static void live_log(struct live *l, const char *level, const char *msg);

/* The log callback of recover, resume, rollback and plan. */
static void
log_stderr(void *arg, enum mmig_log_level level, const char *msg)
{
	const struct cli *cli = arg;

	/* With --json stdout is for the machine and stderr stays quiet, so a
	 * script sees only real errors there; debug chatter is never shown. */
	if (cli->json || level < MMIG_LOG_INFO)
		return;
	if (cli->live)
		live_log(cli->live, mmig_log_level_name(level), msg);
	else
		fprintf(stderr, PROG ": %s: %s\n", mmig_log_level_name(level),
			msg);
}

/* ---- times and durations --------------------------------------------- */

/* RFC 3339 in UTC, with @p digits (0, 3 or 6) of the second's fraction. */
static const char *
fmt_time(uint64_t ns, int digits, char *buf, size_t size)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	char base[32];

	if (!gmtime_r(&secs, &tm) ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, size, "?");
		return buf;
	}
	if (digits == 6)
		snprintf(buf, size, "%s.%06uZ", base,
			 (unsigned)(ns / 1000u % 1000000u));
	else if (digits == 3)
		snprintf(buf, size, "%s.%03uZ", base,
			 (unsigned)(ns / 1000000u % 1000u));
	else
		snprintf(buf, size, "%sZ", base);
	return buf;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An age in the largest whole unit: "45s", "3m", "2h", "12d". */
static const char *
fmt_age(uint64_t then_ns, char *buf, size_t size)
{
	uint64_t now = now_ns();
	uint64_t s = now > then_ns ? (now - then_ns) / 1000000000u : 0;

	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, size, "%" PRIu64 "h", s / 3600);
	else
		snprintf(buf, size, "%" PRIu64 "d", s / 86400);
	return buf;
}

/*
 * "30d", "12h", "90m", "45s" to nanoseconds.  A unit is required: a bare
 * number would leave the operator guessing which one pruning assumed.
 * @return false when @p text is not such a duration or overflows.
 */
static bool
parse_duration(const char *text, uint64_t *out)
{
	uint64_t unit, v = 0;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	switch (*p++) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return false;
	}
	if (*p != '\0' || v > UINT64_MAX / unit / 1000000000u)
		return false;
	*out = v * unit * 1000000000u;
	return true;
}

static bool
parse_count(const char *text, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end != '\0' || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

/* ---- JSON ---------------------------------------------------------------- */

/* A string or null, so absent values read as null rather than "". */
static json_t *
json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/*
 * Print @p v (stealing the reference) and a newline.
 * @return EXIT_OK, or EXIT_ATTENTION when it could not be built or written.
 */
static int
json_print(json_t *v)
{
	int rc = EXIT_OK;

	if (!v || json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ||
	    fputc('\n', stdout) == EOF) {
		fail_msg("json", "cannot build or write the output");
		rc = EXIT_ATTENTION;
	}
	json_decref(v);
	return rc;
}

/* The names of an op's flags (MMIG_OP_*), in bit order; an unknown bit as
 * "0x..", so that nothing set is hidden. */
static json_t *
op_flag_names(uint64_t flags)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} known[] = {
		{ MMIG_OP_IDEMPOTENT, "idempotent" },
		{ MMIG_OP_RESUMABLE, "resumable" },
	};
	json_t *a = json_array();

	for (unsigned b = 0; a && b < 64; b++) {
		uint64_t bit = (uint64_t)1 << b;
		const char *name = NULL;
		char hex[24];

		if (!(flags & bit))
			continue;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (known[k].bit == bit)
				name = known[k].name;
		if (!name) {
			snprintf(hex, sizeof(hex), "0x%" PRIx64, bit);
			name = hex;
		}
		json_array_append_new(a, json_string(name));
	}
	return a;
}

/* Next to integer nanoseconds @p key_ns of @p o, the same time in RFC 3339
 * (with microseconds) under @p key, inserted just after it. */
static void
add_time(json_t *o, const char *key_ns, const char *key)
{
	json_t *v = json_object_get(o, key_ns), *copy;
	char t[40];
	const char *k;
	json_t *val;

	if (!json_is_integer(v) || json_object_get(o, key))
		return;
	fmt_time((uint64_t)json_integer_value(v), 6, t, sizeof(t));
	/* Rebuild to keep the order: the new key right after the old. */
	copy = json_object();
	if (!copy)
		return;
	json_object_foreach(o, k, val)
	{
		json_object_set(copy, k, val);
		if (strcmp(k, key_ns) == 0)
			json_object_set_new(copy, key, json_string(t));
	}
	json_object_clear(o);
	json_object_update(o, copy);
	json_decref(copy);
}

/*
 * One record of mmig_journal_show() (show --json, dump) in the tool's JSON
 * vocabulary, by adding and never removing: "created" beside the header's
 * "created_ns", "time" beside a transition's "time_ns", and "flag_names"
 * beside each plan op's "flags" bitmask.
 */
static void
enrich_record(json_t *rec)
{
	json_t *plan = json_object_get(rec, "plan"), *op;
	size_t i;

	add_time(rec, "created_ns", "created");
	add_time(rec, "time_ns", "time");
	json_array_foreach(plan, i, op)
	{
		json_t *f = json_object_get(op, "flags");

		if (json_is_integer(f) && !json_object_get(op, "flag_names"))
			json_object_set_new(
				op, "flag_names",
				op_flag_names((uint64_t)json_integer_value(f)));
	}
}

/* ---- opening what a command needs ------------------------------------- */

/*
 * An etcd journal ("etcd://HOST:PORT[,...]/PREFIX"): --node and
 * --lease-ttl ride on the path.  Read-only on an empty prefix: no journal
 * there yet.
 */
static int
open_etcd_journal(const struct cli *cli, bool rdonly, struct mmig_journal **out)
{
	struct mmig_journal_options o = {
		.size = sizeof(struct mmig_journal_options),
		.flags = rdonly ? MMIG_JOURNAL_RDONLY : 0,
	};
	struct mmig_error *err = NULL;
	char ttl[32] = "", *uri = NULL;
	int rc;

	if (strchr(cli->journal, '?') && (cli->node || cli->lease_ttl_s)) {
		fail_msg("open journal", "%s: give --node and --lease-ttl, or "
					 "parameters in the path, not both",
			 cli->journal);
		return EXIT_ATTENTION;
	}
	if (cli->lease_ttl_s)
		snprintf(ttl, sizeof(ttl), "lease-ttl=%u", cli->lease_ttl_s);
	if (asprintf(&uri, "%s%s%s%s%s%s", cli->journal,
		     cli->node || *ttl ? "?" : "", cli->node ? "node=" : "",
		     cli->node ? cli->node : "", cli->node && *ttl ? "&" : "",
		     ttl) < 0) {
		fail_msg("open journal", "out of memory");
		return EXIT_ATTENTION;
	}
	rc = mmig_journal_open(out, uri, &o, &err);
	free(uri);
	if (rc == -ENOENT && rdonly) {
		mmig_error_free(err);
		fprintf(stderr,
			PROG ": open journal: %s: no journal there yet: "
			     "nothing in flight\n",
			cli->journal);
		return NO_JOURNAL;
	}
	if (rc != MMIG_OK) {
		fail_msg("open journal", "%s",
			 err ? mmig_error_message(err) : mmig_strerror(rc));
		mmig_error_free(err);
		return EXIT_ATTENTION;
	}
	return EXIT_OK;
}

/*
 * Does directory @p path hold no journal yet: nothing in it but the work
 * directories a journal's creation or compaction makes (".mmig-new-PID",
 * ".mmig-compact-PID")?  An import that failed or was killed before its
 * journal was made can leave such a directory; like a missing one, it
 * holds nothing in flight.  @return true only when it could be read.
 */
static bool
dir_holds_no_journal(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = d != NULL;

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 ||
		    strncmp(e->d_name, ".mmig-new-", 10) == 0 ||
		    strncmp(e->d_name, ".mmig-compact-", 14) == 0)
			continue;
		empty = false;
		break;
	}
	if (d)
		closedir(d);
	return empty;
}

/* @return true when directory @p dir holds a data.mdb. */
static bool
has_data_file(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    (int)sizeof(path))
		return true; /* cannot tell: leave it to the library */
	return lstat(path, &st) == 0;
}

/*
 * Open the journal; never create it.  mmig_journal_open() creates a missing
 * directory, or a journal inside an empty one, unless read-only, so every
 * command checks first: both hold nothing in flight.
 * @return EXIT_OK; NO_JOURNAL when there is none yet (said on stderr: the
 * caller reports nothing in flight); EXIT_ATTENTION on errors.
 */
static int
open_journal(const struct cli *cli, bool rdonly, struct mmig_journal **out)
{
	struct mmig_journal_options o = {
		.size = sizeof(struct mmig_journal_options),
		.flags = rdonly ? MMIG_JOURNAL_RDONLY : 0,
	};
	struct mmig_error *err = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	if (strncmp(cli->journal, "etcd://", 7) == 0)
		return open_etcd_journal(cli, rdonly, out);
	if (stat(cli->journal, &st) != 0) {
		int e = errno;
		char *parent = strdup(cli->journal), *slash;

		/* Missing, in a directory that exists: not made yet. */
		while (parent && (slash = strrchr(parent, '/')) &&
		       slash != parent && slash[1] == '\0')
			*slash = '\0';
		slash = parent ? strrchr(parent, '/') : NULL;
		if (slash)
			slash[slash == parent ? 1 : 0] = '\0';
		if (e == ENOENT && parent &&
		    stat(slash ? parent : ".", &st) == 0 && S_ISDIR(st.st_mode)) {
			free(parent);
			fprintf(stderr,
				PROG ": open journal: %s: no journal there "
				     "yet: nothing in flight\n",
				cli->journal);
			return NO_JOURNAL;
		}
		free(parent);
		fail_msg("open journal", "%s: %s", cli->journal, strerror(e));
		return EXIT_ATTENTION;
	}
	if (!S_ISDIR(st.st_mode)) {
		fail_msg("open journal", "%s: %s", cli->journal,
			 strerror(ENOTDIR));
		return EXIT_ATTENTION;
	}
	if (dir_holds_no_journal(cli->journal)) {
		fprintf(stderr,
			PROG ": open journal: %s: no journal there yet: "
			     "nothing in flight\n",
			cli->journal);
		return NO_JOURNAL;
	}
	rc = mmig_journal_open(out, cli->journal, &o, &err);
	if (rc == -ENOENT && rdonly && !has_data_file(cli->journal)) {
		/* A directory, not empty, without data.mdb: the read-only
		 * open only finds no data.mdb; say what the read-write one
		 * says. */
		mmig_error_free(err);
		fail_msg("open journal",
			 "%s: not a libmmig journal (the directory holds other "
			 "files and no data.mdb); left as it was",
			 cli->journal);
		return EXIT_ATTENTION;
	}
	if (rc != MMIG_OK) {
		/* The library's message names the directory already. */
		if (err)
			fail_msg("open journal", "%s", mmig_error_message(err));
		else
			fail_msg("open journal", "%s: %s", cli->journal,
				 mmig_strerror(rc));
		mmig_error_free(err);
		return EXIT_ATTENTION;
	}
	if (cli->lock_timeout_ns)
		mmig_journal_set_lock_timeout(*out, cli->lock_timeout_ns);
	return EXIT_OK;
}

/*
 * Sync before showing progress, as recovery does before acting on it: what
 * list and show report is then what a power cut cannot undo.  A failed
 * sync is said, not hidden: the output may not be durable yet.
 */
static void
sync_before_reading(const struct cli *cli, struct mmig_journal *j)
{
	struct mmig_error *err = NULL;
	int rc = mmig_journal_sync_v2(j, &err);

	if (rc != MMIG_OK)
		fprintf(stderr,
			PROG ": warning: %s: what follows may not be durable "
			     "yet (a power cut could still undo it)\n",
			err_text(err, rc));
	mmig_error_free(err);
}

/* The built-in reference operations plus every --plugin, in order. */
static int
open_registry(const struct cli *cli, struct mmig_registry **out)
{
	struct mmig_registry *r = NULL;
	int rc;

	*out = NULL;
	rc = mmig_registry_new(&r);
	if (rc != MMIG_OK) {
		fail_msg("registry", "%s", mmig_strerror(rc));
		return EXIT_ATTENTION;
	}
	rc = mmig_import_register(r);
	if (rc != MMIG_OK) {
		fail_msg("register import operations", "%s",
			 mmig_strerror(rc));
		goto fail;
	}
	for (size_t i = 0; i < cli->n_plugins; i++) {
		struct mmig_error *err = NULL;

		rc = mmig_registry_load_plugin(r, cli->plugins[i], &err);
		if (rc != MMIG_OK) {
			/* The library's message names the file and why. */
			if (err)
				fail_msg("load plugin", "%s",
					 mmig_error_message(err));
			else
				fail_msg("load plugin", "%s: %s",
					 cli->plugins[i], mmig_strerror(rc));
			mmig_error_free(err);
			goto fail;
		}
	}
	*out = r;
	return EXIT_OK;
fail:
	mmig_registry_free(r);
	return EXIT_ATTENTION;
}

/* ---- list ---------------------------------------------------------------- */

/*
 * One migration of list --json.  Times: "created" and "updated" in RFC 3339
 * UTC with microseconds (the form of every time in the tool's JSON), and
 * the same instants as integer nanoseconds in "created_ns" and
 * "updated_ns", as show and dump give them.
 */
static json_t *
info_json(const struct mmig_migration_info *m)
{
	char created[40], updated[40];

	return json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:b,"
		" s:s, s:s, s:I, s:I, s:o, s:o, s:o}",
		"id", m->id, "model_uuid", m->model_uuid, "state",
		m->state ? m->state : "?", "durability",
		m->durability ? m->durability : "?", "ops_done",
		(json_int_t)m->ops_done, "ops_total", (json_int_t)m->ops_total,
		"highest_begun", (json_int_t)m->highest_begun, "epoch",
		(json_int_t)m->epoch, "owner_pid", (json_int_t)m->owner_pid,
		"owner_host", json_str_or_null(m->owner_host), "owner_alive",
		m->owner_alive, "created",
		fmt_time(m->created_ns, 6, created, sizeof(created)),
		"updated",
		fmt_time(m->updated_ns, 6, updated, sizeof(updated)),
		"created_ns", (json_int_t)m->created_ns, "updated_ns",
		(json_int_t)m->updated_ns, "cause", json_str_or_null(m->cause), "last_error",
		json_str_or_null(m->last_error), "problem",
		json_str_or_null(m->problem));
}

static int
cmd_list(struct cli *cli)
{
	struct mmig_journal *j = NULL;
	struct mmig_migration_info *a = NULL;
	struct mmig_error *err = NULL;
	size_t n = 0;
	int rc, ex;

	ex = open_journal(cli, true, &j);
	if (ex == NO_JOURNAL) {
		ex = EXIT_OK;
		goto print; /* nothing in flight, nothing at all */
	}
	if (ex != EXIT_OK)
		return ex;
	sync_before_reading(cli, j);
	rc = mmig_journal_list_v2(j, cli->all, &a, &n, &err);
	if (rc != MMIG_OK) {
		fail_msg("list", "%s", err_text(err, rc));
		mmig_error_free(err);
		ex = EXIT_ATTENTION;
		goto out;
	}
print:
	if (cli->json) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			if (json_array_append_new(
				    arr,
				    info_json(mmig_migration_info_at(a, i)))) {
				json_decref(arr);
				arr = NULL;
			}
		ex = json_print(arr);
		goto out;
	}
	if (n == 0) {
		printf(cli->all ? "no migrations\n"
				: "no migrations in flight\n");
		goto out;
	}
	printf("%-36s  %-36s  %-15s  %7s  %-28s  %s\n", "ID", "MODEL", "STATE",
	       "OPS", "OWNER", "AGE");
	for (size_t i = 0; i < n; i++) {
		const struct mmig_migration_info *m =
			mmig_migration_info_at(a, i);
		char ops[24], owner[96], age[24];

		snprintf(ops, sizeof(ops), "%u/%u", m->ops_done, m->ops_total);
		snprintf(owner, sizeof(owner), "%u@%s %s", m->owner_pid,
			 m->owner_host ? m->owner_host : "?",
			 m->owner_alive ? "alive" : "dead");
		printf("%-36s  %-36s  %-15s  %7s  %-28s  %s\n", m->id,
		       m->model_uuid, m->state ? m->state : "?", ops, owner,
		       fmt_age(m->created_ns, age, sizeof(age)));
		/* What an operator must read before acting, under the row. */
		if (m->problem)
			printf("    problem: %s\n", m->problem);
		if (m->cause)
			printf("    cause: %s\n", m->cause);
		if (m->last_error)
			printf("    last error: %s\n", m->last_error);
	}
out:
	mmig_migration_info_free(a, n);
	mmig_journal_close(j);
	return ex;
}

/* ---- show ---------------------------------------------------------------- */

/*
 * Run mmig_journal_show() into memory and parse each line, so that the
 * readable and the JSON forms come from the one documented output.
 * @return the library's code; *lines holds whatever was readable.
 */
static int
show_lines(struct mmig_journal *j, const char *id, json_t **lines,
	   struct mmig_error **errp)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	*lines = json_array();
	mem = open_memstream(&buf, &len);
	if (!mem || !*lines) {
		if (mem)
			fclose(mem);
		free(buf);
		return MMIG_ENOMEM;
	}
	rc = mmig_journal_show(j, id, mem, errp);
	if (fclose(mem) != 0 && rc == MMIG_OK)
		rc = MMIG_ENOMEM;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *v = json_loads(line, 0, &jerr);

		/* The library writes valid JSON; keep a bad line as text
		 * rather than lose it. */
		if (!v)
			v = json_pack("{s:s, s:s}", "record", "unparsed",
				      "text", line);
		else
			enrich_record(v);
		json_array_append_new(*lines, v);
	}
	free(buf);
	return rc;
}

/* Integer member of a JSON object; uint64 values above INT64_MAX come
 * back as strings from the library and read as 0 here. */
static uint64_t
jnum(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The name of op @p i in the header's plan, or NULL. */
static const char *
plan_name(const json_t *header, json_int_t i)
{
	json_t *plan = json_object_get(header, "plan");

	if (i < 0 || !json_is_array(plan) || (size_t)i >= json_array_size(plan))
		return NULL;
	return json_string_value(
		json_object_get(json_array_get(plan, (size_t)i), "name"));
}

static void
print_header(const json_t *h, const struct mmig_migration_info *info)
{
	json_t *plan = json_object_get(h, "plan"), *owner;
	char t[40], age[24];
	size_t i;
	json_t *op;

	owner = json_object_get(h, "owner");
	printf("migration   %s\n", jstr(h, "id"));
	printf("model       %s\n", jstr(h, "model_uuid"));
	printf("state       %s (epoch %" PRIu64 ")\n", jstr(h, "state"),
	       jnum(h, "epoch"));
	printf("durability  %s\n", jstr(h, "durability"));
	printf("created     %s (%s ago)\n",
	       fmt_time(jnum(h, "created_ns"), 3, t, sizeof(t)),
	       fmt_age(jnum(h, "created_ns"), age, sizeof(age)));
	if (info)
		printf("updated     %s\n",
		       fmt_time(info->updated_ns, 3, t, sizeof(t)));
	printf("owner       pid %" PRIu64 " on %s, %s\n", jnum(owner, "pid"),
	       jstr(owner, "host"),
	       info ? (info->owner_alive ? "alive" : "dead") : "?");
	if (info)
		printf("progress    %u of %u ops done\n", info->ops_done,
		       info->ops_total);
	printf("description %" PRIu64 " bytes, digest %s\n",
	       jnum(h, "model_bytes"), jstr(h, "model_digest"));
	if (info && info->cause)
		printf("cause       %s\n", info->cause);
	if (info && info->last_error)
		printf("last error  %s\n", info->last_error);
	if (info && info->problem)
		printf("problem     %s\n", info->problem);
	printf("plan        %zu ops\n", json_array_size(plan));
	json_array_foreach(plan, i, op)
	{
		unsigned flags = (unsigned)jnum(op, "flags");

		printf("  %3zu  %s v%" PRIu64 "%s%s\n", i, jstr(op, "name"),
		       jnum(op, "version"),
		       flags & MMIG_OP_IDEMPOTENT ? " idempotent" : "",
		       flags & MMIG_OP_RESUMABLE ? " resumable" : "");
	}
}

/* ---- checkpoints and progress (show, show --follow) --------------------- */

/*
 * The reference import's checkpoint (domain/import.c): little-endian
 * 64-bit numbers, the next item, the batch size and (24 bytes; 16 in
 * earlier builds) the op's total.  A CHECKPOINT record holds it behind the
 * coordinator's 8-byte prefix (the op's transaction count), and the
 * library's show prints binary data as {"base64":"..."}.
 * @return false when @p data is not such a checkpoint.
 */
static bool
import_checkpoint(const json_t *data, uint64_t *next, uint64_t *batch,
		  uint64_t *total)
{
	const char *b64 = json_string_value(json_object_get(data, "base64"));
	unsigned char buf[40], *raw = buf + 8;
	int len;

	if (!b64)
		return false;
	len = b64_pton(b64, buf, sizeof(buf)) - 8;
	if (len != 16 && len != 24)
		return false;
	*next = *batch = *total = 0;
	for (int i = 7; i >= 0; i--) {
		*next = (*next << 8) | raw[i];
		*batch = (*batch << 8) | raw[8 + i];
		if (len == 24)
			*total = (*total << 8) | raw[16 + i];
	}
	return *batch > 0 && (len == 16 || *next <= *total);
}

/* Where a migration is, from its show lines and its info. */
struct progress {
	const char *state;
	json_int_t op; /* the op begun last, -1 for none */
	const char *op_name;
	uint32_t ops_done, ops_total;
	bool have_rows; /* a checkpoint of that op was read */
	uint64_t rows, total;
	double rate; /* rows a second, 0 when unknown */
	bool owner_alive;
	uint32_t owner_pid;
};

static void
progress_of(const json_t *lines, const struct mmig_migration_info *info,
	    struct progress *p)
{
	const json_t *header = NULL, *line;
	uint64_t t_begin = 0, t0 = 0, n0 = 0, t1 = 0, n1 = 0;
	size_t i, n_cp = 0;

	*p = (struct progress){ .state = info->state,
				.op = -1,
				.ops_done = info->ops_done,
				.ops_total = info->ops_total,
				.owner_alive = info->owner_alive,
				.owner_pid = info->owner_pid };
	json_array_foreach(lines, i, line)
	{
		const char *rec = jstr(line, "record"), *kind;
		json_int_t op;

		if (strcmp(rec, "header") == 0)
			header = line;
		if (strcmp(rec, "transition") != 0)
			continue;
		kind = jstr(line, "kind");
		op = json_integer_value(json_object_get(line, "op"));
		if (strcmp(kind, "BEGIN") == 0 ||
		    strcmp(kind, "RESUMED") == 0) {
			if (strcmp(kind, "BEGIN") == 0)
				p->op = op;
			t_begin = jnum(line, "time_ns");
			n_cp = 0;
			p->have_rows = false;
		} else if (strcmp(kind, "CHECKPOINT") == 0 && op == p->op) {
			uint64_t next, batch, total;

			if (!import_checkpoint(json_object_get(line, "data"),
					       &next, &batch, &total))
				continue;
			if (n_cp++ == 0) {
				t0 = jnum(line, "time_ns");
				n0 = next;
			}
			t1 = jnum(line, "time_ns");
			n1 = next;
			p->have_rows = true;
			p->rows = next;
			p->total = total;
		}
	}
	p->op_name = header ? plan_name(header, p->op) : NULL;
	/* The rate over this op's checkpoints; with one, since its BEGIN. */
	if (n_cp >= 2 && t1 > t0)
		p->rate = (double)(n1 - n0) * 1e9 / (double)(t1 - t0);
	else if (n_cp == 1 && t_begin && t1 > t_begin)
		p->rate = (double)n1 * 1e9 / (double)(t1 - t_begin);
}

static void
fmt_progress(const struct progress *p, bool owner, char *buf, size_t size)
{
	char rows[96] = "", rate[64] = "";

	if (p->have_rows && p->total)
		snprintf(rows, sizeof(rows),
			 "  rows %" PRIu64 "/%" PRIu64 " (%u%%)", p->rows,
			 p->total, (unsigned)(p->rows * 100 / p->total));
	else if (p->have_rows)
		snprintf(rows, sizeof(rows), "  rows %" PRIu64, p->rows);
	if (p->rate > 0 && p->have_rows) {
		int n = snprintf(rate, sizeof(rate), "  %.0f rows/s", p->rate);

		if (p->total > p->rows && n > 0)
			snprintf(rate + n, sizeof(rate) - (size_t)n,
				 "  ETA %.0fs",
				 (double)(p->total - p->rows) / p->rate);
	}
	snprintf(buf, size,
		 "%s  ops %u/%u  op %" JSON_INTEGER_FORMAT " %s%s%s",
		 p->state ? p->state : "?", p->ops_done, p->ops_total, p->op,
		 p->op_name ? p->op_name : "-", rows, rate);
	if (owner) {
		size_t n = strlen(buf);

		snprintf(buf + n, size - n, "  owner %u %s", p->owner_pid,
			 p->owner_alive ? "alive" : "dead");
	}
}

static volatile sig_atomic_t follow_stop;

static void
follow_signal(int sig)
{
	(void)sig;
	follow_stop = 1;
}

/* Running or rolling back with a live owner: more is coming. */
static bool
moving(const struct mmig_migration_info *info)
{
	return info->owner_alive && (strcmp(info->state, "RUNNING") == 0 ||
				     strcmp(info->state, "ROLLING_BACK") == 0);
}

/*
 * show --follow / watch: one status line, redrawn in place on a terminal
 * (a new line for each change otherwise, or with TERM=dumb), every 500 ms,
 * until the migration settles, its owner is gone, or SIGINT.
 */
static int
cmd_follow(struct cli *cli)
{
	const char *term = getenv("TERM");
	bool tty = isatty(STDOUT_FILENO) && term && strcmp(term, "dumb") != 0;
	struct sigaction sa = { .sa_handler = follow_signal };
	struct mmig_journal *j = NULL;
	char line[512], last[512] = "";
	int ex;

	ex = open_journal(cli, true, &j);
	if (ex != EXIT_OK)
		return ex;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
		struct mmig_error *err = NULL;
		struct progress p;
		json_t *lines = NULL;
		bool more;
		int rc;

		rc = mmig_journal_get(j, cli->id, &info);
		if (rc == MMIG_OK)
			rc = show_lines(j, info.id, &lines, &err);
		if (rc != MMIG_OK) {
			if (tty && last[0])
				putchar('\n');
			fail_msg("show", "%s",
				 rc == MMIG_EINVAL ? AMBIGUOUS
						   : err_text(err, rc));
			json_decref(lines);
			mmig_error_free(err);
			mmig_migration_info_clear(&info);
			ex = EXIT_ATTENTION;
			break;
		}
		progress_of(lines, &info, &p);
		fmt_progress(&p, true, line, sizeof(line));
		if (tty)
			printf("\r\033[K%s", line);
		else if (strcmp(line, last) != 0)
			printf("%s\n", line);
		fflush(stdout);
		snprintf(last, sizeof(last), "%s", line);
		more = moving(&info);
		if (!more) {
			if (tty)
				putchar('\n');
			if (strcmp(info.state, "RUNNING") == 0 ||
			    strcmp(info.state, "ROLLING_BACK") == 0)
				printf("owner %u is gone: the migration waits "
				       "for recovery (" PROG " recover)\n",
				       info.owner_pid);
			ex = strcmp(info.state, "COMMITTED") == 0 ||
					     strcmp(info.state,
						    "ROLLED_BACK") == 0
				     ? EXIT_OK
				     : EXIT_ATTENTION;
		}
		json_decref(lines);
		mmig_migration_info_clear(&info);
		if (!more)
			break;
		if (follow_stop) {
			if (tty)
				putchar('\n');
			ex = EXIT_OK;
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 500000000 }, NULL);
	}
	mmig_journal_close(j);
	return ex;
}

static int
cmd_watch(struct cli *cli)
{
	cli->follow = true;
	return cmd_follow(cli);
}

static void
print_transition(const json_t *h, const json_t *t)
{
	json_t *data = json_object_get(t, "data");
	json_int_t op = json_integer_value(json_object_get(t, "op"));
	const char *name = h ? plan_name(h, op) : NULL;
	char when[40], what[160] = "";

	if (op >= 0)
		snprintf(what, sizeof(what), "op %" JSON_INTEGER_FORMAT " %s",
			 op, name ? name : "?");
	printf("  %s  #%-4" PRIu64 " %-15s %s",
	       fmt_time(jnum(t, "time_ns"), 3, when, sizeof(when)),
	       jnum(t, "seq"), jstr(t, "kind"), what);
	/* FAIL and UNDO_FAIL carry the error text; checkpoints carry opaque
	 * bytes that only their op reads, so only their size is shown. */
	if (json_is_string(data)) {
		if (strcmp(jstr(t, "kind"), "CHECKPOINT") == 0)
			printf(" (%zu bytes)", json_string_length(data));
		else
			printf("%s%s", what[0] ? ": " : "",
			       json_string_value(data));
	} else if (json_is_object(data)) {
		uint64_t next, batch, total;

		/* The reference import's checkpoints are decoded; any other
		 * op's bytes are its own. */
		if (strcmp(jstr(t, "kind"), "CHECKPOINT") == 0 &&
		    import_checkpoint(data, &next, &batch, &total) && total)
			printf(": row %" PRIu64 " of %" PRIu64
			       " (batch %" PRIu64 ")",
			       next, total, batch);
		else if (strcmp(jstr(t, "kind"), "CHECKPOINT") == 0 &&
			 import_checkpoint(data, &next, &batch, &total))
			printf(": row %" PRIu64 " (batch %" PRIu64 ")", next,
			       batch);
		else
			printf(" (binary data)");
	}
	printf("  (epoch %" PRIu64 ")\n", jnum(t, "epoch"));
}

static int
cmd_show(struct cli *cli)
{
	struct mmig_journal *j = NULL;
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	struct mmig_error *err = NULL;
	bool have_info = false;
	json_t *lines = NULL, *line, *header = NULL;
	size_t i;
	int rc, ex;

	if (cli->follow)
		return cmd_follow(cli);
	ex = open_journal(cli, true, &j);
	if (ex == NO_JOURNAL) {
		fail_msg("show", "migration %s: not in the journal", cli->id);
		return EXIT_ATTENTION;
	}
	if (ex != EXIT_OK)
		return ex;
	sync_before_reading(cli, j);
	rc = show_lines(j, cli->id, &lines, &err);
	if (rc == MMIG_ENOTFOUND || rc == MMIG_EINVAL) {
		fail_msg("show", "%s", err_text(err, rc));
		ex = EXIT_ATTENTION;
		goto out;
	}
	if (cli->json) {
		ex = json_print(json_incref(lines));
	} else {
		have_info = mmig_journal_get(j, cli->id, &info) == MMIG_OK;
		json_array_foreach(lines, i, line)
		{
			const char *rec = jstr(line, "record");

			if (strcmp(rec, "header") == 0) {
				header = line;
				print_header(line, have_info ? &info : NULL);
				printf("timeline\n");
			} else if (strcmp(rec, "transition") == 0) {
				print_transition(header, line);
			} else {
				if (json_object_get(line, "seq"))
					printf("  corrupt record: seq %" PRIu64
					       "\n", jnum(line, "seq"));
				else
					printf("  corrupt record: %s\n",
					       jstr(line, "what"));
			}
		}
		if (have_info)
			mmig_migration_info_clear(&info);
	}
	if (rc != MMIG_OK) {
		fail_msg("show", "%s", err_text(err, rc));
		ex = EXIT_ATTENTION;
	}
out:
	json_decref(lines);
	mmig_error_free(err);
	mmig_journal_close(j);
	return ex;
}

/* ---- progress and SIGINT (recover, resume, rollback) ---------------------- */

/*
 * While recover, resume or rollback runs, a thread of the tool reads the
 * journal (read transactions only: they never wait for, nor hold up, the
 * recovery's writes) every 200 ms, finds the migration this process has
 * claimed and is driving, and shows where it is, as watch does: state, ops
 * done, the op under way and, when its checkpoints say, rows done of
 * total.  On a terminal (stderr, TERM not dumb) one status line redrawn in
 * place, cleared before each log line and at the end; otherwise plain
 * "mmig-recover: progress: ..." lines, one when the op changes and at most
 * one every 2 s besides.  Never with --json: stderr stays quiet.
 */
struct live {
	struct cli *cli;
	struct mmig_journal *j;
	bool tty;
	pthread_t thread;
	pthread_mutex_t lock; /* the fields below, and stderr */
	pthread_cond_t wake;
	bool stop;
	bool drawn;        /* a status line is on the terminal */
	char last_op[160]; /* id, state and op of the last plain line */
	char last[512];
	uint64_t last_ns;
};

/* A log line, with the status line cleared first (drawn again next tick). */
static void
live_log(struct live *l, const char *level, const char *msg)
{
	pthread_mutex_lock(&l->lock);
	if (l->drawn) {
		fputs("\r\033[K", stderr);
		l->drawn = false;
	}
	fprintf(stderr, PROG ": %s: %s\n", level, msg);
	pthread_mutex_unlock(&l->lock);
}

/* The migration this process drives now, matching --id if given. */
static bool
live_find(struct live *l, struct mmig_migration_info *out)
{
	struct mmig_migration_info *a = NULL;
	size_t n = 0;
	bool found = false;
	uint32_t me = (uint32_t)getpid();
	char host[256] = "";

	/* This process: its pid on this host (a journal on a shared disk
	 * may hold the same pid of another host). */
	gethostname(host, sizeof(host) - 1);
	if (mmig_journal_list_v2(l->j, false, &a, &n, NULL) != MMIG_OK)
		return false;
	for (size_t i = 0; !found && i < n; i++) {
		const struct mmig_migration_info *m =
			mmig_migration_info_at(a, i);

		if (m->owner_pid != me || !m->state ||
		    (m->owner_host && host[0] &&
		     strcmp(m->owner_host, host) != 0) ||
		    (strcmp(m->state, "RUNNING") != 0 &&
		     strcmp(m->state, "ROLLING_BACK") != 0) ||
		    (l->cli->id &&
		     strncmp(m->id, l->cli->id, strlen(l->cli->id)) != 0))
			continue;
		found = mmig_journal_get(l->j, m->id, out) == MMIG_OK;
	}
	mmig_migration_info_free(a, n);
	return found;
}

static void
live_tick(struct live *l)
{
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	struct progress p;
	json_t *lines = NULL;
	char line[512], what[160];
	uint64_t now = now_ns();

	if (!live_find(l, &info))
		return;
	if (show_lines(l->j, info.id, &lines, NULL) != MMIG_OK) {
		json_decref(lines);
		mmig_migration_info_clear(&info);
		return;
	}
	progress_of(lines, &info, &p); /* p points into lines */
	snprintf(line, sizeof(line), "%.8s ", info.id);
	fmt_progress(&p, false, line + strlen(line),
		     sizeof(line) - strlen(line));
	json_decref(lines);
	snprintf(what, sizeof(what), "%s %s %" JSON_INTEGER_FORMAT, info.id,
		 info.state, p.op);
	mmig_migration_info_clear(&info);
	pthread_mutex_lock(&l->lock);
	if (l->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		l->drawn = true;
	} else if (strcmp(what, l->last_op) != 0 ||
		   (strcmp(line, l->last) != 0 &&
		    now - l->last_ns >= 2000000000u)) {
		fprintf(stderr, PROG ": progress: %s\n", line);
		snprintf(l->last_op, sizeof(l->last_op), "%s", what);
		snprintf(l->last, sizeof(l->last), "%s", line);
		l->last_ns = now;
	}
	fflush(stderr);
	pthread_mutex_unlock(&l->lock);
}

static void *
live_main(void *arg)
{
	struct live *l = arg;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		struct timespec until;

		pthread_mutex_unlock(&l->lock);
		live_tick(l);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&l->lock);
		if (!l->stop)
			pthread_cond_timedwait(&l->wake, &l->lock, &until);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Start showing progress, unless --json.  @return false when not shown. */
static bool
live_start(struct live *l, struct cli *cli, struct mmig_journal *j)
{
	const char *term = getenv("TERM");

	if (cli->json)
		return false;
	*l = (struct live){
		.cli = cli,
		.j = j,
		.tty = isatty(STDERR_FILENO) && term && *term &&
		       strcmp(term, "dumb") != 0,
	};
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	if (pthread_create(&l->thread, NULL, live_main, l) != 0) {
		pthread_cond_destroy(&l->wake);
		pthread_mutex_destroy(&l->lock);
		return false; /* no progress shown; recovery goes on */
	}
	cli->live = l;
	return true;
}

static void
live_stop(struct live *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	if (l->drawn)
		fputs("\r\033[K", stderr);
	l->cli->live = NULL;
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
}

/*
 * SIGINT (and SIGTERM) while recover, resume or rollback runs: the first
 * pauses the recovery's context (mmig_recover_options.ctx), so recovery
 * stops at its next safe point -- it claims nothing more, a resume under
 * way is left PAUSED before its next op, a rollback under way runs to its
 * end -- and the tool exits 128 + the signal's number (130 for SIGINT)
 * after printing what was done.  A second one stops the process at once,
 * as the signal's default would: the journal is crash-safe, and what was
 * in flight is settled by the next recovery.
 */
static struct mmig_ctx *volatile stop_ctx;
static volatile sig_atomic_t stop_signal;

/*
 * recover --wait: wait up to cli->wait_ns for the owners of the
 * migrations in flight to die (an etcd owner: its lease to expire), so
 * that recovery settles them instead of skipping them.  Stops early on a
 * signal.
 */
static void
wait_for_owners(const struct cli *cli, struct mmig_journal *j)
{
	struct timespec t0, now, pause = { .tv_nsec = 250 * 1000000L };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct mmig_migration_info *a = NULL;
		size_t n = 0, alive = 0;
		uint64_t spent;

		if (mmig_journal_list_v2(j, false, &a, &n, NULL) != MMIG_OK)
			return;
		for (size_t i = 0; i < n; i++)
			alive += mmig_migration_info_at(a, i)->owner_alive;
		mmig_migration_info_free(a, n);
		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000u +
			(uint64_t)now.tv_nsec - (uint64_t)t0.tv_nsec;
		if (!alive || spent >= cli->wait_ns || stop_signal)
			return;
		nanosleep(&pause, NULL);
	}
}

static void
stop_handler(int sig)
{
	static const char msg[] =
		PROG ": interrupted: stopping at the next safe point "
		     "(interrupt again to stop at once)\n";

	if (stop_signal) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_signal = sig;
	if (stop_ctx)
		mmig_ctx_pause(stop_ctx);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		stop_signal = sig; /* nothing more to do about it */
}

/* Install the handler for @p ctx; @p old keeps what was there. */
static void
stop_catch(struct mmig_ctx *ctx, struct sigaction old[2])
{
	/* SA_RESTART: the journal's and the databases' system calls go on
	 * as if nothing happened; only the context says stop. */
	struct sigaction sa = { .sa_handler = stop_handler,
				.sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	stop_ctx = ctx;
	stop_signal = 0;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

static void
stop_release(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	stop_ctx = NULL;
}

/* ---- plan, recover, resume, rollback ------------------------------------- */

static bool
action_settled(enum mmig_recover_action a)
{
	return a == MMIG_RECOVER_COMMITTED || a == MMIG_RECOVER_ROLLED_BACK;
}

static json_t *
summary_json(const struct mmig_recover_summary *s)
{
	json_t *items = json_array();

	for (size_t i = 0; items && i < s->n; i++) {
		const struct mmig_recover_item *it =
			mmig_recover_summary_item(s, i);
		json_t *steps = json_array();

		/* Each step as an object; "text" is the line of prose that
		 * was the whole step before. */
		for (size_t k = 0; steps && k < it->n_steps; k++) {
			const struct mmig_recover_step *st =
				it->step_info ? &it->step_info[k] : NULL;

			json_array_append_new(
				steps,
				st ? json_pack("{s:s, s:I, s:o, s:o, s:s}",
					       "action", st->action, "index",
					       (json_int_t)st->index, "op",
					       json_str_or_null(st->op),
					       "detail",
					       json_str_or_null(st->detail),
					       "text", it->steps[k])
				   : json_pack("{s:s}", "text", it->steps[k]));
		}
		json_array_append_new(
			items,
			json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", it->id,
				  "model_uuid", it->model_uuid, "action",
				  mmig_recover_action_name(it->action),
				  "message", json_str_or_null(it->message),
				  "steps", steps ? steps : json_array()));
	}
	return json_pack("{s:o, s:I, s:I}", "items",
			 items ? items : json_array(), "count", (json_int_t)s->n,
			 "unsettled", (json_int_t)s->n_unsettled);
}

static void
print_summary(const struct mmig_recover_summary *s, bool steps)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct mmig_recover_item *it =
			mmig_recover_summary_item(s, i);

		/* A plan's committed or rolled-back is the outcome it would
		 * reach, not one reached. */
		bool would = steps && (it->action == MMIG_RECOVER_COMMITTED ||
				       it->action == MMIG_RECOVER_ROLLED_BACK);

		printf("%s %s %s%s%s%s\n", it->id, it->model_uuid,
		       would ? "would be " : "",
		       mmig_recover_action_name(it->action),
		       it->message ? ": " : "", it->message ? it->message : "");
		for (size_t k = 0; steps && k < it->n_steps; k++)
			printf("  %zu. %s\n", k + 1, it->steps[k]);
	}
}

/* Where the databases are, and the mode of those recovery creates. */
struct scope_where {
	struct mmig_import_paths paths; /* the import's deleter reads these */
	unsigned file_mode;             /* 0: the library's */
};

/* The import's scope for a model (mmig_scope_for_model_fn), with
 * --file-mode's mode for the files and directory it creates. */
static int
scope_for_model(void *arg, const char *model_uuid, enum mmig_durability d,
		struct mmig_scope **out)
{
	struct scope_where *w = arg;
	int rc;

	if (w->file_mode) {
		rc = file_mode_make_dirs(w->paths.model_dir,
					 file_mode_dir(w->file_mode));
		if (rc != 0)
			return rc;
	}
	rc = mmig_import_scope_for_model(&w->paths, model_uuid, d, out);
	if (rc == MMIG_OK && w->file_mode) {
		rc = mmig_scope_set_file_mode(*out, w->file_mode);
		if (rc != MMIG_OK) {
			mmig_scope_free(*out);
			*out = NULL;
		}
	}
	return rc;
}

static void
recover_options(struct cli *cli, struct scope_where *where,
		struct mmig_recover_options *o)
{
	*o = (struct mmig_recover_options){
		.size = sizeof(struct mmig_recover_options),
		.policy = cli->policy, /* 0, rollback, unless --policy */
		.fallback_to_rollback = cli->fallback,
		.scope_for_model = scope_for_model,
		.scope_arg = where,
		.log = log_stderr,
		.log_arg = cli,
		.force = cli->force,
	};
}

enum settle_kind {
	SETTLE_PLAN,
	SETTLE_ALL,
	SETTLE_RESUME,
	SETTLE_ROLLBACK,
};

/*
 * Say so, once, before taking a migration over from a live owner: the
 * operator asked for it, but the owner may still be writing.
 */
static int
warn_force(const struct cli *cli, struct mmig_journal *j)
{
	struct mmig_migration_info info = MMIG_MIGRATION_INFO_INIT;
	int rc = mmig_journal_get(j, cli->id, &info);

	if (rc != MMIG_OK) {
		fail_msg(cli->cmd->name, "migration %s: %s", cli->id,
			 rc == MMIG_EINVAL ? AMBIGUOUS
			 : rc == MMIG_ENOTFOUND ? "not in the journal"
						: mmig_strerror(rc));
		return EXIT_ATTENTION;
	}
	if (info.owner_alive)
		fprintf(stderr,
			PROG ": warning: --force: taking migration %s over "
			     "from its live owner, pid %u on %s\n",
			info.id, info.owner_pid,
			info.owner_host ? info.owner_host : "?");
	mmig_migration_info_clear(&info);
	return EXIT_OK;
}

static int
settle(struct cli *cli, enum settle_kind kind)
{
	struct scope_where where = {
		.paths = {
			.controller_db = cli->controller_db,
			.model_dir = cli->model_dir,
		},
		.file_mode = cli->file_mode,
	};
	struct mmig_recover_options o;
	struct mmig_recover_summary *s = NULL;
	struct mmig_registry *r = NULL;
	struct mmig_journal *j = NULL;
	struct mmig_ctx *ctx = NULL;
	struct sigaction old[2];
	struct live live;
	bool shown = false;
	enum mmig_recover_mode mode = MMIG_RECOVER_MODE_POLICY;
	int rc, ex;

	recover_options(cli, &where, &o);
	ex = open_journal(cli, kind == SETTLE_PLAN, &j);
	if (ex == NO_JOURNAL && cli->id) {
		fail_msg(cli->cmd->name, "migration %s: not in the journal",
			 cli->id);
		return EXIT_ATTENTION;
	}
	if (ex == NO_JOURNAL) {
		struct mmig_recover_summary none = { 0 };

		if (cli->json)
			return json_print(summary_json(&none));
		printf(kind == SETTLE_PLAN ? "nothing to do\n"
					   : "nothing to recover\n");
		return EXIT_OK;
	}
	if (ex != EXIT_OK)
		return ex;
	ex = open_registry(cli, &r);
	if (ex != EXIT_OK)
		goto out;
	if (kind == SETTLE_RESUME)
		mode = MMIG_RECOVER_MODE_RESUME;
	if (kind == SETTLE_ROLLBACK)
		mode = MMIG_RECOVER_MODE_ROLLBACK;
	/* A plan for one migration with an explicit policy shows what
	 * `resume ID` or `rollback ID` would do; without one, what recover
	 * would. */
	if (kind == SETTLE_PLAN && cli->id && (cli->seen & F_POLICY))
		mode = cli->policy == MMIG_POLICY_RESUME
			       ? MMIG_RECOVER_MODE_RESUME
			       : MMIG_RECOVER_MODE_ROLLBACK;
	if (kind == SETTLE_ROLLBACK && cli->force) {
		ex = warn_force(cli, j);
		if (ex != EXIT_OK)
			goto out;
	}
	if (kind != SETTLE_PLAN) {
		if (mmig_ctx_new(&ctx) != MMIG_OK) {
			fail_msg(cli->cmd->name, "out of memory");
			ex = EXIT_ATTENTION;
			goto out;
		}
		o.ctx = ctx;
		stop_catch(ctx, old);
		shown = live_start(&live, cli, j);
	}
	if (kind == SETTLE_ALL && cli->wait_ns)
		wait_for_owners(cli, j);
	switch (kind) {
	case SETTLE_PLAN:
		rc = mmig_recover_plan(j, r, &o, cli->id, mode, &s);
		break;
	case SETTLE_ALL:
		rc = mmig_recover(j, r, &o, &s);
		break;
	default:
		rc = mmig_recover_one(j, r, &o, cli->id, mode, &s);
		break;
	}
	if (shown)
		live_stop(&live);
	if (rc != MMIG_OK) {
		if (rc == MMIG_ENOTFOUND && cli->id)
			fail_msg(cli->cmd->name, "migration %s: not in the "
						 "journal", cli->id);
		else if (rc == MMIG_EINVAL && cli->id)
			fail_msg(cli->cmd->name, "migration %s: %s", cli->id,
				 AMBIGUOUS);
		else if (rc == MMIG_EOWNED && cli->id)
			fail_msg(cli->cmd->name, "migration %s: %s%s", cli->id,
				 mmig_strerror(rc),
				 kind == SETTLE_ROLLBACK
					 ? " (--force takes it over)"
					 : "");
		else
			fail_msg(cli->cmd->name, "%s: %s", cli->journal,
				 mmig_strerror(rc));
		ex = EXIT_ATTENTION;
		goto out;
	}
	if (cli->json)
		ex = json_print(summary_json(s));
	else if (s->n == 0)
		printf(kind == SETTLE_PLAN ? "nothing to do\n"
					   : "nothing to recover\n");
	else
		print_summary(s, kind == SETTLE_PLAN);
	if (ex == EXIT_OK && s->n_unsettled > 0)
		ex = EXIT_ATTENTION;
	/* recover (and its plan): anything left unsettled -- needs
	 * attention, paused, refused, failed -- is exit 1, so that
	 * `mmig-recover recover || alert` alerts.  A migration whose owner
	 * is alive is that owner's to settle, not left over.  One migration
	 * by name: anything but settled (skipped because its owner lives,
	 * paused again, refused) is a failure to do as asked. */
	for (size_t i = 0; i < s->n; i++)
		if (!action_settled(mmig_recover_summary_item(s, i)->action) &&
		    (kind >= SETTLE_RESUME ||
		     mmig_recover_summary_item(s, i)->action !=
			     MMIG_RECOVER_SKIPPED_LIVE))
			ex = EXIT_ATTENTION;
out:
	if (ctx) {
		stop_release(old);
		if (stop_signal) {
			fprintf(stderr,
				PROG ": interrupted: what is still in flight "
				     "is settled by " PROG " recover (a "
				     "paused one by resume ID or rollback "
				     "ID)\n");
			ex = 128 + stop_signal;
		}
	}
	mmig_ctx_free(ctx);
	mmig_recover_summary_free(s);
	mmig_registry_free(r);
	mmig_journal_close(j);
	return ex;
}

static int
cmd_plan(struct cli *cli)
{
	return settle(cli, SETTLE_PLAN);
}

static int
cmd_recover(struct cli *cli)
{
	return settle(cli, SETTLE_ALL);
}

static int
cmd_resume(struct cli *cli)
{
	return settle(cli, SETTLE_RESUME);
}

static int
cmd_rollback(struct cli *cli)
{
	return settle(cli, SETTLE_ROLLBACK);
}

/* ---- verify, dump, prune --------------------------------------------- */

struct verify_out {
	bool json;
	json_t *problems;
};

static void
verify_report(void *arg, const char *msg)
{
	struct verify_out *v = arg;

	if (v->json)
		json_array_append_new(v->problems, json_string(msg));
	else
		printf("%s\n", msg);
}

static int
cmd_verify(struct cli *cli)
{
	struct verify_out v = { .json = cli->json };
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	size_t n = 0;
	int rc, ex;

	ex = open_journal(cli, true, &j);
	v.problems = json_array();
	if (ex == NO_JOURNAL) {
		ex = EXIT_OK;
		goto print;
	}
	if (ex != EXIT_OK) {
		json_decref(v.problems);
		return ex;
	}
	rc = mmig_journal_verify_v2(j, verify_report, &v, &n, &err);
	if (rc != MMIG_OK) {
		fail_msg("verify", "%s", err_text(err, rc));
		mmig_error_free(err);
		ex = EXIT_ATTENTION;
		goto out;
	}
print:
	if (cli->json)
		ex = json_print(json_pack("{s:O, s:I}", "problems", v.problems,
					  "count", (json_int_t)n));
	else if (n == 0)
		printf("no problems\n");
	if (n > 0) {
		if (!cli->json)
			fail_msg("verify", "%zu problem%s in %s", n,
				 n == 1 ? "" : "s", cli->journal);
		ex = EXIT_ATTENTION;
	}
out:
	json_decref(v.problems);
	mmig_journal_close(j);
	return ex;
}

/* dump's writer: the library's lines into one end of a pipe. */
struct dump_writer {
	struct mmig_journal *j;
	FILE *out;
	struct mmig_error *err;
	int rc;
};

static void *
dump_write(void *arg)
{
	struct dump_writer *w = arg;

	w->rc = mmig_journal_dump(w->j, w->out, &w->err);
	fclose(w->out); /* the reader's end of file */
	return NULL;
}

static int
cmd_dump(struct cli *cli)
{
	struct dump_writer w = { 0 };
	char *line = NULL;
	size_t cap = 0;
	pthread_t writer;
	FILE *in = NULL;
	int fds[2], ex;

	ex = open_journal(cli, true, &w.j);
	if (ex == NO_JOURNAL)
		return EXIT_OK;
	if (ex != EXIT_OK)
		return ex;
	/*
	 * The library's lines stream through a pipe (a thread writes, this
	 * one reads: the journal is never held in memory whole), each given
	 * the tool's vocabulary (enrich_record) and printed compact, one
	 * record a line.
	 */
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fail_msg("dump", "pipe: %s", strerror(errno));
		mmig_journal_close(w.j);
		return EXIT_ATTENTION;
	}
	in = fdopen(fds[0], "r");
	w.out = fdopen(fds[1], "w");
	if (!in || !w.out || pthread_create(&writer, NULL, dump_write, &w)) {
		fail_msg("dump", "cannot start: %s", strerror(errno));
		if (in)
			fclose(in);
		else
			close(fds[0]);
		if (w.out)
			fclose(w.out);
		else
			close(fds[1]);
		mmig_journal_close(w.j);
		return EXIT_ATTENTION;
	}
	/* Read to the end whatever happens, so that the writer never blocks
	 * on a full pipe. */
	while (getline(&line, &cap, in) > 0) {
		json_t *v = json_loads(line, 0, NULL);

		if (v) {
			enrich_record(v);
			if (json_dumpf(v, stdout,
				       JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
				putchar('\n');
			json_decref(v);
		} else {
			fputs(line, stdout); /* never lose a line */
		}
	}
	pthread_join(writer, NULL);
	free(line);
	fclose(in);
	if (w.rc != MMIG_OK) {
		fail_msg("dump", "%s", err_text(w.err, w.rc));
		ex = EXIT_ATTENTION;
	}
	mmig_error_free(w.err);
	mmig_journal_close(w.j);
	return ex;
}

static int
cmd_prune(struct cli *cli)
{
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	size_t n = 0;
	int rc = MMIG_OK, ex;

	ex = open_journal(cli, false, &j);
	if (ex != EXIT_OK && ex != NO_JOURNAL)
		return ex;
	/* An option not given stays 0: no age limit without --older-than,
	 * nothing kept for being newest without --keep. */
	if (j)
		rc = mmig_journal_prune_v2(j, cli->older_ns, cli->keep, &n,
					   &err);
	ex = EXIT_OK;
	if (rc != MMIG_OK) {
		fail_msg("prune", "%s", err_text(err, rc));
		mmig_error_free(err);
		ex = EXIT_ATTENTION;
	} else if (cli->json) {
		ex = json_print(json_pack("{s:I}", "pruned", (json_int_t)n));
	} else {
		printf("pruned %zu migration%s\n", n, n == 1 ? "" : "s");
	}
	mmig_journal_close(j);
	return ex;
}

static int
cmd_compact(struct cli *cli)
{
	struct mmig_error *err = NULL;
	uint64_t before = 0, after = 0;
	struct stat st;
	int rc;

	if (strncmp(cli->journal, "etcd://", 7) == 0) {
		/* etcd's compaction is cluster-wide: it drops old revisions
		 * of every key, ours or not, so it is the operator's call. */
		fail_msg("compact", "%s: not for an etcd journal: compacting "
			 "etcd's history is cluster-wide (every key, not only "
			 "this prefix) and the journal never needs old "
			 "revisions; prune finished migrations with 'prune', "
			 "then use 'etcdctl compact REV' and 'etcdctl defrag' "
			 "or etcd's --auto-compaction-retention",
			 cli->journal);
		return EXIT_ATTENTION;
	}
	/* Missing, or a directory without a journal yet: open_journal()
	 * says so (or why not). */
	if (stat(cli->journal, &st) != 0
		    ? errno == ENOENT
		    : S_ISDIR(st.st_mode) &&
			      dir_holds_no_journal(cli->journal)) {
		struct mmig_journal *none = NULL;
		int ex = open_journal(cli, true, &none); /* says why */

		mmig_journal_close(none);
		if (ex != NO_JOURNAL)
			return ex == EXIT_OK ? EXIT_ATTENTION : ex;
		if (cli->json)
			return json_print(json_pack("{s:I, s:I}", "bytes_before",
						    (json_int_t)0, "bytes_after",
						    (json_int_t)0));
		printf("nothing to compact\n");
		return EXIT_OK;
	}
	rc = mmig_journal_compact(cli->journal, &before, &after, &err);
	if (rc != MMIG_OK) {
		fail_msg("compact", "%s", err_text(err, rc));
		mmig_error_free(err);
		return EXIT_ATTENTION;
	}
	if (cli->json)
		return json_print(json_pack("{s:I, s:I}", "bytes_before",
					    (json_int_t)before, "bytes_after",
					    (json_int_t)after));
	printf("compacted %s: %" PRIu64 " bytes, was %" PRIu64 "\n",
	       cli->journal, after, before);
	return EXIT_OK;
}

/* ---- the command line -------------------------------------------------- */

static const struct command commands[] = {
	{ "list", cmd_list, F_ALL | F_JSON, ARG_NONE, "list [--all] [--json]",
	  "List the migrations in flight (every migration with --all): id,\n"
	  "model, state, ops done/total, owner pid@host and whether it is\n"
	  "alive, age.  Exits 0 unless the journal cannot be read.\n" },
	{ "show", cmd_show, F_JSON | F_FOLLOW, ARG_ID,
	  "show ID [--json] [--follow]",
	  "Show a migration's header and its whole timeline: times, op names\n"
	  "and errors.  ID may be a unique prefix.  --json prints the header\n"
	  "and every transition record as one JSON array.  --follow watches\n"
	  "it instead, as watch ID does.\n" },
	{ "watch", cmd_watch, 0, ARG_ID, "watch ID",
	  "Watch a migration from another terminal: state, ops done, the\n"
	  "current op, rows done of total with rate and ETA (from the\n"
	  "import's checkpoints), and whether the owner is alive; every\n"
	  "500 ms until it settles (exit 0 when committed or rolled back, 1\n"
	  "otherwise, also when its owner died) or SIGINT (exit 0).  One\n"
	  "line redrawn on a terminal, a new line per change otherwise or\n"
	  "with TERM=dumb.\n" },
	{ "plan", cmd_plan, F_POLICY | F_FALLBACK | F_FORCE | F_JSON,
	  ARG_OPTIONAL_ID,
	  "plan [ID] [--policy rollback|resume] [--fallback] "
	  "[--force] [--json]",
	  "Show, step by step, what recover would do (with ID and --policy:\n"
	  "what resume ID or rollback ID would do).  Writes nothing: the\n"
	  "journal is opened read-only.  Exits 1 when something would be\n"
	  "refused or left unsettled (as recover would exit).\n" },
	{ "recover", cmd_recover, F_POLICY | F_FALLBACK | F_JSON | F_WAIT,
	  ARG_NONE,
	  "recover [--policy rollback|resume] [--fallback] [--wait SECONDS] "
	  "[--json]",
	  "Settle every migration whose owner is dead: roll it back (the\n"
	  "default) or, with --policy resume, finish it where its interrupted\n"
	  "op allows (idempotent or resumable); --fallback rolls back what\n"
	  "cannot be resumed instead of refusing it.  PAUSED and\n"
	  "NEEDS_ATTENTION migrations are left for resume ID / rollback ID.\n"
	  "--wait SECONDS first waits up to that long for the owners still\n"
	  "alive to die (on etcd: for their leases to expire), then settles.\n"
	  "Prints one line per migration: ID MODEL ACTION[: MESSAGE].\n"
	  "Exits 0 only when everything is settled (or owned by a live\n"
	  "process); 1 when any migration is left unsettled: needs attention\n"
	  "(skipped-attention too), paused (skipped-paused too), refused or\n"
	  "failed.\n" },
	{ "resume", cmd_resume, F_JSON, ARG_ID, "resume ID [--json]",
	  "Resume one migration (a PAUSED one too) to its end.\n" },
	{ "rollback", cmd_rollback, F_FORCE | F_JSON, ARG_ID,
	  "rollback ID [--force] [--json]",
	  "Roll back one migration (also PAUSED or NEEDS_ATTENTION: only\n"
	  "what is not undone yet).  --force takes it over from a live\n"
	  "owner, after a warning on stderr.\n" },
	{ "verify", cmd_verify, F_JSON, ARG_NONE, "verify [--json]",
	  "Check every record, every migration's fold and the in-flight\n"
	  "index; print each problem on a line ({\"problems\":[...],\n"
	  "\"count\":N} with --json).  Exits 1 when there is any.\n" },
	{ "dump", cmd_dump, 0, ARG_NONE, "dump",
	  "Print every migration, one JSON object per record and line.\n" },
	{ "prune", cmd_prune, F_OLDER_THAN | F_KEEP | F_JSON, ARG_NONE,
	  "prune [--older-than DURATION] [--keep N] [--json]",
	  "Delete COMMITTED and ROLLED_BACK migrations whose latest record is\n"
	  "older than DURATION (30d, 12h, 90m, 45s), keeping the newest N\n"
	  "whatever their age.  At least one of the two; migrations in\n"
	  "flight are never pruned.  Pruning frees space inside the file\n"
	  "for reuse; compact shrinks the file.\n" },
	{ "compact", cmd_compact, F_JSON, ARG_NONE, "compact [--json]",
	  "Rewrite the journal without its free pages (LMDB's compacting\n"
	  "copy), replacing the data file with a crash-safe rename: a crash\n"
	  "leaves the old file or the new one, whole.  Needs the journal to\n"
	  "itself: refused while another process has it open.\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
	"Global options (before or after the command):\n"
	"  --journal DIR         the journal (default ./mmig-journal), or\n"
	"                        etcd://HOST:PORT[,HOST:PORT...]/PREFIX\n"
	"  --controller-db FILE  the controller database (default\n"
	"                        ./controller.db)\n"
	"  --model-dir DIR       model databases (default ./models)\n"
	"  --file-mode MODE      database files recovery creates get MODE\n"
	"                        (octal, 0600 plus any of 0066; default 0600\n"
	"                        whatever the umask), a model directory it\n"
	"                        creates MODE with x wherever r (default\n"
	"                        0700); what exists is never changed\n"
	"  --plugin FILE.so      load operations from a plug-in; repeatable\n"
	"  --lock-timeout DURATION  how long to wait for the journal's write\n"
	"                        lock held by another process (default 5s)\n"
	"  --node NAME           with --journal etcd://HOST:PORT[,...]/PREFIX:\n"
	"                        this node's name (default the host name)\n"
	"  --lease-ttl SECONDS   with an etcd journal: the session lease's TTL\n"
	"                        (default 5): how soon another node may take\n"
	"                        over after this process dies\n"
	"  -h, --help            this help; COMMAND --help for a command's\n"
	"  -V, --version         the version\n"
	"\n"
	"A journal that does not exist yet (its parent directory does), or an\n"
	"empty directory, holds nothing in flight: said on stderr, exit 0.\n"
	"\n"
	"Exit status: 0 all settled or clean; 1 something failed, was refused,\n"
	"needs attention or is paused (left unsettled); 2 usage error.\n";

static void
usage(FILE *out)
{
	fprintf(out, "usage: " PROG " [--journal DIR] [--controller-db FILE] "
		     "[--model-dir DIR]\n"
		     "                    [--file-mode MODE] [--plugin "
		     "FILE.so]... COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fprintf(out, "  help [COMMAND]\n");
	fprintf(out, "\n%s", global_help);
}

static void
command_help(const struct command *c)
{
	printf("usage: " PROG " [GLOBAL OPTIONS] %s\n\n%s\n%s", c->synopsis,
	       c->help, global_help);
}

static void
version(void)
{
	/* "NAME (libmmig) X.Y.Z", the form both tools print: the tools are
	 * the library's, and report the library they run with. */
	printf(PROG " (libmmig) %s\n", mmig_version_string());
}

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * help [COMMAND] (@p argv[0] is "help"): the tool's help, or the
 * command's, on stdout, exit 0; "help --help" is the tool's help too.  An
 * unknown command or a second argument is a usage error.
 */
static int
help_command(int argc, char **argv)
{
	const struct command *c;

	if (argc <= 1 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 2) {
		fail_msg("help", "unexpected argument \"%s\"", argv[2]);
		return EXIT_USAGE;
	}
	c = find_command(argv[1]);
	if (!c) {
		fail_msg("help", "unknown command \"%s\" (try " PROG " help)",
			 argv[1]);
		return EXIT_USAGE;
	}
	command_help(c);
	return EXIT_OK;
}

/* The option getopt_long just handled, as the user wrote it. */
static const char *
bad_option(char **argv, int prev_optind)
{
	/* In a cluster of short options ("-xq") optind has not moved yet. */
	const char *arg = optind > prev_optind ? argv[optind - 1]
					       : argv[prev_optind];

	return arg ? arg : "?";
}

/* Command options by flag, to name one a command does not take. */
static const struct {
	unsigned flag;
	const char *name;
} flag_names[] = {
	{ F_JSON, "--json" },	    { F_ALL, "--all" },
	{ F_POLICY, "--policy" },   { F_FALLBACK, "--fallback" },
	{ F_FORCE, "--force" },	    { F_OLDER_THAN, "--older-than" },
	{ F_KEEP, "--keep" },	    { F_WAIT, "--wait" },
};

/*
 * Parse the options before the command (@p global_only: stop at the first
 * word, the command) or after it.  Every option is accepted in both places,
 * so `mmig-recover --json list` works like `mmig-recover list --json`;
 * which command options a command takes is checked once it is known.
 * @return -1 to go on, else the exit status (help, version, usage error).
 */
static int
parse_opts(struct cli *cli, int argc, char **argv, bool global_only)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "journal", required_argument, NULL, OPT_JOURNAL },
		{ "controller-db", required_argument, NULL, OPT_CONTROLLER_DB },
		{ "model-dir", required_argument, NULL, OPT_MODEL_DIR },
		{ "plugin", required_argument, NULL, OPT_PLUGIN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "fallback", no_argument, NULL, OPT_FALLBACK },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "file-mode", required_argument, NULL, OPT_FILE_MODE },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ 0 },
	};
	const char *step = global_only ? "usage" : cli->cmd->name;
	/* "+" stops at the command name; ":" reports a missing value. */
	const char *shortopts = global_only ? "+:hV" : ":hV";
	const char **grown;
	int opt, prev;

	optind = 0; /* glibc: start afresh, for the second pass too */
	opterr = 0;
	for (;;) {
		prev = optind ? optind : 1;
		opt = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case OPT_HELP:
			if (global_only)
				usage(stdout);
			else
				command_help(cli->cmd);
			return EXIT_OK;
		case OPT_VERSION:
			version();
			return EXIT_OK;
		case OPT_JOURNAL:
			cli->journal = optarg;
			break;
		case OPT_CONTROLLER_DB:
			cli->controller_db = optarg;
			break;
		case OPT_MODEL_DIR:
			cli->model_dir = optarg;
			break;
		case OPT_FILE_MODE:
			if (!file_mode_parse(optarg, &cli->file_mode)) {
				fail_msg(step, "--file-mode: \"%s\" is not an "
					       "octal mode of 0600 plus any "
					       "of 0066", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_PLUGIN:
			grown = realloc(cli->plugins, (cli->n_plugins + 1) *
							      sizeof(*grown));
			if (!grown) {
				fail_msg(step, "out of memory");
				return EXIT_ATTENTION;
			}
			cli->plugins = grown;
			cli->plugins[cli->n_plugins++] = optarg;
			break;
		case OPT_JSON:
			cli->seen |= F_JSON;
			cli->json = true;
			break;
		case OPT_ALL:
			cli->seen |= F_ALL;
			cli->all = true;
			break;
		case OPT_FALLBACK:
			cli->seen |= F_FALLBACK;
			cli->fallback = true;
			break;
		case OPT_FORCE:
			cli->seen |= F_FORCE;
			cli->force = true;
			break;
		case OPT_POLICY:
			cli->seen |= F_POLICY;
			if (strcmp(optarg, "rollback") == 0) {
				cli->policy = MMIG_POLICY_ROLLBACK;
			} else if (strcmp(optarg, "resume") == 0) {
				cli->policy = MMIG_POLICY_RESUME;
			} else {
				fail_msg(step, "--policy: \"%s\" is neither "
					       "rollback nor resume", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_OLDER_THAN:
			cli->seen |= F_OLDER_THAN;
			if (!parse_duration(optarg, &cli->older_ns)) {
				fail_msg(step, "--older-than: bad duration "
					       "\"%s\" (want e.g. 30d, 12h, "
					       "90m, 45s)", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FOLLOW:
			cli->seen |= F_FOLLOW;
			cli->follow = true;
			break;
		case OPT_KEEP:
			cli->seen |= F_KEEP;
			if (!parse_count(optarg, &cli->keep)) {
				fail_msg(step, "--keep: \"%s\" is not a count",
					 optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_LOCK_TIMEOUT:
			if (!parse_duration(optarg, &cli->lock_timeout_ns) ||
			    cli->lock_timeout_ns == 0) {
				fail_msg(step, "--lock-timeout: bad duration "
					       "\"%s\" (want e.g. 5s, 2m)",
					 optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_NODE:
			cli->node = optarg;
			break;
		case OPT_LEASE_TTL: {
			size_t ttl;

			if (!parse_count(optarg, &ttl) || ttl == 0 ||
			    ttl > 3600) {
				fail_msg(step, "--lease-ttl: \"%s\" is not a "
					       "number of seconds from 1 to "
					       "3600", optarg);
				return EXIT_USAGE;
			}
			cli->lease_ttl_s = (unsigned)ttl;
			break;
		}
		case OPT_WAIT: {
			size_t secs;

			cli->seen |= F_WAIT;
			/* SECONDS, or a duration (30s, 2m). */
			if (parse_count(optarg, &secs) && secs <= 86400)
				cli->wait_ns = (uint64_t)secs * 1000000000u;
			else if (!parse_duration(optarg, &cli->wait_ns)) {
				fail_msg(step, "--wait: \"%s\" is not a number "
					       "of seconds (or e.g. 30s, 2m)",
					 optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case ':':
			fail_msg(step, "option %s needs a value",
				 bad_option(argv, prev));
			return EXIT_USAGE;
		default:
			fail_msg(step, "unknown option %s",
				 bad_option(argv, prev));
			return EXIT_USAGE;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct cli cli = {
		.journal = "./mmig-journal",
		.controller_db = "./controller.db",
		.model_dir = "./models",
	};
	int ex, first, n_args, sub_argc;
	char **sub_argv;

	ex = parse_opts(&cli, argc, argv, true);
	if (ex != -1)
		goto out;
	if (optind >= argc) {
		usage(stderr);
		ex = EXIT_USAGE;
		goto out;
	}
	/* help [COMMAND]: the same as --help and COMMAND --help. */
	if (strcmp(argv[optind], "help") == 0) {
		ex = help_command(argc - optind, argv + optind);
		goto out;
	}
	cli.cmd = find_command(argv[optind]);
	if (!cli.cmd) {
		fail_msg("usage", "unknown command \"%s\" (try " PROG
				  " --help)", argv[optind]);
		ex = EXIT_USAGE;
		goto out;
	}
	/* The command's own argv, with its name in argv[0]. */
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	ex = parse_opts(&cli, sub_argc, sub_argv, false);
	if (ex != -1)
		goto out;
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (cli.seen & ~cli.cmd->flags & flag_names[i].flag) {
			fail_msg(cli.cmd->name, "%s does not take %s",
				 cli.cmd->name, flag_names[i].name);
			ex = EXIT_USAGE;
			goto out;
		}
	first = optind;
	n_args = sub_argc - first;
	if (cli.cmd->arg == ARG_NONE && n_args > 0) {
		fail_msg(cli.cmd->name, "unexpected argument \"%s\"",
			 sub_argv[first]);
		ex = EXIT_USAGE;
		goto out;
	}
	if (cli.cmd->arg != ARG_NONE && n_args > 1) {
		fail_msg(cli.cmd->name, "unexpected argument \"%s\"",
			 sub_argv[first + 1]);
		ex = EXIT_USAGE;
		goto out;
	}
	if (cli.cmd->arg == ARG_ID && n_args == 0) {
		fail_msg(cli.cmd->name, "missing migration ID");
		ex = EXIT_USAGE;
		goto out;
	}
	if (n_args == 1) {
		cli.id = sub_argv[first];
		if (cli.id[0] == '\0') {
			fail_msg(cli.cmd->name, "empty migration ID");
			ex = EXIT_USAGE;
			goto out;
		}
	}
	if (cli.cmd->run == cmd_prune &&
	    !(cli.seen & (F_OLDER_THAN | F_KEEP))) {
		fail_msg("prune", "say what to prune: --older-than DURATION "
				  "and/or --keep N");
		ex = EXIT_USAGE;
		goto out;
	}
	ex = cli.cmd->run(&cli);
	/* Output cut short (a full disk, a closed pipe) is a failure too. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail_msg("write", "standard output: %s", strerror(errno));
		if (ex == EXIT_OK)
			ex = EXIT_ATTENTION;
	}
out:
	free(cli.plugins);
	return ex;
}
