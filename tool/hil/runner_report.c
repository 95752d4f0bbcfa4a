/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Results of `uccid test`: TAP on stdout as each test ends (TAP 13: the
 * plan first, "ok N - name" / "not ok N - name", the report of a failure as
 * '#' diagnostic lines, which every TAP consumer passes through), and at the
 * end the JUnit XML report for CI systems: <testsuites> holding one
 * <testsuite> per suite file and one <testcase> per test, a <failure> with
 * the report as its text, <skipped> for tests not run.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool/hil/runner.h"
#include "tool/tool.h"

struct suite_result *results_suite(struct run_results *rr, const char *name, const char *file)
{
	struct suite_result *sr;
	time_t now = time(NULL);
	struct tm tm;

	if (rr->nsuites == rr->cap) {
		unsigned cap = rr->cap ? rr->cap * 2 : 8;

		if (!(sr = realloc(rr->suites, cap * sizeof(*sr))))
			return NULL;
		rr->suites = sr;
		rr->cap = cap;
	}
	sr = &rr->suites[rr->nsuites];
	memset(sr, 0, sizeof(*sr));
	if (!(sr->name = strdup(name)) || !(sr->file = strdup(file))) {
		free(sr->name);
		return NULL;
	}
	localtime_r(&now, &tm);
	strftime(sr->timestamp, sizeof(sr->timestamp), "%Y-%m-%dT%H:%M:%S", &tm);
	rr->nsuites++;
	return sr;
}

/* Text as TAP diagnostics: each line after "# ". */
static void tap_diag(FILE *tap, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");

		fprintf(tap, "# %.*s\n", (int)n, text);
		text += n;
		if (*text)
			text++;
	}
}

/* A name on a TAP line: '#' would start a directive, a newline would end the line. */
static void tap_name(FILE *tap, const char *s)
{
	for (; *s; s++)
		fputc(*s == '#' ? '_' : *s == '\n' ? ' ' : *s, tap);
}

int results_add(struct run_results *rr, struct suite_result *sr, FILE *tap, bool verbose, const char *name,
		const char *file, unsigned line, enum result_status status, const char *message, const char *detail,
		double seconds)
{
	struct test_result *t;

	if (sr->ntests == sr->cap) {
		unsigned cap = sr->cap ? sr->cap * 2 : 16;

		if (!(t = realloc(sr->tests, cap * sizeof(*t))))
			return -ENOMEM;
		sr->tests = t;
		sr->cap = cap;
	}
	t = &sr->tests[sr->ntests];
	*t = (struct test_result){ .line = line, .status = status, .seconds = seconds };
	t->name = strdup(name);
	t->file = strdup(file);
	t->message = message ? strdup(message) : NULL;
	t->detail = detail ? strdup(detail) : NULL;
	if (!t->name || !t->file || (message && !t->message) || (detail && !t->detail)) {
		free(t->name);
		free(t->file);
		free(t->message);
		free(t->detail);
		return -ENOMEM;
	}
	sr->ntests++;
	sr->seconds += seconds;

	if (rr->json) {
		static const char *const names[] = { [RESULT_PASS] = "ok", [RESULT_FAIL] = "fail",
						     [RESULT_SKIP] = "skip" };

		fprintf(tap, "{\"event\":\"test\",\"number\":%u,\"suite\":", ++rr->tap_next);
		json_string(tap, sr->name);
		fputs(",\"test\":", tap);
		json_string(tap, name);
		fputs(",\"file\":", tap);
		json_string(tap, file);
		fprintf(tap, ",\"line\":%u,\"status\":\"%s\",\"seconds\":%.3f,\"message\":", line, names[status],
			seconds);
		json_string(tap, message ? message : "");
		fputs(",\"detail\":", tap);
		json_string(tap, status == RESULT_FAIL || verbose ? detail : "");
		fputs("}\n", tap);
		fflush(tap);
		return 0;
	}
	fprintf(tap, "%s %u - %s: ", status == RESULT_FAIL ? "not ok" : "ok", ++rr->tap_next, sr->name);
	tap_name(tap, name);
	if (status == RESULT_SKIP) {
		fputs(" # SKIP ", tap);
		tap_name(tap, message ? message : "");
	}
	fputc('\n', tap);
	if (status == RESULT_FAIL || verbose)
		tap_diag(tap, detail);
	fflush(tap);
	return 0;
}

