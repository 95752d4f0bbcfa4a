/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A pcapng writer for USB traffic as the Linux usbmon binary interface
 * records it (LINKTYPE_USB_LINUX_MMAPPED, 220): one Section Header Block,
 * one Interface Description Block, then an Enhanced Packet Block per URB
 * event (a submission, a completion), each a 64-byte usbmon header and
 * the bytes it carried.  Wireshark
 * and tshark read such a file as they read a usbmon capture.  Written for
 * uccid --pcap; little-endian throughout; every size bounded.
 */
#ifndef UCCID_TOOL_PCAP_H
#define UCCID_TOOL_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The most data one record carries: a whole CCID message (a configuration descriptor is smaller). */
#define PCAP_USB_MAX_DATA 65554u          /* CCID_MAX_MESSAGE_LENGTH */
#define PCAP_USBMON_HEADER_LEN 64u

struct pcap_writer;

/*
 * Create (truncate) path and write the section header and the interface
 * description.  busnum and devnum are those every record will carry (usbmon
 * bus number and device address; 0 is taken as 1).  On failure err
 * receives "PATH: reason".  Returns 0, or -errno of fopen / fwrite, -ENOMEM.
 */
int pcap_open(struct pcap_writer **ret, const char *path, unsigned busnum, unsigned devnum, char *err,
	      size_t errlen);

/* Change the bus number and device address of later records (known once the reader is open). */
void pcap_set_device(struct pcap_writer *w, unsigned busnum, unsigned devnum);

/* usbmon's transfer types (Documentation/usb/usbmon.rst) */
enum pcap_xfer {
	PCAP_XFER_INTERRUPT = 1,
	PCAP_XFER_CONTROL = 2,
	PCAP_XFER_BULK = 3,
};

/*
 * The submission of an URB at time ts on endpoint ep (bit 7: IN; 0x00 or
 * 0x80 for control, with its 8-byte setup packet, USB 2.0 §9.3; setup NULL
 * otherwise).  OUT: data[0..len) goes with it; IN: len is the length asked
 * for and data must be NULL.  Returns the URB's id for its completion.
 */
uint64_t pcap_usb_submit(struct pcap_writer *w, const struct timespec *ts, enum pcap_xfer xfer, uint8_t ep,
			 const uint8_t setup[8], const uint8_t *data, size_t len);

/*
 * The completion of URB id (as submitted) at time ts: status 0 or a
 * negative Linux errno as usbmon shows it (-ENOENT: killed, -EPIPE: stall,
 * -EOVERFLOW: babble, -ESHUTDOWN: device gone).  IN: the data[0..len)
 * received; OUT: len bytes sent, data NULL.  len is capped at
 * PCAP_USB_MAX_DATA in the record.  Returns 0 or the sticky write error.
 */
int pcap_usb_complete(struct pcap_writer *w, const struct timespec *ts, uint64_t id, enum pcap_xfer xfer,
		      uint8_t ep, int status, const uint8_t *data, size_t len);

/* Flush and close; returns 0 or the first write error (-errno) met since open.  NULL ok. */
int pcap_close(struct pcap_writer *w);

#endif
