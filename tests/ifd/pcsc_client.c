/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PC/SC client for tests/ifd/pcscd.sh: drives pcscd (with uccid's IFD
 * handler) through libpcsclite and checks, in the virtual reader's journal
 * (its control socket), which CCID commands each PC/SC call produced.
 *   pcsc-client [--ctl SOCK --bus BUSID] CMD READER [ARGS]
 * READER is a substring of the pcscd reader name.  Commands:
 *   session [--extended]   connect, transmit, reconnect, transactions and
 *                          disconnects with every disposition
 *   events SLOT            insert/remove seen by SCardGetStatusChange < 1 s
 *   hold                   connect, begin a transaction, wait to be killed
 *   after-kill FROM        the card was reset after FROM, before our APDU
 *                          (SCardConnect retried while pcscd cleans up
 *                          after the holder, see cmd_after_kill)
 *   fault NAME MS [COUNT [recover]]  the fault (on COUNT answers, 0: all
 *                          until cleared) gives a PC/SC error within MS
 *                          ("recover": or a success, a transient fault the
 *                          driver recovered from), then the reader works again
 *   control ESCAPE(0|1)    SCardControl: features, properties, escape,
 *                          generation, lock holder, eject
 *   bench N                N SCardTransmit round trips, prints the rate
 *   swaps N                N cards swapped with no gap (control socket "swap")
 *                          while a connection is held: each swap reaches
 *                          pcscd as a removal and an insertion, the held
 *                          handle gets SCARD_W_REMOVED_CARD, a new connection
 *                          works
 *   limits                 the part 10 dwMaxAPDUDataSize tells the truth: an
 *                          extended APDU goes through where it says so, and
 *                          where it says 0 fails with nothing sent
 *   attrs ATR              every SCARD_ATTR_* through SCardGetAttrib, with a
 *                          large and a short buffer, compared with what the
 *                          virtual reader exports (control socket "device"),
 *                          its journal and ATR; prints the table
 *   atrs FILE              each ATR of FILE (hex, one a line) set by the control
 *                          socket and a card swapped in: pcscd powers it up,
 *                          reports the ATR as sent, SELECT answers 9000; an
 *                          ATR pcscd refuses to connect to with T=0 or T=1
 *                          (SCARD_E_PROTO_MISMATCH) is printed "proto-mismatch HEX"
 *   protocol T0|T1 ...     one SCardConnect per argument allowing only that
 *                          protocol (pcscd: IFDHSetProtocolParameters): the
 *                          protocol is the connection's, an APDU goes
 *                          through, and the journal shows a PPS and
 *                          SetParameters for it after the last power-up
 * Prints "ok ..." or "FAIL ..." lines; exit status 0 when nothing failed.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <reader.h>
#include <winscard.h>

#include "util/clock.h"

#define IOCTL_UCCID_EJECT SCARD_CTL_CODE(0x756301)
#define IOCTL_UCCID_LOCK_HOLDER SCARD_CTL_CODE(0x756302)
#define IOCTL_UCCID_GENERATION SCARD_CTL_CODE(0x756303)
#define IOCTL_UCCID_ESCAPE SCARD_CTL_CODE(1)

static const char *ctl_path, *bus = "1-1";
static SCARDCONTEXT ctx;
static char reader[256];
static int fails;

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	fails++;
}

static void __attribute__((format(printf, 1, 2))) ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ok ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* One request to the virtual reader's control socket; the reply (ending in ok/error) in buf. */
static int ask(const char *req, char *buf, size_t cap)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = 0;
	int fd, rc = -1;

	if (!ctl_path)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", ctl_path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	{
		char line[512];
		int len = snprintf(line, sizeof(line), "reader %s\n%s\n", bus, req);

		if (write(fd, line, (size_t)len) != len)
			goto out;
	}
	/* two replies: the "reader" one, then ours */
	buf[0] = '\0';
	for (int replies = 0; replies < 2;) {
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		char *p;

		if (got <= 0)
			goto out;
		n += (size_t)got;
		buf[n] = '\0';
		replies = 0;
		for (p = buf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
			if (!strncmp(p, "ok", 2) || !strncmp(p, "error:", 6))
				replies++;
		if (n + 1 >= cap)
			goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static char jbuf[1 << 20];

/*
 * The journal of slot from index *from on; *from moves past its last entry
 * (entries are "INDEX host|reader ..." lines; indices run on across a
 * "journal clear", so counting entries would not do).
 */
static const char *journal(unsigned slot, unsigned *from)
{
	char req[64];
	unsigned idx;

	snprintf(req, sizeof(req), "journal %u %u", slot, *from);
	if (ask(req, jbuf, sizeof(jbuf)) < 0)
		return "";
	for (const char *q = jbuf; *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q))
		if (sscanf(q, "%u ", &idx) == 1 && idx >= *from)
			*from = idx + 1;
	return jbuf;
}

static unsigned count(const char *text, const char *what)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static int find_reader(const char *sub)
{
	char buf[4096];
	DWORD len = sizeof(buf);

	if (SCardListReaders(ctx, NULL, buf, &len) != SCARD_S_SUCCESS)
		return -1;
	buf[sizeof(buf) - 1] = '\0';   /* pcscd's multi-string, not trusted to end */
	for (char *p = buf; p < buf + sizeof(buf) && *p; p += strlen(p) + 1) {
		size_t n = strlen(p);

		if (strstr(p, sub) && n < sizeof(reader)) {
			memcpy(reader, p, n + 1);
			return 0;
		}
	}
	return -1;
}

static LONG xmit(SCARDHANDLE h, DWORD proto, const uint8_t *apdu, size_t len, uint8_t *rsp, DWORD *rlen)
{
	const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

	return SCardTransmit(h, pci, apdu, (DWORD)len, NULL, rsp, rlen);
}

static const uint8_t select_app[] = { 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x75, 0x63, 0x63, 0x69, 0x64, 0x01 };

static int select_ok(SCARDHANDLE h, DWORD proto)
{
	uint8_t rsp[258];
	DWORD rlen = sizeof(rsp);
	LONG rv = xmit(h, proto, select_app, sizeof(select_app), rsp, &rlen);

	return rv == SCARD_S_SUCCESS && rlen == 2 && rsp[0] == 0x90 && rsp[1] == 0x00 ? 0 : -1;
}

/*
 * The handle usable again: after a RESET or UNPOWER disposition, pcscd
 * answers the next call of every handle with SCARD_W_RESET_CARD /
 * SCARD_W_UNPOWERED_CARD until it reconnects (PC/SC part 5).
 */
static int ready(SCARDHANDLE h, DWORD *proto)
{
	if (select_ok(h, *proto) == 0)
		return 0;
	if (SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD, proto) !=
	    SCARD_S_SUCCESS)
		return -1;
	return select_ok(h, *proto);
}

/* What a disposition must produce in the journal (pcscd's mapping, reference §2). */
static void check_disposition(const char *what, DWORD disp, const char *j)
{
	unsigned on = count(j, "host PC_to_RDR_IccPowerOn"), off = count(j, "host PC_to_RDR_IccPowerOff");
	unsigned warm = count(j, " warm");

	switch (disp) {
	case SCARD_LEAVE_CARD:
	case SCARD_EJECT_CARD:          /* pcscd does not pass EJECT to a driver */
		if (on || off)
			fail("%s: the journal shows %u power-on, %u power-off, want none", what, on, off);
		else
			ok("%s: no power command", what);
		break;
	case SCARD_RESET_CARD: {
		/* an IccPowerOff after the reset is pcscd's own: it powers an idle card down once
		   its grace period after the last disconnect ran out, which a slow run can reach */
		const char *first_warm = strstr(j, " warm"), *first_off = strstr(j, "host PC_to_RDR_IccPowerOff");

		if (!first_warm || (first_off && first_off < first_warm))
			fail("%s: want a warm IccPowerOn and no IccPowerOff before it, got %u warm, %u off", what, warm,
			     off);
		else
			ok("%s: warm reset (IccPowerOn while powered)", what);
		break;
	}
	case SCARD_UNPOWER_CARD:
		if (off < 1)
			fail("%s: want an IccPowerOff, got none", what);
		else
			ok("%s: IccPowerOff", what);
		break;
	}
}

