/*
 * bench/bench-pg.c - the PostgreSQL peer of figures 1 and 2 (issue 16):
 * one autocommitted 200 B INSERT per step, synchronous_commit=on, so that
 * each step's COMMIT waits for its WAL record to be flushed (fdatasync).
 *
 * Where the server comes from:
 *  - `--pg CONNINFO`: an existing server (a libpq connection string).  The
 *    bench makes one table of its own there, named after its process, and
 *    drops it at the end; it touches nothing else.
 *  - otherwise a private cluster in the scratch directory, so on the same
 *    filesystem as the journal being measured (that is the point: same
 *    disk).  initdb and postgres come from /usr/lib/postgresql/N/bin (the
 *    highest N; Debian's layout) or from PATH.  The server listens on a
 *    Unix socket in the scratch directory only (listen_addresses=''), with
 *    fsync=on and synchronous_commit=on.  It is started with fork + exec,
 *    not pg_ctl: pg_ctl puts the server in a session of its own, with
 *    nothing to stop it if the bench dies; here it is this process's
 *    child, with PR_SET_PDEATHSIG set to SIGQUIT (PostgreSQL's immediate
 *    shutdown), so that it stops whatever happens to the bench, also when
 *    the supervisor of bench.c kills the measuring process on SIGINT.  On
 *    a normal end it gets SIGINT (fast shutdown) and is waited for.
 *  - PostgreSQL refuses to run as root: when the effective uid is 0, initdb
 *    and postgres run as the user `postgres` (which Debian's package
 *    creates) or else `nobody`; the scratch directory is made searchable
 *    (0711) and the cluster's directory is given to that user.  The peers
 *    line says so.
 *
 * Without libpq at build time (meson: dependency('libpq', required:
 * false)) the peer is "skipped: built without libpq".  Whenever it cannot
 * be measured, the table and the JSON say why, in one line.
 */
#include "bench-int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MMIG_BENCH_HAVE_LIBPQ

#include <libpq-fe.h>

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REC 200
#define PG_PORT "5432" /* names the socket file only: no TCP */
#define PG_USER "bench"

struct pgstate {
	PGconn *conn;
	char table[64];
	pid_t server; /* our private postmaster, or 0 */
	char *pgdir;  /* the cluster's directory (socket beside data/) */
	char *log;    /* the server's log, for a failure's last line */
	char desc[320];
};

static void
skip(struct bench *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
skip(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->pg_skip[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b->pg_skip, sizeof(b->pg_skip), fmt, ap);
	va_end(ap);
}

/* snprintf() that says whether it all fitted; what did not is cut. */
static bool
fmt(char *buf, size_t cap, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static bool
fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, cap, f, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

/* libpq's messages end in a newline, and may span lines: keep the first. */
static const char *
first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* What a server or initdb log says went wrong, into @p buf: its first
 * FATAL, PANIC or ERROR line, else its last non-empty line ("" if none). */
static const char *
log_reason(const char *path, char *buf, size_t cap)
{
	static const char *const bad[] = { "FATAL:", "PANIC:", "ERROR:" };
	char line[512];
	FILE *f = path ? fopen(path, "r") : NULL;
	bool found = false;

	buf[0] = '\0';
	if (!f)
		return buf;
	while (!found && fgets(line, sizeof(line), f)) {
		if (line[0] == '\n')
			continue;
		const char *from = line;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (!found && strstr(line, bad[i])) {
				/* Without the timestamp and pid before it. */
				from = strstr(line, bad[i]);
				found = true;
			}
		fmt(buf, cap, "%s", from);
		first_line(buf);
	}
	fclose(f);
	return buf;
}

static bool
executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/*
 * The directory holding initdb and postgres: Debian's
 * /usr/lib/postgresql/N/bin with the highest N, else the directory of the
 * initdb found in PATH (symbolic links resolved).  @return 0 and @p dir, or
 * -1.
 */
static int
find_bindir(char *dir, size_t cap)
{
	glob_t g;
	const char *path = getenv("PATH");
	char cand[PATH_MAX], real[PATH_MAX];
	int found = -1;

	if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
		const char *best = NULL;

		for (size_t i = 0; i < g.gl_pathc; i++) {
			snprintf(cand, sizeof(cand), "%s/initdb",
				 g.gl_pathv[i]);
			if (!executable(cand))
				continue;
			snprintf(cand, sizeof(cand), "%s/postgres",
				 g.gl_pathv[i]);
			if (executable(cand) &&
			    (!best || strverscmp(g.gl_pathv[i], best) > 0))
				best = g.gl_pathv[i];
		}
		if (best) {
			snprintf(dir, cap, "%s", best);
			found = 0;
		}
		globfree(&g);
		if (found == 0)
			return 0;
	}
	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(cand, sizeof(cand), "%.*s/initdb", (int)len, path);
		if (len && executable(cand) && realpath(cand, real)) {
			char *slash = strrchr(real, '/');

			*slash = '\0';
			if (fmt(cand, sizeof(cand), "%s/postgres", real) &&
			    executable(cand)) {
				snprintf(dir, cap, "%s", real);
				return 0;
			}
		}
		path += len + (path[len] == ':');
	}
	return -1;
}

