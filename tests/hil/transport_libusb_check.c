/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libusb transport against a real kernel USB stack (run inside the QEMU
 * guest by tests/hil/guest/transport-libusb.sh): listing, opening by every
 * name form, descriptors, a CCID session (IccPowerOn, GetSlotStatus, one
 * XfrBlock), a bulk-IN timeout that loses nothing, bulk_out_in (exchanges,
 * a late answer, an IN stall, a halted bulk-OUT), ABORT, NotifySlotChange
 * on card removal and insertion, idle interrupt-IN waits that cost no
 * wake-up and no URB unlink (issue 14), an endpoint stall and clear_halt, cancel()
 * from another thread, and an unplug while a bulk-IN and an interrupt-IN
 * wait and uccid_libusb_watch() watches the buses.  Prints one
 * "ok:" or "FAIL:" line per check and "N passed, N failed"; exit status 0
 * only when every check passed.
 *
 * usage: transport-libusb-check --id usb:VVVV/PPPP [--index N]
 *          [--xfr echo|select-t0] [--control SOCKET] [--no-abort]
 *          [--unplug-ready FILE]
 *   --xfr echo       the virtual reader's ECHO 80 10 00 00 05 (APDU level)
 *   --xfr select-t0  a SELECT as a T=0 TPDU (QEMU's usb-ccid), any SW
 *   --control        uccid-vreader's control socket: card removal and
 *                    insertion, and the stall fault
 *   --no-abort       the reader stalls the ABORT request (QEMU's usb-ccid)
 *   --unplug-ready   create FILE while a bulk-IN waits, and expect the
 *                    caller to unplug the device then
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libusb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ccid/atr.h"
#include "ccid/class_desc.h"
#include "ccid/message.h"
#include "ccid/usb_desc.h"
#include "transport/libusb.h"
#include "transport/usb_names.h"
#include "util/clock.h"

#define MAX_READERS 32
#define RSP_CAP (CCID_MAX_MESSAGE_LENGTH + 64)
#define XFER_MS 5000

static int passed, failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static const char *errname(int r)
{
	static char buf[64];

	if (r >= 0) {
		snprintf(buf, sizeof(buf), "%d", r);
		return buf;
	}
	switch (-r) {
	case ETIMEDOUT: return "-ETIMEDOUT";
	case EPIPE: return "-EPIPE";
	case ENODEV: return "-ENODEV";
	case ECANCELED: return "-ECANCELED";
	case EOVERFLOW: return "-EOVERFLOW";
	case EIO: return "-EIO";
	case EINVAL: return "-EINVAL";
	case ENOENT: return "-ENOENT";
	case EBUSY: return "-EBUSY";
	case ENOBUFS: return "-ENOBUFS";
	case ENOTSUP: return "-ENOTSUP";
	default:
		snprintf(buf, sizeof(buf), "-%d (%s)", -r, strerror(-r));
		return buf;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the virtual reader's control socket ---- */

static const char *control_path;

/* Send one command; true when the reply's last line starts with "ok".  The reply goes to out (may be NULL). */
static bool vctl_reply(const char *cmd, char *out, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char reply[4096];
	size_t n = 0;
	bool ok = false;
	int fd;

	if (!control_path || strlen(control_path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, control_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
		goto out;
	while (n < sizeof(reply) - 1) {
		ssize_t r = read(fd, reply + n, sizeof(reply) - 1 - n);
		char *last;

		if (r <= 0)
			break;
		n += (size_t)r;
		reply[n] = '\0';
		if (n && reply[n - 1] == '\n') {
			reply[n - 1] = '\0';
			last = strrchr(reply, '\n');
			last = last ? last + 1 : reply;
			if (!strncmp(last, "ok", 2) || !strncmp(last, "error:", 6)) {
				ok = !strncmp(last, "ok", 2);
				break;
			}
			reply[n - 1] = '\n';
		}
	}
out:
	close(fd);
	if (out && cap)
		snprintf(out, cap, "%.*s", (int)n, reply);
	return ok;
}

static bool vctl(const char *cmd)
{
	return vctl_reply(cmd, NULL, 0);
}

/* ---- CCID exchanges ---- */

static uint8_t bseq;
static uint8_t rsp_buf[RSP_CAP];
static uint32_t max_message = 271;
static bool pipelined;               /* exchange() sends with bulk_out_in, as the reader engine does */

/* Send cmd (bSeq assigned here), wait for its answer past time extensions; any other bSeq is a failure. */
static int exchange(struct uccid_transport *t, struct ccid_msg *cmd, struct ccid_msg *ret)
{
	uint8_t out[CCID_MAX_MESSAGE_LENGTH];
	ssize_t len;
	int r, out_rc = 0;

	cmd->bSeq = bseq++;
	len = ccid_msg_encode(cmd, out, sizeof(out));
	if (len < 0)
		return (int)len;
	if (pipelined) {
		r = t->ops->bulk_out_in(t, out, (size_t)len, rsp_buf, max_message, XFER_MS, XFER_MS, &out_rc);
		if (out_rc >= 0 && out_rc != len)
			return -EIO;
	} else {
		r = t->ops->bulk_out(t, out, (size_t)len, XFER_MS);
		if (r >= 0)
			r = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
	}
	for (int i = 0; i < 100; i++) {
		if (i)
			r = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
		if (r < 0)
			return r;
		if (ccid_msg_decode(rsp_buf, (size_t)r, ret, NULL) < 0)
			return -EBADMSG;
		if (ret->bSeq != cmd->bSeq)
			return -EPROTO;
		if (CCID_CMD_STATUS(ret->rsp.bStatus) != CCID_CMD_TIME_EXTENSION)
			return 0;
	}
	return -ETIMEDOUT;
}

static int get_slot_status(struct uccid_transport *t, struct ccid_msg *ret)
{
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_GET_SLOT_STATUS };

	return exchange(t, &cmd, ret);
}

static struct ccid_class_desc class_desc;

static void power_on(struct uccid_transport *t, const char *when)
{
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_ICC_POWER_ON }, rsp;
	struct ccid_atr atr;
	int r;

	/* CCID 1.1 §6.1.1: 00 lets the reader choose; otherwise the lowest voltage it offers. */
	if (!(class_desc.dwFeatures & CCID_FEAT_AUTO_VOLTAGE))
		cmd.power_on.bPowerSelect = class_desc.bVoltageSupport & CCID_VOLTAGE_5V ? CCID_POWER_5V
					    : class_desc.bVoltageSupport & CCID_VOLTAGE_3V ? CCID_POWER_3V
											   : CCID_POWER_1V8;
	r = exchange(t, &cmd, &rsp);
	check(r == 0 && rsp.bMessageType == CCID_RDR_TO_PC_DATA_BLOCK && CCID_CMD_STATUS(rsp.rsp.bStatus) == 0,
	      "%s: IccPowerOn answered by a DataBlock (%s, bStatus %02X bError %02X)", when, errname(r),
	      r == 0 ? rsp.rsp.bStatus : 0, r == 0 ? rsp.rsp.bError : 0);
	if (r == 0) {
		char hex[3 * 33 + 1] = "";

		for (uint32_t i = 0; i < rsp.dwLength && i < 33; i++)
			snprintf(hex + 3 * i, 4, "%02X ", rsp.abData[i]);
		check(ccid_atr_parse(rsp.abData, rsp.dwLength, &atr, NULL) == 0, "%s: ATR parses: %s", when, hex);
	}
}

static void xfr_block(struct uccid_transport *t, const char *kind, const char *when)
{
	static const uint8_t echo[] = { 0x80, 0x10, 0x00, 0x00, 0x05 };
	static const uint8_t select[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x01, 0x16, 0xDB, 0x00 };
	bool is_echo = !strcmp(kind, "echo");
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_XFR_BLOCK }, rsp;
	int r;

	cmd.abData = is_echo ? echo : select;
	cmd.dwLength = is_echo ? sizeof(echo) : sizeof(select);
	r = exchange(t, &cmd, &rsp);
	if (r < 0 || rsp.bMessageType != CCID_RDR_TO_PC_DATA_BLOCK || CCID_CMD_STATUS(rsp.rsp.bStatus)) {
		check(false, "%s: XfrBlock %s answered (%s, bStatus %02X bError %02X)", when, kind, errname(r),
		      r == 0 ? rsp.rsp.bStatus : 0, r == 0 ? rsp.rsp.bError : 0);
		return;
	}
	if (is_echo) {
		static const uint8_t want[] = { 0, 1, 2, 3, 4, 0x90, 0x00 };

		check(rsp.dwLength == sizeof(want) && !memcmp(rsp.abData, want, sizeof(want)),
		      "%s: XfrBlock ECHO 80 10 00 00 05 -> 5 pattern bytes and 9000 (%u bytes)", when,
		      (unsigned)rsp.dwLength);
	} else {
		/* T=0 TPDU case 3: the card answers with a status word only (61xx, 9000, 6Axx ...) */
		check(rsp.dwLength == 2, "%s: XfrBlock SELECT (T=0 TPDU) -> SW %02X%02X (%u bytes)", when,
		      rsp.dwLength >= 2 ? rsp.abData[rsp.dwLength - 2] : 0,
		      rsp.dwLength >= 2 ? rsp.abData[rsp.dwLength - 1] : 0, (unsigned)rsp.dwLength);
	}
}

/* ---- tests ---- */

struct opts {
	const char *id;
	unsigned index;
	const char *xfr;
	bool no_abort;
	const char *unplug_ready;
};

static struct uccid_libusb_reader readers[MAX_READERS];

/* The reader under test: the index-th listed with the VID/PID of --id. */
static const struct uccid_libusb_reader *test_list(const struct opts *o, unsigned *ret_index)
{
	struct uccid_usb_name id;
	char err[256] = "";
	int n = uccid_libusb_list(readers, MAX_READERS, err, sizeof(err));
	const struct uccid_libusb_reader *mine = NULL;
	unsigned same = 0;

	check(n >= 1, "list: %d CCID interfaces %s", n, err);
	check(uccid_libusb_list(NULL, 0, NULL, 0) == n, "list: counting without a buffer gives the same number");
	if (uccid_usb_name_parse(o->id, &id) < 0 || !(id.has & UCCID_USB_HAS_ID)) {
		check(false, "--id %s is a usb:VVVV/PPPP name", o->id);
		return NULL;
	}
	for (int i = 0; i < n && i < MAX_READERS; i++) {
		const struct uccid_libusb_reader *r = &readers[i];
		static const char *const forms[] = { "id", "serial", "bus_addr", "libudev", "libusb" };
		const char *names[] = { r->name_id, r->name_serial, r->name_bus_addr, r->name_libudev, r->name_libusb };
		struct uccid_usb_name dev = { .has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR |
						     UCCID_USB_HAS_INTERFACE,
					      .idVendor = r->idVendor, .idProduct = r->idProduct,
					      .busnum = r->busnum, .devnum = r->devnum, .interface = r->interface };
		bool all = true;

		printf("# reader %d: %04x:%04x bus %u addr %u if %u proto %u%s%s slots %u features %08X "
		       "serial '%s' product '%s'\n#   %s | %s | %s | %s | %s\n",
		       i, r->idVendor, r->idProduct, r->busnum, r->devnum, r->interface, r->bInterfaceProtocol,
		       r->vendor_class ? " vendor-class" : "", r->class_after_endpoint ? " class-after-ep" : "",
		       r->bMaxSlotIndex + 1u, r->dwFeatures, r->serial, r->product, r->name_id, r->name_serial,
		       r->name_bus_addr, r->name_libudev, r->name_libusb);
		if (r->serial[0]) {
			dev.has |= UCCID_USB_HAS_SERIAL;
			memcpy(dev.serial, r->serial, sizeof(dev.serial));
		}
		for (size_t f = 0; f < 5; f++) {
			struct uccid_usb_name back;

			if (f == 1 && !names[f][0])
				continue;
			if (uccid_usb_name_parse(names[f], &back) < 0 || !uccid_usb_name_match(&back, &dev)) {
				all = false;
				printf("#   name_%s '%s' does not parse back or match\n", forms[f], names[f]);
			}
		}
		check(all, "list: reader %d's names parse back and match it", i);
		if (r->idVendor == id.idVendor && r->idProduct == id.idProduct && same++ == o->index) {
			mine = r;
			*ret_index = 0;
			for (int k = 0; k < i; k++)
				*ret_index += readers[k].idVendor == id.idVendor && readers[k].idProduct == id.idProduct;
		}
	}
	check(mine != NULL, "list: %s (index %u) is listed", o->id, o->index);
	return mine;
}

static void test_open_forms(const struct uccid_libusb_reader *r, unsigned id_index)
{
	const char *names[] = { r->name_id, r->name_serial, r->name_bus_addr, r->name_libudev, r->name_libusb };
	char ignored[128];

	snprintf(ignored, sizeof(ignored), "%s:libhal:/org/freedesktop/Hal/devices/x", r->name_id);
	for (size_t f = 0; f < 6; f++) {
		const char *name = f < 5 ? names[f] : ignored;
		unsigned index = f == 0 || f == 5 ? id_index : 0;
		struct uccid_transport *t = NULL;
		char err[256] = "";
		int rc;

		if (!name[0]) {
			printf("# no serial name (serial '%s')\n", r->serial);
			continue;
		}
		rc = uccid_libusb_open(name, index, XFER_MS, &t, err, sizeof(err));
		check(rc == 0, "open %s (index %u): %s %s", name, index, errname(rc), err);
		if (rc)
			continue;
		check(!strcmp(t->info.path, r->name_libusb) && t->info.idVendor == r->idVendor &&
			      t->info.idProduct == r->idProduct && t->info.interface == r->interface &&
			      t->info.busnum == r->busnum && t->info.devnum == r->devnum,
		      "open %s: info is %s (%04x:%04x bus %u addr %u if %u)", name, t->info.path, t->info.idVendor,
		      t->info.idProduct, t->info.busnum, t->info.devnum, t->info.interface);
		check((t->info.ep_bulk_in & 0x80) && t->info.ep_bulk_out && !(t->info.ep_bulk_out & 0x80) &&
			      (!t->info.ep_intr_in || t->info.ep_intr_in & 0x80),
		      "open %s: endpoints bulk-in %02X bulk-out %02X interrupt-in %02X", name, t->info.ep_bulk_in,
		      t->info.ep_bulk_out, t->info.ep_intr_in);
		check(!strcmp(t->ops->name, "libusb"), "open %s: ops name '%s'", name, t->ops->name);
		t->ops->close(t);
	}
}

static void test_open_errors(const struct uccid_libusb_reader *r)
{
	struct uccid_transport *t = NULL;
	char err[256] = "", name[64];
	int rc;

	rc = uccid_libusb_open("usb:ffff/fffe", 0, XFER_MS, &t, err, sizeof(err));
	check(rc == -ENOENT && strstr(err, "usb:ffff/fffe: no such reader"), "open usb:ffff/fffe: %s '%s'",
	      errname(rc), err);
	rc = uccid_libusb_open("usb:zz", 0, XFER_MS, &t, err, sizeof(err));
	check(rc == -EINVAL && strstr(err, "usb:zz"), "open usb:zz: %s '%s'", errname(rc), err);
	rc = uccid_libusb_open(r->name_libusb, 1, XFER_MS, &t, err, sizeof(err));
	check(rc == -ENOENT && strstr(err, "no such reader"), "open %s index 1: %s '%s'", r->name_libusb,
	      errname(rc), err);
	snprintf(name, sizeof(name), "%s:NO-SUCH-SERIAL", r->name_id);
	rc = uccid_libusb_open(name, 0, XFER_MS, &t, err, sizeof(err));
	check(rc == -ENOENT, "open %s: %s '%s'", name, errname(rc), err);
}

static void test_descriptors(struct uccid_transport *t, const struct uccid_libusb_reader *r)
{
	uint8_t dev[18], *cfg = malloc(UCCID_DESC_MAX);
	struct ccid_usb_device_desc dd;
	struct ccid_usb_config *c = malloc(sizeof(*c));
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag = { 0, "" };
	int len, rc;

	if (!cfg || !c)
		abort();
	len = t->ops->descriptors(t, dev, cfg, UCCID_DESC_MAX);
	check(len >= CCID_USB_CONFIG_DESC_LEN, "descriptors: configuration of %s bytes", errname(len));
	if (len < 0)
		goto out;
	rc = ccid_usb_device_desc_parse(dev, sizeof(dev), &dd, &diag);
	check(rc == 0 && dd.idVendor == r->idVendor && dd.idProduct == r->idProduct,
	      "descriptors: device descriptor parses, %04x:%04x", dd.idVendor, dd.idProduct);
	rc = ccid_usb_config_parse(cfg, (size_t)len, c, &diag);
	check(rc == 0, "descriptors: configuration parses (%s at %zu: %s)", errname(rc), diag.offset,
	      rc ? diag.expected : "");
	if (rc)
		goto out;
	for (unsigned n = 0; (rc = ccid_usb_find_ccid(c, cfg, (size_t)len, n, &ci, &diag)) == 0; n++)
		if (ci.bInterfaceNumber == t->info.interface)
			break;
	check(rc == 0 && ci.ep_bulk_in == t->info.ep_bulk_in && ci.ep_bulk_out == t->info.ep_bulk_out &&
		      ci.ep_intr_in == t->info.ep_intr_in,
	      "descriptors: CCID interface %u found, endpoints as in info", t->info.interface);
	if (rc)
		goto out;
	rc = ccid_class_desc_parse(cfg + ci.class_offset, CCID_CLASS_DESC_LEN, &class_desc, &diag);
	check(rc == 0 && ccid_class_desc_validate(&class_desc, NULL, NULL, NULL) >= 0,
	      "descriptors: class descriptor valid: %s level, %u slot(s), dwMaxCCIDMessageLength %u",
	      ccid_exchange_level_name(ccid_class_desc_level(&class_desc)), class_desc.bMaxSlotIndex + 1u,
	      class_desc.dwMaxCCIDMessageLength);
	max_message = ccid_class_desc_max_message(&class_desc);
	rc = t->ops->descriptors(t, dev, cfg, (size_t)len - 1);
	check(rc == -ENOBUFS, "descriptors: a buffer one byte short gives %s", errname(rc));
out:
	free(c);
	free(cfg);
}

static void test_session(struct uccid_transport *t, const struct opts *o)
{
	struct ccid_msg rsp;
	int64_t t0;
	int rc;

	power_on(t, "session");
	rc = get_slot_status(t, &rsp);
	check(rc == 0 && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS &&
		      CCID_ICC_STATUS(rsp.rsp.bStatus) == CCID_ICC_ACTIVE,
	      "session: GetSlotStatus -> SlotStatus, card active (%s, bStatus %02X)", errname(rc),
	      rc == 0 ? rsp.rsp.bStatus : 0);
	xfr_block(t, o->xfr, "session");

	/* Nothing pending: the transfer times out, is reaped, and the pipe stays in step. */
	t0 = uccid_mono_ms();
	rc = t->ops->bulk_in(t, rsp_buf, max_message, 300);
	t0 = uccid_mono_ms() - t0;
	check(rc == -ETIMEDOUT && t0 >= 250 && t0 < 1500, "timeout: idle bulk_in(300 ms) -> %s after %lld ms",
	      errname(rc), (long long)t0);
	rc = get_slot_status(t, &rsp);
	check(rc == 0 && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS,
	      "timeout: the next exchange gets its own answer (%s)", errname(rc));
	xfr_block(t, o->xfr, "after timeout");
}

/* A GetSlotStatus with the next bSeq, encoded into out; returns the bSeq. */
static uint8_t encode_slot_status(uint8_t out[CCID_HEADER_SIZE])
{
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_GET_SLOT_STATUS };

	cmd.bSeq = bseq++;
	if (ccid_msg_encode(&cmd, out, CCID_HEADER_SIZE) != CCID_HEADER_SIZE)
		abort();
	return cmd.bSeq;
}

/* Send a GetSlotStatus without reading its answer; returns its bSeq. */
static uint8_t send_slot_status(struct uccid_transport *t, const char *when)
{
	uint8_t out[CCID_HEADER_SIZE], seq = encode_slot_status(out);
	int rc;

	rc = t->ops->bulk_out(t, out, sizeof(out), XFER_MS);
	check(rc == CCID_HEADER_SIZE, "%s: GetSlotStatus sent (%s)", when, errname(rc));
	return seq;
}

/*
 * Read bulk-IN (3 s each) past the time extensions the reader may send
 * while an answer is late (CCID §6.2.6, at most 4 here) for bSeq seq.
 * Returns the last read's result, the message in *rsp.
 */
static int read_past_extensions(struct uccid_transport *t, uint8_t seq, struct ccid_msg *rsp, int *ret_extensions)
{
	int rc, extensions = 0;

	for (;;) {
		rc = t->ops->bulk_in(t, rsp_buf, max_message, 3000);
		if (rc != CCID_HEADER_SIZE || ccid_msg_decode(rsp_buf, (size_t)rc, rsp, NULL) < 0 || rsp->bSeq != seq ||
		    CCID_CMD_STATUS(rsp->rsp.bStatus) != CCID_CMD_TIME_EXTENSION || ++extensions > 4)
			break;
	}
	*ret_extensions = extensions;
	return rc;
}

/* Microseconds for n GetSlotStatus exchanges, -1 at the first failure. */
static int64_t time_exchanges(struct uccid_transport *t, int n)
{
	struct ccid_msg rsp;
	int64_t t0 = uccid_mono_us();

	for (int i = 0; i < n; i++)
		if (get_slot_status(t, &rsp) != 0)
			return -1;
	return uccid_mono_us() - t0;
}

/* A GetSlotStatus and an XfrBlock, each sent with bulk_out_in and answered with its own bSeq. */
static void out_in_exchanges(struct uccid_transport *t, const struct opts *o, const char *when)
{
	struct ccid_msg rsp;
	int rc;

	pipelined = true;
	rc = get_slot_status(t, &rsp);
	check(rc == 0 && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS, "%s: GetSlotStatus -> SlotStatus (%s)", when,
	      errname(rc));
	xfr_block(t, o->xfr, when);
	pipelined = false;
}

/*
 * bulk_out_in: the command and the first read of its answer in one call,
 * the IN transfer queued before the OUT.  Answers arrive whole and in step;
 * an answer later than the IN's timeout waits in the device for the next
 * read; an IN error leaves the OUT's result alone; an OUT error (the host
 * halted bulk-OUT) ends the call at once, the IN transfer cancelled without
 * taking anything.
 */
static void test_out_in(struct uccid_transport *t, const struct opts *o)
{
	uint8_t out[CCID_HEADER_SIZE], seq;
	struct ccid_msg rsp;
	int64_t t0, sep, pipe;
	int rc, out_rc, extensions;

	check(t->ops->bulk_out_in != NULL, "out_in: the transport has bulk_out_in");
	if (!t->ops->bulk_out_in)
		return;
	out_in_exchanges(t, o, "out_in");

	/* not a check (TCG timing): what one round trip less is worth here */
	pipelined = false;
	sep = time_exchanges(t, 50);
	pipelined = true;
	pipe = time_exchanges(t, 50);
	printf("# 50 GetSlotStatus: bulk_out then bulk_in %lld us each, bulk_out_in %lld us each\n",
	       sep < 0 ? -1LL : (long long)(sep / 50), pipe < 0 ? -1LL : (long long)(pipe / 50));
	check(sep > 0 && pipe > 0, "out_in: 50 exchanges each way");
	pipelined = false;
	if (!control_path)
		return;

	/* the answer comes after the IN's 200 ms: the IN is reaped, the answer waits for the next read */
	check(vctl("fault latency 700"), "out_in late: control 'fault latency 700'");
	seq = encode_slot_status(out);
	t0 = uccid_mono_ms();
	rc = t->ops->bulk_out_in(t, out, sizeof(out), rsp_buf, max_message, XFER_MS, 200, &out_rc);
	check(out_rc == CCID_HEADER_SIZE && rc == -ETIMEDOUT,
	      "out_in late: bulk_out_in(IN 200 ms) -> sent %s, read %s after %lld ms", errname(out_rc), errname(rc),
	      (long long)(uccid_mono_ms() - t0));
	rc = read_past_extensions(t, seq, &rsp, &extensions);
	check(rc == CCID_HEADER_SIZE && rsp.bSeq == seq && CCID_CMD_STATUS(rsp.rsp.bStatus) == CCID_CMD_OK,
	      "out_in late: the next bulk_in gets the delayed answer, bSeq %02X (%s)", seq, errname(rc));

	/* IN error: bulk-IN stalls instead of answering; the OUT went out all the same */
	check(vctl("fault stall"), "out_in stall: control 'fault stall'");
	encode_slot_status(out);
	rc = t->ops->bulk_out_in(t, out, sizeof(out), rsp_buf, max_message, XFER_MS, XFER_MS, &out_rc);
	check(out_rc == CCID_HEADER_SIZE && rc == -EPIPE, "out_in stall: bulk-IN stalls -> sent %s, read %s",
	      errname(out_rc), errname(rc));
	rc = t->ops->clear_halt(t, t->info.ep_bulk_in);
	check(rc == 0, "out_in stall: clear_halt(%02X) -> %s", t->info.ep_bulk_in, errname(rc));

	/* OUT error: SET_FEATURE(ENDPOINT_HALT) on bulk-OUT (USB 2.0 §9.4.9); the IN (5 s) must not be waited out */
	rc = t->ops->control(t, 0x02, 0x03, 0, t->info.ep_bulk_out, NULL, 0, XFER_MS);
	check(rc == 0, "out_in halted OUT: SET_FEATURE(ENDPOINT_HALT) on %02X -> %s", t->info.ep_bulk_out,
	      errname(rc));
	encode_slot_status(out);
	t0 = uccid_mono_ms();
	rc = t->ops->bulk_out_in(t, out, sizeof(out), rsp_buf, max_message, XFER_MS, XFER_MS, &out_rc);
	t0 = uccid_mono_ms() - t0;
	check(out_rc == -EPIPE && rc == -EPIPE && t0 < 2000,
	      "out_in halted OUT: -> sent %s, returned %s after %lld ms (the IN cancelled)", errname(out_rc),
	      errname(rc), (long long)t0);
	rc = t->ops->clear_halt(t, t->info.ep_bulk_out);
	check(rc == 0, "out_in halted OUT: clear_halt(%02X) -> %s", t->info.ep_bulk_out, errname(rc));
	out_in_exchanges(t, o, "out_in after the halted OUT");   /* in step: the cancelled IN took nothing */
}

/*
 * The answer arrives after a bulk_in gave up: the timed-out transfer was
 * unlinked, so the answer waits in the device for the next transfer.  And a
 * zero-length packet is a transfer of 0 bytes.
 */
static void test_late_answer(struct uccid_transport *t)
{
	struct ccid_msg rsp;
	uint8_t seq;
	int64_t t0;
	int rc, extensions;

	if (!control_path)
		return;
	check(vctl("fault latency 700"), "late: control 'fault latency 700'");
	seq = send_slot_status(t, "late");
	t0 = uccid_mono_ms();
	rc = t->ops->bulk_in(t, rsp_buf, max_message, 200);
	check(rc == -ETIMEDOUT, "late: bulk_in(200 ms) before the answer -> %s after %lld ms", errname(rc),
	      (long long)(uccid_mono_ms() - t0));
	rc = read_past_extensions(t, seq, &rsp, &extensions);
	check(rc == CCID_HEADER_SIZE && rsp.bSeq == seq && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS &&
		      CCID_CMD_STATUS(rsp.rsp.bStatus) == CCID_CMD_OK,
	      "late: the next bulk_in gets the delayed answer whole, bSeq %02X (%s after %lld ms, "
	      "%d time extension(s) first)", seq, errname(rc), (long long)(uccid_mono_ms() - t0), extensions);

	/*
	 * The virtual reader sends the zero-length packet before an answer; which
	 * answer is its business: read until it came, every answer in order.
	 */
	check(vctl("fault zlp"), "zlp: control 'fault zlp'");
	{
		int zlps = 0, answers = 0, bad = 0;

		for (int round = 0; round < 3 && !zlps; round++) {
			seq = send_slot_status(t, "zlp");
			for (int i = 0; i < 3; i++) {
				rc = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
				if (rc == 0) {
					zlps++;
					continue;
				}
				if (rc == CCID_HEADER_SIZE && ccid_msg_decode(rsp_buf, (size_t)rc, &rsp, NULL) == 0 &&
				    rsp.bSeq == seq && CCID_CMD_STATUS(rsp.rsp.bStatus) == CCID_CMD_OK)
					answers++;
				else
					bad++;
				break;
			}
		}
		check(zlps == 1 && bad == 0 && answers >= 1,
		      "zlp: a zero-length packet is a transfer of 0 bytes (%d seen), %d answers in order, %d wrong",
		      zlps, answers, bad);
	}
}

/* CCID 1.1 §5.3.1: ABORT control request, then PC_to_RDR_Abort with the same bSlot and bSeq. */
static void test_abort(struct uccid_transport *t, const struct opts *o)
{
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_ABORT }, rsp;
	int rc;

	rc = t->ops->control(t, 0x21, 0x01, (uint16_t)(bseq << 8 | 0), t->info.interface, NULL, 0, XFER_MS);
	if (o->no_abort) {
		check(rc == -EPIPE, "abort: the reader stalls ABORT: %s", errname(rc));
		/* a control pipe's stall ends with the next SETUP (USB 2.0 §8.5.3.4) */
		rc = get_slot_status(t, &rsp);
		check(rc == 0, "abort: exchanges still work after the stalled request (%s)", errname(rc));
		rc = t->ops->control(t, 0x80, 0x06, 0x0100, 0, rsp_buf, 18, XFER_MS);
		check(rc == 18, "abort: the control pipe works again: GET_DESCRIPTOR(device) -> %s", errname(rc));
		return;
	}
	check(rc == 0, "abort: ABORT control request (bSeq %02X) -> %s", bseq, errname(rc));
	rc = exchange(t, &cmd, &rsp);
	check(rc == 0 && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS && CCID_CMD_STATUS(rsp.rsp.bStatus) == 0,
	      "abort: PC_to_RDR_Abort -> SlotStatus (%s, bStatus %02X bError %02X)", errname(rc),
	      rc == 0 ? rsp.rsp.bStatus : 0, rc == 0 ? rsp.rsp.bError : 0);
}

/* Read NotifySlotChange messages until one reports slot 0 with the given state (or 10 s pass). */
static bool wait_notify(struct uccid_transport *t, bool present, char *seen, size_t cap)
{
	int64_t end = uccid_mono_ms() + 10000;
	size_t used = 0;

	seen[0] = '\0';
	while (uccid_mono_ms() < end) {
		uint8_t buf[CCID_NOTIFY_MAX_LEN];
		struct ccid_intr_msg m;
		int rc = t->ops->intr_in(t, buf, sizeof(buf), 1000);

		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0) {
			snprintf(seen + used, cap - used, " %s", errname(rc));
			return false;
		}
		for (int i = 0; i < rc && used + 4 < cap; i++)
			used += (size_t)snprintf(seen + used, cap - used, "%s%02X", i ? "" : " ", buf[i]);
		if (ccid_intr_decode(buf, (size_t)rc, class_desc.bMaxSlotIndex + 1u, &m, NULL) == 0 &&
		    m.bMessageType == CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE && ccid_notify_changed(&m, 0) &&
		    ccid_notify_present(&m, 0) == present)
			return true;
	}
	return false;
}

