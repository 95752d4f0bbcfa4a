/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual CCID reader as a USB device: descriptors and standard and
 * class control requests (USB 2.0 §9.4, CCID 1.1 §5.3), bulk-OUT message
 * reassembly, serving the bulk-IN and interrupt-IN queues, and the control
 * API.  The CCID commands are in slot.c; the queues, the journal and the
 * log they both write are in outputs.c.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/bytes.h"
#include "ccid/usb_desc.h"
#include "vreader/device_priv.h"

/* USB 2.0 §9.4 standard requests and CCID §5.3 class requests. */
enum {
	REQ_GET_STATUS = 0x00,
	REQ_CLEAR_FEATURE = 0x01,
	REQ_SET_FEATURE = 0x03,
	REQ_SET_ADDRESS = 0x05,
	REQ_GET_DESCRIPTOR = 0x06,
	REQ_GET_CONFIGURATION = 0x08,
	REQ_SET_CONFIGURATION = 0x09,
	REQ_GET_INTERFACE = 0x0A,
	REQ_SET_INTERFACE = 0x0B,
	REQ_CCID_ABORT = 0x01,
	REQ_CCID_GET_CLOCK_FREQUENCIES = 0x02,
	REQ_CCID_GET_DATA_RATES = 0x03,
};

#define CONFIG_LEN (9 + 9 + CCID_CLASS_DESC_LEN + 3 * 7)

/* ---- journal ---- */

/* ---- queues ---- */

/* ---- descriptors ---- */

static size_t device_descriptor(const struct vdev *d, uint8_t *b)
{
	b[0] = CCID_USB_DEVICE_DESC_LEN;
	b[1] = CCID_USB_DT_DEVICE;
	put_le16(b + 2, 0x0110);         /* USB 1.1: a full-speed device */
	b[4] = 0;                        /* class per interface */
	b[5] = 0;
	b[6] = 0;
	b[7] = VDEV_MAX_PACKET;
	put_le16(b + 8, d->cfg.idVendor);
	put_le16(b + 10, d->cfg.idProduct);
	put_le16(b + 12, d->cfg.bcdDevice);
	b[14] = 1;
	b[15] = 2;
	b[16] = 3;
	b[17] = 1;
	return CCID_USB_DEVICE_DESC_LEN;
}

static size_t endpoint(uint8_t *b, uint8_t addr, uint8_t attr, uint8_t interval)
{
	b[0] = 7;
	b[1] = CCID_USB_DT_ENDPOINT;
	b[2] = addr;
	b[3] = attr;
	put_le16(b + 4, attr == CCID_USB_EP_XFER_INTERRUPT ? 8 : VDEV_MAX_PACKET);
	b[6] = interval;
	return 7;
}

static size_t config_descriptor(const struct vdev *d, uint8_t *b)
{
	size_t o = 9;
	uint8_t neps = vdev_has_interrupt(d) ? 3 : 2;

	if (d->cfg.iccd)
		neps -= 2;               /* an ICCD token works over the control pipe (vreader/iccd.c) */

	b[o++] = 9;
	b[o++] = CCID_USB_DT_INTERFACE;
	b[o++] = 0;                      /* bInterfaceNumber */
	b[o++] = 0;                      /* bAlternateSetting */
	b[o++] = neps;
	b[o++] = CCID_USB_CLASS_SMART_CARD;
	b[o++] = 0;
	b[o++] = d->cfg.iccd;            /* bInterfaceProtocol: 0 CCID, 1 / 2 ICCD */
	b[o++] = 2;                      /* iInterface: the product string */
	o += (size_t)ccid_class_desc_encode(&d->cfg.desc, b + o, CCID_CLASS_DESC_LEN);
	if (!d->cfg.iccd) {
		o += endpoint(b + o, VDEV_BULK_OUT, CCID_USB_EP_XFER_BULK, 0);
		o += endpoint(b + o, VDEV_BULK_IN, CCID_USB_EP_XFER_BULK, 0);
	}
	if (vdev_has_interrupt(d))
		o += endpoint(b + o, VDEV_INTR_IN, CCID_USB_EP_XFER_INTERRUPT, 16);
	b[0] = 9;
	b[1] = CCID_USB_DT_CONFIG;
	put_le16(b + 2, (uint16_t)o);
	b[4] = 1;                        /* bNumInterfaces */
	b[5] = 1;                        /* bConfigurationValue */
	b[6] = 0;
	/* bus powered; remote wakeup only where dwFeatures announces it (CCID §5.1) */
	b[7] = 0x80 | (d->cfg.desc.dwFeatures & CCID_FEAT_REMOTE_WAKEUP ? 0x20 : 0);
	b[8] = 50;                       /* 100 mA */
	return o;
}

