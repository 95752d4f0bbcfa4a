/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building and emitting struct ccid_field for the describe walkers. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccid/field.h"

static void __attribute__((format(printf, 4, 0)))
emit_v(ccid_emit_fn emit, void *ctx, struct ccid_field *f, const char *fmt, va_list ap)
{
	if (fmt)
		vsnprintf(f->text, sizeof(f->text), fmt, ap);
	emit(ctx, f);
}

void ccid_emit(ccid_emit_fn emit, void *ctx, enum ccid_field_kind kind, const char *name,
	       size_t offset, size_t size, uint64_t value, const char *fmt, ...)
{
	struct ccid_field f = {
		.kind = kind,
		.name = name,
		.offset = offset,
		.size = size,
		.value = value,
	};
	va_list ap;

	if (!emit)
		return;
	va_start(ap, fmt);
	emit_v(emit, ctx, &f, fmt, ap);
	va_end(ap);
}

void ccid_emit_bytes(ccid_emit_fn emit, void *ctx, const char *name, size_t offset,
		     const uint8_t *bytes, size_t n, const char *fmt, ...)
{
	struct ccid_field f = {
		.kind = CCID_FIELD_BYTES,
		.name = name,
		.offset = offset,
		.size = n,
		.bytes = bytes,
		.nbytes = n,
	};
	va_list ap;

	if (!emit)
		return;
	va_start(ap, fmt);
	emit_v(emit, ctx, &f, fmt, ap);
	va_end(ap);
}
