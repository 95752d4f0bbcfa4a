/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The probes of uccid selftest: every CCID 1.1 command and class request on
 * one slot, each judged against the section it cites: ok, a deviation (what
 * and the section), unsupported (CMD_NOT_SUPPORTED, or a STALL where that is
 * allowed), or skipped (no card, no mechanism, a PIN pad, an undeclared
 * voltage).  They run in the order of probe_steps, each relying on what the
 * ones before it learnt (a card present and powered, its ATR, the
 * parameters in force).  Descriptor findings of severity warning or error
 * count as deviations (each is a departure from CCID §5.1 that a driver has
 * to work around); notes do not.  Nothing is ejected or locked without
 * --mechanical, and the card is powered off at the end.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/t0.h"
#include "tool/selftest/selftest.h"

/* CCID class requests (CCID §5.3) */
#define REQ_GET_CLOCK_FREQUENCIES 0x02
#define REQ_GET_DATA_RATES 0x03

static void hexstr(char *out, size_t cap, const uint8_t *b, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < n && 3 * i + 3 < cap; i++)
		snprintf(out + 2 * i, cap - 2 * i, "%02X", b[i]);
}

struct findings {
	char text[DETAIL_MAX];
	unsigned bad, notes;
};

static void on_finding(void *ctx, enum ccid_severity sev, const char *field, size_t offset, const char *text)
{
	struct findings *f = ctx;

	append(f->text, sizeof(f->text), "%s%s %s (offset %zu): %s", f->text[0] ? "; " : "",
	       sev == CCID_SEV_ERROR ? "error" : sev == CCID_SEV_WARNING ? "warning" : "note", field, offset, text);
	if (sev == CCID_SEV_NOTE)
		f->notes++;
	else
		f->bad++;
}

/* CCID §5.1: the class descriptor, as ccid_class_desc_validate judges it. */
static void probe_descriptor(struct st *st)
{
	struct result *r = begin(st, "descriptor", "CCID §5.1");
	struct findings f = { .text = "" };

	ccid_class_desc_validate(&st->d, on_finding, &f, NULL);
	if (f.bad)
		judge(r, V_DEVIATION, "%s", f.text);
	else
		note(r, "%s", f.notes ? f.text : "no findings");
}

/*
 * CCID §5.3.2 / §5.3.3: GET_CLOCK_FREQUENCIES and GET_DATA_RATES return
 * bNum...Supported DWORDs.  With a count of 0 the descriptor's default..max
 * range applies and a STALL is allowed (libccid then asks for up to 256).
 * Every value must lie within the descriptor's default..maximum.
 */
static void probe_rates(struct st *st, const char *probe, uint8_t req, unsigned count, uint32_t lo, uint32_t hi,
			const char *unit, const char *count_name, const char *spec)
{
	struct result *r = begin(st, probe, spec);
	uint8_t buf[4 * 256];
	uint16_t want = (uint16_t)(count ? 4 * count : sizeof(buf));
	int n = uccid_class_request(st->r, 0xA1, req, 0, buf, want);
	unsigned shown = 0;

	if (n == -EPIPE) {
		if (count)
			judge(r, V_DEVIATION, "STALL, although %s declares %u values", count_name, count);
		else
			judge(r, V_UNSUPPORTED, "STALL; allowed as %s is 0 (%u..%u %s applies)", count_name, lo, hi, unit);
		return;
	}
	if (n < 0) {
		if (n == -ENODEV)
			st->gone = true;
		judge(r, V_DEVIATION, "the request failed: %s", uccid_strerror(n));
		return;
	}
	if (n % 4) {
		judge(r, V_DEVIATION, "%d bytes, not a whole number of DWORDs", n);
		return;
	}
	if (count && (unsigned)n != 4 * count)
		judge(r, V_DEVIATION, "%d values, but %s declares %u", n / 4, count_name, count);
	else
		note(r, "%d value%s%s", n / 4, n == 4 ? "" : "s", n ? ":" : "");
	for (int i = 0; i + 4 <= n; i += 4) {
		uint32_t v = get_le32(buf + i);

		if (v < lo || v > hi)
			judge(r, V_DEVIATION, "%u %s is outside the descriptor's %u..%u", v, unit, lo, hi);
		else if (shown++ < 12)
			append(r->detail, sizeof(r->detail), " %u", v);
	}
	if (shown > 12)
		append(r->detail, sizeof(r->detail), " ...");
	if (n && shown)
		append(r->detail, sizeof(r->detail), " %s", unit);
}

static void probe_clocks(struct st *st)
{
	probe_rates(st, "GET_CLOCK_FREQUENCIES", REQ_GET_CLOCK_FREQUENCIES, st->d.bNumClockSupported,
		    st->d.dwDefaultClock, st->d.dwMaximumClock, "kHz", "bNumClockSupported", "CCID §5.3.2, §5.1");
}

static void probe_data_rates(struct st *st)
{
	probe_rates(st, "GET_DATA_RATES", REQ_GET_DATA_RATES, st->d.bNumDataRatesSupported, st->d.dwDataRate,
		    st->d.dwMaxDataRate, "bps", "bNumDataRatesSupported", "CCID §5.3.3, §5.1");
}

/* CCID §6.1.3, §6.2.2: SlotStatus, dwLength 0, bmICCStatus 0..2, bClockStatus 0..3. */
static void probe_slot_status(struct st *st)
{
	struct result *r = begin(st, "GetSlotStatus", "CCID §6.1.3, §6.2.2");
	struct answer a;
	static const char *const icc[] = { "card present and active", "card present, inactive", "no card" };

	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.3");
		return;
	}
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	st->powered = CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ACTIVE;
	note(r, "bmICCStatus %u (%s), bClockStatus %u, bSlot and bSeq %02X echoed", CCID_ICC_STATUS(a.m.rsp.bStatus),
	     icc[CCID_ICC_STATUS(a.m.rsp.bStatus)], a.m.rsp.b9, a.seq);
}

