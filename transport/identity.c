/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader's identity for its lock files: one string per physical CCID
 * interface whatever name the caller used for it, so that "usb:08e6/3437",
 * the libudev form pcscd passes and "usb:1:3" lock the same file.  USB
 * readers are found and named in the libusb-1.0 form (bus, address,
 * interface: stable while the device stays plugged in — a re-plugged reader
 * has a new card state anyway); USB/IP readers by server and bus ID with the
 * port made explicit.  No device is opened.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/libusb.h"
#include "transport/usb_names.h"
#include "transport/usbip_client.h"

#define MAX_USB_READERS 64

static int usb_identity(const char *name, char *id, size_t cap)
{
	struct uccid_libusb_reader *list;
	struct uccid_usb_name want;
	int n, rc = -ENOENT;

	if (uccid_usb_name_parse(name, &want) < 0)
		return -EINVAL;
	list = calloc(MAX_USB_READERS, sizeof(*list));
	if (!list)
		return -ENOMEM;
	n = uccid_libusb_list(list, MAX_USB_READERS, NULL, 0);
	if (n < 0) {
		rc = n;
		goto out;
	}
	if (n > MAX_USB_READERS)
		n = MAX_USB_READERS;
	for (int i = 0; i < n; i++) {
		struct uccid_usb_name dev = {
			.has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE,
			.idVendor = list[i].idVendor,
			.idProduct = list[i].idProduct,
			.busnum = list[i].busnum,
			.devnum = list[i].devnum,
			.interface = list[i].interface,
		};

		if (list[i].serial[0]) {
			dev.has |= UCCID_USB_HAS_SERIAL;
			snprintf(dev.serial, sizeof(dev.serial), "%s", list[i].serial);
		}
		if (uccid_usb_name_match(&want, &dev)) {
			rc = snprintf(id, cap, "%s", list[i].name_libusb) < (int)cap ? 0 : -ENOBUFS;
			break;
		}
	}
out:
	free(list);
	return rc;
}

int uccid_identity(const char *name, char *id, size_t cap)
{
	char host[256], busid[32];
	uint16_t port;
	int intf;

	if (!name || !id || !cap)
		return -EINVAL;
	if (!strncmp(name, "usbip://", 8)) {
		/* one import per device: its interfaces share the device's lock */
		if (uccid_usbip_parse_reader_url(name, host, sizeof(host), &port, busid, sizeof(busid), &intf) < 0)
			return -EINVAL;
		return snprintf(id, cap, "usbip://%s:%u/%s", host, port, busid) < (int)cap ? 0 : -ENOBUFS;
	}
	if (!strncmp(name, "usb:", 4))
		return usb_identity(name, id, cap);
	return -EINVAL;
}
