/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bottom of the session: the log callback, error names, and the
 * thread identity that reader_lock() records so that card state changes
 * can assert their lock.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session/session_priv.h"

uintptr_t uccid_thread_id(void)
{
	static _Thread_local char marker;

	return (uintptr_t)&marker;
}

void uccid_log(struct uccid_reader *r, enum uccid_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->opt.log || level > r->opt.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->opt.log(r->opt.log_ctx, level, msg);
}

const char *uccid_strerror(int err)
{
	switch (err) {
	case -ENOMEDIUM: return "no card in the slot";
	case -ETIMEDOUT: return "the reader or card did not answer in time";
	case -ENODEV: return "the reader is gone";
	case -ENOTCONN: return "the reader is unavailable (its link dropped; reconnecting)";
	case -EPROTO: return "the reader or card broke the protocol";
	case -EBUSY: return "the slot is busy";
	case -EMSGSIZE: return "the response does not fit the buffer";
	case -ENOTSUP: return "the reader cannot do that";
	case -EPROTONOSUPPORT: return "the card does not offer that protocol";
	case -ECANCELED: return "cancelled";
	case -EIO: return "the reader reported an error";
	default: return strerror(err < 0 ? -err : err);
	}
}
