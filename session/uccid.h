/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libuccid: talk to USB CCID smart-card readers — on USB through libusb,
 * remote or virtual over USB/IP — with bounded, honest calls.
 *
 * Every function returns >= 0 on success (possibly a length) or a negative
 * errno.  Where the reader itself refused a command, the CCID bError and
 * bStatus it sent are kept per slot (uccid_last_error()).  The errors used:
 *   -EINVAL      bad argument (slot out of range, NULL, buffer too small for
 *                the protocol, an APDU whose lengths do not add up)
 *   -ENOMEDIUM   no card in the slot (bmICCStatus 2)
 *   -EIO         the reader reported the command failed (see uccid_last_error)
 *   -ETIMEDOUT   the exchange's deadline passed; the command was aborted
 *   -EPROTO      the reader or card broke the protocol and did not recover
 *                (the session tried to resynchronise first)
 *   -ENODEV      the reader is gone (unplugged, server gone); every later
 *                call returns -ENODEV; the handle must be closed
 *   -ENOTCONN    the link to a remote reader is down and the session is
 *                reconnecting (uccid_options.reconnect_ms): the cards were
 *                reported removed; calls work again once it is back
 *                (UCCID_EVENT_READER_AVAILABLE), with a new card
 *   -EBUSY       the slot or reader is busy (CMD_SLOT_BUSY more often than
 *                the retry limit)
 *   -EMSGSIZE    the response does not fit the caller's buffer
 *   -ENOTSUP     the reader cannot do it (no mechanism, character level, an
 *                extended APDU at short-APDU level or to a T=0 card at TPDU
 *                level, ...)
 *   -ECANCELED   uccid_cancel() ended the call
 *   -ECONNRESET  the card was reset since this thread last acknowledged (uccid_card_check)
 *   -EMEDIUMTYPE the card was removed or replaced since then (uccid_card_check)
 *   -ENOMEM
 *
 * Threads: a struct uccid_reader may be shared by threads.  Calls on the same
 * slot are serialised; calls on different slots run concurrently up to the
 * reader's bMaxCCIDBusySlots; a slot another thread has locked
 * (uccid_lock) is waited for.  uccid_cancel() may be called from any thread.
 * uccid_close() must not race with other calls on the handle.
 */
#ifndef UCCID_H
#define UCCID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

struct uccid_reader;
struct uccid_transport;

/* Logging: library code never prints; it calls this (NULL: quiet). */
enum uccid_log_level {
	UCCID_LOG_ERROR,
	UCCID_LOG_WARNING,
	UCCID_LOG_INFO,
	UCCID_LOG_DEBUG,
};
typedef void (*uccid_log_fn)(void *ctx, enum uccid_log_level level, const char *msg);

/*
 * Frame trace: every CCID message sent (out = true) or received, in full.
 * A separate category from logging, off by default: APDUs carry PINs.
 */
typedef void (*uccid_trace_fn)(void *ctx, bool out, const uint8_t *msg, size_t len);

