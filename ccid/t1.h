/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 T=1 block protocol, interface-device side: the block codec
 * (EDC, encode, decode, describe) and a host engine that turns one APDU into
 * the sequence of blocks to send and consumes the card's answers — chaining,
 * sequence numbers, S(IFS), S(WTX), S(ABORT), error recovery and RESYNCH.
 * The engine does no I/O, never allocates and never loops on its own: the
 * caller moves each block to the card (CCID XfrBlock in TPDU mode) and feeds
 * back what came back, so a hostile card can only ever cost one call's work.
 * All state lives in struct ccid_t1, which the caller embeds.
 */
#ifndef CCID_T1_H
#define CCID_T1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

/* ---------------------------------------------------------------------------
 * Block format (ISO 7816-3 §11.3): NAD PCB LEN [INF] EDC
 */
#define CCID_T1_PROLOGUE_SIZE 3
#define CCID_T1_INF_MAX 254        /* LEN 0xFF is forbidden */
#define CCID_T1_BLOCK_MAX (CCID_T1_PROLOGUE_SIZE + CCID_T1_INF_MAX + 2)   /* 259 */
#define CCID_T1_IFS_DEFAULT 32     /* IFSC and IFSD until changed (§11.4.2) */

/* PCB bits (§11.3.2.2). */
#define CCID_T1_PCB_I 0x00
#define CCID_T1_PCB_R 0x80
#define CCID_T1_PCB_S 0xC0
#define CCID_T1_PCB_I_NS 0x40      /* I-block N(S) */
#define CCID_T1_PCB_I_MORE 0x20    /* I-block M: chaining */
#define CCID_T1_PCB_R_NR 0x10      /* R-block N(R) */
#define CCID_T1_PCB_R_ERR 0x0F     /* R-block error code */
#define CCID_T1_PCB_S_RESPONSE 0x20
#define CCID_T1_PCB_S_TYPE 0x1F

enum ccid_t1_block_type {
	CCID_T1_BLOCK_I = 0,
	CCID_T1_BLOCK_R = 1,
	CCID_T1_BLOCK_S = 2,
};

/* R-block error code, PCB b4..b1; other values are RFU. */
enum ccid_t1_r_error {
	CCID_T1_R_OK = 0,
	CCID_T1_R_EDC_ERROR = 1,    /* EDC or parity error */
	CCID_T1_R_OTHER_ERROR = 2,
};

/* S-block type, PCB b5..b1; other values are RFU. */
enum ccid_t1_s_type {
	CCID_T1_S_RESYNCH = 0,
	CCID_T1_S_IFS = 1,
	CCID_T1_S_ABORT = 2,
	CCID_T1_S_WTX = 3,
};

/* A decoded block.  Fields of the other block types are zero. */
struct ccid_t1_block {
	uint8_t nad;
	uint8_t pcb;
	uint8_t len;                    /* LEN = INF length, 0..254 */
	enum ccid_t1_block_type type;
	uint8_t ns;                     /* I: N(S), 0 or 1 */
	bool more;                      /* I: M bit, another block of the chain follows */
	uint8_t nr;                     /* R: N(R), 0 or 1 */
	enum ccid_t1_r_error error;     /* R: error code */
	enum ccid_t1_s_type s_type;     /* S: type */
	bool s_response;                /* S: true for a response, false for a request */
	const uint8_t *inf;             /* INF inside the decoded buffer; NULL when len is 0 */
	enum ccid_edc edc;
	uint16_t edc_value;             /* as received: LRC, or CRC high byte first */
	size_t size;                    /* whole block: 3 + len + 1 or 2 */
};

/* LRC: XOR of all bytes (§11.4.4). */
uint8_t ccid_t1_lrc(const uint8_t *buf, size_t len);

/*
 * CRC as implemented by the common T=1 stacks: reflected CCITT polynomial
 * 0x8408, initial value 0xFFFF, no final XOR; transmitted high byte first.
 */
uint16_t ccid_t1_crc(const uint8_t *buf, size_t len);

/*
 * Build NAD PCB LEN INF EDC into buf.  pcb is written as given (use the
 * CCID_T1_PCB_* bits); inf may be NULL when inf_len is 0.
 * Returns the block length, or
 *   -EINVAL   inf_len > 254, inf NULL with inf_len > 0, buf NULL, or edc unknown
 *   -ENOBUFS  cap is smaller than the block
 */
