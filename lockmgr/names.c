/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names for the lock manager's values as the tool prints and parses them
 * (uccid unlock --disposition leave|reset|unpower|eject), and the rule that
 * turns a reader identity or a program name into something safe to put in a
 * file name or a record.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "lockmgr/lockmgr_priv.h"

static const char *const disposition_names[] = {
	[LOCKMGR_LEAVE] = "leave",
	[LOCKMGR_RESET] = "reset",
	[LOCKMGR_UNPOWER] = "unpower",
	[LOCKMGR_EJECT] = "eject",
};

static const char *const done_names[] = {
	[LOCKMGR_DONE_NOTHING] = "nothing",
	[LOCKMGR_DONE_RESET] = "reset",
	[LOCKMGR_DONE_UNPOWERED] = "unpowered",
	[LOCKMGR_DONE_EJECTED] = "ejected",
	[LOCKMGR_DONE_LATCHED] = "latched",
};

const char *lockmgr_disposition_name(enum lockmgr_disposition d)
{
	if (!lm_valid_disposition(d))
		return NULL;
	return disposition_names[d];
}

int lockmgr_disposition_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned d = LOCKMGR_LEAVE; d <= LOCKMGR_EJECT; d++)
		if (!strcmp(name, disposition_names[d]))
			return (int)d;
	return -EINVAL;
}

const char *lockmgr_done_name(enum lockmgr_done done)
{
	if ((unsigned)done > LOCKMGR_DONE_LATCHED)
		return NULL;
	return done_names[done];
}

/*
 * Keep letters, digits and "._+-"; everything else (slashes, colons, spaces,
 * control bytes) becomes '_'.  A leading '.' becomes '_' too, so the result
 * is never a hidden file, "." or "..".  Cut to outlen - 1 bytes.
 */
void lm_sanitise(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *in && n + 1 < outlen; in++, n++) {
		char c = *in;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '_' || c == '+' || c == '-' || (c == '.' && n > 0);

		out[n] = keep ? c : '_';
	}
	out[n] = '\0';
}
