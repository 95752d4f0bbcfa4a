/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry cases, one table for every test that drives a keypad of the
 * virtual reader through uccid_secure(): check_secure (the profiles, keys
 * typed from another thread as a person types them) and check_corpus (every
 * real PIN pad of tests/data/readers/, keys pressed as the entry starts).
 * A case is an operation, the keys typed, the answer the host must get (the
 * card's status word, or the reader's own for cancel and a confirmation that
 * differs) and the bError the reader gives, then a VERIFY by APDU whose
 * answer shows what the card's PIN is now: the simulated card checks the PIN
 * the keypad built into the template (vreader/card_app.c: PIN 123456, three
 * tries).  The cases leave the card's PIN as they found it.
 */
#ifndef TESTS_PINPAD_CASES_H
#define TESTS_PINPAD_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ccid/ccid.h"
#include "session/uccid.h"

#define PP_STRUCT_MAX 300

struct pinpad_case {
	const char *what;
	uint8_t op;                     /* CCID_PIN_OP_* */
	const char *keys;               /* as vdev_keypad takes them; a digit run is its digits */
	unsigned sw;                    /* what uccid_secure answers */
	uint8_t bError;                 /* the reader's slot error then (0: none expected) */
	const char *then_pin;           /* a VERIFY by APDU with this PIN */
	unsigned then_sw;               /* and its answer */
};

static const struct pinpad_case pinpad_cases[] = {
	{ "verify", CCID_PIN_OP_VERIFY, "123456 ok", 0x9000, 0, "123456", 0x9000 },
	/* a correction on the way: 1239, back, 99 is 12399, one try used of three */
	{ "wrong PIN", CCID_PIN_OP_VERIFY, "1239 back 99 ok", 0x63C2, 0, "123456", 0x9000 },
	/* nothing reached the card: at T=1 the sequence numbers stood */
	{ "cancel", CCID_PIN_OP_VERIFY, "12 cancel", 0x6401, CCID_ERR_PIN_CANCELLED, "123456", 0x9000 },
	{ "modify", CCID_PIN_OP_MODIFY, "123456 ok 9876 ok 9876 ok", 0x9000, 0, "9876", 0x9000 },
	/* the confirmation differs: the reader says so (64 02), the card is not asked */
	{ "mismatch", CCID_PIN_OP_MODIFY, "9876 ok 1111 ok 2222 ok", 0x6402, 0, "9876", 0x9000 },
	{ "modify back", CCID_PIN_OP_MODIFY, "9876 ok 123456 ok 123456 ok", 0x9000, 0, "123456", 0x9000 },
};
#define PINPAD_NCASES (sizeof(pinpad_cases) / sizeof(pinpad_cases[0]))

/* Does a reader of bPINSupport run the case? */
static inline bool pinpad_case_applies(const struct pinpad_case *c, uint8_t bPINSupport)
{
	return bPINSupport & (c->op == CCID_PIN_OP_MODIFY ? CCID_PIN_MODIFY : CCID_PIN_VERIFY);
}

/*
 * PIN verification structure (CCID wire form, from bTimeOut): ASCII digits,
 * an 8-byte block padded with FF by the template, 4..8 digits, the OK key.
 * Returns its length.
 */
static inline size_t pinpad_verify_struct(uint8_t *out, uint8_t timeout)
{
	static const uint8_t head[] = {
		0,                      /* bTimeOut: set below */
		0x82,                   /* bmFormatString: bytes, position 0, left, ASCII */
		0x08,                   /* bmPINBlockString: no length field, 8-byte block */
		0x00,                   /* bmPINLengthFormat */
		0x08, 0x04,             /* wPINMaxExtraDigit: max 8, min 4 */
		0x02,                   /* bEntryValidationCondition: OK key */
		0x00,                   /* bNumberMessage */
		0x09, 0x04,             /* wLangId */
		0x00,                   /* bMsgIndex */
		0x00, 0x00, 0x00,       /* bTeoPrologue */
		0x00, 0x20, 0x00, 0x80, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};

	memcpy(out, head, sizeof(head));
	out[0] = timeout;
	return sizeof(head);
}

