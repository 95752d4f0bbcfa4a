/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry on the reader's keypad: PC_to_RDR_Secure (CCID 1.1 §6.1.11),
 * PIN verification and modification, at every exchange level.  The reader
 * formats the PIN into the APDU template and sends it to the card itself:
 *  - APDU levels, and TPDU under T=0: the reader frames the APDU; its answer
 *    is the response APDU (chained at extended-APDU level, CCID §6.2.1);
 *  - TPDU under T=1: the host's T=1 state frames it — bTeoPrologue carries
 *    the NAD, PCB and LEN of the I-block the engine would send, the reader
 *    adds the PIN and the EDC, and answers with the card's block, which the
 *    engine takes as the answer to that I-block.  What follows (S(WTX), a
 *    chained response, error recovery) goes by XfrBlock; the PIN block
 *    itself is never sent again by the host (it only has the template).
 * An answer of two bytes in place of a T=1 block is the reader's own
 * status word (64 02, 64 03), as libccid takes it: nothing reached the card.
 * PIN-pad firmware faults (quirks.c) are worked around here, on the
 * structure as it goes on the wire.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session/session_priv.h"

#define ENTRY_DEFAULT_S 90           /* bTimeOut 0: the reader's default, allowed for as libccid does */
#define ENTRY_MARGIN_MS 10000
#define STRUCT_MAX (CCID_PIN_MODIFY_FIXED + 2 + 261)
#define T1_ANS_CAP (CCID_HEADER_SIZE + CCID_T1_BLOCK_MAX + 16)

/* How long the person at the keypad may take: bTimeOut for each PIN typed. */
static unsigned entry_ms(const struct ccid_pin *p)
{
	unsigned entries = 1;

	if (p->operation == CCID_PIN_OP_MODIFY)
		entries = 1 + !!(p->bConfirmPIN & CCID_PIN_CONFIRM_NEW) + !!(p->bConfirmPIN & CCID_PIN_ENTER_CURRENT);
	return (p->bTimeOut ? p->bTimeOut : ENTRY_DEFAULT_S) * 1000u * entries + ENTRY_MARGIN_MS;
}

/*
 * The structure as this reader takes it: p checked by ccid_pin_decode, then
 * the reader's firmware faults, then the fields in CCID order.  Returns its length.
 */
static size_t wire(const struct uccid_reader *r, const struct ccid_pin *p, const uint8_t teo[3], uint8_t *out)
{
	uint32_t q = r->pin_quirks;
	bool modify = p->operation == CCID_PIN_OP_MODIFY;
	uint8_t nmsg = p->bNumberMessage, valid = p->bEntryValidationCondition, idx[3];
	unsigned nidx = p->nmsg_index;
	size_t n = 0;

	memcpy(idx, p->bMsgIndex, 3);
	if (q & UCCID_PINQ_VALIDATION_KEY_ONLY)
		valid = CCID_PIN_VALID_KEY;
	if (!modify) {
		if (q & UCCID_PINQ_VERIFY_ONE_MESSAGE)
			nmsg = 1;
		if (q & UCCID_PINQ_NO_MESSAGE)
			nmsg = 0;
	} else {
		if ((q & UCCID_PINQ_MODIFY_NO_ZERO_MESSAGES) && nmsg == 0)
			nmsg = 0xFF;
		if (q & UCCID_PINQ_MODIFY_THREE_MESSAGES)
			nmsg = 3;
		nidx = ccid_pin_modify_msg_indexes(nmsg);
		if (q & UCCID_PINQ_MODIFY_INDEXES_KEPT)
			nidx = 3;
		if (q & UCCID_PINQ_MODIFY_ALL_INDEXES) {
			nidx = 3;
			nmsg = 0;
			memset(idx, 0, sizeof(idx));
		}
	}
	out[n++] = p->bTimeOut;
	out[n++] = p->bmFormatString;
	out[n++] = p->bmPINBlockString;
	out[n++] = p->bmPINLengthFormat;
	if (modify) {
		out[n++] = p->bInsertionOffsetOld;
		out[n++] = p->bInsertionOffsetNew;
	}
	/* wPINMaxExtraDigit, little-endian: maximum, then minimum (swapped for the Dell SK-3106) */
	out[n++] = q & UCCID_PINQ_SWAPPED_DIGITS ? p->min_digits : p->max_digits;
	out[n++] = q & UCCID_PINQ_SWAPPED_DIGITS ? p->max_digits : p->min_digits;
	if (modify)
		out[n++] = p->bConfirmPIN;
	out[n++] = valid;
	out[n++] = nmsg;
	out[n++] = (uint8_t)p->wLangId;
	out[n++] = (uint8_t)(p->wLangId >> 8);
	for (unsigned i = 0; i < nidx; i++)
		out[n++] = idx[i];
	memcpy(out + n, teo, 3);
	n += 3;
	memcpy(out + n, p->apdu, p->apdu_len);
	return n + p->apdu_len;
}

