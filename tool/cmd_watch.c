/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid watch: card events with their time, and the ATR of each card
 * inserted, until interrupted.  The watch is a passive holder of the reader
 * (issue 15, docs/locks.md "Passive holders"): when another process opens
 * the reader, the watch closes it and says so, takes it back as soon as that
 * process is done, and reports what changed meanwhile — a card removed,
 * inserted or replaced by one with another ATR — so that monitoring a
 * reader and using it at once works as it does with pcscd.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tool/tool.h"
#include "util/clock.h"

static const struct tool_opt watch_opts[] = {
	{ "slot", required_argument, 's', 's', "N", "only this slot's events (default: every slot's)" },
	{ "no-atr", no_argument, 'A', 0, NULL, "do not power an inserted card to read its ATR: events only" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};

const struct tool_cmd tool_cmd_watch = {
	"watch", cmd_watch, "print card events with their time, and the ATR of each card inserted, until interrupted; "
	"yields the reader to another process meanwhile",
	"uccid [-r NAME] [--wait[=SECONDS] | --no-wait] watch [--slot N] [--no-atr] [--json]", watch_opts, NULL,
};

/* What the watch knows of a slot's card, to say what changed while it was away. */
struct wslot {
	int present;                    /* -1 unknown, 0, 1 */
	uint8_t atr[CCID_ATR_MAX];
	int atr_len;                    /* -1 unknown */
	bool first_report;              /* the watch took the reader back: its first report of the slot
					   is not news when it says what the watch has said */
};

struct watch {
	struct tool_opts o;
	struct tool_session s;
	bool one_slot, no_atr;
	struct wslot slot[CCID_MAX_SLOTS];
	/* shared with the signal thread */
	pthread_mutex_t mu;
	bool away;                      /* (mu) no reader open: yielded, or not yet taken */
	struct uccid_reader *r;         /* (mu) the reader to wake */
	atomic_bool interrupted;         /* set by the signal thread */
};

/*
 * The stop: SIGINT and SIGTERM are blocked in every thread but this one,
 * which waits for them and wakes the watcher (uccid_wake is not for signal
 * handlers); a SIGINT of our own ends it when the watch ends first.  While
 * the watch waits for the reader it holds nothing and prints nothing: it
 * ends there and then.
 */
static void *signal_thread(void *arg)
{
	struct watch *w = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) == 0)
		atomic_store(&w->interrupted, true);
	pthread_mutex_lock(&w->mu);
	if (w->away && atomic_load(&w->interrupted)) {
		fflush(stdout);
		_exit(EXIT_OK);
	}
	if (w->r)
		uccid_wake(w->r);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* "2026-12-07T06:40:01.123+0000": local time with ms and the offset, as pcsc_scan dates its events */
static void watch_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char date[32], zone[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf, cap, "%s.%03ld%s", date, ts.tv_nsec / 1000000, zone);
}

/* CCID 1.1 §6.3.2: the one bHardwareErrorCode defined */
static const char *hw_error_name(uint8_t code)
{
	return code == CCID_HW_ERROR_OVERCURRENT ? "overcurrent" : "a code CCID 1.1 does not define";
}

/* The ATR of an unpowered card: powered to read it (as pcsc_scan shows it) and off again. */
static int read_atr(struct watch *w, unsigned slot, uint8_t *atr, size_t cap, char *why, size_t whylen)
{
	int n = uccid_power_on(w->s.r, slot, UCCID_VOLTAGE_AUTO, atr, cap);

	if (n < 0)
		snprintf(why, whylen, "%s", uccid_strerror(n));
	else
		uccid_power_off(w->s.r, slot);
	return n;
}

/*
 * One card event, on a line of its own; n >= 0: the ATR read (atr), else why
 * ("" when none was read).  away: it happened while the watch had yielded
 * the reader (found on taking it back).
 */
static void print_event(struct watch *w, enum uccid_event_type type, unsigned slot, uint8_t code, const uint8_t *atr,
			int n, const char *why, bool away)
{
	static const char *const names[] = { "inserted", "removed", "hardware-error", "reader-removed",
					     "reader-unavailable", "reader-available", "yield" };
	const char *name = (size_t)type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
	char when[64];

	watch_time(when, sizeof(when));
	if (w->o.json) {
		printf("{\"time\":\"%s\",\"event\":\"%s\",\"slot\":%u,\"code\":%u", when, name, slot, code);
		if (type == UCCID_EVENT_HARDWARE_ERROR) {
			printf(",\"meaning\":");
			json_string(stdout, hw_error_name(code));
		}
		if (n >= 0) {
			printf(",\"atr\":\"");
			tool_print_hex(stdout, atr, (size_t)n, "");
			printf("\"");
		} else if (why[0]) {
			printf(",\"atr_error\":");
			json_string(stdout, why);
		}
		if (away)
			printf(",\"while_yielded\":true");
		printf("}\n");
	} else if (type == UCCID_EVENT_HARDWARE_ERROR) {
		printf("%s slot %u: hardware error %02X (%s)\n", when, slot, code, hw_error_name(code));
	} else {
		printf("%s slot %u: %s", when, slot, name);
		if (n >= 0) {
			printf(", ATR ");
			tool_print_hex(stdout, atr, (size_t)n, " ");
		} else if (why[0]) {
			printf(" (no ATR: %s)", why);
		}
		printf("%s\n", away ? " (while yielded)" : "");
	}
	fflush(stdout);
}

