/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Vendor commands of real firmware that the virtual reader reproduces,
 * known by the device's VID:PID as the firmware is, and the exchange level
 * the device works at (which such a command can change).
 *
 * GemPC Twin and GemPC Key (08E6:3437, 08E6:3438) declare TPDU level
 * (dwFeatures 0x00010230) and, after the Escape 1F 02, work at short-APDU
 * level: the firmware runs T=0/T=1 itself, for EMV terminals (libccid's
 * ifdDriverOptions 0x0002 sends it at open).  What the real firmware puts
 * in the answer's abData is not known (libccid looks at the status only):
 * the virtual one answers with none.  A USB reset (a new host) brings the
 * firmware back to TPDU level.
 */
#include "config.h"

#include "ccid/class_desc.h"
#include "vreader/device_priv.h"

static bool gempc_twin_key(const struct vdev *d)
{
	return d->cfg.idVendor == 0x08E6 && (d->cfg.idProduct == 0x3437 || d->cfg.idProduct == 0x3438);
}

bool vdev_vendor_escape(struct vdev *d, const uint8_t *data, size_t len)
{
	if (gempc_twin_key(d) && len == 2 && data[0] == 0x1F && data[1] == 0x02) {
		if (!d->vendor_apdu)
			vdev_log(d, "vendor Escape 1F 02: short-APDU level from now on");
		d->vendor_apdu = true;
		return true;
	}
	return false;
}

enum ccid_exchange_level vdev_level(const struct vdev *d)
{
	return d->vendor_apdu ? CCID_LEVEL_SHORT_APDU : ccid_class_desc_level(&d->cfg.desc);
}
