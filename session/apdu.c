/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * APDU exchange at every exchange level the reader may work at:
 *  - TPDU, T=1: the codec's T=1 engine, one block per XfrBlock, bBWI carrying
 *    the card's S(WTX) multiplier (CCID §6.1.4); extended APDUs by chaining;
 *  - TPDU, T=0: the APDU cut into a T=0 TPDU (ISO 7816-3 §12.2); 61xx and
 *    6Cxx followed for the caller when asked (auto_get_response);
 *  - character level: the same T=0 TPDUs and T=1 blocks, the procedure
 *    bytes and block framing done by the host (charlevel.c);
 *  - short APDU: the APDU in one XfrBlock;
 *  - extended APDU: wLevelParameter / bChainParameter chaining both ways
 *    (CCID §6.1.4, §6.2.1).
 * Also Escape, Mechanical and IccClock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_priv.h"

#define COMMAND_MS 5000
#define MAX_T0_ROUNDS 258            /* 61xx rounds: 65536 bytes in 256-byte parts, and a margin */

/* An APDU in the extended form (ISO 7816-4 §5.1: a first length byte 00 followed by two more). */
static bool extended_form(const uint8_t *apdu, size_t len)
{
	return len >= 7 && apdu[4] == 0;
}

/* One XfrBlock; a failed answer is left in *m for the caller (0 returned). */
static int xfr_raw(struct uccid_reader *r, struct uslot *s, uint8_t bwi, uint16_t level, const uint8_t *data,
		   size_t len, uint8_t *ans, size_t cap, unsigned base_ms, struct ccid_msg *m)
{
	uint8_t *msg = malloc(CCID_HEADER_SIZE + len);
	int rc;

	if (!msg)
		return -ENOMEM;
	rc = uccid_xchg(r, s, msg,
			uccid_build(msg, CCID_HEADER_SIZE + len, CCID_PC_TO_RDR_XFR_BLOCK, bwi, (uint8_t)level,
				    (uint8_t)(level >> 8), data, len),
			ans, cap, base_ms, m);
	free(msg);
	return rc;
}

/* One XfrBlock; a failed answer becomes an errno. */
static ssize_t xfr(struct uccid_reader *r, struct uslot *s, uint8_t bwi, uint16_t level, const uint8_t *data,
		   size_t len, uint8_t *ans, size_t cap, unsigned base_ms, struct ccid_msg *m)
{
	int rc = xfr_raw(r, s, bwi, level, data, len, ans, cap, base_ms, m);

	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		return uccid_answer_error(r, s, m);
	return 0;
}

/* One T=0 TPDU: the reader runs the procedure bytes (TPDU level), or the host does (character level). */
static int t0_tpdu(struct uccid_reader *r, struct uslot *s, const uint8_t *tpdu, size_t len, uint8_t *ans,
		   size_t cap, struct ccid_msg *m)
{
	ssize_t n;

	if (r->level != CCID_LEVEL_CHARACTER)
		return xfr(r, s, 0, 0, tpdu, len, ans, cap, s->wwt_ms + 1000, m);
	n = uccid_char_t0(r, s, tpdu, len, ans, cap);
	if (n < 0)
		return (int)n;
	m->abData = ans;
	m->dwLength = (uint32_t)n;
	return 0;
}

/* T=1 at TPDU and character level: the codec's engine decides every block (ISO 7816-3 §11), t1xfr.c
   moves them. */
static ssize_t transmit_t1(struct uccid_reader *r, struct uslot *s, const uint8_t *apdu, size_t len, uint8_t *rsp,
			   size_t cap)
{
	int st = ccid_t1_begin(&s->t1, apdu, len, rsp, cap);
	int rc, lost = 0;        /* why the last block did not arrive: -ETIMEDOUT mute, -EIO parity */

	while (st == CCID_T1_SEND)
		if ((rc = uccid_t1_step(r, s, &st, &lost)) < 0)
			return rc;
	return uccid_t1_result(s, st, lost);
}