/* One PC_to_RDR_Secure carrying p; the answer in *m (a failed one too). */
static int send_secure(struct uccid_reader *r, struct uslot *s, const struct ccid_pin *p, const uint8_t teo[3],
		       uint8_t *ans, size_t cap, struct ccid_msg *m)
{
	uint8_t data[1 + STRUCT_MAX], msg[CCID_HEADER_SIZE + 1 + STRUCT_MAX];
	size_t n;
	int rc;

	data[0] = p->operation;
	n = 1 + wire(r, p, teo, data + 1);
	if (CCID_HEADER_SIZE + n > r->max_msg) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: the PIN structure (%zu bytes) exceeds dwMaxCCIDMessageLength",
			  s->index, n);
		return -EMSGSIZE;
	}
	s->extra_ms = entry_ms(p);
	/* bBWI 0, wLevelParameter 0: the whole structure in one message */
	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_SECURE, 0, 0, 0, data, n), ans, cap,
			s->extra_ms, m);
	s->extra_ms = 0;
	return rc;
}

/*
 * A failed Secure: an entry the reader ended (cancel, time-out) is the
 * status word PC/SC part 10 gives it; anything else an errno.
 */
static ssize_t failed(struct uccid_reader *r, struct uslot *s, const struct ccid_msg *m, uint8_t *rsp)
{
	int err = uccid_answer_error(r, s, m);

	if (CCID_ICC_STATUS(m->rsp.bStatus) == CCID_ICC_ABSENT)
		return err;
	if (m->rsp.bError == CCID_ERR_PIN_TIMEOUT || m->rsp.bError == CCID_ERR_PIN_CANCELLED) {
		rsp[0] = 0x64;
		rsp[1] = m->rsp.bError == CCID_ERR_PIN_TIMEOUT ? 0x00 : 0x01;
		return 2;
	}
	return err;
}

/* The Escape the SPR532 needs before a case-1 verify without a PIN block (quirks.c). */
static int spr532_append(struct uccid_reader *r, struct uslot *s, const struct ccid_pin *p)
{
	static const uint8_t esc[] = { 0x80, 0x02, 0x00 };
	uint8_t msg[CCID_HEADER_SIZE + sizeof(esc)], ans[CCID_HEADER_SIZE + 64];
	struct ccid_msg m;
	int rc;

	if (!(r->pin_quirks & UCCID_PINQ_APPEND_ESCAPE) || p->operation != CCID_PIN_OP_VERIFY
	    || p->bmPINBlockString || p->apdu_len != 4)
		return 0;
	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_ESCAPE, 0, 0, 0, esc, sizeof(esc)),
			ans, sizeof(ans), 5000, &m);
	if (rc == 0 && CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		rc = uccid_answer_error(r, s, &m);
	return rc;
}

/*
 * The Dell keyboards refuse a verify while the Enter key that started it is
 * still down (quirks.c): the reader's own timing, so a real wait, bounded.
 */
static int key_release(struct uccid_reader *r, const struct ccid_pin *p)
{
	struct timespec t = { .tv_nsec = 250 * 1000 * 1000 };

	if ((r->pin_quirks & UCCID_PINQ_KEY_RELEASE) && p->operation == CCID_PIN_OP_VERIFY)
		nanosleep(&t, NULL);
	return 0;
}

/* APDU levels and T=0 TPDU: the reader frames the APDU; the answer is the response APDU. */
static ssize_t secure_apdu(struct uccid_reader *r, struct uslot *s, const struct ccid_pin *p, uint8_t *rsp,
			   size_t cap)
{
	static const uint8_t teo[3];
	uint8_t *ans = malloc(r->max_msg + 16);
	size_t total = 0;
	struct ccid_msg m;
	ssize_t rc;

	if (!ans)
		return -ENOMEM;
	rc = send_secure(r, s, p, teo, ans, r->max_msg + 16, &m);
	for (unsigned parts = 0; rc == 0; parts++) {
		if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED) {
			rc = parts ? uccid_answer_error(r, s, &m) : failed(r, s, &m, rsp);
			goto out;
		}
		if (total + m.dwLength > cap) {
			rc = -EMSGSIZE;
			goto out;
		}
		memcpy(rsp + total, m.abData, m.dwLength);
		total += m.dwLength;
		if (m.rsp.b9 == CCID_CHAIN_BEGIN_END || m.rsp.b9 == CCID_CHAIN_END)
			break;
		/* CCID §6.2.1: a response in parts only at extended-APDU level, bounded */
		if (r->level != CCID_LEVEL_EXTENDED_APDU || parts > 65536 / 8) {
			rc = -EPROTO;
			goto out;
		}
		{
			uint8_t msg[CCID_HEADER_SIZE];

			rc = uccid_xchg(r, s, msg,
					uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_XFR_BLOCK, 0,
						    (uint8_t)CCID_CHAIN_EMPTY_NEXT, (uint8_t)(CCID_CHAIN_EMPTY_NEXT >> 8),
						    NULL, 0),
					ans, r->max_msg + 16, 5000, &m);
		}
	}
	if (rc == 0)
		rc = total >= 2 ? (ssize_t)total : -EPROTO;
