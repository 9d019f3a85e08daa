/*
 * journal/etcd-backend.c - the journal on an etcd v3 cluster: the second
 * implementation of the backend interface (backend.h), built on the
 * gateway client in etcd.[ch].  docs/etcd-backend.md is the design: the
 * key layout, each operation as one etcd txn, and the lease deadline rule.
 *
 * Keys under the prefix P (ID: the migration id's text, SEQ: 16 hex
 * digits):
 *   P/format                  "1"
 *   P/session/NODE/LEASE      node and pid (text, for operators), on the lease
 *   P/m/ID/hdr                HEADER record
 *   P/m/ID/status             STATUS record (state cache, owner)
 *   P/m/ID/log/SEQ            one transition record
 *   P/m/ID/owner              the owner's node, on its session lease
 *   P/m/ID/claim              the last claimer's node
 *   P/inflight/ID             empty; deleted by the terminal record
 * The epoch is create_revision(owner), which is mod_revision(claim): read()
 * reports it in the status it returns, whatever the stored status says
 * (a create or claim cannot write its own revision into its own txn).
 *
 * Threads: one client per journal, used under `lock`; the lease keeper
 * runs its own thread and client.
 */
#include "backend.h"
#include "etcd.h"
#include "fault.h"
#include "internal.h"
#include "journal-int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A write whose outcome is unknown is sent again for at most this long
 * (and never once the lease deadline has passed). */
#define RESEND_BUDGET_NS (20ull * 1000000000ull)
#define RESEND_PAUSE_NS (200ull * 1000000ull)
/* etcd 3.4: at most 128 ops per txn; keep room for status and deletes. */
#define MAX_RECORDS_PER_TXN 120
/* etcd 3.4: a request is at most 1.5 MiB. */
#define MAX_VALUE_BYTES (1024u * 1024u)
/* A header above this goes in chunks P/m/ID/desc/NNNNNNNN of this size,
 * put before the create txn, whose `hdr` is then empty. */
#define CHUNK_BYTES (512u * 1024u)

struct ej {
	/* First: what the front (migration.c) dispatches through. */
	const struct mmig__backend_ops *ops;
	struct mmig__etcd *c;
	pthread_mutex_t lock; /* guards c */
	struct mmig__etcd_keeper *keeper; /* NULL when read-only */
	int64_t lease;
	char *prefix;
	char *node;
	char *where; /* etcd://ENDPOINTS/PREFIX */
	unsigned flags;
	struct mmig_owner self;
	struct mmig__driving driving;
};

static struct ej *
EJ(struct mmig_journal *j)
{
	return (struct ej *)(void *)j;
}

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- keys ------------------------------------------------------------- */

static char *
mkey(const struct ej *e, const char *idt, const char *what)
{
	return mmig__asprintf("%s/m/%s/%s", e->prefix, idt, what);
}

static char *
log_key(const struct ej *e, const char *idt, uint64_t seq)
{
	return mmig__asprintf("%s/m/%s/log/%016" PRIx64, e->prefix, idt, seq);
}

static struct mmig__etcd_range
one(const char *key)
{
	return (struct mmig__etcd_range){ .key = key, .key_len = strlen(key) };
}

static struct mmig__etcd_op
op_put(const char *key, const void *val, size_t len, int64_t lease)
{
	return (struct mmig__etcd_op){ .kind = MMIG__ETCD_OP_PUT,
				       .range = one(key),
				       .value = val ? val : "",
				       .value_len = len,
				       .lease = lease };
}

static struct mmig__etcd_op
op_range(const char *key)
{
	return (struct mmig__etcd_op){ .kind = MMIG__ETCD_OP_RANGE,
				       .range = one(key) };
}

static struct mmig__etcd_op
op_delete(const char *key)
{
	return (struct mmig__etcd_op){ .kind = MMIG__ETCD_OP_DELETE,
				       .range = one(key) };
}

static struct mmig__etcd_cmp
cmp_num(const char *key, enum mmig__etcd_target t, int64_t n)
{
	return (struct mmig__etcd_cmp){ .key = key,
					.key_len = strlen(key),
					.target = t,
					.result = MMIG__ETCD_EQUAL,
					.number = n };
}

/* The first kv of a txn result's op @p i, or NULL. */
static const struct mmig__etcd_kv *
kv_of(const struct mmig__etcd_txn_result *r, size_t i)
{
	if (i >= r->n || r->results[i].kind != MMIG__ETCD_OP_RANGE ||
	    r->results[i].range.n == 0)
		return NULL;
	return &r->results[i].range.kvs[0];
}

/* ---- talking to etcd ---------------------------------------------------- */

/* A read txn (ranges only), retried by the client. */
static int
read_txn(struct ej *e, const struct mmig__etcd_op *ops, size_t n,
	 struct mmig__etcd_txn_result *out, struct mmig_error **errp)
{
	int rc;

	pthread_mutex_lock(&e->lock);
	rc = mmig__etcd_txn(e->c, NULL, 0, ops, n, NULL, 0, out, errp);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/*
 * A conditional write, sent again while its outcome is unknown (or nothing
 * could be applied) -- every write here is built so that sending it again
 * is safe -- for at most RESEND_BUDGET_NS, and only while this session's
 * lease is certainly alive (a write of an owner after that could race a
 * new owner's; its compare on CREATE(owner) refuses it anyway).
 * *resent tells whether the answer may be that of a second sending.
 */
static int
write_txn(struct ej *e, const struct mmig__etcd_cmp *cmp, size_t n_cmp,
	  const struct mmig__etcd_op *succ, size_t n_succ,
	  const struct mmig__etcd_op *fail, size_t n_fail,
	  struct mmig__etcd_txn_result *out, bool *resent,
	  struct mmig_error **errp)
{
	uint64_t start = mmig__now_mono_ns();
	struct mmig_error *err = NULL;
	int rc;

	*resent = false;
	for (;;) {
		pthread_mutex_lock(&e->lock);
		rc = mmig__etcd_txn(e->c, cmp, n_cmp, succ, n_succ, fail,
				    n_fail, out, &err);
		pthread_mutex_unlock(&e->lock);
		if (rc != MMIG_EUNKNOWN && rc != MMIG_EUNREACHABLE)
			break;
		if (mmig__now_mono_ns() - start > RESEND_BUDGET_NS)
			break;
		if (e->keeper) {
			struct mmig_error *kerr = NULL;

			if (mmig__etcd_keeper_check(e->keeper, &kerr) !=
			    MMIG_OK) {
				mmig_error_free(kerr);
				break;
			}
		}
		if (rc == MMIG_EUNKNOWN)
			*resent = true;
		mmig_error_free(err);
		err = NULL;
		sleep_ns(RESEND_PAUSE_NS);
	}
	set_err(errp, err);
	return rc;
}

/* MMIG_OK while this session's lease is certainly alive, with margin. */
static int
lease_check(struct ej *e, const char *idt, struct mmig_error **errp)
{
	struct mmig_error *err = NULL;
	int rc;

	if (!e->keeper)
		return MMIG_OK;
	rc = mmig__etcd_keeper_check(e->keeper, &err);
	if (rc != MMIG_OK)
		set_err(errp, mmig_error_wrap(err,
					      "migration %s: node %s stops: its "
					      "lease may expire before the "
					      "next commit",
					      idt, e->node));
	return rc;
}

/* ---- the session ---------------------------------------------------------- */

static void
ej_drive(struct mmig__jmig *m, bool on)
{
	mmig__driving_set(&EJ(m->j)->driving, m, on);
}

static const struct mmig_owner *
ej_session(struct mmig_journal *j)
{
	return &EJ(j)->self;
}

static const char *
ej_where(const struct mmig_journal *j)
{
	return ((const struct ej *)(const void *)j)->where;
}

/* The owner key of @p idt: whether it exists, its lease and revision. */
static int
owner_of(struct ej *e, const char *idt, bool *exists, int64_t *lease,
	 int64_t *create, char **node, struct mmig_error **errp)
{
	struct mmig__etcd_txn_result r = { 0 };
	char *k = mkey(e, idt, "owner");
	struct mmig__etcd_op op;
	const struct mmig__etcd_kv *kv;
	int rc;

	*exists = false;
	if (node)
		*node = NULL;
	if (!k)
		return MMIG_ENOMEM;
	op = op_range(k);
	rc = read_txn(e, &op, 1, &r, errp);
	if (rc == MMIG_OK && (kv = kv_of(&r, 0))) {
		*exists = true;
		*lease = kv->lease;
		*create = kv->create_revision;
		if (node)
			*node = mmig__strdup(kv->value);
	}
	mmig__etcd_txn_result_free(&r);
	mmig__free(k);
	return rc;
}

/* Alive exactly while the owner key exists (it hangs on the owner's
 * lease); this session's own key counts only while a handle drives it.
 * Unknown (etcd unreachable) counts as alive. */
static bool
ej_owner_active(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		const struct mmig_owner *o)
{
	struct ej *e = EJ(j);
	char idt[37];
	bool exists;
	int64_t lease = 0, create = 0;

	(void)o;
	mmig__id_text(id, idt);
	if (owner_of(e, idt, &exists, &lease, &create, NULL, NULL) != MMIG_OK)
		return true;
	if (exists && e->lease && lease == e->lease)
		return mmig__driving_has(&e->driving, id);
	return exists;
}

static int
ej_check(struct mmig__jmig *m, struct mmig_error **errp)
{
	return lease_check(EJ(m->j), m->id_text, errp);
}

static int
ej_admit(struct mmig_journal *j, enum mmig_durability d,
	 struct mmig_error **errp)
{
	struct ej *e = EJ(j);

