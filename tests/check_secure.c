/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PIN entry on a keypad, end to end in one process: uccid_secure() (the
 * driver) against the virtual reader's PIN pad (vreader/pinpad.c) and its
 * card, at every exchange level: short and extended APDU, TPDU under T=0
 * and under T=1 (where the host's T=1 state frames the PIN block).  A thread
 * waits in uccid_secure while the test types on the keypad, as a person
 * would: the cases of tests/pinpad_cases.h (the right PIN, a wrong one,
 * cancel, a modification with its confirmation, a confirmation that
 * differs), and nothing (the time-out).  After each, an ordinary APDU must
 * still go through: at T=1 that proves the sequence numbers moved on (or
 * stood) as the reader's answer said.  The real PIN pads of
 * tests/data/readers/ run the same table in the corpus run (check_corpus).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/pinpad_cases.h"
#include "tests/testutil.h"
#include "util/clock.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"

struct rig {
	struct vdev *d;
	struct uccid_transport *t;
	struct uccid_reader *r;
	const char *name;
};

/* The readers a PIN pad is tried on: the two pinpad profiles, and T=0 / extended readers given a keypad. */
static const struct level {
	enum vdev_profile p;
	bool add_pinpad;
} levels[] = {
	{ VDEV_PROFILE_PINPAD, false },
	{ VDEV_PROFILE_PINPAD_T1, false },
	{ VDEV_PROFILE_TPDU_T0, true },
	{ VDEV_PROFILE_EXTENDED_APDU, true },
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))

static void quiet_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

static struct rig *rig_new_cfg(struct vdev_config *cfg, const char *name)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct uccid_options o = { .exchange_deadline_ms = 10000, .log = quiet_log, .log_level = UCCID_LOG_DEBUG };
	uint8_t atr[33];
	char err[256] = "";

	cfg->time_extension_ms = 100;
	g->name = name;
	g->d = vdev_new(cfg);
	ck_assert_ptr_nonnull(g->d);
	ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
	ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)) > 0, "%s: power on", name);
	return g;
}

static struct rig *rig_new(const struct level *lv)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(lv->p, &cfg), 0);
	if (lv->add_pinpad)
		cfg.desc.bPINSupport = CCID_PIN_VERIFY | CCID_PIN_MODIFY;
	return rig_new_cfg(&cfg, vdev_profile_name(lv->p));
}

struct scan {
	unsigned resynch;
};

/* S(RESYNCH request) blocks the host sent (XfrBlock at TPDU level, PCB C0). */
static void scan_fn(struct vdev *d, void *ctx)
{
	struct vdev_journal_entry e[256];
	struct scan *sc = ctx;
	size_t n = vdev_journal(d, 0, 0, e, 256);

	for (size_t i = 0; i < n; i++)
		if (e[i].from_host && e[i].bMessageType == CCID_PC_TO_RDR_XFR_BLOCK && e[i].ndata >= 2
		    && e[i].data[1] == 0xC0)
			sc->resynch++;
}

/*
 * The T=1 sequence numbers were right all along: neither side ever had to
 * resynchronise (the engine would recover, hiding a wrong N(S) from the APDUs).
 */
static void rig_free(struct rig *g)
{
	struct scan sc = { 0 };

	vreader_inproc_call(g->t, scan_fn, &sc);
	ck_assert_msg(sc.resynch == 0, "%s: %u S(RESYNCH) sent", g->name, sc.resynch);
	uccid_close(g->r);
	vdev_free(g->d);
	free(g);
}

/* ---- the keypad, from the test thread ---- */

struct keyarg {
	const char *key;
	int rc;
	struct vdev_slot_status st;
};

static void press_fn(struct vdev *d, void *ctx)
{
	struct keyarg *k = ctx;

	k->rc = vdev_keypad(d, 0, k->key, uccid_mono_us());
}

static void status_fn(struct vdev *d, void *ctx)
{
	struct keyarg *k = ctx;

	vdev_slot_status(d, 0, &k->st);
}

