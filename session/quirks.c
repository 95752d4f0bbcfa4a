/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Known structural faults of readers in the field, each named, with the
 * readers and firmware it was seen on (tests/data/readers/, the decoded
 * descriptors of 691 readers), the rule it breaks, and what the session does
 * about it.  Detection is by the fault itself, not by VID/PID, so a reader
 * with the same fault and an unknown ID is handled too; the names appear in
 * uccid_info().quirks and in uccid info.  PIN-pad firmware faults are the
 * exception: nothing in a descriptor shows them, so they are known by
 * VID:PID (pin_quirks[]).
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

/*
 * PIN pads whose firmware takes PC_to_RDR_Secure only in a form of its own,
 * known by VID:PID (the faults are in firmware, not in the descriptor), as
 * libccid's commands.c and ifdhandler.c carry them; the PIN sizes and entry
 * conditions are what those readers report through PC/SC part 10.
 */
struct pin_quirk {
	const char *name;
	uint16_t vid, pid;              /* pid 0: every reader of vid with a PIN pad */
	uint32_t flags;                 /* UCCID_PINQ_* */
	uint8_t min, max, validation;   /* 0: not known */
	const char *what;
};

static const struct pin_quirk pin_quirks[] = {
	/* Gemalto GemPC Pinpad (08e6:3478, tests/data/readers/GemPCPinpad.txt, v1.00): rejects bNumberMessage
	   00 and FF in a verify and the max-size and time-out conditions; wants bMsgIndex2/3 in a modify */
	{ "pinpad-gempc", 0x08E6, 0x3478,
	  UCCID_PINQ_VERIFY_ONE_MESSAGE | UCCID_PINQ_VALIDATION_KEY_ONLY | UCCID_PINQ_MODIFY_INDEXES_KEPT, 4, 8,
	  0x02, "GemPC Pinpad: one message, OK key only, three bMsgIndex in a modify" },
	/* Covadis Vega-Alpha (0982:0008, Vega-Alpha.txt): Gemalto firmware, the same faults */
	{ "pinpad-vega-alpha", 0x0982, 0x0008,
	  UCCID_PINQ_VERIFY_ONE_MESSAGE | UCCID_PINQ_VALIDATION_KEY_ONLY | UCCID_PINQ_MODIFY_INDEXES_KEPT, 4, 8,
	  0x02, "Vega-Alpha (Gemalto firmware): one message, OK key only, three bMsgIndex in a modify" },
	/* other Gemalto PIN pads: bMsgIndex2/3 in every modify unless the firmware says it is fixed */
	{ "pinpad-gemalto-modify", 0x08E6, 0, UCCID_PINQ_MODIFY_INDEXES_KEPT, 0, 0, 0,
	  "Gemalto PIN pad: three bMsgIndex in a modify" },
	/* Dell smart-card keyboards SCRK (413c:2101, DellSCRK.txt) and SK-3106 (413c:2100, DellSK-3106.txt):
	   bNumberMessage 00 only, and a verify sent while the Enter key that started it is still down is
	   refused: 250 ms for it to come up; the SK-3106 also reads wPINMaxExtraDigit byte-swapped */
	{ "pinpad-dell-scrk", 0x413C, 0x2101, UCCID_PINQ_NO_MESSAGE | UCCID_PINQ_KEY_RELEASE, 0, 0, 0,
	  "Dell SCRK: no messages, 250 ms before a verify" },
	{ "pinpad-dell-sk3106", 0x413C, 0x2100,
	  UCCID_PINQ_NO_MESSAGE | UCCID_PINQ_SWAPPED_DIGITS | UCCID_PINQ_KEY_RELEASE, 0, 0, 0,
	  "Dell SK-3106: no messages, wPINMaxExtraDigit swapped, 250 ms before a verify" },
	/* SCM SPR532 (04e6:e003, SPR532.txt): no display, but a modify must carry all three bMsgIndex with
	   bNumberMessage 00; a case-1 verify without PIN block needs Escape 80 02 00 to append the PIN */
	{ "pinpad-spr532", 0x04E6, 0xE003, UCCID_PINQ_MODIFY_ALL_INDEXES | UCCID_PINQ_APPEND_ESCAPE, 0, 0, 0,
	  "SPR532: three bMsgIndex with bNumberMessage 00 in a modify; Escape 80 02 00 before a case-1 verify" },
	/* Cherry SmartTerminal ST-2xxx (046a:003e, CherrySmartTerminalST2XXX.txt): as the SPR532 in a modify */
	{ "pinpad-cherry-st2000", 0x046A, 0x003E, UCCID_PINQ_MODIFY_ALL_INDEXES, 0, 25, 0x02,
	  "Cherry ST-2000: three bMsgIndex with bNumberMessage 00 in a modify" },
	/* Cherry XX44 (046a:0010, CherryXX44.txt): a modify with bNumberMessage below 3 makes the card see 6B80 */
	{ "pinpad-cherry-xx44", 0x046A, 0x0010, UCCID_PINQ_MODIFY_THREE_MESSAGES, 0, 0, 0,
	  "Cherry XX44: bNumberMessage 03 in a modify" },
	/* Cherry KC 1000 SC (046a:00a1, Cherry_KC_1000_SC.txt): refuses bNumberMessage 00 in a modify */
	{ "pinpad-cherry-kc1000sc", 0x046A, 0x00A1, UCCID_PINQ_MODIFY_NO_ZERO_MESSAGES, 0, 32, 0,
	  "Cherry KC 1000 SC: bNumberMessage FF for 00 in a modify" },
	/* HID Omnikey 3821 (076b:3821, CardMan3821.txt): PINs of 1..31 digits */
	{ "pinpad-omnikey-3821", 0x076B, 0x3821, 0, 1, 31, 0, "Omnikey 3821: PINs of 1 to 31 digits" },
};