/* USB 2.0 §9.6.7: UTF-16LE string descriptor from ASCII. */
static int string_descriptor(const struct vdev *d, uint8_t index, uint8_t *b, size_t cap)
{
	const char *s;
	size_t n;

	if (index == 0) {
		if (cap < 4)
			return -EPIPE;
		b[0] = 4;
		b[1] = CCID_USB_DT_STRING;
		put_le16(b + 2, 0x0409);
		return 4;
	}
	switch (index) {
	case 1: s = d->cfg.manufacturer; break;
	case 2: s = d->cfg.product; break;
	case 3: s = d->cfg.serial; break;
	default: return -EPIPE;
	}
	n = strlen(s);
	if (2 + 2 * n > 255 || 2 + 2 * n > cap)
		return -EPIPE;
	b[0] = (uint8_t)(2 + 2 * n);
	b[1] = CCID_USB_DT_STRING;
	for (size_t i = 0; i < n; i++)
		put_le16(b + 2 + 2 * i, (uint8_t)s[i]);
	return (int)(2 + 2 * n);
}

/* ---- vusb_ops ---- */

static void op_info(void *dev, struct vusb_info *ret)
{
	struct vdev *d = dev;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->path, sizeof(ret->path), "/sys/devices/uccid-vreader/%s", d->cfg.name);
	ret->busnum = 1;
	ret->devnum = 2;
	ret->speed = 2;                  /* full speed */
	ret->idVendor = d->cfg.idVendor;
	ret->idProduct = d->cfg.idProduct;
	ret->bcdDevice = d->cfg.bcdDevice;
	ret->bConfigurationValue = d->configuration;
	ret->bNumConfigurations = 1;
	ret->bNumInterfaces = 1;
	ret->intf[0].bInterfaceClass = CCID_USB_CLASS_SMART_CARD;
	ret->intf[0].bInterfaceSubClass = 0;
	ret->intf[0].bInterfaceProtocol = d->cfg.iccd;
}

static int copy_out(uint8_t *in, size_t in_cap, uint16_t wLength, const uint8_t *src, size_t n)
{
	if (n > wLength)
		n = wLength;
	if (n > in_cap)
		n = in_cap;
	memcpy(in, src, n);
	return (int)n;
}

static int class_rates(const uint32_t *list, unsigned count, uint16_t wLength, uint8_t *in, size_t in_cap)
{
	uint8_t buf[4 * 255];

	if (count == 0)
		return -EPIPE;       /* not offered: STALL, as the host then uses the descriptor */
	for (unsigned i = 0; i < count; i++)
		put_le32(buf + 4 * i, list[i]);
	return copy_out(in, in_cap, wLength, buf, 4u * count);
}

