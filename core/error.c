/*
 * core/error.c - error codes and chained error values.
 *
 * An error is a chain of frames.  The innermost frame holds the code and the
 * first failure's text; each wrap adds an outer frame with its own text.  The
 * whole message is built once, when a frame is made, so that reading it
 * never allocates and never fails.
 */
#include "internal.h"
#include "mmig/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mmig_error {
	int code;
	struct mmig_error *cause; /* the frame this one wraps, or NULL */
	char *message;            /* this frame's text + ": " + cause's */
};

static struct mmig_error oom_error = {
	.code = MMIG_ENOMEM,
	.cause = NULL,
	.message = "out of memory",
};

const char *
mmig_strerror(int code)
{
	if (code == MMIG_OK)
		return "success";
	switch (code) {
#define MMIG_XX_TEXT(name, off, text)                                          \
	case MMIG_##name:                                                      \
		return text;
		MMIG_ERRNO_MAP(MMIG_XX_TEXT)
#undef MMIG_XX_TEXT
	}
	if (code < 0 && code > MMIG_ERRNO_BASE)
		return strerror(-code);
	return "unknown error";
}

const char *
mmig_err_name(int code)
{
	if (code == MMIG_OK)
		return "MMIG_OK";
	switch (code) {
#define MMIG_XX_NAME(name, off, text)                                          \
	case MMIG_##name:                                                      \
		return "MMIG_" #name;
		MMIG_ERRNO_MAP(MMIG_XX_NAME)
#undef MMIG_XX_NAME
	}
	if (code < 0 && code > MMIG_ERRNO_BASE) {
		const char *n = strerrorname_np(-code);
		if (n)
			return n;
	}
	return "MMIG_UNKNOWN";
}

struct mmig_error *
mmig_error_newv(int code, const char *fmt, va_list ap)
{
	struct mmig_error *e = mmig__malloc(sizeof(*e));

	if (!e)
		return &oom_error;
	e->message = mmig__vasprintf(fmt, ap);
	if (!e->message) {
		mmig__free(e);
		return &oom_error;
	}
	e->code = code;
	e->cause = NULL;
	return e;
}

struct mmig_error *
mmig_error_new(int code, const char *fmt, ...)
{
	struct mmig_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = mmig_error_newv(code, fmt, ap);
	va_end(ap);
	return e;
}

struct mmig_error *
mmig_error_wrap(struct mmig_error *cause, const char *fmt, ...)
{
	struct mmig_error *e;
	char *frame, *message;
	va_list ap;

	if (!cause)
		return NULL;
	if (cause == &oom_error)
		return cause;
	va_start(ap, fmt);
	e = mmig_error_newv(cause->code, fmt, ap);
	va_end(ap);
	if (e == &oom_error) {
		/* Keep the first failure rather than losing it to the OOM. */
		return cause;
	}
	frame = e->message;
	message = mmig__asprintf("%s: %s", frame, cause->message);
	if (!message) {
		mmig__free(frame);
		mmig__free(e);
		return cause;
	}
	mmig__free(frame);
	e->message = message;
	e->cause = cause;
	return e;
}

int
mmig_error_code(const struct mmig_error *e)
{
	return e ? e->code : MMIG_OK;
}

const char *
mmig_error_message(const struct mmig_error *e)
{
	return e ? e->message : "";
}

const struct mmig_error *
mmig_error_cause(const struct mmig_error *e)
{
	while (e && e->cause)
		e = e->cause;
	return e;
}

void
mmig_error_free(struct mmig_error *e)
{
	while (e && e != &oom_error) {
		struct mmig_error *cause = e->cause;

		mmig__free(e->message);
		mmig__free(e);
		e = cause;
	}
}
