/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CCID class descriptor (CCID 1.1 §5.1): parse, encode, validate and
 * describe.  Offsets are those of table 5.1-1.  Validation separates what
 * makes a reader unusable from the faults real readers ship with (see
 * tests/data/readers), which the driver clamps.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/class_desc.h"
#include "ccid/field.h"
#include "ccid/message.h"

enum {
	OFF_bLength = 0,
	OFF_bDescriptorType = 1,
	OFF_bcdCCID = 2,
	OFF_bMaxSlotIndex = 4,
	OFF_bVoltageSupport = 5,
	OFF_dwProtocols = 6,
	OFF_dwDefaultClock = 10,
	OFF_dwMaximumClock = 14,
	OFF_bNumClockSupported = 18,
	OFF_dwDataRate = 19,
	OFF_dwMaxDataRate = 23,
	OFF_bNumDataRatesSupported = 27,
	OFF_dwMaxIFSD = 28,
	OFF_dwSynchProtocols = 32,
	OFF_dwMechanical = 36,
	OFF_dwFeatures = 40,
	OFF_dwMaxCCIDMessageLength = 44,
	OFF_bClassGetResponse = 48,
	OFF_bClassEnvelope = 49,
	OFF_wLcdLayout = 50,
	OFF_bPINSupport = 52,
	OFF_bMaxCCIDBusySlots = 53,
};

_Static_assert(OFF_bMaxCCIDBusySlots + 1 == CCID_CLASS_DESC_LEN, "class descriptor layout");

int ccid_class_desc_parse(const uint8_t *b, size_t len, struct ccid_class_desc *ret,
			  struct ccid_diag *diag)
{
	struct ccid_class_desc d;

	if (!b || !ret)
		return ccid_fail(diag, 0, "a class descriptor", -EINVAL);
	if (len < CCID_CLASS_DESC_LEN)
		return ccid_fail(diag, len, "54 bytes of class descriptor", -ENODATA);
	if (len > CCID_CLASS_DESC_LEN)
		return ccid_fail(diag, CCID_CLASS_DESC_LEN, "the end of the 54-byte class descriptor",
				 -EMSGSIZE);
	if (b[OFF_bLength] != CCID_CLASS_DESC_LEN)
		return ccid_fail(diag, OFF_bLength, "bLength 36 (54 bytes)", -EPROTO);

	d.bLength = b[OFF_bLength];
	d.bDescriptorType = b[OFF_bDescriptorType];
	d.bcdCCID = get_le16(b + OFF_bcdCCID);
	d.bMaxSlotIndex = b[OFF_bMaxSlotIndex];
	d.bVoltageSupport = b[OFF_bVoltageSupport];
	d.dwProtocols = get_le32(b + OFF_dwProtocols);
	d.dwDefaultClock = get_le32(b + OFF_dwDefaultClock);
	d.dwMaximumClock = get_le32(b + OFF_dwMaximumClock);
	d.bNumClockSupported = b[OFF_bNumClockSupported];
	d.dwDataRate = get_le32(b + OFF_dwDataRate);
	d.dwMaxDataRate = get_le32(b + OFF_dwMaxDataRate);
	d.bNumDataRatesSupported = b[OFF_bNumDataRatesSupported];
	d.dwMaxIFSD = get_le32(b + OFF_dwMaxIFSD);
	d.dwSynchProtocols = get_le32(b + OFF_dwSynchProtocols);
	d.dwMechanical = get_le32(b + OFF_dwMechanical);
	d.dwFeatures = get_le32(b + OFF_dwFeatures);
	d.dwMaxCCIDMessageLength = get_le32(b + OFF_dwMaxCCIDMessageLength);
	d.bClassGetResponse = b[OFF_bClassGetResponse];
	d.bClassEnvelope = b[OFF_bClassEnvelope];
	d.wLcdLayout = get_le16(b + OFF_wLcdLayout);
	d.bPINSupport = b[OFF_bPINSupport];
	d.bMaxCCIDBusySlots = b[OFF_bMaxCCIDBusySlots];
	*ret = d;
	return 0;
}

