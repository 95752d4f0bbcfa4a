/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The last FRAME_RING_N CCID messages of a `uccid test` run, kept from the
 * library's trace callback so that a failing step can be reported with the
 * frames that led to it.  The library may call from two threads (bulk-OUT,
 * bulk-IN): one mutex.  Frames are copied whole (the library bounds them by
 * dwMaxCCIDMessageLength) so that the decoder sees what the reader sent.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tool/hil/runner.h"
#include "tool/tool.h"
#include "util/clock.h"

#define FRAME_COPY_MAX (65536u + 10u)  /* the largest CCID message the library passes on */
#define LINE_WIDTH 200                 /* report lines are cut here: a 4 KiB APDU is one frame */

struct frame {
	bool out;
	double ms;
	size_t len;
	uint8_t *msg;
};

struct frame_ring {
	pthread_mutex_t lock;
	int64_t start_ns;            /* uccid_mono_ns() when the ring was made */
	struct frame f[FRAME_RING_N];
	uint64_t count;
};

struct frame_ring *frame_ring_new(void)
{
	struct frame_ring *fr = calloc(1, sizeof(*fr));

	if (!fr)
		return NULL;
	pthread_mutex_init(&fr->lock, NULL);
	fr->start_ns = uccid_mono_ns();
	return fr;
}

void frame_ring_free(struct frame_ring *fr)
{
	if (!fr)
		return;
	for (unsigned i = 0; i < FRAME_RING_N; i++)
		free(fr->f[i].msg);
	pthread_mutex_destroy(&fr->lock);
	free(fr);
}

void frame_ring_push(void *ctx, bool out, const uint8_t *msg, size_t len)
{
	struct frame_ring *fr = ctx;
	int64_t now_ns;
	struct frame *f;
	uint8_t *copy;

	if (len > FRAME_COPY_MAX)
		len = FRAME_COPY_MAX;
	now_ns = uccid_mono_ns();
	copy = malloc(len ? len : 1);
	pthread_mutex_lock(&fr->lock);
	f = &fr->f[fr->count % FRAME_RING_N];
	free(f->msg);
	f->msg = copy;
	f->len = copy ? len : 0;
	if (copy)
		memcpy(copy, msg, len);
	f->out = out;
	f->ms = (double)(now_ns - fr->start_ns) / 1e6;
	fr->count++;
	pthread_mutex_unlock(&fr->lock);
}

uint64_t frame_ring_count(struct frame_ring *fr)
{
	uint64_t n;

	pthread_mutex_lock(&fr->lock);
	n = fr->count;
	pthread_mutex_unlock(&fr->lock);
	return n;
}

/* Copy text to f line by line with the prefix, each cut at LINE_WIDTH. */
static void prefixed(FILE *f, const char *prefix, const char *mark, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		if (n > LINE_WIDTH)
			fprintf(f, "%s%s%.*s ... (%zu characters)\n", prefix, mark, LINE_WIDTH, text, n);
		else
			fprintf(f, "%s%s%.*s\n", prefix, mark, (int)n, text);
		text += n;
		if (*text)
			text++;
		mark = "  ";
	}
}

void frame_ring_report(struct frame_ring *fr, FILE *f, const char *prefix, uint64_t since, bool verbose)
{
	uint64_t first;

	pthread_mutex_lock(&fr->lock);
	first = fr->count > FRAME_RING_N ? fr->count - FRAME_RING_N : 0;
	if (fr->count > first)
		fprintf(f, "%sframes (the last %u; '*' marks the failing step's):\n", prefix,
			(unsigned)(fr->count - first));
	for (uint64_t i = first; i < fr->count; i++) {
		struct frame *fm = &fr->f[i % FRAME_RING_N];
		char *text = NULL;
		size_t tlen = 0;
		FILE *m = open_memstream(&text, &tlen);

		if (!m)
			break;
		tool_trace_print(m, verbose, fm->out, fm->msg, fm->len, fm->ms);
		fclose(m);
		prefixed(f, prefix, i >= since ? "* " : "  ", text);
		free(text);
	}
	pthread_mutex_unlock(&fr->lock);
}
