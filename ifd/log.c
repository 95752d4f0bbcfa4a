/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging the way pcscd drivers do: inside pcscd through its log_msg()
 * (so that the lines land in pcscd's log with its own level filter, -d for
 * debug), found at run time so that the driver also loads outside pcscd,
 * where it writes to stderr.  ifdLogLevel / UCCID_IFD_LOGLEVEL choose what
 * the driver emits at all, with libccid's bits: CRITICAL, INFO, COMM (CCID
 * frames and debug lines: APDUs carry PINs) and PERIODIC (pcscd's presence
 * checks, which without it stay out of the COMM output too, as libccid
 * keeps them).
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include <debuglog.h>

#include "ifd/ifd_priv.h"

typedef void (*log_msg_fn)(const int priority, const char *fmt, ...);

/*
 * The handler's configuration: defined at the bottom of the handler, where
 * the log level is read, and set once by config.c when pcscd loads the
 * driver (before any channel exists).
 */
struct ifd_config ifd_config = { .log_mask = IFD_LOGLEVEL_DEFAULT };

/* Inside a presence check (IFDHICCPresence, the polling function's wait). */
static __thread bool in_periodic;

void ifd_periodic(bool on)
{
	in_periodic = on;
}

static bool wanted(enum ifd_log_level level)
{
	uint32_t m = ifd_config.log_mask;

	switch (level) {
	case IFD_LOG_ERROR:
	case IFD_LOG_WARNING:
		return m & IFD_LOGLEVEL_CRITICAL;
	case IFD_LOG_INFO:
		return m & IFD_LOGLEVEL_INFO;
	case IFD_LOG_DEBUG:
		return (m & IFD_LOGLEVEL_COMM) && (!in_periodic || (m & IFD_LOGLEVEL_PERIODIC));
	case IFD_LOG_PERIODIC:
		return m & IFD_LOGLEVEL_PERIODIC;
	}
	return false;
}

static log_msg_fn sink;
static pthread_once_t sink_once = PTHREAD_ONCE_INIT;

static void find_sink(void)
{
	/* pcscd exports log_msg (debuglog.h); a plain program does not */
	sink = (log_msg_fn)dlsym(RTLD_DEFAULT, "log_msg");
}

static void emit(enum ifd_log_level level, const char *msg)
{
	static const int prio[] = { PCSC_LOG_ERROR, PCSC_LOG_INFO, PCSC_LOG_INFO, PCSC_LOG_DEBUG, PCSC_LOG_DEBUG };
	static const char *const tag[] = { "error", "warning", "info", "debug", "periodic" };

	pthread_once(&sink_once, find_sink);
	if (sink)
		sink(prio[level], "ifd-uccid %s: %s", tag[level], msg);
	else
		fprintf(stderr, "ifd-uccid %s: %s\n", tag[level], msg);
}

void ifd_log(enum ifd_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!wanted(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg);
}

void ifd_uccid_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	const char *name = ctx;
	static const enum ifd_log_level map[] = {
		[UCCID_LOG_ERROR] = IFD_LOG_ERROR,
		[UCCID_LOG_WARNING] = IFD_LOG_WARNING,
		[UCCID_LOG_INFO] = IFD_LOG_INFO,
		[UCCID_LOG_DEBUG] = IFD_LOG_DEBUG,
	};

	if ((unsigned)level >= sizeof(map) / sizeof(map[0]))
		level = UCCID_LOG_DEBUG;
	ifd_log(map[level], "%s: %s", name ? name : "?", msg);
}

void ifd_uccid_trace(void *ctx, bool out, const uint8_t *msg, size_t len)
{
	char hex[3 * 64 + 8];
	size_t n = len > 64 ? 64 : len, o = 0;

	/* installed only when ifdLogLevel has COMM; a presence check's need PERIODIC too */
	if (!wanted(IFD_LOG_DEBUG))
		return;
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%02X ", msg[i]);
	if (len > n)
		snprintf(hex + o, sizeof(hex) - o, "...");
	char line[sizeof(hex) + IFD_NAME_MAX + 32];

	snprintf(line, sizeof(line), "%s %s %zu: %s", ctx ? (const char *)ctx : "?", out ? "->" : "<-", len, hex);
	emit(IFD_LOG_DEBUG, line);
}