int ccid_t1_block_encode(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t inf_len,
			 enum ccid_edc edc, uint8_t *buf, size_t cap);

/*
 * Decode one received block of exactly len bytes.  On success fills *ret
 * (ret->inf points into buf) and returns 0; diag (may be NULL) is filled on
 * failure only.  Checks, in this order (the first failing one is returned):
 *   -EINVAL    buf or ret NULL, or edc unknown
 *   -EMSGSIZE  len > 259: no block is longer (diag offset 259)
 *   -ENODATA   fewer than 3 bytes (NAD PCB LEN)
 *   -EBADMSG   LEN = 0xFF, reserved; it also leaves no way to find the EDC
 *   -ENODATA   fewer than 3 + LEN + EDC bytes (diag offset len)
 *   -EMSGSIZE  more than 3 + LEN + EDC bytes (diag offset where the block ends)
 *   -EPROTO    the EDC does not match (diag offset at the EDC)
 *   -EBADMSG   PCB/LEN combination the standard forbids: R-block with b6 set,
 *              an RFU error code or LEN != 0; S-block of an RFU type, or whose
 *              LEN is not 1 (IFS, WTX) or 0 (RESYNCH, ABORT)
 * I-block bits b5..b1 are RFU and ignored (the describe walker reports them).
 */
int ccid_t1_block_decode(const uint8_t *buf, size_t len, enum ccid_edc edc,
			 struct ccid_t1_block *ret, struct ccid_diag *diag);

/*
 * The R-block error code that answers a block ccid_t1_block_decode() refused
 * with rc (ISO 7816-3 §11.6.2): a bad EDC or a size that disagrees with LEN
 * is a transmission error (EDC/parity error); anything else (LEN FF, a
 * malformed PCB) is "other error".
 */
enum ccid_t1_r_error ccid_t1_decode_error_code(int rc);

/*
 * Walk a decoded block as fields: NAD, PCB (with FLAG entries for the type,
 * N(S)/M, N(R)/error code or S type/direction), LEN, INF (BYTES), EDC.
 * Offsets are those of the decoded buffer.  Does nothing if blk or emit is NULL.
 */
void ccid_t1_block_describe(const struct ccid_t1_block *blk, ccid_emit_fn emit, void *ctx);

/* ---------------------------------------------------------------------------
 * Host engine
 *
 * Use:
 *     ccid_t1_init(&t1, &cfg);                        after ATR / PPS / any reset
 *     rc = ccid_t1_begin(&t1, apdu, n, rsp, cap);     or ccid_t1_begin_ifsd()
 *     while (rc == CCID_T1_SEND) {
 *         len = ccid_t1_next_block(&t1, blk, sizeof(blk));
 *         send blk, wait BWT × ccid_t1_wtx(&t1) for the answer
 *         rc = ccid_t1_feed(&t1, answer, answer_len);   (NULL, 0 on timeout)
 *     }
 *     rc == CCID_T1_DONE: ccid_t1_response_len(&t1) bytes are in rsp.
 *
 * The loop always ends: every error path is counted (max_retries per block,
 * max_resynch RESYNCH requests per exchange) and a response is bounded
 * (CCID_T1_RESPONSE_LIMIT, CCID_T1_CHAIN_LIMIT).  A card may still keep the
 * exchange alive with valid S(WTX) or S(IFS) requests, each a real wait;
 * the caller's overall deadline bounds those.
 */

enum {
	CCID_T1_DONE = 0,   /* exchange finished; see ccid_t1_feed() */
	CCID_T1_SEND = 1,   /* call ccid_t1_next_block() and send the block */
};

#define CCID_T1_RETRIES_DEFAULT 3
#define CCID_T1_RESYNCH_DEFAULT 3
/* A response chain is drained (and refused) beyond these. */
#define CCID_T1_RESPONSE_LIMIT 65538u   /* Ne = 65536 + SW1 SW2 */
#define CCID_T1_CHAIN_LIMIT 65538u      /* card I-blocks in one response */

