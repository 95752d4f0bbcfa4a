/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB CCID bulk and interrupt messages (CCID 1.1 §6): encode and decode every
 * PC_to_RDR command and RDR_to_PC response, the two interrupt-IN messages,
 * and names and explanations for bStatus / bError.  Both directions are
 * served by the same code: the driver encodes commands and decodes responses,
 * the virtual reader decodes commands and encodes responses.
 */
#ifndef CCID_MESSAGE_H
#define CCID_MESSAGE_H

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

/* Every bulk message starts with a 10-byte header (CCID §6.1, §6.2). */
#define CCID_HEADER_SIZE 10
/*
 * Largest abData any reader may declare: dwMaxCCIDMessageLength is at most
 * 65544 + 10 for extended-APDU readers (CCID §5.1); nothing longer is accepted.
 */
#define CCID_MAX_DATA_LENGTH 65544u
#define CCID_MAX_MESSAGE_LENGTH (CCID_HEADER_SIZE + CCID_MAX_DATA_LENGTH)

/* Header offsets, shared by both directions. */
enum {
	CCID_OFF_TYPE = 0,
	CCID_OFF_LENGTH = 1,
	CCID_OFF_SLOT = 5,
	CCID_OFF_SEQ = 6,
	CCID_OFF_B7 = 7,  /* message-specific / bStatus */
	CCID_OFF_B8 = 8,  /* message-specific / bError */
	CCID_OFF_B9 = 9,  /* message-specific */
	CCID_OFF_DATA = 10,
};

enum ccid_msg_type {
	/* PC_to_RDR, bulk-OUT (CCID §6.1) */
	CCID_PC_TO_RDR_SET_PARAMETERS = 0x61,
	CCID_PC_TO_RDR_ICC_POWER_ON = 0x62,
	CCID_PC_TO_RDR_ICC_POWER_OFF = 0x63,
	CCID_PC_TO_RDR_GET_SLOT_STATUS = 0x65,
	CCID_PC_TO_RDR_SECURE = 0x69,
	CCID_PC_TO_RDR_T0APDU = 0x6A,
	CCID_PC_TO_RDR_ESCAPE = 0x6B,
	CCID_PC_TO_RDR_GET_PARAMETERS = 0x6C,
	CCID_PC_TO_RDR_RESET_PARAMETERS = 0x6D,
	CCID_PC_TO_RDR_ICC_CLOCK = 0x6E,
	CCID_PC_TO_RDR_XFR_BLOCK = 0x6F,
	CCID_PC_TO_RDR_MECHANICAL = 0x71,
	CCID_PC_TO_RDR_ABORT = 0x72,
	CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY = 0x73,
	/* RDR_to_PC, bulk-IN (CCID §6.2) */
	CCID_RDR_TO_PC_DATA_BLOCK = 0x80,
	CCID_RDR_TO_PC_SLOT_STATUS = 0x81,
	CCID_RDR_TO_PC_PARAMETERS = 0x82,
	CCID_RDR_TO_PC_ESCAPE = 0x83,
	CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY = 0x84,
	/* RDR_to_PC, interrupt-IN (CCID §6.3) */
	CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE = 0x50,
	CCID_RDR_TO_PC_HARDWARE_ERROR = 0x51,
};

/* bStatus (CCID §6.2.6): bits 1..0 bmICCStatus, bits 7..6 bmCommandStatus. */
enum ccid_icc_status {
	CCID_ICC_ACTIVE = 0,
	CCID_ICC_INACTIVE = 1,
	CCID_ICC_ABSENT = 2,
};

enum ccid_cmd_status {
	CCID_CMD_OK = 0,
	CCID_CMD_FAILED = 1,
	CCID_CMD_TIME_EXTENSION = 2,
};

#define CCID_STATUS(cmd, icc) ((uint8_t)(((cmd) << 6) | (icc)))
#define CCID_ICC_STATUS(bStatus) ((bStatus) & 0x03)
#define CCID_CMD_STATUS(bStatus) (((bStatus) >> 6) & 0x03)

/* bError (CCID §6.2.6, table 6.2-2); 0x01..0x7F is the offset of a bad parameter. */
enum ccid_error {
	CCID_ERR_CMD_NOT_SUPPORTED = 0x00,
	CCID_ERR_CMD_SLOT_BUSY = 0xE0,
	CCID_ERR_PIN_CANCELLED = 0xEF,
	CCID_ERR_PIN_TIMEOUT = 0xF0,
	CCID_ERR_BUSY_WITH_AUTO_SEQUENCE = 0xF2,
	CCID_ERR_DEACTIVATED_PROTOCOL = 0xF3,
	CCID_ERR_PROCEDURE_BYTE_CONFLICT = 0xF4,
	CCID_ERR_ICC_CLASS_NOT_SUPPORTED = 0xF5,
	CCID_ERR_ICC_PROTOCOL_NOT_SUPPORTED = 0xF6,
	CCID_ERR_BAD_ATR_TCK = 0xF7,
	CCID_ERR_BAD_ATR_TS = 0xF8,
	CCID_ERR_HW_ERROR = 0xFB,
	CCID_ERR_XFR_OVERRUN = 0xFC,
	CCID_ERR_XFR_PARITY_ERROR = 0xFD,
	CCID_ERR_ICC_MUTE = 0xFE,
	CCID_ERR_CMD_ABORTED = 0xFF,
};

