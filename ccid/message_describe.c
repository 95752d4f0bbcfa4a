/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Field-by-field explanation of CCID bulk and interrupt messages, for the
 * uccid tool's decode and trace output (CCID 1.1 §6).
 */
#include "config.h"

#include "ccid/bytes.h"
#include "ccid/field.h"
#include "ccid/message.h"
#include "ccid/timing.h"

#define NO_OFF CCID_FIELD_NO_OFFSET

static const char *power_select_name(uint8_t v)
{
	switch (v) {
	case CCID_POWER_AUTO: return "automatic voltage selection";
	case CCID_POWER_5V: return "5.0 V";
	case CCID_POWER_3V: return "3.0 V";
	case CCID_POWER_1V8: return "1.8 V";
	default: return "RFU";
	}
}

static const char *mechanical_name(uint8_t v)
{
	switch (v) {
	case CCID_MECH_ACCEPT: return "accept card";
	case CCID_MECH_EJECT: return "eject card";
	case CCID_MECH_CAPTURE: return "capture card";
	case CCID_MECH_LOCK: return "lock card";
	case CCID_MECH_UNLOCK: return "unlock card";
	default: return "RFU";
	}
}

static const char *chain_name(uint16_t v)
{
	switch (v) {
	case CCID_CHAIN_BEGIN_END: return "APDU begins and ends in this message";
	case CCID_CHAIN_BEGIN: return "APDU begins here and continues in the next message";
	case CCID_CHAIN_END: return "APDU continues and ends in this message";
	case CCID_CHAIN_CONTINUE: return "APDU continues; more messages follow";
	case CCID_CHAIN_EMPTY_NEXT: return "empty; the next part of the APDU is expected";
	default: return "not a chaining value (character level: bytes expected back)";
	}
}

static const char *clock_status_name(uint8_t v)
{
	switch (v) {
	case 0: return "clock running";
	case 1: return "clock stopped in state L";
	case 2: return "clock stopped in state H";
	case 3: return "clock stopped in an unknown state";
	default: return "RFU";
	}
}

static const char *protocol_num_name(uint8_t v)
{
	switch (v) {
	case CCID_PROTOCOL_T0: return "T=0";
	case CCID_PROTOCOL_T1: return "T=1";
	case CCID_PROTOCOL_2WIRE: return "2-wire synchronous";
	case CCID_PROTOCOL_3WIRE: return "3-wire synchronous";
	case CCID_PROTOCOL_I2C: return "I2C synchronous";
	default: return "RFU";
	}
}

static const char *pin_operation_name(uint8_t v)
{
	static const char *const names[] = {
		"PIN verification", "PIN modification", "transfer PIN from secure buffer",
		"wait for ICC response", "cancel PIN function", "re-send last I-block",
		"send next part of APDU",
	};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "RFU";
}

static const char *clock_stop_name(uint8_t v)
{
	switch (v) {
	case 0: return "clock stop not allowed";
	case 1: return "clock stop with clock low";
	case 2: return "clock stop with clock high";
	case 3: return "clock stop with clock low or high";
	default: return "RFU";
	}
}

static void describe_fidi(uint8_t v, size_t off, ccid_emit_fn emit, void *ctx)
{
	unsigned fi = ccid_fi(v >> 4), di = ccid_di(v & 0x0F);

	if (fi && di)
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bmFindexDindex", off, 1, v,
			  "Fi=%u Di=%u (F/D = %u)", fi, di, fi / di);
	else
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bmFindexDindex", off, 1, v,
			  "RFU Fi or Di index");
}

