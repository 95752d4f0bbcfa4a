/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual CCID reader's device model: a USB device with one CCID
 * interface (CCID 1.1) that holds simulated cards in its slots.  It answers
 * standard and class control requests, takes PC_to_RDR messages on bulk-OUT,
 * queues RDR_to_PC answers on bulk-IN (with time extensions for slow cards),
 * reports card events on interrupt-IN, keeps a journal of every message per
 * slot, and injects faults on demand.  It implements struct vusb_ops, so the
 * USB/IP server and in-process tests drive it the same way.
 *
 * Not thread-safe: one event loop (or one test thread) owns a device.
 */
#ifndef VREADER_DEVICE_H
#define VREADER_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ccid/class_desc.h"
#include "vreader/card.h"
#include "vreader/vusb.h"

#define VDEV_MAX_SLOTS 8
#define VDEV_JOURNAL_MAX 4096       /* entries kept per slot; older ones are dropped */
#define VDEV_BULK_IN 0x81
#define VDEV_BULK_OUT 0x02
#define VDEV_INTR_IN 0x83
#define VDEV_MAX_PACKET 64

enum vdev_profile {
	VDEV_PROFILE_TPDU_T0,        /* TPDU level, card offers T=0 */
	VDEV_PROFILE_TPDU_T1,        /* TPDU level, card offers T=1 */
	VDEV_PROFILE_SHORT_APDU,     /* short APDU level */
	VDEV_PROFILE_EXTENDED_APDU,  /* short and extended APDU level, 271-byte messages: chaining */
	VDEV_PROFILE_MULTI_SLOT,     /* 4 slots, 2 busy at once, short APDU level */
	VDEV_PROFILE_MECHANICAL,     /* TPDU T=1 with card eject and lock mechanism */
	VDEV_PROFILE_PINPAD,         /* short APDU level, a PIN pad (verify, modify) and a 2x16 display */
	VDEV_PROFILE_PINPAD_T1,      /* TPDU level, card offers T=1, a PIN pad without display */
	VDEV_PROFILE_CHAR_T0,        /* character level, card offers T=0 */
	/* the ICCD tokens come after the CCID readers: VDEV_PROFILE_ICCD_A is the first */
	VDEV_PROFILE_ICCD_A,         /* USB ICCD version A token: control pipe, T=0-like exchange */
	VDEV_PROFILE_ICCD_B,         /* USB ICCD version B token: control pipe, APDUs, extended */
	VDEV_PROFILE_COUNT,
};

const char *vdev_profile_name(enum vdev_profile p);           /* "tpdu-t0", ... */
int vdev_profile_from_name(const char *name);                 /* or -EINVAL */

struct vdev_config {
	char name[64];                     /* profile name or reader file name, for status */
	struct ccid_class_desc desc;       /* what the reader declares and does */
	uint16_t idVendor, idProduct, bcdDevice;
	char manufacturer[64], product[64], serial[64];
	struct vcard_config card;          /* the card inserted at start */
	bool card_present[VDEV_MAX_SLOTS];
	uint32_t clocks_khz[256];          /* GET_CLOCK_FREQUENCIES, bNumClockSupported entries */
	uint32_t data_rates[256];          /* GET_DATA_RATES, bNumDataRatesSupported entries */
	uint32_t mute_ms;                  /* how long a mute card takes to be reported (default 100) */
	uint32_t time_extension_ms;        /* interval of time extensions while a card works (default 500) */
	bool no_interrupt;                 /* no interrupt-IN endpoint: hosts must poll (CCID §3.2.1) */
	uint8_t iccd;                      /* bInterfaceProtocol: 0 CCID, 1 ICCD version A, 2 version B
					      (control-pipe token, one slot, no bulk pipes: vreader/iccd.c) */
	/*
	 * Keys pressed as soon as a PIN entry starts, words as vdev_keypad()
	 * takes them ("cancel"; "1234 ok" presses 1, 2, 3, 4, ok), as a person
	 * who answers every prompt the same way; empty: the control socket
	 * types (a fuzz harness that must not wait out bTimeOut uses "cancel").
	 */
	char keypad_auto[32];
	bool no_config_notify;             /* no NotifySlotChange when a host configures the device, as
					      QEMU's usb-ccid after a USB/IP re-import: the host learns of
					      the cards only by asking (GetSlotStatus) */
	uint8_t card_voltages;             /* CCID_VOLTAGE_* the cards answer at (0: any); at
					      others the card stays mute, as a card of another class */
};

