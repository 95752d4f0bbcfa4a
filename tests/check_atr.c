/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite "atr" for the ISO 7816-3 ATR parser, PPS codec and timing
 * helpers (ccid/atr.h, ccid/timing.h).  Every golden ATR below was decoded by
 * hand from ISO 7816-3 §8 and its TCK recomputed; the expected timing values
 * were computed from the §7 / §10 / §11 formulas, not by the code under test.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/timing.h"
#include "tests/testutil.h"

/* QEMU's emulated CAC card (hw/usb/ccid-card-emulated): T=0 only, no TCK. */
#define ATR_QEMU_CAC "3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34"
/* T=0 + T=1 card with TA3/TB3 for T=1 and TA4 for T=15; TCK 74 verified. */
#define ATR_DUAL_T1 "3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74"
/* Inverse convention, N=255, TA2 = specific mode T=1, "DNASP142 RevG01". */
#define ATR_INVERSE_TA2 "3F FF 95 00 FF 91 81 71 FE 47 00 44 4E 41 53 50 31 34 32 20 52 65 76 47 30 31 15"
/* The decoded form of ATR_RAW_INVERSE: 3F 65 25 00 2C 09 69 90 00 (T=0, no TCK). */
#define ATR_RAW_INVERSE "03 59 5B FF CB 6F 69 F6 FF"
/* T=1 with TA3 = FE, TB3 = 45, TC3 = 01 (CRC). */
#define ATR_CRC "3B 82 81 71 FE 45 01 31 C0 39"
/* T=0 and T=1 offered, nothing else. */
#define ATR_T0_T1 "3B 80 80 01 01"
/* T=0 with global bytes for T=15: TA3 = 07 (clock stop not supported, classes A B C). */
#define ATR_T15 "3B 80 80 1F 07 18"
/* TA2 = 11: specific mode T=1, can change (bit 8 = 0), implicit parameters (bit 5); "JCOP". */
#define ATR_TA2_IMPLICIT "3B 94 96 11 11 4A 43 4F 50 14"
/* 33 bytes: four groups, 15 historical bytes, TCK. */
#define ATR_MAX \
	"3B FF 11 00 00 F1 01 00 0A F1 FE 45 00 71 20 55 01 " \
	"41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 1A"

static const char *const goldens[] = {
	ATR_QEMU_CAC, ATR_DUAL_T1, ATR_INVERSE_TA2, ATR_RAW_INVERSE, ATR_CRC,
	ATR_T0_T1,    ATR_T15,     ATR_TA2_IMPLICIT, ATR_MAX,        "3B 00",
};
#define NGOLDENS (sizeof(goldens) / sizeof(goldens[0]))

static int parse_hex(const char *hex, struct ccid_atr *atr, struct ccid_diag *diag)
{
	uint8_t buf[64];
	size_t n = tu_hex(hex, buf, sizeof(buf));

	return ccid_atr_parse(buf, n, atr, diag);
}

static void parse_ok(const char *hex, struct ccid_atr *atr)
{
	struct ccid_diag d = { 0, NULL };
	int r = parse_hex(hex, atr, &d);

	ck_assert_msg(r == 0, "parse %s: %d at %zu (%s)", hex, r, d.offset, d.expected ? d.expected : "");
}

static void expect_fail(const char *hex, int err, size_t offset)
{
	struct ccid_atr atr;
	struct ccid_diag d = { 12345, NULL };
	int r = parse_hex(hex, &atr, &d);

	ck_assert_msg(r == err, "parse %s: got %d, expected %d", hex, r, err);
	ck_assert_uint_eq(d.offset, offset);
	ck_assert_ptr_nonnull(d.expected);
}

static void assert_group(const struct ccid_atr_group *g, uint8_t present, uint8_t T)
{
	ck_assert_uint_eq(g->present, present);
	ck_assert_uint_eq(g->T, T);
}

/* ---- parse ------------------------------------------------------------- */

START_TEST(test_qemu_cac)
{
	struct ccid_atr a;

	parse_ok(ATR_QEMU_CAC, &a);
	ck_assert_uint_eq(a.len, 15);
	ck_assert(!a.inverse);
	ck_assert_uint_eq(a.T0, 0x7A);
	ck_assert_uint_eq(a.K, 10);
	ck_assert_uint_eq(a.ngroups, 1);
	assert_group(&a.group[0], CCID_ATR_TA | CCID_ATR_TB | CCID_ATR_TC, CCID_ATR_T_GLOBAL);
	ck_assert_uint_eq(a.group[0].TA, 0x18);
	ck_assert_uint_eq(a.group[0].off_TA, 2);
	ck_assert_uint_eq(a.group[0].TB, 0x00);
	ck_assert_uint_eq(a.group[0].off_TB, 3);
	ck_assert_uint_eq(a.group[0].off_TC, 4);
	ck_assert_uint_eq(a.hist_offset, 5);
	ck_assert_uint_eq(a.hist_len, 10);
	ck_assert_mem_eq(a.bytes + a.hist_offset, "sfte cd144", 10);
	ck_assert(!a.has_tck);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_eq(a.protocols, 0x0001);
	ck_assert_uint_eq(a.default_protocol, 0);
	/* TA1 = 18: FI 1 -> Fi 372, fmax 5 MHz; DI 8 -> Di 12. */
	ck_assert_uint_eq(a.Fi_index, 1);
	ck_assert_uint_eq(a.Di_index, 8);
	ck_assert_uint_eq(a.Fi, 372);
	ck_assert_uint_eq(a.Di, 12);
	ck_assert_uint_eq(a.fmax_khz, 5000);
	ck_assert_uint_eq(a.N, 0);
	ck_assert_uint_eq(a.WI, 10);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 13);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert(!a.specific_mode);
	ck_assert(!a.has_clock_class);
}
END_TEST

START_TEST(test_dual_t1)
{
	struct ccid_atr a;

	parse_ok(ATR_DUAL_T1, &a);
	ck_assert_uint_eq(a.len, 22);
	ck_assert_uint_eq(a.K, 11);
	ck_assert_uint_eq(a.ngroups, 4);
	/* T0 = DB: TA1 TC1 TD1. */
	assert_group(&a.group[0], CCID_ATR_TA | CCID_ATR_TC | CCID_ATR_TD, CCID_ATR_T_GLOBAL);
	ck_assert_uint_eq(a.group[0].TA, 0x96);
	ck_assert_uint_eq(a.group[0].off_TC, 3);
	ck_assert_uint_eq(a.group[0].TD, 0x80);
	ck_assert_uint_eq(a.group[0].off_TD, 4);
	/* TD1 = 80: TD2, T=0. */
	assert_group(&a.group[1], CCID_ATR_TD, 0);
	ck_assert_uint_eq(a.group[1].TD, 0xB1);
	ck_assert_uint_eq(a.group[1].off_TD, 5);
	/* TD2 = B1: TA3 TB3 TD3, T=1. */
	assert_group(&a.group[2], CCID_ATR_TA | CCID_ATR_TB | CCID_ATR_TD, 1);
	ck_assert_uint_eq(a.group[2].TA, 0xFE);
	ck_assert_uint_eq(a.group[2].off_TA, 6);
	ck_assert_uint_eq(a.group[2].TB, 0x45);
	ck_assert_uint_eq(a.group[2].off_TB, 7);
	ck_assert_uint_eq(a.group[2].TD, 0x1F);
	/* TD3 = 1F: TA4, T=15. */
	assert_group(&a.group[3], CCID_ATR_TA, 15);
	ck_assert_uint_eq(a.group[3].TA, 0x83);
	ck_assert_uint_eq(a.group[3].off_TA, 9);
	ck_assert_uint_eq(a.hist_offset, 10);
	ck_assert_uint_eq(a.hist_len, 11);
	ck_assert(a.has_tck);
	ck_assert_uint_eq(a.TCK, 0x74);
	ck_assert_uint_eq(a.tck_offset, 21);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_eq(a.protocols, 0x0003);
	ck_assert_uint_eq(a.default_protocol, 0);
	/* TA1 = 96: Fi 512 (fmax 5 MHz), Di 32. */
	ck_assert_uint_eq(a.Fi, 512);
	ck_assert_uint_eq(a.Di, 32);
	ck_assert_uint_eq(a.fmax_khz, 5000);
	ck_assert_uint_eq(a.N, 0);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 5);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert(!a.specific_mode);
	/* TA4 = 83: clock stop state H, classes A and B. */
	ck_assert(a.has_clock_class);
	ck_assert_uint_eq(a.clock_stop, 2);
	ck_assert_uint_eq(a.class_indicator, 0x03);
}
END_TEST

