/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The USB/IP client transport (transport/usbip_client.h): the op phase
 * (OP_REQ_DEVLIST, OP_REQ_IMPORT) done synchronously with a deadline, then
 * one TCP connection per imported device carrying CMD_SUBMIT / CMD_UNLINK.
 * Callers write their PDUs themselves (one writer at a time, wlock, one
 * sendmsg per PDU or PDU pair).  There is no I/O thread: a caller waiting
 * for a completion reads the socket itself when no other caller does
 * (leader/follower: the read side is handed over under the state lock,
 * u->reading), checks each RET_SUBMIT / RET_UNLINK against the URB it
 * answers, copies IN data into that URB's caller's buffer and wakes it.  A
 * lone caller so gets its answer without a thread hop (two context
 * switches per transfer); with several callers, whoever reads dispatches
 * for the others.  Nobody reads while nobody waits: what arrives then stays
 * in the socket until the next call.  A call that times out unlinks
 * its URB and waits a bounded time for the verdict, so that -ETIMEDOUT
 * always means "nothing consumed" and a transfer that completed meanwhile
 * is returned, not lost; except interrupt-IN and bulk-IN, whose URB stays
 * submitted from one call to the next, as a host controller keeps it (an
 * idle reader sends nothing; an answer that takes seconds costs one URB,
 * not a CMD_UNLINK and a CMD_SUBMIT per read slice).  Anything a server sends that the protocol does
 * not allow kills the connection: every pending and later call returns
 * -ENODEV.  Wire status codes are Linux errno values, translated in one
 * function (map_status).  Protocol: shared/docs/reference/usbip.md
 * ("ref §N").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ccid/bytes.h"
#include "ccid/usb_desc.h"
#include "transport/usbip_client.h"
#include "usbip/usbip_wire.h"
#include "util/clock.h"
#include "util/errbuf.h"

/*
 * URB completion codes as they travel on the wire: Linux errno numbers
 * (ref §3 "Status codes", asm-generic/errno*.h), which need not be the
 * host's own.
 */
enum {
	LX_ENOENT = 2,
	LX_ENODEV = 19,
	LX_EPIPE = 32,
	LX_EOVERFLOW = 75,
	LX_ECONNRESET = 104,
	LX_ESHUTDOWN = 108,
};

#define CLEAR_HALT_TIMEOUT_MS 5000
#define RECV_SLICE_MS 5                 /* SO_RCVTIMEO of the URB phase (recv_some) */
#define PATIENT_GRACE_MS 2              /* how long the read side must lie idle before a patient caller takes it */
#define PATIENT_POLL_MS 20              /* how often a patient caller looks whether the read side is free */
#define INTR_MAX 1024                   /* largest interrupt-IN URB (a CCID interrupt message is at most 65 bytes) */
/* One whole PDU fits (the largest IN URB is UCCID_USBIP_MAX_BULK); room beyond it is read-ahead. */
#define RBUF_CAP (USBIP_HEADER_SIZE + UCCID_USBIP_MAX_BULK)
#define NO_DEADLINE INT64_MAX

/* Standard requests (USB 2.0 §9.4). */
#define REQ_CLEAR_FEATURE 0x01
#define REQ_GET_DESCRIPTOR 0x06
#define REQ_SET_CONFIGURATION 0x09
#define FEATURE_ENDPOINT_HALT 0x00

/* One CMD_SUBMIT in flight, from its submission until its caller leaves. */
struct urb {
	bool used;
	bool in;                        /* direction IN: the RET_SUBMIT carries actual_length bytes */
	bool done;                      /* its RET_SUBMIT arrived */
	bool abandoned;                 /* the caller left; the slot waits for its RET_UNLINK */
	bool patient;                   /* interrupt-IN: its caller defers reading to the others (await) */
	uint32_t seqnum;
	uint32_t length;                /* transfer_buffer_length */
	uint8_t *buf;                   /* the waiting caller's IN buffer (length bytes); NULL once it left */
	int32_t status;                 /* RET_SUBMIT status, wire value */
	uint32_t actual;
	uint32_t unlink_seqnum;         /* seqnum of our CMD_UNLINK for it, 0 if none */
	bool unlink_done;
	int32_t unlink_status;          /* RET_UNLINK status, wire value */
	unsigned depth, unlink_depth;   /* round trip of the CMD_SUBMIT / CMD_UNLINK (rt_begin) */
};

struct utr {
	struct uccid_transport pub;     /* first: the ops get &pub */
	int fd;                         /* constant from open to close */
	int wfd;                        /* eventfd: wake() interrupts the socket's reader (recv_some) */
	uint32_t devid;                 /* busnum << 16 | devnum of the import reply (ref §3) */
	uint8_t intr_interval;          /* bInterval of the interrupt endpoint */
	unsigned unlink_wait_ms;        /* constant: how long an unlink waits for its RET_UNLINK */
	char url[UCCID_USBIP_URL_MAX + 1];      /* what was opened, and is imported again (reconnect) */
	unsigned index;                 /* which CCID interface of the device */
	int want_if;                    /* the URL's interface number (bInterfaceNumber), or -1: by index */
	unsigned connect_ms;            /* a connect's bound at open and reconnect (0: the whole timeout) */

	pthread_mutex_t wlock;          /* one PDU at a time on the socket */
	pthread_mutex_t lock;           /* everything below */
	pthread_cond_t cond;            /* any URB or state change; CLOCK_MONOTONIC */
	pthread_cond_t pcond;           /* patient callers' URBs, death, cancel, wake (see await) */
	bool dead, cancelled;
	bool woken;                     /* wake() asked: intr_in returns (-EINTR when no data) */
	unsigned users;                 /* calls using the connection (enter/leave): reconnect waits for none */
	struct utr *pending;            /* the connection reconnect() is setting up: wake() and cancel() end it */
	uint64_t nreconnects;
	char why[160];                  /* what killed the connection */
	uint32_t next_seqnum;
	struct urb urb[UCCID_USBIP_MAX_PENDING];
	/*
	 * The interrupt-IN URB that stays submitted between intr_in calls
	 * (NULL: none), and the buffer its data lands in (INTR_MAX bytes),
	 * which outlives every caller.  Only intr_in (one call at a time)
	 * sets intr; dispatch fills intr_buf whoever reads the socket.
	 */
	struct urb *intr;
	uint8_t intr_buf[INTR_MAX];
	/*
	 * The bulk-IN URB a read left submitted when its timeout passed (NULL:
	 * none), for the next read to take over (bulk_park, bulk_adopt), and
	 * the buffer its data lands in meanwhile (UCCID_USBIP_MAX_BULK bytes,
	 * allocated when first needed).
	 */
	struct urb *bulk;
	uint8_t *bulk_buf;
	/*
	 * The cost of the connection (uccid_usbip_stats): PDUs sent, and round
	 * trips.  A PDU sent after the answer to a PDU of round trip n arrived
	 * belongs to round trip n + 1 at least; PDUs sent together share one.
	 */
	uint64_t nsubmits, nunlinks;
	unsigned rt_done;               /* the latest round trip an answer arrived for */
	unsigned rt_max;                /* the latest round trip a PDU went out in */

	/*
	 * The read side.  reading (under lock): a caller holds it; only that
	 * caller touches the fields after it, so a PDU half read when its
	 * reader's deadline passed is continued by the next reader.
	 */
	bool reading;
	int64_t read_free_since;        /* (lock) when the last reader let go, ms */
	uint8_t *rbuf;                  /* RBUF_CAP bytes: the stream from the server, PDU by PDU */
	size_t rlen;                    /* bytes in rbuf */
	size_t rneed;                   /* length of the PDU at rbuf's start once its header was checked; 0 before */
	struct usbip_header rh;         /* that header */

	uint8_t dev_desc[CCID_USB_DEVICE_DESC_LEN];
	uint8_t *cfg;                   /* the configuration descriptor read at open */
	size_t cfg_len;
};

static struct utr *utr_of(struct uccid_transport *t)
{
	return (struct utr *)(void *)t;
}

/* Short lower-case words for the errors a user meets; library code must not use strerror (not thread-safe). */
static const char *errno_text(int e)
{
	switch (e < 0 ? -e : e) {
	case ECONNREFUSED: return "connection refused";
	case ETIMEDOUT: return "timed out";
	case EHOSTUNREACH: return "no route to host";
	case ENETUNREACH: return "network unreachable";
	case ECONNRESET: return "connection reset by peer";
	case EPIPE: return "connection closed";
	case ENODEV: return "device gone";
	case ECANCELED: return "cancelled";
	case EINTR: return "interrupted";
	case EPROTO: return "protocol error";
	case EBADMSG: return "malformed data";
	case EMSGSIZE: return "too long";
	case ENOMEM: return "out of memory";
	case EIO: return "I/O error";
	case EADDRNOTAVAIL: return "address not available";
	case EAFNOSUPPORT: return "address family not supported";
	default: return "system error";
	}
}

/* ---------------------------------------------------------------------------
 * Time: CLOCK_MONOTONIC milliseconds; NO_DEADLINE for timeout 0 (as libusb: no limit)
 */

static int64_t deadline_after(unsigned timeout_ms)
{
	return timeout_ms ? uccid_mono_ms() + timeout_ms : NO_DEADLINE;
}

/* poll() timeout until deadline: -1 for none, 0 when passed. */
static int poll_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == NO_DEADLINE)
		return -1;
	left = deadline - uccid_mono_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Time left as a transfer timeout (0 = none; at least 1 ms for a finite deadline). */
static unsigned remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == NO_DEADLINE)
		return 0;
	left = deadline - uccid_mono_ms();
	if (left < 1)
		return 1;
	return left > UINT_MAX ? UINT_MAX : (unsigned)left;
}

/* Wait on cv (u->cond or u->pcond) until deadline; returns ETIMEDOUT once it has passed. */
static int wait_until(struct utr *u, pthread_cond_t *cv, int64_t deadline)
{
	struct timespec ts;

	if (deadline == NO_DEADLINE)
		return pthread_cond_wait(cv, &u->lock);
	if (uccid_mono_ms() >= deadline)
		return ETIMEDOUT;
	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
	return pthread_cond_timedwait(cv, &u->lock, &ts);
}

/* ---------------------------------------------------------------------------
 * Socket I/O on a non-blocking fd, bounded by a deadline
 */

/*
 * Send the n buffers of iov as one stream (one sendmsg in the usual case:
 * a PDU's header and data, or two PDUs, leave in one segment).  iov is
 * consumed.  Returns 0, -ETIMEDOUT or -errno; *sent counts what went out.
 */
static int send_iov(int fd, struct iovec *iov, int n, int64_t deadline, size_t *sent)
{
	size_t off = 0;
	int r = 0;

	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t k;

		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		k = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			size_t left = (size_t)k;

			off += left;
			while (n > 0 && left >= iov->iov_len) {
				left -= iov->iov_len;
				iov++;
				n--;
			}
			if (n > 0) {
				iov->iov_base = (uint8_t *)iov->iov_base + left;
				iov->iov_len -= left;
			}
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int pr = poll(&p, 1, poll_ms(deadline));

			if (pr == 0) {
				r = -ETIMEDOUT;
				break;
			}
			if (pr < 0 && errno != EINTR) {
				r = -errno;
				break;
			}
			continue;
		}
		r = k < 0 ? -errno : -EPIPE;
		break;
	}
	if (sent)
		*sent = off;
	return r;
}

/* Send len bytes, as send_iov() does.  Returns 0, -ETIMEDOUT or -errno; *sent counts what went out. */
static int send_all(int fd, const uint8_t *buf, size_t len, int64_t deadline, size_t *sent)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };

	return send_iov(fd, &v, 1, deadline, sent);
}

