/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the transports (transport/transport.h): the same tests run
 * over the in-process transport and over the USB/IP client talking to the
 * virtual reader's USB/IP server on 127.0.0.1 (loop tests, _i = enum kind):
 * descriptors, a CCID exchange, interrupt-IN card events, timeouts (with
 * UNLINK), cancel from another thread, STALL and clear_halt, a dropped
 * connection, removal.  Then what only USB/IP has: the device list, URL
 * parsing, open errors, and a hostile fake server speaking bad USB/IP.
 * The server runs in its own thread; the device model is not thread-safe,
 * so the test acts on it only from that thread (server_call, through a
 * watched pipe) or, in process, under the transport's lock
 * (vreader_inproc_call).  Every wait is bounded.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ccid/atr.h"
#include "ccid/bytes.h"
#include "ccid/ccid.h"
#include "ccid/usb_desc.h"
#include "transport/transport.h"
#include "transport/usbip_client.h"
#include "usbip/usbip_wire.h"
#include "tests/testutil.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

#define OPEN_MS 3000            /* uccid_usbip_open timeout */
#define IO_MS 3000              /* transfers that must succeed */
#define TEST_TIMEOUT 30         /* seconds per test */

enum kind { KIND_INPROC, KIND_USBIP, KIND_COUNT };

static const char *const kind_name[KIND_COUNT] = { "inproc", "usbip" };

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------
 * A virtual reader whose unlinks are counted (the server calls ops->unlink
 * when a CMD_UNLINK cancels a pending URB)
 */

struct counted {
	struct vdev *d;
	atomic_uint unlinks;
};

static void c_info(void *dev, struct vusb_info *ret)
{
	vdev_usb_ops.info(((struct counted *)dev)->d, ret);
}

static int c_control(void *dev, const uint8_t setup[8], const uint8_t *data, uint8_t *in, size_t in_cap, int64_t now)
{
	return vdev_usb_ops.control(((struct counted *)dev)->d, setup, data, in, in_cap, now);
}

static int c_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, int64_t now)
{
	return vdev_usb_ops.out(((struct counted *)dev)->d, ep, data, len, now);
}

static int c_in(void *dev, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action, int64_t now)
{
	return vdev_usb_ops.in(((struct counted *)dev)->d, ep, buf, cap, action, now);
}

static int64_t c_next_event(void *dev, int64_t now)
{
	return vdev_usb_ops.next_event(((struct counted *)dev)->d, now);
}

static void c_unlink(void *dev, uint8_t ep, int64_t now)
{
	struct counted *c = dev;

	atomic_fetch_add(&c->unlinks, 1);
	vdev_usb_ops.unlink(c->d, ep, now);
}

static void c_attach(void *dev, int64_t now)
{
	vdev_usb_ops.attach(((struct counted *)dev)->d, now);
}

static void c_detach(void *dev, int64_t now)
{
	vdev_usb_ops.detach(((struct counted *)dev)->d, now);
}

static const struct vusb_ops counted_ops = {
	.info = c_info,
	.control = c_control,
	.out = c_out,
	.in = c_in,
	.next_event = c_next_event,
	.unlink = c_unlink,
	.attach = c_attach,
	.detach = c_detach,
};

/* ---------------------------------------------------------------------------
 * The USB/IP server in a thread of its own
 */

typedef void device_fn(struct vdev *d, void *ctx);

struct server {
	struct usbip_server *srv;
	pthread_t thread;
	atomic_bool stop;
	int pipe[2];                    /* test thread -> server thread: "run the call" */
	pthread_mutex_t m;
	pthread_cond_t c;
	device_fn *fn;                  /* the call to run on the server thread */
	struct vdev *fn_dev;
	void *fn_ctx;
	bool fn_done;
	struct counted readers[2];
	unsigned nreaders;
	uint16_t port;
};

static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop))
		usbip_server_run_once(s->srv, 50);
	return NULL;
}

/* Watch callback, on the server thread: run the pending call, then re-poll pending IN URBs. */
static void server_on_call(void *ctx, int fd, short revents)
{
	struct server *s = ctx;
	char b[16];

	while (read(fd, b, sizeof(b)) > 0)
		;
	pthread_mutex_lock(&s->m);
	if (s->fn && !s->fn_done) {
		s->fn(s->fn_dev, s->fn_ctx);
		s->fn_done = true;
		pthread_cond_broadcast(&s->c);
	}
	pthread_mutex_unlock(&s->m);
	usbip_server_wake(s->srv);
}

/* Run fn(reader's device, ctx) on the server thread and wait for it (bounded). */
static void server_call(struct server *s, unsigned reader, device_fn *fn, void *ctx)
{
	int64_t end = uccid_mono_ms() + 3000;

	pthread_mutex_lock(&s->m);
	s->fn = fn;
	s->fn_dev = s->readers[reader].d;
	s->fn_ctx = ctx;
	s->fn_done = false;
	pthread_mutex_unlock(&s->m);
	ck_assert_int_eq(write(s->pipe[1], "x", 1), 1);
	pthread_mutex_lock(&s->m);
	while (!s->fn_done && uccid_mono_ms() < end) {
		pthread_mutex_unlock(&s->m);
		sleep_ms(2);
		pthread_mutex_lock(&s->m);
	}
	s->fn = NULL;
	pthread_mutex_unlock(&s->m);
	ck_assert_msg(s->fn_done, "the server thread did not run the call");
}

static struct server *server_new(const enum vdev_profile *profiles, unsigned n)
{
	struct server *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_le(n, 2);
	s->srv = usbip_server_new();
	ck_assert_ptr_nonnull(s->srv);
	for (unsigned i = 0; i < n; i++) {
		struct vdev_config cfg;
		struct vusb_device vd = { .ops = &counted_ops, .dev = &s->readers[i] };

		ck_assert_int_eq(vdev_profile_config(profiles[i], &cfg), 0);
		s->readers[i].d = vdev_new(&cfg);
		ck_assert_ptr_nonnull(s->readers[i].d);
		atomic_init(&s->readers[i].unlinks, 0);
		snprintf(vd.busid, sizeof(vd.busid), "1-%u", i + 1);
		ck_assert_int_eq(usbip_server_add_device(s->srv, &vd), 0);
	}
	s->nreaders = n;
	ck_assert_int_eq(usbip_server_listen(s->srv, "127.0.0.1", 0), 0);
	s->port = usbip_server_port(s->srv);
	ck_assert_int_eq(pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC), 0);
	pthread_mutex_init(&s->m, NULL);
	pthread_cond_init(&s->c, NULL);
	ck_assert_int_eq(usbip_server_add_watch(s->srv, s->pipe[0], server_on_call, s), 0);
	atomic_init(&s->stop, false);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
	return s;
}

/* Stop the loop, close every connection, free the devices. */
static void server_free(struct server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	usbip_server_free(s->srv);
	for (unsigned i = 0; i < s->nreaders; i++)
		vdev_free(s->readers[i].d);
	close(s->pipe[0]);
	close(s->pipe[1]);
	pthread_mutex_destroy(&s->m);
	pthread_cond_destroy(&s->c);
	free(s);
}

