/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver's readers, indexed by Lun >> 16 (pcscd gives reader context i
 * the Lun i << 16 and its extra slots i << 16 | j; reference §3).  pcscd
 * opens every slot of a multi-slot reader with its own CreateChannel call
 * on the same device name: the first opens the reader, the others share
 * it, and the handle is closed with the last CloseChannel.  A close waits
 * for the calls in progress on the reader (each bounded by the exchange
 * deadline) before closing the handle.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifd/ifd_priv.h"

pthread_mutex_t ifd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ifd_reader *readers[IFD_MAX_READERS];

int ifd_lun_split(unsigned long lun, unsigned *ret_reader, unsigned *ret_slot)
{
	unsigned long reader = lun >> 16, slot = lun & 0xFFFF;

	if (reader >= IFD_MAX_READERS || slot >= IFD_MAX_SLOTS)
		return -EINVAL;
	*ret_reader = (unsigned)reader;
	*ret_slot = (unsigned)slot;
	return 0;
}

static void free_reader(struct ifd_reader *rd)
{
	if (!rd)
		return;
	uccid_close(rd->r);
	pthread_cond_destroy(&rd->cond);
	free(rd);
}

static struct ifd_reader *new_reader(unsigned index, const char *name)
{
	struct ifd_reader *rd = calloc(1, sizeof(*rd));
	pthread_condattr_t ca;

	if (!rd)
		return NULL;
	rd->index = index;
	snprintf(rd->name, sizeof(rd->name), "%s", name);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rd->cond, &ca);
	pthread_condattr_destroy(&ca);
	return rd;
}

int ifd_table_open(unsigned long lun, const char *name)
{
	struct uccid_options opts = { 0 };
	struct ifd_reader *rd;
	unsigned index, slot;
	char err[256] = "";
	int rc;

	if (ifd_lun_split(lun, &index, &slot) < 0) {
		ifd_log(IFD_LOG_ERROR, "Lun 0x%lX is beyond this driver's %u readers of %u slots", lun,
			IFD_MAX_READERS, IFD_MAX_SLOTS);
		return -EINVAL;
	}
	if (!name || !*name || strlen(name) >= IFD_NAME_MAX)
		return -EINVAL;

	pthread_mutex_lock(&ifd_lock);
	rd = readers[index];
	if (rd) {
		/* another slot of the same reader: share it */
		if (rd->closing || rd->removed || strcmp(rd->name, name)) {
			pthread_mutex_unlock(&ifd_lock);
			ifd_log(IFD_LOG_ERROR, "Lun 0x%lX: reader index %u is in use by %s", lun, index, rd->name);
			return -EBUSY;
		}
		if (slot >= rd->info.nslots) {
			pthread_mutex_unlock(&ifd_lock);
			return -EINVAL;
		}
		rd->opens++;
		pthread_mutex_unlock(&ifd_lock);
		ifd_log(IFD_LOG_INFO, "Lun 0x%lX: slot %u of %s", lun, slot, name);
		return 0;
	}
	pthread_mutex_unlock(&ifd_lock);

	rd = new_reader(index, name);
	if (!rd)
		return -ENOMEM;
	opts.exchange_deadline_ms = ifd_config.deadline_ms;
	opts.power_deadline_ms = ifd_config.power_deadline_ms;
	opts.vendor_apdu_mode = ifd_config.options & IFD_OPTION_GEMPC_APDU;   /* GemPC Twin/Key: Escape 1F 02 */
	opts.log = ifd_uccid_log;
	opts.log_ctx = rd->name;
	opts.log_level = UCCID_LOG_DEBUG;
	if (ifd_config.log_mask & IFD_LOGLEVEL_COMM) {
		opts.trace = ifd_uccid_trace;
		opts.trace_ctx = rd->name;
	}
	rc = uccid_open(name, &opts, &rd->r, err, sizeof(err));
	if (rc < 0) {
		ifd_log(IFD_LOG_ERROR, "Lun 0x%lX: cannot open %s: %s", lun, name, err);
		goto fail;
	}
	rc = uccid_info(rd->r, &rd->info);
	if (rc >= 0)
		rc = uccid_class_descriptor(rd->r, rd->desc);
	if (rc < 0)
		goto fail;
	if (rd->info.nslots > IFD_MAX_SLOTS) {
		ifd_log(IFD_LOG_WARNING, "%s: %u slots, only the first %u are offered", name, rd->info.nslots,
			IFD_MAX_SLOTS);
		rd->info.nslots = IFD_MAX_SLOTS;
	}
	if (slot >= rd->info.nslots) {
		rc = -EINVAL;
		goto fail;
	}
	rd->opens = 1;
	ifd_options_open(rd);

	pthread_mutex_lock(&ifd_lock);
	if (readers[index]) {
		/* two opens of one index at once: pcscd does not do that */
		pthread_mutex_unlock(&ifd_lock);
		rc = -EBUSY;
		goto fail;
	}
	readers[index] = rd;
	pthread_mutex_unlock(&ifd_lock);
	ifd_log(IFD_LOG_INFO, "Lun 0x%lX: opened %s (%04X:%04X, %u slot%s, %s)", lun, name, rd->info.idVendor,
		rd->info.idProduct, rd->info.nslots, rd->info.nslots == 1 ? "" : "s", rd->info.path);
	return 0;
fail:
	free_reader(rd);
	return rc;
}

