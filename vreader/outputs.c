/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the virtual device says, below both the USB side (device.c) and the
 * CCID commands (slot.c): its log and journal, the bulk-IN answers and
 * interrupt-IN messages it queues (NotifySlotChange with the changes not
 * yet reported, CCID §6.3.1; HardwareError, §6.3.2), and the fault names.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid/bytes.h"
#include "vreader/device_priv.h"
#include "util/clock.h"

void vdev_log(struct vdev *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->log)
		return;
	va_start(ap, fmt);
	vfprintf(d->log, fmt, ap);
	va_end(ap);
	fputc('\n', d->log);
	fflush(d->log);
}

uint32_t vdev_random(struct vdev *d)
{
	/* xorshift32: deterministic per device, good enough for garbage bytes */
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 17;
	d->rng ^= d->rng << 5;
	return d->rng;
}

uint8_t vdev_icc_status(const struct vslot *s)
{
	if (!s->card)
		return CCID_ICC_ABSENT;
	return s->powered ? CCID_ICC_ACTIVE : CCID_ICC_INACTIVE;
}

bool vdev_has_interrupt(const struct vdev *d)
{
	/* Readers whose cards come and go should have an interrupt pipe (CCID §3.2.1);
	 * --no-interrupt makes one without, which hosts must poll. */
	return !d->cfg.no_interrupt;
}

void vdev_journal_add(struct vdev *d, unsigned slot, const uint8_t *msg, size_t len, bool from_host, bool warm)
{
	struct vslot *s;
	struct vdev_journal_entry *e;

	if (slot >= d->nslots || len < CCID_HEADER_SIZE)
		return;
	s = &d->slots[slot];
	e = &s->journal[(s->jhead + s->jcount) % VDEV_JOURNAL_MAX];
	if (s->jcount == VDEV_JOURNAL_MAX)
		s->jhead = (s->jhead + 1) % VDEV_JOURNAL_MAX;
	else
		s->jcount++;
	memset(e, 0, sizeof(*e));
	e->index = s->jnext++;
	e->time = uccid_mono_us();
	e->from_host = from_host;
	e->bMessageType = msg[CCID_OFF_TYPE];
	e->dwLength = get_le32(msg + CCID_OFF_LENGTH);
	e->bSeq = msg[CCID_OFF_SEQ];
	e->b7 = msg[CCID_OFF_B7];
	e->b8 = msg[CCID_OFF_B8];
	e->b9 = msg[CCID_OFF_B9];
	e->warm = warm;
	e->ndata = (uint8_t)(len - CCID_HEADER_SIZE < sizeof(e->data) ? len - CCID_HEADER_SIZE : sizeof(e->data));
	memcpy(e->data, msg + CCID_HEADER_SIZE, e->ndata);
}

size_t vdev_journal(const struct vdev *d, unsigned slot, uint64_t from, struct vdev_journal_entry *out,
		    size_t max)
{
	const struct vslot *s;
	size_t n = 0;

	if (!d || slot >= d->nslots)
		return 0;
	s = &d->slots[slot];
	for (size_t i = 0; i < s->jcount && n < max; i++) {
		const struct vdev_journal_entry *e = &s->journal[(s->jhead + i) % VDEV_JOURNAL_MAX];

		if (e->index >= from)
			out[n++] = *e;
	}
	return n;
}

void vdev_journal_clear(struct vdev *d)
{
	for (unsigned i = 0; i < d->nslots; i++)
		d->slots[i].jhead = d->slots[i].jcount = 0;
}

void vdev_journal_format(const struct vdev_journal_entry *e, char *buf, size_t cap)
{
	const char *name = ccid_msg_type_name(e->bMessageType);
	int n;

	n = snprintf(buf, cap, "%llu %s %s seq=%02X b7=%02X b8=%02X b9=%02X len=%u",
		     (unsigned long long)e->index, e->from_host ? "host" : "reader", name ? name : "unknown",
		     e->bSeq, e->b7, e->b8, e->b9, (unsigned)e->dwLength);
	if (n < 0 || (size_t)n >= cap)
		return;
	if (e->ndata) {
		n += snprintf(buf + n, cap - (size_t)n, " data=");
		for (unsigned i = 0; i < e->ndata && (size_t)n + 3 < cap; i++)
			n += snprintf(buf + n, cap - (size_t)n, "%02X", e->data[i]);
		if (e->dwLength > e->ndata && (size_t)n + 3 < cap)
			n += snprintf(buf + n, cap - (size_t)n, "..");
	}
	if (e->warm && (size_t)n + 6 < cap)
		snprintf(buf + n, cap - (size_t)n, " warm");
}

static struct vmsg *vmsg_new(int slot, const uint8_t *data, size_t len, enum vusb_in_action action, bool journal)
{
	struct vmsg *m = malloc(sizeof(*m) + len);

