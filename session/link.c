/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A remote reader's link.  When the transport says the device is gone and
 * can reconnect (USB/IP: the connection dropped — a network blip, a server
 * restart), the session does not end: the link is down (r->dead -ENOTCONN,
 * which every call returns meanwhile), each card is reported removed (its
 * state is lost: the lock manager tells the lock holders, and an eject latch
 * ends with it), and a READER_UNAVAILABLE event says so.  The threads that
 * use the reader then restore it, with no thread of its own: the event
 * waiter (uccid_wait_event: pcscd's polling thread, uccid watch) waits out a
 * back-off between attempts; without one, an operation tries once when an
 * attempt is due (else it fails at once with -ENOTCONN).
 * An attempt is the transport's reconnect (a new import), after which the
 * device must show the descriptors it had at open; then the link is up, a
 * new instance of the device: READER_AVAILABLE, and its cards are new cards,
 * reported inserted by the event waiter, which asks each slot (events.c): a
 * reader need not send a NotifySlotChange when configured again (QEMU's
 * usb-ccid after a re-import sends none).  Back-off: 50 ms
 * doubling to 1 s, so that a reader is back within about a second of its
 * server; uccid_options.reconnect_ms bounds the outage, after which the
 * reader is gone for good.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_priv.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000

_Static_assert(UCCID_MAX_SLOTS <= 32, "uccid_reader.rescan has a bit per slot");

void uccid_link_gone(struct uccid_reader *r, const char *why)
{
	reader_assert_locked(r);
	r->dead = -ENODEV;
	uccid_log(r, UCCID_LOG_ERROR, "reader removed%s%s", why[0] ? ": " : "", why);
	uccid_push_event(r, UCCID_EVENT_READER_REMOVED, 0, 0);
	pthread_cond_broadcast(&r->cond);
}

bool uccid_link_lost(struct uccid_reader *r)
{
	char why[200] = "";

	reader_assert_locked(r);
	if (r->dead == -ENOTCONN)
		return true;
	if (r->dead || !r->t->ops->reconnect || r->opt.reconnect_ms < 0 || r->closing)
		return false;
	r->t->ops->why(r->t, why, sizeof(why));
	if (!why[0])
		return true;    /* the transport is up: an -ENODEV from the connection it replaced */
	r->dead = -ENOTCONN;
	r->down_since = uccid_mono_us();
	r->link_next = r->down_since;   /* at once: a blip may be over already */
	r->link_backoff_ms = 0;
	r->link_tries = 0;
	uccid_log(r, UCCID_LOG_ERROR, "reader unavailable: %s; reconnecting", why);
	for (unsigned i = 0; i < r->nslots; i++) {
		struct uslot *s = &r->slots[i];

		if (s->card.present || s->card.powered)
			uccid_card_changed(r, s, false);
	}
	uccid_push_event(r, UCCID_EVENT_READER_UNAVAILABLE, 0, 0);
	pthread_cond_broadcast(&r->cond);
	return true;
}

/* Does the device show the descriptors it had at open?  0, -ENXIO (another device) with err, or an error. */
static int same_device(struct uccid_reader *r, char *err, size_t errlen)
{
	uint8_t dev[18], *cfg = malloc(UCCID_DESC_MAX);
	int n;

	if (!cfg)
		return -ENOMEM;
	n = r->t->ops->descriptors(r->t, dev, cfg, UCCID_DESC_MAX);
	if (n >= 0 && (memcmp(dev, r->dev_desc, sizeof(dev)) || (size_t)n != r->cfg_len ||
		       memcmp(cfg, r->cfg_raw, (size_t)n))) {
		snprintf(err, errlen, "another device answers at %s now (%02x%02x:%02x%02x)", r->t->info.path, dev[9],
			 dev[8], dev[11], dev[10]);
		n = -ENXIO;
	}
	free(cfg);
	return n < 0 ? n : 0;
}

uint32_t uccid_instance(const struct uccid_reader *r)
{
	return (uint32_t)r->t->info.busnum << 8 | r->t->info.devnum;
}

/* The link is up again: a new instance of the device.  r->lock held. */
static void link_up(struct uccid_reader *r)
{
	lockmgr_set_instance(r->lm, uccid_instance(r));
	r->dead = 0;
	r->in_sync = false;             /* its bulk-IN starts afresh */
	r->notify_seen = false;         /* its first NotifySlotChange, if it sends one, */
	r->relinked = true;             /* repeats what the slots' status tells (events.c) */
	r->rescan = (uint32_t)((1ull << r->nslots) - 1);
	r->vendor_again = r->vendor_mode != NULL;      /* a new instance is at its declared level */
	r->reconnects++;
	uccid_log(r, UCCID_LOG_INFO, "reader back after %u attempt%s in %lld ms", r->link_tries,
		  r->link_tries == 1 ? "" : "s", (long long)((uccid_mono_us() - r->down_since) / 1000));
	uccid_push_event(r, UCCID_EVENT_READER_AVAILABLE, 0, 0);
	pthread_cond_broadcast(&r->cond);
}

/* One attempt, r->lock held (dropped while the transport reconnects). */
static void attempt(struct uccid_reader *r)
{
	char err[256] = "";
	int64_t now;
	int rc;

	r->reconnecting = true;
	r->link_tries++;
	reader_unlock(r);
	/* an attempt is an open: connect (bounded by the transport), import, descriptors and
	   SET_CONFIGURATION within the exchange deadline, as uccid_open; wake and cancel end it */
	rc = r->t->ops->reconnect(r->t, r->opt.exchange_deadline_ms, err, sizeof(err));
	if (rc == 0)
		rc = same_device(r, err, sizeof(err));
	reader_lock(r);
	r->reconnecting = false;
	pthread_cond_broadcast(&r->cond);
	if (r->dead != -ENOTCONN)
		return;         /* cancelled meanwhile */
	if (rc == 0) {
		link_up(r);
		return;
	}
	if (rc == -EINTR) {
		r->link_tries--;        /* uccid_wake: not a try; the next one is due at once */
		return;
	}
	if (rc == -ENXIO) {
		uccid_link_gone(r, err);
		return;
	}
	now = uccid_mono_us();
	if (r->opt.reconnect_ms > 0 && now - r->down_since >= (int64_t)r->opt.reconnect_ms * 1000) {
		char why[320];

		snprintf(why, sizeof(why), "not back within %d ms (%u attempts; the last: %s)", r->opt.reconnect_ms,
			 r->link_tries, err[0] ? err : uccid_strerror(rc));
		uccid_link_gone(r, why);
		return;
	}
	r->link_backoff_ms = !r->link_backoff_ms ? BACKOFF_FIRST_MS
			     : r->link_backoff_ms * 2 < BACKOFF_MAX_MS ? r->link_backoff_ms * 2 : BACKOFF_MAX_MS;
	r->link_next = now + (int64_t)r->link_backoff_ms * 1000;
	uccid_log(r, UCCID_LOG_DEBUG, "reconnect attempt %u: %s; the next in %u ms", r->link_tries,
		  err[0] ? err : uccid_strerror(rc), r->link_backoff_ms);
}

int uccid_link_restore(struct uccid_reader *r, int64_t deadline, bool wait)
{
	int rc;

	reader_lock(r);
	if (wait)
		r->link_waiters++;
	while (r->dead == -ENOTCONN) {
		int64_t now = uccid_mono_us(), until;

		if (wait && (r->ring_len || r->wake_req))
			break;
		/* an operation leaves the attempts to the event waiter, if there is one */
		if (!wait && r->link_waiters)
			break;
		if (!r->reconnecting && now >= r->link_next) {
			attempt(r);
			if (!wait)
				break;
			continue;
		}
		if (!wait || now >= deadline)
			break;
		until = r->reconnecting || r->link_next > deadline ? deadline : r->link_next;
		reader_wait_until(r, until);
	}
	if (wait)
		r->link_waiters--;
	rc = r->dead;
	reader_unlock(r);
	return rc;
}
