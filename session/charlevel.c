/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exchanges with a character-level reader (CCID 1.1 §6.1.4: the reader only
 * moves bytes; PC_to_RDR_XfrBlock's abData goes to the card as it is and
 * wLevelParameter says how many bytes to read back).  The host does what a
 * TPDU-level reader would: T=0 procedure bytes through the codec's engine
 * (ccid/t0.h, ISO 7816-3 §10.3), a T=1 block read as its prologue and then
 * LEN + EDC bytes (§11.3), and a PPS answer read as PPSS PPS0 and then the
 * bytes PPS0 announces (§9.2).  Each XfrBlock waits the card's work waiting
 * time per byte asked for (ISO 7816-3 §10.2: WT bounds the delay between two
 * characters) plus a second for the reader; a TPDU, however many NULL bytes
 * the card sends, ends within the session's exchange deadline.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_priv.h"

#define READER_MARGIN_MS 1000        /* USB and the reader's own work, on top of the card's time */
#define CHAR_MAX_MS 60000            /* one XfrBlock; the exchange deadline bounds the sum */

/* n bytes asked for, each within per_byte_ms, after sent bytes (2 ms each: 12 etu at 9600 bps and up) */
static unsigned wait_ms(unsigned per_byte_ms, size_t n, size_t sent)
{
	uint64_t ms = (uint64_t)per_byte_ms * (n ? n : 1) + 2 * (uint64_t)sent + READER_MARGIN_MS;

	return ms > CHAR_MAX_MS ? CHAR_MAX_MS : (unsigned)ms;
}

/* One XfrBlock: len bytes to the card (at most one message), then level bytes back. */
static int xfr_once(struct uccid_reader *r, struct uslot *s, const uint8_t *out, size_t len, uint16_t level,
		    uint8_t *ans, size_t cap, unsigned per_byte_ms, struct ccid_msg *m)
{
	uint8_t *msg = malloc(CCID_HEADER_SIZE + len);
	int rc;

	if (!msg)
		return -ENOMEM;
	rc = uccid_xchg(r, s, msg,
			uccid_build(msg, CCID_HEADER_SIZE + len, CCID_PC_TO_RDR_XFR_BLOCK, 0, (uint8_t)level,
				    (uint8_t)(level >> 8), out, len),
			ans, cap, wait_ms(per_byte_ms, level, len), m);
	free(msg);
	if (rc < 0 || CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		return rc;
	/* a reader hands back what was asked for, never more (CCID §6.1.4) */
	if (m->dwLength > level) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: asked for %u bytes, the reader returned %u", s->index,
			  (unsigned)level, (unsigned)m->dwLength);
		return -EPROTO;
	}
	return 0;
}

