/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IFDHControl (SCardControl): the PC/SC part 10 features the reader really
 * has (CM_IOCTL_GET_FEATURE_REQUEST, part 10 §2.2), the CCID escape
 * pass-through (only when ifdDriverOptions allows it: an escape reaches the
 * reader's firmware unfiltered), and uccid's own codes (docs/ifd-uccid.8):
 * what pcscd cannot ask a v3 driver — eject the card, name the lock holder,
 * read the card-state generation.  Multi-byte values of uccid's codes are
 * big-endian, as part 10 gives control codes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <reader.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

static bool escape_allowed(void)
{
	return ifd_config.options & IFD_OPTION_ESCAPE;
}

static size_t put_feature(uint8_t *p, uint8_t feature)
{
	p[0] = feature;
	p[1] = 4;
	ifd_put_be32(p + 2, IFD_FEATURE_CTL(feature));
	return 6;
}

/* CM_IOCTL_GET_FEATURE_REQUEST: tag, length 4, big-endian control code. */
static size_t features(struct ifd_reader *rd, unsigned slot, uint8_t *out)
{
	size_t n = 0;

	if (ifd_secure_possible(rd, slot, false))
		n += put_feature(out + n, FEATURE_VERIFY_PIN_DIRECT);
	if (ifd_secure_possible(rd, slot, true))
		n += put_feature(out + n, FEATURE_MODIFY_PIN_DIRECT);
	if (rd->info.pin_support)
		n += put_feature(out + n, FEATURE_IFD_PIN_PROPERTIES);
	n += put_feature(out + n, FEATURE_GET_TLV_PROPERTIES);
	if (escape_allowed())
		n += put_feature(out + n, FEATURE_CCID_ESC_COMMAND);
	return n;
}

static size_t tlv_u8(uint8_t *p, uint8_t tag, uint8_t v)
{
	p[0] = tag;
	p[1] = 1;
	p[2] = v;
	return 3;
}

static size_t tlv_u16(uint8_t *p, uint8_t tag, uint16_t v)
{
	p[0] = tag;
	p[1] = 2;
	ifd_put_le16(p + 2, v);
	return 4;
}

static size_t tlv_u32(uint8_t *p, uint8_t tag, uint32_t v)
{
	p[0] = tag;
	p[1] = 4;
	ifd_put_le32(p + 2, v);
	return 6;
}

/*
 * dwMaxAPDUDataSize (part 10 §2.6.14): 0 for short APDUs only, else the
 * largest data field of an extended APDU, 65536 as libccid gives it — only
 * where uccid_transmit() carries extended APDUs: at extended-APDU level, and
 * at TPDU and character level under T=1 (chaining).  Such a reader's answer depends on the
 * card in the slot: a powered T=0 card takes none, nor a reader without T=1.
 */
static uint32_t max_apdu_data(struct ifd_reader *rd, unsigned slot)
{
	struct uccid_slot_status st;
	struct ccid_class_desc d;

	if (rd->info.exchange_level == CCID_LEVEL_EXTENDED_APDU)
		return 65536;
	if (rd->info.exchange_level != CCID_LEVEL_TPDU && rd->info.exchange_level != CCID_LEVEL_CHARACTER)
		return 0;
	if (ccid_class_desc_parse(rd->desc, sizeof(rd->desc), &d, NULL) < 0 || !(d.dwProtocols & CCID_PROTOCOLS_T1))
		return 0;
	if (ifd_note(rd, uccid_slot_status(rd->r, slot, &st)) == 0 && st.powered && st.protocol == CCID_PROTOCOL_T0)
		return 0;
	return 65536;
}

/*
 * FEATURE_GET_TLV_PROPERTIES (part 10 §2.6.14): values little-endian.  The
 * PIN pad's properties come from the class descriptor (wLcdLayout: lines in
 * the high byte, characters in the low one) and from what is known of the
 * reader (quirks.c: the sizes and entry conditions it takes).  bTimeOut2 0:
 * the reader has one time-out for the whole entry.
 */
static size_t tlv_properties(struct ifd_reader *rd, unsigned slot, uint8_t *out)
{
	struct uccid_pin_properties pp;
	size_t n = 0;

	if (uccid_pin_properties(rd->r, &pp) < 0)
		memset(&pp, 0, sizeof(pp));
	if (pp.bPINSupport) {
		char fw[16];
		size_t fl = (size_t)snprintf(fw, sizeof(fw), "%x.%02x", rd->info.bcdDevice >> 8,
					     rd->info.bcdDevice & 0xFF);

		n += tlv_u16(out + n, PCSCv2_PART10_PROPERTY_wLcdLayout, pp.wLcdLayout);
		if (pp.wLcdLayout) {
			n += tlv_u16(out + n, PCSCv2_PART10_PROPERTY_wLcdMaxCharacters, pp.wLcdLayout & 0xFF);
			n += tlv_u16(out + n, PCSCv2_PART10_PROPERTY_wLcdMaxLines, pp.wLcdLayout >> 8);
		}
		n += tlv_u8(out + n, PCSCv2_PART10_PROPERTY_bEntryValidationCondition, pp.bEntryValidationCondition);
		n += tlv_u8(out + n, PCSCv2_PART10_PROPERTY_bTimeOut2, 0);
		if (pp.bMinPINSize || pp.bMaxPINSize) {
			n += tlv_u8(out + n, PCSCv2_PART10_PROPERTY_bMinPINSize, pp.bMinPINSize);
			n += tlv_u8(out + n, PCSCv2_PART10_PROPERTY_bMaxPINSize, pp.bMaxPINSize);
		}
		/* sFirmwareID: the reader's release (bcdDevice), all a CCID reader says of its firmware */
		out[n++] = PCSCv2_PART10_PROPERTY_sFirmwareID;
		out[n++] = (uint8_t)fl;
		memcpy(out + n, fw, fl);
		n += fl;
	}
	/* bPPDUSupport bit 0: PPDU over SCardControl with FEATURE_CCID_ESC_COMMAND */
	n += tlv_u8(out + n, PCSCv2_PART10_PROPERTY_bPPDUSupport, escape_allowed() ? 1 : 0);
	n += tlv_u32(out + n, PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize, max_apdu_data(rd, slot));
	n += tlv_u16(out + n, PCSCv2_PART10_PROPERTY_wIdVendor, rd->info.idVendor);
	n += tlv_u16(out + n, PCSCv2_PART10_PROPERTY_wIdProduct, rd->info.idProduct);
	return n;
}

static RESPONSECODE give(const uint8_t *data, size_t n, uint8_t *rx, size_t rxcap, size_t *ret_len)
{
	if (n > rxcap)
		return ifd_from_errno(-ENOBUFS, IFD_OP_GENERIC);
	memcpy(rx, data, n);
	*ret_len = n;
	return IFD_SUCCESS;
}

static RESPONSECODE generation(struct ifd_reader *rd, unsigned slot, uint8_t *rx, size_t rxcap, size_t *ret_len)
{
	struct uccid_slot_status st;
	uint8_t out[8];
	int rc = ifd_note(rd, uccid_slot_status(rd->r, slot, &st));

	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(st.generation >> (56 - 8 * i));
	return give(out, sizeof(out), rx, rxcap, ret_len);
}

/*
 * IOCTL_UCCID_EJECT: the lock manager's eject (Mechanical 02 where the
 * reader declares an eject mechanism, else power off and latch the slot
 * until the card is taken out).  Answer: 1 byte, enum uccid_done
 * (3 ejected, 4 latched).
 */
static RESPONSECODE eject(struct ifd_reader *rd, unsigned slot, uint8_t *rx, size_t rxcap, size_t *ret_len)
{
	enum uccid_done done = UCCID_DONE_NOTHING;
	uint8_t out[1];
	int rc;

	if (rxcap < 1)
		return ifd_from_errno(-ENOBUFS, IFD_OP_GENERIC);
	rc = ifd_note(rd, uccid_eject(rd->r, slot, &done));
	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	ifd_set_atr(rd, slot, NULL, 0);
	ifd_log(IFD_LOG_INFO, "%s: slot %u: card %s", rd->name, slot,
		done == UCCID_DONE_EJECTED ? "ejected" : "powered off and latched");
	out[0] = (uint8_t)done;
	return give(out, sizeof(out), rx, rxcap, ret_len);
}

/*
 * IOCTL_UCCID_LOCK_HOLDER: who holds the slot's uccid lock (another program
 * using the reader through libuccid).  Answer, 46 bytes: held, abandoned
 * (1 byte each), pid (4, big-endian), since (8, big-endian Unix seconds),
 * program (32, NUL-padded).
 */
#define HOLDER_LEN 46
static RESPONSECODE holder(struct ifd_reader *rd, unsigned slot, uint8_t *rx, size_t rxcap, size_t *ret_len)
{
	struct uccid_holder h;
	uint8_t out[HOLDER_LEN] = { 0 };
	int rc;

	if (rxcap < HOLDER_LEN)
		return ifd_from_errno(-ENOBUFS, IFD_OP_GENERIC);
	memset(&h, 0, sizeof(h));
	rc = ifd_note(rd, uccid_lock_holder(rd->r, slot, &h));
	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	out[0] = h.held;
	out[1] = h.abandoned;
	ifd_put_be32(out + 2, (uint32_t)h.pid);
	for (int i = 0; i < 8; i++)
		out[6 + i] = (uint8_t)((uint64_t)h.since >> (56 - 8 * i));
	_Static_assert(sizeof(h.program) == 32, "the answer's program field is 32 bytes");
	memcpy(out + 14, h.program, strnlen(h.program, sizeof(h.program)));
	return give(out, sizeof(out), rx, rxcap, ret_len);
}

RESPONSECODE ifd_control(struct ifd_reader *rd, unsigned slot, DWORD code, const uint8_t *tx, size_t txlen,
			 uint8_t *rx, size_t rxcap, size_t *ret_len)
{
	uint8_t out[128];
	ssize_t n;

	*ret_len = 0;
	if (code == CM_IOCTL_GET_FEATURE_REQUEST || code == CM_IOCTL_GET_FEATURE_REQUEST_WIN)
		return give(out, features(rd, slot, out), rx, rxcap, ret_len);
	if (code == IFD_FEATURE_CTL(FEATURE_GET_TLV_PROPERTIES))
		return give(out, tlv_properties(rd, slot, out), rx, rxcap, ret_len);
	if (code == IFD_FEATURE_CTL(FEATURE_IFD_PIN_PROPERTIES) && rd->info.pin_support) {
		/* PIN_PROPERTIES_STRUCTURE (part 10 §2.6.8): wLcdLayout, bEntryValidationCondition, bTimeOut2 */
		struct uccid_pin_properties pp;
		uint8_t p[4];

		if (uccid_pin_properties(rd->r, &pp) < 0)
			return ifd_from_errno(-EINVAL, IFD_OP_GENERIC);
		ifd_put_le16(p, pp.wLcdLayout);
		p[2] = pp.bEntryValidationCondition;
		p[3] = 0;
		return give(p, sizeof(p), rx, rxcap, ret_len);
	}
	if (code == IFD_FEATURE_CTL(FEATURE_VERIFY_PIN_DIRECT) || code == IFD_FEATURE_CTL(FEATURE_MODIFY_PIN_DIRECT)) {
		n = ifd_note(rd, ifd_secure(rd, slot, code == IFD_FEATURE_CTL(FEATURE_MODIFY_PIN_DIRECT), tx, txlen,
					    rx, rxcap));
		if (n < 0)
			return ifd_from_errno((int)n, IFD_OP_GENERIC);
		*ret_len = (size_t)n;
		return IFD_SUCCESS;
	}
	if (code == IOCTL_UCCID_ESCAPE || code == IFD_FEATURE_CTL(FEATURE_CCID_ESC_COMMAND)) {
		if (!escape_allowed()) {
			ifd_log(IFD_LOG_INFO, "%s: escape refused: set bit 0x0001 of ifdDriverOptions to allow it",
				rd->name);
			return ifd_from_errno(-ENOTSUP, IFD_OP_GENERIC);
		}
		n = ifd_note(rd, (int)uccid_escape(rd->r, slot, tx, txlen, rx, rxcap));
		if (n < 0)
			return ifd_from_errno((int)n, IFD_OP_GENERIC);
		*ret_len = (size_t)n;
		return IFD_SUCCESS;
	}
	if (code == IOCTL_UCCID_GENERATION)
		return generation(rd, slot, rx, rxcap, ret_len);
	if (code == IOCTL_UCCID_EJECT)
		return eject(rd, slot, rx, rxcap, ret_len);
	if (code == IOCTL_UCCID_LOCK_HOLDER)
		return holder(rd, slot, rx, rxcap, ret_len);
	ifd_log(IFD_LOG_INFO, "%s: control code 0x%08lX not supported", rd->name, (unsigned long)code);
	return ifd_from_errno(-ENOTSUP, IFD_OP_GENERIC);
}
