/*
 * journal/owner.c - who owns a migration, whether that process still lives,
 * and migration ids.
 *
 * A pid alone is not an identity: pids are reused, and a journal outlives
 * reboots.  An owner is (pid, process start time, boot id, host); it is the
 * same process only when all four match, and dead when it runs on this host
 * and either the boot id differs or no process with that pid and start time
 * exists.  Anything that cannot be told for sure counts as alive: taking
 * over from a live owner is the one mistake recovery must never make.
 *
 * Caveat: processes in different pid namespaces that share a host name and
 * a boot id (containers of one pod) cannot see each other's pids and would
 * judge each other dead.  Give each its own journal, or its own host name.
 */
#include "internal.h"
#include "journal-int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static int
read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot.  The
 * command name (field 2) may hold spaces and parentheses, so parsing starts
 * after the last ')'. */
static int
proc_start_time(uint32_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	char *p;
	int rc;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	rc = read_small_file(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	p = strrchr(buf, ')');
	if (!p)
		return MMIG_ECORRUPT;
	p++;
	/* After ')' come fields 3.. ; field 22 is the 20th of them. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return MMIG_ECORRUPT;
	}
	*out = strtoull(p + 1, NULL, 10);
	return MMIG_OK;
}

static int
boot_id(char *buf, size_t size)
{
	int n = read_small_file("/proc/sys/kernel/random/boot_id", buf, size);

	if (n < 0) {
		buf[0] = '\0';
		return n;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return MMIG_OK;
}

int
mmig__owner_self(struct mmig_owner *out)
{
	char boot[64], host[256];

	memset(out, 0, sizeof(*out));
	out->pid = (uint32_t)getpid();
	/* Without its start time, an owner could not be told from a later
	 * process with the same pid: refuse rather than guess. */
	if (proc_start_time(out->pid, &out->start_time) != MMIG_OK ||
	    out->start_time == 0)
		return MMIG_EINVAL;
	boot_id(boot, sizeof(boot));
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	out->boot_id = mmig__strdup(boot);
	out->host = mmig__strdup(host);
	if (!out->boot_id || !out->host) {
		mmig__owner_free(out);
		return MMIG_ENOMEM;
	}
	return MMIG_OK;
}

bool
mmig__owner_alive(const struct mmig_owner *o)
{
	char boot[64], host[256];
	uint64_t start;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (strcmp(host, o->host ? o->host : "") != 0)
		return true; /* cannot tell from here: assume alive */
	if (boot_id(boot, sizeof(boot)) == MMIG_OK && o->boot_id &&
	    o->boot_id[0] && strcmp(boot, o->boot_id) != 0)
		return false; /* the machine rebooted since */
	if (o->pid == 0)
		return false;
	if (kill((pid_t)o->pid, 0) != 0 && errno == ESRCH)
		return false;
	switch (proc_start_time(o->pid, &start)) {
	case MMIG_OK:
		return start == o->start_time;
	case -ENOENT:
	case -ESRCH:
		return false; /* vanished between the two checks */
	default:
		return true; /* /proc unreadable: cannot tell */
	}
}

int
mmig__id_new(uint8_t id[MMIG_ID_LEN])
{
	size_t got = 0;
	uint64_t ms;

	while (got < MMIG_ID_LEN) {
		ssize_t n = getrandom(id + got, MMIG_ID_LEN - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	/* UUID version 7: the first 48 bits are the time in milliseconds, so
	 * ids sort by creation.  Every table of the journal is keyed by id,
	 * and migrations in flight are the newest: their keys sit together
	 * at the right edge of each B-tree, on few pages, however long the
	 * history to their left.  Random ids spread them over the whole
	 * file, and recovery touched a page per key. */
	ms = mmig__now_real_ns() / 1000000u;
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(ms >> (8 * (5 - i)));
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x70); /* version 7 */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	return MMIG_OK;
}

void
mmig__id_text(const uint8_t id[MMIG_ID_LEN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < MMIG_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[id[i] >> 4];
		*p++ = hex[id[i] & 0xf];
	}
	*p = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
mmig__id_parse(const char *text, uint8_t id[MMIG_ID_LEN])
{
	int n = 0;

	for (const char *p = text; *p; p++) {
		int hi, lo;

		if (*p == '-')
			continue;
		if (n == MMIG_ID_LEN)
			return MMIG_EINVAL;
		hi = hex_value(p[0]);
		lo = p[1] ? hex_value(p[1]) : -1;
		if (hi < 0 || lo < 0)
			return MMIG_EINVAL;
		id[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == MMIG_ID_LEN ? MMIG_OK : MMIG_EINVAL;
}
