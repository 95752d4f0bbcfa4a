/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A user-space USB/IP server exporting virtual USB devices (struct
 * vusb_device) over TCP, so that the kernel's vhci-hcd (`usbip attach`) or
 * uccid's own USB/IP client can use them like real hardware.  One
 * single-threaded poll() loop serves many clients at once: DEVLIST and
 * IMPORT in the op phase, then CMD_SUBMIT / CMD_UNLINK for the imported
 * device.  The server handles nothing on endpoint 0 itself: every control
 * request (GET_DESCRIPTOR, SET_CONFIGURATION, CLEAR_FEATURE ...) goes to the
 * device's ops->control, because unlike Linux's usbip-host there is no USB
 * core underneath to do it (ref §4).  Extra file descriptors (a control
 * socket) can share the loop.  A misbehaving or vanished client costs only
 * its own connection.  Sockets are non-blocking; the loop never blocks
 * except in poll().
 */
#ifndef VREADER_USBIP_SERVER_H
#define VREADER_USBIP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vreader/vusb.h"

/* Limits on what clients can make the server hold. */
#define USBIP_SERVER_MAX_DEVICES 32     /* exported devices */
#define USBIP_SERVER_MAX_CONNS 64       /* open client connections; more are accepted and closed */
#define USBIP_SERVER_MAX_PENDING 64     /* pending IN URBs per connection; more get -ENOMEM */
#define USBIP_SERVER_MAX_WATCHES 16     /* extra file descriptors */
#define USBIP_SERVER_OP_TIMEOUT_MS 10000 /* op phase (DEVLIST/IMPORT) must finish within this */
/* Stop reading a client's requests while this much output waits for it. */
#define USBIP_SERVER_OUT_HIGH_WATER (256u * 1024u)

struct usbip_server;

/*
 * Behaviours of real USB/IP servers that the virtual one reproduces on
 * demand, so that clients can be tested against them ("the virtual reader
 * must reproduce the field").  All zero: a plain, prompt server.
 */
struct usbip_server_modes {
	/*
	 * OP_REP_DEVLIST and OP_REP_IMPORT say bConfigurationValue 0 and carry
	 * no interfaces, as Linux's usbip-host right after `usbip bind` (the
	 * kernel exports the device unconfigured): the importer must read the
	 * configuration descriptor and send SET_CONFIGURATION itself.
	 */
	bool unconfigured;
	/*
	 * Endpoints other than 0 take URBs but answer none of them until a
	 * SET_CONFIGURATION with a non-zero value has passed on the
	 * connection, as a device server that opens its endpoints only then
	 * (Linux's client always sends it).  URBs taken before are never
	 * answered (a CMD_UNLINK still cancels them).  The device list and the
	 * import reply say the device is configured (the bConfigurationValue
	 * of its configuration descriptor).
	 */
	bool config_gate;
	/* Every RET_UNLINK leaves this long after its CMD_UNLINK (a loaded server, a slow link). */
	unsigned unlink_delay_ms;
	/*
	 * After an importer's connection ends, its device refuses imports as
	 * busy for this long (Linux's stub has not yet seen the close).
	 */
	unsigned busy_after_close_ms;
	/*
	 * The next bad_actual_length IN completions with data on endpoint
	 * bad_actual_ep (with the direction bit; 0 means 0x81) say
	 * actual_length one byte more than the URB's buffer, and carry that
	 * many bytes: a protocol violation the client must name.
	 */
	unsigned bad_actual_length;
	uint8_t bad_actual_ep;
	/*
	 * The next short_out OUT completions on endpoints other than 0 say
	 * actual_length one less than the URB carried (the device took it
	 * all): a short write, which the client must fail, not take as sent.
	 */
	unsigned short_out;
};

/* Replace the modes (see above); they apply from the next PDU on.  Same thread as the loop. */
void usbip_server_set_modes(struct usbip_server *s, const struct usbip_server_modes *m);
void usbip_server_get_modes(const struct usbip_server *s, struct usbip_server_modes *ret);

/*
 * What clients asked for, since creation or the last reset: PDUs are
 * counted as they are processed, so a test that counts them sees exactly
 * what went over the link (round trips and unlinks are the cost of a
 * remote reader).
 */
struct usbip_server_counters {
	uint64_t imports;               /* OP_REQ_IMPORT answered OK */
	uint64_t busy;                  /* OP_REQ_IMPORT refused as busy */
	uint64_t submit_in[16];         /* CMD_SUBMIT per endpoint number, direction IN (0: control IN) */
	uint64_t submit_out[16];        /* ... direction OUT (0: control OUT) */
	uint64_t unlinks;               /* CMD_UNLINK received */
	uint64_t unlinked;              /* ... that cancelled a pending URB (RET_UNLINK -ECONNRESET) */
	uint64_t restarts;              /* usbip_server_restart */
	uint64_t pending_in[16];        /* IN URBs waiting for the device now, per endpoint number (a
					   state, which a reset leaves as it is) */
};