struct uccid_options {
	unsigned exchange_deadline_ms;  /* total time one exchange may take, time extensions
					   included (0: default 60000; always finite); then
					   the command is aborted, in at most 1 s more */
	unsigned power_deadline_ms;     /* power on, ATR (0: default 30000) */
	bool auto_get_response;         /* T=0 TPDU: follow 61xx / 6Cxx for the caller */
	uccid_log_fn log;
	void *log_ctx;
	enum uccid_log_level log_level;
	uccid_trace_fn trace;
	void *trace_ctx;
	/* Locks (docs/locks.md).  Named readers only (uccid_open): */
	int open_wait_ms;               /* while another process has the reader open: 0 fail at once
					   with -EBUSY naming it, > 0 wait that long, -1 wait forever */
	const char *lock_dir;           /* lock files (NULL: $UCCID_LOCK_DIR, else $XDG_RUNTIME_DIR/uccid,
					   else /run/uccid; unusable: locks hold within the process) */
	const char *program;            /* this process as the lock files record it (NULL: its name) */
	int abandon_disposition;        /* carried out when the last holder died holding a slot,
					   if abandon_disposition_set */
	bool abandon_disposition_set;   /* false: UCCID_RESET, and abandon_disposition must be 0
					   (else uccid_open fails with -EINVAL): zeroed options
					   never pass an authenticated card on */
	/* Every reader: */
	int slot_wait_ms;               /* how long an operation waits for a slot another thread has
					   locked (0: the exchange deadline; -1 forever) */
	int reconnect_ms;               /* a remote (USB/IP) reader whose link drops is reported
					   unavailable and imported again, with back-off (up to 1 s
					   between attempts), for this long: 0 without limit, -1
					   never (the reader is gone at once, -ENODEV), > 0 that long,
					   then gone */
	bool vendor_apdu_mode;          /* a reader whose firmware declares TPDU but works at
					   short-APDU level after a vendor command (GemPC Twin and
					   Key, 08E6:3437/3438: Escape 1F 02; libccid's
					   ifdDriverOptions 0x0002) is switched at open (and after
					   a reconnect, before anything else) and driven at
					   short-APDU level (uccid_info().quirks names it); if
					   it refuses, or has no such command, it is driven at
					   the level it declares */
	/* Named readers only (uccid_open), issue 15: */
	bool passive;                   /* a holder that lets others go first (a monitor): the open waits
					   until no other process asks for the reader, asks nobody to
					   yield, and while open, another process's uccid_open() asking
					   for the reader makes uccid_wait_event() report
					   UCCID_EVENT_YIELD: close the handle, open it again (it waits
					   until the others are done).  docs/locks.md "Passive holders" */
};

/*
 * Open a reader by name:
 *   usbip://HOST[:PORT]/BUSID         a device on a USB/IP server
 *   usb:VVVV/PPPP[:SERIAL]            a USB reader by ID (and serial)
 *   usb:BUS:ADDR                      a USB reader by position
 *   usb:VVVV/PPPP:libudev:IF:/dev/bus/usb/BBB/DDD, usb:VVVV/PPPP:libusb-1.0:BUS:ADDR:IF
 *                                     the forms pcscd passes
 * opts may be NULL.  err (may be NULL) receives a message naming what failed.
 * Returns 0, -EINVAL (bad name or options), -ENODEV (no such reader),
 * -EACCES, -EBUSY, -ETIMEDOUT, -EPROTO (not a usable CCID interface),
 * -ENOMEM.
 */
int uccid_open(const char *name, const struct uccid_options *opts, struct uccid_reader **ret, char *err,
	       size_t errlen);

/* The same over a transport the caller built (tests, embedders); takes ownership of t. */
int uccid_open_transport(struct uccid_transport *t, const struct uccid_options *opts,
			 struct uccid_reader **ret, char *err, size_t errlen);

/*
 * Power off every slot (best effort, bounded: 2 s each) and free
 * everything, whatever the result.  Returns 0, or how the session ended
 * badly: the power-off failed (-ETIMEDOUT, -EIO, -EPROTO ...; a card that
 * was pulled is no failure), or the reader is gone (-ENODEV: the reason, a
 * protocol violation the transport caught, say, is logged as the
 * session's error), or unavailable (-ENOTCONN) — during the close or
 * before it.  A session ended by uccid_cancel() closes with 0.  NULL: 0.
 */
int uccid_close(struct uccid_reader *r);

/* Make every call in progress return -ECANCELED promptly; the handle is then only good for close. */
void uccid_cancel(struct uccid_reader *r);

