/*
 * journal/etcd.h - a client of etcd v3 through its HTTP/JSON gateway
 * (private; the etcd journal backend is built on it).
 *
 * etcd 3.4 (Debian 12's etcd-server) serves the gateway under /v3/ (and
 * still /v3beta/); 3.5 and later serve only /v3/, so /v3/ is what we use.
 * Keys and values are bytes, base64 in the JSON; 64-bit numbers travel as
 * JSON strings.  Transport is libcurl, JSON is jansson, base64 is
 * libcrypto's EVP_EncodeBlock/EVP_DecodeBlock.
 *
 * Errors.  Every call returns MMIG_OK or a negative code and, when @p errp
 * is not NULL, a message naming the operation and the endpoint.  Two codes
 * tell a writer what it must know after a failure:
 *   MMIG_EUNREACHABLE  nothing was applied: no endpoint could be connected
 *                      to, or etcd refused the request before proposing it
 *                      (no leader, too many requests, proposal dropped).
 *                      Safe to retry as it is.
 *   MMIG_EUNKNOWN      a write was sent and no answer came back (timeout,
 *                      connection lost, etcd's own "request timed out"):
 *                      it may be applied now or later.  A caller learns
 *                      the outcome only by re-issuing the same conditional
 *                      txn (see docs/etcd-backend.md), never by reading
 *                      once and concluding "not applied": a proposal can
 *                      still commit after the answer was lost.
 * Reads (range, txns with no put/delete, lease queries) change nothing, so
 * they are retried across endpoints, and fail with MMIG_EUNREACHABLE only
 * once the retry budget is spent.  Other codes: MMIG_ECOMPACTED (a range
 * at a revision etcd has compacted), MMIG_ELEASE (the lease does not exist
 * any more: expired or revoked), MMIG_EINVAL (etcd refused the request as
 * malformed, or a bad endpoint list), MMIG_EJOURNAL (any other etcd error,
 * or an answer that is not what the gateway sends), MMIG_ENOMEM.
 *
 * Failover.  The client talks to one endpoint at a time; when it cannot be
 * connected to, or refuses before applying, the next one in the list is
 * tried, and becomes the current one for the calls that follow.
 *
 * Threads.  A client is used by one thread at a time.  A lease keeper
 * (below) runs its own thread with its own client.  curl's global state is
 * set up once, on first open; the library never tears it down.
 */
#ifndef MMIG_ETCD_H
#define MMIG_ETCD_H

#include "mmig/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mmig__etcd;

struct mmig__etcd_opts {
	/* Per attempt: time to connect to one endpoint.  0: 500 ms. */
	unsigned connect_timeout_ms;
	/* Per attempt: the whole HTTP exchange.  0: 3000 ms.  etcd itself
	 * gives up on a proposal after 5 s + 2 election timeouts, so a
	 * write that times out here may still commit later. */
	unsigned request_timeout_ms;
	/* How long one call keeps retrying what is safe to retry (reads;
	 * writes refused before they were applied), across endpoints and
	 * leader elections.  0: 5000 ms. */
	unsigned retry_budget_ms;
};

/*
 * Open a client for @p endpoints, "HOST:PORT[,HOST:PORT...]" (an
 * "http://" before each is accepted; IPv6 hosts in brackets; at most 16).
 * Nothing is sent: an unreachable cluster shows at the first call.
 * @p opts may be NULL (defaults).
 * @return MMIG_OK; MMIG_EINVAL (bad list: names the bad entry),
 * MMIG_ENOMEM, MMIG_EJOURNAL (libcurl could not be set up).
 */
int mmig__etcd_open(struct mmig__etcd **out, const char *endpoints,
		    const struct mmig__etcd_opts *opts,
		    struct mmig_error **errp);
/* NULL is a no-op. */
void mmig__etcd_close(struct mmig__etcd *c);
/* The endpoint the next call tries first ("HOST:PORT"), owned by @p c. */
const char *mmig__etcd_endpoint(const struct mmig__etcd *c);
/* The endpoint list as given to open, owned by @p c. */
const char *mmig__etcd_endpoints(const struct mmig__etcd *c);

/* One key-value pair as etcd returns it.  key and value are followed by a
 * NUL that the lengths do not count, so text can be read as a string. */
struct mmig__etcd_kv {
	char *key;
	size_t key_len;
	char *value; /* "" (not NULL) when keys-only or empty */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease; /* 0: none */
};

/*
 * Which keys a range (or a txn's range or delete) covers.
 *   end == NULL, !prefix   the one key
 *   prefix                 every key starting with key
 *   end != NULL            [key, end); end = "\0" (one zero byte): every
 *                          key >= key
 */
struct mmig__etcd_range {
	const void *key;
	size_t key_len;
	const void *end;
	size_t end_len;
	bool prefix;
	int64_t limit;	  /* 0: no limit */
	int64_t revision; /* 0: the newest */
	bool keys_only;
	bool count_only;
};

