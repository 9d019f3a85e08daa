/*
 * domain/model.c - reading model descriptions: JSON in, a checked
 * struct mmig_model_desc out.
 *
 * Owns the rules listed in mmig/import.h.  Every rule is checked here, before
 * the parser returns, so that the import operations never meet a half-valid
 * description halfway through a migration: a description either parses
 * whole or is refused with one message that names the place.
 *
 * Invariants:
 *  - A description handed out lives in one arena of chunks; the struct
 *    itself is the first object of the first chunk, so freeing it is one
 *    call and needs no hidden field.
 *  - References (a unit's machine, a relation's applications) point into the
 *    description's own strings, found through hash maps sized up front, so
 *    a model of 10,000 machines and 50,000 units costs linear time.
 *  - Messages quote input through quote(), which escapes and shortens it, so
 *    a message stays one bounded line whatever the input holds.
 */
#include "internal.h"
#include "juju-int.h"
#include "mmig/import.h"
#include "mmig/scope.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------ */

/* Big enough that a typical model fits in one or two chunks. */
#define CHUNK_SIZE ((size_t)64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct arena {
	struct chunk *first;
	struct chunk *cur;
};

static void *
arena_alloc(struct arena *a, size_t n, size_t align)
{
	struct chunk *c = a->cur;
	size_t off, size;

	if (c) {
		off = (c->used + align - 1) & ~(align - 1);
		if (off <= c->size && n <= c->size - off) {
			c->used = off + n;
			return (char *)c->data + off;
		}
	}
	/* Callers bound n by the description limits, so this cannot wrap. */
	size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
	c = mmig__malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->used = n;
	c->size = size;
	if (a->cur)
		a->cur->next = c;
	else
		a->first = c;
	a->cur = c;
	return c->data;
}

static void *
arena_array(struct arena *a, size_t n, size_t size)
{
	return arena_alloc(a, n * size, _Alignof(max_align_t));
}

static char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *d = arena_alloc(a, len + 1, 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static void
arena_free(struct chunk *c)
{
	struct chunk *next;

	for (; c; c = next) {
		next = c->next;
		mmig__free(c);
	}
}

/* ------------------------------------------------------------------------
 * String maps: open addressing, linear probing, sized once.
 * ------------------------------------------------------------------------ */

#define NOT_FOUND SIZE_MAX

struct strmap_ent {
	const char *key; /* NULL: empty slot */
	size_t len;
	size_t val;
};

struct strmap {
	struct strmap_ent *tab;
	size_t mask;
};

/* FNV-1a, then the splitmix64 finaliser so that short keys ("0", "1", ...)
 * spread over the whole table rather than cluster. */
static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3u;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9u;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebu;
	h ^= h >> 31;
	return h;
}

/* Room for @p n keys at a load of at most one half; never grows. */
static int
strmap_init(struct strmap *m, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->tab = mmig__calloc(cap, sizeof(*m->tab));
	if (!m->tab)
		return MMIG_ENOMEM;
	m->mask = cap - 1;
	return MMIG_OK;
}

static void
strmap_fini(struct strmap *m)
{
	mmig__free(m->tab);
	m->tab = NULL;
}

/*
 * Insert @p key unless it is there.  The key is not copied: it must outlive
 * the map.  @return NOT_FOUND when inserted, otherwise the value already
 * there.
 */
static size_t
strmap_put(struct strmap *m, const char *key, size_t len, size_t val)
{
	size_t i = (size_t)hash_bytes(key, len) & m->mask;
	struct strmap_ent *e;

	for (;; i = (i + 1) & m->mask) {
		e = &m->tab[i];
		if (!e->key) {
			e->key = key;
			e->len = len;
			e->val = val;
			return NOT_FOUND;
		}
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return e->val;
	}
}

static size_t
strmap_get(const struct strmap *m, const char *key, size_t len)
{
	size_t i = (size_t)hash_bytes(key, len) & m->mask;
	const struct strmap_ent *e;

	for (;; i = (i + 1) & m->mask) {
		e = &m->tab[i];
		if (!e->key)
			return NOT_FOUND;
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return e->val;
	}
}

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

/* Input quoted in a message is cut after this many bytes. */
#define QUOTE_MAX 48

struct qbuf {
	/* Each input byte becomes at most 4 characters ("\x1f"), plus the
	 * quotes, "..." and the NUL. */
	char s[QUOTE_MAX * 4 + 8];
};

