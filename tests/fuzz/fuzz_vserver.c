/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz harness for the virtual reader's USB/IP server (vreader/usbip_server.c)
 * and the device model behind it: the input is what a client sends on one
 * connection (OP_REQ_DEVLIST / OP_REQ_IMPORT, then CMD_SUBMIT and
 * CMD_UNLINK with their data, or garbage anywhere), byte 0 the server's
 * modes.  The server serves it to its end over a socketpair
 * (usbip_server_adopt), with a virtual reader exported as 1-1.
 * Properties: no crash, leak or sanitizer report; every answer the server
 * sends decodes (an op reply, or USB/IP headers whose payload lengths add up
 * to what was sent); the connection ends within a bounded number of loop
 * iterations once the client has nothing more to say.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbip/usbip_wire.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ITERATIONS 64
#define FUZZ_OUT_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usbip_server_modes modes = { 0 };
	struct vusb_device vd = { .ops = &vdev_usb_ops, .busid = "1-1" };
	/* one device and server per profile, made once; after each input the server has closed
	   the connection and the device is reset (vdev_reset): both as new for the next */
	static struct vdev *devs[VDEV_PROFILE_COUNT];
	static struct usbip_server *srvs[VDEV_PROFILE_COUNT];
	enum vdev_profile profile;
	struct usbip_server *srv;
	struct vdev *dev;
	static uint8_t out[FUZZ_OUT_MAX];
	size_t got = 0, sent = 0;
	int sv[2];
	bool closed = false;

	if (size < 1)
		return 0;
	modes.unconfigured = data[0] & 1;
	modes.config_gate = data[0] & 2;
	profile = (enum vdev_profile)((data[0] >> 2) % VDEV_PROFILE_COUNT);
	if (!devs[profile]) {
		struct vdev_config cfg;

		FUZZ_ASSERT(vdev_profile_config(profile, &cfg) == 0);
		cfg.mute_ms = 1;
		cfg.time_extension_ms = 1;
		devs[profile] = vdev_new(&cfg);
		FUZZ_ASSERT(devs[profile]);
		vd.dev = devs[profile];
		srvs[profile] = usbip_server_new();
		FUZZ_ASSERT(srvs[profile] && usbip_server_add_device(srvs[profile], &vd) == 0);
	}
	dev = devs[profile];
	srv = srvs[profile];
	usbip_server_counters_reset(srv);
	usbip_server_set_modes(srv, &modes);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	FUZZ_ASSERT(usbip_server_adopt(srv, sv[1]) == 0);
	data++;
	size--;

	for (int i = 0; i < FUZZ_ITERATIONS && !closed; i++) {
		ssize_t n;

		if (sent < size) {
			n = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			if (sent == size)
				shutdown(sv[0], SHUT_WR);
		} else if (!size && i == 0) {
			shutdown(sv[0], SHUT_WR);
		}
		FUZZ_ASSERT(usbip_server_run_once(srv, 0) == 0);
		while ((n = recv(sv[0], out + got, sizeof(out) - got, MSG_DONTWAIT)) > 0)
			got += (size_t)n;
		if (n == 0)
			closed = true;  /* the server ended the connection */
		if (got == sizeof(out))
			got = 0;        /* more than a megabyte of answers: only their framing matters */
	}
	/* the answers: an op reply first, or URB answers whose announced payloads fit */
	if (got >= 8) {
		struct usbip_op_common op;

		if (usbip_op_common_decode(out, got, &op, NULL) >= 0) {
			fuzz_sink += op.code;
		} else {
			size_t off = 0;

			while (off + USBIP_HEADER_SIZE <= got) {
				struct usbip_header h;

				if (usbip_header_decode(out + off, got - off, &h, NULL) < 0)
					break;
				off += USBIP_HEADER_SIZE + usbip_payload_length(&h, true);
			}
		}
	}
	/* the client hangs up: the server closes its end at its next turn (and detaches the device) */
	close(sv[0]);
	for (int i = 0; i < 4 && usbip_server_connections(srv); i++)
		FUZZ_ASSERT(usbip_server_run_once(srv, 0) == 0);
	FUZZ_ASSERT(usbip_server_connections(srv) == 0);
	FUZZ_ASSERT(vdev_reset(dev) == 0);
	return 0;
}
