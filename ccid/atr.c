/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 §8 Answer-to-Reset: the structural walk (TS, T0, interface
 * byte groups chained by TDi, historical bytes, TCK), the values a driver
 * derives from it with the §8.3 defaults, and the field walker that explains
 * an ATR to a person.  The walk never reads past len and refuses anything
 * structurally wrong; values the standard reserves are accepted with a flag
 * and a default so the caller decides (see ccid/atr.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccid/atr.h"
#include "ccid/field.h"
#include "ccid/timing.h"

/* Index of TA/TB/TC/TD inside a group, in the bit order of the Y nibble. */
enum { IB_A, IB_B, IB_C, IB_D, IB_COUNT };

#define ATR_IB_NAMES(n) { "TA" #n, "TB" #n, "TC" #n, "TD" #n }
static const char *const ib_names[CCID_ATR_MAX_GROUPS][IB_COUNT] = {
	ATR_IB_NAMES(1), ATR_IB_NAMES(2), ATR_IB_NAMES(3), ATR_IB_NAMES(4),
	ATR_IB_NAMES(5), ATR_IB_NAMES(6), ATR_IB_NAMES(7), ATR_IB_NAMES(8),
	ATR_IB_NAMES(9), ATR_IB_NAMES(10), ATR_IB_NAMES(11), ATR_IB_NAMES(12),
	ATR_IB_NAMES(13), ATR_IB_NAMES(14), ATR_IB_NAMES(15), ATR_IB_NAMES(16),
	ATR_IB_NAMES(17), ATR_IB_NAMES(18), ATR_IB_NAMES(19), ATR_IB_NAMES(20),
	ATR_IB_NAMES(21), ATR_IB_NAMES(22), ATR_IB_NAMES(23), ATR_IB_NAMES(24),
	ATR_IB_NAMES(25), ATR_IB_NAMES(26), ATR_IB_NAMES(27), ATR_IB_NAMES(28),
	ATR_IB_NAMES(29), ATR_IB_NAMES(30), ATR_IB_NAMES(31), ATR_IB_NAMES(32),
};

#define ATR_GROUP_NAME(n) "group " #n
static const char *const group_names[CCID_ATR_MAX_GROUPS] = {
	ATR_GROUP_NAME(1), ATR_GROUP_NAME(2), ATR_GROUP_NAME(3), ATR_GROUP_NAME(4),
	ATR_GROUP_NAME(5), ATR_GROUP_NAME(6), ATR_GROUP_NAME(7), ATR_GROUP_NAME(8),
	ATR_GROUP_NAME(9), ATR_GROUP_NAME(10), ATR_GROUP_NAME(11), ATR_GROUP_NAME(12),
	ATR_GROUP_NAME(13), ATR_GROUP_NAME(14), ATR_GROUP_NAME(15), ATR_GROUP_NAME(16),
	ATR_GROUP_NAME(17), ATR_GROUP_NAME(18), ATR_GROUP_NAME(19), ATR_GROUP_NAME(20),
	ATR_GROUP_NAME(21), ATR_GROUP_NAME(22), ATR_GROUP_NAME(23), ATR_GROUP_NAME(24),
	ATR_GROUP_NAME(25), ATR_GROUP_NAME(26), ATR_GROUP_NAME(27), ATR_GROUP_NAME(28),
	ATR_GROUP_NAME(29), ATR_GROUP_NAME(30), ATR_GROUP_NAME(31), ATR_GROUP_NAME(32),
};

/*
 * §8.1: in the inverse convention state L codes 1 and the msb comes first.
 * A reader that samples such a character as if it were direct convention
 * delivers the complement with the bits in reverse order (3F arrives as 03).
 */
static uint8_t inverse_to_direct(uint8_t b)
{
	b = (uint8_t)~b;
	b = (uint8_t)((b >> 4) | (b << 4));
	b = (uint8_t)(((b & 0xCC) >> 2) | ((b & 0x33) << 2));
	b = (uint8_t)(((b & 0xAA) >> 1) | ((b & 0x55) << 1));
	return b;
}

static uint8_t *group_byte(struct ccid_atr_group *g, int k, uint8_t **off)
{
	switch (k) {
	case IB_A:
		*off = &g->off_TA;
		return &g->TA;
	case IB_B:
		*off = &g->off_TB;
		return &g->TB;
	case IB_C:
		*off = &g->off_TC;
		return &g->TC;
	default:
		*off = &g->off_TD;
		return &g->TD;
	}
}

/* The values of §8.3 and §11.4, with their defaults where absent. */
static void atr_derive(struct ccid_atr *a)
{
	const struct ccid_atr_group *g1 = &a->group[0];
	bool have_default = false, t1_ta = false, t1_tb = false, t1_tc = false;

	/* §8.2.3: every TDi offers its T; T=15 only qualifies global bytes; no TD1 means T=0. */
	for (size_t i = 0; i < a->ngroups; i++) {
		const struct ccid_atr_group *g = &a->group[i];
		uint8_t T;

		if (!(g->present & CCID_ATR_TD))
			continue;
		T = g->TD & 0x0F;
		if (T == 15) {
			if (i == 0)
				a->flags |= CCID_ATR_TD1_T15;
			continue;
		}
		a->protocols |= (uint16_t)(1u << T);
		if (!have_default) {
			a->default_protocol = T;
			have_default = true;
		}
	}
	if (!a->protocols) {
		a->protocols = 1u << 0;
		a->default_protocol = 0;
	}

	/* TA1: FI (bits 8..5) and DI (bits 4..1), default 11 (Fd = 372, Dd = 1). */
	a->Fi_index = 1;
	a->Di_index = 1;
	if (g1->present & CCID_ATR_TA) {
		a->Fi_index = g1->TA >> 4;
		a->Di_index = g1->TA & 0x0F;
	}
	a->Fi = ccid_fi(a->Fi_index);
	a->fmax_khz = ccid_fmax_khz(a->Fi_index);
	a->Di = ccid_di(a->Di_index);
	if (!a->Fi)
		a->flags |= CCID_ATR_FI_RFU;
	if (!a->Di)
		a->flags |= CCID_ATR_DI_RFU;

	/* TC1: N, default 0. */
	a->N = (g1->present & CCID_ATR_TC) ? g1->TC : 0;

	a->WI = 10;
	a->IFSC = 32;
	a->BWI = 4;
	a->CWI = 13;
	a->edc = CCID_EDC_LRC;

	if (a->ngroups >= 2) {
		const struct ccid_atr_group *g2 = &a->group[1];

		/* TA2: specific mode byte (§8.3). */
		if (g2->present & CCID_ATR_TA) {
			a->specific_mode = true;
			a->ta2_protocol = g2->TA & 0x0F;
			a->ta2_can_change = !(g2->TA & 0x80);
			a->ta2_implicit = (g2->TA & 0x10) != 0;
		}
		/* TC2: WI for T=0 (§10.2); 00 is RFU. */
		if (g2->present & CCID_ATR_TC) {
			if (g2->TC)
				a->WI = g2->TC;
			else
				a->flags |= CCID_ATR_WI_RFU;
		}
	}

	/* Groups 3 and later: the first TA/TB/TC for T=1 (§11.4) and the first TA for T=15 (§8.3). */
	for (size_t i = 2; i < a->ngroups; i++) {
		const struct ccid_atr_group *g = &a->group[i];

		if (g->T == 1) {
			if ((g->present & CCID_ATR_TA) && !t1_ta) {
				t1_ta = true;
				if (g->TA == 0x00 || g->TA == 0xFF)
					a->flags |= CCID_ATR_IFSC_INVALID;
				else
					a->IFSC = g->TA;
			}
			if ((g->present & CCID_ATR_TB) && !t1_tb) {
				t1_tb = true;
				a->BWI = g->TB >> 4;
				a->CWI = g->TB & 0x0F;
				if (a->BWI > 9)
					a->flags |= CCID_ATR_BWI_RFU;
			}
			if ((g->present & CCID_ATR_TC) && !t1_tc) {
				t1_tc = true;
				a->edc = (g->TC & 0x01) ? CCID_EDC_CRC : CCID_EDC_LRC;
				if (g->TC & 0xFE)
					a->flags |= CCID_ATR_EDC_RFU;
			}
		} else if (g->T == 15 && (g->present & CCID_ATR_TA) && !a->has_clock_class) {
			a->has_clock_class = true;
			a->clock_stop = g->TA >> 6;
			a->class_indicator = g->TA & 0x3F;
		}
	}
}

/* Record a defect; at most one per kind, so CCID_ATR_MAX_FINDINGS bounds the list. */
static void add_finding(struct ccid_atr *a, enum ccid_atr_defect defect, int err, size_t offset, size_t count,
			const char *expected)
{
	struct ccid_atr_finding *f;

	if (a->nfindings >= CCID_ATR_MAX_FINDINGS)
		return;
	f = &a->findings[a->nfindings++];
	f->defect = defect;
	f->err = err;
	f->offset = offset;
	f->count = count;
	f->expected = expected;
	f->want = -1;
	f->got = -1;
}

/* XOR of T0 .. bytes[end - 1] (§8.2.5: TCK makes the XOR of T0..TCK zero). */
static uint8_t xor_from_t0(const uint8_t *bytes, size_t end)
{
	uint8_t x = 0;

	for (size_t i = 1; i < end; i++)
		x ^= bytes[i];
	return x;
}

/*
 * The one walk both parses share: refuses only a missing or invalid TS,
 * records every structural defect as a finding and goes on with what is
 * there.  Findings are recorded in the order ccid_atr_parse() meets them.
 */
static int atr_walk(const uint8_t *buf, size_t in_len, struct ccid_atr *a, struct ccid_diag *diag)
{
	size_t len = in_len, pos, gi;
	uint8_t y, T;
	bool tck_needed = false;

	if (in_len == 0)
		return ccid_fail(diag, 0, "TS (3B direct or 3F inverse convention)", -ENODATA);
	if (buf[0] != 0x3B && buf[0] != 0x3F && buf[0] != 0x03)
		return ccid_fail(diag, 0, "TS 3B (direct) or 3F (inverse convention)", -EBADMSG);

	memset(a, 0, sizeof(*a));
	if (in_len > CCID_ATR_MAX) {
		len = CCID_ATR_MAX;
		add_finding(a, CCID_ATR_TOO_LONG, -EMSGSIZE, CCID_ATR_MAX, in_len - CCID_ATR_MAX,
			    "end of ATR (at most 33 bytes, ISO 7816-3 8.2.1)");
	}
	a->len = len;
	if (buf[0] == 0x03) {
		a->inverse = true;
		a->flags |= CCID_ATR_RAW_INVERSE;
		for (size_t i = 0; i < len; i++)
			a->bytes[i] = inverse_to_direct(buf[i]);
	} else {
		a->inverse = buf[0] == 0x3F;
		memcpy(a->bytes, buf, len);
	}

	/* §8.2.2: T0 = Y1 | K. */
	if (len < 2) {
		add_finding(a, CCID_ATR_TRUNCATED, -ENODATA, len, 1, "T0 (format byte)");
		a->ngroups = 1;
		a->group[0].T = CCID_ATR_T_GLOBAL;
		a->hist_offset = len;
		goto derive;
	}
	a->T0 = a->bytes[1];
	a->K = a->T0 & 0x0F;
	y = a->T0 >> 4;
	pos = 2;
	T = CCID_ATR_T_GLOBAL;

	/* §8.2.3: each Y nibble announces TA, TB, TC, TD of the next group in that order. */
	for (gi = 0;; gi++) {
		struct ccid_atr_group *g = &a->group[gi];

		g->T = T;
		for (int k = IB_A; k < IB_COUNT; k++) {
			uint8_t *off, *val;

			if (!(y & (1u << k)))
				continue;
			if (pos >= len) {
				/* the rest of the ATR is absent: what was read stands */
				add_finding(a, CCID_ATR_TRUNCATED, -ENODATA, len, 1, ib_names[gi][k]);
				a->ngroups = gi + 1;
				a->hist_offset = len;
				goto derive;
			}
			val = group_byte(g, k, &off);
			*val = a->bytes[pos];
			*off = (uint8_t)pos;
			g->present |= (uint8_t)(CCID_ATR_TA << k);
			pos++;
		}
		if (!(g->present & CCID_ATR_TD))
			break;
		T = g->TD & 0x0F;
		y = g->TD >> 4;
		if (T != 0)
			tck_needed = true;
		/* Unreachable within 33 bytes (TD32 would be byte 34); kept as the array bound. */
		if (gi + 1 >= CCID_ATR_MAX_GROUPS) {
			add_finding(a, CCID_ATR_TRUNCATED, -EMSGSIZE, pos, 1,
				    "end of ATR (too many interface byte groups)");
			break;
		}
	}
	a->ngroups = gi + 1;

	a->hist_offset = pos;
	if (len - pos < a->K) {
		add_finding(a, CCID_ATR_MISSING_HISTORICAL, -ENODATA, len, a->K - (len - pos),
			    "historical byte (K in T0)");
		a->hist_len = len - pos;
		if (tck_needed)
			add_finding(a, CCID_ATR_MISSING_TCK, -ENODATA, len, 1,
				    "TCK (a protocol other than T=0 is indicated)");
		goto derive;
	}
	a->hist_len = a->K;
	pos += a->K;

	/* §8.2.5: TCK is absent only if T=0 alone is indicated. */
	if (tck_needed) {
		if (pos >= len) {
			add_finding(a, CCID_ATR_MISSING_TCK, -ENODATA, len, 1,
				    "TCK (a protocol other than T=0 is indicated)");
			goto derive;
		}
		a->has_tck = true;
		a->TCK = a->bytes[pos];
		a->tck_offset = pos;
		if (xor_from_t0(a->bytes, pos + 1)) {
			add_finding(a, CCID_ATR_WRONG_TCK, -EPROTO, pos, 1, "TCK making the XOR of T0..TCK zero");
			a->findings[a->nfindings - 1].want = xor_from_t0(a->bytes, pos);
			a->findings[a->nfindings - 1].got = a->TCK;
		}
		pos++;
		if (pos < len)
			add_finding(a, CCID_ATR_EXTRA_AFTER_TCK, -EMSGSIZE, pos, len - pos, "end of ATR after TCK");
	} else if (pos < len) {
		static const char *const t0_end = "end of ATR (no TCK: only T=0 is indicated, ISO 7816-3 8.2.5)";

		if (len - pos == 1 && !xor_from_t0(a->bytes, len)) {
			/* a check byte nobody asked for: keep it as TCK */
			add_finding(a, CCID_ATR_UNEXPECTED_TCK, -EMSGSIZE, pos, 1, t0_end);
			a->has_tck = true;
			a->TCK = a->bytes[pos];
			a->tck_offset = pos;
			pos++;
		} else {
			add_finding(a, CCID_ATR_EXTRA_BYTES, -EMSGSIZE, pos, len - pos, t0_end);
		}
	}
	if (pos < len) {
		a->extra_offset = pos;
		a->extra_len = len - pos;
	}

derive:
	atr_derive(a);
	return 0;
}

int ccid_atr_parse_lenient(const uint8_t *buf, size_t len, struct ccid_atr *ret, struct ccid_diag *diag)
{
	struct ccid_atr a;
	int r;

	if ((!buf && len) || !ret)
		return -EINVAL;
	r = atr_walk(buf, len, &a, diag);
	if (r < 0)
		return r;
	*ret = a;
	return 0;
}

int ccid_atr_parse(const uint8_t *buf, size_t len, struct ccid_atr *ret, struct ccid_diag *diag)
{
	struct ccid_atr a;
	int r;

	if (!ret)
		return -EINVAL;
	r = ccid_atr_parse_lenient(buf, len, &a, diag);
	if (r < 0)
		return r;
	if (a.nfindings)
		return ccid_fail(diag, a.findings[0].offset, a.findings[0].expected, a.findings[0].err);
	*ret = a;
	return 0;
}

const char *ccid_atr_defect_name(enum ccid_atr_defect defect)
{
	switch (defect) {
	case CCID_ATR_TRUNCATED: return "truncated";
	case CCID_ATR_MISSING_HISTORICAL: return "missing-historical";
	case CCID_ATR_MISSING_TCK: return "missing-tck";
	case CCID_ATR_WRONG_TCK: return "wrong-tck";
	case CCID_ATR_UNEXPECTED_TCK: return "unexpected-tck";
	case CCID_ATR_EXTRA_BYTES: return "extra-bytes";
	case CCID_ATR_EXTRA_AFTER_TCK: return "extra-after-tck";
	case CCID_ATR_TOO_LONG: return "too-long";
	}
	return "unknown";
}

int ccid_atr_finding_text(const struct ccid_atr_finding *f, char *buf, size_t cap)
{
	if (!f || (!buf && cap))
		return -EINVAL;
	switch (f->defect) {
	case CCID_ATR_TRUNCATED:
		return snprintf(buf, cap, "truncated at byte %zu: expected %s, found the end", f->offset, f->expected);
	case CCID_ATR_MISSING_HISTORICAL:
		return snprintf(buf, cap, "%zu historical byte(s) missing at byte %zu (K in T0 says more)", f->count,
				f->offset);
	case CCID_ATR_MISSING_TCK:
		return snprintf(buf, cap, "TCK missing at byte %zu: a protocol other than T=0 is indicated "
				"(ISO 7816-3 8.2.5)", f->offset);
	case CCID_ATR_WRONG_TCK:
		return snprintf(buf, cap, "wrong TCK at byte %zu: expected %02X, found %02X", f->offset,
				(unsigned)f->want & 0xFFu, (unsigned)f->got & 0xFFu);
	case CCID_ATR_UNEXPECTED_TCK:
		return snprintf(buf, cap, "TCK at byte %zu though only T=0 is indicated (ISO 7816-3 8.2.5: none "
				"expected); its XOR is correct", f->offset);
	case CCID_ATR_EXTRA_BYTES:
		return snprintf(buf, cap, "%zu extra byte(s) at byte %zu after a T=0-only ATR (expected the end: no "
				"TCK, ISO 7816-3 8.2.5)", f->count, f->offset);
	case CCID_ATR_EXTRA_AFTER_TCK:
		return snprintf(buf, cap, "%zu extra byte(s) at byte %zu after TCK (expected the end)", f->count,
				f->offset);
	case CCID_ATR_TOO_LONG:
		return snprintf(buf, cap, "%zu byte(s) past the 33 ISO 7816-3 8.2.1 allows, from byte %zu: ignored",
				f->count, f->offset);
	}
	return snprintf(buf, cap, "defect %d at byte %zu", (int)f->defect, f->offset);
}

/* ---- describe ---------------------------------------------------------- */

struct text {
	char s[CCID_FIELD_TEXT_MAX];
	size_t n;
};

static void CCID_PRINTF(2, 3) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (t->n >= sizeof(t->s))
		return;
	va_start(ap, fmt);
	r = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		t->n += (size_t)r;
}

