/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the standard USB descriptors and the search for CCID
 * interfaces: device and configuration parsing, composite devices, vendor-
 * class readers, the class descriptor placed after the endpoints, and every
 * malformed length or count a device could send.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "ccid/class_desc.h"
#include "ccid/usb_desc.h"
#include "tests/testutil.h"

#define CLASS54 "36 21 1001 00 07 03000000 A00F0000 A00F0000 00 802500 00 80250000 00" \
		" FE000000 00000000 00000000 FE000400 0F010000 FF FF 0000 00 01"
#define EP_IN "07 05 81 02 4000 00"
#define EP_OUT "07 05 02 02 4000 00"
#define EP_INT "07 05 83 03 0800 10"

static uint8_t cfgbuf[4096];

/* Hex of the descriptors after the 9-byte config header; fills in wTotalLength. */
static size_t config(const char *body, uint8_t *b, size_t cap)
{
	size_t n = tu_hex(body, b + 9, cap - 9) + 9;
	uint8_t hdr[9] = { 9, 2, (uint8_t)n, (uint8_t)(n >> 8), 1, 1, 0, 0x80, 50 };

	memcpy(b, hdr, 9);
	return n;
}

START_TEST(test_device)
{
	uint8_t b[32];
	struct ccid_usb_device_desc d;
	struct ccid_diag diag;
	size_t n = tu_hex("12 01 0002 00 00 00 40 2F07 CC90 0001 01 02 03 01", b, sizeof(b));

	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n, &d, NULL), 0);
	ck_assert_uint_eq(d.idVendor, 0x072F);
	ck_assert_uint_eq(d.idProduct, 0x90CC);
	ck_assert_uint_eq(d.bcdUSB, 0x0200);
	ck_assert_uint_eq(d.bMaxPacketSize0, 64);
	ck_assert_uint_eq(d.iSerialNumber, 3);
	for (size_t len = 0; len < n; len++)
		ck_assert_int_eq(ccid_usb_device_desc_parse(b, len, &d, NULL), -ENODATA);
	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n + 1, &d, NULL), -EMSGSIZE);
	b[0] = 0x11;
	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n, &d, &diag), -EPROTO);
	b[0] = 0x12;
	b[1] = 0x02;
	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n, &d, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 1);
	b[1] = 0x01;
	b[7] = 7;
	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n, &d, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 7);
	b[7] = 8;
	b[17] = 0;
	ck_assert_int_eq(ccid_usb_device_desc_parse(b, n, &d, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 17);
}
END_TEST

START_TEST(test_single_reader)
{
	struct ccid_usb_config cfg;
	struct ccid_usb_ccid_interface ci;
	struct ccid_class_desc cd;
	size_t n = config("09 04 00 00 03 0B 00 00 00 " CLASS54 " " EP_IN " " EP_OUT " " EP_INT,
			  cfgbuf, sizeof(cfgbuf));

	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_uint_eq(cfg.ninterfaces, 1);
	ck_assert_uint_eq(cfg.intf[0].nendpoints, 3);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.ep_bulk_in, 0x81);
	ck_assert_uint_eq(ci.ep_bulk_out, 0x02);
	ck_assert_uint_eq(ci.ep_intr_in, 0x83);
	ck_assert_uint_eq(ci.bulk_in_max_packet, 64);
	ck_assert_uint_eq(ci.intr_in_max_packet, 8);
	ck_assert(!ci.vendor_class && !ci.class_after_endpoint);
	ck_assert_uint_eq(ci.class_offset, 18);
	ck_assert_int_eq(ccid_class_desc_parse(cfgbuf + ci.class_offset, 54, &cd, NULL), 0);
	ck_assert_uint_eq(cd.dwFeatures, 0x000400FE);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 1, &ci, NULL), -ENOENT);
}
END_TEST

