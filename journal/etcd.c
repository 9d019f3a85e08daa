/*
 * journal/etcd.c - etcd v3 over its HTTP/JSON gateway: kv range, put,
 * delete, txn, compaction, leases, and a lease keeper thread.
 *
 * Every call is one POST of a JSON body to http://ENDPOINT/v3/<path> and
 * one JSON answer.  What matters most is what a failure means:
 *
 *  - Not sent: libcurl could not connect (refused, unreachable, connect
 *    timeout), or it had not written a byte of the request
 *    (CURLINFO_REQUEST_SIZE is 0).  Nothing can have been applied; the next
 *    endpoint is tried.
 *  - Refused before proposing: etcd answered "no leader", "too many
 *    requests" or "raft proposal dropped".  Nothing was applied either.
 *  - Anything else after the request left -- a timeout, a connection cut,
 *    etcd's "request timed out" or "leader changed" -- leaves a write's
 *    outcome unknown (MMIG_EUNKNOWN), and is not retried here: only the
 *    caller knows how to re-ask the question safely (re-issue its
 *    conditional txn).  Reads change nothing and are retried.
 *
 * Attempts go round the endpoint list, starting at the current one, with a
 * short growing pause after each full round, until the retry budget is
 * spent.  An endpoint that answered becomes the current one.
 *
 * gRPC errors come back as a non-200 status and a body
 * {"error": TEXT, "message": TEXT, "code": GRPC_CODE}; answers omit fields
 * that hold their default (false, 0, empty), so a missing field reads as
 * its default here too.
 */
#include "etcd.h"
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ENDPOINTS 16
#define MAX_BODY ((size_t)256 << 20) /* far above etcd's 1.5 MiB request cap */

/* gRPC status codes etcd uses. */
enum {
	GRPC_CANCELED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNAVAILABLE = 14,
};

struct mmig__etcd {
	char *list;		  /* as given */
	char *eps[MAX_ENDPOINTS]; /* "host:port" */
	size_t n_eps;
	size_t cur;
	struct mmig__etcd_opts opts;
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	/* The answer being received. */
	char *body;
	size_t body_len, body_cap;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

static int fail(struct mmig_error **errp, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct mmig_error **errp, int code, const char *fmt, ...)
{
	va_list ap;

	if (errp) {
		va_start(ap, fmt);
		*errp = mmig_error_newv(code, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- base64 (libcrypto) --------------------------------------------- */

/* A fresh NUL-terminated base64 text of @p len bytes; NULL: no memory. */
static char *
b64_encode(const void *p, size_t len)
{
	size_t n = 4 * ((len + 2) / 3) + 1;
	char *out;

	if (len > (size_t)INT32_MAX / 2)
		return NULL;
	out = mmig__malloc(n);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/*
 * Decode base64 @p s into a fresh buffer with a NUL after it.
 * EVP_DecodeBlock counts the padding as zero bytes, so they are taken off
 * here.  @return MMIG_OK, MMIG_EJOURNAL (not base64), MMIG_ENOMEM.
 */
static int
b64_decode(const char *s, char **out, size_t *out_len)
{
	size_t len = strlen(s);
	int n;
	char *buf;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0 || len > (size_t)INT32_MAX)
		return MMIG_EJOURNAL;
	buf = mmig__malloc(len / 4 * 3 + 1);
	if (!buf)
		return MMIG_ENOMEM;
	n = len ? EVP_DecodeBlock((unsigned char *)buf,
				  (const unsigned char *)s, (int)len)
		: 0;
	if (n < 0) {
		mmig__free(buf);
		return MMIG_EJOURNAL;
	}
	if (len >= 1 && s[len - 1] == '=')
		n--;
	if (len >= 2 && s[len - 2] == '=')
		n--;
	buf[n] = '\0';
	*out = buf;
	*out_len = (size_t)n;
	return MMIG_OK;
}

/* ---- JSON helpers ---------------------------------------------------- */

/* Set @p name to the base64 of @p p; false when out of memory. */
static bool
set_b64(json_t *o, const char *name, const void *p, size_t len)
{
	char *s = b64_encode(p, len);
	bool ok;

	if (!s)
		return false;
	ok = json_object_set_new(o, name, json_string(s)) == 0;
	mmig__free(s);
	return ok;
}

/* 64-bit numbers go as strings, the way the gateway writes them. */
static bool
set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_object_set_new(o, name, json_string(buf)) == 0;
}

/* A 64-bit field: a string or an integer; absent is 0.  False when it is
 * something else. */
static bool
get_i64(const json_t *o, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(o, name);
	char *end;
	long long x;

	*out = 0;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_string(v))
		return false;
	errno = 0;
	x = strtoll(json_string_value(v), &end, 10);
	if (errno || end == json_string_value(v) || *end)
		return false;
	*out = x;
	return true;
}

/* ---- open / close ---------------------------------------------------- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct mmig__etcd *c = arg;
	size_t len = size * n;

	if (len > MAX_BODY - c->body_len)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *b;

		while (cap < c->body_len + len + 1)
			cap *= 2;
		b = mmig__realloc(c->body, cap);
		if (!b)
			return 0;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, p, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return len;
}

/* Parse one "host:port" (optionally "http://host:port", "[v6]:port"). */
static int
parse_endpoint(const char *s, size_t len, char **out, struct mmig_error **errp)
{
	const char *host, *colon;
	size_t hlen;
	char *end;
	long port;
	char portbuf[8];

	*out = NULL;
	if (len >= 7 && strncmp(s, "http://", 7) == 0) {
		s += 7;
		len -= 7;
	} else if (memchr(s, '/', len)) {
		return fail(errp, MMIG_EINVAL,
			    "etcd endpoint '%.*s': expected HOST:PORT "
			    "(plain http only)",
			    (int)len, s);
	}
	while (len && s[len - 1] == '/')
		len--;
	host = s;
	colon = NULL;
	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
		if (s[i - 1] == ']')
			break;
	}
	hlen = colon ? (size_t)(colon - s) : 0;
	if (!colon || hlen == 0 || (size_t)(s + len - colon - 1) == 0 ||
	    (size_t)(s + len - colon - 1) >= sizeof(portbuf))
		return fail(errp, MMIG_EINVAL,
			    "etcd endpoint '%.*s': expected HOST:PORT",
			    (int)len, s);
	memcpy(portbuf, colon + 1, (size_t)(s + len - colon - 1));
	portbuf[s + len - colon - 1] = '\0';
	errno = 0;
	port = strtol(portbuf, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return fail(errp, MMIG_EINVAL,
			    "etcd endpoint '%.*s': bad port '%s'", (int)len, s,
			    portbuf);
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)host[i];

		if (ch <= ' ' || ch == '@' || ch == '?' || ch == '#' ||
		    ch >= 0x7f)
			return fail(errp, MMIG_EINVAL,
				    "etcd endpoint '%.*s': bad host", (int)len,
				    s);
	}
	*out = mmig__asprintf("%.*s:%ld", (int)hlen, host, port);
	return *out ? MMIG_OK : MMIG_ENOMEM;
}

