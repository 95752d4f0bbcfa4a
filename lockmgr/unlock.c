/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Letting a slot go: the refusals that change nothing (SCardUnlock's
 * E_INVALIDARG for a bad disposition, a slot not locked, another owner's
 * slot), the countdown of a reentrant lock, and on the last unlock the
 * mechanism's release, the disposition carried out by the reader, the
 * card-state generation, and the hand-off to the next waiter — which happens
 * whatever the callbacks returned.
 */
#include "config.h"

#include <errno.h>

#include "lockmgr/lockmgr_priv.h"

int lockmgr_unlock(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, enum lockmgr_disposition d,
		   enum lockmgr_done *done)
{
	enum lockmgr_done dn = LOCKMGR_DONE_NOTHING;
	struct lm_slot *s;
	bool mech;
	int r = 0, st = 0;

	/* Every check comes before any change (issue 5: a refused unlock changes nothing). */
	if (!m || slot >= m->nslots || !lm_valid_disposition(d))
		return -EINVAL;
	s = &m->slots[slot];
	if (d == LOCKMGR_LEAVE && lm_fast_owner(owner)) {
		uint64_t v = owner;

		/* the fast hold of owner (see LM_FAST_IDLE): nothing to send, nothing queued */
		if (atomic_compare_exchange_strong_explicit(&s->fast, &v, LM_FAST_IDLE, memory_order_release,
							    memory_order_relaxed)) {
			if (done)
				*done = LOCKMGR_DONE_NOTHING;
			return 0;
		}
	}
	pthread_mutex_lock(&m->lock);
	lm_inflate(s);
	if (s->state == LM_FREE) {
		r = -ENOLCK;
	} else if (s->owner != owner) {
		r = -EPERM;
	} else if (s->state != LM_HELD) {
		r = -ENOLCK;    /* its own lock call has not returned yet, or it is releasing */
	} else if (s->count > 1) {
		s->count--;     /* an inner unlock: no disposition */
	} else if (d == LOCKMGR_LEAVE && !s->mechanical && !s->ofd_held) {
		/* nothing to send, nothing outside the process (no lock file, or a LOCAL hold):
		   one critical section */
		lm_hand_off(s);
	} else {
		mech = s->mechanical;
		s->state = LM_RELEASING;
		pthread_mutex_unlock(&m->lock);

		/* The mechanism lets go before the card is ejected (CCID Mechanical 05, then 02). */
		if (mech)
			r = m->ops->mechanical_lock(m->ctx, slot, false);
		/* LEAVE sends nothing: the reader is not called for it. */
		if (d != LOCKMGR_LEAVE) {
			st = m->ops->dispose(m->ctx, slot, d, &dn);
			if (st < 0 && r == 0)
				r = st;
		}
		/* Released whatever the callbacks returned: nobody stays stuck behind an owner
		   whose card or reader is gone. */
		lm_release(m, slot, lm_done_event(d, dn, st), owner);
		if (done)
			*done = dn;
		return r;
	}
	pthread_mutex_unlock(&m->lock);
	if (r == 0 && done)
		*done = LOCKMGR_DONE_NOTHING;
	return r;
}
