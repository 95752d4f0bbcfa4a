/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uccid codec: USB CCID (rev 1.1) messages and descriptors, the standard
 * USB descriptors a CCID driver reads, ISO 7816-3 ATR, PPS, timing and the
 * host side of T=1.  Pure functions over caller buffers: no I/O, no
 * allocation, no global state.  See ccid/common.h for the error convention.
 */
#ifndef CCID_CCID_H
#define CCID_CCID_H

#include "ccid/common.h"
#include "ccid/message.h"
#include "ccid/class_desc.h"
#include "ccid/usb_desc.h"
#include "ccid/atr.h"
#include "ccid/timing.h"
#include "ccid/t1.h"
#include "ccid/iccd.h"
#include "ccid/t0.h"
#include "ccid/pin.h"

#endif
