/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card activation for a slot: IccPowerOn with voltage selection (the
 * reader's automatic selection, or 5 V -> 3 V -> 1.8 V over the voltages
 * bVoltageSupport declares), the ATR checked by the codec, then protocol
 * negotiation exactly as dwFeatures asks (CCID 1.1 §5.1, ISO 7816-3 §9):
 * nothing when the reader negotiates itself (40), SetParameters only when it
 * does PPS itself (80), otherwise PPS at TPDU or character level and
 * SetParameters; for T=1 at those levels the host's S(IFS) unless the reader
 * does it (400).
 * One function (negotiate) does it for a power-up, which picks T=1 when the
 * card offers it, and for a later protocol selection (uccid_set_protocol),
 * which warm resets the card first: a PPS may only follow an ATR.
 * Also power off, warm and cold reset, and slot status.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session/session_priv.h"

#define POWER_MS 20000           /* one IccPowerOn: the ATR may take long at 372 clk/etu */
#define COMMAND_MS 5000

static bool card_powered(struct uccid_reader *r, struct uslot *s)
{
	bool powered;

	reader_lock(r);
	powered = s->card.powered;
	reader_unlock(r);
	return powered;
}

/* 1 = the reader's bPowerSelect for v, or 0 if the reader cannot supply v. */
static uint8_t power_select(const struct uccid_reader *r, enum uccid_voltage v)
{
	static const uint8_t need[] = { 0, CCID_VOLTAGE_5V, CCID_VOLTAGE_3V, CCID_VOLTAGE_1V8 };

	if (v == UCCID_VOLTAGE_AUTO)
		return CCID_POWER_AUTO;
	return r->desc.bVoltageSupport & need[v] ? (uint8_t)v : 0xFF;
}

static int power_on_once(struct uccid_reader *r, struct uslot *s, uint8_t sel, struct ccid_msg *m, uint8_t *ans,
			 size_t cap)
{
	uint8_t msg[CCID_HEADER_SIZE];
	int rc;

	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_ICC_POWER_ON, sel, 0, 0, NULL, 0), ans,
			cap, POWER_MS, m);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		return uccid_answer_error(r, s, m);
	return 0;
}

/* Is rate (bps) one the reader runs at: in its GET_DATA_RATES list (2 % tolerance), else up to the maximum. */
static bool rate_ok(const struct uccid_reader *r, uint64_t rate)
{
	if (r->nrates) {
		for (unsigned i = 0; i < r->nrates; i++)
			if (rate * 50 >= (uint64_t)r->rates[i] * 49 && rate * 50 <= (uint64_t)r->rates[i] * 51)
				return true;
		return false;
	}
	return !r->desc.dwMaxDataRate || rate <= r->desc.dwMaxDataRate + r->desc.dwMaxDataRate / 50;
}

/*
 * Fi/Di to ask for: TA1 when the reader can run at that rate (ISO 7816-3
 * §7.1: f x D / F bps), else TA1's F with the largest lower D it can run, else
 * the defaults (11).
 */
static uint8_t choose_fidi(const struct uccid_reader *r, const struct ccid_atr *a)
{
	if (!a->Fi || !a->Di || (a->Fi_index == 1 && a->Di_index == 1))
		return 0x11;
	for (uint8_t di = a->Di_index; di >= 1 && di <= 9; di--) {
		uint8_t D = ccid_di(di);

		if (D && D <= a->Di && rate_ok(r, (uint64_t)r->clock_khz * 1000 * D / a->Fi))
			return (uint8_t)(a->Fi_index << 4 | di);
	}
	return 0x11;
}