/* IccPowerOff, answered SlotStatus; the card is then inactive or absent (CCID §6.1.2). */
static void power_off(struct st *st, struct result *r, bool report)
{
	struct answer a;

	xchg(st, CCID_PC_TO_RDR_ICC_POWER_OFF, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.2");
		return;
	}
	st->powered = false;
	st->clock_stopped = false;
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ACTIVE)
		judge(r, V_DEVIATION, "bmICCStatus 0 (active) after IccPowerOff (CCID §6.1.2, §6.2.6)");
	else if (report)
		note(r, "SlotStatus, bmICCStatus %u", CCID_ICC_STATUS(a.m.rsp.bStatus));
}

static void probe_power_off(struct st *st)
{
	power_off(st, begin(st, "IccPowerOff", "CCID §6.1.2, §6.2.2"), true);
}

static const char *sel_name(uint8_t sel)
{
	static const char *const names[] = { "automatic voltage", "5 V", "3 V", "1.8 V" };

	return sel < 4 ? names[sel] : "?";
}

/*
 * IccPowerOn (CCID §6.1.1): a DataBlock with the ATR, bmICCStatus 0.  The
 * ATR must parse (ISO 7816-3 §8).  A card that does not answer at a class
 * it does not support (ICC_MUTE, ICC_CLASS_NOT_SUPPORTED) is the card's
 * matter; the reader refusing a voltage it declares is a deviation.
 */
static void power_on(struct st *st, struct result *r, uint8_t sel, bool warm)
{
	struct answer a;
	struct ccid_atr atr;
	struct ccid_diag diag = { 0 };
	char hex[3 * CCID_ATR_MAX + 1];

	xchg(st, CCID_PC_TO_RDR_ICC_POWER_ON, sel, 0, 0, NULL, 0, POWER_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		if (CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ABSENT) {
			st->present = st->powered = false;
			judge(r, V_SKIPPED, "no card (bmICCStatus 2)");
		} else if (!warm && sel != CCID_POWER_AUTO
			   && (a.m.rsp.bError == CCID_ERR_ICC_MUTE || a.m.rsp.bError == CCID_ERR_ICC_CLASS_NOT_SUPPORTED)) {
			note(r, "the card did not answer at %s (%s): the card's class, not the reader's matter",
			     sel_name(sel), ccid_error_name(a.m.rsp.bError));
		} else if (!warm && sel == CCID_POWER_AUTO && a.m.rsp.bError == CCID_OFF_B7
			   && !(st->d.dwFeatures & CCID_FEAT_AUTO_VOLTAGE)) {
			judge(r, V_UNSUPPORTED, "automatic voltage refused (bError 7); dwFeatures does not declare it (0008)");
		} else {
			refused(r, &a, "CCID §6.1.1");
		}
		return;
	}
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ACTIVE)
		judge(r, V_DEVIATION, "bmICCStatus %u after a successful IccPowerOn (CCID §6.2.6: 0, active)",
		      CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (a.m.rsp.b9 != CCID_CHAIN_BEGIN_END)
		judge(r, V_DEVIATION, "bChainParameter %02X: an ATR comes in one DataBlock (CCID §6.2.1)", a.m.rsp.b9);
	if (!a.m.dwLength) {
		judge(r, V_DEVIATION, "no ATR in the DataBlock (CCID §6.1.1)");
		return;
	}
	st->powered = true;
	st->clock_stopped = false;
	st->power_sel = sel;
	hexstr(hex, sizeof(hex), a.m.abData, a.m.dwLength);
	if (ccid_atr_parse(a.m.abData, a.m.dwLength, &atr, &diag) < 0) {
		judge(r, V_DEVIATION, "ATR %s does not parse: expected %s at byte %zu (ISO 7816-3 §8)", hex,
		      diag.expected ? diag.expected : "?", diag.offset);
		return;
	}
	if (warm && st->atr_ok)
		note(r, "ATR %s%s", hex, memcmp(atr.bytes, st->atr.bytes, atr.len) || atr.len != st->atr.len
					 ? " (differs from the cold ATR)" : " (as the cold ATR)");
	else
		note(r, "ATR %s, %s T=%s%s", hex, sel_name(sel),
		     (atr.protocols & 3) == 3 ? "0 and T=1" : atr.protocols & 2 ? "1" : "0",
		     atr.specific_mode ? " (specific mode)" : "");
	st->atr = atr;
	st->atr_ok = true;
	st->have_params = false;
}

static const uint8_t class_bit[] = { 0, CCID_VOLTAGE_5V, CCID_VOLTAGE_3V, CCID_VOLTAGE_1V8 };

static void probe_power_on_sel(struct st *st, uint8_t sel)
{
	char name[40];
	struct result *r;

	snprintf(name, sizeof(name), "IccPowerOn %s", sel == CCID_POWER_AUTO ? "auto" : sel_name(sel));
	r = begin(st, name, "CCID §6.1.1, §6.2.1");
	if (sel != CCID_POWER_AUTO && !(st->d.bVoltageSupport & class_bit[sel])) {
		judge(r, V_SKIPPED, "bVoltageSupport %02X does not declare %s", st->d.bVoltageSupport, sel_name(sel));
		return;
	}
	if (!need_card(st, r, false))
		return;
	/* ISO 7816-3 §6.2.4: never a class the card's ATR excludes */
	if (sel != CCID_POWER_AUTO && st->atr_ok && st->atr.has_clock_class && st->atr.class_indicator
	    && !(st->atr.class_indicator & class_bit[sel])) {
		judge(r, V_SKIPPED, "the card's ATR indicates classes %02X, not %s", st->atr.class_indicator,
		      sel_name(sel));
		return;
	}
	if (st->powered)
		power_off(st, r, false);    /* a cold reset: off, then on */
	if (r->v == V_DEVIATION)
		return;
	power_on(st, r, sel, false);
}

