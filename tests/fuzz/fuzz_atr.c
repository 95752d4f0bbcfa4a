/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the ATR and PPS decoders.  The whole input is tried
 * as an ATR (parse, then describe with a checking walker and the timing
 * helpers on the derived values) and as a PPS message (parse, then rebuild
 * and compare); it is also split into a PPS request and answer, the request
 * length taken from its own PPS0, for ccid_pps_check.  The lenient ATR parse
 * runs on every input too.  Invariants that a
 * sanitizer cannot see abort the run.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/timing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

struct walk_state {
	const struct ccid_atr *atr;
	uint8_t seen[CCID_ATR_MAX];
	size_t last_value;
};

static void walk_emit(void *ctx, const struct ccid_field *f)
{
	struct walk_state *w = ctx;

	CHECK(f->name != NULL);
	CHECK(memchr(f->text, '\0', sizeof(f->text)) != NULL);
	CHECK(f->text[0] != '\0');
	switch (f->kind) {
	case CCID_FIELD_VALUE:
		CHECK(f->offset < w->atr->len && f->size == 1);
		CHECK(f->value == w->atr->bytes[f->offset]);
		w->seen[f->offset]++;
		w->last_value = f->offset;
		break;
	case CCID_FIELD_BYTES:
		CHECK(f->offset <= w->atr->len && f->nbytes <= w->atr->len - f->offset);
		CHECK(f->bytes == w->atr->bytes + f->offset);
		for (size_t i = 0; i < f->nbytes; i++)
			w->seen[f->offset + i]++;
		break;
	case CCID_FIELD_FLAG:
		CHECK(f->offset == w->last_value);
		break;
	case CCID_FIELD_DERIVED:
		CHECK(f->offset == CCID_FIELD_NO_OFFSET);
		break;
	case CCID_FIELD_SECTION:
		break;
	default:
		abort();
	}
}

static void fuzz_atr(const uint8_t *data, size_t size)
{
	struct ccid_atr atr;
	struct ccid_diag diag = { 0, NULL };
	struct walk_state w;
	int r = ccid_atr_parse(data, size, &atr, &diag);

	if (r < 0) {
		CHECK(diag.expected != NULL);
		CHECK(diag.offset <= size);
		CHECK(r == -ENODATA || r == -EMSGSIZE || r == -EBADMSG || r == -EPROTO);
		return;
	}
	CHECK(atr.len == size && size >= 2 && size <= CCID_ATR_MAX);
	CHECK(atr.ngroups >= 1 && atr.ngroups <= CCID_ATR_MAX_GROUPS);
	CHECK(atr.bytes[0] == 0x3B || atr.bytes[0] == 0x3F);
	if (!(atr.flags & CCID_ATR_RAW_INVERSE))
		CHECK(memcmp(atr.bytes, data, size) == 0);
	CHECK(atr.hist_offset + atr.hist_len + atr.has_tck == size);
	CHECK(atr.protocols != 0 && (atr.protocols & (1u << atr.default_protocol)));
	CHECK(!(atr.protocols & 0x8000u));
	CHECK(atr.IFSC >= 1 && atr.IFSC <= 254);
	CHECK(atr.WI != 0);
	CHECK(atr.Fi ? atr.fmax_khz != 0 : (atr.flags & CCID_ATR_FI_RFU) != 0);
	CHECK(atr.Di || (atr.flags & CCID_ATR_DI_RFU));

	memset(&w, 0, sizeof(w));
	w.atr = &atr;
	w.last_value = CCID_FIELD_NO_OFFSET;
	ccid_atr_describe(&atr, walk_emit, &w);
	for (size_t i = 0; i < atr.len; i++)
		CHECK(w.seen[i] == 1);

	/* Timing on the derived values, at the slowest and fastest clocks. */
	{
		uint16_t F = atr.Fi ? atr.Fi : CCID_FD;
		uint8_t D = atr.Di ? atr.Di : CCID_DD;
		const uint32_t clocks[2] = { 1, UINT32_MAX };

		for (int i = 0; i < 2; i++) {
			uint64_t etu = ccid_etu_ns(F, D, clocks[i]);
			uint64_t egt = ccid_egt_us(F, D, atr.N, clocks[i]);
			uint64_t cwt = ccid_cwt_us(atr.CWI, F, D, clocks[i]);
			uint64_t bwt = ccid_bwt_us(atr.BWI, F, D, clocks[i]);

			CHECK(etu >= 1 && egt >= 1 && cwt >= 1 && bwt >= 1);
			CHECK(ccid_wwt_us(atr.WI, F, clocks[i]) >= 1);
			/* CWT with CWI = 0 and GT with N = 0 are both 12 etu. */
			CHECK(ccid_cwt_us(0, F, D, clocks[i]) == ccid_egt_us(F, D, 0, clocks[i]));
		}
	}
}