static void server_url(const struct server *s, const char *busid, char *url, size_t cap)
{
	snprintf(url, cap, "usbip://127.0.0.1:%u/%s", (unsigned)s->port, busid);
}

/* ---------------------------------------------------------------------------
 * Rig: one reader behind one transport of either kind
 */

struct rig {
	enum kind kind;
	struct vdev *dev;               /* inproc: owned */
	struct server *srv;             /* usbip */
	struct uccid_transport *t;
	char url[96];
	uint8_t seq;
	uint8_t rsp[CCID_MAX_MESSAGE_LENGTH];
	int rsp_len;
	struct ccid_msg m;              /* the last answer, decoded */
};

static struct rig *rig_new(enum kind kind, enum vdev_profile profile)
{
	struct rig *r = calloc(1, sizeof(*r));
	char err[256] = "";

	ck_assert_ptr_nonnull(r);
	r->kind = kind;
	if (kind == KIND_INPROC) {
		struct vdev_config cfg;

		ck_assert_int_eq(vdev_profile_config(profile, &cfg), 0);
		r->dev = vdev_new(&cfg);
		ck_assert_ptr_nonnull(r->dev);
		ck_assert_int_eq(vreader_inproc_open(r->dev, &r->t), 0);
	} else {
		r->srv = server_new(&profile, 1);
		server_url(r->srv, "1-1", r->url, sizeof(r->url));
		ck_assert_msg(uccid_usbip_open(r->url, 0, OPEN_MS, &r->t, err, sizeof(err)) == 0, "open: %s", err);
	}
	ck_assert_ptr_nonnull(r->t);
	return r;
}

static void rig_call(struct rig *r, device_fn *fn, void *ctx)
{
	if (r->kind == KIND_INPROC)
		vreader_inproc_call(r->t, fn, ctx);
	else
		server_call(r->srv, 0, fn, ctx);
}

/* The device goes away: unplugged in process, the server stopped over USB/IP. */
static void rig_unplug(struct rig *r)
{
	if (r->kind == KIND_INPROC) {
		vreader_inproc_unplug(r->t);
	} else {
		server_free(r->srv);
		r->srv = NULL;
	}
}

static void rig_free(struct rig *r)
{
	r->t->ops->close(r->t);
	server_free(r->srv);
	vdev_free(r->dev);
	free(r);
}

static size_t build(uint8_t *b, uint8_t type, uint8_t slot, uint8_t seq, const uint8_t *data, size_t len)
{
	memset(b, 0, CCID_HEADER_SIZE);
	b[CCID_OFF_TYPE] = type;
	put_le32(b + CCID_OFF_LENGTH, (uint32_t)len);
	b[CCID_OFF_SLOT] = slot;
	b[CCID_OFF_SEQ] = seq;
	if (len)
		memcpy(b + CCID_OFF_DATA, data, len);
	return CCID_HEADER_SIZE + len;
}

static void send_cmd(struct rig *r, uint8_t type, const uint8_t *data, size_t len)
{
	uint8_t msg[300];
	size_t n = build(msg, type, 0, ++r->seq, data, len);

	ck_assert_int_eq(r->t->ops->bulk_out(r->t, msg, n, IO_MS), (int)n);
}

/* The next final answer (time extensions skipped), decoded into r->m; or the transport's error. */
static int recv_answer(struct rig *r, unsigned timeout_ms)
{
	for (int i = 0; i < 100; i++) {
		int n = r->t->ops->bulk_in(r->t, r->rsp, sizeof(r->rsp), timeout_ms);

		if (n < 0)
			return n;
		r->rsp_len = n;
		if (ccid_msg_decode(r->rsp, (size_t)n, &r->m, NULL) < 0)
			return -EBADMSG;
		if (CCID_CMD_STATUS(r->m.rsp.bStatus) != CCID_CMD_TIME_EXTENSION)
			return n;
	}
	return -EBADMSG;
}

/* One command and its answer, which must carry our bSeq. */
static void cmd(struct rig *r, uint8_t type, const uint8_t *data, size_t len)
{
	send_cmd(r, type, data, len);
	ck_assert_int_gt(recv_answer(r, IO_MS), 0);
	ck_assert_uint_eq(r->m.bSeq, r->seq);
	ck_assert_uint_eq(r->m.bMessageType, ccid_response_type(type));
	ck_assert_msg(CCID_CMD_STATUS(r->m.rsp.bStatus) == CCID_CMD_OK, "%s failed: bError %02X",
		      ccid_msg_type_name(type), r->m.rsp.bError);
}

static void power_on(struct rig *r)
{
	struct ccid_atr atr;

	cmd(r, CCID_PC_TO_RDR_ICC_POWER_ON, NULL, 0);
	ck_assert_uint_eq(r->m.bMessageType, CCID_RDR_TO_PC_DATA_BLOCK);
	ck_assert_int_eq(ccid_atr_parse(r->m.abData, r->m.dwLength, &atr, NULL), 0);
}

static const uint8_t SELECT_AID[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

/* Read interrupt-IN until a NotifySlotChange; returns its slot-0 bits (present | changed << 1). */
static int notify_bits(struct rig *r, unsigned timeout_ms)
{
	uint8_t buf[16];
	struct ccid_intr_msg im;
	int n = r->t->ops->intr_in(r->t, buf, sizeof(buf), timeout_ms);

	if (n < 0)
		return n;
	ck_assert_int_eq(ccid_intr_decode(buf, (size_t)n, 0, &im, NULL), 0);
	ck_assert_uint_eq(im.bMessageType, CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE);
	return ccid_notify_present(&im, 0) | ccid_notify_changed(&im, 0) << 1;
}

/* device_fn helpers */
static void do_remove(struct vdev *d, void *ctx)
{
	*(int *)ctx = vdev_remove_card(d, 0, uccid_mono_us());
}

static void do_insert(struct vdev *d, void *ctx)
{
	*(int *)ctx = vdev_insert_card(d, 0, NULL, uccid_mono_us());
}

struct fault_arg {
	enum vdev_fault f;
	int r;
};

static void do_fault(struct vdev *d, void *ctx)
{
	struct fault_arg *a = ctx;

	a->r = vdev_set_fault(d, 0, a->f, 0, 1);
}

/* ---------------------------------------------------------------------------
 * Both transports
 */

START_TEST(test_descriptors)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct uccid_transport *t = r->t;
	uint8_t dev[18], cfgb[UCCID_DESC_MAX], buf[64];
	struct ccid_usb_device_desc dd;
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	int n;

	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(t->ops->name, kind_name[_i]);
	n = t->ops->descriptors(t, dev, cfgb, sizeof(cfgb));
	ck_assert_int_gt(n, CCID_USB_CONFIG_DESC_LEN);
	ck_assert_int_eq(ccid_usb_device_desc_parse(dev, sizeof(dev), &dd, NULL), 0);
	ck_assert_uint_eq(dd.idVendor, t->info.idVendor);
	ck_assert_uint_eq(dd.idProduct, t->info.idProduct);
	ck_assert_uint_eq(t->info.idVendor, 0x1209);
	ck_assert_int_eq(ccid_usb_config_parse(cfgb, (size_t)n, cfg, NULL), 0);
	ck_assert_int_eq(ccid_usb_find_ccid(cfg, cfgb, (size_t)n, 0, &ci, NULL), 0);
	ck_assert_uint_eq(t->info.interface, ci.bInterfaceNumber);
	ck_assert_uint_eq(t->info.ep_bulk_in, VDEV_BULK_IN);
	ck_assert_uint_eq(t->info.ep_bulk_out, VDEV_BULK_OUT);
	ck_assert_uint_eq(t->info.ep_intr_in, VDEV_INTR_IN);
	if (_i == KIND_USBIP)
		ck_assert_str_eq(t->info.path, r->url);
	else
		ck_assert_int_eq(strncmp(t->info.path, "inproc:", 7), 0);
	ck_assert_int_eq(t->ops->descriptors(t, dev, cfgb, 9), -ENOBUFS);

	/* control transfers: IN, a STALL, OUT, and the pipe still works after the STALL */
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x00 /* GET_STATUS */, 0, 0, buf, 2, IO_MS), 2);
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x06, 0x0600 /* DEVICE_QUALIFIER */, 0, buf, 10, IO_MS), -EPIPE);
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x08 /* GET_CONFIGURATION */, 0, 0, buf, 1, IO_MS), 1);
	ck_assert_uint_eq(buf[0], cfg->bConfigurationValue);        /* the transport configured it */
	ck_assert_int_eq(t->ops->control(t, 0x01, 0x0B /* SET_INTERFACE */, 0, 0, NULL, 0, IO_MS), 0);
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x06, 0x0100, 0, buf, 18, IO_MS), 18);
	ck_assert_int_eq(memcmp(buf, dev, 18), 0);
	free(cfg);
	rig_free(r);
}
END_TEST