/* @p s as a double-quoted, escaped, possibly shortened string. */
static const char *
quote(struct qbuf *q, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = len, o = 0;
	bool cut = false;
	unsigned char c;

	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		/* Do not split a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	q->s[o++] = '"';
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			q->s[o++] = '\\';
			q->s[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			q->s[o++] = '\\';
			q->s[o++] = 'x';
			q->s[o++] = hex[c >> 4];
			q->s[o++] = hex[c & 0xf];
		} else {
			q->s[o++] = (char)c;
		}
	}
	if (cut) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

/* A config key as a path step: ".port", or ["odd key"] when it is not
 * a plain word. */
static const char *
key_step(struct qbuf *q, const char *key)
{
	size_t i, len = strlen(key);
	bool plain = len > 0 && len <= QUOTE_MAX;
	struct qbuf tmp;

	for (i = 0; plain && i < len; i++) {
		char c = key[i];

		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_';
	}
	if (plain)
		snprintf(q->s, sizeof(q->s), ".%s", key);
	else
		snprintf(q->s, sizeof(q->s), "[%s]", quote(&tmp, key, len));
	return q->s;
}

/* ------------------------------------------------------------------------
 * Lexical rules
 * ------------------------------------------------------------------------ */

/* [a-z][a-z0-9-]*, or with '_' too for endpoints; at most 63 bytes. */
static bool
valid_name(const char *s, size_t len, bool underscore)
{
	size_t i;

	if (len == 0 || len > MMIG_MODEL_DESC_MAX_NAME)
		return false;
	if (s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || (underscore && c == '_')))
			return false;
	}
	return true;
}

