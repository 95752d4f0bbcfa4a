/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Encode, decode and validate CCID bulk messages (CCID 1.1 §6.1, §6.2).
 * One set of per-type rules serves the decoder, the encoder and the
 * validator, so that what the driver sends and what the virtual reader
 * accepts are checked by the same code.  Command rules are strict (a reader
 * must flag any RFU byte with the offset of the bad parameter, §6.2.6);
 * response rules refuse only what cannot be interpreted, since real readers
 * put vendor values in RFU bytes.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/message.h"

bool ccid_is_command(uint8_t t)
{
	switch (t) {
	case CCID_PC_TO_RDR_SET_PARAMETERS:
	case CCID_PC_TO_RDR_ICC_POWER_ON:
	case CCID_PC_TO_RDR_ICC_POWER_OFF:
	case CCID_PC_TO_RDR_GET_SLOT_STATUS:
	case CCID_PC_TO_RDR_SECURE:
	case CCID_PC_TO_RDR_T0APDU:
	case CCID_PC_TO_RDR_ESCAPE:
	case CCID_PC_TO_RDR_GET_PARAMETERS:
	case CCID_PC_TO_RDR_RESET_PARAMETERS:
	case CCID_PC_TO_RDR_ICC_CLOCK:
	case CCID_PC_TO_RDR_XFR_BLOCK:
	case CCID_PC_TO_RDR_MECHANICAL:
	case CCID_PC_TO_RDR_ABORT:
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY:
		return true;
	default:
		return false;
	}
}

bool ccid_is_response(uint8_t t)
{
	return t >= CCID_RDR_TO_PC_DATA_BLOCK && t <= CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY;
}

const char *ccid_msg_type_name(uint8_t t)
{
	switch (t) {
	case CCID_PC_TO_RDR_SET_PARAMETERS: return "PC_to_RDR_SetParameters";
	case CCID_PC_TO_RDR_ICC_POWER_ON: return "PC_to_RDR_IccPowerOn";
	case CCID_PC_TO_RDR_ICC_POWER_OFF: return "PC_to_RDR_IccPowerOff";
	case CCID_PC_TO_RDR_GET_SLOT_STATUS: return "PC_to_RDR_GetSlotStatus";
	case CCID_PC_TO_RDR_SECURE: return "PC_to_RDR_Secure";
	case CCID_PC_TO_RDR_T0APDU: return "PC_to_RDR_T0APDU";
	case CCID_PC_TO_RDR_ESCAPE: return "PC_to_RDR_Escape";
	case CCID_PC_TO_RDR_GET_PARAMETERS: return "PC_to_RDR_GetParameters";
	case CCID_PC_TO_RDR_RESET_PARAMETERS: return "PC_to_RDR_ResetParameters";
	case CCID_PC_TO_RDR_ICC_CLOCK: return "PC_to_RDR_IccClock";
	case CCID_PC_TO_RDR_XFR_BLOCK: return "PC_to_RDR_XfrBlock";
	case CCID_PC_TO_RDR_MECHANICAL: return "PC_to_RDR_Mechanical";
	case CCID_PC_TO_RDR_ABORT: return "PC_to_RDR_Abort";
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY:
		return "PC_to_RDR_SetDataRateAndClockFrequency";
	case CCID_RDR_TO_PC_DATA_BLOCK: return "RDR_to_PC_DataBlock";
	case CCID_RDR_TO_PC_SLOT_STATUS: return "RDR_to_PC_SlotStatus";
	case CCID_RDR_TO_PC_PARAMETERS: return "RDR_to_PC_Parameters";
	case CCID_RDR_TO_PC_ESCAPE: return "RDR_to_PC_Escape";
	case CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY: return "RDR_to_PC_DataRateAndClockFrequency";
	case CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE: return "RDR_to_PC_NotifySlotChange";
	case CCID_RDR_TO_PC_HARDWARE_ERROR: return "RDR_to_PC_HardwareError";
	default: return NULL;
	}
}