/* A composite device: HID, two CCID interfaces (one with an alternate setting), an IAD. */
START_TEST(test_composite)
{
	struct ccid_usb_config cfg;
	struct ccid_usb_ccid_interface ci;
	size_t n = config("08 0B 00 02 03 00 00 00 "
			  "09 04 00 00 01 03 00 00 00 09 21 1101 00 01 22 3F00 07 05 84 03 0800 0A "
			  "09 04 01 00 02 0B 00 00 00 " CLASS54 " " EP_IN " " EP_OUT " "
			  "09 04 01 01 00 0B 00 00 00 "
			  "09 04 02 00 03 0B 00 00 00 " CLASS54 " 07 05 85 02 4000 00 07 05 06 02 4000 00 "
			  "07 05 87 03 0800 10",
			  cfgbuf, sizeof(cfgbuf));

	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_uint_eq(cfg.ninterfaces, 4);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.bInterfaceNumber, 1);
	ck_assert_uint_eq(ci.ep_intr_in, 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 1, &ci, NULL), 0);
	ck_assert_uint_eq(ci.bInterfaceNumber, 2);
	ck_assert_uint_eq(ci.ep_bulk_in, 0x85);
	ck_assert_uint_eq(ci.ep_bulk_out, 0x06);
	ck_assert_uint_eq(ci.ep_intr_in, 0x87);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 2, &ci, NULL), -ENOENT);
}
END_TEST

/* Vendor class FF with a 54-byte class descriptor after the last endpoint (O2Micro-style). */
START_TEST(test_vendor_class_after_endpoints)
{
	struct ccid_usb_config cfg;
	struct ccid_usb_ccid_interface ci;
	size_t n = config("09 04 00 00 03 FF 00 00 00 " EP_IN " " EP_OUT " " EP_INT " " CLASS54,
			  cfgbuf, sizeof(cfgbuf));

	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, NULL), 0);
	ck_assert(ci.vendor_class);
	ck_assert(ci.class_after_endpoint);
	ck_assert_uint_eq(ci.class_offset, n - 54);

	/* Vendor class without the 54-byte descriptor is not a reader. */
	n = config("09 04 00 00 02 FF 00 00 00 " EP_IN " " EP_OUT, cfgbuf, sizeof(cfgbuf));
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, NULL), -ENOENT);
}
END_TEST

START_TEST(test_ccid_interface_faults)
{
	struct ccid_usb_config cfg;
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag;
	size_t n;

	/* class 0B without a class descriptor */
	n = config("09 04 00 00 02 0B 00 00 00 " EP_IN " " EP_OUT, cfgbuf, sizeof(cfgbuf));
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 9);
	/* CCID bulk protocol without a bulk-OUT endpoint */
	n = config("09 04 00 00 02 0B 00 00 00 " CLASS54 " " EP_IN " " EP_INT, cfgbuf, sizeof(cfgbuf));
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, &diag), -EPROTO);
	/* ICCD (control transfers) needs no bulk endpoint */
	n = config("09 04 00 00 00 0B 00 02 00 " CLASS54, cfgbuf, sizeof(cfgbuf));
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(&cfg, cfgbuf, n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.bInterfaceProtocol, CCID_USB_PROTOCOL_ICCD_B);
	ck_assert_int_eq(ccid_usb_find_ccid(NULL, cfgbuf, n, 0, &ci, NULL), -EINVAL);
}
END_TEST

static const struct bad_config {
	const char *body;
	int err;
	size_t offset;
} bad[] = {
	{ "00 04", -EBADMSG, 9 },                                  /* bLength 0 */
	{ "01 04", -EBADMSG, 9 },                                  /* bLength 1 */
	{ "09 04 00 00 00 0B 00 00", -ENODATA, 17 },               /* overruns the end */
	{ "08 04 00 00 00 0B 00 00", -EBADMSG, 9 },                /* short interface */
	{ EP_IN, -EPROTO, 9 },                                     /* endpoint before interface */
	{ "09 04 00 00 02 0B 00 00 00 " EP_IN, -EPROTO, 13 },      /* fewer endpoints than declared */
	{ "09 04 00 00 01 0B 00 00 00 " EP_IN " " EP_OUT, -EMSGSIZE, 25 }, /* more */
	{ "09 04 00 00 01 0B 00 00 00 06 05 81 02 4000", -EBADMSG, 18 },  /* short endpoint */
	{ "09 02 0900 01 01 00 80 32", -EBADMSG, 10 },             /* nested configuration */
	{ "12 01 0002 00 00 00 40 2F07 CC90 0001 01 02 03 01", -EBADMSG, 10 },
};

