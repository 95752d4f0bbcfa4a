/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PIN verification / modification structures (ccid/pin.h): decoding with
 * the offset a reader names in bError, a table of malformed structures each
 * refused with its field, and the PIN formatting a PIN pad does (ASCII, BCD,
 * binary, justification, bit positions, the PIN length field, variable
 * blocks, the two PINs of a modification).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "ccid/pin.h"
#include "tests/testutil.h"

/* Verification: bTimeOut 30, ASCII at byte 0, 8-byte block, 4..8 digits, OK key; template VERIFY 8 x FF. */
static const uint8_t verify_ok[] = {
	0x1E, 0x82, 0x08, 0x00, 0x08, 0x04, 0x02, 0x00, 0x09, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x20, 0x00, 0x80, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

/* Modification: offsets 0 and 8, current PIN and confirmation, bNumberMessage 3 (three bMsgIndex). */
static const uint8_t modify_ok[] = {
	0x1E, 0x82, 0x08, 0x00, 0x00, 0x08, 0x08, 0x04, 0x03, 0x02, 0x03, 0x09, 0x04, 0x00, 0x01, 0x02,
	0x00, 0x00, 0x00,
	0x00, 0x24, 0x00, 0x80, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

START_TEST(test_decode)
{
	struct ccid_pin p;

	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_VERIFY, verify_ok, sizeof(verify_ok), &p, NULL), 0);
	ck_assert_uint_eq(p.bTimeOut, 30);
	ck_assert_uint_eq(p.max_digits, 8);
	ck_assert_uint_eq(p.min_digits, 4);
	ck_assert(p.units_bytes);
	ck_assert_uint_eq(p.format, CCID_PIN_FORMAT_ASCII);
	ck_assert_uint_eq(p.block_size, 8);
	ck_assert_uint_eq(p.wLangId, 0x0409);
	ck_assert_uint_eq(p.apdu_len, 13);
	ck_assert_uint_eq(ccid_pin_capacity(&p), 8);
	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_MODIFY, modify_ok, sizeof(modify_ok), &p, NULL), 0);
	ck_assert_uint_eq(p.nmsg_index, 3);
	ck_assert_uint_eq(p.bMsgIndex[2], 2);
	ck_assert_uint_eq(p.bInsertionOffsetNew, 8);
	ck_assert_uint_eq(p.apdu_len, 21);
	/* bMsgIndex2/3 as CCID carries them: 0 -> one, 1 and 2 -> two, 3 and FF -> three */
	ck_assert_uint_eq(ccid_pin_modify_msg_indexes(0), 1);
	ck_assert_uint_eq(ccid_pin_modify_msg_indexes(1), 2);
	ck_assert_uint_eq(ccid_pin_modify_msg_indexes(2), 2);
	ck_assert_uint_eq(ccid_pin_modify_msg_indexes(3), 3);
	ck_assert_uint_eq(ccid_pin_modify_msg_indexes(0xFF), 3);
}
END_TEST

/* One malformed structure: a byte changed (or the length cut), the error and the message offset. */
struct bad {
	const char *what;
	bool modify;
	int at;            /* structure byte to change; -1: none */
	uint8_t value;
	size_t len;        /* 0: the whole structure */
	int err;
	size_t offset;     /* in the Secure message: 11 is bTimeOut */
};

