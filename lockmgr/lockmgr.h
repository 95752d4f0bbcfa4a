/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lock manager: exclusive ownership of the card in a reader slot, with
 * SCardLock / SCardBeginTransaction-style waiting and SCardUnlock /
 * SCardEndTransaction-style unlock dispositions, held across threads and
 * across processes.  It knows nothing of USB: the reader gives it callbacks
 * (struct lockmgr_ops) that carry out a disposition on the card.
 *
 * Rules (issue 5):
 *  - lockmgr_lock() gives one owner (a caller-chosen 64-bit id: a thread, a
 *    client handle) exclusive use of a slot.  It is reentrant for the same
 *    owner and counted.  Waiters are served first come, first served and are
 *    woken directly by the release (no polling inside a process).  A waiter
 *    can be cancelled (lockmgr_cancel_wait()).
 *  - Across processes the lock is an open-file-description lock
 *    (fcntl F_OFD_SETLK, Linux >= 3.15) on one byte per slot of a per-reader
 *    lock file in the runtime directory, plus a record per slot in the same
 *    file naming the holder (pid, program, owner, since when).  OFD locks
 *    belong to the open file description, not to the process: two managers
 *    in one process exclude each other, closing some other descriptor of the
 *    file does not drop the lock (as it would with POSIX F_SETLK locks), and
 *    the kernel frees the lock when the holder dies.  A process that forks
 *    while holding must not let the child keep the manager: the child shares
 *    the description, and with it the lock.
 *  - A holder that dies leaves its record marked held while the kernel has
 *    freed its lock: the next owner sees lockmgr_lock_info.abandoned with the
 *    dead holder's pid and program, and the manager's abandon disposition
 *    (default RESET: a card left authenticated must not pass to the next
 *    owner) is carried out through the dispose callback before
 *    lockmgr_lock() returns.
 *  - lockmgr_unlock() checks before it changes anything: an invalid
 *    disposition (Windows' E_INVALIDARG), a slot not locked, or an owner that
 *    does not hold it is refused and nothing changes — the lock stays held
 *    and no callback is called.  Otherwise an inner unlock of a reentrant
 *    lock only counts down; the last one carries out the disposition and
 *    releases the lock, even when the disposition fails (the callback's error
 *    is returned, so nobody is stuck behind an owner whose card is gone).
 *  - Each slot has a card-state generation, bumped by every reset, power
 *    off, eject, removal and insertion (lockmgr_card_event() from the reader,
 *    and the dispositions the manager carries out).  A struct lockmgr_handle
 *    (one per client of the slot) reports on lockmgr_check() that the card
 *    was reset or removed, as PC/SC's SCARD_W_RESET_CARD and
 *    SCARD_W_REMOVED_CARD do, until lockmgr_ack().  The generation is per
 *    manager: another process learns of the card's state from its own
 *    reader's events.
 *
 * Every function returns >= 0 on success or a negative errno; errors common
 * to all: -EINVAL for a NULL manager or a slot out of range.  Threads: every
 * function may be called from any thread, except that lockmgr_free() must
 * not race with any other call on the manager.  Callbacks are called without
 * any lock of the manager held and may call lockmgr_card_event().
 */
#ifndef LOCKMGR_H
#define LOCKMGR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lockmgr;
struct lockmgr_handle;

/* Chosen by the caller; the manager only compares it.  Any value is valid. */
typedef uint64_t lockmgr_owner_t;

/*
 * What becomes of the card when its owner lets go.  The values are PC/SC's
 * (pcsclite.h, Windows' winscard.h): SCARD_LEAVE_CARD 0, SCARD_RESET_CARD 1,
 * SCARD_UNPOWER_CARD 2, SCARD_EJECT_CARD 3, so that a value a PC/SC caller
 * passes means what it meant there (issue 12: numbered 1-4 before, RESET
 * arrived as LEAVE).  Anything else is refused.  Since 0 is LEAVE, a config
 * says "the default" with a flag (lockmgr_config.abandon_set), never with 0.
 */
enum lockmgr_disposition {
	LOCKMGR_LEAVE = 0,      /* send nothing; the card keeps its state (PIN verified, ...) */
	LOCKMGR_RESET = 1,      /* warm reset (PC_to_RDR_IccPowerOn while powered); a card that
				   was off stays off and its next power-up is cold */
	LOCKMGR_UNPOWER = 2,    /* PC_to_RDR_IccPowerOff */
	LOCKMGR_EJECT = 3,      /* PC_to_RDR_Mechanical bFunction 02 where dwMechanical declares
				   eject; otherwise power off and latch the slot as ejected */
};

/* What the reader did for a disposition (the reader decides what EJECT means). */
enum lockmgr_done {
	LOCKMGR_DONE_NOTHING = 0,   /* LEAVE, or RESET of a card that was off (left off) */
	LOCKMGR_DONE_RESET,         /* the card was warm-reset */
	LOCKMGR_DONE_UNPOWERED,     /* the card was powered off */
	LOCKMGR_DONE_EJECTED,       /* the mechanism ejected the card (Mechanical 02) */
	LOCKMGR_DONE_LATCHED,       /* powered off and latched: no power-up until removed and inserted */
};

/* Card events that bump a slot's card-state generation. */
enum lockmgr_event {
	LOCKMGR_EV_RESET = 1,       /* reset-class: handles see LOCKMGR_W_RESET_CARD */
	LOCKMGR_EV_POWER_OFF,       /* reset-class */
	LOCKMGR_EV_EJECT,           /* removal-class: handles see LOCKMGR_W_REMOVED_CARD */
	LOCKMGR_EV_REMOVED,         /* removal-class */
	LOCKMGR_EV_INSERTED,        /* removal-class: whatever a handle knew was of another card */
};

/* lockmgr_check() results (positive: warnings, as PC/SC's SCARD_W_*). */
#define LOCKMGR_W_RESET_CARD 1      /* the card was reset or powered off since the last ack */
#define LOCKMGR_W_REMOVED_CARD 2    /* the card was removed, ejected or replaced since the last ack */

/* Flags of lockmgr_lock(). */
#define LOCKMGR_F_MECHANICAL 0x1u   /* also lock the card in mechanically (CCID Mechanical 04/05) */
/*
 * In this process only: the lock file's OFD lock and record are not taken.
 * For short critical sections of a caller that knows no other process can
 * reach the card meanwhile (libuccid holds the reader's "open" lock, so each
 * APDU only has to exclude the threads of its own process).  Such a hold is
 * not recorded, so a holder killed inside it is not seen as abandoned.  Not
 * with LOCKMGR_F_MECHANICAL.
 */
#define LOCKMGR_F_LOCAL 0x2u

#define LOCKMGR_PROGRAM_MAX 32      /* program names are cut to 31 bytes */
#define LOCKMGR_MAX_SLOTS 256       /* bMaxSlotIndex is one byte */

/*
 * Callbacks into the reader.  Called from the thread that locks or unlocks,
 * with no lock of the manager held, while the calling owner holds the slot
 * exclusively.
 */
struct lockmgr_ops {
	/*
	 * Required.  Carry out d (RESET, UNPOWER or EJECT; never LEAVE, which
	 * sends nothing) on the card in slot, and set *done to what was done
	 * (EJECT: LOCKMGR_DONE_EJECTED on a reader with an eject mechanism,
	 * LOCKMGR_DONE_LATCHED otherwise).  May block for the reader's bounded
	 * exchange time.  Returns 0 or a negative errno (-ENOMEDIUM card
	 * removed, -ENODEV reader gone, -ETIMEDOUT card mute, ...): the lock is
	 * released all the same.
	 */
	int (*dispose)(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done);
	/*
	 * Optional (NULL: LOCKMGR_F_MECHANICAL is refused with -EOPNOTSUPP).
	 * Lock (CCID Mechanical bFunction 04) or unlock (05) the card in its
	 * slot.  Returns 0 or a negative errno.
	 */
	int (*mechanical_lock)(void *ctx, unsigned slot, bool lock);
};

struct lockmgr_config {
	unsigned slots;                 /* 1 .. LOCKMGR_MAX_SLOTS */
	const char *reader_id;          /* stable identity of the reader (e.g. "usb:1050/0407:SERIAL");
					   names the lock file, sanitised and hashed */
	const char *runtime_dir;        /* NULL: $XDG_RUNTIME_DIR/uccid, else /run/uccid; created
					   0700 if missing (its parent must exist) */
	bool process_local;             /* no lock file: the lock holds within this process only
					   (readers no other process can reach, tests, benchmarks) */
	pid_t pid;                      /* this process as recorded (0: getpid()) */
	const char *program;            /* its name as recorded (NULL: program_invocation_short_name) */
	enum lockmgr_disposition abandon; /* carried out when a holder died, if abandon_set */
	bool abandon_set;               /* false: LOCKMGR_RESET (abandon must then be 0), so that a
					   zeroed config never leaves an authenticated card */
	const struct lockmgr_ops *ops;  /* required, dispose required */
	void *ctx;                      /* passed to the callbacks */
	bool no_create;                 /* only open an existing lock file (readers: uccid locks); a
					   missing one is ENOENT, and nothing is left behind */
	char *err;                      /* optional: when lockmgr_new fails, what was wrong, naming the
					   lock file ("lock file PATH: magic is ..., not uccid-lk") */
	size_t errlen;
};

/*
 * Create the manager for one reader: open (create) its lock file
 * "<sanitised id>-<hash>.lock" in the runtime directory, mode 0600.
 * Returns the manager, or NULL with errno set: EINVAL (no ops or dispose,
 * slots 0 or above LOCKMGR_MAX_SLOTS, empty reader_id, abandon not a
 * disposition, or abandon non-zero without abandon_set), ENOTDIR (runtime
 * directory is not one), EPROTO (the lock file is not a uccid lock file of
 * this version: a corrupted file is an error, never a reason to lock within
 * the process only), ENOMEM, or the errno of the failing
 * mkdir/open/fallocate/mmap (EACCES, ENOENT, ...).
 */
struct lockmgr *lockmgr_new(const struct lockmgr_config *cfg);

/*
 * Free the manager.  Locks still held are released without a disposition
 * (LEAVE); no call may be in progress or waiting; handles must be closed
 * first.  NULL is ok.
 */
void lockmgr_free(struct lockmgr *m);

/*
 * Remove the manager's lock file, so that a lock directory does not keep a
 * file for every reader name ever tried.  Only for a caller that knows no
 * other process locks a slot of this file without first taking one this
 * caller holds (libuccid: the reader's open lock; the open lock file itself
 * while its one slot is held): removing it is then safe, and a process that
 * was waiting on the removed file gets -ESTALE from lockmgr_lock and opens
 * the name again.  The file stays when another process holds one of its
 * slots, or, with keep_state, when a slot's record says held by a process
 * that died (its card must still be reset), is corrupt, or is latched.
 * Returns 1 removed, 0 kept (or process_local), -EINVAL, or the errno of
 * unlink.
 */
int lockmgr_unlink(struct lockmgr *m, bool keep_state);

/* The lock file's path ("" when process_local); valid until lockmgr_free(). */
const char *lockmgr_path(const struct lockmgr *m);

/* What lockmgr_lock() tells the new owner. */
struct lockmgr_lock_info {
	unsigned count;                 /* reentrancy depth after this call (1: newly granted) */
	bool abandoned;                 /* the previous holder died holding the lock */
	pid_t prev_pid;                 /* abandoned: the dead holder */
	char prev_program[LOCKMGR_PROGRAM_MAX];
	struct timespec prev_since;     /* abandoned: when it took the lock (CLOCK_REALTIME, to the second) */
	int abandon_status;             /* abandoned: 0, or the dispose callback's error (the lock
					   is granted all the same) */
	enum lockmgr_done abandon_done; /* abandoned: what the reader did */
};

/*
 * Take exclusive use of slot for owner (-ESTALE: the lock file was removed
 * while this call waited, see lockmgr_unlink; nothing is held).  timeout_ms: 0 tries once, > 0 waits
 * at most that long (in total, in and across processes), -1 waits forever.
 * If owner already holds the slot the count goes up and the call returns at
 * once.  Waiters in this process are served in FIFO order, each woken by the
 * release that hands it the lock.  flags: LOCKMGR_F_MECHANICAL (honoured on
 * the outermost lock only).  ret (may be NULL) is written on success only.
 * Returns 0, or:
 *   -EINVAL      slot out of range, timeout_ms < -1, unknown flags, LOCAL with MECHANICAL
 *   -EOPNOTSUPP  LOCKMGR_F_MECHANICAL without a mechanical_lock callback
 *   -EBUSY       timeout_ms 0 and the slot is held (lockmgr_holder() says by whom)
 *   -ETIMEDOUT   the slot stayed held for timeout_ms
 *   -ECANCELED   lockmgr_cancel_wait() ended the wait
 *   -EOVERFLOW   the reentrancy count would overflow
 *   the mechanical_lock callback's error (the lock is then not held), or the
 *   errno of a failing fcntl on the lock file
 */
int lockmgr_lock(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, int timeout_ms, unsigned flags,
		 struct lockmgr_lock_info *ret);

/*
 * Make every lockmgr_lock() of owner waiting on slot return -ECANCELED.
 * Returns 0, -ENOENT (owner is not waiting on slot), -EINVAL.
 */
int lockmgr_cancel_wait(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner);

/* The same for every owner waiting on slot (a session being torn down).  Returns 0 or -EINVAL. */
int lockmgr_cancel_all(struct lockmgr *m, unsigned slot);

/*
 * Release owner's hold on slot with disposition d.  Refusals change nothing:
 *   -EINVAL   d is not a disposition (the lock stays held, no callback)
 *   -ENOLCK   slot is not locked (or its owner is still acquiring it)
 *   -EPERM    slot is locked by another owner
 * Inner unlocks of a reentrant lock count down, do not dispose, and set
 * *done (may be NULL) to LOCKMGR_DONE_NOTHING.  The last unlock unlocks the
 * mechanism (if locked), carries out d, bumps the card-state generation for
 * every other owner's handles, and releases the lock; it returns 0 or the
 * first error of the mechanical_lock or dispose callbacks — the lock is
 * released either way.
 */
int lockmgr_unlock(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, enum lockmgr_disposition d,
		   enum lockmgr_done *done);

enum lockmgr_holder_state {
	LOCKMGR_HOLDER_FREE,
	LOCKMGR_HOLDER_HELD,
	LOCKMGR_HOLDER_ABANDONED,   /* free, but its last holder died with it (not yet disposed) */
};

struct lockmgr_holder_info {
	enum lockmgr_holder_state state;
	bool this_manager;              /* held through this manager (owner and count are valid) */
	lockmgr_owner_t owner;          /* as recorded (the owning process's id) */
	unsigned count;                 /* this_manager: reentrancy depth */
	pid_t pid;                      /* HELD, ABANDONED: the holder */
	char program[LOCKMGR_PROGRAM_MAX];
	struct timespec since;          /* HELD, ABANDONED: when it took the lock (CLOCK_REALTIME, to the
					   second); 0 for a hold that is not recorded in the lock file
					   (process_local, LOCKMGR_F_LOCAL): it is not timed */
	unsigned waiters;               /* threads of this process waiting, plus processes waiting
					   on the lock file */
	char problem[320];              /* -EPROTO: what is wrong with the slot's record, naming
					   the file; "" otherwise */
};

/*
 * Who holds slot, also when the holder is another process.  Returns 0, or
 * -EAGAIN (another process rewrote its record throughout the read), -EPROTO
 * (the slot's record is corrupt: ret->problem says how; whoever locks the
 * slot next carries out the abandon disposition, as for a dead holder), or
 * the errno of a failing fcntl.
 */
int lockmgr_holder(struct lockmgr *m, unsigned slot, struct lockmgr_holder_info *ret);

/*
 * Report a card event on slot (from the reader: interrupt NotifySlotChange,
 * a reset or power-off it did outside a disposition).  Returns 0, -EINVAL
 * (also for an unknown event).
 */
int lockmgr_card_event(struct lockmgr *m, unsigned slot, enum lockmgr_event ev);

/* The slot's card-state generation (0 if slot is out of range). */
uint64_t lockmgr_generation(struct lockmgr *m, unsigned slot);

/*
 * A client of a slot, owned by owner (its dispositions do not warn its own
 * handles).  It starts up to date.  Returns 0, -EINVAL, -ENOMEM.
 */
int lockmgr_handle_open(struct lockmgr *m, unsigned slot, lockmgr_owner_t owner, struct lockmgr_handle **ret);

/* Close a handle (NULL ok). */
void lockmgr_handle_close(struct lockmgr_handle *h);

/*
 * What happened to the card since the handle's last ack: 0 nothing,
 * LOCKMGR_W_REMOVED_CARD (takes precedence), LOCKMGR_W_RESET_CARD, or
 * -EINVAL (NULL).  Repeats until lockmgr_ack().
 */
int lockmgr_check(const struct lockmgr_handle *h);

/* Acknowledge everything up to the current generation.  Returns 0 or -EINVAL. */
int lockmgr_ack(struct lockmgr_handle *h);

/*
 * The slot's eject latch (issue 5: EJECT on a reader without an eject
 * mechanism powers the card off and latches the slot: no power-up until the
 * card has been removed and inserted again).  Kept in the lock file, so that
 * every process using the reader honours it, or in the manager when
 * process_local.  It belongs to the device instance it was set on
 * (lockmgr_set_instance): for another instance it is not set, and is
 * cleared.  op: 1 set, 0 clear, -1 query.  Returns the latch after the
 * call (0 or 1), or -EINVAL.
 */
int lockmgr_latch(struct lockmgr *m, unsigned slot, int op);

/*
 * Which instance of the device the slots are of: a number that changes
 * when the device is plugged in again (its bus address, say; 0: unknown, one
 * instance for ever).  Returns 0 or -EINVAL.
 */
int lockmgr_set_instance(struct lockmgr *m, uint32_t instance);

/*
 * The call (issue 15, docs/locks.md "Passive holders"): a process that waits
 * for a slot asks its holder to let go, and a holder that declared itself
 * passive hears of it at once, with no polling.  In the lock file: callers
 * hold a read lock on the byte after the slot's lock byte for as long as
 * they ask (the kernel drops it when a caller dies) and ring a futex word in
 * the slot's record; the holder sleeps on that word and, woken, looks for a
 * read lock on the byte.  Process-local managers have no calls: -ENOTSUP.
 */
/* Ask slot's holder to let go, until lockmgr_call_end().  Returns 0, -EINVAL, -ENOTSUP, -errno of fcntl. */
int lockmgr_call(struct lockmgr *m, unsigned slot);
/* Stop asking (also when the lock was granted).  NULL or not calling: nothing. */
void lockmgr_call_end(struct lockmgr *m, unsigned slot);
/* The call word's value: what lockmgr_call_wait() waits to change.  0 when there is no lock file. */
uint32_t lockmgr_call_seq(struct lockmgr *m, unsigned slot);
/*
 * Is another process asking for slot now?  1 (*ret_pid, may be NULL: the
 * last caller's pid as it recorded it), 0, or -errno.  A caller that died
 * asks no more.
 */
int lockmgr_called(struct lockmgr *m, unsigned slot, pid_t *ret_pid);
/*
 * Sleep until the call word is no longer seq (a call, or lockmgr_call_ring()),
 * without a timeout: an idle holder costs no wake-up.  Returns 0 (the word
 * moved or a signal interrupted: look again), -EINVAL, -ENOTSUP.
 */
int lockmgr_call_wait(struct lockmgr *m, unsigned slot, uint32_t seq);
/* Move the call word and wake its sleepers (a holder stopping its own listener). */
void lockmgr_call_ring(struct lockmgr *m, unsigned slot);
/*
 * Wait until nobody asks for slot (callers first: a passive process lets an
 * active one go before it): wait true sleeps until every caller ended its
 * call (woken by the end) or died (seen within a second); false: -EBUSY if
 * one asks now.  Returns 0, -EBUSY, -EINVAL, -errno of fcntl; 0 for
 * process-local managers.
 */
int lockmgr_calls_wait(struct lockmgr *m, unsigned slot, bool wait);
/*
 * Sleep until nobody holds slot: woken by the release (its doorbell), and
 * looking again once a second for a holder that died, instead of
 * lockmgr_lock()'s every 20 ms: for a passive process that waits without
 * limit.  The slot may be taken again before the caller's lockmgr_lock().
 * Returns 0, -EINVAL, -ENOTSUP (process-local), -errno of fcntl.
 */
int lockmgr_wait_free(struct lockmgr *m, unsigned slot);
/* Record (pid != 0) or clear (0) the slot's holder as passive; read it: lockmgr_passive(). */
void lockmgr_set_passive(struct lockmgr *m, unsigned slot, pid_t pid);
/* The pid recorded as a passive holder of slot, 0 if none. */
pid_t lockmgr_passive(struct lockmgr *m, unsigned slot);

/* Names: "leave", "reset", "unpower", "eject" (NULL if invalid) and back (-EINVAL). */
const char *lockmgr_disposition_name(enum lockmgr_disposition d);
int lockmgr_disposition_parse(const char *name);
/* "nothing", "reset", "unpowered", "ejected", "latched" (NULL if invalid). */
const char *lockmgr_done_name(enum lockmgr_done done);

#ifdef __cplusplus
}
#endif

#endif