	(void)d; /* every answered txn is quorum-durable: both modes alike */
	if (e->flags & MMIG_JOURNAL_RDONLY) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "journal %s is open read-only",
					     e->where));
		return MMIG_EINVAL;
	}
	return lease_check(e, "(new)", errp);
}

/* ---- reading ------------------------------------------------------------ */

struct snap {
	int64_t rev;
	bool owner;
	int64_t owner_lease, owner_create;
	int64_t claim_mod;
};

struct fold_walk {
	struct mmig_fold *fold;
	uint64_t expect_seq;
	size_t prefix_len; /* of "P/m/ID/log/" */
	const char *id_text;
	struct mmig_error *err;
	struct show_buf *show; /* NULL, or each record's `show` line */
};

/* The transition lines of `show`, kept until the read has succeeded (a read
 * restarted after a compaction walks the log again from seq 0). */
struct show_buf {
	char *text;
	size_t len;
};

static int
show_add(struct show_buf *b, const char *idt, uint64_t seq, int64_t rev,
	 const struct mmig_rec_transition *t)
{
	char *json = mmig__rec_transition_json(t), *line, *p;
	size_t n;

	if (!json)
		return MMIG_ENOMEM;
	line = mmig__asprintf("{\"record\":\"transition\",\"id\":\"%s\","
			      "\"seq\":%" PRIu64 ",\"lsn\":%" PRId64 ",%s\n",
			      idt, seq, rev, json + 1);
	mmig__free(json);
	if (!line)
		return MMIG_ENOMEM;
	if (seq == 0)
		b->len = 0;
	n = strlen(line);
	p = mmig__realloc(b->text, b->len + n + 1);
	if (!p) {
		mmig__free(line);
		return MMIG_ENOMEM;
	}
	memcpy(p + b->len, line, n + 1);
	b->text = p;
	b->len += n;
	mmig__free(line);
	return MMIG_OK;
}

static int
fold_one(void *arg, const struct mmig__etcd_kv *kv)
{
	struct fold_walk *w = arg;
	struct mmig_rec_transition t;
	struct mmig_error *err = NULL;
	uint64_t seq;
	char *end;
	int rc;

	seq = strtoull(kv->key + w->prefix_len, &end, 16);
	if (kv->key_len != w->prefix_len + 16 || *end != '\0' ||
	    seq != w->expect_seq) {
		w->err = mmig_error_new(MMIG_ECORRUPT,
					"migration %s: record key %s where seq "
					"%" PRIu64 " was expected",
					w->id_text, kv->key, w->expect_seq);
		return MMIG_ECORRUPT;
	}
	rc = mmig__rec_transition_decode(kv->value, kv->value_len, &t, &err);
	if (rc != MMIG_OK) {
		w->err = mmig_error_wrap(err, "migration %s: seq %" PRIu64,
					 w->id_text, seq);
		return rc;
	}
	rc = mmig__fold_apply(w->fold, seq, &t, &err);
	if (rc == MMIG_OK && w->show)
		rc = show_add(w->show, w->id_text, seq, kv->mod_revision, &t);
	mmig__rec_transition_free(&t);
	if (rc != MMIG_OK) {
		w->err = mmig_error_wrap(err, "migration %s", w->id_text);
		return rc;
	}
	w->expect_seq++;
	return MMIG_OK;
}

struct chunks {
	uint8_t *buf;
	size_t len;
};

static int
chunk_one(void *arg, const struct mmig__etcd_kv *kv)
{
	struct chunks *c = arg;
	uint8_t *p = mmig__realloc(c->buf, c->len + kv->value_len + 1);

	if (!p)
		return MMIG_ENOMEM;
	memcpy(p + c->len, kv->value, kv->value_len);
	c->buf = p;
	c->len += kv->value_len;
	return MMIG_OK;
}

void (*mmig__etcd_read_hook)(void *arg, int64_t revision);
void *mmig__etcd_read_hook_arg;

/*
 * Read migration @p idt at one revision: header, status (its epoch set to
 * the real one), owner and claim keys, and the fold of every record.
 */
static int
load(struct ej *e, const char *idt, struct mmig_rec_header *h,
     struct mmig_rec_status *st, struct mmig_fold *fold, uint64_t *next_seq,
     struct snap *sn, struct show_buf *show, int64_t at,
     struct mmig_error **errp)
{
	char *kh = mkey(e, idt, "hdr"), *ks = mkey(e, idt, "status"),
	     *ko = mkey(e, idt, "owner"), *kc = mkey(e, idt, "claim"),
	     *kl = mkey(e, idt, "log/");
	struct mmig__etcd_txn_result r = { 0 };
	struct mmig_rec_header own = { 0 };
	struct mmig_error *err = NULL;
	const struct mmig__etcd_kv *kv;
	int rc;

	memset(sn, 0, sizeof(*sn));
	if (!h)
		h = &own;
	if (!kh || !ks || !ko || !kc || !kl) {
		rc = MMIG_ENOMEM;
		goto out;
	}
again:
	{
		struct mmig__etcd_op ops[4] = { op_range(kh), op_range(ks),
						op_range(ko), op_range(kc) };

		for (size_t i = 0; i < 4; i++)
			ops[i].range.revision = at;
		rc = read_txn(e, ops, 4, &r, &err);
	}
	if (rc != MMIG_OK)
		goto out;
	if (at)
		r.revision = at; /* the answer's header holds the newest */
	sn->rev = r.revision;
	if (mmig__etcd_read_hook)
		mmig__etcd_read_hook(mmig__etcd_read_hook_arg, sn->rev);
	if (!(kv = kv_of(&r, 0))) {
		rc = MMIG_ENOTFOUND;
		err = mmig_error_new(rc, "migration %s: not in the journal %s",
				     idt, e->where);
		goto out;
	}
	if (kv->value_len == 0) {
		/* A chunked header: its pieces, in key order, at this
		 * revision. */
		struct chunks c = { 0 };
		char *kd = mkey(e, idt, "desc/");
		struct mmig__etcd_range dr = { .key = kd,
					       .key_len = kd ? strlen(kd) : 0,
					       .prefix = true,
					       .revision = sn->rev };

		rc = kd ? MMIG_OK : MMIG_ENOMEM;
		if (rc == MMIG_OK) {
			pthread_mutex_lock(&e->lock);
			rc = mmig__etcd_get_each(e->c, &dr, 1, chunk_one, &c,
						 NULL, &err);
			pthread_mutex_unlock(&e->lock);
		}
		mmig__free(kd);
		if (rc == MMIG_OK)
			rc = mmig__rec_header_decode(c.buf ? (const void *)c.buf : "", c.len,
						     h, &err);
		mmig__free(c.buf);
		if (rc == MMIG_ECOMPACTED && !at) {
			mmig_error_free(err);
			err = NULL;
			mmig__etcd_txn_result_free(&r);
			goto again;
		}
	} else {
		rc = mmig__rec_header_decode(kv->value, kv->value_len, h, &err);
	}
	if (rc != MMIG_OK) {
		err = mmig_error_wrap(err, "migration %s: header", idt);
		goto out;
	}
	if ((kv = kv_of(&r, 2))) {
		sn->owner = true;
		sn->owner_lease = kv->lease;
		sn->owner_create = kv->create_revision;
	}
	if ((kv = kv_of(&r, 3)))
		sn->claim_mod = kv->mod_revision;
	if (st) {
		if (!(kv = kv_of(&r, 1))) {
			rc = MMIG_ECORRUPT;
			err = mmig_error_new(rc, "migration %s: no status", idt);
			goto out;
		}
		rc = mmig__rec_status_decode(kv->value, kv->value_len, st,
					     &err);
		if (rc != MMIG_OK) {
			err = mmig_error_wrap(err, "migration %s: status", idt);
			goto out;
		}
		st->epoch = (uint64_t)sn->claim_mod;
	}
	if (fold) {
		struct mmig__etcd_range lr = { .key = kl,
					       .key_len = strlen(kl),
					       .prefix = true,
					       .revision = sn->rev };
		struct fold_walk w = { .fold = fold,
				       .prefix_len = strlen(kl),
				       .id_text = idt,
				       .show = show };

		rc = mmig__fold_init(fold, h->n_ops);
		if (rc == MMIG_OK) {
			pthread_mutex_lock(&e->lock);
			rc = mmig__etcd_get_each(e->c, &lr, 512, fold_one, &w,
						 NULL, &err);
			pthread_mutex_unlock(&e->lock);
		}
		if (rc != MMIG_OK) {
			mmig__fold_free(fold);
			if (w.err) {
				mmig_error_free(err);
				err = w.err;
			}
			if (rc == MMIG_ECOMPACTED && !at) {
				/* The log is never rewritten: read again at
				 * the newest revision. */
				mmig_error_free(err);
				err = NULL;
				mmig__rec_header_free(h);
				mmig__rec_status_free(st);
				mmig__etcd_txn_result_free(&r);
				goto again;
			}
			goto out;
		}
		if (next_seq)
			*next_seq = w.expect_seq;
	}
out:
	mmig__etcd_txn_result_free(&r);
	mmig__rec_header_free(&own);
	if (rc != MMIG_OK) {
		if (h != &own)
			mmig__rec_header_free(h);
		mmig__rec_status_free(st);
		if (!err)
			err = mmig_error_new(rc, "migration %s: read: %s", idt,
					     mmig_strerror(rc));
		set_err(errp, err);
	}
	mmig__free(kh);
	mmig__free(ks);
	mmig__free(ko);
	mmig__free(kc);
	mmig__free(kl);
	return rc;
}

