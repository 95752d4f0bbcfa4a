/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB ICCD rev 1.0 control-pipe requests and their answers, for both ends:
 * the SETUP packets of versions A and B, version A's status byte, version
 * B's DATA_BLOCK / SLOT_STATUS answers (ccid/iccd.h has the table).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/iccd.h"

const char *ccid_iccd_request_name(uint8_t bRequest)
{
	switch (bRequest) {
	case CCID_ICCD_ICC_POWER_ON: return "ICC_POWER_ON";
	case CCID_ICCD_ICC_POWER_OFF: return "ICC_POWER_OFF";
	case CCID_ICCD_XFR_BLOCK: return "XFR_BLOCK";
	case CCID_ICCD_DATA_BLOCK: return "DATA_BLOCK";
	case CCID_ICCD_SLOT_STATUS: return "SLOT_STATUS";
	case CCID_ICCD_GET_ICC_STATUS: return "GET_ICC_STATUS";
	default: return "unknown";
	}
}

/* The direction of request in version, or 0 when the version has no such request. */
static uint8_t direction(uint8_t version, uint8_t request)
{
	bool a = version == CCID_ICCD_VERSION_A, b = version == CCID_ICCD_VERSION_B;

	if (!a && !b)
		return 0;
	switch (request) {
	case CCID_ICCD_ICC_POWER_ON:
		return a ? CCID_ICCD_REQTYPE_IN : CCID_ICCD_REQTYPE_OUT;
	case CCID_ICCD_ICC_POWER_OFF:
	case CCID_ICCD_XFR_BLOCK:
		return CCID_ICCD_REQTYPE_OUT;
	case CCID_ICCD_DATA_BLOCK:
		return CCID_ICCD_REQTYPE_IN;
	case CCID_ICCD_SLOT_STATUS:
		return b ? CCID_ICCD_REQTYPE_IN : 0;
	case CCID_ICCD_GET_ICC_STATUS:
		return a ? CCID_ICCD_REQTYPE_IN : 0;
	default:
		return 0;
	}
}

/* Is wValue allowed for request?  Only B's power-on and XFR_BLOCK (wLevelParameter) carry one. */
static bool value_ok(uint8_t version, uint8_t request, uint16_t wValue)
{
	if (version == CCID_ICCD_VERSION_B && request == CCID_ICCD_ICC_POWER_ON)
		return wValue <= 0x0003;   /* bPowerSelect as CCID's IccPowerOn: auto, 5 V, 3 V, 1.8 V */
	if (version == CCID_ICCD_VERSION_B && request == CCID_ICCD_XFR_BLOCK) {
		/* the level parameter travels in wValue's high byte, as libccid sends it */
		uint8_t level = (uint8_t)(wValue >> 8);

		return (wValue & 0xFF) == 0 && (level <= 0x03 || level == 0x10);
	}
	return wValue == 0;
}

/* Is wLength allowed for request?  OUT requests without data have none; IN ones need room. */
static bool length_ok(uint8_t version, uint8_t request, uint16_t wLength)
{
	switch (request) {
	case CCID_ICCD_ICC_POWER_OFF:
		return wLength == 0;
	case CCID_ICCD_ICC_POWER_ON:
		return version == CCID_ICCD_VERSION_B ? wLength == 0 : wLength >= 2;
	case CCID_ICCD_DATA_BLOCK:
		return version == CCID_ICCD_VERSION_B ? wLength >= CCID_ICCD_B_DATA_MIN : wLength >= 1;
	case CCID_ICCD_SLOT_STATUS:
		return wLength >= 3;
	case CCID_ICCD_GET_ICC_STATUS:
		return wLength >= 1;
	default:
		return true;               /* XFR_BLOCK: the data, possibly none (B's empty "next" part) */
	}
}

int ccid_iccd_setup_make(uint8_t version, uint8_t request, uint16_t wValue, uint8_t interface, uint16_t wLength,
			 struct ccid_iccd_setup *ret)
{
	uint8_t dir = direction(version, request);

