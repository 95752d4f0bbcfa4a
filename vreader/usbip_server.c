/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The USB/IP server of the virtual reader: a single-threaded poll() loop
 * that accepts TCP clients, answers OP_REQ_DEVLIST and OP_REQ_IMPORT, and
 * then carries CMD_SUBMIT / CMD_UNLINK between the importing host and a
 * struct vusb_device.  Each connection has an input buffer that reassembles
 * PDUs from partial reads and an output buffer drained on POLLOUT, so the
 * loop never blocks on a slow or hostile client; everything a client can
 * make us hold (PDU size, pending URBs, buffered output, connections, time
 * in the op phase) is bounded.  Protocol: shared/docs/reference/usbip.md
 * ("ref §N").
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usbip/usbip_wire.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

#define IN_CHUNK (64u * 1024u)          /* default input buffer; grows to one whole PDU */
#define OUT_KEEP (64u * 1024u)          /* output buffer kept after a drain */
#define ACCEPT_BURST 16                 /* accepts per iteration */
#define RUN_TICK_MS 100                 /* usbip_server_run re-checks *stop this often */

/* A CMD_SUBMIT on an IN endpoint that waits for the device (ref §4 "Bulk-IN"). */
struct pending {
	uint32_t seqnum;
	uint8_t ep;                     /* endpoint address with the direction bit (0x81) */
	uint32_t length;                /* transfer_buffer_length */
	uint32_t number_of_packets;     /* echoed in RET_SUBMIT, as the Linux stub does */
	bool held;                      /* taken before SET_CONFIGURATION (config_gate): never answered */
};

/* A RET_UNLINK waiting for its time (modes.unlink_delay_ms). */
struct delayed_unlink {
	uint32_t seqnum;
	int32_t status;
	int64_t due;                    /* µs */
};

struct export {
	struct vusb_device vd;
	struct conn *importer;          /* the one connection in the URB phase, or NULL */
	int64_t busy_until;             /* µs: imports refused as busy until then (busy_after_close_ms) */
	unsigned instance;              /* restarts: each one re-enumerates the device (its devnum) */
};

enum phase {
	PHASE_OP,                       /* waiting for OP_REQ_DEVLIST / OP_REQ_IMPORT */
	PHASE_URB,                      /* imported: CMD_SUBMIT / CMD_UNLINK */
};

struct conn {
	int fd;
	enum phase phase;
	bool closing;                   /* read nothing more; close once the output is sent */
	bool dead;                      /* close at the end of this iteration */
	int64_t deadline;               /* close at this time (op phase, closing), or VUSB_NEVER */
	struct export *exp;             /* imported device (PHASE_URB) */
	uint32_t devid;                 /* its busnum << 16 | devnum */
	uint8_t *in;                    /* in[in_off..in_len) not yet processed */
	size_t in_off, in_len, in_cap, in_need;
	uint8_t *out;                   /* out[out_off..out_len) not yet sent */
	size_t out_off, out_len, out_cap;
	struct pending pending[USBIP_SERVER_MAX_PENDING]; /* in submission order */
	unsigned npending;
	bool configured;                /* a SET_CONFIGURATION != 0 passed (config_gate) */
	struct delayed_unlink delayed[USBIP_SERVER_MAX_PENDING]; /* in due order */
	unsigned ndelayed;
};

struct watch {
	int fd;
	void (*cb)(void *ctx, int fd, short revents);
	void *ctx;
};

struct usbip_server {
	int lfd;
	uint16_t port;
	char addr[64];                  /* what usbip_server_listen bound, to listen again after a restart */
	int64_t relisten_at;            /* µs: a restart's end (0: none pending) */
	struct export exports[USBIP_SERVER_MAX_DEVICES];
	unsigned nexports;
	struct conn *conns[USBIP_SERVER_MAX_CONNS];
	unsigned nconns;
	struct watch watches[USBIP_SERVER_MAX_WATCHES];
	unsigned nwatches;
	bool wake;
	uint8_t *scratch;               /* one IN transfer: USBIP_MAX_TRANSFER + 1 bytes (bad_actual_length) */
	struct usbip_server_modes modes;
	struct usbip_server_counters counters;
};

/* ---------------------------------------------------------------------------
 * Buffers
 */

static size_t out_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* Room for n more output bytes; NULL (and the connection dies) if memory runs out. */
static uint8_t *out_reserve(struct conn *c, size_t n)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len < n) {
		size_t cap = c->out_len + n;
		uint8_t *p;

		if (cap < OUT_KEEP)
			cap = OUT_KEEP;
		p = realloc(c->out, cap);
		if (!p) {
			c->dead = true;
			return NULL;
		}
		c->out = p;
		c->out_cap = cap;
	}
	return c->out + c->out_len;
}

