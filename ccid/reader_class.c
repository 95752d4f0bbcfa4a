/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reader classes (reader_class.h): one function decides, from the
 * interface protocol and the class descriptor, how a reader must be driven
 * or which field makes it unusable.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ccid/reader_class.h"
#include "ccid/usb_desc.h"

const char *ccid_reader_class_name(enum ccid_reader_class cls)
{
	switch (cls) {
	case CCID_RC_EXCHANGE: return "exchange";
	case CCID_RC_ICCD_A: return "iccd-a";
	case CCID_RC_ICCD_B: return "iccd-b";
	case CCID_RC_CHARACTER: return "character";
	case CCID_RC_MALFORMED: return "malformed";
	default: return "unknown";
	}
}

/* The value of a field the validator named, for the message. */
static uint32_t field_value(const struct ccid_class_desc *d, const char *field)
{
	static const struct { const char *name; size_t off, size; } map[] = {
#define F(n) { #n, offsetof(struct ccid_class_desc, n), sizeof(((struct ccid_class_desc *)0)->n) }
		F(bLength), F(bDescriptorType), F(bcdCCID), F(bMaxSlotIndex), F(bVoltageSupport),
		F(dwProtocols), F(dwDefaultClock), F(dwMaximumClock), F(bNumClockSupported), F(dwDataRate),
		F(dwMaxDataRate), F(bNumDataRatesSupported), F(dwMaxIFSD), F(dwSynchProtocols),
		F(dwMechanical), F(dwFeatures), F(dwMaxCCIDMessageLength), F(bClassGetResponse),
		F(bClassEnvelope), F(wLcdLayout), F(bPINSupport), F(bMaxCCIDBusySlots),
#undef F
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const uint8_t *p = (const uint8_t *)d + map[i].off;

		if (strcmp(map[i].name, field))
			continue;
		switch (map[i].size) {
		case 1: return *p;
		case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
		default: { uint32_t v; memcpy(&v, p, 4); return v; }
		}
	}
	return 0;
}

/* The validator's first error, kept with its text. */
struct first_error {
	const char *field;
	char text[120];
};

static void on_finding(void *ctx, enum ccid_severity sev, const char *field, size_t off, const char *text)
{
	struct first_error *fe = ctx;

	(void)off;
	if (sev != CCID_SEV_ERROR || fe->field)
		return;
	fe->field = field;
	snprintf(fe->text, sizeof(fe->text), "%s", text);
}

int ccid_reader_classify(uint8_t bInterfaceProtocol, const struct ccid_class_desc *d,
			 struct ccid_reader_verdict *ret)
{
	struct ccid_reader_verdict v = { .field = "" };
	struct first_error fe = { 0 };

	if (!d || !ret)
		return -EINVAL;
	v.level = ccid_class_desc_level(d);
	/* ICCD §4.3: the interface protocol says how the token is driven, whatever dwFeatures says */
	if (bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_A || bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_B) {
		v.cls = bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_A ? CCID_RC_ICCD_A : CCID_RC_ICCD_B;
		v.field = "bInterfaceProtocol";
		snprintf(v.reason, sizeof(v.reason), "bInterfaceProtocol %u: an ICCD version %c token (ICCD §4.3)",
			 bInterfaceProtocol, bInterfaceProtocol == CCID_USB_PROTOCOL_ICCD_A ? 'A' : 'B');
		goto out;
	}
	if (bInterfaceProtocol != CCID_USB_PROTOCOL_CCID) {
		v.cls = CCID_RC_MALFORMED;
		v.field = "bInterfaceProtocol";
		snprintf(v.reason, sizeof(v.reason), "bInterfaceProtocol %u is neither CCID (0) nor ICCD (1, 2) "
			 "(CCID §4.3)", bInterfaceProtocol);
		goto out;
	}
	if (ccid_class_desc_validate(d, on_finding, &fe, NULL) < 0 && fe.field) {
		v.cls = CCID_RC_MALFORMED;
		v.field = fe.field;
		snprintf(v.reason, sizeof(v.reason), fe.field[0] == 'd' ? "%s %08X: %s (CCID §5.1)"
			 : "%s %02X: %s (CCID §5.1)", fe.field, (unsigned)field_value(d, fe.field), fe.text);
		goto out;
	}
	if (v.level == CCID_LEVEL_CHARACTER) {
		v.cls = CCID_RC_CHARACTER;
		v.field = "dwFeatures";
		snprintf(v.reason, sizeof(v.reason), "dwFeatures %08X: character-level exchange (CCID §5.1, §6.1.4)",
			 (unsigned)d->dwFeatures);
		goto out;
	}
	/* CCID §5.1: a T=0 or T=1 bit; without one no card can be powered up and exchanged with */
	if (!(d->dwProtocols & (CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1))) {
		v.cls = CCID_RC_MALFORMED;
		v.field = "dwProtocols";
		snprintf(v.reason, sizeof(v.reason), "dwProtocols %08X offers neither T=0 nor T=1 (CCID §5.1)",
			 (unsigned)d->dwProtocols);
		goto out;
	}
	v.cls = CCID_RC_EXCHANGE;
out:
	*ret = v;
	return 0;
}