static void text_mhz(struct text *t, uint32_t khz)
{
	if (khz % 1000)
		text_add(t, "%u.%u MHz", (unsigned)(khz / 1000), (unsigned)(khz % 1000 / 100));
	else
		text_add(t, "%u MHz", (unsigned)(khz / 1000));
}

/* "TA2 TD2" for the bytes a Y nibble announces in group gi (0-based). */
static void text_announced(struct text *t, uint8_t y, size_t gi)
{
	bool any = false;

	for (int k = IB_A; k < IB_COUNT; k++) {
		if (!(y & (1u << k)))
			continue;
		if (gi < CCID_ATR_MAX_GROUPS)
			text_add(t, "%s%s", any ? " " : "", ib_names[gi][k]);
		any = true;
	}
	text_add(t, any ? " follow" : "no interface bytes follow");
}

static void describe_ta1(const struct ccid_atr *atr, struct text *t)
{
	if (!atr->Fi || !atr->Di) {
		text_add(t, "FI=%u DI=%u: ", atr->Fi_index, atr->Di_index);
		if (!atr->Fi)
			text_add(t, "Fi RFU ");
		if (!atr->Di)
			text_add(t, "Di RFU ");
		text_add(t, "(use Fd=372 Dd=1)");
		return;
	}
	text_add(t, "Fi=%u Di=%u (F/D = ", atr->Fi, atr->Di);
	if (atr->Fi % atr->Di == 0) {
		text_add(t, "%u", atr->Fi / atr->Di);
	} else {
		/* F/D to one decimal, rounded. */
		unsigned tenths = ((unsigned)atr->Fi * 20u + atr->Di) / (2u * atr->Di);

		text_add(t, "%u.%u", tenths / 10, tenths % 10);
	}
	text_add(t, "), fmax ");
	text_mhz(t, atr->fmax_khz);
}

