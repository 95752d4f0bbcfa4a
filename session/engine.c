/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader session: open over a transport, read and check the descriptors,
 * and the exchange engine that every command goes through.  One thread at a
 * time reads bulk-IN (the "reader role", handed over at least every
 * UCCID_READ_SLICE_MS) and routes each answer to the slot waiting for it by
 * bSlot and bSeq (CCID 1.1 §6.2: the reader echoes both), so up to
 * bMaxCCIDBusySlots slots have a command in flight at once.  Answers that
 * may be late ones (the bSeq of one of the slot's recent commands, for a
 * slot nobody waits on), zero-length transfers, and malformed answers while
 * several commands are in flight are logged and skipped, a bounded number
 * of times.  An answer that cannot be late — once the session has had its
 * first answer, a bSeq the slot never used or a malformed answer while one
 * command is in flight; a bulk-IN halt at any time — fails that command at
 * once.  Every exchange has a deadline; when it passes, or the
 * answer was unusable, the command is aborted (CCID §5.3.1, §6.1.13).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/bytes.h"
#include "session/session_priv.h"

#define DEFAULT_EXCHANGE_MS 60000
#define DEFAULT_POWER_MS 30000
#define CONTROL_MS 2000

int64_t uccid_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void uccid_log(struct uccid_reader *r, enum uccid_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->opt.log || level > r->opt.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->opt.log(r->opt.log_ctx, level, msg);
}

size_t uccid_build(uint8_t *msg, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data, size_t len)
{
	msg[CCID_OFF_TYPE] = type;
	put_le32(msg + CCID_OFF_LENGTH, (uint32_t)len);
	msg[CCID_OFF_SLOT] = 0;
	msg[CCID_OFF_SEQ] = 0;
	msg[CCID_OFF_B7] = b7;
	msg[CCID_OFF_B8] = b8;
	msg[CCID_OFF_B9] = b9;
	if (len)
		memmove(msg + CCID_HEADER_SIZE, data, len);
	return CCID_HEADER_SIZE + len;
}

