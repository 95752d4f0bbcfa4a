/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PIN verification and modification data structures of
 * PC_to_RDR_Secure (CCID 1.1 §6.1.11), and the PIN formatting a PIN pad does
 * with them.  Field order and sizes are those of the CCID tables (pcsc-lite's
 * reader.h gives the same, with the two PC/SC part 10 additions the reader
 * never sees); the presence of bMsgIndex2/3 follows libccid's frames.
 *
 * Positions: the PIN position (bmFormatString) and the PIN length position
 * (bmPINLengthFormat) count from the first byte of the command data (after
 * Lc), in bits or bytes as their unit bit says; bit positions count from the
 * most significant bit of that byte.  A modification adds its insertion
 * offset (bytes) for each of the two PINs.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "ccid/bytes.h"
#include "ccid/pin.h"

#define MSG_OFF 11          /* abPINDataStructure in the Secure message: 10-byte header, bPINOperation */
#define SHORT_APDU_MAX 261  /* CLA INS P1 P2 Lc 255 bytes Le */

unsigned ccid_pin_modify_msg_indexes(uint8_t n)
{
	return 1u + (n != 0) + (n >= 3);
}

static int fail(struct ccid_diag *diag, size_t off, const char *expected, int err)
{
	return ccid_fail(diag, MSG_OFF + off, expected, err);
}

/* Command data of a template: its length, or -1 when the template's lengths do not add up. */
static int template_data(const uint8_t *apdu, size_t len)
{
	if (len == 4)
		return 0;
	if (len == 5)
		return 0;       /* P3 alone: Le, or an Lc of 0 the PIN will fill */
	if (apdu[4] != 0 && (len == 5u + apdu[4] || len == 6u + apdu[4]))
		return apdu[4];
	return -1;
}

static unsigned bits_per_digit(const struct ccid_pin *p)
{
	return p->format == CCID_PIN_FORMAT_BCD ? 4 : 8;
}

/* Bit position of a PIN that starts its block at byte base. */
static size_t pin_bit(const struct ccid_pin *p, unsigned base)
{
	return (size_t)base * 8 + (size_t)p->pin_pos * (p->units_bytes ? 8 : 1);
}

static size_t len_bit(const struct ccid_pin *p, unsigned base)
{
	return (size_t)base * 8 + (size_t)p->len_pos * (p->len_units_bytes ? 8 : 1);
}

/* Check one PIN's block (at data byte base) against the template's data length. */
static int check_block(const struct ccid_pin *p, unsigned base, size_t data_len, size_t fmt_off, size_t blk_off,
		       struct ccid_diag *diag)
{
	size_t start = pin_bit(p, base);

	if (p->block_size) {
		if ((size_t)base + p->block_size > data_len)
			return fail(diag, blk_off, "a PIN block inside the APDU template's data", -EMSGSIZE);
		if (start + bits_per_digit(p) > ((size_t)base + p->block_size) * 8)
			return fail(diag, fmt_off, "a PIN position inside the PIN block", -EMSGSIZE);
	} else {
		/* the PIN ends the data: what comes before it is the template's */
		if (start % 8 && p->format != CCID_PIN_FORMAT_BCD)
			return fail(diag, fmt_off, "a PIN position on a byte boundary", -EMSGSIZE);
		if ((start + 7) / 8 > data_len)
			return fail(diag, fmt_off, "a PIN position inside the APDU template's data", -EMSGSIZE);
	}
	if (p->len_bits) {
		size_t lb = len_bit(p, base), end = p->block_size ? (size_t)base + p->block_size : data_len;

		if (lb + p->len_bits > end * 8)
			return fail(diag, blk_off, "a PIN length field inside the APDU template's data", -EMSGSIZE);
	}
	return 0;
}