static int op_control(void *dev, const uint8_t setup[8], const uint8_t *data, uint8_t *in, size_t in_cap,
		      int64_t now)
{
	struct vdev *d = dev;
	uint8_t type = setup[0], req = setup[1];
	uint16_t wValue = get_le16(setup + 2), wIndex = get_le16(setup + 4), wLength = get_le16(setup + 6);
	uint8_t buf[512];
	int r;

	(void)data;
	switch (type) {
	case 0x80: /* device, standard, IN */
		switch (req) {
		case REQ_GET_DESCRIPTOR:
			switch (wValue >> 8) {
			case CCID_USB_DT_DEVICE:
				return copy_out(in, in_cap, wLength, buf, device_descriptor(d, buf));
			case CCID_USB_DT_CONFIG:
				if ((wValue & 0xFF) != 0)
					return -EPIPE;
				return copy_out(in, in_cap, wLength, buf, config_descriptor(d, buf));
			case CCID_USB_DT_STRING:
				r = string_descriptor(d, (uint8_t)wValue, buf, sizeof(buf));
				return r < 0 ? r : copy_out(in, in_cap, wLength, buf, (size_t)r);
			default:
				return -EPIPE;   /* no device qualifier: full-speed only (§9.6.2) */
			}
		case REQ_GET_STATUS:
			buf[0] = buf[1] = 0;
			return copy_out(in, in_cap, wLength, buf, 2);
		case REQ_GET_CONFIGURATION:
			buf[0] = d->configuration;
			return copy_out(in, in_cap, wLength, buf, 1);
		default:
			return -EPIPE;
		}
	case 0x00: /* device, standard, OUT */
		switch (req) {
		case REQ_SET_CONFIGURATION:
			if (wValue > 1)
				return -EPIPE;
			d->configuration = (uint8_t)wValue;
			if (wValue && !d->cfg.no_config_notify) {
				/* Report the slots' state once configured (CCID §6.3.1). */
				for (unsigned i = 0; i < d->nslots; i++)
					if (d->slots[i].card)
						vdev_notify_change(d, i);
			}
			return 0;
		case REQ_SET_ADDRESS:
		case REQ_SET_FEATURE:
		case REQ_CLEAR_FEATURE:
			return 0;
		default:
			return -EPIPE;
		}
	case 0x81: /* interface, standard, IN */
		if (wIndex != 0)
			return -EPIPE;
		if (req == REQ_GET_STATUS) {
			buf[0] = buf[1] = 0;
			return copy_out(in, in_cap, wLength, buf, 2);
		}
		if (req == REQ_GET_INTERFACE) {
			buf[0] = 0;
			return copy_out(in, in_cap, wLength, buf, 1);
		}
		return -EPIPE;
	case 0x01: /* interface, standard, OUT */
		if (req == REQ_SET_INTERFACE && wIndex == 0 && wValue == 0)
			return 0;
		return -EPIPE;
	case 0x82: /* endpoint, standard, IN */
		if (req != REQ_GET_STATUS)
			return -EPIPE;
		buf[0] = ((wIndex & 0xFF) == VDEV_BULK_IN && d->bulk_in_halted) ||
			 ((wIndex & 0xFF) == VDEV_BULK_OUT && d->bulk_out_halted);
		buf[1] = 0;
		return copy_out(in, in_cap, wLength, buf, 2);
	case 0x02: /* endpoint, standard, OUT */
		if (req == REQ_CLEAR_FEATURE && wValue == 0 /* ENDPOINT_HALT */) {
			if ((wIndex & 0xFF) == VDEV_BULK_IN)
				d->bulk_in_halted = false;
			if ((wIndex & 0xFF) == VDEV_BULK_OUT)
				d->bulk_out_halted = false;
			return 0;
		}
		if (req == REQ_SET_FEATURE && wValue == 0) {
			if ((wIndex & 0xFF) == VDEV_BULK_IN)
				d->bulk_in_halted = true;
			if ((wIndex & 0xFF) == VDEV_BULK_OUT)
				d->bulk_out_halted = true;
			return 0;
		}
		return -EPIPE;
	case 0x21: /* interface, class, OUT */
		if (d->cfg.iccd)
			return vdev_iccd_control(d, setup, data, in, in_cap, now);
		if (wIndex != 0 || req != REQ_CCID_ABORT)
			return -EPIPE;
		vdev_slot_abort_control(d, (uint8_t)wValue, (uint8_t)(wValue >> 8), now);
		return 0;
	case 0xA1: /* interface, class, IN */
		if (d->cfg.iccd)
			return vdev_iccd_control(d, setup, data, in, in_cap, now);
		if (wIndex != 0)
			return -EPIPE;
		if (req == REQ_CCID_GET_CLOCK_FREQUENCIES)
			return class_rates(d->cfg.clocks_khz, d->cfg.desc.bNumClockSupported, wLength, in, in_cap);
		if (req == REQ_CCID_GET_DATA_RATES)
			return class_rates(d->cfg.data_rates, d->cfg.desc.bNumDataRatesSupported, wLength, in,
					   in_cap);
		return -EPIPE;
	default:
		return -EPIPE;
	}
}

