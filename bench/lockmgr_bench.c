/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lock manager, measured against what it is built on, in one run:
 * uncontended lock + unlock(LEAVE) in process against a bare
 * pthread_mutex_lock/unlock pair (target: within 3x), the same through the
 * lock file against a bare fcntl(F_OFD_SETLK) lock/unlock pair, and the
 * hand-off latency under contention — from the moment the holder calls
 * unlock to the moment the waiter's lock call returns (median, p99; target
 * p99 under 100 us) — between two threads, and between two processes.  Each
 * uncontended figure is the best of 5 runs; every time is CLOCK_MONOTONIC.
 *
 * The uncontended pairs are measured with a second thread alive (asleep), as
 * in any program that needs a lock: glibc elides the atomic instructions of
 * a mutex while a process has one thread, which makes a bare mutex look four
 * times cheaper than it is when it matters.  The single-threaded figures are
 * printed too.
 *
 * usage: lockmgr-bench [HANDOFFS]   (default 20000; the uncontended loops run 50x that)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockmgr/lockmgr.h"
#include "util/clock.h"

static unsigned handoffs = 20000;
static char dir[64];

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int no_dispose(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	return 0;
}

static const struct lockmgr_ops ops = { .dispose = no_dispose };

static struct lockmgr *mgr(bool file)
{
	struct lockmgr_config cfg = { .slots = 1, .reader_id = "bench", .runtime_dir = dir,
				      .process_local = !file, .program = "lockmgr-bench", .ops = &ops };
	struct lockmgr *m = lockmgr_new(&cfg);

	if (!m) {
		fprintf(stderr, "lockmgr_new: %s\n", strerror(errno));
		exit(1);
	}
	return m;
}

/* ---- uncontended pairs: ns per lock+unlock, best of 5 ---- */

static double best_of(double (*run)(void *ctx, unsigned n), void *ctx, unsigned n)
{
	double best = 1e18;

	for (int i = 0; i < 5; i++) {
		double v = run(ctx, n);

		if (v < best)
			best = v;
	}
	return best;
}

static double run_mutex(void *ctx, unsigned n)
{
	pthread_mutex_t *mu = ctx;
	int64_t t0 = uccid_mono_ns();

	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(mu);
		pthread_mutex_unlock(mu);
	}
	return (double)(uccid_mono_ns() - t0) / n;
}

static double run_lockmgr(void *ctx, unsigned n)
{
	struct lockmgr *m = ctx;
	int64_t t0 = uccid_mono_ns();

	for (unsigned i = 0; i < n; i++) {
		if (lockmgr_lock(m, 0, 1, 0, 0, NULL) < 0 || lockmgr_unlock(m, 0, 1, LOCKMGR_LEAVE, NULL) < 0) {
			fprintf(stderr, "lock/unlock failed\n");
			exit(1);
		}
	}
	return (double)(uccid_mono_ns() - t0) / n;
}

static double run_ofd(void *ctx, unsigned n)
{
	int fd = *(int *)ctx;
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 64, .l_len = 1 };
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 64, .l_len = 1 };
	int64_t t0 = uccid_mono_ns();

	for (unsigned i = 0; i < n; i++) {
		if (fcntl(fd, F_OFD_SETLK, &lk) < 0 || fcntl(fd, F_OFD_SETLK, &un) < 0) {
			perror("fcntl");
			exit(1);
		}
	}
	return (double)(uccid_mono_ns() - t0) / n;
}

/* ---- hand-off under contention ---- */

/*
 * Two parties take turns: each locks (waiting forever), notes how long ago
 * the other called unlock, waits until the other is queued (asleep on its
 * condition variable or on the lock file's doorbell, plus 20 us to be sure it
 * sleeps), stamps the time and unlocks.  With direct hand-off they alternate
 * strictly.
 */
struct pingpong {
	_Atomic int64_t stamp;          /* when the last holder called unlock (0: none yet) */
	atomic_int started;             /* party 0 holds the slot: party 1 may start */
	atomic_int turn;                /* the party that holds the slot last */
	unsigned n;                     /* samples per party */
	int64_t lat[2][200000];
};

static void spin_ns(int64_t ns)
{
	int64_t end = uccid_mono_ns() + ns;

	while (uccid_mono_ns() < end)
		;
}

static void party(struct lockmgr *m, struct pingpong *pp, int side)
{
	lockmgr_owner_t me = (lockmgr_owner_t)side + 1;
	struct lockmgr_holder_info h;

	for (unsigned i = 0; i < pp->n; i++) {
		int64_t stamp;

		if (lockmgr_lock(m, 0, me, -1, 0, NULL) < 0) {
			fprintf(stderr, "lock failed\n");
			exit(1);
		}
		atomic_store(&pp->started, 1);
		atomic_store(&pp->turn, side);
		stamp = atomic_load(&pp->stamp);
		pp->lat[side][i] = stamp ? uccid_mono_ns() - stamp : -1;
		if (i + 1 < pp->n || side == 0) {
			do {
				lockmgr_holder(m, 0, &h);
			} while (h.waiters == 0);
			spin_ns(20000);
		}
		atomic_store(&pp->stamp, uccid_mono_ns());
		lockmgr_unlock(m, 0, me, LOCKMGR_LEAVE, NULL);
		/* Across processes a releaser could take the slot back before the woken waiter
		   runs: measure hand-offs, so let the other party have its turn first. */
		if (i + 1 < pp->n || side == 0)
			while (atomic_load(&pp->turn) == side)
				sched_yield();
	}
}

