/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISO/IEC 7816-3 T=0 at the character level, interface-device side: the
 * procedure-byte state machine (§10.3.3) that carries one command TPDU
 * (CLA INS P1 P2 P3 [data]) to the card and collects its response data and
 * SW1 SW2.  It is what a character-level CCID reader leaves to the host
 * (CCID 1.1 §6.1.4: PC_to_RDR_XfrBlock carries raw bytes, wLevelParameter is
 * the number of bytes the reader is to read back).  The engine does no I/O:
 * ccid_t0_next() says which bytes to send and how many to read back, and
 * ccid_t0_feed() takes what came back.  It asks only for bytes the card is
 * bound to send (a reader waiting for more would wait until its timeout),
 * and never loops on its own: a card that sends NULL bytes forever costs the
 * caller one exchange each, which the caller bounds in time.
 */
#ifndef CCID_T0_H
#define CCID_T0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

#define CCID_T0_HEADER_SIZE 5
#define CCID_T0_NULL 0x60          /* procedure byte: the card is working (§10.3.3) */

/* What ccid_t0_next / ccid_t0_feed return when the exchange goes on. */
#define CCID_T0_DONE 0
#define CCID_T0_MORE 1

enum ccid_t0_state {
	CCID_T0_STATE_IDLE = 0,      /* no TPDU begun */
	CCID_T0_STATE_HEADER,        /* the header is to be sent */
	CCID_T0_STATE_PROC,          /* a procedure byte is awaited */
	CCID_T0_STATE_SEND_ALL,      /* ACK (INS): the remaining data are to be sent */
	CCID_T0_STATE_SEND_ONE,      /* ACK (INS ^ FF): the next data byte is to be sent */
	CCID_T0_STATE_RECV_ALL,      /* ACK (INS): the remaining response data come */
	CCID_T0_STATE_RECV_ONE,      /* ACK (INS ^ FF): one response data byte comes */
	CCID_T0_STATE_SW2,           /* SW1 came; SW2 comes */
	CCID_T0_STATE_DONE,          /* SW1 SW2 received */
};

/*
 * One TPDU in flight.  Members are the engine's; read them through the
 * functions below.  The command and response buffers are the caller's and
 * must stay valid until the exchange is done.
 */
struct ccid_t0 {
	enum ccid_t0_state state;
	uint8_t header[CCID_T0_HEADER_SIZE];
	const uint8_t *data;         /* command data (case 3), nc bytes */
	size_t nc, sent;
	uint8_t *rsp;                /* response data, then SW1 SW2 */
	size_t cap;
	size_t ne, got;              /* response data the card may send (P3, 00 = 256) and received */
	bool incoming;               /* the card sends data (header-only TPDU): cases 1 and 2 */
	uint8_t sw1, sw2;
	unsigned long nulls;         /* NULL procedure bytes seen */
};

/*
 * Begin a TPDU: a 4-byte header (P3 taken as 00), a 5-byte header (case 1,
 * or case 2 with Ne = P3, 00 meaning 256: the card tells them apart), or a
 * header with exactly P3 (1..255) data bytes (case 3).  rsp receives the
 * response data followed by SW1 SW2; it must hold 2 bytes at least.
 * tpdu is read until the exchange is done.  Returns 0, or
 *   -EINVAL  a NULL pointer, cap < 2, a length that is none of the above,
 *            CLA FF (reserved for PPS), or INS 6X / 9X (§10.3.2: invalid,
 *            the card could not tell an ACK from SW1)
 */
int ccid_t0_begin(struct ccid_t0 *t, const uint8_t *tpdu, size_t len, uint8_t *rsp, size_t cap);

/*
 * What to do next: *ret_out / *ret_out_len are the bytes to send (possibly
 * none), *ret_expect how many bytes to read back after them (>= 1): the
 * least the card is bound to send, so that a reader reading exactly that
 * many never waits for a byte that is not coming.  Returns CCID_T0_MORE,
 * CCID_T0_DONE (nothing more to exchange), or -EINVAL (NULL, or no TPDU
 * begun).  Calling it again without ccid_t0_feed() gives the same answer.
 */
int ccid_t0_next(struct ccid_t0 *t, const uint8_t **ret_out, size_t *ret_out_len, size_t *ret_expect);

/*
 * The bytes the card sent after what ccid_t0_next() gave to send (fewer than
 * expected is allowed: the next call asks for the rest).  Sending is
 * accounted as done by this call.  Returns CCID_T0_MORE, CCID_T0_DONE (SW2
 * received), or
 *   -EINVAL    a NULL pointer with len > 0, or no TPDU begun
 *   -EPROTO    a byte that is no procedure byte (§10.3.3), an ACK with no
 *              data left to move, bytes while the card should be waiting
 *              for data, or bytes after SW2
 *   -EMSGSIZE  response data beyond rsp's capacity
 * After an error the exchange is over (the card must be reset or the
 * exchange abandoned); ccid_t0_next returns -EINVAL.
 */
int ccid_t0_feed(struct ccid_t0 *t, const uint8_t *in, size_t len);

/* The response (data + SW1 SW2) length once CCID_T0_DONE, else 0. */
size_t ccid_t0_response_len(const struct ccid_t0 *t);

/* NULL procedure bytes the card sent during this TPDU. */
unsigned long ccid_t0_nulls(const struct ccid_t0 *t);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
