/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid selftest: exercise every CCID 1.1 command and class request on one
 * slot of a reader and say, probe by probe, whether the reader behaves as
 * the specification says (ok), answers but otherwise (deviation, with what
 * and the section), refuses what it may refuse (unsupported: CMD_NOT_SUPPORTED,
 * or a STALL where that is allowed), or could not be tried (skipped: no card,
 * no mechanism, a PIN pad, an undeclared voltage).  Commands go out raw
 * through uccid_ccid_command(), well-formed ones built with ccid_msg_encode,
 * malformed ones by hand.  The reader is opened (uccid_open_wrapped: its
 * open lock and --wait as for any subcommand) through a thin transport
 * shim of our own that records every message on the wire (so a wrong bSeq,
 * a stale duplicate or a malformed answer that the library skips is still
 * reported), sends the ABORT class request just before a PC_to_RDR_Abort
 * with that message's bSeq (CCID §5.3.1), and can address one command to a
 * slot that does not exist (bSlot rewritten out, the answer's bSlot
 * rewritten back) to check bError 5.  Descriptor findings of severity
 * warning or error count as deviations (each is a departure from CCID §5.1
 * that a driver has to work around); notes do not.  Every wait is bounded;
 * the card is powered off at the end; nothing is ejected or locked without
 * --mechanical.  Exit status: 0 no deviation, 1 at least one, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccid/bytes.h"
#include "ccid/ccid.h"
#include "tool/tool.h"
#include "transport/transport.h"
#include "session/uccid.h"

#define CMD_MS 3000            /* base timeout of one command (time extensions add to it) */
#define POWER_MS 5000          /* base timeout of IccPowerOn */
#define WIRE_MAX 24            /* messages recorded per command */
#define ANS_MAX 4096           /* the largest answer a probe expects (ATR, parameters, short responses) */
#define DETAIL_MAX 700
#define RESULTS_MAX 64

/* CCID class requests (CCID §5.3) */
#define REQ_ABORT 0x01
#define REQ_GET_CLOCK_FREQUENCIES 0x02
#define REQ_GET_DATA_RATES 0x03

enum verdict { V_OK, V_UNSUPPORTED, V_DEVIATION, V_SKIPPED };
static const char *const verdict_names[] = { "ok", "unsupported", "deviation", "skipped" };

struct result {
	char probe[40];
	enum verdict v;
	char detail[DETAIL_MAX];
	char spec[64];
};

/* ---- the recording transport shim ---- */

struct wire_rec {
	bool out;                      /* PC_to_RDR (true) or RDR_to_PC */
	size_t len;
	uint8_t hdr[CCID_HEADER_SIZE]; /* as on the wire (bytes past len are zero) */
	int decode_rc;                 /* ccid_msg_decode of an RDR_to_PC message */
	struct ccid_diag diag;
};

struct shim {
	struct uccid_transport t;      /* first member: the reader code sees this one */
	struct uccid_transport *inner;
	pthread_mutex_t lock;
	/* armed by a probe for its next bulk-OUT message */
	int retarget;                  /* bSlot to put on the wire instead (-1: none) */
	bool abort_control;            /* send the ABORT request before a PC_to_RDR_Abort */
	/* what happened since shim_clear() */
	int abort_rc;
	bool retargeted, retarget_answered, retarget_echoed;
	uint8_t retarget_from, retarget_to, retarget_seq;
	struct wire_rec rec[WIRE_MAX]; /* in the order of the wire */
	unsigned nrec, lost, zlps, stalls;
	uint8_t last_in[ANS_MAX];      /* the last message received, for one the library refused */
	size_t last_in_len;
};

static struct shim *shim_of(struct uccid_transport *t)
{
	return (struct shim *)t;
}

/* Called with s->lock held. */
static void shim_record(struct shim *s, bool out, const uint8_t *msg, size_t len)
{
	struct wire_rec *w;

	if (s->nrec >= WIRE_MAX) {
		s->lost++;
		return;
	}
	w = &s->rec[s->nrec++];
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->len = len;
	memcpy(w->hdr, msg, len < CCID_HEADER_SIZE ? len : CCID_HEADER_SIZE);
	if (!out)
		w->decode_rc = ccid_msg_decode(msg, len, &(struct ccid_msg){ 0 }, &w->diag);
}

static void shim_clear(struct shim *s)
{
	pthread_mutex_lock(&s->lock);
	s->nrec = s->lost = s->zlps = s->stalls = 0;
	s->abort_rc = 0;
	s->retargeted = s->retarget_answered = s->retarget_echoed = false;
	s->last_in_len = 0;
	pthread_mutex_unlock(&s->lock);
}

static int shim_descriptors(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cap)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->descriptors(s->inner, dev, cfg, cap);
}

static int shim_control(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->control(s->inner, bmRequestType, bRequest, wValue, wIndex, data, wLength, timeout_ms);
}

static int shim_bulk_out(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);
	uint8_t *copy = NULL;
	const uint8_t *send = data;
	bool abort_first = false;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (len >= CCID_HEADER_SIZE) {
		if (s->retarget >= 0 && (copy = malloc(len)) != NULL) {
			memcpy(copy, data, len);
			s->retarget_from = data[CCID_OFF_SLOT];
			s->retarget_to = (uint8_t)s->retarget;
			s->retarget_seq = data[CCID_OFF_SEQ];
			s->retargeted = true;
			copy[CCID_OFF_SLOT] = (uint8_t)s->retarget;
			send = copy;
		}
		s->retarget = -1;
		if (s->abort_control && data[CCID_OFF_TYPE] == CCID_PC_TO_RDR_ABORT) {
			s->abort_control = false;
			abort_first = true;
		}
		shim_record(s, true, send, len);
	}
	pthread_mutex_unlock(&s->lock);
	if (abort_first) {
		/* CCID §5.3.1: the ABORT request first, wValue = bSeq << 8 | bSlot, then the bulk Abort */
		rc = s->inner->ops->control(s->inner, 0x21, REQ_ABORT,
					    (uint16_t)(data[CCID_OFF_SEQ] << 8 | data[CCID_OFF_SLOT]),
					    s->inner->info.interface, NULL, 0, timeout_ms);
		pthread_mutex_lock(&s->lock);
		s->abort_rc = rc < 0 ? rc : 0;
		pthread_mutex_unlock(&s->lock);
	}
	rc = s->inner->ops->bulk_out(s->inner, send, len, timeout_ms);
	free(copy);
	return rc;
}