/*
 * Start @p argv (as user @p pw when not NULL), output to @p logfd, in
 * directory @p cwd, with PR_SET_PDEATHSIG @p deathsig, in a process group
 * of its own if @p own_group.  @return its pid, or -1.
 */
static pid_t
spawn(char *const *argv, const struct passwd *pw, int logfd, const char *cwd,
      int deathsig, bool own_group)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* The child: no return from here. */
	if (own_group)
		setpgid(0, 0);
	if (pw && (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
		   setuid(pw->pw_uid) != 0)) {
		dprintf(logfd, "mmig bench: cannot become user %s: %s\n",
			pw->pw_name, strerror(errno));
		_exit(126);
	}
	/* Set after the change of user, which would clear it. */
	prctl(PR_SET_PDEATHSIG, deathsig);
	if (getppid() != parent)
		_exit(125); /* the bench is gone already */
	umask(077);
	{
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 ||
		    dup2(logfd, 2) < 0)
			_exit(126);
	}
	/* Nothing of the bench's (journals, databases) goes with it. */
	closefrom(3);
	if (chdir(cwd) != 0) {
		dprintf(2, "mmig bench: chdir %s: %s\n", cwd, strerror(errno));
		_exit(126);
	}
	execv(argv[0], argv);
	dprintf(2, "mmig bench: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Wait up to @p ms for @p pid; @return 0 when it was reaped (status in
 * @p status), -1 if it still runs. */
static int
wait_ms(pid_t pid, long ms, int *status)
{
	for (long t = 0;; t += 20) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid || (w < 0 && errno == ECHILD))
			return 0;
		if (t >= ms)
			return -1;
		sleep_ms(20);
	}
}

/* Is @p dir usable (searchable and writable) by @p pw?  Checked in a child
 * that becomes that user. */
static bool
reachable_by(const char *dir, const struct passwd *pw)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			_exit(2);
		_exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Start a private cluster in @p b's scratch directory.  @return 0 with
 * P->server running and accepting connections, or -1 with b->pg_skip set.
 */
