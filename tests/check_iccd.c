/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the USB ICCD codec (ccid/iccd.h): the SETUP packets of
 * versions A and B as a host makes them and a device checks them, version
 * A's status byte, and version B's DATA_BLOCK answers both ways, with every
 * malformed form refused at the byte that is wrong.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/iccd.h"
#include "tests/testutil.h"

/* The requests a host sends, as libccid sends them to tokens in the field (bytes on the wire). */
static const struct setup_vector {
	uint8_t version, request;
	uint16_t wValue, wLength;
	const char *hex;
} setups[] = {
	{ 1, CCID_ICCD_ICC_POWER_ON, 0, 33, "A1 62 0000 0000 2100" },
	{ 1, CCID_ICCD_ICC_POWER_OFF, 0, 0, "21 63 0000 0000 0000" },
	{ 1, CCID_ICCD_XFR_BLOCK, 0, 5, "21 65 0000 0000 0500" },
	{ 1, CCID_ICCD_DATA_BLOCK, 0, 258, "A1 6F 0000 0000 0201" },
	{ 1, CCID_ICCD_GET_ICC_STATUS, 0, 1, "A1 A0 0000 0000 0100" },
	{ 2, CCID_ICCD_ICC_POWER_ON, 1, 0, "21 62 0100 0000 0000" },
	{ 2, CCID_ICCD_ICC_POWER_OFF, 0, 0, "21 63 0000 0000 0000" },
	{ 2, CCID_ICCD_XFR_BLOCK, 0, 7, "21 65 0000 0000 0700" },
	{ 2, CCID_ICCD_XFR_BLOCK, 0x1000, 0, "21 65 0010 0000 0000" },   /* the next part, please */
	{ 2, CCID_ICCD_XFR_BLOCK, 0x0100, 261, "21 65 0001 0000 0501" },  /* a chain begins */
	{ 2, CCID_ICCD_DATA_BLOCK, 0, 4096, "A1 6F 0000 0000 0010" },
	{ 2, CCID_ICCD_SLOT_STATUS, 0, 3, "A1 81 0000 0000 0300" },
};

START_TEST(test_setup_make)
{
	const struct setup_vector *v = &setups[_i];
	struct ccid_iccd_setup s, back;
	uint8_t want[8], got[8];

	ck_assert_uint_eq(tu_hex(v->hex, want, sizeof(want)), 8);
	ck_assert_int_eq(ccid_iccd_setup_make(v->version, v->request, v->wValue, 0, v->wLength, &s), 0);
	ccid_iccd_setup_encode(&s, got);
	ck_assert_mem_eq(got, want, 8);
	ck_assert_int_eq(ccid_iccd_setup_decode(v->version, got, 8, &back, NULL), 0);
	ck_assert_uint_eq(back.bRequest, v->request);
	ck_assert_uint_eq(back.wValue, v->wValue);
	ck_assert_uint_eq(back.wLength, v->wLength);
}
END_TEST

