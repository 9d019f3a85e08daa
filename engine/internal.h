/*
 * engine/internal.h - helpers shared by the library's modules, never
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

/* Nanoseconds on CLOCK_MONOTONIC, and on CLOCK_REALTIME. */
uint64_t mmig__now_mono_ns(void);
uint64_t mmig__now_real_ns(void);

#endif
