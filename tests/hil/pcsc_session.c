/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PC/SC client that runs the virtual card's standard session through
 * pcscd (whatever driver pcscd uses) and checks every answer: SELECT by AID,
 * VERIFY (wrong then right PIN), SELECT EF, READ BINARY, ECHO of 1, 255 and
 * 256 bytes, and with --extended ECHO of 4096 bytes both ways.  T=0 61xx /
 * 6Cxx are handled as an application must (ISO 7816-4 §5.3.4; the driver
 * is not required to).  Exit status 0 when every check passed.
 *
 * --cac runs instead a session with QEMU's emulated CAC card (libcacard):
 * SELECT of its applets by AID asking for the FCI, the 61xx answer
 * followed by an explicit GET RESPONSE, then Begin/EndTransaction and
 * SCardReconnect with every disposition, the card answering after each.
 *
 * --bench SIZE measures instead COUNT (default 200) SCardTransmit of an
 * ECHO APDU of SIZE bytes in all (80 10 00 00 Le for 5, 80 10 00 00 Lc
 * data 00 up to 261, the extended form above) and prints one line:
 *   bench SIZE COUNT median_us p99_us apdus_per_s
 *
 * --hotplug follows a virtual reader (the one --name names) as it is
 * plugged in, pulled out and plugged in again while this client runs, each
 * wait a line on stdout that a script waits for before it acts:
 *   waiting for the reader      it is not listed: plug it in now
 *   holding the connection      it appeared, the card answered SELECT and
 *                               ECHO, the connection stays open: pull it
 *                               out, then write a line to stdin
 *   waiting for it to come back the held connection failed at once (how:
 *                               "error:" lines), the reader left
 *                               SCardListReaders: plug it in again
 * and then it must appear again and answer on a new connection.  Each wait
 * ends at the first PnP notification that shows the change, at the latest
 * after --wait-ms (default 90000).
 *
 * usage: pcsc-session [--reader N | --name SUBSTRING] [--extended]
 *                     [--atr HEX] [--cac] [--bench SIZE [--count N]]
 *                     [--hotplug [--wait-ms MS]]
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

#include "util/clock.h"

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

/*
 * QEMU's emulated CAC card (libcacard's cac.c): the applets it registers.
 * SELECT with P2=00 asks for the FCI; at T=0 the card answers 61xx and the
 * FCI comes with GET RESPONSE, which this sends itself.
 */
static const struct {
	const char *name;
	uint8_t aid[7];
} cac_applets[] = {
	{ "CAC PKI 0", { 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00 } },
	{ "CAC PKI 1", { 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x01 } },
	{ "CAC PKI 2", { 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x02 } },
	{ "CAC CCC", { 0xA0, 0x00, 0x00, 0x01, 0x16, 0xDB, 0x00 } },
	{ "CAC ACA", { 0xA0, 0x00, 0x00, 0x00, 0x79, 0x03, 0x00 } },
};

static bool saw_reset;          /* raw() met SCARD_W_RESET_CARD or W_UNPOWERED_CARD */

static LONG raw(const uint8_t *apdu, size_t len, uint8_t *rsp, DWORD *rsp_len)
{
	const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

	LONG rv;

	*rsp_len = RSP_MAX;
	rv = SCardTransmit(card, pci, apdu, (DWORD)len, NULL, rsp, rsp_len);
	if (rv == SCARD_W_RESET_CARD || rv == SCARD_W_UNPOWERED_CARD) {
		/* another handle's disposition (PC/SC part 5): reconnect, then again */
		printf("info: %s: reconnecting\n", pcsc_stringify_error(rv));
		saw_reset = true;
		if (SCardReconnect(card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD,
				   &protocol) != SCARD_S_SUCCESS)
			return rv;
		*rsp_len = RSP_MAX;
		rv = SCardTransmit(card, pci, apdu, (DWORD)len, NULL, rsp, rsp_len);
	}
	return rv;
}

