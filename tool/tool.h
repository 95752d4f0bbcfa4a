/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared declarations of the uccid command-line tool: the subcommand table,
 * exit codes, hex input, and the text / JSON renderers of codec fields.
 */
#ifndef UCCID_TOOL_H
#define UCCID_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ccid/common.h"
#include "ccid/class_desc.h"

struct ccid_atr;

/* Exit codes, documented in uccid(1). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,   /* the operation failed (reader, card, I/O) */
	EXIT_USAGE = 2,    /* bad command line or bad input data */
};

struct tool_trace;
struct uccid_options;
struct uccid_reader;

struct tool_opts {
	bool json;
	bool verbose;
	const char *reader;
	const char *prog;
	FILE *trace_to;              /* --trace: stderr, uccid trace: stdout; NULL: no text trace */
	const char *pcap;            /* --pcap FILE */
	struct tool_trace *trace;    /* tool_trace_start's state, NULL when neither is asked */
	int wait_ms;                 /* --wait / --no-wait: for a reader another process has open */
};

struct tool_cmd {
	const char *name;
	int (*run)(const struct tool_opts *o, int argc, char **argv);
	const char *help;
};

int cmd_decode(const struct tool_opts *o, int argc, char **argv);
int cmd_list(const struct tool_opts *o, int argc, char **argv);
int cmd_bench(const struct tool_opts *o, int argc, char **argv);
int cmd_info(const struct tool_opts *o, int argc, char **argv);
int cmd_atr(const struct tool_opts *o, int argc, char **argv);
int cmd_apdu(const struct tool_opts *o, int argc, char **argv);
int cmd_status(const struct tool_opts *o, int argc, char **argv);
int cmd_power(const struct tool_opts *o, int argc, char **argv);
int cmd_watch(const struct tool_opts *o, int argc, char **argv);
int cmd_unlatch(const struct tool_opts *o, int argc, char **argv);
int cmd_selftest(const struct tool_opts *o, int argc, char **argv);
int cmd_trace(const struct tool_opts *o, int argc, char **argv);
int cmd_test(const struct tool_opts *o, int argc, char **argv);
int cmd_lock(const struct tool_opts *o, int argc, char **argv);
int cmd_unlock(const struct tool_opts *o, int argc, char **argv);
int cmd_locks(const struct tool_opts *o, int argc, char **argv);

/* A reader session of a subcommand (cmd_reader.c). */
struct tool_session {
	const struct tool_opts *o;
	struct uccid_reader *r;
	unsigned slot;
};
/* Open --reader (or the only reader), waiting --wait for another process; errors printed. */
int tool_open_session(const struct tool_opts *o, struct tool_session *s);
/* The exit status for a reader that could not be opened: a bad name is a usage error. */
int tool_open_failed(int rc);
/* Print why what failed (the reader's bError where it refused); returns EXIT_FAILED. */
int tool_fail(struct tool_session *s, const char *what, int rc);
/*
 * Is apdu[0..len) a command APDU of one of ISO 7816-4's cases (its length
 * agrees with its Lc)?  0, or -EINVAL with the reason in why.
 */
int tool_apdu_check(const uint8_t *apdu, size_t len, char *why, size_t cap);
/*
 * Close the session's reader; a close that fails (the power-off, or a
 * reader that went away meanwhile: its reason was logged) turns a
 * successful status into EXIT_FAILED, with the error printed.  Returns the
 * exit status.
 */
int tool_close(struct tool_session *s, int status);
/* Send one APDU and print the response with its status word's meaning; -1 on failure. */
int tool_run_apdu(struct tool_session *s, const uint8_t *apdu, size_t len, bool json, bool first);
/*
 * Run a script: an APDU in hex per line, '#' comments, 'reset [cold]',
 * 'lock [mechanical] [TIMEOUT_MS]', 'unlock DISPOSITION'.  Returns an exit status.
 */
