/*
 * tools/mmig.c - the user's tool: import a model description as a
 * journaled migration (with a progress bar, cancellation by signal, and a
 * rollback self-test), and generate synthetic descriptions.
 *
 * It uses the public API only (STYLE.md H4), with the reference import
 * operations of domain/import.c.
 *
 * Invariants the tool keeps on top of the library's:
 *  - the description is read and checked in full before anything is opened
 *    or created: a bad description leaves no journal directory, no database
 *    and no file;
 *  - an import never starts while another migration of the same model is
 *    in flight in the journal: the library would refuse it at create-model
 *    (see mmig/import.h), but only after it began, and the operator is
 *    better told first, with the migration to settle;
 *  - SIGINT and SIGTERM only flip the migration's context (an atomic store,
 *    async-signal-safe); the migration then stops between two transactions
 *    and rolls back, or pauses with --policy pause;
 *  - every error is one line on stderr, "mmig: <step>: <message>", and the
 *    exit status is one of those listed in usage_import().
 */
#include <mmig/mmig.h>

#include "bench.h"
#include "file-mode.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "mmig"

#define EXIT_COMMITTED 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_ATTENTION 3

/* Long options without a short form get codes above any character. */
enum opt_code {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_OUTPUT = 'o',
	OPT_JOURNAL = 256,
	OPT_CONTROLLER_DB,
	OPT_MODEL_DIR,
	OPT_DURABILITY,
	OPT_POLICY,
	OPT_QUIET,
	OPT_TEST_ROLLBACK,
	OPT_FILE_MODE,
	OPT_MACHINES,
	OPT_APPLICATIONS,
	OPT_UNITS_PER_APP,
	OPT_RELATIONS,
	OPT_SEED,
	OPT_FROM_BUNDLE,
	OPT_SCALE,
	OPT_FORMAT,
	OPT_JSON,
	OPT_NODE,
	OPT_LEASE_TTL,
};

static void
errorf(const char *step, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The first error printed, "<step>: <message>", for `import --json`. */
static char first_error[1024];

static void
errorf(const char *step, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", PROG, step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (!first_error[0]) {
		int n = snprintf(first_error, sizeof(first_error), "%s: ",
				 step);

		if (n > 0 && (size_t)n < sizeof(first_error)) {
			va_start(ap, fmt);
			vsnprintf(first_error + n, sizeof(first_error) - (size_t)n,
				  fmt, ap);
			va_end(ap);
		}
	}
}

/* ------------------------------------------------------------------------
 * Usage
 * ------------------------------------------------------------------------ */

static void
usage_main(FILE *out)
{
	fprintf(out,
		"usage: " PROG " COMMAND [OPTIONS]\n"
		"\n"
		"Crash-safe multi-step migrations (libmmig %s).\n"
		"\n"
		"Commands:\n"
		"  import MODEL.json   import a model description into the "
		"controller and\n"
		"                      model databases, as a journaled "
		"migration\n"
		"  gen-model           write a synthetic, valid model "
		"description\n"
		"  export UUID         write an imported model back as a "
		"juju/description\n"
		"                      YAML document\n"
		"  bench               measure the journal, recovery and the "
		"import\n"
		"  help [COMMAND]      this help, or COMMAND's (as COMMAND "
		"--help)\n"
		"\n"
		"Options:\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n"
		"\n"
		"Run '" PROG " help COMMAND' for the options of a command.  A FILE "
		"given as '-'\n"
		"is standard input (read) or standard output (written).\n"
		"Exit status: 0 success, 2 usage error; see each command.\n",
		mmig_version_string());
}

static void
usage_import(FILE *out)
{
	fprintf(out,
		"usage: " PROG " import MODEL.json [--journal DIR] "
		"[--controller-db FILE]\n"
		"                  [--model-dir DIR] [--durability "
		"durable|process]\n"
		"                  [--policy rollback|pause] [--quiet] "
		"[--test-rollback]\n"
		"                  [--file-mode MODE] [--json]\n"
		"\n"
		"Import the model description MODEL.json (or a "
		"juju/description YAML\n"
		"document, as `juju dump-model` prints it, told apart by its "
		"first byte):\n"
		"a controller row (status 'importing', then 'active') and "
		"the model\n"
		"database DIR/<uuid>.db (made 0600: it can hold credentials), "
		"every\n"
		"step recorded first in the journal, so that a crash at any "
		"point can be\n"
		"finished or rolled back with mmig-recover.  The description "
		"is checked\n"
		"in full first: a bad one leaves nothing behind.  MODEL.json "
		"'-' is read\n"
		"from standard input.\n"
		"\n"
		"Options:\n"
		"  --journal DIR         the journal (default ./mmig-journal), "
		"or\n"
		"                        etcd://HOST:PORT[,HOST:PORT...]/PREFIX\n"
		"  --node NAME           with an etcd journal: this node's name\n"
		"                        (default the host name)\n"
		"  --lease-ttl SECONDS   with an etcd journal: the session lease "
		"TTL\n"
		"                        (default 5)\n"
		"  --controller-db FILE  the controller database (default "
		"./controller.db)\n"
		"  --model-dir DIR       where model databases live (default "
		"./models)\n"
		"  --durability MODE     durable (default): survives power "
		"loss;\n"
		"                        process: survives a killed process, "
		"no fsync;\n"
		"                        a journal holds migrations of one "
		"durability\n"
		"  --policy POLICY       on SIGINT/SIGTERM: rollback (default) "
		"undoes the\n"
		"                        import; pause stops it, resumable "
		"with mmig-recover\n"
		"  --quiet               no progress and no summary; errors "
		"only\n"
		"  --json                print one JSON object on stdout "
		"instead of the\n"
		"                        summary lines: migration_id, outcome "
		"(committed,\n"
		"                        rolled-back, paused, needs-attention, "
		"interrupted,\n"
		"                        or refused when it never began), "
		"exit_status, error,\n"
		"                        counts and timings (see mmig(1)); "
		"also when refused\n"
		"                        and with --quiet\n"
		"  --file-mode MODE      database files this import creates "
		"get MODE (octal,\n"
		"                        0600 plus any of 0066; default 0600 "
		"whatever the\n"
		"                        umask), a model directory it creates "
		"MODE with x\n"
		"                        wherever r (0640: 0750; default "
		"0700); what exists\n"
		"                        is never changed\n"
		"  --test-rollback       import, roll everything back on "
		"purpose, check both\n"
		"                        databases are exactly as before "
		"(schema and rows of\n"
		"                        every table but mmig_*; no model "
		"database file),\n"
		"                        then import again.  The rollback "
		"is a real one: a\n"
		"                        hook fails the migration after its "
		"last operation,\n"
		"                        so every operation's rollback runs, "
		"journaled\n"
		"  -h, --help            show this help\n"
		"\n"
		"Progress goes to stderr: a one-line bar on a terminal, one "
		"line per\n"
		"operation otherwise (and with TERM=dumb: no escape sequences "
		"then); a\n"
		"large description also shows its reading and parsing.  The "
		"migration id\n"
		"and its outcome go to stdout.\n"
		"\n"
		"Exit status:\n"
		"  0  committed\n"
		"  1  failed and rolled back: nothing of this import is left.  "
		"Also when it\n"
		"     was refused before it started (the journal cannot be "
		"opened, holds\n"
		"     migrations of the other durability, a migration of "
		"the same model\n"
		"     is in flight, or it refused the first commit: a full "
		"disk, say;\n"
		"     nothing was written, nothing to settle), and with "
		"--test-rollback\n"
		"     when the databases differ after the rollback\n"
		"  2  usage error, including a description that cannot be "
		"read or is\n"
		"     invalid (the message names the place); nothing was "
		"created\n"
		"  3  not settled, run mmig-recover: a rollback failed (needs "
		"attention),\n"
		"     the import was paused (--policy pause), or the journal "
		"failed\n");
}

