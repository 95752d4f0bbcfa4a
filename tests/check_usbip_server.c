/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the USB/IP server: an echo device implementing vusb_ops
 * (bulk OUT ep 2 comes back on bulk IN 0x81, interrupt IN 0x83 fires when
 * the test says or at a set time, fixed GET_DESCRIPTOR, a STALL on a chosen
 * request) is exported on 127.0.0.1, port 0, and a raw-socket client in the
 * test speaks USB/IP by hand.  The server is stepped with
 * usbip_server_run_once from the test's own thread (one test runs it from a
 * thread with usbip_server_run), so the device needs no locking; every wait
 * is bounded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbip/usbip_wire.h"
#include "tests/testutil.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

#define WAIT_MS 3000            /* bound on every wait for the server */
#define EP_BULK_OUT 0x02
#define EP_BULK_OUT_STALL 0x04
#define EP_BULK_IN 0x81
#define EP_INTR_IN 0x83

/* ---------------------------------------------------------------------------
 * The echo device
 */

struct echo {
	uint8_t fifo[16384];
	size_t len;
	bool intr_ready;                /* interrupt IN fires once */
	int64_t intr_at;                /* ... or at this time (VUSB_NEVER: not armed) */
	bool stall_in, drop_in;         /* next bulk IN poll: STALL / DROP_CONNECTION */
	uint8_t vendor[64];             /* written by vendor OUT 0x01, read by vendor IN 0x02 */
	size_t vendor_len;
	uint16_t pid;
	int attaches, detaches, unlinks, in_polls;
	uint8_t last_unlink_ep;
};

static const uint8_t device_descriptor[18] = {
	0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x09, 0x12,
	0x01, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01,
};

static void echo_info(void *dev, struct vusb_info *ret)
{
	struct echo *e = dev;

	memset(ret, 0, sizeof(*ret));
	strcpy(ret->path, "/sys/devices/vreader/1-1");
	ret->busnum = 1;
	ret->devnum = e->pid == 1 ? 2 : 3;
	ret->speed = 2;
	ret->idVendor = 0x1209;
	ret->idProduct = e->pid;
	ret->bcdDevice = 0x0100;
	ret->bConfigurationValue = 1;
	ret->bNumConfigurations = 1;
	ret->bNumInterfaces = 1;
	ret->intf[0].bInterfaceClass = 0x0B;
}

static int echo_control(void *dev, const uint8_t setup[8], const uint8_t *data, uint8_t *in,
			size_t in_cap, int64_t now)
{
	struct echo *e = dev;
	uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
	size_t n;

	if (setup[0] == 0x80 && setup[1] == 0x06 && setup[3] == 0x01) {   /* GET_DESCRIPTOR(DEVICE) */
		n = sizeof(device_descriptor) < in_cap ? sizeof(device_descriptor) : in_cap;
		memcpy(in, device_descriptor, n);
		return (int)n;
	}
	if (setup[0] == 0x00 && setup[1] == 0x09)                       /* SET_CONFIGURATION */
		return 0;
	if (setup[0] == 0x40 && setup[1] == 0x01 && wLength <= sizeof(e->vendor)) {
		memcpy(e->vendor, data, wLength);
		e->vendor_len = wLength;
		return 0;
	}
	if (setup[0] == 0xC0 && setup[1] == 0x02) {
		n = e->vendor_len < in_cap ? e->vendor_len : in_cap;
		memcpy(in, e->vendor, n);
		return (int)n;
	}
	return -EPIPE;                  /* 0xC0 0xFF and everything else: STALL */
}

static int echo_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, int64_t now)
{
	struct echo *e = dev;

	if (ep != EP_BULK_OUT)
		return -EPIPE;
	if (len > sizeof(e->fifo) - e->len)
		len = sizeof(e->fifo) - e->len;
	memcpy(e->fifo + e->len, data, len);
	e->len += len;
	return (int)len;
}

static int echo_in(void *dev, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action,
		   int64_t now)
{
	struct echo *e = dev;
	size_t n;

	e->in_polls++;
	if (ep == EP_INTR_IN) {
		if (!e->intr_ready && now < e->intr_at)
			return -EAGAIN;
		e->intr_ready = false;
		e->intr_at = VUSB_NEVER;
		if (cap < 2)
			return 0;
		buf[0] = 0x50;          /* NotifySlotChange, slot 0 present + changed */
		buf[1] = 0x03;
		return 2;
	}
	if (ep != EP_BULK_IN) {
		*action = VUSB_IN_STALL;
		return 0;
	}
	if (e->stall_in) {
		e->stall_in = false;
		*action = VUSB_IN_STALL;
		return 0;
	}
	if (e->drop_in) {
		e->drop_in = false;
		*action = VUSB_IN_DROP_CONNECTION;
		buf[0] = 0xEE;
		return cap ? 1 : 0;
	}
	if (!e->len)
		return -EAGAIN;
	n = e->len < cap ? e->len : cap;
	memcpy(buf, e->fifo, n);
	memmove(e->fifo, e->fifo + n, e->len - n);
	e->len -= n;
	return (int)n;
}

static int64_t echo_next_event(void *dev, int64_t now)
{
	struct echo *e = dev;

	return e->intr_at;
}

static void echo_unlink(void *dev, uint8_t ep, int64_t now)
{
	struct echo *e = dev;

	e->unlinks++;
	e->last_unlink_ep = ep;
}

static void echo_attach(void *dev, int64_t now)
{
	((struct echo *)dev)->attaches++;
}

static void echo_detach(void *dev, int64_t now)
{
	struct echo *e = dev;

	e->detaches++;
	e->len = 0;
}

static const struct vusb_ops echo_ops = {
	.info = echo_info,
	.control = echo_control,
	.out = echo_out,
	.in = echo_in,
	.next_event = echo_next_event,
	.unlink = echo_unlink,
	.attach = echo_attach,
	.detach = echo_detach,
};

/* ---------------------------------------------------------------------------
 * Fixture: a server with two echo devices, 1-1 (0x1209:0001) and 1-2 (0x1209:0002)
 */

static struct usbip_server *srv;
static struct echo dev1, dev2;
static uint32_t seq;