/* Reader facts. */
struct uccid_reader_info {
	uint16_t idVendor, idProduct, bcdDevice;
	char path[96];
	unsigned nslots, busy_slots;
	unsigned exchange_level;        /* enum ccid_exchange_level */
	uint32_t max_message;           /* clamped dwMaxCCIDMessageLength */
	uint32_t features, mechanical;
	uint8_t voltages, pin_support;
	bool has_interrupt;
	const char *quirks;             /* names of quirks applied, comma separated, "" if none */
	uint8_t busnum, devnum;         /* the device's USB bus and address (0: unknown) */
	uint8_t interface;              /* bInterfaceNumber of the CCID interface in use */
	uint8_t ep_bulk_out, ep_bulk_in, ep_intr_in;   /* its endpoint addresses (ep_intr_in 0: none) */
	uint8_t interface_protocol;     /* its bInterfaceProtocol: 0 CCID, 1 ICCD version A, 2 ICCD
					   version B (a token without CCID's class requests) */
};
int uccid_info(const struct uccid_reader *r, struct uccid_reader_info *ret);

/*
 * The device's strings (iManufacturer, iProduct, iSerialNumber; USB 2.0
 * §9.6.7) in the first language it lists, as libusb_get_string_descriptor_ascii()
 * gives them ('?' for what is not ASCII, control characters included); ""
 * for a string the device does not have.  Read from the device at the first
 * call, not at open (a control transfer each, a round trip each over
 * USB/IP), then kept; a read that timed out is tried again at the next call.
 * Returns 0, or -EINVAL, -ENODEV, -ECANCELED.
 */
struct uccid_device_strings {
	char manufacturer[128], product[128], serial[128];
};
int uccid_device_strings(struct uccid_reader *r, struct uccid_device_strings *ret);

/* The raw 54-byte CCID class descriptor. */
int uccid_class_descriptor(const struct uccid_reader *r, uint8_t desc[54]);

/*
 * The reader's standard descriptors as GET_DESCRIPTOR returns them (USB 2.0
 * §9.6): the 18-byte device descriptor into dev and the whole active
 * configuration descriptor (wTotalLength bytes, at most 4096) into cfg, read
 * again through the transport (for tools that rebuild a USB capture: uccid
 * --pcap).  Returns the configuration's length, or -EINVAL, -ENOBUFS (cap
 * too small), -ENODEV, -EIO, -ETIMEDOUT.
 */
int uccid_descriptors(struct uccid_reader *r, uint8_t dev[18], uint8_t *cfg, size_t cap);

enum uccid_voltage {
	UCCID_VOLTAGE_AUTO,     /* the reader's automatic selection, or 5 V -> 3 V -> 1.8 V */
	UCCID_VOLTAGE_5V,
	UCCID_VOLTAGE_3V,
	UCCID_VOLTAGE_1V8,
};

/*
 * Power the card on (cold) or, if powered, warm reset it (IccPowerOn on a
 * powered card), read and check the ATR, then negotiate: PPS and
 * SetParameters as dwFeatures requires, and for T=1 the IFSD exchange.
 * Returns the ATR length (copied to atr, cap >= 33), or an error above.
 */
int uccid_power_on(struct uccid_reader *r, unsigned slot, enum uccid_voltage v, uint8_t *atr, size_t cap);

/*
 * Take over the card as an earlier session left it powered (UCCID_LEAVE,
 * uccid --leave, another driver): no reset, so what the card holds — a
 * selected application, a verified PIN — stays.  The protocol and its
 * parameters come from the reader (PC_to_RDR_GetParameters); for T=1 at
 * TPDU level the block numbering restarts with S(RESYNCH).  The ATR is not
 * read again (uccid_slot_status then reports none; uccid_set_protocol
 * takes the protocol the card runs as negotiated, and resets the card for
 * another, after which its ATR is known).  Returns 0, -ENODATA
 * (the card is not powered: uccid_power_on it), -ENOMEDIUM, or an error
 * above (a reader that refuses GetParameters: -ENOTSUP).
 */
int uccid_resume(struct uccid_reader *r, unsigned slot);

/* Warm reset (IccPowerOn while powered) or cold reset (IccPowerOff, then IccPowerOn). */
int uccid_reset(struct uccid_reader *r, unsigned slot, bool cold, uint8_t *atr, size_t cap);
int uccid_power_off(struct uccid_reader *r, unsigned slot);

