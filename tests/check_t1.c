/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check tests for the T=1 block codec and host engine.  Engine tests run a
 * scripted card: each step names the block the host must send (without EDC,
 * which the script adds) and the card's canned answer, and asserts what
 * ccid_t1_feed() returns — what a driver would see on the wire and in its
 * return codes.  A randomized test feeds arbitrary blocks and checks that
 * every exchange ends within a bounded number of blocks.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/t1.h"
#include "tests/testutil.h"

#define BUF 600

static void to_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02X ", p[i]);
}

/* Hex block without EDC -> block with the EDC appended; "!hex" is taken as is. */
static size_t blk(enum ccid_edc edc, const char *hex, uint8_t *out, size_t cap)
{
	size_t n;

	if (hex[0] == '!')
		return tu_hex(hex + 1, out, cap);
	n = tu_hex(hex, out, cap);
	ck_assert_uint_le(n + 2, cap);
	if (edc == CCID_EDC_CRC) {
		uint16_t c = ccid_t1_crc(out, n);

		out[n++] = (uint8_t)(c >> 8);
		out[n++] = (uint8_t)c;
	} else {
		out[n] = ccid_t1_lrc(out, n);
		n++;
	}
	return n;
}

struct step {
	const char *host;  /* block the host must send, without EDC */
	const char *card;  /* answer without EDC; "!" raw; NULL nothing within BWT */
	int rc;            /* what ccid_t1_feed() must return */
};

/* Play steps; the caller has already called begin (which returned CCID_T1_SEND). */
static void play(struct ccid_t1 *t1, enum ccid_edc edc, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t want[BUF], got[BUF], ans[BUF];
		char hw[3 * BUF], hg[3 * BUF];
		size_t wn = blk(edc, s[i].host, want, sizeof(want));
		size_t an = 0;
		int len, rc;

		len = ccid_t1_next_block(t1, got, sizeof(got));
		ck_assert_msg(len > 0, "step %zu: next_block returned %d", i, len);
		to_hex(want, wn, hw, sizeof(hw));
		to_hex(got, (size_t)len, hg, sizeof(hg));
		ck_assert_msg((size_t)len == wn && !memcmp(want, got, wn),
			      "step %zu: host sent %s, expected %s", i, hg, hw);
		if (s[i].card)
			an = blk(edc, s[i].card, ans, sizeof(ans));
		rc = ccid_t1_feed(t1, s[i].card ? ans : NULL, an);
		ck_assert_msg(rc == s[i].rc, "step %zu (host sent %s): feed returned %d, expected %d", i,
			      hg, rc, s[i].rc);
	}
}

#define PLAY(t1, edc, ...)                                                         \
	do {                                                                       \
		const struct step steps_[] = { __VA_ARGS__ };                      \
		play((t1), (edc), steps_, sizeof(steps_) / sizeof(steps_[0]));     \
	} while (0)

static const uint8_t select_apdu[] = { 0x00, 0xA4, 0x04, 0x00, 0x00 };

static void setup(struct ccid_t1 *t1, enum ccid_edc edc, uint8_t ifsc, uint8_t ifsd)
{
	struct ccid_t1_config cfg = { .ifsc = ifsc, .ifsd = ifsd, .edc = edc };

	ccid_t1_init(t1, &cfg);
}

static void begin_select(struct ccid_t1 *t1, uint8_t *rsp, size_t cap)
{
	ck_assert_int_eq(ccid_t1_begin(t1, select_apdu, sizeof(select_apdu), rsp, cap), CCID_T1_SEND);
}

static void assert_rsp(const struct ccid_t1 *t1, const uint8_t *rsp, const char *hex)
{
	uint8_t want[BUF];
	size_t n = tu_hex(hex, want, sizeof(want));

	ck_assert_uint_eq(ccid_t1_response_len(t1), n);
	ck_assert_mem_eq(rsp, want, n);
}

/* ---------------------------------------------------------------- edc */

START_TEST(lrc_vectors)
{
	uint8_t b[16];
	size_t n = tu_hex("00 00 05 00 A4 04 00 00", b, sizeof(b));

	/* 05 ^ A4 ^ 04 = A5, by hand. */
	ck_assert_uint_eq(ccid_t1_lrc(b, n), 0xA5);
	/* The S(IFS request, FE) every libccid log starts with: C1 ^ 01 ^ FE = 3E. */
	n = tu_hex("00 C1 01 FE", b, sizeof(b));
	ck_assert_uint_eq(ccid_t1_lrc(b, n), 0x3E);
	ck_assert_uint_eq(ccid_t1_lrc(b, 0), 0);
}
END_TEST

START_TEST(crc_vectors)
{
	const uint8_t check[] = "123456789";
	uint8_t b[16];
	size_t n;

	/* Reflected 0x8408, init FFFF, no final XOR = CRC-16/MCRF4XX, check value 6F91. */
	ck_assert_uint_eq(ccid_t1_crc(check, 9), 0x6F91);
	ck_assert_uint_eq(ccid_t1_crc(check, 0), 0xFFFF);
	n = tu_hex("00 C1 01 FE", b, sizeof(b));
	ck_assert_uint_eq(ccid_t1_crc(b, n), 0x544E);
}
END_TEST

START_TEST(crc_high_byte_first)
{
	const uint8_t fe = 0xFE;
	uint8_t out[8], want[8];
	int n = ccid_t1_block_encode(0, 0xC1, &fe, 1, CCID_EDC_CRC, out, sizeof(out));

	ck_assert_int_eq(n, 6);
	tu_hex("00 C1 01 FE 54 4E", want, sizeof(want));
	ck_assert_mem_eq(out, want, 6);
}
END_TEST

/* ---------------------------------------------------------------- block */

