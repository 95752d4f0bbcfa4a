/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * T=1 host engine (ISO 7816-3 §11.6): one APDU exchange, or one S(IFS)
 * transaction, as a state machine driven by the caller.  Each feed decides
 * the single block to send next from what the card sent, what we sent last
 * and what we expected; it never loops and never reads outside the fed
 * block.  Rule numbers in comments (6.x, 7.x, 9) are those the libccid /
 * OpenCT T=1 code quotes from ISO 7816-3 §11.6, as listed in our reference
 * doc; the ISO text itself was not at hand.
 */
#include "config.h"

#include <errno.h>

#include "ccid/t1.h"

enum t1_state {
	T1_IDLE = 0,    /* no exchange; begin*() allowed */
	T1_MUST_SEND,   /* a block is due: next_block() */
	T1_WAITING,     /* the block went out: feed() */
	T1_DEAD,        /* RESYNCH failed; only init() helps */
};

enum t1_mode {
	T1_MODE_APDU = 0,
	T1_MODE_IFSD,
};

/* What the card should send next. */
enum t1_expect {
	T1_EXPECT_ACK = 0,  /* R(N(R) = our N(S) + 1) for our chained I-block */
	T1_EXPECT_I,        /* the card's I-block with N(S) = nr */
	T1_EXPECT_S_RESP,   /* S(s_req response) */
	T1_EXPECT_ANY,      /* after our S(ABORT response): whatever, then -ECONNABORTED */
};

static uint8_t swap_nibbles(uint8_t v)
{
	return (uint8_t)((v << 4) | (v >> 4));
}

static bool ifs_valid(unsigned v)
{
	return v >= 1 && v <= CCID_T1_INF_MAX;
}

static int due(struct ccid_t1 *t1, uint8_t pcb, uint8_t val)
{
	t1->tx_pcb = pcb;
	t1->tx_val = val;
	t1->state = T1_MUST_SEND;
	return CCID_T1_SEND;
}

static int send_r(struct ccid_t1 *t1, enum ccid_t1_r_error err)
{
	return due(t1, (uint8_t)(CCID_T1_PCB_R | (t1->nr ? CCID_T1_PCB_R_NR : 0) | err), 0);
}

static int send_s_request(struct ccid_t1 *t1, enum ccid_t1_s_type type, uint8_t val)
{
	t1->s_req = (uint8_t)type;
	t1->expect = T1_EXPECT_S_RESP;
	return due(t1, (uint8_t)(CCID_T1_PCB_S | type), val);
}

static int send_s_response(struct ccid_t1 *t1, enum ccid_t1_s_type type, uint8_t val)
{
	return due(t1, (uint8_t)(CCID_T1_PCB_S | CCID_T1_PCB_S_RESPONSE | type), val);
}

/* Send (or resend) the I-block starting at apdu_off; chunk is fixed at its first sending. */
static int send_i(struct ccid_t1 *t1)
{
	bool more = t1->apdu_off + t1->chunk < t1->apdu_len;

	t1->expect = more ? T1_EXPECT_ACK : T1_EXPECT_I;
	return due(t1, (uint8_t)(CCID_T1_PCB_I | (t1->ns ? CCID_T1_PCB_I_NS : 0) |
				 (more ? CCID_T1_PCB_I_MORE : 0)), 0);
}

/* Chaining (§11.6): each I-block carries at most IFSC bytes, IFSC as it is now. */
static int send_next_chunk(struct ccid_t1 *t1)
{
	size_t left = t1->apdu_len - t1->apdu_off;

	t1->chunk = left < t1->ifsc ? left : t1->ifsc;
	return send_i(t1);
}

static int finish(struct ccid_t1 *t1, int rc)
{
	t1->state = T1_IDLE;
	t1->apdu = NULL;
	return rc;
}

static int die(struct ccid_t1 *t1)
{
	t1->state = T1_DEAD;
	t1->apdu = NULL;
	t1->rsp = NULL;
	return -EPROTO;
}

/* Open (or reopen, after RESYNCH) the exchange with its first block. */
static int start(struct ccid_t1 *t1)
{
	t1->retries = 0;
	if (t1->mode == T1_MODE_IFSD)
		return send_s_request(t1, CCID_T1_S_IFS, t1->ifsd_req);
	t1->apdu_off = 0;
	t1->rsp_len = 0;
	t1->rsp_blocks = 0;
	t1->overflow = false;
	return send_next_chunk(t1);
}

/*
 * Rule 6 / 7.4: at most max_resynch S(RESYNCH request) per exchange, counted
 * across successful ones too, so a card that answers RESYNCH but nothing else
 * cannot keep the exchange going forever.
 */
