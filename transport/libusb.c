/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libusb-1.0 transport (transport/libusb.h): finding CCID
 * interfaces in libusb's parsed descriptors, resolving a reader name, and
 * the transport ops.  Every transfer is submitted with the asynchronous API
 * and waited for with libusb_handle_events_timeout_completed(), which
 * libusb lets several threads call at once; a transfer in flight is on a
 * list under the transport's mutex so that cancel() can reach it.  A wait
 * sleeps until libusb has something for it (a completion, a cancellation,
 * the transfer's timeout) or wake() interrupts it, with no periodic
 * wake-up; the interrupt-IN transfer stays submitted between intr_in calls
 * (issue 14: an idle reader wakes nobody and unlinks no URB).
 * bulk_out_in has two transfers in flight at once (the IN queued before the
 * OUT, as the kernel runs queued URBs: one round trip per exchange), both on
 * that list.  No call returns while any of its transfers is still in
 * flight: the caller's buffers are never touched after the call returned.
 * libusb codes become negative errno in lu_errno() and nowhere else.
 *
 * Unplug: where libusb has hotplug support, a DEVICE_LEFT callback marks
 * the transport gone and cancels its transfers, so every pending and later
 * call returns -ENODEV as soon as any thread handles libusb events (every
 * waiting call does); everywhere, a transfer ending with NO_DEVICE does the
 * same.  uccid_libusb_watch() reports readers coming and going.
 */
#include "config.h"

#include "transport/libusb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ccid/class_desc.h"
#include "ccid/usb_desc.h"
#include "util/clock.h"
#include "util/errbuf.h"

/* USB 2.0 §9.4: standard request codes and descriptor types used here. */
#define REQ_GET_DESCRIPTOR 0x06
#define RT_DEVICE_IN 0x80

/*
 * How long one call into libusb's event handling may sleep when nothing
 * happens (issue 14: an idle reader wakes nobody).  A waiter is woken by
 * libusb itself for a completion, a cancellation (cancel(), the unplug
 * callback) or a transfer's timeout, and by wake() through
 * libusb_interrupt_event_handler(); the slice only bounds a wake-up lost
 * anyway.  A transfer with a timeout waits at most that timeout and
 * EVENT_GRACE_MS more per slice; one without (the parked interrupt-IN) at
 * most EVENT_IDLE_MS: one wake-up a minute per idle reader.
 */
#define EVENT_GRACE_MS 1000
#define EVENT_IDLE_MS 60000

/*
 * The interrupt-IN transfer's own buffer: it stays submitted across
 * intr_in calls, so it cannot use a caller's.  1024 bytes is the largest
 * interrupt packet (USB 2.0 §5.7.3); a CCID notification is a few bytes.
 */
#define INTR_BUF 1024

/*
 * A transfer of this file's, from submit to result (xfer_submit, xfer_wait,
 * xfer_result).  While libusb has it, it is on its transport's inflight list,
 * where cancel() and the unplug callback reach it.
 */
struct xfer {
	struct libusb_transfer *tr;
	bool in;                         /* IN: data that arrived before a timeout is returned */
	int completed;                   /* set by xfer_done */
	struct xfer *next;               /* in lu_transport.inflight, under its lock */
};

struct lu_transport {
	struct uccid_transport pub;      /* first: the ops get &pub */
	libusb_context *ctx;
	libusb_device_handle *h;
	uint8_t cfg_index;               /* of the active configuration, for GET_DESCRIPTOR */
	bool kernel_detached;
	atomic_bool cancelled;           /* cancel() was called: every call returns -ECANCELED */
	atomic_bool gone;                /* the device went away: every call returns -ENODEV */
	atomic_bool woken;               /* wake() asked: the intr_in call returns (-EINTR without data) */
	pthread_mutex_t lock;            /* orders submit against cancel() and unplug; guards inflight */
	struct xfer *inflight;
	/*
	 * The interrupt-IN transfer, submitted by the first intr_in call and
	 * kept submitted across calls that time out or are woken, so that an
	 * idle reader costs no URB unlink and no resubmission; what it brings
	 * goes to the next call.  intr.tr (allocated once) and intr_busy
	 * (submitted, libusb owns it until a caller saw intr.completed) are
	 * changed under lock by the one intr_in caller at a time, and by close.
	 */
	struct xfer intr;
	bool intr_busy;
	uint8_t intr_buf[INTR_BUF];
	/*
	 * The flag libusb's event wait watches for the intr_in caller
	 * (libusb_handle_events_timeout_completed's "completed"): set by the
	 * interrupt transfer's completion and by wake(), reset by the caller
	 * before it looks at what to return.  libusb reads it under its
	 * event-waiters lock; wake() sets it under the same lock.
	 */
	int intr_look;
	libusb_device *dev;              /* of h: what a DEVICE_LEFT event names */
	struct lu_transport *reg_next;   /* in the registry of open transports (reg_lock) */
};

static struct lu_transport *to_lu(struct uccid_transport *t)
{
	return (struct lu_transport *)t;
}

/* Returns from libusb's event handling in this file's waits, for uccid_libusb_event_wakeups(). */
static atomic_uint_least64_t event_wakeups;

uint64_t uccid_libusb_event_wakeups(void)
{
	return atomic_load(&event_wakeups);
}

/*
 * One call into libusb's event handling, for at most ms (0: none), until
 * *flag is set; counted.  Returns libusb's code.
 */
static int handle_events(libusb_context *ctx, unsigned ms, int *flag)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	int e = libusb_handle_events_timeout_completed(ctx, &tv, flag);

	atomic_fetch_add(&event_wakeups, 1);
	return e;
}

/* ---- the shared context ---- */

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static libusb_context *ctx_shared;
static unsigned ctx_refs;

/* One context for every transport and listing; created by the first user. */
static int ctx_get(libusb_context **ret)
{
	int r = 0;

	pthread_mutex_lock(&ctx_lock);
	if (ctx_refs == 0 && libusb_init(&ctx_shared) < 0) {
		ctx_shared = NULL;
		r = -EIO;
		goto out;
	}
	ctx_refs++;
	*ret = ctx_shared;
out:
	pthread_mutex_unlock(&ctx_lock);
	return r;
}

static void ctx_put(void)
{
	pthread_mutex_lock(&ctx_lock);
	if (ctx_refs && --ctx_refs == 0) {
		libusb_exit(ctx_shared);
		ctx_shared = NULL;
	}
	pthread_mutex_unlock(&ctx_lock);
}

/* ---- errors ---- */

/*
 * The one translation of libusb codes: code < 0 is an enum libusb_error,
 * code > 0 an enum libusb_transfer_status (the two ranges do not overlap).
 * t may be NULL (listing, opening).  A vanished device is remembered so that
 * every later call says so too.
 */
