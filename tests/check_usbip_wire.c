/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the USB/IP wire codec: golden byte vectors for every
 * message written by hand from the offset tables of
 * shared/docs/reference/usbip.md (not from the codec's own offsets), decode
 * and re-encode of each, and refusal of every truncation, oversize length,
 * bad version, unterminated string, ISO request and unknown code.
 */
#include "config.h"

#include <errno.h>
#include <linux/usbip.h>        /* our USBIP_URB_* must be the same tokens (no redefinition error) */
#include <stdio.h>

#include "usbip/usbip_wire.h"
#include "tests/testutil.h"

static uint8_t buf[4096], out[4096];

/* ---------------------------------------------------------------------------
 * Golden vectors (ref §2, §3)
 */

#define REQ_DEVLIST_HEX "01 11 80 05 00 00 00 00"
#define REQ_IMPORT_HEX "01 11 80 03 00 00 00 00  31 2D 31 00 00000000 0000000000000000 0000000000000000 0000000000000000"
/* CMD_SUBMIT: seq 5, devid 1-2, IN, ep 0, flags DIR_IN, len 18, np 0, GET_DESCRIPTOR(DEVICE, 18) */
#define CMD_SUBMIT_HEX \
	"00000001 00000005 00010002 00000001 00000000" \
	"00000200 00000012 00000000 00000000 00000000" \
	"80 06 00 01 00 00 12 00"
/* CMD_SUBMIT: bulk OUT ep 2, 4 bytes, np 0xFFFFFFFF, interval 0, no setup */
#define CMD_SUBMIT_OUT_HEX \
	"00000001 00000007 00010002 00000000 00000002" \
	"00000000 00000004 00000000 FFFFFFFF 00000000 0000000000000000"
/* RET_SUBMIT: seq 5, status 0, actual 18 */
#define RET_SUBMIT_HEX \
	"00000003 00000005 00000000 00000000 00000000" \
	"00000000 00000012 00000000 00000000 00000000 0000000000000000"
/* RET_SUBMIT: seq 9, status -EPIPE (-32 = 0xFFFFFFE0) */
#define RET_SUBMIT_STALL_HEX \
	"00000003 00000009 00000000 00000000 00000000" \
	"FFFFFFE0 00000000 00000000 00000000 00000000 0000000000000000"
/* CMD_UNLINK: seq 6 cancels seq 5 */
#define CMD_UNLINK_HEX \
	"00000002 00000006 00010002 00000000 00000000" \
	"00000005 000000000000000000000000000000000000000000000000"
/* RET_UNLINK: seq 6, status -ECONNRESET (-104 = 0xFFFFFF98) */
#define RET_UNLINK_HEX \
	"00000004 00000006 00000000 00000000 00000000" \
	"FFFFFF98 000000000000000000000000000000000000000000000000"

/* The device all the op-phase vectors describe. */
static void sample_device(struct usbip_usb_device *d)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->path, "/sys/devices/vreader/1-1");
	strcpy(d->busid, "1-1");
	d->busnum = 1;
	d->devnum = 2;
	d->speed = USBIP_SPEED_FULL;
	d->idVendor = 0x1209;
	d->idProduct = 0x0001;
	d->bcdDevice = 0x0100;
	d->bDeviceClass = 0;
	d->bDeviceSubClass = 0;
	d->bDeviceProtocol = 0;
	d->bConfigurationValue = 1;
	d->bNumConfigurations = 1;
	d->bNumInterfaces = 1;
}

/*
 * The 312-byte device record at base of v, from the table of ref §2 given
 * relative to the start of the reply: fields at base + 0x000 ... base + 0x137.
 */
static void golden_device(uint8_t *v, size_t base)
{
	const char *path = "/sys/devices/vreader/1-1";

	memcpy(v + base, path, strlen(path));
	memcpy(v + base + 0x100, "1-1", 3);
	v[base + 0x123] = 1;            /* busnum BE */
	v[base + 0x127] = 2;            /* devnum BE */
	v[base + 0x12B] = 2;            /* speed full */
	v[base + 0x12C] = 0x12;         /* idVendor 0x1209 */
	v[base + 0x12D] = 0x09;
	v[base + 0x12F] = 0x01;         /* idProduct 0x0001 */
	v[base + 0x130] = 0x01;         /* bcdDevice 0x0100 */
	v[base + 0x135] = 1;            /* bConfigurationValue */
	v[base + 0x136] = 1;            /* bNumConfigurations */
	v[base + 0x137] = 1;            /* bNumInterfaces */
}

