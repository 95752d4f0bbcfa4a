/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader's built-in profiles, and reader configurations read
 * from the decoded descriptor dumps of real readers (tests/data/readers/),
 * so that the virtual reader declares and behaves as that reader does.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vreader/device.h"

static const char *const profile_names[VDEV_PROFILE_COUNT] = {
	[VDEV_PROFILE_TPDU_T0] = "tpdu-t0",
	[VDEV_PROFILE_TPDU_T1] = "tpdu-t1",
	[VDEV_PROFILE_SHORT_APDU] = "short-apdu",
	[VDEV_PROFILE_EXTENDED_APDU] = "extended-apdu",
	[VDEV_PROFILE_MULTI_SLOT] = "multi-slot",
	[VDEV_PROFILE_MECHANICAL] = "mechanical",
	[VDEV_PROFILE_PINPAD] = "pinpad",
	[VDEV_PROFILE_PINPAD_T1] = "pinpad-t1",
	[VDEV_PROFILE_CHAR_T0] = "char-t0",
	[VDEV_PROFILE_ICCD_A] = "iccd-a",
	[VDEV_PROFILE_ICCD_B] = "iccd-b",
};

const char *vdev_profile_name(enum vdev_profile p)
{
	return (unsigned)p < VDEV_PROFILE_COUNT ? profile_names[p] : "unknown";
}

int vdev_profile_from_name(const char *name)
{
	for (int i = 0; i < VDEV_PROFILE_COUNT; i++)
		if (!strcmp(name, profile_names[i]))
			return i;
	return -EINVAL;
}

/* Rates at 4 MHz for F=372 and D = 1..32, and F=512 D=32 (TA1 96), ISO 7816-3 §7.1. */
static const uint32_t rates_4mhz[] = { 10752, 21505, 43010, 86021, 172043, 250000, 344086 };

static void common(struct vdev_config *cfg)
{
	struct ccid_class_desc *d = &cfg->desc;

	memset(cfg, 0, sizeof(*cfg));
	d->bLength = CCID_CLASS_DESC_LEN;
	d->bDescriptorType = CCID_CLASS_DESC_TYPE;
	d->bcdCCID = 0x0110;
	d->bVoltageSupport = CCID_VOLTAGE_5V | CCID_VOLTAGE_3V | CCID_VOLTAGE_1V8;
	d->dwDefaultClock = 4000;
	d->dwMaximumClock = 4000;
	d->bNumClockSupported = 1;
	cfg->clocks_khz[0] = 4000;
	d->dwDataRate = 10752;
	d->dwMaxDataRate = 344086;
	d->bNumDataRatesSupported = sizeof(rates_4mhz) / sizeof(rates_4mhz[0]);
	memcpy(cfg->data_rates, rates_4mhz, sizeof(rates_4mhz));
	d->dwMaxIFSD = 254;
	d->dwMaxCCIDMessageLength = 271;
	d->bMaxCCIDBusySlots = 1;
	cfg->idVendor = 0x1209;          /* pid.codes */
	cfg->idProduct = 0x0001;         /* pid.codes test PID */
	cfg->bcdDevice = 0x0100;
	snprintf(cfg->manufacturer, sizeof(cfg->manufacturer), "uccid");
	cfg->mute_ms = 100;
	cfg->time_extension_ms = 500;
	for (unsigned i = 0; i < VDEV_MAX_SLOTS; i++)
		cfg->card_present[i] = true;
}

/*
 * A USB ICCD token (ccid/iccd.h), as the ones in the field declare
 * themselves: one slot, the token negotiates by itself (40h), no clock or
 * rate lists.  Version A is character level with T=0 and has no interrupt
 * pipe (hosts poll GET_ICC_STATUS), as e-gate and BIFIT; version B
 * exchanges APDUs — extended ones here, so that chaining runs — and reports
 * card events on an interrupt pipe, as G&D StarSign.
 */
static void iccd_token(struct vdev_config *cfg, bool version_a)
{
	struct ccid_class_desc *d = &cfg->desc;

	cfg->iccd = version_a ? 1 : 2;
	cfg->no_interrupt = version_a;
	d->dwFeatures = CCID_FEAT_AUTO_PPS_PROP | CCID_FEAT_ICCD_TOKEN
			| (version_a ? CCID_FEAT_LEVEL_CHAR : CCID_FEAT_LEVEL_EXT_APDU);
	d->bNumClockSupported = 0;
	d->bNumDataRatesSupported = 0;
	d->dwMaxDataRate = d->dwDataRate;
	d->bMaxCCIDBusySlots = 1;
}