ssize_t ccid_class_desc_encode(const struct ccid_class_desc *d, uint8_t *b, size_t cap)
{
	if (!d)
		return -EINVAL;
	if (!b || cap < CCID_CLASS_DESC_LEN)
		return -ENOBUFS;
	b[OFF_bLength] = CCID_CLASS_DESC_LEN;
	b[OFF_bDescriptorType] = d->bDescriptorType;
	put_le16(b + OFF_bcdCCID, d->bcdCCID);
	b[OFF_bMaxSlotIndex] = d->bMaxSlotIndex;
	b[OFF_bVoltageSupport] = d->bVoltageSupport;
	put_le32(b + OFF_dwProtocols, d->dwProtocols);
	put_le32(b + OFF_dwDefaultClock, d->dwDefaultClock);
	put_le32(b + OFF_dwMaximumClock, d->dwMaximumClock);
	b[OFF_bNumClockSupported] = d->bNumClockSupported;
	put_le32(b + OFF_dwDataRate, d->dwDataRate);
	put_le32(b + OFF_dwMaxDataRate, d->dwMaxDataRate);
	b[OFF_bNumDataRatesSupported] = d->bNumDataRatesSupported;
	put_le32(b + OFF_dwMaxIFSD, d->dwMaxIFSD);
	put_le32(b + OFF_dwSynchProtocols, d->dwSynchProtocols);
	put_le32(b + OFF_dwMechanical, d->dwMechanical);
	put_le32(b + OFF_dwFeatures, d->dwFeatures);
	put_le32(b + OFF_dwMaxCCIDMessageLength, d->dwMaxCCIDMessageLength);
	b[OFF_bClassGetResponse] = d->bClassGetResponse;
	b[OFF_bClassEnvelope] = d->bClassEnvelope;
	put_le16(b + OFF_wLcdLayout, d->wLcdLayout);
	b[OFF_bPINSupport] = d->bPINSupport;
	b[OFF_bMaxCCIDBusySlots] = d->bMaxCCIDBusySlots;
	return CCID_CLASS_DESC_LEN;
}

enum ccid_exchange_level ccid_class_desc_level(const struct ccid_class_desc *d)
{
	switch (d->dwFeatures & CCID_FEAT_LEVEL_MASK) {
	case CCID_FEAT_LEVEL_TPDU: return CCID_LEVEL_TPDU;
	case CCID_FEAT_LEVEL_SHORT_APDU: return CCID_LEVEL_SHORT_APDU;
	case CCID_FEAT_LEVEL_EXT_APDU: return CCID_LEVEL_EXTENDED_APDU;
	default: return CCID_LEVEL_CHARACTER;
	}
}

const char *ccid_exchange_level_name(enum ccid_exchange_level level)
{
	switch (level) {
	case CCID_LEVEL_TPDU: return "TPDU";
	case CCID_LEVEL_SHORT_APDU: return "short APDU";
	case CCID_LEVEL_EXTENDED_APDU: return "short and extended APDU";
	default: return "character";
	}
}

uint32_t ccid_class_desc_max_message(const struct ccid_class_desc *d)
{
	if (d->dwMaxCCIDMessageLength < CCID_HEADER_SIZE + 1)
		return CCID_HEADER_SIZE + 1;
	if (d->dwMaxCCIDMessageLength > CCID_MAX_MESSAGE_LENGTH)
		return CCID_MAX_MESSAGE_LENGTH;
	return d->dwMaxCCIDMessageLength;
}

unsigned ccid_class_desc_busy_slots(const struct ccid_class_desc *d)
{
	unsigned nslots = d->bMaxSlotIndex + 1u;

	if (d->bMaxCCIDBusySlots == 0)
		return 1;
	return d->bMaxCCIDBusySlots > nslots ? nslots : d->bMaxCCIDBusySlots;
}

struct findings {
	ccid_finding_fn fn;
	void *ctx;
	int count;
	bool error;
	struct ccid_diag *diag;
};

static void finding(struct findings *f, enum ccid_severity sev, const char *field, size_t offset,
		    const char *fmt, ...) CCID_PRINTF(5, 6);

