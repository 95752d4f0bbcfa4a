/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure helpers of `uccid test` suites: status-word specs, data patterns
 * (hex with wildcards, or a regex over hex), byte slices, durations, errno
 * names, hex, and ${NAME} variables.  Every input is a suite author's text:
 * bounded, and refused with a reason rather than guessed at.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/hil/suite.h"
#include "util/hex.h"

int suite_hex(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (const char *p = text; *p; p++) {
		int v;

		if (*p == ' ' || *p == '\t')
			continue;
		if ((v = uccid_hex_digit((unsigned char)*p)) < 0)
			return -EINVAL;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			return -ENOBUFS;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi >= 0 ? -EINVAL : (int)n;
}

/* ---- status words ---- */

static int parse_sw_alt(const char *t, size_t len, struct suite_sw *ret)
{
	uint16_t value = 0, mask = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		int v;

		if (i >= len)
			return -EINVAL;
		value <<= 4;
		mask <<= 4;
		if (t[i] == '?')
			continue;
		if ((v = uccid_hex_digit((unsigned char)t[i])) < 0)
			return -EINVAL;
		value |= (uint16_t)v;
		mask |= 0xF;
	}
	if (len > 4) {
		uint16_t m = 0;

		if (t[4] != '/' || len != 9)
			return -EINVAL;
		for (i = 5; i < 9; i++) {
			int v = uccid_hex_digit((unsigned char)t[i]);

			if (v < 0)
				return -EINVAL;
			m = (uint16_t)(m << 4 | v);
		}
		mask &= m;
	}
	ret->value = value & mask;
	ret->mask = mask;
	return 0;
}

int suite_parse_sw(const char *text, struct suite_sw *ret, unsigned cap)
{
	unsigned n = 0;

	if (!strcmp(text, "any")) {
		if (cap < 1)
			return -EINVAL;
		ret[0] = (struct suite_sw){ 0, 0 };
		return 1;
	}
	for (const char *p = text;;) {
		size_t len = strcspn(p, "|");

		if (n >= cap || parse_sw_alt(p, len, &ret[n]) < 0)
			return -EINVAL;
		n++;
		if (!p[len])
			return (int)n;
		p += len + 1;
	}
}

bool suite_sw_match(const struct suite_sw *alts, unsigned n, uint16_t sw)
{
	for (unsigned i = 0; i < n; i++)
		if ((sw & alts[i].mask) == alts[i].value)
			return true;
	return false;
}

void suite_sw_format(const struct suite_sw *alts, unsigned n, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < n && len + 1 < cap; i++) {
		char alt[16];
		int k = 0;

		if (!alts[i].mask) {
			snprintf(alt, sizeof(alt), "any");
		} else {
			for (int d = 3; d >= 0; d--) {
				unsigned m = alts[i].mask >> (d * 4) & 0xF, v = alts[i].value >> (d * 4) & 0xF;

				alt[k++] = m == 0xF ? "0123456789ABCDEF"[v] : m == 0 ? '?' : 'm';
			}
			alt[k] = 0;
			if (strchr(alt, 'm'))
				snprintf(alt, sizeof(alt), "%04X/%04X", alts[i].value, alts[i].mask);
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " or " : "", alt);
		if (len >= cap)
			len = cap - 1;
	}
}

/* ---- data patterns ---- */

struct ptok {
	uint8_t value, mask;
	bool star;
};