static int lu_errno(struct lu_transport *t, int code)
{
	int r;

	if (code < 0) {
		switch (code) {
		case LIBUSB_ERROR_IO: r = -EIO; break;
		case LIBUSB_ERROR_INVALID_PARAM: r = -EINVAL; break;
		case LIBUSB_ERROR_ACCESS: r = -EACCES; break;
		case LIBUSB_ERROR_NO_DEVICE: r = -ENODEV; break;
		case LIBUSB_ERROR_NOT_FOUND: r = -ENOENT; break;
		case LIBUSB_ERROR_BUSY: r = -EBUSY; break;
		case LIBUSB_ERROR_TIMEOUT: r = -ETIMEDOUT; break;
		case LIBUSB_ERROR_OVERFLOW: r = -EOVERFLOW; break;
		case LIBUSB_ERROR_PIPE: r = -EPIPE; break;
		case LIBUSB_ERROR_NO_MEM: r = -ENOMEM; break;
		case LIBUSB_ERROR_NOT_SUPPORTED: r = -ENOTSUP; break;
		default: r = -EIO; break;
		}
	} else {
		switch (code) {
		case LIBUSB_TRANSFER_COMPLETED: r = 0; break;
		case LIBUSB_TRANSFER_TIMED_OUT: r = -ETIMEDOUT; break;
		case LIBUSB_TRANSFER_STALL: r = -EPIPE; break;
		case LIBUSB_TRANSFER_NO_DEVICE: r = -ENODEV; break;
		case LIBUSB_TRANSFER_OVERFLOW: r = -EOVERFLOW; break;
		/* cancelled by cancel(), by the DEVICE_LEFT callback, or else (libusb_close of a busy handle) */
		case LIBUSB_TRANSFER_CANCELLED:
			r = t && atomic_load(&t->cancelled) ? -ECANCELED : t && atomic_load(&t->gone) ? -ENODEV : -EIO;
			break;
		default: r = -EIO; break;
		}
	}
	if (r == -ENODEV && t)
		atomic_store(&t->gone, true);
	return r;
}

/* The state every call checks first: after cancel() or unplug, nothing reaches the device. */
static int lu_state(struct lu_transport *t)
{
	if (atomic_load(&t->cancelled))
		return -ECANCELED;
	if (atomic_load(&t->gone))
		return -ENODEV;
	return 0;
}

/* ---- finding CCID interfaces in libusb's parsed descriptors ---- */

struct ccid_found {
	bool vendor_class;
	bool after_endpoint;
	struct ccid_class_desc cd;
};

/*
 * The CCID class descriptor among the class-specific descriptors libusb
 * left in "extra": 54 bytes, type 21 (CCID 1.1 §5.1) or FF (vendor-class
 * readers).  Each descriptor's bLength is checked against what is left.
 */
static bool find_class_desc(const unsigned char *extra, int extra_len, struct ccid_class_desc *ret)
{
	size_t off = 0, len = extra_len > 0 ? (size_t)extra_len : 0;

	while (extra && off + 2 <= len) {
		size_t bl = extra[off];

		if (bl < 2 || bl > len - off)
			return false;
		if (bl == CCID_CLASS_DESC_LEN &&
		    (extra[off + 1] == CCID_CLASS_DESC_TYPE || extra[off + 1] == CCID_CLASS_DESC_TYPE_VENDOR) &&
		    ccid_class_desc_parse(extra + off, bl, ret, NULL) == 0)
			return true;
		off += bl;
	}
	return false;
}

/*
 * Is this alternate setting a CCID interface?  Class 0B, or vendor class FF
 * with a CCID class descriptor (CCID 1.1 §4, §5.1).  libusb puts what
 * follows the interface descriptor in alt->extra, and what follows an
 * endpoint in that endpoint's extra: readers such as the O2Micro OZ776 put
 * the class descriptor after the last endpoint (libccid's workaround).
 */
static bool ccid_candidate(const struct libusb_interface_descriptor *alt, struct ccid_found *f)
{
	if (alt->bInterfaceClass != CCID_USB_CLASS_SMART_CARD && alt->bInterfaceClass != CCID_USB_CLASS_VENDOR)
		return false;
	f->vendor_class = alt->bInterfaceClass == CCID_USB_CLASS_VENDOR;
	f->after_endpoint = false;
	if (find_class_desc(alt->extra, alt->extra_length, &f->cd))
		return true;
	if (alt->bNumEndpoints && alt->endpoint) {
		const struct libusb_endpoint_descriptor *last = &alt->endpoint[alt->bNumEndpoints - 1];

		if (find_class_desc(last->extra, last->extra_length, &f->cd)) {
			f->after_endpoint = true;
			return true;
		}
	}
	return false;
}

/* The ASCII form of string descriptor idx, "" when absent or unreadable. */
static void read_string(libusb_device_handle *h, uint8_t idx, char *buf, size_t cap)
{
	int n;

	buf[0] = '\0';
	if (!h || !idx || cap < 2)
		return;
	n = libusb_get_string_descriptor_ascii(h, idx, (unsigned char *)buf, (int)(cap > INT_MAX ? INT_MAX : cap));
	if (n < 0 || (size_t)n >= cap)
		buf[0] = '\0';
	else
		buf[n] = '\0';
}

static void fill_names(struct uccid_libusb_reader *r)
{
	struct uccid_usb_name n = { .has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE,
				    .idVendor = r->idVendor, .idProduct = r->idProduct,
				    .busnum = r->busnum, .devnum = r->devnum, .interface = r->interface };

	if (r->serial[0]) {
		n.has |= UCCID_USB_HAS_SERIAL;
		memcpy(n.serial, r->serial, sizeof(n.serial));
	}
	/* The buffers are sized for the longest form; a failure leaves "" (a serial with ':'). */
	if (uccid_usb_name_format(&n, UCCID_USB_NAME_ID, r->name_id, sizeof(r->name_id)) < 0)
		r->name_id[0] = '\0';
	if (uccid_usb_name_format(&n, UCCID_USB_NAME_ID_SERIAL, r->name_serial, sizeof(r->name_serial)) < 0)
		r->name_serial[0] = '\0';
	if (uccid_usb_name_format(&n, UCCID_USB_NAME_BUS_ADDR, r->name_bus_addr, sizeof(r->name_bus_addr)) < 0)
		r->name_bus_addr[0] = '\0';
	if (uccid_usb_name_format(&n, UCCID_USB_NAME_LIBUDEV, r->name_libudev, sizeof(r->name_libudev)) < 0)
		r->name_libudev[0] = '\0';
	if (uccid_usb_name_format(&n, UCCID_USB_NAME_LIBUSB, r->name_libusb, sizeof(r->name_libusb)) < 0)
		r->name_libusb[0] = '\0';
}

/* Called for each CCID interface that matches; returns true to stop the scan. */
typedef bool (*visit_fn)(void *arg, libusb_device *dev, const struct uccid_libusb_reader *r);

/*
 * Visit the CCID interfaces of one device.  With a filter, only matching
 * interfaces are visited, and strings are read only where the filter needs
 * the serial; without one (listing) they are always read.  *unreadable is
 * incremented when the device matched but for the serial and could not be
 * opened to read it.  Returns true when fn asked to stop.
 */
