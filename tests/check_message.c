/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check suite for the CCID message codec: every bulk message in both
 * directions, the interrupt messages, bStatus / bError names, and refusal of
 * every truncation, oversize length, wrong type and reserved value.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "ccid/message.h"
#include "tests/testutil.h"

/* One valid message of each of the 19 bulk types (CCID §6.1, §6.2). */
static const struct golden {
	const char *hex;
	uint8_t type;
} golden[] = {
	{ "62 00000000 00 07 01 0000", CCID_PC_TO_RDR_ICC_POWER_ON },
	{ "63 00000000 00 08 000000", CCID_PC_TO_RDR_ICC_POWER_OFF },
	{ "65 00000000 01 09 000000", CCID_PC_TO_RDR_GET_SLOT_STATUS },
	{ "6F 05000000 00 0A 04 0000 00A4040000", CCID_PC_TO_RDR_XFR_BLOCK },
	{ "6C 00000000 00 0B 000000", CCID_PC_TO_RDR_GET_PARAMETERS },
	{ "6D 00000000 00 0C 000000", CCID_PC_TO_RDR_RESET_PARAMETERS },
	{ "61 07000000 00 0D 01 0000 11 10 00 4D 00 20 00", CCID_PC_TO_RDR_SET_PARAMETERS },
	{ "61 05000000 00 0D 00 0000 11 00 00 0A 00", CCID_PC_TO_RDR_SET_PARAMETERS },
	{ "6B 03000000 00 0E 000000 010203", CCID_PC_TO_RDR_ESCAPE },
	{ "6E 00000000 00 0F 01 0000", CCID_PC_TO_RDR_ICC_CLOCK },
	{ "6A 00000000 00 10 03 FF 00", CCID_PC_TO_RDR_T0APDU },
	{ "69 02000000 00 11 00 0000 0004", CCID_PC_TO_RDR_SECURE },
	{ "71 00000000 00 12 02 0000", CCID_PC_TO_RDR_MECHANICAL },
	{ "72 00000000 00 13 000000", CCID_PC_TO_RDR_ABORT },
	{ "73 08000000 00 14 000000 A00F0000 80250000", CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY },
	{ "80 02000000 00 0A 00 00 00 9000", CCID_RDR_TO_PC_DATA_BLOCK },
	{ "81 00000000 00 08 01 00 00", CCID_RDR_TO_PC_SLOT_STATUS },
	{ "82 07000000 00 0B 00 00 01 11 10 00 4D 00 20 00", CCID_RDR_TO_PC_PARAMETERS },
	{ "83 01000000 00 0E 00 00 00 AA", CCID_RDR_TO_PC_ESCAPE },
	{ "84 08000000 00 14 00 00 00 A00F0000 80250000", CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY },
};

#define NGOLDEN (sizeof(golden) / sizeof(golden[0]))

static uint8_t buf[CCID_MAX_MESSAGE_LENGTH + 16];

START_TEST(test_decode_golden)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	size_t n = tu_hex(golden[_i].hex, buf, sizeof(buf));
	int r = ccid_msg_decode(buf, n, &m, &diag);

	ck_assert_msg(r == 0, "vector %d (%s): %d at offset %zu, expected %s", _i,
		      ccid_msg_type_name(golden[_i].type), r, diag.offset, diag.expected);
	ck_assert_uint_eq(m.bMessageType, golden[_i].type);
	ck_assert_uint_eq(m.dwLength, n - CCID_HEADER_SIZE);
	ck_assert_uint_eq(m.bSlot, buf[5]);
	ck_assert_uint_eq(m.bSeq, buf[6]);
	if (m.dwLength)
		ck_assert_ptr_eq(m.abData, buf + CCID_HEADER_SIZE);
	ck_assert_int_eq(ccid_msg_total_length(buf, n), (ssize_t)n);
}
END_TEST

/* Encoding what was decoded gives back the same bytes. */
START_TEST(test_roundtrip_golden)
{
	struct ccid_msg m;
	uint8_t out[128];
	size_t n = tu_hex(golden[_i].hex, buf, sizeof(buf));

	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ck_assert_int_eq(ccid_msg_encode(&m, out, sizeof(out)), (ssize_t)n);
	ck_assert_mem_eq(out, buf, n);
	ck_assert_int_eq(ccid_msg_encode(&m, out, n - 1), -ENOBUFS);
}
END_TEST

