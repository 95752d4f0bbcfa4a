/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB/IP wire codec (Linux usbip protocol 1.1.1): the op-phase messages
 * (op_common, OP_REQ/REP_DEVLIST with its device and interface records,
 * OP_REQ/REP_IMPORT) and the 48-byte URB-phase headers (CMD_SUBMIT,
 * RET_SUBMIT, CMD_UNLINK, RET_UNLINK) with the SETUP packet they carry.
 * Shared by the virtual reader's USB/IP server and the driver's USB/IP
 * client.  Pure: no I/O, no allocation.  Encoders write into a caller's
 * buffer and return the length or -ENOBUFS; decoders take
 * (buf, len, ret, diag), check the length before every read, bound every
 * count and length a peer sends, return the number of bytes the message
 * occupies (trailing bytes belong to the next message on the stream) and
 * write *ret only on success.  Error codes follow ccid/common.h; in addition
 * -EOPNOTSUPP means a valid USB/IP feature this codec refuses (ISO
 * transfers).  Reference: shared/docs/reference/usbip.md ("ref §N").
 * Integer header fields are big-endian; the SETUP packet and payloads are
 * raw USB bytes (little-endian fields).
 */
#ifndef DRIVER_USBIP_WIRE_H
#define DRIVER_USBIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Constants (ref §1, §2, §3)
 */

#define USBIP_VERSION 0x0111            /* v1.1.1; the Linux tools refuse any other */
#define USBIP_DEFAULT_PORT 3240

/* op_common.code: request = 0x8000 | op, reply = op (ref §2). */
#define USBIP_OP_REQUEST 0x8000
#define USBIP_OP_REPLY 0x0000
enum usbip_op {
	USBIP_OP_DEVINFO = 0x02,        /* defined by Linux, unused */
	USBIP_OP_IMPORT = 0x03,
	USBIP_OP_CRYPKEY = 0x04,        /* defined by Linux, unused */
	USBIP_OP_DEVLIST = 0x05,
	USBIP_OP_EXPORT = 0x06,         /* defined by Linux, unused */
	USBIP_OP_UNEXPORT = 0x07,       /* defined by Linux, unused */
};
#define USBIP_OP_REQ_DEVLIST (USBIP_OP_REQUEST | USBIP_OP_DEVLIST)   /* 0x8005 */
#define USBIP_OP_REP_DEVLIST (USBIP_OP_REPLY | USBIP_OP_DEVLIST)     /* 0x0005 */
#define USBIP_OP_REQ_IMPORT (USBIP_OP_REQUEST | USBIP_OP_IMPORT)     /* 0x8003 */
#define USBIP_OP_REP_IMPORT (USBIP_OP_REPLY | USBIP_OP_IMPORT)       /* 0x0003 */

/* op_common.status in replies (userspace libsrc/usbip_common.h); any non-zero is a failure. */
enum usbip_op_status {
	USBIP_ST_OK = 0,
	USBIP_ST_NA = 1,                /* not available */
	USBIP_ST_DEV_BUSY = 2,          /* already imported by another host */
	USBIP_ST_DEV_ERR = 3,
	USBIP_ST_NODEV = 4,             /* no such busid */
	USBIP_ST_ERROR = 5,
};

/* usbip_header_basic.command (ref §3). */
enum usbip_command {
	USBIP_CMD_SUBMIT = 1,
	USBIP_CMD_UNLINK = 2,
	USBIP_RET_SUBMIT = 3,
	USBIP_RET_UNLINK = 4,
};

/* usbip_header_basic.direction. */
enum usbip_dir {
	USBIP_DIR_OUT = 0,
	USBIP_DIR_IN = 1,
};

/*
 * CMD_SUBMIT.transfer_flags.  Spelled exactly as in <linux/usbip.h> so that
 * both headers may be included together (identical macro redefinitions are
 * allowed by C11 §6.10.3p2).
 */
#define USBIP_URB_SHORT_NOT_OK		0x0001
#define USBIP_URB_ISO_ASAP		0x0002
#define USBIP_URB_NO_TRANSFER_DMA_MAP	0x0004
#define USBIP_URB_ZERO_PACKET		0x0040
#define USBIP_URB_NO_INTERRUPT		0x0080
#define USBIP_URB_FREE_BUFFER		0x0100
#define USBIP_URB_DIR_IN		0x0200
#define USBIP_URB_DIR_OUT		0
#define USBIP_URB_DIR_MASK		USBIP_URB_DIR_IN