int tool_run_script(struct tool_session *s, FILE *f, const char *file, bool json, int *count);
/* Check a script as tool_run_script would read it, sending nothing; EXIT_OK or EXIT_USAGE (printed). */
int tool_check_script(FILE *f, const char *file);
/* Unlock the session's slot with disposition, printing what was done; returns uccid_unlock's code. */
int tool_unlock(struct tool_session *s, int disposition, bool json);
/* Explain a failed uccid_lock: busy slots name their holder. */
void tool_lock_busy(struct tool_session *s, int rc);
/* The PC/SC name of a card error (SCARD_W_REMOVED_CARD, ...), for people who know those. */
const char *tool_scard_name(int rc);

/*
 * Frame tracing (trace.c), opt-in only: APDUs carry PINs.  Around the
 * subcommand: tool_trace_start (opens the --pcap FILE; returns 0 or the exit
 * status) and tool_trace_finish (returns the exit status).  Around each
 * uccid_open: tool_trace_setup puts the trace callback in the options,
 * tool_trace_opened writes the reader's descriptors into the capture.
 */
int tool_trace_start(struct tool_opts *o);
void tool_trace_setup(const struct tool_opts *o, struct uccid_options *uo);
void tool_trace_opened(const struct tool_opts *o, struct uccid_reader *r);
int tool_trace_finish(const struct tool_opts *o, int status);
/* One CCID message as the text trace shows it: a line (and with verbose the explanation) on f. */
void tool_trace_print(FILE *f, bool verbose, bool out, const uint8_t *msg, size_t len, double ms);

/* The only reader on the USB buses, for subcommands run without --reader; else an error listing them. */
int tool_default_reader(char *name, size_t cap);
/* "2026-11-24 10:00:00" (local time) for a holder's since; "" when unknown. */
void tool_format_since(int64_t since, char *buf, size_t len);
/* b as hex bytes separated by sep. */
void tool_print_hex(FILE *f, const uint8_t *b, size_t n, const char *sep);

/* Parse a --slot argument (0..255); on a bad one print why and return -EINVAL. */
int tool_slot_arg(const char *arg, unsigned *slot);

/* Parse a time in seconds (0..86400, fractions allowed) or "forever" (-1) into ms for option opt;
   on a bad one print why and return -EINVAL. */
int tool_seconds_arg(const char *opt, const char *arg, int *ms);

/* Print "uccid: <fmt>" to stderr. */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse hex from the words argv[0..argc) (spaces, colons, "0x" prefixes and
 * either case accepted; the words are joined).  Returns the byte count or a
 * negative errno; on a bad character *bad_pos is the character index in the
 * joined text and *bad_char the character.
 */
#define HEX_MAX_BYTES 70000
int hex_parse_words(int argc, char **argv, uint8_t *out, size_t cap, size_t *bad_pos, char *bad_char);
/* Read all of stdin as hex (for scripts: "... | uccid decode message -"). */
int hex_parse_stream(FILE *f, uint8_t *out, size_t cap, size_t *bad_pos, char *bad_char);

/* Renderer of a decoded object: text for people or one JSON object. */
struct out {
	FILE *f;
	bool json;
	bool value_open;   /* JSON: a value object is open, waiting for flags */
	int nflags;
	int nfields;
	int nfindings;
	bool in_findings;
};

void out_begin(struct out *o, FILE *f, bool json, const char *kind, const char *title,
	       const uint8_t *bytes, size_t len);
void out_field(void *ctx, const struct ccid_field *field);   /* a ccid_emit_fn */
void out_finding(void *ctx, enum ccid_severity sev, const char *field, size_t offset,
		 const char *text);                          /* a ccid_finding_fn */
/* A finding with what kind of defect it is and what was expected and found there (NULL: key left out). */
void out_finding_detail(struct out *o, enum ccid_severity sev, const char *field, size_t offset, const char *text,
			const char *defect, const char *expected, const char *found);
/* The findings of a leniently parsed ATR, one warning each (tool/atr_findings.c). */
void out_atr_findings(struct out *o, const struct ccid_atr *atr);
void out_end(struct out *o);

/* Report a decoder's refusal: text on stderr, and with --json an error object on stdout. */
void out_decode_error(bool json, const char *what, int err, const struct ccid_diag *diag,
		      const uint8_t *bytes, size_t len);

void json_string(FILE *f, const char *s);

#endif
