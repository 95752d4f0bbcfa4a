/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Card locks through libuccid against the virtual reader (issue 5): every
 * disposition proved by the CCID commands that reached the reader (its
 * journal) and by the card's state (a verified PIN), refusals that change
 * nothing, a disposition that fails still releasing the lock, threads,
 * card-state warnings, the reader's open lock, and processes killed while
 * holding a card.  Named readers over USB/IP, so that the lock files are
 * real; a private lock directory per run.  <winscard.h> only for its
 * SCARD_* disposition constants (issue 12): nothing links libpcsclite.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <winscard.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

static const uint8_t VERIFY_RIGHT[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6' };
static const uint8_t VERIFY_ASK[] = { 0x00, 0x20, 0x00, 0x80 };   /* 9000 if verified, 63Cx if not */
static const uint8_t ECHO4[] = { 0x80, 0x10, 0x00, 0x00, 0x01, 0x5A, 0x00 };

static char g_dir[64];

struct rig {
	struct vdev *d;
	struct usbip_server *srv;
	pthread_t th;
	pthread_mutex_t srv_lock;
	atomic_bool stop;               /* set by the test thread, read by server_thread */
	char url[64];
	struct uccid_reader *r;
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

static void quiet_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

static const struct uccid_options g_opts = {
	.exchange_deadline_ms = 5000,
	.log = quiet_log,
	.log_level = UCCID_LOG_DEBUG,
	.program = "check-locks",
};

static struct uccid_reader *open_reader(const char *url, int wait_ms)
{
	struct uccid_options o = g_opts;
	struct uccid_reader *r = NULL;
	char err[256] = "";

	o.open_wait_ms = wait_ms;
	ck_assert_msg(uccid_open(url, &o, &r, err, sizeof(err)) == 0, "%s", err);
	return r;
}

static struct rig *rig_new(enum vdev_profile p)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct vdev_config cfg;
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	g->d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(g->d);
	dev.dev = g->d;
	pthread_mutex_init(&g->srv_lock, NULL);
	g->srv = usbip_server_new();
	ck_assert_ptr_nonnull(g->srv);
	ck_assert_int_eq(usbip_server_add_device(g->srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(g->srv, "127.0.0.1", 0), 0);
	pthread_create(&g->th, NULL, server_thread, g);
	snprintf(g->url, sizeof(g->url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(g->srv));
	g->r = open_reader(g->url, 0);
	return g;
}

static void rig_free(struct rig *g)
{
	uccid_close(g->r);
	atomic_store(&g->stop, true);
	pthread_join(g->th, NULL);
	usbip_server_free(g->srv);
	vdev_free(g->d);
	pthread_mutex_destroy(&g->srv_lock);
	free(g);
}

/* ---- the device, under the server's lock ---- */

static uint64_t journal_end(struct rig *g, unsigned slot)
{
	struct vdev_journal_entry e[256];
	uint64_t end = 0;
	size_t n;

	pthread_mutex_lock(&g->srv_lock);
	while ((n = vdev_journal(g->d, slot, end, e, 256)) > 0)
		end = e[n - 1].index + 1;
	pthread_mutex_unlock(&g->srv_lock);
	return end;
}

/* The host's commands on slot since 'from', as "IccPowerOn(warm)" ... joined by spaces. */
static void host_commands(struct rig *g, unsigned slot, uint64_t from, char *out, size_t cap)
{
	struct vdev_journal_entry e[64];
	size_t n, len = 0;

	out[0] = '\0';
	pthread_mutex_lock(&g->srv_lock);
	n = vdev_journal(g->d, slot, from, e, 64);
	pthread_mutex_unlock(&g->srv_lock);
	for (size_t i = 0; i < n; i++) {
		const char *name;

		if (!e[i].from_host)
			continue;
		name = ccid_msg_type_name(e[i].bMessageType);
		if (!strncmp(name, "PC_to_RDR_", 10))
			name += 10;
		len += (size_t)snprintf(out + len, cap - len, "%s%s%s", len ? " " : "", name,
					e[i].bMessageType == CCID_PC_TO_RDR_ICC_POWER_ON ? (e[i].warm ? "(warm)" : "(cold)")
					: e[i].bMessageType == CCID_PC_TO_RDR_MECHANICAL ? (e[i].b7 == 2 ? "(02)" : e[i].b7 == 4 ? "(04)" : e[i].b7 == 5 ? "(05)" : "(?)")
					: "");
		if (len >= cap)
			break;
	}
}

static struct vdev_slot_status dev_status(struct rig *g, unsigned slot)
{
	struct vdev_slot_status st;

	pthread_mutex_lock(&g->srv_lock);
	ck_assert_int_eq(vdev_slot_status(g->d, slot, &st), 0);
	pthread_mutex_unlock(&g->srv_lock);
	return st;
}

static void dev_remove(struct rig *g, unsigned slot)
{
	pthread_mutex_lock(&g->srv_lock);
	ck_assert_int_eq(vdev_remove_card(g->d, slot, uccid_mono_us()), 0);
	usbip_server_wake(g->srv);
	pthread_mutex_unlock(&g->srv_lock);
}

static void dev_insert(struct rig *g, unsigned slot)
{
	pthread_mutex_lock(&g->srv_lock);
	ck_assert_int_eq(vdev_insert_card(g->d, slot, NULL, uccid_mono_us()), 0);
	usbip_server_wake(g->srv);
	pthread_mutex_unlock(&g->srv_lock);
}

/* ---- the card through the API ---- */

static void power_and_verify(struct uccid_reader *r, unsigned slot)
{
	uint8_t atr[64], rsp[64];

	ck_assert_int_gt(uccid_power_on(r, slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	ck_assert_int_eq(uccid_transmit(r, slot, VERIFY_RIGHT, sizeof(VERIFY_RIGHT), rsp, sizeof(rsp)), 2);
	ck_assert_msg(rsp[0] == 0x90 && rsp[1] == 0x00, "VERIFY: %02X%02X", rsp[0], rsp[1]);
}

/* Is the PIN verified, as the card says through the API? */
static bool pin_verified(struct uccid_reader *r, unsigned slot)
{
	uint8_t rsp[16];

	ck_assert_int_eq(uccid_transmit(r, slot, VERIFY_ASK, sizeof(VERIFY_ASK), rsp, sizeof(rsp)), 2);
	return rsp[0] == 0x90 && rsp[1] == 0x00;
}

/* ---- fixture: a private lock directory ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/check-locks-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	setenv("UCCID_LOCK_DIR", g_dir, 1);
}

static void teardown(void)
{
	nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	unsetenv("UCCID_LOCK_DIR");
}

/* ---- dispositions ---- */

START_TEST(test_leave_keeps_pin)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum uccid_done done = UCCID_DONE_RESET;
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_NOTHING);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!cmds[0], "LEAVE sent: %s", cmds);
	ck_assert(pin_verified(g->r, 0));
	rig_free(g);
}
END_TEST

/*
 * Issue 12: dispositions are PC/SC's numbers.  Each SCARD_* constant of
 * <winscard.h>, passed to uccid_unlock() as code ported from PC/SC passes
 * it, must make the reader do what PC/SC means by it — read back from the
 * virtual reader's journal, and from the card's state.  (With the old 1-4
 * numbering SCARD_RESET_CARD sent nothing and left the PIN verified.)
 */
static const struct {
	int scard;                      /* the <winscard.h> constant, as a PC/SC caller passes it */
	const char *name;
	enum vdev_profile profile;
	const char *sent;               /* the host's commands on the slot, exactly; for RESET the
					   first, followed only by what the new ATR negotiates
					   (SetParameters), no other power or mechanical command */
	enum uccid_done done;
} scard_cases[] = {
	{ SCARD_LEAVE_CARD, "leave", VDEV_PROFILE_SHORT_APDU, "", UCCID_DONE_NOTHING },
	{ SCARD_RESET_CARD, "reset", VDEV_PROFILE_SHORT_APDU, "IccPowerOn(warm)", UCCID_DONE_RESET },
	{ SCARD_UNPOWER_CARD, "unpower", VDEV_PROFILE_SHORT_APDU, "IccPowerOff", UCCID_DONE_UNPOWERED },
	{ SCARD_EJECT_CARD, "eject", VDEV_PROFILE_MECHANICAL, "Mechanical(02)", UCCID_DONE_EJECTED },
	{ SCARD_EJECT_CARD, "eject", VDEV_PROFILE_SHORT_APDU, "IccPowerOff", UCCID_DONE_LATCHED },   /* no mechanism */
};

/* Not enough alone (the test below drives the reader), but a mismatch fails the build. */
_Static_assert(UCCID_LEAVE == SCARD_LEAVE_CARD && UCCID_RESET == SCARD_RESET_CARD &&
	       UCCID_UNPOWER == SCARD_UNPOWER_CARD && UCCID_EJECT == SCARD_EJECT_CARD,
	       "uccid_unlock takes PC/SC's disposition numbers");

START_TEST(test_scard_dispositions)
{
	struct rig *g = rig_new(scard_cases[_i].profile);
	int d = scard_cases[_i].scard;
	enum uccid_done done = (enum uccid_done)-1;
	struct vdev_slot_status st;
	struct uccid_holder h;
	const char *want = scard_cases[_i].sent, *rest;
	char cmds[512];
	uint64_t mark;
	bool ok;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, d, &done), 0);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	if (d == SCARD_RESET_CARD) {
		rest = cmds + strlen(want);
		ok = !strncmp(cmds, want, strlen(want)) && (!*rest || *rest == ' ') && !strstr(rest, "IccPower") &&
		     !strstr(rest, "Mechanical");
	} else {
		ok = !strcmp(cmds, want);
	}
	ck_assert_msg(ok, "unlock(%d, SCARD %s) sent \"%s\", want \"%s\"", d, scard_cases[_i].name, cmds, want);
	ck_assert_int_eq(done, scard_cases[_i].done);
	st = dev_status(g, 0);
	switch (d) {
	case SCARD_LEAVE_CARD:
		ck_assert(st.present && st.powered && st.pin_verified);
		break;
	case SCARD_RESET_CARD:
		ck_assert(st.present && st.powered && !st.pin_verified);
		break;
	case SCARD_UNPOWER_CARD:
		ck_assert(st.present && !st.powered);
		break;
	case SCARD_EJECT_CARD:
		ck_assert(!st.powered);
		ck_assert(st.present == (done == UCCID_DONE_LATCHED));
		ck_assert_int_eq(uccid_ejected(g->r, 0, false), done == UCCID_DONE_LATCHED);
		break;
	}
	ck_assert_int_eq(uccid_lock_holder(g->r, 0, &h), 0);
	ck_assert(!h.held);                     /* and the lock was released */
	/* the tool's names for them */
	ck_assert_str_eq(uccid_disposition_name(d), scard_cases[_i].name);
	ck_assert_int_eq(uccid_disposition_parse(scard_cases[_i].name), d);
	rig_free(g);
}
END_TEST

