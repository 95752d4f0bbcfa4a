/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reader's open lock (docs/locks.md): uccid_open() of a named reader
 * takes an exclusive lock on the reader's "open" lock file before it opens
 * the device, and holds it until uccid_close().  USB claims and USB/IP
 * imports are exclusive anyway; the lock file turns "busy" into a wait in
 * order, and into an error that names the process that has the reader.
 * Also the lock managers on a reader's lock files and what they say of a
 * holder, for the slot locks (locks.c).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session/session_priv.h"
#include "util/clock.h"
#include "transport/usb_names.h"

/* The open lock has nothing to dispose of: its "card" is the whole reader. */
static _Atomic lockmgr_owner_t next_owner = 1;
static _Thread_local lockmgr_owner_t my_owner;

/* Lock-manager owners are threads: one number per thread, for its life. */
lockmgr_owner_t uccid_owner(void)
{
	if (!my_owner)
		my_owner = atomic_fetch_add(&next_owner, 1);
	return my_owner;
}

/* The open lock has nothing to dispose of: its "card" is the whole reader. */
static int dispose_nothing(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	(void)ctx, (void)slot, (void)d;
	*done = LOCKMGR_DONE_NOTHING;
	return 0;
}

static const struct lockmgr_ops open_ops = { .dispose = dispose_nothing };

const char *uccid_lock_dir(const char *dir)
{
	const char *env;

	if (dir && *dir)
		return dir;
	env = getenv("UCCID_LOCK_DIR");
	return env && *env ? env : NULL;
}

struct lockmgr *uccid_open_manager(const char *ident, const char *dir, const char *program, unsigned slots,
				   bool for_open, bool no_create, const struct lockmgr_ops *ops, void *ctx, char *err,
				   size_t errlen)
{
	char id[200];
	struct lockmgr_config cfg = {
		.slots = slots,
		.reader_id = id,
		.runtime_dir = uccid_lock_dir(dir),
		.program = program,
		.abandon = for_open ? LOCKMGR_LEAVE : 0,
		.abandon_set = for_open,        /* slot locks: the default, RESET */
		.ops = for_open ? &open_ops : ops,
		.ctx = ctx,
		.no_create = no_create,
		.err = err,
		.errlen = errlen,
	};

	snprintf(id, sizeof(id), "%s%s", for_open ? "open:" : "", ident);
	return lockmgr_new(&cfg);
}

void uccid_holder_from(const struct lockmgr_holder_info *in, struct uccid_holder *out)
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
	char who[128], why[512];
	int rc, wait = opts ? opts->open_wait_ms : 0;
	int64_t deadline = wait > 0 ? uccid_mono_ms() + wait : 0;

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
	ol->owner = uccid_owner();
	/* a holder removes the file as it leaves (uccid_open_unlock): a waiter then opens the name
	   again, a new file, and waits for the rest of its time */
	for (int tries = 0;; tries++) {
		int left = wait > 0 ? (int)(deadline - uccid_mono_ms()) : wait;

		ol->lm = uccid_open_manager(ol->ident, opts ? opts->lock_dir : NULL, opts ? opts->program : NULL, 1,
					    true, false, NULL, NULL, why, sizeof(why));
		if (!ol->lm && errno == EPROTO) {
			/* a corrupted lock file: locking across processes cannot be trusted */
			snprintf(err, errlen, "%s: %s (remove it once no process uses the reader)", name, why);
			return -EPROTO;
		}
		if (!ol->lm) {
			/* reported by the session once it has a log (uccid_locks_init) */
			ol->lm_errno = errno;
			return 0;
		}
		rc = lockmgr_lock(ol->lm, 0, ol->owner, wait > 0 && left < 1 ? 1 : left, 0, NULL);
		if (rc != -ESTALE || tries >= 100)
			break;
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
	if (rc == -EBUSY || rc == -ETIMEDOUT) {
		if (lockmgr_holder(ol->lm, 0, &hi) == 0) {
			uccid_holder_from(&hi, &h);
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
		/* removed while held: nothing in it outlives the hold (a waiter opens the name again) */
		(void)lockmgr_unlink(ol->lm, false);
		lockmgr_unlock(ol->lm, 0, ol->owner, LOCKMGR_LEAVE, NULL);
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
}
