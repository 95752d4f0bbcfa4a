/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client of uccid-vreader's control socket for `uccid test` suites: one
 * command line out, reply lines in up to the one that starts with "ok" or
 * "error:" (uccid-vreader(1)).  Every wait has a deadline and every reply a
 * size limit: a stuck or chatty server fails the step, never the runner.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tool/hil/runner.h"
#include "util/clock.h"

#define VCTL_REPLY_MAX (64u * 1024u)

struct vctl_client {
	int fd;
	char buf[VCTL_REPLY_MAX];
	size_t len;                  /* bytes read and not yet consumed */
};

int vctl_connect(const char *path, struct vctl_client **ret, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vctl_client *c;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path longer than %zu characters: %s", sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(-rc));
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return rc;
	}
	*ret = c;
	return 0;
}

void vctl_close(struct vctl_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

/* Wait for fd until the deadline; 0 ready, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - uccid_mono_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int vctl_command(struct vctl_client *c, const char *line, unsigned timeout_ms, char *reply, size_t cap)
{
	long long deadline = uccid_mono_ms() + timeout_ms;
	size_t len = strlen(line), sent = 0, rlen = 0;
	int rc;

	reply[0] = 0;
	if (strchr(line, '\n'))
		return -EINVAL;
	while (sent <= len) {
		const char *p = sent < len ? line + sent : "\n";
		size_t n = sent < len ? len - sent : 1;
		ssize_t w;

		if ((rc = wait_fd(c->fd, POLLOUT, deadline)) < 0)
			return rc;
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)w;
	}
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t r;

		if (nl) {
			size_t ll = (size_t)(nl - c->buf) + 1;
			bool error = !strncmp(c->buf, "error:", 6), last = error || !strncmp(c->buf, "ok", 2);

			if (rlen + ll < cap) {
				memcpy(reply + rlen, c->buf, ll);
				rlen += ll;
				reply[rlen] = 0;
			}
			memmove(c->buf, c->buf + ll, c->len - ll);
			c->len -= ll;
			if (last) {
				if (rlen && reply[rlen - 1] == '\n')
					reply[--rlen] = 0;
				return error ? -EREMOTEIO : 0;
			}
			continue;
		}
		if (c->len == sizeof(c->buf))
			return -EMSGSIZE;
		if ((rc = wait_fd(c->fd, POLLIN, deadline)) < 0)
			return rc;
		r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (r == 0)
			return -EPIPE;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		c->len += (size_t)r;
	}
}
