/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Known structural faults of readers in the field, each named, with the
 * readers and firmware it was seen on (tests/data/readers/, the decoded
 * descriptors of 691 readers), the rule it breaks, and what the session does
 * about it.  Detection is by the fault itself, not by VID/PID, so a reader
 * with the same fault and an unknown ID is handled too; the names appear in
 * uccid_info().quirks and in uccid info.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "session/session_priv.h"

struct quirk {
	const char *name;
	bool (*applies)(const struct uccid_reader *r, bool class_last, bool vendor_class);
	const char *what;
};

/*
 * bMaxCCIDBusySlots 0 (CCID §5.1 requires at least 1): Feitian SCR310
 * (096e:0505, firmware 2.05), TOPPAN FORMS TC63CUT021 (23eb:0003, 2.29),
 * AF Care One AFC0/AFC1 (1c34:afc0/afc1, 1.08).  One slot at a time is used.
 */
static bool busy_zero(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)cl, (void)vc;
	return r->desc.bMaxCCIDBusySlots == 0;
}

/*
 * bMaxCCIDBusySlots above the slot count: SpringCard E518/H518/SpringCore
 * (6012, 6112, 611A, 6122, 612A firmware) declare 5 for fewer slots.  At
 * most every slot is busy.
 */
static bool busy_over(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)cl, (void)vc;
	return r->desc.bMaxCCIDBusySlots > r->desc.bMaxSlotIndex + 1u;
}

/*
 * dwMaxIFSD above 254 (ISO 7816-3 §11.4.2: IFS is 1..254): ACS ACR1581
 * (072f:2301, 1.05), ACR1552U (072f:2303, 1.00) declare 506; Access IS
 * ATR220 (0db5:0184, 0.18) 1024.  IFSD 254 is announced.
 */
static bool ifsd_over(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)cl, (void)vc;
	return (r->desc.dwProtocols & CCID_PROTOCOLS_T1) && r->desc.dwMaxIFSD > 254;
}

/*
 * dwMaxCCIDMessageLength beyond the largest CCID message (65544 + 10):
 * Precise 200 MC (08c3:0406, 2E.3D) declares 524288.  65554 is used.
 */
static bool msg_over(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)cl, (void)vc;
	return r->desc.dwMaxCCIDMessageLength > CCID_MAX_MESSAGE_LENGTH;
}

/*
 * An APDU-level reader whose dwMaxCCIDMessageLength cannot hold a short
 * APDU (271): Elatec TWN4 (09d8:0427, 0428, 2.00), Gnuk (234b:0000, 2.00),
 * some FIDO keys declare 64.  Longer APDUs are refused with -EINVAL before
 * anything is sent, rather than cut.
 */
static bool msg_small(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)cl, (void)vc;
	return (r->level == CCID_LEVEL_SHORT_APDU || r->level == CCID_LEVEL_EXTENDED_APDU)
	       && r->desc.dwMaxCCIDMessageLength < CCID_HEADER_SIZE + 261;
}

/*
 * The class descriptor after the last endpoint instead of before the first
 * (CCID §5.1): O2Micro OZ776 (0b97:7762, 7772).  Found where it is.
 */
static bool class_last(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)r, (void)vc;
	return cl;
}

/*
 * Pre-standard readers with interface class FF and the 54-byte class
 * descriptor (type FF in some): Gemalto e-Seal Pro, Dell SK-3106,
 * VeriSign tokens.  Used as CCID.
 */
static bool vendor_class(const struct uccid_reader *r, bool cl, bool vc)
{
	(void)r, (void)cl;
	return vc;
}

static const struct quirk quirks[] = {
	{ "busy-slots-zero", busy_zero, "bMaxCCIDBusySlots 0: one slot at a time" },
	{ "busy-slots-above-slots", busy_over, "bMaxCCIDBusySlots above the slot count: at most every slot" },
	{ "ifsd-above-254", ifsd_over, "dwMaxIFSD above 254: IFSD 254 announced" },
	{ "message-length-above-max", msg_over, "dwMaxCCIDMessageLength above 65554: 65554 used" },
	{ "message-length-below-short-apdu", msg_small,
	  "dwMaxCCIDMessageLength below 271 at APDU level: longer APDUs refused" },
	{ "class-descriptor-last", class_last, "class descriptor after the endpoints" },
	{ "vendor-class", vendor_class, "interface class FF with a CCID class descriptor" },
};

void uccid_apply_quirks(struct uccid_reader *r, bool class_after_endpoint, bool vendor)
{
	r->quirks[0] = 0;
	for (size_t i = 0; i < sizeof(quirks) / sizeof(quirks[0]); i++) {
		size_t used = strlen(r->quirks);

		if (!quirks[i].applies(r, class_after_endpoint, vendor))
			continue;
		snprintf(r->quirks + used, sizeof(r->quirks) - used, "%s%s", used ? "," : "", quirks[i].name);
		uccid_log(r, UCCID_LOG_INFO, "quirk %s: %s", quirks[i].name, quirks[i].what);
	}
}