static void
usage_gen(FILE *out)
{
	fprintf(out,
		"usage: " PROG " gen-model [--machines N] [--applications A] "
		"[--units-per-app U]\n"
		"                     [--relations R] [--seed S] "
		"[--format json|yaml] [-o FILE]\n"
		"       " PROG " gen-model --from-bundle BUNDLE.yaml [--scale N] "
		"[--seed S] [-o FILE]\n"
		"\n"
		"Write a valid synthetic model description.  The same options "
		"give the\n"
		"same bytes on every platform.\n"
		"\n"
		"With --from-bundle, expand a published Juju bundle into a "
		"complete\n"
		"juju/description model (YAML, current version) by Juju's "
		"placement\n"
		"rules; --scale N multiplies every application's units and the "
		"bundle's\n"
		"machines.  A model import would refuse for its size is refused "
		"before\n"
		"anything is written: more than 1000000 machines, units or "
		"relations,\n"
		"100000 applications, or a JSON description over 256 MiB "
		"(mmig(1), LIMITS).\n"
		"\n"
		"Options:\n"
		"  --from-bundle FILE  expand the Juju bundle FILE ('-': "
		"standard input)\n"
		"  --scale N           with --from-bundle: N copies of the "
		"bundle's units\n"
		"                      and machines (default 1)\n"
		"  --machines N        machines (default 10)\n"
		"  --applications A    applications (default 3)\n"
		"  --units-per-app U   units of each application, spread over "
		"the\n"
		"                      machines (default 2)\n"
		"  --relations R       relations, at most one per pair of "
		"applications\n"
		"                      (default 2)\n"
		"  --seed S            seed of the uuid, names and layout "
		"(default 1)\n"
		"  --format FORMAT     json (default): our own format; yaml: "
		"the same model\n"
		"                      as a juju/description document of the "
		"current version\n"
		"  -o, --output FILE   write to FILE (default, or '-': "
		"standard output)\n"
		"  -h, --help          show this help\n"
		"\n"
		"Exit status: 0 written, 1 refused (a bad bundle, a model too "
		"big to\n"
		"import) or write failed, 2 usage error.\n");
}

/* ------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------ */

enum progress_mode {
	PROGRESS_QUIET,
	PROGRESS_LINES, /* not a terminal: one line per operation */
	PROGRESS_BAR,   /* a terminal: one line redrawn */
};

/* What one finished operation did, for --json. */
struct op_record {
	char name[32];
	uint64_t rows;
	double seconds;
};

#define MAX_OP_RECORDS 16

struct progress {
	enum progress_mode mode;
	uint64_t grand_total; /* items of every operation */
	uint64_t finished;    /* items of the operations that finished */
	uint64_t op_done;
	char op[32];
	bool op_finished;
	uint64_t t0_ns, op_t0_ns, drawn_ns;
	bool line_open;       /* a bar is on screen without its newline */
	bool failed;          /* the coordinator logged a failure */
	bool began;           /* an operation ran: the migration started */
	char *held;           /* errors logged before that, newline-ended */
	struct op_record ops[MAX_OP_RECORDS];
	size_t n_ops;
};

/*
 * May stderr get escape sequences and \r redraws?  Only a terminal that
 * says it can: TERM set and not "dumb" (as less, git and systemctl do).
 */
static bool
stderr_is_smart_tty(void)
{
	const char *term = getenv("TERM");

	return isatty(STDERR_FILENO) && term && *term &&
	       strcmp(term, "dumb") != 0;
}