struct ccid_t1_config {
	uint8_t ifsc;          /* card's IFSC from the ATR, 1..254 (0 or 255: default 32) */
	uint8_t ifsd;          /* our IFSD, largest INF we accept, 1..254 (0 or 255: 32) */
	enum ccid_edc edc;     /* LRC or CRC (first TCi after T=1) */
	uint8_t nad;           /* NAD we send; the card's reply must carry it nibble-swapped */
	unsigned max_retries;  /* error recoveries per block before RESYNCH (0: 3) */
	unsigned max_resynch;  /* S(RESYNCH req) per exchange before giving up (0: 3) */
	/*
	 * The card was activated by another host session and left powered: its
	 * block numbering is unknown, so the first exchange (an APDU or S(IFS))
	 * opens with S(RESYNCH request), which restarts it on both sides without
	 * resetting the card (ISO 7816-3 §11.6.3.2, rule 6).
	 */
	bool resume;
};

/*
 * Engine state.  Declared so callers can embed it; the members are private:
 * use the functions below.  The struct holds no pointer into itself and may
 * be copied between calls, but the APDU and response buffers it points to
 * belong to the caller.
 */
struct ccid_t1 {
	/* configuration */
	enum ccid_edc edc;
	uint8_t nad;
	uint8_t ifsc;           /* current IFSC */
	uint8_t ifsc_atr;       /* IFSC from the configuration */
	uint8_t ifsd;           /* current IFSD */
	unsigned max_retries;
	unsigned max_resynch;
	/* protocol */
	uint8_t ns;             /* N(S) of our current (unacknowledged) or next I-block */
	uint8_t nr;             /* N(S) we expect in the card's next I-block */
	uint8_t state;          /* private enum: idle, must send, waiting, dead */
	uint8_t mode;           /* private enum: APDU exchange or S(IFS) transaction */
	uint8_t expect;         /* private enum: what the card should send next */
	uint8_t s_req;          /* S type of our outstanding request */
	uint8_t ifsd_req;       /* IFSD announced by ccid_t1_begin_ifsd() */
	uint8_t tx_pcb;         /* the block to send / last sent: PCB ... */
	uint8_t tx_val;         /* ... and the INF byte of an S(IFS) / S(WTX) block */
	bool resynch_first;     /* sequence state unknown: open the next exchange with RESYNCH */
	bool overflow;          /* response larger than rsp_cap: draining */
	unsigned retries;
	unsigned resynchs;
	unsigned wtx;
	/* current exchange (caller's buffers) */
	const uint8_t *apdu;
	size_t apdu_len;
	size_t apdu_off;        /* start of the I-block in flight */
	size_t chunk;           /* its INF length */
	uint8_t *rsp;
	size_t rsp_cap;
	size_t rsp_len;         /* bytes the card sent so far, stored or not */
	size_t rsp_blocks;
};

/*
 * Reset the engine to the state after activation, PPS or RESYNCH by a reset:
 * N(S) = N(R) = 0, IFSC and IFSD as configured, no exchange in progress.
 * cfg NULL means all defaults.  Out-of-range values take their defaults (see
 * struct ccid_t1_config); an unknown edc means LRC.  The only way out of the
 * dead state.
 */
void ccid_t1_init(struct ccid_t1 *t1, const struct ccid_t1_config *cfg);

/*
 * Start an S(IFS request) transaction announcing ifsd (§11.4.2; usually the
 * first block after the ATR).  It ends with CCID_T1_DONE once the card echoes
 * the value, after which ccid_t1_feed() accepts I-blocks up to ifsd bytes.
 * Returns
 *   CCID_T1_SEND  call ccid_t1_next_block()
 *   -EINVAL       t1 NULL, ifsd 0 or 255
 *   -EBUSY        an exchange is in progress
 *   -EPROTO       the engine is dead (reset the card, then ccid_t1_init())
 */
int ccid_t1_begin_ifsd(struct ccid_t1 *t1, uint8_t ifsd);

/*
 * Start an APDU exchange.  apdu and rsp stay the caller's and must remain
 * valid until the exchange ends (CCID_T1_DONE or an error).  rsp may be NULL
 * if rsp_cap is 0.  If the previous exchange was aborted or cut short, the
 * engine first sends S(RESYNCH request) and then the APDU.
 * Returns
 *   CCID_T1_SEND  call ccid_t1_next_block()
 *   -EINVAL       t1 or apdu NULL, apdu_len 0, rsp NULL with rsp_cap > 0
 *   -EBUSY        an exchange is in progress
 *   -EPROTO       the engine is dead
 */
