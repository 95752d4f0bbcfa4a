/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry on the reader's keypad: FEATURE_VERIFY_PIN_DIRECT and
 * FEATURE_MODIFY_PIN_DIRECT (PC/SC part 10 §2.5.2, 2.5.3), carried to the
 * reader by uccid_secure() as PC_to_RDR_Secure (CCID §6.1.11) at whatever
 * exchange level it works.  Only translates: the part 10 structures
 * (PIN_VERIFY_STRUCTURE, PIN_MODIFY_STRUCTURE in pcsc-lite's reader.h) are
 * the CCID structures with two more fields — bTimerOut2 after bTimerOut and
 * ulDataLength before the APDU — and, in a modification, bMsgIndex2 and 3
 * always present where CCID carries them only for some bNumberMessage.
 * Every length pcscd's caller gives is checked against what it sent.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

/* part 10 structures: offsets of their fields */
#define V_VALIDATION 7
#define V_LEN 15
#define V_HEAD 19               /* up to and including ulDataLength */
#define M_VALIDATION 10
#define M_NMSG 11
#define M_IDX2 15
#define M_IDX3 16
#define M_LEN 20
#define M_HEAD 24
#define APDU_MAX 261            /* a short APDU: what a PIN template is */

bool ifd_secure_possible(struct ifd_reader *rd, unsigned slot, bool modify)
{
	(void)slot;
	/* every exchange level: uccid_secure frames T=1 at TPDU level itself */
	return rd->info.pin_support & (modify ? CCID_PIN_MODIFY : CCID_PIN_VERIFY);
}

/*
 * Part 10 structure -> CCID abPINDataStructure.  Returns its length, or
 * -ENOTSUP with the fault logged (libccid answers IFD_NOT_SUPPORTED too).
 */
ssize_t ifd_secure_to_ccid(bool modify, const uint8_t *tx, size_t txlen, uint8_t *out, size_t cap, char *why,
			   size_t whylen)
{
	size_t head = modify ? M_HEAD : V_HEAD, n = 0;
	uint32_t apdu;
	uint8_t valid;

	if (!tx || txlen < head + 4) {
		snprintf(why, whylen, "%zu bytes: a PIN %s structure has %zu and an APDU of at least 4", txlen,
			 modify ? "modification" : "verification", head);
		return -ENOTSUP;
	}
	apdu = ifd_get_le32(tx + (modify ? M_LEN : V_LEN));
	if (apdu != txlen - head) {
		snprintf(why, whylen, "ulDataLength %u, but %zu bytes of APDU follow", apdu, txlen - head);
		return -ENOTSUP;
	}
	if (apdu > APDU_MAX) {
		snprintf(why, whylen, "ulDataLength %u: a PIN APDU template is a short APDU (at most %u bytes)", apdu,
			 APDU_MAX);
		return -ENOTSUP;
	}
	if (modify && tx[M_NMSG] > 3 && tx[M_NMSG] != 0xFF) {
		snprintf(why, whylen, "bNumberMessage %02X: 00..03 or FF", tx[M_NMSG]);
		return -ENOTSUP;
	}
	if (cap < head + apdu) {
		snprintf(why, whylen, "the structure does not fit");
		return -ENOTSUP;
	}
	for (size_t b = 0; b < head; b++) {
		if (b == 1)
			continue;                       /* bTimerOut2: the reader has one time-out */
		if (b >= (modify ? M_LEN : V_LEN))
			continue;                       /* ulDataLength: not in the CCID structure */
		if (modify && b == M_IDX2 && ccid_pin_modify_msg_indexes(tx[M_NMSG]) < 2)
			continue;
		if (modify && b == M_IDX3 && ccid_pin_modify_msg_indexes(tx[M_NMSG]) < 3)
			continue;
		out[n++] = tx[b];
	}
	/*
	 * bEntryValidationCondition 0 or with RFU bits set: the OK key, as libccid
	 * makes it for every reader (a wrong value crashes the Cherry XX44).
	 */
	valid = tx[modify ? M_VALIDATION : V_VALIDATION];
	if (valid == 0 || valid > 0x07)
		out[(modify ? M_VALIDATION : V_VALIDATION) - 1] = CCID_PIN_VALID_KEY;
	memcpy(out + n, tx + head, apdu);
	return (ssize_t)(n + apdu);
}

int ifd_secure(struct ifd_reader *rd, unsigned slot, bool modify, const uint8_t *tx, size_t txlen, uint8_t *rx,
	       size_t rxcap)
{
	uint8_t pin[M_HEAD + APDU_MAX];
	char why[128];
	ssize_t n;

	if (!ifd_secure_possible(rd, slot, modify))
		return -ENOTSUP;
	if (rxcap < 2)
		return -ENOBUFS;        /* not even SW1 SW2: IFD_ERROR_INSUFFICIENT_BUFFER */
	n = ifd_secure_to_ccid(modify, tx, txlen, pin, sizeof(pin), why, sizeof(why));
	if (n < 0) {
		ifd_log(IFD_LOG_WARNING, "%s: %s PIN refused: %s", rd->name, modify ? "MODIFY" : "VERIFY", why);
		return (int)n;
	}
	n = uccid_secure(rd->r, slot, modify ? CCID_PIN_OP_MODIFY : CCID_PIN_OP_VERIFY, pin, (size_t)n, rx, rxcap);
	if (n == -EINVAL) {
		/* the structure's fields: uccid_secure logged which one */
		ifd_log(IFD_LOG_WARNING, "%s: %s PIN refused: a field of the structure is not valid", rd->name,
			modify ? "MODIFY" : "VERIFY");
		return -ENOTSUP;
	}
	return (int)n;
}