/* T=0 at TPDU and character level (ISO 7816-3 §12.2): cases 1, 2S, 3S; case 4S as 3S then GET RESPONSE. */
static ssize_t transmit_t0(struct uccid_reader *r, struct uslot *s, const uint8_t *apdu, size_t len, uint8_t *rsp,
			   size_t cap)
{
	uint8_t tpdu[5 + 255], *ans;
	size_t tlen, total = 0;
	bool case4 = false;
	struct ccid_msg m;
	ssize_t rc = 0;

	if (len < 4)
		return -EINVAL;
	memcpy(tpdu, apdu, 4);
	if (len == 4) {
		tpdu[4] = 0;
		tlen = 5;
	} else if (len == 5) {
		tpdu[4] = apdu[4];
		tlen = 5;
	} else if (apdu[4] != 0 && len == 5u + apdu[4]) {
		memcpy(tpdu + 4, apdu + 4, len - 4);
		tlen = len;
	} else if (apdu[4] != 0 && len == 6u + apdu[4]) {
		memcpy(tpdu + 4, apdu + 4, len - 5);  /* case 4S: Le travels as GET RESPONSE */
		tlen = len - 1;
		case4 = true;
	} else if (extended_form(apdu, len)) {
		return -ENOTSUP;                      /* extended APDUs need T=1 or an extended-level reader */
	} else {
		return -EINVAL;                       /* lengths that do not add up */
	}
	ans = malloc(CCID_HEADER_SIZE + 258 + 16);
	if (!ans)
		return -ENOMEM;
	for (int round = 0; round < MAX_T0_ROUNDS; round++) {
		uint8_t sw1, sw2;

		rc = t0_tpdu(r, s, tpdu, tlen, ans, CCID_HEADER_SIZE + 258 + 16, &m);
		if (rc < 0)
			goto out;
		if (m.dwLength < 2) {
			rc = -EPROTO;
			goto out;
		}
		sw1 = m.abData[m.dwLength - 2];
		sw2 = m.abData[m.dwLength - 1];
		if (total + m.dwLength - 2 > cap) {
			rc = -EMSGSIZE;
			goto out;
		}
		memcpy(rsp + total, m.abData, m.dwLength - 2);
		total += m.dwLength - 2;
		/* 61xx: xx more bytes; 6Cxx: wrong Le, xx is right (ISO 7816-4 §5.1.3) */
		if (sw1 == 0x61 && (r->opt.auto_get_response || case4)) {
			tpdu[0] = apdu[0];
			tpdu[1] = 0xC0;
			tpdu[2] = tpdu[3] = 0;
			tpdu[4] = sw2;
			tlen = 5;
			continue;
		}
		if (sw1 == 0x6C && r->opt.auto_get_response && tlen == 5) {
			tpdu[4] = sw2;
			continue;
		}
		if (total + 2 > cap) {
			rc = -EMSGSIZE;
			goto out;
		}
		rsp[total++] = sw1;
		rsp[total++] = sw2;
		rc = (ssize_t)total;
		goto out;
	}
	rc = -EPROTO;
out:
	free(ans);
	return rc;
}

