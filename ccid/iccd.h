/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB ICCD (Integrated Circuit(s) Card Devices, rev 1.0): the class requests
 * a USB token with a smart-card interface of bInterfaceProtocol 1 (version A)
 * or 2 (version B) exchanges on the control pipe instead of CCID's bulk
 * messages, and the answers they carry.  One slot, no PC_to_RDR header.
 *
 * Version A works T=0-like: the host sends a command header, then data, or
 * reads data; GET_ICC_STATUS says what the token expects next (a header,
 * data, or its status bytes) or that it is busy.  Version B carries whole
 * APDUs, chained by a level parameter with the values of CCID's
 * wLevelParameter (§6.1.4) in wValue's high byte (libccid sends it so, and
 * the tokens in the field take it), and
 * each DATA_BLOCK answer starts with bResponseType: data (with the chain
 * position), status information (bStatus, bError as in CCID §6.2.6) or
 * "poll again after wDelayTime".
 *
 * Request codes and roles (bmRequestType 0x21 host to device, 0xA1 device to
 * host; class request to the interface, wIndex = bInterfaceNumber):
 *
 *   request         code  version A                 version B
 *   ICC_POWER_ON    62h   IN: the ATR               OUT (wValue 0001h); ATR by DATA_BLOCK
 *   ICC_POWER_OFF   63h   OUT                       OUT
 *   XFR_BLOCK       65h   OUT: header or data       OUT: APDU part, wValue = level << 8
 *   DATA_BLOCK      6Fh   IN: data or SW1 SW2       IN: bResponseType + data (wLength >= 4)
 *   SLOT_STATUS     81h   -                         IN: 40h bStatus bError
 *   GET_ICC_STATUS  A0h   IN: one status byte       -
 */
#ifndef CCID_ICCD_H
#define CCID_ICCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define CCID_ICCD_VERSION_A 1          /* = bInterfaceProtocol */
#define CCID_ICCD_VERSION_B 2

#define CCID_ICCD_REQTYPE_OUT 0x21     /* class, interface, host to device */
#define CCID_ICCD_REQTYPE_IN 0xA1      /* class, interface, device to host */

enum ccid_iccd_request {
	CCID_ICCD_ICC_POWER_ON = 0x62,
	CCID_ICCD_ICC_POWER_OFF = 0x63,
	CCID_ICCD_XFR_BLOCK = 0x65,
	CCID_ICCD_DATA_BLOCK = 0x6F,
	CCID_ICCD_SLOT_STATUS = 0x81,      /* version B */
	CCID_ICCD_GET_ICC_STATUS = 0xA0,   /* version A */
};

/* Version B: ICC_POWER_ON's wValue (libccid and the tokens in the field use 1). */
#define CCID_ICCD_B_POWER_ON_VALUE 0x0001
/* Version B: a DATA_BLOCK request asks for at least this many bytes (status information is 3). */
#define CCID_ICCD_B_DATA_MIN 4
/* Version B: wDelayTime is in units of 10 ms; 0 leaves the interval to the host. */
#define CCID_ICCD_B_DELAY_UNIT_MS 10
/* Version B: XFR_BLOCK's wValue for a level parameter (0, 1, 2, 3, 10h as CCID §6.1.4). */
#define CCID_ICCD_B_LEVEL(level) ((uint16_t)((level) << 8))

/* A SETUP packet (USB 2.0 §9.3) of an ICCD request. */
struct ccid_iccd_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;                   /* bInterfaceNumber */
	uint16_t wLength;
};

/* "ICC_POWER_ON", ...; "unknown" for other codes. */
const char *ccid_iccd_request_name(uint8_t bRequest);

/*
 * The SETUP packet of request for the given version (CCID_ICCD_VERSION_*),
 * checked by the table above: direction, wValue (0 but for version B's
 * ICC_POWER_ON and XFR_BLOCK's level parameter), and wLength (0 for OUT
 * requests without data; 1..n for GET_ICC_STATUS, >= 4 for version B's
 * DATA_BLOCK, 3 for SLOT_STATUS).  Returns 0, or -EINVAL for a request the
 * version does not have or values it forbids.
 */
int ccid_iccd_setup_make(uint8_t version, uint8_t request, uint16_t wValue, uint8_t interface, uint16_t wLength,
			 struct ccid_iccd_setup *ret);

