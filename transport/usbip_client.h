/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The USB/IP client transport: reaches a CCID interface exported by a
 * USB/IP server (Linux usbipd, uccid-vreader) over one TCP connection,
 * without the kernel's vhci-hcd.  uccid_usbip_list() asks a server what it
 * exports (OP_REQ_DEVLIST); uccid_usbip_open() imports one device
 * (OP_REQ_IMPORT), reads its descriptors over URBs and returns a struct
 * uccid_transport (transport/transport.h) whose calls become CMD_SUBMIT /
 * CMD_UNLINK.  Protocol: shared/docs/reference/usbip.md ("ref §N").
 * Library code: nothing is printed; failures of list and open are
 * described in the caller's err buffer.
 */
#ifndef UCCID_USBIP_CLIENT_H
#define UCCID_USBIP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UCCID_USBIP_DEFAULT_PORT 3240
#define UCCID_USBIP_URL_MAX 128           /* longest URL accepted, NUL excluded */
#define UCCID_USBIP_HOST_MAX 64           /* longest HOST (name or address, no brackets) */
#define UCCID_USBIP_BUSID_MAX 31          /* usbip_usb_device.busid is 32 bytes with its NUL */
#define UCCID_USBIP_MAX_INTERFACES 32     /* per device in a device list (USB_MAXINTERFACES) */

/*
 * Largest bulk transfer: the largest CCID message (10 + 65544 bytes, CCID
 * §5.1 dwMaxCCIDMessageLength) plus a margin, rounded.  bulk_in offers at
 * most this much per URB; bulk_out refuses more.  Control transfers are
 * bounded by UCCID_DESC_MAX.
 */
#define UCCID_USBIP_MAX_BULK (65554u + 1006u)          /* 66560 */
#define UCCID_USBIP_MAX_PENDING 32        /* URBs in flight per connection, unlinks included */
/*
 * How long a timed-out call waits for its RET_UNLINK by default (the
 * session passes its exchange deadline instead, whose default this is):
 * Linux's vhci-hcd waits without a limit, and a loaded server or a slow
 * link answers late; only then is the connection given up.
 */
#define UCCID_USBIP_UNLINK_WAIT_MS 60000

/* Whether a listed device looks like a smart-card reader (from its interface classes). */
enum uccid_usbip_ccid {
	UCCID_USBIP_NOT_CCID = 0,
	UCCID_USBIP_CCID,                 /* an interface of class 0B (smart card, CCID §4.3) */
	UCCID_USBIP_MAYBE_CCID,           /* no class 0B but a vendor-class (FF) interface: only its
					   * class descriptor can tell (ccid_usb_find_ccid after open) */
	UCCID_USBIP_UNKNOWN,              /* listed unconfigured, without interfaces, and it could not be
					   * imported to read its descriptors (busy, refused): class unknown */
};

struct uccid_usbip_interface {
	uint8_t bInterfaceClass, bInterfaceSubClass, bInterfaceProtocol;
};

/* One device of OP_REP_DEVLIST (ref §2), strings always NUL-terminated. */
struct uccid_usbip_device {
	char busid[32];
	char path[256];
	uint32_t busnum, devnum;
	uint32_t speed;                   /* enum usb_device_speed: 1 low, 2 full, 3 high, 5 super */
	uint16_t idVendor, idProduct, bcdDevice;
	uint8_t bDeviceClass, bDeviceSubClass, bDeviceProtocol;
	uint8_t bConfigurationValue;      /* 0: not configured */
	uint8_t bNumConfigurations;
	unsigned ninterfaces;
	struct uccid_usbip_interface intf[UCCID_USBIP_MAX_INTERFACES];
	bool probed;                      /* the list had no interfaces (an unconfigured export, as Linux's
					   * usbip-host right after `usbip bind`): intf[] was read from the
					   * configuration descriptor by importing the device for a moment */
	enum uccid_usbip_ccid ccid;
};

/*
 * Split a URL "usbip://HOST[:PORT]/BUSID".  HOST is a DNS name or an IPv4
 * address (letters, digits, '-', '.') or an IPv6 address in brackets
 * ("[::1]", written to host without them); PORT is 1..65535 in decimal
 * (default 3240); BUSID is 1..31 characters of [A-Za-z0-9.:_-] ("1-1",
 * "3-2.1").  Nothing else is accepted: no user, query, fragment, trailing
 * slash or empty part.
 * Returns 0, or -EINVAL (NULL, malformed, a part too long for its limit or
 * for host_cap / busid_cap).
 */
int uccid_usbip_parse_url(const char *url, char *host, size_t host_cap, uint16_t *port, char *busid,
			  size_t busid_cap);

/*
 * A reader's URL: "usbip://HOST[:PORT]/BUSID[/INTERFACE]", as above with
 * the bInterfaceNumber of the CCID interface to use after the bus ID (0..255
 * in decimal, no leading zero): a composite device's second CCID interface
 * (ACS ACR1251 Dual: its PIN pad) is reached only so, its first without it.
 * *ret_interface is -1 when the URL names none.  Returns 0 or -EINVAL.
 */
