/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 Answer-to-Reset decoding (§8) and Protocol and Parameters
 * Selection (§9) for the uccid codec.  ccid_atr_parse() checks an ATR byte by
 * byte, keeps every interface byte with its offset, and derives the values a
 * driver needs (offered protocols, Fi/Di, guard and waiting time integers,
 * IFSC, EDC, specific or negotiable mode), applying the ISO defaults for
 * absent bytes.  Values the standard reserves but a driver can survive are
 * accepted, replaced by the default where one exists, and reported in
 * struct ccid_atr.flags.  ccid_pps_* build a PPS request, decode a PPS
 * message and judge the card's answer.  Pure functions: no I/O, no
 * allocation.  Error codes follow ccid/common.h.
 */
#ifndef CCID_ATR_H
#define CCID_ATR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

/* TS plus at most 32 further bytes (§8.2.1). */
#define CCID_ATR_MAX 33

/*
 * Interface-byte groups: group 1 is announced by T0, group i+1 by TDi.  A
 * 33-byte ATR holds at most 31 TD bytes, hence at most 32 groups.
 */
#define CCID_ATR_MAX_GROUPS 32

/* Presence bits of struct ccid_atr_group.present: the Y nibble of T0 / TDi in place (§8.2.2). */
#define CCID_ATR_TA 0x10u
#define CCID_ATR_TB 0x20u
#define CCID_ATR_TC 0x40u
#define CCID_ATR_TD 0x80u

/* struct ccid_atr_group.T of group 1, whose bytes (TA1, TB1, TC1) are global. */
#define CCID_ATR_T_GLOBAL 0xFF

struct ccid_atr_group {
	uint8_t present;            /* CCID_ATR_TA | _TB | _TC | _TD */
	uint8_t T;                  /* protocol the bytes refer to: T of TD(i-1); CCID_ATR_T_GLOBAL for group 1.
	                               T=15 marks global bytes (§8.2.3). TA2/TB2 are global, TC2 is for T=0 */
	uint8_t TA, TB, TC, TD;     /* 0 when absent */
	uint8_t off_TA, off_TB, off_TC, off_TD; /* offset in the ATR; 0 when absent (0 is TS) */
};

/*
 * Bits of struct ccid_atr.flags: what the ATR got wrong but parse accepted.
 * A driver may ignore them (the derived values already hold the fallback) or
 * refuse the card.
 */
#define CCID_ATR_RAW_INVERSE  0x0001u /* input began with 03: inverse-convention bytes not decoded by
                                         the reader; converted, bytes[] holds decoded values */
#define CCID_ATR_FI_RFU       0x0002u /* TA1 Fi index RFU (7, 8, E, F): Fi = fmax_khz = 0, use Fd = 372 */
#define CCID_ATR_DI_RFU       0x0004u /* TA1 Di index RFU (0, A..F): Di = 0, use Dd = 1 */
#define CCID_ATR_WI_RFU       0x0008u /* TC2 = 00 (RFU, §10.2): WI = 10 */
#define CCID_ATR_IFSC_INVALID 0x0010u /* first TA for T=1 is 00 or FF (§11.4.2): IFSC = 32 */
#define CCID_ATR_BWI_RFU      0x0020u /* first TB for T=1 has BWI 10..15 (§11.4.3): BWI kept */
#define CCID_ATR_EDC_RFU      0x0040u /* first TC for T=1 has bits 8..2 set (§11.4.4): bit 1 used */
#define CCID_ATR_TD1_T15      0x0080u /* TD1 indicates T=15, invalid there (§8.2.3) */

/*
 * Structural defects of an ATR as a reader hands it over: what
 * ccid_atr_parse() refuses and ccid_atr_parse_lenient() reports as findings.
 * Real cards send all of these (pcsc-tools' smartcard_list.txt holds about
 * a hundred); libccid and pcscd use such cards with the values they could read.
 */
