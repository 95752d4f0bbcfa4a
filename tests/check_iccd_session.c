/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ICCD tokens end to end in one process: the session (session/iccd.c)
 * against the virtual reader's ICCD device side (vreader/iccd.c) through the
 * in-process transport.  Both profiles (iccd-a, iccd-b): their descriptors,
 * power on and off, slot status, short and extended APDUs, a busy card
 * (version A's 40h, version B's 80h polling), a mute card, endless busy
 * within the deadline, malformed answers named in the log; the requests the
 * token refuses; and every real ICCD descriptor in tests/data/readers/
 * (bInterfaceProtocol 1 or 2), each powered up with an APDU exchanged.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/iccd.h"
#include "ccid/usb_desc.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "util/clock.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

struct rig {
	struct vdev *d;
	struct uccid_transport *t;
	struct uccid_reader *r;
	char log[4096];                 /* the session's errors and warnings */
};

static void keep_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	struct rig *g = ctx;
	size_t n = strlen(g->log);

	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
	if (level <= UCCID_LOG_WARNING && n + strlen(msg) + 2 < sizeof(g->log))
		snprintf(g->log + n, sizeof(g->log) - n, "%s\n", msg);
}

static struct rig *rig_cfg(const struct vdev_config *cfg, unsigned deadline_ms)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct uccid_options o = { .exchange_deadline_ms = deadline_ms, .power_deadline_ms = deadline_ms,
				   .log = keep_log, .log_level = UCCID_LOG_DEBUG };
	char err[256] = "";

	ck_assert_ptr_nonnull(g);
	o.log_ctx = g;
	g->d = vdev_new(cfg);
	ck_assert_msg(g->d != NULL, "%s: vdev_new: %s", cfg->name, strerror(errno));
	ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
	ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s: %s", cfg->name, err);
	return g;
}

static struct rig *rig_profile(enum vdev_profile p, unsigned deadline_ms)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	return rig_cfg(&cfg, deadline_ms);
}

static void rig_free(struct rig *g)
{
	uccid_close(g->r);
	vdev_free(g->d);
	free(g);
}

struct fault_arg {
	enum vdev_fault f;
	uint32_t arg;
	unsigned count;
};

static void set_fault(struct vdev *d, void *ctx)
{
	const struct fault_arg *a = ctx;

	ck_assert_int_eq(vdev_set_fault(d, 0, a->f, a->arg, a->count), 0);
}

static void fault(struct rig *g, enum vdev_fault f, uint32_t arg, unsigned count)
{
	struct fault_arg a = { f, arg, count };

	vreader_inproc_call(g->t, set_fault, &a);
}

static void remove_card(struct vdev *d, void *ctx)
{
	(void)ctx;
	ck_assert_int_eq(vdev_remove_card(d, 0, uccid_mono_us()), 0);
}

static uint8_t rsp[65538];

/* Transmit apdu; returns SW1 SW2 (the response length in *ret_n). */
static unsigned xmit(struct rig *g, const uint8_t *apdu, size_t len, ssize_t *ret_n)
{
	ssize_t n = uccid_transmit(g->r, 0, apdu, len, rsp, sizeof(rsp));

	ck_assert_msg(n >= 2, "transmit of %zu bytes: %zd (%s); log: %s", len, n, n < 0 ? strerror((int)-n) : "",
		      g->log);
	*ret_n = n;
	return (unsigned)(rsp[n - 2] << 8 | rsp[n - 1]);
}

/* ECHO (80 10): the card returns the data it got; case 4, short or extended. */
static void echo(struct rig *g, size_t nc)
{
	static uint8_t apdu[4 + 3 + 65535 + 3];
	size_t len = 0;
	ssize_t n;

	apdu[len++] = 0x80;
	apdu[len++] = 0x10;
	apdu[len++] = 0;
	apdu[len++] = 0;
	if (nc <= 255) {
		apdu[len++] = (uint8_t)nc;
	} else {
		apdu[len++] = 0;
		apdu[len++] = (uint8_t)(nc >> 8);
		apdu[len++] = (uint8_t)nc;
	}
	for (size_t i = 0; i < nc; i++)
		apdu[len++] = (uint8_t)(i * 7 + 1);
	if (nc <= 255) {
		apdu[len++] = 0;
	} else {
		apdu[len++] = 0;
		apdu[len++] = 0;
	}
	ck_assert_uint_eq(xmit(g, apdu, len, &n), 0x9000);
	ck_assert_int_eq(n, (ssize_t)nc + 2);
	for (size_t i = 0; i < nc; i++)
		ck_assert_uint_eq(rsp[i], (uint8_t)(i * 7 + 1));
}

