/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pcsc-lite IFD handler (API v3, ../shared/docs/reference/ifdhandler.md)
 * on top of libuccid: what the entry points in ifdhandler.c share.  The
 * entry points only translate: a Lun to a reader and slot (table.c), a
 * negative errno to an IFD_* code (errmap.c); the work is libuccid's.
 *
 * Locking: one mutex (ifd_lock) guards the reader table and every field of
 * struct ifd_reader marked "table"; it is never held across a libuccid call.
 * A call in progress holds a reference (ifd_get/ifd_put), so that
 * IFDHCloseChannel waits for it before closing the handle.
 */
#ifndef UCCID_IFD_PRIV_H
#define UCCID_IFD_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ifdhandler.h>
#include <reader.h>

#include "session/uccid.h"

#define IFD_MAX_READERS 16      /* PCSCLITE_MAX_READERS_CONTEXTS: TAG_IFD_SIMULTANEOUS_ACCESS */
#define IFD_MAX_SLOTS 16
#define IFD_NAME_MAX 256
#define IFD_POLL_SLICE_MS 200   /* a poll of a reader no longer in the table returns after this */

/* uccid's own IFDHControl codes (docs/ifd-uccid.8): SCARD_CTL_CODE(0x756300 + n), "uc" */
#define IFD_UCCID_CTL(n) SCARD_CTL_CODE(0x756300 + (n))
#define IOCTL_UCCID_EJECT IFD_UCCID_CTL(1)
#define IOCTL_UCCID_LOCK_HOLDER IFD_UCCID_CTL(2)
#define IOCTL_UCCID_GENERATION IFD_UCCID_CTL(3)
/* the CCID escape, as libccid numbers it (IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE) */
#define IOCTL_UCCID_ESCAPE SCARD_CTL_CODE(1)
/* part 10 feature control codes: SCARD_CTL_CODE(0x330000 + feature), libccid's numbering */
#define IFD_FEATURE_CTL(feature) SCARD_CTL_CODE(0x330000 + (feature))
/* CM_IOCTL_GET_FEATURE_REQUEST as Windows numbers it; accepted too */
#define CM_IOCTL_GET_FEATURE_REQUEST_WIN 0x313520

/* ifdLogLevel bits: libccid's (debug.h DEBUG_LEVEL_*), as its Info.plist documents them */
#define IFD_LOGLEVEL_CRITICAL 0x0001    /* errors and warnings */
#define IFD_LOGLEVEL_INFO 0x0002        /* what the driver found and did */
#define IFD_LOGLEVEL_COMM 0x0004        /* every CCID message in hex, and debug lines (APDUs carry PINs) */
#define IFD_LOGLEVEL_PERIODIC 0x0008    /* the presence checks pcscd makes, and their messages */
#define IFD_LOGLEVEL_KNOWN 0x000F
#define IFD_LOGLEVEL_DEFAULT (IFD_LOGLEVEL_CRITICAL | IFD_LOGLEVEL_INFO)

/* ifdDriverOptions bits: libccid's (ccid_ifdhandler.h DRIVER_OPTION_*, Info.plist) */
#define IFD_OPTION_ESCAPE 0x0001        /* CCID_EXCHANGE_AUTHORIZED: allow the escape pass-through */
#define IFD_OPTION_GEMPC_APDU 0x0002    /* GEMPC_TWIN_KEY_APDU: uccid_options.vendor_apdu_mode */
#define IFD_OPTION_BOGUS_FIRMWARE 0x0004 /* USE_BOGUS_FIRMWARE: uccid refuses no firmware anyway */
#define IFD_OPTION_VOLTAGE 0x0030       /* the first voltage: 00 5 V, 10 3 V, 20 1.8 V, 30 the reader's */
#define IFD_OPTION_NO_PIN_RETRIES 0x0040 /* DISABLE_PIN_RETRIES: Gemalto pinpads' retry-counter VERIFY off */
#define IFD_OPTION_KNOWN 0x0077