/* Fill cfg for a profile with a card present in every slot. */
int vdev_profile_config(enum vdev_profile p, struct vdev_config *cfg);

/*
 * Fill cfg from a reader description in the format of tests/data/readers/
 * (the first CCID interface): the reader then declares and behaves as that
 * class descriptor says (exchange level, slots, message length, mechanics).
 * On failure err names the file and line.  Returns 0, -errno on I/O error,
 * -EBADMSG on a file that does not describe a usable CCID interface,
 * -ENOTSUP for a reader the device model does not simulate (character level).
 */
int vdev_config_from_reader_file(const char *path, struct vdev_config *cfg, char *err, size_t errlen);
/* The same for the block-th interface of the file (0: the first; vreader/composite.h reads them all). */
int vdev_config_from_reader_file_at(const char *path, unsigned block, struct vdev_config *cfg, char *err,
				    size_t errlen);

struct vdev;

/* Create a device; NULL on an invalid configuration (errno EINVAL) or ENOMEM. */
struct vdev *vdev_new(const struct vdev_config *cfg);
void vdev_free(struct vdev *d);
/*
 * Return d to the state vdev_new() gave it (its configuration, cards as
 * configured, queues, faults, journal and counters empty), reusing its
 * buffers; the log stays.  For callers that run many short lives of one
 * device (the fuzz harnesses: a new device costs about a millisecond).
 * Returns 0, or -ENOMEM/-EINVAL (then only vdev_free() may follow).
 */
int vdev_reset(struct vdev *d);

extern const struct vusb_ops vdev_usb_ops;   /* dev pointer: struct vdev * */

const struct vdev_config *vdev_config(const struct vdev *d);
unsigned vdev_nslots(const struct vdev *d);

/* ---- control: what the control socket and in-process tests may do ---- */

/* Insert a card (cfg NULL: the configured one) or remove it; NotifySlotChange follows.
 * Returns 0, -EINVAL (bad slot), -EEXIST (already present) / -ENOENT (no card). */
int vdev_insert_card(struct vdev *d, unsigned slot, const struct vcard_config *cfg, int64_t now);
int vdev_remove_card(struct vdev *d, unsigned slot, int64_t now);
/*
 * Take the card out and put a new one (the configured card) in at once, with
 * no report between: the host's next NotifySlotChange says "present,
 * changed", its next GetSlotStatus "present, inactive".  Returns 0,
 * -EINVAL, -ENOENT (no card to take out).
 */
int vdev_swap_card(struct vdev *d, unsigned slot, int64_t now);

/*
 * Give slot's card the ATR atr (len bytes, any quality: card.h "Any ATR")
 * from its next power-on, and every card inserted or swapped into the slot
 * from now on.  len 0 goes back to the configured card for the next
 * insertion (a card in the slot keeps its ATR).  Returns 0, -EINVAL (bad
 * slot, len above VCARD_ATR_MAX), -EBADMSG (no TS 3B/3F: not an ATR).
 */
int vdev_set_atr(struct vdev *d, unsigned slot, const uint8_t *atr, size_t len);

/*
 * A key on the PIN pad of slot, as a person presses it: "0".."9", "ok",
 * "clear", "back", "cancel" (vreader/pinpad.h).  Returns 0, -EINVAL (bad
 * slot or key), -ENOENT (no PIN entry in progress on slot).
 */
int vdev_keypad(struct vdev *d, unsigned slot, const char *key, int64_t now);

/*
 * From the next PIN entry on, the keys pressed as it starts (the
 * configuration's keypad_auto: a person who answers every prompt the same
 * way; "" leaves the keypad to vdev_keypad).  Returns 0, -EINVAL (NULL),
 * -EMSGSIZE (longer than keypad_auto holds; the keys stay as they were).
 */
int vdev_set_keypad_auto(struct vdev *d, const char *keys);

/* Queue an RDR_to_PC_HardwareError (overcurrent) for slot. */
int vdev_hardware_error(struct vdev *d, unsigned slot, int64_t now);

