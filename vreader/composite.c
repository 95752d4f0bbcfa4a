/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The composite virtual reader (composite.h): a configuration of several
 * interfaces built from a reader dump, each CCID interface served by a
 * device model of its own, the others inert.  Interface numbers and
 * endpoint addresses are rewritten here, at the edge, in both directions.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/usb_desc.h"
#include "vreader/composite.h"

#define REQ_GET_STATUS 0x00
#define REQ_CLEAR_FEATURE 0x01
#define REQ_SET_FEATURE 0x03
#define REQ_GET_DESCRIPTOR 0x06
#define REQ_GET_CONFIGURATION 0x08
#define REQ_SET_CONFIGURATION 0x09
#define REQ_GET_INTERFACE 0x0A
#define REQ_SET_INTERFACE 0x0B
#define HID_REQ_SET_IDLE 0x0A
#define HID_REQ_SET_PROTOCOL 0x0B
#define HID_DT_HID 0x21
#define HID_DT_REPORT 0x22
#define CLASS_HID 0x03
#define CFG_MAX 1024
#define MAX_EPS 3

/* HID 1.11 §6.2.2: one vendor-defined input byte, nothing a host would bind a keyboard to. */
static const uint8_t hid_report[] = {
	0x06, 0x00, 0xFF,       /* Usage Page (vendor) */
	0x09, 0x01,             /* Usage 1 */
	0xA1, 0x01,             /* Collection (application) */
	0x15, 0x00, 0x26, 0xFF, 0x00, /* Logical 0..255 */
	0x75, 0x08, 0x95, 0x01, /* 1 report of 8 bits */
	0x09, 0x01, 0x81, 0x02, /* Usage 1, Input (data, variable, absolute) */
	0xC0,                   /* End collection */
};

struct vep {
	uint8_t addr;                   /* as the host sees it */
	uint8_t inner;                  /* the function's own (0x81, 0x02, 0x83); 0 for an inert one */
};

struct viface {
	uint8_t number, alt;
	uint8_t cls, subclass, protocol;
	int func;                       /* index in funcs, -1: inert HID filler */
	unsigned nep;
	struct vep ep[MAX_EPS];
};

struct vcomp {
	char name[64];
	struct viface ifs[VCOMP_MAX_INTERFACES];
	unsigned nifs;
	struct vdev *funcs[VCOMP_MAX_INTERFACES];
	unsigned nfuncs;
	uint8_t configuration;
	uint8_t cfg[CFG_MAX];
	size_t cfg_len;
};

/* ---- the dump's interfaces ---- */

struct block {
	unsigned number, alt, cls, subclass, protocol;
	unsigned idVendor, idProduct;
};

/* The blocks of one device: up to a repeated interface number or another device's IDs. */
static int read_blocks(const char *path, struct block *b, unsigned *ret_n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int n = -1;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t indent = strspn(line, " ");
		char *name = line + indent, *colon = strchr(name, ':');
		unsigned long v;

		if (indent != 1 || !colon)
			continue;
		*colon = 0;
		v = strtoul(colon + 1, NULL, 0);
		if (!strcmp(name, "idVendor")) {
			if (n + 1 >= VCOMP_MAX_INTERFACES) {
				snprintf(err, errlen, "%s: more than %d interfaces", path, VCOMP_MAX_INTERFACES);
				r = -EBADMSG;
				goto out;
			}
			memset(&b[++n], 0, sizeof(b[n]));
			b[n].idVendor = (unsigned)v;
		} else if (n < 0) {
			continue;
		} else if (!strcmp(name, "idProduct")) {
			b[n].idProduct = (unsigned)v;
		} else if (!strcmp(name, "bInterfaceNumber")) {
			b[n].number = (unsigned)v;
		} else if (!strcmp(name, "bAlternateSetting")) {
			b[n].alt = (unsigned)v;
		} else if (!strcmp(name, "bInterfaceClass")) {
			b[n].cls = (unsigned)v;
		} else if (!strcmp(name, "bInterfaceSubClass")) {
			b[n].subclass = (unsigned)v;
		} else if (!strcmp(name, "bInterfaceProtocol")) {
			b[n].protocol = (unsigned)v;
		}
	}
	/* the first device of the file: stop at a repeat or at other IDs */
	for (int i = 1; i <= n; i++) {
		bool stop = b[i].idVendor != b[0].idVendor || b[i].idProduct != b[0].idProduct;

		for (int j = 0; j < i && !stop; j++)
			stop = b[j].number == b[i].number && b[j].alt == b[i].alt;
		if (stop) {
			n = i - 1;
			break;
		}
	}
	for (int i = 0; i <= n; i++)
		if (b[i].number >= VCOMP_MAX_INTERFACES || b[i].alt > 0xFF) {
			snprintf(err, errlen, "%s: interface %u alternate %u is beyond what the virtual reader "
				 "builds (interfaces 0..%d)", path, b[i].number, b[i].alt, VCOMP_MAX_INTERFACES - 1);
			r = -EBADMSG;
			goto out;
		}
	if (n < 0) {
		snprintf(err, errlen, "%s: no interface", path);
		r = -EBADMSG;
		goto out;
	}
	*ret_n = (unsigned)n + 1;
