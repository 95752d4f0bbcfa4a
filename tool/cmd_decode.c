/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid decode: explain an ATR, a PPS, a class / device / configuration
 * descriptor, a CCID bulk or interrupt message, or a T=1 block given in hex.
 * Everything goes through the same codec the driver uses, so what this
 * refuses is what the driver would refuse, with the byte offset and what was
 * expected there.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/ccid.h"
#include "ccid/field.h"
#include "tool/tool.h"

struct decode_args {
	const struct tool_opts *o;
	unsigned slots;        /* --slots: NotifySlotChange slot count, 0 = from length */
	enum ccid_edc edc;     /* --crc: T=1 blocks with CRC */
	uint8_t *bytes;
	size_t len;
};

static int read_input(int argc, char **argv, struct decode_args *a)
{
	size_t bad_pos = 0;
	char bad_char = 0;
	int r;

	a->bytes = malloc(HEX_MAX_BYTES);
	if (!a->bytes) {
		tool_err("out of memory");
		return -ENOMEM;
	}
	if (argc == 0 || (argc == 1 && !strcmp(argv[0], "-")))
		r = hex_parse_stream(stdin, a->bytes, HEX_MAX_BYTES, &bad_pos, &bad_char);
	else
		r = hex_parse_words(argc, argv, a->bytes, HEX_MAX_BYTES, &bad_pos, &bad_char);
	if (r == -EINVAL)
		tool_err("bad hex input: '%c' at character %zu (expected hex digits, spaces or colons)",
			 bad_char, bad_pos + 1);
	else if (r == -EMSGSIZE)
		tool_err("bad hex input: odd number of hex digits (a byte is two digits)");
	else if (r == -E2BIG)
		tool_err("bad hex input: more than %d bytes", HEX_MAX_BYTES);
	else if (r == 0)
		tool_err("no bytes to decode");
	if (r <= 0)
		return r < 0 ? r : -ENODATA;
	a->len = (size_t)r;
	return 0;
}

static int decode_atr(struct decode_args *a)
{
	struct ccid_atr atr;
	struct ccid_diag diag = { 0 };
	struct out o;
	int r = ccid_atr_parse(a->bytes, a->len, &atr, &diag);

	if (r < 0) {
		out_decode_error(a->o->json, "ATR", r, &diag, a->bytes, a->len);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "atr", "ATR", a->bytes, a->len);
	ccid_atr_describe(&atr, out_field, &o);
	out_end(&o);
	return EXIT_OK;
}

static int decode_pps(struct decode_args *a)
{
	struct ccid_pps pps;
	struct ccid_diag diag = { 0 };
	struct out o;
	int r = ccid_pps_parse(a->bytes, a->len, &pps, &diag);
	size_t off = 2;

	if (r < 0) {
		out_decode_error(a->o->json, "PPS", r, &diag, a->bytes, a->len);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "pps", "PPS", a->bytes, a->len);
	ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PPSS", 0, 1, a->bytes[0], "initial byte");
	ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PPS0", 1, 1, a->bytes[1], "protocol T=%u%s%s%s",
		  pps.protocol, pps.has_pps1 ? ", PPS1" : "", pps.has_pps2 ? ", PPS2" : "",
		  pps.has_pps3 ? ", PPS3" : "");
	if (pps.has_pps1) {
		unsigned fi = ccid_fi(pps.pps1 >> 4), di = ccid_di(pps.pps1 & 0x0F);

		ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PPS1", off++, 1, pps.pps1,
			  fi && di ? "Fi=%u Di=%u" : "RFU Fi or Di (%u, %u)", fi, di);
	}
	if (pps.has_pps2)
		ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PPS2", off++, 1, pps.pps2, "SPU");
	if (pps.has_pps3)
		ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PPS3", off++, 1, pps.pps3, "RFU");
	ccid_emit(out_field, &o, CCID_FIELD_VALUE, "PCK", off, 1, a->bytes[off], "check byte (correct)");
	out_end(&o);
	return EXIT_OK;
}