START_TEST(encode_blocks)
{
	uint8_t out[BUF], want[BUF];
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x00, 0x00 };
	int n;

	n = ccid_t1_block_encode(0, CCID_T1_PCB_I, apdu, sizeof(apdu), CCID_EDC_LRC, out, sizeof(out));
	ck_assert_int_eq(n, 9);
	tu_hex("00 00 05 00 A4 04 00 00 A5", want, sizeof(want));
	ck_assert_mem_eq(out, want, 9);

	n = ccid_t1_block_encode(0, 0x91, NULL, 0, CCID_EDC_LRC, out, sizeof(out));
	ck_assert_int_eq(n, 4);
	tu_hex("00 91 00 91", want, sizeof(want));
	ck_assert_mem_eq(out, want, 4);

	/* Every too-small buffer is refused, the exact one accepted. */
	for (size_t cap = 0; cap < 9; cap++)
		ck_assert_int_eq(ccid_t1_block_encode(0, 0, apdu, sizeof(apdu), CCID_EDC_LRC, out, cap),
				 -ENOBUFS);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, apdu, sizeof(apdu), CCID_EDC_LRC, out, 9), 9);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, apdu, sizeof(apdu), CCID_EDC_CRC, out, 9), -ENOBUFS);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, apdu, sizeof(apdu), CCID_EDC_CRC, out, 10), 10);

	/* LEN 255 cannot be expressed; 254 is the largest block. */
	memset(want, 0x5A, 255);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, want, 255, CCID_EDC_LRC, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, want, 254, CCID_EDC_CRC, out, sizeof(out)),
			 CCID_T1_BLOCK_MAX);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, NULL, 1, CCID_EDC_LRC, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(ccid_t1_block_encode(0, 0, NULL, 0, (enum ccid_edc)7, out, sizeof(out)), -EINVAL);
}
END_TEST

START_TEST(decode_i_r_s)
{
	uint8_t b[BUF];
	struct ccid_t1_block d;
	size_t n;

	n = blk(CCID_EDC_LRC, "00 60 03 01 02 03", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
	ck_assert_int_eq(d.type, CCID_T1_BLOCK_I);
	ck_assert_uint_eq(d.ns, 1);
	ck_assert(d.more);
	ck_assert_uint_eq(d.len, 3);
	ck_assert_ptr_eq(d.inf, b + 3);
	ck_assert_uint_eq(d.size, 7);

	n = blk(CCID_EDC_CRC, "00 92 00", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_CRC, &d, NULL), 0);
	ck_assert_int_eq(d.type, CCID_T1_BLOCK_R);
	ck_assert_uint_eq(d.nr, 1);
	ck_assert_int_eq(d.error, CCID_T1_R_OTHER_ERROR);
	ck_assert_ptr_null(d.inf);
	ck_assert_uint_eq(d.edc_value, ccid_t1_crc(b, 3));

	n = blk(CCID_EDC_LRC, "00 E3 01 05", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
	ck_assert_int_eq(d.type, CCID_T1_BLOCK_S);
	ck_assert_int_eq(d.s_type, CCID_T1_S_WTX);
	ck_assert(d.s_response);
	ck_assert_uint_eq(d.inf[0], 5);

	n = blk(CCID_EDC_LRC, "00 C0 00", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
	ck_assert_int_eq(d.s_type, CCID_T1_S_RESYNCH);
	ck_assert(!d.s_response);
}
END_TEST

static void check_truncations(enum ccid_edc edc, const char *hex)
{
	uint8_t b[BUF], *copy;
	struct ccid_t1_block d;
	struct ccid_diag diag;
	size_t n = blk(edc, hex, b, sizeof(b));

	/* An exact-size heap copy per length, so ASan sees any read past it. */
	for (size_t len = 0; len < n; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		diag.offset = 999;
		ck_assert_int_eq(ccid_t1_block_decode(copy, len, edc, &d, &diag), -ENODATA);
		ck_assert_uint_eq(diag.offset, len);
		free(copy);
	}
	b[n] = 0;
	ck_assert_int_eq(ccid_t1_block_decode(b, n + 1, edc, &d, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, n);
	ck_assert_int_eq(ccid_t1_block_decode(b, n, edc, &d, &diag), 0);
}

START_TEST(truncated_and_oversize)
{
	check_truncations(CCID_EDC_LRC, "00 00 05 00 A4 04 00 00");
	check_truncations(CCID_EDC_CRC, "00 00 05 00 A4 04 00 00");
	check_truncations(CCID_EDC_LRC, "00 80 00");
	check_truncations(CCID_EDC_CRC, "00 E1 01 FE");
}
END_TEST

START_TEST(block_larger_than_any)
{
	uint8_t b[300] = { 0 };
	struct ccid_t1_block d;
	struct ccid_diag diag;

	b[2] = 254;
	ck_assert_int_eq(ccid_t1_block_decode(b, 260, CCID_EDC_CRC, &d, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, CCID_T1_BLOCK_MAX);
	/* 259 bytes is a full CRC block, but one byte too many for LRC. */
	ck_assert_int_eq(ccid_t1_block_decode(b, 259, CCID_EDC_LRC, &d, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 258);
}
END_TEST

START_TEST(bad_edc)
{
	uint8_t b[BUF];
	struct ccid_t1_block d;
	struct ccid_diag diag;
	size_t n;

	n = blk(CCID_EDC_LRC, "00 40 02 90 00", b, sizeof(b));
	b[n - 1] ^= 0x01;
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, &diag), -EPROTO);
	ck_assert_uint_eq(diag.offset, 5);
	ck_assert_ptr_nonnull(diag.expected);

	for (size_t i = 0; i < 2; i++) {
		n = blk(CCID_EDC_CRC, "00 40 02 90 00", b, sizeof(b));
		b[5 + i] ^= 0x80;
		ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_CRC, &d, &diag), -EPROTO);
		ck_assert_uint_eq(diag.offset, 5);
	}
	/* A flipped data bit is caught too. */
	n = blk(CCID_EDC_CRC, "00 40 02 90 00", b, sizeof(b));
	b[3] ^= 0x04;
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_CRC, &d, &diag), -EPROTO);
}
END_TEST

