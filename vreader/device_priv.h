/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal state of the virtual CCID reader, shared by device.c (USB side,
 * queues, control requests), slot.c (the PC_to_RDR commands) and faults.c.
 */
#ifndef VREADER_DEVICE_PRIV_H
#define VREADER_DEVICE_PRIV_H

#include "ccid/message.h"
#include "vreader/device.h"
#include "vreader/pinpad.h"
#include "vreader/iccd.h"

/* A message waiting on bulk-IN or interrupt-IN. */
struct vmsg {
	struct vmsg *next;
	int slot;                       /* journal slot, -1 for none */
	bool journal;                   /* log it when delivered */
	enum vusb_in_action action;
	size_t len;
	uint8_t data[];
};

/* A command a slot is working on: its final answer and when it is due. */
struct vwork {
	bool active;
	uint8_t seq;
	uint8_t type;                   /* response type, for time extensions */
	int64_t due;                    /* VUSB_NEVER: never (endless time extensions) */
	int64_t next_te;                /* next time extension */
	uint8_t *answer;                /* encoded final answer (may be NULL: silence) */
	size_t answer_len;
	bool remove_card;               /* REMOVE_MID_APDU: pull the card when due */
};

struct vslot {
	unsigned index;
	struct vcard *card;             /* NULL: no card */
	bool powered;
	bool locked;                    /* Mechanical lock */
	bool clock_stopped;
	uint8_t protocol;               /* CCID_PROTOCOL_T0 / T1 while powered */
	uint8_t params[CCID_T1_PARAMS_LEN];
	uint8_t atr[VCARD_ATR_MAX];     /* the last ATR, for ResetParameters */
	size_t atr_len;
	bool pps_window;                /* right after an ATR: PPS may follow (TPDU level) */
	uint8_t next_atr[VCARD_ATR_MAX]; /* next_atr_len > 0: the ATR of the cards inserted here (vdev_set_atr) */
	size_t next_atr_len;
	uint8_t class_get_response, class_envelope;   /* T0APDU */

	struct vwork work;
	struct vpin pin;                /* a PIN entry on the keypad: work waits for it (pinpad.h) */
	bool abort_pending;             /* control ABORT seen, bulk Abort not yet */
	uint8_t abort_seq;

	/* extended APDU chaining (CCID §6.1.4 wLevelParameter / bChainParameter) */
	uint8_t *cmd;                   /* command APDU being assembled */
	size_t cmd_len;
	bool cmd_chaining;
	uint8_t *rsp;                   /* response APDU being handed out in parts */
	size_t rsp_len, rsp_off;

	enum vdev_fault fault;
	uint32_t fault_arg;
	unsigned fault_left;            /* 0 with fault set: until cleared */
	uint8_t fault_on;               /* the command type it waits for (0: any) */
	uint8_t cmd_type;               /* the command being answered */

	uint8_t last_answer[64];        /* for STALE_DUPLICATE */
	size_t last_answer_len;

	struct vdev_journal_entry *journal;
	size_t jhead, jcount;
	uint64_t jnext;
};

struct vdev {
	struct vdev_config cfg;
	unsigned nslots;
	struct vslot slots[VDEV_MAX_SLOTS];
	uint8_t configuration;          /* SET_CONFIGURATION value */
	bool bulk_in_halted;
	bool bulk_out_halted;           /* only the host halts it (SET_FEATURE), to test its error paths */
	FILE *log;

	/* bulk-OUT reassembly */
	uint8_t *out_buf;
	size_t out_len;
	bool out_discard;               /* dropping the rest of an oversize transfer */

	/* bulk-IN: messages ready to go, FIFO; cur is partly handed out */
	struct vmsg *in_head, *in_tail;
	size_t cur_off;
	bool zlp_pending;               /* ZLP fault: next IN transfer is empty */

	/* interrupt-IN */
	uint32_t notify_changed;        /* slots changed since the last NotifySlotChange */
	struct vmsg *intr_head, *intr_tail;

	struct vdev_counters counters;
	uint32_t rng;

	struct vdev_iccd iccd;          /* an ICCD token's control-pipe exchange (cfg.iccd) */
	bool vendor_apdu;               /* a vendor Escape switched a TPDU reader to short APDUs (vendor.c) */
};

/* outputs.c: below device.c and slot.c */
void vdev_queue_bulk(struct vdev *d, int slot, const uint8_t *data, size_t len, enum vusb_in_action action,
		     bool journal);
void vdev_notify_change(struct vdev *d, unsigned slot);
void vdev_log(struct vdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vdev_journal_add(struct vdev *d, unsigned slot, const uint8_t *msg, size_t len, bool from_host, bool warm);
uint8_t vdev_icc_status(const struct vslot *s);
uint32_t vdev_random(struct vdev *d);
bool vdev_has_interrupt(const struct vdev *d);
/* Queue one interrupt-IN message (it is journalled as sent when the host reads it). */
void vdev_queue_intr(struct vdev *d, const uint8_t *data, size_t len);
/* Turn the slot changes not yet reported into a NotifySlotChange (CCID §6.3.1). */
void vdev_flush_notify(struct vdev *d);
void vdev_free_list(struct vmsg *m);

/* vendor.c: below slot.c */
/* A vendor Escape the device's firmware knows: carried out (true), or not one (false: echoed). */
bool vdev_vendor_escape(struct vdev *d, const uint8_t *data, size_t len);
/* The level the device works at: the class descriptor's, unless a vendor Escape changed it. */
enum ccid_exchange_level vdev_level(const struct vdev *d);

/* slot.c */
void vdev_handle_command(struct vdev *d, const uint8_t *msg, size_t len, int64_t now);
void vdev_slot_advance(struct vdev *d, struct vslot *s, int64_t now);
int64_t vdev_slot_next_event(const struct vdev *d, const struct vslot *s);
void vdev_slot_abort_control(struct vdev *d, uint8_t slot, uint8_t seq, int64_t now);
void vdev_slot_reset_state(struct vdev *d, struct vslot *s);
/* A key on the keypad for the PIN entry in progress on s (vdev_keypad). */
int vdev_slot_keypad(struct vdev *d, struct vslot *s, const char *key, int64_t now);
/* XfrBlock at the character level (slot_char.c): the answer to send, its data in s->rsp. */
struct vdev_char_answer {
	uint8_t cmd_status, error;
	size_t len;
	uint32_t delay_ms;
};
void vdev_xfr_char(struct vdev *d, struct vslot *s, const struct ccid_msg *m, struct vdev_char_answer *ret);
/* Build and queue (or schedule) an answer; data may be NULL when len is 0. */
void vdev_answer(struct vdev *d, struct vslot *s, uint8_t type, uint8_t seq, uint8_t cmd_status, uint8_t error,
		 uint8_t b9, const uint8_t *data, size_t len, uint32_t delay_ms, int64_t now);

#endif