START_TEST(test_exchange)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);

	power_on(r);
	cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	ck_assert_uint_eq(r->m.bMessageType, CCID_RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(r->m.dwLength, 2);
	ck_assert_uint_eq(r->m.abData[0], 0x90);
	ck_assert_uint_eq(r->m.abData[1], 0x00);
	cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, NULL, 0);
	ck_assert_uint_eq(CCID_ICC_STATUS(r->m.rsp.bStatus), CCID_ICC_ACTIVE);
	rig_free(r);
}
END_TEST

struct waiter {
	struct uccid_transport *t;
	int which;                      /* 0 bulk_in, 1 intr_in */
	unsigned timeout_ms;
	uint8_t buf[CCID_MAX_MESSAGE_LENGTH];
	int r;
	int64_t done_at;
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	if (w->which == 0)
		w->r = w->t->ops->bulk_in(w->t, w->buf, sizeof(w->buf), w->timeout_ms);
	else
		w->r = w->t->ops->intr_in(w->t, w->buf, 16, w->timeout_ms);
	w->done_at = uccid_mono_ms();
	return NULL;
}

static struct waiter *waiter_start(struct uccid_transport *t, int which, unsigned timeout_ms)
{
	struct waiter *w = calloc(1, sizeof(*w));

	ck_assert_ptr_nonnull(w);
	w->t = t;
	w->which = which;
	w->timeout_ms = timeout_ms;
	ck_assert_int_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
	return w;
}

/* Join; the first 16 bytes received go to first (if not NULL). */
static int waiter_join(struct waiter *w, int64_t *done_at, uint8_t first[16])
{
	int r;

	pthread_join(w->th, NULL);
	r = w->r;
	if (first)
		memcpy(first, w->buf, 16);
	if (done_at)
		*done_at = w->done_at;
	free(w);
	return r;
}

START_TEST(test_interrupt)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct waiter *w;
	uint8_t buf[16];
	int res = -1;

	/* configured with a card present: the reader reports it (CCID §6.3.1) */
	ck_assert_int_eq(notify_bits(r, IO_MS), 3);
	ck_assert_int_eq(notify_bits(r, 100), -ETIMEDOUT);

	/* a pending interrupt-IN transfer completes when the card goes */
	w = waiter_start(r->t, 1, IO_MS);
	sleep_ms(50);
	rig_call(r, do_remove, &res);
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(waiter_join(w, NULL, buf), 2);
	ck_assert_uint_eq(buf[0], CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE);
	ck_assert_uint_eq(buf[1] & 3, 2);                        /* slot 0 absent, changed */
	rig_call(r, do_insert, &res);
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(notify_bits(r, IO_MS), 3);
	rig_call(r, do_remove, &res);
	ck_assert_int_eq(notify_bits(r, IO_MS), 2);             /* absent, changed */
	rig_free(r);
}
END_TEST

static void get_unlinks(struct vdev *d, void *ctx)
{
	(void)d;
	(void)ctx;
}

START_TEST(test_timeout)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	int64_t t0, dt;
	uint8_t buf[64];

	power_on(r);
	t0 = uccid_mono_ms();
	ck_assert_int_eq(r->t->ops->bulk_in(r->t, buf, sizeof(buf), 150), -ETIMEDOUT);
	dt = uccid_mono_ms() - t0;
	ck_assert_int_ge(dt, 140);
	ck_assert_int_lt(dt, 1500);
	if (_i == KIND_USBIP) {
		/* the read's URB stays submitted for the next read: nothing to unlink */
		rig_call(r, get_unlinks, NULL);  /* the server has handled everything sent so far */
		ck_assert_uint_eq(atomic_load(&r->srv->readers[0].unlinks), 0);
	}
	/* no stale data: the next exchange gets its own answer */
	cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, NULL, 0);

	/* more timeouts than URB slots: no slot is lost */
	for (int i = 0; i < UCCID_USBIP_MAX_PENDING + 8; i++)
		ck_assert_int_eq(r->t->ops->bulk_in(r->t, buf, sizeof(buf), 10), -ETIMEDOUT);
	ck_assert_int_eq(notify_bits(r, IO_MS), 3);
	ck_assert_int_eq(notify_bits(r, 20), -ETIMEDOUT);
	cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	ck_assert_uint_eq(r->m.abData[0], 0x90);
	if (_i == KIND_USBIP) {
		/* neither the bulk-IN reads that timed out nor the interrupt URB were unlinked */
		rig_call(r, get_unlinks, NULL);
		ck_assert_uint_eq(atomic_load(&r->srv->readers[0].unlinks), 0);
	}
	rig_free(r);
}
END_TEST

static void do_latency_300(struct vdev *d, void *ctx)
{
	*(int *)ctx = vdev_set_fault(d, 0, VDEV_FAULT_LATENCY, 300, 1);
}

/*
 * Several callers on one connection: whoever waits on the socket hands the
 * others their completions, and when it leaves (its own transfer timed
 * out) a caller still waiting takes over.
 */