START_TEST(forbidden_fields)
{
	static const struct {
		const char *hex;
		size_t offset;
	} bad[] = {
		{ "00 00 FF", 2 },    /* LEN 0xFF */
		{ "00 80 01 00", 2 }, /* R-block with INF */
		{ "00 A0 00", 1 },    /* R-block b6 set */
		{ "00 83 00", 1 },    /* R-block RFU error code */
		{ "00 C4 00", 1 },    /* S-block RFU type */
		{ "00 C1 00", 2 },    /* S(IFS) without its byte */
		{ "00 E3 02 01 01", 2 },
		{ "00 C2 01 00", 2 }, /* S(ABORT) with INF */
	};
	uint8_t b[BUF];
	struct ccid_t1_block d;
	struct ccid_diag diag;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = blk(CCID_EDC_LRC, bad[i].hex, b, sizeof(b));

		/* LEN FF: the block is whatever arrived; 3 bytes + LRC is enough to refuse it. */
		ck_assert_msg(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, &diag) == -EBADMSG, "%s",
			      bad[i].hex);
		ck_assert_uint_eq(diag.offset, bad[i].offset);
	}
}
END_TEST

struct collect {
	char names[16][16];
	char texts[16][CCID_FIELD_TEXT_MAX];
	enum ccid_field_kind kinds[16];
	size_t offsets[16];
	size_t n;
};

static void collect_field(void *ctx, const struct ccid_field *f)
{
	struct collect *c = ctx;

	ck_assert_uint_lt(c->n, 16);
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", f->name);
	snprintf(c->texts[c->n], sizeof(c->texts[0]), "%s", f->text);
	c->kinds[c->n] = f->kind;
	c->offsets[c->n] = f->offset;
	c->n++;
}

START_TEST(describe_block)
{
	uint8_t b[BUF];
	struct ccid_t1_block d;
	struct collect c = { .n = 0 };
	size_t n = blk(CCID_EDC_CRC, "00 60 02 90 00", b, sizeof(b));
	static const char *const names[] = { "NAD", "PCB", "type", "N(S)", "M", "LEN", "INF", "EDC" };

	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_CRC, &d, NULL), 0);
	ccid_t1_block_describe(&d, collect_field, &c);
	ck_assert_uint_eq(c.n, 8);
	for (size_t i = 0; i < 8; i++)
		ck_assert_str_eq(c.names[i], names[i]);
	ck_assert_int_eq(c.kinds[3], CCID_FIELD_FLAG);
	ck_assert_int_eq(c.kinds[6], CCID_FIELD_BYTES);
	ck_assert_uint_eq(c.offsets[7], 5);
	ck_assert_ptr_nonnull(strstr(c.texts[1], "I-block N(S)=1"));
	ck_assert_ptr_nonnull(strstr(c.texts[4], "more data"));

	c.n = 0;
	n = blk(CCID_EDC_LRC, "00 C1 01 FE", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
	ccid_t1_block_describe(&d, collect_field, &c);
	ck_assert_str_eq(c.texts[1], "S(IFS request)");
	ck_assert_str_eq(c.names[6], "INF");
	ck_assert_str_eq(c.texts[6], "IFS = 254");

	c.n = 0;
	n = blk(CCID_EDC_LRC, "00 81 00", b, sizeof(b));
	ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
	ccid_t1_block_describe(&d, collect_field, &c);
	ck_assert_str_eq(c.names[3], "N(R)");
	ck_assert_ptr_nonnull(strstr(c.texts[4], "EDC or parity error"));
}
END_TEST

