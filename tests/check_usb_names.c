/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for reader names (transport/usb_names.h): every form a user or
 * pcscd gives, the trailing parts pcscd says to ignore, every bound
 * (digits, ranges, serial characters, total length), formatting back to the
 * canonical forms, and the match rule.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "transport/usb_names.h"
#include "tests/testutil.h"

static struct uccid_usb_name parsed(const char *s)
{
	struct uccid_usb_name n;
	int r;

	memset(&n, 0xA5, sizeof(n));
	r = uccid_usb_name_parse(s, &n);
	ck_assert_msg(r == 0, "'%s' refused (%d)", s, r);
	return n;
}

START_TEST(test_vid_pid)
{
	struct uccid_usb_name n = parsed("usb:08e6/4433");

	ck_assert_int_eq(n.form, UCCID_USB_NAME_ID);
	ck_assert_uint_eq(n.has, UCCID_USB_HAS_ID);
	ck_assert_uint_eq(n.idVendor, 0x08E6);
	ck_assert_uint_eq(n.idProduct, 0x4433);
	n = parsed("usb:ABCD/ef01");
	ck_assert_uint_eq(n.idVendor, 0xABCD);
	ck_assert_uint_eq(n.idProduct, 0xEF01);
	n = parsed("usb:0000/0000");
	ck_assert_uint_eq(n.idVendor, 0);
	n = parsed("usb:ffff/FFFF");
	ck_assert_uint_eq(n.idProduct, 0xFFFF);
}
END_TEST

START_TEST(test_serial)
{
	struct uccid_usb_name n = parsed("usb:1209/0001:VR-0001");
	char longest[200];

	ck_assert_int_eq(n.form, UCCID_USB_NAME_ID_SERIAL);
	ck_assert_uint_eq(n.has, UCCID_USB_HAS_ID | UCCID_USB_HAS_SERIAL);
	ck_assert_str_eq(n.serial, "VR-0001");
	n = parsed("usb:1209/0001:with space/and~tilde");
	ck_assert_str_eq(n.serial, "with space/and~tilde");
	/* The tags of known back ends are serials too when nothing follows them. */
	n = parsed("usb:1209/0001:libudev");
	ck_assert_str_eq(n.serial, "libudev");

	memcpy(longest, "usb:1209/0001:", 14);
	memset(longest + 14, 'S', UCCID_USB_SERIAL_MAX);
	longest[14 + UCCID_USB_SERIAL_MAX] = '\0';
	n = parsed(longest);
	ck_assert_uint_eq(strlen(n.serial), UCCID_USB_SERIAL_MAX);
	longest[14 + UCCID_USB_SERIAL_MAX] = 'S';
	longest[15 + UCCID_USB_SERIAL_MAX] = '\0';
	ck_assert_int_eq(uccid_usb_name_parse(longest, &n), -EINVAL);
}
END_TEST

START_TEST(test_bus_addr)
{
	struct uccid_usb_name n = parsed("usb:1:3");

	ck_assert_int_eq(n.form, UCCID_USB_NAME_BUS_ADDR);
	ck_assert_uint_eq(n.has, UCCID_USB_HAS_BUS_ADDR);
	ck_assert_uint_eq(n.busnum, 1);
	ck_assert_uint_eq(n.devnum, 3);
	n = parsed("usb:255:127");
	ck_assert_uint_eq(n.busnum, 255);
	ck_assert_uint_eq(n.devnum, 127);
	n = parsed("usb:001:047");
	ck_assert_uint_eq(n.busnum, 1);
	ck_assert_uint_eq(n.devnum, 47);
}
END_TEST

START_TEST(test_libudev)
{
	/* hotplug_libudev.c: "usb:%04x/%04x:libudev:%d:%s", devnode from udev */
	struct uccid_usb_name n = parsed("usb:08e6/3437:libudev:0:/dev/bus/usb/008/047");

	ck_assert_int_eq(n.form, UCCID_USB_NAME_LIBUDEV);
	ck_assert_uint_eq(n.has, UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE);
	ck_assert_uint_eq(n.idVendor, 0x08E6);
	ck_assert_uint_eq(n.idProduct, 0x3437);
	ck_assert_uint_eq(n.interface, 0);
	ck_assert_uint_eq(n.busnum, 8);
	ck_assert_uint_eq(n.devnum, 47);
	n = parsed("usb:1050/0407:libudev:2:/dev/bus/usb/255/127");
	ck_assert_uint_eq(n.interface, 2);
	ck_assert_uint_eq(n.busnum, 255);
	ck_assert_uint_eq(n.devnum, 127);
}
END_TEST

START_TEST(test_libusb)
{
	/* hotplug_libusb.c: "usb:%04x/%04x:libusb-1.0:%d:%d:%d" bus, address, interface */
	struct uccid_usb_name n = parsed("usb:1209/0001:libusb-1.0:3:12:1");

	ck_assert_int_eq(n.form, UCCID_USB_NAME_LIBUSB);
	ck_assert_uint_eq(n.has, UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE);
	ck_assert_uint_eq(n.busnum, 3);
	ck_assert_uint_eq(n.devnum, 12);
	ck_assert_uint_eq(n.interface, 1);
}
END_TEST

