/*
 * domain/yaml-doc-int.h - a YAML document in memory: libyaml's event parser
 * into a tree that remembers where each node was, and libyaml's emitter to
 * write a tree back.  Private to the project, never installed.
 *
 * Why a tree of our own and not jansson's json_t (with a side table of
 * positions): jansson shares one json_t for every true, false and null, so
 * a table keyed by node cannot say where a given null was; it cannot carry
 * an unsigned 64-bit integer, a NaN or an infinity that YAML can; and it
 * keeps no parent, so an error deep in a reader could not name its path.
 * The tree below is small (one arena, siblings linked), keeps for every
 * node its line:column, parent, key or index, scalar text and style, and
 * converts to and from json_t (mmig__ynode_to_json(), mmig__ynode_from_json())
 * where a JSON value is wanted (storing what we keep verbatim, comparing
 * data trees in tests).
 *
 * Scalars are typed as Go's gopkg.in/yaml.v2 types them when it decodes
 * into interface{} (which is what juju/description does): YAML 1.1 plain
 * scalars, "yes"/"on"/"y" are booleans, "0x1f", "017", "0b101", "1_000" are
 * integers, "08" and "1e3" are floats, a timestamp stays a string, and a
 * quoted or block scalar is always a string.  See mmig__yaml_resolve().
 *
 * Thread rules: a document is used by one thread at a time; separate
 * documents are independent.
 */
#ifndef MMIG_YAML_DOC_INT_H
#define MMIG_YAML_DOC_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** What a node holds. */
enum mmig__ykind {
	MMIG__Y_NULL = 0,
	MMIG__Y_BOOL,
	/** Fits int64_t: v.i. */
	MMIG__Y_INT,
	/** Above INT64_MAX, fits uint64_t: v.u. */
	MMIG__Y_UINT,
	/** v.f, possibly NaN or an infinity. */
	MMIG__Y_FLOAT,
	MMIG__Y_STR,
	MMIG__Y_SEQ,
	MMIG__Y_MAP,
};

/** How a scalar was written (a hint for the emitter; never changes what
 *  the node means, which is its kind). */
enum mmig__ystyle {
	MMIG__YS_ANY = 0,
	MMIG__YS_PLAIN,
	MMIG__YS_SINGLE,
	MMIG__YS_DOUBLE,
	MMIG__YS_LITERAL,
	MMIG__YS_FOLDED,
};

/**
 * One node.  Read-only for users of a parsed document; everything it points
 * to lives as long as its document.
 *
 * Mapping members and sequence items are linked through @c next, in
 * document order, from the container's @c first.  A mapping member is its
 * value node with @c key set (the key is always a scalar: its text, length
 * and kind are kept in the member; mmig__yaml_parse() refuses a non-scalar
 * key).  Keys are unique within a mapping.
 */
struct mmig__ynode {
	struct mmig__ynode *parent;
	struct mmig__ynode *next;
	/** Containers: first and last member or item. */
	struct mmig__ynode *first;
	struct mmig__ynode *last;
	/** In a mapping: the key's text, NUL-terminated (may hold NULs when
	 *  @c key_len says so); NULL elsewhere. */
	const char *key;
	/** Scalars: the text as written, after YAML unescaping; for a string,
	 *  the string.  NUL-terminated.  NULL for containers. */
	const char *str;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
	} v;
	uint32_t len;
	uint32_t key_len;
	/** 1-based position of the node's first character (its anchor, tag
	 *  or indicator included); 0 for nodes built in memory. */
	uint32_t line;
	uint32_t col;
	/** Containers: number of members or items. */
	uint32_t n;
	/** Position in the parent container, from 0. */
	uint32_t index;
	/** A mapping member's own text in the buffer mmig__yaml_parse() read:
	 *  bytes [src_start, src_end), from its key to the end of its value
	 *  (see mmig__ynode_src_text()).  src_end is 0 when there is none:
	 *  nodes built in memory, sequence items, members of a flow mapping,
	 *  explicit ("? ") keys, members holding a block scalar with an
	 *  indentation indicator, input with a byte order mark, documents
	 *  parsed with MMIG__YAML_ALLOW_ALIASES. */
	uint32_t src_start;
	uint32_t src_end;
	uint8_t kind;     /* enum mmig__ykind */
	uint8_t style;    /* enum mmig__ystyle */
	uint8_t key_kind; /* enum mmig__ykind of the key (a scalar kind) */
};

struct mmig__ydoc;

/** mmig__yaml_parse() flags. */
/** Resolve aliases (each one copies its anchor's node, counted against
 *  max_alias_nodes) and "<<" merge keys.  Without it an alias or a merge
 *  key is refused: a model dump has none. */
#define MMIG__YAML_ALLOW_ALIASES 0x1u
/** Refuse a mapping key that is not a string (7:, true:, null:). */
#define MMIG__YAML_STRING_KEYS 0x2u