static void power(struct rig *g)
{
	uint8_t atr[33];
	int n = uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));

	ck_assert_msg(n >= 2 && atr[0] == 0x3B, "power on: %d (%s); log: %s", n, n < 0 ? strerror(-n) : "", g->log);
}

/* ---- the token's USB side ---- */

static int control(struct vdev *d, uint8_t type, uint8_t req, uint16_t wValue, uint16_t wLength, uint8_t *buf)
{
	uint8_t setup[8] = { type, req };

	put_le16(setup + 2, wValue);
	put_le16(setup + 4, 0);
	put_le16(setup + 6, wLength);
	return vdev_usb_ops.control(d, setup, type & 0x80 ? NULL : buf, buf, type & 0x80 ? wLength : 0,
				    uccid_mono_us());
}

START_TEST(test_descriptors)
{
	bool a = _i == 0;
	struct vdev_config cfg;
	struct vdev *d;
	uint8_t buf[512];
	struct ccid_usb_config *uc = malloc(sizeof(*uc));
	struct ccid_usb_ccid_interface ci;
	int n;

	ck_assert_ptr_nonnull(uc);
	ck_assert_int_eq(vdev_profile_config(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, &cfg), 0);
	ck_assert_str_eq(vdev_profile_name(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B), a ? "iccd-a" : "iccd-b");
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	n = control(d, 0x80, 0x06, 0x0200, sizeof(buf), buf);
	ck_assert_int_gt(n, 9);
	ck_assert_int_eq(ccid_usb_config_parse(buf, (size_t)n, uc, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(uc, buf, (size_t)n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.bInterfaceProtocol, a ? CCID_USB_PROTOCOL_ICCD_A : CCID_USB_PROTOCOL_ICCD_B);
	/* the control pipe only; version B reports card events on an interrupt pipe */
	ck_assert_uint_eq(ci.ep_bulk_in, 0);
	ck_assert_uint_eq(ci.ep_bulk_out, 0);
	ck_assert_uint_eq(ci.ep_intr_in, a ? 0 : VDEV_INTR_IN);
	/* CCID's class requests are not a token's: GET_CLOCK_FREQUENCIES stalls */
	ck_assert_int_eq(control(d, 0xA1, 0x02, 0, 256, buf), -EPIPE);
	free(uc);
	vdev_free(d);
}
END_TEST

/* The requests a token refuses, at the USB level. */
START_TEST(test_refused_requests)
{
	struct vdev_config cfg;
	struct vdev *d;
	uint8_t buf[300];

	/* version A */
	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_ICCD_A, &cfg), 0);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_GET_ICC_STATUS, 0, 1, buf), 1);
	ck_assert_uint_eq(buf[0], CCID_ICCD_A_READY);          /* not powered: not mute either (libccid's reading) */
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_SLOT_STATUS, 0, 3, buf), -EPIPE);    /* B's request */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_ICC_POWER_ON, 0, 0, buf), -EPIPE);   /* A's is IN */
	ck_assert_int_gt(control(d, 0xA1, CCID_ICCD_ICC_POWER_ON, 0, 33, buf), 2);
	ck_assert_uint_eq(buf[0], 0x3B);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_GET_ICC_STATUS, 0, 1, buf), 1);
	ck_assert_uint_eq(buf[0], CCID_ICCD_A_READY);
	memcpy(buf, SELECT_AID, 4);                                             /* a header of 4 bytes */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0, 4, buf), -EPIPE);
	memcpy(buf, SELECT_AID, 5);
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0, 5, buf), 0);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_GET_ICC_STATUS, 0, 1, buf), 1);
	ck_assert_uint_eq(buf[0], CCID_ICCD_A_DATA);
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0, 3, buf), -EPIPE);       /* not P3 bytes */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0, 7, (uint8_t *)SELECT_AID + 5), 0);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_GET_ICC_STATUS, 0, 1, buf), 1);
	ck_assert_uint_eq(buf[0], CCID_ICCD_A_SW);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_DATA_BLOCK, 0, 2, buf), 2);
	ck_assert_uint_eq(get_be16(buf), 0x9000);
	vdev_free(d);

	/* version B */
	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_ICCD_B, &cfg), 0);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_GET_ICC_STATUS, 0, 1, buf), -EPIPE);  /* A's request */
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_DATA_BLOCK, 0, 3, buf), -EPIPE);      /* wLength < 4 */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0x0400, 0, buf), -EPIPE);  /* no such level */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0x0001, 0, buf), -EPIPE);  /* nor in the low byte */
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_SLOT_STATUS, 0, 3, buf), 3);
	ck_assert_uint_eq(buf[0], CCID_ICCD_B_STATUS);
	ck_assert_uint_eq(buf[1], 0x01);                                                  /* present, inactive */
	/* an APDU to an unpowered card: status information, failed, mute */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, 0, sizeof(SELECT_AID), (uint8_t *)SELECT_AID), 0);
	ck_assert_int_eq(control(d, 0xA1, CCID_ICCD_DATA_BLOCK, 0, 256, buf), 3);
	ck_assert_uint_eq(buf[0], CCID_ICCD_B_STATUS);
	ck_assert_uint_eq(buf[1], 0x41);
	ck_assert_uint_eq(buf[2], 0xFE);
	/* a continuation without a beginning */
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_ICC_POWER_ON, 1, 0, buf), 0);
	ck_assert_int_gt(control(d, 0xA1, CCID_ICCD_DATA_BLOCK, 0, 256, buf), 3);
	ck_assert_uint_eq(buf[0], CCID_ICCD_B_DATA);
	ck_assert_uint_eq(buf[1], 0x3B);
	ck_assert_int_eq(control(d, 0x21, CCID_ICCD_XFR_BLOCK, CCID_ICCD_B_LEVEL(2), 4, (uint8_t *)SELECT_AID), -EPIPE);
	vdev_free(d);
}
END_TEST

