/*
 * tests/test-etcd.c - the etcd v3 gateway client against a real 3-member
 * cluster: put/range/pagination/delete, txn compare-and-set fencing on an
 * owner key's create_revision, idempotent appends retried after lost
 * answers, a lease kept alive by a child that is then SIGKILLed, an owner
 * frozen past its TTL that must not write once resumed, failover
 * while one member and then the leader are killed, the whole cluster down,
 * and compaction.
 *
 * Run it through `scripts/etcd-cluster.sh run -- test-etcd` (meson does):
 * the cluster's endpoints, its dir and the script come in
 * MMIG_ETCD_ENDPOINTS, MMIG_ETCD_DIR and MMIG_ETCD_CLUSTER.  Each test
 * leaves all three members running.  Measured figures (commit latency,
 * lease expiry after a kill) are printed, never asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "internal.h"

static const char *endpoints;
static const char *cluster_dir;
static const char *cluster_script;

/* ---- helpers ------------------------------------------------------------ */

/* Run the cluster script: "kill leader", "restart 1 2", ...; @return the
 * number it printed (a member), or 0. */
static int
cluster(const char *fmt, ...)
{
	char args[128], cmd[1024], out[64] = "";
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %.*s '%s' %s", cluster_script,
		 (int)strcspn(args, " "), args, cluster_dir,
		 args + strcspn(args, " "));
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	st = pclose(f);
	if (st != 0)
		fail_msg("cluster script failed: %s", cmd);
	return atoi(out);
}

static struct mmig__etcd *
client(const char *eps, unsigned request_ms, unsigned budget_ms)
{
	struct mmig__etcd *c = NULL;
	struct mmig__etcd_opts o = {
		.request_timeout_ms = request_ms,
		.retry_budget_ms = budget_ms,
	};
	struct mmig_error *e = NULL;
	int rc = mmig__etcd_open(&c, eps, &o, &e);

	if (rc != MMIG_OK)
		fail_msg("open %s: %s", eps, mmig_error_message(e));
	return c;
}

static void
check_ok(int rc, struct mmig_error *e)
{
	if (rc != MMIG_OK)
		fail_msg("%s: %s", mmig_err_name(rc), mmig_error_message(e));
	assert_null(e);
}

/* The call first, then its error: an argument list has no order. */
#define ok(call, e)                                                            \
	do {                                                                   \
		int ok_rc_ = (call);                                           \
		check_ok(ok_rc_, e);                                           \
	} while (0)

static struct mmig__etcd_range
one(const char *key)
{
	return (struct mmig__etcd_range){ .key = key, .key_len = strlen(key) };
}

static struct mmig__etcd_range
prefix(const char *key)
{
	return (struct mmig__etcd_range){ .key = key,
					  .key_len = strlen(key),
					  .prefix = true };
}

static void
put(struct mmig__etcd *c, const char *key, const char *val, int64_t *rev)
{
	struct mmig_error *e = NULL;

	ok(mmig__etcd_put(c, key, strlen(key), val, strlen(val), 0, rev, &e),
	   e);
}

/* The value of @p key, or NULL when absent (caller frees). */
static char *
get(struct mmig__etcd *c, const char *key, int64_t *create_rev)
{
	struct mmig__etcd_range r = one(key);
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	char *v = NULL;

	ok(mmig__etcd_get(c, &r, &res, &e), e);
	if (res.n == 1) {
		v = strdup(res.kvs[0].value);
		if (create_rev)
			*create_rev = res.kvs[0].create_revision;
	}
	mmig__etcd_range_result_free(&res);
	return v;
}

static double
ms_since(uint64_t t0)
{
	return (double)(mmig__now_mono_ns() - t0) / 1e6;
}

/*
 * The backend's append, as docs/etcd-backend.md gives it: put @p key =
 * @p val only if the owner key still has @p epoch as its create_revision
 * and @p key does not exist yet.  The failure branch reads both, so the
 * answer says which compare failed.
 * @return 1 written (now or by an earlier attempt whose answer was
 * lost), 0 fenced (the owner key changed), or a negative code.
 */
static int
append(struct mmig__etcd *c, const char *owner, int64_t epoch, const char *key,
       const char *val, struct mmig_error **errp)
{
	struct mmig__etcd_cmp cmp[] = {
		{ .key = owner,
		  .key_len = strlen(owner),
		  .target = MMIG__ETCD_CREATE,
		  .result = MMIG__ETCD_EQUAL,
		  .number = epoch },
		{ .key = key,
		  .key_len = strlen(key),
		  .target = MMIG__ETCD_VERSION,
		  .result = MMIG__ETCD_EQUAL,
		  .number = 0 },
	};
	struct mmig__etcd_op put_op = {
		.kind = MMIG__ETCD_OP_PUT,
		.range = one(key),
		.value = val,
		.value_len = strlen(val),
	};
	struct mmig__etcd_op reads[] = {
		{ .kind = MMIG__ETCD_OP_RANGE, .range = one(owner) },
		{ .kind = MMIG__ETCD_OP_RANGE, .range = one(key) },
	};
	struct mmig__etcd_txn_result res;
	int rc;

	rc = mmig__etcd_txn(c, cmp, 2, &put_op, 1, reads, 2, &res, errp);
	if (rc != MMIG_OK)
		return rc;
	if (res.succeeded) {
		rc = 1;
	} else if (res.results[0].range.n != 1 ||
		   res.results[0].range.kvs[0].create_revision != epoch) {
		rc = 0; /* fenced */
	} else {
		/* Our epoch holds and the key exists: an earlier attempt
		 * landed.  It must hold exactly our bytes. */
		assert_int_equal(res.results[1].range.n, 1);
		assert_string_equal(res.results[1].range.kvs[0].value, val);
		rc = 1;
	}
	mmig__etcd_txn_result_free(&res);
	return rc;
}

