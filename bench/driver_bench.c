/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole stack, measured: libuccid's uccid_transmit() over its USB/IP
 * client to the virtual reader (extended-apdu profile) on loopback, for
 * 5-, 261- and 4096-byte command APDUs (ECHO), next to a raw TCP ping-pong
 * of the same byte counts per exchange on the same machine in the same run.
 * The ratio of median latencies is what the stack adds; the target for
 * small APDUs is 1.5.  A 4096-byte APDU crosses a 271-byte-message reader
 * in 16 chained XfrBlocks, so its ratio counts 16 round trips against one.
 *
 * usage: driver-bench [ROUND_TRIPS]   (default 5000)
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool/pingpong.h"
#include "session/uccid.h"
#include "usbip/usbip_wire.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

static unsigned rounds = 5000;

static void die(const char *what, int err)
{
	fprintf(stderr, "driver-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* An ECHO APDU of exactly size bytes: 80 10 00 00, then Lc/data (short or extended), Le when it fits. */
static size_t echo_apdu(size_t size, uint8_t *apdu, size_t *rsp_len)
{
	apdu[0] = 0x80;
	apdu[1] = 0x10;
	apdu[2] = apdu[3] = 0;
	if (size == 5) {
		apdu[4] = 1;                     /* case 2: one byte back */
		*rsp_len = 3;
		return 5;
	}
	if (size <= 261) {
		size_t lc = size - 6;            /* case 4S: header, Lc, data, Le */

		apdu[4] = (uint8_t)lc;
		for (size_t i = 0; i < lc; i++)
			apdu[5 + i] = (uint8_t)i;
		apdu[5 + lc] = 0;
		*rsp_len = lc + 2;
		return size;
	}
	{
		size_t lc = size - 7;            /* case 3E: header, 00 Lc1 Lc2, data; only SW back */

		apdu[4] = 0;
		apdu[5] = (uint8_t)(lc >> 8);
		apdu[6] = (uint8_t)lc;
		for (size_t i = 0; i < lc; i++)
			apdu[7 + i] = (uint8_t)i;
		*rsp_len = 2;
		return size;
	}
}

static atomic_int server_stop;

static void *server_thread(void *arg)
{
	usbip_server_run(arg, &server_stop);
	return NULL;
}

/* A thread in uccid_wait_event meanwhile, as a pcscd driver's polling thread is. */
struct events_arg {
	struct uccid_reader *r;
	atomic_bool stop;               /* set by bench_stack, read by events_thread */
};

static void *events_thread(void *arg)
{
	struct events_arg *a = arg;
	struct uccid_event ev;

	while (!atomic_load(&a->stop))
		if (uccid_wait_event(a->r, 50, &ev) < 0)
			break;
	return NULL;
}

static struct rt_stats bench_stack(const char *url, size_t size, bool with_events)
{
	static uint8_t apdu[4200], rsp[4200];
	struct uccid_reader *r;
	char err[256];
	uint8_t atr[33];
	size_t want, len = echo_apdu(size, apdu, &want);
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0;
	struct rt_stats res;
	struct events_arg ea = { 0 };
	pthread_t evth;
	int rc;

	rc = uccid_open(url, NULL, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "driver-bench: %s\n", err);
		exit(1);
	}
	/*
	 * The events thread starts first and takes the reader's first
	 * NotifySlotChange (present, changed: CCID §6.3.1) before the card is
	 * powered; a change reported after power-on would unpower it.
	 */
	ea.r = r;
	if (with_events) {
		struct timespec settle = { .tv_nsec = 200 * 1000 * 1000 };

		if (pthread_create(&evth, NULL, events_thread, &ea))
			die("events thread", EAGAIN);
		nanosleep(&settle, NULL);
	}
	if ((rc = uccid_power_on(r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr))) < 0)
		die("power on", -rc);
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < rounds; i++) {
		int64_t s = uccid_mono_ns();
		ssize_t n = uccid_transmit(r, 0, apdu, len, rsp, sizeof(rsp));

		if (n != (ssize_t)want || rsp[n - 2] != 0x90)
			die("transmit", n < 0 ? (int)-n : EPROTO);
		lat[i] = uccid_mono_ns() - s;
	}
	res = rt_summarize(lat, rounds, uccid_mono_ns() - t0);
	if (with_events) {
		atomic_store(&ea.stop, true);
		pthread_join(evth, NULL);
	}
	uccid_close(r);
	free(lat);
	return res;
}

static void row(const char *path, size_t size, struct rt_stats r)
{
	printf("%-6zu %-18s %10.0f %10.1f %10.1f\n", size, path, r.rps, r.median_us, r.p99_us);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 5, 261, 4096 };
	struct vdev_config cfg;
	struct vdev *d;
	struct usbip_server *srv;
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
	char url[64];
	pthread_t th;

	if (argc > 1)
		rounds = (unsigned)strtoul(argv[1], NULL, 10);
	if (rounds < 100 || rounds > 1000000) {
		fprintf(stderr, "usage: driver-bench [ROUND_TRIPS >= 100]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	vdev_profile_config(VDEV_PROFILE_EXTENDED_APDU, &cfg);
	d = vdev_new(&cfg);
	srv = usbip_server_new();
	dev.dev = d;
	if (!d || !srv || usbip_server_add_device(srv, &dev) < 0 || usbip_server_listen(srv, "127.0.0.1", 0) < 0)
		die("virtual reader", errno);
	pthread_create(&th, NULL, server_thread, srv);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(srv));

	printf("full stack (uccid_transmit over USB/IP to the virtual reader, extended-apdu profile) vs raw TCP,"
	       " %u round trips each\n", rounds);
	printf("%-6s %-18s %10s %10s %10s\n", "apdu", "path", "rt/s", "median_us", "p99_us");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k], rsp, parts = size <= 261 ? 1 : (size + 260) / 261;
		uint8_t scratch[4200];
		struct rt_stats st, raw;

		echo_apdu(size, scratch, &rsp);
		st = bench_stack(url, size, false);
		/* the bytes one exchange moves: per message a CMD_SUBMIT OUT and IN (2 headers) out,
		 * two RET_SUBMITs (2 headers) back, plus the CCID headers and the APDUs */
		if (rt_raw_tcp(2 * USBIP_HEADER_SIZE * parts + 10 * parts + size,
			       2 * USBIP_HEADER_SIZE * parts + 10 * parts + rsp, rounds, &raw) < 0)
			die("raw TCP", EIO);
		row("uccid-usbip", size, st);
		row("raw-tcp", size, raw);
		printf("ratio uccid/raw-tcp median latency, %zu-byte APDU: %.2f%s\n", size, st.median_us / raw.median_us,
		       size <= 261 ? " (target 1.5)" : " (16 chained messages against one round trip)");
	}
	{
		/* the same with a thread waiting for card events all along (interrupt-IN URBs in flight) */
		struct rt_stats ev = bench_stack(url, 5, true);

		row("uccid-usbip+events", 5, ev);
	}
	atomic_store(&server_stop, 1);
	usbip_server_wake(srv);
	pthread_join(th, NULL);
	usbip_server_free(srv);
	vdev_free(d);
	return 0;
}
