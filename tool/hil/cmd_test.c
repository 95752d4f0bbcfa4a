/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid test: run hardware-in-the-loop suites (docs/hil.md) against any
 * readers uccid opens.  Every suite is parsed before anything runs; then
 * each suite's steps run in order, TAP goes to stdout as each test ends,
 * and --junit writes the JUnit XML report at the end.  A failing step ends
 * its test and is reported with what was sent, what came back, what was
 * expected and the CCID frames around it (a ring fed by the library's
 * trace callback).  Timeouts are enforced by a watchdog thread that cancels
 * the reader (uccid_cancel) when a step or the suite runs out of time; a
 * cancelled reader is closed and opened again for the next step.
 * Exit status: 0 every test passed, 1 a test failed, 2 bad usage or a bad
 * suite (nothing was run).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccid/ccid.h"
#include "ccid/sw.h"
#include "tool/hil/runner.h"
#include "tool/hil/suite.h"
#include "tool/tool.h"
#include "session/uccid.h"
#include "transport/transport.h"
#include "util/clock.h"

#define DEFAULT_STEP_MS 30000u
#define WATCHDOG_GRACE_MS 2000u        /* calls that bound themselves (wait-event, lock) get this on top */
#define RSP_CAP (65536u + 2u)
#define APDU_CAP 65544u
#define SHOW_BYTES 64u                 /* bytes of an APDU or response shown in a report */

struct binding {
	char *alias;                       /* NULL: a bare --reader NAME */
	char *name;
	bool used;
};

struct rreader {
	const char *alias;
	const char *name;                  /* NULL: the only reader on the USB buses */
	unsigned line;                     /* where it was declared (0: implicit) */
	struct uccid_reader *r;
	bool dead;                         /* cancelled: close and open again before use */
	unsigned slot;
};

struct runner {
	const struct tool_opts *o;
	bool verbose;
	bool json;                         /* --json: JSON lines instead of TAP */
	const char *junit;
	const char *control;               /* --control */
	struct binding *binds;
	unsigned nbinds;
	unsigned suite_cap_ms;             /* --timeout */
	unsigned step_default_ms;          /* --step-timeout */
	struct suite_vars defs;            /* --set */

	/* the suite running */
	const struct suite *s;
	struct rreader readers[SUITE_READERS_MAX];
	unsigned nreaders, cur;
	struct suite_vars vars;
	struct frame_ring *ring;
	uccid_trace_fn tool_trace;         /* --trace / --pcap, called after the ring */
	void *tool_trace_ctx;
	struct vctl_client *vctl;
	char vctl_busid[64];
	bool vctl_manual;                  /* the suite chose the virtual reader itself */
	long long suite_deadline;          /* 0: none */
	unsigned suite_ms, max_step_ms;

	/* the last response: data (+ SW) and the last ATR */
	uint8_t *rsp;
	size_t rsp_len;
	bool has_sw;
	uint8_t atr[CCID_ATR_MAX];
	size_t atr_len;
	uint8_t *apdu;

	/* the report of the step running */
	pthread_mutex_t det_lock;
	FILE *det;
	char msg[512];

	/* watchdog */
	pthread_t wd;
	bool wd_running;
	pthread_mutex_t wl;
	pthread_cond_t wc;
	struct uccid_reader *armed;
	long long armed_deadline;
	bool fired, quit;

	/* SIGINT / SIGTERM: the step running is cancelled, the tests left are reported not run */
	atomic_bool stop;
	bool tty;                          /* stderr is a terminal: a progress line there */
};

/* A line outside any test's result (a log step, a failed step between tests): "# FILE:LINE: TEXT[: WHY]" */
static void note_line(const struct runner *R, const char *file, unsigned line, const char *text, const char *why)
{
	if (!R->json) {
		printf("# %s:%u: %s%s%s\n", file, line, text, why ? ": " : "", why ? why : "");
		return;
	}
	printf("{\"event\":\"note\",\"file\":");
	json_string(stdout, file);
	printf(",\"line\":%u,\"text\":", line);
	json_string(stdout, text);
	printf(",\"failed\":");
	json_string(stdout, why ? why : "");
	printf("}\n");
}

/* ---- the watchdog: cancels the armed reader at its deadline ---- */

static void *watchdog(void *arg)
{
	struct runner *R = arg;

	pthread_mutex_lock(&R->wl);
	while (!R->quit) {
		if (R->armed) {
			long long d = R->armed_deadline;
			struct timespec ts = { .tv_sec = d / 1000, .tv_nsec = (d % 1000) * 1000000 };

			if (uccid_mono_ms() >= d) {
				uccid_cancel(R->armed);
				R->armed = NULL;
				R->fired = true;
				continue;
			}
			pthread_cond_timedwait(&R->wc, &R->wl, &ts);
		} else {
			pthread_cond_wait(&R->wc, &R->wl);
		}
	}
	pthread_mutex_unlock(&R->wl);
	return NULL;
}

static int watchdog_start(struct runner *R)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&R->wl, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&R->wc, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&R->wd, NULL, watchdog, R);
	R->wd_running = rc == 0;
	return -rc;
}

static void watchdog_stop(struct runner *R)
{
	if (!R->wd_running)
		return;
	pthread_mutex_lock(&R->wl);
	R->quit = true;
	pthread_cond_signal(&R->wc);
	pthread_mutex_unlock(&R->wl);
	pthread_join(R->wd, NULL);
	pthread_cond_destroy(&R->wc);
	pthread_mutex_destroy(&R->wl);
}

static void arm(struct runner *R, struct uccid_reader *r, long long deadline)
{
	pthread_mutex_lock(&R->wl);
	R->armed = r;
	R->armed_deadline = deadline;
	R->fired = false;
	/*
	 * A signal that came after the step began but before it armed found
	 * nothing to cancel (signal_thread sets stop before it takes wl): the
	 * step is cancelled here, or it would run its whole time.
	 */
	if (atomic_load(&R->stop))
		uccid_cancel(r);
	pthread_cond_signal(&R->wc);
	pthread_mutex_unlock(&R->wl);
}

