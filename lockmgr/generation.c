/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The card-state generation of each slot and the handles that watch it.
 * Every reset, power-off, eject, removal or insertion bumps the generation;
 * a handle compares it with the generation it last acknowledged, the way a
 * PC/SC handle gets SCARD_W_RESET_CARD or SCARD_W_REMOVED_CARD on its next
 * call after another handle reset or the user removed the card, and keeps
 * getting it until it reconnects (here: lockmgr_ack()).  Also the slot's
 * eject latch, the other card state a disposition leaves behind.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "lockmgr/lockmgr_priv.h"

static bool removal_class(enum lockmgr_event ev)
{
	return ev == LOCKMGR_EV_EJECT || ev == LOCKMGR_EV_REMOVED || ev == LOCKMGR_EV_INSERTED;
}

/* Called with m->lock held. */
void lm_bump(struct lockmgr *m, unsigned slot, enum lockmgr_event ev, bool has_except,
	     lockmgr_owner_t except_owner)
{
	struct lm_slot *s = &m->slots[slot];
	uint64_t before = s->gen;

	s->gen++;
	if (removal_class(ev))
		s->removed_gen = s->gen;
	/* The owner that chose the disposition knows what it did: its handles that were up
	   to date stay so.  A handle with news still unacknowledged keeps it. */
	if (has_except)
		for (struct lockmgr_handle *h = s->handles; h; h = h->next)
			if (h->owner == except_owner && h->seen == before)
				h->seen = s->gen;
}

/*
 * What a disposition amounts to for other handles.  A failed disposition
 * (status < 0) that reports nothing done leaves the card in an unknown state:
 * other handles must assume it was reset.  The reader reports a removal that
 * made it fail as its own event.
 */
enum lockmgr_event lm_done_event(enum lockmgr_disposition d, enum lockmgr_done done, int status)
{
	switch (done) {
	case LOCKMGR_DONE_RESET:
		return LOCKMGR_EV_RESET;
	case LOCKMGR_DONE_UNPOWERED:
		return LOCKMGR_EV_POWER_OFF;
	case LOCKMGR_DONE_EJECTED:
	case LOCKMGR_DONE_LATCHED:
		return LOCKMGR_EV_EJECT;
	case LOCKMGR_DONE_NOTHING:
		break;
	}
	if (status < 0 && d != LOCKMGR_LEAVE)
		return LOCKMGR_EV_RESET;
	return 0;
}

int lockmgr_card_event(struct lockmgr *m, unsigned slot, enum lockmgr_event ev)
{
	if (!m || slot >= m->nslots || (unsigned)ev < LOCKMGR_EV_RESET || (unsigned)ev > LOCKMGR_EV_INSERTED)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	lm_bump(m, slot, ev, false, 0);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

uint64_t lockmgr_generation(struct lockmgr *m, unsigned slot)
{
	uint64_t g;

	if (!m || slot >= m->nslots)
		return 0;
	pthread_mutex_lock(&m->lock);
	g = m->slots[slot].gen;
	pthread_mutex_unlock(&m->lock);
	return g;
}

int lockmgr_handle_open(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, struct lockmgr_handle **ret)
{
	struct lockmgr_handle *h;

	if (!m || slot >= m->nslots || !ret)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->m = m;
	h->slot = slot;
	h->owner = owner;
	pthread_mutex_lock(&m->lock);
	h->seen = m->slots[slot].gen;
	h->next = m->slots[slot].handles;
	m->slots[slot].handles = h;
	pthread_mutex_unlock(&m->lock);
	*ret = h;
	return 0;
}

void lockmgr_handle_close(struct lockmgr_handle *h)
{
	struct lockmgr_handle **p;

	if (!h)
		return;
	pthread_mutex_lock(&h->m->lock);
	for (p = &h->m->slots[h->slot].handles; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	pthread_mutex_unlock(&h->m->lock);
	free(h);
}

int lockmgr_check(const struct lockmgr_handle *h)
{
	const struct lm_slot *s;
	int r = 0;

	if (!h)
		return -EINVAL;
	s = &h->m->slots[h->slot];
	pthread_mutex_lock(&h->m->lock);
	if (s->removed_gen > h->seen)
		r = LOCKMGR_W_REMOVED_CARD;
	else if (s->gen > h->seen)
		r = LOCKMGR_W_RESET_CARD;
	pthread_mutex_unlock(&h->m->lock);
	return r;
}

int lockmgr_ack(struct lockmgr_handle *h)
{
	if (!h)
		return -EINVAL;
	pthread_mutex_lock(&h->m->lock);
	h->seen = h->m->slots[h->slot].gen;
	pthread_mutex_unlock(&h->m->lock);
	return 0;
}

int lockmgr_latch(struct lockmgr *m, unsigned slot, int op)
{
	int r;

	if (!m || slot >= m->nslots || op < -1 || op > 1)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->file) {
		r = lm_file_latch(m->file, slot, op, m->instance);
	} else {
		struct lm_slot *s = &m->slots[slot];

		if (op == 1)
			s->latch_instance = m->instance;
		if (op >= 0)
			s->latched = op;
		if (s->latched && s->latch_instance != m->instance)
			s->latched = false;
		r = s->latched;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int lockmgr_set_instance(struct lockmgr *m, uint32_t instance)
{
	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->instance = instance;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
