/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Real readers as golden vectors: tests/data/readers/ holds the decoded text
 * of 691 readers' interface and CCID class descriptors.  For every interface
 * this rebuilds the descriptor bytes from the text (independently of the
 * codec), decodes them with the codec and checks every field; wraps them in
 * a configuration descriptor (class descriptor before and after the
 * endpoints) and checks that the CCID interface is found; and checks that the
 * validator finds no error a driver could not work around.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>

#include "ccid/class_desc.h"
#include "ccid/usb_desc.h"
#include "tests/reader_text.h"
#include "tests/testutil.h"



static void check_fields(const char *path, const struct text_iface *t, const struct ccid_class_desc *d)
{
	const uint32_t got[22] = {
		d->bLength, d->bDescriptorType, d->bcdCCID, d->bMaxSlotIndex, d->bVoltageSupport,
		d->dwProtocols, d->dwDefaultClock, d->dwMaximumClock, d->bNumClockSupported,
		d->dwDataRate, d->dwMaxDataRate, d->bNumDataRatesSupported, d->dwMaxIFSD,
		d->dwSynchProtocols, d->dwMechanical, d->dwFeatures, d->dwMaxCCIDMessageLength,
		d->bClassGetResponse, d->bClassEnvelope, d->wLcdLayout, d->bPINSupport,
		d->bMaxCCIDBusySlots,
	};

	for (int i = 0; i < 22; i++)
		ck_assert_msg(got[i] == t->f[i], "%s: %s decoded as %u, text says %u", path,
			      fields[i].name, (unsigned)got[i], (unsigned)t->f[i]);
}

/* A configuration: config + interface + [class] + endpoints + [class]. */
static size_t build_config(const struct text_iface *t, const uint8_t *cls, bool class_last, uint8_t *b)
{
	size_t o = 9;
	unsigned neps = t->bNumEndpoints;

	b[o++] = 9; b[o++] = CCID_USB_DT_INTERFACE; b[o++] = (uint8_t)t->bInterfaceNumber; b[o++] = 0;
	b[o++] = (uint8_t)neps; b[o++] = (uint8_t)t->bInterfaceClass;
	b[o++] = (uint8_t)t->bInterfaceSubClass; b[o++] = (uint8_t)t->bInterfaceProtocol; b[o++] = 0;
	if (!class_last) {
		memcpy(b + o, cls, CCID_CLASS_DESC_LEN);
		o += CCID_CLASS_DESC_LEN;
	}
	for (unsigned e = 0; e < neps; e++) {
		/* The text names the pipes: bulk-IN, bulk-OUT, Interrupt-IN in that order. */
		bool only_intr = !strcmp(t->endpoints, "Interrupt-IN");
		uint8_t addr = e == 0 && !only_intr ? 0x81 : e == 1 ? 0x02 : 0x83;
		uint8_t attr = e < 2 && !only_intr ? CCID_USB_EP_XFER_BULK : CCID_USB_EP_XFER_INTERRUPT;

		b[o++] = 7; b[o++] = CCID_USB_DT_ENDPOINT; b[o++] = addr; b[o++] = attr;
		b[o++] = 64; b[o++] = 0; b[o++] = attr == CCID_USB_EP_XFER_INTERRUPT ? 16 : 0;
	}
	if (class_last) {
		memcpy(b + o, cls, CCID_CLASS_DESC_LEN);
		o += CCID_CLASS_DESC_LEN;
	}
	b[0] = 9; b[1] = CCID_USB_DT_CONFIG; b[2] = (uint8_t)o; b[3] = (uint8_t)(o >> 8);
	b[4] = 1; b[5] = 1; b[6] = 0; b[7] = 0x80; b[8] = 50;
	return o;
}

static void check_config(const char *path, const struct text_iface *t, const uint8_t *cls, bool last)
{
	uint8_t b[512];
	size_t len = build_config(t, cls, last, b);
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag = { 0 };
	int r;

	ck_assert_int_eq(ccid_usb_config_parse(b, len, cfg, &diag), 0);
	ck_assert_uint_eq(cfg->ninterfaces, 1);
	ck_assert_uint_eq(cfg->intf[0].class_len, CCID_CLASS_DESC_LEN);
	ck_assert(cfg->intf[0].class_after_endpoint == (last && t->bNumEndpoints > 0));
	r = ccid_usb_find_ccid(cfg, b, len, 0, &ci, &diag);
	ck_assert_msg(r == 0, "%s: CCID interface not found (%d at %zu: %s)", path, r, diag.offset,
		      diag.expected);
	ck_assert_uint_eq(ci.bInterfaceNumber, t->bInterfaceNumber);
	ck_assert(ci.vendor_class == (t->bInterfaceClass == CCID_USB_CLASS_VENDOR));
	ck_assert_uint_eq(ci.class_offset, last ? len - CCID_CLASS_DESC_LEN : 18);
	if (t->bInterfaceProtocol == CCID_USB_PROTOCOL_CCID) {
		ck_assert_uint_eq(ci.ep_bulk_in, 0x81);
		ck_assert_uint_eq(ci.ep_bulk_out, 0x02);
		ck_assert_uint_eq(ci.ep_intr_in, t->bNumEndpoints == 3 ? 0x83 : 0);
	}
	ck_assert_int_eq(ccid_usb_find_ccid(cfg, b, len, 1, &ci, NULL), -ENOENT);
	free(cfg);
}

