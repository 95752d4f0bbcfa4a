/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * IFDHGetCapabilities answers (reference §4): pcscd's own TAG_IFD_* and the
 * SCARD_ATTR_* an application reads with SCardGetAttrib — every one libccid
 * answers (ifdhandler.c: vendor name, IFD version, serial number, channel
 * id, maximum input, ATR, ICC presence and interface status), encoded as it
 * does, and those of the reader and the card in use that PC/SC part 3 and
 * Windows' smart card library define.  All come from the device: its
 * descriptors (uccid_info) and strings (uccid_device_strings, read at the
 * first question), its CCID class descriptor (CCID §5.1), and what
 * libuccid negotiated with the card (uccid_slot_status).
 * DWORD-valued attributes are 4 bytes little-endian, as Windows and libccid
 * give them.
 *
 * Lengths, as pcscd expects them (IFDHGetCapabilities in ifdhandler.c): an
 * answer that does not fit is IFD_ERROR_INSUFFICIENT_BUFFER with *len the
 * length needed; an attribute the driver does not answer is IFD_ERROR_TAG
 * with *len untouched — pcscd then answers SCARD_ATTR_DEVICE_FRIENDLY_NAME
 * and SYSTEM_NAME itself, if the name fits in *len.  The table of every tag
 * and its encoding is in ifd-uccid(8).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <reader.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

/* SCARD_ATTR_CHANNEL_ID: channel type USB (reference §4) */
#define CHANNEL_TYPE_USB 0x0020
/* SCARD_ATTR_CHARACTERISTICS bits (PC/SC part 3): swallow, eject, capture */
#define CHAR_SWALLOW 0x1
#define CHAR_EJECT 0x2
#define CHAR_CAPTURE 0x4

struct answer {
	uint8_t *value;
	size_t *len;
};

static RESPONSECODE give(struct answer *a, const void *data, size_t n)
{
	if (*a->len < n) {
		*a->len = n;
		return ifd_from_errno(-ENOBUFS, IFD_OP_GENERIC);
	}
	if (n)
		memcpy(a->value, data, n);
	*a->len = n;
	return IFD_SUCCESS;
}

static RESPONSECODE give_byte(struct answer *a, uint8_t v)
{
	return give(a, &v, 1);
}

static RESPONSECODE give_dword(struct answer *a, uint32_t v)
{
	uint8_t b[4];

	ifd_put_le32(b, v);
	return give(a, b, 4);
}

static RESPONSECODE give_string(struct answer *a, const char *s)
{
	return give(a, s, strlen(s) + 1);
}

static RESPONSECODE give_pointer(struct answer *a, void *p)
{
	return give(a, &p, sizeof(p));
}

/*
 * VENDOR_NAME, VENDOR_IFD_TYPE, VENDOR_IFD_SERIAL_NO: the device's strings,
 * read at the first question (uccid_device_strings); for the names, the
 * readers list's when the device has none.
 */
static RESPONSECODE string_answer(struct ifd_reader *rd, DWORD tag, struct answer *a)
{
	const struct ifd_reader_name *names = ifd_reader_lookup(rd->info.idVendor, rd->info.idProduct);
	struct uccid_device_strings ds;
	const char *str = NULL;
	int rc = ifd_note(rd, uccid_device_strings(rd->r, &ds));

	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	switch (tag) {
	case SCARD_ATTR_VENDOR_NAME:
		/* iManufacturer, as libccid answers it */
		str = ds.manufacturer[0] ? ds.manufacturer : names ? names->vendor : NULL;
		break;
	case SCARD_ATTR_VENDOR_IFD_TYPE:
		str = ds.product[0] ? ds.product : names ? names->model : NULL;
		break;
	case SCARD_ATTR_VENDOR_IFD_SERIAL_NO:
		/* iSerialNumber, as libccid answers it */
		str = ds.serial[0] ? ds.serial : NULL;
		break;
	}
	return str ? give_string(a, str) : IFD_ERROR_TAG;
}

/*
 * SCARD_ATTR_CURRENT_*: the parameters of the card in use, as Windows' smart
 * card library encodes them (F and D as integers, W, BWT and CWT as the
 * integers WI, BWI, CWI, EBC 0 LRC / 1 CRC).  Those of the other protocol
 * (W under T=1; IFSC, IFSD, BWT, CWT, EBC under T=0) do not apply:
 * IFD_ERROR_TAG.
 */