/* RESET: exactly a warm IccPowerOn (plus what a new ATR negotiates), and the PIN state is gone. */
START_TEST(test_reset_warm)
{
	static const enum vdev_profile profiles[] = { VDEV_PROFILE_SHORT_APDU, VDEV_PROFILE_TPDU_T0,
						      VDEV_PROFILE_TPDU_T1 };
	struct rig *g = rig_new(profiles[_i]);
	enum uccid_done done = UCCID_DONE_NOTHING;
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 1000, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_RESET, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_RESET);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!strncmp(cmds, "IccPowerOn(warm)", 16), "RESET sent: %s", cmds);
	ck_assert_msg(!strstr(cmds, "IccPowerOff") && !strstr(cmds, "(cold)"), "RESET sent: %s", cmds);
	ck_assert(dev_status(g, 0).powered);
	ck_assert(!dev_status(g, 0).pin_verified);
	ck_assert(!pin_verified(g->r, 0));
	rig_free(g);
}
END_TEST

/* RESET of a card that is off sends no power-up: it stays off, and the next power-up is cold. */
START_TEST(test_reset_card_off)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum uccid_done done = UCCID_DONE_RESET;
	uint8_t atr[64];
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_RESET, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_NOTHING);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!strstr(cmds, "IccPowerOn"), "RESET of a card that is off sent: %s", cmds);
	ck_assert(!dev_status(g, 0).powered);
	mark = journal_end(g, 0);
	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!strncmp(cmds, "IccPowerOn(cold)", 16), "power-up after: %s", cmds);
	rig_free(g);
}
END_TEST

