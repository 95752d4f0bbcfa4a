/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card locks in libuccid (uccid.h "Card locks", docs/locks.md): the lock
 * manager (lockmgr/) wired to a reader session.  uccid_lock() /
 * uccid_unlock() for the calling thread, with the dispositions carried out
 * here (dispose(), the lock manager's callback) as CCID commands: LEAVE
 * nothing, RESET a warm IccPowerOn, UNPOWER IccPowerOff, EJECT Mechanical
 * eject or a power-off and a latch.  The slot gate (gate.c) makes every
 * other operation wait for a slot another thread holds.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_priv.h"
#include "transport/usb_names.h"

/* uccid_unlock() hands its disposition to the lock manager as it is: one numbering, PC/SC's. */
_Static_assert(UCCID_LEAVE == (int)LOCKMGR_LEAVE && UCCID_RESET == (int)LOCKMGR_RESET &&
	       UCCID_UNPOWER == (int)LOCKMGR_UNPOWER && UCCID_EJECT == (int)LOCKMGR_EJECT,
	       "libuccid and the lock manager number dispositions alike");

/*
 * IccPowerOff for a disposition: a reader answers it for an empty slot too
 * (bmICCStatus 2), but then there was no card to leave in any state, which
 * the owner must hear (s->op held).
 */
static int power_off_card(struct uccid_reader *r, struct uslot *s)
{
	int rc = uccid_do_power_off(r, s);
	bool present;

	reader_lock(r);
	present = s->card.present;
	reader_unlock(r);
	return rc == 0 && !present ? -ENOMEDIUM : rc;
}

/* EJECT: the mechanism where dwMechanical declares one, else power off and latch (s->op held). */
static int eject_card(struct uccid_reader *r, struct uslot *s, enum uccid_done *done)
{
	int rc;

	*done = UCCID_DONE_NOTHING;
	if (r->desc.dwMechanical & CCID_MECHANICAL_EJECT) {
		rc = uccid_do_simple(r, s, CCID_PC_TO_RDR_MECHANICAL, CCID_MECH_EJECT);
		if (rc == 0)
			*done = UCCID_DONE_EJECTED;
		return rc;
	}
	rc = power_off_card(r, s);
	if (rc == -ENOMEDIUM)
		return rc;      /* nothing to latch: the card is already out */
	/* latched even if the power-off failed: the card must not be used until it was out */
	lockmgr_latch(r->lm, s->index, 1);
	if (rc == 0)
		*done = UCCID_DONE_LATCHED;
	return rc;
}

/*
 * The lock manager's dispose callback: d on the card in slot, while the
 * unlocking (or, for an abandoned slot, the locking) thread owns it.
 */
static int dispose(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	struct uccid_reader *r = ctx;
	struct uslot *s = &r->slots[slot];
	struct uccid_slot_status st;
	enum uccid_done dn = UCCID_DONE_NOTHING;
	int rc = 0;

	pthread_mutex_lock(&s->op);
	reader_lock(r);
	uccid_card_set_disposing(r, s, true);
	st.powered = s->card.powered;
	reader_unlock(r);
	switch (d) {
	case LOCKMGR_RESET:
		/* A card this session powered gets exactly an IccPowerOn.  Otherwise ask the
		   reader: after a holder died, this session does not know the card is on —
		   and that card is exactly the one that must not pass on authenticated. */
		if (!st.powered) {
			rc = uccid_do_slot_status(r, s, &st);
			if (rc == 0 && !st.present)
				rc = -ENOMEDIUM;
		}
		if (rc == 0 && st.powered) {
			/* a warm reset is IccPowerOn on a powered card (CCID §6.1.1) */
			rc = uccid_do_power_on(r, s, UCCID_VOLTAGE_AUTO, true);
			if (rc == 0)
				dn = UCCID_DONE_RESET;
		}
		break;
	case LOCKMGR_UNPOWER:
		rc = power_off_card(r, s);
		if (rc == 0)
			dn = UCCID_DONE_UNPOWERED;
		break;
	case LOCKMGR_EJECT:
		rc = eject_card(r, s, &dn);
		break;
	default:
		break;  /* LEAVE is never passed */
	}
	reader_lock(r);
	uccid_card_set_disposing(r, s, false);
	reader_unlock(r);
	pthread_mutex_unlock(&s->op);
	*done = (enum lockmgr_done)dn;
	if (rc < 0)
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: %s disposition: %s", slot, lockmgr_disposition_name(d),
			  uccid_strerror(rc));
	return rc;
}