static enum progress_mode
progress_mode_for(bool quiet)
{
	return quiet			  ? PROGRESS_QUIET
	       : stderr_is_smart_tty() ? PROGRESS_BAR
					  : PROGRESS_LINES;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
progress_clear(struct progress *p)
{
	if (p->line_open) {
		fputs("\r\033[K", stderr);
		p->line_open = false;
	}
}

static void
fmt_duration(char *buf, size_t cap, double s)
{
	unsigned long t = s < 0 ? 0 : (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

static void
progress_draw(struct progress *p, uint64_t op_total)
{
	uint64_t done = p->finished + p->op_done, now = now_ns();
	double elapsed = (double)(now - p->t0_ns) / 1e9;
	double rate = elapsed > 0 ? (double)done / elapsed : 0;
	unsigned pct = p->grand_total ? (unsigned)(done * 100 / p->grand_total)
				      : 100;
	char bar[21], eta[32];
	size_t fill = pct / 5;

	memset(bar, '#', fill);
	memset(bar + fill, '-', 20 - fill);
	bar[20] = '\0';
	if (rate > 0 && done < p->grand_total)
		fmt_duration(eta, sizeof(eta),
			     (double)(p->grand_total - done) / rate);
	else
		snprintf(eta, sizeof(eta), "-");
	fprintf(stderr,
		"\r[%s] %3u%% %-12s %" PRIu64 "/%" PRIu64
		" rows, %.0f rows/s, ETA %s\033[K",
		bar, pct, p->op, p->op_done, op_total, rate, eta);
	fflush(stderr);
	p->line_open = true;
	p->drawn_ns = now;
}

/* The import operations' progress callback. */
static void
on_progress(void *arg, const char *op, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	uint64_t now = now_ns();

	if (strcmp(op, p->op) != 0) {
		snprintf(p->op, sizeof(p->op), "%s", op);
		p->op_finished = false;
		p->op_t0_ns = now;
	}
	if (p->op_finished)
		return;
	p->op_done = done;
	if (done >= total) {
		p->op_finished = true;
		p->finished += total;
		p->op_done = 0;
		if (p->n_ops < MAX_OP_RECORDS) {
			struct op_record *r = &p->ops[p->n_ops++];

			snprintf(r->name, sizeof(r->name), "%s", op);
			r->rows = total;
			r->seconds = (double)(now - p->op_t0_ns) / 1e9;
		}
	}
	switch (p->mode) {
	case PROGRESS_QUIET:
		break;
	case PROGRESS_LINES:
		if (p->op_finished)
			fprintf(stderr, "%s: %-12s %" PRIu64 " rows in %.2f s\n",
				PROG, op, total,
				(double)(now - p->op_t0_ns) / 1e9);
		break;
	case PROGRESS_BAR:
		/* At most ten redraws a second, and always at an op's end. */
		if (p->op_finished) {
			p->op_done = total;
			p->finished -= total;
			progress_draw(p, total);
			p->finished += total;
			p->op_done = 0;
		} else if (now - p->drawn_ns >= 100000000u) {
			progress_draw(p, total);
		}
		break;
	}
}

/*
 * The coordinator's log sink.  Before a failure the progress display says
 * everything the info lines would; after one, the rollback steps are worth
 * seeing.  Warnings and errors always show (unless --quiet).
 */
static void
on_log(void *arg, enum mmig_log_level level, const char *msg)
{
	struct progress *p = arg;

	if (level == MMIG_LOG_INFO && !p->failed)
		p->began = true; /* "running operation: ..." */
	/* Before any operation ran, an error may be a refusal, which the tool
	 * reports itself, once: held until the outcome tells (run_import()). */
	if (level >= MMIG_LOG_ERROR && !p->began) {
		size_t n = p->held ? strlen(p->held) : 0;
		char *h = realloc(p->held, n + strlen(msg) + 2);

		if (h) {
			sprintf(h + n, "%s\n", msg);
			p->held = h;
		}
		p->failed = true;
		return;
	}
	if (level >= MMIG_LOG_ERROR)
		p->failed = true;
	if (p->mode == PROGRESS_QUIET)
		return;
	if (level == MMIG_LOG_DEBUG || (level == MMIG_LOG_INFO && !p->failed))
		return;
	progress_clear(p);
	fprintf(stderr, "%s: %s: %s\n", PROG, mmig_log_level_name(level), msg);
}

static void
progress_done(struct progress *p)
{
	if (p->line_open) {
		fputc('\n', stderr);
		p->line_open = false;
	}
}

/* ------------------------------------------------------------------------
 * Signals
 * ------------------------------------------------------------------------ */

/*
 * What the handler touches.  Written before the handlers are installed and
 * only read by them; the context calls are one atomic store each.
 */
static struct mmig_ctx *volatile sig_ctx;
static volatile sig_atomic_t sig_pause;
static volatile sig_atomic_t sig_caught;

static void
on_signal(int sig)
{
	struct mmig_ctx *ctx = sig_ctx;

	sig_caught = sig;
	if (!ctx)
		return;
	if (sig_pause)
		mmig_ctx_pause(ctx);
	else
		mmig_ctx_cancel(ctx);
}

static void
signals_install(struct mmig_ctx *ctx, bool pause, struct sigaction old[2])
{
	struct sigaction sa;

	sig_ctx = ctx;
	sig_pause = pause;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* Restart system calls: SQLite and LMDB need not see EINTR. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

static void
signals_restore(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
	sig_ctx = NULL;
}

/* ------------------------------------------------------------------------
 * Database pictures, for --test-rollback
 * ------------------------------------------------------------------------ */

/* Every schema entry and row of a database, one line each, sorted. */
struct picture {
	char **lines;
	size_t n, cap;
};

static void
picture_free(struct picture *pic)
{
	for (size_t i = 0; i < pic->n; i++)
		free(pic->lines[i]);
	free(pic->lines);
	*pic = (struct picture){0};
}

/* A growable string. */
struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static bool
picture_take(struct picture *pic, struct buf *b)
{
	if (b->oom || !b->s) {
		free(b->s);
		return false;
	}
	if (pic->n == pic->cap) {
		size_t cap = pic->cap ? pic->cap * 2 : 64;
		char **l = realloc(pic->lines, cap * sizeof(*l));

		if (!l) {
			free(b->s);
			return false;
		}
		pic->lines = l;
		pic->cap = cap;
	}
	pic->lines[pic->n++] = b->s;
	*b = (struct buf){0};
	return true;
}

/* One value as SQL would quote it, so that 1, 1.0, '1' and x'31' differ. */
static void
buf_value(struct buf *b, sqlite3_stmt *st, int col)
{
	char num[64];

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		buf_str(b, "NULL");
		break;
	case SQLITE_INTEGER:
		snprintf(num, sizeof(num), "%lld",
			 (long long)sqlite3_column_int64(st, col));
		buf_str(b, num);
		break;
	case SQLITE_FLOAT:
		snprintf(num, sizeof(num), "%.17g",
			 sqlite3_column_double(st, col));
		buf_str(b, num);
		break;
	case SQLITE_BLOB: {
		const unsigned char *p = sqlite3_column_blob(st, col);
		int n = sqlite3_column_bytes(st, col);

		buf_str(b, "x'");
		for (int i = 0; i < n; i++) {
			snprintf(num, sizeof(num), "%02x", p[i]);
			buf_str(b, num);
		}
		buf_str(b, "'");
		break;
	}
	default: {
		const char *t = (const char *)sqlite3_column_text(st, col);
		int n = sqlite3_column_bytes(st, col);

		/* Quotes doubled, as SQL does; a NUL inside stays visible. */
		buf_str(b, "'");
		for (int i = 0; t && i < n; i++) {
			if (t[i] == '\0')
				buf_str(b, "\\0");
			else
				buf_add(b, &t[i], 1);
			if (t[i] == '\'')
				buf_str(b, "'");
		}
		buf_str(b, "'");
		break;
	}
	}
}

static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Take the picture of database @p path: "schema|TYPE|NAME|SQL" for every
 * schema entry and "row|TABLE|v1,v2,..." for every row, except what belongs
 * to tables named mmig_* (the library's own bookkeeping, which a rollback
 * keeps on purpose).  A missing file is an empty picture.
 */
static int
picture_take_db(const char *path, struct picture *pic, char **errmsg)
{
	static const char schema_sql[] =
		"SELECT type, name, tbl_name, sql FROM sqlite_master "
		"WHERE name NOT LIKE 'mmig\\_%' ESCAPE '\\' "
		"AND tbl_name NOT LIKE 'mmig\\_%' ESCAPE '\\'";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *rows = NULL;
	struct picture tables = {0};
	struct buf b = {0};
	int rc;

	*pic = (struct picture){0};
	*errmsg = NULL;
	if (access(path, F_OK) != 0)
		return 0;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, schema_sql, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *sql = (const char *)sqlite3_column_text(st, 3);

		buf_str(&b, "schema|");
		buf_str(&b, type ? type : "");
		buf_str(&b, "|");
		buf_str(&b, name ? name : "");
		buf_str(&b, "|");
		buf_str(&b, sql ? sql : "NULL");
		if (!picture_take(pic, &b))
			goto oom;
		if (type && name && strcmp(type, "table") == 0 &&
		    strncmp(name, "sqlite_", 7) != 0) {
			buf_str(&b, name);
			if (!picture_take(&tables, &b))
				goto oom;
		}
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	st = NULL;
	for (size_t t = 0; rc == SQLITE_OK && t < tables.n; t++) {
		char *q = sqlite3_mprintf("SELECT * FROM \"%w\"",
					  tables.lines[t]);

		if (!q)
			goto oom;
		rc = sqlite3_prepare_v2(db, q, -1, &rows, NULL);
		sqlite3_free(q);
		while (rc == SQLITE_OK &&
		       (rc = sqlite3_step(rows)) == SQLITE_ROW) {
			buf_str(&b, "row|");
			buf_str(&b, tables.lines[t]);
			buf_str(&b, "|");
			for (int c = 0; c < sqlite3_column_count(rows); c++) {
				if (c)
					buf_str(&b, ",");
				buf_value(&b, rows, c);
			}
			if (!picture_take(pic, &b))
				goto oom;
			rc = SQLITE_OK;
		}
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(rows);
		rows = NULL;
	}
	if (rc != SQLITE_OK) {
		const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

		*errmsg = strdup(m ? m : "error");
		goto fail;
	}
	picture_free(&tables);
	sqlite3_close_v2(db);
	qsort(pic->lines, pic->n, sizeof(*pic->lines), cmp_lines);
	return 0;

oom:
	*errmsg = strdup("out of memory");
fail:
	free(b.s);
	sqlite3_finalize(st);
	sqlite3_finalize(rows);
	picture_free(&tables);
	picture_free(pic);
	sqlite3_close_v2(db);
	return -1;
}

/* Report each difference of two sorted pictures; @return their count. */
static size_t
picture_diff(const char *what, const struct picture *a,
	     const struct picture *b)
{
	size_t i = 0, k = 0, n = 0;
	const size_t shown_max = 20;

	while (i < a->n || k < b->n) {
		int c = i == a->n   ? 1
			: k == b->n ? -1
				    : strcmp(a->lines[i], b->lines[k]);

		if (c == 0) {
			i++;
			k++;
			continue;
		}
		if (n++ < shown_max)
			errorf("test-rollback", "%s %s after rollback: %s",
			       what, c < 0 ? "lost" : "gained",
			       c < 0 ? a->lines[i] : b->lines[k]);
		if (c < 0)
			i++;
		else
			k++;
	}
	if (n > shown_max)
		errorf("test-rollback", "%s: %zu more differences", what,
		       n - shown_max);
	return n;
}

/* ------------------------------------------------------------------------
 * import
 * ------------------------------------------------------------------------ */

struct import_args {
	const char *model_path;
	const char *journal_dir;
	struct mmig_import_paths paths;
	enum mmig_durability durability;
	bool pause;
	bool quiet;
	bool test_rollback;
	bool json;
	/* --file-mode: 0 when not given (the library's 0600 / 0700) */
	unsigned file_mode;
	/* An etcd journal: --node (NULL: the host name), --lease-ttl (0:
	 * the library's default); they ride on the journal path. */
	const char *node;
	unsigned lease_ttl_s;
	char *journal_uri; /* owned; NULL when journal_dir is used as is */
};

/*
 * What `import --json` reports, filled in as the import goes (one import
 * per process: a file-level object).
 */
static struct {
	const char *outcome;   /* NULL: refused before a migration began */
	char migration_id[64];
	int signal;            /* SIGINT or SIGTERM that stopped it, or 0 */
	double parse_s, import_s;
	struct op_record ops[MAX_OP_RECORDS];
	size_t n_ops;
	/* --test-rollback: its migration and the differences found */
	bool rollback_ran;
	char rollback_id[64];
	size_t rollback_diffs;
} report;

/* --test-rollback's hook: after the last operation, fail on purpose. */
struct fail_last {
	size_t calls, n_ops;
};

static struct mmig_error *
fail_after_last(void *arg, const struct mmig_op *op)
{
	struct fail_last *f = arg;

	(void)op;
	if (++f->calls < f->n_ops)
		return NULL;
	return mmig_error_new(MMIG_EOP, "test-rollback: every operation ran; "
					"rolling back on purpose");
}

static int
exit_for(enum mmig_outcome o)
{
	switch (o) {
	case MMIG_OUTCOME_COMMITTED:
		return EXIT_COMMITTED;
	case MMIG_OUTCOME_ROLLED_BACK:
	case MMIG_OUTCOME_NONE: /* refused before it started */
		return EXIT_FAILED;
	case MMIG_OUTCOME_NEEDS_ATTENTION:
	case MMIG_OUTCOME_PAUSED:
	case MMIG_OUTCOME_INTERRUPTED:
		break;
	}
	return EXIT_ATTENTION;
}

/*
 * One journaled import.  @p hook, when given, is set on the coordinator.
 * @return the outcome; the summary and error are printed.
 */
static enum mmig_outcome
run_import(const struct import_args *a, struct mmig_journal *j,
	   struct mmig_scope *scope, const struct mmig_model *model,
	   struct mmig_ctx *ctx, struct fail_last *hook)
{
	const struct mmig_model_desc *d = model->data;
	struct progress prog = {
		.mode = progress_mode_for(a->quiet),
		.grand_total = 3 + d->n_config + d->n_machines + d->n_apps +
			       d->n_units_total + d->n_relations,
	};
	struct mmig_import_options opts = {
		.size = sizeof(struct mmig_import_options),
		.progress = on_progress,
		.progress_arg = &prog,
	};
	struct mmig_coordinator *c = NULL;
	enum mmig_outcome o;
	int rc;

	rc = mmig_coordinator_new(&c, on_log, &prog);
	if (rc == MMIG_OK)
		rc = mmig_import_add_ops_opts(c, &opts);
	if (rc != MMIG_OK) {
		errorf("import", "%s", mmig_strerror(rc));
		mmig_coordinator_free(c);
		return MMIG_OUTCOME_NONE;
	}
	mmig_coordinator_set_journal(c, j, a->durability);
	if (hook) {
		hook->calls = 0;
		hook->n_ops = mmig_coordinator_len(c);
		mmig_coordinator_set_hook(c, fail_after_last, hook);
	}
	prog.t0_ns = now_ns();
	rc = mmig_coordinator_perform(c, ctx, scope, model);
	progress_done(&prog);
	o = mmig_coordinator_outcome(c);
	/* Errors logged before the first operation: a refusal (outcome none)
	 * is said below; anything else (a first commit that took effect though
	 * reported failed, say) is shown as it would have been. */
	if (prog.held && o != MMIG_OUTCOME_NONE && !a->quiet) {
		for (char *l = prog.held, *e; (e = strchr(l, '\n')); l = e + 1)
			fprintf(stderr, "%s: %s: %.*s\n", PROG,
				mmig_log_level_name(MMIG_LOG_ERROR),
				(int)(e - l), l);
	}
	free(prog.held);
	if (rc != MMIG_OK && !(hook && o == MMIG_OUTCOME_ROLLED_BACK))
		errorf("import", "%s", mmig_coordinator_errmsg(c));
	if (hook) {
		report.rollback_ran = true;
		snprintf(report.rollback_id, sizeof(report.rollback_id), "%s",
			 o == MMIG_OUTCOME_NONE
				 ? ""
				 : mmig_coordinator_migration_id(c));
	} else {
		report.outcome = o == MMIG_OUTCOME_NONE ? NULL
							: mmig_outcome_name(o);
		snprintf(report.migration_id, sizeof(report.migration_id), "%s",
			 o == MMIG_OUTCOME_NONE
				 ? ""
				 : mmig_coordinator_migration_id(c));
		report.import_s = (double)(now_ns() - prog.t0_ns) / 1e9;
		memcpy(report.ops, prog.ops, sizeof(report.ops));
		report.n_ops = prog.n_ops;
	}
	if (a->json) {
		/* stdout holds the one JSON object (cmd_import()). */
	} else if (!a->quiet && o == MMIG_OUTCOME_NONE) {
		/* Refused before anything was written: no migration to name,
		 * none to settle. */
		printf("import not started: nothing was written, nothing to "
		       "settle\n");
		fflush(stdout);
	} else if (!a->quiet && o == MMIG_OUTCOME_INTERRUPTED &&
		   rc == MMIG_EFENCED) {
		/* Another process claimed it (recovery judged this one dead,
		 * or a forced rollback): it is theirs to settle, not ours. */
		printf("migration %s: %s (taken over by another process, "
		       "which settles it; see mmig-recover show %s)\n",
		       mmig_coordinator_migration_id(c), mmig_outcome_name(o),
		       mmig_coordinator_migration_id(c));
		fflush(stdout);
	} else if (!a->quiet) {
		printf("migration %s: %s%s\n", mmig_coordinator_migration_id(c),
		       mmig_outcome_name(o),
		       o == MMIG_OUTCOME_PAUSED
			       ? " (resume or roll back with mmig-recover)"
		       : o == MMIG_OUTCOME_NEEDS_ATTENTION ||
				       o == MMIG_OUTCOME_INTERRUPTED
			       ? " (settle it with mmig-recover)"
			       : "");
		fflush(stdout);
	}
	mmig_coordinator_free(c);
	return o;
}

/*
 * Refuse to start while a migration of the same model is in flight: its
 * rollback (now or by recovery) would take our rows for its own.
 */
static int
check_in_flight(struct mmig_journal *j, const char *uuid)
{
	struct mmig_migration_info *list = NULL;
	size_t n = 0;
	int rc, ret = 0;

	rc = mmig_journal_list(j, false, &list, &n);
	if (rc != MMIG_OK) {
		errorf("journal", "list migrations in flight: %s",
		       mmig_strerror(rc));
		return -1;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		if (strcmp(mmig_migration_info_at(list, i)->model_uuid, uuid) !=
		    0)
			continue;
		errorf("import",
		       "model %s: migration %s is in flight (%s, owner pid "
		       "%" PRIu32 " %s); settle it with mmig-recover first",
		       uuid, mmig_migration_info_at(list, i)->id,
		       mmig_migration_info_at(list, i)->state,
		       mmig_migration_info_at(list, i)->owner_pid,
		       mmig_migration_info_at(list, i)->owner_alive ? "alive"
								    : "dead");
		ret = -1;
	}
	mmig_migration_info_free(list, n);
	return ret;
}

/* Does the model database (or its -wal or -shm) exist? */
static bool
model_files_exist(const char *db_path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char path[4096];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

static int
test_rollback(const struct import_args *a, struct mmig_journal *j,
	      struct mmig_scope *scope, const struct mmig_model *model,
	      struct mmig_ctx *ctx)
{
	const char *model_db = mmig_scope_model_path(scope);
	struct picture before = {0}, after = {0};
	struct fail_last hook = {0};
	struct mmig_error *err = NULL;
	enum mmig_outcome o;
	char *msg = NULL;
	size_t diffs = 0;
	int ret;

	/*
	 * The models table is made first: schema, once made, is not undone
	 * by a rollback, so a controller database that did not exist yet
	 * would otherwise "gain" it.  With --file-mode, a missing file is
	 * made here first, with that mode (the library would make it 0600).
	 */
	if (a->file_mode) {
		int rc = file_mode_create(a->paths.controller_db, a->file_mode);

		if (rc != 0) {
			errorf("test-rollback", "%s: %s",
			       a->paths.controller_db, mmig_strerror(rc));
			return EXIT_FAILED;
		}
	}
	if (mmig_import_controller_init(a->paths.controller_db, &err) !=
	    MMIG_OK) {
		errorf("test-rollback", "%s", mmig_error_message(err));
		mmig_error_free(err);
		return EXIT_FAILED;
	}
	if (model_files_exist(model_db)) {
		errorf("test-rollback",
		       "model database %s exists already; the test needs a "
		       "model that is not there",
		       model_db);
		return EXIT_FAILED;
	}
	if (picture_take_db(a->paths.controller_db, &before, &msg) != 0) {
		errorf("test-rollback", "read %s: %s", a->paths.controller_db,
		       msg);
		free(msg);
		return EXIT_FAILED;
	}
	o = run_import(a, j, scope, model, ctx, &hook);
	if (o != MMIG_OUTCOME_ROLLED_BACK) {
		picture_free(&before);
		return exit_for(o);
	}
	if (hook.calls != hook.n_ops) {
		/* Failed before the end: a real failure, reported above. */
		picture_free(&before);
		errorf("test-rollback", "the import failed at operation %zu "
					"before the rollback test could run",
		       hook.calls);
		return EXIT_FAILED;
	}
	if (picture_take_db(a->paths.controller_db, &after, &msg) != 0) {
		errorf("test-rollback", "read %s: %s", a->paths.controller_db,
		       msg);
		free(msg);
		picture_free(&before);
		return EXIT_FAILED;
	}
	diffs = picture_diff("controller database", &before, &after);
	if (model_files_exist(model_db)) {
		errorf("test-rollback",
		       "model database %s (or its -wal/-shm) left after "
		       "rollback",
		       model_db);
		diffs++;
	}
	picture_free(&before);
	picture_free(&after);
	report.rollback_diffs = diffs;
	if (!a->quiet && !a->json) {
		if (diffs)
			printf("test-rollback: %zu differences after the "
			       "rollback\n",
			       diffs);
		else
			printf("test-rollback: databases exactly as before "
			       "after the rollback\n");
		fflush(stdout);
	}
	o = run_import(a, j, scope, model, ctx, NULL);
	ret = exit_for(o);
	if (ret == EXIT_COMMITTED && diffs)
		ret = EXIT_FAILED;
	return ret;
}

static int
parse_import_args(int argc, char **argv, struct import_args *a)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, OPT_JOURNAL },
		{ "controller-db", required_argument, NULL, OPT_CONTROLLER_DB },
		{ "model-dir", required_argument, NULL, OPT_MODEL_DIR },
		{ "durability", required_argument, NULL, OPT_DURABILITY },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "test-rollback", no_argument, NULL, OPT_TEST_ROLLBACK },
		{ "file-mode", required_argument, NULL, OPT_FILE_MODE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "lease-ttl", required_argument, NULL, OPT_LEASE_TTL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	int opt;

	*a = (struct import_args){
		.journal_dir = "./mmig-journal",
		.paths = { .controller_db = "./controller.db",
			   .model_dir = "./models" },
		.durability = MMIG_DURABLE,
	};
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_JOURNAL:
			a->journal_dir = optarg;
			break;
		case OPT_CONTROLLER_DB:
			a->paths.controller_db = optarg;
			break;
		case OPT_MODEL_DIR:
			a->paths.model_dir = optarg;
			break;
		case OPT_DURABILITY:
			if (strcmp(optarg, "durable") == 0) {
				a->durability = MMIG_DURABLE;
			} else if (strcmp(optarg, "process") == 0) {
				a->durability = MMIG_PROCESS;
			} else {
				errorf("usage", "--durability %s: not durable "
						"or process",
				       optarg);
				return -1;
			}
			break;
		case OPT_POLICY:
			if (strcmp(optarg, "rollback") == 0) {
				a->pause = false;
			} else if (strcmp(optarg, "pause") == 0) {
				a->pause = true;
			} else {
				errorf("usage", "--policy %s: not rollback or "
						"pause",
				       optarg);
				return -1;
			}
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_TEST_ROLLBACK:
			a->test_rollback = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_FILE_MODE:
			if (!file_mode_parse(optarg, &a->file_mode)) {
				errorf("usage", "--file-mode %s: not an octal "
						"mode of 0600 plus any of 0066",
				       optarg);
				return -1;
			}
			break;
		case OPT_NODE:
			a->node = optarg;
			break;
		case OPT_LEASE_TTL: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || v == 0 ||
			    v > 3600) {
				errorf("usage", "--lease-ttl %s: not a number "
						"of seconds from 1 to 3600",
				       optarg);
				return -1;
			}
			a->lease_ttl_s = (unsigned)v;
			break;
		}
		case OPT_HELP:
			usage_import(stdout);
			return 1;
		default:
			errorf("usage", "see '" PROG " import --help'");
			return -1;
		}
	}
	if (optind != argc - 1) {
		errorf("usage", optind == argc
					? "import: MODEL.json is required"
					: "import: one MODEL.json only");
		return -1;
	}
	if (!*a->journal_dir || !*a->paths.controller_db ||
	    !*a->paths.model_dir) {
		errorf("usage", "import: empty path");
		return -1;
	}
	a->model_path = argv[optind];
	if (a->node || a->lease_ttl_s) {
		char ttl[32] = "";

		if (strncmp(a->journal_dir, "etcd://", 7) != 0 ||
		    strchr(a->journal_dir, '?')) {
			errorf("usage", "import: --node and --lease-ttl go with "
					"--journal etcd://HOST:PORT[,...]/PREFIX "
					"(with no parameters in it)");
			return -1;
		}
		if (a->lease_ttl_s)
			snprintf(ttl, sizeof(ttl), "lease-ttl=%u",
				 a->lease_ttl_s);
		if (asprintf(&a->journal_uri, "%s?%s%s%s%s", a->journal_dir,
			     a->node ? "node=" : "", a->node ? a->node : "",
			     a->node && *ttl ? "&" : "", ttl) < 0) {
			errorf("usage", "out of memory");
			return -1;
		}
		a->journal_dir = a->journal_uri;
	}
	return 0;
}

