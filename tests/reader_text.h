/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The text of tests/data/readers/ (libccid's dump of a reader's interfaces
 * and CCID class descriptors), read independently of the codec and of the
 * virtual reader: for the test programs that check them against it
 * (check_readers, check_corpus).  Static functions: each program includes
 * it once.
 */
#ifndef TESTS_READER_TEXT_H
#define TESTS_READER_TEXT_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/class_desc.h"
#include "tests/testutil.h"

#define MAX_IFACES 8
#define MAX_READERS 1024

/* The reader files, sorted by name (load_files). */
static char *files[MAX_READERS];
static int nfiles;


/* What the text says of one interface. */
struct text_iface {
	unsigned bInterfaceNumber, bNumEndpoints, bInterfaceClass, bInterfaceSubClass,
		bInterfaceProtocol;
	char endpoints[512];             /* "bulk-IN, bulk-OUT and Interrupt-IN" */
	uint32_t f[22];                  /* class descriptor fields in table order */
	uint32_t seen;                   /* bit i: field i was in the text */
	unsigned idVendor, idProduct;    /* of the block */
};

/* Class descriptor fields in table 5.1-1 order, with their offset and size. */
static const struct { const char *name; unsigned off, size; } fields[22] = {
	{ "bLength", 0, 1 },		  { "bDescriptorType", 1, 1 },
	{ "bcdCCID", 2, 2 },		  { "bMaxSlotIndex", 4, 1 },
	{ "bVoltageSupport", 5, 1 },	  { "dwProtocols", 6, 4 },
	{ "dwDefaultClock", 10, 4 },	  { "dwMaximumClock", 14, 4 },
	{ "bNumClockSupported", 18, 1 },  { "dwDataRate", 19, 4 },
	{ "dwMaxDataRate", 23, 4 },	  { "bNumDataRatesSupported", 27, 1 },
	{ "dwMaxIFSD", 28, 4 },		  { "dwSynchProtocols", 32, 4 },
	{ "dwMechanical", 36, 4 },	  { "dwFeatures", 40, 4 },
	{ "dwMaxCCIDMessageLength", 44, 4 }, { "bClassGetResponse", 48, 1 },
	{ "bClassEnvelope", 49, 1 },	  { "wLcdLayout", 50, 2 },
	{ "bPINSupport", 52, 1 },	  { "bMaxCCIDBusySlots", 53, 1 },
};

/* "1.10" -> 0x0110 (libccid prints bcd as %X.%02X). */
static uint32_t parse_bcd(const char *v)
{
	char *end;
	unsigned long hi = strtoul(v, &end, 16), lo = 0;

	if (*end == '.')
		lo = strtoul(end + 1, NULL, 16);
	return (uint32_t)(hi << 8 | lo);
}

/* "4.000 MHz" -> 4000 kHz, exactly (three decimals). */
static uint32_t parse_mhz(const char *v)
{
	char *end;
	unsigned long mhz = strtoul(v, &end, 10), khz = 0;

	ck_assert_msg(*end == '.', "clock '%s' not in MHz with decimals", v);
	for (int i = 1; i <= 3; i++) {
		ck_assert(isdigit((unsigned char)end[i]));
		khz = khz * 10 + (unsigned long)(end[i] - '0');
	}
	return (uint32_t)(mhz * 1000 + khz);
}

static uint32_t parse_field(int i, const char *v)
{
	const char *name = fields[i].name;

	if (!strcmp(name, "bcdCCID"))
		return parse_bcd(v);
	if (!strcmp(name, "dwDefaultClock") || !strcmp(name, "dwMaximumClock"))
		return parse_mhz(v);
	if (!strcmp(name, "dwProtocols")) { /* "0x0000 0x0003": high half, then low half */
		char *end;
		unsigned long hi = strtoul(v, &end, 16);

		return (uint32_t)(hi << 16 | strtoul(end, NULL, 16));
	}
	/* decimal counts and sizes, hex where the text has 0x */
	return (uint32_t)strtoul(v, NULL, 0);
}