/* Wait (bounded) until the reader waits for the keypad: the Secure command has arrived. */
static void wait_keypad(struct rig *g, const char *state)
{
	int64_t until = uccid_mono_ms() + 5000;
	struct keyarg k = { 0 };

	for (;;) {
		vreader_inproc_call(g->t, status_fn, &k);
		if (k.st.keypad && (!state || strstr(k.st.keypad_state, state)))
			return;
		ck_assert_msg(uccid_mono_ms() < until, "%s: the reader never waited for the keypad (%s)", g->name,
			      state ? state : "");
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

/* Keys as words: a digit run is its digits one by one. */
static void type(struct rig *g, const char *keys)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", keys);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		bool digits = strspn(w, "0123456789") == strlen(w);
		size_t n = digits ? strlen(w) : 1;

		for (size_t i = 0; i < n; i++) {
			char one[2] = { w[i], 0 };
			struct keyarg k = { .key = digits ? one : w };

			vreader_inproc_call(g->t, press_fn, &k);
			ck_assert_msg(k.rc == 0, "%s: key %s: %s", g->name, k.key, strerror(-k.rc));
		}
	}
}

/* ---- uccid_secure on its own thread ---- */

struct job {
	struct rig *g;
	uint8_t op;
	uint8_t pin[300];
	size_t len;
	uint8_t rsp[64];
	ssize_t n;
	pthread_t th;
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	j->n = uccid_secure(j->g->r, 0, j->op, j->pin, j->len, j->rsp, sizeof(j->rsp));
	return NULL;
}

static void job_start(struct job *j)
{
	ck_assert_int_eq(pthread_create(&j->th, NULL, job_run, j), 0);
}

static unsigned job_sw(struct job *j)
{
	pthread_join(j->th, NULL);
	ck_assert_msg(j->n >= 2, "%s: uccid_secure: %s", j->g->name, j->n < 0 ? uccid_strerror((int)j->n) : "short");
	return (unsigned)j->rsp[j->n - 2] << 8 | j->rsp[j->n - 1];
}

/* The structures of the table (tests/pinpad_cases.h), and the ones the tests below vary. */
static void verify_struct(struct job *j, uint8_t timeout)
{
	j->len = pinpad_verify_struct(j->pin, timeout);
	j->op = CCID_PIN_OP_VERIFY;
}

/* An ordinary APDU after the PIN entry: the card is there and the T=1 sequence holds. */
static unsigned plain_verify(struct rig *g, const char *pin)
{
	char why[128] = "";
	unsigned sw = pinpad_plain_verify(g->r, 0, pin, why, sizeof(why));

	ck_assert_msg(sw, "%s: %s", g->name, why);
	return sw;
}

/*
 * Type keys as a person does: each PIN once the reader asks for it (its
 * "entry i/n" on the keypad), the keys up to OK or cancel at a time.
 */
static void type_entries(struct rig *g, const char *keys, unsigned entries)
{
	char buf[128], part[128] = "", state[24], *save = NULL;
	unsigned entry = 0;

	snprintf(buf, sizeof(buf), "%s", keys);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		size_t l = strlen(part);

		snprintf(part + l, sizeof(part) - l, "%s%s", l ? " " : "", w);
		if (strcmp(w, "ok") && strcmp(w, "cancel"))
			continue;
		snprintf(state, sizeof(state), "entry %u/%u", ++entry, entries);
		wait_keypad(g, state);
		type(g, part);
		part[0] = 0;
	}
}

/*
 * Every case of the table on the profile's keypad, in order (the right PIN,
 * a wrong one, cancel, a modification, a confirmation that differs, the PIN
 * changed back), each followed by the VERIFY by APDU the case names: the
 * card checked the PIN the keypad built.
 */