START_TEST(test_inverse_specific)
{
	struct ccid_atr a;

	parse_ok(ATR_INVERSE_TA2, &a);
	ck_assert_uint_eq(a.len, 27);
	ck_assert(a.inverse);
	ck_assert_uint_eq(a.bytes[0], 0x3F);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_eq(a.ngroups, 3);
	/* TA1 = 95: Fi 512, Di 16. TC1 = FF: N = 255. */
	ck_assert_uint_eq(a.Fi, 512);
	ck_assert_uint_eq(a.Di, 16);
	ck_assert_uint_eq(a.N, 255);
	/* TD1 = 91: TA2 TD2, T=1; TA2 = 81: specific T=1, unable to change, explicit. */
	assert_group(&a.group[1], CCID_ATR_TA | CCID_ATR_TD, 1);
	ck_assert(a.specific_mode);
	ck_assert_uint_eq(a.ta2_protocol, 1);
	ck_assert(!a.ta2_can_change);
	ck_assert(!a.ta2_implicit);
	/* TD2 = 71: TA3 TB3 TC3 for T=1. */
	assert_group(&a.group[2], CCID_ATR_TA | CCID_ATR_TB | CCID_ATR_TC, 1);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 7);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert_uint_eq(a.protocols, 0x0002);
	ck_assert_uint_eq(a.default_protocol, 1);
	ck_assert_uint_eq(a.hist_offset, 11);
	ck_assert_uint_eq(a.hist_len, 15);
	ck_assert_mem_eq(a.bytes + 11, "DNASP142 RevG01", 15);
	ck_assert_uint_eq(a.TCK, 0x15);
	ck_assert_uint_eq(a.tck_offset, 26);
}
END_TEST

START_TEST(test_raw_inverse)
{
	struct ccid_atr a;
	uint8_t decoded[16];
	size_t n = tu_hex("3F 65 25 00 2C 09 69 90 00", decoded, sizeof(decoded));

	parse_ok(ATR_RAW_INVERSE, &a);
	ck_assert(a.inverse);
	ck_assert_uint_eq(a.flags, CCID_ATR_RAW_INVERSE);
	ck_assert_uint_eq(a.len, n);
	ck_assert_mem_eq(a.bytes, decoded, n);
	/* T0 = 65: TB1 TC1, K = 5. */
	ck_assert_uint_eq(a.K, 5);
	assert_group(&a.group[0], CCID_ATR_TB | CCID_ATR_TC, CCID_ATR_T_GLOBAL);
	ck_assert_uint_eq(a.group[0].TB, 0x25);
	ck_assert_uint_eq(a.protocols, 1);
	ck_assert(!a.has_tck);

	/* The decoded form parses to the same result, without the flag. */
	{
		struct ccid_atr b;

		ck_assert_int_eq(ccid_atr_parse(decoded, n, &b, NULL), 0);
		ck_assert_uint_eq(b.flags, 0);
		ck_assert(b.inverse);
		ck_assert_uint_eq(b.len, a.len);
		ck_assert_mem_eq(b.bytes, a.bytes, a.len);
		ck_assert_mem_eq(b.group, a.group, sizeof(a.group));
		ck_assert_uint_eq(b.hist_offset, a.hist_offset);
		ck_assert_uint_eq(b.hist_len, a.hist_len);
	}
}
END_TEST

START_TEST(test_crc)
{
	struct ccid_atr a;

	parse_ok(ATR_CRC, &a);
	ck_assert_uint_eq(a.ngroups, 3);
	assert_group(&a.group[1], CCID_ATR_TD, 1);
	assert_group(&a.group[2], CCID_ATR_TA | CCID_ATR_TB | CCID_ATR_TC, 1);
	ck_assert_uint_eq(a.group[2].TC, 0x01);
	ck_assert_uint_eq(a.group[2].off_TC, 6);
	ck_assert_int_eq(a.edc, CCID_EDC_CRC);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.protocols, 0x0002);
	ck_assert_uint_eq(a.default_protocol, 1);
	ck_assert_uint_eq(a.hist_offset, 7);
	ck_assert_uint_eq(a.hist_len, 2);
	ck_assert_uint_eq(a.TCK, 0x39);
	ck_assert_uint_eq(a.flags, 0);
}
END_TEST

START_TEST(test_t0_t1)
{
	struct ccid_atr a;

	parse_ok(ATR_T0_T1, &a);
	ck_assert_uint_eq(a.ngroups, 3);
	assert_group(&a.group[0], CCID_ATR_TD, CCID_ATR_T_GLOBAL);
	assert_group(&a.group[1], CCID_ATR_TD, 0);
	assert_group(&a.group[2], 0, 1);
	ck_assert_uint_eq(a.protocols, 0x0003);
	ck_assert_uint_eq(a.default_protocol, 0);
	ck_assert(a.has_tck);
	ck_assert_uint_eq(a.tck_offset, 4);
	ck_assert_uint_eq(a.hist_len, 0);
}
END_TEST

START_TEST(test_t15)
{
	struct ccid_atr a;

	/* T=0 and T=15 indicated: TCK is required (§8.2.5); T=15 is not a protocol. */
	parse_ok(ATR_T15, &a);
	ck_assert_uint_eq(a.protocols, 0x0001);
	ck_assert_uint_eq(a.default_protocol, 0);
	assert_group(&a.group[2], CCID_ATR_TA, 15);
	ck_assert(a.has_clock_class);
	ck_assert_uint_eq(a.clock_stop, 0);
	ck_assert_uint_eq(a.class_indicator, 0x07);
	ck_assert(a.has_tck);
	ck_assert_uint_eq(a.TCK, 0x18);
}
END_TEST

START_TEST(test_ta2_implicit)
{
	struct ccid_atr a;

	parse_ok(ATR_TA2_IMPLICIT, &a);
	ck_assert(a.specific_mode);
	ck_assert_uint_eq(a.ta2_protocol, 1);
	ck_assert(a.ta2_can_change);
	ck_assert(a.ta2_implicit);
	ck_assert_uint_eq(a.Fi, 512);
	ck_assert_uint_eq(a.Di, 32);
	ck_assert_uint_eq(a.hist_len, 4);
	ck_assert_mem_eq(a.bytes + a.hist_offset, "JCOP", 4);
}
END_TEST

START_TEST(test_minimal)
{
	struct ccid_atr a;

	parse_ok("3B 00", &a);
	ck_assert_uint_eq(a.len, 2);
	ck_assert_uint_eq(a.ngroups, 1);
	ck_assert_uint_eq(a.group[0].present, 0);
	ck_assert_uint_eq(a.hist_len, 0);
	ck_assert(!a.has_tck);
	ck_assert_uint_eq(a.protocols, 1);
}
END_TEST

/* ---- derived ----------------------------------------------------------- */

START_TEST(test_defaults)
{
	struct ccid_atr a;

	parse_ok("3B 00", &a);
	ck_assert_uint_eq(a.Fi_index, 1);
	ck_assert_uint_eq(a.Di_index, 1);
	ck_assert_uint_eq(a.Fi, 372);
	ck_assert_uint_eq(a.Di, 1);
	ck_assert_uint_eq(a.fmax_khz, 5000);
	ck_assert_uint_eq(a.N, 0);
	ck_assert_uint_eq(a.WI, 10);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 13);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert(!a.specific_mode);
	ck_assert_uint_eq(a.flags, 0);
}
END_TEST

START_TEST(test_ta1_rfu)
{
	struct ccid_atr a;

	/* FI 7 is RFU. */
	parse_ok("3B 10 71", &a);
	ck_assert_uint_eq(a.Fi_index, 7);
	ck_assert_uint_eq(a.Fi, 0);
	ck_assert_uint_eq(a.fmax_khz, 0);
	ck_assert_uint_eq(a.Di, 1);
	ck_assert_uint_eq(a.flags, CCID_ATR_FI_RFU);
	/* DI 0 is RFU; FI 0 is Fi 372 with fmax 4 MHz. */
	parse_ok("3B 10 00", &a);
	ck_assert_uint_eq(a.Fi, 372);
	ck_assert_uint_eq(a.fmax_khz, 4000);
	ck_assert_uint_eq(a.Di, 0);
	ck_assert_uint_eq(a.flags, CCID_ATR_DI_RFU);
	/* Both. */
	parse_ok("3B 10 FA", &a);
	ck_assert_uint_eq(a.flags, CCID_ATR_FI_RFU | CCID_ATR_DI_RFU);
}
END_TEST

