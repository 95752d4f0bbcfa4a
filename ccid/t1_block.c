/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * T=1 block codec (ISO 7816-3 §11.3): the two epilogue checks (LRC, CRC),
 * building a block into a caller buffer, decoding a received block with every
 * length checked before it is used, and the describe walker that lets the
 * tool explain a block field by field.  Pure: no I/O, no allocation.
 */
#include "config.h"

#include <errno.h>

#include "ccid/bytes.h"
#include "ccid/field.h"
#include "ccid/t1.h"

static size_t edc_size(enum ccid_edc edc)
{
	return edc == CCID_EDC_CRC ? 2 : 1;
}

static bool edc_known(enum ccid_edc edc)
{
	return edc == CCID_EDC_LRC || edc == CCID_EDC_CRC;
}

uint8_t ccid_t1_lrc(const uint8_t *buf, size_t len)
{
	uint8_t lrc = 0;

	for (size_t i = 0; i < len; i++)
		lrc ^= buf[i];
	return lrc;
}

/* Bitwise: blocks are at most 257 bytes before the EDC, a table buys nothing. */
uint16_t ccid_t1_crc(const uint8_t *buf, size_t len)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
	}
	return crc;
}

int ccid_t1_block_encode(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t inf_len,
			 enum ccid_edc edc, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!buf || !edc_known(edc) || inf_len > CCID_T1_INF_MAX || (!inf && inf_len))
		return -EINVAL;
	n = CCID_T1_PROLOGUE_SIZE + inf_len + edc_size(edc);
	if (cap < n)
		return -ENOBUFS;
	buf[0] = nad;
	buf[1] = pcb;
	buf[2] = (uint8_t)inf_len;
	for (size_t i = 0; i < inf_len; i++)
		buf[CCID_T1_PROLOGUE_SIZE + i] = inf[i];
	if (edc == CCID_EDC_CRC)
		put_be16(buf + CCID_T1_PROLOGUE_SIZE + inf_len,
			 ccid_t1_crc(buf, CCID_T1_PROLOGUE_SIZE + inf_len));
	else
		buf[CCID_T1_PROLOGUE_SIZE + inf_len] = ccid_t1_lrc(buf, CCID_T1_PROLOGUE_SIZE + inf_len);
	return (int)n;
}

/* PCB rules of §11.3.2.2 that make a well-formed block; EDC already checked. */
static int classify(struct ccid_t1_block *b, struct ccid_diag *diag)
{
	uint8_t pcb = b->pcb;

	if (!(pcb & 0x80)) {
		b->type = CCID_T1_BLOCK_I;
		b->ns = (pcb & CCID_T1_PCB_I_NS) ? 1 : 0;
		b->more = (pcb & CCID_T1_PCB_I_MORE) != 0;
		return 0;
	}
	if ((pcb & 0xC0) == CCID_T1_PCB_R) {
		b->type = CCID_T1_BLOCK_R;
		if (pcb & 0x20)
			return ccid_fail(diag, 1, "R-block PCB with b6 = 0", -EBADMSG);
		if ((pcb & CCID_T1_PCB_R_ERR) > CCID_T1_R_OTHER_ERROR)
			return ccid_fail(diag, 1, "R-block error code 0, 1 or 2", -EBADMSG);
		if (b->len != 0)
			return ccid_fail(diag, 2, "LEN 0 in an R-block", -EBADMSG);
		b->nr = (pcb & CCID_T1_PCB_R_NR) ? 1 : 0;
		b->error = (enum ccid_t1_r_error)(pcb & CCID_T1_PCB_R_ERR);
		return 0;
	}
	b->type = CCID_T1_BLOCK_S;
	if ((pcb & CCID_T1_PCB_S_TYPE) > CCID_T1_S_WTX)
		return ccid_fail(diag, 1, "S-block type RESYNCH, IFS, ABORT or WTX", -EBADMSG);
	b->s_type = (enum ccid_t1_s_type)(pcb & CCID_T1_PCB_S_TYPE);
	b->s_response = (pcb & CCID_T1_PCB_S_RESPONSE) != 0;
	if (b->s_type == CCID_T1_S_IFS || b->s_type == CCID_T1_S_WTX) {
		if (b->len != 1)
			return ccid_fail(diag, 2, "LEN 1 in an S(IFS) or S(WTX) block", -EBADMSG);
	} else if (b->len != 0) {
		return ccid_fail(diag, 2, "LEN 0 in an S(RESYNCH) or S(ABORT) block", -EBADMSG);
	}
	return 0;
}

int ccid_t1_block_decode(const uint8_t *buf, size_t len, enum ccid_edc edc,
			 struct ccid_t1_block *ret, struct ccid_diag *diag)
{
	struct ccid_t1_block b = { 0 };
	size_t need, at;
	int rc;

