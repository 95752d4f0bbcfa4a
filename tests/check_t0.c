/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check tests for the T=0 character-level engine (ccid/t0.h).  A script
 * gives, for each exchange, the bytes the host must send, how many it must
 * ask for, and the bytes the card answers with; the test asserts each step
 * and the response at the end — what a character-level reader would carry.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/t0.h"
#include "tests/testutil.h"

struct step {
	const char *send;            /* hex the host must send ("" none) */
	size_t expect;               /* bytes it must ask for */
	const char *card;            /* hex the card answers with */
};

/* Run a script; returns the last ccid_t0_feed result and leaves the response in rsp. */
static int run(const char *tpdu_hex, const struct step *steps, size_t nsteps, uint8_t *rsp, size_t cap,
	       struct ccid_t0 *t)
{
	static uint8_t tpdu[300];
	size_t tlen = tu_hex(tpdu_hex, tpdu, sizeof(tpdu));
	int rc = ccid_t0_begin(t, tpdu, tlen, rsp, cap);

	ck_assert_int_eq(rc, 0);
	for (size_t i = 0; i < nsteps; i++) {
		uint8_t want[300], card[600];
		size_t wn = tu_hex(steps[i].send, want, sizeof(want));
		size_t cn = tu_hex(steps[i].card, card, sizeof(card));
		const uint8_t *out;
		size_t olen, expect;

		rc = ccid_t0_next(t, &out, &olen, &expect);
		ck_assert_msg(rc == CCID_T0_MORE, "step %zu: next %d", i, rc);
		ck_assert_msg(olen == wn && (!wn || !memcmp(out, want, wn)), "step %zu: host sends %zu bytes, want %zu",
			      i, olen, wn);
		ck_assert_msg(expect == steps[i].expect, "step %zu: host asks for %zu bytes, want %zu", i, expect,
			      steps[i].expect);
		rc = ccid_t0_feed(t, card, cn);
		if (rc != CCID_T0_MORE)
			return rc;
	}
	return rc;
}

static void check_rsp(const struct ccid_t0 *t, const uint8_t *rsp, const char *hex)
{
	uint8_t want[300];
	size_t n = tu_hex(hex, want, sizeof(want));

	ck_assert_uint_eq(ccid_t0_response_len(t), n);
	ck_assert_mem_eq(rsp, want, n);
}

