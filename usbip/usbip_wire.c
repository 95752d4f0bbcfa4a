/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB/IP wire codec: encode and decode of the op-phase messages and the
 * URB-phase headers, field by field at named offsets (never a struct cast
 * onto the bytes).  See usbip_wire.h for the layouts and the contract, and
 * shared/docs/reference/usbip.md for the protocol.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/bytes.h"
#include "usbip/usbip_wire.h"

_Static_assert(USBIP_OFF_DEV_BNUMINTERFACES + 1 == USBIP_DEVICE_SIZE, "usbip_usb_device is 0x138 bytes");
_Static_assert(USBIP_OFF_SETUP + USBIP_SETUP_SIZE == USBIP_HEADER_SIZE, "URB header is 48 bytes");
_Static_assert(USBIP_OP_REP_IMPORT_SIZE == 320, "OP_REP_IMPORT is 320 bytes");
_Static_assert(USBIP_OP_REQ_IMPORT_SIZE == 40, "OP_REQ_IMPORT is 40 bytes");

/* True when the field of size bytes at p holds a NUL (the string ends inside it). */
static bool field_terminated(const uint8_t *p, size_t size)
{
	return memchr(p, 0, size) != NULL;
}

/* Copy a C string into a zero-padded fixed field; -EINVAL unless it fits with its NUL. */
static int put_string(uint8_t *p, size_t size, const char *s)
{
	size_t n = strnlen(s, size);

	if (n >= size)
		return -EINVAL;
	memset(p, 0, size);
	memcpy(p, s, n);
	return 0;
}

/* ---------------------------------------------------------------------------
 * op_common
 */

ssize_t usbip_op_common_encode(const struct usbip_op_common *m, uint8_t *buf, size_t cap)
{
	if (!m || !buf)
		return -EINVAL;
	if (cap < USBIP_OP_COMMON_SIZE)
		return -ENOBUFS;
	put_be16(buf + USBIP_OFF_OP_VERSION, m->version);
	put_be16(buf + USBIP_OFF_OP_CODE, m->code);
	put_be32(buf + USBIP_OFF_OP_STATUS, m->status);
	return USBIP_OP_COMMON_SIZE;
}

int usbip_op_common_decode(const uint8_t *buf, size_t len, struct usbip_op_common *ret,
			   struct ccid_diag *diag)
{
	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	if (len < USBIP_OP_COMMON_SIZE)
		return ccid_fail(diag, len, "op_common (8 bytes)", -ENODATA);
	/* ref §1: the Linux tools refuse any version but 0x0111 ("version mismatch"). */
	if (get_be16(buf + USBIP_OFF_OP_VERSION) != USBIP_VERSION)
		return ccid_fail(diag, USBIP_OFF_OP_VERSION, "version 0x0111", -EBADMSG);
	ret->version = USBIP_VERSION;
	ret->code = get_be16(buf + USBIP_OFF_OP_CODE);
	ret->status = get_be32(buf + USBIP_OFF_OP_STATUS);
	return USBIP_OP_COMMON_SIZE;
}

/* Decode op_common and require a given code. */
static int op_expect(const uint8_t *buf, size_t len, uint16_t code, struct usbip_op_common *ret,
		     struct ccid_diag *diag)
{
	int r = usbip_op_common_decode(buf, len, ret, diag);

	if (r < 0)
		return r;
	if (ret->code != code)
		return ccid_fail(diag, USBIP_OFF_OP_CODE, code == USBIP_OP_REP_DEVLIST ?
				 "code 0x0005 (OP_REP_DEVLIST)" : "code 0x0003 (OP_REP_IMPORT)", -EBADMSG);
	return r;
}

/* ---------------------------------------------------------------------------
 * usbip_usb_device / usbip_usb_interface
 */

