/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the virtual CCID reader's device model, driven in process
 * through its vusb_ops with a simulated clock: descriptors and control
 * requests, every PC_to_RDR command, APDUs at every exchange level (T=1
 * blocks through the codec's host engine, extended-APDU chaining), time
 * extensions, slot busy, abort, card events, every injected fault, the
 * journal, reader files, and the control interpreter.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "ccid/bytes.h"
#include "ccid/ccid.h"
#include "tests/testutil.h"
#include "vreader/control.h"
#include "vreader/device.h"

struct rig {
	struct vdev *d;
	int64_t now;
	uint8_t seq;
	unsigned time_extensions;
	uint8_t rsp[CCID_MAX_MESSAGE_LENGTH];
	size_t rsp_len;
	struct ccid_msg m;            /* the last answer, decoded */
};

static const struct vusb_ops *ops = &vdev_usb_ops;

static int control(struct rig *r, uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint16_t length,
		   uint8_t *in)
{
	uint8_t setup[8] = { type, req };
	static uint8_t scratch[4096];

	put_le16(setup + 2, value);
	put_le16(setup + 4, index);
	put_le16(setup + 6, length);
	return ops->control(r->d, setup, NULL, in ? in : scratch, in ? length : sizeof(scratch), r->now);
}

static struct rig *rig_from(const struct vdev_config *cfg)
{
	struct rig *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->d = vdev_new(cfg);
	ck_assert_ptr_nonnull(r->d);
	r->now = 1000000;
	ops->attach(r->d, r->now);
	ck_assert_int_eq(control(r, 0x00, 0x09, 1, 0, 0, NULL), 0);   /* SET_CONFIGURATION 1 */
	return r;
}

static struct rig *rig_new(enum vdev_profile p)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	return rig_from(&cfg);
}

static void rig_free(struct rig *r)
{
	ops->detach(r->d, r->now);
	vdev_free(r->d);
	free(r);
}

/* Poll bulk-IN for the next message, advancing the simulated clock; -EAGAIN if none within limit_ms. */
static int read_in(struct rig *r, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action,
		   int64_t limit_ms)
{
	int64_t end = r->now + limit_ms * 1000;

	for (int i = 0; i < 100000; i++) {
		int n = ops->in(r->d, ep, buf, cap, action, r->now);
		int64_t next;

		if (n != -EAGAIN)
			return n;
		next = ops->next_event(r->d, r->now);
		if (next == VUSB_NEVER || next > end)
			return -EAGAIN;
		r->now = next > r->now ? next : r->now + 1;
	}
	ck_abort_msg("device never settles");
	return -EAGAIN;
}

/* The next final answer (time extensions counted and skipped). */
static int wait_answer(struct rig *r)
{
	enum vusb_in_action action;
	int n;

	for (;;) {
		n = read_in(r, VDEV_BULK_IN, r->rsp, sizeof(r->rsp), &action, 120000);
		if (n < 0)
			return n;
		ck_assert_int_eq(action, VUSB_IN_DATA);
		r->rsp_len = (size_t)n;
		if (ccid_msg_decode(r->rsp, r->rsp_len, &r->m, NULL) < 0)
			return -EBADMSG;
		if (CCID_CMD_STATUS(r->m.rsp.bStatus) != CCID_CMD_TIME_EXTENSION)
			return n;
		r->time_extensions++;
	}
}

/* Send one message and return the final answer. */
static int xchg_raw(struct rig *r, const uint8_t *msg, size_t len)
{
	ck_assert_int_eq(ops->out(r->d, VDEV_BULK_OUT & 0x0F, msg, len, r->now), (int)len);
	return wait_answer(r);
}

static size_t build(uint8_t *b, uint8_t type, uint8_t slot, uint8_t seq, uint8_t b7, uint8_t b8, uint8_t b9,
		    const uint8_t *data, size_t len)
{
	b[0] = type;
	put_le32(b + 1, (uint32_t)len);
	b[5] = slot;
	b[6] = seq;
	b[7] = b7;
	b[8] = b8;
	b[9] = b9;
	if (len)
		memcpy(b + 10, data, len);
	return 10 + len;
}

static int cmd(struct rig *r, uint8_t type, uint8_t slot, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data,
	       size_t len)
{
	static uint8_t msg[CCID_MAX_MESSAGE_LENGTH];
	size_t n = build(msg, type, slot, ++r->seq, b7, b8, b9, data, len);
	int got = xchg_raw(r, msg, n);

	if (got >= 0) {
		ck_assert_uint_eq(r->m.bSeq, r->seq);
		ck_assert_uint_eq(r->m.bSlot, slot);
		ck_assert_uint_eq(r->m.bMessageType, ccid_response_type(type));
	}
	return got;
}

static bool ok(const struct rig *r)
{
	return CCID_CMD_STATUS(r->m.rsp.bStatus) == CCID_CMD_OK;
}

static void power_on(struct rig *r, uint8_t slot)
{
	struct ccid_atr atr;

	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ICC_POWER_ON, slot, 0, 0, 0, NULL, 0), 0);
	ck_assert_msg(ok(r), "power on failed: bError %02X", r->m.rsp.bError);
	ck_assert_int_eq(ccid_atr_parse(r->m.abData, r->m.dwLength, &atr, NULL), 0);
}

/* ---- APDU exchange at each level ---- */

struct apdu_rsp {
	uint8_t data[70000];
	size_t len;
};

static uint16_t sw(const struct apdu_rsp *a)
{
	return a->len >= 2 ? (uint16_t)(a->data[a->len - 2] << 8 | a->data[a->len - 1]) : 0;
}

/* T=1 through the codec's host engine, one block per XfrBlock (TPDU level). */
static struct ccid_t1 t1;

static void t1_start(struct rig *r)
{
	struct ccid_t1_config cfg = { .ifsc = 32, .ifsd = 254, .edc = CCID_EDC_LRC };
	uint8_t blk[CCID_T1_BLOCK_MAX];
	int n, st;

	(void)r;
	ccid_t1_init(&t1, &cfg);
	ck_assert_int_eq(ccid_t1_begin_ifsd(&t1, 254), CCID_T1_SEND);
	do {
		n = ccid_t1_next_block(&t1, blk, sizeof(blk));
		ck_assert_int_gt(n, 0);
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, blk, (size_t)n), 0);
		ck_assert(ok(r));
		st = ccid_t1_feed(&t1, r->m.abData, r->m.dwLength);
	} while (st == CCID_T1_SEND);
	ck_assert_int_eq(st, CCID_T1_DONE);
}

