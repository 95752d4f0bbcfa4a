/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver against character-level readers (CCID 1.1 §6.1.4), in process:
 * the virtual reader's char-t0 profile with the simulated card answering
 * byte by byte — T=0 cases 1 to 4, 256-byte reads, 61xx and 6Cxx, a card
 * that sends NULL bytes, one that ACKs every byte, a mute card whose reader
 * never reports it (the host's work waiting time must end the exchange) —
 * and the real character-level readers of tests/data/readers/ presented by
 * their descriptors: power up, PPS, and APDUs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "util/clock.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"

struct rig {
	struct vdev *d;
	struct uccid_transport *t;
	struct uccid_reader *r;
};

static void quiet_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

static struct rig *rig_new(const struct vdev_config *cfg, bool auto_gr)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct uccid_options o = { .exchange_deadline_ms = 20000, .power_deadline_ms = 20000, .log = quiet_log,
				   .log_level = UCCID_LOG_DEBUG, .reconnect_ms = -1, .auto_get_response = auto_gr };
	struct uccid_reader_info info;
	char err[256] = "";
	uint8_t atr[33];

	ck_assert_ptr_nonnull(g);
	g->d = vdev_new(cfg);
	ck_assert_ptr_nonnull(g->d);
	ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
	ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(uccid_info(g->r, &info), 0);
	ck_assert_int_eq(info.exchange_level, CCID_LEVEL_CHARACTER);
	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	return g;
}

static struct rig *rig_profile(void (*tweak)(struct vdev_config *), bool auto_gr)
{
	struct vdev_config cfg;

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_CHAR_T0, &cfg), 0);
	if (tweak)
		tweak(&cfg);
	return rig_new(&cfg, auto_gr);
}

static void rig_free(struct rig *g)
{
	uccid_close(g->r);
	vdev_free(g->d);
	free(g);
}

static uint8_t rsp[70000];

/* Transmit hex; returns SW, *ret_n the response length (data + SW). */
static uint16_t xmit(struct rig *g, const char *hex, ssize_t *ret_n)
{
	uint8_t apdu[300];
	size_t len = tu_hex(hex, apdu, sizeof(apdu));
	ssize_t n = uccid_transmit(g->r, 0, apdu, len, rsp, sizeof(rsp));

	ck_assert_msg(n >= 2, "%s: %zd (%s)", hex, n, n < 0 ? strerror((int)-n) : "");
	if (ret_n)
		*ret_n = n;
	return (uint16_t)(rsp[n - 2] << 8 | rsp[n - 1]);
}

#define SELECT_AID "00 A4 04 0C 07 F0 75 63 63 69 64 01"
#define SELECT_FCI "00 A4 04 00 07 F0 75 63 63 69 64 01 00"
#define SELECT_EF "00 A4 02 0C 02 01 01"

/* Cases 1 to 4, a 256-byte read, a 4096-byte EF read in 256-byte parts: the same whatever the card's pacing. */
static void run_cases(struct rig *g)
{
	ssize_t n;

	ck_assert_uint_eq(xmit(g, "00 20 00 80", &n), 0x63C3);                 /* case 1 */
	ck_assert_uint_eq(xmit(g, SELECT_AID, &n), 0x9000);                    /* case 3 */
	ck_assert_uint_eq(xmit(g, "00 20 00 80 06 31 32 33 34 35 36", &n), 0x9000);
	ck_assert_uint_eq(xmit(g, "00 84 00 00 08", &n), 0x9000);              /* case 2 */
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(xmit(g, SELECT_FCI, &n), 0x9000);                    /* case 4: 61xx, GET RESPONSE */
	ck_assert_int_eq(n, 13);
	ck_assert_uint_eq(rsp[0], 0x6F);
	ck_assert_uint_eq(xmit(g, SELECT_EF, &n), 0x9000);
	for (unsigned off = 0; off < 4096; off += 256) {
		char cmd[32];

		snprintf(cmd, sizeof(cmd), "00 B0 %02X %02X 00", off >> 8, off & 0xFF);
		ck_assert_uint_eq(xmit(g, cmd, &n), 0x9000);                   /* Le 00: 256 bytes */
		ck_assert_int_eq(n, 258);
		for (unsigned i = 0; i < 256; i++)
			ck_assert_uint_eq(rsp[i], (off + i) & 0xFF);
	}
	ck_assert_uint_eq(xmit(g, "00 D6 00 10 03 AA BB CC", &n), 0x9000);     /* case 3 after VERIFY */
	ck_assert_uint_eq(xmit(g, "00 B0 00 0F 05", &n), 0x9000);
	ck_assert_mem_eq(rsp, "\x0F\xAA\xBB\xCC\x13", 5);
}

START_TEST(test_cases)
{
	struct rig *g = rig_profile(NULL, true);

	run_cases(g);
	rig_free(g);
}
END_TEST