/* Compile a hex pattern; returns the token count or -EINVAL with the reason. */
static long compile_hex(const char *pat, struct ptok *toks, size_t cap, char *err, size_t errlen)
{
	size_t n = 0;
	int hi = -1;
	uint8_t hv = 0, hm = 0;

	for (const char *p = pat; *p; p++) {
		int v = 0;
		bool wild = false;

		if (*p == ' ' || *p == '\t')
			continue;
		if (*p == '*') {
			if (hi >= 0)
				goto half;
			if (n && toks[n - 1].star)
				continue;    /* "**" is "*" */
			toks[n++] = (struct ptok){ .star = true };
			continue;
		}
		if (*p == '?' || *p == '.')
			wild = true;
		else if ((v = uccid_hex_digit((unsigned char)*p)) < 0) {
			snprintf(err, errlen, "'%c' is not hex, '?', '..' or '*'", *p);
			return -EINVAL;
		}
		if (hi < 0) {
			hi = 1;
			hv = wild ? 0 : (uint8_t)(v << 4);
			hm = wild ? 0 : 0xF0;
			continue;
		}
		if (n >= cap) {
			snprintf(err, errlen, "pattern too long");
			return -EINVAL;
		}
		toks[n++] = (struct ptok){ .value = (uint8_t)(hv | (wild ? 0 : v)), .mask = (uint8_t)(hm | (wild ? 0 : 0x0F)) };
		hi = -1;
	}
	if (hi < 0)
		return (long)n;
half:
	snprintf(err, errlen, "odd number of hex digits");
	return -EINVAL;
}

/* Glob matching of bytes against tokens, backtracking to the last '*'. */
static bool match_toks(const struct ptok *t, size_t nt, const uint8_t *d, size_t nd)
{
	size_t ti = 0, di = 0, star_t = (size_t)-1, star_d = 0;

	while (di < nd) {
		if (ti < nt && t[ti].star) {
			star_t = ti++;
			star_d = di;
		} else if (ti < nt && (d[di] & t[ti].mask) == t[ti].value) {
			ti++;
			di++;
		} else if (star_t != (size_t)-1) {
			ti = star_t + 1;
			di = ++star_d;
		} else {
			return false;
		}
	}
	while (ti < nt && t[ti].star)
		ti++;
	return ti == nt;
}

/*
 * glibc's regcomp copies a subexpression's tree for every repetition
 * operator: stacked operators (A++, A*{2}) double it each time (38 '+' took
 * 15 GB) and nested counts multiply.  Refused before regcomp: an operator
 * right after another, and a pattern whose counts, multiplied through the
 * groups that nest them, exceed REGEX_WEIGHT_MAX copies.  Returns NULL or why.
 */
#define REGEX_WEIGHT_MAX 65536ul
#define REGEX_DEPTH_MAX 32

static const char *regex_too_costly(const char *re, size_t len)
{
	unsigned long group[REGEX_DEPTH_MAX + 1] = { 1 }, atom = 1;
	unsigned depth = 0;
	bool after_op = false;

	for (size_t i = 0; i < len; i++) {
		char c = re[i];
		unsigned long k = 0;

		if (c == '+' || c == '*' || c == '?' || c == '{') {
			if (after_op)
				return "a repetition operator right after another";
			if (c == '{') {
				unsigned long m = 0;

				for (i++; i < len && re[i] != '}'; i++)
					if (isdigit((unsigned char)re[i]))
						m = m < REGEX_WEIGHT_MAX ? m * 10 + (unsigned long)(re[i] - '0') : m;
					else
						k = k > m ? k : m, m = 0;
				k = k > m ? k : m;
			} else {
				k = 2;
			}
			atom *= k ? k : 1;
			if (atom > REGEX_WEIGHT_MAX)
				return "repetitions that would make the expression too large";
			if (atom > group[depth])
				group[depth] = atom;
			after_op = true;
			continue;
		}
		after_op = false;
		if (c == '(') {
			if (depth == REGEX_DEPTH_MAX)
				return "groups nested too deep";
			group[++depth] = 1;
			atom = 1;
			continue;
		}
		if (c == ')' && depth) {
			atom = group[depth--];
		} else {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '[') {   /* a bracket expression: ']' first is literal */
				i++;
				if (i < len && re[i] == '^')
					i++;
				if (i < len && re[i] == ']')
					i++;
				while (i < len && re[i] != ']')
					i++;
			}
			atom = 1;
		}
		if (atom > group[depth])
			group[depth] = atom;
	}
	return NULL;
}

