/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who holds a slot and since when — from this manager's own state when it
 * holds the slot, otherwise from the shared record of the lock file checked
 * against the kernel's OFD lock (F_OFD_GETLK): a record marked held whose
 * lock the kernel has freed belonged to a holder that died.  This is what
 * "uccid locks" and every busy error print.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lockmgr/lockmgr_priv.h"

int lockmgr_holder(struct lockmgr *m, unsigned slot, struct lockmgr_holder_info *ret)
{
	struct lockmgr_holder_info info = { .state = LOCKMGR_HOLDER_FREE };
	struct lm_holder_rec rec;
	struct lm_slot *s;
	int r = 0, held;

	if (!m || slot >= m->nslots || !ret)
		return -EINVAL;
	s = &m->slots[slot];
	pthread_mutex_lock(&m->lock);
	lm_inflate(s);  /* a fast holder is reported like any other */
	info.waiters = s->nwaiters + (m->file ? lm_file_sleepers(m->file, slot) : 0);
	if (s->state == LM_HELD || s->state == LM_RELEASING || (s->state == LM_ACQUIRING && s->ofd_held)) {
		info.state = LOCKMGR_HOLDER_HELD;
		info.this_manager = true;
		info.owner = s->owner;
		info.count = s->count;
		info.pid = m->pid;
		memcpy(info.program, m->program, sizeof(info.program));
		info.since = s->since;
	} else if (m->file) {
		held = lm_file_probe(m->file, slot);
		if (held < 0) {
			r = held;
			goto out;
		}
		/* Records are written only under the OFD lock: when nobody holds it, no write is under
		   way, and an odd sequence number is a writer that died in the middle (abandoned),
		   not one to wait for (-EAGAIN forever: found by fuzz_lockfile). */
		r = lm_file_read(m->file, slot, !held, &rec);
		if (r < 0)
			goto out;
		if (rec.corrupt[0]) {
			/* a long path is cut: the problem is still named */
			if (snprintf(ret->problem, sizeof(ret->problem), "lock file %s: slot %u: %s", m->path, slot,
				     rec.corrupt) >= (int)sizeof(ret->problem))
				ret->problem[sizeof(ret->problem) - 1] = '\0';
			r = -EPROTO;
			goto out;
		}
		if (held || rec.held) {
			/* held with a record not yet written (the new holder is still disposing
			   of an abandoned card): pid 0, program "" */
			info.state = held ? LOCKMGR_HOLDER_HELD : LOCKMGR_HOLDER_ABANDONED;
			if (rec.held) {
				info.owner = rec.owner;
				info.pid = rec.pid;
				memcpy(info.program, rec.program, sizeof(info.program));
				info.since = rec.since;
			}
		}
	}
	*ret = info;
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}