/* append(), re-issued while the answer is unknown or the cluster cannot
 * serve it (bounded: a minute). */
static int
append_retry(struct mmig__etcd *c, const char *owner, int64_t epoch,
	     const char *key, const char *val, int *unknowns)
{
	uint64_t t0 = mmig__now_mono_ns();

	for (;;) {
		struct mmig_error *e = NULL;
		int rc = append(c, owner, epoch, key, val, &e);

		if (rc >= 0)
			return rc;
		if (rc != MMIG_EUNKNOWN && rc != MMIG_EUNREACHABLE)
			fail_msg("append %s: %s", key, mmig_error_message(e));
		if (rc == MMIG_EUNKNOWN)
			(*unknowns)++;
		mmig_error_free(e);
		if (ms_since(t0) > 60000)
			fail_msg("append %s: cluster did not recover", key);
		usleep(100000);
	}
}

/* Claim @p owner: create it if absent (create_revision == 0).  @return
 * its create_revision (the epoch), or 0 when someone else holds it. */
static int64_t
claim(struct mmig__etcd *c, const char *owner, const char *me, int64_t lease)
{
	struct mmig__etcd_cmp cmp = {
		.key = owner,
		.key_len = strlen(owner),
		.target = MMIG__ETCD_CREATE,
		.result = MMIG__ETCD_EQUAL,
		.number = 0,
	};
	struct mmig__etcd_op put_op = {
		.kind = MMIG__ETCD_OP_PUT,
		.range = one(owner),
		.value = me,
		.value_len = strlen(me),
		.lease = lease,
	};
	struct mmig__etcd_op read = { .kind = MMIG__ETCD_OP_RANGE,
				      .range = one(owner) };
	struct mmig__etcd_txn_result res;
	struct mmig_error *e = NULL;
	int64_t epoch = 0;

	ok(mmig__etcd_txn(c, &cmp, 1, &put_op, 1, &read, 1, &res, &e), e);
	if (res.succeeded) {
		/* Created by this txn: its revision is the create_revision. */
		epoch = res.revision;
		assert_int_equal(res.n, 1);
		assert_int_equal(res.results[0].kind, MMIG__ETCD_OP_PUT);
	} else {
		assert_int_equal(res.results[0].range.n, 1);
		assert_int_not_equal(
			res.results[0].range.kvs[0].create_revision, 0);
	}
	mmig__etcd_txn_result_free(&res);
	return epoch;
}

/* ---- no cluster needed ---------------------------------------------------- */

static void
test_etcd_bad_endpoints_are_refused_by_name(void **state)
{
	static const char *const bad[] = {
		"",
		"localhost",
		"localhost:",
		":2379",
		"localhost:0",
		"localhost:65536",
		"localhost:12x",
		"https://localhost:2379",
		"a:1,b",
		"a:1,,b:2",
		"ho st:1",
	};
	struct mmig__etcd *c;
	struct mmig_error *e = NULL;

	(void)state;
	for (size_t i = 0; i < MMIG_ARRAY_LEN(bad); i++) {
		int rc = mmig__etcd_open(&c, bad[i], NULL, &e);

		if (rc != MMIG_EINVAL)
			fail_msg("'%s' gave %s", bad[i], mmig_err_name(rc));
		assert_null(c);
		assert_non_null(strstr(mmig_error_message(e), "etcd"));
		mmig_error_free(e);
		e = NULL;
	}
	ok(mmig__etcd_open(&c, "http://127.0.0.1:1,[::1]:2,http://h:3/", NULL,
			   &e),
	   e);
	assert_string_equal(mmig__etcd_endpoint(c), "127.0.0.1:1");
	mmig__etcd_close(c);
	mmig__etcd_close(NULL);
}

static void
test_etcd_prefix_end(void **state)
{
	uint8_t out[8];

	(void)state;
	assert_int_equal(mmig__etcd_prefix_end("ab", 2, out), 2);
	assert_memory_equal(out, "ac", 2);
	assert_int_equal(mmig__etcd_prefix_end("a\xff\xff", 3, out), 1);
	assert_memory_equal(out, "b", 1);
	assert_int_equal(mmig__etcd_prefix_end("\xff", 1, out), 1);
	assert_int_equal(out[0], 0);
}

/* A port where nobody listens, and one that accepts connections (the
 * kernel completes the handshake from the backlog) but never answers. */
static int
port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static int
loopback_socket(bool do_listen)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void
test_etcd_refused_is_not_applied_and_silence_is_unknown(void **state)
{
	int closed = loopback_socket(false), mute = loopback_socket(true);
	char eps[64];
	struct mmig__etcd *c;
	struct mmig__etcd_range r = one("k");
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int rc;

	(void)state;
	/* Bound but not listening: connections are refused. */
	snprintf(eps, sizeof(eps), "127.0.0.1:%d", port_of(closed));
	c = client(eps, 300, 400);
	rc = mmig__etcd_put(c, "k", 1, "v", 1, 0, NULL, &e);
	assert_int_equal(rc, MMIG_EUNREACHABLE);
	assert_non_null(strstr(mmig_error_message(e), "etcd put"));
	assert_non_null(strstr(mmig_error_message(e), eps));
	assert_non_null(strstr(mmig_error_message(e), "nothing applied"));
	mmig_error_free(e);
	e = NULL;
	mmig__etcd_close(c);

	/* Accepts, never answers: a write's outcome is unknown at once (not
	 * retried); a read is retried until the budget is spent. */
	snprintf(eps, sizeof(eps), "127.0.0.1:%d", port_of(mute));
	c = client(eps, 300, 700);
	rc = mmig__etcd_put(c, "k", 1, "v", 1, 0, NULL, &e);
	assert_int_equal(rc, MMIG_EUNKNOWN);
	assert_non_null(strstr(mmig_error_message(e), "etcd put at"));
	assert_non_null(strstr(mmig_error_message(e), eps));
	assert_non_null(strstr(mmig_error_message(e), "outcome unknown"));
	mmig_error_free(e);
	e = NULL;
	rc = mmig__etcd_get(c, &r, &res, &e);
	assert_int_equal(rc, MMIG_EUNREACHABLE);
	assert_non_null(strstr(mmig_error_message(e), "etcd range"));
	mmig_error_free(e);
	mmig__etcd_close(c);
	close(closed);
	close(mute);
}