static void abs_deadline(struct timespec *ts, int64_t until_us)
{
	struct timespec now;
	int64_t delta = until_us - uccid_now_us();

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (delta < 0)
		delta = 0;
	ts->tv_sec = now.tv_sec + (time_t)(delta / 1000000);
	ts->tv_nsec = now.tv_nsec + (long)(delta % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

void uccid_set_dead(struct uccid_reader *r, int err)
{
	if (!r->dead) {
		r->dead = err;
		if (err == -ENODEV) {
			uccid_log(r, UCCID_LOG_ERROR, "reader removed");
			uccid_push_event(r, UCCID_EVENT_READER_REMOVED, 0, 0);
		}
	}
	pthread_cond_broadcast(&r->cond);
}

void uccid_note_icc_status(struct uccid_reader *r, struct uslot *s, uint8_t bStatus)
{
	bool present = CCID_ICC_STATUS(bStatus) != CCID_ICC_ABSENT;

	if (present != s->present || (!present && s->powered)) {
		s->present = present;
		if (!present) {
			s->powered = false;
			s->protocol = 0xFF;
		}
		uccid_card_event(r, s, present ? LOCKMGR_EV_INSERTED : LOCKMGR_EV_REMOVED);
	}
}

int uccid_answer_error(struct uccid_reader *r, struct uslot *s, const struct ccid_msg *m)
{
	uint8_t st = m->rsp.bStatus, err = m->rsp.bError;

	s->last_error = (struct uccid_reader_error){ .valid = true, .bStatus = st, .bError = err,
						     .bMessageType = m->bMessageType };
	uccid_log(r, UCCID_LOG_INFO, "slot %u: %s failed: %s (%02X): %s", s->index,
		  ccid_msg_type_name(m->bMessageType), ccid_error_name(err), err, ccid_error_explain(err));
	if (CCID_ICC_STATUS(st) == CCID_ICC_ABSENT)
		return -ENOMEDIUM;
	switch (err) {
	case CCID_ERR_CMD_SLOT_BUSY:
		return -EBUSY;
	case CCID_ERR_CMD_NOT_SUPPORTED:
		return -ENOTSUP;
	case CCID_ERR_ICC_MUTE:
		return -ETIMEDOUT;
	case CCID_ERR_CMD_ABORTED:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

void uccid_note_seq(struct uslot *s, uint8_t seq)
{
	s->recent[s->recent_pos++ % sizeof(s->recent)] = seq;
	s->seq = seq;
}

/* Was seq used by one of the slot's last commands (a late or repeated answer may carry it)? */
static bool recent_seq(const struct uslot *s, uint8_t seq)
{
	unsigned n = s->recent_pos < sizeof(s->recent) ? s->recent_pos : sizeof(s->recent);

	for (unsigned i = 0; i < n; i++)
		if (s->recent[i] == seq)
			return true;
	return false;
}

/* The one slot with a command waiting for its answer, or NULL if none or several.  r->lock held. */
static struct uslot *only_waiting(struct uccid_reader *r)
{
	struct uslot *found = NULL;

	for (unsigned i = 0; i < r->nslots; i++)
		if (r->slots[i].busy && !r->slots[i].ans_done) {
			if (found)
				return NULL;
			found = &r->slots[i];
		}
	return found;
}

/* The answer to s's command is unusable: report -EPROTO after an abort resynchronises. */
static void fail_fast(struct uslot *s)
{
	s->ans_err = -EPROTO;
	s->ans_done = true;
	s->resync = true;
}

/*
 * Route one message from bulk-IN to the slot waiting for it.  Called with
 * r->lock held by the thread in the reader role.
 */
static void dispatch(struct uccid_reader *r, const uint8_t *buf, int n)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	struct uslot *s;
	int rc;

	if (n == 0) {
		uccid_log(r, UCCID_LOG_DEBUG, "zero-length bulk-IN transfer skipped");
		goto skipped;
	}
	if (r->opt.trace)
		r->opt.trace(r->opt.trace_ctx, false, buf, (size_t)n);
	rc = ccid_msg_decode(buf, (size_t)n, &m, &diag);
	if (rc < 0 || !ccid_is_response(m.bMessageType)) {
		/* with one command in flight, nothing else can be meant: fail it now, not at its timeout */
		s = r->in_sync ? only_waiting(r) : NULL;
		uccid_log(r, UCCID_LOG_WARNING, "malformed answer from the reader%s: %s at byte %zu (expected %s)",
			  s ? "" : " skipped", strerror(-rc), diag.offset,
			  diag.expected ? diag.expected : "an RDR_to_PC message");
		if (s) {
			fail_fast(s);
			return;
		}
		goto skipped;
	}
	if (r->in_sync && m.bSlot < r->nslots && r->slots[m.bSlot].busy && !r->slots[m.bSlot].ans_done &&
	    r->slots[m.bSlot].seq != m.bSeq && !recent_seq(&r->slots[m.bSlot], m.bSeq)) {
		/* a bSeq this slot never used (CCID §6.2: the answer carries the command's bSeq):
		   not a late answer to an abandoned command, but a reader that broke the rule.
		   Until the session's first answer, the pipe may still hold a previous
		   driver's (QEMU's usb-ccid keeps one across sessions): skipped then. */
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: %s with seq %02X answers command seq %02X", m.bSlot,
			  ccid_msg_type_name(m.bMessageType), m.bSeq, r->slots[m.bSlot].seq);
		fail_fast(&r->slots[m.bSlot]);
		return;
	}
	if (m.bSlot >= r->nslots || !r->slots[m.bSlot].busy || r->slots[m.bSlot].seq != m.bSeq
	    || r->slots[m.bSlot].ans_done) {
		uccid_log(r, UCCID_LOG_WARNING, "stale answer skipped: %s slot %u seq %02X",
			  ccid_msg_type_name(m.bMessageType), m.bSlot, m.bSeq);
		goto skipped;
	}
	s = &r->slots[m.bSlot];
	r->in_sync = true;
	if (s->expect_type && m.bMessageType != s->expect_type) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: %s answers seq %02X, expected %s", s->index,
			  ccid_msg_type_name(m.bMessageType), m.bSeq, ccid_msg_type_name(s->expect_type));
		s->ans_err = -EPROTO;
		s->ans_done = true;
		return;
	}
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_TIME_EXTENSION) {
		/* CCID §6.2.6: wait bError x the command's timeout more, within the session's deadline */
		unsigned mult = m.rsp.bError ? m.rsp.bError : 1;

		s->cmd_deadline = uccid_now_us() + (int64_t)s->base_ms * 1000 * mult;
		uccid_log(r, UCCID_LOG_DEBUG, "slot %u: time extension x%u", s->index, mult);
		return;
	}
	if ((size_t)n > s->ans_cap) {
		s->ans_err = -EMSGSIZE;
	} else {
		memcpy(s->ans, buf, (size_t)n);
		s->ans_len = (size_t)n;
		s->ans_err = 0;
	}
	s->ans_done = true;
	return;