/* enum usb_device_speed values carried in usbip_usb_device.speed. */
enum usbip_speed {
	USBIP_SPEED_UNKNOWN = 0,
	USBIP_SPEED_LOW = 1,
	USBIP_SPEED_FULL = 2,
	USBIP_SPEED_HIGH = 3,
	USBIP_SPEED_WIRELESS = 4,
	USBIP_SPEED_SUPER = 5,
	USBIP_SPEED_SUPER_PLUS = 6,
};

/* Sizes of the fixed wire structures. */
#define USBIP_OP_COMMON_SIZE 8
#define USBIP_PATH_SIZE 256
#define USBIP_BUSID_SIZE 32
#define USBIP_DEVICE_SIZE 312           /* usbip_usb_device, 0x138 */
#define USBIP_INTERFACE_SIZE 4          /* usbip_usb_interface */
#define USBIP_OP_REQ_DEVLIST_SIZE USBIP_OP_COMMON_SIZE                        /* 8 */
#define USBIP_OP_REP_DEVLIST_HEADER_SIZE (USBIP_OP_COMMON_SIZE + 4)           /* 12: + ndev */
#define USBIP_OP_REQ_IMPORT_SIZE (USBIP_OP_COMMON_SIZE + USBIP_BUSID_SIZE)    /* 40 */
#define USBIP_OP_REP_IMPORT_SIZE (USBIP_OP_COMMON_SIZE + USBIP_DEVICE_SIZE)   /* 320 */
#define USBIP_HEADER_SIZE 48            /* every URB-phase PDU header */
#define USBIP_SETUP_SIZE 8

/*
 * Limits on what a peer may announce.
 *
 * USBIP_MAX_TRANSFER bounds CMD_SUBMIT.transfer_buffer_length and
 * RET_SUBMIT.actual_length.  The protocol has no limit of its own; the
 * largest CCID message is 65554 bytes (CCID §5.1 dwMaxCCIDMessageLength),
 * and libusb on Linux submits at most one whole transfer per URB, so 1 MiB
 * leaves a wide margin for any USB class while keeping one buffered PDU
 * bounded.
 *
 * USBIP_MAX_DEVLIST bounds OP_REP_DEVLIST.ndev (one host exporting more
 * than 1024 devices is not a plausible peer).
 *
 * USBIP_MAX_INTERFACES bounds usbip_usb_device.bNumInterfaces in a device
 * list: 32 is the Linux USB core's USB_MAXINTERFACES.
 */
#define USBIP_MAX_TRANSFER (1u << 20)
#define USBIP_MAX_DEVLIST 1024u
#define USBIP_MAX_INTERFACES 32u

/* Largest possible OP_REP_DEVLIST entry: device + USBIP_MAX_INTERFACES interfaces. */
#define USBIP_DEVLIST_ENTRY_MAX (USBIP_DEVICE_SIZE + USBIP_MAX_INTERFACES * USBIP_INTERFACE_SIZE)

/* number_of_packets for a non-ISO URB: the kernel doc says 0xFFFFFFFF, vhci sends 0. */
#define USBIP_NON_ISO_PACKETS 0xFFFFFFFFu

/* ---------------------------------------------------------------------------
 * op_common (8 bytes, every op request and reply; ref §2)
 *
 *   0  2  version  (0x0111)
 *   2  2  code     (request 0x8000|op, reply op)
 *   4  4  status   (0 in requests; 0 = OK in replies)
 */
enum {
	USBIP_OFF_OP_VERSION = 0,
	USBIP_OFF_OP_CODE = 2,
	USBIP_OFF_OP_STATUS = 4,
};

struct usbip_op_common {
	uint16_t version;
	uint16_t code;
	uint32_t status;
};

/*
 * Encode an op_common header (version taken from m, normally USBIP_VERSION).
 * Returns USBIP_OP_COMMON_SIZE, or -EINVAL (NULL), -ENOBUFS (cap < 8).
 */
