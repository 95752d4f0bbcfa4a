/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every ATR of real cards that pcsc-tools knows (its smartcard_list.txt,
 * installed by Debian's pcsc-tools; GPL, so read where it is installed and
 * not committed): each one decodes with ccid_atr_parse_lenient, the strict
 * parse refuses exactly those with findings, and each one, presented by the
 * virtual reader in process, powers up through the session (one warning
 * for a defective ATR, none otherwise) and answers an APDU.  Lines that are
 * patterns (".." or "[..]" in them) are decoded and powered up through one
 * representative each: every "." becomes 0, every "[...]" its first
 * alternative and ".*" nothing.  Prints the counts per finding kind.  Skips (exit 77) with a
 * message when the list is not installed.  UCCID_ATR_LIST names another list.
 * With --defective it only prints the ATRs with findings (tests/tool/atr-analysis.sh).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "util/clock.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"

#define LIST_DEFAULT "/usr/share/pcsc/smartcard_list.txt"
#define MAX_ATRS 8192
#define NKINDS (CCID_ATR_TOO_LONG + 1)

struct entry {
	uint8_t atr[VCARD_ATR_MAX];
	size_t len;
	bool pattern;
	unsigned line;
};

static struct entry *atrs;
static size_t natrs;
static const char *list_path;

/* One list line: the ATR (a pattern's representative) into e; false if the line is no ATR. */
static bool parse_line(const char *p, unsigned line, struct entry *e)
{
	int nib = -1;

	memset(e, 0, sizeof(*e));
	e->line = line;
	if (strncmp(p, "3B", 2) && strncmp(p, "3F", 2))
		return false;
	for (; *p && *p != '\n' && *p != '\r' && *p != '\t'; p++) {
		int v;

		if (*p == ' ')
			continue;
		if (p[0] == '.' && p[1] == '*') {
			/* any bytes: none */
			e->pattern = true;
			p++;
			continue;
		}
		if (*p == '.') {
			v = 0;
			e->pattern = true;
		} else if (*p == '[') {
			/* a character class: its first alternative */
			e->pattern = true;
			v = uccid_hex_digit(p[1]);
			while (*p && *p != ']')
				p++;
			if (!*p)
				return false;
		} else {
			v = uccid_hex_digit(*p);
		}
		if (v < 0)
			return false;
		if (nib < 0) {
			nib = v;
			continue;
		}
		if (e->len >= sizeof(e->atr))
			return false;
		e->atr[e->len++] = (uint8_t)(nib << 4 | v);
		nib = -1;
	}
	return nib < 0 && e->len > 0;
}

static int load_list(void)
{
	char buf[1024];
	unsigned line = 0, bad = 0;
	FILE *f;

	list_path = getenv("UCCID_ATR_LIST") ? getenv("UCCID_ATR_LIST") : LIST_DEFAULT;
	f = fopen(list_path, "r");
	if (!f)
		return -errno;
	atrs = calloc(MAX_ATRS, sizeof(*atrs));
	if (!atrs) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(buf, sizeof(buf), f) && natrs < MAX_ATRS) {
		line++;
		if (buf[0] != '3')
			continue;
		if (parse_line(buf, line, &atrs[natrs]))
			natrs++;
		else
			bad++;
	}
	fclose(f);
	if (bad)
		fprintf(stderr, "%s: %u lines beginning with 3 are not ATRs, skipped\n", list_path, bad);
	return 0;
}

static void hexstr(const uint8_t *b, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02X", b[i]);
}

START_TEST(every_atr_decodes)
{
	unsigned kinds[2][NKINDS] = { { 0 } }, defective[2] = { 0 }, total[2] = { 0 };
	struct ccid_diag diag;
	struct ccid_atr a, strict;

	for (size_t i = 0; i < natrs; i++) {
		const struct entry *e = &atrs[i];
		char hex[2 * VCARD_ATR_MAX + 1] = "";
		int r = ccid_atr_parse_lenient(e->atr, e->len, &a, &diag);

		hexstr(e->atr, e->len, hex, sizeof(hex));
		ck_assert_msg(r == 0, "line %u %s: refused: %d at %zu (%s)", e->line, hex, r, diag.offset,
			      diag.expected);
		ck_assert_msg(a.nfindings <= CCID_ATR_MAX_FINDINGS, "line %u: %zu findings", e->line, a.nfindings);
		/* the strict parse refuses exactly what has findings, naming the first */
		r = ccid_atr_parse(e->atr, e->len, &strict, &diag);
		if (a.nfindings) {
			ck_assert_msg(r == a.findings[0].err && diag.offset == a.findings[0].offset,
				      "line %u %s: strict %d at %zu, finding %d at %zu", e->line, hex, r, diag.offset,
				      a.findings[0].err, a.findings[0].offset);
		} else {
			ck_assert_msg(r == 0, "line %u %s: strict refuses what has no finding", e->line, hex);
		}
		total[e->pattern]++;
		if (a.nfindings)
			defective[e->pattern]++;
		for (size_t k = 0; k < a.nfindings; k++) {
			ck_assert_int_lt(a.findings[k].defect, NKINDS);
			kinds[e->pattern][a.findings[k].defect]++;
		}
	}
	ck_assert_msg(total[0] > 1000, "%s: only %u ATRs", list_path, total[0]);
	printf("%s: %u ATRs and %u pattern representatives, all accepted; with findings: %u and %u\n", list_path,
	       total[0], total[1], defective[0], defective[1]);
	for (int k = 1; k < NKINDS; k++)
		printf("  %-20s %4u  (patterns %u)\n", ccid_atr_defect_name((enum ccid_atr_defect)k), kinds[0][k],
		       kinds[1][k]);
}
END_TEST

