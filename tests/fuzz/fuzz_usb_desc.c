/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the standard USB descriptors: device and configuration
 * parsing, the CCID interface search and the describe walker.  Properties:
 * every offset the parser records lies inside the input; every CCID
 * interface found points at 54 bytes inside the input.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "ccid/class_desc.h"
#include "ccid/usb_desc.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ccid_usb_config cfg;
	struct ccid_usb_device_desc dev;
	struct ccid_diag diag = { 0 };

	if (ccid_usb_device_desc_parse(data, size, &dev, &diag) == 0)
		ccid_usb_device_desc_describe(&dev, fuzz_emit, NULL);
	if (ccid_usb_config_parse(data, size, &cfg, &diag) < 0) {
		FUZZ_ASSERT(diag.offset <= size);
		return 0;
	}
	FUZZ_ASSERT(cfg.ninterfaces <= CCID_USB_MAX_INTERFACES);
	for (unsigned i = 0; i < cfg.ninterfaces; i++) {
		FUZZ_ASSERT(cfg.intf[i].offset < size);
		FUZZ_ASSERT(cfg.intf[i].class_offset + cfg.intf[i].class_len <= size);
		FUZZ_ASSERT(cfg.intf[i].nendpoints <= CCID_USB_MAX_ENDPOINTS);
	}
	ccid_usb_config_describe(&cfg, data, size, fuzz_emit, NULL);
	for (unsigned n = 0; n <= CCID_USB_MAX_INTERFACES; n++) {
		struct ccid_usb_ccid_interface ci;
		struct ccid_class_desc cd;
		int r = ccid_usb_find_ccid(&cfg, data, size, n, &ci, &diag);

		if (r == -ENOENT)
			break;
		if (r < 0)
			continue;
		FUZZ_ASSERT(ci.class_offset + CCID_CLASS_DESC_LEN <= size);
		FUZZ_ASSERT(ccid_class_desc_parse(data + ci.class_offset, CCID_CLASS_DESC_LEN, &cd, NULL) == 0);
	}
	return 0;
}
