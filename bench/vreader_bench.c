/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Round trips per second through the virtual reader, for a 5-byte and a
 * 261-byte command APDU (short-apdu profile, ECHO): in process through the
 * device model's vusb_ops, and over USB/IP on loopback (a bulk-OUT and a
 * bulk-IN URB per exchange, both submitted at once as vhci does).  Next to
 * them, a raw TCP ping-pong of the same byte counts on the same machine: the
 * ratio says what the USB/IP server and device model add on top of the
 * kernel's loopback.  The device must never be what limits a driver.
 *
 * usage: vreader-bench [ROUND_TRIPS]   (default 20000)
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ccid/bytes.h"
#include "ccid/message.h"
#include "usbip/usbip_wire.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

static unsigned rounds = 20000;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double rps, median_us, p99_us;
};

static struct result summarize(int64_t *lat, unsigned n, int64_t total_ns)
{
	struct result r;

	qsort(lat, n, sizeof(*lat), cmp_i64);
	r.rps = n / (total_ns / 1e9);
	r.median_us = lat[n / 2] / 1e3;
	r.p99_us = lat[(size_t)n * 99 / 100] / 1e3;
	return r;
}

static void die(const char *what)
{
	fprintf(stderr, "vreader-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ECHO: 5 bytes = 80 10 00 00 01 (Le 1); 261 bytes = header + Lc 255 + data + Le 00. */
static size_t echo_apdu(size_t size, uint8_t *apdu)
{
	apdu[0] = 0x80;
	apdu[1] = 0x10;
	apdu[2] = apdu[3] = 0;
	if (size == 5) {
		apdu[4] = 1;
		return 5;
	}
	apdu[4] = 255;
	for (int i = 0; i < 255; i++)
		apdu[5 + i] = (uint8_t)i;
	apdu[260] = 0;
	return 261;
}

static size_t xfr(uint8_t *msg, uint8_t seq, const uint8_t *apdu, size_t len)
{
	msg[0] = CCID_PC_TO_RDR_XFR_BLOCK;
	put_le32(msg + 1, (uint32_t)len);
	msg[5] = 0;
	msg[6] = seq;
	msg[7] = msg[8] = msg[9] = 0;
	memcpy(msg + 10, apdu, len);
	return 10 + len;
}

static struct vdev *new_reader(void)
{
	struct vdev_config cfg;
	struct vdev *d;
	uint8_t setup[8] = { 0x00, 0x09, 1, 0, 0, 0, 0, 0 }, in[8];

	vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg);
	d = vdev_new(&cfg);
	if (!d)
		die("vdev_new");
	vdev_usb_ops.attach(d, uccid_mono_us());
	vdev_usb_ops.control(d, setup, NULL, in, sizeof(in), uccid_mono_us());
	return d;
}

/* ---- in process ---- */

static struct result bench_inprocess(size_t size)
{
	struct vdev *d = new_reader();
	uint8_t apdu[300], msg[400], rsp[400];
	static const uint8_t pon[10] = { CCID_PC_TO_RDR_ICC_POWER_ON };
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0;
	size_t alen = echo_apdu(size, apdu);
	enum vusb_in_action action;
	struct result r;

	vdev_usb_ops.out(d, 2, pon, sizeof(pon), uccid_mono_us());
	vdev_usb_ops.in(d, VDEV_BULK_IN, rsp, sizeof(rsp), &action, uccid_mono_us());
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < rounds; i++) {
		int64_t s = uccid_mono_ns(), t = s / 1000;
		size_t n = xfr(msg, (uint8_t)i, apdu, alen);

		vdev_usb_ops.out(d, 2, msg, n, t);
		if (vdev_usb_ops.in(d, VDEV_BULK_IN, rsp, sizeof(rsp), &action, t) < 12 || rsp[6] != (uint8_t)i) {
			fprintf(stderr, "vreader-bench: bad in-process answer\n");
			exit(1);
		}
		lat[i] = uccid_mono_ns() - s;
	}
	r = summarize(lat, rounds, uccid_mono_ns() - t0);
	free(lat);
	vdev_free(d);
	return r;
}

/* ---- over USB/IP on loopback ---- */

static atomic_int server_stop;

static void *server_thread(void *arg)
{
	usbip_server_run(arg, &server_stop);
	return NULL;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void read_full(int fd, uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t r = read(fd, buf, n);

		if (r <= 0)
			die("read");
		buf += r;
		n -= (size_t)r;
	}
}

static void write_full(int fd, const uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			die("write");
		buf += w;
		n -= (size_t)w;
	}
}

static uint32_t devid;
static uint32_t seqnum;

/* One CCID exchange: CMD_SUBMIT bulk-OUT + CMD_SUBMIT bulk-IN, then both RET_SUBMITs. */
static size_t usbip_xchg(int fd, const uint8_t *msg, size_t len, uint8_t *rsp, size_t cap)
{
	uint8_t out[600], hdr[USBIP_HEADER_SIZE];
	struct usbip_header h = { .command = USBIP_CMD_SUBMIT, .devid = devid };
	struct usbip_header r;
	size_t o = 0, got = 0;

	h.seqnum = ++seqnum;
	h.direction = USBIP_DIR_OUT;
	h.ep = VDEV_BULK_OUT;
	h.u.cmd_submit.transfer_buffer_length = (uint32_t)len;
	o += (size_t)usbip_header_encode(&h, out, sizeof(out));
	memcpy(out + o, msg, len);
	o += len;
	h.seqnum = ++seqnum;
	h.direction = USBIP_DIR_IN;
	h.ep = VDEV_BULK_IN & 0x0F;
	h.u.cmd_submit.transfer_buffer_length = (uint32_t)cap;
	o += (size_t)usbip_header_encode(&h, out + o, sizeof(out) - o);
	write_full(fd, out, o);
	for (int k = 0; k < 2; k++) {
		read_full(fd, hdr, sizeof(hdr));
		if (usbip_header_decode(hdr, sizeof(hdr), &r, NULL) < 0 || r.command != USBIP_RET_SUBMIT
		    || r.u.ret_submit.status != 0 || r.u.ret_submit.actual_length > cap)
			die("bad RET_SUBMIT");
		if (r.seqnum == seqnum) {
			got = r.u.ret_submit.actual_length;
			read_full(fd, rsp, got);
		}
	}
	return got;
}

