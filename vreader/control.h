/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader's control interface: a line protocol (documented in
 * uccid-vreader(1)) to insert and remove cards, arm faults, and read the
 * journal and counters.  vctl_execute() is the same interpreter for the
 * Unix socket (--control PATH) and for in-process tests.
 */
#ifndef VREADER_CONTROL_H
#define VREADER_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "vreader/device.h"

#define VCTL_MAX_READERS 16
#define VCTL_LINE_MAX 1024

struct vctl_reader {
	struct vdev *dev;
	char busid[32];
};

struct vctl;
struct usbip_server;

/* readers[] must outlive the vctl. */
struct vctl *vctl_new(const struct vctl_reader *readers, unsigned n);
void vctl_free(struct vctl *c);

/*
 * Run one command line against reader *current (which "reader BUSID" may
 * change).  The reply, one or more lines ending with "ok ..." or
 * "error: ...", is written to out (always terminated); a reply longer than
 * cap is cut, and its last line then replaced by "ok (reply cut)" or
 * "error: reply cut", so that a client still reads the verdict.
 * Returns 0 if the command succeeded, 1 if the client asked to quit, or a
 * negative errno.
 */
int vctl_execute(struct vctl *c, unsigned *current, const char *line, char *out, size_t cap, int64_t now);

/*
 * Listen on a Unix socket at path (removed first if it is a stale socket)
 * and serve clients from srv's event loop.  Returns 0 or a negative errno.
 */
int vctl_listen(struct vctl *c, const char *path, struct usbip_server *srv);

#endif
