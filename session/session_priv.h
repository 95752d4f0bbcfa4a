/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal state of a reader session, and the calls between the session's
 * files.  The files form layers; each calls only the layers below it
 * (docs/design.md draws them):
 *
 *   open.c                      uccid_open: the open lock, a transport, a session
 *   session.c   locks.c         open/close/info | uccid_lock/unlock, dispositions
 *   power.c  apdu.c  events.c   the card operations, each inside the slot gate
 *   secure.c                    (PIN entry on the keypad; the same layer)
 *   gate.c                      the slot gate: thread locks, card-state warnings
 *   commands.c  charlevel.c     one-command primitives (status, power off, mechanical) |
 *                               a character-level reader's exchanges (T=0, T=1 blocks, PPS)
 *   t1xfr.c                     (layer of gate.c) one T=1 block at TPDU or character level
 *   engine.c                    uccid_xchg: bSeq routing, deadlines, abort
 *   link.c  iccd.c  passive.c   a remote reader's link | ICCD tokens on the control pipe |
 *                               a passive session's listener for a call (issue 15)
 *   card.c                      card state and the event ring: every transition
 *   log.c  quirks.c  openlock.c logging, quirks, the open lock (lockmgr, transport)
 *
 * Locking:
 *  - r->lock guards the exchange engine (slot busy flags, pending answers,
 *    the bulk-IN reader role, bSeq), the event ring and every slot's card
 *    state (struct ucard).  It is taken with reader_lock() so that card.c can
 *    assert that its callers hold it.  Never held across transport I/O.
 *  - s->op serialises whole operations on one slot (a power-on with its PPS,
 *    an APDU with its T=1 blocks or chaining) and guards the slot's
 *    operation state (ATR, its parameters, T=1 state, waiting times).
 *  - r->out_lock keeps bulk-OUT messages whole; r->ev_lock admits one
 *    interrupt reader; r->own_lock guards the owner list.
 *  Order: s->op, then r->lock; r->lock before the lock manager's own locks.
 */
#ifndef UCCID_READER_PRIV_H
#define UCCID_READER_PRIV_H

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "transport/transport.h"
#include "lockmgr/lockmgr.h"
#include "util/clock.h"

#define UCCID_MAX_SLOTS 16              /* no more than the bits of uccid_reader.rescan */
#define UCCID_SKIP_LIMIT 16          /* stale / malformed answers tolerated per exchange */
#define UCCID_BUSY_RETRIES 3         /* CMD_SLOT_BUSY answers retried before -EBUSY */
#define UCCID_EVENT_RING 64
#define UCCID_READ_SLICE_MS 200      /* the bulk-IN reader hands over at least this often */
#define UCCID_ABORT_MS 1000          /* bound on the ABORT sequence */
#define UCCID_DEFAULT_EXCHANGE_MS 60000 /* uccid_options.exchange_deadline_ms 0 */

/*
 * What the session knows of the card in a slot.  Under r->lock; every change
 * is one of card.c's transitions, which assert that the caller holds it.
 */
struct ucard {
	bool present, powered;
	uint8_t protocol;                /* CCID_PROTOCOL_T0 / T1, 0xFF when not negotiated */
	uint64_t generation;             /* bumped by every card event */
	uint64_t changes;                /* bumped by every removal and insertion: another card */
	bool arrived;                    /* a command's answer found the card inserted: the
					    NotifySlotChange to come reports that insertion (events.c) */
	bool disposing;                  /* the lock manager is carrying out a disposition: it
					    accounts for the card event itself */
	bool left;                       /* the last unlock was LEAVE: close leaves the card as is */
	bool verify;                     /* ask the reader whether the powered card is still on before
					    the next operation (events.c, gate.c) */
};

struct uslot {
	unsigned index;
	pthread_mutex_t op;

	/* exchange engine, under r->lock */
	bool busy;
	uint8_t seq;
	uint8_t expect_type;
	uint8_t *ans;
	size_t ans_cap, ans_len;
	int ans_err;
	bool ans_done;
	int64_t cmd_deadline;            /* µs: the current command's own timeout */
	unsigned base_ms;                /* its timeout before time extensions */
	unsigned skips;
	bool raw;                        /* diagnostics: any answer type, no busy retry */
	uint8_t recent[8];               /* the slot's last bSeq values: answers that may be stale */
	unsigned recent_pos;
	bool resync;                     /* the answer was unusable: abort before reporting it */

