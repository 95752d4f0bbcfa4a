/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one clock for deadlines, timeouts and elapsed times anywhere in the
 * tree: CLOCK_MONOTONIC (POSIX), which never jumps with the wall clock, in
 * nanoseconds, microseconds or milliseconds since an unspecified start, as
 * int64_t.  Only differences and comparisons of its values mean anything;
 * an absolute pthread_cond_timedwait deadline built from one needs a
 * condition variable set to CLOCK_MONOTONIC (pthread_condattr_setclock),
 * and times for people or files (pcapng timestamps) come from
 * CLOCK_REALTIME instead.  Header-only, no state: any layer may include it.
 */
#ifndef UCCID_UTIL_CLOCK_H
#define UCCID_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t uccid_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t uccid_mono_us(void)
{
	return uccid_mono_ns() / 1000;
}

static inline int64_t uccid_mono_ms(void)
{
	return uccid_mono_ns() / 1000000;
}

#endif
