/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry on a reader's keypad (CCID 1.1 §6.1.11, PC_to_RDR_Secure): the
 * PIN verification and PIN modification data structures that follow
 * bPINOperation, checked field by field, and the PIN formatting a reader
 * does with them — the digits typed, formatted (binary, BCD or ASCII, left
 * or right justified, at a position in bits or bytes), their count written
 * into the PIN length field, all inside the APDU template the host sent.
 * Both ends use it: the driver checks what it sends, the virtual reader
 * what it receives and builds the APDU the card gets.
 */
#ifndef CCID_PIN_H
#define CCID_PIN_H

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

/* bPINOperation (CCID §6.1.11) */
#define CCID_PIN_OP_VERIFY 0x00
#define CCID_PIN_OP_MODIFY 0x01

/* bmFormatString: bit 7 units, bits 6..3 PIN position, bit 2 justification, bits 1..0 format */
#define CCID_PIN_UNITS_BYTES 0x80
#define CCID_PIN_RIGHT_JUSTIFY 0x04
enum ccid_pin_format {
	CCID_PIN_FORMAT_BINARY = 0,     /* a digit a byte: 01 02 03 04 */
	CCID_PIN_FORMAT_BCD = 1,        /* a digit a nibble: 12 34 */
	CCID_PIN_FORMAT_ASCII = 2,      /* a digit a byte: 31 32 33 34 */
};

/* bEntryValidationCondition: what ends the entry */
#define CCID_PIN_VALID_MAX_SIZE 0x01    /* the maximum number of digits was entered */
#define CCID_PIN_VALID_KEY 0x02         /* the validation (OK) key was pressed */
#define CCID_PIN_VALID_TIMEOUT 0x04     /* the time-out passed */

/* bConfirmPIN (modification) */
#define CCID_PIN_CONFIRM_NEW 0x01       /* the new PIN is entered twice */
#define CCID_PIN_ENTER_CURRENT 0x02     /* the current PIN is entered first */

/* Fixed sizes: the structure up to bTeoPrologue, without the optional bMsgIndex2/3. */
#define CCID_PIN_VERIFY_FIXED 14        /* bTimeOut .. bTeoPrologue[3] */
#define CCID_PIN_MODIFY_FIXED 17        /* bTimeOut .. bMsgIndex1, bTeoPrologue[3] */
#define CCID_PIN_APDU_MIN 4             /* CLA INS P1 P2 */
#define CCID_PIN_MAX_DIGITS 32          /* the longest PIN formatted here */

/*
 * A decoded structure.  Offsets into the structure's buffer are not kept:
 * apdu points into it.
 */
struct ccid_pin {
	uint8_t operation;              /* CCID_PIN_OP_VERIFY or _MODIFY */
	uint8_t bTimeOut;               /* seconds; 0: the reader's default */
	uint8_t bmFormatString, bmPINBlockString, bmPINLengthFormat;
	uint8_t bInsertionOffsetOld, bInsertionOffsetNew;       /* modification only */
	uint8_t min_digits, max_digits; /* wPINMaxExtraDigit: high byte, low byte */
	uint8_t bConfirmPIN;            /* modification only */
	uint8_t bEntryValidationCondition;
	uint8_t bNumberMessage;
	uint16_t wLangId;
	uint8_t bMsgIndex[3];
	uint8_t nmsg_index;             /* how many bMsgIndex bytes the structure carries */
	uint8_t bTeoPrologue[3];
	size_t teo_offset;              /* where bTeoPrologue starts in the structure */
	const uint8_t *apdu;            /* abPINApdu: the APDU template */
	size_t apdu_len;
	/* bmFormatString and the two others, taken apart */
	bool units_bytes;
	uint8_t pin_pos;                /* in units */
	bool right_justify;
	enum ccid_pin_format format;
	uint8_t len_bits;               /* PIN length field size in bits (0: none) */
	uint8_t block_size;             /* PIN block size in bytes (0: the PIN as long as it is) */
	bool len_units_bytes;
	uint8_t len_pos;                /* in its units */
};

/*
 * The bMsgIndex bytes a modification structure carries for bNumberMessage n:
 * bMsgIndex1 always, bMsgIndex2 unless n is 0, bMsgIndex3 when n is 3 or FF
 * (the default messages) — the rule libccid builds its frames by.
 */
unsigned ccid_pin_modify_msg_indexes(uint8_t bNumberMessage);

/*
 * Decode the structure that follows bPINOperation op (buf: abPINDataStructure,
 * len bytes, the APDU template last).  Checks every field as a reader does,
 * and diag->offset is the field's offset in the whole PC_to_RDR_Secure
 * message — the bError a reader returns for it (CCID §6.2.6): 11 for
 * bTimeOut, 12 for bmFormatString, and so on.  Returns 0, or
 *   -EINVAL    buf or ret NULL, op neither verify nor modify
 *   -ENODATA   shorter than the fixed fields and a 4-byte APDU header
 *   -EBADMSG   a forbidden value: format 11, RFU bits set, a minimum above
 *              the maximum or a maximum of 0 or above CCID_PIN_MAX_DIGITS,
 *              bEntryValidationCondition 0 or with RFU bits, bNumberMessage
 *              other than 0, 1, FF (verify) or 0..3, FF (modify)
 *   -EMSGSIZE  the PIN block or the length field lies beyond the APDU
 *              template, or the template is longer than a short APDU
 */
int ccid_pin_decode(uint8_t op, const uint8_t *buf, size_t len, struct ccid_pin *ret, struct ccid_diag *diag);

/*
 * How many digits a PIN may have in p's block: max_digits, or fewer when the
 * block (from the PIN's position to its end) holds fewer; CCID_PIN_MAX_DIGITS
 * at most.  A reader stops taking digits there.
 */
unsigned ccid_pin_capacity(const struct ccid_pin *p);

/*
 * Build the APDU the card gets: the template of p with the PINs typed
 * (digits '0'..'9', cur for the current PIN and new for the new one; a
 * verification uses cur only) formatted into it.  With a PIN block size the
 * template keeps its length and each PIN is written into its block at its
 * position (the template's bytes around the digits are the padding); with
 * block size 0 the PIN ends the command data and Lc is set to the data's
 * length.  The PIN length, when the length field has a size, is written in
 * binary at its position.  For a modification the positions count from
 * bInsertionOffsetOld / bInsertionOffsetNew (bytes).  Returns the APDU length,
 * or -EINVAL (a non-digit, a PIN longer than max_digits or
 * CCID_PIN_MAX_DIGITS, a PIN that does not fit its block), -ENOBUFS.
 */
ssize_t ccid_pin_build_apdu(const struct ccid_pin *p, const char *cur, const char *new_pin, uint8_t *apdu,
			    size_t cap);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