/* What the watch now knows of slot's card. */
static void remember(struct watch *w, unsigned slot, int present, const uint8_t *atr, int n)
{
	struct wslot *ws = &w->slot[slot];

	ws->present = present;
	ws->atr_len = present && n >= 0 ? n : -1;
	if (ws->atr_len > 0)
		memcpy(ws->atr, atr, (size_t)n);
}

/*
 * An event from the reader.  A card inserted is powered to read its ATR and
 * powered off again: the watch leaves it as it found it.
 */
static void watch_event(struct watch *w, const struct uccid_event *e)
{
	uint8_t atr[CCID_ATR_MAX];
	char why[128] = "";
	int n = -1;

	if (e->slot >= CCID_MAX_SLOTS)
		return;
	if (w->slot[e->slot].first_report) {
		/* the reader's first report after the watch took it back (CCID §6.3.1: every slot
		   occupied, and every one changed since its last report, is "changed"): what the
		   watch found then */
		bool same = (e->type == UCCID_EVENT_INSERTED && w->slot[e->slot].present == 1) ||
			    (e->type == UCCID_EVENT_REMOVED && w->slot[e->slot].present == 0);

		w->slot[e->slot].first_report = false;
		if (same)
			return;
	}
	if (e->type == UCCID_EVENT_INSERTED && !w->no_atr)
		n = read_atr(w, e->slot, atr, sizeof(atr), why, sizeof(why));
	if (e->type == UCCID_EVENT_INSERTED)
		remember(w, e->slot, 1, atr, n);
	else if (e->type == UCCID_EVENT_REMOVED)
		remember(w, e->slot, 0, atr, -1);
	print_event(w, e->type, e->slot, e->code, atr, n, why, false);
}

static bool shown(const struct watch *w, unsigned slot)
{
	return !w->one_slot || slot == w->s.slot;
}

