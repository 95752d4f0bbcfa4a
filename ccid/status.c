/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names and one-line explanations for the bStatus and bError bytes of every
 * RDR_to_PC message (CCID 1.1 §6.2.6, tables 6.2-1 and 6.2-2).
 */
#include "config.h"

#include "ccid/message.h"

const char *ccid_icc_status_name(uint8_t s)
{
	switch (s & 0x03) {
	case CCID_ICC_ACTIVE: return "ICC present and active";
	case CCID_ICC_INACTIVE: return "ICC present and inactive";
	case CCID_ICC_ABSENT: return "no ICC present";
	default: return "RFU";
	}
}

const char *ccid_cmd_status_name(uint8_t s)
{
	switch (s & 0x03) {
	case CCID_CMD_OK: return "processed without error";
	case CCID_CMD_FAILED: return "failed (bError gives the reason)";
	case CCID_CMD_TIME_EXTENSION: return "time extension requested";
	default: return "RFU";
	}
}

struct error_info {
	uint8_t code;
	const char *name;
	const char *explain;
};

static const struct error_info errors[] = {
	{ CCID_ERR_CMD_ABORTED, "CMD_ABORTED", "the host aborted the command" },
	{ CCID_ERR_ICC_MUTE, "ICC_MUTE", "the card did not answer in time, or no card is present" },
	{ CCID_ERR_XFR_PARITY_ERROR, "XFR_PARITY_ERROR", "parity error talking to the card" },
	{ CCID_ERR_XFR_OVERRUN, "XFR_OVERRUN", "overrun talking to the card" },
	{ CCID_ERR_HW_ERROR, "HW_ERROR", "the reader detected a hardware error" },
	{ CCID_ERR_BAD_ATR_TS, "BAD_ATR_TS", "the card's ATR had an invalid TS byte" },
	{ CCID_ERR_BAD_ATR_TCK, "BAD_ATR_TCK", "the card's ATR had a wrong TCK checksum" },
	{ CCID_ERR_ICC_PROTOCOL_NOT_SUPPORTED, "ICC_PROTOCOL_NOT_SUPPORTED",
	  "the card's protocol is not supported by the reader" },
	{ CCID_ERR_ICC_CLASS_NOT_SUPPORTED, "ICC_CLASS_NOT_SUPPORTED",
	  "the card's voltage class is not supported by the reader" },
	{ CCID_ERR_PROCEDURE_BYTE_CONFLICT, "PROCEDURE_BYTE_CONFLICT",
	  "the card sent an unexpected T=0 procedure byte" },
	{ CCID_ERR_DEACTIVATED_PROTOCOL, "DEACTIVATED_PROTOCOL", "the protocol is deactivated" },
	{ CCID_ERR_BUSY_WITH_AUTO_SEQUENCE, "BUSY_WITH_AUTO_SEQUENCE",
	  "the reader is busy with an automatic sequence (e.g. card activation)" },
	{ CCID_ERR_PIN_TIMEOUT, "PIN_TIMEOUT", "no PIN was entered on the PIN pad in time" },
	{ CCID_ERR_PIN_CANCELLED, "PIN_CANCELLED", "the user cancelled PIN entry" },
	{ CCID_ERR_CMD_SLOT_BUSY, "CMD_SLOT_BUSY", "the slot is already processing a command" },
	{ CCID_ERR_CMD_NOT_SUPPORTED, "CMD_NOT_SUPPORTED", "the reader does not support this command" },
};

static const struct error_info *find_error(uint8_t code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return &errors[i];
	return NULL;
}

const char *ccid_error_name(uint8_t e)
{
	const struct error_info *info = find_error(e);

	if (info)
		return info->name;
	if (e >= 0x01 && e <= 0x7F)
		return "BAD_PARAMETER";
	if (e >= 0x81 && e <= 0xC0)
		return "VENDOR";
	return "RFU";
}

const char *ccid_error_explain(uint8_t e)
{
	const struct error_info *info = find_error(e);

	if (info)
		return info->explain;
	if (e >= 0x01 && e <= 0x7F)
		return "the command had a bad or unsupported parameter at this byte offset";
	if (e >= 0x81 && e <= 0xC0)
		return "a vendor-defined error";
	return "a reserved error code";
}