static const char *const clock_stop_names[4] = {
	"not supported", "state L", "state H", "no preference",
};

static void text_classes(struct text *t, uint8_t cls)
{
	static const char *const names[3] = { "A (5 V)", "B (3 V)", "C (1.8 V)" };
	bool any = false;

	for (int i = 0; i < 3; i++) {
		if (cls & (1u << i)) {
			text_add(t, "%s%s", any ? ", " : "", names[i]);
			any = true;
		}
	}
	if (!any)
		text_add(t, "none");
	if (cls & 0x38)
		text_add(t, " (RFU bits set)");
}

struct walk {
	const struct ccid_atr *atr;
	ccid_emit_fn emit;
	void *ctx;
	bool t1_ta, t1_tb, t1_tc, t15_ta, t15_tb;
};

static void emit_value(struct walk *w, const char *name, size_t off, const struct text *t)
{
	if (off >= w->atr->len)
		return;
	ccid_emit(w->emit, w->ctx, CCID_FIELD_VALUE, name, off, 1, w->atr->bytes[off], "%s", t->s);
}

static void emit_flag(struct walk *w, const char *name, size_t off, uint64_t v, const char *fmt, ...)
	CCID_PRINTF(5, 6);

static void emit_flag(struct walk *w, const char *name, size_t off, uint64_t v, const char *fmt, ...)
{
	struct text t = { .n = 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t.s, sizeof(t.s), fmt, ap);
	va_end(ap);
	ccid_emit(w->emit, w->ctx, CCID_FIELD_FLAG, name, off, 1, v, "%s", t.s);
}