static struct result bench_usbip(size_t size)
{
	struct vdev *d = new_reader();
	struct usbip_server *srv = usbip_server_new();
	struct vusb_device dev = { .ops = &vdev_usb_ops, .dev = d, .busid = "1-1" };
	uint8_t buf[400], apdu[300], msg[400], rsp[400];
	static const uint8_t pon[10] = { CCID_PC_TO_RDR_ICC_POWER_ON };
	struct usbip_rep_import rep;
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0;
	size_t alen = echo_apdu(size, apdu);
	struct result res;
	pthread_t th;
	int fd;

	if (!srv || usbip_server_add_device(srv, &dev) < 0 || usbip_server_listen(srv, "127.0.0.1", 0) < 0)
		die("server");
	atomic_store(&server_stop, 0);
	pthread_create(&th, NULL, server_thread, srv);
	fd = tcp_connect(usbip_server_port(srv));
	write_full(fd, buf, (size_t)usbip_req_import_encode("1-1", buf, sizeof(buf)));
	read_full(fd, buf, 320);
	if (usbip_rep_import_decode(buf, 320, &rep, NULL) < 0 || rep.status)
		die("import");
	devid = rep.dev.busnum << 16 | rep.dev.devnum;
	usbip_xchg(fd, pon, sizeof(pon), rsp, sizeof(rsp));
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < rounds; i++) {
		int64_t s = uccid_mono_ns();
		size_t n = xfr(msg, (uint8_t)i, apdu, alen);

		if (usbip_xchg(fd, msg, n, rsp, 271) < 12 || rsp[6] != (uint8_t)i) {
			fprintf(stderr, "vreader-bench: bad USB/IP answer\n");
			exit(1);
		}
		lat[i] = uccid_mono_ns() - s;
	}
	res = summarize(lat, rounds, uccid_mono_ns() - t0);
	close(fd);
	atomic_store(&server_stop, 1);
	usbip_server_wake(srv);
	pthread_join(th, NULL);
	usbip_server_free(srv);
	vdev_free(d);
	free(lat);
	return res;
}

/* ---- raw TCP ping-pong with the same byte counts ---- */

struct pong {
	int fd;
	size_t req, rsp;
};

static void *pong_thread(void *arg)
{
	struct pong *p = arg;
	uint8_t buf[1024] = { 0 };
	int one = 1, c = accept(p->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		size_t n = p->req;

		while (n) {
			ssize_t r = read(c, buf, n);

			if (r <= 0)
				goto out;
			n -= (size_t)r;
		}
		/* one write: the least any server could do */
		if (write(c, buf, p->rsp) <= 0)
			goto out;
	}
out:
	close(c);
	return NULL;
}

static struct result bench_raw(size_t req, size_t rsp_len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct pong p = { .req = req, .rsp = rsp_len };
	uint8_t buf[1024] = { 0 };
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0;
	struct result r;
	pthread_t th;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (p.fd < 0 || bind(p.fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p.fd, 1) < 0
	    || getsockname(p.fd, (struct sockaddr *)&a, &alen) < 0)
		die("raw listen");
	pthread_create(&th, NULL, pong_thread, &p);
	fd = tcp_connect(ntohs(a.sin_port));
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < rounds; i++) {
		int64_t s = uccid_mono_ns();

		write_full(fd, buf, req);
		read_full(fd, buf, rsp_len);
		lat[i] = uccid_mono_ns() - s;
	}
	r = summarize(lat, rounds, uccid_mono_ns() - t0);
	close(fd);
	pthread_join(th, NULL);
	close(p.fd);
	free(lat);
	return r;
}

static void row(const char *path, size_t size, struct result r)
{
	printf("%-6zu %-16s %10.0f %10.1f %10.1f\n", size, path, r.rps, r.median_us, r.p99_us);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 5, 261 };

	if (argc > 1)
		rounds = (unsigned)strtoul(argv[1], NULL, 10);
	if (rounds < 100 || rounds > 10000000) {
		fprintf(stderr, "usage: vreader-bench [ROUND_TRIPS >= 100]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("virtual reader round trips, short-apdu profile, ECHO, %u each\n", rounds);
	printf("%-6s %-16s %10s %10s %10s\n", "apdu", "path", "rt/s", "median_us", "p99_us");
	for (size_t k = 0; k < 2; k++) {
		size_t size = sizes[k];
		/* what travels per exchange over USB/IP: two headers + the message out, two headers + the answer back */
		size_t req = 2 * USBIP_HEADER_SIZE + 10 + size, rsp = 2 * USBIP_HEADER_SIZE + 10 + (size == 5 ? 3 : 257);
		struct result in = bench_inprocess(size), ip = bench_usbip(size), raw = bench_raw(req, rsp);

		row("in-process", size, in);
		row("usbip-loopback", size, ip);
		row("raw-tcp", size, raw);
		printf("ratio usbip/raw-tcp median latency, %zu-byte APDU: %.2f\n", size, ip.median_us / raw.median_us);
	}
	return 0;
}