	if (!ret || !dir || !value_ok(version, request, wValue) || !length_ok(version, request, wLength))
		return -EINVAL;
	/* version A's XFR_BLOCK carries a header or data: never empty */
	if (version == CCID_ICCD_VERSION_A && request == CCID_ICCD_XFR_BLOCK && wLength == 0)
		return -EINVAL;
	ret->bmRequestType = dir;
	ret->bRequest = request;
	ret->wValue = wValue;
	ret->wIndex = interface;
	ret->wLength = wLength;
	return 0;
}

void ccid_iccd_setup_encode(const struct ccid_iccd_setup *s, uint8_t out[8])
{
	out[0] = s->bmRequestType;
	out[1] = s->bRequest;
	put_le16(out + 2, s->wValue);
	put_le16(out + 4, s->wIndex);
	put_le16(out + 6, s->wLength);
}

int ccid_iccd_setup_decode(uint8_t version, const uint8_t *buf, size_t len, struct ccid_iccd_setup *ret,
			   struct ccid_diag *diag)
{
	struct ccid_iccd_setup s;
	uint8_t dir;

	if (!buf || !ret)
		return -EINVAL;
	if (len < 8)
		return ccid_fail(diag, len, "an 8-byte SETUP packet", -ENODATA);
	s.bmRequestType = buf[0];
	s.bRequest = buf[1];
	s.wValue = get_le16(buf + 2);
	s.wIndex = get_le16(buf + 4);
	s.wLength = get_le16(buf + 6);
	if ((s.bmRequestType & 0x7F) != CCID_ICCD_REQTYPE_OUT)
		return ccid_fail(diag, 0, "a class request to an interface (21h or A1h)", -EBADMSG);
	dir = direction(version, s.bRequest);
	if (!dir)
		return ccid_fail(diag, 1, version == CCID_ICCD_VERSION_A ? "an ICCD version A request (62h 63h 65h 6Fh A0h)"
									: "an ICCD version B request (62h 63h 65h 6Fh 81h)",
				 -EBADMSG);
	if (s.bmRequestType != dir)
		return ccid_fail(diag, 0, dir == CCID_ICCD_REQTYPE_IN ? "A1h (device to host) for this request"
								      : "21h (host to device) for this request",
				 -EBADMSG);
	if (!value_ok(version, s.bRequest, s.wValue))
		return ccid_fail(diag, 2, s.bRequest == CCID_ICCD_XFR_BLOCK ? "wValue 0000h, 0100h, 0200h, 0300h or 1000h (the level parameter, high byte)"
									    : "wValue allowed for this request",
				 -EBADMSG);
	if (!length_ok(version, s.bRequest, s.wLength)
	    || (version == CCID_ICCD_VERSION_A && s.bRequest == CCID_ICCD_XFR_BLOCK && s.wLength == 0))
		return ccid_fail(diag, 6, "wLength allowed for this request", -EBADMSG);
	*ret = s;
	return 0;
}

int ccid_iccd_a_status_decode(const uint8_t *buf, size_t len, struct ccid_iccd_a_status *ret, struct ccid_diag *diag)
{
	uint8_t b;

	if (!ret || (!buf && len))
		return -EINVAL;
	if (len < 1)
		return ccid_fail(diag, 0, "the status byte", -ENODATA);
	b = buf[0];
	if (b & CCID_ICCD_A_BUSY) {
		/* busy: the other bits say nothing until it is done */
		ret->busy = true;
		ret->state = CCID_ICCD_A_READY;
		return 0;
	}
	switch (b) {
	case CCID_ICCD_A_READY:
	case CCID_ICCD_A_DATA:
	case CCID_ICCD_A_SW:
	case CCID_ICCD_A_MUTE:
		ret->busy = false;
		ret->state = (enum ccid_iccd_a_state)b;
		return 0;
	default:
		return ccid_fail(diag, 0, "a status byte 00h, 10h, 20h, 40h (busy) or 80h (mute)", -EBADMSG);
	}
}

