/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid_open(): a reader name to a transport.  "usbip://" names go to the
 * USB/IP client; "usb:" names (ours and the forms pcscd passes) to libusb.
 * The reader's open lock (openlock.c) is taken first.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "transport/libusb.h"
#include "session/session_priv.h"
#include "transport/usbip_client.h"

#define OPEN_TIMEOUT_MS 5000

int uccid_open(const char *name, const struct uccid_options *opts, struct uccid_reader **ret, char *err,
	       size_t errlen)
{
	return uccid_open_wrapped(name, opts, NULL, NULL, ret, err, errlen);
}

int uccid_open_wrapped(const char *name, const struct uccid_options *opts, uccid_wrap_fn wrap, void *wrap_ctx,
		       struct uccid_reader **ret, char *err, size_t errlen)
{
	struct uccid_transport *t = NULL;
	struct uccid_open_lock ol;
	char scratch[8];
	int64_t start;
	int rc;

	if (!err) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if (!name || !ret) {
		snprintf(err, errlen, "no reader name");
		return -EINVAL;
	}
	if (strncmp(name, "usbip://", 8) && strncmp(name, "usb:", 4)) {
		snprintf(err, errlen, "'%s' is not a reader name (usb:VVVV/PPPP, usb:BUS:ADDR or usbip://HOST/BUSID)",
			 name);
		return -EINVAL;
	}
	/* one process at a time has the reader: wait for it in order, or name who has it */
	start = uccid_mono_ms();
	rc = uccid_open_lock(&ol, name, opts, err, errlen);
	if (rc < 0)
		return rc;
	if (!strncmp(name, "usbip://", 8)) {
		/*
		 * The rest of the open wait goes to an import the server refuses as busy: the
		 * last holder may have left (or died) before the server saw its connection
		 * close.  The connect has OPEN_TIMEOUT_MS; the import and the descriptors, like
		 * a late RET_UNLINK, the exchange deadline: a link with seconds of delay each
		 * way takes more than the connect.
		 */
		int wait = ol.ident[0] ? ol.wait_ms : opts ? opts->open_wait_ms : 0;
		int64_t left = wait > 0 ? wait - (uccid_mono_ms() - start) : wait;
		unsigned xms = opts && opts->exchange_deadline_ms ? opts->exchange_deadline_ms : UCCID_DEFAULT_EXCHANGE_MS;
		struct uccid_usbip_params p = { .timeout_ms = xms > OPEN_TIMEOUT_MS ? xms : OPEN_TIMEOUT_MS,
						.connect_ms = OPEN_TIMEOUT_MS,
						.busy_wait_ms = wait > 0 && left < 1 ? 1 : (int)left,
						.unlink_wait_ms = xms };

		rc = uccid_usbip_open_params(name, 0, &p, &t, err, errlen);
	} else {
		rc = uccid_libusb_open(name, 0, OPEN_TIMEOUT_MS, &t, err, errlen);
	}
	if (rc == 0 && wrap) {
		struct uccid_transport *w = wrap(wrap_ctx, t);

		if (!w) {
			t->ops->close(t);
			rc = -ENOMEM;
		}
		t = w;
	}
	if (rc < 0) {
		uccid_open_unlock(&ol);
		return rc;
	}
	return uccid_session_open(t, opts, &ol, ret, err, errlen);
}