static int match_regex(const char *pat, size_t plen, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	char *re_text = strndup(pat, plen), *hex = malloc(len * 2 + 1);
	const char *cost;
	regex_t re;
	int rc;

	if (!re_text || !hex) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		snprintf(hex + i * 2, 3, "%02X", data[i]);
	hex[len * 2] = 0;
	if ((cost = regex_too_costly(pat, plen))) {
		snprintf(err, errlen, "bad regular expression: %s", cost);
		rc = -EINVAL;
		goto out;
	}
	rc = regcomp(&re, re_text, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	if (rc) {
		char why[128];

		regerror(rc, &re, why, sizeof(why));
		snprintf(err, errlen, "bad regular expression: %s", why);
		rc = -EINVAL;
		goto out;
	}
	rc = regexec(&re, hex, 0, NULL, 0) == 0;
	regfree(&re);
out:
	free(re_text);
	free(hex);
	return rc;
}

int suite_match_data(const char *pattern, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t plen = strlen(pattern);
	struct ptok *toks;
	long nt;
	int rc;

	if (plen >= 2 && pattern[0] == '/' && pattern[plen - 1] == '/')
		return match_regex(pattern + 1, plen - 2, data, len, err, errlen);
	if (pattern[0] == '/') {
		snprintf(err, errlen, "a regular expression is written /REGEX/");
		return -EINVAL;
	}
	toks = calloc(plen + 1, sizeof(*toks));
	if (!toks) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nt = compile_hex(pattern, toks, plen + 1, err, errlen);
	rc = nt < 0 ? (int)nt : match_toks(toks, (size_t)nt, data, len);
	free(toks);
	return rc;
}

/* ---- slices ---- */

static int slice_index(const char *t, size_t tlen, long dflt, long len, long *ret)
{
	char buf[24], *end;
	long v;

	if (!tlen) {
		*ret = dflt;
		return 0;
	}
	if (tlen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, t, tlen);
	buf[tlen] = 0;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (*end || errno || !(isdigit((unsigned char)buf[0]) || (buf[0] == '-' && isdigit((unsigned char)buf[1]))))
		return -EINVAL;
	if (v < -len - 1 || v > len + 1)
		v = v < 0 ? -len - 1 : len + 1;   /* out of range, kept out of range without overflow */
	*ret = v < 0 ? len + v : v;
	return 0;
}

int suite_slice(const char *text, size_t len, size_t *off, size_t *n)
{
	long l = len > (size_t)0x7fffffff ? 0x7fffffff : (long)len, a, b;
	size_t tl = strlen(text);
	const char *colon;

	if (!tl) {
		*off = 0;
		*n = len;
		return 0;
	}
	if (tl < 3 || text[0] != '[' || text[tl - 1] != ']')
		return -EINVAL;
	colon = memchr(text + 1, ':', tl - 2);
	if (!colon) {
		if (slice_index(text + 1, tl - 2, 0, l, &a) < 0)
			return -EINVAL;
		b = a + 1;
	} else if (slice_index(text + 1, (size_t)(colon - text - 1), 0, l, &a) < 0
		   || slice_index(colon + 1, (size_t)(text + tl - 1 - colon - 1), l, l, &b) < 0) {
		return -EINVAL;
	}
	if (a < 0 || b > l || a > b)
		return -ERANGE;
	*off = (size_t)a;
	*n = (size_t)(b - a);
	return 0;
}

/* ---- durations and errno names ---- */

int suite_parse_duration(const char *text, unsigned *ret_ms)
{
	char *end;
	unsigned long long v, scale;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || v > SUITE_DURATION_MAX_MS)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		scale = 1;
	else if (!strcmp(end, "s") || !*end)
		scale = 1000;
	else if (!strcmp(end, "m"))
		scale = 60000;
	else
		return -EINVAL;
	if (v * scale > SUITE_DURATION_MAX_MS)
		return -EINVAL;
	*ret_ms = (unsigned)(v * scale);
	return 0;
}

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EINVAL", EINVAL }, { "ENOMEDIUM", ENOMEDIUM }, { "EIO", EIO }, { "ETIMEDOUT", ETIMEDOUT },
	{ "EPROTO", EPROTO }, { "ENODEV", ENODEV }, { "EBUSY", EBUSY }, { "EMSGSIZE", EMSGSIZE },
	{ "ENOTSUP", ENOTSUP }, { "ECANCELED", ECANCELED }, { "ENOMEM", ENOMEM }, { "ENOLCK", ENOLCK },
	{ "EPERM", EPERM }, { "EACCES", EACCES }, { "EOVERFLOW", EOVERFLOW }, { "EPIPE", EPIPE },
};