ssize_t usbip_device_encode(const struct usbip_usb_device *dev, uint8_t *buf, size_t cap)
{
	if (!dev || !buf)
		return -EINVAL;
	if (strnlen(dev->path, sizeof(dev->path)) >= sizeof(dev->path) ||
	    strnlen(dev->busid, sizeof(dev->busid)) >= sizeof(dev->busid))
		return -EINVAL;
	if (cap < USBIP_DEVICE_SIZE)
		return -ENOBUFS;
	put_string(buf + USBIP_OFF_DEV_PATH, USBIP_PATH_SIZE, dev->path);
	put_string(buf + USBIP_OFF_DEV_BUSID, USBIP_BUSID_SIZE, dev->busid);
	put_be32(buf + USBIP_OFF_DEV_BUSNUM, dev->busnum);
	put_be32(buf + USBIP_OFF_DEV_DEVNUM, dev->devnum);
	put_be32(buf + USBIP_OFF_DEV_SPEED, dev->speed);
	put_be16(buf + USBIP_OFF_DEV_IDVENDOR, dev->idVendor);
	put_be16(buf + USBIP_OFF_DEV_IDPRODUCT, dev->idProduct);
	put_be16(buf + USBIP_OFF_DEV_BCDDEVICE, dev->bcdDevice);
	buf[USBIP_OFF_DEV_BDEVICECLASS] = dev->bDeviceClass;
	buf[USBIP_OFF_DEV_BDEVICESUBCLASS] = dev->bDeviceSubClass;
	buf[USBIP_OFF_DEV_BDEVICEPROTOCOL] = dev->bDeviceProtocol;
	buf[USBIP_OFF_DEV_BCONFIGURATIONVALUE] = dev->bConfigurationValue;
	buf[USBIP_OFF_DEV_BNUMCONFIGURATIONS] = dev->bNumConfigurations;
	buf[USBIP_OFF_DEV_BNUMINTERFACES] = dev->bNumInterfaces;
	return USBIP_DEVICE_SIZE;
}

int usbip_device_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *ret,
			struct ccid_diag *diag)
{
	struct usbip_usb_device d;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	if (len < USBIP_DEVICE_SIZE)
		return ccid_fail(diag, len, "usbip_usb_device (312 bytes)", -ENODATA);
	/* Both strings must end inside their fields: a peer never makes us read past them. */
	if (!field_terminated(buf + USBIP_OFF_DEV_PATH, USBIP_PATH_SIZE))
		return ccid_fail(diag, USBIP_OFF_DEV_PATH + USBIP_PATH_SIZE - 1,
				 "NUL-terminated path (256 bytes)", -EBADMSG);
	if (!field_terminated(buf + USBIP_OFF_DEV_BUSID, USBIP_BUSID_SIZE))
		return ccid_fail(diag, USBIP_OFF_DEV_BUSID + USBIP_BUSID_SIZE - 1,
				 "NUL-terminated busid (32 bytes)", -EBADMSG);
	memset(&d, 0, sizeof(d));
	strcpy(d.path, (const char *)buf + USBIP_OFF_DEV_PATH);
	strcpy(d.busid, (const char *)buf + USBIP_OFF_DEV_BUSID);
	d.busnum = get_be32(buf + USBIP_OFF_DEV_BUSNUM);
	d.devnum = get_be32(buf + USBIP_OFF_DEV_DEVNUM);
	d.speed = get_be32(buf + USBIP_OFF_DEV_SPEED);
	d.idVendor = get_be16(buf + USBIP_OFF_DEV_IDVENDOR);
	d.idProduct = get_be16(buf + USBIP_OFF_DEV_IDPRODUCT);
	d.bcdDevice = get_be16(buf + USBIP_OFF_DEV_BCDDEVICE);
	d.bDeviceClass = buf[USBIP_OFF_DEV_BDEVICECLASS];
	d.bDeviceSubClass = buf[USBIP_OFF_DEV_BDEVICESUBCLASS];
	d.bDeviceProtocol = buf[USBIP_OFF_DEV_BDEVICEPROTOCOL];
	d.bConfigurationValue = buf[USBIP_OFF_DEV_BCONFIGURATIONVALUE];
	d.bNumConfigurations = buf[USBIP_OFF_DEV_BNUMCONFIGURATIONS];
	d.bNumInterfaces = buf[USBIP_OFF_DEV_BNUMINTERFACES];
	*ret = d;
	return USBIP_DEVICE_SIZE;
}