static void setup_server(void)
{
	struct vusb_device vd = { .ops = &echo_ops };

	memset(&dev1, 0, sizeof(dev1));
	memset(&dev2, 0, sizeof(dev2));
	dev1.pid = 1;
	dev2.pid = 2;
	dev1.intr_at = dev2.intr_at = VUSB_NEVER;
	seq = 1;
	srv = usbip_server_new();
	ck_assert_ptr_nonnull(srv);
	vd.dev = &dev1;
	strcpy(vd.busid, "1-1");
	ck_assert_int_eq(usbip_server_add_device(srv, &vd), 0);
	vd.dev = &dev2;
	strcpy(vd.busid, "1-2");
	ck_assert_int_eq(usbip_server_add_device(srv, &vd), 0);
	ck_assert_int_eq(usbip_server_listen(srv, "127.0.0.1", 0), 0);
	ck_assert_uint_ne(usbip_server_port(srv), 0);
}

static void teardown_server(void)
{
	usbip_server_free(srv);
	srv = NULL;
}

/* ---------------------------------------------------------------------------
 * A hand-written USB/IP client
 */

static int client_connect(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_port = htons(usbip_server_port(srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* As vhci and the usbip tool do: every PDU leaves at once (no Nagle delay). */
	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Step the server until n bytes arrived on fd; false on EOF or timeout. */
static bool recv_exact(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;
	int64_t end = uccid_mono_us() + WAIT_MS * 1000;

	while (got < n && uccid_mono_us() < end) {
		ssize_t r = recv(fd, b + got, n - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		ck_assert_int_eq(usbip_server_run_once(srv, 5), 0);
	}
	return got == n;
}

/* Step the server until fd reaches end of file (after discarding any bytes); false on timeout. */
static bool wait_eof(int fd, size_t *ret_discarded)
{
	int64_t end = uccid_mono_us() + WAIT_MS * 1000;
	size_t discarded = 0;

	while (uccid_mono_us() < end) {
		uint8_t b[512];
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (r > 0) {
			discarded += (size_t)r;
			continue;
		}
		if (r == 0 || errno == ECONNRESET) {
			if (ret_discarded)
				*ret_discarded = discarded;
			return true;
		}
		ck_assert_int_eq(usbip_server_run_once(srv, 5), 0);
	}
	return false;
}

/* Step the server for ms and require that nothing arrives on fd. */
static void expect_silence(int fd, int ms)
{
	int64_t end = uccid_mono_us() + (int64_t)ms * 1000;
	uint8_t b;

	while (uccid_mono_us() < end)
		ck_assert_int_eq(usbip_server_run_once(srv, 5), 0);
	ck_assert_int_eq(recv(fd, &b, 1, MSG_DONTWAIT), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void pump(int ms)
{
	int64_t end = uccid_mono_us() + (int64_t)ms * 1000;

	while (uccid_mono_us() < end)
		ck_assert_int_eq(usbip_server_run_once(srv, 5), 0);
}

/* Import busid; returns the reply status (and closes nothing). */
static uint32_t import(int fd, const char *busid, struct usbip_rep_import *ret)
{
	uint8_t b[USBIP_OP_REP_IMPORT_SIZE];
	struct usbip_rep_import rep;

	ck_assert_int_eq(usbip_req_import_encode(busid, b, sizeof(b)), 40);
	send_all(fd, b, 40);
	ck_assert(recv_exact(fd, b, 8));
	if (b[4] | b[5] | b[6] | b[7]) {
		ck_assert_int_eq(usbip_rep_import_decode(b, 8, &rep, NULL), 8);
		return rep.status;
	}
	ck_assert(recv_exact(fd, b + 8, USBIP_DEVICE_SIZE));
	ck_assert_int_eq(usbip_rep_import_decode(b, sizeof(b), &rep, NULL), 320);
	if (ret)
		*ret = rep;
	return rep.status;
}

static int import_ok(const char *busid)
{
	int fd = client_connect();

	ck_assert_uint_eq(import(fd, busid, NULL), USBIP_ST_OK);
	return fd;
}

static uint32_t devid_of(const char *busid)
{
	return usbip_devid(1, strcmp(busid, "1-1") == 0 ? 2 : 3);
}

/* Send a CMD_SUBMIT; returns its seqnum. */
static uint32_t submit(int fd, uint32_t dir, uint32_t ep, uint32_t length, const uint8_t setup[8],
		       const void *data)
{
	struct usbip_header h;
	uint8_t b[USBIP_HEADER_SIZE + 8192];

	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_SUBMIT;
	h.seqnum = seq++;
	h.devid = devid_of("1-1");
	h.direction = dir;
	h.ep = ep;
	h.u.cmd_submit.transfer_flags = dir == USBIP_DIR_IN ? USBIP_URB_DIR_IN : 0;
	h.u.cmd_submit.transfer_buffer_length = length;
	if (setup)
		memcpy(h.u.cmd_submit.setup, setup, 8);
	ck_assert_int_eq(usbip_header_encode(&h, b, sizeof(b)), 48);
	ck_assert_uint_le(length, sizeof(b) - 48);
	if (dir == USBIP_DIR_OUT && length) {
		memcpy(b + 48, data, length);
		send_all(fd, b, 48 + length);
	} else {
		send_all(fd, b, 48);
	}
	return h.seqnum;
}

static uint32_t unlink_urb(int fd, uint32_t victim)
{
	struct usbip_header h;
	uint8_t b[USBIP_HEADER_SIZE];

	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_UNLINK;
	h.seqnum = seq++;
	h.devid = devid_of("1-1");
	h.u.cmd_unlink.seqnum = victim;
	ck_assert_int_eq(usbip_header_encode(&h, b, sizeof(b)), 48);
	send_all(fd, b, sizeof(b));
	return h.seqnum;
}

/* Read one RET_* PDU; data (if the request was IN) goes to data (cap bytes). */
static struct usbip_header read_ret(int fd, bool was_in, uint8_t *data, size_t cap)
{
	struct usbip_header h;
	uint8_t b[USBIP_HEADER_SIZE];
	size_t n;

	ck_assert_msg(recv_exact(fd, b, sizeof(b)), "no reply from the server");
	ck_assert_int_eq(usbip_header_decode(b, sizeof(b), &h, NULL), 48);
	ck_assert(h.command == USBIP_RET_SUBMIT || h.command == USBIP_RET_UNLINK);
	ck_assert_uint_eq(h.devid, 0);
	n = usbip_payload_length(&h, was_in);
	ck_assert_uint_le(n, cap);
	if (n)
		ck_assert(recv_exact(fd, data, n));
	return h;
}

static void bulk_out(int fd, const uint8_t *data, size_t n)
{
	uint32_t s = submit(fd, USBIP_DIR_OUT, EP_BULK_OUT & 0x0F, (uint32_t)n, NULL, data);
	struct usbip_header h = read_ret(fd, false, NULL, 0);

	ck_assert_uint_eq(h.command, USBIP_RET_SUBMIT);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, n);
}

/* ---------------------------------------------------------------------------
 * op phase
 */

START_TEST(test_devlist)
{
	int fd = client_connect();
	uint8_t b[4096];
	struct usbip_rep_devlist rl;
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	size_t n = 12 + 2 * (312 + 4), off = USBIP_OFF_DEVLIST_FIRST;

	ck_assert_int_eq(usbip_req_devlist_encode(b, sizeof(b)), 8);
	send_all(fd, b, 8);
	ck_assert(recv_exact(fd, b, n));
	ck_assert_int_eq(usbip_rep_devlist_decode(b, n, &rl, NULL), (int)n);
	ck_assert_uint_eq(rl.ndev, 2);
	for (unsigned i = 0; i < 2; i++) {
		off += (size_t)usbip_devlist_entry_decode(b + off, n - off, &d, intf, NULL);
		ck_assert_str_eq(d.busid, i == 0 ? "1-1" : "1-2");
		ck_assert_str_eq(d.path, "/sys/devices/vreader/1-1");
		ck_assert_uint_eq(d.idVendor, 0x1209);
		ck_assert_uint_eq(d.idProduct, i + 1);
		ck_assert_uint_eq(d.speed, 2);
		ck_assert_uint_eq(d.bNumInterfaces, 1);
		ck_assert_uint_eq(intf[0].bInterfaceClass, 0x0B);
	}
	/* ref §2: the server closes the connection after the list. */
	ck_assert(wait_eof(fd, &n));
	ck_assert_uint_eq(n, 0);
	close(fd);
	ck_assert_int_eq(dev1.attaches, 0);
}
END_TEST

START_TEST(test_import)
{
	int fd = client_connect();
	struct usbip_rep_import rep;

	ck_assert_uint_eq(import(fd, "1-1", &rep), USBIP_ST_OK);
	ck_assert_str_eq(rep.dev.busid, "1-1");
	ck_assert_uint_eq(rep.dev.idVendor, 0x1209);
	ck_assert_uint_eq(rep.dev.idProduct, 0x0001);
	ck_assert_uint_eq(rep.dev.busnum, 1);
	ck_assert_uint_eq(rep.dev.devnum, 2);
	ck_assert_int_eq(dev1.attaches, 1);
	ck_assert_int_eq(dev2.attaches, 0);
	/* The connection stays open in the URB phase. */
	expect_silence(fd, 50);
	close(fd);
	pump(50);
	ck_assert_int_eq(dev1.detaches, 1);
}
END_TEST

START_TEST(test_import_unknown_busid)
{
	int fd = client_connect();

	ck_assert_uint_eq(import(fd, "9-9", NULL), USBIP_ST_NODEV);
	ck_assert(wait_eof(fd, NULL));
	close(fd);
	ck_assert_int_eq(dev1.attaches + dev2.attaches, 0);
}
END_TEST

START_TEST(test_import_busy)
{
	int first = import_ok("1-1");
	int second = client_connect();
	int other = client_connect();
	int third;

	/* One importer per device: a clean refusal, and the connection closes. */
	ck_assert_uint_eq(import(second, "1-1", NULL), USBIP_ST_DEV_BUSY);
	ck_assert(wait_eof(second, NULL));
	close(second);
	/* Another device is independent. */
	ck_assert_uint_eq(import(other, "1-2", NULL), USBIP_ST_OK);
	ck_assert_int_eq(dev1.attaches, 1);
	ck_assert_int_eq(dev1.detaches, 0);
	/* The first goes away: the device is detached and can be imported again. */
	close(first);
	pump(50);
	ck_assert_int_eq(dev1.detaches, 1);
	third = client_connect();
	ck_assert_uint_eq(import(third, "1-1", NULL), USBIP_ST_OK);
	ck_assert_int_eq(dev1.attaches, 2);
	close(third);
	close(other);
	pump(50);
	ck_assert_int_eq(dev1.detaches, 2);
	ck_assert_int_eq(dev2.detaches, 1);
}
END_TEST

START_TEST(test_op_garbage)
{
	static const char *const garbage[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"\x01\x10\x80\x05\0\0\0\0",             /* version 1.1.0 */
		"\x01\x11\x80\x02\0\0\0\0",             /* OP_REQ_DEVINFO */
		"\x01\x11\x00\x05\0\0\0\0",             /* a reply code */
	};

	for (unsigned i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		int fd = client_connect();
		size_t n;

		send_all(fd, garbage[i], i == 0 ? strlen(garbage[i]) : 8);
		ck_assert_msg(wait_eof(fd, &n), "garbage %u: connection not closed", i);
		ck_assert_uint_eq(n, 0);
		close(fd);
	}
	/* IMPORT with a busid that is not NUL-terminated. */
	{
		uint8_t b[40];
		int fd = client_connect();

		memcpy(b, "\x01\x11\x80\x03\0\0\0\0", 8);
		memset(b + 8, '1', 32);
		send_all(fd, b, sizeof(b));
		ck_assert(wait_eof(fd, NULL));
		close(fd);
	}
	ck_assert_int_eq(dev1.attaches, 0);
	/* The server still serves. */
	close(import_ok("1-1"));
}
END_TEST

/* Requests split byte by byte across reads are reassembled; pipelined ones all answered. */
START_TEST(test_partial_and_pipelined)
{
	uint8_t b[USBIP_OP_REP_IMPORT_SIZE];
	int fd = client_connect();
	uint8_t req[40], desc[18];
	uint8_t pdus[3 * 48];
	struct usbip_header h;
	const uint8_t get_desc[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00 };

	ck_assert_int_eq(usbip_req_import_encode("1-1", req, sizeof(req)), 40);
	for (unsigned i = 0; i < 40; i++) {
		send_all(fd, req + i, 1);
		ck_assert_int_eq(usbip_server_run_once(srv, 1), 0);
	}
	ck_assert(recv_exact(fd, b, 8));
	ck_assert_uint_eq(b[7], 0);
	ck_assert(recv_exact(fd, b + 8, USBIP_DEVICE_SIZE));
	ck_assert_str_eq((const char *)b + 8 + USBIP_OFF_DEV_BUSID, "1-1");

	/* One CMD_SUBMIT byte by byte. */
	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_SUBMIT;
	h.seqnum = 100;
	h.devid = devid_of("1-1");
	h.direction = USBIP_DIR_IN;
	h.u.cmd_submit.transfer_buffer_length = 18;
	memcpy(h.u.cmd_submit.setup, get_desc, 8);
	usbip_header_encode(&h, pdus, 48);
	for (unsigned i = 0; i < 48; i++) {
		send_all(fd, pdus + i, 1);
		ck_assert_int_eq(usbip_server_run_once(srv, 1), 0);
	}
	h = read_ret(fd, true, desc, sizeof(desc));
	ck_assert_uint_eq(h.seqnum, 100);
	ck_assert_mem_eq(desc, device_descriptor, 18);

	/* Three in one write. */
	for (unsigned i = 0; i < 3; i++) {
		memset(&h, 0, sizeof(h));
		h.command = USBIP_CMD_SUBMIT;
		h.seqnum = 200 + i;
		h.devid = devid_of("1-1");
		h.direction = USBIP_DIR_IN;
		h.u.cmd_submit.transfer_buffer_length = 18;
		memcpy(h.u.cmd_submit.setup, get_desc, 8);
		usbip_header_encode(&h, pdus + 48 * i, 48);
	}
	send_all(fd, pdus, sizeof(pdus));
	for (unsigned i = 0; i < 3; i++) {
		h = read_ret(fd, true, desc, sizeof(desc));
		ck_assert_uint_eq(h.seqnum, 200 + i);
		ck_assert_uint_eq(h.u.ret_submit.actual_length, 18);
	}
	close(fd);
}
END_TEST

START_TEST(test_many_clients)
{
	int fds[5], imp;
	uint8_t b[8];

	imp = import_ok("1-1");
	for (unsigned i = 0; i < 5; i++) {
		fds[i] = client_connect();
		usbip_req_devlist_encode(b, sizeof(b));
		send_all(fds[i], b, 8);
	}
	for (unsigned i = 0; i < 5; i++) {
		uint8_t r[12 + 2 * 316];

		ck_assert(recv_exact(fds[i], r, sizeof(r)));
		ck_assert_uint_eq(r[0x0B], 2);
		ck_assert(wait_eof(fds[i], NULL));
		close(fds[i]);
	}
	/* The importer was not disturbed. */
	bulk_out(imp, (const uint8_t *)"x", 1);
	close(imp);
}
END_TEST

/* ---------------------------------------------------------------------------
 * control
 */

START_TEST(test_control_in)
{
	int fd = import_ok("1-1");
	uint8_t desc[64];
	const uint8_t get18[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00 };
	const uint8_t get8[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00 };
	const uint8_t get255[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x00 };
	struct usbip_header h;
	uint32_t s;

	s = submit(fd, USBIP_DIR_IN, 0, 18, get18, NULL);
	h = read_ret(fd, true, desc, sizeof(desc));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 18);
	ck_assert_mem_eq(desc, device_descriptor, 18);
	/* Truncated to wLength ... */
	s = submit(fd, USBIP_DIR_IN, 0, 64, get8, NULL);
	h = read_ret(fd, true, desc, sizeof(desc));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 8);
	ck_assert_mem_eq(desc, device_descriptor, 8);
	/* ... and to the URB's buffer. */
	submit(fd, USBIP_DIR_IN, 0, 4, get18, NULL);
	h = read_ret(fd, true, desc, sizeof(desc));
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 4);
	/* A short answer to a long wLength is complete. */
	submit(fd, USBIP_DIR_IN, 0, 255, get255, NULL);
	h = read_ret(fd, true, desc, sizeof(desc));
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 18);
	close(fd);
}
END_TEST

START_TEST(test_control_out_and_stall)
{
	int fd = import_ok("1-1");
	const uint8_t vout[8] = { 0x40, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00 };
	const uint8_t vin[8] = { 0xC0, 0x02, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00 };
	const uint8_t vstall[8] = { 0xC0, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00 };
	const uint8_t setconf[8] = { 0x00, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 };
	const uint8_t clear_halt[8] = { 0x02, 0x01, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00 };
	uint8_t back[64];
	struct usbip_header h;
	uint32_t s;

	s = submit(fd, USBIP_DIR_OUT, 0, 5, vout, "hello");
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 5);
	ck_assert_uint_eq(dev1.vendor_len, 5);

	submit(fd, USBIP_DIR_IN, 0, 64, vin, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 5);
	ck_assert_mem_eq(back, "hello", 5);

	/* Zero-length OUT request. */
	submit(fd, USBIP_DIR_OUT, 0, 0, setconf, NULL);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 0);

	/* A request the device refuses: STALL = -EPIPE, no data. */
	s = submit(fd, USBIP_DIR_IN, 0, 64, vstall, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 0);
	/* The server answers nothing itself: CLEAR_FEATURE goes to the device (which refuses). */
	submit(fd, USBIP_DIR_OUT, 0, 0, clear_halt, NULL);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);

	/* An OUT request whose URB carries less than wLength is refused, not over-read. */
	s = submit(fd, USBIP_DIR_OUT, 0, 2, vout, "he");
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);
	ck_assert_uint_eq(dev1.vendor_len, 5);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------------------
 * bulk and interrupt
 */

