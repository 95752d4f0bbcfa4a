/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card events: RDR_to_PC_NotifySlotChange and RDR_to_PC_HardwareError from
 * the interrupt endpoint (CCID 1.1 §6.3), or, for readers without one,
 * GetSlotStatus polling.  Events wait in a bounded ring (the oldest is
 * dropped when it is full) until uccid_wait_event() takes them.  One thread
 * at a time waits on the interrupt endpoint, without a timeout of its own
 * where the transport can be woken: an idle reader wakes nobody; a stop
 * request (uccid_wake) and an event another thread found (a command's
 * answer) wake it through the transport's wake op.  While a remote
 * reader's link is down, the waiter restores it (link.c) and reports its
 * going and coming back as events, and then the cards the reader has.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "session/session_priv.h"

#define POLL_MS 200

/*
 * A slot's presence as the reader reports it (CCID §6.3.1: bit 2n present,
 * bit 2n+1 changed since the last report): an event for every change, even
 * when an answer already told us (a card pulled mid-APDU), and for any
 * difference from what we knew.  A change to "present" may be a new card.
 * r->lock held.
 */
static void presence(struct uccid_reader *r, unsigned slot, bool present, bool changed)
{
	struct uslot *s = &r->slots[slot];

	if (!changed && present == s->card.present)
		return;
	uccid_card_changed(r, s, present);
}

static void interrupt_message(struct uccid_reader *r, const uint8_t *buf, size_t n)
{
	struct ccid_intr_msg m;
	struct ccid_diag diag = { 0 };

	if (ccid_intr_decode(buf, n, r->nslots, &m, &diag) < 0) {
		uccid_log(r, UCCID_LOG_WARNING, "malformed interrupt message skipped: byte %zu, expected %s",
			  diag.offset, diag.expected ? diag.expected : "");
		return;
	}
	reader_lock(r);
	if (m.bMessageType == CCID_RDR_TO_PC_HARDWARE_ERROR) {
		/* the caller gets it as an event and reports it once, where it decides (uccid watch, the IFD
		   handler): here only for a debugging log */
		uccid_log(r, UCCID_LOG_INFO, "slot %u: hardware error %02X%s", m.hw_error.bSlot,
			  m.hw_error.bHardwareErrorCode,
			  m.hw_error.bHardwareErrorCode == CCID_HW_ERROR_OVERCURRENT ? " (overcurrent)" : "");
		uccid_push_event(r, UCCID_EVENT_HARDWARE_ERROR, m.hw_error.bSlot, m.hw_error.bHardwareErrorCode);
	} else {
		/*
		 * The first NotifySlotChange after the host configured the reader reports
		 * every occupied slot as changed (CCID §6.3.1: changes since the last report,
		 * and there was none), and one that follows a real removal and insertion
		 * looks the same.  For a card this session has powered, taking it for a new
		 * card would unpower it under the caller; ignoring it would miss a swap.
		 */
		bool first = !r->notify_seen, repeat = first && r->relinked;

		r->notify_seen = true;
		r->relinked = false;
		for (unsigned i = 0; i < r->nslots; i++) {
			bool present = ccid_notify_present(&m, i), changed = ccid_notify_changed(&m, i);

			struct uslot *s = &r->slots[i];

			if (first && present && changed && s->card.present && s->card.powered) {
				/* the next operation asks the reader: a card that was pulled and
				   put back has lost power (uccid_slot_enter) */
				uccid_card_set_verify(r, s);
				continue;
			}
			if (repeat && present && changed && s->card.present) {
				/*
				 * The reader's first report after the link came back: the card
				 * a status answer found (rescan_slots), told here if it has not
				 * been.  A reader that sends no such report leaves this to its
				 * next one, as at open: a swap of an unpowered card before it
				 * reads as the repeat (a powered one is verified, above).
				 */
				if (uccid_card_take_arrived(r, s))
					uccid_push_event(r, UCCID_EVENT_INSERTED, i, 0);
				continue;
			}
			if (!first && present && changed && s->card.present) {
				if (uccid_card_take_arrived(r, s)) {
					/* the insertion an answer already recorded (and the card may be
					   powered by now): the caller hears of it, nothing changed since */
					uccid_push_event(r, UCCID_EVENT_INSERTED, i, 0);
					continue;
				}
				/* present before and now, changed between: the card went out and
				   one came back (a removal the caller and an eject latch must hear of) */
				uccid_card_swapped(r, s);
				continue;
			}
			presence(r, i, present, changed);
		}
	}
	reader_unlock(r);
}