/*
 * Make the powered card run protocol (0: T=0, 1: T=1) at the Fi/Di indices
 * fidi (as PPS1 and TA1 carry them; 0: the best the card and the reader both
 * support, as at power-up) — pcscd's IFDHSetProtocolParameters.  When the
 * card runs them already (power-up negotiates T=1 when the card offers it),
 * nothing is sent.  Otherwise the card is warm reset, since a PPS may only
 * follow an ATR (ISO 7816-3 §9.1), and negotiated as at power-up: at TPDU
 * level a PPS for protocol and fidi (none when both are the card's defaults),
 * unless the reader does PPS itself (dwFeatures 80); SetParameters; for T=1
 * at TPDU level the host's S(IFS).  In specific mode (TA2) only TA2's
 * protocol, at TA1's Fi/Di, is accepted.  Returns
 *   0            the card ran them already; nothing was sent
 *   1            the card was reset and runs them now (its ATR, in
 *                uccid_slot_status, is the warm reset's)
 *   -EINVAL      no such slot, protocol above 1, or fidi with an RFU Fi or Di
 *   -EPROTONOSUPPORT the card's ATR does not offer protocol (in specific
 *                mode: it is not TA2's, or fidi is not TA1's)
 *   -ENOTSUP     the reader does not run protocol (dwProtocols) or the
 *                rate of fidi, or negotiates by its own rules (dwFeatures
 *                40) and runs another protocol
 *   -EPROTO      the card refused the PPS or answered it wrongly (§9.3): it
 *                was reset again and runs its default protocol at Fd/Dd
 *   -EIO         the card is not powered, or the reader refused a command
 *   -ENOMEDIUM, -ETIMEDOUT, -ENODEV, -ECANCELED, -EBUSY, -ECONNRESET,
 *   -EMEDIUMTYPE as above.
 */
int uccid_set_protocol(struct uccid_reader *r, unsigned slot, uint8_t protocol, uint8_t fidi);

/*
 * The parameters the card runs with (ISO 7816-3 §8.3, §9, §11.4), as this
 * session negotiated them at power-up: from the ATR, the PPS the card
 * accepted and the T=1 IFSD exchange.
 */
struct uccid_card_params {
	uint32_t clock_khz;             /* the clock the reader gives the card (its dwDefaultClock) */
	uint16_t F;                     /* clock rate conversion integer Fi (372 ...) */
	uint8_t D;                      /* baud rate adjustment integer Di (1 ...) */
	uint8_t fidi;                   /* their indices as PPS1 and bmFindexDindex carry them */
	uint8_t N;                      /* extra guard time integer (TC1) */
	uint8_t WI;                     /* T=0 waiting time integer (TC2, default 10) */
	uint8_t IFSC, IFSD;             /* T=1 information field sizes in use; IFSD is the reader's
					   dwMaxIFSD when the reader runs T=1 itself (APDU levels) */
	uint8_t BWI, CWI;               /* T=1 block and character waiting time integers */
	uint8_t edc;                    /* T=1 error detection code: 0 LRC, 1 CRC */
};

struct uccid_slot_status {
	bool present, powered;
	uint8_t protocol;               /* 0, 1, or 0xFF when not negotiated */
	uint8_t atr[33];
	size_t atr_len;
	uint64_t generation;            /* bumped by every power change and card event */
	bool ejected;                   /* latched by an eject without a mechanism (uccid_ejected) */
	uint64_t changes;               /* removals and insertions seen in the slot (a swap between
					   two reports counts): while it stays the same, so does the card */
	struct uccid_card_params params;        /* valid when protocol is 0 or 1 */
};
int uccid_slot_status(struct uccid_reader *r, unsigned slot, struct uccid_slot_status *ret);

