/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hardware-in-the-loop suites for `uccid test` (format: docs/hil.md): the
 * parsed model of one suite file, the parser, and the pure helpers the
 * runner checks responses with (status-word specs, data patterns, byte
 * slices, variable expansion).  No I/O here: the parser takes the file's
 * text and names every error "FILE:LINE: what was wrong".
 */
#ifndef UCCID_TOOL_SUITE_H
#define UCCID_TOOL_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on what a suite file may ask for; each refusal names the limit. */
#define SUITE_FILE_MAX (4u << 20)      /* bytes in one suite file */
#define SUITE_LINE_MAX 140000u         /* characters in a line: a 65535-byte APDU in hex fits */
#define SUITE_STEPS_MAX 10000u
#define SUITE_READERS_MAX 16u
#define SUITE_NAME_MAX 64u             /* suite, test, alias and variable names */
#define SUITE_SW_ALTS_MAX 8u
#define SUITE_ERRS_MAX 8u
#define SUITE_DURATION_MAX_MS (24u * 3600u * 1000u)
#define SUITE_VAR_MAX 140000u          /* characters in a variable's value */
#define SUITE_VARS_MAX 64u

enum suite_op {
	SOP_POWER,       /* iarg: enum uccid_voltage */
	SOP_RESET,       /* iarg: 1 cold, 0 warm */
	SOP_POWEROFF,
	SOP_APDU,        /* arg: APDU hex (variables unexpanded) */
	SOP_ESCAPE,      /* arg: data hex */
	SOP_STATUS,      /* iarg: SUITE_ST_* wanted, mask: which of them were given */
	SOP_WAIT_EVENT,  /* iarg: SUITE_EV_* */
	SOP_LOCK,        /* iarg: flags (UCCID_LOCK_MECHANICAL); try_once */
	SOP_UNLOCK,      /* iarg: enum uccid_disposition */
	SOP_SLEEP,       /* timeout_ms: how long */
	SOP_VREADER,     /* arg: the control-socket command line */
	SOP_SET,         /* name = arg (an expression: SOURCE[A:B] or hex) */
	SOP_USE,         /* iarg: reader index */
	SOP_SLOT,        /* iarg: slot */
	SOP_LOG,         /* arg: text */
};

#define SUITE_ST_PRESENT 0x1
#define SUITE_ST_POWERED 0x2

enum suite_event {
	SUITE_EV_INSERTED,     /* the order of enum uccid_event_type */
	SUITE_EV_REMOVED,
	SUITE_EV_HARDWARE_ERROR,
	SUITE_EV_READER_REMOVED,
	SUITE_EV_NONE,         /* no event for the slot within the step's time */
};

/* One alternative of an SW spec: the SW matches when (sw & mask) == value. */
struct suite_sw {
	uint16_t value, mask;
};

struct suite_step {
	enum suite_op op;
	unsigned line;
	char *text;                  /* the line as written, trimmed, for reports */
	char *arg;
	char *name;                  /* SOP_SET: the variable */
	int iarg;
	unsigned mask;
	bool try_once;               /* SOP_LOCK try: do not wait */
	unsigned timeout_ms;         /* 0: the suite's step timeout */
	/* expectations */
	struct suite_sw sw[SUITE_SW_ALTS_MAX];
	unsigned nsw;                /* 0: no SW check (escape, power ...); apdu defaults to 9000 */
	char *pattern;               /* expect-data / expect-atr, variables unexpanded; NULL: none */
	long expect_len;             /* -1: none */
	int errs[SUITE_ERRS_MAX];    /* expect-error: positive errno values; ANY below */
	unsigned nerrs;
	int expect_done;             /* -1: none, else enum uccid_done */
	unsigned test;               /* index of its test */
};

#define SUITE_ERR_ANY (-1)

/* A test point: a `test NAME` block, or one step written outside any block. */
struct suite_test {
	char *name;
	unsigned line;
	unsigned first, count;       /* its steps */
};

