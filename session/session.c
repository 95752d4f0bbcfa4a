/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reader session, the top of the session: open over a transport (find
 * the CCID interface, read and check the class descriptor, the clocks and
 * data rates the reader lists, the quirks), describe it, and close it —
 * powering off the cards this session left on, unless their last owner left
 * them for the next (unlock with UCCID_LEAVE).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/bytes.h"
#include "ccid/reader_class.h"
#include "session/session_priv.h"

#define DEFAULT_POWER_MS 30000
#define CONTROL_MS 2000

static int find_interface(struct uccid_reader *r, char *err, size_t errlen)
{
	uint8_t dev[18], *cfg_raw = malloc(UCCID_DESC_MAX);
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	struct ccid_usb_device_desc dd;
	struct ccid_diag diag = { 0 };
	int n, rc;

	if (!cfg_raw || !cfg) {
		rc = -ENOMEM;
		goto out;
	}
	n = r->t->ops->descriptors(r->t, dev, cfg_raw, UCCID_DESC_MAX);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read the descriptors: %s", r->t->info.path, strerror(-n));
		rc = n;
		goto out;
	}
	/* bcdDevice and the strings are facts to report, not needed to work: a bad device
	   descriptor leaves them unknown (the transport has checked what it needs) */
	if (ccid_usb_device_desc_parse(dev, sizeof(dev), &dd, &diag) == 0) {
		r->bcdDevice = dd.bcdDevice;
		r->str_index[0] = dd.iManufacturer;
		r->str_index[1] = dd.iProduct;
		r->str_index[2] = dd.iSerialNumber;
	} else {
		uccid_log(r, UCCID_LOG_WARNING, "%s: bad device descriptor at byte %zu (expected %s)", r->t->info.path,
			  diag.offset, diag.expected);
	}
	rc = ccid_usb_config_parse(cfg_raw, (size_t)n, cfg, &diag);
	if (rc < 0) {
		snprintf(err, errlen, "%s: bad configuration descriptor at byte %zu (expected %s)", r->t->info.path,
			 diag.offset, diag.expected);
		rc = -EPROTO;
		goto out;
	}
	/* the transport already chose the interface: take its class descriptor */
	for (unsigned i = 0;; i++) {
		rc = ccid_usb_find_ccid(cfg, cfg_raw, (size_t)n, i, &ci, &diag);
		if (rc < 0) {
			snprintf(err, errlen, "%s: no CCID interface %u in the configuration", r->t->info.path,
				 r->t->info.interface);
			rc = -EPROTO;
			goto out;
		}
		if (ci.bInterfaceNumber == r->t->info.interface)
			break;
	}
	memcpy(r->desc_raw, cfg_raw + ci.class_offset, CCID_CLASS_DESC_LEN);
	ccid_class_desc_parse(r->desc_raw, CCID_CLASS_DESC_LEN, &r->desc, NULL);
	r->level = ccid_class_desc_level(&r->desc);
	/* an ICCD token (protocol 1, 2) works over the control pipe: iccd.c */
	if (ci.bInterfaceProtocol != CCID_USB_PROTOCOL_CCID) {
		rc = uccid_iccd_setup(r, ci.bInterfaceProtocol, err, errlen);
		if (rc < 0)
			goto out;
	}
	r->class_last = ci.class_after_endpoint;
	r->vendor_class = ci.vendor_class;
	/* kept: a reconnected device must show the same (link.c) */
	memcpy(r->dev_desc, dev, sizeof(r->dev_desc));
	r->cfg_raw = cfg_raw;
	r->cfg_len = (size_t)n;
	cfg_raw = NULL;
	rc = 0;
out:
	free(cfg_raw);
	free(cfg);
	return rc;
}

/*
 * CCID §5.3.2-3: the discrete clocks and data rates the reader supports,
 * when bNumClockSupported / bNumDataRatesSupported announce them.  A reader
 * that stalls or answers with a length that is not a multiple of 4 has none
 * we can use; the descriptor's default and maximum then apply.
 */