static int shim_bulk_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);
	int n = s->inner->ops->bulk_in(s->inner, buf, cap, timeout_ms);

	if (n < 0) {
		if (n == -EPIPE) {
			pthread_mutex_lock(&s->lock);
			s->stalls++;
			pthread_mutex_unlock(&s->lock);
		}
		return n;
	}
	pthread_mutex_lock(&s->lock);
	if (n == 0) {
		s->zlps++;
	} else {
		shim_record(s, false, buf, (size_t)n);
		s->last_in_len = (size_t)n < sizeof(s->last_in) ? (size_t)n : sizeof(s->last_in);
		memcpy(s->last_in, buf, s->last_in_len);
		/* the answer to a retargeted command: hand it to the slot that is waiting */
		if (s->retargeted && n >= CCID_HEADER_SIZE && buf[CCID_OFF_SEQ] == s->retarget_seq
		    && ccid_is_response(buf[CCID_OFF_TYPE])) {
			s->retarget_answered = true;
			if (buf[CCID_OFF_SLOT] == s->retarget_to) {
				s->retarget_echoed = true;
				buf[CCID_OFF_SLOT] = s->retarget_from;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int shim_intr_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->intr_in(s->inner, buf, cap, timeout_ms);
}

static void shim_cancel(struct uccid_transport *t)
{
	struct shim *s = shim_of(t);

	s->inner->ops->cancel(s->inner);
}

static int shim_clear_halt(struct uccid_transport *t, uint8_t ep)
{
	struct shim *s = shim_of(t);

	return s->inner->ops->clear_halt(s->inner, ep);
}

static void shim_close(struct uccid_transport *t)
{
	struct shim *s = shim_of(t);

	if (!s)
		return;
	s->inner->ops->close(s->inner);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct uccid_transport_ops shim_ops = {
	.name = "selftest",
	.descriptors = shim_descriptors,
	.control = shim_control,
	.bulk_out = shim_bulk_out,
	.bulk_in = shim_bulk_in,
	.intr_in = shim_intr_in,
	.cancel = shim_cancel,
	.clear_halt = shim_clear_halt,
	.close = shim_close,
};

/* ---- the run ---- */

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

static void appendv(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t n = strlen(buf);

	if (n + 1 < cap)
		vsnprintf(buf + n, cap - n, fmt, ap);
}

static void __attribute__((format(printf, 3, 4))) append(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	appendv(buf, cap, fmt, ap);
	va_end(ap);
}

static void hexstr(char *out, size_t cap, const uint8_t *b, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < n && 3 * i + 3 < cap; i++)
		snprintf(out + 2 * i, cap - 2 * i, "%02X", b[i]);
}

static struct result *begin(struct st *st, const char *probe, const char *spec)
{
	static struct result overflow;
	struct result *r = st->nres < RESULTS_MAX ? &st->res[st->nres++] : &overflow;

	memset(r, 0, sizeof(*r));
	snprintf(r->probe, sizeof(r->probe), "%s", probe);
	snprintf(r->spec, sizeof(r->spec), "%s", spec);
	r->v = V_OK;
	return r;
}

/* Add to the detail, "; " between parts. */
static void __attribute__((format(printf, 2, 3))) note(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->detail[0])
		append(r->detail, sizeof(r->detail), "; ");
	va_start(ap, fmt);
	appendv(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* A verdict only moves towards the worse: ok < unsupported < deviation; skipped is set on its own. */
static void __attribute__((format(printf, 3, 4))) judge(struct result *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->v == V_SKIPPED || v > r->v)
		r->v = v;
	if (r->detail[0])
		append(r->detail, sizeof(r->detail), "; ");
	va_start(ap, fmt);
	appendv(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static void progress(const struct st *st, unsigned i, unsigned n, const char *what)
{
	if (st->tty)
		fprintf(stderr, "\r\033[Kuccid selftest: [%u/%u] %s", i, n, what);
}

static const char *type_name(uint8_t t)
{
	const char *n = ccid_msg_type_name(t);

	return n ? n : "an unknown message";
}

/* "failed: ICC_MUTE (FE), bmICCStatus 2" */
static void status_text(const struct ccid_msg *m, char *out, size_t cap)
{
	uint8_t icc = CCID_ICC_STATUS(m->rsp.bStatus);

	if (CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		snprintf(out, cap, "failed with %s (bError %02X), bmICCStatus %u", ccid_error_name(m->rsp.bError),
			 m->rsp.bError, icc);
	else
		snprintf(out, cap, "processed, bmICCStatus %u", icc);
}

static bool failed(const struct answer *a)
{
	return a->rc >= 0 && CCID_CMD_STATUS(a->m.rsp.bStatus) == CCID_CMD_FAILED;
}

static bool failed_with(const struct answer *a, uint8_t err)
{
	return failed(a) && a->m.rsp.bError == err;
}

/*
 * Everything on the wire during one command that did not belong to it:
 * CCID §6.2 says the reader echoes bSlot and bSeq in its answer, and sends
 * exactly one (final) answer per command.  Time extensions (bmCommandStatus
 * 2) with the command's bSeq are its own.
 */
static void check_wire(struct st *st, struct answer *a)
{
	struct shim *s = st->shim;
	unsigned finals[WIRE_MAX] = { 0 };

	a->wire[0] = 0;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->nrec; i++) {
		const struct wire_rec *w = &s->rec[i];
		int owner = -1;

		if (w->out)
			continue;
		st->answers++;
		if (w->len < CCID_HEADER_SIZE || w->decode_rc < 0) {
			st->echo_bad++;
			a->wire_bad = true;
			append(a->wire, sizeof(a->wire), "%sa malformed %zu-byte answer (expected %s at byte %zu; "
			       "CCID §6.2)",
			       a->wire[0] ? "; " : "", w->len, w->diag.expected ? w->diag.expected : "a header",
			       w->diag.offset);
			continue;
		}
		/* only a command already sent can own an answer */
		for (unsigned j = 0; j < i; j++)
			if (s->rec[j].out && s->rec[j].hdr[CCID_OFF_SEQ] == w->hdr[CCID_OFF_SEQ]
			    && s->rec[j].hdr[CCID_OFF_SLOT] == w->hdr[CCID_OFF_SLOT])
				owner = (int)j;
		if (owner < 0) {
			st->echo_bad++;
			a->wire_bad = true;
			append(a->wire, sizeof(a->wire),
			       "%san answer %s with bSlot %u bSeq %02X matching no command in progress "
			       "(sent bSlot %u bSeq %02X; CCID §6.2: bSlot and bSeq are echoed)",
			       a->wire[0] ? "; " : "", type_name(w->hdr[0]), w->hdr[CCID_OFF_SLOT], w->hdr[CCID_OFF_SEQ],
			       a->slot, a->seq);
			continue;
		}
		if (CCID_CMD_STATUS(w->hdr[CCID_OFF_B7]) == CCID_CMD_TIME_EXTENSION)
			a->extensions++;
		else if (++finals[owner] == 2) {
			st->echo_bad++;
			a->wire_bad = true;
			append(a->wire, sizeof(a->wire), "%sa second answer to bSeq %02X (CCID §6.2: one answer per command)",
			       a->wire[0] ? "; " : "", w->hdr[CCID_OFF_SEQ]);
		}
	}
	if (s->lost) {
		append(a->wire, sizeof(a->wire), "%s%u more messages not recorded", a->wire[0] ? "; " : "", s->lost);
		a->wire_bad = true;
	}
	if (s->stalls) {
		append(a->wire, sizeof(a->wire), "%sbulk-IN stalled %u time%s (the halt was cleared, the answer lost)",
		       a->wire[0] ? "; " : "", s->stalls, s->stalls == 1 ? "" : "s");
		a->wire_bad = true;
	}
	if (s->zlps)
		append(a->wire, sizeof(a->wire), "%s%u zero-length bulk-IN transfer%s (skipped)", a->wire[0] ? "; " : "",
		       s->zlps, s->zlps == 1 ? "" : "s");
	pthread_mutex_unlock(&s->lock);
}

/* Send msg (bSlot and bSeq are the library's) and collect the answer and the wire record. */
static void xchg_raw(struct st *st, const uint8_t *msg, size_t len, unsigned ms, struct answer *a)
{
	struct timespec t0, t1;

	a->rc = -EIO;
	a->len = 0;
	a->type = msg[CCID_OFF_TYPE];
	a->ms = ms;
	a->wire[0] = 0;
	a->wire_bad = false;
	a->elapsed_ms = a->extensions = 0;
	if (st->gone) {
		a->rc = -ENODEV;
		return;
	}
	shim_clear(st->shim);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->rc = uccid_ccid_command(st->r, st->slot, msg, len, a->buf, sizeof(a->buf), ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->elapsed_ms = (unsigned)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	pthread_mutex_lock(&st->shim->lock);
	for (unsigned i = 0; i < st->shim->nrec; i++)
		if (st->shim->rec[i].out) {
			a->seq = st->shim->rec[i].hdr[CCID_OFF_SEQ];
			a->slot = st->shim->rec[i].hdr[CCID_OFF_SLOT];
			break;
		}
	pthread_mutex_unlock(&st->shim->lock);
	if (a->rc >= 0) {
		a->len = (size_t)a->rc;
		if (ccid_msg_decode(a->buf, a->len, &a->m, NULL) < 0)
			a->rc = -EPROTO;        /* cannot happen: the library decoded it */
	}
	check_wire(st, a);
	if (a->rc == -ENODEV || a->rc == -ECANCELED)
		st->gone = true;
}

/* A well-formed command, encoded by the codec (which refuses to encode anything else). */
static void xchg(struct st *st, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data, size_t len,
		 unsigned ms, struct answer *a)
{
	struct ccid_msg m = { .bMessageType = type, .dwLength = (uint32_t)len, .abData = len ? data : NULL };
	uint8_t buf[CCID_HEADER_SIZE + 300];
	ssize_t n;

	if (type == CCID_PC_TO_RDR_XFR_BLOCK || type == CCID_PC_TO_RDR_SECURE) {
		m.xfr.bBWI = b7;
		m.xfr.wLevelParameter = (uint16_t)(b8 | b9 << 8);
	} else {
		m.raw[0] = b7;
		m.raw[1] = b8;
		m.raw[2] = b9;
	}
	n = ccid_msg_encode(&m, buf, sizeof(buf));
	if (n < 0) {
		a->rc = n;
		a->wire[0] = 0;
		a->wire_bad = false;
		a->type = type;
		return;
	}
	xchg_raw(st, buf, (size_t)n, ms, a);
}

/* A header-only message built by hand (malformed on purpose), with optional trailing data. */
static void xchg_hand(struct st *st, uint8_t type, uint32_t dwLength, uint8_t b7, uint8_t b8, uint8_t b9,
		      const uint8_t *data, size_t len, struct answer *a)
{
	uint8_t buf[CCID_HEADER_SIZE + 16] = { 0 };

	buf[CCID_OFF_TYPE] = type;
	put_le32(buf + CCID_OFF_LENGTH, dwLength);
	buf[CCID_OFF_B7] = b7;
	buf[CCID_OFF_B8] = b8;
	buf[CCID_OFF_B9] = b9;
	if (len)
		memcpy(buf + CCID_HEADER_SIZE, data, len);
	xchg_raw(st, buf, CCID_HEADER_SIZE + len, CMD_MS, a);
}

/*
 * What every probe checks first: was there an answer of the right type
 * (CCID §6.1 table 6.1-1) that is not CMD_SLOT_BUSY on an idle slot
 * (§6.2.6: busy means a command is already in progress there; this tool
 * never has two outstanding)?  Anything else on the wire that belongs to no
 * command is a bSeq/bSlot deviation (§6.2).  Returns true when the probe's
 * verdict is decided (a deviation recorded in r).
 */
static bool answer_problem(struct st *st, const struct answer *a, struct result *r)
{
	char what[160];

	if (a->wire[0])
		judge(r, a->wire_bad ? V_DEVIATION : V_OK, "%s", a->wire);
	if (a->rc >= 0) {
		if (failed_with(a, CCID_ERR_CMD_SLOT_BUSY)) {
			judge(r, V_DEVIATION, "%s answered CMD_SLOT_BUSY although no command was outstanding on any slot "
			      "(CCID §6.2.6)", type_name(a->type));
			return true;
		}
		return false;
	}
	switch (a->rc) {
	case -ETIMEDOUT:
		if (a->extensions)
			judge(r, V_DEVIATION, "%u time extensions (CCID §6.2.6) but no answer to %s in %u ms; the command "
			      "was aborted", a->extensions, type_name(a->type), a->elapsed_ms);
		else
			judge(r, V_DEVIATION, "no answer to %s with its bSeq in %u ms; the command was aborted",
			      type_name(a->type), a->elapsed_ms);
		break;
	case -EPROTO: {
		struct ccid_msg m;
		const struct shim *s = st->shim;

		if (s->last_in_len && ccid_msg_decode(s->last_in, s->last_in_len, &m, NULL) == 0
		    && m.bSeq == a->seq && m.bMessageType != ccid_response_type(a->type)) {
			status_text(&m, what, sizeof(what));
			judge(r, V_DEVIATION, "%s answered with %s (%s), not %s (CCID §6.1 table 6.1-1)", type_name(a->type),
			      type_name(m.bMessageType), what, type_name(ccid_response_type(a->type)));
		} else {
			judge(r, V_DEVIATION, "%s failed on an answer that broke the protocol (see above) and was aborted",
			      type_name(a->type));
		}
		break;
	}
	case -ENODEV:
	case -ECANCELED:
		judge(r, V_DEVIATION, "the reader went away during %s", type_name(a->type));
		break;
	case -EMSGSIZE:
		judge(r, V_DEVIATION, "the answer to %s is larger than %u bytes", type_name(a->type), ANS_MAX);
		break;
	default:
		judge(r, V_DEVIATION, "%s could not be exchanged: %s", type_name(a->type), uccid_strerror((int)a->rc));
		break;
	}
	return true;
}

/* A refusal nobody expected: a deviation naming the answer. */
static void refused(struct result *r, const struct answer *a, const char *section)
{
	char what[160];

	status_text(&a->m, what, sizeof(what));
	judge(r, V_DEVIATION, "%s %s (%s)", type_name(a->type), what, section);
}

static bool need_card(struct st *st, struct result *r, bool powered)
{
	if (!st->present) {
		judge(r, V_SKIPPED, "no card in slot %u", st->slot);
		return false;
	}
	if (powered && !st->powered) {
		judge(r, V_SKIPPED, "the card could not be powered");
		return false;
	}
	return true;
}

/* ---- probes ---- */

struct findings {
	char text[DETAIL_MAX];
	unsigned bad, notes;
};

static void on_finding(void *ctx, enum ccid_severity sev, const char *field, size_t offset, const char *text)
{
	struct findings *f = ctx;

	append(f->text, sizeof(f->text), "%s%s %s (offset %zu): %s", f->text[0] ? "; " : "",
	       sev == CCID_SEV_ERROR ? "error" : sev == CCID_SEV_WARNING ? "warning" : "note", field, offset, text);
	if (sev == CCID_SEV_NOTE)
		f->notes++;
	else
		f->bad++;
}

/* CCID §5.1: the class descriptor, as ccid_class_desc_validate judges it. */
static void probe_descriptor(struct st *st)
{
	struct result *r = begin(st, "descriptor", "CCID §5.1");
	struct findings f = { .text = "" };

	ccid_class_desc_validate(&st->d, on_finding, &f, NULL);
	if (f.bad)
		judge(r, V_DEVIATION, "%s", f.text);
	else
		note(r, "%s", f.notes ? f.text : "no findings");
}

/*
 * CCID §5.3.2 / §5.3.3: GET_CLOCK_FREQUENCIES and GET_DATA_RATES return
 * bNum...Supported DWORDs.  With a count of 0 the descriptor's default..max
 * range applies and a STALL is allowed (libccid then asks for up to 256).
 * Every value must lie within the descriptor's default..maximum.
 */
static void probe_rates(struct st *st, const char *probe, uint8_t req, unsigned count, uint32_t lo, uint32_t hi,
			const char *unit, const char *count_name, const char *spec)
{
	struct result *r = begin(st, probe, spec);
	uint8_t buf[4 * 256];
	uint16_t want = (uint16_t)(count ? 4 * count : sizeof(buf));
	int n = uccid_class_request(st->r, 0xA1, req, 0, buf, want);
	unsigned shown = 0;

	if (n == -EPIPE) {
		if (count)
			judge(r, V_DEVIATION, "STALL, although %s declares %u values", count_name, count);
		else
			judge(r, V_UNSUPPORTED, "STALL; allowed as %s is 0 (%u..%u %s applies)", count_name, lo, hi, unit);
		return;
	}
	if (n < 0) {
		if (n == -ENODEV)
			st->gone = true;
		judge(r, V_DEVIATION, "the request failed: %s", uccid_strerror(n));
		return;
	}
	if (n % 4) {
		judge(r, V_DEVIATION, "%d bytes, not a whole number of DWORDs", n);
		return;
	}
	if (count && (unsigned)n != 4 * count)
		judge(r, V_DEVIATION, "%d values, but %s declares %u", n / 4, count_name, count);
	else
		note(r, "%d value%s%s", n / 4, n == 4 ? "" : "s", n ? ":" : "");
	for (int i = 0; i + 4 <= n; i += 4) {
		uint32_t v = get_le32(buf + i);

		if (v < lo || v > hi)
			judge(r, V_DEVIATION, "%u %s is outside the descriptor's %u..%u", v, unit, lo, hi);
		else if (shown++ < 12)
			append(r->detail, sizeof(r->detail), " %u", v);
	}
	if (shown > 12)
		append(r->detail, sizeof(r->detail), " ...");
	if (n && shown)
		append(r->detail, sizeof(r->detail), " %s", unit);
}

static void probe_clocks(struct st *st)
{
	probe_rates(st, "GET_CLOCK_FREQUENCIES", REQ_GET_CLOCK_FREQUENCIES, st->d.bNumClockSupported,
		    st->d.dwDefaultClock, st->d.dwMaximumClock, "kHz", "bNumClockSupported", "CCID §5.3.2, §5.1");
}

static void probe_data_rates(struct st *st)
{
	probe_rates(st, "GET_DATA_RATES", REQ_GET_DATA_RATES, st->d.bNumDataRatesSupported, st->d.dwDataRate,
		    st->d.dwMaxDataRate, "bps", "bNumDataRatesSupported", "CCID §5.3.3, §5.1");
}

/* CCID §6.1.3, §6.2.2: SlotStatus, dwLength 0, bmICCStatus 0..2, bClockStatus 0..3. */
static void probe_slot_status(struct st *st)
{
	struct result *r = begin(st, "GetSlotStatus", "CCID §6.1.3, §6.2.2");
	struct answer a;
	static const char *const icc[] = { "card present and active", "card present, inactive", "no card" };

	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.3");
		return;
	}
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	st->powered = CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ACTIVE;
	note(r, "bmICCStatus %u (%s), bClockStatus %u, bSlot and bSeq %02X echoed", CCID_ICC_STATUS(a.m.rsp.bStatus),
	     icc[CCID_ICC_STATUS(a.m.rsp.bStatus)], a.m.rsp.b9, a.seq);
}

/* IccPowerOff, answered SlotStatus; the card is then inactive or absent (CCID §6.1.2). */
static void power_off(struct st *st, struct result *r, bool report)
{
	struct answer a;

	xchg(st, CCID_PC_TO_RDR_ICC_POWER_OFF, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.2");
		return;
	}
	st->powered = false;
	st->clock_stopped = false;
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ACTIVE)
		judge(r, V_DEVIATION, "bmICCStatus 0 (active) after IccPowerOff (CCID §6.1.2, §6.2.6)");
	else if (report)
		note(r, "SlotStatus, bmICCStatus %u", CCID_ICC_STATUS(a.m.rsp.bStatus));
}

static void probe_power_off(struct st *st)
{
	power_off(st, begin(st, "IccPowerOff", "CCID §6.1.2, §6.2.2"), true);
}

static const char *sel_name(uint8_t sel)
{
	static const char *const names[] = { "automatic voltage", "5 V", "3 V", "1.8 V" };

	return sel < 4 ? names[sel] : "?";
}

/*
 * IccPowerOn (CCID §6.1.1): a DataBlock with the ATR, bmICCStatus 0.  The
 * ATR must parse (ISO 7816-3 §8).  A card that does not answer at a class
 * it does not support (ICC_MUTE, ICC_CLASS_NOT_SUPPORTED) is the card's
 * matter; the reader refusing a voltage it declares is a deviation.
 */
static void power_on(struct st *st, struct result *r, uint8_t sel, bool warm)
{
	struct answer a;
	struct ccid_atr atr;
	struct ccid_diag diag = { 0 };
	char hex[3 * CCID_ATR_MAX + 1];

	xchg(st, CCID_PC_TO_RDR_ICC_POWER_ON, sel, 0, 0, NULL, 0, POWER_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		if (CCID_ICC_STATUS(a.m.rsp.bStatus) == CCID_ICC_ABSENT) {
			st->present = st->powered = false;
			judge(r, V_SKIPPED, "no card (bmICCStatus 2)");
		} else if (!warm && sel != CCID_POWER_AUTO
			   && (a.m.rsp.bError == CCID_ERR_ICC_MUTE || a.m.rsp.bError == CCID_ERR_ICC_CLASS_NOT_SUPPORTED)) {
			note(r, "the card did not answer at %s (%s): the card's class, not the reader's matter",
			     sel_name(sel), ccid_error_name(a.m.rsp.bError));
		} else if (!warm && sel == CCID_POWER_AUTO && a.m.rsp.bError == CCID_OFF_B7
			   && !(st->d.dwFeatures & CCID_FEAT_AUTO_VOLTAGE)) {
			judge(r, V_UNSUPPORTED, "automatic voltage refused (bError 7); dwFeatures does not declare it (0008)");
		} else {
			refused(r, &a, "CCID §6.1.1");
		}
		return;
	}
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ACTIVE)
		judge(r, V_DEVIATION, "bmICCStatus %u after a successful IccPowerOn (CCID §6.2.6: 0, active)",
		      CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (a.m.rsp.b9 != CCID_CHAIN_BEGIN_END)
		judge(r, V_DEVIATION, "bChainParameter %02X: an ATR comes in one DataBlock (CCID §6.2.1)", a.m.rsp.b9);
	if (!a.m.dwLength) {
		judge(r, V_DEVIATION, "no ATR in the DataBlock (CCID §6.1.1)");
		return;
	}
	st->powered = true;
	st->clock_stopped = false;
	st->power_sel = sel;
	hexstr(hex, sizeof(hex), a.m.abData, a.m.dwLength);
	if (ccid_atr_parse(a.m.abData, a.m.dwLength, &atr, &diag) < 0) {
		judge(r, V_DEVIATION, "ATR %s does not parse: expected %s at byte %zu (ISO 7816-3 §8)", hex,
		      diag.expected ? diag.expected : "?", diag.offset);
		return;
	}
	if (warm && st->atr_ok)
		note(r, "ATR %s%s", hex, memcmp(atr.bytes, st->atr.bytes, atr.len) || atr.len != st->atr.len
					 ? " (differs from the cold ATR)" : " (as the cold ATR)");
	else
		note(r, "ATR %s, %s T=%s%s", hex, sel_name(sel),
		     (atr.protocols & 3) == 3 ? "0 and T=1" : atr.protocols & 2 ? "1" : "0",
		     atr.specific_mode ? " (specific mode)" : "");
	st->atr = atr;
	st->atr_ok = true;
	st->have_params = false;
}

static const uint8_t class_bit[] = { 0, CCID_VOLTAGE_5V, CCID_VOLTAGE_3V, CCID_VOLTAGE_1V8 };

static void probe_power_on_sel(struct st *st, uint8_t sel)
{
	char name[40];
	struct result *r;

	snprintf(name, sizeof(name), "IccPowerOn %s", sel == CCID_POWER_AUTO ? "auto" : sel_name(sel));
	r = begin(st, name, "CCID §6.1.1, §6.2.1");
	if (sel != CCID_POWER_AUTO && !(st->d.bVoltageSupport & class_bit[sel])) {
		judge(r, V_SKIPPED, "bVoltageSupport %02X does not declare %s", st->d.bVoltageSupport, sel_name(sel));
		return;
	}
	if (!need_card(st, r, false))
		return;
	/* ISO 7816-3 §6.2.4: never a class the card's ATR excludes */
	if (sel != CCID_POWER_AUTO && st->atr_ok && st->atr.has_clock_class && st->atr.class_indicator
	    && !(st->atr.class_indicator & class_bit[sel])) {
		judge(r, V_SKIPPED, "the card's ATR indicates classes %02X, not %s", st->atr.class_indicator,
		      sel_name(sel));
		return;
	}
	if (st->powered)
		power_off(st, r, false);    /* a cold reset: off, then on */
	if (r->v == V_DEVIATION)
		return;
	power_on(st, r, sel, false);
}

/* auto first (the reader chooses), then the declared voltages lowest first (ISO 7816-3 §6.2.4). */
static void probe_power_on(struct st *st)
{
	static const uint8_t order[] = { CCID_POWER_AUTO, CCID_POWER_1V8, CCID_POWER_3V, CCID_POWER_5V };

	for (size_t i = 0; i < sizeof(order); i++)
		probe_power_on_sel(st, order[i]);
	/* the probes that follow want a powered card: the selection that worked, else auto */
	if (st->present && !st->powered && !st->gone) {
		struct result scratch = { .v = V_OK };

		power_on(st, &scratch, CCID_POWER_AUTO, false);
	}
}

/* IccPowerOn on a powered card is a warm reset (CCID §6.1.1). */
static void probe_warm(struct st *st)
{
	struct result *r = begin(st, "IccPowerOn warm", "CCID §6.1.1, §6.2.1");

	if (!need_card(st, r, true))
		return;
	power_on(st, r, st->power_sel, true);
}

static void params_text(char *out, size_t cap, uint8_t proto, const uint8_t *p, size_t n)
{
	char hex[3 * CCID_T1_PARAMS_LEN + 1];

	hexstr(hex, sizeof(hex), p, n);
	snprintf(out, cap, "T=%u %s", proto, hex);
}

/* The structure the ATR implies (CCID §6.1.7 tables 6.1-5/6.1-6). */
static size_t params_from_atr(const struct ccid_atr *atr, uint8_t proto, uint8_t *p)
{
	memset(p, 0, CCID_T1_PARAMS_LEN);
	p[0] = (uint8_t)(atr->Fi_index << 4 | atr->Di_index);
	p[2] = atr->N;
	if (proto == CCID_PROTOCOL_T1) {
		p[1] = (uint8_t)(0x10 | (atr->edc == CCID_EDC_CRC ? 1 : 0) | (atr->inverse ? 2 : 0));
		p[3] = (uint8_t)((atr->BWI > 9 ? 4 : atr->BWI) << 4 | atr->CWI);
		p[5] = atr->IFSC;
		return CCID_T1_PARAMS_LEN;
	}
	p[1] = atr->inverse ? 0x02 : 0x00;
	p[3] = atr->WI;
	return CCID_T0_PARAMS_LEN;
}

/*
 * A Parameters answer (CCID §6.2.3): a protocol the ATR offers (the TA2
 * protocol in specific mode), its 5- or 7-byte structure (the library's
 * decoder refuses other lengths), Fi/Di either TA1's or the default 11.
 */
static void check_params(struct st *st, struct result *r, const struct answer *a)
{
	uint8_t proto = a->m.rsp.b9, ta1;
	char text[64];

	if (proto > 1) {
		judge(r, V_DEVIATION, "bProtocolNum %02X for an asynchronous card (CCID §6.2.3)", proto);
		return;
	}
	params_text(text, sizeof(text), proto, a->m.abData, a->m.dwLength);
	note(r, "%s", text);
	if (!st->atr_ok)
		return;
	if (!(st->atr.protocols & (1u << proto)))
		judge(r, V_DEVIATION, "T=%u, which the ATR does not offer (ISO 7816-3 §8.2.3)", proto);
	else if (st->atr.specific_mode && proto != st->atr.ta2_protocol)
		judge(r, V_DEVIATION, "T=%u, but the card is in specific mode for T=%u (TA2, ISO 7816-3 §8.3)", proto,
		      st->atr.ta2_protocol);
	ta1 = (uint8_t)(st->atr.Fi_index << 4 | st->atr.Di_index);
	if (a->m.dwLength && a->m.abData[0] != ta1 && a->m.abData[0] != 0x11)
		judge(r, V_DEVIATION, "bmFindexDindex %02X is neither TA1 %02X nor the default 11 (CCID §6.1.7)",
		      a->m.abData[0], ta1);
}

static void remember_params(struct st *st, const struct answer *a)
{
	st->have_params = a->m.rsp.b9 <= 1 && a->m.dwLength <= CCID_T1_PARAMS_LEN;
	if (!st->have_params)
		return;
	st->protocol = a->m.rsp.b9;
	st->params_len = a->m.dwLength;
	memcpy(st->params, a->m.abData, a->m.dwLength);
}

static void probe_get_params(struct st *st)
{
	struct result *r = begin(st, "GetParameters", "CCID §6.1.5, §6.2.3");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.5");
		return;
	}
	check_params(st, r, &a);
	remember_params(st, &a);
	if (st->have_params && st->atr_ok && (st->d.dwFeatures & CCID_FEAT_AUTO_CONF_ATR)) {
		uint8_t p[CCID_T1_PARAMS_LEN];
		size_t n = params_from_atr(&st->atr, st->protocol, p);

		if (n == st->params_len && memcmp(p + 1, st->params + 1, n - 1))
			note(r, "(the ATR implies %02X%02X%02X%02X...)", p[0], p[1], p[2], p[3]);
	}
}

/* The protocol in force: from GetParameters, else the ATR's first offered. */
static uint8_t current_protocol(const struct st *st)
{
	if (st->have_params)
		return st->protocol;
	return st->atr_ok ? (st->atr.specific_mode ? st->atr.ta2_protocol : st->atr.default_protocol) : 0;
}

/*
 * XfrBlock with a harmless command at the reader's level (CCID §6.1.4):
 * TPDU T=1 an S(IFS) request, TPDU T=0 the SELECT MF TPDU, APDU level the
 * SELECT MF APDU.  Any status word will do: the CCID framing is checked
 * (DataBlock, bChainParameter, a response of at least SW1 SW2).
 */
static void probe_xfr(struct st *st)
{
	static const uint8_t select_mf_tpdu[] = { 0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00 };
	static const uint8_t select_mf_apdu[] = { 0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00 };
	struct result *r = begin(st, "XfrBlock", "CCID §6.1.4, §6.2.1");
	enum ccid_exchange_level level = (enum ccid_exchange_level)st->info.exchange_level;
	uint8_t cmd[16], proto = current_protocol(st);
	size_t len;
	struct answer a;
	char hex[40];

	if (!need_card(st, r, true))
		return;
	if (level == CCID_LEVEL_TPDU && proto == CCID_PROTOCOL_T1) {
		uint8_t ifsd = st->d.dwMaxIFSD && st->d.dwMaxIFSD < 254 ? (uint8_t)st->d.dwMaxIFSD : 254;
		int n = ccid_t1_block_encode(0x00, 0xC1, &ifsd, 1, st->atr_ok ? st->atr.edc : CCID_EDC_LRC, cmd,
					     sizeof(cmd));

		len = n > 0 ? (size_t)n : 0;
		note(r, "TPDU T=1 S(IFS request %u)", ifsd);
	} else if (level == CCID_LEVEL_TPDU) {
		memcpy(cmd, select_mf_tpdu, sizeof(select_mf_tpdu));
		len = sizeof(select_mf_tpdu);
		note(r, "TPDU T=0 SELECT MF");
	} else if (level == CCID_LEVEL_SHORT_APDU || level == CCID_LEVEL_EXTENDED_APDU) {
		memcpy(cmd, select_mf_apdu, sizeof(select_mf_apdu));
		len = sizeof(select_mf_apdu);
		note(r, "APDU SELECT MF");
	} else {
		judge(r, V_SKIPPED, "character level");
		return;
	}
	xchg(st, CCID_PC_TO_RDR_XFR_BLOCK, 0, 0, 0, cmd, len, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.4");
		return;
	}
	hexstr(hex, sizeof(hex), a.m.abData, a.m.dwLength < 16 ? a.m.dwLength : 16);
	if (level == CCID_LEVEL_EXTENDED_APDU ? a.m.rsp.b9 != CCID_CHAIN_BEGIN_END && a.m.rsp.b9 != CCID_CHAIN_BEGIN
					      : a.m.rsp.b9 != CCID_CHAIN_BEGIN_END)
		judge(r, V_DEVIATION, "bChainParameter %02X in the first DataBlock (CCID §6.2.1)", a.m.rsp.b9);
	if (level == CCID_LEVEL_TPDU && proto == CCID_PROTOCOL_T1) {
		struct ccid_t1_block blk;

		if (ccid_t1_block_decode(a.m.abData, a.m.dwLength, st->atr.edc, &blk, NULL) == 0)
			note(r, "answer %s: a T=1 %s block", hex,
			     blk.type == CCID_T1_BLOCK_S && blk.s_type == CCID_T1_S_IFS && blk.s_response ? "S(IFS response)"
			     : blk.type == CCID_T1_BLOCK_I ? "I" : blk.type == CCID_T1_BLOCK_R ? "R" : "S");
		else
			judge(r, V_DEVIATION, "answer %s is not one T=1 block (the whole block is passed at TPDU level, "
			      "CCID §6.1.4)", hex);
		return;
	}
	if (a.m.dwLength < 2) {
		judge(r, V_DEVIATION, "a %u-byte response: no SW1 SW2 (CCID §6.2.1)", a.m.dwLength);
		return;
	}
	note(r, "SW %02X%02X", a.m.abData[a.m.dwLength - 2], a.m.abData[a.m.dwLength - 1]);
	/* an extended-APDU reader chaining the response: fetch the rest, bounded */
	for (int i = 0; i < 64 && level == CCID_LEVEL_EXTENDED_APDU
			&& (a.m.rsp.b9 == CCID_CHAIN_BEGIN || a.m.rsp.b9 == CCID_CHAIN_CONTINUE); i++) {
		xchg(st, CCID_PC_TO_RDR_XFR_BLOCK, 0, CCID_CHAIN_EMPTY_NEXT, 0, NULL, 0, CMD_MS, &a);
		if (answer_problem(st, &a, r) || failed(&a))
			break;
	}
}

/* SetParameters with the structure in force (or the ATR's): answered with it (CCID §6.1.7, §6.2.3). */
static void probe_set_params(struct st *st)
{
	struct result *r = begin(st, "SetParameters", "CCID §6.1.7, §6.2.3");
	uint8_t proto = current_protocol(st), p[CCID_T1_PARAMS_LEN];
	size_t n;
	struct answer a;
	struct ccid_msg m;
	uint8_t scratch[CCID_HEADER_SIZE + CCID_T1_PARAMS_LEN];
	char text[64];

	if (!need_card(st, r, true))
		return;
	if (st->have_params) {
		memcpy(p, st->params, st->params_len);
		n = st->params_len;
	} else {
		n = params_from_atr(&st->atr, proto, p);
	}
	m = (struct ccid_msg){ .bMessageType = CCID_PC_TO_RDR_SET_PARAMETERS, .dwLength = (uint32_t)n, .abData = p,
			       .set_params.bProtocolNum = proto };
	if (ccid_msg_encode(&m, scratch, sizeof(scratch)) < 0 && st->atr_ok) {
		/* what GetParameters returned is not a valid structure itself: use the ATR's */
		note(r, "the structure in force is not valid to send back; using the ATR's");
		n = params_from_atr(&st->atr, proto, p);
	}
	params_text(text, sizeof(text), proto, p, n);
	note(r, "set %s", text);
	xchg(st, CCID_PC_TO_RDR_SET_PARAMETERS, proto, 0, 0, p, n, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED%s", st->d.dwFeatures & CCID_FEAT_AUTO_PPS_PROP
			      ? " (dwFeatures 0040: the reader negotiates by itself)" : "");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.7: a valid structure for the card's protocol");
		return;
	}
	if (a.m.rsp.b9 != proto || a.m.dwLength != n || memcmp(a.m.abData, p, n)) {
		params_text(text, sizeof(text), a.m.rsp.b9, a.m.abData, a.m.dwLength);
		judge(r, V_DEVIATION, "answered with %s, not the structure set (CCID §6.2.3: the parameters in force; "
		      "a value it cannot apply is refused with its offset, §6.2.6)", text);
		return;
	}
	note(r, "echoed");
	remember_params(st, &a);
}

/*
 * SetParameters with one bad field must fail with bError = that field's
 * offset (CCID §6.2.6): bIFSC 00 (offset 15) for T=1, bClockStop 04
 * (offset 14) for T=0; and leave the parameters as they were.
 */
static void probe_set_params_bad(struct st *st)
{
	struct result *r = begin(st, "SetParameters invalid", "CCID §6.1.7, §6.2.6");
	uint8_t proto = current_protocol(st), p[CCID_T1_PARAMS_LEN], bad_off;
	size_t n;
	struct answer a;
	char before[64], after[64];

	if (!need_card(st, r, true))
		return;
	if (st->have_params) {
		memcpy(p, st->params, st->params_len);
		n = st->params_len;
	} else {
		n = params_from_atr(&st->atr, proto, p);
	}
	if (proto == CCID_PROTOCOL_T1) {
		p[5] = 0x00;
		bad_off = CCID_OFF_DATA + 5;
		note(r, "T=1 with bIFSC 00");
	} else {
		p[4] = 0x04;
		bad_off = CCID_OFF_DATA + 4;
		note(r, "T=0 with bClockStop 04");
	}
	xchg_hand(st, CCID_PC_TO_RDR_SET_PARAMETERS, (uint32_t)n, proto, 0, 0, p, n, &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with bError %u, the field's offset", bad_off);
	else if (a.m.rsp.bError != bad_off)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError %u, the field's offset",
		      ccid_error_name(a.m.rsp.bError), a.m.rsp.bError, bad_off);
	else
		note(r, "refused with bError %u", bad_off);
	/* the parameters in force are unchanged */
	if (!st->have_params)
		return;
	xchg(st, CCID_PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	if (a.m.rsp.b9 != st->protocol || a.m.dwLength != st->params_len || memcmp(a.m.abData, st->params, st->params_len)) {
		params_text(before, sizeof(before), st->protocol, st->params, st->params_len);
		params_text(after, sizeof(after), a.m.rsp.b9, a.m.abData, a.m.dwLength);
		judge(r, V_DEVIATION, "the parameters changed from %s to %s", before, after);
		remember_params(st, &a);
	} else {
		note(r, "parameters unchanged");
	}
}

/* ResetParameters: the reader's defaults, a Parameters answer (CCID §6.1.6). */
static void probe_reset_params(struct st *st)
{
	struct result *r = begin(st, "ResetParameters", "CCID §6.1.6, §6.2.3");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_RESET_PARAMETERS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.6");
		return;
	}
	check_params(st, r, &a);
	remember_params(st, &a);
}

/*
 * IccClock stop, then restart (CCID §6.1.9): SlotStatus with bClockStatus
 * 1..3 (stopped) then 0 (running), and GetSlotStatus agrees (§6.2.2).
 * Refusing a stop is allowed when dwFeatures does not declare 0100.
 */
static void clock_status_after(struct st *st, struct result *r, bool stopped)
{
	struct answer a;

	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	if (stopped ? a.m.rsp.b9 == 0 : a.m.rsp.b9 != 0)
		judge(r, V_DEVIATION, "GetSlotStatus then reports bClockStatus %u (CCID §6.2.2)", a.m.rsp.b9);
}

static void probe_clock_stop(struct st *st)
{
	struct result *r = begin(st, "IccClock stop", "CCID §6.1.9, §6.2.2");
	bool declared = st->d.dwFeatures & CCID_FEAT_CLOCK_STOP;
	struct answer a;

	if (!need_card(st, r, true))
		return;
	xchg(st, CCID_PC_TO_RDR_ICC_CLOCK, CCID_CLOCK_STOP, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		char what[160];

		status_text(&a.m, what, sizeof(what));
		if (declared)
			judge(r, V_DEVIATION, "%s although dwFeatures declares clock stop (0100)", what);
		else
			judge(r, V_UNSUPPORTED, "%s; dwFeatures does not declare clock stop (0100)", what);
		return;
	}
	st->clock_stopped = true;
	if (a.m.rsp.b9 == 0)
		judge(r, V_DEVIATION, "bClockStatus 00 (running) after a stop");
	else
		note(r, "bClockStatus %u", a.m.rsp.b9);
	if (!declared)
		note(r, "stopped although dwFeatures does not declare clock stop (0100)");
	clock_status_after(st, r, true);
}

static void probe_clock_restart(struct st *st)
{
	struct result *r = begin(st, "IccClock restart", "CCID §6.1.9, §6.2.2");
	struct answer a;

	if (!need_card(st, r, true))
		return;
	if (!st->clock_stopped) {
		judge(r, V_SKIPPED, "the clock was not stopped");
		return;
	}
	xchg(st, CCID_PC_TO_RDR_ICC_CLOCK, CCID_CLOCK_RESTART, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.9");
		return;
	}
	st->clock_stopped = false;
	if (a.m.rsp.b9 != 0)
		judge(r, V_DEVIATION, "bClockStatus %u after a restart (00: running)", a.m.rsp.b9);
	else
		note(r, "bClockStatus 0");
	clock_status_after(st, r, false);
}

/*
 * SetDataRateAndClockFrequency with the descriptor's defaults, which are
 * always valid (CCID §5.1): the answer carries the values applied (§6.2.5).
 */
static void probe_set_rate(struct st *st)
{
	struct result *r = begin(st, "SetDataRateAndClockFrequency", "CCID §6.1.14, §6.2.5");
	uint8_t data[8];
	struct answer a;

	if (!need_card(st, r, true))
		return;
	put_le32(data, st->d.dwDefaultClock);
	put_le32(data + 4, st->d.dwDataRate);
	xchg(st, CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY, 0, 0, 0, data, sizeof(data), CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED)) {
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		return;
	}
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.14: the descriptor's default clock and rate");
		return;
	}
	if (get_le32(a.m.abData) != st->d.dwDefaultClock || get_le32(a.m.abData + 4) != st->d.dwDataRate)
		judge(r, V_DEVIATION, "asked for the defaults %u kHz, %u bps; the answer says %u kHz, %u bps",
		      st->d.dwDefaultClock, st->d.dwDataRate, get_le32(a.m.abData), get_le32(a.m.abData + 4));
	else
		note(r, "applies %u kHz, %u bps", st->d.dwDefaultClock, st->d.dwDataRate);
}