START_TEST(test_unpower)
{
	struct rig *g = rig_new(VDEV_PROFILE_TPDU_T1);
	enum uccid_done done = UCCID_DONE_NOTHING;
	struct uccid_slot_status st;
	uint8_t rsp[16];
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_UNPOWER, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_UNPOWERED);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_str_eq(cmds, "IccPowerOff");
	ck_assert(!dev_status(g, 0).powered);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && !st.powered);
	ck_assert_int_lt(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), 0);
	rig_free(g);
}
END_TEST

/* EJECT on the mechanism profile: Mechanical 02, and the card leaves the slot. */
START_TEST(test_eject_mechanism)
{
	struct rig *g = rig_new(VDEV_PROFILE_MECHANICAL);
	enum uccid_done done = UCCID_DONE_NOTHING;
	struct uccid_slot_status st;
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_EJECT, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_EJECTED);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_str_eq(cmds, "Mechanical(02)");
	ck_assert(!dev_status(g, 0).present);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(!st.present);
	rig_free(g);
}
END_TEST

/* EJECT without a mechanism: power off and latch until the card was removed and inserted. */
START_TEST(test_eject_latch)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum uccid_done done = UCCID_DONE_NOTHING;
	struct uccid_slot_status st;
	struct uccid_reader *r2;
	uint8_t atr[64];
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_EJECT, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_LATCHED);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_str_eq(cmds, "IccPowerOff");
	ck_assert_int_eq(uccid_ejected(g->r, 0, false), 1);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && !st.powered && st.ejected);
	/* no power-up, not even a warm reset */
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ENOMEDIUM);
	ck_assert_int_eq(uccid_reset(g->r, 0, true, atr, sizeof(atr)), -ENOMEDIUM);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!strstr(cmds, "IccPowerOn"), "latched slot powered: %s", cmds);

	/* the latch is in the lock file: the next process to open the reader honours it */
	uccid_close(g->r);
	g->r = NULL;
	r2 = open_reader(g->url, 0);
	ck_assert_int_eq(uccid_power_on(r2, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ENOMEDIUM);

	/* removed (seen by a status or an event) and inserted again: it powers up */
	dev_remove(g, 0);
	ck_assert_int_eq(uccid_slot_status(r2, 0, &st), 0);
	ck_assert(!st.present && !st.ejected);
	dev_insert(g, 0);
	ck_assert_int_gt(uccid_power_on(r2, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	g->r = r2;
	rig_free(g);
}
END_TEST

/* A card pulled and put back between two NotifySlotChange reports (one report:
   present, changed) is a removal too: the caller hears it and the latch ends. */
START_TEST(test_eject_latch_swap)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	enum uccid_done done = UCCID_DONE_NOTHING;
	struct uccid_event e;
	uint8_t atr[64];

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_eject(g->r, 0, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_LATCHED);
	while (uccid_wait_event(g->r, 300, &e) == 1)
		;                                   /* the reports since the open */
	pthread_mutex_lock(&g->srv_lock);
	ck_assert_int_eq(vdev_remove_card(g->d, 0, uccid_mono_us()), 0);
	ck_assert_int_eq(vdev_insert_card(g->d, 0, NULL, uccid_mono_us()), 0);
	usbip_server_wake(g->srv);
	pthread_mutex_unlock(&g->srv_lock);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_REMOVED);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_INSERTED);
	ck_assert_int_eq(uccid_ejected(g->r, 0, false), 0);
	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	rig_free(g);
}
END_TEST

