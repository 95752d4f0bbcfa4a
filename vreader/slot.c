/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PC_to_RDR commands of the virtual CCID reader (CCID 1.1 §6.1), per
 * slot: power, parameters, XfrBlock at the character (slot_char.c), TPDU,
 * short-APDU and extended-APDU levels (with wLevelParameter / bChainParameter chaining),
 * Escape, IccClock, T0APDU, Mechanical, Abort,
 * SetDataRateAndClockFrequency and, on readers with bPINSupport, Secure
 * (the keypad in pinpad.c: the command waits for the PIN typed, with time
 * extensions, then the APDU goes to the card at the reader's level); answers scheduled with time extensions while
 * the card works, and the faults armed on the slot applied to them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/bytes.h"
#include "vreader/device_priv.h"

#define MAX_DATA(d) (ccid_class_desc_max_message(&(d)->cfg.desc) - CCID_HEADER_SIZE)

void vdev_slot_reset_state(struct vdev *d, struct vslot *s)
{
	(void)d;
	free(s->work.answer);
	memset(&s->work, 0, sizeof(s->work));
	s->pin.active = false;
	s->abort_pending = false;
	s->cmd_len = 0;
	s->cmd_chaining = false;
	s->rsp_len = s->rsp_off = 0;
	s->last_answer_len = 0;
}

/* ---- faults ---- */

static bool fault_is_card_only(enum vdev_fault f)
{
	return f == VDEV_FAULT_MUTE || f == VDEV_FAULT_T1_EDC || f == VDEV_FAULT_REMOVE_MID_APDU;
}

/* The fault to apply to this answer (consumed), or NONE. */
static enum vdev_fault take_fault(struct vdev *d, struct vslot *s, bool card_command)
{
	enum vdev_fault f = s->fault;

	if (f == VDEV_FAULT_NONE || (fault_is_card_only(f) && !card_command))
		return VDEV_FAULT_NONE;
	if (s->fault_on && s->fault_on != s->cmd_type)
		return VDEV_FAULT_NONE;         /* it waits for another command */
	if (s->fault_left == 1) {
		s->fault = VDEV_FAULT_NONE;
		s->fault_left = 0;
	} else if (s->fault_left > 1) {
		s->fault_left--;
	}
	d->counters.errors_injected++;
	vdev_log(d, "slot %u: injecting %s", s->index, vdev_fault_name(f));
	return f;
}

/*
 * Whether the fault due for the command being answered refuses it (slot busy, hardware error):
 * such a command is not carried out.  Other faults spoil the answer to a command that was.
 */
static bool fault_refuses(const struct vslot *s)
{
	return (s->fault == VDEV_FAULT_SLOT_BUSY || s->fault == VDEV_FAULT_HW_ERROR)
	       && (!s->fault_on || s->fault_on == s->cmd_type);
}

static size_t build(struct vdev *d, const struct vslot *s, uint8_t *out, uint8_t type, uint8_t seq,
		    uint8_t cmd_status, uint8_t error, uint8_t b9, const uint8_t *data, size_t len)
{
	out[CCID_OFF_TYPE] = type;
	put_le32(out + CCID_OFF_LENGTH, (uint32_t)len);
	out[CCID_OFF_SLOT] = (uint8_t)s->index;
	out[CCID_OFF_SEQ] = seq;
	out[CCID_OFF_B7] = CCID_STATUS(cmd_status, vdev_icc_status(s));
	out[CCID_OFF_B8] = error;
	out[CCID_OFF_B9] = b9;
	if (len)
		memcpy(out + CCID_HEADER_SIZE, data, len);
	(void)d;
	return CCID_HEADER_SIZE + len;
}

static void schedule(struct vdev *d, struct vslot *s, uint8_t type, uint8_t seq, uint8_t *msg, size_t len,
		     int64_t due, int64_t now, bool remove_card)
{
	struct vwork *w = &s->work;

	free(w->answer);
	w->active = true;
	w->seq = seq;
	w->type = type;
	w->due = due;
	w->answer = msg;
	w->answer_len = len;
	w->remove_card = remove_card;
	w->next_te = d->cfg.time_extension_ms ? now + (int64_t)d->cfg.time_extension_ms * 1000 : VUSB_NEVER;
	if (due != VUSB_NEVER && w->next_te >= due)
		w->next_te = VUSB_NEVER;
}

void vdev_answer(struct vdev *d, struct vslot *s, uint8_t type, uint8_t seq, uint8_t cmd_status, uint8_t error,
		 uint8_t b9, const uint8_t *data, size_t len, uint32_t delay_ms, int64_t now)
{
	bool card_command = type == CCID_RDR_TO_PC_DATA_BLOCK;
	/* a PPS answer's fault is the card's, applied by xfr_tpdu to the PPS it waits for */
	enum vdev_fault f = s->fault == VDEV_FAULT_PPS_WRONG ? VDEV_FAULT_NONE : take_fault(d, s, card_command);
	enum vusb_in_action action = VUSB_IN_DATA;
	bool remove = false;
	int64_t due;
	uint8_t *msg;
	size_t n;

	switch (f) {
	case VDEV_FAULT_MUTE:
		cmd_status = CCID_CMD_FAILED;
		error = CCID_ERR_ICC_MUTE;
		len = 0;
		delay_ms = d->cfg.mute_ms;
		break;
	case VDEV_FAULT_HW_ERROR:
		cmd_status = CCID_CMD_FAILED;
		error = CCID_ERR_HW_ERROR;
		len = 0;
		vdev_hardware_error(d, s->index, now);
		break;
	case VDEV_FAULT_SLOT_BUSY:
		cmd_status = CCID_CMD_FAILED;
		error = CCID_ERR_CMD_SLOT_BUSY;
		len = 0;
		delay_ms = 0;
		break;
	case VDEV_FAULT_REMOVE_MID_APDU:
		cmd_status = CCID_CMD_FAILED;
		error = CCID_ERR_ICC_MUTE;
		len = 0;
		remove = true;
		if (delay_ms < 10)
			delay_ms = 10;
		break;
	case VDEV_FAULT_LATENCY:
		delay_ms += s->fault_arg;
		break;
	case VDEV_FAULT_DROP_CONNECTION:
		action = VUSB_IN_DROP_CONNECTION;
		break;
	case VDEV_FAULT_STALE_DUPLICATE:
		if (s->last_answer_len)
			vdev_queue_bulk(d, (int)s->index, s->last_answer, s->last_answer_len, VUSB_IN_DATA, true);
		break;
	case VDEV_FAULT_ZLP:
		d->zlp_pending = true;
		break;
	default:
		break;
	}

	msg = malloc(CCID_HEADER_SIZE + len);
	if (!msg)
		return;
	n = build(d, s, msg, type, seq, cmd_status, error, b9, data, len);
	if (remove)
		msg[CCID_OFF_B7] = CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_ABSENT);

	/* remember the genuine answer for a later STALE_DUPLICATE */
	if (n <= sizeof(s->last_answer)) {
		memcpy(s->last_answer, msg, n);
		s->last_answer_len = n;
	}

	switch (f) {
	case VDEV_FAULT_WRONG_SEQ:
		msg[CCID_OFF_SEQ]++;
		break;
	case VDEV_FAULT_TRUNCATED:
		n = n > CCID_HEADER_SIZE ? CCID_HEADER_SIZE + (n - CCID_HEADER_SIZE) / 2 : CCID_HEADER_SIZE / 2;
		break;
	case VDEV_FAULT_LENGTH_OVER:
		put_le32(msg + CCID_OFF_LENGTH, (uint32_t)len + 16);
		break;
	case VDEV_FAULT_LENGTH_HUGE:
		put_le32(msg + CCID_OFF_LENGTH, 0xFFFFFFF0u);
		break;
	case VDEV_FAULT_GARBAGE:
		for (size_t i = 0; i < n; i++)
			msg[i] = (uint8_t)vdev_random(d);
		break;
	case VDEV_FAULT_STALL:
		action = VUSB_IN_STALL;
		n = 0;
		break;
	default:
		break;
	}

	if (f == VDEV_FAULT_ENDLESS_WTX)
		due = VUSB_NEVER;
	else
		due = now + (int64_t)delay_ms * 1000;
	if (due <= now && action == VUSB_IN_DATA) {
		vdev_queue_bulk(d, (int)s->index, msg, n, action, true);
		free(msg);
		return;
	}
	if (action != VUSB_IN_DATA) {
		/* a STALL or a drop stands in for the answer, when it is due */
		vdev_queue_bulk(d, (int)s->index, msg, n, action, action == VUSB_IN_DROP_CONNECTION);
		free(msg);
		return;
	}
	schedule(d, s, type, seq, msg, n, due, now, remove);
}

