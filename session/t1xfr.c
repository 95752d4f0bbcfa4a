/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * T=1 at TPDU and character level, one block at a time: the block the slot's
 * T=1 engine has due goes to the card by XfrBlock (bBWI carrying the card's
 * S(WTX) multiplier, CCID §6.1.4; at the character level through
 * charlevel.c) and the answer is fed back; and the engine's end
 * as an errno.  Shared by APDU exchange (apdu.c) and PIN entry (secure.c),
 * which sends the PIN's I-block by other means and everything else here.
 * s->op held.
 */
#include "config.h"

#include <errno.h>

#include "session/session_priv.h"

int uccid_t1_step(struct uccid_reader *r, struct uslot *s, int *st, int *lost)
{
	uint8_t blk[CCID_T1_BLOCK_MAX], msg[CCID_HEADER_SIZE + CCID_T1_BLOCK_MAX];
	uint8_t ans[CCID_HEADER_SIZE + CCID_T1_BLOCK_MAX + 16];
	unsigned wtx = ccid_t1_wtx(&s->t1);
	int n = ccid_t1_next_block(&s->t1, blk, sizeof(blk));
	struct ccid_msg m;
	int rc;

	if (n < 0)
		return -EPROTO;
	if (r->level == CCID_LEVEL_CHARACTER)
		/* the host reads the prologue, then LEN + EDC (charlevel.c) */
		rc = uccid_char_t1(r, s, blk, (size_t)n, ans, sizeof(ans), s->bwt_ms * (wtx ? wtx : 1) + 1000, &m);
	else
		rc = uccid_xchg(r, s, msg,
				uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_XFR_BLOCK,
					    wtx > 1 ? (uint8_t)(wtx > 255 ? 255 : wtx) : 0, 0, 0, blk, (size_t)n),
				ans, sizeof(ans), s->bwt_ms * (wtx ? wtx : 1) + 1000, &m);
	if (rc < 0)
		return rc;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED) {
		/* no block within BWT (or a parity error): the engine's error recovery (ISO 7816-3 §11.6.3) */
		if (CCID_ICC_STATUS(m.rsp.bStatus) != CCID_ICC_ABSENT
		    && (m.rsp.bError == CCID_ERR_ICC_MUTE || m.rsp.bError == CCID_ERR_XFR_PARITY_ERROR)) {
			*lost = uccid_answer_error(r, s, &m);
			*st = ccid_t1_feed(&s->t1, NULL, 0);
			return 0;
		}
		return uccid_answer_error(r, s, &m);
	}
	*lost = 0;
	*st = ccid_t1_feed(&s->t1, m.abData, m.dwLength);
	return 0;
}

ssize_t uccid_t1_result(struct uslot *s, int st, int lost)
{
	if (st == -EMSGSIZE)
		return -EMSGSIZE;
	/* recovery gave up while the card stayed mute (or garbled): say so, not "protocol error" */
	if (st < 0 && lost)
		return lost;
	if (st < 0)
		return st == -ECONNABORTED ? -EPROTO : st;
	return (ssize_t)ccid_t1_response_len(&s->t1);
}