static void apdu(struct rig *r, enum vdev_profile p, const uint8_t *c, size_t len, struct apdu_rsp *a)
{
	a->len = 0;
	switch (p) {
	case VDEV_PROFILE_TPDU_T1:
	case VDEV_PROFILE_MECHANICAL: {
		uint8_t blk[CCID_T1_BLOCK_MAX];
		int n, st;

		ck_assert_int_eq(ccid_t1_begin(&t1, c, len, a->data, sizeof(a->data)), CCID_T1_SEND);
		do {
			n = ccid_t1_next_block(&t1, blk, sizeof(blk));
			ck_assert_int_gt(n, 0);
			ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, ccid_t1_wtx(&t1) > 1 ? (uint8_t)ccid_t1_wtx(&t1) : 0,
					     0, 0, blk, (size_t)n), 0);
			ck_assert_msg(ok(r), "XfrBlock failed: %02X", r->m.rsp.bError);
			st = ccid_t1_feed(&t1, r->m.abData, r->m.dwLength);
		} while (st == CCID_T1_SEND);
		ck_assert_int_eq(st, CCID_T1_DONE);
		a->len = ccid_t1_response_len(&t1);
		return;
	}
	case VDEV_PROFILE_TPDU_T0:
		/* The reader hides procedure bytes; 61xx asks for GET RESPONSE (ISO 7816-3 §10.3.3). */
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, c, len), 0);
		ck_assert(ok(r));
		memcpy(a->data, r->m.abData, r->m.dwLength);
		a->len = r->m.dwLength;
		while (sw(a) >> 8 == 0x61) {
			uint8_t gr[5] = { 0x00, 0xC0, 0x00, 0x00, (uint8_t)sw(a) };

			a->len -= 2;
			ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, gr, 5), 0);
			memcpy(a->data + a->len, r->m.abData, r->m.dwLength);
			a->len += r->m.dwLength;
		}
		return;
	case VDEV_PROFILE_EXTENDED_APDU: {
		size_t max = 271 - 10, off = 0;
		uint16_t level;

		/* CCID §6.1.4: wLevelParameter 1, 3, ..., 2 to send; 10 to fetch the rest */
		if (len <= max) {
			ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, c, len), 0);
		} else {
			for (off = 0; off < len; off += max) {
				size_t n = len - off < max ? len - off : max;

				level = off == 0 ? CCID_CHAIN_BEGIN : off + n == len ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;
				ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, (uint8_t)level, 0, c + off, n), 0);
				ck_assert(ok(r));
				if (level != CCID_CHAIN_END)
					ck_assert_uint_eq(r->m.rsp.b9, CCID_CHAIN_EMPTY_NEXT);
			}
		}
		for (;;) {
			ck_assert_msg(ok(r), "XfrBlock failed: %02X", r->m.rsp.bError);
			memcpy(a->data + a->len, r->m.abData, r->m.dwLength);
			a->len += r->m.dwLength;
			if (r->m.rsp.b9 == CCID_CHAIN_BEGIN_END || r->m.rsp.b9 == CCID_CHAIN_END)
				return;
			ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, CCID_CHAIN_EMPTY_NEXT, 0, NULL, 0), 0);
		}
	}
	default:
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, c, len), 0);
		ck_assert(ok(r));
		memcpy(a->data, r->m.abData, r->m.dwLength);
		a->len = r->m.dwLength;
		return;
	}
}

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };
static const uint8_t SELECT_EF[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01 };
static const uint8_t VERIFY_OK[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6' };
static const uint8_t VERIFY_BAD[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '6', '5', '4', '3', '2', '1' };
static const uint8_t VERIFY_STATE[] = { 0x00, 0x20, 0x00, 0x80 };
static const uint8_t READ_16[] = { 0x00, 0xB0, 0x00, 0x10, 0x10 };

static void session(enum vdev_profile p)
{
	struct rig *r = rig_new(p);
	struct apdu_rsp *a = malloc(sizeof(*a));
	static const size_t echo_sizes[] = { 1, 255, 256, 4096 };

	power_on(r, 0);
	if (p == VDEV_PROFILE_TPDU_T1 || p == VDEV_PROFILE_MECHANICAL)
		t1_start(r);
	apdu(r, p, SELECT_AID, sizeof(SELECT_AID), a);
	ck_assert_uint_eq(sw(a), 0x9000);
	apdu(r, p, VERIFY_BAD, sizeof(VERIFY_BAD), a);
	ck_assert_uint_eq(sw(a), 0x63C2);
	apdu(r, p, VERIFY_OK, sizeof(VERIFY_OK), a);
	ck_assert_uint_eq(sw(a), 0x9000);
	apdu(r, p, SELECT_EF, sizeof(SELECT_EF), a);
	ck_assert_uint_eq(sw(a), 0x9000);
	apdu(r, p, READ_16, sizeof(READ_16), a);
	ck_assert_uint_eq(sw(a), 0x9000);
	ck_assert_uint_eq(a->len, 18);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(a->data[i], (0x10 + i) & 0xFF);
	for (size_t k = 0; k < sizeof(echo_sizes) / sizeof(echo_sizes[0]); k++) {
		size_t n = echo_sizes[k];
		uint8_t c[8] = { 0x80, 0x10, 0x00, 0x00 };
		size_t clen;

		if (n > 256 && p != VDEV_PROFILE_EXTENDED_APDU && p != VDEV_PROFILE_TPDU_T1)
			continue;  /* needs extended APDUs */
		if (n <= 256) {
			c[4] = (uint8_t)n;
			clen = 5;
		} else {
			c[4] = 0;
			c[5] = (uint8_t)(n >> 8);
			c[6] = (uint8_t)n;
			clen = 7;
		}
		apdu(r, p, c, clen, a);
		ck_assert_msg(sw(a) == 0x9000, "%s ECHO %zu: SW %04X", vdev_profile_name(p), n, sw(a));
		ck_assert_uint_eq(a->len, n + 2);
		for (size_t i = 0; i < n; i++)
			ck_assert_uint_eq(a->data[i], i & 0xFF);
	}
	/* A warm reset (IccPowerOn on a powered card) loses the PIN state. */
	power_on(r, 0);
	if (p == VDEV_PROFILE_TPDU_T1 || p == VDEV_PROFILE_MECHANICAL)
		t1_start(r);
	apdu(r, p, VERIFY_STATE, sizeof(VERIFY_STATE), a);
	ck_assert_uint_eq(sw(a), 0x63C3);
	{
		struct vdev_journal_entry e[64];
		size_t n = vdev_journal(r->d, 0, 0, e, 64);
		unsigned warm = 0, cold = 0;

		for (size_t i = 0; i < n; i++)
			if (e[i].from_host && e[i].bMessageType == CCID_PC_TO_RDR_ICC_POWER_ON)
				e[i].warm ? warm++ : cold++;
		ck_assert_uint_eq(cold, 1);
		ck_assert_uint_eq(warm, 1);
	}
	free(a);
	rig_free(r);
}

START_TEST(test_session_profiles)
{
	static const enum vdev_profile profiles[] = {
		VDEV_PROFILE_TPDU_T0, VDEV_PROFILE_TPDU_T1, VDEV_PROFILE_SHORT_APDU,
		VDEV_PROFILE_EXTENDED_APDU, VDEV_PROFILE_MULTI_SLOT, VDEV_PROFILE_MECHANICAL,
	};

	session(profiles[_i]);
}
END_TEST

/* ---- USB side ---- */

START_TEST(test_descriptors)
{
	struct rig *r = rig_new((enum vdev_profile)_i);
	uint8_t buf[512];
	struct ccid_usb_device_desc dev;
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	struct ccid_class_desc cd;
	int n;

	n = control(r, 0x80, 0x06, 0x0100, 0, 18, buf);
	ck_assert_int_eq(n, 18);
	ck_assert_int_eq(ccid_usb_device_desc_parse(buf, 18, &dev, NULL), 0);
	ck_assert_uint_eq(dev.idVendor, 0x1209);
	n = control(r, 0x80, 0x06, 0x0200, 0, 9, buf);    /* the host asks for 9 bytes first */
	ck_assert_int_eq(n, 9);
	n = control(r, 0x80, 0x06, 0x0200, 0, get_le16(buf + 2), buf);
	ck_assert_int_eq(ccid_usb_config_parse(buf, (size_t)n, cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(cfg, buf, (size_t)n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.ep_bulk_in, VDEV_BULK_IN);
	ck_assert_uint_eq(ci.ep_bulk_out, VDEV_BULK_OUT);
	ck_assert_uint_eq(ci.ep_intr_in, VDEV_INTR_IN);
	ck_assert_int_eq(ccid_class_desc_parse(buf + ci.class_offset, 54, &cd, NULL), 0);
	ck_assert_int_eq(ccid_class_desc_validate(&cd, NULL, NULL, NULL), 0);
	/* strings: LANGID, then UTF-16LE */
	ck_assert_int_eq(control(r, 0x80, 0x06, 0x0300, 0, 255, buf), 4);
	n = control(r, 0x80, 0x06, 0x0301, 0x0409, 255, buf);
	ck_assert_int_eq(n, 2 + 2 * 5);
	ck_assert_uint_eq(buf[2], 'u');
	ck_assert_int_eq(control(r, 0x80, 0x06, 0x0304, 0x0409, 255, buf), -EPIPE);
	ck_assert_int_eq(control(r, 0x80, 0x06, 0x0600, 0, 10, buf), -EPIPE);   /* no device qualifier */
	/* CCID class requests (§5.3) */
	ck_assert_int_eq(control(r, 0xA1, 0x02, 0, 0, 256, buf), 4);
	ck_assert_uint_eq(get_le32(buf), 4000);
	ck_assert_int_eq(control(r, 0xA1, 0x03, 0, 0, 1024, buf), 28);
	ck_assert_uint_eq(get_le32(buf + 20), 250000);
	ck_assert_int_eq(control(r, 0xA1, 0x07, 0, 0, 4, buf), -EPIPE);
	ck_assert_int_eq(control(r, 0x40, 0x01, 0, 0, 0, NULL), -EPIPE);          /* vendor request */
	ck_assert_int_eq(control(r, 0x80, 0x08, 0, 0, 1, buf), 1);
	ck_assert_uint_eq(buf[0], 1);
	free(cfg);
	rig_free(r);
}
END_TEST

/* The host halts bulk-OUT (SET_FEATURE(ENDPOINT_HALT), USB 2.0 §9.4.9): commands STALL, unread, until cleared. */
START_TEST(test_halt_bulk_out)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum vusb_in_action action;
	uint8_t msg[CCID_HEADER_SIZE], buf[64];
	size_t m = build(msg, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0x42, 0, 0, 0, NULL, 0);

	ck_assert_int_eq(control(r, 0x82, 0x00, 0, VDEV_BULK_OUT, 2, buf), 2);    /* GET_STATUS */
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_int_eq(control(r, 0x02, 0x03, 0, VDEV_BULK_OUT, 0, NULL), 0);   /* SET_FEATURE(HALT) */
	ck_assert_int_eq(control(r, 0x82, 0x00, 0, VDEV_BULK_OUT, 2, buf), 2);
	ck_assert_uint_eq(buf[0], 1);
	ck_assert_int_eq(control(r, 0x82, 0x00, 0, VDEV_BULK_IN, 2, buf), 2);     /* bulk-IN is not halted */
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_int_eq(ops->out(r->d, VDEV_BULK_OUT & 0x0F, msg, m, r->now), -EPIPE);
	ck_assert_int_eq(read_in(r, VDEV_BULK_IN, buf, sizeof(buf), &action, 1000), -EAGAIN);  /* not executed */
	ck_assert_int_eq(control(r, 0x02, 0x01, 0, VDEV_BULK_OUT, 0, NULL), 0);   /* CLEAR_FEATURE(HALT) */
	ck_assert_int_eq(xchg_raw(r, msg, m), CCID_HEADER_SIZE);
	ck_assert_uint_eq(r->m.bSeq, 0x42);
	rig_free(r);
}
END_TEST

START_TEST(test_card_events)
{
	struct rig *r = rig_new(VDEV_PROFILE_TPDU_T1);
	enum vusb_in_action action;
	uint8_t buf[16];

	/* configured with a card: the first interrupt reports it present */
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 2);
	ck_assert_uint_eq(buf[0], 0x50);
	ck_assert_uint_eq(buf[1], 0x03);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), -EAGAIN);
	ck_assert_int_eq(vdev_remove_card(r->d, 0, r->now), 0);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 2);
	ck_assert_uint_eq(buf[1], 0x02);
	ck_assert_int_eq(vdev_remove_card(r->d, 0, r->now), -ENOENT);
	/* no card: ICC_MUTE with bmICCStatus 2 (CCID §6.2.6) */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ICC_POWER_ON, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x42);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_ICC_MUTE);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x02);
	ck_assert_int_eq(vdev_insert_card(r->d, 0, NULL, r->now), 0);
	ck_assert_int_eq(vdev_insert_card(r->d, 0, NULL, r->now), -EEXIST);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 2);
	ck_assert_uint_eq(buf[1], 0x03);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x01);
	/* HardwareError on demand */
	ck_assert_int_eq(vdev_hardware_error(r->d, 0, r->now), 0);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 4);
	ck_assert_uint_eq(buf[0], 0x51);
	ck_assert_uint_eq(buf[3], CCID_HW_ERROR_OVERCURRENT);
	rig_free(r);
}
END_TEST

