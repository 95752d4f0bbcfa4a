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

static int cmd_help(const struct tool_opts *o, int argc, char **argv);

static const struct tool_opt help_opts[] = {
	{ "options", no_argument, 'o', 0, NULL, "only the command's options, one per line (for scripts and completion)" },
	{ "json", no_argument, 'j', 0, NULL, "the commands and their options as one JSON object" },
	{ "help", no_argument, 'h', 'h', NULL, "this help" },
	{ NULL, 0, 0, 0, NULL, NULL },
};

static const struct tool_cmd help_cmd = {
	"help", cmd_help, "help [COMMAND]: the subcommands, or one command's synopsis and options",
	"uccid help [--options] [--json] [COMMAND]", help_opts, NULL,
};

static const struct tool_cmd *const commands[] = {
	&tool_cmd_decode, &tool_cmd_list, &tool_cmd_info, &tool_cmd_atr, &tool_cmd_apdu, &tool_cmd_status,
	&tool_cmd_reset, &tool_cmd_poweroff, &tool_cmd_eject, &tool_cmd_unlatch, &tool_cmd_watch, &tool_cmd_lock,
	&tool_cmd_unlock, &tool_cmd_locks, &tool_cmd_bench, &tool_cmd_selftest, &tool_cmd_test, &tool_cmd_trace,
	&help_cmd,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct tool_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i]->name))
			return commands[i];
	return NULL;
}

/* "-s, --slot N" */
static void option_name(const struct tool_opt *t, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%c%s--%s%s%s", t->short_name ? "-" : "", t->short_name ? t->short_name : ' ',
		 t->short_name ? ", " : "", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
	if (!t->short_name)
		memmove(buf, buf + 1, strlen(buf));
}

/* uccid help CMD and uccid CMD --help: the same text, on standard output */
static void command_help(const struct tool_cmd *c)
{
	printf("usage: %s\n%s\n\nOptions:\n", c->synopsis, c->help);
	for (const struct tool_opt *t = c->opts; t->name; t++) {
		char name[64];

		option_name(t, name, sizeof(name));
		printf("  %-22s %s\n", name, t->help);
	}
	if (c->more)
		printf("\n%s", c->more);
	printf("\nGlobal options go before the subcommand (uccid --help); see uccid(1).\n");
}

static void help_json(const struct tool_cmd *only)
{
	bool first = true;

	printf("{\"commands\":[");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct tool_cmd *c = commands[i];
		bool ofirst = true;

		if (only && c != only)
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		json_string(stdout, c->name);
		printf(",\"synopsis\":");
		json_string(stdout, c->synopsis);
		printf(",\"help\":");
		json_string(stdout, c->help);
		printf(",\"options\":[");
		for (const struct tool_opt *t = c->opts; t->name; t++) {
			printf("%s{\"name\":", ofirst ? "" : ",");
			json_string(stdout, t->name);
			printf(",\"short\":");
			if (t->short_name)
				printf("\"%c\"", t->short_name);
			else
				printf("null");
			printf(",\"arg\":");
			if (t->arg)
				json_string(stdout, t->arg);
			else
				printf("null");
			printf(",\"help\":");
			json_string(stdout, t->help);
			printf("}");
			ofirst = false;
		}
		printf("]}");
		first = false;
	}
	printf("]}\n");
}

static void usage(FILE *f);

static int cmd_help(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	const struct tool_cmd *c = NULL;
	bool only_options = false, json = opts->json;
	int ch;

	tool_getopt_init(help_opts, &g);
	while ((ch = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			only_options = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			command_help(&help_cmd);
			return EXIT_OK;
		default:
			return tool_bad_option("help", argv);
		}
	}
	if (optind + 1 < argc) {
		tool_err("help: one command at a time, not '%s'", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (optind < argc && !(c = find_command(argv[optind]))) {
		tool_err("help: no command '%s' (uccid help lists them)", argv[optind]);
		return EXIT_USAGE;
	}
	if (json) {
		help_json(c);
		return EXIT_OK;
	}
	if (only_options) {
		if (!c) {
			tool_err("help: --options needs a COMMAND");
			return EXIT_USAGE;
		}
		for (const struct tool_opt *t = c->opts; t->name; t++)
			printf("--%s%s%s\n", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
		return EXIT_OK;
	}
	if (c)
		command_help(c);
	else
		usage(stdout);
	return EXIT_OK;
}

/* Is --help (or -h) among a subcommand's arguments, before any "--"?  And --json? */
static bool has_arg(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], a) || (b && !strcmp(argv[i], b)))
			return true;
	return false;
}

#define DEFAULT_WAIT_MS 30000

static void usage(FILE *f)
{
	fputs("usage: uccid [--json] [-v] [-r|--reader NAME] [--wait[=SECONDS]|--no-wait] [--trace] [--pcap FILE]\n"
	      "             [--vendor-apdu] SUBCOMMAND [ARGS...]\n"
	      "       uccid --help | --version\n\n"
	      "  --wait[=S]   while another process has the reader, wait for it (default 30 s;\n"
	      "               'forever'); --no-wait: fail at once, naming that process\n"
	      "  --trace      print every CCID message sent and received on stderr (-v: explained)\n"
	      "  --pcap FILE  write the USB traffic as pcapng for Wireshark (USB CCID dissector)\n"
	      "  --vendor-apdu  switch a GemPC Twin/Key to its short-APDU mode (Escape 1F 02), as\n"
	      "               libccid's ifdDriverOptions 0x0002; other readers are not affected\n"
	      "  Tracing is never on unless asked: the trace and the capture show every APDU,\n"
	      "  PINs and keys included.\n\nSubcommands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->help);
	fputs("\nuccid help COMMAND or uccid COMMAND --help: its synopsis and options.\n"
	      "See uccid(1).  Exit status: 0 success, 1 failure, 2 bad usage or input.\n", f);
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
		{ "vendor-apdu", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool_opts o = { .prog = "uccid", .wait_ms = DEFAULT_WAIT_MS };
	const struct tool_cmd *cmd;
	int c, rc;

	opterr = 0;
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
			o.wait_given = true;
			break;
		case 'W':
			o.wait_ms = 0;
			o.wait_given = true;
			break;
		case 'A':
			o.vendor_apdu = true;
			break;
		default:
			tool_err("'%s' is not a global option, or lacks its argument", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* "uccid trace SUBCOMMAND ...": --trace with the trace on stdout */
	if (optind + 1 < argc && !strcmp(argv[optind], "trace")) {
		int k = optind + 1;

		if (!strcmp(argv[k], "--json") && k + 1 < argc) {   /* trace's one option of its own */
			o.json = true;
			k++;
		}
		if (argv[k][0] != '-') {
			o.trace_to = stdout;
			optind = k;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		tool_err("unknown subcommand '%s' (uccid help lists them)", argv[optind]);
		return EXIT_USAGE;
	}
	/* every subcommand's --help is this one, from its option table */
	if (has_arg(argc - optind, argv + optind, "--help", "-h")) {
		command_help(cmd);
		return EXIT_OK;
	}
	/* --json anywhere: the errors too are JSON, from the first one */
	if (o.json || has_arg(argc - optind, argv + optind, "--json", NULL))
		tool_json_errors(true);
	rc = tool_trace_start(&o);   /* before the reader is touched */
	if (rc == EXIT_OK)
		rc = tool_trace_finish(&o, cmd->run(&o, argc - optind, argv + optind));
	tool_json_flush();
	return rc;
}