/* Escape: any RDR_to_PC_Escape (vendor data or a vendor refusal), or CMD_NOT_SUPPORTED (CCID §6.1.8). */
static void probe_escape(struct st *st)
{
	struct result *r = begin(st, "Escape", "CCID §6.1.8, §6.2.4");
	struct answer a;

	/* no vendor data: nothing a vendor could act on */
	xchg(st, CCID_PC_TO_RDR_ESCAPE, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
	else if (failed(&a))
		note(r, "RDR_to_PC_Escape, refused with %s (bError %02X): a vendor matter", ccid_error_name(a.m.rsp.bError),
		     a.m.rsp.bError);
	else
		note(r, "RDR_to_PC_Escape with %u bytes of vendor data", a.m.dwLength);
}

/* T0APDU (CCID §6.1.10) is for APDU-level readers; the others refuse it. */
static void probe_t0apdu(struct st *st)
{
	struct result *r = begin(st, "T0APDU", "CCID §6.1.10");
	enum ccid_exchange_level level = (enum ccid_exchange_level)st->info.exchange_level;
	bool apdu = level == CCID_LEVEL_SHORT_APDU || level == CCID_LEVEL_EXTENDED_APDU;
	struct answer a;

	/* bmChanges 0: nothing changes */
	xchg(st, CCID_PC_TO_RDR_T0APDU, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (apdu) {
		if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
			judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED");
		else if (failed(&a))
			refused(r, &a, "CCID §6.1.10: bmChanges 00");
		else
			note(r, "accepted (bmChanges 00) at %s level", ccid_exchange_level_name(level));
		return;
	}
	if (failed(&a))
		note(r, "refused at %s level with %s, as it must be", ccid_exchange_level_name(level),
		     ccid_error_name(a.m.rsp.bError));
	else
		judge(r, V_DEVIATION, "accepted at %s level; T0APDU is for APDU-level readers", ccid_exchange_level_name(level));
}

/* Secure (CCID §6.1.11): without bPINSupport, CMD_NOT_SUPPORTED; with a PIN pad it needs a person. */
static void probe_secure(struct st *st)
{
	struct result *r = begin(st, "Secure", "CCID §6.1.11");
	static const uint8_t cancel[] = { 0x04 };   /* bPINOperation 04: cancel PIN function, harmless */
	struct answer a;

	if (st->d.bPINSupport) {
		judge(r, V_SKIPPED, "bPINSupport %02X declares a PIN pad; PIN entry needs a person at it",
		      st->d.bPINSupport);
		return;
	}
	xchg(st, CCID_PC_TO_RDR_SECURE, 0, 0, 0, cancel, sizeof(cancel), CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
		judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED, as bPINSupport is 00");
	else if (failed(&a))
		refused(r, &a, "CCID §6.2.6: a command the reader lacks is CMD_NOT_SUPPORTED");
	else
		judge(r, V_DEVIATION, "accepted although bPINSupport is 00 (CCID §5.1)");
}

/*
 * Abort (CCID §5.3.1, §6.1.13): the ABORT class request with bSlot and the
 * bSeq of the PC_to_RDR_Abort that follows; answered SlotStatus, and the
 * slot works afterwards.
 */
static void probe_abort(struct st *st)
{
	struct result *r = begin(st, "Abort", "CCID §5.3.1, §6.1.13");
	struct answer a;
	int control_rc;

	pthread_mutex_lock(&st->shim->lock);
	st->shim->abort_control = true;
	pthread_mutex_unlock(&st->shim->lock);
	xchg(st, CCID_PC_TO_RDR_ABORT, 0, 0, 0, NULL, 0, CMD_MS, &a);
	pthread_mutex_lock(&st->shim->lock);
	st->shim->abort_control = false;
	control_rc = st->shim->abort_rc;
	pthread_mutex_unlock(&st->shim->lock);
	if (control_rc == -EPIPE)
		judge(r, V_DEVIATION, "the ABORT class request stalled (CCID §5.3.1: the host aborts with it and then "
		      "PC_to_RDR_Abort)");
	else if (control_rc < 0)
		judge(r, V_DEVIATION, "the ABORT class request failed: %s", uccid_strerror(control_rc));
	else
		note(r, "ABORT request (bSeq %02X) accepted", a.seq);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.13");
		return;
	}
	note(r, "PC_to_RDR_Abort answered SlotStatus");
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a))
		judge(r, V_DEVIATION, "the slot still refuses commands after the Abort (%s)", ccid_error_name(a.m.rsp.bError));
	else
		note(r, "the slot works afterwards");
}

