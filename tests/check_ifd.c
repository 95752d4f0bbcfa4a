/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The IFD handler's translation layer (ifd/): errno -> IFD_* codes,
 * Lun parsing, configuration parsing, the readers table, and the tag and
 * control answers against the virtual reader in process.  pcscd itself is
 * exercised by tests/ifd/pcscd.sh.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ifd/ifd_priv.h"
#include "session/session_priv.h"
#include "tests/testutil.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"
#include "vreader/usbip_server.h"

START_TEST(errmap_table)
{
	static const struct {
		int err;
		enum ifd_op op;
		RESPONSECODE want;
	} t[] = {
		{ 0, IFD_OP_GENERIC, IFD_SUCCESS },
		{ 5, IFD_OP_GENERIC, IFD_SUCCESS },
		{ -ENODEV, IFD_OP_GENERIC, IFD_NO_SUCH_DEVICE },
		{ -ENODEV, IFD_OP_POWER, IFD_NO_SUCH_DEVICE },
		{ -ENODEV, IFD_OP_PRESENCE, IFD_NO_SUCH_DEVICE },
		{ -ECANCELED, IFD_OP_GENERIC, IFD_NO_SUCH_DEVICE },
		{ -ENOMEDIUM, IFD_OP_GENERIC, IFD_ICC_NOT_PRESENT },
		{ -ENOMEDIUM, IFD_OP_POWER, IFD_ERROR_POWER_ACTION },
		{ -ETIMEDOUT, IFD_OP_GENERIC, IFD_RESPONSE_TIMEOUT },
		{ -ETIMEDOUT, IFD_OP_POWER, IFD_ERROR_POWER_ACTION },
		{ -ETIMEDOUT, IFD_OP_OPEN, IFD_COMMUNICATION_ERROR },
		{ -EMSGSIZE, IFD_OP_GENERIC, IFD_ERROR_INSUFFICIENT_BUFFER },
		{ -ENOTSUP, IFD_OP_GENERIC, IFD_NOT_SUPPORTED },
		{ -ENOTSUP, IFD_OP_POWER, IFD_ERROR_POWER_ACTION },
		{ -EINVAL, IFD_OP_GENERIC, IFD_COMMUNICATION_ERROR },
		{ -ENOBUFS, IFD_OP_GENERIC, IFD_ERROR_INSUFFICIENT_BUFFER },
		{ -ENOTSUP, IFD_OP_PROTOCOL, IFD_PROTOCOL_NOT_SUPPORTED },
		{ -EIO, IFD_OP_PROTOCOL, IFD_ERROR_PTS_FAILURE },
		{ -EPROTO, IFD_OP_PROTOCOL, IFD_ERROR_PTS_FAILURE },
		{ -EPROTONOSUPPORT, IFD_OP_PROTOCOL, IFD_PROTOCOL_NOT_SUPPORTED },
		{ -EIO, IFD_OP_GENERIC, IFD_COMMUNICATION_ERROR },
		{ -EPROTO, IFD_OP_POWER, IFD_ERROR_POWER_ACTION },
		{ -EBUSY, IFD_OP_GENERIC, IFD_COMMUNICATION_ERROR },
		{ -ENOENT, IFD_OP_OPEN, IFD_NO_SUCH_DEVICE },
		{ -EACCES, IFD_OP_OPEN, IFD_COMMUNICATION_ERROR },
		{ -12345, IFD_OP_GENERIC, IFD_COMMUNICATION_ERROR },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(ifd_from_errno(t[i].err, t[i].op) == t[i].want, "errno %d op %d: %ld, want %ld",
			      t[i].err, t[i].op, ifd_from_errno(t[i].err, t[i].op), t[i].want);
}
END_TEST

START_TEST(lun_split)
{
	unsigned r = 99, s = 99;
	char bad[] = "not-a-reader", far[] = "usbip://127.0.0.1:1/1-1";

	ck_assert_int_eq(ifd_lun_split(0, &r, &s), 0);
	ck_assert_uint_eq(r, 0);
	ck_assert_uint_eq(s, 0);
	ck_assert_int_eq(ifd_lun_split(0x20003, &r, &s), 0);
	ck_assert_uint_eq(r, 2);
	ck_assert_uint_eq(s, 3);
	ck_assert_int_eq(ifd_lun_split(0xF000F, &r, &s), 0);
	ck_assert_uint_eq(r, 15);
	ck_assert_uint_eq(s, 15);
	ck_assert_int_eq(ifd_lun_split(0x100000, &r, &s), -EINVAL);     /* reader 16 */
	ck_assert_int_eq(ifd_lun_split(0x10, &r, &s), -EINVAL);         /* slot 16 */
	ck_assert_int_eq(ifd_lun_split(~0UL, &r, &s), -EINVAL);
	/* a Lun nobody opened: IFD_NO_SUCH_DEVICE from every entry point */
	ck_assert_int_eq(IFDHICCPresence(0x50000), IFD_NO_SUCH_DEVICE);
	ck_assert_int_eq(IFDHCloseChannel(0x50000), IFD_NO_SUCH_DEVICE);
	ck_assert_int_eq(IFDHCreateChannelByName(0x50000, bad), IFD_COMMUNICATION_ERROR);
	ck_assert_int_eq(IFDHCreateChannelByName(0x500000, far), IFD_COMMUNICATION_ERROR);
	ck_assert_int_eq(IFDHCreateChannel(0, 0), IFD_COMMUNICATION_ERROR);
}
END_TEST

START_TEST(config_plist)
{
	struct ifd_config c = { .log_mask = IFD_LOGLEVEL_DEFAULT };
	/* libccid's own default Info.plist values carry over with their meaning */
	static const char text[] = "<dict>\n\t<key>ifdLogLevel</key>\n\t<string>0x000F</string>\n"
				   "\t<key>ifdDriverOptions</key>\n  <string>0x0051</string>\n"
				   "\t<key>uccidExchangeDeadline</key><string>2500</string>\n"
				   "\t<key>uccidPowerDeadline</key><string>50</string>\n</dict>\n";

	ifd_config_parse(&c, text);
	ck_assert_uint_eq(c.log_mask, IFD_LOGLEVEL_CRITICAL | IFD_LOGLEVEL_INFO | IFD_LOGLEVEL_COMM |
					       IFD_LOGLEVEL_PERIODIC);
	ck_assert_uint_eq(c.options, IFD_OPTION_ESCAPE | 0x0010 | IFD_OPTION_NO_PIN_RETRIES);
	ck_assert_uint_eq(c.deadline_ms, 2500);
	ck_assert_uint_eq(c.power_deadline_ms, 0);      /* 50 ms is below the floor: ignored */

	setenv("UCCID_IFD_LOGLEVEL", "1", 1);
	setenv("UCCID_IFD_OPTIONS", "0", 1);
	setenv("UCCID_IFD_DEADLINE_MS", "-5", 1);        /* refused */
	ifd_config_env(&c);
	ck_assert_uint_eq(c.log_mask, IFD_LOGLEVEL_CRITICAL);
	ck_assert_uint_eq(c.options, 0);
	ck_assert_uint_eq(c.deadline_ms, 2500);
	/* unknown bits: an error, and only the known ones kept */
	setenv("UCCID_IFD_LOGLEVEL", "0x13", 1);
	setenv("UCCID_IFD_OPTIONS", "0x0109", 1);
	ifd_config_env(&c);
	ck_assert_uint_eq(c.log_mask, IFD_LOGLEVEL_CRITICAL | IFD_LOGLEVEL_INFO);
	ck_assert_uint_eq(c.options, IFD_OPTION_ESCAPE);
	/* 0x0002 (GemPC APDU mode) is taken with the rest */
	setenv("UCCID_IFD_OPTIONS", "0x0026", 1);
	ifd_config_env(&c);
	ck_assert_uint_eq(c.options, IFD_OPTION_GEMPC_APDU | IFD_OPTION_BOGUS_FIRMWARE | 0x0020);
	/* libccid's variable, overridden by uccid's own */
	unsetenv("UCCID_IFD_LOGLEVEL");
	setenv("LIBCCID_ifdLogLevel", "0x0007", 1);
	ifd_config_env(&c);
	ck_assert_uint_eq(c.log_mask, 0x0007);
	setenv("UCCID_IFD_LOGLEVEL", "0x0002", 1);
	ifd_config_env(&c);
	ck_assert_uint_eq(c.log_mask, IFD_LOGLEVEL_INFO);
	setenv("UCCID_IFD_LOGLEVEL", "lots", 1);          /* not a number: ignored */
	ifd_config_env(&c);
	ck_assert_uint_eq(c.log_mask, 0x0007);
	unsetenv("LIBCCID_ifdLogLevel");
	unsetenv("UCCID_IFD_LOGLEVEL");
	unsetenv("UCCID_IFD_OPTIONS");
	unsetenv("UCCID_IFD_DEADLINE_MS");
}
END_TEST

START_TEST(readers_table)
{
	const struct ifd_reader_name *n = ifd_reader_lookup(0x1209, 0x0001);

	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->vendor, "uccid");
	ck_assert_uint_gt(ifd_readers_count, 600);
	n = ifd_reader_lookup(0x072F, 0x90CC);          /* first of the supported section */
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->vendor, "ACS");
	ck_assert_str_eq(n->model, "ACR 38U-CCID");
	ck_assert_ptr_null(ifd_reader_lookup(0xFFFF, 0xFFFF));
}
END_TEST