ssize_t usbip_op_common_encode(const struct usbip_op_common *m, uint8_t *buf, size_t cap);

/*
 * Decode an op_common header.  Any code is accepted (the message decoders
 * below check theirs).
 * Returns USBIP_OP_COMMON_SIZE, or -EINVAL (NULL), -ENODATA (len < 8),
 * -EBADMSG (version is not USBIP_VERSION).
 */
int usbip_op_common_decode(const uint8_t *buf, size_t len, struct usbip_op_common *ret,
			   struct ccid_diag *diag);

/* ---------------------------------------------------------------------------
 * usbip_usb_device (312 bytes) and usbip_usb_interface (4 bytes) (ref §2)
 *
 *   0x000 256 path       NUL-terminated, zero-padded
 *   0x100  32 busid      NUL-terminated, zero-padded
 *   0x120   4 busnum     0x124 4 devnum    0x128 4 speed
 *   0x12C   2 idVendor   0x12E 2 idProduct 0x130 2 bcdDevice
 *   0x132   1 bDeviceClass  0x133 bDeviceSubClass  0x134 bDeviceProtocol
 *   0x135   1 bConfigurationValue  0x136 bNumConfigurations  0x137 bNumInterfaces
 *
 * Interface: bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol, padding 0.
 */
enum {
	USBIP_OFF_DEV_PATH = 0x000,
	USBIP_OFF_DEV_BUSID = 0x100,
	USBIP_OFF_DEV_BUSNUM = 0x120,
	USBIP_OFF_DEV_DEVNUM = 0x124,
	USBIP_OFF_DEV_SPEED = 0x128,
	USBIP_OFF_DEV_IDVENDOR = 0x12C,
	USBIP_OFF_DEV_IDPRODUCT = 0x12E,
	USBIP_OFF_DEV_BCDDEVICE = 0x130,
	USBIP_OFF_DEV_BDEVICECLASS = 0x132,
	USBIP_OFF_DEV_BDEVICESUBCLASS = 0x133,
	USBIP_OFF_DEV_BDEVICEPROTOCOL = 0x134,
	USBIP_OFF_DEV_BCONFIGURATIONVALUE = 0x135,
	USBIP_OFF_DEV_BNUMCONFIGURATIONS = 0x136,
	USBIP_OFF_DEV_BNUMINTERFACES = 0x137,
};

struct usbip_usb_device {
	char path[USBIP_PATH_SIZE];     /* always NUL-terminated */
	char busid[USBIP_BUSID_SIZE];   /* always NUL-terminated */
	uint32_t busnum, devnum, speed;
	uint16_t idVendor, idProduct, bcdDevice;
	uint8_t bDeviceClass, bDeviceSubClass, bDeviceProtocol;
	uint8_t bConfigurationValue, bNumConfigurations, bNumInterfaces;
};

struct usbip_usb_interface {
	uint8_t bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol;
};

/* devid of a device in URB headers: busnum << 16 | devnum (ref §3). */
static inline uint32_t usbip_devid(uint32_t busnum, uint32_t devnum)
{
	return busnum << 16 | (devnum & 0xFFFF);
}

/*
 * Encode a usbip_usb_device record (no interfaces).
 * Returns USBIP_DEVICE_SIZE, or -EINVAL (NULL; path or busid not
 * NUL-terminated within its field), -ENOBUFS.
 */
ssize_t usbip_device_encode(const struct usbip_usb_device *dev, uint8_t *buf, size_t cap);

/*
 * Decode a usbip_usb_device record.  Bytes after the terminating NUL of
 * path and busid are ignored (the Linux tools zero-pad, but do not check).
 * Returns USBIP_DEVICE_SIZE, or -EINVAL, -ENODATA, -EBADMSG (path or busid
 * without a NUL inside its field).
 */
int usbip_device_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *ret,
			struct ccid_diag *diag);

/*
 * Encode / decode one usbip_usb_interface record.  The padding byte is
 * written 0 and ignored on decode.
 * Returns USBIP_INTERFACE_SIZE, or -EINVAL, -ENOBUFS / -ENODATA.
 */
