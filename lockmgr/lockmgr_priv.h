/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lock manager's private state: the per-slot state machine of the
 * in-process lock, its FIFO of waiters, the card-state generation and its
 * handles, and the shared lock file (layout, records, OFD lock and doorbell).
 *
 * Concurrency: m->lock guards every field of struct lockmgr and its slots,
 * and every write of this process to the shared records.  It is never held
 * across a callback, a blocking wait for another process, or a futex wait.
 * A slot in ACQUIRING or RELEASING belongs to its owner's thread: only that
 * thread moves it on.
 */
#ifndef LOCKMGR_PRIV_H
#define LOCKMGR_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lockmgr/lockmgr.h"
#include "util/clock.h"

/*
 * A process that has waiting threads hands the slot from one to the next
 * while keeping its OFD lock, at most this many times in a row; then it lets
 * the OFD lock go and rings, so that waiting processes may take it.  This is
 * a chance, not a turn: across processes the order is the kernel's (whoever
 * calls F_OFD_SETLK first after the release), not FIFO.
 */
#define LM_LOCAL_HANDOFF_MAX 8

/*
 * A process waiting for another process sleeps on the slot's doorbell (a
 * futex in the shared lock file) that every release rings.  A holder killed
 * between its unlock and its ring, or killed while holding (the kernel frees
 * the OFD lock but rings nothing), is noticed by this periodic re-check.
 */
#define LM_RECHECK_NS (20 * 1000 * 1000)

enum lm_state {
	LM_FREE,        /* nobody; the waiter queue is empty */
	LM_ACQUIRING,   /* granted in process; the owner is taking the OFD lock or disposing of
			   an abandoned card */
	LM_HELD,        /* the owner has it */
	LM_RELEASING,   /* the owner is carrying out its disposition */
};

/* A thread waiting in lockmgr_lock(); lives on that thread's stack. */
struct lm_waiter {
	struct lm_waiter *next;
	lockmgr_owner_t owner;
	pthread_cond_t cv;      /* CLOCK_MONOTONIC; signalled under m->lock */
	bool granted;           /* the releaser made this waiter the owner (state ACQUIRING) */
	bool cancelled;
};

/*
 * The uncontended in-process fast path (issue 5: lock + unlock within 3x of a
 * bare mutex): a hold that needs nothing but exclusion in this process is a
 * single compare-and-swap of the slot's fast word from LM_FAST_IDLE to the
 * owner, and its LEAVE unlock the swap back.  Anything else takes m->lock and
 * first "inflates" the slot (lm_inflate): the word becomes LM_FAST_INFLATED
 * and a fast holder, if any, becomes the slot's HELD owner, so that the state
 * machine below is the truth again.  The slot deflates when it goes back to
 * FREE with nobody queued.  Invariant: fast != INFLATED implies state FREE
 * and an empty queue.  Owners 0 and UINT64_MAX, the two sentinels, always
 * take the slow path.
 */
#define LM_FAST_IDLE ((uint64_t)0)
#define LM_FAST_INFLATED UINT64_MAX

struct lm_slot {
	_Atomic uint64_t fast;          /* LM_FAST_IDLE, a fast holder, or LM_FAST_INFLATED */
	enum lm_state state;
	lockmgr_owner_t owner;
	unsigned count;                 /* reentrancy depth while HELD */
	bool mechanical;                /* the mechanism is locked for this owner */
	bool ofd_held;                  /* this manager holds the slot's OFD lock */
	bool waiting_ofd;               /* the ACQUIRING owner waits for another process */
	unsigned local_handoffs;        /* consecutive hand-offs keeping the OFD lock */
	struct timespec since;          /* CLOCK_REALTIME */
	struct lm_waiter *head, *tail;
	unsigned nwaiters;
	atomic_bool cancel_acquire;     /* lockmgr_cancel_wait() for the ACQUIRING owner */
	bool latched;                   /* the eject latch when process_local */
	uint32_t latch_instance;        /* ... and the device instance it was set on */

	/* card-state generation: gen counts every event; removed_gen is gen at the last
	   removal-class event */
	uint64_t gen, removed_gen;
	struct lockmgr_handle *handles;
};

struct lockmgr_handle {
	struct lockmgr *m;
	unsigned slot;
	lockmgr_owner_t owner;
	uint64_t seen;                  /* generation acknowledged */
	struct lockmgr_handle *next;
};

struct lm_file;

struct lockmgr {
	pthread_mutex_t lock;
	unsigned nslots;
	const struct lockmgr_ops *ops;
	void *ctx;
	enum lockmgr_disposition abandon;
	pid_t pid;
	char program[LOCKMGR_PROGRAM_MAX];
	struct lm_file *file;           /* NULL when process_local */
	uint32_t instance;              /* the device instance the slots are of (lockmgr_set_instance) */
	char path[4096];
	struct lm_slot *slots;
};

/* The record of a holder, as read from or written to the lock file. */
struct lm_holder_rec {
	bool held;
	pid_t pid;
	lockmgr_owner_t owner;
	struct timespec since;
	char program[LOCKMGR_PROGRAM_MAX];
	char corrupt[80];               /* read: why the record cannot be trusted, or "" */
};