static int
private_start(struct bench *b, struct pgstate *P, char *host, size_t cap)
{
	char bindir[PATH_MAX], initdb[PATH_MAX], postgres[PATH_MAX];
	char data[PATH_MAX], sock[PATH_MAX], buf[512], ilog[PATH_MAX];
	const struct passwd *pw = NULL;
	const char *who = "";
	char whobuf[96] = "";
	int fd, status = 0;
	pid_t pid;

	if (find_bindir(bindir, sizeof(bindir)) != 0) {
		skip(b, "no PostgreSQL server found (initdb and postgres in "
			"/usr/lib/postgresql/*/bin or PATH); install "
			"postgresql or give --pg CONNINFO");
		return -1;
	}
	if (!fmt(initdb, sizeof(initdb), "%s/initdb", bindir) ||
	    !fmt(postgres, sizeof(postgres), "%s/postgres", bindir)) {
		skip(b, "%s: path too long", bindir);
		return -1;
	}
	/* Absolute: the server runs in its directory, and the socket's
	 * directory is a host name to libpq only when it starts with '/'. */
	{
		char *dir = realpath(b->dir, NULL);

		P->pgdir = dir ? bench_path(dir, "pg") : NULL;
		P->log = dir ? bench_path(dir, "pg-server.log") : NULL;
		free(dir);
	}
	if (!P->pgdir || !P->log) {
		skip(b, "%s: %s", b->dir, strerror(errno));
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data", P->pgdir);
	snprintf(sock, sizeof(sock), "%s/.s.PGSQL." PG_PORT, P->pgdir);
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		skip(b, "the scratch directory's path is too long for the "
			"server's Unix socket (%s); use a shorter --dir",
			sock);
		return -1;
	}
	if (mkdir(P->pgdir, 0700) != 0) {
		skip(b, "mkdir %s: %s", P->pgdir, strerror(errno));
		return -1;
	}
	if (geteuid() == 0) {
		pw = getpwnam("postgres");
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw) {
			skip(b, "running as root, and there is neither a user "
				"postgres nor nobody to run PostgreSQL as");
			return -1;
		}
		/* The scratch directory is ours (mkdtemp, 0700): searchable
		 * by others now, its contents stay 0700 each. */
		if (chmod(b->dir, 0711) != 0 ||
		    chown(P->pgdir, pw->pw_uid, pw->pw_gid) != 0) {
			skip(b, "giving %s to user %s: %s", P->pgdir,
			     pw->pw_name, strerror(errno));
			return -1;
		}
		if (!reachable_by(P->pgdir, pw)) {
			skip(b, "running as root; user %s, which PostgreSQL "
				"must run as, cannot reach %s (a parent "
				"directory is not searchable by it): use "
				"--dir elsewhere or --pg CONNINFO",
			     pw->pw_name, P->pgdir);
			return -1;
		}
		snprintf(whobuf, sizeof(whobuf), ", run as user %s (bench is "
						 "root)",
			 pw->pw_name);
		who = whobuf;
	}

	/* initdb: no sync of the new cluster (-N): what is measured is each
	 * commit's WAL flush, not the cluster's creation. */
	snprintf(ilog, sizeof(ilog), "%s/pg-initdb.log", b->dir);
	fd = open(ilog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		skip(b, "%s: %s", ilog, strerror(errno));
		return -1;
	}
	{
		char *argv[] = { initdb, "-D", data, "-U", PG_USER,
				 "-A", "trust", "--no-locale", "-E", "UTF8",
				 "-N", "--no-instructions", NULL };

		pid = spawn(argv, pw, fd, P->pgdir, SIGKILL, false);
	}
	close(fd);
	if (pid < 0) {
		skip(b, "fork: %s", strerror(errno));
		return -1;
	}
	/* initdb takes seconds; a minute is plenty even on a loaded disk. */
	if (wait_ms(pid, 120000, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		skip(b, "initdb did not finish in 120 s");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		skip(b, "%s failed: %s", initdb,
		     log_reason(ilog, buf, sizeof(buf)));
		return -1;
	}

	fd = open(P->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		skip(b, "%s: %s", P->log, strerror(errno));
		return -1;
	}
	{
		char sockdir[PATH_MAX + 32];
		char *argv[] = { postgres, "-D", data, "-p", PG_PORT,
				 "-c", "listen_addresses=",
				 "-c", sockdir,
				 "-c", "fsync=on",
				 "-c", "synchronous_commit=on",
				 "-c", "full_page_writes=on",
				 "-c", "max_connections=10",
				 NULL };

		snprintf(sockdir, sizeof(sockdir),
			 "unix_socket_directories=%s", P->pgdir);
		/* Out of the bench's process group, which bench.c's
		 * supervisor signals and then SIGKILLs on an interruption: a
		 * postmaster killed halfway through its shutdown would leave
		 * its shared memory behind.  Instead, when this process dies
		 * the server gets SIGQUIT, PostgreSQL's immediate shutdown,
		 * which stops its backends and removes its shared memory. */
		pid = spawn(argv, pw, fd, P->pgdir, SIGQUIT, true);
	}
	close(fd);
	if (pid < 0) {
		skip(b, "fork: %s", strerror(errno));
		return -1;
	}
	P->server = pid;
	snprintf(host, cap, "%s", P->pgdir);
	{
		const char *const kw[] = { "host", "port", "user", "dbname",
					   NULL };
		const char *const val[] = { host, PG_PORT, PG_USER,
					    "postgres", NULL };

		for (long t = 0;; t += 50) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				P->server = 0;
				skip(b, "postgres exited at start: %s",
				     log_reason(P->log, buf, sizeof(buf)));
				return -1;
			}
			if (PQpingParams(kw, val, 0) == PQPING_OK)
				break;
			if (t >= 60000) {
				skip(b, "postgres did not accept connections "
					"in 60 s: %s",
				     log_reason(P->log, buf, sizeof(buf)));
				return -1;
			}
			sleep_ms(50);
		}
	}
	fmt(P->desc, sizeof(P->desc),
	    "private cluster in the scratch dir (%s), Unix socket only%s",
	    bindir, who);
	return 0;
}

/* One statement; @return 0, or -1 with b->pg_skip set. */
static int
exec_ok(struct bench *b, PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		skip(b, "%s: %s", sql, first_line(PQresultErrorMessage(r)));
	PQclear(r);
	return ok ? 0 : -1;
}