START_TEST(test_bulk_echo)
{
	static const size_t sizes[] = { 1, 64, 271, 4096 };
	int fd = import_ok("1-1");
	uint8_t data[4096], back[4096];

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		struct usbip_header h;
		uint32_t s;

		for (size_t i = 0; i < n; i++)
			data[i] = (uint8_t)(i * 7 + k);
		bulk_out(fd, data, n);
		s = submit(fd, USBIP_DIR_IN, EP_BULK_IN & 0x0F, sizeof(back), NULL, NULL);
		h = read_ret(fd, true, back, sizeof(back));
		ck_assert_uint_eq(h.seqnum, s);
		ck_assert_int_eq(h.u.ret_submit.status, 0);
		ck_assert_uint_eq(h.u.ret_submit.actual_length, n);
		ck_assert_mem_eq(back, data, n);
	}
	close(fd);
}
END_TEST

/* An IN URB smaller than what is ready: the rest comes in the next URB, in order. */
START_TEST(test_bulk_in_split)
{
	int fd = import_ok("1-1");
	uint8_t data[100], back[64];
	struct usbip_header h;
	uint32_t a, b, c;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	/* Both URBs wait before the data exists. */
	a = submit(fd, USBIP_DIR_IN, 1, 64, NULL, NULL);
	b = submit(fd, USBIP_DIR_IN, 1, 64, NULL, NULL);
	expect_silence(fd, 30);
	/* Once the oldest URB of an endpoint waits, the later ones are not polled. */
	dev1.in_polls = 0;
	ck_assert_int_eq(usbip_server_run_once(srv, 0), 0);
	ck_assert_int_eq(dev1.in_polls, 1);
	c = submit(fd, USBIP_DIR_OUT, 2, sizeof(data), NULL, data);
	/* The OUT is answered, and both INs complete in submission order. */
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, c);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, a);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 64);
	ck_assert_mem_eq(back, data, 64);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, b);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 36);
	ck_assert_mem_eq(back, data + 64, 36);

	/* Data first, then a short URB, then another. */
	bulk_out(fd, data, 10);
	a = submit(fd, USBIP_DIR_IN, 1, 4, NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, a);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 4);
	b = submit(fd, USBIP_DIR_IN, 1, 64, NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, b);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 6);
	ck_assert_mem_eq(back, data + 4, 6);
	close(fd);
}
END_TEST