static int mechanical_lock(void *ctx, unsigned slot, bool lock)
{
	struct uccid_reader *r = ctx;
	struct uslot *s = &r->slots[slot];
	int rc;

	if (!(r->desc.dwMechanical & CCID_MECHANICAL_LOCK))
		return -ENOTSUP;
	pthread_mutex_lock(&s->op);
	rc = uccid_do_simple(r, s, CCID_PC_TO_RDR_MECHANICAL, lock ? CCID_MECH_LOCK : CCID_MECH_UNLOCK);
	pthread_mutex_unlock(&s->op);
	return rc;
}

static const struct lockmgr_ops slot_ops = {
	.dispose = dispose,
	.mechanical_lock = mechanical_lock,
};

int uccid_locks_init(struct uccid_reader *r, char *err, size_t errlen)
{
	int abandon = r->opt.abandon_disposition_set ? r->opt.abandon_disposition : UCCID_RESET;
	struct lockmgr_config local = {
		.slots = r->nslots,
		.reader_id = "process-local",
		.process_local = true,
		.program = r->opt.program,
		.abandon = (enum lockmgr_disposition)abandon,
		.abandon_set = true,
		.ops = &slot_ops,
		.ctx = r,
	};

	if (!r->opt.abandon_disposition_set && r->opt.abandon_disposition != 0) {
		/* a value without the flag: say so rather than carry out RESET instead of it */
		snprintf(err, errlen, "abandon_disposition %d is given without abandon_disposition_set",
			 r->opt.abandon_disposition);
		return -EINVAL;
	}
	if (abandon < UCCID_LEAVE || abandon > UCCID_EJECT) {
		snprintf(err, errlen, "abandon disposition %d is not one of leave, reset, unpower, eject", abandon);
		return -EINVAL;
	}
	if (r->open.ident[0] && !r->open.lm)
		uccid_log(r, UCCID_LOG_WARNING, "%s: no lock file (%s): locks hold within this process only",
			  r->open.ident, strerror(r->open.lm_errno));
	if (r->open.lm) {
		struct lockmgr_config cfg = local;
		char id[200], why[512];

		snprintf(id, sizeof(id), "%s", r->open.ident);
		cfg.reader_id = id;
		cfg.process_local = false;
		cfg.runtime_dir = uccid_lock_dir(r->opt.lock_dir);
		cfg.err = why;
		cfg.errlen = sizeof(why);
		r->lm = lockmgr_new(&cfg);
		if (!r->lm && errno == EPROTO) {
			/* corrupted: not a reason to drop cross-process locking (and the abandon reset) */
			snprintf(err, errlen, "%s: %s (remove it once no process uses the reader)", r->open.ident, why);
			return -EPROTO;
		}
		if (!r->lm)
			uccid_log(r, UCCID_LOG_WARNING, "%s: no slot lock file (%s): slot locks hold within this process",
				  r->open.ident, why);
	}
	if (!r->lm)
		r->lm = lockmgr_new(&local);
	if (!r->lm)
		return -ENOMEM;
	/* the eject latch belongs to this instance of the device (link.c: a new one after a reconnect) */
	lockmgr_set_instance(r->lm, uccid_instance(r));
	return 0;
}

void uccid_locks_free(struct uccid_reader *r)
{
	uccid_handles_free(r);
	/* Under the open lock nobody else locks a slot: the slot lock file goes unless a dead
	   holder's card or a latch is in it, and those too when the reader is gone (a new
	   instance starts unlatched). */
	if (r->open.lm)
		(void)lockmgr_unlink(r->lm, r->dead != -ENODEV);
	lockmgr_free(r->lm);
	r->lm = NULL;
	uccid_open_unlock(&r->open);
}