static void describe_ta(struct walk *w, size_t gi, const struct ccid_atr_group *g)
{
	const struct ccid_atr *atr = w->atr;
	const char *name = ib_names[gi][IB_A];
	uint8_t v = g->TA;
	size_t off = g->off_TA;
	struct text t = { .n = 0 };

	if (gi == 0) {
		describe_ta1(atr, &t);
		emit_value(w, name, off, &t);
		emit_flag(w, "FI", off, v >> 4, "Fi index %u: Fi = %u, fmax %u kHz%s", v >> 4,
			  ccid_fi(v >> 4), (unsigned)ccid_fmax_khz(v >> 4), ccid_fi(v >> 4) ? "" : " (RFU)");
		emit_flag(w, "DI", off, v & 0x0F, "Di index %u: Di = %u%s", v & 0x0F, ccid_di(v & 0x0F),
			  ccid_di(v & 0x0F) ? "" : " (RFU)");
		return;
	}
	if (gi == 1) {
		text_add(&t, "specific mode: T=%u, %s, %s", v & 0x0F,
			 (v & 0x80) ? "unable to change mode" : "may change mode after warm reset",
			 (v & 0x10) ? "implicit Fi/Di (not TA1)" : "Fi/Di from TA1");
		emit_value(w, name, off, &t);
		emit_flag(w, "T", off, v & 0x0F, "protocol T=%u", v & 0x0F);
		emit_flag(w, "b8", off, v >> 7, "%s", (v & 0x80) ? "unable to change mode" : "able to change mode");
		emit_flag(w, "b5", off, (v >> 4) & 1, "%s",
			  (v & 0x10) ? "parameters defined implicitly" : "parameters defined by the interface bytes");
		return;
	}
	if (g->T == 1) {
		if (w->t1_ta) {
			text_add(&t, "IFSC=%u (not the first TA for T=1: ignored)", v);
		} else if (v == 0x00 || v == 0xFF) {
			text_add(&t, "IFSC=%u invalid (1..254), using 32", v);
		} else {
			text_add(&t, "IFSC=%u: the card accepts blocks with up to %u information bytes", v, v);
		}
		w->t1_ta = true;
		emit_value(w, name, off, &t);
		return;
	}
	if (g->T == 15) {
		if (w->t15_ta) {
			text_add(&t, "global byte (not the first TA for T=15: ignored)");
			emit_value(w, name, off, &t);
			return;
		}
		w->t15_ta = true;
		text_add(&t, "clock stop: %s; classes: ", clock_stop_names[v >> 6]);
		text_classes(&t, v & 0x3F);
		emit_value(w, name, off, &t);
		emit_flag(w, "clock stop", off, v >> 6, "%s", clock_stop_names[v >> 6]);
		t.n = 0;
		text_classes(&t, v & 0x3F);
		emit_flag(w, "class", off, v & 0x3F, "%s", t.s);
		return;
	}
	text_add(&t, "interface byte for T=%u (not interpreted)", g->T);
	emit_value(w, name, off, &t);
}

