/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parser of `uccid test` suite files (docs/hil.md): one directive or
 * step per line, '#' starts a comment, words separated by blanks.  A suite
 * is checked whole before anything runs, so a typo on line 90 does not cost
 * a half-run rig: every error is "FILE:LINE: what was wrong".  Arguments
 * that hold ${NAME} are checked again when they run, once expanded.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/hil/suite.h"
#include "session/uccid.h"

/* Clauses a step may carry after its own arguments. */
enum {
	C_EXPECT = 0x01,       /* expect SW */
	C_DATA = 0x02,         /* expect-data PATTERN */
	C_ATR = 0x04,          /* expect-atr PATTERN */
	C_LEN = 0x08,          /* expect-len N */
	C_ERR = 0x10,          /* expect-error ENAME[|ENAME...] */
	C_TIMEOUT = 0x20,      /* timeout DURATION */
	C_DONE = 0x40,         /* expect-done WHAT */
};

static const char *const clause_names[] = { "expect", "expect-data", "expect-atr", "expect-len",
					     "expect-error", "timeout", "expect-done" };

struct parser {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
	struct suite *s;
	bool in_block;
	unsigned cap_steps, cap_tests;
	bool saw_name, saw_stimeout, saw_ttimeout;
	unsigned use_reader;           /* SOP_USE seen for the readers declared so far */
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);

	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void suite_free(struct suite *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nsteps; i++) {
		free(s->steps[i].text);
		free(s->steps[i].arg);
		free(s->steps[i].name);
		free(s->steps[i].pattern);
	}
	for (unsigned i = 0; i < s->ntests; i++)
		free(s->tests[i].name);
	for (unsigned i = 0; i < s->nreaders; i++)
		free(s->readers[i].name);
	free(s->steps);
	free(s->tests);
	free(s->file);
	free(s->name);
	free(s->control);
	free(s);
}

/* Words [from, to) joined with sep; NULL on no memory. */
static char *join(char **w, unsigned from, unsigned to, const char *sep)
{
	size_t len = 1, sl = strlen(sep);
	char *out;

	for (unsigned i = from; i < to; i++)
		len += strlen(w[i]) + sl;
	if (!(out = malloc(len)))
		return NULL;
	out[0] = 0;
	for (size_t i = from, n = 0; i < to; i++) {
		size_t wl = strlen(w[i]);

		if (i > from) {
			memcpy(out + n, sep, sl);
			n += sl;
		}
		memcpy(out + n, w[i], wl + 1);
		n += wl;
	}
	return out;
}

static int clause_of(const char *w)
{
	for (unsigned i = 0; i < sizeof(clause_names) / sizeof(clause_names[0]); i++)
		if (!strcmp(w, clause_names[i]))
			return 1 << i;
	return 0;
}

/* The first clause keyword at or after i, or n. */
static unsigned next_clause(char **w, unsigned i, unsigned n)
{
	while (i < n && !clause_of(w[i]))
		i++;
	return i;
}

static const char *const done_names[] = { "nothing", "reset", "unpowered", "ejected", "latched" };