/* A decimal number without leading zeros, short enough to fit in 64 bits. */
static bool
valid_number(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 18 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
has_control(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* ------------------------------------------------------------------------
 * The parser
 * ------------------------------------------------------------------------ */

struct parser {
	struct arena arena;
	struct mmig_model_desc *desc;
	struct strmap machines; /* id -> index in desc->machines */
	struct strmap apps;     /* name -> index in desc->apps */
	struct strmap units;    /* name -> application index */
	struct strmap relations; /* "a b", sorted -> index */
	char *err;
};

static int fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record the message of the first broken rule.  @return MMIG_EMODEL, or
 * MMIG_ENOMEM when the message cannot be allocated. */
static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	char *buf;

	va_start(ap, fmt);
	buf = mmig__vasprintf(fmt, ap);
	va_end(ap);
	if (!buf)
		return MMIG_ENOMEM;
	p->err = buf;
	return MMIG_EMODEL;
}

static const char *
type_article(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/*
 * Reject keys of @p obj that are not in @p allowed (NULL-terminated).
 * @p path is "" for the top level.
 */
static int
check_keys(struct parser *p, json_t *obj, const char *path,
	   const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;
	struct qbuf q;

	json_object_foreach (obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		if (*path == '\0')
			return fail(p, "unknown top-level key %s",
				    quote(&q, key, strlen(key)));
		return fail(p, "%s: unknown key %s", path,
			    quote(&q, key, strlen(key)));
	}
	return MMIG_OK;
}

/* How get_string() checks a field. */
enum {
	F_REQUIRED = 0x1, /* absent is an error (else *out = NULL) */
	F_NONEMPTY = 0x2,
	F_NOCTRL = 0x4, /* no control characters */
};

/*
 * Copy the string field @p key of @p obj into the arena.
 * @param[out] len may be NULL.
 */
static int
get_string(struct parser *p, json_t *obj, const char *path, const char *key,
	   unsigned rules, size_t max, const char **out, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	*out = NULL;
	if (len)
		*len = 0;
	if (!v) {
		if (rules & F_REQUIRED)
			return fail(p, "%s.%s: missing", path, key);
		return MMIG_OK;
	}
	if (!json_is_string(v))
		return fail(p, "%s.%s: not a string", path, key);
	s = json_string_value(v);
	n = json_string_length(v);
	if ((rules & F_NONEMPTY) && n == 0)
		return fail(p, "%s.%s: empty", path, key);
	if (n > max)
		return fail(p, "%s.%s: too long (%zu bytes, at most %zu)", path,
			    key, n, max);
	if ((rules & F_NOCTRL) && has_control(s, n))
		return fail(p, "%s.%s: contains a control character", path,
			    key);
	*out = arena_strndup(&p->arena, s, n);
	if (!*out)
		return MMIG_ENOMEM;
	if (len)
		*len = n;
	return MMIG_OK;
}

static int
get_name(struct parser *p, json_t *obj, const char *path, const char *key,
	 const char **out, size_t *len)
{
	struct qbuf q;
	int rc;

	rc = get_string(p, obj, path, key, F_REQUIRED | F_NONEMPTY,
			MMIG_MODEL_DESC_MAX_STRING, out, len);
	if (rc != MMIG_OK)
		return rc;
	if (!valid_name(*out, *len, false))
		return fail(p,
			    "%s.%s: %s is not a valid name ([a-z][a-z0-9-]*, "
			    "at most %d characters)",
			    path, key, quote(&q, *out, *len),
			    MMIG_MODEL_DESC_MAX_NAME);
	return MMIG_OK;
}

/* Shortest "%.Ng" that reads back as @p d, with a '.' or exponent so that
 * it reads back as a real, in the C locale's spelling. */
static void
format_real(char *buf, size_t cap, double d)
{
	int prec;
	char *c;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* A locale may spell the decimal point ','. */
	for (c = buf; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' ||
		      *c == 'e'))
			*c = '.';
	if (!strpbrk(buf, ".e"))
		strncat(buf, ".0", cap - strlen(buf) - 1);
}

static int
parse_config(struct parser *p, json_t *obj, const char *path,
	     const struct mmig_model_desc_kv **out, size_t *count)
{
	json_t *cfg = json_object_get(obj, "config");
	struct mmig_model_desc_kv *kv;
	const char *key;
	json_t *v;
	size_t i = 0, n, klen;
	struct qbuf q, q2;
	char num[40];

	*out = NULL;
	*count = 0;
	if (!cfg)
		return MMIG_OK;
	if (!json_is_object(cfg))
		return fail(p, "%s.config: not an object", path);
	n = json_object_size(cfg);
	if (n > MMIG_MODEL_DESC_MAX_CONFIG)
		return fail(p, "%s.config: %zu keys, at most %d", path, n,
			    MMIG_MODEL_DESC_MAX_CONFIG);
	if (n == 0)
		return MMIG_OK;
	kv = arena_array(&p->arena, n, sizeof(*kv));
	if (!kv)
		return MMIG_ENOMEM;
	json_object_foreach (cfg, key, v) {
		klen = strlen(key);
		if (klen == 0)
			return fail(p, "%s.config: empty key", path);
		if (klen > MMIG_MODEL_DESC_MAX_STRING)
			return fail(p, "%s.config: key %s too long", path,
				    quote(&q, key, klen));
		if (has_control(key, klen))
			return fail(p,
				    "%s.config: key %s contains a control "
				    "character",
				    path, quote(&q, key, klen));
		kv[i].key = arena_strndup(&p->arena, key, klen);
		if (!kv[i].key)
			return MMIG_ENOMEM;
		switch (json_typeof(v)) {
		case JSON_STRING:
			if (json_string_length(v) > MMIG_MODEL_DESC_MAX_VALUE)
				return fail(p,
					    "%s.config%s: value too long (%zu "
					    "bytes, at most %d)",
					    path, key_step(&q2, key),
					    json_string_length(v),
					    MMIG_MODEL_DESC_MAX_VALUE);
			kv[i].kind = MMIG_MODEL_DESC_STRING;
			kv[i].value = arena_strndup(&p->arena,
						    json_string_value(v),
						    json_string_length(v));
			break;
		case JSON_INTEGER:
			kv[i].kind = MMIG_MODEL_DESC_INTEGER;
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
			kv[i].value = arena_strndup(&p->arena, num,
						    strlen(num));
			break;
		case JSON_REAL:
			kv[i].kind = MMIG_MODEL_DESC_REAL;
			format_real(num, sizeof(num), json_real_value(v));
			kv[i].value = arena_strndup(&p->arena, num,
						    strlen(num));
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			kv[i].kind = MMIG_MODEL_DESC_BOOL;
			kv[i].value = json_is_true(v) ? "true" : "false";
			break;
		default:
			return fail(p,
				    "%s.config%s: %s is not a config value "
				    "(want a string, number or boolean)",
				    path, key_step(&q2, key), type_article(v));
		}
		if (!kv[i].value)
			return MMIG_ENOMEM;
		i++;
	}
	*out = kv;
	*count = n;
	return MMIG_OK;
}

/* The array @p key of @p root, or NULL with *n = 0 when it is absent. */
static int
get_array(struct parser *p, json_t *root, const char *key, size_t max,
	  json_t **arr, size_t *n)
{
	*arr = json_object_get(root, key);
	*n = 0;
	if (!*arr)
		return MMIG_OK;
	if (!json_is_array(*arr))
		return fail(p, "%s: not an array", key);
	*n = json_array_size(*arr);
	if (*n > max)
		return fail(p, "%s: %zu entries, at most %zu", key, *n, max);
	return MMIG_OK;
}

static int
parse_model(struct parser *p, json_t *root)
{
	static const char *const keys[] = {"uuid",  "name",   "owner", "cloud",
					   "region", "config", NULL};
	struct mmig_model_desc *d = p->desc;
	json_t *m = json_object_get(root, "model");
	struct qbuf q;
	size_t len;
	int rc;

	if (!m)
		return fail(p, "model: missing");
	if (!json_is_object(m))
		return fail(p, "model: not an object");
	rc = check_keys(p, m, "model", keys);
	if (rc != MMIG_OK)
		return rc;
	rc = get_string(p, m, "model", "uuid", F_REQUIRED | F_NONEMPTY, 64,
			&d->uuid, &len);
	if (rc != MMIG_OK)
		return rc;
	/* The uuid becomes part of a file name; engine/scope.c owns the
	 * rule, and the same check guards mmig_scope_for_model(). */
	if (!mmig_uuid_valid(d->uuid))
		return fail(p,
			    "model.uuid: %s is not a canonical lower-case "
			    "UUID (8-4-4-4-12 hex digits)",
			    quote(&q, d->uuid, len));
	rc = get_name(p, m, "model", "name", &d->name, &len);
	if (rc == MMIG_OK)
		rc = get_string(p, m, "model", "owner",
				F_REQUIRED | F_NONEMPTY | F_NOCTRL,
				MMIG_MODEL_DESC_MAX_STRING, &d->owner, NULL);
	if (rc == MMIG_OK)
		rc = get_string(p, m, "model", "cloud",
				F_REQUIRED | F_NONEMPTY | F_NOCTRL,
				MMIG_MODEL_DESC_MAX_STRING, &d->cloud, NULL);
	if (rc == MMIG_OK)
		rc = get_string(p, m, "model", "region", F_NONEMPTY | F_NOCTRL,
				MMIG_MODEL_DESC_MAX_STRING, &d->region, NULL);
	if (rc == MMIG_OK)
		rc = parse_config(p, m, "model", &d->config, &d->n_config);
	return rc;
}

static int
parse_machines(struct parser *p, json_t *root)
{
	static const char *const keys[] = {"id", "base", "constraints", NULL};
	struct mmig_model_desc *d = p->desc;
	struct mmig_model_desc_machine *ms;
	json_t *arr, *m;
	char path[48];
	struct qbuf q;
	size_t i, n, len, other;
	int rc;

	rc = get_array(p, root, "machines", MMIG_MODEL_DESC_MAX_ITEMS, &arr,
		       &n);
	if (rc != MMIG_OK)
		return rc;
	rc = strmap_init(&p->machines, n);
	if (rc != MMIG_OK || n == 0)
		return rc;
	ms = arena_array(&p->arena, n, sizeof(*ms));
	if (!ms)
		return MMIG_ENOMEM;
	d->machines = ms;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "machines[%zu]", i);
		m = json_array_get(arr, i);
		if (!json_is_object(m))
			return fail(p, "%s: not an object", path);
		rc = check_keys(p, m, path, keys);
		if (rc == MMIG_OK)
			rc = get_string(p, m, path, "id",
					F_REQUIRED | F_NONEMPTY, 64, &ms[i].id,
					&len);
		if (rc != MMIG_OK)
			return rc;
		if (!valid_number(ms[i].id, len))
			return fail(p,
				    "%s.id: %s is not a machine id (a decimal "
				    "number without leading zeros)",
				    path, quote(&q, ms[i].id, len));
		other = strmap_put(&p->machines, ms[i].id, len, i);
		if (other != NOT_FOUND)
			return fail(p,
				    "%s.id: duplicate %s (also machines[%zu])",
				    path, quote(&q, ms[i].id, len), other);
		rc = get_string(p, m, path, "base",
				F_REQUIRED | F_NONEMPTY | F_NOCTRL,
				MMIG_MODEL_DESC_MAX_STRING, &ms[i].base, NULL);
		if (rc == MMIG_OK)
			rc = get_string(p, m, path, "constraints", F_NOCTRL,
					MMIG_MODEL_DESC_MAX_STRING,
					&ms[i].constraints, NULL);
		if (rc != MMIG_OK)
			return rc;
		d->n_machines = i + 1;
	}
	return MMIG_OK;
}

