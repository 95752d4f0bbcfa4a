/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The slot gate: every operation on a slot enters it (uccid_slot_enter) and
 * leaves it.  It waits for a slot another thread has locked (a
 * LOCKMGR_F_LOCAL hold of the calling thread; the open lock keeps other
 * processes out), refuses a thread that has not acknowledged a reset or a
 * removal with -ECONNRESET / -EMEDIUMTYPE (as PC/SC's SCARD_W_RESET_CARD /
 * SCARD_W_REMOVED_CARD), takes s->op, and first asks the reader about a
 * powered card an interrupt message left in doubt.  The per-thread
 * lock-manager handles that carry those warnings live here.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "session/session_priv.h"

static int slot_wait_ms(const struct uccid_reader *r)
{
	if (r->opt.slot_wait_ms)
		return r->opt.slot_wait_ms;
	return (int)r->opt.exchange_deadline_ms;
}

struct lockmgr_handle *uccid_handle_of(struct uccid_reader *r, unsigned slot, bool create)
{
	lockmgr_owner_t me = uccid_owner();
	struct lockmgr_handle *h = NULL;
	struct uowner *o;

	/* the hot path of every operation: no thread has ever locked a slot of this reader */
	if (!create && !__atomic_load_n(&r->owners, __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&r->own_lock);
	for (o = r->owners; o; o = o->next)
		if (o->owner == me && o->slot == slot) {
			h = o->h;
			goto out;
		}
	if (!create)
		goto out;
	o = calloc(1, sizeof(*o));
	if (!o)
		goto out;
	if (lockmgr_handle_open(r->lm, slot, me, &o->h) < 0) {
		free(o);
		goto out;
	}
	o->owner = me;
	o->slot = slot;
	o->next = r->owners;
	__atomic_store_n(&r->owners, o, __ATOMIC_RELEASE);    /* read without the mutex above */
	h = o->h;
out:
	pthread_mutex_unlock(&r->own_lock);
	return h;
}

void uccid_handles_free(struct uccid_reader *r)
{
	struct uowner *o, *next;

	for (o = r->owners; o; o = next) {
		next = o->next;
		lockmgr_handle_close(o->h);
		free(o);
	}
	r->owners = NULL;
}

static int warning_error(int w)
{
	return w == LOCKMGR_W_REMOVED_CARD ? -EMEDIUMTYPE : w == LOCKMGR_W_RESET_CARD ? -ECONNRESET : 0;
}

/*
 * An interrupt message left it open whether the powered card was swapped
 * (events.c): a card pulled and put back has lost power, so the reader's
 * bmICCStatus decides (s->op held).
 */
static void verify_card(struct uccid_reader *r, struct uslot *s)
{
	struct uccid_slot_status st;
	bool check;

	reader_lock(r);
	check = uccid_card_take_verify(r, s) && s->card.powered;
	reader_unlock(r);
	if (!check || uccid_do_slot_status(r, s, &st) < 0 || st.powered)
		return;
	uccid_log(r, UCCID_LOG_INFO, "slot %u: the card lost power: it was removed and inserted", s->index);
	reader_lock(r);
	uccid_card_event(r, s, LOCKMGR_EV_INSERTED);
	uccid_push_event(r, UCCID_EVENT_REMOVED, s->index, 0);
	uccid_push_event(r, UCCID_EVENT_INSERTED, s->index, 0);
	reader_unlock(r);
}

/*
 * A reader switched to its vendor APDU mode at open (session.c) that came
 * back after a reconnect is a new instance of the device, at the level it
 * declares: the switch again, before anything else is sent (s->op held).
 * Until it succeeds, every entry tries once more.
 */
static void vendor_mode_again(struct uccid_reader *r, struct uslot *s)
{
	uint8_t rsp[64];
	ssize_t n;
	bool again;

	/* vendor_mode is set at open, before the reader is shared: most readers stop here, unlocked */
	if (!r->vendor_mode)
		return;
	reader_lock(r);
	again = r->vendor_again;
	reader_unlock(r);
	if (!again)
		return;
	n = uccid_do_escape(r, s, r->vendor_mode->cmd, sizeof(r->vendor_mode->cmd), rsp, sizeof(rsp));
	if (n < 0) {
		uccid_log(r, UCCID_LOG_ERROR, "%s after the reconnect: Escape %02X %02X failed (%s); tried again "
			  "at the next command", r->vendor_mode->name, r->vendor_mode->cmd[0], r->vendor_mode->cmd[1],
			  uccid_strerror((int)n));
		return;
	}
	uccid_log(r, UCCID_LOG_INFO, "%s: switched again after the reconnect", r->vendor_mode->name);
	reader_lock(r);
	r->vendor_again = false;
	reader_unlock(r);
}

int uccid_slot_enter(struct uccid_reader *r, struct uslot *s, unsigned how)
{
	struct lockmgr_handle *h;
	int rc, w;

	/* gone is final; a remote reader's link that is down gets an attempt to restore it,
	   if one is due (link.c) */
	rc = uccid_dead(r);
	if (rc == -ENOTCONN)
		rc = uccid_link_restore(r, 0, false);
	if (rc < 0)
		return rc;
	rc = lockmgr_lock(r->lm, s->index, uccid_owner(), how & UCCID_ENTER_TRY ? 0 : slot_wait_ms(r),
			  LOCKMGR_F_LOCAL, NULL);
	if (rc == -ETIMEDOUT || rc == -EBUSY) {
		if (!(how & UCCID_ENTER_TRY))
			uccid_log(r, UCCID_LOG_WARNING, "slot %u: locked by another thread for more than %d ms",
				  s->index, slot_wait_ms(r));
		return -EBUSY;
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->op);
	vendor_mode_again(r, s);
	verify_card(r, s);
	h = uccid_handle_of(r, s->index, false);
	if (h) {
		if (how & UCCID_ENTER_ACK) {
			lockmgr_ack(h);
		} else if ((w = lockmgr_check(h)) > 0) {
			pthread_mutex_unlock(&s->op);
			lockmgr_unlock(r->lm, s->index, uccid_owner(), LOCKMGR_LEAVE, NULL);
			uccid_log(r, UCCID_LOG_INFO, "slot %u: the card was %s since this thread last looked",
				  s->index, w == LOCKMGR_W_REMOVED_CARD ? "removed or replaced" : "reset");
			return warning_error(w);
		}
	}
	return 0;
}

void uccid_slot_leave(struct uccid_reader *r, struct uslot *s)
{
	struct lockmgr_handle *h = uccid_handle_of(r, s->index, false);

	/* what the thread did itself is no news to it */
	if (h)
		lockmgr_ack(h);
	pthread_mutex_unlock(&s->op);
	lockmgr_unlock(r->lm, s->index, uccid_owner(), LOCKMGR_LEAVE, NULL);
}