/*
 * Send a command APDU (short or extended) and receive the response APDU
 * (data + SW1 SW2) at whatever exchange level the reader works.  Extended
 * APDUs go at extended-APDU level and at TPDU level under T=1; elsewhere
 * they are -ENOTSUP, nothing sent.
 * Returns the response length, or an error above.
 */
ssize_t uccid_transmit(struct uccid_reader *r, unsigned slot, const uint8_t *apdu, size_t len, uint8_t *rsp,
		       size_t cap);

/*
 * PIN entry on the reader's keypad: PC_to_RDR_Secure (CCID §6.1.11) with
 * bPINOperation op (CCID_PIN_OP_VERIFY 0, CCID_PIN_OP_MODIFY 1) and pin, the
 * CCID PIN verification or modification data structure (abPINDataStructure,
 * the APDU template last; <uccid/ccid/pin.h> decodes it), checked before it
 * is sent.  At every exchange level the reader declares: at TPDU level under
 * T=1 the APDU travels in the I-block the session's T=1 state gives
 * (bTeoPrologue is filled in here), the card's answer block is checked and
 * the sequence numbers move on, and whatever blocks follow (S(WTX), a chained
 * response) are exchanged as for uccid_transmit(); at extended-APDU level a
 * chained response is collected.  The reader's PIN-pad faults known by
 * VID:PID are worked around (uccid_info().quirks names them).  The call
 * waits for the person at the keypad: up to bTimeOut seconds (0: 90) per PIN
 * entered, beyond the exchange deadline.  Returns the response APDU's length
 * (SW1 SW2 last); an entry the reader ended itself is answered as PC/SC part
 * 10 gives it — 64 00 timed out, 64 01 cancelled (the reader's bError is in
 * uccid_last_error()), or the 64 02 / 64 03 the reader sent.  Errors: those
 * above, and -EINVAL (op, or a structure ccid_pin_decode refuses), -ENOTSUP
 * (the reader has no PIN pad for op, bPINSupport, or the card runs T=1 at
 * TPDU level and the template is longer than IFSC), -EMSGSIZE (the message
 * exceeds dwMaxCCIDMessageLength).
 */
ssize_t uccid_secure(struct uccid_reader *r, unsigned slot, uint8_t op, const uint8_t *pin, size_t len, uint8_t *rsp,
		     size_t cap);

/* What the reader's PIN pad takes (PC/SC part 10 FEATURE_GET_TLV_PROPERTIES). */
struct uccid_pin_properties {
	uint8_t bPINSupport;            /* CCID: 01 verify, 02 modify */
	uint16_t wLcdLayout;            /* lines (high byte) x characters (low byte); 0: no display */
	uint8_t bEntryValidationCondition;      /* the conditions the reader may end an entry on */
	uint8_t bMinPINSize, bMaxPINSize;       /* 0: not known */
};
int uccid_pin_properties(const struct uccid_reader *r, struct uccid_pin_properties *ret);

/* PC_to_RDR_Escape: vendor data in, vendor data out.  Returns the response length. */
ssize_t uccid_escape(struct uccid_reader *r, unsigned slot, const uint8_t *data, size_t len, uint8_t *rsp,
		     size_t cap);

/* PC_to_RDR_Mechanical with bFunction 1..5 (accept, eject, capture, lock, unlock). */
int uccid_mechanical(struct uccid_reader *r, unsigned slot, uint8_t function);

/*
 * Diagnostics (uccid selftest, uccid trace): send one PC_to_RDR message as
 * given, with only bSlot and bSeq filled in, and return the reader's answer
 * (time extensions consumed, stale answers skipped) in ans, undecoded: a
 * failed command is a successful call.  No retry on CMD_SLOT_BUSY.
 * Returns the answer's length, or -EINVAL (len < 10 or more than the
 * reader's dwMaxCCIDMessageLength), -ETIMEDOUT, -ENODEV, -ECANCELED,
 * -EPROTO (an answer of the wrong type), -EMSGSIZE.
 */