/* Configuration: Info.plist keys, then environment overrides (config.c). */
struct ifd_config {
	uint32_t log_mask;          /* IFD_LOGLEVEL_* */
	uint32_t options;           /* IFD_OPTION_* */
	unsigned deadline_ms;       /* uccid_options.exchange_deadline_ms (0: libuccid's default) */
	unsigned power_deadline_ms;
	char plist[512];            /* where it was read, "" if nowhere */
};
extern struct ifd_config ifd_config;
void ifd_config_load(void);
/* Parse the text of an Info.plist; for tests. */
void ifd_config_parse(struct ifd_config *c, const char *text);
void ifd_config_env(struct ifd_config *c);

/*
 * log.c: pcscd's log_msg when the driver runs inside pcscd, else stderr.
 * ERROR and WARNING lines need ifdLogLevel's CRITICAL bit, INFO its INFO
 * bit, DEBUG lines and frames COMM, PERIODIC lines PERIODIC; inside a
 * presence check (ifd_periodic), DEBUG lines and frames need PERIODIC too.
 */
enum ifd_log_level { IFD_LOG_ERROR, IFD_LOG_WARNING, IFD_LOG_INFO, IFD_LOG_DEBUG, IFD_LOG_PERIODIC };
void ifd_log(enum ifd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread enters (true) or leaves a presence check. */
void ifd_periodic(bool on);
void ifd_uccid_log(void *ctx, enum uccid_log_level level, const char *msg);
void ifd_uccid_trace(void *ctx, bool out, const uint8_t *msg, size_t len);

/* errmap.c: the one mapping from a negative errno to an IFD_* code. */
enum ifd_op {
	IFD_OP_GENERIC,     /* transmit, control, capabilities */
	IFD_OP_OPEN,        /* create channel */
	IFD_OP_POWER,       /* power up, down, reset */
	IFD_OP_PROTOCOL,    /* set protocol parameters */
	IFD_OP_PRESENCE,    /* ICC presence */
};
RESPONSECODE ifd_from_errno(int err, enum ifd_op op);

/* table.c */
struct ifd_reader {
	unsigned index;                     /* Lun >> 16 */
	char name[IFD_NAME_MAX];
	struct uccid_reader *r;
	struct uccid_reader_info info;
	uint8_t desc[54];                   /* CCID class descriptor */
	/* table */
	unsigned opens;                     /* CreateChannel calls not yet matched by CloseChannel */
	unsigned refs;                      /* calls in progress */
	bool closing;
	bool removed;                       /* TAG_IFD_DEVICE_REMOVED or -ENODEV seen */
	bool pumping;                       /* a polling thread is in uccid_wait_event */
	bool pending[IFD_MAX_SLOTS];        /* an event for the slot's polling thread */
	bool stop[IFD_MAX_SLOTS];           /* STOP_POLLING_THREAD asked */
	/* pcscd's event thread of each slot (the one that polls) and what it was told (poll.c) */
	pthread_t poller[IFD_MAX_SLOTS];
	bool has_poller[IFD_MAX_SLOTS];
	bool told_present[IFD_MAX_SLOTS];
	uint64_t told_changes[IFD_MAX_SLOTS];    /* uccid_slot_status.changes when told present */
	bool gone[IFD_MAX_SLOTS];               /* a swapped card: reported absent, to everyone ... */
	bool gone_seen[IFD_MAX_SLOTS];          /* ... until the event thread has been told so */
	uint64_t wakeups;                   /* polling threads woken (poll.c): none while idle */
	uint8_t atr[IFD_MAX_SLOTS][MAX_ATR_SIZE];
	size_t atr_len[IFD_MAX_SLOTS];
	pthread_cond_t cond;                /* pending / stop / refs changed (CLOCK_MONOTONIC) */
};

extern pthread_mutex_t ifd_lock;

/* Split a Lun: reader = Lun >> 16, slot = Lun & 0xFFFF.  -EINVAL beyond our limits. */
int ifd_lun_split(unsigned long lun, unsigned *ret_reader, unsigned *ret_slot);

/*
 * Open (or, for another slot of a reader already open under the same
 * index, share) the reader for Lun.  Returns 0 or a negative errno.
 */
int ifd_table_open(unsigned long lun, const char *name);
/* Undo one open; the last one waits for calls in progress and closes the handle. */
int ifd_table_close(unsigned long lun);
/*
 * Take a reference on the reader of Lun (slot checked against its slot
 * count).  Returns 0, -ENODEV (no such reader, closing, or removed),
 * -EINVAL (slot out of range).
 */
int ifd_get(unsigned long lun, struct ifd_reader **ret, unsigned *ret_slot);
void ifd_put(struct ifd_reader *rd);
/* Ask the polling thread of Lun to return (any reader state). */
void ifd_table_stop(unsigned long lun);
/* Note that the reader is gone: later calls fail fast with -ENODEV. */
void ifd_mark_removed(struct ifd_reader *rd);
/* A libuccid result; -ENODEV marks the reader removed.  Returns err. */
int ifd_note(struct ifd_reader *rd, int err);
/* Cached ATR of a slot (TAG_IFD_ATR). */
void ifd_set_atr(struct ifd_reader *rd, unsigned slot, const uint8_t *atr, size_t len);
size_t ifd_get_atr(struct ifd_reader *rd, unsigned slot, uint8_t *buf, size_t cap);

/* poll.c: TAG_IFD_POLLING_THREAD_WITH_TIMEOUT and TAG_IFD_STOP_POLLING_THREAD */
RESPONSECODE ifd_poll(DWORD Lun, int timeout_ms);
RESPONSECODE ifd_stop_poll(DWORD Lun);
/*
 * Whether IFDHICCPresence reports the card present, given what the reader
 * says (present) and the slot's card changes (uccid_slot_status.changes):
 * absent once when another card took the place of the one pcscd's event
 * thread last saw.
 */
bool ifd_presence(struct ifd_reader *rd, unsigned slot, bool present, uint64_t changes);

/* tags.c */
RESPONSECODE ifd_get_capability(struct ifd_reader *rd, unsigned slot, DWORD tag, uint8_t *value, size_t *len);

/* readers.c: manufacturer and model of a listed VID:PID (NULL if not listed). */
struct ifd_reader_name {
	uint16_t vid, pid;
	const char *vendor, *model;
};
extern const struct ifd_reader_name ifd_readers[];
extern const size_t ifd_readers_count;
const struct ifd_reader_name *ifd_reader_lookup(uint16_t vid, uint16_t pid);

/* options.c: what ifdDriverOptions asks at open and at power-up. */
void ifd_options_open(struct ifd_reader *rd);
/* Power the card up (cold) at the voltages ifdDriverOptions orders.  ATR length or a negative errno. */
int ifd_power_up(struct ifd_reader *rd, unsigned slot, uint8_t *atr, size_t cap);

/* control.c */
RESPONSECODE ifd_control(struct ifd_reader *rd, unsigned slot, DWORD code, const uint8_t *tx, size_t txlen,
			 uint8_t *rx, size_t rxcap, size_t *ret_len);

/* secure.c: FEATURE_VERIFY_PIN_DIRECT / MODIFY_PIN_DIRECT as PC_to_RDR_Secure (CCID §6.1.11). */
bool ifd_secure_possible(struct ifd_reader *rd, unsigned slot, bool modify);
/*
 * A part 10 PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE (tx, txlen bytes as
 * pcscd's caller gave them) as the CCID structure (abPINDataStructure).
 * Returns its length, or -ENOTSUP with why naming the fault.
 */
ssize_t ifd_secure_to_ccid(bool modify, const uint8_t *tx, size_t txlen, uint8_t *out, size_t cap, char *why,
			   size_t whylen);
int ifd_secure(struct ifd_reader *rd, unsigned slot, bool modify, const uint8_t *tx, size_t txlen, uint8_t *rx,
	       size_t rxcap);

/* Little-endian / big-endian helpers for answers. */
static inline void ifd_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void ifd_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ifd_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline uint32_t ifd_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