static int
ej_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
	struct mmig_rec_header *h, struct mmig_rec_status *st,
	struct mmig_fold *fold, uint64_t *next_seq, struct mmig_error **errp)
{
	struct snap sn;
	char idt[37];

	mmig__id_text(id, idt);
	return load(EJ(j), idt, h, st, fold, next_seq, &sn, NULL, 0, errp);
}

struct list_walk {
	uint8_t (*ids)[MMIG_ID_LEN];
	size_t n, cap;
	size_t skip;	    /* prefix length */
	const char *suffix; /* "/hdr" or "" */
};

static int
list_one(void *arg, const struct mmig__etcd_kv *kv)
{
	struct list_walk *w = arg;
	size_t sl = strlen(w->suffix);
	char idt[37];

	if (kv->key_len != w->skip + 36 + sl ||
	    memcmp(kv->key + w->skip + 36, w->suffix, sl) != 0)
		return MMIG_OK; /* another key of a migration */
	memcpy(idt, kv->key + w->skip, 36);
	idt[36] = '\0';
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		void *p = mmig__realloc(w->ids, cap * sizeof(*w->ids));

		if (!p)
			return MMIG_ENOMEM;
		w->ids = p;
		w->cap = cap;
	}
	if (mmig__id_parse(idt, w->ids[w->n]) == MMIG_OK)
		w->n++;
	return MMIG_OK;
}

/* The migrations (@p all) or those in flight, at one revision, returned in
 * *rev_out (may be NULL): the newest, read again after a compaction. */
static int
list_ids(struct ej *e, bool all, uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
	 int64_t *rev_out, struct mmig_error **errp)
{
	char *p = mmig__asprintf("%s/%s", e->prefix, all ? "m/" : "inflight/");
	struct list_walk w = { .suffix = all ? "/hdr" : "" };
	struct mmig_error *err = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!p)
		return MMIG_ENOMEM;
	w.skip = strlen(p);
	for (;;) {
		struct mmig__etcd_range r = { .key = p,
					      .key_len = strlen(p),
					      .prefix = true,
					      .keys_only = true };

		w.n = 0;
		pthread_mutex_lock(&e->lock);
		rc = mmig__etcd_get_each(e->c, &r, 512, list_one, &w, rev_out,
					 &err);
		pthread_mutex_unlock(&e->lock);
		if (rc != MMIG_ECOMPACTED)
			break;
		mmig_error_free(err);
		err = NULL;
	}
	mmig__free(p);
	if (rc != MMIG_OK) {
		mmig__free(w.ids);
		set_err(errp, err ? mmig_error_wrap(err, "journal %s: list",
						    e->where)
				  : mmig_error_new(rc, "journal %s: list: %s",
						   e->where, mmig_strerror(rc)));
		return rc;
	}
	*ids = w.ids;
	*n = w.n;
	return MMIG_OK;
}

static int
ej_list(struct mmig_journal *j, bool all, uint8_t (**ids)[MMIG_ID_LEN],
	size_t *n, struct mmig_error **errp)
{
	return list_ids(EJ(j), all, ids, n, NULL, errp);
}

/* ---- append --------------------------------------------------------------- */

/* Did the records of @p m land already?  Compares the stored values of a
 * failed txn's ranges (ops @p first.., one per staged record). */
static int
records_match(const struct mmig__jmig *m, const struct mmig__etcd_txn_result *r,
	      size_t first)
{
	size_t matched = 0;

	for (size_t i = 0; i < m->n_staged; i++) {
		const struct mmig__etcd_kv *kv = kv_of(r, first + i);

		if (!kv)
			continue;
		if (kv->value_len != m->staged[i].len ||
		    memcmp(kv->value, m->staged[i].val, kv->value_len) != 0)
			return MMIG_ECORRUPT;
		matched++;
	}
	return matched == m->n_staged ? MMIG_OK : MMIG_ENOTFOUND;
}

/*
 * A header too large for one request, in chunks before the create txn:
 * first the marker P/m/ID/creating on this session's lease (a creator is
 * alive exactly while it is), then each chunk put only if its key is new
 * (the id is new; a re-sent put that landed finds its own bytes there).
 * The create txn requires the marker on our lease and deletes it.  A
 * create that never completes leaves chunks with neither `hdr` nor a
 * marker once its lease is gone: verify reports them, prune removes them
 * (orphans_scan).
 */
static int
put_chunks(struct ej *e, const struct mmig__jmig *m, const uint8_t *hdr,
	   size_t hlen, struct mmig_error **errp)
{
	int rc = MMIG_OK;
	char *kcr = mkey(e, m->id_text, "creating");

	if (!kcr)
		return MMIG_ENOMEM;
	{
		struct mmig__etcd_op s = op_put(kcr, e->node, strlen(e->node),
						e->lease);
		struct mmig__etcd_txn_result r = { 0 };
		bool resent;

		/* A plain put: sending it again is harmless. */
		rc = write_txn(e, NULL, 0, &s, 1, NULL, 0, &r, &resent, errp);
		mmig__etcd_txn_result_free(&r);
	}
	mmig__free(kcr);

	for (size_t off = 0, i = 0; rc == MMIG_OK && off < hlen;
	     off += CHUNK_BYTES, i++) {
		size_t len = hlen - off < CHUNK_BYTES
				     ? hlen - off
				     : CHUNK_BYTES;
		char *k = mmig__asprintf("%s/m/%s/desc/%08zx", e->prefix,
					 m->id_text, i);
		struct mmig__etcd_txn_result r = { 0 };
		bool resent;

		if (!k)
			return MMIG_ENOMEM;
		{
			struct mmig__etcd_cmp c =
				cmp_num(k, MMIG__ETCD_VERSION, 0);
			struct mmig__etcd_op s = op_put(k, hdr + off,
							len, 0),
					     f = op_range(k);

			rc = write_txn(e, &c, 1, &s, 1, &f, 1, &r, &resent,
				       errp);
		}
		if (rc == MMIG_OK && !r.succeeded) {
			const struct mmig__etcd_kv *kv = kv_of(&r, 0);

			if (!kv || kv->value_len != len ||
			    memcmp(kv->value, hdr + off, len) != 0) {
				rc = MMIG_EEXIST;
				set_err(errp, mmig_error_new(
						      rc,
						      "migration %s: description "
						      "chunk %zu exists with other "
						      "bytes",
						      m->id_text, i));
			}
		}
		mmig__etcd_txn_result_free(&r);
		mmig__free(k);
	}
	return rc;
}

static int
ej_append(struct mmig__jmig *m, const uint8_t *status_val, size_t status_len,
	  enum mmig__sync sync, struct mmig_error **errp)
{
	struct ej *e = EJ(m->j);
	bool creating = m->has_header, resent = false;
	/* The header record, whole: etcd takes a value as one JSON string,
	 * so the pieces LMDB copies in place are joined here. */
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	size_t n = m->n_staged, n_s = 0, n_f = 0, n_c = 0;
	struct mmig__etcd_op *succ = NULL, *fail = NULL;
	struct mmig__etcd_cmp cmp[2];
	struct mmig__etcd_txn_result r = { 0 };
	struct mmig_error *err = NULL;
	char **lk = NULL;
	char *kh = mkey(e, m->id_text, "hdr"), *ks = mkey(e, m->id_text, "status"),
	     *ko = mkey(e, m->id_text, "owner"), *kc = mkey(e, m->id_text, "claim"),
	     *kcr = mkey(e, m->id_text, "creating"),
	     *ki = mmig__asprintf("%s/inflight/%s", e->prefix, m->id_text);
	bool final = status_val && mmig__state_is_final(m->fold.state);
	bool rests = status_val && (m->fold.state == MMIG_STATE_PAUSED ||
				    m->fold.state == MMIG_STATE_NEEDS_ATTENTION);
	int rc;

