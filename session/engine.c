/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exchange engine that every command goes through.  One thread at a
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
#include <string.h>
#include <time.h>

#include "session/session_priv.h"

#define CONTROL_MS 2000

ssize_t uccid_build(uint8_t *msg, size_t cap, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data,
		    size_t len)
{
	struct ccid_msg m = { .bMessageType = type, .dwLength = (uint32_t)len, .abData = data };

	if (!msg || (len && !data))
		return -EINVAL;
	if (len > CCID_MAX_DATA_LENGTH)
		return -EMSGSIZE;
	if (type == CCID_PC_TO_RDR_XFR_BLOCK || type == CCID_PC_TO_RDR_SECURE) {
		/* the codec's struct holds wLevelParameter as a number, not as bytes 8..9 */
		m.xfr.bBWI = b7;
		m.xfr.wLevelParameter = (uint16_t)(b8 | b9 << 8);
	} else {
		m.raw[0] = b7;
		m.raw[1] = b8;
		m.raw[2] = b9;
	}
	/* the codec's encoder checks the command by the rules a reader checks it by (CCID §6.1) */
	return ccid_msg_encode(&m, msg, cap);
}

/* until_us, a uccid_mono_us() time, as the absolute time r->cond waits for (it runs on CLOCK_MONOTONIC). */
static void abs_deadline(struct timespec *ts, int64_t until_us)
{
	int64_t now = uccid_mono_us();

	if (until_us < now)
		until_us = now;
	ts->tv_sec = (time_t)(until_us / 1000000);
	ts->tv_nsec = (long)(until_us % 1000000) * 1000;
}

void uccid_set_dead(struct uccid_reader *r, int err)
{
	/* a remote reader's link that dropped is restored instead (link.c) */
	if (err == -ENODEV && uccid_link_lost(r))
		return;
	if (!r->dead || r->dead == -ENOTCONN) {
		if (err == -ENODEV) {
			/* the real cause, where the transport recorded one (a protocol violation,
			   a timeout, the server closing), not only "gone" */
			char why[200] = "";

			if (r->t->ops->why)
				r->t->ops->why(r->t, why, sizeof(why));
			uccid_link_gone(r, why);
		} else {
			r->dead = err;
		}
	}
	pthread_cond_broadcast(&r->cond);
}

int uccid_dead(struct uccid_reader *r)
{
	int dead;

	reader_lock(r);
	dead = r->dead;
	reader_unlock(r);
	return dead;
}

/* The errno for a failed answer (CCID §6.2.6 bError). */
static int answer_errno(const struct ccid_msg *m)
{
	if (CCID_ICC_STATUS(m->rsp.bStatus) == CCID_ICC_ABSENT)
		return -ENOMEDIUM;
	switch (m->rsp.bError) {
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

int uccid_answer_error(struct uccid_reader *r, struct uslot *s, const struct ccid_msg *m)
{
	uint8_t st = m->rsp.bStatus, err = m->rsp.bError;

	/* the refused command, as uccid.h documents it: not the answer's type */
	s->last_error = (struct uccid_reader_error){ .valid = true, .bStatus = st, .bError = err,
						     .bMessageType = s->cmd_type };
	uccid_log(r, UCCID_LOG_INFO, "slot %u: %s failed: %s (%02X): %s", s->index, ccid_msg_type_name(s->cmd_type),
		  ccid_error_name(err), err, ccid_error_explain(err));
	return answer_errno(m);
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

		s->cmd_deadline = uccid_mono_us() + (int64_t)s->base_ms * 1000 * mult;
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
		reader_unlock(r);
		r->t->ops->clear_halt(r->t, r->t->info.ep_bulk_in);
		reader_lock(r);
		if (s && s->busy && !s->ans_done && s->seq == seq)
			fail_fast(s);
	} else if (n != -ETIMEDOUT) {
		uccid_log(r, UCCID_LOG_WARNING, "bulk-IN: %s", strerror(-n));
	}
}

/* Take the reader role for one slice: read bulk-IN once and dispatch.  r->lock held on entry and exit. */
static void read_once(struct uccid_reader *r, int64_t until)
{
	int64_t left_ms = (until - uccid_mono_us()) / 1000;
	unsigned ms = left_ms < 1 ? 1 : left_ms > UCCID_READ_SLICE_MS ? UCCID_READ_SLICE_MS : (unsigned)left_ms;
	int n;

	r->reading = true;
	reader_unlock(r);
	n = r->t->ops->bulk_in(r->t, r->rx, r->max_msg, ms);
	reader_lock(r);
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

		if (uccid_mono_us() >= until)
			return;
		if (!r->reading) {
			read_once(r, until);
			continue;
		}
		abs_deadline(&ts, until < uccid_mono_us() + UCCID_READ_SLICE_MS * 1000 ? until
						      : uccid_mono_us() + UCCID_READ_SLICE_MS * 1000);
		reader_wait(r, &ts);
	}
}

