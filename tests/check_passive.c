/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Passive holders (issue 15, docs/locks.md "Passive holders"): the call in
 * the lock file (lockmgr/call.c) — seen by the holder, gone when the caller
 * ends it or dies (SIGKILL), waking a holder that sleeps on it — and
 * passive sessions through libuccid against the virtual reader over USB/IP:
 * an active open asks a passive holder, which reports UCCID_EVENT_YIELD,
 * closes, and opens again only after the active one is done; an active open
 * that would not wait still gets the reader; a waiting open says at once
 * whom it waits for.  Threads, so that TSan sees the listener.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockmgr/lockmgr.h"
#include "session/uccid.h"
#include "tests/testutil.h"
#include "util/clock.h"
#include "vreader/device.h"
#include "vreader/usbip_server.h"

static char g_dir[64];

/* ---- the lock directory ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/check-passive-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	setenv("UCCID_LOCK_DIR", g_dir, 1);
}

static void teardown(void)
{
	nftw(g_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	unsetenv("UCCID_LOCK_DIR");
}

/* ---- the call, in the lock manager ---- */

static int dispose_nothing(void *ctx, unsigned slot, enum lockmgr_disposition d, enum lockmgr_done *done)
{
	(void)ctx, (void)slot, (void)d;
	*done = LOCKMGR_DONE_NOTHING;
	return 0;
}

static const struct lockmgr_ops ops = { .dispose = dispose_nothing };

/* A manager on the lock file of "call-test": each one its own open file description. */
static struct lockmgr *manager(pid_t pid)
{
	struct lockmgr_config cfg = { .slots = 1, .reader_id = "call-test", .runtime_dir = g_dir, .pid = pid,
				      .ops = &ops };
	struct lockmgr *m = lockmgr_new(&cfg);

	ck_assert_ptr_nonnull(m);
	return m;
}

struct sleeper {
	struct lockmgr *m;
	uint32_t seq;
	atomic_bool woken;
};

static void *sleep_on_call(void *arg)
{
	struct sleeper *s = arg;

	ck_assert_int_eq(lockmgr_call_wait(s->m, 0, s->seq), 0);
	atomic_store(&s->woken, true);
	return NULL;
}

