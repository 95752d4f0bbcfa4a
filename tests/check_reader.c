/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the reader session (libuccid) against the virtual reader
 * in process: every profile's session through the public API, every fault
 * the virtual reader injects (a clear error within a bounded time, and a
 * session that works again afterwards), card events, threads on the
 * multi-slot profile, unplug and cancel in the middle of an APDU, and
 * protocol selection after power-up (PPS, SetParameters) as pcscd asks it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "vreader/device.h"
#include "transport/usbip_client.h"
#include "vreader/transport_inproc.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

/* Each test runs over both transports: the device model in process, and over USB/IP on loopback. */
enum { OVER_INPROC, OVER_USBIP, OVER_COUNT };

struct rig {
	struct vdev *d;
	struct uccid_transport *t;
	struct uccid_reader *r;
	enum vdev_profile p;
	int over;
	/* USB/IP: the server runs in its own thread; the device is touched only under srv_lock */
	struct usbip_server *srv;
	pthread_t th;
	pthread_mutex_t srv_lock;
	atomic_bool stop;               /* set by the test thread, read by server_thread */
};

static void *server_thread(void *arg)
{
	struct rig *g = arg;

	while (!atomic_load(&g->stop)) {
		pthread_mutex_lock(&g->srv_lock);
		usbip_server_run_once(g->srv, 5);
		pthread_mutex_unlock(&g->srv_lock);
	}
	return NULL;
}

/* Run fn on the device, safely for the transport in use. */
static void on_device(struct rig *g, void (*fn)(struct vdev *d, void *ctx), void *ctx)
{
	if (g->over == OVER_INPROC) {
		vreader_inproc_call(g->t, fn, ctx);
		return;
	}
	pthread_mutex_lock(&g->srv_lock);
	fn(g->d, ctx);
	usbip_server_wake(g->srv);
	pthread_mutex_unlock(&g->srv_lock);
}

/* The reader goes away: the in-process device is unplugged, the USB/IP server stops. */
static void unplug(struct rig *g)
{
	if (g->over == OVER_INPROC) {
		vreader_inproc_unplug(g->t);
		return;
	}
	atomic_store(&g->stop, true);
	pthread_join(g->th, NULL);
	usbip_server_free(g->srv);
	g->srv = NULL;
}

static void quiet_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

/* A rig on a reader configured as cfg (p: the profile it was made from, for messages). */
static struct rig *rig_new_cfg(int over, enum vdev_profile p, const struct vdev_config *cfg, unsigned deadline_ms)
{
	struct rig *g = calloc(1, sizeof(*g));
	/* a USB/IP reader that goes away is gone, as an unplugged one: reconnecting is
	   check_usbip_field's */
	struct uccid_options o = { .exchange_deadline_ms = deadline_ms, .power_deadline_ms = deadline_ms,
				   .log = quiet_log, .log_level = UCCID_LOG_DEBUG, .reconnect_ms = -1 };
	char err[256] = "";

	g->p = p;
	g->over = over;
	g->d = vdev_new(cfg);
	ck_assert_ptr_nonnull(g->d);
	if (over == OVER_INPROC) {
		ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
		ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	} else {
		struct vusb_device dev = { .ops = &vdev_usb_ops, .dev = g->d, .busid = "1-1" };
		char url[64];

		pthread_mutex_init(&g->srv_lock, NULL);
		g->srv = usbip_server_new();
		ck_assert_ptr_nonnull(g->srv);
		ck_assert_int_eq(usbip_server_add_device(g->srv, &dev), 0);
		ck_assert_int_eq(usbip_server_listen(g->srv, "127.0.0.1", 0), 0);
		pthread_create(&g->th, NULL, server_thread, g);
		snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(g->srv));
		ck_assert_msg(uccid_open(url, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	}
	return g;
}

static struct rig *rig_new_over(int over, enum vdev_profile p, unsigned deadline_ms)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	return rig_new_cfg(over, p, &cfg, deadline_ms);
}

static void rig_free(struct rig *g)
{
	uccid_close(g->r);
	if (g->srv) {
		atomic_store(&g->stop, true);
		pthread_join(g->th, NULL);
		usbip_server_free(g->srv);
	}
	vdev_free(g->d);
	free(g);
}

/* Loop tests run each case over each transport: _i = case * OVER_COUNT + transport. */
#define OVER(i) ((i) % OVER_COUNT)
#define CASE(i) ((i) / OVER_COUNT)

struct fault_arm {
	enum vdev_fault f;
	uint32_t arg;
	unsigned count;
};

static void arm_fault_cb(struct vdev *d, void *ctx)
{
	const struct fault_arm *a = ctx;

	vdev_set_fault(d, 0, a->f, a->arg, a->count);
}

/* Arm a fault on slot 0 (the device model is single-threaded: through its owner). */
static void arm_fault(struct rig *g, enum vdev_fault f, uint32_t arg, unsigned count)
{
	struct fault_arm a = { f, arg, count };

	on_device(g, arm_fault_cb, &a);
}

static void remove_cb(struct vdev *d, void *ctx)
{
	(void)ctx;
	vdev_remove_card(d, 0, uccid_mono_us());
}

