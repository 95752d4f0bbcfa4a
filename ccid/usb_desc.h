/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standard USB descriptors a CCID driver must read from raw bytes (USB
 * 2.0 §9.6): device, configuration with its interfaces, endpoints and
 * class-specific descriptors, and finding the CCID interfaces in them (CCID
 * 1.1 §4, §5).  A USB/IP client gets only bytes, so nothing here relies on
 * libusb.  No allocation: limits below bound what a device may declare.
 */
#ifndef CCID_USB_DESC_H
#define CCID_USB_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

#define CCID_USB_DT_DEVICE 0x01
#define CCID_USB_DT_CONFIG 0x02
#define CCID_USB_DT_STRING 0x03
#define CCID_USB_DT_INTERFACE 0x04
#define CCID_USB_DT_ENDPOINT 0x05
#define CCID_USB_DT_INTERFACE_ASSOCIATION 0x0B

#define CCID_USB_DEVICE_DESC_LEN 18
#define CCID_USB_CONFIG_DESC_LEN 9
#define CCID_USB_INTERFACE_DESC_LEN 9
#define CCID_USB_ENDPOINT_DESC_LEN 7

#define CCID_USB_CLASS_SMART_CARD 0x0B
#define CCID_USB_CLASS_VENDOR 0xFF

/* bInterfaceProtocol of a smart-card interface (CCID §4.3; ICCD spec). */
#define CCID_USB_PROTOCOL_CCID 0x00
#define CCID_USB_PROTOCOL_ICCD_A 0x01
#define CCID_USB_PROTOCOL_ICCD_B 0x02

/* Limits on what a configuration may declare (interfaces count alternate settings). */
#define CCID_USB_MAX_INTERFACES 32
#define CCID_USB_MAX_ENDPOINTS 16

#define CCID_USB_EP_DIR_IN 0x80
#define CCID_USB_EP_XFER_MASK 0x03
#define CCID_USB_EP_XFER_BULK 0x02
#define CCID_USB_EP_XFER_INTERRUPT 0x03

struct ccid_usb_device_desc {
	uint8_t bLength;
	uint8_t bDescriptorType;
	uint16_t bcdUSB;
	uint8_t bDeviceClass;
	uint8_t bDeviceSubClass;
	uint8_t bDeviceProtocol;
	uint8_t bMaxPacketSize0;
	uint16_t idVendor;
	uint16_t idProduct;
	uint16_t bcdDevice;
	uint8_t iManufacturer;
	uint8_t iProduct;
	uint8_t iSerialNumber;
	uint8_t bNumConfigurations;
};

struct ccid_usb_endpoint {
	uint8_t bEndpointAddress;
	uint8_t bmAttributes;
	uint16_t wMaxPacketSize;
	uint8_t bInterval;
	size_t offset;                   /* in the configuration */
};

struct ccid_usb_interface {
	uint8_t bInterfaceNumber;
	uint8_t bAlternateSetting;
	uint8_t bNumEndpoints;
	uint8_t bInterfaceClass;
	uint8_t bInterfaceSubClass;
	uint8_t bInterfaceProtocol;
	uint8_t iInterface;
	size_t offset;                   /* of the interface descriptor */
	unsigned nendpoints;
	struct ccid_usb_endpoint ep[CCID_USB_MAX_ENDPOINTS];
	/* First class-specific descriptor of the interface (any type other than
	 * interface, endpoint, IAD), wherever it stands among the endpoints. */
	size_t class_offset;             /* 0 if none */
	size_t class_len;
	bool class_after_endpoint;       /* it followed an endpoint descriptor */
};

struct ccid_usb_config {
	uint16_t wTotalLength;
	uint8_t bNumInterfaces;
	uint8_t bConfigurationValue;
	uint8_t iConfiguration;
	uint8_t bmAttributes;
	uint8_t bMaxPower;               /* units of 2 mA */
	unsigned ninterfaces;            /* interface descriptors, alternate settings included */
	struct ccid_usb_interface intf[CCID_USB_MAX_INTERFACES];
};

/*
 * Parse an 18-byte device descriptor.
 * Returns 0, or -EINVAL, -ENODATA, -EMSGSIZE (longer than 18), -EPROTO
 * (bLength not 18), -EBADMSG (type not 01, bMaxPacketSize0 not 8/16/32/64,
 * or 9 for SuperSpeed, no configuration).
 */
int ccid_usb_device_desc_parse(const uint8_t *buf, size_t len, struct ccid_usb_device_desc *ret,
			       struct ccid_diag *diag);

/*
 * Parse a whole configuration descriptor as returned by GET_DESCRIPTOR:
 * exactly wTotalLength bytes.  Every sub-descriptor's bLength must be at
 * least 2 and fit; interface and endpoint descriptors must be at least their
 * standard size; each interface must have as many endpoints as it declares.
 * Returns 0, or -EINVAL, -ENODATA (truncated; also when len < wTotalLength),
 * -EMSGSIZE (len > wTotalLength, more interfaces or endpoints than the limits),
 * -EBADMSG (bad type or bLength), -EPROTO (endpoint count mismatch, endpoint
 * before any interface).
 */
int ccid_usb_config_parse(const uint8_t *buf, size_t len, struct ccid_usb_config *ret,
			  struct ccid_diag *diag);

/* What a driver needs to talk to one CCID interface. */
struct ccid_usb_ccid_interface {
	unsigned index;                  /* in ccid_usb_config.intf[] */
	uint8_t bInterfaceNumber;
	uint8_t bInterfaceProtocol;      /* CCID, ICCD A or ICCD B */
	bool vendor_class;               /* interface class FF with a CCID class descriptor */
	bool class_after_endpoint;       /* the class descriptor followed the endpoints (quirk) */
	uint8_t ep_bulk_in, ep_bulk_out, ep_intr_in;   /* addresses; ep_intr_in 0 if none */
	uint16_t bulk_in_max_packet, bulk_out_max_packet, intr_in_max_packet;
	size_t class_offset;             /* the 54-byte class descriptor in the configuration */
};

/*
 * Find the n-th CCID interface (alternate setting 0) of a parsed
 * configuration: interface class 0B, or vendor class FF whose class-specific
 * descriptor is 54 bytes long — including readers that put that descriptor
 * after the last endpoint.  A composite device may hold several.
 * Returns 0, or -ENOENT (no n-th CCID interface), -EINVAL, -EBADMSG (the
 * interface has no 54-byte class descriptor), -EPROTO (a bulk-protocol CCID
 * interface without one bulk-IN and one bulk-OUT endpoint); diag names the
 * interface descriptor's offset.
 */
int ccid_usb_find_ccid(const struct ccid_usb_config *cfg, const uint8_t *buf, size_t len,
		       unsigned n, struct ccid_usb_ccid_interface *ret, struct ccid_diag *diag);

void ccid_usb_device_desc_describe(const struct ccid_usb_device_desc *d, ccid_emit_fn emit, void *ctx);
/* Describes each descriptor of the configuration, the CCID class descriptors included. */
void ccid_usb_config_describe(const struct ccid_usb_config *cfg, const uint8_t *buf, size_t len,
			      ccid_emit_fn emit, void *ctx);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