/* A reader of the in-process virtual reader, as table.c would hold it. */
struct rig {
	struct vdev *d;
	struct ifd_reader rd;
};

static struct rig *rig_new(enum vdev_profile p)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct uccid_transport *t;
	struct vdev_config cfg;
	struct uccid_options o = { .exchange_deadline_ms = 5000, .power_deadline_ms = 5000 };
	char err[256] = "";

	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	g->d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(g->d);
	ck_assert_int_eq(vreader_inproc_open(g->d, &t), 0);
	ck_assert_msg(uccid_open_transport(t, &o, &g->rd.r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(uccid_info(g->rd.r, &g->rd.info), 0);
	ck_assert_int_eq(uccid_class_descriptor(g->rd.r, g->rd.desc), 54);
	snprintf(g->rd.name, sizeof(g->rd.name), "inproc");
	pthread_cond_init(&g->rd.cond, NULL);
	return g;
}

static void rig_free(struct rig *g)
{
	uccid_close(g->rd.r);
	vdev_free(g->d);
	pthread_cond_destroy(&g->rd.cond);
	free(g);
}

static RESPONSECODE cap(struct rig *g, unsigned slot, DWORD tag, uint8_t *v, size_t *len)
{
	return ifd_get_capability(&g->rd, slot, tag, v, len);
}

START_TEST(tags_multi_slot)
{
	struct rig *g = rig_new(VDEV_PROFILE_MULTI_SLOT);
	uint8_t v[64], atr[MAX_ATR_SIZE];
	size_t len;
	void *fn;
	int n;

	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, TAG_IFD_SLOTS_NUMBER, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(v[0], 4);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, TAG_IFD_SIMULTANEOUS_ACCESS, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], IFD_MAX_READERS);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, TAG_IFD_POLLING_THREAD_WITH_TIMEOUT, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, sizeof(void *));
	memcpy(&fn, v, sizeof(fn));
	ck_assert_ptr_eq(fn, (void *)ifd_poll);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, TAG_IFD_POLLING_THREAD_KILLABLE, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], 0);
	len = 4;        /* a pointer does not fit in 4 bytes */
	ck_assert_int_eq(cap(g, 0, TAG_IFD_STOP_POLLING_THREAD, v, &len), IFD_ERROR_INSUFFICIENT_BUFFER);

	/* no ATR before a power-up; the ATR after */
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 2, TAG_IFD_ATR, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, 0);
	n = uccid_power_on(g->rd.r, 2, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
	ck_assert_int_gt(n, 0);
	ifd_set_atr(&g->rd, 2, atr, (size_t)n);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 2, SCARD_ATTR_ATR_STRING, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, (size_t)n);
	ck_assert_mem_eq(v, atr, len);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 2, SCARD_ATTR_ICC_INTERFACE_STATUS, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], 1);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 1, SCARD_ATTR_ICC_INTERFACE_STATUS, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], 0);

	/* presence follows the card */
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 3, SCARD_ATTR_ICC_PRESENCE, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], 2);
	ck_assert_int_eq(vdev_remove_card(g->d, 3, 0), 0);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 3, SCARD_ATTR_ICC_PRESENCE, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(v[0], 0);

	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, SCARD_ATTR_VENDOR_NAME, v, &len), IFD_SUCCESS);
	ck_assert_str_eq((char *)v, "uccid");
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, SCARD_ATTR_MAXINPUT, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(ifd_get_le32(v), g->rd.info.max_message - 10);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, SCARD_ATTR_DEFAULT_CLK, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(ifd_get_le32(v), 4000);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, SCARD_ATTR_DEVICE_FRIENDLY_NAME, v, &len), IFD_ERROR_TAG);
	len = sizeof(v);
	ck_assert_int_eq(cap(g, 0, 0x12345678, v, &len), IFD_ERROR_TAG);
	rig_free(g);
}
END_TEST