/* Answer from a command whose own bSeq is refused before the slot is touched. */
static void refuse(struct vdev *d, struct vslot *s, uint8_t cmd_type, uint8_t seq, uint8_t error, int64_t now)
{
	uint8_t type = ccid_response_type(cmd_type);
	uint8_t msg[CCID_HEADER_SIZE];

	if (!type)
		type = CCID_RDR_TO_PC_SLOT_STATUS;
	build(d, s, msg, type, seq, CCID_CMD_FAILED, error, 0, NULL, 0);
	vdev_queue_bulk(d, (int)s->index, msg, sizeof(msg), VUSB_IN_DATA, true);
	(void)now;
}

static void pin_finish(struct vdev *d, struct vslot *s, enum vpin_result res, int64_t now);

void vdev_slot_advance(struct vdev *d, struct vslot *s, int64_t now)
{
	struct vwork *w = &s->work;

	if (!w->active)
		return;
	if (s->pin.active && w->seq == s->pin.seq && s->pin.deadline <= now) {
		pin_finish(d, s, vpin_expire(&s->pin), now);
		if (!w->active)
			return;
	}
	/* CCID §6.2.6: bmCommandStatus 2 with bError the BWT multiplier, while the card works. */
	while (w->next_te <= now && w->next_te < w->due) {
		uint8_t msg[CCID_HEADER_SIZE];

		build(d, s, msg, w->type, w->seq, CCID_CMD_TIME_EXTENSION, 1, 0, NULL, 0);
		vdev_queue_bulk(d, (int)s->index, msg, sizeof(msg), VUSB_IN_DATA, true);
		w->next_te += (int64_t)d->cfg.time_extension_ms * 1000;
	}
	if (w->due > now)
		return;
	if (w->remove_card && s->card) {
		vcard_free(s->card);
		s->card = NULL;
		s->powered = false;
		vdev_notify_change(d, s->index);
	}
	if (w->answer)
		vdev_queue_bulk(d, (int)s->index, w->answer, w->answer_len, VUSB_IN_DATA, true);
	free(w->answer);
	memset(w, 0, sizeof(*w));
}