/* ---- the session over both profiles ---- */

START_TEST(test_session)
{
	bool a = _i == 0;
	struct rig *g = rig_profile(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, 10000);
	struct uccid_reader_info info;
	struct uccid_slot_status st;
	uint8_t atr[33];
	ssize_t n;

	ck_assert_int_eq(uccid_info(g->r, &info), 0);
	ck_assert_uint_eq(info.nslots, 1);
	ck_assert(info.has_interrupt == !a);
	ck_assert_int_eq(info.exchange_level, a ? CCID_LEVEL_TPDU : CCID_LEVEL_EXTENDED_APDU);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && !st.powered);
	power(g);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && st.powered);
	ck_assert_uint_eq(st.protocol, a ? 0 : 1);
	ck_assert_uint_eq(xmit(g, SELECT_AID, sizeof(SELECT_AID), &n), 0x9000);
	ck_assert_int_eq(n, 2);
	echo(g, 1);
	echo(g, 255);
	if (a) {
		/* T=0: an extended APDU needs another token */
		uint8_t ext[] = { 0x80, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 };

		ck_assert_int_eq(uccid_transmit(g->r, 0, ext, sizeof(ext) - 2, rsp, sizeof(rsp)), -ENOTSUP);
	} else {
		/* extended APDUs, chained both ways in parts of the token's message size */
		echo(g, 256);
		echo(g, 4096);
	}
	/* a reset is a power cycle for a token: the PIN state is gone */
	ck_assert_int_gt(uccid_reset(g->r, 0, false, atr, sizeof(atr)), 0);
	ck_assert_uint_eq(xmit(g, SELECT_AID, sizeof(SELECT_AID), &n), 0x9000);
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(st.present && !st.powered);
	ck_assert_int_eq(uccid_transmit(g->r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp)), -EIO);
	ck_assert_msg(g->log[0] == 0, "warnings or errors: %s", g->log);
	rig_free(g);
}
END_TEST