static void describe_tb(struct walk *w, size_t gi, const struct ccid_atr_group *g)
{
	const char *name = ib_names[gi][IB_B];
	uint8_t v = g->TB;
	size_t off = g->off_TB;
	struct text t = { .n = 0 };

	if (gi < 2) {
		/* §8.3: TB1 and TB2 are deprecated; the interface device ignores them. */
		text_add(&t, "VPP programming (deprecated, ignored)");
		emit_value(w, name, off, &t);
		return;
	}
	if (g->T == 1) {
		text_add(&t, "BWI=%u CWI=%u%s%s", v >> 4, v & 0x0F, (v >> 4) > 9 ? " (BWI RFU)" : "",
			 w->t1_tb ? " (not the first TB for T=1: ignored)" : "");
		w->t1_tb = true;
		emit_value(w, name, off, &t);
		emit_flag(w, "BWI", off, v >> 4, "block waiting time integer %u", v >> 4);
		emit_flag(w, "CWI", off, v & 0x0F, "character waiting time integer %u", v & 0x0F);
		return;
	}
	if (g->T == 15) {
		if (w->t15_tb)
			text_add(&t, "global byte (not the first TB for T=15: ignored)");
		else if (v == 0)
			text_add(&t, "SPU: not used");
		else
			text_add(&t, "SPU: %s use 0x%02X", (v & 0x80) ? "proprietary" : "standard (RFU)", v & 0x7F);
		w->t15_tb = true;
		emit_value(w, name, off, &t);
		return;
	}
	text_add(&t, "interface byte for T=%u (not interpreted)", g->T);
	emit_value(w, name, off, &t);
}