static unsigned read_list(struct uccid_reader *r, uint8_t request, unsigned count, uint32_t *out)
{
	uint8_t buf[4 * 255];
	int n;

	if (!count)
		return 0;
	n = r->t->ops->control(r->t, 0xA1, request, 0, r->t->info.interface, buf, (uint16_t)(4 * count), CONTROL_MS);
	if (n < 0 || n % 4) {
		uccid_log(r, UCCID_LOG_INFO, "%s: %s", request == 2 ? "GET_CLOCK_FREQUENCIES" : "GET_DATA_RATES",
			  n < 0 ? strerror(-n) : "a length that is not a multiple of 4");
		return 0;
	}
	for (int i = 0; i < n / 4; i++)
		out[i] = get_le32(buf + 4 * i);
	return (unsigned)n / 4;
}

/* A failed read that another attempt may not repeat: the device is there but slow, or busy. */
static bool transient(int err)
{
	return err != -EPIPE && err != -EPROTO;
}

/*
 * GET_DESCRIPTOR(STRING, index, langid) into buf (USB 2.0 §9.6.7), as ASCII
 * the way libusb_get_string_descriptor_ascii() gives it — so that the
 * attributes answered from it read as libccid's — except that control
 * characters become '?' too: the string goes into logs and answers.  A
 * device that stalls or answers with a malformed descriptor leaves "".
 * Returns 0 or the error of the transfer (-EPROTO: malformed).
 */
