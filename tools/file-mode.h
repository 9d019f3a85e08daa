/*
 * tools/file-mode.h - the tools' --file-mode option, shared by mmig and
 * mmig-recover (each includes it once; everything here is static).
 *
 * By default the library creates the controller database and the model
 * databases 0600 and the model directory 0700, whatever the umask: they
 * hold model config and credentials.  --file-mode MODE widens that for
 * what the run creates: database files get MODE exactly (their -wal and
 * -shm follow), and the model directory and its missing parents get MODE
 * with x added wherever it has r (0640 -> 0750), so that whoever may read
 * the files may reach them.  Nothing that exists is ever changed.
 */
#ifndef MMIG_TOOLS_FILE_MODE_H
#define MMIG_TOOLS_FILE_MODE_H

#include <mmig/mmig.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MODE_DEFAULT 0600u

/*
 * Parse MODE: octal digits only (0640, 640), owner read and write, other
 * bits only among 0066 (no execute, no setuid, sticky...).
 * @return true and *out set, or false.
 */
static inline bool
file_mode_parse(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || strspn(s, "01234567") != strlen(s) || strlen(s) > 4)
		return false;
	v = strtoul(s, &end, 8);
	if (*end || (v & ~0666ul) || (v & 0600ul) != 0600ul)
		return false;
	*out = (unsigned)v;
	return true;
}

/* The directory mode that goes with file mode @p mode: x wherever r. */
static inline unsigned
file_mode_dir(unsigned mode)
{
	return mode | ((mode & 0444u) >> 2);
}

/*
 * mkdir -p @p dir, each directory it creates made exactly @p dir_mode
 * whatever the umask; those that exist are left alone.
 * @return 0 or -errno.
 */
static inline int
file_mode_make_dirs(const char *dir, unsigned dir_mode)
{
	char *copy = strdup(dir);
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; rc == 0; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(copy, (mode_t)dir_mode) == 0) {
			if (chmod(copy, (mode_t)dir_mode) != 0)
				rc = -errno;
		} else if (errno != EEXIST) {
			rc = -errno;
		}
		if (last)
			break;
		*p = '/';
	}
	free(copy);
	return rc;
}

/*
 * Create @p path empty with exactly @p mode unless it exists (an empty
 * file is a new SQLite database).
 * @return 0 or -errno.
 */
static inline int
file_mode_create(const char *path, unsigned mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		      (mode_t)mode);
	int rc = 0;

	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	if (fchmod(fd, (mode_t)mode) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

#endif
