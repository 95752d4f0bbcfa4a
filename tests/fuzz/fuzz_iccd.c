/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the USB ICCD decoders (ccid/iccd.h).  The first
 * byte picks the token version (odd: A, even: B); the rest is tried as a
 * SETUP packet a device checks, as version A's status byte and as version
 * B's DATA_BLOCK answer.  What a decoder accepts must come back the same
 * through its encoder, and a SETUP packet a device accepts must be one a
 * host would make.  Invariants that a sanitizer cannot see abort the run.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/iccd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

static void setup(uint8_t version, const uint8_t *buf, size_t len)
{
	struct ccid_iccd_setup s, made;
	struct ccid_diag diag = { 0 };
	uint8_t out[8];
	int r = ccid_iccd_setup_decode(version, buf, len, &s, &diag);

	if (r < 0) {
		CHECK(r == -ENODATA || r == -EBADMSG);
		CHECK(diag.expected != NULL && diag.offset <= 8);
		return;
	}
	CHECK(len >= 8);
	CHECK(ccid_iccd_setup_make(version, s.bRequest, s.wValue, (uint8_t)s.wIndex, s.wLength, &made) == 0);
	CHECK(made.bmRequestType == s.bmRequestType);
	ccid_iccd_setup_encode(&s, out);
	CHECK(memcmp(out, buf, 8) == 0);
	CHECK(strcmp(ccid_iccd_request_name(s.bRequest), "unknown") != 0);
}

static void a_status(const uint8_t *buf, size_t len)
{
	struct ccid_iccd_a_status st;
	int r = ccid_iccd_a_status_decode(buf, len, &st, NULL);

	if (r < 0) {
		CHECK(r == -ENODATA || r == -EBADMSG);
		return;
	}
	CHECK(st.busy == ((buf[0] & CCID_ICCD_A_BUSY) != 0));
	if (!st.busy)
		CHECK(st.state == buf[0] && strcmp(ccid_iccd_a_state_name(st.state), "unknown") != 0);
}

static void b_answer(const uint8_t *buf, size_t len)
{
	struct ccid_iccd_b_answer a;
	struct ccid_diag diag = { 0 };
	uint8_t *out;
	int r = ccid_iccd_b_answer_decode(buf, len, &a, &diag);
	int n;

	if (r < 0) {
		CHECK(r == -ENODATA || r == -EBADMSG || r == -EMSGSIZE);
		CHECK(diag.expected != NULL && diag.offset <= len);
		return;
	}
	CHECK(a.len < len);
	CHECK(a.len == 0 || (a.abData == buf + 1));
	out = malloc(len + 1);
	CHECK(out != NULL);
	n = ccid_iccd_b_answer_encode(&a, out, len);
	CHECK(n == (int)len);
	CHECK(memcmp(out, buf, len) == 0);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup(data[0] & 1 ? CCID_ICCD_VERSION_A : CCID_ICCD_VERSION_B, data + 1, size - 1);
	a_status(data + 1, size - 1);
	b_answer(data + 1, size - 1);
	return 0;
}