/* CCID §6.2.6: a command with dwLength wrong for its type fails with bError 1. */
static void probe_err_length(struct st *st)
{
	struct result *r = begin(st, "error: dwLength", "CCID §6.1.2, §6.2.6");
	static const uint8_t extra[] = { 0x00 };
	struct answer a;

	note(r, "IccPowerOff with dwLength 1");
	xchg_hand(st, CCID_PC_TO_RDR_ICC_POWER_OFF, 1, 0, 0, 0, extra, sizeof(extra), &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a)) {
		st->powered = false;
		judge(r, V_DEVIATION, "accepted; it must fail with bError 1 (dwLength)");
	} else if (a.m.rsp.bError != CCID_OFF_LENGTH) {
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 1 (dwLength)",
		      ccid_error_name(a.m.rsp.bError), a.m.rsp.bError);
	} else {
		note(r, "refused with bError 1");
	}
}

/*
 * CCID §6.2.6: a command to a slot beyond bMaxSlotIndex fails with
 * bError 5 (bSlot) and bmICCStatus 2, bSlot echoed.  The shim puts the
 * slot on the wire and hands the answer back to our slot.
 */
static void probe_err_slot(struct st *st)
{
	struct result *r = begin(st, "error: bSlot", "CCID §6.2.6");
	unsigned bad = st->info.nslots;
	struct answer a;
	bool answered, echoed;

	if (bad > 255) {
		judge(r, V_SKIPPED, "bMaxSlotIndex is FF: every slot number exists");
		return;
	}
	note(r, "GetSlotStatus to slot %u", bad);
	pthread_mutex_lock(&st->shim->lock);
	st->shim->retarget = (int)bad;
	pthread_mutex_unlock(&st->shim->lock);
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	pthread_mutex_lock(&st->shim->lock);
	st->shim->retarget = -1;
	answered = st->shim->retarget_answered;
	echoed = st->shim->retarget_echoed;
	pthread_mutex_unlock(&st->shim->lock);
	if (answered && !echoed)
		judge(r, V_DEVIATION, "answered with bSlot %u, not the slot addressed (CCID §6.2)", st->slot);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a)) {
		judge(r, V_DEVIATION, "accepted; it must fail with bError 5 (bSlot)");
		return;
	}
	if (a.m.rsp.bError != CCID_OFF_SLOT)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 5 (bSlot)", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	if (CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT)
		judge(r, V_DEVIATION, "bmICCStatus %u, not 2 (no ICC)", CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (r->v == V_OK)
		note(r, "refused with bError 5, bmICCStatus 2");
}