START_TEST(describe_pcb_texts)
{
	static const struct {
		const char *hex, *pcb_text;
	} v[] = {
		{ "00 C0 00", "S(RESYNCH request)" },
		{ "00 E0 00", "S(RESYNCH response)" },
		{ "00 E2 00", "S(ABORT response)" },
		{ "00 C3 01 0A", "S(WTX request)" },
		{ "00 80 00", "R-block N(R)=0, error-free (acknowledge / request next)" },
		{ "00 92 00", "R-block N(R)=1, other error" },
		{ "00 00 00", "I-block N(S)=0" },
	};
	uint8_t b[BUF];
	struct ccid_t1_block d;
	struct collect c;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = blk(CCID_EDC_LRC, v[i].hex, b, sizeof(b));

		c.n = 0;
		ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
		ccid_t1_block_describe(&d, collect_field, &c);
		ck_assert_str_eq(c.texts[1], v[i].pcb_text);
		ck_assert_str_eq(c.names[c.n - 1], "EDC");
	}
	/* The WTX multiplier is explained. */
	{
		size_t n = blk(CCID_EDC_LRC, "00 C3 01 0A", b, sizeof(b));

		c.n = 0;
		ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
		ccid_t1_block_describe(&d, collect_field, &c);
		ck_assert_str_eq(c.texts[6], "BWT multiplier 10");
	}
	/* RFU bits of an I-block are tolerated by decode but shown. */
	{
		size_t n = blk(CCID_EDC_LRC, "00 05 00", b, sizeof(b));

		c.n = 0;
		ck_assert_int_eq(ccid_t1_block_decode(b, n, CCID_EDC_LRC, &d, NULL), 0);
		ccid_t1_block_describe(&d, collect_field, &c);
		ck_assert_str_eq(c.names[5], "RFU");
		ck_assert_uint_eq(c.n, 8);
	}
	/* Nothing to walk, nobody to tell. */
	ccid_t1_block_describe(NULL, collect_field, &c);
	ccid_t1_block_describe(&d, NULL, NULL);
	ck_assert_int_eq(ccid_t1_block_decode(NULL, 3, CCID_EDC_LRC, &d, NULL), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- exchange */

START_TEST(simple_exchange)
{
	struct ccid_t1 t1;
	uint8_t rsp[64];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
	/* Both sequence numbers toggled. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 40 05 00 A4 04 00 00", "00 40 03 6A 82 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "6A 82 00");
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(crc_exchange)
{
	struct ccid_t1 t1;
	uint8_t rsp[64];

	setup(&t1, CCID_EDC_CRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_CRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
}
END_TEST

START_TEST(nad_swapped)
{
	struct ccid_t1 t1;
	struct ccid_t1_config cfg = { .nad = 0x12 };
	uint8_t rsp[64];

	ccid_t1_init(&t1, &cfg);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     /* The card answers with the sent NAD: not addressed to us. */
	     { "12 00 05 00 A4 04 00 00", "12 00 02 90 00", CCID_T1_SEND },
	     { "12 82 00", "21 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
}
END_TEST

/* ---------------------------------------------------------------- chaining */

START_TEST(host_chaining)
{
	struct ccid_t1 t1;
	uint8_t apdu[60], rsp[16];
	char h[4][3 * 60 + 16];
	char tmp[3 * 60];

	for (size_t i = 0; i < sizeof(apdu); i++)
		apdu[i] = (uint8_t)i;
	/* 60 bytes at IFSC 16: 16 + 16 + 16 + 12, M on all but the last. */
	to_hex(apdu, 16, tmp, sizeof(tmp));
	snprintf(h[0], sizeof(h[0]), "00 20 10 %s", tmp);
	to_hex(apdu + 16, 16, tmp, sizeof(tmp));
	snprintf(h[1], sizeof(h[1]), "00 60 10 %s", tmp);
	to_hex(apdu + 32, 16, tmp, sizeof(tmp));
	snprintf(h[2], sizeof(h[2]), "00 20 10 %s", tmp);
	to_hex(apdu + 48, 12, tmp, sizeof(tmp));
	snprintf(h[3], sizeof(h[3]), "00 40 0C %s", tmp);

	setup(&t1, CCID_EDC_LRC, 16, 32);
	ck_assert_int_eq(ccid_t1_begin(&t1, apdu, sizeof(apdu), rsp, sizeof(rsp)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { h[0], "00 90 00", CCID_T1_SEND },
	     /* The card asks for the same block again: it is resent unchanged. */
	     { h[1], "00 90 00", CCID_T1_SEND },
	     { h[1], "00 80 00", CCID_T1_SEND },
	     { h[2], "00 90 00", CCID_T1_SEND },
	     { h[3], "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
	/* Four I-blocks went out: our next N(S) is 0 again, the card's is 1. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 40 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(card_chaining)
{
	struct ccid_t1 t1;
	uint8_t rsp[64];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 20 03 01 02 03", CCID_T1_SEND },
	     { "00 90 00", "00 60 02 04 05", CCID_T1_SEND },
	     { "00 80 00", "00 00 04 06 07 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "01 02 03 04 05 06 07 90 00");
}
END_TEST

START_TEST(card_chain_with_lost_ack)
{
	struct ccid_t1 t1;
	uint8_t rsp[64];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 20 01 01", CCID_T1_SEND },
	     /* The card did not get our acknowledgement: it is repeated (rule 7.2). */
	     { "00 90 00", "00 81 00", CCID_T1_SEND },
	     { "00 90 00", "00 40 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "01 90 00");
}
END_TEST

/* ---------------------------------------------------------------- ifs */

START_TEST(ifsd_announce)
{
	struct ccid_t1 t1;
	uint8_t rsp[300];
	char big[3 * 254 + 16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 254), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     /* A wrong echo gets the request repeated. */
	     { "00 C1 01 FE", "00 E1 01 20", CCID_T1_SEND },
	     { "00 C1 01 FE", "00 E1 01 FE", CCID_T1_DONE });
	/* The card may now send 254-byte blocks. */
	snprintf(big, sizeof(big), "00 00 FE");
	for (size_t i = 0; i < 254; i++)
		strcat(big, " 5A");
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", big, CCID_T1_DONE });
	ck_assert_uint_eq(ccid_t1_response_len(&t1), 254);
}
END_TEST

START_TEST(ifsd_enforced)
{
	struct ccid_t1 t1;
	uint8_t rsp[64];

	setup(&t1, CCID_EDC_LRC, 32, 4);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     /* Five bytes against our IFSD of 4: other error. */
	     { "00 00 05 00 A4 04 00 00", "00 00 05 01 02 03 90 00", CCID_T1_SEND },
	     { "00 82 00", "00 00 02 90 00", CCID_T1_DONE });
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 0), -EINVAL);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 255), -EINVAL);
}
END_TEST