struct mmig__etcd_range_result {
	int64_t revision; /* the store's revision the read saw (header) */
	struct mmig__etcd_kv *kvs; /* in key order */
	size_t n;
	bool more;     /* limit cut the answer short */
	int64_t count; /* keys in the range, limit or not */
};

void mmig__etcd_range_result_free(struct mmig__etcd_range_result *r);

/*
 * Read a range (linearizable: served through the leader's read index).
 * @p out is filled on success and must be freed with
 * mmig__etcd_range_result_free(); it is zeroed on failure.
 * @return MMIG_OK, MMIG_ECOMPACTED (@p r->revision is older than the
 * compacted revision), MMIG_EUNREACHABLE, MMIG_EINVAL (e.g. a future
 * revision), MMIG_EJOURNAL, MMIG_ENOMEM.
 */
int mmig__etcd_get(struct mmig__etcd *c, const struct mmig__etcd_range *r,
		   struct mmig__etcd_range_result *out,
		   struct mmig_error **errp);

/*
 * Read a range page by page (@p page keys per request; 0: 512), every
 * page at one revision -- @p r->revision, or the first page's -- so the
 * whole listing is one consistent snapshot.  @p fn is called for each
 * pair in key order; a non-zero return stops the walk and is returned.
 * @p rev_out (may be NULL) gets the revision read.  r->limit caps the
 * total number of pairs (0: all).
 * @return as mmig__etcd_get(); MMIG_ECOMPACTED when the snapshot's
 * revision was compacted during the walk (start again at the newest).
 */
int mmig__etcd_get_each(struct mmig__etcd *c, const struct mmig__etcd_range *r,
			size_t page,
			int (*fn)(void *arg, const struct mmig__etcd_kv *kv),
			void *arg, int64_t *rev_out, struct mmig_error **errp);

/*
 * Put one key, attached to @p lease (0: none).  @p rev_out (may be NULL)
 * gets the revision of the write.
 * @return MMIG_OK, MMIG_ELEASE (no such lease), MMIG_EUNREACHABLE (not
 * applied), MMIG_EUNKNOWN, MMIG_EINVAL, MMIG_EJOURNAL, MMIG_ENOMEM.
 */
int mmig__etcd_put(struct mmig__etcd *c, const void *key, size_t key_len,
		   const void *value, size_t value_len, int64_t lease,
		   int64_t *rev_out, struct mmig_error **errp);

/*
 * Delete the keys of @p r (its limit, revision, keys_only are ignored).
 * @p deleted_out (may be NULL) gets how many keys went.
 * @return as mmig__etcd_put(), without MMIG_ELEASE.
 */
int mmig__etcd_delete(struct mmig__etcd *c, const struct mmig__etcd_range *r,
		      int64_t *deleted_out, struct mmig_error **errp);

enum mmig__etcd_target {
	MMIG__ETCD_VERSION, /* the key's version: 0 when absent */
	MMIG__ETCD_CREATE,  /* create_revision: 0 when absent */
	MMIG__ETCD_MOD,	    /* mod_revision: 0 when absent */
	MMIG__ETCD_VALUE,   /* the value's bytes */
	MMIG__ETCD_LEASE,   /* the lease the key is attached to, 0: none */
};

enum mmig__etcd_result {
	MMIG__ETCD_EQUAL,
	MMIG__ETCD_GREATER,
	MMIG__ETCD_LESS,
	MMIG__ETCD_NOT_EQUAL,
};

/* "target(key) result operand": e.g. CREATE(owner) EQUAL 42. */
struct mmig__etcd_cmp {
	const void *key;
	size_t key_len;
	enum mmig__etcd_target target;
	enum mmig__etcd_result result;
	int64_t number;	   /* VERSION, CREATE, MOD, LEASE */
	const void *value; /* VALUE */
	size_t value_len;
};

enum mmig__etcd_op_kind {
	MMIG__ETCD_OP_RANGE,
	MMIG__ETCD_OP_PUT,
	MMIG__ETCD_OP_DELETE,
};

/* One request inside a txn.  RANGE and DELETE use range; PUT uses
 * range.key, value and lease. */
struct mmig__etcd_op {
	enum mmig__etcd_op_kind kind;
	struct mmig__etcd_range range;
	const void *value;
	size_t value_len;
	int64_t lease;
};

/* What one op of the branch that ran returned. */
struct mmig__etcd_op_result {
	enum mmig__etcd_op_kind kind;
	struct mmig__etcd_range_result range; /* RANGE */
	int64_t deleted;		      /* DELETE */
};

struct mmig__etcd_txn_result {
	bool succeeded;	  /* every compare held: the success ops ran */
	int64_t revision; /* the store's revision after the txn */
	struct mmig__etcd_op_result *results; /* one per op that ran */
	size_t n;
};

void mmig__etcd_txn_result_free(struct mmig__etcd_txn_result *r);

