/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The call to a passive holder (issue 15, docs/locks.md "Passive holders"):
 * a process waiting for a slot asks the holder to let go, and a holder that
 * declared itself passive (uccid watch) hears of it at once and yields.
 *
 * Two things say "someone asks", each for its own job:
 *  - a read lock (F_OFD_SETLK, F_RDLCK) on the byte after the slot's lock
 *    byte, held by each caller for as long as it asks: the truth, kept by the
 *    kernel, gone the moment a caller dies (kill -9 included), so that a dead
 *    caller never keeps a holder away;
 *  - the call word in the slot's record, a futex every caller bumps and
 *    wakes after taking its read lock: what the holder sleeps on, with no
 *    timeout, so that an idle holder costs no wake-up.
 * The holder reads the word, then looks for a read lock (F_OFD_GETLK), then
 * sleeps while the word still has the value it read: a call that comes after
 * the look moved the word, and the sleep returns at once.
 * A passive process about to take the slot first waits until no caller is
 * left (a write lock on the byte can be had): the callers are served before
 * it.  That wait, and a passive process's wait for the holder to let go,
 * sleep on a futex that every call end (the call word) and every release
 * (the slot's doorbell) rings, and look again every LM_DEATH_CHECK_NS for a
 * caller or holder that died, which rings nothing.  Not F_OFD_SETLKW, which
 * would sleep until the kernel frees the byte: valgrind (3.19) takes that
 * call for one that does not block, and every other thread of the process
 * stops with it (and a threaded test deadlocks).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lockmgr/lockmgr_priv.h"

/* How often a passive process waiting for callers or a holder looks for one that died. */
#define LM_DEATH_CHECK_NS (1000 * 1000 * 1000)

static void futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	/* EAGAIN (the word moved), EINTR, ETIMEDOUT: the caller looks again in every case */
	(void)syscall(SYS_futex, word, FUTEX_WAIT, val, ns ? &ts : NULL, NULL, 0);
}

static void futex_ring(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	(void)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int call_lock(struct lockmgr *m, unsigned slot, int cmd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = lm_file_call_byte(slot), .l_len = 1 };

	if (fcntl(lm_file_fd(m->file), cmd, &fl) < 0)
		return -errno;
	return 0;
}

static int check(struct lockmgr *m, unsigned slot)
{
	if (!m || slot >= m->nslots)
		return -EINVAL;
	return m->file ? 0 : -ENOTSUP;
}

int lockmgr_call(struct lockmgr *m, unsigned slot)
{
	struct lm_call_words w;
	int r = check(m, slot);

	if (r < 0)
		return r;
	/* the pid before the read lock: a holder that finds the lock reads this caller's pid */
	w = lm_file_call_words(m->file, slot);
	atomic_store(w.caller, (int32_t)m->pid);
	r = call_lock(m, slot, F_OFD_SETLK, F_RDLCK);
	if (r < 0)
		return r;
	/* after the read lock: a holder woken by the word finds the lock (see above) */
	futex_ring(w.call);
	return 0;
}

void lockmgr_call_end(struct lockmgr *m, unsigned slot)
{
	if (check(m, slot) < 0)
		return;
	(void)call_lock(m, slot, F_OFD_SETLK, F_UNLCK);
	/* a passive process waiting for the callers to be served looks again (lockmgr_calls_wait) */
	futex_ring(lm_file_call_words(m->file, slot).call);
}

uint32_t lockmgr_call_seq(struct lockmgr *m, unsigned slot)
{
	return check(m, slot) == 0 ? atomic_load(lm_file_call_words(m->file, slot).call) : 0;
}

int lockmgr_called(struct lockmgr *m, unsigned slot, pid_t *ret_pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = lm_file_call_byte(slot), .l_len = 1 };
	int r = check(m, slot);

	if (r < 0)
		return r == -ENOTSUP ? 0 : r;
	/* our own description's locks never conflict: this sees other processes only */
	if (fcntl(lm_file_fd(m->file), F_OFD_GETLK, &fl) < 0)
		return -errno;
	/* a write lock is a passive process waiting for the callers to be served
	   (lockmgr_calls_wait) for a moment: nobody asks while it has it */
	if (fl.l_type != F_RDLCK)
		return 0;
	if (ret_pid)
		*ret_pid = (pid_t)atomic_load(lm_file_call_words(m->file, slot).caller);
	return 1;
}

int lockmgr_call_wait(struct lockmgr *m, unsigned slot, uint32_t seq)
{
	int r = check(m, slot);

	if (r < 0)
		return r;
	futex_wait(lm_file_call_words(m->file, slot).call, seq, 0);
	return 0;
}

void lockmgr_call_ring(struct lockmgr *m, unsigned slot)
{
	if (check(m, slot) == 0)
		futex_ring(lm_file_call_words(m->file, slot).call);
}

int lockmgr_calls_wait(struct lockmgr *m, unsigned slot, bool wait)
{
	int r = check(m, slot);

	if (r < 0)
		return r == -ENOTSUP ? 0 : r;
	for (;;) {
		/* the word first: a call that ends after the try moved it, and the sleep returns */
		uint32_t seq = atomic_load(lm_file_call_words(m->file, slot).call);

		r = call_lock(m, slot, F_OFD_SETLK, F_WRLCK);
		if (r == 0)
			return call_lock(m, slot, F_OFD_SETLK, F_UNLCK);
		if (r != -EAGAIN && r != -EACCES)
			return r;
		if (!wait)
			return -EBUSY;
		futex_wait(lm_file_call_words(m->file, slot).call, seq, LM_DEATH_CHECK_NS);
	}
}

int lockmgr_wait_free(struct lockmgr *m, unsigned slot)
{
	int r = check(m, slot);

	if (r < 0)
		return r;
	for (;;) {
		/* the doorbell first: a release after the look rang it, and the sleep returns */
		uint32_t bell = lm_file_bell(m->file, slot);

		r = lm_file_probe(m->file, slot);
		if (r <= 0)
			return r;
		lm_file_sleep(m->file, slot, bell, LM_DEATH_CHECK_NS);
	}
}

void lockmgr_set_passive(struct lockmgr *m, unsigned slot, pid_t pid)
{
	if (check(m, slot) == 0)
		atomic_store(lm_file_call_words(m->file, slot).passive, (int32_t)pid);
}

pid_t lockmgr_passive(struct lockmgr *m, unsigned slot)
{
	return check(m, slot) == 0 ? (pid_t)atomic_load(lm_file_call_words(m->file, slot).passive) : 0;
}
