/*
 * journal/migration.c - the journal's front: migration handles (create,
 * stage, commit, claim, free), liveness, reading one migration and listing
 * what is in flight, for the coordinator and recovery (journal-int.h).
 *
 * Nothing here knows the storage: a handle stages records (checked against
 * its fold, so an illegal transition never reaches the journal), and every
 * write, read and liveness question goes through the backend's vtable
 * (backend.h).  This file includes no LMDB header.
 */
#include "backend.h"
#include "internal.h"
#include "journal-int.h"

#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

static void
set_err(struct mmig_error **errp, struct mmig_error *e)
{
	if (errp)
		*errp = e;
	else
		mmig_error_free(e);
}

static struct mmig_error *
poisoned(const struct mmig__jmig *m)
{
	return mmig_error_new(MMIG_EPOISONED,
			      "migration %s: an earlier journal commit failed; "
			      "recover it",
			      m->id_text);
}

void
mmig__jmig_clear_staged(struct mmig__jmig *m)
{
	for (size_t i = 0; i < m->n_staged; i++)
		mmig__free(m->staged[i].val);
	m->n_staged = 0;
	mmig__rec_header_parts_free(&m->header);
	m->has_header = false;
}

void
mmig__driving_init(struct mmig__driving *d)
{
	pthread_mutex_init(&d->lock, NULL);
	d->head = NULL;
}

void
mmig__driving_destroy(struct mmig__driving *d)
{
	pthread_mutex_destroy(&d->lock);
}