/* ---- against the cluster --------------------------------------------- */

/* A walk's callback: records keys; the first call writes a key inside
 * the walked range (a snapshot must not see it), or compacts. */
struct walk {
	struct mmig__etcd *c;
	int n;
	char keys[16][32];
	const char *write_key; /* written at the first call, if set */
	bool compact;	       /* compact to the newest at the first call */
};

static int
walk_fn(void *arg, const struct mmig__etcd_kv *kv)
{
	struct walk *w = arg;

	if (w->n == 0 && w->write_key)
		put(w->c, w->write_key, "late", NULL);
	if (w->n == 0 && w->compact) {
		int64_t rev;
		struct mmig_error *e = NULL;

		put(w->c, "/t/cp/bump", "x", &rev);
		ok(mmig__etcd_compact(w->c, rev, &e), e);
	}
	if (w->n < 16)
		snprintf(w->keys[w->n], sizeof(w->keys[0]), "%s", kv->key);
	w->n++;
	return 0;
}

static void
test_etcd_put_range_paginate_delete(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	struct mmig__etcd_range r;
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int64_t rev1, rev2, deleted, snap;
	char key[64], *v;
	uint8_t bin[256];

	(void)state;
	put(c, "/t/pr/a", "one", &rev1);
	put(c, "/t/pr/a", "two", &rev2);
	assert_true(rev2 > rev1);
	v = get(c, "/t/pr/a", NULL);
	assert_string_equal(v, "two");
	free(v);
	/* The older revision still reads the older value. */
	r = one("/t/pr/a");
	r.revision = rev1;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, 1);
	assert_string_equal(res.kvs[0].value, "one");
	assert_int_equal(res.kvs[0].version, 1);
	assert_int_equal(res.kvs[0].mod_revision, rev1);
	mmig__etcd_range_result_free(&res);
	/* An absent key: no pairs, no error. */
	v = get(c, "/t/pr/none", NULL);
	assert_null(v);

	/* Binary values of every length near a base64 boundary. */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(255 - i);
	for (size_t len = 0; len <= 5; len++) {
		snprintf(key, sizeof(key), "/t/pr/bin/%zu", len);
		ok(mmig__etcd_put(c, key, strlen(key), bin, len, 0, NULL, &e),
		   e);
		r = one(key);
		ok(mmig__etcd_get(c, &r, &res, &e), e);
		assert_int_equal(res.n, 1);
		assert_int_equal(res.kvs[0].value_len, len);
		assert_memory_equal(res.kvs[0].value, bin, len);
		assert_int_equal(res.kvs[0].value[len], '\0');
		mmig__etcd_range_result_free(&res);
	}
	ok(mmig__etcd_put(c, "/t/pr/bin/256", 13, bin, 256, 0, NULL, &e), e);
	r = one("/t/pr/bin/256");
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.kvs[0].value_len, 256);
	assert_memory_equal(res.kvs[0].value, bin, 256);
	mmig__etcd_range_result_free(&res);

	/* Prefix, limit, keys-only, count-only. */
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "/t/pr/p/%02d", i);
		put(c, key, key, NULL);
	}
	put(c, "/t/pr/p0", "outside", NULL); /* not under "/t/pr/p/" */
	r = prefix("/t/pr/p/");
	r.limit = 3;
	r.keys_only = true;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, 3);
	assert_true(res.more);
	assert_int_equal(res.count, 7);
	assert_string_equal(res.kvs[0].key, "/t/pr/p/00");
	assert_string_equal(res.kvs[2].key, "/t/pr/p/02");
	assert_int_equal(res.kvs[0].value_len, 0);
	assert_true(res.kvs[0].create_revision > 0);
	mmig__etcd_range_result_free(&res);
	r = prefix("/t/pr/p/");
	r.count_only = true;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.count, 7);
	mmig__etcd_range_result_free(&res);
	/* [key, end) */
	r = one("/t/pr/p/02");
	r.end = "/t/pr/p/05";
	r.end_len = strlen(r.end);
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, 3);
	mmig__etcd_range_result_free(&res);

	/* Pages of 2 at one snapshot: a key written during the walk is not
	 * seen, every other key is, once, in order. */
	{
		struct walk w = { .c = c, .write_key = "/t/pr/p/03a" };

		r = prefix("/t/pr/p/");
		ok(mmig__etcd_get_each(c, &r, 2, walk_fn, &w, &snap, &e), e);
		assert_int_equal(w.n, 7);
		for (int i = 0; i < 7; i++) {
			snprintf(key, sizeof(key), "/t/pr/p/%02d", i);
			assert_string_equal(w.keys[i], key);
		}
		assert_true(snap > 0);
		/* With a limit of 5 in pages of 2. */
		memset(&w, 0, sizeof(w));
		w.c = c;
		r.limit = 5;
		ok(mmig__etcd_get_each(c, &r, 2, walk_fn, &w, NULL, &e), e);
		assert_int_equal(w.n, 5);
		/* Now the late key is there. */
		memset(&w, 0, sizeof(w));
		w.c = c;
		r.limit = 0;
		ok(mmig__etcd_get_each(c, &r, 3, walk_fn, &w, NULL, &e), e);
		assert_int_equal(w.n, 8);
		assert_string_equal(w.keys[4], "/t/pr/p/03a");
	}

	/* Delete the prefix: the key just outside it stays. */
	r = prefix("/t/pr/p/");
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	assert_int_equal(deleted, 8);
	v = get(c, "/t/pr/p0", NULL);
	assert_string_equal(v, "outside");
	free(v);
	r = one("/t/pr/p0");
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	assert_int_equal(deleted, 1);
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	assert_int_equal(deleted, 0);
	mmig__etcd_close(c);

	/* A dead endpoint first in the list: a write fails over to a live
	 * one (refused connections apply nothing), which stays current. */
	{
		int closed = loopback_socket(false);
		char eps[512], dead[32];

		snprintf(dead, sizeof(dead), "127.0.0.1:%d", port_of(closed));
		snprintf(eps, sizeof(eps), "%s,%s", dead, endpoints);
		c = client(eps, 0, 0);
		assert_string_equal(mmig__etcd_endpoint(c), dead);
		put(c, "/t/pr/fo", "x", NULL);
		assert_string_not_equal(mmig__etcd_endpoint(c), dead);
		v = get(c, "/t/pr/fo", NULL);
		assert_string_equal(v, "x");
		free(v);
		r = prefix("/t/pr/");
		ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
		mmig__etcd_close(c);
		close(closed);
	}
}

