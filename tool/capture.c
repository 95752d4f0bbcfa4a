/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recording transport of uccid --pcap (tool/capture.h).  Every
 * operation that moves bytes is forwarded to the reader's own transport
 * between a submission record, written as the call starts, and a
 * completion record, written as it returns, each with the wall-clock time
 * it happened at — what usbmon shows for the same traffic.
 *
 * URBs that outlive a call: the USB/IP client keeps an IN URB submitted
 * when a read times out (bulk-IN and interrupt-IN, as a host controller
 * does), and the next read takes it over; such a read writes no completion
 * and the next writes no submission.  Other transports end a timed-out or
 * woken transfer: its completion says -ENOENT (killed), as usbmon's does.
 * bulk_out_in submits both URBs at once; the OUT's completion is only
 * known when the call returns, and is written then, before the IN's.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tool/capture.h"

/* Standard requests (USB 2.0 §9.4) the capture writes on its own. */
#define REQ_CLEAR_FEATURE 0x01
#define REQ_GET_DESCRIPTOR 0x06
#define DESC_DEVICE 1
#define DESC_CONFIGURATION 2

struct tool_capture {
	pthread_mutex_t lock;           /* the writer and every wrapper's URB state */
	struct pcap_writer *w;
};

/* The URB an IN endpoint has submitted across calls (keeps_in transports). */
struct held {
	bool out;                       /* one is submitted */
	uint64_t id;
};

struct ctr {
	struct uccid_transport pub;     /* first: the ops get &pub */
	struct uccid_transport *inner;
	struct tool_capture *c;
	bool keeps_in;                  /* a timed-out IN read leaves its URB submitted */
	struct held bulk_in, intr_in;   /* under c->lock */
};

static struct ctr *ctr_of(struct uccid_transport *t)
{
	return (struct ctr *)t;
}

static struct timespec now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* What usbmon shows for a transfer that ended with our error r (< 0). */
static int usbmon_status(int r)
{
	switch (r) {
	case -ETIMEDOUT:
	case -EINTR:
	case -ECANCELED:
		return -ENOENT;         /* the host killed it */
	case -ENODEV:
		return -ESHUTDOWN;      /* the device went away */
	default:
		return r;               /* -EPIPE, -EOVERFLOW, -EPROTO ... as they are */
	}
}

static void setup_packet(uint8_t s[8], uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue, uint16_t wIndex,
			 uint16_t wLength)
{
	s[0] = bmRequestType;
	s[1] = bRequest;
	s[2] = (uint8_t)wValue;
	s[3] = (uint8_t)(wValue >> 8);
	s[4] = (uint8_t)wIndex;
	s[5] = (uint8_t)(wIndex >> 8);
	s[6] = (uint8_t)wLength;
	s[7] = (uint8_t)(wLength >> 8);
}

/* A completed control transfer; r its result (bytes or error). */
static void control_done(struct tool_capture *c, uint64_t id, bool in, int r, const uint8_t *data)
{
	struct timespec ts = now();

	pthread_mutex_lock(&c->lock);
	pcap_usb_complete(c->w, &ts, id, PCAP_XFER_CONTROL, in ? 0x80 : 0x00, r < 0 ? usbmon_status(r) : 0,
			  in && r > 0 ? data : NULL, r > 0 ? (size_t)r : 0);
	pthread_mutex_unlock(&c->lock);
}

static uint64_t control_submit(struct tool_capture *c, const uint8_t setup[8], const uint8_t *data, uint16_t wLength)
{
	struct timespec ts = now();
	bool in = setup[0] & 0x80;
	uint64_t id;

	pthread_mutex_lock(&c->lock);
	id = pcap_usb_submit(c->w, &ts, PCAP_XFER_CONTROL, in ? 0x80 : 0x00, setup, in ? NULL : data, wLength);
	pthread_mutex_unlock(&c->lock);
	return id;
}

