/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration as pcscd drivers take it: keys of the bundle's Info.plist
 * (found next to the loaded library: Contents/Linux/<lib> -> Contents/Info.plist),
 * then environment variables that override them (docs/ifd-uccid.8):
 *   ifdLogLevel / UCCID_IFD_LOGLEVEL, LIBCCID_ifdLogLevel
 *       libccid's bits: 0x0001 critical, 0x0002 info, 0x0004 comm, 0x0008 periodic
 *   ifdDriverOptions / UCCID_IFD_OPTIONS
 *       libccid's bits: 0x0001 escape, 0x0002 GemPC Twin/Key APDU mode,
 *       0x0004 bogus firmware, 0x0030 voltage, 0x0040 no PIN retries
 *   uccidExchangeDeadline / UCCID_IFD_DEADLINE_MS    ms, 100..600000
 *   uccidPowerDeadline / UCCID_IFD_POWER_DEADLINE_MS ms, 100..600000
 * Keys carry over from libccid's Info.plist with their meaning; a bit
 * libccid does not define, or one uccid cannot honour, is an error in the
 * log, and values out of range are ignored with one.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifd/ifd_priv.h"

#define PLIST_MAX (1024 * 1024)
#define DEADLINE_MIN_MS 100
#define DEADLINE_MAX_MS 600000

/* A number in decimal or 0x hex, whole string; -EINVAL otherwise. */
static int parse_number(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void set_key(struct ifd_config *c, const char *key, const char *value, const char *from)
{
	unsigned long v;

	if (!strcmp(key, "ifdLogLevel") || !strcmp(key, "UCCID_IFD_LOGLEVEL") || !strcmp(key, "LIBCCID_ifdLogLevel")) {
		if (parse_number(value, UINT32_MAX, &v) < 0)
			goto bad;
		if (v & ~(unsigned long)IFD_LOGLEVEL_KNOWN)
			ifd_log(IFD_LOG_ERROR,
				"%s: %s: unknown bits 0x%04lX ignored (0x0001 critical, 0x0002 info, 0x0004 comm, "
				"0x0008 periodic)", from, key, v & ~(unsigned long)IFD_LOGLEVEL_KNOWN);
		c->log_mask = (uint32_t)v & IFD_LOGLEVEL_KNOWN;
	} else if (!strcmp(key, "ifdDriverOptions") || !strcmp(key, "UCCID_IFD_OPTIONS")) {
		if (parse_number(value, UINT32_MAX, &v) < 0)
			goto bad;
		if (v & ~(unsigned long)IFD_OPTION_KNOWN)
			ifd_log(IFD_LOG_ERROR, "%s: %s: unknown bits 0x%04lX ignored", from, key,
				v & ~(unsigned long)IFD_OPTION_KNOWN);
		c->options = (uint32_t)v & IFD_OPTION_KNOWN;
	} else if (!strcmp(key, "uccidExchangeDeadline") || !strcmp(key, "UCCID_IFD_DEADLINE_MS")) {
		if (parse_number(value, DEADLINE_MAX_MS, &v) < 0 || v < DEADLINE_MIN_MS)
			goto bad;
		c->deadline_ms = (unsigned)v;
	} else if (!strcmp(key, "uccidPowerDeadline") || !strcmp(key, "UCCID_IFD_POWER_DEADLINE_MS")) {
		if (parse_number(value, DEADLINE_MAX_MS, &v) < 0 || v < DEADLINE_MIN_MS)
			goto bad;
		c->power_deadline_ms = (unsigned)v;
	}
	return;
bad:
	ifd_log(IFD_LOG_ERROR, "%s: %s: '%s' is not a valid value, ignored", from, key, value);
}

/* The <string> that follows <key>name</key>, if any, into buf. */
static bool plist_string(const char *text, const char *name, char *buf, size_t cap)
{
	char pat[96];
	const char *p, *b, *e;

	snprintf(pat, sizeof(pat), "<key>%s</key>", name);
	p = strstr(text, pat);
	if (!p)
		return false;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (strncmp(p, "<string>", 8))
		return false;
	b = p + 8;
	e = strstr(b, "</string>");
	if (!e || (size_t)(e - b) >= cap)
		return false;
	memcpy(buf, b, (size_t)(e - b));
	buf[e - b] = '\0';
	return true;
}

void ifd_config_parse(struct ifd_config *c, const char *text)
{
	static const char *const keys[] = { "ifdLogLevel", "ifdDriverOptions", "uccidExchangeDeadline",
					    "uccidPowerDeadline" };
	char value[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (plist_string(text, keys[i], value, sizeof(value)))
			set_key(c, keys[i], value, "Info.plist");
}

void ifd_config_env(struct ifd_config *c)
{
	/* libccid's variable first, so that uccid's own wins when both are set */
	static const char *const keys[] = { "LIBCCID_ifdLogLevel", "UCCID_IFD_LOGLEVEL", "UCCID_IFD_OPTIONS",
					    "UCCID_IFD_DEADLINE_MS", "UCCID_IFD_POWER_DEADLINE_MS" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = getenv(keys[i]);

		if (v)
			set_key(c, keys[i], v, "environment");
	}
}

/* Contents/Info.plist of the bundle the library was loaded from. */
static int plist_path(char *buf, size_t cap)
{
	Dl_info info;
	char *slash;
	int n;

	if (!dladdr((void *)&ifd_config_load, &info) || !info.dli_fname)
		return -ENOENT;
	n = snprintf(buf, cap, "%s", info.dli_fname);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	/* .../Contents/Linux/libifd-uccid.so -> .../Contents/Info.plist */
	for (int up = 0; up < 2; up++) {
		slash = strrchr(buf, '/');
		if (!slash)
			return -ENOENT;
		*slash = '\0';
	}
	if (strlen(buf) + sizeof("/Info.plist") > cap)
		return -ENAMETOOLONG;
	strcat(buf, "/Info.plist");
	return 0;
}

void ifd_config_load(void)
{
	struct ifd_config c = { .log_mask = IFD_LOGLEVEL_DEFAULT };
	char *text = NULL;
	FILE *f = NULL;
	size_t n;

	if (plist_path(c.plist, sizeof(c.plist)) < 0)
		c.plist[0] = '\0';
	if (c.plist[0])
		f = fopen(c.plist, "re");
	if (f) {
		text = malloc(PLIST_MAX + 1);
		if (text) {
			n = fread(text, 1, PLIST_MAX, f);
			text[n] = '\0';
			ifd_config_parse(&c, text);
		}
		fclose(f);
		free(text);
	} else {
		c.plist[0] = '\0';
	}
	ifd_config_env(&c);
	ifd_config = c;
	ifd_log(IFD_LOG_INFO, "configuration from %s: ifdLogLevel 0x%04X, ifdDriverOptions 0x%04X, exchange "
		"deadline %u ms", c.plist[0] ? c.plist : "(no Info.plist)", c.log_mask, c.options, c.deadline_ms);
	if (c.options & IFD_OPTION_BOGUS_FIRMWARE)
		ifd_log(IFD_LOG_INFO, "ifdDriverOptions 0x0004: uccid refuses no firmware version; it works around "
			"the faults it knows (uccid info lists them)");
}