int ccid_t1_begin(struct ccid_t1 *t1, const uint8_t *apdu, size_t apdu_len, uint8_t *rsp,
		  size_t rsp_cap);

/*
 * Encode the block to send now into blk.  Call once after each CCID_T1_SEND.
 * Returns the block length (at most CCID_T1_BLOCK_MAX), or
 *   -EINVAL   t1 or blk NULL, or no block is due (not after CCID_T1_SEND)
 *   -ENOBUFS  cap too small (nothing changes; call again with a larger buffer)
 *   -EPROTO   the engine is dead
 */
int ccid_t1_next_block(struct ccid_t1 *t1, uint8_t *blk, size_t cap);

/*
 * Feed the card's answer to the block last returned by ccid_t1_next_block().
 * blk NULL or len 0 means nothing arrived within BWT (× the WTX multiplier),
 * or the reader reported a mute card or a parity error; it is recovered like
 * an invalid block (R-block "other error", rule 7).
 * Returns
 *   CCID_T1_SEND   send the next block (ccid_t1_next_block())
 *   CCID_T1_DONE   the response is complete in rsp (ccid_t1_response_len()),
 *                  or the S(IFS) transaction finished
 *   -EMSGSIZE      the response does not fit rsp_cap.  The engine drained the
 *                  rest of the card's chain (acknowledging and discarding it)
 *                  so the card is ready for the next APDU; rsp holds the first
 *                  rsp_cap bytes and ccid_t1_response_len() the full length.
 *                  A chain beyond CCID_T1_RESPONSE_LIMIT bytes or
 *                  CCID_T1_CHAIN_LIMIT blocks is not drained further; the next
 *                  exchange then starts with RESYNCH.
 *   -ECONNABORTED  the card aborted the chain with S(ABORT request).  The
 *                  engine answered S(ABORT response) and consumed what the card
 *                  sent next (normally an R-block handing back the right to
 *                  send, rule 9); the next exchange starts with RESYNCH
 *                  because the sequence numbers are no longer known.
 *   -EPROTO        recovery failed: max_resynch RESYNCH requests went
 *                  unanswered.  The engine is dead; every call returns -EPROTO
 *                  until ccid_t1_init().  The caller must reset the card.
 *   -EINVAL        t1 NULL, blk NULL with len > 0, or no block is awaited (no
 *                  exchange, or ccid_t1_next_block() not called)
 * On CCID_T1_DONE or a negative return other than -EINVAL the exchange is over.
 */
int ccid_t1_feed(struct ccid_t1 *t1, const uint8_t *blk, size_t len);

/*
 * Response bytes received in the current or last exchange: the length of the
 * response in rsp after CCID_T1_DONE; after -EMSGSIZE the length the card sent
 * (larger than rsp_cap).
 */
size_t ccid_t1_response_len(const struct ccid_t1 *t1);

/*
 * BWT multiplier for the wait that follows the block due now: the card asked
 * for it with S(WTX request) and the block due is our S(WTX response).  It
 * applies to that one wait only and falls back to 1 at the next ccid_t1_feed().
 * In CCID TPDU mode it goes into bBWI of the XfrBlock that carries the block.
 */
unsigned ccid_t1_wtx(const struct ccid_t1 *t1);

/*
 * The type of the block due now (after CCID_T1_SEND, before
 * ccid_t1_next_block() or until the block is fed an answer): CCID_T1_BLOCK_I,
 * _R or _S, or -EINVAL when no block is due or was sent.  A PIN pad at TPDU
 * level carries the APDU's I-block itself (CCID §6.1.11 bTeoPrologue): the
 * caller sends that one block by other means.
 */
int ccid_t1_due_type(const struct ccid_t1 *t1);

/*
 * The block last returned by ccid_t1_next_block() never reached the card (a
 * PIN pad's entry was cancelled or timed out before the reader sent it): the
 * exchange ends.  When nothing of it had reached the card — that block was
 * the APDU's first I-block, sent or asked for again, and the card's answer
 * had not begun — the sequence numbers stand as they were; otherwise the
 * next exchange starts with RESYNCH.  Returns 0, or -EINVAL (no block was
 * awaited).
 */
int ccid_t1_withdraw(struct ccid_t1 *t1);

/* Current IFSC: the largest INF the engine sends; the card may change it with S(IFS req). */
uint8_t ccid_t1_ifsc(const struct ccid_t1 *t1);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