/* APDU level; extended readers chain with wLevelParameter / bChainParameter (CCID §6.1.4). */
static ssize_t transmit_apdu(struct uccid_reader *r, struct uslot *s, const uint8_t *apdu, size_t len,
			     uint8_t *rsp, size_t cap)
{
	size_t part = r->max_msg - CCID_HEADER_SIZE, off = 0, total = 0;
	uint8_t *ans = malloc(r->max_msg + 16);
	struct ccid_msg m;
	ssize_t rc;

	if (!ans)
		return -ENOMEM;
	/* a short-APDU reader takes no extended APDU (CCID §6.1.4), however short */
	if (r->level != CCID_LEVEL_EXTENDED_APDU && (len > part || extended_form(apdu, len))) {
		rc = -ENOTSUP;
		goto out;
	}
	if (len <= part) {
		rc = xfr(r, s, 0, CCID_CHAIN_BEGIN_END, apdu, len, ans, r->max_msg + 16, COMMAND_MS, &m);
	} else {
		for (off = 0; off < len; off += part) {
			size_t n = len - off < part ? len - off : part;
			uint16_t level = off == 0 ? CCID_CHAIN_BEGIN : off + n == len ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;

			rc = xfr(r, s, 0, level, apdu + off, n, ans, r->max_msg + 16, COMMAND_MS, &m);
			if (rc < 0)
				goto out;
			if (level != CCID_CHAIN_END && m.rsp.b9 != CCID_CHAIN_EMPTY_NEXT) {
				uccid_log(r, UCCID_LOG_WARNING, "slot %u: the reader did not ask for the next part",
					  s->index);
				rc = -EPROTO;
				goto out;
			}
		}
	}
	for (unsigned parts = 0;; parts++) {
		if (rc < 0)
			goto out;
		if (total + m.dwLength > cap) {
			rc = -EMSGSIZE;
			goto out;
		}
		if (m.dwLength)         /* abData is NULL for an empty block: memcpy's arguments must not be */
			memcpy(rsp + total, m.abData, m.dwLength);
		total += m.dwLength;
		if (m.rsp.b9 == CCID_CHAIN_BEGIN_END || m.rsp.b9 == CCID_CHAIN_END)
			break;
		if (r->level != CCID_LEVEL_EXTENDED_APDU || parts > 65536 / 8) {
			rc = -EPROTO;
			goto out;
		}
		rc = xfr(r, s, 0, CCID_CHAIN_EMPTY_NEXT, NULL, 0, ans, r->max_msg + 16, COMMAND_MS, &m);
	}
	rc = total >= 2 ? (ssize_t)total : -EPROTO;
out:
	free(ans);
	return rc;
}

ssize_t uccid_transmit(struct uccid_reader *r, unsigned slot, const uint8_t *apdu, size_t len, uint8_t *rsp,
		       size_t cap)
{
	struct uslot *s;
	struct ucard card;
	ssize_t rc;

	if (!r || slot >= r->nslots || !apdu || len < 4 || len > 65544 || !rsp || cap < 2)
		return -EINVAL;
	s = &r->slots[slot];
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	if ((rc = uccid_card_usable(r, s, "transmit", &card)) < 0) {
		;
	} else if (r->level == CCID_LEVEL_TPDU || r->level == CCID_LEVEL_CHARACTER) {
		rc = card.protocol == CCID_PROTOCOL_T1 ? transmit_t1(r, s, apdu, len, rsp, cap)
						       : transmit_t0(r, s, apdu, len, rsp, cap);
	} else {
		rc = transmit_apdu(r, s, apdu, len, rsp, cap);
	}
	uccid_slot_leave(r, s);
	return rc;
}

ssize_t uccid_escape(struct uccid_reader *r, unsigned slot, const uint8_t *data, size_t len, uint8_t *rsp,
		     size_t cap)
{
	struct uslot *s;
	ssize_t rc;

	if (!r || slot >= r->nslots || (!data && len) || len > r->max_msg - CCID_HEADER_SIZE || (!rsp && cap))
		return -EINVAL;
	s = &r->slots[slot];
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	rc = uccid_do_escape(r, s, data, len, rsp, cap);
	uccid_slot_leave(r, s);
	return rc;
}

static int simple(struct uccid_reader *r, unsigned slot, uint8_t type, uint8_t b7)
{
	struct uslot *s;
	int rc;

	if (!r || slot >= r->nslots)
		return -EINVAL;
	s = &r->slots[slot];
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	rc = uccid_do_simple(r, s, type, b7);
	uccid_slot_leave(r, s);
	return rc;
}

int uccid_mechanical(struct uccid_reader *r, unsigned slot, uint8_t function)
{
	if (function < CCID_MECH_ACCEPT || function > CCID_MECH_UNLOCK)
		return -EINVAL;
	if (r && !r->desc.dwMechanical)
		return -ENOTSUP;
	return simple(r, slot, CCID_PC_TO_RDR_MECHANICAL, function);
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