static const char *disp_name(DWORD d)
{
	switch (d) {
	case SCARD_LEAVE_CARD: return "LEAVE";
	case SCARD_RESET_CARD: return "RESET";
	case SCARD_UNPOWER_CARD: return "UNPOWER";
	case SCARD_EJECT_CARD: return "EJECT";
	}
	return "?";
}

static const DWORD dispositions[] = { SCARD_LEAVE_CARD, SCARD_RESET_CARD, SCARD_UNPOWER_CARD, SCARD_EJECT_CARD };

static int connect_card(SCARDHANDLE *h, DWORD share, DWORD *proto)
{
	LONG rv = SCardConnect(ctx, reader, share, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, h, proto);

	if (rv != SCARD_S_SUCCESS) {
		fail("SCardConnect: %s", pcsc_stringify_error(rv));
		return -1;
	}
	return 0;
}

static void cmd_session(bool extended)
{
	SCARDHANDLE h;
	DWORD proto, rlen;
	unsigned mark = 0;
	const char *j;
	uint8_t apdu[8 + 4096], rsp[8 + 4096];
	char what[64];
	LONG rv;

	journal(0, &mark);
	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	ok("SCardConnect T=%d", proto == SCARD_PROTOCOL_T0 ? 0 : 1);
	journal(0, &mark);

	/* a short APDU: one XfrBlock carrying it (TPDU T=1 wraps it in a block) */
	if (select_ok(h, proto) < 0)
		fail("SELECT did not answer 9000");
	j = journal(0, &mark);
	if (!strstr(j, "host PC_to_RDR_XfrBlock") || !strstr(j, "00A4040C07F0"))
		fail("SELECT: no XfrBlock with the APDU in the journal");
	else
		ok("short APDU: XfrBlock with 00A4040C07F0...");

	/* ECHO 80 10 P1P2=0 with 200 bytes: a short APDU with data both ways */
	memcpy(apdu, (const uint8_t[]){ 0x80, 0x10, 0x00, 0x00, 200 }, 5);
	for (int i = 0; i < 200; i++)
		apdu[5 + i] = (uint8_t)(i * 7);
	apdu[205] = 0x00;
	rlen = sizeof(rsp);
	rv = xmit(h, proto, apdu, 206, rsp, &rlen);
	if (rv != SCARD_S_SUCCESS || rlen != 202 || memcmp(rsp, apdu + 5, 200) || rsp[200] != 0x90)
		fail("short ECHO of 200 bytes: %s, %lu bytes", pcsc_stringify_error(rv), (unsigned long)rlen);
	else
		ok("short ECHO of 200 bytes");
	journal(0, &mark);

	if (extended) {
		/* extended ECHO: 3000 bytes in, 3000 + 100 pattern bytes out (Le 0000 = up to 65536) */
		unsigned n = 3000;

		memcpy(apdu, (const uint8_t[]){ 0x80, 0x10, 0x00, 100, 0x00, (uint8_t)(n >> 8), (uint8_t)n }, 7);
		for (unsigned i = 0; i < n; i++)
			apdu[7 + i] = (uint8_t)(i * 13 + 1);
		apdu[7 + n] = 0x00;
		apdu[8 + n] = 0x00;
		rlen = sizeof(rsp);
		rv = xmit(h, proto, apdu, 9 + n, rsp, &rlen);
		if (rv != SCARD_S_SUCCESS || rlen != n + 100 + 2 || memcmp(rsp, apdu + 7, n) ||
		    rsp[n + 100] != 0x90 || rsp[n + 100 + 1] != 0x00)
			fail("extended ECHO of %u bytes: %s, %lu bytes", n, pcsc_stringify_error(rv), (unsigned long)rlen);
		else
			ok("extended ECHO of %u bytes in, %u out", n, n + 100);
		j = journal(0, &mark);
		/* 271-byte messages: the APDU needs >= 12 chained XfrBlocks, the answer as many */
		if (count(j, "host PC_to_RDR_XfrBlock") < 12)
			fail("extended APDU: %u XfrBlocks, want chaining (>= 12)", count(j, "host PC_to_RDR_XfrBlock"));
		else
			ok("extended APDU: %u XfrBlocks (chained)", count(j, "host PC_to_RDR_XfrBlock"));
	}

	/* SCardReconnect with each disposition but EJECT */
	for (int i = 0; i < 3; i++) {
		journal(0, &mark);
		rv = SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, dispositions[i],
				    &proto);
		snprintf(what, sizeof(what), "SCardReconnect %s", disp_name(dispositions[i]));
		if (rv != SCARD_S_SUCCESS) {
			fail("%s: %s", what, pcsc_stringify_error(rv));
			continue;
		}
		check_disposition(what, dispositions[i], journal(0, &mark));
		if (ready(h, &proto) < 0)
			fail("%s: SELECT after it failed", what);
	}

	/* Begin/EndTransaction with every disposition */
	for (int i = 0; i < 4; i++) {
		if (ready(h, &proto) < 0)           /* the card powered before each */
			fail("SELECT before transaction %d", i);
		rv = SCardBeginTransaction(h);
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardBeginTransaction: %s", pcsc_stringify_error(rv));
			continue;
		}
		if (select_ok(h, proto) < 0)
			fail("SELECT inside transaction %d", i);
		journal(0, &mark);
		rv = SCardEndTransaction(h, dispositions[i]);
		snprintf(what, sizeof(what), "SCardEndTransaction %s", disp_name(dispositions[i]));
		if (dispositions[i] == SCARD_EJECT_CARD && rv == SCARD_E_UNSUPPORTED_FEATURE) {
			/* pcscd 1.9.9 refuses EJECT here without asking the driver: uccid's control code does it */
			ok("%s: pcscd answers %s", what, pcsc_stringify_error(rv));
			check_disposition(what, dispositions[i], journal(0, &mark));
			/* pcscd released the lock already (SCARD_E_NOT_TRANSACTED here) or not */
			SCardEndTransaction(h, SCARD_LEAVE_CARD);
			continue;
		}
		if (rv != SCARD_S_SUCCESS) {
			fail("%s: %s", what, pcsc_stringify_error(rv));
			continue;
		}
		check_disposition(what, dispositions[i], journal(0, &mark));
	}
	if (ready(h, &proto) < 0)
		fail("SELECT after the transactions");
	SCardDisconnect(h, SCARD_LEAVE_CARD);

	/* SCardDisconnect with every disposition */
	for (int i = 0; i < 4; i++) {
		if (connect_card(&h, SCARD_SHARE_EXCLUSIVE, &proto) < 0)
			continue;
		if (select_ok(h, proto) < 0)
			fail("SELECT before disconnect %s", disp_name(dispositions[i]));
		journal(0, &mark);
		rv = SCardDisconnect(h, dispositions[i]);
		snprintf(what, sizeof(what), "SCardDisconnect %s", disp_name(dispositions[i]));
		if (rv != SCARD_S_SUCCESS) {
			fail("%s: %s", what, pcsc_stringify_error(rv));
			continue;
		}
		check_disposition(what, dispositions[i], journal(0, &mark));
	}
}

/* Wait for the reader's state to have (or lack) SCARD_STATE_PRESENT; ms taken, or -1. */
static int64_t wait_state(SCARD_READERSTATE *rs, bool present, int timeout_ms)
{
	int64_t t0 = uccid_mono_ms();

	for (;;) {
		int64_t left = timeout_ms - (uccid_mono_ms() - t0);
		LONG rv;

		if (!!(rs->dwEventState & SCARD_STATE_PRESENT) == present && (rs->dwEventState & SCARD_STATE_PRESENT ||
									     rs->dwEventState & SCARD_STATE_EMPTY))
			return uccid_mono_ms() - t0;
		if (left <= 0)
			return -1;
		rs->dwCurrentState = rs->dwEventState & ~SCARD_STATE_CHANGED;
		rv = SCardGetStatusChange(ctx, (DWORD)left, rs, 1);
		if (rv == SCARD_E_TIMEOUT)
			return -1;
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return -1;
		}
	}
}