START_TEST(test_bulk_stall)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint8_t back[8];
	uint32_t s;

	s = submit(fd, USBIP_DIR_OUT, EP_BULK_OUT_STALL, 3, NULL, "abc");
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 0);

	dev1.stall_in = true;
	s = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, -EPIPE);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 0);
	close(fd);
}
END_TEST

START_TEST(test_interrupt_in)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint8_t msg[8];
	uint32_t s;
	int64_t t0;

	/* Fired by the test (as the control socket would): wake re-polls at once. */
	s = submit(fd, USBIP_DIR_IN, 3, sizeof(msg), NULL, NULL);
	expect_silence(fd, 30);
	dev1.intr_ready = true;
	usbip_server_wake(srv);
	t0 = uccid_mono_us();
	ck_assert_int_eq(usbip_server_run_once(srv, 2000), 0);
	ck_assert_int_lt(uccid_mono_us() - t0, 500 * 1000);     /* the wake cut the wait short */
	h = read_ret(fd, true, msg, sizeof(msg));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 2);
	ck_assert_uint_eq(msg[0], 0x50);
	ck_assert_uint_eq(msg[1], 0x03);

	/* Fired by time: one run_once with a long limit returns at next_event. */
	s = submit(fd, USBIP_DIR_IN, 3, sizeof(msg), NULL, NULL);
	ck_assert_int_eq(usbip_server_run_once(srv, 50), 0);        /* take the CMD_SUBMIT */
	t0 = uccid_mono_us();
	dev1.intr_at = t0 + 80 * 1000;
	while (dev1.intr_at != VUSB_NEVER && uccid_mono_us() - t0 < WAIT_MS * 1000)
		ck_assert_int_eq(usbip_server_run_once(srv, 10000), 0);
	ck_assert_int_ge(uccid_mono_us() - t0, 80 * 1000);
	ck_assert_int_lt(uccid_mono_us() - t0, 2000 * 1000);
	h = read_ret(fd, true, msg, sizeof(msg));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 2);
	close(fd);
}
END_TEST