static int parse_clauses(struct parser *p, struct suite_step *st, char **w, unsigned i, unsigned n, unsigned allowed)
{
	unsigned seen = 0;

	while (i < n) {
		int c = clause_of(w[i]);
		const char *kw = w[i];
		unsigned end;

		if (!c)
			return perr(p, "unexpected '%s'", w[i]);
		if (!(allowed & (unsigned)c))
			return perr(p, "'%s' does not apply to this step", kw);
		if (seen & (unsigned)c)
			return perr(p, "'%s' given twice", kw);
		seen |= (unsigned)c;
		end = next_clause(w, i + 1, n);
		if (end == i + 1)
			return perr(p, "'%s' needs a value", kw);
		if (c != C_DATA && c != C_ATR && end != i + 2)
			return perr(p, "'%s' takes one value, not '%s %s'", kw, w[i + 1], w[i + 2]);
		switch (c) {
		case C_EXPECT: {
			int k = suite_parse_sw(w[i + 1], st->sw, SUITE_SW_ALTS_MAX);

			if (k < 0)
				return perr(p, "expect: '%s' is not a status word: 4 hex digits, '?' for any digit, "
					    "an optional /MASK, alternatives with '|', or 'any'", w[i + 1]);
			st->nsw = (unsigned)k;
			break;
		}
		case C_DATA:
		case C_ATR: {
			char why[160];

			if (!(st->pattern = join(w, i + 1, end, " ")))
				return -ENOMEM;
			if (!strstr(st->pattern, "${") && suite_match_data(st->pattern, NULL, 0, why, sizeof(why)) < 0)
				return perr(p, "%s: %s", kw, why);
			break;
		}
		case C_LEN: {
			char *e;
			long v = strtol(w[i + 1], &e, 10);

			if (*e || v < 0 || v > 65538 || w[i + 1][0] == '-' || !w[i + 1][0])
				return perr(p, "expect-len: '%s' is not a length from 0 to 65538", w[i + 1]);
			st->expect_len = v;
			break;
		}
		case C_ERR:
			if (!strcmp(w[i + 1], "any")) {
				st->errs[0] = SUITE_ERR_ANY;
				st->nerrs = 1;
				break;
			}
			for (char *q = w[i + 1]; q;) {
				char *bar = strchr(q, '|');
				int e;

				if (bar)
					*bar = 0;
				if ((e = suite_errno_parse(q)) < 0)
					return perr(p, "expect-error: '%s' is not an error name (ETIMEDOUT, EIO, "
						    "ENOMEDIUM, EPROTO, ENODEV, EBUSY, ... or any)", q);
				if (st->nerrs >= SUITE_ERRS_MAX)
					return perr(p, "expect-error: more than %u alternatives", SUITE_ERRS_MAX);
				st->errs[st->nerrs++] = e;
				q = bar ? bar + 1 : NULL;
			}
			break;
		case C_TIMEOUT:
			if (suite_parse_duration(w[i + 1], &st->timeout_ms) < 0 || !st->timeout_ms)
				return perr(p, "timeout: '%s' is not a duration (250ms, 5s, 2m; at most 24 hours)",
					    w[i + 1]);
			break;
		case C_DONE: {
			unsigned k;

			for (k = 0; k < sizeof(done_names) / sizeof(done_names[0]); k++)
				if (!strcmp(w[i + 1], done_names[k]))
					break;
			if (k == sizeof(done_names) / sizeof(done_names[0]))
				return perr(p, "expect-done: '%s' is not nothing, reset, unpowered, ejected or latched",
					    w[i + 1]);
			st->expect_done = (int)k;
			break;
		}
		}
		i = end;
	}
	if (st->nerrs && (seen & (C_EXPECT | C_DATA | C_ATR | C_LEN | C_DONE)))
		return perr(p, "expect-error cannot be combined with expectations on a result");
	return 0;
}

/* Hex arguments: checked now unless they hold variables. */
static int check_hex(struct parser *p, const char *what, const char *hex, size_t min)
{
	static uint8_t buf[65544];
	int n;

	if (strstr(hex, "${"))
		return 0;
	n = suite_hex(hex, buf, sizeof(buf));
	if (n == -ENOBUFS)
		return perr(p, "%s: longer than %zu bytes", what, sizeof(buf));
	if (n < 0)
		return perr(p, "%s: '%s' is not hex", what, hex);
	if ((size_t)n < min)
		return perr(p, "%s: %d byte%s; at least %zu needed", what, n, n == 1 ? "" : "s", min);
	return 0;
}