static void finding(struct findings *f, enum ccid_severity sev, const char *field, size_t offset,
		    const char *fmt, ...)
{
	char text[CCID_FIELD_TEXT_MAX];
	va_list ap;

	if (sev == CCID_SEV_ERROR && !f->error) {
		f->error = true;
		/* diag->expected must be static: the field name is. */
		ccid_fail(f->diag, offset, field, -EBADMSG);
	}
	f->count++;
	if (!f->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	f->fn(f->ctx, sev, field, offset, text);
}

int ccid_class_desc_validate(const struct ccid_class_desc *d, ccid_finding_fn fn, void *ctx,
			     struct ccid_diag *diag)
{
	struct findings f = { .fn = fn, .ctx = ctx, .diag = diag };
	uint32_t level, lvl_bits;
	unsigned nslots;

	if (!d)
		return ccid_fail(diag, 0, "a class descriptor", -EINVAL);
	nslots = d->bMaxSlotIndex + 1u;

	if (d->bDescriptorType == CCID_CLASS_DESC_TYPE_VENDOR)
		finding(&f, CCID_SEV_NOTE, "bDescriptorType", OFF_bDescriptorType,
			"proprietary descriptor type FF instead of 21 (vendor-class reader)");
	else if (d->bDescriptorType != CCID_CLASS_DESC_TYPE)
		finding(&f, CCID_SEV_ERROR, "bDescriptorType", OFF_bDescriptorType,
			"descriptor type %02X is not the CCID class descriptor (21)", d->bDescriptorType);

	/* §5.1: dwFeatures announces exactly one exchange level. */
	lvl_bits = d->dwFeatures & CCID_FEAT_LEVEL_MASK;
	if (lvl_bits & (lvl_bits - 1))
		finding(&f, CCID_SEV_ERROR, "dwFeatures", OFF_dwFeatures,
			"more than one exchange level announced (%08X)", lvl_bits);
	if (d->dwMaxCCIDMessageLength < CCID_HEADER_SIZE + 1)
		finding(&f, CCID_SEV_ERROR, "dwMaxCCIDMessageLength", OFF_dwMaxCCIDMessageLength,
			"%u bytes cannot hold a message header and one byte",
			(unsigned)d->dwMaxCCIDMessageLength);
	else if (d->dwMaxCCIDMessageLength > CCID_MAX_MESSAGE_LENGTH)
		finding(&f, CCID_SEV_WARNING, "dwMaxCCIDMessageLength", OFF_dwMaxCCIDMessageLength,
			"%u bytes is beyond the largest CCID message (65554); 65554 is used",
			(unsigned)d->dwMaxCCIDMessageLength);

	level = d->dwFeatures & CCID_FEAT_LEVEL_MASK;
	if ((level == CCID_FEAT_LEVEL_SHORT_APDU || level == CCID_FEAT_LEVEL_EXT_APDU)
	    && d->dwMaxCCIDMessageLength >= CCID_HEADER_SIZE + 1
	    && d->dwMaxCCIDMessageLength < CCID_HEADER_SIZE + 261)
		finding(&f, CCID_SEV_WARNING, "dwMaxCCIDMessageLength", OFF_dwMaxCCIDMessageLength,
			"%u bytes is too small for a short APDU at APDU level (271 needed)",
			(unsigned)d->dwMaxCCIDMessageLength);
	else if (level == CCID_FEAT_LEVEL_TPDU && d->dwMaxCCIDMessageLength >= CCID_HEADER_SIZE + 1
		 && d->dwMaxCCIDMessageLength < CCID_HEADER_SIZE + 261)
		finding(&f, CCID_SEV_NOTE, "dwMaxCCIDMessageLength", OFF_dwMaxCCIDMessageLength,
			"%u bytes limits TPDUs (T=0 data and T=1 blocks are shortened)",
			(unsigned)d->dwMaxCCIDMessageLength);

	if (d->bMaxCCIDBusySlots == 0)
		finding(&f, CCID_SEV_WARNING, "bMaxCCIDBusySlots", OFF_bMaxCCIDBusySlots,
			"0 busy slots; 1 is used");
	else if (d->bMaxCCIDBusySlots > nslots)
		finding(&f, CCID_SEV_WARNING, "bMaxCCIDBusySlots", OFF_bMaxCCIDBusySlots,
			"%u busy slots for %u slots; %u is used", d->bMaxCCIDBusySlots, nslots, nslots);

	if (!(d->dwProtocols & (CCID_PROTOCOLS_T0 | CCID_PROTOCOLS_T1)) && !d->dwSynchProtocols)
		finding(&f, CCID_SEV_WARNING, "dwProtocols", OFF_dwProtocols,
			"neither T=0 nor T=1 nor a synchronous protocol is supported");
	if (d->dwProtocols & 0xFFFF0000u)
		finding(&f, CCID_SEV_NOTE, "dwProtocols", OFF_dwProtocols, "RFU bits set (%08X)",
			(unsigned)d->dwProtocols);
	if (d->bVoltageSupport == 0)
		finding(&f, CCID_SEV_WARNING, "bVoltageSupport", OFF_bVoltageSupport,
			"no voltage announced; automatic selection is used");
	else if (d->bVoltageSupport & ~0x07)
		finding(&f, CCID_SEV_NOTE, "bVoltageSupport", OFF_bVoltageSupport, "RFU bits set (%02X)",
			d->bVoltageSupport);
	if (d->dwDefaultClock > d->dwMaximumClock)
		finding(&f, CCID_SEV_WARNING, "dwDefaultClock", OFF_dwDefaultClock,
			"default clock %u kHz above the maximum %u kHz", (unsigned)d->dwDefaultClock,
			(unsigned)d->dwMaximumClock);
	if (d->dwDataRate > d->dwMaxDataRate)
		finding(&f, CCID_SEV_WARNING, "dwDataRate", OFF_dwDataRate,
			"default rate %u bps above the maximum %u bps", (unsigned)d->dwDataRate,
			(unsigned)d->dwMaxDataRate);
	if ((d->dwProtocols & CCID_PROTOCOLS_T1) && (d->dwMaxIFSD == 0 || d->dwMaxIFSD > 254))
		finding(&f, CCID_SEV_WARNING, "dwMaxIFSD", OFF_dwMaxIFSD,
			"IFSD %u is outside 1..254 (ISO 7816-3 §11.4.2); 254 is used",
			(unsigned)d->dwMaxIFSD);
	if ((d->dwFeatures & CCID_FEAT_AUTO_PPS_PROP) && (d->dwFeatures & CCID_FEAT_AUTO_PPS_CUR))
		finding(&f, CCID_SEV_NOTE, "dwFeatures", OFF_dwFeatures,
			"both automatic PPS variants (40 and 80) announced; 40 (proprietary) wins");
	if (d->dwFeatures & ~0x00170FFEu)
		finding(&f, CCID_SEV_NOTE, "dwFeatures", OFF_dwFeatures, "RFU bits set (%08X)",
			(unsigned)(d->dwFeatures & ~0x00170FFEu));
	if (d->bPINSupport & ~0x03)
		finding(&f, CCID_SEV_NOTE, "bPINSupport", OFF_bPINSupport, "RFU bits set (%02X)",
			d->bPINSupport);
	if (d->dwMechanical & ~0x0Fu)
		finding(&f, CCID_SEV_NOTE, "dwMechanical", OFF_dwMechanical, "RFU bits set (%08X)",
			(unsigned)d->dwMechanical);

	return f.error ? -EBADMSG : f.count;
}

/* ---- describe ---- */

static void flag(ccid_emit_fn emit, void *ctx, const char *name, size_t off, size_t size,
		 uint32_t bit, const char *text)
{
	ccid_emit(emit, ctx, CCID_FIELD_FLAG, name, off, size, bit, "%s", text);
}

struct bit_name {
	uint32_t bit;
	const char *text;
};

static void flags(ccid_emit_fn emit, void *ctx, const char *name, size_t off, size_t size, uint32_t v,
		  const struct bit_name *names, size_t n)
{
	uint32_t known = 0;

	for (size_t i = 0; i < n; i++) {
		known |= names[i].bit;
		if (v & names[i].bit)
			flag(emit, ctx, name, off, size, names[i].bit, names[i].text);
	}
	if (v & ~known)
		ccid_emit(emit, ctx, CCID_FIELD_FLAG, name, off, size, v & ~known, "RFU bits %08X",
			  (unsigned)(v & ~known));
}

static const struct bit_name voltage_names[] = {
	{ CCID_VOLTAGE_5V, "5.0 V" },
	{ CCID_VOLTAGE_3V, "3.0 V" },
	{ CCID_VOLTAGE_1V8, "1.8 V" },
};

static const struct bit_name protocol_names[] = {
	{ CCID_PROTOCOLS_T0, "T=0" },
	{ CCID_PROTOCOLS_T1, "T=1" },
};

static const struct bit_name synch_names[] = {
	{ 0x01, "2-wire protocol" },
	{ 0x02, "3-wire protocol" },
	{ 0x04, "I2C protocol" },
};

static const struct bit_name mechanical_names[] = {
	{ CCID_MECHANICAL_ACCEPT, "card accept mechanism" },
	{ CCID_MECHANICAL_EJECT, "card ejection mechanism" },
	{ CCID_MECHANICAL_CAPTURE, "card capture mechanism" },
	{ CCID_MECHANICAL_LOCK, "card lock/unlock mechanism" },
};

static const struct bit_name feature_names[] = {
	{ CCID_FEAT_AUTO_CONF_ATR, "automatic parameter configuration based on ATR data" },
	{ CCID_FEAT_AUTO_ACTIVATION, "automatic activation of ICC on inserting" },
	{ CCID_FEAT_AUTO_VOLTAGE, "automatic ICC voltage selection" },
	{ CCID_FEAT_AUTO_CLOCK, "automatic ICC clock frequency change according to parameters" },
	{ CCID_FEAT_AUTO_BAUD, "automatic baud rate change according to frequency and Fi, Di" },
	{ CCID_FEAT_AUTO_PPS_PROP, "automatic parameters negotiation made by the CCID (proprietary)" },
	{ CCID_FEAT_AUTO_PPS_CUR, "automatic PPS made by the CCID according to the current parameters" },
	{ CCID_FEAT_CLOCK_STOP, "CCID can set ICC in clock stop mode" },
	{ CCID_FEAT_NAD, "NAD value other than 00 accepted (T=1)" },
	{ CCID_FEAT_AUTO_IFSD, "automatic IFSD exchange as first exchange (T=1)" },
	{ CCID_FEAT_ICCD_TOKEN, "ICCD token" },
	{ CCID_FEAT_LEVEL_TPDU, "TPDU level exchange" },
	{ CCID_FEAT_LEVEL_SHORT_APDU, "short APDU level exchange" },
	{ CCID_FEAT_LEVEL_EXT_APDU, "short and extended APDU level exchange" },
	{ CCID_FEAT_REMOTE_WAKEUP, "USB wake up signaling supported on card insertion and removal" },
};

static const struct bit_name pin_names[] = {
	{ CCID_PIN_VERIFY, "PIN verification" },
	{ CCID_PIN_MODIFY, "PIN modification" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void value(ccid_emit_fn emit, void *ctx, const char *name, size_t off, size_t size, uint64_t v,
		  const char *fmt, ...) CCID_PRINTF(7, 8);

static void value(ccid_emit_fn emit, void *ctx, const char *name, size_t off, size_t size, uint64_t v,
		  const char *fmt, ...)
{
	char text[CCID_FIELD_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ccid_emit(emit, ctx, CCID_FIELD_VALUE, name, off, size, v, "%s", text);
}

static const char *class_byte_text(uint8_t v)
{
	return v == 0xFF ? "echo the class byte of the APDU" : "class byte used by the reader";
}

void ccid_class_desc_describe(const struct ccid_class_desc *d, ccid_emit_fn emit, void *ctx)
{
	value(emit, ctx, "bLength", OFF_bLength, 1, d->bLength, "%u bytes", d->bLength);
	value(emit, ctx, "bDescriptorType", OFF_bDescriptorType, 1, d->bDescriptorType, "%s",
	      d->bDescriptorType == CCID_CLASS_DESC_TYPE	  ? "CCID class descriptor"
	      : d->bDescriptorType == CCID_CLASS_DESC_TYPE_VENDOR ? "proprietary (vendor class)"
								  : "not a CCID class descriptor");
	value(emit, ctx, "bcdCCID", OFF_bcdCCID, 2, d->bcdCCID, "CCID release %x.%02x", d->bcdCCID >> 8,
	      d->bcdCCID & 0xFF);
	value(emit, ctx, "bMaxSlotIndex", OFF_bMaxSlotIndex, 1, d->bMaxSlotIndex, "%u slot%s",
	      d->bMaxSlotIndex + 1u, d->bMaxSlotIndex ? "s" : "");
	value(emit, ctx, "bVoltageSupport", OFF_bVoltageSupport, 1, d->bVoltageSupport, "voltages");
	flags(emit, ctx, "bVoltageSupport", OFF_bVoltageSupport, 1, d->bVoltageSupport, voltage_names,
	      N(voltage_names));
	value(emit, ctx, "dwProtocols", OFF_dwProtocols, 4, d->dwProtocols, "protocols");
	flags(emit, ctx, "dwProtocols", OFF_dwProtocols, 4, d->dwProtocols, protocol_names,
	      N(protocol_names));
	value(emit, ctx, "dwDefaultClock", OFF_dwDefaultClock, 4, d->dwDefaultClock, "%u.%03u MHz",
	      (unsigned)(d->dwDefaultClock / 1000), (unsigned)(d->dwDefaultClock % 1000));
	value(emit, ctx, "dwMaximumClock", OFF_dwMaximumClock, 4, d->dwMaximumClock, "%u.%03u MHz",
	      (unsigned)(d->dwMaximumClock / 1000), (unsigned)(d->dwMaximumClock % 1000));
	value(emit, ctx, "bNumClockSupported", OFF_bNumClockSupported, 1, d->bNumClockSupported, "%s",
	      d->bNumClockSupported ? "clock frequencies listed by GET_CLOCK_FREQUENCIES"
				    : "default and maximum clock only, or whatever GET_CLOCK_FREQUENCIES returns");
	value(emit, ctx, "dwDataRate", OFF_dwDataRate, 4, d->dwDataRate, "%u bps",
	      (unsigned)d->dwDataRate);
	value(emit, ctx, "dwMaxDataRate", OFF_dwMaxDataRate, 4, d->dwMaxDataRate, "%u bps",
	      (unsigned)d->dwMaxDataRate);
	value(emit, ctx, "bNumDataRatesSupported", OFF_bNumDataRatesSupported, 1,
	      d->bNumDataRatesSupported, "%s",
	      d->bNumDataRatesSupported ? "data rates listed by GET_DATA_RATES"
					: "any rate between default and maximum");
	value(emit, ctx, "dwMaxIFSD", OFF_dwMaxIFSD, 4, d->dwMaxIFSD, "largest T=1 block the reader accepts: %u bytes",
	      (unsigned)d->dwMaxIFSD);
	value(emit, ctx, "dwSynchProtocols", OFF_dwSynchProtocols, 4, d->dwSynchProtocols, "%s",
	      d->dwSynchProtocols ? "synchronous protocols" : "no synchronous protocol");
	flags(emit, ctx, "dwSynchProtocols", OFF_dwSynchProtocols, 4, d->dwSynchProtocols, synch_names,
	      N(synch_names));
	value(emit, ctx, "dwMechanical", OFF_dwMechanical, 4, d->dwMechanical, "%s",
	      d->dwMechanical ? "mechanical characteristics" : "no special characteristics");
	flags(emit, ctx, "dwMechanical", OFF_dwMechanical, 4, d->dwMechanical, mechanical_names,
	      N(mechanical_names));
	value(emit, ctx, "dwFeatures", OFF_dwFeatures, 4, d->dwFeatures, "%s level exchange",
	      ccid_exchange_level_name(ccid_class_desc_level(d)));
	if ((d->dwFeatures & CCID_FEAT_LEVEL_MASK) == 0)
		flag(emit, ctx, "dwFeatures", OFF_dwFeatures, 4, 0, "character level exchange");
	flags(emit, ctx, "dwFeatures", OFF_dwFeatures, 4, d->dwFeatures, feature_names,
	      N(feature_names));
	value(emit, ctx, "dwMaxCCIDMessageLength", OFF_dwMaxCCIDMessageLength, 4,
	      d->dwMaxCCIDMessageLength, "%u bytes (header included)",
	      (unsigned)d->dwMaxCCIDMessageLength);
	value(emit, ctx, "bClassGetResponse", OFF_bClassGetResponse, 1, d->bClassGetResponse, "%s",
	      class_byte_text(d->bClassGetResponse));
	value(emit, ctx, "bClassEnvelope", OFF_bClassEnvelope, 1, d->bClassEnvelope, "%s",
	      class_byte_text(d->bClassEnvelope));
	if (d->wLcdLayout)
		value(emit, ctx, "wLcdLayout", OFF_wLcdLayout, 2, d->wLcdLayout,
		      "LCD of %u lines of %u characters", d->wLcdLayout >> 8, d->wLcdLayout & 0xFF);
	else
		value(emit, ctx, "wLcdLayout", OFF_wLcdLayout, 2, 0, "no LCD");
	value(emit, ctx, "bPINSupport", OFF_bPINSupport, 1, d->bPINSupport, "%s",
	      d->bPINSupport ? "PIN pad" : "no PIN pad");
	flags(emit, ctx, "bPINSupport", OFF_bPINSupport, 1, d->bPINSupport, pin_names, N(pin_names));
	value(emit, ctx, "bMaxCCIDBusySlots", OFF_bMaxCCIDBusySlots, 1, d->bMaxCCIDBusySlots,
	      "%u slot%s may be busy at once", d->bMaxCCIDBusySlots,
	      d->bMaxCCIDBusySlots == 1 ? "" : "s");
}
