/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Round-trip statistics and the raw TCP ping-pong baseline shared by
 * "uccid bench" and bench/driver-bench: the same byte counts over loopback
 * with nothing but the kernel in between, measured in the same run.
 *
 * The floor is fair: the pong is a process of its own, as the reader's
 * server is, with the same socket options (TCP_NODELAY both ways, as the
 * USB/IP client and server set), and it runs where the measurement says
 * (struct rt_place): where the two ends of a round trip sit decides its
 * time more than anything in between, so a figure and its floor are only
 * compared at the same placement.
 */
#ifndef UCCID_PINGPONG_H
#define UCCID_PINGPONG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rt_stats {
	double rps, median_us, p99_us;
};

/* Sort lat[0..n) and summarise; total_ns is the wall time of the n round trips. */
struct rt_stats rt_summarize(int64_t *lat, unsigned n, int64_t total_ns);

/* Where the two ends of a round trip run: a CPU each, or -1 for wherever the scheduler puts them. */
struct rt_place {
	const char *name;               /* "unpinned", "one-cpu", "two-cpus" */
	int client_cpu, server_cpu;
};

#define RT_PLACES_MAX 3

/*
 * The placements this process may use, into out[RT_PLACES_MAX]: "unpinned"
 * always; "one-cpu" (both ends on one CPU) and "two-cpus" (one each) when
 * the process may run on two CPUs and pin itself.  Returns how many.
 */
unsigned rt_placements(struct rt_place *out);

/*
 * Pin the calling thread to cpu, or give it back every CPU the process
 * could use when first asked (cpu -1).  pid 0: the caller; else that
 * process's main thread.  Returns 0 or a negative errno.
 */
int rt_pin(pid_t pid, int cpu);

/*
 * n round trips of req bytes out and rsp bytes back over a loopback TCP
 * connection to an echo process placed at pl's server_cpu, the caller at
 * its client_cpu for the time of the run (pl NULL: unpinned).  Returns 0
 * and *ret, or a negative errno.
 */
int rt_raw_tcp(size_t req, size_t rsp, unsigned n, const struct rt_place *pl, struct rt_stats *ret);

#endif