ssize_t usbip_interface_encode(const struct usbip_usb_interface *intf, uint8_t *buf, size_t cap);
int usbip_interface_decode(const uint8_t *buf, size_t len, struct usbip_usb_interface *ret,
			   struct ccid_diag *diag);

/* ---------------------------------------------------------------------------
 * OP_REQ_DEVLIST (8 bytes) / OP_REP_DEVLIST (ref §2)
 *
 *   request: op_common { 0x0111, 0x8005, 0 }
 *   reply:   op_common { 0x0111, 0x0005, status }
 *            if status == 0:  0x08 4 ndev, then ndev entries of
 *            usbip_usb_device (312) + bNumInterfaces x usbip_usb_interface (4)
 *   The server closes the connection after the reply.
 */
enum {
	USBIP_OFF_DEVLIST_NDEV = 0x08,
	USBIP_OFF_DEVLIST_FIRST = 0x0C,
};

/* Encode OP_REQ_DEVLIST.  Returns 8, or -EINVAL, -ENOBUFS. */
ssize_t usbip_req_devlist_encode(uint8_t *buf, size_t cap);

/*
 * Encode the head of OP_REP_DEVLIST: op_common with status, and ndev when
 * status is 0 (then the caller appends ndev entries with
 * usbip_devlist_entry_encode).
 * Returns 12 (status 0) or 8 (status != 0), or -EINVAL (NULL, ndev above
 * USBIP_MAX_DEVLIST), -ENOBUFS.
 */
ssize_t usbip_rep_devlist_head_encode(uint32_t status, uint32_t ndev, uint8_t *buf, size_t cap);

/*
 * Encode one device-list entry: the device record followed by
 * dev->bNumInterfaces interface records taken from intf[].
 * Returns 312 + 4 * bNumInterfaces, or -EINVAL (NULL, bad strings,
 * bNumInterfaces above USBIP_MAX_INTERFACES, intf NULL with interfaces),
 * -ENOBUFS.
 */
ssize_t usbip_devlist_entry_encode(const struct usbip_usb_device *dev,
				   const struct usbip_usb_interface *intf, uint8_t *buf, size_t cap);

/*
 * Decode one device-list entry (as usbip_device_decode, plus its
 * interfaces into ret_intf[0..bNumInterfaces), which has room for
 * USBIP_MAX_INTERFACES).
 * Returns 312 + 4 * bNumInterfaces, or -EINVAL, -ENODATA, -EBADMSG,
 * -EMSGSIZE (bNumInterfaces above USBIP_MAX_INTERFACES).
 */
int usbip_devlist_entry_decode(const uint8_t *buf, size_t len, struct usbip_usb_device *ret,
			       struct usbip_usb_interface ret_intf[USBIP_MAX_INTERFACES],
			       struct ccid_diag *diag);

struct usbip_rep_devlist {
	uint32_t status;                /* op_common.status; 0 = OK */
	uint32_t ndev;                  /* 0 unless status is 0 */
};

/*
 * Decode a whole OP_REP_DEVLIST: the head, and every entry checked with
 * usbip_devlist_entry_decode so that a caller can then walk the entries
 * from USBIP_OFF_DEVLIST_FIRST knowing they are complete and valid.  A
 * reply with a non-zero status ends after op_common.
 * Returns the bytes of the whole reply, or -EINVAL, -ENODATA (the reply is
 * not complete yet), -EBADMSG (version, code other than 0x0005, bad entry),
 * -EMSGSIZE (ndev above USBIP_MAX_DEVLIST, too many interfaces).
 */
int usbip_rep_devlist_decode(const uint8_t *buf, size_t len, struct usbip_rep_devlist *ret,
			     struct ccid_diag *diag);

/* ---------------------------------------------------------------------------
 * OP_REQ_IMPORT (40 bytes) / OP_REP_IMPORT (320 or 8 bytes) (ref §2)
 *
 *   request: op_common { 0x0111, 0x8003, 0 }, 0x08 32 busid
 *   reply:   op_common { 0x0111, 0x0003, status }
 *            if status == 0: 0x08 usbip_usb_device (312, no interface list)
 *   On success the connection switches to the URB phase.
 */
enum {
	USBIP_OFF_IMPORT_BUSID = 0x08,
	USBIP_OFF_IMPORT_DEVICE = 0x08,
};