/* Protocol data structure of SetParameters / Parameters (CCID §6.1.7). */
static void describe_params(uint8_t proto, const uint8_t *d, uint32_t n, ccid_emit_fn emit, void *ctx)
{
	const size_t o = CCID_OFF_DATA;

	if (proto == CCID_PROTOCOL_T0 && n == CCID_T0_PARAMS_LEN) {
		describe_fidi(d[0], o, emit, ctx);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bmTCCKST0", o + 1, 1, d[1], "%s convention",
			  d[1] & 0x02 ? "inverse" : "direct");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bGuardTimeT0", o + 2, 1, d[2],
			  "extra guard time N = %u etu", d[2]);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bWaitingIntegerT0", o + 3, 1, d[3],
			  "WI = %u", d[3]);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClockStop", o + 4, 1, d[4], "%s",
			  clock_stop_name(d[4]));
	} else if (proto == CCID_PROTOCOL_T1 && n == CCID_T1_PARAMS_LEN) {
		describe_fidi(d[0], o, emit, ctx);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bmTCCKST1", o + 1, 1, d[1],
			  "%s checksum, %s convention", d[1] & 0x01 ? "CRC" : "LRC",
			  d[1] & 0x02 ? "inverse" : "direct");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bGuardTimeT1", o + 2, 1, d[2],
			  "extra guard time N = %u etu", d[2]);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bWaitingIntegersT1", o + 3, 1, d[3],
			  "BWI = %u, CWI = %u", d[3] >> 4, d[3] & 0x0F);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClockStop", o + 4, 1, d[4], "%s",
			  clock_stop_name(d[4]));
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bIFSC", o + 5, 1, d[5], "IFSC = %u bytes", d[5]);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bNadValue", o + 6, 1, d[6], "NAD = %02X", d[6]);
	} else if (n) {
		ccid_emit_bytes(emit, ctx, "abProtocolDataStructure", o, d, n, "%s protocol data",
				protocol_num_name(proto));
	}
}

/* dwClockFrequency and dwDataRate of SetDataRateAndClockFrequency and its answer (CCID §6.1.14). */
static void describe_rate(const struct ccid_msg *m, ccid_emit_fn emit, void *ctx)
{
	if (m->dwLength != 8)
		return;
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "dwClockFrequency", CCID_OFF_DATA, 4, get_le32(m->abData), "%u kHz",
		  (unsigned)get_le32(m->abData));
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "dwDataRate", CCID_OFF_DATA + 4, 4, get_le32(m->abData + 4), "%u bps",
		  (unsigned)get_le32(m->abData + 4));
}

static void describe_rfu(const struct ccid_msg *m, unsigned from, ccid_emit_fn emit, void *ctx)
{
	ccid_emit_bytes(emit, ctx, "abRFU", CCID_OFF_B7 + from, m->raw + from, 3 - from, "reserved");
}