/*
 * Receive what the socket holds (at most cap bytes), waiting until
 * deadline for something to arrive.  For the URB phase, where the socket
 * is in blocking mode with a receive timeout of RECV_SLICE_MS: a blocking
 * recv wakes with the data in one system call (poll, then recv would take
 * two on the path of every answer); only a wait longer than the slice, or a
 * deadline closer than it, goes on with poll, which also watches wfd (an
 * eventfd, -1 for none): a wake() ends the wait (the count is taken).
 * Returns the bytes received, 0 when the deadline passed first, -EINTR
 * when woken, -EPIPE at the end of the stream, or -errno.
 */
static ssize_t recv_some(int fd, int wfd, uint8_t *buf, size_t cap, int64_t deadline)
{
	int left = poll_ms(deadline);

	if (left < 0 || left >= RECV_SLICE_MS) {
		ssize_t n = recv(fd, buf, cap, 0);

		if (n > 0)
			return n;
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = wfd, .events = POLLIN } };
		int pr = poll(p, wfd >= 0 ? 2 : 1, poll_ms(deadline));
		ssize_t n;

		if (pr == 0)
			return 0;
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (wfd >= 0 && (p[1].revents & POLLIN)) {
			uint64_t count;

			if (read(wfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				return -errno;
			if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
				return -EINTR;
		}
		n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n > 0)
			return n;
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
	}
}

/* Wait until wfd (an eventfd, -1: none) or fd is readable, or deadline: 1 fd, -EINTR wfd (taken), 0 deadline, -errno. */
static int poll_in(int fd, int wfd, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = wfd, .events = POLLIN } };
		int pr = poll(p, wfd >= 0 ? 2 : 1, poll_ms(deadline));

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return 0;
		if (wfd >= 0 && (p[1].revents & POLLIN)) {
			uint64_t count;

			if (read(wfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				return -errno;
			return -EINTR;
		}
		return 1;
	}
}

/*
 * Receive exactly len bytes; a wake of wfd (an eventfd, -1: none) ends the
 * wait.  Returns 0, -ETIMEDOUT, -EINTR, -EPIPE (end of stream) or -errno;
 * *got counts.
 */
static int recv_all(int fd, int wfd, uint8_t *buf, size_t len, int64_t deadline, size_t *got)
{
	size_t off = 0;
	int r = 0;

	while (off < len) {
		ssize_t n = recv(fd, buf + off, len - off, 0);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0) {
			r = -EPIPE;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int pr = poll_in(fd, wfd, deadline);

			if (pr == 0) {
				r = -ETIMEDOUT;
				break;
			}
			if (pr < 0) {
				r = pr;
				break;
			}
			continue;
		}
		r = -errno;
		break;
	}
	if (got)
		*got = off;
	return r;
}

/* "host:port", with brackets around an IPv6 address. */
static void format_where(char *buf, size_t cap, const char *host, uint16_t port)
{
	snprintf(buf, cap, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
}

/*
 * Connect to host:port before deadline: every address the name resolves to
 * in turn (name resolution itself is not bounded: getaddrinfo has no
 * timeout); a wake of wfd (an eventfd, -1: none) ends it with -EINTR.
 * TCP_NODELAY and SO_KEEPALIVE as the Linux tool (ref §1).  Returns 0 with
 * *ret_fd (non-blocking), or a negative errno.
 */
static int tcp_connect(const char *host, uint16_t port, int64_t deadline, int wfd, int *ret_fd, char *err,
		       size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char where[96], service[8];
	int r = -EHOSTUNREACH, g;

	format_where(where, sizeof(where), host, port);
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	g = getaddrinfo(host, service, &hints, &res);
	if (g != 0) {
		uccid_set_err(err, errlen, "%s: cannot resolve host: %s", where, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1, soerr = 0, fd;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				r = -errno;
				close(fd);
				continue;
			}
			for (;;) {
				struct pollfd p[2] = { { .fd = fd, .events = POLLOUT }, { .fd = wfd, .events = POLLIN } };
				int pr = poll(p, wfd >= 0 ? 2 : 1, poll_ms(deadline));
				uint64_t count;

				if (pr < 0 && errno == EINTR)
					continue;
				if (pr == 0) {
					soerr = ETIMEDOUT;
				} else if (pr < 0) {
					soerr = errno;
				} else if (wfd >= 0 && (p[1].revents & POLLIN)) {
					soerr = read(wfd, &count, sizeof(count)) < 0 && errno != EAGAIN ? errno : EINTR;
				} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
					soerr = errno;
				}
				break;
			}
			if (soerr) {
				r = -soerr;
				close(fd);
				if (soerr == ETIMEDOUT || soerr == EINTR)
					break;  /* the deadline is for the whole connect */
				continue;
			}
		}
		*ret_fd = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	uccid_set_err(err, errlen, "%s: %s", where, errno_text(r));
	return r;
}

/* ---------------------------------------------------------------------------
 * URL (usbip://HOST[:PORT]/BUSID)
 */

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool is_busid_char(char c)
{
	return is_name_char(c) || c == ':' || c == '_';
}

/* A DNS name (RFC 1123 labels: no empty label, none starting or ending with '-') or a dotted-quad IPv4. */
static bool valid_host_name(const char *h, size_t n)
{
	bool numeric = true;
	size_t label = 0;

	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return false;
		if (!(c >= '0' && c <= '9'))
			numeric = false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || h[n - 1] == '-')
		return false;
	if (numeric) {          /* all digits and dots: it must be an IPv4 address */
		struct in_addr a;
		char tmp[16];

		if (n >= sizeof(tmp))
			return false;
		memcpy(tmp, h, n);
		tmp[n] = '\0';
		return inet_pton(AF_INET, tmp, &a) == 1;
	}
	return true;
}