/* Start closing: no more input is read; the connection ends once its output is sent. */
static void conn_closing(struct conn *c, int64_t now)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->deadline == VUSB_NEVER)
		c->deadline = now + (int64_t)USBIP_SERVER_OP_TIMEOUT_MS * 1000;
}

/* ---------------------------------------------------------------------------
 * Replies
 */

/*
 * Queue a RET_SUBMIT answering req (ref §3): data is present only for an IN
 * request (len bytes, which become actual_length); for OUT, actual_length
 * says how much was consumed.  Returns the PDU length, or 0 if the
 * connection died for lack of memory.
 */
static size_t queue_ret_submit(struct conn *c, uint32_t seqnum, uint32_t number_of_packets,
			       int32_t status, uint32_t actual_length, const uint8_t *data)
{
	struct usbip_header h;
	size_t dlen = data ? actual_length : 0;
	uint8_t *p = out_reserve(c, USBIP_HEADER_SIZE + dlen);

	if (!p)
		return 0;
	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_SUBMIT;
	h.seqnum = seqnum;              /* devid, direction, ep: 0 in a RET (as the stub sends) */
	h.u.ret_submit.status = status;
	h.u.ret_submit.actual_length = actual_length;
	h.u.ret_submit.number_of_packets = number_of_packets;
	usbip_header_encode(&h, p, USBIP_HEADER_SIZE);
	if (dlen)
		memcpy(p + USBIP_HEADER_SIZE, data, dlen);
	c->out_len += USBIP_HEADER_SIZE + dlen;
	return USBIP_HEADER_SIZE + dlen;
}

static void queue_ret_unlink(struct conn *c, uint32_t seqnum, int32_t status)
{
	struct usbip_header h;
	uint8_t *p = out_reserve(c, USBIP_HEADER_SIZE);

	if (!p)
		return;
	memset(&h, 0, sizeof(h));
	h.command = USBIP_RET_UNLINK;
	h.seqnum = seqnum;
	h.u.ret_unlink.status = status;
	usbip_header_encode(&h, p, USBIP_HEADER_SIZE);
	c->out_len += USBIP_HEADER_SIZE;
}

/* bConfigurationValue of the device's (first) configuration descriptor; 1 if it has none to show. */
static uint8_t config_value(const struct export *e, int64_t now)
{
	static const uint8_t get_config[8] = { 0x80, 0x06, 0x00, 0x02, 0x00, 0x00, 0x09, 0x00 };
	uint8_t b[9];
	int r = e->vd.ops->control ? e->vd.ops->control(e->vd.dev, get_config, NULL, b, sizeof(b), now) : -EPIPE;

	return r >= 6 && b[5] ? b[5] : 1;
}

/*
 * The wire identity of an export, from the device's current vusb_info, as
 * the modes make the server show it: unconfigured (no interfaces), or
 * configured even before a host configured it (config_gate).
 */
static void export_identity(const struct usbip_server *s, const struct export *e, struct usbip_usb_device *ret_dev,
			    struct usbip_usb_interface ret_intf[8], int64_t now)
{
	struct vusb_info info;
	size_t n;

	memset(&info, 0, sizeof(info));
	e->vd.ops->info(e->vd.dev, &info);
	if (s->modes.unconfigured) {
		info.bConfigurationValue = 0;
		info.bNumInterfaces = 0;
	} else if (s->modes.config_gate && !info.bConfigurationValue) {
		info.bConfigurationValue = config_value(e, now);
	}
	memset(ret_dev, 0, sizeof(*ret_dev));
	n = strnlen(info.path, sizeof(info.path) - 1);
	memcpy(ret_dev->path, info.path, n);
	memcpy(ret_dev->busid, e->vd.busid, strlen(e->vd.busid));
	ret_dev->busnum = info.busnum;
	/* a device re-enumerated after a restart has the next address (1..127, USB 2.0 §9.1.1.4) */
	ret_dev->devnum = info.devnum ? 1 + (info.devnum - 1 + e->instance) % 127 : 0;
	ret_dev->speed = info.speed;
	ret_dev->idVendor = info.idVendor;
	ret_dev->idProduct = info.idProduct;
	ret_dev->bcdDevice = info.bcdDevice;
	ret_dev->bDeviceClass = info.bDeviceClass;
	ret_dev->bDeviceSubClass = info.bDeviceSubClass;
	ret_dev->bDeviceProtocol = info.bDeviceProtocol;
	ret_dev->bConfigurationValue = info.bConfigurationValue;
	ret_dev->bNumConfigurations = info.bNumConfigurations;
	/* vusb_info has room for 8 interfaces: never announce records we do not have. */
	ret_dev->bNumInterfaces = info.bNumInterfaces < 8 ? info.bNumInterfaces : 8;
	for (unsigned i = 0; i < ret_dev->bNumInterfaces; i++) {
		ret_intf[i].bInterfaceClass = info.intf[i].bInterfaceClass;
		ret_intf[i].bInterfaceSubClass = info.intf[i].bInterfaceSubClass;
		ret_intf[i].bInterfaceProtocol = info.intf[i].bInterfaceProtocol;
	}
}

