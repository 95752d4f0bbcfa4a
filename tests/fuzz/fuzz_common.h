/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the fuzz harnesses: an emit function that touches every byte a field points at. */
#ifndef UCCID_FUZZ_COMMON_H
#define UCCID_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "ccid/common.h"

static volatile size_t fuzz_sink;

static inline void fuzz_emit(void *ctx, const struct ccid_field *f)
{
	(void)ctx;
	fuzz_sink += strlen(f->text) + strlen(f->name) + (size_t)f->value;
	for (size_t i = 0; i < f->nbytes; i++)
		fuzz_sink += f->bytes[i];
	if (strlen(f->text) >= CCID_FIELD_TEXT_MAX)
		abort();
}

#define FUZZ_ASSERT(cond) do { if (!(cond)) abort(); } while (0)

#endif