/*
 * One wait on the interrupt endpoint, until deadline (µs, INT64_MAX: none),
 * and what it brought.  Where the transport can be woken, the wait has no
 * slices: an idle reader costs no wake-up, and uccid_wake() or another
 * thread's event (uccid_push_event) ends it with -EINTR.
 */
static void wait_interrupt(struct uccid_reader *r, int64_t deadline)
{
	uint8_t buf[CCID_NOTIFY_MAX_LEN];
	unsigned ms = 0;                /* the transport's "no limit" */
	int n;

	if (deadline != INT64_MAX) {
		/* rounded up, and a millisecond more: a transport that counts in whole
		   milliseconds from a truncated now must not return before deadline
		   (the waiter would go round once more for nothing) */
		int64_t left = (deadline - uccid_mono_us() + 999) / 1000 + 1;

		ms = left < 1 ? 1 : left > UINT_MAX - 1 ? UINT_MAX - 1 : (unsigned)left;
	}
	if (!r->t->ops->wake && (ms == 0 || ms > POLL_MS))
		ms = POLL_MS;           /* uccid_wake is seen after at most a slice */
	n = r->t->ops->intr_in(r->t, buf, sizeof(buf), ms);
	reader_lock(r);
	r->ev_waiting = false;
	r->ev_wakeups++;
	reader_unlock(r);
	if (n > 0) {
		interrupt_message(r, buf, (size_t)n);
	} else if (n == -ENODEV || n == -ECANCELED) {
		reader_lock(r);
		uccid_set_dead(r, n);
		reader_unlock(r);
	} else if (n < 0 && n != -ETIMEDOUT && n != -EINTR) {
		struct timespec nap = { .tv_nsec = 50 * 1000 * 1000 };

		uccid_log(r, UCCID_LOG_WARNING, "interrupt-IN: %s", strerror(-n));
		nanosleep(&nap, NULL);
	}
}

/* No interrupt endpoint: ask each slot (CCID §3.2.1 allows readers without one), then wait a round. */
static void poll_slots(struct uccid_reader *r, int64_t deadline)
{
	int64_t next = uccid_mono_us() + POLL_MS * 1000;

	for (unsigned i = 0; i < r->nslots; i++) {
		struct uccid_slot_status st;
		bool before;
		int n;

		reader_lock(r);
		before = r->slots[i].card.present;
		reader_unlock(r);
		/* a slot another thread has locked is asked next time */
		if (uccid_slot_enter(r, &r->slots[i], UCCID_ENTER_TRY) < 0)
			continue;
		n = uccid_do_slot_status(r, &r->slots[i], &st);
		uccid_slot_leave(r, &r->slots[i]);
		if (n < 0)
			continue;
		reader_lock(r);
		/* the status answer already recorded a change; the caller hears of it here */
		if (st.present != before)
			uccid_card_changed(r, &r->slots[i], st.present);
		reader_unlock(r);
	}
	reader_lock(r);
	r->ev_wakeups++;
	/* until the next round, unless an event, a wake or the end comes first */
	if (!r->ring_len && !r->wake_req && !r->dead)
		reader_wait_until(r, next < deadline ? next : deadline);
	reader_unlock(r);
}

/*
 * The link came back (link.c): a new instance of the device, whose cards
 * the session took as removed when it dropped.  Not every reader reports
 * its cards when a host configures it again (CCID §6.3.1 reports changes;
 * QEMU's usb-ccid after a USB/IP re-import sends nothing), so ask each slot
 * in slots (PC_to_RDR_GetSlotStatus).  Under s->op only, as gate.c's verify:
 * a status changes no card, and another thread's slot lock (a holder that
 * has yet to hear of the new card) must not hold the report back.  A card
 * an answer found inserted since the link came back (card.arrived: this
 * status's, or an operation's) is reported inserted here, once; the
 * reader's own report, if it sends one, is then the repeat
 * (interrupt_message).
 */