const char *ccid_iccd_a_state_name(enum ccid_iccd_a_state st)
{
	switch (st) {
	case CCID_ICCD_A_READY: return "ready for a command";
	case CCID_ICCD_A_DATA: return "data exchange";
	case CCID_ICCD_A_SW: return "status bytes ready";
	case CCID_ICCD_A_MUTE: return "mute";
	default: return "unknown";
	}
}

const char *ccid_iccd_b_response_name(uint8_t t)
{
	switch (t) {
	case CCID_ICCD_B_DATA: return "data";
	case CCID_ICCD_B_DATA_BEGIN: return "data, begins";
	case CCID_ICCD_B_DATA_END: return "data, ends";
	case CCID_ICCD_B_DATA_CONTINUE: return "data, continues";
	case CCID_ICCD_B_DATA_NEXT: return "next part please";
	case CCID_ICCD_B_STATUS: return "status information";
	case CCID_ICCD_B_POLL: return "poll again";
	default: return "unknown";
	}
}

int ccid_iccd_b_answer_decode(const uint8_t *buf, size_t len, struct ccid_iccd_b_answer *ret, struct ccid_diag *diag)
{
	struct ccid_iccd_b_answer a;

	if (!ret || (!buf && len))
		return -EINVAL;
	if (len < 1)
		return ccid_fail(diag, 0, "bResponseType", -ENODATA);
	memset(&a, 0, sizeof(a));
	a.bResponseType = buf[0];
	switch (a.bResponseType) {
	case CCID_ICCD_B_DATA:
	case CCID_ICCD_B_DATA_BEGIN:
	case CCID_ICCD_B_DATA_END:
	case CCID_ICCD_B_DATA_CONTINUE:
		a.abData = len > 1 ? buf + 1 : NULL;
		a.len = len - 1;
		break;
	case CCID_ICCD_B_DATA_NEXT:
		if (len > 1)
			return ccid_fail(diag, 1, "no data after bResponseType 10h", -EBADMSG);
		break;
	case CCID_ICCD_B_STATUS:
	case CCID_ICCD_B_POLL:
		if (len < 3)
			return ccid_fail(diag, len, a.bResponseType == CCID_ICCD_B_STATUS ? "bStatus and bError"
											 : "wDelayTime (2 bytes)",
					 -ENODATA);
		if (len > 3)
			return ccid_fail(diag, 3, "the end of a 3-byte answer", -EMSGSIZE);
		a.bStatus = buf[1];
		a.bError = buf[2];
		a.wDelayTime = get_le16(buf + 1);
		if (a.bResponseType == CCID_ICCD_B_POLL)
			a.bStatus = a.bError = 0;
		else
			a.wDelayTime = 0;
		break;
	default:
		return ccid_fail(diag, 0, "bResponseType 00h, 01h, 02h, 03h, 10h, 40h or 80h", -EBADMSG);
	}
	*ret = a;
	return 0;
}

int ccid_iccd_b_answer_encode(const struct ccid_iccd_b_answer *a, uint8_t *out, size_t cap)
{
	size_t n;

	if (!a || !out || (a->len && !a->abData))
		return -EINVAL;
	switch (a->bResponseType) {
	case CCID_ICCD_B_DATA:
	case CCID_ICCD_B_DATA_BEGIN:
	case CCID_ICCD_B_DATA_END:
	case CCID_ICCD_B_DATA_CONTINUE:
		n = 1 + a->len;
		if (cap < n)
			return -ENOBUFS;
		out[0] = a->bResponseType;
		if (a->len)
			memmove(out + 1, a->abData, a->len);
		return (int)n;
	case CCID_ICCD_B_DATA_NEXT:
		if (a->len)
			return -EINVAL;
		if (cap < 1)
			return -ENOBUFS;
		out[0] = a->bResponseType;
		return 1;
	case CCID_ICCD_B_STATUS:
	case CCID_ICCD_B_POLL:
		if (cap < 3)
			return -ENOBUFS;
		out[0] = a->bResponseType;
		if (a->bResponseType == CCID_ICCD_B_POLL) {
			put_le16(out + 1, a->wDelayTime);
		} else {
			out[1] = a->bStatus;
			out[2] = a->bError;
		}
		return 3;
	default:
		return -EINVAL;
	}
}
