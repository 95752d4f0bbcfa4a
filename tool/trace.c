/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frame tracing for the uccid tool: --trace (on stderr), uccid trace
 * SUBCOMMAND (on stdout) and --pcap FILE.  The library hands every CCID bulk
 * message it sends or receives to struct uccid_options.trace; here each one
 * becomes a line — direction, milliseconds since the trace began, and the
 * codec's own field walk (ccid_msg_describe) condensed to name, slot, seq,
 * the header fields in hex, then the data — with -v the full explanation
 * under it.  --pcap records every transfer, not only the CCID messages, in a
 * transport of its own between the session and the reader's (capture.c).
 * Tracing is opt-in only: APDUs carry PINs and keys.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/ccid.h"
#include "tool/capture.h"
#include "tool/pcap.h"
#include "tool/tool.h"
#include "session/uccid.h"
#include "util/clock.h"

struct tool_trace {
	pthread_mutex_t lock;        /* the library may call from two threads (bulk-OUT, bulk-IN) */
	FILE *out;                   /* text trace, or NULL */
	bool verbose;
	int64_t start_ns;            /* uccid_mono_ns(): the trace's time 0 */
	FILE *json;                  /* uccid --json trace: frame objects, printed after the command's output */
	char *json_buf;
	size_t json_len;
	unsigned json_dropped;
	struct pcap_writer *pcap;
	const char *pcap_path;
	struct tool_capture *capture;        /* what records into pcap */
};

/* ---- the text trace ---- */

struct line {
	FILE *f;
	bool failed;                 /* a response with bmCommandStatus "failed": name the bError */
};

/*
 * One field of ccid_msg_describe on the condensed line: the header fields
 * (offsets 7..9, whatever they mean for this type) in hex; the common ones
 * are already on the line, abData follows in full after '|', flags and the
 * explanations are for -v.
 */
static void line_field(void *ctx, const struct ccid_field *fl)
{
	struct line *l = ctx;

	if (fl->kind != CCID_FIELD_VALUE || fl->offset == CCID_FIELD_NO_OFFSET || fl->offset < CCID_OFF_B7
	    || fl->offset >= CCID_HEADER_SIZE)
		return;
	fprintf(l->f, " %s %0*llX", fl->name, fl->size >= 1 && fl->size <= 4 ? (int)fl->size * 2 : 1,
		(unsigned long long)fl->value);
	if (l->failed && !strcmp(fl->name, "bError"))
		fprintf(l->f, " (%s)", ccid_error_name((uint8_t)fl->value));
}

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %02X", b[i]);
}

void tool_trace_print(FILE *f, bool verbose, bool out, const uint8_t *msg, size_t len, double ms)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	struct line l = { .f = f };
	int rc = ccid_msg_decode(msg, len, &m, &diag);

	fprintf(f, "%c %7.3f ", out ? '>' : '<', ms);
	if (rc < 0) {
		/* what the library will skip as malformed: show the bytes and where the codec stopped */
		fprintf(f, "undecodable (%zu bytes; at byte %zu expected %s) |", len, diag.offset,
			diag.expected ? diag.expected : "a CCID message");
		print_hex(f, msg, len);
		fputc('\n', f);
		return;
	}
	fprintf(f, "%s slot %u seq %02X", ccid_msg_type_name(m.bMessageType), m.bSlot, m.bSeq);
	l.failed = ccid_is_response(m.bMessageType) && CCID_CMD_STATUS(m.rsp.bStatus) == CCID_CMD_FAILED;
	ccid_msg_describe(&m, line_field, &l);
	if (m.dwLength) {
		fputs(" |", f);
		print_hex(f, m.abData, m.dwLength);
	}
	fputc('\n', f);
	if (verbose) {
		struct out o = { .f = f };     /* the text renderer of uccid decode, without a title */

		ccid_msg_describe(&m, out_field, &o);
		out_end(&o);
		fputc('\n', f);
	}
}

/* One message as a JSON object on a line of its own (docs/json.md, uccid --json trace). */
static void json_frame(FILE *f, bool out, const uint8_t *msg, size_t len, double ms)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };

	fprintf(f, "{\"event\":\"frame\",\"dir\":\"%s\",\"ms\":%.3f,\"bytes\":\"", out ? "out" : "in", ms);
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02X", msg[i]);
	fputc('"', f);
	if (ccid_msg_decode(msg, len, &m, &diag) < 0) {
		fputs(",\"type\":null,\"undecodable\":", f);
		json_string(f, diag.expected ? diag.expected : "not a CCID message");
	} else {
		fputs(",\"type\":", f);
		json_string(f, ccid_msg_type_name(m.bMessageType));
		fprintf(f, ",\"slot\":%u,\"seq\":%u", m.bSlot, m.bSeq);
	}
	fputs("}\n", f);
}