static int resynch(struct ccid_t1 *t1)
{
	if (t1->resynchs >= t1->max_resynch)
		return die(t1);
	t1->resynchs++;
	t1->retries = 0;
	return send_s_request(t1, CCID_T1_S_RESYNCH, 0);
}

/*
 * Recovery from an invalid block or a missing one (rule 7): count it against
 * the block, then resend our S request (7.3), resend our R-block (7.2), or
 * ask the card to repeat with an R-block carrying the error (7.1).
 */
static int recover(struct ccid_t1 *t1, enum ccid_t1_r_error err)
{
	if (t1->expect == T1_EXPECT_S_RESP && t1->s_req == CCID_T1_S_RESYNCH)
		return resynch(t1);
	if (++t1->retries > t1->max_retries)
		return resynch(t1);
	if (t1->expect == T1_EXPECT_S_RESP || (t1->tx_pcb & 0xC0) == CCID_T1_PCB_R) {
		t1->state = T1_MUST_SEND;
		return CCID_T1_SEND;
	}
	return send_r(t1, err);
}

/*
 * The card asks again for the I-block we sent last (R-block with N(R) = our
 * N(S)).  It was not received, so if the card lowered IFSC meanwhile the
 * block is cut to the new size rather than resent beyond it.
 */
static int retransmit_i(struct ccid_t1 *t1)
{
	if (++t1->retries > t1->max_retries)
		return resynch(t1);
	if (t1->chunk > t1->ifsc)
		t1->chunk = t1->ifsc;
	return send_i(t1);
}

static int on_s_response(struct ccid_t1 *t1, const struct ccid_t1_block *b)
{
	if (t1->expect != T1_EXPECT_S_RESP || b->s_type != t1->s_req)
		return recover(t1, CCID_T1_R_OTHER_ERROR);
	switch (b->s_type) {
	case CCID_T1_S_RESYNCH:
		/*
		 * Rule 6.3: both sides restart at N(S) = 0 and the exchange starts
		 * over.  Whether the card also returns to its initial IFSC/IFSD is
		 * not settled; min(current, ATR) IFSC is right either way.
		 */
		t1->ns = 0;
		t1->nr = 0;
		if (t1->ifsc > t1->ifsc_atr)
			t1->ifsc = t1->ifsc_atr;
		return start(t1);
	case CCID_T1_S_IFS:
		/* The response must echo the value announced (§11.4.2). */
		if (b->inf[0] != t1->ifsd_req)
			return recover(t1, CCID_T1_R_OTHER_ERROR);
		t1->ifsd = t1->ifsd_req;
		return finish(t1, CCID_T1_DONE);
	case CCID_T1_S_ABORT:
	case CCID_T1_S_WTX:
		break;
	}
	/* We never request ABORT or WTX. */
	return recover(t1, CCID_T1_R_OTHER_ERROR);
}

static int on_s_request(struct ccid_t1 *t1, const struct ccid_t1_block *b)
{
	/* While our own S request is outstanding only its response is valid (rule 7.3). */
	if (t1->expect == T1_EXPECT_S_RESP)
		return recover(t1, CCID_T1_R_OTHER_ERROR);
	switch (b->s_type) {
	case CCID_T1_S_IFS:
		/* The card announces a new IFSC (§11.4.2); 0 and 255 are not sizes. */
		if (!ifs_valid(b->inf[0]))
			return recover(t1, CCID_T1_R_OTHER_ERROR);
		t1->ifsc = b->inf[0];
		return send_s_response(t1, CCID_T1_S_IFS, b->inf[0]);
	case CCID_T1_S_WTX:
		/* The multiplier is echoed and stretches the next wait only. */
		if (b->inf[0] == 0)
			return recover(t1, CCID_T1_R_OTHER_ERROR);
		t1->wtx = b->inf[0];
		return send_s_response(t1, CCID_T1_S_WTX, b->inf[0]);
	case CCID_T1_S_ABORT:
		/* Rule 9: confirm; the card then hands back the right to send. */
		t1->expect = T1_EXPECT_ANY;
		return send_s_response(t1, CCID_T1_S_ABORT, 0);
	case CCID_T1_S_RESYNCH:
		break;
	}
	/* Only the interface device may request RESYNCH (rule 6). */
	return recover(t1, CCID_T1_R_OTHER_ERROR);
}