START_TEST(card_changes_ifsc)
{
	struct ccid_t1 t1;
	uint8_t apdu[20] = { 0 }, rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 C1 01 10", CCID_T1_SEND },
	     { "00 E1 01 10", "00 00 02 90 00", CCID_T1_DONE });
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 16);
	/* 20 bytes now take two blocks. */
	ck_assert_int_eq(ccid_t1_begin(&t1, apdu, sizeof(apdu), rsp, sizeof(rsp)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 60 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "00 80 00", CCID_T1_SEND },
	     { "00 00 04 00 00 00 00", "00 40 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(ifsc_lowered_before_retransmission)
{
	struct ccid_t1 t1;
	uint8_t apdu[6] = { 1, 2, 3, 4, 5, 6 }, rsp[16];

	/* The block was not received, so it is cut to the new IFSC, not resent whole. */
	setup(&t1, CCID_EDC_LRC, 32, 32);
	ck_assert_int_eq(ccid_t1_begin(&t1, apdu, sizeof(apdu), rsp, sizeof(rsp)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 06 01 02 03 04 05 06", "00 C1 01 04", CCID_T1_SEND },
	     { "00 E1 01 04", "00 80 00", CCID_T1_SEND },
	     { "00 20 04 01 02 03 04", "00 90 00", CCID_T1_SEND },
	     { "00 40 02 05 06", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(ifsc_after_resynch)
{
	struct ccid_t1 t1;
	struct ccid_t1_config cfg = { .ifsc = 8, .max_retries = 1 };
	uint8_t rsp[16];

	/* Whether the card forgets its S(IFS) after RESYNCH is open: never exceed the ATR value. */
	ccid_t1_init(&t1, &cfg);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 C1 01 40", CCID_T1_SEND },
	     { "00 E1 01 40", NULL, CCID_T1_SEND });
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 64);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND });
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 8);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 C1 01 04", CCID_T1_SEND },
	     { "00 E1 01 04", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND });
	/* A lowered IFSC stays low. */
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 4);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 20 04 00 A4 04 00", "00 90 00", CCID_T1_SEND },
	     { "00 40 01 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(card_ifs_invalid)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 C1 01 00", CCID_T1_SEND },
	     { "00 82 00", "00 C1 01 FF", CCID_T1_SEND },
	     { "00 82 00", "00 00 02 90 00", CCID_T1_DONE });
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), 32);
}
END_TEST

/* ---------------------------------------------------------------- wtx */

START_TEST(wtx_request)
{
	struct ccid_t1 t1;
	uint8_t rsp[16], b[BUF];
	int n;

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 1);
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 C3 01 05", CCID_T1_SEND });
	/* The wait after our S(WTX response) is 5 × BWT ... */
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 5);
	PLAY(&t1, CCID_EDC_LRC, { "00 E3 01 05", "00 C3 01 02", CCID_T1_SEND });
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 2);
	PLAY(&t1, CCID_EDC_LRC, { "00 E3 01 02", "00 00 02 90 00", CCID_T1_DONE });
	/* ... and only that one. */
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 1);
	assert_rsp(&t1, rsp, "90 00");

	/* A lost block after WTX: the extension does not carry over. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 40 05 00 A4 04 00 00", "00 C3 01 09", CCID_T1_SEND });
	n = ccid_t1_next_block(&t1, b, sizeof(b));
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 9);
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), CCID_T1_SEND);
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 1);
}
END_TEST

START_TEST(wtx_zero_refused)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 C3 01 00", CCID_T1_SEND },
	     { "00 82 00", "00 00 02 90 00", CCID_T1_DONE });
	ck_assert_uint_eq(ccid_t1_wtx(&t1), 1);
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(lost_block_recovered)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
}
END_TEST

START_TEST(lost_block_card_asks_again)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	/* Our I-block never reached the card: it answers our R with R(0), we resend. */
	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", "00 82 00", CCID_T1_SEND },
	     { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(corrupted_block_recovered)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "!00 00 02 90 00 93", CCID_T1_SEND },
	     { "00 81 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");

	/* Truncated and over-long blocks are transmission errors too. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 40 05 00 A4 04 00 00", "!00 40 02 90", CCID_T1_SEND },
	     { "00 91 00", "!00 40 02 90 00 D2 00", CCID_T1_SEND },
	     { "00 91 00", "00 40 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(rule_7_2_same_r)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	/* After an R-block, any new error repeats that very R-block. */
	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "!00 00 02 90 00 00", CCID_T1_SEND },
	     { "00 81 00", NULL, CCID_T1_SEND },
	     { "00 81 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(other_errors)
{
	static const char *const bad[] = {
		"00 40 02 90 00",  /* wrong N(S) */
		"!00 00 FF 00 00", /* LEN 0xFF */
		"00 80 01 00",     /* R-block with INF */
		"00 E1 01 20",     /* S(IFS response) nobody asked for */
		"00 E2 00",        /* S(ABORT response) nobody asked for */
		"00 C0 00",        /* S(RESYNCH request) from the card */
		"00 C6 00",        /* RFU S type */
		"00 90 00",        /* R acknowledging a block that was not chained */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ccid_t1 t1;
		uint8_t rsp[16];
		const struct step s[] = {
			{ "00 00 05 00 A4 04 00 00", bad[i], CCID_T1_SEND },
			{ "00 82 00", "00 00 02 90 00", CCID_T1_DONE },
		};

		setup(&t1, CCID_EDC_LRC, 32, 32);
		begin_select(&t1, rsp, sizeof(rsp));
		play(&t1, CCID_EDC_LRC, s, 2);
		assert_rsp(&t1, rsp, "90 00");
	}
}
END_TEST

START_TEST(card_aborts)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 20 01 01", CCID_T1_SEND },
	     { "00 90 00", "00 C2 00", CCID_T1_SEND },
	     /* Rule 9: confirm; the card hands back the right to send with an R-block. */
	     { "00 E2 00", "00 80 00", -ECONNABORTED });
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), -EINVAL);
	/* Sequence numbers are unknown now: the next exchange resynchronises first. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
}
END_TEST

START_TEST(card_aborts_silently)
{
	struct ccid_t1 t1;
	uint8_t apdu[40] = { 0 }, rsp[16];

	/* The card aborts our chain and then stays silent: the abort still completes. */
	setup(&t1, CCID_EDC_LRC, 32, 32);
	ck_assert_int_eq(ccid_t1_begin(&t1, apdu, sizeof(apdu), rsp, sizeof(rsp)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 20 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
	       " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "00 C2 00", CCID_T1_SEND },
	     { "00 E2 00", NULL, -ECONNABORTED });
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 254), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC, { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 C1 01 FE", "00 E1 01 FE", CCID_T1_DONE });
}
END_TEST

/* ---------------------------------------------------------------- resynch */