/* PPS at TPDU level: the request travels as raw bytes in an XfrBlock (ISO 7816-3 §9.2). */
static int do_pps(struct uccid_reader *r, struct uslot *s, uint8_t proto, uint8_t fidi)
{
	uint8_t req[CCID_PPS_MAX], msg[CCID_HEADER_SIZE + CCID_PPS_MAX], ans[64];
	struct ccid_pps pps;
	struct ccid_diag diag = { 0 };
	struct ccid_msg m;
	int n, rc;

	n = ccid_pps_build(proto, fidi == 0x11 ? NULL : &fidi, NULL, NULL, req, sizeof(req));
	if (n < 0)
		return n;
	if (r->level == CCID_LEVEL_CHARACTER)
		rc = uccid_char_pps(r, s, req, (size_t)n, ans, sizeof(ans), &m);
	else
		rc = uccid_xchg(r, s, msg,
				uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, req, (size_t)n), ans,
				sizeof(ans), COMMAND_MS, &m);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		return uccid_answer_error(r, s, &m);
	rc = ccid_pps_check(req, (size_t)n, m.abData, m.dwLength, &pps, &diag);
	if (rc < 0) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: PPS refused: %s at byte %zu (%s)", s->index, strerror(-rc),
			  diag.offset, diag.expected ? diag.expected : "");
		return -EPROTO;
	}
	uccid_log(r, UCCID_LOG_INFO, "slot %u: PPS T=%u Fi/Di %02X accepted", s->index, proto,
		  pps.has_pps1 ? pps.pps1 : 0x11);
	return pps.has_pps1 ? pps.pps1 : 0x11;
}

static int set_parameters(struct uccid_reader *r, struct uslot *s, uint8_t proto, uint8_t fidi)
{
	const struct ccid_atr *a = &s->atrp;
	uint8_t p[CCID_T1_PARAMS_LEN], msg[CCID_HEADER_SIZE + CCID_T1_PARAMS_LEN], ans[64];
	struct ccid_msg m;
	size_t n;
	int rc;

	/* CCID §6.1.7: the protocol data structure from the ATR */
	if (proto == CCID_PROTOCOL_T1) {
		p[0] = fidi;
		p[1] = (uint8_t)(0x10 | (a->edc == CCID_EDC_CRC ? 1 : 0) | (a->inverse ? 2 : 0));
		p[2] = a->N;
		p[3] = (uint8_t)((a->BWI > 9 ? 9 : a->BWI) << 4 | a->CWI);
		p[4] = 0;
		p[5] = a->IFSC;
		p[6] = 0;
		n = CCID_T1_PARAMS_LEN;
	} else {
		p[0] = fidi;
		p[1] = a->inverse ? 0x02 : 0x00;
		p[2] = a->N;
		p[3] = a->WI;
		p[4] = 0;
		n = CCID_T0_PARAMS_LEN;
	}
	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_SET_PARAMETERS, proto, 0, 0, p, n), ans,
			sizeof(ans), COMMAND_MS, &m);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		return uccid_answer_error(r, s, &m);
	return 0;
}

/* Card timing for the exchange timeouts (ISO 7816-3 §10.2, §11.4.3). */
static void card_timing(struct uccid_reader *r, struct uslot *s, uint8_t fidi)
{
	uint16_t F = ccid_fi(fidi >> 4);
	uint8_t D = ccid_di(fidi & 0x0F);
	uint64_t wwt = ccid_wwt_us(s->atrp.WI, F ? F : CCID_FD, r->clock_khz);
	uint64_t bwt = ccid_bwt_us(s->atrp.BWI, F ? F : CCID_FD, D ? D : CCID_DD, r->clock_khz);

	s->wwt_ms = (uint32_t)(wwt / 1000) + 1;
	s->bwt_ms = (uint32_t)(bwt / 1000) + 1;
}

/*
 * T=1 at TPDU or character level: the host's side of the protocol for a card whose IFSC
 * and EDC are known, and the host's S(IFS) announcing IFSD unless the reader
 * does it (dwFeatures 400; ISO 7816-3 §11.4.2: a card that does not answer
 * keeps 32).  resume: the card's block numbering is unknown (ccid/t1.h).
 */