/* ---------------------------------------------------------------------------
 * Op phase (ref §2)
 */

static void op_devlist(struct usbip_server *s, struct conn *c, int64_t now)
{
	size_t need = USBIP_OP_REP_DEVLIST_HEADER_SIZE + s->nexports * (USBIP_DEVICE_SIZE + 8 * USBIP_INTERFACE_SIZE);
	uint8_t *p = out_reserve(c, need);
	size_t off;

	if (!p)
		return;
	off = (size_t)usbip_rep_devlist_head_encode(USBIP_ST_OK, s->nexports, p, need);
	for (unsigned i = 0; i < s->nexports; i++) {
		struct usbip_usb_device d;
		struct usbip_usb_interface intf[8];
		ssize_t r;

		export_identity(s, &s->exports[i], &d, intf, now);
		r = usbip_devlist_entry_encode(&d, intf, p + off, need - off);
		if (r < 0) {            /* cannot happen: strings are bounded above */
			c->dead = true;
			return;
		}
		off += (size_t)r;
	}
	c->out_len += off;
}

static struct export *find_export(struct usbip_server *s, const char *busid)
{
	for (unsigned i = 0; i < s->nexports; i++)
		if (strcmp(s->exports[i].vd.busid, busid) == 0)
			return &s->exports[i];
	return NULL;
}

static void op_import(struct usbip_server *s, struct conn *c, const char *busid, int64_t now)
{
	struct export *e = find_export(s, busid);
	struct usbip_usb_device d;
	struct usbip_usb_interface intf[8];
	uint32_t status = USBIP_ST_OK;
	uint8_t *p;

	/* Refusals are op_common alone with a non-zero status (usbipd.c recv_request_import). */
	if (!e)
		status = USBIP_ST_NODEV;
	else if (e->importer || now < e->busy_until)
		status = USBIP_ST_DEV_BUSY;
	p = out_reserve(c, USBIP_OP_REP_IMPORT_SIZE);
	if (!p)
		return;
	if (status != USBIP_ST_OK) {
		if (status == USBIP_ST_DEV_BUSY)
			s->counters.busy++;
		c->out_len += (size_t)usbip_rep_import_encode(status, NULL, p, USBIP_OP_REP_IMPORT_SIZE);
		conn_closing(c, now);
		return;
	}
	s->counters.imports++;
	export_identity(s, e, &d, intf, now);
	c->out_len += (size_t)usbip_rep_import_encode(USBIP_ST_OK, &d, p, USBIP_OP_REP_IMPORT_SIZE);
	c->phase = PHASE_URB;
	c->deadline = VUSB_NEVER;
	c->exp = e;
	c->devid = usbip_devid(d.busnum, d.devnum);
	c->configured = false;
	e->importer = c;
	if (e->vd.ops->attach)
		e->vd.ops->attach(e->vd.dev, now);
}

/* ---------------------------------------------------------------------------
 * URB phase (ref §3, §4)
 */

/*
 * Endpoint 0.  The server answers nothing itself (ref §4: a virtual
 * device's server must handle GET_DESCRIPTOR, SET_CONFIGURATION,
 * CLEAR_FEATURE ... and it does so by passing them to ops->control).  The
 * SETUP packet's bmRequestType bit 7 decides the direction of the data
 * stage; the header's direction only decides whether data followed it.
 */
static void urb_control(struct usbip_server *s, struct conn *c, const struct usbip_header *h,
			const uint8_t *data, size_t dlen, int64_t now)
{
	const struct vusb_device *vd = &c->exp->vd;
	const uint8_t *setup = h->u.cmd_submit.setup;
	uint32_t np = h->u.cmd_submit.number_of_packets;
	struct usbip_setup st;
	int r;

	usbip_setup_decode(setup, &st);
	if (st.bmRequestType & USBIP_SETUP_DIR_IN) {
		/* IN data is truncated to wLength and to the URB's buffer. */
		size_t cap = st.wLength < h->u.cmd_submit.transfer_buffer_length ?
			     st.wLength : h->u.cmd_submit.transfer_buffer_length;

		r = vd->ops->control ? vd->ops->control(vd->dev, setup, NULL, s->scratch, cap, now) : -EPIPE;
		if (r < 0)
			queue_ret_submit(c, h->seqnum, np, r, 0, s->scratch);
		else
			queue_ret_submit(c, h->seqnum, np, 0, (size_t)r < cap ? (uint32_t)r : (uint32_t)cap,
					 s->scratch);
		return;
	}
	/* OUT: control() reads wLength bytes of data; a URB carrying fewer is refused as a STALL. */
	if (st.wLength > dlen) {
		queue_ret_submit(c, h->seqnum, np, -EPIPE, 0, NULL);
		return;
	}
	r = vd->ops->control ? vd->ops->control(vd->dev, setup, data, s->scratch, 0, now) : -EPIPE;
	/* SET_CONFIGURATION (USB 2.0 §9.4.7) opens the endpoints of a gated device, 0 closes them */
	if (r >= 0 && st.bmRequestType == 0x00 && st.bRequest == 0x09)
		c->configured = st.wValue != 0;
	queue_ret_submit(c, h->seqnum, np, r < 0 ? r : 0, r < 0 ? 0 : st.wLength, NULL);
}