static const struct bad bad[] = {
	{ "verify: no APDU header", false, -1, 0, 17, -ENODATA, 28 },
	{ "verify: nothing", false, -1, 0, 1, -ENODATA, 12 },
	{ "format 11", false, 1, 0x83, 0, -EBADMSG, 12 },
	{ "bmPINLengthFormat RFU bit", false, 3, 0x20, 0, -EBADMSG, 14 },
	{ "maximum 0", false, 4, 0x00, 0, -EBADMSG, 15 },
	{ "maximum 33", false, 4, 33, 0, -EBADMSG, 15 },
	{ "minimum above maximum", false, 5, 0x09, 0, -EBADMSG, 15 },
	{ "validation 0", false, 6, 0x00, 0, -EBADMSG, 17 },
	{ "validation RFU bit", false, 6, 0x0A, 0, -EBADMSG, 17 },
	{ "verify: bNumberMessage 2", false, 7, 0x02, 0, -EBADMSG, 18 },
	{ "PIN block beyond the data", false, 2, 0x09, 0, -EMSGSIZE, 13 },
	{ "PIN position beyond the block", false, 1, 0x82 | (8 << 3), 0, -EMSGSIZE, 12 },
	{ "length field beyond the block", false, 2, 0x91, 0, -EMSGSIZE, 13 },
	{ "Lc above the data", false, 18, 0x09, 0, -EMSGSIZE, 29 },
	{ "Lc below the data", false, 18, 0x06, 0, -EMSGSIZE, 29 },
	{ "modify: bConfirmPIN RFU bit", true, 8, 0x07, 0, -EBADMSG, 19 },
	{ "modify: bNumberMessage 4", true, 10, 0x04, 0, -EBADMSG, 21 },
	{ "modify: new PIN block beyond the data", true, 5, 0x09, 0, -EMSGSIZE, 13 },
	{ "modify: current PIN block beyond the data", true, 4, 0x09, 0, -EMSGSIZE, 13 },
	{ "modify: no bTeoPrologue", true, -1, 0, 18, -ENODATA, 29 },
};

START_TEST(test_malformed)
{
	const struct bad *b = &bad[_i];
	const uint8_t *src = b->modify ? modify_ok : verify_ok;
	size_t len = b->len ? b->len : b->modify ? sizeof(modify_ok) : sizeof(verify_ok);
	uint8_t buf[64];
	struct ccid_pin p, untouched;
	struct ccid_diag diag = { 0 };
	int rc;

	memcpy(buf, src, b->modify ? sizeof(modify_ok) : sizeof(verify_ok));
	if (b->at >= 0)
		buf[b->at] = b->value;
	memset(&p, 0xA5, sizeof(p));
	untouched = p;
	rc = ccid_pin_decode(b->modify ? CCID_PIN_OP_MODIFY : CCID_PIN_OP_VERIFY, buf, len, &p, &diag);
	ck_assert_msg(rc == b->err, "%s: rc %d, want %d", b->what, rc, b->err);
	ck_assert_msg(diag.offset == b->offset, "%s: offset %zu, want %zu (%s)", b->what, diag.offset, b->offset,
		      diag.expected);
	ck_assert_msg(diag.expected && diag.expected[0], "%s: no explanation", b->what);
	ck_assert_msg(!memcmp(&p, &untouched, sizeof(p)), "%s: ret written on failure", b->what);
}
END_TEST

START_TEST(test_limits)
{
	uint8_t big[CCID_PIN_VERIFY_FIXED + 262];
	struct ccid_pin p;
	struct ccid_diag diag;

	/* a template beyond a short APDU */
	memcpy(big, verify_ok, CCID_PIN_VERIFY_FIXED);
	memset(big + CCID_PIN_VERIFY_FIXED, 0, 262);
	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_VERIFY, big, sizeof(big), &p, &diag), -EMSGSIZE);
	ck_assert_int_eq(ccid_pin_decode(2, verify_ok, sizeof(verify_ok), &p, NULL), -EINVAL);
	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_VERIFY, NULL, 10, &p, NULL), -EINVAL);
	/* every length from 0 to the whole: refused cleanly up to the APDU header, then accepted only whole */
	for (size_t n = 0; n < sizeof(verify_ok); n++)
		ck_assert_int_lt(ccid_pin_decode(CCID_PIN_OP_VERIFY, verify_ok, n, &p, NULL), 0);
	for (size_t n = 0; n < sizeof(modify_ok); n++)
		ck_assert_int_lt(ccid_pin_decode(CCID_PIN_OP_MODIFY, modify_ok, n, &p, NULL), 0);
}
END_TEST

