/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the CCID class descriptor: parse, validate, describe and
 * re-encode.  Properties: a parsed descriptor re-encodes to the same bytes;
 * the clamped values a driver uses are always within their bounds.
 */
#include "config.h"

#include <stdint.h>

#include "ccid/class_desc.h"
#include "ccid/message.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(void *ctx, enum ccid_severity sev, const char *field, size_t off, const char *text)
{
	(void)ctx;
	FUZZ_ASSERT(off < CCID_CLASS_DESC_LEN && field && text && text[0]);
	fuzz_sink += sev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccid_class_desc d;
	struct ccid_diag diag = { 0 };
	uint8_t out[CCID_CLASS_DESC_LEN];

	if (ccid_class_desc_parse(data, size, &d, &diag) < 0) {
		FUZZ_ASSERT(diag.offset <= size);
		return 0;
	}
	(void)ccid_class_desc_validate(&d, finding, NULL, &diag);
	ccid_class_desc_describe(&d, fuzz_emit, NULL);
	FUZZ_ASSERT(ccid_class_desc_encode(&d, out, sizeof(out)) == CCID_CLASS_DESC_LEN);
	FUZZ_ASSERT(memcmp(out, data, CCID_CLASS_DESC_LEN) == 0);
	FUZZ_ASSERT(ccid_class_desc_max_message(&d) >= CCID_HEADER_SIZE + 1);
	FUZZ_ASSERT(ccid_class_desc_max_message(&d) <= CCID_MAX_MESSAGE_LENGTH);
	FUZZ_ASSERT(ccid_class_desc_busy_slots(&d) >= 1 && ccid_class_desc_busy_slots(&d) <= 256);
	return 0;
}