/*
 * The lenient parse: refuses only an empty input or a bad TS; otherwise every
 * kept byte is described exactly once, findings are bounded and named, the
 * derived values are usable, and the strict parse fails exactly when there is
 * a finding, with the first finding's diagnostics.
 */
static void fuzz_lenient(const uint8_t *data, size_t size)
{
	struct ccid_atr atr, strict;
	struct ccid_diag diag = { 0, NULL };
	struct walk_state w;
	char text[256];
	int r = ccid_atr_parse_lenient(data, size, &atr, &diag);

	if (r < 0) {
		CHECK(size == 0 || (data[0] != 0x3B && data[0] != 0x3F && data[0] != 0x03));
		CHECK(diag.expected != NULL && diag.offset == 0);
		return;
	}
	CHECK(atr.len == (size > CCID_ATR_MAX ? CCID_ATR_MAX : size));
	CHECK(atr.nfindings <= CCID_ATR_MAX_FINDINGS);
	CHECK(atr.ngroups >= 1 && atr.ngroups <= CCID_ATR_MAX_GROUPS);
	CHECK(atr.hist_offset + atr.hist_len <= atr.len);
	CHECK(atr.extra_offset + atr.extra_len <= atr.len);
	CHECK(atr.protocols != 0 && (atr.protocols & (1u << atr.default_protocol)));
	CHECK(atr.IFSC >= 1 && atr.IFSC <= 254 && atr.WI != 0);
	for (size_t i = 0; i < atr.nfindings; i++) {
		const struct ccid_atr_finding *f = &atr.findings[i];

		CHECK(f->expected != NULL && f->count >= 1 && f->offset <= size);
		CHECK(strcmp(ccid_atr_defect_name(f->defect), "unknown") != 0);
		CHECK(ccid_atr_finding_text(f, text, sizeof(text)) > 0);
		CHECK(f->err == -ENODATA || f->err == -EMSGSIZE || f->err == -EPROTO);
	}
	memset(&w, 0, sizeof(w));
	w.atr = &atr;
	w.last_value = CCID_FIELD_NO_OFFSET;
	ccid_atr_describe(&atr, walk_emit, &w);
	for (size_t i = 0; i < atr.len; i++)
		CHECK(w.seen[i] == 1);

	r = ccid_atr_parse(data, size, &strict, &diag);
	if (atr.nfindings)
		CHECK(r == atr.findings[0].err && diag.offset == atr.findings[0].offset);
	else
		CHECK(r == 0 && strict.len == atr.len);
}

static void fuzz_pps(const uint8_t *data, size_t size)
{
	struct ccid_pps p, c;
	uint8_t buf[CCID_PPS_MAX];
	size_t req_len;
	int r = ccid_pps_parse(data, size, &p, NULL);

	if (r == 0) {
		int n = ccid_pps_build(p.protocol, p.has_pps1 ? &p.pps1 : NULL, p.has_pps2 ? &p.pps2 : NULL,
				       p.has_pps3 ? &p.pps3 : NULL, buf, sizeof(buf));

		CHECK(n > 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
		/* Echoing a valid request always succeeds and returns it. */
		CHECK(ccid_pps_check(data, size, data, size, &c, NULL) == 0);
		CHECK(memcmp(&c, &p, sizeof(p)) == 0);
	}

	/* Split: request length from its PPS0, answer is the rest. */
	if (size < 2)
		return;
	req_len = 3 + (size_t)__builtin_popcount(data[1] & 0x70);
	if (req_len > size)
		req_len = size;
	{
		struct ccid_diag d = { 0, NULL };

		r = ccid_pps_check(data, req_len, data + req_len, size - req_len, &c, &d);
		if (r == 0) {
			struct ccid_pps q;

			CHECK(ccid_pps_parse(data, req_len, &q, NULL) == 0);
			CHECK(c.protocol == q.protocol);
			CHECK(!c.has_pps1 || (q.has_pps1 && c.pps1 == q.pps1));
			CHECK(!c.has_pps2 || (q.has_pps2 && c.pps2 == q.pps2));
			CHECK(!c.has_pps3 || (q.has_pps3 && c.pps3 == q.pps3));
		} else {
			CHECK(d.expected != NULL);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_atr(data, size);
	fuzz_lenient(data, size);
	fuzz_pps(data, size);
	return 0;
}