ssize_t usbip_interface_encode(const struct usbip_usb_interface *intf, uint8_t *buf, size_t cap)
{
	if (!intf || !buf)
		return -EINVAL;
	if (cap < USBIP_INTERFACE_SIZE)
		return -ENOBUFS;
	buf[0] = intf->bInterfaceClass;
	buf[1] = intf->bInterfaceSubClass;
	buf[2] = intf->bInterfaceProtocol;
	buf[3] = 0;
	return USBIP_INTERFACE_SIZE;
}

int usbip_interface_decode(const uint8_t *buf, size_t len, struct usbip_usb_interface *ret,
			   struct ccid_diag *diag)
{
	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	if (len < USBIP_INTERFACE_SIZE)
		return ccid_fail(diag, len, "usbip_usb_interface (4 bytes)", -ENODATA);
	ret->bInterfaceClass = buf[0];
	ret->bInterfaceSubClass = buf[1];
	ret->bInterfaceProtocol = buf[2];
	return USBIP_INTERFACE_SIZE;
}

/* ---------------------------------------------------------------------------
 * OP_REQ_DEVLIST / OP_REP_DEVLIST
 */

ssize_t usbip_req_devlist_encode(uint8_t *buf, size_t cap)
{
	const struct usbip_op_common m = { USBIP_VERSION, USBIP_OP_REQ_DEVLIST, 0 };

	return usbip_op_common_encode(&m, buf, cap);
}

ssize_t usbip_rep_devlist_head_encode(uint32_t status, uint32_t ndev, uint8_t *buf, size_t cap)
{
	const struct usbip_op_common m = { USBIP_VERSION, USBIP_OP_REP_DEVLIST, status };

	if (!buf || ndev > USBIP_MAX_DEVLIST)
		return -EINVAL;
	if (status != USBIP_ST_OK)
		return usbip_op_common_encode(&m, buf, cap);
	if (cap < USBIP_OP_REP_DEVLIST_HEADER_SIZE)
		return -ENOBUFS;
	usbip_op_common_encode(&m, buf, cap);
	put_be32(buf + USBIP_OFF_DEVLIST_NDEV, ndev);
	return USBIP_OP_REP_DEVLIST_HEADER_SIZE;
}

ssize_t usbip_devlist_entry_encode(const struct usbip_usb_device *dev,
				   const struct usbip_usb_interface *intf, uint8_t *buf, size_t cap)
{
	size_t need;
	ssize_t r;

	if (!dev || !buf || dev->bNumInterfaces > USBIP_MAX_INTERFACES ||
	    (dev->bNumInterfaces && !intf))
		return -EINVAL;
	need = USBIP_DEVICE_SIZE + (size_t)dev->bNumInterfaces * USBIP_INTERFACE_SIZE;
	r = usbip_device_encode(dev, buf, cap);
	if (r < 0)
		return r;
	if (cap < need)
		return -ENOBUFS;
	for (unsigned i = 0; i < dev->bNumInterfaces; i++)
		usbip_interface_encode(&intf[i], buf + USBIP_DEVICE_SIZE + i * USBIP_INTERFACE_SIZE,
				       USBIP_INTERFACE_SIZE);
	return (ssize_t)need;
}

int usbip_devlist_entry_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *ret,
			       struct usbip_usb_interface ret_intf[USBIP_MAX_INTERFACES],
			       struct ccid_diag *diag)
{
	struct usbip_usb_device d;
	size_t need;
	int r;

	if (!buf || !ret || !ret_intf)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	r = usbip_device_decode(buf, len, &d, diag);
	if (r < 0)
		return r;
	if (d.bNumInterfaces > USBIP_MAX_INTERFACES)
		return ccid_fail(diag, USBIP_OFF_DEV_BNUMINTERFACES, "bNumInterfaces at most 32",
				 -EMSGSIZE);
	need = USBIP_DEVICE_SIZE + (size_t)d.bNumInterfaces * USBIP_INTERFACE_SIZE;
	if (len < need)
		return ccid_fail(diag, len, "bNumInterfaces x usbip_usb_interface", -ENODATA);
	for (unsigned i = 0; i < d.bNumInterfaces; i++)
		usbip_interface_decode(buf + USBIP_DEVICE_SIZE + i * USBIP_INTERFACE_SIZE,
				       USBIP_INTERFACE_SIZE, &ret_intf[i], NULL);
	*ret = d;
	return (int)need;
}

