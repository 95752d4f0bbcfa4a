/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid bench: round trips per second and median / p99 latency of
 * uccid_transmit on a reader, for 5-, 261- and 4096-byte command APDUs
 * (the virtual card's ECHO, 80 10), or for one APDU given with --apdu; for
 * a USB/IP reader, next to a raw TCP ping-pong of the same byte counts on
 * this machine in the same run, with the ratio.  The pong is a process of
 * its own, as the reader's server is; neither end is pinned (where the
 * server runs is not ours to choose: bench/driver-bench compares placements).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool/pingpong.h"
#include "tool/tool.h"
#include "session/uccid.h"
#include "usbip/usbip_wire.h"
#include "util/clock.h"

#define BENCH_MAX_APDU 4200

/* ECHO of exactly size bytes (see uccid-vreader(1)); *rsp_len is the expected answer. */
static size_t echo_apdu(size_t size, uint8_t *apdu, size_t *rsp_len)
{
	size_t lc;

	apdu[0] = 0x80;
	apdu[1] = 0x10;
	apdu[2] = apdu[3] = 0;
	if (size == 5) {
		apdu[4] = 1;
		*rsp_len = 3;
		return 5;
	}
	if (size <= 261) {
		lc = size - 6;
		apdu[4] = (uint8_t)lc;
		memset(apdu + 5, 0x5A, lc);
		apdu[5 + lc] = 0;
		*rsp_len = lc + 2;
		return size;
	}
	lc = size - 7;
	apdu[4] = 0;
	apdu[5] = (uint8_t)(lc >> 8);
	apdu[6] = (uint8_t)lc;
	memset(apdu + 7, 0x5A, lc);
	*rsp_len = 2;
	return size;
}

static int measure(struct uccid_reader *r, unsigned slot, const uint8_t *apdu, size_t len, unsigned rounds,
		   size_t *rsp_len, struct rt_stats *ret)
{
	static uint8_t rsp[65538];
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0;

	if (!lat)
		return -ENOMEM;
	t0 = uccid_mono_ns();
	for (unsigned i = 0; i < rounds; i++) {
		int64_t s = uccid_mono_ns();
		ssize_t n = uccid_transmit(r, slot, apdu, len, rsp, sizeof(rsp));

		if (n < 2) {
			free(lat);
			return n < 0 ? (int)n : -EPROTO;
		}
		if (i == 0)
			*rsp_len = (size_t)n;
		lat[i] = uccid_mono_ns() - s;
	}
	*ret = rt_summarize(lat, rounds, uccid_mono_ns() - t0);
	free(lat);
	return 0;
}

int cmd_bench(const struct tool_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'n' },
		{ "slot", required_argument, NULL, 's' },
		{ "apdu", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "uccid -r NAME bench [--rounds N] [--slot N] [--apdu HEX]";
	static const size_t sizes[] = { 5, 261, 4096 };
	struct uccid_options uo = { 0 };
	struct uccid_reader_info info;
	struct uccid_reader *r = NULL;
	uint8_t apdu[BENCH_MAX_APDU], atr[33];
	size_t given_len = 0;
	unsigned rounds = 2000, slot = 0;
	char err[256] = "";
	bool usbip;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "n:s:a:h", longopts, NULL)) != -1) {
		size_t bad_pos;
		char bad_char, *end, why[160];
		unsigned long v;
		int n;

		switch (c) {
		case 'n':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || *optarg == '-' || v < 10 || v > 1000000) {
				tool_err("bench: --rounds takes 10 to 1000000, not '%s'", optarg);
				return EXIT_USAGE;
			}
			rounds = (unsigned)v;
			break;
		case 's':
			if (tool_slot_arg(optarg, &slot) < 0)
				return EXIT_USAGE;
			break;
		case 'a':
			n = hex_parse_words(1, &optarg, apdu, sizeof(apdu), &bad_pos, &bad_char);
			if (n < 0) {
				tool_err("bench: --apdu takes an APDU in hex, not '%s'", optarg);
				return EXIT_USAGE;
			}
			if (tool_apdu_check(apdu, (size_t)n, why, sizeof(why)) < 0) {
				tool_err("bench: --apdu %s is not an APDU: %s", optarg, why);
				return EXIT_USAGE;
			}
			given_len = (size_t)n;
			break;
		case 'h':
			printf("usage: %s\n", usage);
			return EXIT_OK;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return EXIT_USAGE;
		}
	}
	if (!opts->reader) {
		tool_err("bench: give the reader with --reader (it sends many APDUs to its card)");
		return EXIT_USAGE;
	}
	rc = uccid_open(opts->reader, &uo, &r, err, sizeof(err));
	if (rc < 0) {
		tool_err("%s", err);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
	}
	uccid_info(r, &info);
	usbip = !strncmp(opts->reader, "usbip://", 8);
	if ((rc = uccid_power_on(r, slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr))) < 0) {
		tool_err("bench: power on: %s", uccid_strerror(rc));
		uccid_close(r);
		return EXIT_FAILED;
	}
	printf("%s: %u round trips each\n%-6s %-12s %10s %10s %10s\n", opts->reader, rounds, "apdu", "path", "rt/s",
	       "median_us", "p99_us");
	for (size_t k = 0; k < (given_len ? 1 : sizeof(sizes) / sizeof(sizes[0])); k++) {
		size_t want, len = given_len ? given_len : echo_apdu(sizes[k], apdu, &want), got = 0;
		size_t parts = (len + info.max_message - 11) / (info.max_message - 10);
		struct rt_stats st, raw;

		rc = measure(r, slot, apdu, len, rounds, &got, &st);
		if (rc < 0) {
			printf("%-6zu %-12s %s\n", len, "uccid",
			       rc == -EINVAL ? "too long for this reader (short APDU level)" : uccid_strerror(rc));
			if (given_len) {   /* the one APDU asked for failed: no figure at all */
				uccid_close(r);
				return EXIT_FAILED;
			}
			continue;
		}
		printf("%-6zu %-12s %10.0f %10.1f %10.1f\n", len, "uccid", st.rps, st.median_us, st.p99_us);
		if (!usbip)
			continue;
		/* what one exchange moves over USB/IP: per CCID message two URB headers each way */
		if (parts > 1 || info.exchange_level == 1)
			printf("%-6s %-12s (TPDU or chained exchange: several round trips; no single-trip baseline)\n", "",
			       "raw-tcp");
		else if (rt_raw_tcp(2 * USBIP_HEADER_SIZE + 10 + len, 2 * USBIP_HEADER_SIZE + 10 + got, rounds, NULL, &raw) == 0)
			printf("%-6zu %-12s %10.0f %10.1f %10.1f\nratio uccid/raw-tcp median latency: %.2f\n", len,
			       "raw-tcp", raw.rps, raw.median_us, raw.p99_us, st.median_us / raw.median_us);
	}
	uccid_close(r);
	return EXIT_OK;
}
