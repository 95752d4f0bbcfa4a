/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standard USB descriptors from raw bytes (USB 2.0 §9.6) and the search for
 * CCID interfaces (CCID 1.1 §4-5).  Every length a device declares is checked
 * against the bytes actually present before it is used.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/class_desc.h"
#include "ccid/field.h"
#include "ccid/usb_desc.h"

int ccid_usb_device_desc_parse(const uint8_t *b, size_t len, struct ccid_usb_device_desc *ret,
			       struct ccid_diag *diag)
{
	struct ccid_usb_device_desc d;

	if (!b || !ret)
		return ccid_fail(diag, 0, "a device descriptor", -EINVAL);
	if (len < CCID_USB_DEVICE_DESC_LEN)
		return ccid_fail(diag, len, "18 bytes of device descriptor", -ENODATA);
	if (len > CCID_USB_DEVICE_DESC_LEN)
		return ccid_fail(diag, CCID_USB_DEVICE_DESC_LEN, "the end of the device descriptor",
				 -EMSGSIZE);
	if (b[0] != CCID_USB_DEVICE_DESC_LEN)
		return ccid_fail(diag, 0, "bLength 12 (18 bytes)", -EPROTO);
	if (b[1] != CCID_USB_DT_DEVICE)
		return ccid_fail(diag, 1, "bDescriptorType 01 (device)", -EBADMSG);
	d.bLength = b[0];
	d.bDescriptorType = b[1];
	d.bcdUSB = get_le16(b + 2);
	d.bDeviceClass = b[4];
	d.bDeviceSubClass = b[5];
	d.bDeviceProtocol = b[6];
	d.bMaxPacketSize0 = b[7];
	d.idVendor = get_le16(b + 8);
	d.idProduct = get_le16(b + 10);
	d.bcdDevice = get_le16(b + 12);
	d.iManufacturer = b[14];
	d.iProduct = b[15];
	d.iSerialNumber = b[16];
	d.bNumConfigurations = b[17];
	/* USB 2.0 §9.6.1: 8, 16, 32 or 64; USB 3 encodes 512 as the exponent 9. */
	switch (d.bMaxPacketSize0) {
	case 8: case 16: case 32: case 64: case 9:
		break;
	default:
		return ccid_fail(diag, 7, "bMaxPacketSize0 of 8, 16, 32, 64 (or 9 for SuperSpeed)",
				 -EBADMSG);
	}
	if (d.bNumConfigurations == 0)
		return ccid_fail(diag, 17, "at least one configuration", -EBADMSG);
	*ret = d;
	return 0;
}

static int finish_interface(const struct ccid_usb_interface *in, struct ccid_diag *diag)
{
	if (in->nendpoints != in->bNumEndpoints)
		return ccid_fail(diag, in->offset + 4, "as many endpoint descriptors as bNumEndpoints",
				 -EPROTO);
	return 0;
}

int ccid_usb_config_parse(const uint8_t *b, size_t len, struct ccid_usb_config *ret,
			  struct ccid_diag *diag)
{
	struct ccid_usb_config *c = ret;
	struct ccid_usb_interface *cur = NULL;
	size_t off;
	int r;

	if (!b || !ret)
		return ccid_fail(diag, 0, "a configuration descriptor", -EINVAL);
	memset(c, 0, sizeof(*c));
	if (len < CCID_USB_CONFIG_DESC_LEN)
		return ccid_fail(diag, len, "the 9-byte configuration descriptor", -ENODATA);
	if (b[0] < CCID_USB_CONFIG_DESC_LEN)
		return ccid_fail(diag, 0, "bLength of at least 9", -EBADMSG);
	if (b[1] != CCID_USB_DT_CONFIG)
		return ccid_fail(diag, 1, "bDescriptorType 02 (configuration)", -EBADMSG);
	c->wTotalLength = get_le16(b + 2);
	c->bNumInterfaces = b[4];
	c->bConfigurationValue = b[5];
	c->iConfiguration = b[6];
	c->bmAttributes = b[7];
	c->bMaxPower = b[8];
	if (c->wTotalLength < b[0])
		return ccid_fail(diag, 2, "wTotalLength covering the configuration descriptor", -EPROTO);
	if (len < c->wTotalLength)
		return ccid_fail(diag, len, "wTotalLength bytes of configuration", -ENODATA);
	if (len > c->wTotalLength)
		return ccid_fail(diag, c->wTotalLength, "the end of the configuration (wTotalLength)",
				 -EMSGSIZE);