static void insert_cb(struct vdev *d, void *ctx)
{
	(void)ctx;
	vdev_insert_card(d, 0, NULL, uccid_mono_us());
}

static uint8_t rsp[70000];

static uint16_t xmit(struct rig *g, unsigned slot, const uint8_t *apdu, size_t len, ssize_t *n)
{
	*n = uccid_transmit(g->r, slot, apdu, len, rsp, sizeof(rsp));
	if (*n < 2)
		return 0;
	return (uint16_t)(rsp[*n - 2] << 8 | rsp[*n - 1]);
}

static void expect_sw(struct rig *g, unsigned slot, const uint8_t *apdu, size_t len, uint16_t want)
{
	ssize_t n;
	uint16_t sw = xmit(g, slot, apdu, len, &n);

	ck_assert_msg(n >= 2, "%s: transmit failed: %s", vdev_profile_name(g->p), uccid_strerror((int)n));
	ck_assert_msg(sw == want, "%s: SW %04X, want %04X", vdev_profile_name(g->p), sw, want);
}

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };
static const uint8_t VERIFY_OK[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6' };
static const uint8_t VERIFY_BAD[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '9', '9', '9', '9', '9', '9' };
static const uint8_t VERIFY_STATE[] = { 0x00, 0x20, 0x00, 0x80 };
static const uint8_t ECHO_5[] = { 0x80, 0x10, 0x00, 0x00, 0x05 };

static void echo(struct rig *g, unsigned slot, size_t size)
{
	uint8_t apdu[8] = { 0x80, 0x10, 0x00, 0x00 };
	size_t len;
	ssize_t n;
	uint16_t sw;

	if (size <= 256) {
		apdu[4] = (uint8_t)size;
		len = 5;
	} else {
		apdu[4] = 0;
		apdu[5] = (uint8_t)(size >> 8);
		apdu[6] = (uint8_t)size;
		len = 7;
	}
	sw = xmit(g, slot, apdu, len, &n);
	ck_assert_msg(sw == 0x9000 && (size_t)n == size + 2, "%s ECHO %zu: %zd bytes, SW %04X (%s)",
		      vdev_profile_name(g->p), size, n, sw, n < 0 ? uccid_strerror((int)n) : "");
	for (size_t i = 0; i < size; i++)
		ck_assert_uint_eq(rsp[i], i & 0xFF);
}

static void power(struct rig *g, unsigned slot)
{
	uint8_t atr[33];
	struct ccid_atr a;
	int n = uccid_power_on(g->r, slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));

	ck_assert_msg(n > 0, "%s: power on: %s", vdev_profile_name(g->p), uccid_strerror(n));
	ck_assert_int_eq(ccid_atr_parse(atr, (size_t)n, &a, NULL), 0);
}

START_TEST(test_session)
{
	struct rig *g = rig_new_over(OVER(_i), (enum vdev_profile)CASE(_i), 10000);
	int profile = CASE(_i);
	struct uccid_reader_info info;
	struct uccid_slot_status st;
	uint8_t atr[33];
	ssize_t n;

	ck_assert_int_eq(uccid_info(g->r, &info), 0);
	ck_assert_uint_eq(info.nslots, profile == VDEV_PROFILE_MULTI_SLOT ? 4 : 1);
	power(g, 0);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && st.powered);
	expect_sw(g, 0, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	expect_sw(g, 0, VERIFY_BAD, sizeof(VERIFY_BAD), 0x63C2);
	expect_sw(g, 0, VERIFY_OK, sizeof(VERIFY_OK), 0x9000);
	echo(g, 0, 1);
	echo(g, 0, 255);
	echo(g, 0, 256);
	if (profile == VDEV_PROFILE_EXTENDED_APDU || profile == VDEV_PROFILE_TPDU_T1 || profile == VDEV_PROFILE_MECHANICAL)
		echo(g, 0, 4096);
	/* case 4 over T=0: the data come back with GET RESPONSE */
	if (profile == VDEV_PROFILE_CHAR_T0) {
		/* a character-level card knows a command's direction by its INS (ECHO sends): SELECT with its FCI */
		uint8_t c4[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01, 0x00 };
		uint16_t sw = xmit(g, 0, c4, sizeof(c4), &n);

		ck_assert_msg(sw == 0x9000 && n == 13 && rsp[0] == 0x6F && rsp[10] == 0x01, "%s case 4: SW %04X n %zd",
			      vdev_profile_name(g->p), sw, n);
	} else {
		uint8_t c4[] = { 0x80, 0x10, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00 };
		uint16_t sw = xmit(g, 0, c4, sizeof(c4), &n);

		ck_assert_msg(sw == 0x9000 && n == 5 && rsp[0] == 0xAA && rsp[2] == 0xCC, "%s case 4: SW %04X n %zd",
			      vdev_profile_name(g->p), sw, n);
	}
	/* a warm reset (IccPowerOn on a powered card) loses the PIN state */
	ck_assert_int_gt(uccid_reset(g->r, 0, false, atr, sizeof(atr)), 0);
	expect_sw(g, 0, VERIFY_STATE, sizeof(VERIFY_STATE), 0x63C3);
	ck_assert_int_gt(uccid_reset(g->r, 0, true, atr, sizeof(atr)), 0);
	expect_sw(g, 0, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	/* SLOW: time extensions (APDU level) or S(WTX) (T=1) carry a 1.5 s command */
	{
		static const uint8_t slow[] = { 0x80, 0x12, 0x00, 0x96 };
		int64_t t0 = uccid_mono_ms();

		expect_sw(g, 0, slow, sizeof(slow), 0x9000);
		ck_assert_int_ge(uccid_mono_ms() - t0, 1400);
	}
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, 5, rsp, sizeof(rsp)), -EIO);
	ck_assert_int_eq(uccid_transmit(g->r, 7, ECHO_5, 5, rsp, sizeof(rsp)), -EINVAL);
	rig_free(g);
}
END_TEST