enum ccid_atr_defect {
	CCID_ATR_TRUNCATED = 1,         /* the input ends in T0 or the interface bytes: the rest is absent */
	CCID_ATR_MISSING_HISTORICAL,    /* fewer historical bytes than K says */
	CCID_ATR_MISSING_TCK,           /* a protocol other than T=0 is indicated but no TCK follows (§8.2.5) */
	CCID_ATR_WRONG_TCK,             /* the XOR of T0..TCK is not 0 */
	CCID_ATR_UNEXPECTED_TCK,        /* one byte after a T=0-only ATR that is a correct check byte */
	CCID_ATR_EXTRA_BYTES,           /* bytes after a T=0-only ATR (not a correct check byte) */
	CCID_ATR_EXTRA_AFTER_TCK,       /* bytes after TCK */
	CCID_ATR_TOO_LONG,              /* more than 33 bytes (§8.2.1): the bytes past 33 are ignored */
};

#define CCID_ATR_MAX_FINDINGS 4

struct ccid_atr_finding {
	enum ccid_atr_defect defect;
	int err;                        /* what ccid_atr_parse() returns for it: -ENODATA, -EMSGSIZE, -EPROTO */
	size_t offset;                  /* the first byte concerned; the input length for a missing one */
	size_t count;                   /* bytes missing or extra (1 for a TCK) */
	const char *expected;           /* static: what belonged at offset (ccid_diag's text) */
	int want, got;                  /* CCID_ATR_WRONG_TCK: the TCK making the XOR zero, the one found; else -1 */
};

struct ccid_atr {
	uint8_t bytes[CCID_ATR_MAX];    /* the ATR, direct-convention byte values (TS = 3B or 3F) */
	size_t len;
	bool inverse;                   /* TS = 3F: the card uses the inverse convention */

	uint8_t T0;                     /* format byte: Y1 (high nibble) and K */
	uint8_t K;                      /* number of historical bytes */
	size_t ngroups;                 /* 1 + number of TD bytes */
	struct ccid_atr_group group[CCID_ATR_MAX_GROUPS]; /* group[0] is group 1 */
	size_t hist_offset, hist_len;   /* historical bytes T1..TK in bytes[] */
	bool has_tck;
	uint8_t TCK;
	size_t tck_offset;
	uint32_t flags;                 /* CCID_ATR_* anomalies, see above */

	/* Derived values, ISO defaults where the byte is absent. */
	uint16_t protocols;             /* bit n set: T=n offered (every TDi's T except 15; T=0 without TD) */
	uint8_t default_protocol;       /* first offered: T of the first TDi that is not T=15, else 0 */
	uint8_t Fi_index, Di_index;     /* TA1 nibbles; default 1 / 1 */
	uint16_t Fi;                    /* 372 .. 2048, 0 if RFU */
	uint8_t Di;                     /* 1 .. 64, 0 if RFU */
	uint32_t fmax_khz;              /* f(max) for Fi_index, 0 if RFU */
	uint8_t N;                      /* TC1: extra guard time in etu; 255 = minimum guard time. Default 0 */
	uint8_t WI;                     /* TC2: T=0 waiting time integer, default 10 */
	uint8_t IFSC;                   /* first TA for T=1, default 32, always 1..254 */
	uint8_t BWI, CWI;               /* first TB for T=1, default 4 / 13 */
	enum ccid_edc edc;              /* first TC for T=1 bit 1, default LRC */

	bool specific_mode;             /* TA2 present: no PPS, use ta2_protocol (§8.3 TA2) */
	uint8_t ta2_protocol;           /* TA2 bits 4..1 */
	bool ta2_can_change;            /* TA2 bit 8 = 0: a warm reset may return to negotiable mode */
	bool ta2_implicit;              /* TA2 bit 5 = 1: Fi/Di defined implicitly, not by TA1 */

	bool has_clock_class;           /* a TA for T=15 is present */
	uint8_t clock_stop;             /* its bits 8..7: 0 not supported, 1 state L, 2 state H, 3 no preference */
	uint8_t class_indicator;        /* its bits 6..1: bit 1 class A (5 V), 2 class B (3 V), 3 class C (1.8 V) */

