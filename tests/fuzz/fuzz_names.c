/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for reader names (transport/usb_names.c) and usbip:// URLs
 * (uccid_usbip_parse_url in transport/usbip_client.c), what a user types
 * after -r and what pcscd passes to IFDHCreateChannelByName.  The input is
 * one name (cut at its first NUL).  Properties: a parsed USB name gives
 * only the fields its form has, within their ranges; each canonical form
 * it can be written in parses back to the same fields, and a parsed name
 * matches the device it describes; a parsed URL has a non-empty host and
 * bus ID within the buffers given, and its identity form parses back to
 * the same host, port and bus ID; a reader's URL is the device's URL, or
 * it with an interface number 0..255 the device's URL parser refuses.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/usb_names.h"
#include "transport/usbip_client.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_usb_name(const char *name)
{
	static const enum uccid_usb_name_form forms[] = {
		UCCID_USB_NAME_ID, UCCID_USB_NAME_ID_SERIAL, UCCID_USB_NAME_BUS_ADDR,
		UCCID_USB_NAME_LIBUDEV, UCCID_USB_NAME_LIBUSB,
	};
	struct uccid_usb_name n, again, dev;
	char buf[UCCID_USB_NAME_MAX + 1];

	if (uccid_usb_name_parse(name, &n) < 0)
		return;
	FUZZ_ASSERT(strnlen(n.serial, sizeof(n.serial)) < sizeof(n.serial));
	if (n.has & UCCID_USB_HAS_BUS_ADDR)
		FUZZ_ASSERT(n.busnum >= 1 && n.devnum >= 1 && n.devnum <= 127);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ssize_t len = uccid_usb_name_format(&n, forms[i], buf, sizeof(buf));

		if (len < 0) {
			FUZZ_ASSERT(len == -EINVAL || len == -ENOBUFS);
			continue;
		}
		FUZZ_ASSERT((size_t)len == strlen(buf));
		FUZZ_ASSERT(uccid_usb_name_parse(buf, &again) == 0);
		if (n.has & again.has & UCCID_USB_HAS_ID)
			FUZZ_ASSERT(again.idVendor == n.idVendor && again.idProduct == n.idProduct);
		if (n.has & again.has & UCCID_USB_HAS_BUS_ADDR)
			FUZZ_ASSERT(again.busnum == n.busnum && again.devnum == n.devnum);
		if (n.has & again.has & UCCID_USB_HAS_SERIAL)
			FUZZ_ASSERT(!strcmp(again.serial, n.serial));
	}
	/* the device the name describes, every field known: the name matches it */
	dev = n;
	dev.has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE |
		  (n.has & UCCID_USB_HAS_SERIAL);
	if (!(n.has & UCCID_USB_HAS_BUS_ADDR))
		dev.busnum = dev.devnum = 1;
	FUZZ_ASSERT(uccid_usb_name_match(&n, &dev));
}

static void fuzz_url(const char *url)
{
	char host[300], busid[64], again_host[300], again_busid[64], id[512];
	uint16_t port, again_port;
	int r;

	r = uccid_usbip_parse_url(url, host, sizeof(host), &port, busid, sizeof(busid));
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL);
		return;
	}
	FUZZ_ASSERT(host[0] && busid[0] && port != 0);
	FUZZ_ASSERT(strnlen(host, sizeof(host)) < sizeof(host) && strnlen(busid, sizeof(busid)) < sizeof(busid));
	/* the identity lock files are named by: the same host, port and bus ID (IPv6 in brackets) */
	snprintf(id, sizeof(id), strchr(host, ':') ? "usbip://[%s]:%u/%s" : "usbip://%s:%u/%s", host, port, busid);
	if (strlen(id) > UCCID_USBIP_URL_MAX)
		return;         /* the port made explicit may not fit */
	FUZZ_ASSERT(uccid_usbip_parse_url(id, again_host, sizeof(again_host), &again_port, again_busid,
					  sizeof(again_busid)) == 0);
	FUZZ_ASSERT(!strcmp(host, again_host) && port == again_port && !strcmp(busid, again_busid));
	/* small buffers are refused, never overrun */
	FUZZ_ASSERT(uccid_usbip_parse_url(url, host, strlen(host), &port, busid, sizeof(busid)) == -EINVAL);
}

/* A reader's URL: the device's URL, or it and "/" bInterfaceNumber (0..255). */
static void fuzz_reader_url(const char *url)
{
	char host[300], busid[64], dev[UCCID_USBIP_URL_MAX + 1];
	const char *slash;
	uint16_t port;
	int intf = -2, r;

	r = uccid_usbip_parse_reader_url(url, host, sizeof(host), &port, busid, sizeof(busid), &intf);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && intf == -2);
		return;
	}
	FUZZ_ASSERT(intf >= -1 && intf <= 255);
	FUZZ_ASSERT((uccid_usbip_parse_url(url, host, sizeof(host), &port, busid, sizeof(busid)) == 0) == (intf < 0));
	if (intf < 0)
		return;
	/* without its interface, the device's URL */
	slash = strrchr(url, '/');
	FUZZ_ASSERT(slash && atoi(slash + 1) == intf && (size_t)(slash - url) < sizeof(dev));
	memcpy(dev, url, (size_t)(slash - url));
	dev[slash - url] = '\0';
	FUZZ_ASSERT(uccid_usbip_parse_url(dev, host, sizeof(host), &port, busid, sizeof(busid)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);

	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	fuzz_usb_name(name);
	fuzz_url(name);
	fuzz_reader_url(name);
	free(name);
	return 0;
}