/* CCID §6.2.6: an RFU byte set fails with bError = its offset. */
static void probe_err_rfu(struct st *st)
{
	struct result *r = begin(st, "error: RFU byte", "CCID §6.1.3, §6.2.6");
	struct answer a;

	note(r, "GetSlotStatus with RFU byte 8 = 01");
	xchg_hand(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0x01, 0, NULL, 0, &a);
	if (answer_problem(st, &a, r))
		return;
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with bError 8, the RFU byte's offset");
	else if (a.m.rsp.bError != CCID_OFF_B8)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not bError 8", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	else
		note(r, "refused with bError 8");
}

/* CCID §6.1, §6.2.6: an unknown message type gets CMD_NOT_SUPPORTED in a SlotStatus. */
static void probe_err_type(struct st *st)
{
	struct result *r = begin(st, "error: message type", "CCID §6.1, §6.2.6");
	struct answer a;

	note(r, "message type 64");
	xchg_hand(st, 0x64, 0, 0, 0, 0, NULL, 0, &a);
	if (answer_problem(st, &a, r))
		return;
	if (a.m.bMessageType != CCID_RDR_TO_PC_SLOT_STATUS)
		judge(r, V_DEVIATION, "answered with %s, not RDR_to_PC_SlotStatus", type_name(a.m.bMessageType));
	if (!failed(&a))
		judge(r, V_DEVIATION, "accepted; it must fail with CMD_NOT_SUPPORTED");
	else if (a.m.rsp.bError != CCID_ERR_CMD_NOT_SUPPORTED)
		judge(r, V_DEVIATION, "refused with %s (bError %02X), not CMD_NOT_SUPPORTED", ccid_error_name(a.m.rsp.bError),
		      a.m.rsp.bError);
	if (r->v == V_OK)
		note(r, "SlotStatus, CMD_NOT_SUPPORTED");
}

