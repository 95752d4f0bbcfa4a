/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the PIN verification / modification structures
 * (ccid/pin.h): byte 0 picks the operation, the rest is abPINDataStructure.
 * Properties: a refusal names an offset inside the message; an accepted
 * structure formats PINs of every length up to its capacity into an APDU
 * that fits a short APDU, and refuses longer ones.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ccid/pin.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digits[] = "1234567890123456789012345678901234567890";
	struct ccid_diag diag = { 0 };
	struct ccid_pin p;
	uint8_t apdu[512];
	char pin[CCID_PIN_MAX_DIGITS + 2];
	unsigned cap;

	if (size < 1)
		return 0;
	if (ccid_pin_decode(data[0] & 1, data + 1, size - 1, &p, &diag) < 0) {
		FUZZ_ASSERT(diag.offset <= 11 + size && diag.expected);
		return 0;
	}
	FUZZ_ASSERT(p.apdu >= data + 1 && p.apdu + p.apdu_len == data + size);
	cap = ccid_pin_capacity(&p);
	FUZZ_ASSERT(cap <= p.max_digits && cap <= CCID_PIN_MAX_DIGITS);
	for (unsigned n = 1; n <= cap + 1; n++) {
		ssize_t len;

		memcpy(pin, digits, n);
		pin[n] = 0;
		len = ccid_pin_build_apdu(&p, pin, pin, apdu, sizeof(apdu));
		FUZZ_ASSERT(len <= 261);
		if (n > cap)
			FUZZ_ASSERT(len < 0);
		fuzz_sink += (size_t)len;
	}
	return 0;
}
