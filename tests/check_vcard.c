/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check tests for the simulated smart card of the virtual reader: its ATR
 * read back through ccid_atr_parse(), PPS answers judged by
 * ccid_pps_check(), every application command's status words as exact
 * bytes, the T=0 TPDU mapping (6Cxx, 61xx / GET RESPONSE), and the T=1 card
 * side driven by the codec's host engine — so host and card are shown to
 * agree on chaining, S(IFS), S(WTX), RESYNCH and error recovery.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/t1.h"
#include "ccid/timing.h"
#include "tests/testutil.h"
#include "vreader/card.h"

#define BIG (VCARD_RSP_MAX + 16)
#define NONE UINT_MAX

static const char *const HIST = "75 63 63 69 64 20 76 63 61 72 64"; /* "uccid vcard" */
static const char *const AID = "F0 75 63 63 69 64 01";

/* ------------------------------------------------------------- helpers */

static struct vcard *card_new(const struct vcard_config *cfg)
{
	uint8_t atr[CCID_ATR_MAX];
	struct vcard *card = vcard_new(cfg);

	ck_assert_ptr_nonnull(card);
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	return card;
}

static struct vcard *card_proto(uint16_t protocols)
{
	struct vcard_config cfg;

	vcard_config_default(&cfg, protocols);
	return card_new(&cfg);
}

static void to_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02X ", p[i]);
}

static void expect_bytes(const char *what, const uint8_t *got, size_t n, const char *want_hex)
{
	uint8_t want[600] = { 0 };
	char hg[1800], hw[1800];
	size_t wn = tu_hex(want_hex, want, sizeof(want));

	to_hex(got, n, hg, sizeof(hg));
	to_hex(want, wn, hw, sizeof(hw));
	ck_assert_msg(n == wn && !memcmp(got, want, wn), "%s: got %s, expected %s", what, hg, hw);
}

/* One APDU at APDU level: the response must be exactly rsp_hex. */
static void xa(struct vcard *card, const char *cmd_hex, const char *rsp_hex)
{
	uint8_t cmd[600];
	static uint8_t rsp[BIG];
	size_t n = tu_hex(cmd_hex, cmd, sizeof(cmd));
	int rn = vcard_apdu(card, cmd, n, rsp, sizeof(rsp), NULL);

	ck_assert_msg(rn >= 2, "%s: vcard_apdu returned %d", cmd_hex, rn);
	expect_bytes(cmd_hex, rsp, (size_t)rn, rsp_hex);
}

/* One T=0 TPDU: the answer must be exactly rsp_hex. */
static void xt0(struct vcard *card, const char *tpdu_hex, const char *rsp_hex)
{
	uint8_t cmd[600];
	static uint8_t rsp[BIG];
	size_t n = tu_hex(tpdu_hex, cmd, sizeof(cmd));
	int rn = vcard_t0_tpdu(card, cmd, n, rsp, sizeof(rsp), NULL);

	ck_assert_msg(rn >= 2, "%s: vcard_t0_tpdu returned %d", tpdu_hex, rn);
	expect_bytes(tpdu_hex, rsp, (size_t)rn, rsp_hex);
}

/* Response length and its SW for a command built in memory. */
static size_t apdu_buf(struct vcard *card, const uint8_t *cmd, size_t n, uint8_t *rsp, unsigned sw)
{
	int rn = vcard_apdu(card, cmd, n, rsp, BIG, NULL);

	ck_assert_int_ge(rn, 2);
	ck_assert_uint_eq((unsigned)rsp[rn - 2] << 8 | rsp[rn - 1], sw);
	return (size_t)rn - 2;
}

static void expect_pattern(const uint8_t *p, size_t n, size_t start)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(p[i] == (uint8_t)((start + i) & 0xFF), "byte %zu is %02X", i, p[i]);
}

static void parse_atr(struct vcard *card, bool warm, struct ccid_atr *atr)
{
	uint8_t buf[CCID_ATR_MAX];
	struct ccid_diag diag = { 0 };
	int n = vcard_reset(card, warm, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_msg(ccid_atr_parse(buf, (size_t)n, atr, &diag) == 0, "ATR refused at %zu: %s",
		      diag.offset, diag.expected);
	ck_assert_uint_eq(atr->flags, 0);
}

/* ------------------------------------------------------------------ atr */

START_TEST(atr_t0_default)
{
	struct vcard *card;
	struct vcard_config cfg;
	uint8_t atr[CCID_ATR_MAX];
	char want[128];
	struct ccid_atr a;

	vcard_config_default(&cfg, VCARD_PROTO_T0);
	card = vcard_new(&cfg);
	ck_assert_ptr_nonnull(card);
	ck_assert(!vcard_powered(card));
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 13);
	snprintf(want, sizeof(want), "3B 0B %s", HIST);
	expect_bytes("ATR", atr, 13, want);
	ck_assert(vcard_powered(card));
	parse_atr(card, false, &a);
	ck_assert_uint_eq(a.protocols, 1);
	ck_assert_uint_eq(a.default_protocol, 0);
	ck_assert(!a.has_tck);
	ck_assert_uint_eq(a.hist_len, 11);
	ck_assert_mem_eq(a.bytes + a.hist_offset, "uccid vcard", 11);
	ck_assert_uint_eq(vcard_protocol(card), 0);
	ck_assert_uint_eq(vcard_fidi(card), 0x11);
	vcard_free(card);
}
END_TEST

START_TEST(atr_t1_default)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	uint8_t atr[CCID_ATR_MAX];
	char want[128];
	struct ccid_atr a;
	uint8_t tck = 0x8B ^ 0x81 ^ 0x31 ^ 0x20 ^ 0x4D;

	for (const char *h = "uccid vcard"; *h; h++)
		tck ^= (uint8_t)*h;
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 18);
	snprintf(want, sizeof(want), "3B 8B 81 31 20 4D %s %02X", HIST, tck);
	expect_bytes("ATR", atr, 18, want);
	parse_atr(card, false, &a);
	ck_assert_uint_eq(a.protocols, 2);
	ck_assert_uint_eq(a.default_protocol, 1);
	ck_assert(a.has_tck);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 13);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert(!a.specific_mode);
	ck_assert_uint_eq(vcard_protocol(card), 1);
	vcard_free(card);
}
END_TEST

START_TEST(atr_both_crc_ta1)
{
	struct vcard_config cfg;
	struct vcard *card;
	uint8_t atr[CCID_ATR_MAX];
	struct ccid_atr a;

	vcard_config_default(&cfg, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg.ta1 = 0x96;
	cfg.ifsc = 254;
	cfg.bwi = 7;
	cfg.cwi = 5;
	cfg.edc = CCID_EDC_CRC;
	cfg.hist_len = 0;
	card = card_new(&cfg);
	/* TA1, TD1 (T=0, TD2 follows), TD2 (T=1: TA3 TB3 TC3), IFSC FE, BWI/CWI 75, CRC 01, TCK. */
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 9);
	expect_bytes("ATR", atr, 9, "3B 90 96 80 71 FE 75 01 7D");
	parse_atr(card, false, &a);
	ck_assert_uint_eq(a.protocols, 3);
	ck_assert_uint_eq(a.default_protocol, 0);
	ck_assert_uint_eq(a.Fi, 512);
	ck_assert_uint_eq(a.Di, 32);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.BWI, 7);
	ck_assert_uint_eq(a.CWI, 5);
	ck_assert_int_eq(a.edc, CCID_EDC_CRC);
	vcard_free(card);
	/* T=1 first: TD1 says T=1, TD3 adds T=0. */
	cfg.t1_first = true;
	card = card_new(&cfg);
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 10);
	expect_bytes("ATR", atr, 10, "3B 90 96 81 F1 FE 75 01 00 FC");
	parse_atr(card, false, &a);
	ck_assert_uint_eq(a.protocols, 3);
	ck_assert_uint_eq(a.default_protocol, 1);
	ck_assert_uint_eq(vcard_protocol(card), 1);
	vcard_free(card);
}
END_TEST

