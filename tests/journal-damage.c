/*
 * tests/journal-damage.c - garble one journal record, for the CLI tests of
 * `mmig-recover verify` and `show` on a damaged journal.
 *
 *   journal-damage DIR ID SEQ
 *   journal-damage --hold-lock DIR READY
 *
 * Flips every bit of the last byte of transition SEQ of migration ID (the
 * last byte of its checksum), through the journal's own write path, so the
 * damage is exactly one record that no longer checks out: the rest of the
 * LMDB file stays valid, as it would after a bad sector inside a value.
 * Flipping a byte of data.mdb at a raw offset could as well hit LMDB's own
 * page headers and test LMDB instead of us.
 *
 * With --hold-lock it plays a writer stopped (Ctrl-Z) inside a commit: it
 * begins a write transaction, creates the file READY, and stops itself
 * with SIGSTOP, holding the journal's write lock until it is killed (or
 * continued: then it aborts and exits 0).
 *
 * Exit status: 0 done, 1 failed (message on stderr), 2 usage.
 */
#include "lmdb-int.h"
#include "mmig/mmig.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static int
hold_lock(const char *dir, const char *ready)
{
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	MDB_txn *txn;
	int fd;

	if (mmig_journal_open(&j, dir, NULL, &err) != MMIG_OK) {
		fprintf(stderr, "journal-damage: open: %s\n",
			mmig_error_message(err));
		mmig_error_free(err);
		return 1;
	}
	if (mmig__journal_write_begin(j, &txn) != MMIG_OK) {
		fprintf(stderr, "journal-damage: cannot begin a write\n");
		mmig_journal_close(j);
		return 1;
	}
	fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	raise(SIGSTOP);
	mmig__journal_write_abort(j, txn);
	mmig_journal_close(j);
	return 0;
}

int
main(int argc, char **argv)
{
	uint8_t id[MMIG_ID_LEN];
	MDB_val v;
	struct mmig_journal *j = NULL;
	struct mmig_error *err = NULL;
	MDB_txn *txn = NULL;
	uint8_t *copy = NULL;
	char *end;
	uint64_t seq;
	int rc, ex = 1;

	if (argc == 4 && strcmp(argv[1], "--hold-lock") == 0)
		return hold_lock(argv[2], argv[3]);
	if (argc != 4) {
		fprintf(stderr, "usage: journal-damage DIR ID SEQ\n");
		return 2;
	}
	seq = strtoull(argv[3], &end, 10);
	if (*end != '\0' || mmig__id_parse(argv[2], id) != MMIG_OK) {
		fprintf(stderr, "journal-damage: bad id or seq\n");
		return 2;
	}
	rc = mmig_journal_open(&j, argv[1], NULL, &err);
	if (rc != MMIG_OK) {
		fprintf(stderr, "journal-damage: open: %s\n",
			mmig_error_message(err));
		goto out;
	}
	rc = mmig__journal_write_begin(j, &txn);
	if (rc != MMIG_OK)
		goto fail;
	if (mmig__lmdb_value_get(j, txn, "log", id, seq, &v) != MDB_SUCCESS) {
		fprintf(stderr, "journal-damage: no record %s seq %" PRIu64
				"\n", argv[2], seq);
		goto abort;
	}
	/* LMDB's value memory is read-only (MDB_WRITEMAP is off): copy. */
	copy = malloc(v.mv_size);
	if (copy) {
		memcpy(copy, v.mv_data, v.mv_size);
		copy[v.mv_size - 1] ^= 0xff;
	}
	if (!copy || mmig__lmdb_value_put(j, txn, "log", id, seq, copy,
					  v.mv_size) != MDB_SUCCESS) {
		fprintf(stderr, "journal-damage: cannot rewrite the record\n");
		goto abort;
	}
	rc = mmig__journal_write_commit(j, txn);
	txn = NULL;
	if (rc != MMIG_OK)
		goto fail;
	ex = 0;
	goto out;
abort:
	mmig__journal_write_abort(j, txn);
	goto out;
fail:
	fprintf(stderr, "journal-damage: %s\n", mmig_strerror(rc));
out:
	free(copy);
	mmig_error_free(err);
	mmig_journal_close(j);
	return ex;
}