START_TEST(test_trailing_ignored)
{
	/* pcscd: a driver accepts the usb:VID/PID prefix and ignores what it does not understand. */
	static const char *const names[] = {
		"usb:08e6/4433:libhal:/org/freedesktop/Hal/devices/usb_device_8e6_4433",
		"usb:08e6/4433:future:1:2",
		"usb:08e6/4433::",
		"usb:08e6/4433:x:",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct uccid_usb_name n = parsed(names[i]);

		ck_assert_int_eq(n.form, UCCID_USB_NAME_ID);
		ck_assert_uint_eq(n.has, UCCID_USB_HAS_ID);
		ck_assert_uint_eq(n.idVendor, 0x08E6);
		ck_assert_uint_eq(n.idProduct, 0x4433);
	}
}
END_TEST

START_TEST(test_malformed)
{
	static const char *const bad[] = {
		"", "usb", "usb:", "USB:08e6/4433", "usb08e6/4433", " usb:08e6/4433", "usb:08e6/4433 ",
		"usb:8e6/4433", "usb:08e6/443", "usb:08e61/4433", "usb:08e6/44331", "usb:08g6/4433",
		"usb:08e6-4433", "usb:08e6/", "usb:/4433", "usb:08e6//4433", "usb:+8e6/4433",
		"usb:08e6/4433:", "usb:08e6/4433:\x01", "usb:08e6/4433:caf\xc3\xa9", "usb:08e6/4433:tab\there",
		/* bus and address */
		"usb:1", "usb:1:", "usb::3", "usb:0:3", "usb:1:0", "usb:256:1", "usb:1:128", "usb:1:3:0",
		"usb:1000:1", "usb:0001:3", "usb:-1:3", "usb:1 :3", "usb:1:3 ", "usb:x:3",
		/* libudev */
		"usb:08e6/4433:libudev:", "usb:08e6/4433:libudev:0", "usb:08e6/4433:libudev:0:",
		"usb:08e6/4433:libudev::/dev/bus/usb/001/002", "usb:08e6/4433:libudev:256:/dev/bus/usb/001/002",
		"usb:08e6/4433:libudev:0:/dev/bus/usb/1/2", "usb:08e6/4433:libudev:0:/dev/bus/usb/001/2",
		"usb:08e6/4433:libudev:0:/dev/bus/usb/000/002", "usb:08e6/4433:libudev:0:/dev/bus/usb/001/000",
		"usb:08e6/4433:libudev:0:/dev/bus/usb/001/128", "usb:08e6/4433:libudev:0:/dev/bus/usb/256/002",
		"usb:08e6/4433:libudev:0:/dev/bus/usb/001/002/", "usb:08e6/4433:libudev:0:/dev/bus/usb/001/0020",
		"usb:08e6/4433:libudev:0:/dev/usb/001/002", "usb:08e6/4433:libudev:0:/dev/bus/usb/001/002:x",
		"usb:08e6/4433:libudev:-1:/dev/bus/usb/001/002",
		/* libusb-1.0 */
		"usb:08e6/4433:libusb-1.0:", "usb:08e6/4433:libusb-1.0:1", "usb:08e6/4433:libusb-1.0:1:2",
		"usb:08e6/4433:libusb-1.0:1:2:", "usb:08e6/4433:libusb-1.0:0:2:0", "usb:08e6/4433:libusb-1.0:1:0:0",
		"usb:08e6/4433:libusb-1.0:1:128:0", "usb:08e6/4433:libusb-1.0:256:2:0",
		"usb:08e6/4433:libusb-1.0:1:2:256", "usb:08e6/4433:libusb-1.0:1:2:0:9",
		"usb:08e6/4433:libusb-1.0:1:2:x", "usb:08e6/4433:libusb-1.0:1:2:0 ", "usb:08e6/4433:libusb-1.0:1:2:0000",
		"/dev/ttyS0",
	};
	struct uccid_usb_name n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&n, 0x5A, sizeof(n));
		ck_assert_msg(uccid_usb_name_parse(bad[i], &n) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(n.has == 0x5A5A5A5Au, "'%s': ret written on failure", bad[i]);
	}
	ck_assert_int_eq(uccid_usb_name_parse(NULL, &n), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_parse("usb:08e6/4433", NULL), -EINVAL);
}
END_TEST