struct notify_waiter {
	struct uccid_transport *t;
	bool present, ok;
	char seen[128];
};

static void *notify_thread(void *arg)
{
	struct notify_waiter *w = arg;

	w->ok = wait_notify(w->t, w->present, w->seen, sizeof(w->seen));
	return NULL;
}

static void test_interrupt(struct uccid_transport *t, const struct opts *o)
{
	uint8_t buf[CCID_NOTIFY_MAX_LEN];
	char seen[128];
	struct ccid_msg rsp;
	int rc = 0, drained = 0;

	if (!t->info.ep_intr_in) {
		rc = t->ops->intr_in(t, buf, sizeof(buf), 100);
		check(rc == -ENOTSUP, "interrupt: no endpoint: %s", errname(rc));
		return;
	}
	/* what the reader reported since it was configured (the initial state) */
	while (drained < 10 && (rc = t->ops->intr_in(t, buf, sizeof(buf), 300)) > 0)
		drained++;
	check(rc == -ETIMEDOUT, "interrupt: %d pending message(s) read, then %s", drained, errname(rc));
	if (!control_path) {
		printf("# no control socket: card removal and insertion not tested\n");
		return;
	}
	/* One thread waits on the interrupt pipe while this one exchanges on the bulk pipes. */
	{
		struct notify_waiter w = { .t = t, .present = false };
		pthread_t th;

		pthread_create(&th, NULL, notify_thread, &w);
		for (int i = 0; i < 3; i++)
			xfr_block(t, o->xfr, "while intr_in waits");
		check(vctl("remove"), "interrupt: control 'remove'");
		pthread_join(th, NULL);
		check(w.ok, "interrupt: NotifySlotChange 'slot 0 removed', seen by the waiting thread:%s", w.seen);
	}
	rc = get_slot_status(t, &rsp);
	check(rc == 0 && CCID_ICC_STATUS(rsp.rsp.bStatus) == CCID_ICC_ABSENT,
	      "interrupt: GetSlotStatus says no card (%s, bStatus %02X)", errname(rc), rc == 0 ? rsp.rsp.bStatus : 0);
	check(vctl("insert"), "interrupt: control 'insert'");
	check(wait_notify(t, true, seen, sizeof(seen)), "interrupt: NotifySlotChange 'slot 0 inserted':%s", seen);
	power_on(t, "after insert");
	xfr_block(t, o->xfr, "after insert");
}