/* auto first (the reader chooses), then the declared voltages lowest first (ISO 7816-3 §6.2.4). */
static void probe_power_on(struct st *st)
{
	static const uint8_t order[] = { CCID_POWER_AUTO, CCID_POWER_1V8, CCID_POWER_3V, CCID_POWER_5V };

	for (size_t i = 0; i < sizeof(order); i++)
		probe_power_on_sel(st, order[i]);
	/* the probes that follow want a powered card: the selection that worked, else auto */
	if (st->present && !st->powered && !st->gone) {
		struct result scratch = { .v = V_OK };

		power_on(st, &scratch, CCID_POWER_AUTO, false);
	}
}

/* IccPowerOn on a powered card is a warm reset (CCID §6.1.1). */
static void probe_warm(struct st *st)
{
	struct result *r = begin(st, "IccPowerOn warm", "CCID §6.1.1, §6.2.1");

	if (!need_card(st, r, true))
		return;
	power_on(st, r, st->power_sel, true);
}

static void params_text(char *out, size_t cap, uint8_t proto, const uint8_t *p, size_t n)
{
	char hex[3 * CCID_T1_PARAMS_LEN + 1];

	hexstr(hex, sizeof(hex), p, n);
	snprintf(out, cap, "T=%u %s", proto, hex);
}

/* The structure the ATR implies (CCID §6.1.7 tables 6.1-5/6.1-6). */
static size_t params_from_atr(const struct ccid_atr *atr, uint8_t proto, uint8_t *p)
{
	memset(p, 0, CCID_T1_PARAMS_LEN);
	p[0] = (uint8_t)(atr->Fi_index << 4 | atr->Di_index);
	p[2] = atr->N;
	if (proto == CCID_PROTOCOL_T1) {
		p[1] = (uint8_t)(0x10 | (atr->edc == CCID_EDC_CRC ? 1 : 0) | (atr->inverse ? 2 : 0));
		p[3] = (uint8_t)((atr->BWI > 9 ? 4 : atr->BWI) << 4 | atr->CWI);
		p[5] = atr->IFSC;
		return CCID_T1_PARAMS_LEN;
	}
	p[1] = atr->inverse ? 0x02 : 0x00;
	p[3] = atr->WI;
	return CCID_T0_PARAMS_LEN;
}

/*
 * A Parameters answer (CCID §6.2.3): a protocol the ATR offers (the TA2
 * protocol in specific mode), its 5- or 7-byte structure (the library's
 * decoder refuses other lengths), Fi/Di either TA1's or the default 11.
 */
static void check_params(struct st *st, struct result *r, const struct answer *a)
{
	uint8_t proto = a->m.rsp.b9, ta1;
	char text[64];

	if (proto > 1) {
		judge(r, V_DEVIATION, "bProtocolNum %02X for an asynchronous card (CCID §6.2.3)", proto);
		return;
	}
	params_text(text, sizeof(text), proto, a->m.abData, a->m.dwLength);
	note(r, "%s", text);
	if (!st->atr_ok)
		return;
	if (!(st->atr.protocols & (1u << proto)))
		judge(r, V_DEVIATION, "T=%u, which the ATR does not offer (ISO 7816-3 §8.2.3)", proto);
	else if (st->atr.specific_mode && proto != st->atr.ta2_protocol)
		judge(r, V_DEVIATION, "T=%u, but the card is in specific mode for T=%u (TA2, ISO 7816-3 §8.3)", proto,
		      st->atr.ta2_protocol);
	ta1 = (uint8_t)(st->atr.Fi_index << 4 | st->atr.Di_index);
	if (a->m.dwLength && a->m.abData[0] != ta1 && a->m.abData[0] != 0x11)
		judge(r, V_DEVIATION, "bmFindexDindex %02X is neither TA1 %02X nor the default 11 (CCID §6.1.7)",
		      a->m.abData[0], ta1);
}

static void remember_params(struct st *st, const struct answer *a)
{
	st->have_params = a->m.rsp.b9 <= 1 && a->m.dwLength <= CCID_T1_PARAMS_LEN;
	if (!st->have_params)
		return;
	st->protocol = a->m.rsp.b9;
	st->params_len = a->m.dwLength;
	memcpy(st->params, a->m.abData, a->m.dwLength);
}

static void probe_get_params(struct st *st)
{
	struct result *r = begin(st, "GetParameters", "CCID §6.1.5, §6.2.3");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.5");
		return;
	}
	check_params(st, r, &a);
	remember_params(st, &a);
	if (st->have_params && st->atr_ok && (st->d.dwFeatures & CCID_FEAT_AUTO_CONF_ATR)) {
		uint8_t p[CCID_T1_PARAMS_LEN];
		size_t n = params_from_atr(&st->atr, st->protocol, p);

		if (n == st->params_len && memcmp(p + 1, st->params + 1, n - 1))
			note(r, "(the ATR implies %02X%02X%02X%02X...)", p[0], p[1], p[2], p[3]);
	}
}

/* The protocol in force: from GetParameters, else the ATR's first offered. */
static uint8_t current_protocol(const struct st *st)
{
	if (st->have_params)
		return st->protocol;
	return st->atr_ok ? (st->atr.specific_mode ? st->atr.ta2_protocol : st->atr.default_protocol) : 0;
}