int ifd_table_close(unsigned long lun)
{
	struct ifd_reader *rd;
	unsigned index, slot;

	if (ifd_lun_split(lun, &index, &slot) < 0)
		return -ENODEV;
	pthread_mutex_lock(&ifd_lock);
	rd = readers[index];
	if (!rd || rd->closing) {
		pthread_mutex_unlock(&ifd_lock);
		return -ENODEV;
	}
	if (rd->opens > 1) {
		rd->opens--;
		pthread_mutex_unlock(&ifd_lock);
		return 0;
	}
	rd->closing = true;
	for (unsigned i = 0; i < IFD_MAX_SLOTS; i++)
		rd->stop[i] = true;
	pthread_cond_broadcast(&rd->cond);
	/* the event pump waits without a timeout: wake it (rd->r lives until we free it) */
	pthread_mutex_unlock(&ifd_lock);
	uccid_wake(rd->r);
	pthread_mutex_lock(&ifd_lock);
	/* every call in progress ends by its own deadline; a removed reader's at once */
	while (rd->refs)
		pthread_cond_wait(&rd->cond, &ifd_lock);
	readers[index] = NULL;
	pthread_mutex_unlock(&ifd_lock);
	ifd_log(IFD_LOG_INFO, "Lun 0x%lX: closed %s", lun, rd->name);
	free_reader(rd);
	return 0;
}

int ifd_get(unsigned long lun, struct ifd_reader **ret, unsigned *ret_slot)
{
	struct ifd_reader *rd;
	unsigned index, slot;
	int rc = 0;

	if (ifd_lun_split(lun, &index, &slot) < 0)
		return -ENODEV;
	pthread_mutex_lock(&ifd_lock);
	rd = readers[index];
	if (!rd || rd->closing || rd->removed)
		rc = -ENODEV;
	else if (slot >= rd->info.nslots)
		rc = -EINVAL;
	else
		rd->refs++;
	pthread_mutex_unlock(&ifd_lock);
	if (rc == 0) {
		*ret = rd;
		*ret_slot = slot;
	}
	return rc;
}

void ifd_put(struct ifd_reader *rd)
{
	pthread_mutex_lock(&ifd_lock);
	rd->refs--;
	if (rd->closing)
		pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&ifd_lock);
}

void ifd_mark_removed(struct ifd_reader *rd)
{
	bool was;

	pthread_mutex_lock(&ifd_lock);
	was = rd->removed;
	rd->removed = true;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&ifd_lock);
	if (!was) {
		ifd_log(IFD_LOG_ERROR, "%s: the reader is gone", rd->name);
		/* calls in progress on other threads end now, not at their deadline */
		uccid_cancel(rd->r);
	}
}

int ifd_note(struct ifd_reader *rd, int err)
{
	if (err == -ENODEV)
		ifd_mark_removed(rd);
	return err;
}

void ifd_set_atr(struct ifd_reader *rd, unsigned slot, const uint8_t *atr, size_t len)
{
	if (len > MAX_ATR_SIZE)
		len = MAX_ATR_SIZE;
	pthread_mutex_lock(&ifd_lock);
	if (len)
		memcpy(rd->atr[slot], atr, len);
	rd->atr_len[slot] = len;
	pthread_mutex_unlock(&ifd_lock);
}

size_t ifd_get_atr(struct ifd_reader *rd, unsigned slot, uint8_t *buf, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&ifd_lock);
	n = rd->atr_len[slot];
	if (n <= cap)
		memcpy(buf, rd->atr[slot], n);
	pthread_mutex_unlock(&ifd_lock);
	return n;
}

void ifd_table_stop(unsigned long lun)
{
	struct ifd_reader *rd;
	unsigned index, slot;

	if (ifd_lun_split(lun, &index, &slot) < 0)
		return;
	pthread_mutex_lock(&ifd_lock);
	rd = readers[index];
	/* removed or closing readers too: their pollers are the ones to end */
	if (rd) {
		rd->stop[slot] = true;
		pthread_cond_broadcast(&rd->cond);
		/* the pump waits in libuccid without a timeout: wake it, holding a
		   reference (ifd_lock is not held across a libuccid call) */
		if (rd->pumping)
			rd->refs++;
		else
			rd = NULL;
	}
	pthread_mutex_unlock(&ifd_lock);
	if (rd) {
		uccid_wake(rd->r);
		ifd_put(rd);
	}
}