int uccid_char_xfr(struct uccid_reader *r, struct uslot *s, const uint8_t *out, size_t len, size_t expect,
		   uint8_t *in, size_t cap, unsigned per_byte_ms, struct ccid_msg *m)
{
	size_t part = r->max_msg - CCID_HEADER_SIZE, got = 0;
	uint8_t *ans;
	int rc = 0;

	if ((!out && len) || expect > cap || expect > 65535)
		return -EINVAL;
	ans = malloc(CCID_HEADER_SIZE + part + 16);
	if (!ans)
		return -ENOMEM;
	/* what does not fit one message goes first, asking for nothing back */
	while (len > part) {
		rc = xfr_once(r, s, out, part, 0, ans, CCID_HEADER_SIZE + part + 16, per_byte_ms, m);
		if (rc < 0 || CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
			goto out;
		out += part;
		len -= part;
	}
	/* the rest with the first part of the answer; more parts while the reader keeps up */
	do {
		size_t want = expect - got < part ? expect - got : part;

		rc = xfr_once(r, s, out, len, (uint16_t)want, ans, CCID_HEADER_SIZE + part + 16, per_byte_ms, m);
		if (rc < 0 || CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
			goto out;
		memcpy(in + got, m->abData, m->dwLength);
		got += m->dwLength;
		len = 0;
		if (m->dwLength < want)
			break;          /* fewer than asked: the caller decides what to ask next */
	} while (got < expect);
	m->abData = in;
	m->dwLength = (uint32_t)got;
out:
	free(ans);
	return rc;
}

ssize_t uccid_char_t0(struct uccid_reader *r, struct uslot *s, const uint8_t *tpdu, size_t len, uint8_t *rsp,
		      size_t cap)
{
	int64_t deadline = uccid_mono_us() + (int64_t)r->opt.exchange_deadline_ms * 1000;
	uint8_t in[256 + 2];
	struct ccid_t0 t;
	struct ccid_msg m;
	int st = ccid_t0_begin(&t, tpdu, len, rsp, cap);

	if (st < 0)
		return st;
	for (;;) {
		const uint8_t *out;
		size_t olen, expect;

		st = ccid_t0_next(&t, &out, &olen, &expect);
		if (st != CCID_T0_MORE)
			break;
		/* a card may send NULL bytes while it works, but not for ever */
		if (uccid_mono_us() > deadline) {
			uccid_log(r, UCCID_LOG_WARNING, "slot %u: T=0: no status after %lu NULL bytes and %u ms",
				  s->index, ccid_t0_nulls(&t), (unsigned)r->opt.exchange_deadline_ms);
			return -ETIMEDOUT;
		}
		st = uccid_char_xfr(r, s, out, olen, expect, in, sizeof(in), s->wwt_ms, &m);
		if (st < 0)
			return st;
		if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
			return uccid_answer_error(r, s, &m);
		st = ccid_t0_feed(&t, m.abData, m.dwLength);
		if (st < 0)
			break;
	}
	if (st == -EPROTO)
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: T=0: the card broke the procedure-byte rules (ISO 7816-3 10.3.3)",
			  s->index);
	return st < 0 ? st : (ssize_t)ccid_t0_response_len(&t);
}

int uccid_char_t1(struct uccid_reader *r, struct uslot *s, const uint8_t *blk, size_t len, uint8_t *in, size_t cap,
		  unsigned wait, struct ccid_msg *m)
{
	size_t edc = s->t1.edc == CCID_EDC_CRC ? 2 : 1;
	uint16_t F = ccid_fi(s->fidi >> 4);
	uint8_t D = ccid_di(s->fidi & 0x0F);
	/* the rest of the block comes at the character waiting time (§11.4.3) */
	unsigned cwt = (unsigned)(ccid_cwt_us(s->atrp.CWI, F ? F : CCID_FD, D ? D : CCID_DD, r->clock_khz) / 1000) + 1;
	struct ccid_msg m2;
	int rc;

	if (cap < CCID_T1_BLOCK_MAX)
		return -EINVAL;
	/* §11.3: the prologue tells how much follows */
	rc = uccid_char_xfr(r, s, blk, len, CCID_T1_PROLOGUE_SIZE, in, cap, wait, m);
	if (rc < 0 || CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		return rc;
	if (m->dwLength < CCID_T1_PROLOGUE_SIZE || in[2] > CCID_T1_INF_MAX)
		return 0;       /* a garbled block: the T=1 engine's error recovery deals with it */
	rc = uccid_char_xfr(r, s, NULL, 0, in[2] + edc, in + CCID_T1_PROLOGUE_SIZE, cap - CCID_T1_PROLOGUE_SIZE,
			    cwt, &m2);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m2.rsp.bStatus) == CCID_CMD_FAILED) {
		*m = m2;
		return 0;
	}
	m->abData = in;
	m->dwLength = (uint32_t)(CCID_T1_PROLOGUE_SIZE + m2.dwLength);
	return 0;
}

int uccid_char_pps(struct uccid_reader *r, struct uslot *s, const uint8_t *req, size_t len, uint8_t *in, size_t cap,
		   struct ccid_msg *m)
{
	unsigned per_byte = (unsigned)(ccid_wwt_us(s->atrp.WI, CCID_FD, r->clock_khz) / 1000) + 1;
	struct ccid_msg m2;
	size_t rest;
	int rc;

	if (cap < 6)
		return -EINVAL;
	/* §9.2: PPSS PPS0, then PPS1..PPS3 as PPS0's b5..b7 announce, then PCK */
	rc = uccid_char_xfr(r, s, req, len, 2, in, cap, per_byte, m);
	if (rc < 0 || CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED || m->dwLength < 2)
		return rc;
	rest = 1u + !!(in[1] & 0x10) + !!(in[1] & 0x20) + !!(in[1] & 0x40);
	rc = uccid_char_xfr(r, s, NULL, 0, rest, in + 2, cap - 2, per_byte, &m2);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m2.rsp.bStatus) == CCID_CMD_FAILED) {
		*m = m2;
		return 0;
	}
	m->abData = in;
	m->dwLength = (uint32_t)(2 + m2.dwLength);
	return 0;
}