/*
 * SIGINT and SIGTERM are blocked in every thread but this one, which waits
 * for them, asks the runner to stop and cancels the reader of the step
 * running (uccid_cancel is not for signal handlers); a signal of our own
 * ends it when the run ends first.
 */
static void *signal_thread(void *arg)
{
	struct runner *R = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) != 0 || atomic_load(&R->stop))
		return NULL;
	atomic_store(&R->stop, true);
	pthread_mutex_lock(&R->wl);
	if (R->armed)
		uccid_cancel(R->armed);
	pthread_mutex_unlock(&R->wl);
	return NULL;
}

/* Returns whether the watchdog fired (the reader is then cancelled). */
static bool disarm(struct runner *R)
{
	bool fired;

	pthread_mutex_lock(&R->wl);
	R->armed = NULL;
	fired = R->fired;
	R->fired = false;
	pthread_mutex_unlock(&R->wl);
	return fired;
}

/* ---- the step report ---- */

static void detail(struct runner *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void detail(struct runner *R, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&R->det_lock);
	if (R->det) {
		va_start(ap, fmt);
		vfprintf(R->det, fmt, ap);
		va_end(ap);
		fputc('\n', R->det);
	}
	pthread_mutex_unlock(&R->det_lock);
}

static int failf(struct runner *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The step failed: the one-line reason.  Returns -1. */
static int failf(struct runner *R, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(R->msg, sizeof(R->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void hex_line(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && i < SHOW_BYTES; i++)
		fprintf(f, "%s%02X", i ? " " : "", b[i]);
	if (n > SHOW_BYTES)
		fprintf(f, " ... (%zu bytes)", n);
}

static void detail_bytes(struct runner *R, const char *what, const uint8_t *b, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return;
	hex_line(m, b, n);
	fclose(m);
	detail(R, "%s: %s%s", what, n ? text : "(no bytes)", "");
	free(text);
}

static void on_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	struct runner *R = ctx;

	detail(R, "library %s: %s", level == UCCID_LOG_ERROR ? "error" : level == UCCID_LOG_WARNING ? "warning" : "info",
	       msg);
}

static void on_trace(void *ctx, bool out, const uint8_t *msg, size_t len)
{
	struct runner *R = ctx;

	frame_ring_push(R->ring, out, msg, len);
	if (R->tool_trace)
		R->tool_trace(R->tool_trace_ctx, out, msg, len);
}

/* ---- readers ---- */

static struct rreader *cur_reader(struct runner *R)
{
	return &R->readers[R->cur];
}

static int open_reader(struct runner *R, struct rreader *rr)
{
	struct uccid_options opts = { .log = on_log, .log_ctx = R,
				      .log_level = R->verbose ? UCCID_LOG_INFO : UCCID_LOG_WARNING,
				      .auto_get_response = true, .exchange_deadline_ms = R->max_step_ms,
				      .power_deadline_ms = R->max_step_ms, .vendor_apdu_mode = R->o->vendor_apdu };
	char err[512] = "", name[128];
	const char *n = rr->name;
	struct tool_wrap w;
	int rc;

	if (rr->dead) {
		uccid_close(rr->r);
		rr->r = NULL;
		rr->dead = false;
	}
	if (rr->r)
		return 0;
	if (!n) {
		if (rr->line)
			return failf(R, "reader '%s' (declared at %s:%u) has no name: declare it with one or run with "
				     "--reader %s=NAME", rr->alias, R->s->file, rr->line, rr->alias);
		if ((rc = tool_default_reader(name, sizeof(name))) < 0)
			return failf(R, "no reader given (--reader NAME) and no single USB reader to default to");
		n = name;
	}
	w = tool_trace_setup(R->o, &opts);
	R->tool_trace = opts.trace;
	R->tool_trace_ctx = opts.trace_ctx;
	opts.trace = on_trace;
	opts.trace_ctx = R;
	rc = uccid_open_wrapped(n, &opts, w.fn, w.ctx, &rr->r, err, sizeof(err));
	if (rc < 0) {
		rr->r = NULL;
		return failf(R, "cannot open reader %s: %s", n, err[0] ? err : uccid_strerror(rc));
	}
	return 0;
}

/* ---- steps ---- */

static long long step_deadline(struct runner *R, const struct suite_step *st, bool *by_suite)
{
	unsigned ms = st->timeout_ms ? st->timeout_ms : R->s->step_timeout_ms ? R->s->step_timeout_ms : R->step_default_ms;
	long long d = uccid_mono_ms() + ms;

	*by_suite = R->suite_deadline && R->suite_deadline < d;
	return *by_suite ? R->suite_deadline : d;
}

static const char *err_name(int rc)
{
	const char *n = suite_errno_name(rc);

	return n ? n : "error";
}

/*
 * The common end of a library call: a watchdog timeout, an expected or
 * unexpected error.  Returns 1 when the step is over (passed: 0 in *res,
 * failed: -1), 0 when the call succeeded and the step's own checks follow.
 */
static int call_done(struct runner *R, const struct suite_step *st, struct rreader *rr, int rc, bool fired,
		     bool by_suite, long long started, int *res)
{
	if (fired) {
		/* out of time is the error ETIMEDOUT to a step that expects it: "no answer within 1s" */
		rr->dead = true;
		for (unsigned i = 0; i < st->nerrs && !by_suite; i++)
			if (st->errs[i] == SUITE_ERR_ANY || st->errs[i] == ETIMEDOUT) {
				detail(R, "no answer within the step's timeout, as expected; the reader is opened again");
				*res = 0;
				return 1;
			}
		*res = by_suite ? failf(R, "the suite's timeout (%u ms) passed during the step", R->suite_ms)
				: failf(R, "no answer within the step's timeout (%lld ms)", uccid_mono_ms() - started);
		return 1;
	}
	if (rc == -ECANCELED || rc == -ENODEV)
		rr->dead = true;
	if (st->nerrs) {
		char want[128] = "";
		size_t wl = 0;

		for (unsigned i = 0; i < st->nerrs; i++) {
			if (rc < 0 && (st->errs[i] == SUITE_ERR_ANY || st->errs[i] == -rc)) {
				detail(R, "failed as expected: %s (%s)", err_name(rc), uccid_strerror(rc));
				*res = 0;
				return 1;
			}
			wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s%s", i ? " or " : "",
					       st->errs[i] == SUITE_ERR_ANY ? "any error" : suite_errno_name(st->errs[i]));
			if (wl >= sizeof(want))
				wl = sizeof(want) - 1;
		}
		*res = rc >= 0 ? failf(R, "succeeded; expected the error %s", want)
			       : failf(R, "failed with %s (%s); expected %s", err_name(rc), uccid_strerror(rc), want);
		return 1;
	}
	if (rc < 0) {
		struct uccid_reader_error le;

		if (rc == -EIO && rr->r && uccid_last_error(rr->r, rr->slot, &le) == 0 && le.valid)
			*res = failf(R, "the reader refused: %s (bError %02X, bStatus %02X)", ccid_error_name(le.bError),
				     le.bError, le.bStatus);
		else
			*res = failf(R, "%s (%s)", uccid_strerror(rc), err_name(rc));
		return 1;
	}
	return 0;
}

static int check_pattern(struct runner *R, const struct suite_step *st, const char *what, const uint8_t *b, size_t n)
{
	char why[200];
	char *pat;
	int m;

	if (!st->pattern)
		return 0;
	if (!(pat = suite_expand(&R->vars, st->pattern, why, sizeof(why))))
		return failf(R, "%s pattern: %s", what, why);
	m = suite_match_data(pat, b, n, why, sizeof(why));
	if (m <= 0) {
		detail(R, "expected %s: %s", what, pat);
		free(pat);
		return m < 0 ? failf(R, "%s pattern: %s", what, why) : failf(R, "the %s does not match the pattern", what);
	}
	free(pat);
	return 0;
}

/* Expand and decode a hex argument into R->apdu. */
static int hex_arg(struct runner *R, const char *text, const char *what, size_t min)
{
	char why[200];
	char *x = suite_expand(&R->vars, text, why, sizeof(why));
	int n;

	if (!x)
		return failf(R, "%s: %s", what, why);
	n = suite_hex(x, R->apdu, APDU_CAP);
	if (n < 0 || (size_t)n < min) {
		failf(R, "%s: '%.80s' is not %s", what, x, min ? "an APDU (hex, at least 4 bytes)" : "hex");
		free(x);
		return -1;
	}
	free(x);
	return n;
}

static int step_power(struct runner *R, const struct suite_step *st, struct rreader *rr)
{
	long long started = uccid_mono_ms();
	bool by_suite;
	long long d = step_deadline(R, st, &by_suite);
	int rc, res;

	arm(R, rr->r, d);
	switch (st->op) {
	case SOP_POWER:
		rc = uccid_power_on(rr->r, rr->slot, (enum uccid_voltage)st->iarg, R->atr, sizeof(R->atr));
		break;
	case SOP_RESET:
		rc = uccid_reset(rr->r, rr->slot, st->iarg, R->atr, sizeof(R->atr));
		break;
	default:
		rc = uccid_power_off(rr->r, rr->slot);
		break;
	}
	if (call_done(R, st, rr, rc, disarm(R), by_suite, started, &res))
		return res;
	if (st->op == SOP_POWEROFF)
		return 0;
	R->atr_len = (size_t)rc;
	detail_bytes(R, "ATR", R->atr, R->atr_len);
	return check_pattern(R, st, "ATR", R->atr, R->atr_len);
}

static int step_xfr(struct runner *R, const struct suite_step *st, struct rreader *rr)
{
	long long started;
	bool by_suite, apdu = st->op == SOP_APDU;
	long long d;
	int n = hex_arg(R, st->arg, apdu ? "apdu" : "escape", apdu ? 4 : 0), res;
	ssize_t got;
	char meaning[128], want[128];
	size_t dlen;
	uint16_t sw = 0;

	if (n < 0)
		return -1;
	detail_bytes(R, "sent", R->apdu, (size_t)n);
	started = uccid_mono_ms();
	d = step_deadline(R, st, &by_suite);
	arm(R, rr->r, d);
	got = apdu ? uccid_transmit(rr->r, rr->slot, R->apdu, (size_t)n, R->rsp, RSP_CAP)
		   : uccid_escape(rr->r, rr->slot, R->apdu, (size_t)n, R->rsp, RSP_CAP);
	if (call_done(R, st, rr, (int)got, disarm(R), by_suite, started, &res))
		return res;
	if (apdu && got < 2)
		return failf(R, "a response of %zd byte%s: no status word", got, got == 1 ? "" : "s");
	R->rsp_len = (size_t)got;
	R->has_sw = apdu;
	dlen = apdu ? (size_t)got - 2 : (size_t)got;
	if (apdu) {
		sw = (uint16_t)(R->rsp[got - 2] << 8 | R->rsp[got - 1]);
		ccid_sw_explain(sw, meaning, sizeof(meaning));
		detail_bytes(R, "got data", R->rsp, dlen);
		detail(R, "got SW: %04X (%s)", sw, meaning);
	} else {
		detail_bytes(R, "got", R->rsp, dlen);
	}
	if (st->nsw && !suite_sw_match(st->sw, st->nsw, sw)) {
		suite_sw_format(st->sw, st->nsw, want, sizeof(want));
		detail(R, "expected SW: %s", want);
		return failf(R, "SW %04X (%s); expected %s", sw, meaning, want);
	}
	if (st->expect_len >= 0 && (long)dlen != st->expect_len)
		return failf(R, "%zu bytes of data; expected %ld", dlen, st->expect_len);
	return check_pattern(R, st, "data", R->rsp, dlen);
}

static int step_status(struct runner *R, const struct suite_step *st, struct rreader *rr)
{
	struct uccid_slot_status ss = { 0 };
	long long started = uccid_mono_ms();
	bool by_suite;
	long long d = step_deadline(R, st, &by_suite);
	unsigned got;
	int rc, res;

	arm(R, rr->r, d);
	rc = uccid_slot_status(rr->r, rr->slot, &ss);
	if (rc == -ENOMEDIUM && !st->nerrs)
		rc = 0;   /* "no card" is a status like any other here */
	if (call_done(R, st, rr, rc, disarm(R), by_suite, started, &res))
		return res;
	got = (ss.present ? SUITE_ST_PRESENT : 0) | (ss.powered ? SUITE_ST_POWERED : 0);
	detail(R, "slot %u: %s, %s", rr->slot, ss.present ? "present" : "absent", ss.powered ? "powered" : "unpowered");
	if ((got & st->mask) != (unsigned)st->iarg)
		return failf(R, "the card is %s and %s", ss.present ? "present" : "absent",
			     ss.powered ? "powered" : "unpowered");
	return 0;
}

static const char *const event_names[] = { "inserted", "removed", "hardware-error", "reader-removed", "none" };

static int step_wait_event(struct runner *R, const struct suite_step *st, struct rreader *rr)
{
	long long started = uccid_mono_ms();
	bool by_suite;
	long long d = step_deadline(R, st, &by_suite);
	int rc = 0, res;
	bool fired;

	arm(R, rr->r, d + WATCHDOG_GRACE_MS);
	for (;;) {
		struct uccid_event e;
		long long left = d - uccid_mono_ms();

		if (left <= 0) {
			rc = 0;
			break;
		}
		rc = uccid_wait_event(rr->r, (unsigned)left, &e);
		if (rc <= 0)
			break;
		/*
		 * Events of another slot, and of another kind on this slot while one is awaited (a reader
		 * reports the cards present when it is opened), are shown and skipped.
		 */
		if (e.type != UCCID_EVENT_READER_REMOVED && e.slot != rr->slot) {
			detail(R, "event on slot %u: %s (not this slot's; skipped)", e.slot, event_names[e.type]);
			continue;
		}
		if (st->iarg != SUITE_EV_NONE && (int)e.type != st->iarg && e.type != UCCID_EVENT_READER_REMOVED) {
			detail(R, "event: slot %u %s (skipped)", e.slot, event_names[e.type]);
			continue;
		}
		fired = disarm(R);
		if (fired)
			rr->dead = true;
		detail(R, "event: slot %u %s", e.slot, event_names[e.type]);
		if ((int)e.type == st->iarg)
			return 0;
		if (e.type == UCCID_EVENT_READER_REMOVED)
			rr->dead = true;
		return failf(R, "event '%s'; expected %s", event_names[e.type],
			     st->iarg == SUITE_EV_NONE ? "none" : event_names[st->iarg]);
	}
	if (call_done(R, st, rr, rc, disarm(R), by_suite, started, &res))
		return res;
	if (st->iarg == SUITE_EV_NONE)
		return 0;
	if (by_suite)
		return failf(R, "the suite's timeout (%u ms) passed waiting for '%s'", R->suite_ms, event_names[st->iarg]);
	return failf(R, "no '%s' event within %lld ms", event_names[st->iarg], uccid_mono_ms() - started);
}

static const char *const done_names[] = { "nothing", "reset", "unpowered", "ejected", "latched" };

static int step_lock(struct runner *R, const struct suite_step *st, struct rreader *rr)
{
	long long started = uccid_mono_ms();
	bool by_suite;
	long long d = step_deadline(R, st, &by_suite);
	int rc, res;

	arm(R, rr->r, d + WATCHDOG_GRACE_MS);
	if (st->op == SOP_LOCK) {
		struct uccid_lock_info info = { 0 };
		long long left = d - uccid_mono_ms();

		rc = uccid_lock(rr->r, rr->slot, st->try_once ? 0 : (int)(left > 0 ? left : 1), (unsigned)st->iarg, &info);
		if (call_done(R, st, rr, rc, disarm(R), by_suite, started, &res))
			return res;
		detail(R, "locked (depth %u)%s", info.count, info.abandoned ? "; the previous holder died holding it" : "");
		return 0;
	} else {
		enum uccid_done done = UCCID_DONE_NOTHING;

		rc = uccid_unlock(rr->r, rr->slot, st->iarg, &done);
		if (call_done(R, st, rr, rc, disarm(R), by_suite, started, &res))
			return res;
		if ((unsigned)done < sizeof(done_names) / sizeof(done_names[0]))
			detail(R, "unlocked; done: %s", done_names[done]);
		if (st->expect_done >= 0 && (int)done != st->expect_done)
			return failf(R, "the disposition did '%s'; expected '%s'",
				     (unsigned)done < 5 ? done_names[done] : "?", done_names[st->expect_done]);
		return 0;
	}
}

static int step_sleep(struct runner *R, const struct suite_step *st)
{
	long long until = uccid_mono_ms() + st->timeout_ms;
	bool cut = R->suite_deadline && R->suite_deadline < until;

	if (cut)
		until = R->suite_deadline;
	for (long long left; (left = until - uccid_mono_ms()) > 0;) {
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	return cut ? failf(R, "the suite's timeout (%u ms) passed while sleeping", R->suite_ms) : 0;
}

/* The USB/IP bus id in a reader name "usbip://HOST[:PORT]/BUSID", or NULL. */
static const char *usbip_busid(const char *name)
{
	const char *slash;

	if (!name || strncmp(name, "usbip://", 8))
		return NULL;
	slash = strrchr(name + 8, '/');
	return slash && slash[1] ? slash + 1 : NULL;
}

static int step_vreader(struct runner *R, const struct suite_step *st)
{
	const char *path = R->control ? R->control : R->s->control;
	char why[300], *reply, *line;
	bool by_suite;
	long long d = step_deadline(R, st, &by_suite), left;
	const char *busid = usbip_busid(cur_reader(R)->name);
	int rc;

	if (!path)
		return failf(R, "no control socket: name it in the suite (control PATH) or run with --control PATH");
	if (!R->vctl && vctl_connect(path, &R->vctl, why, sizeof(why)) < 0)
		return failf(R, "%s", why);
	if (!(line = suite_expand(&R->vars, st->arg, why, sizeof(why))))
		return failf(R, "vreader: %s", why);
	if (!(reply = malloc(8192))) {
		free(line);
		return failf(R, "out of memory");
	}
	if (!strncmp(line, "reader ", 7))
		R->vctl_manual = true;
	/* the virtual reader the suite's current reader is, unless the suite chooses itself */
	rc = 0;
	if (!R->vctl_manual && busid && strcmp(busid, R->vctl_busid) && strlen(busid) < sizeof(R->vctl_busid)) {
		char sel[80];

		snprintf(sel, sizeof(sel), "reader %s", busid);
		left = d - uccid_mono_ms();
		rc = vctl_command(R->vctl, sel, left > 0 ? (unsigned)left : 1, reply, 8192);
		if (rc == 0)
			snprintf(R->vctl_busid, sizeof(R->vctl_busid), "%s", busid);
		else
			detail(R, "vreader> %s\n%s", sel, reply);
	}
	if (rc == 0) {
		left = d - uccid_mono_ms();
		rc = vctl_command(R->vctl, line, left > 0 ? (unsigned)left : 1, reply, 8192);
		detail(R, "vreader> %s", line);
		if (reply[0])
			detail(R, "%s", reply);
	}
	free(line);
	if (rc == -EREMOTEIO) {
		char *last = strrchr(reply, '\n');

		rc = failf(R, "the virtual reader answered: %s", last ? last + 1 : reply);
	} else if (rc < 0) {
		vctl_close(R->vctl);       /* a half-read reply: start over on a new connection */
		R->vctl = NULL;
		R->vctl_busid[0] = 0;
		rc = rc == -ETIMEDOUT && by_suite ? failf(R, "the suite's timeout (%u ms) passed", R->suite_ms)
						  : failf(R, "control socket %s: %s", path, strerror(-rc));
	}
	free(reply);
	return rc;
}

static int step_set(struct runner *R, const struct suite_step *st)
{
	static const char *const srcs[] = { "data", "atr", "sw" };
	char why[200], *x = suite_expand(&R->vars, st->arg, why, sizeof(why)), *val;
	const uint8_t *b = NULL;
	size_t n = 0, off, cnt;
	int rc;

	if (!x)
		return failf(R, "set: %s", why);
	for (unsigned k = 0; k < 3; k++) {
		size_t sl = strlen(srcs[k]);

		if (strncmp(x, srcs[k], sl))
			continue;
		if (k == 0) {
			if (!R->rsp_len && !R->has_sw) {
				free(x);
				return failf(R, "set: no response yet to take data from");
			}
			b = R->rsp;
			n = R->has_sw ? R->rsp_len - 2 : R->rsp_len;
		} else if (k == 1) {
			b = R->atr;
			n = R->atr_len;
		} else {
			if (!R->has_sw) {
				free(x);
				return failf(R, "set: the last step had no status word");
			}
			b = R->rsp + R->rsp_len - 2;
			n = 2;
		}
		rc = suite_slice(x + sl, n, &off, &cnt);
		if (rc < 0) {
			rc = failf(R, "set: %s is %zu byte%s long: %s is outside it", srcs[k], n, n == 1 ? "" : "s", x);
			free(x);
			return rc;
		}
		b += off;
		n = cnt;
		break;
	}
	if (!b) {
		int k = suite_hex(x, R->apdu, APDU_CAP);

		if (k < 0) {
			rc = failf(R, "set: '%.80s' is not hex", x);
			free(x);
			return rc;
		}
		b = R->apdu;
		n = (size_t)k;
	}
	free(x);
	if (!(val = malloc(n * 2 + 1)))
		return failf(R, "out of memory");
	for (size_t i = 0; i < n; i++)
		snprintf(val + i * 2, 3, "%02X", b[i]);
	val[n * 2] = 0;
	rc = suite_var_set(&R->vars, st->name, val);
	detail(R, "%s = %.*s%s", st->name, 128, val, n > 64 ? "..." : "");
	free(val);
	return rc < 0 ? failf(R, "set %s: %s", st->name, rc == -ENOSPC ? "too many variables" : strerror(-rc)) : 0;
}

static int run_step(struct runner *R, const struct suite_step *st)
{
	struct rreader *rr = cur_reader(R);

	switch (st->op) {
	case SOP_SLEEP:
		return step_sleep(R, st);
	case SOP_VREADER:
		return step_vreader(R, st);
	case SOP_SET:
		return step_set(R, st);
	case SOP_USE:
		R->cur = (unsigned)st->iarg;
		return 0;
	case SOP_SLOT:
		rr->slot = (unsigned)st->iarg;
		return 0;
	case SOP_LOG: {
		char why[200], *x = suite_expand(&R->vars, st->arg, why, sizeof(why));

		note_line(R, R->s->file, st->line, x ? x : why, NULL);
		free(x);
		return 0;
	}
	default:
		break;
	}
	if (open_reader(R, rr) < 0)
		return -1;
	switch (st->op) {
	case SOP_POWER:
	case SOP_RESET:
	case SOP_POWEROFF:
		return step_power(R, st, rr);
	case SOP_APDU:
	case SOP_ESCAPE:
		return step_xfr(R, st, rr);
	case SOP_STATUS:
		return step_status(R, st, rr);
	case SOP_WAIT_EVENT:
		return step_wait_event(R, st, rr);
	default:
		return step_lock(R, st, rr);
	}
}

/* ---- suites ---- */

static const char *bound_name(struct runner *R, const char *alias, unsigned index, const char *declared)
{
	unsigned bare = 0;

	for (unsigned i = 0; i < R->nbinds; i++)
		if (R->binds[i].alias && !strcmp(R->binds[i].alias, alias)) {
			R->binds[i].used = true;
			return R->binds[i].name;
		}
	for (unsigned i = 0; i < R->nbinds; i++) {
		if (R->binds[i].alias)
			continue;
		if (bare++ == index) {
			R->binds[i].used = true;
			return R->binds[i].name;
		}
	}
	return declared;
}

static void setup_readers(struct runner *R, const struct suite *s)
{
	memset(R->readers, 0, sizeof(R->readers));
	R->cur = 0;
	if (!s->nreaders) {
		R->readers[0].alias = "default";
		R->readers[0].name = bound_name(R, "default", 0, NULL);
		R->nreaders = 1;
		return;
	}
	for (unsigned i = 0; i < s->nreaders; i++) {
		R->readers[i].alias = s->readers[i].alias;
		R->readers[i].line = s->readers[i].line;
		R->readers[i].name = bound_name(R, s->readers[i].alias, i, s->readers[i].name);
	}
	R->nreaders = s->nreaders;
}

static int report_test(struct runner *R, struct run_results *rr, struct suite_result *sr, const struct suite_test *t,
		       bool failed, const char *det_text, double secs)
{
	return results_add(rr, sr, stdout, R->verbose, t->name,
			   R->s->file, t->line, failed ? RESULT_FAIL : RESULT_PASS, failed ? R->msg : NULL, det_text,
			   secs);
}

static int run_suite(struct runner *R, struct run_results *rr, const struct suite *s)
{
	struct suite_result *sr = results_suite(rr, s->name, s->file);
	long long start = uccid_mono_ms();
	unsigned t = 0, ti;
	bool failed = false;
	long long tstart = 0;
	char *det_text = NULL;
	size_t det_len = 0;
	int rc = 0;

	if (!sr)
		return -ENOMEM;
	R->s = s;
	setup_readers(R, s);
	suite_vars_clear(&R->vars);
	for (unsigned i = 0; i < R->defs.n; i++)
		if (suite_var_set(&R->vars, R->defs.names[i], R->defs.values[i]) < 0)
			return -ENOMEM;
	R->suite_ms = s->suite_timeout_ms;
	if (R->suite_cap_ms && (!R->suite_ms || R->suite_cap_ms < R->suite_ms))
		R->suite_ms = R->suite_cap_ms;
	R->suite_deadline = R->suite_ms ? start + R->suite_ms : 0;
	R->max_step_ms = s->step_timeout_ms ? s->step_timeout_ms : R->step_default_ms;
	for (unsigned i = 0; i < s->nsteps; i++)
		if (s->steps[i].timeout_ms > R->max_step_ms && s->steps[i].op != SOP_SLEEP)
			R->max_step_ms = s->steps[i].timeout_ms;
	R->rsp_len = 0;
	R->has_sw = false;
	R->atr_len = 0;
	R->vctl_manual = false;
	R->vctl_busid[0] = 0;
	if (!(R->ring = frame_ring_new()))
		return -ENOMEM;
	if (R->json) {
		printf("{\"event\":\"suite\",\"suite\":");
		json_string(stdout, s->name);
		printf(",\"file\":");
		json_string(stdout, s->file);
		printf(",\"tests\":%u}\n", s->ntests);
	} else {
		printf("# suite %s (%s): %u test%s\n", s->name, s->file, s->ntests, s->ntests == 1 ? "" : "s");
	}
	fflush(stdout);

	for (unsigned i = 0; i < s->nsteps && rc == 0; i++) {
		const struct suite_step *st = &s->steps[i];
		bool in_test = t < s->ntests && i >= s->tests[t].first && i < s->tests[t].first + s->tests[t].count;

		if (atomic_load(&R->stop))
			break;   /* the test running and those after it: not run */
		if (in_test && i == s->tests[t].first) {
			failed = false;
			tstart = uccid_mono_ms();
			free(det_text);
			det_text = NULL;
			if (R->tty)
				fprintf(stderr, "\r\033[K%s: test %u of %u: %s", s->name, t + 1, s->ntests, s->tests[t].name);
		}
		if (!in_test || !failed) {
			uint64_t since = frame_ring_count(R->ring);
			char *step_text = NULL;
			size_t step_len = 0;
			struct rreader *rd = cur_reader(R);
			int res;

			pthread_mutex_lock(&R->det_lock);
			R->det = open_memstream(&step_text, &step_len);
			pthread_mutex_unlock(&R->det_lock);
			if (!R->det) {
				rc = -ENOMEM;
				break;
			}
			R->msg[0] = 0;
			if (R->suite_deadline && uccid_mono_ms() >= R->suite_deadline)
				res = failf(R, "not run: the suite's timeout (%u ms) had passed", R->suite_ms);
			else
				res = run_step(R, st);
			pthread_mutex_lock(&R->det_lock);
			fclose(R->det);
			R->det = NULL;
			pthread_mutex_unlock(&R->det_lock);
			if (res < 0 && in_test) {
				FILE *m = open_memstream(&det_text, &det_len);

				failed = true;
				if (m) {
					fprintf(m, "step: %s:%u: %s\n", s->file, st->line, st->text);
					if (st->op != SOP_SLEEP && st->op != SOP_SET && st->op != SOP_VREADER)
						fprintf(m, "reader: %s (%s), slot %u\n", rd->alias,
							rd->name ? rd->name : "the only USB reader", rd->slot);
					fprintf(m, "failed: %s\n", R->msg);
					fputs(step_text ? step_text : "", m);
					frame_ring_report(R->ring, m, "", since, R->verbose);
					fclose(m);
				}
			} else if (res < 0) {
				note_line(R, s->file, st->line, st->text, R->msg);
			}
			free(step_text);
		}
		if (in_test && i == s->tests[t].first + s->tests[t].count - 1) {
			if (R->tty)
				fputs("\r\033[K", stderr);
			if (atomic_load(&R->stop))
				break;   /* its last step was cancelled: not run to its end */
			if (report_test(R, rr, sr, &s->tests[t], failed, det_text, (double)(uccid_mono_ms() - tstart) / 1e3) < 0)
				rc = -ENOMEM;
			t++;
		}
	}
	/* tests after an out-of-memory stop or a signal are not run: say so rather than drop them */
	if (R->tty)
		fputs("\r\033[K", stderr);
	for (ti = t; ti < s->ntests; ti++)
		results_add(rr, sr, stdout, false, s->tests[ti].name, s->file, s->tests[ti].line, RESULT_SKIP,
			    atomic_load(&R->stop) ? "not run: interrupted" : "not run: out of memory", NULL, 0);
	free(det_text);
	for (unsigned i = 0; i < R->nreaders; i++) {
		uccid_close(R->readers[i].r);
		R->readers[i].r = NULL;
	}
	vctl_close(R->vctl);
	R->vctl = NULL;
	frame_ring_free(R->ring);
	R->ring = NULL;
	return rc;
}

/* ---- the command line ---- */

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *buf;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(buf = malloc(SUITE_FILE_MAX + 1))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, SUITE_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		free(buf);
		buf = NULL;
	} else if (n > SUITE_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, SUITE_FILE_MAX);
		free(buf);
		buf = NULL;
	}
	*len = n;