/*
 * Modification: the current PIN, the new one and its confirmation, in two
 * 8-byte blocks; bNumberMessage nmsg with the bMsgIndex bytes CCID carries
 * for it (3 for a display, 0 as OpenSC sends to a reader without one).
 * Returns its length.
 */
static inline size_t pinpad_modify_struct(uint8_t *out, uint8_t timeout, uint8_t nmsg)
{
	const uint8_t head[] = {
		timeout, 0x82, 0x08, 0x00,
		0x00, 0x08,             /* bInsertionOffsetOld 0, bInsertionOffsetNew 8 */
		0x08, 0x04,             /* max 8, min 4 */
		0x03,                   /* bConfirmPIN: current PIN, and the new one twice */
		0x02, nmsg, 0x09, 0x04,
	};
	static const uint8_t tail[] = { 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x80, 0x10 };
	unsigned nidx = ccid_pin_modify_msg_indexes(nmsg);
	size_t n = sizeof(head);

	memcpy(out, head, n);
	for (unsigned i = 0; i < nidx; i++)
		out[n++] = (uint8_t)i;  /* bMsgIndex1.. */
	memcpy(out + n, tail, sizeof(tail));
	n += sizeof(tail);
	memset(out + n, 0xFF, 16);
	return n + 16;
}

/* The structure of case c (timeout 10 s): a display gets its three messages. */
static inline size_t pinpad_case_struct(const struct pinpad_case *c, bool display, uint8_t *out)
{
	if (c->op == CCID_PIN_OP_MODIFY)
		return pinpad_modify_struct(out, 10, display ? 3 : 0);
	return pinpad_verify_struct(out, 10);
}

/* VERIFY by APDU with pin: the card's status word, or 0 with why filled in. */
static inline unsigned pinpad_plain_verify(struct uccid_reader *r, unsigned slot, const char *pin, char *why,
					   size_t cap)
{
	uint8_t apdu[16] = { 0x00, 0x20, 0x00, 0x80 }, rsp[8];
	size_t n = strlen(pin);
	ssize_t got;

	apdu[4] = (uint8_t)n;
	memcpy(apdu + 5, pin, n);
	got = uccid_transmit(r, slot, apdu, 5 + n, rsp, sizeof(rsp));
	if (got != 2) {
		snprintf(why, cap, "VERIFY %s by APDU: %s", pin, got < 0 ? uccid_strerror((int)got) : "not 2 bytes");
		return 0;
	}
	return (unsigned)rsp[0] << 8 | rsp[1];
}

/*
 * What case c got: uccid_secure's answer n (rsp), then the reader's slot
 * error and the VERIFY after it.  Returns NULL, or why (filled in) when
 * something differs from the case.
 */
static inline const char *pinpad_case_check(struct uccid_reader *r, unsigned slot, const struct pinpad_case *c,
					    ssize_t n, const uint8_t *rsp, char *why, size_t cap)
{
	struct uccid_reader_error e = { 0 };
	unsigned sw;

	if (n < 2) {
		snprintf(why, cap, "%s: uccid_secure: %s", c->what, n < 0 ? uccid_strerror((int)n) : "short answer");
		return why;
	}
	sw = (unsigned)rsp[n - 2] << 8 | rsp[n - 1];
	if (sw != c->sw) {
		snprintf(why, cap, "%s: answered %04X, not %04X", c->what, sw, c->sw);
		return why;
	}
	if (c->bError && (uccid_last_error(r, slot, &e) < 0 || e.bError != c->bError)) {
		snprintf(why, cap, "%s: the reader's bError is %02X, not %02X", c->what, e.bError, c->bError);
		return why;
	}
	sw = pinpad_plain_verify(r, slot, c->then_pin, why, cap);
	if (sw != c->then_sw) {
		if (sw)
			snprintf(why, cap, "%s: then VERIFY %s answered %04X, not %04X", c->what, c->then_pin, sw,
				 c->then_sw);
		return why;
	}
	return NULL;
}

#endif