static void describe_tc(struct walk *w, size_t gi, const struct ccid_atr_group *g)
{
	const char *name = ib_names[gi][IB_C];
	uint8_t v = g->TC;
	size_t off = g->off_TC;
	struct text t = { .n = 0 };

	if (gi == 0) {
		if (v == 255)
			text_add(&t, "N=255: minimum guard time (12 etu under T=0, 11 etu under T=1)");
		else
			text_add(&t, "N=%u: extra guard time, %u etu between characters to the card", v, 12u + v);
	} else if (gi == 1) {
		if (v)
			text_add(&t, "WI=%u: T=0 waiting time 960*%u*Fi/f", v, v);
		else
			text_add(&t, "WI=0 is RFU, using 10");
	} else if (g->T == 1) {
		text_add(&t, "T=1 checksum: %s%s%s", (v & 1) ? "CRC" : "LRC", (v & 0xFE) ? " (bits 8..2 RFU)" : "",
			 w->t1_tc ? " (not the first TC for T=1: ignored)" : "");
		w->t1_tc = true;
	} else {
		text_add(&t, "interface byte for T=%u (not interpreted)", g->T);
	}
	emit_value(w, name, off, &t);
}

static void describe_td(struct walk *w, size_t gi, const struct ccid_atr_group *g)
{
	const char *name = ib_names[gi][IB_D];
	uint8_t v = g->TD;
	size_t off = g->off_TD;
	struct text t = { .n = 0 };

	text_add(&t, "Y%zu=0x%X: ", gi + 2, v >> 4);
	text_announced(&t, v >> 4, gi + 1);
	if ((v & 0x0F) == 15)
		text_add(&t, "; T=15: global interface bytes%s", gi == 0 ? " (invalid in TD1)" : "");
	else
		text_add(&t, "; protocol T=%u", v & 0x0F);
	emit_value(w, name, off, &t);
	emit_flag(w, "Y", off, v >> 4, "interface bytes of group %zu", gi + 2);
	emit_flag(w, "T", off, v & 0x0F, "T=%u", v & 0x0F);
}