	(void)sync; /* an answered txn is on a quorum's disks */
	if (n == 0 && !status_val && !creating)
		return MMIG_OK;
	if (creating) {
		hlen = mmig__rec_header_parts_len(&m->header);
		if (!(hdr = mmig__malloc(hlen))) {
			rc = MMIG_ENOMEM;
			goto out;
		}
		mmig__rec_header_parts_copy(&m->header, hdr);
	}
	rc = lease_check(e, m->id_text, &err);
	if (rc != MMIG_OK)
		goto out;
	if (n > MAX_RECORDS_PER_TXN) {
		rc = MMIG_EINVAL;
		err = mmig_error_new(rc,
				     "migration %s: %zu records (header %zu "
				     "bytes) in one commit: more than one etcd "
				     "txn holds",
				     m->id_text, n, hlen);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (m->staged[i].len > MAX_VALUE_BYTES) {
			rc = MMIG_EINVAL;
			err = mmig_error_new(rc,
					     "migration %s: record seq %" PRIu64
					     " is %zu bytes, above etcd's "
					     "request limit",
					     m->id_text, m->staged[i].seq,
					     m->staged[i].len);
			goto out;
		}
	}
	lk = mmig__calloc(n ? n : 1, sizeof(*lk));
	succ = mmig__calloc(n + 8, sizeof(*succ));
	fail = mmig__calloc(n + 4, sizeof(*fail));
	if (!lk || !succ || !fail || !kh || !ks || !ko || !kc || !kcr || !ki) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!(lk[i] = log_key(e, m->id_text, m->staged[i].seq))) {
			rc = MMIG_ENOMEM;
			goto out;
		}
	if (creating && hlen > CHUNK_BYTES) {
		rc = put_chunks(e, m, hdr, hlen, &err);
		if (rc != MMIG_OK)
			goto out;
	}
	if (creating) {
		bool chunked = hlen > CHUNK_BYTES;

		cmp[n_c++] = cmp_num(kh, MMIG__ETCD_VERSION, 0);
		/* Chunked: only while our marker lives (a prune may have
		 * removed the chunks of a creator whose lease was gone). */
		if (chunked)
			cmp[n_c++] = cmp_num(kcr, MMIG__ETCD_LEASE, e->lease);
		succ[n_s++] = op_put(kh, chunked ? NULL : hdr,
				     chunked ? 0 : hlen, 0);
		succ[n_s++] = op_put(kc, e->node, strlen(e->node), 0);
		succ[n_s++] = op_put(ko, e->node, strlen(e->node), e->lease);
		if (!final)
			succ[n_s++] = op_put(ki, NULL, 0, 0);
		if (chunked)
			succ[n_s++] = op_delete(kcr);
		fail[n_f++] = op_range(ko);
		fail[n_f++] = op_range(kh);
	} else {
		cmp[n_c++] = cmp_num(ko, MMIG__ETCD_CREATE, (int64_t)m->epoch);
		if (n)
			cmp[n_c++] = cmp_num(lk[0], MMIG__ETCD_VERSION, 0);
		fail[n_f++] = op_range(ko);
		fail[n_f++] = op_range(ks);
	}
	for (size_t i = 0; i < n; i++) {
		succ[n_s++] = op_put(lk[i], m->staged[i].val, m->staged[i].len,
				     0);
		fail[n_f++] = op_range(lk[i]);
	}
	if (status_val)
		succ[n_s++] = op_put(ks, status_val, status_len, 0);
	if (final && !creating)
		succ[n_s++] = op_delete(ki);
	if ((final || rests) && !creating)
		succ[n_s++] = op_delete(ko);
	if (MMIG_FAULT(JOURNAL_COMMIT)) {
		/* An injected I/O error: nothing of this commit is sent. */
		rc = mmig__fault_errno();
		goto out;
	}
	rc = write_txn(e, cmp, n_c, succ, n_s, fail, n_f, &r, &resent, &err);
	if (rc != MMIG_OK) {
		err = mmig_error_wrap(err, "migration %s: append", m->id_text);
		goto out;
	}
	if (r.succeeded && MMIG_FAULT(JOURNAL_COMMITTED)) {
		rc = mmig__fault_errno(); /* committed, but reported failed */
		goto out;
	}
	if (r.succeeded) {
		if (creating) {
			m->epoch = (uint64_t)r.revision;
			m->status.epoch = m->epoch;
		}
		goto out;
	}
	if (creating) {
		const struct mmig__etcd_kv *o = kv_of(&r, 0), *h = kv_of(&r, 1);

		bool ours = h && (hlen > CHUNK_BYTES
					  ? h->value_len == 0
					  : h->value_len == hlen &&
						    memcmp(h->value,
							   hdr,
							   hlen) == 0);

		if (resent && o && o->lease == e->lease && ours) {
			/* Our first sending landed. */
			m->epoch = (uint64_t)o->create_revision;
			m->status.epoch = m->epoch;
			goto out;
		}
		if (!h) {
			/* Chunked, and our marker is gone: the lease
			 * expired while the chunks went in. */
			rc = MMIG_ELEASE;
			err = mmig_error_new(rc,
					     "migration %s: not created: the "
					     "session lease expired while its "
					     "description went in",
					     m->id_text);
			goto out;
		}
		rc = MMIG_EEXIST;
		err = mmig_error_new(rc, "migration %s: already in %s",
				     m->id_text, e->where);
		goto out;
	}
	/* Failed: fenced, or a resent append whose first sending landed. */
	{
		const struct mmig__etcd_kv *o = kv_of(&r, 0);
		int mrc = n ? records_match(m, &r, 2) : MMIG_ENOTFOUND;

		if (mrc == MMIG_OK && resent) {
			rc = MMIG_OK; /* landed: byte for byte ours */
			goto out;
		}
		if (o && o->create_revision == (int64_t)m->epoch &&
		    mrc == MMIG_ECORRUPT) {
			rc = MMIG_ECORRUPT;
			err = mmig_error_new(rc,
					     "migration %s: seq %" PRIu64
					     " holds other bytes under our "
					     "epoch %" PRIu64,
					     m->id_text, m->staged[0].seq,
					     m->epoch);
			goto out;
		}
		if (mrc == MMIG_OK && o &&
		    o->create_revision == (int64_t)m->epoch) {
			rc = MMIG_OK;
			goto out;
		}
		rc = MMIG_EFENCED;
		if (o)
			err = mmig_error_new(rc,
					     "migration %s: epoch %" PRIu64
					     " was claimed by node %s (epoch "
					     "%" PRId64 ")",
					     m->id_text, m->epoch, o->value,
					     o->create_revision);
		else
			err = mmig_error_new(rc,
					     "migration %s: epoch %" PRIu64
					     " is over: its owner key is gone "
					     "(lease expired, or claimed since)",
					     m->id_text, m->epoch);
	}
out:
	mmig__free(hdr);
	mmig__etcd_txn_result_free(&r);
	for (size_t i = 0; lk && i < n; i++)
		mmig__free(lk[i]);
	mmig__free(lk);
	mmig__free(succ);
	mmig__free(fail);
	mmig__free(kh);
	mmig__free(ks);
	mmig__free(ko);
	mmig__free(kc);
	mmig__free(kcr);
	mmig__free(ki);
	if (rc != MMIG_OK && !err)
		err = mmig_error_new(rc, "migration %s: append: %s", m->id_text,
				     mmig_strerror(rc));
	set_err(errp, err);
	return rc;
}

/* ---- claim ------------------------------------------------------------------ */

/* Take the owner key away from owner incarnation @p create (forced
 * claim, a resting migration, or this session's own undriven one). */
static int
drop_owner(struct ej *e, const char *ko, int64_t create,
	   struct mmig_error **errp)
{
	struct mmig__etcd_cmp c = cmp_num(ko, MMIG__ETCD_CREATE, create);
	struct mmig__etcd_op d = op_delete(ko);
	struct mmig__etcd_txn_result r = { 0 };
	bool resent;
	int rc = write_txn(e, &c, 1, &d, 1, NULL, 0, &r, &resent, errp);

	mmig__etcd_txn_result_free(&r);
	return rc; /* failed compare: gone already, or another owner -- the
		      claim's own compares decide */
}

static int
ej_claim(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
	 uint64_t expected_epoch, bool force, struct mmig_rec_header *h,
	 struct mmig__jmig **out, struct mmig_error **errp)
{
	struct ej *e = EJ(j);
	struct mmig_rec_status st = { 0 };
	struct mmig__etcd_txn_result r = { 0 };
	struct mmig_error *err = NULL;
	struct mmig__jmig *m;
	struct snap sn;
	uint8_t *sval = NULL;
	size_t slen = 0;
	char *ko = NULL, *kc = NULL, *ks = NULL, *kl = NULL;
	char what[400];
	bool resent;
	int rc;