/* One pending IN URB too many fails alone with -ENOMEM; the connection stays. */
START_TEST(test_pending_limit)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint32_t first = 0, last = 0;

	for (unsigned i = 0; i < USBIP_SERVER_MAX_PENDING; i++) {
		uint32_t s = submit(fd, USBIP_DIR_IN, 1, 16, NULL, NULL);

		if (i == 0)
			first = s;
	}
	last = submit(fd, USBIP_DIR_IN, 1, 16, NULL, NULL);
	h = read_ret(fd, true, NULL, 0);
	ck_assert_uint_eq(h.seqnum, last);
	ck_assert_int_eq(h.u.ret_submit.status, -ENOMEM);
	bulk_out(fd, (const uint8_t *)"z", 1);
	h = read_ret(fd, true, (uint8_t[16]){ 0 }, 16);
	ck_assert_uint_eq(h.seqnum, first);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 1);
	close(fd);
	pump(30);
	ck_assert_int_eq(dev1.detaches, 1);
}
END_TEST

/* ---------------------------------------------------------------------------
 * unlink
 */

START_TEST(test_unlink_pending)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint8_t back[64];
	uint32_t victim, u, s, out;

	victim = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	expect_silence(fd, 30);
	u = unlink_urb(fd, victim);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.command, USBIP_RET_UNLINK);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, -ECONNRESET);
	ck_assert_int_eq(dev1.unlinks, 1);
	ck_assert_uint_eq(dev1.last_unlink_ep, 0x81);
	/* No RET_SUBMIT ever comes for the victim: the data goes to the next URB. */
	out = submit(fd, USBIP_DIR_OUT, 2, 3, NULL, "abc");
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, out);
	expect_silence(fd, 30);
	s = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.command, USBIP_RET_SUBMIT);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 3);
	close(fd);
}
END_TEST

