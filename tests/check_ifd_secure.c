/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IFD handler's part 10 PIN structures (ifd/secure.c): PIN_VERIFY_STRUCTURE
 * and PIN_MODIFY_STRUCTURE as pcscd's caller sends them, turned into the CCID
 * structures, and every length field the caller gives checked against what
 * it sent — a table of bad structures, each refused with a reason.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "ifd/ifd_priv.h"
#include "tests/testutil.h"

/* part 10 verify: bTimerOut 30, bTimerOut2 20, ASCII 8-byte block, 4..8, OK key, ulDataLength 13 */
static const char verify_hex[] =
	"1E 14 82 08 00 08 04 02 00 09 04 00 00 00 00 0D 00 00 00"
	"00 20 00 80 08 FF FF FF FF FF FF FF FF";
static const char verify_ccid[] =
	"1E 82 08 00 08 04 02 00 09 04 00 00 00 00"
	"00 20 00 80 08 FF FF FF FF FF FF FF FF";

/* part 10 modify, bNumberMessage NN: bMsgIndex1..3 = 01 02 03, ulDataLength 5 */
static size_t modify(uint8_t *buf, uint8_t nmsg)
{
	size_t n = tu_hex("1E 14 82 08 00 00 08 08 04 03 02 00 09 04 01 02 03 00 00 00 05 00 00 00"
			  "00 24 00 80 00", buf, 64);

	buf[11] = nmsg;
	return n;
}

START_TEST(test_convert)
{
	uint8_t in[64], out[64], want[64];
	char why[128];
	size_t n = tu_hex(verify_hex, in, sizeof(in)), w = tu_hex(verify_ccid, want, sizeof(want));
	ssize_t got = ifd_secure_to_ccid(false, in, n, out, sizeof(out), why, sizeof(why));

	ck_assert_int_eq(got, (ssize_t)w);
	ck_assert_mem_eq(out, want, w);
	/* bMsgIndex2/3 as CCID carries them for bNumberMessage 0, 1, 3, FF */
	{
		static const struct { uint8_t nmsg; size_t len; } m[] = { { 0, 17 + 5 }, { 1, 18 + 5 }, { 2, 18 + 5 },
									  { 3, 19 + 5 }, { 0xFF, 19 + 5 } };

		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			n = modify(in, m[i].nmsg);
			got = ifd_secure_to_ccid(true, in, n, out, sizeof(out), why, sizeof(why));
			ck_assert_msg(got == (ssize_t)m[i].len, "bNumberMessage %02X: %zd bytes, want %zu", m[i].nmsg,
				      got, m[i].len);
			ck_assert_uint_eq(out[10], m[i].nmsg);
			ck_assert_uint_eq(out[13], 0x01);       /* bMsgIndex1 always */
		}
	}
	/* bEntryValidationCondition 0 or beyond 07: the OK key, as libccid makes it */
	n = tu_hex(verify_hex, in, sizeof(in));
	in[7] = 0x00;
	ck_assert_int_eq(ifd_secure_to_ccid(false, in, n, out, sizeof(out), why, sizeof(why)), (ssize_t)w);
	ck_assert_uint_eq(out[6], 0x02);
	in[7] = 0x40;
	ck_assert_int_eq(ifd_secure_to_ccid(false, in, n, out, sizeof(out), why, sizeof(why)), (ssize_t)w);
	ck_assert_uint_eq(out[6], 0x02);
}
END_TEST

/* A bad structure from pcscd's caller: the byte changed, the length sent, the word the reason holds. */
struct bad {
	const char *what;
	bool modify;
	int at;
	uint8_t value;
	long len;          /* bytes sent; < 0: the whole structure plus this */
	const char *why;
};

static const struct bad bad[] = {
	{ "one byte", false, -1, 0, 1, "a PIN verification structure" },
	{ "the header only", false, -1, 0, 19, "APDU of at least 4" },
	{ "an APDU of 3 bytes", false, 15, 3, 22, "APDU of at least 4" },
	{ "ulDataLength one more", false, 15, 14, -0, "ulDataLength 14" },
	{ "ulDataLength one less", false, 15, 12, -0, "ulDataLength 12" },
	{ "ulDataLength's top byte", false, 18, 0x80, -0, "but 13 bytes" },
	{ "one byte more than ulDataLength", false, -1, 0, -1, "but 14 bytes" },
	{ "one byte less than ulDataLength", false, -1, 0, 31, "but 12 bytes" },
	{ "a template beyond a short APDU", false, 15, 0x06, 19 + 262, "at most 261" },
	{ "modify: nothing after the header", true, -1, 0, 24, "a PIN modification structure" },
	{ "modify: ulDataLength off", true, 20, 4, -0, "ulDataLength 4" },
	{ "modify: bNumberMessage 4", true, 11, 4, -0, "bNumberMessage 04" },
	{ "modify: bNumberMessage FE", true, 11, 0xFE, -0, "bNumberMessage FE" },
};

START_TEST(test_refused)
{
	const struct bad *b = &bad[_i];
	uint8_t in[400], out[400];
	char why[128] = "";
	size_t n;
	ssize_t rc;

	memset(in, 0, sizeof(in));
	n = b->modify ? modify(in, 3) : tu_hex(verify_hex, in, sizeof(in));
	if (b->len > 0)
		n = (size_t)b->len;
	else
		n += (size_t)-b->len;
	if (b->len == 19 + 262) {
		in[15] = 0x06;
		in[16] = 0x01;          /* ulDataLength 262 */
	} else if (b->at >= 0) {
		in[b->at] = b->value;
	}
	rc = ifd_secure_to_ccid(b->modify, in, n, out, sizeof(out), why, sizeof(why));
	ck_assert_msg(rc == -ENOTSUP, "%s: %zd", b->what, rc);
	ck_assert_msg(strstr(why, b->why), "%s: '%s' does not say '%s'", b->what, why, b->why);
}
END_TEST

START_TEST(test_null)
{
	uint8_t out[64];
	char why[128];

	ck_assert_int_eq(ifd_secure_to_ccid(false, NULL, 40, out, sizeof(out), why, sizeof(why)), -ENOTSUP);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ifd secure");
	TCase *tc = tcase_create("part 10");

	tcase_add_test(tc, test_convert);
	tcase_add_loop_test(tc, test_refused, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(suite(), true);
}
