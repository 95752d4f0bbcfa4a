/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card's T=0 transport (ISO 7816-3 §10, mapping of APDUs onto
 * TPDUs per ISO 7816-3 §12.2 / 7816-4 §5.3): turns the TPDU a TPDU-level CCID
 * reader delivers (header and data, procedure bytes handled by the reader)
 * into a command for the application, and the application's answer into
 * what T=0 can carry: 6Cxx for a case 2 whose P3 is not the exact length,
 * 61xx and GET RESPONSE for response data of a command that sent data.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vreader/card.h"

#define INS_GET_RESPONSE 0xC0
#define INS_READ_BINARY 0xB0
#define INS_GET_CHALLENGE 0x84
#define INS_ECHO 0x10
#define CLA_PROPRIETARY 0x80

void vcard_t0_reset(struct vcard *card)
{
	card->t0_pending = false;
	card->t0_len = 0;
	card->t0_off = 0;
}

/*
 * Commands whose header-only TPDU is case 2 (P3 = Le, 00 = 256).  For every
 * other command a header-only TPDU with P3 = 00 is case 1 (§12.2.2: the
 * card tells the two apart by the instruction).
 */
bool vcard_t0_outgoing(uint8_t cla, uint8_t ins)
{
	if (cla == CLA_PROPRIETARY)
		return ins == INS_ECHO;
	return ins == INS_READ_BINARY || ins == INS_GET_CHALLENGE || ins == INS_GET_RESPONSE;
}

static size_t put_sw(uint8_t *out, size_t n, uint8_t sw1, uint8_t sw2)
{
	out[n] = sw1;
	out[n + 1] = sw2;
	return n + 2;
}

/* 61xx: xx more bytes, 00 meaning 256 or more (ISO 7816-4 §5.1.3). */
static uint8_t more_count(size_t left)
{
	return (uint8_t)((left < 256 ? left : 256) & 0xFF);
}

/* Compose the answer in tmp (at most VCARD_RSP_MAX bytes) and return its length. */
static size_t get_response(struct vcard *card, const uint8_t *h, size_t data_len, uint8_t *tmp)
{
	size_t le = h[4] ? h[4] : 256;
	size_t left;

	if (!card->t0_pending)
		return put_sw(tmp, 0, 0x69, 0x85);
	if (h[0] != 0x00 && h[0] != card->t0_cla)
		return put_sw(tmp, 0, 0x6E, 0x00);
	if (h[2] || h[3])
		return put_sw(tmp, 0, 0x6A, 0x86);
	if (data_len)
		return put_sw(tmp, 0, 0x67, 0x00);
	left = card->t0_len - card->t0_off;
	if (le > left)
		return put_sw(tmp, 0, 0x6C, (uint8_t)left);
	memcpy(tmp, card->rsp + card->t0_off, le);
	card->t0_off += le;
	left -= le;
	if (left)
		return put_sw(tmp, le, 0x61, more_count(left));
	vcard_t0_reset(card);
	return put_sw(tmp, le, card->t0_sw1, card->t0_sw2);
}

int vcard_t0_tpdu(struct vcard *card, const uint8_t *tpdu, size_t len, uint8_t *rsp, size_t cap,
		  uint32_t *work_ms)
{
	/* Answers other than GET RESPONSE parts are at most 256 + 2 bytes. */
	uint8_t tmp[256 + 2];
	uint8_t h[5] = { 0 };
	struct vcard_cmd c;
	uint32_t work = 0;
	size_t n, data_len;

	if (!card || !tpdu || !rsp)
		return -EINVAL;
	if (!card->powered)
		return -ENODEV;
	if (card->protocol != 0)
		return -EPROTO;
	card->pps_allowed = false;

	if (len < 4) {
		vcard_t0_reset(card);
		n = put_sw(tmp, 0, 0x67, 0x00);
		goto out;
	}
	memcpy(h, tpdu, len < 5 ? 4 : 5);
	data_len = len > 5 ? len - 5 : 0;

	if (h[1] == INS_GET_RESPONSE && card->t0_pending) {
		n = get_response(card, h, data_len, tmp);
		goto out;
	}
	vcard_t0_reset(card);
	if (h[1] == INS_GET_RESPONSE && h[0] == 0x00) {
		n = get_response(card, h, data_len, tmp);
		goto out;
	}
	/* P3 must count the data that follows: extended lengths cannot travel (§12.2). */
	if (data_len && h[4] != data_len) {
		n = put_sw(tmp, 0, 0x67, 0x00);
		goto out;
	}

	c = (struct vcard_cmd){ .cla = h[0], .ins = h[1], .p1 = h[2], .p2 = h[3] };
	if (data_len) {
		/* Case 3 TPDU carrying case 3 or 4: response data is fetched with GET RESPONSE. */
		size_t rn;

		c.data = tpdu + 5;
		c.nc = data_len;
		c.has_le = true;
		c.ne = 65536;
		c.le_zero = true;
		rn = vcard_app_exec(card, &c, &work);
		if (rn > 2) {
			card->t0_pending = true;
			card->t0_len = rn - 2;
			card->t0_off = 0;
			card->t0_sw1 = card->rsp[rn - 2];
			card->t0_sw2 = card->rsp[rn - 1];
			card->t0_cla = h[0];
			n = put_sw(tmp, 0, 0x61, more_count(rn - 2));
		} else {
			n = put_sw(tmp, 0, card->rsp[0], card->rsp[1]);
		}
		goto out;
	}
	if (h[4] || vcard_t0_outgoing(h[0], h[1])) {
		/* Case 2: exactly P3 bytes must come back, else 6Cxx (§12.2.3). */
		size_t rn;

		c.has_le = true;
		c.ne = h[4] ? h[4] : 256;
		c.le_zero = !h[4];
		rn = vcard_app_exec(card, &c, &work);
		if (rn > 2 && rn - 2 != c.ne)
			n = put_sw(tmp, 0, 0x6C, (uint8_t)(rn - 2));
		else {
			memcpy(tmp, card->rsp, rn);
			n = rn;
		}
		goto out;
	}
	/* Case 1. */
	n = vcard_app_exec(card, &c, &work);
	memcpy(tmp, card->rsp, n);
out:
	if (cap < n)
		return -ENOBUFS;
	memcpy(rsp, tmp, n);
	if (work_ms)
		*work_ms = work;
	return (int)n;
}