static bool scan_device(libusb_device *dev, const struct uccid_usb_name *filter, visit_fn fn, void *arg,
			unsigned *unreadable)
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg = NULL;
	libusb_device_handle *h = NULL;
	bool strings_read = false, stop = false;
	char serial[UCCID_USB_SERIAL_MAX + 1] = "", product[UCCID_LIBUSB_PRODUCT_MAX] = "";

	if (libusb_get_device_descriptor(dev, &dd) < 0 || libusb_get_active_config_descriptor(dev, &cfg) < 0)
		return false;   /* unconfigured, or gone meanwhile */
	for (uint8_t k = 0; k < cfg->bNumInterfaces && cfg->interface && !stop; k++) {
		const struct libusb_interface *intf = &cfg->interface[k];
		struct uccid_libusb_reader r;
		struct uccid_usb_name dn;
		struct ccid_found f;

		if (intf->num_altsetting < 1 || !intf->altsetting || !ccid_candidate(&intf->altsetting[0], &f))
			continue;
		memset(&r, 0, sizeof(r));
		r.idVendor = dd.idVendor;
		r.idProduct = dd.idProduct;
		r.busnum = libusb_get_bus_number(dev);
		r.devnum = libusb_get_device_address(dev);
		r.interface = intf->altsetting[0].bInterfaceNumber;
		r.bInterfaceProtocol = intf->altsetting[0].bInterfaceProtocol;
		r.vendor_class = f.vendor_class;
		r.class_after_endpoint = f.after_endpoint;
		r.bMaxSlotIndex = f.cd.bMaxSlotIndex;
		r.dwFeatures = f.cd.dwFeatures;

		dn = (struct uccid_usb_name){ .has = UCCID_USB_HAS_ID | UCCID_USB_HAS_BUS_ADDR | UCCID_USB_HAS_INTERFACE,
					     .idVendor = r.idVendor, .idProduct = r.idProduct,
					     .busnum = r.busnum, .devnum = r.devnum, .interface = r.interface };
		if (filter) {
			struct uccid_usb_name without_serial = *filter;

			without_serial.has &= ~UCCID_USB_HAS_SERIAL;
			if (!uccid_usb_name_match(&without_serial, &dn))
				continue;
		}
		if (!strings_read && (!filter || filter->has & UCCID_USB_HAS_SERIAL)) {
			strings_read = true;
			if (libusb_open(dev, &h) == 0) {
				read_string(h, dd.iSerialNumber, serial, sizeof(serial));
				read_string(h, dd.iProduct, product, sizeof(product));
				libusb_close(h);
				h = NULL;
			} else if (filter) {
				(*unreadable)++;
			}
		}
		memcpy(r.serial, serial, sizeof(r.serial));
		memcpy(r.product, product, sizeof(r.product));
		if (r.serial[0]) {
			dn.has |= UCCID_USB_HAS_SERIAL;
			memcpy(dn.serial, r.serial, sizeof(dn.serial));
		}
		if (filter && !uccid_usb_name_match(filter, &dn))
			continue;
		fill_names(&r);
		stop = fn(arg, dev, &r);
	}
	libusb_free_config_descriptor(cfg);
	return stop;
}

/*
 * Walk every CCID interface of every device (scan_device).
 * *ret_unreadable (may be NULL) counts the devices that matched but for the
 * serial and could not be opened to read it.
 * Returns 0 or a negative errno (enumeration failed).
 */
static int scan(libusb_context *ctx, const struct uccid_usb_name *filter, visit_fn fn, void *arg,
		unsigned *ret_unreadable)
{
	libusb_device **list = NULL;
	ssize_t ndev = libusb_get_device_list(ctx, &list);
	unsigned unreadable = 0;

	if (ndev < 0)
		return lu_errno(NULL, (int)ndev);
	for (ssize_t i = 0; i < ndev; i++)
		if (scan_device(list[i], filter, fn, arg, &unreadable))
			break;
	libusb_free_device_list(list, 1);
	if (ret_unreadable)
		*ret_unreadable = unreadable;
	return 0;
}

struct list_arg {
	struct uccid_libusb_reader *out;
	size_t max, n;
};

static bool list_visit(void *arg, libusb_device *dev, const struct uccid_libusb_reader *r)
{
	struct list_arg *a = arg;

	(void)dev;
	if (a->n < a->max)
		a->out[a->n] = *r;
	a->n++;
	return a->n >= INT_MAX;
}

int uccid_libusb_list(struct uccid_libusb_reader *out, size_t max, char *err, size_t errlen)
{
	struct list_arg a = { .out = out, .max = out ? max : 0 };
	libusb_context *ctx;
	int r;

	r = ctx_get(&ctx);
	if (r < 0) {
		uccid_set_err(err, errlen, "libusb: cannot initialise");
		return r;
	}
	r = scan(ctx, NULL, list_visit, &a, NULL);
	ctx_put();
	if (r < 0) {
		uccid_set_err(err, errlen, "libusb: cannot list USB devices: %s", strerror(-r));
		return r;
	}
	return (int)a.n;
}

/* ---- transfers ---- */

/*
 * The completion flag is a plain int because libusb reads it (under its
 * event locks); this file reads and writes it with acquire/release atomics
 * so that a waiter that sees it set also sees the finished transfer (the
 * callback may run in another thread's event loop).
 */
static void LIBUSB_CALL xfer_done(struct libusb_transfer *tr)
{
	__atomic_store_n((int *)tr->user_data, 1, __ATOMIC_RELEASE);
}

/*
 * Submit x->tr (filled but for callback and user data) and put it on the
 * inflight list.  Returns 0, or a negative errno when it was not submitted
 * (nothing to wait for then).
 */