/* A fault, and what the caller must see. */
static const struct fault_case {
	enum vdev_fault fault;
	uint32_t arg;
	int want;              /* transmit result: 0 = success */
	bool at_once;          /* reported before the session's deadline: the answer cannot be stale */
} faults[] = {
	{ VDEV_FAULT_MUTE, 0, -ETIMEDOUT, false },
	{ VDEV_FAULT_WRONG_SEQ, 0, -EPROTO, true },
	{ VDEV_FAULT_STALE_DUPLICATE, 0, 0, false },
	{ VDEV_FAULT_ZLP, 0, 0, false },
	{ VDEV_FAULT_TRUNCATED, 0, -EPROTO, true },
	{ VDEV_FAULT_LENGTH_OVER, 0, -EPROTO, true },
	{ VDEV_FAULT_LENGTH_HUGE, 0, -EPROTO, true },
	{ VDEV_FAULT_GARBAGE, 0, -EPROTO, true },
	{ VDEV_FAULT_ENDLESS_WTX, 0, -ETIMEDOUT, false },
	{ VDEV_FAULT_SLOT_BUSY, 0, 0, false },
	{ VDEV_FAULT_HW_ERROR, 0, -EIO, true },
	{ VDEV_FAULT_STALL, 0, -EPROTO, true },
	{ VDEV_FAULT_LATENCY, 300, 0, false },
};

START_TEST(test_fault)
{
	const struct fault_case *f = &faults[CASE(_i)];
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 1500);
	int64_t t0;
	ssize_t n;

	power(g, 0);
	expect_sw(g, 0, ECHO_5, sizeof(ECHO_5), 0x9000);
	arm_fault(g, f->fault, f->arg, 1);
	t0 = uccid_mono_ms();
	n = uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp));
	if (f->want == 0)
		ck_assert_msg(n == 7, "%s: %s", vdev_fault_name(f->fault), n < 0 ? uccid_strerror((int)n) : "short");
	else
		ck_assert_msg(n == f->want, "%s: got %zd (%s), want %d", vdev_fault_name(f->fault), n,
			      n < 0 ? uccid_strerror((int)n) : "data", f->want);
	/* bounded: the session's deadline (1.5 s), the abort (1 s), and slack for valgrind */
	ck_assert_int_lt(uccid_mono_ms() - t0, 4000);
	if (f->at_once)
		ck_assert_msg(uccid_mono_ms() - t0 < 1000, "%s: reported after %lld ms, not at once", vdev_fault_name(f->fault),
			      (long long)(uccid_mono_ms() - t0));
	/* and the session works again */
	expect_sw(g, 0, ECHO_5, sizeof(ECHO_5), 0x9000);
	rig_free(g);
}
END_TEST

START_TEST(test_fault_t1_edc)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_TPDU_T1, 5000);

	power(g, 0);
	arm_fault(g, VDEV_FAULT_T1_EDC, 0, 2);
	echo(g, 0, 200);           /* the engine recovers with R-blocks */
	rig_free(g);
}
END_TEST

/* A new session on the rig's device, as the next process gets: the old one closed. */
static void reopen(struct rig *g)
{
	struct uccid_options o = { .exchange_deadline_ms = 3000, .power_deadline_ms = 3000, .log = quiet_log,
				   .log_level = UCCID_LOG_DEBUG, .reconnect_ms = -1 };
	char err[256] = "";

	uccid_close(g->r);
	g->r = NULL;
	if (g->over == OVER_INPROC) {
		ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
		ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	} else {
		char url[64];

		snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(g->srv));
		ck_assert_msg(uccid_open(url, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	}
}

/*
 * A card its owner left powered (unlock LEAVE) is taken over by the next
 * session as it is — its PIN still verified — for T=0 and T=1 at TPDU level
 * (GetParameters; T=1 restarts its block numbering with S(RESYNCH)) and at
 * APDU level; a card nobody left powered is not (-ENODATA: power it on),
 * and no card is -ENOMEDIUM.
 */
START_TEST(test_resume)
{
	static const enum vdev_profile profiles[] = { VDEV_PROFILE_TPDU_T0, VDEV_PROFILE_TPDU_T1,
						      VDEV_PROFILE_SHORT_APDU, VDEV_PROFILE_EXTENDED_APDU };
	struct rig *g = rig_new_over(OVER(_i), profiles[CASE(_i)], 3000);
	struct uccid_slot_status st;

	ck_assert_int_eq(uccid_resume(g->r, 0), -ENODATA);
	power(g, 0);
	expect_sw(g, 0, VERIFY_OK, sizeof(VERIFY_OK), 0x9000);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, NULL), 0);
	reopen(g);
	ck_assert_int_eq(uccid_resume(g->r, 0), 0);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.powered);
	ck_assert_uint_eq(st.protocol, profiles[CASE(_i)] == VDEV_PROFILE_TPDU_T0 ? 0 : 1);
	expect_sw(g, 0, VERIFY_STATE, sizeof(VERIFY_STATE), 0x9000);   /* still verified */
	echo(g, 0, 200);
	/* the protocol it runs, asked for (pcscd's IFDHSetProtocolParameters): nothing to do */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, st.protocol, 0), 0);
	expect_sw(g, 0, VERIFY_STATE, sizeof(VERIFY_STATE), 0x9000);
	/* closed without LEAVE: powered off, nothing to take over */
	reopen(g);
	ck_assert_int_eq(uccid_resume(g->r, 0), -ENODATA);
	power(g, 0);
	expect_sw(g, 0, VERIFY_STATE, sizeof(VERIFY_STATE), 0x63C3);
	on_device(g, remove_cb, NULL);
	ck_assert_int_eq(uccid_resume(g->r, 0), -ENOMEDIUM);
	rig_free(g);
}
END_TEST