/* A card at work: version A says 40h (busy), version B 80h with wDelayTime; the session waits. */
START_TEST(test_busy)
{
	bool a = _i == 0;
	struct rig *g = rig_profile(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, 10000);
	static const uint8_t slow[] = { 0x80, 0x12, 0x00, 0x32 };         /* 50 x 10 ms of work */
	struct vdev_counters c;
	int64_t t0;
	ssize_t n;

	power(g);
	t0 = uccid_mono_ms();
	ck_assert_uint_eq(xmit(g, slow, sizeof(slow), &n), 0x9000);
	ck_assert_int_ge(uccid_mono_ms() - t0, 480);
	/* injected latency on an ordinary command */
	fault(g, VDEV_FAULT_LATENCY, 300, 1);
	t0 = uccid_mono_ms();
	echo(g, 16);
	ck_assert_int_ge(uccid_mono_ms() - t0, 290);
	vdev_counters(g->d, &c);
	if (!a)
		ck_assert_uint_gt(c.time_extensions, 0);    /* DATA_BLOCK said "poll again" */
	rig_free(g);
}
END_TEST

/* A token that stays busy fails the command at the session's deadline, and the next power-up works. */
START_TEST(test_endless_busy)
{
	bool a = _i == 0;
	struct rig *g = rig_profile(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, 1000);
	int64_t t0;

	power(g);
	fault(g, VDEV_FAULT_ENDLESS_WTX, 0, 1);
	t0 = uccid_mono_ms();
	ck_assert_int_eq(uccid_transmit(g->r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp)), -ETIMEDOUT);
	ck_assert_int_ge(uccid_mono_ms() - t0, 900);
	ck_assert_int_lt(uccid_mono_ms() - t0, 3000);
	power(g);
	echo(g, 8);
	rig_free(g);
}
END_TEST

/* A malformed answer (a status byte or bResponseType no token sends) is a clear error. */
START_TEST(test_malformed)
{
	bool a = _i == 0;
	struct rig *g = rig_profile(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, 5000);
	ssize_t n;

	power(g);
	fault(g, VDEV_FAULT_GARBAGE, 0, 1);
	ck_assert_int_eq(uccid_transmit(g->r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp)), -EPROTO);
	ck_assert_msg(strstr(g->log, a ? "ICCD GET_ICC_STATUS: bad answer 01 at byte 0" : "ICCD DATA_BLOCK: bad answer")
			      && strstr(g->log, "expected"),
		      "log: %s", g->log);
	/* the token starts again from a power-up */
	power(g);
	ck_assert_uint_eq(xmit(g, SELECT_AID, sizeof(SELECT_AID), &n), 0x9000);
	rig_free(g);
}
END_TEST

/* No ATR (a mute card), and no card: the power-up fails as a reader's does. */
START_TEST(test_mute_and_absent)
{
	bool a = _i == 0;
	struct rig *g = rig_profile(a ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, 5000);
	struct uccid_slot_status st;
	struct uccid_reader_error e;
	uint8_t atr[33];

	fault(g, VDEV_FAULT_MUTE, 0, 0);
	ck_assert_int_eq(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), -ETIMEDOUT);
	ck_assert_int_eq(uccid_last_error(g->r, 0, &e), 0);
	ck_assert(e.valid);
	ck_assert_uint_eq(e.bError, 0xFE);
	fault(g, VDEV_FAULT_NONE, 0, 0);
	power(g);
	vreader_inproc_call(g->t, remove_card, NULL);
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	/* version B says absent; version A answers 80h (mute), no card as libccid takes it */
	ck_assert(!st.present);
	ck_assert(!st.powered);
	ck_assert_int_lt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	ck_assert_int_eq(uccid_last_error(g->r, 0, &e), 0);
	ck_assert(e.valid);
	ck_assert_uint_eq(e.bError, 0xFE);                      /* ICC mute, as a reader's empty slot */
	ck_assert_uint_eq(e.bStatus & 0x03, 0x02);              /* no ICC */
	ck_assert_int_eq(uccid_slot_status(g->r, 0, &st), 0);
	ck_assert(!st.present);
	rig_free(g);
}
END_TEST

static void insert_card(struct vdev *d, void *ctx)
{
	(void)ctx;
	ck_assert_int_eq(vdev_insert_card(d, 0, NULL, uccid_mono_us()), 0);
}

/*
 * Card events: version B on its interrupt pipe (NotifySlotChange) or polled with SLOT_STATUS
 * without one; version A (no interrupt pipe) polled with GET_ICC_STATUS, 80h being no card.
 */