static int xfer_submit(struct lu_transport *t, struct xfer *x)
{
	int r;

	x->completed = 0;
	x->tr->callback = xfer_done;
	x->tr->user_data = &x->completed;

	/* Under the lock, cancel() and the unplug either see the flag set before the submit or find tr in the list. */
	pthread_mutex_lock(&t->lock);
	r = lu_state(t);
	if (r == 0) {
		r = libusb_submit_transfer(x->tr);
		if (r == 0) {
			x->next = t->inflight;
			t->inflight = x;
		} else {
			r = lu_errno(t, r);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Take x off the inflight list; t->lock held. */
static void inflight_remove(struct lu_transport *t, struct xfer *x)
{
	for (struct xfer **p = &t->inflight; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
}

/*
 * Handle libusb events until libusb gave a submitted x back (it completed,
 * its timeout expired or it was cancelled; libusb reaps a timed-out
 * transfer before reporting it), then take it off the inflight list.
 * Other transfers' completions are handled on the way.
 */
static void xfer_wait(struct lu_transport *t, struct xfer *x)
{
	/* a slice of the transfer's own timeout and a grace: libusb ends it at its timeout */
	unsigned slice = x->tr->timeout && x->tr->timeout < EVENT_IDLE_MS ? x->tr->timeout + EVENT_GRACE_MS
									   : EVENT_IDLE_MS;
	bool cancel_sent = false;

	while (!__atomic_load_n(&x->completed, __ATOMIC_ACQUIRE)) {
		int e = handle_events(t->ctx, slice, &x->completed);

		/* Event handling itself failed: end the transfer, but still wait for libusb to give it back. */
		if (e < 0 && e != LIBUSB_ERROR_INTERRUPTED && e != LIBUSB_ERROR_TIMEOUT && !cancel_sent) {
			libusb_cancel_transfer(x->tr);
			cancel_sent = true;
		}
	}

	pthread_mutex_lock(&t->lock);
	inflight_remove(t, x);
	pthread_mutex_unlock(&t->lock);
}

/*
 * What a transfer libusb gave back amounts to: actual_length or a negative
 * errno; an IN transfer that timed out after data arrived returns the data.
 */
static int xfer_result(struct lu_transport *t, const struct xfer *x)
{
	if (x->tr->status == LIBUSB_TRANSFER_COMPLETED)
		return x->tr->actual_length;
	if (x->in && x->tr->status == LIBUSB_TRANSFER_TIMED_OUT && x->tr->actual_length > 0)
		return x->tr->actual_length;
	return lu_errno(t, (int)x->tr->status);
}

/* One transfer from submit to result (xfer_submit, xfer_wait, xfer_result).  tr is not freed. */
static int run_transfer(struct lu_transport *t, struct libusb_transfer *tr, bool in)
{
	struct xfer x = { .tr = tr, .in = in };
	int r;

	r = xfer_submit(t, &x);
	if (r < 0)
		return r;
	xfer_wait(t, &x);
	return xfer_result(t, &x);
}

static int transfer(struct lu_transport *t, uint8_t ep, unsigned char type, uint8_t *buf, size_t len,
		    unsigned timeout_ms)
{
	struct libusb_transfer *tr;
	int r;

	if (len > INT_MAX || (len && !buf))
		return -EINVAL;
	r = lu_state(t);
	if (r < 0)
		return r;
	tr = libusb_alloc_transfer(0);
	if (!tr)
		return -ENOMEM;
	if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT)
		libusb_fill_interrupt_transfer(tr, t->h, ep, buf, (int)len, NULL, NULL, timeout_ms);
	else
		libusb_fill_bulk_transfer(tr, t->h, ep, buf, (int)len, NULL, NULL, timeout_ms);
	r = run_transfer(t, tr, ep & LIBUSB_ENDPOINT_IN);
	libusb_free_transfer(tr);
	return r;
}

static int op_control(struct uccid_transport *pub, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
		      uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct lu_transport *t = to_lu(pub);
	bool in = bmRequestType & LIBUSB_ENDPOINT_IN;
	struct libusb_transfer *tr = NULL;
	unsigned char *buf = NULL;
	int r;

	if (wLength && !data)
		return -EINVAL;
	r = lu_state(t);
	if (r < 0)
		return r;
	r = -ENOMEM;
	buf = malloc(LIBUSB_CONTROL_SETUP_SIZE + (size_t)wLength);
	tr = libusb_alloc_transfer(0);
	if (!buf || !tr)
		goto out;
	libusb_fill_control_setup(buf, bmRequestType, bRequest, wValue, wIndex, wLength);
	if (!in && wLength)
		memcpy(buf + LIBUSB_CONTROL_SETUP_SIZE, data, wLength);
	libusb_fill_control_transfer(tr, t->h, buf, NULL, NULL, timeout_ms);
	r = run_transfer(t, tr, in);
	/* actual_length excludes the setup packet and never exceeds wLength; check anyway. */
	if (r > wLength)
		r = -EOVERFLOW;
	else if (r > 0 && in)
		memcpy(data, buf + LIBUSB_CONTROL_SETUP_SIZE, (size_t)r);
out:
	libusb_free_transfer(tr);
	free(buf);
	return r;
}

/* transport.h: what went out, as libusb's actual_length says; fewer than len is the caller's -EIO. */
static int op_bulk_out(struct uccid_transport *pub, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	struct lu_transport *t = to_lu(pub);

	/* libusb does not write to an OUT transfer's buffer; the cast only fits its signature. */
	return transfer(t, t->pub.info.ep_bulk_out, LIBUSB_TRANSFER_TYPE_BULK, (uint8_t *)(uintptr_t)data, len,
			timeout_ms);
}

static int op_bulk_in(struct uccid_transport *pub, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct lu_transport *t = to_lu(pub);

	return transfer(t, t->pub.info.ep_bulk_in, LIBUSB_TRANSFER_TYPE_BULK, buf, cap, timeout_ms);
}

/*
 * transport.h's bulk_out_in.  The IN transfer is submitted first, so that
 * the host controller already polls for the answer when the OUT completes,
 * then the OUT; both are waited for.  libusb counts a timeout from the
 * submission: in_timeout_ms includes the time the OUT took.  An OUT that
 * failed (or went out short) cancels the IN transfer: the command did not
 * reach the reader whole, so there is no answer to wait for, and whatever
 * the IN brought meanwhile is dropped with it.
 */
static int op_bulk_out_in(struct uccid_transport *pub, const uint8_t *out, size_t out_len, uint8_t *in,
			  size_t in_cap, unsigned out_timeout_ms, unsigned in_timeout_ms, int *out_rc)
{
	struct lu_transport *t = to_lu(pub);
	struct xfer xo = { .in = false }, xi = { .in = true };
	int r = 0, ro;

	if (!out_rc)
		return -EINVAL;
	ro = -EINVAL;
	if (out_len > INT_MAX || (out_len && !out) || !in || !in_cap || in_cap > INT_MAX)
		goto out;
	ro = -ENOMEM;
	xo.tr = libusb_alloc_transfer(0);
	xi.tr = libusb_alloc_transfer(0);
	if (!xo.tr || !xi.tr)
		goto out;
	libusb_fill_bulk_transfer(xi.tr, t->h, t->pub.info.ep_bulk_in, in, (int)in_cap, NULL, NULL, in_timeout_ms);
	/* libusb does not write to an OUT transfer's buffer; the cast only fits its signature. */
	libusb_fill_bulk_transfer(xo.tr, t->h, t->pub.info.ep_bulk_out, (uint8_t *)(uintptr_t)out, (int)out_len,
				  NULL, NULL, out_timeout_ms);
	ro = xfer_submit(t, &xi);
	if (ro < 0)
		goto out;
	ro = xfer_submit(t, &xo);
	if (ro == 0) {
		xfer_wait(t, &xo);
		ro = xfer_result(t, &xo);
	}
	/* a command that did not go out whole has no answer to wait for */
	if (ro < 0 || (size_t)ro != out_len)
		libusb_cancel_transfer(xi.tr);   /* NOT_FOUND when it already ended: harmless */
	xfer_wait(t, &xi);
	r = xfer_result(t, &xi);
out:
	libusb_free_transfer(xo.tr);
	libusb_free_transfer(xi.tr);
	*out_rc = ro;
	return ro < 0 ? ro : (size_t)ro != out_len ? -EIO : r;
}

/* The interrupt transfer's completion: for the intr_in caller's own wait and libusb's. */
static void LIBUSB_CALL intr_done(struct libusb_transfer *tr)
{
	struct lu_transport *t = tr->user_data;

	__atomic_store_n(&t->intr.completed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&t->intr_look, 1, __ATOMIC_SEQ_CST);
}

/*
 * Submit the interrupt transfer unless it is still submitted from an
 * earlier call (it then may have completed meanwhile: its result is this
 * call's).  A wake() that came while no transfer was submitted is this
 * call's -EINTR.  t->lock held.
 */
static int intr_park(struct lu_transport *t)
{
	int r = lu_state(t);

	if (r < 0 || t->intr_busy)
		return r;
	if (atomic_exchange(&t->woken, false))
		return -EINTR;
	if (!t->intr.tr) {
		t->intr.tr = libusb_alloc_transfer(0);
		if (!t->intr.tr)
			return -ENOMEM;
	}
	/* no timeout: the transfer waits for the reader however long; the caller's wait has its own */
	libusb_fill_interrupt_transfer(t->intr.tr, t->h, t->pub.info.ep_intr_in, t->intr_buf, INTR_BUF, intr_done,
				       t, 0);
	t->intr.in = true;
	t->intr.completed = 0;
	r = libusb_submit_transfer(t->intr.tr);
	if (r < 0)
		return lu_errno(t, r);
	t->intr.next = t->inflight;
	t->inflight = &t->intr;
	t->intr_busy = true;
	return 0;
}

/*
 * transport.h's intr_in.  The transfer stays submitted when the call
 * times out or is woken (issue 14: no URB unlink, no resubmission per idle
 * read; it consumed nothing, so the next call gets what the reader sends).
 * The caller sleeps in libusb's event handling until the transfer
 * completes, wake() sets intr_look, or timeout_ms passes: no periodic
 * wake-up.  cancel() and an unplug cancel the transfer: the call returns
 * -ECANCELED / -ENODEV.
 */
static int op_intr_in(struct uccid_transport *pub, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct lu_transport *t = to_lu(pub);
	int64_t deadline;
	bool cancel_sent = false;
	int r;

	if (!t->pub.info.ep_intr_in)
		return -ENOTSUP;
	if (!buf || !cap || cap > INT_MAX)
		return -EINVAL;
	deadline = timeout_ms ? uccid_mono_us() + (int64_t)timeout_ms * 1000 : INT64_MAX;
	pthread_mutex_lock(&t->lock);
	r = intr_park(t);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r;
	for (;;) {
		int64_t left;
		int e;

		/* reset before looking: a completion or wake() after this sets it again and ends the wait below */
		__atomic_store_n(&t->intr_look, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&t->intr.completed, __ATOMIC_ACQUIRE))
			break;
		if (atomic_exchange(&t->woken, false))
			return -EINTR;          /* the transfer stays submitted */
		left = deadline == INT64_MAX ? (int64_t)EVENT_IDLE_MS * 1000 : deadline - uccid_mono_us();
		if (left <= 0)
			return -ETIMEDOUT;      /* the transfer stays submitted */
		e = handle_events(t->ctx, left > (int64_t)EVENT_IDLE_MS * 1000 ? EVENT_IDLE_MS : (unsigned)((left + 999) / 1000),
				  &t->intr_look);
		/* event handling itself failed: end the transfer, and wait for libusb to give it back */
		if (e < 0 && e != LIBUSB_ERROR_INTERRUPTED && e != LIBUSB_ERROR_TIMEOUT && !cancel_sent) {
			libusb_cancel_transfer(t->intr.tr);
			cancel_sent = true;
			deadline = INT64_MAX;
		}
	}
	pthread_mutex_lock(&t->lock);
	inflight_remove(t, &t->intr);
	t->intr_busy = false;
	pthread_mutex_unlock(&t->lock);
	r = xfer_result(t, &t->intr);
	if (r > 0) {
		if ((size_t)r > cap)
			return -EOVERFLOW;      /* more than the caller can take: as a babble */
		memcpy(buf, t->intr_buf, (size_t)r);
	}
	return r;
}

/*
 * Set flag (cancelled or gone) and cancel every transfer in flight, under
 * t->lock: no transfer is submitted after this (xfer_submit checks the
 * flags under the same lock), and those in flight end now.  A transfer that
 * already completed but is not yet off the list gives NOT_FOUND: harmless.
 */
static void end_transfers(struct lu_transport *t, atomic_bool *flag)
{
	pthread_mutex_lock(&t->lock);
	atomic_store(flag, true);
	for (struct xfer *x = t->inflight; x; x = x->next)
		libusb_cancel_transfer(x->tr);
	pthread_mutex_unlock(&t->lock);
}

static void op_cancel(struct uccid_transport *pub)
{
	struct lu_transport *t = to_lu(pub);

	if (!t)
		return;
	end_transfers(t, &t->cancelled);
}

/*
 * The intr_in caller's wait ends (its transfer stays submitted), or the
 * next call returns -EINTR unless data is there.  intr_look is set under
 * libusb's event-waiters lock, where libusb reads it before it sleeps, and
 * the thread handling events is interrupted: its return wakes the waiters
 * (or, when the caller is that thread, it returns itself).
 */
static void op_wake(struct uccid_transport *pub)
{
	struct lu_transport *t = to_lu(pub);

	atomic_store(&t->woken, true);
	libusb_lock_event_waiters(t->ctx);
	__atomic_store_n(&t->intr_look, 1, __ATOMIC_SEQ_CST);
	libusb_unlock_event_waiters(t->ctx);
	libusb_interrupt_event_handler(t->ctx);
}

/*
 * CLEAR_FEATURE(ENDPOINT_HALT) (USB 2.0 §9.4.1) through libusb_clear_halt,
 * which on Linux also resets the host's data toggle (§8.5.5 requires both
 * sides to restart at DATA0).  It is synchronous: cancel() does not end it,
 * the kernel's control timeout (5 s) bounds it.
 */
static int op_clear_halt(struct uccid_transport *pub, uint8_t ep)
{
	struct lu_transport *t = to_lu(pub);
	int r = lu_state(t);

	if (r < 0)
		return r;
	if (ep == 0 || (ep != t->pub.info.ep_bulk_in && ep != t->pub.info.ep_bulk_out && ep != t->pub.info.ep_intr_in))
		return -EINVAL;
	r = libusb_clear_halt(t->h, ep);
	return r < 0 ? lu_errno(t, r) : 0;
}

/* GET_DESCRIPTOR (USB 2.0 §9.4.3) on the control pipe, like any other control transfer. */
static int get_descriptor(struct lu_transport *t, uint8_t type, uint8_t index, uint8_t *buf, uint16_t len,
			  unsigned timeout_ms)
{
	return op_control(&t->pub, RT_DEVICE_IN, REQ_GET_DESCRIPTOR, (uint16_t)(type << 8 | index), 0, buf, len,
			  timeout_ms);
}

#define DESC_TIMEOUT_MS 5000

/*
 * The device descriptor, then the active configuration: its first 9 bytes
 * give wTotalLength (USB 2.0 §9.6.3), then the whole of it.  A device that
 * answers short, or declares a configuration beyond UCCID_DESC_MAX, gets -EIO.
 */
static int read_descriptors(struct lu_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap,
			    unsigned timeout_ms)
{
	uint8_t hdr[CCID_USB_CONFIG_DESC_LEN];
	unsigned total;
	int r;

	r = get_descriptor(t, CCID_USB_DT_DEVICE, 0, dev, CCID_USB_DEVICE_DESC_LEN, timeout_ms);
	if (r < 0)
		return r;
	if (r != CCID_USB_DEVICE_DESC_LEN)
		return -EIO;
	r = get_descriptor(t, CCID_USB_DT_CONFIG, t->cfg_index, hdr, sizeof(hdr), timeout_ms);
	if (r < 0)
		return r;
	if (r != (int)sizeof(hdr))
		return -EIO;
	total = (unsigned)hdr[2] | (unsigned)hdr[3] << 8;
	if (total < sizeof(hdr) || total > UCCID_DESC_MAX)
		return -EIO;
	if (!cfg || total > cfg_cap)
		return -ENOBUFS;
	r = get_descriptor(t, CCID_USB_DT_CONFIG, t->cfg_index, cfg, (uint16_t)total, timeout_ms);
	if (r < 0)
		return r;
	if ((unsigned)r != total)
		return -EIO;
	return r;
}

static int op_descriptors(struct uccid_transport *pub, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap)
{
	return read_descriptors(to_lu(pub), dev, cfg, cfg_cap, DESC_TIMEOUT_MS);
}

/* ---- unplug: open transports learn that their device left ---- */

/*
 * The open transports, for the DEVICE_LEFT callback.  It looks the device
 * up here under reg_lock instead of trusting a user_data pointer: libusb
 * may still run a callback in another thread's event loop after
 * deregistration returned, when the transport may be freed.  One callback
 * for all transports, registered while any is open.  Lock order: hp_lock,
 * reg_lock, lu_transport.lock; the callback takes reg_lock only, and
 * libusb's hotplug functions are never called under reg_lock.
 */
static pthread_mutex_t hp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu_transport *reg_head;
static libusb_hotplug_callback_handle hp_handle;
static bool hp_registered;

static int LIBUSB_CALL on_device_left(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *arg)
{
	(void)ctx;
	(void)ev;
	(void)arg;
	pthread_mutex_lock(&reg_lock);
	for (struct lu_transport *t = reg_head; t; t = t->reg_next) {
		if (t->dev != dev)
			continue;
		end_transfers(t, &t->gone);
	}
	pthread_mutex_unlock(&reg_lock);
	return 0;       /* stay registered */
}

/* Enter t in the registry; registers the callback if libusb can (without it, transfer errors tell). */
static void reg_add(struct lu_transport *t)
{
	pthread_mutex_lock(&hp_lock);
	if (!hp_registered && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG))
		hp_registered = libusb_hotplug_register_callback(t->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
								 LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
								 LIBUSB_HOTPLUG_MATCH_ANY, on_device_left, NULL,
								 &hp_handle) == LIBUSB_SUCCESS;
	pthread_mutex_lock(&reg_lock);
	t->reg_next = reg_head;
	reg_head = t;
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_unlock(&hp_lock);
}

/* Take t out; the last one out deregisters the callback (before its context can go). */
static void reg_remove(struct lu_transport *t)
{
	bool empty;

	pthread_mutex_lock(&hp_lock);
	pthread_mutex_lock(&reg_lock);
	for (struct lu_transport **p = &reg_head; *p; p = &(*p)->reg_next)
		if (*p == t) {
			*p = t->reg_next;
			break;
		}
	empty = reg_head == NULL;
	pthread_mutex_unlock(&reg_lock);
	if (empty && hp_registered) {
		libusb_hotplug_deregister_callback(t->ctx, hp_handle);
		hp_registered = false;
	}
	pthread_mutex_unlock(&hp_lock);
}

/*
 * Close: the parked interrupt transfer is cancelled and given back by
 * libusb before its buffer goes, within a bound (after an unplug libusb
 * gives it back at once).  Should libusb keep it beyond that,
 * libusb_close() takes it off libusb's lists before it is freed.
 */
static void intr_unpark(struct lu_transport *t)
{
	int64_t deadline = uccid_mono_us() + (int64_t)EVENT_GRACE_MS * 2000;

	pthread_mutex_lock(&t->lock);
	if (t->intr_busy)
		libusb_cancel_transfer(t->intr.tr);
	pthread_mutex_unlock(&t->lock);
	while (t->intr_busy && !__atomic_load_n(&t->intr.completed, __ATOMIC_ACQUIRE) && uccid_mono_us() < deadline)
		handle_events(t->ctx, EVENT_GRACE_MS, &t->intr.completed);
	pthread_mutex_lock(&t->lock);
	if (t->intr_busy)
		inflight_remove(t, &t->intr);
	pthread_mutex_unlock(&t->lock);
}

static void op_close(struct uccid_transport *pub)
{
	struct lu_transport *t = to_lu(pub);

	if (!t)
		return;
	reg_remove(t);
	intr_unpark(t);
	if (t->h) {
		/* after an unplug these fail with NO_DEVICE: nothing left to undo */
		libusb_release_interface(t->h, t->pub.info.interface);
		if (t->kernel_detached)
			libusb_attach_kernel_driver(t->h, t->pub.info.interface);
		libusb_close(t->h);
	}
	libusb_free_transfer(t->intr.tr);
	pthread_mutex_destroy(&t->lock);
	free(t);
	ctx_put();
}

const struct uccid_transport_ops uccid_libusb_ops = {
	.name = "libusb",
	.descriptors = op_descriptors,
	.control = op_control,
	.bulk_out = op_bulk_out,
	.bulk_in = op_bulk_in,
	.bulk_out_in = op_bulk_out_in,
	.intr_in = op_intr_in,
	.cancel = op_cancel,
	.wake = op_wake,
	.clear_halt = op_clear_halt,
	.close = op_close,
};

/* ---- opening ---- */

struct pick_arg {
	unsigned index, seen;
	libusb_device *dev;              /* referenced */
	struct uccid_libusb_reader r;
};

static bool pick_visit(void *arg, libusb_device *dev, const struct uccid_libusb_reader *r)
{
	struct pick_arg *a = arg;

	if (a->seen++ != a->index)
		return false;
	a->dev = libusb_ref_device(dev);
	a->r = *r;
	return true;
}

/* Index of the active configuration among the device's configurations (GET_DESCRIPTOR wants the index). */
static int active_config_index(libusb_device *dev, uint8_t *ret)
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *active = NULL;
	int r;

	r = libusb_get_device_descriptor(dev, &dd);
	if (r == 0)
		r = libusb_get_active_config_descriptor(dev, &active);
	if (r < 0)
		return lu_errno(NULL, r);
	r = -ENOENT;
	for (uint8_t i = 0; i < dd.bNumConfigurations; i++) {
		struct libusb_config_descriptor *c = NULL;

		if (libusb_get_config_descriptor(dev, i, &c) < 0)
			continue;
		if (c->bConfigurationValue == active->bConfigurationValue) {
			*ret = i;
			r = 0;
		}
		libusb_free_config_descriptor(c);
		if (r == 0)
			break;
	}
	libusb_free_config_descriptor(active);
	return r;
}

