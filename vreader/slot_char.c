/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PC_to_RDR_XfrBlock at the character level (CCID 1.1 §6.1.4): the virtual
 * reader moves abData to the card byte by byte and reads back
 * wLevelParameter bytes; the host runs T=0's procedure bytes, T=1's block
 * framing and the PPS exchange itself.  slot.c sends the answer this file
 * decides.  A card that sends fewer bytes than
 * asked for is reported mute after the reader's timeout (cfg.mute_ms), as a
 * reader that times out on the card's waiting time does.
 */
#include "config.h"

#include <string.h>

#include "ccid/bytes.h"
#include "vreader/device_priv.h"

void vdev_xfr_char(struct vdev *d, struct vslot *s, const struct ccid_msg *m, struct vdev_char_answer *ret)
{
	size_t max = ccid_class_desc_max_message(&d->cfg.desc) - CCID_HEADER_SIZE;
	uint16_t level = m->xfr.wLevelParameter;
	uint32_t work = 0;

	*ret = (struct vdev_char_answer){ .cmd_status = CCID_CMD_FAILED };
	/* the answer must fit one message: more is a bad wLevelParameter (§6.2.6: its offset) */
	if (level > max) {
		ret->error = CCID_OFF_B8;
		return;
	}
	if (vcard_char_write(s->card, m->abData, m->dwLength, &work) < 0) {
		ret->error = CCID_ERR_ICC_MUTE;
		ret->delay_ms = d->cfg.mute_ms;
		return;
	}
	s->pps_window = false;
	/* a PPS the card answered may have changed its protocol (ISO 7816-3 §9.3) */
	s->protocol = vcard_protocol(s->card);
	if (vcard_char_pending(s->card) < level) {
		vdev_log(d, "slot %u: %u bytes asked for, the card sends %zu: mute", s->index, (unsigned)level,
			 vcard_char_pending(s->card));
		vcard_char_read(s->card, s->rsp, vcard_char_pending(s->card));
		ret->error = CCID_ERR_ICC_MUTE;
		ret->delay_ms = d->cfg.mute_ms + work;
		return;
	}
	ret->cmd_status = CCID_CMD_OK;
	ret->len = vcard_char_read(s->card, s->rsp, level);
	ret->delay_ms = work;
}
