/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A passive session (opts.passive, issue 15): a holder of a named reader
 * that lets other processes go first, as uccid watch does.  A thread sleeps
 * on the open lock's call word (lockmgr_call_wait: a futex, no timeout, so
 * that an idle reader still wakes nobody) and, when another process asks for
 * the reader, reports UCCID_EVENT_YIELD to the event waiter once and ends.
 * The caller closes the handle; the open lock file stays for the asker
 * (uccid_open_unlock), and opening the reader again waits until every asker
 * is served (openlock.c).  docs/locks.md "Passive holders".
 */
#include "config.h"

#include <errno.h>

#include "session/session_priv.h"

static void *listener(void *arg)
{
	struct uccid_reader *r = arg;
	struct lockmgr *lm = r->open.lm;

	for (;;) {
		/* the word first, then the look: a call after the look moved it, and the
		   wait returns at once (lockmgr/call.c) */
		uint32_t seq = lockmgr_call_seq(lm, 0);
		pid_t pid = 0;
		int n;

		if (atomic_load(&r->yield_stop))
			break;
		n = lockmgr_called(lm, 0, &pid);
		if (n < 0) {
			uccid_log(r, UCCID_LOG_WARNING, "passive: cannot look for a process asking for the reader: %s",
				  uccid_strerror(n));
			break;
		}
		if (n > 0) {
			reader_lock(r);
			r->yield_pid = pid;
			r->yield_asked = true;
			/* read by uccid_close after it joined this thread */
			r->open.keep = true;
			uccid_push_event(r, UCCID_EVENT_YIELD, 0, 0);
			reader_unlock(r);
			break;
		}
		(void)lockmgr_call_wait(lm, 0, seq);
	}
	return NULL;
}

int uccid_passive_start(struct uccid_reader *r)
{
	int rc;

	if (!r->opt.passive || !r->open.lm)
		return 0;
	atomic_store(&r->yield_stop, false);
	rc = pthread_create(&r->yield_thread, NULL, listener, r);
	if (rc)
		return -rc;
	r->yield_running = true;
	return 0;
}

void uccid_passive_stop(struct uccid_reader *r)
{
	if (!r->yield_running)
		return;
	atomic_store(&r->yield_stop, true);
	lockmgr_call_ring(r->open.lm, 0);
	pthread_join(r->yield_thread, NULL);
	r->yield_running = false;
}

int uccid_yield_asked(struct uccid_reader *r, long *ret_pid)
{
	bool asked;
	long pid;

	if (!r)
		return 0;
	reader_lock(r);
	asked = r->yield_asked;
	pid = r->yield_pid;
	reader_unlock(r);
	if (asked && ret_pid)
		*ret_pid = pid;
	return asked ? 1 : 0;
}
