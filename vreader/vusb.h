/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A virtual USB device as a USB/IP server (or an in-process transport) sees
 * it: identity, control transfers, bulk-OUT data, and IN endpoints polled for
 * data.  The CCID device model implements it; the USB/IP server and tests
 * drive it.  Single-threaded: every call comes from one event loop.
 *
 * Time is a monotonic clock in microseconds (uccid_mono_us(), util/clock.h),
 * passed in so that the model stays deterministic under test.
 */
#ifndef VREADER_VUSB_H
#define VREADER_VUSB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUSB_NEVER INT64_MAX

/* Identity reported by OP_REQ_DEVLIST / OP_REQ_IMPORT (usbip_usb_device). */
struct vusb_info {
	char path[256];
	uint32_t busnum, devnum;
	uint32_t speed;                 /* enum usb_device_speed: 2 full, 3 high */
	uint16_t idVendor, idProduct, bcdDevice;
	uint8_t bDeviceClass, bDeviceSubClass, bDeviceProtocol;
	uint8_t bConfigurationValue;    /* current configuration (0 = unconfigured) */
	uint8_t bNumConfigurations;
	uint8_t bNumInterfaces;
	struct { uint8_t bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol; } intf[8];
};

/* What an IN poll tells the transport to do besides returning data. */
enum vusb_in_action {
	VUSB_IN_DATA = 0,               /* complete the URB with the bytes returned */
	VUSB_IN_STALL,                  /* complete the URB with -EPIPE (endpoint halted) */
	VUSB_IN_DROP_CONNECTION,        /* send part of the reply, then close the connection */
};

struct vusb_ops {
	/* Fill the identity for DEVLIST / IMPORT. */
	void (*info)(void *dev, struct vusb_info *ret);

	/*
	 * A control transfer on endpoint 0.  setup is the 8-byte SETUP packet
	 * (wLength little-endian at 6); for OUT requests data holds wLength
	 * bytes.  Returns the number of IN bytes written to in (at most
	 * wLength, at most in_cap), 0 for a successful OUT, or -EPIPE to STALL.
	 * Never blocks.
	 */
	int (*control)(void *dev, const uint8_t setup[8], const uint8_t *data, uint8_t *in,
		       size_t in_cap, int64_t now);

	/*
	 * Bulk or interrupt OUT data on endpoint ep (address without the
	 * direction bit).  Returns the bytes consumed (normally len), or -EPIPE
	 * to STALL.  Never blocks.
	 */
	int (*out)(void *dev, uint8_t ep, const uint8_t *data, size_t len, int64_t now);

	/*
	 * Poll IN endpoint ep (address with the direction bit, e.g. 0x81) for
	 * up to cap bytes.  Returns the length of the data (0 for a
	 * zero-length packet), or -EAGAIN when nothing is ready yet (the URB
	 * stays pending).  *action says how to complete the URB.
	 */
	int (*in)(void *dev, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action,
		  int64_t now);

	/* Earliest time at which an IN endpoint may become ready by itself, or VUSB_NEVER. */
	int64_t (*next_event)(void *dev, int64_t now);

	/*
	 * A pending IN URB on ep was unlinked by the host (CMD_UNLINK): the
	 * device must not lose data it has not handed out.  Optional.
	 */
	void (*unlink)(void *dev, uint8_t ep, int64_t now);

	/* A host imported the device (attach) or went away (detach).  Optional. */
	void (*attach)(void *dev, int64_t now);
	void (*detach)(void *dev, int64_t now);

	/*
	 * The device is plugged in again (a server restart re-enumerates it):
	 * what a power cycle loses is lost — the cards are unpowered — what
	 * is in the slots stays.  Optional.
	 */
	void (*replug)(void *dev, int64_t now);
};

struct vusb_device {
	const struct vusb_ops *ops;
	void *dev;
	char busid[32];                 /* "1-1", "1-2", ... */
};

#endif
