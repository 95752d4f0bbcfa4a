/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What crosses the files of uccid selftest, in layers that call only down:
 * selftest.c (the command: options, opening the reader, text and JSON
 * output) -> probes.c (the probes, in the order they run) -> run.c (one
 * exchange and the check of everything on the wire during it; results and
 * their verdicts) -> shim.c (the recording transport between the library
 * and the reader's own).  A file sees the state of a layer below it only
 * through what that layer hands up: the run reads a copy of the shim's
 * record (struct wire_log), the probes never touch the shim.
 */
#ifndef UCCID_TOOL_SELFTEST_H
#define UCCID_TOOL_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ccid/ccid.h"
#include "session/uccid.h"

#define CMD_MS 3000            /* base timeout of one command (time extensions add to it) */
#define POWER_MS 5000          /* base timeout of IccPowerOn */
#define WIRE_MAX 24            /* messages recorded per command */
#define ANS_MAX 4096           /* the largest answer a probe expects (ATR, parameters, short responses) */
#define DETAIL_MAX 700
#define RESULTS_MAX 64

struct uccid_transport;

/* ---- the recording transport shim (shim.c) ---- */

struct wire_rec {
	bool out;                      /* PC_to_RDR (true) or RDR_to_PC */
	size_t len;
	uint8_t hdr[CCID_HEADER_SIZE]; /* as on the wire (bytes past len are zero) */
	int decode_rc;                 /* ccid_msg_decode of an RDR_to_PC message */
	struct ccid_diag diag;
};

/* What happened on the wire since shim_clear(), as shim_read() copies it out. */
struct wire_log {
	struct wire_rec rec[WIRE_MAX]; /* in the order of the wire */
	unsigned nrec, lost, zlps, stalls;
	int abort_rc;                  /* of the ABORT request shim_arm_abort() asked for; 0: none failed */
	bool retarget_answered;        /* the command shim_arm_retarget() moved was answered ... */
	bool retarget_echoed;          /* ... with the slot it was sent to (then handed back to ours) */
	uint8_t last_in[ANS_MAX];      /* the last message received, for one the library refused */
	size_t last_in_len;
};

struct shim;

/*
 * A uccid_wrap_fn: the shim around the transport uccid_open_wrapped()
 * opened.  ctx is a struct shim ** that receives the shim; the session owns
 * it and closes it with the reader.  NULL on no memory.
 */
struct uccid_transport *shim_wrap(void *ctx, struct uccid_transport *inner);
/* Forget what was recorded (the armed rewrites stay armed). */
void shim_clear(struct shim *s);
/* Send the ABORT class request (CCID §5.3.1) just before the next PC_to_RDR_Abort. */
void shim_arm_abort(struct shim *s);
/* Put the next bulk-OUT message on the wire to slot instead, and its answer's bSlot back. */
void shim_arm_retarget(struct shim *s, uint8_t slot);
/* Whatever is armed and did not happen does not. */
void shim_disarm(struct shim *s);
/* A copy of what was recorded since shim_clear(). */
void shim_read(struct shim *s, struct wire_log *ret);

/* ---- the run (run.c) ---- */

enum verdict { V_OK, V_UNSUPPORTED, V_DEVIATION, V_SKIPPED };

struct result {
	char probe[40];
	enum verdict v;
	char detail[DETAIL_MAX];
	char spec[64];
};

struct st {
	struct uccid_reader *r;
	struct shim *shim;
	const char *name;
	unsigned slot;
	bool mechanical;               /* --mechanical: lock, unlock, eject */
	bool tty;
	struct uccid_reader_info info;
	struct ccid_class_desc d;
	/* what the probes learnt */
	bool gone;
	bool present, powered, atr_ok;
	uint8_t power_sel;             /* the bPowerSelect that last powered the card */
	struct ccid_atr atr;
	bool have_params;
	uint8_t protocol, params[CCID_T1_PARAMS_LEN];
	size_t params_len;
	bool clock_stopped;
	unsigned answers, echo_bad;    /* every RDR_to_PC message seen, and those with a foreign bSeq/bSlot */
	struct wire_log wire;          /* the wire during the last exchange */
	struct result res[RESULTS_MAX];
	unsigned nres;
};

/* What one command got back. */
struct answer {
	ssize_t rc;                    /* uccid_ccid_command's result */
	uint8_t buf[ANS_MAX];
	size_t len;
	struct ccid_msg m;             /* decoded, when rc >= 0 */
	uint8_t type, seq, slot;       /* of the command as sent */
	unsigned ms, elapsed_ms, extensions;
	char wire[400];                /* what else happened on the wire, "" if nothing */
	bool wire_bad;                 /* ... and it is a deviation */
};

void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A new result of the run (past RESULTS_MAX, a scratch one), verdict ok until judged. */
struct result *begin(struct st *st, const char *probe, const char *spec);
/* Add to the detail, "; " between parts. */
void note(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add to the detail and move the verdict: only towards the worse (ok < unsupported < deviation);
   skipped is set on its own. */
void judge(struct result *r, enum verdict v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A message type's name, "an unknown message" for one the codec does not know. */
const char *type_name(uint8_t t);
/* "failed with ICC_MUTE (bError FE), bmICCStatus 2", or "processed, bmICCStatus 0". */
void status_text(const struct ccid_msg *m, char *out, size_t cap);
/* The command was answered with bmCommandStatus failed (with that bError). */
bool failed(const struct answer *a);
bool failed_with(const struct answer *a, uint8_t err);

/* A well-formed command, encoded by the codec (which refuses to encode anything else). */
void xchg(struct st *st, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data, size_t len,
	  unsigned ms, struct answer *a);
/* A header-only message built by hand (malformed on purpose), with optional trailing data. */
void xchg_hand(struct st *st, uint8_t type, uint32_t dwLength, uint8_t b7, uint8_t b8, uint8_t b9,
	       const uint8_t *data, size_t len, struct answer *a);
/* PC_to_RDR_Abort, with the ABORT class request just before it; *ret_control_rc is the request's result. */
void xchg_abort(struct st *st, struct answer *a, int *ret_control_rc);
/*
 * GetSlotStatus put on the wire to slot (which need not exist); the answer
 * is handed to our slot.  *ret_answered: an answer with its bSeq came;
 * *ret_echoed: with the slot it was sent to.
 */
void xchg_to_slot(struct st *st, uint8_t slot, struct answer *a, bool *ret_answered, bool *ret_echoed);

/*
 * The checks every probe makes first (an answer of the right type, no
 * CMD_SLOT_BUSY on an idle slot, nothing foreign on the wire).  Returns
 * true when the probe's verdict is decided (a deviation recorded in r).
 */
bool answer_problem(struct st *st, const struct answer *a, struct result *r);
/* A refusal nobody expected: a deviation naming the answer and section. */
void refused(struct result *r, const struct answer *a, const char *section);
/* A card in the slot (and powered): else the result is skipped and false returned. */
bool need_card(struct st *st, struct result *r, bool powered);

/* ---- the probes (probes.c) ---- */

struct step {
	const char *name;
	void (*run)(struct st *st);
};

/* Every probe, in the order they run: each relies on what the ones before it learnt. */
extern const struct step probe_steps[];
extern const size_t probe_nsteps;

/* After the probes: note a reader that went away, else leave the card powered off (CCID §6.1.2). */
void probes_end(struct st *st);

#endif