static void advance(struct vdev *d, int64_t now)
{
	for (unsigned i = 0; i < d->nslots; i++)
		vdev_slot_advance(d, &d->slots[i], now);
}

/*
 * Bulk-OUT: one transfer normally carries one whole message.  A message may
 * continue over several transfers only while they are made of full packets;
 * a short transfer ends it (USB 2.0 §5.8.3).  A message longer than
 * dwMaxCCIDMessageLength is answered with bError 1 (the offset of dwLength,
 * CCID §6.2.6) and the rest of it discarded.
 */
static void bad_length(struct vdev *d, const uint8_t *hdr, int64_t now)
{
	uint8_t slot = hdr[CCID_OFF_SLOT];
	uint8_t type = ccid_response_type(hdr[CCID_OFF_TYPE]);

	d->counters.bad_commands++;
	if (slot >= d->nslots)
		slot = 0;
	vdev_answer(d, &d->slots[slot], type ? type : CCID_RDR_TO_PC_SLOT_STATUS, hdr[CCID_OFF_SEQ],
		    CCID_CMD_FAILED, CCID_OFF_LENGTH, 0, NULL, 0, 0, now);
}

static int op_out(void *dev, uint8_t ep, const uint8_t *data, size_t len, int64_t now)
{
	struct vdev *d = dev;
	uint32_t max = ccid_class_desc_max_message(&d->cfg.desc);
	bool short_transfer = len % VDEV_MAX_PACKET != 0 || len == 0;

	/* a halted endpoint STALLs every transfer and takes no data (USB 2.0 §9.4.5) */
	if (ep != (VDEV_BULK_OUT & 0x0F) || d->bulk_out_halted)
		return -EPIPE;
	advance(d, now);
	if (d->out_discard) {
		if (short_transfer)
			d->out_discard = false;
		return (int)len;
	}
	if (d->out_len + len > max) {
		/* Over the reader's limit: answer once the header is known, drop the rest. */
		uint8_t hdr[CCID_HEADER_SIZE] = { 0 };
		size_t have = d->out_len < CCID_HEADER_SIZE ? d->out_len : CCID_HEADER_SIZE;

		memcpy(hdr, d->out_buf, have);
		if (have < CCID_HEADER_SIZE)
			memcpy(hdr + have, data, CCID_HEADER_SIZE - have < len ? CCID_HEADER_SIZE - have : len);
		bad_length(d, hdr, now);
		d->out_len = 0;
		d->out_discard = !short_transfer;
		return (int)len;
	}
	memcpy(d->out_buf + d->out_len, data, len);
	d->out_len += len;
	while (d->out_len >= CCID_HEADER_SIZE) {
		ssize_t total = ccid_msg_total_length(d->out_buf, d->out_len);

		if (total < 0 || (size_t)total > max) {
			bad_length(d, d->out_buf, now);
			d->out_len = 0;
			d->out_discard = !short_transfer;
			break;
		}
		if ((size_t)total > d->out_len) {
			if (short_transfer) {
				/* the transfer ended before dwLength bytes: a truncated command */
				bad_length(d, d->out_buf, now);
				d->out_len = 0;
			}
			break;
		}
		vdev_handle_command(d, d->out_buf, (size_t)total, now);
		memmove(d->out_buf, d->out_buf + total, d->out_len - (size_t)total);
		d->out_len -= (size_t)total;
	}
	if (d->out_len && d->out_len < CCID_HEADER_SIZE && short_transfer)
		d->out_len = 0;           /* a stray short fragment: nothing to answer */
	return (int)len;
}

