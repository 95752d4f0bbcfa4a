/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal state of a reader session, shared by reader.c (open, close and
 * the exchange engine), power.c (power, ATR, PPS, parameters), apdu.c
 * (APDU exchange at every level) and events.c (card events).
 *
 * Locking: r->lock guards the exchange engine (slot busy flags, pending
 * answers, the bulk-IN reader role, bSeq) and the event ring; s->op
 * serialises whole operations on one slot (a power-on with its PPS, an APDU
 * with its T=1 blocks or chaining) and guards the slot's card state.  Order:
 * s->op before r->lock; never hold r->lock across transport I/O.
 */
#ifndef UCCID_READER_PRIV_H
#define UCCID_READER_PRIV_H

#include <pthread.h>
#include <stdarg.h>

#include "ccid/ccid.h"
#include "transport/transport.h"
#include "session/uccid.h"
#include "lockmgr/lockmgr.h"

#define UCCID_MAX_SLOTS 16
#define UCCID_SKIP_LIMIT 16          /* stale / malformed answers tolerated per exchange */
#define UCCID_BUSY_RETRIES 3         /* CMD_SLOT_BUSY answers retried before -EBUSY */
#define UCCID_EVENT_RING 64
#define UCCID_READ_SLICE_MS 200      /* the bulk-IN reader hands over at least this often */
#define UCCID_ABORT_MS 1000          /* bound on the ABORT sequence */

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

	/* card state, under op (present/generation also under r->lock for events) */
	bool present, powered;
	uint8_t protocol;                /* CCID_PROTOCOL_T0 / T1, 0xFF when not negotiated */
	uint8_t atr[CCID_ATR_MAX];
	size_t atr_len;
	struct ccid_atr atrp;
	struct ccid_t1 t1;
	uint32_t bwt_ms, wwt_ms;
	uint64_t generation;
	struct uccid_reader_error last_error;
	bool disposing;                  /* the lock manager is carrying out a disposition: it
					    accounts for the card event itself */
	bool left;                       /* the last unlock was LEAVE: close leaves the card as is */
	bool verify;                     /* ask the reader whether the powered card is still on before
					    the next operation (under r->lock; see events.c) */
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
};

struct uccid_reader {
	struct uccid_transport *t;
	struct uccid_options opt;
	struct ccid_class_desc desc;
	uint8_t desc_raw[CCID_CLASS_DESC_LEN];
	enum ccid_exchange_level level;
	unsigned nslots, busy_max;
	uint32_t max_msg;
	uint32_t clock_khz;
	uint32_t rates[256];             /* GET_DATA_RATES, when offered (CCID §5.3.3) */
	unsigned nrates;
	uint32_t clocks[256];            /* GET_CLOCK_FREQUENCIES, kHz (CCID §5.3.2) */
	unsigned nclocks;
	char quirks[192];
	bool class_last, vendor_class;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t out_lock;        /* one bulk-OUT writer at a time */
	uint8_t next_seq;
	unsigned busy;
	bool reading;
	bool in_sync;                    /* an answer of this session was routed: what bulk-IN holds
					    now is ours, not a previous session's leftovers */
	int dead;                        /* 0, or -ENODEV / -ECANCELED: sticky */
	uint8_t *rx;

	/* events */
	pthread_mutex_t ev_lock;         /* one interrupt reader at a time */
	bool notify_seen;                /* a NotifySlotChange has arrived (under r->lock) */
	struct uccid_event ring[UCCID_EVENT_RING];
	unsigned ring_head, ring_len;

	/* locks (lock.c) */
	struct uccid_open_lock open;     /* held for the handle's life (named readers) */
	struct lockmgr *lm;              /* slot locks */
	pthread_mutex_t own_lock;        /* guards owners */
	struct uowner *owners;

	struct uslot slots[UCCID_MAX_SLOTS];
};

/* reader.c */
int64_t uccid_now_us(void);
void uccid_log(struct uccid_reader *r, enum uccid_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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
 * returned as success with ret->rsp.bStatus / bError set and recorded as the
 * slot's last error; callers decide.
 * Returns 0, -ETIMEDOUT, -ENODEV, -ECANCELED, -EPROTO, -EMSGSIZE (answer
 * larger than cap), -EBUSY.
 */
int uccid_xchg(struct uccid_reader *r, struct uslot *s, uint8_t *msg, size_t len, uint8_t *ans, size_t cap,
	       unsigned base_ms, struct ccid_msg *ret);

/* Build a command header in msg (slot and sequence are set by uccid_xchg). */
size_t uccid_build(uint8_t *msg, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data,
		   size_t len);

/* Give s the command sequence number seq (and remember it: a late answer may carry it). */
void uccid_note_seq(struct uslot *s, uint8_t seq);

/*
 * The session ends for good with err (-ENODEV: the reader is gone, with a
 * READER_REMOVED event; -ECANCELED: uccid_cancel); the first cause stays.
 * Wakes every waiter.  r->lock held.
 */
void uccid_set_dead(struct uccid_reader *r, int err);

/* Map a failed answer to an errno (and keep it as the slot's last error). */
int uccid_answer_error(struct uccid_reader *r, struct uslot *s, const struct ccid_msg *m);

/* The bmICCStatus of an answer updates what we know of the card. */
void uccid_note_icc_status(struct uccid_reader *r, struct uslot *s, uint8_t bStatus);

/* identity.c: the reader identity of a name (-EINVAL, -ENOENT, -ENOBUFS, libusb errors). */
int uccid_identity(const char *name, char *id, size_t cap);

/* lock.c */
lockmgr_owner_t uccid_owner(void);      /* the calling thread */
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
/* A card event on s (s->op or r->lock held): bumps the generation, tells the lock manager. */
void uccid_card_event(struct uccid_reader *r, struct uslot *s, enum lockmgr_event ev);
/*
 * Take the open lock of a named reader (before its transport is opened),
 * waiting opts->open_wait_ms.  Returns 0 (also when the name has no identity
 * or there can be no lock file: ol->lm NULL), -EBUSY (err names the holder),
 * -EINVAL, or the lock file's error.
 */
int uccid_open_lock(struct uccid_open_lock *ol, const char *name, const struct uccid_options *opts, char *err,
		    size_t errlen);
void uccid_open_unlock(struct uccid_open_lock *ol);
/* Open a session over t, taking over ol (may be NULL). */
int uccid_session_open(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_open_lock *ol,
		       struct uccid_reader **ret, char *err, size_t errlen);
/* Create the slot lock manager (after the descriptor), and free both. */
int uccid_locks_init(struct uccid_reader *r, char *err, size_t errlen);
void uccid_locks_free(struct uccid_reader *r);

/* power.c, apdu.c: the operations without entering the slot (s->op held) */
int uccid_do_power_off(struct uccid_reader *r, struct uslot *s);
int uccid_do_slot_status(struct uccid_reader *r, struct uslot *s, struct uccid_slot_status *ret);
int uccid_do_simple(struct uccid_reader *r, struct uslot *s, uint8_t type, uint8_t b7);

/* quirks.c: name (and log) the structural faults the session works around. */
void uccid_apply_quirks(struct uccid_reader *r, bool class_after_endpoint, bool vendor_class);

/* power.c */
int uccid_do_power_on(struct uccid_reader *r, struct uslot *s, enum uccid_voltage v, bool warm);

/* events.c */

void uccid_push_event(struct uccid_reader *r, enum uccid_event_type type, unsigned slot, uint8_t code);

#endif