static int read_string(struct uccid_reader *r, uint8_t index, uint16_t langid, char *buf, size_t cap)
{
	uint8_t d[255];
	size_t o = 0, len;
	int n;

	buf[0] = '\0';
	if (!index)
		return 0;
	n = r->t->ops->control(r->t, 0x80, 0x06, (uint16_t)(CCID_USB_DT_STRING << 8 | index), langid, d, sizeof(d),
			       CONTROL_MS);
	if (n < 2 || d[1] != CCID_USB_DT_STRING || d[0] < 2 || d[0] > n) {
		uccid_log(r, UCCID_LOG_INFO, "string %u: %s", index, n < 0 ? strerror(-n) : "not a string descriptor");
		return n < 0 ? n : -EPROTO;
	}
	len = d[0];
	for (size_t i = 2; i + 1 < len && o + 1 < cap; i += 2) {
		uint16_t c = (uint16_t)(d[i] | d[i + 1] << 8);

		buf[o++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
	}
	buf[o] = '\0';
	return 0;
}

/*
 * The device's manufacturer, product and serial number strings, in its
 * first language.  Returns true when the answers are final (read, or
 * refused), false when a read may succeed another time.
 */
static bool read_strings(struct uccid_reader *r, struct uccid_device_strings *ret)
{
	char *const out[3] = { ret->manufacturer, ret->product, ret->serial };
	bool final = true;
	uint8_t d[255];
	uint16_t langid;
	int n;

	memset(ret, 0, sizeof(*ret));
	if (!r->str_index[0] && !r->str_index[1] && !r->str_index[2])
		return true;
	/* string 0: the language IDs the device supports; libusb and libccid take the first */
	n = r->t->ops->control(r->t, 0x80, 0x06, CCID_USB_DT_STRING << 8, 0, d, sizeof(d), CONTROL_MS);
	if (n < 4 || d[1] != CCID_USB_DT_STRING || d[0] < 4 || d[0] > n) {
		uccid_log(r, UCCID_LOG_INFO, "no language IDs (%s): the device's strings are unknown",
			  n < 0 ? strerror(-n) : "malformed string descriptor 0");
		return n >= 0 || !transient(n);
	}
	langid = get_le16(d + 2);
	for (int i = 0; i < 3; i++) {
		n = read_string(r, r->str_index[i], langid, out[i], sizeof(ret->manufacturer));
		if (n < 0 && transient(n))
			final = false;
	}
	return final;
}

int uccid_device_strings(struct uccid_reader *r, struct uccid_device_strings *ret)
{
	struct uccid_device_strings s;
	int dead;

	if (!r || !ret)
		return -EINVAL;
	pthread_mutex_lock(&r->str_lock);
	if (!r->strings_read) {
		dead = uccid_dead(r);
		if (dead) {
			pthread_mutex_unlock(&r->str_lock);
			return dead;
		}
		r->strings_read = read_strings(r, &s);
		r->strings = s;
	}
	*ret = r->strings;
	pthread_mutex_unlock(&r->str_lock);
	return 0;
}

static void validation_log(void *ctx, enum ccid_severity sev, const char *field, size_t off, const char *text)
{
	struct uccid_reader *r = ctx;

	uccid_log(r, sev == CCID_SEV_ERROR ? UCCID_LOG_ERROR : sev == CCID_SEV_WARNING ? UCCID_LOG_WARNING
										       : UCCID_LOG_INFO,
		  "class descriptor %s (offset %zu): %s", field, off, text);
}

/*
 * uccid_options.vendor_apdu_mode: switch a reader that has a vendor command
 * for it from the TPDU level it declares to short APDUs (quirks.c).  A
 * reader that refuses stays at its declared level: it works there too.
 */
static void vendor_apdu_mode(struct uccid_reader *r)
{
	const struct uccid_vendor_mode *v = uccid_vendor_apdu_mode(r);
	uint8_t rsp[64];
	ssize_t n;
	size_t used;

	if (!v) {
		uccid_log(r, UCCID_LOG_DEBUG, "no vendor command to APDU level for %04X:%04X: %s level as declared",
			  r->t->info.idVendor, r->t->info.idProduct, ccid_exchange_level_name(r->level));
		return;
	}
	if (r->level != CCID_LEVEL_TPDU) {
		uccid_log(r, UCCID_LOG_WARNING, "%s: the reader declares %s level, not TPDU: left as it is", v->name,
			  ccid_exchange_level_name(r->level));
		return;
	}
	n = uccid_escape(r, 0, v->cmd, sizeof(v->cmd), rsp, sizeof(rsp));
	if (n < 0) {
		uccid_log(r, UCCID_LOG_WARNING, "%s: Escape %02X %02X failed (%s): TPDU level as declared", v->name,
			  v->cmd[0], v->cmd[1], uccid_strerror((int)n));
		return;
	}
	r->level = CCID_LEVEL_SHORT_APDU;
	r->vendor_mode = v;
	used = strlen(r->quirks);
	snprintf(r->quirks + used, sizeof(r->quirks) - used, "%s%s", used ? "," : "", v->name);
	uccid_log(r, UCCID_LOG_INFO, "quirk %s: %s", v->name, v->what);
}

int uccid_open_transport(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_reader **ret,
			 char *err, size_t errlen)
{
	return uccid_session_open(t, opts, NULL, ret, err, errlen);
}

int uccid_session_open(struct uccid_transport *t, const struct uccid_options *opts, struct uccid_open_lock *ol,
		       struct uccid_reader **ret, char *err, size_t errlen)
{
	struct ccid_reader_verdict verdict;
	struct uccid_reader *r;
	char scratch[8];
	int rc;

	if (!err) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if (!t || !ret) {
		snprintf(err, errlen, "no transport");
		if (ol)
			uccid_open_unlock(ol);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		t->ops->close(t);
		if (ol)
			uccid_open_unlock(ol);
		return -ENOMEM;
	}
	r->t = t;
	if (ol)
		r->open = *ol;  /* ours now: released by uccid_close() */
	if (opts)
		r->opt = *opts;
	if (!r->opt.exchange_deadline_ms)
		r->opt.exchange_deadline_ms = UCCID_DEFAULT_EXCHANGE_MS;
	if (!r->opt.power_deadline_ms)
		r->opt.power_deadline_ms = DEFAULT_POWER_MS;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->out_lock, NULL);
	pthread_mutex_init(&r->ev_lock, NULL);
	pthread_mutex_init(&r->own_lock, NULL);
	pthread_mutex_init(&r->str_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (unsigned i = 0; i < UCCID_MAX_SLOTS; i++) {
		r->slots[i].index = i;
		r->slots[i].card.protocol = 0xFF;
		r->slots[i].card.present = true;        /* until the reader says otherwise */
		pthread_mutex_init(&r->slots[i].op, NULL);
	}
	rc = find_interface(r, err, errlen);
	if (rc < 0)
		goto fail;
	/* every finding once per open, naming its field; then the one rule of what is driven
	   (ccid/reader_class.h; an ICCD token is driven whatever its level says) */
	ccid_class_desc_validate(&r->desc, validation_log, r, NULL);
	ccid_reader_classify(r->iccd ? r->iccd : CCID_USB_PROTOCOL_CCID, &r->desc, &verdict);
	if (verdict.cls == CCID_RC_MALFORMED) {
		snprintf(err, errlen, "%s: unusable CCID class descriptor: %s", t->info.path, verdict.reason);
		rc = -EPROTO;
		goto fail;
	}
	/* an ICCD token's level is the token's own (iccd.c); a character-level reader's is driven
	   by charlevel.c */
	if (verdict.cls == CCID_RC_EXCHANGE || verdict.cls == CCID_RC_CHARACTER)
		r->level = verdict.level;
	r->nslots = r->desc.bMaxSlotIndex + 1u;
	if (r->nslots > UCCID_MAX_SLOTS) {
		snprintf(err, errlen, "%s: %u slots; uccid handles at most %u", t->info.path, r->nslots,
			 UCCID_MAX_SLOTS);
		rc = -ENOTSUP;
		goto fail;
	}
	r->busy_max = ccid_class_desc_busy_slots(&r->desc);
	r->max_msg = ccid_class_desc_max_message(&r->desc);
	r->clock_khz = r->desc.dwDefaultClock ? r->desc.dwDefaultClock : 4000;
	uccid_apply_quirks(r, r->class_last, r->vendor_class);
	/* CCID's class requests; an ICCD token's requests are others (ccid/iccd.h) */
	if (!r->iccd) {
		r->nclocks = read_list(r, 0x02, r->desc.bNumClockSupported, r->clocks);
		r->nrates = read_list(r, 0x03, r->desc.bNumDataRatesSupported, r->rates);
	}
	r->rx = malloc(CCID_MAX_MESSAGE_LENGTH);
	if (!r->rx) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = uccid_locks_init(r, err, errlen);
	if (rc < 0)
		goto fail;
	if (r->opt.vendor_apdu_mode && !r->iccd)
		vendor_apdu_mode(r);
	rc = uccid_passive_start(r);
	if (rc < 0) {
		snprintf(err, errlen, "passive: cannot start the listener: %s", strerror(-rc));
		goto fail;
	}
	uccid_log(r, UCCID_LOG_INFO, "%s: %u slot(s), %s level, messages up to %u bytes", t->info.path, r->nslots,
		  ccid_exchange_level_name(r->level), (unsigned)r->max_msg);
	*ret = r;
	return 0;
fail:
	uccid_close(r);
	return rc;
}

void uccid_cancel(struct uccid_reader *r)
{
	if (!r)
		return;
	reader_lock(r);
	uccid_set_dead(r, -ECANCELED);
	reader_unlock(r);
	/* threads waiting for a slot another thread locked, or in uccid_lock() */
	for (unsigned i = 0; r->lm && i < r->nslots; i++)
		lockmgr_cancel_all(r->lm, i);
	r->t->ops->cancel(r->t);
}

int uccid_close(struct uccid_reader *r)
{
	int rc = 0;

	if (!r)
		return 0;
	reader_lock(r);
	r->closing = true;              /* a link that drops now is not restored */
	reader_unlock(r);
	/* Power the cards off, best effort and bounded, unless the reader is gone or the
	   card's last owner left it for the next (unlock with UCCID_LEAVE). */
	if (!r->dead && r->lm) {
		r->opt.exchange_deadline_ms = 2000;
		for (unsigned i = 0; i < r->nslots; i++) {
			struct uslot *s = &r->slots[i];

			bool off;

			pthread_mutex_lock(&s->op);
			reader_lock(r);
			off = s->card.powered && !s->card.left;
			reader_unlock(r);
			if (off) {
				int n = uccid_do_power_off(r, s);

				/* a card pulled meanwhile needs no power-off */
				if (n < 0 && n != -ENOMEDIUM && !rc)
					rc = n;
			}
			pthread_mutex_unlock(&s->op);
		}
	}
	/* the session's end, unless the caller asked for it (uccid_cancel): the reader gone
	   (its reason logged when it went), or unavailable */
	if (!rc && r->dead != -ECANCELED)
		rc = r->dead;
	uccid_passive_stop(r);          /* before the open lock goes: it listens on its file */
	uccid_locks_free(r);
	if (r->t)
		r->t->ops->close(r->t);
	for (unsigned i = 0; i < UCCID_MAX_SLOTS; i++)
		pthread_mutex_destroy(&r->slots[i].op);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->out_lock);
	pthread_mutex_destroy(&r->ev_lock);
	pthread_mutex_destroy(&r->own_lock);
	pthread_mutex_destroy(&r->str_lock);
	pthread_cond_destroy(&r->cond);
	free(r->rx);
	free(r->cfg_raw);
	free(r);
	return rc;
}