static int
parse_unit(struct parser *p, json_t *u, const char *path, size_t app_idx,
	   const char *app, size_t app_len, struct mmig_model_desc_unit *unit)
{
	static const char *const keys[] = {"name", "machine", NULL};
	const char *slash, *mach;
	struct qbuf q, q2;
	size_t len, mlen, other;
	int rc;

	if (!json_is_object(u))
		return fail(p, "%s: not an object", path);
	rc = check_keys(p, u, path, keys);
	if (rc == MMIG_OK)
		rc = get_string(p, u, path, "name", F_REQUIRED | F_NONEMPTY,
				MMIG_MODEL_DESC_MAX_STRING, &unit->name, &len);
	if (rc != MMIG_OK)
		return rc;
	slash = memchr(unit->name, '/', len);
	if (!slash || !valid_name(unit->name, (size_t)(slash - unit->name),
				  false) ||
	    !valid_number(slash + 1, len - (size_t)(slash - unit->name) - 1))
		return fail(p, "%s.name: %s is not \"<application>/<number>\"",
			    path, quote(&q, unit->name, len));
	if ((size_t)(slash - unit->name) != app_len ||
	    memcmp(unit->name, app, app_len) != 0)
		return fail(p, "%s.name: %s is not a unit of application %s",
			    path, quote(&q, unit->name, len),
			    quote(&q2, app, app_len));
	other = strmap_put(&p->units, unit->name, len, app_idx);
	if (other != NOT_FOUND)
		return fail(p, "%s.name: duplicate unit %s", path,
			    quote(&q, unit->name, len));

	/* The machine is looked up in the JSON and then points at the
	 * machine's own id, so units cost no copy of it. */
	rc = get_string(p, u, path, "machine", F_REQUIRED | F_NONEMPTY,
			MMIG_MODEL_DESC_MAX_STRING, &mach, &mlen);
	if (rc != MMIG_OK)
		return rc;
	other = strmap_get(&p->machines, mach, mlen);
	if (other == NOT_FOUND)
		return fail(p, "%s.machine: no machine %s", path,
			    quote(&q, mach, mlen));
	unit->machine = p->desc->machines[other].id;
	return MMIG_OK;
}

