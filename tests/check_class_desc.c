/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the CCID class descriptor: parse and encode, every
 * malformed length, validation errors and the warnings real readers earn,
 * the clamped values a driver uses, and the human explanation.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "ccid/class_desc.h"
#include "ccid/reader_class.h"
#include "tests/testutil.h"

/* ACS ACR 38U-CCID, rebuilt by hand from tests/data/readers/ACR38U-CCID.txt. */
static const char acr38[] =
	"36 21 0001 00 07 03000000 A00F0000 A00F0000 00 002A0000 90D00300 00"
	" F7000000 00000000 00000000 30000100 0F010000 00 00 0000 00 01";

static struct ccid_class_desc parse_ok(const char *hex)
{
	uint8_t b[64];
	struct ccid_class_desc d;
	size_t n = tu_hex(hex, b, sizeof(b));

	ck_assert_int_eq(ccid_class_desc_parse(b, n, &d, NULL), 0);
	return d;
}

START_TEST(test_parse_golden)
{
	struct ccid_class_desc d = parse_ok(acr38);
	uint8_t b[64], out[64];
	size_t n = tu_hex(acr38, b, sizeof(b));

	ck_assert_uint_eq(n, CCID_CLASS_DESC_LEN);
	ck_assert_uint_eq(d.bDescriptorType, 0x21);
	ck_assert_uint_eq(d.bcdCCID, 0x0100);
	ck_assert_uint_eq(d.bVoltageSupport, 7);
	ck_assert_uint_eq(d.dwProtocols, 3);
	ck_assert_uint_eq(d.dwDefaultClock, 4000);
	ck_assert_uint_eq(d.dwDataRate, 10752);
	ck_assert_uint_eq(d.dwMaxDataRate, 250000);
	ck_assert_uint_eq(d.dwMaxIFSD, 247);
	ck_assert_uint_eq(d.dwFeatures, 0x00010030);
	ck_assert_uint_eq(d.dwMaxCCIDMessageLength, 271);
	ck_assert_uint_eq(d.bMaxCCIDBusySlots, 1);
	ck_assert_int_eq(ccid_class_desc_level(&d), CCID_LEVEL_TPDU);
	ck_assert_int_eq(ccid_class_desc_validate(&d, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ccid_class_desc_encode(&d, out, sizeof(out)), CCID_CLASS_DESC_LEN);
	ck_assert_mem_eq(out, b, n);
	ck_assert_int_eq(ccid_class_desc_encode(&d, out, 53), -ENOBUFS);
}
END_TEST

START_TEST(test_malformed_lengths)
{
	uint8_t b[64];
	struct ccid_class_desc d;
	struct ccid_diag diag;
	size_t n = tu_hex(acr38, b, sizeof(b));

	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, b, len);
		ck_assert_int_eq(ccid_class_desc_parse(copy, len, &d, &diag), -ENODATA);
		ck_assert_uint_eq(diag.offset, len);
		free(copy);
	}
	ck_assert_int_eq(ccid_class_desc_parse(b, n + 1, &d, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 54);
	b[0] = 0x35;
	ck_assert_int_eq(ccid_class_desc_parse(b, n, &d, &diag), -EPROTO);
	ck_assert_uint_eq(diag.offset, 0);
	ck_assert_int_eq(ccid_class_desc_parse(NULL, n, &d, NULL), -EINVAL);
}
END_TEST

struct findings {
	int n, errors, warnings;
	char fields[16][32];
};

static void collect(void *ctx, enum ccid_severity sev, const char *field, size_t off, const char *text)
{
	struct findings *f = ctx;

	ck_assert(text && text[0]);
	if (f->n < 16)
		snprintf(f->fields[f->n], sizeof(f->fields[0]), "%s@%zu", field, off);
	f->n++;
	f->errors += sev == CCID_SEV_ERROR;
	f->warnings += sev == CCID_SEV_WARNING;
}

static bool has(const struct findings *f, const char *what)
{
	for (int i = 0; i < f->n && i < 16; i++)
		if (!strcmp(f->fields[i], what))
			return true;
	return false;
}