int vdev_profile_config(enum vdev_profile p, struct vdev_config *cfg)
{
	struct ccid_class_desc *d = &cfg->desc;
	uint16_t protocols = 1u << 1;    /* T=1 */

	if ((unsigned)p >= VDEV_PROFILE_COUNT || !cfg)
		return -EINVAL;
	common(cfg);
	/* automatic voltage, clock and baud rate; the host does PPS and SetParameters (TPDU) */
	d->dwFeatures = CCID_FEAT_AUTO_VOLTAGE | CCID_FEAT_AUTO_CLOCK | CCID_FEAT_AUTO_BAUD;
	switch (p) {
	case VDEV_PROFILE_TPDU_T0:
		d->dwFeatures |= CCID_FEAT_LEVEL_TPDU;
		protocols = 1u << 0;
		break;
	case VDEV_PROFILE_TPDU_T1:
		d->dwFeatures |= CCID_FEAT_LEVEL_TPDU;
		break;
	case VDEV_PROFILE_SHORT_APDU:
		d->dwFeatures |= CCID_FEAT_LEVEL_SHORT_APDU | CCID_FEAT_AUTO_CONF_ATR | CCID_FEAT_AUTO_PPS_CUR;
		break;
	case VDEV_PROFILE_EXTENDED_APDU:
		/* 271-byte messages: a 4096-byte APDU needs chaining both ways */
		d->dwFeatures |= CCID_FEAT_LEVEL_EXT_APDU | CCID_FEAT_AUTO_CONF_ATR | CCID_FEAT_AUTO_PPS_CUR;
		break;
	case VDEV_PROFILE_MULTI_SLOT:
		d->dwFeatures |= CCID_FEAT_LEVEL_SHORT_APDU | CCID_FEAT_AUTO_CONF_ATR | CCID_FEAT_AUTO_PPS_CUR;
		d->bMaxSlotIndex = 3;
		d->bMaxCCIDBusySlots = 2;
		break;
	case VDEV_PROFILE_MECHANICAL:
		d->dwFeatures |= CCID_FEAT_LEVEL_TPDU;
		d->dwMechanical = CCID_MECHANICAL_EJECT | CCID_MECHANICAL_LOCK;
		break;
	case VDEV_PROFILE_PINPAD:
		/* a keypad reader: the host sends PC_to_RDR_Secure, the person types (vreader/pinpad.c) */
		d->dwFeatures |= CCID_FEAT_LEVEL_SHORT_APDU | CCID_FEAT_AUTO_CONF_ATR | CCID_FEAT_AUTO_PPS_CUR;
		d->bPINSupport = CCID_PIN_VERIFY | CCID_PIN_MODIFY;
		d->wLcdLayout = 0x0210;         /* 2 lines of 16 characters */
		break;
	case VDEV_PROFILE_PINPAD_T1:
		/* TPDU under T=1: the host's T=1 state frames the PIN block (bTeoPrologue) */
		d->dwFeatures |= CCID_FEAT_LEVEL_TPDU;
		d->bPINSupport = CCID_PIN_VERIFY | CCID_PIN_MODIFY;
		break;
	case VDEV_PROFILE_CHAR_T0:
		/* character level (0): the host runs procedure bytes and PPS itself */
		protocols = 1u << 0;
		break;
	case VDEV_PROFILE_ICCD_A:
	case VDEV_PROFILE_ICCD_B:
		iccd_token(cfg, p == VDEV_PROFILE_ICCD_A);
		protocols = p == VDEV_PROFILE_ICCD_A ? 1u << 0 : 1u << 1;
		break;
	default:
		return -EINVAL;
	}
	if (ccid_class_desc_level(d) != CCID_LEVEL_TPDU && ccid_class_desc_level(d) != CCID_LEVEL_CHARACTER)
		d->bClassGetResponse = d->bClassEnvelope = 0xFF;
	d->dwProtocols = protocols;
	vcard_config_default(&cfg->card, protocols);
	if (!cfg->iccd)
		cfg->card.ta1 = 0x96;    /* Fi=512 Di=32: the host negotiates 250 000 bps by PPS */
	snprintf(cfg->name, sizeof(cfg->name), "%s", profile_names[p]);
	snprintf(cfg->product, sizeof(cfg->product), "uccid virtual reader (%s)", profile_names[p]);
	snprintf(cfg->serial, sizeof(cfg->serial), "VR-%s", profile_names[p]);
	return 0;
}