/* 61xx and 6Cxx as the card says them, when the caller follows them itself. */
START_TEST(test_61xx_6cxx)
{
	struct rig *g = rig_profile(NULL, false);
	ssize_t n;

	/* SELECT with its FCI as case 3: the card announces the FCI */
	ck_assert_uint_eq(xmit(g, "00 A4 04 00 07 F0 75 63 63 69 64 01", &n), 0x610B);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(xmit(g, "00 C0 00 00 04", &n), 0x6107);              /* a chain of GET RESPONSEs */
	ck_assert_int_eq(n, 6);
	ck_assert_mem_eq(rsp, "\x6F\x09\x84\x07", 4);
	ck_assert_uint_eq(xmit(g, "00 C0 00 00 10", &n), 0x6C07);              /* too many asked: 6C07 */
	ck_assert_uint_eq(xmit(g, "00 C0 00 00 07", &n), 0x9000);
	ck_assert_int_eq(n, 9);
	ck_assert_uint_eq(rsp[6], 0x01);
	ck_assert_uint_eq(xmit(g, SELECT_EF, &n), 0x9000);
	ck_assert_uint_eq(xmit(g, "00 B0 0F F8 10", &n), 0x6C08);              /* 8 bytes left */
	ck_assert_int_eq(n, 2);
	rig_free(g);
	/* the session follows them when asked to */
	g = rig_profile(NULL, true);
	ck_assert_uint_eq(xmit(g, SELECT_EF, &n), 0x9000);
	ck_assert_uint_eq(xmit(g, "00 B0 0F F8 10", &n), 0x9000);
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(rsp[0], 0xF8);
	rig_free(g);
}
END_TEST

static void nulls(struct vdev_config *cfg)
{
	cfg->card.t0_nulls = 3;
}

START_TEST(test_nulls)
{
	struct rig *g = rig_profile(nulls, true);

	run_cases(g);
	rig_free(g);
}
END_TEST

static void ack_each(struct vdev_config *cfg)
{
	cfg->card.t0_ack_each = true;
	cfg->card.t0_nulls = 1;
}

START_TEST(test_ack_each)
{
	struct rig *g = rig_profile(ack_each, true);

	run_cases(g);
	rig_free(g);
}
END_TEST

/* The reader would wait 30 s for the card, silently; the host's work waiting time ends it first. */
static void slow_mute(struct vdev_config *cfg)
{
	cfg->mute_ms = 30000;
	cfg->time_extension_ms = 0;     /* and asks for no time extension meanwhile */
}

START_TEST(test_mute)
{
	struct rig *g = rig_profile(slow_mute, true);
	uint8_t apdu[] = { 0x00, 0x84, 0x00, 0x00, 0x08 };
	int64_t t0;
	ssize_t n;

	/* the card's WI 10 at Fi 512, 4 MHz: WWT 1.23 s per byte asked for */
	vdev_set_fault(g->d, 0, VDEV_FAULT_MUTE, 0, 1);
	t0 = uccid_mono_ms();
	n = uccid_transmit(g->r, 0, apdu, sizeof(apdu), rsp, sizeof(rsp));
	ck_assert_int_eq(n, -ETIMEDOUT);
	fprintf(stderr, "mute card, silent reader: -ETIMEDOUT after %lld ms\n", (long long)(uccid_mono_ms() - t0));
	ck_assert_int_ge(uccid_mono_ms() - t0, 1000);
	ck_assert_int_lt(uccid_mono_ms() - t0, 8000);
	/* the next command finds the card again (the reader aborted the wait) */
	ck_assert_uint_eq(xmit(g, "00 84 00 00 08", &n), 0x9000);
	rig_free(g);
}
END_TEST

/*
 * The real character-level readers, each as its descriptor declares it.
 * e-gate, KONA and BIFIT declare character level too, but they are ICCD
 * tokens (bInterfaceProtocol 1, 2): the control pipe at the token's own
 * level (check_iccd_session drives them).
 */
static const char *const char_readers[] = {
	"Oz776S.txt", "Oz776_7772.txt", "Winbond.txt",
};

START_TEST(test_real_readers)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[512], err[256] = "";
	struct vdev_config cfg;
	struct rig *g;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", char_readers[_i]);
	ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(ccid_class_desc_level(&cfg.desc), CCID_LEVEL_CHARACTER);
	g = rig_new(&cfg, true);
	ck_assert_uint_eq(xmit(g, SELECT_AID, &n), 0x9000);
	ck_assert_uint_eq(xmit(g, SELECT_EF, &n), 0x9000);
	ck_assert_uint_eq(xmit(g, "00 B0 01 00 00", &n), 0x9000);              /* 256 bytes */
	ck_assert_int_eq(n, 258);
	ck_assert_uint_eq(rsp[255], 0xFF);
	ck_assert_uint_eq(xmit(g, "00 20 00 80 06 31 32 33 34 35 37", &n), 0x63C2);
	if (cfg.desc.dwProtocols & CCID_PROTOCOLS_T1) {
		/* T=1 framed by the host: an extended APDU, its 4096-byte answer chained in IFSD-sized blocks */
		ck_assert_uint_eq(xmit(g, "80 10 00 00 00 10 00", &n), 0x9000);
		ck_assert_int_eq(n, 4098);
		ck_assert_uint_eq(rsp[4095], 0xFF);
	}
	rig_free(g);
}
END_TEST

static Suite *charlevel_suite(void)
{
	Suite *s = suite_create("charlevel");
	TCase *tc = tcase_create("t0");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cases);
	tcase_add_test(tc, test_61xx_6cxx);
	tcase_add_test(tc, test_nulls);
	tcase_add_test(tc, test_ack_each);
	tcase_add_test(tc, test_mute);
	suite_add_tcase(s, tc);
	tc = tcase_create("readers");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_real_readers, 0, sizeof(char_readers) / sizeof(char_readers[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_mode(charlevel_suite(), false);
}