static int add_test(struct parser *p, const char *name)
{
	struct suite *s = p->s;

	if (s->ntests == p->cap_tests) {
		unsigned cap = p->cap_tests ? p->cap_tests * 2 : 16;
		struct suite_test *t = realloc(s->tests, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		s->tests = t;
		p->cap_tests = cap;
	}
	s->tests[s->ntests] = (struct suite_test){ .line = p->line, .first = s->nsteps };
	if (!(s->tests[s->ntests].name = strdup(name)))
		return -ENOMEM;
	s->ntests++;
	return 0;
}

static struct suite_step *add_step(struct parser *p, enum suite_op op, const char *text, int *rc)
{
	struct suite *s = p->s;
	struct suite_step *st;

	*rc = -ENOMEM;
	if (s->nsteps >= SUITE_STEPS_MAX) {
		*rc = perr(p, "more than %u steps", SUITE_STEPS_MAX);
		return NULL;
	}
	if (s->nsteps == p->cap_steps) {
		unsigned cap = p->cap_steps ? p->cap_steps * 2 : 32;

		if (!(st = realloc(s->steps, cap * sizeof(*st))))
			return NULL;
		s->steps = st;
		p->cap_steps = cap;
	}
	/* a step outside a `test` block is a test of its own; use / slot / log only set the scene */
	if (!p->in_block && op != SOP_USE && op != SOP_SLOT && op != SOP_LOG && add_test(p, text) < 0)
		return NULL;
	st = &s->steps[s->nsteps];
	*st = (struct suite_step){ .op = op, .line = p->line, .expect_len = -1, .expect_done = -1,
				   .test = s->ntests ? s->ntests - 1 : 0 };
	if (!(st->text = strdup(text)))
		return NULL;
	s->nsteps++;
	if (s->ntests && (p->in_block || (op != SOP_USE && op != SOP_SLOT && op != SOP_LOG)))
		s->tests[s->ntests - 1].count = s->nsteps - s->tests[s->ntests - 1].first;
	*rc = 0;
	return st;
}

static int find_reader(const struct suite *s, const char *alias)
{
	for (unsigned i = 0; i < s->nreaders; i++)
		if (!strcmp(s->readers[i].alias, alias))
			return (int)i;
	return -1;
}

static bool valid_name(const char *w)
{
	size_t n = strlen(w);

	if (!n || n > SUITE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = w[i];

		if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		      || (i && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static int parse_duration_arg(struct parser *p, const char *kw, const char *w, unsigned *ret, bool zero_ok)
{
	if (suite_parse_duration(w, ret) < 0 || (!zero_ok && !*ret))
		return perr(p, "%s: '%s' is not a duration (250ms, 5s, 2m; at most 24 hours)", kw, w);
	return 0;
}

static int directive(struct parser *p, char **w, unsigned n, const char *text)
{
	struct suite *s = p->s;
	const char *kw = w[0];
	struct suite_step *st = NULL;
	int rc = 0;

	if (!strcmp(kw, "suite")) {
		if (p->saw_name)
			return perr(p, "the suite is named twice");
		if (n < 2)
			return perr(p, "suite: give the suite a name");
		free(s->name);
		if (!(s->name = join(w, 1, n, " ")))
			return -ENOMEM;
		p->saw_name = true;
		return 0;
	}
	if (!strcmp(kw, "suite-timeout") || !strcmp(kw, "step-timeout")) {
		bool suite = kw[1] == 'u';
		bool *seen = suite ? &p->saw_stimeout : &p->saw_ttimeout;

		if (*seen)
			return perr(p, "%s given twice", kw);
		if (n != 2)
			return perr(p, "%s takes one duration", kw);
		*seen = true;
		return parse_duration_arg(p, kw, w[1], suite ? &s->suite_timeout_ms : &s->step_timeout_ms, false);
	}
	if (!strcmp(kw, "control")) {
		if (s->control)
			return perr(p, "control given twice");
		if (n != 2)
			return perr(p, "control takes the path of the virtual reader's control socket");
		return (s->control = strdup(w[1])) ? 0 : -ENOMEM;
	}
	if (!strcmp(kw, "reader")) {
		struct suite_reader *r;

		if (n < 2 || n > 3)
			return perr(p, "reader ALIAS [NAME]: a short alias, then the reader's name (usb:..., usbip://...)"
				       " unless the runner binds it");
		if (!valid_name(w[1]))
			return perr(p, "reader: '%s' is not an alias (letters, digits, '-', '_')", w[1]);
		if (find_reader(s, w[1]) >= 0)
			return perr(p, "reader '%s' declared twice", w[1]);
		if (s->nreaders >= SUITE_READERS_MAX)
			return perr(p, "more than %u readers", SUITE_READERS_MAX);
		r = &s->readers[s->nreaders++];
		snprintf(r->alias, sizeof(r->alias), "%s", w[1]);
		r->line = p->line;
		if (n == 3 && !(r->name = strdup(w[2])))
			return -ENOMEM;
		return 0;
	}
	if (!strcmp(kw, "test")) {
		if (n < 2)
			return perr(p, "test: give the test a name");
		char *name = join(w, 1, n, " ");

		if (!name)
			return -ENOMEM;
		rc = add_test(p, name);
		free(name);
		p->in_block = true;
		return rc;
	}

	if (!strcmp(kw, "power")) {
		static const char *const volts[] = { "auto", "5V", "3V", "1.8V" };
		unsigned i = 1;

		if (!(st = add_step(p, SOP_POWER, text, &rc)))
			return rc;
		if (n > 1 && !clause_of(w[1])) {
			for (st->iarg = 0; st->iarg < 4 && strcmp(w[1], volts[st->iarg]); st->iarg++)
				;
			if (st->iarg == 4)
				return perr(p, "power: '%s' is not auto, 5V, 3V or 1.8V", w[1]);
			i = 2;
		}
		return parse_clauses(p, st, w, i, n, C_ATR | C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "reset")) {
		unsigned i = 1;

		if (!(st = add_step(p, SOP_RESET, text, &rc)))
			return rc;
		if (n > 1 && !clause_of(w[1])) {
			if (strcmp(w[1], "warm") && strcmp(w[1], "cold"))
				return perr(p, "reset: '%s' is not warm or cold", w[1]);
			st->iarg = !strcmp(w[1], "cold");
			i = 2;
		}
		return parse_clauses(p, st, w, i, n, C_ATR | C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "poweroff")) {
		if (!(st = add_step(p, SOP_POWEROFF, text, &rc)))
			return rc;
		return parse_clauses(p, st, w, 1, n, C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "apdu") || !strcmp(kw, "escape")) {
		bool apdu = kw[0] == 'a';
		unsigned end = next_clause(w, 1, n);

		if (!(st = add_step(p, apdu ? SOP_APDU : SOP_ESCAPE, text, &rc)))
			return rc;
		if (end == 1)
			return perr(p, "%s: give the %s in hex", kw, apdu ? "command APDU" : "escape data");
		if (!(st->arg = join(w, 1, end, "")))
			return -ENOMEM;
		if ((rc = check_hex(p, kw, st->arg, apdu ? 4 : 0)) < 0)
			return rc;
		if ((rc = parse_clauses(p, st, w, end, n,
					(apdu ? C_EXPECT : 0) | C_DATA | C_LEN | C_ERR | C_TIMEOUT)) < 0)
			return rc;
		if (apdu && !st->nsw && !st->nerrs) {
			st->sw[0] = (struct suite_sw){ 0x9000, 0xFFFF };   /* success unless said otherwise */
			st->nsw = 1;
		}
		return 0;
	}
	if (!strcmp(kw, "status")) {
		unsigned end = next_clause(w, 1, n);

		if (!(st = add_step(p, SOP_STATUS, text, &rc)))
			return rc;
		if (end == 1)
			return perr(p, "status: say what is expected: present, absent, powered, unpowered");
		for (unsigned i = 1; i < end; i++) {
			static const struct {
				const char *w;
				unsigned bit, val;
			} st_words[] = { { "present", SUITE_ST_PRESENT, SUITE_ST_PRESENT }, { "absent", SUITE_ST_PRESENT, 0 },
					 { "powered", SUITE_ST_POWERED, SUITE_ST_POWERED }, { "unpowered", SUITE_ST_POWERED, 0 } };
			unsigned k;

			for (k = 0; k < 4 && strcmp(w[i], st_words[k].w); k++)
				;
			if (k == 4)
				return perr(p, "status: '%s' is not present, absent, powered or unpowered", w[i]);
			if (st->mask & st_words[k].bit)
				return perr(p, "status: '%s' contradicts or repeats an earlier word", w[i]);
			st->mask |= st_words[k].bit;
			st->iarg |= (int)st_words[k].val;
		}
		return parse_clauses(p, st, w, end, n, C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "wait-event")) {
		static const char *const evs[] = { "inserted", "removed", "hardware-error", "reader-removed", "none" };
		unsigned i = 2;

		if (!(st = add_step(p, SOP_WAIT_EVENT, text, &rc)))
			return rc;
		if (n < 2)
			return perr(p, "wait-event: give the event: inserted, removed, hardware-error, reader-removed, none");
		for (st->iarg = 0; st->iarg < 5 && strcmp(w[1], evs[st->iarg]); st->iarg++)
			;
		if (st->iarg == 5)
			return perr(p, "wait-event: '%s' is not inserted, removed, hardware-error, reader-removed or none",
				    w[1]);
		if (n > 2 && !clause_of(w[2])) {
			if ((rc = parse_duration_arg(p, "wait-event", w[2], &st->timeout_ms, false)) < 0)
				return rc;
			i = 3;
		}
		if ((rc = parse_clauses(p, st, w, i, n, C_TIMEOUT | C_ERR)) < 0)
			return rc;
		return 0;
	}
	if (!strcmp(kw, "lock")) {
		unsigned end = next_clause(w, 1, n);

		if (!(st = add_step(p, SOP_LOCK, text, &rc)))
			return rc;
		for (unsigned i = 1; i < end; i++) {
			if (!strcmp(w[i], "try") && !st->try_once)
				st->try_once = true;
			else if (!strcmp(w[i], "mechanical") && !st->iarg)
				st->iarg = UCCID_LOCK_MECHANICAL;
			else
				return perr(p, "lock: '%s' is not 'try' or 'mechanical'", w[i]);
		}
		return parse_clauses(p, st, w, end, n, C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "unlock")) {
		/* indexed by the value (PC/SC's numbering); the parser stays free of libuccid */
		static const char *const disps[] = {
			[UCCID_LEAVE] = "leave", [UCCID_RESET] = "reset",
			[UCCID_UNPOWER] = "unpower", [UCCID_EJECT] = "eject",
		};

		if (!(st = add_step(p, SOP_UNLOCK, text, &rc)))
			return rc;
		if (n < 2 || clause_of(w[1]))
			return perr(p, "unlock: give the disposition: leave, reset, unpower or eject");
		for (st->iarg = UCCID_LEAVE; st->iarg <= UCCID_EJECT && strcmp(w[1], disps[st->iarg]); st->iarg++)
			;
		if (st->iarg > UCCID_EJECT)
			return perr(p, "unlock: '%s' is not leave, reset, unpower or eject", w[1]);
		return parse_clauses(p, st, w, 2, n, C_DONE | C_ERR | C_TIMEOUT);
	}
	if (!strcmp(kw, "sleep")) {
		if (!(st = add_step(p, SOP_SLEEP, text, &rc)))
			return rc;
		if (n != 2)
			return perr(p, "sleep takes one duration");
		return parse_duration_arg(p, "sleep", w[1], &st->timeout_ms, true);
	}
	if (!strcmp(kw, "vreader")) {
		if (!(st = add_step(p, SOP_VREADER, text, &rc)))
			return rc;
		if (n < 2)
			return perr(p, "vreader: give the control command (insert, remove, fault NAME, ...)");
		return (st->arg = join(w, 1, n, " ")) ? 0 : -ENOMEM;
	}
	if (!strcmp(kw, "set")) {
		if (!(st = add_step(p, SOP_SET, text, &rc)))
			return rc;
		if (n < 4 || strcmp(w[2], "="))
			return perr(p, "set NAME = data[A:B] | atr[A:B] | sw | HEX");
		if (!valid_name(w[1]) || strchr(w[1], '-'))
			return perr(p, "set: '%s' is not a variable name (letters, digits, '_')", w[1]);
		if (!(st->name = strdup(w[1])) || !(st->arg = join(w, 3, n, "")))
			return -ENOMEM;
		for (unsigned k = 0; k < 3; k++) {
			static const char *const srcs[] = { "data", "atr", "sw" };
			size_t sl = strlen(srcs[k]), off, cnt;

			if (strncmp(st->arg, srcs[k], sl))
				continue;
			if (suite_slice(st->arg + sl, (size_t)1 << 30, &off, &cnt) == -EINVAL)
				return perr(p, "set: '%s' is not %s, %s[A:B], %s[A:] or %s[A]", st->arg, srcs[k],
					    srcs[k], srcs[k], srcs[k]);
			return 0;
		}
		return check_hex(p, "set", st->arg, 0);
	}
	if (!strcmp(kw, "use")) {
		int r;

		if (n != 2)
			return perr(p, "use takes a reader alias");
		if ((r = find_reader(s, w[1])) < 0)
			return perr(p, "use: no reader '%s' declared above", w[1]);
		if (!(st = add_step(p, SOP_USE, text, &rc)))
			return rc;
		st->iarg = r;
		return 0;
	}
	if (!strcmp(kw, "slot")) {
		char *e;
		long v = n == 2 ? strtol(w[1], &e, 10) : -1;

		if (n != 2 || *e || v < 0 || v > 255 || !w[1][0] || w[1][0] == '-')
			return perr(p, "slot takes a slot number from 0 to 255");
		if (!(st = add_step(p, SOP_SLOT, text, &rc)))
			return rc;
		st->iarg = (int)v;
		return 0;
	}
	if (!strcmp(kw, "log")) {
		if (!(st = add_step(p, SOP_LOG, text, &rc)))
			return rc;
		return (st->arg = join(w, 1, n, " ")) ? 0 : -ENOMEM;
	}
	return perr(p, "unknown directive '%s'", kw);
}

/* Split a line (modified in place) into words; a word starting with '#' begins a comment. */
static unsigned split(char *line, char **w, unsigned cap)
{
	unsigned n = 0;
	char *q = line;

	for (;;) {
		q += strspn(q, " \t");
		if (!*q || *q == '#' || n >= cap)
			return n;
		w[n++] = q;
		q += strcspn(q, " \t");
		if (*q)
			*q++ = 0;
	}
}

static char *base_name(const char *file)
{
	const char *b = strrchr(file, '/');
	size_t n;

	b = b ? b + 1 : file;
	n = strcspn(b, ".");
	return strndup(b, n ? n : strlen(b));
}

int suite_parse(const char *file, const char *text, size_t len, struct suite **ret, char *err, size_t errlen)
{
	struct parser p = { .file = file, .err = err, .errlen = errlen };
	char *line = NULL, *trimmed = NULL, **w = NULL;
	/* no line is longer than the text: buffers for that, not for the limit (a parse per keystroke stays cheap) */
	size_t pos = 0, lmax = len < SUITE_LINE_MAX ? len : SUITE_LINE_MAX;
	int rc = -ENOMEM;

	if (errlen)
		err[0] = 0;
	if (len > SUITE_FILE_MAX)
		return perr(&p, "larger than %u bytes", SUITE_FILE_MAX);
	if (!(p.s = calloc(1, sizeof(*p.s))) || !(p.s->file = strdup(file)) || !(p.s->name = base_name(file))
	    || !(line = malloc(lmax + 1)) || !(trimmed = malloc(lmax + 1))
	    || !(w = malloc(sizeof(*w) * (lmax / 2 + 2))))
		goto out;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		unsigned n;

		p.line++;
		if (ll && text[pos + ll - 1] == '\r')
			ll--;
		if (ll > SUITE_LINE_MAX) {
			rc = perr(&p, "line longer than %u characters", SUITE_LINE_MAX);
			goto out;
		}
		if (memchr(text + pos, 0, ll)) {
			rc = perr(&p, "a NUL byte: not a text file");
			goto out;
		}
		memcpy(line, text + pos, ll);
		line[ll] = 0;
		pos += (nl ? (size_t)(nl - (text + pos)) + 1 : len - pos);
		for (char *c = line; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				rc = perr(&p, "a control character (0x%02X)", (unsigned char)*c);
				goto out;
			}
		n = split(line, w, lmax / 2 + 2);
		if (!n)
			continue;
		/* the step as written, for reports: its words, single-spaced, without the comment */
		trimmed[0] = 0;
		for (unsigned i = 0, k = 0; i < n; i++) {
			size_t wl = strlen(w[i]);

			if (i)
				trimmed[k++] = ' ';
			memcpy(trimmed + k, w[i], wl + 1);
			k += wl;
		}
		if ((rc = directive(&p, w, n, trimmed)) < 0) {
			if (rc == -ENOMEM)
				goto out;
			goto out;
		}
	}
	if (!p.s->ntests) {
		p.line = p.line ? p.line : 1;
		rc = perr(&p, "no steps: a suite must test something");
		goto out;
	}
	for (unsigned i = 0; i < p.s->ntests; i++)
		if (!p.s->tests[i].count) {
			p.line = p.s->tests[i].line;
			rc = perr(&p, "test '%s' has no steps", p.s->tests[i].name);
			goto out;
		}
	*ret = p.s;
	p.s = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM && errlen)
		snprintf(err, errlen, "%s: out of memory", file);
	suite_free(p.s);
	free(line);
	free(trimmed);
	free(w);
	return rc;
}
