/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one place where a libuccid result (a negative errno, session/uccid.h)
 * becomes an IFD_* code: one code per cause, whichever entry point and
 * whatever exchange level, except where pcscd needs an entry point to say
 * something else (ifd-uccid(8) has the table).  What pcscd makes of each
 * code is in ../shared/docs/reference/ifdhandler.md §1: IFD_NO_SUCH_DEVICE
 * makes the reader unavailable, IFD_ICC_NOT_PRESENT an absent card, a power
 * action that fails must say IFD_ERROR_POWER_ACTION, a protocol pcscd may
 * retry with the other one IFD_PROTOCOL_NOT_SUPPORTED.  "The reader cannot
 * do it" is IFD_NOT_SUPPORTED, the code ifdhandler.h documents for the
 * entry points (pcscd takes IFD_ERROR_NOT_SUPPORTED the same way in
 * IFDHControl, and neither specially in IFDHTransmitToICC).
 */
#include "config.h"

#include <errno.h>

#include "ifd/ifd_priv.h"

RESPONSECODE ifd_from_errno(int err, enum ifd_op op)
{
	if (err >= 0)
		return IFD_SUCCESS;
	switch (err) {
	case -ENODEV:
	case -ECANCELED:        /* only uccid_cancel(), after TAG_IFD_DEVICE_REMOVED */
		return IFD_NO_SUCH_DEVICE;
	case -ENOTCONN:
		/* a remote reader's link is down while libuccid restores it: its cards are
		   gone (pcscd reports the removal), the reader is unavailable for now but
		   not removed: the same Lun works again once it is back */
		return op == IFD_OP_PRESENCE ? IFD_ICC_NOT_PRESENT : IFD_NO_SUCH_DEVICE;
	case -ENOMEDIUM:
		if (op == IFD_OP_POWER)
			return IFD_ERROR_POWER_ACTION;
		return IFD_ICC_NOT_PRESENT;
	case -ETIMEDOUT:
		if (op == IFD_OP_POWER)
			return IFD_ERROR_POWER_ACTION;
		if (op == IFD_OP_OPEN)
			return IFD_COMMUNICATION_ERROR;
		return IFD_RESPONSE_TIMEOUT;
	case -EMSGSIZE:
	case -ENOBUFS:
		if (op == IFD_OP_POWER)
			return IFD_ERROR_POWER_ACTION;
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	case -EPROTONOSUPPORT:      /* the card does not offer the protocol */
	case -ENOTSUP:
		if (op == IFD_OP_PROTOCOL)
			return IFD_PROTOCOL_NOT_SUPPORTED;
		if (op == IFD_OP_POWER)
			return IFD_ERROR_POWER_ACTION;
		return IFD_NOT_SUPPORTED;
	case -ENOENT:
		/* open: the name resolves to nothing (usb_names: no such device) */
		return op == IFD_OP_OPEN ? IFD_NO_SUCH_DEVICE : IFD_COMMUNICATION_ERROR;
	default:
		/* -EIO, -EPROTO, -EBUSY, -EINVAL, -EACCES, -ENOMEM and anything new */
		if (op == IFD_OP_POWER)
			return IFD_ERROR_POWER_ACTION;
		if (op == IFD_OP_PROTOCOL && (err == -EIO || err == -EPROTO))
			return IFD_ERROR_PTS_FAILURE;
		return IFD_COMMUNICATION_ERROR;
	}
}