int64_t vdev_slot_next_event(const struct vdev *d, const struct vslot *s)
{
	(void)d;
	if (!s->work.active)
		return VUSB_NEVER;
	return s->work.next_te < s->work.due ? s->work.next_te : s->work.due;
}

/* End the command in progress on s: it completes with CMD_ABORTED (CCID §5.3.1). */
static void abort_work(struct vdev *d, struct vslot *s)
{
	if (s->work.active) {
		uint8_t msg[CCID_HEADER_SIZE];

		build(d, s, msg, s->work.type, s->work.seq, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0, NULL, 0);
		free(s->work.answer);
		memset(&s->work, 0, sizeof(s->work));
		vdev_queue_bulk(d, (int)s->index, msg, sizeof(msg), VUSB_IN_DATA, true);
	}
	s->pin.active = false;
	s->cmd_len = 0;
	s->cmd_chaining = false;
	s->rsp_len = s->rsp_off = 0;
}

/*
 * CCID §5.3.1: the control ABORT ends the slot's current command; until the
 * bulk Abort with the same bSeq arrives, other commands fail CMD_ABORTED.
 */
void vdev_slot_abort_control(struct vdev *d, uint8_t slot, uint8_t seq, int64_t now)
{
	struct vslot *s;

	(void)now;
	if (slot >= d->nslots)
		return;
	s = &d->slots[slot];
	s->abort_pending = true;
	s->abort_seq = seq;
	abort_work(d, s);
}

/* ---- parameters ---- */

/* CCID §6.1.7: parameters derived from the card's ATR. */
static void default_params(struct vslot *s, const uint8_t *atr, size_t atr_len)
{
	struct ccid_atr a;
	uint8_t *p = s->params;

	memset(p, 0, sizeof(s->params));
	if (ccid_atr_parse_lenient(atr, atr_len, &a, NULL) < 0) {
		p[0] = 0x11;
		p[3] = s->protocol == CCID_PROTOCOL_T1 ? 0x4D : 0x0A;
		p[5] = 32;
		if (s->protocol == CCID_PROTOCOL_T1)
			p[1] = 0x10;
		return;
	}
	p[0] = (uint8_t)(a.Fi_index << 4 | a.Di_index);
	if (s->protocol == CCID_PROTOCOL_T1) {
		p[1] = (uint8_t)(0x10 | (a.edc == CCID_EDC_CRC ? 1 : 0) | (a.inverse ? 2 : 0));
		p[2] = a.N;
		p[3] = (uint8_t)(a.BWI << 4 | a.CWI);
		p[4] = 0;
		p[5] = a.IFSC;
		p[6] = 0;
	} else {
		p[1] = a.inverse ? 0x02 : 0x00;
		p[2] = a.N;
		p[3] = a.WI;
		p[4] = 0;
	}
}

/* Protocols the card's last ATR offers (bit n: T=n), and those the card runs. */
static uint16_t atr_protocols(const struct vslot *s)
{
	struct ccid_atr a;

	uint16_t p = ccid_atr_parse_lenient(s->atr, s->atr_len, &a, NULL) == 0 ? a.protocols : 0;

	/* and what a card whose ATR offers neither T=0 nor T=1 runs (card.h "Any ATR") */
	return (uint16_t)(p | (s->card ? s->card->cfg.protocols : 0));
}

static uint8_t params_len(const struct vslot *s)
{
	return s->protocol == CCID_PROTOCOL_T1 ? CCID_T1_PARAMS_LEN : CCID_T0_PARAMS_LEN;
}

/* ---- commands ---- */

static bool power_select_ok(const struct vdev *d, uint8_t sel)
{
	static const uint8_t bit[] = { 0, CCID_VOLTAGE_5V, CCID_VOLTAGE_3V, CCID_VOLTAGE_1V8 };

	if (sel == CCID_POWER_AUTO)
		return true;    /* automatic selection is always possible for a simulated card */
	return sel < 4 && (d->cfg.desc.bVoltageSupport & bit[sel]);
}

static void cmd_power_on(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	uint8_t atr[VCARD_ATR_MAX];
	bool warm = s->powered;
	int n;

	if (!s->card) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0, 0,
			    now);
		return;
	}
	if (!power_select_ok(d, m->power_on.bPowerSelect)) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B7, 0, NULL, 0, 0, now);
		return;
	}
	/* a card of another voltage class gives no ATR at this voltage (ISO 7816-3 §6.2.4) */
	if (d->cfg.card_voltages && m->power_on.bPowerSelect != CCID_POWER_AUTO
	    && !(d->cfg.card_voltages & (1u << (m->power_on.bPowerSelect - 1)))) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0,
			    d->cfg.mute_ms, now);
		return;
	}
	n = vcard_reset(s->card, warm, atr, sizeof(atr));
	if (n <= 0) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0,
			    d->cfg.mute_ms, now);
		return;
	}
	s->powered = true;
	s->clock_stopped = false;
	s->protocol = vcard_protocol(s->card);
	s->pps_window = true;
	s->cmd_len = 0;
	s->cmd_chaining = false;
	s->rsp_len = s->rsp_off = 0;
	memcpy(s->atr, atr, (size_t)n);
	s->atr_len = (size_t)n;
	default_params(s, atr, (size_t)n);
	vdev_log(d, "slot %u: %s reset, ATR %d bytes", s->index, warm ? "warm" : "cold", n);
	vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_OK, 0, 0, atr, (size_t)n, 0, now);
}

