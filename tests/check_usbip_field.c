/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for a remote reader as real USB/IP servers behave (issue 14):
 * the session (uccid_open, libuccid) against the virtual reader's USB/IP
 * server in one of the modes or faults that reproduce the field — an
 * unconfigured export (Linux's usbip-host after `usbip bind`), endpoints
 * that open only on SET_CONFIGURATION (a device server), late RET_UNLINKs,
 * a busy window after a client left, a protocol violation — and the cost
 * of a remote reader counted in PDUs at the server: unlinks while idle,
 * URBs per APDU, round trips to open; a server restart, also under a
 * reader that does not report its cards when configured again (QEMU's),
 * and through uccid selftest's recording shim.  Counts, not times, are
 * asserted.
 * The server runs in a thread of its own; the server and its devices are
 * touched only under f->lock.  Every wait is bounded.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "ccid/ccid.h"
#include "session/session_priv.h"
#include "tests/testutil.h"
#include "tool/selftest/selftest.h"
#include "transport/usbip_client.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

#define TEST_TIMEOUT 60         /* seconds per test */
#define LIST_MS 5000

/* ---------------------------------------------------------------------------
 * The virtual reader's USB/IP server in a thread
 */

struct field {
	struct vdev *d;
	struct usbip_server *srv;
	pthread_t th;
	pthread_mutex_t lock;           /* the server and the device model */
	atomic_bool stop;
	char url[64];
	uint16_t port;
};

static void *server_main(void *arg)
{
	struct field *f = arg;

	while (!atomic_load(&f->stop)) {
		pthread_mutex_lock(&f->lock);
		usbip_server_run_once(f->srv, 5);
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

/* A server exporting a reader of configuration cfg, in modes m (NULL: none). */
static struct field *field_new_config(const struct vdev_config *cfg, const struct usbip_server_modes *m)
{
	struct field *f = calloc(1, sizeof(*f));
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };

	ck_assert_ptr_nonnull(f);
	f->d = vdev_new(cfg);
	ck_assert_ptr_nonnull(f->d);
	dev.dev = f->d;
	f->srv = usbip_server_new();
	ck_assert_ptr_nonnull(f->srv);
	if (m)
		usbip_server_set_modes(f->srv, m);
	ck_assert_int_eq(usbip_server_add_device(f->srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(f->srv, "127.0.0.1", 0), 0);
	f->port = usbip_server_port(f->srv);
	snprintf(f->url, sizeof(f->url), "usbip://127.0.0.1:%u/1-1", (unsigned)f->port);
	pthread_mutex_init(&f->lock, NULL);
	atomic_init(&f->stop, false);
	ck_assert_int_eq(pthread_create(&f->th, NULL, server_main, f), 0);
	return f;
}

static struct field *field_new(enum vdev_profile p, const struct usbip_server_modes *m)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	return field_new_config(&cfg, m);
}

static void field_free(struct field *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->th, NULL);
	usbip_server_free(f->srv);
	vdev_free(f->d);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* ---------------------------------------------------------------------------
 * Sessions
 */

/* The session's log, kept for the tests that check what a user is told. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void keep_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
	pthread_mutex_lock(&log_lock);
	if (strlen(log_text) + strlen(msg) + 16 < sizeof(log_text))
		snprintf(log_text + strlen(log_text), sizeof(log_text) - strlen(log_text), "[%d] %s\n", level, msg);
	pthread_mutex_unlock(&log_lock);
}

static struct uccid_options options(unsigned deadline_ms)
{
	struct uccid_options o = { .exchange_deadline_ms = deadline_ms, .power_deadline_ms = deadline_ms,
				   .log = keep_log, .log_level = UCCID_LOG_DEBUG };

	return o;
}

static struct uccid_reader *open_reader(struct field *f, const struct uccid_options *o)
{
	struct uccid_reader *r = NULL;
	char err[256] = "";

	ck_assert_msg(uccid_open(f->url, o, &r, err, sizeof(err)) == 0, "open %s: %s", f->url, err);
	return r;
}

static uint8_t rsp[70000];
static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

static void power(struct uccid_reader *r)
{
	uint8_t atr[33];
	int n = uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));

	ck_assert_msg(n > 0, "power on: %s", uccid_strerror(n));
}

static void expect_sw(struct uccid_reader *r, const uint8_t *apdu, size_t len, uint16_t want)
{
	ssize_t n = uccid_transmit(r, 0, apdu, len, rsp, sizeof(rsp));

	ck_assert_msg(n >= 2, "transmit: %s", uccid_strerror((int)n));
	ck_assert_uint_eq((uint16_t)(rsp[n - 2] << 8 | rsp[n - 1]), want);
}

/* ---------------------------------------------------------------------------
 * Configure on import, as vhci-hcd does
 */

/*
 * Linux's usbip-host right after `usbip bind`: the device list shows it
 * unconfigured, without interfaces.  It is still listed as a CCID reader
 * (its configuration descriptor says so), and it opens and answers.
 */
START_TEST(test_unconfigured)
{
	struct usbip_server_modes m = { .unconfigured = true };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_usbip_device d[2];
	struct uccid_reader *r;
	char err[256] = "";
	int n;

	n = uccid_usbip_list("127.0.0.1", f->port, d, 2, LIST_MS, err, sizeof(err));
	ck_assert_msg(n == 1, "list: %d %s", n, err);
	ck_assert_str_eq(d[0].busid, "1-1");
	ck_assert_uint_eq(d[0].bConfigurationValue, 0);
	ck_assert(d[0].probed);
	ck_assert_uint_eq(d[0].ninterfaces, 1);
	ck_assert_uint_eq(d[0].intf[0].bInterfaceClass, CCID_USB_CLASS_SMART_CARD);
	ck_assert_int_eq(d[0].ccid, UCCID_USBIP_CCID);

	r = open_reader(f, &o);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * A device server that opens its endpoints only on SET_CONFIGURATION and
 * says in the import reply that the device is configured: uccid configures
 * it anyway, and the reader answers.
 */
START_TEST(test_config_gate)
{
	struct usbip_server_modes m = { .config_gate = true };
	struct field *f = field_new(VDEV_PROFILE_TPDU_T1, &m);
	struct uccid_options o = options(10000);
	struct uccid_usbip_device d[2];
	struct uccid_reader *r;
	char err[256] = "";
	int n;

	n = uccid_usbip_list("127.0.0.1", f->port, d, 2, LIST_MS, err, sizeof(err));
	ck_assert_msg(n == 1, "list: %d %s", n, err);
	ck_assert_uint_eq(d[0].bConfigurationValue, 1);
	ck_assert(!d[0].probed);
	ck_assert_int_eq(d[0].ccid, UCCID_USBIP_CCID);

	r = open_reader(f, &o);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* Both at once: unconfigured in the list, and endpoints closed until configured. */
START_TEST(test_unconfigured_gated)
{
	struct usbip_server_modes m = { .unconfigured = true, .config_gate = true };
	struct field *f = field_new(VDEV_PROFILE_EXTENDED_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_usbip_device d[2];
	struct uccid_reader *r;
	int n;

	n = uccid_usbip_list("127.0.0.1", f->port, d, 2, LIST_MS, NULL, 0);
	ck_assert_int_eq(n, 1);
	ck_assert(d[0].probed);
	ck_assert_int_eq(d[0].ccid, UCCID_USBIP_CCID);
	r = open_reader(f, &o);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* An unconfigured device that another host has imported: listed, class unknown. */
START_TEST(test_unconfigured_busy)
{
	struct usbip_server_modes m = { .unconfigured = true };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_usbip_device d[2];
	struct uccid_reader *r = open_reader(f, &o);
	int n;

	n = uccid_usbip_list("127.0.0.1", f->port, d, 2, LIST_MS, NULL, 0);
	ck_assert_int_eq(n, 1);
	ck_assert(!d[0].probed);
	ck_assert_uint_eq(d[0].ninterfaces, 0);
	ck_assert_int_eq(d[0].ccid, UCCID_USBIP_UNKNOWN);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Late RET_UNLINKs: waited for within the session's deadline
 */

static void arm_fault(struct field *f, enum vdev_fault fault, uint32_t arg, unsigned count)
{
	pthread_mutex_lock(&f->lock);
	ck_assert_int_eq(vdev_set_fault(f->d, 0, fault, arg, count), 0);
	pthread_mutex_unlock(&f->lock);
}

static struct usbip_server_counters counters(struct field *f)
{
	struct usbip_server_counters k;

	pthread_mutex_lock(&f->lock);
	usbip_server_counters(f->srv, &k);
	pthread_mutex_unlock(&f->lock);
	return k;
}

/* Take every event waiting; returns how many. */
static int drain_events(struct uccid_reader *r)
{
	struct uccid_event ev;
	int n = 0, rc;

	while ((rc = uccid_wait_event(r, 300, &ev)) == 1)
		n++;
	ck_assert_msg(rc == 0, "wait_event: %s", uccid_strerror(rc));
	return n;
}

#define UNLINK_DELAY_MS 1500

/* An idle reader whose server answers every CMD_UNLINK 1.5 s late stays. */
START_TEST(test_late_unlink_idle)
{
	struct usbip_server_modes m = { .unlink_delay_ms = UNLINK_DELAY_MS };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);
	struct uccid_event ev;
	int64_t end = uccid_mono_ms() + 3000;
	int rc = 0;

	drain_events(r);
	while (rc == 0 && uccid_mono_ms() < end)
		rc = uccid_wait_event(r, 500, &ev);
	ck_assert_msg(rc == 0, "wait_event: %s", uccid_strerror(rc));
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * Commands whose answers come late, so that the session's bulk-IN reads
 * time out slice after slice, from a server that would answer a CMD_UNLINK
 * 1.5 s late: one answered after 700 ms, one that runs past the exchange
 * deadline and is aborted.  A read that times out leaves its URB submitted
 * for the next one, as a host controller does: the first command costs one
 * bulk-IN CMD_SUBMIT and no CMD_UNLINK however many slices it waits (each
 * slice used to cost an unlink and a new submit).  The connection stays,
 * and the next command is answered.
 */
START_TEST(test_late_unlink_command)
{
	struct usbip_server_modes m = { .unlink_delay_ms = UNLINK_DELAY_MS };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(3000);
	struct uccid_reader *r = open_reader(f, &o);
	struct usbip_server_counters k;
	struct vdev_counters v;
	ssize_t n;

	drain_events(r);
	power(r);
	arm_fault(f, VDEV_FAULT_LATENCY, 700, 1);
	pthread_mutex_lock(&f->lock);
	usbip_server_counters_reset(f->srv);
	vdev_counters_reset(f->d);
	pthread_mutex_unlock(&f->lock);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	k = counters(f);
	pthread_mutex_lock(&f->lock);
	vdev_counters(f->d, &v);
	pthread_mutex_unlock(&f->lock);
	printf("a command answered after 700 ms: %llu bulk-IN CMD_SUBMIT (%llu time extensions), %llu CMD_UNLINK\n",
	       (unsigned long long)k.submit_in[VDEV_BULK_IN & 0x0F], (unsigned long long)v.time_extensions,
	       (unsigned long long)k.unlinks);
	ck_assert_uint_eq(k.unlinks, 0);
	/* one URB per message the reader sent: the answer and each time extension */
	ck_assert_uint_eq(k.submit_in[VDEV_BULK_IN & 0x0F], 1 + v.time_extensions);
	arm_fault(f, VDEV_FAULT_LATENCY, 6000, 1);
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_msg(n == -ETIMEDOUT, "timed-out command: %s", uccid_strerror((int)n));
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Idle: an interrupt-IN URB stays submitted, nothing else goes on the link
 */

/* PDUs a client sent: every CMD_SUBMIT and CMD_UNLINK. */
static uint64_t pdus(const struct usbip_server_counters *k)
{
	uint64_t n = k->unlinks;

	for (unsigned ep = 0; ep < 16; ep++)
		n += k->submit_in[ep] + k->submit_out[ep];
	return n;
}

/*
 * A session waiting for card events for 2 s sends at most one interrupt
 * CMD_SUBMIT and no CMD_UNLINK; then a card event still arrives.
 */
START_TEST(test_idle_link)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);
	struct uccid_reader_info info;
	struct usbip_server_counters k;
	struct uccid_event ev;
	int64_t end;
	unsigned intr;
	int rc = 0;

	ck_assert_int_eq(uccid_info(r, &info), 0);
	intr = info.ep_intr_in & 0x0F;
	ck_assert_uint_ne(intr, 0);
	drain_events(r);
	pthread_mutex_lock(&f->lock);
	usbip_server_counters_reset(f->srv);
	pthread_mutex_unlock(&f->lock);
	end = uccid_mono_ms() + 2000;
	while (rc == 0 && uccid_mono_ms() < end)
		rc = uccid_wait_event(r, (unsigned)(end - uccid_mono_ms() > 0 ? end - uccid_mono_ms() : 1), &ev);
	ck_assert_int_eq(rc, 0);
	k = counters(f);
	fprintf(stderr, "idle 2 s: %llu PDUs (%llu interrupt CMD_SUBMIT, %llu CMD_UNLINK)\n",
		(unsigned long long)pdus(&k), (unsigned long long)k.submit_in[intr], (unsigned long long)k.unlinks);
	ck_assert_uint_eq(k.unlinks, 0);
	ck_assert_uint_le(k.submit_in[intr], 1);
	ck_assert_uint_eq(pdus(&k), k.submit_in[intr]);

	/* the URB left submitted carries the next event */
	pthread_mutex_lock(&f->lock);
	ck_assert_int_eq(vdev_remove_card(f->d, 0, uccid_mono_us()), 0);
	usbip_server_wake(f->srv);
	pthread_mutex_unlock(&f->lock);
	rc = uccid_wait_event(r, 3000, &ev);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(ev.type, UCCID_EVENT_REMOVED);
	k = counters(f);
	ck_assert_uint_eq(k.unlinks, 0);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * The thread waiting for card events sleeps in the transport until the
 * reader speaks: a wait of 1.5 s on an idle reader returns from intr_in
 * once, at its end (before issue 14's second round: every 200 ms).
 */
START_TEST(test_idle_wakeups)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);
	struct uccid_event ev;
	uint64_t w;

	drain_events(r);
	/* The reader's first NotifySlotChange after the host configured it may still be on its
	   way (a loaded machine): it wakes the waiter once without an event.  Settle until a
	   short wait returns from intr_in exactly once, at its end. */
	for (int i = 0; i < 50; i++) {
		uint64_t w0 = uccid_event_wakeups(r);

		if (uccid_wait_event(r, 100, &ev) == 0 && uccid_event_wakeups(r) - w0 == 1)
			break;
	}
	w = uccid_event_wakeups(r);
	ck_assert_int_eq(uccid_wait_event(r, 1500, &ev), 0);
	fprintf(stderr, "idle wait of 1.5 s: %llu returns from intr_in\n",
		(unsigned long long)(uccid_event_wakeups(r) - w));
	ck_assert_uint_eq(uccid_event_wakeups(r) - w, 1);
	uccid_close(r);
	field_free(f);
}
END_TEST

struct waiter {
	struct uccid_reader *r;
	struct uccid_event ev;
	int rc;
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = uccid_wait_event(w->r, UCCID_WAIT_FOREVER, &w->ev);
	return NULL;
}

/* Until a thread sleeps in the transport waiting for events. */
static void until_waiting(struct uccid_reader *r)
{
	bool in = false;

	for (int i = 0; i < 5000 && !(in = uccid_event_waiting(r)); i++)
		usleep(1000);
	ck_assert_msg(in, "nobody waits for events");
}

/*
 * A wait without a limit ends when the reader speaks (a card pulled at the
 * server), and on uccid_wake() from another thread (a stop request), each
 * after one return from intr_in; a wake with nobody waiting ends the next
 * wait at once.  The test's time limit fails it if either never comes.
 */
START_TEST(test_wait_forever)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct waiter w = { .r = open_reader(f, &o) };
	uint64_t n;

	drain_events(w.r);
	n = uccid_event_wakeups(w.r);
	ck_assert_int_eq(pthread_create(&w.th, NULL, waiter_main, &w), 0);
	until_waiting(w.r);
	pthread_mutex_lock(&f->lock);
	ck_assert_int_eq(vdev_remove_card(f->d, 0, uccid_mono_us()), 0);
	usbip_server_wake(f->srv);
	pthread_mutex_unlock(&f->lock);
	pthread_join(w.th, NULL);
	ck_assert_int_eq(w.rc, 1);
	ck_assert_int_eq(w.ev.type, UCCID_EVENT_REMOVED);
	ck_assert_uint_eq(uccid_event_wakeups(w.r) - n, 1);

	n = uccid_event_wakeups(w.r);
	ck_assert_int_eq(pthread_create(&w.th, NULL, waiter_main, &w), 0);
	until_waiting(w.r);
	uccid_wake(w.r);
	pthread_join(w.th, NULL);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_uint_eq(uccid_event_wakeups(w.r) - n, 1);

	uccid_wake(w.r);
	ck_assert_int_eq(uccid_wait_event(w.r, UCCID_WAIT_FOREVER, &w.ev), 0);
	/* and the events the wake overtook are still there: the card comes back */
	pthread_mutex_lock(&f->lock);
	ck_assert_int_eq(vdev_insert_card(f->d, 0, NULL, uccid_mono_us()), 0);
	usbip_server_wake(f->srv);
	pthread_mutex_unlock(&f->lock);
	ck_assert_int_eq(uccid_wait_event(w.r, UCCID_WAIT_FOREVER, &w.ev), 1);
	ck_assert_int_eq(w.ev.type, UCCID_EVENT_INSERTED);
	uccid_close(w.r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Hand-over: an import refused as busy is tried again within the open wait
 */

#define BUSY_WINDOW_MS 1000       /* long enough for a slow (valgrind) open to fall in it */

struct opener {
	struct field *f;
	int wait_ms;
	struct uccid_reader *r;
	int rc;
	char err[256];
	pthread_t th;
};

static void *opener_main(void *arg)
{
	struct opener *op = arg;
	struct uccid_options o = options(10000);

	o.open_wait_ms = op->wait_ms;
	op->rc = uccid_open(op->f->url, &o, &op->r, op->err, sizeof(op->err));
	return NULL;
}

/*
 * The holder closes while another thread waits for the reader; the server
 * refuses imports as busy for 1 s after the holder's connection ends.
 * The waiter's open succeeds, after at least one refusal.
 */
START_TEST(test_handover_busy)
{
	struct usbip_server_modes m = { .busy_after_close_ms = BUSY_WINDOW_MS };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_reader *holder = open_reader(f, &o);
	struct opener op = { .f = f, .wait_ms = 10000 };
	bool queued = false;

	power(holder);
	ck_assert_int_eq(pthread_create(&op.th, NULL, opener_main, &op), 0);
	/* the waiter is queued on the open lock: wait for the event, not for time */
	for (int i = 0; i < 1000 && !queued; i++) {
		struct uccid_holder h;

		queued = uccid_reader_holder(f->url, NULL, -1, &h) == 0 && h.waiters > 0;
		if (!queued)
			usleep(2000);
	}
	ck_assert_msg(queued, "the second opener never queued for the reader");
	uccid_close(holder);
	pthread_join(op.th, NULL);
	ck_assert_msg(op.rc == 0, "hand-over: %s", op.err);
	ck_assert_uint_ge(counters(f).busy, 1);         /* the server did refuse it first */
	power(op.r);
	expect_sw(op.r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(op.r);
	field_free(f);
}
END_TEST

/* Without an open wait, "busy" is final and says so. */
START_TEST(test_busy_no_wait)
{
	struct usbip_server_modes m = { .busy_after_close_ms = BUSY_WINDOW_MS };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);
	char err[256] = "";

	uccid_close(r);
	r = NULL;
	ck_assert_int_eq(uccid_open(f->url, &o, &r, err, sizeof(err)), -EBUSY);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, "server refused import of 1-1: device busy"), "%s", err);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Reasons: the cause the transport recorded reaches the user
 */

static bool log_has(const char *text)
{
	bool r;

	pthread_mutex_lock(&log_lock);
	r = strstr(log_text, text) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

static void log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

/*
 * A server answers a 271-byte bulk-IN URB (the extended-apdu profile's
 * dwMaxCCIDMessageLength) with 272 bytes: the command fails with -ENODEV,
 * and the session's error (level ERROR, which the tool prints by default)
 * names the violation.
 */
START_TEST(test_reason_bad_length)
{
	struct field *f = field_new(VDEV_PROFILE_EXTENDED_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r;
	struct usbip_server_modes m = { .bad_actual_length = 1, .bad_actual_ep = 0x81 };
	ssize_t n;

	o.reconnect_ms = -1;         /* the session ends: the reason is the last word */
	r = open_reader(f, &o);
	power(r);
	log_clear();
	pthread_mutex_lock(&f->lock);
	usbip_server_set_modes(f->srv, &m);
	pthread_mutex_unlock(&f->lock);
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_int_eq(n, -ENODEV);
	ck_assert_msg(log_has("[0] reader removed: protocol violation: RET_SUBMIT ") &&
		      log_has(" with actual_length 272 for a 271-byte URB\n"), "log:\n%s", log_text);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* The connection drops in the middle of an answer: the error says so. */
START_TEST(test_reason_dropped)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r;
	ssize_t n;

	o.reconnect_ms = -1;         /* the session ends: the reason is the last word */
	r = open_reader(f, &o);
	power(r);
	log_clear();
	arm_fault(f, VDEV_FAULT_DROP_CONNECTION, 0, 1);
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_int_eq(n, -ENODEV);
	ck_assert_msg(log_has("[0] reader removed: connection closed in the middle of a URB"), "log:\n%s", log_text);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Round trips: the cost of a remote reader, counted
 */

static struct uccid_transport *wrap_keep(void *ctx, struct uccid_transport *inner)
{
	*(struct uccid_transport **)ctx = inner;
	return inner;
}

/* uccid_open, keeping the USB/IP transport under the session for its stats. */
static struct uccid_reader *open_counted(struct field *f, const struct uccid_options *o, struct uccid_transport **t)
{
	struct uccid_reader *r = NULL;
	char err[256] = "";

	ck_assert_msg(uccid_open_wrapped(f->url, o, wrap_keep, t, &r, err, sizeof(err)) == 0, "open: %s", err);
	return r;
}

static struct uccid_usbip_stats stats(struct uccid_transport *t)
{
	struct uccid_usbip_stats st;

	ck_assert_int_eq(uccid_usbip_stats(t, &st), 0);
	return st;
}

/* Round trips after the import to open a reader (its import reply unconfigured or configured), then to power on. */
#define OPEN_RT_UNCONFIGURED 4
#define OPEN_RT_CONFIGURED 3

START_TEST(test_open_round_trips)
{
	/* _i 0: the import reply says unconfigured (as Linux's usbip-host after bind); 1: configured */
	struct usbip_server_modes m = { .config_gate = _i == 1 };
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, &m);
	struct uccid_options o = options(10000);
	struct uccid_transport *t = NULL;
	struct uccid_reader *r = open_counted(f, &o, &t);
	struct uccid_usbip_stats a, b;
	struct vdev_counters v;

	ck_assert_int_eq(uccid_usbip_stats(NULL, &a), -EINVAL);
	a = stats(t);
	pthread_mutex_lock(&f->lock);
	vdev_counters_reset(f->d);
	pthread_mutex_unlock(&f->lock);
	power(r);
	b = stats(t);
	pthread_mutex_lock(&f->lock);
	vdev_counters(f->d, &v);
	pthread_mutex_unlock(&f->lock);
	fprintf(stderr, "open (import %s): %u round trips, %llu CMD_SUBMIT; power on: %u round trips, %llu CCID "
		"exchanges\n", _i ? "configured" : "unconfigured", a.round_trips, (unsigned long long)a.submits,
		b.round_trips - a.round_trips, (unsigned long long)v.commands);
	ck_assert_uint_eq(a.unlinks, 0);
	ck_assert_uint_eq(a.round_trips, _i ? OPEN_RT_CONFIGURED : OPEN_RT_UNCONFIGURED);
	/* power on: one round trip per CCID exchange (IccPowerOn, then the parameters) */
	ck_assert_uint_eq(b.round_trips - a.round_trips, v.commands + v.time_extensions);
	uccid_close(r);
	field_free(f);
}
END_TEST

struct apdu_case {
	const char *name;
	uint8_t apdu[12];
	size_t len;
	bool extended;                  /* only where extended APDUs get through */
};

static const struct apdu_case apdu_cases[] = {
	{ "SELECT (case 3)", { 0 }, 0, false },
	{ "ECHO 1", { 0x80, 0x10, 0x00, 0x00, 0x01 }, 5, false },
	{ "ECHO 255", { 0x80, 0x10, 0x00, 0x00, 0xFF }, 5, false },
	{ "ECHO 256", { 0x80, 0x10, 0x00, 0x00, 0x00 }, 5, false },
	{ "ECHO 4096", { 0x80, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00 }, 7, true },
	{ "case 4, 3 bytes", { 0x80, 0x10, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00 }, 9, false },
};

/*
 * Every profile and APDU size: the URBs on the wire are exactly one
 * bulk-OUT per CCID command and one bulk-IN per CCID answer (time
 * extensions included), no unlink, and one round trip per exchange (the
 * command and the first read go out together) plus one per time
 * extension: the minimum the CCID spec allows.
 */
START_TEST(test_apdu_urbs)
{
	enum vdev_profile p = (enum vdev_profile)_i;
	struct field *f = field_new(p, NULL);
	struct uccid_options o = options(10000);
	struct uccid_transport *t = NULL;
	struct uccid_reader *r;
	bool ext = p == VDEV_PROFILE_EXTENDED_APDU || p == VDEV_PROFILE_TPDU_T1 || p == VDEV_PROFILE_MECHANICAL;

	o.auto_get_response = true;
	r = open_counted(f, &o, &t);
	power(r);
	for (size_t i = 0; i < sizeof(apdu_cases) / sizeof(apdu_cases[0]); i++) {
		const struct apdu_case *c = &apdu_cases[i];
		struct usbip_server_counters k;
		struct vdev_counters v;
		struct uccid_usbip_stats a, b;
		ssize_t n;

		if (c->extended && !ext)
			continue;
		/* a character-level card knows a command's direction by its INS: ECHO sends, takes no data
		   (check_charlevel runs case 4 there) */
		if (p == VDEV_PROFILE_CHAR_T0 && c->len > 5)
			continue;
		pthread_mutex_lock(&f->lock);
		usbip_server_counters_reset(f->srv);
		vdev_counters_reset(f->d);
		pthread_mutex_unlock(&f->lock);
		a = stats(t);
		if (c->len)
			n = uccid_transmit(r, 0, c->apdu, c->len, rsp, sizeof(rsp));
		else
			n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
		b = stats(t);
		ck_assert_msg(n >= 2 && rsp[n - 2] == 0x90, "%s %s: %s", vdev_profile_name(p), c->name,
			      n < 0 ? uccid_strerror((int)n) : "bad SW");
		pthread_mutex_lock(&f->lock);
		usbip_server_counters(f->srv, &k);
		vdev_counters(f->d, &v);
		pthread_mutex_unlock(&f->lock);
		fprintf(stderr, "%-13s %-15s %zd bytes: %llu CCID exchanges (%llu time extensions): %llu bulk-OUT, "
			"%llu bulk-IN URBs, %llu unlinks, %u round trips\n", vdev_profile_name(p), c->name, n,
			(unsigned long long)v.commands, (unsigned long long)v.time_extensions,
			(unsigned long long)k.submit_out[VDEV_BULK_OUT & 0x0F],
			(unsigned long long)k.submit_in[VDEV_BULK_IN & 0x0F], (unsigned long long)k.unlinks,
			b.round_trips - a.round_trips);
		ck_assert_uint_ge(v.commands, 1);
		ck_assert_uint_eq(k.submit_out[VDEV_BULK_OUT & 0x0F], v.commands);
		ck_assert_uint_eq(k.submit_in[VDEV_BULK_IN & 0x0F], v.answers);
		ck_assert_uint_eq(k.unlinks, 0);
		ck_assert_uint_eq(b.round_trips - a.round_trips, v.commands + v.time_extensions);
	}
	uccid_close(r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Reconnect: a server restart takes the reader away, and it comes back
 */

/*
 * The server restarts: connections dropped, refused for down_ms (600000:
 * until the next call).  0: it serves again now — listening before this
 * returns (one iteration of the loop here).
 */
static void restart(struct field *f, unsigned down_ms)
{
	pthread_mutex_lock(&f->lock);
	ck_assert_int_ge(usbip_server_restart(f->srv, down_ms), 0);
	if (!down_ms)
		ck_assert_int_eq(usbip_server_run_once(f->srv, 0), 0);
	pthread_mutex_unlock(&f->lock);
}

/* The next event within 20 s (the test's limit is what bounds it); its type. */
static enum uccid_event_type next_event(struct uccid_reader *r)
{
	struct uccid_event ev;
	int rc = uccid_wait_event(r, 20000, &ev);

	ck_assert_msg(rc == 1, "wait_event: %s", rc ? uccid_strerror(rc) : "no event");
	return ev.type;
}

/* No event within ms: a card reported once is not reported again. */
static void no_event(struct uccid_reader *r, unsigned ms)
{
	struct uccid_event ev;
	int rc = uccid_wait_event(r, ms, &ev);

	if (rc == 1)
		ck_abort_msg("an event too many: type %d, slot %u", (int)ev.type, ev.slot);
	ck_assert_msg(rc == 0, "wait_event: %s", uccid_strerror(rc));
}

static void link_counts(struct uccid_reader *r, unsigned *tries, uint64_t *reconnects)
{
	pthread_mutex_lock(&r->lock);
	*tries = r->link_tries;
	*reconnects = r->reconnects;
	pthread_mutex_unlock(&r->lock);
}

/*
 * The server restarts under a session that holds the card: the card is
 * reported removed and the reader unavailable, calls fail with -ENOTCONN
 * naming nothing stale; when the server serves again the session
 * re-imports by itself (the event waiter does), the reader is available,
 * and the card is a new card: the lock holder is told (-EMEDIUMTYPE), a
 * power-up acknowledges, and APDUs work.  The reconnect time is printed.
 */
START_TEST(test_reconnect_restart)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_transport *t = NULL;
	struct uccid_reader *r = open_counted(f, &o, &t);
	struct uccid_usbip_stats st;
	uint8_t atr[33];
	unsigned tries;
	uint64_t back;
	int64_t t0;
	ssize_t n;

	drain_events(r);
	ck_assert_int_eq(uccid_lock(r, 0, 0, 0, NULL), 0);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	log_clear();
	restart(f, 600000);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_REMOVED);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_UNAVAILABLE);
	ck_assert_msg(log_has("[0] reader unavailable: server closed the connection; reconnecting"), "log:\n%s",
		      log_text);
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_msg(n == -ENOTCONN, "transmit while down: %s", uccid_strerror((int)n));
	ck_assert_int_eq(uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ENOTCONN);

	t0 = uccid_mono_ms();
	restart(f, 0);                  /* serving again */
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_AVAILABLE);
	link_counts(r, &tries, &back);
	fprintf(stderr, "reconnect after a restart: back %lld ms after the server, %u attempts in all\n",
		(long long)(uccid_mono_ms() - t0), tries);
	ck_assert_uint_eq(back, 1);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_INSERTED);
	no_event(r, 300);               /* the reader's own report of the card is no second card */
	ck_assert_int_eq(uccid_usbip_stats(t, &st), 0);
	ck_assert_uint_eq(st.reconnects, 1);
	/* a new card: the lock holder hears of it, and powers it up */
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_msg(n == -EMEDIUMTYPE, "transmit after the reconnect: %s", uccid_strerror((int)n));
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	ck_assert_int_eq(uccid_unlock(r, 0, UCCID_LEAVE, NULL), 0);
	uccid_close(r);
	field_free(f);
}
END_TEST

struct event_log {
	struct uccid_reader *r;
	enum uccid_event_type type[8];
	int64_t at[8];                  /* ms */
	unsigned n;
	int rc;
	pthread_t th;
};

/* Events until READER_AVAILABLE (or 8 of them, or an error), with their times. */
static void *event_log_main(void *arg)
{
	struct event_log *l = arg;
	struct uccid_event ev;

	while (l->n < 8 && (l->rc = uccid_wait_event(l->r, UCCID_WAIT_FOREVER, &ev)) == 1) {
		l->type[l->n] = ev.type;
		l->at[l->n++] = uccid_mono_ms();
		if (ev.type == UCCID_EVENT_READER_AVAILABLE)
			break;
	}
	return NULL;
}

/*
 * The reconnect time as a user meets it: the server is down for 3 s while
 * the event waiter goes on waiting; it is back within the back-off's
 * longest step (1 s) of the server, after a bounded number of attempts
 * (50 ms doubling: eight in 3 s).  Both figures are printed.
 */
START_TEST(test_reconnect_time)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct event_log l = { .r = open_reader(f, &o) };
	unsigned tries;
	uint64_t back;
	int64_t up;

	drain_events(l.r);
	ck_assert_int_eq(pthread_create(&l.th, NULL, event_log_main, &l), 0);
	until_waiting(l.r);
	up = uccid_mono_ms() + 3000;
	restart(f, 3000);
	pthread_join(l.th, NULL);
	ck_assert_int_eq(l.rc, 1);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.type[0], UCCID_EVENT_REMOVED);
	ck_assert_int_eq(l.type[1], UCCID_EVENT_READER_UNAVAILABLE);
	ck_assert_int_eq(l.type[2], UCCID_EVENT_READER_AVAILABLE);
	link_counts(l.r, &tries, &back);
	fprintf(stderr, "reconnect: the server down 3 s, the reader back %lld ms after it, %u attempts\n",
		(long long)(l.at[2] - up), tries);
	ck_assert_uint_eq(back, 1);
	ck_assert_uint_le(tries, 10);
	ck_assert_int_eq(next_event(l.r), UCCID_EVENT_INSERTED);
	no_event(l.r, 300);
	uccid_close(l.r);
	field_free(f);
}
END_TEST

/*
 * Nobody waits for events: an operation brings the link back itself, once
 * an attempt is due.  A blip (the server back at once) costs the first
 * operation nothing but the reconnect.
 */
START_TEST(test_reconnect_by_operation)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);
	struct uccid_slot_status st;
	uint64_t back;
	unsigned tries;
	int rc;

	drain_events(r);
	power(r);
	restart(f, 0);                  /* a blip: the server is back at once */
	/* the first call finds the connection closed and takes the link down */
	rc = uccid_slot_status(r, 0, &st);
	ck_assert_msg(rc == -ENOTCONN, "status across the drop: %s", uccid_strerror(rc));
	/* the next one reconnects (the first attempt is due at once) */
	rc = uccid_slot_status(r, 0, &st);
	ck_assert_msg(rc == 0, "status after: %s", uccid_strerror(rc));
	ck_assert(st.present);
	ck_assert(!st.powered);         /* a new card: nobody powered it */
	link_counts(r, &tries, &back);
	ck_assert_uint_eq(back, 1);
	ck_assert_uint_eq(tries, 1);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * A GemPC Twin switched to short APDUs at open (uccid_options.vendor_apdu_mode,
 * Escape 1F 02) is a new instance of the device after the link comes back,
 * at the TPDU level it declares: the session switches it again before
 * anything else, or its APDUs would reach a TPDU reader as T=1 blocks.
 */
START_TEST(test_reconnect_vendor_mode)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096], err[256] = "";
	struct vdev_config cfg;
	struct field *f;
	struct uccid_options o = options(10000);
	struct uccid_reader *r;
	struct uccid_slot_status st;
	struct vdev_journal_entry e[64];
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/readers/GemPCTwin.txt", dir ? dir : "tests/data");
	ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	f = field_new_config(&cfg, NULL);
	o.vendor_apdu_mode = true;
	r = open_reader(f, &o);
	drain_events(r);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	restart(f, 0);
	rc = uccid_slot_status(r, 0, &st);
	ck_assert_msg(rc == -ENOTCONN, "status across the drop: %s", uccid_strerror(rc));
	pthread_mutex_lock(&f->lock);
	vdev_journal_clear(f->d);
	pthread_mutex_unlock(&f->lock);
	rc = uccid_slot_status(r, 0, &st);
	ck_assert_msg(rc == 0, "status after: %s", uccid_strerror(rc));
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	/* the Escape went first on the new instance */
	pthread_mutex_lock(&f->lock);
	n = vdev_journal(f->d, 0, 0, e, 64);
	pthread_mutex_unlock(&f->lock);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(e[0].bMessageType, CCID_PC_TO_RDR_ESCAPE);
	ck_assert(e[0].ndata == 2 && e[0].data[0] == 0x1F && e[0].data[1] == 0x02);
	ck_assert_msg(log_has("apdu-mode-gempc-twin: switched again after the reconnect"), "log:\n%s", log_text);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * A reader that does not report its cards when the host configures it
 * again — QEMU's usb-ccid after a re-import; real readers need not either
 * (CCID §6.3.1 reports changes) — still has them reported inserted once
 * the link is back: the session asks each slot (GetSlotStatus), once.
 * _i 0: the event waiter restores the link; 1: an operation does, and
 * the next wait for events reports the card.
 */
START_TEST(test_reconnect_quiet_reader)
{
	struct vdev_config cfg;
	struct field *f;
	struct uccid_options o = options(10000);
	struct uccid_reader *r;
	struct uccid_slot_status st;
	struct uccid_event ev;
	int rc;

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg), 0);
	cfg.no_config_notify = true;
	f = field_new_config(&cfg, NULL);
	r = open_reader(f, &o);
	drain_events(r);
	power(r);
	if (_i == 0) {
		restart(f, 600000);
		ck_assert_int_eq(next_event(r), UCCID_EVENT_REMOVED);
		ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_UNAVAILABLE);
		restart(f, 0);
	} else {
		restart(f, 0);
		rc = uccid_slot_status(r, 0, &st);
		ck_assert_msg(rc == -ENOTCONN, "status across the drop: %s", uccid_strerror(rc));
		rc = uccid_slot_status(r, 0, &st);
		ck_assert_msg(rc == 0, "status after: %s", uccid_strerror(rc));
		ck_assert(st.present && !st.powered);
		ck_assert_int_eq(next_event(r), UCCID_EVENT_REMOVED);
		ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_UNAVAILABLE);
	}
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_AVAILABLE);
	/* within the time the reader takes to answer a status; not a NotifySlotChange's wait */
	rc = uccid_wait_event(r, 5000, &ev);
	ck_assert_msg(rc == 1, "no card reported after the reconnect: %s", rc ? uccid_strerror(rc) : "no event");
	ck_assert_int_eq(ev.type, UCCID_EVENT_INSERTED);
	ck_assert_uint_eq(ev.slot, 0);
	no_event(r, 300);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* With reconnect_ms, an outage longer than that ends the session: the reader is gone for good. */