int usbip_rep_devlist_decode(const uint8_t *buf, size_t len, struct usbip_rep_devlist *ret,
			     struct ccid_diag *diag)
{
	struct usbip_op_common m;
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	size_t off;
	uint32_t ndev;
	int r;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	r = op_expect(buf, len, USBIP_OP_REP_DEVLIST, &m, diag);
	if (r < 0)
		return r;
	/* A refusal is op_common alone (usbip_net_recv_op_common stops there). */
	if (m.status != USBIP_ST_OK) {
		ret->status = m.status;
		ret->ndev = 0;
		return USBIP_OP_COMMON_SIZE;
	}
	if (len < USBIP_OP_REP_DEVLIST_HEADER_SIZE)
		return ccid_fail(diag, len, "ndev", -ENODATA);
	ndev = get_be32(buf + USBIP_OFF_DEVLIST_NDEV);
	if (ndev > USBIP_MAX_DEVLIST)
		return ccid_fail(diag, USBIP_OFF_DEVLIST_NDEV, "ndev at most 1024", -EMSGSIZE);
	off = USBIP_OFF_DEVLIST_FIRST;
	for (uint32_t i = 0; i < ndev; i++) {
		struct ccid_diag sub = { 0, NULL };

		r = usbip_devlist_entry_decode(buf + off, len - off, &d, intf, &sub);
		if (r < 0)
			return ccid_fail(diag, off + sub.offset, sub.expected, r);
		off += (size_t)r;
	}
	ret->status = USBIP_ST_OK;
	ret->ndev = ndev;
	return (int)off;
}

/* ---------------------------------------------------------------------------
 * OP_REQ_IMPORT / OP_REP_IMPORT
 */

ssize_t usbip_req_import_encode(const char *busid, uint8_t *buf, size_t cap)
{
	const struct usbip_op_common m = { USBIP_VERSION, USBIP_OP_REQ_IMPORT, 0 };

	if (!busid || !buf || !busid[0] || strnlen(busid, USBIP_BUSID_SIZE) >= USBIP_BUSID_SIZE)
		return -EINVAL;
	if (cap < USBIP_OP_REQ_IMPORT_SIZE)
		return -ENOBUFS;
	usbip_op_common_encode(&m, buf, cap);
	put_string(buf + USBIP_OFF_IMPORT_BUSID, USBIP_BUSID_SIZE, busid);
	return USBIP_OP_REQ_IMPORT_SIZE;
}

ssize_t usbip_rep_import_encode(uint32_t status, const struct usbip_usb_device *dev, uint8_t *buf,
				size_t cap)
{
	const struct usbip_op_common m = { USBIP_VERSION, USBIP_OP_REP_IMPORT, status };
	ssize_t r;

	if (!buf || (status == USBIP_ST_OK && !dev))
		return -EINVAL;
	if (status != USBIP_ST_OK)
		return usbip_op_common_encode(&m, buf, cap);
	if (cap < USBIP_OP_REP_IMPORT_SIZE)
		return -ENOBUFS;
	r = usbip_device_encode(dev, buf + USBIP_OFF_IMPORT_DEVICE, cap - USBIP_OFF_IMPORT_DEVICE);
	if (r < 0)
		return r;
	usbip_op_common_encode(&m, buf, cap);
	return USBIP_OP_REP_IMPORT_SIZE;
}

