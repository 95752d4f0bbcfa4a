/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PC/SC client that uses a PIN pad as OpenSC's reader-pcsc.c does: it
 * asks the reader's features with CM_IOCTL_GET_FEATURE_REQUEST, reads the
 * PIN pad's properties (FEATURE_IFD_PIN_PROPERTIES, FEATURE_GET_TLV_PROPERTIES)
 * and verifies or changes the card's PIN with FEATURE_VERIFY_PIN_DIRECT /
 * FEATURE_MODIFY_PIN_DIRECT, PIN_VERIFY_STRUCTURE and PIN_MODIFY_STRUCTURE
 * built as OpenSC builds them.  One operation a run; the person at the
 * keypad is tests/ifd/pcscd-pinpad.sh, typing on the virtual reader's.
 *
 *   pcsc-pinpad READER features LCD PINSUPPORT   the features and properties, checked
 *   pcsc-pinpad READER verify SW [TIMEOUT] [var]  a PIN entry; the status word expected
 *                                                 (var: no PIN block, Lc from the PIN)
 *   pcsc-pinpad READER modify SW                 current PIN, new PIN, confirmation
 *   pcsc-pinpad READER transmit PIN SW           a VERIFY by SCardTransmit, no keypad
 *   pcsc-pinpad READER bad                       malformed structures: refused, nothing typed
 *   pcsc-pinpad --ctl SOCKET keys BUS KEYS...    the person at the keypad of reader BUS: waits
 *                                                until a PIN entry waits there, then types
 * Prints "waiting" before the call that waits for the keypad; exits 0 when
 * every check held.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <reader.h>
#include <winscard.h>

static SCARDCONTEXT ctx;
static SCARDHANDLE h;
static DWORD proto;
static int fails;
static DWORD ioctl_verify, ioctl_modify, ioctl_props, ioctl_tlv;

#define FAIL(...) do { printf("FAIL "); printf(__VA_ARGS__); printf("\n"); fails++; } while (0)
#define OK(...) do { printf("ok "); printf(__VA_ARGS__); printf("\n"); } while (0)

static int connect_reader(const char *sub)
{
	char names[4096], *p;
	DWORD n = sizeof(names);
	LONG rv;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS
	    || SCardListReaders(ctx, NULL, names, &n) != SCARD_S_SUCCESS)
		return -1;
	for (p = names; *p; p += strlen(p) + 1)
		if (strstr(p, sub))
			break;
	if (!*p) {
		FAIL("no reader matching '%s'", sub);
		return -1;
	}
	rv = SCardConnect(ctx, p, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	if (rv != SCARD_S_SUCCESS) {
		FAIL("SCardConnect %s: %s", p, pcsc_stringify_error(rv));
		return -1;
	}
	return 0;
}

/* CM_IOCTL_GET_FEATURE_REQUEST (part 10 §2.2): tag, length 4, control code big-endian. */
static void features(void)
{
	uint8_t buf[256];
	DWORD len = 0;
	LONG rv = SCardControl(h, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0, buf, sizeof(buf), &len);

	if (rv != SCARD_S_SUCCESS || len % 6) {
		FAIL("GET_FEATURE_REQUEST: %s, %lu bytes", pcsc_stringify_error(rv), (unsigned long)len);
		return;
	}
	for (DWORD i = 0; i + 6 <= len; i += 6) {
		DWORD code = (DWORD)buf[i + 2] << 24 | (DWORD)buf[i + 3] << 16 | (DWORD)buf[i + 4] << 8 | buf[i + 5];

		if (buf[i + 1] != 4)
			FAIL("feature %02X: length %u", buf[i], buf[i + 1]);
		if (buf[i] == FEATURE_VERIFY_PIN_DIRECT)
			ioctl_verify = code;
		if (buf[i] == FEATURE_MODIFY_PIN_DIRECT)
			ioctl_modify = code;
		if (buf[i] == FEATURE_IFD_PIN_PROPERTIES)
			ioctl_props = code;
		if (buf[i] == FEATURE_GET_TLV_PROPERTIES)
			ioctl_tlv = code;
	}
}

/* A TLV property (part 10 §2.6.14), little-endian; -1 when absent. */
static long property(const uint8_t *buf, DWORD len, uint8_t tag)
{
	for (DWORD i = 0; i + 2 <= len && i + 2 + buf[i + 1] <= len; i += 2u + buf[i + 1]) {
		long v = 0;

		if (buf[i] != tag)
			continue;
		for (int k = buf[i + 1] - 1; k >= 0 && buf[i + 1] <= 4; k--)
			v = v << 8 | buf[i + 2 + k];
		return v;
	}
	return -1;
}

