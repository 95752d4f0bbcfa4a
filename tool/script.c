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

#include "ccid/ccid.h"
#include "ccid/sw.h"
#include "session/uccid.h"
#include "tool/tool.h"

void tool_print_hex(FILE *f, const uint8_t *b, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%02X", i ? sep : "", b[i]);
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
		printf("%s{\"command\":\"", first ? "" : ",");
		tool_print_hex(stdout, apdu, len, "");
		printf("\",\"data\":\"");
		tool_print_hex(stdout, rsp, (size_t)n - 2, "");
		printf("\",\"sw\":\"%04X\",\"meaning\":", sw);
		json_string(stdout, meaning);
		printf("}");
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

/* "lock [mechanical] [TIMEOUT_MS]" in a script: the card is ours until "unlock DISPOSITION". */
static int script_lock(struct tool_session *s, char *args, const char *file, unsigned lineno)
{
	struct uccid_lock_info li;
	unsigned flags = 0;
	int timeout = -1, rc;
	char *w, *save = NULL;

	for (w = strtok_r(args, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char *end;
		long v;

		if (!strcmp(w, "mechanical")) {
			flags |= UCCID_LOCK_MECHANICAL;
			continue;
		}
		v = strtol(w, &end, 10);
		if (*end || v < -1 || v > 86400000) {
			tool_err("%s:%u: lock: '%s' is neither 'mechanical' nor a timeout in ms", file, lineno, w);
			return -EINVAL;
		}
		timeout = (int)v;
	}
	rc = uccid_lock(s->r, s->slot, timeout, flags, &li);
	if (rc < 0) {
		tool_lock_busy(s, rc);
		return rc;
	}
	if (li.abandoned)
		printf("-- the previous holder, %s (pid %ld), died holding the card: %s%s%s\n", li.prev_program,
		       (long)li.prev_pid, uccid_done_name(li.abandon_done), li.abandon_status ? ", " : "",
		       li.abandon_status ? uccid_strerror(li.abandon_status) : "");
	if (!s->o->json)
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
	if (!json)
		printf("-- slot %u unlocked (%s): %s\n", s->slot, uccid_disposition_name(disposition),
		       uccid_done_name(done));
	if (rc < 0) {
		/* released all the same; the card's error as PC/SC would name it */
		tool_err("unlock %s: %s (%s); the lock is released", uccid_disposition_name(disposition),
			 uccid_strerror(rc), tool_scard_name(rc));
	}
	return rc;
}

int tool_run_script(struct tool_session *s, FILE *f, const char *file, bool json, int *count)
{
	static char line[HEX_MAX_BYTES * 3];
	uint8_t atr[CCID_ATR_MAX];
	static uint8_t apdu[HEX_MAX_BYTES];
	unsigned lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *words[1] = { line }, *cmd;
		size_t bad_pos;
		char bad_char;
		int n;

		lineno++;
		if (hash)
			*hash = 0;
		line[strcspn(line, "\r\n")] = 0;
		cmd = line + strspn(line, " \t");
		/* "reset" (warm) or "reset cold" between APDUs: the card loses its session state */
		if (!strncmp(cmd, "reset", 5)) {
			bool cold = strstr(cmd, "cold") != NULL;

			n = uccid_reset(s->r, s->slot, cold, atr, sizeof(atr));
			if (n < 0)
				return tool_fail(s, "reset", n);
			if (!json)
				printf("-- %s reset\n", cold ? "cold" : "warm");
			continue;
		}
		if (!strncmp(cmd, "unlock", 6)) {
			char *d = cmd + 6 + strspn(cmd + 6, " \t");
			int disp;

			d[strcspn(d, " \t")] = 0;
			disp = uccid_disposition_parse(d);
			if (disp < 0) {
				tool_err("%s:%u: unlock: '%s' is not a disposition (leave, reset, unpower, eject)", file,
					 lineno, d);
				return EXIT_USAGE;
			}
			if (tool_unlock(s, disp, json) < 0)
				return EXIT_FAILED;
			continue;
		}
		if (!strncmp(cmd, "lock", 4)) {
			n = script_lock(s, cmd + 4, file, lineno);
			if (n == -EINVAL)
				return EXIT_USAGE;
			if (n < 0)
				return EXIT_FAILED;
			continue;
		}
		n = hex_parse_words(1, words, apdu, HEX_MAX_BYTES, &bad_pos, &bad_char);
		if (n == 0)
			continue;
		if (n < 0) {
			tool_err("%s:%u: bad hex at character %zu", file, lineno, bad_pos + 1);
			return EXIT_USAGE;
		}
		if (tool_run_apdu(s, apdu, (size_t)n, json, (*count)++ == 0) < 0)
			return EXIT_FAILED;
	}
	return EXIT_OK;
}
