/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names of the readers the bundle lists (SCARD_ATTR_VENDOR_NAME and
 * SCARD_ATTR_VENDOR_IFD_TYPE), from the same list as its Info.plist:
 * readers-table.c is generated at build time by gen-readers.sh.
 */
#include "config.h"

#include <stddef.h>

#include "ifd/ifd_priv.h"

const struct ifd_reader_name *ifd_reader_lookup(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < ifd_readers_count; i++)
		if (ifd_readers[i].vid == vid && ifd_readers[i].pid == pid)
			return &ifd_readers[i];
	return NULL;
}