/* ---- commands ---- */

START_TEST(test_bad_commands)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	uint8_t msg[400];
	size_t n;

	/* dwLength of a command without data: bError 1 (the offset of dwLength) */
	n = build(msg, CCID_PC_TO_RDR_ICC_POWER_ON, 0, 1, 0, 0, 0, (const uint8_t *)"x", 1);
	ck_assert_int_ge(xchg_raw(r, msg, n), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 1);
	ck_assert_uint_eq(CCID_CMD_STATUS(r->m.rsp.bStatus), CCID_CMD_FAILED);
	/* an RFU byte: its offset */
	n = build(msg, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 2, 0, 1, 0, NULL, 0);
	ck_assert_int_ge(xchg_raw(r, msg, n), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 8);
	ck_assert_uint_eq(r->m.bSeq, 2);
	/* no such slot: bError 5, bmICCStatus 2 */
	n = build(msg, CCID_PC_TO_RDR_GET_SLOT_STATUS, 3, 3, 0, 0, 0, NULL, 0);
	ck_assert_int_ge(xchg_raw(r, msg, n), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 5);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x42);
	ck_assert_uint_eq(r->m.bSlot, 3);
	/* unknown message type: CMD_NOT_SUPPORTED in a SlotStatus */
	n = build(msg, 0x64, 0, 4, 0, 0, 0, NULL, 0);
	ck_assert_int_ge(xchg_raw(r, msg, n), 0);
	ck_assert_uint_eq(r->m.bMessageType, CCID_RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_CMD_NOT_SUPPORTED);
	/* Secure without a PIN pad */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SECURE, 0, 0, 0, 0, (const uint8_t *)"\0", 1), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_CMD_NOT_SUPPORTED);
	/* a message over dwMaxCCIDMessageLength (271) */
	{
		static const uint8_t zeros[300];

		n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, 9, 0, 0, 0, zeros, sizeof(zeros));
	}
	ck_assert_int_ge(xchg_raw(r, msg, n), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 1);
	ck_assert_uint_eq(r->m.bSeq, 9);
	/* a short transfer that ends before dwLength: answered as a bad length */
	n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, 10, 0, 0, 0, READ_16, 5) + 15;
	put_le32(msg + 1, 20);
	ck_assert_int_ge(xchg_raw(r, msg, n - 5), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 1);
	/* XfrBlock to an unpowered card */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, READ_16, 5), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_ICC_MUTE);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x41);
	/* Mechanical on a reader without a mechanism */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_EJECT, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_CMD_NOT_SUPPORTED);
	/* wLevelParameter is RFU at short APDU level */
	power_on(r, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 1, 0, READ_16, 5), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 8);
	rig_free(r);
}
END_TEST

