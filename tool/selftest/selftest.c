/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid selftest: exercise every CCID 1.1 command and class request on one
 * slot of a reader and say, probe by probe, whether the reader behaves as
 * the specification says (ok), answers but otherwise (deviation, with what
 * and the section), refuses what it may refuse (unsupported), or could not
 * be tried (skipped).  This file is the command: its options, opening the
 * reader (uccid_open_wrapped: its open lock and --wait as for any
 * subcommand) through the recording shim, running the probes in order with
 * a progress line on a terminal, and the results as a table or one JSON
 * object.  Exit status: 0 no deviation, 1 at least one, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tool/selftest/selftest.h"
#include "tool/tool.h"
#include "transport/transport.h"

/* ---- output ---- */

static const char *const verdict_names[] = { "ok", "unsupported", "deviation", "skipped" };

static void progress(const struct st *st, unsigned i, unsigned n, const char *what)
{
	if (st->tty)
		fprintf(stderr, "\r\033[Kuccid selftest: [%u/%u] %s", i, n, what);
}

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

/* Our shim, around the --pcap capture when there is one: the capture sees what goes to the reader. */
struct wraps {
	struct tool_wrap capture;
	struct shim **shim;
};

static struct uccid_transport *wrap_both(void *ctx, struct uccid_transport *inner)
{
	struct wraps *w = ctx;
	struct uccid_transport *t = inner, *s;

	if (w->capture.fn && !(t = w->capture.fn(w->capture.ctx, inner)))
		return NULL;
	s = shim_wrap(w->shim, t);
	if (!s && t != inner)
		w->capture.unwrap(t);   /* the caller closes inner */
	return s;
}

/* uccid_open(), with our recording shim between the reader code and the transport. */
static int open_reader(struct st *st, const struct tool_opts *o)
{
	struct uccid_options opts = { .exchange_deadline_ms = 10000, .power_deadline_ms = 15000,
				      .log = o->verbose ? tool_log : NULL, .log_level = UCCID_LOG_DEBUG,
				      .open_wait_ms = o->wait_ms, .program = "uccid",
				      .vendor_apdu_mode = o->vendor_apdu };
	struct wraps w = { .shim = &st->shim };
	char err[512] = "";
	int rc;

	w.capture = tool_trace_setup(o, &opts);    /* --trace: the frames as the library sees them */
	rc = uccid_open_wrapped(st->name, &opts, wrap_both, &w, &st->r, err, sizeof(err));
	if (rc < 0) {
		st->shim = NULL;       /* closed with the session, or never made */
		tool_err("%s", err[0] ? err : uccid_strerror(rc));
		return rc;
	}
	return 0;
}

static volatile sig_atomic_t g_stop;   /* SIGINT / SIGTERM: the results so far, then exit */

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static const struct tool_opt selftest_opts[] = {
	TOOL_OPT_SLOT,
	{ "mechanical", no_argument, 'm', 0, NULL, "run the mechanical probes too (eject, lock)" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_selftest = {
	"selftest", cmd_selftest, "exercise each CCID command on a reader; report where it deviates from CCID 1.1",
	"uccid [-r NAME] selftest [--slot N] [--json] [--mechanical]", selftest_opts, NULL,
};

int cmd_selftest(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct tool_opts o = *opts;
	struct st *st = calloc(1, sizeof(*st));
	struct sigaction stop = { .sa_handler = on_stop }, old_int, old_term;
	uint8_t raw[CCID_CLASS_DESC_LEN];
	char name[128];
	unsigned count[4] = { 0 };
	size_t ran = 0;
	int c, rc;

	if (!st)
		return EXIT_FAILED;
	tool_getopt_init(selftest_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
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
		default:
			free(st);
			return tool_bad_option("selftest", argv);
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

	/* a signal ends the run between two probes: the results so far are printed */
	sigemptyset(&stop.sa_mask);
	sigaction(SIGINT, &stop, &old_int);
	sigaction(SIGTERM, &stop, &old_term);
	for (ran = 0; ran < probe_nsteps; ran++) {
		if (st->gone || g_stop)
			break;
		progress(st, (unsigned)ran + 1, (unsigned)probe_nsteps, probe_steps[ran].name);
		probe_steps[ran].run(st);
	}
	probes_end(st);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
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
	if (g_stop) {
		tool_err("selftest: interrupted after %zu of %zu probes", ran, probe_nsteps);
		rc = EXIT_FAILED;
	}
	free(st);
	return rc;
}