static void cmd_power_off(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	if (s->card)
		vcard_power_off(s->card);
	s->powered = false;
	s->clock_stopped = false;
	s->pps_window = false;
	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, 0, NULL, 0, 0, now);
}

static void cmd_slot_status(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	uint8_t clock = s->powered && s->clock_stopped ? 1 : 0;

	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, clock, NULL, 0, 0, now);
}

static void cmd_parameters(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	if (!s->card || !s->powered) {
		vdev_answer(d, s, CCID_RDR_TO_PC_PARAMETERS, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE,
			    s->protocol, NULL, 0, 0, now);
		return;
	}
	if (m->bMessageType == CCID_PC_TO_RDR_SET_PARAMETERS) {
		uint8_t proto = m->set_params.bProtocolNum;

		/* the card must offer the protocol (its ATR), CCID §6.1.7 */
		if (!(atr_protocols(s) & (1u << proto))) {
			vdev_answer(d, s, CCID_RDR_TO_PC_PARAMETERS, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B7,
				    s->protocol, s->params, params_len(s), 0, now);
			return;
		}
		s->protocol = proto;
		memset(s->params, 0, sizeof(s->params));
		memcpy(s->params, m->abData, m->dwLength);
	} else if (m->bMessageType == CCID_PC_TO_RDR_RESET_PARAMETERS) {
		s->protocol = vcard_protocol(s->card);
		default_params(s, s->atr, s->atr_len);
	}
	vdev_answer(d, s, CCID_RDR_TO_PC_PARAMETERS, m->bSeq, CCID_CMD_OK, 0, s->protocol, s->params,
		    params_len(s), 0, now);
}

/* The card's answer to one exchange at the TPDU level. */
static void xfr_tpdu(struct vdev *d, struct vslot *s, const struct ccid_msg *m, uint8_t *rsp, int64_t now)
{
	uint32_t work = 0;
	int n;

	if (s->pps_window && m->dwLength >= 1 && m->abData[0] == 0xFF) {
		/* ISO 7816-3 §9: PPS right after the ATR travels as raw bytes at TPDU level */
		s->pps_window = false;
		n = vcard_pps(s->card, m->abData, m->dwLength, rsp, CCID_MAX_DATA_LENGTH);
		if (n > 0)
			s->protocol = vcard_protocol(s->card);
		if (n > 2 && s->fault == VDEV_FAULT_PPS_WRONG && take_fault(d, s, true) == VDEV_FAULT_PPS_WRONG) {
			/* PPS0 names the other protocol, PCK still right: a wrong answer (§9.3) */
			rsp[1] ^= 0x01;
			rsp[n - 1] ^= 0x01;
		}
	} else if (s->protocol != vcard_protocol(s->card)) {
		/* the reader frames another protocol than the card runs (SetParameters without a PPS):
		   the card makes no sense of it and stays silent */
		vdev_log(d, "slot %u: the reader runs T=%u, the card T=%u: the card is mute", s->index, s->protocol,
			 vcard_protocol(s->card));
		s->pps_window = false;
		n = 0;
	} else {
		s->pps_window = false;
		if (s->protocol == CCID_PROTOCOL_T1) {
			n = vcard_t1_block(s->card, m->abData, m->dwLength, rsp, CCID_MAX_DATA_LENGTH, &work);
			if (n > 0 && s->fault == VDEV_FAULT_T1_EDC && take_fault(d, s, true) == VDEV_FAULT_T1_EDC)
				rsp[n - 1] ^= 0x5A;
		} else {
			n = vcard_t0_tpdu(s->card, m->abData, m->dwLength, rsp, CCID_MAX_DATA_LENGTH, &work);
		}
	}
	if (n <= 0) {
		/* the card stays silent: the reader reports a mute card after its timeout */
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0,
			    d->cfg.mute_ms, now);
		return;
	}
	if ((size_t)n > MAX_DATA(d)) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_XFR_OVERRUN, 0, NULL,
			    0, work, now);
		return;
	}
	vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_OK, 0, 0, rsp, (size_t)n, work, now);
}

/* Hand out the next part of a chained response APDU (CCID §6.2.1 bChainParameter). */
static void send_response_part(struct vdev *d, struct vslot *s, uint8_t seq, bool first, uint32_t work,
			       int64_t now)
{
	size_t left = s->rsp_len - s->rsp_off, n = left;
	uint8_t chain;

	if (n > MAX_DATA(d))
		n = MAX_DATA(d);
	if (first)
		chain = n == left ? CCID_CHAIN_BEGIN_END : CCID_CHAIN_BEGIN;
	else
		chain = n == left ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;
	vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_OK, 0, chain, s->rsp + s->rsp_off, n, work, now);
	s->rsp_off += n;
	if (s->rsp_off >= s->rsp_len)
		s->rsp_len = s->rsp_off = 0;
}

