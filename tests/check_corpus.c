/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The corpus run: every real reader of tests/data/readers/ presented by the
 * virtual reader with its whole configuration (vreader/composite.h) and
 * driven by uccid through the in-process transport — open, power up every
 * slot, a short APDU (and an extended one where the reader declares the
 * extended APDU level), power off, and where the interface declares
 * bPINSupport the PIN entries of tests/pinpad_cases.h on its keypad at each
 * level it runs — on each of its CCID interfaces.  A
 * reader is driven, or refused for the reason the one rule gives
 * (ccid/reader_class.h) and the session's error names it; every result is
 * a line of $UCCID_CORPUS_OUT (default: tests/check_corpus.tsv in the build
 * tree; tests/corpus/readers-doc.sh makes
 * docs/readers.md and the bundle's list of refused readers from it).
 *
 * What each interface must show: the transport found it at the interface
 * number and endpoint addresses the composite device gives it (never the
 * defaults of a one-interface reader), a validator finding is logged once
 * per open and never again by a command (issue 15), and the class the file
 * says is the class the session acts on.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "ccid/reader_class.h"
#include "ccid/usb_desc.h"
#include "session/uccid.h"
#include "tests/pinpad_cases.h"
#include "tests/reader_text.h"
#include "tests/testutil.h"
#include "vreader/composite.h"
#include "vreader/transport_inproc.h"


static const char *out_path;

static const uint8_t ECHO_5[] = { 0x80, 0x10, 0x00, 0x00, 0x05 };
/* ECHO with extended Le 300: 300 bytes back, which no short APDU can carry */
static const uint8_t ECHO_EXT[] = { 0x80, 0x10, 0x00, 0x00, 0x00, 0x01, 0x2C };

/* What the session logged: validator findings by field, and whether one came after the open. */
struct logbook {
	bool opened;
	unsigned findings;
	unsigned after_open;
	unsigned class_requests_failed;  /* GET_CLOCK_FREQUENCIES / GET_DATA_RATES to the interface */
	char fields[32][40];
	unsigned counts[32];
	unsigned nfields;
};

static void log_cb(void *ctx, enum uccid_log_level level, const char *msg)
{
	struct logbook *lb = ctx;
	const char *p = strstr(msg, "class descriptor ");
	char field[40];

	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
	if (!strncmp(msg, "GET_CLOCK_FREQUENCIES: ", 23) || !strncmp(msg, "GET_DATA_RATES: ", 16))
		lb->class_requests_failed++;
	if (!p || sscanf(p, "class descriptor %39s (offset", field) != 1)
		return;
	lb->findings++;
	if (lb->opened)
		lb->after_open++;
	for (unsigned i = 0; i < lb->nfields; i++)
		if (!strcmp(lb->fields[i], field)) {
			lb->counts[i]++;
			return;
		}
	if (lb->nfields < 32) {
		snprintf(lb->fields[lb->nfields], sizeof(lb->fields[0]), "%s", field);
		lb->counts[lb->nfields++] = 1;
	}
}

/* The PIN pads of the run (interfaces with bPINSupport): declared, driven, PIN entries made. */
static unsigned pp_declared, pp_driven, pp_verify, pp_modify, pp_entries;

/*
 * One result line: file, vid:pid, interfaces, ccid functions, interface, class, level, slots,
 * pinpad ("-", "declared" when not driven, or what the keypad ran), result, reason.
 */
static void record(const char *file, const struct text_iface *t, unsigned nifs, unsigned nfuncs,
		   const struct ccid_reader_verdict *v, const char *pinpad, const char *result, const char *reason)
{
	const char *base = strrchr(file, '/');
	const struct text_iface *cls = t;
	char line[1024];
	int fd, n;

	if (cls->f[20] & (CCID_PIN_VERIFY | CCID_PIN_MODIFY))
		pp_declared++;
	if (!out_path)
		return;
	n = snprintf(line, sizeof(line), "%s\t%04x:%04x\t%u\t%u\t%u\t%s\t%s\t%u\t%s\t%s\t%s\n",
		     base ? base + 1 : file, t->idVendor, t->idProduct, nifs, nfuncs, t->bInterfaceNumber,
		     ccid_reader_class_name(v->cls), ccid_exchange_level_name(v->level), cls->f[3] + 1,
		     pinpad ? pinpad : cls->f[20] & (CCID_PIN_VERIFY | CCID_PIN_MODIFY) ? "declared" : "-", result,
		     reason);
	fd = open(out_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	ck_assert_msg(fd >= 0, "%s: %s", out_path, strerror(errno));
	ck_assert_int_eq(write(fd, line, (size_t)n), n);
	close(fd);
}

/* The blocks of the first device in the file, as composite.c takes them. */
static unsigned first_device(const struct text_iface *ifs, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		if (ifs[i].idVendor != ifs[0].idVendor || ifs[i].idProduct != ifs[0].idProduct)
			return i;
		for (unsigned j = 0; j < i; j++)
			if (ifs[j].bInterfaceNumber == ifs[i].bInterfaceNumber)
				return i;
	}
	return n;
}

/*
 * Drive one slot: power up, a short APDU, an extended one where declared,
 * power off.  Returns NULL or what failed.
 */
static const char *drive_slot(struct uccid_reader *r, unsigned slot, enum ccid_exchange_level level, char *why,
			      size_t cap)
{
	static uint8_t rsp[512];
	uint8_t atr[33];
	ssize_t n;
	int rc;

	rc = uccid_power_on(r, slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
	if (rc <= 0) {
		snprintf(why, cap, "slot %u: power up: %s", slot, uccid_strerror(rc));
		return why;
	}
	n = uccid_transmit(r, slot, ECHO_5, sizeof(ECHO_5), rsp, sizeof(rsp));
	if (n != 7 || rsp[5] != 0x90 || rsp[6] != 0x00) {
		snprintf(why, cap, "slot %u: short APDU: %s", slot, n < 0 ? uccid_strerror((int)n) : "wrong answer");
		return why;
	}
	if (level == CCID_LEVEL_EXTENDED_APDU) {
		n = uccid_transmit(r, slot, ECHO_EXT, sizeof(ECHO_EXT), rsp, sizeof(rsp));
		if (n != 302 || rsp[300] != 0x90 || rsp[299] != (299 & 0xFF)) {
			snprintf(why, cap, "slot %u: extended APDU: %s", slot,
				 n < 0 ? uccid_strerror((int)n) : "wrong answer");
			return why;
		}
	}
	rc = uccid_power_off(r, slot);
	if (rc < 0) {
		snprintf(why, cap, "slot %u: power off: %s", slot, uccid_strerror(rc));
		return why;
	}
	return NULL;
}

/* ---- the PIN pad: every case of tests/pinpad_cases.h at each level the reader runs ---- */

/* A T=0-only card's ATR ("uccid vcard" historical bytes): a TPDU reader that runs both protocols
   is driven under T=0 too, its own card (T=1 first) given this ATR from the next power-up. */
static const uint8_t ATR_T0[] = { 0x3B, 0x0B, 'u', 'c', 'c', 'i', 'd', ' ', 'v', 'c', 'a', 'r', 'd' };

struct vcall {
	unsigned slot;
	const char *keys;
	const uint8_t *atr;
	size_t atr_len;
	int rc;
};

/* The person at the keypad types c's keys as each entry starts (vdev_set_keypad_auto). */
static void keys_fn(struct vdev *d, void *ctx)
{
	struct vcall *c = ctx;

	c->rc = vdev_set_keypad_auto(d, c->keys);
}

static void atr_fn(struct vdev *d, void *ctx)
{
	struct vcall *c = ctx;

	c->rc = vdev_set_atr(d, c->slot, c->atr, c->atr_len);
}

/*
 * Power up slot (the card running protocol), then every case the reader's
 * bPINSupport allows, then power off.  Returns NULL or what failed; *cases
 * counts the PIN entries made.
 */
static const char *pinpad_pass(struct uccid_reader *r, struct uccid_transport *t, unsigned slot, int protocol,
			       const struct uccid_pin_properties *pp, unsigned *cases, char *why, size_t cap)
{
	struct uccid_slot_status st;
	uint8_t atr[33], pin[PP_STRUCT_MAX], rsp[64];
	int rc = uccid_power_on(r, slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));

	if (rc <= 0 || uccid_slot_status(r, slot, &st) < 0) {
		snprintf(why, cap, "slot %u: power up for the PIN pad: %s", slot, uccid_strerror(rc));
		return why;
	}
	if (protocol >= 0 && st.protocol != protocol) {
		snprintf(why, cap, "slot %u: the card runs T=%u, not T=%d", slot, st.protocol, protocol);
		return why;
	}
	for (size_t i = 0; i < PINPAD_NCASES; i++) {
		const struct pinpad_case *c = &pinpad_cases[i];
		struct vcall k = { .keys = c->keys };
		size_t len;
		ssize_t n;

		if (!pinpad_case_applies(c, pp->bPINSupport))
			continue;
		vreader_inproc_call(t, keys_fn, &k);
		ck_assert_int_eq(k.rc, 0);
		len = pinpad_case_struct(c, pp->wLcdLayout != 0, pin);
		n = uccid_secure(r, slot, c->op, pin, len, rsp, sizeof(rsp));
		if (pinpad_case_check(r, slot, c, n, rsp, why, cap)) {
			size_t l = strlen(why);

			snprintf(why + l, cap - l, " (slot %u, T=%u)", slot, st.protocol);
			return why;
		}
		(*cases)++;
	}
	rc = uccid_power_off(r, slot);
	if (rc < 0) {
		snprintf(why, cap, "slot %u: power off after the PIN pad: %s", slot, uccid_strerror(rc));
		return why;
	}
	return NULL;
}

/*
 * Every slot of a reader with bPINSupport: at APDU levels once (the reader
 * frames the APDU whatever the card runs), at TPDU level under each
 * protocol the reader declares (T=1 frames the PIN block in the host's
 * I-block).  what says what ran ("verify+modify: TPDU T=1, TPDU T=0").
 * Returns NULL or what failed.
 */
static const char *drive_pinpad(struct uccid_reader *r, struct uccid_transport *t,
				const struct uccid_reader_info *info, const struct ccid_class_desc *d, char *what,
				size_t what_cap, unsigned *cases, char *why, size_t cap)
{
	struct uccid_pin_properties pp;
	const char *fail = NULL;
	int protos[2], np = 0;

	ck_assert_int_eq(uccid_pin_properties(r, &pp), 0);
	ck_assert_uint_eq(pp.bPINSupport, info->pin_support);
	if (info->exchange_level != CCID_LEVEL_TPDU) {
		protos[np++] = -1;
	} else {
		if (d->dwProtocols & CCID_PROTOCOLS_T1)
			protos[np++] = 1;
		if (d->dwProtocols & CCID_PROTOCOLS_T0)
			protos[np++] = 0;
	}
	snprintf(what, what_cap, "%s%s%s:", pp.bPINSupport & CCID_PIN_VERIFY ? "verify" : "",
		 pp.bPINSupport == (CCID_PIN_VERIFY | CCID_PIN_MODIFY) ? "+" : "",
		 pp.bPINSupport & CCID_PIN_MODIFY ? "modify" : "");
	for (int p = 0; p < np && !fail; p++) {
		size_t l = strlen(what);

		snprintf(what + l, what_cap - l, "%s %s", p ? "," : "",
			 protos[p] < 0 ? ccid_exchange_level_name(info->exchange_level)
				       : protos[p] ? "TPDU T=1" : "TPDU T=0");
		for (unsigned s = 0; s < info->nslots && !fail; s++) {
			if (protos[p] == 0 && !(d->dwProtocols & CCID_PROTOCOLS_T1)) {
				/* a T=0-only reader: its card is a T=0 card already */
			} else if (protos[p] == 0) {
				struct vcall a = { .slot = s, .atr = ATR_T0, .atr_len = sizeof(ATR_T0) };

				vreader_inproc_call(t, atr_fn, &a);
				ck_assert_int_eq(a.rc, 0);
			}
			fail = pinpad_pass(r, t, s, protos[p], &pp, cases, why, cap);
		}
	}
	return fail;
}

/* The interface protocol the device presents for its k-th CCID interface. */
static int presented_protocol(struct uccid_transport *t)
{
	uint8_t dev[18], *raw = malloc(UCCID_DESC_MAX);
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	int n, proto = -1;

	ck_assert(raw && cfg);
	n = t->ops->descriptors(t, dev, raw, UCCID_DESC_MAX);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ccid_usb_config_parse(raw, (size_t)n, cfg, NULL), 0);
	for (unsigned i = 0; i < cfg->ninterfaces; i++)
		if (cfg->intf[i].bInterfaceNumber == t->info.interface && cfg->intf[i].bAlternateSetting == 0)
			proto = cfg->intf[i].bInterfaceProtocol;
	free(raw);
	free(cfg);
	return proto;
}