START_TEST(atr_round_trip)
{
	static const uint8_t ta1s[] = { 0x11, 0x96, 0x18, 0x13 };
	unsigned i = (unsigned)_i;
	struct vcard_config cfg;
	struct vcard *card;
	struct ccid_atr a;
	uint16_t protocols = (uint16_t)(i % 3 + 1);

	vcard_config_default(&cfg, protocols);
	cfg.t1_first = (i / 3) % 2;
	cfg.ta1 = ta1s[(i / 6) % 4];
	cfg.specific_mode = (i / 24) % 2;
	cfg.edc = (i / 48) % 2 ? CCID_EDC_CRC : CCID_EDC_LRC;
	cfg.ifsc = (i / 48) % 2 ? 254 : 32;
	cfg.bwi = (uint8_t)(i % 10);
	cfg.cwi = (uint8_t)(i % 16);
	cfg.hist_len = (i / 96) % 2 ? 15 : 0;
	memcpy(cfg.hist, "0123456789ABCDE", 15);
	card = card_new(&cfg);
	parse_atr(card, false, &a);

	ck_assert_uint_eq(a.protocols, protocols);
	if (protocols == 3)
		ck_assert_uint_eq(a.default_protocol, cfg.t1_first ? 1 : 0);
	else
		ck_assert_uint_eq(a.default_protocol, protocols == 1 ? 0 : 1);
	ck_assert_uint_eq(vcard_protocol(card), a.default_protocol);
	ck_assert_uint_eq(a.Fi_index, cfg.ta1 >> 4);
	ck_assert_uint_eq(a.Di_index, cfg.ta1 & 0x0F);
	ck_assert(a.specific_mode == cfg.specific_mode);
	if (cfg.specific_mode) {
		ck_assert_uint_eq(a.ta2_protocol, a.default_protocol);
		ck_assert(!a.ta2_can_change);
		ck_assert(!a.ta2_implicit);
		ck_assert_uint_eq(vcard_fidi(card), cfg.ta1);
	} else {
		ck_assert_uint_eq(vcard_fidi(card), 0x11);
	}
	ck_assert(a.has_tck == ((protocols & VCARD_PROTO_T1) != 0));
	if (protocols & VCARD_PROTO_T1) {
		ck_assert_uint_eq(a.IFSC, cfg.ifsc);
		ck_assert_uint_eq(a.BWI, cfg.bwi);
		ck_assert_uint_eq(a.CWI, cfg.cwi);
		ck_assert_int_eq(a.edc, cfg.edc);
	}
	ck_assert_uint_eq(a.N, 0);
	ck_assert_uint_eq(a.WI, 10);
	ck_assert_uint_eq(a.hist_len, cfg.hist_len);
	ck_assert_mem_eq(a.bytes + a.hist_offset, cfg.hist, cfg.hist_len);
	/* A warm reset gives the same ATR. */
	{
		struct ccid_atr w;

		parse_atr(card, true, &w);
		ck_assert_uint_eq(w.len, a.len);
		ck_assert_mem_eq(w.bytes, a.bytes, a.len);
	}
	vcard_free(card);
}
END_TEST

START_TEST(atr_specific_t0)
{
	struct vcard_config cfg;
	struct vcard *card;
	uint8_t atr[CCID_ATR_MAX];

	vcard_config_default(&cfg, VCARD_PROTO_T0);
	cfg.specific_mode = true;
	cfg.ta1 = 0x18;
	cfg.hist_len = 1;
	cfg.hist[0] = 0x80;
	card = card_new(&cfg);
	/* TA1 TD1(T=0, TA2 follows) TA2 = 80 (T=0, cannot change); no TCK. */
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 6);
	expect_bytes("ATR", atr, 6, "3B 91 18 10 80 80");
	vcard_free(card);
}
END_TEST

START_TEST(config_invalid)
{
	struct vcard_config cfg;

	ck_assert_ptr_null(vcard_new(NULL));
	vcard_config_default(&cfg, 0);
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, 4);
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.ifsc = 0;
	ck_assert_ptr_null(vcard_new(&cfg));
	cfg.ifsc = 255;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.ta1 = 0x17;         /* Fi index 1, Di index 7 = 64: valid */
	vcard_free(vcard_new(&cfg));
	cfg.ta1 = 0x71;         /* Fi index 7 RFU */
	ck_assert_ptr_null(vcard_new(&cfg));
	cfg.ta1 = 0x10;         /* Di index 0 RFU */
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.bwi = 10;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.hist_len = 16;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.pin_len = 0;
	ck_assert_ptr_null(vcard_new(&cfg));
	cfg.pin_len = 9;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.pin_tries = 16;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.clock_khz = 0;
	ck_assert_ptr_null(vcard_new(&cfg));
	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.edc = (enum ccid_edc)2;
	ck_assert_ptr_null(vcard_new(&cfg));
}
END_TEST

/* ------------------------------------------------------------------ pps */

static struct vcard *card_both_96(void)
{
	struct vcard_config cfg;

	vcard_config_default(&cfg, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg.ta1 = 0x96;
	return card_new(&cfg);
}

/* Send a PPS request; return the answer length and check it with ccid_pps_check. */
static int pps(struct vcard *card, const char *req_hex, const char *rsp_hex, struct ccid_pps *agreed)
{
	uint8_t req[8], rsp[8];
	size_t n = tu_hex(req_hex, req, sizeof(req));
	int rn = vcard_pps(card, req, n, rsp, sizeof(rsp));

	ck_assert_int_ge(rn, 0);
	expect_bytes(req_hex, rsp, (size_t)rn, rsp_hex);
	if (rn > 0 && agreed)
		ck_assert_int_eq(ccid_pps_check(req, n, rsp, (size_t)rn, agreed, NULL), 0);
	return rn;
}

START_TEST(pps_accept_ta1)
{
	struct vcard *card = card_both_96();
	struct ccid_pps ag;

	ck_assert_uint_eq(vcard_protocol(card), 0);
	pps(card, "FF 11 96 78", "FF 11 96 78", &ag);
	ck_assert(ag.has_pps1);
	ck_assert_uint_eq(ag.pps1, 0x96);
	ck_assert_uint_eq(vcard_protocol(card), 1);
	ck_assert_uint_eq(vcard_fidi(card), 0x96);
	vcard_free(card);
}
END_TEST

START_TEST(pps_accept_lower_di)
{
	struct vcard *card = card_both_96();
	struct ccid_pps ag;

	/* Di index 5 = 16 < 32. */
	pps(card, "FF 10 95 7A", "FF 10 95 7A", &ag);
	ck_assert_uint_eq(vcard_fidi(card), 0x95);
	ck_assert_uint_eq(vcard_protocol(card), 0);
	vcard_free(card);
	/* The defaults are always acceptable. */
	card = card_both_96();
	pps(card, "FF 11 11 FF", "FF 11 11 FF", &ag);
	ck_assert_uint_eq(vcard_fidi(card), 0x11);
	vcard_free(card);
}
END_TEST

START_TEST(pps_decline_pps1)
{
	struct vcard *card = card_both_96();
	struct ccid_pps ag;

	/* Di index 7 = 64 > 32: answered without PPS1, Fd/Dd stay (§9.3). */
	pps(card, "FF 11 97 79", "FF 01 FE", &ag);
	ck_assert(!ag.has_pps1);
	ck_assert_uint_eq(vcard_fidi(card), 0x11);
	ck_assert_uint_eq(vcard_protocol(card), 1);
	vcard_free(card);
	/* Another Fi than TA1's. */
	card = card_both_96();
	pps(card, "FF 10 18 F7", "FF 00 FF", &ag);
	ck_assert(!ag.has_pps1);
	vcard_free(card);
	/* PPS2 is never accepted. */
	card = card_both_96();
	pps(card, "FF 31 96 00 58", "FF 11 96 78", &ag);
	ck_assert(ag.has_pps1);
	ck_assert(!ag.has_pps2);
	vcard_free(card);
}
END_TEST

START_TEST(pps_only_first)
{
	struct vcard *card = card_both_96();
	uint8_t atr[CCID_ATR_MAX];

	pps(card, "FF 11 96 78", "FF 11 96 78", NULL);
	/* A second PPS: mute. */
	pps(card, "FF 10 96 79", "", NULL);
	ck_assert_uint_eq(vcard_protocol(card), 1);
	/* After a warm reset the default protocol and Fi/Di are back, PPS allowed again. */
	ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	ck_assert_uint_eq(vcard_protocol(card), 0);
	ck_assert_uint_eq(vcard_fidi(card), 0x11);
	pps(card, "FF 10 96 79", "FF 10 96 79", NULL);
	/* After any other exchange: mute. */
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	xa(card, "80 12 00 00", "90 00");
	pps(card, "FF 11 96 78", "", NULL);
	ck_assert_uint_eq(vcard_protocol(card), 0);
	vcard_free(card);
}
END_TEST

START_TEST(pps_refused)
{
	struct vcard_config cfg;
	struct vcard *card;
	uint8_t rsp[8];

	/* Protocol not offered. */
	card = card_proto(VCARD_PROTO_T0);
	pps(card, "FF 01 FE", "", NULL);
	ck_assert_uint_eq(vcard_protocol(card), 0);
	vcard_free(card);
	/* Bad PCK, and a failed PPS also uses up the chance. */
	card = card_both_96();
	pps(card, "FF 11 96 00", "", NULL);
	pps(card, "FF 11 96 78", "", NULL);
	vcard_free(card);
	/* Specific mode. */
	vcard_config_default(&cfg, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg.specific_mode = true;
	cfg.ta1 = 0x96;
	card = card_new(&cfg);
	pps(card, "FF 11 96 78", "", NULL);
	ck_assert_uint_eq(vcard_fidi(card), 0x96);
	vcard_free(card);
	/* T=0 request for a T=0 card: echoed, defaults unchanged. */
	card = card_proto(VCARD_PROTO_T0);
	pps(card, "FF 00 FF", "FF 00 FF", NULL);
	/* Misuse. */
	ck_assert_int_eq(vcard_pps(NULL, rsp, 3, rsp, 8), -EINVAL);
	vcard_power_off(card);
	ck_assert_int_eq(vcard_pps(card, (const uint8_t *)"\xFF\x00\xFF", 3, rsp, 8), -ENODEV);
	vcard_free(card);
	card = card_both_96();
	ck_assert_int_eq(vcard_pps(card, (const uint8_t *)"\xFF\x11\x96\x78", 4, rsp, 3), -ENOBUFS);
	/* A too small buffer is a reader bug and does not use up the PPS. */
	pps(card, "FF 11 96 78", "FF 11 96 78", NULL);
	vcard_free(card);
}
END_TEST

/* ------------------------------------------------------------------ app */

START_TEST(app_select)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	char cmd[128], fci[128];

	snprintf(cmd, sizeof(cmd), "00 A4 04 00 07 %s 00", AID);
	snprintf(fci, sizeof(fci), "6F 09 84 07 %s 90 00", AID);
	xa(card, cmd, fci);
	snprintf(cmd, sizeof(cmd), "00 A4 04 00 07 %s 05", AID);
	xa(card, cmd, "6C 0B");
	snprintf(cmd, sizeof(cmd), "00 A4 04 00 07 %s", AID);
	xa(card, cmd, "90 00");
	snprintf(cmd, sizeof(cmd), "00 A4 04 0C 07 %s", AID);
	xa(card, cmd, "90 00");
	snprintf(cmd, sizeof(cmd), "00 A4 04 0C 07 %s 00", AID);
	xa(card, cmd, "90 00");
	xa(card, "00 A4 04 00 07 F0 75 63 63 69 64 02 00", "6A 82");
	xa(card, "00 A4 04 00 06 F0 75 63 63 69 64", "6A 82");
	xa(card, "00 A4 04 00 00", "67 00");
	snprintf(cmd, sizeof(cmd), "00 A4 04 04 07 %s", AID);
	xa(card, cmd, "6A 86");
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 A4 02 00 02 01 01", "90 00");
	xa(card, "00 A4 02 0C 02 01 02", "6A 82");
	xa(card, "00 A4 02 0C 01 01", "67 00");
	xa(card, "00 A4 00 0C 02 3F 00", "6A 86");
	/* Extended Lc works too. */
	snprintf(cmd, sizeof(cmd), "00 A4 04 00 00 00 07 %s 00 00", AID);
	xa(card, cmd, fci);
	vcard_free(card);
}
END_TEST

START_TEST(app_verify)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);
	uint8_t atr[CCID_ATR_MAX];

	xa(card, "00 20 00 80", "63 C3");
	ck_assert(!vcard_pin_verified(card));
	xa(card, "00 20 00 80 06 31 32 33 34 35 35", "63 C2");
	xa(card, "00 20 00 80 04 31 32 33 34", "63 C1");
	ck_assert_uint_eq(vcard_pin_tries_left(card), 1);
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	ck_assert(vcard_pin_verified(card));
	ck_assert_uint_eq(vcard_pin_tries_left(card), 3);
	xa(card, "00 20 00 80", "90 00");
	xa(card, "00 20 00 81 06 31 32 33 34 35 36", "6A 86");
	xa(card, "00 20 01 80", "6A 86");
	xa(card, "00 20 00 80 09 31 32 33 34 35 36 37 38 39", "67 00");
	ck_assert_uint_eq(vcard_pin_tries_left(card), 3);
	/* A wrong PIN undoes the verification. */
	xa(card, "00 20 00 80 06 31 32 33 34 35 37", "63 C2");
	ck_assert(!vcard_pin_verified(card));
	xa(card, "00 20 00 80", "63 C2");
	/* Resets clear the verified state, not the counter. */
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	xa(card, "00 20 00 80 06 00 00 00 00 00 00", "63 C2");
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	ck_assert(!vcard_pin_verified(card));
	xa(card, "00 20 00 80", "63 C3");
	xa(card, "00 20 00 80 01 00", "63 C2");
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	xa(card, "00 20 00 80", "63 C2");
	xa(card, "00 20 00 80 01 00", "63 C1");
	vcard_power_off(card);
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	ck_assert_uint_eq(vcard_pin_tries_left(card), 1);
	/* Blocked: even the right PIN is refused. */
	xa(card, "00 20 00 80 01 00", "69 83");
	ck_assert_uint_eq(vcard_pin_tries_left(card), 0);
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "69 83");
	xa(card, "00 20 00 80", "69 83");
	ck_assert(!vcard_pin_verified(card));
	vcard_free(card);
}
END_TEST

