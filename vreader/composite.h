/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A composite virtual reader: the whole configuration of a real reader
 * whose descriptor dump (tests/data/readers/) holds several interfaces, or
 * one interface that is not interface 0.  Every smart-card interface of the
 * dump is a CCID function of its own (a struct vdev with its own slots and
 * cards) at the interface number the dump gives, with its own endpoint
 * addresses; the interface numbers the dump leaves out (the reader's other
 * functions, which libccid's dump does not show) are inert HID interfaces
 * with one interrupt-IN endpoint that never completes, as a keyboard nobody
 * types on.  Control requests go to the interface or endpoint they name;
 * the composite rewrites interface numbers and endpoint addresses, so the
 * device model itself stays a one-interface device (device.c).
 *
 * Implements struct vusb_ops (vreader/vusb.h), for the USB/IP server and
 * the in-process transport alike.  Not thread-safe, as the device model.
 */
#ifndef VREADER_COMPOSITE_H
#define VREADER_COMPOSITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vreader/device.h"
#include "vreader/vusb.h"

#define VCOMP_MAX_INTERFACES 8       /* vusb_info.intf[] holds 8 */

struct vcomp;

/* Called for each function's configuration before its device is created (card options). */
typedef void (*vcomp_adjust_fn)(struct vdev_config *cfg, void *ctx);

/*
 * Read every interface of a reader file.  The configuration is the blocks
 * of the file up to the first one that repeats an interface number or names
 * another idVendor/idProduct (a few dumps hold several devices, or the same
 * one several times: the first is taken).  adjust (may be NULL) sees each
 * function's configuration.  On failure err names the file and what is
 * wrong.  Returns 0, -errno on I/O error, -EBADMSG (unusable dump: the
 * message of vdev_config_from_reader_file_at, or a configuration beyond
 * the limits), -ENOTSUP (a function the device model does not simulate,
 * e.g. character level), -ENOMEM.
 */
int vcomp_from_reader_file(const char *path, vcomp_adjust_fn adjust, void *ctx, struct vcomp **ret, char *err,
			   size_t errlen);
void vcomp_free(struct vcomp *c);

extern const struct vusb_ops vcomp_usb_ops;   /* dev pointer: struct vcomp * */

/* True when the configuration is one CCID interface numbered 0: a plain struct vdev would do. */
bool vcomp_is_plain(const struct vcomp *c);
/* Interfaces in the configuration (fillers included), and the CCID functions among them. */
unsigned vcomp_ninterfaces(const struct vcomp *c);
unsigned vcomp_nfunctions(const struct vcomp *c);
/* The i-th CCID function (interface order), or NULL. */
struct vdev *vcomp_function(const struct vcomp *c, unsigned i);
/* Its bInterfaceNumber and its endpoint addresses (intr 0: none). */
int vcomp_function_interface(const struct vcomp *c, unsigned i, uint8_t *ret_number, uint8_t *ret_bulk_in,
			     uint8_t *ret_bulk_out, uint8_t *ret_intr_in);
/*
 * Hand the only function over (vcomp_is_plain) and free the composite:
 * the caller owns the device.  NULL when the composite is not plain
 * (it is then left as it was).
 */
struct vdev *vcomp_take_plain(struct vcomp *c);

#endif
