/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pcapng writer of uccid --pcap.  The file format is pcapng (IETF
 * draft-ietf-opsawg-pcapng, "PCAP Now Generic"): blocks of
 * type, total length, body padded to 32 bits, total length again; we write
 * one little-endian section (SHB), one interface (IDB, link type 220 =
 * LINKTYPE_USB_LINUX_MMAPPED, microsecond timestamps) and Enhanced Packet
 * Blocks.  Each packet is the 64-byte header of the Linux usbmon binary
 * interface (Documentation/usb/usbmon.rst, "struct usbmon_packet"; the
 * tcpdump.org LINKTYPE_USB_LINUX_MMAPPED page) followed by the data, so
 * Wireshark dissects it as it would a capture of usbmon itself.  Nothing is
 * cast onto the file: every field is stored at its documented offset.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/pcap.h"

/* pcapng block types and constants (pcapng §4.1, §4.2, §4.3) */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define PCAPNG_OPT_ENDOFOPT 0
#define PCAPNG_OPT_SHB_USERAPPL 4
#define PCAPNG_OPT_IF_NAME 2
#define PCAPNG_OPT_IF_TSRESOL 9
#define LINKTYPE_USB_LINUX_MMAPPED 220

/* usbmon: event types, transfer types, flags (Documentation/usb/usbmon.rst) */
#define USBMON_SUBMIT 'S'
#define USBMON_COMPLETE 'C'
#define USBMON_NO_SETUP '-'          /* flag_setup: no setup packet in this record */
#define USBMON_SETUP 0               /* flag_setup: setup[8] is valid (control submission) */
#define USBMON_DATA 0                /* flag_data: the data follow the header */
#define USBMON_NO_DATA_IN '<'        /* flag_data: none here, IN data come with the completion */
#define USBMON_NO_DATA_OUT '>'       /* flag_data: none here, OUT data went with the submission */
#define USBMON_EINPROGRESS (-115)    /* status of a submission: Linux -EINPROGRESS, whatever the host */
#define URB_DIR_IN 0x0200u           /* xfer_flags: the kernel's URB_DIR_IN */

#define SNAPLEN (PCAP_USBMON_HEADER_LEN + PCAP_USB_MAX_DATA)
#define URB_ID_BASE 0x7563636964000000ull   /* "uccid" then a counter: ids only need to be unique */

struct pcap_writer {
	FILE *f;
	int err;                     /* sticky: the first write error */
	uint64_t next_urb;
	unsigned busnum, devnum;
};

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put(struct pcap_writer *w, const void *b, size_t n)
{
	if (w->err || !n)
		return;
	errno = 0;
	if (fwrite(b, 1, n, w->f) != n)
		w->err = errno ? -errno : -EIO;
}

static void put32(struct pcap_writer *w, uint32_t v)
{
	uint8_t b[4];

	le32(b, v);
	put(w, b, sizeof(b));
}

/* The zero bytes that bring n up to a multiple of 4. */
static void put_pad(struct pcap_writer *w, size_t n)
{
	static const uint8_t zero[3];

	put(w, zero, pad4(n) - n);
}

/* One option: code, length, value, padding (pcapng §3.5). */
static void put_option(struct pcap_writer *w, uint16_t code, const void *val, uint16_t len)
{
	uint8_t h[4];

	le16(h, code);
	le16(h + 2, len);
	put(w, h, sizeof(h));
	put(w, val, len);
	put_pad(w, len);
}

static size_t option_size(size_t len)
{
	return 4 + pad4(len);
}

static void write_headers(struct pcap_writer *w)
{
	static const char appl[] = "uccid " PACKAGE_VERSION;
	static const char ifname[] = "uccid";
	static const uint8_t tsresol = 6;       /* 10^-6 s: the default, written for readers that ask */
	uint8_t b[16];
	uint32_t total;

	/* SHB: type, length, magic, version 1.0, section length -1 (unknown), options, length */
	total = (uint32_t)(4 + 4 + 4 + 2 + 2 + 8 + option_size(sizeof(appl) - 1) + option_size(0) + 4);
	put32(w, PCAPNG_SHB);
	put32(w, total);
	le32(b, PCAPNG_BYTE_ORDER_MAGIC);
	le16(b + 4, 1);
	le16(b + 6, 0);
	le64(b + 8, UINT64_MAX);
	put(w, b, 16);
	put_option(w, PCAPNG_OPT_SHB_USERAPPL, appl, sizeof(appl) - 1);
	put_option(w, PCAPNG_OPT_ENDOFOPT, NULL, 0);
	put32(w, total);

	/* IDB: type, length, link type, reserved, snap length, options, length */
	total = (uint32_t)(4 + 4 + 2 + 2 + 4 + option_size(sizeof(ifname) - 1) + option_size(1) + option_size(0) + 4);
	put32(w, PCAPNG_IDB);
	put32(w, total);
	le16(b, LINKTYPE_USB_LINUX_MMAPPED);
	le16(b + 2, 0);
	le32(b + 4, SNAPLEN);
	put(w, b, 8);
	put_option(w, PCAPNG_OPT_IF_NAME, ifname, sizeof(ifname) - 1);
	put_option(w, PCAPNG_OPT_IF_TSRESOL, &tsresol, 1);
	put_option(w, PCAPNG_OPT_ENDOFOPT, NULL, 0);
	put32(w, total);
}