/*
 * The device's GET_DESCRIPTOR answers, as read during the open (or the
 * reconnect) just before ts: Wireshark learns from them that the interface is
 * CCID.  A transport that cannot give them leaves the capture without
 * (Wireshark then needs "Decode As").
 */
static void write_descriptors(struct ctr *x, const struct timespec *ts)
{
	uint8_t dev[18], setup[8], *cfg = malloc(UCCID_DESC_MAX);
	struct tool_capture *c = x->c;
	int n = cfg ? x->inner->ops->descriptors(x->inner, dev, cfg, UCCID_DESC_MAX) : -ENOMEM;
	uint64_t id;

	if (n >= 0) {
		pthread_mutex_lock(&c->lock);
		pcap_set_device(c->w, x->inner->info.busnum, x->inner->info.devnum);
		setup_packet(setup, 0x80, REQ_GET_DESCRIPTOR, DESC_DEVICE << 8, 0, sizeof(dev));
		id = pcap_usb_submit(c->w, ts, PCAP_XFER_CONTROL, 0x80, setup, NULL, sizeof(dev));
		pcap_usb_complete(c->w, ts, id, PCAP_XFER_CONTROL, 0x80, 0, dev, sizeof(dev));
		setup_packet(setup, 0x80, REQ_GET_DESCRIPTOR, DESC_CONFIGURATION << 8, 0, (uint16_t)n);
		id = pcap_usb_submit(c->w, ts, PCAP_XFER_CONTROL, 0x80, setup, NULL, (size_t)n);
		pcap_usb_complete(c->w, ts, id, PCAP_XFER_CONTROL, 0x80, 0, cfg, (size_t)n);
		pthread_mutex_unlock(&c->lock);
	}
	free(cfg);
}

/* ---- IN reads: a submission unless one is held, a completion unless it stays held ---- */

static uint64_t in_begin(struct ctr *x, struct held *h, enum pcap_xfer xfer, uint8_t ep, size_t cap,
			 const struct timespec *ts)
{
	uint64_t id;

	if (h->out)
		return h->id;
	id = pcap_usb_submit(x->c->w, ts, xfer, ep, NULL, NULL, cap);
	h->out = true;
	h->id = id;
	return id;
}

/* r: the read's result.  An URB the transport keeps after a timeout or a wake stays held. */
static void in_end(struct ctr *x, struct held *h, enum pcap_xfer xfer, uint8_t ep, int r, const uint8_t *buf,
		   const struct timespec *ts)
{
	if (x->keeps_in && (r == -ETIMEDOUT || r == -EINTR))
		return;
	pcap_usb_complete(x->c->w, ts, h->id, xfer, ep, r < 0 ? usbmon_status(r) : 0, r > 0 ? buf : NULL,
			  r > 0 ? (size_t)r : 0);
	h->out = false;
}

static int read_in(struct ctr *x, struct held *h, enum pcap_xfer xfer, uint8_t ep, uint8_t *buf, size_t cap,
		   unsigned timeout_ms)
{
	struct uccid_transport *in = x->inner;
	struct timespec ts = now();
	int r;

	pthread_mutex_lock(&x->c->lock);
	in_begin(x, h, xfer, ep, cap, &ts);
	pthread_mutex_unlock(&x->c->lock);
	r = xfer == PCAP_XFER_BULK ? in->ops->bulk_in(in, buf, cap, timeout_ms)
				   : in->ops->intr_in(in, buf, cap, timeout_ms);
	ts = now();
	pthread_mutex_lock(&x->c->lock);
	in_end(x, h, xfer, ep, r, buf, &ts);
	pthread_mutex_unlock(&x->c->lock);
	return r;
}

/* ---- the operations ---- */

static int c_descriptors(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap)
{
	struct uccid_transport *in = ctr_of(t)->inner;

	return in->ops->descriptors(in, dev, cfg, cfg_cap);
}