START_TEST(test_cases)
{
	struct rig *g = rig_new(&levels[_i]);

	for (size_t i = 0; i < PINPAD_NCASES; i++) {
		const struct pinpad_case *c = &pinpad_cases[i];
		struct job j = { .g = g, .op = c->op };
		char why[256];

		j.len = pinpad_case_struct(c, levels[_i].p == VDEV_PROFILE_PINPAD, j.pin);
		job_start(&j);
		type_entries(g, c->keys, c->op == CCID_PIN_OP_MODIFY ? 3 : 1);
		pthread_join(j.th, NULL);
		ck_assert_msg(!pinpad_case_check(g->r, 0, c, j.n, j.rsp, why, sizeof(why)), "%s: %s", g->name, why);
	}
	rig_free(g);
}
END_TEST

START_TEST(test_timeout)
{
	struct rig *g = rig_new(&levels[_i]);
	struct job j = { .g = g };
	int64_t t0 = uccid_mono_ms();

	verify_struct(&j, 1);           /* bTimeOut 1 s; OK never comes */
	job_start(&j);
	wait_keypad(g, NULL);
	type(g, "123");
	ck_assert_msg(job_sw(&j) == 0x6400, "%s: a time-out is 64 00", g->name);
	ck_assert_int_lt(uccid_mono_ms() - t0, 5000);
	ck_assert_uint_eq(plain_verify(g, "123456"), 0x9000);
	rig_free(g);
}
END_TEST

struct journal_scan {
	unsigned secure_at, rblocks_after;
};

static void fault_edc_fn(struct vdev *d, void *ctx)
{
	(void)ctx;
	vdev_set_fault(d, 0, VDEV_FAULT_T1_EDC, 0, 1);
}

/* R-blocks the host sent by XfrBlock after the last Secure (PCB 8x / 9x). */
static void rblocks_fn(struct vdev *d, void *ctx)
{
	struct vdev_journal_entry e[256];
	struct journal_scan *js = ctx;
	size_t n = vdev_journal(d, 0, 0, e, 256);

	for (size_t i = 0; i < n; i++) {
		if (e[i].from_host && e[i].bMessageType == CCID_PC_TO_RDR_SECURE) {
			js->secure_at = (unsigned)i + 1;
			js->rblocks_after = 0;
		} else if (js->secure_at && e[i].from_host && e[i].bMessageType == CCID_PC_TO_RDR_XFR_BLOCK
			   && e[i].ndata >= 2 && (e[i].data[1] & 0xC0) == 0x80) {
			js->rblocks_after++;
		}
	}
}

/*
 * TPDU under T=1: the card's answer to the PIN block arrives garbled (a bad
 * EDC in the Secure answer).  The driver's T=1 engine checks it and asks
 * again with an R-block by XfrBlock; the card repeats; the PIN is verified
 * once, and the sequence numbers hold.
 */
START_TEST(test_t1_answer_garbled)
{
	struct rig *g = rig_new(&levels[1]);
	struct job j = { .g = g };
	struct journal_scan js = { 0 };

	vreader_inproc_call(g->t, fault_edc_fn, NULL);
	verify_struct(&j, 10);
	job_start(&j);
	wait_keypad(g, NULL);
	type(g, "123456 ok");
	ck_assert_msg(job_sw(&j) == 0x9000, "the PIN verified after the R-block");
	vreader_inproc_call(g->t, rblocks_fn, &js);
	ck_assert_msg(js.secure_at && js.rblocks_after == 1, "%u R-blocks after the Secure", js.rblocks_after);
	ck_assert_uint_eq(plain_verify(g, "123456"), 0x9000);
	rig_free(g);
}
END_TEST

struct wire {
	bool escape_first;              /* an Escape 80 02 00 came right before the Secure */
	uint8_t secure[16];             /* the Secure's first abData bytes */
	bool seen;
};

