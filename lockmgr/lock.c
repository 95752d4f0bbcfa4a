/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Taking a slot: the in-process lock with its FIFO of waiters (each waiter
 * sleeps on its own condition variable and is handed the slot by the release,
 * so no waiter is woken for nothing and none can overtake another), then the
 * OFD lock across processes, the abandon disposition when the previous holder
 * died with the slot, and the optional mechanical lock.  Also cancelling a
 * waiter.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "lockmgr/lockmgr_priv.h"

void lm_record_mine(const struct lockmgr *m, const struct lm_slot *s, struct lm_holder_rec *ret)
{
	*ret = (struct lm_holder_rec){ .held = true, .pid = m->pid, .owner = s->owner, .since = s->since };
	memcpy(ret->program, m->program, sizeof(ret->program));
}

static void unlink_waiter(struct lm_slot *s, struct lm_waiter *w)
{
	struct lm_waiter *prev = NULL;

	for (struct lm_waiter **p = &s->head; *p; prev = *p, p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			if (s->tail == w)
				s->tail = prev;
			s->nwaiters--;
			return;
		}
}

/*
 * Queue at the tail and sleep until a release hands us the slot, the deadline
 * passes or lockmgr_cancel_wait().  Called and returns with m->lock held.  A
 * grant that races with the timeout wins: the caller then owns the slot.
 */
static int wait_turn(struct lockmgr *m, struct lm_slot *s, lockmgr_owner_t owner, int64_t deadline)
{
	struct lm_waiter w = { .owner = owner };
	pthread_condattr_t ca;
	struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };
	int r = 0;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);

	if (s->tail)
		s->tail->next = &w;
	else
		s->head = &w;
	s->tail = &w;
	s->nwaiters++;

	while (!w.granted && !w.cancelled) {
		if (deadline < 0) {
			pthread_cond_wait(&w.cv, &m->lock);
		} else if (pthread_cond_timedwait(&w.cv, &m->lock, &ts) == ETIMEDOUT && !w.granted &&
			   !w.cancelled) {
			unlink_waiter(s, &w);
			r = -ETIMEDOUT;
			break;
		}
	}
	if (w.cancelled)
		r = -ECANCELED; /* lockmgr_cancel_wait() unlinked us */
	pthread_cond_destroy(&w.cv);
	return r;
}

/*
 * A hold within the process only (no lock file, or LOCKMGR_F_LOCAL) is not
 * timed: nobody outside the process can see it, and the clock read would be
 * a third of the uncontended lock's cost (issue 5: within 3x of a bare
 * mutex).  lockmgr_holder() reports since 0 for it.
 */
static const struct timespec NOT_RECORDED = { 0 };

static struct timespec realtime_now(void)
{
	/* "since when" is for people, to the second: time() costs half of the coarse clock and
	   an eighth of CLOCK_REALTIME, and it is paid on every uncontended lock */
	return (struct timespec){ .tv_sec = time(NULL) };
}

/*
 * The slot is ours in this process (ACQUIRING).  Take the OFD lock unless the
 * previous owner in this process handed it over, deal with an abandoned card,
 * lock the mechanism.  Called without m->lock.
 */
static int finish_lock(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, int64_t deadline,
		       unsigned flags, struct lockmgr_lock_info *ret)
{
	struct lm_slot *s = &m->slots[slot];
	struct lockmgr_lock_info info = { .count = 1 };
	struct lm_holder_rec prev = { 0 }, mine;
	int r = 0;

	/* ofd_held is only written by the slot's owner, and we are it */
	if (m->file && !s->ofd_held) {
		pthread_mutex_lock(&m->lock);
		s->waiting_ofd = true;
		pthread_mutex_unlock(&m->lock);
		r = lm_file_acquire(m->file, slot, deadline, &s->cancel_acquire);
		pthread_mutex_lock(&m->lock);
		s->waiting_ofd = false;
		if (r == 0) {
			s->ofd_held = true;
			s->local_handoffs = 0;
			/* A clean release marks the record free before it lets the OFD lock go;
			   a record still marked held means its holder died holding the slot. */
			(void)lm_file_read(m->file, slot, true, &prev);
		}
		pthread_mutex_unlock(&m->lock);
		if (r < 0)
			goto fail;
	}

	/* a corrupt record is a holder we cannot name: its card may be left authenticated too */
	if (prev.held || prev.corrupt[0]) {
		enum lockmgr_done done = LOCKMGR_DONE_NOTHING;
		enum lockmgr_event ev;

		info.abandoned = true;
		info.prev_pid = prev.pid;
		memcpy(info.prev_program, prev.program, sizeof(info.prev_program));
		info.prev_since = prev.since;
		/* Before the new owner gets the card (issue 5: a card left authenticated must
		   not pass on).  Its failure does not keep the slot from the new owner: the
		   card may be gone, and the next owner would fail the same way forever. */
		if (m->abandon != LOCKMGR_LEAVE)
			info.abandon_status = m->ops->dispose(m->ctx, slot, m->abandon, &done);
		info.abandon_done = done;
		ev = lm_done_event(m->abandon, done, info.abandon_status);
		pthread_mutex_lock(&m->lock);
		if (ev)
			lm_bump(m, slot, ev, false, 0);
		/* handled: should we fail below, the next owner must not dispose again */
		if (m->file)
			lm_file_write(m->file, slot, &(struct lm_holder_rec){ .held = false });
		pthread_mutex_unlock(&m->lock);
	}

	if (flags & LOCKMGR_F_MECHANICAL) {
		r = m->ops->mechanical_lock(m->ctx, slot, true);
		if (r < 0)
			goto fail;
	}

	pthread_mutex_lock(&m->lock);
	s->state = LM_HELD;
	s->count = 1;
	s->mechanical = flags & LOCKMGR_F_MECHANICAL;
	s->since = realtime_now();
	if (m->file) {
		lm_record_mine(m, s, &mine);
		lm_file_write(m->file, slot, &mine);
	}
	pthread_mutex_unlock(&m->lock);
	if (ret)
		*ret = info;
	return 0;
fail:
	lm_release(m, slot, 0, owner);
	return r;
}