/*
 * Encode OP_REQ_IMPORT for busid.
 * Returns 40, or -EINVAL (NULL, busid empty or 32 bytes or longer), -ENOBUFS.
 */
ssize_t usbip_req_import_encode(const char *busid, uint8_t *buf, size_t cap);

/*
 * Encode OP_REP_IMPORT: with status 0 the device record follows (dev must
 * not be NULL); otherwise op_common alone.
 * Returns 320 or 8, or -EINVAL, -ENOBUFS.
 */
ssize_t usbip_rep_import_encode(uint32_t status, const struct usbip_usb_device *dev, uint8_t *buf,
				size_t cap);

struct usbip_rep_import {
	uint32_t status;
	struct usbip_usb_device dev;    /* valid only when status is 0 */
};

/*
 * Decode OP_REP_IMPORT.  The caller still has to compare ret->dev.busid
 * with the busid it asked for (the Linux client does).
 * Returns 320 (status 0) or 8 (status != 0), or -EINVAL, -ENODATA,
 * -EBADMSG (version, code other than 0x0003, bad device record).
 */
int usbip_rep_import_decode(const uint8_t *buf, size_t len, struct usbip_rep_import *ret,
			    struct ccid_diag *diag);

/* ---------------------------------------------------------------------------
 * Op-phase requests as a server receives them
 */
struct usbip_op_request {
	uint16_t code;                          /* USBIP_OP_REQ_DEVLIST or USBIP_OP_REQ_IMPORT */
	char busid[USBIP_BUSID_SIZE];           /* IMPORT only; NUL-terminated */
};

/*
 * Decode the next op-phase request on a server's stream: OP_REQ_DEVLIST
 * (8 bytes) or OP_REQ_IMPORT (40 bytes).  -ENODATA means "read more": at
 * most USBIP_OP_REQ_IMPORT_SIZE bytes are ever needed.  The request's status
 * field is not checked (the Linux server ignores it).
 * Returns 8 or 40, or -EINVAL, -ENODATA, -EBADMSG (version, busid without
 * NUL), -EOPNOTSUPP (any other code, e.g. a reply or DEVINFO/EXPORT).
 */
int usbip_op_request_decode(const uint8_t *buf, size_t len, struct usbip_op_request *ret,
			    struct ccid_diag *diag);

/* ---------------------------------------------------------------------------
 * URB phase: 48-byte headers (ref §3)
 *
 * usbip_header_basic (every PDU):
 *   0x00 4 command   0x04 4 seqnum   0x08 4 devid   0x0C 4 direction   0x10 4 ep
 * CMD_SUBMIT:
 *   0x14 4 transfer_flags   0x18 4 transfer_buffer_length   0x1C 4 start_frame
 *   0x20 4 number_of_packets   0x24 4 interval   0x28 8 setup
 *   then transfer_buffer_length bytes of data if direction is OUT
 * RET_SUBMIT:
 *   0x14 4 status   0x18 4 actual_length   0x1C 4 start_frame
 *   0x20 4 number_of_packets   0x24 4 error_count   0x28 8 padding
 *   then actual_length bytes of data if the request was IN
 * CMD_UNLINK:
 *   0x14 4 unlink_seqnum   0x18 24 padding
 * RET_UNLINK:
 *   0x14 4 status   0x18 24 padding
 * RET headers carry devid, direction and ep 0 (the Linux stub sends 0).
 */
enum {
	USBIP_OFF_COMMAND = 0x00,
	USBIP_OFF_SEQNUM = 0x04,
	USBIP_OFF_DEVID = 0x08,
	USBIP_OFF_DIRECTION = 0x0C,
	USBIP_OFF_EP = 0x10,
	/* CMD_SUBMIT */
	USBIP_OFF_TRANSFER_FLAGS = 0x14,
	USBIP_OFF_TRANSFER_BUFFER_LENGTH = 0x18,
	USBIP_OFF_START_FRAME = 0x1C,
	USBIP_OFF_NUMBER_OF_PACKETS = 0x20,
	USBIP_OFF_INTERVAL = 0x24,
	USBIP_OFF_SETUP = 0x28,
	/* RET_SUBMIT */
	USBIP_OFF_STATUS = 0x14,
	USBIP_OFF_ACTUAL_LENGTH = 0x18,
	USBIP_OFF_ERROR_COUNT = 0x24,
	/* CMD_UNLINK */
	USBIP_OFF_UNLINK_SEQNUM = 0x14,
};