enum ccid_power_select {
	CCID_POWER_AUTO = 0x00,
	CCID_POWER_5V = 0x01,
	CCID_POWER_3V = 0x02,
	CCID_POWER_1V8 = 0x03,
};

enum ccid_mechanical_function {
	CCID_MECH_ACCEPT = 0x01,
	CCID_MECH_EJECT = 0x02,
	CCID_MECH_CAPTURE = 0x03,
	CCID_MECH_LOCK = 0x04,
	CCID_MECH_UNLOCK = 0x05,
};

enum ccid_clock_command {
	CCID_CLOCK_RESTART = 0x00,
	CCID_CLOCK_STOP = 0x01,
};

/* wLevelParameter (XfrBlock, extended APDU level) and bChainParameter (DataBlock), CCID §6.1.4, §6.2.1. */
enum ccid_chain {
	CCID_CHAIN_BEGIN_END = 0x00,
	CCID_CHAIN_BEGIN = 0x01,
	CCID_CHAIN_END = 0x02,
	CCID_CHAIN_CONTINUE = 0x03,
	CCID_CHAIN_EMPTY_NEXT = 0x10,
};

/* bProtocolNum of SetParameters / Parameters (CCID §6.1.7). */
enum ccid_protocol_num {
	CCID_PROTOCOL_T0 = 0x00,
	CCID_PROTOCOL_T1 = 0x01,
	CCID_PROTOCOL_2WIRE = 0x80,
	CCID_PROTOCOL_3WIRE = 0x81,
	CCID_PROTOCOL_I2C = 0x82,
};

#define CCID_T0_PARAMS_LEN 5
#define CCID_T1_PARAMS_LEN 7

/*
 * One bulk message.  Header bytes 7..9 carry a different meaning per type;
 * the union names them with the spec's spelling.  abData points into the
 * decoded buffer (decode) or at the caller's data (encode) and is dwLength
 * bytes long.
 */
struct ccid_msg {
	uint8_t bMessageType;
	uint32_t dwLength;
	uint8_t bSlot;
	uint8_t bSeq;
	union {
		uint8_t raw[3];                          /* bytes 7..9 as on the wire */
		struct { uint8_t bPowerSelect; } power_on;
		struct { uint8_t bBWI; uint16_t wLevelParameter; } xfr; /* XfrBlock, Secure */
		struct { uint8_t bProtocolNum; } set_params;
		struct { uint8_t bClockCommand; } clock;
		struct { uint8_t bmChanges, bClassGetResponse, bClassEnvelope; } t0apdu;
		struct { uint8_t bFunction; } mechanical;
		/* every RDR_to_PC: b9 is bChainParameter, bClockStatus, bProtocolNum or RFU */
		struct { uint8_t bStatus, bError, b9; } rsp;
	};
	const uint8_t *abData;
};

/* Is this a PC_to_RDR bulk message type?  An RDR_to_PC bulk one? */
bool ccid_is_command(uint8_t bMessageType);
bool ccid_is_response(uint8_t bMessageType);

/* "PC_to_RDR_XfrBlock" etc., or NULL for an unknown type. */
const char *ccid_msg_type_name(uint8_t bMessageType);

/*
 * The response type the reader must answer a command with (CCID §6.1 table
 * 6.1-1), or 0 if bMessageType is not a command.
 */
uint8_t ccid_response_type(uint8_t bMessageType);

/*
 * How long a whole message is, from its first bytes: for a stream or USB
 * transfer reassembler that must know when a message is complete.
 * Returns CCID_HEADER_SIZE + dwLength (> 0), or
 *   -ENODATA   fewer than CCID_HEADER_SIZE bytes
 *   -EMSGSIZE  dwLength above CCID_MAX_DATA_LENGTH
 */
ssize_t ccid_msg_total_length(const uint8_t *buf, size_t len);