static void run_apdu(struct vdev *d, struct vslot *s, uint8_t seq, const uint8_t *apdu, size_t len, int64_t now)
{
	uint32_t work = 0;
	int n = vcard_apdu(s->card, apdu, len, s->rsp, CCID_MAX_DATA_LENGTH, &work);

	if (n < 2) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0,
			    d->cfg.mute_ms, now);
		return;
	}
	s->rsp_len = (size_t)n;
	s->rsp_off = 0;
	if (vdev_level(d) != CCID_LEVEL_EXTENDED_APDU && s->rsp_len > MAX_DATA(d)) {
		s->rsp_len = 0;
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_FAILED, CCID_ERR_XFR_OVERRUN, 0, NULL, 0,
			    work, now);
		return;
	}
	send_response_part(d, s, seq, true, work, now);
}

static void xfr_apdu(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	uint16_t level = m->xfr.wLevelParameter;
	bool extended = vdev_level(d) == CCID_LEVEL_EXTENDED_APDU;

	s->pps_window = false;
	if (!extended) {
		/* short APDU level: wLevelParameter is RFU (CCID §6.1.4) */
		if (level != 0) {
			vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B8, 0, NULL, 0, 0,
				    now);
			return;
		}
		run_apdu(d, s, m->bSeq, m->abData, m->dwLength, now);
		return;
	}
	switch (level) {
	case CCID_CHAIN_BEGIN_END:
		s->cmd_chaining = false;
		run_apdu(d, s, m->bSeq, m->abData, m->dwLength, now);
		return;
	case CCID_CHAIN_BEGIN:
		s->cmd_len = 0;
		s->cmd_chaining = true;
		__attribute__((fallthrough));
	case CCID_CHAIN_CONTINUE:
	case CCID_CHAIN_END:
		if (!s->cmd_chaining || s->cmd_len + m->dwLength > CCID_MAX_DATA_LENGTH) {
			s->cmd_chaining = false;
			vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B8, 0, NULL, 0, 0,
				    now);
			return;
		}
		if (m->dwLength)
			memcpy(s->cmd + s->cmd_len, m->abData, m->dwLength);
		s->cmd_len += m->dwLength;
		if (level != CCID_CHAIN_END) {
			/* empty DataBlock: the reader expects the next part (bChainParameter 10) */
			vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_OK, 0, CCID_CHAIN_EMPTY_NEXT, NULL,
				    0, 0, now);
			return;
		}
		s->cmd_chaining = false;
		run_apdu(d, s, m->bSeq, s->cmd, s->cmd_len, now);
		s->cmd_len = 0;
		return;
	case CCID_CHAIN_EMPTY_NEXT:
		if (!s->rsp_len || m->dwLength) {
			vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B8, 0, NULL, 0, 0,
				    now);
			return;
		}
		send_response_part(d, s, m->bSeq, false, 0, now);
		return;
	default:
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B8, 0, NULL, 0, 0, now);
		return;
	}
}

static void cmd_xfr_block(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	if (!s->card || !s->powered) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0, 0,
			    now);
		return;
	}
	if (vdev_level(d) == CCID_LEVEL_CHARACTER) {
		struct vdev_char_answer a;

		vdev_xfr_char(d, s, m, &a);
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, a.cmd_status, a.error, 0, s->rsp, a.len,
			    a.delay_ms, now);
	} else if (vdev_level(d) == CCID_LEVEL_TPDU)
		xfr_tpdu(d, s, m, s->rsp, now);
	else
		xfr_apdu(d, s, m, now);
}

static void cmd_escape(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	/* a real firmware's vendor command (vendor.c), else ours: echo the data back (uccid-vreader(1)) */
	if (!fault_refuses(s) && vdev_vendor_escape(d, m->abData, m->dwLength))
		vdev_answer(d, s, CCID_RDR_TO_PC_ESCAPE, m->bSeq, CCID_CMD_OK, 0, 0, NULL, 0, 0, now);
	else
		vdev_answer(d, s, CCID_RDR_TO_PC_ESCAPE, m->bSeq, CCID_CMD_OK, 0, 0, m->abData, m->dwLength, 0, now);
}

static void cmd_clock(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	if (!s->card || !s->powered) {
		vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0,
			    0, now);
		return;
	}
	s->clock_stopped = m->clock.bClockCommand == CCID_CLOCK_STOP;
	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, s->clock_stopped ? 1 : 0, NULL, 0, 0,
		    now);
}

static void cmd_t0apdu(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	enum ccid_exchange_level level = vdev_level(d);

	/* CCID §6.1.10: only for APDU-level readers */
	if (level != CCID_LEVEL_SHORT_APDU && level != CCID_LEVEL_EXTENDED_APDU) {
		vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_FAILED, CCID_ERR_CMD_NOT_SUPPORTED, 0,
			    NULL, 0, 0, now);
		return;
	}
	if (m->t0apdu.bmChanges & 1)
		s->class_get_response = m->t0apdu.bClassGetResponse;
	if (m->t0apdu.bmChanges & 2)
		s->class_envelope = m->t0apdu.bClassEnvelope;
	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, 0, NULL, 0, 0, now);
}

