/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reader names (transport/usb_names.h): a small cursor parser that accepts
 * exactly the documented forms and refuses everything else with -EINVAL,
 * the formatter for the canonical forms, and the match rule the libusb
 * transport uses to resolve a name to an interface.
 */
#include "config.h"

#include "transport/usb_names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/hex.h"

/* Exactly four hex digits. */
static bool take_hex16(const char **p, uint16_t *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int d = uccid_hex_digit((*p)[i]);

		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	*p += 4;
	*ret = (uint16_t)v;
	return true;
}

/* digits_min..digits_max decimal digits with a value in lo..hi. */
static bool take_dec(const char **p, unsigned digits_min, unsigned digits_max, unsigned lo, unsigned hi,
		     unsigned *ret)
{
	unsigned v = 0, n = 0;

	while ((*p)[n] >= '0' && (*p)[n] <= '9') {
		if (n == digits_max)
			return false;
		v = v * 10 + (unsigned)((*p)[n] - '0');
		n++;
	}
	if (n < digits_min || v < lo || v > hi)
		return false;
	*p += n;
	*ret = v;
	return true;
}

static bool take_str(const char **p, const char *s)
{
	size_t n = strlen(s);

	if (strncmp(*p, s, n))
		return false;
	*p += n;
	return true;
}

/* A serial we can put in a name and read back: printable ASCII, no ':'. */
static bool serial_ok(const char *s, size_t len)
{
	if (len == 0 || len > UCCID_USB_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7E || s[i] == ':')
			return false;
	return true;
}

#define BUS_MIN 1u
#define BUS_MAX 255u
#define ADDR_MIN 1u
#define ADDR_MAX 127u
#define IF_MAX 255u

/* After "usb:VVVV/PPPP:libudev:" — IF ":/dev/bus/usb/" BBB "/" DDD, end. */
static bool parse_libudev(const char *p, struct uccid_usb_name *n)
{
	unsigned intf, bus, addr;

	if (!take_dec(&p, 1, 3, 0, IF_MAX, &intf) || !take_str(&p, ":/dev/bus/usb/") ||
	    !take_dec(&p, 3, 3, BUS_MIN, BUS_MAX, &bus) || !take_str(&p, "/") ||
	    !take_dec(&p, 3, 3, ADDR_MIN, ADDR_MAX, &addr) || *p)
		return false;
	n->interface = (uint8_t)intf;
	n->busnum = (uint8_t)bus;
	n->devnum = (uint8_t)addr;
	n->has |= UCCID_USB_HAS_INTERFACE | UCCID_USB_HAS_BUS_ADDR;
	n->form = UCCID_USB_NAME_LIBUDEV;
	return true;
}

/* After "usb:VVVV/PPPP:libusb-1.0:" — BUS ":" ADDR ":" IF, end. */
static bool parse_libusb(const char *p, struct uccid_usb_name *n)
{
	unsigned intf, bus, addr;

	if (!take_dec(&p, 1, 3, BUS_MIN, BUS_MAX, &bus) || !take_str(&p, ":") ||
	    !take_dec(&p, 1, 3, ADDR_MIN, ADDR_MAX, &addr) || !take_str(&p, ":") ||
	    !take_dec(&p, 1, 3, 0, IF_MAX, &intf) || *p)
		return false;
	n->interface = (uint8_t)intf;
	n->busnum = (uint8_t)bus;
	n->devnum = (uint8_t)addr;
	n->has |= UCCID_USB_HAS_INTERFACE | UCCID_USB_HAS_BUS_ADDR;
	n->form = UCCID_USB_NAME_LIBUSB;
	return true;
}