skipped:
	for (unsigned i = 0; i < r->nslots; i++)
		if (r->slots[i].busy && ++r->slots[i].skips > UCCID_SKIP_LIMIT && !r->slots[i].ans_done) {
			r->slots[i].ans_err = -EPROTO;
			r->slots[i].ans_done = true;
		}
}

/* What one bulk-IN read gave: an answer to route, the reader gone, or a halt to clear.  r->lock held. */
static void take_read(struct uccid_reader *r, int n)
{
	if (n >= 0) {
		dispatch(r, r->rx, n);
	} else if (n == -ENODEV || n == -ECANCELED) {
		uccid_set_dead(r, n);
	} else if (n == -EPIPE) {
		/*
		 * bulk-IN halted: clear it (USB 2.0 §9.4.5).  The halt took the
		 * place of an answer; with one command in flight it was that
		 * command's, which will not come now: fail it at once (after the
		 * abort that resynchronises).  With several, each runs to its deadline.
		 */
		struct uslot *s = only_waiting(r);
		uint8_t seq = s ? s->seq : 0;

		uccid_log(r, UCCID_LOG_WARNING, "bulk-IN stalled; clearing the halt");
		pthread_mutex_unlock(&r->lock);
		r->t->ops->clear_halt(r->t, r->t->info.ep_bulk_in);
		pthread_mutex_lock(&r->lock);
		if (s && s->busy && !s->ans_done && s->seq == seq)
			fail_fast(s);
	} else if (n != -ETIMEDOUT) {
		uccid_log(r, UCCID_LOG_WARNING, "bulk-IN: %s", strerror(-n));
	}
}

/* Take the reader role for one slice: read bulk-IN once and dispatch.  r->lock held on entry and exit. */
static void read_once(struct uccid_reader *r, int64_t until)
{
	int64_t left_ms = (until - uccid_now_us()) / 1000;
	unsigned ms = left_ms < 1 ? 1 : left_ms > UCCID_READ_SLICE_MS ? UCCID_READ_SLICE_MS : (unsigned)left_ms;
	int n;

	r->reading = true;
	pthread_mutex_unlock(&r->lock);
	n = r->t->ops->bulk_in(r->t, r->rx, r->max_msg, ms);
	pthread_mutex_lock(&r->lock);
	r->reading = false;
	take_read(r, n);
	pthread_cond_broadcast(&r->cond);
}