out:
	if (f != stdin)
		fclose(f);
	return buf;
}

static int add_binding(struct runner *R, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct binding *b = realloc(R->binds, (R->nbinds + 1) * sizeof(*b));

	if (!b)
		return -ENOMEM;
	R->binds = b;
	b = &R->binds[R->nbinds];
	*b = (struct binding){ 0 };
	/* ALIAS=NAME, unless what precedes '=' cannot be an alias (a reader name with '=' in it) */
	if (eq && eq > arg && strcspn(arg, ":/") > (size_t)(eq - arg)) {
		if (!(b->alias = strndup(arg, (size_t)(eq - arg))) || !(b->name = strdup(eq + 1))) {
			free(b->alias);
			return -ENOMEM;
		}
		if (!b->name[0]) {
			tool_err("test: --reader %s: no reader name after '='", arg);
			free(b->alias);
			free(b->name);
			return -EINVAL;
		}
	} else if (!(b->name = strdup(arg))) {
		return -ENOMEM;
	}
	R->nbinds++;
	return 0;
}

static const struct tool_opt test_opts[] = {
	{ "junit", required_argument, 'J', 0, "FILE", "also write the results as JUnit XML to FILE" },
	{ "reader", required_argument, 'r', 'r', "[ALIAS=]NAME", "bind the suite's reader ALIAS (or the next one) to NAME" },
	{ "control", required_argument, 'c', 0, "PATH", "the virtual reader's control socket for vreader steps" },
	{ "timeout", required_argument, 'T', 0, "DURATION", "at most this long for each suite (250ms, 5s, 2m)" },
	{ "step-timeout", required_argument, 'S', 0, "DURATION", "a step's default time limit (30 s)" },
	{ "set", required_argument, 'D', 'D', "NAME=VALUE", "a variable every suite can use as ${NAME}" },
	{ "json", no_argument, 'j', 0, NULL, "a JSON object per line (plan, each test, summary) instead of TAP" },
	TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_test = {
	"test", cmd_test, "run hardware-in-the-loop suites: TAP on stdout (or JSON lines), JUnit XML with --junit",
	"uccid test [--junit FILE] [-r|--reader [ALIAS=]NAME]... [--control PATH] [--timeout DURATION] "
	"[--step-timeout DURATION] [--set NAME=VALUE]... [--json] SUITE...",
	test_opts, NULL,
};

/*
 * Every reader of every suite has a name (declared, bound with --reader, or
 * the only USB reader) before any is opened: a missing one is a usage error,
 * not a failure per test.
 */
static int check_readers(struct runner *R, struct suite **suites, unsigned nsuites)
{
	bool need_default = false;
	char name[128];

	for (unsigned k = 0; k < nsuites; k++) {
		const struct suite *su = suites[k];

		if (!su->nreaders) {
			need_default |= !bound_name(R, "default", 0, NULL);
			continue;
		}
		for (unsigned i = 0; i < su->nreaders; i++)
			if (!bound_name(R, su->readers[i].alias, i, su->readers[i].name)) {
				tool_err("test: %s:%u: reader '%s' has no name: declare it with one or run with "
					 "--reader %s=NAME", su->file, su->readers[i].line, su->readers[i].alias,
					 su->readers[i].alias);
				return -EINVAL;
			}
	}
	if (need_default && tool_default_reader(name, sizeof(name)) < 0) {
		tool_err("test: no reader given: run with --reader NAME");
		return -EINVAL;
	}
	return 0;
}

/* One argument's ${NAME}s: each closed, each a name set by --set or by an earlier `set`. */
static int check_refs(const struct suite *su, const struct suite_step *st, const char *text,
		      const struct suite_vars *defs, unsigned upto)
{
	for (const char *p = text ? strstr(text, "${") : NULL; p; p = strstr(p, "${")) {
		const char *name = p + 2, *close = strchr(name, '}');
		size_t n = close ? (size_t)(close - name) : 0;
		bool known = false;
		char buf[SUITE_NAME_MAX + 1];

		if (!close || !n || n > SUITE_NAME_MAX || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
								   "0123456789_") < n) {
			tool_err("%s:%u: '${' must be followed by a variable name and '}': %s", su->file, st->line,
				 st->text);
			return -EINVAL;
		}
		memcpy(buf, name, n);
		buf[n] = 0;
		known = suite_var_get(defs, buf) != NULL;
		for (unsigned i = 0; i < upto && !known; i++)
			known = su->steps[i].op == SOP_SET && !strcmp(su->steps[i].name, buf);
		if (!known) {
			tool_err("%s:%u: variable '%s' is never set before this line (set %s = ..., or --set %s=HEX)",
				 su->file, st->line, buf, buf, buf);
			return -EINVAL;
		}
		p = close + 1;
	}
	return 0;
}

