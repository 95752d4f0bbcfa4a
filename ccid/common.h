/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conventions shared by every part of the pure CCID / ISO 7816 codec: how a
 * decoder says what was wrong with its input, and how a decoded object is
 * walked field by field so that tools can explain it (text or JSON) without
 * knowing its layout.
 *
 * Error returns (negative errno), the same in every module:
 *   -EINVAL    the caller passed a bad argument (NULL, impossible option)
 *   -ENODATA   the input ends before the structure does (truncated)
 *   -EMSGSIZE  the input is longer than the structure allows, or a length
 *              field announces more than any buffer may hold
 *   -EBADMSG   a field holds a value the specification forbids (wrong type,
 *              reserved value, bad convention byte)
 *   -EPROTO    fields disagree with each other (length fields, checksums)
 *   -ENOBUFS   an encoder's output buffer is too small
 * Decoders never read outside (buf, len) and never allocate.
 */
#ifndef CCID_COMMON_H
#define CCID_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libuccid exports what this header declares, and nothing else (-fvisibility=hidden) */
#pragma GCC visibility push(default)

/*
 * Where and why a decoder refused its input.  Every decoder takes an optional
 * struct ccid_diag * (may be NULL) and fills it only on failure.  "expected"
 * is a static string naming what the byte at "offset" should have been.
 */
struct ccid_diag {
	size_t offset;
	const char *expected;
};

/* Record a failure in diag (may be NULL) and return err (negative). */
static inline int ccid_fail(struct ccid_diag *diag, size_t offset, const char *expected, int err)
{
	if (diag) {
		diag->offset = offset;
		diag->expected = expected;
	}
	return err;
}

/*
 * A decoded structure is described as a flat sequence of fields.  Values
 * carry the byte offset and size they came from; FLAG entries belong to the
 * VALUE before them (one per set bit or sub-field); DERIVED entries are
 * computed (offset CCID_FIELD_NO_OFFSET); BYTES entries point at raw bytes of
 * the input; SECTION entries start a named group (an ATR interface-byte
 * group, one USB descriptor inside a configuration).
 */
enum ccid_field_kind {
	CCID_FIELD_SECTION,
	CCID_FIELD_VALUE,
	CCID_FIELD_FLAG,
	CCID_FIELD_BYTES,
	CCID_FIELD_DERIVED,
};

#define CCID_FIELD_NO_OFFSET ((size_t)-1)
#define CCID_FIELD_TEXT_MAX 160

struct ccid_field {
	enum ccid_field_kind kind;
	const char *name;               /* spec spelling, e.g. "dwMaxCCIDMessageLength" */
	size_t offset;                  /* in the input, or CCID_FIELD_NO_OFFSET */
	size_t size;                    /* bytes covered in the input (0 if derived) */
	uint64_t value;                 /* VALUE/FLAG/DERIVED: the number */
	const uint8_t *bytes;           /* BYTES: the raw bytes (inside the input) */
	size_t nbytes;
	char text[CCID_FIELD_TEXT_MAX]; /* one-line explanation, may be empty */
};

/* Receives each field in order; the field is only valid during the call. */
typedef void (*ccid_emit_fn)(void *ctx, const struct ccid_field *field);

/* T=1 error detection code (ISO 7816-3 §11.4.4), chosen by the first TCi after T=1. */
enum ccid_edc {
	CCID_EDC_LRC = 0,
	CCID_EDC_CRC = 1,
};

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
