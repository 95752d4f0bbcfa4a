/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run of uccid selftest under the probes: one command out raw through
 * uccid_ccid_command() (well-formed ones built with ccid_msg_encode,
 * malformed ones by hand), its answer decoded, and everything else the shim
 * saw on the wire meanwhile checked against CCID §6.2 (bSlot and bSeq
 * echoed, one final answer per command); then the results, whose verdict
 * only moves towards the worse, and the checks every probe makes of an
 * answer before its own.  Every wait is bounded by the command's timeout.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccid/bytes.h"
#include "tool/selftest/selftest.h"
#include "util/clock.h"

static void __attribute__((format(printf, 3, 0))) appendv(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t n = strlen(buf);

	if (n + 1 < cap)
		vsnprintf(buf + n, cap - n, fmt, ap);
}

void append(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	appendv(buf, cap, fmt, ap);
	va_end(ap);
}

struct result *begin(struct st *st, const char *probe, const char *spec)
{
	static struct result overflow;
	struct result *r = st->nres < RESULTS_MAX ? &st->res[st->nres++] : &overflow;

	memset(r, 0, sizeof(*r));
	snprintf(r->probe, sizeof(r->probe), "%s", probe);
	snprintf(r->spec, sizeof(r->spec), "%s", spec);
	r->v = V_OK;
	return r;
}

void note(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->detail[0])
		append(r->detail, sizeof(r->detail), "; ");
	va_start(ap, fmt);
	appendv(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

void judge(struct result *r, enum verdict v, const char *fmt, ...)
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

const char *type_name(uint8_t t)
{
	const char *n = ccid_msg_type_name(t);

	return n ? n : "an unknown message";
}

void status_text(const struct ccid_msg *m, char *out, size_t cap)
{
	uint8_t icc = CCID_ICC_STATUS(m->rsp.bStatus);

	if (CCID_CMD_STATUS(m->rsp.bStatus) == CCID_CMD_FAILED)
		snprintf(out, cap, "failed with %s (bError %02X), bmICCStatus %u", ccid_error_name(m->rsp.bError),
			 m->rsp.bError, icc);
	else
		snprintf(out, cap, "processed, bmICCStatus %u", icc);
}

bool failed(const struct answer *a)
{
	return a->rc >= 0 && CCID_CMD_STATUS(a->m.rsp.bStatus) == CCID_CMD_FAILED;
}

bool failed_with(const struct answer *a, uint8_t err)
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
	const struct wire_log *s = &st->wire;
	unsigned finals[WIRE_MAX] = { 0 };

	a->wire[0] = 0;
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
}

/* Send msg (bSlot and bSeq are the library's) and collect the answer and the wire record. */
static void xchg_raw(struct st *st, const uint8_t *msg, size_t len, unsigned ms, struct answer *a)
{
	int64_t t0;

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
	t0 = uccid_mono_ns();
	a->rc = uccid_ccid_command(st->r, st->slot, msg, len, a->buf, sizeof(a->buf), ms);
	a->elapsed_ms = (unsigned)((uccid_mono_ns() - t0) / 1000000);
	shim_read(st->shim, &st->wire);
	for (unsigned i = 0; i < st->wire.nrec; i++)
		if (st->wire.rec[i].out) {
			a->seq = st->wire.rec[i].hdr[CCID_OFF_SEQ];
			a->slot = st->wire.rec[i].hdr[CCID_OFF_SLOT];
			break;
		}
	if (a->rc >= 0) {
		a->len = (size_t)a->rc;
		if (ccid_msg_decode(a->buf, a->len, &a->m, NULL) < 0)
			a->rc = -EPROTO;        /* cannot happen: the library decoded it */
	}
	check_wire(st, a);
	if (a->rc == -ENODEV || a->rc == -ECANCELED)
		st->gone = true;
}

void xchg(struct st *st, uint8_t type, uint8_t b7, uint8_t b8, uint8_t b9, const uint8_t *data, size_t len,
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

void xchg_hand(struct st *st, uint8_t type, uint32_t dwLength, uint8_t b7, uint8_t b8, uint8_t b9,
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

void xchg_abort(struct st *st, struct answer *a, int *ret_control_rc)
{
	shim_arm_abort(st->shim);
	xchg(st, CCID_PC_TO_RDR_ABORT, 0, 0, 0, NULL, 0, CMD_MS, a);
	shim_disarm(st->shim);
	*ret_control_rc = st->wire.abort_rc;
}

void xchg_to_slot(struct st *st, uint8_t slot, struct answer *a, bool *ret_answered, bool *ret_echoed)
{
	shim_arm_retarget(st->shim, slot);
	xchg(st, CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, NULL, 0, CMD_MS, a);
	shim_disarm(st->shim);
	*ret_answered = st->wire.retarget_answered;
	*ret_echoed = st->wire.retarget_echoed;
}

/*
 * What every probe checks first: was there an answer of the right type
 * (CCID §6.1 table 6.1-1) that is not CMD_SLOT_BUSY on an idle slot
 * (§6.2.6: busy means a command is already in progress there; this tool
 * never has two outstanding)?  Anything else on the wire that belongs to no
 * command is a bSeq/bSlot deviation (§6.2).
 */
bool answer_problem(struct st *st, const struct answer *a, struct result *r)
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
		const struct wire_log *s = &st->wire;

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

void refused(struct result *r, const struct answer *a, const char *section)
{
	char what[160];

	status_text(&a->m, what, sizeof(what));
	judge(r, V_DEVIATION, "%s %s (%s)", type_name(a->type), what, section);
}

bool need_card(struct st *st, struct result *r, bool powered)
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
