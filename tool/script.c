/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * APDUs and scripts, shared by apdu and lock: send one APDU and report its
 * answer (text or JSON), run a script of APDU lines under a lock (with lock
 * and unlock lines), and unlock with a disposition, saying what was done.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccid/ccid.h"
#include "ccid/sw.h"
#include "session/uccid.h"
#include "tool/tool.h"

void tool_print_hex(FILE *f, const uint8_t *b, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%02X", i ? sep : "", b[i]);
}

int tool_apdu_check(const uint8_t *apdu, size_t len, char *why, size_t cap)
{
	size_t lc;

	/* ISO/IEC 7816-4 §5.1: the length must be one of the cases' for the Lc the APDU gives */
	if (len < 4) {
		snprintf(why, cap, "%zu byte%s: an APDU has at least 4 (CLA INS P1 P2)", len, len == 1 ? "" : "s");
		return -EINVAL;
	}
	if (len <= 5)
		return 0;                                   /* case 1, case 2 short */
	if (apdu[4]) {
		lc = apdu[4];
		if (len == 5 + lc || len == 6 + lc)         /* case 3 short, case 4 short */
			return 0;
		snprintf(why, cap, "Lc %02X announces %zu data byte%s but %zu follow%s", apdu[4], lc, lc == 1 ? "" : "s",
			 len - 5, len - 5 == 1 ? "s" : "");
		return -EINVAL;
	}
	if (len == 7)
		return 0;                                   /* case 2 extended */
	if (len < 7) {
		snprintf(why, cap, "%zu bytes: after a 00 fifth byte an extended APDU needs at least 7", len);
		return -EINVAL;
	}
	lc = (size_t)apdu[5] << 8 | apdu[6];
	if (lc && (len == 7 + lc || len == 9 + lc))     /* case 3 extended, case 4 extended */
		return 0;
	snprintf(why, cap, "extended Lc %02X%02X announces %zu data byte%s but %zu follow%s", apdu[5], apdu[6], lc,
		 lc == 1 ? "" : "s", len - 7, len - 7 == 1 ? "s" : "");
	return -EINVAL;
}

/* Send each APDU and show the response with the status word's meaning. */
int tool_run_apdu(struct tool_session *s, const uint8_t *apdu, size_t len, bool json, bool first)
{
	static uint8_t rsp[65538];
	char meaning[128];
	ssize_t n = uccid_transmit(s->r, s->slot, apdu, len, rsp, sizeof(rsp));
	uint16_t sw;

	if (n < 0) {
		tool_fail(s, "transmit", (int)n);
		return -1;
	}
	sw = (uint16_t)(rsp[n - 2] << 8 | rsp[n - 1]);
	ccid_sw_explain(sw, meaning, sizeof(meaning));
	if (json) {
		/* in a stream (lock) an object per line, else an element of the caller's "apdus" array */
		if (s->json_lines)
			printf("{\"event\":\"apdu\",\"slot\":%u,\"command\":\"", s->slot);
		else
			printf("%s{\"command\":\"", first ? "" : ",");
		tool_print_hex(stdout, apdu, len, "");
		printf("\",\"data\":\"");
		tool_print_hex(stdout, rsp, (size_t)n - 2, "");
		printf("\",\"sw\":\"%04X\",\"meaning\":", sw);
		json_string(stdout, meaning);
		printf("}%s", s->json_lines ? "\n" : "");
	} else {
		printf("> ");
		tool_print_hex(stdout, apdu, len, " ");
		printf("\n< ");
		if (n > 2) {
			tool_print_hex(stdout, rsp, (size_t)n - 2, " ");
			printf(" ");
		}
		printf("%04X  %s\n", sw, meaning);
	}
	return 0;
}

void tool_json_locked(const struct tool_session *s, const struct uccid_lock_info *li)
{
	printf("{\"event\":\"locked\",\"slot\":%u,\"pid\":%ld,\"abandoned\":%s", s->slot, (long)getpid(),
	       li->abandoned ? "true" : "false");
	if (li->abandoned) {
		printf(",\"previous\":{\"pid\":%ld,\"program\":", (long)li->prev_pid);
		json_string(stdout, li->prev_program);
		printf(",\"done\":\"%s\",\"error\":", uccid_done_name(li->abandon_done));
		json_string(stdout, li->abandon_status ? uccid_strerror(li->abandon_status) : "");
		printf("}");
	}
	printf("}\n");
}