/* The 8 wire bytes of a SETUP packet (little-endian words). */
void ccid_iccd_setup_encode(const struct ccid_iccd_setup *s, uint8_t out[8]);

/*
 * A device's view of a SETUP packet: decode and check it as
 * ccid_iccd_setup_make would have made it.  Returns 0, -ENODATA (len < 8),
 * -EBADMSG (not a class request to an interface, a request the version does
 * not have, the wrong direction, a forbidden wValue or wLength; diag names
 * the byte).
 */
int ccid_iccd_setup_decode(uint8_t version, const uint8_t *buf, size_t len, struct ccid_iccd_setup *ret,
			   struct ccid_diag *diag);

/* ---- version A: GET_ICC_STATUS ---- */

/* What a version A token expects next (its status byte without the busy bit). */
enum ccid_iccd_a_state {
	CCID_ICCD_A_READY = 0x00,          /* a command header (XFR_BLOCK of 5 bytes) */
	CCID_ICCD_A_DATA = 0x10,           /* the command's data (XFR_BLOCK) or its response data (DATA_BLOCK) */
	CCID_ICCD_A_SW = 0x20,             /* SW1 SW2 (DATA_BLOCK of 2 bytes) */
	CCID_ICCD_A_MUTE = 0x80,           /* no card answer: absent or mute (libccid: no card); an
					      unpowered card answers as ready */
};
#define CCID_ICCD_A_BUSY 0x40          /* bit 6: still working, ask again */

struct ccid_iccd_a_status {
	bool busy;
	enum ccid_iccd_a_state state;      /* meaningful when !busy */
};

/*
 * Decode GET_ICC_STATUS's answer (the first byte; a token may send more).
 * Returns 0, -ENODATA (empty), -EBADMSG (a value that is none of the above).
 */
int ccid_iccd_a_status_decode(const uint8_t *buf, size_t len, struct ccid_iccd_a_status *ret, struct ccid_diag *diag);
const char *ccid_iccd_a_state_name(enum ccid_iccd_a_state st);

/* ---- version B: DATA_BLOCK and SLOT_STATUS answers ---- */

enum ccid_iccd_b_response {
	CCID_ICCD_B_DATA = 0x00,           /* the data completes the answer (a chain's only part) */
	CCID_ICCD_B_DATA_BEGIN = 0x01,     /* the response begins here and continues */
	CCID_ICCD_B_DATA_END = 0x02,       /* the response ends here */
	CCID_ICCD_B_DATA_CONTINUE = 0x03,  /* the response continues after this part */
	CCID_ICCD_B_DATA_NEXT = 0x10,      /* empty: the token waits for the command's next part */
	CCID_ICCD_B_STATUS = 0x40,         /* status information: bStatus, bError */
	CCID_ICCD_B_POLL = 0x80,           /* not ready: poll again after wDelayTime * 10 ms */
};

struct ccid_iccd_b_answer {
	uint8_t bResponseType;             /* enum ccid_iccd_b_response */
	const uint8_t *abData;             /* data answers: into the input (NULL when empty) */
	size_t len;
	uint8_t bStatus, bError;           /* CCID_ICCD_B_STATUS */
	uint16_t wDelayTime;               /* CCID_ICCD_B_POLL, in 10 ms units */
};

/*
 * Decode a DATA_BLOCK or SLOT_STATUS answer.  Returns 0, -ENODATA (empty, or
 * a status or poll answer shorter than 3 bytes), -EBADMSG (an unknown
 * bResponseType; data in an empty-NEXT answer), -EMSGSIZE (a status or poll
 * answer longer than 3 bytes).
 */
int ccid_iccd_b_answer_decode(const uint8_t *buf, size_t len, struct ccid_iccd_b_answer *ret, struct ccid_diag *diag);

/*
 * Encode an answer (the device's side), checked by the decoder's rules:
 * data answers carry bResponseType then len bytes; STATUS bStatus, bError;
 * POLL wDelayTime.  Returns the length or -ENOBUFS, -EINVAL.
 */
int ccid_iccd_b_answer_encode(const struct ccid_iccd_b_answer *a, uint8_t *out, size_t cap);

const char *ccid_iccd_b_response_name(uint8_t bResponseType);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
