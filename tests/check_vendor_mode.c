/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader's vendor mode (uccid_options.vendor_apdu_mode; libccid's
 * ifdDriverOptions 0x0002): the GemPC Twin and GemPC Key declare TPDU level
 * and work at short-APDU level after the Escape 1F 02.  In one process,
 * against the virtual reader presenting their real descriptors
 * (tests/data/readers/GemPCTwin.txt, GemPCKey.txt), which carries the
 * Escape out as their firmware does (vreader/vendor.c):
 *   - asked, the session sends the Escape before any other command, the
 *     reader is driven at short-APDU level (XfrBlock carries the APDU, not
 *     T=1 blocks), and uccid_info names the mode;
 *   - not asked, nothing is sent and the reader is driven at TPDU level;
 *   - a reader that refuses the Escape stays at TPDU level and works;
 *   - another reader, asked, gets no Escape.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

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

static struct vdev *reader_file(const char *file)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096], err[512] = "";
	struct vdev_config cfg;
	struct vdev *d;

	snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", file);
	ck_assert_msg(vdev_config_from_reader_file(path, &cfg, err, sizeof(err)) == 0, "%s: %s", file, err);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	return d;
}

static void rig_open(struct rig *g, bool vendor_mode)
{
	struct uccid_options o = { .exchange_deadline_ms = 10000, .log = quiet_log, .log_level = UCCID_LOG_DEBUG,
				   .vendor_apdu_mode = vendor_mode };
	char err[256] = "";

	ck_assert_int_eq(vreader_inproc_open(g->d, &g->t), 0);
	ck_assert_msg(uccid_open_transport(g->t, &o, &g->r, err, sizeof(err)) == 0, "%s", err);
}

static void rig_close(struct rig *g)
{
	ck_assert_int_eq(uccid_close(g->r), 0);
	g->r = NULL;
}

/* Power up, SELECT and ECHO 200 bytes: the card answers whatever the level. */
static void use_card(struct rig *g)
{
	uint8_t atr[33], apdu[5 + 200 + 1], rsp[258];
	ssize_t n;

	ck_assert_int_gt(uccid_power_on(g->r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)), 0);
	n = uccid_transmit(g->r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(rsp[0] << 8 | rsp[1], 0x9000);
	apdu[0] = 0x80, apdu[1] = 0x10, apdu[2] = 0, apdu[3] = 0, apdu[4] = 200;
	for (unsigned i = 0; i < 200; i++)
		apdu[5 + i] = (uint8_t)(i * 7);
	apdu[205] = 0;
	n = uccid_transmit(g->r, 0, apdu, sizeof(apdu), rsp, sizeof(rsp));
	ck_assert_int_eq(n, 202);
	ck_assert_mem_eq(rsp, apdu + 5, 200);
	ck_assert_uint_eq(rsp[200] << 8 | rsp[201], 0x9000);
	ck_assert_int_eq(uccid_power_off(g->r, 0), 0);
}

struct wire {
	unsigned escapes;               /* Escape 1F 02 from the host */
	bool escape_first;              /* ... before any other command */
	unsigned apdus, blocks;         /* XfrBlocks carrying the SELECT as an APDU, or in a T=1 block */
	unsigned commands;
};

static void wire_fn(struct vdev *d, void *ctx)
{
	struct vdev_journal_entry e[512];
	struct wire *w = ctx;
	size_t n = vdev_journal(d, 0, 0, e, 512);

	for (size_t i = 0; i < n; i++) {
		if (!e[i].from_host)
			continue;
		if (e[i].bMessageType == CCID_PC_TO_RDR_ESCAPE && e[i].ndata == 2 && e[i].data[0] == 0x1F
		    && e[i].data[1] == 0x02) {
			if (w->commands == 0)
				w->escape_first = true;
			w->escapes++;
		}
		if (e[i].bMessageType == CCID_PC_TO_RDR_XFR_BLOCK && e[i].ndata >= 5) {
			if (!memcmp(e[i].data, SELECT_AID, 5))
				w->apdus++;
			else if (e[i].ndata >= 8 && !memcmp(e[i].data + 3, SELECT_AID, 5))
				w->blocks++;            /* NAD PCB LEN, then the APDU: T=1 at TPDU level */
		}
		w->commands++;
	}
}