START_TEST(test_reader)
{
	const char *path = files[_i];
	struct text_iface ifs[MAX_IFACES];
	unsigned n = (unsigned)parse_file(path, ifs), nblocks = first_device(ifs, n);
	struct vcomp *comp = NULL;
	char err[512] = "";
	int r;

	ck_assert_uint_ge(n, 1);
	r = vcomp_from_reader_file(path, NULL, NULL, &comp, err, sizeof(err));
	if (r < 0) {
		/* the virtual reader refuses only what it does not simulate: character level */
		struct ccid_reader_verdict v;
		struct ccid_class_desc d;
		uint8_t cls[CCID_CLASS_DESC_LEN];

		build_class(&ifs[0], cls);
		ck_assert_int_eq(ccid_class_desc_parse(cls, sizeof(cls), &d, NULL), 0);
		ccid_reader_classify((uint8_t)ifs[0].bInterfaceProtocol, &d, &v);
		ck_assert_msg(r == -ENOTSUP && v.level == CCID_LEVEL_CHARACTER, "%s: the virtual reader refused it: %s",
			      path, err);
		if (v.cls != CCID_RC_CHARACTER) {
			/* an ICCD token that also declares character level (e-gate, KONA, BIFIT) */
			char why[256];

			snprintf(why, sizeof(why), "%s; dwFeatures character level: not simulated", v.reason);
			record(path, &ifs[0], nblocks, nblocks, &v, NULL, "refused", why);
			return;
		}
		record(path, &ifs[0], nblocks, nblocks, &v, NULL, "refused", v.reason);
		return;
	}
	ck_assert_uint_eq(vcomp_nfunctions(comp), nblocks);
	for (unsigned k = 0; k < vcomp_nfunctions(comp); k++) {
		const struct text_iface *t = NULL;
		struct uccid_transport *tr;
		struct uccid_reader *rd = NULL;
		struct ccid_reader_verdict v;
		struct ccid_class_desc d;
		struct logbook lb = { 0 };
		/* a short exchange deadline: the run is not forked, a stuck reader must fail soon */
		struct uccid_options o = { .log = log_cb, .log_ctx = &lb, .log_level = UCCID_LOG_DEBUG,
					   .reconnect_ms = -1, .exchange_deadline_ms = 5000 };
		struct uccid_reader_info info;
		uint8_t num, bin, bout, intr, cls[CCID_CLASS_DESC_LEN];
		char why[256] = "", pinpad[96] = "";
		const char *fail = NULL;
		unsigned npin = 0;
		int proto;

		ck_assert_int_eq(vcomp_function_interface(comp, k, &num, &bin, &bout, &intr), 0);
		for (unsigned b = 0; b < nblocks; b++)
			if (ifs[b].bInterfaceNumber == num)
				t = &ifs[b];
		ck_assert_ptr_nonnull(t);
		build_class(t, cls);
		ck_assert_int_eq(ccid_class_desc_parse(cls, sizeof(cls), &d, NULL), 0);
		ccid_reader_classify((uint8_t)t->bInterfaceProtocol, &d, &v);

		/* the transport found this interface where the composite put it */
		r = vreader_inproc_open_usb(&vcomp_usb_ops, comp, vcomp_function(comp, k), "corpus", k, &tr);
		ck_assert_msg(r == 0, "%s: interface %u: inproc open: %d", path, num, r);
		ck_assert_uint_eq(tr->info.interface, num);
		ck_assert_uint_eq(tr->info.ep_bulk_in, bin);
		ck_assert_uint_eq(tr->info.ep_bulk_out, bout);
		ck_assert_uint_eq(tr->info.ep_intr_in, intr);
		proto = presented_protocol(tr);
		if (v.cls == CCID_RC_ICCD_A || v.cls == CCID_RC_ICCD_B) {
			if (proto != (int)t->bInterfaceProtocol) {
				/* driving it as the CCID reader it is presented as would prove nothing */
				snprintf(why, sizeof(why), "%s; the virtual reader presents it as CCID, not driven",
					 v.reason);
				record(path, t, vcomp_ninterfaces(comp), nblocks, &v, NULL, "refused", why);
				tr->ops->close(tr);
				continue;
			}
		}
		r = uccid_open_transport(tr, &o, &rd, err, sizeof(err));
		ck_assert_msg(v.cls != CCID_RC_MALFORMED || r < 0, "%s: opened despite '%s'", path, v.reason);
		if (v.cls != CCID_RC_EXCHANGE && r < 0) {
			/* refused, and the message names what the rule named */
			ck_assert_msg(strstr(err, v.field) != NULL, "%s: refused with '%s', the rule says '%s'", path, err,
				      v.reason);
			record(path, t, vcomp_ninterfaces(comp), nblocks, &v, NULL, "refused", v.reason);
			continue;
		}
		ck_assert_msg(r == 0, "%s: interface %u (%s): open: %s", path, num, ccid_reader_class_name(v.cls), err);
		lb.opened = true;
		ck_assert_int_eq(uccid_info(rd, &info), 0);
		for (unsigned s = 0; s < info.nslots && !fail; s++)
			fail = drive_slot(rd, s, v.level, why, sizeof(why));
		/* a PIN pad: verify (and modify) on the keypad at each level it runs, checked by the card */
		if (!fail && info.pin_support)
			fail = drive_pinpad(rd, tr, &info, &d, pinpad, sizeof(pinpad), &npin, why, sizeof(why));
		uccid_close(rd);
		ck_assert_msg(!fail, "%s: interface %u: %s", path, num, why);
		/* class requests name the interface (CCID §5.3): the composite answers only at its number */
		ck_assert_msg(lb.class_requests_failed == 0, "%s: interface %u: a class request failed", path, num);
		ck_assert_msg(lb.after_open == 0, "%s: %u validator findings logged after the open", path,
			      lb.after_open);
		for (unsigned i = 0; i < lb.nfields; i++)
			ck_assert_msg(lb.counts[i] <= 2, "%s: %s logged %u times in one open", path, lb.fields[i],
				      lb.counts[i]);
		if (info.pin_support) {
			size_t l = strlen(pinpad);

			snprintf(pinpad + l, sizeof(pinpad) - l, " (%u entries)", npin);
			pp_driven++;
			pp_verify += !!(info.pin_support & CCID_PIN_VERIFY);
			pp_modify += !!(info.pin_support & CCID_PIN_MODIFY);
			pp_entries += npin;
		}
		record(path, t, vcomp_ninterfaces(comp), nblocks, &v, info.pin_support ? pinpad : NULL, "driven",
		       v.cls == CCID_RC_EXCHANGE ? "" : "driven beyond its class");
	}
	vcomp_free(comp);
}
END_TEST