/* CCID §6.1 table 6.1-1: which response answers which command. */
uint8_t ccid_response_type(uint8_t t)
{
	switch (t) {
	case CCID_PC_TO_RDR_ICC_POWER_ON:
	case CCID_PC_TO_RDR_XFR_BLOCK:
	case CCID_PC_TO_RDR_SECURE:
		return CCID_RDR_TO_PC_DATA_BLOCK;
	case CCID_PC_TO_RDR_ICC_POWER_OFF:
	case CCID_PC_TO_RDR_GET_SLOT_STATUS:
	case CCID_PC_TO_RDR_ICC_CLOCK:
	case CCID_PC_TO_RDR_T0APDU:
	case CCID_PC_TO_RDR_MECHANICAL:
	case CCID_PC_TO_RDR_ABORT:
		return CCID_RDR_TO_PC_SLOT_STATUS;
	case CCID_PC_TO_RDR_GET_PARAMETERS:
	case CCID_PC_TO_RDR_RESET_PARAMETERS:
	case CCID_PC_TO_RDR_SET_PARAMETERS:
		return CCID_RDR_TO_PC_PARAMETERS;
	case CCID_PC_TO_RDR_ESCAPE:
		return CCID_RDR_TO_PC_ESCAPE;
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY:
		return CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY;
	default:
		return 0;
	}
}

ssize_t ccid_msg_total_length(const uint8_t *buf, size_t len)
{
	uint32_t dwLength;

	if (!buf || len < CCID_HEADER_SIZE)
		return -ENODATA;
	dwLength = get_le32(buf + CCID_OFF_LENGTH);
	if (dwLength > CCID_MAX_DATA_LENGTH)
		return -EMSGSIZE;
	return (ssize_t)(CCID_HEADER_SIZE + dwLength);
}

/* Header bytes 7..9 must be zero (RFU) from index 'from' on. */
static int check_rfu(const uint8_t *hdr, unsigned from, struct ccid_diag *diag)
{
	for (unsigned i = from; i <= CCID_OFF_B9; i++)
		if (hdr[i] != 0)
			return ccid_fail(diag, i, "RFU byte 00", -EBADMSG);
	return 0;
}

static int check_len(uint32_t dwLength, uint32_t want, struct ccid_diag *diag, const char *what)
{
	if (dwLength != want)
		return ccid_fail(diag, CCID_OFF_LENGTH, what, -EPROTO);
	return 0;
}

/*
 * SetParameters protocol data structure (CCID §6.1.7, tables 6.1-5/6.1-6).
 * Offsets reported are absolute in the message, as a reader reports them.
 */
static int check_t0_params(const uint8_t *d, struct ccid_diag *diag)
{
	if (d[1] & ~0x02)
		return ccid_fail(diag, CCID_OFF_DATA + 1, "bmTCCKST0 00 or 02", -EBADMSG);
	if (d[4] > 3)
		return ccid_fail(diag, CCID_OFF_DATA + 4, "bClockStop 00..03", -EBADMSG);
	return 0;
}

static int check_t1_params(const uint8_t *d, struct ccid_diag *diag)
{
	if ((d[1] & ~0x03) != 0x10)
		return ccid_fail(diag, CCID_OFF_DATA + 1, "bmTCCKST1 10..13", -EBADMSG);
	if ((d[3] >> 4) > 9)
		return ccid_fail(diag, CCID_OFF_DATA + 3, "bWaitingIntegersT1 with BWI 0..9", -EBADMSG);
	if (d[4] > 3)
		return ccid_fail(diag, CCID_OFF_DATA + 4, "bClockStop 00..03", -EBADMSG);
	if (d[5] == 0 || d[5] == 0xFF)
		return ccid_fail(diag, CCID_OFF_DATA + 5, "bIFSC 01..FE", -EBADMSG);
	return 0;
}

static int check_command(const uint8_t *hdr, const uint8_t *data, uint32_t dwLength,
			 struct ccid_diag *diag)
{
	int r;