/*
 * Fencing: the owner key's create_revision is the epoch.  A new claim
 * (the owner key deleted and created again) makes a larger one, and an
 * append compared against the old one is refused without writing.  An
 * append re-issued after its answer was "lost" is recognised, not
 * doubled.  Also prints the mean latency of a fenced append.
 */
static void
test_etcd_txn_fences_on_create_revision(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	const char *owner = "/t/fx/owner";
	struct mmig__etcd_range r;
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int64_t epoch_a, epoch_b, deleted;
	char key[64], val[64];
	uint64_t t0;
	int n = 200;

	(void)state;
	epoch_a = claim(c, owner, "node-a", 0);
	assert_true(epoch_a > 0);
	/* A second claim while the key exists is refused. */
	assert_int_equal(claim(c, owner, "node-b", 0), 0);

	assert_int_equal(append(c, owner, epoch_a, "/t/fx/log/1", "r1", &e), 1);
	assert_null(e);
	/* The same append again, as after a lost answer: recognised. */
	assert_int_equal(append(c, owner, epoch_a, "/t/fx/log/1", "r1", &e), 1);
	assert_null(e);

	/* Node B takes over: the owner key goes and comes back, with a new,
	 * larger create_revision. */
	r = one(owner);
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	assert_int_equal(deleted, 1);
	epoch_b = claim(c, owner, "node-b", 0);
	assert_true(epoch_b > epoch_a);

	/* A's late append is fenced and writes nothing. */
	assert_int_equal(append(c, owner, epoch_a, "/t/fx/log/2", "late", &e),
			 0);
	assert_null(e);
	assert_null(get(c, "/t/fx/log/2", NULL));
	assert_int_equal(append(c, owner, epoch_b, "/t/fx/log/2", "r2", &e), 1);
	assert_null(e);

	/* Compare on mod_revision and on value: a CAS of the owner's value. */
	{
		int64_t mod;
		struct mmig__etcd_cmp cmp[2];
		struct mmig__etcd_op op = { .kind = MMIG__ETCD_OP_PUT,
					    .range = one(owner),
					    .value = "node-b2",
					    .value_len = 7 };
		struct mmig__etcd_txn_result tr;

		r = one(owner);
		ok(mmig__etcd_get(c, &r, &res, &e), e);
		mod = res.kvs[0].mod_revision;
		mmig__etcd_range_result_free(&res);
		cmp[0] = (struct mmig__etcd_cmp){ .key = owner,
						  .key_len = strlen(owner),
						  .target = MMIG__ETCD_MOD,
						  .result = MMIG__ETCD_EQUAL,
						  .number = mod };
		cmp[1] = (struct mmig__etcd_cmp){ .key = owner,
						  .key_len = strlen(owner),
						  .target = MMIG__ETCD_VALUE,
						  .result = MMIG__ETCD_EQUAL,
						  .value = "node-b",
						  .value_len = 6 };
		ok(mmig__etcd_txn(c, cmp, 2, &op, 1, NULL, 0, &tr, &e), e);
		assert_true(tr.succeeded);
		assert_int_equal(tr.n, 1);
		mmig__etcd_txn_result_free(&tr);
		/* Same txn again: mod_revision moved on, so it fails, and
		 * the failure branch (empty) ran. */
		ok(mmig__etcd_txn(c, cmp, 2, &op, 1, NULL, 0, &tr, &e), e);
		assert_false(tr.succeeded);
		assert_int_equal(tr.n, 0);
		mmig__etcd_txn_result_free(&tr);
		/* GREATER / LESS on version. */
		cmp[0] = (struct mmig__etcd_cmp){ .key = owner,
						  .key_len = strlen(owner),
						  .target = MMIG__ETCD_VERSION,
						  .result = MMIG__ETCD_GREATER,
						  .number = 1 };
		cmp[1] = (struct mmig__etcd_cmp){ .key = owner,
						  .key_len = strlen(owner),
						  .target = MMIG__ETCD_VERSION,
						  .result = MMIG__ETCD_LESS,
						  .number = 3 };
		ok(mmig__etcd_txn(c, cmp, 2, NULL, 0, NULL, 0, &tr, &e), e);
		assert_true(tr.succeeded); /* version is 2 */
		mmig__etcd_txn_result_free(&tr);
	}

	/* A txn that writes one key twice is refused as invalid, by name. */
	{
		struct mmig__etcd_op ops[2] = {
			{ .kind = MMIG__ETCD_OP_PUT,
			  .range = one("/t/fx/dup"),
			  .value = "1",
			  .value_len = 1 },
			{ .kind = MMIG__ETCD_OP_PUT,
			  .range = one("/t/fx/dup"),
			  .value = "2",
			  .value_len = 1 },
		};
		struct mmig__etcd_txn_result tr;
		int rc = mmig__etcd_txn(c, NULL, 0, ops, 2, NULL, 0, &tr, &e);

		assert_int_equal(rc, MMIG_EINVAL);
		assert_non_null(strstr(mmig_error_message(e), "etcd txn at"));
		mmig_error_free(e);
		e = NULL;
	}

	/* Latency of a fenced, idempotent append (a quorum commit). */
	t0 = mmig__now_mono_ns();
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "/t/fx/bench/%04d", i);
		snprintf(val, sizeof(val), "record %d", i);
		assert_int_equal(append(c, owner, epoch_b, key, val, &e), 1);
	}
	printf("etcd: %d fenced appends (txn), mean %.2f ms each\n", n,
	       ms_since(t0) / n);
	r = prefix("/t/fx/");
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	mmig__etcd_close(c);
}