int ccid_pin_decode(uint8_t op, const uint8_t *buf, size_t len, struct ccid_pin *ret, struct ccid_diag *diag)
{
	struct ccid_pin p;
	bool modify = op == CCID_PIN_OP_MODIFY;
	size_t i = 0, fmt_off = 1, blk_off = 2, lenf_off = 3, digits_off, valid_off, nmsg_off;
	int data, rc;

	if (!buf || !ret || (op != CCID_PIN_OP_VERIFY && !modify))
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	p.operation = op;
	if (len < (modify ? CCID_PIN_MODIFY_FIXED : CCID_PIN_VERIFY_FIXED) + CCID_PIN_APDU_MIN)
		return fail(diag, len, modify ? "a PIN modification structure of 17 bytes and an APDU"
					      : "a PIN verification structure of 14 bytes and an APDU", -ENODATA);
	p.bTimeOut = buf[i++];
	p.bmFormatString = buf[i++];
	p.bmPINBlockString = buf[i++];
	p.bmPINLengthFormat = buf[i++];
	if (modify) {
		p.bInsertionOffsetOld = buf[i++];
		p.bInsertionOffsetNew = buf[i++];
	}
	digits_off = i;
	p.max_digits = buf[i++];                /* wPINMaxExtraDigit, little-endian: max, then min */
	p.min_digits = buf[i++];
	if (modify)
		p.bConfirmPIN = buf[i++];
	valid_off = i;
	p.bEntryValidationCondition = buf[i++];
	nmsg_off = i;
	p.bNumberMessage = buf[i++];
	p.wLangId = get_le16(buf + i);
	i += 2;
	p.nmsg_index = modify ? (uint8_t)ccid_pin_modify_msg_indexes(p.bNumberMessage) : 1;
	if (len < i + p.nmsg_index + 3 + CCID_PIN_APDU_MIN)
		return fail(diag, len, "bMsgIndex bytes, bTeoPrologue and an APDU", -ENODATA);
	for (unsigned k = 0; k < p.nmsg_index; k++)
		p.bMsgIndex[k] = buf[i++];
	p.teo_offset = i;
	memcpy(p.bTeoPrologue, buf + i, 3);
	i += 3;
	p.apdu = buf + i;
	p.apdu_len = len - i;

	p.units_bytes = p.bmFormatString & CCID_PIN_UNITS_BYTES;
	p.pin_pos = (p.bmFormatString >> 3) & 0x0F;
	p.right_justify = p.bmFormatString & CCID_PIN_RIGHT_JUSTIFY;
	p.format = (enum ccid_pin_format)(p.bmFormatString & 0x03);
	p.len_bits = p.bmPINBlockString >> 4;
	p.block_size = p.bmPINBlockString & 0x0F;
	p.len_units_bytes = p.bmPINLengthFormat & 0x10;
	p.len_pos = p.bmPINLengthFormat & 0x0F;

	if ((p.bmFormatString & 0x03) == 0x03)
		return fail(diag, fmt_off, "bmFormatString PIN format 00 binary, 01 BCD or 10 ASCII", -EBADMSG);
	if (p.bmPINLengthFormat & 0xE0)
		return fail(diag, lenf_off, "bmPINLengthFormat with bits 7..5 zero", -EBADMSG);
	if (p.max_digits == 0 || p.max_digits > CCID_PIN_MAX_DIGITS || p.min_digits > p.max_digits)
		return fail(diag, digits_off, "wPINMaxExtraDigit: a maximum of 1..32 digits, a minimum not above it",
			    -EBADMSG);
	if (modify && (p.bConfirmPIN & ~(CCID_PIN_CONFIRM_NEW | CCID_PIN_ENTER_CURRENT)))
		return fail(diag, digits_off + 2, "bConfirmPIN with bits 7..2 zero", -EBADMSG);
	if (p.bEntryValidationCondition == 0 || (p.bEntryValidationCondition & ~0x07))
		return fail(diag, valid_off, "bEntryValidationCondition 01..07", -EBADMSG);
	if (modify ? p.bNumberMessage > 3 && p.bNumberMessage != 0xFF
		   : p.bNumberMessage > 1 && p.bNumberMessage != 0xFF)
		return fail(diag, nmsg_off, modify ? "bNumberMessage 00..03 or FF" : "bNumberMessage 00, 01 or FF",
			    -EBADMSG);
	if (p.apdu_len > SHORT_APDU_MAX)
		return fail(diag, p.teo_offset + 3 + SHORT_APDU_MAX, "an APDU template of at most 261 bytes",
			    -EMSGSIZE);
	data = template_data(p.apdu, p.apdu_len);
	if (data < 0)
		return fail(diag, p.teo_offset + 3 + 4, "an APDU template whose Lc matches its data", -EMSGSIZE);
	if (!modify || (p.bConfirmPIN & CCID_PIN_ENTER_CURRENT)) {
		rc = check_block(&p, modify ? p.bInsertionOffsetOld : 0, (size_t)data, fmt_off, blk_off, diag);
		if (rc < 0)
			return rc;
	}
	if (modify) {
		rc = check_block(&p, p.bInsertionOffsetNew, (size_t)data, fmt_off, blk_off, diag);
		if (rc < 0)
			return rc;
	}
	*ret = p;
	return 0;
}

unsigned ccid_pin_capacity(const struct ccid_pin *p)
{
	unsigned cap = p->max_digits;

	if (p->block_size) {
		/* the PIN's first bit to the block's end, whichever PIN is the tighter */
		size_t bits = (size_t)p->block_size * 8 - (size_t)p->pin_pos * (p->units_bytes ? 8 : 1);
		unsigned fit = (unsigned)(bits / bits_per_digit(p));

		if (fit < cap)
			cap = fit;
	}
	return cap < CCID_PIN_MAX_DIGITS ? cap : CCID_PIN_MAX_DIGITS;
}