/* ---- reading the description, with progress ------------------------------ */

/* Descriptions from this size on get progress while read and parsed. */
#define LARGE_DESC_BYTES ((size_t)8 << 20)

/* The status line a terminal shows while the parser works. */
struct parse_status {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	const char *label;
	size_t bytes;
	uint64_t t0_ns;
};

static void *
parse_status_run(void *arg)
{
	struct parse_status *ps = arg;
	struct timespec until;

	pthread_mutex_lock(&ps->mu);
	while (!ps->stop) {
		fprintf(stderr,
			"\r%s: description: parsing %s (%.1f MB), %.0f s\033[K",
			PROG, ps->label, (double)ps->bytes / 1e6,
			(double)(now_ns() - ps->t0_ns) / 1e9);
		fflush(stderr);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ps->cv, &ps->mu, &until);
	}
	pthread_mutex_unlock(&ps->mu);
	return NULL;
}

/*
 * Read the description at @p path ("-": standard input, named "stdin" in
 * messages), at most MMIG_MODEL_DESC_MAX_BYTES, and parse it.  A large one
 * gets progress on stderr: on a terminal a status line redrawn in place
 * (bytes read, then the seconds the parser has taken) and erased at the
 * end; otherwise one plain line before parsing and one after.  On failure
 * the message is printed (one line) and the exit status returned.
 * @p bytes are freed with free().
 */
