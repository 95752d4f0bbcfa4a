/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid: standalone diagnostics for USB CCID smart-card readers.  Global
 * options, then a subcommand from the table below; each subcommand lives in
 * its own file (cmd_*.c).
 */
#include "config.h"

#include <getopt.h>
#include <string.h>

#include "tool/tool.h"

static const struct tool_cmd commands[] = {
	{ "decode", cmd_decode, "explain an ATR, PPS, descriptor, CCID message or T=1 block given in hex" },
	{ "list", cmd_list, "the CCID readers on the USB buses, or on a USB/IP server (list usbip://HOST)" },
	{ "info", cmd_info, "the reader's CCID descriptor and capabilities, explained" },
	{ "atr", cmd_atr, "power the card on and explain its ATR" },
	{ "apdu", cmd_apdu, "send APDUs (arguments or a script) and show each status word's meaning" },
	{ "status", cmd_status, "is there a card, is it powered" },
	{ "reset", cmd_power, "reset the card: --warm (default) or --cold" },
	{ "poweroff", cmd_power, "power the card off" },
	{ "eject", cmd_power, "eject the card (readers with a mechanism)" },
	{ "unlatch", cmd_unlatch, "clear a slot's eject latch (a card that cannot be taken out: a token)" },
	{ "watch", cmd_watch, "print card events until interrupted" },
	{ "lock", cmd_lock, "lock the card and run commands from stdin; unlock with a disposition" },
	{ "unlock", cmd_unlock, "ask the uccid process holding a card's lock to unlock it (--disposition)" },
	{ "locks", cmd_locks, "who has the reader open and who holds its slots' locks" },
	{ "bench", cmd_bench, "round trips per second and latency of APDUs on a reader (virtual card: ECHO)" },
	{ "selftest", cmd_selftest, "exercise each CCID command on a reader; report where it deviates from CCID 1.1" },
	{ "test", cmd_test, "run hardware-in-the-loop suites: TAP on stdout, JUnit XML with --junit" },
	{ "trace", cmd_trace, "trace SUBCOMMAND [ARGS...]: run it, printing every CCID message on stdout" },
};

#define DEFAULT_WAIT_MS 30000

static void usage(FILE *f)
{
	fputs("usage: uccid [--json] [-v] [-r|--reader NAME] [--wait[=SECONDS]|--no-wait] [--trace] [--pcap FILE]\n"
	      "             SUBCOMMAND [ARGS...]\n"
	      "       uccid --help | --version\n\n"
	      "  --wait[=S]   while another process has the reader, wait for it (default 30 s;\n"
	      "               'forever'); --no-wait: fail at once, naming that process\n"
	      "  --trace      print every CCID message sent and received on stderr (-v: explained)\n"
	      "  --pcap FILE  write the USB traffic as pcapng for Wireshark (USB CCID dissector)\n"
	      "  Tracing is never on unless asked: the trace and the capture show every APDU,\n"
	      "  PINs and keys included.\n\nSubcommands:\n", f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fputs("\nSee uccid(1).  Exit status: 0 success, 1 failure, 2 bad usage or input.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reader", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "trace", no_argument, NULL, 't' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "wait", optional_argument, NULL, 'w' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool_opts o = { .prog = "uccid", .wait_ms = DEFAULT_WAIT_MS };
	int c;

	while ((c = getopt_long(argc, argv, "+r:hVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'r':
			o.reader = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("uccid %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		case 'v':
			o.verbose = true;
			break;
		case 't':
			o.trace_to = stderr;
			break;
		case 'p':
			o.pcap = optarg;
			break;
		case 'w':
			if (optarg && tool_seconds_arg("--wait", optarg, &o.wait_ms) < 0)
				return EXIT_USAGE;
			break;
		case 'W':
			o.wait_ms = 0;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* "uccid trace SUBCOMMAND ...": --trace with the trace on stdout */
	if (optind < argc && !strcmp(argv[optind], "trace")) {
		o.trace_to = stdout;
		optind++;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name)) {
			int rc = tool_trace_start(&o);   /* before the reader is touched */

			if (rc != EXIT_OK)
				return rc;
			return tool_trace_finish(&o, commands[i].run(&o, argc - optind, argv + optind));
		}
	tool_err("unknown subcommand '%s'", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