/* SELECT by AID with the FCI asked for, and the GET RESPONSE a 61xx calls for; 1 when selected. */
static int cac_select(unsigned i)
{
	static uint8_t rsp[RSP_MAX];
	uint8_t apdu[5 + 7 + 1] = { 0x00, 0xA4, 0x04, 0x00, 0x07 };
	DWORD n;
	LONG rv;

	memcpy(apdu + 5, cac_applets[i].aid, 7);
	apdu[12] = 0x00;
	/* at T=0 a case 4 command goes without Le (ISO 7816-3 §12.2.4) */
	rv = raw(apdu, protocol == SCARD_PROTOCOL_T0 ? 12 : 13, rsp, &n);
	if (rv != SCARD_S_SUCCESS || n < 2) {
		check(false, "SELECT %s: %s, %lu bytes", cac_applets[i].name, pcsc_stringify_error(rv), (unsigned long)n);
		return 0;
	}
	if (rsp[n - 2] == 0x61) {
		uint8_t get_response[5] = { 0x00, 0xC0, 0x00, 0x00, rsp[n - 1] };
		uint8_t want = rsp[n - 1];

		rv = raw(get_response, 5, rsp, &n);
		check(rv == SCARD_S_SUCCESS && n == (DWORD)(want ? want : 256) + 2 && rsp[n - 2] == 0x90 && rsp[n - 1] == 0,
		      "SELECT %s: 61%02X, GET RESPONSE: %lu bytes of FCI, SW %02X%02X", cac_applets[i].name, want,
		      (unsigned long)(n >= 2 ? n - 2 : 0), n >= 2 ? rsp[n - 2] : 0, n >= 2 ? rsp[n - 1] : 0);
		return rv == SCARD_S_SUCCESS && n >= 2 && rsp[n - 2] == 0x90;
	}
	printf("info: SELECT %s: SW %02X%02X, %lu bytes\n", cac_applets[i].name, rsp[n - 2], rsp[n - 1],
	       (unsigned long)n - 2);
	return rsp[n - 2] == 0x90;
}

/* After a RESET or UNPOWER disposition pcscd answers W_RESET_CARD once; reconnect then. */
static int cac_ready(void)
{
	return cac_select(0);
}