START_TEST(test_parameters)
{
	struct rig *r = rig_new(VDEV_PROFILE_TPDU_T1);
	static const uint8_t t0p[] = { 0x11, 0x00, 0x00, 0x0A, 0x00 };
	static const uint8_t t1p[] = { 0x96, 0x10, 0x00, 0x4D, 0x00, 0xFE, 0x00 };
	static const uint8_t pps[] = { 0xFF, 0x11, 0x96, 0x78 };

	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_ICC_MUTE);       /* not powered */
	power_on(r, 0);
	/* PPS right after the ATR, as raw bytes at TPDU level */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, pps, sizeof(pps)), 0);
	ck_assert(ok(r));
	ck_assert_uint_eq(r->m.dwLength, 4);
	ck_assert_mem_eq(r->m.abData, pps, 4);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	ck_assert_uint_eq(r->m.rsp.b9, CCID_PROTOCOL_T1);
	ck_assert_uint_eq(r->m.dwLength, 7);
	ck_assert_uint_eq(r->m.abData[0], 0x96);     /* TA1 */
	ck_assert_uint_eq(r->m.abData[3], 0x4D);     /* BWI 4 CWI 13 */
	ck_assert_uint_eq(r->m.abData[5], 32);       /* IFSC */
	/* the card offers no T=0: bError 7 (bProtocolNum) */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_PARAMETERS, 0, 0, 0, 0, t0p, sizeof(t0p)), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 7);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, t1p, sizeof(t1p)), 0);
	ck_assert(ok(r));
	ck_assert_mem_eq(r->m.abData, t1p, 7);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_RESET_PARAMETERS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	ck_assert_uint_eq(r->m.abData[5], 32);
	/* SetDataRateAndClockFrequency: what the reader applies */
	{
		uint8_t v[8];

		put_le32(v, 4000);
		put_le32(v + 4, 250000);
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY, 0, 0, 0, 0, v, 8), 0);
		ck_assert_uint_eq(get_le32(r->m.abData + 4), 250000);
		put_le32(v + 4, 12345);
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY, 0, 0, 0, 0, v, 8), 0);
		ck_assert_uint_eq(get_le32(r->m.abData + 4), 10752);
	}
	/* IccClock, Escape */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ICC_CLOCK, 0, CCID_CLOCK_STOP, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.b9, 1);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.b9, 1);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ICC_CLOCK, 0, CCID_CLOCK_RESTART, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.b9, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ESCAPE, 0, 0, 0, 0, (const uint8_t *)"\x01\x02\x03", 3), 0);
	ck_assert_uint_eq(r->m.dwLength, 3);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ICC_POWER_OFF, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x01);
	rig_free(r);
}
END_TEST

/*
 * A card offering T=0 (its default) and T=1 at TPDU level: the card runs
 * what the last PPS or reset gave it, and is mute while the reader frames
 * another protocol; pps-wrong makes its next PPS answer name the other one.
 */