/* OP_REP_IMPORT (320 bytes), with the reply offsets of ref §2 spelled out. */
static size_t golden_rep_import(uint8_t *v)
{
	memset(v, 0, 320);
	v[0] = 0x01; v[1] = 0x11; v[2] = 0x00; v[3] = 0x03;
	golden_device(v, 0x08);
	/* Spot-check against the reply-relative offsets printed in the reference. */
	ck_assert_uint_eq(v[0x108], '1');           /* busid */
	ck_assert_uint_eq(v[0x12B], 1);             /* busnum (BE at 0x128) */
	ck_assert_uint_eq(v[0x12F], 2);             /* devnum (BE at 0x12C) */
	ck_assert_uint_eq(v[0x134], 0x12);          /* idVendor */
	ck_assert_uint_eq(v[0x137], 0x01);          /* idProduct */
	ck_assert_uint_eq(v[0x13F], 1);             /* bNumInterfaces */
	return 320;
}

/* OP_REP_DEVLIST with one device and one CCID interface (12 + 312 + 4 = 328 bytes). */
static size_t golden_rep_devlist(uint8_t *v)
{
	memset(v, 0, 328);
	v[0] = 0x01; v[1] = 0x11; v[2] = 0x00; v[3] = 0x05;
	v[0x0B] = 1;                    /* ndev */
	golden_device(v, 0x0C);
	ck_assert_uint_eq(v[0x10C], '1');           /* busid */
	ck_assert_uint_eq(v[0x138], 0x12);          /* idVendor */
	ck_assert_uint_eq(v[0x143], 1);             /* bNumInterfaces */
	v[0x144] = 0x0B;                /* interface: class 0B (smart card), 0, 0, pad */
	return 328;
}

/* ---------------------------------------------------------------------------
 * encode
 */

START_TEST(test_encode_req_devlist)
{
	size_t n = tu_hex(REQ_DEVLIST_HEX, buf, sizeof(buf));

	ck_assert_int_eq(usbip_req_devlist_encode(out, sizeof(out)), 8);
	ck_assert_mem_eq(out, buf, n);
	ck_assert_int_eq(usbip_req_devlist_encode(out, 7), -ENOBUFS);
}
END_TEST