/* Wait (r->lock held) until s's answer is done, reading bulk-IN when nobody else does. */
static void wait_answer(struct uccid_reader *r, struct uslot *s, int64_t deadline)
{
	while (!s->ans_done && !r->dead) {
		int64_t until = s->cmd_deadline < deadline ? s->cmd_deadline : deadline;
		struct timespec ts;

		if (uccid_now_us() >= until)
			return;
		if (!r->reading) {
			read_once(r, until);
			continue;
		}
		abs_deadline(&ts, until < uccid_now_us() + UCCID_READ_SLICE_MS * 1000 ? until
						      : uccid_now_us() + UCCID_READ_SLICE_MS * 1000);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
}

static int send_out(struct uccid_reader *r, uint8_t *msg, size_t len)
{
	int rc;

	pthread_mutex_lock(&r->out_lock);
	if (r->opt.trace)
		r->opt.trace(r->opt.trace_ctx, true, msg, len);
	rc = r->t->ops->bulk_out(r->t, msg, len, CONTROL_MS);
	pthread_mutex_unlock(&r->out_lock);
	return rc < 0 ? rc : 0;
}

/*
 * Send msg and read bulk-IN once in the same transport call; we hold the
 * reader role (r->reading) on entry and give it back.  Returns the send's
 * result; what was read is dispatched like read_once() does.
 */
static int send_and_read(struct uccid_reader *r, uint8_t *msg, size_t len, unsigned base_ms)
{
	int out_rc = 0, n;

	pthread_mutex_lock(&r->out_lock);
	if (r->opt.trace)
		r->opt.trace(r->opt.trace_ctx, true, msg, len);
	n = r->t->ops->bulk_out_in(r->t, msg, len, r->rx, r->max_msg, CONTROL_MS,
				   base_ms < UCCID_READ_SLICE_MS ? base_ms : UCCID_READ_SLICE_MS, &out_rc);
	pthread_mutex_unlock(&r->out_lock);
	pthread_mutex_lock(&r->lock);
	r->reading = false;
	if (out_rc >= 0)
		take_read(r, n);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return out_rc < 0 ? out_rc : 0;
}

/*
 * The command timed out: ABORT request then PC_to_RDR_Abort with the same
 * bSeq (CCID §5.3.1); the aborted command's answer and the Abort's
 * SlotStatus are then awaited, bounded.  r->lock held; s is still busy.
 */
static void abort_command(struct uccid_reader *r, struct uslot *s)
{
	uint8_t msg[CCID_HEADER_SIZE], ans[64];
	uint8_t seq = r->next_seq++;
	int64_t until = uccid_now_us() + UCCID_ABORT_MS * 1000;
	int rc;

	uccid_log(r, UCCID_LOG_WARNING, "slot %u: command seq %02X %s; aborting", s->index, s->seq,
		  s->resync ? "got an unusable answer" : "timed out");
	pthread_mutex_unlock(&r->lock);
	rc = r->t->ops->control(r->t, 0x21, 0x01, (uint16_t)(seq << 8 | s->index), r->t->info.interface, NULL, 0,
				CONTROL_MS);
	if (rc < 0)
		uccid_log(r, UCCID_LOG_INFO, "ABORT request: %s (the reader may not implement it)", strerror(-rc));
	uccid_build(msg, CCID_PC_TO_RDR_ABORT, 0, 0, 0, NULL, 0);
	msg[CCID_OFF_SLOT] = (uint8_t)s->index;
	msg[CCID_OFF_SEQ] = seq;
	pthread_mutex_lock(&r->lock);
	uccid_note_seq(s, seq);
	s->resync = false;
	s->expect_type = CCID_RDR_TO_PC_SLOT_STATUS;
	s->ans = ans;
	s->ans_cap = sizeof(ans);
	s->ans_done = false;
	s->cmd_deadline = until;
	s->base_ms = UCCID_ABORT_MS;
	pthread_mutex_unlock(&r->lock);
	rc = send_out(r, msg, sizeof(msg));
	pthread_mutex_lock(&r->lock);
	if (rc < 0) {
		if (rc == -ENODEV)
			uccid_set_dead(r, rc);
		return;
	}
	wait_answer(r, s, until);
	if (!s->ans_done)
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: the reader did not answer the Abort", s->index);
}

int uccid_xchg(struct uccid_reader *r, struct uslot *s, uint8_t *msg, size_t len, uint8_t *ans, size_t cap,
	       unsigned base_ms, struct ccid_msg *ret)
{
	unsigned total_ms = msg[CCID_OFF_TYPE] == CCID_PC_TO_RDR_ICC_POWER_ON ? r->opt.power_deadline_ms
									      : r->opt.exchange_deadline_ms;
	int64_t deadline = uccid_now_us() + (int64_t)total_ms * 1000;
	unsigned busy_tries = 0;
	bool combined;
	int rc;

again:
	pthread_mutex_lock(&r->lock);
	/* one command per slot, at most bMaxCCIDBusySlots slots at once (CCID §5.1) */
	while (!r->dead && (s->busy || r->busy >= r->busy_max) && uccid_now_us() < deadline) {
		struct timespec ts;

		abs_deadline(&ts, deadline);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	if (r->dead) {
		rc = r->dead;
		goto out_unlocked_slot;
	}
	if (s->busy || r->busy >= r->busy_max) {
		rc = -ETIMEDOUT;
		goto out_unlocked_slot;
	}
	s->busy = true;
	r->busy++;
	uccid_note_seq(s, r->next_seq++);
	s->resync = false;
	s->expect_type = ccid_response_type(msg[CCID_OFF_TYPE]);
	s->ans = ans;
	s->ans_cap = cap;
	s->ans_len = 0;
	s->ans_err = 0;
	s->ans_done = false;
	s->skips = 0;
	s->base_ms = base_ms;
	s->cmd_deadline = uccid_now_us() + (int64_t)base_ms * 1000;
	msg[CCID_OFF_SLOT] = (uint8_t)s->index;
	msg[CCID_OFF_SEQ] = s->seq;
	/* alone on the reader: command and first read in one go (one round trip over USB/IP) */
	combined = r->t->ops->bulk_out_in && !r->reading && r->busy == 1;
	if (combined)
		r->reading = true;
	pthread_mutex_unlock(&r->lock);

	if (combined)
		rc = send_and_read(r, msg, len, base_ms);
	else
		rc = send_out(r, msg, len);
	pthread_mutex_lock(&r->lock);
	if (rc < 0) {
		if (rc == -ENODEV || rc == -ECANCELED)
			uccid_set_dead(r, rc);
		else if (rc == -ETIMEDOUT)
			rc = -ETIMEDOUT;
		goto out;
	}
	wait_answer(r, s, deadline);
	if (r->dead && !s->ans_done) {
		rc = r->dead;
		goto out;
	}
	if (!s->ans_done) {
		abort_command(r, s);
		rc = r->dead ? r->dead : -ETIMEDOUT;
		goto out;
	}
	if (s->resync) {
		/* a malformed or misnumbered answer: the reader's state is unknown; resynchronise */
		abort_command(r, s);
		rc = r->dead ? r->dead : -EPROTO;
		goto out;
	}
	rc = s->ans_err;
	if (rc == 0 && ccid_msg_decode(ans, s->ans_len, ret, NULL) < 0)
		rc = -EPROTO;
out:
	s->busy = false;
	r->busy--;
	pthread_cond_broadcast(&r->cond);
out_unlocked_slot:
	pthread_mutex_unlock(&r->lock);
	if (rc == 0) {
		uccid_note_icc_status(r, s, ret->rsp.bStatus);
		if (CCID_CMD_STATUS(ret->rsp.bStatus) == CCID_CMD_FAILED && !s->raw) {
			int err = uccid_answer_error(r, s, ret);

			/* CMD_SLOT_BUSY: the reader was busy with something of its own; retry a little */
			if (err == -EBUSY && ++busy_tries <= UCCID_BUSY_RETRIES && uccid_now_us() < deadline) {
				struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };

				nanosleep(&nap, NULL);
				goto again;
			}
			if (err == -EBUSY)
				return -EBUSY;
		}
	}
	return rc;
}

ssize_t uccid_ccid_command(struct uccid_reader *r, unsigned slot, const uint8_t *msg, size_t len, uint8_t *ans,
			   size_t cap, unsigned timeout_ms)
{
	struct uslot *s;
	struct ccid_msg m;
	uint8_t *copy;
	int rc;

	if (!r || slot >= r->nslots || !msg || len < CCID_HEADER_SIZE || len > r->max_msg || !ans
	    || cap < CCID_HEADER_SIZE)
		return -EINVAL;
	s = &r->slots[slot];
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		goto out;
	s->raw = true;
	rc = uccid_xchg(r, s, copy, len, ans, cap, timeout_ms ? timeout_ms : 5000, &m);
	s->raw = false;
	uccid_slot_leave(r, s);
out:
	free(copy);
	return rc < 0 ? rc : (ssize_t)(CCID_HEADER_SIZE + m.dwLength);
}

int uccid_class_request(struct uccid_reader *r, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			uint8_t *data, uint16_t wLength)
{
	if (!r || (bmRequestType & 0x60) != 0x20 || (wLength && !data))
		return -EINVAL;
	return r->t->ops->control(r->t, bmRequestType, bRequest, wValue, r->t->info.interface, data, wLength,
				  CONTROL_MS);
}

/* ---- open / close ---- */

static int find_interface(struct uccid_reader *r, char *err, size_t errlen)
{
	uint8_t dev[18], *cfg_raw = malloc(UCCID_DESC_MAX);
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag = { 0 };
	int n, rc;

	if (!cfg_raw || !cfg) {
		rc = -ENOMEM;
		goto out;
	}
	n = r->t->ops->descriptors(r->t, dev, cfg_raw, UCCID_DESC_MAX);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read the descriptors: %s", r->t->info.path, strerror(-n));
		rc = n;
		goto out;
	}
	rc = ccid_usb_config_parse(cfg_raw, (size_t)n, cfg, &diag);
	if (rc < 0) {
		snprintf(err, errlen, "%s: bad configuration descriptor at byte %zu (expected %s)", r->t->info.path,
			 diag.offset, diag.expected);
		rc = -EPROTO;
		goto out;
	}
	/* the transport already chose the interface: take its class descriptor */
	for (unsigned i = 0;; i++) {
		rc = ccid_usb_find_ccid(cfg, cfg_raw, (size_t)n, i, &ci, &diag);
		if (rc < 0) {
			snprintf(err, errlen, "%s: no CCID interface %u in the configuration", r->t->info.path,
				 r->t->info.interface);
			rc = -EPROTO;
			goto out;
		}
		if (ci.bInterfaceNumber == r->t->info.interface)
			break;
	}
	if (ci.bInterfaceProtocol != CCID_USB_PROTOCOL_CCID) {
		snprintf(err, errlen, "%s: an ICCD device (control-pipe protocol %u) is not supported", r->t->info.path,
			 ci.bInterfaceProtocol);
		rc = -ENOTSUP;
		goto out;
	}
	memcpy(r->desc_raw, cfg_raw + ci.class_offset, CCID_CLASS_DESC_LEN);
	ccid_class_desc_parse(r->desc_raw, CCID_CLASS_DESC_LEN, &r->desc, NULL);
	r->class_last = ci.class_after_endpoint;
	r->vendor_class = ci.vendor_class;
	rc = 0;
out:
	free(cfg_raw);
	free(cfg);
	return rc;
}