static int bulk_in(struct vdev *d, uint8_t *buf, size_t cap, enum vusb_in_action *action)
{
	struct vmsg *m = d->in_head;
	size_t n;

	if (d->bulk_in_halted) {
		*action = VUSB_IN_STALL;
		return 0;
	}
	if (d->zlp_pending) {
		d->zlp_pending = false;
		*action = VUSB_IN_DATA;
		return 0;
	}
	if (!m)
		return -EAGAIN;
	if (m->action == VUSB_IN_STALL) {
		/* the endpoint halts until CLEAR_FEATURE(ENDPOINT_HALT) */
		d->in_head = m->next;
		if (!d->in_head)
			d->in_tail = NULL;
		free(m);
		d->bulk_in_halted = true;
		*action = VUSB_IN_STALL;
		return 0;
	}
	if (d->cur_off == 0 && m->journal && m->slot >= 0) {
		vdev_journal_add(d, (unsigned)m->slot, m->data, m->len, false, false);
		d->counters.answers++;
		if (m->len >= CCID_HEADER_SIZE && CCID_CMD_STATUS(m->data[CCID_OFF_B7]) == CCID_CMD_TIME_EXTENSION)
			d->counters.time_extensions++;
	}
	n = m->len - d->cur_off;
	if (n > cap)
		n = cap;
	memcpy(buf, m->data + d->cur_off, n);
	d->cur_off += n;
	*action = m->action;
	if (d->cur_off >= m->len) {
		d->in_head = m->next;
		if (!d->in_head)
			d->in_tail = NULL;
		free(m);
		d->cur_off = 0;
	}
	return (int)n;
}

static int intr_in(struct vdev *d, uint8_t *buf, size_t cap, enum vusb_in_action *action)
{
	struct vmsg *m;

	*action = VUSB_IN_DATA;
	vdev_flush_notify(d);
	m = d->intr_head;
	if (!m)
		return -EAGAIN;
	if (m->len > cap)
		return -EAGAIN;           /* the host offers too small a buffer: wait for a better one */
	memcpy(buf, m->data, m->len);
	d->intr_head = m->next;
	if (!d->intr_head)
		d->intr_tail = NULL;
	d->counters.interrupts++;
	vdev_log(d, "interrupt %02X (%zu bytes)", m->data[0], m->len);
	{
		int n = (int)m->len;

		free(m);
		return n;
	}
}

static int op_in(void *dev, uint8_t ep, uint8_t *buf, size_t cap, enum vusb_in_action *action, int64_t now)
{
	struct vdev *d = dev;

	advance(d, now);
	*action = VUSB_IN_DATA;
	if (ep == VDEV_BULK_IN)
		return bulk_in(d, buf, cap, action);
	if (ep == VDEV_INTR_IN && vdev_has_interrupt(d))
		return intr_in(d, buf, cap, action);
	*action = VUSB_IN_STALL;
	return 0;
}

static int64_t op_next_event(void *dev, int64_t now)
{
	struct vdev *d = dev;
	int64_t next = VUSB_NEVER;

	for (unsigned i = 0; i < d->nslots; i++) {
		int64_t t = vdev_slot_next_event(d, &d->slots[i]);

		if (t < next)
			next = t;
	}
	(void)now;
	return next;
}

static void op_unlink(void *dev, uint8_t ep, int64_t now)
{
	/* Nothing is handed out before the URB completes, so nothing is lost. */
	(void)dev;
	(void)ep;
	(void)now;
}

