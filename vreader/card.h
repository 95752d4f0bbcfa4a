/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated ISO/IEC 7816 smart card held by the virtual CCID reader: an
 * ATR built from a configuration, PPS, one small application (a PIN, a
 * 4096-byte transparent EF, a random generator, an echo and a slow command),
 * and the three ways a CCID reader talks to a card: whole APDUs (APDU-level
 * readers), T=0 TPDUs as a TPDU-level reader delivers them, and T=1 blocks.
 * Pure and I/O-free: no clock, no sleeping; the time the card would work
 * before answering is returned to the caller, who decides how to wait.
 * Each struct vcard is one card in one slot and holds all of its state.
 *
 * Card behaviour (quoted by the uccid-vreader manual page)
 * ========================================================
 *
 * ATR (ISO 7816-3 §8)
 *   TS = 3B (direct convention).  TA1 only when cfg.ta1 != 11.  TD1 names
 *   the default protocol (T=1 when both are offered and t1_first, else the
 *   lowest offered).  TA2 = 80 | default protocol in specific mode (b8 = 1:
 *   the card cannot change mode, so a warm reset keeps specific mode; b5 = 0:
 *   Fi/Di are those of TA1).  When T=1 is offered, TD2 (T=1) introduces TA3
 *   = IFSC and TB3 = BWI << 4 | CWI, both always present, and TC3 = 01 only
 *   for CRC; if T=1 is the default and T=0 is offered too, TD3 announces T=0.
 *   TC1, TC2 are never sent (N = 0, WI = 10).  TCK is present exactly when
 *   T=1 is offered (the only protocols are T=0 and T=1).
 *
 * Any ATR (vcard_config_set_atr: uccid-vreader --atr, the control command
 *   "atr")
 *   The card sends the given bytes as they are, defects included (a wrong or
 *   missing TCK, bytes after the end, too few historical bytes, more than 33
 *   bytes).  It runs by what a lenient decode of them says: T=0 and T=1 as
 *   offered (T=0 when neither is: a reader's fallback), the first offered of
 *   them as the default (T=1 only when TD1 names it or T=0 is not offered),
 *   TA1 for PPS (11 when absent or RFU), specific mode when TA2 names T=0 or
 *   T=1, IFSC, BWI (at most 9), CWI and EDC of the first T=1 bytes, else
 *   their defaults.  The application is the same.
 *
 * PPS (ISO 7816-3 §9)
 *   Accepted only as the first exchange after a cold or warm reset, only in
 *   negotiable mode (no TA2), only for an offered protocol, and only as a
 *   well-formed request (PPSS = FF, PCK correct).  Anything else leaves the
 *   card mute (vcard_pps() returns 0; the reader reports ICC_MUTE) and the
 *   card keeps its defaults.  PPS1 is accepted when it equals 11 (Fd, Dd) or
 *   has the Fi index of TA1 and a Di not larger than TA1's (e.g. TA1 = 96
 *   accepts 96, 95, 94 ...); any other PPS1 is declined by answering without
 *   PPS1, i.e. Fd = 372 / Dd = 1 stay in force (§9.3).  PPS2 and PPS3 are
 *   never supported and left out of the answer.  After a successful answer
 *   the protocol in use is the one requested.
 *
 * Application (ISO 7816-4), CLA 00 for interindustry and 80 for proprietary
 * commands; any other CLA: 6E00; an unknown INS: 6D00.  APDUs are decoded
 * strictly as cases 1, 2S, 3S, 4S, 2E, 3E, 4E (§5.1); anything else, and
 * data sent to a command that takes none or no data to one that needs it,
 * is 6700.  Le is the maximum the host accepts (§5.1): commands that return
 * nothing ignore it.  Le = 00 (short) means up to 256 bytes, Le = 0000
 * (extended) up to 65536.  When the data a command produces is longer than
 * Ne the answer is 6Cxx (xx = the exact length) if that length is at most
 * 256, else 6700; without Le at all (cases 1 and 3) response data is dropped
 * and only the status word is returned.
 *   SELECT 00 A4 04 P2 07 F0 75 63 63 69 64 01 [Le]: P2 = 00 or 0C; 9000,
 *       with the FCI 6F 09 84 07 <AID> when P2 = 00 and Le is present.  Any
 *       other AID: 6A82.  Selecting the application deselects the EF.
 *   SELECT 00 A4 02 P2 02 01 01: P2 = 00 or 0C; 9000, no data; selects the
 *       4096-byte transparent EF.  The application need not be selected
 *       first.  Other FID: 6A82; FID not 2 bytes: 6700.  Other P1/P2: 6A86.
 *       A failed SELECT keeps the current selection.
 *   VERIFY 00 20 00 80 Lc PIN: right PIN 9000 and the counter goes back to
 *       cfg.pin_tries; wrong PIN (any length 1..8 that is not the PIN) 63Cx
 *       with x tries left, and 6983 when that was the last try; when blocked
 *       6983 even for the right PIN.  Lc > 8: 6700, counter untouched.
 *       VERIFY without data: 9000 if verified, 63Cx if not, 6983 if
 *       blocked.  P1 != 00 or P2 != 80: 6A86.  Trailing FF bytes pad the
 *       PIN (a PIN pad's block) and are not part of it.
 *   CHANGE REFERENCE DATA 00 24 P1 80 Lc DATA: P1 00: the current PIN then
 *       the new one (two FF-padded 8-byte fields when Lc is 16, else the
 *       current PIN's length first); a wrong current PIN counts as in
 *       VERIFY.  P1 01: the new PIN alone, 6982 unless verified.  The new
 *       PIN has 4..8 digits (else 6700); then 9000, verified, tries reset.
 *   READ BINARY 00 B0 P1 P2 Le (or 00 B0 P1 P2 00 Le1 Le2): offset P1P2.
 *       P1 bit 8 set (short EF identifier, §11.2.2) is 6B00: the EF has no
 *       SFI.  No EF selected: 6986.  Offset >= 4096: 6B00.  Returns
 *       min(Ne, 4096 - offset) bytes; 9000, or 6282 (end of file reached
 *       before Ne bytes) when fewer than an explicit Le were left.  With
 *       Le = 00 / 0000 ("all available, up to 256 / 65536") a short read at
 *       the end of the EF is 9000.  No Le: 6700.
 *   UPDATE BINARY 00 D6 P1 P2 Lc data (short or extended Lc): P1 bit 8: 6B00;
 *       no EF: 6986; PIN not verified: 6982; offset >= 4096: 6B00; offset +
 *       Lc > 4096: 6700; else 9000.
 *   The EF starts as byte i = i & FF and keeps its content for the card's
 *   lifetime (across resets and power cycles), like EEPROM.
 *   GET CHALLENGE 00 84 00 00 Le: Ne random bytes (xorshift64* seeded by
 *       cfg.rng_seed; Le = 00 is 256), 9000.  Ne above 256 or no Le: 6700.
 *       P1P2 != 0000: 6A86.
 *   ECHO 80 10 P1 P2 [Lc data] [Le]: the response is the data followed by
 *       P1P2 bytes of the pattern byte i = i & FF; when that is empty (no
 *       data, P1P2 = 0000) it is Ne bytes of the pattern.  9000.  E.g.
 *       80 10 00 00 00 FF FF returns 65535 bytes.
 *   SLOW 80 12 P1 P2 [Le]: 9000 after P1P2 x 10 ms of work (see below).
 *   Power-off and every reset clear the verified state and the selection
 *   (nothing selected).  The PIN try counter persists (EEPROM).
 *
 * Work time: the APDU and T=0 entry points return the work time in
 *   *work_ms (the reader sends NULL procedure bytes / time extensions as it
 *   needs).  Under T=1 the card asks for it with S(WTX request, m) when it
 *   exceeds BWT (ccid_bwt_us() with the card's BWI, the Fi/Di in use and
 *   cfg.clock_khz): the work is cut into chunks of at most 255 x BWT, one
 *   S(WTX) per chunk with m x BWT >= the chunk.  The first S(WTX) goes out at
 *   once; each following block (the next S(WTX), and finally the response)
 *   carries the previous chunk's time in *delay_ms.
 *
 * T=0 TPDUs (ISO 7816-3 §10, as a TPDU-level CCID reader delivers them, the
 *   reader hiding procedure bytes): CLA INS P1 P2 P3 [P3 data bytes]; a
 *   4-byte header is taken as P3 = 00.  With data (P3 must equal its length,
 *   else 6700; so extended APDUs cannot travel) the command runs as case 4
 *   with Ne unlimited: response data is kept and announced as 61xx (xx =
 *   min(len, 256) & FF), and GET RESPONSE 00 C0 00 00 Le (CLA 00 or that of
 *   the command) returns it Le bytes at a time, 61yy while more remains and
 *   the command's own status word with the last part; Le larger than what is
 *   left: 6Cxx; P1P2 != 0000: 6A86; GET RESPONSE with nothing pending: 6985.
 *   Any other command discards a pending response.  Without data, P3 is Le
 *   (00 = 256) for READ BINARY, GET CHALLENGE, GET RESPONSE and ECHO, and
 *   for any other command P3 = 00 is case 1 and P3 != 00 is case 2 with Le =
 *   P3 (a command that needs data then answers 6700).  In case 2, response data whose
 *   length is not exactly P3 is answered 6Cxx with the exact length and no
 *   data.  Fewer than 4 bytes: 6700.
 *
 * T=1 (ISO 7816-3 §11): NAD must be 00 (else R-block "other error"); the
 *   card sends NAD 00 and the EDC of its ATR.  The card keeps the T=1
 *   parameters of its ATR: a reader's SetParameters does not change them
 *   (a wrong setting shows as EDC errors, as with a real card).  I-blocks
 *   longer than IFSC: other error.  Chaining both ways: each chained host
 *   block is acknowledged with R(N(R)); responses longer than IFSD go out as
 *   M = 1 blocks, each waiting for R(N(R) = next).  An R-block asking for the
 *   last block (or any R-block while no chain is in progress) makes the card
 *   send its last block again; a bad EDC or LEN that disagrees with the
 *   block size gets R(EDC error), any other malformed or unexpected block
 *   R(other error).  While its S(WTX request) is unanswered, any block but
 *   S(WTX response) with the same m, S(RESYNCH request) or S(ABORT request)
 *   makes the card repeat the request (rule 7.3).  S(IFS request, 1..254)
 *   is echoed and sets IFSD.  S(RESYNCH request) is answered, resets N(S) and
 *   N(R) to 0 and IFSD to 32, and drops any exchange in progress.  S(ABORT
 *   request) is answered with S(ABORT response) and drops the chain in
 *   progress in either direction.  A host APDU chain longer than 65544 bytes
 *   is acknowledged to its end and answered 6700.
 *
 * Error returns: -EINVAL (NULL pointer, warm reset of an unpowered card),
 * -ENOBUFS (cap too small: a bug in the reader, which gives 65538+ bytes),
 * -ENODEV (card not powered), -EPROTO (a T=0 call while T=1 is in use or the
 * reverse).
 */
#ifndef VREADER_CARD_H
#define VREADER_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid/atr.h"
#include "ccid/common.h"
#include "ccid/t1.h"

#define VCARD_PROTO_T0 0x0001u
#define VCARD_PROTO_T1 0x0002u

/* Longest command APDU: case 4E, 4 + 3 + 65535 + 2 (ISO 7816-4 §5.1). */
#define VCARD_APDU_MAX (4 + 3 + 65535 + 2)
/* Longest response: Ne = 65536 plus SW1 SW2. */
#define VCARD_RSP_MAX (65536 + 2)

#define VCARD_EF_SIZE 4096
#define VCARD_EF_FID 0x0101
#define VCARD_HIST_DEFAULT "uccid vcard"
#define VCARD_PIN_MAX 8
/* A given ATR: the 33 bytes ISO allows and some more, as defective cards send (card_atr.c). */
#define VCARD_ATR_MAX 48

/* The application identifier (proprietary, category F). */
extern const uint8_t vcard_aid[7];

struct vcard_config {
	uint16_t protocols;          /* VCARD_PROTO_T0 | VCARD_PROTO_T1, at least one */
	bool t1_first;               /* both offered: T=1 is the default protocol */
	uint8_t ta1;                 /* Fi/Di offered in TA1; 11 = TA1 absent. Fi, Di not RFU */
	bool specific_mode;          /* TA2 present: no PPS, the default protocol and TA1 apply */
	uint8_t ifsc;                /* T=1 TA3, 1..254 (default 32) */
	uint8_t bwi, cwi;            /* T=1 TB3, BWI 0..9, CWI 0..15 (default 4 / 13) */
	enum ccid_edc edc;           /* T=1 TC3 (01 = CRC), default LRC */
	uint8_t hist[15];            /* historical bytes (default "uccid vcard") */
	size_t hist_len;             /* 0..15 */
	uint8_t pin[VCARD_PIN_MAX];  /* default 31 32 33 34 35 36 */
	size_t pin_len;              /* 1..8 */
	unsigned pin_tries;          /* 1..15 (63Cx has one nibble), default 3 */
	uint32_t clock_khz;          /* the reader's card clock, for BWT (default 4000), > 0 */
	uint64_t rng_seed;           /* GET CHALLENGE generator seed; 0 = a fixed default */
	/* character level (vcard_char_*): how the card paces its T=0 procedure bytes */
	uint8_t t0_nulls;            /* NULL bytes (60) before each procedure byte after the header and before SW1 */
	bool t0_ack_each;            /* ACK every data byte with INS ^ FF instead of all with INS */
	uint8_t atr[VCARD_ATR_MAX];  /* atr_len > 0: the card sends exactly these bytes as its ATR */
	size_t atr_len;              /* 0: the ATR is built from the fields above */
};

struct vcard;

/*
 * Fill cfg with the defaults above for the given protocols (VCARD_PROTO_*).
 * Does nothing if cfg is NULL.
 */
void vcard_config_default(struct vcard_config *cfg, uint16_t protocols);

/*
 * Make cfg's card send atr (len bytes, 1..VCARD_ATR_MAX) as its ATR, of any
 * quality (card.h "Any ATR"), and set the protocols, TA1, specific mode and
 * T=1 parameters the card then runs by from what the ATR says, with the ISO
 * defaults for what it does not (ccid_atr_parse_lenient).  Returns 0, or
 * -EINVAL (NULL, len 0 or above VCARD_ATR_MAX), -EBADMSG (no TS 3B/3F/03:
 * not an ATR; cfg unchanged).
 */
int vcard_config_set_atr(struct vcard_config *cfg, const uint8_t *atr, size_t len);

/*
 * Hex as the command line and control socket give an ATR: pairs of hex
 * digits, either case, with optional spaces or colons between bytes.
 * Returns the byte count, or -EINVAL (another character, an odd digit
 * count, NULL), -EMSGSIZE (more than cap bytes).
 */
int vcard_parse_hex(const char *text, uint8_t *out, size_t cap);

/*
 * Give a card another ATR (as vcard_config_set_atr) from its next reset on;
 * a powered card keeps running as it was reset until then.  Returns 0 or
 * vcard_config_set_atr's errors.
 */
int vcard_set_atr(struct vcard *card, const uint8_t *atr, size_t len);

/*
 * Create an unpowered card from cfg (copied).  Returns the card (free it
 * with vcard_free()), or NULL when cfg is NULL or invalid (no or unknown
 * protocol, RFU Fi/Di in ta1, IFSC 0 or 255, BWI > 9, CWI > 15, unknown
 * edc, hist_len > 15, pin_len 0 or > 8, pin_tries 0 or > 15, clock 0), or
 * when memory runs out.
 */
struct vcard *vcard_new(const struct vcard_config *cfg);

/*
 * Make card what vcard_new(cfg) would return, in place (everything it held is
 * forgotten), without allocating: for callers that run many short lives of
 * a card (the fuzz harnesses).  Returns 0, or -EINVAL as vcard_new refuses.
 */
int vcard_reinit(struct vcard *card, const struct vcard_config *cfg);

/* Free a card; NULL is ignored. */
void vcard_free(struct vcard *card);

/*
 * Activate and reset the card (cold: power on, or power cycle if powered) or
 * warm-reset a powered card, and copy its ATR to atr.  Clears the
 * application's session state and every protocol state; PPS becomes
 * possible again.  Returns the ATR length, or
 *   -EINVAL   card or atr NULL, or warm reset of an unpowered card
 *   -ENOBUFS  cap smaller than the ATR (nothing changes)
 */
int vcard_reset(struct vcard *card, bool warm, uint8_t *atr, size_t cap);

/* Deactivate; clears the session state.  NULL is ignored. */
void vcard_power_off(struct vcard *card);

/* Whether the card is powered (false for NULL). */
bool vcard_powered(const struct vcard *card);

/*
 * Present a PPS request (ISO 7816-3 §9) and get the card's answer.  Returns
 * the answer length (3 or 4), 0 if the card stays mute (request not allowed
 * now, malformed, or for a protocol not offered; see the behaviour notes),
 * or
 *   -EINVAL   card or req NULL, or rsp NULL with cap > 0
 *   -ENODEV   the card is not powered
 *   -ENOBUFS  cap smaller than the answer
 */
int vcard_pps(struct vcard *card, const uint8_t *req, size_t len, uint8_t *rsp, size_t cap);

/* Protocol in use: 0 or 1 (0 for NULL). */
uint8_t vcard_protocol(const struct vcard *card);

/* Fi/Di byte in use: 11 until a PPS agrees on TA1 (TA1 in specific mode). */
uint8_t vcard_fidi(const struct vcard *card);

/* The card's current IFSD (what it may send per T=1 block), 32 after reset. */
uint8_t vcard_ifsd(const struct vcard *card);

/*
 * Execute one command APDU (the reader did T=0 or T=1).  Writes response
 * data and SW1 SW2 to rsp and the card's work time before answering to
 * *work_ms (may be NULL).  Discards a pending T=0 response and a T=1 chain
 * in progress.  Returns the response length (>= 2), or
 *   -EINVAL   card, cmd or rsp NULL
 *   -ENODEV   the card is not powered
 *   -ENOBUFS  cap smaller than the response
 */
int vcard_apdu(struct vcard *card, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
	       uint32_t *work_ms);

/*
 * Execute one T=0 TPDU (header CLA INS P1 P2 P3 and P3 data bytes) and
 * return the card's answer as a TPDU-level reader hands it over: response
 * data then SW1 SW2, procedure bytes removed.  *work_ms (may be NULL) gets
 * the work time.  Returns the answer length (>= 2), or
 *   -EINVAL   card, tpdu or rsp NULL
 *   -ENODEV   the card is not powered
 *   -EPROTO   the protocol in use is T=1
 *   -ENOBUFS  cap smaller than the answer
 */
int vcard_t0_tpdu(struct vcard *card, const uint8_t *tpdu, size_t len, uint8_t *rsp, size_t cap,
		  uint32_t *work_ms);

/*
 * Give the card one T=1 block (as received, EDC included) and get its next
 * block in out; *delay_ms (may be NULL) is how long the card works before
 * sending it.  Returns the block length, 0 if the card stays silent (never,
 * currently: every block gets an answer), or
 *   -EINVAL   card or out NULL, or blk NULL with len > 0
 *   -ENODEV   the card is not powered
 *   -EPROTO   the protocol in use is T=0
 *   -ENOBUFS  cap smaller than the block (at most CCID_T1_BLOCK_MAX)
 */
int vcard_t1_block(struct vcard *card, const uint8_t *blk, size_t len, uint8_t *out, size_t cap,
		   uint32_t *delay_ms);

/*
 * Character level (a character-level CCID reader moves single bytes): the
 * bytes the interface device sends, in any pieces.  The card recognises a
 * PPS request (PPSS FF as the first byte after the ATR, §9.2), T=0 headers
 * and data (§10.3: after the header it answers with procedure bytes — NULL
 * bytes as cfg.t0_nulls says, ACK with INS or INS ^ FF per byte as
 * cfg.t0_ack_each says, then SW1 SW2; whether data come in or go out is
 * decided by the INS and P3 as for vcard_t0_tpdu: data come in when the
 * command is not one of the outgoing ones and P3 != 00) and T=1 blocks
 * (prologue, then LEN + EDC).  Bytes while the card is sending discard what
 * it had not sent yet (the host gave up on it).  *work_ms (may be NULL) gets
 * the work time of a command run by these bytes.  Returns 0, or -EINVAL,
 * -ENODEV (not powered).
 */
int vcard_char_write(struct vcard *card, const uint8_t *in, size_t len, uint32_t *work_ms);
/* The next bytes the card sends, at most cap (fewer: it waits for the host).  Returns the count. */
size_t vcard_char_read(struct vcard *card, uint8_t *out, size_t cap);
/* Bytes the card has ready to send (0 for NULL). */
size_t vcard_char_pending(const struct vcard *card);

/* Whether the PIN was verified since the last reset (false for NULL). */
bool vcard_pin_verified(const struct vcard *card);

/* PIN tries left before the PIN is blocked (0 for NULL). */
unsigned vcard_pin_tries_left(const struct vcard *card);

/* ------------------------------------------------------------------------
 * Internal to the card_*.c files; the members are private.
 */

/* A decoded command APDU (ISO 7816-4 §5.1). */
struct vcard_cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;         /* NULL when nc is 0 */
	size_t nc;                   /* Nc: 0 .. 65535 */
	bool has_le;                 /* Le field present (cases 2, 4) */
	size_t ne;                   /* Ne: 1 .. 65536 when has_le, else 0 */
	bool le_zero;                /* Le was 00 / 0000: "all available, up to Ne" */
};

enum vcard_t1_state {
	VCARD_T1_IDLE = 0,           /* waiting for the host's I-block (or next chained one) */
	VCARD_T1_SENDING,            /* response chain: waiting for R(N(R)) acknowledgements */
	VCARD_T1_WTX,                /* S(WTX request) sent, waiting for S(WTX response) */
};

struct vcard_t1 {
	enum vcard_t1_state state;
	uint8_t ifsd;                /* largest INF the card sends */
	uint8_t ns;                  /* N(S) of the card's next new I-block */
	uint8_t nr;                  /* N(S) expected in the host's next I-block */
	size_t cmd_len;              /* bytes of the host's chain so far (may exceed the buffer) */
	size_t rsp_len, rsp_off;     /* response in card->rsp; start of the block in flight */
	size_t chunk;                /* INF length of the I-block in flight */
	uint8_t last_ns;             /* N(S) of the I-block in flight */
	uint8_t wtx_m;               /* multiplier of the outstanding S(WTX request) */
	uint32_t work_left_ms;       /* work not yet covered by an S(WTX) */
	uint32_t chunk_ms;           /* work covered by the outstanding S(WTX) */
	uint8_t last[CCID_T1_BLOCK_MAX]; /* last block sent, for retransmission */
	size_t last_len;             /* 0: nothing sent since reset / RESYNCH */
};

/* All zero (card_atr.c's resets): idle, nothing to send. */
enum vcard_char_mode {
	VCARD_CHAR_IDLE = 0,         /* waiting for the first byte of a PPS, header or block */
	VCARD_CHAR_PPS,              /* collecting a PPS request */
	VCARD_CHAR_HEADER,           /* collecting a T=0 header */
	VCARD_CHAR_DATA,             /* ACK sent: collecting P3 data bytes */
	VCARD_CHAR_T1,               /* collecting a T=1 block */
};

#define VCARD_CHAR_IN_MAX (5 + 255)  /* a header and its data; a T=1 block (259) fits */
#define VCARD_CHAR_OUT_MAX 1024      /* 256 bytes ACKed one by one, their status and NULL bytes */

struct vcard_char {
	enum vcard_char_mode mode;
	uint8_t in[VCARD_CHAR_IN_MAX];
	size_t in_len, in_need;
	uint8_t out[VCARD_CHAR_OUT_MAX];
	size_t out_len, out_off;
};

struct vcard {
	struct vcard_config cfg;
	struct vcard_config next;    /* has_next: the configuration vcard_set_atr gave, from the next reset */
	bool has_next;
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	uint8_t default_protocol;
	bool powered;
	bool pps_allowed;            /* no exchange yet since the last reset */
	uint8_t protocol;
	uint8_t fidi;
	/* application */
	bool app_selected, ef_selected, pin_verified;
	unsigned tries_left;
	uint64_t rng;
	uint8_t ef[VCARD_EF_SIZE];
	/* T=0: pending response for GET RESPONSE, in rsp */
	bool t0_pending;
	size_t t0_len, t0_off;
	uint8_t t0_sw1, t0_sw2, t0_cla;
	struct vcard_t1 t1;
	struct vcard_char chr;        /* character level */
	uint8_t cmd[VCARD_APDU_MAX];  /* T=1 chain assembly */
	uint8_t rsp[VCARD_RSP_MAX];   /* the last response (data + SW) */
};

/*
 * Decode a command APDU strictly per ISO 7816-4 §5.1.  ret->data points
 * into cmd.  Returns 0, or -EBADMSG (no valid case; the card answers 6700).
 */
int vcard_cmd_parse(const uint8_t *cmd, size_t len, struct vcard_cmd *ret);

/*
 * Run one decoded command through the application, writing data + SW1 SW2
 * to card->rsp.  Returns the response length (2 .. VCARD_RSP_MAX); *work_ms
 * gets the work time.
 */
size_t vcard_app_exec(struct vcard *card, const struct vcard_cmd *c, uint32_t *work_ms);

/* Session state after power-off or reset: nothing selected, PIN not verified. */
void vcard_app_reset(struct vcard *card);

/* Protocol state after reset: no pending T=0 response; T=1 sequence 0, IFSD 32. */
void vcard_t0_reset(struct vcard *card);
void vcard_t1_reset(struct vcard *card);
/* Is a header-only T=0 TPDU of this command case 2 (P3 = Le, the card sends data), whatever P3? */
bool vcard_t0_outgoing(uint8_t cla, uint8_t ins);

#endif
