/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared declarations of the uccid command-line tool: the subcommand table,
 * exit codes, hex input, and the text / JSON renderers of codec fields.
 */
#ifndef UCCID_TOOL_H
#define UCCID_TOOL_H

#include <getopt.h>
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
	bool wait_given;             /* --wait or --no-wait was given (watch waits without limit otherwise) */
	bool passive;                /* open as a passive holder (watch): yield to another process's open */
	bool vendor_apdu;            /* --vendor-apdu: uccid_options.vendor_apdu_mode */
	bool quiet;                  /* log errors only (watch taking the reader back: its warnings and
					whom it waits for were said, at its first open and by "yielded to") */
};

/*
 * One option of a subcommand: its getopt entry and its help.  A command's
 * table is what it parses (tool_getopt_init), what "uccid help CMD" prints
 * and what "uccid help --options CMD" lists for scripts and the tests that
 * hold uccid(1) to it.
 */
struct tool_opt {
	const char *name;      /* the long name, without "--"; NULL ends a table */
	int has_arg;           /* no_argument or required_argument */
	int val;               /* what getopt_long returns for it */
	char short_name;       /* -X as well, or 0 */
	const char *arg;       /* the argument's name in the help ("N", "SECONDS"), NULL without one */
	const char *help;      /* one line */
};
#define TOOL_OPTS_MAX 16
/* The options several commands share, spelled once. */
#define TOOL_OPT_SLOT { "slot", required_argument, 's', 's', "N", "the slot: 0 is the first (see uccid info)" }
#define TOOL_OPT_JSON { "json", no_argument, 'j', 0, NULL, "JSON output, as --json before the command (docs/json.md)" }
#define TOOL_OPT_HELP { "help", no_argument, 'h', 'h', NULL, "this help" }
#define TOOL_OPT_END { NULL, 0, 0, 0, NULL, NULL }

/* A table turned into getopt_long's form. */
struct tool_getopt {
	struct option lo[TOOL_OPTS_MAX + 1];
	char shorts[3 * TOOL_OPTS_MAX + 2];
};
/* Fill g from opts and reset getopt (optind = 0; opterr = 0: the command reports with tool_bad_option). */
void tool_getopt_init(const struct tool_opt *opts, struct tool_getopt *g);
/* Report what getopt_long refused ('?' or ':'): the option named, with where to look; returns EXIT_USAGE. */
int tool_bad_option(const char *cmd, char **argv);

struct tool_cmd {
	const char *name;
	int (*run)(const struct tool_opts *o, int argc, char **argv);
	const char *help;          /* one line for the list of subcommands */
	const char *synopsis;      /* "uccid [-r NAME] atr [--slot N] [--json]" */
	const struct tool_opt *opts;
	const char *more;          /* lines after the options in its help (NULL: none) */
};

/* The subcommands, each defined in the file that runs it. */
extern const struct tool_cmd tool_cmd_decode, tool_cmd_list, tool_cmd_info, tool_cmd_atr, tool_cmd_apdu,
	tool_cmd_status, tool_cmd_reset, tool_cmd_poweroff, tool_cmd_eject, tool_cmd_unlatch, tool_cmd_watch,
	tool_cmd_lock, tool_cmd_unlock, tool_cmd_locks, tool_cmd_bench, tool_cmd_selftest, tool_cmd_test,
	tool_cmd_trace;

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
	char name[160];      /* the reader's name as opened (--reader, or the only one present) */
	unsigned lineno;     /* lines of the script run so far (lock: of stdin), for FILE:LINE in messages */
	bool json_lines;     /* --json as a stream (lock): each result an object on its own line */
};
/* Open --reader (or the only reader), waiting --wait for another process; errors printed. */
int tool_open_session(const struct tool_opts *o, struct tool_session *s);
/* The exit status for a reader that could not be opened: a bad name is a usage error. */
int tool_open_failed(int rc);
/* {"reader":NAME,"slot":N — the start of a result object about the session's slot, left open. */
void tool_json_slot(const struct tool_session *s);
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
/*
 * Make the session's card usable: a card an earlier session left powered
 * (apdu --leave, unlock leave) is taken over as it is (uccid_resume), any
 * other is powered on (the ATR into atr).  Returns 0, or EXIT_FAILED with
 * the error printed (negative: the caller returns it as the exit status).
 */
int tool_take_card(struct tool_session *s, uint8_t *atr, size_t cap);
/* Leave the card powered as it is for the next session (UCCID_LEAVE); -1 with the error printed. */
int tool_leave_card(struct tool_session *s);
/* Send one APDU and print the response with its status word's meaning; -1 on failure. */
int tool_run_apdu(struct tool_session *s, const uint8_t *apdu, size_t len, bool json, bool first);
/*
 * Run a script: an APDU in hex per line, '#' comments, 'reset [cold]',
 * 'lock [mechanical] [TIMEOUT_MS]', 'unlock DISPOSITION'.  Returns an exit status.
 */
int tool_run_script(struct tool_session *s, FILE *f, const char *file, bool json, int *count);
/* Check a script as tool_run_script would read it, sending nothing; EXIT_OK or EXIT_USAGE (printed). */
int tool_check_script(FILE *f, const char *file);
struct uccid_lock_info;
/* --json stream: the "locked" event line of a lock just taken. */
void tool_json_locked(const struct tool_session *s, const struct uccid_lock_info *li);
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
 * uccid_open: tool_trace_setup puts the text trace's callback in the
 * options and returns the transport wrap to open with (the --pcap capture,
 * tool/capture.h: every transfer; fn NULL when there is none).
 */
struct uccid_transport;
struct tool_wrap {
	struct uccid_transport *(*fn)(void *ctx, struct uccid_transport *inner);   /* a uccid_wrap_fn */
	void *ctx;
	void (*unwrap)(struct uccid_transport *t);      /* frees an unused wrapper, inner left open */
};
int tool_trace_start(struct tool_opts *o);
struct tool_wrap tool_trace_setup(const struct tool_opts *o, struct uccid_options *uo);
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

/*
 * Print "uccid: <fmt>" to stderr.  Under --json the message is also kept
 * for standard output, where tool_json_flush prints each kept one as
 * {"error":{"message":TEXT}} on a line of its own (between results, never
 * inside one).
 */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Keep tool_err's messages for standard output from now on (--json). */
void tool_json_errors(bool on);
/* Print the kept messages as error objects on standard output, and forget them. */
void tool_json_flush(void);

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
/* out_begin with extra, members ending in a comma ("\"a\":1,"), first in the JSON object */
void out_begin_with(struct out *o, FILE *f, bool json, const char *kind, const char *title,
		    const uint8_t *bytes, size_t len, const char *extra);
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