static void describe_section(struct walk *w, size_t gi, const struct ccid_atr_group *g)
{
	struct text t = { .n = 0 };
	size_t first = CCID_FIELD_NO_OFFSET, n = 0;
	const uint8_t offs[IB_COUNT] = { g->off_TA, g->off_TB, g->off_TC, g->off_TD };

	for (int k = IB_A; k < IB_COUNT; k++) {
		if (!(g->present & (CCID_ATR_TA << k)))
			continue;
		if (first == CCID_FIELD_NO_OFFSET)
			first = offs[k];
		n++;
	}
	if (gi == 0)
		text_add(&t, "global interface bytes, announced by T0");
	else if (gi == 1)
		text_add(&t, "announced by TD1 (T=%u): TA2, TB2 global, TC2 for T=0", g->T);
	else if (g->T == 15)
		text_add(&t, "global interface bytes, announced by TD%zu (T=15)", gi);
	else
		text_add(&t, "interface bytes for T=%u, announced by TD%zu", g->T, gi);
	ccid_emit(w->emit, w->ctx, CCID_FIELD_SECTION, group_names[gi], first, n, g->T, "%s", t.s);
}

static bool all_printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7E || p[i] == '"')
			return false;
	return n > 0;
}

static void describe_historical(struct walk *w)
{
	const struct ccid_atr *atr = w->atr;
	const uint8_t *h = atr->bytes + atr->hist_offset;
	size_t n = atr->hist_len;
	struct text t = { .n = 0 };

	text_add(&t, "K=%zu", n);
	if (all_printable(h, n)) {
		text_add(&t, ": \"%.*s\"", (int)n, (const char *)h);
	} else if (h[0] == 0x00) {
		/* ISO 7816-4 §8.1.1: category indicator byte. */
		text_add(&t, ", category 00: COMPACT-TLV objects, status indicator in the last 3 bytes");
	} else if (h[0] == 0x10) {
		text_add(&t, ", category 10: DIR data reference");
	} else if (h[0] == 0x80) {
		text_add(&t, ", category 80: COMPACT-TLV objects");
	} else if (h[0] > 0x80 && h[0] <= 0x8F) {
		text_add(&t, ", category %02X: RFU", h[0]);
	} else {
		text_add(&t, ", category %02X: proprietary", h[0]);
	}
	ccid_emit_bytes(w->emit, w->ctx, "historical bytes", atr->hist_offset, h, n, "%s", t.s);
}

static void text_protocols(struct text *t, uint16_t protocols)
{
	bool any = false;

	for (unsigned T = 0; T < 16; T++) {
		if (protocols & (1u << T)) {
			text_add(t, "%sT=%u", any ? ", " : "", T);
			any = true;
		}
	}
}

static void describe_derived(struct walk *w)
{
	const struct ccid_atr *atr = w->atr;
	const struct ccid_atr_group *g1 = &atr->group[0];
	const struct ccid_atr_group *g2 = atr->ngroups >= 2 ? &atr->group[1] : NULL;
	const char *dflt_ta1 = (g1->present & CCID_ATR_TA) ? "" : " (default)";
	struct text t = { .n = 0 };

	text_protocols(&t, atr->protocols);
	text_add(&t, " offered, default T=%u", atr->default_protocol);
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "protocols", CCID_FIELD_NO_OFFSET, 0, atr->protocols,
		  "%s", t.s);

	t.n = 0;
	if (atr->specific_mode)
		text_add(&t, "specific mode: T=%u with %s, no PPS", atr->ta2_protocol,
			 atr->ta2_implicit ? "implicit parameters" : "Fi/Di from TA1");
	else
		text_add(&t, "negotiable mode: PPS may select the protocol and Fi/Di");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "mode", CCID_FIELD_NO_OFFSET, 0, atr->specific_mode,
		  "%s", t.s);

	if (atr->Fi)
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "Fi", CCID_FIELD_NO_OFFSET, 0, atr->Fi,
			  "clock rate conversion integer Fi=%u%s", atr->Fi, dflt_ta1);
	else
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "Fi", CCID_FIELD_NO_OFFSET, 0, 0,
			  "Fi index %u is RFU: keep Fd=372", atr->Fi_index);
	if (atr->Di)
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "Di", CCID_FIELD_NO_OFFSET, 0, atr->Di,
			  "baud rate adjustment integer Di=%u%s", atr->Di, dflt_ta1);
	else
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "Di", CCID_FIELD_NO_OFFSET, 0, 0,
			  "Di index %u is RFU: keep Dd=1", atr->Di_index);
	t.n = 0;
	if (atr->fmax_khz) {
		text_add(&t, "fmax ");
		text_mhz(&t, atr->fmax_khz);
		text_add(&t, "%s", dflt_ta1);
	} else {
		text_add(&t, "fmax unknown (Fi RFU)");
	}
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "fmax", CCID_FIELD_NO_OFFSET, 0, atr->fmax_khz, "%s", t.s);

	if (atr->N == 255)
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "N", CCID_FIELD_NO_OFFSET, 0, atr->N,
			  "N=255: minimum guard time");
	else
		ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "N", CCID_FIELD_NO_OFFSET, 0, atr->N,
			  "extra guard time N=%u etu%s", atr->N, (g1->present & CCID_ATR_TC) ? "" : " (default)");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "WI", CCID_FIELD_NO_OFFSET, 0, atr->WI,
		  "T=0 waiting time integer WI=%u%s", atr->WI,
		  (g2 && (g2->present & CCID_ATR_TC) && g2->TC) ? "" : " (default)");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "IFSC", CCID_FIELD_NO_OFFSET, 0, atr->IFSC,
		  "T=1 card information field size IFSC=%u%s", atr->IFSC,
		  w->t1_ta && !(atr->flags & CCID_ATR_IFSC_INVALID) ? "" : " (default)");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "BWI", CCID_FIELD_NO_OFFSET, 0, atr->BWI,
		  "T=1 block waiting time integer BWI=%u%s%s", atr->BWI, w->t1_tb ? "" : " (default)",
		  (atr->flags & CCID_ATR_BWI_RFU) ? " (RFU value)" : "");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "CWI", CCID_FIELD_NO_OFFSET, 0, atr->CWI,
		  "T=1 character waiting time integer CWI=%u%s", atr->CWI, w->t1_tb ? "" : " (default)");
	ccid_emit(w->emit, w->ctx, CCID_FIELD_DERIVED, "EDC", CCID_FIELD_NO_OFFSET, 0, atr->edc,
		  "T=1 checksum: %s%s", atr->edc == CCID_EDC_CRC ? "CRC" : "LRC", w->t1_tc ? "" : " (default)");
}