/* The virtual reader's count of CMD_UNLINK its USB/IP clients (vhci-hcd here) sent; -1: unknown. */
static long long vreader_unlinks(void)
{
	char reply[4096];
	const char *p;

	if (!vctl_reply("usbip counters", reply, sizeof(reply)) || !(p = strstr(reply, " unlinks=")))
		return -1;
	return strtoll(p + 9, NULL, 10);
}

struct idle_waiter {
	struct uccid_transport *t;
	unsigned timeout_ms;
	int rc;
};

static void *idle_thread(void *arg)
{
	struct idle_waiter *w = arg;
	uint8_t buf[CCID_NOTIFY_MAX_LEN];

	w->rc = w->t->ops->intr_in(w->t, buf, sizeof(buf), w->timeout_ms);
	return NULL;
}

/*
 * Issue 14: an idle interrupt-IN wait costs no wake-up and no URB unlink.
 * A wait without a timeout sleeps 3 s in libusb (at most 2 returns from
 * its event handling, counted by the transport) until wake(); five waits
 * of 200 ms time out with the transfer left submitted (the reader's
 * server sees no CMD_UNLINK through vhci-hcd), and the notification that
 * comes next is not lost.
 */
static void test_idle(struct uccid_transport *t)
{
	struct idle_waiter w = { .t = t, .timeout_ms = 0 };
	uint8_t buf[CCID_NOTIFY_MAX_LEN];
	char seen[128];
	long long u0 = vreader_unlinks(), u1;
	uint64_t e0, e1;
	pthread_t th;
	int rc = 0, timeouts = 0;

	if (!t->info.ep_intr_in)
		return;
	e0 = uccid_libusb_event_wakeups();
	pthread_create(&th, NULL, idle_thread, &w);
	sleep_ms(3000);
	e1 = uccid_libusb_event_wakeups();
	t->ops->wake(t);
	pthread_join(th, NULL);
	check(w.rc == -EINTR && e1 - e0 <= 2,
	      "idle: intr_in without a timeout for 3 s: %llu wake-ups in libusb's event handling, then wake() -> %s",
	      (unsigned long long)(e1 - e0), errname(w.rc));
	e0 = uccid_libusb_event_wakeups();
	for (int i = 0; i < 5; i++)
		timeouts += (rc = t->ops->intr_in(t, buf, sizeof(buf), 200)) == -ETIMEDOUT;
	e1 = uccid_libusb_event_wakeups();
	check(timeouts == 5 && e1 - e0 <= 10, "idle: 5 intr_in of 200 ms: %d timed out (last %s), %llu wake-ups",
	      timeouts, errname(rc), (unsigned long long)(e1 - e0));
	if (!control_path)
		return;
	u1 = vreader_unlinks();
	check(u0 >= 0 && u1 == u0, "idle: URBs unlinked meanwhile (the server's CMD_UNLINK count): %lld",
	      u0 >= 0 && u1 >= 0 ? u1 - u0 : -1);
	/* the transfer still submitted carries the next notification */
	check(vctl("remove"), "idle: control 'remove'");
	check(wait_notify(t, false, seen, sizeof(seen)), "idle: NotifySlotChange 'slot 0 removed' after the waits:%s",
	      seen);
	check(vctl("insert"), "idle: control 'insert'");
	check(wait_notify(t, true, seen, sizeof(seen)), "idle: NotifySlotChange 'slot 0 inserted':%s", seen);
	power_on(t, "after the idle waits");
}

