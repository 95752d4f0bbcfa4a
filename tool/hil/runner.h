/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parts of `uccid test` around the suite model: a ring of the last CCID
 * frames for failure reports, the results and their TAP and JUnit XML
 * renderings, and a client of the virtual reader's control socket.
 */
#ifndef UCCID_TOOL_RUNNER_H
#define UCCID_TOOL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- frame ring (runner_frames.c) ---- */

#define FRAME_RING_N 16            /* frames kept: a failing step and the ones before it */

struct frame_ring;

struct frame_ring *frame_ring_new(void);
void frame_ring_free(struct frame_ring *fr);
/* A uccid_trace_fn (ctx: the ring): keeps a copy; thread-safe. */
void frame_ring_push(void *ctx, bool out, const uint8_t *msg, size_t len);
/* Frames pushed so far (a step notes it when it starts). */
uint64_t frame_ring_count(struct frame_ring *fr);
/*
 * The frames kept, decoded by the trace's printer, each line prefixed by
 * prefix and cut at a readable width; frames from index since on (the
 * failing step's) are marked '*'.  Nothing if there are none.
 */
void frame_ring_report(struct frame_ring *fr, FILE *f, const char *prefix, uint64_t since, bool verbose);

/* ---- results (runner_report.c) ---- */

enum result_status {
	RESULT_PASS,
	RESULT_FAIL,
	RESULT_SKIP,
};

struct test_result {
	char *name;
	char *file;
	unsigned line;
	enum result_status status;
	char *message;               /* one line: why it failed or was skipped */
	char *detail;                /* the report: step, expectations, frames (may be NULL) */
	double seconds;
};

struct suite_result {
	char *name;
	char *file;
	char timestamp[32];          /* ISO 8601, local time, when it started */
	double seconds;
	struct test_result *tests;
	unsigned ntests, cap;
};

struct run_results {
	struct suite_result *suites;
	unsigned nsuites, cap;
	unsigned tap_next;           /* the next TAP test number */
	bool json;                   /* --json: a JSON object per line instead of TAP */
};

/* Start a suite's results; returns it, or NULL on no memory. */
struct suite_result *results_suite(struct run_results *rr, const char *name, const char *file);
/*
 * Record a test's result and print its TAP line (and the detail as '#'
 * lines when it failed, or always with verbose) on tap.  message and
 * detail are copied.  Returns 0 or -ENOMEM.
 */
int results_add(struct run_results *rr, struct suite_result *sr, FILE *tap, bool verbose, const char *name,
		const char *file, unsigned line, enum result_status status, const char *message, const char *detail,
		double seconds);
void results_free(struct run_results *rr);
/* Totals over every suite. */
void results_count(const struct run_results *rr, unsigned *tests, unsigned *failed, unsigned *skipped);

/*
 * The JUnit XML report (the schema Jenkins, GitLab and GitHub Actions read:
 * docs/hil.md): a <testsuite> per suite file, a <testcase> per test.
 * Returns 0, or a negative errno of creating or writing path.
 */
int results_write_junit(const struct run_results *rr, const char *path);

/* Escape text for XML 1.0: markup characters, control characters and bytes that are not UTF-8. */
void xml_escape(FILE *f, const char *s);

/* ---- the virtual reader's control socket (runner_vctl.c) ---- */

struct vctl_client;

/* Connect to the Unix socket path.  Returns 0 or a negative errno (why in err). */
int vctl_connect(const char *path, struct vctl_client **ret, char *err, size_t errlen);
void vctl_close(struct vctl_client *c);
/*
 * Send one command line and read the reply up to its "ok..." or "error:..."
 * line, within timeout_ms.  The reply (all of its lines, up to cap - 1
 * characters) is written to reply.  Returns 0 (ok), -EREMOTEIO (the reader
 * answered error:), -ETIMEDOUT, -EPIPE (the connection closed), -EMSGSIZE
 * (a reply larger than 64 KiB), or another negative errno.
 */
int vctl_command(struct vctl_client *c, const char *line, unsigned timeout_ms, char *reply, size_t cap);

#endif