static bool has_finding(const struct ccid_atr *atr, enum ccid_atr_defect defect)
{
	for (size_t i = 0; i < atr->nfindings && i < CCID_ATR_MAX_FINDINGS; i++)
		if (atr->findings[i].defect == defect)
			return true;
	return false;
}

void ccid_atr_describe(const struct ccid_atr *atr, ccid_emit_fn emit, void *ctx)
{
	struct walk w = { .atr = atr, .emit = emit, .ctx = ctx };
	struct text t = { .n = 0 };
	size_t ngroups;

	if (!atr || !emit || atr->len < 1 || atr->len > CCID_ATR_MAX)
		return;
	ngroups = atr->ngroups < CCID_ATR_MAX_GROUPS ? atr->ngroups : CCID_ATR_MAX_GROUPS;

	text_add(&t, "%s convention", atr->inverse ? "inverse" : "direct");
	if (atr->flags & CCID_ATR_RAW_INVERSE)
		text_add(&t, " (received as 03: the reader did not decode the inverse convention)");
	emit_value(&w, "TS", 0, &t);

	if (atr->len >= 2) {
		t.n = 0;
		text_add(&t, "Y1=0x%X: ", atr->T0 >> 4);
		text_announced(&t, atr->T0 >> 4, 0);
		text_add(&t, "; K=%u historical bytes", atr->K);
		emit_value(&w, "T0", 1, &t);
		emit_flag(&w, "Y1", 1, atr->T0 >> 4, "interface bytes of group 1");
		emit_flag(&w, "K", 1, atr->K, "%u historical bytes", atr->K);
	}

	for (size_t gi = 0; gi < ngroups; gi++) {
		const struct ccid_atr_group *g = &atr->group[gi];

		if (!g->present)
			continue;
		describe_section(&w, gi, g);
		if (g->present & CCID_ATR_TA)
			describe_ta(&w, gi, g);
		if (g->present & CCID_ATR_TB)
			describe_tb(&w, gi, g);
		if (g->present & CCID_ATR_TC)
			describe_tc(&w, gi, g);
		if (g->present & CCID_ATR_TD)
			describe_td(&w, gi, g);
	}

	if (atr->hist_len && atr->hist_offset + atr->hist_len <= atr->len)
		describe_historical(&w);
	if (atr->has_tck && atr->tck_offset < atr->len) {
		uint8_t x = xor_from_t0(atr->bytes, atr->tck_offset + 1);

		t.n = 0;
		if (x)
			text_add(&t, "check byte: WRONG, XOR of T0..TCK is %02X (expected TCK %02X)", x,
				 (unsigned)(x ^ atr->TCK));
		else
			text_add(&t, "check byte: XOR of T0..TCK is 0");
		if (has_finding(atr, CCID_ATR_UNEXPECTED_TCK))
			text_add(&t, " (present though only T=0 is indicated)");
		emit_value(&w, "TCK", atr->tck_offset, &t);
	}
	if (atr->extra_len && atr->extra_offset + atr->extra_len <= atr->len)
		ccid_emit_bytes(w.emit, w.ctx, "extra bytes", atr->extra_offset, atr->bytes + atr->extra_offset,
				atr->extra_len, "%zu byte(s) after the end of the ATR: ignored", atr->extra_len);
	describe_derived(&w);
}