START_TEST(control_codes)
{
	struct rig *g = rig_new(VDEV_PROFILE_MECHANICAL);
	uint8_t rx[128], in[3] = { 1, 2, 3 };
	size_t got;
	bool esc = false;

	ifd_config.options = 0;
	ck_assert_int_eq(ifd_control(&g->rd, 0, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0, rx, sizeof(rx), &got),
			 IFD_SUCCESS);
	ck_assert_uint_eq(got % 6, 0);
	for (size_t i = 0; i < got; i += 6) {
		ck_assert_uint_eq(rx[i + 1], 4);
		ck_assert(rx[i] != FEATURE_VERIFY_PIN_DIRECT && rx[i] != FEATURE_CCID_ESC_COMMAND);
	}
	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_ESCAPE, in, 3, rx, sizeof(rx), &got),
			 IFD_NOT_SUPPORTED);
	ck_assert_uint_eq(got, 0);

	ifd_config.options = IFD_OPTION_ESCAPE;
	ck_assert_int_eq(ifd_control(&g->rd, 0, CM_IOCTL_GET_FEATURE_REQUEST_WIN, NULL, 0, rx, sizeof(rx), &got),
			 IFD_SUCCESS);
	for (size_t i = 0; i < got; i += 6)
		if (rx[i] == FEATURE_CCID_ESC_COMMAND)
			esc = true;
	ck_assert(esc);
	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_ESCAPE, in, 3, rx, sizeof(rx), &got), IFD_SUCCESS);
	ck_assert_uint_eq(got, 3);
	ck_assert_mem_eq(rx, in, 3);
	ifd_config.options = 0;

	/* a buffer too small for the feature list */
	ck_assert_int_eq(ifd_control(&g->rd, 0, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0, rx, 5, &got),
			 IFD_ERROR_INSUFFICIENT_BUFFER);

	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_GENERATION, NULL, 0, rx, sizeof(rx), &got), IFD_SUCCESS);
	ck_assert_uint_eq(got, 8);
	/* the mechanical profile ejects with Mechanical 02: done = UCCID_DONE_EJECTED */
	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_EJECT, NULL, 0, rx, sizeof(rx), &got), IFD_SUCCESS);
	ck_assert_uint_eq(got, 1);
	ck_assert_uint_eq(rx[0], UCCID_DONE_EJECTED);
	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_LOCK_HOLDER, NULL, 0, rx, sizeof(rx), &got), IFD_SUCCESS);
	ck_assert_uint_eq(got, 46);
	ck_assert_int_eq(ifd_control(&g->rd, 0, IOCTL_UCCID_LOCK_HOLDER, NULL, 0, rx, 45, &got),
			 IFD_ERROR_INSUFFICIENT_BUFFER);
	/* Secure: no PIN pad here */
	ck_assert_int_eq(ifd_control(&g->rd, 0, IFD_FEATURE_CTL(FEATURE_VERIFY_PIN_DIRECT), in, 3, rx, sizeof(rx),
				     &got),
			 IFD_NOT_SUPPORTED);
	ck_assert_int_eq(ifd_control(&g->rd, 0, SCARD_CTL_CODE(0x7563FF), NULL, 0, rx, sizeof(rx), &got),
			 IFD_NOT_SUPPORTED);
	rig_free(g);
}
END_TEST

