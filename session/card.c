/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card state and the event ring: what the session knows of the card in each
 * slot (struct ucard) changes here and nowhere else, one function per
 * transition, each asserting that its caller holds r->lock — the lock
 * under which every reader of that state looks (session_priv.h).  A change
 * that another thread must hear of is a card event: the generation moves,
 * the lock manager warns the other owners (PC/SC's SCARD_W_RESET_CARD and
 * SCARD_W_REMOVED_CARD), and a removal ends an eject latch.
 */
#include "config.h"

#include <errno.h>

#include "session/session_priv.h"

void uccid_push_event(struct uccid_reader *r, enum uccid_event_type type, unsigned slot, uint8_t code)
{
	struct uccid_event *e;

	reader_assert_locked(r);
	if (r->ring_len == UCCID_EVENT_RING) {
		r->ring_head = (r->ring_head + 1) % UCCID_EVENT_RING;
		r->ring_len--;
	}
	e = &r->ring[(r->ring_head + r->ring_len) % UCCID_EVENT_RING];
	e->type = type;
	e->slot = slot;
	e->code = code;
	r->ring_len++;
	/* the event waiter sleeps in the transport without a timeout (events.c) */
	if (r->ev_waiting && r->t->ops->wake)
		r->t->ops->wake(r->t);
	pthread_cond_broadcast(&r->cond);
}

bool uccid_pop_event(struct uccid_reader *r, struct uccid_event *ret)
{
	reader_assert_locked(r);
	if (!r->ring_len)
		return false;
	*ret = r->ring[r->ring_head];
	r->ring_head = (r->ring_head + 1) % UCCID_EVENT_RING;
	r->ring_len--;
	return true;
}

/* A card event; another_card: the card itself changed (a removal or an insertion). */
static void card_event(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev, bool another_card)
{
	reader_assert_locked(r);
	s->card.generation++;
	if (another_card)
		s->card.changes++;
	if (ev != LOCKMGR_EV_RESET && ev != LOCKMGR_EV_POWER_OFF)
		s->card.left = false;
	if (!r->lm)
		return;
	/*
	 * A removal ends an eject latch: the next card may be powered.  Only a removal this
	 * session saw (a status or an event): readers report every slot as changed when a
	 * host configures them, so a session that opens later cannot tell whether a
	 * latched card was pulled meanwhile (uccid_ejected(clear) is for that).
	 */
	if (ev == LOCKMGR_EV_REMOVED)
		lockmgr_latch(r->lm, s->index, 0);
	/* the lock manager accounts for the dispositions it has carried out */
	if (!s->card.disposing)
		lockmgr_card_event(r->lm, s->index, ev);
}

void uccid_card_event(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev)
{
	card_event(r, s, ev, ev == LOCKMGR_EV_REMOVED || ev == LOCKMGR_EV_INSERTED);
}

void uccid_card_present(struct uccid_reader *r, struct uslot *s, bool present)
{
	reader_assert_locked(r);
	if (present == s->card.present && (present || !s->card.powered))
		return;
	s->card.present = present;
	s->card.arrived = present;
	if (!present) {
		s->card.powered = false;
		s->card.protocol = 0xFF;
	}
	uccid_card_event(r, s, present ? LOCKMGR_EV_INSERTED : LOCKMGR_EV_REMOVED);
}

void uccid_card_changed(struct uccid_reader *r, struct uslot *s, bool present)
{
	/*
	 * "Present" for a card already taken as present is the reader's report of
	 * the card it had when the host configured it (events.c routes a later one
	 * to uccid_card_swapped), or a change a status answer already recorded
	 * (uccid_card_present): the caller hears of it, but it is not another card.
	 */
	bool same = present && s->card.present;

	reader_assert_locked(r);
	uccid_push_event(r, present ? UCCID_EVENT_INSERTED : UCCID_EVENT_REMOVED, s->index, 0);
	s->card.present = present;
	s->card.arrived = false;
	s->card.powered = false;
	s->card.protocol = 0xFF;
	card_event(r, s, present ? LOCKMGR_EV_INSERTED : LOCKMGR_EV_REMOVED, !same);
}

void uccid_card_swapped(struct uccid_reader *r, struct uslot *s)
{
	reader_assert_locked(r);
	uccid_push_event(r, UCCID_EVENT_REMOVED, s->index, 0);
	uccid_card_event(r, s, LOCKMGR_EV_REMOVED);
	uccid_card_changed(r, s, true);
}

void uccid_card_powered(struct uccid_reader *r, struct uslot *s)
{
	reader_assert_locked(r);
	s->card.present = true;
	s->card.powered = true;
	s->card.protocol = 0xFF;
}

void uccid_card_protocol(struct uccid_reader *r, struct uslot *s, uint8_t protocol)
{
	reader_assert_locked(r);
	s->card.protocol = protocol;
}

void uccid_card_unpowered(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev)
{
	reader_assert_locked(r);
	s->card.powered = false;
	s->card.protocol = 0xFF;
	uccid_card_event(r, s, ev);
}

void uccid_card_set_left(struct uccid_reader *r, struct uslot *s, bool left)
{
	reader_assert_locked(r);
	s->card.left = left;
}

void uccid_card_set_disposing(struct uccid_reader *r, struct uslot *s, bool disposing)
{
	reader_assert_locked(r);
	s->card.disposing = disposing;
}

void uccid_card_set_verify(struct uccid_reader *r, struct uslot *s)
{
	reader_assert_locked(r);
	s->card.verify = true;
}

bool uccid_card_take_arrived(struct uccid_reader *r, struct uslot *s)
{
	bool a;

	reader_assert_locked(r);
	a = s->card.arrived;
	s->card.arrived = false;
	return a;
}

bool uccid_card_take_verify(struct uccid_reader *r, struct uslot *s)
{
	bool v;

	reader_assert_locked(r);
	v = s->card.verify;
	s->card.verify = false;
	return v;
}

int uccid_card_usable(struct uccid_reader *r, struct uslot *s, const char *what, struct ucard *ret)
{
	reader_lock(r);
	*ret = s->card;
	reader_unlock(r);
	if (!ret->present)
		return -ENOMEDIUM;
	if (!ret->powered || ret->protocol == 0xFF) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: %s to a card that is not powered", s->index, what);
		return -EIO;
	}
	return 0;
}