/* A new host: start from a clean pipe state, as after a USB reset. */
static void op_attach(void *dev, int64_t now)
{
	struct vdev *d = dev;

	(void)now;
	vdev_free_list(d->in_head);
	d->in_head = d->in_tail = NULL;
	d->cur_off = 0;
	vdev_free_list(d->intr_head);
	d->intr_head = d->intr_tail = NULL;
	d->out_len = 0;
	d->out_discard = false;
	d->bulk_in_halted = false;
	d->bulk_out_halted = false;
	d->zlp_pending = false;
	d->configuration = 0;
	d->vendor_apdu = false;         /* the firmware's vendor mode does not survive a USB reset */
	for (unsigned i = 0; i < d->nslots; i++)
		vdev_slot_reset_state(d, &d->slots[i]);
}

static void op_detach(void *dev, int64_t now)
{
	op_attach(dev, now);
}

/* Plugged in again: a power cycle, the cards (still inserted) unpowered and unlocked. */
static void op_replug(void *dev, int64_t now)
{
	struct vdev *d = dev;

	op_attach(dev, now);
	for (unsigned i = 0; i < d->nslots; i++) {
		struct vslot *s = &d->slots[i];

		if (s->card)
			vcard_power_off(s->card);
		s->powered = false;
		s->locked = false;
	}
	vdev_log(d, "plugged in again: the cards are unpowered");
}

const struct vusb_ops vdev_usb_ops = {
	.info = op_info,
	.control = op_control,
	.out = op_out,
	.in = op_in,
	.next_event = op_next_event,
	.unlink = op_unlink,
	.attach = op_attach,
	.detach = op_detach,
	.replug = op_replug,
};

/* ---- life cycle and control API ---- */

struct vdev *vdev_new(const struct vdev_config *cfg)
{
	struct vdev *d;
	if (!cfg || ccid_class_desc_validate(&cfg->desc, NULL, NULL, NULL) < 0
	    || cfg->desc.bMaxSlotIndex >= VDEV_MAX_SLOTS) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->cfg = *cfg;
	d->nslots = cfg->desc.bMaxSlotIndex + 1u;
	d->rng = 0x2545F491u;
	d->out_buf = malloc(CCID_MAX_MESSAGE_LENGTH);
	if (!d->out_buf)
		goto fail;
	if (vdev_iccd_init(d) < 0)
		goto fail;
	for (unsigned i = 0; i < d->nslots; i++) {
		struct vslot *s = &d->slots[i];

		s->index = i;
		s->journal = calloc(VDEV_JOURNAL_MAX, sizeof(*s->journal));
		s->cmd = malloc(CCID_MAX_DATA_LENGTH);
		s->rsp = malloc(CCID_MAX_DATA_LENGTH);
		if (!s->journal || !s->cmd || !s->rsp)
			goto fail;
		if (cfg->card_present[i]) {
			s->card = vcard_new(&cfg->card);
			if (!s->card) {
				errno = EINVAL;
				goto fail;
			}
		}
	}
	return d;
fail:
	vdev_free(d);
	return NULL;
}

void vdev_free(struct vdev *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < VDEV_MAX_SLOTS; i++) {
		struct vslot *s = &d->slots[i];

		vcard_free(s->card);
		free(s->work.answer);
		free(s->journal);
		free(s->cmd);
		free(s->rsp);
	}
	vdev_free_list(d->in_head);
	vdev_free_list(d->intr_head);
	vdev_iccd_free(d);
	free(d->out_buf);
	free(d);
}

