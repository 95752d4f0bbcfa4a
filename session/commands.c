/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One-command primitives on a slot whose s->op the caller holds: slot
 * status, power off, and the commands without data (Mechanical, IccClock).
 * Below the slot gate, so that the gate itself may ask the reader
 * (gate.c's verify) and the dispositions may use them inside a lock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_priv.h"

#define COMMAND_MS 5000

void uccid_forget_card(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev)
{
	s->atr_len = 0;
	reader_lock(r);
	uccid_card_unpowered(r, s, ev);
	reader_unlock(r);
}

int uccid_do_power_off(struct uccid_reader *r, struct uslot *s)
{
	uint8_t msg[CCID_HEADER_SIZE], ans[64];
	struct ccid_msg m;
	int rc;

	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_ICC_POWER_OFF, 0, 0, 0, NULL, 0), ans,
			sizeof(ans), COMMAND_MS, &m);
	if (rc < 0)
		return rc;
	uccid_forget_card(r, s, LOCKMGR_EV_POWER_OFF);
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		return uccid_answer_error(r, s, &m);
	return 0;
}

/* What the card runs with under protocol, from the ATR and the negotiation (s->op held). */
static void card_params(const struct uccid_reader *r, const struct uslot *s, uint8_t protocol,
			struct uccid_card_params *p)
{
	const struct ccid_atr *a = &s->atrp;
	bool host_t1 = protocol == CCID_PROTOCOL_T1 && r->level == CCID_LEVEL_TPDU;
	uint32_t max_ifsd = r->desc.dwMaxIFSD && r->desc.dwMaxIFSD < 254 ? r->desc.dwMaxIFSD : 254;

	p->clock_khz = r->clock_khz;
	p->fidi = s->fidi;
	p->F = ccid_fi(s->fidi >> 4);
	p->D = ccid_di(s->fidi & 0x0F);
	p->N = a->N;
	p->WI = a->WI;
	p->BWI = a->BWI;
	p->CWI = a->CWI;
	p->edc = a->edc == CCID_EDC_CRC ? 1 : 0;
	/* the host runs T=1 at TPDU level (its current sizes); above it, the reader does */
	p->IFSC = host_t1 ? s->t1.ifsc : a->IFSC;
	p->IFSD = host_t1 ? s->t1.ifsd : (uint8_t)max_ifsd;
}

int uccid_do_slot_status(struct uccid_reader *r, struct uslot *s, struct uccid_slot_status *ret)
{
	uint8_t msg[CCID_HEADER_SIZE], ans[64];
	struct ccid_msg m;
	bool active;
	bool lost = false;
	int rc;

	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0), ans,
			sizeof(ans), COMMAND_MS, &m);
	if (rc < 0)
		return rc;
	memset(ret, 0, sizeof(*ret));
	ret->present = CCID_ICC_STATUS(m.rsp.bStatus) != CCID_ICC_ABSENT;
	active = CCID_ICC_STATUS(m.rsp.bStatus) == CCID_ICC_ACTIVE;
	/* a card the reader reports inactive is not powered, whatever we thought */
	reader_lock(r);
	if (!active && s->card.powered) {
		s->atr_len = 0;
		/*
		 * Only this session powers cards off (the open lock keeps other hosts
		 * out), so a card it powered found off was removed and inserted — or
		 * deactivated by the reader after a fault, which no host can tell from
		 * a swap.  A reader with an interrupt endpoint says which in a
		 * NotifySlotChange (events.c); on one without, this answer is all there
		 * will be: a swap, as libccid takes it (IFDHICCPresence).
		 */
		lost = ret->present && !r->t->info.ep_intr_in;
		if (lost)
			uccid_card_swapped(r, s);
		else
			uccid_card_unpowered(r, s, LOCKMGR_EV_POWER_OFF);
	}
	/* and one it reports active is, even if this session never powered it (another
	   process did, or a holder that died) */
	ret->powered = s->card.powered || active;
	ret->protocol = s->card.protocol;
	ret->generation = s->card.generation;
	ret->changes = s->card.changes;
	reader_unlock(r);
	if (lost)
		uccid_log(r, UCCID_LOG_INFO, "slot %u: the powered card is off: it was removed and inserted", s->index);
	memcpy(ret->atr, s->atr, s->atr_len);
	ret->atr_len = s->atr_len;
	if (ret->protocol <= CCID_PROTOCOL_T1)
		card_params(r, s, ret->protocol, &ret->params);
	ret->ejected = lockmgr_latch(r->lm, s->index, -1) == 1;
	if (CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		rc = uccid_answer_error(r, s, &m);
	return rc;
}

ssize_t uccid_do_escape(struct uccid_reader *r, struct uslot *s, const uint8_t *data, size_t len, uint8_t *rsp,
			size_t cap)
{
	uint8_t *msg = malloc(CCID_HEADER_SIZE + len), *ans = malloc(r->max_msg + 16);
	struct ccid_msg m;
	ssize_t rc;

	if (!msg || !ans) {
		rc = -ENOMEM;
		goto out;
	}
	rc = uccid_xchg(r, s, msg, uccid_build(msg, CCID_HEADER_SIZE + len, CCID_PC_TO_RDR_ESCAPE, 0, 0, 0, data, len),
			ans, r->max_msg + 16, COMMAND_MS, &m);
	if (rc == 0 && CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		rc = uccid_answer_error(r, s, &m);
	else if (rc == 0 && m.dwLength > cap)
		rc = -EMSGSIZE;
	else if (rc == 0) {
		if (m.dwLength)         /* abData is NULL for an empty answer */
			memcpy(rsp, m.abData, m.dwLength);
		rc = (ssize_t)m.dwLength;
	}
out:
	free(msg);
	free(ans);
	return rc;
}

int uccid_do_simple(struct uccid_reader *r, struct uslot *s, uint8_t type, uint8_t b7)
{
	uint8_t msg[CCID_HEADER_SIZE], ans[64];
	struct ccid_msg m;
	int rc;

	rc = uccid_xchg(r, s, msg, uccid_build(msg, sizeof(msg), type, b7, 0, 0, NULL, 0), ans, sizeof(ans), COMMAND_MS,
			&m);
	if (rc == 0 && CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED)
		rc = uccid_answer_error(r, s, &m);
	if (rc == 0 && type == CCID_PC_TO_RDR_MECHANICAL && (b7 == CCID_MECH_EJECT || b7 == CCID_MECH_CAPTURE))
		uccid_forget_card(r, s, LOCKMGR_EV_EJECT);
	return rc;
}