static int ctl(struct vcomp *c, uint8_t type, uint8_t req, uint16_t wValue, uint16_t wIndex, uint8_t *buf,
	       uint16_t wLength)
{
	uint8_t setup[8] = { type, req, (uint8_t)wValue, (uint8_t)(wValue >> 8), (uint8_t)wIndex,
			     (uint8_t)(wIndex >> 8), (uint8_t)wLength, (uint8_t)(wLength >> 8) };

	return vcomp_usb_ops.control(c, setup, buf, buf, wLength, 0);
}

/*
 * Kobil IDToken's dump shows only interface 4: interfaces 0..3 are inert HID
 * interfaces, the CCID one sits at 4 with endpoints numbered after theirs,
 * and requests reach the interface or endpoint they name.
 */
START_TEST(test_composite_device)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096], err[256] = "";
	struct vcomp *c = NULL;
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	enum vusb_in_action act;
	uint8_t buf[1024], num, bin, bout, intr;
	struct vusb_info vi;
	int n;

	snprintf(path, sizeof(path), "%s/readers/Kobil_IDToken.txt", dir ? dir : "tests/data");
	ck_assert_msg(vcomp_from_reader_file(path, NULL, NULL, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!vcomp_is_plain(c));
	ck_assert_uint_eq(vcomp_ninterfaces(c), 5);
	ck_assert_uint_eq(vcomp_nfunctions(c), 1);
	vcomp_usb_ops.attach(c, 0);
	n = ctl(c, 0x80, 0x06, 0x0200, 0, buf, sizeof(buf));
	ck_assert_int_gt(n, 9);
	ck_assert_int_eq(ccid_usb_config_parse(buf, (size_t)n, cfg, NULL), 0);
	ck_assert_uint_eq(cfg->bNumInterfaces, 5);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(cfg->intf[i].bInterfaceNumber, i);
		ck_assert_uint_eq(cfg->intf[i].bInterfaceClass, 0x03);
		ck_assert_uint_eq(cfg->intf[i].nendpoints, 1);
	}
	ck_assert_int_eq(ccid_usb_find_ccid(cfg, buf, (size_t)n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(ci.bInterfaceNumber, 4);
	ck_assert_int_eq(vcomp_function_interface(c, 0, &num, &bin, &bout, &intr), 0);
	ck_assert_uint_eq(num, 4);
	ck_assert_uint_eq(ci.ep_bulk_in, bin);
	ck_assert_uint_eq(ci.ep_bulk_out, bout);
	ck_assert_uint_eq(ci.ep_intr_in, intr);
	ck_assert_uint_ne(bin, 0x81);               /* not the one-interface reader's */
	ck_assert_int_eq(ccid_usb_find_ccid(cfg, buf, (size_t)n, 1, &ci, NULL), -ENOENT);
	vcomp_usb_ops.info(c, &vi);
	ck_assert_uint_eq(vi.bNumInterfaces, 5);
	ck_assert_uint_eq(vi.intf[4].bInterfaceClass, CCID_USB_CLASS_SMART_CARD);
	ck_assert_int_eq(ctl(c, 0x00, 0x09, 1, 0, NULL, 0), 0);
	/* the HID interfaces: their report descriptor, SET_IDLE; GET_REPORT stalls; nothing to read */
	ck_assert_int_gt(ctl(c, 0x81, 0x06, 0x2200, 2, buf, 255), 0);
	ck_assert_int_eq(ctl(c, 0x21, 0x0A, 0, 2, NULL, 0), 0);
	ck_assert_int_eq(ctl(c, 0xA1, 0x01, 0x0100, 2, buf, 8), -EPIPE);
	ck_assert_int_eq(vcomp_usb_ops.in(c, cfg->intf[0].ep[0].bEndpointAddress, buf, 8, &act, 0), -EAGAIN);
	ck_assert_int_eq(vcomp_usb_ops.out(c, 0x0F, buf, 1, 0), -EPIPE);
	/* CCID class requests reach the CCID function by its interface number only */
	ck_assert_int_eq(ctl(c, 0xA1, 0x03, 0, 4, buf, 255), ctl(c, 0xA1, 0x03, 0, 4, buf, 255));
	ck_assert_int_eq(ctl(c, 0x21, 0x01, 0, 0, NULL, 0), -EPIPE);      /* ABORT to a HID interface */
	ck_assert_int_eq(ctl(c, 0x21, 0x01, 0, 9, NULL, 0), -EPIPE);      /* no interface 9 */
	ck_assert_int_eq(ctl(c, 0x21, 0x01, 0x0100, 4, NULL, 0), 0);      /* ABORT slot 0 seq 1 */
	/* the endpoint halt goes to the function's own endpoint */
	ck_assert_int_eq(ctl(c, 0x02, 0x01, 0, bin, NULL, 0), 0);
	ck_assert_int_eq(ctl(c, 0x02, 0x01, 0, 0x8F, NULL, 0), -EPIPE);
	free(cfg);
	vcomp_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corpus");
	TCase *tc = tcase_create("real readers through the virtual reader");
	int rc;

	load_files("check_corpus");
	if (nfiles < 691) {
		fprintf(stderr, "check_corpus: only %d reader files found\n", nfiles);
		return EXIT_FAILURE;
	}
	/* make check: the build tree's tests/check_corpus.tsv */
	out_path = getenv("UCCID_CORPUS_OUT");
	if (!out_path && getenv("top_builddir")) {
		static char def[4096];

		snprintf(def, sizeof(def), "%s/tests/check_corpus.tsv", getenv("top_builddir"));
		out_path = def;
	}
	if (out_path) {
		FILE *f = fopen(out_path, "w");

		if (!f) {
			fprintf(stderr, "check_corpus: %s: %s\n", out_path, strerror(errno));
			return EXIT_FAILURE;
		}
		fputs("# file\tvid:pid\tinterfaces\tccid\tinterface\tclass\tlevel\tslots\tpinpad\tresult\treason\n", f);
		fclose(f);
	}
	tcase_add_loop_test(tc, test_reader, 0, nfiles);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	tc = tcase_create("composite device");
	tcase_add_test(tc, test_composite_device);
	suite_add_tcase(s, tc);
	/* not forked (691 forks cost 40 s under ASan); every wait is bounded by the deadline above */
	rc = tu_run_mode(s, true);
	printf("check_corpus: PIN pads: %u interfaces declare bPINSupport, %u driven on the keypad (%u verify, "
	       "%u modify), %u PIN entries checked\n", pp_declared, pp_driven, pp_verify, pp_modify, pp_entries);
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	return rc;
}
