/*
 * core/common.c - version, default logger, allocation and clocks.
 */
#include "internal.h"
#include "mmig/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

unsigned
mmig_version(void)
{
	return MMIG_VERSION_NUMBER;
}

const char *
mmig_version_string(void)
{
	return "0.1.0";
}

const char *
mmig_durability_name(enum mmig_durability d)
{
	switch (d) {
	case MMIG_DURABLE:
		return "durable";
	case MMIG_PROCESS:
		return "process";
	}
	return "?";
}

const char *
mmig_log_level_name(enum mmig_log_level level)
{
	switch (level) {
	case MMIG_LOG_DEBUG:
		return "debug";
	case MMIG_LOG_INFO:
		return "info";
	case MMIG_LOG_WARN:
		return "warn";
	case MMIG_LOG_ERROR:
		return "error";
	}
	return "?";
}

void
mmig_log_stderr(void *arg, enum mmig_log_level level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "mmig: %s: %s\n", mmig_log_level_name(level), msg);
}

void *
mmig__malloc(size_t n)
{
	return malloc(n ? n : 1);
}

void *
mmig__calloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}

void *
mmig__realloc(void *p, size_t n)
{
	return realloc(p, n ? n : 1);
}

void
mmig__free(void *p)
{
	free(p);
}

char *
mmig__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = mmig__malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

char *
mmig__vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	char *buf;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	buf = mmig__malloc((size_t)n + 1);
	if (buf)
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
	return buf;
}

char *
mmig__asprintf(const char *fmt, ...)
{
	va_list ap;
	char *buf;

	va_start(ap, fmt);
	buf = mmig__vasprintf(fmt, ap);
	va_end(ap);
	return buf;
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
mmig__now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
mmig__now_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* ---- sized structs ------------------------------------------------------- */

int
mmig__sized_check(size_t size, size_t first)
{
	return size == 0 || size >= first ? MMIG_OK : MMIG_EINVAL;
}

int
mmig__sized_in(void *dst, size_t full, const void *src, size_t first)
{
	size_t size;

	memcpy(&size, src, sizeof(size));
	if (mmig__sized_check(size, first) != MMIG_OK)
		return MMIG_EINVAL;
	if (size == 0)
		size = first;
	memset(dst, 0, full);
	memcpy(dst, src, size < full ? size : full);
	memcpy(dst, &full, sizeof(full));
	return MMIG_OK;
}

int
mmig__sized_out(void *dst, const void *src, size_t full, size_t first)
{
	size_t size, want;

	memcpy(&size, dst, sizeof(size));
	if (mmig__sized_check(size, first) != MMIG_OK)
		return MMIG_EINVAL;
	want = size ? size : first;
	/* Past the size field: the caller's size stays as the caller set it. */
	memcpy((char *)dst + sizeof(size), (const char *)src + sizeof(size),
	       (want < full ? want : full) - sizeof(size));
	return MMIG_OK;
}