/* lockfile.c — the shared lock file. */
/* Open (create unless no_create) and check the file; -EPROTO with why (static text) if it
   is not a lock file of this version. */
int lm_file_open(const char *path, unsigned nslots, bool no_create, struct lm_file **ret, char *why,
		 size_t whylen);
void lm_file_close(struct lm_file *f);
/* Take slot's OFD lock (-ESTALE: the file was removed meanwhile, open it again):
   deadline_ns 0 tries once (-EBUSY), < 0 waits forever,
   else until that uccid_mono_ns(); -ETIMEDOUT, -ECANCELED when *cancel, -errno. */
int lm_file_acquire(struct lm_file *f, unsigned slot, int64_t deadline_ns, atomic_bool *cancel);
/*
 * Must the file stay?  Yes if another description holds a slot's lock (slots
 * with mine[i] set are the caller's own) or, with keep_state, a slot's record
 * says held (a dead holder), is corrupt or latched.
 */
bool lm_file_kept(struct lm_file *f, unsigned nslots, const bool *mine, bool keep_state);
/* Release slot's OFD lock and ring its doorbell. */
void lm_file_release(struct lm_file *f, unsigned slot);
/* Wake this process's thread waiting on slot's doorbell (it re-checks its cancel flag). */
void lm_file_ring(struct lm_file *f, unsigned slot);
/* Is slot's OFD lock held through another description?  1, 0, or -errno. */
int lm_file_probe(struct lm_file *f, unsigned slot);
/* slot's doorbell, and a sleep on it while it still reads bell, at most ns (call.c) */
uint32_t lm_file_bell(struct lm_file *f, unsigned slot);
void lm_file_sleep(struct lm_file *f, unsigned slot, uint32_t bell, int64_t ns);
/* The descriptor, for the call of a passive holder (call.c). */
int lm_file_fd(const struct lm_file *f);
/* The byte of slot's record that callers read-lock (call.c); the slot's lock is the byte before. */
off_t lm_file_call_byte(unsigned slot);
/* The words of slot's record that call.c uses: in shared memory, outside the seqlock. */
struct lm_call_words {
	_Atomic uint32_t *call;         /* a futex word: bumped by each call */
	_Atomic int32_t *caller;        /* the last caller's pid */
	_Atomic int32_t *passive;       /* a passive holder's pid, or 0 */
};
struct lm_call_words lm_file_call_words(struct lm_file *f, unsigned slot);
/* Processes sleeping on slot's doorbell. */
unsigned lm_file_sleepers(struct lm_file *f, unsigned slot);
/* Read slot's record (seqlock; -EAGAIN if it kept changing).  owned: the caller holds the
   OFD lock, so nobody writes: a record left half-written (odd seq) by a holder killed while
   writing it is read as held. */
int lm_file_read(struct lm_file *f, unsigned slot, bool owned, struct lm_holder_rec *ret);
/* Set (1), clear (0) or read (-1) slot's eject latch; returns it. */
int lm_file_latch(struct lm_file *f, unsigned slot, int op, uint32_t instance);
/* Write slot's record; the caller holds the OFD lock. */
void lm_file_write(struct lm_file *f, unsigned slot, const struct lm_holder_rec *rec);

/* generation.c */
/* Bump slot's generation for ev; handles of except_owner that were up to date stay so
   (when has_except). */
void lm_bump(struct lockmgr *m, unsigned slot, enum lockmgr_event ev, bool has_except,
	     lockmgr_owner_t except_owner);
/* The event a disposition's outcome amounts to (0: none). */
enum lockmgr_event lm_done_event(enum lockmgr_disposition d, enum lockmgr_done done, int status);

/* slot.c */
/* Called with m->lock held: make the slot's state the truth (see LM_FAST_IDLE). */
void lm_inflate(struct lm_slot *s);
/* Can owner use the fast word at all? */
static inline bool lm_fast_owner(lockmgr_owner_t owner)
{
	return owner != LM_FAST_IDLE && owner != LM_FAST_INFLATED;
}
/* Called with m->lock held: make the first waiter the owner (ACQUIRING) and wake it, or
   free the slot.  Returns whether a waiter got it. */
bool lm_hand_off(struct lm_slot *s);
/* Called without m->lock by the thread that owns slot (ACQUIRING or RELEASING): bump the
   generation for ev (0: none) except for owner's handles, and let the slot go — to the next
   waiter in this process (keeping the OFD lock at most LM_LOCAL_HANDOFF_MAX times in a
   row) or to everyone. */
void lm_release(struct lockmgr *m, unsigned slot, enum lockmgr_event ev, lockmgr_owner_t owner);
/* The holder's record as this manager writes it. */
void lm_record_mine(const struct lockmgr *m, const struct lm_slot *s, struct lm_holder_rec *ret);

/* names.c */
void lm_sanitise(const char *in, char *out, size_t outlen);
/* LEAVE .. EJECT (0-3); a negative int passed in converts to a large unsigned value. */
static inline bool lm_valid_disposition(enum lockmgr_disposition d)
{
	return (unsigned)d <= LOCKMGR_EJECT;
}

#endif