	/* ccid_atr_parse_lenient() only (ccid_atr_parse() succeeds only without): the defects, in input order. */
	size_t nfindings;
	struct ccid_atr_finding findings[CCID_ATR_MAX_FINDINGS];
	size_t extra_offset, extra_len;  /* bytes after the ATR (CCID_ATR_EXTRA_*) in bytes[] */
};

/*
 * Decode the ATR in (buf, len) strictly: it must be exactly the ATR: TS, T0, the
 * interface bytes announced by T0 and each TDi, K historical bytes, and TCK
 * unless only T=0 is indicated (no TD, or every TDi says T=0; T=0 with T=15
 * requires TCK, §8.2.5).
 *
 * TS must be 3B (direct) or 3F (inverse convention).  A first byte of 03 is
 * what TS = 3F looks like when the reader hands over raw inverse-convention
 * bytes: the whole input is converted (each byte complemented and
 * bit-reversed), parsed, and CCID_ATR_RAW_INVERSE is set; offsets are the
 * same in both forms.
 *
 * Lenient on values a driver can replace by defaults (see CCID_ATR_* flags):
 * RFU Fi/Di in TA1, TC2 = 0, IFSC 0 or 255, BWI > 9, TCi for T=1 with bits
 * other than bit 1 set, T=15 in TD1.
 *
 * ret is written only on success; diag (may be NULL) only on failure, with
 * the offset of the offending byte and what was expected there.
 * Returns 0, or
 *   -EINVAL    buf (with len > 0) or ret is NULL
 *   -ENODATA   the input ends before the ATR does; diag offset = len, the byte
 *              expected next (T0, an interface byte, a historical byte, TCK)
 *   -EMSGSIZE  more than 33 bytes, or bytes after the end of the ATR
 *              (diag offset = first extra byte)
 *   -EBADMSG   TS is not 3B, 3F or 03 (diag offset 0)
 *   -EPROTO    the XOR of T0 .. TCK is not 0 (diag offset = TCK)
 */
int ccid_atr_parse(const uint8_t *buf, size_t len, struct ccid_atr *ret, struct ccid_diag *diag);

/*
 * Decode whatever answer-to-reset a reader returned: everything that is not
 * refused below is accepted, parsed as far as it goes, and the ISO defaults
 * (§8.3) stand in for what is absent.  Each structural defect that
 * ccid_atr_parse() refuses becomes a finding in ret->findings (at most one
 * per kind, in input order), with the offset and the text ccid_atr_parse()
 * would give:
 *   - the input ends in T0 or an interface byte (CCID_ATR_TRUNCATED): the
 *     bytes read so far count, the rest is absent, K is kept but no
 *     historical byte is read;
 *   - fewer than K historical bytes: those present are the historical bytes;
 *   - TCK missing or wrong: the values are used anyway (TCK protects nothing
 *     the reader did not already accept);
 *   - bytes after a T=0-only ATR: one byte that makes the XOR of T0..it zero
 *     is taken as a TCK (CCID_ATR_UNEXPECTED_TCK, has_tck set), anything
 *     else is extra bytes (extra_offset/extra_len);
 *   - bytes after TCK (extra_offset/extra_len);
 *   - more than 33 bytes: only the first 33 are decoded and kept (len = 33).
 * Returns 0, or
 *   -EINVAL    buf (with len > 0) or ret is NULL
 *   -ENODATA   len is 0 (diag offset 0)
 *   -EBADMSG   TS is not 3B, 3F or 03: not an ATR (diag offset 0)
 */
int ccid_atr_parse_lenient(const uint8_t *buf, size_t len, struct ccid_atr *ret, struct ccid_diag *diag);

/* Short stable name of a defect ("wrong-tck", "missing-historical", ...); "unknown" if out of range. */
const char *ccid_atr_defect_name(enum ccid_atr_defect defect);

/*
 * One line for a person: "wrong TCK at byte 12: expected 5A, found 3C".
 * Returns what snprintf returns (the length it wanted), or -EINVAL if f is NULL.
 */