static void mechanical(struct st *st, const char *probe, uint8_t fn, uint32_t needs)
{
	struct result *r = begin(st, probe, "CCID §6.1.12");
	struct answer a;

	if (!(st->d.dwMechanical & needs)) {
		judge(r, V_SKIPPED, "dwMechanical %08X does not declare it", st->d.dwMechanical);
		return;
	}
	if (fn == CCID_MECH_EJECT && !st->present) {
		judge(r, V_SKIPPED, "no card to eject");
		return;
	}
	xchg(st, CCID_PC_TO_RDR_MECHANICAL, fn, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r))
		return;
	if (failed(&a)) {
		refused(r, &a, "CCID §6.1.12: a function dwMechanical declares");
		return;
	}
	note(r, "SlotStatus, bmICCStatus %u", CCID_ICC_STATUS(a.m.rsp.bStatus));
	if (fn != CCID_MECH_EJECT)
		return;
	st->powered = false;
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, &a);
	if (answer_problem(st, &a, r) || failed(&a))
		return;
	st->present = CCID_ICC_STATUS(a.m.rsp.bStatus) != CCID_ICC_ABSENT;
	note(r, st->present ? "the card is still detected (bmICCStatus %u)" : "the slot is empty (bmICCStatus %u)",
	     CCID_ICC_STATUS(a.m.rsp.bStatus));
}