START_TEST(test_encode_req_import)
{
	size_t n = tu_hex(REQ_IMPORT_HEX, buf, sizeof(buf));

	ck_assert_uint_eq(n, 40);
	memset(out, 0xAA, sizeof(out));
	ck_assert_int_eq(usbip_req_import_encode("1-1", out, sizeof(out)), 40);
	ck_assert_mem_eq(out, buf, 40);
	ck_assert_int_eq(usbip_req_import_encode("1-1", out, 39), -ENOBUFS);
	ck_assert_int_eq(usbip_req_import_encode("", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(usbip_req_import_encode("0123456789012345678901234567890", out, sizeof(out)), 40);
	ck_assert_int_eq(usbip_req_import_encode("01234567890123456789012345678901", out, sizeof(out)),
			 -EINVAL);
	ck_assert_int_eq(usbip_req_import_encode(NULL, out, sizeof(out)), -EINVAL);
}
END_TEST

START_TEST(test_encode_rep_import)
{
	struct usbip_usb_device d;
	size_t n = golden_rep_import(buf);

	sample_device(&d);
	memset(out, 0xAA, sizeof(out));
	ck_assert_int_eq(usbip_rep_import_encode(USBIP_ST_OK, &d, out, sizeof(out)), 320);
	ck_assert_mem_eq(out, buf, n);
	ck_assert_int_eq(usbip_rep_import_encode(USBIP_ST_OK, &d, out, 319), -ENOBUFS);
	ck_assert_int_eq(usbip_rep_import_encode(USBIP_ST_OK, NULL, out, sizeof(out)), -EINVAL);
	/* A refusal is op_common alone. */
	n = tu_hex("01 11 00 03 00 00 00 02", buf, sizeof(buf));
	ck_assert_int_eq(usbip_rep_import_encode(USBIP_ST_DEV_BUSY, NULL, out, sizeof(out)), 8);
	ck_assert_mem_eq(out, buf, n);
	ck_assert_int_eq(usbip_rep_import_encode(USBIP_ST_NODEV, NULL, out, 7), -ENOBUFS);
}
END_TEST

START_TEST(test_encode_rep_devlist)
{
	struct usbip_usb_device d;
	struct usbip_usb_interface intf = { 0x0B, 0, 0 };
	size_t n = golden_rep_devlist(buf);
	ssize_t h, e;

	sample_device(&d);
	memset(out, 0xAA, sizeof(out));
	h = usbip_rep_devlist_head_encode(USBIP_ST_OK, 1, out, sizeof(out));
	ck_assert_int_eq(h, 12);
	e = usbip_devlist_entry_encode(&d, &intf, out + h, sizeof(out) - (size_t)h);
	ck_assert_int_eq(e, 316);
	ck_assert_uint_eq((size_t)(h + e), n);
	ck_assert_mem_eq(out, buf, n);
	ck_assert_int_eq(usbip_rep_devlist_head_encode(USBIP_ST_OK, 1, out, 11), -ENOBUFS);
	ck_assert_int_eq(usbip_rep_devlist_head_encode(USBIP_ST_OK, USBIP_MAX_DEVLIST + 1, out, 64),
			 -EINVAL);
	ck_assert_int_eq(usbip_devlist_entry_encode(&d, &intf, out, 315), -ENOBUFS);
	ck_assert_int_eq(usbip_devlist_entry_encode(&d, NULL, out, sizeof(out)), -EINVAL);
	d.bNumInterfaces = USBIP_MAX_INTERFACES + 1;
	ck_assert_int_eq(usbip_devlist_entry_encode(&d, &intf, out, sizeof(out)), -EINVAL);
	/* Refusal: op_common alone, no ndev. */
	ck_assert_int_eq(usbip_rep_devlist_head_encode(USBIP_ST_ERROR, 0, out, sizeof(out)), 8);
	n = tu_hex("01 11 00 05 00 00 00 05", buf, sizeof(buf));
	ck_assert_mem_eq(out, buf, n);
}
END_TEST

START_TEST(test_encode_device_strings)
{
	struct usbip_usb_device d;

	sample_device(&d);
	memset(d.busid, 'x', sizeof(d.busid));      /* no NUL: refused, never read past */
	ck_assert_int_eq(usbip_device_encode(&d, out, sizeof(out)), -EINVAL);
	sample_device(&d);
	memset(d.path, 'p', sizeof(d.path));
	ck_assert_int_eq(usbip_device_encode(&d, out, sizeof(out)), -EINVAL);
	d.path[255] = 0;
	ck_assert_int_eq(usbip_device_encode(&d, out, sizeof(out)), USBIP_DEVICE_SIZE);
	ck_assert_uint_eq(out[254], 'p');
	ck_assert_uint_eq(out[255], 0);
}
END_TEST

static void check_header_encode(const char *hex, const struct usbip_header *h)
{
	size_t n = tu_hex(hex, buf, sizeof(buf));

	ck_assert_uint_eq(n, 48);
	memset(out, 0xAA, sizeof(out));
	ck_assert_int_eq(usbip_header_encode(h, out, sizeof(out)), 48);
	ck_assert_mem_eq(out, buf, 48);
	ck_assert_int_eq(usbip_header_encode(h, out, 47), -ENOBUFS);
}

START_TEST(test_encode_headers)
{
	struct usbip_header h;
	const struct usbip_setup st = { 0x80, 0x06, 0x0100, 0x0000, 18 };

	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_SUBMIT;
	h.seqnum = 5;
	h.devid = usbip_devid(1, 2);
	h.direction = USBIP_DIR_IN;
	h.u.cmd_submit.transfer_flags = USBIP_URB_DIR_IN;
	h.u.cmd_submit.transfer_buffer_length = 18;
	usbip_setup_encode(&st, h.u.cmd_submit.setup);
	check_header_encode(CMD_SUBMIT_HEX, &h);

	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_SUBMIT;
	h.seqnum = 5;
	h.u.ret_submit.actual_length = 18;
	check_header_encode(RET_SUBMIT_HEX, &h);

	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_SUBMIT;
	h.seqnum = 9;
	h.u.ret_submit.status = -EPIPE;
	check_header_encode(RET_SUBMIT_STALL_HEX, &h);

	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_UNLINK;
	h.seqnum = 6;
	h.devid = 0x00010002;
	h.u.cmd_unlink.seqnum = 5;
	check_header_encode(CMD_UNLINK_HEX, &h);

	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_UNLINK;
	h.seqnum = 6;
	h.u.ret_unlink.status = -ECONNRESET;
	check_header_encode(RET_UNLINK_HEX, &h);

	h.command = 0;
	ck_assert_int_eq(usbip_header_encode(&h, out, sizeof(out)), -EINVAL);
	h.command = 5;
	ck_assert_int_eq(usbip_header_encode(&h, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(usbip_header_encode(NULL, out, sizeof(out)), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------------
 * decode
 */

START_TEST(test_decode_op_requests)
{
	struct usbip_op_request req;
	size_t n = tu_hex(REQ_DEVLIST_HEX, buf, sizeof(buf));

	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, NULL), 8);
	ck_assert_uint_eq(req.code, USBIP_OP_REQ_DEVLIST);
	n = tu_hex(REQ_IMPORT_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, NULL), 40);
	ck_assert_uint_eq(req.code, USBIP_OP_REQ_IMPORT);
	ck_assert_str_eq(req.busid, "1-1");
	/* Trailing bytes are the next message's (a client may pipeline). */
	ck_assert_int_eq(usbip_op_request_decode(buf, sizeof(buf), &req, NULL), 40);
}
END_TEST

START_TEST(test_decode_rep_import)
{
	struct usbip_rep_import rep;
	struct usbip_usb_device d;
	size_t n = golden_rep_import(buf);

	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &rep, NULL), 320);
	sample_device(&d);
	ck_assert_uint_eq(rep.status, 0);
	ck_assert_str_eq(rep.dev.path, d.path);
	ck_assert_str_eq(rep.dev.busid, "1-1");
	ck_assert_uint_eq(rep.dev.busnum, 1);
	ck_assert_uint_eq(rep.dev.devnum, 2);
	ck_assert_uint_eq(rep.dev.speed, 2);
	ck_assert_uint_eq(rep.dev.idVendor, 0x1209);
	ck_assert_uint_eq(rep.dev.idProduct, 0x0001);
	ck_assert_uint_eq(rep.dev.bcdDevice, 0x0100);
	ck_assert_uint_eq(rep.dev.bConfigurationValue, 1);
	ck_assert_uint_eq(rep.dev.bNumConfigurations, 1);
	ck_assert_uint_eq(rep.dev.bNumInterfaces, 1);
	ck_assert_int_eq(usbip_rep_import_encode(rep.status, &rep.dev, out, sizeof(out)), 320);
	ck_assert_mem_eq(out, buf, 320);

	n = tu_hex("01 11 00 03 00 00 00 04", buf, sizeof(buf));
	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &rep, NULL), 8);
	ck_assert_uint_eq(rep.status, USBIP_ST_NODEV);
	ck_assert_str_eq(usbip_op_status_name(rep.status), "ST_NODEV");
}
END_TEST

