/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for APDU scripts (uccid apdu -f, uccid lock: tool/script.c),
 * checked whole as the tool does before it opens a reader
 * (tool_check_script): hex APDUs, "reset [warm|cold]", "lock ...",
 * "unlock DISPOSITION", comments.  Properties: no crash, leak or read
 * outside the input whatever the bytes (NUL bytes, over-long lines, bad
 * hex, truncated APDUs); the answer is one of the tool's exit codes.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/tool.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;
	int rc;

	/* (every refusal is named on stderr, as the tool does) */
	if (!size)
		return 0;
	f = fmemopen((void *)(uintptr_t)data, size, "r");
	if (!f)
		return 0;
	rc = tool_check_script(f, "fuzz.apdu");
	fclose(f);
	FUZZ_ASSERT(rc == EXIT_OK || rc == EXIT_USAGE);
	return 0;
}