static void cmd_features(unsigned lcd, unsigned support)
{
	uint8_t buf[256];
	DWORD len = 0;
	LONG rv;
	long v;

	if ((ioctl_verify != 0) != !!(support & 1) || (ioctl_modify != 0) != !!(support & 2) || !ioctl_props
	    || !ioctl_tlv)
		FAIL("features: verify %08lX modify %08lX properties %08lX tlv %08lX for bPINSupport %02X",
		     (unsigned long)ioctl_verify, (unsigned long)ioctl_modify, (unsigned long)ioctl_props,
		     (unsigned long)ioctl_tlv, support);
	else
		OK("features: VERIFY_PIN_DIRECT %08lX, MODIFY_PIN_DIRECT %08lX, IFD_PIN_PROPERTIES, GET_TLV_PROPERTIES",
		   (unsigned long)ioctl_verify, (unsigned long)ioctl_modify);
	rv = SCardControl(h, ioctl_props, NULL, 0, buf, sizeof(buf), &len);
	if (rv != SCARD_S_SUCCESS || len != 4 || (unsigned)(buf[0] | buf[1] << 8) != lcd)
		FAIL("IFD_PIN_PROPERTIES: %s, %lu bytes, wLcdLayout %04X (want %04X)", pcsc_stringify_error(rv),
		     (unsigned long)len, len >= 2 ? buf[0] | buf[1] << 8 : 0, lcd);
	else
		OK("IFD_PIN_PROPERTIES: wLcdLayout %04X bEntryValidationCondition %02X bTimeOut2 %u", lcd, buf[2],
		   buf[3]);
	len = 0;
	rv = SCardControl(h, ioctl_tlv, NULL, 0, buf, sizeof(buf), &len);
	if (rv != SCARD_S_SUCCESS) {
		FAIL("GET_TLV_PROPERTIES: %s", pcsc_stringify_error(rv));
		return;
	}
	if (property(buf, len, PCSCv2_PART10_PROPERTY_wLcdLayout) != (long)lcd)
		FAIL("wLcdLayout %ld, want %u", property(buf, len, PCSCv2_PART10_PROPERTY_wLcdLayout), lcd);
	if (lcd && (property(buf, len, PCSCv2_PART10_PROPERTY_wLcdMaxCharacters) != (long)(lcd & 0xFF)
		    || property(buf, len, PCSCv2_PART10_PROPERTY_wLcdMaxLines) != (long)(lcd >> 8)))
		FAIL("wLcdMaxCharacters / wLcdMaxLines do not follow wLcdLayout %04X", lcd);
	if (!lcd && property(buf, len, PCSCv2_PART10_PROPERTY_wLcdMaxLines) != -1)
		FAIL("wLcdMaxLines without a display");
	v = property(buf, len, PCSCv2_PART10_PROPERTY_bEntryValidationCondition);
	if (v < 1 || v > 7)
		FAIL("bEntryValidationCondition %ld", v);
	if (property(buf, len, PCSCv2_PART10_PROPERTY_bTimeOut2) != 0 ||
	    property(buf, len, PCSCv2_PART10_PROPERTY_bPPDUSupport) < 0 ||
	    property(buf, len, PCSCv2_PART10_PROPERTY_sFirmwareID) == -1 ||
	    property(buf, len, PCSCv2_PART10_PROPERTY_wIdVendor) < 0)
		FAIL("bTimeOut2, bPPDUSupport, sFirmwareID or wIdVendor missing");
	else
		OK("GET_TLV_PROPERTIES: %lu bytes, wLcdLayout %04X, bEntryValidationCondition %02lX, wIdVendor %04lX "
		   "wIdProduct %04lX, bMinPINSize %ld bMaxPINSize %ld", (unsigned long)len, lcd, v,
		   property(buf, len, PCSCv2_PART10_PROPERTY_wIdVendor),
		   property(buf, len, PCSCv2_PART10_PROPERTY_wIdProduct),
		   property(buf, len, PCSCv2_PART10_PROPERTY_bMinPINSize),
		   property(buf, len, PCSCv2_PART10_PROPERTY_bMaxPINSize));
}