struct served {
	struct usbip_server *srv;
	atomic_bool stop;               /* set by the test, read by serve() */
};

static void *serve(void *arg)
{
	struct served *sv = arg;

	while (!atomic_load(&sv->stop))
		usbip_server_run_once(sv->srv, 5);
	return NULL;
}

/*
 * A card another host left powered (the previous driver of the reader, or a
 * holder that died): pcscd's first IFD_POWER_UP must still get its ATR, or
 * pcscd finds no protocol in an empty ATR and every SCardConnect fails with
 * SCARD_E_PROTO_MISMATCH (seen under QEMU after libccid had the reader).
 */
START_TEST(power_up_card_powered_by_another)
{
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
	struct uccid_options o = { .exchange_deadline_ms = 5000, .power_deadline_ms = 5000 };
	struct uccid_transport *t;
	struct uccid_reader *other;
	struct served sv = { 0 };
	struct vdev_config cfg;
	struct vdev *d;
	pthread_t th;
	uint8_t atr[MAX_ATR_SIZE], want[MAX_ATR_SIZE];
	DWORD len = sizeof(atr);
	char url[64], err[256] = "";
	int n;

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg), 0);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	dev.dev = d;
	sv.srv = usbip_server_new();
	ck_assert_int_eq(usbip_server_add_device(sv.srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(sv.srv, "127.0.0.1", 0), 0);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(sv.srv));

	/* the other host powers the card and keeps it powered.  The device model is not
	   thread-safe and both the in-process transport and the server thread drive it:
	   "other" is used only before the server thread starts and after it is joined. */
	ck_assert_int_eq(vreader_inproc_open(d, &t), 0);
	ck_assert_msg(uccid_open_transport(t, &o, &other, err, sizeof(err)) == 0, "%s", err);
	n = uccid_power_on(other, 0, UCCID_VOLTAGE_AUTO, want, sizeof(want));
	ck_assert_int_gt(n, 0);
	pthread_create(&th, NULL, serve, &sv);

	ck_assert_int_eq(IFDHCreateChannelByName(0, url), IFD_SUCCESS);
	ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	ck_assert_uint_eq(len, (DWORD)n);
	ck_assert_mem_eq(atr, want, (size_t)n);
	ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);

	atomic_store(&sv.stop, true);
	pthread_join(th, NULL);
	uccid_close(other);
	usbip_server_free(sv.srv);
	vdev_free(d);
}
END_TEST

/*
 * IFDHGetCapabilities' lengths as pcscd relies on them: the answer's length,
 * the length needed when the buffer is short, and *Length untouched for a tag
 * the driver does not answer — pcscd answers the friendly name itself only if
 * it fits in what is left there (a 0 made SCardGetAttrib fail).  The values
 * come from the device: bcdDevice, its strings.
 */
START_TEST(get_capabilities_lengths)
{
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
	struct served sv = { 0 };
	struct vdev_config cfg;
	struct vdev *d;
	pthread_t th;
	uint8_t v[MAX_BUFFER_SIZE];
	DWORD len;
	char url[64];

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg), 0);
	cfg.bcdDevice = 0x0213;
	snprintf(cfg.serial, sizeof(cfg.serial), "SN-0042");
	snprintf(cfg.manufacturer, sizeof(cfg.manufacturer), "Maker\tCo");      /* a control character */
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	dev.dev = d;
	sv.srv = usbip_server_new();
	ck_assert_int_eq(usbip_server_add_device(sv.srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(sv.srv, "127.0.0.1", 0), 0);
	pthread_create(&th, NULL, serve, &sv);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(sv.srv));
	ck_assert_int_eq(IFDHCreateChannelByName(0x10000, url), IFD_SUCCESS);

	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_VENDOR_IFD_VERSION, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(ifd_get_le32(v), 0x02130000);
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_VENDOR_IFD_SERIAL_NO, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(len, 8);
	ck_assert_str_eq((char *)v, "SN-0042");
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_VENDOR_NAME, &len, v), IFD_SUCCESS);
	ck_assert_str_eq((char *)v, "Maker?Co");
	/* short: the length needed, nothing written */
	len = 3;
	memset(v, 0xEE, sizeof(v));
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_VENDOR_IFD_SERIAL_NO, &len, v),
			 IFD_ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(len, 8);
	ck_assert_uint_eq(v[0], 0xEE);
	len = 0;
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CHANNEL_ID, &len, NULL),
			 IFD_ERROR_INSUFFICIENT_BUFFER);
	ck_assert_uint_eq(len, 4);
	/* not answered: *Length as pcscd gave it */
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_DEVICE_FRIENDLY_NAME, &len, v), IFD_ERROR_TAG);
	ck_assert_uint_eq(len, sizeof(v));
	len = 77;
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, 0x12345678, &len, v), IFD_ERROR_TAG);
	ck_assert_uint_eq(len, 77);
	/* the card's parameters need a powered card; those of T=0 are not answered under T=1 */
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CURRENT_IFSC, &len, v), IFD_ICC_NOT_PRESENT);
	ck_assert_uint_eq(len, sizeof(v));
	len = sizeof(v);
	ck_assert_int_eq(IFDHPowerICC(0x10000, IFD_POWER_UP, v, &len), IFD_SUCCESS);
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CURRENT_F, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(ifd_get_le32(v), 512);        /* the profile's TA1 96, negotiated by PPS */
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CURRENT_D, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(ifd_get_le32(v), 32);
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CURRENT_IFSD, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(ifd_get_le32(v), 254);
	len = sizeof(v);
	ck_assert_int_eq(IFDHGetCapabilities(0x10000, SCARD_ATTR_CURRENT_W, &len, v), IFD_ERROR_TAG);
	ck_assert_uint_eq(len, sizeof(v));
	ck_assert_int_eq(IFDHCloseChannel(0x10000), IFD_SUCCESS);

	sv.stop = true;
	pthread_join(th, NULL);
	usbip_server_free(sv.srv);
	vdev_free(d);
}
END_TEST