struct suite_reader {
	char alias[SUITE_NAME_MAX + 1];
	char *name;                  /* as declared; NULL: the runner must bind it */
	unsigned line;
};

struct suite {
	char *file;
	char *name;                  /* `suite NAME`, else the file's base name without extension */
	unsigned suite_timeout_ms;   /* 0: none given */
	unsigned step_timeout_ms;    /* 0: none given */
	char *control;               /* the virtual reader's control socket, or NULL */
	struct suite_reader readers[SUITE_READERS_MAX];
	unsigned nreaders;           /* 0: one implicit reader "default" */
	struct suite_step *steps;
	unsigned nsteps;
	struct suite_test *tests;
	unsigned ntests;
};

/*
 * Parse the text of a suite file (len bytes, not NUL-terminated).  file
 * names it in errors and reports.  Returns 0 with *ret (free with
 * suite_free), -EINVAL with "FILE:LINE: message" in err, or -ENOMEM.
 */
int suite_parse(const char *file, const char *text, size_t len, struct suite **ret, char *err, size_t errlen);
void suite_free(struct suite *s);

/*
 * An SW spec: alternatives separated by '|', each 4 hex digits where '?' is
 * any nibble ("61??"), optionally "/MASK" ("9000/FFF0"), or "any".
 * Returns the number of alternatives or -EINVAL.
 */
int suite_parse_sw(const char *text, struct suite_sw *ret, unsigned cap);
bool suite_sw_match(const struct suite_sw *alts, unsigned n, uint16_t sw);
/* "61?? or 9000/FFF0" for reports */
void suite_sw_format(const struct suite_sw *alts, unsigned n, char *buf, size_t cap);

/*
 * Match data against a pattern: "/REGEX/" (POSIX extended, searched in the
 * data as uppercase hex without spaces), or hex where '?' is any nibble,
 * ".." any byte and '*' any run of bytes, spaces ignored; the hex form must
 * match the whole data.  Returns 1 match, 0 no match, -EINVAL bad pattern
 * (why in err).
 */
int suite_match_data(const char *pattern, const uint8_t *data, size_t len, char *err, size_t errlen);

/*
 * A byte slice "[A:B]", "[A:]", "[:B]", "[A]" or "" (all) of a len-byte
 * value; negative indexes count from the end.  Returns 0 with *off and *n,
 * -EINVAL (not a slice) or -ERANGE (outside the value).
 */
int suite_slice(const char *text, size_t len, size_t *off, size_t *n);

/* Variables: name -> value (text), for ${NAME} in step arguments. */
struct suite_vars {
	char *names[SUITE_VARS_MAX];
	char *values[SUITE_VARS_MAX];
	unsigned n;
};

/* Set (copy) a variable; -EINVAL bad name or value too long, -ENOSPC, -ENOMEM. */
int suite_var_set(struct suite_vars *v, const char *name, const char *value);
const char *suite_var_get(const struct suite_vars *v, const char *name);
void suite_vars_clear(struct suite_vars *v);

/*
 * Replace each ${NAME} in text.  Returns a new string (free), or NULL with
 * the reason in err (an undefined variable, a result longer than
 * SUITE_LINE_MAX, no memory).
 */
char *suite_expand(const struct suite_vars *v, const char *text, char *err, size_t errlen);

/* Durations: "250ms", "5s", "2m", or a number of seconds.  Returns 0 or -EINVAL. */
int suite_parse_duration(const char *text, unsigned *ret_ms);

/* The errno named "ETIMEDOUT", ...; -EINVAL if unknown.  And back (NULL if not known). */
int suite_errno_parse(const char *name);
const char *suite_errno_name(int err);

/* Decode hex (spaces allowed) into out.  Returns the length, or -EINVAL / -ENOBUFS. */
int suite_hex(const char *text, uint8_t *out, size_t cap);

#endif