out:
	fclose(f);
	return r;
}

/* ---- building the configuration ---- */

static int cmp_iface(const void *a, const void *b)
{
	const struct viface *x = a, *y = b;

	if (x->number != y->number)
		return x->number - y->number;
	return x->alt - y->alt;
}

static struct vep *find_ep(struct vcomp *c, uint8_t addr, struct viface **ret_if)
{
	for (unsigned i = 0; i < c->nifs; i++)
		for (unsigned e = 0; e < c->ifs[i].nep; e++)
			if (c->ifs[i].ep[e].addr == addr) {
				*ret_if = &c->ifs[i];
				return &c->ifs[i].ep[e];
			}
	return NULL;
}

static struct viface *find_iface(struct vcomp *c, uint8_t number)
{
	for (unsigned i = 0; i < c->nifs; i++)
		if (c->ifs[i].number == number && c->ifs[i].alt == 0)
			return &c->ifs[i];
	return NULL;
}

static bool put(struct vcomp *c, const uint8_t *b, size_t n)
{
	if (c->cfg_len + n > sizeof(c->cfg))
		return false;
	memcpy(c->cfg + c->cfg_len, b, n);
	c->cfg_len += n;
	return true;
}

/*
 * One CCID function's part of the configuration: its own interface, class
 * and endpoint descriptors (as device.c builds them), renumbered.  The
 * interface class is the dump's (0B, or FF for a vendor-class reader).
 */
static int put_function(struct vcomp *c, struct viface *vi, uint8_t *next_ep)
{
	uint8_t raw[512], setup[8] = { 0x80, REQ_GET_DESCRIPTOR, 0, CCID_USB_DT_CONFIG, 0, 0, 0, 2 };
	struct ccid_usb_config *pc = malloc(sizeof(*pc));
	const struct ccid_usb_interface *in;
	int n, r = -EBADMSG;

	if (!pc)
		return -ENOMEM;
	n = vdev_usb_ops.control(c->funcs[vi->func], setup, NULL, raw, sizeof(raw), 0);
	if (n < CCID_USB_CONFIG_DESC_LEN || ccid_usb_config_parse(raw, (size_t)n, pc, NULL) < 0 || pc->ninterfaces != 1)
		goto out;
	in = &pc->intf[0];
	{
		uint8_t d[CCID_USB_INTERFACE_DESC_LEN];

		memcpy(d, raw + in->offset, sizeof(d));
		d[2] = vi->number;
		d[3] = vi->alt;
		if (vi->cls == CCID_USB_CLASS_VENDOR)
			d[5] = CCID_USB_CLASS_VENDOR;
		vi->subclass = d[6];
		vi->protocol = d[7];
		if (!put(c, d, sizeof(d)))
			goto out;
	}
	if (in->class_offset && !in->class_after_endpoint && !put(c, raw + in->class_offset, in->class_len))
		goto out;
	if (in->nendpoints > MAX_EPS)
		goto out;
	for (unsigned e = 0; e < in->nendpoints; e++) {
		uint8_t d[CCID_USB_ENDPOINT_DESC_LEN];
		uint8_t inner = in->ep[e].bEndpointAddress;

		if (*next_ep > 15)
			goto out;
		memcpy(d, raw + in->ep[e].offset, sizeof(d));
		d[2] = (uint8_t)((inner & CCID_USB_EP_DIR_IN) | (*next_ep)++);
		vi->ep[vi->nep].inner = inner;
		vi->ep[vi->nep++].addr = d[2];
		if (!put(c, d, sizeof(d)))
			goto out;
	}
	if (in->class_offset && in->class_after_endpoint && !put(c, raw + in->class_offset, in->class_len))
		goto out;
	r = 0;
out:
	free(pc);
	return r;
}