/*
 * CCID §5.3.2-3: the discrete clocks and data rates the reader supports,
 * when bNumClockSupported / bNumDataRatesSupported announce them.  A reader
 * that stalls or answers with a length that is not a multiple of 4 has none
 * we can use; the descriptor's default and maximum then apply.
 */
static unsigned read_list(struct uccid_reader *r, uint8_t request, unsigned count, uint32_t *out)
{
	uint8_t buf[4 * 255];
	int n;

	if (!count)
		return 0;
	n = r->t->ops->control(r->t, 0xA1, request, 0, r->t->info.interface, buf, (uint16_t)(4 * count), CONTROL_MS);
	if (n < 0 || n % 4) {
		uccid_log(r, UCCID_LOG_INFO, "%s: %s", request == 2 ? "GET_CLOCK_FREQUENCIES" : "GET_DATA_RATES",
			  n < 0 ? strerror(-n) : "a length that is not a multiple of 4");
		return 0;
	}
	for (int i = 0; i < n / 4; i++)
		out[i] = get_le32(buf + 4 * i);
	return (unsigned)n / 4;
}

static void validation_log(void *ctx, enum ccid_severity sev, const char *field, size_t off, const char *text)
{
	struct uccid_reader *r = ctx;

	uccid_log(r, sev == CCID_SEV_ERROR ? UCCID_LOG_ERROR : sev == CCID_SEV_WARNING ? UCCID_LOG_WARNING
										       : UCCID_LOG_INFO,
		  "class descriptor %s (offset %zu): %s", field, off, text);
}

