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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static volatile sig_atomic_t g_stop;   /* SIGINT / SIGTERM: stop, print what was measured */

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

/*
 * rounds round trips of apdu; *ret summarises those done.  Stops early on
 * SIGINT/SIGTERM (*done says how many; 0 rounds is -EINTR).  On a terminal,
 * a progress line on stderr at most every 200 ms.
 */
static int measure(struct uccid_reader *r, unsigned slot, const uint8_t *apdu, size_t len, unsigned rounds,
		   size_t *rsp_len, struct rt_stats *ret, unsigned *done)
{
	static uint8_t rsp[65538];
	int64_t *lat = calloc(rounds, sizeof(*lat)), t0, shown = 0;
	bool tty = isatty(STDERR_FILENO);
	unsigned i;

	if (!lat)
		return -ENOMEM;
	t0 = uccid_mono_ns();
	for (i = 0; i < rounds && !g_stop; i++) {
		int64_t s = uccid_mono_ns();
		ssize_t n = uccid_transmit(r, slot, apdu, len, rsp, sizeof(rsp));

		if (n < 2) {
			free(lat);
			if (tty && shown)
				fputs("\r\033[K", stderr);
			return n < 0 ? (int)n : -EPROTO;
		}
		if (i == 0)
			*rsp_len = (size_t)n;
		lat[i] = uccid_mono_ns() - s;
		if (tty && lat[i] + s - shown > 200000000) {
			shown = lat[i] + s;
			fprintf(stderr, "\r%zu bytes: %u/%u round trips", len, i + 1, rounds);
		}
	}
	if (tty && shown)
		fputs("\r\033[K", stderr);
	*done = i;
	if (i == 0) {
		free(lat);
		return -EINTR;
	}
	*ret = rt_summarize(lat, i, uccid_mono_ns() - t0);
	free(lat);
	return 0;
}

