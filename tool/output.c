/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Renders the field stream of a codec describe walker: aligned text for a
 * person at a terminal, or one JSON object (keys documented in docs/json.md)
 * for programs.  FLAG fields are nested under the VALUE they explain.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool/tool.h"

/*
 * --json: tool_err's messages kept for standard output, each ending in a
 * NUL.  The tool's threads (signal waiters, the test runner's watchdog)
 * never call tool_err: only the main thread changes these.
 */
#define ERR_KEPT_MAX 8192
static bool g_json_errors;
static char g_kept[ERR_KEPT_MAX];
static size_t g_kept_len;
static unsigned g_kept_lost;

void tool_json_errors(bool on)
{
	g_json_errors = on;
}

__attribute__((format(printf, 2, 0))) static void verr(bool keep, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "uccid: %s\n", msg);
	if (!keep || !g_json_errors)
		return;
	if (g_kept_len + strlen(msg) + 1 > sizeof(g_kept)) {
		g_kept_lost++;
		return;
	}
	memcpy(g_kept + g_kept_len, msg, strlen(msg) + 1);
	g_kept_len += strlen(msg) + 1;
}

void tool_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(true, fmt, ap);
	va_end(ap);
}

/* On stderr only: for a message whose JSON form the caller prints itself. */
static void tool_err_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tool_err_text(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(false, fmt, ap);
	va_end(ap);
}

void tool_json_flush(void)
{
	for (size_t at = 0; at < g_kept_len; at += strlen(g_kept + at) + 1) {
		fputs("{\"error\":{\"message\":", stdout);
		json_string(stdout, g_kept + at);
		fputs("}}\n", stdout);
	}
	if (g_kept_lost)
		printf("{\"error\":{\"message\":\"%u more errors (see standard error)\"}}\n", g_kept_lost);
	g_kept_len = 0;
	g_kept_lost = 0;
	fflush(stdout);
}

void tool_getopt_init(const struct tool_opt *opts, struct tool_getopt *g)
{
	size_t n = 0, k = 0;

	memset(g, 0, sizeof(*g));
	for (; opts[n].name && n < TOOL_OPTS_MAX; n++) {
		g->lo[n] = (struct option){ opts[n].name, opts[n].has_arg, NULL, opts[n].val };
		if (opts[n].short_name) {
			g->shorts[k++] = opts[n].short_name;
			if (opts[n].has_arg == required_argument)
				g->shorts[k++] = ':';
		}
	}
	optind = 0;   /* full re-initialisation of GNU getopt, permutation included */
	opterr = 0;
}

int tool_bad_option(const char *cmd, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (optopt && strncmp(arg, "--", 2))
		tool_err("%s: -%c is not an option of %s, or lacks its argument (uccid help %s)", cmd, optopt, cmd,
			 cmd);
	else
		tool_err("%s: '%s' is not an option of %s, or lacks its argument (uccid help %s)", cmd, arg, cmd, cmd);
	return EXIT_USAGE;
}

int tool_slot_arg(const char *arg, unsigned *slot)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v > 255) {
		tool_err("--slot takes a slot number from 0 to 255, not '%s'", arg);
		return -EINVAL;
	}
	*slot = (unsigned)v;
	return 0;
}

int tool_seconds_arg(const char *opt, const char *arg, int *ms)
{
	unsigned long whole = 0, frac_ms = 0, scale = 100;
	const char *p = arg;
	bool digits = false;

	if (!strcmp(arg, "forever")) {
		*ms = -1;
		return 0;
	}
	/*
	 * Digits with an optional fraction, nothing else: strtod would take
	 * "nan", "inf", "-0", "1e999" and hex, and NaN has no millisecond count.
	 */
	for (; *p >= '0' && *p <= '9'; p++, digits = true)
		if (whole <= 86400)
			whole = whole * 10 + (unsigned long)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
			frac_ms += (unsigned long)(*p - '0') * scale;
			scale /= 10;
		}
	if (!digits || *p || whole > 86400 || (whole == 86400 && frac_ms)) {
		tool_err("%s takes a time in seconds (0..86400) or 'forever', not '%s'", opt, arg);
		return -EINVAL;
	}
	*ms = (int)(whole * 1000 + frac_ms);
	return 0;
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7F)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void hex_bytes(FILE *f, const uint8_t *b, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%02X", i ? sep : "", b[i]);
}