START_TEST(test_shared)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct waiter *w;
	uint8_t buf[16];
	int64_t t0, dt;
	int res = -1;

	power_on(r);
	ck_assert_int_eq(notify_bits(r, IO_MS), 3);

	/* an interrupt-IN transfer waits (first, so it holds the socket) while exchanges run */
	w = waiter_start(r->t, 1, IO_MS);
	sleep_ms(50);
	for (int i = 0; i < 20; i++) {
		cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, NULL, 0);
		ck_assert_uint_eq(CCID_ICC_STATUS(r->m.rsp.bStatus), CCID_ICC_ACTIVE);
	}
	rig_call(r, do_remove, &res);
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(waiter_join(w, NULL, buf), 2);
	ck_assert_uint_eq(buf[1] & 3, 2);
	rig_call(r, do_insert, &res);
	ck_assert_int_eq(notify_bits(r, IO_MS), 3);
	power_on(r);

	/* the first waiter gives up at 100 ms; the answer (300 ms late) still reaches the second */
	rig_call(r, do_latency_300, &res);
	ck_assert_int_eq(res, 0);
	w = waiter_start(r->t, 1, 100);
	sleep_ms(20);
	t0 = uccid_mono_ms();
	send_cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, NULL, 0);
	ck_assert_int_gt(recv_answer(r, IO_MS), 0);
	dt = uccid_mono_ms() - t0;
	ck_assert_uint_eq(r->m.bSeq, r->seq);
	ck_assert_int_ge(dt, 250);
	ck_assert_int_lt(dt, 2000);
	ck_assert_int_eq(waiter_join(w, NULL, NULL), -ETIMEDOUT);
	cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	ck_assert_uint_eq(r->m.abData[0], 0x90);
	rig_free(r);
}
END_TEST

START_TEST(test_cancel)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct uccid_transport *t = r->t;
	struct waiter *wb, *wi;
	int64_t t0, done_b, done_i;
	uint8_t buf[64] = { 0 };

	ck_assert_int_eq(notify_bits(r, IO_MS), 3);      /* drain the first NotifySlotChange */
	wb = waiter_start(t, 0, 10000);
	wi = waiter_start(t, 1, 10000);
	sleep_ms(100);
	t0 = uccid_mono_ms();
	t->ops->cancel(t);
	ck_assert_int_eq(waiter_join(wb, &done_b, NULL), -ECANCELED);
	ck_assert_int_eq(waiter_join(wi, &done_i, NULL), -ECANCELED);
	ck_assert_int_lt(done_b - t0, 500);
	ck_assert_int_lt(done_i - t0, 500);
	/* every later call too */
	ck_assert_int_eq(t->ops->bulk_out(t, buf, 10, IO_MS), -ECANCELED);
	ck_assert_int_eq(t->ops->bulk_in(t, buf, sizeof(buf), IO_MS), -ECANCELED);
	ck_assert_int_eq(t->ops->intr_in(t, buf, sizeof(buf), IO_MS), -ECANCELED);
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x00, 0, 0, buf, 2, IO_MS), -ECANCELED);
	t->ops->cancel(t);              /* twice is fine */
	rig_free(r);
}
END_TEST

START_TEST(test_stall)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct fault_arg fa = { VDEV_FAULT_STALL, -1 };

	power_on(r);
	rig_call(r, do_fault, &fa);
	ck_assert_int_eq(fa.r, 0);
	send_cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	ck_assert_int_eq(recv_answer(r, IO_MS), -EPIPE);
	ck_assert_int_eq(recv_answer(r, IO_MS), -EPIPE);        /* halted until cleared */
	ck_assert_int_eq(r->t->ops->clear_halt(r->t, r->t->info.ep_bulk_in), 0);
	cmd(r, CCID_PC_TO_RDR_GET_SLOT_STATUS, NULL, 0);
	cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	ck_assert_uint_eq(r->m.abData[0], 0x90);
	rig_free(r);
}
END_TEST

static void assert_all_gone(struct uccid_transport *t)
{
	uint8_t buf[64] = { 0 }, dev[18], cfg[UCCID_DESC_MAX];

	ck_assert_int_eq(t->ops->bulk_out(t, buf, 10, IO_MS), -ENODEV);
	ck_assert_int_eq(t->ops->bulk_in(t, buf, sizeof(buf), IO_MS), -ENODEV);
	ck_assert_int_eq(t->ops->intr_in(t, buf, sizeof(buf), IO_MS), -ENODEV);
	ck_assert_int_eq(t->ops->control(t, 0x80, 0x00, 0, 0, buf, 2, IO_MS), -ENODEV);
	ck_assert_int_eq(t->ops->clear_halt(t, t->info.ep_bulk_in), -ENODEV);
	ck_assert_int_eq(t->ops->descriptors(t, dev, cfg, sizeof(cfg)), -ENODEV);
}

START_TEST(test_drop)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct fault_arg fa = { VDEV_FAULT_DROP_CONNECTION, -1 };
	int64_t t0;

	power_on(r);
	rig_call(r, do_fault, &fa);
	ck_assert_int_eq(fa.r, 0);
	send_cmd(r, CCID_PC_TO_RDR_XFR_BLOCK, SELECT_AID, sizeof(SELECT_AID));
	t0 = uccid_mono_ms();
	ck_assert_int_eq(recv_answer(r, IO_MS), -ENODEV);
	ck_assert_int_lt(uccid_mono_ms() - t0, 1000);
	assert_all_gone(r->t);
	rig_free(r);
}
END_TEST

START_TEST(test_unplug)
{
	struct rig *r = rig_new((enum kind)_i, VDEV_PROFILE_SHORT_APDU);
	struct waiter *w;
	int64_t t0, done;

	power_on(r);
	w = waiter_start(r->t, 0, 10000);
	sleep_ms(100);
	t0 = uccid_mono_ms();
	rig_unplug(r);
	ck_assert_int_eq(waiter_join(w, &done, NULL), -ENODEV);
	ck_assert_int_lt(done - t0, 1000);
	assert_all_gone(r->t);
	rig_free(r);
}
END_TEST

/* ---------------------------------------------------------------------------
 * USB/IP only: device list, URLs, open errors
 */