START_TEST(app_pin_counter)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);

	xa(card, "00 20 00 80 06 39 39 39 39 39 39", "63 C2");
	xa(card, "00 20 00 80 06 39 39 39 39 39 39", "63 C1");
	xa(card, "00 20 00 80 06 39 39 39 39 39 39", "69 83");
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "69 83");
	vcard_free(card);
}
END_TEST

START_TEST(app_read_binary)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	static uint8_t rsp[BIG];
	size_t n;

	xa(card, "00 B0 00 00 10", "69 86");
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 B0 00 00 04", "00 01 02 03 90 00");
	xa(card, "00 B0 01 01 02", "01 02 90 00");
	xa(card, "00 B0 0F FC 08", "FC FD FE FF 62 82");
	xa(card, "00 B0 0F FC 04", "FC FD FE FF 90 00");
	xa(card, "00 B0 0F FC 00", "FC FD FE FF 90 00");
	xa(card, "00 B0 0F FF 01", "FF 90 00");
	xa(card, "00 B0 10 00 01", "6B 00");
	xa(card, "00 B0 7F FF 01", "6B 00");
	xa(card, "00 B0 81 00 01", "6B 00");
	xa(card, "00 B0 00 00", "67 00");
	xa(card, "00 B0 00 00 01 00 01", "67 00");
	/* Le = 00: 256 bytes. */
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x00\x10\x00", 5, rsp, 0x9000);
	ck_assert_uint_eq(n, 256);
	expect_pattern(rsp, n, 0x10);
	/* Extended Le = 0000: the whole EF. */
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x00\x00\x00\x00\x00", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 4096);
	expect_pattern(rsp, n, 0);
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x00\x10\x00\x00\x00", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 4080);
	/* Extended explicit Le beyond the end: what is there, 6282. */
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x00\x00\x00\x10\x01", 7, rsp, 0x6282);
	ck_assert_uint_eq(n, 4096);
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x08\x00\x00\x01\x2C", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 300);
	expect_pattern(rsp, n, 0);
	/* A reset deselects. */
	{
		uint8_t atr[CCID_ATR_MAX];

		ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	}
	xa(card, "00 B0 00 00 01", "69 86");
	vcard_free(card);
}
END_TEST

START_TEST(app_update_binary)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	static uint8_t cmd[BIG], rsp[BIG];
	uint8_t atr[CCID_ATR_MAX];
	size_t n;

	xa(card, "00 D6 00 10 03 AA BB CC", "69 86");
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 D6 00 10 03 AA BB CC", "69 82");
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	xa(card, "00 D6 00 10 03 AA BB CC", "90 00");
	xa(card, "00 B0 00 0F 05", "0F AA BB CC 13 90 00");
	xa(card, "00 D6 0F FF 02 11 22", "67 00");
	xa(card, "00 D6 0F FF 01 11", "90 00");
	xa(card, "00 D6 10 00 01 11", "6B 00");
	xa(card, "00 D6 80 00 01 11", "6B 00");
	xa(card, "00 D6 00 00", "67 00");
	xa(card, "00 D6 00 00 00", "67 00");
	/* Extended Lc: the whole EF. */
	memcpy(cmd, "\x00\xD6\x00\x00\x00\x10\x00", 7);
	for (size_t i = 0; i < 4096; i++)
		cmd[7 + i] = (uint8_t)~i;
	apdu_buf(card, cmd, 7 + 4096, rsp, 0x9000);
	/* Extended Lc one beyond. */
	memcpy(cmd, "\x00\xD6\x00\x01\x00\x10\x00", 7);
	apdu_buf(card, cmd, 7 + 4096, rsp, 0x6700);
	/* The content survives resets and power cycles. */
	vcard_power_off(card);
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 D6 00 00 01 00", "69 82");
	n = apdu_buf(card, (const uint8_t *)"\x00\xB0\x00\x00\x00\x00\x00", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 4096);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(rsp[i], (uint8_t)~i);
	vcard_free(card);
}
END_TEST

START_TEST(app_get_challenge)
{
	struct vcard_config cfg;
	struct vcard *a, *b;
	static uint8_t ra[BIG], rb[BIG];
	size_t n;

	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.rng_seed = 42;
	a = card_new(&cfg);
	b = card_new(&cfg);
	n = apdu_buf(a, (const uint8_t *)"\x00\x84\x00\x00\x08", 5, ra, 0x9000);
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(apdu_buf(b, (const uint8_t *)"\x00\x84\x00\x00\x08", 5, rb, 0x9000), 8);
	ck_assert_mem_eq(ra, rb, 8);
	/* The next challenge differs from the first. */
	ck_assert_uint_eq(apdu_buf(a, (const uint8_t *)"\x00\x84\x00\x00\x08", 5, rb, 0x9000), 8);
	ck_assert(memcmp(ra, rb, 8) != 0);
	ck_assert_uint_eq(apdu_buf(a, (const uint8_t *)"\x00\x84\x00\x00\x00", 5, ra, 0x9000), 256);
	ck_assert_uint_eq(apdu_buf(a, (const uint8_t *)"\x00\x84\x00\x00\x00\x00\x10", 7, ra, 0x9000),
			  16);
	xa(a, "00 84 00 00 00 01 01", "67 00");
	xa(a, "00 84 00 00", "67 00");
	xa(a, "00 84 00 00 01 00 08", "67 00");
	xa(a, "00 84 00 01 08", "6A 86");
	xa(a, "00 84 01 00 08", "6A 86");
	vcard_free(a);
	/* Another seed, another sequence. */
	cfg.rng_seed = 43;
	a = card_new(&cfg);
	apdu_buf(a, (const uint8_t *)"\x00\x84\x00\x00\x08", 5, ra, 0x9000);
	apdu_buf(b, (const uint8_t *)"\x00\x84\x00\x00\x08", 5, rb, 0x9000);
	ck_assert(memcmp(ra, rb, 8) != 0);
	vcard_free(a);
	vcard_free(b);
}
END_TEST