START_TEST(test_decode_rep_devlist)
{
	struct usbip_rep_devlist rl;
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	size_t n = golden_rep_devlist(buf);

	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), (int)n);
	ck_assert_uint_eq(rl.status, 0);
	ck_assert_uint_eq(rl.ndev, 1);
	ck_assert_int_eq(usbip_devlist_entry_decode(buf + USBIP_OFF_DEVLIST_FIRST,
						    n - USBIP_OFF_DEVLIST_FIRST, &d, intf, NULL), 316);
	ck_assert_str_eq(d.busid, "1-1");
	ck_assert_uint_eq(d.idVendor, 0x1209);
	ck_assert_uint_eq(intf[0].bInterfaceClass, 0x0B);
	ck_assert_uint_eq(intf[0].bInterfaceSubClass, 0);
	ck_assert_uint_eq(intf[0].bInterfaceProtocol, 0);

	/* Two devices, the second without interfaces. */
	memcpy(buf + n, buf + USBIP_OFF_DEVLIST_FIRST, USBIP_DEVICE_SIZE);
	buf[n + 0x137] = 0;
	buf[0x0B] = 2;
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n + 312, &rl, NULL), (int)n + 312);
	ck_assert_uint_eq(rl.ndev, 2);

	/* ndev 0 */
	n = tu_hex("01 11 00 05 00000000 00000000", buf, sizeof(buf));
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), 12);
	ck_assert_uint_eq(rl.ndev, 0);
	/* A refusal ends after op_common. */
	n = tu_hex("01 11 00 05 00000001", buf, sizeof(buf));
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), 8);
	ck_assert_uint_eq(rl.status, 1);
	ck_assert_uint_eq(rl.ndev, 0);
}
END_TEST

