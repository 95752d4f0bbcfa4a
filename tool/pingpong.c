/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Round-trip statistics and the raw TCP ping-pong baseline (see pingpong.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
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

		if (r <= 0)
			return -EIO;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static void *pong_thread(void *arg)
{
	struct pong *p = arg;
	uint8_t *buf = calloc(1, PP_MAX);
	int one = 1, c = accept(p->fd, NULL, NULL);

	if (c >= 0 && buf) {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (io_full(c, buf, p->req, true) == 0 && io_full(c, buf, p->rsp, false) == 0)
			;
	}
	if (c >= 0)
		close(c);
	free(buf);
	return NULL;
}

int rt_raw_tcp(size_t req, size_t rsp, unsigned n, struct rt_stats *ret)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct pong p = { .fd = -1, .req = req, .rsp = rsp };
	uint8_t *buf = calloc(1, PP_MAX);
	int64_t *lat = calloc(n, sizeof(*lat)), t0;
	pthread_t th;
	bool started = false;
	int fd = -1, one = 1, rc = -EIO;

	if (!buf || !lat || !n || req > PP_MAX || rsp > PP_MAX) {
		rc = -EINVAL;
		goto out;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p.fd < 0 || bind(p.fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p.fd, 1) < 0
	    || getsockname(p.fd, (struct sockaddr *)&a, &alen) < 0) {
		rc = -errno;
		goto out;
	}
	if (pthread_create(&th, NULL, pong_thread, &p))
		goto out;
	started = true;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
	if (started) {
		if (rc < 0)
			shutdown(p.fd, SHUT_RDWR);
		pthread_join(th, NULL);
	}
	if (p.fd >= 0)
		close(p.fd);
	free(lat);
	free(buf);
	return rc;
}
