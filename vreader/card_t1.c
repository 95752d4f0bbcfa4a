/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card's side of the T=1 block protocol (ISO 7816-3 §11):
 * receiving the host's I-block chain, chaining the response within IFSD,
 * S(IFS), S(RESYNCH), S(ABORT), asking for time with S(WTX), and the error
 * recovery rules as the card applies them (§11.6.3).  One block in, one
 * block out: the card never sends on its own, so every call does a bounded
 * amount of work.  Blocks are encoded and decoded with the codec of
 * ccid/t1.h; the behaviour is documented in card.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/timing.h"
#include "vreader/card.h"

void vcard_t1_reset(struct vcard *card)
{
	card->t1 = (struct vcard_t1){ .state = VCARD_T1_IDLE, .ifsd = CCID_T1_IFS_DEFAULT };
}

uint8_t vcard_ifsd(const struct vcard *card)
{
	return card ? card->t1.ifsd : CCID_T1_IFS_DEFAULT;
}

/* Encode a block as the card's last block (kept for retransmission) and hand it out. */
static int emit(struct vcard *card, uint8_t pcb, const uint8_t *inf, size_t inf_len, uint8_t *out,
		size_t cap)
{
	struct vcard_t1 *t1 = &card->t1;
	int n;

	n = ccid_t1_block_encode(0x00, pcb, inf, inf_len, card->cfg.edc, t1->last, sizeof(t1->last));
	if (n < 0)
		return n;
	t1->last_len = (size_t)n;
	if (cap < (size_t)n)
		return -ENOBUFS;
	memcpy(out, t1->last, (size_t)n);
	return n;
}

static int resend_last(struct vcard *card, uint8_t *out, size_t cap)
{
	struct vcard_t1 *t1 = &card->t1;

	if (cap < t1->last_len)
		return -ENOBUFS;
	memcpy(out, t1->last, t1->last_len);
	return (int)t1->last_len;
}

static int send_r(struct vcard *card, enum ccid_t1_r_error err, uint8_t *out, size_t cap)
{
	uint8_t pcb = (uint8_t)(CCID_T1_PCB_R | (card->t1.nr ? CCID_T1_PCB_R_NR : 0) | err);

	return emit(card, pcb, NULL, 0, out, cap);
}

static int send_s(struct vcard *card, enum ccid_t1_s_type type, bool response, const uint8_t *val,
		  uint8_t *out, size_t cap)
{
	uint8_t pcb = (uint8_t)(CCID_T1_PCB_S | (response ? CCID_T1_PCB_S_RESPONSE : 0) | type);

	return emit(card, pcb, val, val ? 1 : 0, out, cap);
}

/*
 * An invalid or unexpected block (rule 7.1: R-block with the error, N(R) =
 * the N(S) expected).  While our S(WTX request) is unanswered we repeat it
 * instead (rule 7.3).
 */
static int invalid(struct vcard *card, enum ccid_t1_r_error err, uint8_t *out, size_t cap)
{
	if (card->t1.state == VCARD_T1_WTX)
		return resend_last(card, out, cap);
	return send_r(card, err, out, cap);
}

/*
 * Send the response I-block starting at rsp_off: a new block takes the next
 * N(S); a retransmission keeps it, cut to IFSD should the host have lowered
 * it meanwhile.  Chaining (§11.6.2): M = 1 on all blocks but the last.
 */
static int send_i(struct vcard *card, bool again, uint8_t *out, size_t cap)
{
	struct vcard_t1 *t1 = &card->t1;
	size_t left = t1->rsp_len - t1->rsp_off;
	bool more;

	if (!again) {
		t1->chunk = left < t1->ifsd ? left : t1->ifsd;
		t1->last_ns = t1->ns;
		t1->ns ^= 1;
	} else if (t1->chunk > t1->ifsd) {
		t1->chunk = t1->ifsd;
	}
	more = t1->chunk < left;
	t1->state = more ? VCARD_T1_SENDING : VCARD_T1_IDLE;
	return emit(card,
		    (uint8_t)(CCID_T1_PCB_I | (t1->last_ns ? CCID_T1_PCB_I_NS : 0) |
			      (more ? CCID_T1_PCB_I_MORE : 0)),
		    card->rsp + t1->rsp_off, t1->chunk, out, cap);
}

