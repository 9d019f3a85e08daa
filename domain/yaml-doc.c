/*
 * domain/yaml-doc.c - YAML documents in memory: libyaml's event parser
 * into a tree of struct mmig__ynode, and libyaml's emitter back out.
 *
 * Owns the rules of yaml-doc-int.h.  The parser is a loop over libyaml
 * events with an explicit stack of open containers (no recursion, so the
 * nesting limit, not the C stack, bounds a hostile file), and every node is
 * attached to its parent the moment it starts, so an error anywhere can
 * name its path.
 *
 * Invariants:
 *  - Every node and string of a document lives in the document's arena;
 *    freeing the document is freeing its chunks.
 *  - A mapping's keys are unique once its end event is processed: the
 *    members are sorted by key in a scratch array and neighbours compared,
 *    so a mapping of n keys costs n log n, never n squared.
 *  - An alias is a copy of its anchor's node, counted against the alias
 *    budget before it is made, so a billion-laughs file is refused after
 *    copying at most max_alias_nodes nodes.
 *  - Scalars are typed when read, by mmig__yaml_resolve() for plain ones;
 *    the emitter quotes any string whose plain form would read as another
 *    kind, so parse(emit(tree)) is the same tree.
 */
#include "internal.h"
#include "yaml-doc-int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------ */

#define CHUNK_SIZE ((size_t)256 * 1024)