void
mmig__driving_set(struct mmig__driving *d, struct mmig__jmig *m, bool on)
{
	pthread_mutex_lock(&d->lock);
	if (on) {
		m->active_next = d->head;
		d->head = m;
	} else {
		for (struct mmig__jmig **p = &d->head; *p;
		     p = &(*p)->active_next) {
			if (*p == m) {
				*p = m->active_next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
}

bool
mmig__driving_has(struct mmig__driving *d, const uint8_t id[MMIG_ID_LEN])
{
	bool found = false;

	pthread_mutex_lock(&d->lock);
	for (struct mmig__jmig *m = d->head; m && !found; m = m->active_next)
		found = memcmp(m->id, id, MMIG_ID_LEN) == 0;
	pthread_mutex_unlock(&d->lock);
	return found;
}

bool
mmig__owner_active(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		   const struct mmig_owner *o)
{
	return mmig__journal_ops(j)->owner_active(j, id, o);
}

void
mmig__jmig_free(struct mmig__jmig *m)
{
	if (!m)
		return;
	if (m->active)
		mmig__journal_ops(m->j)->drive(m, false);
	mmig__jmig_clear_staged(m);
	mmig__free(m->staged);
	mmig__fold_free(&m->fold);
	mmig__rec_status_free(&m->status);
	mmig__free(m);
}

int
mmig__jmig_create(struct mmig_journal *j, const struct mmig_rec_header *h,
		  struct mmig__jmig **out, struct mmig_error **errp)
{
	const struct mmig__backend_ops *ops = mmig__journal_ops(j);
	struct mmig_rec_header hdr = *h;
	struct mmig__jmig *m;
	int rc;

	*out = NULL;
	/* Refused here, before anything is staged; the first append checks
	 * again, atomically, against a creation in another process. */
	rc = ops->admit(j, (enum mmig_durability)h->durability, errp);
	if (rc != MMIG_OK)
		return rc;
	m = mmig__calloc(1, sizeof(*m));
	if (!m)
		return MMIG_ENOMEM;
	m->j = j;
	rc = mmig__id_new(m->id);
	if (rc != MMIG_OK)
		goto fail;
	mmig__id_text(m->id, m->id_text);
	m->durability = (enum mmig_durability)h->durability;
	m->epoch = 1;
	rc = mmig__fold_init(&m->fold, h->n_ops);
	if (rc != MMIG_OK)
		goto fail;
	memcpy(hdr.id, m->id, MMIG_ID_LEN);
	hdr.created_ns = mmig__now_real_ns();
	hdr.desc_side = ops->side_min && h->model_desc &&
			h->model_desc_len >= ops->side_min();
	if (hdr.desc_side)
		hdr.desc_xxh64 = XXH3_64bits(h->model_desc, h->model_desc_len);
	rc = mmig__rec_header_encode_parts(&hdr, &m->header);
	if (rc != MMIG_OK)
		goto fail;
	m->has_header = true;
	m->status.state = MMIG_STATE_RUNNING;
	m->status.epoch = m->epoch;
	rc = mmig__owner_copy(&m->status.owner, ops->session(j));
	if (rc != MMIG_OK)
		goto fail;
	m->committed_state = 0; /* nothing stored yet */
	m->active = true;
	ops->drive(m, true);
	*out = m;
	return MMIG_OK;
fail:
	set_err(errp, mmig_error_new(rc, "journal %s: new migration: %s",
				     ops->where(j), mmig_strerror(rc)));
	mmig__jmig_free(m);
	return rc;
}

int
mmig__jmig_stage(struct mmig__jmig *m, uint32_t kind, int64_t op,
		 const void *data, size_t len, struct mmig_error **errp)
{
	struct mmig_rec_transition t = {
		.kind = kind,
		.op = op,
		.epoch = m->epoch,
		.time_ns = mmig__now_real_ns(),
		.data = (uint8_t *)data,
		.data_len = len,
	};
	struct mmig__staged *s;
	struct mmig_error *err = NULL;
	int rc;

	if (m->poisoned) {
		set_err(errp, poisoned(m));
		return MMIG_EPOISONED;
	}
	if (m->n_staged == m->cap_staged) {
		size_t cap = m->cap_staged ? m->cap_staged * 2 : 4;

		s = mmig__realloc(m->staged, cap * sizeof(*s));
		if (!s)
			return MMIG_ENOMEM;
		m->staged = s;
		m->cap_staged = cap;
	}
	s = &m->staged[m->n_staged];
	rc = mmig__rec_transition_encode(&t, &s->val, &s->len);
	if (rc != MMIG_OK)
		return rc;
	rc = mmig__fold_apply(&m->fold, m->next_seq, &t, &err);
	if (rc != MMIG_OK) {
		mmig__free(s->val);
		set_err(errp, mmig_error_wrap(err, "migration %s", m->id_text));
		return rc;
	}
	s->seq = m->next_seq++;
	m->n_staged++;
	return MMIG_OK;
}

int
mmig__jmig_commit(struct mmig__jmig *m, enum mmig__sync sync,
		  struct mmig_error **errp)
{
	struct mmig_error *err = NULL;
	uint8_t *status_val = NULL;
	size_t status_len = 0;
	int rc;

	if (m->durability == MMIG_PROCESS)
		sync = MMIG__SYNC_NONE;
	if (m->poisoned) {
		set_err(errp, poisoned(m));
		return MMIG_EPOISONED;
	}
	if (m->fold.state != m->committed_state) {
		m->status.state = m->fold.state;
		m->status.updated_ns = mmig__now_real_ns();
		rc = mmig__rec_status_encode(&m->status, &status_val,
					     &status_len);
		if (rc != MMIG_OK)
			return rc;
	}
	rc = mmig__journal_ops(m->j)->append(m, status_val, status_len, sync,
					       &err);
	mmig__free(status_val);
	if (rc != MMIG_OK) {
		m->poisoned = true;
		set_err(errp, err);
		return rc;
	}
	mmig_error_free(err);
	m->committed_state = m->fold.state;
	mmig__jmig_clear_staged(m);
	return MMIG_OK;
}

int
mmig__jmig_check(struct mmig__jmig *m, struct mmig_error **errp)
{
	const struct mmig__backend_ops *ops = mmig__journal_ops(m->j);

	return ops->check ? ops->check(m, errp) : MMIG_OK;
}

int
mmig__jmig_claim(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		 uint64_t expected_epoch, bool force,
		 struct mmig_rec_header *header_out, struct mmig__jmig **out,
		 struct mmig_error **errp)
{
	return mmig__journal_ops(j)->claim(j, id, expected_epoch, force,
					   header_out, out, errp);
}

int
mmig__journal_read(struct mmig_journal *j, const uint8_t id[MMIG_ID_LEN],
		   struct mmig_rec_header *h, struct mmig_rec_status *st,
		   struct mmig_fold *fold, uint64_t *next_seq,
		   struct mmig_error **errp)
{
	return mmig__journal_ops(j)->read(j, id, h, st, fold, next_seq, errp);
}

int
mmig__journal_list(struct mmig_journal *j, bool all,
		   uint8_t (**ids)[MMIG_ID_LEN], size_t *n,
		   struct mmig_error **errp)
{
	return mmig__journal_ops(j)->list(j, all, ids, n, errp);
}

/* ---- the public calls every backend answers ------------------------------ */

void
mmig_journal_close(struct mmig_journal *j)
{
	if (j)
		mmig__journal_ops(j)->close(j);
}

int
mmig_journal_sync_v2(struct mmig_journal *j, struct mmig_error **errp)
{
	if (errp)
		*errp = NULL;
	return mmig__journal_ops(j)->sync(j, errp);
}

int
mmig_journal_sync(struct mmig_journal *j)
{
	return mmig_journal_sync_v2(j, NULL);
}

int
mmig_journal_prune_v2(struct mmig_journal *j, uint64_t older_than_ns,
		      size_t keep, size_t *n_pruned, struct mmig_error **errp)
{
	if (errp)
		*errp = NULL;
	return mmig__journal_ops(j)->prune(j, older_than_ns, keep, n_pruned,
					   errp);
}

int
mmig_journal_prune(struct mmig_journal *j, uint64_t older_than_ns,
		   size_t keep, size_t *n_pruned)
{
	return mmig_journal_prune_v2(j, older_than_ns, keep, n_pruned, NULL);
}