int uccid_usb_name_parse(const char *name, struct uccid_usb_name *ret)
{
	struct uccid_usb_name n = { 0 };
	const char *p = name;

	if (!name || !ret || strnlen(name, UCCID_USB_NAME_MAX + 1) > UCCID_USB_NAME_MAX)
		return -EINVAL;
	if (!take_str(&p, "usb:"))
		return -EINVAL;

	if (!strchr(p, '/')) {
		unsigned bus, addr;

		if (!take_dec(&p, 1, 3, BUS_MIN, BUS_MAX, &bus) || !take_str(&p, ":") ||
		    !take_dec(&p, 1, 3, ADDR_MIN, ADDR_MAX, &addr) || *p)
			return -EINVAL;
		n.form = UCCID_USB_NAME_BUS_ADDR;
		n.has = UCCID_USB_HAS_BUS_ADDR;
		n.busnum = (uint8_t)bus;
		n.devnum = (uint8_t)addr;
		*ret = n;
		return 0;
	}

	if (!take_hex16(&p, &n.idVendor) || !take_str(&p, "/") || !take_hex16(&p, &n.idProduct))
		return -EINVAL;
	n.has = UCCID_USB_HAS_ID;
	n.form = UCCID_USB_NAME_ID;
	if (*p == '\0')
		goto out;
	if (*p++ != ':')
		return -EINVAL;   /* "usb:08e6/44331" is a typo, not a trailing part */

	if (take_str(&p, "libudev:")) {
		if (!parse_libudev(p, &n))
			return -EINVAL;
	} else if (take_str(&p, "libusb-1.0:")) {
		if (!parse_libusb(p, &n))
			return -EINVAL;
	} else if (strchr(p, ':')) {
		/* another back end's trailing parts: pcscd's rule is to ignore them */
	} else {
		size_t len = strlen(p);

		if (!serial_ok(p, len))
			return -EINVAL;
		memcpy(n.serial, p, len + 1);
		n.has |= UCCID_USB_HAS_SERIAL;
		n.form = UCCID_USB_NAME_ID_SERIAL;
	}
out:
	*ret = n;
	return 0;
}

ssize_t uccid_usb_name_format(const struct uccid_usb_name *n, enum uccid_usb_name_form form, char *buf,
			      size_t cap)
{
	unsigned need;
	int len;

	if (!n || !buf)
		return -EINVAL;
	switch (form) {
	case UCCID_USB_NAME_ID:
		need = UCCID_USB_HAS_ID;
		break;
	case UCCID_USB_NAME_ID_SERIAL:
		need = UCCID_USB_HAS_ID | UCCID_USB_HAS_SERIAL;
		break;
	case UCCID_USB_NAME_BUS_ADDR:
		need = UCCID_USB_HAS_BUS_ADDR;
		break;
	case UCCID_USB_NAME_LIBUDEV:
	case UCCID_USB_NAME_LIBUSB:
		need = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE;
		break;
	default:
		return -EINVAL;
	}
	if ((n->has & need) != need)
		return -EINVAL;
	if (need & UCCID_USB_HAS_BUS_ADDR &&
	    (n->busnum < BUS_MIN || n->devnum < ADDR_MIN || n->devnum > ADDR_MAX))
		return -EINVAL;
	if (need & UCCID_USB_HAS_SERIAL && !serial_ok(n->serial, strnlen(n->serial, sizeof(n->serial))))
		return -EINVAL;

	switch (form) {
	case UCCID_USB_NAME_ID:
		len = snprintf(buf, cap, "usb:%04x/%04x", n->idVendor, n->idProduct);
		break;
	case UCCID_USB_NAME_ID_SERIAL:
		len = snprintf(buf, cap, "usb:%04x/%04x:%s", n->idVendor, n->idProduct, n->serial);
		break;
	case UCCID_USB_NAME_BUS_ADDR:
		len = snprintf(buf, cap, "usb:%u:%u", n->busnum, n->devnum);
		break;
	case UCCID_USB_NAME_LIBUDEV:
		len = snprintf(buf, cap, "usb:%04x/%04x:libudev:%u:/dev/bus/usb/%03u/%03u", n->idVendor,
			       n->idProduct, n->interface, n->busnum, n->devnum);
		break;
	case UCCID_USB_NAME_LIBUSB:
	default:   /* refused above; keeps len set for the compiler */
		len = snprintf(buf, cap, "usb:%04x/%04x:libusb-1.0:%u:%u:%u", n->idVendor, n->idProduct,
			       n->busnum, n->devnum, n->interface);
		break;
	}
	if (len < 0)
		return -EINVAL;
	if ((size_t)len >= cap)
		return -ENOBUFS;
	return len;
}

bool uccid_usb_name_match(const struct uccid_usb_name *name, const struct uccid_usb_name *dev)
{
	if (!name || !dev)
		return false;
	if (name->has & UCCID_USB_HAS_ID &&
	    (!(dev->has & UCCID_USB_HAS_ID) || name->idVendor != dev->idVendor ||
	     name->idProduct != dev->idProduct))
		return false;
	if (name->has & UCCID_USB_HAS_BUS_ADDR &&
	    (!(dev->has & UCCID_USB_HAS_BUS_ADDR) || name->busnum != dev->busnum || name->devnum != dev->devnum))
		return false;
	if (name->has & UCCID_USB_HAS_INTERFACE &&
	    (!(dev->has & UCCID_USB_HAS_INTERFACE) || name->interface != dev->interface))
		return false;
	if (name->has & UCCID_USB_HAS_SERIAL &&
	    (!(dev->has & UCCID_USB_HAS_SERIAL) || strcmp(name->serial, dev->serial)))
		return false;
	return true;
}
