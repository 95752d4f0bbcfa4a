/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The virtual USB devices' clock: CLOCK_MONOTONIC in microseconds. */
#include "config.h"

#include <time.h>

#include "vreader/vusb.h"

int64_t vusb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