int usbip_rep_import_decode(const uint8_t *buf, size_t len, struct usbip_rep_import *ret,
			    struct ccid_diag *diag)
{
	struct usbip_op_common m;
	struct ccid_diag sub = { 0, NULL };
	int r;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	r = op_expect(buf, len, USBIP_OP_REP_IMPORT, &m, diag);
	if (r < 0)
		return r;
	if (m.status != USBIP_ST_OK) {
		memset(ret, 0, sizeof(*ret));
		ret->status = m.status;
		return USBIP_OP_COMMON_SIZE;
	}
	r = usbip_device_decode(buf + USBIP_OFF_IMPORT_DEVICE, len - USBIP_OFF_IMPORT_DEVICE, &ret->dev,
				&sub);
	if (r < 0)
		return ccid_fail(diag, USBIP_OFF_IMPORT_DEVICE + sub.offset, sub.expected, r);
	ret->status = USBIP_ST_OK;
	return USBIP_OP_REP_IMPORT_SIZE;
}

int usbip_op_request_decode(const uint8_t *buf, size_t len, struct usbip_op_request *ret,
			    struct ccid_diag *diag)
{
	struct usbip_op_common m;
	const uint8_t *busid;
	int r;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	r = usbip_op_common_decode(buf, len, &m, diag);
	if (r < 0)
		return r;
	switch (m.code) {
	case USBIP_OP_REQ_DEVLIST:
		memset(ret, 0, sizeof(*ret));
		ret->code = m.code;
		return USBIP_OP_REQ_DEVLIST_SIZE;
	case USBIP_OP_REQ_IMPORT:
		if (len < USBIP_OP_REQ_IMPORT_SIZE)
			return ccid_fail(diag, len, "busid (32 bytes)", -ENODATA);
		busid = buf + USBIP_OFF_IMPORT_BUSID;
		if (!field_terminated(busid, USBIP_BUSID_SIZE))
			return ccid_fail(diag, USBIP_OFF_IMPORT_BUSID + USBIP_BUSID_SIZE - 1,
					 "NUL-terminated busid (32 bytes)", -EBADMSG);
		memset(ret, 0, sizeof(*ret));
		ret->code = m.code;
		strcpy(ret->busid, (const char *)busid);
		return USBIP_OP_REQ_IMPORT_SIZE;
	default:
		return ccid_fail(diag, USBIP_OFF_OP_CODE, "code 0x8005 (DEVLIST) or 0x8003 (IMPORT)",
				 -EOPNOTSUPP);
	}
}

/* ---------------------------------------------------------------------------
 * URB-phase headers
 */

ssize_t usbip_header_encode(const struct usbip_header *h, uint8_t *buf, size_t cap)
{
	if (!h || !buf)
		return -EINVAL;
	if (h->command < USBIP_CMD_SUBMIT || h->command > USBIP_RET_UNLINK)
		return -EINVAL;
	if (cap < USBIP_HEADER_SIZE)
		return -ENOBUFS;
	memset(buf, 0, USBIP_HEADER_SIZE);
	put_be32(buf + USBIP_OFF_COMMAND, h->command);
	put_be32(buf + USBIP_OFF_SEQNUM, h->seqnum);
	put_be32(buf + USBIP_OFF_DEVID, h->devid);
	put_be32(buf + USBIP_OFF_DIRECTION, h->direction);
	put_be32(buf + USBIP_OFF_EP, h->ep);
	switch (h->command) {
	case USBIP_CMD_SUBMIT:
		put_be32(buf + USBIP_OFF_TRANSFER_FLAGS, h->u.cmd_submit.transfer_flags);
		put_be32(buf + USBIP_OFF_TRANSFER_BUFFER_LENGTH, h->u.cmd_submit.transfer_buffer_length);
		put_be32(buf + USBIP_OFF_START_FRAME, (uint32_t)h->u.cmd_submit.start_frame);
		put_be32(buf + USBIP_OFF_NUMBER_OF_PACKETS, h->u.cmd_submit.number_of_packets);
		put_be32(buf + USBIP_OFF_INTERVAL, (uint32_t)h->u.cmd_submit.interval);
		memcpy(buf + USBIP_OFF_SETUP, h->u.cmd_submit.setup, USBIP_SETUP_SIZE);
		break;
	case USBIP_RET_SUBMIT:
		put_be32(buf + USBIP_OFF_STATUS, (uint32_t)h->u.ret_submit.status);
		put_be32(buf + USBIP_OFF_ACTUAL_LENGTH, h->u.ret_submit.actual_length);
		put_be32(buf + USBIP_OFF_START_FRAME, (uint32_t)h->u.ret_submit.start_frame);
		put_be32(buf + USBIP_OFF_NUMBER_OF_PACKETS, h->u.ret_submit.number_of_packets);
		put_be32(buf + USBIP_OFF_ERROR_COUNT, (uint32_t)h->u.ret_submit.error_count);
		break;
	case USBIP_CMD_UNLINK:
		put_be32(buf + USBIP_OFF_UNLINK_SEQNUM, h->u.cmd_unlink.seqnum);
		break;
	case USBIP_RET_UNLINK:
		put_be32(buf + USBIP_OFF_STATUS, (uint32_t)h->u.ret_unlink.status);
		break;
	}
	return USBIP_HEADER_SIZE;
}