/* An inert HID interface: HID descriptor, one interrupt-IN endpoint (HID 1.11 §6.2.1, §7.1). */
static int put_filler(struct vcomp *c, struct viface *vi, uint8_t *next_ep)
{
	uint8_t d[9 + 9 + 7] = {
		9, CCID_USB_DT_INTERFACE, vi->number, vi->alt, 1, CLASS_HID, 0, 0, 0,
		9, HID_DT_HID, 0x11, 0x01, 0, 1, HID_DT_REPORT, sizeof(hid_report), 0,
		7, CCID_USB_DT_ENDPOINT, 0, CCID_USB_EP_XFER_INTERRUPT, 8, 0, 10,
	};

	if (*next_ep > 15)
		return -EBADMSG;
	d[20] = (uint8_t)(CCID_USB_EP_DIR_IN | (*next_ep)++);
	vi->ep[0].addr = d[20];
	vi->ep[0].inner = 0;
	vi->nep = 1;
	return put(c, d, sizeof(d)) ? 0 : -EBADMSG;
}

static int build_config(struct vcomp *c)
{
	uint8_t hdr[CCID_USB_CONFIG_DESC_LEN], first[CCID_USB_CONFIG_DESC_LEN];
	uint8_t setup[8] = { 0x80, REQ_GET_DESCRIPTOR, 0, CCID_USB_DT_CONFIG, 0, 0, sizeof(first), 0 };
	uint8_t next_ep = 1, numbers = 0;
	int r;

	/* the attributes and power of the first function's configuration */
	if (vdev_usb_ops.control(c->funcs[0], setup, NULL, first, sizeof(first), 0) != sizeof(first))
		return -EBADMSG;
	c->cfg_len = sizeof(hdr);
	for (unsigned i = 0; i < c->nifs; i++) {
		struct viface *vi = &c->ifs[i];

		r = vi->func >= 0 ? put_function(c, vi, &next_ep) : put_filler(c, vi, &next_ep);
		if (r < 0)
			return r;
		if (vi->alt == 0)
			numbers++;
	}
	memcpy(hdr, first, sizeof(hdr));
	put_le16(hdr + 2, (uint16_t)c->cfg_len);
	hdr[4] = numbers;
	memcpy(c->cfg, hdr, sizeof(hdr));
	return 0;
}