static const char *kind_name(enum ccid_field_kind k)
{
	switch (k) {
	case CCID_FIELD_SECTION: return "section";
	case CCID_FIELD_VALUE: return "value";
	case CCID_FIELD_FLAG: return "flag";
	case CCID_FIELD_BYTES: return "bytes";
	default: return "derived";
	}
}

void out_begin(struct out *o, FILE *f, bool json, const char *kind, const char *title,
	       const uint8_t *bytes, size_t len)
{
	out_begin_with(o, f, json, kind, title, bytes, len, NULL);
}

void out_begin_with(struct out *o, FILE *f, bool json, const char *kind, const char *title,
		    const uint8_t *bytes, size_t len, const char *extra)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = json;
	if (json) {
		fprintf(f, "{%s\"kind\":", extra ? extra : "");
		json_string(f, kind);
		fprintf(f, ",\"title\":");
		json_string(f, title);
		fprintf(f, ",\"length\":%zu,\"bytes\":\"", len);
		hex_bytes(f, bytes, len, "");
		fputs("\",\"fields\":[", f);
		return;
	}
	fprintf(f, "%s (%zu byte%s)\n", title, len, len == 1 ? "" : "s");
}

static void json_close_value(struct out *o)
{
	if (!o->value_open)
		return;
	if (o->nflags)
		fputc(']', o->f);
	fputc('}', o->f);
	o->value_open = false;
	o->nflags = 0;
}

static void json_field(struct out *o, const struct ccid_field *fl)
{
	FILE *f = o->f;

	if (fl->kind == CCID_FIELD_FLAG && o->value_open) {
		fputs(o->nflags++ ? "," : ",\"flags\":[", f);
		fputs("{\"name\":", f);
		json_string(f, fl->name);
		fprintf(f, ",\"value\":%" PRIu64 ",\"text\":", fl->value);
		json_string(f, fl->text);
		fputc('}', f);
		return;
	}
	json_close_value(o);
	if (o->nfields++)
		fputc(',', f);
	fprintf(f, "{\"kind\":\"%s\",\"name\":", kind_name(fl->kind));
	json_string(f, fl->name);
	if (fl->offset == CCID_FIELD_NO_OFFSET)
		fputs(",\"offset\":null", f);
	else
		fprintf(f, ",\"offset\":%zu,\"size\":%zu", fl->offset, fl->size);
	if (fl->kind == CCID_FIELD_BYTES) {
		fputs(",\"bytes\":\"", f);
		hex_bytes(f, fl->bytes, fl->nbytes, "");
		fputc('"', f);
	} else {
		fprintf(f, ",\"value\":%" PRIu64, fl->value);
	}
	fputs(",\"text\":", f);
	json_string(f, fl->text);
	if (fl->kind == CCID_FIELD_VALUE) {
		o->value_open = true;
		o->nflags = 0;
		return;
	}
	fputc('}', f);
}

/* Width of a value in hex digits for its field size. */
static void text_value(FILE *f, const struct ccid_field *fl)
{
	char v[24];

	if (fl->size >= 1 && fl->size <= 4)
		snprintf(v, sizeof(v), "%0*" PRIX64, (int)fl->size * 2, fl->value);
	else
		snprintf(v, sizeof(v), "%" PRIu64, fl->value);
	fprintf(f, "%-10s", v);
}

