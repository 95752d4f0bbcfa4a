/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over stress run (make check-handover ROUNDS=N BUSY_MS=B
 * HOW=kill|exit, from the environment: 1000, 50, kill; not part of make
 * check): how often the next process
 * waiting for a USB/IP reader gets it when the process holding it dies
 * (kill -9) or exits.  Each round: "uccid lock" holds the reader (its
 * open lock and its slot's lock); "uccid --wait apdu SELECT" queues for it
 * (seen in the open lock file: uccid_reader_holder's waiters); the holder
 * is killed, or its input closed so that it unlocks and exits; the waiter
 * must then open the reader and get 9000.  The server is uccid-vreader,
 * which with BUSY_MS refuses imports as busy for that long after a
 * client's connection ended, as Linux's usbip-host does until its stub has
 * seen the close (issue 14: 59 failures of 1000 kill -9 rounds, "server
 * refused import: device busy").  Prints the count and each distinct
 * failure; exits 1 if any round failed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session/uccid.h"
#include "util/clock.h"

#define WAIT_MS 30000           /* every wait of a round is bounded by this */
#define MAX_KINDS 8

static const char *builddir;
static pid_t vr = -1;                   /* the server, ended on every way out */
static char url[128], lockdir[256];
/* the words of the command lines (execv takes char *) */
static char w_port[] = "--port", w_zero[] = "0", w_profile[] = "--profile", w_short[] = "short-apdu",
	    w_busy[] = "--usbip-busy-after-close", w_r[] = "-r", w_lock[] = "lock", w_wait[] = "--wait=30",
	    w_apdu[] = "apdu", w_select[] = "00A4040C07F0756363696401";

struct kind {
	char text[256];
	unsigned n;
};

/* fork + exec argv with stdin from in_fd (-1: /dev/null), stdout to out_fd, stderr to err_fd. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	pid_t p = fork();

	if (p == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(in_fd >= 0 ? in_fd : null, 0);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		dup2(err_fd >= 0 ? err_fd : null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

/* Read fd until a line containing want arrives (or WAIT_MS, or the end).  Returns true when it did. */
static bool wait_line(int fd, const char *want, char *buf, size_t cap)
{
	int64_t end = uccid_mono_ms() + WAIT_MS;
	size_t len = 0;

	buf[0] = '\0';
	while (uccid_mono_ms() < end && len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(end - uccid_mono_ms())) <= 0)
			continue;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, want))
			return true;
	}
	return false;
}

/* Until the reader's open lock has a waiter (the waiter queued behind the holder). */
static bool until_queued(pid_t waiter)
{
	int64_t end = uccid_mono_ms() + WAIT_MS;

	while (uccid_mono_ms() < end) {
		struct uccid_holder h;
		struct timespec nap = { .tv_nsec = 1000000 };

		if (uccid_reader_holder(url, lockdir, -1, &h) == 0 && h.held && h.waiters > 0)
			return true;
		if (waitpid(waiter, NULL, WNOHANG) == waiter)
			return false;   /* it gave up (or got in) without waiting */
		nanosleep(&nap, NULL);
	}
	return false;
}

static void note(struct kind *k, unsigned *nk, const char *text)
{
	char line[256];
	size_t n;

	/* the first line of the error, without its port number's variety mattering */
	snprintf(line, sizeof(line), "%s", text[0] ? text : "(no message)");
	n = strcspn(line, "\n");
	line[n] = '\0';
	for (unsigned i = 0; i < *nk; i++)
		if (!strcmp(k[i].text, line)) {
			k[i].n++;
			return;
		}
	if (*nk < MAX_KINDS) {
		snprintf(k[*nk].text, sizeof(k[*nk].text), "%s", line);
		k[(*nk)++].n = 1;
	}
}