	/* operation state, under op */
	uint8_t cmd_type;                /* the command in flight: what a reader error refers to */
	uint8_t atr[CCID_ATR_MAX];
	size_t atr_len;
	struct ccid_atr atrp;
	struct ccid_t1 t1;
	uint32_t bwt_ms, wwt_ms;
	uint8_t fidi;                    /* the Fi/Di indices the card runs at (negotiated) */
	struct uccid_reader_error last_error;
	unsigned extra_ms;               /* time the next command may take beyond the exchange deadline:
					    a PIN entry on the keypad (secure.c) */

	/* card state: under r->lock, written only by card.c */
	struct ucard card;
};

/* A thread that takes part in locking, and its view of one slot's card state. */
struct uowner {
	struct uowner *next;
	lockmgr_owner_t owner;
	unsigned slot;
	struct lockmgr_handle *h;
};

/* The open lock of a named reader, taken before its transport is opened. */
struct uccid_open_lock {
	char ident[160];                 /* identity for the lock files; "" when unknown */
	struct lockmgr *lm;              /* NULL: no lock file (lm_errno says why, if ident) */
	int lm_errno;
	lockmgr_owner_t owner;
	bool keep;                       /* a process asked for the reader (passive.c): the file stays for
					    it when the lock is released */
	int wait_ms;                     /* the open's wait as it was (open_wait_ms; a passive holder
					    asked by an open that would not wait: UCCID_YIELD_WAIT_MS) */
};
/* How long an open that would not wait gives a passive holder to yield (openlock.c). */
#define UCCID_YIELD_WAIT_MS 5000

struct uccid_reader {
	struct uccid_transport *t;
	struct uccid_options opt;
	struct ccid_class_desc desc;
	uint8_t desc_raw[CCID_CLASS_DESC_LEN];
	enum ccid_exchange_level level;
	uint8_t iccd;                    /* 0: CCID; 1, 2: an ICCD token of version A, B (iccd.c) */
	unsigned nslots, busy_max;
	uint32_t max_msg;
	uint32_t clock_khz;
	uint32_t rates[256];             /* GET_DATA_RATES, when offered (CCID §5.3.3) */
	unsigned nrates;
	uint32_t clocks[256];            /* GET_CLOCK_FREQUENCIES, kHz (CCID §5.3.2) */
	unsigned nclocks;
	char quirks[192];
	uint32_t pin_quirks;             /* UCCID_PINQ_* of the reader's PIN pad (quirks.c) */
	const struct uccid_vendor_mode *vendor_mode;  /* switched to at open (session.c), or NULL */
	bool vendor_again;               /* (r->lock) a reconnect brought a new instance of the device, at
					    its declared level: the gate sends the switch again (gate.c) */
	uint8_t pin_min, pin_max;        /* its PIN sizes, where known (0: not) */
	uint8_t pin_validation;          /* the entry validation conditions it takes */
	bool class_last, vendor_class;
	uint16_t bcdDevice;              /* from the device descriptor */
	uint8_t str_index[3];            /* its iManufacturer, iProduct, iSerialNumber */
	pthread_mutex_t str_lock;        /* one reader of the strings at a time (held across the reads) */
	bool strings_read;               /* under str_lock: strings holds the device's */
	struct uccid_device_strings strings;
	uint8_t dev_desc[18];            /* the descriptors at open: a reconnect must find the same */
	uint8_t *cfg_raw;
	size_t cfg_len;

	pthread_mutex_t lock;            /* reader_lock() / reader_unlock() */
	_Atomic uintptr_t lock_owner;    /* the thread holding lock (uccid_thread_id()), 0 if none */
	pthread_cond_t cond;
	pthread_mutex_t out_lock;        /* one bulk-OUT writer at a time */
	uint8_t next_seq;
	unsigned busy;
	bool reading;
	bool in_sync;                    /* an answer of this session was routed: what bulk-IN holds
					    now is ours, not a previous session's leftovers */
	int dead;                        /* 0, or -ENODEV / -ECANCELED: sticky; -ENOTCONN while the link
					    is down and restored (link.c) */
	bool closing;                    /* uccid_close runs: a link that drops now is gone */