	*out = NULL;
	memset(h, 0, sizeof(*h));
	m = mmig__calloc(1, sizeof(*m));
	if (!m) {
		set_err(errp, mmig_error_new(MMIG_ENOMEM, "claim: out of memory"));
		return MMIG_ENOMEM;
	}
	m->j = j;
	memcpy(m->id, id, MMIG_ID_LEN);
	mmig__id_text(id, m->id_text);
	if (e->flags & MMIG_JOURNAL_RDONLY) {
		rc = MMIG_EINVAL;
		err = mmig_error_new(rc, "journal %s is open read-only", e->where);
		goto fail;
	}
	rc = lease_check(e, m->id_text, &err);
	if (rc != MMIG_OK)
		goto fail;
	ko = mkey(e, m->id_text, "owner");
	kc = mkey(e, m->id_text, "claim");
	ks = mkey(e, m->id_text, "status");
	if (!ko || !kc || !ks) {
		rc = MMIG_ENOMEM;
		goto fail;
	}
	rc = load(e, m->id_text, h, &st, &m->fold, &m->next_seq, &sn, NULL, 0,
		  &err);
	if (rc != MMIG_OK)
		goto fail;
	if (expected_epoch && (uint64_t)sn.claim_mod != expected_epoch) {
		rc = MMIG_EFENCED;
		err = mmig_error_new(rc,
				     "migration %s: claimed by node %s (epoch "
				     "%" PRId64 ") since it was read",
				     m->id_text, st.owner.host, sn.claim_mod);
		goto fail;
	}
	if (mmig__state_is_final(m->fold.state)) {
		/* Given an epoch, the caller read it unsettled: another node
		 * settled it since (a terminal record leaves `claim` as it
		 * is), which is a lost race, not a bad request. */
		rc = expected_epoch ? MMIG_EFENCED : MMIG_EINVAL;
		err = mmig_error_new(rc, "migration %s is already %s%s",
				     m->id_text, mmig__state_name(m->fold.state),
				     expected_epoch ? " (settled by another "
						      "node since it was read)"
						    : "");
		goto fail;
	}
	if (sn.owner) {
		bool mine = e->lease && sn.owner_lease == e->lease &&
			    !mmig__driving_has(&e->driving, id);

		if (!force && !mine && !mmig__fold_rests(&m->fold)) {
			rc = MMIG_EOWNED;
			err = mmig_error_new(rc,
					     "migration %s: owner node %s is "
					     "alive (its lease is)",
					     m->id_text, st.owner.host);
			goto fail;
		}
		rc = drop_owner(e, ko, sn.owner_create, &err);
		if (rc != MMIG_OK)
			goto fail;
	}
	/* Driven from here on, so another thread here cannot take it. */
	m->active = true;
	mmig__driving_set(&e->driving, m, true);
	m->durability = (enum mmig_durability)h->durability;
	/* The new epoch is the claim txn's revision, above sn.rev: records
	 * staged before it is known carry this lower bound. */
	m->epoch = (uint64_t)sn.rev + 1;
	m->status.epoch = m->epoch;
	m->status.state = m->fold.state;
	m->status.updated_ns = mmig__now_real_ns();
	rc = mmig__owner_copy(&m->status.owner, &e->self);
	if (rc != MMIG_OK)
		goto fail;
	snprintf(what, sizeof(what), "node %s (pid %u) took over from node %s%s",
		 e->node, e->self.pid, st.owner.host ? st.owner.host : "?",
		 force ? " (forced)" : "");
	rc = mmig__jmig_stage(m, MMIG_REC_CLAIMED, -1, what, strlen(what),
			      &err);
	if (rc == MMIG_OK)
		rc = mmig__rec_status_encode(&m->status, &sval, &slen);
	if (rc != MMIG_OK)
		goto fail;
	kl = log_key(e, m->id_text, m->staged[0].seq);
	if (!kl) {
		rc = MMIG_ENOMEM;
		goto fail;
	}
	{
		struct mmig__etcd_cmp c[2] = {
			cmp_num(kc, MMIG__ETCD_MOD, sn.claim_mod),
			cmp_num(ko, MMIG__ETCD_VERSION, 0),
		};
		struct mmig__etcd_op s[4] = {
			op_put(kc, e->node, strlen(e->node), 0),
			op_put(ko, e->node, strlen(e->node), e->lease),
			op_put(kl, m->staged[0].val, m->staged[0].len, 0),
			op_put(ks, sval, slen, 0),
		};
		struct mmig__etcd_op f[2] = { op_range(ko), op_range(kc) };

		rc = write_txn(e, c, 2, s, 4, f, 2, &r, &resent, &err);
	}
	if (rc != MMIG_OK) {
		err = mmig_error_wrap(err, "migration %s: claim", m->id_text);
		goto fail;
	}
	if (r.succeeded) {
		m->epoch = (uint64_t)r.revision;
	} else {
		const struct mmig__etcd_kv *o = kv_of(&r, 0), *c = kv_of(&r, 1);

		if (resent && o && o->lease == e->lease && c &&
		    c->mod_revision == o->create_revision) {
			m->epoch = (uint64_t)o->create_revision;
		} else if (o) {
			rc = MMIG_EOWNED;
			err = mmig_error_new(rc,
					     "migration %s: owned by node %s "
					     "(epoch %" PRId64 ")",
					     m->id_text, o->value,
					     o->create_revision);
			goto fail;
		} else {
			rc = MMIG_EFENCED;
			err = mmig_error_new(rc,
					     "migration %s: another claim won "
					     "since it was read",
					     m->id_text);
			goto fail;
		}
	}
	m->status.epoch = m->epoch;
	mmig__jmig_clear_staged(m);
	m->committed_state = m->fold.state;
	*out = m;
	goto done;
fail:
	if (!err)
		err = mmig_error_new(rc, "migration %s: claim: %s", m->id_text,
				     mmig_strerror(rc));
	mmig__rec_header_free(h);
	mmig__jmig_free(m);
	set_err(errp, err);
done:
	mmig__etcd_txn_result_free(&r);
	mmig__rec_status_free(&st);
	mmig__free(sval);
	mmig__free(ko);
	mmig__free(kc);
	mmig__free(ks);
	mmig__free(kl);
	return rc;
}

/* ---- settle ----------------------------------------------------------------- */

static int
ej_sync(struct mmig_journal *j, struct mmig_error **errp)
{
	(void)j;
	(void)errp;
	return MMIG_OK; /* every answered txn is durable on a quorum */
}

struct cand {
	uint8_t id[MMIG_ID_LEN];
	uint64_t updated_ns;
	int64_t status_mod;
};

static int
newest_first(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->updated_ns < y->updated_ns   ? 1
	       : x->updated_ns > y->updated_ns ? -1
					       : 0;
}

/* ---- orphan description chunks -------------------------------------------- */

/* The description chunks of one id that has neither `hdr` nor a live
 * creator's marker: left by a create that never completed. */
struct orphan {
	char id[37];
	char **keys; /* the chunk keys, in order */
	size_t n;
};

struct orphan_walk {
	size_t skip; /* strlen("P/m/") */
	char cur[37];
	bool has_hdr, has_marker;
	char **keys;
	size_t n_keys;
	struct orphan *out;
	size_t n_out, cap_out;
	int rc;
};

static void
orphan_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mmig__free(keys[i]);
	mmig__free(keys);
}

/* The id walked so far is done: an orphan if it has chunks only. */
static int
orphan_flush(struct orphan_walk *w)
{
	if (w->n_keys && !w->has_hdr && !w->has_marker) {
		if (w->n_out == w->cap_out) {
			size_t cap = w->cap_out ? 2 * w->cap_out : 4;
			void *p = mmig__realloc(w->out, cap * sizeof(*w->out));

			if (!p)
				return MMIG_ENOMEM;
			w->out = p;
			w->cap_out = cap;
		}
		memcpy(w->out[w->n_out].id, w->cur, sizeof(w->cur));
		w->out[w->n_out].keys = w->keys;
		w->out[w->n_out++].n = w->n_keys;
	} else {
		orphan_keys_free(w->keys, w->n_keys);
	}
	w->keys = NULL;
	w->n_keys = 0;
	w->has_hdr = w->has_marker = false;
	return MMIG_OK;
}

static int
orphan_one(void *arg, const struct mmig__etcd_kv *kv)
{
	struct orphan_walk *w = arg;
	const char *rest;
	int rc;

	if (kv->key_len < w->skip + 37 || kv->key[w->skip + 36] != '/')
		return MMIG_OK; /* not a migration's key */
	if (memcmp(kv->key + w->skip, w->cur, 36) != 0) {
		if ((rc = orphan_flush(w)) != MMIG_OK)
			return rc;
		memcpy(w->cur, kv->key + w->skip, 36);
		w->cur[36] = '\0';
	}
	rest = kv->key + w->skip + 37;
	if (strcmp(rest, "hdr") == 0) {
		w->has_hdr = true;
	} else if (strcmp(rest, "creating") == 0) {
		w->has_marker = true;
	} else if (strncmp(rest, "desc/", 5) == 0) {
		void *p = mmig__realloc(w->keys,
					(w->n_keys + 1) * sizeof(*w->keys));

		if (!p)
			return MMIG_ENOMEM;
		w->keys = p;
		if (!(w->keys[w->n_keys] = mmig__strdup(kv->key)))
			return MMIG_ENOMEM;
		w->n_keys++;
	}
	return MMIG_OK;
}

static void
orphans_free(struct orphan *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		orphan_keys_free(o[i].keys, o[i].n);
	mmig__free(o);
}

/*
 * The orphan description chunks under P/m/, from one keys-only walk at one
 * revision (keys of one id are adjacent, `creating` and `desc/` before
 * `hdr`).  A creator alive right now has its marker on its lease, so its
 * chunks are never among them.
 */
static int
orphans_scan(struct ej *e, struct orphan **out, size_t *n,
	     struct mmig_error **errp)
{
	char *p = mmig__asprintf("%s/m/", e->prefix);
	struct orphan_walk w = { 0 };
	struct mmig_error *err = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!p)
		return MMIG_ENOMEM;
	w.skip = strlen(p);
	for (;;) {
		struct mmig__etcd_range r = { .key = p,
					      .key_len = strlen(p),
					      .prefix = true,
					      .keys_only = true };

		pthread_mutex_lock(&e->lock);
		rc = mmig__etcd_get_each(e->c, &r, 512, orphan_one, &w, NULL,
					 &err);
		pthread_mutex_unlock(&e->lock);
		if (rc == MMIG_OK)
			rc = orphan_flush(&w);
		if (rc != MMIG_ECOMPACTED)
			break;
		mmig_error_free(err);
		err = NULL;
		orphan_keys_free(w.keys, w.n_keys);
		orphans_free(w.out, w.n_out);
		memset(&w, 0, sizeof(w));
		w.skip = strlen(p);
	}
	mmig__free(p);
	if (rc != MMIG_OK) {
		orphan_keys_free(w.keys, w.n_keys);
		orphans_free(w.out, w.n_out);
		set_err(errp, err ? mmig_error_wrap(err, "journal %s: scan",
						    e->where)
				  : mmig_error_new(rc, "journal %s: scan: %s",
						   e->where, mmig_strerror(rc)));
		return rc;
	}
	*out = w.out;
	*n = w.n_out;
	return MMIG_OK;
}