static void apply_pin_quirks(struct uccid_reader *r)
{
	uint16_t vid = r->t->info.idVendor, pid = r->t->info.idProduct;

	r->pin_quirks = 0;
	r->pin_min = r->pin_max = 0;
	r->pin_validation = 0x07;       /* any condition, unless the reader is known to refuse some */
	if (!r->desc.bPINSupport)
		return;
	for (size_t i = 0; i < sizeof(pin_quirks) / sizeof(pin_quirks[0]); i++) {
		const struct pin_quirk *q = &pin_quirks[i];
		size_t used = strlen(r->quirks);

		if (q->vid != vid || (q->pid && q->pid != pid))
			continue;
		r->pin_quirks = q->flags;
		r->pin_min = q->min;
		r->pin_max = q->max;
		if (q->validation)
			r->pin_validation = q->validation;
		snprintf(r->quirks + used, sizeof(r->quirks) - used, "%s%s", used ? "," : "", q->name);
		uccid_log(r, UCCID_LOG_INFO, "quirk %s: %s", q->name, q->what);
		return;                 /* the first entry that names the reader */
	}
}

/*
 * Readers that declare TPDU (dwFeatures) and work at short-APDU level — the
 * firmware runs T=0/T=1 and PPS itself, for EMV terminals — after a vendor
 * Escape, known by VID:PID as libccid knows them (ccid_open_hack_post,
 * DRIVER_OPTION_GEMPC_TWIN_KEY_APDU).  Switched only when the caller asks
 * (uccid_options.vendor_apdu_mode): the declared level works too.
 */
static const struct uccid_vendor_mode vendor_modes[] = {
	{ "apdu-mode-gempc-twin", 0x08E6, 0x3437, { 0x1F, 0x02 }, "GemPC Twin: Escape 1F 02, then short APDUs" },
	{ "apdu-mode-gempc-key", 0x08E6, 0x3438, { 0x1F, 0x02 }, "GemPC Key: Escape 1F 02, then short APDUs" },
};

const struct uccid_vendor_mode *uccid_vendor_apdu_mode(const struct uccid_reader *r)
{
	for (size_t i = 0; i < sizeof(vendor_modes) / sizeof(vendor_modes[0]); i++)
		if (vendor_modes[i].vid == r->t->info.idVendor && vendor_modes[i].pid == r->t->info.idProduct)
			return &vendor_modes[i];
	return NULL;
}

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
	apply_pin_quirks(r);
}