int uccid_open_transport(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_reader **ret,
			 char *err, size_t errlen)
{
	return uccid_session_open(t, opts, NULL, ret, err, errlen);
}

int uccid_session_open(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_open_lock *ol,
		       struct uccid_reader **ret, char *err, size_t errlen)
{
	struct uccid_reader *r;
	char scratch[8];
	int rc;

	if (!err) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if (!t || !ret) {
		snprintf(err, errlen, "no transport");
		if (ol)
			uccid_open_unlock(ol);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		t->ops->close(t);
		if (ol)
			uccid_open_unlock(ol);
		return -ENOMEM;
	}
	r->t = t;
	if (ol)
		r->open = *ol;  /* ours now: released by uccid_close() */
	if (opts)
		r->opt = *opts;
	if (!r->opt.exchange_deadline_ms)
		r->opt.exchange_deadline_ms = DEFAULT_EXCHANGE_MS;
	if (!r->opt.power_deadline_ms)
		r->opt.power_deadline_ms = DEFAULT_POWER_MS;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->out_lock, NULL);
	pthread_mutex_init(&r->ev_lock, NULL);
	pthread_mutex_init(&r->own_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (unsigned i = 0; i < UCCID_MAX_SLOTS; i++) {
		r->slots[i].index = i;
		r->slots[i].protocol = 0xFF;
		r->slots[i].present = true;     /* until the reader says otherwise */
		pthread_mutex_init(&r->slots[i].op, NULL);
	}
	rc = find_interface(r, err, errlen);
	if (rc < 0)
		goto fail;
	if (ccid_class_desc_validate(&r->desc, validation_log, r, NULL) < 0) {
		snprintf(err, errlen, "%s: the CCID class descriptor is not usable (see uccid info)", t->info.path);
		rc = -EPROTO;
		goto fail;
	}
	r->level = ccid_class_desc_level(&r->desc);
	if (r->level == CCID_LEVEL_CHARACTER) {
		snprintf(err, errlen, "%s: character-level readers are not supported", t->info.path);
		rc = -ENOTSUP;
		goto fail;
	}
	r->nslots = r->desc.bMaxSlotIndex + 1u;
	if (r->nslots > UCCID_MAX_SLOTS) {
		snprintf(err, errlen, "%s: %u slots; uccid handles at most %u", t->info.path, r->nslots,
			 UCCID_MAX_SLOTS);
		rc = -ENOTSUP;
		goto fail;
	}
	r->busy_max = ccid_class_desc_busy_slots(&r->desc);
	r->max_msg = ccid_class_desc_max_message(&r->desc);
	r->clock_khz = r->desc.dwDefaultClock ? r->desc.dwDefaultClock : 4000;
	uccid_apply_quirks(r, r->class_last, r->vendor_class);
	r->nclocks = read_list(r, 0x02, r->desc.bNumClockSupported, r->clocks);
	r->nrates = read_list(r, 0x03, r->desc.bNumDataRatesSupported, r->rates);
	r->rx = malloc(CCID_MAX_MESSAGE_LENGTH);
	if (!r->rx) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = uccid_locks_init(r, err, errlen);
	if (rc < 0)
		goto fail;
	uccid_log(r, UCCID_LOG_INFO, "%s: %u slot(s), %s level, messages up to %u bytes", t->info.path, r->nslots,
		  ccid_exchange_level_name(r->level), (unsigned)r->max_msg);
	*ret = r;
	return 0;
fail:
	uccid_close(r);
	return rc;
}