START_TEST(app_echo)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0 | VCARD_PROTO_T1);
	static uint8_t cmd[BIG], rsp[BIG];
	size_t n;

	xa(card, "80 10 00 00 01", "00 90 00");
	xa(card, "80 10 00 00 03 01 02 03 00", "01 02 03 90 00");
	xa(card, "80 10 00 00 03 01 02 03 03", "01 02 03 90 00");
	xa(card, "80 10 00 00 03 01 02 03 02", "6C 03");
	xa(card, "80 10 00 00 03 01 02 03", "90 00");
	xa(card, "80 10 00 00", "90 00");
	xa(card, "80 10 00 02 01 AA 00", "AA 00 01 90 00");
	xa(card, "80 10 00 03 05", "00 01 02 90 00");
	n = apdu_buf(card, (const uint8_t *)"\x80\x10\x00\x00\xFF", 5, rsp, 0x9000);
	ck_assert_uint_eq(n, 255);
	expect_pattern(rsp, n, 0);
	n = apdu_buf(card, (const uint8_t *)"\x80\x10\x00\x00\x00", 5, rsp, 0x9000);
	ck_assert_uint_eq(n, 256);
	expect_pattern(rsp, n, 0);
	/* 4096 bytes of data, extended Lc and Le = 0000. */
	memcpy(cmd, "\x80\x10\x00\x00\x00\x10\x00", 7);
	for (size_t i = 0; i < 4096; i++)
		cmd[7 + i] = (uint8_t)(i * 7 + 1);
	cmd[7 + 4096] = cmd[8 + 4096] = 0;
	n = apdu_buf(card, cmd, 9 + 4096, rsp, 0x9000);
	ck_assert_uint_eq(n, 4096);
	ck_assert_mem_eq(rsp, cmd + 7, 4096);
	/* 256 bytes of data needs extended Lc. */
	memcpy(cmd, "\x80\x10\x00\x00\x00\x01\x00", 7);
	cmd[7 + 256] = 0x01;
	cmd[8 + 256] = 0x00;
	n = apdu_buf(card, cmd, 9 + 256, rsp, 0x9000);
	ck_assert_uint_eq(n, 256);
	ck_assert_mem_eq(rsp, cmd + 7, 256);
	/* Le 255 for 256 bytes: 6C00 (SW2 00 = 256). */
	cmd[7 + 256] = 0x00;
	cmd[8 + 256] = 0xFF;
	ck_assert_uint_eq(apdu_buf(card, cmd, 9 + 256, rsp, 0x6C00), 0);
	/* Le 4 for 300 bytes: no SW2 can say 300, 6700. */
	memcpy(cmd, "\x80\x10\x01\x2C\x04", 5);
	ck_assert_uint_eq(apdu_buf(card, cmd, 5, rsp, 0x6700), 0);
	/* 65535 and 65536 pattern bytes. */
	n = apdu_buf(card, (const uint8_t *)"\x80\x10\x00\x00\x00\xFF\xFF", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 65535);
	expect_pattern(rsp, n, 0);
	n = apdu_buf(card, (const uint8_t *)"\x80\x10\x00\x00\x00\x00\x00", 7, rsp, 0x9000);
	ck_assert_uint_eq(n, 65536);
	expect_pattern(rsp, n, 0);
	/* 65535 bytes of data back: the longest command APDU. */
	memcpy(cmd, "\x80\x10\x00\x00\x00\xFF\xFF", 7);
	for (size_t i = 0; i < 65535; i++)
		cmd[7 + i] = (uint8_t)(i >> 3);
	cmd[7 + 65535] = cmd[8 + 65535] = 0;
	n = apdu_buf(card, cmd, VCARD_APDU_MAX, rsp, 0x9000);
	ck_assert_uint_eq(n, 65535);
	ck_assert_mem_eq(rsp, cmd + 7, 65535);
	/* Data plus 65535 pattern bytes is more than any Ne. */
	memcpy(cmd, "\x80\x10\xFF\xFF\x01\xAA\x00", 7);
	ck_assert_uint_eq(apdu_buf(card, cmd, 7, rsp, 0x6700), 0);
	vcard_free(card);
}
END_TEST

START_TEST(app_slow)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	uint8_t rsp[16];
	uint32_t work = 1;

	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x12\x00\x0A", 4, rsp, sizeof(rsp),
				    &work), 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	ck_assert_uint_eq(work, 100);
	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x12\xFF\xFF\x00", 5, rsp, sizeof(rsp),
				    &work), 2);
	ck_assert_uint_eq(work, 655350);
	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x12\x00\x01\x01\x00", 6, rsp,
				    sizeof(rsp), &work), 2);
	ck_assert_mem_eq(rsp, "\x67\x00", 2);
	ck_assert_uint_eq(work, 0);
	xa(card, "80 12 00 00", "90 00");
	vcard_free(card);
}
END_TEST

START_TEST(app_unknown_and_malformed)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);

	xa(card, "00 CA 00 00 00", "6D 00");
	xa(card, "00 B1 00 00 00", "6D 00");
	xa(card, "80 A4 04 00", "6D 00");
	xa(card, "80 20 00 80", "6D 00");
	xa(card, "A0 A4 00 00", "6E 00");
	xa(card, "FF 10 00 00", "6E 00");
	xa(card, "0C 20 00 80", "6E 00");
	/* No ISO 7816-4 case fits. */
	xa(card, "00", "67 00");
	xa(card, "00 A4 04", "67 00");
	xa(card, "00 A4 04 00 07 F0", "67 00");
	xa(card, "00 A4 04 00 02 F0 75 00 00", "67 00");
	xa(card, "00 B0 00 00 00 10", "67 00");
	xa(card, "80 10 00 00 00 00 00 01", "67 00");
	xa(card, "80 10 00 00 00 00 02 01 02 00", "67 00");
	xa(card, "80 10 00 00 00 00 02 01 02 00 00 00", "67 00");
	/* Well-formed extended cases for comparison. */
	xa(card, "80 10 00 00 00 00 02 01 02", "90 00");
	xa(card, "80 10 00 00 00 00 02 01 02 00 00", "01 02 90 00");
	vcard_free(card);
}
END_TEST

/* ------------------------------------------------------------------- t0 */

START_TEST(t0_cases_1_2)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);
	static uint8_t rsp[BIG];
	uint32_t work = 0;

	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x12\x00\x0A\x00", 5, rsp, BIG,
				       &work), 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	ck_assert_uint_eq(work, 100);
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x12\x00\x0B", 4, rsp, BIG,
				       &work), 2);
	ck_assert_uint_eq(work, 110);
	xt0(card, "00 20 00 80 00", "63 C3");
	xt0(card, "00 B0 00 00 04", "69 86");
	xt0(card, "00 A4 02 0C 02 01 01", "90 00");
	xt0(card, "00 B0 00 00 04", "00 01 02 03 90 00");
	/* Not the exact length: 6Cxx, then the right P3. */
	xt0(card, "00 B0 0F F0 20", "6C 10");
	xt0(card, "00 B0 0F F0 00", "6C 10");
	xt0(card, "00 B0 0F FC 04", "FC FD FE FF 90 00");
	xt0(card, "80 10 00 03 02", "6C 03");
	xt0(card, "80 10 00 03 03", "00 01 02 90 00");
	/* P3 = 00 means 256 for outgoing commands. */
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x10\x00\x00\x00", 5, rsp, BIG,
				       NULL), 258);
	expect_pattern(rsp, 256, 0);
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x00\x84\x00\x00\x00", 5, rsp, BIG,
				       NULL), 258);
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x00\xB0\x00\x00\x00", 5, rsp, BIG,
				       NULL), 258);
	expect_pattern(rsp, 256, 0);
	/* A case 3 header without its data. */
	xt0(card, "00 D6 00 00 02", "67 00");
	xt0(card, "00 A4 02 0C 02", "67 00");
	xt0(card, "00 FE 00 00 00", "6D 00");
	xt0(card, "00 B0", "67 00");
	vcard_free(card);
}
END_TEST