/*
 * One cause, one code: an extended APDU the reader cannot carry (short-APDU
 * level, or a T=0 card at TPDU level) is IFD_NOT_SUPPORTED at every level,
 * nothing sent, and the part 10 properties say so (dwMaxAPDUDataSize 0);
 * where it goes (extended level, T=1 at TPDU or character level) they say 65536.
 */
START_TEST(extended_apdu_one_code)
{
	static const struct {
		enum vdev_profile p;
		bool extended;
		bool t1;                /* the reader and its card run T=1 only */
	} t[] = {
		{ VDEV_PROFILE_TPDU_T0, false, false },
		{ VDEV_PROFILE_SHORT_APDU, false, false },
		{ VDEV_PROFILE_TPDU_T1, true, false },
		{ VDEV_PROFILE_EXTENDED_APDU, true, false },
		{ VDEV_PROFILE_CHAR_T0, false, false },
		{ VDEV_PROFILE_CHAR_T0, true, true },          /* T=1 at character level chains too */
	};
	static uint8_t apdu[9 + 300], rsp[400];
	static uint8_t case2e[] = { 0x80, 0x10, 0x00, 0x00, 0x00, 0x00, 0x10 };  /* 7 bytes, extended */
	static uint8_t bad[] = { 0x80, 0x10, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03 };  /* Lc 5, 3 bytes */

	memcpy(apdu, (const uint8_t[]){ 0x80, 0x10, 0x00, 0x00, 0x00, 0x01, 0x2C }, 7);   /* ECHO, Lc 300 */
	for (int i = 0; i < 300; i++)
		apdu[7 + i] = (uint8_t)i;
	apdu[307] = apdu[308] = 0x00;
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
		struct served sv = { 0 };
		struct vdev_config cfg;
		SCARD_IO_HEADER pci = { .Protocol = 1, .Length = 8 };
		uint8_t v[MAX_BUFFER_SIZE];
		DWORD len, got = 0;
		struct vdev *d;
		pthread_t th;
		char url[64];
		uint32_t max = 1;

		ck_assert_int_eq(vdev_profile_config(t[k].p, &cfg), 0);
		if (t[k].t1) {
			vcard_config_default(&cfg.card, VCARD_PROTO_T1);
			cfg.desc.dwProtocols = CCID_PROTOCOLS_T1;
		}
		d = vdev_new(&cfg);
		ck_assert_ptr_nonnull(d);
		dev.dev = d;
		sv.srv = usbip_server_new();
		ck_assert_int_eq(usbip_server_add_device(sv.srv, &dev), 0);
		ck_assert_int_eq(usbip_server_listen(sv.srv, "127.0.0.1", 0), 0);
		pthread_create(&th, NULL, serve, &sv);
		snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(sv.srv));
		ck_assert_int_eq(IFDHCreateChannelByName(0, url), IFD_SUCCESS);
		len = sizeof(v);
		ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, v, &len), IFD_SUCCESS);

		ck_assert_int_eq(IFDHControl(0, IFD_FEATURE_CTL(FEATURE_GET_TLV_PROPERTIES), NULL, 0, v, sizeof(v), &got),
				 IFD_SUCCESS);
		for (DWORD i = 0; i + 2 <= got; i += 2u + v[i + 1])
			if (v[i] == PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize && v[i + 1] == 4 && i + 6 <= got)
				max = ifd_get_le32(v + i + 2);
		ck_assert_msg(max == (t[k].extended ? 65536u : 0u), "%s: dwMaxAPDUDataSize %u",
			      vdev_profile_name(t[k].p), max);

		len = sizeof(rsp);
		if (t[k].extended) {
			ck_assert_int_eq(IFDHTransmitToICC(0, pci, apdu, sizeof(apdu), rsp, &len, NULL), IFD_SUCCESS);
			ck_assert_uint_eq(len, 302);
			ck_assert_mem_eq(rsp, apdu + 7, 300);
		} else {
			ck_assert_msg(IFDHTransmitToICC(0, pci, apdu, sizeof(apdu), rsp, &len, NULL) == IFD_NOT_SUPPORTED,
				      "%s: an extended APDU is not IFD_NOT_SUPPORTED", vdev_profile_name(t[k].p));
			ck_assert_uint_eq(len, 0);
			/* case 2E: 7 bytes, as short as a short APDU */
			len = sizeof(rsp);
			ck_assert_int_eq(IFDHTransmitToICC(0, pci, case2e, sizeof(case2e), rsp, &len, NULL), IFD_NOT_SUPPORTED);
		}
		if (t[k].p == VDEV_PROFILE_TPDU_T0) {
			/* lengths that do not add up are another cause */
			len = sizeof(rsp);
			ck_assert_int_eq(IFDHTransmitToICC(0, pci, bad, sizeof(bad), rsp, &len, NULL), IFD_COMMUNICATION_ERROR);
		}
		ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);
		sv.stop = true;
		pthread_join(th, NULL);
		usbip_server_free(sv.srv);
		vdev_free(d);
	}
}
END_TEST