/*
 * XfrBlock at the character level (CCID §6.1.4): the reader moves bytes and
 * returns exactly wLevelParameter of them.  A T=0 SELECT MF TPDU through the
 * codec's procedure-byte engine (ISO 7816-3 §10.3), each step asking for the
 * bytes the card is bound to send, at most 16 steps (NULL bytes included).
 * A T=1 card is not probed here (it would take an S(IFS) exchange).
 */
static void probe_xfr_char(struct st *st, struct result *r, uint8_t proto)
{
	static const uint8_t select_mf_tpdu[] = { 0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00 };
	uint8_t rsp[16];
	struct ccid_t0 t;
	struct answer a;
	unsigned steps = 0;
	int st0;

	if (proto != CCID_PROTOCOL_T0) {
		judge(r, V_SKIPPED, "character level, T=%u", proto);
		return;
	}
	note(r, "character level T=0 SELECT MF, procedure bytes by the host");
	st0 = ccid_t0_begin(&t, select_mf_tpdu, sizeof(select_mf_tpdu), rsp, sizeof(rsp));
	while (st0 == 0 || st0 == CCID_T0_MORE) {
		const uint8_t *out;
		size_t olen, expect;

		if (ccid_t0_next(&t, &out, &olen, &expect) != CCID_T0_MORE)
			break;
		if (++steps > 16) {
			judge(r, V_DEVIATION, "no status word after 16 exchanges");
			return;
		}
		xchg(st, CCID_PC_TO_RDR_XFR_BLOCK, 0, (uint8_t)expect, (uint8_t)(expect >> 8), out, olen, CMD_MS, &a);
		if (answer_problem(st, &a, r))
			return;
		if (failed(&a)) {
			refused(r, &a, "CCID §6.1.4");
			return;
		}
		if (a.m.dwLength != expect) {
			judge(r, V_DEVIATION, "wLevelParameter %zu, the reader returned %u bytes (CCID §6.1.4)", expect,
			      a.m.dwLength);
			return;
		}
		st0 = ccid_t0_feed(&t, a.m.abData, a.m.dwLength);
	}
	if (st0 != CCID_T0_DONE) {
		judge(r, V_DEVIATION, "the card's bytes break the T=0 procedure-byte rules (ISO 7816-3 §10.3.3)");
		return;
	}
	note(r, "SW %02X%02X after %u exchanges, %lu NULL bytes", rsp[ccid_t0_response_len(&t) - 2],
	     rsp[ccid_t0_response_len(&t) - 1], steps, ccid_t0_nulls(&t));
}

/*
 * XfrBlock with a harmless command at the reader's level (CCID §6.1.4):
 * TPDU T=1 an S(IFS) request, TPDU T=0 the SELECT MF TPDU, APDU level the
 * SELECT MF APDU.  Any status word will do: the CCID framing is checked
 * (DataBlock, bChainParameter, a response of at least SW1 SW2).
 */
static void probe_xfr(struct st *st)
{
	static const uint8_t select_mf_tpdu[] = { 0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00 };
	static const uint8_t select_mf_apdu[] = { 0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00 };
	struct result *r = begin(st, "XfrBlock", "CCID §6.1.4, §6.2.1");
	enum ccid_exchange_level level = (enum ccid_exchange_level)st->info.exchange_level;
	uint8_t cmd[16], proto = current_protocol(st);
	size_t len;
	struct answer a;
	char hex[40];

	if (!need_card(st, r, true))
		return;
	if (level == CCID_LEVEL_TPDU && proto == CCID_PROTOCOL_T1) {
		uint8_t ifsd = st->d.dwMaxIFSD && st->d.dwMaxIFSD < 254 ? (uint8_t)st->d.dwMaxIFSD : 254;
		int n = ccid_t1_block_encode(0x00, 0xC1, &ifsd, 1, st->atr_ok ? st->atr.edc : CCID_EDC_LRC, cmd,
					     sizeof(cmd));

		len = n > 0 ? (size_t)n : 0;
		note(r, "TPDU T=1 S(IFS request %u)", ifsd);
	} else if (level == CCID_LEVEL_TPDU) {
		memcpy(cmd, select_mf_tpdu, sizeof(select_mf_tpdu));
		len = sizeof(select_mf_tpdu);
		note(r, "TPDU T=0 SELECT MF");
	} else if (level == CCID_LEVEL_SHORT_APDU || level == CCID_LEVEL_EXTENDED_APDU) {
		memcpy(cmd, select_mf_apdu, sizeof(select_mf_apdu));
		len = sizeof(select_mf_apdu);
		note(r, "APDU SELECT MF");
	} else {
		probe_xfr_char(st, r, proto);
		return;
	}
	xchg(st, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, cmd, len, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.4");
		return;
	}
	hexstr(hex, sizeof(hex), a.m.abData, a.m.dwLength < 16 ? a.m.dwLength : 16);
	if (level == CCID_LEVEL_EXTENDED_APDU ? a.m.rsp.b9 != CCID_CHAIN_BEGIN_END && a.m.rsp.b9 != CCID_CHAIN_BEGIN
					      : a.m.rsp.b9 != CCID_CHAIN_BEGIN_END)
		judge(r, V_DEVIATION, "bChainParameter %02X in the first DataBlock (CCID §6.2.1)", a.m.rsp.b9);
	if (level == CCID_LEVEL_TPDU && proto == CCID_PROTOCOL_T1) {
		struct ccid_t1_block blk;

		if (ccid_t1_block_decode(a.m.abData, a.m.dwLength, st->atr.edc, &blk, NULL) == 0)
			note(r, "answer %s: a T=1 %s block", hex,
			     blk.type == CCID_T1_BLOCK_S && blk.s_type == CCID_T1_S_IFS && blk.s_response ? "S(IFS response)"
			     : blk.type == CCID_T1_BLOCK_I ? "I" : blk.type == CCID_T1_BLOCK_R ? "R" : "S");
		else
			judge(r, V_DEVIATION, "answer %s is not one T=1 block (the whole block is passed at TPDU level, "
			      "CCID §6.1.4)", hex);
		return;
	}
	if (a.m.dwLength < 2) {
		judge(r, V_DEVIATION, "a %u-byte response: no SW1 SW2 (CCID §6.2.1)", a.m.dwLength);
		return;
	}
	note(r, "SW %02X%02X", a.m.abData[a.m.dwLength - 2], a.m.abData[a.m.dwLength - 1]);
	/* an extended-APDU reader chaining the response: fetch the rest, bounded */
	for (int i = 0; i < 64 && level == CCID_LEVEL_EXTENDED_APDU
			&& (a.m.rsp.b9 == CCID_CHAIN_BEGIN || a.m.rsp.b9 == CCID_CHAIN_CONTINUE); i++) {
		xchg(st, CCID_PC_TO_RDR_XFR_BLOCK, 0, CCID_CHAIN_EMPTY_NEXT, 0, NULL, 0, CMD_MS, &a);
		if (answer_problem(st, &a, r) || failed(&a))
			break;
	}
}