START_TEST(test_ta1_table)
{
	/* Every TA1 parses; Fi/Di/fmax follow the §8.3 tables. */
	static const uint16_t fi[16] = { 372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0 };
	static const uint8_t di[16] = { 0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0 };

	for (unsigned v = 0; v < 256; v++) {
		uint8_t buf[3] = { 0x3B, 0x10, (uint8_t)v };
		struct ccid_atr a;

		ck_assert_int_eq(ccid_atr_parse(buf, 3, &a, NULL), 0);
		ck_assert_uint_eq(a.Fi, fi[v >> 4]);
		ck_assert_uint_eq(a.Di, di[v & 15]);
		ck_assert_uint_eq(!!(a.flags & CCID_ATR_FI_RFU), fi[v >> 4] == 0);
		ck_assert_uint_eq(!!(a.flags & CCID_ATR_DI_RFU), di[v & 15] == 0);
	}
}
END_TEST

START_TEST(test_tc1_tc2)
{
	struct ccid_atr a;

	parse_ok("3B 40 FF", &a);
	ck_assert_uint_eq(a.N, 255);
	parse_ok("3B 40 02", &a);
	ck_assert_uint_eq(a.N, 2);
	/* TD1 = 40: TC2, T=0. */
	parse_ok("3B 80 40 14", &a);
	ck_assert_uint_eq(a.WI, 20);
	ck_assert_uint_eq(a.flags, 0);
	parse_ok("3B 80 40 00", &a);
	ck_assert_uint_eq(a.WI, 10);
	ck_assert_uint_eq(a.flags, CCID_ATR_WI_RFU);
}
END_TEST

START_TEST(test_ifsc_invalid)
{
	struct ccid_atr a;

	parse_ok("3B 80 81 11 00 10", &a);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert_uint_eq(a.flags, CCID_ATR_IFSC_INVALID);
	parse_ok("3B 80 81 11 FF EF", &a);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert_uint_eq(a.flags, CCID_ATR_IFSC_INVALID);
	/* Only the first TA for T=1 counts. */
	parse_ok("3B 80 81 91 FE 11 20 5F", &a);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.flags, 0);
	/* TA2 after TD1 T=1 is the specific mode byte, not IFSC. */
	parse_ok("3B 80 11 FE 6F", &a);
	ck_assert_uint_eq(a.IFSC, 32);
	ck_assert(a.specific_mode);
	ck_assert_uint_eq(a.ta2_protocol, 14);
	ck_assert(!a.ta2_can_change);
	ck_assert(a.ta2_implicit);
}
END_TEST

START_TEST(test_bwi_edc_rfu)
{
	struct ccid_atr a;

	/* TB3 = A5: BWI 10 (RFU) kept with a flag, CWI 5. */
	parse_ok("3B 80 81 21 A5 85", &a);
	ck_assert_uint_eq(a.BWI, 10);
	ck_assert_uint_eq(a.CWI, 5);
	ck_assert_uint_eq(a.flags, CCID_ATR_BWI_RFU);
	/* TC3 = 03: bits 8..2 RFU, bit 1 selects CRC. */
	parse_ok("3B 80 81 41 03 43", &a);
	ck_assert_int_eq(a.edc, CCID_EDC_CRC);
	ck_assert_uint_eq(a.flags, CCID_ATR_EDC_RFU);
	/* In the 33-byte ATR, TC3 = 00 wins over TC4 = 01 and TB3 over TB4. */
	parse_ok(ATR_MAX, &a);
	ck_assert_int_eq(a.edc, CCID_EDC_LRC);
	ck_assert_uint_eq(a.BWI, 4);
	ck_assert_uint_eq(a.CWI, 5);
	ck_assert_uint_eq(a.IFSC, 254);
	ck_assert_uint_eq(a.WI, 10);
	ck_assert(a.specific_mode);
}
END_TEST

START_TEST(test_protocols)
{
	struct ccid_atr a;

	/* TD1 T=1 then TD2 T=0: default is the first offered. */
	parse_ok("3B 80 81 00 01", &a);
	ck_assert_uint_eq(a.protocols, 0x0003);
	ck_assert_uint_eq(a.default_protocol, 1);
	/* TD1 T=15 is invalid: flagged, T=0 assumed. */
	parse_ok("3B 80 0F 8F", &a);
	ck_assert_uint_eq(a.flags, CCID_ATR_TD1_T15);
	ck_assert_uint_eq(a.protocols, 0x0001);
	ck_assert_uint_eq(a.default_protocol, 0);
	ck_assert_uint_eq(a.group[1].T, 15);
}
END_TEST

/* ---- malformed --------------------------------------------------------- */

START_TEST(test_truncations)
{
	/* Every proper prefix of every golden ATR is truncated at its own end. */
	for (size_t g = 0; g < NGOLDENS; g++) {
		uint8_t buf[64];
		size_t n = tu_hex(goldens[g], buf, sizeof(buf));

		for (size_t cut = 0; cut < n; cut++) {
			struct ccid_atr a;
			struct ccid_diag d = { 9999, NULL };
			int r = ccid_atr_parse(buf, cut, &a, &d);

			ck_assert_msg(r == -ENODATA, "%s cut at %zu: %d", goldens[g], cut, r);
			ck_assert_uint_eq(d.offset, cut);
			ck_assert_ptr_nonnull(d.expected);
		}
	}
}
END_TEST

START_TEST(test_truncation_diag)
{
	struct ccid_diag d;
	struct ccid_atr a;
	uint8_t buf[32];
	size_t n = tu_hex(ATR_DUAL_T1, buf, sizeof(buf));

	ck_assert_int_eq(ccid_atr_parse(buf, 1, &a, &d), -ENODATA);
	ck_assert_str_eq(d.expected, "T0 (format byte)");
	ck_assert_int_eq(ccid_atr_parse(buf, 4, &a, &d), -ENODATA);
	ck_assert_str_eq(d.expected, "TD1");
	ck_assert_int_eq(ccid_atr_parse(buf, 9, &a, &d), -ENODATA);
	ck_assert_str_eq(d.expected, "TA4");
	ck_assert_int_eq(ccid_atr_parse(buf, 15, &a, &d), -ENODATA);
	ck_assert_str_eq(d.expected, "historical byte (K in T0)");
	/* Missing TCK while T=1 is offered. */
	ck_assert_int_eq(ccid_atr_parse(buf, n - 1, &a, &d), -ENODATA);
	ck_assert_uint_eq(d.offset, 21);
	ck_assert_str_eq(d.expected, "TCK (a protocol other than T=0 is indicated)");
	expect_fail("3B 80 81 00", -ENODATA, 4);
}
END_TEST

START_TEST(test_wrong_tck)
{
	uint8_t buf[32];
	struct ccid_atr a;
	struct ccid_diag d;
	size_t n = tu_hex(ATR_DUAL_T1, buf, sizeof(buf));

	/* Each single-bit error in TCK. */
	for (unsigned bit = 0; bit < 8; bit++) {
		buf[n - 1] ^= (uint8_t)(1u << bit);
		ck_assert_int_eq(ccid_atr_parse(buf, n, &a, &d), -EPROTO);
		ck_assert_uint_eq(d.offset, 21);
		ck_assert_str_eq(d.expected, "TCK making the XOR of T0..TCK zero");
		buf[n - 1] ^= (uint8_t)(1u << bit);
	}
	/* A corrupted historical byte is caught by the TCK too. */
	buf[15] ^= 0x40;
	ck_assert_int_eq(ccid_atr_parse(buf, n, &a, &d), -EPROTO);
	ck_assert_uint_eq(d.offset, 21);
	expect_fail("3B 80 80 01 00", -EPROTO, 4);
	expect_fail("3B 80 80 1F 07 19", -EPROTO, 5);
}
END_TEST

START_TEST(test_trailing)
{
	struct ccid_diag d;
	struct ccid_atr a;

	expect_fail(ATR_QEMU_CAC " 00", -EMSGSIZE, 15);
	expect_fail(ATR_DUAL_T1 " 00", -EMSGSIZE, 22);
	/* A TCK-like byte after a T=0-only ATR is trailing, whatever its value. */
	ck_assert_int_eq(parse_hex("3B 01 41 40", &a, &d), -EMSGSIZE);
	ck_assert_uint_eq(d.offset, 3);
	ck_assert_str_eq(d.expected, "end of ATR (no TCK: only T=0 is indicated, ISO 7816-3 8.2.5)");
}
END_TEST

START_TEST(test_too_long)
{
	struct ccid_atr a;
	uint8_t buf[64];
	size_t n = tu_hex(ATR_MAX, buf, sizeof(buf));

	ck_assert_uint_eq(n, 33);
	ck_assert_int_eq(ccid_atr_parse(buf, n, &a, NULL), 0);
	expect_fail(ATR_MAX " 00", -EMSGSIZE, 33);
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x3B;
	ck_assert_int_eq(ccid_atr_parse(buf, 64, &a, NULL), -EMSGSIZE);
}
END_TEST