#define JSON_TRACE_MAX (64u << 20)   /* bytes of frame objects kept for the end of the run */

/* The uccid_trace_fn: called by the library for every bulk message, with its own locks held. */
static void on_message(void *ctx, bool out, const uint8_t *msg, size_t len)
{
	struct tool_trace *t = ctx;
	int64_t now_ns = uccid_mono_ns();

	pthread_mutex_lock(&t->lock);
	if (t->json) {
		/* kept for the end: the command's own object may be open on stdout now */
		if (ftell(t->json) < (long)JSON_TRACE_MAX)
			json_frame(t->json, out, msg, len, (double)(now_ns - t->start_ns) / 1e6);
		else
			t->json_dropped++;
	} else {
		tool_trace_print(t->out, t->verbose, out, msg, len, (double)(now_ns - t->start_ns) / 1e6);
		fflush(t->out);
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- the tool's hooks ---- */

int tool_trace_start(struct tool_opts *o)
{
	struct tool_trace *t;
	char err[512];
	int rc;

	if (!o->trace_to && !o->pcap)
		return EXIT_OK;
	t = calloc(1, sizeof(*t));
	if (!t) {
		tool_err("trace: %s", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	/* the capture file first: a FILE that cannot be written stops us before the reader is touched */
	if (o->pcap) {
		rc = pcap_open(&t->pcap, o->pcap, 0, 0, err, sizeof(err));
		if (rc < 0) {
			tool_err("--pcap: cannot write %s", err);
			free(t);
			return EXIT_FAILED;
		}
		t->capture = tool_capture_new(t->pcap);
		if (!t->capture) {
			tool_err("--pcap: %s", strerror(ENOMEM));
			pcap_close(t->pcap);
			free(t);
			return EXIT_FAILED;
		}
		t->pcap_path = o->pcap;
	}
	/* uccid --json trace: JSON lines; with --trace the text on stderr stays text */
	if (o->json && o->trace_to == stdout && !(t->json = open_memstream(&t->json_buf, &t->json_len))) {
		tool_err("trace: %s", strerror(ENOMEM));
		if (t->pcap) {
			tool_capture_free(t->capture);
			pcap_close(t->pcap);
		}
		free(t);
		return EXIT_FAILED;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->out = o->trace_to;
	t->verbose = o->verbose;
	t->start_ns = uccid_mono_ns();
	o->trace = t;
	return EXIT_OK;
}

struct tool_wrap tool_trace_setup(const struct tool_opts *o, struct uccid_options *uo)
{
	struct tool_trace *t = o->trace;
	struct tool_wrap w = { 0 };

	if (!t)
		return w;
	if (t->out) {
		uo->trace = on_message;
		uo->trace_ctx = t;
	}
	if (t->capture)
		w = (struct tool_wrap){ tool_capture_wrap, t->capture, tool_capture_unwrap };
	return w;
}

int tool_trace_finish(const struct tool_opts *o, int status)
{
	struct tool_trace *t = o->trace;
	int rc;

	if (!t)
		return status;
	if (t->json) {
		fclose(t->json);
		fwrite(t->json_buf, 1, t->json_len, stdout);
		free(t->json_buf);
		if (t->json_dropped)
			tool_err("trace: %u message%s after the first %u MB of the trace left out", t->json_dropped,
				 t->json_dropped == 1 ? "" : "s", JSON_TRACE_MAX >> 20);
	}
	if (t->out)
		fflush(t->out);
	if (t->pcap) {
		/* every reader is closed by now: no transport records into it any more */
		tool_capture_free(t->capture);
		rc = pcap_close(t->pcap);
		if (rc < 0) {
			tool_err("--pcap %s: write failed: %s", t->pcap_path, strerror(-rc));
			if (status == EXIT_OK)
				status = EXIT_FAILED;
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
	return status;
}

/* Reached without a subcommand to trace, or as "uccid trace trace": main() takes the first "trace" as the
   --trace switch. */
static const struct tool_opt trace_opts[] = { TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END };
const struct tool_cmd tool_cmd_trace = {
	"trace", cmd_trace, "run a subcommand, printing every CCID message on stdout (as --trace)",
	"uccid trace [--json] SUBCOMMAND [ARGS...]", trace_opts, NULL,
};

int cmd_trace(const struct tool_opts *o, int argc, char **argv)
{
	struct tool_getopt g;
	int c;

	(void)o;
	tool_getopt_init(trace_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1)
		if (c != 'j')
			return tool_bad_option("trace", argv);
	tool_err("trace: give the subcommand to trace: uccid trace SUBCOMMAND [ARGS...]");
	return EXIT_USAGE;
}