/* The endpoints of interface intf, found in the raw configuration by the codec's own rules. */
static int find_endpoints(struct lu_transport *t, const char *name, unsigned timeout_ms, char *err,
			  size_t errlen)
{
	uint8_t dev[CCID_USB_DEVICE_DESC_LEN];
	uint8_t *raw = NULL;
	struct ccid_usb_config *cfg = NULL;
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag = { 0, "" };
	int r, len;

	r = -ENOMEM;
	raw = malloc(UCCID_DESC_MAX);
	cfg = malloc(sizeof(*cfg));
	if (!raw || !cfg)
		goto out;
	len = read_descriptors(t, dev, raw, UCCID_DESC_MAX, timeout_ms);
	if (len < 0) {
		r = len;
		uccid_set_err(err, errlen, "%.80s: cannot read the descriptors: %s", name, strerror(-r));
		goto out;
	}
	r = ccid_usb_config_parse(raw, (size_t)len, cfg, &diag);
	if (r < 0) {
		uccid_set_err(err, errlen, "%.80s: configuration descriptor malformed at offset %zu: expected %s", name,
			diag.offset, diag.expected);
		goto out;
	}
	for (unsigned n = 0;; n++) {
		r = ccid_usb_find_ccid(cfg, raw, (size_t)len, n, &ci, &diag);
		if (r == -ENOENT) {
			uccid_set_err(err, errlen, "%.80s: interface %u is not a CCID interface", name,
				t->pub.info.interface);
			goto out;
		}
		if (r < 0) {
			uccid_set_err(err, errlen, "%.80s: CCID interface malformed at offset %zu: expected %s", name,
				diag.offset, diag.expected);
			goto out;
		}
		if (ci.bInterfaceNumber == t->pub.info.interface)
			break;
	}
	t->pub.info.ep_bulk_in = ci.ep_bulk_in;
	t->pub.info.ep_bulk_out = ci.ep_bulk_out;
	t->pub.info.ep_intr_in = ci.ep_intr_in;
	r = 0;
out:
	free(cfg);
	free(raw);
	return r;
}

