/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the virtual reader's control protocol (vreader/control.c,
 * uccid-vreader(1)): each line of the input is one command (insert, remove,
 * swap, fault, status, journal, reader ...) run against two virtual readers
 * (a multi-slot one and a T=1 one).  Properties: every reply ends in
 * "ok ..." or "error: ..." within its buffer and the return value agrees;
 * after every command the reader it addressed, and at the end both readers,
 * still answer a GetSlotStatus on every slot with a well-formed message.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/message.h"
#include "vreader/control.h"
#include "vreader/device.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GetSlotStatus for every slot through the device's USB side; each answer must decode. */
static void poke(struct vdev *d, int64_t now)
{
	for (unsigned slot = 0; slot < vdev_nslots(d); slot++) {
		uint8_t cmd[CCID_HEADER_SIZE] = { CCID_PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, (uint8_t)slot, 0x42 };
		uint8_t ans[512];
		enum vusb_in_action act;
		struct ccid_msg m;
		int n;

		FUZZ_ASSERT(vdev_usb_ops.out(d, VDEV_BULK_OUT, cmd, sizeof(cmd), now) == (int)sizeof(cmd));
		n = vdev_usb_ops.in(d, VDEV_BULK_IN, ans, sizeof(ans), &act, now);
		if (n <= 0 || act != VUSB_IN_DATA)
			continue;       /* a fault armed by the input (mute, stall, ...) */
		if (ccid_msg_decode(ans, (size_t)n, &m, NULL) == 0)
			fuzz_sink += m.bMessageType;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the two readers are made once and reset per input (vdev_reset: as new, without allocating) */
	static struct vctl_reader readers[2];
	static struct vctl *c;          /* holds no state between commands but its 1 MB reply buffer */
	char *text = malloc(size + 1), *line, *save = NULL;
	static char out[8192];
	unsigned current = 0;
	int64_t now = 1000000;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!readers[0].dev) {
		struct vdev_config a, b;

		FUZZ_ASSERT(vdev_profile_config(VDEV_PROFILE_MULTI_SLOT, &a) == 0);
		FUZZ_ASSERT(vdev_profile_config(VDEV_PROFILE_TPDU_T1, &b) == 0);
		readers[0] = (struct vctl_reader){ .dev = vdev_new(&a), .busid = "1-1" };
		readers[1] = (struct vctl_reader){ .dev = vdev_new(&b), .busid = "1-2" };
		FUZZ_ASSERT(readers[0].dev && readers[1].dev);
	}
	if (!c) {
		c = vctl_new(readers, 2);
		FUZZ_ASSERT(c);
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned addressed = current;   /* a command acts on the current reader only */
		int r = vctl_execute(c, &current, line, out, sizeof(out), now);
		size_t len = strlen(out);

		FUZZ_ASSERT(len < sizeof(out));
		FUZZ_ASSERT(current < 2);
		if (r == 0)
			FUZZ_ASSERT(strstr(out, "ok") != NULL);
		else if (r < 0)
			FUZZ_ASSERT(strstr(out, "error") != NULL);
		now += 1000;
		poke(readers[addressed].dev, now);
		if (r == 1)
			break;  /* quit */
	}
	poke(readers[0].dev, now + 1000);
	poke(readers[1].dev, now + 1000);
	free(text);
	/* as new for the next input; at the end, so that an input frees what it allocated */
	FUZZ_ASSERT(vdev_reset(readers[0].dev) == 0 && vdev_reset(readers[1].dev) == 0);
	return 0;
}
