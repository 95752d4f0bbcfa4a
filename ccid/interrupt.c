/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The interrupt-IN messages RDR_to_PC_NotifySlotChange and
 * RDR_to_PC_HardwareError (CCID 1.1 §6.3).  NotifySlotChange packs two bits
 * per slot, four slots per byte, slot 0 in the least significant bits.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/message.h"

int ccid_intr_decode(const uint8_t *buf, size_t len, unsigned nslots, struct ccid_intr_msg *ret,
		     struct ccid_diag *diag)
{
	struct ccid_intr_msg m = { 0 };
	size_t want;

	if (!buf || !ret || nslots > CCID_MAX_SLOTS)
		return ccid_fail(diag, 0, "a message and at most 256 slots", -EINVAL);
	if (len < 1)
		return ccid_fail(diag, 0, "bMessageType", -ENODATA);
	m.bMessageType = buf[0];
	switch (buf[0]) {
	case CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE:
		if (nslots == 0) {
			if (len < 2)
				return ccid_fail(diag, len, "bmSlotICCState", -ENODATA);
			if (len > CCID_NOTIFY_MAX_LEN)
				return ccid_fail(diag, CCID_NOTIFY_MAX_LEN,
						 "the end of the message (256 slots at most)", -EMSGSIZE);
			nslots = (unsigned)(len - 1) * 4;
		}
		want = ccid_notify_len(nslots);
		if (len < want)
			return ccid_fail(diag, len, "bmSlotICCState for every slot", -ENODATA);
		if (len > want)
			return ccid_fail(diag, want, "the end of the message", -EMSGSIZE);
		m.notify.nslots = nslots;
		memcpy(m.notify.bmSlotICCState, buf + 1, want - 1);
		break;
	case CCID_RDR_TO_PC_HARDWARE_ERROR:
		if (len < CCID_HARDWARE_ERROR_LEN)
			return ccid_fail(diag, len, "the 4-byte HardwareError message", -ENODATA);
		if (len > CCID_HARDWARE_ERROR_LEN)
			return ccid_fail(diag, CCID_HARDWARE_ERROR_LEN, "the end of the message", -EMSGSIZE);
		if (nslots && buf[1] >= nslots)
			return ccid_fail(diag, 1, "bSlot of an existing slot", -EBADMSG);
		m.hw_error.bSlot = buf[1];
		m.hw_error.bSeq = buf[2];
		m.hw_error.bHardwareErrorCode = buf[3];
		break;
	default:
		return ccid_fail(diag, 0, "an interrupt message type (50 or 51)", -EBADMSG);
	}
	*ret = m;
	return 0;
}

ssize_t ccid_intr_encode(const struct ccid_intr_msg *m, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!m)
		return -EINVAL;
	switch (m->bMessageType) {
	case CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE:
		if (m->notify.nslots == 0 || m->notify.nslots > CCID_MAX_SLOTS)
			return -EINVAL;
		n = ccid_notify_len(m->notify.nslots);
		if (!buf || cap < n)
			return -ENOBUFS;
		buf[0] = m->bMessageType;
		memcpy(buf + 1, m->notify.bmSlotICCState, n - 1);
		return (ssize_t)n;
	case CCID_RDR_TO_PC_HARDWARE_ERROR:
		if (!buf || cap < CCID_HARDWARE_ERROR_LEN)
			return -ENOBUFS;
		buf[0] = m->bMessageType;
		buf[1] = m->hw_error.bSlot;
		buf[2] = m->hw_error.bSeq;
		buf[3] = m->hw_error.bHardwareErrorCode;
		return CCID_HARDWARE_ERROR_LEN;
	default:
		return -EINVAL;
	}
}

void ccid_notify_set(struct ccid_intr_msg *m, unsigned slot, bool present, bool changed)
{
	uint8_t *b;
	unsigned shift = 2 * (slot % 4);

	if (slot >= m->notify.nslots)
		return;
	b = &m->notify.bmSlotICCState[slot / 4];
	*b = (uint8_t)((*b & ~(3u << shift)) | ((unsigned)present << shift) | ((unsigned)changed << (shift + 1)));
}