	switch (hdr[CCID_OFF_TYPE]) {
	case CCID_PC_TO_RDR_ICC_POWER_ON:
		if ((r = check_len(dwLength, 0, diag, "dwLength 0")) < 0)
			return r;
		if (hdr[CCID_OFF_B7] > CCID_POWER_1V8)
			return ccid_fail(diag, CCID_OFF_B7, "bPowerSelect 00..03", -EBADMSG);
		return check_rfu(hdr, CCID_OFF_B8, diag);
	case CCID_PC_TO_RDR_ICC_POWER_OFF:
	case CCID_PC_TO_RDR_GET_SLOT_STATUS:
	case CCID_PC_TO_RDR_GET_PARAMETERS:
	case CCID_PC_TO_RDR_RESET_PARAMETERS:
	case CCID_PC_TO_RDR_ABORT:
		if ((r = check_len(dwLength, 0, diag, "dwLength 0")) < 0)
			return r;
		return check_rfu(hdr, CCID_OFF_B7, diag);
	case CCID_PC_TO_RDR_XFR_BLOCK:
		/* bBWI and wLevelParameter: meaning depends on the exchange level. */
		return 0;
	case CCID_PC_TO_RDR_ESCAPE:
		return check_rfu(hdr, CCID_OFF_B7, diag);
	case CCID_PC_TO_RDR_SET_PARAMETERS:
		switch (hdr[CCID_OFF_B7]) {
		case CCID_PROTOCOL_T0:
			if ((r = check_len(dwLength, CCID_T0_PARAMS_LEN, diag,
					   "dwLength 5 for T=0 parameters")) < 0)
				return r;
			if ((r = check_t0_params(data, diag)) < 0)
				return r;
			break;
		case CCID_PROTOCOL_T1:
			if ((r = check_len(dwLength, CCID_T1_PARAMS_LEN, diag,
					   "dwLength 7 for T=1 parameters")) < 0)
				return r;
			if ((r = check_t1_params(data, diag)) < 0)
				return r;
			break;
		default:
			return ccid_fail(diag, CCID_OFF_B7, "bProtocolNum 00 (T=0) or 01 (T=1)", -EBADMSG);
		}
		return check_rfu(hdr, CCID_OFF_B8, diag);
	case CCID_PC_TO_RDR_ICC_CLOCK:
		if ((r = check_len(dwLength, 0, diag, "dwLength 0")) < 0)
			return r;
		if (hdr[CCID_OFF_B7] > CCID_CLOCK_STOP)
			return ccid_fail(diag, CCID_OFF_B7, "bClockCommand 00 or 01", -EBADMSG);
		return check_rfu(hdr, CCID_OFF_B8, diag);
	case CCID_PC_TO_RDR_T0APDU:
		if ((r = check_len(dwLength, 0, diag, "dwLength 0")) < 0)
			return r;
		if (hdr[CCID_OFF_B7] & ~0x03)
			return ccid_fail(diag, CCID_OFF_B7, "bmChanges with bits 7..2 zero", -EBADMSG);
		return 0;
	case CCID_PC_TO_RDR_SECURE:
		if (dwLength < 1)
			return ccid_fail(diag, CCID_OFF_LENGTH, "dwLength of at least 1 (bPINOperation)", -EPROTO);
		/* bPINOperation starts a command, not its continuation (wLevelParameter 2, 3). */
		if (get_le16(hdr + CCID_OFF_B8) <= CCID_CHAIN_BEGIN && data[0] > 0x06)
			return ccid_fail(diag, CCID_OFF_DATA, "bPINOperation 00..06", -EBADMSG);
		return 0;
	case CCID_PC_TO_RDR_MECHANICAL:
		if ((r = check_len(dwLength, 0, diag, "dwLength 0")) < 0)
			return r;
		if (hdr[CCID_OFF_B7] < CCID_MECH_ACCEPT || hdr[CCID_OFF_B7] > CCID_MECH_UNLOCK)
			return ccid_fail(diag, CCID_OFF_B7, "bFunction 01..05", -EBADMSG);
		return check_rfu(hdr, CCID_OFF_B8, diag);
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY:
		if ((r = check_len(dwLength, 8, diag, "dwLength 8 (dwClockFrequency, dwDataRate)")) < 0)
			return r;
		return check_rfu(hdr, CCID_OFF_B7, diag);
	default:
		return ccid_fail(diag, CCID_OFF_TYPE, "a CCID bulk message type", -EBADMSG);
	}
}