START_TEST(retries_then_resynch)
{
	struct ccid_t1 t1;
	uint8_t rsp[16];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
	/* N(S) is 1 now; three recoveries, the fourth error asks for RESYNCH. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 40 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 92 00", NULL, CCID_T1_SEND },
	     { "00 92 00", NULL, CCID_T1_SEND },
	     { "00 92 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     /* Rule 6.3: both sides back to N(S) = 0, the APDU starts over. */
	     { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
}
END_TEST

START_TEST(resynch_restarts_chain)
{
	struct ccid_t1 t1;
	uint8_t apdu[6] = { 1, 2, 3, 4, 5, 6 }, rsp[16];

	setup(&t1, CCID_EDC_LRC, 4, 32);
	ck_assert_int_eq(ccid_t1_begin(&t1, apdu, sizeof(apdu), rsp, sizeof(rsp)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 20 04 01 02 03 04", "00 90 00", CCID_T1_SEND },
	     /* The card keeps asking for block 1 until the retries run out. */
	     { "00 40 02 05 06", "00 90 00", CCID_T1_SEND },
	     { "00 40 02 05 06", "00 90 00", CCID_T1_SEND },
	     { "00 40 02 05 06", "00 90 00", CCID_T1_SEND },
	     { "00 40 02 05 06", "00 90 00", CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 20 04 01 02 03 04", "00 90 00", CCID_T1_SEND },
	     { "00 40 02 05 06", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(resynch_fails_dead)
{
	struct ccid_t1 t1;
	uint8_t rsp[16], b[BUF];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", NULL, CCID_T1_SEND },
	     /* An I-block is no answer to RESYNCH either. */
	     { "00 C0 00", "00 00 02 90 00", CCID_T1_SEND },
	     { "00 C0 00", NULL, -EPROTO });
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, sizeof(b)), -EPROTO);
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), -EPROTO);
	ck_assert_int_eq(ccid_t1_begin(&t1, select_apdu, sizeof(select_apdu), rsp, sizeof(rsp)), -EPROTO);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 254), -EPROTO);
	/* Only a new init (after the caller reset the card) revives it. */
	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(resynch_budget_per_exchange)
{
	struct ccid_t1 t1;
	struct ccid_t1_config cfg = { .max_retries = 1, .max_resynch = 2 };
	uint8_t rsp[16];

	/* A card that answers RESYNCH but nothing else cannot loop forever. */
	ccid_t1_init(&t1, &cfg);
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 00 05 00 A4 04 00 00", NULL, CCID_T1_SEND },
	     { "00 82 00", NULL, -EPROTO });
}
END_TEST

START_TEST(ifsd_after_resynch)
{
	struct ccid_t1 t1;
	struct ccid_t1_config cfg = { .max_retries = 1 };

	ccid_t1_init(&t1, &cfg);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 0x80), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 C1 01 80", NULL, CCID_T1_SEND },
	     { "00 C1 01 80", "00 81 00", CCID_T1_SEND },
	     { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 C1 01 80", "00 E1 01 80", CCID_T1_DONE });
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(response_too_large)
{
	struct ccid_t1 t1;
	uint8_t rsp[8];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, 4);
	/* The chain is drained, so the card is ready for the next APDU. */
	PLAY(&t1, CCID_EDC_LRC,
	     { "00 00 05 00 A4 04 00 00", "00 20 03 01 02 03", CCID_T1_SEND },
	     { "00 90 00", "00 60 03 04 05 06", CCID_T1_SEND },
	     { "00 80 00", "00 00 04 07 08 90 00", -EMSGSIZE });
	ck_assert_uint_eq(ccid_t1_response_len(&t1), 10);
	ck_assert_mem_eq(rsp, "\x01\x02\x03\x04", 4);
	begin_select(&t1, rsp, 2);
	PLAY(&t1, CCID_EDC_LRC, { "00 40 05 00 A4 04 00 00", "00 40 02 90 00", CCID_T1_DONE });
	assert_rsp(&t1, rsp, "90 00");
	/* No room at all. */
	ck_assert_int_eq(ccid_t1_begin(&t1, select_apdu, sizeof(select_apdu), NULL, 0), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC, { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", -EMSGSIZE });
	ck_assert_uint_eq(ccid_t1_response_len(&t1), 2);
}
END_TEST

START_TEST(endless_chain_cut)
{
	struct ccid_t1 t1;
	uint8_t rsp[16], b[BUF], card[BUF];
	size_t steps = 0;
	int rc, n;

	setup(&t1, CCID_EDC_LRC, 32, 254);
	begin_select(&t1, rsp, sizeof(rsp));
	memset(card, 0x33, sizeof(card));
	card[0] = 0;
	card[2] = 254;
	do {
		n = ccid_t1_next_block(&t1, b, sizeof(b));
		ck_assert_int_gt(n, 0);
		/* Always the next N(S), always M=1: a well-formed, never-ending chain. */
		card[1] = (uint8_t)((steps & 1 ? 0x40 : 0x00) | 0x20);
		card[3 + 254] = ccid_t1_lrc(card, 3 + 254);
		rc = ccid_t1_feed(&t1, card, 3 + 254 + 1);
		steps++;
	} while (rc == CCID_T1_SEND && steps < 1000);
	ck_assert_int_eq(rc, -EMSGSIZE);
	ck_assert_uint_eq(steps, CCID_T1_RESPONSE_LIMIT / 254 + 1);
	ck_assert_uint_gt(ccid_t1_response_len(&t1), CCID_T1_RESPONSE_LIMIT);
	/* The card is still mid-chain: the next exchange starts with RESYNCH. */
	begin_select(&t1, rsp, sizeof(rsp));
	PLAY(&t1, CCID_EDC_LRC, { "00 C0 00", "00 E0 00", CCID_T1_SEND },
	     { "00 00 05 00 A4 04 00 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(oversize_fed_block)
{
	struct ccid_t1 t1;
	uint8_t rsp[16], b[BUF], big[400];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	begin_select(&t1, rsp, sizeof(rsp));
	ck_assert_int_gt(ccid_t1_next_block(&t1, b, sizeof(b)), 0);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(ccid_t1_feed(&t1, big, sizeof(big)), CCID_T1_SEND);
	PLAY(&t1, CCID_EDC_LRC, { "00 81 00", "00 00 02 90 00", CCID_T1_DONE });
}
END_TEST

START_TEST(misuse)
{
	struct ccid_t1 t1;
	uint8_t rsp[16], b[BUF];

	setup(&t1, CCID_EDC_LRC, 32, 32);
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), -EINVAL);
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(ccid_t1_begin(&t1, select_apdu, 0, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(ccid_t1_begin(&t1, NULL, 5, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(ccid_t1_begin(&t1, select_apdu, 5, NULL, 4), -EINVAL);
	begin_select(&t1, rsp, sizeof(rsp));
	ck_assert_int_eq(ccid_t1_begin(&t1, select_apdu, 5, rsp, sizeof(rsp)), -EBUSY);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 32), -EBUSY);
	/* Feeding before the block went out. */
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), -EINVAL);
	/* A too-small buffer changes nothing. */
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, 8), -ENOBUFS);
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, 9), 9);
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, 9), -EINVAL);
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 3), -EINVAL);
	ck_assert_int_eq(ccid_t1_feed(&t1, (const uint8_t *)"\x00\x00\x02\x90\x00\x92", 6),
			 CCID_T1_DONE);
	ck_assert_int_eq(ccid_t1_feed(&t1, NULL, 0), -EINVAL);
	/* NULL engine. */
	ck_assert_int_eq(ccid_t1_feed(NULL, NULL, 0), -EINVAL);
	ck_assert_uint_eq(ccid_t1_wtx(NULL), 1);
}
END_TEST