static void test_stall(struct uccid_transport *t, const struct opts *o)
{
	struct ccid_msg cmd = { .bMessageType = CCID_PC_TO_RDR_GET_SLOT_STATUS }, rsp;
	uint8_t out[CCID_HEADER_SIZE];
	int rc;

	rc = t->ops->clear_halt(t, 0x0F);
	check(rc == -EINVAL, "stall: clear_halt of an endpoint not ours: %s", errname(rc));
	if (!control_path)
		return;
	check(vctl("fault stall"), "stall: control 'fault stall'");
	cmd.bSeq = bseq++;
	if (ccid_msg_encode(&cmd, out, sizeof(out)) != CCID_HEADER_SIZE)
		abort();
	rc = t->ops->bulk_out(t, out, sizeof(out), XFER_MS);
	check(rc == CCID_HEADER_SIZE, "stall: GetSlotStatus sent (%s)", errname(rc));
	rc = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
	check(rc == -EPIPE, "stall: bulk_in -> %s", errname(rc));
	rc = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
	check(rc == -EPIPE, "stall: the endpoint stays halted until cleared: %s", errname(rc));
	rc = t->ops->clear_halt(t, t->info.ep_bulk_in);
	check(rc == 0, "stall: clear_halt(%02X) -> %s", t->info.ep_bulk_in, errname(rc));
	rc = get_slot_status(t, &rsp);
	check(rc == 0 && rsp.bMessageType == CCID_RDR_TO_PC_SLOT_STATUS, "stall: GetSlotStatus after clear_halt (%s)",
	      errname(rc));
	xfr_block(t, o->xfr, "after stall");
}

