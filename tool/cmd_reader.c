/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uccid subcommands that talk to a reader: info, atr, apdu, status,
 * reset, poweroff, eject and watch.  Each opens the reader named by
 * --reader (or the only one present), does its job through libuccid, and
 * reports in text or JSON; failures name what failed and exit 1.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ccid/ccid.h"
#include "ccid/sw.h"
#include "tool/tool.h"
#include "session/uccid.h"

static volatile sig_atomic_t interrupted;

/* Options of the reader subcommands: --slot N, --json, and --warm/--cold where cold is given. */
static int parse_opts(struct tool_opts *o, unsigned *slot, bool *cold, int argc, char **argv, const char *usage)
{
	static const struct option longopts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "warm", no_argument, NULL, 'w' },
		{ "cold", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool temp_seen = false;   /* --warm or --cold given */
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, slot) < 0)
				return -EINVAL;
			break;
		case 'j':
			o->json = true;
			break;
		case 'w':
		case 'c':
			if (!cold) {
				fprintf(stderr, "usage: %s\n", usage);
				return -EINVAL;
			}
			if (temp_seen && *cold != (c == 'c')) {
				tool_err("reset: --warm and --cold exclude each other");
				return -EINVAL;
			}
			temp_seen = true;
			*cold = c == 'c';
			break;
		case 'h':
			printf("usage: %s\n", usage);
			return 1;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		tool_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int parse_common(struct tool_opts *o, unsigned *slot, int argc, char **argv, const char *usage)
{
	return parse_opts(o, slot, NULL, argc, argv, usage);
}

int cmd_info(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	struct uccid_reader_info info;
	struct ccid_class_desc d;
	uint8_t raw[CCID_CLASS_DESC_LEN];
	struct out out;
	int rc = parse_common(&o, &s.slot, argc, argv, "uccid [-r NAME] info [--json]");

	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	uccid_info(s.r, &info);
	uccid_class_descriptor(s.r, raw);
	ccid_class_desc_parse(raw, sizeof(raw), &d, NULL);
	if (!o.json)
		printf("reader %s (%04x:%04x), %u slot%s, %s level, messages up to %u bytes%s%s\n", info.path,
		       info.idVendor, info.idProduct, info.nslots, info.nslots == 1 ? "" : "s",
		       ccid_exchange_level_name((enum ccid_exchange_level)info.exchange_level),
		       (unsigned)info.max_message, info.quirks[0] ? ", quirks: " : "", info.quirks);
	out_begin(&out, stdout, o.json, "reader_info", info.path, raw, sizeof(raw));
	ccid_class_desc_describe(&d, out_field, &out);
	ccid_class_desc_validate(&d, out_finding, &out, NULL);
	out_end(&out);
	return tool_close(&s, EXIT_OK);
}