START_TEST(config_defaults)
{
	struct ccid_t1 t1;
	struct ccid_t1_config cfg = { .ifsc = 255, .ifsd = 0, .edc = (enum ccid_edc)9 };
	uint8_t rsp[64], b[BUF];

	ccid_t1_init(&t1, NULL);
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), CCID_T1_IFS_DEFAULT);
	ccid_t1_init(&t1, &cfg);
	ck_assert_uint_eq(ccid_t1_ifsc(&t1), CCID_T1_IFS_DEFAULT);
	/* An unknown EDC means LRC: a 5-byte APDU is a 9-byte block. */
	begin_select(&t1, rsp, sizeof(rsp));
	ck_assert_int_eq(ccid_t1_next_block(&t1, b, sizeof(b)), 9);
}
END_TEST

/* ---------------------------------------------------------------- random */

static uint32_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift32: reproducible without libc state. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A random card block: mostly well-formed with a correct EDC, sometimes garbage. */
static size_t random_block(enum ccid_edc edc, uint8_t *b, size_t cap)
{
	static const uint8_t pcbs[] = { 0x00, 0x40, 0x20, 0x60, 0x80, 0x90, 0x81, 0x92, 0xC0,
					0xE0, 0xC1, 0xE1, 0xC2, 0xE2, 0xC3, 0xE3, 0xA0, 0xFF };
	uint32_t r = rnd();
	size_t len, n;

	if (r % 10 == 0)
		return 0;
	if (r % 10 == 1) {
		n = rnd() % (cap < 300 ? cap : 300);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rnd();
		return n;
	}
	b[0] = 0;
	b[1] = pcbs[rnd() % sizeof(pcbs)];
	if ((b[1] & 0xC0) == 0x80)
		len = 0;
	else if ((b[1] & 0xC0) == 0xC0)
		len = (b[1] & 1) ? 1 : 0;
	else
		len = rnd() % 40;
	b[2] = (uint8_t)len;
	for (size_t i = 0; i < len; i++)
		b[3 + i] = (uint8_t)rnd();
	if (len == 1 && (b[1] & 0xC0) == 0xC0)
		b[3] = (uint8_t)(rnd() % 4);
	n = 3 + len;
	if (edc == CCID_EDC_CRC) {
		uint16_t c = ccid_t1_crc(b, n);

		b[n++] = (uint8_t)(c >> 8);
		b[n++] = (uint8_t)c;
	} else {
		b[n] = ccid_t1_lrc(b, n);
		n++;
	}
	return n;
}