int vcomp_from_reader_file(const char *path, vcomp_adjust_fn adjust, void *ctx, struct vcomp **ret, char *err,
			   size_t errlen)
{
	struct block b[VCOMP_MAX_INTERFACES];
	struct vcomp *c;
	unsigned nb = 0, maxnum = 0;
	const char *base;
	int r;

	if (!path || !ret)
		return -EINVAL;
	r = read_blocks(path, b, &nb, err, errlen);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(c->name, sizeof(c->name), "%.*s", (int)strcspn(base, "."), base);
	for (unsigned i = 0; i < nb; i++) {
		struct vdev_config cfg;
		struct viface *vi = &c->ifs[c->nifs++];

		r = vdev_config_from_reader_file_at(path, i, &cfg, err, errlen);
		if (r < 0)
			goto fail;
		if (adjust)
			adjust(&cfg, ctx);
		c->funcs[c->nfuncs] = vdev_new(&cfg);
		if (!c->funcs[c->nfuncs]) {
			r = errno == ENOTSUP ? -ENOTSUP : errno == ENOMEM ? -ENOMEM : -EBADMSG;
			snprintf(err, errlen, "%s: interface %u: %s", path, b[i].number,
				 r == -ENOTSUP ? "character-level readers are not simulated" : strerror(-r));
			goto fail;
		}
		vi->number = (uint8_t)b[i].number;
		vi->alt = (uint8_t)b[i].alt;
		vi->cls = (uint8_t)b[i].cls;
		vi->func = (int)c->nfuncs++;
		if (b[i].number > maxnum)
			maxnum = b[i].number;
	}
	/* USB 2.0 §9.6.5: interfaces are numbered from 0 without gaps; the dump's gaps are the
	   reader's other functions */
	for (unsigned num = 0; num <= maxnum; num++) {
		bool have = false;

		for (unsigned i = 0; i < c->nifs && !have; i++)
			have = c->ifs[i].number == num;
		if (have)
			continue;
		if (c->nifs == VCOMP_MAX_INTERFACES) {
			snprintf(err, errlen, "%s: more than %d interfaces", path, VCOMP_MAX_INTERFACES);
			r = -EBADMSG;
			goto fail;
		}
		c->ifs[c->nifs++] = (struct viface){ .number = (uint8_t)num, .cls = CLASS_HID, .func = -1 };
	}
	qsort(c->ifs, c->nifs, sizeof(c->ifs[0]), cmp_iface);
	/* functions in interface order, as a host counts CCID interfaces */
	{
		struct vdev *sorted[VCOMP_MAX_INTERFACES];
		unsigned k = 0;

		for (unsigned i = 0; i < c->nifs; i++)
			if (c->ifs[i].func >= 0) {
				sorted[k] = c->funcs[c->ifs[i].func];
				c->ifs[i].func = (int)k++;
			}
		memcpy(c->funcs, sorted, k * sizeof(sorted[0]));
	}
	r = build_config(c);
	if (r < 0) {
		snprintf(err, errlen, "%s: the configuration does not fit (%s)", path,
			 r == -ENOMEM ? "out of memory" : "more than 15 endpoints or 1024 bytes");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	vcomp_free(c);
	return r;
}

void vcomp_free(struct vcomp *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nfuncs; i++)
		vdev_free(c->funcs[i]);
	free(c);
}

bool vcomp_is_plain(const struct vcomp *c)
{
	return c->nifs == 1 && c->ifs[0].number == 0 && c->ifs[0].alt == 0 && c->ifs[0].func == 0;
}

unsigned vcomp_ninterfaces(const struct vcomp *c)
{
	return c->nifs;
}

unsigned vcomp_nfunctions(const struct vcomp *c)
{
	return c->nfuncs;
}

static const struct viface *function_iface(const struct vcomp *c, unsigned i)
{
	for (unsigned k = 0; k < c->nifs; k++)
		if (c->ifs[k].func == (int)i)
			return &c->ifs[k];
	return NULL;
}

struct vdev *vcomp_function(const struct vcomp *c, unsigned i)
{
	return c && i < c->nfuncs ? c->funcs[i] : NULL;
}

int vcomp_function_interface(const struct vcomp *c, unsigned i, uint8_t *ret_number, uint8_t *ret_bulk_in,
			     uint8_t *ret_bulk_out, uint8_t *ret_intr_in)
{
	const struct viface *vi = c ? function_iface(c, i) : NULL;

	if (!vi)
		return -EINVAL;
	*ret_number = vi->number;
	*ret_bulk_in = *ret_bulk_out = *ret_intr_in = 0;
	for (unsigned e = 0; e < vi->nep; e++) {
		uint8_t a = vi->ep[e].addr;

		if (vi->ep[e].inner == VDEV_BULK_IN)
			*ret_bulk_in = a;
		else if (vi->ep[e].inner == VDEV_BULK_OUT)
			*ret_bulk_out = a;
		else if (vi->ep[e].inner == VDEV_INTR_IN)
			*ret_intr_in = a;
	}
	return 0;
}