/* Every truncation of every golden message is refused as truncated. */
START_TEST(test_truncation_golden)
{
	size_t n = tu_hex(golden[_i].hex, buf, sizeof(buf));

	for (size_t len = 0; len < n; len++) {
		struct ccid_msg m = { .bMessageType = 0x5A };
		struct ccid_diag diag = { .offset = 999 };
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, buf, len);
		ck_assert_int_eq(ccid_msg_decode(copy, len, &m, &diag), -ENODATA);
		ck_assert_uint_eq(diag.offset, len);
		ck_assert_ptr_nonnull(diag.expected);
		ck_assert_uint_eq(m.bMessageType, 0x5A); /* untouched on failure */
		free(copy);
	}
}
END_TEST

/* One byte more than dwLength announces is refused at the first extra byte. */
START_TEST(test_trailing_golden)
{
	size_t n = tu_hex(golden[_i].hex, buf, sizeof(buf));
	struct ccid_msg m;
	struct ccid_diag diag;

	buf[n] = 0x00;
	ck_assert_int_eq(ccid_msg_decode(buf, n + 1, &m, &diag), -EMSGSIZE);
	ck_assert_uint_eq(diag.offset, n);
}
END_TEST

START_TEST(test_encode_commands)
{
	static const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x00, 0x00 };
	static const uint8_t t1params[] = { 0x11, 0x10, 0x00, 0x4D, 0x00, 0x20, 0x00 };
	struct ccid_msg xfr = {
		.bMessageType = CCID_PC_TO_RDR_XFR_BLOCK, .dwLength = sizeof(apdu), .bSlot = 0,
		.bSeq = 0x0A, .xfr = { .bBWI = 4, .wLevelParameter = 0x0000 }, .abData = apdu,
	};
	struct ccid_msg pon = {
		.bMessageType = CCID_PC_TO_RDR_ICC_POWER_ON, .bSeq = 7,
		.power_on = { .bPowerSelect = CCID_POWER_5V },
	};
	struct ccid_msg setp = {
		.bMessageType = CCID_PC_TO_RDR_SET_PARAMETERS, .dwLength = 7, .bSeq = 0x0D,
		.set_params = { .bProtocolNum = CCID_PROTOCOL_T1 }, .abData = t1params,
	};
	struct ccid_msg chain = {
		.bMessageType = CCID_PC_TO_RDR_XFR_BLOCK, .bSeq = 0xFF,
		.xfr = { .wLevelParameter = CCID_CHAIN_EMPTY_NEXT },
	};
	uint8_t out[64], want[64];
	size_t n;

	n = tu_hex(golden[3].hex, want, sizeof(want));
	ck_assert_int_eq(ccid_msg_encode(&xfr, out, sizeof(out)), (ssize_t)n);
	ck_assert_mem_eq(out, want, n);
	n = tu_hex(golden[0].hex, want, sizeof(want));
	ck_assert_int_eq(ccid_msg_encode(&pon, out, sizeof(out)), (ssize_t)n);
	ck_assert_mem_eq(out, want, n);
	n = tu_hex(golden[6].hex, want, sizeof(want));
	ck_assert_int_eq(ccid_msg_encode(&setp, out, sizeof(out)), (ssize_t)n);
	ck_assert_mem_eq(out, want, n);
	/* wLevelParameter is little-endian in bytes 8..9. */
	n = tu_hex("6F 00000000 00 FF 00 1000", want, sizeof(want));
	ck_assert_int_eq(ccid_msg_encode(&chain, out, sizeof(out)), (ssize_t)n);
	ck_assert_mem_eq(out, want, n);
}
END_TEST