/* ---- power-up and an APDU through the session, the virtual reader in process ---- */

static unsigned warnings;       /* "defective ATR" warnings since the last reset */

static void count_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (level == UCCID_LOG_WARNING && strstr(msg, "defective ATR"))
		warnings++;
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

struct set_atr {
	const struct entry *e;
	int r;
};

static void set_atr_cb(struct vdev *d, void *ctx)
{
	struct set_atr *s = ctx;

	s->r = vdev_set_atr(d, 0, s->e->atr, s->e->len);
}

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

/* A TPDU-level reader running T=0 and T=1 (the PPS and SetParameters of power-up run too). */
START_TEST(every_atr_powers_up)
{
	struct uccid_options o = { .exchange_deadline_ms = 5000, .power_deadline_ms = 5000, .log = count_log,
				   .log_level = UCCID_LOG_DEBUG, .reconnect_ms = -1 };
	unsigned powered = 0, apdu_ok = 0, failed = 0;
	struct uccid_transport *t;
	struct uccid_reader *r;
	struct vdev_config cfg;
	struct vdev *d;
	char err[256] = "";
	uint8_t rsp[300], atr[CCID_ATR_MAX];

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg), 0);
	cfg.desc.dwProtocols = CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1;
	vcard_config_default(&cfg.card, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(vreader_inproc_open(d, &t), 0);
	ck_assert_msg(uccid_open_transport(t, &o, &r, err, sizeof(err)) == 0, "%s", err);

	for (size_t i = 0; i < natrs; i++) {
		const struct entry *e = &atrs[i];
		struct set_atr s = { .e = e };
		struct ccid_atr a;
		char hex[2 * VCARD_ATR_MAX + 1] = "";
		int n;
		ssize_t m;

		hexstr(e->atr, e->len, hex, sizeof(hex));
		ck_assert_int_eq(ccid_atr_parse_lenient(e->atr, e->len, &a, NULL), 0);
		vreader_inproc_call(t, set_atr_cb, &s);
		ck_assert_msg(s.r == 0, "line %u %s: the virtual reader refuses it: %d", e->line, hex, s.r);
		uccid_power_off(r, 0);
		warnings = 0;
		n = uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
		if (n < 0) {
			if (failed++ < 20)
				printf("line %u %s: power-up failed: %s\n", e->line, hex, uccid_strerror(n));
			continue;
		}
		ck_assert_msg((size_t)n == a.len && !memcmp(atr, e->atr, a.len), "line %u %s: another ATR came back",
			      e->line, hex);
		ck_assert_msg(warnings == (a.nfindings ? 1u : 0u), "line %u %s: %u warnings for %zu findings", e->line,
			      hex, warnings, a.nfindings);
		powered++;
		m = uccid_transmit(r, 0, SELECT_AID, sizeof(SELECT_AID), rsp, sizeof(rsp));
		if (m == 2 && rsp[0] == 0x90 && rsp[1] == 0x00) {
			apdu_ok++;
		} else if (failed++ < 20) {
			printf("line %u %s: SELECT: %s\n", e->line, hex,
			       m < 0 ? uccid_strerror((int)m) : "not 9000");
		}
	}
	uccid_close(r);
	vdev_free(d);
	printf("%zu ATRs through the session (TPDU-level virtual reader): %u powered up, %u answered SELECT 9000\n",
	       natrs, powered, apdu_ok);
	ck_assert_msg(failed == 0, "%u ATRs failed", failed);
}
END_TEST

/* --defective: the ATRs (not patterns) with findings, one a line in hex, for tests/tool/atr-analysis.sh. */
static int print_defective(void)
{
	for (size_t i = 0; i < natrs; i++) {
		char hex[2 * VCARD_ATR_MAX + 1] = "";
		struct ccid_atr a;

		if (atrs[i].pattern || ccid_atr_parse_lenient(atrs[i].atr, atrs[i].len, &a, NULL) < 0 || !a.nfindings)
			continue;
		hexstr(atrs[i].atr, atrs[i].len, hex, sizeof(hex));
		printf("%s\n", hex);
	}
	free(atrs);
	return 0;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("atr_corpus");
	TCase *tc;
	int r = load_list();

	if (r < 0) {
		printf("SKIP: %s: %s (the list comes with Debian's pcsc-tools: apt-get install pcsc-tools)\n",
		       list_path, strerror(-r));
		return 77;
	}
	if (argc > 1 && !strcmp(argv[1], "--defective"))
		return print_defective();
	tc = tcase_create("decode");
	tcase_add_test(tc, every_atr_decodes);
	suite_add_tcase(s, tc);
	tc = tcase_create("power-up");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_atr_powers_up);
	suite_add_tcase(s, tc);
	r = tu_run_mode(s, true);
	free(atrs);
	return r;
}