/* uccid_eject() without a lock takes the same path. */
START_TEST(test_eject_unlocked)
{
	struct rig *g = rig_new(_i ? VDEV_PROFILE_MECHANICAL : VDEV_PROFILE_TPDU_T0);
	enum uccid_done done = UCCID_DONE_NOTHING;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_eject(g->r, 0, &done), 0);
	ck_assert_int_eq(done, _i ? UCCID_DONE_EJECTED : UCCID_DONE_LATCHED);
	ck_assert_int_eq(uccid_ejected(g->r, 0, false), _i ? 0 : 1);
	if (!_i) {
		/* an operator who reinserted the card by hand while nothing watched */
		ck_assert_int_eq(uccid_ejected(g->r, 0, true), 0);
	}
	rig_free(g);
}
END_TEST

/* ---- refusals change nothing; failures still release ---- */

struct other_args {
	struct uccid_reader *r;
	int rc_unlock, rc_lock, rc_transmit;
};

static void *other_thread(void *p)
{
	struct other_args *a = p;
	uint8_t rsp[16];

	a->rc_unlock = uccid_unlock(a->r, 0, UCCID_RESET, NULL);
	a->rc_lock = uccid_lock(a->r, 0, 0, 0, NULL);
	a->rc_transmit = (int)uccid_transmit(a->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp));
	if (a->rc_lock == 0)
		uccid_unlock(a->r, 0, UCCID_LEAVE, NULL);
	return NULL;
}