/* OpenSC's part10_build_verify_pin_block: ASCII, an 8-byte block padded with FF, or none (var). */
static size_t verify_block(uint8_t *buf, uint8_t timeout, bool var, bool display)
{
	PIN_VERIFY_STRUCTURE *pv = (PIN_VERIFY_STRUCTURE *)buf;
	static const uint8_t padded[] = { 0x00, 0x20, 0x00, 0x80, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
	static const uint8_t bare[] = { 0x00, 0x20, 0x00, 0x80 };
	const uint8_t *apdu = var ? bare : padded;
	size_t alen = var ? sizeof(bare) : sizeof(padded);

	memset(buf, 0, sizeof(*pv));
	pv->bTimerOut = timeout;
	pv->bTimerOut2 = timeout;
	pv->bmFormatString = 0x82;              /* ASCII, bytes, PIN at offset 0 of the data */
	pv->bmPINBlockString = var ? 0x00 : 0x08;
	pv->bmPINLengthFormat = 0x00;
	pv->wPINMaxExtraDigit = 0x0408;         /* min 4, max 8 (host order: little-endian here) */
	pv->bEntryValidationCondition = 0x02;
	pv->bNumberMessage = display ? 0xFF : 0x00;
	memcpy(pv->abData, apdu, alen);
	pv->ulDataLength = (uint32_t)alen;
	return sizeof(*pv) + alen;
}

/* OpenSC's part10_build_modify_pin_block: current PIN, new PIN twice, two 8-byte blocks. */
static size_t modify_block(uint8_t *buf, bool display)
{
	PIN_MODIFY_STRUCTURE *pm = (PIN_MODIFY_STRUCTURE *)buf;
	uint8_t apdu[5 + 16] = { 0x00, 0x24, 0x00, 0x80, 0x10 };

	memset(apdu + 5, 0xFF, 16);
	memset(buf, 0, sizeof(*pm));
	pm->bTimerOut = 30;
	pm->bTimerOut2 = 30;
	pm->bmFormatString = 0x02;
	pm->bmPINBlockString = 0x08;
	pm->bInsertionOffsetOld = 0;
	pm->bInsertionOffsetNew = 8;
	pm->wPINMaxExtraDigit = 0x0408;
	pm->bConfirmPIN = 0x03;
	pm->bEntryValidationCondition = 0x02;
	pm->bNumberMessage = display ? 0x03 : 0x00;
	pm->bMsgIndex1 = 0;
	pm->bMsgIndex2 = 1;
	pm->bMsgIndex3 = 2;
	memcpy(pm->abData, apdu, sizeof(apdu));
	pm->ulDataLength = sizeof(apdu);
	return sizeof(*pm) + sizeof(apdu);
}

static void expect(const char *what, LONG rv, const uint8_t *rsp, DWORD len, unsigned want)
{
	unsigned sw = len == 2 ? (unsigned)rsp[0] << 8 | rsp[1] : 0;

	if (rv != SCARD_S_SUCCESS || len != 2)
		FAIL("%s: %s, %lu bytes", what, pcsc_stringify_error(rv), (unsigned long)len);
	else if (sw != want)
		FAIL("%s: SW %04X, want %04X", what, sw, want);
	else
		OK("%s: SW %04X", what, sw);
}

static void cmd_pin(bool modify, unsigned want, uint8_t timeout, bool var)
{
	uint8_t buf[sizeof(PIN_MODIFY_STRUCTURE) + 64], rsp[32];
	DWORD code = modify ? ioctl_modify : ioctl_verify, len = 0;
	size_t n = modify ? modify_block(buf, false) : verify_block(buf, timeout, var, false);
	LONG rv;

	if (!code) {
		FAIL("no %s feature", modify ? "MODIFY_PIN_DIRECT" : "VERIFY_PIN_DIRECT");
		return;
	}
	printf("waiting\n");
	fflush(stdout);
	rv = SCardControl(h, code, buf, (DWORD)n, rsp, sizeof(rsp), &len);
	expect(modify ? "MODIFY_PIN_DIRECT" : "VERIFY_PIN_DIRECT", rv, rsp, len, want);
}

static void cmd_transmit(const char *pin, unsigned want)
{
	uint8_t apdu[16] = { 0x00, 0x20, 0x00, 0x80 }, rsp[32];
	DWORD len = sizeof(rsp);
	size_t n = strlen(pin) > 8 ? 8 : strlen(pin);
	LONG rv;

	apdu[4] = (uint8_t)n;
	memcpy(apdu + 5, pin, n);
	rv = SCardTransmit(h, proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0, apdu, (DWORD)(5 + n), NULL,
			   rsp, &len);
	expect("VERIFY by SCardTransmit", rv, rsp, len, want);
}

/* Structures pcscd's caller may get wrong: each refused by the driver, nothing waits for the keypad. */
static void cmd_bad(void)
{
	uint8_t buf[sizeof(PIN_MODIFY_STRUCTURE) + 64], rsp[32];
	size_t n = verify_block(buf, 30, false, false);
	struct {
		const char *what;
		size_t len;
		int at, value;
	} cases[] = {
		{ "ulDataLength one more than sent", n, 15, 14 },
		{ "ulDataLength one less than sent", n, 15, 12 },
		{ "ulDataLength huge", n, 18, 0x80 },
		{ "shorter than the structure", 18, -1, 0 },
		{ "an APDU of 3 bytes", 19 + 3, 15, 3 },
		{ "bmFormatString format 11", n, 2, 0x83 },
		{ "wPINMaxExtraDigit min above max", n, 6, 0x09 },
		{ "bNumberMessage 5", n, 8, 5 },
		{ "PIN block beyond the template", n, 3, 0x0F },
		{ "Lc that disagrees with the template", n, 19 + 4, 0x09 },
	};

	if (!ioctl_verify) {
		FAIL("no VERIFY_PIN_DIRECT");
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		DWORD len = 0;
		LONG rv;

		n = verify_block(buf, 30, false, false);
		if (cases[i].at >= 0)
			buf[cases[i].at] = (uint8_t)cases[i].value;
		rv = SCardControl(h, ioctl_verify, buf, (DWORD)cases[i].len, rsp, sizeof(rsp), &len);
		if (rv == SCARD_S_SUCCESS)
			FAIL("%s: accepted (%lu bytes)", cases[i].what, (unsigned long)len);
		else
			OK("%s: refused (%s)", cases[i].what, pcsc_stringify_error(rv));
	}
}

/* One request to the virtual reader's control socket for reader bus; its reply (the last line) in buf. */
static int ask(const char *sock, const char *bus, const char *req, char *buf, size_t cap)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[512];
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), len, replies = 0, rc = -1;
	struct timeval tv = { .tv_sec = 10 };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	len = snprintf(line, sizeof(line), "reader %s\n%s\nquit\n", bus, req);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write(fd, line, (size_t)len) != len)
		goto out;
	/* replies to "reader", to ours, to "quit": ours is the second line starting ok or error */
	buf[0] = 0;
	while (replies < 2 && n + 1 < cap) {
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		char *p;

		if (got <= 0)
			goto out;
		n += (size_t)got;
		buf[n] = 0;
		replies = 0;
		for (p = buf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
			if (!strncmp(p, "ok", 2) || !strncmp(p, "error:", 6))
				if (++replies == 2) {
					memmove(buf, p, strlen(p) + 1);
					break;
				}
	}
	rc = replies == 2 ? 0 : -1;
out:
	close(fd);
	return rc;
}