int
mmig__etcd_open(struct mmig__etcd **out, const char *endpoints,
		const struct mmig__etcd_opts *opts, struct mmig_error **errp)
{
	struct mmig__etcd *c;
	const char *p;
	int rc;

	*out = NULL;
	if (!endpoints || !*endpoints)
		return fail(errp, MMIG_EINVAL, "etcd: no endpoints given");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return fail(errp, MMIG_EJOURNAL, "etcd: libcurl: %s",
			    curl_easy_strerror(curl_init_rc));
	c = mmig__calloc(1, sizeof(*c));
	if (!c)
		return fail(errp, MMIG_ENOMEM, "etcd: out of memory");
	c->list = mmig__strdup(endpoints);
	if (!c->list) {
		rc = fail(errp, MMIG_ENOMEM, "etcd: out of memory");
		goto fail_c;
	}
	if (opts)
		c->opts = *opts;
	if (!c->opts.connect_timeout_ms)
		c->opts.connect_timeout_ms = 500;
	if (!c->opts.request_timeout_ms)
		c->opts.request_timeout_ms = 3000;
	if (!c->opts.retry_budget_ms)
		c->opts.retry_budget_ms = 5000;
	p = endpoints;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (c->n_eps == MAX_ENDPOINTS) {
			rc = fail(errp, MMIG_EINVAL,
				  "etcd endpoints '%s': more than %d",
				  endpoints, MAX_ENDPOINTS);
			goto fail_eps;
		}
		rc = parse_endpoint(p, len, &c->eps[c->n_eps], errp);
		if (rc != MMIG_OK)
			goto fail_eps;
		c->n_eps++;
		if (!comma)
			break;
		p = comma + 1;
	}
	c->curl = curl_easy_init();
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (c->headers) {
		/* No "Expect: 100-continue" round trip for larger bodies. */
		struct curl_slist *h = curl_slist_append(c->headers, "Expect:");

		if (h)
			c->headers = h;
		else {
			curl_slist_free_all(c->headers);
			c->headers = NULL;
		}
	}
	if (!c->curl || !c->headers) {
		rc = fail(errp, MMIG_EJOURNAL, "etcd: libcurl: cannot set up");
		goto fail_curl;
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)c->opts.connect_timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
			 (long)c->opts.request_timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	/* Proxies from the environment have no business between us and
	 * the cluster. */
	curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
	*out = c;
	return MMIG_OK;

fail_curl:
	curl_slist_free_all(c->headers);
	if (c->curl)
		curl_easy_cleanup(c->curl);
fail_eps:
	for (size_t i = 0; i < c->n_eps; i++)
		mmig__free(c->eps[i]);
	mmig__free(c->list);
fail_c:
	mmig__free(c);
	return rc;
}

void
mmig__etcd_close(struct mmig__etcd *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	for (size_t i = 0; i < c->n_eps; i++)
		mmig__free(c->eps[i]);
	mmig__free(c->list);
	mmig__free(c->body);
	mmig__free(c);
}

const char *
mmig__etcd_endpoint(const struct mmig__etcd *c)
{
	return c->eps[c->cur];
}

const char *
mmig__etcd_endpoints(const struct mmig__etcd *c)
{
	return c->list;
}

/* ---- one call -------------------------------------------------------- */

enum call_kind {
	CALL_READ,  /* changes nothing: retried whatever happened */
	CALL_WRITE, /* retried only when certainly not applied */
};

/* What one attempt at one endpoint came to. */
enum attempt {
	ATTEMPT_OK,	  /* a JSON answer with HTTP 200 */
	ATTEMPT_NOT_SENT, /* certainly not applied: try elsewhere */
	ATTEMPT_UNKNOWN,  /* sent, no usable answer */
	ATTEMPT_FINAL,	  /* etcd's own definite error */
};

/* An etcd error that says the request was refused before it was
 * proposed: nothing applied. */
static bool
refused_before_proposal(const char *msg)
{
	return strstr(msg, "etcdserver: no leader") ||
	       strstr(msg, "etcdserver: too many requests") ||
	       strstr(msg, "raft proposal dropped") ||
	       strstr(msg, "etcdserver: not capable");
}