START_TEST(t0_case_3_4)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);
	char cmd[128], fci[128];

	xt0(card, "00 20 00 80 06 31 32 33 34 35 37", "63 C2");
	xt0(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	xt0(card, "00 A4 02 0C 02 01 01", "90 00");
	xt0(card, "00 D6 00 00 02 AA BB", "90 00");
	xt0(card, "00 B0 00 00 03", "AA BB 02 90 00");
	snprintf(cmd, sizeof(cmd), "00 A4 04 00 07 %s", AID);
	snprintf(fci, sizeof(fci), "6F 09 84 07 %s 90 00", AID);
	xt0(card, cmd, "61 0B");
	xt0(card, "00 C0 00 00 0C", "6C 0B");
	xt0(card, "00 C0 00 01 0B", "6A 86");
	xt0(card, "00 C0 00 00 0B", fci);
	xt0(card, "00 C0 00 00 0B", "69 85");
	/* The proprietary class may fetch its own response. */
	xt0(card, "80 10 00 00 02 01 02", "61 02");
	xt0(card, "80 C0 00 00 01", "01 61 01");
	xt0(card, "00 C0 00 00 01", "02 90 00");
	/* Another command discards a pending response. */
	xt0(card, "80 10 00 00 02 01 02", "61 02");
	xt0(card, "80 12 00 00 00", "90 00");
	xt0(card, "00 C0 00 00 02", "69 85");
	xt0(card, "80 10 00 00 02 01 02", "61 02");
	xt0(card, "A0 C0 00 00 02", "6E 00");
	xt0(card, "00 C0 00 00 02", "01 02 90 00");
	/* P3 must equal the data length: no extended APDUs. */
	xt0(card, "80 10 00 00 05 01 02", "67 00");
	xt0(card, "00 B0 00 00 00 10 00", "67 00");
	xt0(card, "80 10 00 00 00 00 02 01 02", "67 00");
	vcard_free(card);
}
END_TEST

START_TEST(t0_get_response_chain)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);
	static uint8_t rsp[BIG], all[600];
	size_t got = 0;
	int n;

	/* 1 data byte + 299 pattern bytes = 300 bytes of response. */
	xt0(card, "80 10 01 2B 01 AA", "61 00");
	n = vcard_t0_tpdu(card, (const uint8_t *)"\x00\xC0\x00\x00\x00", 5, rsp, BIG, NULL);
	ck_assert_int_eq(n, 258);
	ck_assert_mem_eq(rsp + 256, "\x61\x2C", 2);
	memcpy(all, rsp, 256);
	got = 256;
	n = vcard_t0_tpdu(card, (const uint8_t *)"\x00\xC0\x00\x00\x2C", 5, rsp, BIG, NULL);
	ck_assert_int_eq(n, 46);
	ck_assert_mem_eq(rsp + 44, "\x90\x00", 2);
	memcpy(all + got, rsp, 44);
	got += 44;
	ck_assert_uint_eq(all[0], 0xAA);
	expect_pattern(all + 1, got - 1, 0);
	/* Fetching in small parts. */
	xt0(card, "80 10 00 03 02 01 02", "61 05");
	xt0(card, "00 C0 00 00 02", "01 02 61 03");
	xt0(card, "00 C0 00 00 04", "6C 03");
	xt0(card, "00 C0 00 00 03", "00 01 02 90 00");
	vcard_free(card);
}
END_TEST

START_TEST(t0_wrong_protocol)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	uint8_t rsp[300];

	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x12\x00\x00\x00", 5, rsp,
				       sizeof(rsp), NULL), -EPROTO);
	vcard_free(card);
	card = card_proto(VCARD_PROTO_T0);
	ck_assert_int_eq(vcard_t1_block(card, (const uint8_t *)"\x00\xC0\x00\xC0", 4, rsp,
					sizeof(rsp), NULL), -EPROTO);
	vcard_power_off(card);
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x12\x00\x00\x00", 5, rsp,
				       sizeof(rsp), NULL), -ENODEV);
	vcard_free(card);
}
END_TEST

/* ------------------------------------------------------------------- t1 */

struct drive {
	unsigned flip_host;     /* index of the host block to corrupt, NONE */
	unsigned flip_card;     /* index of the card block to corrupt, NONE */
	size_t flip_pos;        /* byte to flip (modulo the block length) */
	unsigned host_blocks, card_blocks;
	unsigned wtx_seen, max_wtx;
	uint64_t delay_ms;
};

#define DRIVE_INIT { .flip_host = NONE, .flip_card = NONE }

/* Move blocks between the host engine and the card until the engine is done. */
static int drive(struct vcard *card, struct ccid_t1 *t1, int rc, struct drive *d)
{
	for (unsigned i = 0; i < 20000 && rc == CCID_T1_SEND; i++) {
		uint8_t hb[CCID_T1_BLOCK_MAX], cb[CCID_T1_BLOCK_MAX];
		uint32_t delay = 0;
		int hn, cn;

		if (ccid_t1_wtx(t1) > 1) {
			d->wtx_seen++;
			if (ccid_t1_wtx(t1) > d->max_wtx)
				d->max_wtx = ccid_t1_wtx(t1);
		}
		hn = ccid_t1_next_block(t1, hb, sizeof(hb));
		ck_assert_int_gt(hn, 0);
		if (d->host_blocks++ == d->flip_host)
			hb[d->flip_pos % (size_t)hn] ^= 0x5A;
		cn = vcard_t1_block(card, hb, (size_t)hn, cb, sizeof(cb), &delay);
		ck_assert_int_gt(cn, 0);
		ck_assert_int_le(cn, CCID_T1_BLOCK_MAX);
		d->delay_ms += delay;
		if (d->card_blocks++ == d->flip_card)
			cb[d->flip_pos % (size_t)cn] ^= 0x5A;
		rc = ccid_t1_feed(t1, cb, (size_t)cn);
	}
	return rc;
}

static struct vcard *t1_setup(struct ccid_t1 *t1, uint8_t ifsc, uint8_t ifsd, enum ccid_edc edc,
			      uint8_t bwi)
{
	struct vcard_config cfg;
	struct ccid_t1_config hc = { 0 };
	struct vcard *card;
	struct ccid_atr a;

	vcard_config_default(&cfg, VCARD_PROTO_T1);
	cfg.ifsc = ifsc;
	cfg.edc = edc;
	cfg.bwi = bwi;
	card = card_new(&cfg);
	/* The host learns IFSC and EDC from the ATR, as a driver does. */
	parse_atr(card, false, &a);
	hc.ifsc = a.IFSC;
	hc.edc = a.edc;
	ccid_t1_init(t1, &hc);
	if (ifsd != CCID_T1_IFS_DEFAULT) {
		struct drive d = DRIVE_INIT;

		ck_assert_int_eq(drive(card, t1, ccid_t1_begin_ifsd(t1, ifsd), &d), CCID_T1_DONE);
		ck_assert_uint_eq(vcard_ifsd(card), ifsd);
	}
	return card;
}

static size_t t1_xfer(struct vcard *card, struct ccid_t1 *t1, const uint8_t *apdu, size_t len,
		      uint8_t *rsp, struct drive *d)
{
	int rc = ccid_t1_begin(t1, apdu, len, rsp, BIG);

	ck_assert_int_eq(rc, CCID_T1_SEND);
	ck_assert_int_eq(drive(card, t1, rc, d), CCID_T1_DONE);
	return ccid_t1_response_len(t1);
}

/*
 * An APDU of exactly len bytes and the response the card must give:
 * malformed below 4 bytes, ECHO cases 1, 2S, 3S, 4S and 4E above.
 */
static size_t echo_apdu(size_t len, uint8_t *cmd, uint8_t *want)
{
	size_t nc = 0, off = 0, wn = 0;

	memcpy(cmd, "\x80\x10\x00\x00", len < 4 ? len : 4);
	if (len < 4) {
		memcpy(want, "\x67\x00", 2);
		return 2;
	}
	if (len == 4) {
		/* Case 1: no data, no Le. */
	} else if (len == 5) {
		cmd[4] = 0x10;
		for (wn = 0; wn < 16; wn++)
			want[wn] = (uint8_t)wn;
	} else if (len == 6) {
		cmd[4] = 1;
		cmd[5] = 0x77;
	} else if (len <= 261) {
		nc = len - 6;
		off = 5;
		cmd[4] = (uint8_t)nc;
		cmd[len - 1] = 0x00;
	} else {
		nc = len - 9;
		off = 7;
		cmd[4] = 0;
		cmd[5] = (uint8_t)(nc >> 8);
		cmd[6] = (uint8_t)nc;
		cmd[len - 2] = cmd[len - 1] = 0;
	}
	for (size_t i = 0; i < nc; i++)
		cmd[off + i] = want[i] = (uint8_t)(i * 13 + len);
	if (nc)
		wn = nc;
	want[wn++] = 0x90;
	want[wn++] = 0x00;
	return wn;
}

/* APDU sizes 1 .. 4096 for IFSC 32/254 x IFSD 32/254 x LRC/CRC. */
START_TEST(t1_exchange_matrix)
{
	static const size_t sizes[] = { 1, 3, 4, 5, 6, 7, 31, 32, 33, 37, 38, 39, 100, 253, 254,
					255, 256, 259, 260, 261, 262, 300, 508, 509, 1000, 4096 };
	unsigned i = (unsigned)_i;
	uint8_t ifsc = i & 1 ? 254 : 32, ifsd = i & 2 ? 254 : 32;
	enum ccid_edc edc = i & 4 ? CCID_EDC_CRC : CCID_EDC_LRC;
	static uint8_t cmd[BIG], want[BIG], rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, ifsc, ifsd, edc, 4);

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct drive d = DRIVE_INIT;
		size_t wn = echo_apdu(sizes[k], cmd, want);
		size_t n = t1_xfer(card, &t1, cmd, sizes[k], rsp, &d);
		size_t host_blocks = (sizes[k] + ifsc - 1) / ifsc;
		size_t card_blocks = (wn + ifsd - 1) / ifsd;

		ck_assert_msg(n == wn && !memcmp(rsp, want, wn), "size %zu: response %zu bytes, %02X %02X",
			      sizes[k], n, rsp[n - 2], rsp[n - 1]);
		/* No error recovery: one block each way per chunk (host chain acks included). */
		ck_assert_uint_eq(d.host_blocks, host_blocks + card_blocks - 1);
		ck_assert_uint_eq(d.card_blocks, d.host_blocks);
		ck_assert_uint_eq(d.delay_ms, 0);
	}
	vcard_free(card);
}
END_TEST