/* SetParameters with the structure in force (or the ATR's): answered with it (CCID §6.1.7, §6.2.3). */
static void probe_set_params(struct st *st)
{
	struct result *r = begin(st, "SetParameters", "CCID §6.1.7, §6.2.3");
	uint8_t proto = current_protocol(st), p[CCID_T1_PARAMS_LEN];
	size_t n;
	struct answer a;
	struct ccid_msg m;
	uint8_t scratch[CCID_HEADER_SIZE + CCID_T1_PARAMS_LEN];
	char text[64];

	if (!need_card(st, r, true))
		return;
	if (st->have_params) {
		memcpy(p, st->params, st->params_len);
		n = st->params_len;
	} else {
		n = params_from_atr(&st->atr, proto, p);
	}
	m = (struct ccid_msg){ .bMessageType = CCID_PC_TO_RDR_SET_PARAMETERS, .dwLength = (uint32_t)n, .abData = p,
			       .set_params.bProtocolNum = proto };
	if (ccid_msg_encode(&m, scratch, sizeof(scratch)) < 0 && st->atr_ok) {
		/* what GetParameters returned is not a valid structure itself: use the ATR's */
		note(r, "the structure in force is not valid to send back; using the ATR's");
		n = params_from_atr(&st->atr, proto, p);
	}
	params_text(text, sizeof(text), proto, p, n);
	note(r, "set %s", text);
	xchg(st, CCID_PC_TO_RDR_SET_PARAMETERS, proto, 0, 0, p, n, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED%s", st->d.dwFeatures & CCID_FEAT_AUTO_PPS_PROP
			      ? " (dwFeatures 0040: the reader negotiates by itself)" : "");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.7: a valid structure for the card's protocol");
		return;
	}
	if (a.m.rsp.b9 != proto || a.m.dwLength != n || memcmp(a.m.abData, p, n)) {
		params_text(text, sizeof(text), a.m.rsp.b9, a.m.abData, a.m.dwLength);
		judge(r, V_DEVIATION, "answered with %s, not the structure set (CCID §6.2.3: the parameters in force; "
		      "a value it cannot apply is refused with its offset, §6.2.6)", text);
		return;
	}
	note(r, "echoed");
	remember_params(st, &a);
}

/*
 * SetParameters with one bad field must fail with bError = that field's
 * offset (CCID §6.2.6): bIFSC 00 (offset 15) for T=1, bClockStop 04
 * (offset 14) for T=0; and leave the parameters as they were.
 */
static void probe_set_params_bad(struct st *st)
{
	struct result *r = begin(st, "SetParameters invalid", "CCID §6.1.7, §6.2.6");
	uint8_t proto = current_protocol(st), p[CCID_T1_PARAMS_LEN], bad_off;
	size_t n;
	struct answer a;
	char before[64], after[64];

	if (!need_card(st, r, true))
		return;
	if (st->have_params) {
		memcpy(p, st->params, st->params_len);
		n = st->params_len;
	} else {
		n = params_from_atr(&st->atr, proto, p);
	}
	if (proto == CCID_PROTOCOL_T1) {
		p[5] = 0x00;
		bad_off = CCID_OFF_DATA + 5;
		note(r, "T=1 with bIFSC 00");
	} else {
		p[4] = 0x04;
		bad_off = CCID_OFF_DATA + 4;
		note(r, "T=0 with bClockStop 04");
	}
	xchg_hand(st, CCID_PC_TO_RDR_SET_PARAMETERS, (uint32_t)n, proto, 0, 0, p, n, &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with bError %u, the field's offset", bad_off);
	else if (a.m.rsp.bError != bad_off)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError %u, the field's offset",
		      ccid_error_name(a.m.rsp.bError), a.m.rsp.bError, bad_off);
	else
		note(r, "refused with bError %u", bad_off);
	/* the parameters in force are unchanged */
	if (!st->have_params)
		return;
	xchg(st, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	if (a.m.rsp.b9 != st->protocol || a.m.dwLength != st->params_len || memcmp(a.m.abData, st->params, st->params_len)) {
		params_text(before, sizeof(before), st->protocol, st->params, st->params_len);
		params_text(after, sizeof(after), a.m.rsp.b9, a.m.abData, a.m.dwLength);
		judge(r, V_DEVIATION, "the parameters changed from %s to %s", before, after);
		remember_params(st, &a);
	} else {
		note(r, "parameters unchanged");
	}
}

/* ResetParameters: the reader's defaults, a Parameters answer (CCID §6.1.6). */
static void probe_reset_params(struct st *st)
{
	struct result *r = begin(st, "ResetParameters", "CCID §6.1.6, §6.2.3");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_RESET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.6");
		return;
	}
	check_params(st, r, &a);
	remember_params(st, &a);
}

