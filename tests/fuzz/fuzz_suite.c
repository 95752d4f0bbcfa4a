/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for `uccid test` suites (tool/hil/suite.c, suite_match.c):
 * the input is a suite file's text, parsed whole; then each line of it goes
 * through the helpers the runner checks answers with (status-word specs,
 * data patterns, slices, durations, hex, ${NAME} expansion).  Properties: a
 * refusal names the file and a line within the input; a parsed suite keeps
 * its limits (steps, readers, SW alternatives, names); a parsed SW spec
 * formats, and every helper stays within its buffers.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tool/hil/suite.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Regular expressions are the C library's: keep the patterns short enough that its matcher is not the test. */
#define FUZZ_REGEX_MAX 48

static void check_suite(const struct suite *s, size_t size)
{
	FUZZ_ASSERT(s->nsteps <= SUITE_STEPS_MAX && s->nreaders <= SUITE_READERS_MAX);
	FUZZ_ASSERT(s->name && strlen(s->name) <= size + 16);
	for (unsigned i = 0; i < s->nsteps; i++) {
		const struct suite_step *st = &s->steps[i];

		FUZZ_ASSERT(st->nsw <= SUITE_SW_ALTS_MAX && st->nerrs <= SUITE_ERRS_MAX);
		FUZZ_ASSERT(st->test < s->ntests || s->ntests == 0);
		FUZZ_ASSERT(st->line >= 1);
		fuzz_sink += st->text ? strlen(st->text) : 0;
		fuzz_sink += st->arg ? strlen(st->arg) : 0;
		fuzz_sink += st->pattern ? strlen(st->pattern) : 0;
	}
	for (unsigned i = 0; i < s->ntests; i++) {
		FUZZ_ASSERT(s->tests[i].first + s->tests[i].count <= s->nsteps);
		fuzz_sink += strlen(s->tests[i].name);
	}
	for (unsigned i = 0; i < s->nreaders; i++)
		FUZZ_ASSERT(strnlen(s->readers[i].alias, sizeof(s->readers[i].alias)) < sizeof(s->readers[i].alias));
}

static void fuzz_line(const char *line, struct suite_vars *vars)
{
	struct suite_sw sw[SUITE_SW_ALTS_MAX];
	static const uint8_t sample[] = { 0x90, 0x00, 0x3B, 0x7A, 0x18, 0x00, 0x61, 0x10 };
	uint8_t out[64];
	char buf[256], err[128];
	size_t off, n;
	unsigned ms;
	char *x;
	int r;

	r = suite_parse_sw(line, sw, SUITE_SW_ALTS_MAX);
	if (r > 0) {
		FUZZ_ASSERT((unsigned)r <= SUITE_SW_ALTS_MAX);
		suite_sw_format(sw, (unsigned)r, buf, sizeof(buf));
		FUZZ_ASSERT(strlen(buf) < sizeof(buf));
		fuzz_sink += suite_sw_match(sw, (unsigned)r, 0x9000);
	}
	if (line[0] != '/' || strlen(line) <= FUZZ_REGEX_MAX) {
		err[0] = '\0';
		r = suite_match_data(line, sample, sizeof(sample), err, sizeof(err));
		FUZZ_ASSERT(r == 0 || r == 1 || (r == -EINVAL && err[0]));
	}
	r = suite_slice(line, sizeof(sample), &off, &n);
	if (r == 0)
		FUZZ_ASSERT(off <= sizeof(sample) && n <= sizeof(sample) - off);
	else
		FUZZ_ASSERT(r == -EINVAL || r == -ERANGE);
	if (suite_parse_duration(line, &ms) == 0)
		FUZZ_ASSERT(ms <= SUITE_DURATION_MAX_MS);
	r = suite_hex(line, out, sizeof(out));
	FUZZ_ASSERT(r == -EINVAL || r == -ENOBUFS || (r >= 0 && (size_t)r <= sizeof(out)));
	r = suite_errno_parse(line);
	if (r >= 0)
		FUZZ_ASSERT(suite_errno_name(r) != NULL);
	x = suite_expand(vars, line, err, sizeof(err));
	if (x) {
		FUZZ_ASSERT(strlen(x) <= SUITE_LINE_MAX);
		free(x);
	} else {
		FUZZ_ASSERT(err[0]);
	}
	/* a line "NAME=VALUE" sets a variable for the lines after it */
	x = strchr(line, '=');
	if (x && (size_t)(x - line) < sizeof(buf)) {
		memcpy(buf, line, (size_t)(x - line));
		buf[x - line] = '\0';
		r = suite_var_set(vars, buf, x + 1);
		FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOSPC);
		if (r == 0)
			FUZZ_ASSERT(suite_var_get(vars, buf) && !strcmp(suite_var_get(vars, buf), x + 1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct suite_vars vars = { 0 };
	struct suite *s = NULL;
	char err[256] = "";
	char *text, *line, *save = NULL;
	int r;

	r = suite_parse("fuzz.suite", (const char *)data, size, &s, err, sizeof(err));
	if (r == 0) {
		check_suite(s, size);
		suite_free(s);
	} else {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(r == -ENOMEM || !strncmp(err, "fuzz.suite:", 11));
	}

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fuzz_line(line, &vars);
	suite_vars_clear(&vars);
	free(text);
	return 0;
}