START_TEST(test_unlink_completed)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint8_t back[64];
	uint32_t s, u;

	bulk_out(fd, (const uint8_t *)"abc", 3);
	s = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, s);
	u = unlink_urb(fd, s);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.command, USBIP_RET_UNLINK);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, 0);
	/* Unknown seqnum: also 0. */
	u = unlink_urb(fd, 99999);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, 0);
	ck_assert_int_eq(dev1.unlinks, 0);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------------------
 * modes: real servers' behaviours on demand (usbip_server_modes), and the counters
 */

static void set_modes(const struct usbip_server_modes *m)
{
	usbip_server_set_modes(srv, m);
}

/* Linux's usbip-host right after `usbip bind`: unconfigured, no interfaces, in the list and the import reply. */
START_TEST(test_mode_unconfigured)
{
	int fd = client_connect();
	uint8_t b[4096];
	struct usbip_rep_devlist rl;
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[USBIP_MAX_INTERFACES];
	struct usbip_rep_import rep;
	size_t n = 12 + 2 * 312;

	set_modes(&(struct usbip_server_modes){ .unconfigured = true });
	ck_assert_int_eq(usbip_req_devlist_encode(b, sizeof(b)), 8);
	send_all(fd, b, 8);
	ck_assert(recv_exact(fd, b, n));
	ck_assert_int_eq(usbip_rep_devlist_decode(b, n, &rl, NULL), (int)n);
	ck_assert_uint_eq(rl.ndev, 2);
	ck_assert_int_eq(usbip_devlist_entry_decode(b + USBIP_OFF_DEVLIST_FIRST, n - USBIP_OFF_DEVLIST_FIRST, &d, intf,
						    NULL), 312);
	ck_assert_uint_eq(d.bConfigurationValue, 0);
	ck_assert_uint_eq(d.bNumInterfaces, 0);
	ck_assert(wait_eof(fd, NULL));
	close(fd);
	fd = client_connect();
	ck_assert_uint_eq(import(fd, "1-1", &rep), USBIP_ST_OK);
	ck_assert_uint_eq(rep.dev.bConfigurationValue, 0);
	ck_assert_uint_eq(rep.dev.bNumInterfaces, 0);
	close(fd);
}
END_TEST

/*
 * A device server whose endpoints open on SET_CONFIGURATION: URBs taken
 * before are never answered (an unlink cancels them, the device never
 * hears of them); after it, the device answers.
 */
START_TEST(test_mode_config_gate)
{
	const uint8_t setconf[8] = { 0x00, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00 };
	int fd;
	struct usbip_header h;
	uint8_t back[64];
	uint32_t out, in, u, s;

	set_modes(&(struct usbip_server_modes){ .config_gate = true });
	fd = import_ok("1-1");
	out = submit(fd, USBIP_DIR_OUT, 2, 3, NULL, "abc");
	in = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	expect_silence(fd, 30);
	ck_assert_uint_eq(dev1.len, 0);                 /* the device never saw the data */
	s = submit(fd, USBIP_DIR_OUT, 0, 0, setconf, NULL);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_int_eq(h.u.ret_submit.status, 0);
	expect_silence(fd, 30);                         /* what was taken before stays unanswered */
	u = unlink_urb(fd, out);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.command, USBIP_RET_UNLINK);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, -ECONNRESET);
	u = unlink_urb(fd, in);
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, -ECONNRESET);
	ck_assert_int_eq(dev1.unlinks, 0);
	/* configured: the endpoints answer */
	bulk_out(fd, (const uint8_t *)"xyz", 3);
	s = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 3);
	ck_assert_mem_eq(back, "xyz", 3);
	close(fd);
	/* a new import starts closed again */
	pump(30);
	fd = import_ok("1-1");
	submit(fd, USBIP_DIR_OUT, 2, 1, NULL, "q");
	expect_silence(fd, 30);
	close(fd);
}
END_TEST

/* RET_UNLINK leaves unlink_delay_ms late; the other URBs are answered meanwhile. */
START_TEST(test_mode_unlink_delay)
{
	int fd;
	struct usbip_header h;
	uint8_t back[64];
	uint32_t victim, u;

	set_modes(&(struct usbip_server_modes){ .unlink_delay_ms = 300 });
	fd = import_ok("1-1");
	victim = submit(fd, USBIP_DIR_IN, 1, sizeof(back), NULL, NULL);
	u = unlink_urb(fd, victim);
	expect_silence(fd, 100);
	bulk_out(fd, (const uint8_t *)"a", 1);          /* answered before the RET_UNLINK */
	h = read_ret(fd, false, NULL, 0);
	ck_assert_uint_eq(h.command, USBIP_RET_UNLINK);
	ck_assert_uint_eq(h.seqnum, u);
	ck_assert_int_eq(h.u.ret_unlink.status, -ECONNRESET);
	close(fd);
}
END_TEST

/* After an importer leaves, imports are refused as busy for busy_after_close_ms, then accepted. */
START_TEST(test_mode_busy_after_close)
{
	int fd, other;
	struct usbip_server_counters k;

	set_modes(&(struct usbip_server_modes){ .busy_after_close_ms = 200 });
	fd = import_ok("1-1");
	close(fd);
	for (int i = 0; i < WAIT_MS / 5 && dev1.detaches == 0; i++)
		pump(5);
	ck_assert_int_eq(dev1.detaches, 1);
	other = client_connect();
	ck_assert_uint_eq(import(other, "1-1", NULL), USBIP_ST_DEV_BUSY);
	close(other);
	other = client_connect();
	ck_assert_uint_eq(import(other, "1-2", NULL), USBIP_ST_OK);  /* another device is not affected */
	close(other);
	pump(250);
	fd = import_ok("1-1");
	close(fd);
	usbip_server_counters(srv, &k);
	ck_assert_uint_eq(k.imports, 3);
	ck_assert_uint_eq(k.busy, 1);
}
END_TEST

