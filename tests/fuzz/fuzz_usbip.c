/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the USB/IP wire codec: the input is decoded as every
 * message type (op_common, the op requests a server receives, both op
 * replies a client receives, device and interface records, the 48-byte URB
 * headers).  Properties: no decoder reads outside its input; a refusal
 * names an offset within (or just past) the input and what was expected; a
 * success consumes no more than the input; whatever was decoded encodes,
 * and decodes again to the same bytes; strings always end inside their
 * fields; every length a header announces is within USBIP_MAX_TRANSFER.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "usbip/usbip_wire.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int r, const struct ccid_diag *diag, size_t size)
{
	FUZZ_ASSERT(r == -ENODATA || r == -EBADMSG || r == -EMSGSIZE || r == -EOPNOTSUPP);
	FUZZ_ASSERT(diag->expected != NULL && diag->offset <= size);
}

static void check_device(const struct usbip_usb_device *d)
{
	uint8_t a[USBIP_DEVICE_SIZE], b[USBIP_DEVICE_SIZE];
	struct usbip_usb_device again;

	FUZZ_ASSERT(strnlen(d->path, sizeof(d->path)) < sizeof(d->path));
	FUZZ_ASSERT(strnlen(d->busid, sizeof(d->busid)) < sizeof(d->busid));
	FUZZ_ASSERT(usbip_device_encode(d, a, sizeof(a)) == USBIP_DEVICE_SIZE);
	FUZZ_ASSERT(usbip_device_decode(a, sizeof(a), &again, NULL) == USBIP_DEVICE_SIZE);
	FUZZ_ASSERT(usbip_device_encode(&again, b, sizeof(b)) == USBIP_DEVICE_SIZE);
	FUZZ_ASSERT(memcmp(a, b, sizeof(a)) == 0);
	FUZZ_ASSERT(usbip_device_encode(d, a, sizeof(a) - 1) == -ENOBUFS);
}

static void fuzz_op(const uint8_t *data, size_t size)
{
	struct ccid_diag diag = { 0, NULL };
	struct usbip_op_common m;
	struct usbip_op_request req;
	uint8_t out[USBIP_OP_REP_IMPORT_SIZE];
	int r;

	r = usbip_op_common_decode(data, size, &m, &diag);
	if (r >= 0) {
		FUZZ_ASSERT(r == USBIP_OP_COMMON_SIZE && size >= 8);
		FUZZ_ASSERT(usbip_op_common_encode(&m, out, sizeof(out)) == 8);
		FUZZ_ASSERT(memcmp(out, data, 8) == 0);
		fuzz_sink += strlen(usbip_op_code_name(m.code)) + strlen(usbip_op_status_name(m.status));
	} else {
		check_refusal(r, &diag, size);
	}

	diag.expected = NULL;
	r = usbip_op_request_decode(data, size, &req, &diag);
	if (r >= 0) {
		FUZZ_ASSERT((size_t)r <= size);
		if (req.code == USBIP_OP_REQ_DEVLIST) {
			FUZZ_ASSERT(r == 8);
			FUZZ_ASSERT(usbip_req_devlist_encode(out, sizeof(out)) == 8);
		} else {
			FUZZ_ASSERT(req.code == USBIP_OP_REQ_IMPORT && r == 40);
			FUZZ_ASSERT(strnlen(req.busid, sizeof(req.busid)) < sizeof(req.busid));
			FUZZ_ASSERT(memcmp(req.busid, data + 8, strlen(req.busid)) == 0);
			if (req.busid[0])
				FUZZ_ASSERT(usbip_req_import_encode(req.busid, out, sizeof(out)) == 40);
		}
	} else {
		check_refusal(r, &diag, size);
	}
}