/*
 * If every compare of @p cmp holds, run @p success, else @p failure, as
 * one atomic step.  A txn whose ops are all RANGE is a read (retried like
 * one); any PUT or DELETE makes it a write, whose lost answer is
 * MMIG_EUNKNOWN.  @p out is zeroed on failure, else freed by the caller.
 * @return MMIG_OK (whichever branch ran: see out->succeeded),
 * MMIG_ELEASE (a put names a lease that does not exist), MMIG_ECOMPACTED,
 * MMIG_EUNREACHABLE, MMIG_EUNKNOWN, MMIG_EINVAL (e.g. a key written twice
 * in one branch), MMIG_EJOURNAL, MMIG_ENOMEM.
 */
int mmig__etcd_txn(struct mmig__etcd *c, const struct mmig__etcd_cmp *cmp,
		   size_t n_cmp, const struct mmig__etcd_op *success,
		   size_t n_success, const struct mmig__etcd_op *failure,
		   size_t n_failure, struct mmig__etcd_txn_result *out,
		   struct mmig_error **errp);

/*
 * Compact the history up to @p revision (older revisions become
 * unreadable).  Compacting at or below what is already compacted is not
 * an error, so a lost answer is simply retried.
 * @return MMIG_OK, MMIG_EINVAL (a future revision), MMIG_EUNREACHABLE,
 * MMIG_EJOURNAL.
 */
int mmig__etcd_compact(struct mmig__etcd *c, int64_t revision,
		       struct mmig_error **errp);

/*
 * Leases, one request each.  A grant whose answer is lost leaves, at
 * worst, a lease that nobody keeps alive and that expires after its TTL,
 * so grants are retried like reads.
 *   grant:     a new lease of @p ttl_s seconds (etcd may raise a small
 *              TTL to its minimum); @p id_out, @p ttl_out (may be NULL).
 *   keepalive: renew once; @p ttl_out gets the TTL granted anew.
 *              MMIG_ELEASE when the lease is gone.
 *   revoke:    end it now, deleting its keys; a lease already gone is
 *              MMIG_ELEASE.
 *   ttl:       seconds left (@p left_out) and granted (@p granted_out,
 *              may be NULL); MMIG_ELEASE when gone.
 */
int mmig__etcd_lease_grant(struct mmig__etcd *c, int64_t ttl_s, int64_t *id_out,
			   int64_t *ttl_out, struct mmig_error **errp);
int mmig__etcd_lease_keepalive(struct mmig__etcd *c, int64_t id,
			       int64_t *ttl_out, struct mmig_error **errp);
int mmig__etcd_lease_revoke(struct mmig__etcd *c, int64_t id,
			    struct mmig_error **errp);
int mmig__etcd_lease_ttl(struct mmig__etcd *c, int64_t id, int64_t *left_out,
			 int64_t *granted_out, struct mmig_error **errp);

/*
 * A lease kept alive by a thread of its own, and the deadline before which
 * it is certainly alive.
 *
 * The keeper renews every third of the TTL (and retries sooner after a
 * failure).  Each renewal that etcd answers moves the deadline to the
 * instant the request was *sent* plus the TTL it granted: etcd counts the
 * TTL from when it received the request, later than we sent it, so the
 * deadline is never later than the real expiry (clock rates aside, which
 * the margin covers; a leader change only extends leases).  An owner asks
 * mmig__etcd_keeper_check() before every step and every commit and stops
 * when it fails: then it has stopped at least @p margin before anyone
 * else could see the lease expire.
 */
struct mmig__etcd_keeper;

/*
 * Grant a lease of @p ttl_s seconds through a client of its own on the
 * same endpoints as @p c, and start renewing it.  @p margin_ms: how long
 * before the deadline check() starts failing (0: a quarter of the TTL).
 * @return as mmig__etcd_lease_grant(); MMIG_EINVAL when the margin is
 * not below the TTL; -errno when the thread cannot start.
 */
int mmig__etcd_keeper_start(struct mmig__etcd_keeper **out,
			    struct mmig__etcd *c, int64_t ttl_s,
			    unsigned margin_ms, struct mmig_error **errp);
int64_t mmig__etcd_keeper_id(const struct mmig__etcd_keeper *k);
/* The TTL etcd granted, in seconds. */
int64_t mmig__etcd_keeper_ttl(const struct mmig__etcd_keeper *k);
/* The deadline, in mmig__now_mono_ns() nanoseconds. */
uint64_t mmig__etcd_keeper_deadline_ns(const struct mmig__etcd_keeper *k);
/*
 * MMIG_OK while now + margin is before the deadline; else MMIG_ELEASE,
 * with the reason (the last renewal's error, or the lease found gone).
 * Once it has failed it fails for good.  Thread-safe.
 */
int mmig__etcd_keeper_check(struct mmig__etcd_keeper *k,
			    struct mmig_error **errp);
/* Stop renewing; with @p revoke, also revoke the lease (best effort: on
 * failure it expires by itself).  NULL is a no-op. */
void mmig__etcd_keeper_stop(struct mmig__etcd_keeper *k, bool revoke);

/* The smallest key after every key starting with @p prefix, into @p out
 * (at least @p len bytes); @return its length.  All-0xff prefixes give
 * "\0" (length 1): every key >= the prefix. */
size_t mmig__etcd_prefix_end(const void *prefix, size_t len, uint8_t *out);

#endif