static struct wire wire(struct rig *g)
{
	struct wire w = { 0 };

	vreader_inproc_call(g->t, wire_fn, &w);
	return w;
}

static const char *const gempcs[] = { "GemPCTwin.txt", "GemPCKey.txt" };

START_TEST(test_switched)
{
	struct rig g = { .d = reader_file(gempcs[_i]) };
	struct uccid_reader_info info;
	struct wire w;

	rig_open(&g, true);
	ck_assert_int_eq(uccid_info(g.r, &info), 0);
	ck_assert_int_eq(info.exchange_level, CCID_LEVEL_SHORT_APDU);
	ck_assert_msg(strstr(info.quirks, _i ? "apdu-mode-gempc-key" : "apdu-mode-gempc-twin"), "quirks: %s",
		      info.quirks);
	use_card(&g);
	w = wire(&g);
	ck_assert_uint_eq(w.escapes, 1);
	ck_assert(w.escape_first);
	ck_assert_uint_eq(w.apdus, 1);
	ck_assert_uint_eq(w.blocks, 0);
	rig_close(&g);

	/* a new host is a USB reset: the firmware is back at TPDU level, and so is a session that does not ask */
	vdev_journal_clear(g.d);
	rig_open(&g, false);
	ck_assert_int_eq(uccid_info(g.r, &info), 0);
	ck_assert_int_eq(info.exchange_level, CCID_LEVEL_TPDU);
	use_card(&g);
	w = wire(&g);
	ck_assert_uint_eq(w.escapes, 0);
	ck_assert_uint_eq(w.apdus, 0);
	ck_assert_uint_eq(w.blocks, 1);
	rig_close(&g);
	vdev_free(g.d);
}
END_TEST

/* Firmware that refuses the Escape: the reader is driven at the level it declares. */
START_TEST(test_refused)
{
	struct rig g = { .d = reader_file("GemPCTwin.txt") };
	struct uccid_reader_info info;
	struct wire w;

	/* armed before the device has a host: the Escape fails with a hardware error, once */
	ck_assert_int_eq(vdev_set_fault(g.d, 0, VDEV_FAULT_HW_ERROR, 0, 1), 0);
	ck_assert_int_eq(vdev_set_fault_on(g.d, 0, CCID_PC_TO_RDR_ESCAPE), 0);
	rig_open(&g, true);
	ck_assert_int_eq(uccid_info(g.r, &info), 0);
	ck_assert_int_eq(info.exchange_level, CCID_LEVEL_TPDU);
	ck_assert_ptr_null(strstr(info.quirks, "apdu-mode"));
	use_card(&g);
	w = wire(&g);
	ck_assert_uint_eq(w.escapes, 1);
	ck_assert_uint_eq(w.blocks, 1);
	rig_close(&g);
	vdev_free(g.d);
}
END_TEST

/* Another reader: asked, it gets no Escape and keeps its level. */
START_TEST(test_other_reader)
{
	struct rig g = { .d = reader_file("GemPCPinpad.txt") };
	struct uccid_reader_info info, before;
	struct wire w;

	rig_open(&g, false);
	ck_assert_int_eq(uccid_info(g.r, &before), 0);
	rig_close(&g);
	rig_open(&g, true);
	ck_assert_int_eq(uccid_info(g.r, &info), 0);
	ck_assert_int_eq(info.exchange_level, before.exchange_level);
	use_card(&g);
	w = wire(&g);
	ck_assert_uint_eq(w.escapes, 0);
	rig_close(&g);
	vdev_free(g.d);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vendor_mode");
	TCase *tc = tcase_create("gempc");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_switched, 0, 2);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_other_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