	/* a remote reader's link (link.c), under r->lock */
	bool reconnecting;               /* a thread is in the transport's reconnect */
	int64_t down_since;              /* µs: when the link dropped */
	int64_t link_next;               /* µs: the next attempt, not before */
	unsigned link_backoff_ms;        /* the wait after the last failed attempt */
	unsigned link_tries;             /* attempts since the link dropped */
	unsigned link_waiters;           /* event waiters restoring it: operations leave it to them */
	uint64_t reconnects;             /* links restored */
	uint32_t rescan;                 /* slots to ask about once the link is back: set by link.c,
					    taken by events.c (uccid_wait_event), bit n for slot n */
	bool relinked;                   /* the link came back and the reader has not reported since:
					    its first NotifySlotChange repeats what the status answers
					    found (events.c) */
	uint8_t *rx;

	/* events */
	pthread_mutex_t ev_lock;         /* one interrupt reader at a time */
	bool notify_seen;                /* a NotifySlotChange has arrived (under r->lock) */
	bool ev_waiting;                 /* (r->lock) a thread waits in the transport's intr_in for events:
					    uccid_wake and another thread's event wake it (wake op) */
	bool wake_req;                   /* (r->lock) uccid_wake: the event waiter returns 0 */
	uint64_t ev_wakeups;             /* (r->lock) returns from the transport's intr_in, and polling
					    rounds, in uccid_wait_event: what an idle reader costs */
	struct uccid_event ring[UCCID_EVENT_RING];
	unsigned ring_head, ring_len;

	/* locks (openlock.c, gate.c, locks.c) */
	struct uccid_open_lock open;     /* held for the handle's life (named readers) */
	/* a passive session's listener for another process's call (passive.c) */
	pthread_t yield_thread;
	bool yield_running;              /* the listener runs: set and cleared by the opening and closing thread */
	atomic_bool yield_stop;          /* uccid_passive_stop: the listener ends */
	long yield_pid;                  /* (r->lock) the process that asked; 0: none */
	bool yield_asked;                /* (r->lock) UCCID_EVENT_YIELD was reported */
	struct lockmgr *lm;              /* slot locks */
	pthread_mutex_t own_lock;        /* guards owners */
	struct uowner *owners;

	struct uslot slots[UCCID_MAX_SLOTS];
};


/* ---- r->lock, with its holder known (card.c asserts it) ---- */

/* An address unique to the calling thread. */
uintptr_t uccid_thread_id(void);

static inline void reader_lock(struct uccid_reader *r)
{
	pthread_mutex_lock(&r->lock);
	atomic_store_explicit(&r->lock_owner, uccid_thread_id(), memory_order_relaxed);
}

static inline void reader_unlock(struct uccid_reader *r)
{
	atomic_store_explicit(&r->lock_owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&r->lock);
}

/* pthread_cond_timedwait on r->cond (CLOCK_MONOTONIC), r->lock held. */
static inline void reader_wait(struct uccid_reader *r, const struct timespec *until)
{
	atomic_store_explicit(&r->lock_owner, 0, memory_order_relaxed);
	pthread_cond_timedwait(&r->cond, &r->lock, until);
	atomic_store_explicit(&r->lock_owner, uccid_thread_id(), memory_order_relaxed);
}