static int
load_description(const char *path, enum progress_mode mode,
		 struct mmig_model_desc **d, void **bytes, size_t *len)
{
	const bool from_stdin = strcmp(path, "-") == 0;
	const char *label = from_stdin ? "stdin" : path;
	const bool tty = mode == PROGRESS_BAR;
	size_t cap = 1 << 16, n = 0;
	uint64_t t0 = now_ns(), drawn = 0, parse_t0;
	struct parse_status ps;
	pthread_t th;
	bool large = false, shown = false, thread = false;
	char *buf = NULL, *msg = NULL;
	struct stat st;
	int fd, rc, err = 0;

	*d = NULL;
	*bytes = NULL;
	*len = 0;
	fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		errorf("description", "%s: %s", label, strerror(errno));
		if (fd >= 0 && !from_stdin)
			close(fd);
		return EXIT_USAGE;
	}
	if (S_ISDIR(st.st_mode)) {
		errorf("description", "%s: %s", label, strerror(EISDIR));
		if (!from_stdin)
			close(fd);
		return EXIT_USAGE;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= MMIG_MODEL_DESC_MAX_BYTES) {
		cap = (size_t)st.st_size + 2;
		large = cap >= LARGE_DESC_BYTES;
	}
	buf = malloc(cap);
	while (buf) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (n > MMIG_MODEL_DESC_MAX_BYTES)
				break;
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		large = large || n >= LARGE_DESC_BYTES;
		if (tty && large && now_ns() - drawn >= 100000000u) {
			fprintf(stderr,
				"\r%s: description: reading %s: %.1f MB\033[K",
				PROG, label, (double)n / 1e6);
			fflush(stderr);
			drawn = now_ns();
			shown = true;
		}
	}
	if (!from_stdin)
		close(fd);
	if (shown)
		fputs("\r\033[K", stderr);
	if (!buf || err) {
		errorf("description", "%s: %s", label,
		       strerror(err ? err : ENOMEM));
		free(buf);
		return err ? EXIT_USAGE : EXIT_FAILED;
	}
	if (n > MMIG_MODEL_DESC_MAX_BYTES) {
		/* The library's own wording (mmig_model_desc_parse_file()). */
		errorf("description", "%s: description too large (over %zu "
				      "bytes)",
		       label, MMIG_MODEL_DESC_MAX_BYTES);
		free(buf);
		return EXIT_USAGE;
	}
	buf[n] = '\0';
	if (large && mode == PROGRESS_LINES)
		fprintf(stderr, "%s: description: %s: %zu bytes read in %.2f s, "
				"parsing\n",
			PROG, label, n, (double)(now_ns() - t0) / 1e9);
	if (large && tty) {
		ps = (struct parse_status){
			.label = label, .bytes = n, .t0_ns = now_ns(),
		};
		pthread_mutex_init(&ps.mu, NULL);
		pthread_cond_init(&ps.cv, NULL);
		thread = pthread_create(&th, NULL, parse_status_run, &ps) == 0;
	}
	parse_t0 = now_ns();
	rc = mmig_model_desc_parse(buf, n, d, &msg);
	/* Reading and parsing, for --json. */
	report.parse_s = (double)(now_ns() - t0) / 1e9;
	if (thread) {
		pthread_mutex_lock(&ps.mu);
		ps.stop = true;
		pthread_cond_signal(&ps.cv);
		pthread_mutex_unlock(&ps.mu);
		pthread_join(th, NULL);
		fputs("\r\033[K", stderr);
	}
	if (large && tty) {
		pthread_cond_destroy(&ps.cv);
		pthread_mutex_destroy(&ps.mu);
	}
	if (rc != MMIG_OK) {
		errorf("description", "%s: %s", label,
		       msg ? msg : mmig_strerror(rc));
		mmig_model_desc_errmsg_free(msg);
		free(buf);
		return rc == MMIG_EMODEL ? EXIT_USAGE : EXIT_FAILED;
	}
	if (large && mode == PROGRESS_LINES)
		fprintf(stderr, "%s: description: %s: parsed in %.2f s\n", PROG,
			label, (double)(now_ns() - parse_t0) / 1e9);
	*bytes = buf;
	*len = n;
	return EXIT_COMMITTED;
}