int
bench_pg_start(struct bench *b)
{
	struct pgstate *P = calloc(1, sizeof(*P));
	char host[PATH_MAX], sql[256], fsync_s[32] = "?";
	const char *ver;
	PGresult *r;

	b->pgstate = P;
	if (!P) {
		skip(b, "out of memory");
		return -1;
	}
	if (b->pg_conninfo) {
		P->conn = PQconnectdb(b->pg_conninfo);
		snprintf(P->desc, sizeof(P->desc), "the server of --pg");
	} else {
		const char *const kw[] = { "host", "port", "user", "dbname",
					   NULL };
		const char *const val[] = { host, PG_PORT, PG_USER,
					    "postgres", NULL };

		if (private_start(b, P, host, sizeof(host)) != 0)
			return -1;
		P->conn = PQconnectdbParams(kw, val, 0);
	}
	if (!P->conn || PQstatus(P->conn) != CONNECTION_OK) {
		skip(b, "cannot connect to %s: %s", P->desc,
		     P->conn ? first_line(PQerrorMessage(P->conn))
			     : "out of memory");
		return -1;
	}
	/* For this session whatever the server's default: the peer is the
	 * durable one. */
	if (exec_ok(b, P->conn, "SET synchronous_commit = on") != 0)
		return -1;
	r = PQexec(P->conn, "SHOW fsync");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		snprintf(fsync_s, sizeof(fsync_s), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	snprintf(P->table, sizeof(P->table), "mmig_bench_peer_%ld_%llx",
		 (long)getpid(), (unsigned long long)bench_now_ns());
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE %s (id bigserial PRIMARY KEY, v bytea NOT "
		 "NULL)",
		 P->table);
	if (exec_ok(b, P->conn, sql) != 0) {
		P->table[0] = '\0';
		return -1;
	}
	snprintf(sql, sizeof(sql), "INSERT INTO %s (v) VALUES ($1)", P->table);
	r = PQprepare(P->conn, "step", sql, 1, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		skip(b, "PREPARE: %s", first_line(PQresultErrorMessage(r)));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	ver = PQparameterStatus(P->conn, "server_version");
	{
		char d[sizeof(P->desc)];

		snprintf(d, sizeof(d), "%s", P->desc);
		fmt(P->desc, sizeof(P->desc),
		    "PostgreSQL %s, %s, fsync=%s, synchronous_commit=on%s",
		    ver ? ver : "?", d, fsync_s,
		    strcmp(fsync_s, "on") == 0
			    ? ""
			    : " (NOT durable: the server's fsync is not on)");
	}
	return 0;
}

double
bench_pg_peer_us(struct bench *b, size_t n)
{
	struct pgstate *P = b->pgstate;
	char rec[REC];
	const char *vals[1] = { rec };
	const int lens[1] = { REC }, fmts[1] = { 1 };
	uint64_t t0 = 0;
	size_t warm = 10;

	if (!P || !P->conn || b->pg_skip[0])
		return -1;
	memset(rec, 'r', sizeof(rec));
	for (size_t i = 0; i < warm + n; i++) {
		PGresult *r;
		bool ok;

		if (i == warm)
			t0 = bench_now_ns();
		/* Not in a transaction block: the INSERT is its own
		 * transaction, and its COMMIT waits for the WAL flush. */
		r = PQexecPrepared(P->conn, "step", 1, vals, lens, fmts, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			fprintf(stderr, "mmig: bench: PostgreSQL peer: %s\n",
				first_line(PQresultErrorMessage(r)));
		PQclear(r);
		if (!ok)
			return -1;
	}
	return (double)(bench_now_ns() - t0) / 1e3 / (double)n;
}

const char *
bench_pg_describe(const struct bench *b)
{
	const struct pgstate *P = b->pgstate;

	return P && !b->pg_skip[0] ? P->desc : NULL;
}

void
bench_pg_stop(struct bench *b)
{
	struct pgstate *P = b->pgstate;
	int status;

	if (!P)
		return;
	if (P->conn && P->table[0] && PQstatus(P->conn) == CONNECTION_OK) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", P->table);
		PQclear(PQexec(P->conn, sql));
	}
	PQfinish(P->conn);
	if (P->server > 0) {
		/* Fast shutdown; then immediate; then no more asking. */
		kill(P->server, SIGINT);
		if (wait_ms(P->server, 30000, &status) != 0) {
			kill(P->server, SIGQUIT);
			if (wait_ms(P->server, 5000, &status) != 0) {
				kill(P->server, SIGKILL);
				waitpid(P->server, &status, 0);
			}
		}
	}
	free(P->pgdir);
	free(P->log);
	free(P);
	b->pgstate = NULL;
}

#else /* !MMIG_BENCH_HAVE_LIBPQ */

int
bench_pg_start(struct bench *b)
{
	snprintf(b->pg_skip, sizeof(b->pg_skip), "built without libpq");
	return -1;
}

double
bench_pg_peer_us(struct bench *b, size_t n)
{
	(void)b;
	(void)n;
	return -1;
}

const char *
bench_pg_describe(const struct bench *b)
{
	(void)b;
	return NULL;
}

void
bench_pg_stop(struct bench *b)
{
	(void)b;
}

#endif