ssize_t uccid_ccid_command(struct uccid_reader *r, unsigned slot, const uint8_t *msg, size_t len, uint8_t *ans,
			   size_t cap, unsigned timeout_ms);

/*
 * A class-specific control request to the CCID interface (CCID 1.1 §5.3:
 * ABORT, GET_CLOCK_FREQUENCIES, GET_DATA_RATES); wIndex is the interface.
 * Returns the bytes transferred, or -EPIPE (the reader stalled: not
 * supported), -ETIMEDOUT, -ENODEV, -EIO.
 */
int uccid_class_request(struct uccid_reader *r, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			uint8_t *data, uint16_t wLength);

/* The bError and bStatus of the last command the reader refused on slot. */
struct uccid_reader_error {
	bool valid;
	uint8_t bStatus, bError;
	uint8_t bMessageType;           /* the refused command */
};
int uccid_last_error(const struct uccid_reader *r, unsigned slot, struct uccid_reader_error *ret);

/* Card events, from the interrupt endpoint (or polling where there is none). */
enum uccid_event_type {
	UCCID_EVENT_INSERTED,
	UCCID_EVENT_REMOVED,
	UCCID_EVENT_HARDWARE_ERROR,
	UCCID_EVENT_READER_REMOVED,     /* gone for good: the handle is only good for close */
	UCCID_EVENT_READER_UNAVAILABLE, /* the link to a remote reader dropped (a REMOVED event came
					   for each card first); the session reconnects (-ENOTCONN) */
	UCCID_EVENT_READER_AVAILABLE,   /* reconnected, to a new instance of the device: its cards are
					   new cards, reported INSERTED as the reader reports them */
	UCCID_EVENT_YIELD,              /* a passive session (opts.passive) only: another process asks
					   for the reader (uccid_yield_asked() says which); close the
					   handle and open it again to take the reader back after it */
};
struct uccid_event {
	enum uccid_event_type type;
	unsigned slot;
	uint8_t code;                   /* bHardwareErrorCode */
};

/*
 * Wait up to timeout_ms for the next event (0: poll; UCCID_WAIT_FOREVER: no
 * limit).  While nothing happens the calling thread sleeps: a reader with an
 * interrupt endpoint wakes it only when it speaks, over libusb and USB/IP
 * (a reader without one is asked every 200 ms).  Returns 1 with *ret, 0 on
 * timeout or after uccid_wake(), or an error.
 */
#define UCCID_WAIT_FOREVER (~0u)
int uccid_wait_event(struct uccid_reader *r, unsigned timeout_ms, struct uccid_event *ret);

/*
 * Make the uccid_wait_event() in progress on another thread return 0 now
 * (a stop request), or the next one when none is in progress.  Events are
 * not lost: the next uccid_wait_event() gets them.  Thread-safe, does not
 * block; not async-signal-safe: a program that stops on a signal calls it
 * from a thread that waits for the signal (sigwait).
 */
void uccid_wake(struct uccid_reader *r);

/*
 * Has another process asked this passive session (opts.passive) for the
 * reader?  Returns 1 with *ret_pid (may be NULL; the asker's pid, 0 if
 * unknown) once UCCID_EVENT_YIELD has been reported, else 0.  The open lock
 * file is then left for the asker as the handle closes.
 */
int uccid_yield_asked(struct uccid_reader *r, long *ret_pid);