static int t1_start(struct uccid_reader *r, struct uslot *s, uint8_t ifsc, enum ccid_edc edc, bool resume)
{
	struct ccid_t1_config cfg = {
		.ifsc = ifsc,
		.ifsd = (uint8_t)(r->desc.dwMaxIFSD && r->desc.dwMaxIFSD < 254 ? r->desc.dwMaxIFSD : 254),
		.edc = edc,
		.resume = resume,
	};
	uint8_t blk[CCID_T1_BLOCK_MAX], msg[CCID_HEADER_SIZE + CCID_T1_BLOCK_MAX], ans[300];
	struct ccid_msg m;
	int st, rc;

	/* a block must fit one XfrBlock */
	if (cfg.ifsd + 5u > r->max_msg - CCID_HEADER_SIZE)
		cfg.ifsd = (uint8_t)(r->max_msg - CCID_HEADER_SIZE - 5);
	ccid_t1_init(&s->t1, &cfg);
	if (r->desc.dwFeatures & CCID_FEAT_AUTO_IFSD)
		return 0;
	st = ccid_t1_begin_ifsd(&s->t1, cfg.ifsd);
	while (st == CCID_T1_SEND) {
		int n = ccid_t1_next_block(&s->t1, blk, sizeof(blk));

		if (n < 0)
			return -EPROTO;
		if (r->level == CCID_LEVEL_CHARACTER)
			rc = uccid_char_t1(r, s, blk, (size_t)n, ans, sizeof(ans), s->bwt_ms + 1000, &m);
		else
			rc = uccid_xchg(r, s, msg,
					uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, blk, (size_t)n),
					ans, sizeof(ans), s->bwt_ms + 1000, &m);
		if (rc < 0)
			return rc;
		if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED) {
			if (m.rsp.bError != CCID_ERR_ICC_MUTE)
				return uccid_answer_error(r, s, &m);
			st = ccid_t1_feed(&s->t1, NULL, 0);
		} else {
			st = ccid_t1_feed(&s->t1, m.abData, m.dwLength);
		}
	}
	if (st < 0) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: S(IFS) exchange failed: %s", s->index, strerror(-st));
		return -EPROTO;
	}
	return 0;
}

/*
 * The protocol a power-up runs: the specific mode's, else T=1 when offered and
 * the reader runs it, else T=0.  A TA2 naming neither T=0 nor T=1 (T=7 and
 * T=4 in pcsc-tools' list, behind a TD1 of T=15 or T=14) cannot be run as
 * such; the card is used as in negotiable mode rather than refused, as
 * pcscd and libccid use it.
 */
static uint8_t auto_protocol(const struct uccid_reader *r, const struct ccid_atr *a)
{
	if (a->specific_mode && a->ta2_protocol <= CCID_PROTOCOL_T1)
		return a->ta2_protocol;
	if ((a->protocols & 2) && (r->desc.dwProtocols & CCID_PROTOCOLS_T1))
		return CCID_PROTOCOL_T1;
	return CCID_PROTOCOL_T0;
}

/*
 * Negotiate proto with the card whose ATR just came (s->atrp; ISO 7816-3
 * §9.1: a PPS only as the first exchange after it): PPS at TPDU level when
 * the protocol or Fi/Di is not the default, unless the reader does it (80)
 * or negotiates itself (40: nothing is sent); SetParameters (CCID §6.1.7);
 * for T=1 at TPDU level the T=1 state and the host's S(IFS) (§11.4.2).
 * want_fidi: PPS1 to ask for, or 0 for the best both sides support.  Power-up
 * and uccid_set_protocol both come here.  *ret_refused (may be NULL) is set
 * when the PPS exchange itself failed: the card must be reset (§9.3).
 */