int vdev_reset(struct vdev *d)
{
	struct vdev_journal_entry *journal[VDEV_MAX_SLOTS];
	uint8_t *cmd[VDEV_MAX_SLOTS], *rsp[VDEV_MAX_SLOTS];
	struct vcard *card[VDEV_MAX_SLOTS];
	struct vdev_config cfg;
	uint8_t *out_buf;
	unsigned nslots;
	FILE *log;
	int r = 0;

	if (!d)
		return -EINVAL;
	/* what vdev_new allocated is kept; the rest goes, then the state is vdev_new's (calloc) */
	for (unsigned i = 0; i < VDEV_MAX_SLOTS; i++) {
		struct vslot *s = &d->slots[i];

		free(s->work.answer);
		journal[i] = s->journal;
		cmd[i] = s->cmd;
		rsp[i] = s->rsp;
		card[i] = s->card;
	}
	vdev_free_list(d->in_head);
	vdev_free_list(d->intr_head);
	vdev_iccd_free(d);
	cfg = d->cfg;
	nslots = d->nslots;
	out_buf = d->out_buf;
	log = d->log;
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->nslots = nslots;
	d->rng = 0x2545F491u;
	d->out_buf = out_buf;
	d->log = log;
	for (unsigned i = 0; i < VDEV_MAX_SLOTS; i++) {
		struct vslot *s = &d->slots[i];

		s->index = i;
		s->journal = journal[i];
		s->cmd = cmd[i];
		s->rsp = rsp[i];
		if (i < nslots && cfg.card_present[i] && card[i]) {
			s->card = card[i];
			if (vcard_reinit(s->card, &cfg.card) < 0)
				r = -EINVAL;
		} else if (i < nslots && cfg.card_present[i]) {
			s->card = vcard_new(&cfg.card);
			if (!s->card)
				r = -ENOMEM;
		} else {
			vcard_free(card[i]);
		}
	}
	if (vdev_iccd_init(d) < 0)
		r = -ENOMEM;
	return r;
}

const struct vdev_config *vdev_config(const struct vdev *d)
{
	return &d->cfg;
}

unsigned vdev_nslots(const struct vdev *d)
{
	return d->nslots;
}

void vdev_set_log(struct vdev *d, FILE *f)
{
	d->log = f;
}

/* A new card for slot s: cfg, else the configured card with the slot's ATR (vdev_set_atr). */
static struct vcard *new_card(struct vdev *d, const struct vslot *s, const struct vcard_config *cfg)
{
	struct vcard_config c;

	if (cfg || !s->next_atr_len)
		return vcard_new(cfg ? cfg : &d->cfg.card);
	c = d->cfg.card;
	if (vcard_config_set_atr(&c, s->next_atr, s->next_atr_len) < 0)
		return NULL;
	return vcard_new(&c);
}

int vdev_set_atr(struct vdev *d, unsigned slot, const uint8_t *atr, size_t len)
{
	struct vcard_config c;
	struct vslot *s;
	int r;

	if (!d || slot >= d->nslots || len > VCARD_ATR_MAX || (!atr && len))
		return -EINVAL;
	s = &d->slots[slot];
	if (len) {
		c = d->cfg.card;
		if ((r = vcard_config_set_atr(&c, atr, len)) < 0)
			return r;
		if (s->card && (r = vcard_set_atr(s->card, atr, len)) < 0)
			return r;
		memcpy(s->next_atr, atr, len);
	}
	s->next_atr_len = len;
	vdev_log(d, "slot %u: ATR of %zu bytes set", slot, len);
	return 0;
}

int vdev_insert_card(struct vdev *d, unsigned slot, const struct vcard_config *cfg, int64_t now)
{
	struct vslot *s;

	if (!d || slot >= d->nslots)
		return -EINVAL;
	advance(d, now);
	s = &d->slots[slot];
	if (s->card)
		return -EEXIST;
	s->card = new_card(d, s, cfg);
	if (!s->card)
		return -EINVAL;
	s->powered = false;
	vdev_notify_change(d, slot);
	vdev_log(d, "slot %u: card inserted", slot);
	return 0;
}

int vdev_remove_card(struct vdev *d, unsigned slot, int64_t now)
{
	struct vslot *s;

	if (!d || slot >= d->nslots)
		return -EINVAL;
	advance(d, now);
	s = &d->slots[slot];
	if (!s->card)
		return -ENOENT;
	vcard_free(s->card);
	s->card = NULL;
	s->powered = false;
	s->locked = false;
	vdev_notify_change(d, slot);
	vdev_log(d, "slot %u: card removed", slot);
	return 0;
}

