/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal helpers for the describe walkers: build a struct ccid_field and
 * hand it to the caller's emit function.  Not installed.
 */
#ifndef CCID_FIELD_H
#define CCID_FIELD_H

#include "ccid/common.h"

#if defined(__GNUC__)
#define CCID_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CCID_PRINTF(a, b)
#endif

/* Emit one field; fmt may be NULL for no explanation. */
void ccid_emit(ccid_emit_fn emit, void *ctx, enum ccid_field_kind kind, const char *name,
	       size_t offset, size_t size, uint64_t value, const char *fmt, ...) CCID_PRINTF(8, 9);

/* Emit a BYTES field pointing at raw input bytes. */
void ccid_emit_bytes(ccid_emit_fn emit, void *ctx, const char *name, size_t offset,
		     const uint8_t *bytes, size_t n, const char *fmt, ...) CCID_PRINTF(7, 8);

#endif