START_TEST(test_validate_errors)
{
	struct ccid_class_desc base = parse_ok(acr38), d;
	struct findings f;
	struct ccid_diag diag;

	d = base;
	d.bDescriptorType = 0x22;
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(ccid_class_desc_validate(&d, collect, &f, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 1);
	ck_assert_int_eq(f.errors, 1);

	d = base;
	d.dwFeatures = 0x00030000; /* TPDU and short APDU at once */
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(ccid_class_desc_validate(&d, collect, &f, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 40);
	ck_assert(has(&f, "dwFeatures@40"));

	d = base;
	d.dwMaxCCIDMessageLength = 10;
	ck_assert_int_eq(ccid_class_desc_validate(&d, NULL, NULL, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 44);
	ck_assert_uint_eq(ccid_class_desc_max_message(&d), 11);

	d = base;
	d.bDescriptorType = CCID_CLASS_DESC_TYPE_VENDOR; /* a note, not an error */
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(ccid_class_desc_validate(&d, collect, &f, NULL), 1);
	ck_assert_int_eq(f.errors + f.warnings, 0);
	ck_assert_int_eq(ccid_class_desc_validate(NULL, NULL, NULL, NULL), -EINVAL);
}
END_TEST

/* Faults seen in tests/data/readers: reported, clamped, never fatal. */
START_TEST(test_validate_field_faults)
{
	struct ccid_class_desc d = parse_ok(acr38);
	struct findings f = { 0 };

	d.bMaxCCIDBusySlots = 0;
	d.dwMaxCCIDMessageLength = 524288;
	d.dwMaxIFSD = 506;
	d.dwDefaultClock = 5000;
	d.bVoltageSupport = 0;
	ck_assert_int_eq(ccid_class_desc_validate(&d, collect, &f, NULL), 5);
	ck_assert_int_eq(f.warnings, 5);
	ck_assert(has(&f, "bMaxCCIDBusySlots@53"));
	ck_assert(has(&f, "dwMaxCCIDMessageLength@44"));
	ck_assert(has(&f, "dwMaxIFSD@28"));
	ck_assert(has(&f, "dwDefaultClock@10"));
	ck_assert(has(&f, "bVoltageSupport@5"));
	ck_assert_uint_eq(ccid_class_desc_max_message(&d), 65554);
	ck_assert_uint_eq(ccid_class_desc_busy_slots(&d), 1);

	d = parse_ok(acr38);
	d.bMaxSlotIndex = 1;
	d.bMaxCCIDBusySlots = 8;
	d.dwFeatures = CCID_FEAT_LEVEL_SHORT_APDU;
	d.dwMaxCCIDMessageLength = 64;
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(ccid_class_desc_validate(&d, collect, &f, NULL), 2);
	ck_assert(has(&f, "bMaxCCIDBusySlots@53"));
	ck_assert(has(&f, "dwMaxCCIDMessageLength@44"));
	ck_assert_uint_eq(ccid_class_desc_busy_slots(&d), 2);
	ck_assert_int_eq(ccid_class_desc_level(&d), CCID_LEVEL_SHORT_APDU);
}
END_TEST

START_TEST(test_describe)
{
	struct ccid_class_desc d = parse_ok(acr38);
	struct tu_fields t = { 0 };

	ccid_class_desc_describe(&d, tu_collect, &t);
	ck_assert_msg(tu_has(&t, "dwDefaultClock@10=4.000 MHz"), "%s", t.lines[6]);
	ck_assert(tu_has(&t, "dwDataRate@19=10752 bps"));
	ck_assert(tu_has(&t, "  bVoltageSupport@5=1.8 V"));
	ck_assert(tu_has(&t, "  dwProtocols@6=T=1"));
	ck_assert(tu_has(&t, "dwFeatures@40=TPDU level exchange"));
	ck_assert(tu_has(&t, "  dwFeatures@40=TPDU level exchange"));
	ck_assert(tu_has(&t, "  dwFeatures@40=automatic baud rate change according to frequency and Fi, Di"));
	ck_assert(tu_has(&t, "dwMaxCCIDMessageLength@44=271 bytes (header included)"));
	ck_assert(tu_has(&t, "bMaxCCIDBusySlots@53=1 slot may be busy at once"));
	ck_assert(tu_has(&t, "bcdCCID@2=CCID release 1.00"));
	ck_assert_uint_eq(strcmp(ccid_exchange_level_name(CCID_LEVEL_EXTENDED_APDU),
				 "short and extended APDU"), 0);
}
END_TEST

/* The one rule of reader classes (ccid/reader_class.h): each class and the field it names. */
START_TEST(test_classify)
{
	struct ccid_class_desc d = parse_ok(acr38);
	struct ccid_reader_verdict v;

	ck_assert_int_eq(ccid_reader_classify(0, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_EXCHANGE);
	ck_assert_int_eq(v.level, CCID_LEVEL_TPDU);
	ck_assert_str_eq(v.field, "");
	ck_assert_int_eq(ccid_reader_classify(2, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_ICCD_B);
	ck_assert_str_eq(v.reason, "bInterfaceProtocol 2: an ICCD version B token (ICCD §4.3)");
	ck_assert_int_eq(ccid_reader_classify(1, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_ICCD_A);
	ck_assert_int_eq(ccid_reader_classify(3, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_MALFORMED);
	ck_assert_str_eq(v.field, "bInterfaceProtocol");
	/* a validator error names its field and value */
	d.dwFeatures |= CCID_FEAT_LEVEL_SHORT_APDU;
	ck_assert_int_eq(ccid_reader_classify(0, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_MALFORMED);
	ck_assert_str_eq(v.field, "dwFeatures");
	ck_assert_msg(strstr(v.reason, "dwFeatures 00030030: more than one exchange level") == v.reason, "%s",
		      v.reason);
	d = parse_ok(acr38);
	d.bDescriptorType = 0x22;
	ck_assert_int_eq(ccid_reader_classify(0, &d, &v), 0);
	ck_assert_msg(strstr(v.reason, "bDescriptorType 22: ") == v.reason, "%s", v.reason);
	/* character level, then no asynchronous protocol (MySmartPad: 00000300) */
	d = parse_ok(acr38);
	d.dwFeatures &= ~CCID_FEAT_LEVEL_MASK;
	ck_assert_int_eq(ccid_reader_classify(0, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_CHARACTER);
	d = parse_ok(acr38);
	d.dwProtocols = 0x300;
	ck_assert_int_eq(ccid_reader_classify(0, &d, &v), 0);
	ck_assert_int_eq(v.cls, CCID_RC_MALFORMED);
	ck_assert_str_eq(v.reason, "dwProtocols 00000300 offers neither T=0 nor T=1 (CCID §5.1)");
	ck_assert_str_eq(ccid_reader_class_name(CCID_RC_MALFORMED), "malformed");
	ck_assert_int_eq(ccid_reader_classify(0, NULL, &v), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("class_desc");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_golden);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_test(tc, test_malformed_lengths);
	suite_add_tcase(s, tc);
	tc = tcase_create("validate");
	tcase_add_test(tc, test_validate_errors);
	tcase_add_test(tc, test_validate_field_faults);
	tcase_add_test(tc, test_classify);
	suite_add_tcase(s, tc);
	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
