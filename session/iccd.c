/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * USB ICCD tokens (bInterfaceProtocol 1 = version A, 2 = version B; the
 * requests and answers are in ccid/iccd.h) behind the same session as CCID
 * readers: the exchange engine hands each CCID command to
 * uccid_iccd_xchg(), which carries it out with class requests on the
 * control pipe and answers it as a reader would, so power-on, APDUs, status
 * and events above know nothing of the difference.
 *
 * The token's fixed behaviour (uccid_iccd_setup): one slot, one command at
 * a time, the token negotiates its protocol by itself (no PPS, no
 * SetParameters: dwFeatures 40h).  Version A exchanges T=0 TPDUs (the
 * session does T=0 at TPDU level: GET RESPONSE, 6Cxx), version B APDUs
 * (short, or extended where the descriptor says so, chained with
 * wLevelParameter as CCID §6.1.4).  Version A's status byte tells the
 * token's exchange state, not power: an unpowered card answers 00h (ready),
 * and 80h (no answer) is taken as no card, as libccid takes it — a token's
 * chip does not leave, so 80h is a token built or broken without one.
 *
 * Waiting: a busy token (version A status 40h; version B bResponseType 80h
 * with wDelayTime × 10 ms, 0 = the host's choice) is a time extension — it
 * is asked again, 10 ms apart for A and when it says for B (at most 1 s),
 * within the session's exchange deadline; uccid_cancel() and a lost device
 * end the wait at once.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccid/bytes.h"
#include "session/session_priv.h"

#define ICCD_CONTROL_MS 5000         /* one request (the token answers at once; busy says so) */
#define ICCD_A_POLL_MS 10            /* version A: the interval between GET_ICC_STATUS requests */
#define ICCD_B_POLL_MAX_MS 1000      /* version B: the longest wDelayTime honoured at once */
#define ICCD_XFER_MAX 4096           /* Linux usbfs takes control transfers up to 4 KiB */

int uccid_iccd_setup(struct uccid_reader *r, uint8_t protocol, char *err, size_t errlen)
{
	enum ccid_exchange_level declared = ccid_class_desc_level(&r->desc);

	if (protocol != CCID_ICCD_VERSION_A && protocol != CCID_ICCD_VERSION_B) {
		snprintf(err, errlen, "%s: interface protocol %u is neither CCID (0) nor ICCD (1, 2)", r->t->info.path,
			 protocol);
		return -ENOTSUP;
	}
	r->iccd = protocol;
	if (r->desc.bMaxSlotIndex)
		uccid_log(r, UCCID_LOG_WARNING, "ICCD token declares %u slots; it has one", r->desc.bMaxSlotIndex + 1u);
	r->desc.bMaxSlotIndex = 0;
	r->desc.bMaxCCIDBusySlots = 1;
	/* the token selects its protocol itself: the host sends neither PPS nor SetParameters */
	r->desc.dwFeatures |= CCID_FEAT_AUTO_PPS_PROP;
	if (protocol == CCID_ICCD_VERSION_A) {
		r->level = CCID_LEVEL_TPDU;
		r->desc.dwProtocols = CCID_PROTOCOLS_T0;
	} else {
		r->level = declared == CCID_LEVEL_EXTENDED_APDU ? CCID_LEVEL_EXTENDED_APDU : CCID_LEVEL_SHORT_APDU;
	}
	uccid_log(r, UCCID_LOG_INFO, "ICCD version %c token: control pipe, %s", protocol == 1 ? 'A' : 'B',
		  protocol == 1 ? "T=0 TPDUs" : ccid_exchange_level_name(r->level));
	return 0;
}

/* ---- requests ---- */

/* Wait until until_us (µs), or less when the session ends: returns r->dead (0: waited). */
static int nap(struct uccid_reader *r, int64_t until_us)
{
	int dead;

	reader_lock(r);
	while (!r->dead && uccid_mono_us() < until_us)
		reader_wait_until(r, until_us);
	dead = r->dead;
	reader_unlock(r);
	return dead;
}

/* One request; data is wLength bytes (OUT) or room for them (IN).  Returns the IN length or 0, or an error. */
static int request(struct uccid_reader *r, uint8_t request, uint16_t wValue, uint8_t *data, size_t len,
		   int64_t deadline)
{
	struct ccid_iccd_setup q;
	int64_t left = (deadline - uccid_mono_us()) / 1000;
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	/* an IN request asks for what fits; OUT data never gets cut */
	if (len > ICCD_XFER_MAX && request != CCID_ICCD_DATA_BLOCK && request != CCID_ICCD_ICC_POWER_ON)
		return -EMSGSIZE;
	if (len > ICCD_XFER_MAX)
		len = ICCD_XFER_MAX;
	if (ccid_iccd_setup_make(r->iccd, request, wValue, r->t->info.interface, (uint16_t)len, &q) < 0)
		return -EINVAL;
	n = r->t->ops->control(r->t, q.bmRequestType, q.bRequest, q.wValue, q.wIndex, data, q.wLength,
			       left < ICCD_CONTROL_MS ? (unsigned)left : ICCD_CONTROL_MS);
	if (n == -EPIPE)
		uccid_log(r, UCCID_LOG_INFO, "ICCD %s: the token refused it (STALL)", ccid_iccd_request_name(request));
	return n;
}

/* Write a CCID answer of type into ans (its data already at ans + 10).  Returns 0 or -EMSGSIZE. */
static int answer(uint8_t *ans, size_t cap, size_t *ret_len, uint8_t type, uint8_t bStatus, uint8_t bError,
		  uint8_t b9, size_t len)
{
	if (CCID_HEADER_SIZE + len > cap)
		return -EMSGSIZE;
	ans[CCID_OFF_TYPE] = type;
	put_le32(ans + CCID_OFF_LENGTH, (uint32_t)len);
	ans[CCID_OFF_B7] = bStatus;
	ans[CCID_OFF_B8] = bError;
	ans[CCID_OFF_B9] = b9;
	*ret_len = CCID_HEADER_SIZE + len;
	return 0;
}

/* A command the token does not have: failed, "command not supported" (CCID §6.2.6). */
static int not_supported(uint8_t type, uint8_t *ans, size_t cap, size_t *ret_len)
{
	return answer(ans, cap, ret_len, ccid_response_type(type), CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_ACTIVE),
		      CCID_ERR_CMD_NOT_SUPPORTED, 0, 0);
}