START_TEST(test_events)
{
	struct vdev_config cfg;
	struct rig *g;
	struct uccid_reader_info info;
	struct uccid_event e;

	ck_assert_int_eq(vdev_profile_config(_i == 2 ? VDEV_PROFILE_ICCD_A : VDEV_PROFILE_ICCD_B, &cfg), 0);
	cfg.no_interrupt = _i >= 1;
	g = rig_cfg(&cfg, 5000);
	ck_assert_int_eq(uccid_info(g->r, &info), 0);
	ck_assert(info.has_interrupt == (_i == 0));   /* a version A token has none */
	power(g);
	while (uccid_wait_event(g->r, 300, &e) == 1)
		;                       /* what the first report brings */
	vreader_inproc_call(g->t, remove_card, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_REMOVED);
	vreader_inproc_call(g->t, insert_card, NULL);
	ck_assert_int_eq(uccid_wait_event(g->r, 2000, &e), 1);
	ck_assert_int_eq(e.type, UCCID_EVENT_INSERTED);
	power(g);
	echo(g, 32);
	rig_free(g);
}
END_TEST

/* ---- every real ICCD descriptor ---- */

static char *iccd_files[32];
static size_t n_iccd, n_version[3];

static int cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The readers of tests/data/readers/ whose (first) interface has bInterfaceProtocol 1 or 2. */
static void find_iccd_files(void)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096], line[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/readers", dir ? dir : "tests/data");
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "check_iccd_session: %s: %s\n", path, strerror(errno));
		exit(EXIT_FAILURE);
	}
	while ((de = readdir(d))) {
		char full[4352];
		FILE *f;
		unsigned proto = 0;

		if (strlen(de->d_name) < 5 || strcmp(de->d_name + strlen(de->d_name) - 4, ".txt"))
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		f = fopen(full, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " bInterfaceProtocol: %u", &proto) == 1)
				break;
		fclose(f);
		if ((proto == 1 || proto == 2) && n_iccd < sizeof(iccd_files) / sizeof(iccd_files[0])) {
			iccd_files[n_iccd++] = strdup(full);
			n_version[proto]++;
		}
	}
	closedir(d);
	qsort(iccd_files, n_iccd, sizeof(iccd_files[0]), cmp);
}

START_TEST(test_corpus_count)
{
	/* 3 version A (ActivCard V2, BIFIT iBank2key, e-gate), 9 version B */
	ck_assert_uint_eq(n_iccd, 12);
	ck_assert_uint_eq(n_version[1], 3);
	ck_assert_uint_eq(n_version[2], 9);
}
END_TEST

START_TEST(test_real_descriptor)
{
	struct vdev_config cfg;
	struct rig *g;
	char err[256] = "";
	ssize_t n;

	ck_assert_uint_lt((size_t)_i, n_iccd);
	ck_assert_msg(vdev_config_from_reader_file(iccd_files[_i], &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ne(cfg.iccd, 0);
	g = rig_cfg(&cfg, 10000);
	power(g);
	ck_assert_uint_eq(xmit(g, SELECT_AID, sizeof(SELECT_AID), &n), 0x9000);
	echo(g, 200);
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
	fprintf(stderr, "ok: %s (ICCD version %c)\n", strrchr(iccd_files[_i], '/') + 1, cfg.iccd == 1 ? 'A' : 'B');
	rig_free(g);
}
END_TEST

static Suite *iccd_session_suite(void)
{
	Suite *s = suite_create("iccd_session");
	TCase *tc;

	tc = tcase_create("device");
	tcase_add_loop_test(tc, test_descriptors, 0, 2);
	tcase_add_test(tc, test_refused_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_session, 0, 2);
	tcase_add_loop_test(tc, test_busy, 0, 2);
	tcase_add_loop_test(tc, test_endless_busy, 0, 2);
	tcase_add_loop_test(tc, test_malformed, 0, 2);
	tcase_add_loop_test(tc, test_mute_and_absent, 0, 2);
	tcase_add_loop_test(tc, test_events, 0, 3);
	suite_add_tcase(s, tc);
	tc = tcase_create("real descriptors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_corpus_count);
	tcase_add_loop_test(tc, test_real_descriptor, 0, (int)(n_iccd ? n_iccd : 1));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;

	find_iccd_files();
	rc = tu_run(iccd_session_suite());
	for (size_t i = 0; i < n_iccd; i++)
		free(iccd_files[i]);
	return rc;
}