/* ---- the --json report ------------------------------------------------------ */

/*
 * Rows of every table of the model database at @p path but the library's
 * own (mmig_*), as {"table": rows}; NULL when it cannot be read.
 */
static json_t *
count_tables(const char *path)
{
	static const char sql[] =
		"SELECT name FROM sqlite_master WHERE type = 'table' "
		"AND name NOT LIKE 'mmig\\_%' ESCAPE '\\' "
		"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
	json_t *o = json_object();
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *cnt = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	while (o && rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char *q = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", name);

		rc = q ? sqlite3_prepare_v2(db, q, -1, &cnt, NULL)
		       : SQLITE_NOMEM;
		sqlite3_free(q);
		if (rc == SQLITE_OK && sqlite3_step(cnt) == SQLITE_ROW)
			json_object_set_new(
				o, name,
				json_integer(sqlite3_column_int64(cnt, 0)));
		else
			rc = SQLITE_ERROR;
		sqlite3_finalize(cnt);
		cnt = NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	if (rc != SQLITE_OK) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/*
 * Print the one JSON object of `import --json` on stdout (its fields are
 * listed in mmig(1), JSON OUTPUT).  @p d and @p scope may be NULL (refused
 * before they existed).
 */
static void
print_report(const struct import_args *a, const struct mmig_model_desc *d,
	     const struct mmig_scope *scope, int exit_status, double total_s)
{
	json_t *o = json_object(), *desc = json_null(), *tables = json_null();
	json_t *ops = json_array(), *tr = json_null();
	size_t app_config = 0;
	char *text;

	if (d) {
		for (size_t i = 0; i < d->n_apps; i++)
			app_config += d->apps[i].n_config;
		desc = json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, "
				 "s:I, s:I}",
				 "uuid", d->uuid, "format", d->format,
				 "source_version", d->source_version, "type",
				 d->type, "model_config", (json_int_t)d->n_config,
				 "machines", (json_int_t)d->n_machines,
				 "applications", (json_int_t)d->n_apps,
				 "application_config", (json_int_t)app_config,
				 "units", (json_int_t)d->n_units_total,
				 "relations", (json_int_t)d->n_relations, "kept",
				 (json_int_t)d->n_kept);
	}
	if (scope && report.outcome &&
	    strcmp(report.outcome, "committed") == 0) {
		json_t *t = count_tables(mmig_scope_model_path(scope));

		if (t) {
			json_decref(tables);
			tables = t;
		}
	}
	for (size_t i = 0; i < report.n_ops; i++)
		json_array_append_new(
			ops, json_pack("{s:s, s:I, s:f}", "name",
				       report.ops[i].name, "rows",
				       (json_int_t)report.ops[i].rows, "seconds",
				       report.ops[i].seconds));
	if (a->test_rollback && report.rollback_ran)
		tr = json_pack("{s:o, s:I}", "migration_id",
			       json_str_or_null(report.rollback_id),
			       "differences",
			       (json_int_t)report.rollback_diffs);
	json_object_set_new(o, "migration_id",
			    json_str_or_null(report.migration_id));
	json_object_set_new(o, "outcome",
			    json_string(report.outcome ? report.outcome
						       : "refused"));
	json_object_set_new(o, "exit_status", json_integer(exit_status));
	json_object_set_new(o, "error", json_str_or_null(first_error));
	json_object_set_new(o, "signal",
			    report.signal ? json_string(report.signal == SIGINT
								? "SIGINT"
								: "SIGTERM")
					  : json_null());
	json_object_set_new(o, "model_uuid",
			    json_str_or_null(d ? d->uuid : NULL));
	json_object_set_new(o, "durability",
			    json_string(a->durability == MMIG_PROCESS
						? "process"
						: "durable"));
	json_object_set_new(o, "description", desc ? desc : json_null());
	json_object_set_new(o, "tables", tables);
	json_object_set_new(o, "operations", ops);
	json_object_set_new(
		o, "timings",
		json_pack("{s:f, s:f, s:f}", "parse_seconds", report.parse_s,
			  "import_seconds", report.import_s, "total_seconds",
			  total_s));
	json_object_set_new(o, "test_rollback", tr ? tr : json_null());
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				      JSON_REAL_PRECISION(6));
	if (text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		free(text);
	}
	fflush(stdout);
	json_decref(o);
}

static int
cmd_import(int argc, char **argv)
{
	struct import_args a;
	struct mmig_model_desc *d = NULL;
	struct mmig_journal *j = NULL;
	struct mmig_scope *scope = NULL;
	struct mmig_ctx *ctx = NULL;
	struct mmig_error *err = NULL;
	struct mmig_model model = {0};
	struct sigaction old[2];
	uint64_t t0 = now_ns();
	void *bytes = NULL;
	size_t len = 0;
	int rc, ret;

	rc = parse_import_args(argc, argv, &a);
	if (rc != 0)
		return rc > 0 ? EXIT_COMMITTED : EXIT_USAGE;
	/* Everything is checked before anything is opened or created. */
	ret = load_description(a.model_path, progress_mode_for(a.quiet), &d,
			       &bytes, &len);
	if (ret != EXIT_COMMITTED)
		goto out;
	if (!a.quiet && strcmp(d->format, "juju") == 0)
		fprintf(stderr,
			"%s: description: juju/description model version %d "
			"(%s): %zu machines, %zu applications, %zu units, "
			"%zu relations; %zu values without a column kept as "
			"written\n",
			PROG, d->source_version, d->type, d->n_machines,
			d->n_apps, d->n_units_total, d->n_relations, d->n_kept);
	model = (struct mmig_model){
		.uuid = d->uuid,
		.desc = bytes,
		.desc_len = len,
		.data = d,
	};
	ret = EXIT_FAILED;
	rc = mmig_journal_open(&j, a.journal_dir, NULL, &err);
	if (rc != MMIG_OK) {
		errorf("journal", "%s", err ? mmig_error_message(err)
					    : mmig_strerror(rc));
		mmig_error_free(err);
		goto out;
	}
	if (check_in_flight(j, d->uuid) != 0)
		goto out;
	if (a.file_mode) {
		/* Made here with the wider mode; the library would make it
		 * 0700, and leaves an existing one alone. */
		rc = file_mode_make_dirs(a.paths.model_dir,
					 file_mode_dir(a.file_mode));
		if (rc != 0) {
			errorf("scope", "%s: %s", a.paths.model_dir,
			       mmig_strerror(rc));
			goto out;
		}
	}
	rc = mmig_import_scope_for_model(&a.paths, d->uuid, a.durability,
					 &scope);
	if (rc == MMIG_OK && a.file_mode)
		rc = mmig_scope_set_file_mode(scope, a.file_mode);
	if (rc != MMIG_OK) {
		errorf("scope", "%s: %s", a.paths.model_dir,
		       mmig_strerror(rc));
		goto out;
	}
	rc = mmig_ctx_new(&ctx);
	if (rc != MMIG_OK) {
		errorf("import", "%s", mmig_strerror(rc));
		goto out;
	}
	signals_install(ctx, a.pause, old);
	if (a.test_rollback)
		ret = test_rollback(&a, j, scope, &model, ctx);
	else
		ret = exit_for(run_import(&a, j, scope, &model, ctx, NULL));
	signals_restore(old);
	report.signal = (int)sig_caught;
	if (sig_caught && !a.quiet)
		fprintf(stderr, "%s: import: stopped by signal %d (%s)\n",
			PROG, (int)sig_caught,
			a.pause ? "paused" : "rolled back");
out:
	if (a.json)
		print_report(&a, d, scope, ret,
			     (double)(now_ns() - t0) / 1e9);
	mmig_ctx_free(ctx);
	mmig_scope_free(scope);
	mmig_journal_close(j);
	mmig_model_desc_free(d);
	free(bytes);
	free(a.journal_uri);
	return ret;
}