/* Delete the chunks of orphan @p o, if it is one still: neither `hdr` nor
 * a marker appeared since the scan.  *gone tells whether they went. */
static int
orphan_delete(struct ej *e, const struct orphan *o, bool *gone,
	      struct mmig_error **errp)
{
	char *kh = mkey(e, o->id, "hdr"), *kcr = mkey(e, o->id, "creating"),
	     *kd = mkey(e, o->id, "desc/");
	struct mmig__etcd_txn_result r = { 0 };
	uint8_t end[512];
	bool resent;
	int rc;

	*gone = false;
	if (!kh || !kcr || !kd || strlen(kd) >= sizeof(end)) {
		rc = MMIG_ENOMEM;
		goto out;
	}
	{
		struct mmig__etcd_cmp cm[2] = {
			cmp_num(kh, MMIG__ETCD_VERSION, 0),
			cmp_num(kcr, MMIG__ETCD_VERSION, 0),
		};
		struct mmig__etcd_op d = {
			.kind = MMIG__ETCD_OP_DELETE,
			.range = { .key = kd,
				   .key_len = strlen(kd),
				   .end = end,
				   .end_len = mmig__etcd_prefix_end(
					   kd, strlen(kd), end) },
		};

		rc = write_txn(e, cm, 2, &d, 1, NULL, 0, &r, &resent, errp);
	}
	if (rc == MMIG_OK)
		*gone = r.succeeded || resent;
out:
	mmig__etcd_txn_result_free(&r);
	mmig__free(kh);
	mmig__free(kcr);
	mmig__free(kd);
	return rc;
}

static int
ej_prune(struct mmig_journal *j, uint64_t older_than_ns, size_t keep,
	 size_t *n_pruned, struct mmig_error **errp)
{
	struct ej *e = EJ(j);
	uint8_t(*ids)[MMIG_ID_LEN] = NULL;
	struct cand *c = NULL;
	size_t n_ids = 0, n_c = 0;
	uint64_t now = mmig__now_real_ns();
	int rc;

	*n_pruned = 0;
	if (e->flags & MMIG_JOURNAL_RDONLY) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "journal %s is open read-only",
					     e->where));
		return MMIG_EINVAL;
	}
	rc = ej_list(j, true, &ids, &n_ids, errp);
	if (rc != MMIG_OK)
		return rc;
	c = mmig__calloc(n_ids ? n_ids : 1, sizeof(*c));
	if (!c) {
		mmig__free(ids);
		return MMIG_ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct mmig__etcd_txn_result r = { 0 };
		struct mmig_rec_status st;
		const struct mmig__etcd_kv *kv;
		char idt[37], *ks;

		mmig__id_text(ids[i], idt);
		ks = mkey(e, idt, "status");
		if (!ks) {
			rc = MMIG_ENOMEM;
			break;
		}
		{
			struct mmig__etcd_op op = op_range(ks);

			rc = read_txn(e, &op, 1, &r, errp);
		}
		mmig__free(ks);
		if (rc != MMIG_OK)
			break;
		/* Unreadable status: not ours to judge. */
		if ((kv = kv_of(&r, 0)) &&
		    mmig__rec_status_decode(kv->value, kv->value_len, &st,
					    NULL) == MMIG_OK) {
			if (mmig__state_is_final(st.state)) {
				memcpy(c[n_c].id, ids[i], MMIG_ID_LEN);
				c[n_c].updated_ns = st.updated_ns;
				c[n_c++].status_mod = kv->mod_revision;
			}
			mmig__rec_status_free(&st);
		}
		mmig__etcd_txn_result_free(&r);
	}
	if (rc == MMIG_OK && n_c)
		qsort(c, n_c, sizeof(*c), newest_first);
	for (size_t i = keep; rc == MMIG_OK && i < n_c; i++) {
		struct mmig__etcd_txn_result r = { 0 };
		char idt[37], *ks, *kp;
		uint8_t end[512];
		bool resent;

		if (older_than_ns && (c[i].updated_ns > now ||
				      now - c[i].updated_ns < older_than_ns))
			continue;
		mmig__id_text(c[i].id, idt);
		ks = mkey(e, idt, "status");
		kp = mkey(e, idt, "");
		if (!ks || !kp || strlen(kp) >= sizeof(end)) {
			mmig__free(ks);
			mmig__free(kp);
			rc = MMIG_ENOMEM;
			break;
		}
		{
			struct mmig__etcd_cmp cm =
				cmp_num(ks, MMIG__ETCD_MOD, c[i].status_mod);
			struct mmig__etcd_op d = {
				.kind = MMIG__ETCD_OP_DELETE,
				.range = { .key = kp,
					   .key_len = strlen(kp),
					   .end = end,
					   .end_len = mmig__etcd_prefix_end(
						   kp, strlen(kp), end) },
			};

			rc = write_txn(e, &cm, 1, &d, 1, NULL, 0, &r, &resent,
				       errp);
		}
		if (rc == MMIG_OK && (r.succeeded || resent))
			(*n_pruned)++;
		mmig__etcd_txn_result_free(&r);
		mmig__free(ks);
		mmig__free(kp);
	}
	mmig__free(c);
	mmig__free(ids);
	/* The chunks of creates that never completed (and whose creator's
	 * lease is gone), whatever their age: each id counts as one. */
	if (rc == MMIG_OK) {
		struct orphan *o = NULL;
		size_t n_o = 0;

		rc = orphans_scan(e, &o, &n_o, errp);
		for (size_t i = 0; rc == MMIG_OK && i < n_o; i++) {
			bool gone;

			rc = orphan_delete(e, &o[i], &gone, errp);
			if (rc == MMIG_OK && gone)
				(*n_pruned)++;
		}
		orphans_free(o, n_o);
	}
	if (rc != MMIG_OK)
		*n_pruned = 0;
	return rc;
}

static void
ej_close(struct mmig_journal *j)
{
	struct ej *e = EJ(j);

	/* Revoking the lease drops this session's owner keys at once: what
	 * it still owned is claimable now, not a TTL later. */
	mmig__etcd_keeper_stop(e->keeper, true);
	mmig__etcd_close(e->c);
	pthread_mutex_destroy(&e->lock);
	mmig__driving_destroy(&e->driving);
	mmig__owner_free(&e->self);
	mmig__free(e->prefix);
	mmig__free(e->node);
	mmig__free(e->where);
	mmig__free(e);
}

const struct mmig__backend_ops mmig__etcd_backend = {
	.name = "etcd",
	.version = MMIG__BACKEND_VERSION,
	.where = ej_where,
	.session = ej_session,
	.owner_active = ej_owner_active,
	.drive = ej_drive,
	.check = ej_check,
	.admit = ej_admit,
	.claim = ej_claim,
	.append = ej_append,
	.read = ej_read,
	.list = ej_list,
	.sync = ej_sync,
	.prune = ej_prune,
	.close = ej_close,
};

/* ---- open ----------------------------------------------------------------- */

static bool
name_ok(const char *s, bool slash_ok)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f ||
		    (!slash_ok && *p == '/'))
			return false;
	return s[strlen(s) - 1] != '/';
}

/* P/format: "1", written by the first writer of an empty prefix. */
static int
check_format(struct ej *e, struct mmig_error **errp)
{
	char *k = mmig__asprintf("%s/format", e->prefix);
	struct mmig__etcd_txn_result r = { 0 };
	const struct mmig__etcd_kv *kv;
	int rc;

	if (!k)
		return MMIG_ENOMEM;
	if (e->flags & MMIG_JOURNAL_RDONLY) {
		struct mmig__etcd_op op = op_range(k);

		rc = read_txn(e, &op, 1, &r, errp);
		if (rc == MMIG_OK && !kv_of(&r, 0)) {
			rc = -ENOENT;
			set_err(errp, mmig_error_new(rc, "%s: no journal there",
						     e->where));
		}
	} else {
		struct mmig__etcd_cmp c = cmp_num(k, MMIG__ETCD_VERSION, 0);
		struct mmig__etcd_op s = op_put(k, "1", 1, 0), f = op_range(k);
		bool resent;

		rc = write_txn(e, &c, 1, &s, 1, &f, 1, &r, &resent, errp);
	}
	if (rc == MMIG_OK && !r.succeeded && (kv = kv_of(&r, 0)) &&
	    !(kv->value_len == 1 && kv->value[0] == '1')) {
		rc = MMIG_EFORMAT;
		set_err(errp, mmig_error_new(rc,
					     "%s: journal format \"%s\", this "
					     "library knows \"1\"",
					     e->where, kv->value));
	}
	mmig__etcd_txn_result_free(&r);
	mmig__free(k);
	return rc;
}