START_TEST(test_refusals)
{
	static const int bad[] = { -1, 4, INT_MAX, 5, INT_MIN };
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct uccid_options o = g_opts;
	struct other_args a;
	struct uccid_holder h;
	pthread_t th;
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_RESET, NULL), -ENOLCK);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	/* 0-3 are SCARD_LEAVE_CARD .. SCARD_EJECT_CARD; anything else is refused with nothing done */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum uccid_done done = UCCID_DONE_EJECTED;

		ck_assert_int_eq(uccid_unlock(g->r, 0, bad[i], &done), -EINVAL);
		ck_assert_int_eq(done, UCCID_DONE_EJECTED);     /* not written */
		ck_assert_int_eq(uccid_lock_holder(g->r, 0, &h), 0);
		ck_assert_msg(h.held && h.this_process && h.count == 1, "unlock(%d) let go", bad[i]);
	}
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!cmds[0], "refused unlocks sent: %s", cmds);
	ck_assert(pin_verified(g->r, 0));
	ck_assert_int_eq(uccid_lock(g->r, 9, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(uccid_lock(g->r, 0, -2, 0, NULL), -EINVAL);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0x10, NULL), -EINVAL);
	/* no lock mechanism on this reader */
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, UCCID_LOCK_MECHANICAL, NULL), -ENOTSUP);
	/* still held, by us, once */
	ck_assert_int_eq(uccid_lock_holder(g->r, 0, &h), 0);
	ck_assert(h.held && h.this_process && h.count == 1 && h.pid == getpid());
	ck_assert_str_eq(h.program, "check-locks");
	/* another thread: not its lock to release; busy; its APDU waits and gives up */
	uccid_close(g->r);
	o.slot_wait_ms = 200;
	g->r = NULL;
	{
		char err[256];

		ck_assert_msg(uccid_open(g->url, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	}
	power_and_verify(g->r, 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	a = (struct other_args){ .r = g->r };
	pthread_create(&th, NULL, other_thread, &a);
	pthread_join(th, NULL);
	ck_assert_int_eq(a.rc_unlock, -EPERM);
	ck_assert_int_eq(a.rc_lock, -EBUSY);
	ck_assert_int_eq(a.rc_transmit, -EBUSY);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!cmds[0], "refusals sent: %s", cmds);
	ck_assert(pin_verified(g->r, 0));       /* the card untouched */
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, NULL), 0);
	/* free now: the other thread gets it */
	a = (struct other_args){ .r = g->r };
	pthread_create(&th, NULL, other_thread, &a);
	pthread_join(th, NULL);
	ck_assert_int_eq(a.rc_lock, 0);
	ck_assert_int_eq(a.rc_transmit, 3);
	rig_free(g);
}
END_TEST

/* The card is pulled while locked: the disposition fails, the lock is released all the same. */
START_TEST(test_dispose_failure_releases)
{
	static const int disp[] = { UCCID_RESET, UCCID_UNPOWER, UCCID_EJECT };
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct other_args a = { .r = g->r };
	struct uccid_holder h;
	struct uccid_slot_status st;
	pthread_t th;
	int rc;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	dev_remove(g, 0);
	rc = uccid_unlock(g->r, 0, disp[_i], NULL);
	ck_assert_msg(rc == -ENOMEDIUM, "unlock %s of a removed card: %d", uccid_disposition_name(disp[_i]), rc);
	ck_assert_int_eq(uccid_lock_holder(g->r, 0, &h), 0);
	ck_assert(!h.held);
	pthread_create(&th, NULL, other_thread, &a);
	pthread_join(th, NULL);
	ck_assert_int_eq(a.rc_lock, 0);
	(void)uccid_slot_status(g->r, 0, &st);
	ck_assert(!st.present);
	rig_free(g);
}
END_TEST

START_TEST(test_reentrant)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct uccid_lock_info li;
	enum uccid_done done = UCCID_DONE_RESET;
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, &li), 0);
	ck_assert_uint_eq(li.count, 1);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, &li), 0);
	ck_assert_uint_eq(li.count, 2);
	mark = journal_end(g, 0);
	/* the inner unlock only counts down: no disposition */
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_UNPOWER, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_NOTHING);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!cmds[0], "inner unlock sent: %s", cmds);
	ck_assert(pin_verified(g->r, 0));
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_UNPOWER, &done), 0);
	ck_assert_int_eq(done, UCCID_DONE_UNPOWERED);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_UNPOWER, &done), -ENOLCK);
	rig_free(g);
}
END_TEST

/* The mechanism profile locks the card in (04) and the last unlock releases it (05) before 02. */
START_TEST(test_mechanical_lock)
{
	struct rig *g = rig_new(VDEV_PROFILE_MECHANICAL);
	char cmds[512];
	uint64_t mark;

	power_and_verify(g->r, 0);
	mark = journal_end(g, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, UCCID_LOCK_MECHANICAL, NULL), 0);
	ck_assert(dev_status(g, 0).locked);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_EJECT, NULL), 0);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_str_eq(cmds, "Mechanical(04) Mechanical(05) Mechanical(02)");
	ck_assert(!dev_status(g, 0).locked && !dev_status(g, 0).present);
	rig_free(g);
}
END_TEST