/*
 * IccClock stop, then restart (CCID §6.1.9): SlotStatus with bClockStatus
 * 1..3 (stopped) then 0 (running), and GetSlotStatus agrees (§6.2.2).
 * Refusing a stop is allowed when dwFeatures does not declare 0100.
 */
static void clock_status_after(struct st *st, struct result *r, bool stopped)
{
	struct answer a;

	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	if (stopped ? a.m.rsp.b9 == 0 : a.m.rsp.b9 != 0)
		judge(r, V_DEVIATION, "GetSlotStatus then reports bClockStatus %u (CCID §6.2.2)", a.m.rsp.b9);
}

static void probe_clock_stop(struct st *st)
{
	struct result *r = begin(st, "IccClock stop", "CCID §6.1.9, §6.2.2");
	bool declared = st->d.dwFeatures & CCID_FEAT_CLOCK_STOP;
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_ICC_CLOCK, CCID_CLOCK_STOP, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		char what[160];

		status_text(&a.m, what, sizeof(what));
		if (declared)
			judge(r, V_DEVIATION, "%s although dwFeatures declares clock stop (0100)", what);
		else
			judge(r, V_UNSUPPORTED, "%s; dwFeatures does not declare clock stop (0100)", what);
		return;
	}
	st->clock_stopped = true;
	if (a.m.rsp.b9 == 0)
		judge(r, V_DEVIATION, "bClockStatus 00 (running) after a stop");
	else
		note(r, "bClockStatus %u", a.m.rsp.b9);
	if (!declared)
		note(r, "stopped although dwFeatures does not declare clock stop (0100)");
	clock_status_after(st, r, true);
}

static void probe_clock_restart(struct st *st)
{
	struct result *r = begin(st, "IccClock restart", "CCID §6.1.9, §6.2.2");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	if (!st->clock_stopped) {
		judge(r, V_SKIPPED, "the clock was not stopped");
		return;
	}
	xchg(st, CCID_PC_TO_RDR_ICC_CLOCK, CCID_CLOCK_RESTART, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.9");
		return;
	}
	st->clock_stopped = false;
	if (a.m.rsp.b9 != 0)
		judge(r, V_DEVIATION, "bClockStatus %u after a restart (00: running)", a.m.rsp.b9);
	else
		note(r, "bClockStatus 0");
	clock_status_after(st, r, false);
}

/*
 * SetDataRateAndClockFrequency with the descriptor's defaults, which are
 * always valid (CCID §5.1): the answer carries the values applied (§6.2.5).
 */
static void probe_set_rate(struct st *st)
{
	struct result *r = begin(st, "SetDataRateAndClockFrequency", "CCID §6.1.14, §6.2.5");
	uint8_t data[8];
	struct answer a;

	if (!need_card(st, r, true))
		return;
	put_le32(data, st->d.dwDefaultClock);
	put_le32(data + 4, st->d.dwDataRate);
	xchg(st, CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY, 0, 0, 0, data, sizeof(data), CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.14: the descriptor's default clock and rate");
		return;
	}
	if (get_le32(a.m.abData) != st->d.dwDefaultClock || get_le32(a.m.abData + 4) != st->d.dwDataRate)
		judge(r, V_DEVIATION, "asked for the defaults %u kHz, %u bps; the answer says %u kHz, %u bps",
		      st->d.dwDefaultClock, st->d.dwDataRate, get_le32(a.m.abData), get_le32(a.m.abData + 4));
	else
		note(r, "applies %u kHz, %u bps", st->d.dwDefaultClock, st->d.dwDataRate);
}