static void build(const uint8_t *s, size_t len, bool modify, const char *cur, const char *new_pin, const char *want)
{
	uint8_t apdu[300], exp[300];
	size_t n = tu_hex(want, exp, sizeof(exp));
	struct ccid_pin p;
	ssize_t got;

	ck_assert_int_eq(ccid_pin_decode(modify ? CCID_PIN_OP_MODIFY : CCID_PIN_OP_VERIFY, s, len, &p, NULL), 0);
	got = ccid_pin_build_apdu(&p, cur, new_pin, apdu, sizeof(apdu));
	ck_assert_msg(got == (ssize_t)n && !memcmp(apdu, exp, n), "%s / %s: got %zd bytes, want %s", cur,
		      new_pin ? new_pin : "-", got, want);
}

START_TEST(test_format)
{
	uint8_t s[64];

	/* ASCII, left: the digits, the template's FF after them */
	build(verify_ok, sizeof(verify_ok), false, "1234", NULL, "00 20 00 80 08 31 32 33 34 FF FF FF FF");
	/* right justified */
	memcpy(s, verify_ok, sizeof(verify_ok));
	s[1] = 0x86;
	build(s, sizeof(verify_ok), false, "1234", NULL, "00 20 00 80 08 FF FF FF FF 31 32 33 34");
	/* binary: a digit a byte */
	s[1] = 0x80;
	build(s, sizeof(verify_ok), false, "1234", NULL, "00 20 00 80 08 01 02 03 04 FF FF FF FF");
	/* BCD with a 4-bit length field at bit 4 and the PIN from bit 8 (ISO 9564 format 2, as OpenSC's GLP) */
	s[1] = 0x01 | (8 << 3);
	s[2] = 0x48;
	s[3] = 0x04;
	s[18 + 1] = 0x2F;
	build(s, sizeof(verify_ok), false, "12345", NULL, "00 20 00 80 08 25 12 34 5F FF FF FF FF");
	/* the length field in bytes, ASCII after it */
	memcpy(s, verify_ok, sizeof(verify_ok));
	s[1] = 0x82 | (1 << 3);
	s[2] = 0x88;
	s[3] = 0x10;
	build(s, sizeof(verify_ok), false, "123456", NULL, "00 20 00 80 08 06 31 32 33 34 35 36 FF");
	/* no PIN block, a case-1 template: the PIN is the data, Lc its length (OpenSC without padding) */
	memcpy(s, verify_ok, 14);
	s[2] = 0x00;
	memcpy(s + 14, "\x00\x20\x00\x80", 4);
	build(s, 18, false, "123456", NULL, "00 20 00 80 06 31 32 33 34 35 36");
	/* a modification: the current PIN at 0, the new one at 8 */
	build(modify_ok, sizeof(modify_ok), true, "123456", "2468",
	      "00 24 00 80 10 31 32 33 34 35 36 FF FF 32 34 36 38 FF FF FF FF");
	/* ... without a PIN block: both PINs end the data, one after the other */
	memcpy(s, modify_ok, 19);
	s[2] = 0x00;
	s[5] = 0x00;
	memcpy(s + 19, "\x00\x24\x00\x80", 4);
	build(s, 23, true, "1234", "98765", "00 24 00 80 09 31 32 33 34 39 38 37 36 35");
}
END_TEST

START_TEST(test_format_refused)
{
	struct ccid_pin p;
	uint8_t apdu[64];

	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_VERIFY, verify_ok, sizeof(verify_ok), &p, NULL), 0);
	ck_assert_int_eq(ccid_pin_build_apdu(&p, "12a4", NULL, apdu, sizeof(apdu)), -EINVAL);
	ck_assert_int_eq(ccid_pin_build_apdu(&p, "123456789", NULL, apdu, sizeof(apdu)), -EINVAL);
	ck_assert_int_eq(ccid_pin_build_apdu(&p, NULL, NULL, apdu, sizeof(apdu)), -EINVAL);
	ck_assert_int_eq(ccid_pin_build_apdu(&p, "1234", NULL, apdu, 12), -ENOBUFS);
	ck_assert_int_eq(ccid_pin_decode(CCID_PIN_OP_MODIFY, modify_ok, sizeof(modify_ok), &p, NULL), 0);
	ck_assert_int_eq(ccid_pin_build_apdu(&p, "1234", NULL, apdu, sizeof(apdu)), -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pin");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_malformed, 0, sizeof(bad) / sizeof(bad[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_format_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(suite(), true);
}