/* The person at the keypad: wait (bounded, 5 ms steps) until the reader waits for a PIN, then type. */
static int cmd_keys(const char *sock, const char *bus, char **keys, int nkeys)
{
	char buf[4096], req[256] = "keypad";
	struct timespec step = { .tv_nsec = 5 * 1000 * 1000 };

	for (int i = 0; i < 60 * 200; i++) {
		if (ask(sock, bus, "keypad", buf, sizeof(buf)) == 0 && !strncmp(buf, "ok waiting", 10))
			break;
		nanosleep(&step, NULL);
	}
	if (strncmp(buf, "ok waiting", 10)) {
		FAIL("the reader %s never waited for the keypad: %s", bus, buf);
		return 1;
	}
	for (int i = 0; i < nkeys; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), " %s", keys[i]);
	if (ask(sock, bus, req, buf, sizeof(buf)) < 0 || strncmp(buf, "ok", 2)) {
		FAIL("%s: %s", req, buf);
		return 1;
	}
	printf("%s", buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "--ctl") && !strcmp(argv[3], "keys"))
		return cmd_keys(argv[2], argv[4], argv + 5, argc - 5);
	if (argc < 3) {
		fprintf(stderr, "usage: pcsc-pinpad READER features|verify|modify|transmit|bad ...\n");
		return 2;
	}
	if (connect_reader(argv[1]) < 0)
		return 1;
	features();
	if (!strcmp(argv[2], "features") && argc >= 5)
		cmd_features((unsigned)strtoul(argv[3], NULL, 16), (unsigned)strtoul(argv[4], NULL, 16));
	else if (!strcmp(argv[2], "verify") && argc >= 4)
		cmd_pin(false, (unsigned)strtoul(argv[3], NULL, 16), argc >= 5 ? (uint8_t)atoi(argv[4]) : 30,
			argc >= 6 && !strcmp(argv[5], "var"));
	else if (!strcmp(argv[2], "modify") && argc >= 4)
		cmd_pin(true, (unsigned)strtoul(argv[3], NULL, 16), 30, false);
	else if (!strcmp(argv[2], "transmit") && argc >= 5)
		cmd_transmit(argv[3], (unsigned)strtoul(argv[4], NULL, 16));
	else if (!strcmp(argv[2], "bad"))
		cmd_bad();
	else {
		fprintf(stderr, "pcsc-pinpad: unknown command %s\n", argv[2]);
		return 2;
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return fails ? 1 : 0;
}