static int negotiate(struct uccid_reader *r, struct uslot *s, uint8_t proto, uint8_t want_fidi, bool *ret_refused)
{
	const struct ccid_atr *a = &s->atrp;
	uint32_t feat = r->desc.dwFeatures;
	uint8_t fidi;
	int rc;

	if (proto > 1 || !(r->desc.dwProtocols & (1u << proto))) {
		uccid_log(r, UCCID_LOG_ERROR, "slot %u: the card's protocol T=%u is not supported by the reader",
			  s->index, proto);
		return -ENOTSUP;
	}
	if (a->specific_mode && !a->ta2_implicit)
		fidi = (uint8_t)(a->Fi_index << 4 | a->Di_index);
	else
		fidi = want_fidi ? want_fidi : choose_fidi(r, a);
	if (feat & CCID_FEAT_AUTO_PPS_PROP) {
		/* the reader negotiated by its own rules: neither PPS nor SetParameters */
		fidi = (uint8_t)(a->Fi_index << 4 | a->Di_index);
	} else {
		if (!a->specific_mode && !(feat & CCID_FEAT_AUTO_PPS_CUR)
		    && (r->level == CCID_LEVEL_TPDU || r->level == CCID_LEVEL_CHARACTER)
		    && (proto != a->default_protocol || fidi != 0x11)) {
			rc = do_pps(r, s, proto, fidi);
			if (rc < 0) {
				if (ret_refused && rc != -ENODEV && rc != -ECANCELED && rc != -ENOMEDIUM)
					*ret_refused = true;
				return rc;
			}
			fidi = (uint8_t)rc;
		}
		rc = set_parameters(r, s, proto, fidi);
		if (rc < 0 && rc != -ENOTSUP)
			return rc;
	}
	reader_lock(r);
	uccid_card_protocol(r, s, proto);
	reader_unlock(r);
	s->fidi = fidi;
	card_timing(r, s, fidi);
	if (proto == CCID_PROTOCOL_T1 && (r->level == CCID_LEVEL_TPDU || r->level == CCID_LEVEL_CHARACTER)
	    && (rc = t1_start(r, s, a->IFSC, a->edc, false)) < 0)
		return rc;
	uccid_log(r, UCCID_LOG_INFO, "slot %u: T=%u, Fi/Di %02X", s->index, proto, fidi);
	return 0;
}

/* One warning for a defective ATR, naming every defect (ccid_atr_parse_lenient's findings). */
static void log_atr_defects(struct uccid_reader *r, const struct uslot *s)
{
	char text[4 * 200] = "";
	size_t n = 0;

	for (size_t i = 0; i < s->atrp.nfindings && i < CCID_ATR_MAX_FINDINGS && n < sizeof(text); i++) {
		int w;

		if (i)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "; ");
		if (n >= sizeof(text))
			break;
		w = ccid_atr_finding_text(&s->atrp.findings[i], text + n, sizeof(text) - n);
		if (w > 0)
			n += (size_t)w;
	}
	uccid_log(r, UCCID_LOG_WARNING, "slot %u: defective ATR, used with the values it gives and ISO defaults: %s",
		  s->index, text);
}

/* IccPowerOn (a warm reset when the card is powered) and the ATR checked into s->atrp; nothing negotiated. */
static int activate(struct uccid_reader *r, struct uslot *s, enum uccid_voltage v, bool warm)
{
	static const enum uccid_voltage order[] = { UCCID_VOLTAGE_5V, UCCID_VOLTAGE_3V, UCCID_VOLTAGE_1V8 };
	uint8_t ans[CCID_HEADER_SIZE + 256];   /* a longer ATR than ISO allows still arrives whole */
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	int rc = -ENOTSUP;

	if (v == UCCID_VOLTAGE_AUTO && !(r->desc.dwFeatures & (CCID_FEAT_AUTO_VOLTAGE | CCID_FEAT_AUTO_ACTIVATION))) {
		/* try 5 V, then 3 V, then 1.8 V, as the reader supplies them (ISO 7816-3 §6.2.4) */
		for (size_t i = 0; i < 3; i++) {
			uint8_t sel = power_select(r, order[i]);

			if (sel == 0xFF)
				continue;
			rc = power_on_once(r, s, sel, &m, ans, sizeof(ans));
			if (rc == 0 || rc == -ENOMEDIUM || rc == -ENODEV || rc == -ECANCELED)
				break;
			uccid_log(r, UCCID_LOG_INFO, "slot %u: no ATR at class %zu; trying the next voltage", s->index, i);
			uccid_do_power_off(r, s);
		}
	} else {
		uint8_t sel = power_select(r, v);

		if (sel == 0xFF)
			return -ENOTSUP;
		rc = power_on_once(r, s, sel, &m, ans, sizeof(ans));
	}
	uccid_forget_card(r, s, LOCKMGR_EV_RESET);
	if (rc < 0)
		return rc;
	/*
	 * Any answer with a valid TS is an ATR: real cards send wrong or missing
	 * TCKs, bytes after the end, too few historical bytes; libccid and pcscd
	 * use them, so the card runs with what could be read and the ISO defaults.
	 */
	rc = ccid_atr_parse_lenient(m.abData, m.dwLength, &s->atrp, &diag);
	if (rc < 0) {
		uccid_log(r, UCCID_LOG_ERROR, "slot %u: not an ATR: %s at byte %zu (expected %s)", s->index,
			  strerror(-rc), diag.offset, diag.expected ? diag.expected : "");
		return -EPROTO;
	}
	if (s->atrp.nfindings)
		log_atr_defects(r, s);
	/* at most the 33 bytes ISO allows (and PC/SC carries): the parse kept those */
	memcpy(s->atr, m.abData, s->atrp.len);
	s->atr_len = s->atrp.len;
	reader_lock(r);
	uccid_card_powered(r, s);
	reader_unlock(r);
	uccid_log(r, UCCID_LOG_INFO, "slot %u: %s reset, ATR of %zu bytes", s->index, warm ? "warm" : "cold",
		  s->atr_len);
	return 0;
}