struct waiter {
	struct uccid_transport *t;
	bool interrupt;
	bool out_in;                     /* bulk_out_in with a zero-length OUT (the vreader ignores it) */
	unsigned timeout_ms;
	int rc, out_rc;
	int64_t ended;
};

static const char *waiter_name(const struct waiter *w)
{
	return w->interrupt ? "intr_in" : w->out_in ? "bulk_out_in" : "bulk_in";
}

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	uint8_t buf[CCID_NOTIFY_MAX_LEN];

	if (w->interrupt)
		w->rc = w->t->ops->intr_in(w->t, buf, sizeof(buf), w->timeout_ms);
	else if (w->out_in)
		w->rc = w->t->ops->bulk_out_in(w->t, NULL, 0, rsp_buf, max_message, XFER_MS, w->timeout_ms,
					       &w->out_rc);
	else
		w->rc = w->t->ops->bulk_in(w->t, rsp_buf, max_message, w->timeout_ms);
	w->ended = uccid_mono_ms();
	return NULL;
}

/*
 * cancel() from this thread ends a bulk_in (with the virtual reader: a
 * bulk_out_in whose OUT is done and whose IN waits) and an intr_in blocked
 * in two other threads.
 */
static void test_cancel(struct uccid_transport *t)
{
	struct waiter w[2] = { { .t = t, .out_in = control_path && t->ops->bulk_out_in, .timeout_ms = 20000 },
			       { .t = t, .interrupt = true, .timeout_ms = 20000 } };
	unsigned nw = t->info.ep_intr_in ? 2 : 1;
	pthread_t th[2];
	uint8_t cmd[CCID_HEADER_SIZE] = { 0 };
	int64_t at;
	int rc;

	for (unsigned i = 0; i < nw; i++)
		pthread_create(&th[i], NULL, wait_thread, &w[i]);
	sleep_ms(500);
	at = uccid_mono_ms();
	t->ops->cancel(t);
	for (unsigned i = 0; i < nw; i++) {
		pthread_join(th[i], NULL);
		check(w[i].rc == -ECANCELED && w[i].out_rc == 0 && w[i].ended - at < 1000,
		      "cancel: a blocked %s returns %s %lld ms after cancel()", waiter_name(&w[i]), errname(w[i].rc),
		      (long long)(w[i].ended - at));
	}
	rc = t->ops->bulk_out(t, cmd, sizeof(cmd), XFER_MS);
	check(rc == -ECANCELED, "cancel: a later bulk_out -> %s", errname(rc));
	rc = t->ops->control(t, 0x80, 0x06, 0x0100, 0, rsp_buf, 18, XFER_MS);
	check(rc == -ECANCELED, "cancel: a later control -> %s", errname(rc));
	rc = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
	check(rc == -ECANCELED, "cancel: a later bulk_in -> %s", errname(rc));
}