static void rescan_slots(struct uccid_reader *r, uint32_t slots)
{
	for (unsigned i = 0; i < r->nslots; i++) {
		struct uslot *s = &r->slots[i];
		struct uccid_slot_status st;
		int n;

		if (!(slots >> i & 1))
			continue;
		pthread_mutex_lock(&s->op);
		n = uccid_do_slot_status(r, s, &st);
		pthread_mutex_unlock(&s->op);
		if (n == -ENOTCONN || n == -ENODEV || n == -ECANCELED)
			return;         /* down again: the next link_up asks again */
		if (n < 0)
			uccid_log(r, UCCID_LOG_DEBUG, "slot %u: status after the reconnect: %s", i, uccid_strerror(n));
		/* the answer's bmICCStatus is recorded (engine.c), even in a failed status */
		reader_lock(r);
		if (s->card.present && uccid_card_take_arrived(r, s))
			uccid_push_event(r, UCCID_EVENT_INSERTED, i, 0);
		reader_unlock(r);
	}
}

int uccid_wait_event(struct uccid_reader *r, unsigned timeout_ms, struct uccid_event *ret)
{
	bool forever = timeout_ms == UCCID_WAIT_FOREVER;
	int64_t deadline;

	if (!r || !ret)
		return -EINVAL;
	deadline = forever ? INT64_MAX : uccid_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		bool got, woken, expired, mine = false;
		uint32_t rescan = 0;
		int dead;

		/*
		 * Everything this round acts on is read once, under the lock: a
		 * thread that took ev_lock must reach wait_interrupt and release
		 * it, even if the deadline passes while it lets go of r->lock.
		 */
		reader_lock(r);
		got = uccid_pop_event(r, ret);
		dead = r->dead;
		woken = r->wake_req;
		r->wake_req = false;
		expired = uccid_mono_us() >= deadline;
		if (!got && !dead && !woken && !expired && r->rescan) {
			/* the link is back: its slots are asked before anything is waited for */
			rescan = r->rescan;
			r->rescan = 0;
		} else if (!got && !dead && !woken && !expired && r->t->info.ep_intr_in) {
			/* one thread waits on the interrupt endpoint; the others for what it finds */
			mine = pthread_mutex_trylock(&r->ev_lock) == 0;
			if (mine)
				r->ev_waiting = true;
			else
				reader_wait_until(r, deadline);
		}
		reader_unlock(r);
		if (got)
			return 1;
		if (dead && dead != -ENOTCONN)
			return dead;
		if (woken || expired)
			return 0;
		if (dead == -ENOTCONN) {
			/* a remote reader's link is down: the event waiter brings it back */
			uccid_link_restore(r, deadline, true);
			continue;
		}
		if (rescan) {
			rescan_slots(r, rescan);
			continue;
		}
		if (mine) {
			wait_interrupt(r, deadline);
			pthread_mutex_unlock(&r->ev_lock);
		} else if (!r->t->info.ep_intr_in) {
			poll_slots(r, deadline);
		}
	}
}

uint64_t uccid_event_wakeups(struct uccid_reader *r)
{
	uint64_t n;

	reader_lock(r);
	n = r->ev_wakeups;
	reader_unlock(r);
	return n;
}

bool uccid_event_waiting(struct uccid_reader *r)
{
	bool w;

	reader_lock(r);
	w = r->ev_waiting;
	reader_unlock(r);
	return w;
}

void uccid_wake(struct uccid_reader *r)
{
	bool waiting;

	if (!r)
		return;
	reader_lock(r);
	r->wake_req = true;
	waiting = r->ev_waiting;
	pthread_cond_broadcast(&r->cond);
	reader_unlock(r);
	if (waiting && r->t->ops->wake)
		r->t->ops->wake(r->t);
}