/* A DWORD attribute of Lun 0 (SCARD_ATTR_*: 4 bytes, little-endian). */
static uint32_t attr_dword(DWORD tag)
{
	uint8_t v[8];
	DWORD len = sizeof(v);

	ck_assert_int_eq(IFDHGetCapabilities(0, tag, &len, v), IFD_SUCCESS);
	ck_assert_uint_eq(len, 4);
	return ifd_get_le32(v);
}

static void start_serving(struct served *sv, pthread_t *th)
{
	sv->stop = false;
	pthread_create(th, NULL, serve, sv);
}

static void stop_serving(struct served *sv, pthread_t th)
{
	sv->stop = true;
	pthread_join(th, NULL);
}

/*
 * IFDHSetProtocolParameters as pcscd calls it (SCARD_PROTOCOL_T0 / _T1 bits,
 * Flags 0) and with PTS1, on a TPDU reader whose card offers T=0 (its
 * default) and T=1: each protocol is set, and an APDU goes through under it;
 * the codes pcscd tells apart (reference §2): IFD_PROTOCOL_NOT_SUPPORTED for
 * what cannot be set, IFD_ERROR_PTS_FAILURE for a PPS answered wrongly.
 */
START_TEST(set_protocol_codes)
{
	static const uint8_t select_app[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
	struct served sv = { 0 };
	struct vdev_config cfg;
	SCARD_IO_HEADER pci = { .Protocol = 0, .Length = 8 };
	uint8_t v[MAX_ATR_SIZE], rsp[16];
	DWORD len;
	struct vdev *d;
	pthread_t th;
	char url[64];

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &cfg), 0);
	cfg.desc.dwProtocols = CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1;
	vcard_config_default(&cfg.card, VCARD_PROTO_T0 | VCARD_PROTO_T1);
	cfg.card.ta1 = 0x96;
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	dev.dev = d;
	sv.srv = usbip_server_new();
	ck_assert_int_eq(usbip_server_add_device(sv.srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(sv.srv, "127.0.0.1", 0), 0);
	start_serving(&sv, &th);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(sv.srv));
	ck_assert_int_eq(IFDHCreateChannelByName(0, url), IFD_SUCCESS);
	len = sizeof(v);
	ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, v, &len), IFD_SUCCESS);
	ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_PROTOCOL_TYPE), SCARD_PROTOCOL_T1);

	for (int k = 0; k < 4; k++) {
		DWORD proto = k % 2 ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0;

		ck_assert_int_eq(IFDHSetProtocolParameters(0, proto, 0, 0, 0, 0), IFD_SUCCESS);
		ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_PROTOCOL_TYPE), proto);
		ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_F), 512);        /* TA1 96 by PPS */
		ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_D), 32);
		pci.Protocol = proto == SCARD_PROTOCOL_T0 ? 0 : 1;
		len = sizeof(rsp);
		ck_assert_int_eq(IFDHTransmitToICC(0, pci, (uint8_t *)select_app, sizeof(select_app), rsp, &len, NULL),
				 IFD_SUCCESS);
		ck_assert_uint_eq(len, 2);
		ck_assert_uint_eq(rsp[0], 0x90);
	}
	/* PTS1 from the caller: Fd/Dd */
	ck_assert_int_eq(IFDHSetProtocolParameters(0, SCARD_PROTOCOL_T1, IFD_NEGOTIATE_PTS1, 0x11, 0, 0), IFD_SUCCESS);
	ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_F), 372);
	ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_D), 1);

	ck_assert_int_eq(IFDHSetProtocolParameters(0, SCARD_PROTOCOL_RAW, 0, 0, 0, 0), IFD_PROTOCOL_NOT_SUPPORTED);
	ck_assert_int_eq(IFDHSetProtocolParameters(0, SCARD_PROTOCOL_T0, IFD_NEGOTIATE_PTS2, 0, 1, 0),
			 IFD_PROTOCOL_NOT_SUPPORTED);
	ck_assert_int_eq(IFDHSetProtocolParameters(0, SCARD_PROTOCOL_T0, IFD_NEGOTIATE_PTS1, 0x00, 0, 0),
			 IFD_COMMUNICATION_ERROR);
	ck_assert_int_eq(IFDHSetProtocolParameters(0x10000, SCARD_PROTOCOL_T0, 0, 0, 0, 0), IFD_NO_SUCH_DEVICE);

	/* a PPS the card answers wrongly: IFD_ERROR_PTS_FAILURE, the card reset to its default (T=0) */
	stop_serving(&sv, th);
	ck_assert_int_eq(vdev_set_fault(d, 0, VDEV_FAULT_PPS_WRONG, 0, 1), 0);
	start_serving(&sv, &th);
	ck_assert_int_eq(IFDHSetProtocolParameters(0, SCARD_PROTOCOL_T0, 0, 0, 0, 0), IFD_ERROR_PTS_FAILURE);
	ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_PROTOCOL_TYPE), SCARD_PROTOCOL_T0);
	ck_assert_uint_eq(attr_dword(SCARD_ATTR_CURRENT_F), 372);
	pci.Protocol = 0;
	len = sizeof(rsp);
	ck_assert_int_eq(IFDHTransmitToICC(0, pci, (uint8_t *)select_app, sizeof(select_app), rsp, &len, NULL),
			 IFD_SUCCESS);

	ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);
	stop_serving(&sv, th);
	usbip_server_free(sv.srv);
	vdev_free(d);
}
END_TEST

