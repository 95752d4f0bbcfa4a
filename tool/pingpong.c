/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Round-trip statistics and the raw TCP ping-pong baseline (see pingpong.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool/pingpong.h"
#include "util/clock.h"

#define PP_MAX 70000

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct rt_stats rt_summarize(int64_t *lat, unsigned n, int64_t total_ns)
{
	struct rt_stats r;

	qsort(lat, n, sizeof(*lat), cmp_i64);
	r.rps = n / (total_ns / 1e9);
	r.median_us = lat[n / 2] / 1e3;
	r.p99_us = lat[(size_t)n * 99 / 100] / 1e3;
	return r;
}

struct pong {
	int fd;
	size_t req, rsp;
};

static int io_full(int fd, uint8_t *buf, size_t n, bool rd)
{
	while (n) {
		ssize_t r = rd ? read(fd, buf, n) : write(fd, buf, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The CPUs the process could use when first asked: what rt_pin(-1) gives back. */
static cpu_set_t initial;
static bool initial_known;

static int initial_set(void)
{
	if (!initial_known) {
		CPU_ZERO(&initial);
		if (sched_getaffinity(0, sizeof(initial), &initial) < 0)
			return -errno;
		initial_known = true;
	}
	return 0;
}

int rt_pin(pid_t pid, int cpu)
{
	cpu_set_t set;
	int rc = initial_set();

	if (rc < 0)
		return rc;
	if (cpu < 0) {
		set = initial;
	} else {
		if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &initial))
			return -EINVAL;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
	}
	return sched_setaffinity(pid, sizeof(set), &set) < 0 ? -errno : 0;
}

unsigned rt_placements(struct rt_place *out)
{
	int cpus[2], k = 0;
	unsigned n = 0;

	out[n++] = (struct rt_place){ "unpinned", -1, -1 };
	if (initial_set() < 0)
		return n;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &initial))
			cpus[k++] = c;
	/* pinning may be refused (a container's policy): then only "unpinned" */
	if (k == 2 && rt_pin(0, cpus[0]) == 0 && rt_pin(0, -1) == 0) {
		out[n++] = (struct rt_place){ "one-cpu", cpus[0], cpus[0] };
		out[n++] = (struct rt_place){ "two-cpus", cpus[0], cpus[1] };
	}
	return n;
}

/* The echo process: one connection, req bytes in, rsp bytes back, until it closes. */
static void pong_main(int lfd, size_t req, size_t rsp, uint8_t *buf)
{
	int one = 1, c = accept(lfd, NULL, NULL);

	if (c < 0)
		_exit(1);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (io_full(c, buf, req, true) == 0 && io_full(c, buf, rsp, false) == 0)
		;
	_exit(0);
}

int rt_raw_tcp(size_t req, size_t rsp, unsigned n, const struct rt_place *pl, struct rt_stats *ret)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	uint8_t *buf = calloc(1, PP_MAX);
	int64_t *lat = calloc(n, sizeof(*lat)), t0;
	pid_t pong = -1;
	bool pinned = false;
	int lfd = -1, fd = -1, one = 1, rc = -EIO;

	if (!buf || !lat) {
		rc = -ENOMEM;
		goto out;
	}
	if (!n || req > PP_MAX || rsp > PP_MAX) {
		rc = -EINVAL;
		goto out;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0
	    || getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		rc = -errno;
		goto out;
	}
	/* the child only reads and writes (no allocation): safe after fork in a threaded process */
	pong = fork();
	if (pong < 0) {
		rc = -errno;
		goto out;
	}
	if (pong == 0)
		pong_main(lfd, req, rsp, buf);
	if (pl && (pl->server_cpu >= 0 || pl->client_cpu >= 0)) {
		if ((rc = rt_pin(pong, pl->server_cpu)) < 0 || (rc = rt_pin(0, pl->client_cpu)) < 0)
			goto out;
		pinned = true;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = -EIO;
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < n; i++) {
		int64_t s = uccid_mono_ns();

		if (io_full(fd, buf, req, false) < 0 || io_full(fd, buf, rsp, true) < 0)
			goto out;
		lat[i] = uccid_mono_ns() - s;
	}
	*ret = rt_summarize(lat, n, uccid_mono_ns() - t0);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (pong > 0) {
		if (rc < 0)
			kill(pong, SIGKILL);    /* it may still wait in accept */
		while (waitpid(pong, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (pinned)
		rt_pin(0, -1);
	if (lfd >= 0)
		close(lfd);
	free(lat);
	free(buf);
	return rc;
}