static int field_index(const char *name)
{
	for (int i = 0; i < 22; i++)
		if (!strcmp(fields[i].name, name))
			return i;
	return -1;
}

static int parse_file(const char *path, struct text_iface *ifs)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int n = -1;
	bool in_class = false;
	char *last_top = NULL;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		size_t indent = strspn(line, " ");
		char *name = line + indent, *colon = strchr(name, ':'), *v;

		line[strcspn(line, "\r\n")] = 0;
		if (indent == 1 && !strncmp(name, "idVendor:", 9)) {
			ck_assert_msg(++n < MAX_IFACES, "%s: too many interfaces", path);
			memset(&ifs[n], 0, sizeof(ifs[n]));
			ifs[n].idVendor = (unsigned)strtoul(name + 9, NULL, 0);
			in_class = false;
			continue;
		}
		if (n < 0)
			continue;
		if (indent == 1 && !strcmp(name, "CCID Class Descriptor")) {
			in_class = true;
			continue;
		}
		if (indent == 2 && last_top && !strcmp(last_top, "bNumEndpoints"))
			snprintf(ifs[n].endpoints, sizeof(ifs[n].endpoints), "%s", name);
		if (!colon)
			continue;
		*colon = 0;
		v = colon + 1 + strspn(colon + 1, " ");
		if (indent == 1) {
			free(last_top);
			last_top = strdup(name);
			if (!strcmp(name, "idProduct"))
				ifs[n].idProduct = (unsigned)strtoul(v, NULL, 0);
			else if (!strcmp(name, "bInterfaceNumber"))
				ifs[n].bInterfaceNumber = (unsigned)strtoul(v, NULL, 0);
			else if (!strcmp(name, "bNumEndpoints"))
				ifs[n].bNumEndpoints = (unsigned)strtoul(v, NULL, 0);
			else if (!strcmp(name, "bInterfaceClass"))
				ifs[n].bInterfaceClass = (unsigned)strtoul(v, NULL, 0);
			else if (!strcmp(name, "bInterfaceSubClass"))
				ifs[n].bInterfaceSubClass = (unsigned)strtoul(v, NULL, 0);
			else if (!strcmp(name, "bInterfaceProtocol"))
				ifs[n].bInterfaceProtocol = (unsigned)strtoul(v, NULL, 0);
		} else if (indent == 2 && in_class) {
			int i = field_index(name);

			if (i < 0)
				continue;
			ck_assert_msg(!(ifs[n].seen & (1u << i)), "%s: %s twice", path, name);
			ifs[n].f[i] = parse_field(i, v);
			ifs[n].seen |= 1u << i;
		}
	}
	free(last_top);
	fclose(f);
	return n + 1;
}

/* Rebuild the 54 bytes from the text, byte by byte, without the codec. */
static void build_class(const struct text_iface *t, uint8_t *b)
{
	for (int i = 0; i < 22; i++)
		for (unsigned k = 0; k < fields[i].size; k++)
			b[fields[i].off + k] = (uint8_t)(t->f[i] >> (8 * k));
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .txt of $UCCID_TEST_DATA/readers (default tests/data) into files[], sorted; prog names the failure. */
static void load_files(const char *prog)
{
	const char *dir = getenv("UCCID_TEST_DATA");
	char path[4096];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/readers", dir ? dir : "tests/data");
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(EXIT_FAILURE);
	}
	while ((de = readdir(d)) && nfiles < MAX_READERS) {
		size_t l = strlen(de->d_name);
		char full[4352];

		if (l < 5 || strcmp(de->d_name + l - 4, ".txt"))
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		files[nfiles++] = strdup(full);
	}
	closedir(d);
	qsort(files, (size_t)nfiles, sizeof(files[0]), cmp);
}

#endif