enum vdev_fault {
	VDEV_FAULT_NONE,
	VDEV_FAULT_MUTE,              /* the card does not answer: ICC_MUTE after mute_ms */
	VDEV_FAULT_WRONG_SEQ,         /* the answer carries bSeq + 1 */
	VDEV_FAULT_STALE_DUPLICATE,   /* the previous answer again, before the real one */
	VDEV_FAULT_ZLP,               /* a zero-length bulk-IN transfer before the real answer */
	VDEV_FAULT_TRUNCATED,         /* the answer is cut short (transfer ends early) */
	VDEV_FAULT_LENGTH_OVER,       /* dwLength larger than the data that follows */
	VDEV_FAULT_LENGTH_HUGE,       /* dwLength beyond any buffer (FFFFFFF0) */
	VDEV_FAULT_GARBAGE,           /* random bytes instead of the answer */
	VDEV_FAULT_ENDLESS_WTX,       /* time extensions forever, the answer never comes */
	VDEV_FAULT_SLOT_BUSY,         /* the command is refused with CMD_SLOT_BUSY */
	VDEV_FAULT_HW_ERROR,          /* the command fails with HW_ERROR and a HardwareError interrupt */
	VDEV_FAULT_STALL,             /* bulk-IN stalls instead of answering */
	VDEV_FAULT_LATENCY,           /* every answer is delayed by arg ms */
	VDEV_FAULT_T1_EDC,            /* the card's next T=1 block has a corrupted EDC (arg 1, on a PIN
					 pad: the PIN block the reader sends the card instead) */
	VDEV_FAULT_REMOVE_MID_APDU,   /* the card is pulled while it processes the command */
	VDEV_FAULT_DROP_CONNECTION,   /* the transport drops the connection mid-answer */
	VDEV_FAULT_PPS_WRONG,         /* the card answers the next PPS naming the other protocol */
	VDEV_FAULT_COUNT,
};

const char *vdev_fault_name(enum vdev_fault f);               /* "mute", "wrong-seq", ... */
int vdev_fault_from_name(const char *name);                   /* or -EINVAL */

/*
 * Arm a fault for the next count answers on slot (count 0: until cleared;
 * slot -1: every slot).  arg is the latency in ms for LATENCY.  One fault
 * per slot at a time; arming replaces it.  Returns 0 or -EINVAL.
 */
int vdev_set_fault(struct vdev *d, int slot, enum vdev_fault f, uint32_t arg, unsigned count);
/*
 * The fault armed on slot (-1: every slot) waits for the answer to a
 * command of type (a PC_to_RDR bMessageType; 0: any): what the others get
 * is untouched, and counts nothing (a failure during a close's
 * IccPowerOff, say).  Arming a fault again clears it.  Returns 0 or -EINVAL.
 */
int vdev_set_fault_on(struct vdev *d, int slot, uint8_t type);
void vdev_clear_faults(struct vdev *d);

/* ---- journal: every CCID message received and sent, per slot ---- */

struct vdev_journal_entry {
	uint64_t index;               /* running number within the slot */
	int64_t time;                 /* µs */
	bool from_host;               /* PC_to_RDR (true) or RDR_to_PC */
	uint8_t bMessageType;
	uint8_t bSeq;
	uint8_t b7, b8, b9;           /* header bytes 7..9 (bStatus, bError, ... for answers) */
	uint32_t dwLength;
	bool warm;                    /* IccPowerOn on a powered card */
	uint8_t data[16];             /* first bytes of abData */
	uint8_t ndata;
};

/* Entries of slot from 'from' on (index), at most max; returns the number copied. */
size_t vdev_journal(const struct vdev *d, unsigned slot, uint64_t from, struct vdev_journal_entry *out,
		    size_t max);
void vdev_journal_clear(struct vdev *d);
/* One line describing an entry, e.g. "12 host PC_to_RDR_IccPowerOn seq=07 b7=01 len=0 warm". */
void vdev_journal_format(const struct vdev_journal_entry *e, char *buf, size_t cap);

struct vdev_slot_status {
	bool present, powered, locked, clock_stopped, busy;
	uint8_t protocol;             /* 0 or 1 when powered */
	bool pin_verified;
	unsigned pin_tries_left;
	enum vdev_fault fault;
	unsigned fault_left;
	bool keypad;                  /* a PIN entry waits for the keypad */
	char keypad_state[48];        /* then: "verify entry 1/1 digits 0" */
};
int vdev_slot_status(const struct vdev *d, unsigned slot, struct vdev_slot_status *ret);

/* Counters since creation or the last reset. */
struct vdev_counters {
	uint64_t commands, answers, time_extensions, interrupts, errors_injected, bad_commands;
};
void vdev_counters(const struct vdev *d, struct vdev_counters *ret);
void vdev_counters_reset(struct vdev *d);

/* Log every message to f (NULL: quiet). */
void vdev_set_log(struct vdev *d, FILE *f);

#endif
