/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What libccid's ifdDriverOptions bits ask of a reader, with the meaning
 * libccid's Info.plist gives them (docs/ifd-uccid.8): the voltage a cold
 * power-up starts at (bits 4-5) and the order of the others, and, on the
 * Gemalto pinpads, turning off the VERIFY with no PIN the reader sends to
 * read the card's retry counter (0x0040).  The escape (0x0001) is
 * control.c's; 0x0002 is the session's (uccid_options.vendor_apdu_mode,
 * table.c); unknown bits are refused by config.c.
 */
#include "config.h"

#include <errno.h>

#include "ccid/ccid.h"
#include "ifd/ifd_priv.h"

/*
 * The pinpads whose secure PIN entry first sends VERIFY without a PIN to
 * read the retry counter, and the escape that turns it off (libccid's
 * ccid_open_hack_post: GemPC Pinpad and Vega Alpha, escape B5 00).
 */
static const struct {
	uint16_t vid, pid;
} retry_pinpads[] = {
	{ 0x08E6, 0x3478 },     /* Gemalto GemPC Pinpad */
	{ 0x0982, 0x0008 },     /* Vasco/OneSpan Vega Alpha */
};

void ifd_options_open(struct ifd_reader *rd)
{
	static const uint8_t no_retries[] = { 0xB5, 0x00 };
	uint8_t rsp[64];
	ssize_t n;

	if (!(ifd_config.options & IFD_OPTION_NO_PIN_RETRIES))
		return;
	for (size_t i = 0; i < sizeof(retry_pinpads) / sizeof(retry_pinpads[0]); i++) {
		if (rd->info.idVendor != retry_pinpads[i].vid || rd->info.idProduct != retry_pinpads[i].pid)
			continue;
		/* the driver's own escape: sent whether or not applications may send theirs (a reader
		   gone meanwhile is noticed at the next call) */
		n = uccid_escape(rd->r, 0, no_retries, sizeof(no_retries), rsp, sizeof(rsp));
		if (n < 0)
			ifd_log(IFD_LOG_ERROR, "%s: ifdDriverOptions 0x0040: the escape that turns the PIN retry "
				"counter VERIFY off failed: %s", rd->name, uccid_strerror((int)n));
		else
			ifd_log(IFD_LOG_INFO, "%s: ifdDriverOptions 0x0040: PIN retry counter VERIFY turned off",
				rd->name);
		return;
	}
}

/*
 * libccid's orders (commands.c CmdPowerOn): from the first voltage down
 * through 5 V -> 1.8 V -> 3 V -> 5 V, skipping what the reader cannot
 * supply.  0x30, "let the reader decide", is the reader's automatic
 * selection where it declares one; where it does not, libuccid's own order
 * (5 V, 3 V, 1.8 V) rather than a bPowerSelect the reader never offered.
 */
int ifd_power_up(struct ifd_reader *rd, unsigned slot, uint8_t *atr, size_t cap)
{
	static const enum uccid_voltage order[3][3] = {
		{ UCCID_VOLTAGE_5V, UCCID_VOLTAGE_1V8, UCCID_VOLTAGE_3V },      /* 0x00 */
		{ UCCID_VOLTAGE_3V, UCCID_VOLTAGE_5V, UCCID_VOLTAGE_1V8 },      /* 0x10 */
		{ UCCID_VOLTAGE_1V8, UCCID_VOLTAGE_3V, UCCID_VOLTAGE_5V },      /* 0x20 */
	};
	static const char *const name[] = { "auto", "5 V", "3 V", "1.8 V" };
	unsigned first = (ifd_config.options & IFD_OPTION_VOLTAGE) >> 4;
	int rc = -ENOTSUP;

	/* a reader that selects the voltage itself does (libccid sends it 00 whatever the option) */
	if (first == 3 || (rd->info.features & (CCID_FEAT_AUTO_VOLTAGE | CCID_FEAT_AUTO_ACTIVATION)))
		return uccid_power_on(rd->r, slot, UCCID_VOLTAGE_AUTO, atr, cap);
	for (int i = 0; i < 3; i++) {
		rc = uccid_power_on(rd->r, slot, order[first][i], atr, cap);
		if (rc >= 0 || rc == -ENOMEDIUM || rc == -ENODEV || rc == -ECANCELED)
			return rc;
		if (rc == -ENOTSUP)
			continue;       /* a voltage the reader does not supply (bVoltageSupport) */
		ifd_log(IFD_LOG_INFO, "%s: slot %u: no ATR at %s (%s); trying the next voltage", rd->name, slot,
			name[order[first][i]], uccid_strerror(rc));
		uccid_power_off(rd->r, slot);
	}
	return rc;
}