static RESPONSECODE current(const struct uccid_slot_status *st, DWORD tag, struct answer *a)
{
	const struct uccid_card_params *p = &st->params;
	bool t1 = st->protocol == 1;

	switch (tag) {
	case SCARD_ATTR_CURRENT_W:
		if (t1)
			return IFD_ERROR_TAG;
		break;
	case SCARD_ATTR_CURRENT_IFSC:
	case SCARD_ATTR_CURRENT_IFSD:
	case SCARD_ATTR_CURRENT_BWT:
	case SCARD_ATTR_CURRENT_CWT:
	case SCARD_ATTR_CURRENT_EBC_ENCODING:
		if (!t1)
			return IFD_ERROR_TAG;
		break;
	}
	switch (tag) {
	case SCARD_ATTR_CURRENT_CLK:
		return give_dword(a, p->clock_khz);
	case SCARD_ATTR_CURRENT_F:
		return give_dword(a, p->F);
	case SCARD_ATTR_CURRENT_D:
		return give_dword(a, p->D);
	case SCARD_ATTR_CURRENT_N:
		return give_dword(a, p->N);
	case SCARD_ATTR_CURRENT_W:
		return give_dword(a, p->WI);
	case SCARD_ATTR_CURRENT_IFSC:
		return give_dword(a, p->IFSC);
	case SCARD_ATTR_CURRENT_IFSD:
		return give_dword(a, p->IFSD);
	case SCARD_ATTR_CURRENT_BWT:
		return give_dword(a, p->BWI);
	case SCARD_ATTR_CURRENT_CWT:
		return give_dword(a, p->CWI);
	case SCARD_ATTR_CURRENT_EBC_ENCODING:
		return give_dword(a, p->edc);
	case SCARD_ATTR_ICC_TYPE_PER_ATR:
		return give_byte(a, 1);         /* ISO 7816 asynchronous: T=0 and T=1 are all we run */
	}
	return IFD_ERROR_TAG;
}

static RESPONSECODE slot_answer(struct ifd_reader *rd, unsigned slot, DWORD tag, struct answer *a)
{
	struct uccid_slot_status st;
	int rc = ifd_note(rd, uccid_slot_status(rd->r, slot, &st));

	if (rc < 0)
		return ifd_from_errno(rc, IFD_OP_GENERIC);
	switch (tag) {
	case SCARD_ATTR_ICC_PRESENCE:
		return give_byte(a, st.present && !st.ejected ? 2 : 0);
	case SCARD_ATTR_ICC_INTERFACE_STATUS:
		/* the contacts are active: powered (libccid answers presence here) */
		return give_byte(a, st.powered ? 1 : 0);
	case SCARD_ATTR_CURRENT_PROTOCOL_TYPE:
		if (!st.powered || st.protocol > 1)
			return give_dword(a, 0);
		return give_dword(a, st.protocol == 0 ? SCARD_PROTOCOL_T0 : SCARD_PROTOCOL_T1);
	}
	/* the rest describe the card in use: none without a card powered and negotiated */
	if (!st.present || st.ejected || !st.powered || st.protocol > 1)
		return ifd_from_errno(-ENOMEDIUM, IFD_OP_GENERIC);
	return current(&st, tag, a);
}