int uccid_info(const struct uccid_reader *r, struct uccid_reader_info *ret)
{
	if (!r || !ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->idVendor = r->t->info.idVendor;
	ret->idProduct = r->t->info.idProduct;
	ret->bcdDevice = r->bcdDevice;
	snprintf(ret->path, sizeof(ret->path), "%s", r->t->info.path);
	ret->nslots = r->nslots;
	ret->busy_slots = r->busy_max;
	ret->exchange_level = r->level;
	ret->max_message = r->max_msg;
	ret->features = r->desc.dwFeatures;
	ret->mechanical = r->desc.dwMechanical;
	ret->voltages = r->desc.bVoltageSupport;
	ret->pin_support = r->desc.bPINSupport;
	ret->has_interrupt = r->t->info.ep_intr_in != 0;
	ret->interface_protocol = r->iccd;
	ret->quirks = r->quirks;
	ret->busnum = r->t->info.busnum;
	ret->devnum = r->t->info.devnum;
	ret->interface = r->t->info.interface;
	ret->ep_bulk_out = r->t->info.ep_bulk_out;
	ret->ep_bulk_in = r->t->info.ep_bulk_in;
	ret->ep_intr_in = r->t->info.ep_intr_in;
	return 0;
}

/* A transport's -ENODEV while a remote reader's link is restored is -ENOTCONN (link.c). */
static int link_error(struct uccid_reader *r, int rc)
{
	return rc == -ENODEV && uccid_dead(r) == -ENOTCONN ? -ENOTCONN : rc;
}

int uccid_descriptors(struct uccid_reader *r, uint8_t dev[18], uint8_t *cfg, size_t cap)
{
	if (!r || !dev || !cfg)
		return -EINVAL;
	return link_error(r, r->t->ops->descriptors(r->t, dev, cfg, cap));
}

int uccid_class_descriptor(const struct uccid_reader *r, uint8_t desc[54])
{
	if (!r || !desc)
		return -EINVAL;
	memcpy(desc, r->desc_raw, CCID_CLASS_DESC_LEN);
	return CCID_CLASS_DESC_LEN;
}

int uccid_last_error(const struct uccid_reader *r, unsigned slot, struct uccid_reader_error *ret)
{
	if (!r || !ret || slot >= r->nslots)
		return -EINVAL;
	*ret = r->slots[slot].last_error;
	return 0;
}

int uccid_class_request(struct uccid_reader *r, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			uint8_t *data, uint16_t wLength)
{
	if (!r || (bmRequestType & 0x60) != 0x20 || (wLength && !data))
		return -EINVAL;
	return link_error(r, r->t->ops->control(r->t, bmRequestType, bRequest, wValue, r->t->info.interface, data,
						wLength, CONTROL_MS));
}
