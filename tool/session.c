/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tool's reader session, below every subcommand that talks to a
 * reader: which reader when none is named (the only one on the USB buses),
 * opening it with the tool's options and log, and the words for what went
 * wrong — a failed call, a slot another process holds (who, since when),
 * PC/SC's name for an error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/ccid.h"
#include "session/uccid.h"
#include "tool/tool.h"
#include "transport/libusb.h"
#include "transport/transport.h"

#define LIST_MAX 64

int tool_default_reader(char *name, size_t cap)
{
	struct uccid_libusb_reader rd[LIST_MAX];
	char err[256] = "";
	int n = uccid_libusb_list(rd, LIST_MAX, err, sizeof(err));

	if (n < 0) {
		tool_err("no reader given, and the USB buses cannot be listed: %s", err);
		return -ENODEV;
	}
	if (n == 0) {
		tool_err("no reader given and none found on the USB buses (use --reader usbip://HOST/BUSID for a "
			 "USB/IP reader)");
		return -ENODEV;
	}
	if (n > 1) {
		tool_err("no reader given and %d are present; choose one with --reader:", n);
		for (int i = 0; i < n && i < LIST_MAX; i++)
			fprintf(stderr, "  %s  %s (%04x:%04x)\n", rd[i].name_libusb, rd[i].product, rd[i].idVendor,
				rd[i].idProduct);
		return -EINVAL;
	}
	snprintf(name, cap, "%s", rd[0].name_libusb);
	return 0;
}

static void tool_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "uccid: %s%s\n", level == UCCID_LOG_ERROR ? "error: " : level == UCCID_LOG_WARNING ? "warning: " : "",
		msg);
}

int tool_open_session(const struct tool_opts *o, struct tool_session *s)
{
	struct uccid_options opts = { .log = tool_log,
				      .log_level = o->verbose ? UCCID_LOG_DEBUG : o->quiet ? UCCID_LOG_ERROR : UCCID_LOG_WARNING,
				      .auto_get_response = true, .open_wait_ms = o->wait_ms, .program = "uccid",
				      .passive = o->passive, .vendor_apdu_mode = o->vendor_apdu };
	struct uccid_reader_info info;
	char err[512] = "", name[128];
	const char *reader = o->reader;
	struct tool_wrap w;
	int rc;

	s->o = o;
	if (!reader) {
		rc = tool_default_reader(name, sizeof(name));
		if (rc < 0)
			return rc;
		reader = name;
	}
	snprintf(s->name, sizeof(s->name), "%s", reader);
	w = tool_trace_setup(o, &opts);
	rc = uccid_open_wrapped(reader, &opts, w.fn, w.ctx, &s->r, err, sizeof(err));
	if (rc < 0) {
		tool_err("%s", err[0] ? err : uccid_strerror(rc));
		return rc;
	}
	/* a slot the reader does not have is the user's mistake, not the reader's error */
	uccid_info(s->r, &info);
	if (s->slot >= info.nslots) {
		tool_err("--slot %u: reader %s has %u slot%s (0..%u)", s->slot, reader, info.nslots,
			 info.nslots == 1 ? "" : "s", info.nslots ? info.nslots - 1 : 0);
		uccid_close(s->r);
		s->r = NULL;
		return -EINVAL;
	}
	return 0;
}

void tool_json_slot(const struct tool_session *s)
{
	fputs("{\"reader\":", stdout);
	json_string(stdout, s->name);
	printf(",\"slot\":%u", s->slot);
}

int tool_open_failed(int rc)
{
	return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
}