/*
 * A child takes a lease through a keeper, puts a key on it, and is
 * SIGKILLed: the key stays while the child lives (for longer than the
 * TTL: the keeper renews), and vanishes about a TTL after the kill.
 */
static void
test_etcd_lease_of_killed_process_expires(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	const char *key = "/t/ls/owner";
	int64_t ttl_s = 2, lease = 0, left, granted;
	int fds[2];
	pid_t pid;
	uint64_t t_kill;
	double gone_ms = -1;
	struct mmig_error *e = NULL;
	char *v;
	int st;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig__etcd *cc = NULL;
		struct mmig__etcd_keeper *k = NULL;
		int64_t id;

		close(fds[0]);
		if (mmig__etcd_open(&cc, endpoints, NULL, NULL) != MMIG_OK ||
		    mmig__etcd_keeper_start(&k, cc, ttl_s, 0, NULL) != MMIG_OK)
			_exit(2);
		id = mmig__etcd_keeper_id(k);
		if (mmig__etcd_put(cc, key, strlen(key), "child", 5, id, NULL,
				   NULL) != MMIG_OK)
			_exit(3);
		if (write(fds[1], &id, sizeof(id)) != sizeof(id))
			_exit(4);
		for (;;) {
			/* An owner checks its deadline before each step. */
			if (mmig__etcd_keeper_check(k, NULL) != MMIG_OK)
				_exit(5);
			usleep(50000);
		}
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &lease, sizeof(lease)), sizeof(lease));
	close(fds[0]);
	assert_true(lease != 0);

	/* Alive past twice its TTL: renewed. */
	usleep((useconds_t)(2 * ttl_s * 1000000 + 500000));
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
	v = get(c, key, NULL);
	assert_string_equal(v, "child");
	free(v);
	ok(mmig__etcd_lease_ttl(c, lease, &left, &granted, &e), e);
	assert_int_equal(granted, ttl_s);
	assert_true(left > 0);

	kill(pid, SIGKILL);
	t_kill = mmig__now_mono_ns();
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	/* Poll until the key is gone (bounded far above the TTL). */
	while (ms_since(t_kill) < 30000) {
		v = get(c, key, NULL);
		if (!v) {
			gone_ms = ms_since(t_kill);
			break;
		}
		free(v);
		usleep(20000);
	}
	if (gone_ms < 0)
		fail_msg("lease key still there 30 s after the kill");
	printf("etcd: lease key gone %.0f ms after SIGKILL (TTL %lld s)\n",
	       gone_ms, (long long)ttl_s);
	assert_int_equal(mmig__etcd_lease_ttl(c, lease, &left, NULL, &e),
			 MMIG_ELEASE);
	assert_non_null(strstr(mmig_error_message(e), "gone"));
	mmig_error_free(e);
	e = NULL;
	assert_int_equal(mmig__etcd_lease_keepalive(c, lease, NULL, &e),
			 MMIG_ELEASE);
	mmig_error_free(e);
	e = NULL;
	/* A put on the dead lease is refused. */
	assert_int_equal(
		mmig__etcd_put(c, key, strlen(key), "x", 1, lease, NULL, &e),
		MMIG_ELEASE);
	mmig_error_free(e);
	mmig__etcd_close(c);
}

/*
 * An owner frozen (SIGSTOP) past its lease's TTL: its lease expires, its
 * owner key goes, another node claims with a larger epoch.  Resumed, the
 * owner either finds its deadline passed before its next step (exit 5) or
 * has its append refused by the epoch compare (exit 6): nothing it writes
 * after the takeover lands.
 */