static int check_slot(struct uccid_reader *r, unsigned slot)
{
	if (!r || !r->lm || slot >= r->nslots)
		return -EINVAL;
	return 0;
}

int uccid_lock(struct uccid_reader *r, unsigned slot, int timeout_ms, unsigned flags, struct uccid_lock_info *ret)
{
	struct lockmgr_lock_info li;
	struct lockmgr_handle *h;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	if (flags & ~UCCID_LOCK_MECHANICAL || timeout_ms < -1)
		return -EINVAL;
	rc = uccid_dead(r);
	if (rc < 0)
		return rc;      /* cancelled or gone: nothing to wait for */
	if (flags & UCCID_LOCK_MECHANICAL && !(r->desc.dwMechanical & CCID_MECHANICAL_LOCK))
		return -ENOTSUP;
	/* the handle first: warnings count from the moment the thread takes part */
	h = uccid_handle_of(r, slot, true);
	if (!h)
		return -ENOMEM;
	rc = lockmgr_lock(r->lm, slot, uccid_owner(), timeout_ms, flags & UCCID_LOCK_MECHANICAL ? LOCKMGR_F_MECHANICAL : 0,
			  &li);
	if (rc == -EOPNOTSUPP)
		rc = -ENOTSUP;
	if (rc < 0)
		return rc;
	if (li.count == 1) {
		reader_lock(r);
		uccid_card_set_left(r, &r->slots[slot], false);
		reader_unlock(r);
		/* the lock is the thread's "connect": what happened before is not news */
		lockmgr_ack(h);
	}
	if (li.abandoned)
		uccid_log(r, UCCID_LOG_WARNING, "slot %u: %s (pid %ld) died holding the card; %s: %s", slot,
			  li.prev_program, (long)li.prev_pid, lockmgr_done_name(li.abandon_done),
			  li.abandon_status ? uccid_strerror(li.abandon_status) : "ok");
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		ret->count = li.count;
		ret->abandoned = li.abandoned;
		ret->prev_pid = li.prev_pid;
		snprintf(ret->prev_program, sizeof(ret->prev_program), "%s", li.prev_program);
		ret->prev_since = (int64_t)li.prev_since.tv_sec;
		ret->abandon_status = li.abandon_status;
		ret->abandon_done = (enum uccid_done)li.abandon_done;
	}
	return 0;
}

int uccid_unlock(struct uccid_reader *r, unsigned slot, int disposition, enum uccid_done *done)
{
	struct lockmgr_holder_info hi;
	enum lockmgr_done dn = LOCKMGR_DONE_NOTHING;
	bool last, was_left = false;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	last = lockmgr_holder(r->lm, slot, &hi) == 0 && hi.this_manager && hi.owner == uccid_owner() &&
	       hi.count == 1;
	/*
	 * "Left as it is" is recorded while this thread still holds the slot: once
	 * lockmgr_unlock returns, the next owner may have locked it and cleared it.
	 */
	if (last && disposition == UCCID_LEAVE) {
		reader_lock(r);
		was_left = r->slots[slot].card.left;
		uccid_card_set_left(r, &r->slots[slot], true);
		reader_unlock(r);
	}
	rc = lockmgr_unlock(r->lm, slot, uccid_owner(), (enum lockmgr_disposition)disposition, &dn);
	if (rc == -EINVAL || rc == -ENOLCK || rc == -EPERM) {
		/* refused: nothing changed */
		if (last && disposition == UCCID_LEAVE) {
			reader_lock(r);
			uccid_card_set_left(r, &r->slots[slot], was_left);
			reader_unlock(r);
		}
		return rc;
	}
	if (done)
		*done = (enum uccid_done)dn;
	return rc;
}

int uccid_lock_holder(struct uccid_reader *r, unsigned slot, struct uccid_holder *ret)
{
	struct lockmgr_holder_info hi;
	int rc = check_slot(r, slot);

	if (rc < 0 || !ret)
		return -EINVAL;
	rc = lockmgr_holder(r->lm, slot, &hi);
	if (rc < 0)
		return rc;
	uccid_holder_from(&hi, ret);
	return 0;
}

