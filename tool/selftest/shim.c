/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport shim of uccid selftest, between the reader code and the
 * transport uccid_open_wrapped() opened: it records every message on the
 * wire (so a wrong bSeq, a stale duplicate or a malformed answer that the
 * library skips is still reported), and, when a probe arms it for the next
 * bulk-OUT message, sends the ABORT class request just before a
 * PC_to_RDR_Abort with that message's bSeq (CCID §5.3.1), or addresses the
 * command to a slot that does not exist (bSlot rewritten out, the answer's
 * bSlot rewritten back) so that bError 5 can be checked.  Everything else
 * passes through unchanged, the optional operations too where the inner
 * transport has them (wake: an idle event waiter sleeps; why and reconnect:
 * a remote reader's link comes back, as without the shim).  One lock guards
 * the record and the arming: the library's threads write, the run reads a
 * copy.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tool/selftest/selftest.h"
#include "transport/transport.h"

#define REQ_ABORT 0x01         /* the CCID class request ABORT (CCID §5.3.1) */

struct shim {
	struct uccid_transport t;      /* first member: the reader code sees this one */
	struct uccid_transport_ops ops; /* t.ops: shim_ops with the optional operations inner has */
	struct uccid_transport *inner;
	pthread_mutex_t lock;
	/* armed by a probe for its next bulk-OUT message */
	int retarget;                  /* bSlot to put on the wire instead (-1: none) */
	bool abort_control;            /* send the ABORT request before a PC_to_RDR_Abort */
	/* the retargeted command, to recognise its answer */
	bool retargeted;
	uint8_t retarget_from, retarget_to, retarget_seq;
	struct wire_log log;           /* since shim_clear() */
};

static struct shim *shim_of(struct uccid_transport *t)
{
	return (struct shim *)t;
}

/* Called with s->lock held. */
static void shim_record(struct shim *s, bool out, const uint8_t *msg, size_t len)
{
	struct wire_rec *w;

	if (s->log.nrec >= WIRE_MAX) {
		s->log.lost++;
		return;
	}
	w = &s->log.rec[s->log.nrec++];
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->len = len;
	memcpy(w->hdr, msg, len < CCID_HEADER_SIZE ? len : CCID_HEADER_SIZE);
	if (!out)
		w->decode_rc = ccid_msg_decode(msg, len, &(struct ccid_msg){ 0 }, &w->diag);
}

void shim_clear(struct shim *s)
{
	pthread_mutex_lock(&s->lock);
	s->log.nrec = s->log.lost = s->log.zlps = s->log.stalls = 0;
	s->log.abort_rc = 0;
	s->retargeted = s->log.retarget_answered = s->log.retarget_echoed = false;
	s->log.last_in_len = 0;
	pthread_mutex_unlock(&s->lock);
}

void shim_arm_abort(struct shim *s)
{
	pthread_mutex_lock(&s->lock);
	s->abort_control = true;
	pthread_mutex_unlock(&s->lock);
}

void shim_arm_retarget(struct shim *s, uint8_t slot)
{
	pthread_mutex_lock(&s->lock);
	s->retarget = slot;
	pthread_mutex_unlock(&s->lock);
}

void shim_disarm(struct shim *s)
{
	pthread_mutex_lock(&s->lock);
	s->retarget = -1;
	s->abort_control = false;
	pthread_mutex_unlock(&s->lock);
}

void shim_read(struct shim *s, struct wire_log *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->log;
	pthread_mutex_unlock(&s->lock);
}

static int shim_descriptors(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cap)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->descriptors(s->inner, dev, cfg, cap);
}

static int shim_control(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->control(s->inner, bmRequestType, bRequest, wValue, wIndex, data, wLength, timeout_ms);
}