/* Card events, one per change, however the changes fall against the interrupt polls. */
START_TEST(test_event_cycles)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 3000);
	static const unsigned gaps_ms[] = { 0, 30, 90, 150, 210, 420 };
	struct uccid_event e;

	while (uccid_wait_event(g->r, 300, &e) == 1)
		;                                   /* the report since the open */
	for (unsigned k = 0; k < 2 * sizeof(gaps_ms) / sizeof(gaps_ms[0]); k++) {
		bool out = k % 2 == 0;

		usleep(gaps_ms[k / 2] * 1000);
		on_device(g, out ? remove_cb : insert_cb, NULL);
		ck_assert_msg(uccid_wait_event(g->r, 2000, &e) == 1, "change %u (%s after %u ms): no event", k,
			      out ? "removal" : "insertion", gaps_ms[k / 2]);
		ck_assert_int_eq(e.type, out ? UCCID_EVENT_REMOVED : UCCID_EVENT_INSERTED);
	}
	rig_free(g);
}
END_TEST

/*
 * A mute card at TPDU level: one ICC_MUTE is recovered with an R-block
 * (ISO 7816-3 §11.6.3.2 rule 7.1); a card that stays mute ends in
 * -ETIMEDOUT (not "protocol error") once RESYNCH fails too, and a reset
 * brings it back.
 */
START_TEST(test_fault_t1_mute)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_TPDU_T1, 5000);

	power(g, 0);
	arm_fault(g, VDEV_FAULT_MUTE, 0, 1);
	echo(g, 0, 20);
	arm_fault(g, VDEV_FAULT_MUTE, 0, 0);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -ETIMEDOUT);
	arm_fault(g, VDEV_FAULT_NONE, 0, 0);
	power(g, 0);
	echo(g, 0, 20);
	rig_free(g);
}
END_TEST

/*
 * The pipe may hold a previous session's answer when a session starts (QEMU's
 * usb-ccid keeps one): its bSeq is foreign to the new session, and it is
 * skipped, not taken for a reader breaking CCID §6.2.
 */
START_TEST(test_leftover_answer)
{
	struct rig *g = rig_new_over(OVER_USBIP, VDEV_PROFILE_SHORT_APDU, 3000);
	struct uccid_options o = { .exchange_deadline_ms = 3000, .power_deadline_ms = 3000, .log = quiet_log,
				   .log_level = UCCID_LOG_DEBUG };
	char url[64], err[256] = "";
	int64_t t0;

	power(g, 0);
	echo(g, 0, 20);
	echo(g, 0, 20);
	uccid_close(g->r);
	g->r = NULL;
	arm_fault(g, VDEV_FAULT_STALE_DUPLICATE, 0, 1);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(g->srv));
	t0 = uccid_mono_ms();
	ck_assert_msg(uccid_open(url, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	power(g, 0);
	echo(g, 0, 20);
	ck_assert_int_lt(uccid_mono_ms() - t0, 2000);
	rig_free(g);
}
END_TEST

START_TEST(test_card_removed_mid_apdu)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 5000);
	struct uccid_event e;
	uint8_t atr[33];

	power(g, 0);
	arm_fault(g, VDEV_FAULT_REMOVE_MID_APDU, 0, 1);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -ENOMEDIUM);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -ENOMEDIUM);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);   /* present (initial report) or removed */
	while (e.type == UCCID_EVENT_INSERTED)
		ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_REMOVED);
	ck_assert_int_eq(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ENOMEDIUM);
	on_device(g, insert_cb, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_INSERTED);
	power(g, 0);
	expect_sw(g, 0, ECHO_5, sizeof(ECHO_5), 0x9000);
	rig_free(g);
}
END_TEST

/*
 * The reader's first NotifySlotChange after configuration marks every
 * occupied slot changed; for a card the session has already powered it must
 * not be taken for a new card (which would unpower it under the caller).
 */