/*
 * Decode one bulk message (either direction) occupying exactly buf[0..len).
 * Checks: the type is a known bulk message; dwLength is within
 * CCID_MAX_DATA_LENGTH and equals the bytes that follow; the per-type rules
 * of CCID §6 (fixed dwLength of commands without data, RFU bytes zero in
 * commands, 5 or 7 bytes of parameters by bProtocolNum, dwLength 0 in
 * SlotStatus, bmICCStatus and bmCommandStatus not RFU, bChainParameter one of
 * the five defined values, no data in a failed response ...).  For a command,
 * diag->offset is then exactly the index a reader reports in bError.
 * Returns 0, or -EINVAL, -ENODATA (truncated), -EMSGSIZE (trailing bytes,
 * dwLength too large), -EBADMSG (unknown type, RFU value), -EPROTO
 * (dwLength inconsistent with the type or its parameters).
 */
int ccid_msg_decode(const uint8_t *buf, size_t len, struct ccid_msg *ret, struct ccid_diag *diag);

/*
 * Check a message against the same rules as ccid_msg_decode without encoding
 * it (a test for what the caller is about to send).
 * Returns 0 or the errors of ccid_msg_decode.
 */
int ccid_msg_validate(const struct ccid_msg *msg, struct ccid_diag *diag);

/*
 * Encode msg into buf.  The message must pass ccid_msg_validate: a driver
 * never puts a malformed command on the wire.
 * Returns the length written, or -ENOBUFS (buf too small), or the errors of
 * ccid_msg_validate.
 */
ssize_t ccid_msg_encode(const struct ccid_msg *msg, uint8_t *buf, size_t cap);

/* Explain a decoded message field by field. */
void ccid_msg_describe(const struct ccid_msg *msg, ccid_emit_fn emit, void *ctx);

/* Names and one-line explanations for bStatus parts and bError. */
const char *ccid_icc_status_name(uint8_t bmICCStatus);
const char *ccid_cmd_status_name(uint8_t bmCommandStatus);
/* "CMD_SLOT_BUSY"; "BAD_PARAMETER" for 0x01..0x7F; "VENDOR" for 0x81..0xC0; "RFU" otherwise. */
const char *ccid_error_name(uint8_t bError);
const char *ccid_error_explain(uint8_t bError);

/* ---- Interrupt-IN messages (CCID §6.3) ---- */

#define CCID_MAX_SLOTS 256   /* bMaxSlotIndex is one byte */
#define CCID_NOTIFY_MAX_LEN (1 + (2 * CCID_MAX_SLOTS + 7) / 8)
#define CCID_HARDWARE_ERROR_LEN 4
#define CCID_HW_ERROR_OVERCURRENT 0x01

/* Length of RDR_to_PC_NotifySlotChange for a reader with nslots slots. */
static inline size_t ccid_notify_len(unsigned nslots)
{
	return 1 + (2 * (size_t)nslots + 7) / 8;
}

struct ccid_intr_msg {
	uint8_t bMessageType;
	union {
		struct {
			unsigned nslots;                          /* slots covered by the message */
			uint8_t bmSlotICCState[CCID_NOTIFY_MAX_LEN - 1];
		} notify;
		struct { uint8_t bSlot, bSeq, bHardwareErrorCode; } hw_error;
	};
};

/*
 * Decode an interrupt-IN message.  nslots is the reader's slot count
 * (bMaxSlotIndex + 1); the NotifySlotChange length must then be exactly
 * ccid_notify_len(nslots).  With nslots = 0 (unknown, e.g. a message given on
 * the command line) the slot count is taken from the length: 4 per byte.
 * HardwareError is always 4 bytes.
 * Returns 0, or -EINVAL (nslots > 256), -ENODATA, -EMSGSIZE, -EBADMSG
 * (unknown type, bSlot beyond nslots).
 */
int ccid_intr_decode(const uint8_t *buf, size_t len, unsigned nslots, struct ccid_intr_msg *ret,
		     struct ccid_diag *diag);

/* Encode; returns the length, -ENOBUFS, or -EINVAL (bad type or nslots). */
ssize_t ccid_intr_encode(const struct ccid_intr_msg *msg, uint8_t *buf, size_t cap);

/* Slot state in a NotifySlotChange: bit 2n present, bit 2n+1 changed. */
static inline bool ccid_notify_present(const struct ccid_intr_msg *m, unsigned slot)
{
	return slot < m->notify.nslots && (m->notify.bmSlotICCState[slot / 4] >> (2 * (slot % 4))) & 1;
}

static inline bool ccid_notify_changed(const struct ccid_intr_msg *m, unsigned slot)
{
	return slot < m->notify.nslots && (m->notify.bmSlotICCState[slot / 4] >> (2 * (slot % 4) + 1)) & 1;
}

/* Set slot's bits in a NotifySlotChange being built; slot must be < nslots. */
void ccid_notify_set(struct ccid_intr_msg *m, unsigned slot, bool present, bool changed);

void ccid_intr_describe(const struct ccid_intr_msg *msg, ccid_emit_fn emit, void *ctx);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
