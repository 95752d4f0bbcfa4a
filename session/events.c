/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card events: RDR_to_PC_NotifySlotChange and RDR_to_PC_HardwareError from
 * the interrupt endpoint (CCID 1.1 §6.3), or, for readers without one,
 * GetSlotStatus polling.  Events wait in a bounded ring (the oldest is
 * dropped when it is full) until uccid_wait_event() takes them.
 */
#include "config.h"

#include <errno.h>
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
		uccid_log(r, UCCID_LOG_ERROR, "slot %u: hardware error %02X", m.hw_error.bSlot,
			  m.hw_error.bHardwareErrorCode);
		uccid_push_event(r, UCCID_EVENT_HARDWARE_ERROR, m.hw_error.bSlot, m.hw_error.bHardwareErrorCode);
	} else {
		/*
		 * The first NotifySlotChange after the host configured the reader reports
		 * every occupied slot as changed (CCID §6.3.1: changes since the last report,
		 * and there was none), and one that follows a real removal and insertion
		 * looks the same.  For a card this session has powered, taking it for a new
		 * card would unpower it under the caller; ignoring it would miss a swap.
		 */
		bool first = !r->notify_seen;

		r->notify_seen = true;
		for (unsigned i = 0; i < r->nslots; i++) {
			bool present = ccid_notify_present(&m, i), changed = ccid_notify_changed(&m, i);

			struct uslot *s = &r->slots[i];

			if (first && present && changed && s->card.present && s->card.powered) {
				/* the next operation asks the reader: a card that was pulled and
				   put back has lost power (uccid_slot_enter) */
				uccid_card_set_verify(r, s);
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

int uccid_wait_event(struct uccid_reader *r, unsigned timeout_ms, struct uccid_event *ret)
{
	int64_t deadline;

	if (!r || !ret)
		return -EINVAL;
	deadline = uccid_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		int64_t left_ms;
		bool got;
		int n;

		reader_lock(r);
		got = uccid_pop_event(r, ret);
		n = r->dead;
		reader_unlock(r);
		if (got)
			return 1;
		if (n)
			return n;
		left_ms = (deadline - uccid_mono_us()) / 1000;
		if (left_ms <= 0)
			return 0;
		if (r->t->info.ep_intr_in) {
			uint8_t buf[CCID_NOTIFY_MAX_LEN];

			pthread_mutex_lock(&r->ev_lock);
			n = r->t->ops->intr_in(r->t, buf, sizeof(buf), left_ms > POLL_MS ? POLL_MS : (unsigned)left_ms);
			pthread_mutex_unlock(&r->ev_lock);
			if (n > 0)
				interrupt_message(r, buf, (size_t)n);
			else if (n == -ENODEV || n == -ECANCELED) {
				reader_lock(r);
				uccid_set_dead(r, n);
				reader_unlock(r);
			} else if (n < 0 && n != -ETIMEDOUT) {
				struct timespec nap = { .tv_nsec = 50 * 1000 * 1000 };

				uccid_log(r, UCCID_LOG_WARNING, "interrupt-IN: %s", strerror(-n));
				nanosleep(&nap, NULL);
			}
		} else {
			/* no interrupt endpoint: ask each slot (CCID §3.2.1 allows readers without one) */
			struct timespec nap = { .tv_nsec = (left_ms > POLL_MS ? POLL_MS : left_ms) * 1000 * 1000 };

			for (unsigned i = 0; i < r->nslots; i++) {
				struct uccid_slot_status st;
				bool before;

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
			nanosleep(&nap, NULL);
		}
	}
}