int main(void)
{
	const char *e_rounds = getenv("ROUNDS"), *e_busy = getenv("BUSY_MS"), *e_how = getenv("HOW");
	unsigned rounds = e_rounds && *e_rounds ? (unsigned)strtoul(e_rounds, NULL, 10) : 1000;
	unsigned busy_ms = e_busy && *e_busy ? (unsigned)strtoul(e_busy, NULL, 10) : 50;
	bool kill9 = !e_how || strcmp(e_how, "exit");
	char vreader[512], uccid[512], busy[16], buf[4096], tmpl[] = "/tmp/uccid-handover.XXXXXX";
	unsigned ok = 0, failed = 0, nk = 0, holder_retries = 0;
	struct kind kinds[MAX_KINDS];
	int vout[2];
	int64_t t0;

	builddir = getenv("top_builddir") ? getenv("top_builddir") : ".";
	snprintf(vreader, sizeof(vreader), "%s/vreader/uccid-vreader", builddir);
	snprintf(uccid, sizeof(uccid), "%s/tool/uccid", builddir);
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(lockdir, sizeof(lockdir), "%s", tmpl);
	setenv("UCCID_LOCK_DIR", lockdir, 1);
	signal(SIGPIPE, SIG_IGN);

	/* the server */
	snprintf(busy, sizeof(busy), "%u", busy_ms);
	{
		char *va[] = { vreader, w_port, w_zero, w_profile, w_short, w_busy, busy, NULL };
		unsigned port = 0;

		if (pipe(vout) < 0)
			return 2;
		vr = spawn(va, -1, vout[1], -1);
		close(vout[1]);
		if (!wait_line(vout[0], "\n", buf, sizeof(buf)) || sscanf(buf, "listening on 127.0.0.1:%u", &port) != 1) {
			fprintf(stderr, "handover: uccid-vreader did not start: %s\n", buf);
			kill(vr, SIGTERM);
			return 2;
		}
		snprintf(url, sizeof(url), "usbip://127.0.0.1:%u/1-1", port);
	}

	t0 = uccid_mono_ms();
	for (unsigned i = 0; i < rounds; i++) {
		char *ha[] = { uccid, w_r, url, w_lock, NULL };
		char *wa[] = { uccid, w_wait, w_r, url, w_apdu, w_select, NULL };
		int hin[2], hout[2], werr[2], st = 0;
		pid_t holder, waiter;
		char ebuf[1024] = "";
		ssize_t n;

		/* the holder: tried again while it cannot open the reader (a uccid that takes "busy"
		   for final does so right after the last round's waiter left: not what is counted) */
		for (unsigned tries = 0;; tries++) {
			if (pipe(hin) < 0 || pipe(hout) < 0)
				goto fail;
			fcntl(hin[1], F_SETFD, FD_CLOEXEC);
			fcntl(hout[0], F_SETFD, FD_CLOEXEC);
			holder = spawn(ha, hin[0], hout[1], -1);
			close(hin[0]);
			close(hout[1]);
			if (wait_line(hout[0], "locked by pid", buf, sizeof(buf)))
				break;
			kill(holder, SIGKILL);
			waitpid(holder, NULL, 0);
			close(hin[1]);
			close(hout[0]);
			holder_retries++;
			if (tries == 100) {
				fprintf(stderr, "handover: round %u: the holder did not lock\n", i + 1);
				goto fail;
			}
		}
		if (pipe(werr) < 0)
			goto fail;
		fcntl(werr[0], F_SETFD, FD_CLOEXEC);
		waiter = spawn(wa, -1, -1, werr[1]);
		close(werr[1]);
		if (!until_queued(waiter))
			fprintf(stderr, "handover: round %u: the waiter did not queue\n", i + 1);
		if (kill9)
			kill(holder, SIGKILL);
		close(hin[1]);          /* exit mode: the end of its input unlocks and exits */
		waitpid(holder, NULL, 0);
		waitpid(waiter, &st, 0);
		n = read(werr[0], ebuf, sizeof(ebuf) - 1);
		ebuf[n > 0 ? n : 0] = '\0';
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			ok++;
		} else {
			failed++;
			note(kinds, &nk, ebuf);
		}
		close(hout[0]);
		close(werr[0]);
	}
	printf("handover: %u rounds (%s the holder, busy window %u ms): the next waiter got the reader %u times, "
	       "failed %u times (%.1f s)\n", rounds, kill9 ? "kill -9 of" : "clean exit of", busy_ms, ok, failed,
	       (double)(uccid_mono_ms() - t0) / 1000.0);
	for (unsigned i = 0; i < nk; i++)
		printf("  %u x %s\n", kinds[i].n, kinds[i].text);
	if (holder_retries)
		printf("  (the holder itself had to be started again %u times)\n", holder_retries);
	kill(vr, SIGTERM);
	waitpid(vr, NULL, 0);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lockdir);
		if (system(cmd) != 0)
			fprintf(stderr, "handover: could not remove %s\n", lockdir);
	}
	return failed ? 1 : 0;
fail:
	kill(vr, SIGTERM);
	waitpid(vr, NULL, 0);
	return 2;
}
