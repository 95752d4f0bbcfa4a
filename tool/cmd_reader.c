/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uccid subcommands that talk to a reader: info, atr, apdu, status,
 * reset, poweroff, eject and unlatch (watch: cmd_watch.c).  Each opens the reader named by
 * --reader (or the only one present), does its job through libuccid, and
 * reports in text or JSON; failures name what failed and exit 1.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ccid/bytes.h"
#include "ccid/ccid.h"
#include "ccid/sw.h"
#include "tool/tool.h"
#include "session/uccid.h"


static const struct tool_opt slot_opts[] = { TOOL_OPT_SLOT, TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END };
static const struct tool_opt info_opts[] = { TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END };
static const struct tool_opt reset_opts[] = {
	TOOL_OPT_SLOT,
	{ "warm", no_argument, 'w', 0, NULL, "a warm reset (IccPowerOn on the powered card; the default)" },
	{ "cold", no_argument, 'c', 0, NULL, "a cold reset (IccPowerOff, then IccPowerOn)" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};

const struct tool_cmd tool_cmd_info = {
	"info", cmd_info, "the reader's strings, clocks, data rates and CCID descriptor, explained",
	"uccid [-r NAME] info [--json]", info_opts, NULL,
};
const struct tool_cmd tool_cmd_atr = {
	"atr", cmd_atr, "power the card on and explain its ATR", "uccid [-r NAME] atr [--slot N] [--json]", slot_opts, NULL,
};
const struct tool_cmd tool_cmd_status = {
	"status", cmd_status, "is there a card, is it powered", "uccid [-r NAME] status [--slot N] [--json]",
	slot_opts, NULL,
};
const struct tool_cmd tool_cmd_reset = {
	"reset", cmd_power, "reset the card: --warm (default) or --cold",
	"uccid [-r NAME] reset [--warm | --cold] [--slot N] [--json]", reset_opts, NULL,
};
const struct tool_cmd tool_cmd_poweroff = {
	"poweroff", cmd_power, "power the card off", "uccid [-r NAME] poweroff [--slot N] [--json]", slot_opts, NULL,
};
const struct tool_cmd tool_cmd_eject = {
	"eject", cmd_power, "eject the card (readers with a mechanism; others: power off and latch)",
	"uccid [-r NAME] eject [--slot N] [--json]", slot_opts, NULL,
};
const struct tool_cmd tool_cmd_unlatch = {
	"unlatch", cmd_unlatch, "clear a slot's eject latch (a card that cannot be taken out: a token)",
	"uccid [-r NAME] unlatch [--slot N] [--json]", slot_opts, NULL,
};

/*
 * Options of the reader subcommands from cmd's table: --slot N (*slot_given
 * set when given), --json, and --warm/--cold where cold is given.
 */
static int parse_opts(struct tool_opts *o, const struct tool_cmd *cmd, unsigned *slot, bool *slot_given, bool *cold,
		      int argc, char **argv)
{
	struct tool_getopt g;
	bool temp_seen = false;   /* --warm or --cold given */
	int c;

	tool_getopt_init(cmd->opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, slot) < 0)
				return -EINVAL;
			if (slot_given)
				*slot_given = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'w':
		case 'c':
			if (temp_seen && *cold != (c == 'c')) {
				tool_err("reset: --warm and --cold exclude each other");
				return -EINVAL;
			}
			temp_seen = true;
			*cold = c == 'c';
			break;
		default:
			tool_bad_option(cmd->name, argv);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		tool_err("%s: unexpected argument '%s'", cmd->name, argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int parse_common(struct tool_opts *o, const struct tool_cmd *cmd, unsigned *slot, int argc, char **argv)
{
	return parse_opts(o, cmd, slot, NULL, NULL, argc, argv);
}

/* CCID class requests (CCID 1.1 §5.3.2, §5.3.3) */
#define REQ_GET_CLOCK_FREQUENCIES 0x02
#define REQ_GET_DATA_RATES 0x03
#define RATES_MAX 256   /* a count byte's worth: bNumClockSupported, bNumDataRatesSupported */

/*
 * The values a reader lists for GET_CLOCK_FREQUENCIES or GET_DATA_RATES
 * (CCID 1.1 §5.3.2-3: bNum...Supported DWORDs; with a count of 0 the
 * request may stall and the descriptor's default..maximum applies, as
 * libccid's parse shows it).  Returns how many are in v, or -1 when the
 * reader gave none (stall, error, or not whole DWORDs: *why says which).
 */
static int get_rates(struct uccid_reader *r, uint8_t req, unsigned count, uint32_t *v, const char **why)
{
	uint8_t buf[4 * RATES_MAX];
	int n = uccid_class_request(r, 0xA1, req, 0, buf, (uint16_t)(count ? 4 * count : sizeof(buf)));

	if (n < 0) {
		*why = n == -EPIPE ? "stalled" : uccid_strerror(n);
		return -1;
	}
	if (n % 4) {
		*why = "the answer is not whole DWORDs";
		return -1;
	}
	for (int i = 0; i < n / 4; i++)
		v[i] = get_le32(buf + 4 * i);
	return n / 4;
}

struct rates {
	const char *name, *request, *count_name, *unit;
	unsigned count;
	uint32_t lo, hi, v[RATES_MAX];
	int n;             /* values the request listed, -1: none (then lo..hi applies) */
	const char *why;
};

static void rates_text(const struct rates *x)
{
	printf("%-16s ", x->name);
	if (x->n < 0) {
		printf("%u..%u %s (%s %u; %s: %s)\n", x->lo, x->hi, x->unit, x->count_name, x->count, x->request,
		       x->why);
		return;
	}
	for (int i = 0; i < x->n; i++)
		printf("%s%u", i ? " " : "", x->v[i]);
	printf("%s%s (%s: %d value%s", x->n ? " " : "", x->unit, x->request, x->n, x->n == 1 ? "" : "s");
	if (x->count && (unsigned)x->n != x->count)
		printf("; %s says %u", x->count_name, x->count);
	printf(")\n");
}

static void rates_json(FILE *f, const char *key, const struct rates *x)
{
	fprintf(f, "\"%s\":{\"source\":\"%s\",\"count\":%u,\"default\":%u,\"maximum\":%u,\"values\":[", key,
		x->n < 0 ? "descriptor" : x->request, x->count, x->lo, x->hi);
	for (int i = 0; i < x->n; i++)
		fprintf(f, "%s%u", i ? "," : "", x->v[i]);
	fprintf(f, "]");
	if (x->n < 0) {
		fprintf(f, ",\"request_error\":");
		json_string(f, x->why);
	}
	fprintf(f, "},");
}

int cmd_info(const struct tool_opts *opts, int argc, char **argv)
{
	static const char *const iccd_name[] = { "", "ICCD version A token, ", "ICCD version B token, " };
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	struct uccid_reader_info info;
	struct uccid_device_strings str = { 0 };
	struct ccid_class_desc d;
	uint8_t raw[CCID_CLASS_DESC_LEN];
	struct out out;
	struct rates *clk = NULL, *dr = NULL;
	char *extra = NULL;
	size_t extra_len = 0;
	int rc = parse_common(&o, &tool_cmd_info, &s.slot, argc, argv);

	if (rc)
		return EXIT_USAGE;
	if (!(clk = calloc(1, sizeof(*clk))) || !(dr = calloc(1, sizeof(*dr)))) {
		tool_err("info: out of memory");
		rc = EXIT_FAILED;
		goto done;
	}
	if ((rc = tool_open_session(&o, &s)) < 0) {
		rc = tool_open_failed(rc);
		goto done;
	}
	uccid_info(s.r, &info);
	uccid_class_descriptor(s.r, raw);
	ccid_class_desc_parse(raw, sizeof(raw), &d, NULL);
	/* a device without strings, or one that fails to give them, still has its descriptor shown */
	if ((rc = uccid_device_strings(s.r, &str)) < 0)
		tool_err("info: the device's strings: %s", uccid_strerror(rc));
	*clk = (struct rates){ "clocks", "GET_CLOCK_FREQUENCIES", "bNumClockSupported", "kHz", d.bNumClockSupported,
			       d.dwDefaultClock, d.dwMaximumClock, { 0 }, 0, NULL };
	*dr = (struct rates){ "data rates", "GET_DATA_RATES", "bNumDataRatesSupported", "bps", d.bNumDataRatesSupported,
			      d.dwDataRate, d.dwMaxDataRate, { 0 }, 0, NULL };
	if (info.interface_protocol) {
		/* an ICCD token's class requests are others (USB ICCD §6): CCID's are not sent to it */
		clk->n = dr->n = -1;
		clk->why = dr->why = "not sent to an ICCD token";
	} else {
		clk->n = get_rates(s.r, REQ_GET_CLOCK_FREQUENCIES, clk->count, clk->v, &clk->why);
		dr->n = get_rates(s.r, REQ_GET_DATA_RATES, dr->count, dr->v, &dr->why);
	}
	if (!o.json) {
		printf("reader %s (%04x:%04x), %s%u slot%s, %s level, messages up to %u bytes%s%s\n", info.path,
		       info.idVendor, info.idProduct, iccd_name[info.interface_protocol % 3], info.nslots,
		       info.nslots == 1 ? "" : "s", ccid_exchange_level_name((enum ccid_exchange_level)info.exchange_level),
		       (unsigned)info.max_message, info.quirks[0] ? ", quirks: " : "", info.quirks);
		printf("%-16s %s\n%-16s %s\n%-16s %s\n%-16s %x.%02x\n", "manufacturer", str.manufacturer,
		       "product", str.product, "serial", str.serial, "bcdDevice", info.bcdDevice >> 8,
		       info.bcdDevice & 0xff);
		rates_text(clk);
		rates_text(dr);
	} else {
		/* the reader's own keys, then the descriptor's fields as decode gives them */
		FILE *f = open_memstream(&extra, &extra_len);

		if (!f) {
			tool_err("info: out of memory");
			rc = EXIT_FAILED;
			goto out;
		}
		fprintf(f, "\"reader\":");
		json_string(f, s.name);
		fprintf(f, ",\"vendor\":\"%04x\",\"product\":\"%04x\",\"bcdDevice\":\"%04x\",\"manufacturer\":",
			info.idVendor, info.idProduct, info.bcdDevice);
		json_string(f, str.manufacturer);
		fprintf(f, ",\"product_name\":");
		json_string(f, str.product);
		fprintf(f, ",\"serial\":");
		json_string(f, str.serial);
		fprintf(f, ",\"interface\":\"%s\",\"slots\":%u,\"exchange_level\":",
			info.interface_protocol == 1 ? "ICCD-A" : info.interface_protocol == 2 ? "ICCD-B" : "CCID",
			info.nslots);
		json_string(f, ccid_exchange_level_name((enum ccid_exchange_level)info.exchange_level));
		fprintf(f, ",\"max_message\":%u,\"quirks\":[", (unsigned)info.max_message);
		for (const char *q = info.quirks; *q;) {
			size_t len = strcspn(q, ",");
			char one[64];

			snprintf(one, sizeof(one), "%.*s", (int)(len < sizeof(one) ? len : sizeof(one) - 1), q);
			fprintf(f, "%s", q == info.quirks ? "" : ",");
			json_string(f, one + strspn(one, " "));
			q += len + (q[len] == ',');
		}
		fprintf(f, "],");
		rates_json(f, "clocks_khz", clk);
		rates_json(f, "data_rates_bps", dr);
		if (fclose(f) != 0) {
			tool_err("info: out of memory");
			rc = EXIT_FAILED;
			goto out;
		}
	}
	out_begin_with(&out, stdout, o.json, "reader_info", info.path, raw, sizeof(raw), extra);
	ccid_class_desc_describe(&d, out_field, &out);
	ccid_class_desc_validate(&d, out_finding, &out, NULL);
	out_end(&out);
	rc = EXIT_OK;
out:
	rc = tool_close(&s, rc);
done:
	free(extra);
	free(clk);
	free(dr);
	return rc;
}

int cmd_atr(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	uint8_t atr[CCID_ATR_MAX];
	struct ccid_atr a;
	struct out out;
	int rc = parse_common(&o, &tool_cmd_atr, &s.slot, argc, argv);

	if (rc)
		return EXIT_USAGE;
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

static const struct tool_opt apdu_opts[] = {
	TOOL_OPT_SLOT,
	{ "file", required_argument, 'f', 'f', "SCRIPT",
	  "one APDU per line, # comments, 'reset [cold]', 'lock [mechanical] [MS]', 'unlock D' ('-': stdin)" },
	{ "leave", no_argument, 'l', 0, NULL,
	  "leave the card powered as it is (a verified PIN, a selected application) for the next command" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_apdu = {
	"apdu", cmd_apdu, "send APDUs (hex arguments or a script) and show each status word's meaning",
	"uccid [-r NAME] apdu [--slot N] [--json] [--leave] (--file SCRIPT | APDU...)", apdu_opts, NULL,
};

int cmd_apdu(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	const char *file = NULL;
	char *script = NULL, why[160];
	size_t script_len = 0;
	uint8_t atr[CCID_ATR_MAX], *apdu = malloc(HEX_MAX_BYTES);
	int c, rc = EXIT_USAGE, count = 0;
	bool leave = false;

	if (!apdu) {
		tool_err("apdu: out of memory");
		return EXIT_FAILED;
	}
	tool_getopt_init(apdu_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &s.slot) < 0)
				goto done;
			break;
		case 'f':
			file = optarg;
			break;
		case 'l':
			leave = true;
			break;
		case 'j':
			o.json = true;
			break;
		default:
			tool_bad_option("apdu", argv);
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
	/*
	 * The card must be powered: one an earlier command left powered (--leave)
	 * is taken over as it is, without a reset; else it is powered on.
	 */
	if ((rc = tool_take_card(&s, atr, sizeof(atr))) < 0) {
		rc = -rc;
		goto out;
	}
	rc = EXIT_OK;
	if (o.json) {
		tool_json_slot(&s);
		printf(",\"apdus\":[");
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
	if (leave && rc == EXIT_OK && tool_leave_card(&s) < 0)
		rc = EXIT_FAILED;
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
	int rc = parse_common(&o, &tool_cmd_status, &s.slot, argc, argv);

	if (rc)
		return EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	rc = uccid_slot_status(s.r, s.slot, &st);
	if (rc < 0 && rc != -ENOMEDIUM) {
		rc = tool_fail(&s, "status", rc);
	} else {
		if (o.json) {
			tool_json_slot(&s);
			printf(",\"present\":%s,\"powered\":%s,\"ejected\":%s}\n", st.present ? "true" : "false",
			       st.powered ? "true" : "false", st.ejected ? "true" : "false");
		} else
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

	rc = parse_opts(&o, !strcmp(what, "reset") ? &tool_cmd_reset : !strcmp(what, "poweroff") ? &tool_cmd_poweroff
			: &tool_cmd_eject, &s.slot, NULL, &cold, argc, argv);
	if (rc)
		return EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	if (!strcmp(what, "reset")) {
		rc = uccid_power_on(s.r, s.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr));
		if (rc >= 0)
			rc = uccid_reset(s.r, s.slot, cold, atr, sizeof(atr));
		if (rc >= 0 && o.json) {
			tool_json_slot(&s);
			printf(",\"done\":\"%s\",\"atr\":\"", cold ? "cold reset" : "warm reset");
			tool_print_hex(stdout, atr, (size_t)rc, "");
			printf("\"}\n");
		} else if (rc >= 0) {
			printf("%s reset, ATR ", cold ? "cold" : "warm");
			tool_print_hex(stdout, atr, (size_t)rc, " ");
			printf("\n");
		}
	} else if (!strcmp(what, "poweroff")) {
		rc = uccid_power_off(s.r, s.slot);
		if (rc >= 0 && o.json) {
			tool_json_slot(&s);
			printf(",\"done\":\"powered off\"}\n");
		} else if (rc >= 0) {
			printf("slot %u powered off\n", s.slot);
		}
	} else {
		enum uccid_done done;

		rc = uccid_eject(s.r, s.slot, &done);
		if (rc >= 0 && o.json) {
			tool_json_slot(&s);
			printf(",\"done\":\"%s\"}\n", done == UCCID_DONE_EJECTED ? "ejected" : "latched");
		} else if (rc >= 0) {
			printf("slot %u: %s\n", s.slot, done == UCCID_DONE_EJECTED ? "card ejected"
			       : "card powered off and latched (no mechanism): remove and insert it to use it again");
		}
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
	int was, rc = parse_common(&o, &tool_cmd_unlatch, &s.slot, argc, argv);

	if (rc)
		return EXIT_USAGE;
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	was = uccid_ejected(s.r, s.slot, false);
	rc = was < 0 ? was : uccid_ejected(s.r, s.slot, true);
	if (rc < 0) {
		rc = tool_fail(&s, "unlatch", rc);
	} else {
		if (o.json) {
			tool_json_slot(&s);
			printf(",\"was_latched\":%s}\n", was ? "true" : "false");
		} else
			printf("slot %u: %s\n", s.slot, was ? "eject latch cleared: the card may be powered again"
								 : "not latched");
		rc = EXIT_OK;
	}
	return tool_close(&s, rc);
}