int cmd_atr(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	uint8_t atr[CCID_ATR_MAX];
	struct ccid_atr a;
	struct out out;
	int rc = parse_common(&o, &s.slot, argc, argv, "uccid [-r NAME] atr [--slot N] [--json]");

	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	rc = uccid_power_on(s.r, s.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
	if (rc < 0) {
		rc = tool_fail(&s, "power on", rc);
		goto out;
	}
	/* the session powered the card up with this ATR, so it is one: explain its defects too */
	ccid_atr_parse_lenient(atr, (size_t)rc, &a, NULL);
	out_begin(&out, stdout, o.json, "atr", "ATR", atr, (size_t)rc);
	ccid_atr_describe(&a, out_field, &out);
	out_atr_findings(&out, &a);
	out_end(&out);
	rc = EXIT_OK;
out:
	return tool_close(&s, rc);
}

#define SCRIPT_MAX (64u << 20)   /* bytes of an apdu -f script */

/* Read all of file ("-": stdin) into a new buffer; NULL with the reason printed. */
static char *read_script(const char *file, size_t *ret_len)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		tool_err("apdu: -f %s: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		tool_err("apdu: -f %s: a directory, not a script", file);
		goto fail;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb = cap < SCRIPT_MAX ? realloc(buf, cap ? cap * 2 : 4096) : NULL;

			if (!nb) {
				tool_err("apdu: -f %s: longer than %u bytes", file, SCRIPT_MAX);
				goto fail;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		tool_err("apdu: -f %s: %s", file, strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*ret_len = len;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

int cmd_apdu(const struct tool_opts *opts, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "slot", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "uccid [-r NAME] apdu [--slot N] [--json] (-f SCRIPT | APDU...)\n"
				    "  APDU: hex, one per argument; SCRIPT: one APDU per line, # comments,\n"
				    "  'reset' or 'reset cold', 'lock [mechanical] [TIMEOUT_MS]' and\n"
				    "  'unlock leave|reset|unpower|eject' lines";
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	const char *file = NULL;
	char *script = NULL, why[160];
	size_t script_len = 0;
	uint8_t atr[CCID_ATR_MAX], *apdu = malloc(HEX_MAX_BYTES);
	int c, rc = EXIT_USAGE, count = 0;

	if (!apdu) {
		tool_err("apdu: out of memory");
		return EXIT_FAILED;
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &s.slot) < 0)
				goto done;
			break;
		case 'f':
			file = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			printf("usage: %s\n", usage);
			rc = EXIT_OK;
			goto done;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			goto done;
		}
	}
	if (!file && optind >= argc) {
		tool_err("apdu: give APDUs as hex arguments or a script with -f");
		goto done;
	}
	if (file && optind < argc) {
		tool_err("apdu: give APDUs as arguments or a script with -f, not both ('%s')", argv[optind]);
		goto done;
	}
	/* every APDU and every script line is checked before the reader is opened */
	if (file) {
		FILE *mf;

		if (!(script = read_script(file, &script_len)))
			goto done;
		if (!script_len)
			goto checked;
		if (!(mf = fmemopen(script, script_len, "r"))) {
			tool_err("apdu: out of memory");
			rc = EXIT_FAILED;
			goto done;
		}
		rc = tool_check_script(mf, file);
		fclose(mf);
		if (rc != EXIT_OK)
			goto done;
	}
	for (int i = optind; i < argc; i++) {
		size_t bad_pos;
		char bad_char;
		int n = hex_parse_words(1, &argv[i], apdu, HEX_MAX_BYTES, &bad_pos, &bad_char);

		if (n < 0) {
			tool_err("apdu: '%s' is not hex (character %zu)", argv[i], bad_pos + 1);
			rc = EXIT_USAGE;
			goto done;
		}
		if (tool_apdu_check(apdu, (size_t)n, why, sizeof(why)) < 0) {
			tool_err("apdu: '%s' is not an APDU: %s", argv[i], why);
			rc = EXIT_USAGE;
			goto done;
		}
	}
checked:
	if ((rc = tool_open_session(&o, &s)) < 0) {
		rc = tool_open_failed(rc);
		goto done;
	}
	/* the card must be powered: power it on (a card already on stays as it is) */
	if ((rc = uccid_power_on(s.r, s.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr))) < 0) {
		rc = tool_fail(&s, "power on", rc);
		goto out;
	}
	rc = EXIT_OK;
	if (o.json) {
		printf("{\"reader\":");
		json_string(stdout, o.reader);
		printf(",\"slot\":%u,\"apdus\":[", s.slot);
	}
	if (file && script_len) {
		FILE *mf = fmemopen(script, script_len, "r");

		if (!mf) {
			tool_err("apdu: out of memory");
			rc = EXIT_FAILED;
		} else {
			rc = tool_run_script(&s, mf, file, o.json, &count);
			fclose(mf);
		}
	} else {
		for (int i = optind; i < argc; i++) {
			size_t bad_pos;
			char bad_char;
			int n = hex_parse_words(1, &argv[i], apdu, HEX_MAX_BYTES, &bad_pos, &bad_char);

			if (tool_run_apdu(&s, apdu, (size_t)n, o.json, count++ == 0) < 0) {
				rc = EXIT_FAILED;
				break;
			}
		}
	}
	if (o.json)
		printf("]}\n");
out:
done:
	free(script);
	free(apdu);
	return tool_close(&s, rc);
}

int cmd_status(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	struct uccid_slot_status st;
	int rc = parse_common(&o, &s.slot, argc, argv, "uccid [-r NAME] status [--slot N] [--json]");

	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	rc = uccid_slot_status(s.r, s.slot, &st);
	if (rc < 0 && rc != -ENOMEDIUM) {
		rc = tool_fail(&s, "status", rc);
	} else {
		if (o.json)
			printf("{\"reader\":\"%s\",\"slot\":%u,\"present\":%s,\"powered\":%s,\"ejected\":%s}\n",
			       o.reader, s.slot, st.present ? "true" : "false", st.powered ? "true" : "false",
			       st.ejected ? "true" : "false");
		else
			printf("slot %u: %s%s\n", s.slot, !st.present ? "no card" : st.powered ? "card powered"
			       : "card present, not powered", st.ejected ? " (ejected: remove and insert it)" : "");
		rc = EXIT_OK;
	}
	return tool_close(&s, rc);
}