static void wire_fn(struct vdev *d, void *ctx)
{
	struct vdev_journal_entry e[256];
	struct wire *w = ctx;
	size_t n = vdev_journal(d, 0, 0, e, 256);
	bool esc = false;

	for (size_t i = 0; i < n; i++) {
		if (!e[i].from_host)
			continue;
		if (e[i].bMessageType == CCID_PC_TO_RDR_SECURE) {
			memcpy(w->secure, e[i].data, sizeof(w->secure));
			w->escape_first = esc;
			w->seen = true;
		}
		esc = e[i].bMessageType == CCID_PC_TO_RDR_ESCAPE && e[i].ndata == 3 && e[i].data[0] == 0x80
		      && e[i].data[1] == 0x02 && e[i].data[2] == 0x00;
	}
}

static struct rig *real_reader(const char *file)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096], err[512] = "";
	struct vdev_config cfg;

	snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", file);
	ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	return rig_new_cfg(&cfg, file);
}

/*
 * The firmware faults as they go on the wire (quirks.c, from libccid): the
 * GemPC Pinpad gets bNumberMessage 01 and the OK key only; the Dell SK-3106
 * wPINMaxExtraDigit byte-swapped; the SPR532 an Escape 80 02 00 before a
 * case-1 verify without a PIN block.
 */
START_TEST(test_quirks_on_the_wire)
{
	static const char *files[] = { "GemPCPinpad.txt", "DellSK-3106.txt", "SPR532.txt" };
	struct rig *g = real_reader(files[_i]);
	struct job j = { .g = g };
	struct wire w = { 0 };

	verify_struct(&j, 10);
	j.pin[6] = 0x03;                /* max size or OK: the GemPC takes the OK key only */
	if (_i == 2) {
		/* no PIN block, a case-1 template: the SPR532 appends the PIN itself */
		j.pin[2] = 0x00;
		j.len = 14 + 4;
	}
	job_start(&j);
	wait_keypad(g, NULL);
	type(g, "123456 ok");
	ck_assert_msg(job_sw(&j) == 0x9000, "%s", files[_i]);
	vreader_inproc_call(g->t, wire_fn, &w);
	ck_assert(w.seen);
	switch (_i) {
	case 0:
		ck_assert_uint_eq(w.secure[1 + 7], 0x01);       /* bNumberMessage */
		ck_assert_uint_eq(w.secure[1 + 6], 0x02);       /* bEntryValidationCondition */
		break;
	case 1:
		ck_assert_uint_eq(w.secure[1 + 4], 0x04);       /* wPINMaxExtraDigit: minimum first */
		ck_assert_uint_eq(w.secure[1 + 5], 0x08);
		break;
	default:
		ck_assert_msg(w.escape_first, "no Escape 80 02 00 before the Secure");
		break;
	}
	rig_free(g);
}
END_TEST

static void fault_edc_to_card_fn(struct vdev *d, void *ctx)
{
	(void)ctx;
	vdev_set_fault(d, 0, VDEV_FAULT_T1_EDC, 1, 1);
}

/*
 * TPDU under T=1: the PIN block reaches the card garbled and the card asks
 * for it again (R-block).  The driver has only the template, so it does not
 * send it: the call fails (-EPROTO), and since nothing of the exchange reached
 * the card the sequence numbers stand — the next APDU needs no RESYNCH.
 */
START_TEST(test_t1_pin_block_lost)
{
	struct rig *g = rig_new(&levels[1]);
	struct job j = { .g = g };
	struct journal_scan js = { 0 };

	vreader_inproc_call(g->t, fault_edc_to_card_fn, NULL);
	verify_struct(&j, 10);
	job_start(&j);
	wait_keypad(g, NULL);
	type(g, "123456 ok");
	pthread_join(j.th, NULL);
	ck_assert_msg(j.n == -EPROTO, "got %zd (%s)", j.n, j.n < 0 ? uccid_strerror((int)j.n) : "an answer");
	vreader_inproc_call(g->t, rblocks_fn, &js);
	ck_assert_msg(js.rblocks_after == 0, "the driver sent %u blocks after the card's R-block", js.rblocks_after);
	ck_assert_uint_eq(plain_verify(g, "123456"), 0x9000);
	rig_free(g);
}
END_TEST