/** Limits; a zero field takes the default. */
struct mmig__yaml_limits {
	/** Largest input in bytes; default (and ceiling) 1 GiB. */
	size_t max_bytes;
	/** Deepest nesting of containers (the root container is depth 1);
	 *  default 128. */
	unsigned max_depth;
	/** Most nodes, scalars and containers, copies made by aliases
	 *  included; default 64 Mi. */
	size_t max_nodes;
	/** Most nodes all aliases together may copy; default 100,000. */
	size_t max_alias_nodes;
};

/**
 * Parse one YAML document from @p buf (@p len bytes, need not be
 * NUL-terminated; UTF-8, UTF-16 with a BOM is left to libyaml).
 *
 * Refused, each with a message "line L, column C: PATH: what" (PATH like
 * applications[3].units[2].machine, omitted at the root): YAML syntax errors
 * (libyaml's problem, at libyaml's position), an empty stream, more than one
 * document, duplicate keys, a non-scalar key, a non-string key with
 * MMIG__YAML_STRING_KEYS, aliases and merge keys without
 * MMIG__YAML_ALLOW_ALIASES (with it: an unknown anchor, an alias to a node
 * that encloses it, a merge of something other than a mapping or a sequence
 * of mappings, more copied nodes than max_alias_nodes), tags other than
 * !!str !!int !!float !!bool !!null !!map !!seq, a scalar that does not
 * read as its tag says, and input above the limits.
 *
 * @param[in] lim NULL for all defaults.
 * @param[out] out the document; NULL on failure.
 * @param[out] errmsg may be NULL; on MMIG_EMODEL a one-line message, free
 *             with free().  NULL otherwise.
 * @return MMIG_OK; MMIG_EMODEL (bad input); MMIG_EINVAL (@p out NULL, or
 *         @p buf NULL with @p len > 0); MMIG_ENOMEM.
 */
int mmig__yaml_parse(const void *buf, size_t len, unsigned flags,
		     const struct mmig__yaml_limits *lim,
		     struct mmig__ydoc **out, char **errmsg);

/** An empty document to build in (mmig__ydoc_set_root() and the node
 *  constructors below).  @return NULL when out of memory. */
struct mmig__ydoc *mmig__ydoc_new(void);

/** Free a document and every node of it.  NULL is a no-op. */
void mmig__ydoc_free(struct mmig__ydoc *doc);

/** @return the root node; NULL only for a built document without one. */
struct mmig__ynode *mmig__ydoc_root(const struct mmig__ydoc *doc);

/** Make @p root (a node of @p doc, not yet placed) the root. */
void mmig__ydoc_set_root(struct mmig__ydoc *doc, struct mmig__ynode *root);

/*
 * Node constructors: a fresh node of @p doc, not yet placed anywhere.
 * Strings are copied.  @return NULL when out of memory.
 */
struct mmig__ynode *mmig__ynode_new_null(struct mmig__ydoc *doc);
struct mmig__ynode *mmig__ynode_new_bool(struct mmig__ydoc *doc, bool b);
struct mmig__ynode *mmig__ynode_new_int(struct mmig__ydoc *doc, int64_t i);
struct mmig__ynode *mmig__ynode_new_uint(struct mmig__ydoc *doc, uint64_t u);
struct mmig__ynode *mmig__ynode_new_float(struct mmig__ydoc *doc, double f);
struct mmig__ynode *mmig__ynode_new_str(struct mmig__ydoc *doc,
					const char *s, size_t len);
struct mmig__ynode *mmig__ynode_new_map(struct mmig__ydoc *doc);
struct mmig__ynode *mmig__ynode_new_seq(struct mmig__ydoc *doc);

/**
 * Append @p value under the string key @p key (copied) to mapping @p map.
 * The caller keeps keys unique (mmig__ynode_get() can tell).
 * @return MMIG_OK, MMIG_ENOMEM, MMIG_EINVAL (@p map not a mapping, or
 *         @p value already placed).
 */
int mmig__ynode_map_add(struct mmig__ydoc *doc, struct mmig__ynode *map,
			const char *key, struct mmig__ynode *value);

/** mmig__ynode_map_add() with a key of @p key_len bytes and kind
 *  @p key_kind (a scalar kind: relation-state maps have integer keys). */
int mmig__ynode_map_addn(struct mmig__ydoc *doc, struct mmig__ynode *map,
			 const char *key, size_t key_len, unsigned key_kind,
			 struct mmig__ynode *value);

/** Append @p item to sequence @p seq.  @return MMIG_OK, MMIG_EINVAL. */
int mmig__ynode_seq_add(struct mmig__ynode *seq, struct mmig__ynode *item);

/** Take member @p m out of its mapping (or item out of its sequence); the
 *  siblings after it are renumbered.  @p m stays valid and can be placed
 *  again.  A node without a parent is left alone. */
void mmig__ynode_remove(struct mmig__ynode *m);

/** Deep copy of @p n (from any document) into @p doc, not placed.
 *  @return NULL when out of memory. */
struct mmig__ynode *mmig__ynode_copy(struct mmig__ydoc *doc,
				     const struct mmig__ynode *n);

