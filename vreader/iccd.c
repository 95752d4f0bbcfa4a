/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device side of USB ICCD (rev 1.0; ccid/iccd.h): a token with one slot
 * that takes its commands as class requests on the control pipe instead of
 * CCID messages on bulk pipes.  It works the card of slot 0, so the control
 * socket's card events, faults and status apply to it as to a CCID reader.
 *
 * Version A (bInterfaceProtocol 1), T=0-like: XFR_BLOCK brings a command
 * header (CLA INS P1 P2 P3); GET_ICC_STATUS then says 10h (data phase): the
 * host sends the P3 data bytes with XFR_BLOCK, or reads the response data
 * with DATA_BLOCK; then 20h: DATA_BLOCK gives SW1 SW2, and the token is
 * ready (00h) for the next header.  While the card works, the status is 40h
 * (busy); with no powered card 80h (mute).
 *
 * Version B (bInterfaceProtocol 2), APDU level: XFR_BLOCK brings an APDU or
 * a part of one (wValue's high byte: the level parameter, CCID §6.1.4); DATA_BLOCK gives
 * the answer — bResponseType 00h/01h/02h/03h with data (parts of at most
 * wLength - 1 bytes; the host asks for the next with XFR_BLOCK 10h), 10h
 * (send the next part), 40h status information (bStatus, bError as CCID
 * §6.2.6), or 80h "poll again in wDelayTime × 10 ms" while the card works.
 *
 * Faults: MUTE (no ATR, no answer), LATENCY (the card works arg ms longer:
 * busy / poll), ENDLESS_WTX (busy for ever), GARBAGE (a status byte or
 * bResponseType no ICCD token sends).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/iccd.h"
#include "vreader/device_priv.h"

#define A_HDR 5

static void reset_exchange(struct vdev_iccd *x)
{
	x->a_state = CCID_ICCD_A_READY;
	x->have_hdr = false;
	x->cmd_len = 0;
	x->rsp_len = x->rsp_off = 0;
	x->pending = false;
	x->busy_until = 0;
}

/* The fault armed on slot 0 that ICCD knows, consumed as an answer would consume it. */
static enum vdev_fault take(struct vdev *d, struct vslot *s)
{
	enum vdev_fault f = s->fault;

	if (f != VDEV_FAULT_MUTE && f != VDEV_FAULT_LATENCY && f != VDEV_FAULT_ENDLESS_WTX && f != VDEV_FAULT_GARBAGE)
		return VDEV_FAULT_NONE;
	if (s->fault_left && --s->fault_left == 0)
		s->fault = VDEV_FAULT_NONE;
	d->counters.errors_injected++;
	vdev_log(d, "iccd: injecting %s", vdev_fault_name(f));
	return f;
}

/* The card starts working on a command: busy until its work time (and injected latency f) has passed. */
static void busy_for(struct vdev *d, struct vslot *s, enum vdev_fault f, uint32_t work_ms, int64_t now)
{
	d->iccd.garbage = f == VDEV_FAULT_GARBAGE;
	if (f == VDEV_FAULT_LATENCY)
		work_ms += s->fault_arg;
	d->iccd.busy_until = f == VDEV_FAULT_ENDLESS_WTX ? VUSB_NEVER : now + (int64_t)work_ms * 1000;
}

static void work(struct vdev *d, struct vslot *s, uint32_t work_ms, int64_t now)
{
	busy_for(d, s, take(d, s), work_ms, now);
}

static bool busy(const struct vdev *d, int64_t now)
{
	return now < d->iccd.busy_until;
}

static int copy_in(uint8_t *in, size_t in_cap, uint16_t wLength, const uint8_t *src, size_t n)
{
	if (n > wLength)
		n = wLength;
	if (n > in_cap)
		n = in_cap;
	memcpy(in, src, n);
	return (int)n;
}

static int power_on(struct vdev *d, struct vslot *s, uint8_t *atr, size_t cap, int64_t now)
{
	enum vdev_fault f;
	int n;

	reset_exchange(&d->iccd);
	f = s->card ? take(d, s) : VDEV_FAULT_NONE;
	if (!s->card || f == VDEV_FAULT_MUTE)
		return -ENODEV;
	n = vcard_reset(s->card, false, atr, cap);
	if (n <= 0)
		return -ENODEV;
	busy_for(d, s, f, 0, now);
	s->powered = true;
	s->protocol = vcard_protocol(s->card);
	d->counters.commands++;
	vdev_log(d, "iccd: power on, ATR %d bytes", n);
	return n;
}

static void power_off(struct vdev *d, struct vslot *s)
{
	reset_exchange(&d->iccd);
	if (s->card)
		vcard_power_off(s->card);
	s->powered = false;
	d->counters.commands++;
}

/* ---- version A ---- */

/* Run the command (header, and data when dlen) on the card: the response to hand out. */
static int a_run(struct vdev *d, struct vslot *s, const uint8_t *data, size_t dlen, int64_t now)
{
	struct vdev_iccd *x = &d->iccd;
	uint8_t tpdu[A_HDR + 255];
	uint32_t work_ms = 0;
	int n;

	memcpy(tpdu, x->hdr, A_HDR);
	if (dlen)
		memcpy(tpdu + A_HDR, data, dlen);
	n = s->protocol == CCID_PROTOCOL_T1 ? vcard_apdu(s->card, tpdu, A_HDR + dlen, x->rsp, VCARD_RSP_MAX, &work_ms)
					    : vcard_t0_tpdu(s->card, tpdu, A_HDR + dlen, x->rsp, VCARD_RSP_MAX, &work_ms);
	if (n < 2)
		return -EPIPE;
	x->rsp_len = (size_t)n;
	x->rsp_off = 0;
	x->have_hdr = false;
	d->counters.commands++;
	work(d, s, work_ms, now);
	/* response data first (DATA_BLOCK in the data phase), then the status bytes */
	x->a_state = x->rsp_len > 2 ? CCID_ICCD_A_DATA : CCID_ICCD_A_SW;
	return 0;
}

static int a_xfr(struct vdev *d, struct vslot *s, const uint8_t *data, uint16_t len, int64_t now)
{
	struct vdev_iccd *x = &d->iccd;
	size_t p3;

	if (!s->powered || busy(d, now))
		return -EPIPE;
	if (x->a_state == CCID_ICCD_A_READY && !x->have_hdr) {
		if (len != A_HDR)
			return -EPIPE;
		memcpy(x->hdr, data, A_HDR);
		x->have_hdr = true;
		x->a_state = CCID_ICCD_A_DATA;
		return 0;
	}
	/* the command's data: exactly P3 bytes, after a header */
	p3 = x->hdr[4];
	if (!x->have_hdr || len != p3 || len == 0)
		return -EPIPE;
	return a_run(d, s, data, len, now);
}

static int a_data(struct vdev *d, struct vslot *s, uint8_t *in, size_t in_cap, uint16_t wLength, int64_t now)
{
	struct vdev_iccd *x = &d->iccd;
	size_t n;

	if (!s->powered || busy(d, now))
		return -EPIPE;
	if (x->have_hdr) {
		/* no data from the host: a command that answers (ISO 7816-3 §10.3.2 case 1 or 2) */
		if (a_run(d, s, NULL, 0, now) < 0)
			return -EPIPE;
		if (x->a_state == CCID_ICCD_A_SW)
			return 0;            /* no response data; the status bytes follow */
	}
	if (x->a_state == CCID_ICCD_A_DATA) {
		/* response data; what the card works after is served as busy before the status bytes */
		n = x->rsp_len - 2 - x->rsp_off;
		n = (size_t)copy_in(in, in_cap, wLength, x->rsp + x->rsp_off, n);
		x->rsp_off += n;
		if (x->rsp_off == x->rsp_len - 2)
			x->a_state = CCID_ICCD_A_SW;
		return (int)n;
	}
	if (x->a_state == CCID_ICCD_A_SW && wLength >= 2 && in_cap >= 2) {
		memcpy(in, x->rsp + x->rsp_len - 2, 2);
		x->a_state = CCID_ICCD_A_READY;
		x->rsp_len = x->rsp_off = 0;
		return 2;
	}
	return -EPIPE;
}

static uint8_t a_status(struct vdev *d, struct vslot *s, int64_t now)
{
	if (d->iccd.garbage) {
		d->iccd.garbage = false;
		return 0x01;                 /* no version A token sends this */
	}
	/*
	 * No card (a token made with --no-card) is mute.  An unpowered card is not: a real token
	 * answers as ready after ICC_POWER_OFF — libccid powers tokens off at open and then takes
	 * 80h for "no card", and it drives them — so its state tells nothing of power.
	 */
	if (!s->card)
		return CCID_ICCD_A_MUTE;
	if (!s->powered)
		return CCID_ICCD_A_READY;
	if (busy(d, now))
		return CCID_ICCD_A_BUSY;
	return (uint8_t)d->iccd.a_state;
}

/* ---- version B ---- */

static void b_status_answer(struct vdev *d, struct vslot *s, uint8_t cmd_status, uint8_t error)
{
	d->iccd.pending = true;
	d->iccd.pending_status = true;
	d->iccd.bStatus = CCID_STATUS(cmd_status, vdev_icc_status(s));
	d->iccd.bError = error;
}

/* The card's response is ready to be handed out by DATA_BLOCK. */
static void b_data_answer(struct vdev *d)
{
	d->iccd.pending = true;
	d->iccd.pending_status = false;
	d->iccd.rsp_off = 0;
	d->iccd.next_part = false;
}

static int b_xfr(struct vdev *d, struct vslot *s, uint16_t level, const uint8_t *data, uint16_t len, int64_t now)
{
	struct vdev_iccd *x = &d->iccd;
	uint32_t work_ms = 0;
	int n;

	if (busy(d, now))
		return -EPIPE;
	if (!s->card || !s->powered) {
		b_status_answer(d, s, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE);
		return 0;
	}
	if (level == 0x0010) {
		/* the host wants the next part of the response */
		if (len || !x->rsp_len || x->rsp_off >= x->rsp_len)
			return -EPIPE;
		x->pending = true;
		x->pending_status = false;
		x->next_part = true;
		return 0;
	}
	if (level == 0x0000 || level == 0x0001)
		x->cmd_len = 0;
	else if (!x->chaining)
		return -EPIPE;               /* a continuation without a beginning */
	if (x->cmd_len + len > VCARD_APDU_MAX)
		return -EPIPE;
	if (len)
		memcpy(x->cmd + x->cmd_len, data, len);
	x->cmd_len += len;
	if (level == 0x0001 || level == 0x0003) {
		x->chaining = true;
		x->pending = true;
		x->pending_status = false;
		x->rsp_len = 0;              /* DATA_BLOCK answers 10h: the next part please */
		return 0;
	}
	x->chaining = false;
	n = vcard_apdu(s->card, x->cmd, x->cmd_len, x->rsp, VCARD_RSP_MAX, &work_ms);
	x->cmd_len = 0;
	if (n < 2) {
		b_status_answer(d, s, CCID_CMD_FAILED, CCID_ERR_XFR_PARITY_ERROR);
		return 0;
	}
	x->rsp_len = (size_t)n;
	d->counters.commands++;
	work(d, s, work_ms, now);
	b_data_answer(d);
	return 0;
}

static int b_data(struct vdev *d, struct vslot *s, uint8_t *in, size_t in_cap, uint16_t wLength, int64_t now)
{
	struct vdev_iccd *x = &d->iccd;
	struct ccid_iccd_b_answer a = { 0 };
	size_t room, n;
	int64_t left;

	if (in_cap < CCID_ICCD_B_DATA_MIN)
		return -EPIPE;
	room = (wLength < in_cap ? wLength : in_cap) - 1;
	if (x->garbage) {
		x->garbage = false;
		in[0] = 0x20;                /* no such bResponseType */
		in[1] = 0x90;
		in[2] = 0x00;
		return 3;
	}
	if (x->pending && busy(d, now)) {
		a.bResponseType = CCID_ICCD_B_POLL;
		left = x->busy_until == VUSB_NEVER ? 100 : (x->busy_until - now + 9999) / 10000;
		a.wDelayTime = (uint16_t)(left > 100 ? 100 : left);
		d->counters.time_extensions++;
		return ccid_iccd_b_answer_encode(&a, in, in_cap);
	}
	if (!x->pending) {
		/* nothing asked: what the slot is */
		a.bResponseType = CCID_ICCD_B_STATUS;
		a.bStatus = CCID_STATUS(CCID_CMD_OK, vdev_icc_status(s));
		return ccid_iccd_b_answer_encode(&a, in, in_cap);
	}
	if (x->pending_status) {
		x->pending = false;
		a.bResponseType = CCID_ICCD_B_STATUS;
		a.bStatus = x->bStatus;
		a.bError = x->bError;
		return ccid_iccd_b_answer_encode(&a, in, in_cap);
	}
	if (!x->rsp_len) {
		x->pending = false;
		a.bResponseType = CCID_ICCD_B_DATA_NEXT;
		return ccid_iccd_b_answer_encode(&a, in, in_cap);
	}
	n = x->rsp_len - x->rsp_off;
	if (n > room) {
		n = room;
		a.bResponseType = x->rsp_off ? CCID_ICCD_B_DATA_CONTINUE : CCID_ICCD_B_DATA_BEGIN;
	} else {
		a.bResponseType = x->rsp_off ? CCID_ICCD_B_DATA_END : CCID_ICCD_B_DATA;
	}
	a.abData = x->rsp + x->rsp_off;
	a.len = n;
	x->rsp_off += n;
	x->pending = false;
	if (x->rsp_off == x->rsp_len)
		x->rsp_len = x->rsp_off = 0;
	return ccid_iccd_b_answer_encode(&a, in, in_cap);
}

/* ---- requests ---- */

int vdev_iccd_control(struct vdev *d, const uint8_t setup[8], const uint8_t *data, uint8_t *in, size_t in_cap,
		      int64_t now)
{
	struct vslot *s = &d->slots[0];
	uint8_t version = d->cfg.iccd, atr[CCID_ATR_MAX], b;
	struct ccid_iccd_setup q;
	struct ccid_diag diag = { 0 };
	int n;

	if (!d->iccd.rsp || !d->iccd.cmd)
		return -EPIPE;
	/* the card went out or off (control socket, power off): its answers went with it */
	if (!s->powered && d->iccd.pending && !d->iccd.pending_status)
		reset_exchange(&d->iccd);
	if (ccid_iccd_setup_decode(version, setup, 8, &q, &diag) < 0 || q.wIndex != 0) {
		d->counters.bad_commands++;
		vdev_log(d, "iccd: request %02X %02X refused: byte %zu, expected %s", setup[0], setup[1], diag.offset,
			 diag.expected ? diag.expected : "interface 0");
		return -EPIPE;
	}
	switch (q.bRequest) {
	case CCID_ICCD_ICC_POWER_ON:
		n = power_on(d, s, atr, sizeof(atr), now);
		if (version == CCID_ICCD_VERSION_A)
			return n < 0 ? -EPIPE : copy_in(in, in_cap, q.wLength, atr, (size_t)n);
		if (n < 0) {
			b_status_answer(d, s, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE);
		} else {
			memcpy(d->iccd.rsp, atr, (size_t)n);
			d->iccd.rsp_len = (size_t)n;
			b_data_answer(d);
		}
		return 0;
	case CCID_ICCD_ICC_POWER_OFF:
		power_off(d, s);
		return 0;
	case CCID_ICCD_XFR_BLOCK:
		return version == CCID_ICCD_VERSION_A ? a_xfr(d, s, data, q.wLength, now)
						      : b_xfr(d, s, q.wValue >> 8, data, q.wLength, now);
	case CCID_ICCD_DATA_BLOCK:
		return version == CCID_ICCD_VERSION_A ? a_data(d, s, in, in_cap, q.wLength, now)
						      : b_data(d, s, in, in_cap, q.wLength, now);
	case CCID_ICCD_GET_ICC_STATUS:
		b = a_status(d, s, now);
		return copy_in(in, in_cap, q.wLength, &b, 1);
	case CCID_ICCD_SLOT_STATUS: {
		uint8_t st[3] = { CCID_ICCD_B_STATUS, CCID_STATUS(CCID_CMD_OK, vdev_icc_status(s)), 0 };

		return copy_in(in, in_cap, q.wLength, st, sizeof(st));
	}
	default:
		return -EPIPE;
	}
}

int vdev_iccd_init(struct vdev *d)
{
	if (!d->cfg.iccd)
		return 0;
	if ((d->cfg.iccd != CCID_ICCD_VERSION_A && d->cfg.iccd != CCID_ICCD_VERSION_B) || d->nslots != 1) {
		errno = EINVAL;      /* a token has one slot */
		return -EINVAL;
	}
	d->iccd.rsp = malloc(VCARD_RSP_MAX);
	d->iccd.cmd = malloc(VCARD_APDU_MAX);
	if (!d->iccd.rsp || !d->iccd.cmd)
		return -ENOMEM;
	reset_exchange(&d->iccd);
	return 0;
}

void vdev_iccd_free(struct vdev *d)
{
	free(d->iccd.rsp);
	free(d->iccd.cmd);
	d->iccd.rsp = d->iccd.cmd = NULL;
}