START_TEST(test_first_notify_keeps_card)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 5000);
	struct uccid_event e;

	power(g, 0);
	while (uccid_wait_event(g->r, 300, &e) == 1)
		ck_assert_msg(e.type != UCCID_EVENT_REMOVED, "a removal nobody made");
	expect_sw(g, 0, ECHO_5, sizeof(ECHO_5), 0x9000);
	/* a real change afterwards still counts */
	on_device(g, remove_cb, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_REMOVED);
	rig_free(g);
}
END_TEST

START_TEST(test_hardware_error_event)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 5000);
	struct uccid_reader_error le;
	struct uccid_event e;

	power(g, 0);
	arm_fault(g, VDEV_FAULT_HW_ERROR, 0, 1);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -EIO);
	ck_assert_int_eq(uccid_last_error(g->r, 0, &le), 0);
	ck_assert(le.valid);
	ck_assert_uint_eq(le.bError, CCID_ERR_HW_ERROR);
	do
		ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	while (e.type == UCCID_EVENT_INSERTED);
	ck_assert_int_eq(e.type, UCCID_EVENT_HARDWARE_ERROR);
	ck_assert_uint_eq(e.code, CCID_HW_ERROR_OVERCURRENT);
	ck_assert_int_eq(uccid_wait_event(g->r, 0, &e), 0);
	rig_free(g);
}
END_TEST

START_TEST(test_drop_connection)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 5000);
	struct uccid_event e;
	uint8_t atr[33];

	power(g, 0);
	arm_fault(g, VDEV_FAULT_DROP_CONNECTION, 0, 1);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -ENODEV);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), -ENODEV);
	ck_assert_int_eq(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ENODEV);
	ck_assert_int_eq(uccid_wait_event(g->r, 100, &e), 1);
	while (e.type != UCCID_EVENT_READER_REMOVED)
		ck_assert_int_eq(uccid_wait_event(g->r, 100, &e), 1);
	rig_free(g);
}
END_TEST

struct slow_call {
	struct rig *g;
	ssize_t result;
	int64_t ms;
};

static void *slow_thread(void *arg)
{
	struct slow_call *c = arg;
	static const uint8_t slow[] = { 0x80, 0x12, 0x01, 0x2C };   /* 3 s */
	static uint8_t buf[300];
	int64_t t0 = uccid_mono_ms();

	c->result = uccid_transmit(c->g->r, 0, slow, sizeof(slow), buf, sizeof(buf));
	c->ms = uccid_mono_ms() - t0;
	return NULL;
}

/* Unplugged (or cancelled) in the middle of an APDU: a prompt, clear error. */
START_TEST(test_unplug_mid_apdu)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 10000);
	struct slow_call c = { .g = g };
	bool pull = CASE(_i) == 0;
	pthread_t th;

	power(g, 0);
	pthread_create(&th, NULL, slow_thread, &c);
	usleep(300 * 1000);
	if (pull)
		unplug(g);
	else
		uccid_cancel(g->r);
	pthread_join(th, NULL);
	ck_assert_int_eq(c.result, pull ? -ENODEV : -ECANCELED);
	ck_assert_int_lt(c.ms, 1500);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, 5, rsp, sizeof(rsp)), pull ? -ENODEV : -ECANCELED);
	rig_free(g);
}
END_TEST

struct worker {
	struct rig *g;
	unsigned slot;
	int failures;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint8_t apdu[261], out[300];

	apdu[0] = 0x80;
	apdu[1] = 0x10;
	apdu[2] = apdu[3] = 0;
	apdu[4] = 255;
	for (unsigned k = 0; k < 30; k++) {
		ssize_t n;

		for (int i = 0; i < 255; i++)
			apdu[5 + i] = (uint8_t)(i + w->slot * 31 + k);
		apdu[260] = 0;
		n = uccid_transmit(w->g->r, w->slot, apdu, sizeof(apdu), out, sizeof(out));
		if (n != 257 || memcmp(out, apdu + 5, 255) || out[255] != 0x90)
			w->failures++;
	}
	return NULL;
}

/* Four threads on four slots of one reader: no answer goes to the wrong slot. */
START_TEST(test_threads_multi_slot)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_MULTI_SLOT, 10000);
	struct worker w[4];
	pthread_t th[4];

	for (unsigned s = 0; s < 4; s++)
		power(g, s);
	for (unsigned s = 0; s < 4; s++) {
		w[s] = (struct worker){ .g = g, .slot = s };
		pthread_create(&th[s], NULL, worker, &w[s]);
	}
	for (unsigned s = 0; s < 4; s++) {
		pthread_join(th[s], NULL);
		ck_assert_msg(w[s].failures == 0, "slot %u: %d wrong answers", s, w[s].failures);
	}
	rig_free(g);
}
END_TEST