/* Open the reader as a passive holder; w->r for the signal thread.  Returns 0 or the open's error (printed). */
static int watch_open(struct watch *w)
{
	int rc = tool_open_session(&w->o, &w->s);

	pthread_mutex_lock(&w->mu);
	if (rc == 0) {
		w->away = false;
		w->r = w->s.r;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/*
 * Ask each slot and report what changed since the watch last knew it: at the
 * start (every slot: a reader without an interrupt pipe, or one that sends
 * no NotifySlotChange when it is opened — QEMU's — would otherwise tell
 * nothing until a card moves; pcsc_scan shows the state at once), and on
 * taking the reader back (resumed: the slots the reader had reported).  The
 * reader's own first report after it is then no news.  Returns 0 or an exit
 * status.
 */
static int watch_sync(struct watch *w, bool resumed)
{
	struct uccid_reader_info info;
	int rc;

	uccid_info(w->s.r, &info);
	for (unsigned i = 0; i < info.nslots && i < CCID_MAX_SLOTS; i++) {
		struct wslot *ws = &w->slot[i];
		struct uccid_slot_status st;
		uint8_t atr[CCID_ATR_MAX];
		char why[128] = "";
		int n = -1;

		/* back: a slot the reader has not reported yet: its first report will */
		if (resumed && ws->present < 0)
			continue;
		rc = uccid_slot_status(w->s.r, i, &st);
		if (rc < 0)
			return tool_fail(&w->s, "watch: slot status", rc);
		/* at the start the ATR is read as for an insertion; back, a card the other process
		   left powered is left so */
		if (shown(w, i) && st.present && (!st.powered || !resumed) && !w->no_atr)
			n = read_atr(w, i, atr, sizeof(atr), why, sizeof(why));
		if (shown(w, i)) {
			bool was = ws->present > 0;
			/* both ATRs known and not the same: another card */
			bool other = n >= 0 && ws->atr_len >= 0 &&
				     (n != ws->atr_len || memcmp(atr, ws->atr, (size_t)n));

			if (was && (!st.present || other))
				print_event(w, UCCID_EVENT_REMOVED, i, 0, atr, -1, "", resumed);
			if (st.present && (!was || other))
				print_event(w, UCCID_EVENT_INSERTED, i, 0, atr, n, why, resumed);
		}
		/* an unread ATR (left powered, --no-atr) keeps the one known, if the card stayed */
		if (n >= 0 || !st.present || !(ws->present > 0))
			remember(w, i, st.present, atr, n);
		ws->first_report = true;
	}
	return 0;
}

/*
 * Another process asked for the reader: close it, say so, take it back once
 * that process is done (the open waits for it, without limit), say so, and
 * report each slot whose card changed meanwhile (of those the reader had
 * reported: the first report of another comes as it would have).  A card still there with
 * the same ATR is taken as the same card; a card left powered by the other
 * process is left so (its ATR is not read).  Returns 0 or an exit status.
 */
static int watch_yield(struct watch *w)
{
	char when[64];
	long pid = 0;
	int64_t t0;
	int rc;

	(void)uccid_yield_asked(w->s.r, &pid);
	pthread_mutex_lock(&w->mu);
	w->away = true;
	w->r = NULL;
	pthread_mutex_unlock(&w->mu);
	(void)tool_close(&w->s, EXIT_OK);
	watch_time(when, sizeof(when));
	if (w->o.json)
		printf("{\"time\":\"%s\",\"event\":\"yielded\",\"pid\":%ld}\n", when, pid);
	else
		printf("%s reader: yielded to pid %ld\n", when, pid);
	fflush(stdout);
	t0 = uccid_mono_ms();
	w->o.wait_ms = -1;
	w->o.quiet = true;
	rc = watch_open(w);
	if (rc < 0)
		return tool_open_failed(rc);
	watch_time(when, sizeof(when));
	if (w->o.json)
		printf("{\"time\":\"%s\",\"event\":\"resumed\",\"away_ms\":%lld}\n", when, (long long)(uccid_mono_ms() - t0));
	else
		printf("%s reader: taken back after %lld ms\n", when, (long long)(uccid_mono_ms() - t0));
	fflush(stdout);
	return watch_sync(w, true);
}

static int parse(struct watch *w, int argc, char **argv)
{
	struct tool_getopt g;
	int c;

	tool_getopt_init(tool_cmd_watch.opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &w->s.slot) < 0)
				return -EINVAL;
			w->one_slot = true;
			break;
		case 'j':
			w->o.json = true;
			break;
		case 'A':
			w->no_atr = true;
			break;
		default:
			tool_bad_option(tool_cmd_watch.name, argv);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		tool_err("watch: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int cmd_watch(const struct tool_opts *opts, int argc, char **argv)
{
	static struct watch w;          /* the signal thread may outlive a return: never on the stack */
	sigset_t set, old;
	pthread_t th;
	int rc;

	memset(&w, 0, sizeof(w));
	w.o = *opts;
	w.away = true;
	pthread_mutex_init(&w.mu, NULL);
	for (unsigned i = 0; i < CCID_MAX_SLOTS; i++)
		w.slot[i] = (struct wslot){ .present = -1, .atr_len = -1 };
	if (parse(&w, argc, argv))
		return EXIT_USAGE;
	/* a monitor waits for the reader as long as it takes, unless told otherwise */
	w.o.passive = true;
	if (!w.o.wait_given)
		w.o.wait_ms = -1;
	/* the watcher sleeps until the reader speaks: no timeout, a signal wakes it */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (pthread_create(&th, NULL, signal_thread, &w) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		tool_err("watch: cannot start a thread");
		return EXIT_FAILED;
	}
	if ((rc = watch_open(&w)) < 0) {
		rc = tool_open_failed(rc);
		goto out;
	}
	if ((rc = watch_sync(&w, false)) != 0)
		goto out;
	while (!atomic_load(&w.interrupted)) {
		struct uccid_event e;

		rc = uccid_wait_event(w.s.r, UCCID_WAIT_FOREVER, &e);
		if (rc < 0) {
			rc = tool_fail(&w.s, "watch", rc);
			goto out;
		}
		if (rc == 0)
			continue;
		if (e.type == UCCID_EVENT_YIELD) {
			rc = watch_yield(&w);
			if (rc)
				goto out;
			continue;
		}
		/* --slot: that slot's card events; the reader's own always */
		if (shown(&w, e.slot) || e.type == UCCID_EVENT_READER_REMOVED ||
		    e.type == UCCID_EVENT_READER_UNAVAILABLE || e.type == UCCID_EVENT_READER_AVAILABLE)
			watch_event(&w, &e);
		if (e.type == UCCID_EVENT_READER_REMOVED) {
			rc = EXIT_FAILED;
			goto out;
		}
	}
	rc = EXIT_OK;
out:
	pthread_mutex_lock(&w.mu);
	w.away = false;                 /* the signal thread ends without exiting for us */
	w.r = NULL;
	pthread_mutex_unlock(&w.mu);
	pthread_kill(th, SIGINT);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_destroy(&w.mu);
	return w.s.r ? tool_close(&w.s, rc) : rc;
}