START_TEST(test_bad_ts)
{
	for (unsigned ts = 0; ts < 256; ts++) {
		uint8_t buf[2] = { (uint8_t)ts, 0x00 };
		struct ccid_atr a;
		struct ccid_diag d = { 77, NULL };
		int r = ccid_atr_parse(buf, 2, &a, &d);

		if (ts == 0x3B || ts == 0x3F) {
			ck_assert_int_eq(r, 0);
		} else if (ts == 0x03) {
			/* 03 then raw 00 = decoded FF: T0 FF announces more than we gave. */
			ck_assert_int_eq(r, -ENODATA);
		} else {
			ck_assert_int_eq(r, -EBADMSG);
			ck_assert_uint_eq(d.offset, 0);
			ck_assert_str_eq(d.expected, "TS 3B (direct) or 3F (inverse convention)");
		}
	}
}
END_TEST

START_TEST(test_bad_args)
{
	struct ccid_atr a, before;
	uint8_t buf[4] = { 0x3B, 0x00 };
	struct ccid_diag d = { 5, "untouched" };

	ck_assert_int_eq(ccid_atr_parse(NULL, 2, &a, NULL), -EINVAL);
	ck_assert_int_eq(ccid_atr_parse(buf, 2, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ccid_atr_parse(NULL, 0, &a, NULL), -ENODATA);
	/* ret is written only on success, diag only on failure. */
	memset(&a, 0xA5, sizeof(a));
	memcpy(&before, &a, sizeof(a));
	ck_assert_int_eq(parse_hex(ATR_DUAL_T1 " 00", &a, NULL), -EMSGSIZE);
	ck_assert_mem_eq(&a, &before, sizeof(a));
	ck_assert_int_eq(ccid_atr_parse(buf, 2, &a, &d), 0);
	ck_assert_uint_eq(d.offset, 5);
	ck_assert_str_eq(d.expected, "untouched");
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_max_atr)
{
	struct ccid_atr a;

	parse_ok(ATR_MAX, &a);
	ck_assert_uint_eq(a.len, 33);
	ck_assert_uint_eq(a.ngroups, 4);
	ck_assert_uint_eq(a.hist_len, 15);
	ck_assert_uint_eq(a.tck_offset, 32);
	assert_group(&a.group[3], CCID_ATR_TA | CCID_ATR_TB | CCID_ATR_TC, 1);
	ck_assert_uint_eq(a.group[3].off_TC, 16);
}
END_TEST

START_TEST(test_max_groups)
{
	uint8_t buf[34];
	struct ccid_atr a;
	struct ccid_diag d;

	/* T0 and TD1..TD31 each announce only a TD: 32 groups in 33 bytes, T=0 only. */
	buf[0] = 0x3B;
	memset(buf + 1, 0x80, 32);
	buf[32] = 0x00;
	ck_assert_int_eq(ccid_atr_parse(buf, 33, &a, NULL), 0);
	ck_assert_uint_eq(a.ngroups, CCID_ATR_MAX_GROUPS);
	ck_assert_uint_eq(a.group[30].off_TD, 32);
	ck_assert_uint_eq(a.group[31].present, 0);
	ck_assert(!a.has_tck);
	/* TD31 announcing TD32 needs a 34th byte. */
	buf[32] = 0x80;
	ck_assert_int_eq(ccid_atr_parse(buf, 33, &a, &d), -ENODATA);
	ck_assert_uint_eq(d.offset, 33);
	ck_assert_str_eq(d.expected, "TD32");
	ck_assert_int_eq(ccid_atr_parse(buf, 34, &a, &d), -EMSGSIZE);
}
END_TEST

START_TEST(test_timing_limits)
{
	/* Largest inputs of each type: exact values, no wrap-around. */
	ck_assert_uint_eq(ccid_etu_ns(65535, 1, 1), 65535000000ull);
	ck_assert_uint_eq(ccid_etu_ns(372, 1, UINT32_MAX), 1);
	ck_assert_uint_eq(ccid_egt_us(65535, 1, 254, 1), 17432310000ull);
	ck_assert_uint_eq(ccid_wwt_us(255, 65535, 1), 16042968000000ull);
	ck_assert_uint_eq(ccid_bwt_us(15, 65535, 1, 1), 11702829045000ull);
	ck_assert_uint_eq(ccid_bwt_us(15, 65535, 255, 1), 11702110987000ull);
	ck_assert_uint_eq(ccid_cwt_us(15, 65535, 1, 1), 2148171765000ull);
	ck_assert_uint_eq(ccid_bwt_us(0, 1, 255, UINT32_MAX), 1);
}
END_TEST

/* ---- pps --------------------------------------------------------------- */

static size_t hex(const char *s, uint8_t *buf)
{
	return tu_hex(s, buf, 16);
}

START_TEST(test_pps_build)
{
	uint8_t buf[8], want[8];
	uint8_t p1 = 0x96, p2 = 0x00, p3 = 0x00, p2b = 0x05;

	ck_assert_int_eq(ccid_pps_build(1, &p1, NULL, NULL, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, want, hex("FF 11 96 78", want));
	ck_assert_int_eq(ccid_pps_build(0, NULL, NULL, NULL, buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, want, hex("FF 00 FF", want));
	p1 = 0x11;
	ck_assert_int_eq(ccid_pps_build(0, &p1, NULL, NULL, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, want, hex("FF 10 11 FE", want));
	p1 = 0x96;
	ck_assert_int_eq(ccid_pps_build(1, &p1, &p2, &p3, buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, want, hex("FF 71 96 00 00 18", want));
	ck_assert_int_eq(ccid_pps_build(1, NULL, &p2b, NULL, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, want, hex("FF 21 05 DB", want));
}
END_TEST

START_TEST(test_pps_build_errors)
{
	uint8_t buf[8];
	uint8_t p1 = 0x96;

	ck_assert_int_eq(ccid_pps_build(15, NULL, NULL, NULL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ccid_pps_build(16, NULL, NULL, NULL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ccid_pps_build(255, NULL, NULL, NULL, buf, sizeof(buf)), -EINVAL);
	memset(buf, 0xEE, sizeof(buf));
	ck_assert_int_eq(ccid_pps_build(1, &p1, NULL, NULL, buf, 3), -ENOBUFS);
	ck_assert_uint_eq(buf[0], 0xEE);
	ck_assert_int_eq(ccid_pps_build(1, NULL, NULL, NULL, NULL, 0), -ENOBUFS);
	ck_assert_int_eq(ccid_pps_build(1, NULL, NULL, NULL, NULL, 3), -EINVAL);
	ck_assert_int_eq(ccid_pps_build(1, &p1, NULL, NULL, buf, 4), 4);
}
END_TEST

START_TEST(test_pps_round_trip)
{
	/* Every protocol 0..14 with every combination of PPS1..3. */
	for (uint8_t T = 0; T < 15; T++) {
		for (unsigned m = 0; m < 8; m++) {
			uint8_t v1 = (uint8_t)(0x11 + T), v2 = (uint8_t)(0x80 | m), v3 = (uint8_t)(T << 4);
			uint8_t buf[CCID_PPS_MAX];
			struct ccid_pps p, c;
			int n = ccid_pps_build(T, (m & 1) ? &v1 : NULL, (m & 2) ? &v2 : NULL, (m & 4) ? &v3 : NULL,
					       buf, sizeof(buf));

			ck_assert_int_eq(n, 3 + __builtin_popcount(m));
			ck_assert_int_eq(ccid_pps_parse(buf, (size_t)n, &p, NULL), 0);
			ck_assert_uint_eq(p.protocol, T);
			ck_assert_uint_eq(p.has_pps1, !!(m & 1));
			ck_assert_uint_eq(p.has_pps2, !!(m & 2));
			ck_assert_uint_eq(p.has_pps3, !!(m & 4));
			ck_assert_uint_eq(p.pps1, (m & 1) ? v1 : 0);
			ck_assert_uint_eq(p.pps2, (m & 2) ? v2 : 0);
			ck_assert_uint_eq(p.pps3, (m & 4) ? v3 : 0);
			/* A card that echoes the request accepts it. */
			ck_assert_int_eq(ccid_pps_check(buf, (size_t)n, buf, (size_t)n, &c, NULL), 0);
			ck_assert_mem_eq(&c, &p, sizeof(p));
		}
	}
}
END_TEST

static void pps_parse_fail(const char *s, int err, size_t off)
{
	uint8_t buf[16];
	size_t n = hex(s, buf);
	struct ccid_pps p;
	struct ccid_diag d = { 999, NULL };

	ck_assert_msg(ccid_pps_parse(buf, n, &p, &d) == err, "%s", s);
	ck_assert_uint_eq(d.offset, off);
	ck_assert_ptr_nonnull(d.expected);
}

START_TEST(test_pps_parse_errors)
{
	uint8_t buf[8];
	struct ccid_pps p;
	size_t n = hex("FF 71 96 00 00 18", buf);

	pps_parse_fail("FE 11 96 78", -EBADMSG, 0);
	pps_parse_fail("FF 91 96 F8", -EBADMSG, 1);
	pps_parse_fail("FF 0F F0", -EBADMSG, 1);
	pps_parse_fail("FF 11 96 79", -EPROTO, 3);
	pps_parse_fail("FF 11 96 78 00", -EMSGSIZE, 4);
	for (size_t cut = 0; cut < n; cut++) {
		struct ccid_diag d;

		ck_assert_int_eq(ccid_pps_parse(buf, cut, &p, &d), -ENODATA);
		ck_assert_uint_eq(d.offset, cut);
	}
	ck_assert_int_eq(ccid_pps_parse(NULL, 4, &p, NULL), -EINVAL);
	ck_assert_int_eq(ccid_pps_parse(buf, n, NULL, NULL), -EINVAL);
}
END_TEST

static int pps_check(const char *req, const char *rsp, struct ccid_pps *ret, struct ccid_diag *d)
{
	uint8_t q[16], a[16];
	size_t nq = hex(req, q), na = hex(rsp, a);

	return ccid_pps_check(q, nq, a, na, ret, d);
}

START_TEST(test_pps_check)
{
	struct ccid_pps r;
	struct ccid_diag d;

	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 96 78", &r, &d), 0);
	ck_assert(r.has_pps1);
	ck_assert_uint_eq(r.pps1, 0x96);
	ck_assert_uint_eq(r.protocol, 1);
	/* PPS1 absent in the answer: success, Fd/Dd stay. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 01 FE", &r, &d), 0);
	ck_assert(!r.has_pps1);
	ck_assert_uint_eq(r.protocol, 1);
	/* PPS2 not accepted, PPS1 echoed. */
	ck_assert_int_eq(pps_check("FF 31 96 00 58", "FF 11 96 78", &r, &d), 0);
	ck_assert(r.has_pps1);
	ck_assert(!r.has_pps2);
}
END_TEST

START_TEST(test_pps_check_failures)
{
	struct ccid_pps r;
	struct ccid_diag d;

	memset(&r, 0x5A, sizeof(r));
	/* Other protocol in the answer. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 10 96 79", &r, &d), -EPROTONOSUPPORT);
	ck_assert_uint_eq(d.offset, 1);
	ck_assert_uint_eq(r.protocol, 0x5A);
	/* Changed PPS1. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 95 7B", &r, &d), -EOPNOTSUPP);
	ck_assert_uint_eq(d.offset, 2);
	ck_assert_str_eq(d.expected, "PPS1 echoing the request, or absent (ISO 7816-3 9.3)");
	/* PPS1 added by the card. */
	ck_assert_int_eq(pps_check("FF 01 FE", "FF 11 96 78", &r, &d), -EOPNOTSUPP);
	ck_assert_uint_eq(d.offset, 2);
	/* PPS2 added by the card. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 31 96 00 58", &r, &d), -EOPNOTSUPP);
	ck_assert_uint_eq(d.offset, 3);
	/* Changed PPS3. */
	ck_assert_int_eq(pps_check("FF 71 96 00 00 18", "FF 71 96 00 01 19", &r, &d), -EOPNOTSUPP);
	ck_assert_uint_eq(d.offset, 4);
	/* Bad PCK. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 96 77", &r, &d), -EPROTO);
	ck_assert_uint_eq(d.offset, 3);
	/* Truncated, too long, not a PPS. */
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 96", &r, &d), -ENODATA);
	ck_assert_uint_eq(d.offset, 3);
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 96 78 78", &r, &d), -EMSGSIZE);
	ck_assert_int_eq(pps_check("FF 11 96 78", "00 11 96 78", &r, &d), -EBADMSG);
	/* Bad request: the caller's mistake, diag points into req. */
	ck_assert_int_eq(pps_check("FF 11 96 79", "FF 11 96 78", &r, &d), -EINVAL);
	ck_assert_uint_eq(d.offset, 3);
	ck_assert_int_eq(pps_check("FF 11 96 78", "FF 11 96 78", NULL, &d), -EINVAL);
	ck_assert_uint_eq(r.protocol, 0x5A);
}
END_TEST

/* ---- timing ------------------------------------------------------------ */

START_TEST(test_tables)
{
	ck_assert_uint_eq(ccid_fi(0), 372);
	ck_assert_uint_eq(ccid_fi(1), 372);
	ck_assert_uint_eq(ccid_fi(6), 1860);
	ck_assert_uint_eq(ccid_fi(7), 0);
	ck_assert_uint_eq(ccid_fi(8), 0);
	ck_assert_uint_eq(ccid_fi(9), 512);
	ck_assert_uint_eq(ccid_fi(13), 2048);
	ck_assert_uint_eq(ccid_fi(14), 0);
	ck_assert_uint_eq(ccid_fi(15), 0);
	ck_assert_uint_eq(ccid_fi(16), 0);
	ck_assert_uint_eq(ccid_fi(255), 0);
	ck_assert_uint_eq(ccid_fmax_khz(0), 4000);
	ck_assert_uint_eq(ccid_fmax_khz(1), 5000);
	ck_assert_uint_eq(ccid_fmax_khz(6), 20000);
	ck_assert_uint_eq(ccid_fmax_khz(7), 0);
	ck_assert_uint_eq(ccid_fmax_khz(10), 7500);
	ck_assert_uint_eq(ccid_fmax_khz(13), 20000);
	ck_assert_uint_eq(ccid_fmax_khz(16), 0);
	ck_assert_uint_eq(ccid_di(0), 0);
	ck_assert_uint_eq(ccid_di(1), 1);
	ck_assert_uint_eq(ccid_di(7), 64);
	ck_assert_uint_eq(ccid_di(8), 12);
	ck_assert_uint_eq(ccid_di(9), 20);
	ck_assert_uint_eq(ccid_di(10), 0);
	ck_assert_uint_eq(ccid_di(15), 0);
	ck_assert_uint_eq(ccid_di(200), 0);
}
END_TEST

START_TEST(test_etu_egt)
{
	/* 372 / 4 MHz = 93 us exactly. */
	ck_assert_uint_eq(ccid_etu_ns(372, 1, 4000), 93000);
	/* 372e6 / 3580 = 103910.6.. ns, rounded up. */
	ck_assert_uint_eq(ccid_etu_ns(372, 1, 3580), 103911);
	/* F/D = 512/32 = 16 cycles at 4 MHz = 4 us. */
	ck_assert_uint_eq(ccid_etu_ns(512, 32, 4000), 4000);
	ck_assert_uint_eq(ccid_etu_ns(372, 12, 4000), 7750);
	/* GT = (12 + N) etu. */
	ck_assert_uint_eq(ccid_egt_us(372, 1, 0, 4000), 1116);
	ck_assert_uint_eq(ccid_egt_us(372, 1, 2, 4000), 1302);
	ck_assert_uint_eq(ccid_egt_us(372, 1, 255, 4000), 1116);
	/* 13 * 7.75 us = 100.75 us -> 101. */
	ck_assert_uint_eq(ccid_egt_us(372, 12, 1, 4000), 101);
}
END_TEST

START_TEST(test_waiting_times)
{
	/* WT = 10 * 960 * 372 / 4 MHz = 892.8 ms. */
	ck_assert_uint_eq(ccid_wwt_us(10, 372, 4000), 892800);
	/* 3 571 200 000 / 3580 = 997 541.9 -> 997 542. */
	ck_assert_uint_eq(ccid_wwt_us(10, 372, 3580), 997542);
	/* BWT = 11 * 93 us + 16 * 960 * 372 / 4 MHz = 1023 + 1 428 480 us. */
	ck_assert_uint_eq(ccid_bwt_us(4, 372, 1, 4000), 1429503);
	/* Fd = 372 in the second term even when F/D is 512/32: 44 + 1 428 480. */
	ck_assert_uint_eq(ccid_bwt_us(4, 512, 32, 4000), 1428524);
	ck_assert_uint_eq(ccid_bwt_us(4, 372, 1, 3580), 1597211);
	/* CWT = (11 + 2^13) * 93 us. */
	ck_assert_uint_eq(ccid_cwt_us(13, 372, 1, 4000), 762879);
	ck_assert_uint_eq(ccid_cwt_us(5, 512, 32, 4000), 172);
	ck_assert_uint_eq(ccid_cwt_us(0, 372, 1, 4000), 1116);
}
END_TEST

START_TEST(test_timing_invalid)
{
	ck_assert_uint_eq(ccid_etu_ns(372, 1, 0), 0);
	ck_assert_uint_eq(ccid_etu_ns(0, 1, 4000), 0);
	ck_assert_uint_eq(ccid_etu_ns(372, 0, 4000), 0);
	ck_assert_uint_eq(ccid_egt_us(372, 1, 0, 0), 0);
	ck_assert_uint_eq(ccid_egt_us(372, 0, 0, 4000), 0);
	ck_assert_uint_eq(ccid_wwt_us(10, 372, 0), 0);
	ck_assert_uint_eq(ccid_wwt_us(0, 372, 4000), 0);
	ck_assert_uint_eq(ccid_wwt_us(10, 0, 4000), 0);
	ck_assert_uint_eq(ccid_bwt_us(4, 372, 1, 0), 0);
	ck_assert_uint_eq(ccid_bwt_us(16, 372, 1, 4000), 0);
	ck_assert_uint_eq(ccid_bwt_us(255, 372, 1, 4000), 0);
	ck_assert_uint_eq(ccid_bwt_us(4, 372, 0, 4000), 0);
	ck_assert_uint_eq(ccid_cwt_us(16, 372, 1, 4000), 0);
	ck_assert_uint_eq(ccid_cwt_us(13, 0, 1, 4000), 0);
	ck_assert_uint_eq(ccid_cwt_us(13, 372, 1, 0), 0);
}
END_TEST

START_TEST(test_timing_from_atr)
{
	struct ccid_atr a;

	/* The dual card at 4 MHz after PPS to Fi=512 Di=32. */
	parse_ok(ATR_DUAL_T1, &a);
	ck_assert_uint_eq(ccid_bwt_us(a.BWI, a.Fi, a.Di, 4000), 1428524);
	ck_assert_uint_eq(ccid_cwt_us(a.CWI, a.Fi, a.Di, 4000), 172);
	ck_assert_uint_eq(ccid_wwt_us(a.WI, a.Fi, 4000), 1228800);
	/* QEMU CAC: Fi 372 Di 12, WI 10. */
	parse_ok(ATR_QEMU_CAC, &a);
	ck_assert_uint_eq(ccid_etu_ns(a.Fi, a.Di, 4000), 7750);
	ck_assert_uint_eq(ccid_egt_us(a.Fi, a.Di, a.N, 4000), 93);
	ck_assert_uint_eq(ccid_wwt_us(a.WI, a.Fi, 4000), 892800);
}
END_TEST

/* ---- describe ---------------------------------------------------------- */

#define COL_MAX 200

struct col_field {
	enum ccid_field_kind kind;
	char name[32];
	size_t offset, size, nbytes;
	uint64_t value;
	char text[CCID_FIELD_TEXT_MAX];
};

struct col {
	size_t n;
	struct col_field f[COL_MAX];
};

static void col_emit(void *ctx, const struct ccid_field *f)
{
	struct col *c = ctx;
	struct col_field *o;

	ck_assert_uint_lt(c->n, COL_MAX);
	o = &c->f[c->n++];
	o->kind = f->kind;
	ck_assert_ptr_nonnull(f->name);
	ck_assert_uint_lt(strlen(f->name), sizeof(o->name));
	strcpy(o->name, f->name);
	o->offset = f->offset;
	o->size = f->size;
	o->nbytes = f->nbytes;
	o->value = f->value;
	ck_assert_uint_lt(strnlen(f->text, sizeof(f->text)), sizeof(f->text));
	strcpy(o->text, f->text);
}

/* First field called name, of the given kind (a FLAG and a DERIVED may share a name). */
static const struct col_field *col_find(const struct col *c, const char *name, enum ccid_field_kind kind)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->f[i].name, name) && c->f[i].kind == kind)
			return &c->f[i];
	return NULL;
}

static void assert_field(const struct col *c, const char *name, enum ccid_field_kind kind, uint64_t value,
			 const char *text)
{
	const struct col_field *f = col_find(c, name, kind);

	ck_assert_msg(f != NULL, "no field %s of kind %d", name, (int)kind);
	ck_assert_uint_eq(f->value, value);
	ck_assert_str_eq(f->text, text);
}

static struct col *describe_hex(const char *hex, struct ccid_atr *a)
{
	static struct col c;

	parse_ok(hex, a);
	memset(&c, 0, sizeof(c));
	ccid_atr_describe(a, col_emit, &c);
	return &c;
}

START_TEST(test_describe_qemu)
{
	static const char *const order[] = {
		"TS", "T0", "Y1", "K", "group 1", "TA1", "FI", "DI", "TB1", "TC1", "historical bytes",
		"protocols", "mode", "Fi", "Di", "fmax", "N", "WI", "IFSC", "BWI", "CWI", "EDC",
	};
	struct ccid_atr a;
	struct col *c = describe_hex(ATR_QEMU_CAC, &a);

	ck_assert_uint_eq(c->n, sizeof(order) / sizeof(order[0]));
	for (size_t i = 0; i < c->n; i++)
		ck_assert_str_eq(c->f[i].name, order[i]);
	assert_field(c, "TS", CCID_FIELD_VALUE, 0x3B, "direct convention");
	assert_field(c, "T0", CCID_FIELD_VALUE, 0x7A, "Y1=0x7: TA1 TB1 TC1 follow; K=10 historical bytes");
	assert_field(c, "TA1", CCID_FIELD_VALUE, 0x18, "Fi=372 Di=12 (F/D = 31), fmax 5 MHz");
	assert_field(c, "DI", CCID_FIELD_FLAG, 8, "Di index 8: Di = 12");
	assert_field(c, "TB1", CCID_FIELD_VALUE, 0, "VPP programming (deprecated, ignored)");
	assert_field(c, "TC1", CCID_FIELD_VALUE, 0, "N=0: extra guard time, 12 etu between characters to the card");
	assert_field(c, "historical bytes", CCID_FIELD_BYTES, 0, "K=10: \"sfte cd144\"");
	assert_field(c, "protocols", CCID_FIELD_DERIVED, 1, "T=0 offered, default T=0");
	assert_field(c, "mode", CCID_FIELD_DERIVED, 0, "negotiable mode: PPS may select the protocol and Fi/Di");
	assert_field(c, "Fi", CCID_FIELD_DERIVED, 372, "clock rate conversion integer Fi=372");
	assert_field(c, "Di", CCID_FIELD_DERIVED, 12, "baud rate adjustment integer Di=12");
	assert_field(c, "fmax", CCID_FIELD_DERIVED, 5000, "fmax 5 MHz");
	assert_field(c, "WI", CCID_FIELD_DERIVED, 10, "T=0 waiting time integer WI=10 (default)");
	assert_field(c, "IFSC", CCID_FIELD_DERIVED, 32, "T=1 card information field size IFSC=32 (default)");
	assert_field(c, "EDC", CCID_FIELD_DERIVED, CCID_EDC_LRC, "T=1 checksum: LRC (default)");
	ck_assert_uint_eq(col_find(c, "historical bytes", CCID_FIELD_BYTES)->offset, 5);
	ck_assert_uint_eq(col_find(c, "historical bytes", CCID_FIELD_BYTES)->nbytes, 10);
}
END_TEST

START_TEST(test_describe_dual)
{
	struct ccid_atr a;
	struct col *c = describe_hex(ATR_DUAL_T1, &a);

	assert_field(c, "TA1", CCID_FIELD_VALUE, 0x96, "Fi=512 Di=32 (F/D = 16), fmax 5 MHz");
	assert_field(c, "TD1", CCID_FIELD_VALUE, 0x80, "Y2=0x8: TD2 follow; protocol T=0");
	assert_field(c, "TD2", CCID_FIELD_VALUE, 0xB1, "Y3=0xB: TA3 TB3 TD3 follow; protocol T=1");
	assert_field(c, "TD3", CCID_FIELD_VALUE, 0x1F, "Y4=0x1: TA4 follow; T=15: global interface bytes");
	assert_field(c, "TA3", CCID_FIELD_VALUE, 0xFE,
		     "IFSC=254: the card accepts blocks with up to 254 information bytes");
	assert_field(c, "TB3", CCID_FIELD_VALUE, 0x45, "BWI=4 CWI=5");
	assert_field(c, "TA4", CCID_FIELD_VALUE, 0x83, "clock stop: state H; classes: A (5 V), B (3 V)");
	assert_field(c, "group 3", CCID_FIELD_SECTION, 1, "interface bytes for T=1, announced by TD2");
	assert_field(c, "group 4", CCID_FIELD_SECTION, 15, "global interface bytes, announced by TD3 (T=15)");
	assert_field(c, "TCK", CCID_FIELD_VALUE, 0x74, "check byte: XOR of T0..TCK is 0");
	assert_field(c, "historical bytes", CCID_FIELD_BYTES, 0,
		     "K=11, category 00: COMPACT-TLV objects, status indicator in the last 3 bytes");
	assert_field(c, "protocols", CCID_FIELD_DERIVED, 3, "T=0, T=1 offered, default T=0");
	assert_field(c, "IFSC", CCID_FIELD_DERIVED, 254, "T=1 card information field size IFSC=254");
	assert_field(c, "CWI", CCID_FIELD_DERIVED, 5, "T=1 character waiting time integer CWI=5");
	assert_field(c, "EDC", CCID_FIELD_DERIVED, CCID_EDC_LRC, "T=1 checksum: LRC (default)");
}
END_TEST

START_TEST(test_describe_misc)
{
	struct ccid_atr a;
	struct col *c;

	c = describe_hex("3B 10 11", &a);
	assert_field(c, "TA1", CCID_FIELD_VALUE, 0x11, "Fi=372 Di=1 (F/D = 372), fmax 5 MHz");
	c = describe_hex("3B 10 A9", &a);
	assert_field(c, "TA1", CCID_FIELD_VALUE, 0xA9, "Fi=768 Di=20 (F/D = 38.4), fmax 7.5 MHz");
	c = describe_hex("3B 10 71", &a);
	assert_field(c, "TA1", CCID_FIELD_VALUE, 0x71, "FI=7 DI=1: Fi RFU (use Fd=372 Dd=1)");
	assert_field(c, "Fi", CCID_FIELD_DERIVED, 0, "Fi index 7 is RFU: keep Fd=372");
	c = describe_hex(ATR_CRC, &a);
	assert_field(c, "TC3", CCID_FIELD_VALUE, 0x01, "T=1 checksum: CRC");
	assert_field(c, "EDC", CCID_FIELD_DERIVED, CCID_EDC_CRC, "T=1 checksum: CRC");
	c = describe_hex(ATR_INVERSE_TA2, &a);
	assert_field(c, "TS", CCID_FIELD_VALUE, 0x3F, "inverse convention");
	assert_field(c, "TC1", CCID_FIELD_VALUE, 0xFF,
		     "N=255: minimum guard time (12 etu under T=0, 11 etu under T=1)");
	assert_field(c, "TA2", CCID_FIELD_VALUE, 0x81,
		     "specific mode: T=1, unable to change mode, Fi/Di from TA1");
	assert_field(c, "mode", CCID_FIELD_DERIVED, 1, "specific mode: T=1 with Fi/Di from TA1, no PPS");
	assert_field(c, "historical bytes", CCID_FIELD_BYTES, 0, "K=15: \"DNASP142 RevG01\"");
	c = describe_hex(ATR_RAW_INVERSE, &a);
	assert_field(c, "TS", CCID_FIELD_VALUE, 0x3F,
		     "inverse convention (received as 03: the reader did not decode the inverse convention)");
	c = describe_hex("3B 80 81 11 00 10", &a);
	assert_field(c, "TA3", CCID_FIELD_VALUE, 0x00, "IFSC=0 invalid (1..254), using 32");
	assert_field(c, "IFSC", CCID_FIELD_DERIVED, 32, "T=1 card information field size IFSC=32 (default)");
	c = describe_hex("3B 80 40 14", &a);
	assert_field(c, "TC2", CCID_FIELD_VALUE, 0x14, "WI=20: T=0 waiting time 960*20*Fi/f");
	assert_field(c, "WI", CCID_FIELD_DERIVED, 20, "T=0 waiting time integer WI=20");
}
END_TEST

START_TEST(test_describe_coverage)
{
	/* Every golden: each ATR byte is shown exactly once; flags follow their value. */
	for (size_t g = 0; g < NGOLDENS; g++) {
		struct ccid_atr a;
		struct col *c = describe_hex(goldens[g], &a);
		unsigned seen[CCID_ATR_MAX] = { 0 };
		size_t last_value = CCID_FIELD_NO_OFFSET;

		for (size_t i = 0; i < c->n; i++) {
			const struct col_field *f = &c->f[i];

			switch (f->kind) {
			case CCID_FIELD_VALUE:
				ck_assert_uint_lt(f->offset, a.len);
				ck_assert_uint_eq(f->size, 1);
				ck_assert_uint_eq(f->value, a.bytes[f->offset]);
				seen[f->offset]++;
				last_value = f->offset;
				break;
			case CCID_FIELD_BYTES:
				ck_assert_uint_le(f->offset + f->nbytes, a.len);
				for (size_t k = 0; k < f->nbytes; k++)
					seen[f->offset + k]++;
				break;
			case CCID_FIELD_FLAG:
				ck_assert_uint_eq(f->offset, last_value);
				break;
			case CCID_FIELD_DERIVED:
				ck_assert_uint_eq(f->offset, CCID_FIELD_NO_OFFSET);
				break;
			case CCID_FIELD_SECTION:
				break;
			}
			ck_assert_msg(f->text[0] != '\0', "%s: field %s without explanation", goldens[g], f->name);
		}
		for (size_t k = 0; k < a.len; k++)
			ck_assert_msg(seen[k] == 1, "%s: byte %zu shown %u times", goldens[g], k, seen[k]);
	}
}
END_TEST

/* ---- lenient parse: any ATR a reader returns, a finding per defect ---- */

struct want_finding {
	enum ccid_atr_defect defect;
	size_t offset, count;
	int want, got;          /* -1 unless wrong TCK */
};

struct lenient_case {
	const char *hex;
	struct want_finding f[CCID_ATR_MAX_FINDINGS];
	size_t nf;
	size_t hist_len;
	bool has_tck;
	size_t extra_len;
};

/* Real ATRs of pcsc-tools' smartcard_list.txt, one per kind, and some made up. */
static const struct lenient_case lenient_cases[] = {
	/* clean: no finding */
	{ ATR_DUAL_T1, { { 0 } }, 0, 11, true, 0 },
	/* truncated in the interface bytes: TA1 read, TC1 missing */
	{ "3B DB 96", { { CCID_ATR_TRUNCATED, 3, 1, -1, -1 } }, 1, 0, false, 0 },
	/* TS alone */
	{ "3B", { { CCID_ATR_TRUNCATED, 1, 1, -1, -1 } }, 1, 0, false, 0 },
	/* nothing after the interface bytes: 13 historical bytes missing (T=0 only: no TCK missing) */
	{ "3B 6D 00 00", { { CCID_ATR_MISSING_HISTORICAL, 4, 13, -1, -1 } }, 1, 0, false, 0 },
	/* T=1 with 10 of 11 historical bytes: both missing */
	{ "3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90",
	  { { CCID_ATR_MISSING_HISTORICAL, 20, 1, -1, -1 }, { CCID_ATR_MISSING_TCK, 20, 1, -1, -1 } }, 2, 10, false, 0 },
	/* T=1, historical bytes complete, no TCK */
	{ "3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00",
	  { { CCID_ATR_MISSING_TCK, 21, 1, -1, -1 } }, 1, 11, false, 0 },
	/* wrong TCK */
	{ "3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 75",
	  { { CCID_ATR_WRONG_TCK, 21, 1, 0x74, 0x75 } }, 1, 11, true, 0 },
	/* wrong TCK and a byte after it (3B 96 00 41 21 92 00 00 62 24 33 33 90 00 of the list) */
	{ "3B 96 00 41 21 92 00 00 62 24 33 33 90 00",
	  { { CCID_ATR_WRONG_TCK, 11, 1, 0x11, 0x33 }, { CCID_ATR_EXTRA_AFTER_TCK, 12, 2, -1, -1 } }, 2, 6, true, 2 },
	/* a correct TCK after a T=0-only ATR */
	{ "3B 02 14 50 46", { { CCID_ATR_UNEXPECTED_TCK, 4, 1, -1, -1 } }, 1, 2, true, 0 },
	/* a byte after a T=0-only ATR that is no check byte */
	{ "3B 02 14 50 00", { { CCID_ATR_EXTRA_BYTES, 4, 1, -1, -1 } }, 1, 2, false, 1 },
	{ "3B 00 01 02", { { CCID_ATR_EXTRA_BYTES, 2, 2, -1, -1 } }, 1, 0, false, 2 },
	/* 35 bytes: the last 2 ignored, the 33 decoded are a T=0 ATR with 2 extra bytes... */
	{ "3B 0F 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 20 21",
	  { { CCID_ATR_TOO_LONG, 33, 2, -1, -1 }, { CCID_ATR_EXTRA_BYTES, 17, 16, -1, -1 } }, 2, 15, false, 16 },
};

static void check_coverage(const char *what, const struct ccid_atr *a)
{
	static struct col c;
	unsigned seen[CCID_ATR_MAX] = { 0 };

	memset(&c, 0, sizeof(c));
	ccid_atr_describe(a, col_emit, &c);
	for (size_t i = 0; i < c.n; i++) {
		const struct col_field *f = &c.f[i];

		if (f->kind == CCID_FIELD_VALUE) {
			ck_assert_uint_lt(f->offset, a->len);
			seen[f->offset]++;
		} else if (f->kind == CCID_FIELD_BYTES) {
			ck_assert_uint_le(f->offset + f->nbytes, a->len);
			for (size_t k = 0; k < f->nbytes; k++)
				seen[f->offset + k]++;
		}
	}
	for (size_t k = 0; k < a->len; k++)
		ck_assert_msg(seen[k] == 1, "%s: byte %zu shown %u times", what, k, seen[k]);
}

START_TEST(test_lenient_findings)
{
	const struct lenient_case *lc = &lenient_cases[_i];
	uint8_t buf[64];
	size_t n = tu_hex(lc->hex, buf, sizeof(buf));
	struct ccid_atr a, strict;
	struct ccid_diag d = { 0, NULL };
	char text[256];

	ck_assert_int_eq(ccid_atr_parse_lenient(buf, n, &a, NULL), 0);
	ck_assert_msg(a.nfindings == lc->nf, "%s: %zu findings, want %zu", lc->hex, a.nfindings, lc->nf);
	for (size_t i = 0; i < lc->nf; i++) {
		const struct ccid_atr_finding *f = &a.findings[i];

		ck_assert_msg(f->defect == lc->f[i].defect, "%s: finding %zu is %s, want %s", lc->hex, i,
			      ccid_atr_defect_name(f->defect), ccid_atr_defect_name(lc->f[i].defect));
		ck_assert_uint_eq(f->offset, lc->f[i].offset);
		ck_assert_uint_eq(f->count, lc->f[i].count);
		ck_assert_int_eq(f->want, lc->f[i].want);
		ck_assert_int_eq(f->got, lc->f[i].got);
		ck_assert_ptr_nonnull(f->expected);
		ck_assert_int_gt(ccid_atr_finding_text(f, text, sizeof(text)), 0);
		ck_assert_msg(strcmp(ccid_atr_defect_name(f->defect), "unknown"), "%s: unnamed defect", lc->hex);
	}
	ck_assert_uint_eq(a.hist_len, lc->hist_len);
	ck_assert_int_eq(a.has_tck, lc->has_tck);
	ck_assert_uint_eq(a.extra_len, lc->extra_len);
	ck_assert_uint_eq(a.len, n > CCID_ATR_MAX ? CCID_ATR_MAX : n);
	/* the defaults stand in for what is absent */
	ck_assert(a.protocols & (1u << a.default_protocol));
	ck_assert(a.IFSC >= 1 && a.IFSC <= 254 && a.WI);
	check_coverage(lc->hex, &a);
	/* the strict parse refuses exactly these, with the first finding's diagnostics */
	if (lc->nf) {
		ck_assert_int_eq(ccid_atr_parse(buf, n, &strict, &d), a.findings[0].err);
		ck_assert_uint_eq(d.offset, a.findings[0].offset);
		ck_assert_str_eq(d.expected, a.findings[0].expected);
	} else {
		ck_assert_int_eq(ccid_atr_parse(buf, n, &strict, NULL), 0);
	}
}
END_TEST

START_TEST(test_lenient_text)
{
	struct ccid_atr a;
	uint8_t buf[32];
	size_t n = tu_hex("3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 75", buf, sizeof(buf));
	char text[128];

	ck_assert_int_eq(ccid_atr_parse_lenient(buf, n, &a, NULL), 0);
	ccid_atr_finding_text(&a.findings[0], text, sizeof(text));
	ck_assert_str_eq(text, "wrong TCK at byte 21: expected 74, found 75");
	ck_assert_str_eq(ccid_atr_defect_name(CCID_ATR_WRONG_TCK), "wrong-tck");
	ck_assert_str_eq(ccid_atr_defect_name((enum ccid_atr_defect)0), "unknown");
	ck_assert_int_eq(ccid_atr_finding_text(NULL, text, sizeof(text)), -EINVAL);
	/* the values of a defective ATR are used: TA1 96, T=1 first TA/TB */
	ck_assert_uint_eq(a.Fi, 512);
	ck_assert_uint_eq(a.Di, 32);
	ck_assert_uint_eq(a.IFSC, 0xFE);
}
END_TEST

START_TEST(test_lenient_refuses)
{
	struct ccid_atr a;
	struct ccid_diag d = { 99, NULL };
	uint8_t buf[2] = { 0x3C, 0x00 };

	/* not an ATR: no or no valid TS */
	ck_assert_int_eq(ccid_atr_parse_lenient(buf, 0, &a, &d), -ENODATA);
	ck_assert_uint_eq(d.offset, 0);
	ck_assert_int_eq(ccid_atr_parse_lenient(buf, 2, &a, &d), -EBADMSG);
	ck_assert_uint_eq(d.offset, 0);
	ck_assert_int_eq(ccid_atr_parse_lenient(NULL, 2, &a, NULL), -EINVAL);
	ck_assert_int_eq(ccid_atr_parse_lenient(buf, 2, NULL, NULL), -EINVAL);
	/* a raw inverse-convention TS (03) is an ATR */
	buf[0] = 0x03;
	buf[1] = 0xFF;
	ck_assert_int_eq(ccid_atr_parse_lenient(buf, 2, &a, NULL), 0);
	ck_assert(a.inverse);
}
END_TEST

START_TEST(test_describe_null)
{
	struct ccid_atr a;
	struct col c = { .n = 0 };

	ccid_atr_describe(NULL, col_emit, &c);
	ck_assert_uint_eq(c.n, 0);
	parse_ok(ATR_DUAL_T1, &a);
	ccid_atr_describe(&a, NULL, NULL);
	/* A struct that was never parsed describes nothing. */
	memset(&a, 0, sizeof(a));
	ccid_atr_describe(&a, col_emit, &c);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

static Suite *atr_suite(void)
{
	Suite *s = suite_create("atr");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_qemu_cac);
	tcase_add_test(tc, test_dual_t1);
	tcase_add_test(tc, test_inverse_specific);
	tcase_add_test(tc, test_raw_inverse);
	tcase_add_test(tc, test_crc);
	tcase_add_test(tc, test_t0_t1);
	tcase_add_test(tc, test_t15);
	tcase_add_test(tc, test_ta2_implicit);
	tcase_add_test(tc, test_minimal);
	suite_add_tcase(s, tc);

	tc = tcase_create("derived");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_ta1_rfu);
	tcase_add_test(tc, test_ta1_table);
	tcase_add_test(tc, test_tc1_tc2);
	tcase_add_test(tc, test_ifsc_invalid);
	tcase_add_test(tc, test_bwi_edc_rfu);
	tcase_add_test(tc, test_protocols);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_truncation_diag);
	tcase_add_test(tc, test_wrong_tck);
	tcase_add_test(tc, test_trailing);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_bad_ts);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("lenient");
	tcase_add_loop_test(tc, test_lenient_findings, 0, (int)(sizeof(lenient_cases) / sizeof(lenient_cases[0])));
	tcase_add_test(tc, test_lenient_text);
	tcase_add_test(tc, test_lenient_refuses);
	suite_add_tcase(s, tc);

	tc = tcase_create("pps");
	tcase_add_test(tc, test_pps_build);
	tcase_add_test(tc, test_pps_build_errors);
	tcase_add_test(tc, test_pps_round_trip);
	tcase_add_test(tc, test_pps_parse_errors);
	tcase_add_test(tc, test_pps_check);
	tcase_add_test(tc, test_pps_check_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("timing");
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_etu_egt);
	tcase_add_test(tc, test_waiting_times);
	tcase_add_test(tc, test_timing_invalid);
	tcase_add_test(tc, test_timing_from_atr);
	suite_add_tcase(s, tc);

	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe_qemu);
	tcase_add_test(tc, test_describe_dual);
	tcase_add_test(tc, test_describe_misc);
	tcase_add_test(tc, test_describe_coverage);
	tcase_add_test(tc, test_describe_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_max_atr);
	tcase_add_test(tc, test_max_groups);
	tcase_add_test(tc, test_timing_limits);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tu_run(atr_suite());
}