/* ---- threads ---- */

#define NTHREADS 4
#define NCYCLES 40

struct mx {
	struct uccid_reader *r;
	pthread_mutex_t order_lock;
	int in_cs, max_in_cs;
	long counter;
	int errors;
};

static void *mx_thread(void *p)
{
	struct mx *m = p;
	uint8_t rsp[16];

	for (int i = 0; i < NCYCLES; i++) {
		long c;

		if (uccid_lock(m->r, 0, -1, 0, NULL) < 0) {
			__atomic_add_fetch(&m->errors, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (__atomic_add_fetch(&m->in_cs, 1, __ATOMIC_SEQ_CST) > 1)
			m->max_in_cs = 2;
		c = m->counter;         /* a plain read-modify-write across an APDU */
		if (uccid_transmit(m->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)) != 3)
			__atomic_add_fetch(&m->errors, 1, __ATOMIC_SEQ_CST);
		m->counter = c + 1;
		__atomic_sub_fetch(&m->in_cs, 1, __ATOMIC_SEQ_CST);
		if (uccid_unlock(m->r, 0, UCCID_LEAVE, NULL) < 0)
			__atomic_add_fetch(&m->errors, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

START_TEST(test_threads_mutual_exclusion)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct mx m = { .r = g->r };
	pthread_t th[NTHREADS];
	uint8_t atr[64];

	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, mx_thread, &m);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(m.errors, 0);
	ck_assert_int_eq(m.max_in_cs, 0);
	ck_assert_int_eq(m.counter, NTHREADS * NCYCLES);
	rig_free(g);
}
END_TEST

/* Another thread's disposition: this thread's next operation says so until it acknowledges. */
struct warn_args {
	struct uccid_reader *r;
	int disposition;
};

static void *warn_thread(void *p)
{
	struct warn_args *a = p;

	ck_assert_int_eq(uccid_lock(a->r, 0, 1000, 0, NULL), 0);
	ck_assert_int_eq(uccid_unlock(a->r, 0, a->disposition, NULL), 0);
	return NULL;
}

START_TEST(test_warnings)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct warn_args a = { .r = g->r, .disposition = UCCID_RESET };
	uint8_t rsp[16], atr[64];
	pthread_t th;

	power_and_verify(g->r, 0);
	/* this thread takes part in locking */
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, NULL), 0);
	ck_assert_int_eq(uccid_card_check(g->r, 0), 0);
	pthread_create(&th, NULL, warn_thread, &a);
	pthread_join(th, NULL);
	ck_assert_int_eq(uccid_card_check(g->r, 0), UCCID_W_RESET_CARD);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), -ECONNRESET);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), -ECONNRESET);
	ck_assert_int_eq(uccid_card_ack(g->r, 0), 0);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), 3);

	/* removal and insertion: the removal warning, until a power-up acknowledges it */
	dev_remove(g, 0);
	dev_insert(g, 0);
	{
		struct uccid_event ev;
		int n = 0;

		while (uccid_wait_event(g->r, 500, &ev) == 1 && n < 4)
			n++;
	}
	/* the reader's report may leave it open whether the card was swapped: the next
	   operation asks the reader (a card put back has lost power) and then says so */
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), -EMEDIUMTYPE);
	ck_assert_int_eq(uccid_card_check(g->r, 0), UCCID_W_REMOVED_CARD);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), -EMEDIUMTYPE);
	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), 3);

	/* what a thread does itself is no news to it */
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_RESET, NULL), 0);
	ck_assert_int_eq(uccid_card_check(g->r, 0), 0);
	ck_assert_int_eq(uccid_transmit(g->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp)), 3);
	rig_free(g);
}
END_TEST

/* uccid_cancel() ends a wait for a slot lock, and an operation waiting for a locked slot, at once. */
struct waiter_args {
	struct uccid_reader *r;
	int rc_lock, rc_transmit;
	int64_t ms;
};

static void *lock_waiter(void *p)
{
	struct waiter_args *a = p;
	int64_t t0 = uccid_mono_ms();

	a->rc_lock = uccid_lock(a->r, 0, -1, 0, NULL);
	a->ms = uccid_mono_ms() - t0;
	return NULL;
}

static void *op_waiter(void *p)
{
	struct waiter_args *a = p;
	uint8_t rsp[16];
	int64_t t0 = uccid_mono_ms();

	a->rc_transmit = (int)uccid_transmit(a->r, 0, ECHO4, sizeof(ECHO4), rsp, sizeof(rsp));
	a->ms = uccid_mono_ms() - t0;
	return NULL;
}