START_TEST(test_mechanical)
{
	struct rig *g = rig_new_over(OVER(_i), VDEV_PROFILE_MECHANICAL, 5000);
	struct rig *h = rig_new_over(OVER(_i), VDEV_PROFILE_SHORT_APDU, 5000);
	struct uccid_slot_status st;

	power(g, 0);
	ck_assert_int_eq(uccid_mechanical(g->r, 0, CCID_MECH_LOCK), 0);
	ck_assert_int_eq(uccid_mechanical(g->r, 0, CCID_MECH_EJECT), -EIO);   /* locked in */
	ck_assert_int_eq(uccid_mechanical(g->r, 0, CCID_MECH_UNLOCK), 0);
	ck_assert_int_eq(uccid_mechanical(g->r, 0, CCID_MECH_EJECT), 0);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(!st.present);
	ck_assert_int_eq(uccid_mechanical(h->r, 0, CCID_MECH_EJECT), -ENOTSUP);
	ck_assert_int_eq(uccid_mechanical(h->r, 0, 9), -EINVAL);
	rig_free(g);
	rig_free(h);
}
END_TEST

/* ---- protocol selection after power-up (uccid_set_protocol) ---- */

struct jread {
	uint64_t from;
	struct vdev_journal_entry e[64];
	size_t n;
};

static void journal_cb(struct vdev *d, void *ctx)
{
	struct jread *j = ctx;

	j->n = vdev_journal(d, 0, j->from, j->e, sizeof(j->e) / sizeof(j->e[0]));
}

/*
 * The host's commands on slot 0 since *mark (which moves past them), one word
 * each: "on" / "warm" (IccPowerOn), "pps:PPS0[,PPS1]" (an XfrBlock carrying a
 * PPS), "xfr" (any other XfrBlock), "set:T/FIDI" (SetParameters), else the
 * message type in hex; GetSlotStatus (expect_runs) is left out.
 */
static const char *host_cmds(struct rig *g, uint64_t *mark)
{
	static char out[512];
	struct jread j = { .from = *mark };
	size_t len = 0;

	on_device(g, journal_cb, &j);
	out[0] = '\0';
	for (size_t i = 0; i < j.n; i++) {
		const struct vdev_journal_entry *e = &j.e[i];
		char w[32];

		*mark = e->index + 1;
		if (!e->from_host || e->bMessageType == CCID_PC_TO_RDR_GET_SLOT_STATUS)
			continue;
		if (e->bMessageType == CCID_PC_TO_RDR_ICC_POWER_ON)
			snprintf(w, sizeof(w), "%s", e->warm ? "warm" : "on");
		else if (e->bMessageType == CCID_PC_TO_RDR_XFR_BLOCK && e->ndata >= 3 && e->data[0] == 0xFF)
			snprintf(w, sizeof(w), (e->data[1] & 0x10) ? "pps:%02X,%02X" : "pps:%02X", e->data[1], e->data[2]);
		else if (e->bMessageType == CCID_PC_TO_RDR_XFR_BLOCK)
			snprintf(w, sizeof(w), "xfr");
		else if (e->bMessageType == CCID_PC_TO_RDR_SET_PARAMETERS && e->ndata >= 1)
			snprintf(w, sizeof(w), "set:%u/%02X", e->b7, e->data[0]);
		else
			snprintf(w, sizeof(w), "%02X", e->bMessageType);
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "", w);
		if (len >= sizeof(out))
			break;
	}
	return out;
}

static void expect_cmds(struct rig *g, uint64_t *mark, const char *want, const char *what)
{
	const char *got = host_cmds(g, mark);

	ck_assert_msg(!strcmp(got, want), "%s: the host sent '%s', want '%s'", what, got, want);
}

static void expect_runs(struct rig *g, uint8_t protocol, uint8_t fidi)
{
	struct uccid_slot_status st;

	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert_msg(st.powered && st.protocol == protocol && st.params.fidi == fidi,
		      "the card runs T=%u at %02X, want T=%u at %02X", st.protocol, st.params.fidi, protocol, fidi);
}