static void cac_session(void)
{
	static const struct {
		DWORD disp;
		const char *name;
	} disp[] = {
		{ SCARD_LEAVE_CARD, "LEAVE" },
		{ SCARD_RESET_CARD, "RESET" },
		{ SCARD_UNPOWER_CARD, "UNPOWER" },
		{ SCARD_EJECT_CARD, "EJECT" },
	};
	unsigned selected = 0;
	LONG rv;

	for (unsigned i = 0; i < sizeof(cac_applets) / sizeof(cac_applets[0]); i++)
		selected += (unsigned)cac_select(i);
	check(selected >= 3, "%u of %zu CAC applets selected", selected, sizeof(cac_applets) / sizeof(cac_applets[0]));
	for (unsigned i = 0; i < 4; i++) {
		rv = SCardBeginTransaction(card);
		if (rv != SCARD_S_SUCCESS) {
			check(false, "SCardBeginTransaction: %s", pcsc_stringify_error(rv));
			continue;
		}
		cac_select(1);
		saw_reset = false;
		rv = SCardEndTransaction(card, disp[i].disp);
		if (disp[i].disp == SCARD_EJECT_CARD && rv == SCARD_E_UNSUPPORTED_FEATURE) {
			/* pcscd 1.9.9 refuses EJECT without asking the driver */
			printf("info: SCardEndTransaction(EJECT): pcscd answers %s\n", pcsc_stringify_error(rv));
			SCardEndTransaction(card, SCARD_LEAVE_CARD);
		} else {
			check(rv == SCARD_S_SUCCESS, "SCardEndTransaction(%s): %s", disp[i].name, pcsc_stringify_error(rv));
		}
		check(cac_ready(), "the card answers after the %s transaction", disp[i].name);
		/* RESET and UNPOWER reached the card: pcscd says so to the handle once */
		if (disp[i].disp == SCARD_RESET_CARD || disp[i].disp == SCARD_UNPOWER_CARD)
			check(saw_reset, "after EndTransaction(%s) pcscd reported the card reset", disp[i].name);
		else
			check(!saw_reset, "after EndTransaction(%s) the card was not reset", disp[i].name);
	}
	for (unsigned i = 0; i < 3; i++) {
		rv = SCardReconnect(card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, disp[i].disp,
				    &protocol);
		check(rv == SCARD_S_SUCCESS && cac_ready(), "SCardReconnect(%s): %s, the card answers after",
		      disp[i].name, pcsc_stringify_error(rv));
	}
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* COUNT ECHO round trips of a SIZE-byte APDU; every answer checked. */
static void bench(size_t size, unsigned count)
{
	static uint8_t apdu[65544], rsp[RSP_MAX];
	const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	size_t len, want;
	long *us = calloc(count, sizeof(*us)), total = 0;
	int64_t t0, all;
	DWORD n;

	if (!us)
		return;
	memcpy(apdu, (const uint8_t[]){ 0x80, 0x10, 0x00, 0x00 }, 4);
	if (size <= 5) {                        /* case 2: Le pattern bytes */
		apdu[4] = 0x02;
		len = 5;
		want = 2;
	} else if (size <= 261) {               /* case 4 short: Lc data Le=00 */
		want = size - 6;
		apdu[4] = (uint8_t)want;
		for (size_t i = 0; i < want; i++)
			apdu[5 + i] = (uint8_t)(i * 3 + 1);
		apdu[5 + want] = 0x00;
		len = size;
	} else {                                /* case 4 extended: 00 Lc1 Lc2 data Le1 Le2 */
		want = size - 9;
		apdu[4] = 0x00;
		apdu[5] = (uint8_t)(want >> 8);
		apdu[6] = (uint8_t)want;
		for (size_t i = 0; i < want; i++)
			apdu[7 + i] = (uint8_t)(i * 3 + 1);
		apdu[7 + want] = apdu[8 + want] = 0x00;
		len = size;
	}
	all = uccid_mono_us();
	for (unsigned i = 0; i < count; i++) {
		LONG rv;

		t0 = uccid_mono_us();
		n = RSP_MAX;
		rv = SCardTransmit(card, pci, apdu, (DWORD)len, NULL, rsp, &n);
		us[i] = (long)(uccid_mono_us() - t0);
		if (rv != SCARD_S_SUCCESS || n != want + 2 || rsp[n - 2] != 0x90) {
			check(false, "bench %zu: transmit %u: %s, %lu bytes", size, i, pcsc_stringify_error(rv),
			      (unsigned long)n);
			free(us);
			return;
		}
	}
	total = (long)(uccid_mono_us() - all);
	qsort(us, count, sizeof(*us), cmp_long);
	printf("bench %zu %u %ld %ld %.1f\n", size, count, us[count / 2], us[count * 99 / 100],
	       count * 1e6 / (double)(total > 0 ? total : 1));
	check(true, "bench %zu: %u round trips", size, count);
	free(us);
}

/* PC/SC's name of a return code, for the report (pcsc_stringify_error gives only the text). */
static const char *rv_name(LONG rv)
{
	static const struct {
		LONG rv;
		const char *name;
	} names[] = {
		{ SCARD_S_SUCCESS, "SCARD_S_SUCCESS" },
		{ SCARD_E_NO_SMARTCARD, "SCARD_E_NO_SMARTCARD" },
		{ SCARD_W_REMOVED_CARD, "SCARD_W_REMOVED_CARD" },
		{ SCARD_E_READER_UNAVAILABLE, "SCARD_E_READER_UNAVAILABLE" },
		{ SCARD_E_UNKNOWN_READER, "SCARD_E_UNKNOWN_READER" },
		{ SCARD_E_INVALID_HANDLE, "SCARD_E_INVALID_HANDLE" },
		{ SCARD_E_INVALID_VALUE, "SCARD_E_INVALID_VALUE" },
		{ SCARD_E_NOT_TRANSACTED, "SCARD_E_NOT_TRANSACTED" },
		{ SCARD_E_NO_SERVICE, "SCARD_E_NO_SERVICE" },
		{ SCARD_E_TIMEOUT, "SCARD_E_TIMEOUT" },
		{ SCARD_F_COMM_ERROR, "SCARD_F_COMM_ERROR" },
		{ SCARD_F_INTERNAL_ERROR, "SCARD_F_INTERNAL_ERROR" },
		{ SCARD_W_RESET_CARD, "SCARD_W_RESET_CARD" },
		{ SCARD_W_UNPOWERED_CARD, "SCARD_W_UNPOWERED_CARD" },
		{ SCARD_W_UNRESPONSIVE_CARD, "SCARD_W_UNRESPONSIVE_CARD" },
	};
	static char other[24];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(other, sizeof(other), "0x%08lX", (unsigned long)(uint32_t)rv);
	return other;
}

/* The first reader whose name contains SUBSTRING, copied to name: 1, 0 when none is, -1 on an error. */
static int find_reader(SCARDCONTEXT ctx, const char *substring, char *name, size_t cap)
{
	char readers[8192];
	DWORD len = sizeof(readers);
	LONG rv = SCardListReaders(ctx, NULL, readers, &len);

	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return 0;
	if (rv != SCARD_S_SUCCESS) {
		printf("error: SCardListReaders: %s\n", rv_name(rv));
		return -1;
	}
	for (const char *p = readers; *p; p += strlen(p) + 1) {
		if (strstr(p, substring)) {
			snprintf(name, cap, "%s", p);
			return 1;
		}
	}
	return 0;
}

/*
 * Wait until a reader whose name contains SUBSTRING is listed (listed true)
 * or no longer is, woken by pcscd's PnP notification (PC/SC part 5: its
 * event state carries the number of readers in the high word); the time
 * that took in ms, or -1 when wait_ms passed first or pcscd failed.
 */
static long wait_listed(SCARDCONTEXT ctx, const char *substring, bool listed, char *name, size_t cap, long wait_ms)
{
	SCARD_READERSTATE pnp = { .szReader = "\\\\?PnP?\\Notification", .dwCurrentState = SCARD_STATE_UNAWARE };
	int64_t t0 = uccid_mono_ms();

	for (;;) {
		int found = find_reader(ctx, substring, name, cap);
		long spent = (long)(uccid_mono_ms() - t0);
		LONG rv;

		if (found < 0)
			return -1;
		if ((found == 1) == listed)
			return spent;
		if (spent >= wait_ms)
			return -1;
		rv = SCardGetStatusChange(ctx, (DWORD)(wait_ms - spent), &pnp, 1);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			printf("error: SCardGetStatusChange(PnP): %s\n", rv_name(rv));
			return -1;
		}
		pnp.dwCurrentState = pnp.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
}

/* Connect to the reader and check that the card answers: SELECT of the application, ECHO. */
static bool hotplug_use(SCARDCONTEXT ctx, const char *name, const char *when)
{
	static const uint8_t select_aid[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };
	int before = failures;
	LONG rv;

	/* pcscd may list the reader before its first card event: a connect may meet no card yet */
	for (int i = 0; i < 50; i++) {
		SCARD_READERSTATE st = { .szReader = name, .dwCurrentState = SCARD_STATE_UNAWARE };

		rv = SCardConnect(ctx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
		if (rv != SCARD_E_NO_SMARTCARD)
			break;
		/* wait for the card's arrival (or 200 ms), not for a fixed time */
		if (SCardGetStatusChange(ctx, 0, &st, 1) == SCARD_S_SUCCESS) {
			st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
			SCardGetStatusChange(ctx, 200, &st, 1);
		}
	}
	check(rv == SCARD_S_SUCCESS, "%s: SCardConnect: %s", when, rv_name(rv));
	if (rv != SCARD_S_SUCCESS)
		return false;
	expect_sw("SELECT AID", select_aid, sizeof(select_aid), 0x9000);
	echo(16);
	return failures == before;
}

/*
 * --hotplug: the reader appears, works, leaves while a connection is held
 * (which must then fail cleanly), and comes back.
 */
static int hotplug(SCARDCONTEXT ctx, const char *substring, long wait_ms)
{
	char name[512] = "";
	static const uint8_t echo1[] = { 0x80, 0x10, 0x00, 0x00, 0x01 };
	uint8_t rsp[64];
	DWORD n, state, rdr_len = 0, atr_len = 33, proto;
	uint8_t atr[33];
	char line[64];
	long ms;
	LONG rv;

	if (find_reader(ctx, substring, name, sizeof(name))) {
		check(false, "a reader named *%s* is listed before it was plugged in: %s", substring, name);
		return 1;
	}
	printf("waiting for the reader\n");
	ms = wait_listed(ctx, substring, true, name, sizeof(name), wait_ms);
	check(ms >= 0, "appeared: %s after %ld ms", ms >= 0 ? name : "no reader", ms);
	if (ms < 0 || !hotplug_use(ctx, name, "first plug"))
		return 1;
	printf("holding the connection\n");
	/* the device is gone when the script says so: the application's next command */
	if (!fgets(line, sizeof(line), stdin))
		printf("info: stdin ended: the reader may not be pulled out yet\n");
	n = sizeof(rsp);
	ms = (long)uccid_mono_ms();
	rv = SCardTransmit(card, protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1, echo1, sizeof(echo1),
			   NULL, rsp, &n);
	ms = (long)uccid_mono_ms() - ms;
	printf("error: SCardTransmit on the held connection, right after the detach: %s after %ld ms\n", rv_name(rv), ms);
	check(rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_READER_UNAVAILABLE,
	      "the held connection fails cleanly: %s (%s)", rv_name(rv), pcsc_stringify_error(rv));
	ms = wait_listed(ctx, substring, false, name, sizeof(name), wait_ms);
	check(ms >= 0, "gone from SCardListReaders after %ld ms", ms);
	if (ms < 0)
		return 1;
	n = sizeof(rsp);
	rv = SCardTransmit(card, protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1, echo1, sizeof(echo1),
			   NULL, rsp, &n);
	printf("info: SCardTransmit once the reader is gone: %s\n", rv_name(rv));
	rv = SCardStatus(card, NULL, &rdr_len, &state, &proto, atr, &atr_len);
	printf("info: SCardStatus: %s\n", rv_name(rv));
	rv = SCardDisconnect(card, SCARD_LEAVE_CARD);
	printf("info: SCardDisconnect: %s\n", rv_name(rv));
	printf("waiting for it to come back\n");
	ms = wait_listed(ctx, substring, true, name, sizeof(name), wait_ms);
	check(ms >= 0, "back: %s after %ld ms", ms >= 0 ? name : "no reader", ms);
	if (ms >= 0 && hotplug_use(ctx, name, "second plug"))
		SCardDisconnect(card, SCARD_UNPOWER_CARD);
	return failures ? 1 : 0;
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
		{ "name", required_argument, NULL, 'n' },
		{ "cac", no_argument, NULL, 'C' },
		{ "bench", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "hotplug", no_argument, NULL, 'H' },
		{ "wait-ms", required_argument, NULL, 'w' },
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
	const char *substring = NULL;
	size_t bench_size = 0;
	unsigned bench_count = 200;
	bool extended = false, cac = false, hot = false;
	long wait_ms = 90000;
	size_t n;
	long rv;

	setvbuf(stdout, NULL, _IOLBF, 0);       /* a script waits for lines */
	while ((c = getopt_long(argc, argv, "r:ea:n:Cb:c:Hw:", longopts, NULL)) != -1) {
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
		case 'n':
			substring = optarg;
			break;
		case 'C':
			cac = true;
			break;
		case 'b':
			bench_size = (size_t)atol(optarg);
			break;
		case 'c':
			bench_count = (unsigned)atoi(optarg);
			break;
		case 'H':
			hot = true;
			break;
		case 'w':
			wait_ms = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: pcsc-session [--reader N | --name SUBSTRING] [--extended] [--atr HEX]\n"
					"                    [--cac] [--bench SIZE [--count N]] [--hotplug [--wait-ms MS]]\n");
			return 2;
		}
	}
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	if (hot) {
		if (!substring || wait_ms < 1) {
			printf("FAIL: --hotplug needs --name SUBSTRING (and a --wait-ms of at least 1)\n");
			return 2;
		}
		rv = hotplug(ctx, substring, wait_ms);
		SCardReleaseContext(ctx);
		printf("%d passed, %d failed\n", checks - failures, failures);
		return (int)rv;
	}
	rv = SCardListReaders(ctx, NULL, readers, &rlen);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL: SCardListReaders: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	name = readers;
	for (int i = 0; !substring && i < index && *name; i++)
		name += strlen(name) + 1;
	while (substring && *name && !strstr(name, substring))
		name += strlen(name) + 1;
	if (!*name) {
		printf("FAIL: no reader %d%s%s\n", index, substring ? " named " : "", substring ? substring : "");
		return 1;
	}
	if (bench_size && (bench_size < 5 || bench_size > 65544 || bench_count < 1)) {
		printf("FAIL: bench size 5 to 65544, count at least 1\n");
		return 2;
	}
	printf("reader: %s\n", name);
	rv = SCardConnect(ctx, name, cac ? SCARD_SHARE_SHARED : SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
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
	if (cac || bench_size) {
		if (cac)
			cac_session();
		else
			bench(bench_size, bench_count);
		SCardDisconnect(card, SCARD_LEAVE_CARD);
		SCardReleaseContext(ctx);
		printf("%d passed, %d failed\n", checks - failures, failures);
		return failures ? 1 : 0;
	}

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