START_TEST(test_reconnect_limit)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r;
	struct uccid_event ev;
	ssize_t n;

	o.reconnect_ms = 500;
	r = open_reader(f, &o);
	drain_events(r);
	log_clear();
	restart(f, 600000);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_REMOVED);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_UNAVAILABLE);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_REMOVED);
	ck_assert_int_eq(uccid_wait_event(r, 100, &ev), -ENODEV);
	ck_assert_msg(log_has("[0] reader removed: not back within 500 ms ("), "log:\n%s", log_text);
	ck_assert_msg(log_has("connection refused)"), "log:\n%s", log_text);
	n = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_int_eq(n, -ENODEV);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* reconnect_ms -1: the first drop ends the session, as before there was reconnecting. */
START_TEST(test_reconnect_never)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r;

	o.reconnect_ms = -1;
	r = open_reader(f, &o);
	drain_events(r);
	restart(f, 0);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_REMOVED);
	uccid_close(r);
	field_free(f);
}
END_TEST

/*
 * uccid_wake reaches the event waiter while the link is down (a stop
 * request under pcscd), and a wait ends at its deadline then too.
 */
START_TEST(test_reconnect_wake)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct waiter w = { .r = open_reader(f, &o) };

	drain_events(w.r);
	restart(f, 600000);
	ck_assert_int_eq(next_event(w.r), UCCID_EVENT_REMOVED);
	ck_assert_int_eq(next_event(w.r), UCCID_EVENT_READER_UNAVAILABLE);
	ck_assert_int_eq(uccid_wait_event(w.r, 300, &w.ev), 0);
	ck_assert_int_eq(pthread_create(&w.th, NULL, waiter_main, &w), 0);
	uccid_wake(w.r);
	pthread_join(w.th, NULL);
	ck_assert_int_eq(w.rc, 0);
	uccid_close(w.r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * uccid selftest's recording shim between the session and the transport
 */

/*
 * The shim passes on what the transport offers beyond the mandatory calls:
 * an idle event waiter sleeps until woken (wake: one return from intr_in in
 * a 1 s wait, not one every 200 ms), and a server restart is ridden through
 * (why and reconnect: the link comes back, as a new instance of the device,
 * instead of READER_REMOVED), the session's GetSlotStatus after it going
 * through the shim's record.
 */
START_TEST(test_shim_passes_on)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = NULL;
	struct shim *sh = NULL;
	static struct wire_log wl;
	struct uccid_event ev;
	char err[256] = "";
	uint32_t inst;
	uint64_t w;
	bool status = false;

	ck_assert_msg(uccid_open_wrapped(f->url, &o, shim_wrap, &sh, &r, err, sizeof(err)) == 0, "open: %s", err);
	ck_assert_ptr_nonnull(sh);
	drain_events(r);
	/* settle as test_idle_wakeups: the reader's first report may still be on its way */
	for (int i = 0; i < 50; i++) {
		uint64_t w0 = uccid_event_wakeups(r);

		if (uccid_wait_event(r, 100, &ev) == 0 && uccid_event_wakeups(r) - w0 == 1)
			break;
	}
	w = uccid_event_wakeups(r);
	ck_assert_int_eq(uccid_wait_event(r, 1000, &ev), 0);
	ck_assert_msg(uccid_event_wakeups(r) - w == 1, "an idle wait of 1 s through the shim: %llu returns from intr_in",
		      (unsigned long long)(uccid_event_wakeups(r) - w));

	inst = uccid_instance(r);
	restart(f, 0);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_REMOVED);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_UNAVAILABLE);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_READER_AVAILABLE);
	ck_assert_msg(uccid_instance(r) != inst, "the shim still shows the instance before the restart (%08x)", inst);
	shim_clear(sh);
	ck_assert_int_eq(next_event(r), UCCID_EVENT_INSERTED);
	shim_read(sh, &wl);
	for (unsigned i = 0; i < wl.nrec; i++)
		status |= wl.rec[i].out && wl.rec[i].hdr[CCID_OFF_TYPE] == CCID_PC_TO_RDR_GET_SLOT_STATUS;
	ck_assert_msg(status, "no GetSlotStatus recorded after the reconnect (%u messages)", wl.nrec);
	power(r);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	uccid_close(r);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Close: a failure while closing is a failure
 */