START_TEST(test_list)
{
	static const enum vdev_profile profiles[2] = { VDEV_PROFILE_SHORT_APDU, VDEV_PROFILE_MULTI_SLOT };
	struct server *s = server_new(profiles, 2);
	struct uccid_usbip_device d[3];
	struct uccid_transport *t = NULL;
	char err[256] = "", url[96];
	uint16_t pid2;
	int n;

	memset(d, 0xEE, sizeof(d));
	n = uccid_usbip_list("127.0.0.1", s->port, d, 3, OPEN_MS, err, sizeof(err));
	ck_assert_msg(n == 2, "list: %d %s", n, err);
	for (int i = 0; i < 2; i++) {
		const char *busid = i ? "1-2" : "1-1";

		ck_assert_str_eq(d[i].busid, busid);
		ck_assert_uint_eq(d[i].idVendor, 0x1209);
		ck_assert_uint_eq(d[i].speed, 2);
		ck_assert_uint_eq(d[i].ninterfaces, 1);
		ck_assert_uint_eq(d[i].intf[0].bInterfaceClass, CCID_USB_CLASS_SMART_CARD);
		ck_assert_int_eq(d[i].ccid, UCCID_USBIP_CCID);
		ck_assert_ptr_nonnull(memchr(d[i].path, '\0', sizeof(d[i].path)));
	}
	ck_assert_uint_eq(((uint8_t *)&d[2])[0], 0xEE);        /* untouched */
	pid2 = d[1].idProduct;

	/* more devices than room: the count, and only max entries written */
	memset(d, 0xEE, sizeof(d));
	ck_assert_int_eq(uccid_usbip_list("127.0.0.1", s->port, d, 1, OPEN_MS, NULL, 0), 2);
	ck_assert_str_eq(d[0].busid, "1-1");
	ck_assert_uint_eq(((uint8_t *)&d[1])[0], 0xEE);
	ck_assert_int_eq(uccid_usbip_list("127.0.0.1", s->port, NULL, 0, OPEN_MS, NULL, 0), 2);

	/* the second reader opens and answers */
	server_url(s, "1-2", url, sizeof(url));
	ck_assert_msg(uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)) == 0, "open: %s", err);
	ck_assert_uint_eq(t->info.idProduct, pid2);
	t->ops->close(t);
	server_free(s);
}
END_TEST

struct url_case {
	const char *url;
	int r;
	const char *host;
	unsigned port;
	const char *busid;
};

static const struct url_case url_cases[] = {
	{ "usbip://127.0.0.1/1-1", 0, "127.0.0.1", 3240, "1-1" },
	{ "usbip://localhost:3241/1-1.2", 0, "localhost", 3241, "1-1.2" },
	{ "usbip://[::1]:5000/2-3", 0, "::1", 5000, "2-3" },
	{ "usbip://[fe80::1:2]/1-1", 0, "fe80::1:2", 3240, "1-1" },
	{ "usbip://reader-host.example.com:65535/usb_1:2", 0, "reader-host.example.com", 65535, "usb_1:2" },
	{ "usbip://h/x", 0, "h", 3240, "x" },
	{ "", -EINVAL, NULL, 0, NULL },
	{ "usbip:", -EINVAL, NULL, 0, NULL },
	{ "usbip://", -EINVAL, NULL, 0, NULL },
	{ "usbip:///1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host", -EINVAL, NULL, 0, NULL },
	{ "usbip://host/", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:0/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:03240/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:65536/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:123456/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:+80/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host:12a/1-1", -EINVAL, NULL, 0, NULL },
	{ "http://host/1-1", -EINVAL, NULL, 0, NULL },
	{ "USBIP://host/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip:/host/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://[::1/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://[::g]/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://[]/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://[127.0.0.1]/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://::1/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://256.1.1.1/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://1.2.3/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://-host/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host-/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host..x/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://.host/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://user@host/1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host/1-1/", -EINVAL, NULL, 0, NULL },
	{ "usbip://host/1-1?x=1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host/1 1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host//1-1", -EINVAL, NULL, 0, NULL },
	{ "usbip://host/12345678901234567890123456789012", -EINVAL, NULL, 0, NULL },   /* 32 chars */
	{ "usbip://a123456789012345678901234567890123456789012345678901234567890123/1", -EINVAL, NULL, 0, NULL },
};

/* A reader's URL may name its interface after the bus ID; the device's URL may not. */
static const struct {
	const char *url;
	int r, intf;
	const char *busid;
} reader_url_cases[] = {
	{ "usbip://127.0.0.1/1-1", 0, -1, "1-1" },
	{ "usbip://127.0.0.1/1-1/0", 0, 0, "1-1" },
	{ "usbip://127.0.0.1:3241/1-1.2/1", 0, 1, "1-1.2" },
	{ "usbip://[::1]/2-3/255", 0, 255, "2-3" },
	{ "usbip://h/1-1/256", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/01", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/-1", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/1/2", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/1x", -EINVAL, 0, NULL },
	{ "usbip://h/1-1/1000", -EINVAL, 0, NULL },
	{ "usbip://h//1", -EINVAL, 0, NULL },
};

START_TEST(test_reader_url)
{
	char host[UCCID_USBIP_HOST_MAX + 1], busid[UCCID_USBIP_BUSID_MAX + 1];
	uint16_t port = 0;

	for (size_t i = 0; i < sizeof(reader_url_cases) / sizeof(reader_url_cases[0]); i++) {
		const char *url = reader_url_cases[i].url;
		int intf = -2, r = uccid_usbip_parse_reader_url(url, host, sizeof(host), &port, busid, sizeof(busid),
								 &intf);

		ck_assert_msg(r == reader_url_cases[i].r, "\"%s\": %d", url, r);
		if (r < 0)
			continue;
		ck_assert_int_eq(intf, reader_url_cases[i].intf);
		ck_assert_str_eq(busid, reader_url_cases[i].busid);
		/* the device's URL takes no interface */
		ck_assert_int_eq(uccid_usbip_parse_url(url, host, sizeof(host), &port, busid, sizeof(busid)),
				 intf < 0 ? 0 : -EINVAL);
	}
	ck_assert_int_eq(uccid_usbip_parse_reader_url("usbip://h/1-1", host, sizeof(host), &port, busid, sizeof(busid),
						      NULL), -EINVAL);
}
END_TEST

START_TEST(test_url)
{
	char host[UCCID_USBIP_HOST_MAX + 1], busid[UCCID_USBIP_BUSID_MAX + 1], small[4];
	uint16_t port = 0;

	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];
		int r = uccid_usbip_parse_url(c->url, host, sizeof(host), &port, busid, sizeof(busid));

		ck_assert_msg(r == c->r, "\"%s\": %d, expected %d", c->url, r, c->r);
		if (r == 0) {
			ck_assert_str_eq(host, c->host);
			ck_assert_uint_eq(port, c->port);
			ck_assert_str_eq(busid, c->busid);
		}
	}
	/* 31-character busid and 63-character host are the limits */
	ck_assert_int_eq(uccid_usbip_parse_url("usbip://h/1234567890123456789012345678901", host, sizeof(host), &port,
					       busid, sizeof(busid)), 0);
	ck_assert_int_eq(uccid_usbip_parse_url("usbip://a12345678901234567890123456789012345678901234567890123456789012/1",
					       host, sizeof(host), &port, busid, sizeof(busid)), 0);
	/* buffers too small, NULL */
	ck_assert_int_eq(uccid_usbip_parse_url("usbip://host/1-1", small, sizeof(small), &port, busid, sizeof(busid)),
			 -EINVAL);
	ck_assert_int_eq(uccid_usbip_parse_url("usbip://h/1-1-1", host, sizeof(host), &port, small, sizeof(small)),
			 -EINVAL);
	ck_assert_int_eq(uccid_usbip_parse_url(NULL, host, sizeof(host), &port, busid, sizeof(busid)), -EINVAL);
}
END_TEST