int vdev_keypad(struct vdev *d, unsigned slot, const char *key, int64_t now)
{
	if (!d || slot >= d->nslots || !key)
		return -EINVAL;
	advance(d, now);
	return vdev_slot_keypad(d, &d->slots[slot], key, now);
}

int vdev_set_keypad_auto(struct vdev *d, const char *keys)
{
	if (!d || !keys)
		return -EINVAL;
	if (strlen(keys) >= sizeof(d->cfg.keypad_auto))
		return -EMSGSIZE;
	snprintf(d->cfg.keypad_auto, sizeof(d->cfg.keypad_auto), "%s", keys);
	return 0;
}

int vdev_swap_card(struct vdev *d, unsigned slot, int64_t now)
{
	struct vcard *fresh;
	struct vslot *s;

	if (!d || slot >= d->nslots)
		return -EINVAL;
	advance(d, now);
	s = &d->slots[slot];
	if (!s->card)
		return -ENOENT;
	fresh = new_card(d, s, NULL);
	if (!fresh)
		return -EINVAL;
	vcard_free(s->card);
	s->card = fresh;
	s->powered = false;
	s->locked = false;
	vdev_notify_change(d, slot);
	vdev_log(d, "slot %u: card swapped", slot);
	return 0;
}

int vdev_set_fault(struct vdev *d, int slot, enum vdev_fault f, uint32_t arg, unsigned count)
{
	if (!d || (unsigned)f >= VDEV_FAULT_COUNT || slot >= (int)d->nslots || slot < -1)
		return -EINVAL;
	for (unsigned i = 0; i < d->nslots; i++) {
		if (slot >= 0 && (unsigned)slot != i)
			continue;
		d->slots[i].fault = f;
		d->slots[i].fault_arg = arg;
		d->slots[i].fault_left = count;
		d->slots[i].fault_on = 0;
	}
	vdev_log(d, "fault %s armed (slot %d, arg %u, count %u)", vdev_fault_name(f), slot, arg, count);
	return 0;
}

int vdev_set_fault_on(struct vdev *d, int slot, uint8_t type)
{
	if (!d || slot >= (int)d->nslots || slot < -1 || (type && !ccid_is_command(type)))
		return -EINVAL;
	for (unsigned i = 0; i < d->nslots; i++)
		if (slot < 0 || (unsigned)slot == i)
			d->slots[i].fault_on = type;
	return 0;
}

void vdev_clear_faults(struct vdev *d)
{
	vdev_set_fault(d, -1, VDEV_FAULT_NONE, 0, 0);
}

int vdev_slot_status(const struct vdev *d, unsigned slot, struct vdev_slot_status *ret)
{
	const struct vslot *s;

	if (!d || slot >= d->nslots || !ret)
		return -EINVAL;
	s = &d->slots[slot];
	memset(ret, 0, sizeof(*ret));
	ret->present = s->card != NULL;
	ret->powered = s->powered;
	ret->locked = s->locked;
	ret->clock_stopped = s->clock_stopped;
	ret->busy = s->work.active;
	ret->protocol = s->protocol;
	if (s->card) {
		ret->pin_verified = vcard_pin_verified(s->card);
		ret->pin_tries_left = vcard_pin_tries_left(s->card);
	}
	ret->fault = s->fault;
	ret->fault_left = s->fault_left;
	ret->keypad = s->pin.active && s->work.active && s->work.seq == s->pin.seq;
	if (ret->keypad)
		vpin_describe(&s->pin, ret->keypad_state, sizeof(ret->keypad_state));
	return 0;
}

void vdev_counters(const struct vdev *d, struct vdev_counters *ret)
{
	*ret = d->counters;
}

void vdev_counters_reset(struct vdev *d)
{
	memset(&d->counters, 0, sizeof(d->counters));
}