static void urb_out(struct usbip_server *s, struct conn *c, const struct usbip_header *h, const uint8_t *data,
		    size_t dlen, int64_t now)
{
	const struct vusb_device *vd = &c->exp->vd;
	uint32_t np = h->u.cmd_submit.number_of_packets;
	int r = vd->ops->out ? vd->ops->out(vd->dev, (uint8_t)h->ep, data, dlen, now) : -EPIPE;
	uint32_t actual;

	if (r < 0) {
		queue_ret_submit(c, h->seqnum, np, r, 0, NULL);
		return;
	}
	actual = (size_t)r < dlen ? (uint32_t)r : (uint32_t)dlen;
	/* the short_out mode: a completion that says less went out than the URB carried */
	if (s->modes.short_out && h->ep != 0 && actual > 0) {
		s->modes.short_out--;
		actual--;
	}
	queue_ret_submit(c, h->seqnum, np, 0, actual, NULL);
}

/* An IN URB (held: taken on a closed endpoint, never answered) waits in c->pending. */
static void urb_in(struct conn *c, const struct usbip_header *h, bool held)
{
	struct pending *p;

	/* Bounded per connection; one over the limit fails alone, the connection stays. */
	if (c->npending >= USBIP_SERVER_MAX_PENDING) {
		queue_ret_submit(c, h->seqnum, h->u.cmd_submit.number_of_packets, -ENOMEM, 0, NULL);
		return;
	}
	p = &c->pending[c->npending++];
	p->seqnum = h->seqnum;
	p->ep = (uint8_t)(h->ep | 0x80);
	p->length = h->u.cmd_submit.transfer_buffer_length;
	p->number_of_packets = h->u.cmd_submit.number_of_packets;
	p->held = held;
}

static void pending_remove(struct conn *c, unsigned i)
{
	memmove(&c->pending[i], &c->pending[i + 1], (c->npending - i - 1) * sizeof(c->pending[0]));
	c->npending--;
}

/*
 * A RET_UNLINK now, or after modes.unlink_delay_ms (in the order the
 * unlinks came; when more wait than pending URBs could have, at once).
 */
static void answer_unlink(struct usbip_server *s, struct conn *c, uint32_t seqnum, int32_t status, int64_t now)
{
	if (!s->modes.unlink_delay_ms || c->ndelayed == USBIP_SERVER_MAX_PENDING) {
		queue_ret_unlink(c, seqnum, status);
		return;
	}
	c->delayed[c->ndelayed++] = (struct delayed_unlink){ seqnum, status,
							     now + (int64_t)s->modes.unlink_delay_ms * 1000 };
}

/* Queue the delayed RET_UNLINKs that are due. */
static void flush_delayed(struct conn *c, int64_t now)
{
	unsigned n = 0;

	while (n < c->ndelayed && c->delayed[n].due <= now) {
		queue_ret_unlink(c, c->delayed[n].seqnum, c->delayed[n].status);
		n++;
	}
	if (n) {
		memmove(c->delayed, c->delayed + n, (c->ndelayed - n) * sizeof(c->delayed[0]));
		c->ndelayed -= n;
	}
}

/*
 * CMD_UNLINK (ref §3): a pending URB is cancelled with RET_UNLINK
 * -ECONNRESET and never gets a RET_SUBMIT; a URB already answered (or
 * unknown) gets RET_UNLINK 0.
 */
static void urb_unlink(struct usbip_server *s, struct conn *c, const struct usbip_header *h, int64_t now)
{
	const struct vusb_device *vd = &c->exp->vd;

	s->counters.unlinks++;
	for (unsigned i = 0; i < c->npending; i++) {
		uint8_t ep = c->pending[i].ep;
		bool held = c->pending[i].held;

		if (c->pending[i].seqnum != h->u.cmd_unlink.seqnum)
			continue;
		pending_remove(c, i);
		if (vd->ops->unlink && !held)
			vd->ops->unlink(vd->dev, ep, now);
		s->counters.unlinked++;
		answer_unlink(s, c, h->seqnum, -ECONNRESET, now);
		return;
	}
	answer_unlink(s, c, h->seqnum, 0, now);
}

/*
 * Poll the device for every pending IN URB, oldest first.  Once an
 * endpoint says "nothing yet", its later URBs wait too, so data on one
 * endpoint is handed out in submission order; when one URB takes only part
 * of what is ready, the next URB on the same endpoint gets the rest in the
 * same pass.
 */