/*
 * Card locks (issue 5, docs/locks.md): exclusive use of the card in a slot,
 * in the spirit of SCardBeginTransaction / SCardEndTransaction.
 *
 * The owner is the calling thread.  Locks are reentrant (counted); waiters
 * are served first come, first served and woken by the release.  While a
 * slot is locked, every operation on it from another thread of the process
 * waits for the lock (opts.slot_wait_ms) and then runs as if it had locked
 * and unlocked with UCCID_LEAVE around itself.  Across processes, a named
 * reader (uccid_open) is held open by one process at a time — USB claims and
 * USB/IP imports are exclusive anyway — and uccid_open waits
 * (opts.open_wait_ms) or fails with -EBUSY naming the process that has it
 * open, from a lock file in the lock directory.  Slot locks are recorded
 * there too: when a process dies holding one, the next process to lock the
 * slot is told (uccid_lock_info.abandoned) and the abandon disposition
 * (opts.abandon_disposition; default UCCID_RESET: a card left
 * authenticated must not pass on) is carried out first.
 *
 * Dispositions have PC/SC's numbers — those of Windows' SCardUnlock and
 * SCardEndTransaction and of pcsc-lite's <winscard.h>: SCARD_LEAVE_CARD 0,
 * SCARD_RESET_CARD 1, SCARD_UNPOWER_CARD 2, SCARD_EJECT_CARD 3 — so code
 * ported from PC/SC may pass its SCARD_* value as it is.  (Before issue 12
 * they were 1-4, and a ported SCARD_RESET_CARD meant LEAVE.)  Any other
 * value is -EINVAL with nothing changed.
 */
enum uccid_disposition {
	UCCID_LEAVE = 0,        /* SCARD_LEAVE_CARD: nothing is sent; the card keeps its state
				   (a verified PIN ...) */
	UCCID_RESET = 1,        /* SCARD_RESET_CARD: warm reset (PC_to_RDR_IccPowerOn on a powered
				   card); a card that was off stays off and its next power-up is cold */
	UCCID_UNPOWER = 2,      /* SCARD_UNPOWER_CARD: PC_to_RDR_IccPowerOff */
	UCCID_EJECT = 3,        /* SCARD_EJECT_CARD: PC_to_RDR_Mechanical 02 where dwMechanical
				   declares eject; otherwise power off and latch the slot: no
				   power-up until the card has been removed and inserted again */
};

/* What a disposition did. */
enum uccid_done {
	UCCID_DONE_NOTHING = 0, /* LEAVE, or RESET of a card that was off */
	UCCID_DONE_RESET,
	UCCID_DONE_UNPOWERED,
	UCCID_DONE_EJECTED,     /* the mechanism ejected the card */
	UCCID_DONE_LATCHED,     /* powered off and latched */
};

#define UCCID_LOCK_MECHANICAL 0x1u      /* also lock the card in (Mechanical 04; the last unlock sends 05) */

struct uccid_lock_info {
	unsigned count;                 /* reentrancy depth (1: newly taken) */
	bool abandoned;                 /* the previous holder died holding the slot */
	pid_t prev_pid;                 /* abandoned: who */
	char prev_program[32];
	int64_t prev_since;             /* abandoned: when it took the lock (Unix time, seconds) */
	int abandon_status;             /* abandoned: 0 or the error of carrying out the abandon
					   disposition (the lock is granted all the same) */
	enum uccid_done abandon_done;
};

/*
 * Lock slot for the calling thread.  timeout_ms: 0 try once, > 0 at most
 * that long, -1 forever.  ret may be NULL.  Returns 0, or -EINVAL, -EBUSY
 * (timeout 0 and the slot is held: uccid_lock_holder() says by whom),
 * -ETIMEDOUT, -ECANCELED (uccid_cancel()), -ENOTSUP (UCCID_LOCK_MECHANICAL
 * on a reader without a lock mechanism), -EOVERFLOW, or the error of the
 * mechanical lock (the slot is then not locked).
 */
int uccid_lock(struct uccid_reader *r, unsigned slot, int timeout_ms, unsigned flags, struct uccid_lock_info *ret);

/*
 * Release the calling thread's lock of slot.  A refusal changes nothing (the
 * lock stays held, no command is sent): -EINVAL (not a disposition: Windows'
 * E_INVALIDARG), -ENOLCK (slot not locked), -EPERM (locked by another
 * thread).  An inner unlock of a reentrant lock only counts down.  The last
 * one carries out the disposition (done, may be NULL, says what was done)
 * and releases the lock even when that fails: the error (-ENOMEDIUM card
 * removed, -ENODEV reader gone, -ETIMEDOUT card mute, ...) is returned with
 * the lock released, so that nobody is stuck behind a dead card.
 */
