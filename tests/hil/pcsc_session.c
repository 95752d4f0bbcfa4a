/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PC/SC client that runs the virtual card's standard session through
 * pcscd (whatever driver pcscd uses) and checks every answer: SELECT by AID,
 * VERIFY (wrong then right PIN), SELECT EF, READ BINARY, ECHO of 1, 255 and
 * 256 bytes, and with --extended ECHO of 4096 bytes both ways.  T=0 61xx /
 * 6Cxx are handled as an application must (ISO 7816-4 §5.3.4; the driver
 * is not required to).  Exit status 0 when every check passed.
 *
 * usage: pcsc-session [--reader N] [--extended] [--atr HEX]
 */
#include "config.h"

#include <PCSC/winscard.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSP_MAX 65538

static SCARDHANDLE card;
static DWORD protocol;
static int failures, checks;

static void check(bool ok, const char *what, ...) __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *what, ...)
{
	va_list ap;

	checks++;
	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, what);
	vprintf(what, ap);
	va_end(ap);
	printf("\n");
	failures += !ok;
}

/* Transmit, following 61xx with GET RESPONSE and 6Cxx with a corrected Le. */
static long transmit(const uint8_t *apdu, size_t len, uint8_t *rsp, size_t *rsp_len)
{
	const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	uint8_t cmd[65544];
	size_t total = 0;
	DWORD n;
	long rv;

	memcpy(cmd, apdu, len);
	for (int round = 0; round < 300; round++) {
		n = (DWORD)(RSP_MAX - total);
		rv = SCardTransmit(card, pci, cmd, (DWORD)len, NULL, rsp + total, &n);
		if (rv != SCARD_S_SUCCESS)
			return rv;
		if (n < 2)
			return SCARD_F_UNKNOWN_ERROR;
		if (rsp[total + n - 2] == 0x6C && len == 5) {
			cmd[4] = rsp[total + n - 1];
			continue;
		}
		if (rsp[total + n - 2] == 0x61) {
			uint8_t le = rsp[total + n - 1];

			total += n - 2;
			cmd[0] = apdu[0];
			cmd[1] = 0xC0;
			cmd[2] = cmd[3] = 0;
			cmd[4] = le;
			len = 5;
			continue;
		}
		total += n;
		*rsp_len = total;
		return SCARD_S_SUCCESS;
	}
	return SCARD_F_UNKNOWN_ERROR;
}

static uint16_t run(const char *name, const uint8_t *apdu, size_t len, uint8_t *rsp, size_t *rsp_len)
{
	long rv = transmit(apdu, len, rsp, rsp_len);

	if (rv != SCARD_S_SUCCESS) {
		check(false, "%s: %s", name, pcsc_stringify_error(rv));
		*rsp_len = 0;
		return 0;
	}
	return (uint16_t)(rsp[*rsp_len - 2] << 8 | rsp[*rsp_len - 1]);
}

static void expect_sw(const char *name, const uint8_t *apdu, size_t len, uint16_t want)
{
	static uint8_t rsp[RSP_MAX];
	size_t n;
	uint16_t sw = run(name, apdu, len, rsp, &n);

	if (n)
		check(sw == want, "%s: SW %04X (want %04X)", name, sw, want);
}

static void echo(size_t size)
{
	static uint8_t rsp[RSP_MAX];
	uint8_t apdu[8] = { 0x80, 0x10, 0x00, 0x00 };
	size_t len, n;
	uint16_t sw;
	bool pattern = true;
	char name[32];

	if (size <= 256) {
		apdu[4] = (uint8_t)size;
		len = 5;
	} else {
		apdu[4] = 0;
		apdu[5] = (uint8_t)(size >> 8);
		apdu[6] = (uint8_t)size;
		len = 7;
	}
	snprintf(name, sizeof(name), "ECHO %zu", size);
	sw = run(name, apdu, len, rsp, &n);
	if (!n)
		return;
	for (size_t i = 0; i + 2 < n; i++)
		pattern &= rsp[i] == (i & 0xFF);
	check(sw == 0x9000 && n == size + 2 && pattern, "%s: %zu bytes, SW %04X, pattern %s", name, n - 2, sw,
	      pattern ? "right" : "WRONG");
}

