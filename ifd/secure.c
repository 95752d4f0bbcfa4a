/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry on the reader's keypad: FEATURE_VERIFY_PIN_DIRECT and
 * FEATURE_MODIFY_PIN_DIRECT (PC/SC part 10 §2.5.2, 2.5.3) carried to the
 * reader as PC_to_RDR_Secure (CCID §6.1.11).  The part 10 structures are
 * the CCID PIN verification / modification data structures with two extra
 * fields, bTimerOut2 (after bTimeOut) and ulDataLength (before the APDU),
 * which the reader never sees.  Only where the reader does the APDU
 * framing itself (APDU levels, or TPDU with T=0); a T=1 TPDU reader would
 * need the host's T=1 block around the PIN APDU.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

/* part 10 header sizes, up to and including ulDataLength */
#define VERIFY_HEAD 19
#define MODIFY_HEAD 24

bool ifd_secure_possible(struct ifd_reader *rd, unsigned slot, bool modify)
{
	struct uccid_slot_status st;

	if (!(rd->info.pin_support & (modify ? CCID_PIN_MODIFY : CCID_PIN_VERIFY)))
		return false;
	if (rd->info.exchange_level != CCID_LEVEL_TPDU)
		return true;
	/* TPDU: only when the card runs T=0 (or not yet known: the call checks again) */
	if (uccid_slot_status(rd->r, slot, &st) < 0 || !st.powered)
		return true;
	return st.protocol == CCID_PROTOCOL_T0;
}

/*
 * Part 10 structure -> abData of PC_to_RDR_Secure (bPINOperation first).
 * Returns the length written, or -EINVAL when lengths disagree.
 */
static ssize_t to_ccid(bool modify, const uint8_t *tx, size_t txlen, uint8_t *out, size_t cap)
{
	size_t head = modify ? MODIFY_HEAD : VERIFY_HEAD, apdu, n = 0;

	if (txlen < head)
		return -EINVAL;
	apdu = ifd_get_le32(tx + head - 4);
	if (apdu != txlen - head || apdu < 4)
		return -EINVAL;
	if (1 + (head - 5) + apdu > cap)
		return -EMSGSIZE;
	out[n++] = modify ? 1 : 0;              /* bPINOperation: verify 0, modify 1 */
	out[n++] = tx[0];                       /* bTimeOut; bTimerOut2 dropped */
	memcpy(out + n, tx + 2, head - 6);      /* bmFormatString .. bTeoPrologue */
	n += head - 6;
	memcpy(out + n, tx + head, apdu);       /* abPINApdu; ulDataLength dropped */
	return (ssize_t)(n + apdu);
}

int ifd_secure(struct ifd_reader *rd, unsigned slot, bool modify, const uint8_t *tx, size_t txlen, uint8_t *rx,
	       size_t rxcap)
{
	uint8_t msg[CCID_HEADER_SIZE + 300], ans[CCID_HEADER_SIZE + 300];
	struct ccid_msg m;
	ssize_t n, got;

	if (!ifd_secure_possible(rd, slot, modify))
		return -ENOTSUP;
	n = to_ccid(modify, tx, txlen, msg + CCID_HEADER_SIZE, sizeof(msg) - CCID_HEADER_SIZE);
	if (n < 0)
		return (int)n;
	if ((size_t)n + CCID_HEADER_SIZE > rd->info.max_message)
		return -EMSGSIZE;
	memset(msg, 0, CCID_HEADER_SIZE);
	msg[CCID_OFF_TYPE] = CCID_PC_TO_RDR_SECURE;
	msg[CCID_OFF_LENGTH] = (uint8_t)n;
	msg[CCID_OFF_LENGTH + 1] = (uint8_t)(n >> 8);
	/* bBWI 0, wLevelParameter 0: the whole structure in one message */
	got = uccid_ccid_command(rd->r, slot, msg, (size_t)n + CCID_HEADER_SIZE, ans, sizeof(ans),
				 ifd_config.deadline_ms ? ifd_config.deadline_ms : 60000);
	if (got < 0)
		return (int)got;
	if (ccid_msg_decode(ans, (size_t)got, &m, NULL) < 0 || m.bMessageType != CCID_RDR_TO_PC_DATA_BLOCK)
		return -EPROTO;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED) {
		/* part 10: a cancelled or timed-out entry is a status word, not an error */
		uint8_t sw2;

		if (m.rsp.bError == CCID_ERR_PIN_TIMEOUT)
			sw2 = 0x00;
		else if (m.rsp.bError == CCID_ERR_PIN_CANCELLED)
			sw2 = 0x01;
		else {
			ifd_log(IFD_LOG_WARNING, "%s: Secure failed: bError %02X (%s)", rd->name, m.rsp.bError,
				ccid_error_name(m.rsp.bError));
			if (CCID_ICC_STATUS(m.rsp.bStatus) == CCID_ICC_ABSENT)
				return -ENOMEDIUM;
			return m.rsp.bError == CCID_ERR_CMD_NOT_SUPPORTED ? -ENOTSUP : -EIO;
		}
		if (rxcap < 2)
			return -EMSGSIZE;
		rx[0] = 0x64;
		rx[1] = sw2;
		return 2;
	}
	if (m.dwLength > rxcap)
		return -EMSGSIZE;
	if (m.dwLength)                 /* abData is NULL for an empty answer */
		memcpy(rx, m.abData, m.dwLength);
	return (int)m.dwLength;
}