int
mmig_journal_open_etcd(struct mmig_journal **out, const char *endpoints,
		       const char *prefix, const char *node,
		       unsigned lease_ttl_s, unsigned flags,
		       struct mmig_error **errp)
{
	char host[256];
	struct ej *e;
	struct mmig_error *err = NULL;
	int rc;

	if (errp)
		*errp = NULL;
	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	if (!node || !*node) {
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		node = host;
	}
	if (!endpoints || !name_ok(prefix, true) || !name_ok(node, false) ||
	    lease_ttl_s > 3600 || (flags & ~MMIG_JOURNAL_RDONLY)) {
		rc = MMIG_EINVAL;
		set_err(errp, mmig_error_new(rc,
					     "etcd journal: bad %s (endpoints "
					     "\"%s\", prefix \"%s\", node \"%s\", "
					     "lease TTL %u s)",
					     !endpoints		     ? "endpoints"
					     : !name_ok(prefix, true) ? "prefix"
					     : !name_ok(node, false)  ? "node name"
					     : lease_ttl_s > 3600     ? "lease TTL"
								      : "flags",
					     endpoints ? endpoints : "",
					     prefix ? prefix : "", node,
					     lease_ttl_s));
		return rc;
	}
	if (!lease_ttl_s)
		lease_ttl_s = MMIG_ETCD_LEASE_TTL_DEFAULT;
	e = mmig__calloc(1, sizeof(*e));
	if (!e)
		return MMIG_ENOMEM;
	e->ops = &mmig__etcd_backend;
	e->flags = flags;
	pthread_mutex_init(&e->lock, NULL);
	mmig__driving_init(&e->driving);
	e->prefix = mmig__strdup(prefix);
	e->node = mmig__strdup(node);
	e->where = mmig__asprintf("etcd://%s/%s", endpoints, prefix);
	if (!e->prefix || !e->node || !e->where) {
		rc = MMIG_ENOMEM;
		goto fail;
	}
	rc = mmig__owner_self(&e->self);
	if (rc == MMIG_OK) {
		mmig__free(e->self.host);
		e->self.host = mmig__strdup(node);
		if (!e->self.host)
			rc = MMIG_ENOMEM;
	}
	if (rc != MMIG_OK)
		goto fail;
	rc = mmig__etcd_open(&e->c, endpoints, NULL, &err);
	if (rc != MMIG_OK)
		goto fail;
	rc = check_format(e, &err);
	if (rc != MMIG_OK)
		goto fail;
	if (!(flags & MMIG_JOURNAL_RDONLY)) {
		char *k, *v;
		bool resent;

		rc = mmig__etcd_keeper_start(&e->keeper, e->c,
					     (int64_t)lease_ttl_s, 0, &err);
		if (rc != MMIG_OK)
			goto fail;
		e->lease = mmig__etcd_keeper_id(e->keeper);
		k = mmig__asprintf("%s/session/%s/%016" PRIx64, prefix, node,
				   (uint64_t)e->lease);
		v = mmig__asprintf("node %s pid %u", node, e->self.pid);
		if (!k || !v) {
			mmig__free(k);
			mmig__free(v);
			rc = MMIG_ENOMEM;
			goto fail;
		}
		{
			struct mmig__etcd_op s =
				op_put(k, v, strlen(v), e->lease);
			struct mmig__etcd_txn_result r = { 0 };

			rc = write_txn(e, NULL, 0, &s, 1, NULL, 0, &r, &resent,
				       &err);
			mmig__etcd_txn_result_free(&r);
		}
		mmig__free(k);
		mmig__free(v);
		if (rc != MMIG_OK)
			goto fail;
	}
	*out = (struct mmig_journal *)(void *)e;
	return MMIG_OK;
fail:
	if (!err)
		err = mmig_error_new(rc, "%s: %s", e->where ? e->where : "etcd",
				     mmig_strerror(rc));
	else
		err = mmig_error_wrap(err, "open journal %s",
				      e->where ? e->where : "etcd");
	ej_close((struct mmig_journal *)(void *)e);
	set_err(errp, err);
	return rc;
}

/*
 * "etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?node=NAME&lease-ttl=SECONDS]".
 */
int
mmig__etcd_journal_open_uri(struct mmig_journal **out, const char *uri,
			    unsigned flags, struct mmig_error **errp)
{
	const char *p = uri + strlen(MMIG_ETCD_SCHEME), *slash, *q;
	char *eps = NULL, *prefix = NULL, *node = NULL;
	unsigned ttl = 0;
	int rc = MMIG_OK;

	slash = strchr(p, '/');
	if (!slash || slash == p || !slash[1]) {
		set_err(errp, mmig_error_new(MMIG_EINVAL,
					     "%s: expected etcd://HOST:PORT[,"
					     "HOST:PORT...]/PREFIX",
					     uri));
		return MMIG_EINVAL;
	}
	q = strchr(slash, '?');
	eps = mmig__asprintf("%.*s", (int)(slash - p), p);
	prefix = q ? mmig__asprintf("%.*s", (int)(q - slash - 1), slash + 1)
		   : mmig__strdup(slash + 1);
	if (!eps || !prefix)
		rc = MMIG_ENOMEM;
	for (const char *a = q ? q + 1 : NULL; rc == MMIG_OK && a && *a;) {
		size_t len = strcspn(a, "&");

		if (strncmp(a, "node=", 5) == 0 && len > 5) {
			mmig__free(node);
			node = mmig__asprintf("%.*s", (int)(len - 5), a + 5);
			if (!node)
				rc = MMIG_ENOMEM;
		} else if (strncmp(a, "lease-ttl=", 10) == 0 && len > 10 &&
			   len < 15 && strspn(a + 10, "0123456789") == len - 10) {
			ttl = (unsigned)strtoul(a + 10, NULL, 10);
		} else {
			rc = MMIG_EINVAL;
			set_err(errp, mmig_error_new(rc,
						     "%s: unknown parameter "
						     "\"%.*s\" (node=NAME, "
						     "lease-ttl=SECONDS)",
						     uri, (int)len, a));
		}
		a += len;
		if (*a == '&')
			a++;
	}
	if (rc == MMIG_OK)
		rc = mmig_journal_open_etcd(out, eps, prefix, node, ttl, flags,
					    errp);
	mmig__free(eps);
	mmig__free(prefix);
	mmig__free(node);
	return rc;
}

/* ---- public readers on any backend (read.c dispatches here for etcd) ---- */

static void
info_of(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
	struct mmig_migration_info *info)
{
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	struct mmig_fold fold = { 0 };
	struct mmig_error *err = NULL;
	int rc;

	mmig__info_begin(info, id);
	rc = mmig__journal_read(j, id, &h, &st, &fold, NULL, &err);
	if (rc == MMIG_OK) {
		mmig__info_header(info, &h);
		mmig__info_status(j, info, id, &st, fold.state);
		mmig__info_fold(info, &fold);
		mmig__fold_free(&fold);
	} else {
		mmig__info_problem(info, rc, err);
	}
	mmig_error_free(err);
	mmig__rec_header_free(&h);
	mmig__rec_status_free(&st);
}

int
mmig__front_list_info(struct mmig_journal *j, bool all,
		      struct mmig_migration_info **out, size_t *n,
		      struct mmig_error **errp)
{
	uint8_t(*ids)[MMIG_ID_LEN] = NULL;
	size_t n_ids = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = mmig__journal_list(j, all, &ids, &n_ids, errp);
	if (rc != MMIG_OK)
		return rc;
	*out = mmig__calloc(n_ids ? n_ids : 1, sizeof(**out));
	if (!*out) {
		mmig__free(ids);
		set_err(errp, mmig_error_new(MMIG_ENOMEM, "list: out of memory"));
		return MMIG_ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++)
		info_of(j, ids[i], &(*out)[i]);
	*n = n_ids;
	mmig__free(ids);
	return MMIG_OK;
}

int
mmig__front_get_info(struct mmig_journal *j, const char *id_text,
		     struct mmig_migration_info *out, struct mmig_error **errp)
{
	uint8_t id[MMIG_ID_LEN], (*ids)[MMIG_ID_LEN] = NULL;
	size_t n_ids = 0, found = 0, len = strlen(id_text);
	int rc = MMIG_OK;

	if (mmig__id_parse(id_text, id) != MMIG_OK) {
		rc = len == 0 || len > 36
			     ? MMIG_ENOTFOUND
			     : mmig__journal_list(j, true, &ids, &n_ids, errp);
		if (rc != MMIG_OK && rc != MMIG_ENOTFOUND)
			return rc;
		for (size_t i = 0; rc == MMIG_OK && i < n_ids; i++) {
			char t[37];

			mmig__id_text(ids[i], t);
			if (strncmp(t, id_text, len) == 0 && found++ == 0)
				memcpy(id, ids[i], MMIG_ID_LEN);
		}
		mmig__free(ids);
		if (rc == MMIG_OK)
			rc = found == 1 ? MMIG_OK
			     : found	? MMIG_EINVAL
					: MMIG_ENOTFOUND;
	}
	if (rc == MMIG_OK) {
		struct mmig_rec_header h = { 0 };

		rc = mmig__journal_read(j, id, &h, NULL, NULL, NULL, NULL);
		mmig__rec_header_free(&h);
	}
	if (rc != MMIG_OK) {
		set_err(errp, mmig_error_new(rc, "migration %s: %s", id_text,
					     rc == MMIG_EINVAL
						     ? "prefix matches more than "
						       "one migration"
					     : rc == MMIG_ENOTFOUND
						     ? "not in the journal"
						     : mmig_strerror(rc)));
		return rc;
	}
	info_of(j, id, out);
	return MMIG_OK;
}