/* ------------------------------------------------------------------------
 * export
 * ------------------------------------------------------------------------ */

static void
usage_export(FILE *out)
{
	fprintf(out,
		"usage: " PROG " export UUID [-o FILE] [--controller-db FILE] "
		"[--model-dir DIR]\n"
		"\n"
		"Write the imported model UUID back as a juju/description "
		"YAML document:\n"
		"every column and every value kept as written, at the "
		"versions the\n"
		"imported document had.  Reads only; the model must be "
		"active (its import\n"
		"settled).  The document can hold credentials: a file is "
		"made 0600, and\n"
		"written whole or not at all.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE     the file (default, or '-': stdout)\n"
		"  --controller-db FILE  the controller database (default "
		"./controller.db)\n"
		"  --model-dir DIR       where model databases live (default "
		"./models)\n"
		"  -h, --help            show this help\n"
		"\n"
		"Exit status: 0 written, 1 failed (no such model, not active, "
		"unreadable),\n"
		"2 usage error.\n");
}

static int
cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "controller-db", required_argument, NULL, OPT_CONTROLLER_DB },
		{ "model-dir", required_argument, NULL, OPT_MODEL_DIR },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	struct mmig_import_paths paths = { .controller_db = "./controller.db",
					   .model_dir = "./models" };
	const char *output = NULL;
	char *tmp = NULL, *msg = NULL;
	FILE *f = stdout;
	int opt, rc, fd;

	while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_OUTPUT:
			output = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case OPT_CONTROLLER_DB:
			paths.controller_db = optarg;
			break;
		case OPT_MODEL_DIR:
			paths.model_dir = optarg;
			break;
		case OPT_HELP:
			usage_export(stdout);
			return EXIT_COMMITTED;
		default:
			errorf("usage", "see '" PROG " export --help'");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		errorf("usage", optind == argc ? "export: UUID is required"
					       : "export: one UUID only");
		return EXIT_USAGE;
	}
	if (!mmig_uuid_valid(argv[optind])) {
		errorf("usage", "export: '%s' is not a lower-case uuid",
		       argv[optind]);
		return EXIT_USAGE;
	}
	if (output) {
		/* Beside the target, 0600, renamed over it once whole. */
		size_t n = strlen(output) + 16;

		tmp = malloc(n);
		if (!tmp) {
			errorf("export", "%s", strerror(ENOMEM));
			return EXIT_FAILED;
		}
		snprintf(tmp, n, "%s.tmp-XXXXXX", output);
		fd = mkstemp(tmp);
		if (fd < 0 || fchmod(fd, 0600) != 0 ||
		    !(f = fdopen(fd, "w"))) {
			errorf("export", "%s: %s", output, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			free(tmp);
			return EXIT_FAILED;
		}
	}
	rc = mmig_model_export(&paths, argv[optind], f, &msg);
	if (rc != MMIG_OK)
		errorf("export", "%s", msg ? msg : mmig_strerror(rc));
	mmig_model_desc_errmsg_free(msg);
	if (output) {
		if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
			if (rc == MMIG_OK)
				errorf("export", "%s: %s", output,
				       strerror(errno));
			rc = rc ? rc : -errno;
		}
		fclose(f);
		if (rc == MMIG_OK && rename(tmp, output) != 0) {
			errorf("export", "%s: %s", output, strerror(errno));
			rc = -errno;
		}
		if (rc != MMIG_OK)
			unlink(tmp);
		free(tmp);
	} else if (fflush(stdout) != 0 && rc == MMIG_OK) {
		errorf("export", "stdout: %s", strerror(errno));
		rc = -EIO;
	}
	return rc == MMIG_OK ? EXIT_COMMITTED : EXIT_FAILED;
}

/* ------------------------------------------------------------------------
 * gen-model
 * ------------------------------------------------------------------------ */