static const struct tool_opt bench_opts[] = {
	{ "rounds", required_argument, 'n', 'n', "N", "round trips per APDU size (10 to 1000000; default 2000)" },
	TOOL_OPT_SLOT,
	{ "apdu", required_argument, 'a', 'a', "HEX", "this APDU instead of the virtual card's ECHO of 5, 261, 4096 bytes" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_bench = {
	"bench", cmd_bench, "round trips per second and latency of APDUs on a reader (virtual card: ECHO)",
	"uccid -r NAME bench [--rounds N] [--slot N] [--apdu HEX] [--json]", bench_opts, NULL,
};

static void row_text(size_t len, const char *path, const struct rt_stats *st)
{
	printf("%-6zu %-12s %10.0f %10.1f %10.1f\n", len, path, st->rps, st->median_us, st->p99_us);
}

static void row_json(bool *first, size_t len, const char *path, struct rt_stats st, unsigned done,
		     const char *error, double ratio)
{
	printf("%s{\"apdu\":%zu,\"path\":\"%s\"", *first ? "" : ",", len, path);
	if (error) {
		printf(",\"error\":");
		json_string(stdout, error);
	} else {
		printf(",\"rounds\":%u,\"rps\":%.0f,\"median_us\":%.1f,\"p99_us\":%.1f", done, st.rps, st.median_us,
		       st.p99_us);
	}
	if (ratio > 0)
		printf(",\"ratio\":%.2f", ratio);
	printf("}");
	*first = false;
}

int cmd_bench(const struct tool_opts *opts, int argc, char **argv)
{
	static const size_t sizes[] = { 5, 261, 4096 };
	struct tool_getopt g;
	struct tool_opts o = *opts;
	struct tool_session ses = { 0 };
	struct uccid_reader_info info;
	struct sigaction stop = { .sa_handler = on_stop }, old_int, old_term;
	uint8_t apdu[BENCH_MAX_APDU], atr[33];
	size_t given_len = 0;
	unsigned rounds = 2000;
	bool usbip, first = true;
	int c, rc, status = EXIT_OK;

	tool_getopt_init(bench_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
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
			if (tool_slot_arg(optarg, &ses.slot) < 0)
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
		case 'j':
			o.json = true;
			break;
		default:
			return tool_bad_option("bench", argv);
		}
	}
	if (optind < argc) {
		tool_err("bench: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o.reader) {
		tool_err("bench: give the reader with --reader (it sends many APDUs to its card)");
		return EXIT_USAGE;
	}
	if ((rc = tool_open_session(&o, &ses)) < 0)
		return tool_open_failed(rc);
	uccid_info(ses.r, &info);
	usbip = !strncmp(o.reader, "usbip://", 8);
	if ((rc = uccid_power_on(ses.r, ses.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr))) < 0)
		return tool_close(&ses, tool_fail(&ses, "bench: power on", rc));
	/* from here a signal stops the run and what was measured is printed */
	sigemptyset(&stop.sa_mask);
	sigaction(SIGINT, &stop, &old_int);
	sigaction(SIGTERM, &stop, &old_term);
	if (o.json) {
		tool_json_slot(&ses);
		printf(",\"rounds\":%u,\"results\":[", rounds);
	} else {
		printf("%s: %u round trips each\n%-6s %-12s %10s %10s %10s\n", o.reader, rounds, "apdu", "path", "rt/s",
		       "median_us", "p99_us");
	}
	fflush(stdout);
	for (size_t k = 0; k < (given_len ? 1 : sizeof(sizes) / sizeof(sizes[0])) && !g_stop; k++) {
		size_t want, len = given_len ? given_len : echo_apdu(sizes[k], apdu, &want), got = 0;
		size_t parts = (len + info.max_message - 11) / (info.max_message - 10);
		struct rt_stats st = { 0 }, raw = { 0 };
		unsigned done = 0;

		rc = measure(ses.r, ses.slot, apdu, len, rounds, &got, &st, &done);
		if (rc == -EINTR)
			break;
		if (rc < 0) {
			const char *why = rc == -EINVAL ? "too long for this reader (short APDU level)" : uccid_strerror(rc);

			if (o.json)
				row_json(&first, len, "uccid", st, 0, why, 0);
			else
				printf("%-6zu %-12s %s\n", len, "uccid", why);
			if (given_len) {   /* the one APDU asked for failed: no figure at all */
				tool_err("bench: --apdu: %s", why);
				status = EXIT_FAILED;
				break;
			}
			continue;
		}
		if (o.json)
			row_json(&first, len, "uccid", st, done, NULL, 0);
		else
			row_text(len, "uccid", &st);
		if (done < rounds && !o.json)
			printf("%-6s %-12s (interrupted: %u of %u round trips)\n", "", "", done, rounds);
		fflush(stdout);
		if (!usbip || g_stop)
			continue;
		/* what one exchange moves over USB/IP: per CCID message two URB headers each way */
		if (parts > 1 || info.exchange_level == 1) {
			if (!o.json)
				printf("%-6s %-12s (TPDU or chained exchange: several round trips; no single-trip baseline)\n",
				       "", "raw-tcp");
		} else if (rt_raw_tcp(2 * USBIP_HEADER_SIZE + 10 + len, 2 * USBIP_HEADER_SIZE + 10 + got, rounds, NULL, &raw) == 0) {
			if (o.json) {
				row_json(&first, len, "raw-tcp", raw, rounds, NULL, st.median_us / raw.median_us);
			} else {
				row_text(len, "raw-tcp", &raw);
				printf("ratio uccid/raw-tcp median latency: %.2f\n", st.median_us / raw.median_us);
			}
		}
		fflush(stdout);
	}
	if (o.json)
		printf("],\"interrupted\":%s}\n", g_stop ? "true" : "false");
	else if (g_stop)
		printf("interrupted: the figures above are of the round trips done\n");
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (g_stop && status == EXIT_OK) {
		tool_err("bench: interrupted");
		status = EXIT_FAILED;
	}
	return tool_close(&ses, status);
}