static void cmd_mechanical(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	uint32_t mech = d->cfg.desc.dwMechanical;
	uint8_t fn = m->mechanical.bFunction;
	static const uint32_t needs[] = {
		[CCID_MECH_ACCEPT] = CCID_MECHANICAL_ACCEPT, [CCID_MECH_EJECT] = CCID_MECHANICAL_EJECT,
		[CCID_MECH_CAPTURE] = CCID_MECHANICAL_CAPTURE, [CCID_MECH_LOCK] = CCID_MECHANICAL_LOCK,
		[CCID_MECH_UNLOCK] = CCID_MECHANICAL_LOCK,
	};

	if (!mech) {
		vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_FAILED, CCID_ERR_CMD_NOT_SUPPORTED, 0,
			    NULL, 0, 0, now);
		return;
	}
	if (!(mech & needs[fn])) {
		vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_FAILED, CCID_OFF_B7, 0, NULL, 0, 0, now);
		return;
	}
	switch (fn) {
	case CCID_MECH_EJECT:
	case CCID_MECH_CAPTURE:
		if (s->locked) {
			/* a card locked in cannot leave: the mechanism refuses */
			vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_FAILED, CCID_ERR_HW_ERROR, 0,
				    NULL, 0, 0, now);
			return;
		}
		if (s->card) {
			vcard_free(s->card);
			s->card = NULL;
			s->powered = false;
			vdev_notify_change(d, s->index);
			vdev_log(d, "slot %u: card %s", s->index, fn == CCID_MECH_EJECT ? "ejected" : "captured");
		}
		break;
	case CCID_MECH_LOCK:
		s->locked = s->card != NULL;
		break;
	case CCID_MECH_UNLOCK:
		s->locked = false;
		break;
	default:
		break;
	}
	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, 0, NULL, 0, 0, now);
}

static void cmd_abort(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	abort_work(d, s);
	s->abort_pending = false;
	vdev_answer(d, s, CCID_RDR_TO_PC_SLOT_STATUS, m->bSeq, CCID_CMD_OK, 0, 0, NULL, 0, 0, now);
}

static bool value_allowed(uint32_t v, const uint32_t *list, unsigned n, uint32_t lo, uint32_t hi)
{
	if (!n)
		return v >= lo && v <= hi;
	for (unsigned i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

static void cmd_set_rate(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	const struct ccid_class_desc *cd = &d->cfg.desc;
	uint32_t clock = get_le32(m->abData), rate = get_le32(m->abData + 4);
	uint8_t out[8];

	/* CCID §6.1.14: the reader answers with the values it applies. */
	if (!value_allowed(clock, d->cfg.clocks_khz, cd->bNumClockSupported, cd->dwDefaultClock, cd->dwMaximumClock))
		clock = cd->dwDefaultClock;
	if (!value_allowed(rate, d->cfg.data_rates, cd->bNumDataRatesSupported, cd->dwDataRate, cd->dwMaxDataRate))
		rate = cd->dwDataRate;
	put_le32(out, clock);
	put_le32(out + 4, rate);
	vdev_answer(d, s, CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY, m->bSeq, CCID_CMD_OK, 0, 0, out, 8, 0, now);
}

/* ---- PIN entry on the keypad (CCID §6.1.11) ---- */

/*
 * The APDU the keypad built goes to the card as the reader's level frames it:
 * at APDU levels as an APDU; at TPDU level under T=0 as a TPDU (a case-1
 * APDU gets P3 00); under T=1 in the I-block whose NAD and PCB the host gave
 * in bTeoPrologue, LEN and EDC the reader's (the card's answer block goes
 * back as it is, CCID §6.1.11).
 */
static void pin_to_card(struct vdev *d, struct vslot *s, const uint8_t *apdu, size_t n, int64_t now)
{
	uint32_t work = 0;
	int r;

	if (vdev_level(d) != CCID_LEVEL_TPDU) {
		run_apdu(d, s, s->pin.seq, apdu, n, now);
		return;
	}
	if (s->protocol == CCID_PROTOCOL_T1) {
		uint8_t blk[CCID_T1_BLOCK_MAX];
		enum ccid_edc edc = s->params[1] & 0x01 ? CCID_EDC_CRC : CCID_EDC_LRC;
		int bl = ccid_t1_block_encode(s->pin.p.bTeoPrologue[0], s->pin.p.bTeoPrologue[1], apdu, n, edc, blk,
					      sizeof(blk));

		/*
		 * The t1-edc fault garbles the card's answer block here too (the host recovers by
		 * XfrBlock); with ARG 1, the PIN block on its way to the card instead: the card asks for it
		 * again, and only the reader has the PIN.
		 */
		bool garble = s->fault == VDEV_FAULT_T1_EDC && (!s->fault_on || s->fault_on == CCID_PC_TO_RDR_SECURE);
		bool to_card = garble && s->fault_arg == 1;

		if (garble && to_card && bl > 0 && take_fault(d, s, true) == VDEV_FAULT_T1_EDC)
			blk[bl - 1] ^= 0x5A;
		r = bl < 0 ? bl : vcard_t1_block(s->card, blk, (size_t)bl, s->rsp, CCID_MAX_DATA_LENGTH, &work);
		if (garble && !to_card && r > 0 && take_fault(d, s, true) == VDEV_FAULT_T1_EDC)
			s->rsp[r - 1] ^= 0x5A;
	} else {
		uint8_t tpdu[VPIN_TEMPLATE_MAX + 2];

		memcpy(tpdu, apdu, n);
		if (n == 4)
			tpdu[n++] = 0;
		r = vcard_t0_tpdu(s->card, tpdu, n, s->rsp, CCID_MAX_DATA_LENGTH, &work);
	}
	if (r <= 0 || (size_t)r > MAX_DATA(d)) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, s->pin.seq, CCID_CMD_FAILED,
			    r <= 0 ? CCID_ERR_ICC_MUTE : CCID_ERR_XFR_OVERRUN, 0, NULL, 0, r <= 0 ? d->cfg.mute_ms : 0,
			    now);
		return;
	}
	vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, s->pin.seq, CCID_CMD_OK, 0, 0, s->rsp, (size_t)r, work, now);
}