struct ychunk {
	struct ychunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct mmig__ydoc {
	struct ychunk *chunks;
	struct mmig__ynode *root;
};

static void *
doc_alloc(struct mmig__ydoc *doc, size_t n)
{
	struct ychunk *c = doc->chunks;
	size_t off, size;

	if (c) {
		off = (c->used + _Alignof(max_align_t) - 1) &
		      ~(_Alignof(max_align_t) - 1);
		if (off <= c->size && n <= c->size - off) {
			c->used = off + n;
			return (char *)c->data + off;
		}
	}
	size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
	c = mmig__malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->used = n;
	c->size = size;
	if (size == n && doc->chunks) {
		/* A big one-off block: keep the current chunk current. */
		c->next = doc->chunks->next;
		doc->chunks->next = c;
	} else {
		c->next = doc->chunks;
		doc->chunks = c;
	}
	return c->data;
}

static char *
doc_strndup(struct mmig__ydoc *doc, const char *s, size_t len)
{
	char *d = doc_alloc(doc, len + 1);

	if (d) {
		if (len)
			memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static struct mmig__ynode *
node_new(struct mmig__ydoc *doc, unsigned kind)
{
	struct mmig__ynode *n = doc_alloc(doc, sizeof(*n));

	if (n) {
		*n = (struct mmig__ynode){.kind = (uint8_t)kind};
	}
	return n;
}

struct mmig__ydoc *
mmig__ydoc_new(void)
{
	return mmig__calloc(1, sizeof(struct mmig__ydoc));
}

void
mmig__ydoc_free(struct mmig__ydoc *doc)
{
	struct ychunk *c, *next;

	if (!doc)
		return;
	for (c = doc->chunks; c; c = next) {
		next = c->next;
		mmig__free(c);
	}
	mmig__free(doc);
}

struct mmig__ynode *
mmig__ydoc_root(const struct mmig__ydoc *doc)
{
	return doc ? doc->root : NULL;
}

void
mmig__ydoc_set_root(struct mmig__ydoc *doc, struct mmig__ynode *root)
{
	doc->root = root;
}

/* ------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------ */

struct mmig__ynode *
mmig__ynode_new_null(struct mmig__ydoc *doc)
{
	struct mmig__ynode *n = node_new(doc, MMIG__Y_NULL);

	if (n) {
		n->str = "null";
		n->len = 4;
	}
	return n;
}

struct mmig__ynode *
mmig__ynode_new_bool(struct mmig__ydoc *doc, bool b)
{
	struct mmig__ynode *n = node_new(doc, MMIG__Y_BOOL);

	if (n) {
		n->v.b = b;
		n->str = b ? "true" : "false";
		n->len = b ? 4 : 5;
	}
	return n;
}

static struct mmig__ynode *
new_scalar_text(struct mmig__ydoc *doc, unsigned kind, const char *text)
{
	struct mmig__ynode *n = node_new(doc, kind);
	size_t len = strlen(text);

	if (n && !(n->str = doc_strndup(doc, text, len)))
		return NULL;
	if (n)
		n->len = (uint32_t)len;
	return n;
}

struct mmig__ynode *
mmig__ynode_new_int(struct mmig__ydoc *doc, int64_t i)
{
	char buf[32];
	struct mmig__ynode *n;

	snprintf(buf, sizeof(buf), "%" PRId64, i);
	n = new_scalar_text(doc, MMIG__Y_INT, buf);
	if (n)
		n->v.i = i;
	return n;
}

struct mmig__ynode *
mmig__ynode_new_uint(struct mmig__ydoc *doc, uint64_t u)
{
	char buf[32];
	struct mmig__ynode *n;

	if (u <= INT64_MAX)
		return mmig__ynode_new_int(doc, (int64_t)u);
	snprintf(buf, sizeof(buf), "%" PRIu64, u);
	n = new_scalar_text(doc, MMIG__Y_UINT, buf);
	if (n)
		n->v.u = u;
	return n;
}

/* The shortest text that reads back as @p f and reads as a float: with a
 * '.', an exponent, or one of YAML's .inf/.nan spellings. */
static void
float_text(double f, char *buf, size_t size)
{
	int prec;

	if (isnan(f)) {
		snprintf(buf, size, ".nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, size, f > 0 ? ".inf" : "-.inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	if (!strpbrk(buf, ".eE"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

struct mmig__ynode *
mmig__ynode_new_float(struct mmig__ydoc *doc, double f)
{
	char buf[40];
	struct mmig__ynode *n;

	float_text(f, buf, sizeof(buf));
	n = new_scalar_text(doc, MMIG__Y_FLOAT, buf);
	if (n)
		n->v.f = f;
	return n;
}

struct mmig__ynode *
mmig__ynode_new_str(struct mmig__ydoc *doc, const char *s, size_t len)
{
	struct mmig__ynode *n;

	if (len > UINT32_MAX)
		return NULL;
	n = node_new(doc, MMIG__Y_STR);
	if (n && !(n->str = doc_strndup(doc, s, len)))
		return NULL;
	if (n)
		n->len = (uint32_t)len;
	return n;
}

struct mmig__ynode *
mmig__ynode_new_map(struct mmig__ydoc *doc)
{
	return node_new(doc, MMIG__Y_MAP);
}

struct mmig__ynode *
mmig__ynode_new_seq(struct mmig__ydoc *doc)
{
	return node_new(doc, MMIG__Y_SEQ);
}

static void
link_child(struct mmig__ynode *parent, struct mmig__ynode *child)
{
	child->parent = parent;
	child->next = NULL;
	child->index = parent->n++;
	if (parent->last)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
}

int
mmig__ynode_map_addn(struct mmig__ydoc *doc, struct mmig__ynode *map,
		     const char *key, size_t key_len, unsigned key_kind,
		     struct mmig__ynode *value)
{
	if (!map || map->kind != MMIG__Y_MAP || !value || value->parent ||
	    !key || key_len > UINT32_MAX || key_kind >= MMIG__Y_SEQ)
		return MMIG_EINVAL;
	if (!(value->key = doc_strndup(doc, key, key_len)))
		return MMIG_ENOMEM;
	value->key_len = (uint32_t)key_len;
	value->key_kind = (uint8_t)key_kind;
	link_child(map, value);
	return MMIG_OK;
}

int
mmig__ynode_map_add(struct mmig__ydoc *doc, struct mmig__ynode *map,
		    const char *key, struct mmig__ynode *value)
{
	if (!key)
		return MMIG_EINVAL;
	return mmig__ynode_map_addn(doc, map, key, strlen(key), MMIG__Y_STR,
				    value);
}

int
mmig__ynode_seq_add(struct mmig__ynode *seq, struct mmig__ynode *item)
{
	if (!seq || seq->kind != MMIG__Y_SEQ || !item || item->parent)
		return MMIG_EINVAL;
	item->key = NULL;
	item->key_len = 0;
	item->key_kind = 0;
	link_child(seq, item);
	return MMIG_OK;
}

void
mmig__ynode_remove(struct mmig__ynode *m)
{
	struct mmig__ynode *c = m->parent, *prev = NULL, *x;
	uint32_t i = 0;

	if (!c)
		return;
	for (x = c->first; x && x != m; x = x->next)
		prev = x;
	if (!x)
		return;
	if (prev)
		prev->next = m->next;
	else
		c->first = m->next;
	if (c->last == m)
		c->last = prev;
	c->n--;
	for (x = c->first; x; x = x->next)
		x->index = i++;
	m->parent = NULL;
	m->next = NULL;
	/* Keep the key: a caller moving a member elsewhere may want it. */
}

/* Copy @p n's own fields (not its links) into a fresh node of @p doc. */
static struct mmig__ynode *
copy_one(struct mmig__ydoc *doc, const struct mmig__ynode *n)
{
	struct mmig__ynode *c = node_new(doc, n->kind);

	if (!c)
		return NULL;
	c->v = n->v;
	c->len = n->len;
	c->line = n->line;
	c->col = n->col;
	c->style = n->style;
	if (n->str && !(c->str = doc_strndup(doc, n->str, n->len)))
		return NULL;
	return c;
}

/* copy_one() plus the member's key. */
static struct mmig__ynode *
copy_member(struct mmig__ydoc *doc, const struct mmig__ynode *n)
{
	struct mmig__ynode *c = copy_one(doc, n);

	if (c && n->key) {
		if (!(c->key = doc_strndup(doc, n->key, n->key_len)))
			return NULL;
		c->key_len = n->key_len;
		c->key_kind = n->key_kind;
	}
	return c;
}

/*
 * Deep copy without recursion: walk the source in document order; cur is
 * always the copy of s.
 */
bool
mmig__ynode_same(const struct mmig__ynode *a, const struct mmig__ynode *b,
		 const struct mmig__ynode **where)
{
	const struct mmig__ynode *x, *y;

	if (where)
		*where = a;
	if (a->kind != b->kind || a->n != b->n)
		return false;
	switch (a->kind) {
	case MMIG__Y_BOOL:
		return a->v.b == b->v.b;
	case MMIG__Y_INT:
		return a->v.i == b->v.i;
	case MMIG__Y_UINT:
		return a->v.u == b->v.u;
	case MMIG__Y_FLOAT:
		return (isnan(a->v.f) && isnan(b->v.f)) || a->v.f == b->v.f;
	case MMIG__Y_STR:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	case MMIG__Y_SEQ:
		for (x = a->first, y = b->first; x && y; x = x->next, y = y->next)
			if (!mmig__ynode_same(x, y, where))
				return false;
		return true;
	case MMIG__Y_MAP:
		for (x = a->first; x; x = x->next) {
			for (y = b->first; y; y = y->next)
				if (y->key_kind == x->key_kind &&
				    y->key_len == x->key_len &&
				    !memcmp(y->key, x->key, x->key_len))
					break;
			if (!y) {
				if (where)
					*where = x;
				return false;
			}
			if (!mmig__ynode_same(x, y, where))
				return false;
		}
		return true;
	default:
		return true;
	}
}

struct mmig__ynode *
mmig__ynode_copy(struct mmig__ydoc *doc, const struct mmig__ynode *n)
{
	const struct mmig__ynode *s = n;
	struct mmig__ynode *root, *cur, *c;

	if (!(root = copy_one(doc, n)))
		return NULL;
	cur = root;
	for (;;) {
		if (s->first) {
			s = s->first;
		} else {
			while (s != n && !s->next) {
				s = s->parent;
				cur = cur->parent;
			}
			if (s == n)
				return root;
			s = s->next;
			cur = cur->parent;
		}
		if (!(c = copy_member(doc, s)))
			return NULL;
		link_child(cur, c);
		cur = c;
	}
}

int
mmig__ynode_src_text(struct mmig__ydoc *doc, const struct mmig__ynode *map,
		     const void *src, size_t src_len, const char **text,
		     size_t *len)
{
	const unsigned char *s = src;
	const struct mmig__ynode *c;
	size_t total = 0;
	char *t, *w;

	*text = NULL;
	*len = 0;
	if (!map || map->kind != MMIG__Y_MAP || !map->first)
		return MMIG_OK;
	for (c = map->first; c; c = c->next) {
		if (!c->src_end)
			return MMIG_OK;
		if (!s || c->src_end <= c->src_start || c->src_end > src_len)
			return MMIG_EINVAL;
		total += c->src_end - c->src_start + 1;
	}
	if (!(t = doc_alloc(doc, total + 1)))
		return MMIG_ENOMEM;
	w = t;
	for (c = map->first; c; c = c->next) {
		size_t n = c->src_end - c->src_start, k = n;

		/* A block collection ends where the next token starts: after
		 * that token's indentation, which is not the member's (and
		 * would be one more line for a keeping block scalar `|+`). */
		while (k > 0 && (s[c->src_start + k - 1] == ' ' ||
				 s[c->src_start + k - 1] == '\t'))
			k--;
		if (k > 0 && (s[c->src_start + k - 1] == '\n' ||
			      s[c->src_start + k - 1] == '\r'))
			n = k;
		memcpy(w, s + c->src_start, n);
		w += n;
		if (w[-1] != '\n')
			*w++ = '\n';
	}
	*w = '\0';
	*text = t;
	*len = (size_t)(w - t);
	return MMIG_OK;
}

struct mmig__ynode *
mmig__ynode_get(const struct mmig__ynode *map, const char *key)
{
	struct mmig__ynode *m;
	size_t len;

	if (!map || map->kind != MMIG__Y_MAP || !key)
		return NULL;
	len = strlen(key);
	for (m = map->first; m; m = m->next)
		if (m->key_kind == MMIG__Y_STR && m->key_len == len &&
		    memcmp(m->key, key, len) == 0)
			return m;
	return NULL;
}

const char *
mmig__ykind_name(unsigned kind)
{
	switch (kind) {
	case MMIG__Y_NULL: return "null";
	case MMIG__Y_BOOL: return "bool";
	case MMIG__Y_INT:
	case MMIG__Y_UINT: return "int";
	case MMIG__Y_FLOAT: return "float";
	case MMIG__Y_STR: return "string";
	case MMIG__Y_SEQ: return "sequence";
	case MMIG__Y_MAP: return "mapping";
	default: return "?";
	}
}

/* ------------------------------------------------------------------------
 * Paths and messages
 * ------------------------------------------------------------------------ */

static bool
key_is_bare(const char *k, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '/'))
			return false;
	}
	return true;
}

/* Append to buf at *pos, never past size - 4 (room for "..."). */
struct pathbuf {
	char *buf;
	size_t size;
	size_t pos;
	bool cut;
};

static void
pb_put(struct pathbuf *p, const char *s, size_t len)
{
	size_t room;

	if (p->cut || p->size < 4)
		return;
	room = p->size - 4 - p->pos;
	if (len > room) {
		memcpy(p->buf + p->pos, s, room);
		p->pos += room;
		p->cut = true;
		return;
	}
	memcpy(p->buf + p->pos, s, len);
	p->pos += len;
}

static void
pb_key(struct pathbuf *p, const char *k, size_t len, bool first)
{
	size_t i;
	char esc[8];

	if (key_is_bare(k, len)) {
		if (!first)
			pb_put(p, ".", 1);
		pb_put(p, k, len > 64 ? 64 : len);
		if (len > 64)
			pb_put(p, "...", 3);
		return;
	}
	pb_put(p, "[\"", 2);
	for (i = 0; i < len && i < 64; i++) {
		unsigned char c = (unsigned char)k[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			pb_put(p, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			pb_put(p, esc, 4);
		} else {
			pb_put(p, (const char *)&k[i], 1);
		}
	}
	if (len > 64)
		pb_put(p, "...", 3);
	pb_put(p, "\"]", 2);
}

void
mmig__ynode_path(const struct mmig__ynode *n, char *buf, size_t size)
{
	const struct mmig__ynode *stack[256];
	size_t depth = 0, skipped = 0, i;
	struct pathbuf p = {.buf = buf, .size = size};
	char idx[32];
	const struct mmig__ynode *x;

	if (!buf || size == 0)
		return;
	/* The innermost 256 levels; deeper trees show "..." first. */
	for (x = n; x && x->parent; x = x->parent) {
		if (depth < MMIG_ARRAY_LEN(stack))
			stack[depth++] = x;
		else
			skipped++;
	}
	if (skipped) {
		/* Keep the innermost levels: shift them into place. */
		pb_put(&p, "...", 3);
	}
	for (i = depth; i-- > 0;) {
		x = stack[i];
		if (x->key) {
			pb_key(&p, x->key, x->key_len, i + 1 == depth &&
							       !skipped);
		} else {
			snprintf(idx, sizeof(idx), "[%" PRIu32 "]",
				 x->index);
			pb_put(&p, idx, strlen(idx));
		}
	}
	if (p.cut && size >= 4) {
		memcpy(buf + p.pos, "...", 3);
		p.pos += 3;
	}
	buf[p.pos < size ? p.pos : size - 1] = '\0';
}

/* @p s (freed) with its control characters escaped ("\n", "\x1f"): a
 * message quotes input, and a message is one line whatever the input. */
static char *
one_line(char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, n = 0;
	unsigned char c;
	char *out;

	for (i = 0; s[i]; i++)
		n += (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
	if (!n)
		return s;
	out = mmig__malloc(i + 3 * n + 1);
	if (out) {
		for (i = 0; (c = (unsigned char)s[i]); i++) {
			if (c >= 0x20 && c != 0x7f) {
				out[o++] = (char)c;
				continue;
			}
			out[o++] = '\\';
			if (c == '\n' || c == '\t') {
				out[o++] = c == '\n' ? 'n' : 't';
				continue;
			}
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
		out[o] = '\0';
	}
	mmig__free(s);
	return out;
}

static char *
vmsg_at(uint32_t line, uint32_t col, const char *path, const char *fmt,
	va_list ap)
{
	char *what = mmig__vasprintf(fmt, ap), *m;

	if (!what)
		return NULL;
	if (line && path && *path)
		m = mmig__asprintf("line %" PRIu32 ", column %" PRIu32
				   ": %s: %s",
				   line, col, path, what);
	else if (line)
		m = mmig__asprintf("line %" PRIu32 ", column %" PRIu32 ": %s",
				   line, col, what);
	else if (path && *path)
		m = mmig__asprintf("%s: %s", path, what);
	else
		m = mmig__asprintf("%s", what);
	mmig__free(what);
	return m ? one_line(m) : NULL;
}

char *
mmig__ynode_errmsg(const struct mmig__ynode *n, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	char *m;

	path[0] = '\0';
	if (n)
		mmig__ynode_path(n, path, sizeof(path));
	va_start(ap, fmt);
	m = vmsg_at(n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
	va_end(ap);
	return m;
}

/* ------------------------------------------------------------------------
 * Plain scalars, as gopkg.in/yaml.v2 resolves them
 * ------------------------------------------------------------------------ */

static const struct {
	const char *text;
	unsigned kind;
	int val; /* bool value, or float: 1 +inf, -1 -inf, 0 nan */
} resolve_map[] = {
	{"y", MMIG__Y_BOOL, 1},     {"Y", MMIG__Y_BOOL, 1},
	{"yes", MMIG__Y_BOOL, 1},   {"Yes", MMIG__Y_BOOL, 1},
	{"YES", MMIG__Y_BOOL, 1},   {"true", MMIG__Y_BOOL, 1},
	{"True", MMIG__Y_BOOL, 1},  {"TRUE", MMIG__Y_BOOL, 1},
	{"on", MMIG__Y_BOOL, 1},    {"On", MMIG__Y_BOOL, 1},
	{"ON", MMIG__Y_BOOL, 1},    {"n", MMIG__Y_BOOL, 0},
	{"N", MMIG__Y_BOOL, 0},     {"no", MMIG__Y_BOOL, 0},
	{"No", MMIG__Y_BOOL, 0},    {"NO", MMIG__Y_BOOL, 0},
	{"false", MMIG__Y_BOOL, 0}, {"False", MMIG__Y_BOOL, 0},
	{"FALSE", MMIG__Y_BOOL, 0}, {"off", MMIG__Y_BOOL, 0},
	{"Off", MMIG__Y_BOOL, 0},   {"OFF", MMIG__Y_BOOL, 0},
	{"~", MMIG__Y_NULL, 0},     {"null", MMIG__Y_NULL, 0},
	{"Null", MMIG__Y_NULL, 0},  {"NULL", MMIG__Y_NULL, 0},
	{".nan", MMIG__Y_FLOAT, 0}, {".NaN", MMIG__Y_FLOAT, 0},
	{".NAN", MMIG__Y_FLOAT, 0}, {".inf", MMIG__Y_FLOAT, 1},
	{".Inf", MMIG__Y_FLOAT, 1}, {".INF", MMIG__Y_FLOAT, 1},
	{"+.inf", MMIG__Y_FLOAT, 1}, {"+.Inf", MMIG__Y_FLOAT, 1},
	{"+.INF", MMIG__Y_FLOAT, 1}, {"-.inf", MMIG__Y_FLOAT, -1},
	{"-.Inf", MMIG__Y_FLOAT, -1}, {"-.INF", MMIG__Y_FLOAT, -1},
};

static int
digit_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* Go's strconv.ParseUint(s, 0, 64), underscores already removed. */
static bool
go_parse_uint(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return false;
	if (s[0] == '0') {
		char c1 = len >= 3 ? (char)(s[1] | 0x20) : 0;

		if (c1 == 'b' || c1 == 'o' || c1 == 'x') {
			base = c1 == 'b' ? 2 : c1 == 'o' ? 8 : 16;
			s += 2;
			len -= 2;
		} else {
			base = 8;
			s += 1;
			len -= 1;
		}
	}
	for (i = 0; i < len; i++) {
		int d = digit_val(s[i]);

		if (d >= (int)base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return true;
}

/* Go's strconv.ParseInt(s, 0, 64). */
static bool
go_parse_int(const char *s, size_t len, int64_t *out)
{
	bool neg = false;
	uint64_t u;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++;
		len--;
	}
	if (!go_parse_uint(s, len, &u))
		return false;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return false;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN
						    : -(int64_t)u;
	} else {
		if (u > INT64_MAX)
			return false;
		*out = (int64_t)u;
	}
	return true;
}

static size_t
span_digits(const char *s, size_t i, size_t len)
{
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool
yaml_style_float(const char *s, size_t len)
{
	size_t i = 0, j;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < len && s[i] == '.') {
		j = span_digits(s, i + 1, len);
		if (j == i + 1)
			return false;
		i = j;
	} else {
		j = span_digits(s, i, len);
		if (j == i)
			return false;
		i = j;
		if (i < len && s[i] == '.')
			i = span_digits(s, i + 1, len);
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		j = span_digits(s, i, len);
		if (j == i)
			return false;
		i = j;
	}
	return i == len;
}

/* strtod of a text yaml_style_float() accepted; false on overflow, as Go's
 * ParseFloat fails with ErrRange there. */
static bool
parse_float(const char *s, size_t len, double *out)
{
	char small[64], *buf = small;
	double f;
	bool ok;

	if (len >= sizeof(small)) {
		buf = mmig__malloc(len + 1);
		if (!buf)
			return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	f = strtod(buf, NULL);
	ok = !(errno == ERANGE && isinf(f));
	if (buf != small)
		mmig__free(buf);
	if (ok)
		*out = f;
	return ok;
}

void
mmig__yaml_resolve(const char *s, size_t len, unsigned *kind,
		   struct mmig__ynode *n)
{
	char c, small[64], *plain;
	size_t i, plen;
	int64_t iv;
	uint64_t uv;
	double f;

	*kind = MMIG__Y_STR;
	if (len == 0) {
		*kind = MMIG__Y_NULL;
		return;
	}
	c = s[0];
	if (!(c == '+' || c == '-' || (c >= '0' && c <= '9') || c == '.' ||
	      strchr("yYnNtTfFoO~", c)))
		return;
	if (memchr(s, '\0', len))
		return;
	for (i = 0; i < MMIG_ARRAY_LEN(resolve_map); i++) {
		if (strlen(resolve_map[i].text) == len &&
		    memcmp(resolve_map[i].text, s, len) == 0) {
			*kind = resolve_map[i].kind;
			if (*kind == MMIG__Y_BOOL)
				n->v.b = resolve_map[i].val != 0;
			else if (*kind == MMIG__Y_FLOAT)
				n->v.f = resolve_map[i].val == 0 ? NAN
					 : resolve_map[i].val > 0
						 ? INFINITY
						 : -INFINITY;
			return;
		}
	}
	if (c == '.') {
		/* Go's ParseFloat of the text as it is: ".5", ".5e3". */
		if (len > 1 && yaml_style_float(s, len) && parse_float(s, len, &f)) {
			*kind = MMIG__Y_FLOAT;
			n->v.f = f;
		}
		return;
	}
	if (!(c == '+' || c == '-' || (c >= '0' && c <= '9')))
		return;
	/* Digits or a sign: an int, else a float; underscores dropped. */
	plain = len < sizeof(small) ? small : mmig__malloc(len + 1);
	if (!plain)
		return;
	for (i = 0, plen = 0; i < len; i++)
		if (s[i] != '_')
			plain[plen++] = s[i];
	if (go_parse_int(plain, plen, &iv)) {
		*kind = MMIG__Y_INT;
		n->v.i = iv;
	} else if (go_parse_uint(plain, plen, &uv)) {
		*kind = MMIG__Y_UINT;
		n->v.u = uv;
	} else if (yaml_style_float(plain, plen) &&
		   parse_float(plain, plen, &f)) {
		*kind = MMIG__Y_FLOAT;
		n->v.f = f;
	}
	if (plain != small)
		mmig__free(plain);
}

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

#define DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define DEFAULT_MAX_DEPTH 128u
#define DEFAULT_MAX_NODES ((size_t)64 << 20)
#define DEFAULT_MAX_ALIAS_NODES ((size_t)100000)

#define TAG_PREFIX "tag:yaml.org,2002:"

/* key_kind of a pending "<<" member, until its mapping ends. */
#define KEY_MERGE 0xffu

struct frame {
	struct mmig__ynode *node;
	/* Mappings: the key waiting for its value. */
	bool have_key;
	const char *key;
	uint32_t key_len;
	uint8_t key_kind;
	/* The anchor (index in anchors) this container defines, or -1. */
	long anchor;
	/* Source ranges (struct mmig__ynode src_start): a block mapping's
	 * pending key starts at byte key_start and can begin a member's
	 * text (key_ok); this container is such a member, from byte
	 * raw_start (raw); something inside it cannot be copied from the
	 * source (tainted). */
	bool block, key_ok, raw, tainted;
	uint32_t key_start, raw_start;
};

struct anchor {
	char *name;
	struct mmig__ynode *node;
	bool open;
};

struct parser {
	struct mmig__ydoc *doc;
	unsigned flags;
	struct mmig__yaml_limits lim;
	size_t nodes;
	size_t alias_nodes;
	struct frame *stack;
	size_t depth;
	size_t cap;
	struct anchor *anchors;
	size_t n_anchors;
	size_t cap_anchors;
	int docs;
	/* The scalar being placed was tagged !!str. */
	bool forced_str;
	/* Source ranges: on when the input is UTF-8 without a byte order
	 * mark and aliases are refused.  libyaml's marks count characters;
	 * src_ch/src_b is a cursor mapping one to its byte offset.  place()
	 * leaves in placed_raw/placed_start whether the node it placed
	 * begins a member's text, and where. */
	bool ranges;
	const unsigned char *src;
	size_t src_len, src_ch, src_b;
	bool placed_raw;
	uint32_t placed_start;
	char *err;
	int rc;
};

static int
fail_at(struct parser *p, uint32_t line, uint32_t col,
	const struct mmig__ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Record the first error: at node @p at's path (or the innermost open
 * container's when NULL), at line:col (1-based). */
static int
fail_at(struct parser *p, uint32_t line, uint32_t col,
	const struct mmig__ynode *at, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	if (p->rc)
		return p->rc;
	path[0] = '\0';
	if (!at && p->depth) {
		const struct frame *f = &p->stack[p->depth - 1];

		mmig__ynode_path(f->node, path, sizeof(path));
		if (f->have_key && f->key_kind != KEY_MERGE) {
			struct pathbuf pb = {.buf = path,
					     .size = sizeof(path),
					     .pos = strlen(path)};

			pb_key(&pb, f->key, f->key_len, pb.pos == 0);
			path[pb.pos] = '\0';
		}
	} else if (at) {
		mmig__ynode_path(at, path, sizeof(path));
	}
	va_start(ap, fmt);
	p->err = vmsg_at(line, col, path, fmt, ap);
	va_end(ap);
	p->rc = p->err ? MMIG_EMODEL : MMIG_ENOMEM;
	return p->rc;
}

static int
oom(struct parser *p)
{
	if (!p->rc)
		p->rc = MMIG_ENOMEM;
	return p->rc;
}

static uint32_t
mark_line(yaml_mark_t m)
{
	return m.line + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(m.line + 1);
}

static uint32_t
mark_col(yaml_mark_t m)
{
	return m.column + 1 > UINT32_MAX ? UINT32_MAX
					 : (uint32_t)(m.column + 1);
}

static int
count_nodes(struct parser *p, size_t k, yaml_mark_t m)
{
	if (k > p->lim.max_nodes - p->nodes) {
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "more than %zu nodes", p->lim.max_nodes);
	}
	p->nodes += k;
	return MMIG_OK;
}

/* Check a tag: NULL or one of the standard ones we know. */
static int
check_tag(struct parser *p, const yaml_char_t *tag, bool scalar,
	  unsigned *tagged_kind, yaml_mark_t m)
{
	static const struct {
		const char *name;
		unsigned kind;
		bool scalar;
	} tags[] = {
		{"str", MMIG__Y_STR, true},     {"int", MMIG__Y_INT, true},
		{"float", MMIG__Y_FLOAT, true}, {"bool", MMIG__Y_BOOL, true},
		{"null", MMIG__Y_NULL, true},   {"map", MMIG__Y_MAP, false},
		{"seq", MMIG__Y_SEQ, false},
	};
	const char *t = (const char *)tag;
	size_t i;

	*tagged_kind = 0xff;
	if (!t)
		return MMIG_OK;
	if (strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
		for (i = 0; i < MMIG_ARRAY_LEN(tags); i++) {
			if (strcmp(t + strlen(TAG_PREFIX), tags[i].name) == 0 &&
			    tags[i].scalar == scalar) {
				*tagged_kind = tags[i].kind;
				return MMIG_OK;
			}
		}
	}
	return fail_at(p, mark_line(m), mark_col(m), NULL,
		       "tag \"%.64s\" not supported here", t);
}

static int
add_anchor(struct parser *p, const yaml_char_t *name,
	   struct mmig__ynode *node, bool open, long *idx)
{
	struct anchor *a;

	*idx = -1;
	if (!name)
		return MMIG_OK;
	if (p->n_anchors == p->cap_anchors) {
		size_t cap = p->cap_anchors ? p->cap_anchors * 2 : 16;

		a = mmig__realloc(p->anchors, cap * sizeof(*a));
		if (!a)
			return oom(p);
		p->anchors = a;
		p->cap_anchors = cap;
	}
	a = &p->anchors[p->n_anchors];
	if (!(a->name = mmig__strdup((const char *)name)))
		return oom(p);
	a->node = node;
	a->open = open;
	*idx = (long)p->n_anchors++;
	return MMIG_OK;
}

/* The byte offset of character @p ch of the input (libyaml's mark.index
 * counts characters).  Moves a cursor: marks come nearly in order, so the
 * whole parse walks the input about once. */
static uint32_t
src_byte(struct parser *p, size_t ch)
{
	const unsigned char *s = p->src;
	size_t b = p->src_b, c = p->src_ch;

	while (c < ch && b < p->src_len) {
		unsigned char x = s[b];

		b += x < 0x80 ? 1 : x < 0xe0 ? 2 : x < 0xf0 ? 3 : 4;
		c++;
	}
	if (b > p->src_len)
		b = p->src_len;
	while (c > ch && b > 0) {
		b--;
		while (b > 0 && (s[b] & 0xc0) == 0x80)
			b--;
		c--;
	}
	p->src_b = b;
	p->src_ch = c;
	return (uint32_t)b;
}

/* Can a key that ends at character @p end begin a member's text?  Only
 * when a ':' follows it on its line (not an explicit "? key"). */
static bool
key_then_colon(struct parser *p, size_t end)
{
	size_t b = src_byte(p, end);

	while (b < p->src_len && (p->src[b] == ' ' || p->src[b] == '\t'))
		b++;
	return b < p->src_len && p->src[b] == ':';
}

/* A block scalar whose header (up to its line's end) holds a digit may
 * have an indentation indicator, fixed relative to its mapping's
 * indentation: its member's text cannot move.  (A digit in a tag, anchor
 * or comment there only costs the copy.) */
static bool
has_indent_indicator(struct parser *p, size_t start)
{
	size_t b = src_byte(p, start);

	for (; b < p->src_len && p->src[b] != '\n' && p->src[b] != '\r'; b++)
		if (p->src[b] >= '1' && p->src[b] <= '9')
			return true;
	return false;
}

/* Something inside the innermost open container cannot be copied from the
 * source (taints every container around it, see on_end()). */
static void
taint(struct parser *p)
{
	if (p->depth)
		p->stack[p->depth - 1].tainted = true;
}

/* Attach @p node where the stack says: root, sequence item, mapping key
 * or mapping value.  A key is consumed here and not kept as a node.
 * @p end is the node's end mark (used for keys only). */
static int
place(struct parser *p, struct mmig__ynode *node, yaml_mark_t m,
      yaml_mark_t end)
{
	struct frame *f;

	p->placed_raw = false;
	if (p->depth == 0) {
		p->doc->root = node;
		return MMIG_OK;
	}
	f = &p->stack[p->depth - 1];
	if (f->node->kind == MMIG__Y_SEQ) {
		link_child(f->node, node);
		return MMIG_OK;
	}
	if (f->have_key) {
		node->key = f->key;
		node->key_len = f->key_len;
		node->key_kind = f->key_kind;
		f->have_key = false;
		p->placed_raw = f->key_ok;
		p->placed_start = f->key_start;
		link_child(f->node, node);
		return MMIG_OK;
	}
	/* A key. */
	if (node->kind == MMIG__Y_MAP || node->kind == MMIG__Y_SEQ)
		return fail_at(p, mark_line(m), mark_col(m), f->node,
			       "a mapping key must be a scalar, not a %s",
			       mmig__ykind_name(node->kind));
	if (node->kind == MMIG__Y_STR && node->style == MMIG__YS_PLAIN &&
	    node->len == 2 && memcmp(node->str, "<<", 2) == 0 &&
	    !p->forced_str) {
		if (!(p->flags & MMIG__YAML_ALLOW_ALIASES))
			return fail_at(p, mark_line(m), mark_col(m), f->node,
				       "merge keys (<<) are not allowed here");
		f->key_kind = KEY_MERGE;
	} else {
		if ((p->flags & MMIG__YAML_STRING_KEYS) &&
		    node->kind != MMIG__Y_STR)
			return fail_at(p, mark_line(m), mark_col(m), f->node,
				       "key \"%.64s\" is a %s, not a string",
				       node->str, mmig__ykind_name(node->kind));
		f->key_kind = node->kind;
	}
	f->key = node->str;
	f->key_len = node->len;
	f->have_key = true;
	f->key_ok = p->ranges && f->block &&
		    (node->style == MMIG__YS_PLAIN ||
		     node->style == MMIG__YS_SINGLE ||
		     node->style == MMIG__YS_DOUBLE) &&
		    key_then_colon(p, end.index);
	if (f->key_ok)
		f->key_start = src_byte(p, m.index);
	return MMIG_OK;
}

static int
push(struct parser *p, struct mmig__ynode *node, long anchor,
     yaml_mark_t m, bool block)
{
	struct frame *f;

	if (p->depth >= p->lim.max_depth)
		return fail_at(p, mark_line(m), mark_col(m), node,
			       "nested deeper than %u levels",
			       p->lim.max_depth);
	if (p->depth == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;

		f = mmig__realloc(p->stack, cap * sizeof(*f));
		if (!f)
			return oom(p);
		p->stack = f;
		p->cap = cap;
	}
	p->stack[p->depth++] = (struct frame){
		.node = node,
		.anchor = anchor,
		.block = block,
		.raw = p->placed_raw,
		.raw_start = p->placed_start,
	};
	return MMIG_OK;
}

static int
cmp_member(const void *a, const void *b)
{
	const struct mmig__ynode *x = *(struct mmig__ynode *const *)a;
	const struct mmig__ynode *y = *(struct mmig__ynode *const *)b;
	uint32_t n;
	int c;

	if (x->key_kind != y->key_kind)
		return x->key_kind < y->key_kind ? -1 : 1;
	n = x->key_len < y->key_len ? x->key_len : y->key_len;
	c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	/* Equal keys: document order, so the later one is reported. */
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Same key?  Numbers compare by value ("0x10" and 16 are one key). */
static bool
same_key(const struct mmig__ynode *x, const struct mmig__ynode *y)
{
	return x->key_kind == y->key_kind && x->key_len == y->key_len &&
	       memcmp(x->key, y->key, x->key_len) == 0;
}

static void
unlink_member(struct mmig__ynode *map, struct mmig__ynode *prev,
	      struct mmig__ynode *m)
{
	if (prev)
		prev->next = m->next;
	else
		map->first = m->next;
	if (map->last == m)
		map->last = prev;
	map->n--;
}

static void
renumber(struct mmig__ynode *c)
{
	struct mmig__ynode *m;
	uint32_t i = 0;

	for (m = c->first; m; m = m->next)
		m->index = i++;
}

/* Numeric keys are compared by their canonical text, so "0x10: a" and
 * "16: b" collide as yaml.v2 would have them. */
static int
canon_keys(struct parser *p, struct mmig__ynode *map)
{
	struct mmig__ynode *m;
	char buf[64];

	for (m = map->first; m; m = m->next) {
		unsigned kind;
		struct mmig__ynode tmp = {0};

		if (m->key_kind != MMIG__Y_INT && m->key_kind != MMIG__Y_UINT &&
		    m->key_kind != MMIG__Y_FLOAT && m->key_kind != MMIG__Y_BOOL &&
		    m->key_kind != MMIG__Y_NULL)
			continue;
		mmig__yaml_resolve(m->key, m->key_len, &kind, &tmp);
		if (m->key_kind == MMIG__Y_FLOAT && kind == MMIG__Y_INT) {
			/* "!!float 1": written back as "1.0", or it would
			 * read again as an integer key. */
			tmp.v.f = (double)tmp.v.i;
			kind = MMIG__Y_FLOAT;
		} else if (m->key_kind == MMIG__Y_FLOAT &&
			   kind == MMIG__Y_UINT) {
			tmp.v.f = (double)tmp.v.u;
			kind = MMIG__Y_FLOAT;
		}
		if (kind != m->key_kind)
			continue; /* tagged: keep the text */
		switch (kind) {
		case MMIG__Y_INT:
			snprintf(buf, sizeof(buf), "%" PRId64, tmp.v.i);
			break;
		case MMIG__Y_UINT:
			snprintf(buf, sizeof(buf), "%" PRIu64, tmp.v.u);
			break;
		case MMIG__Y_FLOAT:
			float_text(tmp.v.f, buf, sizeof(buf));
			break;
		case MMIG__Y_BOOL:
			snprintf(buf, sizeof(buf), "%s",
				 tmp.v.b ? "true" : "false");
			break;
		default:
			snprintf(buf, sizeof(buf), "null");
		}
		if (strlen(buf) != m->key_len ||
		    memcmp(buf, m->key, m->key_len) != 0) {
			if (!(m->key = doc_strndup(p->doc, buf, strlen(buf))))
				return oom(p);
			m->key_len = (uint32_t)strlen(buf);
		}
	}
	return MMIG_OK;
}

static int
check_dups(struct parser *p, struct mmig__ynode *map)
{
	struct mmig__ynode **v, *m;
	size_t i = 0;
	int rc = MMIG_OK;

	if (map->n < 2)
		return MMIG_OK;
	if (map->n == 2) {
		if (same_key(map->first, map->last))
			goto dup2;
		return MMIG_OK;
	}
	v = mmig__malloc(map->n * sizeof(*v));
	if (!v)
		return oom(p);
	for (m = map->first; m; m = m->next)
		v[i++] = m;
	qsort(v, map->n, sizeof(*v), cmp_member);
	for (i = 1; i < map->n; i++) {
		if (same_key(v[i - 1], v[i])) {
			const struct mmig__ynode *a = v[i - 1], *b = v[i];

			if (a->index > b->index) {
				const struct mmig__ynode *t = a;
				a = b;
				b = t;
			}
			rc = fail_at(p, b->line, b->col, b,
				     "duplicate key (first at line %" PRIu32
				     ", column %" PRIu32 ")",
				     a->line, a->col);
			break;
		}
	}
	mmig__free(v);
	return rc;
dup2:
	return fail_at(p, map->last->line, map->last->col, map->last,
		       "duplicate key (first at line %" PRIu32
		       ", column %" PRIu32 ")",
		       map->first->line, map->first->col);
}

/* Move @p src's members that @p map lacks into @p map (src is discarded
 * afterwards).  Linear lookups: merges are for small bundle files. */
static void
merge_from(struct mmig__ynode *map, struct mmig__ynode *src)
{
	struct mmig__ynode *m, *next, *x;

	for (m = src->first; m; m = next) {
		bool found = false;

		next = m->next;
		for (x = map->first; x; x = x->next)
			if (same_key(x, m)) {
				found = true;
				break;
			}
		if (!found)
			link_child(map, m);
	}
}

/* At a mapping's end: refuse duplicates among the explicit keys, then
 * apply "<<" members (explicit keys win; in a sequence of mappings, the
 * earlier mapping wins). */
static int
end_mapping(struct parser *p, struct mmig__ynode *map)
{
	struct mmig__ynode *m, *prev = NULL, *next, *merges = NULL,
			   **tail = &merges;
	int rc;

	if (map->first && (rc = canon_keys(p, map)))
		return rc;
	for (m = map->first; m; m = next) {
		next = m->next;
		if (m->key_kind == KEY_MERGE) {
			unlink_member(map, prev, m);
			m->next = NULL;
			*tail = m;
			tail = &m->next;
			continue;
		}
		prev = m;
	}
	if (merges)
		renumber(map);
	if ((rc = check_dups(p, map)))
		return rc;
	for (m = merges; m; m = next) {
		next = m->next;
		if (m->kind == MMIG__Y_MAP) {
			merge_from(map, m);
		} else if (m->kind == MMIG__Y_SEQ) {
			struct mmig__ynode *s;

			for (s = m->first; s; s = s->next)
				if (s->kind != MMIG__Y_MAP)
					return fail_at(
						p, s->line, s->col, s,
						"a merge (<<) takes mappings, not a %s",
						mmig__ykind_name(s->kind));
			for (s = m->first; s; s = s->next)
				merge_from(map, s);
		} else {
			return fail_at(p, m->line, m->col, map,
				       "a merge (<<) takes a mapping or a "
				       "sequence of mappings, not a %s",
				       mmig__ykind_name(m->kind));
		}
	}
	return MMIG_OK;
}

/* Count @p n's subtree, stopping once it exceeds @p limit. */
static size_t
subtree_size(const struct mmig__ynode *n, size_t limit)
{
	const struct mmig__ynode *s = n;
	size_t count = 0;

	for (;;) {
		if (++count > limit)
			return count;
		if (s->first) {
			s = s->first;
			continue;
		}
		while (s != n && !s->next)
			s = s->parent;
		if (s == n)
			return count;
		s = s->next;
	}
}

static int
on_alias(struct parser *p, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	yaml_mark_t m = ev->start_mark;
	struct mmig__ynode *copy;
	size_t i, size, room;

	if (!(p->flags & MMIG__YAML_ALLOW_ALIASES))
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "aliases (*%.64s) are not allowed here", name);
	for (i = p->n_anchors; i-- > 0;)
		if (strcmp(p->anchors[i].name, name) == 0)
			break;
	if (i == (size_t)-1)
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "unknown anchor &%.64s", name);
	if (p->anchors[i].open)
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "alias *%.64s inside the node it names", name);
	room = p->lim.max_alias_nodes - p->alias_nodes;
	size = subtree_size(p->anchors[i].node, room);
	if (size > room)
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "aliases expand to more than %zu nodes",
			       p->lim.max_alias_nodes);
	p->alias_nodes += size;
	if (count_nodes(p, size, m))
		return p->rc;
	copy = mmig__ynode_copy(p->doc, p->anchors[i].node);
	if (!copy)
		return oom(p);
	copy->line = mark_line(m);
	copy->col = mark_col(m);
	taint(p);
	return place(p, copy, m, ev->end_mark);
}

static int
on_scalar(struct parser *p, const yaml_event_t *ev)
{
	yaml_mark_t m = ev->start_mark;
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct mmig__ynode *n;
	unsigned tagged, kind;
	uint32_t end;
	long aidx;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	if (count_nodes(p, 1, m))
		return p->rc;
	if (len > UINT32_MAX)
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "scalar too long");
	if (check_tag(p, ev->data.scalar.tag, true, &tagged, m))
		return p->rc;
	n = node_new(p->doc, MMIG__Y_STR);
	if (!n || !(n->str = doc_strndup(p->doc, text, len)))
		return oom(p);
	n->len = (uint32_t)len;
	n->line = mark_line(m);
	n->col = mark_col(m);
	switch (ev->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE: n->style = MMIG__YS_PLAIN; break;
	case YAML_SINGLE_QUOTED_SCALAR_STYLE: n->style = MMIG__YS_SINGLE; break;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = MMIG__YS_DOUBLE; break;
	case YAML_LITERAL_SCALAR_STYLE: n->style = MMIG__YS_LITERAL; break;
	case YAML_FOLDED_SCALAR_STYLE: n->style = MMIG__YS_FOLDED; break;
	default: n->style = MMIG__YS_ANY;
	}
	if (tagged == MMIG__Y_STR) {
		/* A string whatever it reads as; "!!str <<" is a plain key. */
	} else if (tagged != 0xff) {
		mmig__yaml_resolve(text, len, &kind, n);
		if (tagged == MMIG__Y_FLOAT && kind == MMIG__Y_INT) {
			n->v.f = (double)n->v.i;
			kind = MMIG__Y_FLOAT;
		} else if (tagged == MMIG__Y_FLOAT && kind == MMIG__Y_UINT) {
			n->v.f = (double)n->v.u;
			kind = MMIG__Y_FLOAT;
		}
		if (kind != tagged &&
		    !(tagged == MMIG__Y_INT && kind == MMIG__Y_UINT))
			return fail_at(p, n->line, n->col, NULL,
				       "\"%.64s\" is not a valid !!%s", n->str,
				       mmig__ykind_name(tagged));
		n->kind = (uint8_t)kind;
	} else if (plain) {
		mmig__yaml_resolve(text, len, &kind, n);
		n->kind = (uint8_t)kind;
	}
	if (add_anchor(p, ev->data.scalar.anchor, n, false, &aidx))
		return p->rc;
	p->forced_str = tagged == MMIG__Y_STR;
	place(p, n, m, ev->end_mark);
	p->forced_str = false;
	if (p->rc || !p->ranges)
		return p->rc;
	end = src_byte(p, ev->end_mark.index);
	if ((n->style == MMIG__YS_LITERAL || n->style == MMIG__YS_FOLDED) &&
	    (has_indent_indicator(p, m.index) ||
	     (end == p->src_len && end &&
	      p->src[end - 1] != '\n' && p->src[end - 1] != '\r'))) {
		/* (A block scalar cut short by the end of the input would
		 * gain the line break its copy ends with.) */
		taint(p);
	} else if (p->placed_raw) {
		n->src_start = p->placed_start;
		n->src_end = end;
	}
	return p->rc;
}

static int
on_start(struct parser *p, const yaml_event_t *ev, bool is_map)
{
	yaml_mark_t m = ev->start_mark;
	const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag
					: ev->data.sequence_start.tag;
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor;
	struct mmig__ynode *n;
	unsigned tagged;
	long aidx;

	if (count_nodes(p, 1, m))
		return p->rc;
	if (check_tag(p, tag, false, &tagged, m))
		return p->rc;
	if (tagged != 0xff &&
	    tagged != (is_map ? MMIG__Y_MAP : MMIG__Y_SEQ))
		return fail_at(p, mark_line(m), mark_col(m), NULL,
			       "tag does not match a %s",
			       is_map ? "mapping" : "sequence");
	n = node_new(p->doc, is_map ? MMIG__Y_MAP : MMIG__Y_SEQ);
	if (!n)
		return oom(p);
	n->line = mark_line(m);
	n->col = mark_col(m);
	if (place(p, n, m, ev->end_mark))
		return p->rc;
	if (add_anchor(p, anchor, n, true, &aidx))
		return p->rc;
	return push(p, n, aidx, m,
		    is_map && ev->data.mapping_start.style ==
				      YAML_BLOCK_MAPPING_STYLE);
}

static int
on_end(struct parser *p, const yaml_event_t *ev)
{
	struct frame *f = &p->stack[--p->depth];

	if (f->tainted)
		taint(p);
	else if (f->raw && p->ranges) {
		f->node->src_start = f->raw_start;
		f->node->src_end = src_byte(p, ev->end_mark.index);
	}
	if (f->anchor >= 0)
		p->anchors[f->anchor].open = false;
	if (f->node->kind == MMIG__Y_MAP)
		return end_mapping(p, f->node);
	return MMIG_OK;
}

static int
parser_error(struct parser *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "syntax error";

	if (yp->error == YAML_MEMORY_ERROR)
		return oom(p);
	if (yp->error == YAML_READER_ERROR)
		return fail_at(p, 0, 0, NULL, "byte %zu: %s",
			       yp->problem_offset, problem);
	if (yp->context)
		return fail_at(p, mark_line(yp->problem_mark),
			       mark_col(yp->problem_mark), NULL,
			       "%s %s (line %" PRIu32 ", column %" PRIu32 ")",
			       problem, yp->context,
			       mark_line(yp->context_mark),
			       mark_col(yp->context_mark));
	return fail_at(p, mark_line(yp->problem_mark),
		       mark_col(yp->problem_mark), NULL, "%s", problem);
}

int
mmig__yaml_parse(const void *buf, size_t len, unsigned flags,
		 const struct mmig__yaml_limits *lim,
		 struct mmig__ydoc **out, char **errmsg)
{
	struct parser p = {.flags = flags};
	yaml_parser_t yp;
	yaml_event_t ev;
	bool done = false;
	size_t i;

	if (errmsg)
		*errmsg = NULL;
	if (!out)
		return MMIG_EINVAL;
	*out = NULL;
	if (!buf && len)
		return MMIG_EINVAL;
	if (lim)
		p.lim = *lim;
	if (!p.lim.max_bytes || p.lim.max_bytes > DEFAULT_MAX_BYTES)
		p.lim.max_bytes = DEFAULT_MAX_BYTES;
	if (!p.lim.max_depth)
		p.lim.max_depth = DEFAULT_MAX_DEPTH;
	if (!p.lim.max_nodes)
		p.lim.max_nodes = DEFAULT_MAX_NODES;
	if (!p.lim.max_alias_nodes)
		p.lim.max_alias_nodes = DEFAULT_MAX_ALIAS_NODES;
	if (len > p.lim.max_bytes) {
		fail_at(&p, 0, 0, NULL, "%zu bytes, more than the %zu allowed",
			len, p.lim.max_bytes);
		goto out;
	}
	if (!(p.doc = mmig__ydoc_new()))
		return MMIG_ENOMEM;
	if (!yaml_parser_initialize(&yp)) {
		oom(&p);
		goto out;
	}
	yaml_parser_set_input_string(&yp, buf ? buf : (const void *)"", len);
	p.src = buf;
	p.src_len = len;
	/* A byte order mark (UTF-8, UTF-16) shifts or changes every offset. */
	p.ranges = buf && !(flags & MMIG__YAML_ALLOW_ALIASES) &&
		   !(len >= 2 && ((p.src[0] == 0xfe && p.src[1] == 0xff) ||
				  (p.src[0] == 0xff && p.src[1] == 0xfe))) &&
		   !(len >= 3 && p.src[0] == 0xef && p.src[1] == 0xbb &&
		     p.src[2] == 0xbf);
	while (!done && !p.rc) {
		if (!yaml_parser_parse(&yp, &ev)) {
			parser_error(&p, &yp);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (p.docs++)
				fail_at(&p, mark_line(ev.start_mark),
					mark_col(ev.start_mark), NULL,
					"more than one document");
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&p, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&p, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			on_start(&p, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			on_start(&p, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(&p, &ev);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	if (!p.rc && !p.doc->root)
		fail_at(&p, 1, 1, NULL, "empty document");
out:
	for (i = 0; i < p.n_anchors; i++)
		mmig__free(p.anchors[i].name);
	mmig__free(p.anchors);
	mmig__free(p.stack);
	if (p.rc) {
		mmig__ydoc_free(p.doc);
		if (errmsg)
			*errmsg = p.err;
		else
			mmig__free(p.err);
		return p.rc;
	}
	*out = p.doc;
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * Emitter
 * ------------------------------------------------------------------------ */

static int
write_handler(void *data, unsigned char *buffer, size_t size)
{
	FILE *f = data;

	return fwrite(buffer, 1, size, f) == size;
}

/* Would yaml.v2 (or another YAML 1.1 reader) take this plain text for
 * something other than the string?  Base-60 numbers ("1:20") too. */
static bool
needs_quotes(const char *s, size_t len)
{
	unsigned kind;
	struct mmig__ynode tmp = {0};
	size_t i;
	bool colon = false;

	mmig__yaml_resolve(s, len, &kind, &tmp);
	if (kind != MMIG__Y_STR)
		return true;
	if (len == 2 && memcmp(s, "<<", 2) == 0)
		return true;
	/* [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)? */
	i = (len && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
	if (i >= len || !(s[i] >= '0' && s[i] <= '9'))
		return false;
	for (; i < len; i++) {
		char c = s[i];

		if (c == ':')
			colon = true;
		else if (!((c >= '0' && c <= '9') || c == '_' || c == '.'))
			return false;
	}
	return colon;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t len, unsigned kind,
	    unsigned style, unsigned flags)
{
	yaml_event_t ev;
	yaml_scalar_style_t st = YAML_PLAIN_SCALAR_STYLE;
	int plain_implicit = 1, quoted_implicit = 1;

	if (kind == MMIG__Y_STR) {
		if (needs_quotes(s, len)) {
			st = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
			plain_implicit = 0;
		} else if (memchr(s, '\n', len) &&
			   (!(flags & MMIG__YEMIT_KEEP_STYLE) ||
			    style != MMIG__YS_FOLDED)) {
			st = YAML_LITERAL_SCALAR_STYLE;
		} else if ((flags & MMIG__YEMIT_KEEP_STYLE) &&
			   style == MMIG__YS_FOLDED) {
			st = YAML_FOLDED_SCALAR_STYLE;
		}
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
					  (yaml_char_t *)s, (int)len,
					  plain_implicit, quoted_implicit, st))
		return MMIG_ENOMEM;
	return yaml_emitter_emit(em, &ev) ? MMIG_OK : -EIO;
}

static int
emit_node(yaml_emitter_t *em, const struct mmig__ynode *n, unsigned flags,
	  unsigned depth)
{
	yaml_event_t ev;
	const struct mmig__ynode *c;
	char buf[48];
	int rc;

	if (depth > 100000)
		return MMIG_EINVAL;
	switch (n->kind) {
	case MMIG__Y_MAP:
	case MMIG__Y_SEQ:
		if (n->kind == MMIG__Y_MAP
			    ? !yaml_mapping_start_event_initialize(
				      &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
			    : !yaml_sequence_start_event_initialize(
				      &ev, NULL, NULL, 1,
				      YAML_BLOCK_SEQUENCE_STYLE))
			return MMIG_ENOMEM;
		if (!yaml_emitter_emit(em, &ev))
			return -EIO;
		for (c = n->first; c; c = c->next) {
			if (n->kind == MMIG__Y_MAP &&
			    (rc = emit_scalar(em, c->key, c->key_len,
					      c->key_kind, MMIG__YS_ANY, 0)))
				return rc;
			if ((rc = emit_node(em, c, flags, depth + 1)))
				return rc;
		}
		if (n->kind == MMIG__Y_MAP ? !yaml_mapping_end_event_initialize(&ev)
					   : !yaml_sequence_end_event_initialize(&ev))
			return MMIG_ENOMEM;
		return yaml_emitter_emit(em, &ev) ? MMIG_OK : -EIO;
	case MMIG__Y_NULL:
		return emit_scalar(em, "null", 4, n->kind, 0, flags);
	case MMIG__Y_BOOL:
		return emit_scalar(em, n->v.b ? "true" : "false",
				   n->v.b ? 4 : 5, n->kind, 0, flags);
	case MMIG__Y_INT:
		snprintf(buf, sizeof(buf), "%" PRId64, n->v.i);
		return emit_scalar(em, buf, strlen(buf), n->kind, 0, flags);
	case MMIG__Y_UINT:
		snprintf(buf, sizeof(buf), "%" PRIu64, n->v.u);
		return emit_scalar(em, buf, strlen(buf), n->kind, 0, flags);
	case MMIG__Y_FLOAT:
		float_text(n->v.f, buf, sizeof(buf));
		return emit_scalar(em, buf, strlen(buf), n->kind, 0, flags);
	default:
		return emit_scalar(em, n->str ? n->str : "", n->len, n->kind,
				   n->style, flags);
	}
}

int
mmig__yaml_emit(const struct mmig__ynode *root, unsigned flags, FILE *out)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc = MMIG_OK;

	if (!root || !out)
		return MMIG_EINVAL;
	if (!yaml_emitter_initialize(&em))
		return MMIG_ENOMEM;
	yaml_emitter_set_output(&em, write_handler, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&em, &ev)) {
		rc = -EIO;
		goto out;
	}
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    !yaml_emitter_emit(&em, &ev)) {
		rc = -EIO;
		goto out;
	}
	if ((rc = emit_node(&em, root, flags, 0)))
		goto out;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    !yaml_emitter_emit(&em, &ev) ||
	    !yaml_stream_end_event_initialize(&ev) ||
	    !yaml_emitter_emit(&em, &ev) || !yaml_emitter_flush(&em)) {
		rc = -EIO;
		goto out;
	}
	if (fflush(out) != 0)
		rc = errno ? -errno : -EIO;
out:
	if (rc == -EIO && em.error == YAML_MEMORY_ERROR)
		rc = MMIG_ENOMEM;
	yaml_emitter_delete(&em);
	return rc;
}

int
mmig__yaml_emit_buf(const struct mmig__ynode *root, unsigned flags,
		    char **buf, size_t *len)
{
	char *b = NULL;
	size_t n = 0;
	FILE *f;
	int rc;

	if (!buf)
		return MMIG_EINVAL;
	*buf = NULL;
	f = open_memstream(&b, &n);
	if (!f)
		return MMIG_ENOMEM;
	rc = mmig__yaml_emit(root, flags, f);
	if (fclose(f) != 0 && !rc)
		rc = MMIG_ENOMEM;
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	if (len)
		*len = n;
	return MMIG_OK;
}

/* ------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

json_t *
mmig__ynode_to_json(const struct mmig__ynode *n, char **errmsg)
{
	json_t *j = NULL, *c;
	const struct mmig__ynode *m;

	if (errmsg)
		*errmsg = NULL;
	switch (n->kind) {
	case MMIG__Y_NULL: return json_null();
	case MMIG__Y_BOOL: return json_boolean(n->v.b);
	case MMIG__Y_INT: return json_integer((json_int_t)n->v.i);
	case MMIG__Y_UINT:
		if (errmsg)
			*errmsg = mmig__ynode_errmsg(n, "integer %s is too big",
						     n->str ? n->str : "");
		return NULL;
	case MMIG__Y_FLOAT:
		if (isnan(n->v.f) || isinf(n->v.f)) {
			if (errmsg)
				*errmsg = mmig__ynode_errmsg(
					n, "%s cannot be stored",
					isnan(n->v.f) ? "NaN" : "an infinity");
			return NULL;
		}
		return json_real(n->v.f);
	case MMIG__Y_STR:
		j = json_stringn(n->str, n->len);
		if (!j && errmsg)
			*errmsg = mmig__ynode_errmsg(n, "not valid UTF-8");
		return j;
	case MMIG__Y_SEQ:
		if (!(j = json_array()))
			return NULL;
		for (m = n->first; m; m = m->next) {
			if (!(c = mmig__ynode_to_json(m, errmsg)) ||
			    json_array_append_new(j, c))
				goto fail;
		}
		return j;
	case MMIG__Y_MAP:
		if (!(j = json_object()))
			return NULL;
		for (m = n->first; m; m = m->next) {
			if (m->key_kind != MMIG__Y_STR) {
				if (errmsg)
					*errmsg = mmig__ynode_errmsg(
						m, "key is a %s, not a string",
						mmig__ykind_name(m->key_kind));
				goto fail;
			}
			if (!(c = mmig__ynode_to_json(m, errmsg)) ||
			    json_object_setn_new(j, m->key, m->key_len, c))
				goto fail;
		}
		return j;
	default:
		return NULL;
	}
fail:
	json_decref(j);
	return NULL;
}

struct mmig__ynode *
mmig__ynode_from_json(struct mmig__ydoc *doc, const json_t *j)
{
	struct mmig__ynode *n = NULL, *c;
	const char *key;
	size_t i, klen;
	json_t *v;

	switch (json_typeof(j)) {
	case JSON_NULL: return mmig__ynode_new_null(doc);
	case JSON_TRUE: return mmig__ynode_new_bool(doc, true);
	case JSON_FALSE: return mmig__ynode_new_bool(doc, false);
	case JSON_INTEGER:
		return mmig__ynode_new_int(doc, (int64_t)json_integer_value(j));
	case JSON_REAL: return mmig__ynode_new_float(doc, json_real_value(j));
	case JSON_STRING:
		return mmig__ynode_new_str(doc, json_string_value(j),
					   json_string_length(j));
	case JSON_ARRAY:
		if (!(n = mmig__ynode_new_seq(doc)))
			return NULL;
		json_array_foreach (j, i, v) {
			if (!(c = mmig__ynode_from_json(doc, v)))
				return NULL;
			link_child(n, c);
		}
		return n;
	case JSON_OBJECT:
		if (!(n = mmig__ynode_new_map(doc)))
			return NULL;
		json_object_keylen_foreach ((json_t *)j, key, klen, v) {
			if (!(c = mmig__ynode_from_json(doc, v)) ||
			    !(c->key = doc_strndup(doc, key, klen)))
				return NULL;
			c->key_len = (uint32_t)klen;
			c->key_kind = MMIG__Y_STR;
			link_child(n, c);
		}
		return n;
	}
	return NULL;
}