int uccid_usbip_parse_reader_url(const char *url, char *host, size_t host_cap, uint16_t *port, char *busid,
				 size_t busid_cap, int *ret_interface);

/*
 * Ask host:port for its exported devices (OP_REQ_DEVLIST) and copy up to
 * max of them to out[] (out may be NULL when max is 0).  A device listed
 * unconfigured and without interfaces is imported for a moment to read its
 * configuration descriptor (probed); when that fails its class is
 * UCCID_USBIP_UNKNOWN.  The whole exchange (resolve excepted, connect,
 * request, reply, probes) is bounded by timeout_ms.
 * Returns the number of devices the server exports (possibly more than
 * max, as snprintf does), or -EINVAL, -ETIMEDOUT, -ECONNREFUSED (or another
 * connect errno), -EBADMSG / -EMSGSIZE (a malformed or oversized reply),
 * -EPROTO (the server refused: non-zero status), -ENOMEM.  err (optional)
 * describes a failure, e.g. "127.0.0.1:3240: connection refused".
 */
int uccid_usbip_list(const char *host, uint16_t port, struct uccid_usbip_device *out, size_t max,
		     unsigned timeout_ms, char *err, size_t errlen);

/*
 * Import the device at url and open its index-th CCID interface (0 = the
 * first; a composite device may hold several), or the one the URL names
 * (uccid_usbip_parse_reader_url; index must then be 0).  Connects (non-blocking,
 * TCP_NODELAY, SO_KEEPALIVE), sends OP_REQ_IMPORT and checks the busid of
 * the reply, reads the device and configuration descriptors with
 * GET_DESCRIPTOR URBs, sends SET_CONFIGURATION (always, as Linux's
 * vhci-hcd: a device server may open its endpoints only then; the value is
 * the import reply's, or the configuration descriptor's when the device
 * was exported unconfigured), and finds the CCID interface.  Everything up
 * to the return is bounded by timeout_ms (name resolution excepted; a URB
 * that timed out may wait as long again for its RET_UNLINK).  On success
 * *ret is a transport whose info.path is url; a URB of it that times out
 * waits up to UCCID_USBIP_UNLINK_WAIT_MS for its RET_UNLINK.
 * Returns 0, or -EINVAL (bad URL or arguments), -ETIMEDOUT, a connect
 * errno (-ECONNREFUSED, -EHOSTUNREACH ...), -EBUSY (the server refused the
 * import: the device is imported by another host), -ENODEV (the server
 * refused the import otherwise, or closed or broke the connection),
 * -EPROTO (a reply that contradicts the request: busid, lengths), -ENOENT
 * (no index-th CCID interface, or the URL's interface is none), -EBADMSG (malformed descriptors), -ENOMEM.
 * err (optional) names what failed in words a user can act on.
 */
int uccid_usbip_open(const char *url, unsigned index, unsigned timeout_ms, struct uccid_transport **ret,
		     char *err, size_t errlen);

/* How uccid_usbip_open_params() opens, and how the connection waits afterwards. */
struct uccid_usbip_params {
	unsigned timeout_ms;            /* connect, import, descriptors (0: no limit) */
	unsigned connect_ms;            /* the TCP connect within this of it (0: timeout_ms); also for
					   reconnect: a server that does not answer a SYN is given up
					   sooner than one that is slow on a long link */
	int busy_wait_ms;               /* the server refuses the import as busy: try again, with
					   back-off, for this long (0: fail at once; -1: no limit) */
	unsigned unlink_wait_ms;        /* a timed-out URB waits this long for its RET_UNLINK before the
					   connection is given up (0: UCCID_USBIP_UNLINK_WAIT_MS) */
};

/* uccid_usbip_open() with params p (NULL: all defaults); the same returns. */
int uccid_usbip_open_params(const char *url, unsigned index, const struct uccid_usbip_params *p,
			    struct uccid_transport **ret, char *err, size_t errlen);

/*
 * What a connection has cost since the import: CMD_SUBMIT and CMD_UNLINK
 * sent, and round trips — a PDU sent only after the answer to a PDU of
 * round trip n arrived belongs to round trip n + 1; PDUs in flight
 * together share one.  With one caller at a time, round_trips is how many
 * times it waited for the server (a remote reader's latency is that many
 * network round trips).
 */
struct uccid_usbip_stats {
	uint64_t submits;
	uint64_t unlinks;
	unsigned round_trips;
	uint64_t reconnects;            /* the connection was replaced by reconnect() (its PDUs are counted above) */
};

/* Returns 0 with *ret, or -EINVAL (NULL, or t is not a USB/IP transport). */
int uccid_usbip_stats(struct uccid_transport *t, struct uccid_usbip_stats *ret);

/* The backend's operations (ops->name is "usbip"). */
extern const struct uccid_transport_ops uccid_usbip_ops;

#ifdef __cplusplus
}
#endif

#endif