START_TEST(test_length_limit)
{
	char name[UCCID_USB_NAME_MAX + 2];
	struct uccid_usb_name n;

	/* a trailing part of another back end, ignored, up to the limit */
	memcpy(name, "usb:08e6/4433:libhal:", 21);
	memset(name + 21, 'x', sizeof(name) - 21);
	name[UCCID_USB_NAME_MAX] = '\0';
	ck_assert_int_eq(uccid_usb_name_parse(name, &n), 0);
	name[UCCID_USB_NAME_MAX] = 'x';
	name[UCCID_USB_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(uccid_usb_name_parse(name, &n), -EINVAL);
}
END_TEST

START_TEST(test_format)
{
	struct uccid_usb_name n = { .has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE |
					   UCCID_USB_HAS_SERIAL,
				    .idVendor = 0x08E6, .idProduct = 0x4433, .busnum = 8, .devnum = 47,
				    .interface = 1, .serial = "A1B2" };
	static const struct {
		enum uccid_usb_name_form form;
		const char *text;
	} want[] = {
		{ UCCID_USB_NAME_ID, "usb:08e6/4433" },
		{ UCCID_USB_NAME_ID_SERIAL, "usb:08e6/4433:A1B2" },
		{ UCCID_USB_NAME_BUS_ADDR, "usb:8:47" },
		{ UCCID_USB_NAME_LIBUDEV, "usb:08e6/4433:libudev:1:/dev/bus/usb/008/047" },
		{ UCCID_USB_NAME_LIBUSB, "usb:08e6/4433:libusb-1.0:8:47:1" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t len = strlen(want[i].text);
		struct uccid_usb_name back;

		ck_assert_int_eq(uccid_usb_name_format(&n, want[i].form, buf, sizeof(buf)), (ssize_t)len);
		ck_assert_str_eq(buf, want[i].text);
		/* every canonical form parses back into its own form and matches the device */
		ck_assert_int_eq(uccid_usb_name_parse(buf, &back), 0);
		ck_assert_int_eq(back.form, want[i].form);
		ck_assert(uccid_usb_name_match(&back, &n));
		/* exact fit, one byte short */
		ck_assert_int_eq(uccid_usb_name_format(&n, want[i].form, buf, len + 1), (ssize_t)len);
		ck_assert_int_eq(uccid_usb_name_format(&n, want[i].form, buf, len), -ENOBUFS);
	}
}
END_TEST

START_TEST(test_format_refused)
{
	struct uccid_usb_name n = { .has = UCCID_USB_HAS_ID, .idVendor = 1, .idProduct = 2 };
	char buf[128];

	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_ID_SERIAL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_BUS_ADDR, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_LIBUSB, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_LIBUDEV, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_format(&n, (enum uccid_usb_name_form)99, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(uccid_usb_name_format(NULL, UCCID_USB_NAME_ID, buf, sizeof(buf)), -EINVAL);
	/* a serial that would not parse back */
	n.has |= UCCID_USB_HAS_SERIAL;
	strcpy(n.serial, "a:b");
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_ID_SERIAL, buf, sizeof(buf)), -EINVAL);
	strcpy(n.serial, "caf\xc3\xa9");
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_ID_SERIAL, buf, sizeof(buf)), -EINVAL);
	n.serial[0] = '\0';
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_ID_SERIAL, buf, sizeof(buf)), -EINVAL);
	/* address 0 is not a configured device's */
	n.has |= UCCID_USB_HAS_BUS_ADDR;
	n.busnum = 1;
	n.devnum = 0;
	ck_assert_int_eq(uccid_usb_name_format(&n, UCCID_USB_NAME_BUS_ADDR, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_match)
{
	struct uccid_usb_name dev = { .has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE,
				      .idVendor = 0x1209, .idProduct = 0x0001, .busnum = 3, .devnum = 2,
				      .interface = 0 };

	ck_assert(uccid_usb_name_match(&(struct uccid_usb_name){ 0 }, &dev));
	ck_assert(uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0001") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0002") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1208/0001") }, &dev));
	ck_assert(uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:3:2") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:3:1") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:2:2") }, &dev));
	ck_assert(uccid_usb_name_match(
		(const struct uccid_usb_name[]){ parsed("usb:1209/0001:libusb-1.0:3:2:0") }, &dev));
	ck_assert(!uccid_usb_name_match(
		(const struct uccid_usb_name[]){ parsed("usb:1209/0001:libusb-1.0:3:2:1") }, &dev));
	ck_assert(uccid_usb_name_match(
		(const struct uccid_usb_name[]){ parsed("usb:1209/0001:libudev:0:/dev/bus/usb/003/002") }, &dev));
	ck_assert(!uccid_usb_name_match(
		(const struct uccid_usb_name[]){ parsed("usb:1209/0001:libudev:0:/dev/bus/usb/003/003") }, &dev));
	/* a serial never matches a device whose serial could not be read */
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0001:X1") }, &dev));
	dev.has |= UCCID_USB_HAS_SERIAL;
	strcpy(dev.serial, "X1");
	ck_assert(uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0001:X1") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0001:x1") }, &dev));
	ck_assert(!uccid_usb_name_match((const struct uccid_usb_name[]){ parsed("usb:1209/0001:X") }, &dev));
	ck_assert(!uccid_usb_name_match(NULL, &dev));
}
END_TEST

static Suite *usb_names_suite(void)
{
	Suite *s = suite_create("usb_names");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_vid_pid);
	tcase_add_test(tc, test_serial);
	tcase_add_test(tc, test_bus_addr);
	tcase_add_test(tc, test_libudev);
	tcase_add_test(tc, test_libusb);
	tcase_add_test(tc, test_trailing_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_length_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_format_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_test(tc, test_match);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(usb_names_suite(), true);
}
