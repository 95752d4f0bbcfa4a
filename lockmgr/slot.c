/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A slot's ownership transitions, below both taking (lock.c) and letting go
 * (unlock.c): inflating the lock-free fast word into the slot's state, handing
 * the slot to the first waiter in FIFO order, and releasing it — across
 * processes first, then in the process.  Each is called as its comment says,
 * with or without m->lock.
 */
#include "config.h"

#include "lockmgr/lockmgr_priv.h"

void lm_inflate(struct lm_slot *s)
{
	uint64_t v = atomic_load(&s->fast);

	while (v != LM_FAST_INFLATED) {
		/* a fast holder's unlock may race us: either it swaps first (v becomes IDLE and we
		   retry) or we do, and its unlock then comes here and finds it HELD */
		if (atomic_compare_exchange_weak(&s->fast, &v, LM_FAST_INFLATED)) {
			if (v != LM_FAST_IDLE) {
				s->state = LM_HELD;
				s->owner = v;
				s->count = 1;
				s->mechanical = false;
				s->since = (struct timespec){ 0 };
			}
			return;
		}
	}
}

/* Called with m->lock held. */
bool lm_hand_off(struct lm_slot *s)
{
	struct lm_waiter *w = s->head;

	s->count = 0;
	if (!w) {
		s->state = LM_FREE;
		/* deflate: the next uncontended lock is a single swap again */
		atomic_store_explicit(&s->fast, LM_FAST_IDLE, memory_order_release);
		return false;
	}
	s->head = w->next;
	if (!s->head)
		s->tail = NULL;
	s->nwaiters--;
	s->state = LM_ACQUIRING;
	s->owner = w->owner;
	atomic_store_explicit(&s->cancel_acquire, false, memory_order_relaxed);
	w->granted = true;
	/* Signalled with m->lock held: w lives on the waiter's stack, and once the mutex is
	   released a waiter that timed out could return and destroy w->cv. */
	pthread_cond_signal(&w->cv);
	return true;
}

void lm_release(struct lockmgr *m, unsigned slot, enum lockmgr_event ev, lockmgr_owner_t owner)
{
	struct lm_slot *s = &m->slots[slot];

	pthread_mutex_lock(&m->lock);
	if (ev)
		lm_bump(m, slot, ev, true, owner);
	s->mechanical = false;
	if (s->ofd_held) {
		/* Hand over within the process keeping the OFD lock: the next owner needs no
		   system call.  Bounded, so that waiting processes are not starved. */
		if (s->head && s->local_handoffs < LM_LOCAL_HANDOFF_MAX) {
			s->local_handoffs++;
			lm_hand_off(s);
			pthread_mutex_unlock(&m->lock);
			return;
		}
		/* Free before the OFD lock goes: a record still marked held after that means
		   its holder died (see finish_lock()). */
		lm_file_write(m->file, slot, &(struct lm_holder_rec){ .held = false });
		s->ofd_held = false;
		s->local_handoffs = 0;
		s->state = LM_RELEASING;
		pthread_mutex_unlock(&m->lock);
		/* Not under m->lock, and before any thread of this process may own the slot:
		   OFD locks of one description never conflict, so a new owner here would
		   "take" the lock we still hold and then lose it to this F_UNLCK. */
		lm_file_release(m->file, slot);
		pthread_mutex_lock(&m->lock);
	}
	lm_hand_off(s);
	pthread_mutex_unlock(&m->lock);
}
