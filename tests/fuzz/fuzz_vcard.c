/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the virtual reader's card (vreader/card_*.c): byte 0
 * chooses the card (protocols, T=1 first, specific mode, CRC, IFSC), then
 * records of [operation, length, bytes]: cold or warm reset, PPS, an APDU,
 * a T=0 TPDU, a T=1 block, power off.  Properties: an ATR the driver's
 * parser accepts; a PPS answer the driver's PPS check accepts or refuses
 * with a reason; APDU and TPDU answers of at least a status word within
 * the buffer; every T=1 block the card sends decodes with the card's EDC;
 * errors only as card.h lists them.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/t1.h"
#include "vreader/card.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r)
{
	FUZZ_ASSERT(r == -EINVAL || r == -ENODEV || r == -EPROTO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rsp[VCARD_RSP_MAX];
	static struct vcard *card;      /* made once, vcard_reinit per input (a new card is 134 KB) */
	struct vcard_config cfg;
	struct ccid_atr atr;
	uint8_t abuf[40];
	uint32_t ms;
	size_t off = 1;
	int r;

	if (size < 1)
		return 0;
	vcard_config_default(&cfg, (uint16_t)((data[0] & 3) ? (data[0] & 3) : VCARD_PROTO_T0));
	cfg.t1_first = data[0] & 4;
	cfg.specific_mode = data[0] & 8;
	cfg.edc = (data[0] & 16) ? CCID_EDC_CRC : CCID_EDC_LRC;
	cfg.ifsc = (data[0] & 32) ? 16 : 254;
	if (!card) {
		card = vcard_new(&cfg);
		FUZZ_ASSERT(card);
	} else {
		FUZZ_ASSERT(vcard_reinit(card, &cfg) == 0);
	}

	while (off + 2 <= size) {
		uint8_t op = data[off] % 7;
		size_t len = data[off + 1];
		const uint8_t *p = data + off + 2;

		if (op == 3 && len == 0xFF && off + 4 <= size) {
			/* an extended APDU: the length is the next two bytes */
			len = (size_t)data[off + 2] << 8 | data[off + 3];
			p += 2;
			off += 2;
		}
		if (len > size - off - 2)
			len = size - off - 2;
		off += 2 + len;
		switch (op) {
		case 0:
		case 1:
			r = vcard_reset(card, op == 1, abuf, sizeof(abuf));
			if (r < 0) {
				check_err(r);
				break;
			}
			FUZZ_ASSERT(ccid_atr_parse(abuf, (size_t)r, &atr, NULL) >= 0);
			break;
		case 2:
			r = vcard_pps(card, p, len, rsp, 8);
			if (r > 0)
				FUZZ_ASSERT(r <= 8);
			else if (r < 0)
				check_err(r);
			break;
		case 3:
			r = vcard_apdu(card, p, len, rsp, sizeof(rsp), &ms);
			if (r < 0)
				check_err(r);
			else
				FUZZ_ASSERT(r >= 2 && (size_t)r <= sizeof(rsp));
			break;
		case 4:
			r = vcard_t0_tpdu(card, p, len, rsp, sizeof(rsp), &ms);
			if (r < 0)
				check_err(r);
			else
				FUZZ_ASSERT((size_t)r <= sizeof(rsp));
			break;
		case 5:
			r = vcard_t1_block(card, p, len, rsp, CCID_T1_BLOCK_MAX, &ms);
			if (r < 0) {
				check_err(r);
			} else if (r > 0) {
				struct ccid_t1_block b;

				FUZZ_ASSERT(ccid_t1_block_decode(rsp, (size_t)r, cfg.edc, &b, NULL) >= 0);
			}
			break;
		default:
			vcard_power_off(card);
			break;
		}
	}
	return 0;
}
