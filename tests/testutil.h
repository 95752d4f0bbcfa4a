/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by the Check programs: hex vectors and suite running. */
#ifndef UCCID_TESTUTIL_H
#define UCCID_TESTUTIL_H

#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ccid/common.h"
#include "util/hex.h"

/* Parse a hex string ("62 00 00 ..", spaces ignored) into out; returns length or aborts. */
static inline size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (isspace((unsigned char)*hex) || *hex == ':')
			continue;
		v = uccid_hex_digit(*hex);
		if (v < 0)
			ck_abort_msg("bad hex digit '%c' in test vector", *hex);
		if (hi < 0) {
			hi = v;
			continue;
		}
		ck_assert_msg(n < cap, "test vector larger than its buffer");
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	ck_assert_msg(hi < 0, "odd number of hex digits in test vector");
	return n;
}

/*
 * Run one suite and return the process exit status.  Suites of many small
 * pure tests run without a fork per test unless CK_FORK says otherwise
 * (fork costs dominate under the sanitizers).
 */
static inline int tu_run_mode(Suite *s, bool nofork)
{
	SRunner *sr = srunner_create(s);
	int failed;

	if (nofork && !getenv("CK_FORK"))
		srunner_set_fork_status(sr, CK_NOFORK);

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline int tu_run(Suite *s)
{
	return tu_run_mode(s, false);
}

/*
 * Collects a describe walker's fields as "name@offset=text" lines (FLAG
 * lines indented by two spaces), for tests that check what a person sees.
 */
struct tu_fields {
	int n;
	char lines[128][200];
};

static inline void tu_collect(void *ctx, const struct ccid_field *f)
{
	struct tu_fields *t = ctx;

	if (t->n < 128)
		snprintf(t->lines[t->n++], sizeof(t->lines[0]), "%s%s@%zu=%s",
			 f->kind == CCID_FIELD_FLAG ? "  " : "", f->name, f->offset, f->text);
}

static inline bool tu_has(const struct tu_fields *t, const char *line)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->lines[i], line))
			return true;
	return false;
}

#endif