static int check_response(const uint8_t *hdr, uint32_t dwLength, struct ccid_diag *diag)
{
	uint8_t bStatus = hdr[CCID_OFF_B7];
	bool ok = CCID_CMD_STATUS(bStatus) == CCID_CMD_OK;

	if (CCID_ICC_STATUS(bStatus) == 3)
		return ccid_fail(diag, CCID_OFF_B7, "bStatus with bmICCStatus 0, 1 or 2", -EBADMSG);
	if (CCID_CMD_STATUS(bStatus) == 3)
		return ccid_fail(diag, CCID_OFF_B7, "bStatus with bmCommandStatus 0, 1 or 2", -EBADMSG);
	if (bStatus & 0x3C)
		return ccid_fail(diag, CCID_OFF_B7, "bStatus with RFU bits 5..2 zero", -EBADMSG);

	switch (hdr[CCID_OFF_TYPE]) {
	case CCID_RDR_TO_PC_DATA_BLOCK:
		switch (hdr[CCID_OFF_B9]) {
		case CCID_CHAIN_BEGIN_END:
		case CCID_CHAIN_BEGIN:
		case CCID_CHAIN_END:
		case CCID_CHAIN_CONTINUE:
			return 0;
		case CCID_CHAIN_EMPTY_NEXT:
			if (dwLength != 0)
				return ccid_fail(diag, CCID_OFF_LENGTH,
						 "dwLength 0 with bChainParameter 10", -EPROTO);
			return 0;
		default:
			return ccid_fail(diag, CCID_OFF_B9, "bChainParameter 00, 01, 02, 03 or 10", -EBADMSG);
		}
	case CCID_RDR_TO_PC_SLOT_STATUS:
		if (dwLength != 0)
			return ccid_fail(diag, CCID_OFF_LENGTH, "dwLength 0 in SlotStatus", -EPROTO);
		if (hdr[CCID_OFF_B9] > 3)
			return ccid_fail(diag, CCID_OFF_B9, "bClockStatus 00..03", -EBADMSG);
		return 0;
	case CCID_RDR_TO_PC_PARAMETERS:
		if (!ok && dwLength == 0)
			return 0;
		switch (hdr[CCID_OFF_B9]) {
		case CCID_PROTOCOL_T0:
			return check_len(dwLength, CCID_T0_PARAMS_LEN, diag, "dwLength 5 for T=0 parameters");
		case CCID_PROTOCOL_T1:
			return check_len(dwLength, CCID_T1_PARAMS_LEN, diag, "dwLength 7 for T=1 parameters");
		case CCID_PROTOCOL_2WIRE:
		case CCID_PROTOCOL_3WIRE:
		case CCID_PROTOCOL_I2C:
			return 0;
		default:
			return ccid_fail(diag, CCID_OFF_B9, "bProtocolNum 00, 01 or 80..82", -EBADMSG);
		}
	case CCID_RDR_TO_PC_ESCAPE:
		return 0;
	case CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY:
		if (!ok && dwLength == 0)
			return 0;
		return check_len(dwLength, 8, diag, "dwLength 8 (dwClockFrequency, dwDataRate)");
	default:
		return ccid_fail(diag, CCID_OFF_TYPE, "a CCID bulk message type", -EBADMSG);
	}
}

/* hdr: the 10 header bytes; data: dwLength bytes (already bounded). */
static int check_message(const uint8_t *hdr, const uint8_t *data, uint32_t dwLength,
			 struct ccid_diag *diag)
{
	if (ccid_is_command(hdr[CCID_OFF_TYPE]))
		return check_command(hdr, data, dwLength, diag);
	if (ccid_is_response(hdr[CCID_OFF_TYPE]))
		return check_response(hdr, dwLength, diag);
	return ccid_fail(diag, CCID_OFF_TYPE, "a CCID bulk message type (61..73, 80..84)", -EBADMSG);
}

static bool has_level_parameter(uint8_t t)
{
	return t == CCID_PC_TO_RDR_XFR_BLOCK || t == CCID_PC_TO_RDR_SECURE;
}