/* ref §3: a non-ISO URB says 0 (what vhci sends) or 0xFFFFFFFF (what the doc says). */
static bool non_iso_packets(uint32_t np)
{
	return np == 0 || np == USBIP_NON_ISO_PACKETS;
}

int usbip_header_decode(const uint8_t *buf, size_t len, struct usbip_header *ret,
			struct ccid_diag *diag)
{
	struct usbip_header h;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "arguments", -EINVAL);
	if (len < USBIP_HEADER_SIZE)
		return ccid_fail(diag, len, "USB/IP header (48 bytes)", -ENODATA);
	memset(&h, 0, sizeof(h));
	h.command = get_be32(buf + USBIP_OFF_COMMAND);
	h.seqnum = get_be32(buf + USBIP_OFF_SEQNUM);
	h.devid = get_be32(buf + USBIP_OFF_DEVID);
	h.direction = get_be32(buf + USBIP_OFF_DIRECTION);
	h.ep = get_be32(buf + USBIP_OFF_EP);
	switch (h.command) {
	case USBIP_CMD_SUBMIT:
		if (h.direction != USBIP_DIR_OUT && h.direction != USBIP_DIR_IN)
			return ccid_fail(diag, USBIP_OFF_DIRECTION, "direction 0 (OUT) or 1 (IN)", -EBADMSG);
		if (h.ep > 15)
			return ccid_fail(diag, USBIP_OFF_EP, "ep 0..15", -EBADMSG);
		h.u.cmd_submit.transfer_flags = get_be32(buf + USBIP_OFF_TRANSFER_FLAGS);
		h.u.cmd_submit.transfer_buffer_length = get_be32(buf + USBIP_OFF_TRANSFER_BUFFER_LENGTH);
		h.u.cmd_submit.start_frame = (int32_t)get_be32(buf + USBIP_OFF_START_FRAME);
		h.u.cmd_submit.number_of_packets = get_be32(buf + USBIP_OFF_NUMBER_OF_PACKETS);
		h.u.cmd_submit.interval = (int32_t)get_be32(buf + USBIP_OFF_INTERVAL);
		memcpy(h.u.cmd_submit.setup, buf + USBIP_OFF_SETUP, USBIP_SETUP_SIZE);
		if (h.u.cmd_submit.transfer_buffer_length > USBIP_MAX_TRANSFER)
			return ccid_fail(diag, USBIP_OFF_TRANSFER_BUFFER_LENGTH,
					 "transfer_buffer_length at most 1 MiB", -EMSGSIZE);
		if (!non_iso_packets(h.u.cmd_submit.number_of_packets))
			return ccid_fail(diag, USBIP_OFF_NUMBER_OF_PACKETS,
					 "number_of_packets 0 or 0xFFFFFFFF (no ISO)", -EOPNOTSUPP);
		break;
	case USBIP_RET_SUBMIT:
		h.u.ret_submit.status = (int32_t)get_be32(buf + USBIP_OFF_STATUS);
		h.u.ret_submit.actual_length = get_be32(buf + USBIP_OFF_ACTUAL_LENGTH);
		h.u.ret_submit.start_frame = (int32_t)get_be32(buf + USBIP_OFF_START_FRAME);
		h.u.ret_submit.number_of_packets = get_be32(buf + USBIP_OFF_NUMBER_OF_PACKETS);
		h.u.ret_submit.error_count = (int32_t)get_be32(buf + USBIP_OFF_ERROR_COUNT);
		if (h.u.ret_submit.actual_length > USBIP_MAX_TRANSFER)
			return ccid_fail(diag, USBIP_OFF_ACTUAL_LENGTH, "actual_length at most 1 MiB",
					 -EMSGSIZE);
		if (!non_iso_packets(h.u.ret_submit.number_of_packets))
			return ccid_fail(diag, USBIP_OFF_NUMBER_OF_PACKETS,
					 "number_of_packets 0 or 0xFFFFFFFF (no ISO)", -EOPNOTSUPP);
		break;
	case USBIP_CMD_UNLINK:
		h.u.cmd_unlink.seqnum = get_be32(buf + USBIP_OFF_UNLINK_SEQNUM);
		break;
	case USBIP_RET_UNLINK:
		h.u.ret_unlink.status = (int32_t)get_be32(buf + USBIP_OFF_STATUS);
		break;
	default:
		return ccid_fail(diag, USBIP_OFF_COMMAND, "command 1..4", -EBADMSG);
	}
	*ret = h;
	return USBIP_HEADER_SIZE;
}