START_TEST(t1_read_whole_ef)
{
	static uint8_t rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 32, 32, CCID_EDC_LRC, 4);
	struct drive d = DRIVE_INIT;
	size_t n;

	n = t1_xfer(card, &t1, (const uint8_t *)"\x00\xA4\x02\x0C\x02\x01\x01", 7, rsp, &d);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	n = t1_xfer(card, &t1, (const uint8_t *)"\x00\xB0\x00\x00\x00\x00\x00", 7, rsp, &d);
	ck_assert_uint_eq(n, 4098);
	expect_pattern(rsp, 4096, 0);
	ck_assert_mem_eq(rsp + 4096, "\x90\x00", 2);
	/* 65535-byte response: 2049 chained blocks of 32. */
	n = t1_xfer(card, &t1, (const uint8_t *)"\x80\x10\x00\x00\x00\xFF\xFF", 7, rsp, &d);
	ck_assert_uint_eq(n, 65537);
	expect_pattern(rsp, 65535, 0);
	vcard_free(card);
}
END_TEST

START_TEST(t1_ifs)
{
	static uint8_t rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 32, 32, CCID_EDC_LRC, 4);
	struct drive d = DRIVE_INIT;
	size_t n;

	ck_assert_uint_eq(vcard_ifsd(card), 32);
	ck_assert_int_eq(drive(card, &t1, ccid_t1_begin_ifsd(&t1, 100), &d), CCID_T1_DONE);
	ck_assert_uint_eq(vcard_ifsd(card), 100);
	d = (struct drive)DRIVE_INIT;
	n = t1_xfer(card, &t1, (const uint8_t *)"\x80\x10\x00\x00\xC8", 5, rsp, &d);
	ck_assert_uint_eq(n, 202);
	/* 202 bytes in blocks of 100: 3 card blocks, 2 acks plus the I-block. */
	ck_assert_uint_eq(d.card_blocks, 3);
	vcard_free(card);
}
END_TEST

START_TEST(t1_wtx)
{
	static uint8_t rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 32, 32, CCID_EDC_LRC, 4);
	struct drive d = DRIVE_INIT;
	uint64_t bwt = ccid_bwt_us(4, 372, 1, 4000);
	size_t n;

	/* 3000 ms > BWT (about 1.43 s): one S(WTX) with m = 3. */
	n = t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x01\x2C", 4, rsp, &d);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	ck_assert_uint_eq(d.wtx_seen, 1);
	ck_assert_uint_eq(d.max_wtx, 3);
	ck_assert_uint_ge(d.max_wtx * bwt, 3000000);
	ck_assert_uint_eq(d.delay_ms, 3000);
	/* Within BWT: no S(WTX), the delay comes with the answer. */
	d = (struct drive)DRIVE_INIT;
	n = t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x00\x64", 4, rsp, &d);
	ck_assert_uint_eq(d.wtx_seen, 0);
	ck_assert_uint_eq(d.delay_ms, 1000);
	ck_assert_uint_eq(d.card_blocks, 1);
	vcard_free(card);
}
END_TEST

START_TEST(t1_wtx_several)
{
	static uint8_t rsp[BIG];
	struct ccid_t1 t1;
	/* BWI 0: BWT about 90 ms, one S(WTX) covers at most about 23 s. */
	struct vcard *card = t1_setup(&t1, 32, 32, CCID_EDC_CRC, 0);
	struct drive d = DRIVE_INIT;
	uint64_t bwt = ccid_bwt_us(0, 372, 1, 4000);
	size_t n;

	n = t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x13\x88\x00", 5, rsp, &d); /* 50 s */
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	ck_assert_uint_eq(d.wtx_seen, 3);
	ck_assert_uint_eq(d.max_wtx, 255);
	ck_assert_uint_ge(255 * bwt, 23000000);
	ck_assert_uint_eq(d.delay_ms, 50000);
	/* The response carries what is left after the last S(WTX): no block waits beyond m x BWT. */
	vcard_free(card);
}
END_TEST

/* Raw blocks: hex without EDC, the LRC appended. */
static size_t lrc_blk(const char *hex, uint8_t *out)
{
	size_t n = tu_hex(hex, out, CCID_T1_BLOCK_MAX);

	out[n] = ccid_t1_lrc(out, n);
	return n + 1;
}

static void xt1(struct vcard *card, const char *host_hex, const char *card_hex)
{
	uint8_t in[CCID_T1_BLOCK_MAX + 8], out[CCID_T1_BLOCK_MAX], want[CCID_T1_BLOCK_MAX + 8];
	size_t n = lrc_blk(host_hex, in);
	size_t wn = lrc_blk(card_hex, want);
	int rn = vcard_t1_block(card, in, n, out, sizeof(out), NULL);
	char hw[800], hg[800];

	ck_assert_int_gt(rn, 0);
	to_hex(out, (size_t)rn, hg, sizeof(hg));
	to_hex(want, wn, hw, sizeof(hw));
	ck_assert_msg((size_t)rn == wn && !memcmp(out, want, wn), "after %s: card sent %s, expected %s",
		      host_hex, hg, hw);
}

START_TEST(t1_raw_sequence)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);

	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	xt1(card, "00 40 04 80 12 00 00", "00 40 02 90 00");
	/* Host chain: each chained block acknowledged with N(R) = next. */
	xt1(card, "00 20 05 80 10 00 00 02", "00 90 00");
	xt1(card, "00 40 03 01 02 00", "00 00 04 01 02 90 00");
	/* Card chain with IFSD 2. */
	xt1(card, "00 C1 01 02", "00 E1 01 02");
	xt1(card, "00 00 05 80 10 00 00 03", "00 60 02 00 01");
	xt1(card, "00 80 00", "00 20 02 02 90");   /* N(R)=0 != 1: next */
	xt1(card, "00 80 00", "00 20 02 02 90");   /* N(R)=0 = last N(S): again */
	xt1(card, "00 90 00", "00 40 01 00");
	/* The host's next I-block acknowledges the card's last one. */
	xt1(card, "00 40 04 80 12 00 00", "00 00 02 90 00");
	vcard_free(card);
}
END_TEST

/* ------------------------------------------------------------ t1-errors */

START_TEST(t1_raw_errors)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	uint8_t in[8] = { 0x00, 0x00, 0x04, 0x80, 0x12, 0x00, 0x00, 0x00 }, out[CCID_T1_BLOCK_MAX];
	uint8_t big[CCID_T1_BLOCK_MAX];
	size_t n;

	/* Bad EDC: R(N(R) = 0, EDC error). */
	ck_assert_int_eq(vcard_t1_block(card, in, 8, out, sizeof(out), NULL), 4);
	expect_bytes("bad LRC", out, 4, "00 81 00 81");
	/* Truncated block: the same. */
	ck_assert_int_eq(vcard_t1_block(card, in, 2, out, sizeof(out), NULL), 4);
	expect_bytes("truncated", out, 4, "00 81 00 81");
	/* Nothing at all: other error. */
	ck_assert_int_eq(vcard_t1_block(card, NULL, 0, out, sizeof(out), NULL), 4);
	expect_bytes("empty", out, 4, "00 82 00 82");
	/* NAD other than 00, LEN FF, wrong N(S), an S(WTX request) from the host: other error. */
	xt1(card, "21 00 04 80 12 00 00", "00 82 00");
	xt1(card, "00 00 FF", "00 82 00");
	xt1(card, "00 40 04 80 12 00 00", "00 82 00");
	xt1(card, "00 C3 01 02", "00 82 00");
	xt1(card, "00 E3 01 02", "00 82 00");
	xt1(card, "00 C1 01 00", "00 82 00");
	xt1(card, "00 A0 00", "00 82 00");          /* R-block with b6 set */
	/* More than IFSC (32). */
	memset(big, 0, sizeof(big));
	big[2] = 33;
	big[3] = 0x80;
	big[4] = 0x10;
	n = 3 + 33;
	big[n] = ccid_t1_lrc(big, n);
	ck_assert_int_eq(vcard_t1_block(card, big, n + 1, out, sizeof(out), NULL), 4);
	expect_bytes("INF > IFSC", out, 4, "00 82 00 82");
	/* An R-block from the host repeats the card's last block. */
	xt1(card, "00 80 00", "00 82 00");
	/* The card is still in step. */
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	xt1(card, "00 80 00", "00 00 02 90 00");
	xt1(card, "00 92 00", "00 00 02 90 00");
	xt1(card, "00 40 04 80 12 00 00", "00 40 02 90 00");
	vcard_free(card);
}
END_TEST

START_TEST(t1_raw_wtx_errors)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);

	xt1(card, "00 00 04 80 12 01 2C", "00 C3 01 03");
	/* Anything but the matching S(WTX response) repeats the request (rule 7.3). */
	xt1(card, "00 E3 01 02", "00 C3 01 03");
	xt1(card, "00 81 00", "00 C3 01 03");
	xt1(card, "00 40 04 80 12 00 00", "00 C3 01 03");
	xt1(card, "00 C1 01 40", "00 C3 01 03");
	xt1(card, "00 E3 01 03", "00 00 02 90 00");
	vcard_free(card);
}
END_TEST