int tool_fail(struct tool_session *s, const char *what, int rc)
{
	struct uccid_reader_error le;
	struct uccid_slot_status st;

	/*
	 * -EIO is also the session's own refusal to send to a card that is not
	 * powered (after "unlock unpower", a poweroff): nothing reached the
	 * reader, so no bError of the reader's is to blame.  Only a transmit
	 * has that refusal (a power-on the reader refused leaves the card
	 * unpowered too, and that is the reader's bError).
	 */
	if (s->r && rc == -EIO && !strcmp(what, "transmit") && uccid_slot_status(s->r, s->slot, &st) == 0 && st.present && !st.powered)
		tool_err("%s: the card in slot %u is not powered: refused here, nothing was sent (a reset powers it)",
			 what, s->slot);
	else if (s->r && uccid_last_error(s->r, s->slot, &le) == 0 && le.valid && rc == -EIO)
		tool_err("%s: the reader refused: %s (bError %02X)", what, ccid_error_name(le.bError), le.bError);
	else
		tool_err("%s: %s", what, uccid_strerror(rc));
	return EXIT_FAILED;
}

int tool_take_card(struct tool_session *s, uint8_t *atr, size_t cap)
{
	int rc = uccid_resume(s->r, s->slot);

	if (rc == 0)
		return 0;
	if (rc == -ENOTSUP) {
		/* the reader refused GetParameters: it cannot say how the card runs; start it afresh */
		tool_err("warning: the card left powered cannot be taken over (%s); resetting it", uccid_strerror(rc));
	} else if (rc != -ENODATA) {
		return -tool_fail(s, "taking over the card", rc);
	}
	rc = uccid_power_on(s->r, s->slot, UCCID_VOLTAGE_AUTO, atr, cap);
	return rc < 0 ? -tool_fail(s, "power on", rc) : 0;
}

int tool_leave_card(struct tool_session *s)
{
	int rc = uccid_lock(s->r, s->slot, 0, 0, NULL);

	if (rc == 0)
		rc = uccid_unlock(s->r, s->slot, UCCID_LEAVE, NULL);
	if (rc < 0) {
		tool_err("--leave: %s", uccid_strerror(rc));
		return -1;
	}
	return 0;
}

int tool_close(struct tool_session *s, int status)
{
	int rc = uccid_close(s->r);

	s->r = NULL;
	if (rc < 0 && status == EXIT_OK) {
		tool_err("closing the reader: %s", uccid_strerror(rc));
		return EXIT_FAILED;
	}
	return status;
}

void tool_format_since(int64_t since, char *buf, size_t len)
{
	time_t t = (time_t)since;
	struct tm tm;

	buf[0] = '\0';
	if (t && localtime_r(&t, &tm))
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

const char *tool_scard_name(int rc)
{
	switch (rc) {
	case -ENOMEDIUM: return "SCARD_W_REMOVED_CARD";
	case -EMEDIUMTYPE: return "SCARD_W_REMOVED_CARD";
	case -ECONNRESET: return "SCARD_W_RESET_CARD";
	case -ETIMEDOUT: return "SCARD_W_UNRESPONSIVE_CARD";
	case -ENODEV: return "SCARD_E_READER_UNAVAILABLE";
	case -EBUSY: return "SCARD_E_SHARING_VIOLATION";
	case -EPROTO: return "SCARD_W_UNRESPONSIVE_CARD";
	case -ENOTSUP: return "SCARD_E_UNSUPPORTED_FEATURE";
	case -EINVAL: return "SCARD_E_INVALID_VALUE";
	case -ECANCELED: return "SCARD_E_CANCELLED";
	default: return "SCARD_F_COMM_ERROR";
	}
}

void tool_lock_busy(struct tool_session *s, int rc)
{
	struct uccid_holder h;
	char when[32];

	if ((rc == -EBUSY || rc == -ETIMEDOUT) && uccid_lock_holder(s->r, s->slot, &h) == 0 && h.held) {
		tool_format_since(h.since, when, sizeof(when));
		tool_err("lock: slot %u is locked by %s (pid %ld) since %s", s->slot, h.program, (long)h.pid, when);
		return;
	}
	tool_err("lock: slot %u: %s", s->slot, uccid_strerror(rc));
}