int uccid_libusb_open(const char *name, unsigned index, unsigned timeout_ms, struct uccid_transport **ret,
		      char *err, size_t errlen)
{
	struct uccid_usb_name filter;
	struct pick_arg pick = { .index = index };
	struct lu_transport *t = NULL;
	libusb_context *ctx = NULL;
	unsigned unreadable = 0;
	bool claimed = false;
	int r;

	if (!ret || !name) {
		uccid_set_err(err, errlen, "no reader name");
		return -EINVAL;
	}
	r = uccid_usb_name_parse(name, &filter);
	if (r < 0) {
		uccid_set_err(err, errlen, "%.80s: not a USB reader name (usb:VVVV/PPPP[:SERIAL], usb:BUS:ADDR)", name);
		return r;
	}
	r = ctx_get(&ctx);
	if (r < 0) {
		uccid_set_err(err, errlen, "%.80s: libusb cannot initialise", name);
		return r;
	}
	r = scan(ctx, &filter, pick_visit, &pick, &unreadable);
	if (r < 0) {
		uccid_set_err(err, errlen, "%.80s: cannot list USB devices: %s", name, strerror(-r));
		goto out;
	}
	if (!pick.dev) {
		r = -ENOENT;
		if (unreadable)
			uccid_set_err(err, errlen, "%.80s: no such reader (%u device(s) with that ID could not be "
				"opened to read the serial: permission denied? see udev rules)", name, unreadable);
		else if (index && pick.seen)
			uccid_set_err(err, errlen, "%.80s: no such reader (%u match, index %u asked)", name, pick.seen,
				index);
		else
			uccid_set_err(err, errlen, "%.80s: no such reader", name);
		goto out;
	}

	r = -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	pthread_mutex_init(&t->lock, NULL);
	atomic_init(&t->cancelled, false);
	atomic_init(&t->woken, false);
	atomic_init(&t->gone, false);
	t->ctx = ctx;
	t->pub.ops = &uccid_libusb_ops;
	t->pub.info.idVendor = pick.r.idVendor;
	t->pub.info.idProduct = pick.r.idProduct;
	t->pub.info.busnum = pick.r.busnum;
	t->pub.info.devnum = pick.r.devnum;
	t->pub.info.interface = pick.r.interface;
	snprintf(t->pub.info.path, sizeof(t->pub.info.path), "%s", pick.r.name_libusb);

	r = libusb_open(pick.dev, &t->h);
	if (r < 0) {
		t->h = NULL;
		r = lu_errno(NULL, r);
		if (r == -EACCES)
			uccid_set_err(err, errlen, "%.80s: permission denied (see udev rules)", name);
		else
			uccid_set_err(err, errlen, "%.80s: cannot open: %s", name, strerror(-r));
		goto out;
	}
	r = active_config_index(pick.dev, &t->cfg_index);
	if (r < 0) {
		uccid_set_err(err, errlen, "%.80s: no active configuration", name);
		goto out;
	}
	/* Linux usbfs: a kernel driver bound to the interface must let go before the claim. */
	if (libusb_kernel_driver_active(t->h, pick.r.interface) == 1) {
		r = libusb_detach_kernel_driver(t->h, pick.r.interface);
		if (r < 0) {
			r = lu_errno(NULL, r);
			uccid_set_err(err, errlen, "%.80s: cannot detach the kernel driver of interface %u: %s", name,
				pick.r.interface, strerror(-r));
			goto out;
		}
		t->kernel_detached = true;
	}
	r = libusb_claim_interface(t->h, pick.r.interface);
	if (r < 0) {
		r = lu_errno(NULL, r);
		if (r == -EBUSY)
			uccid_set_err(err, errlen, "%.80s: interface %u busy (claimed by another program)", name,
				pick.r.interface);
		else
			uccid_set_err(err, errlen, "%.80s: cannot claim interface %u: %s", name, pick.r.interface,
				strerror(-r));
		goto out;
	}
	claimed = true;
	r = find_endpoints(t, name, timeout_ms, err, errlen);
	if (r < 0)
		goto out;
	t->dev = libusb_get_device(t->h);
	reg_add(t);
	*ret = &t->pub;
	t = NULL;
	ctx = NULL;   /* the transport holds the reference now */
	r = 0;
out:
	if (t) {
		if (claimed)
			libusb_release_interface(t->h, t->pub.info.interface);
		if (t->kernel_detached)
			libusb_attach_kernel_driver(t->h, t->pub.info.interface);
		if (t->h)
			libusb_close(t->h);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
	if (pick.dev)
		libusb_unref_device(pick.dev);
	if (ctx)
		ctx_put();
	return r;
}

/* ---- watching readers come and go ---- */

/*
 * The watch sleeps in libusb's poll (or nanosleep) until a hotplug event,
 * the next rescan or a signal (which interrupts the sleep: EINTR).  The
 * tick bounds how late a stop that lands just before the sleep is seen.
 * Hotplug events reach libusb only through a udev daemon (its control
 * socket says it runs); without one, the buses are looked at every 2 s,
 * with one every 30 s in case an event was lost (udevd restarted).  A look
 * first lists the device nodes the kernel itself makes (devtmpfs,
 * /dev/bus/usb/BBB/DDD: a device's address is new at each plug), and
 * rescans only when they changed: a rescan enumerates and reads every
 * device, a few wake-ups each.
 */
#define WATCH_TICK_MS 1000               /* stop and the deadline are checked at least this often */
#define WATCH_RESCAN_MS 2000             /* rescanned this often when hotplug events do not come */
#define WATCH_RESCAN_EVENTS_MS 30000     /* ... and this often when they do */
#define WATCH_UDEV_CONTROL "/run/udev/control"
#define WATCH_USB_NODES "/dev/bus/usb"

/* A device seen by the watch, with the CCID interfaces it had on arrival (none for most devices). */
struct watch_dev {
	uint8_t busnum, devnum;
	bool seen;                       /* in the current rescan */
	unsigned n;
	struct uccid_libusb_reader *r;
};

struct watch {
	struct watch_dev *d;
	size_t nd, cap;
	bool nomem;
	bool unconfigured;               /* the last rescan met a device not configured yet */
};

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

/*
 * A digest of the names under /dev/bus/usb (BBB/DDD), whatever their order:
 * 0, or -ENOENT where there is no such directory (the caller rescans).
 */
static int usb_nodes_digest(uint64_t *ret)
{
	DIR *top = opendir(WATCH_USB_NODES), *bus;
	struct dirent *b, *e;
	uint64_t sum = 0, n = 0;
	int fd;

	if (!top)
		return -ENOENT;
	while ((b = readdir(top))) {
		if (b->d_name[0] == '.')
			continue;
		fd = openat(dirfd(top), b->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		bus = fdopendir(fd);
		if (!bus) {
			close(fd);
			continue;
		}
		while ((e = readdir(bus))) {
			if (e->d_name[0] == '.')
				continue;
			sum += fnv1a(fnv1a(14695981039346656037ULL, b->d_name), e->d_name);  /* "BBB" "DDD" */
			n++;
		}
		closedir(bus);
	}
	closedir(top);
	*ret = sum ^ (n * 0x9E3779B97F4A7C15ULL);
	return 0;
}

static bool collect_visit(void *arg, libusb_device *dev, const struct uccid_libusb_reader *r)
{
	struct watch *w = arg;
	struct watch_dev *d = &w->d[w->nd - 1];     /* the device being added */
	struct uccid_libusb_reader *p;

	(void)dev;
	if (d->n >= UINT8_MAX)                   /* at most 255 interfaces per configuration */
		return true;
	p = realloc(d->r, (d->n + 1) * sizeof(*p));
	if (!p) {
		w->nomem = true;
		return true;
	}
	d->r = p;
	d->r[d->n++] = *r;
	return false;
}

/*
 * Enumerate in a fresh context, report what arrived and what left.
 * Returns 1 when fn asked to stop, 0, or -ENOMEM / -EIO.
 */
static int watch_rescan(struct watch *w, uccid_libusb_watch_fn fn, void *arg, char *err, size_t errlen)
{
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	ssize_t ndev;
	int r = 0;

	if (libusb_init(&ctx) < 0) {
		uccid_set_err(err, errlen, "libusb: cannot initialise");
		return -EIO;
	}
	ndev = libusb_get_device_list(ctx, &list);
	if (ndev < 0) {
		r = lu_errno(NULL, (int)ndev);
		uccid_set_err(err, errlen, "libusb: cannot list USB devices: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < w->nd; i++)
		w->d[i].seen = false;
	w->unconfigured = false;
	for (ssize_t i = 0; i < ndev && r == 0; i++) {
		uint8_t bus = libusb_get_bus_number(list[i]), addr = libusb_get_device_address(list[i]);
		struct watch_dev *d = NULL;
		struct libusb_config_descriptor *cfg = NULL;
		unsigned unreadable = 0;

		for (size_t k = 0; k < w->nd && !d; k++)
			if (w->d[k].busnum == bus && w->d[k].devnum == addr)
				d = &w->d[k];
		if (d) {
			d->seen = true;
			continue;
		}
		/* not configured yet (just arriving): asked again at the next rescan */
		if (libusb_get_active_config_descriptor(list[i], &cfg) < 0) {
			w->unconfigured = true;
			continue;
		}
		libusb_free_config_descriptor(cfg);
		if (w->nd == w->cap) {
			size_t ncap = w->cap ? w->cap * 2 : 16;
			struct watch_dev *p = realloc(w->d, ncap * sizeof(*p));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			w->d = p;
			w->cap = ncap;
		}
		d = &w->d[w->nd++];
		*d = (struct watch_dev){ .busnum = bus, .devnum = addr, .seen = true };
		scan_device(list[i], NULL, collect_visit, w, &unreadable);
		if (w->nomem) {
			r = -ENOMEM;
			break;
		}
		for (unsigned k = 0; k < d->n && r == 0; k++)
			if (fn(arg, true, &d->r[k]))
				r = 1;
	}
	/* gone: reported from what their arrival said (they cannot be asked any more) */
	for (size_t i = 0; i < w->nd && r >= 0;) {
		struct watch_dev *d = &w->d[i];

		if (d->seen) {
			i++;
			continue;
		}
		for (unsigned k = 0; k < d->n && r == 0; k++)
			if (fn(arg, false, &d->r[k]))
				r = 1;
		free(d->r);
		*d = w->d[--w->nd];
	}
	if (r == -ENOMEM)
		uccid_set_err(err, errlen, "out of memory");
out:
	if (list)
		libusb_free_device_list(list, 1);
	libusb_exit(ctx);
	return r;
}

/* Runs in the watching thread's libusb_handle_events call: ask for a rescan. */
static int LIBUSB_CALL on_watch_event(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *arg)
{
	(void)ctx;
	(void)dev;
	(void)ev;
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	return 0;
}

int uccid_libusb_watch(uccid_libusb_watch_fn fn, void *arg, unsigned timeout_ms, const volatile sig_atomic_t *stop,
		       char *err, size_t errlen)
{
	struct watch w = { 0 };
	libusb_context *ctx = NULL;
	libusb_hotplug_callback_handle hh;
	bool hotplug = false;
	int64_t deadline = timeout_ms ? uccid_mono_ms() + timeout_ms : INT64_MAX, next_scan = 0, every;
	uint64_t nodes = 0, now_nodes;
	bool have_nodes = false;
	int changed = 0, r;

	if (!fn) {
		uccid_set_err(err, errlen, "no callback");
		return -EINVAL;
	}
	/* the events come to a context of our own, so that only this thread handles them */
	if (libusb_init(&ctx) < 0) {
		uccid_set_err(err, errlen, "libusb: cannot initialise");
		return -EIO;
	}
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG))
		hotplug = libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
							   LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
							   LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
							   LIBUSB_HOTPLUG_MATCH_ANY, on_watch_event, &changed,
							   &hh) == LIBUSB_SUCCESS;
	every = hotplug && access(WATCH_UDEV_CONTROL, F_OK) == 0 ? WATCH_RESCAN_EVENTS_MS : WATCH_RESCAN_MS;
	for (;;) {
		int64_t now = uccid_mono_ms(), tick;
		bool event = __atomic_exchange_n(&changed, 0, __ATOMIC_ACQ_REL);

		if (event || now >= next_scan) {
			/* the nodes before the rescan: a change during it shows at the next look */
			int got = usb_nodes_digest(&now_nodes);

			if (event || got < 0 || !have_nodes || now_nodes != nodes || w.unconfigured) {
				r = watch_rescan(&w, fn, arg, err, errlen);
				if (r != 0)
					goto out;
				have_nodes = got == 0;
				nodes = now_nodes;
			}
			now = uccid_mono_ms();
			next_scan = now + every;
		}
		if ((stop && *stop) || now >= deadline) {
			r = 0;
			goto out;
		}
		tick = next_scan - now < WATCH_TICK_MS ? next_scan - now : WATCH_TICK_MS;
		if (deadline - now < tick)
			tick = deadline - now;
		if (hotplug) {
			struct timeval tv = { (time_t)(tick / 1000), (suseconds_t)(tick % 1000 * 1000) };

			libusb_handle_events_timeout_completed(ctx, &tv, &changed);
		} else {
			struct timespec nap = { (time_t)(tick / 1000), (long)(tick % 1000) * 1000000L };

			nanosleep(&nap, NULL);
		}
	}
out:
	if (hotplug)
		libusb_hotplug_deregister_callback(ctx, hh);
	libusb_exit(ctx);
	for (size_t i = 0; i < w.nd; i++)
		free(w.d[i].r);
	free(w.d);
	return r;
}