static int
grpc_to_mmig(long code, const char *msg)
{
	switch (code) {
	case GRPC_OUT_OF_RANGE:
		if (strstr(msg, "compacted"))
			return MMIG_ECOMPACTED;
		return MMIG_EINVAL;
	case GRPC_NOT_FOUND:
		if (strstr(msg, "lease"))
			return MMIG_ELEASE;
		return MMIG_ENOTFOUND;
	case GRPC_INVALID_ARGUMENT:
		return MMIG_EINVAL;
	default:
		return MMIG_EJOURNAL;
	}
}

/*
 * One POST to endpoint @p i.  On ATTEMPT_OK *resp is the answer; otherwise
 * *why holds a message (without the operation's name), and *code the
 * MMIG code for ATTEMPT_FINAL.
 */
static enum attempt
attempt(struct mmig__etcd *c, size_t i, const char *path, const char *body,
	json_t **resp, int *code, char **why)
{
	char url[512];
	CURLcode crc;
	long status = 0;
	curl_off_t req_size = 0;
	json_t *j, *err;
	json_error_t jerr;
	int64_t gcode;
	const char *msg;

	*resp = NULL;
	*why = NULL;
	*code = MMIG_EJOURNAL;
	snprintf(url, sizeof(url), "http://%s/v3/%s", c->eps[i], path);
	c->body_len = 0;
	c->curl_err[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	crc = curl_easy_perform(c->curl);
	if (crc != CURLE_OK) {
		const char *text =
			c->curl_err[0] ? c->curl_err : curl_easy_strerror(crc);
		curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &req_size);
		*why = mmig__strdup(text);
		if (crc == CURLE_COULDNT_CONNECT ||
		    crc == CURLE_COULDNT_RESOLVE_HOST ||
		    crc == CURLE_COULDNT_RESOLVE_PROXY || req_size == 0)
			return ATTEMPT_NOT_SENT;
		return ATTEMPT_UNKNOWN;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	/* A keepalive answer is streamed and may carry more after its first
	 * object; every other answer is one object. */
	j = json_loadb(c->body ? c->body : "", c->body_len,
		       JSON_DISABLE_EOF_CHECK, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		if (status == 404 || status == 405) {
			/* Nothing there serves this path: not etcd 3.4 or
			 * later, or its gateway is off. */
			*why = mmig__asprintf("HTTP %ld on /v3/%s: not an etcd "
					      "v3 gateway (etcd >= 3.4 with "
					      "--enable-grpc-gateway)",
					      status, path);
			return ATTEMPT_FINAL;
		}
		*why = mmig__asprintf("HTTP %ld, not a JSON object: %.80s",
				      status, c->body ? c->body : "");
		/* A proxy or a server in trouble: whether the request got
		 * through is unknown. */
		return ATTEMPT_UNKNOWN;
	}
	err = json_object_get(j, "error");
	if (json_is_object(err)) {
		/* A streamed answer's error: {"error": {"grpc_code": N,
		 * "message": TEXT, ...}}. */
		if (!get_i64(err, "grpc_code", &gcode) || gcode == 0)
			gcode = -1;
		msg = json_string_value(json_object_get(err, "message"));
	} else if (status == 200 && !json_object_get(j, "code")) {
		*resp = j;
		return ATTEMPT_OK;
	} else {
		if (!get_i64(j, "code", &gcode) || gcode == 0)
			gcode = -1;
		msg = json_string_value(json_object_get(j, "message"));
	}
	if (!msg)
		msg = json_string_value(json_object_get(j, "error"));
	if (!msg)
		msg = "(no message)";
	*why = mmig__asprintf("HTTP %ld: %s (gRPC code %lld)", status, msg,
			      (long long)gcode);
	/* Codes that do not say whether a write went through. */
	if (gcode == GRPC_UNAVAILABLE || gcode == GRPC_DEADLINE_EXCEEDED ||
	    gcode == GRPC_CANCELED || gcode == GRPC_UNKNOWN || gcode == -1 ||
	    refused_before_proposal(msg)) {
		enum attempt a = refused_before_proposal(msg) ? ATTEMPT_NOT_SENT
							      : ATTEMPT_UNKNOWN;
		json_decref(j);
		return a;
	}
	*code = grpc_to_mmig((long)gcode, msg);
	json_decref(j);
	return ATTEMPT_FINAL;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * POST @p req (consumed) to /v3/@p path on the current endpoint, failing
 * over as the file's comment says.  @p what names the operation in
 * messages ("txn", "range", ...).
 */
static int
call(struct mmig__etcd *c, const char *what, const char *path,
     enum call_kind kind, json_t *req, json_t **resp, struct mmig_error **errp)
{
	char *body;
	uint64_t give_up;
	unsigned pause = 50;
	size_t tried = 0;
	char *last = NULL;
	size_t last_ep = c->cur;
	int rc = MMIG_OK;

	*resp = NULL;
	if (!req)
		return fail(errp, MMIG_ENOMEM, "etcd %s: out of memory", what);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		return fail(errp, MMIG_ENOMEM, "etcd %s: out of memory", what);
	give_up = mmig__now_mono_ns() +
		  (uint64_t)c->opts.retry_budget_ms * 1000000u;
	for (;;) {
		size_t i = c->cur;
		int code;
		char *why;
		enum attempt a = attempt(c, i, path, body, resp, &code, &why);

		if (a == ATTEMPT_OK) {
			mmig__free(why);
			break;
		}
		mmig__free(last);
		last = why;
		last_ep = i;
		if (a == ATTEMPT_FINAL) {
			rc = fail(errp, code, "etcd %s at %s: %s", what,
				  c->eps[i], why ? why : "?");
			break;
		}
		if (a == ATTEMPT_UNKNOWN && kind == CALL_WRITE) {
			rc = fail(errp, MMIG_EUNKNOWN,
				  "etcd %s at %s: outcome unknown: %s", what,
				  c->eps[i], why ? why : "?");
			break;
		}
		/* Not applied (or a read): the next endpoint, after a pause
		 * once every endpoint has failed in turn. */
		c->cur = (c->cur + 1) % c->n_eps;
		tried++;
		if (mmig__now_mono_ns() + (tried % c->n_eps == 0
						   ? (uint64_t)pause * 1000000u
						   : 0) >=
		    give_up) {
			rc = fail(errp, MMIG_EUNREACHABLE,
				  "etcd %s: no endpoint of %s could serve it, "
				  "nothing applied; last, %s: %s",
				  what, c->list, c->eps[last_ep],
				  last ? last : "?");
			break;
		}
		if (tried % c->n_eps == 0) {
			sleep_ms(pause);
			if (pause < 400)
				pause *= 2;
		}
	}
	mmig__free(last);
	free(body); /* json_dumps allocates with malloc */
	return rc;
}

/* ---- requests -------------------------------------------------------- */

size_t
mmig__etcd_prefix_end(const void *prefix, size_t len, uint8_t *out)
{
	const uint8_t *p = prefix;

	memcpy(out, p, len);
	while (len > 0) {
		if (out[len - 1] < 0xff) {
			out[len - 1]++;
			return len;
		}
		len--;
	}
	out[0] = 0;
	return 1;
}

/* Set key and range_end of a RangeRequest / DeleteRangeRequest. */
static bool
set_range_keys(json_t *o, const struct mmig__etcd_range *r)
{
	if (!set_b64(o, "key", r->key, r->key_len))
		return false;
	if (r->prefix) {
		uint8_t *end = mmig__malloc(r->key_len + 1);
		size_t n;
		bool ok;

		if (!end)
			return false;
		n = mmig__etcd_prefix_end(r->key, r->key_len, end);
		ok = set_b64(o, "range_end", end, n);
		mmig__free(end);
		return ok;
	}
	if (r->end)
		return set_b64(o, "range_end", r->end, r->end_len);
	return true;
}

static json_t *
range_json(const struct mmig__etcd_range *r)
{
	json_t *o = json_object();

	if (!o || !set_range_keys(o, r))
		goto fail;
	if (r->limit && !set_i64(o, "limit", r->limit))
		goto fail;
	if (r->revision && !set_i64(o, "revision", r->revision))
		goto fail;
	if (r->keys_only && json_object_set_new(o, "keys_only", json_true()))
		goto fail;
	if (r->count_only && json_object_set_new(o, "count_only", json_true()))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
delete_json(const struct mmig__etcd_range *r)
{
	json_t *o = json_object();

	if (!o || !set_range_keys(o, r)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
put_json(const void *key, size_t key_len, const void *value, size_t value_len,
	 int64_t lease)
{
	json_t *o = json_object();

	if (!o || !set_b64(o, "key", key, key_len) ||
	    !set_b64(o, "value", value, value_len) ||
	    (lease && !set_i64(o, "lease", lease))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The revision from an answer's header. */
static bool
header_revision(const json_t *resp, int64_t *rev)
{
	return get_i64(json_object_get(resp, "header"), "revision", rev);
}

static int
bad_answer(struct mmig_error **errp, struct mmig__etcd *c, const char *what,
	   const char *detail)
{
	return fail(errp, MMIG_EJOURNAL, "etcd %s at %s: unexpected answer: %s",
		    what, c->eps[c->cur], detail);
}

static void
kv_free(struct mmig__etcd_kv *kv)
{
	mmig__free(kv->key);
	mmig__free(kv->value);
}

void
mmig__etcd_range_result_free(struct mmig__etcd_range_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		kv_free(&r->kvs[i]);
	mmig__free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int
parse_kv(const json_t *o, struct mmig__etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const json_t *v = json_object_get(o, "value");
	int rc;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(o) || !k || (v && !json_is_string(v)))
		return MMIG_EJOURNAL;
	if (!get_i64(o, "create_revision", &kv->create_revision) ||
	    !get_i64(o, "mod_revision", &kv->mod_revision) ||
	    !get_i64(o, "version", &kv->version) ||
	    !get_i64(o, "lease", &kv->lease))
		return MMIG_EJOURNAL;
	rc = b64_decode(k, &kv->key, &kv->key_len);
	if (rc != MMIG_OK)
		return rc;
	rc = b64_decode(v ? json_string_value(v) : "", &kv->value,
			&kv->value_len);
	if (rc != MMIG_OK) {
		kv_free(kv);
		memset(kv, 0, sizeof(*kv));
	}
	return rc;
}

/* A RangeResponse into @p out. */
static int
parse_range(const json_t *resp, struct mmig__etcd_range_result *out)
{
	const json_t *kvs = json_object_get(resp, "kvs");
	const json_t *more = json_object_get(resp, "more");
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!header_revision(resp, &out->revision) ||
	    !get_i64(resp, "count", &out->count))
		return MMIG_EJOURNAL;
	if (more && !json_is_boolean(more))
		return MMIG_EJOURNAL;
	out->more = more && json_is_true(more);
	if (!kvs)
		return MMIG_OK;
	if (!json_is_array(kvs))
		return MMIG_EJOURNAL;
	n = json_array_size(kvs);
	out->kvs = mmig__calloc(n ? n : 1, sizeof(*out->kvs));
	if (!out->kvs)
		return MMIG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rc = parse_kv(json_array_get(kvs, i), &out->kvs[i]);
		if (rc != MMIG_OK) {
			mmig__etcd_range_result_free(out);
			return rc;
		}
		out->n++;
	}
	return MMIG_OK;
}

int
mmig__etcd_get(struct mmig__etcd *c, const struct mmig__etcd_range *r,
	       struct mmig__etcd_range_result *out, struct mmig_error **errp)
{
	json_t *resp;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = call(c, "range", "kv/range", CALL_READ, range_json(r), &resp,
		  errp);
	if (rc != MMIG_OK)
		return rc;
	rc = parse_range(resp, out);
	json_decref(resp);
	if (rc == MMIG_ENOMEM)
		return fail(errp, rc, "etcd range: out of memory");
	if (rc != MMIG_OK)
		return bad_answer(errp, c, "range", "bad range answer");
	return MMIG_OK;
}

int
mmig__etcd_get_each(struct mmig__etcd *c, const struct mmig__etcd_range *r,
		    size_t page,
		    int (*fn)(void *arg, const struct mmig__etcd_kv *kv),
		    void *arg, int64_t *rev_out, struct mmig_error **errp)
{
	struct mmig__etcd_range q = *r;
	uint8_t *end = NULL, *next = NULL;
	int64_t left = r->limit;
	int rc = MMIG_OK;

	if (!page)
		page = 512;
	if (rev_out)
		*rev_out = 0;
	/* The end key is fixed once; the start moves past each page. */
	if (r->prefix) {
		size_t n;

		end = mmig__malloc(r->key_len + 1);
		if (!end)
			return fail(errp, MMIG_ENOMEM,
				    "etcd range: out of memory");
		n = mmig__etcd_prefix_end(r->key, r->key_len, end);
		q.prefix = false;
		q.end = end;
		q.end_len = n;
	} else if (!r->end) {
		/* One key: one page. */
		q.end = NULL;
	}
	for (;;) {
		struct mmig__etcd_range_result res;
		const struct mmig__etcd_kv *lastkv;

		q.limit =
			(left && (uint64_t)left < page) ? left : (int64_t)page;
		rc = mmig__etcd_get(c, &q, &res, errp);
		if (rc != MMIG_OK)
			break;
		if (!q.revision) {
			q.revision = res.revision;
			if (rev_out)
				*rev_out = res.revision;
		}
		for (size_t i = 0; i < res.n && rc == MMIG_OK; i++)
			rc = fn(arg, &res.kvs[i]);
		if (rc != MMIG_OK || !res.more || res.n == 0 || !q.end ||
		    (left && (left -= (int64_t)res.n) <= 0)) {
			mmig__etcd_range_result_free(&res);
			break;
		}
		/* Next page: from just after the last key (key + "\0"). */
		lastkv = &res.kvs[res.n - 1];
		mmig__free(next);
		next = mmig__malloc(lastkv->key_len + 1);
		if (!next) {
			mmig__etcd_range_result_free(&res);
			rc = fail(errp, MMIG_ENOMEM,
				  "etcd range: out of memory");
			break;
		}
		memcpy(next, lastkv->key, lastkv->key_len);
		next[lastkv->key_len] = 0;
		q.key = next;
		q.key_len = lastkv->key_len + 1;
		mmig__etcd_range_result_free(&res);
	}
	if (rev_out && !*rev_out)
		*rev_out = q.revision;
	mmig__free(next);
	mmig__free(end);
	return rc;
}

int
mmig__etcd_put(struct mmig__etcd *c, const void *key, size_t key_len,
	       const void *value, size_t value_len, int64_t lease,
	       int64_t *rev_out, struct mmig_error **errp)
{
	json_t *resp;
	int64_t rev;
	int rc;

	rc = call(c, "put", "kv/put", CALL_WRITE,
		  put_json(key, key_len, value, value_len, lease), &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	if (!header_revision(resp, &rev)) {
		json_decref(resp);
		return bad_answer(errp, c, "put", "bad header");
	}
	json_decref(resp);
	if (rev_out)
		*rev_out = rev;
	return MMIG_OK;
}

int
mmig__etcd_delete(struct mmig__etcd *c, const struct mmig__etcd_range *r,
		  int64_t *deleted_out, struct mmig_error **errp)
{
	json_t *resp;
	int64_t n;
	int rc;

	rc = call(c, "deleterange", "kv/deleterange", CALL_WRITE,
		  delete_json(r), &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	if (!get_i64(resp, "deleted", &n)) {
		json_decref(resp);
		return bad_answer(errp, c, "deleterange", "bad count");
	}
	json_decref(resp);
	if (deleted_out)
		*deleted_out = n;
	return MMIG_OK;
}

/* ---- txn ------------------------------------------------------------- */

static const char *const target_names[] = {
	[MMIG__ETCD_VERSION] = "VERSION", [MMIG__ETCD_CREATE] = "CREATE",
	[MMIG__ETCD_MOD] = "MOD",	  [MMIG__ETCD_VALUE] = "VALUE",
	[MMIG__ETCD_LEASE] = "LEASE",
};
static const char *const target_fields[] = {
	[MMIG__ETCD_VERSION] = "version",
	[MMIG__ETCD_CREATE] = "create_revision",
	[MMIG__ETCD_MOD] = "mod_revision",
	[MMIG__ETCD_VALUE] = "value",
	[MMIG__ETCD_LEASE] = "lease",
};
static const char *const result_names[] = {
	[MMIG__ETCD_EQUAL] = "EQUAL",
	[MMIG__ETCD_GREATER] = "GREATER",
	[MMIG__ETCD_LESS] = "LESS",
	[MMIG__ETCD_NOT_EQUAL] = "NOT_EQUAL",
};

static json_t *
cmp_json(const struct mmig__etcd_cmp *cm)
{
	json_t *o = json_object();
	bool ok;

	if (!o || (unsigned)cm->target >= MMIG_ARRAY_LEN(target_names) ||
	    (unsigned)cm->result >= MMIG_ARRAY_LEN(result_names))
		goto fail;
	ok = set_b64(o, "key", cm->key, cm->key_len) &&
	     !json_object_set_new(o, "target",
				  json_string(target_names[cm->target])) &&
	     !json_object_set_new(o, "result",
				  json_string(result_names[cm->result]));
	if (ok && cm->target == MMIG__ETCD_VALUE)
		ok = set_b64(o, "value", cm->value, cm->value_len);
	else if (ok)
		ok = set_i64(o, target_fields[cm->target], cm->number);
	if (ok)
		return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
op_json(const struct mmig__etcd_op *op)
{
	json_t *o = json_object(), *inner = NULL;
	const char *name = NULL;

	if (!o)
		return NULL;
	switch (op->kind) {
	case MMIG__ETCD_OP_RANGE:
		name = "request_range";
		inner = range_json(&op->range);
		break;
	case MMIG__ETCD_OP_PUT:
		name = "request_put";
		inner = put_json(op->range.key, op->range.key_len, op->value,
				 op->value_len, op->lease);
		break;
	case MMIG__ETCD_OP_DELETE:
		name = "request_delete_range";
		inner = delete_json(&op->range);
		break;
	}
	if (!inner || json_object_set_new(o, name, inner)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool
add_ops(json_t *req, const char *name, const struct mmig__etcd_op *ops,
	size_t n)
{
	json_t *a = json_array();

	if (!a || json_object_set_new(req, name, a))
		return false;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, op_json(&ops[i])))
			return false;
	return true;
}

void
mmig__etcd_txn_result_free(struct mmig__etcd_txn_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		mmig__etcd_range_result_free(&r->results[i].range);
	mmig__free(r->results);
	memset(r, 0, sizeof(*r));
}

static int
parse_txn(const json_t *resp, const struct mmig__etcd_op *ran, size_t n_ran,
	  struct mmig__etcd_txn_result *out)
{
	const json_t *s = json_object_get(resp, "succeeded");
	const json_t *rs = json_object_get(resp, "responses");
	size_t n = rs ? json_array_size(rs) : 0;
	int rc;

	if ((s && !json_is_boolean(s)) || (rs && !json_is_array(rs)) ||
	    !header_revision(resp, &out->revision) || n != n_ran)
		return MMIG_EJOURNAL;
	out->succeeded = s && json_is_true(s);
	out->results = mmig__calloc(n ? n : 1, sizeof(*out->results));
	if (!out->results)
		return MMIG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(rs, i);
		struct mmig__etcd_op_result *o = &out->results[i];

		o->kind = ran[i].kind;
		out->n++;
		switch (ran[i].kind) {
		case MMIG__ETCD_OP_RANGE:
			r = json_object_get(r, "response_range");
			if (!json_is_object(r))
				return MMIG_EJOURNAL;
			rc = parse_range(r, &o->range);
			if (rc != MMIG_OK)
				return rc;
			break;
		case MMIG__ETCD_OP_PUT:
			if (!json_is_object(json_object_get(r, "response_put")))
				return MMIG_EJOURNAL;
			break;
		case MMIG__ETCD_OP_DELETE:
			r = json_object_get(r, "response_delete_range");
			if (!json_is_object(r) ||
			    !get_i64(r, "deleted", &o->deleted))
				return MMIG_EJOURNAL;
			break;
		}
	}
	return MMIG_OK;
}

int
mmig__etcd_txn(struct mmig__etcd *c, const struct mmig__etcd_cmp *cmp,
	       size_t n_cmp, const struct mmig__etcd_op *success,
	       size_t n_success, const struct mmig__etcd_op *failure,
	       size_t n_failure, struct mmig__etcd_txn_result *out,
	       struct mmig_error **errp)
{
	json_t *req = json_object(), *a, *resp;
	enum call_kind kind = CALL_READ;
	int rc;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n_success; i++)
		if (success[i].kind != MMIG__ETCD_OP_RANGE)
			kind = CALL_WRITE;
	for (size_t i = 0; i < n_failure; i++)
		if (failure[i].kind != MMIG__ETCD_OP_RANGE)
			kind = CALL_WRITE;
	a = json_array();
	if (!req || !a || json_object_set_new(req, "compare", a))
		goto oom;
	for (size_t i = 0; i < n_cmp; i++)
		if (json_array_append_new(a, cmp_json(&cmp[i])))
			goto oom;
	if (!add_ops(req, "success", success, n_success) ||
	    !add_ops(req, "failure", failure, n_failure))
		goto oom;
	rc = call(c, "txn", "kv/txn", kind, req, &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	{
		const json_t *s = json_object_get(resp, "succeeded");
		bool ok = s && json_is_true(s);

		rc = parse_txn(resp, ok ? success : failure,
			       ok ? n_success : n_failure, out);
	}
	json_decref(resp);
	if (rc != MMIG_OK) {
		mmig__etcd_txn_result_free(out);
		if (rc == MMIG_ENOMEM)
			return fail(errp, rc, "etcd txn: out of memory");
		return bad_answer(errp, c, "txn", "bad txn answer");
	}
	return MMIG_OK;
oom:
	json_decref(req);
	return fail(errp, MMIG_ENOMEM, "etcd txn: out of memory");
}

int
mmig__etcd_compact(struct mmig__etcd *c, int64_t revision,
		   struct mmig_error **errp)
{
	json_t *req = json_object(), *resp;
	struct mmig_error *e = NULL;
	int rc;

	if (req && (!set_i64(req, "revision", revision) ||
		    json_object_set_new(req, "physical", json_true()))) {
		json_decref(req);
		req = NULL;
	}
	/* Compacting twice is harmless, so a lost answer is retried. */
	rc = call(c, "compaction", "kv/compaction", CALL_READ, req, &resp, &e);
	if (rc == MMIG_ECOMPACTED) {
		mmig_error_free(e);
		return MMIG_OK;
	}
	if (rc != MMIG_OK) {
		set_err(errp, e);
		return rc;
	}
	json_decref(resp);
	return MMIG_OK;
}

/* ---- leases ---------------------------------------------------------- */

static json_t *
id_json(int64_t id)
{
	json_t *o = json_object();

	if (o && !set_i64(o, "ID", id)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
mmig__etcd_lease_grant(struct mmig__etcd *c, int64_t ttl_s, int64_t *id_out,
		       int64_t *ttl_out, struct mmig_error **errp)
{
	json_t *req = json_object(), *resp;
	int64_t id, ttl;
	int rc;

	if (ttl_s <= 0) {
		json_decref(req);
		return fail(errp, MMIG_EINVAL, "etcd lease grant: TTL %lld s",
			    (long long)ttl_s);
	}
	if (req && !set_i64(req, "TTL", ttl_s)) {
		json_decref(req);
		req = NULL;
	}
	rc = call(c, "lease grant", "lease/grant", CALL_READ, req, &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	if (!get_i64(resp, "ID", &id) || !get_i64(resp, "TTL", &ttl) ||
	    id == 0 || ttl <= 0) {
		const char *e =
			json_string_value(json_object_get(resp, "error"));

		rc = fail(errp, MMIG_EJOURNAL, "etcd lease grant at %s: %s",
			  c->eps[c->cur], e ? e : "bad answer");
		json_decref(resp);
		return rc;
	}
	json_decref(resp);
	if (id_out)
		*id_out = id;
	if (ttl_out)
		*ttl_out = ttl;
	return MMIG_OK;
}

int
mmig__etcd_lease_keepalive(struct mmig__etcd *c, int64_t id, int64_t *ttl_out,
			   struct mmig_error **errp)
{
	json_t *resp, *result;
	int64_t ttl;
	int rc;

	if (ttl_out)
		*ttl_out = 0;
	rc = call(c, "lease keepalive", "lease/keepalive", CALL_READ,
		  id_json(id), &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	/* A stream of {"result": LeaseKeepAliveResponse}; we sent one. */
	result = json_object_get(resp, "result");
	if (!json_is_object(result) || !get_i64(result, "TTL", &ttl)) {
		json_decref(resp);
		return bad_answer(errp, c, "lease keepalive", "no result");
	}
	json_decref(resp);
	if (ttl <= 0)
		return fail(errp, MMIG_ELEASE,
			    "etcd lease keepalive at %s: lease %llx is gone",
			    c->eps[c->cur], (unsigned long long)id);
	if (ttl_out)
		*ttl_out = ttl;
	return MMIG_OK;
}

int
mmig__etcd_lease_revoke(struct mmig__etcd *c, int64_t id,
			struct mmig_error **errp)
{
	json_t *resp;
	int rc;

	/* Revoking twice gives "not found" the second time: retried like a
	 * read, a lost answer shows as MMIG_ELEASE. */
	rc = call(c, "lease revoke", "lease/revoke", CALL_READ, id_json(id),
		  &resp, errp);
	if (rc == MMIG_OK)
		json_decref(resp);
	return rc;
}

int
mmig__etcd_lease_ttl(struct mmig__etcd *c, int64_t id, int64_t *left_out,
		     int64_t *granted_out, struct mmig_error **errp)
{
	json_t *resp;
	int64_t left, granted;
	int rc;

	rc = call(c, "lease timetolive", "lease/timetolive", CALL_READ,
		  id_json(id), &resp, errp);
	if (rc != MMIG_OK)
		return rc;
	/* A lease that is gone answers TTL -1. */
	if (!get_i64(resp, "TTL", &left) ||
	    !get_i64(resp, "grantedTTL", &granted)) {
		json_decref(resp);
		return bad_answer(errp, c, "lease timetolive", "bad TTL");
	}
	json_decref(resp);
	if (left < 0)
		return fail(errp, MMIG_ELEASE,
			    "etcd lease timetolive at %s: lease %llx is gone",
			    c->eps[c->cur], (unsigned long long)id);
	if (left_out)
		*left_out = left;
	if (granted_out)
		*granted_out = granted;
	return MMIG_OK;
}

/* ---- the keeper ------------------------------------------------------ */

struct mmig__etcd_keeper {
	struct mmig__etcd *c; /* the thread's own client */
	int64_t id;
	int64_t ttl;
	uint64_t margin_ns;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock. */
	uint64_t deadline; /* mono ns */
	bool stopping;
	bool lost; /* etcd said the lease is gone */
	char *why; /* the last renewal's failure, or NULL */
};

static void
cond_deadline(struct timespec *ts, uint64_t mono_ns)
{
	ts->tv_sec = (time_t)(mono_ns / 1000000000u);
	ts->tv_nsec = (long)(mono_ns % 1000000000u);
}

static void *
keeper_main(void *arg)
{
	struct mmig__etcd_keeper *k = arg;
	uint64_t period = (uint64_t)k->ttl * 1000000000u / 3;
	uint64_t retry = period / 4 < 100000000u ? 100000000u : period / 4;
	uint64_t next = mmig__now_mono_ns() + period;

	pthread_mutex_lock(&k->lock);
	while (!k->stopping && !k->lost) {
		struct timespec ts;
		uint64_t sent;
		int64_t ttl;
		struct mmig_error *e = NULL;
		int rc;

		cond_deadline(&ts, next);
		if (mmig__now_mono_ns() < next) {
			pthread_cond_timedwait(&k->wake, &k->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&k->lock);
		sent = mmig__now_mono_ns();
		rc = mmig__etcd_lease_keepalive(k->c, k->id, &ttl, &e);
		pthread_mutex_lock(&k->lock);
		if (rc == MMIG_OK) {
			uint64_t d = sent + (uint64_t)ttl * 1000000000u;

			if (d > k->deadline)
				k->deadline = d;
			mmig__free(k->why);
			k->why = NULL;
			next = sent + period;
		} else {
			char *why = mmig__strdup(mmig_error_message(e));

			if (why) {
				mmig__free(k->why);
				k->why = why;
			}
			if (rc == MMIG_ELEASE)
				k->lost = true;
			next = mmig__now_mono_ns() + retry;
		}
		mmig_error_free(e);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int
mmig__etcd_keeper_start(struct mmig__etcd_keeper **out, struct mmig__etcd *c,
			int64_t ttl_s, unsigned margin_ms,
			struct mmig_error **errp)
{
	struct mmig__etcd_keeper *k;
	pthread_condattr_t ca;
	uint64_t sent;
	int rc;

	*out = NULL;
	k = mmig__calloc(1, sizeof(*k));
	if (!k)
		return fail(errp, MMIG_ENOMEM, "etcd lease: out of memory");
	{
		/* Short attempts: a renewal stuck on a dead endpoint must
		 * not eat the TTL. */
		struct mmig__etcd_opts o = c->opts;
		unsigned third = (unsigned)(ttl_s > 0 ? ttl_s : 1) * 1000 / 3;

		if (o.request_timeout_ms > third)
			o.request_timeout_ms = third;
		if (o.retry_budget_ms > third)
			o.retry_budget_ms = third;
		rc = mmig__etcd_open(&k->c, c->list, &o, errp);
		if (rc != MMIG_OK)
			goto fail_k;
		k->c->cur = c->cur;
	}
	sent = mmig__now_mono_ns();
	rc = mmig__etcd_lease_grant(k->c, ttl_s, &k->id, &k->ttl, errp);
	if (rc != MMIG_OK)
		goto fail_c;
	k->deadline = sent + (uint64_t)k->ttl * 1000000000u;
	k->margin_ns = margin_ms ? (uint64_t)margin_ms * 1000000u
				 : (uint64_t)k->ttl * 1000000000u / 4;
	if (k->margin_ns >= (uint64_t)k->ttl * 1000000000u) {
		rc = fail(errp, MMIG_EINVAL,
			  "etcd lease: margin %u ms not below the TTL %lld s",
			  margin_ms, (long long)k->ttl);
		goto fail_lease;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&k->thread, NULL, keeper_main, k);
	if (rc != 0) {
		rc = fail(errp, -rc, "etcd lease: keeper thread: %s",
			  strerror(rc));
		goto fail_sync;
	}
	*out = k;
	return MMIG_OK;

fail_sync:
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
fail_lease:
	mmig__etcd_lease_revoke(k->c, k->id, NULL);
fail_c:
	mmig__etcd_close(k->c);
fail_k:
	mmig__free(k);
	return rc;
}

int64_t
mmig__etcd_keeper_id(const struct mmig__etcd_keeper *k)
{
	return k->id;
}

int64_t
mmig__etcd_keeper_ttl(const struct mmig__etcd_keeper *k)
{
	return k->ttl;
}

uint64_t
mmig__etcd_keeper_deadline_ns(const struct mmig__etcd_keeper *k)
{
	struct mmig__etcd_keeper *m = (struct mmig__etcd_keeper *)k;
	uint64_t d;

	pthread_mutex_lock(&m->lock);
	d = m->deadline;
	pthread_mutex_unlock(&m->lock);
	return d;
}

int
mmig__etcd_keeper_check(struct mmig__etcd_keeper *k, struct mmig_error **errp)
{
	uint64_t now = mmig__now_mono_ns();
	int rc = MMIG_OK;

	pthread_mutex_lock(&k->lock);
	if (k->lost)
		rc = fail(errp, MMIG_ELEASE, "etcd lease %llx: %s",
			  (unsigned long long)k->id, k->why ? k->why : "gone");
	else if (now + k->margin_ns >= k->deadline) {
		/* Past the point where we can vouch for it: never again,
		 * even if a late renewal succeeds, since someone may
		 * already have acted on its expiry. */
		k->lost = true;
		rc = fail(errp, MMIG_ELEASE,
			  "etcd lease %llx: not renewed in time (%lld ms "
			  "left, margin %llu ms)%s%s",
			  (unsigned long long)k->id,
			  (long long)((int64_t)(k->deadline - now) / 1000000),
			  (unsigned long long)(k->margin_ns / 1000000),
			  k->why ? "; last renewal: " : "",
			  k->why ? k->why : "");
		pthread_cond_signal(&k->wake);
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

void
mmig__etcd_keeper_stop(struct mmig__etcd_keeper *k, bool revoke)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	if (revoke)
		mmig__etcd_lease_revoke(k->c, k->id, NULL);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	mmig__etcd_close(k->c);
	mmig__free(k->why);
	mmig__free(k);
}