/* ---------------------------------------------------------------------------
 * pcscd's polling threads: asleep while nothing happens, woken by a stop
 */

/* A virtual reader of profile p served over USB/IP by a thread; the url to open it by. */
struct remote {
	struct vdev *d;
	struct usbip_server *srv;
	pthread_mutex_t lock;           /* the server and the device model */
	atomic_bool stop;
	pthread_t th;
	char url[64];
};

static void *remote_main(void *arg)
{
	struct remote *m = arg;

	while (!atomic_load(&m->stop)) {
		pthread_mutex_lock(&m->lock);
		usbip_server_run_once(m->srv, 5);
		pthread_mutex_unlock(&m->lock);
	}
	return NULL;
}

static struct remote *remote_new(enum vdev_profile p)
{
	struct remote *m = calloc(1, sizeof(*m));
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
	struct vdev_config cfg;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vdev_profile_config(p, &cfg), 0);
	m->d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(m->d);
	dev.dev = m->d;
	m->srv = usbip_server_new();
	ck_assert_int_eq(usbip_server_add_device(m->srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(m->srv, "127.0.0.1", 0), 0);
	snprintf(m->url, sizeof(m->url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(m->srv));
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->stop, false);
	ck_assert_int_eq(pthread_create(&m->th, NULL, remote_main, m), 0);
	return m;
}

static void remote_free(struct remote *m)
{
	atomic_store(&m->stop, true);
	pthread_join(m->th, NULL);
	usbip_server_free(m->srv);
	vdev_free(m->d);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The server restarts: connections refused for down_ms (0: listening again before this returns). */
static void remote_restart(struct remote *m, unsigned down_ms)
{
	pthread_mutex_lock(&m->lock);
	ck_assert_int_ge(usbip_server_restart(m->srv, down_ms), 0);
	if (!down_ms)
		ck_assert_int_eq(usbip_server_run_once(m->srv, 0), 0);
	pthread_mutex_unlock(&m->lock);
}

/* The table's reader of Lun, with a reference (ifd_put it). */
static struct ifd_reader *reader_of(DWORD lun)
{
	struct ifd_reader *rd;
	unsigned slot;

	ck_assert_int_eq(ifd_get(lun, &rd, &slot), 0);
	return rd;
}

static uint64_t ifd_wakeups(struct ifd_reader *rd)
{
	uint64_t n;

	pthread_mutex_lock(&ifd_lock);
	n = rd->wakeups;
	pthread_mutex_unlock(&ifd_lock);
	return n;
}

/* Take the events of the first NotifySlotChange, so that what follows is idle. */
static void drain(struct ifd_reader *rd)
{
	struct uccid_event ev;

	while (uccid_wait_event(rd->r, 300, &ev) == 1)
		;
}

/*
 * pcscd's polling thread on an idle reader over USB/IP sleeps through its
 * whole timeout: it is woken once (at the end), and libuccid's event wait
 * returns from the transport once — before issue 14, five times a second.
 */
START_TEST(poll_idle)
{
	struct remote *m = remote_new(VDEV_PROFILE_SHORT_APDU);
	struct ifd_reader *rd;
	uint64_t w, e;

	ck_assert_int_eq(IFDHCreateChannelByName(0, m->url), IFD_SUCCESS);
	rd = reader_of(0);
	drain(rd);
	w = ifd_wakeups(rd);
	e = uccid_event_wakeups(rd->r);
	ck_assert_int_eq(ifd_poll(0, 1500), IFD_SUCCESS);
	fprintf(stderr, "idle poll of 1.5 s: %llu wake-ups of the polling thread, %llu returns from intr_in\n",
		(unsigned long long)(ifd_wakeups(rd) - w), (unsigned long long)(uccid_event_wakeups(rd->r) - e));
	ck_assert_uint_eq(ifd_wakeups(rd) - w, 1);
	ck_assert_uint_eq(uccid_event_wakeups(rd->r) - e, 1);
	ifd_put(rd);
	ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);
	remote_free(m);
}
END_TEST

struct poller {
	DWORD lun;
	int timeout_ms;
	RESPONSECODE rc;
	pthread_t th;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;

	p->rc = ifd_poll(p->lun, p->timeout_ms);
	return NULL;
}

/* Until the reader has n polls in progress (each holds a reference) and one of them pumps. */
static void until_polling(struct ifd_reader *rd, unsigned n)
{
	bool ready = false;

	for (int i = 0; i < 5000 && !ready; i++) {
		pthread_mutex_lock(&ifd_lock);
		ready = rd->refs == n + 1 && rd->pumping;       /* + 1: the test's own reference */
		pthread_mutex_unlock(&ifd_lock);
		if (!ready)
			usleep(1000);
	}
	ck_assert_msg(ready, "the polling threads did not start waiting");
}

