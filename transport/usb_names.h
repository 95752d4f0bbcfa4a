/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of USB readers: what a user types (usb:VVVV/PPPP, with a serial
 * number, or by bus and address) and what pcscd passes to
 * IFDHCreateChannelByName (the libudev and libusb-1.0 hotplug forms, see
 * docs/reference/ifdhandler.md §3).  Pure string work: parsing into what the
 * name gives, matching a device against it, and formatting the canonical
 * forms a listing shows.  No I/O, no allocation.
 */
#ifndef UCCID_USB_NAMES_H
#define UCCID_USB_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UCCID_USB_NAME_MAX 256      /* a longer name is refused (-EINVAL) */
/* iSerialNumber as ASCII: a string descriptor holds at most 126 UTF-16 units (USB 2.0 §9.6.7). */
#define UCCID_USB_SERIAL_MAX 126

enum uccid_usb_name_form {
	UCCID_USB_NAME_ID,           /* usb:08e6/4433 (unknown trailing parts were ignored) */
	UCCID_USB_NAME_ID_SERIAL,    /* usb:08e6/4433:SERIAL */
	UCCID_USB_NAME_BUS_ADDR,     /* usb:1:3 (decimal bus number and device address) */
	UCCID_USB_NAME_LIBUDEV,      /* usb:08e6/4433:libudev:0:/dev/bus/usb/001/003 (interface, devnode) */
	UCCID_USB_NAME_LIBUSB,       /* usb:08e6/4433:libusb-1.0:1:3:0 (bus, address, interface) */
};

/* Which members of struct uccid_usb_name a name gave. */
#define UCCID_USB_HAS_ID 0x01u         /* idVendor, idProduct */
#define UCCID_USB_HAS_SERIAL 0x02u     /* serial */
#define UCCID_USB_HAS_BUS_ADDR 0x04u   /* busnum, devnum */
#define UCCID_USB_HAS_INTERFACE 0x08u  /* interface */

struct uccid_usb_name {
	enum uccid_usb_name_form form;
	unsigned has;                    /* UCCID_USB_HAS_* */
	uint16_t idVendor, idProduct;
	uint8_t busnum;                  /* 1..255 */
	uint8_t devnum;                  /* 1..127 (USB 2.0 §9.4.6: address 0 is the default address) */
	uint8_t interface;               /* bInterfaceNumber */
	char serial[UCCID_USB_SERIAL_MAX + 1];
};

/*
 * Parse a reader name.  Rules:
 *   - "usb:" then exactly four hex digits, "/", four hex digits (either case);
 *   - then nothing, or ":" and one of
 *       "libudev:" IF ":/dev/bus/usb/" BBB "/" DDD   (IF decimal, BBB DDD three digits),
 *       "libusb-1.0:" BUS ":" ADDR ":" IF            (decimal),
 *       a serial number: 1..126 printable ASCII characters without ":",
 *       anything else containing ":" (a form of another pcscd back end, such
 *       as libhal): ignored, the name is then the plain VID/PID form;
 *   - or "usb:" BUS ":" ADDR, decimal, nothing after.
 * Decimal numbers have 1..3 digits; bus 1..255, address 1..127, interface
 * 0..255.  A malformed libudev or libusb-1.0 part is an error, not ignored:
 * it is pcscd's own syntax.
 * Returns 0 (ret filled), or -EINVAL for anything else (ret untouched).
 */
int uccid_usb_name_parse(const char *name, struct uccid_usb_name *ret);

/*
 * Format n in the given form (which may differ from n->form) into buf,
 * always NUL-terminated on success.  The form's fields must be present in
 * n->has (LIBUDEV and LIBUSB need ID, BUS_ADDR and INTERFACE; ID_SERIAL
 * needs a serial that parses back: printable ASCII without ":").
 * Returns the length (without the NUL), -ENOBUFS (buf too small), or -EINVAL.
 */
ssize_t uccid_usb_name_format(const struct uccid_usb_name *n, enum uccid_usb_name_form form, char *buf,
			      size_t cap);

/*
 * Does a device match a parsed name?  dev describes one CCID interface with
 * every field known (has: ID, BUS_ADDR, INTERFACE, and SERIAL when the
 * device's serial could be read).  Each field the name gives must be equal;
 * a name with a serial never matches a device whose serial is unknown.
 */
bool uccid_usb_name_match(const struct uccid_usb_name *name, const struct uccid_usb_name *dev);

/*
 * The identity of a reader name, what its lock files are named by: the
 * device a "usb:" name resolves to now ("usb:BUS:ADDR" form), or a
 * "usbip://" URL with its port made explicit (an interface it names left
 * out: one import per device).  Returns 0, -EINVAL (not a reader name),
 * -ENOENT (no such device), -ENOBUFS, or a libusb error.
 */
int uccid_identity(const char *name, char *id, size_t cap);

#endif