/* ---- reader files (the format of tests/data/readers/) ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* "1.10" -> 0x0110; "4.000 MHz" -> 4000; "0x0000 0x0003" -> 3; "271 bytes" -> 271 */
static int parse_value(const char *name, const char *v, uint32_t *ret)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	if (!strcmp(name, "bcdCCID")) {
		a = strtoul(v, &end, 16);
		if (*end != '.')
			return -EBADMSG;
		b = strtoul(end + 1, &end, 16);
		*ret = (uint32_t)(a << 8 | b);
		return errno ? -EBADMSG : 0;
	}
	if (!strcmp(name, "dwDefaultClock") || !strcmp(name, "dwMaximumClock")) {
		a = strtoul(v, &end, 10);
		if (*end != '.' || !isdigit((unsigned char)end[1]) || !isdigit((unsigned char)end[2])
		    || !isdigit((unsigned char)end[3]))
			return -EBADMSG;
		*ret = (uint32_t)(a * 1000 + (unsigned long)((end[1] - '0') * 100 + (end[2] - '0') * 10 + end[3] - '0'));
		return errno ? -EBADMSG : 0;
	}
	if (!strcmp(name, "dwProtocols")) {
		a = strtoul(v, &end, 16);
		b = strtoul(end, &end, 16);
		*ret = (uint32_t)(a << 16 | b);
		return errno ? -EBADMSG : 0;
	}
	a = strtoul(v, &end, 0);
	if (end == v || errno || a > UINT32_MAX)
		return -EBADMSG;
	*ret = (uint32_t)a;
	return 0;
}

struct field_map {
	const char *name;
	size_t offset;     /* in struct ccid_class_desc */
	size_t size;
};

#define F(n) { #n, offsetof(struct ccid_class_desc, n), sizeof(((struct ccid_class_desc *)0)->n) }
static const struct field_map class_fields[] = {
	F(bLength), F(bDescriptorType), F(bcdCCID), F(bMaxSlotIndex), F(bVoltageSupport), F(dwProtocols),
	F(dwDefaultClock), F(dwMaximumClock), F(bNumClockSupported), F(dwDataRate), F(dwMaxDataRate),
	F(bNumDataRatesSupported), F(dwMaxIFSD), F(dwSynchProtocols), F(dwMechanical), F(dwFeatures),
	F(dwMaxCCIDMessageLength), F(bClassGetResponse), F(bClassEnvelope), F(wLcdLayout), F(bPINSupport),
	F(bMaxCCIDBusySlots),
};
#undef F
#define NFIELDS (sizeof(class_fields) / sizeof(class_fields[0]))

static int set_field(struct ccid_class_desc *d, const struct field_map *f, uint32_t v)
{
	uint8_t *p = (uint8_t *)d + f->offset;

	switch (f->size) {
	case 1:
		if (v > 0xFF)
			return -EBADMSG;
		*p = (uint8_t)v;
		return 0;
	case 2:
		if (v > 0xFFFF)
			return -EBADMSG;
		{
			uint16_t x = (uint16_t)v;

			memcpy(p, &x, 2);
		}
		return 0;
	default:
		memcpy(p, &v, 4);
		return 0;
	}
}

int vdev_config_from_reader_file(const char *path, struct vdev_config *cfg, char *err, size_t errlen)
{
	return vdev_config_from_reader_file_at(path, 0, cfg, err, errlen);
}