/**
 * Do @p a and @p b hold the same data?  Mappings compare by key whatever
 * their order, scalars by kind and value (as yaml.v2 reads them; style is
 * ignored, NaN equals NaN), sequences item by item in order.  This is what
 * "the same document" means for a round trip (juju/description's key order
 * is whatever Go's YAML library chose).
 * @param[out] where may be NULL; when the answer is false, the node of @p a
 *             where they first differ (a member @p b lacks, or the first
 *             node of @p a that differs).
 */
bool mmig__ynode_same(const struct mmig__ynode *a, const struct mmig__ynode *b,
		      const struct mmig__ynode **where);

/**
 * The members of mapping @p map (a node of @p doc, parsed from @p src,
 * @p src_len bytes: the very buffer given to mmig__yaml_parse()) as one
 * YAML text copied from the source instead of emitted: each member's own
 * bytes (src_start..src_end), its key moved to column 1 and its other lines
 * left where they were, each ending with a line break (the indentation of
 * the token after a block collection, which its range ends with, left
 * out).  That reads back
 * (mmig__yaml_parse()) to the same members in the same order, with the same
 * styles: a block mapping's content is only ever indented more than its
 * key's mapping, never by an amount fixed relative to it, once members with
 * an indentation indicator (`|2`) are left out, which they are.
 * Removed members are simply not there.  Linear in the text's size.
 * @param[out] text NUL-terminated, in @p doc (lives as long as it); NULL
 *             when @p map is empty or not a mapping, or when one of its
 *             members has no source range (then emit it instead).
 * @return MMIG_OK (also when *text is NULL); MMIG_ENOMEM; MMIG_EINVAL when
 *         a range lies outside @p src_len.
 */
int mmig__ynode_src_text(struct mmig__ydoc *doc,
			 const struct mmig__ynode *map, const void *src,
			 size_t src_len, const char **text, size_t *len);

/** @return the member of mapping @p map with string key @p key; NULL when
 *  absent or when @p map is NULL or not a mapping.  Linear in the
 *  mapping's size. */
struct mmig__ynode *mmig__ynode_get(const struct mmig__ynode *map,
				    const char *key);

/** @return a static name of @p kind: "null", "bool", "int", "int",
 *  "float", "string", "sequence", "mapping". */
const char *mmig__ykind_name(unsigned kind);

/**
 * Write the path of @p n into @p buf (@p size bytes, always NUL-terminated,
 * cut short with "..." if it does not fit): members by key
 * (`applications`, `config["a.b"]` for keys other than letters, digits, '-',
 * '_', '/'), items by index (`[3]`), the root as "".
 */
void mmig__ynode_path(const struct mmig__ynode *n, char *buf, size_t size);

/**
 * A message about @p n: "line L, column C: PATH: " followed by the
 * formatted text ("PATH: " left out at the root, "line ..." for built
 * nodes).  @return a string to free with mmig__free(); NULL when out of memory.
 */
char *mmig__ynode_errmsg(const struct mmig__ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * How a plain scalar @p s (@p len bytes) reads, the way yaml.v2 reads it
 * into interface{}: sets @p *kind to NULL, BOOL, INT, UINT, FLOAT or STR and
 * the value into @p n (unchanged for STR and NULL).  "<<" reads as a string
 * here; the parser treats it as a merge key.
 */
void mmig__yaml_resolve(const char *s, size_t len, unsigned *kind,
			struct mmig__ynode *n);

/** mmig__yaml_emit() flags. */
/** Keep each string's block style (| or >) when it was read with one. */
#define MMIG__YEMIT_KEEP_STYLE 0x1u

/**
 * Write @p root as one YAML document (block style, UTF-8, "---" left out)
 * to @p out.  Every scalar reads back as the same kind and value: a string
 * that would read as something else ("yes", "1.0", "", "~") is quoted, a
 * float always has a '.', an exponent or is .inf/.nan, multi-line strings
 * are written as literal blocks where libyaml allows.
 * @return MMIG_OK; -errno (or -EIO) when writing fails; MMIG_ENOMEM;
 *         MMIG_EINVAL when @p root or @p out is NULL.
 */
int mmig__yaml_emit(const struct mmig__ynode *root, unsigned flags,
		    FILE *out);

/** mmig__yaml_emit() into a new NUL-terminated buffer (free with mmig__free()).
 *  @return as mmig__yaml_emit(). */
int mmig__yaml_emit_buf(const struct mmig__ynode *root, unsigned flags,
			char **buf, size_t *len);

/**
 * The node as a jansson value (mappings become objects in member order,
 * so keys must be strings).
 * @param[out] errmsg may be NULL: on failure (a non-string key, an integer
 *             above INT64_MAX, a NaN or infinity, which JSON lacks) a
 *             message naming the node, free with mmig__free().
 * @return a new reference; NULL on failure.
 */
json_t *mmig__ynode_to_json(const struct mmig__ynode *n, char **errmsg);

/** A jansson value as a node of @p doc (not placed); integers become INT,
 *  reals FLOAT.  @return NULL when out of memory. */
struct mmig__ynode *mmig__ynode_from_json(struct mmig__ydoc *doc,
					  const json_t *j);

#endif