static int on_r_block(struct ccid_t1 *t1, const struct ccid_t1_block *b)
{
	switch (t1->expect) {
	case T1_EXPECT_ACK:
		/* Chaining: N(R) != our N(S) acknowledges the chained block. */
		if (b->nr != t1->ns) {
			t1->ns ^= 1;
			t1->retries = 0;
			t1->apdu_off += t1->chunk;
			return send_next_chunk(t1);
		}
		return retransmit_i(t1);
	case T1_EXPECT_I:
		/*
		 * Our last I-block is unacknowledged: N(R) = its N(S) asks for it
		 * again (rule 7.1 seen from the card).  Once the card's chain has
		 * started it was acknowledged, and any R-block means our R went
		 * wrong: recover() resends it (rule 7.2).
		 */
		if (t1->rsp_blocks == 0 && b->nr == t1->ns)
			return retransmit_i(t1);
		return recover(t1, CCID_T1_R_OTHER_ERROR);
	case T1_EXPECT_S_RESP:
	case T1_EXPECT_ANY:
		break;
	}
	return recover(t1, CCID_T1_R_OTHER_ERROR);
}

/* Store what fits, count everything: the caller learns the size it needed. */
static void append(struct ccid_t1 *t1, const struct ccid_t1_block *b)
{
	for (size_t i = 0; i < b->len; i++) {
		size_t at = t1->rsp_len + i;

		if (at < t1->rsp_cap)
			t1->rsp[at] = b->inf[i];
	}
	t1->rsp_len += b->len;
	t1->rsp_blocks++;
	if (t1->rsp_len > t1->rsp_cap)
		t1->overflow = true;
}

static int on_i_block(struct ccid_t1 *t1, const struct ccid_t1_block *b)
{
	size_t limit;

	/* Rule 7.1: wrong N(S), or more than IFSD, is an "other error". */
	if (t1->expect != T1_EXPECT_I || b->ns != t1->nr || b->len > t1->ifsd)
		return recover(t1, CCID_T1_R_OTHER_ERROR);
	/* The card's first I-block acknowledges our last one. */
	if (t1->rsp_blocks == 0)
		t1->ns ^= 1;
	t1->nr ^= 1;
	t1->retries = 0;
	append(t1, b);
	if (!b->more)
		return finish(t1, t1->overflow ? -EMSGSIZE : CCID_T1_DONE);
	limit = t1->rsp_cap > CCID_T1_RESPONSE_LIMIT ? t1->rsp_cap : CCID_T1_RESPONSE_LIMIT;
	if (t1->rsp_len > limit || t1->rsp_blocks >= CCID_T1_CHAIN_LIMIT) {
		/* Stop draining an endless chain; the card is mid-chain, so resynchronise first. */
		t1->resynch_first = true;
		t1->overflow = true;
		return finish(t1, -EMSGSIZE);
	}
	/* Chaining: acknowledge with R(N(R) = next expected N(S)). */
	return send_r(t1, CCID_T1_R_OK);
}

void ccid_t1_init(struct ccid_t1 *t1, const struct ccid_t1_config *cfg)
{
	struct ccid_t1_config c = { 0 };

	if (!t1)
		return;
	if (cfg)
		c = *cfg;
	*t1 = (struct ccid_t1){ 0 };
	t1->edc = c.edc == CCID_EDC_CRC ? CCID_EDC_CRC : CCID_EDC_LRC;
	t1->nad = c.nad;
	t1->ifsc = ifs_valid(c.ifsc) ? c.ifsc : CCID_T1_IFS_DEFAULT;
	t1->ifsc_atr = t1->ifsc;
	t1->ifsd = ifs_valid(c.ifsd) ? c.ifsd : CCID_T1_IFS_DEFAULT;
	t1->max_retries = c.max_retries ? c.max_retries : CCID_T1_RETRIES_DEFAULT;
	t1->max_resynch = c.max_resynch ? c.max_resynch : CCID_T1_RESYNCH_DEFAULT;
	t1->wtx = 1;
	t1->resynch_first = c.resume;
	t1->state = T1_IDLE;
}

static int begin_common(struct ccid_t1 *t1)
{
	t1->resynchs = 0;
	t1->retries = 0;
	t1->wtx = 1;
	t1->rsp_len = 0;
	t1->rsp_blocks = 0;
	t1->overflow = false;
	if (t1->resynch_first) {
		t1->resynch_first = false;
		return resynch(t1);
	}
	return start(t1);
}

int ccid_t1_begin_ifsd(struct ccid_t1 *t1, uint8_t ifsd)
{
	if (!t1 || !ifs_valid(ifsd))
		return -EINVAL;
	if (t1->state == T1_DEAD)
		return -EPROTO;
	if (t1->state != T1_IDLE)
		return -EBUSY;
	t1->mode = T1_MODE_IFSD;
	t1->ifsd_req = ifsd;
	t1->apdu = NULL;
	t1->apdu_len = 0;
	t1->rsp = NULL;
	t1->rsp_cap = 0;
	return begin_common(t1);
}

