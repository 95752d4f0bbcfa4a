/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader as a USB ICCD token (vreader/iccd.c): the state of its
 * control-pipe exchange, and the calls device.c makes when its
 * configuration has bInterfaceProtocol 1 (version A) or 2 (version B).
 */
#ifndef VREADER_ICCD_H
#define VREADER_ICCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vdev;

/* The exchange in progress on the token's one slot. */
struct vdev_iccd {
	uint8_t a_state;                /* version A: enum ccid_iccd_a_state the token is in */
	uint8_t hdr[5];                 /* version A: the command header */
	bool have_hdr;                  /* ... received, the command not run yet */
	uint8_t *cmd;                   /* version B: the command APDU being assembled (VCARD_APDU_MAX) */
	size_t cmd_len;
	bool chaining;                  /* version B: a command chain is open */
	uint8_t *rsp;                   /* the card's response (VCARD_RSP_MAX) */
	size_t rsp_len, rsp_off;        /* handed out up to rsp_off */
	bool pending;                   /* version B: DATA_BLOCK has an answer (else status information) */
	bool pending_status;            /* ... which is status information: bStatus, bError */
	bool next_part;                 /* ... the next part of the response */
	uint8_t bStatus, bError;
	int64_t busy_until;             /* the card works until then (µs; VUSB_NEVER: for ever) */
	bool garbage;                   /* GARBAGE fault: the next status / answer is malformed */
};

/* Allocate the buffers of an ICCD configuration (nothing for CCID).  Returns 0, -EINVAL, -ENOMEM. */
int vdev_iccd_init(struct vdev *d);
void vdev_iccd_free(struct vdev *d);
/*
 * A class request to the interface (bmRequestType 21h / A1h) of an ICCD
 * token: as struct vusb_ops.control — the IN bytes, 0 for an OUT request,
 * or -EPIPE (STALL) for a request the token refuses.
 */
int vdev_iccd_control(struct vdev *d, const uint8_t setup[8], const uint8_t *data, uint8_t *in, size_t in_cap,
		      int64_t now);

#endif