static void fuzz_replies(const uint8_t *data, size_t size)
{
	struct ccid_diag diag = { 0, NULL };
	struct usbip_rep_import ri;
	struct usbip_rep_devlist rl;
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	static uint8_t out[USBIP_OP_REP_IMPORT_SIZE];
	int r;

	r = usbip_rep_import_decode(data, size, &ri, &diag);
	if (r >= 0) {
		FUZZ_ASSERT((size_t)r <= size);
		FUZZ_ASSERT(r == (ri.status ? 8 : 320));
		if (ri.status == 0)
			check_device(&ri.dev);
		FUZZ_ASSERT(usbip_rep_import_encode(ri.status, &ri.dev, out, sizeof(out)) == r);
		FUZZ_ASSERT(memcmp(out, data, 8) == 0);
	} else {
		check_refusal(r, &diag, size);
	}

	diag.expected = NULL;
	r = usbip_rep_devlist_decode(data, size, &rl, &diag);
	if (r >= 0) {
		size_t off = USBIP_OFF_DEVLIST_FIRST;

		FUZZ_ASSERT((size_t)r <= size);
		FUZZ_ASSERT(rl.ndev <= USBIP_MAX_DEVLIST);
		if (rl.status) {
			FUZZ_ASSERT(r == 8 && rl.ndev == 0);
			return;
		}
		/* A validated list walks to exactly the length the decoder returned. */
		for (uint32_t i = 0; i < rl.ndev; i++) {
			int e = usbip_devlist_entry_decode(data + off, (size_t)r - off, &d, intf, NULL);

			FUZZ_ASSERT(e > 0);
			check_device(&d);
			off += (size_t)e;
		}
		FUZZ_ASSERT(off == (size_t)r);
	} else {
		check_refusal(r, &diag, size);
	}
}

static void fuzz_records(const uint8_t *data, size_t size)
{
	struct ccid_diag diag = { 0, NULL };
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	static uint8_t out[USBIP_DEVLIST_ENTRY_MAX];
	int r;

	r = usbip_devlist_entry_decode(data, size, &d, intf, &diag);
	if (r >= 0) {
		FUZZ_ASSERT((size_t)r <= size);
		FUZZ_ASSERT(r == (int)(USBIP_DEVICE_SIZE + d.bNumInterfaces * USBIP_INTERFACE_SIZE));
		check_device(&d);
		FUZZ_ASSERT(usbip_devlist_entry_encode(&d, intf, out, sizeof(out)) == r);
		/* Interfaces re-encode byte for byte, except the ignored padding byte. */
		for (unsigned i = 0; i < d.bNumInterfaces; i++)
			FUZZ_ASSERT(memcmp(out + USBIP_DEVICE_SIZE + 4 * i,
					   data + USBIP_DEVICE_SIZE + 4 * i, 3) == 0);
	} else {
		check_refusal(r, &diag, size);
	}
	if (size >= USBIP_INTERFACE_SIZE)
		FUZZ_ASSERT(usbip_interface_decode(data, size, intf, NULL) == USBIP_INTERFACE_SIZE);
}

static void fuzz_header(const uint8_t *data, size_t size)
{
	struct ccid_diag diag = { 0, NULL };
	struct usbip_header h, again;
	struct usbip_setup st;
	uint8_t a[USBIP_HEADER_SIZE], b[USBIP_HEADER_SIZE], setup[8];
	int r;

	r = usbip_header_decode(data, size, &h, &diag);
	if (r < 0) {
		check_refusal(r, &diag, size);
		return;
	}
	FUZZ_ASSERT(r == USBIP_HEADER_SIZE && size >= USBIP_HEADER_SIZE);
	FUZZ_ASSERT(h.command >= USBIP_CMD_SUBMIT && h.command <= USBIP_RET_UNLINK);
	FUZZ_ASSERT(usbip_payload_length(&h, true) <= USBIP_MAX_TRANSFER);
	FUZZ_ASSERT(usbip_payload_length(&h, false) <= USBIP_MAX_TRANSFER);
	if (h.command == USBIP_CMD_SUBMIT) {
		FUZZ_ASSERT(h.ep <= 15 && h.direction <= 1);
		usbip_setup_decode(h.u.cmd_submit.setup, &st);
		usbip_setup_encode(&st, setup);
		FUZZ_ASSERT(memcmp(setup, h.u.cmd_submit.setup, 8) == 0);
	}
	fuzz_sink += strlen(usbip_command_name(h.command));
	/* Encode, decode, encode: a fixed point; the basic header is kept byte for byte. */
	FUZZ_ASSERT(usbip_header_encode(&h, a, sizeof(a)) == USBIP_HEADER_SIZE);
	FUZZ_ASSERT(memcmp(a, data, 0x14) == 0);
	FUZZ_ASSERT(usbip_header_decode(a, sizeof(a), &again, NULL) == USBIP_HEADER_SIZE);
	FUZZ_ASSERT(usbip_header_encode(&again, b, sizeof(b)) == USBIP_HEADER_SIZE);
	FUZZ_ASSERT(memcmp(a, b, sizeof(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_op(data, size);
	fuzz_replies(data, size);
	fuzz_records(data, size);
	fuzz_header(data, size);
	return 0;
}