START_TEST(test_decode_headers)
{
	struct usbip_header h;
	struct usbip_setup st;
	size_t n = tu_hex(CMD_SUBMIT_HEX, buf, sizeof(buf));

	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_uint_eq(h.command, USBIP_CMD_SUBMIT);
	ck_assert_uint_eq(h.seqnum, 5);
	ck_assert_uint_eq(h.devid, 0x00010002);
	ck_assert_uint_eq(h.direction, USBIP_DIR_IN);
	ck_assert_uint_eq(h.ep, 0);
	ck_assert_uint_eq(h.u.cmd_submit.transfer_flags, USBIP_URB_DIR_IN);
	ck_assert_uint_eq(h.u.cmd_submit.transfer_buffer_length, 18);
	ck_assert_uint_eq(usbip_payload_length(&h, false), 0);
	usbip_setup_decode(h.u.cmd_submit.setup, &st);
	ck_assert_uint_eq(st.bmRequestType, 0x80);
	ck_assert_uint_eq(st.bRequest, 6);
	ck_assert_uint_eq(st.wValue, 0x0100);
	ck_assert_uint_eq(st.wIndex, 0);
	ck_assert_uint_eq(st.wLength, 18);
	ck_assert_int_eq(usbip_header_encode(&h, out, sizeof(out)), 48);
	ck_assert_mem_eq(out, buf, 48);

	n = tu_hex(CMD_SUBMIT_OUT_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_uint_eq(h.ep, 2);
	ck_assert_uint_eq(h.direction, USBIP_DIR_OUT);
	ck_assert_uint_eq(h.u.cmd_submit.number_of_packets, 0xFFFFFFFFu);
	ck_assert_uint_eq(usbip_payload_length(&h, false), 4);
	ck_assert_int_eq(usbip_header_encode(&h, out, sizeof(out)), 48);
	ck_assert_mem_eq(out, buf, 48);

	n = tu_hex(RET_SUBMIT_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_uint_eq(h.command, USBIP_RET_SUBMIT);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 18);
	ck_assert_uint_eq(usbip_payload_length(&h, true), 18);
	ck_assert_uint_eq(usbip_payload_length(&h, false), 0);

	n = tu_hex(RET_SUBMIT_STALL_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);

	n = tu_hex(CMD_UNLINK_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_uint_eq(h.command, USBIP_CMD_UNLINK);
	ck_assert_uint_eq(h.seqnum, 6);
	ck_assert_uint_eq(h.u.cmd_unlink.seqnum, 5);
	ck_assert_uint_eq(usbip_payload_length(&h, true), 0);

	n = tu_hex(RET_UNLINK_HEX, buf, sizeof(buf));
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, NULL), 48);
	ck_assert_uint_eq(h.command, USBIP_RET_UNLINK);
	ck_assert_int_eq(h.u.ret_unlink.status, -ECONNRESET);
	ck_assert_str_eq(usbip_command_name(h.command), "RET_UNLINK");
}
END_TEST