int
mmig__etcd_show(struct mmig_journal *j, const char *id_text, FILE *out,
		struct mmig_error **errp)
{
	struct mmig_migration_info info = { .size = sizeof(info) };
	struct mmig_rec_header h = { 0 };
	struct mmig_rec_status st = { 0 };
	struct mmig_fold fold = { 0 };
	struct show_buf b = { 0 };
	struct snap sn;
	char idt[37];
	int rc;

	/* The id, or a unique prefix of one, resolved as `get` does. */
	rc = mmig__front_get_info(j, id_text, &info, errp);
	if (rc != MMIG_OK)
		return rc;
	memcpy(idt, info.id, sizeof(idt));
	mmig_migration_info_clear(&info);
	rc = load(EJ(j), idt, &h, &st, &fold, NULL, &sn, &b, 0, errp);
	if (rc != MMIG_OK) {
		mmig__free(b.text);
		return rc;
	}
	rc = mmig__show_header(out, &h, &st, idt);
	if (rc == MMIG_OK && b.len)
		fputs(b.text, out);
	mmig__fold_free(&fold);
	mmig__rec_header_free(&h);
	mmig__rec_status_free(&st);
	mmig__free(b.text);
	return rc;
}

/*
 * Every migration at revision @p at into @p out (a memory stream): as
 * show, a migration that cannot be read gets a "corrupt" line and the
 * others are still printed.  MMIG_ECOMPACTED when @p at was compacted
 * meanwhile (the caller starts again); else MMIG_OK or the first
 * migration's error, in *first / *first_err.
 */
static int
dump_at(struct ej *e, const uint8_t (*ids)[MMIG_ID_LEN], size_t n_ids,
	int64_t at, FILE *out, int *first, struct mmig_error **first_err)
{
	for (size_t i = 0; i < n_ids; i++) {
		struct mmig_rec_header h = { 0 };
		struct mmig_rec_status st = { 0 };
		struct mmig_fold fold = { 0 };
		struct show_buf b = { 0 };
		struct mmig_error *err = NULL;
		struct snap sn;
		char idt[37];
		int rc;

		mmig__id_text(ids[i], idt);
		rc = load(e, idt, &h, &st, &fold, NULL, &sn, &b, at, &err);
		if (rc == MMIG_ECOMPACTED) {
			mmig__free(b.text);
			mmig_error_free(err);
			return rc;
		}
		if (rc == MMIG_OK) {
			rc = mmig__show_header(out, &h, &st, idt);
			if (rc == MMIG_OK && b.len)
				fputs(b.text, out);
			mmig__fold_free(&fold);
			mmig__rec_header_free(&h);
			mmig__rec_status_free(&st);
		} else {
			fprintf(out,
				"{\"record\":\"corrupt\",\"id\":\"%s\","
				"\"what\":\"%s\"}\n",
				idt, rc == MMIG_EILLEGAL ? "chain" : "record");
		}
		mmig__free(b.text);
		if (rc != MMIG_OK && *first == MMIG_OK) {
			*first = rc;
			*first_err = err;
			err = NULL;
		}
		mmig_error_free(err);
	}
	return MMIG_OK;
}

int
mmig__etcd_dump(struct mmig_journal *j, FILE *out, struct mmig_error **errp)
{
	struct ej *e = EJ(j);
	int rc;

	for (;;) {
		uint8_t(*ids)[MMIG_ID_LEN] = NULL;
		size_t n_ids = 0, len = 0;
		int64_t at = 0;
		char *buf = NULL;
		FILE *mem;
		int first = MMIG_OK;
		struct mmig_error *first_err = NULL;

		rc = list_ids(e, true, &ids, &n_ids, &at, errp);
		if (rc != MMIG_OK)
			return rc;
		/* Kept until every migration was read at @p at: a compaction
		 * of @p at meanwhile starts the dump again, so what is printed
		 * is always one revision's. */
		mem = open_memstream(&buf, &len);
		if (!mem) {
			mmig__free(ids);
			set_err(errp, mmig_error_new(MMIG_ENOMEM,
						     "journal %s: dump: out of "
						     "memory", e->where));
			return MMIG_ENOMEM;
		}
		rc = dump_at(e, (const uint8_t(*)[MMIG_ID_LEN])ids, n_ids, at,
			     mem, &first, &first_err);
		mmig__free(ids);
		if (fclose(mem) != 0 && rc == MMIG_OK)
			rc = MMIG_ENOMEM;
		if (rc == MMIG_ECOMPACTED) {
			mmig_error_free(first_err);
			free(buf); /* open_memstream allocates with malloc */
			continue;
		}
		if (rc == MMIG_OK && len && fwrite(buf, 1, len, out) != len)
			rc = MMIG_EJOURNAL;
		free(buf);
		if (rc != MMIG_OK) {
			mmig_error_free(first_err);
			set_err(errp, mmig_error_new(rc, "journal %s: dump: %s",
						     e->where,
						     rc == MMIG_ENOMEM
							     ? "out of memory"
							     : "cannot write"));
			return rc;
		}
		if (first != MMIG_OK)
			set_err(errp, first_err);
		else
			mmig_error_free(first_err);
		return first;
	}
}

int
mmig__front_unsupported(struct mmig_journal *j, const char *what,
			struct mmig_error **errp)
{
	const struct mmig__backend_ops *ops = mmig__journal_ops(j);

	set_err(errp, mmig_error_new(MMIG_ENOTIMPL,
				     "journal %s: %s is not built for the %s "
				     "backend",
				     ops->where(j), what, ops->name));
	return MMIG_ENOTIMPL;
}

static void
problem(void (*report)(void *, const char *), void *arg, size_t *n,
	const char *msg)
{
	(*n)++;
	if (report)
		report(arg, msg);
}

int
mmig__front_verify(struct mmig_journal *j,
		   void (*report)(void *arg, const char *msg), void *arg,
		   size_t *n_problems, struct mmig_error **errp)
{
	uint8_t(*all)[MMIG_ID_LEN] = NULL, (*fl)[MMIG_ID_LEN] = NULL;
	size_t n_all = 0, n_fl = 0;
	int rc;

	*n_problems = 0;
	rc = mmig__journal_list(j, true, &all, &n_all, errp);
	if (rc == MMIG_OK)
		rc = mmig__journal_list(j, false, &fl, &n_fl, errp);
	for (size_t i = 0; rc == MMIG_OK && i < n_all; i++) {
		struct mmig_rec_header h = { 0 };
		struct mmig_rec_status st = { 0 };
		struct mmig_fold fold = { 0 };
		struct mmig_error *err = NULL;
		bool listed = false;
		char idt[37];
		int rrc;

		mmig__id_text(all[i], idt);
		for (size_t k = 0; k < n_fl && !listed; k++)
			listed = memcmp(fl[k], all[i], MMIG_ID_LEN) == 0;
		rrc = mmig__journal_read(j, all[i], &h, &st, &fold, NULL, &err);
		if (rrc != MMIG_OK) {
			problem(report, arg, n_problems,
				err ? mmig_error_message(err)
				    : mmig_strerror(rrc));
		} else if (listed == mmig__state_is_final(fold.state)) {
			char *msg = mmig__asprintf(
				"migration %s: %s but %s the in-flight index",
				idt, mmig__state_name(fold.state),
				listed ? "in" : "not in");

			problem(report, arg, n_problems,
				msg ? msg : "in-flight index wrong");
			mmig__free(msg);
		}
		if (rrc == MMIG_OK)
			mmig__fold_free(&fold);
		mmig_error_free(err);
		mmig__rec_header_free(&h);
		mmig__rec_status_free(&st);
	}
	/* An in-flight entry without a migration. */
	for (size_t k = 0; rc == MMIG_OK && k < n_fl; k++) {
		bool found = false;

		for (size_t i = 0; i < n_all && !found; i++)
			found = memcmp(fl[k], all[i], MMIG_ID_LEN) == 0;
		if (!found) {
			char idt[37], *msg;

			mmig__id_text(fl[k], idt);
			msg = mmig__asprintf("in-flight entry %s: no migration",
					     idt);
			problem(report, arg, n_problems,
				msg ? msg : "orphan in-flight entry");
			mmig__free(msg);
		}
	}
	mmig__free(all);
	mmig__free(fl);
	/* Description chunks of a create that never completed. */
	if (rc == MMIG_OK && mmig__journal_ops(j) == &mmig__etcd_backend) {
		struct orphan *o = NULL;
		size_t n_o = 0;

		rc = orphans_scan(EJ(j), &o, &n_o, errp);
		for (size_t i = 0; rc == MMIG_OK && i < n_o; i++) {
			for (size_t k = 0; k < o[i].n; k++) {
				char *msg = mmig__asprintf(
					"description chunk %s: no migration "
					"%s (a create that never completed; "
					"prune removes it)",
					o[i].keys[k], o[i].id);

				problem(report, arg, n_problems,
					msg ? msg : "orphan description chunk");
				mmig__free(msg);
			}
		}
		orphans_free(o, n_o);
	}
	return rc;
}