/* ---- version A ---- */

/* GET_ICC_STATUS until the token is not busy (each busy answer a time extension). */
static int a_status(struct uccid_reader *r, int64_t deadline, struct ccid_iccd_a_status *ret)
{
	struct ccid_diag diag = { 0 };
	uint8_t b[1];
	int n;

	for (;;) {
		n = request(r, CCID_ICCD_GET_ICC_STATUS, 0, b, sizeof(b), deadline);
		if (n < 0)
			return n;
		if (ccid_iccd_a_status_decode(b, (size_t)n, ret, &diag) < 0) {
			uccid_log(r, UCCID_LOG_ERROR, "ICCD GET_ICC_STATUS: bad answer%s%02X at byte %zu (expected %s)",
				  n ? " " : "", n ? b[0] : 0, diag.offset, diag.expected);
			return -EPROTO;
		}
		if (!ret->busy)
			return 0;
		n = nap(r, uccid_mono_us() + ICCD_A_POLL_MS * 1000);
		if (n)
			return n;
		if (uccid_mono_us() >= deadline)
			return -ETIMEDOUT;
	}
}

static int a_power_on(struct uccid_reader *r, uint8_t *ans, size_t cap, size_t *ret_len, int64_t deadline)
{
	struct ccid_iccd_a_status st;
	int n;

	/* power off first: the token's state machine starts again from its initial state */
	n = request(r, CCID_ICCD_ICC_POWER_OFF, 0, NULL, 0, deadline);
	if (n < 0)
		return n;
	n = a_status(r, deadline, &st);
	if (n < 0)
		return n;
	if (st.state == CCID_ICCD_A_MUTE)
		/* no answer after a power-off: no card, the answer a reader gives for an empty slot */
		return answer(ans, cap, ret_len, CCID_RDR_TO_PC_DATA_BLOCK, CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_ABSENT),
			      CCID_ERR_ICC_MUTE, 0, 0);
	if (cap < CCID_HEADER_SIZE + CCID_ATR_MAX)
		return -EMSGSIZE;
	n = request(r, CCID_ICCD_ICC_POWER_ON, 0, ans + CCID_HEADER_SIZE, CCID_ATR_MAX, deadline);
	if (n == -EPIPE || n == 0)
		/* no ATR: the card is mute */
		return answer(ans, cap, ret_len, CCID_RDR_TO_PC_DATA_BLOCK, CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_INACTIVE),
			      CCID_ERR_ICC_MUTE, 0, 0);
	if (n < 0)
		return n;
	return answer(ans, cap, ret_len, CCID_RDR_TO_PC_DATA_BLOCK, CCID_STATUS(CCID_CMD_OK, CCID_ICC_ACTIVE), 0, 0,
		      (size_t)n);
}