int lockmgr_lock(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, int timeout_ms, unsigned flags,
		 struct lockmgr_lock_info *ret)
{
	struct lm_slot *s;
	int64_t deadline;
	int r;

	if (!m || slot >= m->nslots || timeout_ms < -1 || (flags & ~(LOCKMGR_F_MECHANICAL | LOCKMGR_F_LOCAL)) ||
	    (flags & LOCKMGR_F_MECHANICAL && flags & LOCKMGR_F_LOCAL))
		return -EINVAL;
	if ((flags & LOCKMGR_F_MECHANICAL) && !m->ops->mechanical_lock)
		return -EOPNOTSUPP;
	/* 0: try once, -1: forever, else an absolute CLOCK_MONOTONIC deadline */
	deadline = timeout_ms > 0 ? uccid_mono_ns() + (int64_t)timeout_ms * 1000000 : timeout_ms;
	s = &m->slots[slot];

	if ((!m->file || flags & LOCKMGR_F_LOCAL) && !(flags & LOCKMGR_F_MECHANICAL) && lm_fast_owner(owner)) {
		uint64_t v = LM_FAST_IDLE;

		if (atomic_compare_exchange_strong_explicit(&s->fast, &v, owner, memory_order_acquire,
							    memory_order_relaxed)) {
			if (ret)
				*ret = (struct lockmgr_lock_info){ .count = 1 };
			return 0;
		}
		/* held fast by another owner: trying once needs no more than that */
		if (timeout_ms == 0 && v != owner && v != LM_FAST_INFLATED)
			return -EBUSY;
	}
	pthread_mutex_lock(&m->lock);
	lm_inflate(s);
	if (s->state == LM_HELD && s->owner == owner) {
		if (s->count == UINT_MAX) {
			r = -EOVERFLOW;
		} else {
			r = 0;
			s->count++;
			if (ret)
				*ret = (struct lockmgr_lock_info){ .count = s->count };
		}
		pthread_mutex_unlock(&m->lock);
		return r;
	}
	if (s->state == LM_FREE) {
		/* FREE implies an empty queue: nobody is overtaken */
		if ((!m->file || flags & LOCKMGR_F_LOCAL) && !(flags & LOCKMGR_F_MECHANICAL)) {
			/* in process only: nothing more to take, the slot is ours at once */
			s->state = LM_HELD;
			s->owner = owner;
			s->count = 1;
			s->mechanical = false;
			s->since = NOT_RECORDED;
			pthread_mutex_unlock(&m->lock);
			if (ret)
				*ret = (struct lockmgr_lock_info){ .count = 1 };
			return 0;
		}
		s->state = LM_ACQUIRING;
		s->owner = owner;
		atomic_store_explicit(&s->cancel_acquire, false, memory_order_relaxed);
	} else if (timeout_ms == 0) {
		pthread_mutex_unlock(&m->lock);
		return -EBUSY;
	} else {
		r = wait_turn(m, s, owner, deadline);
		if (r < 0) {
			pthread_mutex_unlock(&m->lock);
			return r;
		}
		/* a hand-off may have kept the OFD lock (ofd_held): it goes with the slot */
		if ((!m->file || flags & LOCKMGR_F_LOCAL) && !(flags & LOCKMGR_F_MECHANICAL)) {
			s->state = LM_HELD;
			s->count = 1;
			s->mechanical = false;
			s->since = NOT_RECORDED;
			pthread_mutex_unlock(&m->lock);
			if (ret)
				*ret = (struct lockmgr_lock_info){ .count = 1 };
			return 0;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return finish_lock(m, slot, owner, deadline, flags, ret);
}

static int cancel_waits(struct lockmgr *m, unsigned slot, bool all, lockmgr_owner_t owner)
{
	struct lm_slot *s;
	struct lm_waiter *w, *next;
	bool found = false;

	if (!m || slot >= m->nslots)
		return -EINVAL;
	s = &m->slots[slot];
	pthread_mutex_lock(&m->lock);
	lm_inflate(s);
	for (w = s->head; w; w = next) {
		next = w->next;
		if (!all && w->owner != owner)
			continue;
		unlink_waiter(s, w);
		w->cancelled = true;
		pthread_cond_signal(&w->cv);
		found = true;
	}
	/* The owner already granted here but waiting for another process: its flag is
	   checked between futex waits, and the ring makes its wait return now. */
	if (s->state == LM_ACQUIRING && (all || s->owner == owner) && s->waiting_ofd) {
		atomic_store(&s->cancel_acquire, true);
		lm_file_ring(m->file, slot);
		found = true;
	}
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : -ENOENT;
}

int lockmgr_cancel_wait(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner)
{
	return cancel_waits(m, slot, false, owner);
}

int lockmgr_cancel_all(struct lockmgr *m, unsigned slot)
{
	int r = cancel_waits(m, slot, true, 0);

	return r == -ENOENT ? 0 : r;
}