START_TEST(test_cancel_ends_waits)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct waiter_args a = { .r = g->r, .rc_lock = 1 }, b = { .r = g->r, .rc_transmit = 1 };
	struct uccid_holder h;
	pthread_t ta, tb;
	int64_t end;

	power_and_verify(g->r, 0);
	ck_assert_int_eq(uccid_lock(g->r, 0, 0, 0, NULL), 0);
	pthread_create(&ta, NULL, lock_waiter, &a);
	pthread_create(&tb, NULL, op_waiter, &b);
	/* both queued behind us (the test side polls; the library does not) */
	end = uccid_mono_ms() + 5000;
	while (uccid_lock_holder(g->r, 0, &h) == 0 && h.waiters < 2 && uccid_mono_ms() < end)
		usleep(1000);
	ck_assert_uint_eq(h.waiters, 2);
	uccid_cancel(g->r);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_int_eq(a.rc_lock, -ECANCELED);
	ck_assert_int_eq(b.rc_transmit, -ECANCELED);
	ck_assert_int_eq(uccid_lock(g->r, 0, -1, 0, NULL), -ECANCELED);
	rig_free(g);
}
END_TEST

/* ---- the open lock and processes ---- */

START_TEST(test_open_busy_names_holder)
{
	struct rig *g = rig_new(VDEV_PROFILE_SHORT_APDU);
	struct uccid_reader *r2 = NULL;
	struct uccid_options o = g_opts;
	struct uccid_holder h;
	char err[256] = "", want[64];
	int64_t t0 = uccid_mono_ms();

	ck_assert_int_eq(uccid_open(g->url, &o, &r2, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "in use by check-locks (pid %ld) since ", (long)getpid());
	ck_assert_msg(strstr(err, want), "busy error: %s", err);
	o.open_wait_ms = 300;
	ck_assert_int_eq(uccid_open(g->url, &o, &r2, err, sizeof(err)), -EBUSY);
	ck_assert_int_ge(uccid_mono_ms() - t0, 300);
	ck_assert_int_eq(uccid_reader_holder(g->url, NULL, -1, &h), 0);
	ck_assert(h.held && h.pid == getpid());
	ck_assert_str_eq(h.program, "check-locks");
	ck_assert_int_eq(uccid_reader_holder(g->url, NULL, 0, &h), 0);
	ck_assert(!h.held);
	ck_assert_int_eq(uccid_reader_holder("nonsense", NULL, -1, &h), -EINVAL);
	/* closed: free, and the next open gets it */
	uccid_close(g->r);
	g->r = NULL;
	ck_assert_int_eq(uccid_reader_holder(g->url, NULL, -1, &h), 0);
	ck_assert(!h.held);
	g->r = open_reader(g->url, 0);
	rig_free(g);
}
END_TEST

/* A child opens the reader, verifies the PIN, locks the card and waits to be killed. */
static void child_hold(const char *url, int fd)
{
	struct uccid_options o = g_opts;
	struct uccid_reader *r = NULL;
	uint8_t atr[64], rsp[16];
	char c = 'L';

	o.open_wait_ms = 20000;
	o.program = "holder";
	if (uccid_open(url, &o, &r, NULL, 0) < 0 ||
	    uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)) <= 0 ||
	    uccid_lock(r, 0, -1, 0, NULL) < 0 ||
	    uccid_transmit(r, 0, VERIFY_RIGHT, sizeof(VERIFY_RIGHT), rsp, sizeof(rsp)) != 2 || rsp[0] != 0x90)
		c = 'E';
	if (write(fd, &c, 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* A child holds the card with its PIN verified and is killed; returns its pid (the reader is not open here). */
static pid_t kill_a_holder(struct rig *g)
{
	struct uccid_holder h;
	int fds[2], st;
	pid_t pid;
	char c = 0;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		child_hold(g->url, fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	ck_assert_msg(c == 'L', "the holder failed");
	ck_assert(dev_status(g, 0).pin_verified);
	ck_assert_int_eq(uccid_reader_holder(g->url, NULL, 0, &h), 0);
	ck_assert(h.held && h.pid == pid);
	ck_assert_str_eq(h.program, "holder");
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);

	/* the kernel freed both locks; the record says the holder died holding the card */
	ck_assert_int_eq(uccid_reader_holder(g->url, NULL, 0, &h), 0);
	ck_assert(!h.held && h.abandoned && h.pid == pid);
	return pid;
}

START_TEST(test_process_killed_holder)
{
	struct rig *g = rig_new(VDEV_PROFILE_TPDU_T1);
	struct uccid_lock_info li;
	char cmds[512];

	uccid_close(g->r);
	g->r = NULL;
	for (int round = 0; round < 5; round++) {
		pid_t pid = kill_a_holder(g);
		uint64_t mark = journal_end(g, 0);

		g->r = open_reader(g->url, 5000);
		ck_assert_int_eq(uccid_lock(g->r, 0, 5000, 0, &li), 0);
		ck_assert(li.abandoned);
		ck_assert_int_eq(li.prev_pid, pid);
		ck_assert_str_eq(li.prev_program, "holder");
		ck_assert_int_eq(li.abandon_status, 0);
		ck_assert_int_eq(li.abandon_done, UCCID_DONE_RESET);
		host_commands(g, 0, mark, cmds, sizeof(cmds));
		ck_assert_msg(strstr(cmds, "IccPowerOn(warm)"), "round %d: abandon sent: %s", round, cmds);
		ck_assert(!dev_status(g, 0).pin_verified);
		ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, NULL), 0);
		uccid_close(g->r);
		g->r = NULL;
	}
	g->r = open_reader(g->url, 0);
	rig_free(g);
}
END_TEST

