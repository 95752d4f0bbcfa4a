/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Round-trip statistics and the raw TCP ping-pong baseline shared by
 * "uccid bench" and bench/driver-bench: the same byte counts over loopback
 * with nothing but the kernel in between, measured in the same run.
 */
#ifndef UCCID_PINGPONG_H
#define UCCID_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

struct rt_stats {
	double rps, median_us, p99_us;
};

/* Sort lat[0..n) and summarise; total_ns is the wall time of the n round trips. */
struct rt_stats rt_summarize(int64_t *lat, unsigned n, int64_t total_ns);

/*
 * n round trips of req bytes out and rsp bytes back over a loopback TCP
 * connection to an echo thread (TCP_NODELAY both ways).  Returns 0 and
 * *ret, or a negative errno.
 */
int rt_raw_tcp(size_t req, size_t rsp, unsigned n, struct rt_stats *ret);

#endif