START_TEST(test_protocol_switch)
{
	static const uint8_t t1p[] = { 0x96, 0x10, 0x00, 0x4D, 0x00, 0x20, 0x00 };
	static const uint8_t pps_t1[] = { 0xFF, 0x11, 0x96, 0x78 }, pps_t0[] = { 0xFF, 0x10, 0x96, 0x79 };
	uint8_t iblock[] = { 0x00, 0x00, 0x04, 0x00, 0x20, 0x00, 0x80, 0x00 };
	struct vdev_config cfg;
	struct ccid_pps agreed;
	struct rig *r;

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg), 0);
	cfg.desc.dwProtocols = CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1;
	vcard_config_default(&cfg.card, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg.card.ta1 = 0x96;
	r = rig_from(&cfg);
	iblock[7] = ccid_t1_lrc(iblock, 7);

	/* SetParameters for T=1 without a PPS: the card still runs T=0 and makes nothing of a block */
	power_on(r, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, t1p, sizeof(t1p)), 0);
	ck_assert(ok(r));
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, iblock, sizeof(iblock)), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_ICC_MUTE);

	/* with the PPS first, the block is answered */
	power_on(r, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, pps_t1, sizeof(pps_t1)), 0);
	ck_assert(ok(r));
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, t1p, sizeof(t1p)), 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, iblock, sizeof(iblock)), 0);
	ck_assert(ok(r));

	/* pps-wrong waits for a PPS (the ATR's answer passes), which then names the other protocol */
	ck_assert_int_eq(vdev_set_fault(r->d, 0, VDEV_FAULT_PPS_WRONG, 0, 1), 0);
	power_on(r, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, pps_t0, sizeof(pps_t0)), 0);
	ck_assert(ok(r));
	ck_assert_int_eq(ccid_pps_check(pps_t0, sizeof(pps_t0), r->m.abData, r->m.dwLength, &agreed, NULL),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(ccid_pps_parse(r->m.abData, r->m.dwLength, &agreed, NULL), 0);      /* PCK right */
	/* once */
	power_on(r, 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, pps_t0, sizeof(pps_t0)), 0);
	ck_assert_int_eq(ccid_pps_check(pps_t0, sizeof(pps_t0), r->m.abData, r->m.dwLength, &agreed, NULL), 0);
	rig_free(r);
}
END_TEST

/* SLOW: time extensions while the card works; a second command meets CMD_SLOT_BUSY. */
START_TEST(test_time_extension_and_busy)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	static const uint8_t slow[] = { 0x80, 0x12, 0x00, 0xC8 };     /* 200 x 10 ms */
	uint8_t msg[64];
	size_t n;
	int64_t t0;
	enum vusb_in_action action;

	power_on(r, 0);
	n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0x40, 0, 0, 0, slow, sizeof(slow));
	ck_assert_int_eq(ops->out(r->d, 2, msg, n, r->now), (int)n);
	t0 = r->now;
	/* while it works, a second command on the slot is refused at once */
	n = build(msg, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0x41, 0, 0, 0, NULL, 0);
	ck_assert_int_eq(ops->out(r->d, 2, msg, n, r->now), (int)n);
	ck_assert_int_eq(ops->in(r->d, VDEV_BULK_IN, r->rsp, sizeof(r->rsp), &action, r->now), 10);
	ck_assert_uint_eq(r->rsp[6], 0x41);
	ck_assert_uint_eq(r->rsp[8], CCID_ERR_CMD_SLOT_BUSY);
	r->seq = 0x3F;
	r->time_extensions = 0;
	ck_assert_int_ge(wait_answer(r), 0);
	ck_assert_uint_eq(r->m.bSeq, 0x40);
	ck_assert(ok(r));
	ck_assert_uint_eq(r->m.dwLength, 2);
	ck_assert_uint_eq(r->m.abData[0], 0x90);
	ck_assert_uint_ge(r->now - t0, 2000000);
	ck_assert_uint_eq(r->time_extensions, 3);   /* at 0.5, 1.0, 1.5 s */
	rig_free(r);
}
END_TEST

START_TEST(test_abort)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	static const uint8_t slow[] = { 0x80, 0x12, 0x01, 0x00 };
	uint8_t msg[64];
	size_t n;
	enum vusb_in_action action;

	power_on(r, 0);
	n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0x50, 0, 0, 0, slow, sizeof(slow));
	ck_assert_int_eq(ops->out(r->d, 2, msg, n, r->now), (int)n);
	/* CCID §5.3.1: ABORT request (wValue = bSeq << 8 | bSlot), then the bulk Abort */
	ck_assert_int_eq(control(r, 0x21, 0x01, 0x51 << 8 | 0, 0, 0, NULL), 0);
	ck_assert_int_eq(ops->in(r->d, VDEV_BULK_IN, r->rsp, sizeof(r->rsp), &action, r->now), 10);
	ck_assert_uint_eq(r->rsp[0], CCID_RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(r->rsp[6], 0x50);
	ck_assert_uint_eq(r->rsp[8], CCID_ERR_CMD_ABORTED);
	/* until the bulk Abort comes, commands fail CMD_ABORTED */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_CMD_ABORTED);
	r->seq = 0x50;
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ABORT, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	/* nothing else left in the pipe */
	ck_assert_int_eq(read_in(r, VDEV_BULK_IN, r->rsp, sizeof(r->rsp), &action, 5000), -EAGAIN);
	rig_free(r);
}
END_TEST

START_TEST(test_mechanical)
{
	struct rig *r = rig_new(VDEV_PROFILE_MECHANICAL);
	struct vdev_slot_status st;

	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_CAPTURE, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bError, 7);          /* capture is not declared */
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_LOCK, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	vdev_slot_status(r->d, 0, &st);
	ck_assert(st.locked);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_EJECT, 0, 0, NULL, 0), 0);
	ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_HW_ERROR);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_UNLOCK, 0, 0, NULL, 0), 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_MECHANICAL, 0, CCID_MECH_EJECT, 0, 0, NULL, 0), 0);
	ck_assert(ok(r));
	ck_assert_uint_eq(r->m.rsp.bStatus, 0x02);      /* the card left the slot */
	vdev_slot_status(r->d, 0, &st);
	ck_assert(!st.present);
	rig_free(r);
}
END_TEST