START_TEST(test_call_seen_and_ended)
{
	struct lockmgr *holder = manager(0), *caller = manager(4242);
	struct sleeper s = { .m = holder };
	pthread_t th;
	pid_t pid = 0;

	ck_assert_int_eq(lockmgr_lock(holder, 0, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_called(holder, 0, &pid), 0);
	ck_assert_int_eq(lockmgr_calls_wait(caller, 0, false), 0);
	/* the holder sleeps on the word; a call wakes it */
	s.seq = lockmgr_call_seq(holder, 0);
	pthread_create(&th, NULL, sleep_on_call, &s);
	ck_assert_int_eq(lockmgr_call(caller, 0), 0);
	pthread_join(th, NULL);
	ck_assert(atomic_load(&s.woken));
	ck_assert_int_eq(lockmgr_called(holder, 0, &pid), 1);
	ck_assert_int_eq(pid, 4242);
	/* a passive opener waits for the callers to be served */
	ck_assert_int_eq(lockmgr_calls_wait(holder, 0, false), -EBUSY);
	lockmgr_call_end(caller, 0);
	ck_assert_int_eq(lockmgr_called(holder, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_calls_wait(holder, 0, true), 0);
	/* a passive opener's moment with the byte is no call */
	ck_assert_int_eq(lockmgr_called(caller, 0, NULL), 0);
	/* the passive mark */
	ck_assert_int_eq(lockmgr_passive(caller, 0), 0);
	lockmgr_set_passive(holder, 0, 77);
	ck_assert_int_eq(lockmgr_passive(caller, 0), 77);
	lockmgr_set_passive(holder, 0, 0);
	/* a ring wakes a sleeper with nobody calling */
	s.seq = lockmgr_call_seq(holder, 0);
	atomic_store(&s.woken, false);
	pthread_create(&th, NULL, sleep_on_call, &s);
	lockmgr_call_ring(holder, 0);
	pthread_join(th, NULL);
	ck_assert(atomic_load(&s.woken));
	ck_assert_int_eq(lockmgr_called(holder, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_unlock(holder, 0, 1, LOCKMGR_LEAVE, NULL), 0);
	lockmgr_free(caller);
	lockmgr_free(holder);
}
END_TEST

START_TEST(test_dead_caller_calls_no_more)
{
	struct lockmgr *holder = manager(0);
	int p[2];
	pid_t child;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct lockmgr_config cfg = { .slots = 1, .reader_id = "call-test", .runtime_dir = g_dir,
					      .ops = &ops };
		struct lockmgr *m = lockmgr_new(&cfg);

		if (!m || lockmgr_call(m, 0) < 0)
			_exit(1);
		if (write(p[1], "c", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(lockmgr_called(holder, 0, NULL), 1);
	ck_assert_int_eq(lockmgr_calls_wait(holder, 0, false), -EBUSY);
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	ck_assert_int_eq(lockmgr_called(holder, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_calls_wait(holder, 0, true), 0);
	lockmgr_free(holder);
}
END_TEST

START_TEST(test_process_local_has_no_call)
{
	struct lockmgr_config cfg = { .slots = 1, .reader_id = "local", .process_local = true, .ops = &ops };
	struct lockmgr *m = lockmgr_new(&cfg);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(lockmgr_call(m, 0), -ENOTSUP);
	ck_assert_int_eq(lockmgr_called(m, 0, NULL), 0);
	ck_assert_int_eq(lockmgr_calls_wait(m, 0, true), 0);
	ck_assert_int_eq(lockmgr_call_wait(m, 0, 0), -ENOTSUP);
	ck_assert_int_eq(lockmgr_call(m, 1), -EINVAL);
	lockmgr_free(m);
}
END_TEST

/* ---- passive sessions ---- */

struct rig {
	struct vdev *d;
	struct usbip_server *srv;
	pthread_t th;
	pthread_mutex_t srv_lock;
	atomic_bool stop;
	char url[64];
};

static void *server_thread(void *arg)
{
	struct rig *g = arg;

	while (!atomic_load(&g->stop)) {
		pthread_mutex_lock(&g->srv_lock);
		usbip_server_run_once(g->srv, 5);
		pthread_mutex_unlock(&g->srv_lock);
	}
	return NULL;
}

static struct rig *rig_new(void)
{
	struct rig *g = calloc(1, sizeof(*g));
	struct vdev_config cfg;
	struct vusb_device dev = { .ops = &vdev_usb_ops, .busid = "1-1" };

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(vdev_profile_config(VDEV_PROFILE_SHORT_APDU, &cfg), 0);
	g->d = vdev_new(&cfg);
	ck_assert_ptr_nonnull(g->d);
	dev.dev = g->d;
	pthread_mutex_init(&g->srv_lock, NULL);
	g->srv = usbip_server_new();
	ck_assert_ptr_nonnull(g->srv);
	ck_assert_int_eq(usbip_server_add_device(g->srv, &dev), 0);
	ck_assert_int_eq(usbip_server_listen(g->srv, "127.0.0.1", 0), 0);
	pthread_create(&g->th, NULL, server_thread, g);
	snprintf(g->url, sizeof(g->url), "usbip://127.0.0.1:%u/1-1", usbip_server_port(g->srv));
	return g;
}

static void rig_free(struct rig *g)
{
	atomic_store(&g->stop, true);
	pthread_join(g->th, NULL);
	usbip_server_free(g->srv);
	vdev_free(g->d);
	pthread_mutex_destroy(&g->srv_lock);
	free(g);
}

/* The log of the opens: kept, to find "whom it waits for" in it. */
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[4096];

static void keep_log(void *ctx, enum uccid_log_level level, const char *msg)
{
	(void)ctx;
	if (level > UCCID_LOG_WARNING)
		return;
	pthread_mutex_lock(&g_log_lock);
	strncat(g_log, msg, sizeof(g_log) - strlen(g_log) - 2);
	strcat(g_log, "\n");
	pthread_mutex_unlock(&g_log_lock);
	if (getenv("UCCID_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, msg);
}

static bool log_has(const char *s)
{
	bool r;

	pthread_mutex_lock(&g_log_lock);
	r = strstr(g_log, s) != NULL;
	pthread_mutex_unlock(&g_log_lock);
	return r;
}

static struct uccid_reader *open_reader(const char *url, bool passive, int wait_ms)
{
	struct uccid_options o = { .exchange_deadline_ms = 5000, .log = keep_log, .log_level = UCCID_LOG_DEBUG,
				   .program = "check-passive", .open_wait_ms = wait_ms, .passive = passive };
	struct uccid_reader *r = NULL;
	char err[256] = "";
	int rc = uccid_open(url, &o, &r, err, sizeof(err));

	ck_assert_msg(rc == 0, "open %s: %s (%d)", passive ? "passive" : "active", err, rc);
	return r;
}

/* An active user of the reader, on a thread of its own. */
struct active {
	const char *url;
	int wait_ms;
	int64_t took_ms;                /* its open */
	atomic_bool had_it;             /* it had the reader open (set before it closed it) */
};

static void *active_user(void *arg)
{
	struct active *a = arg;
	struct uccid_slot_status st;
	int64_t t0 = uccid_mono_ms();
	struct uccid_reader *r = open_reader(a->url, false, a->wait_ms);

	a->took_ms = uccid_mono_ms() - t0;
	ck_assert_int_eq(uccid_slot_status(r, 0, &st), 0);
	ck_assert(st.present);
	atomic_store(&a->had_it, true);
	ck_assert_int_eq(uccid_close(r), 0);
	return NULL;
}

/* The passive holder's side: events until UCCID_EVENT_YIELD, which must come. */
static void wait_yield(struct uccid_reader *r)
{
	struct uccid_event e;
	long pid = -1;

	for (;;) {
		int n = uccid_wait_event(r, 10000, &e);

		ck_assert_msg(n == 1, "no yield event (%d)", n);
		if (e.type == UCCID_EVENT_YIELD)
			break;
	}
	ck_assert_int_eq(uccid_yield_asked(r, &pid), 1);
	ck_assert_int_eq(pid, getpid());
}

START_TEST(test_passive_yields_and_takes_back)
{
	struct rig *g = rig_new();
	struct uccid_reader *p = open_reader(g->url, true, 0);

	for (int round = 0; round < 3; round++) {
		/* wait 0: a passive holder never keeps an active opener out (_i == 1) */
		struct active a = { .url = g->url, .wait_ms = _i ? 0 : 5000 };
		pthread_t th;

		ck_assert_int_eq(uccid_yield_asked(p, NULL), 0);
		pthread_create(&th, NULL, active_user, &a);
		wait_yield(p);
		ck_assert_int_eq(uccid_close(p), 0);
		/* taken back only once the active user is done */
		p = open_reader(g->url, true, -1);
		ck_assert(atomic_load(&a.had_it));
		pthread_join(th, NULL);
		ck_assert_int_lt(a.took_ms, 4000);
	}
	ck_assert(log_has("a passive holder: asked it to yield"));
	ck_assert_int_eq(uccid_close(p), 0);
	rig_free(g);
}
END_TEST

START_TEST(test_waiter_says_whom)
{
	struct rig *g = rig_new();
	struct uccid_reader *holder = open_reader(g->url, false, 0), *r = NULL;
	struct uccid_options o = { .log = keep_log, .log_level = UCCID_LOG_WARNING, .program = "check-passive",
				   .open_wait_ms = 300 };
	char err[256] = "", want[128];

	g_log[0] = '\0';
	ck_assert_int_eq(uccid_open(g->url, &o, &r, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "reader busy: waiting up to 0.300 s for check-passive (pid %ld) since ",
		 (long)getpid());
	ck_assert_msg(log_has(want), "log: %s", g_log);
	ck_assert(!log_has("passive holder"));
	/* a passive opener does not ask an active holder, and fails as before */
	o.passive = true;
	o.open_wait_ms = 0;
	ck_assert_int_eq(uccid_open(g->url, &o, &r, err, sizeof(err)), -EBUSY);
	ck_assert_int_eq(uccid_close(holder), 0);
	rig_free(g);
}
END_TEST

static Suite *passive_suite(void)
{
	Suite *s = suite_create("passive");
	TCase *tc = tcase_create("call");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_call_seen_and_ended);
	tcase_add_test(tc, test_dead_caller_calls_no_more);
	tcase_add_test(tc, test_process_local_has_no_call);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_passive_yields_and_takes_back, 0, 2);
	tcase_add_test(tc, test_waiter_says_whom);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(passive_suite());
}
