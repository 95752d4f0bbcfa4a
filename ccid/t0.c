/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * T=0 at the character level, interface-device side (ISO 7816-3 §10.3): the
 * procedure bytes a character-level CCID reader passes through to the host.
 * See ccid/t0.h for the contract.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ccid/t0.h"

int ccid_t0_begin(struct ccid_t0 *t, const uint8_t *tpdu, size_t len, uint8_t *rsp, size_t cap)
{
	if (!t || !tpdu || !rsp || cap < 2)
		return -EINVAL;
	if (len != 4 && len != 5 && !(len > 5 && tpdu[4] && len == 5u + tpdu[4]))
		return -EINVAL;
	/* §10.3.2: CLA FF is PPSS; INS 6X and 9X would read as SW1 */
	if (tpdu[0] == 0xFF || (tpdu[1] & 0xF0) == 0x60 || (tpdu[1] & 0xF0) == 0x90)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memcpy(t->header, tpdu, 4);
	t->header[4] = len >= 5 ? tpdu[4] : 0;
	t->incoming = len <= 5;
	if (t->incoming) {
		t->ne = t->header[4] ? t->header[4] : 256;
	} else {
		t->data = tpdu + 5;
		t->nc = len - 5;
	}
	t->rsp = rsp;
	t->cap = cap;
	t->state = CCID_T0_STATE_HEADER;
	return 0;
}

/*
 * The least the card is bound to send from the procedure byte on: SW1 SW2
 * at the end of every TPDU, so 2, except while command data remain to be
 * sent: an ACK then makes the card wait for them, so 1.
 */
static size_t proc_expect(const struct ccid_t0 *t, size_t sent)
{
	return !t->incoming && sent < t->nc ? 1 : 2;
}

int ccid_t0_next(struct ccid_t0 *t, const uint8_t **ret_out, size_t *ret_out_len, size_t *ret_expect)
{
	const uint8_t *out = NULL;
	size_t n = 0, expect;

	if (!t || !ret_out || !ret_out_len || !ret_expect)
		return -EINVAL;
	switch (t->state) {
	case CCID_T0_STATE_HEADER:
		out = t->header;
		n = CCID_T0_HEADER_SIZE;
		expect = proc_expect(t, 0);
		break;
	case CCID_T0_STATE_PROC:
		expect = proc_expect(t, t->sent);
		break;
	case CCID_T0_STATE_SEND_ALL:
		out = t->data + t->sent;
		n = t->nc - t->sent;
		expect = 2;
		break;
	case CCID_T0_STATE_SEND_ONE:
		out = t->data + t->sent;
		n = 1;
		expect = proc_expect(t, t->sent + 1);
		break;
	case CCID_T0_STATE_RECV_ALL:
		expect = t->ne - t->got + 2;
		break;
	case CCID_T0_STATE_RECV_ONE:
		expect = 1 + 2;
		break;
	case CCID_T0_STATE_SW2:
		expect = 1;
		break;
	case CCID_T0_STATE_DONE:
		*ret_out = NULL;
		*ret_out_len = 0;
		*ret_expect = 0;
		return CCID_T0_DONE;
	default:
		return -EINVAL;
	}
	*ret_out = out;
	*ret_out_len = n;
	*ret_expect = expect;
	return CCID_T0_MORE;
}

static int fail(struct ccid_t0 *t, int err)
{
	t->state = CCID_T0_STATE_IDLE;
	return err;
}

/* One procedure byte (§10.3.3). */
static int procedure(struct ccid_t0 *t, uint8_t b)
{
	uint8_t ins = t->header[1], ins_one = (uint8_t)(0xFFu - ins);   /* INS ^ FF */

	if (b == CCID_T0_NULL) {
		t->nulls++;
		return 0;
	}
	if (b == ins || b == ins_one) {
		bool all = b == ins;

		/* an ACK with nothing left to move in its direction is the card's mistake */
		if (t->incoming ? t->got >= t->ne : t->sent >= t->nc)
			return -EPROTO;
		if (t->incoming)
			t->state = all ? CCID_T0_STATE_RECV_ALL : CCID_T0_STATE_RECV_ONE;
		else
			t->state = all ? CCID_T0_STATE_SEND_ALL : CCID_T0_STATE_SEND_ONE;
		return 0;
	}
	if ((b & 0xF0) == 0x60 || (b & 0xF0) == 0x90) {
		t->sw1 = b;
		t->state = CCID_T0_STATE_SW2;
		return 0;
	}
	return -EPROTO;
}

int ccid_t0_feed(struct ccid_t0 *t, const uint8_t *in, size_t len)
{
	int rc;

	if (!t || (!in && len) || t->state == CCID_T0_STATE_IDLE)
		return -EINVAL;
	/* what ccid_t0_next gave to send went out before these bytes came */
	switch (t->state) {
	case CCID_T0_STATE_HEADER:
		t->state = CCID_T0_STATE_PROC;
		break;
	case CCID_T0_STATE_SEND_ALL:
		t->sent = t->nc;
		t->state = CCID_T0_STATE_PROC;
		break;
	case CCID_T0_STATE_SEND_ONE:
		t->sent++;
		t->state = CCID_T0_STATE_PROC;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t b = in[i];

		switch (t->state) {
		case CCID_T0_STATE_PROC:
			rc = procedure(t, b);
			if (rc < 0)
				return fail(t, rc);
			break;
		case CCID_T0_STATE_RECV_ALL:
		case CCID_T0_STATE_RECV_ONE:
			if (t->got + 2 >= t->cap)
				return fail(t, -EMSGSIZE);
			t->rsp[t->got++] = b;
			if (t->state == CCID_T0_STATE_RECV_ONE || t->got == t->ne)
				t->state = CCID_T0_STATE_PROC;
			break;
		case CCID_T0_STATE_SW2:
			t->sw2 = b;
			t->rsp[t->got] = t->sw1;
			t->rsp[t->got + 1] = t->sw2;
			t->state = CCID_T0_STATE_DONE;
			break;
		default:
			/* the card sends while it should wait for our data, or after SW2 */
			return fail(t, -EPROTO);
		}
	}
	return t->state == CCID_T0_STATE_DONE ? CCID_T0_DONE : CCID_T0_MORE;
}

size_t ccid_t0_response_len(const struct ccid_t0 *t)
{
	return t && t->state == CCID_T0_STATE_DONE ? t->got + 2 : 0;
}

unsigned long ccid_t0_nulls(const struct ccid_t0 *t)
{
	return t ? t->nulls : 0;
}