static int c_control(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
		     uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct ctr *x = ctr_of(t);
	uint8_t setup[8];
	uint64_t id;
	int r;

	setup_packet(setup, bmRequestType, bRequest, wValue, wIndex, wLength);
	id = control_submit(x->c, setup, data, wLength);
	r = x->inner->ops->control(x->inner, bmRequestType, bRequest, wValue, wIndex, data, wLength, timeout_ms);
	control_done(x->c, id, bmRequestType & 0x80, r, data);
	return r;
}

static int c_bulk_out(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	struct ctr *x = ctr_of(t);
	uint8_t ep = x->inner->info.ep_bulk_out;
	struct timespec ts = now();
	uint64_t id;
	int r;

	pthread_mutex_lock(&x->c->lock);
	id = pcap_usb_submit(x->c->w, &ts, PCAP_XFER_BULK, ep, NULL, data, len);
	pthread_mutex_unlock(&x->c->lock);
	r = x->inner->ops->bulk_out(x->inner, data, len, timeout_ms);
	ts = now();
	pthread_mutex_lock(&x->c->lock);
	pcap_usb_complete(x->c->w, &ts, id, PCAP_XFER_BULK, ep, r < 0 ? usbmon_status(r) : 0, NULL,
			  r > 0 ? (size_t)r : 0);
	pthread_mutex_unlock(&x->c->lock);
	return r;
}

static int c_bulk_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct ctr *x = ctr_of(t);

	return read_in(x, &x->bulk_in, PCAP_XFER_BULK, x->inner->info.ep_bulk_in, buf, cap, timeout_ms);
}

static int c_bulk_out_in(struct uccid_transport *t, const uint8_t *out, size_t out_len, uint8_t *in, size_t in_cap,
			 unsigned out_timeout_ms, unsigned in_timeout_ms, int *out_rc)
{
	struct ctr *x = ctr_of(t);
	uint8_t ep_out = x->inner->info.ep_bulk_out, ep_in = x->inner->info.ep_bulk_in;
	struct timespec ts = now();
	bool held_before;
	uint64_t id;
	int r;

	pthread_mutex_lock(&x->c->lock);
	id = pcap_usb_submit(x->c->w, &ts, PCAP_XFER_BULK, ep_out, NULL, out, out_len);
	held_before = x->bulk_in.out;
	in_begin(x, &x->bulk_in, PCAP_XFER_BULK, ep_in, in_cap, &ts);
	pthread_mutex_unlock(&x->c->lock);
	r = x->inner->ops->bulk_out_in(x->inner, out, out_len, in, in_cap, out_timeout_ms, in_timeout_ms, out_rc);
	ts = now();
	pthread_mutex_lock(&x->c->lock);
	pcap_usb_complete(x->c->w, &ts, id, PCAP_XFER_BULK, ep_out, *out_rc < 0 ? usbmon_status(*out_rc) : 0, NULL,
			  *out_rc > 0 ? (size_t)*out_rc : 0);
	if (*out_rc < 0 && held_before && x->keeps_in) {
		/* the IN URB held from before was not this call's: it stays */
	} else {
		in_end(x, &x->bulk_in, PCAP_XFER_BULK, ep_in, *out_rc < 0 ? -ECANCELED : r, in, &ts);
	}
	pthread_mutex_unlock(&x->c->lock);
	return r;
}

static int c_intr_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct ctr *x = ctr_of(t);

	return read_in(x, &x->intr_in, PCAP_XFER_INTERRUPT, x->inner->info.ep_intr_in, buf, cap, timeout_ms);
}

static void c_cancel(struct uccid_transport *t)
{
	struct uccid_transport *in = ctr_of(t)->inner;

	in->ops->cancel(in);
}

/* CLEAR_FEATURE(ENDPOINT_HALT) on the wire (USB 2.0 §9.4.1): recorded as the control transfer it is. */
static int c_clear_halt(struct uccid_transport *t, uint8_t ep)
{
	struct ctr *x = ctr_of(t);
	uint8_t setup[8];
	uint64_t id;
	int r;

	setup_packet(setup, 0x02, REQ_CLEAR_FEATURE, 0, ep, 0);
	id = control_submit(x->c, setup, NULL, 0);
	r = x->inner->ops->clear_halt(x->inner, ep);
	control_done(x->c, id, false, r, NULL);
	return r;
}