void uccid_cancel(struct uccid_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	uccid_set_dead(r, -ECANCELED);
	pthread_mutex_unlock(&r->lock);
	/* threads waiting for a slot another thread locked, or in uccid_lock() */
	for (unsigned i = 0; r->lm && i < r->nslots; i++)
		lockmgr_cancel_all(r->lm, i);
	r->t->ops->cancel(r->t);
}

void uccid_close(struct uccid_reader *r)
{
	if (!r)
		return;
	/* Power the cards off, best effort and bounded, unless the reader is gone or the
	   card's last owner left it for the next (unlock with UCCID_LEAVE). */
	if (!r->dead && r->lm) {
		r->opt.exchange_deadline_ms = 2000;
		for (unsigned i = 0; i < r->nslots; i++) {
			struct uslot *s = &r->slots[i];

			pthread_mutex_lock(&s->op);
			if (s->powered && !s->left)
				uccid_do_power_off(r, s);
			pthread_mutex_unlock(&s->op);
		}
	}
	uccid_locks_free(r);
	if (r->t)
		r->t->ops->close(r->t);
	for (unsigned i = 0; i < UCCID_MAX_SLOTS; i++)
		pthread_mutex_destroy(&r->slots[i].op);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->out_lock);
	pthread_mutex_destroy(&r->ev_lock);
	pthread_mutex_destroy(&r->own_lock);
	pthread_cond_destroy(&r->cond);
	free(r->rx);
	free(r);
}