/* A count: decimal digits only, no sign, no overflow. */
static bool
parse_count(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* A stream that only counts what is written to it. */
static ssize_t
count_write(void *cookie, const char *b, size_t n)
{
	(void)b;
	*(uint64_t *)cookie += n;
	return (ssize_t)n;
}

/*
 * Refuse, before writing anything, a model that import would refuse for its
 * size (mmig/import.h's limits), in the words import uses.  A description
 * that might be over MMIG_MODEL_DESC_MAX_BYTES is generated once into a
 * counting stream to know its exact size.  @return 0, or -1 said.
 */
static int
check_gen_size(const struct mmig_gen_opts *o)
{
	const size_t max = MMIG_MODEL_DESC_MAX_ITEMS;
	size_t apps = o->applications, maxrel, rel = o->relations;
	uint64_t units = (uint64_t)apps * o->units_per_app, bytes = 0;
	FILE *f;
	int rc;

	/* The generator caps relations at one per pair of applications. */
	maxrel = apps % 2 ? apps * ((apps - 1) / 2) : apps / 2 * (apps - 1);
	if (apps > 1 && maxrel / (apps - 1) < apps / 2)
		maxrel = SIZE_MAX; /* overflowed: far more than anyone asks */
	if (rel > maxrel)
		rel = maxrel;
	if (o->machines > max) {
		errorf("gen-model", "machines: %zu entries, at most %zu; "
				    "import would refuse the model",
		       o->machines, max);
		return -1;
	}
	if (apps > MMIG_MODEL_DESC_MAX_APPS) {
		errorf("gen-model", "applications: %zu entries, at most %d; "
				    "import would refuse the model",
		       apps, MMIG_MODEL_DESC_MAX_APPS);
		return -1;
	}
	if ((o->units_per_app && units / o->units_per_app != apps) ||
	    units > max) {
		errorf("gen-model", "applications: %" PRIu64 " units in all, "
				    "at most %zu; import would refuse the "
				    "model",
		       units, max);
		return -1;
	}
	if (rel > max) {
		errorf("gen-model", "relations: %zu entries, at most %zu; "
				    "import would refuse the model",
		       rel, max);
		return -1;
	}
	/* About 130 bytes an item at most: no need to count below that. */
	if (((uint64_t)o->machines + units + rel + apps) * 130 <
	    MMIG_MODEL_DESC_MAX_BYTES)
		return 0;
	f = fopencookie(&bytes, "w",
			(cookie_io_functions_t){ .write = count_write });
	if (!f) {
		errorf("gen-model", "%s", strerror(errno));
		return -1;
	}
	{
		struct mmig_gen_opts json = *o;

		json.flags &= ~MMIG_GEN_YAML;
		rc = mmig_model_desc_generate(&json, f);
	}
	fclose(f);
	if (rc != MMIG_OK) {
		errorf("gen-model", "model: %s", mmig_strerror(rc));
		return -1;
	}
	if (bytes > MMIG_MODEL_DESC_MAX_BYTES) {
		errorf("gen-model", "description too large (%" PRIu64
				    " bytes, at most %zu); import would "
				    "refuse the model",
		       bytes, MMIG_MODEL_DESC_MAX_BYTES);
		return -1;
	}
	return 0;
}

static int
cmd_gen_model(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "machines", required_argument, NULL, OPT_MACHINES },
		{ "applications", required_argument, NULL, OPT_APPLICATIONS },
		{ "units-per-app", required_argument, NULL, OPT_UNITS_PER_APP },
		{ "relations", required_argument, NULL, OPT_RELATIONS },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "from-bundle", required_argument, NULL, OPT_FROM_BUNDLE },
		{ "scale", required_argument, NULL, OPT_SCALE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	/* The library's defaults, spelled out: with MMIG_GEN_EXACT an
	 * explicit 0 means 0. */
	struct mmig_gen_opts o = {
		.size = sizeof(struct mmig_gen_opts),
		.machines = 10,
		.applications = 3,
		.units_per_app = 2,
		.relations = 2,
		.seed = 1,
		.flags = MMIG_GEN_EXACT,
	};
	const char *output = NULL, *bundle = NULL, *format = NULL;
	bool counts = false;
	uint64_t scale = 0;
	char *errmsg = NULL, *buf = NULL;
	size_t len = 0;
	FILE *out = stdout;
	uint64_t v;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			usage_gen(stdout);
			return EXIT_COMMITTED;
		}
		if (opt == OPT_OUTPUT) {
			output = strcmp(optarg, "-") == 0 ? NULL : optarg;
			continue;
		}
		if (opt == OPT_FROM_BUNDLE) {
			bundle = optarg;
			continue;
		}
		if (opt == OPT_FORMAT) {
			if (strcmp(optarg, "yaml") == 0) {
				o.flags |= MMIG_GEN_YAML;
			} else if (strcmp(optarg, "json") == 0) {
				o.flags &= ~MMIG_GEN_YAML;
			} else {
				errorf("usage", "gen-model: --format %s: not "
						"json or yaml",
				       optarg);
				return EXIT_USAGE;
			}
			format = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			errorf("usage", "see '" PROG " gen-model --help'");
			return EXIT_USAGE;
		}
		if (!parse_count(optarg, &v) ||
		    (opt != OPT_SEED && v > SIZE_MAX)) {
			errorf("usage", "gen-model: %s: not a count",
			       optarg);
			return EXIT_USAGE;
		}
		if (opt != OPT_SEED && opt != OPT_SCALE)
			counts = true;
		switch (opt) {
		case OPT_SCALE:
			if (!v) {
				errorf("usage", "gen-model: --scale 0: at "
						"least 1");
				return EXIT_USAGE;
			}
			scale = v;
			break;
		case OPT_MACHINES:
			o.machines = (size_t)v;
			break;
		case OPT_APPLICATIONS:
			o.applications = (size_t)v;
			break;
		case OPT_UNITS_PER_APP:
			o.units_per_app = (size_t)v;
			break;
		case OPT_RELATIONS:
			o.relations = (size_t)v;
			break;
		case OPT_SEED:
			o.seed = v;
			break;
		}
	}
	if (optind != argc) {
		errorf("usage", "gen-model: unexpected argument %s",
		       argv[optind]);
		return EXIT_USAGE;
	}
	if (bundle && counts) {
		errorf("usage", "gen-model: --from-bundle takes its machines, "
				"applications, units and relations from the "
				"bundle");
		return EXIT_USAGE;
	}
	if (bundle && format && strcmp(format, "yaml")) {
		errorf("usage", "gen-model: --from-bundle writes a "
				"juju/description document (--format yaml)");
		return EXIT_USAGE;
	}
	if (scale && !bundle) {
		errorf("usage", "gen-model: --scale is for --from-bundle");
		return EXIT_USAGE;
	}
	if (o.applications && o.units_per_app && !o.machines) {
		errorf("usage", "gen-model: units need at least one machine");
		return EXIT_USAGE;
	}
	if (!bundle && check_gen_size(&o) != 0)
		return EXIT_FAILED;
	if (bundle) {
		bool from_stdin = strcmp(bundle, "-") == 0;
		FILE *in = from_stdin ? stdin : fopen(bundle, "rb");
		FILE *mem = in ? open_memstream(&buf, &len) : NULL;
		char chunk[65536];
		size_t n;

		if (from_stdin)
			bundle = "stdin";
		if (!in || !mem) {
			errorf("gen-model", "%s: %s", bundle, strerror(errno));
			if (in && !from_stdin)
				fclose(in);
			return EXIT_FAILED;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
			fwrite(chunk, 1, n, mem);
		rc = ferror(in) ? errno : 0;
		if (!from_stdin)
			fclose(in);
		if (fclose(mem) != 0 || rc) {
			errorf("gen-model", "%s: %s", bundle,
			       strerror(rc ? rc : errno));
			free(buf);
			return EXIT_FAILED;
		}
	}
	if (output) {
		out = fopen(output, "w");
		if (!out) {
			errorf("gen-model", "%s: %s", output, strerror(errno));
			free(buf);
			return EXIT_FAILED;
		}
	}
	if (bundle)
		rc = mmig_model_gen_bundle(buf, len, scale ? scale : 1, o.seed,
					   out, &errmsg);
	else
		rc = mmig_model_desc_generate(&o, out);
	free(buf);
	if (output && fclose(out) != 0 && rc == MMIG_OK)
		rc = -errno;
	if (rc != MMIG_OK) {
		if (errmsg)
			errorf("gen-model", "%s: %s", bundle ? bundle : "model",
			       errmsg);
		else
			errorf("gen-model", "%s: %s",
			       output ? output : "stdout", mmig_strerror(rc));
		mmig_model_desc_errmsg_free(errmsg);
		/* A half-written description is worse than none. */
		if (output)
			unlink(output);
		return EXIT_FAILED;
	}
	return EXIT_COMMITTED;
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

/* ------------------------------------------------------------------------
 * bench
 * ------------------------------------------------------------------------ */

/*
 * The benchmarks of bench/ (bench/README.md says what each figure means).
 * Its options and usage text live there too: mmig_bench_usage().
 */
static int
cmd_bench(int argc, char **argv)
{
	return mmig_bench_main(argc, argv);
}

static int
cmd_bench_child(int argc, char **argv)
{
	return mmig_bench_child_main(argc, argv);
}

/* The subcommands, also listed in usage_main() -- but for bench-child,
 * which `mmig bench` runs itself. */
static const struct command commands[] = {
	{ "import", cmd_import },
	{ "gen-model", cmd_gen_model },
	{ "export", cmd_export },
	{ "bench", cmd_bench },
	{ "bench-child", cmd_bench_child },
};

int
main(int argc, char **argv)
{
	const char *name;

	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		usage_main(stdout);
		return EXIT_COMMITTED;
	}
	/* `mmig help --help` and `mmig help --version` are the same as
	 * without "help". */
	if (strcmp(name, "help") == 0 && argc == 3 && argv[2][0] == '-')
		name = argv[2];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		usage_main(stdout);
		return EXIT_COMMITTED;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		/* "NAME (libmmig) VERSION", the same form in mmig-recover. */
		printf(PROG " (libmmig) %s\n", mmig_version_string());
		return EXIT_COMMITTED;
	}
	if (strcmp(name, "help") == 0) {
		/* `mmig help` is --help; `mmig help CMD` is CMD --help. */
		static char help_opt[] = "--help";
		char *hargv[3] = { NULL, help_opt, NULL };

		if (argc == 2) {
			usage_main(stdout);
			return EXIT_COMMITTED;
		}
		if (argc > 3) {
			errorf("usage", "help: one COMMAND only");
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]);
		     i++) {
			if (strcmp(argv[2], commands[i].name) == 0 &&
			    strcmp(argv[2], "bench-child") != 0) {
				hargv[0] = argv[2];
				optind = 1;
				return commands[i].run(2, hargv);
			}
		}
		errorf("usage", "help: unknown command '%s'; see '" PROG
				" --help'",
		       argv[2]);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) == 0) {
			/* getopt sees the command as argv[0]. */
			optind = 1;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	errorf("usage", "unknown command '%s'; see '" PROG " --help'", name);
	return EXIT_USAGE;
}