static int
parse_apps(struct parser *p, json_t *root)
{
	static const char *const keys[] = {"name", "charm", "config", "units",
					   NULL};
	struct mmig_model_desc *d = p->desc;
	struct mmig_model_desc_app *as;
	struct mmig_model_desc_unit *us;
	json_t *arr, *a, *units;
	char path[48], upath[80];
	struct qbuf q;
	size_t i, j, n, nu, len, other, total = 0;
	int rc;

	rc = get_array(p, root, "applications", MMIG_MODEL_DESC_MAX_APPS, &arr,
		       &n);
	if (rc != MMIG_OK)
		return rc;
	/* Count the units first, to size the unit map once. */
	for (i = 0; i < n; i++) {
		units = json_object_get(json_array_get(arr, i), "units");
		if (json_is_array(units))
			total += json_array_size(units);
	}
	if (total > MMIG_MODEL_DESC_MAX_ITEMS)
		return fail(p, "applications: %zu units in all, at most %d",
			    total, MMIG_MODEL_DESC_MAX_ITEMS);
	rc = strmap_init(&p->apps, n);
	if (rc == MMIG_OK)
		rc = strmap_init(&p->units, total);
	if (rc != MMIG_OK || n == 0)
		return rc;
	as = arena_array(&p->arena, n, sizeof(*as));
	if (!as)
		return MMIG_ENOMEM;
	d->apps = as;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "applications[%zu]", i);
		a = json_array_get(arr, i);
		memset(&as[i], 0, sizeof(as[i]));
		if (!json_is_object(a))
			return fail(p, "%s: not an object", path);
		rc = check_keys(p, a, path, keys);
		if (rc == MMIG_OK)
			rc = get_name(p, a, path, "name", &as[i].name, &len);
		if (rc != MMIG_OK)
			return rc;
		other = strmap_put(&p->apps, as[i].name, len, i);
		if (other != NOT_FOUND)
			return fail(p,
				    "%s.name: duplicate %s (also "
				    "applications[%zu])",
				    path, quote(&q, as[i].name, len), other);
		rc = get_string(p, a, path, "charm",
				F_REQUIRED | F_NONEMPTY | F_NOCTRL,
				MMIG_MODEL_DESC_MAX_STRING, &as[i].charm, NULL);
		if (rc == MMIG_OK)
			rc = parse_config(p, a, path, &as[i].config,
					  &as[i].n_config);
		if (rc != MMIG_OK)
			return rc;
		d->n_apps = i + 1;

		units = json_object_get(a, "units");
		if (!units)
			continue;
		if (!json_is_array(units))
			return fail(p, "%s.units: not an array", path);
		nu = json_array_size(units);
		if (nu == 0)
			continue;
		us = arena_array(&p->arena, nu, sizeof(*us));
		if (!us)
			return MMIG_ENOMEM;
		as[i].units = us;
		for (j = 0; j < nu; j++) {
			snprintf(upath, sizeof(upath), "%s.units[%zu]", path,
				 j);
			rc = parse_unit(p, json_array_get(units, j), upath, i,
					as[i].name, len, &us[j]);
			if (rc != MMIG_OK)
				return rc;
			as[i].n_units = j + 1;
			d->n_units_total++;
		}
	}
	return MMIG_OK;
}

static int
parse_endpoint(struct parser *p, json_t *v, const char *path, size_t k,
	       struct mmig_model_desc_endpoint *ep)
{
	const char *s, *colon;
	size_t len, alen, idx;
	struct qbuf q;

	if (!json_is_string(v))
		return fail(p, "%s.endpoints[%zu]: not a string", path, k);
	s = json_string_value(v);
	len = json_string_length(v);
	colon = memchr(s, ':', len);
	alen = colon ? (size_t)(colon - s) : 0;
	if (!colon || !valid_name(s, alen, false) ||
	    !valid_name(colon + 1, len - alen - 1, true))
		return fail(p,
			    "%s.endpoints[%zu]: %s is not "
			    "\"<application>:<endpoint>\"",
			    path, k, quote(&q, s, len));
	idx = strmap_get(&p->apps, s, alen);
	if (idx == NOT_FOUND)
		return fail(p, "%s.endpoints[%zu]: no application %s", path, k,
			    quote(&q, s, alen));
	ep->spec = arena_strndup(&p->arena, s, len);
	ep->name = arena_strndup(&p->arena, colon + 1, len - alen - 1);
	if (!ep->spec || !ep->name)
		return MMIG_ENOMEM;
	ep->app = p->desc->apps[idx].name;
	return MMIG_OK;
}