int suite_errno_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (!strcmp(name, errnos[i].name))
			return errnos[i].err;
	return -EINVAL;
}

const char *suite_errno_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

/* ---- variables ---- */

static bool name_char(int c, bool first)
{
	return c == '_' || isalpha(c) || (!first && isdigit(c));
}

static bool valid_name(const char *name, size_t len)
{
	if (!len || len > SUITE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char((unsigned char)name[i], i == 0))
			return false;
	return true;
}

int suite_var_set(struct suite_vars *v, const char *name, const char *value)
{
	unsigned i;
	char *copy;

	if (!valid_name(name, strlen(name)) || strlen(value) > SUITE_VAR_MAX)
		return -EINVAL;
	for (i = 0; i < v->n; i++)
		if (!strcmp(v->names[i], name))
			break;
	if (i == v->n && v->n >= SUITE_VARS_MAX)
		return -ENOSPC;
	if (!(copy = strdup(value)))
		return -ENOMEM;
	if (i == v->n) {
		if (!(v->names[i] = strdup(name))) {
			free(copy);
			return -ENOMEM;
		}
		v->n++;
	} else {
		free(v->values[i]);
	}
	v->values[i] = copy;
	return 0;
}

const char *suite_var_get(const struct suite_vars *v, const char *name)
{
	for (unsigned i = 0; i < v->n; i++)
		if (!strcmp(v->names[i], name))
			return v->values[i];
	return NULL;
}

void suite_vars_clear(struct suite_vars *v)
{
	for (unsigned i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	v->n = 0;
}

char *suite_expand(const struct suite_vars *v, const char *text, char *err, size_t errlen)
{
	size_t cap = strlen(text) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		goto nomem;
	for (const char *p = text; *p;) {
		const char *add = p, *close;
		size_t n = 1;

		if (p[0] == '$' && p[1] == '{') {
			char name[SUITE_NAME_MAX + 1];

			close = strchr(p + 2, '}');
			if (!close || !valid_name(p + 2, (size_t)(close - p - 2))) {
				snprintf(err, errlen, "'${' must be followed by a variable name and '}'");
				goto fail;
			}
			memcpy(name, p + 2, (size_t)(close - p - 2));
			name[close - p - 2] = 0;
			if (!(add = suite_var_get(v, name))) {
				snprintf(err, errlen, "variable '%s' is not set", name);
				goto fail;
			}
			n = strlen(add);
			p = close + 1;
		} else {
			p++;
		}
		if (len + n + 1 > SUITE_LINE_MAX) {
			snprintf(err, errlen, "longer than %u characters once variables are expanded", SUITE_LINE_MAX);
			goto fail;
		}
		if (len + n + 1 > cap) {
			char *bigger;

			cap = (len + n + 1) * 2;
			if (!(bigger = realloc(out, cap)))
				goto nomem;
			out = bigger;
		}
		memcpy(out + len, add, n);
		len += n;
	}
	out[len] = 0;
	return out;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(out);
	return NULL;
}
