/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The in-process transport (vreader/transport_inproc.h): each
 * transport operation is one call into the device model's vusb_ops under
 * one mutex.  IN calls poll ops->in and, while it says -EAGAIN, sleep on a
 * condition variable until the earlier of their deadline and the device's
 * next_event; anything that can make data ready (OUT, control,
 * vreader_inproc_call) broadcasts.  The device's IN actions map as the
 * USB/IP server's do (ref §4 of shared/docs/reference/usbip.md): STALL is
 * -EPIPE, DROP_CONNECTION makes the device gone (-ENODEV from then on).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid/usb_desc.h"
#include "vreader/transport_inproc.h"
#include "vreader/vusb.h"
#include "util/clock.h"

#define REQ_CLEAR_FEATURE 0x01
#define REQ_GET_DESCRIPTOR 0x06
#define REQ_SET_CONFIGURATION 0x09

struct inproc {
	struct uccid_transport pub;     /* first: the ops get &pub */
	void *dev;                      /* what ops act on */
	struct vdev *ctl;               /* what vreader_inproc_call() hands out */
	const struct vusb_ops *ops;
	pthread_mutex_t lock;           /* the device and everything below */
	pthread_cond_t cond;            /* CLOCK_MONOTONIC */
	bool cancelled, gone;
	bool woken;                     /* wake(): the intr_in call returns (-EINTR without data) */
	uint8_t dev_desc[CCID_USB_DEVICE_DESC_LEN];
	uint8_t cfg[UCCID_DESC_MAX];
	size_t cfg_len;
};

static struct inproc *ip_of(struct uccid_transport *t)
{
	return (struct inproc *)(void *)t;
}

/* -ECANCELED / -ENODEV once cancelled / gone, else 0.  Lock held. */
static int state(const struct inproc *p)
{
	if (p->cancelled)
		return -ECANCELED;
	if (p->gone)
		return -ENODEV;
	return 0;
}