static uint64_t bwt_us(const struct vcard *card)
{
	return ccid_bwt_us(card->cfg.bwi, ccid_fi(card->fidi >> 4), ccid_di(card->fidi & 0x0F),
			   card->cfg.clock_khz);
}

/*
 * Ask for the next chunk of work time: at most 255 x BWT, with m x BWT >=
 * the chunk (§11.4.3 S(WTX)).  Chunks are whole milliseconds so that the
 * delay reported with the following block stays within m x BWT.
 */
static int send_wtx(struct vcard *card, uint8_t *out, size_t cap)
{
	struct vcard_t1 *t1 = &card->t1;
	uint64_t bwt = bwt_us(card);
	uint64_t cap_ms = bwt * 255 / 1000;
	uint64_t m;

	if (cap_ms == 0)
		cap_ms = 1;
	t1->chunk_ms = t1->work_left_ms < cap_ms ? t1->work_left_ms : (uint32_t)cap_ms;
	t1->work_left_ms -= t1->chunk_ms;
	m = ((uint64_t)t1->chunk_ms * 1000 + bwt - 1) / bwt;
	if (m < 1)
		m = 1;
	if (m > 255)
		m = 255;
	t1->wtx_m = (uint8_t)m;
	t1->state = VCARD_T1_WTX;
	return send_s(card, CCID_T1_S_WTX, false, &t1->wtx_m, out, cap);
}

/* The host's chain is complete: run the APDU and start answering. */
static int execute(struct vcard *card, uint8_t *out, size_t cap, uint32_t *delay_ms)
{
	struct vcard_t1 *t1 = &card->t1;
	struct vcard_cmd c;
	uint32_t work = 0;
	size_t n;

	if (t1->cmd_len > sizeof(card->cmd) || vcard_cmd_parse(card->cmd, t1->cmd_len, &c) < 0) {
		card->rsp[0] = 0x67;
		card->rsp[1] = 0x00;
		n = 2;
	} else {
		n = vcard_app_exec(card, &c, &work);
	}
	t1->cmd_len = 0;
	t1->rsp_len = n;
	t1->rsp_off = 0;
	if ((uint64_t)work * 1000 > bwt_us(card)) {
		t1->work_left_ms = work;
		return send_wtx(card, out, cap);
	}
	*delay_ms = work;
	return send_i(card, false, out, cap);
}

static int on_i_block(struct vcard *card, const struct ccid_t1_block *b, uint8_t *out, size_t cap,
		      uint32_t *delay_ms)
{
	struct vcard_t1 *t1 = &card->t1;

	if (t1->state == VCARD_T1_WTX)
		return resend_last(card, out, cap);
	/* The host may not send while our chain runs; wrong N(S) or > IFSC: rule 7.1. */
	if (t1->state != VCARD_T1_IDLE || b->ns != t1->nr || b->len > card->cfg.ifsc)
		return send_r(card, CCID_T1_R_OTHER_ERROR, out, cap);
	t1->nr ^= 1;
	/* Count past the buffer so that an overlong chain is answered 6700 at its end. */
	if (t1->cmd_len + b->len <= sizeof(card->cmd) && b->len)
		memcpy(card->cmd + t1->cmd_len, b->inf, b->len);
	t1->cmd_len += b->len;
	if (t1->cmd_len > sizeof(card->cmd))
		t1->cmd_len = sizeof(card->cmd) + 1;
	if (b->more)
		return send_r(card, CCID_T1_R_OK, out, cap);
	return execute(card, out, cap, delay_ms);
}