struct thread_arg {
	struct lockmgr *m;
	struct pingpong *pp;
};

static void *party_thread(void *p)
{
	struct thread_arg *a = p;

	while (!atomic_load(&a->pp->started))   /* party 0 goes first */
		sched_yield();
	party(a->m, a->pp, 1);
	return NULL;
}

static void report(const char *what, struct pingpong *pp)
{
	unsigned n = 0, total = 2 * pp->n;
	int64_t *all = malloc(total * sizeof(*all));

	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; i < pp->n; i++)
			if (pp->lat[s][i] >= 0)
				all[n++] = pp->lat[s][i];
	qsort(all, n, sizeof(*all), cmp_i64);
	printf("  %-34s median %7.1f us   p99 %7.1f us   max %8.1f us   (%u hand-offs)%s\n", what,
	       all[n / 2] / 1e3, all[n * 99 / 100] / 1e3, all[n - 1] / 1e3, n,
	       all[n * 99 / 100] < 100000 ? "" : "   ABOVE TARGET");
	free(all);
}

static void handoff_threads(bool file)
{
	struct pingpong *pp = calloc(1, sizeof(*pp));
	struct lockmgr *m = mgr(file);
	struct thread_arg a = { m, pp };
	pthread_t th;

	pp->n = handoffs / 2;
	pthread_create(&th, NULL, party_thread, &a);
	party(m, pp, 0);
	pthread_join(th, NULL);
	report(file ? "threads, through the lock file" : "threads, in process only", pp);
	lockmgr_free(m);
	free(pp);
}

static void handoff_processes(void)
{
	struct pingpong *pp = mmap(NULL, sizeof(*pp), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct lockmgr *m;
	pid_t pid;
	int st;

	if (pp == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	pp->n = handoffs / 2;
	/* each process has its own manager, created after the fork; party 0 goes first */
	pid = fork();
	if (pid == 0) {
		m = mgr(true);
		while (!atomic_load(&pp->started))
			usleep(100);
		party(m, pp, 1);
		lockmgr_free(m);
		_exit(0);
	}
	m = mgr(true);
	party(m, pp, 0);
	waitpid(pid, &st, 0);
	report("processes, through the lock file", pp);
	lockmgr_free(m);
	munmap(pp, sizeof(*pp));
}

/* Alive and asleep, so that the process is multi-threaded. */
static void *sleeper_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_t sleeper;
	unsigned n;
	double bare, ours;
	struct lockmgr *m;
	char path[128];
	int fd;

	if (argc > 1)
		handoffs = (unsigned)strtoul(argv[1], NULL, 0);
	if (handoffs < 100 || handoffs > 400000) {
		fprintf(stderr, "usage: lockmgr-bench [HANDOFFS 100..400000]\n");
		return 2;
	}
	n = handoffs * 50;
	snprintf(dir, sizeof(dir), "/tmp/lockmgr-bench.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}

	printf("lockmgr-bench: %u uncontended pairs (best of 5), %u hand-offs, %ld CPUs\n", n, handoffs,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("uncontended lock + unlock(LEAVE):\n");
	m = mgr(false);
	bare = best_of(run_mutex, &mu, n);
	ours = best_of(run_lockmgr, m, n);
	printf("  in process, one thread only      lockmgr %7.1f ns   pthread_mutex pair %7.1f ns   ratio %.2f"
	       "  (glibc: no atomics)\n", ours, bare, ours / bare);
	pthread_create(&sleeper, NULL, sleeper_thread, NULL);
	bare = best_of(run_mutex, &mu, n);
	ours = best_of(run_lockmgr, m, n);
	lockmgr_free(m);
	printf("  in process      lockmgr %7.1f ns   pthread_mutex pair %7.1f ns   ratio %.2f  (target <= 3%s)\n",
	       ours, bare, ours / bare, ours / bare <= 3 ? "" : ": ABOVE TARGET");

	m = mgr(true);
	snprintf(path, sizeof(path), "%s/bare.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	bare = best_of(run_ofd, &fd, n / 10);
	ours = best_of(run_lockmgr, m, n / 10);
	printf("  lock file       lockmgr %7.1f ns   fcntl OFD pair     %7.1f ns   ratio %.2f\n", ours, bare,
	       ours / bare);
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s", lockmgr_path(m));
	lockmgr_free(m);

	printf("hand-off, unlock -> the waiter's lock returns:\n");
	handoff_threads(false);
	handoff_threads(true);
	handoff_processes();
	unlink(path);   /* every manager used the same lock file */

	rmdir(dir);
	return 0;
}