/* The entry ended (res): answer the Secure command that waited for it. */
static void pin_finish(struct vdev *d, struct vslot *s, enum vpin_result res, int64_t now)
{
	static const uint8_t mismatch[] = { 0x64, 0x02 };   /* PC/SC part 10: the two new PINs differ */
	uint8_t apdu[VPIN_TEMPLATE_MAX + 2 * CCID_PIN_MAX_DIGITS];
	uint8_t seq = s->pin.seq;
	ssize_t n;

	if (res == VPIN_MORE) {
		/* the next PIN of a modification: its own time-out */
		s->work.due = s->pin.deadline;
		return;
	}
	free(s->work.answer);
	memset(&s->work, 0, sizeof(s->work));
	s->pin.active = false;
	vdev_log(d, "slot %u: PIN entry %s", s->index,
		 res == VPIN_DONE ? "complete" : res == VPIN_CANCELLED ? "cancelled"
					       : res == VPIN_TIMEOUT ? "timed out" : "confirmation differs");
	switch (res) {
	case VPIN_CANCELLED:
	case VPIN_TIMEOUT:
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_FAILED,
			    res == VPIN_CANCELLED ? CCID_ERR_PIN_CANCELLED : CCID_ERR_PIN_TIMEOUT, 0, NULL, 0, 0, now);
		return;
	case VPIN_MISMATCH:
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_OK, 0, 0, mismatch, sizeof(mismatch), 0, now);
		return;
	default:
		break;
	}
	n = vpin_apdu(&s->pin, apdu, sizeof(apdu));
	if (n < 0 || !s->card || !s->powered) {
		/* a PIN the template cannot take (it was checked when the entry began), or the card went */
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, seq, CCID_CMD_FAILED,
			    n < 0 ? CCID_OFF_DATA + 2 : CCID_ERR_ICC_MUTE, 0, NULL, 0, 0, now);
		return;
	}
	pin_to_card(d, s, apdu, (size_t)n, now);
}


/* The configured keypad_auto keys, pressed as the entry starts (a digit run digit by digit). */
static void press_auto_keys(struct vdev *d, struct vslot *s, int64_t now)
{
	char keys[sizeof(d->cfg.keypad_auto)], *save = NULL;

	snprintf(keys, sizeof(keys), "%s", d->cfg.keypad_auto);
	for (char *w = strtok_r(keys, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		bool digits = strspn(w, "0123456789") == strlen(w);

		for (size_t i = 0; digits && w[i]; i++) {
			char one[2] = { w[i], 0 };

			vdev_slot_keypad(d, s, one, now);
		}
		if (!digits)
			vdev_slot_keypad(d, s, w, now);
	}
}

static void cmd_secure(struct vdev *d, struct vslot *s, const struct ccid_msg *m, int64_t now)
{
	uint8_t need;
	int bad;

	if (!d->cfg.desc.bPINSupport) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_CMD_NOT_SUPPORTED, 0,
			    NULL, 0, 0, now);
		return;
	}
	if (!s->card || !s->powered) {
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0, NULL, 0, 0,
			    now);
		return;
	}
	/* one message: wLevelParameter 0 (CCID §6.1.11); the operation the reader declares */
	need = m->dwLength && m->abData[0] == CCID_PIN_OP_MODIFY ? CCID_PIN_MODIFY : CCID_PIN_VERIFY;
	if (m->xfr.wLevelParameter)
		bad = CCID_OFF_B8;
	else if (!(d->cfg.desc.bPINSupport & need))
		bad = CCID_OFF_DATA;
	else
		bad = vpin_start(&s->pin, m->abData, m->dwLength, m->bSeq, now, d->cfg.idVendor, d->cfg.idProduct);
	/* T=1 at TPDU level: the prologue must open an I-block whose LEN is the template's */
	if (!bad && vdev_level(d) == CCID_LEVEL_TPDU && s->protocol == CCID_PROTOCOL_T1) {
		if (s->pin.p.bTeoPrologue[1] & 0x80)
			bad = (int)(CCID_OFF_DATA + 1 + s->pin.p.teo_offset + 1);
		else if (s->pin.p.bTeoPrologue[2] != s->pin.p.apdu_len)
			bad = (int)(CCID_OFF_DATA + 1 + s->pin.p.teo_offset + 2);
	}
	if (bad) {
		s->pin.active = false;
		vdev_log(d, "slot %u: Secure refused: bad parameter at offset %d", s->index, bad);
		vdev_answer(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, CCID_CMD_FAILED, (uint8_t)bad, 0, NULL, 0, 0, now);
		return;
	}
	s->pps_window = false;
	{
		char what[64];

		vpin_describe(&s->pin, what, sizeof(what));
		vdev_log(d, "slot %u: keypad: waiting for the PIN (%s)", s->index, what);
	}
	/* nothing to send until the keypad has the PIN: time extensions meanwhile */
	schedule(d, s, CCID_RDR_TO_PC_DATA_BLOCK, m->bSeq, NULL, 0, s->pin.deadline, now, false);
	press_auto_keys(d, s, now);
}