int uccid_do_power_on(struct uccid_reader *r, struct uslot *s, enum uccid_voltage v, bool warm)
{
	int rc = activate(r, s, v, warm);

	if (rc < 0)
		return rc;
	return negotiate(r, s, auto_protocol(r, &s->atrp), 0, NULL);
}

/* EJECT without a mechanism latched the slot: no power-up until the card was removed. */
static int latched(struct uccid_reader *r, struct uslot *s)
{
	if (lockmgr_latch(r->lm, s->index, -1) != 1)
		return 0;
	uccid_log(r, UCCID_LOG_WARNING, "slot %u: the card was ejected; remove and insert it to power it up",
		  s->index);
	return -ENOMEDIUM;
}

static int slot_of(struct uccid_reader *r, unsigned slot, struct uslot **ret)
{
	if (!r || slot >= r->nslots)
		return -EINVAL;
	*ret = &r->slots[slot];
	return 0;
}

int uccid_power_on(struct uccid_reader *r, unsigned slot, enum uccid_voltage v, uint8_t *atr, size_t cap)
{
	struct uslot *s;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	if (!atr || cap < CCID_ATR_MAX || (unsigned)v > UCCID_VOLTAGE_1V8)
		return -EINVAL;
	rc = uccid_slot_enter(r, s, UCCID_ENTER_ACK);
	if (rc < 0)
		return rc;
	rc = latched(r, s);
	if (rc == 0)
		rc = uccid_do_power_on(r, s, v, card_powered(r, s));
	if (rc == 0) {
		memcpy(atr, s->atr, s->atr_len);
		rc = (int)s->atr_len;
	}
	uccid_slot_leave(r, s);
	return rc;
}

/*
 * The protocol and parameters a powered card runs, from the reader
 * (PC_to_RDR_GetParameters, CCID §6.1.5; the answer's structure is that of
 * SetParameters, §6.1.7: T=0 bmFindexDindex, bmTCCKST0, bGuardTimeT0,
 * bWaitingIntegerT0, bClockStop; T=1 the same, then bIFSC, bNadValue), into
 * the fields of s->atrp the exchanges use.  Returns the protocol or an error.
 */