static int
parse_relations(struct parser *p, json_t *root)
{
	static const char *const keys[] = {"endpoints", NULL};
	struct mmig_model_desc *d = p->desc;
	struct mmig_model_desc_relation *rs;
	const char *lo, *hi;
	json_t *arr, *r, *eps;
	char path[48];
	char *key;
	struct qbuf q;
	size_t i, k, n, ne, klen, other;
	int rc;

	rc = get_array(p, root, "relations", MMIG_MODEL_DESC_MAX_ITEMS, &arr,
		       &n);
	if (rc != MMIG_OK)
		return rc;
	rc = strmap_init(&p->relations, n);
	if (rc != MMIG_OK || n == 0)
		return rc;
	rs = arena_array(&p->arena, n, sizeof(*rs));
	if (!rs)
		return MMIG_ENOMEM;
	d->relations = rs;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "relations[%zu]", i);
		r = json_array_get(arr, i);
		if (!json_is_object(r))
			return fail(p, "%s: not an object", path);
		rc = check_keys(p, r, path, keys);
		if (rc != MMIG_OK)
			return rc;
		eps = json_object_get(r, "endpoints");
		if (!eps)
			return fail(p, "%s.endpoints: missing", path);
		if (!json_is_array(eps))
			return fail(p, "%s.endpoints: not an array", path);
		ne = json_array_size(eps);
		if (ne != 2)
			return fail(p, "%s.endpoints: %zu endpoint%s, want 2",
				    path, ne, ne == 1 ? "" : "s");
		for (k = 0; k < 2; k++) {
			rc = parse_endpoint(p, json_array_get(eps, k), path, k,
					    &rs[i].ep[k]);
			if (rc != MMIG_OK)
				return rc;
		}
		if (strcmp(rs[i].ep[0].spec, rs[i].ep[1].spec) == 0)
			return fail(p, "%s: relates %s to itself", path,
				    quote(&q, rs[i].ep[0].spec,
					  strlen(rs[i].ep[0].spec)));

		/* The pair in a fixed order, so that "a b" and "b a" meet.
		 * Endpoints hold no spaces, so the join is unambiguous. */
		lo = rs[i].ep[0].spec;
		hi = rs[i].ep[1].spec;
		if (strcmp(lo, hi) > 0) {
			lo = rs[i].ep[1].spec;
			hi = rs[i].ep[0].spec;
		}
		klen = strlen(lo) + 1 + strlen(hi);
		key = arena_alloc(&p->arena, klen + 1, 1);
		if (!key)
			return MMIG_ENOMEM;
		snprintf(key, klen + 1, "%s %s", lo, hi);
		other = strmap_put(&p->relations, key, klen, i);
		if (other != NOT_FOUND)
			return fail(p, "%s: duplicate of relations[%zu]", path,
				    other);
		d->n_relations = i + 1;
	}
	return MMIG_OK;
}

static int
parse_root(struct parser *p, json_t *root)
{
	static const char *const keys[] = {"version",      "model",
					   "machines",     "applications",
					   "relations",    NULL};
	json_t *v;
	int rc;

	if (!json_is_object(root))
		return fail(p, "top level: not an object (%s)",
			    type_article(root));
	/* The version first: a newer description is reported as such, not
	 * as a list of keys this build does not know. */
	v = json_object_get(root, "version");
	if (!v)
		return fail(p, "version: missing");
	if (!json_is_integer(v))
		return fail(p, "version: not an integer");
	if (json_integer_value(v) != MMIG_MODEL_DESC_VERSION)
		return fail(p,
			    "version: unsupported version %" JSON_INTEGER_FORMAT
			    " (this build reads %d)",
			    json_integer_value(v), MMIG_MODEL_DESC_VERSION);
	rc = check_keys(p, root, "", keys);
	if (rc == MMIG_OK)
		rc = parse_model(p, root);
	if (rc == MMIG_OK)
		rc = parse_machines(p, root);
	if (rc == MMIG_OK)
		rc = parse_apps(p, root);
	if (rc == MMIG_OK)
		rc = parse_relations(p, root);
	return rc;
}

/* ------------------------------------------------------------------------
 * juju/description documents (domain/juju.c), seen through the same struct
 * ------------------------------------------------------------------------ */

/* A config value as a kv: scalars as their text with their kind (a null
 * as ""), anything else as YAML text. */
static int
juju_kv(struct parser *p, const struct mmig__ynode *n,
	struct mmig_model_desc_kv *kv)
{
	char buf[64];
	char *text = NULL;
	size_t len;

	kv->key = n->key;
	kv->kind = MMIG_MODEL_DESC_STRING;
	switch (n->kind) {
	case MMIG__Y_STR:
		kv->value = n->str;
		return MMIG_OK;
	case MMIG__Y_INT:
	case MMIG__Y_UINT:
		kv->kind = MMIG_MODEL_DESC_INTEGER;
		kv->value = n->str;
		return MMIG_OK;
	case MMIG__Y_BOOL:
		kv->kind = MMIG_MODEL_DESC_BOOL;
		kv->value = n->v.b ? "true" : "false";
		return MMIG_OK;
	case MMIG__Y_FLOAT:
		kv->kind = MMIG_MODEL_DESC_REAL;
		format_real(buf, sizeof(buf), n->v.f);
		kv->value = arena_strndup(&p->arena, buf, strlen(buf));
		return kv->value ? MMIG_OK : MMIG_ENOMEM;
	case MMIG__Y_NULL:
		kv->value = "";
		return MMIG_OK;
	default:
		if (mmig__yaml_emit_buf(n, 0, &text, &len))
			return MMIG_ENOMEM;
		kv->value = arena_strndup(&p->arena, text, len);
		free(text);
		return kv->value ? MMIG_OK : MMIG_ENOMEM;
	}
}

