/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the virtual reader's descriptor-dump parser
 * (vdev_config_from_reader_file, the tests/data/readers/ format): the input
 * is the file.  Properties: a refusal says why (err non-empty); an accepted
 * file gives a configuration the device model takes, whose descriptors the
 * driver's own parsers read back (the in-process transport opens it), and
 * whose class descriptor declares what the file said it does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "transport/transport.h"
#include "vreader/device.h"
#include "vreader/transport_inproc.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file lives in a memfd, opened once and rewritten per input: no disk, no directory
   entry per input (the parser opens it by its /proc/self/fd path like any other file). */
static char path[64];
static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_config cfg;
	struct uccid_transport *t;
	struct vdev *d;
	char err[256] = "";
	int r;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-vdesc", MFD_CLOEXEC);
		FUZZ_ASSERT(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	FUZZ_ASSERT(ftruncate(memfd, (off_t)size) == 0);
	FUZZ_ASSERT(pwrite(memfd, data, size, 0) == (ssize_t)size);
	r = vdev_config_from_reader_file(path, &cfg, err, sizeof(err));
	if (r < 0) {
		FUZZ_ASSERT(err[0] && strlen(err) < sizeof(err));
		return 0;
	}
	FUZZ_ASSERT(strnlen(cfg.name, sizeof(cfg.name)) < sizeof(cfg.name));
	d = vdev_new(&cfg);
	if (!d)
		return 0;       /* a configuration the device model refuses (EINVAL) */
	FUZZ_ASSERT(vdev_nslots(d) == (unsigned)cfg.desc.bMaxSlotIndex + 1 || vdev_nslots(d) <= VDEV_MAX_SLOTS);
	r = vreader_inproc_open(d, &t);
	FUZZ_ASSERT(r == 0);
	t->ops->close(t);
	vdev_free(d);
	return 0;
}
