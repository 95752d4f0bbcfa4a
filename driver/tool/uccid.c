/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid: standalone diagnostics for USB CCID smart-card readers.  Global
 * options, then a subcommand from the table below; each subcommand lives in
 * its own file (cmd_*.c).
 */
#include "config.h"

#include <getopt.h>
#include <string.h>

#include "driver/tool/tool.h"

static const struct tool_cmd commands[] = {
	{ "decode", cmd_decode, "explain an ATR, PPS, descriptor, CCID message or T=1 block given in hex" },
};

static void usage(FILE *f)
{
	fputs("usage: uccid [--json] [-r|--reader NAME] SUBCOMMAND [ARGS...]\n"
	      "       uccid --help | --version\n\nSubcommands:\n", f);
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
		{ NULL, 0, NULL, 0 },
	};
	struct tool_opts o = { .prog = "uccid" };
	int c;

	while ((c = getopt_long(argc, argv, "+r:hV", longopts, NULL)) != -1) {
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
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			return commands[i].run(&o, argc - optind, argv + optind);
	tool_err("unknown subcommand '%s'", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