/*
 * The connection drops in the middle of the answer to the IccPowerOff
 * that uccid_close sends for the powered card: uccid_close returns
 * -ENODEV, and the session's error named the cause (before issue 14's
 * second round, close said nothing and the tool exited 0).  A clean close
 * returns 0; so does one after uccid_cancel, which the caller asked for.
 */
START_TEST(test_close_failure)
{
	struct field *f = field_new(VDEV_PROFILE_SHORT_APDU, NULL);
	struct uccid_options o = options(10000);
	struct uccid_reader *r = open_reader(f, &o);

	power(r);
	ck_assert_int_eq(uccid_close(r), 0);            /* powered off, all well */

	r = open_reader(f, &o);
	power(r);
	log_clear();
	pthread_mutex_lock(&f->lock);
	ck_assert_int_eq(vdev_set_fault(f->d, 0, VDEV_FAULT_DROP_CONNECTION, 0, 1), 0);
	ck_assert_int_eq(vdev_set_fault_on(f->d, 0, CCID_PC_TO_RDR_ICC_POWER_OFF), 0);
	pthread_mutex_unlock(&f->lock);
	expect_sw(r, SELECT_AID, sizeof(SELECT_AID), 0x9000);   /* the fault waits for the power-off */
	ck_assert_int_eq(uccid_close(r), -ENODEV);
	ck_assert_msg(log_has("[0] reader removed: connection closed in the middle of a URB"), "log:\n%s", log_text);

	r = open_reader(f, &o);
	power(r);
	uccid_cancel(r);
	ck_assert_int_eq(uccid_close(r), 0);
	ck_assert_int_eq(uccid_close(NULL), 0);
	field_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Suite
 */

static Suite *field_suite(void)
{
	Suite *s = suite_create("usbip-field");
	TCase *tc;

	tc = tcase_create("configure");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_unconfigured);
	tcase_add_test(tc, test_config_gate);
	tcase_add_test(tc, test_unconfigured_gated);
	tcase_add_test(tc, test_unconfigured_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("unlink");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_late_unlink_idle);
	tcase_add_test(tc, test_late_unlink_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("idle");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_idle_link);
	tcase_add_test(tc, test_idle_wakeups);
	tcase_add_test(tc, test_wait_forever);
	suite_add_tcase(s, tc);

	tc = tcase_create("busy");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_handover_busy);
	tcase_add_test(tc, test_busy_no_wait);
	suite_add_tcase(s, tc);

	tc = tcase_create("reasons");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_reason_bad_length);
	tcase_add_test(tc, test_reason_dropped);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_close_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("reconnect");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_reconnect_restart);
	tcase_add_test(tc, test_reconnect_time);
	tcase_add_test(tc, test_reconnect_by_operation);
	tcase_add_test(tc, test_reconnect_vendor_mode);
	tcase_add_test(tc, test_reconnect_limit);
	tcase_add_test(tc, test_reconnect_never);
	tcase_add_test(tc, test_reconnect_wake);
	tcase_add_loop_test(tc, test_reconnect_quiet_reader, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("selftest-shim");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_shim_passes_on);
	suite_add_tcase(s, tc);

	tc = tcase_create("round-trips");
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_loop_test(tc, test_open_round_trips, 0, 2);
	/* the CCID profiles: an ICCD token's exchanges are control URBs (check_iccd_session) */
	tcase_add_loop_test(tc, test_apdu_urbs, 0, VDEV_PROFILE_ICCD_A);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(field_suite());
}
