/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card events for pcscd: TAG_IFD_POLLING_THREAD_WITH_TIMEOUT and
 * TAG_IFD_STOP_POLLING_THREAD (reference §4).  pcscd runs one polling
 * thread per reader context, so a multi-slot reader has one per slot, but
 * libuccid has one event queue per reader.  Whichever polling thread finds
 * no other pumping becomes the pump: it waits in uccid_wait_event() until
 * pcscd's timeout (ten minutes in pcscd 1.9), files each event under its
 * slot and wakes the others, who sleep on rd->cond meanwhile.  Nobody wakes
 * while the reader is idle: a stop request reaches the pump through
 * uccid_wake() (ifd_table_stop, ifd_table_close), the others through the
 * condition variable.  Every thread returns as soon as its slot has an
 * event, its stop was asked, or its timeout passed; pcscd then calls
 * IFDHICCPresence.  A reader that is gone is never polled again, and its
 * threads sleep out their timeout rather than spin.  rd->wakeups counts
 * every time a polling thread woke, so that a test can hold idle readers
 * to none.
 *
 * pcscd learns of a removal only from IFDHICCPresence answering "absent"
 * (eventhandler.c): a card swapped between two of its calls — one
 * NotifySlotChange "present, changed", or a powered card polled "present,
 * inactive" — would go unnoticed, and every handle would keep a card that
 * is not there.  So a card that changed since pcscd's event thread last saw
 * it present is reported absent, as libccid does, until that thread has
 * been told so and comes back to poll; that poll returns at once for the
 * new card.  pcscd's power actions ask for presence too (ifdwrapper.c
 * IFDPowerICC), from the clients' threads and from the event thread itself
 * after a poll: one answer would not do, the removal is reported to every
 * caller until the event thread's loop — whose first call after a poll is
 * its status check — has seen it.
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "ifd/ifd_priv.h"
#include "util/clock.h"

static void wait_until(struct ifd_reader *rd, int64_t when_ms)
{
	struct timespec ts = { .tv_sec = when_ms / 1000, .tv_nsec = (when_ms % 1000) * 1000000 };

	pthread_cond_timedwait(&rd->cond, &ifd_lock, &ts);
}

/* File one event; ifd_lock held. */
static void file_event(struct ifd_reader *rd, const struct uccid_event *ev)
{
	switch (ev->type) {
	case UCCID_EVENT_HARDWARE_ERROR:
		/* CCID 1.1 §6.3.2: 01 is the one code defined */
		ifd_log(IFD_LOG_ERROR, "%s: slot %u: hardware error %02X%s", rd->name, ev->slot, ev->code,
			ev->code == 0x01 ? " (overcurrent)" : "");
		__attribute__((fallthrough));
	case UCCID_EVENT_INSERTED:
	case UCCID_EVENT_REMOVED:
		if (ev->slot < IFD_MAX_SLOTS)
			rd->pending[ev->slot] = true;
		break;
	case UCCID_EVENT_READER_REMOVED:
		rd->removed = true;
		for (unsigned i = 0; i < IFD_MAX_SLOTS; i++)
			rd->pending[i] = true;
		break;
	case UCCID_EVENT_READER_UNAVAILABLE:
	case UCCID_EVENT_READER_AVAILABLE:
		/* a remote reader's link dropped or came back: every slot asks for presence
		   (absent while it is down, then the new cards) */
		ifd_log(IFD_LOG_INFO, "%s: %s", rd->name, ev->type == UCCID_EVENT_READER_AVAILABLE
				? "the reader is back" : "the reader is unavailable; reconnecting");
		for (unsigned i = 0; i < IFD_MAX_SLOTS; i++)
			rd->pending[i] = true;
		break;
	case UCCID_EVENT_YIELD:
		break;  /* for passive sessions only: pcscd's are not */
	}
}