static int
juju_config(struct parser *p, const struct mmig__ynode *map,
	    const struct mmig_model_desc_kv **out, size_t *n)
{
	struct mmig_model_desc_kv *kv;
	const struct mmig__ynode *c;
	size_t i = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!map || !map->n)
		return MMIG_OK;
	kv = arena_array(&p->arena, map->n, sizeof(*kv));
	if (!kv)
		return MMIG_ENOMEM;
	for (c = map->first; c; c = c->next)
		if ((rc = juju_kv(p, c, &kv[i++])))
			return rc;
	*out = kv;
	*n = map->n;
	return MMIG_OK;
}

static char *
juju_spec(struct parser *p, const struct mmig__juju_endpoint *e)
{
	size_t a = strlen(e->app), b = strlen(e->name);
	char *s = arena_alloc(&p->arena, a + b + 2, 1);

	if (s) {
		memcpy(s, e->app, a);
		s[a] = ':';
		memcpy(s + a + 1, e->name, b + 1);
	}
	return s;
}

/* Fill p->desc from @p m; the desc owns @p m from here (priv). */
static int
juju_desc(struct parser *p, struct mmig__juju_model *m)
{
	struct mmig_model_desc *d = p->desc;
	struct mmig_model_desc_machine *mc = NULL;
	struct mmig_model_desc_app *ap = NULL;
	struct mmig_model_desc_relation *rl = NULL;
	size_t i, j;
	int rc;

	d->priv = m;
	d->format = "juju";
	d->source_version = m->version;
	d->type = m->type;
	d->agent_version = m->agent_version;
	d->n_kept = m->n_kept;
	d->uuid = m->uuid;
	d->name = m->name;
	d->owner = m->owner;
	d->cloud = m->cloud;
	d->region = m->region;
	if ((rc = juju_config(p, m->config, &d->config, &d->n_config)))
		return rc;
	if (m->n_machines &&
	    !(mc = arena_array(&p->arena, m->n_machines, sizeof(*mc))))
		return MMIG_ENOMEM;
	for (i = 0; i < m->n_machines; i++) {
		mc[i].id = m->machines[i].id;
		mc[i].base = m->machines[i].series ? m->machines[i].series
						   : m->machines[i].base;
		mc[i].constraints = NULL;
	}
	d->machines = mc;
	d->n_machines = m->n_machines;
	if (m->n_apps && !(ap = arena_array(&p->arena, m->n_apps, sizeof(*ap))))
		return MMIG_ENOMEM;
	for (i = 0; i < m->n_apps; i++) {
		const struct mmig__juju_app *a = &m->apps[i];
		struct mmig_model_desc_unit *u = NULL;

		ap[i].name = a->name;
		ap[i].charm = a->charm_url;
		if ((rc = juju_config(p, a->settings, &ap[i].config,
				      &ap[i].n_config)))
			return rc;
		if (a->n_units &&
		    !(u = arena_array(&p->arena, a->n_units, sizeof(*u))))
			return MMIG_ENOMEM;
		for (j = 0; j < a->n_units; j++) {
			u[j].name = a->units[j].name;
			u[j].machine = a->units[j].machine;
		}
		ap[i].units = u;
		ap[i].n_units = a->n_units;
	}
	d->apps = ap;
	d->n_apps = m->n_apps;
	d->n_units_total = m->n_units_total;
	if (m->n_relations &&
	    !(rl = arena_array(&p->arena, m->n_relations, sizeof(*rl))))
		return MMIG_ENOMEM;
	for (i = 0; i < m->n_relations; i++) {
		memset(&rl[i], 0, sizeof(rl[i]));
		for (j = 0; j < m->relations[i].n_endpoints; j++) {
			const struct mmig__juju_endpoint *e =
				&m->relations[i].ep[j];

			if (!(rl[i].ep[j].spec = juju_spec(p, e)))
				return MMIG_ENOMEM;
			rl[i].ep[j].app = e->app;
			rl[i].ep[j].name = e->name;
		}
	}
	d->relations = rl;
	d->n_relations = m->n_relations;
	return MMIG_OK;
}

/* jansson's text can quote the input near the error; keep it one line. */
static void
one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int
mmig_model_desc_parse(const void *json, size_t len,
		      struct mmig_model_desc **out, char **errmsg)
{
	struct parser p = {0};
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	if (errmsg)
		*errmsg = NULL;
	if (out)
		*out = NULL;
	if (!out || (!json && len > 0))
		return MMIG_EINVAL;
	if (!json)
		json = "";
	if (len > MMIG_MODEL_DESC_MAX_BYTES) {
		rc = fail(&p, "description too large (%zu bytes, at most %zu)",
			  len, MMIG_MODEL_DESC_MAX_BYTES);
		goto done;
	}
	/* The description struct is the arena's first object; see free. */
	p.desc = arena_alloc(&p.arena, sizeof(*p.desc),
			     _Alignof(max_align_t));
	if (!p.desc) {
		rc = MMIG_ENOMEM;
		goto done;
	}
	memset(p.desc, 0, sizeof(*p.desc));
	p.desc->format = "json";
	p.desc->type = "iaas";