void results_free(struct run_results *rr)
{
	for (unsigned i = 0; i < rr->nsuites; i++) {
		struct suite_result *sr = &rr->suites[i];

		for (unsigned k = 0; k < sr->ntests; k++) {
			free(sr->tests[k].name);
			free(sr->tests[k].file);
			free(sr->tests[k].message);
			free(sr->tests[k].detail);
		}
		free(sr->tests);
		free(sr->name);
		free(sr->file);
	}
	free(rr->suites);
	memset(rr, 0, sizeof(*rr));
}

static void suite_counts(const struct suite_result *sr, unsigned *failed, unsigned *skipped)
{
	*failed = *skipped = 0;
	for (unsigned k = 0; k < sr->ntests; k++) {
		*failed += sr->tests[k].status == RESULT_FAIL;
		*skipped += sr->tests[k].status == RESULT_SKIP;
	}
}

void results_count(const struct run_results *rr, unsigned *tests, unsigned *failed, unsigned *skipped)
{
	*tests = *failed = *skipped = 0;
	for (unsigned i = 0; i < rr->nsuites; i++) {
		unsigned f, s;

		suite_counts(&rr->suites[i], &f, &s);
		*tests += rr->suites[i].ntests;
		*failed += f;
		*skipped += s;
	}
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, and U+FFFE/FFFF are not XML characters */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF
	    || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
		return 0;
	return n;
}

void xml_escape(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p && *p) {
		size_t n = utf8_len(p);

		if (!n || (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7F) {
			fputc('?', f);   /* XML 1.0 has no way to carry it */
			p++;
			continue;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '\r': fputs("&#13;", f); break;
		default: fwrite(p, 1, n, f); break;
		}
		p += n;
	}
}

static void xml_attr(FILE *f, const char *name, const char *value)
{
	fprintf(f, " %s=\"", name);
	xml_escape(f, value ? value : "");
	fputc('"', f);
}

int results_write_junit(const struct run_results *rr, const char *path)
{
	unsigned tests, failed, skipped;
	double total = 0;
	char host[256] = "localhost";
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -errno;
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	results_count(rr, &tests, &failed, &skipped);
	for (unsigned i = 0; i < rr->nsuites; i++)
		total += rr->suites[i].seconds;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<testsuites name=\"uccid test\" tests=\"%u\" failures=\"%u\" errors=\"0\" skipped=\"%u\" "
		   "time=\"%.3f\">\n", tests, failed, skipped, total);
	for (unsigned i = 0; i < rr->nsuites; i++) {
		const struct suite_result *sr = &rr->suites[i];
		unsigned sf, ss;

		suite_counts(sr, &sf, &ss);
		fputs("  <testsuite", f);
		xml_attr(f, "name", sr->name);
		fprintf(f, " tests=\"%u\" failures=\"%u\" errors=\"0\" skipped=\"%u\" time=\"%.3f\"", sr->ntests, sf, ss,
			sr->seconds);
		xml_attr(f, "timestamp", sr->timestamp);
		xml_attr(f, "hostname", host);
		xml_attr(f, "file", sr->file);
		fputs(">\n", f);
		for (unsigned k = 0; k < sr->ntests; k++) {
			const struct test_result *t = &sr->tests[k];

			fputs("    <testcase", f);
			xml_attr(f, "name", t->name);
			xml_attr(f, "classname", sr->name);
			xml_attr(f, "file", t->file);
			fprintf(f, " line=\"%u\" time=\"%.3f\"", t->line, t->seconds);
			if (t->status == RESULT_PASS) {
				fputs("/>\n", f);
				continue;
			}
			fputs(">\n", f);
			if (t->status == RESULT_SKIP) {
				fputs("      <skipped", f);
				xml_attr(f, "message", t->message);
				fputs("/>\n", f);
			} else {
				fputs("      <failure", f);
				xml_attr(f, "message", t->message);
				xml_attr(f, "type", "StepFailed");
				fputs(">", f);
				xml_escape(f, t->detail);
				fputs("</failure>\n", f);
			}
			fputs("    </testcase>\n", f);
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}