struct usbip_header {
	uint32_t command;               /* enum usbip_command */
	uint32_t seqnum;
	uint32_t devid;
	uint32_t direction;             /* enum usbip_dir */
	uint32_t ep;                    /* 0..15, no direction bit */
	union {
		struct {
			uint32_t transfer_flags;
			uint32_t transfer_buffer_length;
			int32_t start_frame;
			uint32_t number_of_packets;
			int32_t interval;
			uint8_t setup[USBIP_SETUP_SIZE];
		} cmd_submit;
		struct {
			int32_t status;         /* 0 or a negative Linux errno */
			uint32_t actual_length;
			int32_t start_frame;
			uint32_t number_of_packets;
			int32_t error_count;
		} ret_submit;
		struct {
			uint32_t seqnum;        /* the CMD_SUBMIT to cancel */
		} cmd_unlink;
		struct {
			int32_t status;         /* -ECONNRESET (cancelled) or 0 (already done) */
		} ret_unlink;
	} u;
};

/*
 * Encode a 48-byte header; the command selects the union member, unused
 * and padding bytes are written 0.  The payload (if any) is the caller's.
 * Returns USBIP_HEADER_SIZE, or -EINVAL (NULL, unknown command), -ENOBUFS.
 */
ssize_t usbip_header_encode(const struct usbip_header *h, uint8_t *buf, size_t cap);

/*
 * Decode a 48-byte header and bound what it announces:
 *  - command is one of the four;
 *  - CMD_SUBMIT: direction 0 or 1, ep 0..15, transfer_buffer_length at most
 *    USBIP_MAX_TRANSFER, number_of_packets 0 or 0xFFFFFFFF (non-ISO);
 *  - RET_SUBMIT: actual_length at most USBIP_MAX_TRANSFER,
 *    number_of_packets 0 or 0xFFFFFFFF.
 * Padding is not checked.  Whether actual_length fits the URB it answers
 * and whether devid is the imported device is for the caller to check.
 * Returns USBIP_HEADER_SIZE, or -EINVAL, -ENODATA (len < 48), -EBADMSG
 * (unknown command, direction, ep), -EMSGSIZE (length above
 * USBIP_MAX_TRANSFER), -EOPNOTSUPP (ISO: number_of_packets of 1..0xFFFFFFFE).
 */
int usbip_header_decode(const uint8_t *buf, size_t len, struct usbip_header *ret,
			struct ccid_diag *diag);

/*
 * Bytes of payload that follow a decoded header on the wire, when that can
 * be told from the header alone: CMD_SUBMIT OUT carries
 * transfer_buffer_length bytes, CMD_SUBMIT IN, CMD_UNLINK and RET_UNLINK
 * none.  For RET_SUBMIT the answer depends on the request: actual_length if
 * it was IN, else 0 (request_was_in is only used for RET_SUBMIT).
 */
size_t usbip_payload_length(const struct usbip_header *h, bool request_was_in);

/* ---------------------------------------------------------------------------
 * USB SETUP packet (8 bytes, little-endian fields; USB 2.0 §9.3)
 *
 *   0 bmRequestType   1 bRequest   2 wValue   4 wIndex   6 wLength
 */
struct usbip_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue, wIndex, wLength;
};

#define USBIP_SETUP_DIR_IN 0x80         /* bmRequestType bit 7: device-to-host */

/* Split / build a SETUP packet.  Every 8-byte value is valid; no errors. */
void usbip_setup_decode(const uint8_t setup[USBIP_SETUP_SIZE], struct usbip_setup *ret);
void usbip_setup_encode(const struct usbip_setup *s, uint8_t setup[USBIP_SETUP_SIZE]);

/* Name of a command / op code / op status for logs; "?" when unknown. */
const char *usbip_command_name(uint32_t command);
const char *usbip_op_code_name(uint16_t code);
const char *usbip_op_status_name(uint32_t status);

#ifdef __cplusplus
}
#endif

#endif