static int decode_class(struct decode_args *a)
{
	struct ccid_class_desc d;
	struct ccid_diag diag = { 0 };
	struct out o;
	int r = ccid_class_desc_parse(a->bytes, a->len, &d, &diag);

	if (r < 0) {
		out_decode_error(a->o->json, "class descriptor", r, &diag, a->bytes, a->len);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "class_descriptor", "CCID class descriptor", a->bytes, a->len);
	ccid_class_desc_describe(&d, out_field, &o);
	r = ccid_class_desc_validate(&d, out_finding, &o, NULL);
	out_end(&o);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

static int decode_device(struct decode_args *a)
{
	struct ccid_usb_device_desc d;
	struct ccid_diag diag = { 0 };
	struct out o;
	int r = ccid_usb_device_desc_parse(a->bytes, a->len, &d, &diag);

	if (r < 0) {
		out_decode_error(a->o->json, "device descriptor", r, &diag, a->bytes, a->len);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "device_descriptor", "USB device descriptor", a->bytes, a->len);
	ccid_usb_device_desc_describe(&d, out_field, &o);
	out_end(&o);
	return EXIT_OK;
}

/* Validation findings of a class descriptor inside a configuration, re-based. */
struct rebased_findings {
	struct out *o;
	size_t base;
};

static void rebased_finding(void *ctx, enum ccid_severity sev, const char *field, size_t offset,
			    const char *text)
{
	struct rebased_findings *rf = ctx;

	out_finding(rf->o, sev, field, offset + rf->base, text);
}

static int decode_config(struct decode_args *a)
{
	struct ccid_usb_config *cfg = malloc(sizeof(*cfg));
	struct ccid_diag diag = { 0 };
	struct out o;
	int r, rc = EXIT_OK;

	if (!cfg) {
		tool_err("out of memory");
		return EXIT_FAILED;
	}
	r = ccid_usb_config_parse(a->bytes, a->len, cfg, &diag);
	if (r < 0) {
		out_decode_error(a->o->json, "configuration descriptor", r, &diag, a->bytes, a->len);
		free(cfg);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "configuration_descriptor", "USB configuration descriptor",
		  a->bytes, a->len);
	ccid_usb_config_describe(cfg, a->bytes, a->len, out_field, &o);
	for (unsigned n = 0;; n++) {
		struct ccid_usb_ccid_interface ci;
		struct ccid_class_desc d;
		struct rebased_findings rf = { &o, 0 };

		r = ccid_usb_find_ccid(cfg, a->bytes, a->len, n, &ci, &diag);
		if (r == -ENOENT) {
			if (n == 0) {
				out_finding(&o, CCID_SEV_ERROR, "bInterfaceClass", 0,
					    "no CCID interface in this configuration");
				rc = EXIT_FAILED;
			}
			break;
		}
		if (r < 0) {
			out_finding(&o, CCID_SEV_ERROR, "interface", diag.offset, diag.expected);
			rc = EXIT_FAILED;
			break;
		}
		if (ci.class_after_endpoint)
			out_finding(&o, CCID_SEV_NOTE, "class descriptor", ci.class_offset,
				    "placed after the endpoints (known reader quirk, accepted)");
		rf.base = ci.class_offset;
		if (ccid_class_desc_parse(a->bytes + ci.class_offset, CCID_CLASS_DESC_LEN, &d, NULL) == 0
		    && ccid_class_desc_validate(&d, rebased_finding, &rf, NULL) < 0)
			rc = EXIT_FAILED;
	}
	out_end(&o);
	free(cfg);
	return rc;
}

static int decode_descriptor(struct decode_args *a)
{
	if (a->len >= 2 && a->bytes[1] == CCID_USB_DT_CONFIG)
		return decode_config(a);
	if (a->len >= 2 && a->bytes[1] == CCID_USB_DT_DEVICE)
		return decode_device(a);
	if (a->len >= 2 && (a->bytes[1] == CCID_CLASS_DESC_TYPE || a->bytes[1] == CCID_CLASS_DESC_TYPE_VENDOR
			    || a->bytes[0] == CCID_CLASS_DESC_LEN))
		return decode_class(a);
	tool_err("descriptor: unknown descriptor at byte 1 (%02X): expected 21 (CCID class), "
		 "02 (configuration) or 01 (device)", a->len >= 2 ? a->bytes[1] : 0);
	if (a->o->json)
		printf("{\"error\":{\"what\":\"descriptor\",\"kind\":\"invalid value\",\"offset\":1,"
		       "\"expected\":\"21, 02 or 01\",\"length\":%zu}}\n", a->len);
	return EXIT_USAGE;
}

static int decode_message(struct decode_args *a)
{
	struct ccid_diag diag = { 0 };
	struct out o;
	int r;

	if (a->bytes[0] == CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE || a->bytes[0] == CCID_RDR_TO_PC_HARDWARE_ERROR) {
		struct ccid_intr_msg m;

		r = ccid_intr_decode(a->bytes, a->len, a->slots, &m, &diag);
		if (r < 0) {
			out_decode_error(a->o->json, "interrupt message", r, &diag, a->bytes, a->len);
			return EXIT_USAGE;
		}
		out_begin(&o, stdout, a->o->json, "interrupt_message", ccid_msg_type_name(m.bMessageType),
			  a->bytes, a->len);
		ccid_intr_describe(&m, out_field, &o);
	} else {
		struct ccid_msg m;

		r = ccid_msg_decode(a->bytes, a->len, &m, &diag);
		if (r < 0) {
			out_decode_error(a->o->json, "message", r, &diag, a->bytes, a->len);
			return EXIT_USAGE;
		}
		out_begin(&o, stdout, a->o->json, "bulk_message", ccid_msg_type_name(m.bMessageType),
			  a->bytes, a->len);
		ccid_msg_describe(&m, out_field, &o);
	}
	out_end(&o);
	return EXIT_OK;
}

static int decode_block(struct decode_args *a)
{
	struct ccid_t1_block blk;
	struct ccid_diag diag = { 0 };
	struct out o;
	int r = ccid_t1_block_decode(a->bytes, a->len, a->edc, &blk, &diag);

	if (r < 0) {
		out_decode_error(a->o->json, "T=1 block", r, &diag, a->bytes, a->len);
		return EXIT_USAGE;
	}
	out_begin(&o, stdout, a->o->json, "t1_block", "T=1 block", a->bytes, a->len);
	ccid_t1_block_describe(&blk, out_field, &o);
	out_end(&o);
	return EXIT_OK;
}

/* the kinds, as the help (tool_cmd_decode.more) lists them */
static const struct decoder {
	const char *name;
	int (*fn)(struct decode_args *a);
} decoders[] = {
	{ "atr", decode_atr },
	{ "pps", decode_pps },
	{ "descriptor", decode_descriptor },
	{ "message", decode_message },
	{ "block", decode_block },
};

static void decode_usage(FILE *f);

static const struct tool_opt decode_opts[] = {
	{ "slots", required_argument, 's', 0, "N", "the reader's slot count (1-256) for a NotifySlotChange message" },
	{ "crc", no_argument, 'c', 0, NULL, "T=1 blocks carry a CRC instead of an LRC" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_decode = {
	"decode", cmd_decode,
	"explain an ATR, PPS, descriptor, CCID message or T=1 block given in hex",
	"uccid decode [--json] [--slots N] [--crc] WHAT [HEX... | -]", decode_opts,
	"HEX may be '-' or absent to read standard input.  WHAT is one of:\n"
	"  atr          an Answer To Reset (ISO 7816-3 §8)\n"
	"  pps          a PPS request or answer (ISO 7816-3 §9)\n"
	"  descriptor   a CCID class descriptor (54 bytes), a whole configuration descriptor, or a device descriptor\n"
	"  message      a CCID bulk message (either direction) or interrupt message\n"
	"  block        a T=1 block (LRC; --crc for CRC)\n",
};

static void decode_usage(FILE *f)
{
	fprintf(f, "usage: %s\n%s", tool_cmd_decode.synopsis, tool_cmd_decode.more);
}

int cmd_decode(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct tool_opts o = *opts;
	struct decode_args a = { .o = &o, .edc = CCID_EDC_LRC };
	const struct decoder *d = NULL;
	int c, rc;

	tool_getopt_init(decode_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 's': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg == 0 || *end || v < 1 || v > CCID_MAX_SLOTS) {
				tool_err("decode: --slots takes a slot count from 1 to 256, not '%s'", optarg);
				return EXIT_USAGE;
			}
			a.slots = (unsigned)v;
			break;
		}
		case 'c':
			a.edc = CCID_EDC_CRC;
			break;
		default:
			tool_bad_option("decode", argv);
			decode_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		tool_err("decode: say what to decode");
		decode_usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (!strcmp(argv[optind], decoders[i].name))
			d = &decoders[i];
	if (!d) {
		tool_err("decode: unknown kind '%s'", argv[optind]);
		decode_usage(stderr);
		return EXIT_USAGE;
	}
	optind++;
	if (read_input(argc - optind, argv + optind, &a) < 0) {
		free(a.bytes);
		return EXIT_USAGE;
	}
	rc = d->fn(&a);
	free(a.bytes);
	return rc;
}