int uccid_info(const struct uccid_reader *r, struct uccid_reader_info *ret)
{
	if (!r || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->idVendor = r->t->info.idVendor;
	ret->idProduct = r->t->info.idProduct;
	snprintf(ret->path, sizeof(ret->path), "%s", r->t->info.path);
	ret->nslots = r->nslots;
	ret->busy_slots = r->busy_max;
	ret->exchange_level = r->level;
	ret->max_message = r->max_msg;
	ret->features = r->desc.dwFeatures;
	ret->mechanical = r->desc.dwMechanical;
	ret->voltages = r->desc.bVoltageSupport;
	ret->pin_support = r->desc.bPINSupport;
	ret->has_interrupt = r->t->info.ep_intr_in != 0;
	ret->quirks = r->quirks;
	ret->busnum = r->t->info.busnum;
	ret->devnum = r->t->info.devnum;
	ret->interface = r->t->info.interface;
	ret->ep_bulk_out = r->t->info.ep_bulk_out;
	ret->ep_bulk_in = r->t->info.ep_bulk_in;
	ret->ep_intr_in = r->t->info.ep_intr_in;
	return 0;
}

int uccid_descriptors(struct uccid_reader *r, uint8_t dev[18], uint8_t *cfg, size_t cap)
{
	if (!r || !dev || !cfg)
		return -EINVAL;
	return r->t->ops->descriptors(r->t, dev, cfg, cap);
}

int uccid_class_descriptor(const struct uccid_reader *r, uint8_t desc[54])
{
	if (!r || !desc)
		return -EINVAL;
	memcpy(desc, r->desc_raw, CCID_CLASS_DESC_LEN);
	return CCID_CLASS_DESC_LEN;
}

int uccid_last_error(const struct uccid_reader *r, unsigned slot, struct uccid_reader_error *ret)
{
	if (!r || !ret || slot >= r->nslots)
		return -EINVAL;
	*ret = r->slots[slot].last_error;
	return 0;
}

const char *uccid_strerror(int err)
{
	switch (err) {
	case -ENOMEDIUM: return "no card in the slot";
	case -ETIMEDOUT: return "the reader or card did not answer in time";
	case -ENODEV: return "the reader is gone";
	case -EPROTO: return "the reader or card broke the protocol";
	case -EBUSY: return "the slot is busy";
	case -EMSGSIZE: return "the response does not fit the buffer";
	case -ENOTSUP: return "the reader cannot do that";
	case -ECANCELED: return "cancelled";
	case -EIO: return "the reader reported an error";
	default: return strerror(err < 0 ? -err : err);
	}
}