/*
 * One T=0 TPDU (header, then P3 data bytes or none): the header, then data
 * out or data in as the token's status asks, then SW1 SW2 — the answer a
 * TPDU-level reader gives (response data, then SW1 SW2).
 */
static int a_xfr(struct uccid_reader *r, uint8_t *msg, size_t len, uint8_t *ans, size_t cap, size_t *ret_len,
		 int64_t deadline)
{
	const uint8_t *tpdu = msg + CCID_HEADER_SIZE;
	size_t dlen = len - CCID_HEADER_SIZE, got = 0, room = cap - CCID_HEADER_SIZE;
	bool sent = dlen == 5, read = false;
	struct ccid_iccd_a_status st;
	int n;

	if (dlen < 5 || (dlen > 5 && dlen != 5u + tpdu[4]) || cap < CCID_HEADER_SIZE + 2)
		return -EINVAL;
	n = request(r, CCID_ICCD_XFR_BLOCK, 0, msg + CCID_HEADER_SIZE, 5, deadline);
	if (n < 0)
		return n;
	for (;;) {
		n = a_status(r, deadline, &st);
		if (n < 0)
			return n;
		switch (st.state) {
		case CCID_ICCD_A_MUTE:  /* the card left mid-command, as a reader says it */
			return answer(ans, cap, ret_len, CCID_RDR_TO_PC_DATA_BLOCK,
				      CCID_STATUS(CCID_CMD_FAILED, CCID_ICC_ABSENT), CCID_ERR_ICC_MUTE, 0, 0);
		case CCID_ICCD_A_DATA:
			if (!sent) {
				n = request(r, CCID_ICCD_XFR_BLOCK, 0, msg + CCID_HEADER_SIZE + 5, dlen - 5, deadline);
				sent = true;
			} else if (!read) {
				/* the response data: up to P3 bytes (0: 256) after a header alone, ISO 7816-3
				   §10.3.2; after the command's data, whatever the card has (up to 256) */
				size_t want = dlen == 5 && tpdu[4] ? tpdu[4] : 256;

				if (want > room - 2)
					return -EMSGSIZE;
				n = request(r, CCID_ICCD_DATA_BLOCK, 0, ans + CCID_HEADER_SIZE, want, deadline);
				if (n > 0)
					got = (size_t)n;
				read = true;
			} else {
				uccid_log(r, UCCID_LOG_ERROR, "ICCD version A: the token asks for a data phase again");
				return -EPROTO;
			}
			if (n < 0)
				return n;
			break;
		case CCID_ICCD_A_SW:
			n = request(r, CCID_ICCD_DATA_BLOCK, 0, ans + CCID_HEADER_SIZE + got, 2, deadline);
			if (n < 0)
				return n;
			if (n != 2) {
				uccid_log(r, UCCID_LOG_ERROR, "ICCD version A: %d bytes where SW1 SW2 were due", n);
				return -EPROTO;
			}
			return answer(ans, cap, ret_len, CCID_RDR_TO_PC_DATA_BLOCK, CCID_STATUS(CCID_CMD_OK, CCID_ICC_ACTIVE),
				      0, 0, got + 2);
		default:
			uccid_log(r, UCCID_LOG_ERROR, "ICCD version A: the token is %s in the middle of a command",
				  ccid_iccd_a_state_name(st.state));
			return -EPROTO;
		}
	}
}