/*
 * uccid_options.abandon_disposition: a value is used only with
 * abandon_disposition_set (a value without it is refused, not replaced by
 * the default); set, LEAVE is carried out as LEAVE — the next owner is told,
 * nothing is sent and the card keeps its verified PIN.
 */
START_TEST(test_abandon_option)
{
	struct rig *g = rig_new(VDEV_PROFILE_TPDU_T1);
	struct uccid_options o = g_opts;
	struct uccid_reader *r = NULL;
	struct uccid_lock_info li;
	char err[256] = "", cmds[512];
	uint64_t mark;
	pid_t pid;

	uccid_close(g->r);
	g->r = NULL;
	o.abandon_disposition = UCCID_UNPOWER;
	ck_assert_int_eq(uccid_open(g->url, &o, &r, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "without abandon_disposition_set"), "error: %s", err);
	o.abandon_disposition_set = true;
	o.abandon_disposition = UCCID_EJECT + 1;
	ck_assert_int_eq(uccid_open(g->url, &o, &r, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "is not one of leave, reset, unpower, eject"), "error: %s", err);

	o.abandon_disposition = UCCID_LEAVE;
	pid = kill_a_holder(g);
	mark = journal_end(g, 0);
	ck_assert_msg(uccid_open(g->url, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(uccid_lock(g->r, 0, 5000, 0, &li), 0);
	ck_assert(li.abandoned);
	ck_assert_int_eq(li.prev_pid, pid);
	ck_assert_int_eq(li.abandon_status, 0);
	ck_assert_int_eq(li.abandon_done, UCCID_DONE_NOTHING);
	host_commands(g, 0, mark, cmds, sizeof(cmds));
	ck_assert_msg(!strstr(cmds, "IccPower") && !strstr(cmds, "Mechanical"), "abandon LEAVE sent: %s", cmds);
	ck_assert(dev_status(g, 0).pin_verified);
	ck_assert_int_eq(uccid_unlock(g->r, 0, UCCID_LEAVE, NULL), 0);
	rig_free(g);
}
END_TEST

static Suite *locks_suite(void)
{
	Suite *s = suite_create("locks");
	TCase *tc = tcase_create("dispositions");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_scard_dispositions, 0, sizeof(scard_cases) / sizeof(scard_cases[0]));
	tcase_add_test(tc, test_leave_keeps_pin);
	tcase_add_loop_test(tc, test_reset_warm, 0, 3);
	tcase_add_test(tc, test_reset_card_off);
	tcase_add_test(tc, test_unpower);
	tcase_add_test(tc, test_eject_mechanism);
	tcase_add_test(tc, test_eject_latch);
	tcase_add_test(tc, test_eject_latch_swap);
	tcase_add_loop_test(tc, test_eject_unlocked, 0, 2);
	tcase_add_test(tc, test_reentrant);
	tcase_add_test(tc, test_mechanical_lock);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_refusals);
	tcase_add_loop_test(tc, test_dispose_failure_releases, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_mutual_exclusion);
	tcase_add_test(tc, test_warnings);
	tcase_add_test(tc, test_cancel_ends_waits);
	suite_add_tcase(s, tc);

	tc = tcase_create("processes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_open_busy_names_holder);
	tcase_add_test(tc, test_process_killed_holder);
	tcase_add_test(tc, test_abandon_option);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(locks_suite());
}
