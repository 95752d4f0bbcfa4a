/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Meanings of the status words SW1 SW2 that end every response APDU
 * (ISO/IEC 7816-4 §5.6, tables 5 and 6), for people reading a trace.
 */
#include "config.h"

#include <stdio.h>

#include "ccid/sw.h"

struct sw_text {
	uint16_t sw, mask;
	const char *text;
};

/* Most specific first: an exact SW before the SW1 family it belongs to. */
static const struct sw_text table[] = {
	{ 0x9000, 0xFFFF, "success" },
	{ 0x6200, 0xFFFF, "warning: no information given, non-volatile memory unchanged" },
	{ 0x6281, 0xFFFF, "warning: part of the returned data may be corrupted" },
	{ 0x6282, 0xFFFF, "warning: end of file or record reached before Ne bytes" },
	{ 0x6283, 0xFFFF, "warning: selected file deactivated" },
	{ 0x6284, 0xFFFF, "warning: file control information not formatted" },
	{ 0x6300, 0xFFFF, "warning: no information given, non-volatile memory changed" },
	{ 0x6381, 0xFFFF, "warning: file filled up by the last write" },
	{ 0x6400, 0xFFFF, "execution error, non-volatile memory unchanged" },
	{ 0x6581, 0xFFFF, "execution error: memory failure" },
	{ 0x6700, 0xFFFF, "wrong length" },
	{ 0x6881, 0xFFFF, "logical channel not supported" },
	{ 0x6882, 0xFFFF, "secure messaging not supported" },
	{ 0x6883, 0xFFFF, "last command of the chain expected" },
	{ 0x6884, 0xFFFF, "command chaining not supported" },
	{ 0x6981, 0xFFFF, "command incompatible with file structure" },
	{ 0x6982, 0xFFFF, "security status not satisfied" },
	{ 0x6983, 0xFFFF, "authentication method blocked" },
	{ 0x6984, 0xFFFF, "reference data not usable" },
	{ 0x6985, 0xFFFF, "conditions of use not satisfied" },
	{ 0x6986, 0xFFFF, "command not allowed (no current EF)" },
	{ 0x6987, 0xFFFF, "expected secure messaging data objects missing" },
	{ 0x6988, 0xFFFF, "incorrect secure messaging data objects" },
	{ 0x6A80, 0xFFFF, "incorrect parameters in the data field" },
	{ 0x6A81, 0xFFFF, "function not supported" },
	{ 0x6A82, 0xFFFF, "file or application not found" },
	{ 0x6A83, 0xFFFF, "record not found" },
	{ 0x6A84, 0xFFFF, "not enough memory space in the file" },
	{ 0x6A86, 0xFFFF, "incorrect parameters P1-P2" },
	{ 0x6A88, 0xFFFF, "referenced data or reference data not found" },
	{ 0x6B00, 0xFFFF, "wrong parameters P1-P2 (offset outside the EF)" },
	{ 0x6D00, 0xFFFF, "instruction code not supported or invalid" },
	{ 0x6E00, 0xFFFF, "class not supported" },
	{ 0x6F00, 0xFFFF, "no precise diagnosis" },
	{ 0x6200, 0xFF00, "warning, non-volatile memory unchanged" },
	{ 0x6300, 0xFF00, "warning, non-volatile memory changed" },
	{ 0x6400, 0xFF00, "execution error, non-volatile memory unchanged" },
	{ 0x6500, 0xFF00, "execution error, non-volatile memory changed" },
	{ 0x6600, 0xFF00, "security-related issue" },
	{ 0x6800, 0xFF00, "functions in CLA not supported" },
	{ 0x6900, 0xFF00, "command not allowed" },
	{ 0x6A00, 0xFF00, "wrong parameters P1-P2" },
	{ 0x9000, 0xF000, "proprietary status (9xxx)" },
};

const char *ccid_sw_explain(uint16_t sw, char *buf, size_t cap)
{
	/* the families that carry a number in SW2 (ISO 7816-4 §5.6) */
	if ((sw & 0xFF00) == 0x6100) {
		snprintf(buf, cap, "success; %u more bytes available (GET RESPONSE)", sw & 0xFF ? sw & 0xFFu : 256u);
		return buf;
	}
	if ((sw & 0xFF00) == 0x6C00) {
		snprintf(buf, cap, "wrong Le; the exact length is %u", sw & 0xFFu);
		return buf;
	}
	if ((sw & 0xFFF0) == 0x63C0) {
		snprintf(buf, cap, "verification failed; %u tries left", sw & 0x0Fu);
		return buf;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if ((sw & table[i].mask) == table[i].sw) {
			snprintf(buf, cap, "%s", table[i].text);
			return buf;
		}
	}
	snprintf(buf, cap, "unknown status");
	return buf;
}