/* ---- version B ---- */

/*
 * DATA_BLOCK until the token has an answer (80h: poll again after
 * wDelayTime), read into ans + 9 so that its data lands at ans + 10 and its
 * bResponseType where bChainParameter goes (they share their values).
 * Returns 0 with *ret decoded, or an error.
 */
static int b_answer(struct uccid_reader *r, uint8_t *ans, size_t cap, int64_t deadline, struct ccid_iccd_b_answer *ret)
{
	struct ccid_diag diag = { 0 };
	size_t room = cap - (CCID_HEADER_SIZE - 1);
	int n;

	if (room < CCID_ICCD_B_DATA_MIN)
		return -EMSGSIZE;
	for (;;) {
		int64_t ms;

		n = request(r, CCID_ICCD_DATA_BLOCK, 0, ans + CCID_HEADER_SIZE - 1, room, deadline);
		if (n < 0)
			return n;
		if (ccid_iccd_b_answer_decode(ans + CCID_HEADER_SIZE - 1, (size_t)n, ret, &diag) < 0) {
			uccid_log(r, UCCID_LOG_ERROR, "ICCD DATA_BLOCK: bad answer of %d bytes at byte %zu (expected %s)",
				  n, diag.offset, diag.expected);
			return -EPROTO;
		}
		if (ret->bResponseType != CCID_ICCD_B_POLL)
			return 0;
		ms = ret->wDelayTime ? (int64_t)ret->wDelayTime * CCID_ICCD_B_DELAY_UNIT_MS : ICCD_A_POLL_MS;
		if (ms > ICCD_B_POLL_MAX_MS)
			ms = ICCD_B_POLL_MAX_MS;
		n = nap(r, uccid_mono_us() + ms * 1000);
		if (n)
			return n;
		if (uccid_mono_us() >= deadline)
			return -ETIMEDOUT;
	}
}

/* A DATA_BLOCK answer as the CCID answer type: data (with its chain position) or the token's failure. */
static int b_reply(struct uccid_reader *r, const struct ccid_iccd_b_answer *a, uint8_t type, uint8_t *ans, size_t cap,
		   size_t *ret_len)
{
	if (a->bResponseType == CCID_ICCD_B_STATUS) {
		if (CCID_CMD_STATUS(a->bStatus) != CCID_CMD_FAILED) {
			uccid_log(r, UCCID_LOG_ERROR, "ICCD DATA_BLOCK: status information %02X without a failure where "
				  "data was due", a->bStatus);
			return -EPROTO;
		}
		return answer(ans, cap, ret_len, type, a->bStatus, a->bError, 0, 0);
	}
	return answer(ans, cap, ret_len, type, CCID_STATUS(CCID_CMD_OK, CCID_ICC_ACTIVE), 0, a->bResponseType, a->len);
}

static int b_power_on(struct uccid_reader *r, uint8_t sel, uint8_t *ans, size_t cap, size_t *ret_len,
		      int64_t deadline)
{
	struct ccid_iccd_b_answer a;
	int n;

	n = request(r, CCID_ICCD_ICC_POWER_OFF, 0, NULL, 0, deadline);
	if (n < 0)
		return n;
	n = request(r, CCID_ICCD_ICC_POWER_ON, sel, NULL, 0, deadline);
	if (n < 0)
		return n;
	n = b_answer(r, ans, cap, deadline, &a);
	if (n < 0)
		return n;
	if (a.bResponseType != CCID_ICCD_B_DATA && a.bResponseType != CCID_ICCD_B_STATUS) {
		uccid_log(r, UCCID_LOG_ERROR, "ICCD ICC_POWER_ON: a %s answer where the ATR was due",
			  ccid_iccd_b_response_name(a.bResponseType));
		return -EPROTO;
	}
	return b_reply(r, &a, CCID_RDR_TO_PC_DATA_BLOCK, ans, cap, ret_len);
}

