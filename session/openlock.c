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
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* A line for the caller's log before there is a session (uccid_log needs one). */
__attribute__((format(printf, 3, 4)))
static void open_log(const struct uccid_options *opts, enum uccid_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!opts || !opts->log || level > opts->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	opts->log(opts->log_ctx, level, msg);
}

/* Who has the reader, for a message: "uccid (pid 1234) since ...", ", a passive holder" after it when so. */
static bool open_holder(struct lockmgr *lm, char *who, size_t len)
{
	struct lockmgr_holder_info hi;
	struct uccid_holder h;
	pid_t passive = lockmgr_passive(lm, 0);

	if (lockmgr_holder(lm, 0, &hi) < 0) {
		snprintf(who, len, "another process");
		return false;
	}
	uccid_holder_from(&hi, &h);
	describe_holder(&h, who, len);
	return passive > 0 && passive == h.pid;
}

/*
 * Wait for the open lock, saying at once whom for (issue 15).  An active
 * opener asks the holder to let go (lockmgr_call): a passive holder
 * (uccid watch) yields; others finish first.  A passive opener lets the
 * callers go first (lockmgr_calls_wait) and asks nobody.
 */
static int open_wait(struct uccid_open_lock *ol, const char *name, const struct uccid_options *opts, int left,
		     bool *said)
{
	int wait = ol->wait_ms;         /* the whole wait, as the user gave it */
	char who[160];
	bool passive = opts && opts->passive, holder_passive;
	int rc;

	for (;;) {
		if (passive) {
			rc = lockmgr_calls_wait(ol->lm, 0, left != 0);
			if (rc < 0)
				return rc;
		}
		rc = lockmgr_lock(ol->lm, 0, ol->owner, 0, 0, NULL);
		if (rc == -EBUSY) {
			holder_passive = open_holder(ol->lm, who, sizeof(who));
			/* a passive holder never keeps an active opener out, not even one that would not wait */
			if (left == 0 && (passive || !holder_passive))
				return rc;
			if (left == 0)
				left = wait = ol->wait_ms = UCCID_YIELD_WAIT_MS;
			if (!*said) {
				char limit[48] = "without limit";

				if (wait > 0 && wait % 1000 == 0)
					snprintf(limit, sizeof(limit), "up to %d s", wait / 1000);
				else if (wait > 0)
					snprintf(limit, sizeof(limit), "up to %d.%03d s", wait / 1000, wait % 1000);
				open_log(opts, UCCID_LOG_WARNING, "%s: reader busy: waiting %s for %s%s%s", name, limit, who,
					 holder_passive ? ", a passive holder" : "",
					 passive ? "" : holder_passive ? ": asked it to yield" : "");
				*said = true;
			}
			if (passive && left < 0) {
				/* without limit: asleep until the holder's release rings (a dead holder
				   is seen within a second), not in the lock manager's wait, which looks
				   again every 20 ms */
				rc = lockmgr_wait_free(ol->lm, 0);
				if (rc < 0 && rc != -EINTR && rc != -ENOTSUP)
					return rc;
				if (rc != -ENOTSUP)
					continue;
			}
			if (!passive)
				(void)lockmgr_call(ol->lm, 0);  /* best effort: a holder that cannot hear it finishes first */
			rc = lockmgr_lock(ol->lm, 0, ol->owner, left, 0, NULL);
			if (!passive)
				lockmgr_call_end(ol->lm, 0);
		}
		/* a passive opener that won the lock from a process asking for it lets that one go first */
		if (rc == 0 && passive && lockmgr_called(ol->lm, 0, NULL) > 0) {
			lockmgr_unlock(ol->lm, 0, ol->owner, LOCKMGR_LEAVE, NULL);
			continue;
		}
		return rc;
	}
}

int uccid_open_lock(struct uccid_open_lock *ol, const char *name, const struct uccid_options *opts, char *err,
		    size_t errlen)
{
	char who[160], why[512];
	int rc, wait = opts ? opts->open_wait_ms : 0;
	int64_t deadline = wait > 0 ? uccid_mono_ms() + wait : 0;
	bool said = false;

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
	ol->wait_ms = wait;
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
		rc = open_wait(ol, name, opts, wait > 0 && left < 1 ? 1 : left, &said);
		if (rc != -ESTALE || tries >= 100)
			break;
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
	if (rc == -EBUSY || rc == -ETIMEDOUT) {
		bool passive = open_holder(ol->lm, who, sizeof(who));

		snprintf(err, errlen, "%s: reader busy: in use by %s%s", name, who, passive ? ", a passive holder" : "");
		rc = -EBUSY;
	} else if (rc < 0) {
		snprintf(err, errlen, "%s: lock file %s: %s", name, lockmgr_path(ol->lm), strerror(-rc));
	} else {
		/* the file outlives a yield (uccid_open_unlock): a passive mark of before is not ours */
		lockmgr_set_passive(ol->lm, 0, opts && opts->passive ? getpid() : 0);
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
		/* removed while held: nothing in it outlives the hold (a waiter opens the name again);
		   kept when a process asked for the reader (a passive holder's yield): it waits on this
		   file, and removes it as it leaves */
		if (!ol->keep)
			(void)lockmgr_unlink(ol->lm, false);
		lockmgr_set_passive(ol->lm, 0, 0);
		lockmgr_unlock(ol->lm, 0, ol->owner, LOCKMGR_LEAVE, NULL);
		lockmgr_free(ol->lm);
		ol->lm = NULL;
	}
}