static int shim_bulk_out(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);
	uint8_t *copy = NULL;
	const uint8_t *send = data;
	bool abort_first = false;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (len >= CCID_HEADER_SIZE) {
		if (s->retarget >= 0 && (copy = malloc(len)) != NULL) {
			memcpy(copy, data, len);
			s->retarget_from = data[CCID_OFF_SLOT];
			s->retarget_to = (uint8_t)s->retarget;
			s->retarget_seq = data[CCID_OFF_SEQ];
			s->retargeted = true;
			copy[CCID_OFF_SLOT] = (uint8_t)s->retarget;
			send = copy;
		}
		s->retarget = -1;
		if (s->abort_control && data[CCID_OFF_TYPE] == CCID_PC_TO_RDR_ABORT) {
			s->abort_control = false;
			abort_first = true;
		}
		shim_record(s, true, send, len);
	}
	pthread_mutex_unlock(&s->lock);
	if (abort_first) {
		/* CCID §5.3.1: the ABORT request first, wValue = bSeq << 8 | bSlot, then the bulk Abort */
		rc = s->inner->ops->control(s->inner, 0x21, REQ_ABORT,
					    (uint16_t)(data[CCID_OFF_SEQ] << 8 | data[CCID_OFF_SLOT]),
					    s->inner->info.interface, NULL, 0, timeout_ms);
		pthread_mutex_lock(&s->lock);
		s->log.abort_rc = rc < 0 ? rc : 0;
		pthread_mutex_unlock(&s->lock);
	}
	rc = s->inner->ops->bulk_out(s->inner, send, len, timeout_ms);
	free(copy);
	return rc;
}

static int shim_bulk_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);
	int n = s->inner->ops->bulk_in(s->inner, buf, cap, timeout_ms);

	if (n < 0) {
		if (n == -EPIPE) {
			pthread_mutex_lock(&s->lock);
			s->log.stalls++;
			pthread_mutex_unlock(&s->lock);
		}
		return n;
	}
	pthread_mutex_lock(&s->lock);
	if (n == 0) {
		s->log.zlps++;
	} else {
		shim_record(s, false, buf, (size_t)n);
		s->log.last_in_len = (size_t)n < sizeof(s->log.last_in) ? (size_t)n : sizeof(s->log.last_in);
		memcpy(s->log.last_in, buf, s->log.last_in_len);
		/* the answer to a retargeted command: hand it to the slot that is waiting */
		if (s->retargeted && n >= CCID_HEADER_SIZE && buf[CCID_OFF_SEQ] == s->retarget_seq
		    && ccid_is_response(buf[CCID_OFF_TYPE])) {
			s->log.retarget_answered = true;
			if (buf[CCID_OFF_SLOT] == s->retarget_to) {
				s->log.retarget_echoed = true;
				buf[CCID_OFF_SLOT] = s->retarget_from;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int shim_intr_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->intr_in(s->inner, buf, cap, timeout_ms);
}

static void shim_cancel(struct uccid_transport *t)
{
	struct shim *s = shim_of(t);

	s->inner->ops->cancel(s->inner);
}

static int shim_clear_halt(struct uccid_transport *t, uint8_t ep)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->clear_halt(s->inner, ep);
}

static int shim_why(struct uccid_transport *t, char *buf, size_t cap)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->why(s->inner, buf, cap);
}

static void shim_wake(struct uccid_transport *t)
{
	struct shim *s = shim_of(t);

	s->inner->ops->wake(s->inner);
}

static int shim_reconnect(struct uccid_transport *t, unsigned timeout_ms, char *err, size_t errlen)
{
	struct shim *s = shim_of(t);
	int rc = s->inner->ops->reconnect(s->inner, timeout_ms, err, errlen);

	/* a new instance of the device: its bus and address are what the session's
	   eject latches belong to (the only fields a reconnect changes) */
	if (rc == 0) {
		s->t.info.busnum = s->inner->info.busnum;
		s->t.info.devnum = s->inner->info.devnum;
	}
	return rc;
}

static void shim_close(struct uccid_transport *t)
{
	struct shim *s = shim_of(t);

	if (!s)
		return;
	s->inner->ops->close(s->inner);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct uccid_transport_ops shim_ops = {
	.name = "selftest",
	.descriptors = shim_descriptors,
	.control = shim_control,
	.bulk_out = shim_bulk_out,
	.bulk_in = shim_bulk_in,
	.intr_in = shim_intr_in,
	.cancel = shim_cancel,
	.clear_halt = shim_clear_halt,
	.close = shim_close,
};

struct uccid_transport *shim_wrap(void *ctx, struct uccid_transport *inner)
{
	struct shim **ret = ctx;
	struct shim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ops = shim_ops;
	/* the optional operations only where the inner transport has them (NULL has a meaning) */
	if (inner->ops->why)
		s->ops.why = shim_why;
	if (inner->ops->wake)
		s->ops.wake = shim_wake;
	if (inner->ops->reconnect && inner->ops->why)
		s->ops.reconnect = shim_reconnect;
	s->t.ops = &s->ops;
	s->t.info = inner->info;
	s->inner = inner;
	s->retarget = -1;
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return &s->t;
}