static void cmd_events(unsigned slot)
{
	SCARD_READERSTATE rs = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	char req[64], buf[4096];
	int64_t ms;

	if (SCardGetStatusChange(ctx, 0, &rs, 1) != SCARD_S_SUCCESS) {
		fail("SCardGetStatusChange (initial)");
		return;
	}
	for (int round = 0; round < 3; round++) {
		snprintf(req, sizeof(req), "remove %u", slot);
		rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
		if (ask(req, buf, sizeof(buf)) < 0 || !strstr(buf, "ok card removed")) {
			fail("remove: %s", buf);
			return;
		}
		ms = wait_state(&rs, false, 3000);
		if (ms < 0 || ms > 1000)
			fail("removal seen after %lld ms (want < 1000)", (long long)ms);
		else
			ok("removal seen by SCardGetStatusChange after %lld ms", (long long)ms);
		snprintf(req, sizeof(req), "insert %u", slot);
		if (ask(req, buf, sizeof(buf)) < 0 || !strstr(buf, "ok card inserted")) {
			fail("insert: %s", buf);
			return;
		}
		ms = wait_state(&rs, true, 3000);
		if (ms < 0 || ms > 1000)
			fail("insertion seen after %lld ms (want < 1000)", (long long)ms);
		else
			ok("insertion seen by SCardGetStatusChange after %lld ms", (long long)ms);
	}
}

static void cmd_hold(void)
{
	SCARDHANDLE h;
	DWORD proto;

	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	if (SCardBeginTransaction(h) != SCARD_S_SUCCESS) {
		fail("SCardBeginTransaction");
		return;
	}
	/* VERIFY the PIN: state the next holder must not inherit */
	{
		static const uint8_t verify[] = { 0x00, 0x20, 0x00, 0x80, 0x06, '1', '2', '3', '4', '5', '6' };
		uint8_t rsp[16];
		DWORD rlen = sizeof(rsp);

		select_ok(h, proto);
		if (xmit(h, proto, verify, sizeof(verify), rsp, &rlen) != SCARD_S_SUCCESS || rlen != 2 || rsp[0] != 0x90)
			fail("VERIFY");
	}
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * How long the next client waits for pcscd to be done with the holder that
 * died.  pcscd learns of the death when the client's socket closes and
 * disconnects its handle: SCardDisconnect (pcsc-lite 1.9.9 winscard.c)
 * releases the transaction first, then carries out the disposition (the
 * reset, through the driver), and only then drops the handle from the
 * reader's count.  An SCardConnect meanwhile -- one that was waiting for
 * the transaction to end, or one that comes during the reset -- finds the
 * count non-zero and answers SCARD_E_SHARING_VIOLATION.  An application
 * waiting for a card another one held retries, as this client does.
 */
#define AFTER_KILL_MS 20000
#define AFTER_KILL_RETRY_MS 20

static void cmd_after_kill(unsigned from)
{
	static const uint8_t verify_state[] = { 0x00, 0x20, 0x00, 0x80 };
	SCARDHANDLE h;
	DWORD proto, rlen;
	uint8_t rsp[16];
	const char *j;
	unsigned mark = from, violations = 0;
	int64_t t0 = uccid_mono_ms();
	LONG rv;

	for (;;) {
		rv = SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
		if (rv != SCARD_E_SHARING_VIOLATION || uccid_mono_ms() - t0 >= AFTER_KILL_MS)
			break;
		violations++;
		usleep(AFTER_KILL_RETRY_MS * 1000);
	}
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardConnect after %lld ms (%u sharing violations before): %s",
		     (long long)(uccid_mono_ms() - t0), violations, pcsc_stringify_error(rv));
		return;
	}
	ok("the next client connected after %lld ms (%u sharing violations before)",
	   (long long)(uccid_mono_ms() - t0), violations);
	j = journal(0, &mark);
	if (!strstr(j, "host PC_to_RDR_IccPowerOn") && !strstr(j, "host PC_to_RDR_IccPowerOff"))
		fail("no reset or power-off in the journal after the holder died");
	else
		ok("the card was reset (journal: %u IccPowerOn, %u IccPowerOff) before the next client",
		   count(j, "host PC_to_RDR_IccPowerOn"), count(j, "host PC_to_RDR_IccPowerOff"));
	/* the PIN the dead holder verified must be forgotten */
	select_ok(h, proto);
	rlen = sizeof(rsp);
	if (xmit(h, proto, verify_state, sizeof(verify_state), rsp, &rlen) != SCARD_S_SUCCESS || rlen != 2)
		fail("VERIFY state");
	else if (rsp[0] == 0x90)
		fail("the PIN verified by the killed client is still verified");
	else
		ok("the killed client's verified PIN is gone (%02X%02X)", rsp[0], rsp[1]);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static void cmd_fault(const char *name, int deadline_ms, int times, bool may_recover)
{
	static const uint8_t slow[] = { 0x80, 0x12, 0x00, 0x01 };
	SCARDHANDLE h;
	DWORD proto, rlen;
	uint8_t rsp[64];
	char req[128], buf[4096];
	int64_t t0, ms;
	LONG rv;

	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	snprintf(req, sizeof(req), "fault %s count=%d", name, times);
	if (ask(req, buf, sizeof(buf)) < 0 || !strstr(buf, "ok fault")) {
		fail("arming %s: %s", name, buf);
		return;
	}
	t0 = uccid_mono_ms();
	rlen = sizeof(rsp);
	rv = xmit(h, proto, slow, sizeof(slow), rsp, &rlen);
	ms = uccid_mono_ms() - t0;
	if (rv == SCARD_S_SUCCESS && may_recover)
		ok("%s: SCardTransmit succeeded after %lld ms (recovered)", name, (long long)ms);
	else if (rv == SCARD_S_SUCCESS)
		fail("%s: SCardTransmit succeeded (%lu bytes)", name, (unsigned long)rlen);
	else if (ms > deadline_ms + 3000)
		fail("%s: the error took %lld ms (deadline %d)", name, (long long)ms, deadline_ms);
	else
		ok("%s: SCardTransmit failed after %lld ms: %s", name, (long long)ms, pcsc_stringify_error(rv));
	ask("fault clear", buf, sizeof(buf));
	/* pcscd answers at once, and the reader works again after a reconnect */
	t0 = uccid_mono_ms();
	{
		char list[4096];
		DWORD len = sizeof(list);

		rv = SCardListReaders(ctx, NULL, list, &len);
		if (rv != SCARD_S_SUCCESS || uccid_mono_ms() - t0 > 1000)
			fail("%s: pcscd unresponsive after the fault: %s", name, pcsc_stringify_error(rv));
	}
	for (int i = 0; i < 3; i++) {
		rv = SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD,
				    &proto);
		if (rv == SCARD_S_SUCCESS && select_ok(h, proto) == 0)
			break;
		SCardDisconnect(h, SCARD_LEAVE_CARD);
		usleep(300 * 1000);
		rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	}
	if (rv != SCARD_S_SUCCESS || select_ok(h, proto) < 0)
		fail("%s: the reader did not work again: %s", name, pcsc_stringify_error(rv));
	else
		ok("%s: pcscd responsive, the reader works again", name);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static LONG control(SCARDHANDLE h, DWORD code, const uint8_t *in, size_t inlen, uint8_t *out, DWORD *outlen)
{
	DWORD cap = *outlen;

	return SCardControl(h, code, in, (DWORD)inlen, out, cap, outlen);
}