/*
 * Mechanical (CCID §6.1.12): without dwMechanical, CMD_NOT_SUPPORTED is
 * expected (sent: unlock, harmless if a mechanism exists after all).  With
 * one, nothing moves unless --mechanical: then lock, unlock, eject.
 * Capture is never sent (the card would be kept).
 */
static void probe_mechanical(struct st *st)
{
	struct answer a;
	struct result *r;

	if (!st->d.dwMechanical) {
		r = begin(st, "Mechanical", "CCID §6.1.12");
		xchg(st, CCID_PC_TO_RDR_MECHANICAL, CCID_MECH_UNLOCK, 0, 0, NULL, 0, CMD_MS, &a);
		if (answer_problem(st, &a, r))
			return;
		if (failed_with(&a, CCID_ERR_CMD_NOT_SUPPORTED))
			judge(r, V_UNSUPPORTED, "CMD_NOT_SUPPORTED, as dwMechanical is 0");
		else if (failed(&a))
			refused(r, &a, "CCID §6.2.6: a command the reader lacks is CMD_NOT_SUPPORTED");
		else
			judge(r, V_DEVIATION, "unlock accepted although dwMechanical is 0 (CCID §5.1)");
		return;
	}
	if (!st->mechanical) {
		r = begin(st, "Mechanical", "CCID §6.1.12");
		judge(r, V_SKIPPED, "dwMechanical %08X declares a mechanism; --mechanical locks, unlocks and ejects "
		      "the card", st->d.dwMechanical);
		return;
	}
	mechanical(st, "Mechanical lock", CCID_MECH_LOCK, CCID_MECHANICAL_LOCK);
	mechanical(st, "Mechanical unlock", CCID_MECH_UNLOCK, CCID_MECHANICAL_LOCK);
	mechanical(st, "Mechanical eject", CCID_MECH_EJECT, CCID_MECHANICAL_EJECT);
}