static void describe_command(const struct ccid_msg *m, ccid_emit_fn emit, void *ctx)
{
	switch (m->bMessageType) {
	case CCID_PC_TO_RDR_ICC_POWER_ON:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bPowerSelect", CCID_OFF_B7, 1,
			  m->power_on.bPowerSelect, "%s", power_select_name(m->power_on.bPowerSelect));
		describe_rfu(m, 1, emit, ctx);
		break;
	case CCID_PC_TO_RDR_XFR_BLOCK:
	case CCID_PC_TO_RDR_SECURE:
		if (m->xfr.bBWI)
			ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bBWI", CCID_OFF_B7, 1, m->xfr.bBWI,
				  "block waiting time multiplied by %u", m->xfr.bBWI);
		else
			ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bBWI", CCID_OFF_B7, 1, 0,
				  "default block waiting time");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "wLevelParameter", CCID_OFF_B8, 2,
			  m->xfr.wLevelParameter, "%s", chain_name(m->xfr.wLevelParameter));
		if (m->bMessageType == CCID_PC_TO_RDR_SECURE && m->dwLength
		    && m->xfr.wLevelParameter <= CCID_CHAIN_BEGIN) {
			ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bPINOperation", CCID_OFF_DATA, 1,
				  m->abData[0], "%s", pin_operation_name(m->abData[0]));
			if (m->dwLength > 1)
				ccid_emit_bytes(emit, ctx, "abPINDataStructure", CCID_OFF_DATA + 1,
						m->abData + 1, m->dwLength - 1, NULL);
			return;
		}
		if (m->dwLength)
			ccid_emit_bytes(emit, ctx, "abData", CCID_OFF_DATA, m->abData, m->dwLength,
					"%u bytes to the card", (unsigned)m->dwLength);
		return;
	case CCID_PC_TO_RDR_SET_PARAMETERS:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bProtocolNum", CCID_OFF_B7, 1,
			  m->set_params.bProtocolNum, "%s", protocol_num_name(m->set_params.bProtocolNum));
		describe_rfu(m, 1, emit, ctx);
		describe_params(m->set_params.bProtocolNum, m->abData, m->dwLength, emit, ctx);
		return;
	case CCID_PC_TO_RDR_ICC_CLOCK:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClockCommand", CCID_OFF_B7, 1,
			  m->clock.bClockCommand, "%s",
			  m->clock.bClockCommand ? "stop the clock" : "restart the clock");
		describe_rfu(m, 1, emit, ctx);
		break;
	case CCID_PC_TO_RDR_T0APDU:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bmChanges", CCID_OFF_B7, 1, m->t0apdu.bmChanges,
			  "%s%s%s", m->t0apdu.bmChanges & 1 ? "new bClassGetResponse " : "",
			  m->t0apdu.bmChanges & 2 ? "new bClassEnvelope" : "",
			  m->t0apdu.bmChanges & 3 ? "" : "no change");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClassGetResponse", CCID_OFF_B8, 1,
			  m->t0apdu.bClassGetResponse, "%s",
			  m->t0apdu.bClassGetResponse == 0xFF ? "echo the APDU's class" : "class byte");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClassEnvelope", CCID_OFF_B9, 1,
			  m->t0apdu.bClassEnvelope, "%s",
			  m->t0apdu.bClassEnvelope == 0xFF ? "echo the APDU's class" : "class byte");
		break;
	case CCID_PC_TO_RDR_MECHANICAL:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bFunction", CCID_OFF_B7, 1,
			  m->mechanical.bFunction, "%s", mechanical_name(m->mechanical.bFunction));
		describe_rfu(m, 1, emit, ctx);
		break;
	case CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY:
		describe_rfu(m, 0, emit, ctx);
		describe_rate(m, emit, ctx);
		return;
	default: /* commands with three RFU bytes, and Escape */
		describe_rfu(m, 0, emit, ctx);
		break;
	}
	if (m->dwLength)
		ccid_emit_bytes(emit, ctx, "abData", CCID_OFF_DATA, m->abData, m->dwLength,
				m->bMessageType == CCID_PC_TO_RDR_ESCAPE ? "vendor command" : NULL);
}