/* A reader of profile p with both protocols, and a card offering both (T=1 its default when t1_first). */
static void both_cfg(enum vdev_profile p, bool t1_first, struct vdev_config *cfg)
{
	ck_assert_int_eq(vdev_profile_config(p, cfg), 0);
	cfg->desc.dwProtocols = CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1;
	vcard_config_default(&cfg->card, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg->card.ta1 = 0x96;
	cfg->card.t1_first = t1_first;
}

/*
 * TPDU level, a card offering T=0 and T=1 (_i: its default T=0 or T=1):
 * power-up runs T=1; T=0 and back need a warm reset, a PPS and SetParameters
 * (for T=1 the IFSD again); a wrong PPS answer resets the card to its default.
 */
START_TEST(test_set_protocol)
{
	bool t1_first = CASE(_i);
	uint8_t dflt = t1_first ? 1 : 0;
	struct vdev_config cfg;
	struct rig *g;
	uint64_t mark = 0;
	char want[64];

	both_cfg(VDEV_PROFILE_TPDU_T1, t1_first, &cfg);
	g = rig_new_cfg(OVER(_i), VDEV_PROFILE_TPDU_T1, &cfg, 5000);
	power(g, 0);
	expect_cmds(g, &mark, "on pps:11,96 set:1/96 xfr", "power-up");
	expect_runs(g, 1, 0x96);

	/* what power-up negotiated: nothing to do */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), 0);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0x96), 0);
	expect_cmds(g, &mark, "", "T=1 again");

	/* T=0: a PPS for T=0 at TA1's Fi/Di after a warm reset, SetParameters for T=0 */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), 1);
	expect_cmds(g, &mark, "warm pps:10,96 set:0/96", "T=0");
	expect_runs(g, 0, 0x96);
	expect_sw(g, 0, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	echo(g, 0, 255);
	expect_cmds(g, &mark, "xfr xfr", "APDUs under T=0");

	/* back to T=1: the IFSD is announced again (an S(IFS) request) */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), 1);
	expect_cmds(g, &mark, "warm pps:11,96 set:1/96 xfr", "T=1");
	expect_runs(g, 1, 0x96);
	echo(g, 0, 255);
	host_cmds(g, &mark);

	/* PTS1 as the caller gives it; this one the card declines (answers without PPS1): Fd/Dd */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x13), 1);
	expect_cmds(g, &mark, "warm pps:10,13 set:0/11", "T=0 at 13");
	expect_runs(g, 0, 0x11);
	expect_sw(g, 0, SELECT_AID, sizeof(SELECT_AID), 0x9000);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x11), 0);
	host_cmds(g, &mark);

	/* refused before anything is sent */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x94), -ENOTSUP);      /* 62 500 bps: not a rate of the reader */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 2, 0), -EINVAL);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x71), -EINVAL);       /* Fi index 7 is RFU */
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x10), -EINVAL);       /* Di index 0 is RFU */
	ck_assert_int_eq(uccid_set_protocol(g->r, 1, 0, 0), -EINVAL);
	expect_cmds(g, &mark, "", "refusals");

	/* a wrong PPS answer (ISO 7816-3 §9.3): another reset; the card runs its default at Fd/Dd */
	arm_fault(g, VDEV_FAULT_PPS_WRONG, 0, 1);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), -EPROTO);
	snprintf(want, sizeof(want), "warm pps:11,96 warm set:%u/11%s", dflt, t1_first ? " xfr" : "");
	expect_cmds(g, &mark, want, "wrong PPS answer");
	expect_runs(g, dflt, 0x11);
	echo(g, 0, 255);

	/* a card that is not powered; a card that is gone */
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), -EIO);
	power(g, 0);
	on_device(g, remove_cb, NULL);
	ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), -ENOMEDIUM);
	rig_free(g);
}
END_TEST

/*
 * What the card's ATR or the reader rules out, and the readers that do PPS
 * themselves: 0 a T=1-only card, 1 specific mode (TA2: T=0), 2 a reader
 * without T=0, 3 short-APDU level with automatic PPS (80), 4 a reader that
 * negotiates by its own rules (40).
 */
START_TEST(test_set_protocol_limits)
{
	struct vdev_config cfg;
	enum vdev_profile p = _i >= 3 ? VDEV_PROFILE_SHORT_APDU : VDEV_PROFILE_TPDU_T1;
	struct rig *g;
	uint64_t mark = 0;

	both_cfg(p, false, &cfg);
	switch (_i) {
	case 0:
		vcard_config_default(&cfg.card, VCARD_PROTO_T1);
		cfg.card.ta1 = 0x96;
		break;
	case 1:
		cfg.card.specific_mode = true;
		break;
	case 2:
		cfg.desc.dwProtocols = CCID_PROTOCOLS_T1;
		break;
	case 4:
		cfg.desc.dwFeatures = (cfg.desc.dwFeatures & ~CCID_FEAT_AUTO_PPS_CUR) | CCID_FEAT_AUTO_PPS_PROP;
		break;
	}
	g = rig_new_cfg(OVER_INPROC, p, &cfg, 5000);
	power(g, 0);
	host_cmds(g, &mark);
	switch (_i) {
	case 0:
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), -EPROTONOSUPPORT);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), 0);
		break;
	case 1:
		expect_runs(g, 0, 0x96);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), -EPROTONOSUPPORT);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x11), -EPROTONOSUPPORT);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), 0);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0x96), 0);
		break;
	case 2:
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), -ENOTSUP);
		break;
	case 3:
		/* the reader does the PPS itself: a warm reset and SetParameters */
		expect_runs(g, 1, 0x96);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), 1);
		expect_cmds(g, &mark, "warm set:0/96", "T=0 at APDU level");
		expect_runs(g, 0, 0x96);
		expect_sw(g, 0, SELECT_AID, sizeof(SELECT_AID), 0x9000);
		host_cmds(g, &mark);
		break;
	case 4:
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 1, 0), 0);
		ck_assert_int_eq(uccid_set_protocol(g->r, 0, 0, 0), -ENOTSUP);
		break;
	}
	expect_cmds(g, &mark, "", "refused or kept");
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), 7);
	rig_free(g);
}
END_TEST

