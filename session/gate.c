/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card locks in libuccid (uccid.h "Card locks", docs/locks.md): the lock
 * manager (lockmgr/) wired to a reader session.
 *
 *  - The reader's open lock: uccid_open() of a named reader takes an
 *    exclusive lock on the reader's "open" lock file before it opens the
 *    device, and holds it until uccid_close().  USB claims and USB/IP imports
 *    are exclusive anyway; the lock file turns "busy" into a wait in order,
 *    and into an error that names the process that has the reader.
 *  - Slot locks: uccid_lock() / uccid_unlock() for the calling thread, with
 *    the dispositions carried out here (dispose()) as CCID commands.  Every
 *    other operation on a slot runs under a LOCKMGR_F_LOCAL hold of the
 *    calling thread, so that a slot another thread locked is waited for; the
 *    open lock already keeps other processes out.
 *  - Card-state warnings: a thread that has ever locked a slot has a
 *    lockmgr handle on it, and its operations fail with -ECONNRESET or
 *    -EMEDIUMTYPE after another thread's disposition or a card event, until
 *    it acknowledges (as PC/SC's SCARD_W_RESET_CARD / SCARD_W_REMOVED_CARD).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session/session_priv.h"

static _Atomic lockmgr_owner_t next_owner = 1;
static _Thread_local lockmgr_owner_t my_owner;

lockmgr_owner_t uccid_owner(void)
{
	if (!my_owner)
		my_owner = atomic_fetch_add(&next_owner, 1);
	return my_owner;
}

static int slot_wait_ms(const struct uccid_reader *r)
{
	if (r->opt.slot_wait_ms)
		return r->opt.slot_wait_ms;
	return (int)r->opt.exchange_deadline_ms;
}

/* The calling thread's handle on slot, created when create; NULL if none. */
static struct lockmgr_handle *handle_of(struct uccid_reader *r, unsigned slot, bool create)
{
	lockmgr_owner_t me = uccid_owner();
	struct lockmgr_handle *h = NULL;
	struct uowner *o;

	/* the hot path of every operation: no thread has ever locked a slot of this reader */
	if (!create && !__atomic_load_n(&r->owners, __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&r->own_lock);
	for (o = r->owners; o; o = o->next)
		if (o->owner == me && o->slot == slot) {
			h = o->h;
			goto out;
		}
	if (!create)
		goto out;
	o = calloc(1, sizeof(*o));
	if (!o)
		goto out;
	if (lockmgr_handle_open(r->lm, slot, me, &o->h) < 0) {
		free(o);
		goto out;
	}
	o->owner = me;
	o->slot = slot;
	o->next = r->owners;
	__atomic_store_n(&r->owners, o, __ATOMIC_RELEASE);    /* read without the mutex above */
	h = o->h;
out:
	pthread_mutex_unlock(&r->own_lock);
	return h;
}

static int warning_error(int w)
{
	return w == LOCKMGR_W_REMOVED_CARD ? -EMEDIUMTYPE : w == LOCKMGR_W_RESET_CARD ? -ECONNRESET : 0;
}

/*
 * An interrupt message left it open whether the powered card was swapped
 * (events.c): a card pulled and put back has lost power, so the reader's
 * bmICCStatus decides (s->op held).
 */
static void verify_card(struct uccid_reader *r, struct uslot *s)
{
	struct uccid_slot_status st;
	bool check;

	pthread_mutex_lock(&r->lock);
	check = s->verify;
	s->verify = false;
	pthread_mutex_unlock(&r->lock);
	if (!check || !s->powered || uccid_do_slot_status(r, s, &st) < 0 || st.powered)
		return;
	uccid_log(r, UCCID_LOG_INFO, "slot %u: the card lost power: it was removed and inserted", s->index);
	uccid_card_event(r, s, LOCKMGR_EV_INSERTED);
	pthread_mutex_lock(&r->lock);
	uccid_push_event(r, UCCID_EVENT_REMOVED, s->index, 0);
	uccid_push_event(r, UCCID_EVENT_INSERTED, s->index, 0);
	pthread_mutex_unlock(&r->lock);
}

int uccid_slot_enter(struct uccid_reader *r, struct uslot *s, unsigned how)
{
	struct lockmgr_handle *h;
	int rc, w;

	rc = lockmgr_lock(r->lm, s->index, uccid_owner(), how & UCCID_ENTER_TRY ? 0 : slot_wait_ms(r),
			  LOCKMGR_F_LOCAL, NULL);
	if (rc == -ETIMEDOUT || rc == -EBUSY) {
		if (!(how & UCCID_ENTER_TRY))
			uccid_log(r, UCCID_LOG_WARNING, "slot %u: locked by another thread for more than %d ms",
				  s->index, slot_wait_ms(r));
		return -EBUSY;
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->op);
	verify_card(r, s);
	h = handle_of(r, s->index, false);
	if (h) {
		if (how & UCCID_ENTER_ACK) {
			lockmgr_ack(h);
		} else if ((w = lockmgr_check(h)) > 0) {
			pthread_mutex_unlock(&s->op);
			lockmgr_unlock(r->lm, s->index, uccid_owner(), LOCKMGR_LEAVE, NULL);
			uccid_log(r, UCCID_LOG_INFO, "slot %u: the card was %s since this thread last looked",
				  s->index, w == LOCKMGR_W_REMOVED_CARD ? "removed or replaced" : "reset");
			return warning_error(w);
		}
	}
	return 0;
}

void uccid_slot_leave(struct uccid_reader *r, struct uslot *s)
{
	struct lockmgr_handle *h = handle_of(r, s->index, false);

	/* what the thread did itself is no news to it */
	if (h)
		lockmgr_ack(h);
	pthread_mutex_unlock(&s->op);
	lockmgr_unlock(r->lm, s->index, uccid_owner(), LOCKMGR_LEAVE, NULL);
}

void uccid_card_event(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev)
{
	s->generation++;
	if (ev != LOCKMGR_EV_RESET && ev != LOCKMGR_EV_POWER_OFF)
		s->left = false;
	if (!r->lm)
		return;
	/*
	 * A removal ends an eject latch: the next card may be powered.  Only a removal this
	 * session saw (a status or an event): readers report every slot as changed when a
	 * host configures them, so a session that opens later cannot tell whether a
	 * latched card was pulled meanwhile (uccid_ejected(clear) is for that).
	 */
	if (ev == LOCKMGR_EV_REMOVED)
		lockmgr_latch(r->lm, s->index, 0);
	/* the lock manager accounts for the dispositions it has carried out */
	if (!s->disposing)
		lockmgr_card_event(r->lm, s->index, ev);
}

/*
 * IccPowerOff for a disposition: a reader answers it for an empty slot too
 * (bmICCStatus 2), but then there was no card to leave in any state, which
 * the owner must hear (s->op held).
 */
static int power_off_card(struct uccid_reader *r, struct uslot *s)
{
	int rc = uccid_do_power_off(r, s);

	return rc == 0 && !s->present ? -ENOMEDIUM : rc;
}

/* EJECT: the mechanism where dwMechanical declares one, else power off and latch (s->op held). */
static int do_eject(struct uccid_reader *r, struct uslot *s, enum uccid_done *done)
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
	s->disposing = true;
	switch (d) {
	case LOCKMGR_RESET:
		/* A card this session powered gets exactly an IccPowerOn.  Otherwise ask the
		   reader: after a holder died, this session does not know the card is on —
		   and that card is exactly the one that must not pass on authenticated. */
		st.powered = s->powered;
		if (!s->powered) {
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
		rc = do_eject(r, s, &dn);
		break;
	default:
		break;  /* LEAVE is never passed */
	}
	s->disposing = false;
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

/* The open lock has nothing to dispose of: its "card" is the whole reader. */
static int dispose_nothing(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	(void)ctx, (void)slot, (void)d;
	*done = LOCKMGR_DONE_NOTHING;
	return 0;
}

static const struct lockmgr_ops open_ops = { .dispose = dispose_nothing };

static const char *lock_dir(const char *dir)
{
	const char *env;

	if (dir && *dir)
		return dir;
	env = getenv("UCCID_LOCK_DIR");
	return env && *env ? env : NULL;
}

static struct lockmgr *open_manager(const char *ident, const char *dir, const char *program, unsigned slots,
				    bool for_open, void *ctx)
{
	char id[200];
	struct lockmgr_config cfg = {
		.slots = slots,
		.reader_id = id,
		.runtime_dir = lock_dir(dir),
		.program = program,
		.abandon = for_open ? LOCKMGR_LEAVE : 0,
		.ops = for_open ? &open_ops : &slot_ops,
		.ctx = ctx,
	};

	snprintf(id, sizeof(id), "%s%s", for_open ? "open:" : "", ident);
	return lockmgr_new(&cfg);
}

static void holder_from(const struct lockmgr_holder_info *in, struct uccid_holder *out)
{
	memset(out, 0, sizeof(*out));
	out->held = in->state == LOCKMGR_HOLDER_HELD;
	out->abandoned = in->state == LOCKMGR_HOLDER_ABANDONED;
	out->this_process = in->this_manager;
	out->pid = in->pid;
	snprintf(out->program, sizeof(out->program), "%s", in->program);
	out->since = (int64_t)in->since.tv_sec;
	out->count = in->count;
	out->waiters = in->waiters;
}

/* "uccid (pid 1234) since 2026-11-24 10:00:00" */
static void describe_holder(const struct uccid_holder *h, char *buf, size_t len)
{
	char when[32] = "";
	time_t t = (time_t)h->since;
	struct tm tm;

	if (t && localtime_r(&t, &tm))
		strftime(when, sizeof(when), " since %Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s (pid %ld)%s", h->program[0] ? h->program : "a process", (long)h->pid, when);
}

int uccid_open_lock(struct uccid_open_lock *ol, const char *name, const struct uccid_options *opts, char *err,
		    size_t errlen)
{
	struct lockmgr_holder_info hi;
	struct uccid_holder h;
	char who[128];
	int rc, wait = opts ? opts->open_wait_ms : 0;

	memset(ol, 0, sizeof(*ol));
	if (wait < -1) {
		snprintf(err, errlen, "open_wait_ms %d: not -1, 0 or a time", wait);
		return -EINVAL;
	}
	/* a name that does not resolve is the transport's error to report, precisely */
	if (uccid_identity(name, ol->ident, sizeof(ol->ident)) < 0) {
		ol->ident[0] = '\0';
		return 0;
	}
	ol->lm = open_manager(ol->ident, opts ? opts->lock_dir : NULL, opts ? opts->program : NULL, 1, true, NULL);
	if (!ol->lm) {
		/* reported by the session once it has a log (uccid_locks_init) */
		ol->lm_errno = errno;
		return 0;
	}
	ol->owner = uccid_owner();
	rc = lockmgr_lock(ol->lm, 0, ol->owner, wait, 0, NULL);
	if (rc == -EBUSY || rc == -ETIMEDOUT) {
		if (lockmgr_holder(ol->lm, 0, &hi) == 0) {
			holder_from(&hi, &h);
			describe_holder(&h, who, sizeof(who));
		} else {
			snprintf(who, sizeof(who), "another process");
		}
		snprintf(err, errlen, "%s: reader busy: in use by %s", name, who);
		rc = -EBUSY;
	} else if (rc < 0) {
		snprintf(err, errlen, "%s: lock file %s: %s", name, lockmgr_path(ol->lm), strerror(-rc));
	}
	if (rc < 0) {
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
	return rc;
}

void uccid_open_unlock(struct uccid_open_lock *ol)
{
	if (ol->lm) {
		lockmgr_unlock(ol->lm, 0, ol->owner, LOCKMGR_LEAVE, NULL);
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
}

int uccid_locks_init(struct uccid_reader *r, char *err, size_t errlen)
{
	int abandon = r->opt.abandon_disposition ? r->opt.abandon_disposition : UCCID_RESET;
	struct lockmgr_config local = {
		.slots = r->nslots,
		.reader_id = "process-local",
		.process_local = true,
		.program = r->opt.program,
		.abandon = (enum lockmgr_disposition)abandon,
		.ops = &slot_ops,
		.ctx = r,
	};

	if (abandon < UCCID_LEAVE || abandon > UCCID_EJECT) {
		snprintf(err, errlen, "abandon disposition %d is not one of leave, reset, unpower, eject", abandon);
		return -EINVAL;
	}
	if (r->open.ident[0] && !r->open.lm)
		uccid_log(r, UCCID_LOG_WARNING, "%s: no lock file (%s): locks hold within this process only",
			  r->open.ident, strerror(r->open.lm_errno));
	if (r->open.lm) {
		struct lockmgr_config cfg = local;
		char id[200];

		snprintf(id, sizeof(id), "%s", r->open.ident);
		cfg.reader_id = id;
		cfg.process_local = false;
		cfg.runtime_dir = lock_dir(r->opt.lock_dir);
		r->lm = lockmgr_new(&cfg);
		if (!r->lm)
			uccid_log(r, UCCID_LOG_WARNING, "%s: no slot lock file (%s): slot locks hold within this process",
				  r->open.ident, strerror(errno));
	}
	if (!r->lm)
		r->lm = lockmgr_new(&local);
	if (!r->lm)
		return -ENOMEM;
	return 0;
}

void uccid_locks_free(struct uccid_reader *r)
{
	struct uowner *o, *next;

	for (o = r->owners; o; o = next) {
		next = o->next;
		lockmgr_handle_close(o->h);
		free(o);
	}
	r->owners = NULL;
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
	pthread_mutex_lock(&r->lock);
	rc = r->dead;
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		return rc;      /* cancelled or gone: nothing to wait for */
	if (flags & UCCID_LOCK_MECHANICAL && !(r->desc.dwMechanical & CCID_MECHANICAL_LOCK))
		return -ENOTSUP;
	/* the handle first: warnings count from the moment the thread takes part */
	h = handle_of(r, slot, true);
	if (!h)
		return -ENOMEM;
	rc = lockmgr_lock(r->lm, slot, uccid_owner(), timeout_ms, flags & UCCID_LOCK_MECHANICAL ? LOCKMGR_F_MECHANICAL : 0,
			  &li);
	if (rc == -EOPNOTSUPP)
		rc = -ENOTSUP;
	if (rc < 0)
		return rc;
	if (li.count == 1) {
		r->slots[slot].left = false;
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
	bool last;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	last = lockmgr_holder(r->lm, slot, &hi) == 0 && hi.this_manager && hi.owner == uccid_owner() &&
	       hi.count == 1;
	rc = lockmgr_unlock(r->lm, slot, uccid_owner(), (enum lockmgr_disposition)disposition, &dn);
	if (rc == -EINVAL || rc == -ENOLCK || rc == -EPERM)
		return rc;      /* refused: nothing changed */
	if (last && disposition == UCCID_LEAVE)
		r->slots[slot].left = true;
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
	holder_from(&hi, ret);
	return 0;
}

int uccid_reader_holder(const char *name, const char *dir, int slot, struct uccid_holder *ret)
{
	struct lockmgr_holder_info hi;
	struct lockmgr *m;
	char ident[160];
	int rc;

	if (!name || !ret || slot < -1 || slot >= LOCKMGR_MAX_SLOTS)
		return -EINVAL;
	rc = uccid_identity(name, ident, sizeof(ident));
	if (rc < 0)
		return rc;
	m = open_manager(ident, dir, NULL, slot < 0 ? 1 : (unsigned)slot + 1, slot < 0, NULL);
	if (!m)
		return -errno;
	rc = lockmgr_holder(m, slot < 0 ? 0 : (unsigned)slot, &hi);
	if (rc == 0)
		holder_from(&hi, ret);
	lockmgr_free(m);
	return rc;
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
	rc = do_eject(r, s, &dn);
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
	h = handle_of(r, slot, true);
	return h ? lockmgr_check(h) : -ENOMEM;
}

int uccid_card_ack(struct uccid_reader *r, unsigned slot)
{
	struct lockmgr_handle *h;
	int rc = check_slot(r, slot);

	if (rc < 0)
		return rc;
	h = handle_of(r, slot, true);
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