/* The words of "lock [mechanical] [TIMEOUT_MS]": -EINVAL (printed) on a bad one. */
static int script_lock_args(char *args, const char *file, unsigned lineno, int *timeout, unsigned *flags)
{
	char *w, *save = NULL;

	*timeout = -1;
	*flags = 0;
	for (w = strtok_r(args, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char *end;
		long v;

		if (!strcmp(w, "mechanical")) {
			*flags |= UCCID_LOCK_MECHANICAL;
			continue;
		}
		errno = 0;
		v = strtol(w, &end, 10);
		if (!*w || *end || errno || v < -1 || v > 86400000) {
			tool_err("%s:%u: lock: '%s' is neither 'mechanical' nor a timeout in ms (-1..86400000)", file,
				 lineno, w);
			return -EINVAL;
		}
		*timeout = (int)v;
	}
	return 0;
}

/* "lock [mechanical] [TIMEOUT_MS]" in a script: the card is ours until "unlock DISPOSITION". */
static int script_lock(struct tool_session *s, char *args, const char *file, unsigned lineno)
{
	struct uccid_lock_info li;
	unsigned flags;
	int timeout, rc;

	if (script_lock_args(args, file, lineno, &timeout, &flags) < 0)
		return -EINVAL;
	rc = uccid_lock(s->r, s->slot, timeout, flags, &li);
	if (rc < 0) {
		tool_lock_busy(s, rc);
		return rc;
	}
	if (s->o->json) {
		if (s->json_lines)
			tool_json_locked(s, &li);
		return 0;
	}
	if (li.abandoned)
		printf("-- the previous holder, %s (pid %ld), died holding the card: %s%s%s\n", li.prev_program,
		       (long)li.prev_pid, uccid_done_name(li.abandon_done), li.abandon_status ? ", " : "",
		       li.abandon_status ? uccid_strerror(li.abandon_status) : "");
	printf("-- slot %u locked\n", s->slot);
	return 0;
}

int tool_unlock(struct tool_session *s, int disposition, bool json)
{
	enum uccid_done done = UCCID_DONE_NOTHING;
	int rc = uccid_unlock(s->r, s->slot, disposition, &done);

	if (rc == -EINVAL || rc == -ENOLCK || rc == -EPERM) {
		tool_err("unlock: %s: %s", uccid_disposition_name(disposition) ? uccid_disposition_name(disposition)
			 : "?", rc == -EINVAL ? "not a disposition (leave, reset, unpower, eject)"
			 : rc == -ENOLCK ? "the slot is not locked" : "the slot is locked by someone else");
		return rc;
	}
	if (json && s->json_lines) {
		printf("{\"event\":\"unlocked\",\"slot\":%u,\"disposition\":\"%s\",\"done\":\"%s\",\"failed\":", s->slot,
		       uccid_disposition_name(disposition), uccid_done_name(done));
		json_string(stdout, rc < 0 ? uccid_strerror(rc) : "");
		printf("}\n");
	} else if (!json) {
		printf("-- slot %u unlocked (%s): %s\n", s->slot, uccid_disposition_name(disposition),
		       uccid_done_name(done));
	}
	if (rc < 0) {
		/* released all the same; the card's error as PC/SC would name it */
		tool_err("unlock %s: %s (%s); the lock is released", uccid_disposition_name(disposition),
			 uccid_strerror(rc), tool_scard_name(rc));
	}
	return rc;
}

/* Is cmd the keyword word, alone or followed by blanks?  Then *args is what follows. */
static bool keyword(char *cmd, const char *word, char **args)
{
	size_t n = strlen(word);

	if (strncmp(cmd, word, n) || (cmd[n] && cmd[n] != ' ' && cmd[n] != '\t'))
		return false;
	*args = cmd + n + strspn(cmd + n, " \t");
	return true;
}

/*
 * One pass over a script: with s NULL only check every line (nothing is
 * sent), else run it.  Lines are read whole (getline), so a NUL byte or an
 * over-long line is an error rather than a silently cut line.
 */
static int script_walk(struct tool_session *s, FILE *f, const char *file, bool json, int *count)
{
	static uint8_t apdu[HEX_MAX_BYTES];
	uint8_t atr[CCID_ATR_MAX];
	char *line = NULL, why[160];
	size_t cap = 0;
	unsigned lineno = s ? s->lineno : 0;   /* lock: the lines of stdin before this one */
	ssize_t len;
	int rc = EXIT_OK;

	while ((len = getline(&line, &cap, f)) >= 0) {
		char *hash, *words[1], *cmd, *args;
		size_t bad_pos;
		char bad_char;
		int n;

		lineno++;
		if (strlen(line) != (size_t)len) {
			tool_err("%s:%u: a NUL byte at character %zu (a script is text)", file, lineno, strlen(line) + 1);
			rc = EXIT_USAGE;
			break;
		}
		if ((size_t)len > HEX_MAX_BYTES * 3) {
			tool_err("%s:%u: the line is %zd characters long, more than %d", file, lineno, len,
				 HEX_MAX_BYTES * 3);
			rc = EXIT_USAGE;
			break;
		}
		if ((hash = strchr(line, '#')))
			*hash = 0;
		line[strcspn(line, "\r\n")] = 0;
		cmd = line + strspn(line, " \t");
		/* "reset" (warm) or "reset cold" between APDUs: the card loses its session state */
		if (keyword(cmd, "reset", &args)) {
			bool cold = !strncmp(args, "cold", 4);

			args[strcspn(args, " \t")] = 0;
			if (*args && strcmp(args, "cold") && strcmp(args, "warm")) {
				tool_err("%s:%u: reset: '%s' is neither 'warm' nor 'cold'", file, lineno, args);
				rc = EXIT_USAGE;
				break;
			}
			if (!s)
				continue;
			n = uccid_reset(s->r, s->slot, cold, atr, sizeof(atr));
			if (n < 0) {
				rc = tool_fail(s, "reset", n);
				break;
			}
			if (json && s->json_lines) {
				printf("{\"event\":\"reset\",\"slot\":%u,\"cold\":%s,\"atr\":\"", s->slot,
				       cold ? "true" : "false");
				tool_print_hex(stdout, atr, (size_t)n, "");
				printf("\"}\n");
			} else if (!json) {
				printf("-- %s reset\n", cold ? "cold" : "warm");
			}
			continue;
		}
		if (keyword(cmd, "unlock", &args)) {
			int disp;

			args[strcspn(args, " \t")] = 0;
			disp = uccid_disposition_parse(args);
			if (disp < 0) {
				tool_err("%s:%u: unlock: '%s' is not a disposition (leave, reset, unpower, eject)", file,
					 lineno, args);
				rc = EXIT_USAGE;
				break;
			}
			if (s && tool_unlock(s, disp, json) < 0) {
				rc = EXIT_FAILED;
				break;
			}
			continue;
		}
		if (keyword(cmd, "lock", &args)) {
			if (!s) {
				int timeout;
				unsigned flags;

				if (script_lock_args(args, file, lineno, &timeout, &flags) < 0) {
					rc = EXIT_USAGE;
					break;
				}
				continue;
			}
			n = script_lock(s, args, file, lineno);
			if (n < 0) {
				rc = n == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
				break;
			}
			continue;
		}
		words[0] = cmd;
		n = hex_parse_words(1, words, apdu, HEX_MAX_BYTES, &bad_pos, &bad_char);
		if (n == 0)
			continue;
		if (n < 0) {
			if (bad_char)
				tool_err("%s:%u: bad hex at character %zu ('%c')", file, lineno, bad_pos + 1, bad_char);
			else
				tool_err("%s:%u: bad hex: an odd number of digits", file, lineno);
			rc = EXIT_USAGE;
			break;
		}
		if (tool_apdu_check(apdu, (size_t)n, why, sizeof(why)) < 0) {
			tool_err("%s:%u: not an APDU: %s", file, lineno, why);
			rc = EXIT_USAGE;
			break;
		}
		if (s && tool_run_apdu(s, apdu, (size_t)n, json, (*count)++ == 0) < 0) {
			rc = EXIT_FAILED;
			break;
		}
	}
	free(line);
	if (s)
		s->lineno = lineno;
	return rc;
}

int tool_check_script(FILE *f, const char *file)
{
	return script_walk(NULL, f, file, false, NULL);
}

int tool_run_script(struct tool_session *s, FILE *f, const char *file, bool json, int *count)
{
	return script_walk(s, f, file, json, count);
}