/* The same until until_us, a uccid_mono_us() time (INT64_MAX: no limit). */
static inline void reader_wait_until(struct uccid_reader *r, int64_t until_us)
{
	struct timespec ts;

	atomic_store_explicit(&r->lock_owner, 0, memory_order_relaxed);
	if (until_us == INT64_MAX) {
		pthread_cond_wait(&r->cond, &r->lock);
	} else {
		ts.tv_sec = (time_t)(until_us / 1000000);
		ts.tv_nsec = (long)(until_us % 1000000) * 1000;
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	atomic_store_explicit(&r->lock_owner, uccid_thread_id(), memory_order_relaxed);
}

/* The rule "r->lock held", checked where card state changes. */
#define reader_assert_locked(r) \
	assert(atomic_load_explicit(&(r)->lock_owner, memory_order_relaxed) == uccid_thread_id())

/* ---- log.c: the bottom of the session ---- */

void uccid_log(struct uccid_reader *r, enum uccid_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- quirks.c: name (and log) the structural faults the session works around ---- */

void uccid_apply_quirks(struct uccid_reader *r, bool class_after_endpoint, bool vendor_class);
/* A vendor command that makes a reader declaring TPDU work at short-APDU level, if it has one. */
struct uccid_vendor_mode {
	const char *name;               /* as uccid_info().quirks lists it */
	uint16_t vid, pid;
	uint8_t cmd[2];                 /* the Escape's abData */
	const char *what;
};
const struct uccid_vendor_mode *uccid_vendor_apdu_mode(const struct uccid_reader *r);

/*
 * PIN-pad firmware faults, by reader (libccid's BOGUS_PINPAD_FIRMWARE
 * list): what secure.c changes in a PC_to_RDR_Secure for them.
 */
#define UCCID_PINQ_VERIFY_ONE_MESSAGE   0x001u  /* verify: bNumberMessage 01 only */
#define UCCID_PINQ_VALIDATION_KEY_ONLY  0x002u  /* bEntryValidationCondition 02 only */
#define UCCID_PINQ_NO_MESSAGE           0x004u  /* verify: bNumberMessage 00 only */
#define UCCID_PINQ_SWAPPED_DIGITS       0x008u  /* wPINMaxExtraDigit with its bytes swapped */
#define UCCID_PINQ_MODIFY_ALL_INDEXES   0x010u  /* modify: three bMsgIndex, bNumberMessage 00 */
#define UCCID_PINQ_MODIFY_THREE_MESSAGES 0x020u /* modify: bNumberMessage 03 */
#define UCCID_PINQ_MODIFY_INDEXES_KEPT  0x040u  /* modify: three bMsgIndex, bNumberMessage as it is */
#define UCCID_PINQ_MODIFY_NO_ZERO_MESSAGES 0x080u /* modify: bNumberMessage 00 refused, FF taken */
#define UCCID_PINQ_APPEND_ESCAPE        0x100u  /* verify, case 1, no PIN block: Escape 80 02 00 first */
#define UCCID_PINQ_KEY_RELEASE          0x200u  /* verify: 250 ms for the Enter key to come up first */

/* ---- passive.c: a passive session's listener for another process's call (issue 15) ---- */

/* Start the listener of a passive named reader (else nothing).  Returns 0 or -errno. */
int uccid_passive_start(struct uccid_reader *r);
/* Stop and join it (not running: nothing); before the open lock is released. */
void uccid_passive_stop(struct uccid_reader *r);

/* ---- openlock.c: the open lock of a named reader, and lock-file holders ---- */

lockmgr_owner_t uccid_owner(void);      /* the calling thread, as the lock manager's owner */

lockmgr_owner_t uccid_owner(void);      /* the calling thread, as the lock manager's owner */

lockmgr_owner_t uccid_owner(void);      /* the calling thread, as the lock manager's owner */

/*
 * Take the open lock of a named reader (before its transport is opened),
 * waiting opts->open_wait_ms.  Returns 0 (also when the name has no identity
 * or there can be no lock file: ol->lm NULL), -EBUSY (err names the holder),
 * -EINVAL, or the lock file's error.
 */
int uccid_open_lock(struct uccid_open_lock *ol, const char *name, const struct uccid_options *opts, char *err,
		    size_t errlen);
void uccid_open_unlock(struct uccid_open_lock *ol);
/* The lock directory: dir, else $UCCID_LOCK_DIR, else NULL (the lock manager's default). */
const char *uccid_lock_dir(const char *dir);
/*
 * A lock manager on the lock files of ident (for_open: the reader's open lock, one "slot").
 * no_create: only an existing file (readers).  On failure errno, and err names the file.
 */
struct lockmgr *uccid_open_manager(const char *ident, const char *dir, const char *program, unsigned slots,
				   bool for_open, bool no_create, const struct lockmgr_ops *ops, void *ctx, char *err,
				   size_t errlen);
void uccid_holder_from(const struct lockmgr_holder_info *in, struct uccid_holder *out);

/* ---- card.c: card state and the event ring (r->lock held for every call) ---- */

/*
 * Queue an event for uccid_wait_event (the oldest is dropped when the ring
 * is full), and wake the thread waiting for one in the transport.
 */
void uccid_push_event(struct uccid_reader *r, enum uccid_event_type type, unsigned slot, uint8_t code);
bool uccid_pop_event(struct uccid_reader *r, struct uccid_event *ret);
/* A card event on s: bumps the generation, tells the lock manager (and ends an eject latch on removal). */
void uccid_card_event(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev);
/* The reader says the slot is (not) occupied: a change is a card event. */
void uccid_card_present(struct uccid_reader *r, struct uslot *s, bool present);
/* The reader reports a change: a new card (unpowered) or none, with an event for the caller. */
void uccid_card_changed(struct uccid_reader *r, struct uslot *s, bool present);
/* The card went out and one came back between two reports (REMOVED, then INSERTED, with events). */
void uccid_card_swapped(struct uccid_reader *r, struct uslot *s);
/* The card answered a power-up: powered, with protocol still to negotiate (0xFF). */
void uccid_card_powered(struct uccid_reader *r, struct uslot *s);
/* The protocol the card and reader agreed on. */
void uccid_card_protocol(struct uccid_reader *r, struct uslot *s, uint8_t protocol);
/* The card is not powered any more, for the reason ev (RESET, POWER_OFF, EJECT). */
void uccid_card_unpowered(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev);
void uccid_card_set_left(struct uccid_reader *r, struct uslot *s, bool left);
/*
 * The card in s as an exchange needs it, a copy into *ret (r->lock taken
 * here): -ENOMEDIUM when there is none, -EIO (logged: "slot N: WHAT to a
 * card that is not powered") when it is not powered with a protocol.
 */
int uccid_card_usable(struct uccid_reader *r, struct uslot *s, const char *what, struct ucard *ret);
void uccid_card_set_disposing(struct uccid_reader *r, struct uslot *s, bool disposing);
void uccid_card_set_verify(struct uccid_reader *r, struct uslot *s);
bool uccid_card_take_verify(struct uccid_reader *r, struct uslot *s);
/* Did an answer find the card inserted since the last NotifySlotChange (and forget it)? */
bool uccid_card_take_arrived(struct uccid_reader *r, struct uslot *s);

/* ---- link.c: a remote reader's link (r->lock held unless said) ---- */

/*
 * The transport is gone: where it can reconnect (and uccid_options allow),
 * the link is down — r->dead -ENOTCONN, every card reported removed, a
 * READER_UNAVAILABLE event — and true is returned (also when it was down
 * already, or the -ENODEV came from a connection a reconnect replaced).
 * false: the reader is gone for good; the caller says so (uccid_link_gone).
 */
bool uccid_link_lost(struct uccid_reader *r);
/*
 * Which instance of the device the transport reaches (its eject latches
 * are that instance's): its bus and address, which a device plugged in
 * again — or re-enumerated by its USB/IP server — does not keep.
 */
uint32_t uccid_instance(const struct uccid_reader *r);
/* The reader is gone for good (-ENODEV): log why, a READER_REMOVED event. */
void uccid_link_gone(struct uccid_reader *r, const char *why);
/*
 * r->lock not held.  While the link is down, try to restore it: an attempt
 * when the back-off allows and no other thread is in one.  wait: until the
 * link is back or gone, an event is queued, uccid_wake, or deadline (µs);
 * else one attempt at most.  Returns r->dead then (0: the link is up).
 */
int uccid_link_restore(struct uccid_reader *r, int64_t deadline, bool wait);

/* ---- iccd.c: USB ICCD tokens on the control pipe (beside link.c) ---- */

/*
 * The session of an ICCD token (protocol: its bInterfaceProtocol, 1 or 2):
 * one slot, the exchange level and protocol the token works at, no PPS.
 * After the class descriptor is read.  Returns 0, or -ENOTSUP with err set.
 */
int uccid_iccd_setup(struct uccid_reader *r, uint8_t protocol, char *err, size_t errlen);
/*
 * Carry out one CCID command (msg, len bytes) with ICCD requests and write
 * the answer a CCID reader would give into ans (cap bytes; *ret_len its
 * length), waiting for a busy token until deadline (µs).  Commands a token
 * does not have are answered "command not supported".  r->lock not held.
 * Returns 0, or -ETIMEDOUT, -EPROTO (a malformed answer), -EIO (a request
 * refused), -EMSGSIZE, -EINVAL, or the transport's -ENODEV, -ECANCELED.
 */
int uccid_iccd_xchg(struct uccid_reader *r, uint8_t *msg, size_t len, uint8_t *ans, size_t cap, size_t *ret_len,
		    int64_t deadline);

/* ---- engine.c: every command goes through uccid_xchg ---- */

/*
 * Build a command (bSlot and bSeq are set by uccid_xchg) with the codec's
 * checked encoder, into msg of cap bytes: a command the codec would refuse
 * never reaches the wire.  Returns the length, or -ENOBUFS, -EINVAL and the
 * errors of ccid_msg_encode.
 */
ssize_t uccid_build(uint8_t *msg, size_t cap, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data,
		    size_t len);

/*
 * Send one PC_to_RDR message on slot (bSlot and bSeq are filled in) and wait
 * for its answer, honouring time extensions, skipping stale and duplicate
 * answers (the bSeq of one of the slot's recent commands) and zero-length
 * transfers (bounded), within base_ms per command
 * and the session's exchange deadline in all; on a deadline the command is
 * aborted (ABORT request + PC_to_RDR_Abort).  An answer that cannot be
 * stale — once the session has had an answer, one malformed while this is
 * the only command in flight or carrying a bSeq the slot never used; a
 * bulk-IN halt in its place — fails the command at once with -EPROTO, after
 * the same abort to resynchronise.  The answer is decoded into
 * *ret (abData points into ans).  A failed command (bmCommandStatus 1) is
 * returned as success with ret->rsp.bStatus / bError set; callers decide
 * (uccid_answer_error).  len may be uccid_build's negative error, returned
 * as it is.  s->op held.
 * Returns 0, -ETIMEDOUT, -ENODEV, -ECANCELED, -EPROTO, -EMSGSIZE (answer
 * larger than cap), -EBUSY.
 */
int uccid_xchg(struct uccid_reader *r, struct uslot *s, uint8_t *msg, ssize_t len, uint8_t *ans, size_t cap,
	       unsigned base_ms, struct ccid_msg *ret);

/* Give s the command sequence number seq (and remember it: a late answer may carry it).  r->lock held. */
void uccid_note_seq(struct uslot *s, uint8_t seq);

/*
 * The session ends for good with err (-ENODEV: the reader is gone, with a
 * READER_REMOVED event; -ECANCELED: uccid_cancel); the first cause stays.
 * A remote reader's -ENODEV takes the link down instead, to be restored
 * (uccid_link_lost); a final cause replaces that.  Wakes every waiter.
 * r->lock held.
 */
void uccid_set_dead(struct uccid_reader *r, int err);
/* r->dead, read under r->lock. */
int uccid_dead(struct uccid_reader *r);

/*
 * A failed answer to the slot's command: keep it as the slot's last error
 * (with the refused command's type), log it once, and map it to an errno.
 */
int uccid_answer_error(struct uccid_reader *r, struct uslot *s, const struct ccid_msg *m);

/* ---- commands.c: one-command primitives, s->op held ---- */

/* The card is off (ev: RESET, POWER_OFF, EJECT): forget its ATR, record the transition. */
void uccid_forget_card(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev);
int uccid_do_power_off(struct uccid_reader *r, struct uslot *s);
int uccid_do_slot_status(struct uccid_reader *r, struct uslot *s, struct uccid_slot_status *ret);
int uccid_do_simple(struct uccid_reader *r, struct uslot *s, uint8_t type, uint8_t b7);
/* PC_to_RDR_Escape with data; the answer's abData into rsp.  Its length or a negative errno (-EMSGSIZE: over cap). */
ssize_t uccid_do_escape(struct uccid_reader *r, struct uslot *s, const uint8_t *data, size_t len, uint8_t *rsp,
			size_t cap);

/* ---- charlevel.c: a character-level reader's exchanges (CCID §6.1.4), s->op held ---- */

/*
 * Send len bytes to the card (cut into messages the reader takes, the last
 * carrying wLevelParameter) and read expect bytes back into in (cap bytes),
 * allowing per_byte_ms for each.  As uccid_xchg: 0 with the answer in *m
 * (a failed one left for the caller; on success m->abData is in and
 * m->dwLength the bytes received, fewer than expect when the reader gave
 * fewer), or -EINVAL, -ENOMEM, -EPROTO (more bytes than asked) and
 * uccid_xchg's errors.
 */
int uccid_char_xfr(struct uccid_reader *r, struct uslot *s, const uint8_t *out, size_t len, size_t expect,
		   uint8_t *in, size_t cap, unsigned per_byte_ms, struct ccid_msg *m);
/*
 * One T=0 TPDU (ccid_t0_begin's forms) through the procedure bytes; rsp gets
 * response data and SW1 SW2.  Returns its length, or -EINVAL (a TPDU T=0
 * cannot carry), -EPROTO (the card broke the procedure-byte rules),
 * -EMSGSIZE (more data than cap), -ETIMEDOUT (mute, or NULL bytes beyond the
 * exchange deadline) and the reader's errors.
 */
ssize_t uccid_char_t0(struct uccid_reader *r, struct uslot *s, const uint8_t *tpdu, size_t len, uint8_t *rsp,
		      size_t cap);
/* One T=1 block and the card's answer block (prologue, then LEN + EDC), as uccid_char_xfr; in: cap >= 259. */
int uccid_char_t1(struct uccid_reader *r, struct uslot *s, const uint8_t *blk, size_t len, uint8_t *in, size_t cap,
		  unsigned per_byte_ms, struct ccid_msg *m);
/* A PPS request and the card's answer (PPSS PPS0, then what PPS0 announces), as uccid_char_xfr; cap >= 6. */
int uccid_char_pps(struct uccid_reader *r, struct uslot *s, const uint8_t *req, size_t len, uint8_t *in, size_t cap,
		   struct ccid_msg *m);

/* ---- t1xfr.c: T=1 blocks at TPDU and character level, s->op held ---- */

/*
 * Send the block the slot's T=1 engine has due by XfrBlock (at the character level by
 * uccid_char_t1) and feed it the
 * answer (a mute card or a parity error as nothing received, *lost saying
 * why); *st is the engine's next state.  Returns 0, or the exchange's errno
 * (the engine then waits for an answer that will not come: the caller ends).
 */
int uccid_t1_step(struct uccid_reader *r, struct uslot *s, int *st, int *lost);
/* The exchange's end: the response length for CCID_T1_DONE, else an errno. */
ssize_t uccid_t1_result(struct uslot *s, int st, int lost);

/* ---- gate.c: the slot gate ---- */

/*
 * Enter slot for one operation: wait for the slot (another thread's lock),
 * refuse with -ECONNRESET / -EMEDIUMTYPE if the calling thread has not
 * acknowledged a reset or removal (UCCID_ENTER_ACK: acknowledge instead, for
 * power-up), then take s->op.  UCCID_ENTER_TRY: do not wait (-EBUSY).
 */
#define UCCID_ENTER_ACK 0x1u
#define UCCID_ENTER_TRY 0x2u
int uccid_slot_enter(struct uccid_reader *r, struct uslot *s, unsigned how);
void uccid_slot_leave(struct uccid_reader *r, struct uslot *s);
/* The calling thread's lock-manager handle on slot, created when create; NULL if none. */
struct lockmgr_handle *uccid_handle_of(struct uccid_reader *r, unsigned slot, bool create);
/* Close every thread's handle (uccid_close). */
void uccid_handles_free(struct uccid_reader *r);

/* ---- events.c ---- */

/* For tests: how often uccid_wait_event's thread was woken (ev_wakeups); whether one waits in the transport now. */
uint64_t uccid_event_wakeups(struct uccid_reader *r);
bool uccid_event_waiting(struct uccid_reader *r);

/* ---- power.c ---- */

int uccid_do_power_on(struct uccid_reader *r, struct uslot *s, enum uccid_voltage v, bool warm);

/* ---- locks.c ---- */

/* Create the slot lock manager (after the descriptor), and free it with the open lock. */
int uccid_locks_init(struct uccid_reader *r, char *err, size_t errlen);
void uccid_locks_free(struct uccid_reader *r);

/* ---- session.c ---- */

/* Open a session over t, taking over ol (may be NULL). */
int uccid_session_open(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_open_lock *ol,
		       struct uccid_reader **ret, char *err, size_t errlen);

#endif