int uccid_unlock(struct uccid_reader *r, unsigned slot, int disposition, enum uccid_done *done);

/* Who holds a slot's lock or a reader. */
struct uccid_holder {
	bool held;
	bool this_process;
	bool abandoned;                 /* free, but its last holder died holding it */
	pid_t pid;
	char program[32];
	int64_t since;                  /* Unix time, seconds */
	unsigned count;                 /* this_process: reentrancy depth */
	unsigned waiters;
};

/* The holder of slot's lock.  Returns 0 or -EINVAL, -errno of the lock file. */
int uccid_lock_holder(struct uccid_reader *r, unsigned slot, struct uccid_holder *ret);

/*
 * Who has a named reader open (slot -1) or holds the lock of one of its
 * slots (slot >= 0), from its lock files, without opening it: uccid locks,
 * busy errors.  lock_dir as in uccid_options (NULL: the default).  Returns
 * 0 (ret->held false: nobody), -EINVAL, -ENOENT (no such reader), or the
 * error of resolving the name or reading the lock file.
 */
int uccid_reader_holder(const char *name, const char *lock_dir, int slot, struct uccid_holder *ret);

/*
 * uccid_reader_holder, and when the lock file cannot be trusted, why: err
 * (errlen bytes, may be NULL) names the file and what is wrong with it.
 * Returns as uccid_reader_holder, and -EPROTO for a corrupted lock file or
 * slot record (the session that opens the reader then fails, or resets the
 * card of that slot before the next holder gets it).
 */
int uccid_reader_lock_state(const char *name, const char *lock_dir, int slot, struct uccid_holder *ret, char *err,
			    size_t errlen);

/*
 * Is the process that has a named reader open a passive holder (opened with
 * uccid_options.passive, as uccid watch does: it yields the reader to any
 * other opener and takes it back after)?  Returns its pid, 0 when nobody
 * has the reader open or its holder is not passive, -EINVAL, -ENOENT, or
 * the error of resolving the name or reading the lock file.
 */
int uccid_reader_passive(const char *name, const char *lock_dir);

/*
 * The EJECT disposition without a lock (uccid eject, the IFD handler's eject
 * control code): Mechanical 02 where dwMechanical declares eject, otherwise
 * power off and latch.  Returns 0 with *done, or an error above.
 */
int uccid_eject(struct uccid_reader *r, unsigned slot, enum uccid_done *done);

/* Is the slot latched as ejected (1), or not (0)?  Clear the latch with clear = true. */
int uccid_ejected(struct uccid_reader *r, unsigned slot, bool clear);

/*
 * What happened to the card since the calling thread last acknowledged (its
 * uccid_lock, uccid_power_on or uccid_reset acknowledge): 0 nothing,
 * UCCID_W_RESET_CARD (reset or powered off by another thread or a
 * disposition), UCCID_W_REMOVED_CARD (removed, ejected or replaced; takes
 * precedence) — PC/SC's SCARD_W_RESET_CARD and SCARD_W_REMOVED_CARD.  A
 * thread that has ever locked the slot gets these as errors from its next
 * operation on it (-ECONNRESET, -EMEDIUMTYPE) until it acknowledges them
 * (uccid_card_ack() or a power-up).  Returns the warning or -EINVAL.
 */
#define UCCID_W_RESET_CARD 1
#define UCCID_W_REMOVED_CARD 2
int uccid_card_check(struct uccid_reader *r, unsigned slot);
int uccid_card_ack(struct uccid_reader *r, unsigned slot);

/* Names: "leave", "reset", "unpower", "eject" and back (-EINVAL); what was done. */
const char *uccid_disposition_name(int disposition);
int uccid_disposition_parse(const char *name);
const char *uccid_done_name(enum uccid_done done);

/* Names and explanations: errno from this API, bError. */
const char *uccid_strerror(int err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