static void poll_pending(struct usbip_server *s, struct conn *c, int64_t now)
{
	const struct vusb_device *vd;
	uint16_t waiting = 0;           /* bit n: endpoint n returned -EAGAIN */
	unsigned i = 0;

	if (c->phase != PHASE_URB || !c->exp)
		return;
	vd = &c->exp->vd;
	while (i < c->npending && !c->dead && !c->closing && out_pending(c) < USBIP_SERVER_OUT_HIGH_WATER) {
		struct pending p = c->pending[i];
		enum vusb_in_action action = VUSB_IN_DATA;
		uint16_t bit = (uint16_t)(1u << (p.ep & 0x0F));
		int r;

		if (p.held || (waiting & bit)) {
			i++;
			continue;
		}
		r = vd->ops->in ? vd->ops->in(vd->dev, p.ep, s->scratch, p.length, &action, now) : -EPIPE;
		if (r == -EAGAIN && action == VUSB_IN_DATA) {
			waiting |= bit;
			i++;
			continue;
		}
		pending_remove(c, i);
		if (r > (int)p.length)  /* a device bug must not overrun the host's buffer */
			r = (int)p.length;
		if (action == VUSB_IN_STALL) {
			queue_ret_submit(c, p.seqnum, p.number_of_packets, -EPIPE, 0, s->scratch);
		} else if (action == VUSB_IN_DROP_CONNECTION) {
			/* Fault injection: half a RET_SUBMIT reaches the host, then the link drops. */
			size_t n = queue_ret_submit(c, p.seqnum, p.number_of_packets, 0,
						    r > 0 ? (uint32_t)r : 0, s->scratch);

			c->out_len -= n - n / 2;
			conn_closing(c, now);
		} else if (r < 0) {
			queue_ret_submit(c, p.seqnum, p.number_of_packets, r, 0, s->scratch);
		} else if (r > 0 && s->modes.bad_actual_length &&
			   p.ep == (s->modes.bad_actual_ep ? s->modes.bad_actual_ep : 0x81)) {
			/* Fault injection: one byte more than the host offered (scratch has room for it). */
			s->modes.bad_actual_length--;
			memset(s->scratch + r, 0, p.length + 1 - (size_t)r);
			queue_ret_submit(c, p.seqnum, p.number_of_packets, 0, p.length + 1, s->scratch);
		} else {
			queue_ret_submit(c, p.seqnum, p.number_of_packets, 0, (uint32_t)r, s->scratch);
		}
	}
}

/* One CMD_SUBMIT or CMD_UNLINK with its payload.  Returns false if the connection must end. */
static bool handle_urb(struct usbip_server *s, struct conn *c, const struct usbip_header *h,
		       const uint8_t *payload, size_t plen, int64_t now)
{
	/* The stub drops a connection whose PDU names another device (stub_rx.c valid_request). */
	if (h->devid != c->devid)
		return false;
	switch (h->command) {
	case USBIP_CMD_SUBMIT:
		if (h->direction == USBIP_DIR_OUT)
			s->counters.submit_out[h->ep & 0x0F]++;
		else
			s->counters.submit_in[h->ep & 0x0F]++;
		if (h->ep == 0)
			urb_control(s, c, h, payload, plen, now);
		else if (s->modes.config_gate && !c->configured)
			urb_in(c, h, true);     /* a closed endpoint: taken, never answered (OUT data dropped) */
		else if (h->direction == USBIP_DIR_OUT)
			urb_out(s, c, h, payload, plen, now);
		else
			urb_in(c, h, false);
		return true;
	case USBIP_CMD_UNLINK:
		urb_unlink(s, c, h, now);
		return true;
	default:                        /* RET_* from a client: garbage */
		return false;
	}
}

/* ---------------------------------------------------------------------------
 * Connections
 */