int ccid_atr_finding_text(const struct ccid_atr_finding *f, char *buf, size_t cap);

/*
 * Walk a parsed ATR for display: VALUE fields for TS, T0 and each interface
 * byte (named "TA1", "TD2", ...; FLAG fields for their sub-fields), a SECTION
 * per interface-byte group, BYTES "historical bytes", VALUE "TCK", BYTES "extra bytes" (lenient parse), then
 * DERIVED "protocols", "mode", "Fi", "Di", "fmax", "N", "WI", "IFSC", "BWI",
 * "CWI", "EDC".  Each input byte is covered by exactly one VALUE or BYTES
 * field.  Does nothing if atr or emit is NULL.
 */
void ccid_atr_describe(const struct ccid_atr *atr, ccid_emit_fn emit, void *ctx);

/*
 * PPS (§9.2): PPSS = FF, PPS0 (bit 5/6/7 = PPS1/2/3 present, bit 8 = 0,
 * bits 4..1 = T), optional PPS1 (Fi/Di as TA1), PPS2 (SPU), PPS3 (RFU), PCK
 * (XOR of PPSS .. PCK = 0).
 */
#define CCID_PPS_MAX 6

struct ccid_pps {
	uint8_t protocol;               /* PPS0 bits 4..1 */
	bool has_pps1, has_pps2, has_pps3;
	uint8_t pps1, pps2, pps3;       /* 0 when absent */
};

/*
 * Build a PPS request for protocol T with the optional PPS1..PPS3 (NULL =
 * absent) into buf.  Returns the length (3..6), or
 *   -EINVAL    protocol > 14 (T=15 qualifies global bytes, it is not a protocol),
 *              or buf is NULL with cap > 0
 *   -ENOBUFS   cap is smaller than the request
 */
int ccid_pps_build(uint8_t protocol, const uint8_t *pps1, const uint8_t *pps2, const uint8_t *pps3,
		   uint8_t *buf, size_t cap);

/*
 * Decode one PPS message (request or answer, same format) that must fill
 * (buf, len) exactly.  ret is written only on success.  Returns 0, or
 *   -EINVAL    buf (with len > 0) or ret is NULL
 *   -ENODATA   truncated (diag offset = len)
 *   -EMSGSIZE  bytes after PCK
 *   -EBADMSG   PPSS is not FF (offset 0), PPS0 bit 8 set or T = 15 (offset 1)
 *   -EPROTO    XOR of PPSS .. PCK is not 0 (offset of PCK)
 */
int ccid_pps_parse(const uint8_t *buf, size_t len, struct ccid_pps *ret, struct ccid_diag *diag);

/*
 * The interface device's verdict on the card's PPS answer rsp to request req
 * (§9.3).  Success when PPSS, PPS0 bits 4..1 and PCK are echoed, and each of
 * PPS1..PPS3 in the answer either echoes the request or is absent.  On
 * success ret holds the agreed parameters: has_pps1 false means the card
 * keeps Fd = 372 / Dd = 1 (PPS1 absent in the answer); has_pps2/3 false
 * means PPS2/PPS3 were not accepted.  diag offsets refer to rsp, except for
 * -EINVAL.  Returns 0, or
 *   -EINVAL           req is not a valid PPS (diag offset refers to req), ret
 *                     is NULL, or rsp is NULL with rsp_len > 0
 *   -ENODATA, -EMSGSIZE, -EBADMSG, -EPROTO
 *                     rsp is not a valid PPS, as for ccid_pps_parse(); -EPROTO
 *                     is a bad PCK
 *   -EPROTONOSUPPORT  the answer names another protocol (offset 1)
 *   -EOPNOTSUPP       the answer changes PPS1, PPS2 or PPS3, or adds one that
 *                     was not requested (diag offset = that byte in rsp)
 * Any failure means the card must be deactivated (§9.3).
 */
int ccid_pps_check(const uint8_t *req, size_t req_len, const uint8_t *rsp, size_t rsp_len,
		   struct ccid_pps *ret, struct ccid_diag *diag);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