START_TEST(test_setup_roundtrip)
{
	const uint8_t raw[8] = { 0xA1, 0x03, 0x34, 0x12, 0x01, 0x00, 0xFF, 0x00 };
	uint8_t again[8];
	struct usbip_setup st;

	usbip_setup_decode(raw, &st);
	ck_assert_uint_eq(st.bmRequestType, 0xA1);
	ck_assert_uint_eq(st.bRequest, 0x03);
	ck_assert_uint_eq(st.wValue, 0x1234);
	ck_assert_uint_eq(st.wIndex, 1);
	ck_assert_uint_eq(st.wLength, 255);
	usbip_setup_encode(&st, again);
	ck_assert_mem_eq(again, raw, 8);
}
END_TEST

/* The flag values are the uapi's (the header compiles with both included). */
START_TEST(test_uapi_constants)
{
	ck_assert_uint_eq(USBIP_URB_DIR_IN, 0x0200);
	ck_assert_uint_eq(USBIP_URB_ZERO_PACKET, 0x0040);
	ck_assert_uint_eq(USBIP_URB_SHORT_NOT_OK, 0x0001);
	ck_assert_uint_eq(USBIP_OP_REQ_IMPORT, 0x8003);
	ck_assert_uint_eq(USBIP_OP_REP_DEVLIST, 0x0005);
	ck_assert_uint_eq(usbip_devid(3, 7), 0x00030007);
	ck_assert_str_eq(usbip_op_code_name(0x8005), "OP_REQ_DEVLIST");
	ck_assert_str_eq(usbip_op_code_name(0x1234), "?");
}
END_TEST

/* ---------------------------------------------------------------------------
 * malformed
 */

START_TEST(test_truncations)
{
	struct usbip_op_request req;
	struct usbip_rep_import ri;
	struct usbip_rep_devlist rl;
	struct usbip_header h;
	struct ccid_diag diag;
	size_t n;

	n = tu_hex(REQ_IMPORT_HEX, buf, sizeof(buf));
	for (size_t len = 0; len < n; len++) {
		diag.expected = NULL;
		ck_assert_int_eq(usbip_op_request_decode(buf, len, &req, &diag), -ENODATA);
		ck_assert_ptr_nonnull(diag.expected);
		ck_assert_uint_eq(diag.offset, len);
	}
	n = tu_hex(REQ_DEVLIST_HEX, buf, sizeof(buf));
	for (size_t len = 0; len < n; len++)
		ck_assert_int_eq(usbip_op_request_decode(buf, len, &req, NULL), -ENODATA);

	n = golden_rep_import(buf);
	for (size_t len = 0; len < n; len++)
		ck_assert_int_eq(usbip_rep_import_decode(buf, len, &ri, NULL), -ENODATA);

	n = golden_rep_devlist(buf);
	for (size_t len = 0; len < n; len++) {
		diag.expected = NULL;
		ck_assert_int_eq(usbip_rep_devlist_decode(buf, len, &rl, &diag), -ENODATA);
		ck_assert_uint_eq(diag.offset, len);
	}

	const char *headers[] = { CMD_SUBMIT_HEX, RET_SUBMIT_HEX, CMD_UNLINK_HEX, RET_UNLINK_HEX };

	for (unsigned k = 0; k < 4; k++) {
		n = tu_hex(headers[k], buf, sizeof(buf));
		for (size_t len = 0; len < n; len++)
			ck_assert_int_eq(usbip_header_decode(buf, len, &h, NULL), -ENODATA);
	}
}
END_TEST