static int get_parameters(struct uccid_reader *r, struct uslot *s)
{
	uint8_t msg[CCID_HEADER_SIZE], ans[CCID_HEADER_SIZE + 64];
	struct ccid_atr *a = &s->atrp;
	struct ccid_msg m;
	const uint8_t *p;
	uint8_t proto;
	int rc;

	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, NULL, 0), ans,
			sizeof(ans), COMMAND_MS, &m);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED) {
		/* any refusal (bError logged and kept) means the reader cannot say how the card runs */
		rc = uccid_answer_error(r, s, &m);
		return rc == -ENOMEDIUM ? rc : -ENOTSUP;
	}
	proto = m.rsp.b9;
	p = m.abData;
	if (!(proto == CCID_PROTOCOL_T0 && m.dwLength == CCID_T0_PARAMS_LEN)
	    && !(proto == CCID_PROTOCOL_T1 && m.dwLength == CCID_T1_PARAMS_LEN)) {
		uccid_log(r, UCCID_LOG_ERROR, "slot %u: RDR_to_PC_Parameters with bProtocolNum %u and %u bytes "
			  "(CCID §6.1.7: T=0 5, T=1 7)", s->index, proto, (unsigned)m.dwLength);
		return -EPROTO;
	}
	*a = (struct ccid_atr){ 0 };
	a->Fi_index = p[0] >> 4;
	a->Di_index = p[0] & 0x0F;
	a->Fi = ccid_fi(a->Fi_index);
	a->Di = ccid_di(a->Di_index);
	a->inverse = p[1] & 0x02;
	a->N = p[2];
	if (proto == CCID_PROTOCOL_T1) {
		a->edc = p[1] & 0x01 ? CCID_EDC_CRC : CCID_EDC_LRC;
		a->BWI = p[3] >> 4;
		a->CWI = p[3] & 0x0F;
		a->IFSC = p[5];
		a->WI = 10;             /* ISO 7816-3 §10.2 default; T=0's only */
	} else {
		a->WI = p[3] ? p[3] : 10;
		a->BWI = 4;             /* §11.4.3 defaults; T=1's only */
		a->CWI = 13;
	}
	a->protocols = (uint16_t)(1u << proto);
	a->default_protocol = proto;
	s->fidi = p[0];
	return proto;
}

int uccid_resume(struct uccid_reader *r, unsigned slot)
{
	struct uccid_slot_status st;
	struct uslot *s;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	rc = uccid_slot_enter(r, s, UCCID_ENTER_ACK);
	if (rc < 0)
		return rc;
	if ((rc = latched(r, s)) < 0 || (rc = uccid_do_slot_status(r, s, &st)) < 0)
		goto out;
	if (!st.present || !st.powered) {
		rc = !st.present ? -ENOMEDIUM : -ENODATA;
		goto out;
	}
	if ((rc = get_parameters(r, s)) < 0)
		goto out;
	s->atr_len = 0;                 /* not read again: that would reset the card */
	reader_lock(r);
	uccid_card_powered(r, s);
	uccid_card_protocol(r, s, (uint8_t)rc);
	reader_unlock(r);
	card_timing(r, s, s->fidi);
	if (rc == CCID_PROTOCOL_T1 && (r->level == CCID_LEVEL_TPDU || r->level == CCID_LEVEL_CHARACTER)
	    && (rc = t1_start(r, s, s->atrp.IFSC, s->atrp.edc, true)) < 0)
		goto out;
	uccid_log(r, UCCID_LOG_INFO, "slot %u: card taken over as it was left: T=%u, Fi/Di %02X", s->index,
		  s->atrp.default_protocol, s->fidi);
	rc = 0;
out:
	uccid_slot_leave(r, s);
	return rc;
}

int uccid_reset(struct uccid_reader *r, unsigned slot, bool cold, uint8_t *atr, size_t cap)
{
	struct uslot *s;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	if (!atr || cap < CCID_ATR_MAX)
		return -EINVAL;
	rc = uccid_slot_enter(r, s, UCCID_ENTER_ACK);
	if (rc < 0)
		return rc;
	if ((rc = latched(r, s)) < 0)
		goto out;
	if (cold && card_powered(r, s) && (rc = uccid_do_power_off(r, s)) < 0)
		goto out;
	/* a warm reset is IccPowerOn on a powered card (CCID §6.1.1) */
	rc = uccid_do_power_on(r, s, UCCID_VOLTAGE_AUTO, !cold && card_powered(r, s));
	if (rc == 0) {
		memcpy(atr, s->atr, s->atr_len);
		rc = (int)s->atr_len;
	}
out:
	uccid_slot_leave(r, s);
	return rc;
}

/* Does the card offer proto (its ATR; specific mode: only TA2's), at fidi (0: any) where it is fixed? */
static int offered(const struct ccid_atr *a, uint8_t proto, uint8_t fidi)
{
	if (a->specific_mode)
		return proto == a->ta2_protocol
			&& (!fidi || a->ta2_implicit || fidi == (uint8_t)(a->Fi_index << 4 | a->Di_index)) ? 0
			: -EPROTONOSUPPORT;
	return proto < 16 && (a->protocols & (1u << proto)) ? 0 : -EPROTONOSUPPORT;
}