size_t usbip_payload_length(const struct usbip_header *h, bool request_was_in)
{
	if (!h)
		return 0;
	switch (h->command) {
	case USBIP_CMD_SUBMIT:
		return h->direction == USBIP_DIR_OUT ? h->u.cmd_submit.transfer_buffer_length : 0;
	case USBIP_RET_SUBMIT:
		return request_was_in ? h->u.ret_submit.actual_length : 0;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------------------
 * SETUP packet
 */

void usbip_setup_decode(const uint8_t setup[USBIP_SETUP_SIZE], struct usbip_setup *ret)
{
	ret->bmRequestType = setup[0];
	ret->bRequest = setup[1];
	ret->wValue = get_le16(setup + 2);
	ret->wIndex = get_le16(setup + 4);
	ret->wLength = get_le16(setup + 6);
}

void usbip_setup_encode(const struct usbip_setup *s, uint8_t setup[USBIP_SETUP_SIZE])
{
	setup[0] = s->bmRequestType;
	setup[1] = s->bRequest;
	put_le16(setup + 2, s->wValue);
	put_le16(setup + 4, s->wIndex);
	put_le16(setup + 6, s->wLength);
}

/* ---------------------------------------------------------------------------
 * Names
 */

const char *usbip_command_name(uint32_t command)
{
	switch (command) {
	case USBIP_CMD_SUBMIT: return "CMD_SUBMIT";
	case USBIP_CMD_UNLINK: return "CMD_UNLINK";
	case USBIP_RET_SUBMIT: return "RET_SUBMIT";
	case USBIP_RET_UNLINK: return "RET_UNLINK";
	default: return "?";
	}
}

const char *usbip_op_code_name(uint16_t code)
{
	switch (code) {
	case USBIP_OP_REQ_DEVLIST: return "OP_REQ_DEVLIST";
	case USBIP_OP_REP_DEVLIST: return "OP_REP_DEVLIST";
	case USBIP_OP_REQ_IMPORT: return "OP_REQ_IMPORT";
	case USBIP_OP_REP_IMPORT: return "OP_REP_IMPORT";
	default: return "?";
	}
}

const char *usbip_op_status_name(uint32_t status)
{
	switch (status) {
	case USBIP_ST_OK: return "ST_OK";
	case USBIP_ST_NA: return "ST_NA";
	case USBIP_ST_DEV_BUSY: return "ST_DEV_BUSY";
	case USBIP_ST_DEV_ERR: return "ST_DEV_ERR";
	case USBIP_ST_NODEV: return "ST_NODEV";
	case USBIP_ST_ERROR: return "ST_ERROR";
	default: return "?";
	}
}