/* The encoder refuses what the decoder would refuse: no malformed command on the wire. */
START_TEST(test_encode_refuses_invalid)
{
	struct ccid_msg m = { .bMessageType = CCID_PC_TO_RDR_ICC_POWER_ON, .power_on = { 4 } };
	struct ccid_diag diag;
	uint8_t out[32];

	ck_assert_int_eq(ccid_msg_encode(&m, out, sizeof(out)), -EBADMSG);
	ck_assert_int_eq(ccid_msg_validate(&m, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 7);
	m = (struct ccid_msg){ .bMessageType = CCID_PC_TO_RDR_ICC_POWER_OFF, .dwLength = 1,
			       .abData = out };
	ck_assert_int_eq(ccid_msg_encode(&m, out, sizeof(out)), -EPROTO);
	m = (struct ccid_msg){ .bMessageType = CCID_PC_TO_RDR_XFR_BLOCK, .dwLength = 5 };
	ck_assert_int_eq(ccid_msg_validate(&m, NULL), -EINVAL); /* dwLength without abData */
	m = (struct ccid_msg){ .bMessageType = 0x64 };
	ck_assert_int_eq(ccid_msg_encode(&m, out, sizeof(out)), -EBADMSG);
	m = (struct ccid_msg){ .bMessageType = CCID_PC_TO_RDR_XFR_BLOCK,
			       .dwLength = CCID_MAX_DATA_LENGTH + 1, .abData = out };
	ck_assert_int_eq(ccid_msg_encode(&m, out, sizeof(out)), -EMSGSIZE);
	ck_assert_int_eq(ccid_msg_validate(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_response_fields)
{
	struct ccid_msg m;
	size_t n = tu_hex("80 05000000 00 2A 40 FE 00 0102030405", buf, sizeof(buf));

	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ck_assert_uint_eq(CCID_CMD_STATUS(m.rsp.bStatus), CCID_CMD_FAILED);
	ck_assert_uint_eq(CCID_ICC_STATUS(m.rsp.bStatus), CCID_ICC_ACTIVE);
	ck_assert_uint_eq(m.rsp.bError, CCID_ERR_ICC_MUTE);
	ck_assert_uint_eq(m.bSeq, 0x2A);

	/* Time extension: bError is the multiplier. */
	n = tu_hex("80 00000000 00 01 80 05 00", buf, sizeof(buf));
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ck_assert_uint_eq(CCID_CMD_STATUS(m.rsp.bStatus), CCID_CMD_TIME_EXTENSION);
	ck_assert_uint_eq(m.rsp.bError, 5);

	/* A failed Parameters answer may carry no structure. */
	n = tu_hex("82 00000000 00 01 41 07 01", buf, sizeof(buf));
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	/* Empty DataBlock asking for the next command part. */
	n = tu_hex("80 00000000 00 01 00 00 10", buf, sizeof(buf));
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ck_assert_uint_eq(m.rsp.b9, CCID_CHAIN_EMPTY_NEXT);
	ck_assert_ptr_null(m.abData);
}
END_TEST

/* A malformed message and the (offset, error) a decoder must give. */
static const struct bad {
	const char *hex;
	int err;
	size_t offset;
} bad[] = {
	/* unknown types, including the interrupt ones and the gaps */
	{ "64 00000000 00 00 000000", -EBADMSG, 0 },
	{ "00 00000000 00 00 000000", -EBADMSG, 0 },
	{ "50 00000000 00 00 000000", -EBADMSG, 0 },
	{ "85 00000000 00 00 000000", -EBADMSG, 0 },
	{ "70 00000000 00 00 000000", -EBADMSG, 0 },
	/* dwLength beyond any buffer, and one past the limit */
	{ "6F FFFFFFFF 00 00 000000", -EMSGSIZE, 1 },
	{ "6F 09000100 00 00 000000", -EMSGSIZE, 1 },
	/* fixed dwLength of commands without data */
	{ "62 01000000 00 00 010000 00", -EPROTO, 1 },
	{ "63 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "65 02000000 00 00 000000 0000", -EPROTO, 1 },
	{ "6C 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "6D 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "72 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "71 01000000 00 00 020000 00", -EPROTO, 1 },
	{ "6E 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "6A 01000000 00 00 000000 00", -EPROTO, 1 },
	{ "73 07000000 00 00 000000 00000000000000", -EPROTO, 1 },
	{ "69 00000000 00 00 000000", -EPROTO, 1 },
	/* reserved values in commands: each reported at its offset */
	{ "62 00000000 00 00 04 0000", -EBADMSG, 7 },
	{ "62 00000000 00 00 01 0100", -EBADMSG, 8 },
	{ "62 00000000 00 00 01 0001", -EBADMSG, 9 },
	{ "63 00000000 00 00 010000", -EBADMSG, 7 },
	{ "65 00000000 00 00 000100", -EBADMSG, 8 },
	{ "65 00000000 00 00 000001", -EBADMSG, 9 },
	{ "6C 00000000 00 00 800000", -EBADMSG, 7 },
	{ "6D 00000000 00 00 000080", -EBADMSG, 9 },
	{ "72 00000000 00 00 010000", -EBADMSG, 7 },
	{ "6B 00000000 00 00 000100", -EBADMSG, 8 },
	{ "6E 00000000 00 00 02 0000", -EBADMSG, 7 },
	{ "6E 00000000 00 00 00 0100", -EBADMSG, 8 },
	{ "6A 00000000 00 00 04 0000", -EBADMSG, 7 },
	{ "71 00000000 00 00 00 0000", -EBADMSG, 7 },
	{ "71 00000000 00 00 06 0000", -EBADMSG, 7 },
	{ "71 00000000 00 00 02 0100", -EBADMSG, 8 },
	{ "73 08000000 00 00 010000 A00F0000 80250000", -EBADMSG, 7 },
	{ "69 01000000 00 00 00 0000 07", -EBADMSG, 10 },
	/* SetParameters: protocol, length by protocol, structure values */
	{ "61 05000000 00 00 02 0000 1100000A00", -EBADMSG, 7 },
	{ "61 07000000 00 00 00 0000 11100000 4D0020", -EPROTO, 1 },
	{ "61 05000000 00 00 01 0000 1110004D00", -EPROTO, 1 },
	{ "61 05000000 00 00 00 0100 1100000A00", -EBADMSG, 8 },
	{ "61 05000000 00 00 00 0000 1101000A00", -EBADMSG, 11 },
	{ "61 05000000 00 00 00 0000 1100000A04", -EBADMSG, 14 },
	{ "61 07000000 00 00 01 0000 11 00 00 4D 00 20 00", -EBADMSG, 11 },
	{ "61 07000000 00 00 01 0000 11 10 00 AD 00 20 00", -EBADMSG, 13 },
	{ "61 07000000 00 00 01 0000 11 10 00 4D 04 20 00", -EBADMSG, 14 },
	{ "61 07000000 00 00 01 0000 11 10 00 4D 00 00 00", -EBADMSG, 15 },
	{ "61 07000000 00 00 01 0000 11 10 00 4D 00 FF 00", -EBADMSG, 15 },
	/* responses: RFU status values, lengths, chain and clock values */
	{ "81 00000000 00 00 03 00 00", -EBADMSG, 7 },
	{ "81 00000000 00 00 C0 00 00", -EBADMSG, 7 },
	{ "81 00000000 00 00 04 00 00", -EBADMSG, 7 },
	{ "81 01000000 00 00 00 00 00 00", -EPROTO, 1 },
	{ "81 00000000 00 00 00 00 04", -EBADMSG, 9 },
	{ "80 00000000 00 00 00 00 04", -EBADMSG, 9 },
	{ "80 00000000 00 00 00 00 11", -EBADMSG, 9 },
	{ "80 01000000 00 00 00 00 10 00", -EPROTO, 1 },
	{ "82 05000000 00 00 00 00 01 1110004D00", -EPROTO, 1 },
	{ "82 07000000 00 00 00 00 00 1100000A000000", -EPROTO, 1 },
	{ "82 00000000 00 00 00 00 02", -EBADMSG, 9 },
	{ "84 04000000 00 00 00 00 00 A00F0000", -EPROTO, 1 },
};

#define NBAD (sizeof(bad) / sizeof(bad[0]))

START_TEST(test_malformed)
{
	struct ccid_msg m;
	struct ccid_diag diag = { 0 };
	size_t n = tu_hex(bad[_i].hex, buf, sizeof(buf));
	int r = ccid_msg_decode(buf, n, &m, &diag);

	ck_assert_msg(r == bad[_i].err, "vector %d (%s): got %d, want %d", _i, bad[_i].hex, r,
		      bad[_i].err);
	ck_assert_msg(diag.offset == bad[_i].offset, "vector %d (%s): offset %zu, want %zu (%s)", _i,
		      bad[_i].hex, diag.offset, bad[_i].offset, diag.expected);
	ck_assert_ptr_nonnull(diag.expected);
}
END_TEST

/* The largest legal message decodes; the header alone asks for the rest. */
START_TEST(test_limits)
{
	struct ccid_msg m;
	size_t n = CCID_MAX_MESSAGE_LENGTH;

	memset(buf, 0x5A, sizeof(buf));
	buf[0] = CCID_PC_TO_RDR_XFR_BLOCK;
	buf[1] = (uint8_t)CCID_MAX_DATA_LENGTH;
	buf[2] = (uint8_t)(CCID_MAX_DATA_LENGTH >> 8);
	buf[3] = (uint8_t)(CCID_MAX_DATA_LENGTH >> 16);
	buf[4] = 0;
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ck_assert_uint_eq(m.dwLength, CCID_MAX_DATA_LENGTH);
	ck_assert_int_eq(ccid_msg_total_length(buf, CCID_HEADER_SIZE), (ssize_t)n);
	ck_assert_int_eq(ccid_msg_total_length(buf, CCID_HEADER_SIZE - 1), -ENODATA);
	buf[1]++;
	ck_assert_int_eq(ccid_msg_total_length(buf, CCID_HEADER_SIZE), -EMSGSIZE);
	ck_assert_int_eq(ccid_msg_decode(buf, n + 1, &m, NULL), -EMSGSIZE);
	ck_assert_int_eq(ccid_msg_decode(NULL, 10, &m, NULL), -EINVAL);
	ck_assert_int_eq(ccid_msg_decode(buf, 10, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_response_types)
{
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_ICC_POWER_ON), CCID_RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_SECURE), CCID_RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_MECHANICAL), CCID_RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_ABORT), CCID_RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_SET_PARAMETERS), CCID_RDR_TO_PC_PARAMETERS);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_ESCAPE), CCID_RDR_TO_PC_ESCAPE);
	ck_assert_uint_eq(ccid_response_type(CCID_PC_TO_RDR_SET_DATA_RATE_AND_CLOCK_FREQUENCY),
			  CCID_RDR_TO_PC_DATA_RATE_AND_CLOCK_FREQUENCY);
	ck_assert_uint_eq(ccid_response_type(CCID_RDR_TO_PC_DATA_BLOCK), 0);
	for (unsigned t = 0; t < 256; t++) {
		ck_assert(!(ccid_is_command((uint8_t)t) && ccid_is_response((uint8_t)t)));
		if (ccid_is_command((uint8_t)t) || ccid_is_response((uint8_t)t))
			ck_assert_ptr_nonnull(ccid_msg_type_name((uint8_t)t));
		if (ccid_is_command((uint8_t)t))
			ck_assert(ccid_is_response(ccid_response_type((uint8_t)t)));
	}
}
END_TEST