START_TEST(test_reader)
{
	const char *path = files[_i];
	struct text_iface ifs[MAX_IFACES];
	int n = parse_file(path, ifs);

	ck_assert_msg(n >= 1, "%s: no interface", path);
	for (int k = 0; k < n; k++) {
		const struct text_iface *t = &ifs[k];
		uint8_t cls[CCID_CLASS_DESC_LEN], again[CCID_CLASS_DESC_LEN];
		struct ccid_class_desc d;
		struct ccid_diag diag = { 0 };
		int r;

		ck_assert_msg(t->seen == (1u << 22) - 1, "%s: interface %d lacks fields (%06x)", path,
			      k, t->seen);
		build_class(t, cls);
		r = ccid_class_desc_parse(cls, sizeof(cls), &d, &diag);
		ck_assert_msg(r == 0, "%s: parse %d at %zu (%s)", path, r, diag.offset, diag.expected);
		check_fields(path, t, &d);
		ck_assert_int_eq(ccid_class_desc_encode(&d, again, sizeof(again)), CCID_CLASS_DESC_LEN);
		ck_assert_mem_eq(again, cls, CCID_CLASS_DESC_LEN);
		r = ccid_class_desc_validate(&d, NULL, NULL, &diag);
		ck_assert_msg(r >= 0, "%s: validation error at %zu (%s)", path, diag.offset, diag.expected);
		/* What the driver will use is always sane. */
		ck_assert_uint_ge(ccid_class_desc_max_message(&d), 11);
		ck_assert_uint_le(ccid_class_desc_max_message(&d), 65554);
		ck_assert_uint_ge(ccid_class_desc_busy_slots(&d), 1);
		ck_assert_uint_le(ccid_class_desc_busy_slots(&d), d.bMaxSlotIndex + 1u);
		check_config(path, t, cls, false);
		check_config(path, t, cls, true);
	}
}
END_TEST

struct flagged {
	const char *want;
	bool hit;
};

static void flag_collect(void *ctx, enum ccid_severity sev, const char *field, size_t off,
			 const char *text)
{
	struct flagged *fl = ctx;

	ck_assert_int_ne(sev, CCID_SEV_ERROR);
	ck_assert(text[0] != 0);
	if (!strcmp(field, fl->want))
		fl->hit = true;
}

/* Known faults of named readers are reported, not ignored. */
START_TEST(test_known_faults)
{
	static const struct { const char *file; const char *field; } faults[] = {
		{ "ACS_ACR1581.txt", "dwMaxIFSD" },              /* IFSD 506 */
		{ "DellSK-3106.txt", "bDescriptorType" },        /* FF: vendor class */
	};
	const char *dir = getenv("UCCID_TEST_DATA");

	for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		char path[4096];
		struct text_iface ifs[MAX_IFACES];
		uint8_t cls[CCID_CLASS_DESC_LEN];
		struct ccid_class_desc d;

		snprintf(path, sizeof(path), "%s/readers/%s", dir ? dir : "tests/data", faults[k].file);
		ck_assert_int_ge(parse_file(path, ifs), 1);
		build_class(&ifs[0], cls);
		ck_assert_int_eq(ccid_class_desc_parse(cls, sizeof(cls), &d, NULL), 0);
		struct flagged fl = { faults[k].field, false };

		ck_assert_int_gt(ccid_class_desc_validate(&d, flag_collect, &fl, NULL), 0);
		ck_assert_msg(fl.hit, "%s: %s not flagged", faults[k].file, faults[k].field);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("readers");
	TCase *tc = tcase_create("real readers");
	int rc;

	load_files("check_readers");
	if (nfiles < 691) {
		fprintf(stderr, "check_readers: only %d reader files found\n", nfiles);
		return EXIT_FAILURE;
	}
	tcase_add_loop_test(tc, test_reader, 0, nfiles);
	tcase_add_test(tc, test_known_faults);
	suite_add_tcase(s, tc);
	rc = tu_run_mode(s, true);
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	return rc;
}