/* Process every complete request in the input buffer (while output may grow). */
static void conn_process(struct usbip_server *s, struct conn *c, int64_t now)
{
	while (!c->dead && !c->closing && out_pending(c) < USBIP_SERVER_OUT_HIGH_WATER) {
		size_t avail = c->in_len - c->in_off;
		const uint8_t *p;
		int r;

		if (!avail)             /* (c->in may still be NULL) */
			break;
		p = c->in + c->in_off;

		if (c->phase == PHASE_OP) {
			struct usbip_op_request req;

			r = usbip_op_request_decode(p, avail, &req, NULL);
			if (r == -ENODATA) {
				c->in_need = USBIP_OP_REQ_IMPORT_SIZE;
				break;
			}
			if (r < 0) {    /* bad version, unknown op, busid without NUL */
				c->dead = true;
				break;
			}
			c->in_off += (size_t)r;
			c->in_need = 0;
			if (req.code == USBIP_OP_REQ_DEVLIST) {
				op_devlist(s, c, now);
				conn_closing(c, now);   /* ref §2: DEVLIST ends the connection */
			} else {
				op_import(s, c, req.busid, now);
			}
		} else {
			struct usbip_header h;
			size_t plen;

			r = usbip_header_decode(p, avail, &h, NULL);
			if (r == -ENODATA) {
				c->in_need = USBIP_HEADER_SIZE;
				break;
			}
			if (r < 0) {    /* unknown command, oversize length, ISO */
				c->dead = true;
				break;
			}
			plen = usbip_payload_length(&h, false);
			if (avail < USBIP_HEADER_SIZE + plen) {
				c->in_need = USBIP_HEADER_SIZE + plen;
				break;
			}
			c->in_off += USBIP_HEADER_SIZE + plen;
			c->in_need = 0;
			if (!handle_urb(s, c, &h, p + USBIP_HEADER_SIZE, plen, now))
				c->dead = true;
		}
	}
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
		if (c->in_cap > IN_CHUNK) {     /* give back the room one large OUT needed */
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	}
}

/* One recv() into the input buffer, grown to hold the PDU being assembled. */
static void conn_read(struct conn *c)
{
	size_t want;
	ssize_t n;

	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	/* in_need is at most USBIP_HEADER_SIZE + USBIP_MAX_TRANSFER (checked by the decoder). */
	want = c->in_need > IN_CHUNK ? c->in_need : IN_CHUNK;
	if (c->in_cap < want) {
		uint8_t *p = realloc(c->in, want);

		if (!p) {
			c->dead = true;
			return;
		}
		c->in = p;
		c->in_cap = want;
	}
	if (c->in_len == c->in_cap)
		return;
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n > 0) {
		c->in_len += (size_t)n;
	} else if (n == 0) {
		c->dead = true;         /* the client went away */
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		c->dead = true;
	}
}