static void
test_etcd_frozen_owner_stops_or_is_fenced(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	const char *owner = "/t/fz/owner";
	struct mmig__etcd_range r = prefix("/t/fz/log/");
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int64_t epoch2, before, deleted, lease2, ttl2;
	uint64_t t_stop;
	double takeover_ms = -1;
	int fds[2], st;
	pid_t pid;
	char *v;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mmig__etcd *cc = NULL;
		struct mmig__etcd_keeper *k = NULL;
		int64_t epoch;
		char key[64];

		close(fds[0]);
		if (mmig__etcd_open(&cc, endpoints, NULL, NULL) != MMIG_OK ||
		    mmig__etcd_keeper_start(&k, cc, 2, 0, NULL) != MMIG_OK)
			_exit(2);
		epoch = claim(cc, owner, "node-a", mmig__etcd_keeper_id(k));
		if (epoch <= 0)
			_exit(3);
		if (write(fds[1], &epoch, sizeof(epoch)) != sizeof(epoch))
			_exit(4);
		close(fds[1]);
		for (int i = 0;; i++) {
			int rc;

			if (mmig__etcd_keeper_check(k, NULL) != MMIG_OK)
				_exit(5);
			snprintf(key, sizeof(key), "/t/fz/log/%06d", i);
			rc = append(cc, owner, epoch, key, "a", NULL);
			if (rc == 0)
				_exit(6);
			if (rc < 0)
				_exit(7);
			usleep(20000);
		}
	}
	close(fds[1]);
	{
		int64_t epoch1;

		assert_int_equal(read(fds[0], &epoch1, sizeof(epoch1)),
				 sizeof(epoch1));
	}
	close(fds[0]);
	usleep(300000); /* let it append a few */
	kill(pid, SIGSTOP);
	t_stop = mmig__now_mono_ns();

	/* Node B waits for the owner key to go, then claims. */
	ok(mmig__etcd_lease_grant(c, 10, &lease2, &ttl2, &e), e);
	while ((v = get(c, owner, NULL)) != NULL) {
		free(v);
		if (ms_since(t_stop) > 30000)
			fail_msg("owner key still there 30 s after SIGSTOP");
		usleep(20000);
	}
	epoch2 = claim(c, owner, "node-b", lease2);
	assert_true(epoch2 > 0);
	takeover_ms = ms_since(t_stop);
	printf("etcd: frozen owner (TTL 2 s) taken over %.0f ms after "
	       "SIGSTOP\n",
	       takeover_ms);
	/* What A wrote, counted once B holds the migration: an append A sent
	 * just before it was stopped may land after the stop, never after
	 * the takeover. */
	r.count_only = true;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	before = res.count;
	mmig__etcd_range_result_free(&res);
	assert_true(before > 0);

	kill(pid, SIGCONT);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 5 && WEXITSTATUS(st) != 6)
		fail_msg("frozen owner exited %d", WEXITSTATUS(st));
	printf("etcd: resumed owner stopped by %s\n",
	       WEXITSTATUS(st) == 5 ? "its lease deadline check"
				    : "the epoch compare of its append");
	/* Nothing of A's landed after the takeover; every record predates B. */
	r.count_only = false;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, before);
	for (size_t i = 0; i < res.n; i++)
		assert_true(res.kvs[i].mod_revision < epoch2);
	mmig__etcd_range_result_free(&res);

	ok(mmig__etcd_lease_revoke(c, lease2, &e), e);
	assert_null(get(c, owner, NULL));
	r = prefix("/t/fz/");
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	mmig__etcd_close(c);
}

/* Grant, keepalive, revoke (the keys go with it), and a keeper that
 * vouches for its lease and stops cleanly. */
static void
test_etcd_lease_grant_keepalive_revoke(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	struct mmig__etcd_keeper *k = NULL;
	struct mmig_error *e = NULL;
	int64_t id, ttl, left;
	uint64_t d0;

	(void)state;
	ok(mmig__etcd_lease_grant(c, 5, &id, &ttl, &e), e);
	assert_int_equal(ttl, 5);
	ok(mmig__etcd_put(c, "/t/lg/k", 7, "v", 1, id, NULL, &e), e);
	ok(mmig__etcd_lease_keepalive(c, id, &ttl, &e), e);
	assert_int_equal(ttl, 5);
	ok(mmig__etcd_lease_ttl(c, id, &left, NULL, &e), e);
	assert_true(left > 0 && left <= 5);
	ok(mmig__etcd_lease_revoke(c, id, &e), e);
	assert_null(get(c, "/t/lg/k", NULL));
	assert_int_equal(mmig__etcd_lease_revoke(c, id, &e), MMIG_ELEASE);
	mmig_error_free(e);
	e = NULL;

	/* A margin not below the TTL is refused. */
	assert_int_equal(mmig__etcd_keeper_start(&k, c, 2, 2000, &e),
			 MMIG_EINVAL);
	assert_null(k);
	mmig_error_free(e);
	e = NULL;

	ok(mmig__etcd_keeper_start(&k, c, 2, 0, &e), e);
	d0 = mmig__etcd_keeper_deadline_ns(k);
	assert_true(d0 > mmig__now_mono_ns());
	ok(mmig__etcd_put(c, "/t/lg/k", 7, "v", 1, mmig__etcd_keeper_id(k),
			  NULL, &e),
	   e);
	usleep(1500000);
	ok(mmig__etcd_keeper_check(k, &e), e);
	/* Renewed at least once by now (every third of the TTL). */
	assert_true(mmig__etcd_keeper_deadline_ns(k) > d0);
	id = mmig__etcd_keeper_id(k);
	mmig__etcd_keeper_stop(k, true);
	assert_null(get(c, "/t/lg/k", NULL));
	assert_int_equal(mmig__etcd_lease_ttl(c, id, &left, NULL, &e),
			 MMIG_ELEASE);
	mmig_error_free(e);
	e = NULL;

	/* A lease revoked behind the keeper's back: its next renewal finds
	 * it gone, and check() fails for good, saying so. */
	ok(mmig__etcd_keeper_start(&k, c, 3, 0, &e), e);
	ok(mmig__etcd_lease_revoke(c, mmig__etcd_keeper_id(k), &e), e);
	d0 = mmig__now_mono_ns();
	while (mmig__etcd_keeper_check(k, &e) == MMIG_OK) {
		if (ms_since(d0) > 10000)
			fail_msg("keeper still vouching 10 s after revoke");
		usleep(20000);
	}
	assert_int_equal(mmig_error_code(e), MMIG_ELEASE);
	assert_non_null(strstr(mmig_error_message(e), "gone"));
	mmig_error_free(e);
	e = NULL;
	assert_int_equal(mmig__etcd_keeper_check(k, &e), MMIG_ELEASE);
	mmig_error_free(e);
	mmig__etcd_keeper_stop(k, true); /* revoking a gone lease: quiet */
	mmig__etcd_close(c);
}