/* Escape: any RDR_to_PC_Escape (vendor data or a vendor refusal), or CMD_NOT_SUPPORTED (CCID §6.1.8). */
static void probe_escape(struct st *st)
{
	struct result *r = begin(st, "Escape", "CCID §6.1.8, §6.2.4");
	struct answer a;

	/* no vendor data: nothing a vendor could act on */
	xchg(st, CCID_PC_TO_RDR_ESCAPE, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
	else if (failed(&a))
		note(r, "RDR_to_PC_Escape, refused with %s (bError %02X): a vendor matter", ccid_error_name(a.m.rsp.bError),
		     a.m.rsp.bError);
	else
		note(r, "RDR_to_PC_Escape with %u bytes of vendor data", a.m.dwLength);
}

/* T0APDU (CCID §6.1.10) is for APDU-level readers; the others refuse it. */
static void probe_t0apdu(struct st *st)
{
	struct result *r = begin(st, "T0APDU", "CCID §6.1.10");
	enum ccid_exchange_level level = (enum ccid_exchange_level)st->info.exchange_level;
	bool apdu = level == CCID_LEVEL_SHORT_APDU || level == CCID_LEVEL_EXTENDED_APDU;
	struct answer a;

	/* bmChanges 0: nothing changes */
	xchg(st, CCID_PC_TO_RDR_T0APDU, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (apdu) {
		if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
			judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		else if (failed(&a))
			refused(r, &a, "CCID §6.1.10: bmChanges 00");
		else
			note(r, "accepted (bmChanges 00) at %s level", ccid_exchange_level_name(level));
		return;
	}
	if (failed(&a))
		note(r, "refused at %s level with %s, as it must be", ccid_exchange_level_name(level),
		     ccid_error_name(a.m.rsp.bError));
	else
		judge(r, V_DEVIATION, "accepted at %s level; T0APDU is for APDU-level readers", ccid_exchange_level_name(level));
}

/* Secure (CCID §6.1.11): without bPINSupport, CMD_NOT_SUPPORTED; with a PIN pad it needs a person. */
static void probe_secure(struct st *st)
{
	struct result *r = begin(st, "Secure", "CCID §6.1.11");
	static const uint8_t cancel[] = { 0x04 };   /* bPINOperation 04: cancel PIN function, harmless */
	struct answer a;

	if (st->d.bPINSupport) {
		judge(r, V_SKIPPED, "bPINSupport %02X declares a PIN pad; PIN entry needs a person at it",
		      st->d.bPINSupport);
		return;
	}
	xchg(st, CCID_PC_TO_RDR_SECURE, 0, 0, 0, cancel, sizeof(cancel), CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED, as bPINSupport is 00");
	else if (failed(&a))
		refused(r, &a, "CCID §6.2.6: a command the reader lacks is CMD_NOT_SUPPORTED");
	else
		judge(r, V_DEVIATION, "accepted although bPINSupport is 00 (CCID §5.1)");
}

/*
 * Abort (CCID §5.3.1, §6.1.13): the ABORT class request with bSlot and the
 * bSeq of the PC_to_RDR_Abort that follows; answered SlotStatus, and the
 * slot works afterwards.
 */
static void probe_abort(struct st *st)
{
	struct result *r = begin(st, "Abort", "CCID §5.3.1, §6.1.13");
	struct answer a;
	int control_rc;

	xchg_abort(st, &a, &control_rc);
	if (control_rc == -EPIPE)
		judge(r, V_DEVIATION, "the ABORT class request stalled (CCID §5.3.1: the host aborts with it and then "
		      "PC_to_RDR_Abort)");
	else if (control_rc < 0)
		judge(r, V_DEVIATION, "the ABORT class request failed: %s", uccid_strerror(control_rc));
	else
		note(r, "ABORT request (bSeq %02X) accepted", a.seq);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.13");
		return;
	}
	note(r, "PC_to_RDR_Abort answered SlotStatus");
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a))
		judge(r, V_DEVIATION, "the slot still refuses commands after the Abort (%s)", ccid_error_name(a.m.rsp.bError));
	else
		note(r, "the slot works afterwards");
}

/* CCID §6.2.6: a command with dwLength wrong for its type fails with bError 1. */
static void probe_err_length(struct st *st)
{
	struct result *r = begin(st, "error: dwLength", "CCID §6.1.2, §6.2.6");
	static const uint8_t extra[] = { 0x00 };
	struct answer a;

	note(r, "IccPowerOff with dwLength 1");
	xchg_hand(st, CCID_PC_TO_RDR_ICC_POWER_OFF, 1, 0, 0, 0, extra, sizeof(extra), &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a)) {
		st->powered = false;
		judge(r, V_DEVIATION, "accepted; it must fail with bError 1 (dwLength)");
	} else if (a.m.rsp.bError != CCID_OFF_LENGTH) {
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 1 (dwLength)",
		      ccid_error_name(a.m.rsp.bError), a.m.rsp.bError);
	} else {
		note(r, "refused with bError 1");
	}
}

/*
 * CCID §6.2.6: a command to a slot beyond bMaxSlotIndex fails with
 * bError 5 (bSlot) and bmICCStatus 2, bSlot echoed.  The shim puts the
 * slot on the wire and hands the answer back to our slot.
 */
static void probe_err_slot(struct st *st)
{
	struct result *r = begin(st, "error: bSlot", "CCID §6.2.6");
	unsigned bad = st->info.nslots;
	struct answer a;
	bool answered, echoed;

	if (bad > 255) {
		judge(r, V_SKIPPED, "bMaxSlotIndex is FF: every slot number exists");
		return;
	}
	note(r, "GetSlotStatus to slot %u", bad);
	xchg_to_slot(st, (uint8_t)bad, &a, &answered, &echoed);
	if (answered && !echoed)
		judge(r, V_DEVIATION, "answered with bSlot %u, not the slot addressed (CCID §6.2)", st->slot);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a)) {
		judge(r, V_DEVIATION, "accepted; it must fail with bError 5 (bSlot)");
		return;
	}
	if (a.m.rsp.bError != CCID_OFF_SLOT)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 5 (bSlot)", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT)
		judge(r, V_DEVIATION, "bmICCStatus %u, not 2 (no ICC)", CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (r->v == V_OK)
		note(r, "refused with bError 5, bmICCStatus 2");
}