/* A RET_SUBMIT that says one byte more than the URB offered, once. */
START_TEST(test_mode_bad_actual_length)
{
	int fd = import_ok("1-1");
	struct usbip_header h;
	uint8_t back[64];
	uint32_t s;

	set_modes(&(struct usbip_server_modes){ .bad_actual_length = 1 });
	bulk_out(fd, (const uint8_t *)"abcd", 4);
	s = submit(fd, USBIP_DIR_IN, 1, 16, NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.seqnum, s);
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 17);
	ck_assert_mem_eq(back, "abcd", 4);
	bulk_out(fd, (const uint8_t *)"e", 1);
	submit(fd, USBIP_DIR_IN, 1, 16, NULL, NULL);
	h = read_ret(fd, true, back, sizeof(back));
	ck_assert_uint_eq(h.u.ret_submit.actual_length, 1);
	close(fd);
}
END_TEST

/* Every PDU a client sends is counted, by endpoint and direction. */
START_TEST(test_counters)
{
	const uint8_t get18[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00 };
	int fd = import_ok("1-1");
	struct usbip_server_counters k;
	uint8_t back[64];
	uint32_t v;

	submit(fd, USBIP_DIR_IN, 0, 18, get18, NULL);
	read_ret(fd, true, back, sizeof(back));
	bulk_out(fd, (const uint8_t *)"a", 1);
	bulk_out(fd, (const uint8_t *)"b", 1);
	v = submit(fd, USBIP_DIR_IN, 3, 8, NULL, NULL);
	unlink_urb(fd, v);
	read_ret(fd, false, NULL, 0);
	usbip_server_counters(srv, &k);
	ck_assert_uint_eq(k.imports, 1);
	ck_assert_uint_eq(k.submit_in[0], 1);
	ck_assert_uint_eq(k.submit_out[2], 2);
	ck_assert_uint_eq(k.submit_in[3], 1);
	ck_assert_uint_eq(k.unlinks, 1);
	ck_assert_uint_eq(k.unlinked, 1);
	usbip_server_counters_reset(srv);
	usbip_server_counters(srv, &k);
	ck_assert_uint_eq(k.imports + k.submit_in[0] + k.submit_out[2] + k.unlinks, 0);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------------------
 * robustness: each bad client costs only its own connection
 */

/* Import 1-1, send raw bytes, expect the connection closed and the device detached. */
static void expect_killed_by(const uint8_t *bytes, size_t n)
{
	int fd = import_ok("1-1");
	int before = dev1.detaches;

	send_all(fd, bytes, n);
	ck_assert(wait_eof(fd, NULL));
	close(fd);
	ck_assert_int_eq(dev1.detaches, before + 1);
}

START_TEST(test_urb_garbage)
{
	uint8_t b[48];
	struct usbip_header h;
	int bystander = import_ok("1-2");

	memset(b, 0xFF, sizeof(b));
	expect_killed_by(b, sizeof(b));

	/* Oversize transfer_buffer_length. */
	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_SUBMIT;
	h.devid = devid_of("1-1");
	h.ep = 2;
	h.u.cmd_submit.transfer_buffer_length = USBIP_MAX_TRANSFER + 1;
	usbip_header_encode(&h, b, sizeof(b));
	expect_killed_by(b, sizeof(b));

	/* ISO. */
	h.u.cmd_submit.transfer_buffer_length = 8;
	h.u.cmd_submit.number_of_packets = 2;
	usbip_header_encode(&h, b, sizeof(b));
	expect_killed_by(b, sizeof(b));

	/* Another device's devid (the stub drops those connections too). */
	h.u.cmd_submit.number_of_packets = 0;
	h.direction = USBIP_DIR_IN;
	h.devid = devid_of("1-2");
	usbip_header_encode(&h, b, sizeof(b));
	expect_killed_by(b, sizeof(b));

	/* A RET_* from a client. */
	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_SUBMIT;
	h.devid = devid_of("1-1");
	usbip_header_encode(&h, b, sizeof(b));
	expect_killed_by(b, sizeof(b));

	/* The other importer and new clients are still served. */
	{
		struct usbip_header r;
		uint8_t d[18];
		const uint8_t get[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00 };

		memset(&h, 0, sizeof(h));
		h.command = USBIP_CMD_SUBMIT;
		h.seqnum = 7;
		h.devid = devid_of("1-2");
		h.direction = USBIP_DIR_IN;
		h.u.cmd_submit.transfer_buffer_length = 18;
		memcpy(h.u.cmd_submit.setup, get, 8);
		usbip_header_encode(&h, b, sizeof(b));
		send_all(bystander, b, sizeof(b));
		r = read_ret(bystander, true, d, sizeof(d));
		ck_assert_uint_eq(r.seqnum, 7);
		ck_assert_uint_eq(r.u.ret_submit.actual_length, 18);
	}
	ck_assert_int_eq(dev2.detaches, 0);
	close(bystander);
	close(import_ok("1-1"));
}
END_TEST

START_TEST(test_client_vanishes)
{
	uint8_t b[48 + 100];
	struct usbip_header h;
	struct linger lg = { 1, 0 };
	int fd;

	/* With an IN URB pending. */
	fd = import_ok("1-1");
	submit(fd, USBIP_DIR_IN, 1, 64, NULL, NULL);
	pump(20);
	close(fd);
	pump(30);
	ck_assert_int_eq(dev1.detaches, 1);

	/* In the middle of a header. */
	fd = import_ok("1-1");
	memset(&h, 0, sizeof(h));
	h.command = USBIP_CMD_SUBMIT;
	h.devid = devid_of("1-1");
	h.ep = 2;
	h.u.cmd_submit.transfer_buffer_length = 4096;
	usbip_header_encode(&h, b, sizeof(b));
	send_all(fd, b, 20);
	pump(20);
	close(fd);
	pump(30);
	ck_assert_int_eq(dev1.detaches, 2);

	/* In the middle of an OUT payload. */
	fd = import_ok("1-1");
	memset(b + 48, 'q', 100);
	send_all(fd, b, sizeof(b));
	pump(20);
	close(fd);
	pump(30);
	ck_assert_int_eq(dev1.detaches, 3);
	ck_assert_uint_eq(dev1.len, 0);         /* the partial OUT never reached the device */

	/* With replies queued, by a reset (the server must not die of SIGPIPE). */
	fd = import_ok("1-1");
	bulk_out(fd, (const uint8_t *)"0123456789", 10);
	for (unsigned i = 0; i < 20; i++)
		submit(fd, USBIP_DIR_IN, 0, 18, (const uint8_t[8]){ 0x80, 6, 0, 1, 0, 0, 18, 0 }, NULL);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
	pump(50);
	ck_assert_int_eq(dev1.detaches, 4);
	close(import_ok("1-1"));
}
END_TEST

START_TEST(test_drop_connection)
{
	int fd = import_ok("1-1");
	size_t got;

	dev1.drop_in = true;
	submit(fd, USBIP_DIR_IN, 1, 64, NULL, NULL);
	/* Part of a RET_SUBMIT arrives, then the connection ends. */
	ck_assert(wait_eof(fd, &got));
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_lt(got, USBIP_HEADER_SIZE + 1);
	close(fd);
	ck_assert_int_eq(dev1.detaches, 1);
	close(import_ok("1-1"));
}
END_TEST

/* ---------------------------------------------------------------------------
 * API: watches, run(), argument checks
 */

static void on_pipe(void *ctx, int fd, short revents)
{
	int *count = ctx;
	char c;

	if (read(fd, &c, 1) == 1)
		(*count)++;
}

START_TEST(test_watch)
{
	int p[2], count = 0;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(usbip_server_add_watch(srv, p[0], on_pipe, &count), 0);
	ck_assert_int_eq(usbip_server_add_watch(srv, p[0], on_pipe, &count), -EEXIST);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	for (int i = 0; i < 100 && count == 0; i++)
		ck_assert_int_eq(usbip_server_run_once(srv, 10), 0);
	ck_assert_int_eq(count, 1);
	usbip_server_remove_watch(srv, p[0]);
	ck_assert_int_eq(write(p[1], "y", 1), 1);
	pump(30);
	ck_assert_int_eq(count, 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

struct runner {
	struct usbip_server *s;
	atomic_int stop;
	int rc;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->rc = usbip_server_run(r->s, &r->stop);
	return NULL;
}

/* usbip_server_run in its own thread, a blocking client, then stop. */
START_TEST(test_run_thread)
{
	struct runner r = { .s = srv, .stop = 0, .rc = 1 };
	pthread_t t;
	uint8_t b[12 + 2 * 316];
	struct timeval tv = { 3, 0 };
	int fd = client_connect();
	size_t got = 0;

	ck_assert_int_eq(pthread_create(&t, NULL, run_thread, &r), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	usbip_req_devlist_encode(b, sizeof(b));
	send_all(fd, b, 8);
	while (got < sizeof(b)) {
		ssize_t n = recv(fd, b + got, sizeof(b) - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, sizeof(b));
	ck_assert_int_eq(recv(fd, b, 1, 0), 0);
	close(fd);
	atomic_store(&r.stop, 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(r.rc, 0);
}
END_TEST

START_TEST(test_api_errors)
{
	struct vusb_device vd = { .ops = &echo_ops, .dev = &dev1 };
	struct usbip_server *s2;

	strcpy(vd.busid, "1-1");
	ck_assert_int_eq(usbip_server_add_device(srv, &vd), -EEXIST);
	vd.busid[0] = 0;
	ck_assert_int_eq(usbip_server_add_device(srv, &vd), -EINVAL);
	memset(vd.busid, 'x', sizeof(vd.busid));
	ck_assert_int_eq(usbip_server_add_device(srv, &vd), -EINVAL);
	ck_assert_int_eq(usbip_server_add_device(NULL, &vd), -EINVAL);
	ck_assert_int_eq(usbip_server_listen(srv, "127.0.0.1", 0), -EALREADY);
	ck_assert_int_eq(usbip_server_run_once(NULL, 0), -EINVAL);
	s2 = usbip_server_new();
	ck_assert_ptr_nonnull(s2);
	ck_assert_int_eq(usbip_server_listen(s2, "not-an-address", 0), -EINVAL);
	{
		int r = usbip_server_listen(s2, "::1", 0);   /* IPv6 may be off in a container */

		if (r == 0)
			ck_assert_uint_ne(usbip_server_port(s2), 0);
		else
			ck_assert(r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT);
	}
	/* The port in use by srv cannot be bound again. */
	{
		struct usbip_server *s3 = usbip_server_new();

		ck_assert_int_eq(usbip_server_listen(s3, "127.0.0.1", usbip_server_port(srv)), -EADDRINUSE);
		usbip_server_free(s3);
	}
	usbip_server_free(s2);
	usbip_server_free(NULL);
}
END_TEST

static Suite *usbip_server_suite(void)
{
	Suite *s = suite_create("usbip_server");
	TCase *tc;

	tc = tcase_create("op");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_devlist);
	tcase_add_test(tc, test_import);
	tcase_add_test(tc, test_import_unknown_busid);
	tcase_add_test(tc, test_import_busy);
	tcase_add_test(tc, test_op_garbage);
	tcase_add_test(tc, test_partial_and_pipelined);
	tcase_add_test(tc, test_many_clients);
	suite_add_tcase(s, tc);

	tc = tcase_create("control");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_control_in);
	tcase_add_test(tc, test_control_out_and_stall);
	suite_add_tcase(s, tc);

	tc = tcase_create("bulk");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bulk_echo);
	tcase_add_test(tc, test_bulk_in_split);
	tcase_add_test(tc, test_bulk_stall);
	tcase_add_test(tc, test_interrupt_in);
	tcase_add_test(tc, test_pending_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("unlink");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_unlink_pending);
	tcase_add_test(tc, test_unlink_completed);
	suite_add_tcase(s, tc);

	tc = tcase_create("modes");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mode_unconfigured);
	tcase_add_test(tc, test_mode_config_gate);
	tcase_add_test(tc, test_mode_unlink_delay);
	tcase_add_test(tc, test_mode_busy_after_close);
	tcase_add_test(tc, test_mode_bad_actual_length);
	tcase_add_test(tc, test_counters);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_urb_garbage);
	tcase_add_test(tc, test_client_vanishes);
	tcase_add_test(tc, test_drop_connection);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup_server, teardown_server);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_run_thread);
	tcase_add_test(tc, test_api_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(usbip_server_suite());
}