START_TEST(t1_raw_resynch_abort)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);

	xt1(card, "00 C1 01 FE", "00 E1 01 FE");
	ck_assert_uint_eq(vcard_ifsd(card), 254);
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	/* RESYNCH: N(S) = N(R) = 0 on both sides, IFSD back to 32. */
	xt1(card, "00 C0 00", "00 E0 00");
	ck_assert_uint_eq(vcard_ifsd(card), 32);
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	/* ABORT of the host's chain. */
	xt1(card, "00 60 05 80 10 00 00 02", "00 80 00");
	xt1(card, "00 C2 00", "00 E2 00");
	xt1(card, "00 00 04 80 12 00 00", "00 40 02 90 00");
	/* ABORT of the card's chain. */
	xt1(card, "00 C1 01 02", "00 E1 01 02");
	xt1(card, "00 40 05 80 10 00 00 03", "00 20 02 00 01");
	xt1(card, "00 C2 00", "00 E2 00");
	xt1(card, "00 00 04 80 12 00 00", "00 40 02 90 00");
	/* RESYNCH in the middle of a chain. */
	xt1(card, "00 40 05 80 10 00 00 03", "00 20 02 00 01");
	xt1(card, "00 C0 00", "00 E0 00");
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	vcard_free(card);
}
END_TEST

/*
 * Flip one byte of one block, in each position of the exchange, in each
 * direction: the host engine and the card recover and the APDU completes.
 */
START_TEST(t1_corrupted_blocks)
{
	unsigned dir = (unsigned)_i & 1;
	enum ccid_edc edc = _i & 2 ? CCID_EDC_CRC : CCID_EDC_LRC;
	static uint8_t cmd[BIG], want[BIG], rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 32, 32, edc, 4);
	size_t wn = echo_apdu(100, cmd, want);
	struct drive clean = DRIVE_INIT;
	unsigned total;

	t1_xfer(card, &t1, cmd, 100, rsp, &clean);
	total = clean.host_blocks;
	/* 100-byte APDU: 4 host blocks; 96-byte response: 3 card blocks. */
	ck_assert_uint_eq(wn, 96);
	ck_assert_uint_eq(total, 4 + 3 - 1);
	for (unsigned k = 0; k < total; k++) {
		for (size_t pos = 0; pos < 6; pos++) {
			struct drive d = DRIVE_INIT;
			size_t n;

			d.flip_pos = pos;
			if (dir)
				d.flip_card = k;
			else
				d.flip_host = k;
			n = t1_xfer(card, &t1, cmd, 100, rsp, &d);
			ck_assert_msg(n == wn && !memcmp(rsp, want, wn), "block %u byte %zu", k, pos);
			ck_assert_uint_gt(d.host_blocks, total);
		}
	}
	/* And the S(IFS) and S(WTX) exchanges. */
	for (unsigned k = 0; k < 2; k++) {
		struct drive d = DRIVE_INIT;

		if (dir)
			d.flip_card = k;
		else
			d.flip_host = k;
		d.flip_pos = 3;
		ck_assert_int_eq(drive(card, &t1, ccid_t1_begin_ifsd(&t1, 64), &d), CCID_T1_DONE);
		ck_assert_uint_eq(vcard_ifsd(card), 64);
	}
	for (unsigned k = 0; k < 3; k++) {
		struct drive d = DRIVE_INIT;

		if (dir)
			d.flip_card = k;
		else
			d.flip_host = k;
		d.flip_pos = 1;
		ck_assert_uint_eq(t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x01\x2C", 4, rsp, &d), 2);
		ck_assert_mem_eq(rsp, "\x90\x00", 2);
		ck_assert_uint_ge(d.wtx_seen, 1);
		ck_assert_uint_eq(d.delay_ms, 3000);
	}
	vcard_free(card);
}
END_TEST

/* A host engine that lost step (new engine, card at N(S) = 1) recovers through RESYNCH. */
START_TEST(t1_host_resynchs)
{
	static uint8_t rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 254, 254, CCID_EDC_LRC, 4);
	struct drive d = DRIVE_INIT;
	struct ccid_t1_config hc = { .ifsc = 254 };

	ck_assert_uint_eq(t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x00\x00", 4, rsp, &d), 2);
	ccid_t1_init(&t1, &hc);
	d = (struct drive)DRIVE_INIT;
	ck_assert_uint_eq(t1_xfer(card, &t1, (const uint8_t *)"\x80\x10\x00\x00\x05", 5, rsp, &d), 7);
	expect_pattern(rsp, 5, 0);
	/* The RESYNCH also put the card back at IFSD 32; the host's 254 still accepts that. */
	ck_assert_uint_eq(vcard_ifsd(card), 32);
	ck_assert_uint_gt(d.host_blocks, 1);
	vcard_free(card);
}
END_TEST

/* ---------------------------------------------------------------- reset */

START_TEST(reset_clears_session)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0 | VCARD_PROTO_T1);
	uint8_t atr[CCID_ATR_MAX];
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "00 A4 04 0C 07 %s", AID);
	xa(card, cmd, "90 00");
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	xa(card, "00 20 00 80 01 00", "63 C2");
	xa(card, "00 20 00 80 06 31 32 33 34 35 36", "90 00");
	xa(card, "00 D6 00 00 01 5A", "90 00");
	ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	ck_assert(!vcard_pin_verified(card));
	xa(card, "00 B0 00 00 01", "69 86");
	xa(card, "00 A4 02 0C 02 01 01", "90 00");
	xa(card, "00 B0 00 00 01", "5A 90 00");
	xa(card, "00 D6 00 00 01 5A", "69 82");
	vcard_power_off(card);
	ck_assert(!vcard_powered(card));
	ck_assert(!vcard_pin_verified(card));
	vcard_free(card);
}
END_TEST

START_TEST(reset_protocol_state)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0 | VCARD_PROTO_T1);
	uint8_t atr[CCID_ATR_MAX];

	/* A pending T=0 response does not survive a reset. */
	xt0(card, "80 10 00 00 02 01 02", "61 02");
	ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	xt0(card, "00 C0 00 00 02", "69 85");
	vcard_free(card);

	/* T=1 sequence numbers and IFSD start over after a reset. */
	card = card_proto(VCARD_PROTO_T1);
	xt1(card, "00 C1 01 FE", "00 E1 01 FE");
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	ck_assert_int_gt(vcard_reset(card, false, atr, sizeof(atr)), 0);
	ck_assert_uint_eq(vcard_ifsd(card), 32);
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	/* A reset does not leave a half-received chain behind. */
	xt1(card, "00 60 05 80 10 00 00 02", "00 80 00");
	ck_assert_int_gt(vcard_reset(card, true, atr, sizeof(atr)), 0);
	xt1(card, "00 00 04 80 12 00 00", "00 00 02 90 00");
	vcard_free(card);
}
END_TEST

START_TEST(reset_misuse)
{
	struct vcard_config cfg;
	struct vcard *card;
	uint8_t atr[CCID_ATR_MAX], rsp[8];

	vcard_config_default(&cfg, VCARD_PROTO_T1);
	card = vcard_new(&cfg);
	ck_assert_int_eq(vcard_reset(card, true, atr, sizeof(atr)), -EINVAL);
	ck_assert_int_eq(vcard_reset(card, false, atr, 17), -ENOBUFS);
	ck_assert(!vcard_powered(card));
	ck_assert_int_eq(vcard_reset(NULL, false, atr, sizeof(atr)), -EINVAL);
	ck_assert_int_eq(vcard_reset(card, false, NULL, 0), -EINVAL);
	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x12\x00\x00", 4, rsp, 8, NULL),
			 -ENODEV);
	ck_assert_int_eq(vcard_t1_block(card, (const uint8_t *)"\x00\xC0\x00\xC0", 4, rsp, 8, NULL),
			 -ENODEV);
	ck_assert_int_eq(vcard_reset(card, false, atr, sizeof(atr)), 18);
	ck_assert_int_eq(vcard_apdu(NULL, rsp, 4, rsp, 8, NULL), -EINVAL);
	ck_assert_int_eq(vcard_apdu(card, NULL, 4, rsp, 8, NULL), -EINVAL);
	ck_assert_int_eq(vcard_t1_block(card, NULL, 4, rsp, 8, NULL), -EINVAL);
	vcard_power_off(NULL);
	vcard_free(NULL);
	ck_assert(!vcard_powered(NULL));
	ck_assert(!vcard_pin_verified(NULL));
	ck_assert_uint_eq(vcard_pin_tries_left(NULL), 0);
	vcard_free(card);
}
END_TEST

/* --------------------------------------------------------------- limits */

START_TEST(limits_small_buffers)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);
	uint8_t rsp[300];

	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x10\x00\x00\x10", 5, rsp, 17, NULL),
			 -ENOBUFS);
	ck_assert_int_eq(vcard_apdu(card, (const uint8_t *)"\x80\x10\x00\x00\x10", 5, rsp, 18, NULL),
			 18);
	ck_assert_int_eq(vcard_t0_tpdu(card, (const uint8_t *)"\x80\x10\x00\x00\x10", 5, rsp, 1,
				       NULL), -ENOBUFS);
	vcard_free(card);
	card = card_proto(VCARD_PROTO_T1);
	ck_assert_int_eq(vcard_t1_block(card, (const uint8_t *)"\x00\x00\x04\x80\x12\x00\x00\x96", 8,
					rsp, 5, NULL), -ENOBUFS);
	vcard_free(card);
}
END_TEST