START_TEST(test_bad_version)
{
	struct usbip_op_request req;
	struct usbip_rep_import ri;
	struct usbip_rep_devlist rl;
	struct usbip_op_common m;
	struct ccid_diag diag;
	size_t n;

	n = tu_hex("01 10 80 05 00000000", buf, sizeof(buf));
	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0);
	ck_assert_int_eq(usbip_op_common_decode(buf, n, &m, NULL), -EBADMSG);
	n = tu_hex("11 01 80 03 00000000", buf, sizeof(buf));      /* little-endian version */
	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, NULL), -EBADMSG);
	n = golden_rep_import(buf);
	buf[1] = 0x00;
	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &ri, NULL), -EBADMSG);
	n = golden_rep_devlist(buf);
	buf[0] = 0x02;
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_wrong_codes)
{
	struct usbip_op_request req;
	struct usbip_rep_import ri;
	struct usbip_rep_devlist rl;
	struct ccid_diag diag;
	size_t n;

	/* A server receives only DEVLIST and IMPORT requests. */
	static const char *const refused[] = {
		"01 11 00 05 00000000", "01 11 00 03 00000000", "01 11 80 02 00000000",
		"01 11 80 06 00000000", "01 11 80 07 00000000", "01 11 FF FF 00000000",
	};
	for (unsigned k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		n = tu_hex(refused[k], buf, sizeof(buf));
		ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, &diag), -EOPNOTSUPP);
		ck_assert_uint_eq(diag.offset, 2);
	}
	/* A DEVLIST reply is not an IMPORT reply and vice versa. */
	n = golden_rep_devlist(buf);
	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &ri, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 2);
	n = golden_rep_import(buf);
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_unterminated_strings)
{
	struct usbip_op_request req;
	struct usbip_rep_import ri;
	struct usbip_rep_devlist rl;
	struct ccid_diag diag;
	size_t n;

	n = tu_hex(REQ_IMPORT_HEX, buf, sizeof(buf));
	memset(buf + 8, 'A', 32);
	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 39);
	buf[39] = 0;                    /* 31 characters and the NUL: the longest busid */
	ck_assert_int_eq(usbip_op_request_decode(buf, n, &req, NULL), 40);
	ck_assert_uint_eq(strlen(req.busid), 31);

	n = golden_rep_import(buf);
	memset(buf + 0x108, 'B', 32);
	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &ri, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0x108 + 31);
	n = golden_rep_import(buf);
	memset(buf + 0x08, 'P', 256);
	ck_assert_int_eq(usbip_rep_import_decode(buf, n, &ri, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0x08 + 255);

	n = golden_rep_devlist(buf);
	memset(buf + 0x10C, 'C', 32);
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0x10C + 31);
}
END_TEST

START_TEST(test_devlist_limits)
{
	struct usbip_rep_devlist rl;
	struct ccid_diag diag;
	size_t n = golden_rep_devlist(buf);

	/* ndev above the limit is refused before any entry is read. */
	buf[0x08] = 0; buf[0x09] = 0; buf[0x0A] = 0x04; buf[0x0B] = 0x01;   /* 1025 */
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 8);
	buf[0x08] = 0xFF; buf[0x09] = 0xFF; buf[0x0A] = 0xFF; buf[0x0B] = 0xFF;
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, NULL), -EMSGSIZE);
	/* ndev 2 with one entry present: incomplete. */
	buf[0x08] = 0; buf[0x09] = 0; buf[0x0A] = 0; buf[0x0B] = 2;
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, n, &rl, &diag), -ENODATA);
	ck_assert_uint_eq(diag.offset, n);
	/* Too many interfaces. */
	n = golden_rep_devlist(buf);
	buf[0x143] = USBIP_MAX_INTERFACES + 1;
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, sizeof(buf), &rl, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 0x143);
	buf[0x143] = USBIP_MAX_INTERFACES;
	memset(buf + n, 0, sizeof(buf) - n);
	ck_assert_int_eq(usbip_rep_devlist_decode(buf, sizeof(buf), &rl, NULL),
			 (int)(12 + USBIP_DEVICE_SIZE + USBIP_MAX_INTERFACES * 4));
}
END_TEST

static int decode_hex_header(const char *hex, struct ccid_diag *diag)
{
	struct usbip_header h;
	size_t n = tu_hex(hex, buf, sizeof(buf));

	return usbip_header_decode(buf, n, &h, diag);
}