RESPONSECODE ifd_poll(DWORD Lun, int timeout_ms)
{
	struct ifd_reader *rd;
	unsigned slot;
	int64_t deadline;
	RESPONSECODE rc = IFD_SUCCESS;
	bool removed_now = false;

	if (ifd_get(Lun, &rd, &slot) < 0) {
		/*
		 * A reader that is gone: pcscd polls again as soon as we return;
		 * hold it for the slice so that it does not spin.
		 */
		struct timespec nap = { .tv_nsec = IFD_POLL_SLICE_MS * 1000000L };

		nanosleep(&nap, NULL);
		return IFD_NO_SUCH_DEVICE;
	}
	deadline = uccid_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&ifd_lock);
	rd->poller[slot] = pthread_self();
	rd->has_poller[slot] = true;
	if (rd->gone[slot]) {
		/* pcscd's loop came round: told "absent" since the swap, it has seen the
		   removal; the new card is for its next status check, at once */
		if (rd->gone_seen[slot]) {
			rd->gone[slot] = rd->gone_seen[slot] = false;
			rd->told_present[slot] = false;
		}
		rd->pending[slot] = true;
	}
	for (;;) {
		int64_t left;

		if (rd->stop[slot]) {
			rd->stop[slot] = false;
			break;
		}
		if (rd->pending[slot]) {
			rd->pending[slot] = false;
			break;
		}
		left = deadline - uccid_mono_ms();
		if (left <= 0)
			break;
		if (rd->removed || rd->closing) {
			/* gone: sleep out the timeout (a stop ends it sooner), then fail fast */
			wait_until(rd, deadline);
			rd->wakeups++;
			rd->stop[slot] = false;
			break;
		}
		if (!rd->pumping) {
			struct uccid_event ev;
			int n;

			rd->pumping = true;
			pthread_mutex_unlock(&ifd_lock);
			ifd_periodic(true);        /* on a reader without interrupt-IN: status polls */
			n = uccid_wait_event(rd->r, left < UCCID_WAIT_FOREVER ? (unsigned)left : UCCID_WAIT_FOREVER - 1,
					     &ev);
			ifd_periodic(false);
			pthread_mutex_lock(&ifd_lock);
			rd->pumping = false;
			rd->wakeups++;
			if (n == 1) {
				ifd_log(IFD_LOG_DEBUG, "%s: event %d on slot %u", rd->name, (int)ev.type, ev.slot);
				if (ev.type == UCCID_EVENT_READER_REMOVED && !rd->removed)
					removed_now = true;
				file_event(rd, &ev);
			} else if (n < 0) {
				ifd_log(IFD_LOG_DEBUG, "%s: waiting for events: %s", rd->name, uccid_strerror(n));
				if (n == -ENODEV && !rd->removed) {
					removed_now = true;
					for (unsigned i = 0; i < IFD_MAX_SLOTS; i++)
						rd->pending[i] = true;
					rd->removed = true;
				}
			}
			pthread_cond_broadcast(&rd->cond);
			continue;
		}
		wait_until(rd, deadline);
		rd->wakeups++;
	}
	if (rd->removed)
		rc = IFD_NO_SUCH_DEVICE;
	pthread_mutex_unlock(&ifd_lock);
	if (removed_now) {
		ifd_log(IFD_LOG_ERROR, "%s: the reader is gone", rd->name);
		uccid_cancel(rd->r);
	}
	ifd_put(rd);
	return rc;
}

bool ifd_presence(struct ifd_reader *rd, unsigned slot, bool present, uint64_t changes)
{
	bool poller, swapped = false;

	pthread_mutex_lock(&ifd_lock);
	/* before the first poll pcscd's first presence call is its event thread's */
	poller = !rd->has_poller[slot] || pthread_equal(rd->poller[slot], pthread_self());
	if (!rd->gone[slot] && present && rd->told_present[slot] && changes != rd->told_changes[slot]) {
		swapped = true;
		rd->gone[slot] = true;
		rd->pending[slot] = true;       /* wake the event thread: its loop reports the removal */
		pthread_cond_broadcast(&rd->cond);
	}
	if (rd->gone[slot]) {
		present = false;
		if (poller)
			rd->gone_seen[slot] = true;
	} else if (poller) {
		rd->told_present[slot] = present;
		rd->told_changes[slot] = changes;
	}
	pthread_mutex_unlock(&ifd_lock);
	if (swapped)
		ifd_log(IFD_LOG_INFO, "%s: slot %u: another card since pcscd last looked: reported removed first",
			rd->name, slot);
	return present;
}

RESPONSECODE ifd_stop_poll(DWORD Lun)
{
	ifd_table_stop(Lun);
	return IFD_SUCCESS;
}