/* A card that answers only at 3 V on a reader without automatic voltage selection: 5 V, then 3 V. */
START_TEST(test_voltage_fallback)
{
	struct vdev_config cfg;
	struct vdev *d;
	struct uccid_transport *t;
	struct uccid_reader *r;
	struct uccid_options o = { .log = quiet_log };
	struct vdev_journal_entry e[32];
	uint8_t atr[33], selects[8];
	unsigned nsel = 0;
	size_t n;

	vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg);
	cfg.desc.dwFeatures &= ~CCID_FEAT_AUTO_VOLTAGE;
	cfg.card_voltages = CCID_VOLTAGE_3V;
	d = vdev_new(&cfg);
	ck_assert_int_eq(vreader_inproc_open(d, &t), 0);
	ck_assert_int_eq(uccid_open_transport(t, &o, &r, NULL, 0), 0);
	ck_assert_int_gt(uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	ck_assert_int_eq(uccid_transmit(r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), 7);
	/* a fixed voltage the card does not take fails cleanly */
	ck_assert_int_eq(uccid_power_on(r, 0, UCCID_VOLTAGE_1V8, atr, sizeof(atr)), -ETIMEDOUT);
	uccid_close(r);
	n = vdev_journal(d, 0, 0, e, 32);
	for (size_t i = 0; i < n && nsel < sizeof(selects); i++)
		if (e[i].from_host && e[i].bMessageType == CCID_PC_TO_RDR_ICC_POWER_ON)
			selects[nsel++] = e[i].b7;
	ck_assert_uint_ge(nsel, 3);
	ck_assert_uint_eq(selects[0], CCID_POWER_5V);
	ck_assert_uint_eq(selects[1], CCID_POWER_3V);
	ck_assert_uint_eq(selects[2], CCID_POWER_1V8);
	vdev_free(d);
}
END_TEST

/* A reader without an interrupt endpoint: card events come from polling GetSlotStatus. */
START_TEST(test_polled_events)
{
	struct vdev_config cfg;
	struct rig *g = calloc(1, sizeof(*g));
	struct uccid_options o = { .log = quiet_log };
	struct uccid_reader_info info;
	struct uccid_event e;

	vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg);
	cfg.no_interrupt = true;
	g->d = vdev_new(&cfg);
	g->p = VDEV_PROFILE_SHORT_APDU;
	ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
	ck_assert_int_eq(uccid_open_transport(g->t, &o, &g->r, NULL, 0), 0);
	ck_assert_int_eq(uccid_info(g->r, &info), 0);
	ck_assert(!info.has_interrupt);
	ck_assert_int_eq(uccid_wait_event(g->r, 300, &e), 0);    /* nothing happened */
	on_device(g, remove_cb, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_REMOVED);
	on_device(g, insert_cb, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_INSERTED);
	rig_free(g);
}
END_TEST

/* Readers from the field with known structural faults: named, and the session still works. */
START_TEST(test_quirks)
{
	static const struct { const char *file, *quirk; } cases[] = {
		{ "ACS_ACR1581.txt", "ifsd-above-254" },
		{ "Feitian_SCR310.txt", "busy-slots-zero" },
		{ "Precise_200_MC_Upgrade.txt", "message-length-above-max" },
	};
	const char *dir = getenv("UCCID_TEST_DATA");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[4096], err[256] = "";
		struct vdev_config cfg;
		struct vdev *d;
		struct uccid_transport *t;
		struct uccid_reader *r;
		struct uccid_reader_info info;
		struct uccid_options o = { .log = quiet_log };
		uint8_t atr[33];

		snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", cases[i].file);
		ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s", err);
		d = vdev_new(&cfg);
		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(vreader_inproc_open(d, &t), 0);
		ck_assert_msg(uccid_open_transport(t, &o, &r, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(uccid_info(r, &info), 0);
		ck_assert_msg(strstr(info.quirks, cases[i].quirk), "%s: quirks '%s'", cases[i].file, info.quirks);
		ck_assert_int_gt(uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
		ck_assert_int_eq(uccid_transmit(r, 0, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp)), 7);
		uccid_close(r);
		vdev_free(d);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reader");
	TCase *tc;

	tc = tcase_create("session");
	tcase_add_loop_test(tc, test_session, 0, VDEV_PROFILE_COUNT * OVER_COUNT);
	tcase_add_loop_test(tc, test_mechanical, 0, OVER_COUNT);
	tcase_add_loop_test(tc, test_resume, 0, 4 * OVER_COUNT);
	tcase_add_test(tc, test_quirks);
	tcase_add_test(tc, test_voltage_fallback);
	tcase_add_test(tc, test_polled_events);
	tcase_add_loop_test(tc, test_first_notify_keeps_card, 0, OVER_COUNT);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("protocol");
	tcase_add_loop_test(tc, test_set_protocol, 0, 2 * OVER_COUNT);
	tcase_add_loop_test(tc, test_set_protocol_limits, 0, 5);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	tc = tcase_create("faults");
	tcase_add_loop_test(tc, test_fault, 0, (int)(sizeof(faults) / sizeof(faults[0])) * OVER_COUNT);
	tcase_add_loop_test(tc, test_fault_t1_edc, 0, OVER_COUNT);
	tcase_add_loop_test(tc, test_fault_t1_mute, 0, OVER_COUNT);
	tcase_add_test(tc, test_leftover_answer);
	tcase_add_loop_test(tc, test_event_cycles, 0, OVER_COUNT);
	tcase_add_loop_test(tc, test_card_removed_mid_apdu, 0, OVER_COUNT);
	tcase_add_loop_test(tc, test_hardware_error_event, 0, OVER_COUNT);
	tcase_add_loop_test(tc, test_drop_connection, 0, OVER_COUNT);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_add_loop_test(tc, test_unplug_mid_apdu, 0, 2 * OVER_COUNT);
	tcase_add_loop_test(tc, test_threads_multi_slot, 0, OVER_COUNT);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