struct vdev *vcomp_take_plain(struct vcomp *c)
{
	struct vdev *d;

	if (!c || !vcomp_is_plain(c))
		return NULL;
	d = c->funcs[0];
	c->nfuncs = 0;
	vcomp_free(c);
	return d;
}

/* ---- vusb_ops ---- */

static void op_info(void *dev, struct vusb_info *ret)
{
	struct vcomp *c = dev;
	unsigned k = 0;

	vdev_usb_ops.info(c->funcs[0], ret);
	snprintf(ret->path, sizeof(ret->path), "/sys/devices/uccid-vreader/%s", c->name);
	ret->bConfigurationValue = c->configuration;
	for (unsigned i = 0; i < c->nifs && k < 8; i++) {
		if (c->ifs[i].alt)
			continue;
		ret->intf[k].bInterfaceClass = c->ifs[i].cls;
		ret->intf[k].bInterfaceSubClass = c->ifs[i].subclass;
		ret->intf[k].bInterfaceProtocol = c->ifs[i].protocol;
		k++;
	}
	ret->bNumInterfaces = (uint8_t)k;
}

static int copy_out(uint8_t *in, size_t in_cap, uint16_t wLength, const uint8_t *src, size_t n)
{
	if (n > wLength)
		n = wLength;
	if (n > in_cap)
		n = in_cap;
	memcpy(in, src, n);
	return (int)n;
}

/* A request to an inert HID interface: the standard ones, HID's harmless ones; the rest STALL. */
static int inert_interface(const uint8_t setup[8], uint8_t *in, size_t in_cap)
{
	uint8_t zero[2] = { 0, 0 };
	uint16_t wValue = get_le16(setup + 2), wLength = get_le16(setup + 6);

	switch (setup[0]) {
	case 0x81:
		if (setup[1] == REQ_GET_STATUS)
			return copy_out(in, in_cap, wLength, zero, 2);
		if (setup[1] == REQ_GET_INTERFACE)
			return copy_out(in, in_cap, wLength, zero, 1);
		if (setup[1] == REQ_GET_DESCRIPTOR && wValue >> 8 == HID_DT_REPORT)
			return copy_out(in, in_cap, wLength, hid_report, sizeof(hid_report));
		return -EPIPE;
	case 0x01:
		return setup[1] == REQ_SET_INTERFACE && wValue == 0 ? 0 : -EPIPE;
	case 0x21:
		return setup[1] == HID_REQ_SET_IDLE || setup[1] == HID_REQ_SET_PROTOCOL ? 0 : -EPIPE;
	default:
		return -EPIPE;        /* GET_REPORT and the rest: nothing to report */
	}
}

