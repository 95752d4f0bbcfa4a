/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IFD handler API v3 entry points pcscd looks up with dlsym
 * (/usr/include/PCSC/ifdhandler.h; ../shared/docs/reference/ifdhandler.md §2).
 * Each one checks what pcscd passed, turns the Lun into a reader and slot,
 * calls libuccid and turns the result into an IFD_* code; nothing else.
 * Every libuccid call is bounded by the exchange (or power) deadline, so no
 * entry point blocks pcscd longer; a reader that is gone answers
 * IFD_NO_SUCH_DEVICE at once.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

#define EXPORT __attribute__((visibility("default")))

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void config_init(void)
{
	pthread_once(&config_once, ifd_config_load);
}

EXPORT RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	int rc;

	config_init();
	if (!DeviceName)
		return ifd_from_errno(-EINVAL, IFD_OP_OPEN);
	ifd_log(IFD_LOG_INFO, "Lun 0x%lX: open %s", (unsigned long)Lun, DeviceName);
	rc = ifd_table_open(Lun, DeviceName);
	return ifd_from_errno(rc, IFD_OP_OPEN);
}

/*
 * Legacy open by channel (reader.conf with CHANNELID and no DEVICENAME):
 * Channel is the USB position as SCARD_ATTR_CHANNEL_ID gives it, bus << 8 |
 * address (docs/ifd-uccid.8).
 */
EXPORT RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	char name[32];

	config_init();
	if (Channel > 0xFFFF || !(Channel >> 8) || !(Channel & 0xFF)) {
		ifd_log(IFD_LOG_ERROR, "Lun 0x%lX: channel 0x%lX is not bus << 8 | address", (unsigned long)Lun,
			(unsigned long)Channel);
		return ifd_from_errno(-EINVAL, IFD_OP_OPEN);
	}
	snprintf(name, sizeof(name), "usb:%lu:%lu", (unsigned long)(Channel >> 8), (unsigned long)(Channel & 0xFF));
	return IFDHCreateChannelByName(Lun, name);
}

EXPORT RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	struct ifd_reader *rd;
	unsigned slot;

	/* power the slot down first (the last close powers off every slot in uccid_close) */
	if (ifd_get(Lun, &rd, &slot) == 0) {
		ifd_note(rd, uccid_power_off(rd->r, slot));
		ifd_set_atr(rd, slot, NULL, 0);
		ifd_put(rd);
	}
	return ifd_from_errno(ifd_table_close(Lun), IFD_OP_GENERIC);
}

EXPORT RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	struct ifd_reader *rd;
	unsigned slot;
	size_t len;
	RESPONSECODE rc;
	int err;

	if (!Length || (!Value && *Length))
		return ifd_from_errno(-EINVAL, IFD_OP_GENERIC);
	err = ifd_get(Lun, &rd, &slot);
	if (err < 0)
		return ifd_from_errno(err, IFD_OP_GENERIC);
	len = *Length;
	rc = ifd_get_capability(rd, slot, Tag, Value, &len);
	ifd_put(rd);
	/*
	 * The length of the answer, or the length needed; anything else leaves
	 * *Length as pcscd gave it: for IFD_ERROR_TAG pcscd answers the friendly
	 * and system names itself if they fit in it (winscard.c SCardGetAttrib).
	 */
	if (rc == IFD_SUCCESS || rc == IFD_ERROR_INSUFFICIENT_BUFFER)
		*Length = (DWORD)len;
	return rc;
}

EXPORT RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	struct ifd_reader *rd;
	unsigned slot;
	int err = ifd_get(Lun, &rd, &slot);

	if (Tag == TAG_IFD_DEVICE_REMOVED && err == -ENODEV)
		return IFD_SUCCESS;     /* already known */
	if (err < 0)
		return ifd_from_errno(err, IFD_OP_GENERIC);
	if (Tag == TAG_IFD_DEVICE_REMOVED) {
		/* pcscd saw the device go: stop all I/O on it (reference §4) */
		if (Length >= 1 && Value && Value[0])
			ifd_mark_removed(rd);
		ifd_put(rd);
		return IFD_SUCCESS;
	}
	ifd_put(rd);
	return IFD_ERROR_TAG;
}