static void header_from_msg(const struct ccid_msg *m, uint8_t *hdr)
{
	hdr[CCID_OFF_TYPE] = m->bMessageType;
	put_le32(hdr + CCID_OFF_LENGTH, m->dwLength);
	hdr[CCID_OFF_SLOT] = m->bSlot;
	hdr[CCID_OFF_SEQ] = m->bSeq;
	if (has_level_parameter(m->bMessageType)) {
		hdr[CCID_OFF_B7] = m->xfr.bBWI;
		put_le16(hdr + CCID_OFF_B8, m->xfr.wLevelParameter);
	} else {
		memcpy(hdr + CCID_OFF_B7, m->raw, 3);
	}
}

int ccid_msg_decode(const uint8_t *buf, size_t len, struct ccid_msg *ret, struct ccid_diag *diag)
{
	struct ccid_msg m = { 0 };
	uint32_t dwLength;
	int r;

	if (!buf || !ret)
		return ccid_fail(diag, 0, "a message", -EINVAL);
	if (len < CCID_HEADER_SIZE)
		return ccid_fail(diag, len, "the 10-byte message header", -ENODATA);
	if (!ccid_is_command(buf[0]) && !ccid_is_response(buf[0]))
		return ccid_fail(diag, CCID_OFF_TYPE, "a CCID bulk message type (61..73, 80..84)", -EBADMSG);
	dwLength = get_le32(buf + CCID_OFF_LENGTH);
	if (dwLength > CCID_MAX_DATA_LENGTH)
		return ccid_fail(diag, CCID_OFF_LENGTH, "dwLength of at most 65544", -EMSGSIZE);
	if (len - CCID_HEADER_SIZE < dwLength)
		return ccid_fail(diag, len, "as many data bytes as dwLength announces", -ENODATA);
	if (len - CCID_HEADER_SIZE > dwLength)
		return ccid_fail(diag, CCID_HEADER_SIZE + dwLength,
				 "the end of the message (dwLength is shorter)", -EMSGSIZE);
	r = check_message(buf, buf + CCID_HEADER_SIZE, dwLength, diag);
	if (r < 0)
		return r;

	m.bMessageType = buf[CCID_OFF_TYPE];
	m.dwLength = dwLength;
	m.bSlot = buf[CCID_OFF_SLOT];
	m.bSeq = buf[CCID_OFF_SEQ];
	if (has_level_parameter(m.bMessageType)) {
		m.xfr.bBWI = buf[CCID_OFF_B7];
		m.xfr.wLevelParameter = get_le16(buf + CCID_OFF_B8);
	} else {
		memcpy(m.raw, buf + CCID_OFF_B7, 3);
	}
	m.abData = dwLength ? buf + CCID_HEADER_SIZE : NULL;
	*ret = m;
	return 0;
}

int ccid_msg_validate(const struct ccid_msg *msg, struct ccid_diag *diag)
{
	uint8_t hdr[CCID_HEADER_SIZE];

	if (!msg)
		return ccid_fail(diag, 0, "a message", -EINVAL);
	if (msg->dwLength > CCID_MAX_DATA_LENGTH)
		return ccid_fail(diag, CCID_OFF_LENGTH, "dwLength of at most 65544", -EMSGSIZE);
	if (msg->dwLength && !msg->abData)
		return ccid_fail(diag, CCID_OFF_DATA, "abData for a non-zero dwLength", -EINVAL);
	header_from_msg(msg, hdr);
	return check_message(hdr, msg->abData, msg->dwLength, diag);
}

ssize_t ccid_msg_encode(const struct ccid_msg *msg, uint8_t *buf, size_t cap)
{
	int r;

	r = ccid_msg_validate(msg, NULL);
	if (r < 0)
		return r;
	if (!buf || cap < CCID_HEADER_SIZE + (size_t)msg->dwLength)
		return -ENOBUFS;
	header_from_msg(msg, buf);
	if (msg->dwLength)
		memmove(buf + CCID_HEADER_SIZE, msg->abData, msg->dwLength);
	return (ssize_t)(CCID_HEADER_SIZE + msg->dwLength);
}