/* Every variable a suite uses, checked before any reader is opened. */
static int check_vars(const struct suite *su, const struct suite_vars *defs)
{
	for (unsigned i = 0; i < su->nsteps; i++)
		if (check_refs(su, &su->steps[i], su->steps[i].arg, defs, i) < 0
		    || check_refs(su, &su->steps[i], su->steps[i].pattern, defs, i) < 0)
			return -EINVAL;
	return 0;
}

int cmd_test(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct runner R = { .o = opts, .verbose = opts->verbose, .json = opts->json,
			    .step_default_ms = DEFAULT_STEP_MS };
	struct run_results rr = { .json = opts->json };
	struct suite **suites = NULL;
	sigset_t sigs, old_sigs;
	pthread_t sig_th;
	bool sigs_blocked = false, sig_running = false;
	unsigned nsuites = 0, total = 0, tests, failed, skipped;
	char err[512];
	int c, rc = EXIT_USAGE;

	pthread_mutex_init(&R.det_lock, NULL);
	tool_getopt_init(test_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			rr.json = R.json = true;
			break;
		case 'J':
			R.junit = optarg;
			break;
		case 'r':
			if (add_binding(&R, optarg) < 0)
				goto out;
			break;
		case 'c':
			R.control = optarg;
			break;
		case 'T':
		case 'S':
			if (suite_parse_duration(optarg, c == 'T' ? &R.suite_cap_ms : &R.step_default_ms) < 0
			    || !(c == 'T' ? R.suite_cap_ms : R.step_default_ms)) {
				tool_err("test: --%s: '%s' is not a duration (250ms, 5s, 2m; at most 24 hours)",
					 c == 'T' ? "timeout" : "step-timeout", optarg);
				goto out;
			}
			break;
		case 'D': {
			char *eq = strchr(optarg, '='), name[SUITE_NAME_MAX + 1];

			if (!eq || eq == optarg || (size_t)(eq - optarg) > SUITE_NAME_MAX) {
				tool_err("test: --set takes NAME=VALUE, not '%s'", optarg);
				goto out;
			}
			memcpy(name, optarg, (size_t)(eq - optarg));
			name[eq - optarg] = 0;
			if (suite_var_set(&R.defs, name, eq + 1) < 0) {
				tool_err("test: --set %s: a variable name is letters, digits and '_' (at most %u variables)",
					 optarg, SUITE_VARS_MAX);
				goto out;
			}
			break;
		}
		default:
			tool_bad_option("test", argv);
			goto out;
		}
	}
	if (opts->reader && add_binding(&R, opts->reader) < 0)
		goto out;
	if (optind >= argc) {
		tool_err("test: give one or more suite files (usage: %s)", tool_cmd_test.synopsis);
		goto out;
	}
	/* every suite is checked before any reader is touched */
	if (!(suites = calloc((size_t)(argc - optind), sizeof(*suites))))
		goto nomem;
	for (int i = optind; i < argc; i++) {
		size_t len = 0;
		char *text = read_file(argv[i], &len, err, sizeof(err));
		int prc;

		if (!text) {
			tool_err("test: %s", err);
			goto out;
		}
		prc = suite_parse(argv[i], text, len, &suites[nsuites], err, sizeof(err));
		free(text);
		if (prc < 0) {
			tool_err("%s", err);
			if (prc == -ENOMEM)
				rc = EXIT_FAILED;
			goto out;
		}
		if (check_vars(suites[nsuites], &R.defs) < 0) {
			nsuites++;
			goto out;
		}
		total += suites[nsuites++]->ntests;
	}
	for (unsigned i = 0; i < R.nbinds; i++) {
		bool known = !R.binds[i].alias;

		for (unsigned k = 0; k < nsuites && !known; k++) {
			known = !strcmp(R.binds[i].alias, "default") && !suites[k]->nreaders;
			for (unsigned a = 0; a < suites[k]->nreaders && !known; a++)
				known = !strcmp(suites[k]->readers[a].alias, R.binds[i].alias);
		}
		if (!known) {
			tool_err("test: --reader %s=...: no suite declares a reader '%s'", R.binds[i].alias,
				 R.binds[i].alias);
			goto out;
		}
	}
	if (check_readers(&R, suites, nsuites) < 0)
		goto out;
	if (!(R.rsp = malloc(RSP_CAP)) || !(R.apdu = malloc(APDU_CAP)))
		goto nomem;
	/* the signals go to signal_thread only: blocked here before any thread starts */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old_sigs);
	sigs_blocked = true;
	if (watchdog_start(&R) < 0 || pthread_create(&sig_th, NULL, signal_thread, &R) != 0) {
		tool_err("test: cannot start the watchdog and signal threads");
		rc = EXIT_FAILED;
		goto out;
	}
	sig_running = true;
	R.tty = isatty(STDERR_FILENO);
	if (rr.json)
		printf("{\"event\":\"plan\",\"tests\":%u}\n", total);
	else
		printf("TAP version 13\n1..%u\n", total);
	fflush(stdout);
	for (unsigned i = 0; i < nsuites; i++)
		if (run_suite(&R, &rr, suites[i]) < 0)
			goto nomem;
	results_count(&rr, &tests, &failed, &skipped);
	if (atomic_load(&R.stop))
		tool_err("test: interrupted: the tests not run are reported as such");
	if (rr.json)
		printf("{\"event\":\"summary\",\"tests\":%u,\"passed\":%u,\"failed\":%u,\"skipped\":%u}\n", tests,
		       tests - failed - skipped, failed, skipped);
	else
		printf("# %u test%s, %u passed, %u failed%s\n", tests, tests == 1 ? "" : "s", tests - failed - skipped,
		       failed, skipped ? ", some not run" : "");
	rc = failed || skipped ? EXIT_FAILED : EXIT_OK;
	if (R.junit) {
		int jrc = results_write_junit(&rr, R.junit);

		if (jrc < 0) {
			tool_err("test: --junit %s: %s", R.junit, strerror(-jrc));
			rc = EXIT_FAILED;
		}
	}
	goto out;
nomem:
	tool_err("test: out of memory");
	rc = EXIT_FAILED;
out:
	if (sig_running) {
		atomic_store(&R.stop, true);   /* a signal from now on only ends the thread */
		pthread_kill(sig_th, SIGTERM);
		pthread_join(sig_th, NULL);
	}
	watchdog_stop(&R);
	if (sigs_blocked)
		pthread_sigmask(SIG_SETMASK, &old_sigs, NULL);
	for (unsigned i = 0; i < nsuites; i++)
		suite_free(suites[i]);
	free(suites);
	for (unsigned i = 0; i < R.nbinds; i++) {
		free(R.binds[i].alias);
		free(R.binds[i].name);
	}
	free(R.binds);
	suite_vars_clear(&R.defs);
	suite_vars_clear(&R.vars);
	results_free(&rr);
	free(R.rsp);
	free(R.apdu);
	pthread_mutex_destroy(&R.det_lock);
	return rc;
}