START_TEST(test_error_names)
{
	ck_assert_str_eq(ccid_error_name(0xFE), "ICC_MUTE");
	ck_assert_str_eq(ccid_error_name(0xE0), "CMD_SLOT_BUSY");
	ck_assert_str_eq(ccid_error_name(0xFF), "CMD_ABORTED");
	ck_assert_str_eq(ccid_error_name(0x00), "CMD_NOT_SUPPORTED");
	ck_assert_str_eq(ccid_error_name(0x05), "BAD_PARAMETER");
	ck_assert_str_eq(ccid_error_name(0x7F), "BAD_PARAMETER");
	ck_assert_str_eq(ccid_error_name(0xA2), "VENDOR");
	ck_assert_str_eq(ccid_error_name(0xFA), "RFU");
	ck_assert_str_eq(ccid_error_name(0x80), "RFU");
	for (unsigned e = 0; e < 256; e++) {
		ck_assert_ptr_nonnull(ccid_error_name((uint8_t)e));
		ck_assert_ptr_nonnull(ccid_error_explain((uint8_t)e));
	}
	ck_assert_str_eq(ccid_icc_status_name(CCID_ICC_ABSENT), "no ICC present");
	ck_assert_str_eq(ccid_cmd_status_name(CCID_CMD_TIME_EXTENSION), "time extension requested");
	ck_assert_str_eq(ccid_icc_status_name(3), "RFU");
}
END_TEST