/*
 * For reading who holds a named reader (slot -1) or one of its slots: the
 * manager of its lock file if there is one (*ret NULL if not: asking leaves
 * nothing behind).  Returns 0, or the error of resolving the name or opening
 * the file (why says why; may be NULL).
 */
static int existing_manager(const char *name, const char *dir, int slot, struct lockmgr **ret, char *why,
			    size_t whylen)
{
	char ident[160];
	int rc = uccid_identity(name, ident, sizeof(ident));

	*ret = NULL;
	if (rc < 0)
		return rc;
	*ret = uccid_open_manager(ident, dir, NULL, slot < 0 ? 1 : (unsigned)slot + 1, slot < 0, true, &slot_ops, NULL,
				  why, whylen);
	if (!*ret)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int uccid_reader_lock_state(const char *name, const char *dir, int slot, struct uccid_holder *ret, char *err,
			    size_t errlen)
{
	struct lockmgr_holder_info hi;
	struct lockmgr *m;
	char why[512] = "";
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!name || !ret || slot < -1 || slot >= LOCKMGR_MAX_SLOTS)
		return -EINVAL;
	rc = existing_manager(name, dir, slot, &m, why, sizeof(why));
	if (rc < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		return rc;
	}
	if (!m) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	rc = lockmgr_holder(m, slot < 0 ? 0 : (unsigned)slot, &hi);
	if (rc == 0)
		uccid_holder_from(&hi, ret);
	else if (rc == -EPROTO && err && errlen)
		snprintf(err, errlen, "%s (its card is reset before the next holder gets it)", hi.problem);
	lockmgr_free(m);
	return rc;
}

int uccid_reader_passive(const char *name, const char *dir)
{
	struct lockmgr_holder_info hi;
	struct lockmgr *m;
	pid_t passive;
	int rc;

	if (!name)
		return -EINVAL;
	rc = existing_manager(name, dir, -1, &m, NULL, 0);
	if (rc < 0 || !m)
		return rc;
	/* the record outlives a passive holder killed before it cleared it: only the holder's counts */
	passive = lockmgr_passive(m, 0);
	rc = lockmgr_holder(m, 0, &hi);
	if (rc == 0)
		rc = passive > 0 && hi.state == LOCKMGR_HOLDER_HELD && hi.pid == passive ? (int)passive : 0;
	lockmgr_free(m);
	return rc;
}

int uccid_reader_holder(const char *name, const char *dir, int slot, struct uccid_holder *ret)
{
	return uccid_reader_lock_state(name, dir, slot, ret, NULL, 0);
}

int uccid_eject(struct uccid_reader *r, unsigned slot, enum uccid_done *done)
{
	enum uccid_done dn = UCCID_DONE_NOTHING;
	struct uslot *s;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	s = &r->slots[slot];
	rc = uccid_slot_enter(r, s, 0);
	if (rc < 0)
		return rc;
	rc = eject_card(r, s, &dn);
	uccid_slot_leave(r, s);
	if (done)
		*done = dn;
	return rc;
}

int uccid_ejected(struct uccid_reader *r, unsigned slot, bool clear)
{
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	if (clear)
		uccid_log(r, UCCID_LOG_INFO, "slot %u: eject latch cleared by the caller", slot);
	return lockmgr_latch(r->lm, slot, clear ? 0 : -1);
}

int uccid_card_check(struct uccid_reader *r, unsigned slot)
{
	struct lockmgr_handle *h;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	h = uccid_handle_of(r, slot, true);
	return h ? lockmgr_check(h) : -ENOMEM;
}

int uccid_card_ack(struct uccid_reader *r, unsigned slot)
{
	struct lockmgr_handle *h;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	h = uccid_handle_of(r, slot, true);
	return h ? lockmgr_ack(h) : -ENOMEM;
}

const char *uccid_disposition_name(int disposition)
{
	return lockmgr_disposition_name((enum lockmgr_disposition)disposition);
}

int uccid_disposition_parse(const char *name)
{
	return lockmgr_disposition_parse(name);
}

const char *uccid_done_name(enum uccid_done done)
{
	return lockmgr_done_name((enum lockmgr_done)done);
}
