/*
 * core/internal.h - helpers shared by the library's modules, never
 * installed.  Internal non-static symbols are named mmig__*.
 */
#ifndef MMIG_INTERNAL_H
#define MMIG_INTERNAL_H

#include "mmig/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MMIG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* All allocation goes through these, so a fault point can fail them. */
void *mmig__malloc(size_t n);
void *mmig__calloc(size_t n, size_t size);
void *mmig__realloc(void *p, size_t n);
char *mmig__strdup(const char *s);
void mmig__free(void *p);

/* printf into a fresh buffer sized to fit; NULL when out of memory. */
char *mmig__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mmig__vasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/*
 * Sized structs (see "ABI" in mmig/common.h).  MMIG__END(T, f) is the end
 * of field f: the first layout of T is MMIG__END(T, its last 0.1 field).
 *
 * mmig__sized_in() copies a caller's struct @p src (its size field first)
 * into @p dst, the library's own layout of @p full bytes: the bytes the
 * caller's size covers, zeros after them (so later fields take their
 * defaults), and dst's size set to @p full.  mmig__sized_out() copies the
 * library's filled-in @p src (of @p full bytes) into the caller's @p dst,
 * only as far as dst's own size reaches, keeping dst's size.  Both take a
 * size of 0 as @p first and refuse one below @p first with MMIG_EINVAL.
 *
 * MMIG__HAS(T, p, f): the caller's struct *p covers field f, for reading a
 * field added after the first layout straight from a caller's struct (an
 * operation vtable, which the library keeps a pointer to).
 */
#define MMIG__END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define MMIG__HAS(T, p, f, first)                                              \
	(((p)->size ? (p)->size : (first)) >= MMIG__END(T, f))
int mmig__sized_in(void *dst, size_t full, const void *src, size_t first);
int mmig__sized_out(void *dst, const void *src, size_t full, size_t first);
/* @return MMIG_OK when a caller's size is 0 or at least @p first. */
int mmig__sized_check(size_t size, size_t first);

/* Nanoseconds on CLOCK_MONOTONIC, and on CLOCK_REALTIME. */
uint64_t mmig__now_mono_ns(void);
uint64_t mmig__now_real_ns(void);

#endif