RESPONSECODE ifd_get_capability(struct ifd_reader *rd, unsigned slot, DWORD tag, uint8_t *value, size_t *len)
{
	struct answer a = { value, len };
	struct ccid_class_desc d;
	uint8_t atr[MAX_ATR_SIZE];
	size_t n;

	if (ccid_class_desc_parse(rd->desc, sizeof(rd->desc), &d, NULL) < 0)
		memset(&d, 0, sizeof(d));

	switch (tag) {
	case TAG_IFD_ATR:
	case SCARD_ATTR_ATR_STRING:
		n = ifd_get_atr(rd, slot, atr, sizeof(atr));
		return give(&a, atr, n);
	case TAG_IFD_SIMULTANEOUS_ACCESS:
		return give_byte(&a, IFD_MAX_READERS);
	case TAG_IFD_THREAD_SAFE:
		return give_byte(&a, 1);        /* the reader table has its own lock */
	case TAG_IFD_SLOT_THREAD_SAFE:
		return give_byte(&a, 1);        /* libuccid serialises per slot, busy slots bounded */
	case TAG_IFD_SLOTS_NUMBER:
		return give_byte(&a, (uint8_t)rd->info.nslots);
	case TAG_IFD_POLLING_THREAD_WITH_TIMEOUT:
		return give_pointer(&a, (void *)ifd_poll);
	case TAG_IFD_POLLING_THREAD_KILLABLE:
		/* no: a cancelled thread would leave libuccid's locks held; use the stop function */
		return give_byte(&a, 0);
	case TAG_IFD_STOP_POLLING_THREAD:
		return give_pointer(&a, (void *)ifd_stop_poll);
	case TAG_IFD_DEVICE_REMOVED:
		return give_byte(&a, 1);
	case SCARD_ATTR_ICC_PRESENCE:
	case SCARD_ATTR_ICC_INTERFACE_STATUS:
	case SCARD_ATTR_CURRENT_PROTOCOL_TYPE:
	case SCARD_ATTR_CURRENT_CLK:
	case SCARD_ATTR_CURRENT_F:
	case SCARD_ATTR_CURRENT_D:
	case SCARD_ATTR_CURRENT_N:
	case SCARD_ATTR_CURRENT_W:
	case SCARD_ATTR_CURRENT_IFSC:
	case SCARD_ATTR_CURRENT_IFSD:
	case SCARD_ATTR_CURRENT_BWT:
	case SCARD_ATTR_CURRENT_CWT:
	case SCARD_ATTR_CURRENT_EBC_ENCODING:
	case SCARD_ATTR_ICC_TYPE_PER_ATR:
		return slot_answer(rd, slot, tag, &a);
	case SCARD_ATTR_VENDOR_NAME:
	case SCARD_ATTR_VENDOR_IFD_TYPE:
	case SCARD_ATTR_VENDOR_IFD_SERIAL_NO:
		return string_answer(rd, tag, &a);
	case SCARD_ATTR_VENDOR_IFD_VERSION:
		/* 0xMMmmbbbb: bcdDevice is MM.mm (libccid answers the same) */
		return give_dword(&a, (uint32_t)rd->info.bcdDevice << 16);
	case SCARD_ATTR_CHANNEL_ID:
		return give_dword(&a, (uint32_t)CHANNEL_TYPE_USB << 16 | (uint32_t)rd->info.busnum << 8 |
					      rd->info.devnum);
	case SCARD_ATTR_ASYNC_PROTOCOL_TYPES:
		return give_dword(&a, d.dwProtocols & (CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1));
	case SCARD_ATTR_SYNC_PROTOCOL_TYPES:
		return give_dword(&a, d.dwSynchProtocols);
	case SCARD_ATTR_DEFAULT_CLK:
		return give_dword(&a, d.dwDefaultClock);
	case SCARD_ATTR_MAX_CLK:
		return give_dword(&a, d.dwMaximumClock);
	case SCARD_ATTR_DEFAULT_DATA_RATE:
		return give_dword(&a, d.dwDataRate);
	case SCARD_ATTR_MAX_DATA_RATE:
		return give_dword(&a, d.dwMaxDataRate);
	case SCARD_ATTR_MAX_IFSD:
		return give_dword(&a, d.dwMaxIFSD);
	case SCARD_ATTR_CHARACTERISTICS: {
		uint32_t c = 0;

		if (rd->info.mechanical & CCID_MECHANICAL_ACCEPT)
			c |= CHAR_SWALLOW;
		if (rd->info.mechanical & CCID_MECHANICAL_EJECT)
			c |= CHAR_EJECT;
		if (rd->info.mechanical & CCID_MECHANICAL_CAPTURE)
			c |= CHAR_CAPTURE;
		return give_dword(&a, c);
	}
	case SCARD_ATTR_MAXINPUT:
		/* the largest abData of one message (libccid answers the same, unclamped) */
		return give_dword(&a, rd->info.max_message - CCID_HEADER_SIZE);
	}
	return IFD_ERROR_TAG;
}
