/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the T=1 block codec and host engine.  The input is
 * a hostile card: a 6-byte header picks the configuration, the exchange kind
 * and the APDU / response buffer sizes; the rest is cut into blocks fed to
 * the engine one per block it sends.  Each record is a flags byte and a
 * length byte followed by that many bytes; flags can ask for a correct EDC
 * and NAD so the fuzzer reaches deep protocol states instead of stopping at
 * the checksum.  Every fed record also goes through decode and describe.
 * Invariants that abort: what the host sends is always a valid block within
 * IFSC, a finished response fits its buffer, and an exchange ends within a
 * bound set by the configuration and the input length.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/t1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_FIX_EDC 0x01   /* append the right EDC after the given bytes */
#define REC_FIX_NAD 0x02   /* overwrite byte 0 with the NAD the host expects */
#define REC_LONG 0x04      /* length + 256: blocks past the 259-byte limit */
#define REC_TIMEOUT 0x80   /* nothing arrived: no bytes follow */

static void sink(void *ctx, const struct ccid_field *f)
{
	size_t *n = ctx;

	/* Touch what a printer would read. */
	*n += f->size + strlen(f->text) + (f->name ? strlen(f->name) : 0);
	if (f->kind == CCID_FIELD_BYTES && f->nbytes)
		*n += f->bytes[0] + f->bytes[f->nbytes - 1];
}

static void check_host_block(const uint8_t *b, int n, const struct ccid_t1_config *cfg, uint8_t ifsc)
{
	struct ccid_t1_block d;

	if (n <= 0 || n > CCID_T1_BLOCK_MAX)
		abort();
	if (ccid_t1_block_decode(b, (size_t)n, cfg->edc, &d, NULL) != 0)
		abort();
	if (d.nad != cfg->nad)
		abort();
	if (d.type == CCID_T1_BLOCK_I && d.len > ifsc)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccid_t1_config cfg;
	struct ccid_t1 t1;
	uint8_t apdu[1024], rsp[1024], out[CCID_T1_BLOCK_MAX], rec[CCID_T1_BLOCK_MAX + 300];
	size_t apdu_len, rsp_cap, pos = 6, exchanges = 0, described = 0;
	int rc;

	if (size < 6)
		return 0;
	cfg = (struct ccid_t1_config){
		.ifsc = data[0],
		.ifsd = data[1],
		.edc = (data[2] & 1) ? CCID_EDC_CRC : CCID_EDC_LRC,
		.nad = (data[2] & 2) ? 0x12 : 0x00,
		.max_retries = (data[2] >> 2) & 3,
		.max_resynch = (data[2] >> 4) & 3,
	};
	apdu_len = 1 + (((size_t)data[3] << 2) | (data[5] & 3));
	if (apdu_len > sizeof(apdu))
		apdu_len = sizeof(apdu);
	rsp_cap = ((size_t)data[4] << 2) | ((data[5] >> 2) & 3);
	for (size_t i = 0; i < apdu_len; i++)
		apdu[i] = (uint8_t)(i * 7 + 1);
	ccid_t1_init(&t1, &cfg);

	/* Several exchanges per input, so aborted / cut ones lead into RESYNCH-first. */
	while (pos < size && exchanges++ < 8) {
		size_t blocks = 0;

		if (data[2] & 0x40 && exchanges == 1)
			rc = ccid_t1_begin_ifsd(&t1, (uint8_t)(data[1] ? data[1] : 1));
		else
			rc = ccid_t1_begin(&t1, apdu, apdu_len, rsp, rsp_cap);
		if (rc == -EINVAL || rc == -EPROTO)
			break;
		if (rc != CCID_T1_SEND)
			abort();
		while (rc == CCID_T1_SEND) {
			struct ccid_t1_block d;
			uint8_t flags, ifsc = ccid_t1_ifsc(&t1);
			size_t n = 0;
			int len = ccid_t1_next_block(&t1, out, sizeof(out));

			check_host_block(out, len, &cfg, ifsc);
			/* Out of input: the card goes silent until the engine gives up. */
			flags = pos < size ? data[pos++] : REC_TIMEOUT;
			if (!(flags & REC_TIMEOUT) && pos < size) {
				size_t want = data[pos++] + ((flags & REC_LONG) ? 256u : 0u);

				n = want < size - pos ? want : size - pos;
				memcpy(rec, data + pos, n);
				pos += n;
				if ((flags & REC_FIX_NAD) && n)
					rec[0] = (uint8_t)((cfg.nad << 4) | (cfg.nad >> 4));
				if (flags & REC_FIX_EDC) {
					if (cfg.edc == CCID_EDC_CRC) {
						uint16_t c = ccid_t1_crc(rec, n);

						rec[n++] = (uint8_t)(c >> 8);
						rec[n++] = (uint8_t)c;
					} else {
						rec[n] = ccid_t1_lrc(rec, n);
						n++;
					}
				}
				if (ccid_t1_block_decode(rec, n, cfg.edc, &d, NULL) == 0)
					ccid_t1_block_describe(&d, sink, &described);
			}
			rc = ccid_t1_feed(&t1, n ? rec : NULL, n);
			/*
			 * Each fed record is at least one input byte, and silence is
			 * bounded by the retry budget, so an exchange that outlives
			 * input + budget blocks is looping.
			 */
			if (++blocks > size + 64)
				abort();
		}
		if (rc == CCID_T1_DONE && ccid_t1_response_len(&t1) > rsp_cap)
			abort();
		if (rc != CCID_T1_DONE && rc != -EMSGSIZE && rc != -ECONNABORTED && rc != -EPROTO)
			abort();
		if (rc == -EPROTO)
			break;
	}
	return described == (size_t)-1;
}