	if (mmig__juju_looks_yaml(json, len)) {
		struct mmig__juju_model *jm = NULL;

		rc = mmig__juju_read(json, len, &jm, &p.err);
		if (rc == MMIG_OK) {
			rc = juju_desc(&p, jm);
			if (rc != MMIG_OK && !p.desc->priv)
				mmig__juju_free(jm);
		}
		goto done;
	}

	/* Duplicate keys are rejected by jansson itself, which would
	 * otherwise keep the last one silently.  DECODE_ANY lets a scalar
	 * through so that it gets the same "not an object" as an array. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory) {
			rc = MMIG_ENOMEM;
		} else {
			one_line(jerr.text);
			rc = fail(&p, "line %d, column %d: %s", jerr.line,
				  jerr.column, jerr.text);
		}
		goto done;
	}
	rc = parse_root(&p, root);

done:
	json_decref(root);
	strmap_fini(&p.relations);
	strmap_fini(&p.units);
	strmap_fini(&p.apps);
	strmap_fini(&p.machines);
	if (rc == MMIG_OK) {
		*out = p.desc;
	} else {
		if (p.desc)
			mmig__juju_free((void *)p.desc->priv);
		arena_free(p.arena.first);
		if (errmsg && rc == MMIG_EMODEL)
			*errmsg = p.err;
		else
			mmig__free(p.err);
	}
	return rc;
}

void
mmig_model_desc_free(struct mmig_model_desc *desc)
{
	if (!desc)
		return;
	mmig__juju_free((void *)desc->priv);
	arena_free((struct chunk *)(void *)((char *)desc -
					     offsetof(struct chunk, data)));
}

void
mmig_model_desc_errmsg_free(char *errmsg)
{
	mmig__free(errmsg);
}

void
mmig_model_desc_bytes_free(void *bytes)
{
	mmig__free(bytes);
}

/*
 * Read all of @p fd, at most MMIG_MODEL_DESC_MAX_BYTES (one more is read to
 * tell "exactly the limit" from "over it").  @return MMIG_OK, -errno,
 * MMIG_EMODEL (too large) or MMIG_ENOMEM.
 */
static int
read_all(int fd, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	ssize_t r;
	char *b, *nb;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	cap = 64 * 1024;
	/* A regular file's size is a good first guess; it may still grow. */
	if (S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < MMIG_MODEL_DESC_MAX_BYTES)
		cap = (size_t)st.st_size + 2;
	b = mmig__malloc(cap);
	if (!b)
		return MMIG_ENOMEM;
	for (;;) {
		if (n + 1 >= cap) {
			if (n > MMIG_MODEL_DESC_MAX_BYTES) {
				mmig__free(b);
				return MMIG_EMODEL;
			}
			cap *= 2;
			nb = mmig__realloc(b, cap);
			if (!nb) {
				mmig__free(b);
				return MMIG_ENOMEM;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			mmig__free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > MMIG_MODEL_DESC_MAX_BYTES) {
		mmig__free(b);
		return MMIG_EMODEL;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return MMIG_OK;
}

int
mmig_model_desc_parse_file(const char *path, struct mmig_model_desc **out,
			   char **errmsg, void **bytes, size_t *len)
{
	char *buf = NULL, *msg = NULL, *full = NULL;
	size_t n = 0;
	int fd, rc;

	if (errmsg)
		*errmsg = NULL;
	if (bytes)
		*bytes = NULL;
	if (len)
		*len = 0;
	if (out)
		*out = NULL;
	if (!path || !out)
		return MMIG_EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail_msg;
	}
	rc = read_all(fd, &buf, &n);
	close(fd);
	if (rc == MMIG_EMODEL) {
		full = mmig__asprintf("%s: description too large (over %zu "
				      "bytes)",
				      path, MMIG_MODEL_DESC_MAX_BYTES);
		goto fail_full;
	}
	if (rc != MMIG_OK)
		goto fail_msg;

	rc = mmig_model_desc_parse(buf, n, out, &msg);
	if (rc == MMIG_EMODEL) {
		full = mmig__asprintf("%s: %s", path, msg);
		mmig_model_desc_errmsg_free(msg);
		goto fail_full;
	}
	if (rc != MMIG_OK)
		goto fail_buf;
	if (bytes)
		*bytes = buf;
	else
		mmig__free(buf);
	if (len)
		*len = n;
	return MMIG_OK;

fail_msg:
	if (rc != MMIG_ENOMEM)
		full = mmig__asprintf("%s: %s", path, mmig_strerror(rc));
fail_full:
	if (rc != MMIG_ENOMEM && !full)
		rc = MMIG_ENOMEM;
	if (errmsg)
		*errmsg = full;
	else
		mmig__free(full);
fail_buf:
	mmig__free(buf);
	return rc;
}