/* A structure the driver refuses never reaches the reader. */
START_TEST(test_refused)
{
	struct rig *g = rig_new(&levels[_i]);
	struct job j = { .g = g };
	uint8_t rsp[8];

	verify_struct(&j, 10);
	j.pin[6] = 0x08;                /* bEntryValidationCondition with an RFU bit */
	ck_assert_int_eq(uccid_secure(g->r, 0, CCID_PIN_OP_VERIFY, j.pin, j.len, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(uccid_secure(g->r, 0, 7, j.pin, j.len, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(uccid_secure(g->r, 0, CCID_PIN_OP_VERIFY, j.pin, 10, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_uint_eq(plain_verify(g, "123456"), 0x9000);
	rig_free(g);
}
END_TEST

struct autoarg {
	const char *keys;
	int rc;
};

static void auto_fn(struct vdev *d, void *ctx)
{
	struct autoarg *a = ctx;

	a->rc = vdev_set_keypad_auto(d, a->keys);
}

/*
 * Keys pressed as the entry starts (what the corpus run uses), changed while
 * the reader runs; keys that do not fit are refused and the old ones stay.
 */
START_TEST(test_keypad_auto)
{
	struct rig *g = rig_new(&levels[0]);
	struct autoarg a = { .keys = "1239 ok" };
	struct job j = { .g = g };
	uint8_t rsp[8];

	vreader_inproc_call(g->t, auto_fn, &a);
	ck_assert_int_eq(a.rc, 0);
	verify_struct(&j, 10);
	ck_assert_int_eq(uccid_secure(g->r, 0, CCID_PIN_OP_VERIFY, j.pin, j.len, rsp, sizeof(rsp)), 2);
	ck_assert_uint_eq((unsigned)rsp[0] << 8 | rsp[1], 0x63C2);
	a.keys = "123456 ok 123456 ok 123456 ok 123456 ok";
	vreader_inproc_call(g->t, auto_fn, &a);
	ck_assert_int_eq(a.rc, -EMSGSIZE);
	ck_assert_int_eq(uccid_secure(g->r, 0, CCID_PIN_OP_VERIFY, j.pin, j.len, rsp, sizeof(rsp)), 2);
	ck_assert_uint_eq((unsigned)rsp[0] << 8 | rsp[1], 0x63C1);
	/* none: the keypad waits for a person again */
	a.keys = "";
	vreader_inproc_call(g->t, auto_fn, &a);
	ck_assert_int_eq(a.rc, 0);
	job_start(&j);
	wait_keypad(g, "verify");
	type(g, "123456 ok");
	ck_assert_uint_eq(job_sw(&j), 0x9000);
	rig_free(g);
}
END_TEST

/* A reader without a keypad: -ENOTSUP before anything is sent. */
START_TEST(test_no_pinpad)
{
	struct level lv = { VDEV_PROFILE_SHORT_APDU, false };
	struct rig *g = rig_new(&lv);
	struct job j = { .g = g };
	uint8_t rsp[8];

	verify_struct(&j, 10);
	ck_assert_int_eq(uccid_secure(g->r, 0, CCID_PIN_OP_VERIFY, j.pin, j.len, rsp, sizeof(rsp)), -ENOTSUP);
	rig_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("secure");
	TCase *tc = tcase_create("keypad");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_cases, 0, NLEVELS);
	tcase_add_loop_test(tc, test_timeout, 0, NLEVELS);
	tcase_add_loop_test(tc, test_refused, 0, NLEVELS);
	tcase_add_test(tc, test_no_pinpad);
	tcase_add_test(tc, test_keypad_auto);
	tcase_add_test(tc, test_t1_answer_garbled);
	tcase_add_test(tc, test_t1_pin_block_lost);
	suite_add_tcase(s, tc);
	tc = tcase_create("real readers");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_quirks_on_the_wire, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
