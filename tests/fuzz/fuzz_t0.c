/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the T=0 character-level engine (ccid/t0.h).  The
 * input is a hostile card behind a character-level reader: a 3-byte header
 * picks the TPDU (INS, P3, whether data go out) and the response buffer
 * size; the rest is records, a length byte then that many bytes, each fed as
 * what the reader returned for one exchange (fewer or more than asked).
 * Invariants that abort: the engine asks for 1 to 258 bytes, sends only
 * bytes of the TPDU (header first, then data in order, never more than P3),
 * a finished response fits its buffer and holds what was fed, and the
 * exchange ends within one step per record.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/t0.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t tpdu[5 + 255], rsp[260];
	size_t tlen, cap, pos = 3, sent_data = 0, steps = 0;
	bool header_sent = false;
	struct ccid_t0 t;
	int rc;

	if (size < 3)
		return 0;
	tpdu[0] = 0x00;
	tpdu[1] = data[0];
	tpdu[2] = 0x00;
	tpdu[3] = 0x00;
	tpdu[4] = data[1];
	for (size_t i = 0; i < 255; i++)
		tpdu[5 + i] = (uint8_t)i;
	tlen = (data[2] & 1) && data[1] ? 5u + data[1] : 5;
	cap = 2 + (size_t)(data[2] >> 1) * 2;         /* 2 .. 256 */
	if (cap > sizeof(rsp))
		cap = sizeof(rsp);
	rc = ccid_t0_begin(&t, tpdu, tlen, rsp, cap);
	if (rc < 0) {
		/* only the INS values T=0 forbids are refused */
		if (rc != -EINVAL || ((data[0] & 0xF0) != 0x60 && (data[0] & 0xF0) != 0x90))
			abort();
		return 0;
	}
	for (;;) {
		const uint8_t *out;
		size_t olen, expect, n;

		rc = ccid_t0_next(&t, &out, &olen, &expect);
		if (rc == CCID_T0_DONE) {
			size_t len = ccid_t0_response_len(&t);

			if (len < 2 || len > cap)
				abort();
			break;
		}
		if (rc != CCID_T0_MORE || expect < 1 || expect > 258)
			abort();
		if (!header_sent) {
			if (olen != 5 || memcmp(out, tpdu, 5))
				abort();
			header_sent = true;
		} else if (olen) {
			if (out != tpdu + 5 + sent_data || sent_data + olen > tlen - 5)
				abort();
			sent_data += olen;
		}
		if (pos >= size)
			break;
		n = data[pos++];
		if (n > size - pos)
			n = size - pos;
		rc = ccid_t0_feed(&t, data + pos, n);
		pos += n;
		if (++steps > size)
			abort();
		if (rc < 0) {
			if (rc != -EPROTO && rc != -EMSGSIZE)
				abort();
			if (ccid_t0_next(&t, &out, &olen, &expect) != -EINVAL)
				abort();
			break;
		}
	}
	return 0;
}