/*
 * A sequence of fenced appends through a client whose current endpoint
 * is killed (a follower) midway, then restarted, then the leader killed:
 * every append lands exactly once, in order.
 */
static void
test_etcd_failover_member_then_leader(void **state)
{
	struct mmig__etcd *c = client(endpoints, 1000, 8000);
	const char *owner = "/t/fo/owner";
	struct mmig__etcd_range r;
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int64_t epoch, deleted;
	int n = 30, unknowns = 0, killed = 0, leader = 0;
	char key[64], val[64];

	(void)state;
	epoch = claim(c, owner, "node-a", 0);
	assert_true(epoch > 0);
	for (int i = 0; i < n; i++) {
		if (i == 10) {
			/* The client's current endpoint, unless that is the
			 * leader: then another follower. */
			int cur = 0, lead = cluster("leader");
			const char *ep = mmig__etcd_endpoint(c);

			for (int m = 1; m <= 3; m++) {
				char path[512], port[16] = "";
				FILE *f;

				snprintf(path, sizeof(path), "%s/m%d.cport",
					 cluster_dir, m);
				f = fopen(path, "r");
				assert_non_null(f);
				assert_non_null(fgets(port, sizeof(port), f));
				fclose(f);
				port[strcspn(port, "\n")] = '\0';
				if (strcmp(strchr(ep, ':') + 1, port) == 0)
					cur = m;
			}
			assert_true(cur > 0);
			killed = cur != lead ? cur : (lead % 3) + 1;
			assert_int_equal(cluster("kill %d", killed), killed);
		}
		if (i == 15)
			cluster("restart %d", killed);
		if (i == 20) {
			leader = cluster("kill leader");
			assert_true(leader > 0);
		}
		snprintf(key, sizeof(key), "/t/fo/log/%04d", i);
		snprintf(val, sizeof(val), "record %d", i);
		assert_int_equal(
			append_retry(c, owner, epoch, key, val, &unknowns), 1);
	}
	cluster("restart %d", leader);
	printf("etcd: %d appends across a member kill and a leader kill, "
	       "%d answered 'outcome unknown' and were re-issued\n",
	       n, unknowns);

	r = prefix("/t/fo/log/");
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_int_equal(res.n, n);
	for (int i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "record %d", i);
		assert_string_equal(res.kvs[i].value, val);
		assert_int_equal(res.kvs[i].version, 1); /* written once */
		if (i > 0)
			assert_true(res.kvs[i].mod_revision >
				    res.kvs[i - 1].mod_revision);
	}
	mmig__etcd_range_result_free(&res);
	r = prefix("/t/fo/");
	ok(mmig__etcd_delete(c, &r, &deleted, &e), e);
	mmig__etcd_close(c);
}

/* Does a connection to member @p m's client port get refused?  (A member
 * SIGKILLed but not yet gone -- its other threads still exiting -- still
 * accepts one, and then cuts it.) */
static bool
member_refuses(int m)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char path[512];
	FILE *f;
	int port = 0, fd, rc;

	snprintf(path, sizeof(path), "%s/m%d.cport", cluster_dir, m);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &port), 1);
	fclose(f);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc != 0;
}

/*
 * Every member down: writes and reads fail with MMIG_EUNREACHABLE naming
 * the operation and the endpoints; a keeper stops vouching for its lease
 * before its deadline.  Back up, everything works again.
 */
static void
test_etcd_all_members_down(void **state)
{
	struct mmig__etcd *c = client(endpoints, 500, 1000), *c2;
	struct mmig__etcd_keeper *k = NULL;
	struct mmig__etcd_range r = one("/t/ad/k");
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	uint64_t t0, failed_at = 0, deadline = 0;
	int rc;
	char *v;

	(void)state;
	put(c, "/t/ad/k", "before", NULL);
	ok(mmig__etcd_keeper_start(&k, c, 6, 0, &e), e);
	/* Once `kill` has returned, the member is gone: a new connection is
	 * refused (what makes the put below "nothing applied"). */
	for (int m = 1; m <= 3; m++) {
		cluster("kill %d", m);
		assert_true(member_refuses(m));
	}

	/* A client of its own: @p c may hold a kept-alive connection to a
	 * member that died, and a request on it is "sent, no answer"
	 * (MMIG_EUNKNOWN), rightly, when curl cannot tell the member died
	 * before it read the request.  A new connection is refused. */
	c2 = client(endpoints, 500, 1000);
	t0 = mmig__now_mono_ns();
	rc = mmig__etcd_put(c2, "/t/ad/k", 7, "during", 6, 0, NULL, &e);
	if (rc != MMIG_EUNREACHABLE)
		fail_msg("put with every member down: rc %d, wanted %d: %s", rc,
			 MMIG_EUNREACHABLE, e ? mmig_error_message(e) : "");
	assert_non_null(strstr(mmig_error_message(e), "etcd put"));
	assert_non_null(strstr(mmig_error_message(e), endpoints));
	assert_non_null(strstr(mmig_error_message(e), "nothing applied"));
	printf("etcd: all members down: put failed in %.0f ms: %s\n",
	       ms_since(t0), mmig_error_message(e));
	mmig_error_free(e);
	e = NULL;
	rc = mmig__etcd_get(c2, &r, &res, &e);
	assert_int_equal(rc, MMIG_EUNREACHABLE);
	assert_non_null(strstr(mmig_error_message(e), "etcd range"));
	mmig__etcd_close(c2);
	mmig_error_free(e);
	e = NULL;

	/* The keeper cannot renew: check() fails in the end, and never
	 * vouches for the lease at or past its deadline: each OK answer came
	 * back before it.  (When the check first fails is up to the keeper
	 * and the margin, 1.5 s of the 6 s TTL; when we first see it fail is
	 * up to this loop's scheduling, which on a loaded machine can be
	 * after the deadline: not what is under test.) */
	while (ms_since(t0) < 20000) {
		int crc = mmig__etcd_keeper_check(k, &e);
		uint64_t after = mmig__now_mono_ns();

		deadline = mmig__etcd_keeper_deadline_ns(k);
		if (crc != MMIG_OK) {
			failed_at = after;
			break;
		}
		assert_true(after < deadline);
		usleep(10000);
	}
	assert_true(failed_at > 0);
	assert_non_null(strstr(mmig_error_message(e), "not renewed in time"));
	printf("etcd: keeper check seen failing %.0f ms %s its deadline: %s\n",
	       (double)(failed_at < deadline ? deadline - failed_at
					     : failed_at - deadline) / 1e6,
	       failed_at < deadline ? "before" : "after",
	       mmig_error_message(e));
	mmig_error_free(e);
	e = NULL;
	mmig__etcd_keeper_stop(k, false);

	cluster("restart 1 2 3");
	v = get(c, "/t/ad/k", NULL);
	assert_string_equal(v, "before");
	free(v);
	put(c, "/t/ad/k", "after", NULL);
	ok(mmig__etcd_delete(c, &r, NULL, &e), e);
	mmig__etcd_close(c);
}