static void describe_response(const struct ccid_msg *m, ccid_emit_fn emit, void *ctx)
{
	uint8_t s = m->rsp.bStatus, e = m->rsp.bError;

	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bStatus", CCID_OFF_B7, 1, s, "%s; %s",
		  ccid_cmd_status_name(CCID_CMD_STATUS(s)), ccid_icc_status_name(CCID_ICC_STATUS(s)));
	ccid_emit(emit, ctx, CCID_FIELD_FLAG, "bmICCStatus", CCID_OFF_B7, 1, CCID_ICC_STATUS(s), "%s",
		  ccid_icc_status_name(CCID_ICC_STATUS(s)));
	ccid_emit(emit, ctx, CCID_FIELD_FLAG, "bmCommandStatus", CCID_OFF_B7, 1, CCID_CMD_STATUS(s),
		  "%s", ccid_cmd_status_name(CCID_CMD_STATUS(s)));
	switch (CCID_CMD_STATUS(s)) {
	case CCID_CMD_FAILED:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bError", CCID_OFF_B8, 1, e, "%s: %s",
			  ccid_error_name(e), ccid_error_explain(e));
		break;
	case CCID_CMD_TIME_EXTENSION:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bError", CCID_OFF_B8, 1, e,
			  "waiting time multiplier %u", e);
		break;
	default:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bError", CCID_OFF_B8, 1, e, "no error");
		break;
	}

	switch (m->bMessageType) {
	case CCID_RDR_TO_PC_DATA_BLOCK:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bChainParameter", CCID_OFF_B9, 1, m->rsp.b9,
			  "%s", chain_name(m->rsp.b9));
		if (m->dwLength)
			ccid_emit_bytes(emit, ctx, "abData", CCID_OFF_DATA, m->abData, m->dwLength,
					"%u bytes from the card", (unsigned)m->dwLength);
		break;
	case CCID_RDR_TO_PC_SLOT_STATUS:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bClockStatus", CCID_OFF_B9, 1, m->rsp.b9, "%s",
			  clock_status_name(m->rsp.b9));
		break;
	case CCID_RDR_TO_PC_PARAMETERS:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bProtocolNum", CCID_OFF_B9, 1, m->rsp.b9, "%s",
			  protocol_num_name(m->rsp.b9));
		describe_params(m->rsp.b9, m->abData, m->dwLength, emit, ctx);
		break;
	case CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY:
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bRFU", CCID_OFF_B9, 1, m->rsp.b9, "reserved");
		describe_rate(m, emit, ctx);
		break;
	default: /* Escape */
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bRFU", CCID_OFF_B9, 1, m->rsp.b9, "reserved");
		if (m->dwLength)
			ccid_emit_bytes(emit, ctx, "abData", CCID_OFF_DATA, m->abData, m->dwLength,
					"vendor response");
		break;
	}
}

void ccid_msg_describe(const struct ccid_msg *m, ccid_emit_fn emit, void *ctx)
{
	const char *name = ccid_msg_type_name(m->bMessageType);

	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bMessageType", CCID_OFF_TYPE, 1, m->bMessageType, "%s",
		  name ? name : "unknown");
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "dwLength", CCID_OFF_LENGTH, 4, m->dwLength,
		  "%u bytes of abData", (unsigned)m->dwLength);
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bSlot", CCID_OFF_SLOT, 1, m->bSlot, "slot %u", m->bSlot);
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bSeq", CCID_OFF_SEQ, 1, m->bSeq, "sequence number %u",
		  m->bSeq);
	if (ccid_is_command(m->bMessageType))
		describe_command(m, emit, ctx);
	else
		describe_response(m, emit, ctx);
}

void ccid_intr_describe(const struct ccid_intr_msg *m, ccid_emit_fn emit, void *ctx)
{
	const char *name = ccid_msg_type_name(m->bMessageType);

	ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bMessageType", 0, 1, m->bMessageType, "%s",
		  name ? name : "unknown");
	if (m->bMessageType == CCID_RDR_TO_PC_HARDWARE_ERROR) {
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bSlot", 1, 1, m->hw_error.bSlot, "slot %u",
			  m->hw_error.bSlot);
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bSeq", 2, 1, m->hw_error.bSeq,
			  "sequence number of the command in progress");
		ccid_emit(emit, ctx, CCID_FIELD_VALUE, "bHardwareErrorCode", 3, 1,
			  m->hw_error.bHardwareErrorCode, "%s",
			  m->hw_error.bHardwareErrorCode == CCID_HW_ERROR_OVERCURRENT ? "overcurrent"
										       : "RFU");
		return;
	}
	for (unsigned slot = 0; slot < m->notify.nslots; slot++) {
		bool present = ccid_notify_present(m, slot), changed = ccid_notify_changed(m, slot);
		static const char *const names[] = { "slot 0", "slot 1", "slot 2", "slot 3" };

		ccid_emit(emit, ctx, slot % 4 ? CCID_FIELD_FLAG : CCID_FIELD_VALUE,
			  slot % 4 ? names[slot % 4] : "bmSlotICCState", 1 + slot / 4, 1,
			  (m->notify.bmSlotICCState[slot / 4] >> (2 * (slot % 4))) & 3,
			  "slot %u: card %s%s", slot, present ? "present" : "absent",
			  changed ? present ? " (inserted)" : " (removed)" : "");
	}
}
