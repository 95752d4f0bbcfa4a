/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uccid lock, unlock and locks (docs/locks.md).
 *
 * A lock lives as long as the process that holds it (the kernel frees a lock
 * file's lock when its holder dies), so "uccid lock" stays running: it opens
 * the reader, locks the slot, runs the script it reads on standard input
 * ("uccid apdu -f" syntax: APDUs, reset, lock, unlock DISPOSITION) and, at
 * the end of input, on SIGINT/SIGTERM or when "uccid unlock" asks, unlocks
 * with the disposition given (if the script has not) and exits.  "uccid unlock" finds the holding uccid
 * process in the lock file and asks it with sigqueue(SIGUSR1), the
 * disposition in the signal's value (UNLOCK_ASK), then waits for the slot
 * to be free.
 * Other programs' locks (pcscd, a test rig) can only be released by them.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool/tool.h"
#include "session/uccid.h"

#define UNLOCK_WAIT_MS 15000            /* how long "uccid unlock" waits for the holder to let go */
/*
 * The signal's value: UNLOCK_ASK | the disposition (PC/SC's number, 0-3).
 * Until issue 12 it was the bare disposition numbered 1-4, where 1 meant
 * LEAVE and now means RESET; the tag keeps a "uccid lock" and a "uccid
 * unlock" of those two versions from misreading each other — the holder
 * ignores an untagged value (and an old holder ignores a tagged one), and
 * "uccid unlock" reports that it did not let go.
 */
#define UNLOCK_ASK 0x75630000           /* "uc" in the top bytes, the disposition in the lowest */

static volatile sig_atomic_t g_stop;    /* SIGINT/SIGTERM */
static volatile sig_atomic_t g_asked;   /* SIGUSR1 from uccid unlock: disposition + 1 */

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_unlock(int sig, siginfo_t *si, void *uc)
{
	int v = si->si_value.sival_int;

	(void)sig, (void)uc;
	if (si->si_code == SI_QUEUE && (v & ~0xff) == UNLOCK_ASK && (v & 0xff) <= UCCID_EJECT)
		g_asked = (v & 0xff) + 1;
}

static int parse_disposition(const char *arg, int *ret)
{
	int d = uccid_disposition_parse(arg);

	if (d < 0) {
		tool_err("'%s' is not a disposition: leave, reset, unpower or eject", arg);
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

/* Read lines from stdin into the script runner until EOF, a signal or an unlock request. */
static int serve_stdin(struct tool_session *s, bool json)
{
	char *buf = NULL;
	size_t cap = 0;
	int count = 0, rc = EXIT_OK;

	for (;;) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		ssize_t n;
		FILE *one;

		if (g_stop || g_asked)
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = getline(&buf, &cap, stdin);
		if (n < 0)
			break;  /* end of input */
		one = fmemopen(buf, (size_t)n, "r");
		if (!one) {
			rc = EXIT_FAILED;
			break;
		}
		/* a failed line is reported and the session goes on: the card stays ours
		   (s->lineno counts the lines of stdin across these one-line scripts) */
		if (tool_run_script(s, one, "stdin", json, &count) != EXIT_OK)
			rc = EXIT_FAILED;
		fclose(one);
		tool_json_flush();
		fflush(stdout);
	}
	free(buf);
	return rc;
}

#define DISPOSITION_HELP "leave, reset, unpower or eject"

static const struct tool_opt lock_opts[] = {
	TOOL_OPT_SLOT,
	{ "timeout", required_argument, 't', 't', "SECONDS", "wait this long for the lock (digits, a fraction; or forever)" },
	{ "mechanical", no_argument, 'm', 'm', NULL, "lock the card in with the reader's mechanism too" },
	{ "disposition", required_argument, 'd', 'd', "D", "at the end: " DISPOSITION_HELP " (default reset)" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_lock = {
	"lock", cmd_lock, "lock the card and run a script from stdin (as apdu -f); then unlock with a disposition",
	"uccid [-r NAME] lock [--slot N] [--timeout SECONDS|forever] [--mechanical] [--disposition D] [--json]",
	lock_opts, NULL,
};

int cmd_lock(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct tool_opts o = *opts;
	struct tool_session s = { 0 };
	struct sigaction stop = { .sa_handler = on_stop }, ask = { .sa_sigaction = on_unlock, .sa_flags = SA_SIGINFO };
	struct uccid_lock_info li;
	uint8_t atr[64];
	unsigned flags = 0;
	int c, rc, timeout = -1, disposition = UCCID_RESET;
	struct uccid_holder h;

	tool_getopt_init(lock_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &s.slot) < 0)
				return EXIT_USAGE;
			break;
		case 'd':
			if (parse_disposition(optarg, &disposition) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (tool_seconds_arg("--timeout", optarg, &timeout) < 0)
				return EXIT_USAGE;
			break;
		case 'm':
			flags |= UCCID_LOCK_MECHANICAL;
			break;
		case 'j':
			o.json = true;
			break;
		default:
			return tool_bad_option("lock", argv);
		}
	}
	if (optind < argc) {
		tool_err("lock: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGUSR1, &ask, NULL);
	if ((rc = tool_open_session(&o, &s)) < 0)
		return tool_open_failed(rc);
	s.json_lines = o.json;   /* a stream: one object per line */
	rc = uccid_lock(s.r, s.slot, timeout, flags, &li);
	if (rc < 0) {
		tool_lock_busy(&s, rc);
		rc = EXIT_FAILED;
		goto out;
	}
	if (o.json) {
		tool_json_locked(&s, &li);
	} else {
		printf("slot %u locked by pid %ld; reading commands from stdin\n", s.slot, (long)getpid());
		if (li.abandoned)
			printf("the previous holder, %s (pid %ld), died holding the card; abandon disposition: %s%s%s\n",
			       li.prev_program, (long)li.prev_pid, uccid_done_name(li.abandon_done),
			       li.abandon_status ? ": " : "", li.abandon_status ? uccid_strerror(li.abandon_status) : "");
	}
	fflush(stdout);
	/* the card powered, as apdu does: a card already on stays as it is */
	if (uccid_power_on(s.r, s.slot, UCCID_VOLTAGE_AUTO, atr, sizeof(atr)) < 0)
		tool_err("lock: the card could not be powered; APDUs will fail");
	/* unbuffered: poll() must see every line still to be read, not a stdio buffer */
	setvbuf(stdin, NULL, _IONBF, 0);
	rc = serve_stdin(&s, o.json);
	if (g_asked)
		disposition = g_asked - 1;
	/* still ours (the script may have unlocked and locked again, reentrantly): let go,
	   the last unlock with the disposition */
	while (uccid_lock_holder(s.r, s.slot, &h) == 0 && h.held && h.this_process) {
		int d = h.count > 1 ? UCCID_LEAVE : disposition;

		if (tool_unlock(&s, d, o.json) < 0) {
			if (rc == EXIT_OK)
				rc = EXIT_FAILED;
			if (h.count <= 1)
				break;
		}
	}
	tool_json_flush();
out:
	return tool_close(&s, rc);
}

static const struct tool_opt unlock_opts[] = {
	TOOL_OPT_SLOT,
	{ "disposition", required_argument, 'd', 'd', "D", DISPOSITION_HELP " (no default)" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_unlock = {
	"unlock", cmd_unlock, "ask the uccid lock process holding a card's lock to unlock it with a disposition",
	"uccid [-r NAME] unlock [--slot N] --disposition D [--json]", unlock_opts, NULL,
};

int cmd_unlock(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct uccid_holder h;
	union sigval v;
	unsigned slot = 0;
	int c, rc, disposition = -1;
	bool json = opts->json;
	char name[128];
	const char *reader = opts->reader;

	tool_getopt_init(unlock_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &slot) < 0)
				return EXIT_USAGE;
			break;
		case 'd':
			if (parse_disposition(optarg, &disposition) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			json = true;
			break;
		default:
			return tool_bad_option("unlock", argv);
		}
	}
	if (optind < argc) {
		tool_err("unlock: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (disposition < 0) {
		/* no default: an unlock that silently left an authenticated card would be worse */
		tool_err("unlock: say how with --disposition " DISPOSITION_HELP " (usage: %s)", tool_cmd_unlock.synopsis);
		return EXIT_USAGE;
	}
	if (!reader) {
		if (tool_default_reader(name, sizeof(name)) < 0)
			return EXIT_FAILED;
		reader = name;
	}
	rc = uccid_reader_holder(reader, NULL, (int)slot, &h);
	if (rc < 0) {
		tool_err("unlock: %s: %s", reader, uccid_strerror(rc));
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
	}
	if (!h.held) {
		tool_err("unlock: %s slot %u is not locked%s", reader, slot,
			 h.abandoned ? " (its last holder died; the next lock resets the card)" : "");
		return EXIT_FAILED;
	}
	if (strcmp(h.program, "uccid")) {
		tool_err("unlock: %s slot %u is locked by %s (pid %ld): only it can unlock it", reader, slot,
			 h.program, (long)h.pid);
		return EXIT_FAILED;
	}
	v.sival_int = UNLOCK_ASK | disposition;
	if (sigqueue(h.pid, SIGUSR1, v) < 0) {
		tool_err("unlock: cannot ask pid %ld: %s", (long)h.pid, strerror(errno));
		return EXIT_FAILED;
	}
	for (int waited = 0; waited < UNLOCK_WAIT_MS; waited += 20) {
		struct uccid_holder now;
		struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };

		if (uccid_reader_holder(reader, NULL, (int)slot, &now) == 0 && !(now.held && now.pid == h.pid)) {
			if (json) {
				printf("{\"reader\":");
				json_string(stdout, reader);
				printf(",\"slot\":%u,\"pid\":%ld,\"disposition\":\"%s\"}\n", slot, (long)h.pid,
				       uccid_disposition_name(disposition));
			} else {
				printf("slot %u unlocked by pid %ld with %s\n", slot, (long)h.pid,
				       uccid_disposition_name(disposition));
			}
			return EXIT_OK;
		}
		nanosleep(&nap, NULL);
	}
	tool_err("unlock: pid %ld did not let go of slot %u within %d s", (long)h.pid, slot, UNLOCK_WAIT_MS / 1000);
	return EXIT_FAILED;
}

/* passive: the reader's holder opened it passively (uccid watch), and yields it to any opener */
static void print_holder(bool json, const char *what, int slot, const struct uccid_holder *h, bool passive,
			 bool *first)
{
	char when[32];

	tool_format_since(h->since, when, sizeof(when));
	if (json) {
		printf("%s{\"what\":\"%s\",", *first ? "" : ",", what);
		if (slot >= 0)
			printf("\"slot\":%d,", slot);
		printf("\"state\":\"%s\"", h->held ? "held" : h->abandoned ? "abandoned" : "free");
		if (h->held || h->abandoned) {
			printf(",\"pid\":%ld,\"program\":", (long)h->pid);
			json_string(stdout, h->program);
			printf(",\"since\":%lld", (long long)h->since);
		}
		if (slot < 0 && h->held)
			printf(",\"passive\":%s", passive ? "true" : "false");
		printf("}");
	} else if (h->held || h->abandoned) {
		printf("  %-8s %s by %s (pid %ld) since %s%s\n", what, h->held ? "held" : "abandoned", h->program,
		       (long)h->pid, when, passive ? ", passive: yields it to another process that opens it" : "");
	}
	*first = false;
}

static const struct tool_opt locks_opts[] = {
	{ "slot", required_argument, 's', 's', "N", "slot N's lock (default: slot 0's)" },
	{ "slots", required_argument, 'n', 'n', "N", "the locks of slots 0 to N-1 (the old spelling: a count)" },
	TOOL_OPT_JSON, TOOL_OPT_HELP, TOOL_OPT_END,
};
const struct tool_cmd tool_cmd_locks = {
	"locks", cmd_locks, "who has the reader open and who holds its slots' locks",
	"uccid [-r NAME] locks [--slot N | --slots N] [--json]", locks_opts, NULL,
};

int cmd_locks(const struct tool_opts *opts, int argc, char **argv)
{
	struct tool_getopt g;
	struct uccid_holder h;
	unsigned first = 0, nslots = 1;
	bool json = opts->json, first_out = true, any = false, bad = false;
	char name[128], why[512];
	const char *reader = opts->reader;
	int c, rc, passive;

	tool_getopt_init(locks_opts, &g);
	while ((c = getopt_long(argc, argv, g.shorts, g.lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_slot_arg(optarg, &first) < 0)
				return EXIT_USAGE;
			nslots = 1;
			break;
		case 'n':
			if (tool_slot_arg(optarg, &nslots) < 0)
				return EXIT_USAGE;
			if (nslots == 0) {
				tool_err("locks: --slots takes a slot count from 1 to 255, not '%s'", optarg);
				return EXIT_USAGE;
			}
			first = 0;
			break;
		case 'j':
			json = true;
			break;
		default:
			return tool_bad_option("locks", argv);
		}
	}
	if (optind < argc) {
		tool_err("locks: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!reader) {
		if (tool_default_reader(name, sizeof(name)) < 0)
			return EXIT_FAILED;
		reader = name;
	}
	rc = uccid_reader_lock_state(reader, NULL, -1, &h, why, sizeof(why));
	if (rc < 0) {
		tool_err("locks: %s: %s", reader, why[0] ? why : uccid_strerror(rc));
		return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
	}
	if (json) {
		printf("{\"reader\":");
		json_string(stdout, reader);
		printf(",\"locks\":[");
	} else {
		printf("%s\n", reader);
	}
	passive = h.held ? uccid_reader_passive(reader, NULL) : 0;
	if (passive < 0) {
		tool_err("locks: %s: %s", reader, uccid_strerror(passive));
		return EXIT_FAILED;
	}
	print_holder(json, "reader", -1, &h, passive > 0, &first_out);
	any = h.held;
	for (unsigned i = first; i < first + nslots; i++) {
		char what[16];

		rc = uccid_reader_lock_state(reader, NULL, (int)i, &h, why, sizeof(why));
		if (rc < 0) {
			/* a lock file that cannot be trusted is never "no slot is locked" */
			tool_err("locks: %s: slot %u: %s", reader, i, why[0] ? why : uccid_strerror(rc));
			bad = true;
			continue;
		}
		snprintf(what, sizeof(what), "slot %u", i);
		print_holder(json, what, (int)i, &h, false, &first_out);
		any |= h.held || h.abandoned;
	}
	if (json)
		printf("]}\n");
	else if (!any && !bad)
		printf("  nobody has it open, no slot is locked\n");
	return bad ? EXIT_FAILED : EXIT_OK;
}