START_TEST(test_malformed_config)
{
	struct ccid_usb_config cfg;
	struct ccid_diag diag = { 0 };
	size_t n = config(bad[_i].body, cfgbuf, sizeof(cfgbuf));
	int r = ccid_usb_config_parse(cfgbuf, n, &cfg, &diag);

	ck_assert_msg(r == bad[_i].err, "vector %d: %d, want %d", _i, r, bad[_i].err);
	ck_assert_msg(diag.offset == bad[_i].offset, "vector %d: offset %zu, want %zu (%s)", _i,
		      diag.offset, bad[_i].offset, diag.expected);
}
END_TEST

START_TEST(test_config_lengths)
{
	struct ccid_usb_config cfg;
	struct ccid_diag diag;
	size_t n = config("09 04 00 00 03 0B 00 00 00 " CLASS54 " " EP_IN " " EP_OUT " " EP_INT,
			  cfgbuf, sizeof(cfgbuf));

	/* Every truncation: wTotalLength promises more than is there. */
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, cfgbuf, len);
		ck_assert_int_eq(ccid_usb_config_parse(copy, len, &cfg, &diag), -ENODATA);
		free(copy);
	}
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n + 1, &cfg, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, n);
	cfgbuf[2] = 5; /* wTotalLength smaller than the header */
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, &diag), -EPROTO);
	cfgbuf[2] = (uint8_t)n;
	cfgbuf[1] = 1;
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 1);
}
END_TEST

START_TEST(test_interface_limit)
{
	struct ccid_usb_config cfg;
	struct ccid_diag diag;
	char body[33 * 30];
	size_t n;

	body[0] = 0;
	for (int i = 0; i < 33; i++)
		strcat(body, "09 04 00 00 00 03 00 00 00 ");
	n = config(body, cfgbuf, sizeof(cfgbuf));
	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 9 + 32 * 9);
}
END_TEST

START_TEST(test_describe)
{
	struct ccid_usb_config cfg;
	struct tu_fields *t = calloc(1, sizeof(*t));
	size_t n = config("09 04 00 00 03 0B 00 00 00 " CLASS54 " " EP_IN " " EP_OUT " " EP_INT,
			  cfgbuf, sizeof(cfgbuf));

	ck_assert_int_eq(ccid_usb_config_parse(cfgbuf, n, &cfg, NULL), 0);
	ccid_usb_config_describe(&cfg, cfgbuf, n, tu_collect, t);
	ck_assert(tu_has(t, "bInterfaceClass@14=smart card (CCID)"));
	ck_assert(tu_has(t, "bInterfaceProtocol@16=CCID (bulk transfers)"));
	/* class descriptor fields re-based onto the configuration: 18 + 44 */
	ck_assert(tu_has(t, "dwMaxCCIDMessageLength@62=271 bytes (header included)"));
	ck_assert(tu_has(t, "bmAttributes@89=interrupt"));
	ck_assert(tu_has(t, "bMaxPower@8=100 mA"));
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("usb_desc");
	TCase *tc;

	tc = tcase_create("device");
	tcase_add_test(tc, test_device);
	suite_add_tcase(s, tc);
	tc = tcase_create("configuration");
	tcase_add_test(tc, test_single_reader);
	tcase_add_test(tc, test_composite);
	tcase_add_test(tc, test_vendor_class_after_endpoints);
	tcase_add_test(tc, test_ccid_interface_faults);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_malformed_config, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_config_lengths);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_interface_limit);
	suite_add_tcase(s, tc);
	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