/* Write the low n bits of v at bit position pos (MSB first) of buf. */
static void put_bits(uint8_t *buf, size_t pos, unsigned n, unsigned v)
{
	for (unsigned k = 0; k < n; k++) {
		size_t b = pos + k;
		uint8_t mask = (uint8_t)(0x80 >> (b % 8));

		if ((v >> (n - 1 - k)) & 1)
			buf[b / 8] |= mask;
		else
			buf[b / 8] &= (uint8_t)~mask;
	}
}

static unsigned digit_code(const struct ccid_pin *p, char c)
{
	return p->format == CCID_PIN_FORMAT_ASCII ? (unsigned char)c : (unsigned)(c - '0');
}

/* Format pin into data (the command data) for a block at byte base; returns the bits it ends at. */
static ssize_t put_pin(const struct ccid_pin *p, const char *pin, unsigned base, uint8_t *data, size_t data_cap)
{
	size_t n = strlen(pin), bpd = bits_per_digit(p), start = pin_bit(p, base), end;

	if (n > ccid_pin_capacity(p))
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (pin[k] < '0' || pin[k] > '9')
			return -EINVAL;
	if (p->block_size && p->right_justify)
		start = ((size_t)base + p->block_size) * 8 - n * bpd;
	end = start + n * bpd;
	if ((end + 7) / 8 > data_cap)
		return -ENOBUFS;
	for (size_t k = 0; k < n; k++)
		put_bits(data, start + k * bpd, (unsigned)bpd, digit_code(p, pin[k]));
	if (p->len_bits)
		put_bits(data, len_bit(p, base), p->len_bits, (unsigned)n);
	return (ssize_t)end;
}

ssize_t ccid_pin_build_apdu(const struct ccid_pin *p, const char *cur, const char *new_pin, uint8_t *apdu,
			    size_t cap)
{
	bool modify = p && p->operation == CCID_PIN_OP_MODIFY;
	bool with_cur = !modify || (p->bConfirmPIN & CCID_PIN_ENTER_CURRENT);
	uint8_t data[255 + 2 * CCID_PIN_MAX_DIGITS];
	size_t data_len, out_len;
	int tdata;
	ssize_t end;

	if (!p || !apdu || (with_cur && !cur) || (modify && !new_pin))
		return -EINVAL;
	tdata = template_data(p->apdu, p->apdu_len);
	if (tdata < 0)
		return -EINVAL;
	memset(data, 0, sizeof(data));
	if (tdata)
		memcpy(data, p->apdu + 5, (size_t)tdata);
	data_len = (size_t)tdata;
	if (p->block_size) {
		if (with_cur && (end = put_pin(p, cur, modify ? p->bInsertionOffsetOld : 0, data, data_len)) < 0)
			return end == -ENOBUFS ? -EINVAL : end;
		if (modify && (end = put_pin(p, new_pin, p->bInsertionOffsetNew, data, data_len)) < 0)
			return end == -ENOBUFS ? -EINVAL : end;
	} else {
		/* variable length: the PIN(s) end the command data */
		unsigned base = modify ? (with_cur ? p->bInsertionOffsetOld : p->bInsertionOffsetNew) : 0;

		end = (ssize_t)pin_bit(p, base);
		if (with_cur && (end = put_pin(p, cur, base, data, sizeof(data))) < 0)
			return end;
		if (modify) {
			/* the new PIN right after the current one, from the next byte */
			struct ccid_pin q = *p;

			q.pin_pos = 0;
			q.units_bytes = true;
			q.len_bits = 0;
			if ((end = put_pin(&q, new_pin, (unsigned)(((size_t)end + 7) / 8), data, sizeof(data))) < 0)
				return end;
		}
		data_len = ((size_t)end + 7) / 8;
		if (data_len > 255)
			return -EINVAL;
	}
	out_len = 4 + (data_len ? 1 + data_len : 0);
	if (p->block_size && p->apdu_len > 5u + (size_t)tdata)
		out_len++;      /* the template's Le stays */
	if (!data_len && p->apdu_len == 5)
		out_len = 5;
	if (out_len > cap)
		return -ENOBUFS;
	memcpy(apdu, p->apdu, 4);
	if (data_len) {
		apdu[4] = (uint8_t)data_len;
		memcpy(apdu + 5, data, data_len);
		if (out_len > 5 + data_len)
			apdu[5 + data_len] = p->apdu[p->apdu_len - 1];
	} else if (out_len == 5) {
		apdu[4] = p->apdu[4];
	}
	return (ssize_t)out_len;
}
