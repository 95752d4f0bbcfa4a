/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The value of one hex digit, for every parser of hex a person wrote (the
 * tool's hex input, suite patterns, reader names, test vectors): '0'-'9',
 * 'a'-'f' and 'A'-'F' give 0..15, anything else -1, so that the caller
 * refuses it with its position.  By explicit ranges, not <ctype.h>: the
 * answer does not depend on the locale or on the sign of char.  Header-only,
 * no state: any layer may include it.
 */
#ifndef UCCID_UTIL_HEX_H
#define UCCID_UTIL_HEX_H

static inline int uccid_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