struct collect {
	char names[64][40];
	char texts[64][CCID_FIELD_TEXT_MAX];
	size_t offsets[64];
	int n;
};

static void collect(void *ctx, const struct ccid_field *f)
{
	struct collect *c = ctx;

	if (c->n >= 64)
		return;
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", f->name);
	snprintf(c->texts[c->n], sizeof(c->texts[0]), "%s", f->text);
	c->offsets[c->n] = f->offset;
	c->n++;
}

static int find(const struct collect *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], name))
			return i;
	return -1;
}

START_TEST(test_describe)
{
	struct ccid_msg m;
	struct collect c = { .n = 0 };
	size_t n = tu_hex(golden[0].hex, buf, sizeof(buf));
	int i;

	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ccid_msg_describe(&m, collect, &c);
	ck_assert_int_ge(i = find(&c, "bMessageType"), 0);
	ck_assert_str_eq(c.texts[i], "PC_to_RDR_IccPowerOn");
	ck_assert_int_ge(i = find(&c, "bPowerSelect"), 0);
	ck_assert_str_eq(c.texts[i], "5.0 V");
	ck_assert_uint_eq(c.offsets[i], 7);

	memset(&c, 0, sizeof(c));
	n = tu_hex("80 00000000 00 2A 42 FE 00", buf, sizeof(buf));
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ccid_msg_describe(&m, collect, &c);
	ck_assert_int_ge(i = find(&c, "bmICCStatus"), 0);
	ck_assert_str_eq(c.texts[i], "no ICC present");
	ck_assert_int_ge(i = find(&c, "bError"), 0);
	ck_assert_ptr_nonnull(strstr(c.texts[i], "ICC_MUTE"));

	memset(&c, 0, sizeof(c));
	n = tu_hex(golden[6].hex, buf, sizeof(buf));
	ck_assert_int_eq(ccid_msg_decode(buf, n, &m, NULL), 0);
	ccid_msg_describe(&m, collect, &c);
	ck_assert_int_ge(i = find(&c, "bWaitingIntegersT1"), 0);
	ck_assert_str_eq(c.texts[i], "BWI = 4, CWI = 13");
	ck_assert_uint_eq(c.offsets[i], 13);
	ck_assert_int_ge(i = find(&c, "bmFindexDindex"), 0);
	ck_assert_str_eq(c.texts[i], "Fi=372 Di=1 (F/D = 372)");
}
END_TEST