/*
 * pcscd calls this once after each power action, at the first SCardConnect
 * (or SCardReconnect), with the protocol it chose among those the ATR offers
 * and the application allows (T=1 first) and Flags 0.  libuccid does the
 * PPS, the reset it needs and SetParameters (uccid_set_protocol); the codes
 * pcscd expects: IFD_PROTOCOL_NOT_SUPPORTED for a protocol the card or the
 * reader does not run (pcscd 1.9.9 then uses the card's default protocol,
 * later versions try it), IFD_ERROR_PTS_FAILURE for a PPS the card refused
 * (SCardConnect fails with SCARD_W_UNRESPONSIVE_CARD).
 */
EXPORT RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags, UCHAR PTS1, UCHAR PTS2,
					     UCHAR PTS3)
{
	struct uccid_slot_status st;
	struct ifd_reader *rd;
	unsigned slot;
	uint8_t want;
	int err = ifd_get(Lun, &rd, &slot);

	if (err < 0)
		return ifd_from_errno(err, IFD_OP_PROTOCOL);
	if (Protocol == SCARD_PROTOCOL_T0)
		want = CCID_PROTOCOL_T0;
	else if (Protocol == SCARD_PROTOCOL_T1)
		want = CCID_PROTOCOL_T1;
	else
		err = -ENOTSUP;
	if (err == 0 && (Flags & (IFD_NEGOTIATE_PTS2 | IFD_NEGOTIATE_PTS3))) {
		/* PPS2 (SPU) and PPS3 (RFU): nothing to negotiate them for */
		ifd_log(IFD_LOG_INFO, "Lun 0x%lX: PTS2/PTS3 asked (flags 0x%02X, %02X %02X): not negotiated",
			(unsigned long)Lun, Flags, PTS2, PTS3);
		err = -ENOTSUP;
	}
	if (err == 0 && (Flags & IFD_NEGOTIATE_PTS1) && !PTS1)
		err = -EINVAL;          /* 00 is no Fi/Di; libuccid's 0 means "the best" */
	if (err == 0) {
		err = ifd_note(rd, uccid_set_protocol(rd->r, slot, want, Flags & IFD_NEGOTIATE_PTS1 ? PTS1 : 0));
		/* a reset happened (or may have): the ATR TAG_IFD_ATR gives is the warm one */
		if (err != 0 && err != -ENODEV && uccid_slot_status(rd->r, slot, &st) == 0)
			ifd_set_atr(rd, slot, st.atr, st.atr_len);
	}
	ifd_put(rd);
	if (err < 0)
		ifd_log(IFD_LOG_INFO, "Lun 0x%lX: protocol 0x%lX: %s", (unsigned long)Lun, (unsigned long)Protocol,
			uccid_strerror(err));
	return ifd_from_errno(err, IFD_OP_PROTOCOL);
}

EXPORT RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	struct uccid_slot_status st;
	uint8_t atr[MAX_ATR_SIZE];
	struct ifd_reader *rd;
	unsigned slot;
	int rc;

	if (AtrLength)
		*AtrLength = 0;
	rc = ifd_get(Lun, &rd, &slot);
	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_POWER);
	switch (Action) {
	case IFD_POWER_DOWN:
		rc = uccid_power_off(rd->r, slot);
		ifd_set_atr(rd, slot, NULL, 0);
		break;
	case IFD_POWER_UP:
	case IFD_RESET:
		rc = uccid_slot_status(rd->r, slot, &st);
		if (rc < 0)
			break;
		if (!st.present) {
			rc = -ENOMEDIUM;
		} else if (st.powered && Action == IFD_POWER_UP && st.atr_len > 0) {
			/* powered already: the ATR it gave (pcscd asks after its own power-down grace) */
			memcpy(atr, st.atr, st.atr_len);
			rc = (int)st.atr_len;
		} else if (st.powered) {
			/* a reset; or a power-up of a card another host left powered, whose ATR
			   this session never saw: a warm reset gives it and a clean card state */
			rc = uccid_reset(rd->r, slot, false, atr, sizeof(atr));      /* warm reset */
		} else {
			rc = ifd_power_up(rd, slot, atr, sizeof(atr));     /* ifdDriverOptions' voltages */
		}
		if (rc >= 0)
			ifd_set_atr(rd, slot, atr, (size_t)rc);
		else
			ifd_set_atr(rd, slot, NULL, 0);
		break;
	default:
		ifd_put(rd);
		return ifd_from_errno(-ENOTSUP, IFD_OP_GENERIC);     /* an action the API does not define */
	}
	ifd_note(rd, rc);
	ifd_put(rd);
	if (rc < 0) {
		ifd_log(IFD_LOG_INFO, "Lun 0x%lX: power action %lu: %s", (unsigned long)Lun, (unsigned long)Action,
			uccid_strerror(rc));
		return ifd_from_errno(rc, IFD_OP_POWER);
	}
	if (Action != IFD_POWER_DOWN && Atr && AtrLength) {
		memcpy(Atr, atr, (size_t)rc);
		*AtrLength = (DWORD)rc;
	}
	return IFD_SUCCESS;
}

