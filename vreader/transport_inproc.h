/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The in-process transport: the virtual reader's device model (struct vdev)
 * behind the driver's transport interface (transport/transport.h), with no
 * socket in between, so that reader code can be tested against a virtual
 * reader in one process.  The device is guarded by one mutex; IN calls
 * wait on a condition variable, re-polling the device whenever an OUT or
 * control transfer, a vreader_inproc_call() or the device's own next event
 * may have made data ready.  Real time (uccid_mono_us()) drives the device.
 */
#ifndef VREADER_TRANSPORT_INPROC_H
#define VREADER_TRANSPORT_INPROC_H

#include "transport/transport.h"
#include "vreader/device.h"

/*
 * Attach dev (as a host importing it would), configure it, read its
 * descriptors and open its first CCID interface.  dev must outlive the
 * transport and must not be used directly until close, except through
 * vreader_inproc_call().  info.path is "inproc:<config name>".
 * Returns 0, or -EINVAL (NULL), -ENOMEM, -EBADMSG (the device's descriptors
 * do not parse), -ENOENT (no CCID interface).
 */
int vreader_inproc_open(struct vdev *dev, struct uccid_transport **ret);

/*
 * The same for any device model behind ops (a composite device,
 * vreader/composite.h), opening its index-th CCID interface (0: the first),
 * as the USB/IP client's reader name #N does.  vreader_inproc_call() hands
 * fn ctl (one CCID function of dev).  info.path is "inproc:<name>".
 * Returns as vreader_inproc_open; -ENOENT: no index-th CCID interface.
 */
int vreader_inproc_open_usb(const struct vusb_ops *ops, void *dev, struct vdev *ctl, const char *name,
			    unsigned index, struct uccid_transport **ret);

/*
 * Simulate removal: every pending and later call returns -ENODEV (until
 * close, which stays required).  Thread-safe.
 */
void vreader_inproc_unplug(struct uccid_transport *t);

/*
 * Run fn(dev, ctx) with the device lock held (the device model is not
 * thread-safe: this is the one way to act on it while the transport is
 * open, e.g. vdev_insert_card or vdev_set_fault), then wake waiting IN
 * calls.  t must come from vreader_inproc_open.
 */
void vreader_inproc_call(struct uccid_transport *t, void (*fn)(struct vdev *dev, void *ctx), void *ctx);

extern const struct uccid_transport_ops vreader_inproc_ops;

#endif
