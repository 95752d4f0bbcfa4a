/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for what SCardControl hands the IFD handler (ifd/control.c,
 * ifd/secure.c): the part 10 PIN structures (FEATURE_VERIFY_PIN_DIRECT,
 * MODIFY_PIN_DIRECT), the escape pass-through, the feature and TLV
 * requests and uccid's own codes, against the in-process virtual reader
 * (a reader with a PIN pad, its card powered).  Input: byte 0 picks the
 * control code (or, past the table, the next four bytes are the code),
 * byte 1 the answer buffer's size, the rest is what the caller sends.
 * Properties: the answer's length is within the buffer given (an
 * exact-size heap buffer, so ASan sees a byte too far), an error writes
 * no length, and the reader still works after every input.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifd/ifd_priv.h"
#include "session/uccid.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ifd_reader rd;
static struct vdev *dev;

static const DWORD codes[] = {
	IFD_FEATURE_CTL(FEATURE_VERIFY_PIN_DIRECT),
	IFD_FEATURE_CTL(FEATURE_MODIFY_PIN_DIRECT),
	IOCTL_UCCID_ESCAPE,
	IFD_FEATURE_CTL(FEATURE_CCID_ESC_COMMAND),
	CM_IOCTL_GET_FEATURE_REQUEST,
	CM_IOCTL_GET_FEATURE_REQUEST_WIN,
	IFD_FEATURE_CTL(FEATURE_GET_TLV_PROPERTIES),
	IFD_FEATURE_CTL(FEATURE_IFD_PIN_PROPERTIES),
	IOCTL_UCCID_GENERATION,
	IOCTL_UCCID_LOCK_HOLDER,
};

static void rig_open(void)
{
	struct uccid_options o = { .exchange_deadline_ms = 2000, .power_deadline_ms = 2000 };
	struct uccid_transport *t;
	struct vdev_config cfg;
	uint8_t atr[40];
	char err[256] = "";

	ifd_config.log_mask = 0;                /* the handler's log lines: not the test */
	ifd_config.options = IFD_OPTION_ESCAPE; /* the escape pass-through allowed */
	FUZZ_ASSERT(vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg) == 0);
	cfg.desc.bPINSupport = CCID_PIN_VERIFY | CCID_PIN_MODIFY;
	/* a PIN entry the structure starts is cancelled at once, not waited out for bTimeOut */
	snprintf(cfg.keypad_auto, sizeof(cfg.keypad_auto), "cancel");
	dev = vdev_new(&cfg);
	FUZZ_ASSERT(dev);
	FUZZ_ASSERT(vreader_inproc_open(dev, &t) == 0);
	FUZZ_ASSERT(uccid_open_transport(t, &o, &rd.r, err, sizeof(err)) == 0);
	FUZZ_ASSERT(uccid_info(rd.r, &rd.info) == 0);
	FUZZ_ASSERT(uccid_class_descriptor(rd.r, rd.desc) == 54);
	strcpy(rd.name, "fuzz");
	pthread_cond_init(&rd.cond, NULL);
	FUZZ_ASSERT(uccid_power_on(rd.r, 0, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uccid_slot_status st;
	size_t rxcap, ret_len = 0xDEAD, off = 2;
	DWORD code;
	uint8_t *rx;
	RESPONSECODE rc;

	if (!rd.r)
		rig_open();
	if (size < 2)
		return 0;
	if (data[0] < sizeof(codes) / sizeof(codes[0])) {
		code = codes[data[0]];
	} else {
		if (size < 6)
			return 0;
		code = (DWORD)ifd_get_le32(data + 2);
		off = 6;
	}
	rxcap = data[1] == 0xFF ? 0 : (size_t)data[1] * 2;
	rx = malloc(rxcap ? rxcap : 1);
	if (!rx)
		return 0;
	rc = ifd_control(&rd, 0, code, data + off, size - off, rx, rxcap, &ret_len);
	if (rc == IFD_SUCCESS)
		FUZZ_ASSERT(ret_len <= rxcap);
	else
		FUZZ_ASSERT(ret_len == 0);
	for (size_t i = 0; rc == IFD_SUCCESS && i < ret_len; i++)
		fuzz_sink += rx[i];
	free(rx);
	/* whatever was sent, the reader answers the next command */
	FUZZ_ASSERT(uccid_slot_status(rd.r, 0, &st) == 0);
	return 0;
}
