/*
 * core/fault.c - the fault-injection points' state and the MMIG_FAULT
 * and MMIG_TEST_UNSAFE environment variables (see fault.h).  Compiled only
 * with the meson option fault_injection.
 */
#include "fault.h"

#ifndef MMIG_FAULT_INJECTION
#error "core/fault.c is only built with -Dfault_injection=true"
#endif
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mmig__fault_on;

static atomic_uint_fast64_t hits[MMIG_FAULT_COUNT];
static enum mmig_fault_point armed_point = MMIG_FAULT_COUNT;
static uint64_t armed_nth;
static enum mmig_fault_action armed_action;
static char count_file[512];

static const char *const names[] = {
#define MMIG_XX_NAME(name, where) #name,
	MMIG_FAULT_MAP(MMIG_XX_NAME)
#undef MMIG_XX_NAME
};

const char *
mmig__fault_name(enum mmig_fault_point p)
{
	return p < MMIG_FAULT_COUNT ? names[p] : "?";
}

enum mmig_fault_point
mmig__fault_lookup(const char *name)
{
	for (int p = 0; p < MMIG_FAULT_COUNT; p++)
		if (strcmp(names[p], name) == 0)
			return (enum mmig_fault_point)p;
	return MMIG_FAULT_COUNT;
}

bool
mmig__fault_hit(enum mmig_fault_point p)
{
	uint64_t n = atomic_fetch_add(&hits[p], 1) + 1;

	if (p != armed_point || n != armed_nth)
		return false;
	if (armed_action == MMIG_FAULT_KILL)
		raise(SIGKILL);
	if (armed_action == MMIG_FAULT_STOP) {
		raise(SIGSTOP); /* frozen until SIGCONT; then carry on */
		return false;
	}
	return true;
}

void
mmig__fault_arm(enum mmig_fault_point p, uint64_t nth,
		enum mmig_fault_action a)
{
	for (int i = 0; i < MMIG_FAULT_COUNT; i++)
		atomic_store(&hits[i], 0);
	armed_point = p;
	armed_nth = nth;
	armed_action = a;
	mmig__fault_on = true;
}

int
mmig__fault_errno(void)
{
	return armed_action == MMIG_FAULT_ENOSPC ? ENOSPC : EIO;
}

void
mmig__fault_count_only(void)
{
	mmig__fault_arm(MMIG_FAULT_COUNT, 0, MMIG_FAULT_EIO);
}

void
mmig__fault_disarm(void)
{
	mmig__fault_on = false;
	armed_point = MMIG_FAULT_COUNT;
}

uint64_t
mmig__fault_hits(enum mmig_fault_point p)
{
	return atomic_load(&hits[p]);
}

static void
write_counts(void)
{
	FILE *f = fopen(count_file, "a");

	if (!f)
		return;
	for (int p = 0; p < MMIG_FAULT_COUNT; p++)
		fprintf(f, "%s %llu\n", names[p],
			(unsigned long long)atomic_load(&hits[p]));
	fclose(f);
}

bool mmig__unsafe_on[MMIG_UNSAFE_COUNT];

static const char *const unsafe_names[] = {
#define MMIG_XX_UNSAFE(name, text) text,
	MMIG_UNSAFE_MAP(MMIG_XX_UNSAFE)
#undef MMIG_XX_UNSAFE
};

/* Read MMIG_TEST_UNSAFE once, when the library is loaded. */
__attribute__((constructor)) static void
unsafe_from_env(void)
{
	const char *spec = getenv("MMIG_TEST_UNSAFE");

	for (int u = 0; spec && u < MMIG_UNSAFE_COUNT; u++)
		mmig__unsafe_on[u] = strcmp(spec, unsafe_names[u]) == 0;
}

/* Read MMIG_FAULT once, when the library is loaded. */
__attribute__((constructor)) static void
fault_from_env(void)
{
	const char *spec = getenv("MMIG_FAULT");
	char name[64], action[16] = "kill";
	unsigned long long nth;
	enum mmig_fault_point p;

	if (!spec || !*spec)
		return;
	if (strncmp(spec, "count:", 6) == 0) {
		snprintf(count_file, sizeof(count_file), "%s", spec + 6);
		mmig__fault_count_only();
		atexit(write_counts);
		return;
	}
	if (sscanf(spec, "%63[A-Z_]:%llu:%15s", name, &nth, action) < 2)
		return;
	p = mmig__fault_lookup(name);
	if (p == MMIG_FAULT_COUNT || nth == 0)
		return;
	mmig__fault_arm(p, nth,
			strcmp(action, "eio") == 0      ? MMIG_FAULT_EIO
			: strcmp(action, "enospc") == 0 ? MMIG_FAULT_ENOSPC
			: strcmp(action, "stop") == 0   ? MMIG_FAULT_STOP
							: MMIG_FAULT_KILL);
}