/* ---- interrupt messages ---- */

START_TEST(test_notify_slot_counts)
{
	static const unsigned counts[] = { 1, 2, 3, 4, 5, 8, 9, 255, 256 };

	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		unsigned ns = counts[k];
		struct ccid_intr_msg m = { .bMessageType = CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE,
					   .notify = { .nslots = ns } };
		struct ccid_intr_msg d;
		uint8_t out[CCID_NOTIFY_MAX_LEN + 1];
		ssize_t len;

		for (unsigned s = 0; s < ns; s++)
			ccid_notify_set(&m, s, s % 3 == 0, s % 2 == 1);
		len = ccid_intr_encode(&m, out, sizeof(out));
		ck_assert_int_eq(len, (ssize_t)(1 + (2 * ns + 7) / 8));
		ck_assert_int_eq(ccid_intr_decode(out, (size_t)len, ns, &d, NULL), 0);
		for (unsigned s = 0; s < ns; s++) {
			ck_assert(ccid_notify_present(&d, s) == (s % 3 == 0));
			ck_assert(ccid_notify_changed(&d, s) == (s % 2 == 1));
		}
		ck_assert(!ccid_notify_present(&d, ns));
		/* one byte short and one byte long */
		ck_assert_int_eq(ccid_intr_decode(out, (size_t)len - 1, ns, &d, NULL), -ENODATA);
		out[len] = 0;
		ck_assert_int_eq(ccid_intr_decode(out, (size_t)len + 1, ns, &d, NULL), -EMSGSIZE);
	}
}
END_TEST