/*
 * A bulk-OUT that went out short (transport.h): the reader has part of a
 * command, which is no command; taken as sent, the caller would wait for an
 * answer that is not coming, or get the answer to a truncated one.
 */
static int out_short(struct uccid_reader *r, const uint8_t *msg, size_t len, int sent)
{
	if ((size_t)sent == len)
		return 0;
	uccid_log(r, UCCID_LOG_ERROR, "bulk-OUT of %s (bSeq %u): %d of %zu bytes sent: the command is failed",
		  ccid_msg_type_name(msg[CCID_OFF_TYPE]), msg[CCID_OFF_SEQ], sent, len);
	return -EIO;
}

static int send_out(struct uccid_reader *r, uint8_t *msg, size_t len)
{
	int rc;

	pthread_mutex_lock(&r->out_lock);
	if (r->opt.trace)
		r->opt.trace(r->opt.trace_ctx, true, msg, len);
	rc = r->t->ops->bulk_out(r->t, msg, len, CONTROL_MS);
	pthread_mutex_unlock(&r->out_lock);
	return rc < 0 ? rc : out_short(r, msg, len, rc);
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
	if (out_rc >= 0)
		out_rc = out_short(r, msg, len, out_rc);
	reader_lock(r);
	r->reading = false;
	if (out_rc >= 0)
		take_read(r, n);
	pthread_cond_broadcast(&r->cond);
	reader_unlock(r);
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
	int64_t until = uccid_mono_us() + UCCID_ABORT_MS * 1000;
	int rc;

	uccid_log(r, UCCID_LOG_WARNING, "slot %u: command seq %02X %s; aborting", s->index, s->seq,
		  s->resync ? "got an unusable answer" : "timed out");
	reader_unlock(r);
	rc = r->t->ops->control(r->t, 0x21, 0x01, (uint16_t)(seq << 8 | s->index), r->t->info.interface, NULL, 0,
				CONTROL_MS);
	if (rc < 0)
		uccid_log(r, UCCID_LOG_INFO, "ABORT request: %s (the reader may not implement it)", strerror(-rc));
	if (uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_ABORT, 0, 0, 0, NULL, 0) < 0) {
		reader_lock(r);
		return;         /* cannot happen: a header-only Abort always encodes */
	}
	msg[CCID_OFF_SLOT] = (uint8_t)s->index;
	msg[CCID_OFF_SEQ] = seq;
	reader_lock(r);
	uccid_note_seq(s, seq);
	s->resync = false;
	s->expect_type = CCID_RDR_TO_PC_SLOT_STATUS;
	s->ans = ans;
	s->ans_cap = sizeof(ans);
	s->ans_done = false;
	s->cmd_deadline = until;
	s->base_ms = UCCID_ABORT_MS;
	reader_unlock(r);
	rc = send_out(r, msg, sizeof(msg));
	reader_lock(r);
	if (rc < 0) {
		if (rc == -ENODEV)
			uccid_set_dead(r, rc);
		return;
	}
	wait_answer(r, s, until);
	if (!s->ans_done)
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: the reader did not answer the Abort", s->index);
}

