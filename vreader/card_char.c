/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card at the character level, as a character-level CCID
 * reader connects it: single bytes in, single bytes out.  The card's own
 * side of T=0 (ISO 7816-3 §10.3: the header, procedure bytes — NULL, ACK as
 * INS or INS ^ FF per byte — data, SW1 SW2), of the PPS exchange (§9.2) and
 * of T=1 block framing (§11.3); the commands themselves run through
 * vcard_t0_tpdu, vcard_pps and vcard_t1_block.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vreader/card.h"

static void put(struct vcard *card, uint8_t b)
{
	struct vcard_char *c = &card->chr;

	if (c->out_len < sizeof(c->out))
		c->out[c->out_len++] = b;
}

static void nulls(struct vcard *card)
{
	for (unsigned i = 0; i < card->cfg.t0_nulls; i++)
		put(card, 0x60);
}

/* The answer of a TPDU: response data (a case 2, ACKed as configured), then SW1 SW2 after the NULL bytes. */
static void answer(struct vcard *card, uint8_t ins, const uint8_t *rsp, size_t n)
{
	size_t data = n - 2;

	if (data && !card->cfg.t0_ack_each) {
		put(card, ins);
		for (size_t i = 0; i < data; i++)
			put(card, rsp[i]);
	}
	for (size_t i = 0; card->cfg.t0_ack_each && i < data; i++) {
		put(card, (uint8_t)(0xFFu - ins));
		put(card, rsp[i]);
	}
	nulls(card);
	put(card, rsp[n - 2]);
	put(card, rsp[n - 1]);
}

/* Run the TPDU collected in chr.in (header and data). */
static void run_tpdu(struct vcard *card, uint32_t *work)
{
	uint8_t rsp[256 + 2];
	uint32_t w = 0;
	int n = vcard_t0_tpdu(card, card->chr.in, card->chr.in_len, rsp, sizeof(rsp), &w);

	card->chr.mode = VCARD_CHAR_IDLE;
	if (n < 2)
		return;         /* the card stays mute */
	*work += w;
	answer(card, card->chr.in[1], rsp, (size_t)n);
}

/* A complete header (§10.3.2): ask for the data, or run the command. */
static void header(struct vcard *card, uint32_t *work)
{
	const uint8_t *h = card->chr.in;

	if ((h[1] & 0xF0) == 0x60 || (h[1] & 0xF0) == 0x90) {
		/* an INS the procedure bytes cannot acknowledge: instruction not supported */
		static const uint8_t sw[] = { 0x6D, 0x00 };

		card->chr.mode = VCARD_CHAR_IDLE;
		nulls(card);
		put(card, sw[0]);
		put(card, sw[1]);
		return;
	}
	nulls(card);
	if (h[4] && !vcard_t0_outgoing(h[0], h[1])) {
		card->chr.mode = VCARD_CHAR_DATA;
		card->chr.in_need = 5u + h[4];
		put(card, card->cfg.t0_ack_each ? (uint8_t)(0xFFu - h[1]) : h[1]);
		return;
	}
	/* the NULL bytes already went out; the answer's own come before SW1 */
	run_tpdu(card, work);
}

static void pps_done(struct vcard *card)
{
	uint8_t rsp[8];
	int n = vcard_pps(card, card->chr.in, card->chr.in_len, rsp, sizeof(rsp));

	card->chr.mode = VCARD_CHAR_IDLE;
	for (int i = 0; i < n; i++)
		put(card, rsp[i]);
}

static void block_done(struct vcard *card, uint32_t *work)
{
	uint8_t out[CCID_T1_BLOCK_MAX];
	uint32_t w = 0;
	int n = vcard_t1_block(card, card->chr.in, card->chr.in_len, out, sizeof(out), &w);

	card->chr.mode = VCARD_CHAR_IDLE;
	*work += w;
	for (int i = 0; i < n; i++)
		put(card, out[i]);
}

/* The first byte of something new: a PPS right after the ATR, else a header or block of the protocol in use. */
static void start(struct vcard *card, uint8_t b)
{
	struct vcard_char *c = &card->chr;

	c->out_len = c->out_off = 0;
	c->in_len = 0;
	if (b == 0xFF && card->pps_allowed) {
		c->mode = VCARD_CHAR_PPS;
		c->in_need = 2;         /* PPSS PPS0: then PPS0 says */
	} else if (card->protocol == 1) {
		c->mode = VCARD_CHAR_T1;
		c->in_need = CCID_T1_PROLOGUE_SIZE;
	} else {
		c->mode = VCARD_CHAR_HEADER;
		c->in_need = 5;
	}
}

int vcard_char_write(struct vcard *card, const uint8_t *in, size_t len, uint32_t *work_ms)
{
	uint32_t work = 0;

	if (!card || (!in && len))
		return -EINVAL;
	if (!card->powered)
		return -ENODEV;
	for (size_t i = 0; i < len; i++) {
		struct vcard_char *c = &card->chr;

		if (c->mode == VCARD_CHAR_IDLE)
			start(card, in[i]);
		if (c->in_len < sizeof(c->in))
			c->in[c->in_len++] = in[i];
		if (c->in_len < c->in_need) {
			/* ACK per byte: the next data byte is asked for after each (§10.3.3) */
			if (c->mode == VCARD_CHAR_DATA && card->cfg.t0_ack_each)
				put(card, (uint8_t)(0xFFu - c->in[1]));
			continue;
		}
		switch (c->mode) {
		case VCARD_CHAR_PPS:
			if (c->in_len == 2) {
				c->in_need = 3u + !!(c->in[1] & 0x10) + !!(c->in[1] & 0x20) + !!(c->in[1] & 0x40);
				break;
			}
			pps_done(card);
			break;
		case VCARD_CHAR_HEADER:
			header(card, &work);
			break;
		case VCARD_CHAR_DATA:
			run_tpdu(card, &work);
			break;
		case VCARD_CHAR_T1: {
			size_t edc = card->cfg.edc == CCID_EDC_CRC ? 2 : 1;

			if (c->in_len == CCID_T1_PROLOGUE_SIZE && c->in[2] != 0xFF
			    && CCID_T1_PROLOGUE_SIZE + c->in[2] + edc <= sizeof(c->in)) {
				c->in_need = CCID_T1_PROLOGUE_SIZE + c->in[2] + edc;
				break;
			}
			block_done(card, &work);
			break;
		}
		default:
			break;
		}
	}
	if (work_ms)
		*work_ms = work;
	return 0;
}

size_t vcard_char_read(struct vcard *card, uint8_t *out, size_t cap)
{
	struct vcard_char *c;
	size_t n;

	if (!card || !out)
		return 0;
	c = &card->chr;
	n = c->out_len - c->out_off;
	if (n > cap)
		n = cap;
	memcpy(out, c->out + c->out_off, n);
	c->out_off += n;
	if (c->out_off == c->out_len)
		c->out_len = c->out_off = 0;
	return n;
}

size_t vcard_char_pending(const struct vcard *card)
{
	return card ? card->chr.out_len - card->chr.out_off : 0;
}
