/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why an operation failed, as text in the caller's buffer: the functions
 * that take (char *err, size_t errlen) write one line there with
 * uccid_set_err(), cut to errlen - 1 characters and always terminated, and
 * write nothing when the caller passed no buffer (err NULL or errlen 0).
 * The returned negative errno stays the contract; the text is for people.
 * Header-only, no state: any layer may include it (the codec ccid/ reports
 * through struct ccid_diag instead and does not).
 */
#ifndef UCCID_UTIL_ERRBUF_H
#define UCCID_UTIL_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void uccid_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline void uccid_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif
