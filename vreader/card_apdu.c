/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated card at APDU level: a whole command APDU in, a whole
 * response out, as a reader with APDU-level exchange delivers them (CCID
 * §6.1.4).  The T=0 and T=1 states are reset, since the command does not
 * travel in TPDUs; the application (card_app.c) answers it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vreader/card.h"

int vcard_apdu(struct vcard *card, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
	       uint32_t *work_ms)
{
	struct vcard_cmd c;
	uint32_t work = 0;
	size_t n;

	if (!card || !cmd || !rsp)
		return -EINVAL;
	if (!card->powered)
		return -ENODEV;
	card->pps_allowed = false;
	vcard_t0_reset(card);
	card->t1.state = VCARD_T1_IDLE;
	card->t1.cmd_len = 0;
	if (vcard_cmd_parse(cmd, len, &c) < 0) {
		/* no valid case (ISO 7816-4 §5.1): wrong length */
		card->rsp[0] = 0x67;
		card->rsp[1] = 0x00;
		n = 2;
	} else {
		n = vcard_app_exec(card, &c, &work);
	}
	if (cap < n)
		return -ENOBUFS;
	memcpy(rsp, card->rsp, n);
	if (work_ms)
		*work_ms = work;
	return (int)n;
}