/* A TCP port on 127.0.0.1 where nothing listens. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_open_errors)
{
	static const enum vdev_profile profile = VDEV_PROFILE_SHORT_APDU;
	struct uccid_transport *t = NULL, *t2 = NULL;
	struct server *s;
	char err[256], url[96], want[128];
	uint16_t port = closed_port();
	int64_t t0;

	/* nothing listening */
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", (unsigned)port);
	t0 = uccid_mono_ms();
	ck_assert_int_eq(uccid_usbip_open(url, 0, 2000, &t, err, sizeof(err)), -ECONNREFUSED);
	ck_assert_int_lt(uccid_mono_ms() - t0, 2000);
	snprintf(want, sizeof(want), "127.0.0.1:%u: connection refused", (unsigned)port);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uccid_usbip_list("127.0.0.1", port, NULL, 0, 2000, err, sizeof(err)), -ECONNREFUSED);
	ck_assert_str_eq(err, want);

	/* bad URL */
	ck_assert_int_eq(uccid_usbip_open("usbip://host:99999/1-1", 0, 2000, &t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a usbip://HOST[:PORT]/BUSID[/INTERFACE] URL"));
	ck_assert_int_eq(uccid_usbip_open("usbip://host/1-1/256", 0, 2000, &t, err, sizeof(err)), -EINVAL);

	s = server_new(&profile, 1);
	/* unknown bus id */
	server_url(s, "1-9", url, sizeof(url));
	ck_assert_int_eq(uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)), -ENODEV);
	snprintf(want, sizeof(want), "127.0.0.1:%u: server refused import of 1-9: device not found", (unsigned)s->port);
	ck_assert_str_eq(err, want);
	/* no second CCID interface */
	server_url(s, "1-1", url, sizeof(url));
	ck_assert_int_eq(uccid_usbip_open(url, 1, OPEN_MS, &t, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no CCID interface #1 in 1-1's configuration"));
	/* the URL names the interface: 0 is the CCID one, 1 none (composites: tests/vreader/composite.sh) */
	server_url(s, "1-1/1", url, sizeof(url));
	ck_assert_int_eq(uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "interface 1 of 1-1 is not a CCID interface"));
	server_url(s, "1-1/0", url, sizeof(url));
	ck_assert_int_eq(uccid_usbip_open(url, 1, OPEN_MS, &t, err, sizeof(err)), -EINVAL);
	ck_assert_msg(uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)) == 0, "open: %s", err);
	ck_assert_uint_eq(t->info.interface, 0);
	ck_assert_str_eq(t->info.path, url);
	t->ops->close(t);
	t = NULL;
	server_url(s, "1-1", url, sizeof(url));
	/* busy: imported already */
	ck_assert_msg(uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)) == 0, "open: %s", err);
	ck_assert_int_eq(uccid_usbip_open(url, 0, OPEN_MS, &t2, err, sizeof(err)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "server refused import of 1-1: device busy"));
	/* retried within busy_wait_ms, then the same error, with the tries */
	t0 = uccid_mono_ms();
	ck_assert_int_eq(uccid_usbip_open_params(url, 0, &(struct uccid_usbip_params){ .timeout_ms = OPEN_MS,
										 .busy_wait_ms = 300 },
						 &t2, err, sizeof(err)), -EBUSY);
	ck_assert_int_ge(uccid_mono_ms() - t0, 300);
	ck_assert_ptr_nonnull(strstr(err, "device busy (imported by another host) through "));
	ck_assert_ptr_nonnull(strstr(err, " tries in 300 ms"));
	ck_assert_ptr_null(t2);
	t->ops->close(t);
	/* and free again once closed (the server sees the connection end) */
	t = NULL;
	for (int i = 0; i < 50 && uccid_usbip_open(url, 0, OPEN_MS, &t, err, sizeof(err)) != 0; i++)
		sleep_ms(20);
	ck_assert_ptr_nonnull(t);
	t->ops->close(t);
	server_free(s);
}
END_TEST

/* ---------------------------------------------------------------------------
 * A hostile fake server: one connection on a raw socket, speaking bad USB/IP
 */

enum fake_mode {
	FAKE_GARBAGE_AFTER_IMPORT,      /* import OK, then 48 bytes of garbage */
	FAKE_OVERSIZE,                  /* bulk-IN answered with more than requested */
	FAKE_UNKNOWN_SEQNUM,            /* bulk-IN answered under another seqnum */
	FAKE_OUT_WITH_DATA,             /* bulk-OUT answered with actual_length beyond the data, and data */
	FAKE_OP_STALL,                  /* the import is never answered */
	FAKE_NO_UNLINK,                 /* neither the first bulk-OUT nor its UNLINK is ever answered */
	FAKE_RACE,                      /* the first bulk-OUT completes just as it is unlinked: RET_SUBMIT, RET_UNLINK 0 */
	FAKE_LATE_IN,                   /* bulk-IN answered only once the next bulk-OUT came */
	FAKE_NOT_CCID,                  /* a HID device */
	FAKE_WRONG_BUSID,               /* the import reply names another device */
	FAKE_HUGE_CONFIG,               /* wTotalLength 60000 */
	FAKE_CLOSE_MID_PDU,             /* half a RET_SUBMIT header, then close */
	FAKE_RET_COMMAND,               /* a CMD_SUBMIT from the server */
	FAKE_CONFIG_SHORT,              /* the configuration's first 9 bytes unless asked for exactly wTotalLength */
	FAKE_COUNT,
};

struct fake {
	enum fake_mode mode;
	int lfd;
	uint16_t port;
	pthread_t th;
	uint8_t dev_desc[18];
	uint8_t cfg[512];
	size_t cfg_len;
};

static bool fake_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static bool fake_recv(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, buf + off, len - off, 0);

		if (n <= 0)
			return false;   /* EOF, error, or SO_RCVTIMEO */
		off += (size_t)n;
	}
	return true;
}

static void fake_ret(int fd, uint32_t seqnum, int32_t status, const uint8_t *data, uint32_t actual, size_t dlen)
{
	struct usbip_header h = { .command = USBIP_RET_SUBMIT, .seqnum = seqnum };
	uint8_t b[USBIP_HEADER_SIZE + 600];

	h.u.ret_submit.status = status;
	h.u.ret_submit.actual_length = actual;
	usbip_header_encode(&h, b, sizeof(b));
	if (dlen > sizeof(b) - USBIP_HEADER_SIZE)
		dlen = sizeof(b) - USBIP_HEADER_SIZE;
	if (dlen)
		memcpy(b + USBIP_HEADER_SIZE, data, dlen);
	fake_send(fd, b, USBIP_HEADER_SIZE + dlen);
}