out:
	free(ans);
	return rc;
}

/* TPDU under T=1: the PIN's I-block by Secure, every other block by XfrBlock. */
static ssize_t secure_t1(struct uccid_reader *r, struct uslot *s, const struct ccid_pin *p, uint8_t *rsp, size_t cap)
{
	uint8_t blk[CCID_T1_BLOCK_MAX], ans[T1_ANS_CAP];
	struct ccid_msg m;
	bool pin_sent = false;
	int st = ccid_t1_begin(&s->t1, p->apdu, p->apdu_len, rsp, cap);
	int rc, lost = 0;

	while (st == CCID_T1_SEND) {
		int n;

		if (ccid_t1_due_type(&s->t1) != CCID_T1_BLOCK_I) {
			/* S(RESYNCH) first, S(WTX) and R-blocks after the PIN block: by XfrBlock */
			if ((rc = uccid_t1_step(r, s, &st, &lost)) < 0)
				return rc;
			continue;
		}
		n = ccid_t1_next_block(&s->t1, blk, sizeof(blk));
		if (n < 0)
			return -EPROTO;
		if (pin_sent || blk[2] != p->apdu_len) {
			/* the card wants the PIN block again, or the template needs chaining: the host has only
			   the template, and the reader takes one block */
			ccid_t1_withdraw(&s->t1);
			uccid_log(r, UCCID_LOG_WARNING, "slot %u: %s", s->index,
				  pin_sent ? "the card asked for the PIN block again; it is not resent"
					   : "the PIN APDU template is longer than the card's IFSC");
			return pin_sent ? -EPROTO : -ENOTSUP;
		}
		rc = send_secure(r, s, p, blk, ans, sizeof(ans), &m);
		if (rc < 0 || CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED || m.dwLength == 2) {
			/* nothing reached the card: the sequence numbers stand */
			ccid_t1_withdraw(&s->t1);
			if (rc < 0)
				return rc;
			if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
				return failed(r, s, &m, rsp);
			memcpy(rsp, m.abData, 2);
			return 2;
		}
		/* the reader's answer is the card's block answering the PIN's I-block */
		pin_sent = true;
		lost = 0;
		st = ccid_t1_feed(&s->t1, m.abData, m.dwLength);
	}
	rc = (int)uccid_t1_result(s, st, lost);
	return rc >= 0 && rc < 2 ? -EPROTO : rc;      /* a response APDU has SW1 SW2 at least */
}

ssize_t uccid_secure(struct uccid_reader *r, unsigned slot, uint8_t op, const uint8_t *pin, size_t len, uint8_t *rsp,
		     size_t cap)
{
	struct ccid_diag diag = { 0 };
	struct ccid_pin p;
	struct uslot *s;
	struct ucard card;
	ssize_t rc;

	if (!r || slot >= r->nslots || !pin || !rsp || cap < 2 || len > STRUCT_MAX
	    || (op != CCID_PIN_OP_VERIFY && op != CCID_PIN_OP_MODIFY))
		return -EINVAL;
	if (!(r->desc.bPINSupport & (op == CCID_PIN_OP_VERIFY ? CCID_PIN_VERIFY : CCID_PIN_MODIFY)))
		return -ENOTSUP;
	rc = ccid_pin_decode(op, pin, len, &p, &diag);
	if (rc < 0) {
		/* the offset as a reader would give it: in the Secure message */
		uccid_log(r, UCCID_LOG_WARNING, "PIN %s structure refused: message byte %zu: expected %s",
			  op == CCID_PIN_OP_VERIFY ? "verification" : "modification", diag.offset, diag.expected);
		return -EINVAL;
	}
	s = &r->slots[slot];
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	if ((rc = uccid_card_usable(r, s, "PIN entry", &card)) < 0) {
		;
	} else if ((rc = key_release(r, &p)) < 0 || (rc = spr532_append(r, s, &p)) < 0) {
		;
	} else if (r->level == CCID_LEVEL_TPDU && card.protocol == CCID_PROTOCOL_T1) {
		rc = secure_t1(r, s, &p, rsp, cap);
	} else {
		rc = secure_apdu(r, s, &p, rsp, cap);
	}
	uccid_slot_leave(r, s);
	return rc;
}

int uccid_pin_properties(const struct uccid_reader *r, struct uccid_pin_properties *ret)
{
	if (!r || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->bPINSupport = r->desc.bPINSupport;
	ret->wLcdLayout = r->desc.wLcdLayout;
	ret->bEntryValidationCondition = r->desc.bPINSupport ? r->pin_validation : 0;
	ret->bMinPINSize = r->pin_min;
	ret->bMaxPINSize = r->pin_max;
	return 0;
}