static int b_xfr(struct uccid_reader *r, uint8_t *msg, size_t len, uint8_t *ans, size_t cap, size_t *ret_len,
		 int64_t deadline)
{
	uint16_t level = get_le16(msg + CCID_OFF_B8);     /* wLevelParameter: 0, 1, 2, 3, 10h */
	struct ccid_iccd_b_answer a;
	int n;

	if (len - CCID_HEADER_SIZE > ICCD_XFER_MAX)
		return -EMSGSIZE;
	n = request(r, CCID_ICCD_XFR_BLOCK, CCID_ICCD_B_LEVEL(level), msg + CCID_HEADER_SIZE, len - CCID_HEADER_SIZE,
		    deadline);
	if (n < 0)
		return n;
	n = b_answer(r, ans, cap, deadline, &a);
	if (n < 0)
		return n;
	return b_reply(r, &a, CCID_RDR_TO_PC_DATA_BLOCK, ans, cap, ret_len);
}

static int b_slot_status(struct uccid_reader *r, uint8_t *ans, size_t cap, size_t *ret_len, int64_t deadline)
{
	uint8_t b[3];
	int n = request(r, CCID_ICCD_SLOT_STATUS, 0, b, sizeof(b), deadline);

	if (n < 0)
		return n;
	/* libccid reads bStatus from the second byte, as the tokens in the field send it */
	if (n < 2) {
		uccid_log(r, UCCID_LOG_ERROR, "ICCD SLOT_STATUS: %d bytes; bStatus is the second", n);
		return -EPROTO;
	}
	return answer(ans, cap, ret_len, CCID_RDR_TO_PC_SLOT_STATUS, CCID_STATUS(CCID_CMD_OK, CCID_ICC_STATUS(b[1])), 0,
		      0, 0);
}

/* ---- the engine's entry ---- */

int uccid_iccd_xchg(struct uccid_reader *r, uint8_t *msg, size_t len, uint8_t *ans, size_t cap, size_t *ret_len,
		    int64_t deadline)
{
	uint8_t type = msg[CCID_OFF_TYPE];
	bool a = r->iccd == CCID_ICCD_VERSION_A;
	struct ccid_iccd_a_status st;
	int n;

	if (cap < CCID_HEADER_SIZE)
		return -EMSGSIZE;
	switch (type) {
	case CCID_PC_TO_RDR_ICC_POWER_ON:
		n = a ? a_power_on(r, ans, cap, ret_len, deadline)
		      : b_power_on(r, msg[CCID_OFF_B7], ans, cap, ret_len, deadline);
		break;
	case CCID_PC_TO_RDR_ICC_POWER_OFF:
		n = request(r, CCID_ICCD_ICC_POWER_OFF, 0, NULL, 0, deadline);
		if (n >= 0 && !a)
			n = b_slot_status(r, ans, cap, ret_len, deadline);
		else if (n >= 0)
			n = answer(ans, cap, ret_len, CCID_RDR_TO_PC_SLOT_STATUS, CCID_STATUS(CCID_CMD_OK, CCID_ICC_INACTIVE),
				   0, 0, 0);
		break;
	case CCID_PC_TO_RDR_GET_SLOT_STATUS:
		if (!a) {
			n = b_slot_status(r, ans, cap, ret_len, deadline);
			break;
		}
		n = a_status(r, deadline, &st);
		if (n >= 0) {
			/* a version A token tells its exchange state, not its power: after ICC_POWER_OFF
			   it answers as ready, and 80h (mute) is no card, as libccid takes it.  Powered
			   is what this session did. */
			bool on;
			uint8_t icc;

			reader_lock(r);
			on = r->slots[0].card.powered;
			reader_unlock(r);
			icc = st.state == CCID_ICCD_A_MUTE ? CCID_ICC_ABSENT : on ? CCID_ICC_ACTIVE : CCID_ICC_INACTIVE;
			n = answer(ans, cap, ret_len, CCID_RDR_TO_PC_SLOT_STATUS, CCID_STATUS(CCID_CMD_OK, icc), 0, 0, 0);
		}
		break;
	case CCID_PC_TO_RDR_XFR_BLOCK:
		n = a ? a_xfr(r, msg, len, ans, cap, ret_len, deadline) : b_xfr(r, msg, len, ans, cap, ret_len, deadline);
		break;
	default:
		n = not_supported(type, ans, cap, ret_len);
		break;
	}
	if (n == -EPIPE)
		n = -EIO;                    /* the token refused a request of a command it has */
	return n;
}