/*
 * Two slots' polling threads wait with pcscd's ten-minute timeout, one of
 * them in libuccid: a stop request of either slot ends that thread's poll
 * (the pump's through uccid_wake), and the other goes on waiting.  The
 * test's time limit (30 s) is what fails it if a stop does not arrive.
 */
START_TEST(poll_stop)
{
	struct remote *m = remote_new(VDEV_PROFILE_MULTI_SLOT);
	struct poller a = { .lun = 0, .timeout_ms = 600000 }, b = { .lun = 1, .timeout_ms = 600000 };
	struct ifd_reader *rd;

	ck_assert_int_eq(IFDHCreateChannelByName(0, m->url), IFD_SUCCESS);
	ck_assert_int_eq(IFDHCreateChannelByName(1, m->url), IFD_SUCCESS);
	rd = reader_of(0);
	drain(rd);
	ck_assert_int_eq(pthread_create(&a.th, NULL, poller_main, &a), 0);
	until_polling(rd, 1);           /* a is the pump */
	ck_assert_int_eq(pthread_create(&b.th, NULL, poller_main, &b), 0);
	until_polling(rd, 2);
	ck_assert_int_eq(ifd_stop_poll(0), IFD_SUCCESS);        /* the pump's slot */
	pthread_join(a.th, NULL);
	ck_assert_int_eq(a.rc, IFD_SUCCESS);
	until_polling(rd, 1);           /* b took over the pump */
	ck_assert_int_eq(ifd_stop_poll(1), IFD_SUCCESS);
	pthread_join(b.th, NULL);
	ck_assert_int_eq(b.rc, IFD_SUCCESS);

	/* closing the reader ends a poll in progress too */
	ck_assert_int_eq(pthread_create(&a.th, NULL, poller_main, &a), 0);
	until_polling(rd, 1);
	ifd_put(rd);
	ck_assert_int_eq(IFDHCloseChannel(1), IFD_SUCCESS);
	ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);
	pthread_join(a.th, NULL);
	remote_free(m);
}
END_TEST

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

/*
 * A USB/IP reader whose server restarts, as pcscd sees it: its polling
 * thread is told, the card is absent and the reader unavailable while the
 * server is down (the reader is not removed), and when the server is back
 * the same Lun has a card again that powers up and answers — no new
 * CreateChannel.
 */
START_TEST(reconnect_lun)
{
	struct remote *m = remote_new(VDEV_PROFILE_TPDU_T1);
	SCARD_IO_HEADER pci = { .Protocol = SCARD_PROTOCOL_T1, .Length = sizeof(SCARD_IO_HEADER) };
	uint8_t atr[MAX_ATR_SIZE], rx[258];
	struct ifd_reader *rd;
	DWORD len = sizeof(atr), rxlen = sizeof(rx);
	int polls = 0;

	ck_assert_int_eq(IFDHCreateChannelByName(0, m->url), IFD_SUCCESS);
	rd = reader_of(0);
	drain(rd);
	ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	ck_assert_int_eq(IFDHICCPresence(0), IFD_ICC_PRESENT);

	remote_restart(m, 600000);
	ck_assert_int_eq(ifd_poll(0, 60000), IFD_SUCCESS);        /* the card went with the link */
	ck_assert_int_eq(IFDHICCPresence(0), IFD_ICC_NOT_PRESENT);
	len = sizeof(atr);
	ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, atr, &len), IFD_NO_SUCH_DEVICE);
	pthread_mutex_lock(&ifd_lock);
	ck_assert(!rd->removed);
	pthread_mutex_unlock(&ifd_lock);

	remote_restart(m, 0);
	/* each poll returns on an event: the reader back, then the card */
	do {
		ck_assert_int_eq(ifd_poll(0, 60000), IFD_SUCCESS);
		ck_assert_int_lt(++polls, 10);
	} while (IFDHICCPresence(0) != IFD_ICC_PRESENT);
	len = sizeof(atr);
	ck_assert_int_eq(IFDHPowerICC(0, IFD_POWER_UP, atr, &len), IFD_SUCCESS);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(IFDHTransmitToICC(0, pci, (PUCHAR)SELECT_AID, sizeof(SELECT_AID), rx, &rxlen, NULL),
			 IFD_SUCCESS);
	ck_assert_uint_eq(rxlen, 2);
	ck_assert_uint_eq(rx[0], 0x90);
	ifd_put(rd);
	ck_assert_int_eq(IFDHCloseChannel(0), IFD_SUCCESS);
	remote_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ifd");
	TCase *tc;

	tc = tcase_create("errmap");
	tcase_add_test(tc, errmap_table);
	suite_add_tcase(s, tc);
	tc = tcase_create("lun");
	tcase_add_test(tc, lun_split);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, config_plist);
	tcase_add_test(tc, readers_table);
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tags_multi_slot);
	tcase_add_test(tc, control_codes);
	tcase_add_test(tc, power_up_card_powered_by_another);
	tcase_add_test(tc, get_capabilities_lengths);
	tcase_add_test(tc, extended_apdu_one_code);
	tcase_add_test(tc, set_protocol_codes);
	suite_add_tcase(s, tc);
	tc = tcase_create("events");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, poll_idle);
	tcase_add_test(tc, poll_stop);
	tcase_add_test(tc, reconnect_lun);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