int uccid_xchg(struct uccid_reader *r, struct uslot *s, uint8_t *msg, ssize_t slen, uint8_t *ans, size_t cap,
	       unsigned base_ms, struct ccid_msg *ret)
{
	unsigned total_ms;
	int64_t deadline;
	unsigned busy_tries = 0;
	bool combined;
	size_t len;
	int rc;

	if (slen < 0) {
		uccid_log(r, UCCID_LOG_ERROR, "slot %u: a command the codec refuses was not sent: %s", s->index,
			  strerror((int)-slen));
		return (int)slen;
	}
	len = (size_t)slen;
	if (len < CCID_HEADER_SIZE)
		return -EINVAL;
	total_ms = msg[CCID_OFF_TYPE] == CCID_PC_TO_RDR_ICC_POWER_ON ? r->opt.power_deadline_ms
								     : r->opt.exchange_deadline_ms;
	/* a PIN entry may take its time-out beyond the exchange deadline: still a finite bound */
	deadline = uccid_mono_us() + ((int64_t)total_ms + s->extra_ms) * 1000;
	s->cmd_type = msg[CCID_OFF_TYPE];
again:
	reader_lock(r);
	/* one command per slot, at most bMaxCCIDBusySlots slots at once (CCID §5.1) */
	while (!r->dead && (s->busy || r->busy >= r->busy_max) && uccid_mono_us() < deadline) {
		struct timespec ts;

		abs_deadline(&ts, deadline);
		reader_wait(r, &ts);
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
	s->cmd_deadline = uccid_mono_us() + (int64_t)base_ms * 1000;
	msg[CCID_OFF_SLOT] = (uint8_t)s->index;
	msg[CCID_OFF_SEQ] = s->seq;
	if (r->iccd) {
		/* an ICCD token: the command carried out on the control pipe (iccd.c) */
		reader_unlock(r);
		rc = uccid_iccd_xchg(r, msg, len, ans, cap, &s->ans_len, deadline);
		reader_lock(r);
		if (rc == -ENODEV || rc == -ECANCELED) {
			uccid_set_dead(r, rc);
			rc = r->dead ? r->dead : -ENOTCONN;
		}
		if (rc == 0 && ccid_msg_decode(ans, s->ans_len, ret, NULL) < 0)
			rc = -EPROTO;
		if (rc == 0)
			uccid_card_present(r, s, CCID_ICC_STATUS(ret->rsp.bStatus) != CCID_ICC_ABSENT);
		goto out;
	}
	/* alone on the reader: command and first read in one go (one round trip over USB/IP) */
	combined = r->t->ops->bulk_out_in && !r->reading && r->busy == 1;
	if (combined)
		r->reading = true;
	reader_unlock(r);

	if (combined)
		rc = send_and_read(r, msg, len, base_ms);
	else
		rc = send_out(r, msg, len);
	reader_lock(r);
	if (rc < 0) {
		if (rc == -ENODEV || rc == -ECANCELED) {
			uccid_set_dead(r, rc);
			/* -ENOTCONN while a link is restored; an -ENODEV of a connection replaced since */
			rc = r->dead ? r->dead : -ENOTCONN;
		}
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
	/* bmICCStatus tells what the reader knows of the card (CCID §6.2.6) */
	if (rc == 0)
		uccid_card_present(r, s, CCID_ICC_STATUS(ret->rsp.bStatus) != CCID_ICC_ABSENT);
out:
	s->busy = false;
	r->busy--;
	pthread_cond_broadcast(&r->cond);
out_unlocked_slot:
	reader_unlock(r);
	/* CMD_SLOT_BUSY: the reader was busy with something of its own; retry a little */
	if (rc == 0 && !s->raw && CCID_CMD_STATUS(ret->rsp.bStatus) == CCID_CMD_FAILED && answer_errno(ret) == -EBUSY) {
		if (++busy_tries <= UCCID_BUSY_RETRIES && uccid_mono_us() < deadline) {
			struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };

			uccid_log(r, UCCID_LOG_DEBUG, "slot %u: slot busy; retrying", s->index);
			nanosleep(&nap, NULL);
			goto again;
		}
		return uccid_answer_error(r, s, ret);
	}
	return rc;
}