START_TEST(test_multi_slot)
{
	struct rig *r = rig_new(VDEV_PROFILE_MULTI_SLOT);
	static const uint8_t slow[] = { 0x80, 0x12, 0x00, 0x0A };   /* 100 ms */
	uint8_t msg[64];
	size_t n;
	enum vusb_in_action action;
	unsigned seen = 0;

	ck_assert_uint_eq(vdev_nslots(r->d), 4);
	for (uint8_t s = 0; s < 4; s++)
		power_on(r, s);
	/* two slots busy at once (bMaxCCIDBusySlots 2); a third is refused */
	for (uint8_t s = 0; s < 3; s++) {
		n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, s, (uint8_t)(0x60 + s), 0, 0, 0, slow, sizeof(slow));
		ck_assert_int_eq(ops->out(r->d, 2, msg, n, r->now), (int)n);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_ge(read_in(r, VDEV_BULK_IN, r->rsp, sizeof(r->rsp), &action, 5000), 10);
		ck_assert_int_eq(ccid_msg_decode(r->rsp, r->rsp[1] + 10u, &r->m, NULL), 0);
		ck_assert_uint_eq(r->m.bSeq, 0x60 + r->m.bSlot);   /* routed by slot and sequence */
		if (r->m.bSlot == 2)
			ck_assert_uint_eq(r->m.rsp.bError, CCID_ERR_CMD_SLOT_BUSY);
		else
			ck_assert(ok(r));
		seen |= 1u << r->m.bSlot;
	}
	ck_assert_uint_eq(seen, 7);
	rig_free(r);
}
END_TEST

/* ---- faults ---- */

static int fault_answer(struct rig *r, enum vdev_fault f, uint32_t arg, enum vusb_in_action *action,
			uint8_t *buf, size_t cap)
{
	uint8_t msg[64];
	size_t n;

	ck_assert_int_eq(vdev_set_fault(r->d, 0, f, arg, 1), 0);
	n = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, ++r->seq, 0, 0, 0, READ_16, 5);
	ck_assert_int_eq(ops->out(r->d, 2, msg, n, r->now), (int)n);
	return read_in(r, VDEV_BULK_IN, buf, cap, action, 2000);
}

START_TEST(test_faults)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum vusb_in_action action;
	uint8_t buf[512];
	int n;
	int64_t t0;

	power_on(r, 0);
	t0 = r->now;
	n = fault_answer(r, VDEV_FAULT_MUTE, 0, &action, buf, sizeof(buf));
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(buf[8], CCID_ERR_ICC_MUTE);
	ck_assert_uint_ge(r->now - t0, 100000);          /* mute_ms */

	n = fault_answer(r, VDEV_FAULT_WRONG_SEQ, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(buf[6], (uint8_t)(r->seq + 1));

	n = fault_answer(r, VDEV_FAULT_STALE_DUPLICATE, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(buf[6], (uint8_t)(r->seq - 1));   /* the previous answer again */
	n = read_in(r, VDEV_BULK_IN, buf, sizeof(buf), &action, 100);
	ck_assert_uint_eq(buf[6], r->seq);                  /* then the real one */

	n = fault_answer(r, VDEV_FAULT_ZLP, 0, &action, buf, sizeof(buf));
	ck_assert_int_eq(n, 0);
	n = read_in(r, VDEV_BULK_IN, buf, sizeof(buf), &action, 100);
	ck_assert_int_gt(n, 10);

	n = fault_answer(r, VDEV_FAULT_TRUNCATED, 0, &action, buf, sizeof(buf));
	ck_assert_int_lt(n, 10 + 18);
	ck_assert_int_lt(n, (int)(10 + get_le32(buf + 1)));

	n = fault_answer(r, VDEV_FAULT_LENGTH_OVER, 0, &action, buf, sizeof(buf));
	ck_assert_uint_gt(get_le32(buf + 1), (uint32_t)n - 10);

	n = fault_answer(r, VDEV_FAULT_LENGTH_HUGE, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(get_le32(buf + 1), 0xFFFFFFF0u);

	n = fault_answer(r, VDEV_FAULT_GARBAGE, 0, &action, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);

	n = fault_answer(r, VDEV_FAULT_SLOT_BUSY, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(buf[8], CCID_ERR_CMD_SLOT_BUSY);

	n = fault_answer(r, VDEV_FAULT_HW_ERROR, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(buf[8], CCID_ERR_HW_ERROR);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 2);   /* card present */
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 4);
	ck_assert_uint_eq(buf[0], 0x51);

	t0 = r->now;
	n = fault_answer(r, VDEV_FAULT_LATENCY, 300, &action, buf, sizeof(buf));
	ck_assert_int_gt(n, 10);
	ck_assert_uint_ge(r->now - t0, 300000);

	n = fault_answer(r, VDEV_FAULT_DROP_CONNECTION, 0, &action, buf, sizeof(buf));
	ck_assert_int_eq(action, VUSB_IN_DROP_CONNECTION);

	n = fault_answer(r, VDEV_FAULT_STALL, 0, &action, buf, sizeof(buf));
	ck_assert_int_eq(action, VUSB_IN_STALL);
	ck_assert_int_eq(control(r, 0x82, 0x00, 0, VDEV_BULK_IN, 2, buf), 2);
	ck_assert_uint_eq(buf[0], 1);                       /* halted */
	n = ops->in(r->d, VDEV_BULK_IN, buf, sizeof(buf), &action, r->now);
	ck_assert_int_eq(action, VUSB_IN_STALL);
	ck_assert_int_eq(control(r, 0x02, 0x01, 0, VDEV_BULK_IN, 0, NULL), 0);   /* CLEAR_FEATURE(HALT) */
	ck_assert_int_eq(ops->in(r->d, VDEV_BULK_IN, buf, sizeof(buf), &action, r->now), -EAGAIN);

	/* endless time extensions: bounded check, and the host can abort */
	ck_assert_int_eq(vdev_set_fault(r->d, 0, VDEV_FAULT_ENDLESS_WTX, 0, 1), 0);
	{
		uint8_t msg[32];
		size_t m = build(msg, CCID_PC_TO_RDR_XFR_BLOCK, 0, ++r->seq, 0, 0, 0, READ_16, 5);

		ck_assert_int_eq(ops->out(r->d, 2, msg, m, r->now), (int)m);
		for (int i = 0; i < 20; i++) {
			ck_assert_int_eq(read_in(r, VDEV_BULK_IN, buf, sizeof(buf), &action, 1000), 10);
			ck_assert_uint_eq(buf[7] >> 6, CCID_CMD_TIME_EXTENSION);
		}
		ck_assert_int_eq(control(r, 0x21, 0x01, 0x77 << 8, 0, 0, NULL), 0);
		ck_assert_int_eq(read_in(r, VDEV_BULK_IN, buf, sizeof(buf), &action, 10), 10);
		ck_assert_uint_eq(buf[8], CCID_ERR_CMD_ABORTED);
		r->seq = 0x76;
		ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_ABORT, 0, 0, 0, 0, NULL, 0), 0);
		ck_assert(ok(r));
	}

	/* the card pulled mid-APDU: ICC_MUTE with no card, and a NotifySlotChange */
	n = fault_answer(r, VDEV_FAULT_REMOVE_MID_APDU, 0, &action, buf, sizeof(buf));
	ck_assert_uint_eq(buf[7], 0x42);
	ck_assert_uint_eq(buf[8], CCID_ERR_ICC_MUTE);
	ck_assert_int_eq(read_in(r, VDEV_INTR_IN, buf, sizeof(buf), &action, 10), 2);
	ck_assert_uint_eq(buf[1], 0x02);
	{
		struct vdev_counters k;

		vdev_counters(r->d, &k);
		ck_assert_uint_eq(k.errors_injected, 15);
	}
	rig_free(r);
}
END_TEST