	for (off = b[0]; off < len; off += b[off]) {
		uint8_t dlen, type;

		if (len - off < 2)
			return ccid_fail(diag, off, "a descriptor's bLength and bDescriptorType", -ENODATA);
		dlen = b[off];
		type = b[off + 1];
		if (dlen < 2)
			return ccid_fail(diag, off, "bLength of at least 2", -EBADMSG);
		if (dlen > len - off)
			return ccid_fail(diag, len, "the rest of a descriptor (bLength)", -ENODATA);

		switch (type) {
		case CCID_USB_DT_INTERFACE:
			if (dlen < CCID_USB_INTERFACE_DESC_LEN)
				return ccid_fail(diag, off, "bLength of at least 9 (interface)", -EBADMSG);
			if (cur && (r = finish_interface(cur, diag)) < 0)
				return r;
			if (c->ninterfaces >= CCID_USB_MAX_INTERFACES)
				return ccid_fail(diag, off, "at most 32 interface descriptors", -EMSGSIZE);
			cur = &c->intf[c->ninterfaces++];
			cur->offset = off;
			cur->bInterfaceNumber = b[off + 2];
			cur->bAlternateSetting = b[off + 3];
			cur->bNumEndpoints = b[off + 4];
			cur->bInterfaceClass = b[off + 5];
			cur->bInterfaceSubClass = b[off + 6];
			cur->bInterfaceProtocol = b[off + 7];
			cur->iInterface = b[off + 8];
			break;
		case CCID_USB_DT_ENDPOINT: {
			struct ccid_usb_endpoint *ep;

			if (dlen < CCID_USB_ENDPOINT_DESC_LEN)
				return ccid_fail(diag, off, "bLength of at least 7 (endpoint)", -EBADMSG);
			if (!cur)
				return ccid_fail(diag, off, "an interface descriptor before an endpoint",
						 -EPROTO);
			if (cur->nendpoints >= CCID_USB_MAX_ENDPOINTS || cur->nendpoints >= cur->bNumEndpoints)
				return ccid_fail(diag, off, "no more endpoints than bNumEndpoints",
						 -EMSGSIZE);
			ep = &cur->ep[cur->nendpoints++];
			ep->offset = off;
			ep->bEndpointAddress = b[off + 2];
			ep->bmAttributes = b[off + 3];
			ep->wMaxPacketSize = get_le16(b + off + 4);
			ep->bInterval = b[off + 6];
			break;
		}
		case CCID_USB_DT_CONFIG:
		case CCID_USB_DT_DEVICE:
			return ccid_fail(diag, off + 1, "no device or configuration descriptor inside",
					 -EBADMSG);
		case CCID_USB_DT_INTERFACE_ASSOCIATION:
			break;
		default:
			/* Class-specific: it belongs to the interface it follows. */
			if (cur && !cur->class_offset) {
				cur->class_offset = off;
				cur->class_len = dlen;
				cur->class_after_endpoint = cur->nendpoints > 0;
			}
			break;
		}
	}
	if (cur && (r = finish_interface(cur, diag)) < 0)
		return r;
	return 0;
}

static bool is_ccid_candidate(const struct ccid_usb_interface *in)
{
	if (in->bAlternateSetting != 0)
		return false;
	if (in->bInterfaceClass == CCID_USB_CLASS_SMART_CARD)
		return true;
	/* Vendor class with the 54-byte class descriptor: pre-standard CCID readers. */
	return in->bInterfaceClass == CCID_USB_CLASS_VENDOR && in->class_len == CCID_CLASS_DESC_LEN;
}

