/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the tool's hex input (tool/hex.c) and its APDU check
 * (tool_apdu_check): the input is read as command-line words (split at NUL
 * bytes, as argv would be) and as a stream (standard input).  Properties:
 * the two readings agree where the words carry no NUL; a refusal names a
 * character position inside the input (or its end, for an odd digit
 * count) and, for a bad character, that character; a success never writes
 * past the buffer, and the bytes read are a valid APDU or refused with a
 * reason.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/tool.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEX_CAP 300        /* small, so that -E2BIG is reached too */

static void check_result(int r, size_t bad_pos, char bad_char, size_t chars, const uint8_t *out)
{
	char why[160];

	if (r >= 0) {
		FUZZ_ASSERT(r <= FUZZ_HEX_CAP);
		why[0] = '\0';
		if (tool_apdu_check(out, (size_t)r, why, sizeof(why)) < 0)
			FUZZ_ASSERT(why[0] && strlen(why) < sizeof(why));
		return;
	}
	FUZZ_ASSERT(r == -EINVAL || r == -E2BIG || r == -EMSGSIZE);
	FUZZ_ASSERT(bad_pos <= chars);
	if (r == -EINVAL)
		FUZZ_ASSERT(bad_char != 0 || bad_pos < chars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[FUZZ_HEX_CAP], b[FUZZ_HEX_CAP];
	char *text = malloc(size + 1), *argv[64];
	size_t bad_pos = 0, chars = 0, bad_pos2 = 0;
	char bad_char = 0, bad_char2 = 0;
	int argc = 0, r1, r2;
	FILE *f;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* words: the NUL-separated strings of the input (at most 64) */
	for (size_t i = 0; i <= size && argc < 64; i += strlen(text + i) + 1) {
		argv[argc++] = text + i;
		chars += strlen(text + i) + 1;
	}
	r1 = hex_parse_words(argc, argv, a, sizeof(a), &bad_pos, &bad_char);
	check_result(r1, bad_pos, bad_char, chars, a);

	f = fmemopen((void *)(uintptr_t)data, size ? size : 1, "r");
	if (f) {
		if (!size)
			fgetc(f);
		r2 = hex_parse_stream(f, b, sizeof(b), &bad_pos2, &bad_char2);
		fclose(f);
		check_result(r2, bad_pos2, bad_char2, size, b);
		/* one word and no NUL: the stream reads what the word read (the word ends with a separator) */
		if (argc == 1 && strlen(text) == size && r1 >= 0 && r2 >= 0)
			FUZZ_ASSERT(r1 == r2 && !memcmp(a, b, (size_t)r1));
	}
	free(text);
	return 0;
}