void usbip_server_counters(const struct usbip_server *s, struct usbip_server_counters *ret);
void usbip_server_counters_reset(struct usbip_server *s);

/* Create a server with no devices.  Returns NULL on allocation failure. */
struct usbip_server *usbip_server_new(void);

/*
 * Export dev (copied; dev->dev must stay valid until usbip_server_free).
 * dev->busid ("1-1", "1-2", ...) is chosen by the caller.
 * Returns 0, or -EINVAL (NULL, no ops, busid empty or not NUL-terminated),
 * -EEXIST (busid already exported), -ENOSPC (USBIP_SERVER_MAX_DEVICES),
 * -ENOMEM.
 */
int usbip_server_add_device(struct usbip_server *s, const struct vusb_device *dev);

/*
 * Listen on addr (numeric IPv4 or IPv6, e.g. "127.0.0.1") and port (0 =
 * ephemeral; see usbip_server_port).  Once per server.
 * Returns 0, or -EINVAL (bad address), -EALREADY (already listening), or
 * the negative errno of socket/bind/listen.
 */
int usbip_server_listen(struct usbip_server *s, const char *addr, uint16_t port);

/*
 * Serve a client already connected on fd (a stream socket: an accepted
 * connection, one end of a socketpair), as if it had been accepted: the op
 * phase first.  The server owns fd from now on (closed on failure too) and
 * makes it non-blocking.  Returns 0, or -EINVAL, -ENOSPC
 * (USBIP_SERVER_MAX_CONNS), -ENOMEM, or the errno of fcntl.
 */
int usbip_server_adopt(struct usbip_server *s, int fd);

/* The port actually listened on, 0 before usbip_server_listen. */
uint16_t usbip_server_port(const struct usbip_server *s);
/* The connections open (accepted or adopted, not yet closed). */
unsigned usbip_server_connections(const struct usbip_server *s);

/*
 * Watch fd for input in the same loop: cb(ctx, fd, revents) is called from
 * usbip_server_run_once when poll() reports POLLIN/POLLHUP/POLLERR.  cb may
 * add or remove watches (its own too) and call usbip_server_wake.
 * Returns 0, or -EINVAL, -EEXIST (fd already watched), -ENOSPC.
 */
int usbip_server_add_watch(struct usbip_server *s, int fd,
			   void (*cb)(void *ctx, int fd, short revents), void *ctx);

/*
 * A restart, as a server process that stops and comes back ("the virtual
 * reader must reproduce the field"): every connection is dropped now (an
 * imported device detaches, as from a host that went away), the listening
 * socket is closed for down_ms (connections are refused), then opened on
 * the same address and port again.  Each device comes back as a new
 * instance, re-enumerated (ops->replug: its cards lose power): the device
 * list and import replies give it the next device number.  While a restart is under way, another one only
 * moves its end (0: serve again now).  Returns the connections dropped, or
 * -EINVAL (not listening).  Same thread as the loop.
 */
int usbip_server_restart(struct usbip_server *s, unsigned down_ms);

/* Stop watching fd (does not close it).  Unknown fds are ignored. */
void usbip_server_remove_watch(struct usbip_server *s, int fd);

/*
 * Device state changed outside a URB (e.g. a card inserted through the
 * control socket): re-poll pending IN URBs without waiting.  Same thread
 * as the loop only.
 */
void usbip_server_wake(struct usbip_server *s);

/*
 * One loop iteration: poll() for at most max_wait_ms (less if a device's
 * next_event or a wake is due; < 0 = no limit but those), then accept,
 * read and answer requests, poll every pending IN URB, write output.
 * Returns 0, or -EINVAL, or the negative errno of poll() (never -EINTR:
 * an interrupted poll is an iteration with nothing to do).
 */
int usbip_server_run_once(struct usbip_server *s, int max_wait_ms);

/*
 * Iterate until *stop becomes non-zero (checked at least every 100 ms, so
 * that a signal handler or another thread setting it is seen promptly).
 * stop is a lock-free atomic: C11 §7.14.1.1 lets a signal handler write
 * one, and, unlike a volatile sig_atomic_t, another thread may too.
 * Returns 0 when stopped, or -EINVAL, or the error of usbip_server_run_once.
 */
int usbip_server_run(struct usbip_server *s, const atomic_int *stop);

/* Close every connection (detaching imported devices) and free s.  NULL is ignored. */
void usbip_server_free(struct usbip_server *s);

#endif