START_TEST(test_notify_vectors)
{
	struct ccid_intr_msg m;
	uint8_t b[8];
	size_t n;

	n = tu_hex("50 03", b, sizeof(b)); /* single slot: inserted */
	ck_assert_int_eq(ccid_intr_decode(b, n, 1, &m, NULL), 0);
	ck_assert(ccid_notify_present(&m, 0) && ccid_notify_changed(&m, 0));
	n = tu_hex("50 02", b, sizeof(b)); /* removed */
	ck_assert_int_eq(ccid_intr_decode(b, n, 1, &m, NULL), 0);
	ck_assert(!ccid_notify_present(&m, 0) && ccid_notify_changed(&m, 0));
	/* 5 slots: slot 4 lives in the second byte, bits 0..1 */
	n = tu_hex("50 81 03", b, sizeof(b));
	ck_assert_int_eq(ccid_intr_decode(b, n, 5, &m, NULL), 0);
	ck_assert(ccid_notify_present(&m, 0) && !ccid_notify_changed(&m, 0));
	ck_assert(!ccid_notify_present(&m, 3) && ccid_notify_changed(&m, 3));
	ck_assert(ccid_notify_present(&m, 4) && ccid_notify_changed(&m, 4));
	/* slot count unknown: taken from the length */
	ck_assert_int_eq(ccid_intr_decode(b, n, 0, &m, NULL), 0);
	ck_assert_uint_eq(m.notify.nslots, 8);
	ck_assert_int_eq(ccid_intr_decode(b, 1, 0, &m, NULL), -ENODATA);
	ck_assert_int_eq(ccid_intr_decode(b, 0, 1, &m, NULL), -ENODATA);
	ck_assert_int_eq(ccid_intr_decode(b, n, 257, &m, NULL), -EINVAL);
}
END_TEST

START_TEST(test_hardware_error)
{
	struct ccid_intr_msg m, d;
	struct ccid_diag diag;
	uint8_t b[8];
	size_t n = tu_hex("51 00 07 01", b, sizeof(b));

	ck_assert_int_eq(ccid_intr_decode(b, n, 1, &m, NULL), 0);
	ck_assert_uint_eq(m.hw_error.bSeq, 7);
	ck_assert_uint_eq(m.hw_error.bHardwareErrorCode, CCID_HW_ERROR_OVERCURRENT);
	ck_assert_int_eq(ccid_intr_encode(&m, b, sizeof(b)), 4);
	ck_assert_int_eq(ccid_intr_decode(b, 4, 0, &d, NULL), 0);
	ck_assert_mem_eq(&d.hw_error, &m.hw_error, sizeof(m.hw_error));
	for (size_t len = 0; len < 4; len++)
		ck_assert_int_eq(ccid_intr_decode(b, len, 1, &m, NULL), -ENODATA);
	ck_assert_int_eq(ccid_intr_decode(b, 5, 1, &m, NULL), -EMSGSIZE);
	b[1] = 1; /* slot 1 of a one-slot reader */
	ck_assert_int_eq(ccid_intr_decode(b, 4, 1, &m, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 1);
	b[0] = 0x52;
	ck_assert_int_eq(ccid_intr_decode(b, 4, 1, &m, &diag), -EBADMSG);
	ck_assert_uint_eq(diag.offset, 0);
	ck_assert_int_eq(ccid_intr_encode(&m, b, 3), -ENOBUFS);
	m.bMessageType = 0x80;
	ck_assert_int_eq(ccid_intr_encode(&m, b, sizeof(b)), -EINVAL);
}
END_TEST

static Suite *message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode_golden, 0, NGOLDEN);
	tcase_add_test(tc, test_response_fields);
	tcase_add_test(tc, test_response_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_loop_test(tc, test_roundtrip_golden, 0, NGOLDEN);
	tcase_add_test(tc, test_encode_commands);
	tcase_add_test(tc, test_encode_refuses_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_truncation_golden, 0, NGOLDEN);
	tcase_add_loop_test(tc, test_trailing_golden, 0, NGOLDEN);
	tcase_add_loop_test(tc, test_malformed, 0, NBAD);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, test_error_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);

	tc = tcase_create("interrupt");
	tcase_add_test(tc, test_notify_slot_counts);
	tcase_add_test(tc, test_notify_vectors);
	tcase_add_test(tc, test_hardware_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(message_suite());
}