START_TEST(random_card)
{
	/* No S(WTX)/S(IFS) can prolong an exchange by more than these per valid request. */
	const size_t bound = 100000;
	unsigned outcome[4] = { 0 }; /* DONE, -EMSGSIZE, -ECONNABORTED, -EPROTO */

	rng_state = 0x12345678u + (uint32_t)_i;
	for (unsigned run = 0; run < 300; run++) {
		struct ccid_t1 t1;
		struct ccid_t1_config cfg = {
			.ifsc = (uint8_t)(1 + rnd() % 254),
			.ifsd = (uint8_t)(1 + rnd() % 254),
			.edc = (enum ccid_edc)(rnd() % 2),
			.max_retries = rnd() % 4,
			.max_resynch = rnd() % 4,
		};
		uint8_t apdu[600], rsp[300], out[BUF], in[BUF];
		size_t apdu_len = 1 + rnd() % sizeof(apdu), steps = 0;
		size_t rsp_cap = rnd() % sizeof(rsp);
		int rc;

		for (size_t i = 0; i < apdu_len; i++)
			apdu[i] = (uint8_t)rnd();
		ccid_t1_init(&t1, &cfg);
		rc = (run % 5 == 0) ? ccid_t1_begin_ifsd(&t1, (uint8_t)(1 + rnd() % 254))
				    : ccid_t1_begin(&t1, apdu, apdu_len, rsp, rsp_cap);
		ck_assert_int_eq(rc, CCID_T1_SEND);
		while (rc == CCID_T1_SEND) {
			struct ccid_t1_block d;
			int n = ccid_t1_next_block(&t1, out, sizeof(out));
			size_t in_len;

			/* What the host sends is always a valid block of at most IFSC bytes. */
			ck_assert_int_gt(n, 0);
			ck_assert_int_eq(ccid_t1_block_decode(out, (size_t)n, cfg.edc, &d, NULL), 0);
			if (d.type == CCID_T1_BLOCK_I)
				ck_assert_uint_le(d.len, ccid_t1_ifsc(&t1));
			in_len = random_block(cfg.edc, in, sizeof(in));
			rc = ccid_t1_feed(&t1, in_len ? in : NULL, in_len);
			ck_assert_msg(rc == CCID_T1_SEND || rc == CCID_T1_DONE || rc == -EMSGSIZE ||
					      rc == -ECONNABORTED || rc == -EPROTO,
				      "feed returned %d", rc);
			ck_assert_uint_lt(++steps, bound);
		}
		if (rc == CCID_T1_DONE) {
			outcome[0]++;
			ck_assert_uint_le(ccid_t1_response_len(&t1), rsp_cap);
		} else {
			outcome[rc == -EMSGSIZE ? 1 : rc == -ECONNABORTED ? 2 : 3]++;
		}
	}
	/* The generator is rich enough to reach every ending. */
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_gt(outcome[i], 0);
}
END_TEST

/*
 * Only garbage and silence: the exchange must end in -EPROTO after exactly
 * (max_retries + 1) × ... blocks — bounded by the configuration alone.
 */
START_TEST(garbage_card_bounded)
{
	for (unsigned retries = 1; retries <= 4; retries++) {
		for (unsigned resynch = 1; resynch <= 4; resynch++) {
			struct ccid_t1 t1;
			struct ccid_t1_config cfg = { .max_retries = retries, .max_resynch = resynch };
			uint8_t rsp[16], out[BUF];
			const uint8_t junk[] = { 0x00, 0x00, 0x01, 0x42, 0x00 };
			size_t steps = 0;
			int rc;

			ccid_t1_init(&t1, &cfg);
			begin_select(&t1, rsp, sizeof(rsp));
			do {
				ck_assert_int_gt(ccid_t1_next_block(&t1, out, sizeof(out)), 0);
				rc = ccid_t1_feed(&t1, steps & 1 ? junk : NULL, steps & 1 ? sizeof(junk) : 0);
				steps++;
			} while (rc == CCID_T1_SEND);
			ck_assert_int_eq(rc, -EPROTO);
			/* The block itself, max_retries recoveries, then max_resynch RESYNCH requests. */
			ck_assert_uint_eq(steps, 1 + retries + resynch);
		}
	}
}
END_TEST

static Suite *t1_suite(void)
{
	Suite *s = suite_create("t1");
	TCase *tc;

	tc = tcase_create("edc");
	tcase_add_test(tc, lrc_vectors);
	tcase_add_test(tc, crc_vectors);
	tcase_add_test(tc, crc_high_byte_first);
	suite_add_tcase(s, tc);

	tc = tcase_create("block");
	tcase_add_test(tc, encode_blocks);
	tcase_add_test(tc, decode_i_r_s);
	tcase_add_test(tc, truncated_and_oversize);
	tcase_add_test(tc, block_larger_than_any);
	tcase_add_test(tc, bad_edc);
	tcase_add_test(tc, forbidden_fields);
	tcase_add_test(tc, describe_block);
	tcase_add_test(tc, describe_pcb_texts);
	suite_add_tcase(s, tc);

	tc = tcase_create("exchange");
	tcase_add_test(tc, simple_exchange);
	tcase_add_test(tc, crc_exchange);
	tcase_add_test(tc, nad_swapped);
	suite_add_tcase(s, tc);

	tc = tcase_create("chaining");
	tcase_add_test(tc, host_chaining);
	tcase_add_test(tc, card_chaining);
	tcase_add_test(tc, card_chain_with_lost_ack);
	suite_add_tcase(s, tc);

	tc = tcase_create("ifs");
	tcase_add_test(tc, ifsd_announce);
	tcase_add_test(tc, ifsd_enforced);
	tcase_add_test(tc, card_changes_ifsc);
	tcase_add_test(tc, card_ifs_invalid);
	tcase_add_test(tc, ifsc_lowered_before_retransmission);
	tcase_add_test(tc, ifsc_after_resynch);
	suite_add_tcase(s, tc);

	tc = tcase_create("wtx");
	tcase_add_test(tc, wtx_request);
	tcase_add_test(tc, wtx_zero_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, lost_block_recovered);
	tcase_add_test(tc, lost_block_card_asks_again);
	tcase_add_test(tc, corrupted_block_recovered);
	tcase_add_test(tc, rule_7_2_same_r);
	tcase_add_test(tc, other_errors);
	tcase_add_test(tc, card_aborts);
	tcase_add_test(tc, card_aborts_silently);
	suite_add_tcase(s, tc);

	tc = tcase_create("resynch");
	tcase_add_test(tc, retries_then_resynch);
	tcase_add_test(tc, resynch_restarts_chain);
	tcase_add_test(tc, resynch_fails_dead);
	tcase_add_test(tc, resynch_budget_per_exchange);
	tcase_add_test(tc, ifsd_after_resynch);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, response_too_large);
	tcase_add_test(tc, endless_chain_cut);
	tcase_add_test(tc, oversize_fed_block);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, config_defaults);
	tcase_add_loop_test(tc, random_card, 0, 4);
	tcase_add_test(tc, garbage_card_bounded);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tu_run(t1_suite());
}
