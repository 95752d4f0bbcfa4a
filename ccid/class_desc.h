/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The 54-byte Smart Card Device Class descriptor (CCID 1.1 §5.1, table
 * 5.1-1): parse, encode, check for what real readers get wrong, and explain
 * each field.  Field names keep the specification's spelling.
 */
#ifndef CCID_CLASS_DESC_H
#define CCID_CLASS_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

#define CCID_CLASS_DESC_LEN 54
#define CCID_CLASS_DESC_TYPE 0x21
/* Vendor-class readers (interface class FF) may use FF as the descriptor type. */
#define CCID_CLASS_DESC_TYPE_VENDOR 0xFF

/* bVoltageSupport */
#define CCID_VOLTAGE_5V 0x01
#define CCID_VOLTAGE_3V 0x02
#define CCID_VOLTAGE_1V8 0x04

/* dwProtocols */
#define CCID_PROTOCOLS_T0 0x0001
#define CCID_PROTOCOLS_T1 0x0002

/* dwMechanical */
#define CCID_MECHANICAL_ACCEPT 0x01
#define CCID_MECHANICAL_EJECT 0x02
#define CCID_MECHANICAL_CAPTURE 0x04
#define CCID_MECHANICAL_LOCK 0x08

/* dwFeatures (CCID §5.1, table 5.1-1) */
#define CCID_FEAT_AUTO_CONF_ATR 0x00000002
#define CCID_FEAT_AUTO_ACTIVATION 0x00000004
#define CCID_FEAT_AUTO_VOLTAGE 0x00000008
#define CCID_FEAT_AUTO_CLOCK 0x00000010
#define CCID_FEAT_AUTO_BAUD 0x00000020
#define CCID_FEAT_AUTO_PPS_PROP 0x00000040
#define CCID_FEAT_AUTO_PPS_CUR 0x00000080
#define CCID_FEAT_CLOCK_STOP 0x00000100
#define CCID_FEAT_NAD 0x00000200
#define CCID_FEAT_AUTO_IFSD 0x00000400
#define CCID_FEAT_ICCD_TOKEN 0x00000800
#define CCID_FEAT_LEVEL_MASK 0x00070000
#define CCID_FEAT_LEVEL_CHAR 0x00000000
#define CCID_FEAT_LEVEL_TPDU 0x00010000
#define CCID_FEAT_LEVEL_SHORT_APDU 0x00020000
#define CCID_FEAT_LEVEL_EXT_APDU 0x00040000
#define CCID_FEAT_REMOTE_WAKEUP 0x00100000

/* bPINSupport */
#define CCID_PIN_VERIFY 0x01
#define CCID_PIN_MODIFY 0x02

enum ccid_exchange_level {
	CCID_LEVEL_CHARACTER,
	CCID_LEVEL_TPDU,
	CCID_LEVEL_SHORT_APDU,
	CCID_LEVEL_EXTENDED_APDU,
};

struct ccid_class_desc {
	uint8_t bLength;
	uint8_t bDescriptorType;
	uint16_t bcdCCID;
	uint8_t bMaxSlotIndex;
	uint8_t bVoltageSupport;
	uint32_t dwProtocols;
	uint32_t dwDefaultClock;          /* kHz */
	uint32_t dwMaximumClock;          /* kHz */
	uint8_t bNumClockSupported;
	uint32_t dwDataRate;              /* bps */
	uint32_t dwMaxDataRate;           /* bps */
	uint8_t bNumDataRatesSupported;
	uint32_t dwMaxIFSD;
	uint32_t dwSynchProtocols;
	uint32_t dwMechanical;
	uint32_t dwFeatures;
	uint32_t dwMaxCCIDMessageLength;
	uint8_t bClassGetResponse;
	uint8_t bClassEnvelope;
	uint16_t wLcdLayout;
	uint8_t bPINSupport;
	uint8_t bMaxCCIDBusySlots;
};

/*
 * Parse the 54 bytes of a class descriptor.  Structural checks only: the
 * input is exactly 54 bytes and bLength says so.  Semantic checks are
 * ccid_class_desc_validate's.
 * Returns 0, or -EINVAL, -ENODATA (shorter than 54), -EMSGSIZE (longer),
 * -EPROTO (bLength is not 54).
 */
int ccid_class_desc_parse(const uint8_t *buf, size_t len, struct ccid_class_desc *ret,
			  struct ccid_diag *diag);

/* Encode into buf (at least 54 bytes); returns 54 or -ENOBUFS / -EINVAL. */
ssize_t ccid_class_desc_encode(const struct ccid_class_desc *d, uint8_t *buf, size_t cap);

enum ccid_severity {
	CCID_SEV_NOTE,     /* unusual but harmless */
	CCID_SEV_WARNING,  /* wrong, and the driver works around it */
	CCID_SEV_ERROR,    /* the driver cannot use the reader as declared */
};

/* A finding of ccid_class_desc_validate; field is the spec name, offset its byte offset. */
typedef void (*ccid_finding_fn)(void *ctx, enum ccid_severity sev, const char *field, size_t offset,
				const char *text);

/*
 * Check a parsed descriptor against CCID §5.1 and report every finding to fn
 * (may be NULL).  Errors: descriptor type neither 21 nor FF, more than one
 * exchange level, dwMaxCCIDMessageLength below 11.  Warnings include values
 * seen in the field: bMaxCCIDBusySlots 0 or above the slot count,
 * dwMaxCCIDMessageLength beyond 65554 or too small for a short APDU,
 * dwMaxIFSD above 254, no protocol, default clock or rate above the maximum.
 * Returns the number of findings (>= 0) if there is no error, -EBADMSG if
 * there is at least one (diag names the first), or -EINVAL.
 */
int ccid_class_desc_validate(const struct ccid_class_desc *d, ccid_finding_fn fn, void *ctx,
			     struct ccid_diag *diag);

/* The exchange level; only meaningful when validate found no error. */
enum ccid_exchange_level ccid_class_desc_level(const struct ccid_class_desc *d);
const char *ccid_exchange_level_name(enum ccid_exchange_level level);

/* Largest message the driver may exchange: dwMaxCCIDMessageLength clamped to 11..65554. */
uint32_t ccid_class_desc_max_message(const struct ccid_class_desc *d);

/* Slots that may be busy at once: bMaxCCIDBusySlots clamped to 1..bMaxSlotIndex+1. */
unsigned ccid_class_desc_busy_slots(const struct ccid_class_desc *d);

/* Explain every field and set bit, for humans and for JSON. */
void ccid_class_desc_describe(const struct ccid_class_desc *d, ccid_emit_fn emit, void *ctx);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