int pcap_open(struct pcap_writer **ret, const char *path, unsigned busnum, unsigned devnum, char *err,
	      size_t errlen)
{
	struct pcap_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	w->f = fopen(path, "wb");
	if (!w->f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		free(w);
		return rc;
	}
	w->next_urb = URB_ID_BASE;
	pcap_set_device(w, busnum, devnum);
	write_headers(w);
	if (w->err) {
		rc = w->err;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		fclose(w->f);
		free(w);
		return rc;
	}
	*ret = w;
	return 0;
}

void pcap_set_device(struct pcap_writer *w, unsigned busnum, unsigned devnum)
{
	/* usbmon numbers buses from 1 and a configured device's address is 1..127 */
	w->busnum = busnum ? busnum : 1;
	w->devnum = devnum && devnum < 128 ? devnum : 1;
}

/* The fields of one usbmon record that differ between records. */
struct urb_event {
	uint64_t id;
	uint8_t type, xfer_type, ep;
	int8_t flag_setup, flag_data;
	int32_t status;
	uint32_t length;             /* urb length: requested (submission) or actual (completion) */
	const uint8_t *setup;        /* 8 bytes, or NULL */
	const uint8_t *data;         /* captured bytes, or NULL */
	size_t data_len;
	uint32_t xfer_flags;
};

/* One Enhanced Packet Block (pcapng §4.3) holding a usbmon header (usbmon.rst) and the data. */
static int write_event(struct pcap_writer *w, const struct timespec *ts, const struct urb_event *e)
{
	uint8_t h[PCAP_USBMON_HEADER_LEN] = { 0 }, b[20];
	size_t cap = e->data ? e->data_len : 0;
	uint64_t us;
	uint32_t total;

	if (cap > PCAP_USB_MAX_DATA)
		cap = PCAP_USB_MAX_DATA;
	le64(h + 0, e->id);
	h[8] = e->type;
	h[9] = e->xfer_type;
	h[10] = e->ep;
	h[11] = (uint8_t)w->devnum;
	le16(h + 12, (uint16_t)w->busnum);
	h[14] = (uint8_t)e->flag_setup;
	h[15] = (uint8_t)e->flag_data;
	le64(h + 16, (uint64_t)ts->tv_sec);
	le32(h + 24, (uint32_t)(ts->tv_nsec / 1000));
	le32(h + 28, (uint32_t)e->status);
	le32(h + 32, e->length);
	le32(h + 36, (uint32_t)cap);
	if (e->setup)
		memcpy(h + 40, e->setup, 8);
	/* 48 interval, 52 start_frame: 0 for control and bulk; 56 xfer_flags; 60 ndesc 0 (not ISO) */
	le32(h + 56, e->xfer_flags);

	us = (uint64_t)ts->tv_sec * 1000000u + (uint64_t)(ts->tv_nsec / 1000);
	total = (uint32_t)(4 + 4 + 20 + pad4(sizeof(h) + cap) + 4);
	put32(w, PCAPNG_EPB);
	put32(w, total);
	le32(b, 0);                                   /* interface id */
	le32(b + 4, (uint32_t)(us >> 32));            /* timestamp, high and low 32 bits */
	le32(b + 8, (uint32_t)us);
	le32(b + 12, (uint32_t)(sizeof(h) + cap));    /* captured length */
	le32(b + 16, (uint32_t)(sizeof(h) + (e->data ? e->data_len : 0)));   /* original length */
	put(w, b, sizeof(b));
	put(w, h, sizeof(h));
	put(w, e->data, cap);
	put_pad(w, sizeof(h) + cap);
	put32(w, total);
	return w->err;
}

uint64_t pcap_usb_submit(struct pcap_writer *w, const struct timespec *ts, enum pcap_xfer xfer, uint8_t ep,
			 const uint8_t setup[8], const uint8_t *data, size_t len)
{
	bool in = ep & 0x80;
	struct urb_event e = { .id = w->next_urb++, .type = USBMON_SUBMIT, .xfer_type = (uint8_t)xfer, .ep = ep,
			       .status = USBMON_EINPROGRESS, .xfer_flags = in ? URB_DIR_IN : 0 };

	e.length = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	e.setup = setup;
	e.flag_setup = setup ? USBMON_SETUP : USBMON_NO_SETUP;
	e.flag_data = in ? USBMON_NO_DATA_IN : USBMON_DATA;
	if (!in && len) {
		e.data = data;
		e.data_len = len;
	}
	write_event(w, ts, &e);
	return e.id;
}

int pcap_usb_complete(struct pcap_writer *w, const struct timespec *ts, uint64_t id, enum pcap_xfer xfer,
		      uint8_t ep, int status, const uint8_t *data, size_t len)
{
	bool in = ep & 0x80;
	struct urb_event e = { .id = id, .type = USBMON_COMPLETE, .xfer_type = (uint8_t)xfer, .ep = ep,
			       .flag_setup = USBMON_NO_SETUP, .status = status,
			       .xfer_flags = in ? URB_DIR_IN : 0 };

	e.length = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	e.flag_data = in ? USBMON_DATA : USBMON_NO_DATA_OUT;
	if (in && len) {
		e.data = data;
		e.data_len = len;
	}
	return write_event(w, ts, &e);
}

int pcap_close(struct pcap_writer *w)
{
	int rc;

	if (!w)
		return 0;
	rc = w->err;
	errno = 0;
	if (fflush(w->f) != 0 && !rc)
		rc = errno ? -errno : -EIO;
	if (fclose(w->f) != 0 && !rc)
		rc = errno ? -errno : -EIO;
	free(w);
	return rc;
}