int vdev_config_from_reader_file_at(const char *path, unsigned block, struct vdev_config *cfg, char *err,
				    size_t errlen)
{
	FILE *f;
	char line[512];
	unsigned lineno = 0, seen = 0;
	int r = 0, in_class = 0, interfaces = 0;
	uint32_t *list = NULL;
	unsigned list_max = 0, list_n = 0, nclocks = 0, nrates = 0;
	uint32_t endpoints = 0;
	bool intr = false;
	const char *base;

	if (!path || !cfg)
		return -EINVAL;
	f = fopen(path, "r");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	common(cfg);
	memset(&cfg->desc, 0, sizeof(cfg->desc));
	cfg->desc.bLength = 0;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(cfg->name, sizeof(cfg->name), "%.*s", (int)(strcspn(base, ".")), base);

	while (fgets(line, sizeof(line), f)) {
		size_t indent = strspn(line, " ");
		char *name = line + indent, *colon, *v;

		lineno++;
		if (indent == 1 && !strncmp(name, "idVendor:", 9)) {
			if (++interfaces > (int)block + 1)
				break;          /* the block-th interface describes the reader */
		}
		if (interfaces < (int)block + 1)
			continue;
		if (indent == 1 && !strncmp(name, "CCID Class Descriptor", 21)) {
			in_class = 1;
			continue;
		}
		if (indent >= 3 && list && !strncmp(trim(name), "Support ", 8)) {
			uint32_t val;

			if (list_n < list_max && parse_value("x", trim(name) + 8, &val) == 0)
				list[list_n++] = val;
			if (list == cfg->clocks_khz)
				nclocks = list_n;
			else
				nrates = list_n;
			continue;
		}
		colon = strchr(name, ':');
		if (!colon)
			continue;
		*colon = 0;
		v = trim(colon + 1);
		name = trim(name);
		if (indent == 1) {
			uint32_t val;

			if (!strcmp(name, "bInterfaceProtocol") && parse_value(name, v, &val) == 0 && val <= 2)
				cfg->iccd = (uint8_t)val;
			else if (!strcmp(name, "bNumEndpoints") && parse_value(name, v, &val) == 0)
				endpoints = val;
			if (!strcmp(name, "idVendor") && parse_value(name, v, &val) == 0)
				cfg->idVendor = (uint16_t)val;
			else if (!strcmp(name, "idProduct") && parse_value(name, v, &val) == 0)
				cfg->idProduct = (uint16_t)val;
			continue;
		}
		if (indent == 2 && !in_class) {
			if (!strncmp(name, "bulk-IN", 7) || !strncmp(name, "Interrupt-IN", 12))
				intr = strstr(name, "Interrupt-IN") != NULL;
			if (!strcmp(name, "iManufacturer"))
				snprintf(cfg->manufacturer, sizeof(cfg->manufacturer), "%s", v);
			else if (!strcmp(name, "iProduct"))
				snprintf(cfg->product, sizeof(cfg->product), "%s", v);
			continue;
		}
		if (indent == 2 && in_class) {
			for (size_t i = 0; i < NFIELDS; i++) {
				uint32_t val;

				if (strcmp(name, class_fields[i].name))
					continue;
				if (parse_value(name, v, &val) < 0 || set_field(&cfg->desc, &class_fields[i], val) < 0) {
					snprintf(err, errlen, "%s:%u: bad value for %s: '%s'", path, lineno, name, v);
					r = -EBADMSG;
					goto out;
				}
				seen |= 1u << i;
			}
			list = NULL;
			list_n = 0;
			if (!strcmp(name, "bNumClockSupported")) {
				list = cfg->clocks_khz;
				list_max = 256;
			} else if (!strcmp(name, "bNumDataRatesSupported")) {
				list = cfg->data_rates;
				list_max = 256;
			}
		}
	}
	if (seen != (1u << NFIELDS) - 1) {
		snprintf(err, errlen, "%s: no complete CCID class descriptor", path);
		r = -EBADMSG;
		goto out;
	}
	/* a count without its list: answer with the default and maximum values */
	for (unsigned i = nclocks; i < cfg->desc.bNumClockSupported; i++)
		cfg->clocks_khz[i] = i ? cfg->desc.dwMaximumClock : cfg->desc.dwDefaultClock;
	for (unsigned i = nrates; i < cfg->desc.bNumDataRatesSupported; i++)
		cfg->data_rates[i] = i ? cfg->desc.dwMaxDataRate : cfg->desc.dwDataRate;
	if (ccid_class_desc_validate(&cfg->desc, NULL, NULL, NULL) < 0) {
		snprintf(err, errlen, "%s: the class descriptor is not usable (see uccid decode descriptor)", path);
		r = -EBADMSG;
		goto out;
	}
	if (cfg->desc.bMaxSlotIndex >= VDEV_MAX_SLOTS) {
		snprintf(err, errlen, "%s: %u slots; the virtual reader has at most %u", path,
			 cfg->desc.bMaxSlotIndex + 1u, VDEV_MAX_SLOTS);
		r = -EBADMSG;
		goto out;
	}
	if (cfg->iccd) {
		/* an ICCD token: the control pipe, and an interrupt pipe where it lists one */
		cfg->no_interrupt = !(endpoints && intr);
		if (cfg->desc.bMaxSlotIndex != 0) {
			snprintf(err, errlen, "%s: an ICCD token with %u slots", path, cfg->desc.bMaxSlotIndex + 1u);
			r = -EBADMSG;
			goto out;
		}
	}
	/* a version A token runs T=0 (ccid/iccd.h) */
	vcard_config_default(&cfg->card, cfg->desc.dwProtocols & CCID_PROTOCOLS_T1 && cfg->iccd != 1 ? 1u << 1
													: 1u << 0);
	cfg->card.clock_khz = cfg->desc.dwDefaultClock ? cfg->desc.dwDefaultClock : 4000;
	if (!cfg->serial[0])
		snprintf(cfg->serial, sizeof(cfg->serial), "VR-%.40s", cfg->name);
out:
	fclose(f);
	return r;
}