/* CCID §6.2.6: an RFU byte set fails with bError = its offset. */
static void probe_err_rfu(struct st *st)
{
	struct result *r = begin(st, "error: RFU byte", "CCID §6.1.3, §6.2.6");
	struct answer a;

	note(r, "GetSlotStatus with RFU byte 8 = 01");
	xchg_hand(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0x01, 0, NULL, 0, &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with bError 8, the RFU byte's offset");
	else if (a.m.rsp.bError != CCID_OFF_B8)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 8", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	else
		note(r, "refused with bError 8");
}

/* CCID §6.1, §6.2.6: an unknown message type gets CMD_NOT_SUPPORTED in a SlotStatus. */
static void probe_err_type(struct st *st)
{
	struct result *r = begin(st, "error: message type", "CCID §6.1, §6.2.6");
	struct answer a;

	note(r, "message type 64");
	xchg_hand(st, 0x64, 0, 0, 0, 0, NULL, 0, &a);
	if (answer_problem(st, &a, r))
		return;
	if (a.m.bMessageType != CCID_RDR_TO_PC_SLOT_STATUS)
		judge(r, V_DEVIATION, "answered with %s, not RDR_to_PC_SlotStatus", type_name(a.m.bMessageType));
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with CMD_NOT_SUPPORTED");
	else if (a.m.rsp.bError != CCID_ERR_CMD_NOT_SUPPORTED)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not CMD_NOT_SUPPORTED", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	if (r->v == V_OK)
		note(r, "SlotStatus, CMD_NOT_SUPPORTED");
}

static void mechanical(struct st *st, const char *probe, uint8_t fn, uint32_t needs)
{
	struct result *r = begin(st, probe, "CCID §6.1.12");
	struct answer a;

	if (!(st->d.dwMechanical & needs)) {
		judge(r, V_SKIPPED, "dwMechanical %08X does not declare it", st->d.dwMechanical);
		return;
	}
	if (fn == CCID_MECH_EJECT && !st->present) {
		judge(r, V_SKIPPED, "no card to eject");
		return;
	}
	xchg(st, CCID_PC_TO_RDR_MECHANICAL, fn, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.12: a function dwMechanical declares");
		return;
	}
	note(r, "SlotStatus, bmICCStatus %u", CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (fn != CCID_MECH_EJECT)
		return;
	st->powered = false;
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	note(r, st->present ? "the card is still detected (bmICCStatus %u)" : "the slot is empty (bmICCStatus %u)",
	     CCID_ICC_STATUS(a.m.rsp.bStatus));
}

/*
 * Mechanical (CCID §6.1.12): without dwMechanical, CMD_NOT_SUPPORTED is
 * expected (sent: unlock, harmless if a mechanism exists after all).  With
 * one, nothing moves unless --mechanical: then lock, unlock, eject.
 * Capture is never sent (the card would be kept).
 */
static void probe_mechanical(struct st *st)
{
	struct answer a;
	struct result *r;

	if (!st->d.dwMechanical) {
		r = begin(st, "Mechanical", "CCID §6.1.12");
		xchg(st, CCID_PC_TO_RDR_MECHANICAL, CCID_MECH_UNLOCK, 0, 0, NULL, 0, CMD_MS, &a);
		if (answer_problem(st, &a, r))
			return;
		if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
			judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED, as dwMechanical is 0");
		else if (failed(&a))
			refused(r, &a, "CCID §6.2.6: a command the reader lacks is CMD_NOT_SUPPORTED");
		else
			judge(r, V_DEVIATION, "unlock accepted although dwMechanical is 0 (CCID §5.1)");
		return;
	}
	if (!st->mechanical) {
		r = begin(st, "Mechanical", "CCID §6.1.12");
		judge(r, V_SKIPPED, "dwMechanical %08X declares a mechanism; --mechanical locks, unlocks and ejects "
		      "the card", st->d.dwMechanical);
		return;
	}
	mechanical(st, "Mechanical lock", CCID_MECH_LOCK, CCID_MECHANICAL_LOCK);
	mechanical(st, "Mechanical unlock", CCID_MECH_UNLOCK, CCID_MECHANICAL_LOCK);
	mechanical(st, "Mechanical eject", CCID_MECH_EJECT, CCID_MECHANICAL_EJECT);
}

/* CCID §6.2: every answer echoes bSlot and bSeq, over the whole run. */
static void probe_echo(struct st *st)
{
	struct result *r = begin(st, "bSeq/bSlot echo", "CCID §6.2");

	if (st->echo_bad)
		judge(r, V_DEVIATION, "%u of %u answers did not belong to the command in progress", st->echo_bad,
		      st->answers);
	else
		note(r, "all %u answers echoed bSlot and bSeq", st->answers);
}

const struct step probe_steps[] = {
	{ "descriptor", probe_descriptor },
	{ "GET_CLOCK_FREQUENCIES", probe_clocks },
	{ "GET_DATA_RATES", probe_data_rates },
	{ "GetSlotStatus", probe_slot_status },
	{ "IccPowerOff", probe_power_off },
	{ "IccPowerOn", probe_power_on },
	{ "GetParameters", probe_get_params },
	{ "XfrBlock", probe_xfr },
	{ "SetParameters", probe_set_params },
	{ "SetParameters invalid", probe_set_params_bad },
	{ "ResetParameters", probe_reset_params },
	{ "IccClock stop", probe_clock_stop },
	{ "IccClock restart", probe_clock_restart },
	{ "SetDataRateAndClockFrequency", probe_set_rate },
	{ "IccPowerOn warm", probe_warm },
	{ "Escape", probe_escape },
	{ "T0APDU", probe_t0apdu },
	{ "Secure", probe_secure },
	{ "Abort", probe_abort },
	{ "error: dwLength", probe_err_length },
	{ "error: bSlot", probe_err_slot },
	{ "error: RFU byte", probe_err_rfu },
	{ "error: message type", probe_err_type },
	{ "Mechanical", probe_mechanical },
	{ "bSeq/bSlot echo", probe_echo },
};

const size_t probe_nsteps = sizeof(probe_steps) / sizeof(probe_steps[0]);

void probes_end(struct st *st)
{
	if (st->gone) {
		struct result *r = begin(st, "reader", "CCID §6");

		judge(r, V_DEVIATION, "the reader went away; the probes after this were not run");
	} else if (st->present) {
		/* leave the card powered off (CCID §6.1.2), whatever the probes did */
		struct result scratch = { .v = V_OK };

		power_off(st, &scratch, false);
	}
}