/* CCID §6.2: every answer echoes bSlot and bSeq, over the whole run. */
static void probe_echo(struct st *st)
{
	struct result *r = begin(st, "bSeq/bSlot echo", "CCID §6.2");

	if (st->echo_bad)
		judge(r, V_DEVIATION, "%u of %u answers did not belong to the command in progress", st->echo_bad,
		      st->answers);
	else
		note(r, "all %u answers echoed bSlot and bSeq", st->answers);
}

struct step {
	const char *name;
	void (*run)(struct st *st);
};

static const struct step steps[] = {
	{ "descriptor", probe_descriptor },
	{ "GET_CLOCK_FREQUENCIES", probe_clocks },
	{ "GET_DATA_RATES", probe_data_rates },
	{ "GetSlotStatus", probe_slot_status },
	{ "IccPowerOff", probe_power_off },
	{ "IccPowerOn", probe_power_on },
	{ "GetParameters", probe_get_params },
	{ "XfrBlock", probe_xfr },
	{ "SetParameters", probe_set_params },
	{ "SetParameters invalid", probe_set_params_bad },
	{ "ResetParameters", probe_reset_params },
	{ "IccClock stop", probe_clock_stop },
	{ "IccClock restart", probe_clock_restart },
	{ "SetDataRateAndClockFrequency", probe_set_rate },
	{ "IccPowerOn warm", probe_warm },
	{ "Escape", probe_escape },
	{ "T0APDU", probe_t0apdu },
	{ "Secure", probe_secure },
	{ "Abort", probe_abort },
	{ "error: dwLength", probe_err_length },
	{ "error: bSlot", probe_err_slot },
	{ "error: RFU byte", probe_err_rfu },
	{ "error: message type", probe_err_type },
	{ "Mechanical", probe_mechanical },
	{ "bSeq/bSlot echo", probe_echo },
};

/* ---- output ---- */

static void print_json(const struct st *st, const unsigned count[4])
{
	printf("{\"reader\":");
	json_string(stdout, st->name);
	printf(",\"slot\":%u,\"level\":", st->slot);
	json_string(stdout, ccid_exchange_level_name((enum ccid_exchange_level)st->info.exchange_level));
	printf(",\"results\":[");
	for (unsigned i = 0; i < st->nres; i++) {
		const struct result *r = &st->res[i];

		printf("%s{\"probe\":", i ? "," : "");
		json_string(stdout, r->probe);
		printf(",\"verdict\":\"%s\",\"detail\":", verdict_names[r->v]);
		json_string(stdout, r->detail);
		printf(",\"spec\":");
		json_string(stdout, r->spec);
		printf("}");
	}
	printf("],\"summary\":{\"ok\":%u,\"deviation\":%u,\"unsupported\":%u,\"skipped\":%u}}\n", count[V_OK],
	       count[V_DEVIATION], count[V_UNSUPPORTED], count[V_SKIPPED]);
}

static void print_text(const struct st *st, const unsigned count[4])
{
	printf("selftest of %s slot %u (%04x:%04x, %s level, %u slot%s)\n\n", st->name, st->slot, st->info.idVendor,
	       st->info.idProduct, ccid_exchange_level_name((enum ccid_exchange_level)st->info.exchange_level),
	       st->info.nslots, st->info.nslots == 1 ? "" : "s");
	printf("%-29s %-11s %s\n", "PROBE", "VERDICT", "DETAIL [SPEC]");
	for (unsigned i = 0; i < st->nres; i++) {
		const struct result *r = &st->res[i];

		printf("%-29s %-11s %s [%s]\n", r->probe, verdict_names[r->v], r->detail, r->spec);
	}
	printf("\n%u probes: %u ok, %u deviation%s, %u unsupported, %u skipped\n", st->nres, count[V_OK],
	       count[V_DEVIATION], count[V_DEVIATION] == 1 ? "" : "s", count[V_UNSUPPORTED], count[V_SKIPPED]);
}

/* ---- opening ---- */

static void tool_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "uccid: %s%s\n", level == UCCID_LOG_ERROR ? "error: " : level == UCCID_LOG_WARNING ? "warning: " : "",
		msg);
}

/* The shim around the transport uccid_open() opened (uccid_wrap_fn). */
static struct uccid_transport *wrap_shim(void *ctx, struct uccid_transport *inner)
{
	struct st *st = ctx;

	st->shim = calloc(1, sizeof(*st->shim));
	if (!st->shim)
		return NULL;
	st->shim->t.ops = &shim_ops;
	st->shim->t.info = inner->info;
	st->shim->inner = inner;
	st->shim->retarget = -1;
	pthread_mutex_init(&st->shim->lock, NULL);
	return &st->shim->t;
}

/* uccid_open(), with our recording shim between the reader code and the transport. */
static int open_reader(struct st *st, const struct tool_opts *o)
{
	struct uccid_options opts = { .exchange_deadline_ms = 10000, .power_deadline_ms = 15000,
				      .log = o->verbose ? tool_log : NULL, .log_level = UCCID_LOG_DEBUG,
				      .open_wait_ms = o->wait_ms, .program = "uccid" };
	char err[512] = "";
	int rc;

	tool_trace_setup(o, &opts);    /* --trace / --pcap: the frames as the library sees them */
	rc = uccid_open_wrapped(st->name, &opts, wrap_shim, st, &st->r, err, sizeof(err));
	if (rc < 0) {
		st->shim = NULL;       /* closed with the session, or never made */
		tool_err("%s", err[0] ? err : uccid_strerror(rc));
		return rc;
	}
	tool_trace_opened(o, st->r);
	return 0;
}

int cmd_selftest(const struct tool_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "mechanical", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "uccid [-r NAME] selftest [--slot N] [--json] [--mechanical]";
	struct tool_opts o = *opts;
	struct st *st = calloc(1, sizeof(*st));
	uint8_t raw[CCID_CLASS_DESC_LEN];
	char name[128];
	unsigned count[4] = { 0 };
	int c, rc;

	if (!st)
		return EXIT_FAILED;
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &st->slot) < 0) {
				free(st);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			o.json = true;
			break;
		case 'm':
			st->mechanical = true;
			break;
		case 'h':
			printf("usage: %s\n", usage);
			free(st);
			return EXIT_OK;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			free(st);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		tool_err("unexpected argument '%s'", argv[optind]);
		free(st);
		return EXIT_USAGE;
	}
	st->name = o.reader;
	if (!st->name) {
		if (tool_default_reader(name, sizeof(name)) < 0) {
			free(st);
			return EXIT_FAILED;
		}
		st->name = name;
	}
	if ((rc = open_reader(st, &o)) < 0) {
		free(st);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
	}
	uccid_info(st->r, &st->info);
	if (st->slot >= st->info.nslots) {
		tool_err("selftest: slot %u does not exist (the reader has %u)", st->slot, st->info.nslots);
		uccid_close(st->r);
		free(st);
		return EXIT_USAGE;
	}
	uccid_class_descriptor(st->r, raw);
	ccid_class_desc_parse(raw, sizeof(raw), &st->d, NULL);
	st->tty = isatty(STDERR_FILENO);
	st->present = true;    /* until a SlotStatus says otherwise */

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (st->gone)
			break;
		progress(st, (unsigned)i + 1, (unsigned)(sizeof(steps) / sizeof(steps[0])), steps[i].name);
		steps[i].run(st);
	}
	if (st->gone) {
		struct result *r = begin(st, "reader", "CCID §6");

		judge(r, V_DEVIATION, "the reader went away; the probes after this were not run");
	} else if (st->present) {
		/* leave the card powered off (CCID §6.1.2), whatever the probes did */
		struct result scratch = { .v = V_OK };

		power_off(st, &scratch, false);
	}
	if (st->tty)
		fprintf(stderr, "\r\033[K");
	for (unsigned i = 0; i < st->nres; i++)
		count[st->res[i].v]++;
	if (o.json)
		print_json(st, count);
	else
		print_text(st, count);
	fflush(stdout);
	uccid_close(st->r);
	rc = count[V_DEVIATION] ? EXIT_FAILED : EXIT_OK;
	free(st);
	return rc;
}