/* reset --warm|--cold, poweroff, eject */
int cmd_power(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	uint8_t atr[CCID_ATR_MAX];
	const char *what = argv[0];
	bool cold = false;
	int rc;

	rc = parse_opts(&o, &s.slot, strcmp(what, "reset") ? NULL : &cold, argc, argv,
			"uccid [-r NAME] reset [--warm|--cold] | poweroff | eject [--slot N]");
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	if (!strcmp(what, "reset")) {
		rc = uccid_power_on(s.r, s.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
		if (rc >= 0)
			rc = uccid_reset(s.r, s.slot, cold, atr, sizeof(atr));
		if (rc >= 0) {
			printf("%s reset, ATR ", cold ? "cold" : "warm");
			tool_print_hex(stdout, atr, (size_t)rc, " ");
			printf("\n");
		}
	} else if (!strcmp(what, "poweroff")) {
		rc = uccid_power_off(s.r, s.slot);
		if (rc >= 0)
			printf("slot %u powered off\n", s.slot);
	} else {
		enum uccid_done done;

		rc = uccid_eject(s.r, s.slot, &done);
		if (rc >= 0)
			printf("slot %u: %s\n", s.slot, done == UCCID_DONE_EJECTED ? "card ejected"
			       : "card powered off and latched (no mechanism): remove and insert it to use it again");
	}
	if (rc < 0)
		rc = tool_fail(&s, what, rc);
	else
		rc = EXIT_OK;
	return tool_close(&s, rc);
}

/*
 * The eject latch of a slot whose card cannot be taken out (an integrated
 * token: no mechanism, and the slot never reports absence), cleared by
 * hand.  Says whether there was one.
 */
int cmd_unlatch(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	int was, rc = parse_common(&o, &s.slot, argc, argv, "uccid [-r NAME] unlatch [--slot N] [--json]");

	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	was = uccid_ejected(s.r, s.slot, false);
	rc = was < 0 ? was : uccid_ejected(s.r, s.slot, true);
	if (rc < 0) {
		rc = tool_fail(&s, "unlatch", rc);
	} else {
		if (o.json)
			printf("{\"reader\":\"%s\",\"slot\":%u,\"was_latched\":%s}\n", o.reader, s.slot,
			       was ? "true" : "false");
		else
			printf("slot %u: %s\n", s.slot, was ? "eject latch cleared: the card may be powered again"
								 : "not latched");
		rc = EXIT_OK;
	}
	return tool_close(&s, rc);
}

/*
 * watch's stop: SIGINT and SIGTERM are blocked in every thread but this
 * one, which waits for them and wakes the watcher (uccid_wake is not for
 * signal handlers); a SIGINT of our own ends it when the watch ends first.
 */
static void *signal_thread(void *arg)
{
	struct uccid_reader *r = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) == 0)
		interrupted = 1;
	uccid_wake(r);
	return NULL;
}

int cmd_watch(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	sigset_t set, old;
	pthread_t th;
	int rc = parse_common(&o, &s.slot, argc, argv, "uccid [-r NAME] watch [--json]  (until interrupted)");

	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	/* the watcher sleeps until the reader speaks: no timeout, a signal wakes it */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (pthread_create(&th, NULL, signal_thread, s.r) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		tool_err("watch: cannot start a thread");
		uccid_close(s.r);
		return EXIT_FAILED;
	}
	while (!interrupted) {
		struct uccid_event e;
		static const char *const names[] = { "inserted", "removed", "hardware-error", "reader-removed",
						     "reader-unavailable", "reader-available" };

		rc = uccid_wait_event(s.r, UCCID_WAIT_FOREVER, &e);
		if (rc < 0) {
			rc = tool_fail(&s, "watch", rc);
			goto out;
		}
		if (rc == 0)
			continue;
		if (o.json)
			printf("{\"event\":\"%s\",\"slot\":%u,\"code\":%u}\n", names[e.type], e.slot, e.code);
		else
			printf("slot %u: %s\n", e.slot, names[e.type]);
		fflush(stdout);
		if (e.type == UCCID_EVENT_READER_REMOVED) {
			rc = EXIT_FAILED;
			goto out;
		}
	}
	rc = EXIT_OK;
out:
	pthread_kill(th, SIGINT);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return tool_close(&s, rc);
}