int ccid_t1_begin(struct ccid_t1 *t1, const uint8_t *apdu, size_t apdu_len, uint8_t *rsp,
		  size_t rsp_cap)
{
	if (!t1 || !apdu || !apdu_len || (!rsp && rsp_cap))
		return -EINVAL;
	if (t1->state == T1_DEAD)
		return -EPROTO;
	if (t1->state != T1_IDLE)
		return -EBUSY;
	t1->mode = T1_MODE_APDU;
	t1->apdu = apdu;
	t1->apdu_len = apdu_len;
	t1->rsp = rsp;
	t1->rsp_cap = rsp_cap;
	return begin_common(t1);
}

int ccid_t1_next_block(struct ccid_t1 *t1, uint8_t *blk, size_t cap)
{
	const uint8_t *inf = NULL;
	size_t inf_len = 0;
	int n;

	if (!t1 || !blk)
		return -EINVAL;
	if (t1->state == T1_DEAD)
		return -EPROTO;
	if (t1->state != T1_MUST_SEND)
		return -EINVAL;
	if (!(t1->tx_pcb & 0x80)) {
		inf = t1->apdu + t1->apdu_off;
		inf_len = t1->chunk;
	} else if ((t1->tx_pcb & 0xC0) == CCID_T1_PCB_S &&
		   ((t1->tx_pcb & CCID_T1_PCB_S_TYPE) == CCID_T1_S_IFS ||
		    (t1->tx_pcb & CCID_T1_PCB_S_TYPE) == CCID_T1_S_WTX)) {
		inf = &t1->tx_val;
		inf_len = 1;
	}
	n = ccid_t1_block_encode(t1->nad, t1->tx_pcb, inf, inf_len, t1->edc, blk, cap);
	if (n < 0)
		return n;
	t1->state = T1_WAITING;
	return n;
}

int ccid_t1_feed(struct ccid_t1 *t1, const uint8_t *blk, size_t len)
{
	struct ccid_t1_block b;
	int rc;

	if (!t1 || (!blk && len))
		return -EINVAL;
	if (t1->state == T1_DEAD)
		return -EPROTO;
	if (t1->state != T1_WAITING)
		return -EINVAL;
	/* The wait this answer ended was the one WTX applied to. */
	t1->wtx = 1;

	if (t1->expect == T1_EXPECT_ANY) {
		t1->resynch_first = true;
		return finish(t1, -ECONNABORTED);
	}
	if (!len)
		return recover(t1, CCID_T1_R_OTHER_ERROR);

	rc = ccid_t1_block_decode(blk, len, t1->edc, &b, NULL);
	if (rc < 0)
		return recover(t1, ccid_t1_decode_error_code(rc));
	if (b.nad != swap_nibbles(t1->nad))
		return recover(t1, CCID_T1_R_OTHER_ERROR);

	switch (b.type) {
	case CCID_T1_BLOCK_I:
		return on_i_block(t1, &b);
	case CCID_T1_BLOCK_R:
		return on_r_block(t1, &b);
	case CCID_T1_BLOCK_S:
		return b.s_response ? on_s_response(t1, &b) : on_s_request(t1, &b);
	}
	return recover(t1, CCID_T1_R_OTHER_ERROR);
}

size_t ccid_t1_response_len(const struct ccid_t1 *t1)
{
	return t1 ? t1->rsp_len : 0;
}

unsigned ccid_t1_wtx(const struct ccid_t1 *t1)
{
	return t1 ? t1->wtx : 1;
}

uint8_t ccid_t1_ifsc(const struct ccid_t1 *t1)
{
	return t1 ? t1->ifsc : CCID_T1_IFS_DEFAULT;
}

int ccid_t1_due_type(const struct ccid_t1 *t1)
{
	if (!t1 || (t1->state != T1_MUST_SEND && t1->state != T1_WAITING))
		return -EINVAL;
	if (!(t1->tx_pcb & 0x80))
		return CCID_T1_BLOCK_I;
	return (t1->tx_pcb & 0xC0) == CCID_T1_PCB_S ? CCID_T1_BLOCK_S : CCID_T1_BLOCK_R;
}

int ccid_t1_withdraw(struct ccid_t1 *t1)
{
	if (!t1 || t1->state != T1_WAITING)
		return -EINVAL;
	/* N(S) moves only when the card acknowledges; an unsent first I-block leaves both numbers */
	if ((t1->tx_pcb & 0x80) || t1->mode != T1_MODE_APDU || t1->apdu_off || t1->rsp_blocks)
		t1->resynch_first = true;
	finish(t1, 0);
	t1->rsp = NULL;
	return 0;
}