static void fake_serve(struct fake *f, int fd)
{
	uint8_t b[USBIP_OP_REP_IMPORT_SIZE + 512];
	struct usbip_usb_device dev = { .busnum = 1, .devnum = 2, .speed = 2, .idVendor = 0x1209, .idProduct = 0x0bad,
					.bConfigurationValue = 1, .bNumConfigurations = 1, .bNumInterfaces = 1 };
	uint32_t pending = 0, pending_len = 0, late_in = 0;
	bool held = false;
	ssize_t n;

	if (!fake_recv(fd, b, USBIP_OP_REQ_IMPORT_SIZE))
		return;
	if (f->mode == FAKE_OP_STALL) {
		fake_recv(fd, b, 1);    /* until the client gives up (or SO_RCVTIMEO) */
		return;
	}
	strcpy(dev.path, "/sys/devices/fake");
	strcpy(dev.busid, f->mode == FAKE_WRONG_BUSID ? "9-9" : "1-1");
	n = usbip_rep_import_encode(USBIP_ST_OK, &dev, b, sizeof(b));
	fake_send(fd, b, (size_t)n);
	if (f->mode == FAKE_GARBAGE_AFTER_IMPORT) {
		memset(b, 0xA5, USBIP_HEADER_SIZE);
		fake_send(fd, b, USBIP_HEADER_SIZE);
	}
	for (;;) {
		struct usbip_header h;
		uint8_t data[512] = { 0 };
		size_t dlen = 0;

		if (!fake_recv(fd, b, USBIP_HEADER_SIZE) || usbip_header_decode(b, USBIP_HEADER_SIZE, &h, NULL) < 0)
			return;
		if (h.command == USBIP_CMD_SUBMIT && h.direction == USBIP_DIR_OUT) {
			dlen = h.u.cmd_submit.transfer_buffer_length;
			if (dlen > sizeof(data) || !fake_recv(fd, data, dlen))
				return;
		}
		if (h.command == USBIP_CMD_UNLINK) {
			if (f->mode == FAKE_RACE && pending == h.u.cmd_unlink.seqnum) {
				struct usbip_header u = { .command = USBIP_RET_UNLINK, .seqnum = h.seqnum };

				fake_ret(fd, pending, 0, NULL, pending_len, 0);
				usbip_header_encode(&u, b, sizeof(b));
				fake_send(fd, b, USBIP_HEADER_SIZE);
				pending = 0;
			}
			continue;       /* FAKE_NO_UNLINK: never answered */
		}
		if (h.ep == 0) {
			struct usbip_setup st;

			usbip_setup_decode(h.u.cmd_submit.setup, &st);
			if (st.bmRequestType == 0x80 && st.bRequest == 0x06 && st.wValue >> 8 == 1) {
				size_t l = st.wLength < 18 ? st.wLength : 18;

				fake_ret(fd, h.seqnum, 0, f->dev_desc, (uint32_t)l, l);
			} else if (st.bmRequestType == 0x80 && st.bRequest == 0x06 && st.wValue >> 8 == 2) {
				size_t l = st.wLength < f->cfg_len ? st.wLength : f->cfg_len;

				if (f->mode == FAKE_CONFIG_SHORT && st.wLength != f->cfg_len && l > 9)
					l = 9;
				fake_ret(fd, h.seqnum, 0, f->cfg, (uint32_t)l, l);
			} else {
				fake_ret(fd, h.seqnum, 0, NULL, 0, 0);
			}
			continue;
		}
		if (h.direction == USBIP_DIR_OUT) {
			if ((f->mode == FAKE_NO_UNLINK || f->mode == FAKE_RACE) && !held) {
				held = true;            /* the first one stays pending */
				pending = h.seqnum;
				pending_len = (uint32_t)dlen;
				continue;
			}
			if (f->mode == FAKE_LATE_IN && late_in) {
				fake_ret(fd, late_in, 0, (const uint8_t *)"LATE", 4, 4);
				late_in = 0;
			}
			if (f->mode == FAKE_OUT_WITH_DATA)
				fake_ret(fd, h.seqnum, 0, data, (uint32_t)dlen + 10, dlen + 10);
			else
				fake_ret(fd, h.seqnum, 0, NULL, (uint32_t)dlen, 0);
			continue;
		}
		/* bulk or interrupt IN */
		switch (f->mode) {
		case FAKE_OVERSIZE:
			memset(data, 0x11, sizeof(data));
			fake_ret(fd, h.seqnum, 0, data, h.u.cmd_submit.transfer_buffer_length + 1,
				 h.u.cmd_submit.transfer_buffer_length + 1);
			break;
		case FAKE_UNKNOWN_SEQNUM:
			fake_ret(fd, h.seqnum + 1000, 0, NULL, 0, 0);
			break;
		case FAKE_CLOSE_MID_PDU: {
			struct usbip_header r = { .command = USBIP_RET_SUBMIT, .seqnum = h.seqnum };

			usbip_header_encode(&r, b, sizeof(b));
			fake_send(fd, b, USBIP_HEADER_SIZE / 2);
			return;
		}
		case FAKE_RET_COMMAND: {
			struct usbip_header r = { .command = USBIP_CMD_SUBMIT, .seqnum = h.seqnum, .ep = 1 };

			usbip_header_encode(&r, b, sizeof(b));
			fake_send(fd, b, USBIP_HEADER_SIZE);
			break;
		}
		case FAKE_LATE_IN:
			if (late_in)            /* the client must not submit another meanwhile */
				return;
			late_in = h.seqnum;
			break;
		default:
			break;
		}
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	struct timeval tv = { .tv_sec = 5 };
	int fd;

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fake_serve(f, fd);
	close(fd);
	return NULL;
}

/* Descriptors for the fake device: the virtual reader's, or a HID device, or a huge wTotalLength. */
static void fake_descriptors(struct fake *f)
{
	static const uint8_t hid_cfg[] = {
		0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0x80, 0x32,       /* configuration, 25 bytes */
		0x09, 0x04, 0x00, 0x00, 0x01, 0x03, 0x01, 0x01, 0x00,       /* interface: HID keyboard */
		0x07, 0x05, 0x81, 0x03, 0x08, 0x00, 0x0A,                   /* endpoint 81 interrupt */
	};
	struct vdev_config cfg;
	struct vdev *d;
	uint8_t setup[8] = { 0x80, 0x06, 0x00, 0x01, 0, 0, 18, 0 };
	int n;

	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg), 0);
	d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(vdev_usb_ops.control(d, setup, NULL, f->dev_desc, sizeof(f->dev_desc), 0), 18);
	setup[3] = 0x02;
	setup[6] = 0x00;
	setup[7] = 0x02;                /* wLength 512 */
	n = vdev_usb_ops.control(d, setup, NULL, f->cfg, sizeof(f->cfg), 0);
	ck_assert_int_gt(n, 9);
	f->cfg_len = (size_t)n;
	vdev_free(d);
	if (f->mode == FAKE_NOT_CCID) {
		memcpy(f->cfg, hid_cfg, sizeof(hid_cfg));
		f->cfg_len = sizeof(hid_cfg);
	} else if (f->mode == FAKE_HUGE_CONFIG) {
		put_le16(f->cfg + 2, 60000);
	}
}

static struct fake *fake_start(enum fake_mode mode)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);

	ck_assert_ptr_nonnull(f);
	f->mode = mode;
	fake_descriptors(f);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &sl), 0);
	f->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	free(f);
}

