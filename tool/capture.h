/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid --pcap: a transport between the session and the reader's own
 * (uccid_open_wrapped) that records every transfer the session makes —
 * control, bulk-OUT, bulk-IN and interrupt-IN, each submission and each
 * completion at its own time — in a pcapng file as usbmon would have seen
 * it (tool/pcap.h).  The file starts with the reader's GET_DESCRIPTOR
 * answers, so Wireshark knows the CCID interface; a reconnect writes them
 * again (a new instance of the device).
 */
#ifndef UCCID_TOOL_CAPTURE_H
#define UCCID_TOOL_CAPTURE_H

#include "transport/transport.h"
#include "tool/pcap.h"

struct tool_capture;

/* A capture into w (not owned; it must outlive every transport wrapped).  NULL on allocation failure. */
struct tool_capture *tool_capture_new(struct pcap_writer *w);
void tool_capture_free(struct tool_capture *c);

/*
 * A uccid_wrap_fn (ctx: struct tool_capture *): the recording transport
 * around inner, which it then owns; it writes inner's descriptors first.
 */
struct uccid_transport *tool_capture_wrap(void *ctx, struct uccid_transport *inner);

/* Free a wrapper that nobody used, leaving its inner transport open (an outer wrap failed). */
void tool_capture_unwrap(struct uccid_transport *t);

#endif