int vdev_slot_keypad(struct vdev *d, struct vslot *s, const char *key, int64_t now)
{
	int res;

	if (!s->pin.active || !s->work.active || s->work.seq != s->pin.seq)
		return -ENOENT;
	res = vpin_key(&s->pin, key, now);
	if (res < 0)
		return res;
	pin_finish(d, s, (enum vpin_result)res, now);
	return 0;
}

static unsigned busy_slots(const struct vdev *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->nslots; i++)
		n += d->slots[i].work.active;
	return n;
}

void vdev_handle_command(struct vdev *d, const uint8_t *buf, size_t len, int64_t now)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	uint8_t type = buf[CCID_OFF_TYPE], slot = buf[CCID_OFF_SLOT], seq = buf[CCID_OFF_SEQ];
	struct vslot *s;
	int r;

	d->counters.commands++;
	if (slot >= d->nslots) {
		/* CCID §6.2.6: bError 5 = bSlot does not exist; reported as slot 0's journal */
		vdev_journal_add(d, 0, buf, len, true, false);
		d->counters.bad_commands++;
		s = &d->slots[0];
		{
			uint8_t msg[CCID_HEADER_SIZE];
			uint8_t rtype = ccid_response_type(type);

			build(d, s, msg, rtype ? rtype : CCID_RDR_TO_PC_SLOT_STATUS, seq, CCID_CMD_FAILED, CCID_OFF_SLOT,
			      0, NULL, 0);
			msg[CCID_OFF_SLOT] = slot;
			msg[CCID_OFF_B7] = CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_ABSENT);
			vdev_queue_bulk(d, 0, msg, sizeof(msg), VUSB_IN_DATA, true);
		}
		return;
	}
	s = &d->slots[slot];
	s->cmd_type = type;
	vdev_journal_add(d, slot, buf, len, true, type == CCID_PC_TO_RDR_ICC_POWER_ON && s->card && s->powered);
	vdev_log(d, "slot %u: %s seq %02X len %zu", slot, ccid_msg_type_name(type) ? ccid_msg_type_name(type) : "?",
		 seq, len);

	if (!ccid_is_command(type)) {
		d->counters.bad_commands++;
		refuse(d, s, type, seq, CCID_ERR_CMD_NOT_SUPPORTED, now);
		return;
	}
	r = ccid_msg_decode(buf, len, &m, &diag);
	if (r < 0) {
		/* CCID §6.2.6: bError is the offset of the bad parameter */
		d->counters.bad_commands++;
		refuse(d, s, type, seq, diag.offset > 0 && diag.offset < 0x80 ? (uint8_t)diag.offset : CCID_OFF_LENGTH,
		       now);
		return;
	}
	if (type == CCID_PC_TO_RDR_ABORT) {
		cmd_abort(d, s, &m, now);
		return;
	}
	if (s->abort_pending) {
		refuse(d, s, type, seq, CCID_ERR_CMD_ABORTED, now);
		return;
	}
	/* CCID §6.2.6: one command per slot; at most bMaxCCIDBusySlots slots busy */
	if (s->work.active || busy_slots(d) >= ccid_class_desc_busy_slots(&d->cfg.desc)) {
		refuse(d, s, type, seq, CCID_ERR_CMD_SLOT_BUSY, now);
		return;
	}

	switch (type) {
	case CCID_PC_TO_RDR_ICC_POWER_ON: cmd_power_on(d, s, &m, now); break;
	case CCID_PC_TO_RDR_ICC_POWER_OFF: cmd_power_off(d, s, &m, now); break;
	case CCID_PC_TO_RDR_GET_SLOT_STATUS: cmd_slot_status(d, s, &m, now); break;
	case CCID_PC_TO_RDR_GET_PARAMETERS:
	case CCID_PC_TO_RDR_RESET_PARAMETERS:
	case CCID_PC_TO_RDR_SET_PARAMETERS: cmd_parameters(d, s, &m, now); break;
	case CCID_PC_TO_RDR_XFR_BLOCK: cmd_xfr_block(d, s, &m, now); break;
	case CCID_PC_TO_RDR_ESCAPE: cmd_escape(d, s, &m, now); break;
	case CCID_PC_TO_RDR_ICC_CLOCK: cmd_clock(d, s, &m, now); break;
	case CCID_PC_TO_RDR_T0APDU: cmd_t0apdu(d, s, &m, now); break;
	case CCID_PC_TO_RDR_MECHANICAL: cmd_mechanical(d, s, &m, now); break;
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY: cmd_set_rate(d, s, &m, now); break;
	case CCID_PC_TO_RDR_SECURE: cmd_secure(d, s, &m, now); break;
	default:
		refuse(d, s, type, seq, CCID_ERR_CMD_NOT_SUPPORTED, now);
		break;
	}
}