/*
 * Run proto at fidi (0: the best) on a powered card: a PPS is allowed only
 * right after an ATR (ISO 7816-3 §9.1), so the card is warm reset first and
 * then negotiated as at power-up.  A PPS the card refuses or answers wrongly
 * (§9.3) is followed by another reset, after which the card runs its
 * default protocol at Fd/Dd (no PPS is needed for that), and -EPROTO.
 */
static int renegotiate(struct uccid_reader *r, struct uslot *s, uint8_t proto, uint8_t fidi)
{
	bool refused = false;
	int rc = activate(r, s, UCCID_VOLTAGE_AUTO, true);

	if (rc < 0)
		return rc;
	/* the warm ATR may differ from the cold one */
	rc = offered(&s->atrp, proto, fidi);
	if (rc < 0) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: after the warm reset the card does not offer T=%u",
			  s->index, proto);
		negotiate(r, s, auto_protocol(r, &s->atrp), 0, NULL);
		return rc;
	}
	rc = negotiate(r, s, proto, fidi, &refused);
	if (rc < 0 && refused) {
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: PPS for T=%u failed; resetting the card (ISO 7816-3 9.3)",
			  s->index, proto);
		rc = activate(r, s, UCCID_VOLTAGE_AUTO, true);
		if (rc == 0)
			negotiate(r, s, s->atrp.specific_mode ? s->atrp.ta2_protocol : s->atrp.default_protocol, 0x11,
				  NULL);
		return rc == -ENODEV || rc == -ECANCELED || rc == -ENOMEDIUM ? rc : -EPROTO;
	}
	return rc < 0 ? rc : 1;
}

int uccid_set_protocol(struct uccid_reader *r, unsigned slot, uint8_t protocol, uint8_t fidi)
{
	struct uslot *s;
	struct ucard card;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	if (protocol > CCID_PROTOCOL_T1 || (fidi && (!ccid_fi(fidi >> 4) || !ccid_di(fidi & 0x0F))))
		return -EINVAL;
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	reader_lock(r);
	card = s->card;
	reader_unlock(r);
	/* a card taken over (uccid_resume) has no ATR read: what it offers is known after a reset */
	if (!card.present) {
		rc = -ENOMEDIUM;
	} else if (!card.powered) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: protocol selection on a card that is not powered", s->index);
		rc = -EIO;
	} else if (s->atr_len && (rc = offered(&s->atrp, protocol, fidi)) < 0) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: T=%u asked; the card's ATR does not offer it%s", s->index,
			  protocol, s->atrp.specific_mode ? " (specific mode)" : "");
	} else if (!(r->desc.dwProtocols & (1u << protocol))) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: T=%u asked; the reader does not run it", s->index, protocol);
		rc = -ENOTSUP;
	} else if (fidi && !rate_ok(r, (uint64_t)r->clock_khz * 1000 * ccid_di(fidi & 0x0F) / ccid_fi(fidi >> 4))) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: Fi/Di %02X asked; the reader does not run that rate", s->index,
			  fidi);
		rc = -ENOTSUP;
	} else if (card.protocol == protocol && (!fidi || fidi == s->fidi)) {
		rc = 0;         /* negotiated so already */
	} else if (r->desc.dwFeatures & CCID_FEAT_AUTO_PPS_PROP) {
		uccid_log(r, UCCID_LOG_INFO, "slot %u: T=%u asked; the reader negotiates by its own rules (40)",
			  s->index, protocol);
		rc = -ENOTSUP;
	} else {
		rc = renegotiate(r, s, protocol, fidi);
	}
	uccid_slot_leave(r, s);
	return rc;
}

int uccid_power_off(struct uccid_reader *r, unsigned slot)
{
	struct uslot *s;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	rc = uccid_do_power_off(r, s);
	uccid_slot_leave(r, s);
	return rc;
}

int uccid_slot_status(struct uccid_reader *r, unsigned slot, struct uccid_slot_status *ret)
{
	struct uslot *s;
	int rc = slot_of(r, slot, &s);

	if (rc < 0)
		return rc;
	if (!ret)
		return -EINVAL;
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	rc = uccid_do_slot_status(r, s, ret);
	uccid_slot_leave(r, s);
	return rc;
}
