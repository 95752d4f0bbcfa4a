/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the IFD handler's configuration (ifd/config.c): the
 * input up to its first NUL is an Info.plist's text, each later
 * NUL-separated part the value of one of the environment variables that
 * override it (UCCID_IFD_LOGLEVEL, UCCID_IFD_OPTIONS, UCCID_IFD_DEADLINE_MS,
 * UCCID_IFD_POWER_DEADLINE_MS, LIBCCID_ifdLogLevel).  Properties: whatever
 * the text, only known bits are kept and deadlines stay 0 (the default) or
 * within their limits; a bad value leaves the one before it.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifd/ifd_priv.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vars[] = { "UCCID_IFD_LOGLEVEL", "UCCID_IFD_OPTIONS", "UCCID_IFD_DEADLINE_MS",
				    "UCCID_IFD_POWER_DEADLINE_MS", "LIBCCID_ifdLogLevel" };

static void check(const struct ifd_config *c)
{
	FUZZ_ASSERT(!(c->log_mask & ~(uint32_t)IFD_LOGLEVEL_KNOWN));
	FUZZ_ASSERT(!(c->options & ~(uint32_t)IFD_OPTION_KNOWN));
	FUZZ_ASSERT(c->deadline_ms == 0 || (c->deadline_ms >= 100 && c->deadline_ms <= 600000));
	FUZZ_ASSERT(c->power_deadline_ms == 0 || (c->power_deadline_ms >= 100 && c->power_deadline_ms <= 600000));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ifd_config c = { .log_mask = IFD_LOGLEVEL_DEFAULT };
	char *text = malloc(size + 1);
	size_t off;

	if (!text)
		return 0;
	/* the handler's own log lines (bad values) go nowhere: only the result is checked */
	ifd_config.log_mask = 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ifd_config_parse(&c, text);
	check(&c);
	off = strlen(text) + 1;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (off <= size) {
			setenv(vars[i], text + off, 1);
			off += strlen(text + off) + 1;
		} else {
			unsetenv(vars[i]);
		}
	}
	ifd_config_env(&c);
	check(&c);
	free(text);
	return 0;
}