	if (!buf || !ret || !edc_known(edc))
		return ccid_fail(diag, 0, "a buffer, a result and LRC or CRC", -EINVAL);
	if (len > CCID_T1_BLOCK_MAX)
		return ccid_fail(diag, CCID_T1_BLOCK_MAX, "end of block (at most 259 bytes)", -EMSGSIZE);
	if (len < CCID_T1_PROLOGUE_SIZE)
		return ccid_fail(diag, len, "NAD, PCB and LEN", -ENODATA);
	b.nad = buf[0];
	b.pcb = buf[1];
	b.len = buf[2];
	/* LEN 0xFF is reserved (§11.3.2.3); it also leaves no way to find the EDC. */
	if (b.len == 0xFF)
		return ccid_fail(diag, 2, "LEN 0..254", -EBADMSG);
	at = CCID_T1_PROLOGUE_SIZE + b.len;
	need = at + edc_size(edc);
	if (len < need)
		return ccid_fail(diag, len, b.len && len < at ? "INF" : "EDC", -ENODATA);
	if (len > need)
		return ccid_fail(diag, need, "end of block (LEN + EDC)", -EMSGSIZE);
	b.edc = edc;
	if (edc == CCID_EDC_CRC) {
		b.edc_value = get_be16(buf + at);
		if (b.edc_value != ccid_t1_crc(buf, at))
			return ccid_fail(diag, at, "CRC over NAD..INF", -EPROTO);
	} else {
		b.edc_value = buf[at];
		if (b.edc_value != ccid_t1_lrc(buf, at))
			return ccid_fail(diag, at, "LRC over NAD..INF", -EPROTO);
	}
	rc = classify(&b, diag);
	if (rc < 0)
		return rc;
	b.inf = b.len ? buf + CCID_T1_PROLOGUE_SIZE : NULL;
	b.size = need;
	*ret = b;
	return 0;
}

static const char *s_type_name(enum ccid_t1_s_type t)
{
	switch (t) {
	case CCID_T1_S_RESYNCH:
		return "RESYNCH";
	case CCID_T1_S_IFS:
		return "IFS";
	case CCID_T1_S_ABORT:
		return "ABORT";
	case CCID_T1_S_WTX:
		return "WTX";
	}
	return "RFU";
}

static const char *r_error_name(enum ccid_t1_r_error e)
{
	switch (e) {
	case CCID_T1_R_OK:
		return "error-free (acknowledge / request next)";
	case CCID_T1_R_EDC_ERROR:
		return "EDC or parity error";
	case CCID_T1_R_OTHER_ERROR:
		return "other error";
	}
	return "RFU";
}

static void describe_pcb(const struct ccid_t1_block *b, ccid_emit_fn emit, void *ctx)
{
	switch (b->type) {
	case CCID_T1_BLOCK_I:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "PCB", 1, 1, b->pcb, "I-block N(S)=%u%s", b->ns,
			  b->more ? " M=1 (chained)" : "");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "type", 1, 1, 0, "b8 = 0: I-block (information)");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "N(S)", 1, 1, b->ns, "b7: send sequence number %u",
			  b->ns);
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "M", 1, 1, b->more,
			  b->more ? "b6 = 1: more data, another block of this chain follows"
				  : "b6 = 0: last (or only) block of the chain");
		if (b->pcb & 0x1F)
			ccid_emit(emit, ctx, CCID_FIELD_FLAG, "RFU", 1, 1, b->pcb & 0x1F,
				  "b5..b1 = 0x%02x: reserved bits set (ignored)", b->pcb & 0x1F);
		break;
	case CCID_T1_BLOCK_R:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "PCB", 1, 1, b->pcb, "R-block N(R)=%u, %s", b->nr,
			  r_error_name(b->error));
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "type", 1, 1, 2, "b8 b7 = 10: R-block (receive ready)");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "N(R)", 1, 1, b->nr,
			  "b5: the sender expects the I-block with N(S)=%u", b->nr);
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "error", 1, 1, b->error, "b4..b1 = %u: %s",
			  (unsigned)b->error, r_error_name(b->error));
		break;
	case CCID_T1_BLOCK_S:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "PCB", 1, 1, b->pcb, "S(%s %s)",
			  s_type_name(b->s_type), b->s_response ? "response" : "request");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "type", 1, 1, 3, "b8 b7 = 11: S-block (supervisory)");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "response", 1, 1, b->s_response,
			  b->s_response ? "b6 = 1: response" : "b6 = 0: request");
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, "S type", 1, 1, b->s_type, "b5..b1 = %u: %s",
			  (unsigned)b->s_type, s_type_name(b->s_type));
		break;
	}
}

void ccid_t1_block_describe(const struct ccid_t1_block *blk, ccid_emit_fn emit, void *ctx)
{
	size_t at;

	if (!blk || !emit)
		return;
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "NAD", 0, 1, blk->nad,
		  "DAD %u, SAD %u", (blk->nad >> 4) & 7u, blk->nad & 7u);
	describe_pcb(blk, emit, ctx);
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "LEN", 2, 1, blk->len, "%u byte%s of INF", blk->len,
		  blk->len == 1 ? "" : "s");
	if (blk->len && blk->inf) {
		if (blk->type == CCID_T1_BLOCK_S && blk->s_type == CCID_T1_S_IFS)
			ccid_emit_bytes(emit, ctx, "INF", 3, blk->inf, blk->len, "IFS = %u", blk->inf[0]);
		else if (blk->type == CCID_T1_BLOCK_S && blk->s_type == CCID_T1_S_WTX)
			ccid_emit_bytes(emit, ctx, "INF", 3, blk->inf, blk->len, "BWT multiplier %u",
					blk->inf[0]);
		else
			ccid_emit_bytes(emit, ctx, "INF", 3, blk->inf, blk->len, "%s", "APDU data");
	}
	at = CCID_T1_PROLOGUE_SIZE + blk->len;
	if (blk->edc == CCID_EDC_CRC)
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "EDC", at, 2, blk->edc_value,
			  "CRC 0x%04x (correct)", blk->edc_value);
	else
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "EDC", at, 1, blk->edc_value,
			  "LRC 0x%02x (correct)", blk->edc_value);
}

enum ccid_t1_r_error ccid_t1_decode_error_code(int rc)
{
	switch (rc) {
	case -EPROTO:
	case -ENODATA:
	case -EMSGSIZE:
		return CCID_T1_R_EDC_ERROR;
	default:
		return CCID_T1_R_OTHER_ERROR;
	}
}