static void c_close(struct uccid_transport *t)
{
	struct ctr *x;

	if (!t)
		return;
	x = ctr_of(t);
	x->inner->ops->close(x->inner);
	free(x);
}

static int c_why(struct uccid_transport *t, char *buf, size_t cap)
{
	struct uccid_transport *in = ctr_of(t)->inner;

	return in->ops->why ? in->ops->why(in, buf, cap) : 0;
}

static void c_wake(struct uccid_transport *t)
{
	struct uccid_transport *in = ctr_of(t)->inner;

	in->ops->wake(in);
}

/* A new instance of the device: what was held went with the old one; its descriptors again. */
static int c_reconnect(struct uccid_transport *t, unsigned timeout_ms, char *err, size_t errlen)
{
	struct ctr *x = ctr_of(t);
	struct timespec ts = now();
	int r = x->inner->ops->reconnect(x->inner, timeout_ms, err, errlen);

	if (r == 0) {
		x->pub.info = x->inner->info;
		pthread_mutex_lock(&x->c->lock);
		x->bulk_in.out = x->intr_in.out = false;
		pthread_mutex_unlock(&x->c->lock);
		write_descriptors(x, &ts);
	}
	return r;
}

/*
 * Two tables: the optional operations stay absent when the reader's own
 * transport has none (the session behaves as without the capture).
 */
#define CAPTURE_OPS(wake_, reconnect_, out_in_)                                                               \
	{                                                                                                     \
		.name = "capture", .descriptors = c_descriptors, .control = c_control, .bulk_out = c_bulk_out, \
		.bulk_in = c_bulk_in, .bulk_out_in = out_in_, .intr_in = c_intr_in, .cancel = c_cancel,       \
		.clear_halt = c_clear_halt, .close = c_close, .why = c_why, .wake = wake_,                    \
		.reconnect = reconnect_,                                                                      \
	}

static const struct uccid_transport_ops ops_table[8] = {
	CAPTURE_OPS(NULL, NULL, NULL),
	CAPTURE_OPS(NULL, NULL, c_bulk_out_in),
	CAPTURE_OPS(NULL, c_reconnect, NULL),
	CAPTURE_OPS(NULL, c_reconnect, c_bulk_out_in),
	CAPTURE_OPS(c_wake, NULL, NULL),
	CAPTURE_OPS(c_wake, NULL, c_bulk_out_in),
	CAPTURE_OPS(c_wake, c_reconnect, NULL),
	CAPTURE_OPS(c_wake, c_reconnect, c_bulk_out_in),
};

struct uccid_transport *tool_capture_wrap(void *ctx, struct uccid_transport *inner)
{
	struct tool_capture *c = ctx;
	struct ctr *x = calloc(1, sizeof(*x));
	const struct uccid_transport_ops *o = inner->ops;

	if (!x)
		return NULL;
	x->pub.ops = &ops_table[(o->wake ? 4 : 0) | (o->reconnect ? 2 : 0) | (o->bulk_out_in ? 1 : 0)];
	x->pub.info = inner->info;
	x->inner = inner;
	x->c = c;
	/* the USB/IP client keeps a timed-out IN URB submitted (transport/usbip_client.c) */
	x->keeps_in = !strcmp(o->name, "usbip");
	{
		struct timespec ts = now();

		write_descriptors(x, &ts);
	}
	return &x->pub;
}

void tool_capture_unwrap(struct uccid_transport *t)
{
	free(ctr_of(t));
}

struct tool_capture *tool_capture_new(struct pcap_writer *w)
{
	struct tool_capture *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->w = w;
	return c;
}

void tool_capture_free(struct tool_capture *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}