	if (!m)
		return NULL;
	m->next = NULL;
	m->slot = slot;
	m->journal = journal;
	m->action = action;
	m->len = len;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

void vdev_queue_bulk(struct vdev *d, int slot, const uint8_t *data, size_t len, enum vusb_in_action action,
		     bool journal)
{
	struct vmsg *m = vmsg_new(slot, data, len, action, journal);

	if (!m)
		return;       /* out of memory: the host sees a mute reader and times out */
	if (d->in_tail)
		d->in_tail->next = m;
	else
		d->in_head = m;
	d->in_tail = m;
}

void vdev_queue_intr(struct vdev *d, const uint8_t *data, size_t len)
{
	struct vmsg *m = vmsg_new(-1, data, len, VUSB_IN_DATA, false);

	if (!m)
		return;
	if (d->intr_tail)
		d->intr_tail->next = m;
	else
		d->intr_head = m;
	d->intr_tail = m;
}

void vdev_free_list(struct vmsg *m)
{
	while (m) {
		struct vmsg *next = m->next;

		free(m);
		m = next;
	}
}

void vdev_notify_change(struct vdev *d, unsigned slot)
{
	d->notify_changed |= 1u << slot;
}

/* Turn the slot changes not yet reported into a NotifySlotChange (CCID §6.3.1). */
void vdev_flush_notify(struct vdev *d)
{
	struct ccid_intr_msg n = { .bMessageType = CCID_RDR_TO_PC_NOTIFY_SLOT_CHANGE,
				   .notify = { .nslots = d->nslots } };
	uint8_t tmp[CCID_NOTIFY_MAX_LEN];
	ssize_t len;

	if (!d->notify_changed || !d->configuration)
		return;
	for (unsigned i = 0; i < d->nslots; i++)
		ccid_notify_set(&n, i, d->slots[i].card != NULL, d->notify_changed >> i & 1);
	d->notify_changed = 0;
	len = ccid_intr_encode(&n, tmp, sizeof(tmp));
	if (len > 0)
		vdev_queue_intr(d, tmp, (size_t)len);
}

int vdev_hardware_error(struct vdev *d, unsigned slot, int64_t now)
{
	uint8_t msg[CCID_HARDWARE_ERROR_LEN];
	struct ccid_intr_msg m = { .bMessageType = CCID_RDR_TO_PC_HARDWARE_ERROR };

	if (!d || slot >= d->nslots)
		return -EINVAL;
	(void)now;
	m.hw_error.bSlot = (uint8_t)slot;
	m.hw_error.bSeq = d->slots[slot].work.active ? d->slots[slot].work.seq : 0;
	m.hw_error.bHardwareErrorCode = CCID_HW_ERROR_OVERCURRENT;
	if (ccid_intr_encode(&m, msg, sizeof(msg)) < 0)
		return -EINVAL;
	vdev_flush_notify(d);     /* earlier slot changes are reported first */
	vdev_queue_intr(d, msg, sizeof(msg));
	return 0;
}

static const char *const fault_names[VDEV_FAULT_COUNT] = {
	[VDEV_FAULT_NONE] = "none",
	[VDEV_FAULT_MUTE] = "mute",
	[VDEV_FAULT_WRONG_SEQ] = "wrong-seq",
	[VDEV_FAULT_STALE_DUPLICATE] = "stale-duplicate",
	[VDEV_FAULT_ZLP] = "zlp",
	[VDEV_FAULT_TRUNCATED] = "truncated",
	[VDEV_FAULT_LENGTH_OVER] = "length-over",
	[VDEV_FAULT_LENGTH_HUGE] = "length-huge",
	[VDEV_FAULT_GARBAGE] = "garbage",
	[VDEV_FAULT_ENDLESS_WTX] = "endless-wtx",
	[VDEV_FAULT_SLOT_BUSY] = "slot-busy",
	[VDEV_FAULT_HW_ERROR] = "hw-error",
	[VDEV_FAULT_STALL] = "stall",
	[VDEV_FAULT_LATENCY] = "latency",
	[VDEV_FAULT_T1_EDC] = "t1-edc",
	[VDEV_FAULT_REMOVE_MID_APDU] = "remove-mid-apdu",
	[VDEV_FAULT_DROP_CONNECTION] = "drop-connection",
	[VDEV_FAULT_PPS_WRONG] = "pps-wrong",
};

const char *vdev_fault_name(enum vdev_fault f)
{
	return (unsigned)f < VDEV_FAULT_COUNT ? fault_names[f] : "unknown";
}

int vdev_fault_from_name(const char *name)
{
	for (int i = 0; i < VDEV_FAULT_COUNT; i++)
		if (!strcmp(name, fault_names[i]))
			return i;
	return -EINVAL;
}