/* ECHO with data both ways: an extended command APDU and response. */
static void echo_data(size_t size)
{
	static uint8_t apdu[65544], rsp[RSP_MAX];
	size_t n;
	uint16_t sw;
	char name[48];

	apdu[0] = 0x80;
	apdu[1] = 0x10;
	apdu[2] = apdu[3] = 0;
	apdu[4] = 0;
	apdu[5] = (uint8_t)(size >> 8);
	apdu[6] = (uint8_t)size;
	for (size_t i = 0; i < size; i++)
		apdu[7 + i] = (uint8_t)(i * 7 + 3);
	apdu[7 + size] = 0;
	apdu[8 + size] = 0;
	snprintf(name, sizeof(name), "ECHO %zu bytes of data", size);
	sw = run(name, apdu, 9 + size, rsp, &n);
	if (n)
		check(sw == 0x9000 && n == size + 2 && !memcmp(rsp, apdu + 7, size), "%s: %zu back, SW %04X", name,
		      n - 2, sw);
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (*hex) {
		if (*hex == ' ' || *hex == ':') {
			hex++;
			continue;
		}
		if (n == cap || sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reader", required_argument, NULL, 'r' },
		{ "extended", no_argument, NULL, 'e' },
		{ "atr", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint8_t select_aid[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };
	static const uint8_t verify_bad[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '0', '0', '0', '0', '0', '0' };
	static const uint8_t verify_ok[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6' };
	static const uint8_t verify_state[] = { 0x00, 0x20, 0x00, 0x80 };
	static const uint8_t select_ef[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01 };
	static const uint8_t read_16[] = { 0x00, 0xB0, 0x00, 0x20, 0x10 };
	static uint8_t rsp[RSP_MAX];
	SCARDCONTEXT ctx;
	char readers[4096], *name;
	DWORD rlen = sizeof(readers), atr_len = 33, state, rdr_len = 0;
	uint8_t atr[33], want_atr[33];
	int index = 0, want_atr_len = -1, c;
	bool extended = false;
	size_t n;
	long rv;

	while ((c = getopt_long(argc, argv, "r:ea:", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			index = atoi(optarg);
			break;
		case 'e':
			extended = true;
			break;
		case 'a':
			want_atr_len = hex_to_bytes(optarg, want_atr, sizeof(want_atr));
			break;
		default:
			fprintf(stderr, "usage: pcsc-session [--reader N] [--extended] [--atr HEX]\n");
			return 2;
		}
	}
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	rv = SCardListReaders(ctx, NULL, readers, &rlen);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL: SCardListReaders: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	name = readers;
	for (int i = 0; i < index && *name; i++)
		name += strlen(name) + 1;
	if (!*name) {
		printf("FAIL: no reader %d\n", index);
		return 1;
	}
	printf("reader: %s\n", name);
	rv = SCardConnect(ctx, name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL: SCardConnect: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	printf("protocol: T=%d\n", protocol == SCARD_PROTOCOL_T0 ? 0 : 1);
	rv = SCardStatus(card, NULL, &rdr_len, &state, &protocol, atr, &atr_len);
	check(rv == SCARD_S_SUCCESS, "SCardStatus: %s", pcsc_stringify_error(rv));
	if (want_atr_len > 0)
		check(atr_len == (DWORD)want_atr_len && !memcmp(atr, want_atr, atr_len), "ATR as configured (%lu bytes)",
		      (unsigned long)atr_len);

	expect_sw("SELECT AID", select_aid, sizeof(select_aid), 0x9000);
	expect_sw("VERIFY wrong PIN", verify_bad, sizeof(verify_bad), 0x63C2);
	expect_sw("VERIFY right PIN", verify_ok, sizeof(verify_ok), 0x9000);
	expect_sw("VERIFY state", verify_state, sizeof(verify_state), 0x9000);
	expect_sw("SELECT EF", select_ef, sizeof(select_ef), 0x9000);
	if (run("READ BINARY", read_16, sizeof(read_16), rsp, &n) == 0x9000) {
		bool right = n == 18;

		for (size_t i = 0; right && i < 16; i++)
			right = rsp[i] == 0x20 + i;
		check(right, "READ BINARY 16 bytes at 0020: content %s", right ? "right" : "WRONG");
	} else {
		check(false, "READ BINARY");
	}
	echo(1);
	echo(255);
	echo(256);
	if (extended) {
		echo(4096);
		echo_data(4096);
	}
	/* A reset loses the PIN state (the card's security state, ISO 7816-4 §5.4). */
	rv = SCardReconnect(card, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD,
			    &protocol);
	check(rv == SCARD_S_SUCCESS, "SCardReconnect(RESET): %s", pcsc_stringify_error(rv));
	expect_sw("VERIFY state after reset", verify_state, sizeof(verify_state), 0x63C3);
	SCardDisconnect(card, SCARD_UNPOWER_CARD);
	SCardReleaseContext(ctx);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