START_TEST(test_case1)
{
	static const struct step s[] = { { "00 20 00 80 00", 2, "90 00" } };
	struct ccid_t0 t;
	uint8_t rsp[300];
	const uint8_t *out;
	size_t olen, exp;

	ck_assert_int_eq(run("00 20 00 80", s, 1, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "90 00");
	ck_assert_int_eq(ccid_t0_next(&t, &out, &olen, &exp), CCID_T0_DONE);
}
END_TEST

START_TEST(test_case2)
{
	/* ACK, 4 data bytes and SW in one read of Ne + 2 */
	static const struct step s[] = {
		{ "00 84 00 00 04", 2, "84 01" },
		{ "", 5, "02 03 04 90 00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[300];

	ck_assert_int_eq(run("00 84 00 00 04", s, 2, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "01 02 03 04 90 00");
}
END_TEST

START_TEST(test_case2_256)
{
	/* P3 = 00: up to 256 bytes; all 256 come */
	char card[256 * 3 + 16];
	struct step s[] = { { "00 B0 00 00 00", 2, "B0 00" }, { "", 257, card } };
	uint8_t rsp[300];
	struct ccid_t0 t;
	size_t o = 0;

	for (unsigned i = 1; i < 256; i++)
		o += (size_t)snprintf(card + o, sizeof(card) - o, "%02X ", i);
	snprintf(card + o, sizeof(card) - o, "90 00");
	ck_assert_int_eq(run("00 B0 00 00 00", s, 2, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	ck_assert_uint_eq(ccid_t0_response_len(&t), 258);
	for (unsigned i = 0; i < 256; i++)
		ck_assert_uint_eq(rsp[i], i & 0xFF);
	ck_assert_uint_eq(rsp[256], 0x90);
}
END_TEST

START_TEST(test_case3)
{
	static const struct step s[] = {
		{ "00 A4 04 0C 03", 1, "A4" },
		{ "A1 A2 A3", 2, "90 00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 A4 04 0C 03 A1 A2 A3", s, 2, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "90 00");
}
END_TEST

START_TEST(test_case3_61xx)
{
	/* a case-4 command over T=0: the data go, 61xx announces the answer */
	static const struct step s[] = {
		{ "00 A4 04 00 02", 1, "A4" },
		{ "3F 00", 2, "61 1C" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 A4 04 00 02 3F 00", s, 2, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "61 1C");
}
END_TEST

START_TEST(test_case3_refused)
{
	/* the card refuses at once: SW1 instead of an ACK, no data sent */
	static const struct step s[] = {
		{ "00 D6 00 00 02", 1, "69" },
		{ "", 1, "82" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 D6 00 00 02 AA BB", s, 2, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "69 82");
}
END_TEST

START_TEST(test_nulls)
{
	/* NULL bytes before the ACK, between data and SW, and before SW1 */
	static const struct step s[] = {
		{ "00 84 00 00 02", 2, "60 60" },
		{ "", 2, "60 84" },
		{ "", 4, "11 22 60 60" },
		{ "", 2, "60 90" },
		{ "", 1, "00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 84 00 00 02", s, 5, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "11 22 90 00");
	ck_assert_uint_eq(ccid_t0_nulls(&t), 6);
}
END_TEST

START_TEST(test_ack_each_out)
{
	/* INS ^ FF before every data byte the host sends (§10.3.3) */
	static const struct step s[] = {
		{ "00 20 00 80 03", 1, "DF" },
		{ "31", 1, "DF" },
		{ "32", 1, "60" },
		{ "", 1, "DF" },
		{ "33", 2, "90 00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 20 00 80 03 31 32 33", s, 5, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "90 00");
}
END_TEST

START_TEST(test_ack_each_in)
{
	/* INS ^ FF before each byte the card sends, then an ACK for the rest */
	static const struct step s[] = {
		{ "80 10 00 00 03", 2, "EF 41" },
		{ "", 2, "EF 42" },
		{ "", 2, "10 43" },
		{ "", 2, "90 00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("80 10 00 00 03", s, 4, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "41 42 43 90 00");
}
END_TEST

START_TEST(test_6cxx)
{
	/* wrong Le: the card answers 6Cxx without data; the engine passes it up */
	static const struct step s[] = { { "00 B0 00 00 10", 2, "6C 08" } };
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 B0 00 00 10", s, 1, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "6C 08");
}
END_TEST

START_TEST(test_bad_procedure)
{
	static const struct step s[] = { { "00 84 00 00 02", 2, "42 00" } };
	struct ccid_t0 t;
	uint8_t rsp[16];
	const uint8_t *out;
	size_t olen, exp;

	ck_assert_int_eq(run("00 84 00 00 02", s, 1, rsp, sizeof(rsp), &t), -EPROTO);
	ck_assert_uint_eq(ccid_t0_response_len(&t), 0);
	ck_assert_int_eq(ccid_t0_next(&t, &out, &olen, &exp), -EINVAL);
}
END_TEST

START_TEST(test_ack_too_much)
{
	/* all 2 bytes came, then another ACK: the card wants to send more than Ne */
	static const struct step s[] = {
		{ "00 84 00 00 02", 2, "84 01" },
		{ "", 3, "02 84 00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 84 00 00 02", s, 2, rsp, sizeof(rsp), &t), -EPROTO);
}
END_TEST

START_TEST(test_ack_no_data_left)
{
	static const struct step s[] = {
		{ "00 D6 00 00 01", 1, "D6" },
		{ "55", 2, "D6" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 D6 00 00 01 55", s, 2, rsp, sizeof(rsp), &t), -EPROTO);
}
END_TEST

START_TEST(test_bytes_while_waiting)
{
	/* after an ACK for our data the card must wait: a byte after it in the same read is wrong */
	static const struct step s[] = { { "00 D6 00 00 01", 1, "D6 90" } };
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 D6 00 00 01 55", s, 1, rsp, sizeof(rsp), &t), -EPROTO);
}
END_TEST

START_TEST(test_after_sw2)
{
	static const struct step s[] = { { "00 20 00 80 00", 2, "90 00 00" } };
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 20 00 80 00", s, 1, rsp, sizeof(rsp), &t), -EPROTO);
}
END_TEST

START_TEST(test_overflow)
{
	/* rsp of 4 bytes: 2 data + SW fit, a third byte does not */
	static const struct step s[] = { { "00 84 00 00 03", 2, "84 01" }, { "", 4, "02 03 90 00" } };
	struct ccid_t0 t;
	uint8_t rsp[4];

	ck_assert_int_eq(run("00 84 00 00 03", s, 2, rsp, sizeof(rsp), &t), -EMSGSIZE);
}
END_TEST

START_TEST(test_short_reads)
{
	/* a reader that hands over fewer bytes than asked: the engine asks again for the rest */
	static const struct step s[] = {
		{ "00 84 00 00 03", 2, "84" },
		{ "", 5, "01" },
		{ "", 4, "02 03 90" },
		{ "", 1, "00" },
	};
	struct ccid_t0 t;
	uint8_t rsp[16];

	ck_assert_int_eq(run("00 84 00 00 03", s, 4, rsp, sizeof(rsp), &t), CCID_T0_DONE);
	check_rsp(&t, rsp, "01 02 03 90 00");
}
END_TEST

START_TEST(test_begin_invalid)
{
	struct ccid_t0 t;
	uint8_t rsp[8], tp[8] = { 0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00 };

	ck_assert_int_eq(ccid_t0_begin(&t, tp, 3, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 6, rsp, sizeof(rsp)), -EINVAL);        /* P3 says 2 */
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 8, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 7, rsp, 1), -EINVAL);
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 7, rsp, sizeof(rsp)), 0);
	tp[1] = 0x61;                                                                  /* INS 6X */
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 5, rsp, sizeof(rsp)), -EINVAL);
	tp[1] = 0x94;                                                                  /* INS 9X */
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 5, rsp, sizeof(rsp)), -EINVAL);
	tp[1] = 0xA4;
	tp[0] = 0xFF;                                                                  /* CLA FF: PPSS */
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 5, rsp, sizeof(rsp)), -EINVAL);
	tp[0] = 0x00;
	tp[4] = 0;
	ck_assert_int_eq(ccid_t0_begin(&t, tp, 6, rsp, sizeof(rsp)), -EINVAL);        /* P3 00 with data */
	ck_assert_int_eq(ccid_t0_feed(NULL, tp, 1), -EINVAL);
}
END_TEST

/* Random card bytes: every exchange ends (done or an error) within Ne + nulls steps, in bounds. */
START_TEST(test_random)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;

	for (unsigned round = 0; round < 2000; round++) {
		uint8_t tpdu[5 + 255], rsp[40], in[300];
		struct ccid_t0 t;
		size_t len;
		int rc = CCID_T0_MORE;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		tpdu[0] = 0x00;
		tpdu[1] = (uint8_t)(x >> 8) & 0x0F;         /* never 6X / 9X */
		tpdu[2] = tpdu[3] = 0;
		tpdu[4] = (uint8_t)(x >> 16) % 32;
		len = (x & 1) && tpdu[4] ? 5u + tpdu[4] : 5;
		memset(tpdu + 5, 0x5A, 255);
		ck_assert_int_eq(ccid_t0_begin(&t, tpdu, len, rsp, sizeof(rsp)), 0);
		for (unsigned step = 0; step < 400 && rc == CCID_T0_MORE; step++) {
			const uint8_t *out;
			size_t olen, exp;

			ck_assert_int_eq(ccid_t0_next(&t, &out, &olen, &exp), CCID_T0_MORE);
			ck_assert_uint_ge(exp, 1);
			ck_assert_uint_le(exp, 258);
			for (size_t i = 0; i < exp; i++) {
				static const uint8_t pick[] = { 0x60, 0x90, 0x61, 0x6C, 0x00, 0x42 };

				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				in[i] = x & 0x100 ? pick[x % sizeof(pick)]
						  : x & 0x200 ? tpdu[1] : (uint8_t)(tpdu[1] ^ 0xFF);
			}
			rc = ccid_t0_feed(&t, in, exp);
		}
		ck_assert_msg(rc <= CCID_T0_DONE || rc == CCID_T0_MORE, "rc %d", rc);
		if (rc == CCID_T0_DONE)
			ck_assert_uint_le(ccid_t0_response_len(&t), sizeof(rsp));
	}
}
END_TEST

static Suite *t0_suite(void)
{
	Suite *s = suite_create("t0");
	TCase *tc = tcase_create("cases");

	tcase_add_test(tc, test_case1);
	tcase_add_test(tc, test_case2);
	tcase_add_test(tc, test_case2_256);
	tcase_add_test(tc, test_case3);
	tcase_add_test(tc, test_case3_61xx);
	tcase_add_test(tc, test_case3_refused);
	tcase_add_test(tc, test_6cxx);
	suite_add_tcase(s, tc);
	tc = tcase_create("procedure");
	tcase_add_test(tc, test_nulls);
	tcase_add_test(tc, test_ack_each_out);
	tcase_add_test(tc, test_ack_each_in);
	tcase_add_test(tc, test_short_reads);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_test(tc, test_bad_procedure);
	tcase_add_test(tc, test_ack_too_much);
	tcase_add_test(tc, test_ack_no_data_left);
	tcase_add_test(tc, test_bytes_while_waiting);
	tcase_add_test(tc, test_after_sw2);
	tcase_add_test(tc, test_overflow);
	tcase_add_test(tc, test_begin_invalid);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(t0_suite(), true);
}
