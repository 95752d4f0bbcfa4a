/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader's PIN pad: one PIN entry (CCID §6.1.11, PC_to_RDR_Secure
 * verify or modify) as a person at the keypad makes it — digits, the
 * correction and OK keys, cancel, or nothing until the time-out — and the
 * APDU the reader then builds for the card from the host's template.  Pure:
 * no clock of its own (times are the caller's µs), no I/O; slot.c answers.
 */
#ifndef VREADER_PINPAD_H
#define VREADER_PINPAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ccid/pin.h"

#define VPIN_DEFAULT_TIMEOUT_S 30       /* bTimeOut 0: the reader's own time-out */
#define VPIN_TEMPLATE_MAX 261

enum vpin_result {
	VPIN_MORE,          /* the entry goes on */
	VPIN_DONE,          /* every PIN entered: build the APDU */
	VPIN_CANCELLED,     /* the cancel key: bError PIN_CANCELLED (EF) */
	VPIN_TIMEOUT,       /* nothing validated the entry in time: bError PIN_TIMEOUT (F0) */
	VPIN_MISMATCH,      /* the new PIN and its confirmation differ: the reader answers 64 02 */
};

struct vpin {
	bool active;
	uint8_t seq;                    /* the Secure command's bSeq */
	struct ccid_pin p;              /* p.apdu points into tmpl */
	uint8_t tmpl[VPIN_TEMPLATE_MAX];
	unsigned entry, entries;        /* the PIN being typed (0-based) and how many there are */
	unsigned cap;                   /* digits a PIN may have (ccid_pin_capacity) */
	char pins[3][CCID_PIN_MAX_DIGITS + 1];  /* as typed: current, new, confirmation */
	int64_t deadline;               /* µs: the current entry's time-out */
};

/*
 * Start an entry from a Secure command's abData (bPINOperation first),
 * received at now, by a reader of IDs vid:pid — whose firmware's way of
 * reading the structure is imitated where it is known (the faults
 * session/quirks.c works around: three bMsgIndex in every modification on
 * Gemalto, Vega-Alpha, SPR532 and Cherry ST-2000, wPINMaxExtraDigit
 * byte-swapped on the Dell SK-3106).  Returns 0, or the bError a reader answers (the offset of
 * the bad field in the message, CCID §6.2.6) as a positive number.
 */
int vpin_start(struct vpin *v, const uint8_t *data, size_t len, uint8_t seq, int64_t now, uint16_t vid, uint16_t pid);

/*
 * One key: "0".."9", "ok", "clear" (erase the entry), "back" (the last
 * digit), "cancel".  A digit beyond the PIN's capacity is ignored (the
 * keypad beeps), as is OK with fewer than the minimum.  Returns the
 * result, or -EINVAL for an unknown key.
 */
int vpin_key(struct vpin *v, const char *key, int64_t now);

/* The time-out passed: the entry is validated if bEntryValidationCondition allows, or it timed out. */
enum vpin_result vpin_expire(struct vpin *v);

/* The APDU with the PINs typed (ccid_pin_build_apdu); returns its length or -errno. */
ssize_t vpin_apdu(const struct vpin *v, uint8_t *apdu, size_t cap);

/* "verify entry 1/1 digits 3" for status lines. */
void vpin_describe(const struct vpin *v, char *buf, size_t cap);

#endif
