/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A pcapng writer for USB traffic as the Linux usbmon binary interface
 * records it (LINKTYPE_USB_LINUX_MMAPPED, 220): one Section Header Block,
 * one Interface Description Block, then an Enhanced Packet Block per URB
 * event, each a 64-byte usbmon header and the bytes it carried.  Wireshark
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

/*
 * A control-IN transfer on endpoint 0: the submission with its 8-byte setup
 * packet (USB 2.0 §9.3) at time ts, and the completion carrying data[0..len)
 * at the same time.  For GET_DESCRIPTOR records.  Returns 0 or the sticky
 * write error.
 */
int pcap_usb_control_in(struct pcap_writer *w, const struct timespec *ts, const uint8_t setup[8],
			const uint8_t *data, size_t len);

/*
 * One bulk transfer on endpoint ep (bit 7: IN) at time ts: for OUT the
 * submission carries data and the completion none; for IN the submission
 * carries none and the completion carries data (as usbmon records them).
 * len is capped at PCAP_USB_MAX_DATA (the record then keeps the true length
 * as urb length).  Returns 0 or the sticky write error.
 */
int pcap_usb_bulk(struct pcap_writer *w, const struct timespec *ts, uint8_t ep, const uint8_t *data, size_t len);

/* Flush and close; returns 0 or the first write error (-errno) met since open.  NULL ok. */
int pcap_close(struct pcap_writer *w);

#endif