/* Send what we can; MSG_NOSIGNAL so that a vanished client never raises SIGPIPE. */
static void conn_flush(struct conn *c)
{
	while (!c->dead && out_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->dead)
		return;
	c->out_off = c->out_len = 0;
	if (c->out_cap > OUT_KEEP) {    /* give back the room one large transfer needed */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (c->closing)
		c->dead = true;
}

static void conn_free(struct usbip_server *s, struct conn *c, int64_t now)
{
	if (c->exp && c->exp->importer == c) {
		/* Pending URBs die with the connection; the device forgets the host. */
		c->exp->importer = NULL;
		c->exp->busy_until = now + (int64_t)s->modes.busy_after_close_ms * 1000;
		if (c->exp->vd.ops->detach)
			c->exp->vd.ops->detach(c->exp->vd.dev, now);
	}
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* A new client in the op phase; fd is closed on failure. */
static int conn_add(struct usbip_server *s, int fd, int64_t now)
{
	struct conn *c;

	if (s->nconns >= USBIP_SERVER_MAX_CONNS) {
		close(fd);      /* over the limit: an immediate EOF, not a hang in the backlog */
		return -ENOSPC;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->phase = PHASE_OP;
	c->deadline = now + (int64_t)USBIP_SERVER_OP_TIMEOUT_MS * 1000;
	c->in_need = USBIP_OP_REQ_IMPORT_SIZE;
	s->conns[s->nconns++] = c;
	return 0;
}

static void accept_clients(struct usbip_server *s, int64_t now)
{
	for (int k = 0; k < ACCEPT_BURST; k++) {
		int one = 1;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;         /* EAGAIN, or a client that vanished before accept */
		/* ref §1: the Linux server sets TCP_NODELAY; URB latency matters more than packets. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		(void)conn_add(s, fd, now);
	}
}

int usbip_server_adopt(struct usbip_server *s, int fd)
{
	int fl;

	if (!s || fd < 0)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return conn_add(s, fd, uccid_mono_us());
}

/* ---------------------------------------------------------------------------
 * Public API
 */

struct usbip_server *usbip_server_new(void)
{
	struct usbip_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->scratch = malloc(USBIP_MAX_TRANSFER + 1);
	if (!s->scratch) {
		free(s);
		return NULL;
	}
	s->lfd = -1;
	return s;
}

int usbip_server_add_device(struct usbip_server *s, const struct vusb_device *dev)
{
	size_t n;

	if (!s || !dev || !dev->ops || !dev->ops->info)
		return -EINVAL;
	n = strnlen(dev->busid, sizeof(dev->busid));
	if (n == 0 || n >= sizeof(dev->busid))
		return -EINVAL;
	if (find_export(s, dev->busid))
		return -EEXIST;
	if (s->nexports >= USBIP_SERVER_MAX_DEVICES)
		return -ENOSPC;
	s->exports[s->nexports].vd = *dev;
	s->exports[s->nexports].importer = NULL;
	s->nexports++;
	return 0;
}

static int listen_on(struct usbip_server *s, const char *addr, uint16_t port);

int usbip_server_listen(struct usbip_server *s, const char *addr, uint16_t port)
{
	if (!s)
		return -EINVAL;
	if (s->lfd >= 0 || s->relisten_at)
		return -EALREADY;
	if (!addr)
		addr = "127.0.0.1";
	if (strlen(addr) >= sizeof(s->addr))
		return -EINVAL;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return listen_on(s, addr, port);
}

/* Bind and listen on addr:port (SO_REUSEADDR: a restart binds the same port again). */
static int listen_on(struct usbip_server *s, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
	socklen_t sl;
	int one = 1, fd = -1, r;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sl = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		goto out;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		goto out;
	}
	s->port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
	s->lfd = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int usbip_server_restart(struct usbip_server *s, unsigned down_ms)
{
	int64_t now = uccid_mono_us();
	int n;

	if (!s || (s->lfd < 0 && !s->relisten_at))
		return -EINVAL;
	n = (int)s->nconns;
	for (unsigned i = 0; i < s->nconns; i++)
		conn_free(s, s->conns[i], now);
	s->nconns = 0;
	if (s->lfd >= 0) {
		for (unsigned i = 0; i < s->nexports; i++) {
			struct export *e = &s->exports[i];

			e->busy_until = 0;      /* a new process remembers no client */
			e->instance++;
			if (e->vd.ops->replug)
				e->vd.ops->replug(e->vd.dev, now);
		}
		close(s->lfd);
		s->lfd = -1;
		s->counters.restarts++;
	}
	/* (a restart while down only moves its end) */
	s->relisten_at = now + (int64_t)down_ms * 1000;
	return n;
}

/* A restart's end: listen again (tried again on every iteration until it works). */
static void relisten(struct usbip_server *s, int64_t now)
{
	if (s->lfd >= 0 || !s->relisten_at || now < s->relisten_at)
		return;
	if (listen_on(s, s->addr, s->port) == 0)
		s->relisten_at = 0;
}

void usbip_server_set_modes(struct usbip_server *s, const struct usbip_server_modes *m)
{
	if (s && m)
		s->modes = *m;
}

void usbip_server_get_modes(const struct usbip_server *s, struct usbip_server_modes *ret)
{
	if (s && ret)
		*ret = s->modes;
}

void usbip_server_counters(const struct usbip_server *s, struct usbip_server_counters *ret)
{
	if (!s || !ret)
		return;
	*ret = s->counters;
	memset(ret->pending_in, 0, sizeof(ret->pending_in));
	for (unsigned i = 0; i < s->nconns; i++)
		for (unsigned k = 0; k < s->conns[i]->npending; k++)
			ret->pending_in[s->conns[i]->pending[k].ep & 0x0F]++;
}

void usbip_server_counters_reset(struct usbip_server *s)
{
	if (s)
		memset(&s->counters, 0, sizeof(s->counters));
}

unsigned usbip_server_connections(const struct usbip_server *s)
{
	return s ? s->nconns : 0;
}

uint16_t usbip_server_port(const struct usbip_server *s)
{
	return s ? s->port : 0;
}

int usbip_server_add_watch(struct usbip_server *s, int fd,
			   void (*cb)(void *ctx, int fd, short revents), void *ctx)
{
	if (!s || fd < 0 || !cb)
		return -EINVAL;
	for (unsigned i = 0; i < s->nwatches; i++)
		if (s->watches[i].fd == fd)
			return -EEXIST;
	if (s->nwatches >= USBIP_SERVER_MAX_WATCHES)
		return -ENOSPC;
	s->watches[s->nwatches].fd = fd;
	s->watches[s->nwatches].cb = cb;
	s->watches[s->nwatches].ctx = ctx;
	s->nwatches++;
	return 0;
}

void usbip_server_remove_watch(struct usbip_server *s, int fd)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nwatches; i++) {
		if (s->watches[i].fd != fd)
			continue;
		memmove(&s->watches[i], &s->watches[i + 1], (s->nwatches - i - 1) * sizeof(s->watches[0]));
		s->nwatches--;
		return;
	}
}

void usbip_server_wake(struct usbip_server *s)
{
	if (s)
		s->wake = true;
}

/* Milliseconds until t (rounded up so that the event is due when poll returns). */
static int ms_until(int64_t t, int64_t now)
{
	int64_t ms;

	if (t <= now)
		return 0;
	ms = (t - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * How long poll() may sleep: until a wake, a connection deadline, or the
 * next_event of a device whose IN URBs are waiting (next_event only matters
 * to complete a pending URB).
 */
static int poll_timeout(struct usbip_server *s, int max_wait_ms, int64_t now)
{
	int t = max_wait_ms < 0 ? INT_MAX : max_wait_ms;

	if (s->wake)
		return 0;
	if (s->relisten_at) {
		/* a restart ends then; a port not yet free again is tried every RUN_TICK_MS */
		int m = ms_until(s->relisten_at, now);

		if (m < RUN_TICK_MS)
			m = s->relisten_at <= now ? RUN_TICK_MS : m;
		if (m < t)
			t = m;
	}
	for (unsigned i = 0; i < s->nconns; i++) {
		const struct conn *c = s->conns[i];
		int m;

		if (c->deadline != VUSB_NEVER) {
			m = ms_until(c->deadline, now);
			if (m < t)
				t = m;
		}
		if (c->ndelayed) {
			m = ms_until(c->delayed[0].due, now);
			if (m < t)
				t = m;
		}
		if (c->phase == PHASE_URB && c->npending && c->exp->vd.ops->next_event) {
			m = ms_until(c->exp->vd.ops->next_event(c->exp->vd.dev, now), now);
			if (m < t)
				t = m;
		}
	}
	return t == INT_MAX ? -1 : t;
}

int usbip_server_run_once(struct usbip_server *s, int max_wait_ms)
{
	struct pollfd pfd[1 + USBIP_SERVER_MAX_CONNS + USBIP_SERVER_MAX_WATCHES];
	unsigned nconns, nwatches, n = 0, wbase;
	int64_t now = uccid_mono_us();
	int r;

	if (!s)
		return -EINVAL;
	relisten(s, now);
	if (s->lfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
	nconns = s->nconns;
	for (unsigned i = 0; i < nconns; i++) {
		struct conn *c = s->conns[i];
		short ev = 0;

		/* Back-pressure: a client that does not read its replies is not read either. */
		if (!c->closing && out_pending(c) < USBIP_SERVER_OUT_HIGH_WATER)
			ev |= POLLIN;
		if (out_pending(c))
			ev |= POLLOUT;
		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	wbase = n;
	nwatches = s->nwatches;
	for (unsigned i = 0; i < nwatches; i++)
		pfd[n++] = (struct pollfd){ .fd = s->watches[i].fd, .events = POLLIN };

	r = poll(pfd, n, poll_timeout(s, max_wait_ms, now));
	if (r < 0 && errno != EINTR)
		return -errno;
	now = uccid_mono_us();
	if (r > 0) {
		unsigned k = 0;

		if (s->lfd >= 0 && (pfd[k++].revents & POLLIN))
			accept_clients(s, now);
		/* Only the connections polled: those accepted just now are served next time. */
		for (unsigned i = 0; i < nconns; i++, k++) {
			struct conn *c = s->conns[i];

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (c->closing && !(pfd[k].revents & POLLIN))
					c->dead = true;   /* hung up while we were flushing */
				else if (!c->closing)
					conn_read(c);
			}
			if (!c->dead && (pfd[k].revents & POLLOUT))
				conn_flush(c);
		}
		/* A callback may remove or add watches: look each fd up again. */
		for (unsigned i = 0; i < nwatches; i++) {
			const struct pollfd *p = &pfd[wbase + i];

			if (!(p->revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
				continue;
			for (unsigned j = 0; j < s->nwatches; j++) {
				if (s->watches[j].fd == p->fd) {
					s->watches[j].cb(s->watches[j].ctx, p->fd, p->revents);
					break;
				}
			}
		}
	}

	/* Requests, then every pending IN URB (a wake is served by this pass), then output. */
	s->wake = false;
	for (unsigned i = 0; i < s->nconns; i++) {
		struct conn *c = s->conns[i];

		if (!c->dead)
			conn_process(s, c, now);
		if (!c->dead)
			poll_pending(s, c, now);
		if (!c->dead && c->ndelayed)
			flush_delayed(c, now);
		if (!c->dead && out_pending(c))
			conn_flush(c);
		if (!c->dead && c->closing && !out_pending(c))
			c->dead = true;
		if (!c->dead && c->deadline != VUSB_NEVER && now >= c->deadline)
			c->dead = true;
	}

	for (unsigned i = 0; i < s->nconns;) {
		if (s->conns[i]->dead) {
			conn_free(s, s->conns[i], now);
			s->conns[i] = s->conns[--s->nconns];
		} else {
			i++;
		}
	}
	return 0;
}

/* Lock-free, so that a signal handler may set the stop flag (C11 §7.14.1.1). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int is not always lock-free");

int usbip_server_run(struct usbip_server *s, const atomic_int *stop)
{
	if (!s || !stop)
		return -EINVAL;
	while (!atomic_load(stop)) {
		int r = usbip_server_run_once(s, RUN_TICK_MS);

		if (r < 0)
			return r;
	}
	return 0;
}

void usbip_server_free(struct usbip_server *s)
{
	int64_t now;

	if (!s)
		return;
	now = uccid_mono_us();
	for (unsigned i = 0; i < s->nconns; i++)
		conn_free(s, s->conns[i], now);
	if (s->lfd >= 0)
		close(s->lfd);
	free(s->scratch);
	free(s);
}
