/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole stack, measured: libuccid's uccid_transmit() over its USB/IP
 * client to the virtual reader (extended-apdu profile) on loopback, for
 * 5-, 261- and 4096-byte command APDUs (ECHO), next to a raw TCP ping-pong
 * of the same byte counts per exchange in the same run.  The ratio of
 * median latencies is what the stack adds; the target for small APDUs is
 * 1.5.  A 4096-byte APDU crosses a 271-byte-message reader in 16 chained
 * XfrBlocks, so its ratio counts 16 round trips against one.
 *
 * The floor is fair: the virtual reader is a process of its own and so is
 * the pong, both with TCP_NODELAY, and each pair is measured at the same
 * placement (tool/pingpong.h): unpinned, then — when the machine lets us
 * pin — both ends on one CPU, and one end per CPU.  A ratio per placement.
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/*
 * The virtual reader in a process of its own, as uccid-vreader is: it
 * listens on loopback, writes its port to the pipe and serves until
 * SIGTERM (from main, or from the kernel when the bench dies first).
 */
static pid_t start_server(unsigned *port)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		static atomic_int stop;
		struct vdev_config cfg;
		struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };
		struct usbip_server *srv = usbip_server_new();
		struct vdev *d;
		unsigned pt;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(p[0]);
		vdev_profile_config(VDEV_PROFILE_EXTENDED_APDU, &cfg);
		d = vdev_new(&cfg);
		dev.dev = d;
		if (!d || !srv || usbip_server_add_device(srv, &dev) < 0 || usbip_server_listen(srv, "127.0.0.1", 0) < 0)
			_exit(1);
		pt = usbip_server_port(srv);
		if (write(p[1], &pt, sizeof(pt)) != sizeof(pt))
			_exit(1);
		close(p[1]);
		usbip_server_run(srv, &stop);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], port, sizeof(*port)) != sizeof(*port))
		die("virtual reader", EIO);
	close(p[0]);
	return pid;
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

static void row(const char *place, const char *path, size_t size, struct rt_stats r)
{
	printf("%-9s %-6zu %-18s %10.0f %10.1f %10.1f\n", place, size, path, r.rps, r.median_us, r.p99_us);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 5, 261, 4096 };
	struct rt_place places[RT_PLACES_MAX];
	unsigned port, nplaces;
	char url[64];
	pid_t server;

	if (argc > 1)
		rounds = (unsigned)strtoul(argv[1], NULL, 10);
	if (rounds < 100 || rounds > 1000000) {
		fprintf(stderr, "usage: driver-bench [ROUND_TRIPS >= 100]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	nplaces = rt_placements(places);
	server = start_server(&port);
	snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", port);

	printf("full stack (uccid_transmit over USB/IP to the virtual reader, extended-apdu profile, a process of its own)"
	       " vs raw TCP to a pong process, %u round trips each, per placement%s\n", rounds,
	       nplaces == 1 ? " (this machine does not let us pin: unpinned only)" : "");
	printf("%-9s %-6s %-18s %10s %10s %10s\n", "place", "apdu", "path", "rt/s", "median_us", "p99_us");
	for (unsigned k = 0; k < nplaces; k++) {
		const struct rt_place *pl = &places[k];
		int rc;

		if ((rc = rt_pin(server, pl->server_cpu)) < 0 || (rc = rt_pin(0, pl->client_cpu)) < 0)
			die("pinning", -rc);
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			size_t size = sizes[j], rsp, parts = size <= 261 ? 1 : (size + 260) / 261;
			uint8_t scratch[4200];
			struct rt_stats st, raw;

			echo_apdu(size, scratch, &rsp);
			st = bench_stack(url, size, false);
			/* the bytes one exchange moves: per message a CMD_SUBMIT OUT and IN (2 headers) out,
			 * two RET_SUBMITs (2 headers) back, plus the CCID headers and the APDUs */
			if ((rc = rt_raw_tcp(2 * USBIP_HEADER_SIZE * parts + 10 * parts + size,
					     2 * USBIP_HEADER_SIZE * parts + 10 * parts + rsp, rounds, pl, &raw)) < 0)
				die("raw TCP", -rc);
			row(pl->name, "uccid-usbip", size, st);
			row(pl->name, "raw-tcp", size, raw);
			printf("ratio uccid/raw-tcp median latency, %s, %zu-byte APDU: %.2f%s\n", pl->name, size,
			       st.median_us / raw.median_us,
			       size <= 261 ? " (target 1.5)" : " (16 chained messages against one round trip)");
		}
		/* the same with a thread waiting for card events all along (interrupt-IN URBs in flight) */
		row(pl->name, "uccid-usbip+events", 5, bench_stack(url, 5, true));
	}
	rt_pin(0, -1);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	return 0;
}