static int on_r_block(struct vcard *card, const struct ccid_t1_block *b, uint8_t *out, size_t cap)
{
	struct vcard_t1 *t1 = &card->t1;

	switch (t1->state) {
	case VCARD_T1_SENDING:
		/* N(R) = the next N(S) acknowledges our chained block; our own N(S) asks again. */
		if (b->nr != t1->last_ns) {
			t1->rsp_off += t1->chunk;
			return send_i(card, false, out, cap);
		}
		return send_i(card, true, out, cap);
	case VCARD_T1_WTX:
		return resend_last(card, out, cap);
	case VCARD_T1_IDLE:
		break;
	}
	/* The host did not get our last block (rules 7.1, 7.2): send it again. */
	if (!t1->last_len)
		return send_r(card, CCID_T1_R_OTHER_ERROR, out, cap);
	return resend_last(card, out, cap);
}

static int on_s_block(struct vcard *card, const struct ccid_t1_block *b, uint8_t *out, size_t cap,
		      uint32_t *delay_ms)
{
	struct vcard_t1 *t1 = &card->t1;
	uint8_t v;

	if (b->s_response) {
		if (t1->state != VCARD_T1_WTX || b->s_type != CCID_T1_S_WTX || b->inf[0] != t1->wtx_m)
			return invalid(card, CCID_T1_R_OTHER_ERROR, out, cap);
		*delay_ms = t1->chunk_ms;
		if (t1->work_left_ms)
			return send_wtx(card, out, cap);
		return send_i(card, false, out, cap);
	}
	switch (b->s_type) {
	case CCID_T1_S_RESYNCH:
		/* §11.6.3.3: N(S) = N(R) = 0 on both sides; we also go back to IFSD 32. */
		vcard_t1_reset(card);
		return send_s(card, CCID_T1_S_RESYNCH, true, NULL, out, cap);
	case CCID_T1_S_ABORT:
		t1->state = VCARD_T1_IDLE;
		t1->cmd_len = 0;
		return send_s(card, CCID_T1_S_ABORT, true, NULL, out, cap);
	case CCID_T1_S_IFS:
		v = b->inf[0];
		if (t1->state == VCARD_T1_WTX || v < 1 || v > CCID_T1_INF_MAX)
			return invalid(card, CCID_T1_R_OTHER_ERROR, out, cap);
		t1->ifsd = v;
		return send_s(card, CCID_T1_S_IFS, true, &v, out, cap);
	case CCID_T1_S_WTX:
		break;
	}
	/* Only the card requests WTX. */
	return invalid(card, CCID_T1_R_OTHER_ERROR, out, cap);
}

int vcard_t1_block(struct vcard *card, const uint8_t *blk, size_t len, uint8_t *out, size_t cap,
		   uint32_t *delay_ms)
{
	struct ccid_t1_block b;
	uint32_t delay = 0;
	int rc;

	if (!card || !out || (!blk && len))
		return -EINVAL;
	if (!card->powered)
		return -ENODEV;
	if (card->protocol != 1)
		return -EPROTO;
	card->pps_allowed = false;

	if (!len) {
		rc = invalid(card, CCID_T1_R_OTHER_ERROR, out, cap);
		goto out;
	}
	rc = ccid_t1_block_decode(blk, len, card->cfg.edc, &b, NULL);
	if (rc < 0) {
		rc = invalid(card, ccid_t1_decode_error_code(rc), out, cap);
		goto out;
	}
	if (b.nad != 0x00) {
		rc = invalid(card, CCID_T1_R_OTHER_ERROR, out, cap);
		goto out;
	}
	switch (b.type) {
	case CCID_T1_BLOCK_I:
		rc = on_i_block(card, &b, out, cap, &delay);
		break;
	case CCID_T1_BLOCK_R:
		rc = on_r_block(card, &b, out, cap);
		break;
	case CCID_T1_BLOCK_S:
	default:
		rc = on_s_block(card, &b, out, cap, &delay);
		break;
	}
out:
	if (rc >= 0 && delay_ms)
		*delay_ms = delay;
	return rc;
}