int ccid_usb_find_ccid(const struct ccid_usb_config *cfg, const uint8_t *buf, size_t len,
		       unsigned n, struct ccid_usb_ccid_interface *ret, struct ccid_diag *diag)
{
	unsigned seen = 0;

	if (!cfg || !ret || (!buf && len))
		return ccid_fail(diag, 0, "a parsed configuration", -EINVAL);
	for (unsigned i = 0; i < cfg->ninterfaces && i < CCID_USB_MAX_INTERFACES; i++) {
		const struct ccid_usb_interface *in = &cfg->intf[i];
		struct ccid_usb_ccid_interface r = { 0 };

		if (!is_ccid_candidate(in) || seen++ != n)
			continue;
		if (in->class_len != CCID_CLASS_DESC_LEN || in->class_offset + in->class_len > len)
			return ccid_fail(diag, in->offset, "a 54-byte CCID class descriptor", -EBADMSG);
		r.index = i;
		r.bInterfaceNumber = in->bInterfaceNumber;
		r.bInterfaceProtocol = in->bInterfaceProtocol;
		r.vendor_class = in->bInterfaceClass == CCID_USB_CLASS_VENDOR;
		r.class_after_endpoint = in->class_after_endpoint;
		r.class_offset = in->class_offset;
		for (unsigned e = 0; e < in->nendpoints && e < CCID_USB_MAX_ENDPOINTS; e++) {
			const struct ccid_usb_endpoint *ep = &in->ep[e];
			bool is_in = ep->bEndpointAddress & CCID_USB_EP_DIR_IN;

			switch (ep->bmAttributes & CCID_USB_EP_XFER_MASK) {
			case CCID_USB_EP_XFER_BULK:
				if (is_in && !r.ep_bulk_in) {
					r.ep_bulk_in = ep->bEndpointAddress;
					r.bulk_in_max_packet = ep->wMaxPacketSize & 0x7FF;
				} else if (!is_in && !r.ep_bulk_out) {
					r.ep_bulk_out = ep->bEndpointAddress;
					r.bulk_out_max_packet = ep->wMaxPacketSize & 0x7FF;
				}
				break;
			case CCID_USB_EP_XFER_INTERRUPT:
				if (is_in && !r.ep_intr_in) {
					r.ep_intr_in = ep->bEndpointAddress;
					r.intr_in_max_packet = ep->wMaxPacketSize & 0x7FF;
				}
				break;
			default:
				break;
			}
		}
		/* ICCD (protocols 1, 2) works over the control pipe; CCID needs both bulk pipes. */
		if (in->bInterfaceProtocol == CCID_USB_PROTOCOL_CCID
		    && (!r.ep_bulk_in || !r.ep_bulk_out || !r.bulk_in_max_packet || !r.bulk_out_max_packet))
			return ccid_fail(diag, in->offset, "a bulk-IN and a bulk-OUT endpoint", -EPROTO);
		*ret = r;
		return 0;
	}
	return ccid_fail(diag, 0, "a CCID interface", -ENOENT);
}

/* ---- describe ---- */

/* Re-bases the offsets a nested walker emits onto the enclosing buffer. */
struct rebase {
	ccid_emit_fn emit;
	void *ctx;
	size_t base;
};

static void rebase_emit(void *ctx, const struct ccid_field *f)
{
	const struct rebase *rb = ctx;
	struct ccid_field g = *f;

	if (g.offset != CCID_FIELD_NO_OFFSET)
		g.offset += rb->base;
	rb->emit(rb->ctx, &g);
}

#define V(name, off, size, v, ...) ccid_emit(emit, ctx, CCID_FIELD_VALUE, name, off, size, v, __VA_ARGS__)

void ccid_usb_device_desc_describe(const struct ccid_usb_device_desc *d, ccid_emit_fn emit, void *ctx)
{
	V("bLength", 0, 1, d->bLength, "%u bytes", d->bLength);
	V("bDescriptorType", 1, 1, d->bDescriptorType, "device");
	V("bcdUSB", 2, 2, d->bcdUSB, "USB %x.%02x", d->bcdUSB >> 8, d->bcdUSB & 0xFF);
	V("bDeviceClass", 4, 1, d->bDeviceClass, "%s",
	  d->bDeviceClass ? "device class" : "class given by each interface");
	V("bDeviceSubClass", 5, 1, d->bDeviceSubClass, NULL);
	V("bDeviceProtocol", 6, 1, d->bDeviceProtocol, NULL);
	V("bMaxPacketSize0", 7, 1, d->bMaxPacketSize0, "%u bytes",
	  d->bMaxPacketSize0 == 9 ? 512u : d->bMaxPacketSize0);
	V("idVendor", 8, 2, d->idVendor, "%04x", d->idVendor);
	V("idProduct", 10, 2, d->idProduct, "%04x", d->idProduct);
	V("bcdDevice", 12, 2, d->bcdDevice, "release %x.%02x", d->bcdDevice >> 8, d->bcdDevice & 0xFF);
	V("iManufacturer", 14, 1, d->iManufacturer, "string index %u", d->iManufacturer);
	V("iProduct", 15, 1, d->iProduct, "string index %u", d->iProduct);
	V("iSerialNumber", 16, 1, d->iSerialNumber, "string index %u", d->iSerialNumber);
	V("bNumConfigurations", 17, 1, d->bNumConfigurations, "%u", d->bNumConfigurations);
}

static const char *xfer_name(uint8_t attr)
{
	static const char *const names[] = { "control", "isochronous", "bulk", "interrupt" };

	return names[attr & CCID_USB_EP_XFER_MASK];
}