static int op_control(void *dev, const uint8_t setup[8], const uint8_t *data, uint8_t *in, size_t in_cap,
		      int64_t now)
{
	struct vcomp *c = dev;
	uint8_t s[8], type = setup[0], req = setup[1];
	uint16_t wValue = get_le16(setup + 2), wIndex = get_le16(setup + 4), wLength = get_le16(setup + 6);
	struct viface *vi;
	struct vep *ep;
	int r = 0;

	memcpy(s, setup, sizeof(s));
	switch (type & 0x1F) {
	case 0: /* device */
		if (type == 0x80 && req == REQ_GET_DESCRIPTOR && wValue >> 8 == CCID_USB_DT_CONFIG)
			return (wValue & 0xFF) ? -EPIPE : copy_out(in, in_cap, wLength, c->cfg, c->cfg_len);
		if (type == 0x80 && req == REQ_GET_CONFIGURATION)
			return copy_out(in, in_cap, wLength, &c->configuration, 1);
		if (type == 0x00 && req == REQ_SET_CONFIGURATION) {
			if (wValue > 1)
				return -EPIPE;
			for (unsigned i = 0; i < c->nfuncs && r >= 0; i++)
				r = vdev_usb_ops.control(c->funcs[i], setup, data, in, in_cap, now);
			if (r >= 0)
				c->configuration = (uint8_t)wValue;
			return r;
		}
		return vdev_usb_ops.control(c->funcs[0], setup, data, in, in_cap, now);
	case 1: /* interface: wIndex's low byte is its number */
		vi = find_iface(c, (uint8_t)wIndex);
		if (!vi)
			return -EPIPE;
		if (vi->func < 0)
			return inert_interface(setup, in, in_cap);
		if (type == 0x01 && req == REQ_SET_INTERFACE && wValue != 0)
			return -EPIPE;  /* the dumps give alternate setting 0 only */
		put_le16(s + 4, (uint16_t)(wIndex & 0xFF00));
		return vdev_usb_ops.control(c->funcs[vi->func], s, data, in, in_cap, now);
	case 2: /* endpoint: wIndex's low byte is its address */
		ep = find_ep(c, (uint8_t)wIndex, &vi);
		if (!ep)
			return -EPIPE;
		if (vi->func < 0) {
			uint8_t zero[2] = { 0, 0 };

			if (type == 0x82 && req == REQ_GET_STATUS)
				return copy_out(in, in_cap, wLength, zero, 2);
			return type == 0x02 && (req == REQ_CLEAR_FEATURE || req == REQ_SET_FEATURE) ? 0 : -EPIPE;
		}
		put_le16(s + 4, (uint16_t)((wIndex & 0xFF00) | ep->inner));
		return vdev_usb_ops.control(c->funcs[vi->func], s, data, in, in_cap, now);
	default:
		return -EPIPE;
	}
}

static int op_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, int64_t now)
{
	struct vcomp *c = dev;
	struct viface *vi;
	struct vep *e = find_ep(c, ep & 0x0F, &vi);

	if (!e || vi->func < 0)
		return -EPIPE;
	return vdev_usb_ops.out(c->funcs[vi->func], e->inner & 0x0F, data, len, now);
}

static int op_in(void *dev, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action, int64_t now)
{
	struct vcomp *c = dev;
	struct viface *vi;
	struct vep *e = find_ep(c, ep, &vi);

	*action = VUSB_IN_DATA;
	if (!e) {
		*action = VUSB_IN_STALL;
		return 0;
	}
	if (vi->func < 0)
		return -EAGAIN;           /* nobody types on the keyboard */
	return vdev_usb_ops.in(c->funcs[vi->func], e->inner, buf, cap, action, now);
}

static int64_t op_next_event(void *dev, int64_t now)
{
	struct vcomp *c = dev;
	int64_t next = VUSB_NEVER;

	for (unsigned i = 0; i < c->nfuncs; i++) {
		int64_t t = vdev_usb_ops.next_event(c->funcs[i], now);

		if (t < next)
			next = t;
	}
	return next;
}

static void op_unlink(void *dev, uint8_t ep, int64_t now)
{
	struct vcomp *c = dev;
	struct viface *vi;
	struct vep *e = find_ep(c, ep, &vi);

	if (e && vi->func >= 0)
		vdev_usb_ops.unlink(c->funcs[vi->func], e->inner, now);
}

static void op_attach(void *dev, int64_t now)
{
	struct vcomp *c = dev;

	c->configuration = 0;
	for (unsigned i = 0; i < c->nfuncs; i++)
		vdev_usb_ops.attach(c->funcs[i], now);
}

static void op_detach(void *dev, int64_t now)
{
	struct vcomp *c = dev;

	c->configuration = 0;
	for (unsigned i = 0; i < c->nfuncs; i++)
		vdev_usb_ops.detach(c->funcs[i], now);
}

static void op_replug(void *dev, int64_t now)
{
	struct vcomp *c = dev;

	c->configuration = 0;
	for (unsigned i = 0; i < c->nfuncs; i++)
		vdev_usb_ops.replug(c->funcs[i], now);
}

const struct vusb_ops vcomp_usb_ops = {
	.info = op_info,
	.control = op_control,
	.out = op_out,
	.in = op_in,
	.next_event = op_next_event,
	.unlink = op_unlink,
	.attach = op_attach,
	.detach = op_detach,
	.replug = op_replug,
};
