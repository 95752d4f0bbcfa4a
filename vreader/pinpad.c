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

int vpin_start(struct vpin *v, const uint8_t *data, size_t len, uint8_t seq, int64_t now)
{
	struct ccid_diag diag = { 0 };
	struct ccid_pin p;

	memset(v, 0, sizeof(*v));
	if (len < 1)
		return MSG_DATA;
	if (len - 1 > CCID_PIN_MODIFY_FIXED + 2 + VPIN_TEMPLATE_MAX)
		return MSG_DATA + 1;
	if (data[0] != CCID_PIN_OP_VERIFY && data[0] != CCID_PIN_OP_MODIFY)
		return MSG_DATA;        /* transfer, wait, cancel, re-send: not on this keypad */
	if (ccid_pin_decode(data[0], data + 1, len - 1, &p, &diag) < 0)
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
