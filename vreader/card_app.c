/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card's application: strict command APDU decoding (ISO
 * 7816-4 §5.1), SELECT, VERIFY, READ BINARY, UPDATE BINARY, GET CHALLENGE
 * and the proprietary ECHO and SLOW commands, with the status words listed
 * in card.h.  Every command answers into card->rsp; the transport layers
 * (APDU, T=0, T=1) decide how the answer travels.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vreader/card.h"

const uint8_t vcard_aid[7] = { 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

#define CLA_ISO 0x00
#define CLA_PROPRIETARY 0x80

#define INS_SELECT 0xA4
#define INS_VERIFY 0x20
#define INS_CHANGE_REFERENCE_DATA 0x24
#define INS_READ_BINARY 0xB0
#define INS_UPDATE_BINARY 0xD6
#define INS_GET_CHALLENGE 0x84
#define INS_ECHO 0x10
#define INS_SLOW 0x12

/* Status words (ISO 7816-4 §5.6). */
#define SW_OK 0x9000
#define SW_EOF 0x6282               /* end of file reached before reading Ne bytes */
#define SW_TRIES(x) (0x63C0 | (x))  /* verification failed, x tries left */
#define SW_WRONG_LENGTH 0x6700
#define SW_NOT_ALLOWED_SECURITY 0x6982
#define SW_PIN_BLOCKED 0x6983
#define SW_NO_EF 0x6986              /* command not allowed (no current EF) */
#define SW_NOT_FOUND 0x6A82
#define SW_WRONG_P1P2 0x6A86
#define SW_WRONG_PARAMS 0x6B00
#define SW_WRONG_LE(x) (0x6C00 | (x))
#define SW_INS_UNKNOWN 0x6D00
#define SW_CLA_UNKNOWN 0x6E00

/* The application's FCI (ISO 7816-4 §5.3.3): 6F { 84 DF name }. */
#define FCI_LEN 11

int vcard_cmd_parse(const uint8_t *cmd, size_t len, struct vcard_cmd *ret)
{
	size_t nc;

	if (!cmd || !ret || len < 4 || len > VCARD_APDU_MAX)
		return -EBADMSG;
	*ret = (struct vcard_cmd){ .cla = cmd[0], .ins = cmd[1], .p1 = cmd[2], .p2 = cmd[3] };
	if (len == 4)                                  /* case 1 */
		return 0;
	if (len == 5) {                                /* case 2S */
		ret->has_le = true;
		ret->ne = cmd[4] ? cmd[4] : 256;
		ret->le_zero = !cmd[4];
		return 0;
	}
	if (cmd[4] != 0) {                             /* short Lc: 3S or 4S */
		nc = cmd[4];
		if (len == 5 + nc) {
			ret->nc = nc;
			ret->data = cmd + 5;
			return 0;
		}
		if (len != 6 + nc)
			return -EBADMSG;
		ret->nc = nc;
		ret->data = cmd + 5;
		ret->has_le = true;
		ret->ne = cmd[len - 1] ? cmd[len - 1] : 256;
		ret->le_zero = !cmd[len - 1];
		return 0;
	}
	/* 00 then two bytes: extended length (§5.1). */
	if (len < 7)
		return -EBADMSG;
	if (len == 7) {                                /* case 2E */
		size_t le = (size_t)cmd[5] << 8 | cmd[6];

		ret->has_le = true;
		ret->ne = le ? le : 65536;
		ret->le_zero = !le;
		return 0;
	}
	nc = (size_t)cmd[5] << 8 | cmd[6];
	if (nc == 0)
		return -EBADMSG;
	if (len == 7 + nc) {                           /* case 3E */
		ret->nc = nc;
		ret->data = cmd + 7;
		return 0;
	}
	if (len == 9 + nc) {                           /* case 4E */
		size_t le = (size_t)cmd[len - 2] << 8 | cmd[len - 1];

		ret->nc = nc;
		ret->data = cmd + 7;
		ret->has_le = true;
		ret->ne = le ? le : 65536;
		ret->le_zero = !le;
		return 0;
	}
	return -EBADMSG;
}

void vcard_app_reset(struct vcard *card)
{
	card->app_selected = false;
	card->ef_selected = false;
	card->pin_verified = false;
}

static size_t sw(struct vcard *card, size_t n, unsigned word)
{
	card->rsp[n] = (uint8_t)(word >> 8);
	card->rsp[n + 1] = (uint8_t)word;
	return n + 2;
}

/*
 * Answer with the n data bytes already in card->rsp and status word: cut to
 * nothing without Le (cases 1 and 3), 6Cxx or 6700 when longer than Ne.
 */
static size_t answer(struct vcard *card, const struct vcard_cmd *c, size_t n, unsigned word)
{
	if (!c->has_le)
		return sw(card, 0, word);
	if (n > c->ne)
		return sw(card, 0, n <= 256 ? SW_WRONG_LE(n & 0xFF) : SW_WRONG_LENGTH);
	return sw(card, n, word);
}

static size_t do_select(struct vcard *card, const struct vcard_cmd *c)
{
	if (c->p2 != 0x00 && c->p2 != 0x0C)
		return sw(card, 0, SW_WRONG_P1P2);
	switch (c->p1) {
	case 0x04:      /* select by DF name (§11.1.1) */
		if (!c->nc)
			return sw(card, 0, SW_WRONG_LENGTH);
		if (c->nc != sizeof(vcard_aid) || memcmp(c->data, vcard_aid, sizeof(vcard_aid)))
			return sw(card, 0, SW_NOT_FOUND);
		card->app_selected = true;
		card->ef_selected = false;
		if (c->p2 == 0x0C)
			return sw(card, 0, SW_OK);
		card->rsp[0] = 0x6F;
		card->rsp[1] = 2 + sizeof(vcard_aid);
		card->rsp[2] = 0x84;
		card->rsp[3] = sizeof(vcard_aid);
		memcpy(card->rsp + 4, vcard_aid, sizeof(vcard_aid));
		return answer(card, c, FCI_LEN, SW_OK);
	case 0x02:      /* select EF under the current DF by file identifier */
		if (c->nc != 2)
			return sw(card, 0, SW_WRONG_LENGTH);
		if (((unsigned)c->data[0] << 8 | c->data[1]) != VCARD_EF_FID)
			return sw(card, 0, SW_NOT_FOUND);
		card->ef_selected = true;
		return sw(card, 0, SW_OK);
	default:
		return sw(card, 0, SW_WRONG_P1P2);
	}
}

/* A PIN field: its digits, without the FF bytes that pad it to a PIN pad's block. */
static size_t pin_digits(const uint8_t *p, size_t n)
{
	while (n && p[n - 1] == 0xFF)
		n--;
	return n;
}

static bool pin_matches(const struct vcard *card, const uint8_t *p, size_t n)
{
	n = pin_digits(p, n);
	return n == card->cfg.pin_len && !memcmp(p, card->cfg.pin, n);
}

/* A wrong PIN: one try less (ISO 7816-4 §11.5.6, 63Cx), blocked at none. */
static size_t pin_wrong(struct vcard *card)
{
	card->pin_verified = false;
	card->tries_left--;
	return sw(card, 0, card->tries_left ? SW_TRIES(card->tries_left) : SW_PIN_BLOCKED);
}

static size_t do_verify(struct vcard *card, const struct vcard_cmd *c)
{
	if (c->p1 != 0x00 || c->p2 != 0x80)
		return sw(card, 0, SW_WRONG_P1P2);
	if (pin_digits(c->data, c->nc) > VCARD_PIN_MAX)
		return sw(card, 0, SW_WRONG_LENGTH);
	if (!card->tries_left)
		return sw(card, 0, SW_PIN_BLOCKED);
	if (!c->nc)     /* retrieve the verification status (§11.5.6) */
		return sw(card, 0, card->pin_verified ? SW_OK : SW_TRIES(card->tries_left));
	if (pin_matches(card, c->data, c->nc)) {
		card->tries_left = card->cfg.pin_tries;
		card->pin_verified = true;
		return sw(card, 0, SW_OK);
	}
	return pin_wrong(card);
}

/*
 * CHANGE REFERENCE DATA (ISO 7816-4 §11.5.7), P2 80.  P1 00: the current PIN
 * then the new one — two 8-byte fields padded with FF when the data is 16
 * bytes, else the current PIN's length first; a wrong current PIN costs a
 * try.  P1 01: the new PIN alone, once the PIN is verified.  A new PIN has
 * 4..8 ASCII digits.
 */
static size_t do_change_reference_data(struct vcard *card, const struct vcard_cmd *c)
{
	const uint8_t *np;
	size_t nn;

	if ((c->p1 != 0x00 && c->p1 != 0x01) || c->p2 != 0x80)
		return sw(card, 0, SW_WRONG_P1P2);
	if (!card->tries_left)
		return sw(card, 0, SW_PIN_BLOCKED);
	if (c->p1 == 0x01) {
		if (!card->pin_verified)
			return sw(card, 0, SW_NOT_ALLOWED_SECURITY);
		np = c->data;
		nn = c->nc;
	} else {
		size_t old = c->nc == 2 * VCARD_PIN_MAX ? VCARD_PIN_MAX : card->cfg.pin_len;

		if (c->nc <= old)
			return sw(card, 0, SW_WRONG_LENGTH);
		if (!pin_matches(card, c->data, old))
			return pin_wrong(card);
		np = c->data + old;
		nn = c->nc - old;
	}
	nn = pin_digits(np, nn);
	if (nn < 4 || nn > VCARD_PIN_MAX)
		return sw(card, 0, SW_WRONG_LENGTH);
	for (size_t i = 0; i < nn; i++)
		if (np[i] < '0' || np[i] > '9')
			return sw(card, 0, SW_WRONG_PARAMS);
	memcpy(card->cfg.pin, np, nn);
	card->cfg.pin_len = nn;
	card->tries_left = card->cfg.pin_tries;
	card->pin_verified = true;
	return sw(card, 0, SW_OK);
}

/* P1 bit 8 set would be a short EF identifier (§11.2.2): this EF has none. */
static bool binary_offset(const struct vcard_cmd *c, size_t *off)
{
	if (c->p1 & 0x80)
		return false;
	*off = (size_t)c->p1 << 8 | c->p2;
	return *off < VCARD_EF_SIZE;
}

static size_t do_read_binary(struct vcard *card, const struct vcard_cmd *c)
{
	size_t off, n;

	if (c->nc || !c->has_le)
		return sw(card, 0, SW_WRONG_LENGTH);
	if (c->p1 & 0x80)
		return sw(card, 0, SW_WRONG_PARAMS);
	if (!card->ef_selected)
		return sw(card, 0, SW_NO_EF);
	if (!binary_offset(c, &off))
		return sw(card, 0, SW_WRONG_PARAMS);
	n = VCARD_EF_SIZE - off;
	if (n > c->ne)
		n = c->ne;
	memcpy(card->rsp, card->ef + off, n);
	/* Le = 00 / 0000 asks for everything up to Ne; an explicit Le for exactly Ne. */
	return sw(card, n, n < c->ne && !c->le_zero ? SW_EOF : SW_OK);
}

static size_t do_update_binary(struct vcard *card, const struct vcard_cmd *c)
{
	size_t off;

	if (!c->nc)
		return sw(card, 0, SW_WRONG_LENGTH);
	if (c->p1 & 0x80)
		return sw(card, 0, SW_WRONG_PARAMS);
	if (!card->ef_selected)
		return sw(card, 0, SW_NO_EF);
	if (!card->pin_verified)
		return sw(card, 0, SW_NOT_ALLOWED_SECURITY);
	if (!binary_offset(c, &off))
		return sw(card, 0, SW_WRONG_PARAMS);
	if (c->nc > VCARD_EF_SIZE - off)
		return sw(card, 0, SW_WRONG_LENGTH);
	memcpy(card->ef + off, c->data, c->nc);
	return sw(card, 0, SW_OK);
}

/* xorshift64* (Vigna): deterministic for a seed, good enough for a test card. */
static uint8_t rng_byte(struct vcard *card)
{
	uint64_t x = card->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	card->rng = x;
	return (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
}

static size_t do_get_challenge(struct vcard *card, const struct vcard_cmd *c)
{
	if (c->p1 || c->p2)
		return sw(card, 0, SW_WRONG_P1P2);
	if (c->nc || !c->has_le || c->ne > 256)
		return sw(card, 0, SW_WRONG_LENGTH);
	for (size_t i = 0; i < c->ne; i++)
		card->rsp[i] = rng_byte(card);
	return sw(card, c->ne, SW_OK);
}

static size_t do_echo(struct vcard *card, const struct vcard_cmd *c)
{
	size_t extra = (size_t)c->p1 << 8 | c->p2;
	size_t n;

	if (!c->nc && !extra)
		extra = c->ne;
	n = c->nc + extra;
	/* Longer than any Ne: refuse before building it (at most 131070 bytes). */
	if (c->has_le && n > c->ne)
		return answer(card, c, n, SW_OK);
	if (!c->has_le)
		return sw(card, 0, SW_OK);
	if (c->nc)
		memcpy(card->rsp, c->data, c->nc);
	for (size_t i = 0; i < extra; i++)
		card->rsp[c->nc + i] = (uint8_t)(i & 0xFF);
	return answer(card, c, n, SW_OK);
}

static size_t do_slow(struct vcard *card, const struct vcard_cmd *c, uint32_t *work_ms)
{
	if (c->nc)
		return sw(card, 0, SW_WRONG_LENGTH);
	*work_ms = ((uint32_t)c->p1 << 8 | c->p2) * 10u;
	return sw(card, 0, SW_OK);
}

size_t vcard_app_exec(struct vcard *card, const struct vcard_cmd *c, uint32_t *work_ms)
{
	*work_ms = 0;
	switch (c->cla) {
	case CLA_ISO:
		switch (c->ins) {
		case INS_SELECT:
			return do_select(card, c);
		case INS_VERIFY:
			return do_verify(card, c);
		case INS_CHANGE_REFERENCE_DATA:
			return do_change_reference_data(card, c);
		case INS_READ_BINARY:
			return do_read_binary(card, c);
		case INS_UPDATE_BINARY:
			return do_update_binary(card, c);
		case INS_GET_CHALLENGE:
			return do_get_challenge(card, c);
		default:
			return sw(card, 0, SW_INS_UNKNOWN);
		}
	case CLA_PROPRIETARY:
		switch (c->ins) {
		case INS_ECHO:
			return do_echo(card, c);
		case INS_SLOW:
			return do_slow(card, c, work_ms);
		default:
			return sw(card, 0, SW_INS_UNKNOWN);
		}
	default:
		return sw(card, 0, SW_CLA_UNKNOWN);
	}
}

bool vcard_pin_verified(const struct vcard *card)
{
	return card && card->pin_verified;
}

unsigned vcard_pin_tries_left(const struct vcard *card)
{
	return card ? card->tries_left : 0;
}