/* A host chain longer than the longest APDU is acknowledged to its end, then 6700. */
START_TEST(limits_overlong_chain)
{
	static uint8_t cmd[VCARD_APDU_MAX + 300], rsp[BIG];
	struct ccid_t1 t1;
	struct vcard *card = t1_setup(&t1, 254, 254, CCID_EDC_LRC, 4);
	struct drive d = DRIVE_INIT;
	size_t n;

	memset(cmd, 0x11, sizeof(cmd));
	memcpy(cmd, "\x80\x10\x00\x00\x00\xFF\xFF", 7);
	n = t1_xfer(card, &t1, cmd, sizeof(cmd), rsp, &d);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(rsp, "\x67\x00", 2);
	/* The card is in step for the next APDU. */
	d = (struct drive)DRIVE_INIT;
	ck_assert_uint_eq(t1_xfer(card, &t1, (const uint8_t *)"\x80\x12\x00\x00", 4, rsp, &d), 2);
	ck_assert_mem_eq(rsp, "\x90\x00", 2);
	/* The longest APDU and response over T=1. */
	for (size_t i = 0; i < 65535; i++)
		cmd[7 + i] = (uint8_t)(i * 3);
	cmd[7 + 65535] = cmd[8 + 65535] = 0;
	d = (struct drive)DRIVE_INIT;
	n = t1_xfer(card, &t1, cmd, VCARD_APDU_MAX, rsp, &d);
	ck_assert_uint_eq(n, 65537);
	ck_assert_mem_eq(rsp, cmd + 7, 65535);
	vcard_free(card);
}
END_TEST

/* Arbitrary blocks: the card always answers with one valid block and never more. */
START_TEST(limits_random_blocks)
{
	struct vcard *card = card_proto(VCARD_PROTO_T1);
	uint64_t x = 0x1234567ull + (uint64_t)_i;

	for (unsigned i = 0; i < 20000; i++) {
		uint8_t in[CCID_T1_BLOCK_MAX + 4], out[CCID_T1_BLOCK_MAX];
		struct ccid_t1_block b;
		size_t n;
		int rn;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % 12;
		for (size_t k = 0; k < sizeof(in); k++)
			in[k] = (uint8_t)(x >> (k % 8 * 8)) ^ (uint8_t)k;
		/* Mostly plausible blocks with a valid LRC. */
		in[0] = (x >> 40) % 8 ? 0 : in[0];
		in[1] = (uint8_t)((x >> 20) % 4 == 0 ? 0x00 : (x >> 20) % 4 == 1 ? 0x80 | (x & 0x13) :
				  (x >> 20) % 4 == 2 ? 0xC0 | (x & 0x23) : 0x40 | (x & 0x20));
		in[2] = (uint8_t)n;
		if (n > 5 && in[1] < 0x80) {
			in[3] = 0x80;
			in[4] = (x >> 30) % 2 ? 0x10 : 0x12;
			in[5] = 0;
			in[6] = (uint8_t)((x >> 33) % 3);
		}
		in[3 + n] = ccid_t1_lrc(in, 3 + n);
		rn = vcard_t1_block(card, in, 4 + n - ((x >> 50) % 16 == 0), out, sizeof(out), NULL);
		ck_assert_int_gt(rn, 0);
		ck_assert_int_eq(ccid_t1_block_decode(out, (size_t)rn, CCID_EDC_LRC, &b, NULL), 0);
		ck_assert_uint_eq(b.nad, 0);
	}
	vcard_free(card);
}
END_TEST

/* ------------------------------------------------------------- character level */

/* Write hex to the card at the character level, then expect exactly want_hex back (and nothing more). */
static void char_io(struct vcard *card, const char *in_hex, const char *want_hex)
{
	uint8_t in[300], out[1100];
	size_t n = tu_hex(in_hex, in, sizeof(in));

	ck_assert_int_eq(vcard_char_write(card, in, n, NULL), 0);
	n = vcard_char_read(card, out, sizeof(out));
	expect_bytes(in_hex, out, n, want_hex);
	ck_assert_uint_eq(vcard_char_pending(card), 0);
}

START_TEST(char_t0_procedure_bytes)
{
	struct vcard *card = card_proto(VCARD_PROTO_T0);

	/* case 1: SW at once; case 3: ACK, then the data, then SW; case 2: ACK, data, SW */
	char_io(card, "00 20 00 80 00", "63 C3");
	char_io(card, "00 A4 04 0C 07", "A4");
	char_io(card, AID, "90 00");
	char_io(card, "00 A4 02 0C 02", "A4");
	char_io(card, "01 01", "90 00");
	char_io(card, "00 B0 00 01 02", "B0 01 02 90 00");
	char_io(card, "00 B0 0F FF 02", "6C 01");              /* 6Cxx: no ACK, no data */
	char_io(card, "00 A4 04 00 07 F0 75 63 63 69 64 01", "A4 61 0B");
	vcard_free(card);
}
END_TEST

START_TEST(char_t0_nulls_ack_each)
{
	struct vcard_config cfg;
	struct vcard *card;

	vcard_config_default(&cfg, VCARD_PROTO_T0);
	cfg.t0_nulls = 2;
	cfg.t0_ack_each = true;
	card = card_new(&cfg);
	/* NULL bytes before the first procedure byte and before SW1; INS ^ FF for each byte */
	char_io(card, "00 20 00 80 02", "60 60 DF");
	char_io(card, "31", "DF");
	char_io(card, "32", "60 60 63 C2");
	char_io(card, "00 A4 04 0C 07 F0 75 63", "60 60 5B 5B 5B 5B");
	char_io(card, "63 69 64 01", "5B 5B 5B 60 60 90 00");
	vcard_free(card);
}
END_TEST

START_TEST(char_pps_and_t1)
{
	struct vcard_config cfg;
	struct vcard *card;

	vcard_config_default(&cfg, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	card = card_new(&cfg);
	/* a PPS for T=1 in pieces: the card answers once PPS0 has told the length */
	char_io(card, "FF", "");
	char_io(card, "01", "");
	char_io(card, "FE", "FF 01 FE");
	ck_assert_uint_eq(vcard_protocol(card), 1);
	/* an I-block: prologue, then INF and LRC */
	char_io(card, "00 00 04", "");
	char_io(card, "00 20 00 80 A4", "00 00 02 63 C3 A2");
	vcard_free(card);
}
END_TEST

static Suite *vcard_suite(void)
{
	Suite *s = suite_create("vcard");
	TCase *tc;

	tc = tcase_create("atr");
	tcase_add_test(tc, atr_t0_default);
	tcase_add_test(tc, atr_t1_default);
	tcase_add_test(tc, atr_both_crc_ta1);
	tcase_add_loop_test(tc, atr_round_trip, 0, 192);
	tcase_add_test(tc, atr_specific_t0);
	tcase_add_test(tc, config_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("pps");
	tcase_add_test(tc, pps_accept_ta1);
	tcase_add_test(tc, pps_accept_lower_di);
	tcase_add_test(tc, pps_decline_pps1);
	tcase_add_test(tc, pps_only_first);
	tcase_add_test(tc, pps_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("app");
	tcase_add_test(tc, app_select);
	tcase_add_test(tc, app_verify);
	tcase_add_test(tc, app_pin_counter);
	tcase_add_test(tc, app_read_binary);
	tcase_add_test(tc, app_update_binary);
	tcase_add_test(tc, app_get_challenge);
	tcase_add_test(tc, app_echo);
	tcase_add_test(tc, app_slow);
	tcase_add_test(tc, app_unknown_and_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("t0");
	tcase_add_test(tc, t0_cases_1_2);
	tcase_add_test(tc, t0_case_3_4);
	tcase_add_test(tc, t0_get_response_chain);
	tcase_add_test(tc, t0_wrong_protocol);
	suite_add_tcase(s, tc);

	tc = tcase_create("t1");
	tcase_add_loop_test(tc, t1_exchange_matrix, 0, 8);
	tcase_add_test(tc, t1_read_whole_ef);
	tcase_add_test(tc, t1_ifs);
	tcase_add_test(tc, t1_wtx);
	tcase_add_test(tc, t1_wtx_several);
	tcase_add_test(tc, t1_raw_sequence);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("t1-errors");
	tcase_add_test(tc, t1_raw_errors);
	tcase_add_test(tc, t1_raw_wtx_errors);
	tcase_add_test(tc, t1_raw_resynch_abort);
	tcase_add_loop_test(tc, t1_corrupted_blocks, 0, 4);
	tcase_add_test(tc, t1_host_resynchs);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("reset");
	tcase_add_test(tc, reset_clears_session);
	tcase_add_test(tc, reset_protocol_state);
	tcase_add_test(tc, reset_misuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, limits_small_buffers);
	tcase_add_test(tc, limits_overlong_chain);
	tcase_add_loop_test(tc, limits_random_blocks, 0, 3);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("character level");
	tcase_add_test(tc, char_t0_procedure_bytes);
	tcase_add_test(tc, char_t0_nulls_ack_each);
	tcase_add_test(tc, char_pps_and_t1);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tu_run_mode(vcard_suite(), true);
}