/* A range at a compacted revision is MMIG_ECOMPACTED, naming the revision;
 * a paged walk whose snapshot is compacted under it stops with the same
 * code; the newest revision still reads. */
static void
test_etcd_compaction(void **state)
{
	struct mmig__etcd *c = client(endpoints, 0, 0);
	struct mmig__etcd_range r = one("/t/cp/k");
	struct mmig__etcd_range_result res;
	struct mmig_error *e = NULL;
	int64_t rev1, rev2, rev3;
	char key[32];
	int rc;

	(void)state;
	put(c, "/t/cp/k", "1", &rev1);
	put(c, "/t/cp/k", "2", &rev2);
	put(c, "/t/cp/k", "3", &rev3);
	ok(mmig__etcd_compact(c, rev2, &e), e);
	/* Again, or lower: not an error. */
	ok(mmig__etcd_compact(c, rev1, &e), e);
	r.revision = rev1;
	rc = mmig__etcd_get(c, &r, &res, &e);
	assert_int_equal(rc, MMIG_ECOMPACTED);
	assert_non_null(strstr(mmig_error_message(e), "etcd range at"));
	assert_non_null(strstr(mmig_error_message(e), "compacted"));
	mmig_error_free(e);
	e = NULL;
	r.revision = rev2;
	ok(mmig__etcd_get(c, &r, &res, &e), e);
	assert_string_equal(res.kvs[0].value, "2");
	mmig__etcd_range_result_free(&res);
	/* A future revision is a bad argument. */
	r.revision = rev3 + 1000000;
	assert_int_equal(mmig__etcd_get(c, &r, &res, &e), MMIG_EINVAL);
	mmig_error_free(e);
	e = NULL;
	assert_int_equal(mmig__etcd_compact(c, rev3 + 1000000, &e),
			 MMIG_EINVAL);
	mmig_error_free(e);
	e = NULL;

	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "/t/cp/w/%d", i);
		put(c, key, "v", NULL);
	}
	{
		struct walk w = { .c = c, .compact = true };
		struct mmig__etcd_range p = prefix("/t/cp/w/");

		rc = mmig__etcd_get_each(c, &p, 2, walk_fn, &w, NULL, &e);
		assert_int_equal(rc, MMIG_ECOMPACTED);
		assert_int_equal(w.n, 2); /* the first page only */
		mmig_error_free(e);
		e = NULL;
		/* Started again at the newest: every key. */
		memset(&w, 0, sizeof(w));
		w.c = c;
		ok(mmig__etcd_get_each(c, &p, 2, walk_fn, &w, NULL, &e), e);
		assert_int_equal(w.n, 6);
	}
	r = prefix("/t/cp/");
	ok(mmig__etcd_delete(c, &r, NULL, &e), e);
	mmig__etcd_close(c);
}

int
main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test(test_etcd_bad_endpoints_are_refused_by_name),
		cmocka_unit_test(test_etcd_prefix_end),
		cmocka_unit_test(
			test_etcd_refused_is_not_applied_and_silence_is_unknown),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_etcd_put_range_paginate_delete),
		cmocka_unit_test(test_etcd_txn_fences_on_create_revision),
		cmocka_unit_test(test_etcd_lease_grant_keepalive_revoke),
		cmocka_unit_test(test_etcd_lease_of_killed_process_expires),
		cmocka_unit_test(test_etcd_frozen_owner_stops_or_is_fenced),
		cmocka_unit_test(test_etcd_compaction),
		cmocka_unit_test(test_etcd_failover_member_then_leader),
		cmocka_unit_test(test_etcd_all_members_down),
	};
	int rc;

	/* Output of the measurements must not interleave with cmocka's. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	endpoints = getenv("MMIG_ETCD_ENDPOINTS");
	cluster_dir = getenv("MMIG_ETCD_DIR");
	cluster_script = getenv("MMIG_ETCD_CLUSTER");
	/* MMIG_TEST_FILTER=GLOB runs only the tests whose names match. */
	if (getenv("MMIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MMIG_TEST_FILTER"));
	rc = cmocka_run_group_tests_name("etcd-local", local, NULL, NULL);
	if (!endpoints || !cluster_dir || !cluster_script) {
		fprintf(stderr, "test-etcd: no cluster: run it as "
				"scripts/etcd-cluster.sh run -- test-etcd\n");
		return 1;
	}
	return rc | cmocka_run_group_tests_name("etcd", live, NULL, NULL);
}