START_TEST(test_setup_refused)
{
	struct ccid_iccd_setup s;

	/* requests the other version has, and the wrong version numbers */
	ck_assert_int_eq(ccid_iccd_setup_make(1, CCID_ICCD_SLOT_STATUS, 0, 0, 3, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_GET_ICC_STATUS, 0, 0, 1, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(0, CCID_ICCD_ICC_POWER_OFF, 0, 0, 0, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(3, CCID_ICCD_ICC_POWER_OFF, 0, 0, 0, &s), -EINVAL);
	/* values: A has no level parameter, B's is one of CCID's */
	ck_assert_int_eq(ccid_iccd_setup_make(1, CCID_ICCD_XFR_BLOCK, 1, 0, 5, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_XFR_BLOCK, 4, 0, 5, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_XFR_BLOCK, 0x0400, 0, 5, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_XFR_BLOCK, 0x0001, 0, 5, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_ICC_POWER_ON, 4, 0, 0, &s), -EINVAL);
	/* lengths: B's DATA_BLOCK needs 4, A's XFR_BLOCK is never empty, POWER_OFF has none */
	ck_assert_int_eq(ccid_iccd_setup_make(2, CCID_ICCD_DATA_BLOCK, 0, 0, 3, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(1, CCID_ICCD_XFR_BLOCK, 0, 0, 0, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(1, CCID_ICCD_ICC_POWER_OFF, 0, 0, 1, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(1, 0x42, 0, 0, 1, &s), -EINVAL);
	ck_assert_int_eq(ccid_iccd_setup_make(1, CCID_ICCD_ICC_POWER_OFF, 0, 0, 0, NULL), -EINVAL);
}
END_TEST

/* A device refuses each malformed SETUP packet at the byte that is wrong. */
static const struct bad_setup {
	uint8_t version;
	const char *hex;
	int err;
	size_t offset;
} bad_setups[] = {
	{ 1, "A1 62 0000 0000", -ENODATA, 6 },        /* truncated */
	{ 1, "C1 62 0000 0000 2100", -EBADMSG, 0 },   /* vendor request */
	{ 1, "A0 62 0000 0000 2100", -EBADMSG, 0 },   /* to the device, not the interface */
	{ 1, "21 62 0000 0000 2100", -EBADMSG, 0 },   /* A's power-on is IN */
	{ 2, "A1 62 0000 0000 2100", -EBADMSG, 0 },   /* B's power-on is OUT */
	{ 1, "A1 81 0000 0000 0300", -EBADMSG, 1 },   /* B's request to an A token */
	{ 2, "A1 A0 0000 0000 0100", -EBADMSG, 1 },   /* A's request to a B token */
	{ 1, "21 65 0100 0000 0500", -EBADMSG, 2 },   /* A has no level parameter */
	{ 2, "21 65 0004 0000 0500", -EBADMSG, 2 },   /* no such level */
	{ 2, "21 65 0100 0000 0500", -EBADMSG, 2 },   /* the level in the low byte */
	{ 2, "A1 6F 0000 0000 0300", -EBADMSG, 6 },   /* B's DATA_BLOCK under 4 bytes */
	{ 1, "21 65 0000 0000 0000", -EBADMSG, 6 },   /* an empty XFR_BLOCK to A */
};

START_TEST(test_setup_malformed)
{
	const struct bad_setup *v = &bad_setups[_i];
	struct ccid_iccd_setup s;
	struct ccid_diag diag = { 0 };
	uint8_t buf[16];
	size_t n = tu_hex(v->hex, buf, sizeof(buf));

	memset(&s, 0x5A, sizeof(s));
	ck_assert_int_eq(ccid_iccd_setup_decode(v->version, buf, n, &s, &diag), v->err);
	ck_assert_uint_eq(diag.offset, v->offset);
	ck_assert_ptr_nonnull(diag.expected);
	ck_assert_uint_eq(s.bRequest, 0x5A);       /* untouched on failure */
}
END_TEST

START_TEST(test_a_status)
{
	struct ccid_iccd_a_status st;
	struct ccid_diag diag = { 0 };
	static const uint8_t ok[] = { 0x00, 0x10, 0x20, 0x80 };
	uint8_t b;

	for (size_t i = 0; i < sizeof(ok); i++) {
		ck_assert_int_eq(ccid_iccd_a_status_decode(&ok[i], 1, &st, NULL), 0);
		ck_assert(!st.busy);
		ck_assert_uint_eq(st.state, ok[i]);
		ck_assert_str_ne(ccid_iccd_a_state_name(st.state), "unknown");
	}
	/* busy, whatever else the byte holds */
	b = 0x40;
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 1, &st, NULL), 0);
	ck_assert(st.busy);
	b = 0x50;
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 1, &st, NULL), 0);
	ck_assert(st.busy);
	/* nothing, and values no version A token sends */
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 0, &st, &diag), -ENODATA);
	b = 0x01;
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 1, &st, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0);
	b = 0x30;
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 1, &st, &diag), -EBADMSG);
	b = 0x90;
	ck_assert_int_eq(ccid_iccd_a_status_decode(&b, 1, &st, &diag), -EBADMSG);
}
END_TEST

START_TEST(test_b_answer_decode)
{
	struct ccid_iccd_b_answer a;
	uint8_t buf[64];
	size_t n;

	n = tu_hex("00 3B 02 14 50", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.bResponseType, CCID_ICCD_B_DATA);
	ck_assert_uint_eq(a.len, 4);
	ck_assert_ptr_eq(a.abData, buf + 1);
	n = tu_hex("01 9000", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.bResponseType, CCID_ICCD_B_DATA_BEGIN);
	n = tu_hex("00", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.len, 0);
	ck_assert_ptr_null(a.abData);
	n = tu_hex("10", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.bResponseType, CCID_ICCD_B_DATA_NEXT);
	n = tu_hex("40 41 FE", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.bStatus, 0x41);
	ck_assert_uint_eq(a.bError, 0xFE);
	/* wDelayTime little-endian, in 10 ms units */
	n = tu_hex("80 2C 01", buf, sizeof(buf));
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, NULL), 0);
	ck_assert_uint_eq(a.bResponseType, CCID_ICCD_B_POLL);
	ck_assert_uint_eq(a.wDelayTime, 300);
}
END_TEST

