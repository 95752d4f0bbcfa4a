/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual reader's control protocol: one command per line, a reply of
 * zero or more data lines and a final "ok ..." or "error: ..." line.  Served
 * on a Unix stream socket from the USB/IP server's event loop; each client
 * is bounded (line length, output size, send timeout) and costs only itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ccid/message.h"
#include "vreader/control.h"
#include "vreader/usbip_server.h"
#include "util/clock.h"

#define VCTL_MAX_CLIENTS 16
#define VCTL_OUT_MAX (1024 * 1024)   /* a full journal of one slot fits */

struct vctl_client {
	int fd;
	unsigned current;
	char line[VCTL_LINE_MAX];
	size_t len;
	bool overflow;                   /* the current line is too long: refuse it */
	struct vctl *ctl;
};

struct vctl {
	struct vctl_reader readers[VCTL_MAX_READERS];
	unsigned n;
	int listen_fd;
	char path[108];
	struct usbip_server *srv;
	struct vctl_client clients[VCTL_MAX_CLIENTS];
	char *out;
};

struct outbuf {
	char *p;
	size_t cap, len;
};

static void say(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

struct vctl *vctl_new(const struct vctl_reader *readers, unsigned n)
{
	struct vctl *c;

	if (!readers || n == 0 || n > VCTL_MAX_READERS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c->readers, readers, n * sizeof(*readers));
	c->n = n;
	c->listen_fd = -1;
	for (unsigned i = 0; i < VCTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->out = malloc(VCTL_OUT_MAX);
	if (!c->out) {
		free(c);
		return NULL;
	}
	return c;
}

static void client_close(struct vctl_client *cl)
{
	if (cl->fd < 0)
		return;
	if (cl->ctl->srv)
		usbip_server_remove_watch(cl->ctl->srv, cl->fd);
	close(cl->fd);
	cl->fd = -1;
}

void vctl_free(struct vctl *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < VCTL_MAX_CLIENTS; i++) {
		c->clients[i].ctl = c;
		client_close(&c->clients[i]);
	}
	if (c->listen_fd >= 0) {
		if (c->srv)
			usbip_server_remove_watch(c->srv, c->listen_fd);
		close(c->listen_fd);
		unlink(c->path);
	}
	free(c->out);
	free(c);
}

/* ---- the interpreter ---- */

#define MAX_WORDS 8

static int split(char *line, char **w)
{
	int n = 0;

	for (char *tok = strtok(line, " \t\r\n"); tok && n < MAX_WORDS; tok = strtok(NULL, " \t\r\n"))
		w[n++] = tok;
	return n;
}

static int number(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoul(s, &end, 10);
	if (!*s || *end || errno || *ret > max)
		return -EINVAL;
	return 0;
}

static int slot_arg(struct vdev *d, int argc, char **w, int i, unsigned *slot, struct outbuf *o)
{
	unsigned long v;

	*slot = 0;
	if (argc <= i)
		return 0;
	if (number(w[i], VDEV_MAX_SLOTS - 1, &v) < 0 || v >= vdev_nslots(d)) {
		say(o, "error: no slot '%s' (this reader has slots 0..%u)\n", w[i], vdev_nslots(d) - 1);
		return -EINVAL;
	}
	*slot = (unsigned)v;
	return 0;
}

static void status_line(struct vdev *d, unsigned slot, struct outbuf *o)
{
	struct vdev_slot_status st;

	vdev_slot_status(d, slot, &st);
	say(o, "slot %u: %s%s%s%s protocol=T=%u pin=%s tries=%u fault=%s", slot, st.present ? "card" : "empty",
	    st.powered ? " powered" : "", st.locked ? " locked" : "", st.busy ? " busy" : "", st.protocol,
	    st.pin_verified ? "verified" : "not-verified", st.pin_tries_left, vdev_fault_name(st.fault));
	if (st.fault != VDEV_FAULT_NONE)
		say(o, " (%s)", st.fault_left ? "" : "until cleared");
	if (st.keypad)
		say(o, " keypad=waiting (%s)", st.keypad_state);
	say(o, "\n");
}

/*
 * What the reader exports, one "name value" line each: what a host reads in
 * its descriptors (USB 2.0 §9.6.1, §9.6.7; CCID §5.1) and the position the
 * USB/IP server gives it — for tests that compare a driver's answers with it.
 */
static void device_lines(struct vdev *d, struct outbuf *o)
{
	const struct vdev_config *c = vdev_config(d);
	struct vusb_info vi;

	vdev_usb_ops.info(d, &vi);
	say(o, "idVendor %04X\nidProduct %04X\nbcdDevice %04X\n", c->idVendor, c->idProduct, c->bcdDevice);
	say(o, "manufacturer %s\nproduct %s\nserial %s\n", c->manufacturer, c->product, c->serial);
	say(o, "busnum %u\ndevnum %u\n", (unsigned)vi.busnum, (unsigned)vi.devnum);
	say(o, "dwProtocols %u\ndwDefaultClock %u\ndwMaximumClock %u\ndwDataRate %u\ndwMaxDataRate %u\n",
	    (unsigned)c->desc.dwProtocols, (unsigned)c->desc.dwDefaultClock, (unsigned)c->desc.dwMaximumClock,
	    (unsigned)c->desc.dwDataRate, (unsigned)c->desc.dwMaxDataRate);
	say(o, "dwMaxIFSD %u\ndwSynchProtocols %u\ndwMechanical %u\ndwFeatures %u\ndwMaxCCIDMessageLength %u\n",
	    (unsigned)c->desc.dwMaxIFSD, (unsigned)c->desc.dwSynchProtocols, (unsigned)c->desc.dwMechanical,
	    (unsigned)c->desc.dwFeatures, (unsigned)c->desc.dwMaxCCIDMessageLength);
}

static const char help_text[] =
	"readers                      list the exported readers\n"
	"reader BUSID                 direct the next commands to reader BUSID (default: the first)\n"
	"status                       one line per slot\n"
	"insert [SLOT]                insert the configured card\n"
	"remove [SLOT]                remove the card\n"
	"swap [SLOT]                  remove the card and insert another with no report between\n"
	"atr HEX|default [slot=N]     the slot's ATR (any bytes with TS 3B/3F) from the card's next\n"
	"                             power-on and for cards inserted next; default: the configured one\n"
	"device                       the USB identity and class descriptor the reader exports\n"
	"fault NAME [ARG] [slot=N] [count=N] [on=COMMAND]   arm a fault (count 0: until cleared),\n"
	"                             for the answers to COMMAND only (IccPowerOff, XfrBlock ...)\n"
	"fault clear                  disarm every fault\n"
	"faults                       list the fault names\n"
	"hwerror [SLOT]               send RDR_to_PC_HardwareError (overcurrent)\n"
	"keypad [slot=N] [KEYS...]    press keys on the PIN pad: digits, ok, clear, back, cancel;\n"
	"                             without KEYS: ok waiting ... while a PIN entry waits, else error\n"
	"journal [SLOT] [FROM]        the messages of a slot, from index FROM\n"
	"journal clear                forget the journal of every slot\n"
	"counters [reset]             message counters\n"
	"usbip                        the USB/IP server's modes (all readers)\n"
	"usbip counters [reset]       PDUs the clients sent: imports, CMD_SUBMIT per endpoint, CMD_UNLINK;\n"
	"                             and the IN URBs pending now, per endpoint\n"
	"usbip unconfigured on|off    list and import devices unconfigured, without interfaces\n"
	"usbip config-gate on|off     endpoints answer nothing until SET_CONFIGURATION\n"
	"usbip unlink-delay MS        send each RET_UNLINK MS late\n"
	"usbip busy-after-close MS    refuse imports as busy for MS after an importer left\n"
	"usbip bad-actual-length [COUNT] [ep=EP]   the next IN completions (EP 81) say one byte too many\n"
	"usbip restart MS             drop every connection, refuse connections for MS, serve again\n"
	"quit                         close this connection\n";

/* keypad [slot=N] [KEYS...]: a digit run is its digits pressed one by one. */
static int cmd_keypad(struct vdev *d, int argc, char **w, struct outbuf *o, int64_t now)
{
	struct vdev_slot_status st;
	unsigned slot = 0, pressed = 0;
	int i = 1, r;

	if (argc >= 2 && !strncmp(w[1], "slot=", 5)) {
		unsigned long v;

		if (number(w[1] + 5, VDEV_MAX_SLOTS - 1, &v) < 0 || v >= vdev_nslots(d)) {
			say(o, "error: no slot '%s'\n", w[1] + 5);
			return -EINVAL;
		}
		slot = (unsigned)v;
		i = 2;
	}
	vdev_slot_status(d, slot, &st);
	if (!st.keypad) {
		say(o, "error: slot %u: no PIN entry in progress\n", slot);
		return -ENOENT;
	}
	if (i == argc) {
		say(o, "ok waiting slot %u (%s)\n", slot, st.keypad_state);
		return 0;
	}
	for (; i < argc; i++) {
		bool digits = strspn(w[i], "0123456789") == strlen(w[i]);
		size_t n = digits ? strlen(w[i]) : 1;

		for (size_t k = 0; k < n; k++) {
			char one[2] = { w[i][k], 0 };

			r = vdev_keypad(d, slot, digits ? one : w[i], now);
			if (r == -EINVAL) {
				say(o, "error: unknown key '%s' (digits, ok, clear, back, cancel)\n", w[i]);
				return r;
			}
			if (r < 0) {
				say(o, "error: slot %u: the PIN entry ended after %u keys\n", slot, pressed);
				return r;
			}
			pressed++;
		}
	}
	vdev_slot_status(d, slot, &st);
	if (st.keypad)
		say(o, "ok %u keys; waiting (%s)\n", pressed, st.keypad_state);
	else
		say(o, "ok %u keys; the entry ended\n", pressed);
	return 0;
}

static int cmd_fault(struct vdev *d, int argc, char **w, struct outbuf *o)
{
	int slot = -1, f, on = 0;
	unsigned long arg = 0, count = 1, v;

	if (argc < 2) {
		say(o, "error: fault NAME [ARG] [slot=N] [count=N] [on=COMMAND], or fault clear\n");
		return -EINVAL;
	}
	if (!strcmp(w[1], "clear")) {
		vdev_clear_faults(d);
		say(o, "ok faults cleared\n");
		return 0;
	}
	f = vdev_fault_from_name(w[1]);
	if (f <= 0) {
		say(o, "error: unknown fault '%s' (see: faults)\n", w[1]);
		return -EINVAL;
	}
	for (int i = 2; i < argc; i++) {
		if (!strncmp(w[i], "slot=", 5)) {
			if (number(w[i] + 5, vdev_nslots(d) - 1, &v) < 0) {
				say(o, "error: bad slot '%s'\n", w[i] + 5);
				return -EINVAL;
			}
			slot = (int)v;
		} else if (!strncmp(w[i], "count=", 6)) {
			if (number(w[i] + 6, 1000000, &count) < 0) {
				say(o, "error: bad count '%s'\n", w[i] + 6);
				return -EINVAL;
			}
		} else if (!strncmp(w[i], "on=", 3)) {
			/* a command by its name, with or without PC_to_RDR_: IccPowerOff */
			for (on = 0x60; on < 0x80; on++) {
				const char *n = ccid_is_command((uint8_t)on) ? ccid_msg_type_name((uint8_t)on) : NULL;

				if (n && (!strcasecmp(n, w[i] + 3) ||
					  (!strncmp(n, "PC_to_RDR_", 10) && !strcasecmp(n + 10, w[i] + 3))))
					break;
			}
			if (on == 0x80) {
				say(o, "error: no command '%s' (IccPowerOff, XfrBlock, ...)\n", w[i] + 3);
				return -EINVAL;
			}
		} else if (number(w[i], 3600000, &arg) < 0) {
			say(o, "error: bad argument '%s' (a number of ms)\n", w[i]);
			return -EINVAL;
		}
	}
	if (f == VDEV_FAULT_LATENCY && argc < 3) {
		say(o, "error: latency needs a delay in ms\n");
		return -EINVAL;
	}
	vdev_set_fault(d, slot, (enum vdev_fault)f, (uint32_t)arg, (unsigned)count);
	vdev_set_fault_on(d, slot, (uint8_t)on);
	say(o, "ok fault %s armed\n", vdev_fault_name((enum vdev_fault)f));
	return 0;
}

/* atr HEX|default [slot=N]: the slot's ATR from the card's next power-on and for the cards inserted next. */
static int cmd_atr(struct vdev *d, int argc, char **w, struct outbuf *o)
{
	uint8_t atr[VCARD_ATR_MAX];
	unsigned long v;
	unsigned slot = 0;
	int n = -EINVAL, r;

	for (int i = 2; i < argc; i++) {
		if (strncmp(w[i], "slot=", 5) || number(w[i] + 5, vdev_nslots(d) - 1, &v) < 0) {
			say(o, "error: bad argument '%s' (slot=N)\n", w[i]);
			return -EINVAL;
		}
		slot = (unsigned)v;
	}
	if (argc >= 2)
		n = strcmp(w[1], "default") ? vcard_parse_hex(w[1], atr, sizeof(atr)) : 0;
	if (n < 0) {
		say(o, "error: atr takes the ATR as one word of hex (3B0214...) or 'default', then [slot=N]%s\n",
		    n == -EMSGSIZE ? ": at most 48 bytes" : "");
		return -EINVAL;
	}
	if (argc >= 2 && strcmp(w[1], "default") && n == 0) {
		say(o, "error: an empty ATR\n");
		return -EINVAL;
	}
	r = vdev_set_atr(d, slot, atr, (size_t)n);
	if (r == -EBADMSG) {
		say(o, "error: not an ATR (TS must be 3B or 3F)\n");
		return r;
	}
	if (r < 0) {
		say(o, "error: %s\n", strerror(-r));
		return r;
	}
	if (n)
		say(o, "ok ATR of %d bytes for slot %u\n", n, slot);
	else
		say(o, "ok slot %u: configured card\n", slot);
	return 0;
}

static int cmd_journal(struct vdev *d, int argc, char **w, struct outbuf *o)
{
	static struct vdev_journal_entry entries[VDEV_JOURNAL_MAX];
	unsigned slot = 0;
	unsigned long from = 0;
	size_t n;

	if (argc >= 2 && !strcmp(w[1], "clear")) {
		vdev_journal_clear(d);
		say(o, "ok journal cleared\n");
		return 0;
	}
	if (slot_arg(d, argc, w, 1, &slot, o) < 0)
		return -EINVAL;
	if (argc >= 3 && number(w[2], ~0UL, &from) < 0) {
		say(o, "error: bad index '%s'\n", w[2]);
		return -EINVAL;
	}
	n = vdev_journal(d, slot, from, entries, VDEV_JOURNAL_MAX);
	/* a full reply takes nothing more (say): stop formatting there, the count is still n */
	for (size_t i = 0; i < n && o->len + 1 < o->cap; i++) {
		char line[256];

		vdev_journal_format(&entries[i], line, sizeof(line));
		say(o, "%s\n", line);
	}
	say(o, "ok %zu entries\n", n);
	return 0;
}

static void say_counts(struct outbuf *o, const char *name, const uint64_t n[16])
{
	bool any = false;

	say(o, " %s=", name);
	for (unsigned ep = 0; ep < 16; ep++) {
		if (!n[ep])
			continue;
		say(o, "%s%u:%llu", any ? "," : "", ep, (unsigned long long)n[ep]);
		any = true;
	}
	if (!any)
		say(o, "-");
}

static int on_off(const char *w, bool *ret)
{
	if (!strcmp(w, "on"))
		*ret = true;
	else if (!strcmp(w, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* The USB/IP server's modes and counters (vreader/usbip_server.h). */
static int cmd_usbip(struct vctl *c, int argc, char **w, struct outbuf *o)
{
	struct usbip_server_modes m;
	unsigned long v;

	if (!c->srv) {
		say(o, "error: no USB/IP server behind this control interface\n");
		return -ENOTSUP;
	}
	usbip_server_get_modes(c->srv, &m);
	if (argc >= 2 && !strcmp(w[1], "counters")) {
		struct usbip_server_counters k;

		if (argc >= 3 && !strcmp(w[2], "reset")) {
			usbip_server_counters_reset(c->srv);
			say(o, "ok usbip counters reset\n");
			return 0;
		}
		usbip_server_counters(c->srv, &k);
		say(o, "imports=%llu busy=%llu unlinks=%llu unlinked=%llu restarts=%llu", (unsigned long long)k.imports,
		    (unsigned long long)k.busy, (unsigned long long)k.unlinks, (unsigned long long)k.unlinked,
		    (unsigned long long)k.restarts);
		say_counts(o, "submit-in", k.submit_in);
		say_counts(o, "submit-out", k.submit_out);
		say_counts(o, "pending-in", k.pending_in);
		say(o, "\nok\n");
		return 0;
	}
	if (argc >= 2 && !strcmp(w[1], "restart")) {
		int n;

		if (argc != 3 || number(w[2], 600000, &v) < 0) {
			say(o, "error: usbip restart MS (0 to 600000: how long connections are refused)\n");
			return -EINVAL;
		}
		n = usbip_server_restart(c->srv, (unsigned)v);
		if (n < 0) {
			say(o, "error: the server is not listening\n");
			return n;
		}
		say(o, "ok usbip restart: %d connection%s dropped, serving again in %lu ms\n", n, n == 1 ? "" : "s",
		    v);
		return 0;
	}
	if (argc >= 3 && (!strcmp(w[1], "unconfigured") || !strcmp(w[1], "config-gate"))) {
		if (on_off(w[2], w[1][0] == 'u' ? &m.unconfigured : &m.config_gate) < 0) {
			say(o, "error: usbip %s takes on or off\n", w[1]);
			return -EINVAL;
		}
	} else if (argc >= 3 && (!strcmp(w[1], "unlink-delay") || !strcmp(w[1], "busy-after-close"))) {
		if (number(w[2], 600000, &v) < 0) {
			say(o, "error: bad delay '%s' (0 to 600000 ms)\n", w[2]);
			return -EINVAL;
		}
		if (w[1][0] == 'u')
			m.unlink_delay_ms = (unsigned)v;
		else
			m.busy_after_close_ms = (unsigned)v;
	} else if (argc >= 2 && !strcmp(w[1], "bad-actual-length")) {
		m.bad_actual_length = 1;
		m.bad_actual_ep = 0x81;
		for (int i = 2; i < argc; i++) {
			if (!strncmp(w[i], "ep=", 3)) {
				char *end;

				errno = 0;
				v = strtoul(w[i] + 3, &end, 16);
				if (!w[i][3] || *end || errno || !(v & 0x80) || (v & 0x70) || !(v & 0x0F)) {
					say(o, "error: bad endpoint '%s' (an IN endpoint, hex: 81 .. 8F)\n", w[i] + 3);
					return -EINVAL;
				}
				m.bad_actual_ep = (uint8_t)v;
			} else if (number(w[i], 1000000, &v) < 0) {
				say(o, "error: bad count '%s'\n", w[i]);
				return -EINVAL;
			} else {
				m.bad_actual_length = (unsigned)v;
			}
		}
	} else if (argc >= 2 && !strcmp(w[1], "short-out")) {
		if (argc >= 3 && number(w[2], 1000000, &v) < 0) {
			say(o, "error: bad count '%s'\n", w[2]);
			return -EINVAL;
		}
		m.short_out = argc >= 3 ? (unsigned)v : 1;
	} else if (argc >= 2) {
		say(o, "error: usbip [counters [reset] | unconfigured on|off | config-gate on|off | unlink-delay MS"
		       " | busy-after-close MS | bad-actual-length [COUNT] [ep=EP] | short-out [COUNT] | restart MS]\n");
		return -EINVAL;
	}
	usbip_server_set_modes(c->srv, &m);
	say(o, "unconfigured=%s config-gate=%s unlink-delay=%u busy-after-close=%u bad-actual-length=%u ep=%02X"
	    " short-out=%u\nok\n", m.unconfigured ? "on" : "off", m.config_gate ? "on" : "off", m.unlink_delay_ms,
	    m.busy_after_close_ms, m.bad_actual_length, m.bad_actual_ep ? m.bad_actual_ep : 0x81, m.short_out);
	return 0;
}

static int execute(struct vctl *c, unsigned *current, const char *text, char *out, size_t cap, int64_t now)
{
	struct outbuf o = { out, cap, 0 };
	char line[VCTL_LINE_MAX];
	char *w[MAX_WORDS];
	struct vdev *d;
	unsigned slot;
	int argc, r = 0;

	if (cap)
		out[0] = 0;
	snprintf(line, sizeof(line), "%s", text);
	argc = split(line, w);
	if (*current >= c->n)
		*current = 0;
	d = c->readers[*current].dev;
	if (argc == 0) {
		say(&o, "error: empty command (try: help)\n");
		return -EINVAL;
	}
	if (!strcmp(w[0], "help")) {
		say(&o, "%sok\n", help_text);
	} else if (!strcmp(w[0], "quit")) {
		say(&o, "ok bye\n");
		return 1;
	} else if (!strcmp(w[0], "readers")) {
		for (unsigned i = 0; i < c->n; i++)
			say(&o, "%s %s slots=%u%s\n", c->readers[i].busid, vdev_config(c->readers[i].dev)->name,
			    vdev_nslots(c->readers[i].dev), i == *current ? " (current)" : "");
		say(&o, "ok %u readers\n", c->n);
	} else if (!strcmp(w[0], "reader")) {
		unsigned i;

		for (i = 0; argc >= 2 && i < c->n && strcmp(c->readers[i].busid, w[1]); i++)
			;
		if (argc < 2 || i == c->n) {
			say(&o, "error: no reader '%s'\n", argc >= 2 ? w[1] : "");
			return -ENOENT;
		}
		*current = i;
		say(&o, "ok reader %s\n", c->readers[i].busid);
	} else if (!strcmp(w[0], "status")) {
		for (unsigned i = 0; i < vdev_nslots(d); i++)
			status_line(d, i, &o);
		say(&o, "ok\n");
	} else if (!strcmp(w[0], "insert") || !strcmp(w[0], "remove")) {
		bool insert = w[0][0] == 'i';

		if (slot_arg(d, argc, w, 1, &slot, &o) < 0)
			return -EINVAL;
		r = insert ? vdev_insert_card(d, slot, NULL, now) : vdev_remove_card(d, slot, now);
		if (r == -EEXIST)
			say(&o, "error: slot %u already holds a card\n", slot);
		else if (r == -ENOENT)
			say(&o, "error: slot %u is empty\n", slot);
		else if (r < 0)
			say(&o, "error: %s\n", strerror(-r));
		else
			say(&o, "ok card %s slot %u\n", insert ? "inserted in" : "removed from", slot);
	} else if (!strcmp(w[0], "swap")) {
		if (slot_arg(d, argc, w, 1, &slot, &o) < 0)
			return -EINVAL;
		r = vdev_swap_card(d, slot, now);
		if (r == -ENOENT)
			say(&o, "error: slot %u is empty\n", slot);
		else if (r < 0)
			say(&o, "error: %s\n", strerror(-r));
		else
			say(&o, "ok card swapped in slot %u\n", slot);
	} else if (!strcmp(w[0], "device")) {
		device_lines(d, &o);
		say(&o, "ok\n");
	} else if (!strcmp(w[0], "atr")) {
		r = cmd_atr(d, argc, w, &o);
	} else if (!strcmp(w[0], "fault")) {
		r = cmd_fault(d, argc, w, &o);
	} else if (!strcmp(w[0], "faults")) {
		for (int i = 1; i < VDEV_FAULT_COUNT; i++)
			say(&o, "%s\n", vdev_fault_name((enum vdev_fault)i));
		say(&o, "ok\n");
	} else if (!strcmp(w[0], "hwerror")) {
		if (slot_arg(d, argc, w, 1, &slot, &o) < 0)
			return -EINVAL;
		r = vdev_hardware_error(d, slot, now);
		say(&o, r < 0 ? "error: %s\n" : "ok%s\n", r < 0 ? strerror(-r) : "");
	} else if (!strcmp(w[0], "keypad")) {
		r = cmd_keypad(d, argc, w, &o, now);
	} else if (!strcmp(w[0], "journal")) {
		r = cmd_journal(d, argc, w, &o);
	} else if (!strcmp(w[0], "usbip")) {
		r = cmd_usbip(c, argc, w, &o);
	} else if (!strcmp(w[0], "counters")) {
		struct vdev_counters k;

		if (argc >= 2 && !strcmp(w[1], "reset")) {
			vdev_counters_reset(d);
			say(&o, "ok counters reset\n");
		} else {
			vdev_counters(d, &k);
			say(&o, "commands=%llu answers=%llu time_extensions=%llu interrupts=%llu "
				"errors_injected=%llu bad_commands=%llu\nok\n",
			    (unsigned long long)k.commands, (unsigned long long)k.answers,
			    (unsigned long long)k.time_extensions, (unsigned long long)k.interrupts,
			    (unsigned long long)k.errors_injected, (unsigned long long)k.bad_commands);
		}
	} else {
		say(&o, "error: unknown command '%s' (try: help)\n", w[0]);
		return -EINVAL;
	}
	return r < 0 ? r : 0;
}

/* ---- the socket ---- */

static void send_all(struct vctl_client *cl, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);

		if (w <= 0) {
			/* SO_SNDTIMEO expired or the peer left: this client is gone */
			client_close(cl);
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void client_input(void *ctx, int fd, short revents)
{
	struct vctl_client *cl = ctx;
	struct vctl *c = cl->ctl;
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	(void)revents;
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(cl);
		return;
	}
	for (ssize_t i = 0; i < n && cl->fd >= 0; i++) {
		if (buf[i] != '\n') {
			if (cl->len + 1 < sizeof(cl->line))
				cl->line[cl->len++] = buf[i];
			else
				cl->overflow = true;
			continue;
		}
		cl->line[cl->len] = 0;
		if (cl->overflow) {
			snprintf(c->out, VCTL_OUT_MAX, "error: line longer than %d bytes\n", VCTL_LINE_MAX - 1);
		} else if (vctl_execute(c, &cl->current, cl->line, c->out, VCTL_OUT_MAX, uccid_mono_us()) == 1) {
			send_all(cl, c->out, strlen(c->out));
			client_close(cl);
			return;
		}
		cl->len = 0;
		cl->overflow = false;
		send_all(cl, c->out, strlen(c->out));
		if (c->srv)
			usbip_server_wake(c->srv);
	}
}

static void accept_client(void *ctx, int fd, short revents)
{
	struct vctl *c = ctx;
	struct timeval tv = { .tv_sec = 1 };
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	unsigned i;

	(void)revents;
	if (cfd < 0)
		return;
	for (i = 0; i < VCTL_MAX_CLIENTS && c->clients[i].fd >= 0; i++)
		;
	if (i == VCTL_MAX_CLIENTS) {
		static const char busy[] = "error: too many control clients\n";

		(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		return;
	}
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->clients[i] = (struct vctl_client){ .fd = cfd, .ctl = c };
	if (usbip_server_add_watch(c->srv, cfd, client_input, &c->clients[i]) < 0) {
		close(cfd);
		c->clients[i].fd = -1;
	}
}

int vctl_listen(struct vctl *c, const char *path, struct usbip_server *srv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (!c || !path || !srv)
		return -EINVAL;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	/* a stale socket from an earlier run is replaced; any other file is not */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = usbip_server_add_watch(srv, fd, accept_client, c);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	c->listen_fd = fd;
	c->srv = srv;
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

int vctl_execute(struct vctl *c, unsigned *current, const char *text, char *out, size_t cap, int64_t now)
{
	int r = execute(c, current, text, out, cap, now);
	const char *last = r < 0 ? "\nerror: reply cut\n" : "\nok (reply cut)\n";
	size_t need = strlen(last) + 1;

	/* a cut reply lost its last line, the verdict: it goes over the end of what fitted */
	if (cap > need && strlen(out) + 1 >= cap)
		memcpy(out + cap - need, last, need);
	return r;
}
