/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hex input for the uccid tool: "3B 7A 18", "3b:7a:18", "0x3B 0x7A" and
 * "3B7A18" all read the same.  Anything else is refused with the position of
 * the offending character.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "tool/tool.h"
#include "util/hex.h"

struct hex_state {
	uint8_t *out;
	size_t cap;
	size_t n;
	int hi;            /* pending high nibble, or -1 */
	size_t pos;        /* characters consumed so far */
	char prev;         /* previous character, for the 0x prefix */
};

/* Feed one character; separators end a byte only at a byte boundary. */
static int hex_feed(struct hex_state *s, char c, size_t *bad_pos, char *bad_char)
{
	int v;

	s->pos++;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',') {
		s->prev = c;
		return 0;
	}
	/* "0x" prefix: the 'x' after a '0' that started a byte */
	if ((c == 'x' || c == 'X') && s->prev == '0' && s->hi == 0) {
		s->hi = -1;
		s->prev = c;
		return 0;
	}
	v = uccid_hex_digit((unsigned char)c);
	if (v < 0) {
		*bad_pos = s->pos - 1;
		*bad_char = c;
		return -EINVAL;
	}
	s->prev = c;
	if (s->hi < 0) {
		s->hi = v;
		return 0;
	}
	if (s->n >= s->cap) {
		*bad_pos = s->pos - 1;
		*bad_char = c;
		return -E2BIG;
	}
	s->out[s->n++] = (uint8_t)(s->hi << 4 | v);
	s->hi = -1;
	return 0;
}

static int hex_finish(struct hex_state *s, size_t *bad_pos, char *bad_char)
{
	if (s->hi >= 0) {
		*bad_pos = s->pos;
		*bad_char = 0;
		return -EMSGSIZE;     /* odd number of digits */
	}
	return (int)s->n;
}

int hex_parse_words(int argc, char **argv, uint8_t *out, size_t cap, size_t *bad_pos, char *bad_char)
{
	struct hex_state s = { .out = out, .cap = cap, .hi = -1 };
	int r;

	for (int i = 0; i < argc; i++) {
		for (const char *p = argv[i]; *p; p++)
			if ((r = hex_feed(&s, *p, bad_pos, bad_char)) < 0)
				return r;
		if ((r = hex_feed(&s, ' ', bad_pos, bad_char)) < 0)
			return r;
	}
	return hex_finish(&s, bad_pos, bad_char);
}

int hex_parse_stream(FILE *f, uint8_t *out, size_t cap, size_t *bad_pos, char *bad_char)
{
	struct hex_state s = { .out = out, .cap = cap, .hi = -1 };
	int c, r;

	while ((c = fgetc(f)) != EOF)
		if ((r = hex_feed(&s, (char)c, bad_pos, bad_char)) < 0)
			return r;
	return hex_finish(&s, bad_pos, bad_char);
}