static void text_field(struct out *o, const struct ccid_field *fl)
{
	FILE *f = o->f;

	switch (fl->kind) {
	case CCID_FIELD_SECTION:
		fprintf(f, "\n%s at offset %zu: %s\n", fl->name, fl->offset, fl->text);
		break;
	case CCID_FIELD_VALUE:
		fprintf(f, "  %4zu  %-24s ", fl->offset, fl->name);
		text_value(f, fl);
		fprintf(f, " %s\n", fl->text);
		break;
	case CCID_FIELD_FLAG:
		fprintf(f, "  %4s  %-24s %-10s - %s\n", "", "", "", fl->text);
		break;
	case CCID_FIELD_BYTES:
		fprintf(f, "  %4zu  %-24s ", fl->offset, fl->name);
		for (size_t i = 0; i < fl->nbytes; i++) {
			if (i && i % 16 == 0)
				fprintf(f, "\n  %4s  %-24s ", "", "");
			fprintf(f, "%s%02X", i % 16 ? " " : "", fl->bytes[i]);
		}
		fprintf(f, "%s%s\n", fl->text[0] ? "  " : "", fl->text);
		break;
	default:
		fprintf(f, "  %4s  %-24s %s\n", "", fl->name, fl->text);
		break;
	}
}

void out_field(void *ctx, const struct ccid_field *fl)
{
	struct out *o = ctx;

	if (o->json)
		json_field(o, fl);
	else
		text_field(o, fl);
}

static const char *severity_name(enum ccid_severity s)
{
	switch (s) {
	case CCID_SEV_ERROR: return "error";
	case CCID_SEV_WARNING: return "warning";
	default: return "note";
	}
}

void out_finding(void *ctx, enum ccid_severity sev, const char *field, size_t offset, const char *text)
{
	out_finding_detail(ctx, sev, field, offset, text, NULL, NULL, NULL);
}

void out_finding_detail(struct out *o, enum ccid_severity sev, const char *field, size_t offset, const char *text,
			const char *defect, const char *expected, const char *found)
{
	if (!o->json) {
		if (!o->nfindings++)
			fputc('\n', o->f);
		fprintf(o->f, "%s: %s (offset %zu): %s\n", severity_name(sev), field, offset, text);
		return;
	}
	json_close_value(o);
	if (!o->in_findings) {
		fputs("],\"findings\":[", o->f);
		o->in_findings = true;
	}
	fprintf(o->f, "%s{\"severity\":\"%s\",\"field\":", o->nfindings++ ? "," : "", severity_name(sev));
	json_string(o->f, field);
	fprintf(o->f, ",\"offset\":%zu,\"text\":", offset);
	json_string(o->f, text);
	if (defect) {
		fputs(",\"defect\":", o->f);
		json_string(o->f, defect);
	}
	if (expected) {
		fputs(",\"expected\":", o->f);
		json_string(o->f, expected);
	}
	if (found) {
		fputs(",\"found\":", o->f);
		json_string(o->f, found);
	}
	fputc('}', o->f);
}

void out_end(struct out *o)
{
	if (!o->json)
		return;
	json_close_value(o);
	fputs(o->in_findings ? "]}\n" : "],\"findings\":[]}\n", o->f);
}

static const char *error_kind(int err)
{
	switch (err) {
	case -ENODATA: return "truncated";
	case -EMSGSIZE: return "too long";
	case -EBADMSG: return "invalid value";
	case -EPROTO: return "inconsistent";
	case -ENOENT: return "not found";
	default: return "invalid";
	}
}

void out_decode_error(bool json, const char *what, int err, const struct ccid_diag *diag,
		      const uint8_t *bytes, size_t len)
{
	const char *expected = diag->expected ? diag->expected : "valid input";
	char msg[512];

	if (diag->offset < len)
		snprintf(msg, sizeof(msg), "%s: %s at byte %zu (%02X): expected %s", what, error_kind(err),
			 diag->offset, bytes[diag->offset], expected);
	else
		snprintf(msg, sizeof(msg), "%s: %s at byte %zu (end of input, %zu bytes given): expected %s", what,
			 error_kind(err), diag->offset, len, expected);
	tool_err_text("%s", msg);
	if (!json)
		return;
	fputs("{\"error\":{\"message\":", stdout);
	json_string(stdout, msg);
	fputs(",\"what\":", stdout);
	json_string(stdout, what);
	fputs(",\"kind\":", stdout);
	json_string(stdout, error_kind(err));
	fprintf(stdout, ",\"offset\":%zu,\"expected\":", diag->offset);
	json_string(stdout, expected);
	fprintf(stdout, ",\"length\":%zu}}\n", len);
}
