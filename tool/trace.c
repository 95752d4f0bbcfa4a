/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frame tracing for the uccid tool: --trace (on stderr), uccid trace
 * SUBCOMMAND (on stdout) and --pcap FILE.  The library hands every CCID bulk
 * message it sends or receives to struct uccid_options.trace; here each one
 * becomes a line — direction, milliseconds since the trace began, and the
 * codec's own field walk (ccid_msg_describe) condensed to name, slot, seq,
 * the header fields in hex, then the data — with -v the full explanation
 * under it, and/or a submission + completion pair of usbmon records in a
 * pcapng file that starts with the reader's real GET_DESCRIPTOR answers, so
 * Wireshark knows the interface is CCID (class 0x0B).  Tracing is opt-in
 * only: APDUs carry PINs and keys.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/ccid.h"
#include "tool/pcap.h"
#include "tool/tool.h"
#include "session/uccid.h"
#include "util/clock.h"

/*
 * Messages that arrive before the reader's descriptors and endpoints are
 * known (none with today's library: uccid_open sends nothing on bulk) wait
 * here so the capture still begins with the descriptors; bounded.
 */
#define PENDING_MAX 32
#define PENDING_BYTES_MAX (1u << 20)
#define DESC_CAP 4096                /* UCCID_DESC_MAX: the library refuses larger configurations */

struct pending {
	struct timespec ts;
	bool out;
	size_t len;
	uint8_t *msg;
};

struct tool_trace {
	pthread_mutex_t lock;        /* the library may call from two threads (bulk-OUT, bulk-IN) */
	FILE *out;                   /* text trace, or NULL */
	bool verbose;
	int64_t start_ns;            /* uccid_mono_ns(): the trace's time 0 */
	struct pcap_writer *pcap;
	const char *pcap_path;
	struct timespec open_wall;   /* CLOCK_REALTIME when the reader was being opened */
	bool opening, device_known;
	uint8_t ep_out, ep_in;
	struct pending pending[PENDING_MAX];
	unsigned npending, dropped;
	size_t pending_bytes;
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

/* ---- the capture ---- */

static void pcap_message(struct tool_trace *t, bool out, const uint8_t *msg, size_t len, const struct timespec *ts)
{
	pcap_usb_bulk(t->pcap, ts, out ? t->ep_out : t->ep_in, msg, len);
}

static void hold(struct tool_trace *t, bool out, const uint8_t *msg, size_t len, const struct timespec *ts)
{
	struct pending *p = &t->pending[t->npending];

	if (t->npending >= PENDING_MAX || len > PENDING_BYTES_MAX - t->pending_bytes
	    || !(p->msg = malloc(len ? len : 1))) {
		t->dropped++;
		return;
	}
	memcpy(p->msg, msg, len);
	p->len = len;
	p->out = out;
	p->ts = *ts;
	t->pending_bytes += len;
	t->npending++;
}

static void release_pending(struct tool_trace *t, bool write)
{
	for (unsigned i = 0; i < t->npending; i++) {
		if (write)
			pcap_message(t, t->pending[i].out, t->pending[i].msg, t->pending[i].len, &t->pending[i].ts);
		free(t->pending[i].msg);
	}
	t->npending = 0;
	t->pending_bytes = 0;
}

/* The uccid_trace_fn: called by the library for every bulk message, with its own locks held. */
static void on_message(void *ctx, bool out, const uint8_t *msg, size_t len)
{
	struct tool_trace *t = ctx;
	int64_t now_ns = uccid_mono_ns();
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	pthread_mutex_lock(&t->lock);
	if (t->out) {
		tool_trace_print(t->out, t->verbose, out, msg, len, (double)(now_ns - t->start_ns) / 1e6);
		fflush(t->out);
	}
	if (t->pcap) {
		if (t->device_known)
			pcap_message(t, out, msg, len, &wall);
		else
			hold(t, out, msg, len, &wall);
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
		t->pcap_path = o->pcap;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->out = o->trace_to;
	t->verbose = o->verbose;
	t->start_ns = uccid_mono_ns();
	o->trace = t;
	return EXIT_OK;
}

void tool_trace_setup(const struct tool_opts *o, struct uccid_options *uo)
{
	struct tool_trace *t = o->trace;

	if (!t)
		return;
	uo->trace = on_message;
	uo->trace_ctx = t;
	pthread_mutex_lock(&t->lock);
	if (!t->opening && !t->device_known) {
		/* uccid_open reads the descriptors now: their records carry this time */
		clock_gettime(CLOCK_REALTIME, &t->open_wall);
		t->opening = true;
	}
	pthread_mutex_unlock(&t->lock);
}

void tool_trace_opened(const struct tool_opts *o, struct uccid_reader *r)
{
	/* GET_DESCRIPTOR setup packets (USB 2.0 §9.4.3): IN, standard, device; wValue = type << 8 | index */
	uint8_t setup_dev[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 18, 0 };
	uint8_t setup_cfg[8] = { 0x80, 0x06, 0x00, 0x02, 0x00, 0x00, 0, 0 };
	struct tool_trace *t = o->trace;
	struct uccid_reader_info info;
	uint8_t dev[18], *cfg;
	int n;

	if (!t || !t->pcap)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->device_known || uccid_info(r, &info) < 0) {
		/* a second reader in one run: its traffic goes on the first one's endpoints */
		pthread_mutex_unlock(&t->lock);
		return;
	}
	pcap_set_device(t->pcap, info.busnum, info.devnum);
	t->ep_out = info.ep_bulk_out;
	t->ep_in = info.ep_bulk_in;
	cfg = malloc(DESC_CAP);
	n = cfg ? uccid_descriptors(r, dev, cfg, DESC_CAP) : -ENOMEM;
	if (n >= 0) {
		setup_cfg[6] = (uint8_t)n;
		setup_cfg[7] = (uint8_t)(n >> 8);
		pcap_usb_control_in(t->pcap, &t->open_wall, setup_dev, dev, sizeof(dev));
		pcap_usb_control_in(t->pcap, &t->open_wall, setup_cfg, cfg, (size_t)n);
	} else {
		tool_err("--pcap: cannot read the reader's descriptors (%s): Wireshark will need \"Decode As\" "
			 "USB CCID for the bulk endpoints", uccid_strerror(n));
	}
	free(cfg);
	t->device_known = true;
	release_pending(t, true);
	pthread_mutex_unlock(&t->lock);
}

int tool_trace_finish(const struct tool_opts *o, int status)
{
	struct tool_trace *t = o->trace;
	int rc;

	if (!t)
		return status;
	if (t->out)
		fflush(t->out);
	if (t->pcap) {
		if (t->npending)
			tool_err("--pcap %s: the reader's endpoints were never known; %u message%s left out",
				 t->pcap_path, t->npending, t->npending == 1 ? "" : "s");
		if (t->dropped)
			tool_err("--pcap %s: %u message%s before the reader was open left out", t->pcap_path,
				 t->dropped, t->dropped == 1 ? "" : "s");
		release_pending(t, false);
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

/* Reached only as "uccid trace trace": main() takes the first "trace" as the --trace switch. */
int cmd_trace(const struct tool_opts *o, int argc, char **argv)
{
	(void)o;
	(void)argc;
	(void)argv;
	tool_err("trace: give the subcommand to trace: uccid trace SUBCOMMAND [ARGS...]");
	return EXIT_USAGE;
}