/* The URL with an interface number after the bus ID where ret_interface is not NULL (-1: none given). */
static int parse_url(const char *url, char *host, size_t host_cap, uint16_t *port, char *busid, size_t busid_cap,
		     int *ret_interface)
{
	static const char scheme[] = "usbip://";
	const char *p, *h, *b;
	size_t hn, bn;
	unsigned long pv = UCCID_USBIP_DEFAULT_PORT;
	int iv = -1;

	if (!url || !host || !port || !busid)
		return -EINVAL;
	if (strnlen(url, UCCID_USBIP_URL_MAX + 1) > UCCID_USBIP_URL_MAX)
		return -EINVAL;
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	p = url + sizeof(scheme) - 1;

	if (*p == '[') {
		struct in6_addr a6;
		char tmp[INET6_ADDRSTRLEN];
		const char *close_br = strchr(p, ']');

		if (!close_br)
			return -EINVAL;
		h = p + 1;
		hn = (size_t)(close_br - h);
		if (hn == 0 || hn >= sizeof(tmp))
			return -EINVAL;
		memcpy(tmp, h, hn);
		tmp[hn] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -EINVAL;
		p = close_br + 1;
	} else {
		h = p;
		while (is_name_char(*p))
			p++;
		hn = (size_t)(p - h);
		if (hn == 0 || hn > UCCID_USBIP_HOST_MAX || !valid_host_name(h, hn))
			return -EINVAL;
	}

	if (*p == ':') {
		const char *d = ++p;

		/* 1..65535, decimal digits only, no sign, no leading zero */
		if (*d < '1' || *d > '9')
			return -EINVAL;
		pv = 0;
		while (*p >= '0' && *p <= '9' && p - d < 5)
			pv = pv * 10 + (unsigned long)(*p++ - '0');
		if (pv > 65535)
			return -EINVAL;
	}
	if (*p != '/')
		return -EINVAL;
	b = ++p;
	while (is_busid_char(*p))
		p++;
	bn = (size_t)(p - b);
	if (bn == 0 || bn > UCCID_USBIP_BUSID_MAX)
		return -EINVAL;
	if (*p == '/' && ret_interface) {
		const char *d = ++p;

		/* bInterfaceNumber: 0..255 in decimal, no sign, no leading zero */
		iv = 0;
		while (*p >= '0' && *p <= '9' && p - d < 3)
			iv = iv * 10 + (*p++ - '0');
		if (p == d || (*d == '0' && p - d > 1) || iv > 255)
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (hn + 1 > host_cap || bn + 1 > busid_cap)
		return -EINVAL;
	memcpy(host, h, hn);
	host[hn] = '\0';
	memcpy(busid, b, bn);
	busid[bn] = '\0';
	*port = (uint16_t)pv;
	if (ret_interface)
		*ret_interface = iv;
	return 0;
}

int uccid_usbip_parse_url(const char *url, char *host, size_t host_cap, uint16_t *port, char *busid,
			  size_t busid_cap)
{
	return parse_url(url, host, host_cap, port, busid, busid_cap, NULL);
}

int uccid_usbip_parse_reader_url(const char *url, char *host, size_t host_cap, uint16_t *port, char *busid,
				 size_t busid_cap, int *ret_interface)
{
	if (!ret_interface)
		return -EINVAL;
	return parse_url(url, host, host_cap, port, busid, busid_cap, ret_interface);
}

/* ---------------------------------------------------------------------------
 * Op phase (ref §2)
 */

/* The op_common status of a refusal, in words (userspace libsrc/usbip_common.h). */
static const char *op_status_text(uint32_t status)
{
	switch (status) {
	case USBIP_ST_NA: return "not available";
	case USBIP_ST_DEV_BUSY: return "device busy (imported by another host)";
	case USBIP_ST_DEV_ERR: return "device error";
	case USBIP_ST_NODEV: return "device not found";
	case USBIP_ST_ERROR: return "server error";
	default: return "refused";
	}
}

/* Words for a failed op-phase read. */
static int op_recv(int fd, int wfd, uint8_t *buf, size_t len, int64_t deadline, const char *where, const char *what,
		   unsigned timeout_ms, char *err, size_t errlen)
{
	size_t got = 0;
	int r = recv_all(fd, wfd, buf, len, deadline, &got);

	if (r == -ETIMEDOUT)
		uccid_set_err(err, errlen, "%s: no complete %s within %u ms", where, what, timeout_ms);
	else if (r == -EPIPE)
		uccid_set_err(err, errlen, "%s: server closed the connection %s %s", where,
			got ? "in the middle of its" : "instead of sending its", what);
	else if (r < 0)
		uccid_set_err(err, errlen, "%s: reading %s: %s", where, what, errno_text(r));
	if (r == -EPIPE)
		r = -ENODEV;
	return r;
}

static int op_send(int fd, const uint8_t *buf, size_t len, int64_t deadline, const char *where, const char *what,
		   char *err, size_t errlen)
{
	int r = send_all(fd, buf, len, deadline, NULL);

	if (r < 0)
		uccid_set_err(err, errlen, "%s: sending %s: %s", where, what, errno_text(r));
	if (r == -EPIPE)
		r = -ENODEV;
	return r;
}

/*
 * OP_REQ_IMPORT / OP_REP_IMPORT; checks the busid of the reply as the
 * Linux client does (ref §2).  A refusal is -EBUSY (imported by another
 * host, or not yet released by the last one) or -ENODEV.
 */
static int op_import(int fd, int wfd, const char *busid, int64_t deadline, unsigned timeout_ms, const char *where,
		     struct usbip_rep_import *rep, char *err, size_t errlen)
{
	uint8_t buf[USBIP_OP_REP_IMPORT_SIZE];
	struct usbip_op_common oc;
	struct ccid_diag diag = { 0 };
	ssize_t n;
	int r;

	n = usbip_req_import_encode(busid, buf, sizeof(buf));
	if (n < 0) {
		uccid_set_err(err, errlen, "%s: bad bus id \"%s\"", where, busid);
		return (int)n;
	}
	r = op_send(fd, buf, (size_t)n, deadline, where, "OP_REQ_IMPORT", err, errlen);
	if (r < 0)
		return r;
	r = op_recv(fd, wfd, buf, USBIP_OP_COMMON_SIZE, deadline, where, "OP_REP_IMPORT", timeout_ms, err, errlen);
	if (r < 0)
		return r;
	r = usbip_op_common_decode(buf, USBIP_OP_COMMON_SIZE, &oc, &diag);
	if (r < 0 || oc.code != USBIP_OP_REP_IMPORT) {
		uccid_set_err(err, errlen, "%s: not a USB/IP 1.1.1 server (reply %02X %02X %02X %02X ...)", where,
			buf[0], buf[1], buf[2], buf[3]);
		return -EPROTO;
	}
	if (oc.status != USBIP_ST_OK) {
		uccid_set_err(err, errlen, "%s: server refused import of %s: %s", where, busid,
			op_status_text(oc.status));
		return oc.status == USBIP_ST_DEV_BUSY ? -EBUSY : -ENODEV;
	}
	r = op_recv(fd, wfd, buf + USBIP_OP_COMMON_SIZE, USBIP_DEVICE_SIZE, deadline, where, "OP_REP_IMPORT",
		    timeout_ms, err, errlen);
	if (r < 0)
		return r;
	r = usbip_rep_import_decode(buf, sizeof(buf), rep, &diag);
	if (r < 0) {
		uccid_set_err(err, errlen, "%s: malformed OP_REP_IMPORT at offset %zu: expected %s", where, diag.offset,
			diag.expected ? diag.expected : "?");
		return -EPROTO;
	}
	if (strcmp(rep->dev.busid, busid) != 0) {
		uccid_set_err(err, errlen, "%s: asked to import %s, the server answered for \"%.31s\"", where, busid,
			rep->dev.busid);
		return -EPROTO;
	}
	return 0;
}

static int probe_unconfigured(const char *host, uint16_t port, struct uccid_usbip_device *o, int64_t deadline);

static enum uccid_usbip_ccid classify(const struct uccid_usbip_device *d)
{
	enum uccid_usbip_ccid c = UCCID_USBIP_NOT_CCID;

	for (unsigned i = 0; i < d->ninterfaces; i++) {
		if (d->intf[i].bInterfaceClass == CCID_USB_CLASS_SMART_CARD)
			return UCCID_USBIP_CCID;
		if (d->intf[i].bInterfaceClass == CCID_USB_CLASS_VENDOR)
			c = UCCID_USBIP_MAYBE_CCID;
	}
	return c;
}

/* Largest OP_REP_DEVLIST accepted: USBIP_MAX_DEVLIST devices of the largest size. */
#define DEVLIST_MAX_BYTES (USBIP_OP_REP_DEVLIST_HEADER_SIZE + (size_t)USBIP_MAX_DEVLIST * USBIP_DEVLIST_ENTRY_MAX)

int uccid_usbip_list(const char *host, uint16_t port, struct uccid_usbip_device *out, size_t max,
		     unsigned timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct usbip_rep_devlist rep;
	struct ccid_diag diag = { 0 };
	uint8_t req[USBIP_OP_REQ_DEVLIST_SIZE];
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, off;
	char where[96];
	int fd = -1, r;

	if (!host || !port || (max && !out)) {
		uccid_set_err(err, errlen, "invalid arguments");
		return -EINVAL;
	}
	format_where(where, sizeof(where), host, port);
	r = tcp_connect(host, port, deadline, -1, &fd, err, errlen);
	if (r < 0)
		goto out;
	r = op_send(fd, req, (size_t)usbip_req_devlist_encode(req, sizeof(req)), deadline, where, "OP_REQ_DEVLIST",
		    err, errlen);
	if (r < 0)
		goto out;

	/* Read until the reply decodes whole: its size is only known entry by entry. */
	for (;;) {
		ssize_t n;

		if (len) {
			r = usbip_rep_devlist_decode(buf, len, &rep, &diag);
			if (r >= 0)
				break;
			if (r != -ENODATA) {
				uccid_set_err(err, errlen, "%s: malformed OP_REP_DEVLIST at offset %zu: expected %s",
					where, diag.offset, diag.expected ? diag.expected : "?");
				goto out;
			}
		}
		if (len >= DEVLIST_MAX_BYTES) {
			uccid_set_err(err, errlen, "%s: OP_REP_DEVLIST longer than %zu bytes", where,
				DEVLIST_MAX_BYTES);
			r = -EMSGSIZE;
			goto out;
		}
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *p;

			if (ncap > DEVLIST_MAX_BYTES)
				ncap = DEVLIST_MAX_BYTES;
			p = realloc(buf, ncap);
			if (!p) {
				uccid_set_err(err, errlen, "out of memory");
				r = -ENOMEM;
				goto out;
			}
			buf = p;
			cap = ncap;
		}
		/* Wait for one byte within the deadline, then take whatever else is there. */
		r = op_recv(fd, -1, buf + len, 1, deadline, where, "OP_REP_DEVLIST", timeout_ms, err, errlen);
		if (r < 0)
			goto out;
		len++;
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
	}
	if (rep.status != USBIP_ST_OK) {
		uccid_set_err(err, errlen, "%s: server refused the device list: %s", where, op_status_text(rep.status));
		r = -EPROTO;
		goto out;
	}
	off = USBIP_OFF_DEVLIST_FIRST;
	for (uint32_t i = 0; i < rep.ndev && i < max; i++) {
		struct usbip_usb_device d;
		struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
		struct uccid_usbip_device *o = &out[i];
		int n = usbip_devlist_entry_decode(buf + off, len - off, &d, intf, NULL);

		if (n < 0) {            /* cannot happen: the whole reply decoded */
			r = -EBADMSG;
			goto out;
		}
		off += (size_t)n;
		memset(o, 0, sizeof(*o));
		memcpy(o->busid, d.busid, sizeof(o->busid));
		memcpy(o->path, d.path, sizeof(o->path));
		o->busnum = d.busnum;
		o->devnum = d.devnum;
		o->speed = d.speed;
		o->idVendor = d.idVendor;
		o->idProduct = d.idProduct;
		o->bcdDevice = d.bcdDevice;
		o->bDeviceClass = d.bDeviceClass;
		o->bDeviceSubClass = d.bDeviceSubClass;
		o->bDeviceProtocol = d.bDeviceProtocol;
		o->bConfigurationValue = d.bConfigurationValue;
		o->bNumConfigurations = d.bNumConfigurations;
		o->ninterfaces = d.bNumInterfaces;
		for (unsigned k = 0; k < d.bNumInterfaces; k++) {
			o->intf[k].bInterfaceClass = intf[k].bInterfaceClass;
			o->intf[k].bInterfaceSubClass = intf[k].bInterfaceSubClass;
			o->intf[k].bInterfaceProtocol = intf[k].bInterfaceProtocol;
		}
		o->ccid = classify(o);
		if (!o->bConfigurationValue && !o->ninterfaces)
			o->ccid = probe_unconfigured(host, port, o, deadline) < 0 ? UCCID_USBIP_UNKNOWN : classify(o);
	}
	r = rep.ndev > INT_MAX ? INT_MAX : (int)rep.ndev;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* ---------------------------------------------------------------------------
 * The connection: death, status, the read side (ref §3)
 */

/* The connection is unusable: record why (the first reason wins), wake everyone, stop the reader. */
static void kill_locked(struct utr *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kill_locked(struct utr *u, const char *fmt, ...)
{
	va_list ap;

	if (!u->dead) {
		u->dead = true;
		va_start(ap, fmt);
		vsnprintf(u->why, sizeof(u->why), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&u->cond);
	pthread_cond_broadcast(&u->pcond);
	shutdown(u->fd, SHUT_RDWR);     /* wakes the reader's poll and any writer */
}

/* -ECANCELED / -ENODEV once the transport is cancelled / dead, else 0.  Lock held. */
static int gone(const struct utr *u)
{
	if (u->cancelled)
		return -ECANCELED;
	if (u->dead)
		return -ENODEV;
	return 0;
}

/* A call starts / stops using the connection (reconnect() replaces it only when none does).  Lock held. */
static void enter(struct utr *u)
{
	u->users++;
}

static void leave(struct utr *u)
{
	if (--u->users == 0)
		pthread_cond_broadcast(&u->cond);
}

/*
 * The one translation of URB completion codes into the transport's errors
 * (transport.h).  unlinked: we sent CMD_UNLINK for this URB because its
 * caller's timeout passed, so a cancellation is that timeout.
 */
static int map_status(int32_t status, bool unlinked)
{
	switch (status) {
	case 0:
		return 0;
	case -LX_EPIPE:
		return -EPIPE;
	case -LX_ECONNRESET:
	case -LX_ENOENT:
		return unlinked ? -ETIMEDOUT : -ECANCELED;
	case -LX_ESHUTDOWN:
	case -LX_ENODEV:
		return -ENODEV;
	case -LX_EOVERFLOW:
		return -EOVERFLOW;
	default:
		return -EIO;
	}
}

/* A PDU goes out now: its round trip (see struct utr).  Lock held. */
static unsigned rt_begin(struct utr *u)
{
	unsigned d = u->rt_done + 1;

	if (d > u->rt_max)
		u->rt_max = d;
	return d;
}

static uint32_t take_seqnum(struct utr *u)
{
	uint32_t s = u->next_seqnum++;

	if (u->next_seqnum == 0)        /* 0 never names a URB: it means "no unlink" here */
		u->next_seqnum = 1;
	return s;
}

static struct urb *find_submit(struct utr *u, uint32_t seqnum)
{
	for (unsigned i = 0; i < UCCID_USBIP_MAX_PENDING; i++) {
		struct urb *x = &u->urb[i];

		if (x->used && !x->done && x->seqnum == seqnum)
			return x;
	}
	return NULL;
}

static struct urb *find_unlink(struct utr *u, uint32_t seqnum)
{
	for (unsigned i = 0; i < UCCID_USBIP_MAX_PENDING; i++) {
		struct urb *x = &u->urb[i];

		if (x->used && x->unlink_seqnum == seqnum && !x->unlink_done)
			return x;
	}
	return NULL;
}

static struct urb *free_slot(struct utr *u)
{
	for (unsigned i = 0; i < UCCID_USBIP_MAX_PENDING; i++)
		if (!u->urb[i].used)
			return &u->urb[i];
	return NULL;
}

/*
 * RET_SUBMIT (ref §3): it must answer a URB we sent and that is still
 * unanswered; the direction is 0 (what the Linux stub sends) or the URB's;
 * actual_length at most what the URB offered (which is at most the
 * caller's cap); data follows only for an IN URB.  RET_UNLINK carries no
 * data; anything else the server must not send.  Sets u->rneed to the
 * whole PDU's length.  Returns false if the connection must end.  Lock held.
 */
static bool check_header(struct utr *u, const struct usbip_header *h)
{
	struct urb *x;
	uint32_t len = 0;

	switch (h->command) {
	case USBIP_RET_SUBMIT:
		x = find_submit(u, h->seqnum);
		if (!x) {
			kill_locked(u, "protocol violation: RET_SUBMIT for unknown seqnum %u", h->seqnum);
			return false;
		}
		if (h->direction != USBIP_DIR_OUT && !(x->in && h->direction == USBIP_DIR_IN)) {
			kill_locked(u, "protocol violation: RET_SUBMIT %u with direction %u", h->seqnum, h->direction);
			return false;
		}
		if (h->u.ret_submit.actual_length > x->length) {
			kill_locked(u, "protocol violation: RET_SUBMIT %u with actual_length %u for a %u-byte URB",
				    h->seqnum, h->u.ret_submit.actual_length, x->length);
			return false;
		}
		len = x->in ? h->u.ret_submit.actual_length : 0;
		break;
	case USBIP_RET_UNLINK:
		break;
	default:
		kill_locked(u, "protocol violation: %s from the server", usbip_command_name(h->command));
		return false;
	}
	/* len <= UCCID_USBIP_MAX_BULK (the largest URB we send): the PDU fits rbuf */
	u->rneed = USBIP_HEADER_SIZE + (size_t)len;
	return true;
}

/*
 * The whole PDU at rbuf's start (checked by check_header) arrived: hand it
 * to its URB.  A RET_SUBMIT whose caller left meanwhile (cancel, death) is
 * dropped.  Returns false if the connection must end.  Lock held.
 */
static bool dispatch(struct utr *u)
{
	const struct usbip_header *h = &u->rh;
	size_t len = u->rneed - USBIP_HEADER_SIZE;
	struct urb *x;

	if (h->command == USBIP_RET_UNLINK) {
		/* its seqnum is that of our CMD_UNLINK */
		x = find_unlink(u, h->seqnum);
		if (!x) {
			kill_locked(u, "protocol violation: RET_UNLINK for unknown seqnum %u", h->seqnum);
			return false;
		}
		x->unlink_done = true;
		x->unlink_status = h->u.ret_unlink.status;
		if (x->unlink_depth > u->rt_done)
			u->rt_done = x->unlink_depth;
		if (x->patient)
			pthread_cond_broadcast(&u->pcond);
		if (x->abandoned)
			x->used = false;
		return true;
	}
	x = find_submit(u, h->seqnum);
	if (x) {
		if (x->buf && len)
			memcpy(x->buf, u->rbuf + USBIP_HEADER_SIZE, len);
		x->done = true;
		x->status = h->u.ret_submit.status;
		if (x->depth > u->rt_done)
			u->rt_done = x->depth;
		x->actual = h->u.ret_submit.actual_length;
		if (x->patient)
			pthread_cond_broadcast(&u->pcond);
	}
	return true;
}

/*
 * The read side, run by the caller holding it (u->reading): take the next
 * PDU from the stream and dispatch it.  Each recv takes whatever the
 * socket holds, so the next PDUs are often read along (read-ahead in rbuf).
 * Returns 0 when a PDU was dispatched; -ETIMEDOUT when deadline passed
 * first (a partial PDU stays in rbuf for the next reader); -EINTR when
 * wake() interrupted the wait; gone() once the
 * connection is dead or cancelled.  Lock held on entry and exit, dropped
 * while waiting on the socket.
 */
static int read_pdu(struct utr *u, int64_t deadline)
{
	for (;;) {
		size_t want = u->rneed ? u->rneed : USBIP_HEADER_SIZE;
		ssize_t n;

		if (gone(u))
			return gone(u);
		if (u->rlen >= want && !u->rneed) {
			struct ccid_diag diag = { 0 };

			if (usbip_header_decode(u->rbuf, USBIP_HEADER_SIZE, &u->rh, &diag) < 0) {
				kill_locked(u, "protocol violation: malformed URB header (offset %zu: expected %s)",
					    diag.offset, diag.expected ? diag.expected : "?");
				return gone(u);
			}
			if (!check_header(u, &u->rh))
				return gone(u);
			continue;
		}
		if (u->rlen >= want) {
			bool ok = dispatch(u);

			u->rlen -= u->rneed;
			memmove(u->rbuf, u->rbuf + u->rneed, u->rlen);
			u->rneed = 0;
			return ok ? 0 : gone(u);
		}

		pthread_mutex_unlock(&u->lock);
		n = recv_some(u->fd, u->wfd, u->rbuf + u->rlen, RBUF_CAP - u->rlen, deadline);
		pthread_mutex_lock(&u->lock);
		if (n > 0) {
			u->rlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ETIMEDOUT;
		if (n == -EINTR)
			return -EINTR;          /* wake(): the caller looks at its condition again */
		if (n == -EPIPE && u->rlen == 0)
			kill_locked(u, "server closed the connection");
		else if (n == -EPIPE)
			kill_locked(u, "connection closed in the middle of a %s", u->rneed ? "URB" : "URB header");
		else
			kill_locked(u, "connection failed: %s", errno_text((int)n));
		return gone(u);
	}
}

/*
 * Wait for progress until deadline (the caller rechecks its condition):
 * read and dispatch one PDU when no other caller is reading, else sleep
 * until the reader dispatches something or hands the read side over.
 *
 * A patient caller (an interrupt-IN transfer, which mostly waits long for
 * nothing) takes the read side only once it has lain idle for
 * PATIENT_GRACE_MS, and sleeps on its own condition variable, woken by its
 * own URB's completion, death or cancel, else every PATIENT_POLL_MS to see
 * whether the read side is free.  While exchanges follow one another, the
 * thread that waits for an answer is so the one the answer wakes, instead
 * of the interrupt waiter reading it and waking that thread (a thread hop),
 * and the exchanges do not wake the interrupt waiter either.  When the
 * exchanges stop, an interrupt completion waits at most PATIENT_POLL_MS +
 * PATIENT_GRACE_MS for its reader; on an idle connection, not at all: the
 * patient caller reads the socket itself and sleeps until the server
 * sends something or wake() interrupts it.
 * Returns ETIMEDOUT once the deadline passed, as wait_until (0 after a
 * wake: the caller looks at its condition again).  Lock held.
 */
static int await(struct utr *u, int64_t deadline, bool patient)
{
	int r;

	if (patient) {
		int64_t now = uccid_mono_ms(), ready = u->read_free_since + PATIENT_GRACE_MS;

		if (u->reading || now < ready) {
			int64_t until = u->reading ? now + PATIENT_POLL_MS : ready;

			r = wait_until(u, &u->pcond, until < deadline ? until : deadline);
			/* ETIMEDOUT only for the caller's deadline: at the grace's end it may read */
			return r == ETIMEDOUT && uccid_mono_ms() >= deadline ? ETIMEDOUT : 0;
		}
	} else if (u->reading) {
		return wait_until(u, &u->cond, deadline);
	}
	u->reading = true;
	r = read_pdu(u, deadline);
	u->reading = false;
	u->read_free_since = uccid_mono_ms();
	/* the URB completed may be another caller's; and a follower may now take the read side */
	pthread_cond_broadcast(&u->cond);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

/*
 * Write one PDU (header, then data).  Returns 0; -ETIMEDOUT when the
 * deadline passed before a byte of it went out (the stream is intact);
 * -ECANCELED / -ENODEV otherwise (half a PDU on the stream kills it).
 */
static int write_pdu(struct utr *u, const uint8_t *hdr, const uint8_t *data, size_t dlen, int64_t deadline)
{
	struct iovec iov[2] = { { (void *)hdr, USBIP_HEADER_SIZE }, { (void *)data, dlen } };
	size_t sent = 0;
	int r;

	pthread_mutex_lock(&u->wlock);
	r = send_iov(u->fd, iov, dlen ? 2 : 1, deadline, &sent);
	pthread_mutex_unlock(&u->wlock);
	if (r == 0)
		return 0;
	pthread_mutex_lock(&u->lock);
	if (r == -ETIMEDOUT && sent == 0 && !gone(u)) {
		pthread_mutex_unlock(&u->lock);
		return -ETIMEDOUT;
	}
	if (!gone(u))
		kill_locked(u, "send failed: %s", r == -ETIMEDOUT ? "timed out in the middle of a PDU" : errno_text(r));
	r = gone(u);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* A finished URB's result: a length or the mapped error.  Lock held. */
static int urb_result(struct utr *u, const struct urb *x)
{
	int r = map_status(x->status, x->unlink_seqnum != 0);

	if (r == -ENODEV)
		kill_locked(u, "the server reports the device gone (URB status %d)", (int)x->status);
	return r < 0 ? r : (int)x->actual;
}

/*
 * The caller is done with x: a URB whose RET_UNLINK is still due keeps its
 * slot (so that the late answer is recognised, and dropped), any other is
 * free.  Its buffer is the caller's and is forgotten either way.  u->lock held.
 */
static void urb_release(struct utr *u, struct urb *x)
{
	x->buf = NULL;
	if (x->unlink_seqnum && !x->unlink_done && !gone(u))
		x->abandoned = true;
	else
		x->used = false;
}

/*
 * x, a bulk-IN URB whose caller's timeout passed unanswered, stays
 * submitted for the next read (bulk_adopt); its data, when it comes, lands
 * in u->bulk_buf.  False when it cannot (no memory): the caller unlinks it.
 * Callers read bulk-IN one at a time (transport.h), so none is parked yet.
 * u->lock held.
 */
static bool bulk_park(struct utr *u, struct urb *x)
{
	if (u->bulk)
		return false;
	if (!u->bulk_buf && !(u->bulk_buf = malloc(UCCID_USBIP_MAX_BULK)))
		return false;
	x->buf = u->bulk_buf;
	u->bulk = x;
	return true;
}

/*
 * A bulk-IN read takes over the URB the last one left (u->bulk): its
 * answer, into buf (-EOVERFLOW when it is longer than cap), or -ETIMEDOUT
 * with the URB still submitted when deadline passes first.  u->lock held.
 */
static int bulk_adopt(struct utr *u, uint8_t *buf, size_t cap, int64_t deadline)
{
	struct urb *x = u->bulk;
	int r;

	u->bulk = NULL;                 /* ours while we wait */
	while (!x->done && !gone(u))
		if (await(u, deadline, false) == ETIMEDOUT)
			break;
	if (!x->done) {
		r = gone(u);
		if (r == 0) {
			u->bulk = x;
			return -ETIMEDOUT;
		}
	} else {
		r = urb_result(u, x);
		if (r > 0) {
			memcpy(buf, u->bulk_buf, (size_t)r < cap ? (size_t)r : cap);
			if ((size_t)r > cap)
				r = -EOVERFLOW;
		}
	}
	x->buf = NULL;
	x->used = false;
	pthread_cond_broadcast(&u->cond);
	return r;
}

/*
 * The caller's timeout passed: CMD_UNLINK, then wait at most
 * u->unlink_wait_ms (the session's exchange deadline) for the verdict
 * (ref §3): RET_UNLINK -ECONNRESET means cancelled (-ETIMEDOUT: nothing
 * was consumed); a RET_SUBMIT that raced the UNLINK is returned as a
 * success; status 0 means the RET_SUBMIT went first, so it must be here.
 * A late answer is no fault (vhci-hcd waits for it without a limit: a
 * loaded server, a slow link); no answer within that time: the server's
 * state is unknown, the connection is killed.  cancel() and the
 * connection's end still cut the wait short.  Lock held.
 */
static int unlink_urb(struct utr *u, struct urb *x)
{
	int64_t deadline = uccid_mono_ms() + u->unlink_wait_ms;
	struct usbip_header h = { 0 };
	uint8_t hb[USBIP_HEADER_SIZE];
	int r;

	x->unlink_seqnum = take_seqnum(u);
	x->unlink_depth = rt_begin(u);
	u->nunlinks++;
	h.command = USBIP_CMD_UNLINK;
	h.seqnum = x->unlink_seqnum;
	h.devid = u->devid;
	h.u.cmd_unlink.seqnum = x->seqnum;
	usbip_header_encode(&h, hb, sizeof(hb));
	pthread_mutex_unlock(&u->lock);
	r = write_pdu(u, hb, NULL, 0, deadline);
	pthread_mutex_lock(&u->lock);
	if (r < 0 && !x->done) {
		if (r == -ETIMEDOUT)
			kill_locked(u, "could not send CMD_UNLINK within %u ms", u->unlink_wait_ms);
		return gone(u) ? gone(u) : -ENODEV;
	}
	while (!x->done && !(x->unlink_done && x->unlink_status != 0) && !gone(u))
		if (await(u, deadline, x->patient) == ETIMEDOUT)
			break;
	if (x->done)
		return urb_result(u, x);
	if ((r = gone(u)) < 0)
		return r;
	if (x->unlink_done) {
		r = map_status(x->unlink_status, true);
		if (r == -ETIMEDOUT)
			return r;
		kill_locked(u, "RET_UNLINK with status %d", (int)x->unlink_status);
		return -ENODEV;
	}
	if (x->unlink_done)
		kill_locked(u, "RET_UNLINK said done but no RET_SUBMIT %u followed within %u ms", x->seqnum,
			    u->unlink_wait_ms);
	else
		kill_locked(u, "no RET_UNLINK for URB %u within %u ms", x->seqnum, u->unlink_wait_ms);
	return -ENODEV;
}

/*
 * One URB from submission to result (ref §3, §4).  ep without direction
 * bit; setup for ep 0; out/in: the caller's data (length bytes).  Returns
 * the bytes transferred or an error of transport.h.
 */
static int submit(struct utr *u, uint8_t ep, bool in, const uint8_t *setup, const uint8_t *out, uint8_t *inbuf,
		  uint32_t length, uint8_t interval, unsigned timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct usbip_header h = { 0 };
	uint8_t hb[USBIP_HEADER_SIZE];
	struct urb *x = NULL;
	bool patient = in && u->pub.info.ep_intr_in && ep == (u->pub.info.ep_intr_in & 0x0F);
	int r;

	pthread_mutex_lock(&u->lock);
	enter(u);
	for (;;) {
		if ((r = gone(u)) < 0)
			goto out;
		x = free_slot(u);
		if (x)
			break;
		/* every slot taken (by unanswered unlinks): wait for one, within the caller's time */
		if (await(u, deadline, patient) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			goto out;
		}
	}
	memset(x, 0, sizeof(*x));
	x->used = true;
	x->in = in;
	x->patient = patient;
	x->seqnum = take_seqnum(u);
	x->depth = rt_begin(u);
	u->nsubmits++;
	x->length = length;
	x->buf = in ? inbuf : NULL;

	h.command = USBIP_CMD_SUBMIT;
	h.seqnum = x->seqnum;
	h.devid = u->devid;
	h.direction = in ? USBIP_DIR_IN : USBIP_DIR_OUT;
	h.ep = ep;
	h.u.cmd_submit.transfer_flags = in ? USBIP_URB_DIR_IN : USBIP_URB_DIR_OUT;
	h.u.cmd_submit.transfer_buffer_length = length;
	h.u.cmd_submit.number_of_packets = 0;   /* non-ISO, as vhci sends (ref §3) */
	h.u.cmd_submit.interval = interval;
	if (setup)
		memcpy(h.u.cmd_submit.setup, setup, USBIP_SETUP_SIZE);
	usbip_header_encode(&h, hb, sizeof(hb));
	pthread_mutex_unlock(&u->lock);

	r = write_pdu(u, hb, out, in ? 0 : length, deadline);
	pthread_mutex_lock(&u->lock);
	if (r < 0)
		goto release;
	while (!x->done && !gone(u))
		if (await(u, deadline, patient) == ETIMEDOUT)
			break;
	if (x->done) {
		r = urb_result(u, x);
	} else if ((r = gone(u)) == 0) {
		if (in && !setup && ep == (u->pub.info.ep_bulk_in & 0x0F) && bulk_park(u, x)) {
			r = -ETIMEDOUT;
			goto out;
		}
		r = unlink_urb(u, x);
	}
release:
	urb_release(u, x);
	pthread_cond_broadcast(&u->cond);
out:
	leave(u);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/*
 * A bulk-OUT URB and a bulk-IN URB written back to back in one go (one
 * round trip to the server instead of two), then awaited in order: the OUT
 * within out_timeout_ms, the IN within in_timeout_ms (unlinked when it
 * passes, as in submit()).  Returns the IN result, or the OUT error (the IN
 * URB is then unlinked).
 */
static int submit_out_in(struct utr *u, uint8_t ep_out, const uint8_t *out, uint32_t out_len, uint8_t ep_in,
			 uint8_t *inbuf, uint32_t in_len, unsigned out_timeout_ms, unsigned in_timeout_ms, int *out_rc)
{
	int64_t out_deadline = deadline_after(out_timeout_ms), in_deadline;
	struct usbip_header h = { 0 };
	uint8_t hb[2][USBIP_HEADER_SIZE];
	struct iovec iov[3];
	struct urb *xo = NULL, *xi = NULL;
	size_t sent = 0;
	int r, ro;

	*out_rc = 0;
	pthread_mutex_lock(&u->lock);
	enter(u);
	for (;;) {
		if ((r = gone(u)) < 0) {
			*out_rc = r;
			goto out;
		}
		xo = free_slot(u);
		if (xo) {
			xo->used = true;
			xi = free_slot(u);
			if (xi)
				break;
			xo->used = false;
		}
		if (await(u, out_deadline, false) == ETIMEDOUT) {
			r = *out_rc = -ETIMEDOUT;
			goto out;
		}
	}
	memset(xo, 0, sizeof(*xo));
	memset(xi, 0, sizeof(*xi));
	xo->used = xi->used = true;
	xo->seqnum = take_seqnum(u);
	xo->length = out_len;
	xi->in = true;
	xi->seqnum = take_seqnum(u);
	xo->depth = xi->depth = rt_begin(u);
	u->nsubmits += 2;
	xi->length = in_len;
	xi->buf = inbuf;
	h.command = USBIP_CMD_SUBMIT;
	h.devid = u->devid;
	h.seqnum = xo->seqnum;
	h.direction = USBIP_DIR_OUT;
	h.ep = ep_out;
	h.u.cmd_submit.transfer_flags = USBIP_URB_DIR_OUT;
	h.u.cmd_submit.transfer_buffer_length = out_len;
	usbip_header_encode(&h, hb[0], USBIP_HEADER_SIZE);
	h.seqnum = xi->seqnum;
	h.direction = USBIP_DIR_IN;
	h.ep = ep_in;
	h.u.cmd_submit.transfer_flags = USBIP_URB_DIR_IN;
	h.u.cmd_submit.transfer_buffer_length = in_len;
	usbip_header_encode(&h, hb[1], USBIP_HEADER_SIZE);
	pthread_mutex_unlock(&u->lock);

	/* header, data, then the IN header: one sendmsg, one segment when it fits */
	iov[0] = (struct iovec){ hb[0], USBIP_HEADER_SIZE };
	iov[1] = (struct iovec){ (void *)out, out_len };
	iov[2] = (struct iovec){ hb[1], USBIP_HEADER_SIZE };
	pthread_mutex_lock(&u->wlock);
	r = send_iov(u->fd, iov, 3, out_deadline, &sent);
	pthread_mutex_unlock(&u->wlock);
	pthread_mutex_lock(&u->lock);
	if (r < 0) {
		if (!gone(u))
			kill_locked(u, "send failed: %s", errno_text(r));
		r = *out_rc = gone(u);
		xi->buf = NULL;
		xo->used = xi->used = false;
		goto out;
	}
	while (!xo->done && !gone(u))
		if (await(u, out_deadline, false) == ETIMEDOUT)
			break;
	ro = xo->done ? urb_result(u, xo) : gone(u) ? gone(u) : unlink_urb(u, xo);
	*out_rc = ro;
	urb_release(u, xo);
	in_deadline = deadline_after(in_timeout_ms);
	if (ro < 0 || (uint32_t)ro != out_len) {
		/* the OUT failed, or its RET_SUBMIT says it went out short (transport.h: the caller's
		   -EIO): no answer is coming, and the IN URB must not linger */
		r = ro < 0 ? ro : -EIO;
		if (!xi->done && !gone(u))
			unlink_urb(u, xi);
	} else {
		while (!xi->done && !gone(u))
			if (await(u, in_deadline, false) == ETIMEDOUT)
				break;
		if (xi->done) {
			r = urb_result(u, xi);
		} else if ((r = gone(u)) == 0) {
			if (bulk_park(u, xi)) {
				r = -ETIMEDOUT;
				pthread_cond_broadcast(&u->cond);
				goto out;
			}
			r = unlink_urb(u, xi);
		}
	}
	urb_release(u, xi);
	pthread_cond_broadcast(&u->cond);
out:
	leave(u);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* ---------------------------------------------------------------------------
 * Transport operations (transport/transport.h)
 */

static int op_descriptors(struct uccid_transport *t, uint8_t dev[18], uint8_t *cfg, size_t cfg_cap)
{
	struct utr *u = utr_of(t);
	int r;

	if (!dev || (!cfg && cfg_cap))
		return -EINVAL;
	/* under the lock: a reconnect replaces them */
	pthread_mutex_lock(&u->lock);
	r = gone(u);
	if (r == 0 && cfg_cap < u->cfg_len)
		r = -ENOBUFS;
	if (r == 0) {
		memcpy(dev, u->dev_desc, sizeof(u->dev_desc));
		memcpy(cfg, u->cfg, u->cfg_len);
		r = (int)u->cfg_len;
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

static int op_control(struct uccid_transport *t, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue,
		      uint16_t wIndex, uint8_t *data, uint16_t wLength, unsigned timeout_ms)
{
	struct usbip_setup s = { bmRequestType, bRequest, wValue, wIndex, wLength };
	uint8_t setup[USBIP_SETUP_SIZE];
	bool in = bmRequestType & USBIP_SETUP_DIR_IN;

	if ((wLength && !data) || wLength > UCCID_DESC_MAX)
		return -EINVAL;
	usbip_setup_encode(&s, setup);
	return submit(utr_of(t), 0, in, setup, in ? NULL : data, in ? data : NULL, wLength, 0, timeout_ms);
}

static int op_bulk_out(struct uccid_transport *t, const uint8_t *data, size_t len, unsigned timeout_ms)
{
	if ((len && !data) || len > UCCID_USBIP_MAX_BULK)
		return -EINVAL;
	return submit(utr_of(t), t->info.ep_bulk_out & 0x0F, false, NULL, data, NULL, (uint32_t)len, 0,
		      timeout_ms);
}

/* The parked bulk-IN URB's answer (bulk_adopt), or 1 when there is none: submit one. */
static int bulk_take_parked(struct utr *u, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	int r = 1;

	pthread_mutex_lock(&u->lock);
	if (u->bulk) {
		enter(u);
		r = bulk_adopt(u, buf, cap, deadline_after(timeout_ms));
		leave(u);
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* IN URBs offer at most UCCID_USBIP_MAX_BULK bytes: the largest CCID message fits. */
static int op_bulk_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	int r;

	if (!buf || !cap)
		return -EINVAL;
	if (cap > UCCID_USBIP_MAX_BULK)
		cap = UCCID_USBIP_MAX_BULK;
	r = bulk_take_parked(utr_of(t), buf, cap, timeout_ms);
	if (r != 1)
		return r;
	return submit(utr_of(t), t->info.ep_bulk_in & 0x0F, true, NULL, NULL, buf, (uint32_t)cap, 0, timeout_ms);
}

static int op_bulk_out_in(struct uccid_transport *t, const uint8_t *out, size_t out_len, uint8_t *in, size_t in_cap,
			  unsigned out_timeout_ms, unsigned in_timeout_ms, int *out_rc)
{
	struct utr *u = utr_of(t);
	bool parked;

	if ((!out && out_len) || out_len > UCCID_USBIP_MAX_BULK || !in || !in_cap || !out_rc)
		return -EINVAL;
	if (in_cap > UCCID_USBIP_MAX_BULK)
		in_cap = UCCID_USBIP_MAX_BULK;
	pthread_mutex_lock(&u->lock);
	parked = u->bulk != NULL;
	pthread_mutex_unlock(&u->lock);
	if (parked) {
		/* a bulk-IN URB is out already: the answer comes in it */
		*out_rc = op_bulk_out(t, out, out_len, out_timeout_ms);
		if (*out_rc < 0)
			return *out_rc;
		return op_bulk_in(t, in, in_cap, in_timeout_ms);
	}
	return submit_out_in(u, t->info.ep_bulk_out & 0x0F, out, (uint32_t)out_len, t->info.ep_bulk_in & 0x0F, in,
			     (uint32_t)in_cap, out_timeout_ms, in_timeout_ms, out_rc);
}

/*
 * Interrupt-IN as a host controller keeps it: one URB stays submitted
 * while the reader is idle, across calls — a call whose timeout passes
 * leaves it in place (no CMD_UNLINK: nothing was consumed, and an idle
 * reader costs no PDU), and a later call takes its completion, which may
 * have been dispatched into u->intr_buf meanwhile by whoever read the
 * socket.  A new URB (of cap bytes, at most INTR_MAX) goes out only after
 * one completed.  The URB ends with the connection (close, cancel: the
 * server drops a connection's URBs with it).  Data beyond cap, when a call
 * offers less than the URB it finds, is -EOVERFLOW (babble).  wake() ends
 * the call with -EINTR, the URB still submitted, as a timeout does.
 */
static int op_intr_in(struct uccid_transport *t, uint8_t *buf, size_t cap, unsigned timeout_ms)
{
	struct utr *u = utr_of(t);
	int64_t deadline = deadline_after(timeout_ms);
	struct usbip_header h = { 0 };
	uint8_t hb[USBIP_HEADER_SIZE];
	struct urb *x;
	int r;

	if (!t->info.ep_intr_in)
		return -ENOTSUP;
	if (!buf || !cap)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	enter(u);
	x = u->intr;
	while (!x) {
		if ((r = gone(u)) < 0)
			goto out;
		x = free_slot(u);
		if (x)
			break;
		if (u->woken) {
			r = -EINTR;
			goto out;
		}
		if (await(u, deadline, true) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			goto out;
		}
	}
	if (!u->intr) {
		memset(x, 0, sizeof(*x));
		x->used = true;
		x->in = true;
		x->patient = true;
		x->seqnum = take_seqnum(u);
		x->depth = rt_begin(u);
		u->nsubmits++;
		x->length = cap < INTR_MAX ? (uint32_t)cap : INTR_MAX;
		x->buf = u->intr_buf;
		h.command = USBIP_CMD_SUBMIT;
		h.seqnum = x->seqnum;
		h.devid = u->devid;
		h.direction = USBIP_DIR_IN;
		h.ep = t->info.ep_intr_in & 0x0F;
		h.u.cmd_submit.transfer_flags = USBIP_URB_DIR_IN;
		h.u.cmd_submit.transfer_buffer_length = x->length;
		h.u.cmd_submit.interval = u->intr_interval;
		usbip_header_encode(&h, hb, sizeof(hb));
		pthread_mutex_unlock(&u->lock);
		r = write_pdu(u, hb, NULL, 0, deadline);
		pthread_mutex_lock(&u->lock);
		if (r < 0) {
			x->used = false;
			goto out;
		}
		u->intr = x;
	}
	while (!x->done && !gone(u) && !u->woken)
		if (await(u, deadline, true) == ETIMEDOUT)
			break;
	if (x->done) {
		r = urb_result(u, x);
		if (r > 0) {
			memcpy(buf, u->intr_buf, (size_t)r < cap ? (size_t)r : cap);
			if ((size_t)r > cap)
				r = -EOVERFLOW;
		}
	} else {
		r = gone(u);
		if (r == 0) {
			/* still submitted: the next call waits on */
			r = u->woken ? -EINTR : -ETIMEDOUT;
			goto out;
		}
	}
	x->used = false;
	u->intr = NULL;
	pthread_cond_broadcast(&u->cond);
out:
	leave(u);
	u->woken = false;               /* this call has returned: the wake is spent */
	pthread_mutex_unlock(&u->lock);
	return r;
}

/*
 * The connection a reconnect() is setting up ends now: its calls see it
 * cancelled; its waits on sockets share u's eventfd, which the caller
 * writes after this.  u->lock held (then the pending connection's lock).
 */
static void stop_pending(struct utr *u)
{
	struct utr *n = u->pending;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->cancelled = true;
	pthread_cond_broadcast(&n->cond);
	pthread_cond_broadcast(&n->pcond);
	pthread_mutex_unlock(&n->lock);
}

/*
 * The intr_in call in progress returns -EINTR: a patient caller sleeping
 * on pcond wakes on the broadcast, one reading the socket on the eventfd
 * (recv_some).  Whoever else was reading just reads on.  A reconnect() in
 * progress returns -EINTR.
 */
static void op_wake(struct uccid_transport *t)
{
	struct utr *u = utr_of(t);
	uint64_t one = 1;

	pthread_mutex_lock(&u->lock);
	u->woken = true;
	stop_pending(u);
	pthread_cond_broadcast(&u->pcond);
	pthread_mutex_unlock(&u->lock);
	/* fails only with EAGAIN, when the counter is full: a wake is pending anyway */
	if (write(u->wfd, &one, sizeof(one)) < 0)
		return;
}

/*
 * Every call returns -ECANCELED from now on.  shutdown() wakes the caller
 * reading the socket (its poll sees the end of the stream) and any writer
 * blocked on a full socket; the others wake on the broadcast.
 */
static void op_cancel(struct uccid_transport *t)
{
	struct utr *u = utr_of(t);
	uint64_t one = 1;

	pthread_mutex_lock(&u->lock);
	u->cancelled = true;
	stop_pending(u);
	pthread_cond_broadcast(&u->cond);
	pthread_cond_broadcast(&u->pcond);
	shutdown(u->fd, SHUT_RDWR);     /* under the lock: a reconnect replaces the fd */
	pthread_mutex_unlock(&u->lock);
	/* a reconnect's connect and import wait on the eventfd (fails only when the counter is full) */
	if (write(u->wfd, &one, sizeof(one)) < 0)
		return;
}

/* CLEAR_FEATURE(ENDPOINT_HALT); the data toggle lives on the server's side of the link (ref §4). */
static int op_clear_halt(struct uccid_transport *t, uint8_t ep)
{
	return op_control(t, 0x02, REQ_CLEAR_FEATURE, FEATURE_ENDPOINT_HALT, ep, NULL, 0, CLEAR_HALT_TIMEOUT_MS);
}

static void op_close(struct uccid_transport *t)
{
	struct utr *u;

	if (!t)
		return;
	u = utr_of(t);
	if (u->fd >= 0)
		close(u->fd);
	if (u->wfd >= 0)
		close(u->wfd);
	pthread_cond_destroy(&u->cond);
	pthread_cond_destroy(&u->pcond);
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->wlock);
	free(u->rbuf);
	free(u->bulk_buf);
	free(u->cfg);
	free(u);
}

/* What killed the connection, as kill_locked() recorded it. */
static int op_why(struct uccid_transport *t, char *buf, size_t cap)
{
	struct utr *u = utr_of(t);
	int n = 0;

	if (!buf || !cap)
		return -EINVAL;
	buf[0] = '\0';
	pthread_mutex_lock(&u->lock);
	if (u->dead)
		n = snprintf(buf, cap, "%s", u->why);
	pthread_mutex_unlock(&u->lock);
	return n < 0 ? 0 : (size_t)n < cap ? n : (int)cap - 1;
}

static int op_reconnect(struct uccid_transport *t, unsigned timeout_ms, char *err, size_t errlen);

const struct uccid_transport_ops uccid_usbip_ops = {
	.name = "usbip",
	.descriptors = op_descriptors,
	.control = op_control,
	.bulk_out = op_bulk_out,
	.bulk_in = op_bulk_in,
	.bulk_out_in = op_bulk_out_in,
	.intr_in = op_intr_in,
	.cancel = op_cancel,
	.clear_halt = op_clear_halt,
	.close = op_close,
	.why = op_why,
	.wake = op_wake,
	.reconnect = op_reconnect,
};

/* ---------------------------------------------------------------------------
 * Open
 */

static struct utr *utr_new(void)
{
	struct utr *u = calloc(1, sizeof(*u));
	pthread_condattr_t ca;

	if (!u)
		return NULL;
	u->fd = -1;
	u->want_if = -1;
	u->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->wfd < 0) {
		free(u);
		return NULL;
	}
	u->next_seqnum = 1;             /* as vhci (ref §3) */
	u->unlink_wait_ms = UCCID_USBIP_UNLINK_WAIT_MS;
	u->pub.ops = &uccid_usbip_ops;
	u->rbuf = malloc(RBUF_CAP);
	if (!u->rbuf) {
		close(u->wfd);
		free(u);
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cond, &ca);
	pthread_cond_init(&u->pcond, &ca);
	pthread_condattr_destroy(&ca);
	return u;
}

/*
 * The URB phase's socket: blocking, with a receive timeout of
 * RECV_SLICE_MS (recv_some); every send passes MSG_DONTWAIT and polls
 * itself (send_iov).  Returns 0 or -errno.
 */
static int urb_phase_socket(int fd)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = RECV_SLICE_MS * 1000 };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* Words for a failed URB during open. */
static int urb_failed(struct utr *u, int r, const char *where, const char *what, char *err, size_t errlen)
{
	pthread_mutex_lock(&u->lock);
	if (u->dead)
		uccid_set_err(err, errlen, "%s: %s: %s", where, what, u->why);
	else
		uccid_set_err(err, errlen, "%s: %s: %s", where, what, r == -EPIPE ? "stalled" : errno_text(r));
	pthread_mutex_unlock(&u->lock);
	return r;
}

/*
 * A control request of a batch (control_batch): IN with wLength bytes into
 * data, or OUT without a data stage.  result: bytes or a negative errno.
 */
struct ctl_req {
	uint8_t bmRequestType, bRequest;
	uint16_t wValue, wIndex, wLength;
	uint8_t *data;
	int result;
};

/*
 * n (at most 4) control requests in flight together: written in one
 * sendmsg, then awaited in order (a server runs endpoint 0's URBs in the
 * order they came, USB 2.0 §5.5), each within deadline and unlinked when
 * it passes, as submit() does.  Requests that do not depend on each other
 * so cost one round trip instead of n.  Returns 0 when each request has
 * its result, or gone() (every result is then that).
 */
static int control_batch(struct utr *u, struct ctl_req *req, unsigned n, int64_t deadline)
{
	struct urb *x[4] = { NULL };
	uint8_t hb[4][USBIP_HEADER_SIZE];
	struct iovec iov[4];
	unsigned depth;
	int r = 0;

	if (n > 4)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	enter(u);
	for (unsigned i = 0; i < n; i++) {
		while (!(x[i] = free_slot(u)) && !gone(u))
			if (await(u, deadline, false) == ETIMEDOUT)
				break;
		if (!x[i] || gone(u)) {
			r = gone(u) ? gone(u) : -ETIMEDOUT;
			for (unsigned k = 0; k < i; k++)
				x[k]->used = false;
			goto out;
		}
		x[i]->used = true;
	}
	depth = rt_begin(u);
	for (unsigned i = 0; i < n; i++) {
		struct usbip_setup st = { req[i].bmRequestType, req[i].bRequest, req[i].wValue, req[i].wIndex,
					  req[i].wLength };
		struct usbip_header h = { 0 };
		bool in = req[i].bmRequestType & USBIP_SETUP_DIR_IN;

		memset(x[i], 0, sizeof(*x[i]));
		x[i]->used = true;
		x[i]->in = in;
		x[i]->seqnum = take_seqnum(u);
		x[i]->depth = depth;
		x[i]->length = req[i].wLength;
		x[i]->buf = in ? req[i].data : NULL;
		u->nsubmits++;
		h.command = USBIP_CMD_SUBMIT;
		h.seqnum = x[i]->seqnum;
		h.devid = u->devid;
		h.direction = in ? USBIP_DIR_IN : USBIP_DIR_OUT;
		h.u.cmd_submit.transfer_flags = in ? USBIP_URB_DIR_IN : USBIP_URB_DIR_OUT;
		h.u.cmd_submit.transfer_buffer_length = in ? req[i].wLength : 0;
		usbip_setup_encode(&st, h.u.cmd_submit.setup);
		usbip_header_encode(&h, hb[i], USBIP_HEADER_SIZE);
		iov[i] = (struct iovec){ hb[i], USBIP_HEADER_SIZE };
	}
	pthread_mutex_unlock(&u->lock);
	pthread_mutex_lock(&u->wlock);
	r = send_iov(u->fd, iov, (int)n, deadline, NULL);
	pthread_mutex_unlock(&u->wlock);
	pthread_mutex_lock(&u->lock);
	if (r < 0 && !gone(u))
		kill_locked(u, "send failed: %s", errno_text(r));
	for (unsigned i = 0; i < n; i++) {
		struct urb *y = x[i];

		while (!y->done && !gone(u))
			if (await(u, deadline, false) == ETIMEDOUT)
				break;
		if (y->done)
			req[i].result = urb_result(u, y);
		else if ((req[i].result = gone(u)) == 0)
			req[i].result = unlink_urb(u, y);
		urb_release(u, y);
	}
	r = gone(u);
	pthread_cond_broadcast(&u->cond);
out:
	leave(u);
	pthread_mutex_unlock(&u->lock);
	for (unsigned i = 0; r < 0 && i < n; i++)
		req[i].result = r;
	return r;
}

/*
 * The configuration descriptor, asked for with wLength UCCID_DESC_MAX into
 * buf (the device sends min(wLength, wTotalLength) bytes, USB 2.0 §9.4.3:
 * the whole of it in one request), got r (bytes or an error): checked,
 * asked again for wTotalLength when a device sent less, kept in u->cfg and
 * parsed into *cfg.  Returns 0 or a negative errno with err set.
 */
static int take_config(struct utr *u, const char *where, int64_t deadline, uint8_t *buf, int r,
		       struct ccid_usb_config *cfg, char *err, size_t errlen)
{
	struct ccid_diag diag = { 0 };
	uint16_t total;

	if (r < 0)
		return urb_failed(u, r, where, "GET_DESCRIPTOR(configuration)", err, errlen);
	if (r < CCID_USB_CONFIG_DESC_LEN || buf[1] != CCID_USB_DT_CONFIG) {
		uccid_set_err(err, errlen, "%s: bad configuration descriptor header (%d bytes)", where, r);
		return -EBADMSG;
	}
	total = get_le16(buf + 2);
	if (total < CCID_USB_CONFIG_DESC_LEN || total > UCCID_DESC_MAX) {
		uccid_set_err(err, errlen, "%s: configuration descriptor of %u bytes (accepted: 9 to %u)", where, total,
			UCCID_DESC_MAX);
		return -EMSGSIZE;
	}
	if (r < total) {
		/* a device that stops short of a long wLength: ask for exactly wTotalLength */
		r = op_control(&u->pub, 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_CONFIG << 8, 0, buf, total,
			       remaining_ms(deadline));
		if (r < 0)
			return urb_failed(u, r, where, "GET_DESCRIPTOR(configuration)", err, errlen);
	}
	if (r != total) {
		uccid_set_err(err, errlen, "%s: configuration descriptor of %d bytes, wTotalLength says %u", where, r,
			total);
		return -EPROTO;
	}
	free(u->cfg);
	u->cfg_len = 0;
	u->cfg = malloc(total);
	if (!u->cfg) {
		uccid_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(u->cfg, buf, total);
	u->cfg_len = total;
	if (ccid_usb_config_parse(u->cfg, total, cfg, &diag) < 0) {
		uccid_set_err(err, errlen, "%s: malformed configuration descriptor at offset %zu: expected %s", where,
			diag.offset, diag.expected ? diag.expected : "?");
		return -EBADMSG;
	}
	return 0;
}

/* The whole configuration descriptor in one request (take_config).  Returns 0 or a negative errno with err set. */
static int read_config(struct utr *u, const char *where, int64_t deadline, struct ccid_usb_config *cfg, char *err,
		       size_t errlen)
{
	uint8_t *buf = malloc(UCCID_DESC_MAX);
	int r;

	if (!buf) {
		uccid_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = op_control(&u->pub, 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_CONFIG << 8, 0, buf, UCCID_DESC_MAX,
		       remaining_ms(deadline));
	r = take_config(u, where, deadline, buf, r, cfg, err, errlen);
	free(buf);
	return r;
}

/*
 * GET_DESCRIPTOR device (18) and configuration (the whole of it in one
 * request), SET_CONFIGURATION, and the index-th CCID interface.  The
 * first configuration is used: CCID readers have one.
 *
 * SET_CONFIGURATION goes out always, as Linux's vhci-hcd has the device
 * enumerated after every import: a device server may open its endpoints
 * only then (and answer nothing before), and Linux's usbip-host exports a
 * device unconfigured right after `usbip bind` (the import reply says
 * bConfigurationValue 0: the value is then the configuration
 * descriptor's).
 *
 * The requests that do not depend on each other go out together: the two
 * descriptors, and SET_CONFIGURATION when the import reply names the
 * configuration — one round trip after the import (two when the device
 * was exported unconfigured), instead of four.
 */
static int read_descriptors(struct utr *u, const char *where, const char *busid, uint8_t configured,
			    unsigned index, int64_t deadline, char *err, size_t errlen)
{
	struct uccid_transport *t = &u->pub;
	struct ccid_usb_device_desc dd;
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_usb_ccid_interface ci;
	struct ccid_diag diag = { 0 };
	uint8_t *cbuf = malloc(UCCID_DESC_MAX);
	struct ctl_req req[3] = {
		{ 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_DEVICE << 8, 0, CCID_USB_DEVICE_DESC_LEN, u->dev_desc, 0 },
		{ 0x80, REQ_GET_DESCRIPTOR, CCID_USB_DT_CONFIG << 8, 0, UCCID_DESC_MAX, cbuf, 0 },
		{ 0x00, REQ_SET_CONFIGURATION, configured, 0, 0, NULL, 0 },
	};
	uint16_t total;
	int r;

	if (!cfg || !cbuf) {
		uccid_set_err(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	control_batch(u, req, configured ? 3 : 2, deadline);
	r = req[0].result;
	if (r < 0) {
		urb_failed(u, r, where, "GET_DESCRIPTOR(device)", err, errlen);
		goto out;
	}
	if (r != CCID_USB_DEVICE_DESC_LEN || ccid_usb_device_desc_parse(u->dev_desc, (size_t)r, &dd, &diag) < 0) {
		uccid_set_err(err, errlen, "%s: bad device descriptor (%d bytes)", where, r);
		r = -EBADMSG;
		goto out;
	}
	r = take_config(u, where, deadline, cbuf, req[1].result, cfg, err, errlen);
	if (r < 0)
		goto out;
	total = (uint16_t)u->cfg_len;
	r = configured ? req[2].result
		       : op_control(t, 0x00, REQ_SET_CONFIGURATION, cfg->bConfigurationValue, 0, NULL, 0,
				    remaining_ms(deadline));
	if (r < 0) {
		urb_failed(u, r, where, "SET_CONFIGURATION", err, errlen);
		goto out;
	}
	r = ccid_usb_find_ccid(cfg, u->cfg, total, index, &ci, &diag);
	/* a URL that names the interface: the CCID interface of that bInterfaceNumber */
	for (unsigned i = 1; r == 0 && u->want_if >= 0 && ci.bInterfaceNumber != u->want_if; i++)
		r = ccid_usb_find_ccid(cfg, u->cfg, total, i, &ci, &diag);
	if (r == -ENOENT && u->want_if >= 0) {
		uccid_set_err(err, errlen, "%s: interface %d of %s is not a CCID interface (or there is none)", where,
			u->want_if, busid);
		goto out;
	}
	if (r == -ENOENT) {
		if (index)
			uccid_set_err(err, errlen, "%s: no CCID interface #%u in %s's configuration", where, index,
				busid);
		else
			uccid_set_err(err, errlen, "%s: no CCID interface in %s's configuration", where, busid);
		goto out;
	}
	if (r < 0) {
		uccid_set_err(err, errlen, "%s: unusable CCID interface in %s (offset %zu: expected %s)", where, busid,
			diag.offset, diag.expected ? diag.expected : "?");
		goto out;
	}
	t->info.idVendor = dd.idVendor;
	t->info.idProduct = dd.idProduct;
	t->info.interface = ci.bInterfaceNumber;
	t->info.ep_bulk_out = ci.ep_bulk_out;
	t->info.ep_bulk_in = ci.ep_bulk_in;
	t->info.ep_intr_in = ci.ep_intr_in;
	for (unsigned e = 0; e < cfg->intf[ci.index].nendpoints; e++)
		if (cfg->intf[ci.index].ep[e].bEndpointAddress == ci.ep_intr_in)
			u->intr_interval = cfg->intf[ci.index].ep[e].bInterval;
	r = 0;
out:
	free(cbuf);
	free(cfg);
	return r;
}

/*
 * Connect u (within connect_ms, 0: the deadline), import busid and set the
 * connection up for URBs, with the import reply in *rep; every wait ends on
 * a wake of u->wfd.  Returns 0 or a negative errno with err set.
 */
static int connect_import(struct utr *u, const char *host, uint16_t port, const char *busid, int64_t deadline,
			  unsigned timeout_ms, unsigned connect_ms, const char *where, struct usbip_rep_import *rep,
			  char *err, size_t errlen)
{
	int64_t cdeadline = connect_ms ? uccid_mono_ms() + connect_ms : deadline;
	int r;

	r = tcp_connect(host, port, cdeadline < deadline ? cdeadline : deadline, u->wfd, &u->fd, err, errlen);
	if (r < 0)
		return r;
	r = op_import(u->fd, u->wfd, busid, deadline, timeout_ms, where, rep, err, errlen);
	if (r < 0)
		return r;
	r = urb_phase_socket(u->fd);
	if (r < 0) {
		uccid_set_err(err, errlen, "%s: cannot set up the socket: %s", where, errno_text(r));
		return r;
	}
	u->devid = usbip_devid(rep->dev.busnum, rep->dev.devnum);
	/* the open's own URBs wait for an unlink's answer as long as the open may take */
	if (timeout_ms)
		u->unlink_wait_ms = timeout_ms;
	u->pub.info.busnum = rep->dev.busnum <= UINT8_MAX ? (uint8_t)rep->dev.busnum : 0;
	u->pub.info.devnum = rep->dev.devnum <= UINT8_MAX ? (uint8_t)rep->dev.devnum : 0;
	return 0;
}

/*
 * Connect, import busid and set the connection up for URBs: *ret_u (to be
 * closed with op_close) and the import reply.  Returns 0 or a negative
 * errno with err set.
 */
static int import_device(const char *host, uint16_t port, const char *busid, int64_t deadline, unsigned timeout_ms,
			 unsigned connect_ms, const char *where, struct utr **ret_u, struct usbip_rep_import *rep,
			 char *err, size_t errlen)
{
	struct utr *u = utr_new();
	int r;

	if (!u) {
		uccid_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = connect_import(u, host, port, busid, deadline, timeout_ms, connect_ms, where, rep, err, errlen);
	if (r < 0) {
		op_close(&u->pub);
		return r;
	}
	*ret_u = u;
	return 0;
}

#define BUSY_BACKOFF_FIRST_MS 5
#define BUSY_BACKOFF_MAX_MS 200

/*
 * import_device(), again after a "busy" refusal for up to busy_wait_ms
 * (-1: no limit) with a back-off from BUSY_BACKOFF_FIRST_MS doubling to
 * BUSY_BACKOFF_MAX_MS: when a holder exits or dies, the lock files free
 * the reader before the server has seen its connection close, and the
 * next holder's import is refused for that moment.  Each attempt has
 * timeout_ms; *ret_deadline is the successful attempt's deadline.
 */
static int import_retrying(const char *host, uint16_t port, const char *busid, unsigned timeout_ms,
			   unsigned connect_ms, int busy_wait_ms,
			   const char *where, struct utr **ret_u, struct usbip_rep_import *rep, int64_t *ret_deadline,
			   char *err, size_t errlen)
{
	int64_t until = busy_wait_ms < 0 ? NO_DEADLINE : uccid_mono_ms() + busy_wait_ms;
	unsigned backoff = BUSY_BACKOFF_FIRST_MS, tries = 0;
	int r;

	for (;;) {
		int64_t left;
		struct timespec nap;

		*ret_deadline = deadline_after(timeout_ms);
		r = import_device(host, port, busid, *ret_deadline, timeout_ms, connect_ms, where, ret_u, rep, err,
				  errlen);
		tries++;
		if (r != -EBUSY || busy_wait_ms == 0)
			return r;
		left = until == NO_DEADLINE ? backoff : until - uccid_mono_ms();
		if (left <= 0) {
			uccid_set_err(err, errlen, "%s: server refused import of %s: device busy (imported by another "
				      "host) through %u tries in %d ms", where, busid, tries, busy_wait_ms);
			return r;
		}
		if ((int64_t)backoff < left)
			left = backoff;
		nap = (struct timespec){ .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000L };
		nanosleep(&nap, NULL);
		backoff = backoff * 2 < BUSY_BACKOFF_MAX_MS ? backoff * 2 : BUSY_BACKOFF_MAX_MS;
	}
}

int uccid_usbip_open(const char *url, unsigned index, unsigned timeout_ms, struct uccid_transport **ret,
		     char *err, size_t errlen)
{
	struct uccid_usbip_params p = { .timeout_ms = timeout_ms };

	return uccid_usbip_open_params(url, index, &p, ret, err, errlen);
}

int uccid_usbip_open_params(const char *url, unsigned index, const struct uccid_usbip_params *p,
			    struct uccid_transport **ret, char *err, size_t errlen)
{
	char host[UCCID_USBIP_HOST_MAX + 1], busid[UCCID_USBIP_BUSID_MAX + 1], where[128];
	struct usbip_rep_import rep;
	struct utr *u = NULL;
	unsigned timeout_ms = p ? p->timeout_ms : 0;
	int64_t deadline;
	uint16_t port;
	int want_if, r;

	if (!url || !ret) {
		uccid_set_err(err, errlen, "invalid arguments");
		return -EINVAL;
	}
	if (uccid_usbip_parse_reader_url(url, host, sizeof(host), &port, busid, sizeof(busid), &want_if) < 0) {
		uccid_set_err(err, errlen, "\"%.*s\": not a usbip://HOST[:PORT]/BUSID[/INTERFACE] URL",
			UCCID_USBIP_URL_MAX, url);
		return -EINVAL;
	}
	if (want_if >= 0 && index) {
		uccid_set_err(err, errlen, "\"%.*s\" names its interface: no index as well", UCCID_USBIP_URL_MAX, url);
		return -EINVAL;
	}
	format_where(where, sizeof(where), host, port);
	r = import_retrying(host, port, busid, timeout_ms, p ? p->connect_ms : 0, p ? p->busy_wait_ms : 0, where, &u,
			    &rep, &deadline, err,
			    errlen);
	if (r < 0)
		return r;
	snprintf(u->pub.info.path, sizeof(u->pub.info.path), "%s", url);
	snprintf(u->url, sizeof(u->url), "%s", url);
	u->index = index;
	u->want_if = want_if;
	u->connect_ms = p ? p->connect_ms : 0;
	r = read_descriptors(u, where, busid, rep.dev.bConfigurationValue, index, deadline, err, errlen);
	if (r < 0) {
		op_close(&u->pub);
		return r;
	}
	u->unlink_wait_ms = p && p->unlink_wait_ms ? p->unlink_wait_ms : UCCID_USBIP_UNLINK_WAIT_MS;
	*ret = &u->pub;
	return 0;
}

/*
 * The connection n that reconnect() set up takes the place of u's dead
 * one: socket, device identity, URB slots and read side (whatever n read
 * ahead goes along), descriptors.  Nobody uses u's connection (u->users 0);
 * u's lock held.  n keeps the old socket and buffers, for op_close.
 */
static void transplant(struct utr *u, struct utr *n)
{
	struct uccid_transport_info *a = &u->pub.info, *b = &n->pub.info;
	uint8_t *buf;
	int fd = u->fd;

	u->fd = n->fd;
	n->fd = fd;
	u->devid = n->devid;
	u->intr_interval = n->intr_interval;
	u->next_seqnum = n->next_seqnum;
	memcpy(u->urb, n->urb, sizeof(u->urb));
	u->intr = NULL;
	u->bulk = NULL;                 /* the old connection's URBs went with it */
	buf = u->rbuf;
	u->rbuf = n->rbuf;
	n->rbuf = buf;
	u->rlen = n->rlen;
	u->rneed = n->rneed;
	u->rh = n->rh;
	u->reading = false;
	u->read_free_since = n->read_free_since;
	memcpy(u->dev_desc, n->dev_desc, sizeof(u->dev_desc));
	buf = u->cfg;
	u->cfg = n->cfg;
	n->cfg = buf;
	u->cfg_len = n->cfg_len;
	/* read by callers without the lock: written only where the new instance differs */
	if (a->busnum != b->busnum || a->devnum != b->devnum) {
		a->busnum = b->busnum;
		a->devnum = b->devnum;
	}
	if (a->idVendor != b->idVendor || a->idProduct != b->idProduct || a->interface != b->interface ||
	    a->ep_bulk_out != b->ep_bulk_out || a->ep_bulk_in != b->ep_bulk_in || a->ep_intr_in != b->ep_intr_in) {
		a->idVendor = b->idVendor;
		a->idProduct = b->idProduct;
		a->interface = b->interface;
		a->ep_bulk_out = b->ep_bulk_out;
		a->ep_bulk_in = b->ep_bulk_in;
		a->ep_intr_in = b->ep_intr_in;
	}
	u->nsubmits += n->nsubmits;
	u->nunlinks += n->nunlinks;
	u->rt_max += n->rt_max;
	u->rt_done = u->rt_max;
	u->nreconnects++;
	u->dead = false;
	u->why[0] = '\0';
	pthread_cond_broadcast(&u->cond);
	pthread_cond_broadcast(&u->pcond);
}

/*
 * transport.h's reconnect: the URL opened is imported again on a new
 * connection, configured and its descriptors read as at open (within
 * timeout_ms), then the new connection replaces the dead one once no call
 * uses it.  The attempt shares u's eventfd, and is u->pending meanwhile:
 * wake() ends it with -EINTR, cancel() with -ECANCELED.
 */
static int op_reconnect(struct uccid_transport *t, unsigned timeout_ms, char *err, size_t errlen)
{
	char host[UCCID_USBIP_HOST_MAX + 1], busid[UCCID_USBIP_BUSID_MAX + 1], where[128];
	struct utr *u = utr_of(t), *n;
	struct usbip_rep_import rep;
	int64_t deadline = deadline_after(timeout_ms);
	uint16_t port;
	bool alive;
	int want_if, r;

	if (uccid_usbip_parse_reader_url(u->url, host, sizeof(host), &port, busid, sizeof(busid), &want_if) < 0) {
		uccid_set_err(err, errlen, "not a usbip:// URL: %s", u->url);
		return -EINVAL;
	}
	format_where(where, sizeof(where), host, port);
	n = utr_new();
	if (!n) {
		uccid_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->want_if = want_if;
	/* the same eventfd (a duplicate): u's wake() and cancel() reach n's waits */
	close(n->wfd);
	n->wfd = fcntl(u->wfd, F_DUPFD_CLOEXEC, 0);
	if (n->wfd < 0) {
		r = -errno;
		uccid_set_err(err, errlen, "%s: %s", where, errno_text(r));
		op_close(&n->pub);
		return r;
	}
	pthread_mutex_lock(&u->lock);
	r = u->cancelled ? -ECANCELED : u->woken ? -EINTR : 0;
	u->woken = false;               /* a wake is spent by the call it ends */
	alive = !u->dead;
	if (r == 0 && !alive)
		u->pending = n;
	pthread_mutex_unlock(&u->lock);
	if (r < 0 || alive) {           /* interrupted, or alive: nothing to do */
		if (r < 0)
			uccid_set_err(err, errlen, "%s: %s", where, errno_text(r));
		op_close(&n->pub);
		return r;
	}
	r = connect_import(n, host, port, busid, deadline, timeout_ms, u->connect_ms, where, &rep, err, errlen);
	if (r == 0)
		r = read_descriptors(n, where, busid, rep.dev.bConfigurationValue, u->index, deadline, err, errlen);
	pthread_mutex_lock(&u->lock);
	u->pending = NULL;
	if (u->cancelled) {
		r = -ECANCELED;
	} else if (r < 0 && n->cancelled) {
		r = -EINTR;             /* wake() */
		u->woken = false;
	}
	if (r < 0 && (r == -ECANCELED || r == -EINTR))
		uccid_set_err(err, errlen, "%s: %s", where, errno_text(r));
	if (r == 0) {
		/* the calls that failed on the old connection leave promptly: it is dead */
		while (u->users)
			pthread_cond_wait(&u->cond, &u->lock);
		n->unlink_wait_ms = u->unlink_wait_ms;
		transplant(u, n);
	}
	pthread_mutex_unlock(&u->lock);
	op_close(&n->pub);
	return r;
}

/*
 * A device listed unconfigured, without interfaces (Linux's usbip-host
 * right after `usbip bind`): import it, read its configuration descriptor
 * and classify it by the interfaces found there, then let it go (no
 * SET_CONFIGURATION: reading descriptors is allowed in the Address state,
 * USB 2.0 §9.4.3).  Within deadline.  Returns 0 with o's interfaces filled
 * in and o->probed set, or a negative errno (busy, refused, gone, timed
 * out, malformed): the class stays unknown.
 */
static int probe_unconfigured(const char *host, uint16_t port, struct uccid_usbip_device *o, int64_t deadline)
{
	struct usbip_rep_import rep;
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct utr *u = NULL;
	char where[96];
	int r;

	if (!cfg)
		return -ENOMEM;
	format_where(where, sizeof(where), host, port);
	r = import_device(host, port, o->busid, deadline, remaining_ms(deadline), 0, where, &u, &rep, NULL, 0);
	if (r < 0)
		goto out;
	r = read_config(u, where, deadline, cfg, NULL, 0);
	if (r < 0)
		goto out;
	o->ninterfaces = 0;
	for (unsigned i = 0; i < cfg->ninterfaces && o->ninterfaces < UCCID_USBIP_MAX_INTERFACES; i++) {
		const struct ccid_usb_interface *in = &cfg->intf[i];

		if (in->bAlternateSetting)
			continue;       /* as OP_REP_DEVLIST: the interfaces of the active settings */
		o->intf[o->ninterfaces].bInterfaceClass = in->bInterfaceClass;
		o->intf[o->ninterfaces].bInterfaceSubClass = in->bInterfaceSubClass;
		o->intf[o->ninterfaces].bInterfaceProtocol = in->bInterfaceProtocol;
		o->ninterfaces++;
	}
	o->probed = true;
out:
	if (u)
		op_close(&u->pub);
	free(cfg);
	return r;
}

int uccid_usbip_stats(struct uccid_transport *t, struct uccid_usbip_stats *ret)
{
	struct utr *u;

	if (!t || !ret || t->ops != &uccid_usbip_ops)
		return -EINVAL;
	u = utr_of(t);
	pthread_mutex_lock(&u->lock);
	ret->submits = u->nsubmits;
	ret->unlinks = u->nunlinks;
	ret->round_trips = u->rt_max;
	ret->reconnects = u->nreconnects;
	pthread_mutex_unlock(&u->lock);
	return 0;
}
