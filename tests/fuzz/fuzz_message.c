/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for CCID bulk and interrupt message decoding.  Properties: no
 * decoder reads outside its input; a decoded message re-encodes to the same
 * bytes; a refusal always names an offset within (or just past) the input.
 */
#include "config.h"

#include <stdint.h>

#include "ccid/message.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccid_msg m;
	struct ccid_intr_msg im;
	struct ccid_diag diag = { 0 };
	static uint8_t out[CCID_MAX_MESSAGE_LENGTH];
	int r;

	(void)ccid_msg_total_length(data, size);
	r = ccid_msg_decode(data, size, &m, &diag);
	if (r == 0) {
		ssize_t n;

		ccid_msg_describe(&m, fuzz_emit, NULL);
		FUZZ_ASSERT(ccid_msg_validate(&m, NULL) == 0);
		n = ccid_msg_encode(&m, out, sizeof(out));
		FUZZ_ASSERT(n == (ssize_t)size && memcmp(out, data, size) == 0);
		FUZZ_ASSERT(ccid_msg_total_length(data, size) == (ssize_t)size);
	} else {
		FUZZ_ASSERT(diag.expected != NULL && diag.offset <= size);
	}

	for (unsigned nslots = 0; nslots <= 9; nslots += 3) {
		r = ccid_intr_decode(data, size, nslots, &im, &diag);
		if (r == 0) {
			uint8_t iout[CCID_NOTIFY_MAX_LEN];
			ssize_t n;

			ccid_intr_describe(&im, fuzz_emit, NULL);
			n = ccid_intr_encode(&im, iout, sizeof(iout));
			FUZZ_ASSERT(n == (ssize_t)size && memcmp(iout, data, size) == 0);
		} else {
			FUZZ_ASSERT(diag.offset <= size);
		}
	}
	return 0;
}