START_TEST(test_header_limits)
{
	struct usbip_header h;
	struct ccid_diag diag;
	size_t n;

	/* Unknown commands. */
	n = tu_hex(CMD_SUBMIT_HEX, buf, sizeof(buf));
	for (uint32_t cmd = 0; cmd < 8; cmd++) {
		buf[3] = (uint8_t)cmd;
		ck_assert_int_eq(usbip_header_decode(buf, n, &h, &diag),
				 cmd >= 1 && cmd <= 4 ? 48 : -EBADMSG);
	}
	buf[0] = 0x01;
	buf[3] = 0x01;
	ck_assert_int_eq(usbip_header_decode(buf, n, &h, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0);

	/* direction and ep of a CMD_SUBMIT. */
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000002 00000000"
					   "00000000 00000000 00000000 00000000 00000000 0000000000000000",
					   &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0x0C);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 0000000F"
					   "00000000 00000000 00000000 00000000 00000000 0000000000000000",
					   &diag), 48);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 00000010"
					   "00000000 00000000 00000000 00000000 00000000 0000000000000000",
					   &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0x10);

	/* transfer_buffer_length: 1 MiB accepted, one more refused, 0xFFFFFFFF refused. */
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000000 00000002"
					   "00000000 00100000 00000000 00000000 00000000 0000000000000000",
					   &diag), 48);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000000 00000002"
					   "00000000 00100001 00000000 00000000 00000000 0000000000000000",
					   &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 0x18);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 00000001"
					   "00000000 FFFFFFFF 00000000 00000000 00000000 0000000000000000",
					   &diag), -EMSGSIZE);

	/* number_of_packets: 0 and 0xFFFFFFFF are non-ISO; anything else is ISO, refused. */
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 00000001"
					   "00000000 00000040 00000000 FFFFFFFF 00000000 0000000000000000",
					   &diag), 48);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 00000001"
					   "00000000 00000040 00000000 00000001 00000000 0000000000000000",
					   &diag), -EOPNOTSUPP);
	ck_assert_uint_eq(diag.offset, 0x20);
	ck_assert_int_eq(decode_hex_header("00000001 00000001 00010002 00000001 00000001"
					   "00000000 00000040 00000000 FFFFFFFE 00000000 0000000000000000",
					   &diag), -EOPNOTSUPP);

	/* RET_SUBMIT: actual_length and number_of_packets bounded the same way. */
	ck_assert_int_eq(decode_hex_header("00000003 00000001 00000000 00000000 00000000"
					   "00000000 00100001 00000000 00000000 00000000 0000000000000000",
					   &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, 0x18);
	ck_assert_int_eq(decode_hex_header("00000003 00000001 00000000 00000000 00000000"
					   "00000000 00000000 00000000 00000008 00000000 0000000000000000",
					   &diag), -EOPNOTSUPP);
}
END_TEST

START_TEST(test_null_arguments)
{
	struct usbip_header h;
	struct usbip_op_request req;

	ck_assert_int_eq(usbip_header_decode(NULL, 48, &h, NULL), -EINVAL);
	ck_assert_int_eq(usbip_header_decode(buf, 48, NULL, NULL), -EINVAL);
	ck_assert_int_eq(usbip_op_request_decode(NULL, 40, &req, NULL), -EINVAL);
	ck_assert_int_eq(usbip_op_common_encode(NULL, out, 8), -EINVAL);
	ck_assert_int_eq(usbip_device_encode(NULL, out, 312), -EINVAL);
	ck_assert_uint_eq(usbip_payload_length(NULL, true), 0);
}
END_TEST

static Suite *usbip_wire_suite(void)
{
	Suite *s = suite_create("usbip_wire");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode_req_devlist);
	tcase_add_test(tc, test_encode_req_import);
	tcase_add_test(tc, test_encode_rep_import);
	tcase_add_test(tc, test_encode_rep_devlist);
	tcase_add_test(tc, test_encode_device_strings);
	tcase_add_test(tc, test_encode_headers);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_decode_op_requests);
	tcase_add_test(tc, test_decode_rep_import);
	tcase_add_test(tc, test_decode_rep_devlist);
	tcase_add_test(tc, test_decode_headers);
	tcase_add_test(tc, test_setup_roundtrip);
	tcase_add_test(tc, test_uapi_constants);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_bad_version);
	tcase_add_test(tc, test_wrong_codes);
	tcase_add_test(tc, test_unterminated_strings);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_devlist_limits);
	tcase_add_test(tc, test_header_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(usbip_wire_suite(), true);
}