START_TEST(test_fault_t1_edc)
{
	struct rig *r = rig_new(VDEV_PROFILE_TPDU_T1);
	struct apdu_rsp *a = malloc(sizeof(*a));
	struct ccid_t1_block blk;
	uint8_t iblock[] = { 0x00, 0x00, 0x04, 0x00, 0x20, 0x00, 0x80, 0x00 };

	power_on(r, 0);
	t1_start(r);
	/* raw block: the card's answer arrives with a broken EDC */
	iblock[7] = ccid_t1_lrc(iblock, 7);
	ck_assert_int_eq(vdev_set_fault(r->d, 0, VDEV_FAULT_T1_EDC, 0, 1), 0);
	ck_assert_int_ge(cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, 0, iblock, sizeof(iblock)), 0);
	ck_assert_int_eq(ccid_t1_block_decode(r->m.abData, r->m.dwLength, CCID_EDC_LRC, &blk, NULL), -EPROTO);
	/* and the host engine recovers through R-blocks */
	ck_assert_int_eq(vdev_set_fault(r->d, 0, VDEV_FAULT_T1_EDC, 0, 1), 0);
	t1_start(r);
	apdu(r, VDEV_PROFILE_TPDU_T1, SELECT_AID, sizeof(SELECT_AID), a);
	ck_assert_uint_eq(sw(a), 0x9000);
	free(a);
	rig_free(r);
}
END_TEST

/* ---- reader files and the control interpreter ---- */

START_TEST(test_reader_files)
{
	static const char *const files[] = { "ACR38U-CCID.txt", "ACS_ACR1581.txt", "Gemalto_Ezio_Shield.txt" };
	const char *dir = getenv("UCCID_TEST_DATA");

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096], err[256] = "";
		struct vdev_config cfg;
		struct rig *r;

		snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", files[i]);
		if (access(path, R_OK) < 0)
			continue;
		ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s", err);
		r = rig_from(&cfg);
		power_on(r, 0);
		rig_free(r);
	}
	{
		char err[256];
		struct vdev_config cfg;

		ck_assert_int_eq(vdev_config_from_reader_file("/nonexistent", &cfg, err, sizeof(err)), -ENOENT);
		ck_assert_ptr_nonnull(strstr(err, "/nonexistent"));
	}
}
END_TEST

START_TEST(test_control)
{
	struct rig *r = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct vctl_reader readers[1] = { { .dev = r->d, .busid = "1-1" } };
	struct vctl *c = vctl_new(readers, 1);
	char *out = malloc(1 << 20);
	unsigned cur = 0;

	ck_assert_int_eq(vctl_execute(c, &cur, "status", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "slot 0: card"));
	ck_assert_int_eq(vctl_execute(c, &cur, "remove 0", out, 1 << 20, r->now), 0);
	ck_assert_int_lt(vctl_execute(c, &cur, "remove", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "error: slot 0 is empty"));
	ck_assert_int_eq(vctl_execute(c, &cur, "insert", out, 1 << 20, r->now), 0);
	ck_assert_int_lt(vctl_execute(c, &cur, "insert 7", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "error: no slot '7'"));
	ck_assert_int_eq(vctl_execute(c, &cur, "fault latency 50 count=2", out, 1 << 20, r->now), 0);
	ck_assert_int_lt(vctl_execute(c, &cur, "fault latency", out, 1 << 20, r->now), 0);
	ck_assert_int_lt(vctl_execute(c, &cur, "fault frobnicate", out, 1 << 20, r->now), 0);
	ck_assert_int_eq(vctl_execute(c, &cur, "status", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "fault=latency"));
	ck_assert_int_eq(vctl_execute(c, &cur, "fault clear", out, 1 << 20, r->now), 0);
	power_on(r, 0);
	ck_assert_int_eq(vctl_execute(c, &cur, "journal 0", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "host PC_to_RDR_IccPowerOn"));
	ck_assert_ptr_nonnull(strstr(out, "reader RDR_to_PC_DataBlock"));
	ck_assert_ptr_nonnull(strstr(out, "ok 2 entries"));
	ck_assert_int_eq(vctl_execute(c, &cur, "journal 0 1", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "ok 1 entries"));
	ck_assert_int_eq(vctl_execute(c, &cur, "counters", out, 1 << 20, r->now), 0);
	ck_assert_ptr_nonnull(strstr(out, "commands=1 answers=1"));
	ck_assert_int_lt(vctl_execute(c, &cur, "reader 1-9", out, 1 << 20, r->now), 0);
	ck_assert_int_lt(vctl_execute(c, &cur, "", out, 1 << 20, r->now), 0);
	ck_assert_int_eq(vctl_execute(c, &cur, "quit", out, 1 << 20, r->now), 1);
	vctl_free(c);
	free(out);
	rig_free(r);
}
END_TEST

/* ---- vdev_reset: a used device answers as a new one ---- */

/* What d says to a fixed probe, appended to log: control replies, every slot's GetSlotStatus and
   power-on answers as raw bytes, interrupt-IN, and the journal and counters after them. */