/* OP_BULK_OUT_SLOW: one that is not answered within its 150 ms; OP_LATE_IN: see test_hostile */
enum fake_op { OP_NONE, OP_BULK_IN, OP_BULK_OUT, OP_BULK_OUT_SLOW, OP_LATE_IN };

struct fake_case {
	enum fake_mode mode;
	int open_r;                     /* expected from uccid_usbip_open */
	const char *open_err;           /* a part of its message */
	enum fake_op op;                /* then this */
	int op_r;                       /* expected result */
	int min_ms, max_ms;             /* bounds on the time open + op take */
};

static const struct fake_case fake_cases[FAKE_COUNT] = {
	{ FAKE_GARBAGE_AFTER_IMPORT, -ENODEV, "malformed URB header", OP_NONE, 0, 0, 1000 },
	{ FAKE_OVERSIZE, 0, NULL, OP_BULK_IN, -ENODEV, 0, 1000 },
	{ FAKE_UNKNOWN_SEQNUM, 0, NULL, OP_BULK_IN, -ENODEV, 0, 1000 },
	{ FAKE_OUT_WITH_DATA, 0, NULL, OP_BULK_OUT, -ENODEV, 0, 1000 },
	{ FAKE_OP_STALL, -ETIMEDOUT, "no complete OP_REP_IMPORT within 500 ms", OP_NONE, 0, 450, 1500 },
	{ FAKE_NO_UNLINK, 0, NULL, OP_BULK_OUT_SLOW, -ENODEV, 1150, 2500 },
	{ FAKE_RACE, 0, NULL, OP_BULK_OUT_SLOW, 20, 150, 1000 },
	{ FAKE_LATE_IN, 0, NULL, OP_LATE_IN, 4, 300, 1500 },
	{ FAKE_NOT_CCID, -ENOENT, "no CCID interface in 1-1's configuration", OP_NONE, 0, 0, 1000 },
	{ FAKE_WRONG_BUSID, -EPROTO, "the server answered for \"9-9\"", OP_NONE, 0, 0, 1000 },
	{ FAKE_HUGE_CONFIG, -EMSGSIZE, "configuration descriptor of 60000 bytes", OP_NONE, 0, 0, 1000 },
	{ FAKE_CLOSE_MID_PDU, 0, NULL, OP_BULK_IN, -ENODEV, 0, 1000 },
	{ FAKE_RET_COMMAND, 0, NULL, OP_BULK_IN, -ENODEV, 0, 1000 },
	{ FAKE_CONFIG_SHORT, 0, NULL, OP_BULK_OUT, 20, 0, 1000 },
};

START_TEST(test_hostile)
{
	const struct fake_case *c = &fake_cases[_i];
	struct fake *f = fake_start(c->mode);
	struct uccid_transport *t = NULL;
	char url[64], err[256] = "";
	uint8_t buf[600];
	int64_t t0 = uccid_mono_ms(), dt;
	int r;

	ck_assert_int_eq(c->mode, _i);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", (unsigned)f->port);
	/* an unanswered unlink is given up after 1 s (a session waits its exchange deadline) */
	r = uccid_usbip_open_params(url, 0, &(struct uccid_usbip_params){ .timeout_ms = c->mode == FAKE_OP_STALL ? 500 : OPEN_MS,
									  .unlink_wait_ms = 1000 }, &t, err, sizeof(err));
	ck_assert_msg(r == c->open_r, "mode %d: open %d (%s), expected %d", _i, r, err, c->open_r);
	if (c->open_err)
		ck_assert_msg(strstr(err, c->open_err), "mode %d: \"%s\" lacks \"%s\"", _i, err, c->open_err);
	if (r == 0) {
		memset(buf, 0, sizeof(buf));
		if (c->op == OP_BULK_IN)
			r = t->ops->bulk_in(t, buf, 64, 150);
		else if (c->op == OP_BULK_OUT)
			r = t->ops->bulk_out(t, buf, 20, IO_MS);
		else if (c->op == OP_BULK_OUT_SLOW)
			r = t->ops->bulk_out(t, buf, 20, 150);
		if (c->op == OP_LATE_IN) {
			/*
			 * Reads that time out leave their URB submitted (the fake
			 * quits on a second bulk-IN CMD_SUBMIT, and never answers
			 * an unlink): the answer that comes later goes to the next
			 * read, through bulk_out_in too.
			 */
			ck_assert_int_eq(t->ops->bulk_in(t, buf, 64, 150), -ETIMEDOUT);
			ck_assert_int_eq(t->ops->bulk_in(t, buf, 64, 150), -ETIMEDOUT);
			ck_assert_int_eq(t->ops->bulk_out(t, buf, 20, IO_MS), 20);
			r = t->ops->bulk_in(t, buf, 64, IO_MS);
			ck_assert_int_eq(memcmp(buf, "LATE", 4), 0);
			ck_assert_int_eq(t->ops->bulk_in(t, buf, 64, 20), -ETIMEDOUT);
			r = t->ops->bulk_out_in(t, buf, 20, buf, 64, IO_MS, IO_MS, &(int){ 0 }) == 4 ? r : -1;
			ck_assert_int_eq(memcmp(buf, "LATE", 4), 0);
		}
		ck_assert_msg(r == c->op_r, "mode %d: %d, expected %d", _i, r, c->op_r);
		if (c->mode == FAKE_RACE)       /* the completed transfer is returned, and the stream is still in step */
			ck_assert_int_eq(t->ops->bulk_out(t, buf, 20, IO_MS), 20);
		if (c->op_r == -ENODEV)
			assert_all_gone(t);
	}
	dt = uccid_mono_ms() - t0;
	ck_assert_msg(dt >= c->min_ms && dt <= c->max_ms, "mode %d took %lld ms", _i, (long long)dt);
	if (t)
		t->ops->close(t);
	fake_stop(f);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Suite
 */

static Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	struct {
		const char *name;
		const TTest *fn;
		int loop_end;
	} cases[] = {
		{ "descriptors", test_descriptors, KIND_COUNT },
		{ "exchange", test_exchange, KIND_COUNT },
		{ "interrupt", test_interrupt, KIND_COUNT },
		{ "timeout", test_timeout, KIND_COUNT },
		{ "cancel", test_cancel, KIND_COUNT },
		{ "shared", test_shared, KIND_COUNT },
		{ "stall", test_stall, KIND_COUNT },
		{ "drop", test_drop, KIND_COUNT },
		{ "unplug", test_unplug, KIND_COUNT },
		{ "usbip-list", test_list, 1 },
		{ "usbip-url", test_url, 1 },
		{ "usbip-reader-url", test_reader_url, 1 },
		{ "usbip-open-errors", test_open_errors, 1 },
		{ "usbip-hostile", test_hostile, FAKE_COUNT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_set_timeout(tc, TEST_TIMEOUT);
		tcase_add_loop_test(tc, cases[i].fn, 0, cases[i].loop_end);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return tu_run(transport_suite());
}