static const struct bad_answer {
	const char *hex;
	int err;
	size_t offset;
} bad_answers[] = {
	{ "", -ENODATA, 0 },
	{ "04 9000", -EBADMSG, 0 },        /* no such bResponseType */
	{ "20 9000", -EBADMSG, 0 },
	{ "FF", -EBADMSG, 0 },
	{ "10 00", -EBADMSG, 1 },          /* data in an empty "next" answer */
	{ "40 41", -ENODATA, 2 },          /* status without bError */
	{ "80", -ENODATA, 1 },             /* poll without wDelayTime */
	{ "80 0A 00 00", -EMSGSIZE, 3 },
	{ "40 00 00 00", -EMSGSIZE, 3 },
};

START_TEST(test_b_answer_malformed)
{
	const struct bad_answer *v = &bad_answers[_i];
	struct ccid_iccd_b_answer a;
	struct ccid_diag diag = { 0 };
	uint8_t buf[16];
	size_t n = tu_hex(v->hex, buf, sizeof(buf));

	a.bResponseType = 0x5A;
	ck_assert_int_eq(ccid_iccd_b_answer_decode(buf, n, &a, &diag), v->err);
	ck_assert_uint_eq(diag.offset, v->offset);
	ck_assert_uint_eq(a.bResponseType, 0x5A);
}
END_TEST

START_TEST(test_b_answer_encode)
{
	static const uint8_t atr[] = { 0x3B, 0x02, 0x14, 0x50 };
	struct ccid_iccd_b_answer a = { .bResponseType = CCID_ICCD_B_DATA, .abData = atr, .len = sizeof(atr) }, back;
	uint8_t out[16];

	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, sizeof(out)), 5);
	ck_assert_int_eq(ccid_iccd_b_answer_decode(out, 5, &back, NULL), 0);
	ck_assert_mem_eq(back.abData, atr, sizeof(atr));
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, 4), -ENOBUFS);
	a = (struct ccid_iccd_b_answer){ .bResponseType = CCID_ICCD_B_POLL, .wDelayTime = 0x1234 };
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, sizeof(out)), 3);
	ck_assert_uint_eq(out[1], 0x34);
	ck_assert_uint_eq(out[2], 0x12);
	a = (struct ccid_iccd_b_answer){ .bResponseType = CCID_ICCD_B_STATUS, .bStatus = 0x42, .bError = 0xFE };
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, sizeof(out)), 3);
	ck_assert_int_eq(ccid_iccd_b_answer_decode(out, 3, &back, NULL), 0);
	ck_assert_uint_eq(back.bStatus, 0x42);
	ck_assert_uint_eq(back.bError, 0xFE);
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, 2), -ENOBUFS);
	a = (struct ccid_iccd_b_answer){ .bResponseType = 0x20 };
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, sizeof(out)), -EINVAL);
	a = (struct ccid_iccd_b_answer){ .bResponseType = CCID_ICCD_B_DATA_NEXT, .abData = atr, .len = 1 };
	ck_assert_int_eq(ccid_iccd_b_answer_encode(&a, out, sizeof(out)), -EINVAL);
	ck_assert_str_eq(ccid_iccd_request_name(CCID_ICCD_GET_ICC_STATUS), "GET_ICC_STATUS");
	ck_assert_str_eq(ccid_iccd_b_response_name(CCID_ICCD_B_POLL), "poll again");
}
END_TEST

static Suite *iccd_suite(void)
{
	Suite *s = suite_create("iccd");
	TCase *tc;

	tc = tcase_create("setup");
	tcase_add_loop_test(tc, test_setup_make, 0, sizeof(setups) / sizeof(setups[0]));
	tcase_add_test(tc, test_setup_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_setup_malformed, 0, sizeof(bad_setups) / sizeof(bad_setups[0]));
	tcase_add_loop_test(tc, test_b_answer_malformed, 0, sizeof(bad_answers) / sizeof(bad_answers[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_add_test(tc, test_a_status);
	tcase_add_test(tc, test_b_answer_decode);
	tcase_add_test(tc, test_b_answer_encode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(iccd_suite());
}