EXPORT RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer, DWORD TxLength,
				     PUCHAR RxBuffer, PDWORD RxLength, PSCARD_IO_HEADER RecvPci)
{
	struct ifd_reader *rd;
	unsigned slot;
	size_t cap;
	ssize_t n;
	int rc;

	if (!RxLength)
		return ifd_from_errno(-EINVAL, IFD_OP_GENERIC);
	cap = *RxLength;
	*RxLength = 0;
	if (!TxBuffer || !RxBuffer || TxLength < 4 || TxLength > MAX_BUFFER_SIZE_EXTENDED)
		return ifd_from_errno(-EINVAL, IFD_OP_GENERIC);
	/* SendPci.Protocol: 0 T=0, 1 T=1 (pcscd converts), or SCARD_PROTOCOL_RAW: libuccid knows the protocol */
	rc = ifd_get(Lun, &rd, &slot);
	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	n = uccid_transmit(rd->r, slot, TxBuffer, TxLength, RxBuffer, cap);
	ifd_note(rd, (int)(n < 0 ? n : 0));
	ifd_put(rd);
	if (n < 0) {
		ifd_log(IFD_LOG_INFO, "Lun 0x%lX: transmit: %s", (unsigned long)Lun, uccid_strerror((int)n));
		return ifd_from_errno((int)n, IFD_OP_GENERIC);
	}
	*RxLength = (DWORD)n;
	if (RecvPci) {
		RecvPci->Protocol = SendPci.Protocol;
		RecvPci->Length = sizeof(*RecvPci);
	}
	return IFD_SUCCESS;
}

EXPORT RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength, PUCHAR RxBuffer,
			       DWORD RxLength, LPDWORD pdwBytesReturned)
{
	struct ifd_reader *rd;
	unsigned slot;
	size_t got = 0;
	RESPONSECODE rc;
	int err;

	if (pdwBytesReturned)
		*pdwBytesReturned = 0;
	if (!pdwBytesReturned || (!TxBuffer && TxLength) || (!RxBuffer && RxLength) ||
	    TxLength > MAX_BUFFER_SIZE_EXTENDED)
		return ifd_from_errno(-EINVAL, IFD_OP_GENERIC);
	err = ifd_get(Lun, &rd, &slot);
	if (err < 0)
		return ifd_from_errno(err, IFD_OP_GENERIC);
	rc = ifd_control(rd, slot, dwControlCode, TxBuffer, TxLength, RxBuffer, RxLength, &got);
	ifd_put(rd);
	if (rc == IFD_SUCCESS)
		*pdwBytesReturned = (DWORD)got;
	return rc;
}

EXPORT RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	struct uccid_slot_status st;
	struct ifd_reader *rd;
	unsigned slot;
	bool present = false;
	int rc = ifd_get(Lun, &rd, &slot);

	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_PRESENCE);
	ifd_periodic(true);
	rc = uccid_slot_status(rd->r, slot, &st);
	ifd_periodic(false);
	/*
	 * A failed GetSlotStatus (a hardware error, CCID §6.2.6) still carries the
	 * slot's bmICCStatus: the card is there.  Reported as an error, pcscd would
	 * count the card removed and its next status as a new card, and every
	 * handle would lose it (SCARD_E_PROTO_MISMATCH).
	 */
	if (rc == -EIO)
		rc = 0;
	rc = ifd_note(rd, rc);
	/* an ejected card, latched until it is taken out, is gone for pcscd; a swapped one
	   for one answer (poll.c) */
	if (rc == 0)
		present = ifd_presence(rd, slot, st.present && !st.ejected, st.changes);
	if (rc == 0 && !present)
		ifd_set_atr(rd, slot, NULL, 0);
	ifd_put(rd);
	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_PRESENCE);
	ifd_log(IFD_LOG_PERIODIC, "Lun 0x%lX: presence check: card %s", (unsigned long)Lun,
		present ? "present" : "absent");
	return present ? IFD_ICC_PRESENT : IFD_ICC_NOT_PRESENT;
}