static void describe_interface(const struct ccid_usb_interface *in, const uint8_t *b, size_t len,
			       ccid_emit_fn emit, void *ctx)
{
	size_t o = in->offset;
	const char *cls = in->bInterfaceClass == CCID_USB_CLASS_SMART_CARD ? "smart card (CCID)"
			  : in->bInterfaceClass == CCID_USB_CLASS_VENDOR   ? "vendor specific"
									   : "other class";

	ccid_emit(emit, ctx, CCID_FIELD_SECTION, "interface", o, b[o], in->bInterfaceNumber,
		  "interface %u, alternate setting %u", in->bInterfaceNumber, in->bAlternateSetting);
	V("bInterfaceNumber", o + 2, 1, in->bInterfaceNumber, "%u", in->bInterfaceNumber);
	V("bAlternateSetting", o + 3, 1, in->bAlternateSetting, "%u", in->bAlternateSetting);
	V("bNumEndpoints", o + 4, 1, in->bNumEndpoints, "%u endpoints", in->bNumEndpoints);
	V("bInterfaceClass", o + 5, 1, in->bInterfaceClass, "%s", cls);
	V("bInterfaceSubClass", o + 6, 1, in->bInterfaceSubClass, NULL);
	V("bInterfaceProtocol", o + 7, 1, in->bInterfaceProtocol, "%s",
	  in->bInterfaceClass != CCID_USB_CLASS_SMART_CARD		? ""
	  : in->bInterfaceProtocol == CCID_USB_PROTOCOL_CCID	? "CCID (bulk transfers)"
	  : in->bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_A ? "ICCD version A (control transfers)"
	  : in->bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_B ? "ICCD version B (control transfers)"
							       : "RFU");
	V("iInterface", o + 8, 1, in->iInterface, "string index %u", in->iInterface);

	if (in->class_offset) {
		struct ccid_class_desc cd;
		struct rebase rb = { emit, ctx, in->class_offset };

		ccid_emit(emit, ctx, CCID_FIELD_SECTION, "class descriptor", in->class_offset,
			  in->class_len, b[in->class_offset + 1], "%s%s",
			  in->class_len == CCID_CLASS_DESC_LEN ? "CCID class descriptor"
							       : "class-specific descriptor",
			  in->class_after_endpoint ? " (after the endpoints)" : "");
		if (in->class_len == CCID_CLASS_DESC_LEN && in->class_offset + in->class_len <= len
		    && ccid_class_desc_parse(b + in->class_offset, in->class_len, &cd, NULL) == 0)
			ccid_class_desc_describe(&cd, rebase_emit, &rb);
		else
			ccid_emit_bytes(emit, ctx, "bytes", in->class_offset, b + in->class_offset,
					in->class_len, NULL);
	}
	for (unsigned e = 0; e < in->nendpoints && e < CCID_USB_MAX_ENDPOINTS; e++) {
		const struct ccid_usb_endpoint *ep = &in->ep[e];

		ccid_emit(emit, ctx, CCID_FIELD_SECTION, "endpoint", ep->offset, b[ep->offset],
			  ep->bEndpointAddress, "endpoint %02X", ep->bEndpointAddress);
		V("bEndpointAddress", ep->offset + 2, 1, ep->bEndpointAddress, "EP %u %s",
		  ep->bEndpointAddress & 0x0F, ep->bEndpointAddress & CCID_USB_EP_DIR_IN ? "IN" : "OUT");
		V("bmAttributes", ep->offset + 3, 1, ep->bmAttributes, "%s", xfer_name(ep->bmAttributes));
		V("wMaxPacketSize", ep->offset + 4, 2, ep->wMaxPacketSize, "%u bytes",
		  ep->wMaxPacketSize & 0x7FF);
		V("bInterval", ep->offset + 6, 1, ep->bInterval, "%u", ep->bInterval);
	}
}

void ccid_usb_config_describe(const struct ccid_usb_config *c, const uint8_t *b, size_t len,
			      ccid_emit_fn emit, void *ctx)
{
	ccid_emit(emit, ctx, CCID_FIELD_SECTION, "configuration", 0, CCID_USB_CONFIG_DESC_LEN,
		  c->bConfigurationValue, "configuration %u", c->bConfigurationValue);
	V("wTotalLength", 2, 2, c->wTotalLength, "%u bytes", c->wTotalLength);
	V("bNumInterfaces", 4, 1, c->bNumInterfaces, "%u interfaces", c->bNumInterfaces);
	V("bConfigurationValue", 5, 1, c->bConfigurationValue, "%u", c->bConfigurationValue);
	V("iConfiguration", 6, 1, c->iConfiguration, "string index %u", c->iConfiguration);
	V("bmAttributes", 7, 1, c->bmAttributes, "%s%s", c->bmAttributes & 0x40 ? "self powered" : "bus powered",
	  c->bmAttributes & 0x20 ? ", remote wakeup" : "");
	V("bMaxPower", 8, 1, c->bMaxPower, "%u mA", c->bMaxPower * 2u);
	for (unsigned i = 0; i < c->ninterfaces && i < CCID_USB_MAX_INTERFACES; i++)
		describe_interface(&c->intf[i], b, len, emit, ctx);
}
