/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Transports: how the reader code reaches one CCID interface, whatever it
 * is — a USB device through libusb, a remote device over USB/IP, or the
 * virtual reader's device model linked in process.  Each backend is one
 * const struct uccid_transport_ops; the reader code never knows which one it
 * talks to.  Installed as <uccid/transport.h>: a program may bring its own
 * backend and open a session over it with uccid_open_transport() (the
 * virtual reader's in-process transport does), or put one between the
 * session and a reader with uccid_open_wrapped().
 *
 * Errors are negative errno, the same for every backend (translated at the
 * backend's edge, in one function each):
 *   -ETIMEDOUT   the transfer did not complete within its timeout; it was
 *                cancelled (no data was consumed from the device's pipe)
 *   -EPIPE       the endpoint stalled (or the control request is not supported)
 *   -ENODEV      the device is gone (unplugged, server closed the connection);
 *                every later call returns -ENODEV too
 *   -ECANCELED   uccid_transport_ops.cancel() interrupted the call
 *   -EINTR       uccid_transport_ops.wake() interrupted an intr_in call
 *   -EOVERFLOW   the device sent more than the buffer (babble)
 *   -EIO         any other transfer error
 *   -EINVAL      a caller's mistake
 *   -ENOMEM
 *
 * Concurrency: bulk_out, bulk_in, intr_in and control may each be called
 * from a different thread at the same time (one call per endpoint at a
 * time); cancel() may be called from any thread at any time; close() only
 * when no other call is in progress.
 */
#ifndef UCCID_TRANSPORT_H
#define UCCID_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

#define UCCID_DESC_MAX 4096         /* a configuration descriptor larger than this is refused */

/* A timeout_ms of 0 means no limit: the call ends when the transfer does, or at cancel(). */

struct uccid_transport;

/* What a transport knows about the device it reaches. */
struct uccid_transport_info {
	uint16_t idVendor, idProduct;
	uint8_t busnum, devnum;          /* 0 when unknown */
	char path[64];                   /* "usb:1209/0001:libusb-1.0:1:3:0", "usbip://127.0.0.1:3240/1-1" ... */
	uint8_t interface;               /* bInterfaceNumber of the CCID interface */
	uint8_t ep_bulk_out, ep_bulk_in, ep_intr_in;   /* ep_intr_in 0: none */
};

struct uccid_transport_ops {
	const char *name;                /* "libusb", "usbip", "inproc" */

	/*
	 * Copy the 18-byte device descriptor and the whole active
	 * configuration descriptor (as GET_DESCRIPTOR returns it) into the
	 * caller's buffers.  Returns the configuration's length, or
	 * -ENOBUFS, -ENODEV, -EIO, -ETIMEDOUT.
	 */
	int (*descriptors)(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap);

	/*
	 * A control transfer on endpoint 0 (setup fields as USB 2.0 §9.3; the
	 * direction is bit 7 of bmRequestType).  Returns the bytes
	 * transferred, or an error above.
	 */
	int (*control)(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
		       uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms);

	/*
	 * One bulk-OUT transfer of len bytes (a whole CCID message).  Returns
	 * the bytes the device took, as the host controller (libusb's
	 * actual_length) or the server (the OUT's RET_SUBMIT actual_length)
	 * reports them: len, or fewer — a short write, which the caller must
	 * fail with -EIO, naming both numbers — or an error.
	 */
	int (*bulk_out)(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms);

	/*
	 * One bulk-IN transfer into buf (the transfer ends at a short packet,
	 * a zero-length packet or when cap bytes arrived).  Returns the bytes
	 * received (0 for a zero-length packet) or an error.
	 */
	int (*bulk_in)(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms);

	/*
	 * Optional (NULL: the reader calls bulk_out, then bulk_in).  One
	 * bulk-OUT transfer and one bulk-IN transfer submitted back to back,
	 * before either completes — as a host controller runs queued URBs — so
	 * that an exchange costs one round trip to a remote device.  *out_rc
	 * gets what bulk_out would return; on an OUT error the IN transfer is
	 * cancelled and that error is returned too, and on a short OUT the IN
	 * transfer is cancelled and -EIO returned.  Otherwise returns what
	 * bulk_in would (the IN transfer's length or error).
	 */
	int (*bulk_out_in)(struct uccid_transport *t, const uint8_t *out, size_t out_len, uint8_t *in, size_t in_cap,
			   unsigned out_timeout_ms, unsigned in_timeout_ms, int *out_rc);

	/*
	 * One interrupt-IN transfer; as bulk_in.  -EPIPE-free: -ENOTSUP when
	 * there is no interrupt endpoint; -EINTR when wake() ended it.  A
	 * caller waiting for card events passes timeout_ms 0 and is woken by
	 * wake() or cancel(): an idle reader then wakes nobody.
	 */
	int (*intr_in)(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms);

	/*
	 * Shut down: every call in progress returns -ECANCELED promptly (within
	 * ~100 ms), and every later call too, until close.  Thread-safe.
	 */
	void (*cancel)(struct uccid_transport *t);

	/* Clear a halt on an endpoint (CLEAR_FEATURE(ENDPOINT_HALT) and the host's data toggle). */
	int (*clear_halt)(struct uccid_transport *t, uint8_t ep);

	/* Release everything; t is freed.  NULL ok. */
	void (*close)(struct uccid_transport *t);

	/*
	 * Optional (NULL: the backend has nothing to add).  Once calls return
	 * -ENODEV: why, in words a user can act on ("protocol violation:
	 * RET_SUBMIT 12 with actual_length 272 for a 271-byte URB", "server
	 * closed the connection"), written to buf and always terminated.
	 * Returns its length; 0 when the device is not gone or the backend
	 * knows no more than "gone".  Thread-safe; never blocks on I/O.
	 */
	int (*why)(struct uccid_transport *t, char *buf, size_t cap);

	/*
	 * Optional (NULL: an intr_in call cannot be interrupted; its caller
	 * waits in bounded slices instead).  The intr_in call in progress
	 * returns -EINTR promptly (within ~10 ms) without its data being lost:
	 * what the device sends is returned by a later call.  When no intr_in
	 * call is in progress, the next one returns at once (data already
	 * there, or -EINTR).  Unlike cancel(), the transport stays usable.
	 * Thread-safe; never blocks on I/O.
	 */
	void (*wake)(struct uccid_transport *t);

	/*
	 * Optional (NULL: a device that is gone stays gone).  After calls
	 * returned -ENODEV: reach the device again, as a new instance of it —
	 * over USB/IP a new connection, import and SET_CONFIGURATION, as at
	 * open — within timeout_ms (0: no limit).  descriptors() then returns
	 * the new instance's (the caller compares them with the old), and
	 * calls work again; whatever was in flight on the old connection is
	 * gone.  Calls made meanwhile return -ENODEV; the old connection is
	 * replaced once none uses it.  A backend with reconnect says why()
	 * whenever its device is gone.  Returns 0 (also when the device was
	 * not gone), -EINTR (wake()), -ECANCELED (cancel()), or the error of
	 * the attempt (-ECONNREFUSED, -ETIMEDOUT, -EBUSY, -ENODEV: refused ...)
	 * with err (may be NULL) naming it.  One call at a time.
	 */
	int (*reconnect)(struct uccid_transport *t, unsigned timeout_ms, char *err, size_t errlen);
};

struct uccid_transport {
	const struct uccid_transport_ops *ops;
	struct uccid_transport_info info;
};

/*
 * For diagnostics tools (uccid selftest): uccid_open() with the caller's
 * transport between the session and the reader's own (a recorder, a shim
 * that rewrites a message).  wrap gets the opened transport and returns the
 * one the session uses, which owns the inner one (NULL: -ENOMEM, the inner
 * one is closed).  Everything else — the open lock, the options — is as in
 * uccid_open().
 */
struct uccid_options;
struct uccid_reader;
typedef struct uccid_transport *(*uccid_wrap_fn)(void *ctx, struct uccid_transport *inner);
int uccid_open_wrapped(const char *name, const struct uccid_options *opts, uccid_wrap_fn wrap, void *wrap_ctx,
		       struct uccid_reader **ret, char *err, size_t errlen);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