static void cmd_control(bool escape)
{
	SCARDHANDLE h;
	DWORD proto, len;
	uint8_t out[512], in[4] = { 0x01, 0x02, 0x03, 0x04 };
	uint64_t gen1 = 0, gen2 = 0;
	bool have_esc = false, have_tlv = false;
	unsigned mark = 0;
	LONG rv;

	if (connect_card(&h, SCARD_SHARE_DIRECT, &proto) < 0)
		return;
	len = sizeof(out);
	rv = control(h, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0, out, &len);
	if (rv != SCARD_S_SUCCESS || len % 6) {
		fail("GET_FEATURE_REQUEST: %s, %lu bytes", pcsc_stringify_error(rv), (unsigned long)len);
	} else {
		for (DWORD i = 0; i < len; i += 6) {
			if (out[i] == FEATURE_CCID_ESC_COMMAND)
				have_esc = true;
			if (out[i] == FEATURE_GET_TLV_PROPERTIES)
				have_tlv = true;
			if (out[i] == FEATURE_VERIFY_PIN_DIRECT || out[i] == FEATURE_MODIFY_PIN_DIRECT)
				fail("a PIN feature listed for a reader without a PIN pad");
		}
		if (!have_tlv || have_esc != escape)
			fail("features: TLV properties %d, escape %d (want 1, %d)", have_tlv, have_esc, escape);
		else
			ok("features: %lu listed, escape %s", (unsigned long)len / 6, escape ? "listed" : "not listed");
	}
	len = sizeof(out);
	rv = control(h, SCARD_CTL_CODE(0x330000 + FEATURE_GET_TLV_PROPERTIES), NULL, 0, out, &len);
	{
		bool vid = false;

		for (DWORD i = 0; rv == SCARD_S_SUCCESS && i + 2 <= len; i += 2u + out[i + 1])
			if (out[i] == PCSCv2_PART10_PROPERTY_wIdVendor && out[i + 1] == 2 && i + 4 <= len &&
			    out[i + 2] == 0x09 && out[i + 3] == 0x12)
				vid = true;
		if (!vid)
			fail("TLV properties: no wIdVendor 1209: %s", pcsc_stringify_error(rv));
		else
			ok("TLV properties: wIdVendor 1209");
	}
	journal(0, &mark);
	len = sizeof(out);
	rv = control(h, IOCTL_UCCID_ESCAPE, in, sizeof(in), out, &len);
	if (escape) {
		/* the virtual reader echoes its escape data */
		if (rv != SCARD_S_SUCCESS || len != 4 || memcmp(out, in, 4))
			fail("escape: %s, %lu bytes", pcsc_stringify_error(rv), (unsigned long)len);
		else if (!strstr(journal(0, &mark), "host PC_to_RDR_Escape"))
			fail("escape: no PC_to_RDR_Escape in the journal");
		else
			ok("escape allowed: PC_to_RDR_Escape echoed");
	} else {
		if (rv != SCARD_E_UNSUPPORTED_FEATURE)
			fail("escape not allowed, but: %s", pcsc_stringify_error(rv));
		else if (strstr(journal(0, &mark), "PC_to_RDR_Escape"))
			fail("escape refused, yet it reached the reader");
		else
			ok("escape refused (%s), nothing sent", pcsc_stringify_error(rv));
	}
	len = sizeof(out);
	rv = control(h, IOCTL_UCCID_GENERATION, NULL, 0, out, &len);
	for (int i = 0; i < 8 && len == 8; i++)
		gen1 = gen1 << 8 | out[i];
	if (rv != SCARD_S_SUCCESS || len != 8)
		fail("generation: %s", pcsc_stringify_error(rv));
	len = sizeof(out);
	rv = control(h, IOCTL_UCCID_LOCK_HOLDER, NULL, 0, out, &len);
	if (rv != SCARD_S_SUCCESS || len != 46)
		fail("lock holder: %s, %lu bytes", pcsc_stringify_error(rv), (unsigned long)len);
	else
		ok("lock holder: held %u", out[0]);
	len = 4;
	rv = control(h, IOCTL_UCCID_LOCK_HOLDER, NULL, 0, out, &len);
	if (rv != SCARD_E_INSUFFICIENT_BUFFER)
		fail("lock holder into 4 bytes: %s (want insufficient buffer)", pcsc_stringify_error(rv));
	journal(0, &mark);
	len = sizeof(out);
	rv = control(h, IOCTL_UCCID_EJECT, NULL, 0, out, &len);
	if (rv != SCARD_S_SUCCESS || len != 1)
		fail("eject: %s", pcsc_stringify_error(rv));
	else {
		const char *j = journal(0, &mark);
		bool mech = strstr(j, "host PC_to_RDR_Mechanical") != NULL;

		ok("eject: done %u (%s)", out[0], mech ? "Mechanical in the journal" : "powered off and latched");
		if (out[0] == 3 && !mech)
			fail("eject said ejected, but no PC_to_RDR_Mechanical was sent");
		if (out[0] == 4 && !strstr(j, "host PC_to_RDR_IccPowerOff"))
			fail("eject said latched, but no IccPowerOff was sent");
	}
	len = sizeof(out);
	rv = control(h, IOCTL_UCCID_GENERATION, NULL, 0, out, &len);
	for (int i = 0; i < 8 && len == 8; i++)
		gen2 = gen2 << 8 | out[i];
	if (rv != SCARD_S_SUCCESS || gen2 <= gen1)
		fail("generation did not move with the eject: %llu -> %llu", (unsigned long long)gen1,
		     (unsigned long long)gen2);
	else
		ok("generation %llu -> %llu", (unsigned long long)gen1, (unsigned long long)gen2);
	len = sizeof(out);
	rv = control(h, SCARD_CTL_CODE(0x7563FF), NULL, 0, out, &len);
	if (rv != SCARD_E_UNSUPPORTED_FEATURE)
		fail("unknown control code: %s", pcsc_stringify_error(rv));
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/* ---- limits ---- */

static void cmd_limits(void)
{
	static uint8_t apdu[9 + 300], rsp[400];
	uint8_t v[256];
	uint32_t max = 1;
	unsigned mark = 0;
	SCARDHANDLE h;
	DWORD proto, len = sizeof(v), rlen = sizeof(rsp);
	bool have = false;
	const char *j;
	LONG rv;

	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	rv = control(h, SCARD_CTL_CODE(0x330000 + FEATURE_GET_TLV_PROPERTIES), NULL, 0, v, &len);
	for (DWORD i = 0; rv == SCARD_S_SUCCESS && i + 2 <= len; i += 2u + v[i + 1])
		if (v[i] == PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize && v[i + 1] == 4 && i + 6 <= len) {
			max = (uint32_t)(v[i + 2] | v[i + 3] << 8 | v[i + 4] << 16 | (uint32_t)v[i + 5] << 24);
			have = true;
		}
	if (!have) {
		fail("TLV properties: no dwMaxAPDUDataSize (%s)", pcsc_stringify_error(rv));
		return;
	}
	if (max != 0 && max != 65536)
		fail("dwMaxAPDUDataSize %u: neither 0 (short APDUs only) nor 65536", (unsigned)max);
	/* ECHO with 300 bytes in the extended form */
	memcpy(apdu, (const uint8_t[]){ 0x80, 0x10, 0x00, 0x00, 0x00, 0x01, 0x2C }, 7);
	for (int i = 0; i < 300; i++)
		apdu[7 + i] = (uint8_t)(i * 3);
	apdu[307] = apdu[308] = 0x00;
	journal(0, &mark);
	rv = xmit(h, proto, apdu, sizeof(apdu), rsp, &rlen);
	j = journal(0, &mark);
	if (max) {
		if (rv != SCARD_S_SUCCESS || rlen != 302 || memcmp(rsp, apdu + 7, 300))
			fail("dwMaxAPDUDataSize %u, but an extended ECHO of 300 bytes: %s, %lu bytes", (unsigned)max,
			     pcsc_stringify_error(rv), (unsigned long)rlen);
		else
			ok("dwMaxAPDUDataSize %u (T=%d): an extended APDU of 300 bytes goes through", (unsigned)max,
			   proto == SCARD_PROTOCOL_T0 ? 0 : 1);
	} else {
		if (rv != SCARD_E_NOT_TRANSACTED)
			fail("dwMaxAPDUDataSize 0, but an extended APDU: %s (want SCARD_E_NOT_TRANSACTED)",
			     pcsc_stringify_error(rv));
		else if (strstr(j, "host PC_to_RDR_XfrBlock"))
			fail("dwMaxAPDUDataSize 0 and the extended APDU refused, but it reached the reader");
		else if (select_ok(h, proto) < 0)
			fail("a short APDU after the refused extended one failed");
		else
			ok("dwMaxAPDUDataSize 0 (T=%d): an extended APDU refused, nothing sent; short APDUs work",
			   proto == SCARD_PROTOCOL_T0 ? 0 : 1);
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/* ---- swaps ---- */

/* pcscd's event counter of the reader (PC/SC: the high word of dwEventState). */
static unsigned event_count(const SCARD_READERSTATE *rs)
{
	return (unsigned)(rs->dwEventState >> 16) & 0xFFFF;
}

/*
 * Wait until pcscd has counted at least want events since from (a removal
 * and an insertion are one each) and shows a card again; ms taken, or -1.
 */
static int64_t wait_events(SCARD_READERSTATE *rs, unsigned from, unsigned want, int timeout_ms)
{
	int64_t t0 = uccid_mono_ms();

	for (;;) {
		int64_t left = timeout_ms - (uccid_mono_ms() - t0);
		LONG rv;

		if (((event_count(rs) - from) & 0xFFFF) >= want && (rs->dwEventState & SCARD_STATE_PRESENT) &&
		    !(rs->dwEventState & SCARD_STATE_MUTE))
			return uccid_mono_ms() - t0;
		if (left <= 0)
			return -1;
		rs->dwCurrentState = rs->dwEventState & ~SCARD_STATE_CHANGED;
		rv = SCardGetStatusChange(ctx, (DWORD)left, rs, 1);
		if (rv == SCARD_E_TIMEOUT) {
			/* No change from the state last seen within the time: pcscd may have
			   finished the removal and the insertion between two of our calls, with
			   the state we passed already stale.  Ask once for the state as it is. */
			rs->dwCurrentState = SCARD_STATE_UNAWARE;
			if (SCardGetStatusChange(ctx, 0, rs, 1) != SCARD_S_SUCCESS)
				return -1;
			if (((event_count(rs) - from) & 0xFFFF) >= want && (rs->dwEventState & SCARD_STATE_PRESENT) &&
			    !(rs->dwEventState & SCARD_STATE_MUTE))
				return uccid_mono_ms() - t0;
			return -1;
		}
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return -1;
		}
	}
}

static void cmd_swaps(long n)
{
	SCARD_READERSTATE rs = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	char buf[4096];
	unsigned missed = 0, stale = 0, broken = 0;
	int64_t worst = 0, t0 = uccid_mono_ms();
	SCARDHANDLE h;
	DWORD proto;
	LONG rv;

	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	if (select_ok(h, proto) < 0)
		fail("SELECT before the swaps");
	if (SCardGetStatusChange(ctx, 0, &rs, 1) != SCARD_S_SUCCESS) {
		fail("SCardGetStatusChange (initial)");
		return;
	}
	for (long i = 0; i < n; i++) {
		unsigned from = event_count(&rs);
		int64_t ms;

		if (ask("swap 0", buf, sizeof(buf)) < 0 || !strstr(buf, "ok card swapped")) {
			fail("swap %ld: %s", i, buf);
			break;
		}
		ms = wait_events(&rs, from, 2, 5000);
		if (ms < 0) {
			missed++;
			fail("swap %ld: pcscd counted %u event(s) in 5 s, want a removal and an insertion", i,
			     (event_count(&rs) - from) & 0xFFFF);
		} else if (ms > worst) {
			worst = ms;
		}
		/* the held handle lost its card */
		{
			uint8_t rsp[16];
			DWORD rlen = sizeof(rsp);

			rv = xmit(h, proto, select_app, sizeof(select_app), rsp, &rlen);
			if (rv != SCARD_W_REMOVED_CARD) {
				stale++;
				fail("swap %ld: the held handle's SCardTransmit: %s, want SCARD_W_REMOVED_CARD", i,
				     pcsc_stringify_error(rv));
			}
		}
		SCardDisconnect(h, SCARD_LEAVE_CARD);
		/* a new connection to the new card works (and is the one held over the next swap) */
		rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
		if (rv != SCARD_S_SUCCESS || select_ok(h, proto) < 0) {
			broken++;
			fail("swap %ld: the new connection: %s", i,
			     rv != SCARD_S_SUCCESS ? pcsc_stringify_error(rv) : "SELECT failed");
			if (rv != SCARD_S_SUCCESS && connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
				return;
		}
		if (fails > 10) {
			fail("giving up after swap %ld", i);
			break;
		}
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	if (!missed && !stale && !broken)
		ok("%ld swaps in %lld ms: each seen by pcscd (at most %lld ms), the held handle told, the new "
		   "connection working", n, (long long)(uccid_mono_ms() - t0), (long long)worst);
}

/* ---- atrs ---- */

/*
 * Each ATR of file (hex, one a line) in turn: the slot's ATR set by the
 * control socket ("atr HEX"), the card swapped for one sending it, pcscd
 * powers it up (IFDHPowerICC) and reports the ATR (SCardStatus: the same
 * bytes, at most 33), and a connection exchanges SELECT 9000.
 */
static void cmd_atrs(const char *file)
{
	SCARD_READERSTATE rs = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	unsigned n = 0, good = 0, mismatch = 0;
	char line[256], req[300], buf[4096];
	int64_t t0 = uccid_mono_ms();
	FILE *f = fopen(file, "r");

	if (!f) {
		fail("%s: %s", file, strerror(errno));
		return;
	}
	if (SCardGetStatusChange(ctx, 0, &rs, 1) != SCARD_S_SUCCESS) {
		fail("SCardGetStatusChange (initial)");
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		uint8_t want[64], got[64];
		size_t wlen = 0;
		DWORD glen = sizeof(got), proto, state, rlen = sizeof(reader);
		char name[256];
		SCARDHANDLE h;
		unsigned from = event_count(&rs);
		LONG rv;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		for (const char *p = line; p[0] && p[1] && wlen < sizeof(want); p += 2)
			sscanf(p, "%2hhx", &want[wlen++]);
		n++;
		snprintf(req, sizeof(req), "atr %s", line);
		if (ask(req, buf, sizeof(buf)) < 0 || !strstr(buf, "ok ATR")) {
			fail("%s: control socket: %s", line, buf);
			continue;
		}
		if (ask("swap 0", buf, sizeof(buf)) < 0 || !strstr(buf, "ok card swapped")) {
			fail("%s: swap: %s", line, buf);
			continue;
		}
		if (wait_events(&rs, from, 2, 10000) < 0) {
			fail("%s: pcscd did not see the new card powered (state %lx)", line,
			     (unsigned long)rs.dwEventState);
			continue;
		}
		rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
		if (rv == SCARD_E_PROTO_MISMATCH) {
			/* pcscd's own verdict on the ATR (no T=0 or T=1 in it), before any driver call:
			   the caller checks that the ATR offers neither */
			printf("proto-mismatch %s\n", line);
			mismatch++;
			continue;
		}
		if (rv != SCARD_S_SUCCESS) {
			fail("%s: SCardConnect: %s", line, pcsc_stringify_error(rv));
			continue;
		}
		rv = SCardStatus(h, name, &rlen, &state, &proto, got, &glen);
		if (rv != SCARD_S_SUCCESS || glen != (wlen > 33 ? 33 : wlen) || memcmp(got, want, glen))
			fail("%s: SCardStatus: %s, an ATR of %lu bytes", line, pcsc_stringify_error(rv),
			     (unsigned long)glen);
		else if (select_ok(h, proto) < 0)
			fail("%s: SELECT did not answer 9000 (T=%d)", line, proto == SCARD_PROTOCOL_T0 ? 0 : 1);
		else
			good++;
		SCardDisconnect(h, SCARD_LEAVE_CARD);
		if (fails > 20) {
			fail("giving up after %u ATRs", n);
			break;
		}
	}
	fclose(f);
	if (good + mismatch == n)
		ok("%u ATRs in %lld ms: each powered up by pcscd; %u with the ATR reported as sent and SELECT 9000, "
		   "%u refused by pcscd's SCardConnect (SCARD_E_PROTO_MISMATCH)", n, (long long)(uccid_mono_ms() - t0),
		   good, mismatch);
	else
		printf("%u of %u ATRs worked, %u refused by pcscd (SCARD_E_PROTO_MISMATCH)\n", good, n, mismatch);
}

/* ---- attrs ---- */

/* One "name value" line of the control socket's "device" reply; "" if absent. */
static const char *device_field(const char *dev, const char *name, char *buf, size_t cap)
{
	size_t n = strlen(name);

	buf[0] = '\0';
	for (const char *p = dev; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == ' ') {
			const char *e = strchr(p + n + 1, '\n');
			size_t len = e ? (size_t)(e - (p + n + 1)) : strlen(p + n + 1);

			if (len >= cap)
				len = cap - 1;
			memcpy(buf, p + n + 1, len);
			buf[len] = '\0';
			break;
		}
	}
	return buf;
}

static unsigned long device_number(const char *dev, const char *name, int base)
{
	char buf[64];

	return strtoul(device_field(dev, name, buf, sizeof(buf)), NULL, base);
}

/* The data= bytes of the last journal line holding what; the count, or -1. */
static int journal_data(const char *j, const char *what, uint8_t *out, size_t cap, unsigned *b9)
{
	const char *line = NULL, *d;
	int n = 0;

	for (const char *p = j; (p = strstr(p, what)); p++)
		line = p;
	if (!line)
		return -1;
	if (b9 && (d = strstr(line, "b9=")))
		*b9 = (unsigned)strtoul(d + 3, NULL, 16);
	d = strstr(line, "data=");
	if (!d || (strchr(line, '\n') && d > strchr(line, '\n')))
		return 0;
	for (d += 5; n < (int)cap && sscanf(d, "%2hhx", &out[n]) == 1; d += 2)
		n++;
	return n;
}

/* ISO 7816-3 Tables 7 and 8: Fi and Di by index (0: RFU). */
static const unsigned fi_table[16] = { 372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0 };
static const unsigned di_table[16] = { 0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0 };

enum attr_kind { A_DWORD, A_BYTE, A_STRING, A_BYTES, A_NONE };
struct attr_want {
	DWORD tag;
	const char *name;
	enum attr_kind kind;            /* A_NONE: the driver does not answer it */
	uint32_t value;                 /* A_DWORD, A_BYTE */
	const char *text;               /* A_STRING */
	const uint8_t *bytes;           /* A_BYTES */
	size_t nbytes;
};

static void attr_show(const struct attr_want *w, const uint8_t *v, DWORD len, char *out, size_t cap)
{
	size_t o = 0;

	if (w->kind == A_STRING && len > 0 && memchr(v, '\0', len)) {
		snprintf(out, cap, "\"%s\"", (const char *)v);
		return;
	}
	if (w->kind == A_DWORD && len == 4) {
		snprintf(out, cap, "0x%08X (%u)", (unsigned)(v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24),
			 (unsigned)(v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24));
		return;
	}
	out[0] = '\0';
	for (DWORD i = 0; i < len && o + 4 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02X%s", v[i], i + 1 < len ? " " : "");
}

/* One attribute: a large buffer (the answer), then one byte short of it (the length needed). */
static void attr_check(SCARDHANDLE h, const struct attr_want *w)
{
	uint8_t v[MAX_BUFFER_SIZE], shortbuf[MAX_BUFFER_SIZE];
	DWORD len = sizeof(v), slen;
	char shown[3 * MAX_BUFFER_SIZE + 16];
	bool good;
	LONG rv;

	memset(v, 0xEE, sizeof(v));
	rv = SCardGetAttrib(h, w->tag, v, &len);
	if (w->kind == A_NONE) {
		if (rv != SCARD_E_UNSUPPORTED_FEATURE)
			fail("0x%08lX %s: %s, want SCARD_E_UNSUPPORTED_FEATURE", (unsigned long)w->tag, w->name,
			     pcsc_stringify_error(rv));
		printf("attr 0x%08lX %-34s %s\n", (unsigned long)w->tag, w->name, pcsc_stringify_error(rv));
		return;
	}
	if (rv != SCARD_S_SUCCESS) {
		fail("0x%08lX %s: %s", (unsigned long)w->tag, w->name, pcsc_stringify_error(rv));
		printf("attr 0x%08lX %-34s %s\n", (unsigned long)w->tag, w->name, pcsc_stringify_error(rv));
		return;
	}
	attr_show(w, v, len, shown, sizeof(shown));
	switch (w->kind) {
	case A_DWORD:
		good = len == 4 && (uint32_t)(v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24) == w->value;
		break;
	case A_BYTE:
		good = len == 1 && v[0] == w->value;
		break;
	case A_STRING:
		good = len == strlen(w->text) + 1 && !memcmp(v, w->text, len);
		break;
	default:
		good = len == w->nbytes && !memcmp(v, w->bytes, len);
		break;
	}
	if (!good) {
		char want[3 * MAX_BUFFER_SIZE + 16];

		if (w->kind == A_STRING)
			snprintf(want, sizeof(want), "\"%s\"", w->text);
		else if (w->kind == A_BYTES)
			attr_show(w, w->bytes, (DWORD)w->nbytes, want, sizeof(want));
		else
			snprintf(want, sizeof(want), "0x%08X", (unsigned)w->value);
		fail("0x%08lX %s: %s (%lu bytes), want %s", (unsigned long)w->tag, w->name, shown, (unsigned long)len,
		     want);
	}
	printf("attr 0x%08lX %-34s %s\n", (unsigned long)w->tag, w->name, shown);
	/* one byte short: SCARD_E_INSUFFICIENT_BUFFER and the length needed */
	if (len > 0) {
		slen = len - 1;
		rv = SCardGetAttrib(h, w->tag, shortbuf, &slen);
		if (rv != SCARD_E_INSUFFICIENT_BUFFER || slen != len)
			fail("0x%08lX %s into %lu bytes: %s, length %lu (want insufficient buffer, %lu)",
			     (unsigned long)w->tag, w->name, (unsigned long)len - 1, pcsc_stringify_error(rv),
			     (unsigned long)slen, (unsigned long)len);
	}
}

static void cmd_attrs(const char *atr_hex)
{
	static char dev[8192];
	char manufacturer[128], product[128], serial[128], sysname[256];
	uint8_t atr[MAX_ATR_SIZE], status_atr[MAX_ATR_SIZE], params[16], ifs[8];
	DWORD proto, atr_len = 0, status_len = sizeof(status_atr), state, rlen = sizeof(sysname);
	unsigned mark = 0, pnum = 0xFF, mech;
	int np, nifs;
	SCARDHANDLE h;
	const char *j;
	LONG rv;

	if (ask("device", dev, sizeof(dev)) < 0 || !strstr(dev, "idVendor")) {
		fail("the control socket's device command: %s", dev);
		return;
	}
	for (size_t i = 0; atr_hex[i] && atr_hex[i + 1] && atr_len < sizeof(atr); i += 2)
		sscanf(atr_hex + i, "%2hhx", &atr[atr_len++]);
	if (connect_card(&h, SCARD_SHARE_SHARED, &proto) < 0)
		return;
	/* a fresh negotiation in the journal: what the reader was told to run the card at */
	journal(0, &mark);
	rv = SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD, &proto);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardReconnect RESET: %s", pcsc_stringify_error(rv));
		return;
	}
	j = journal(0, &mark);
	np = journal_data(j, "reader RDR_to_PC_Parameters", params, sizeof(params), &pnum);
	nifs = journal_data(j, "data=00C1", ifs, sizeof(ifs), NULL);     /* S(IFS request), NAD 0 */
	if (np < 5 || pnum != (proto == SCARD_PROTOCOL_T0 ? 0u : 1u)) {
		fail("no RDR_to_PC_Parameters for T=%d in the journal after the reset", proto == SCARD_PROTOCOL_T0 ? 0 : 1);
		return;
	}
	rv = SCardStatus(h, NULL, &rlen, &state, NULL, status_atr, &status_len);
	if (rv != SCARD_S_SUCCESS || status_len != atr_len || memcmp(status_atr, atr, atr_len))
		fail("SCardStatus: %s, its ATR is not the virtual card's", pcsc_stringify_error(rv));

	device_field(dev, "manufacturer", manufacturer, sizeof(manufacturer));
	device_field(dev, "product", product, sizeof(product));
	device_field(dev, "serial", serial, sizeof(serial));
	mech = (unsigned)device_number(dev, "dwMechanical", 10);
	{
		bool t1 = proto == SCARD_PROTOCOL_T1;
		/* the IFSD the host announced in S(IFS request) at TPDU level; else the reader's maximum */
		uint32_t ifsd = nifs >= 4 ? ifs[3] : (uint32_t)device_number(dev, "dwMaxIFSD", 10);
		const struct attr_want want[] = {
			{ SCARD_ATTR_VENDOR_NAME, "VENDOR_NAME", A_STRING, 0, manufacturer, NULL, 0 },
			{ SCARD_ATTR_VENDOR_IFD_TYPE, "VENDOR_IFD_TYPE", A_STRING, 0, product, NULL, 0 },
			{ SCARD_ATTR_VENDOR_IFD_VERSION, "VENDOR_IFD_VERSION", A_DWORD,
			  (uint32_t)device_number(dev, "bcdDevice", 16) << 16, NULL, NULL, 0 },
			{ SCARD_ATTR_VENDOR_IFD_SERIAL_NO, "VENDOR_IFD_SERIAL_NO", A_STRING, 0, serial, NULL, 0 },
			{ SCARD_ATTR_CHANNEL_ID, "CHANNEL_ID", A_DWORD,
			  0x00200000u | (uint32_t)device_number(dev, "busnum", 10) << 8 |
				  (uint32_t)device_number(dev, "devnum", 10), NULL, NULL, 0 },
			{ SCARD_ATTR_ASYNC_PROTOCOL_TYPES, "ASYNC_PROTOCOL_TYPES", A_DWORD,
			  (uint32_t)device_number(dev, "dwProtocols", 10) & 3, NULL, NULL, 0 },
			{ SCARD_ATTR_DEFAULT_CLK, "DEFAULT_CLK", A_DWORD, (uint32_t)device_number(dev, "dwDefaultClock", 10),
			  NULL, NULL, 0 },
			{ SCARD_ATTR_MAX_CLK, "MAX_CLK", A_DWORD, (uint32_t)device_number(dev, "dwMaximumClock", 10), NULL,
			  NULL, 0 },
			{ SCARD_ATTR_DEFAULT_DATA_RATE, "DEFAULT_DATA_RATE", A_DWORD,
			  (uint32_t)device_number(dev, "dwDataRate", 10), NULL, NULL, 0 },
			{ SCARD_ATTR_MAX_DATA_RATE, "MAX_DATA_RATE", A_DWORD, (uint32_t)device_number(dev, "dwMaxDataRate", 10),
			  NULL, NULL, 0 },
			{ SCARD_ATTR_MAX_IFSD, "MAX_IFSD", A_DWORD, (uint32_t)device_number(dev, "dwMaxIFSD", 10), NULL, NULL,
			  0 },
			{ SCARD_ATTR_SYNC_PROTOCOL_TYPES, "SYNC_PROTOCOL_TYPES", A_DWORD,
			  (uint32_t)device_number(dev, "dwSynchProtocols", 10), NULL, NULL, 0 },
			{ SCARD_ATTR_POWER_MGMT_SUPPORT, "POWER_MGMT_SUPPORT", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_USER_TO_CARD_AUTH_DEVICE, "USER_TO_CARD_AUTH_DEVICE", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_USER_AUTH_INPUT_DEVICE, "USER_AUTH_INPUT_DEVICE", A_NONE, 0, NULL, NULL, 0 },
			/* CCID dwMechanical bits 0-2 (accept, eject, capture) are part 3's swallow, eject, capture */
			{ SCARD_ATTR_CHARACTERISTICS, "CHARACTERISTICS", A_DWORD, mech & 7, NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_PROTOCOL_TYPE, "CURRENT_PROTOCOL_TYPE", A_DWORD, (uint32_t)proto, NULL, NULL,
			  0 },
			{ SCARD_ATTR_CURRENT_CLK, "CURRENT_CLK", A_DWORD, (uint32_t)device_number(dev, "dwDefaultClock", 10),
			  NULL, NULL, 0 },
			/* the reader's RDR_to_PC_Parameters (CCID §6.2.3): what it runs the card at */
			{ SCARD_ATTR_CURRENT_F, "CURRENT_F", A_DWORD, fi_table[params[0] >> 4], NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_D, "CURRENT_D", A_DWORD, di_table[params[0] & 0x0F], NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_N, "CURRENT_N", A_DWORD, params[2], NULL, NULL, 0 },
			/* the parameters of one protocol are not answered under the other */
			{ SCARD_ATTR_CURRENT_W, "CURRENT_W", t1 ? A_NONE : A_DWORD, params[3], NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_IFSC, "CURRENT_IFSC", t1 ? A_DWORD : A_NONE, np > 5 ? params[5] : 0, NULL, NULL,
			  0 },
			{ SCARD_ATTR_CURRENT_IFSD, "CURRENT_IFSD", t1 ? A_DWORD : A_NONE, ifsd, NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_BWT, "CURRENT_BWT", t1 ? A_DWORD : A_NONE, (uint32_t)params[3] >> 4, NULL, NULL,
			  0 },
			{ SCARD_ATTR_CURRENT_CWT, "CURRENT_CWT", t1 ? A_DWORD : A_NONE, params[3] & 0x0Fu, NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_EBC_ENCODING, "CURRENT_EBC_ENCODING", t1 ? A_DWORD : A_NONE, params[1] & 1u,
			  NULL, NULL, 0 },
			{ SCARD_ATTR_EXTENDED_BWT, "EXTENDED_BWT", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_ICC_PRESENCE, "ICC_PRESENCE", A_BYTE, 2, NULL, NULL, 0 },
			{ SCARD_ATTR_ICC_INTERFACE_STATUS, "ICC_INTERFACE_STATUS", A_BYTE, 1, NULL, NULL, 0 },
			{ SCARD_ATTR_CURRENT_IO_STATE, "CURRENT_IO_STATE", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_ATR_STRING, "ATR_STRING", A_BYTES, 0, NULL, atr, atr_len },
			{ SCARD_ATTR_ICC_TYPE_PER_ATR, "ICC_TYPE_PER_ATR", A_BYTE, 1, NULL, NULL, 0 },
			{ SCARD_ATTR_ESC_RESET, "ESC_RESET", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_ESC_CANCEL, "ESC_CANCEL", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_ESC_AUTHREQUEST, "ESC_AUTHREQUEST", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_MAXINPUT, "MAXINPUT", A_DWORD,
			  (uint32_t)device_number(dev, "dwMaxCCIDMessageLength", 10) - 10, NULL, NULL, 0 },
			{ SCARD_ATTR_DEVICE_UNIT, "DEVICE_UNIT", A_NONE, 0, NULL, NULL, 0 },
			{ SCARD_ATTR_DEVICE_IN_USE, "DEVICE_IN_USE", A_NONE, 0, NULL, NULL, 0 },
			/* pcscd answers these two itself when the driver leaves them (IFD_ERROR_TAG) */
			{ SCARD_ATTR_DEVICE_FRIENDLY_NAME, "DEVICE_FRIENDLY_NAME (pcscd)", A_STRING, 0, reader, NULL, 0 },
			{ SCARD_ATTR_DEVICE_SYSTEM_NAME, "DEVICE_SYSTEM_NAME (pcscd)", A_STRING, 0, reader, NULL, 0 },
			{ SCARD_ATTR_SUPRESS_T1_IFS_REQUEST, "SUPRESS_T1_IFS_REQUEST", A_NONE, 0, NULL, NULL, 0 },
		};

		printf("attributes of %s (T=%d), SCardGetAttrib through pcscd:\n", reader, t1 ? 1 : 0);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			attr_check(h, &want[i]);
		ok("%zu attributes checked", sizeof(want) / sizeof(want[0]));
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

static void cmd_bench(long n)
{
	static const uint8_t echo[] = { 0x80, 0x10, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0x00 };
	SCARDHANDLE h;
	DWORD proto, rlen;
	uint8_t rsp[64];
	int64_t t0;

	if (connect_card(&h, SCARD_SHARE_EXCLUSIVE, &proto) < 0)
		return;
	t0 = uccid_mono_ms();
	for (long i = 0; i < n; i++) {
		rlen = sizeof(rsp);
		if (xmit(h, proto, echo, sizeof(echo), rsp, &rlen) != SCARD_S_SUCCESS || rlen != 6) {
			fail("bench transmit %ld", i);
			break;
		}
	}
	printf("pcscd+uccid: %ld SCardTransmit in %lld ms: %.0f round trips/s\n", n, (long long)(uccid_mono_ms() - t0),
	       n * 1000.0 / (double)(uccid_mono_ms() - t0 > 0 ? uccid_mono_ms() - t0 : 1));
	SCardDisconnect(h, SCARD_LEAVE_CARD);
}

/*
 * One SCardConnect per argument ("T0" or "T1"), allowing that protocol only:
 * pcscd passes it to IFDHSetProtocolParameters.  The connection must say
 * that protocol, an APDU must go through, and in the journal the card's
 * negotiation before that APDU — after its last IccPowerOn — must be a PPS
 * for the protocol (TA1 96, so PPS1 96) and SetParameters for it.  Each
 * connection ends with SCARD_RESET_CARD, so that pcscd negotiates afresh;
 * a first one, with both protocols allowed, only for that reset.
 */
static void cmd_protocol(int argc, char **argv)
{
	SCARDHANDLE h0;
	DWORD p0;

	/* an earlier client (opensc-tool) may have left pcscd's protocol set: a reset undoes it */
	if (connect_card(&h0, SCARD_SHARE_EXCLUSIVE, &p0) < 0 || SCardDisconnect(h0, SCARD_RESET_CARD) != SCARD_S_SUCCESS)
		fail("the first connection, for a reset");
	for (int k = 0; k < argc; k++) {
		unsigned t = !strcmp(argv[k], "T1") ? 1 : 0, from = 0, pps_t = 99, set_t = 99, pps1 = 0, ons = 0;
		DWORD want = t ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0, proto = 0, len;
		const char *j, *apdu = NULL, *on = NULL;
		uint8_t v[8];
		SCARDHANDLE h;
		LONG rv;

		rv = SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, want, &h, &proto);
		if (rv != SCARD_S_SUCCESS) {
			fail("T=%u: SCardConnect: %s", t, pcsc_stringify_error(rv));
			continue;
		}
		if (proto != want)
			fail("T=%u: SCardConnect gives protocol %lu", t, (unsigned long)proto);
		len = sizeof(v);
		if (SCardGetAttrib(h, SCARD_ATTR_CURRENT_PROTOCOL_TYPE, v, &len) != SCARD_S_SUCCESS || len != 4 ||
		    (DWORD)(v[0] | v[1] << 8 | v[2] << 16 | (DWORD)v[3] << 24) != want)
			fail("T=%u: SCARD_ATTR_CURRENT_PROTOCOL_TYPE is not SCARD_PROTOCOL_T%u", t, t);
		if (select_ok(h, proto) < 0)
			fail("T=%u: SELECT did not answer 9000", t);
		j = journal(0, &from);
		/* the last SELECT (its header: at the character level T=0 sends it alone), and the last
		   IccPowerOn before it */
		for (const char *p = j; (p = strstr(p, "00A4040C07")); p++)
			apdu = p;
		for (const char *p = j; (p = strstr(p, "host PC_to_RDR_IccPowerOn")) && (!apdu || p < apdu); p++) {
			on = p;
			ons++;
		}
		if (!apdu || !on) {
			fail("T=%u: no SELECT, or no IccPowerOn before it, in the journal", t);
		} else {
			for (const char *p = on; p < apdu; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : apdu) {
				const char *nl = strchr(p, '\n'), *x = strstr(p, "host PC_to_RDR_XfrBlock"), *d;
				unsigned pps0;

				if (!nl || nl > apdu)
					nl = apdu;
				if (x && x < nl && (d = strstr(x, " data=FF")) && d < nl &&
				    sscanf(d + 8, "%2x%2x", &pps0, &pps1) == 2)
					pps_t = pps0 & 0x0F;
				if ((x = strstr(p, "host PC_to_RDR_SetParameters")) && x < nl && (d = strstr(x, "b7=")))
					set_t = (unsigned)strtoul(d + 3, NULL, 16);
			}
			if (pps_t != t || pps1 != 0x96 || set_t != t)
				fail("T=%u: after the last IccPowerOn a PPS for T=%u (PPS1 %02X) and SetParameters for T=%u",
				     t, pps_t, pps1, set_t);
			else
				ok("T=%u: SCardConnect, SELECT; before it PPS for T=%u (PPS1 96) and SetParameters T=%u "
				   "(%u IccPowerOn so far)", t, t, t, ons);
		}
		rv = SCardDisconnect(h, SCARD_RESET_CARD);
		if (rv != SCARD_S_SUCCESS)
			fail("T=%u: SCardDisconnect RESET: %s", t, pcsc_stringify_error(rv));
	}
}

int main(int argc, char **argv)
{
	const char *cmd;
	int i = 1;
	LONG rv;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--ctl"))
			ctl_path = argv[i + 1];
		else if (!strcmp(argv[i], "--bus"))
			bus = argv[i + 1];
		else
			break;
		i += 2;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: pcsc-client [--ctl SOCK --bus BUSID] CMD READER [ARGS]\n");
		return 2;
	}
	cmd = argv[i];
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		printf("FAIL SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	if (find_reader(argv[i + 1]) < 0) {
		printf("FAIL no reader matching '%s'\n", argv[i + 1]);
		return 1;
	}
	i += 2;
	if (!strcmp(cmd, "session"))
		cmd_session(i < argc && !strcmp(argv[i], "--extended"));
	else if (!strcmp(cmd, "events") && i < argc)
		cmd_events((unsigned)atoi(argv[i]));
	else if (!strcmp(cmd, "hold"))
		cmd_hold();
	else if (!strcmp(cmd, "after-kill") && i < argc)
		cmd_after_kill((unsigned)atoi(argv[i]));
	else if (!strcmp(cmd, "fault") && i + 1 < argc)
		cmd_fault(argv[i], atoi(argv[i + 1]), i + 2 < argc ? atoi(argv[i + 2]) : 0,
			  i + 3 < argc && !strcmp(argv[i + 3], "recover"));
	else if (!strcmp(cmd, "control") && i < argc)
		cmd_control(atoi(argv[i]) != 0);
	else if (!strcmp(cmd, "limits"))
		cmd_limits();
	else if (!strcmp(cmd, "swaps") && i < argc)
		cmd_swaps(atol(argv[i]));
	else if (!strcmp(cmd, "atrs") && i < argc)
		cmd_atrs(argv[i]);
	else if (!strcmp(cmd, "attrs") && i < argc)
		cmd_attrs(argv[i]);
	else if (!strcmp(cmd, "bench") && i < argc)
		cmd_bench(atol(argv[i]));
	else if (!strcmp(cmd, "protocol") && i < argc)
		cmd_protocol(argc - i, argv + i);
	else {
		fprintf(stderr, "pcsc-client: bad command '%s'\n", cmd);
		SCardReleaseContext(ctx);
		return 2;
	}
	SCardReleaseContext(ctx);
	printf("%s: %d failed\n", cmd, fails);
	return fails ? 1 : 0;
}