/* uccid_libusb_watch in a thread: did it report our reader, then its removal, and when? */
struct watcher {
	const char *name;                /* name_libusb of the reader to follow */
	bool arrived;
	int64_t left_at;                 /* 0: not reported */
	int rc;
	char err[256];
	pthread_t th;
};

static bool watch_event(void *arg, bool arrived, const struct uccid_libusb_reader *r)
{
	struct watcher *w = arg;

	if (strcmp(r->name_libusb, w->name) != 0)
		return false;
	if (arrived) {
		__atomic_store_n(&w->arrived, true, __ATOMIC_RELEASE);
		return false;
	}
	w->left_at = uccid_mono_ms();
	return true;
}

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;

	w->rc = uccid_libusb_watch(watch_event, w, 40000, NULL, w->err, sizeof(w->err));
	return NULL;
}

static void test_unplug(const struct uccid_libusb_reader *listed, const struct opts *o)
{
	const struct uccid_libusb_reader copy = *listed, *r = &copy;   /* the listing below rewrites readers[] */
	struct uccid_transport *t = NULL;
	char err[256] = "";
	uint8_t dev[18], cmd[CCID_HEADER_SIZE] = { 0 };
	struct ccid_msg rsp;
	struct watcher watcher = { 0 };
	struct waiter intr_waiter = { .interrupt = true, .timeout_ms = 60000 };
	pthread_t intr_th;
	int64_t t0;
	int rc, fd, n;

	rc = uccid_libusb_open(r->name_libusb, 0, XFER_MS, &t, err, sizeof(err));
	check(rc == 0, "unplug: open %s: %s %s", r->name_libusb, errname(rc), err);
	if (rc)
		return;
	rc = get_slot_status(t, &rsp);
	check(rc == 0, "unplug: the reader answers before the unplug (%s)", errname(rc));
	printf("# libusb hotplug capability: %s\n", libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) ? "yes" : "no");
	watcher.name = r->name_libusb;
	pthread_create(&watcher.th, NULL, watch_thread, &watcher);
	if (t->info.ep_intr_in) {
		intr_waiter.t = t;
		pthread_create(&intr_th, NULL, wait_thread, &intr_waiter);
	}
	/* the watch has seen the reader before it goes */
	for (int i = 0; i < 200 && !__atomic_load_n(&watcher.arrived, __ATOMIC_ACQUIRE); i++)
		sleep_ms(50);
	sleep_ms(200);
	fd = open(o->unplug_ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	printf("# waiting in bulk_in for the unplug (%s)\n", o->unplug_ready);
	fflush(stdout);
	t0 = uccid_mono_ms();
	rc = t->ops->bulk_in(t, rsp_buf, max_message, 30000);
	t0 = uccid_mono_ms() - t0;
	check(rc == -ENODEV, "unplug: the waiting bulk_in -> %s after %lld ms", errname(rc), (long long)t0);
	t0 = uccid_mono_ms();
	if (t->info.ep_intr_in) {
		pthread_join(intr_th, NULL);
		check(intr_waiter.rc == -ENODEV && intr_waiter.ended - t0 < 1000,
		      "unplug: the intr_in waiting meanwhile -> %s, %lld ms after the bulk_in", errname(intr_waiter.rc),
		      (long long)(intr_waiter.ended - t0));
	}
	pthread_join(watcher.th, NULL);
	check(watcher.rc == 1 && watcher.arrived && watcher.left_at && watcher.left_at - t0 < 5000,
	      "unplug: uccid_libusb_watch saw %s (%s) and its removal %lld ms after the bulk_in ended (rc %d%s%s)",
	      r->name_libusb, watcher.arrived ? "present" : "NOT present", (long long)(watcher.left_at - t0), watcher.rc,
	      watcher.err[0] ? ": " : "", watcher.err);
	rc = t->ops->bulk_out(t, cmd, sizeof(cmd), XFER_MS);
	check(rc == -ENODEV, "unplug: bulk_out -> %s", errname(rc));
	rc = t->ops->bulk_in(t, rsp_buf, max_message, XFER_MS);
	check(rc == -ENODEV, "unplug: bulk_in -> %s", errname(rc));
	if (t->info.ep_intr_in) {
		rc = t->ops->intr_in(t, rsp_buf, 8, XFER_MS);
		check(rc == -ENODEV, "unplug: intr_in -> %s", errname(rc));
	}
	rc = t->ops->control(t, 0x80, 0x06, 0x0100, 0, rsp_buf, 18, XFER_MS);
	check(rc == -ENODEV, "unplug: control -> %s", errname(rc));
	rc = t->ops->descriptors(t, dev, rsp_buf, UCCID_DESC_MAX);
	check(rc == -ENODEV, "unplug: descriptors -> %s", errname(rc));
	rc = t->ops->clear_halt(t, t->info.ep_bulk_in);
	check(rc == -ENODEV, "unplug: clear_halt -> %s", errname(rc));
	t->ops->close(t);
	/* the last transport closed: a new context enumerates afresh */
	n = uccid_libusb_list(readers, MAX_READERS, NULL, 0);
	rc = 0;
	for (int i = 0; i < n && i < MAX_READERS; i++)
		rc += !strcmp(readers[i].name_libusb, r->name_libusb);
	check(rc == 0, "unplug: %s is no longer listed (%d readers left)", r->name_libusb, n);
	rc = uccid_libusb_open(r->name_libusb, 0, XFER_MS, &t, err, sizeof(err));
	check(rc == -ENOENT, "unplug: opening it again -> %s '%s'", errname(rc), err);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "index", required_argument, NULL, 'n' },
		{ "xfr", required_argument, NULL, 'x' },
		{ "control", required_argument, NULL, 'c' },
		{ "no-abort", no_argument, NULL, 'A' },
		{ "unplug-ready", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .xfr = "echo" };
	const struct uccid_libusb_reader *r;
	struct uccid_transport *t = NULL, *t2 = NULL;
	char err[256] = "";
	unsigned id_index = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o.id = optarg; break;
		case 'n': o.index = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'x': o.xfr = optarg; break;
		case 'c': control_path = optarg; break;
		case 'A': o.no_abort = true; break;
		case 'u': o.unplug_ready = optarg; break;
		default:
			fprintf(stderr, "usage: %s --id usb:VVVV/PPPP [--index N] [--xfr echo|select-t0] "
					"[--control SOCKET] [--no-abort] [--unplug-ready FILE]\n", argv[0]);
			return 2;
		}
	}
	if (!o.id || (strcmp(o.xfr, "echo") && strcmp(o.xfr, "select-t0"))) {
		fprintf(stderr, "%s: --id usb:VVVV/PPPP is required; --xfr is echo or select-t0\n", argv[0]);
		return 2;
	}

	r = test_list(&o, &id_index);
	if (!r)
		goto done;
	test_open_forms(r, id_index);
	test_open_errors(r);

	rc = uccid_libusb_open(r->name_libusb, 0, XFER_MS, &t, err, sizeof(err));
	check(rc == 0, "open %s for the session: %s %s", r->name_libusb, errname(rc), err);
	if (rc)
		goto done;
	rc = uccid_libusb_open(r->name_libusb, 0, XFER_MS, &t2, err, sizeof(err));
	check(rc == -EBUSY && strstr(err, "busy (claimed by another program)"), "open twice: %s '%s'",
	      errname(rc), err);
	if (rc == 0)
		t2->ops->close(t2);

	test_descriptors(t, r);
	test_session(t, &o);
	test_late_answer(t);
	test_out_in(t, &o);
	test_abort(t, &o);
	test_interrupt(t, &o);
	test_idle(t);
	test_stall(t, &o);
	test_cancel(t);
	t->ops->close(t);
	if (o.unplug_ready)
		test_unplug(r, &o);
done:
	printf("%d passed, %d failed\n", passed, failed);
	return failed || !passed ? 1 : 0;
}