/* Sleep until the monotonic time 'until' (µs) or a broadcast. */
static void wait_until(struct inproc *p, int64_t until)
{
	struct timespec ts;

	if (until == VUSB_NEVER) {
		pthread_cond_wait(&p->cond, &p->lock);
		return;
	}
	ts.tv_sec = (time_t)(until / 1000000);
	ts.tv_nsec = (long)(until % 1000000) * 1000L;
	pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static int op_descriptors(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap)
{
	struct inproc *p = ip_of(t);
	int r;

	if (!dev || (!cfg && cfg_cap))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	r = state(p);
	if (r == 0 && cfg_cap < p->cfg_len)
		r = -ENOBUFS;
	if (r == 0) {
		memcpy(dev, p->dev_desc, sizeof(p->dev_desc));
		memcpy(cfg, p->cfg, p->cfg_len);
		r = (int)p->cfg_len;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* ops->control under the lock; -EPIPE is a STALL. */
static int control_locked(struct inproc *p, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
			  uint16_t wIndex, uint8_t *data, uint16_t wLength)
{
	uint8_t setup[8] = { bmRequestType, bRequest, (uint8_t)wValue, (uint8_t)(wValue >> 8),
			     (uint8_t)wIndex, (uint8_t)(wIndex >> 8), (uint8_t)wLength, (uint8_t)(wLength >> 8) };
	uint8_t none[1];
	int r;

	if (bmRequestType & 0x80)
		r = p->ops->control(p->dev, setup, NULL, data ? data : none, data ? wLength : 0, uccid_mono_us());
	else
		r = p->ops->control(p->dev, setup, data, none, 0, uccid_mono_us());
	if (r < 0)
		return r == -EPIPE ? -EPIPE : -EIO;
	return (bmRequestType & 0x80) ? r : wLength;
}

static int op_control(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
		      uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct inproc *p = ip_of(t);
	int r;

	if (wLength && !data)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	r = state(p);
	if (r == 0)
		r = control_locked(p, bmRequestType, bRequest, wValue, wIndex, data, wLength);
	pthread_cond_broadcast(&p->cond);   /* e.g. SET_CONFIGURATION queues a NotifySlotChange */
	pthread_mutex_unlock(&p->lock);
	return r;
}

static int op_bulk_out(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	struct inproc *p = ip_of(t);
	int r;

	if (len && !data)
		return -EINVAL;
	if (len > INT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	r = state(p);
	if (r == 0) {
		r = p->ops->out(p->dev, t->info.ep_bulk_out & 0x0F, data, len, uccid_mono_us());
		if (r < 0)
			r = r == -EPIPE ? -EPIPE : -EIO;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * Poll IN endpoint ep until data, an error, or the deadline: the device is
 * re-polled on every broadcast and at its next_event (never sooner than
 * 1 ms apart when it claims an event is already due, so a device that
 * keeps saying -EAGAIN cannot make us spin).
 */
static int in_transfer(struct inproc *p, uint8_t ep, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	bool intr = ep == p->pub.info.ep_intr_in;
	int64_t deadline = timeout_ms ? uccid_mono_us() + (int64_t)timeout_ms * 1000 : VUSB_NEVER;
	int r;

	if (!buf || !cap)
		return -EINVAL;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		enum vusb_in_action action = VUSB_IN_DATA;
		int64_t now, wake;

		r = state(p);
		if (r < 0)
			break;
		now = uccid_mono_us();
		r = p->ops->in(p->dev, ep, buf, cap, &action, now);
		if (action == VUSB_IN_STALL) {
			r = -EPIPE;
			break;
		}
		if (action == VUSB_IN_DROP_CONNECTION) {
			/* as the USB/IP server: half an answer, then the link is gone */
			p->gone = true;
			pthread_cond_broadcast(&p->cond);
			r = -ENODEV;
			break;
		}
		if (r != -EAGAIN) {
			if (r < 0)
				r = -EIO;
			break;
		}
		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		if (intr && p->woken) {
			r = -EINTR;
			break;
		}
		wake = p->ops->next_event ? p->ops->next_event(p->dev, now) : VUSB_NEVER;
		if (wake <= now)
			wake = now + 1000;
		if (wake > deadline)
			wake = deadline;
		wait_until(p, wake);
	}
	if (intr)
		p->woken = false;       /* this call has returned: the wake is spent */
	pthread_mutex_unlock(&p->lock);
	return r;
}

static int op_bulk_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	return in_transfer(ip_of(t), t->info.ep_bulk_in, buf, cap, timeout_ms);
}

static int op_intr_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	if (!t->info.ep_intr_in)
		return -ENOTSUP;
	return in_transfer(ip_of(t), t->info.ep_intr_in, buf, cap, timeout_ms);
}

static void op_cancel(struct uccid_transport *t)
{
	struct inproc *p = ip_of(t);

	pthread_mutex_lock(&p->lock);
	p->cancelled = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void op_wake(struct uccid_transport *t)
{
	struct inproc *p = ip_of(t);

	pthread_mutex_lock(&p->lock);
	p->woken = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static int op_clear_halt(struct uccid_transport *t, uint8_t ep)
{
	return op_control(t, 0x02, REQ_CLEAR_FEATURE, 0 /* ENDPOINT_HALT */, ep, NULL, 0, 0);
}

static void op_close(struct uccid_transport *t)
{
	struct inproc *p;

	if (!t)
		return;
	p = ip_of(t);
	if (p->ops->detach)
		p->ops->detach(p->dev, uccid_mono_us());
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const struct uccid_transport_ops vreader_inproc_ops = {
	.name = "inproc",
	.descriptors = op_descriptors,
	.control = op_control,
	.bulk_out = op_bulk_out,
	.bulk_in = op_bulk_in,
	.intr_in = op_intr_in,
	.cancel = op_cancel,
	.clear_halt = op_clear_halt,
	.close = op_close,
	.wake = op_wake,
};

void vreader_inproc_unplug(struct uccid_transport *t)
{
	struct inproc *p = ip_of(t);

	pthread_mutex_lock(&p->lock);
	p->gone = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void vreader_inproc_call(struct uccid_transport *t, void (*fn)(struct vdev *dev, void *ctx), void *ctx)
{
	struct inproc *p = ip_of(t);

	pthread_mutex_lock(&p->lock);
	fn(p->ctl, ctx);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* What a host does on attach: descriptors, SET_CONFIGURATION, the CCID interface (as the USB/IP client). */
static int attach(struct inproc *p, const char *name, unsigned index)
{
	struct ccid_usb_device_desc dd;
	struct ccid_usb_config *cfg;
	struct ccid_usb_ccid_interface ci;
	struct vusb_info vi;
	int r;

	p->ops->attach(p->dev, uccid_mono_us());
	r = control_locked(p, 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_DEVICE << 8, 0, p->dev_desc,
			   sizeof(p->dev_desc));
	if (r != CCID_USB_DEVICE_DESC_LEN || ccid_usb_device_desc_parse(p->dev_desc, (size_t)r, &dd, NULL) < 0)
		return -EBADMSG;
	r = control_locked(p, 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_CONFIG << 8, 0, p->cfg, sizeof(p->cfg));
	if (r < CCID_USB_CONFIG_DESC_LEN)
		return -EBADMSG;
	p->cfg_len = (size_t)r;
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	r = ccid_usb_config_parse(p->cfg, p->cfg_len, cfg, NULL);
	if (r < 0) {
		r = -EBADMSG;
		goto out;
	}
	r = control_locked(p, 0x00, REQ_SET_CONFIGURATION, cfg->bConfigurationValue, 0, NULL, 0);
	if (r < 0) {
		r = -EBADMSG;
		goto out;
	}
	r = ccid_usb_find_ccid(cfg, p->cfg, p->cfg_len, index, &ci, NULL);
	if (r < 0)
		goto out;
	p->ops->info(p->dev, &vi);
	p->pub.info.idVendor = dd.idVendor;
	p->pub.info.idProduct = dd.idProduct;
	p->pub.info.busnum = vi.busnum <= UINT8_MAX ? (uint8_t)vi.busnum : 0;
	p->pub.info.devnum = vi.devnum <= UINT8_MAX ? (uint8_t)vi.devnum : 0;
	snprintf(p->pub.info.path, sizeof(p->pub.info.path), "inproc:%.56s", name);
	p->pub.info.interface = ci.bInterfaceNumber;
	p->pub.info.ep_bulk_out = ci.ep_bulk_out;
	p->pub.info.ep_bulk_in = ci.ep_bulk_in;
	p->pub.info.ep_intr_in = ci.ep_intr_in;
	r = 0;
out:
	free(cfg);
	return r;
}

int vreader_inproc_open(struct vdev *dev, struct uccid_transport **ret)
{
	if (!dev)
		return -EINVAL;
	return vreader_inproc_open_usb(&vdev_usb_ops, dev, dev, vdev_config(dev)->name, 0, ret);
}

int vreader_inproc_open_usb(const struct vusb_ops *ops, void *dev, struct vdev *ctl, const char *name,
			    unsigned index, struct uccid_transport **ret)
{
	struct inproc *p;
	pthread_condattr_t ca;
	int r;

	if (!ops || !dev || !ctl || !name || !ret)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pub.ops = &vreader_inproc_ops;
	p->dev = dev;
	p->ctl = ctl;
	p->ops = ops;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = attach(p, name, index);
	if (r < 0) {
		op_close(&p->pub);
		return r;
	}
	*ret = &p->pub;
	return 0;
}