static void probe(struct vdev *d, char *log, size_t cap)
{
	static const char *const before[] = { "status", "faults", "journal 0", "counters" };
	static const char *const after[] = { "status", "journal 0", "counters" };
	struct vctl_reader rd = { .dev = d, .busid = "1-1" };
	struct vctl *c = vctl_new(&rd, 1);
	char *out = malloc(1 << 20);
	size_t len = strlen(log);
	unsigned cur = 0;
	int64_t now = 5000000;
	uint8_t setup[8] = { 0x00, 0x09, 1 };   /* SET_CONFIGURATION 1 */
	static uint8_t buf[CCID_MAX_MESSAGE_LENGTH];

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		vctl_execute(c, &cur, before[i], out, 1 << 20, now);
		len += (size_t)snprintf(log + len, cap - len, "%s: %s\n", before[i], out);
	}
	ops->attach(d, now);
	ck_assert_int_eq(ops->control(d, setup, NULL, buf, sizeof(buf), now), 0);
	for (unsigned slot = 0; slot < vdev_nslots(d); slot++) {
		for (uint8_t type = CCID_PC_TO_RDR_GET_SLOT_STATUS; type; type = type == CCID_PC_TO_RDR_GET_SLOT_STATUS ?
		     CCID_PC_TO_RDR_ICC_POWER_ON : 0) {
			uint8_t msg[CCID_HEADER_SIZE] = { type, 0, 0, 0, 0, (uint8_t)slot, 7 };
			enum vusb_in_action act;
			int n;

			ck_assert_int_eq(ops->out(d, VDEV_BULK_OUT & 0x0F, msg, sizeof(msg), now), (int)sizeof(msg));
			for (int i = 0; i < 1000; i++) {
				int64_t next;

				n = ops->in(d, VDEV_BULK_IN, buf, sizeof(buf), &act, now);
				if (n >= 0) {
					len += (size_t)snprintf(log + len, cap - len, "in %d %d:", (int)act, n);
					for (int k = 0; k < n && len + 4 < cap; k++)
						len += (size_t)snprintf(log + len, cap - len, " %02X", buf[k]);
					len += (size_t)snprintf(log + len, cap - len, "\n");
					continue;
				}
				next = ops->next_event(d, now);
				if (next == VUSB_NEVER || next > now + 2000000)
					break;
				now = next > now ? next : now + 1;
			}
		}
	}
	for (int i = 0; i < 4; i++) {
		enum vusb_in_action act;
		int n = ops->in(d, VDEV_INTR_IN, buf, sizeof(buf), &act, now);

		len += (size_t)snprintf(log + len, cap - len, "intr %d\n", n);
	}
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
		vctl_execute(c, &cur, after[i], out, 1 << 20, now);
		len += (size_t)snprintf(log + len, cap - len, "%s: %s\n", after[i], out);
	}
	ck_assert_uint_lt(len, cap - 1);
	ops->detach(d, now);
	vctl_free(c);
	free(out);
}

START_TEST(test_reset)
{
	static char fresh[1 << 20], reset[1 << 20];
	struct vdev_config cfg;
	struct rig *r;
	unsigned cur = 0;
	char out[4096];

	ck_assert_int_eq(vdev_profile_config((enum vdev_profile)_i, &cfg), 0);
	fresh[0] = reset[0] = '\0';
	r = rig_from(&cfg);
	probe(r->d, fresh, sizeof(fresh));
	rig_free(r);

	/* a life that leaves everything vdev_reset must forget: cards moved, a fault, an ATR,
	   powered slots, answers not read, journal and counters */
	r = rig_new((enum vdev_profile)_i);
	{
		struct vctl_reader rd = { .dev = r->d, .busid = "1-1" };
		struct vctl *c = vctl_new(&rd, 1);
		static const char *const life[] = { "remove 0", "insert 0", "atr 0 3B 00", "counters" };

		ck_assert_ptr_nonnull(c);
		for (size_t i = 0; i < sizeof(life) / sizeof(life[0]); i++)
			vctl_execute(c, &cur, life[i], out, sizeof(out), r->now);
		vctl_free(c);
	}
	for (unsigned slot = 0; slot < vdev_nslots(r->d); slot++)
		power_on(r, (uint8_t)slot);
	if (vdev_nslots(r->d) > 1)
		ck_assert_int_eq(vdev_remove_card(r->d, 1, r->now), 0);
	{
		struct vcard_config other = cfg.card;   /* a card of another ATR in slot 0 */

		other.hist_len = 2;
		other.hist[0] = 0x42, other.hist[1] = 0x43;
		ck_assert_int_eq(vdev_remove_card(r->d, 0, r->now), 0);
		ck_assert_int_eq(vdev_insert_card(r->d, 0, &other, r->now), 0);
		power_on(r, 0);
	}
	ck_assert_int_eq(vdev_set_fault(r->d, 0, VDEV_FAULT_MUTE, 0, 0), 0);
	{
		uint8_t msg[CCID_HEADER_SIZE] = { CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, 0, 9 };

		ck_assert_int_eq(ops->out(r->d, VDEV_BULK_OUT & 0x0F, msg, sizeof(msg), r->now), (int)sizeof(msg));
	}
	ck_assert_int_eq(vdev_reset(r->d), 0);
	ops->detach(r->d, r->now);
	probe(r->d, reset, sizeof(reset));
	ck_assert_str_eq(reset, fresh);
	vdev_free(r->d);
	free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vdevice");
	TCase *tc;

	tc = tcase_create("usb");
	/* the CCID profiles (the ICCD tokens' descriptors are check_iccd_session's) */
	tcase_add_loop_test(tc, test_descriptors, 0, VDEV_PROFILE_ICCD_A);
	tcase_add_test(tc, test_card_events);
	tcase_add_test(tc, test_halt_bulk_out);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_add_loop_test(tc, test_session_profiles, 0, 6);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_test(tc, test_bad_commands);
	tcase_add_test(tc, test_parameters);
	tcase_add_test(tc, test_protocol_switch);
	tcase_add_test(tc, test_time_extension_and_busy);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_mechanical);
	tcase_add_test(tc, test_multi_slot);
	suite_add_tcase(s, tc);
	tc = tcase_create("faults");
	tcase_add_test(tc, test_faults);
	tcase_add_test(tc, test_fault_t1_edc);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_reader_files);
	tcase_add_test(tc, test_control);
	tcase_add_loop_test(tc, test_reset, 0, VDEV_PROFILE_ICCD_A);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
