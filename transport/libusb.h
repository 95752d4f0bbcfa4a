/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libusb-1.0 transport: lists the CCID interfaces of the USB devices
 * this host sees and opens one of them as a struct uccid_transport
 * (transport/transport.h).  All transports share one libusb context, created
 * on first use and freed with the last transport.  Transfers use libusb's
 * asynchronous API so that cancel() ends them from any thread.
 */
#ifndef UCCID_LIBUSB_TRANSPORT_H
#define UCCID_LIBUSB_TRANSPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"
#include "transport/usb_names.h"

#define UCCID_LIBUSB_PRODUCT_MAX 128

/* One CCID interface of one USB device. */
struct uccid_libusb_reader {
	uint16_t idVendor, idProduct;
	uint8_t busnum, devnum;
	uint8_t interface;               /* bInterfaceNumber */
	uint8_t bInterfaceProtocol;      /* 0 CCID, 1 ICCD A, 2 ICCD B */
	bool vendor_class;               /* interface class FF with a CCID class descriptor */
	bool class_after_endpoint;       /* the class descriptor follows the endpoints (quirk) */
	uint8_t bMaxSlotIndex;
	uint32_t dwFeatures;
	char serial[UCCID_USB_SERIAL_MAX + 1];   /* iSerialNumber as ASCII; "" when absent or unreadable */
	char product[UCCID_LIBUSB_PRODUCT_MAX];  /* iProduct as ASCII; "" when absent or unreadable */
	/* The same interface in each form of transport/usb_names.h. */
	char name_id[16];                /* usb:08e6/4433 */
	char name_serial[16 + UCCID_USB_SERIAL_MAX];   /* usb:08e6/4433:SERIAL, "" when no usable serial */
	char name_bus_addr[16];          /* usb:1:3 */
	char name_libudev[64];           /* usb:08e6/4433:libudev:0:/dev/bus/usb/001/003 */
	char name_libusb[48];            /* usb:08e6/4433:libusb-1.0:1:3:0 */
};

/*
 * Every CCID interface (alternate setting 0) of every USB device: interface
 * class 0B, or vendor class FF whose 54-byte class descriptor follows the
 * interface descriptor or the last endpoint.  A composite device with several
 * CCID interfaces gives several readers.  Strings are read where the device
 * can be opened (permission); a device whose descriptor cannot be read is
 * skipped.  Order: libusb's device order, then interface order.
 * Writes at most max entries to out (out may be NULL when max is 0).
 * Returns the number of CCID interfaces found, which may exceed max; or
 * -ENOMEM, -EIO (libusb could not start or enumerate; err says why).
 */
int uccid_libusb_list(struct uccid_libusb_reader *out, size_t max, char *err, size_t errlen);

/*
 * Open the CCID interface named by name (any form of transport/usb_names.h).
 * When several interfaces match, index picks one (0: the first, in the
 * order of uccid_libusb_list).  Detaches a kernel driver bound to the
 * interface (reattached on close), claims it, and reads the configuration
 * descriptor to find its endpoints (ccid_usb_find_ccid).  timeout_ms bounds
 * each control transfer done while opening.  On failure err (may be NULL)
 * gets one line naming the reader and the cause.
 * Returns 0 and *ret, or
 *   -EINVAL     malformed name
 *   -ENOENT     no such reader (or fewer than index + 1 match)
 *   -EACCES     no permission to open the device (udev rules)
 *   -EBUSY      the interface is claimed by another program
 *   -ENODEV     the device went away while opening
 *   -EBADMSG, -EPROTO, -ENODATA, -EMSGSIZE   the descriptors the device
 *               returned are malformed or have no such CCID interface
 *   -ETIMEDOUT, -EPIPE, -EIO, -ENOMEM
 *
 * The ops follow transport/transport.h.  timeout_ms 0 means no timeout (the
 * call waits for completion or cancel()).  A transfer that times out after
 * part of an IN transfer arrived returns those bytes instead of -ETIMEDOUT,
 * so nothing taken from the device is lost.
 */
int uccid_libusb_open(const char *name, unsigned index, unsigned timeout_ms, struct uccid_transport **ret,
		      char *err, size_t errlen);

/*
 * How often, since the process started, a thread of this transport came
 * back from libusb's event handling (a completion, a wake(), a timeout, or
 * a slice that ended with nothing: the cost of an idle reader, issue 14).
 * For tests and `uccid -v`; thread-safe.
 */
uint64_t uccid_libusb_event_wakeups(void);

/*
 * Called by uccid_libusb_watch for each CCID interface present when the
 * watch starts and each one that arrives (arrived true), and for each one
 * that leaves (arrived false; r as reported on its arrival).  Returns true
 * to end the watch.
 */
typedef bool (*uccid_libusb_watch_fn)(void *arg, bool arrived, const struct uccid_libusb_reader *r);

/*
 * Watch CCID readers come and go, calling fn from this thread, until fn
 * returns true, timeout_ms passes (0: no limit) or *stop (may be NULL; set
 * by a signal handler, say) becomes non-zero: a signal to this thread ends
 * the sleep at once, and *stop is checked at least once a second.  Where
 * libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) and a udev daemon runs
 * (/run/udev/control), a hotplug event triggers a rescan at once and the
 * buses are also looked at every 30 s; otherwise (hotplug events do not
 * reach libusb) every 2 s.  A look rescans only when the kernel's device
 * nodes (/dev/bus/usb) changed, or where it has none.  Idle, the watch
 * wakes about once a second.  A rescan enumerates in a fresh libusb context (so that it sees
 * the buses as they are now), and opens only new devices to read their
 * strings.  A device is the same while its bus number and address are.
 * Returns 1 when fn ended the watch, 0 at timeout or stop, or -EINVAL (no
 * fn), -ENOMEM, -EIO (libusb could not start or enumerate; err says why).
 */
int uccid_libusb_watch(uccid_libusb_watch_fn fn, void *arg, unsigned timeout_ms, const volatile sig_atomic_t *stop,
		       char *err, size_t errlen);

extern const struct uccid_transport_ops uccid_libusb_ops;

#endif
