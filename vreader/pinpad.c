/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader's PIN pad (vreader/pinpad.h): the entries of one PIN
 * verification or modification.  A modification asks, in order, for the
 * current PIN (bConfirmPIN bit 1), the new PIN, and its confirmation
 * (bit 0).  An entry ends on the conditions bEntryValidationCondition allows
 * (CCID §6.1.11): the maximum number of digits, the OK key, the time-out;
 * each entry has bTimeOut seconds.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vreader/pinpad.h"

#define MSG_DATA 10     /* abData in the message: bPINOperation */

static int64_t timeout_us(const struct vpin *v)
{
	return (int64_t)(v->p.bTimeOut ? v->p.bTimeOut : VPIN_DEFAULT_TIMEOUT_S) * 1000000;
}

#define FW_THREE_INDEXES 0x1     /* a modification always carries bMsgIndex1..3 */
#define FW_SWAPPED_DIGITS 0x2    /* wPINMaxExtraDigit read minimum first */

/* PIN-pad firmware by reader IDs (pid 0: every reader of the vendor), from libccid's workarounds. */
static const struct {
	uint16_t vid, pid;
	unsigned flags;
} firmware[] = {
	{ 0x08E6, 0, FW_THREE_INDEXES },        /* Gemalto PIN pads */
	{ 0x0982, 0x0008, FW_THREE_INDEXES },   /* Covadis Vega-Alpha */
	{ 0x04E6, 0xE003, FW_THREE_INDEXES },   /* SCM SPR532 */
	{ 0x046A, 0x003E, FW_THREE_INDEXES },   /* Cherry ST-2000 */
	{ 0x413C, 0x2100, FW_SWAPPED_DIGITS },  /* Dell SK-3106 */
};

static unsigned firmware_flags(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < sizeof(firmware) / sizeof(firmware[0]); i++)
		if (firmware[i].vid == vid && (!firmware[i].pid || firmware[i].pid == pid))
			return firmware[i].flags;
	return 0;
}

int vpin_start(struct vpin *v, const uint8_t *data, size_t len, uint8_t seq, int64_t now, uint16_t vid, uint16_t pid)
{
	uint8_t buf[CCID_PIN_MODIFY_FIXED + 2 + VPIN_TEMPLATE_MAX];
	struct ccid_diag diag = { 0 };
	unsigned fw = firmware_flags(vid, pid);
	struct ccid_pin p;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (len < 1)
		return MSG_DATA;
	if (len - 1 > sizeof(buf))
		return MSG_DATA + 1;
	if (data[0] != CCID_PIN_OP_VERIFY && data[0] != CCID_PIN_OP_MODIFY)
		return MSG_DATA;        /* transfer, wait, cancel, re-send: not on this keypad */
	n = len - 1;
	memcpy(buf, data + 1, n);
	if ((fw & FW_SWAPPED_DIGITS) && n > 7) {
		size_t at = data[0] == CCID_PIN_OP_MODIFY ? 6 : 4;
		uint8_t t = buf[at];

		buf[at] = buf[at + 1];
		buf[at + 1] = t;
	}
	if ((fw & FW_THREE_INDEXES) && data[0] == CCID_PIN_OP_MODIFY && n > 16) {
		/* bMsgIndex1 at 13: keep what this bNumberMessage carries in CCID, drop the rest */
		size_t keep = ccid_pin_modify_msg_indexes(buf[10]);

		memmove(buf + 13 + keep, buf + 16, n - 16);
		n -= 3 - keep;
	}
	if (ccid_pin_decode(data[0], buf, n, &p, &diag) < 0)
		return diag.offset < 0x80 ? (int)diag.offset : MSG_DATA + 1;
	memcpy(v->tmpl, p.apdu, p.apdu_len);
	p.apdu = v->tmpl;
	v->p = p;
	v->seq = seq;
	v->entries = 1;
	if (p.operation == CCID_PIN_OP_MODIFY)
		v->entries = 1 + !!(p.bConfirmPIN & CCID_PIN_CONFIRM_NEW) + !!(p.bConfirmPIN & CCID_PIN_ENTER_CURRENT);
	v->cap = ccid_pin_capacity(&p);
	v->deadline = now + timeout_us(v);
	v->active = true;
	return 0;
}

/* Where entry i's digits go: current, new, confirmation. */
static char *slot_of(struct vpin *v, unsigned i)
{
	bool cur = v->p.operation == CCID_PIN_OP_VERIFY || (v->p.bConfirmPIN & CCID_PIN_ENTER_CURRENT);

	return v->pins[cur ? i : i + 1];
}

/* The entry is complete: the next, or the end (with the confirmation checked). */
static enum vpin_result next_entry(struct vpin *v, int64_t now)
{
	if (++v->entry < v->entries) {
		v->deadline = now + timeout_us(v);
		return VPIN_MORE;
	}
	v->active = false;
	if (v->p.operation == CCID_PIN_OP_MODIFY && (v->p.bConfirmPIN & CCID_PIN_CONFIRM_NEW)
	    && strcmp(v->pins[1], v->pins[2]))
		return VPIN_MISMATCH;
	return VPIN_DONE;
}

int vpin_key(struct vpin *v, const char *key, int64_t now)
{
	char *pin;
	size_t n;

	if (!v->active)
		return -EINVAL;
	pin = slot_of(v, v->entry);
	n = strlen(pin);
	if (key[0] >= '0' && key[0] <= '9' && !key[1]) {
		if (n >= v->cap)
			return VPIN_MORE;               /* the keypad beeps */
		pin[n] = key[0];
		pin[n + 1] = 0;
		if (n + 1 == v->cap && n + 1 >= v->p.max_digits
		    && (v->p.bEntryValidationCondition & CCID_PIN_VALID_MAX_SIZE))
			return next_entry(v, now);
		return VPIN_MORE;
	}
	if (!strcmp(key, "ok")) {
		if (!(v->p.bEntryValidationCondition & CCID_PIN_VALID_KEY) || n < v->p.min_digits || n == 0)
			return VPIN_MORE;               /* OK does not end this entry: the keypad beeps */
		return next_entry(v, now);
	}
	if (!strcmp(key, "clear")) {
		pin[0] = 0;
		return VPIN_MORE;
	}
	if (!strcmp(key, "back")) {
		if (n)
			pin[n - 1] = 0;
		return VPIN_MORE;
	}
	if (!strcmp(key, "cancel")) {
		v->active = false;
		return VPIN_CANCELLED;
	}
	return -EINVAL;
}

enum vpin_result vpin_expire(struct vpin *v)
{
	size_t n = v->active ? strlen(slot_of(v, v->entry)) : 0;

	if (v->active && (v->p.bEntryValidationCondition & CCID_PIN_VALID_TIMEOUT) && n && n >= v->p.min_digits)
		return next_entry(v, v->deadline);
	v->active = false;
	return VPIN_TIMEOUT;
}

ssize_t vpin_apdu(const struct vpin *v, uint8_t *apdu, size_t cap)
{
	return ccid_pin_build_apdu(&v->p, v->pins[0], v->pins[1], apdu, cap);
}

void vpin_describe(const struct vpin *v, char *buf, size_t cap)
{
	struct vpin copy = *v;

	snprintf(buf, cap, "%s entry %u/%u digits %zu", v->p.operation == CCID_PIN_OP_MODIFY ? "modify" : "verify",
		 v->entry + 1, v->entries, strlen(slot_of(&copy, v->entry)));
}
